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
import ctypes
import sys

import numpy as np

import ggmllib
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

lib = qntlib._lib


class CtxOpts(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("n_threads", ctypes.c_int32), ("backend", ctypes.c_char_p),
                ("alloc", ctypes.c_void_p), ("free", ctypes.c_void_p), ("alloc_user", ctypes.c_void_p),
                ("log", ctypes.c_void_p), ("log_user", ctypes.c_void_p), ("log_level", ctypes.c_int32),
                ("device", ctypes.c_int32), ("flags", ctypes.c_uint32), ("reserved", ctypes.c_uint32)]


class BackendProps(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("score", ctypes.c_int32), ("name", ctypes.c_char_p),
                ("description", ctypes.c_char_p), ("path", ctypes.c_char_p), ("reason", ctypes.c_char_p),
                ("flags", ctypes.c_uint32), ("device_count", ctypes.c_int32)]


lib.qnt_ctx_create.restype = ctypes.c_int
lib.qnt_ctx_create.argtypes = [ctypes.POINTER(CtxOpts), ctypes.POINTER(ctypes.c_void_p)]
lib.qnt_ctx_destroy.restype = None
lib.qnt_ctx_destroy.argtypes = [ctypes.c_void_p]
lib.qnt_matmul.restype = ctypes.c_int
lib.qnt_matmul.argtypes = [ctypes.c_void_p, ctypes.c_int32, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64,
                           ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p]
lib.qnt_backend_count.restype = ctypes.c_int32
lib.qnt_backend_get_props.restype = ctypes.c_int
lib.qnt_backend_get_props.argtypes = [ctypes.c_int32, ctypes.POINTER(BackendProps)]


def backends():
    out = []
    for i in range(lib.qnt_backend_count()):
        p = BackendProps(ctypes.sizeof(BackendProps))
        if lib.qnt_backend_get_props(i, ctypes.byref(p)) == 0 and p.score > 0 and p.name.decode().startswith("cpu"):
            out.append(p.name.decode())
    return out


def ctx_on(backend, n_threads=2):
    o = CtxOpts(ctypes.sizeof(CtxOpts), n_threads, backend.encode(), None, None, None, None, None, 1, 0, 0, 0)
    c = ctypes.c_void_p()
    st = lib.qnt_ctx_create(ctypes.byref(o), ctypes.byref(c))
    if st != 0:
        raise RuntimeError(f"qnt_ctx_create({backend}): {lib.qnt_ctx_last_error(None).decode()}")
    return c


def qnt_matmul(ctx, name, wq, x):
    y = np.zeros((x.shape[0], N_OUT), dtype=np.float32)
    st = lib.qnt_matmul(ctx, qntlib.type_id(name), wq.ctypes.data, N_OUT, N_IN, x.ctypes.data, x.shape[0],
                        y.ctypes.data)
    if st != 0:
        raise RuntimeError(f"qnt_matmul({name}): {lib.qnt_ctx_last_error(ctx).decode()}")
    return y


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
        except KeyError:
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
                res[b] = qnt_matmul(c, name, wq, x)
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
        lib.qnt_ctx_destroy(c)
    if failures:
        print("FAIL:\n  " + "\n  ".join(failures))
        return 1
    print(f"ok: {checked} formats")
    return 0


if __name__ == "__main__":
    sys.exit(main())
