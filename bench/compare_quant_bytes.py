#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Do two libqnt builds quantize to the same bytes? A check for speed work on
the quantizers, which must not change their output.

Each library quantizes the same fixed data (Gaussian, Student-t, sparse,
small positive, and edge rows: random bit patterns with NaN and infinities,
subnormal and huge magnitudes, signed zeros, constant runs, integers) for
every format it can quantize, without importance and with two importance
vectors (log-normal; the same with zeros), on the scalar "cpu" backend and
on the default one, one thread. Every result is hashed (sha256 of the bytes,
or the status when the call fails); the script prints the (format, data,
importance, backend) entries whose hashes differ between the two libraries
and exits 1 if there are any.

    .venv/bin/python bench/compare_quant_bytes.py OLD.so NEW.so [--types q4_0,q4_K]

Each library is loaded in its own process (two copies of libqnt in one
process would share symbols). Run the old one from a copy, e.g. build the
base commit and `cp build/lib/libqnt.so.1.0.0 /tmp/old.so`.
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def datasets(np):
    rng = np.random.default_rng(7)
    rows, cols = 6, 1024
    d = {
        "gauss": rng.standard_normal((rows, cols)),
        "student": rng.standard_t(3, (rows, cols)),
        "sparse": rng.standard_normal((rows, cols)) * (rng.random((rows, cols)) < 0.1),
        "pos": np.abs(rng.standard_normal((rows, cols))) * 0.01,
    }
    d = {k: v.astype(np.float32) for k, v in d.items()}
    d["sparse"][0, :] = 0
    d["sparse"][1, :256] = 3.0
    edge = []
    edge.append(rng.integers(0, 2**32, cols, dtype=np.uint64).astype(np.uint32).view(np.float32))
    with np.errstate(over="ignore"):
        for scale in (1e-42, 1e-38, 1e-20, 1e20, 3e37):
            edge.append((rng.standard_normal(cols) * scale).astype(np.float32))
    z = np.zeros(cols, np.float32)
    z[1::3] = -0.0
    edge.append(z)
    z = np.zeros(cols, np.float32)
    z[5], z[40], z[300:340] = 1.0, -1.0, 3.0
    edge.append(z)
    z = np.abs(rng.standard_normal(cols)).astype(np.float32)
    z[::5] = 0.0
    edge.append(z)
    edge.append(-np.abs(rng.standard_normal(cols)).astype(np.float32))
    z = rng.standard_normal(cols).astype(np.float32)
    z[3], z[300] = np.inf, np.nan
    edge.append(z)
    edge.append(np.round(rng.standard_normal(cols) * 4).astype(np.float32))
    d["edge"] = np.ascontiguousarray(np.stack(edge))
    w = np.exp(rng.standard_normal(cols)).astype(np.float32)
    w0 = w.copy()
    w0[::7] = 0
    w0[:32] = 0
    return d, {"none": None, "w": w, "w0": w0}


def child(lib, types):
    """Runs in the child process: prints {key: hash} as JSON."""
    import numpy as np
    sys.path.insert(0, HERE)
    from bench_quant import FLAG_QUANTIZE, Qnt

    q = Qnt(lib)
    data, imps = datasets(np)
    out = {}
    for backend in ("cpu", None):
        ctx = q.ctx(1, backend)
        bname = q.lib.qnt_ctx_backend_name(ctx).decode()
        for info in q.types():
            if not info["flags"] & FLAG_QUANTIZE or (types and info["name"] not in types):
                continue
            for dn, x in data.items():
                rows, cols = x.shape
                rs = q.lib.qnt_row_size(info["type"], cols)
                if rs == 0:
                    continue
                for wn, imp in imps.items():
                    b = np.zeros((rows, rs), np.uint8)
                    st = q.lib.qnt_quantize(ctx, info["type"], x.ctypes.data, b.ctypes.data, rows, cols,
                                            None if imp is None else imp.ctypes.data)
                    key = f"{info['name']} {dn} {wn} {'default' if backend is None else bname}"
                    out[key] = hashlib.sha256(b.tobytes()).hexdigest() if st == 0 else f"status {st}"
        q.lib.qnt_ctx_destroy(ctx)
    json.dump(out, sys.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--types", default="", help="comma-separated formats (default: all)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    types = [t for t in a.types.split(",") if t]
    if a.child:
        child(a.old, types)
        return 0
    res = []
    for lib in (a.old, a.new):
        p = subprocess.run([sys.executable, __file__, lib, lib, "--types", a.types, "--child"],
                           capture_output=True, text=True)
        if p.returncode != 0:
            sys.stderr.write(p.stderr)
            return 2
        res.append(json.loads(p.stdout))
    old, new = res
    diff = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
    for k in diff:
        print(f"differs: {k}")
    print(f"{len(old.keys() | new.keys())} results, {len(diff)} differ")
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main())
