# SPDX-License-Identifier: MIT
"""Every quantizer on extreme rows: magnitudes near FLT_MAX, huge, tiny and
subnormal values, alternating signs, lone infinities and NaNs, with and
without importance weights. The call must succeed, never crash, and give
the same bytes on 1 and 7 threads (the determinism contract holds for
degenerate data too); dequantizing the result must succeed as well."""
import ctypes
import sys

import numpy as np

import qntlib

lib = qntlib._lib
failures = 0
checks = 0

ctx1 = qntlib.ctx_create(n_threads=1)
ctx7 = qntlib.ctx_create(n_threads=7)


def rows(rng, n):
    out = []
    for big in (3.4e38, 1e30, 1e20, 1e-30, 1e-40):
        x = np.full(n, big, np.float32)
        x[::3] = -big
        out.append(x)
        with np.errstate(over="ignore"):
            out.append(np.clip(rng.standard_normal(n) * big, -3.4e38, 3.4e38).astype(np.float32))
    x = rng.standard_normal(n).astype(np.float32)
    x[7] = np.inf
    out.append(x)
    x = rng.standard_normal(n).astype(np.float32)
    x[9] = np.nan
    out.append(x)
    x = np.zeros(n, np.float32)
    x[3] = 3.4e38
    out.append(x)
    out.append(np.zeros(n, np.float32))
    return np.stack(out)


rng = np.random.default_rng(77)
names = []
lib.qnt_type_count.restype = ctypes.c_int32
lib.qnt_type_at.restype = ctypes.c_int32
lib.qnt_type_at.argtypes = [ctypes.c_int32]
for i in range(lib.qnt_type_count()):
    name = qntlib.type_name(lib.qnt_type_at(i))
    if not name.endswith((":f32", ":f16")):  # the MLX dtype variants share their code
        names.append(name)
for name in names:
    n = 512 if 512 % qntlib.block_size(name) == 0 else qntlib.block_size(name) * 4
    x = rows(rng, n)
    for imp in (None, np.ones(n, np.float32), np.exp(rng.standard_normal(n)).astype(np.float32)):
        checks += 1
        try:
            q1 = qntlib.quantize(name, x, imp, ctx=ctx1)
            q7 = qntlib.quantize(name, x, imp, ctx=ctx7)
            qntlib.dequantize(name, q1, n, ctx=ctx1)
        except qntlib.QntError as e:
            failures += 1
            print(f"FAIL: {name}: {e}")
            continue
        if not np.array_equal(q1, q7):
            failures += 1
            bad = np.nonzero((q1 != q7).any(1))[0]
            print(f"FAIL: {name}{' with importance' if imp is not None else ''}: rows {bad.tolist()} differ between 1 and 7 threads")
print(f"{len(names)} formats, {checks - failures} passed, {failures} failed")
sys.exit(1 if failures else 0)
