# SPDX-License-Identifier: MIT
"""libqnt's low-bit formats tq1_0, tq2_0, mxfp4, nvfp4, q1_0 and q2_0
against gguf-py (the PyPI `gguf` package, 0.19).

gguf-py quantizes tq1_0, tq2_0 and mxfp4 and dequantizes those and nvfp4;
it knows q1_0's type id (41) but has no code for it, and nothing of q2_0
(42). The byte-exactness against ggml itself, for all six, is checked by
tests/interop/test_ggml_lowbit.py.

1. Bytes: without importance libqnt's bytes equal gguf.quants.quantize()'s
   for tq1_0, tq2_0 and mxfp4 on random rows of several distributions and
   scales (finite values: gguf-py lets a NaN win the block maximum, ggml
   does not), on ternary data and on edge blocks.
2. Dequantize: libqnt's floats equal gguf.quants.dequantize()'s bit for bit
   (uint32 views) for tq1_0, tq2_0, mxfp4 and nvfp4, on whole random blocks
   (every byte random: NaN and inf fp16 scales, unused trit encodings,
   UE4M3 bytes with bit 7 set) and on libqnt-quantized data with and
   without importance. q1_0 and q2_0 are checked against numpy code written
   here from ggml's layout (d = fp16; q1_0: bit j%8 of qs[j/8] ? d : -d;
   q2_0: ((qs[j/4] >> 2(j%4)) & 3) - 1 times d).
3. Round trip: relative RMSE of quantize + dequantize on N(0,1) rows stays
   within measured bounds, without and with importance (weighted).
4. Importance: for every row, sum_j w_j (x_j - x^_j)^2 with the importance
   is <= the same error of the bytes without it (ggml's path: ggml ignores
   the importance for these formats), on Gaussian, Student-t, Laplace,
   offset, sparse, ternary, tiny and large data under log-normal, sparse,
   one-hot, uniform and squared importance; importance that is zero on a
   block gives that block's no-importance bytes.
5. Threads: 1, 2, 3 and 7 threads give the same bytes, with and without
   importance; rows are independent.

Exit status: 0 pass, 1 fail, 77 skip (gguf missing).
"""
import sys
import warnings

import numpy as np

import qntlib

gguf = qntlib.require("gguf")
import gguf.quants as gq  # noqa: E402

GT = gguf.GGMLQuantizationType
F16, F32, F64, U8, U16, U32 = np.float16, np.float32, np.float64, np.uint8, np.uint16, np.uint32

warnings.filterwarnings("ignore", category=RuntimeWarning)
np.seterr(all="ignore")

FORMATS = ["tq1_0", "tq2_0", "mxfp4", "nvfp4", "q1_0", "q2_0"]
IDS = {"tq1_0": 34, "tq2_0": 35, "mxfp4": 39, "nvfp4": 40, "q1_0": 41, "q2_0": 42}
BLOCK = {"tq1_0": 256, "tq2_0": 256, "mxfp4": 32, "nvfp4": 64, "q1_0": 128, "q2_0": 64}
BYTES = {"tq1_0": 54, "tq2_0": 66, "mxfp4": 17, "nvfp4": 36, "q1_0": 18, "q2_0": 18}
GGUF_QUANT = ["tq1_0", "tq2_0", "mxfp4"]
GGUF_DEQUANT = ["tq1_0", "tq2_0", "mxfp4", "nvfp4"]

# Relative RMSE on N(0,1) rows of 4096 (measured: tq1_0/tq2_0 0.8031,
# mxfp4 0.1147, nvfp4 0.0947, q1_0 0.6036, q2_0 0.7163 without importance;
# weighted, with log-normal importance: tq1_0 0.4334, tq2_0 0.4334 (kept
# ternary), mxfp4 0.1110, nvfp4 0.0726, q1_0 0.6006, q2_0 0.3310 (it may use
# the level 2d)),
# with about 3% of headroom.
RMSE_BOUND = {"tq1_0": 0.83, "tq2_0": 0.83, "mxfp4": 0.119, "nvfp4": 0.098, "q1_0": 0.622, "q2_0": 0.74}
WRMSE_BOUND = {"tq1_0": 0.447, "tq2_0": 0.447, "mxfp4": 0.115, "nvfp4": 0.075, "q1_0": 0.62, "q2_0": 0.342}

