# SPDX-License-Identifier: MIT
"""libqnt's bytes and floats do not depend on the thread count: contexts
made through ctypes (qnt_ctx_create with a qnt_ctx_opts) with 1, 2 and 7
threads, the default context, and the default context of child processes
started with QNT_NUM_THREADS=1 and 7, for f32, f16, bf16, q4_0, q4_1, q5_0,
q5_1, q8_0, q8_1, with and without importance; the 7-thread bytes also equal
gguf-py's where gguf-py can quantize.

Exit status: 0 pass, 1 fail, 77 skip (gguf missing).
"""
import hashlib
import json
import os
import subprocess
import sys
import warnings

import numpy as np

import qntlib

F32, U32 = np.float32, np.uint32
FORMATS = ["f32", "f16", "bf16", "q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q8_1"]
IMPORTANCE = {"q4_0", "q4_1", "q5_0", "q5_1", "q8_0"}
GGUF_QUANT = {"f16", "bf16", "q4_0", "q4_1", "q5_0", "q5_1", "q8_0"}
THREADS = [1, 2, 7]

warnings.filterwarnings("ignore", category=RuntimeWarning)


def cases():
    """Deterministic (label, x, importance) cases; the same in the child."""
    rng = np.random.default_rng(99173)
    shapes = [(300, 1024), (2500, 32), (4099, 64), (1, 65536), (37, 4096)]
    out = []
    for r, n in shapes:
        x = (rng.standard_normal((r, n)) * 10.0 ** rng.uniform(-2, 2)).astype(F32)
        w = np.exp(rng.standard_normal(n)).astype(F32)
        out.append((f"{r}x{n}", x, w))
    return out


def runs():
    """(key, format, label, x, importance) for every quantize call."""
    for name in FORMATS:
        for label, x, w in cases():
            yield f"{name} {label}", name, label, x, None
            if name in IMPORTANCE:
                yield f"{name} {label} imp", name, label, x, w


def digest(a):
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def child():
    out = {"n_threads": qntlib.ctx_n_threads(None)}
    for key, name, label, x, w in runs():
        q = qntlib.quantize(name, x, importance=w)
        out[key] = [digest(q), digest(qntlib.dequantize(name, q, x.shape[1]))]
    print(json.dumps(out))
    return 0


def main():
    gguf = qntlib.require("gguf")
    import gguf.quants as gq

    failures = []

    def fail(msg):
        failures.append(msg)
        print("FAIL: " + msg)

    ctxs = {}
    for t in THREADS:
        c = qntlib.ctx_create(t)
        got = qntlib.ctx_n_threads(c)
        if got != t:
            fail(f"context made with n_threads={t} reports {got}")
        ctxs[f"{t} threads"] = c
    ctxs["default ctx"] = None
    print(f"contexts: {', '.join(ctxs)} (backend {qntlib.ctx_backend_name(ctxs['1 threads'])}, "
          f"default ctx {qntlib.ctx_n_threads(None)} threads)")

    per_format = {}
    ref_digests = {}
    for key, name, label, x, w in runs():
        base = qntlib.quantize(name, x, importance=w, ctx=ctxs["1 threads"])
        base_y = qntlib.dequantize(name, base, x.shape[1], ctx=ctxs["1 threads"])
        ref_digests[key] = [digest(base), digest(base_y)]
        st = per_format.setdefault(name, dict(calls=0, values=0, bytes=0, mismatches=0, gguf=0))
        for cname, c in ctxs.items():
            for rep in range(2 if cname == "7 threads" else 1):
                q = qntlib.quantize(name, x, importance=w, ctx=c)
                y = qntlib.dequantize(name, base, x.shape[1], ctx=c)
                st["calls"] += 1
                st["values"] += x.size
                st["bytes"] += q.size
                if not np.array_equal(q, base):
                    st["mismatches"] += 1
                    rows = np.nonzero((q != base).any(axis=1))[0]
                    fail(f"{key}: {cname} (run {rep}) gives other bytes than 1 thread in {rows.size} rows "
                         f"(first row {rows[0]})")
                if not np.array_equal(y.view(U32), base_y.view(U32)):
                    st["mismatches"] += 1
                    fail(f"{key}: {cname} dequantizes to other floats than 1 thread")
        if w is None and name in GGUF_QUANT:
            q7 = qntlib.quantize(name, x, ctx=ctxs["7 threads"])
            g = np.ascontiguousarray(gq.quantize(x, gguf.GGMLQuantizationType[name.upper()])).view(np.uint8)
            st["gguf"] += 1
            if not np.array_equal(q7.ravel(), g.ravel()):
                fail(f"{key}: 7-thread bytes differ from gguf-py's")

    for t in THREADS:
        qntlib.ctx_destroy(ctxs[f"{t} threads"])

    # default context of a fresh process, thread count from QNT_NUM_THREADS
    for nt in ("1", "7"):
        env = dict(os.environ, QNT_NUM_THREADS=nt)
        p = subprocess.run([sys.executable, os.path.abspath(__file__), "--child"], env=env,
                           capture_output=True, text=True, timeout=600)
        if p.returncode != 0:
            fail(f"child with QNT_NUM_THREADS={nt} exited {p.returncode}: {p.stderr.strip()[-2000:]}")
            continue
        got = json.loads(p.stdout.strip().splitlines()[-1])
        if got.pop("n_threads") != int(nt):
            fail(f"child with QNT_NUM_THREADS={nt}: the default context does not have {nt} threads")
        bad = [k for k in ref_digests if got.get(k) != ref_digests[k]]
        if bad:
            fail(f"QNT_NUM_THREADS={nt}: {len(bad)} results differ from 1 thread in-process, e.g. {bad[:3]}")
        print(f"child QNT_NUM_THREADS={nt}: {len(got)} quantize+dequantize results compared, {len(bad)} differ")

    print()
    print(f"{'format':6} {'calls':>6} {'values':>10} {'bytes':>10} {'differ':>6} {'vs gguf':>7}")
    for name, st in per_format.items():
        print(f"{name:6} {st['calls']:6d} {st['values']:10d} {st['bytes']:10d} {st['mismatches']:6d} {st['gguf']:7d}")
    print("(calls: quantize+dequantize pairs on the 1/2/7-thread and default contexts, 7 threads twice; "
          "vs gguf: 7-thread results also compared with gguf-py)")
    if failures:
        print(f"\n{len(failures)} failure(s)")
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(child() if sys.argv[1:] == ["--child"] else main())
