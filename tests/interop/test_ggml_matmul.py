# SPDX-License-Identifier: MIT
"""qnt_matmul against ggml's own products, in one process: for every format
both libraries multiply, the weights quantized by libqnt (ggml's bytes) are
multiplied by the same float activations
  - by ggml's vec_dot for the format, with the activations quantized by
    ggml-cpu's quantizer for its vec_dot_type, row by row;
  - by ggml_mul_mat in a one-node graph on ggml's CPU backend (the path
    llama.cpp runs), for the formats libqnt accelerates;
  - by qnt_matmul on every libqnt backend that runs here.
libqnt must agree with ggml within PAIR_TOL (they quantize the activations
the same way; only float rounding and the odd rounding tie of ggml's SIMD
activation quantizer separate them), and both must be within the per-format
tolerance of lib/core/matmul_ref.c of the exact product of the dequantized
weights."""
import sys

import numpy as np

import ggmllib
import libqnt
import qntlib

N_OUT, N_IN = 48, 512
COLS = (1, 3, 17)

# Normwise tolerance against the exact product (lib/core/matmul_ref.c); for
# ggml's float formats the activations are rounded to f16/bf16 first.
Q8_0 = {"q4_0", "q5_0", "q8_0", "iq4_nl", "mxfp4", "nvfp4", "q1_0", "q2_0"}
Q8_1 = {"q4_1", "q5_1"}
Q8_K = {"q2_K", "q3_K", "q4_K", "q5_K", "q6_K", "iq2_xxs", "iq2_xs", "iq3_xxs", "iq1_s", "iq3_s", "iq2_s",
        "iq4_xs", "iq1_m", "tq1_0", "tq2_0"}


def exact_tol(name, who):
    if name in Q8_0 or name in Q8_1:
        return 1e-2
    if name in Q8_K:
        return 1.5e-2
    if who == "ggml" and name == "f16":
        return 1e-3
    if who == "ggml" and name == "bf16":
        return 1e-2
    return 1e-5


# libqnt against ggml.
def pair_tol(name):
    if name == "bf16":
        return 1e-2  # ggml rounds x to bf16, libqnt multiplies the floats
    if name == "f16":
        return 1e-3
    if name == "f32":
        return 1e-5
    return 1e-4  # measured: below 3e-7 (the same activation bytes)


# Formats with a libqnt kernel of their own (cpu-avx2): also against
# ggml_mul_mat.
GRAPH = ["f32", "f16", "bf16", "q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q2_K", "q3_K", "q4_K", "q5_K", "q6_K"]

def backends():
    return [b["name"] for b in libqnt.backends() if b["score"] > 0 and b["name"].startswith("cpu")]


def ctx_on(backend, n_threads=2):
    return libqnt.Context(n_threads=n_threads, backend=backend)


def rel(a, b):
    return float(np.linalg.norm(a.astype(np.float64) - b) / np.linalg.norm(b))


def main():
    g = ggmllib.GgmlCpu()
    print(f"ggml: {g.base._name} (llama-cpp-python {ggmllib.llama_cpp_version()})")
    names = [b for b in backends()]
    ctxs = {b: ctx_on(b) for b in names}
    print("libqnt backends:", ", ".join(names))
    rng = np.random.default_rng(20240611)
    failures = []
    checked = 0
    for name in ggmllib.GGML_TYPE_ALL:
        try:
            qntlib.type_id(name)
        except qntlib.QntError:
            print(f"{name:8s} not in this libqnt, skipped")
            continue
        if name in ("q8_1", "q8_K"):
            continue  # activation formats: ggml has no product for them
        w = rng.standard_normal((N_OUT, N_IN)).astype(np.float32)
        wq = qntlib.quantize(name, w)
        wd = qntlib.dequantize(name, wq, N_IN).astype(np.float64)
        worst = {}
        for nc in COLS:
            x = rng.standard_normal((nc, N_IN)).astype(np.float32)
            ex = x.astype(np.float64) @ wd.T
            yg = g.matmul_vec_dot(name, wq, N_OUT, N_IN, x)
            res = {"ggml": yg}
            if name in GRAPH:
                mm = g.mul_mat_graph(name, N_OUT, N_IN, nc)
                mm.w[:] = wq.reshape(-1)
                mm.x[:] = x
                mm.set_threads(2)
                res["ggml_mul_mat"] = mm.compute().copy()
                mm.close()
            for b, c in ctxs.items():
                res[b] = c.matmul(wq, name, x)
            for who, y in res.items():
                e = rel(y, ex)
                worst[who] = max(worst.get(who, 0.0), e)
                tol = exact_tol(name, "ggml" if who.startswith("ggml") else "qnt")
                if not e <= tol:
                    failures.append(f"{name}, {nc} columns: {who} is {e:.3e} from the exact product (> {tol})")
            for b in ctxs:
                for who in [k for k in res if k.startswith("ggml")]:
                    d = rel(res[b], res[who].astype(np.float64))
                    worst[f"{b}~{who}"] = max(worst.get(f"{b}~{who}", 0.0), d)
                    if not d <= pair_tol(name):
                        failures.append(f"{name}, {nc} columns: {b} differs from {who} by {d:.3e} "
                                        f"(> {pair_tol(name)})")
        checked += 1
        print(f"{name:8s} (x as {g.vec_dot_type(name):4s}) " +
              "  ".join(f"{k} {v:.2e}" for k, v in worst.items()))
    for c in ctxs.values():
        c.close()
    if failures:
        print("FAIL:\n  " + "\n  ".join(failures))
        return 1
    print(f"ok: {checked} formats")
    return 0


if __name__ == "__main__":
    sys.exit(main())