FAILURES = []
STATS = {}


def fail(msg):
    FAILURES.append(msg)
    print("FAIL: " + msg)


def stat(name, key, v):
    STATS.setdefault(name, {}).setdefault(key, 0)
    STATS[name][key] += v


def same_bits(a, b):
    return np.ascontiguousarray(a, dtype=F32).view(U32) == np.ascontiguousarray(b, dtype=F32).view(U32)


def wsse(x, y, w):
    d = x.astype(F64) - y.astype(F64)
    return (d * d * w.astype(F64)[None, :]).sum(axis=1)


def numpy_dequantize(name, q, n_per_row):
    """q1_0 and q2_0 from ggml's layout (ggml-common.h, dequantize_row_*)."""
    bb, bs = BYTES[name], BLOCK[name]
    blk = np.ascontiguousarray(q, dtype=U8).reshape(-1, bb)
    d = blk[:, 0:2].copy().view(F16).astype(F32)  # (nb, 1)
    # numpy's float16 -> float32 keeps a signalling NaN signalling; ggml's
    # conversion (and so its y = d) quiets it
    d = np.where(np.isnan(d), (d.view(U32) | U32(0x00400000)).view(F32), d)
    qs = blk[:, 2:]
    if name == "q1_0":
        bits = (qs[:, :, None] >> np.arange(8, dtype=U8)[None, None, :]) & 1
        bits = bits.reshape(-1, bs)
        y = np.where(bits == 1, d, -d)
    else:
        codes = (qs[:, :, None] >> (2 * np.arange(4, dtype=U8))[None, None, :]) & 3
        codes = codes.reshape(-1, bs).astype(np.int32) - 1
        y = codes.astype(F32) * d
    return np.ascontiguousarray(y, dtype=F32).reshape(-1, n_per_row)


def reference_dequantize(name, q, n_per_row):
    if name in GGUF_DEQUANT:
        y = gq.dequantize(np.ascontiguousarray(q, dtype=U8), GT[name.upper()])
        return np.ascontiguousarray(y, dtype=F32).reshape(-1, n_per_row)
    return numpy_dequantize(name, q, n_per_row)


# ---------------------------------------------------------------------------
# 0. Registry
# ---------------------------------------------------------------------------

def test_registry():
    for name in FORMATS:
        if qntlib.type_id(name) != IDS[name]:
            fail(f"{name}: id {qntlib.type_id(name)}, expected the GGUF id {IDS[name]}")
        if qntlib.block_size(name) != BLOCK[name] or qntlib.block_bytes(name) != BYTES[name]:
            fail(f"{name}: block {qntlib.block_size(name)}/{qntlib.block_bytes(name)} bytes")
        if name in GGUF_QUANT + GGUF_DEQUANT or name == "q1_0":
            bs, tsz = gguf.GGML_QUANT_SIZES[GT[name.upper()]]
            if (bs, tsz) != (BLOCK[name], BYTES[name]):
                fail(f"{name}: gguf-py's GGML_QUANT_SIZES says {bs}/{tsz}")
    if not hasattr(GT, "Q1_0") or int(GT.Q1_0) != 41:
        fail("gguf-py does not define Q1_0 = 41")
    print("registry: ids, block sizes and bytes agree with gguf-py (q2_0: not in gguf-py 0.19)")


# ---------------------------------------------------------------------------
# 1. Bytes
# ---------------------------------------------------------------------------

def random_rows(rng, kind, rows, n):
    if kind == "gauss":
        x = rng.standard_normal((rows, n))
    elif kind == "student-t(3)":
        x = rng.standard_t(3, (rows, n))
    elif kind == "laplace+offset":
        x = rng.laplace(size=(rows, n)) + rng.uniform(-2, 2, (rows, 1))
    elif kind == "uniform":
        x = rng.uniform(-1, 1, (rows, n))
    elif kind == "sparse":
        x = rng.standard_normal((rows, n)) * (rng.random((rows, n)) < 0.2)
    elif kind == "ternary":
        x = rng.integers(-1, 2, (rows, n)) * rng.uniform(0.1, 3, (rows, 1))
    else:
        raise ValueError(kind)
    return (x * 10.0 ** rng.uniform(-6, 6)).astype(F32)


def edge_rows(rng, n):
    sign = np.sign(rng.standard_normal(n))
    yield "zeros", np.zeros(n)
    yield "constant +", np.full(n, 0.75)
    yield "constant -", np.full(n, -3.5)
    yield "tiny", rng.standard_normal(n) * 1e-30
    yield "huge", rng.standard_normal(n) * 1e30
    yield "one hot", np.eye(1, n, n // 5)[0] * 5.0
    yield "zero halves", np.concatenate([np.zeros(n // 2), rng.standard_normal(n - n // 2)])
    yield "ramp", np.linspace(-1, 1, n)
    yield "alternating", np.tile([1.0, -1.0], n // 2)
    yield "outlier", np.concatenate([rng.standard_normal(n - 1) * 0.01, [100.0]])
    yield "halves", rng.integers(-12, 13, n) / 2.0
    yield "powers of two", sign * 2.0 ** rng.integers(-10, 10, n)


def test_bytes(rng):
    kinds = ["gauss", "student-t(3)", "laplace+offset", "uniform", "sparse", "ternary"]
    print("bytes without importance (libqnt vs gguf.quants.quantize):")
    for name in GGUF_QUANT:
        bs, bb = BLOCK[name], BYTES[name]
        total = bad = 0
        sets = []
        for t in range(30):
            rows, n = int(rng.integers(1, 7)), bs * int(rng.integers(1, 17))
            sets.append((kinds[t % len(kinds)], random_rows(rng, kinds[t % len(kinds)], rows, n)))
        sets.append(("edge blocks", np.stack([v for _, v in edge_rows(rng, bs)]).astype(F32).reshape(1, -1)))
        for what, x in sets:
            a = qntlib.quantize(name, x)
            b = gq.quantize(x, GT[name.upper()]).reshape(a.shape)
            eq = (a.reshape(-1, bb) == b.reshape(-1, bb)).all(axis=1)
            total += eq.size
            bad += int((~eq).sum())
            if not eq.all():
                fail(f"{name} {what}: {int((~eq).sum())}/{eq.size} blocks differ from gguf-py "
                     f"(first {int(np.argmin(eq))})")
        stat(name, "bytes", total * bb)
        stat(name, "byte_blocks_bad", bad)
        print(f"  {name}: {total} blocks ({total * bb} bytes) compared, {bad} mismatches")


# ---------------------------------------------------------------------------
# 2. Dequantize
# ---------------------------------------------------------------------------

def test_dequantize(rng):
    print("dequantize (libqnt vs gguf.quants.dequantize; q1_0, q2_0: numpy from ggml's layout):")
    for name in FORMATS:
        bs, bb = BLOCK[name], BYTES[name]
        sets = []
        for nb, rows in [(1, 1), (3, 2), (16, 8), (64, 4)]:
            sets.append((f"random bytes {rows}x{nb}", nb * bs, rng.integers(0, 256, (rows, nb * bb), dtype=U8)))
        for scale in (1.0, 1e-3, 1e3):
            x = (rng.standard_normal((6, 16 * bs)) * scale).astype(F32)
            w = np.exp(rng.standard_normal(16 * bs)).astype(F32)
            sets.append((f"quantized N(0,{scale})", 16 * bs, qntlib.quantize(name, x)))
            sets.append((f"quantized N(0,{scale}) with importance", 16 * bs, qntlib.quantize(name, x, w)))
        total = bad = 0
        for what, n, q in sets:
            a = qntlib.dequantize(name, q, n)
            b = reference_dequantize(name, q, n)
            eq = same_bits(a, b)
            total += eq.size
            bad += int((~eq).sum())
            if not eq.all():
                i = int(np.argmin(eq.ravel()))
                fail(f"{name} dequantize ({what}): {int((~eq).sum())}/{eq.size} floats differ, first at {i}: "
                     f"{a.ravel()[i]!r} vs {b.ravel()[i]!r}")
        stat(name, "floats", total)
        stat(name, "floats_bad", bad)
        print(f"  {name}: {total} floats compared, {bad} mismatches")


# ---------------------------------------------------------------------------
# 3. Round trip
# ---------------------------------------------------------------------------

def test_round_trip(rng):
    x = rng.standard_normal((16, 4096)).astype(F32)
    w = np.exp(rng.standard_normal(4096)).astype(F32)
    den_w = wsse(x, np.zeros_like(x), w).sum()
    print("format  bpw     rel.RMSE  bound   | weighted rel.RMSE with importance (without)  bound")
    for name in FORMATS:
        y = qntlib.dequantize(name, qntlib.quantize(name, x), 4096)
        rmse = float(np.sqrt(np.mean((x.astype(F64) - y) ** 2) / np.mean(x.astype(F64) ** 2)))
        qi = qntlib.quantize(name, x, w)
        yi = qntlib.dequantize(name, qi, 4096)
        if name == "tq2_0":
            # ternary: the 64 bytes of 2-bit codes never hold code 3 (the level 2d)
            codes = qi.reshape(-1, BYTES[name])[:, :64]
            if any(((codes >> sh) & 3 == 3).any() for sh in (0, 2, 4, 6)):
                fail("tq2_0: the importance search wrote code 3: the block is not ternary")
        wr = float(np.sqrt(wsse(x, yi, w).sum() / den_w))
        w0 = float(np.sqrt(wsse(x, y, w).sum() / den_w))
        print(f"{name:6s}  {8.0 * BYTES[name] / BLOCK[name]:.4f}  {rmse:.5f}  {RMSE_BOUND[name]:.4f}  | "
              f"{wr:.5f} ({w0:.5f})  {WRMSE_BOUND[name]:.4f}")
        if not rmse <= RMSE_BOUND[name]:
            fail(f"{name}: relative RMSE {rmse:.5f} above {RMSE_BOUND[name]}")
        if not wr <= WRMSE_BOUND[name]:
            fail(f"{name}: weighted relative RMSE {wr:.5f} above {WRMSE_BOUND[name]}")


# ---------------------------------------------------------------------------
# 4. Importance
# ---------------------------------------------------------------------------

def data_sets(rng, rows, n):
    yield "gauss", rng.standard_normal((rows, n))
    yield "student-t(3)", rng.standard_t(3, (rows, n))
    yield "laplace+offset", rng.laplace(size=(rows, n)) + rng.uniform(-2, 2, (rows, 1))
    yield "positive", np.abs(rng.standard_normal((rows, n))) + 0.1
    yield "sparse", rng.standard_normal((rows, n)) * (rng.random((rows, n)) < 0.2)
    yield "ternary+noise", rng.integers(-1, 2, (rows, n)) + 0.05 * rng.standard_normal((rows, n))
    yield "tiny", rng.standard_normal((rows, n)) * 1e-6
    yield "large", rng.standard_normal((rows, n)) * 1e4


def importance_sets(rng, n):
    yield "log-normal", np.exp(rng.standard_normal(n))
    w = np.exp(2 * rng.standard_normal(n))
    w[rng.random(n) < 0.3] = 0
    yield "with zeros", w
    w = np.zeros(n)
    w[rng.integers(0, n, 4)] = 1
    yield "few hot", w
    yield "uniform", np.ones(n)
    yield "squares", rng.standard_normal(n) ** 2


def test_importance(rng):
    n = 1024
    print("importance: weighted error with / without importance (mean over sets, worst row):")
    for name in FORMATS:
        worst, gain = 0.0, []
        for dname, x in data_sets(rng, 6, n):
            x = x.astype(F32)
            y0 = qntlib.dequantize(name, qntlib.quantize(name, x), n)
            for wname, w in importance_sets(rng, n):
                w = w.astype(F32)
                yi = qntlib.dequantize(name, qntlib.quantize(name, x, w), n)
                e0, ei = wsse(x, y0, w), wsse(x, yi, w)
                bad = ~(ei <= e0)
                stat(name, "imp_rows", e0.size)
                stat(name, "imp_worse", int(bad.sum()))
                if bad.any():
                    r = int(np.argmax(bad))
                    fail(f"{name} {dname}/{wname}: row {r} weighted error {ei[r]:.6g} > {e0[r]:.6g} without")
                ok = e0 > 0
                if ok.any():
                    worst = max(worst, float(np.max(ei[ok] / e0[ok])))
                    gain.append(float(np.sum(ei[ok]) / np.sum(e0[ok])))
                if not np.isfinite(yi).all():
                    fail(f"{name} {dname}/{wname}: non-finite values with importance")
        print(f"  {name}: {np.mean(gain):.4f}, worst row {worst:.4f}")
        # zero importance on a block gives that block's no-importance bytes
        bs = BLOCK[name]
        x = rng.standard_normal((3, 4 * bs)).astype(F32)
        w = np.exp(rng.standard_normal(4 * bs)).astype(F32)
        w[bs:2 * bs] = 0
        qi = qntlib.quantize(name, x, w).reshape(3, 4, -1)
        q0 = qntlib.quantize(name, x).reshape(3, 4, -1)
        if not np.array_equal(qi[:, 1], q0[:, 1]):
            fail(f"{name}: zero importance on a block did not give the no-importance bytes")
        if not np.array_equal(qntlib.quantize(name, x, np.zeros(4 * bs, F32)), qntlib.quantize(name, x)):
            fail(f"{name}: all-zero importance did not give the no-importance bytes")
        # edge rows with importance stay finite and never worse
        for ename, v in edge_rows(rng, bs):
            v = v.astype(F32)[None, :]
            w = np.exp(rng.standard_normal(bs)).astype(F32)
            yi = qntlib.dequantize(name, qntlib.quantize(name, v, w), bs)
            y0 = qntlib.dequantize(name, qntlib.quantize(name, v), bs)
            if np.max(np.abs(v)) < 1e29 and not np.isfinite(yi).all():
                fail(f"{name} {ename}: non-finite values with importance")
            e0 = wsse(v, y0, w)
            if np.isfinite(e0).all() and not (wsse(v, yi, w) <= e0).all():
                fail(f"{name} {ename}: importance made the weighted error worse")


# ---------------------------------------------------------------------------
# 5. Threads, rows
# ---------------------------------------------------------------------------

def test_threads(rng):
    x = rng.standard_normal((41, 2048)).astype(F32)
    w = np.exp(rng.standard_normal(2048)).astype(F32)
    for name in FORMATS:
        with qntlib.Context(n_threads=1) as ctx:
            base = [qntlib.quantize(name, x, ctx=ctx), qntlib.quantize(name, x, w, ctx=ctx)]
        for nt in (2, 3, 7):
            with qntlib.Context(n_threads=nt) as ctx:
                for k, imp in enumerate((None, w)):
                    if not np.array_equal(qntlib.quantize(name, x, imp, ctx=ctx), base[k]):
                        fail(f"{name}: {nt} threads differ from 1 ({'with' if k else 'without'} importance)")
                    stat(name, "thread_runs", 1)
        for r in (0, 17, 40):
            if not np.array_equal(qntlib.quantize(name, x[r:r + 1], w)[0], base[1][r]):
                fail(f"{name}: row {r} quantized alone differs from the batch")
    print("threads: 1, 2, 3, 7 threads give the same bytes; rows are independent")


def main():
    rng = np.random.default_rng(0x6c6f7762)
    test_registry()
    test_bytes(rng)
    test_dequantize(rng)
    test_round_trip(rng)
    test_importance(rng)
    test_threads(rng)
    print("totals:")
    for name in FORMATS:
        s = STATS[name]
        b = f"bytes {s['bytes']} / {s['byte_blocks_bad']} blocks differ; " if "bytes" in s else "bytes: no gguf-py quantizer; "
        print(f"  {name}: {b}floats {s['floats']} / {s['floats_bad']}; importance rows {s['imp_rows']} / "
              f"{s['imp_worse']} worse")
    if FAILURES:
        print(f"{len(FAILURES)} failure(s)")
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
