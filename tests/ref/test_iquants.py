# SPDX-License-Identifier: MIT
"""libqnt's i-quants (iq4_nl, iq4_xs, iq3_xxs, iq3_s, iq2_xxs, iq2_xs, iq2_s,
iq1_s, iq1_m) against gguf-py (the PyPI `gguf` package).

gguf-py can dequantize i-quants but not quantize them; the bytes of the
quantizers are checked against ggml itself by tests/interop.

1. Dequantize: libqnt's floats equal gguf.quants.dequantize()'s bit for bit
   on whole random blocks (every byte random, so the fp16 scales take every
   value: subnormals, inf, NaN) and on libqnt-quantized data, with and
   without importance. One exception: where a value is NaN, gguf-py's numpy
   multiplies it by -1 and keeps its sign bit while ggml (and libqnt) negate
   it, so a NaN matches any NaN (tests/interop compares those bits with ggml).
2. Round trip: the relative RMSE of quantize + dequantize on Gaussian rows
   stays within measured bounds, without and with importance (weighted).
3. Importance: for every row, sum_j w_j (x_j - x^_j)^2 with the importance
   is <= the same error of the bytes quantized without it, on Gaussian,
   Student-t, Laplace, offset and sparse data under several importance
   patterns (for iq4_nl and iq4_xs, which take the no-importance block as a
   candidate, also on the edge rows of 4); importance that is zero on a whole
   block gives the bytes of the no-importance path.
4. Structure and determinism: edge blocks (zeros, constants, tiny, huge,
   one hot, outliers) give finite values; rows are independent; the bytes do
   not depend on the thread count (contexts with 1, 2 and 5 threads).

Exit status: 0 pass, 1 fail, 77 skip (gguf missing).
"""
import sys
import warnings

import numpy as np

import qntlib

gguf = qntlib.require("gguf")
import gguf.quants as gq  # noqa: E402

GT = gguf.GGMLQuantizationType
F32, F64, U8, U32 = np.float32, np.float64, np.uint8, np.uint32

warnings.filterwarnings("ignore", category=RuntimeWarning)
np.seterr(all="ignore")

# name: (block size, block bytes)
LAYOUT = {
    "iq2_xxs": (256, 66), "iq2_xs": (256, 74), "iq2_s": (256, 82), "iq3_xxs": (256, 98),
    "iq3_s": (256, 110), "iq1_s": (256, 50), "iq1_m": (256, 56), "iq4_nl": (32, 18), "iq4_xs": (256, 136),
}
ALL = ["iq4_nl", "iq4_xs", "iq3_xxs", "iq3_s", "iq2_xxs", "iq2_xs", "iq2_s", "iq1_s", "iq1_m"]

# Relative RMSE bounds on N(0,1) rows of 4096, without importance and, with
# log-normal importance, weighted (measured values in the comments; about 3%
# headroom). Without importance iq3_xxs, iq3_s, iq2_s and iq1_m are ggml's
# bytes, whose search weighs by x^2 (or sigma^2/4 + x^2) rather than
# minimising the plain squared error.
RMSE_BOUND = {
    "iq4_nl": 0.0785,   # 0.0759
    "iq4_xs": 0.0790,   # 0.0765
    "iq3_xxs": 0.2175,  # 0.2111
    "iq3_s": 0.1700,    # 0.1649
    "iq2_xxs": 0.3360,  # 0.3261
    "iq2_xs": 0.2930,   # 0.2845
    "iq2_s": 0.2720,    # 0.2638
    "iq1_s": 0.4560,    # 0.4430
    "iq1_m": 0.5950,    # 0.5778
}
WRMSE_BOUND = {
    "iq4_nl": 0.0700,   # 0.0677
    "iq4_xs": 0.0705,   # 0.0681
    "iq3_xxs": 0.1520,  # 0.1480
    "iq3_s": 0.1140,    # 0.1116
    "iq2_xxs": 0.2835,  # 0.2749
    "iq2_xs": 0.2470,   # 0.2397
    "iq2_s": 0.2175,    # 0.2110
    "iq1_s": 0.4160,    # 0.4041
    "iq1_m": 0.3710,    # 0.3610
}
# Formats whose importance path takes the no-importance block as a
# candidate where the search can lose to it (iq4_nl on every block; iq4_xs
# on blocks of one magnitude and where its super-scale is among fp16's
# smallest subnormals): checked on the edge rows too. For the others the
# property is checked on random data.
IMP_GUARANTEED = {"iq4_nl", "iq4_xs"}

FAILURES = []
STATS = {"deq_blocks": 0, "deq_mismatch": 0, "imp_rows": 0, "imp_worse": 0}


def fail(msg):
    FAILURES.append(msg)
    print("FAIL: " + msg)


def can_quantize(name):
    try:
        qntlib.quantize(name, np.ones((1, LAYOUT[name][0]), F32))
        return True
    except qntlib.QntError:
        return False


def gguf_dequantize(name, q, n_per_row):
    y = gq.dequantize(np.ascontiguousarray(q, dtype=U8), GT[name.upper()])
    return np.ascontiguousarray(y, dtype=F32).reshape(-1, n_per_row)


def same(a, b):
    """Equal bits, or both NaN."""
    a = np.ascontiguousarray(a, dtype=F32)
    b = np.ascontiguousarray(b, dtype=F32)
    return (a.view(U32) == b.view(U32)) | (np.isnan(a) & np.isnan(b))


def compare_dequant(name, q, n_per_row, what):
    bs = LAYOUT[name][0]
    a = qntlib.dequantize(name, q, n_per_row)
    b = gguf_dequantize(name, q, n_per_row)
    eq = same(a, b).reshape(-1, bs).all(axis=1)
    STATS["deq_blocks"] += eq.size
    bad = int(np.sum(~eq))
    STATS["deq_mismatch"] += bad
    if bad:
        fail(f"{name} dequantize ({what}): {bad}/{eq.size} blocks differ from gguf-py, first {int(np.argmin(eq))}")


def wsse(x, y, w):
    d = x.astype(F64) - y.astype(F64)
    return (d * d * w.astype(F64)[None, :]).sum(axis=1)


def rel_rmse(x, y):
    return float(np.sqrt(np.mean((x.astype(F64) - y) ** 2) / np.mean(x.astype(F64) ** 2)))


# ---------------------------------------------------------------------------
# 1. Dequantize
# ---------------------------------------------------------------------------

def test_dequantize(rng, formats):
    for name in ALL:
        bs, bb = LAYOUT[name]
        assert qntlib.block_size(name) == bs and qntlib.row_size(name, bs) == bb, name
        for nb, rows in [(1, 1), (3, 2), (16, 8), (64, 4)]:
            raw = rng.integers(0, 256, size=(rows, nb * bb), dtype=U8)
            compare_dequant(name, raw, nb * bs, f"random bytes {rows}x{nb}")
        if name not in formats:
            continue
        for scale in (1.0, 1e-3, 1e3):
            x = (rng.standard_normal((4, 1024)) * scale).astype(F32)
            w = np.exp(rng.standard_normal(1024)).astype(F32)
            compare_dequant(name, qntlib.quantize(name, x), 1024, f"quantized N(0,{scale})")
            compare_dequant(name, qntlib.quantize(name, x, w), 1024, f"quantized N(0,{scale}) with importance")


# ---------------------------------------------------------------------------
# 2. Round trip
# ---------------------------------------------------------------------------

def test_round_trip(rng, formats):
    x = rng.standard_normal((8, 4096)).astype(F32)
    w = np.exp(rng.standard_normal(4096)).astype(F32)
    print("format   bpw     rel.RMSE  bound    | weighted rel.RMSE with importance  bound")
    for name in formats:
        bs, bb = LAYOUT[name]
        y = qntlib.dequantize(name, qntlib.quantize(name, x), 4096)
        r = rel_rmse(x, y)
        yi = qntlib.dequantize(name, qntlib.quantize(name, x, w), 4096)
        den = wsse(x, np.zeros_like(x), w).sum()
        wr = float(np.sqrt(wsse(x, yi, w).sum() / den))
        w0 = float(np.sqrt(wsse(x, y, w).sum() / den))
        print(f"{name:7s}  {8.0 * bb / bs:.4f}  {r:.5f}   {RMSE_BOUND.get(name, 0):.5f}  | "
              f"{wr:.5f} (without: {w0:.5f})  {WRMSE_BOUND.get(name, 0):.5f}")
        if name in RMSE_BOUND and not r <= RMSE_BOUND[name]:
            fail(f"{name}: relative RMSE {r:.5f} above {RMSE_BOUND[name]}")
        if name in WRMSE_BOUND and not wr <= WRMSE_BOUND[name]:
            fail(f"{name}: weighted relative RMSE {wr:.5f} above {WRMSE_BOUND[name]}")
        if not np.isfinite(y).all() or not np.isfinite(yi).all():
            fail(f"{name}: non-finite values from finite data")


# ---------------------------------------------------------------------------
# 3. Importance never does worse than no importance, per row
# ---------------------------------------------------------------------------

def data_sets(rng, rows, n):
    yield "gauss", rng.standard_normal((rows, n))
    yield "student-t(3)", rng.standard_t(3, (rows, n))
    yield "laplace+offset", rng.laplace(size=(rows, n)) + rng.uniform(-2, 2, (rows, 1))
    yield "sparse", rng.standard_normal((rows, n)) * (rng.random((rows, n)) < 0.2)
    yield "large", rng.standard_normal((rows, n)) * 1e4
    # scales at and below the formats' smallest fp16 super-scales: the
    # lattice searches must fall back on zeros or the smallest scale
    for scale in (1e-8, 1e-6, 1e-5):
        yield f"small {scale:g}", rng.standard_normal((4 * rows, n)) * scale
        yield f"small t(3) {scale:g}", rng.standard_t(3, (4 * rows, n)) * scale


def importance_sets(rng, n):
    yield "log-normal", np.exp(rng.standard_normal(n))
    w = np.exp(2 * rng.standard_normal(n))
    w[rng.random(n) < 0.3] = 0
    yield "with zeros", w
    w = np.zeros(n)
    w[rng.integers(0, n, 4)] = 1
    yield "few hot", w
    yield "uniform", np.ones(n)


def test_importance(rng, formats):
    n = 1024
    for name in formats:
        bs = LAYOUT[name][0]
        worst, gain = 0.0, []
        for dname, x in data_sets(rng, 4, n):
            x = x.astype(F32)
            y0 = qntlib.dequantize(name, qntlib.quantize(name, x), n)
            for wname, w in importance_sets(rng, n):
                w = w.astype(F32)
                yi = qntlib.dequantize(name, qntlib.quantize(name, x, w), n)
                e0, ei = wsse(x, y0, w), wsse(x, yi, w)
                STATS["imp_rows"] += e0.size
                bad = ~(ei <= e0)
                STATS["imp_worse"] += int(bad.sum())
                if bad.any():
                    r = int(np.argmax(bad))
                    fail(f"{name} {dname}/{wname}: row {r} weighted error {ei[r]:.6g} > {e0[r]:.6g} without importance")
                ok = e0 > 0
                if ok.any():
                    worst = max(worst, float(np.max(ei[ok] / e0[ok])))
                    gain.append(float(np.sum(ei[ok]) / np.sum(e0[ok])))
                if not np.isfinite(yi).all():
                    fail(f"{name} {dname}/{wname}: non-finite values with importance")
        print(f"{name}: importance error / no-importance error: mean over sets {np.mean(gain):.4f}, "
              f"worst row {worst:.4f}")
        # zero importance on a whole block gives that block the no-importance bytes
        x = rng.standard_normal((3, n)).astype(F32)
        w = np.exp(rng.standard_normal(n)).astype(F32)
        w[bs:2 * bs] = 0
        qi = qntlib.quantize(name, x, w).reshape(3, n // bs, -1)
        q0 = qntlib.quantize(name, x).reshape(3, n // bs, -1)
        if not np.array_equal(qi[:, 1], q0[:, 1]):
            fail(f"{name}: zero importance on a block did not give the no-importance bytes")
        if not np.array_equal(qntlib.quantize(name, x, np.zeros(n, F32)), q0.reshape(3, -1)):
            fail(f"{name}: all-zero importance did not give the no-importance bytes")


# ---------------------------------------------------------------------------
# 4. Structure, edges, determinism
# ---------------------------------------------------------------------------

def edge_rows(rng):
    n = 256
    yield "zeros", np.zeros(n)
    yield "constant +", np.full(n, 0.75)
    yield "constant -", np.full(n, -3.5)
    yield "tiny", rng.standard_normal(n) * 1e-30
    yield "subnormal", rng.standard_normal(n) * 1e-41
    yield "huge", rng.standard_normal(n) * 1e30
    yield "one hot", np.eye(1, n, 37)[0] * 5.0
    yield "zero halves", np.concatenate([np.zeros(128), rng.standard_normal(128)])
    yield "ramp", np.linspace(-1, 1, n)
    yield "alternating", np.tile([1.0, -1.0], n // 2)
    yield "outlier", np.concatenate([rng.standard_normal(n - 1) * 0.01, [100.0]])


def test_edges(rng, formats):
    for name in formats:
        for ename, x in edge_rows(rng):
            x = x.astype(F32)[None, :]
            for imp in (None, np.exp(rng.standard_normal(256)).astype(F32)):
                y = qntlib.dequantize(name, qntlib.quantize(name, x, imp), 256)
                amax = float(np.max(np.abs(x)))
                if amax < 1e29 and not np.isfinite(y).all():
                    fail(f"{name} {ename}{' (importance)' if imp is not None else ''}: non-finite values")
                if amax == 0 and np.any(y != 0):
                    fail(f"{name} {ename}: zeros do not round-trip to zeros")
                if imp is not None and name in IMP_GUARANTEED:
                    y0 = qntlib.dequantize(name, qntlib.quantize(name, x), 256)
                    e0, ei = wsse(x, y0, imp), wsse(x, y, imp)
                    if np.isfinite(e0).all() and not (ei <= e0).all():
                        fail(f"{name} {ename}: importance error {ei[0]:.6g} > {e0[0]:.6g}")
        # rows are independent, and the thread count does not matter
        x = rng.standard_normal((10, 768)).astype(F32)
        w = np.exp(rng.standard_normal(768)).astype(F32)
        for imp in (None, w):
            whole = qntlib.quantize(name, x, imp)
            for r in (0, 4, 9):
                if not np.array_equal(qntlib.quantize(name, x[r:r + 1], imp)[0], whole[r]):
                    fail(f"{name}: row {r} quantized alone differs from the batch")
            for nt in (1, 2, 5):
                with qntlib.Context(n_threads=nt) as ctx:
                    if not np.array_equal(qntlib.quantize(name, x, imp, ctx=ctx), whole):
                        fail(f"{name}: {nt} threads give other bytes{' (importance)' if imp is not None else ''}")


def main():
    rng = np.random.default_rng(20240612)
    formats = [f for f in ALL if can_quantize(f)]
    print(f"formats with a quantizer: {' '.join(formats)}")
    test_dequantize(rng, formats)
    test_round_trip(rng, formats)
    test_importance(rng, formats)
    test_edges(rng, formats)
    print(f"dequantize: {STATS['deq_blocks']} blocks compared with gguf-py, {STATS['deq_mismatch']} mismatches")
    print(f"importance: {STATS['imp_rows']} rows compared, {STATS['imp_worse']} worse than without importance")
    if FAILURES:
        print(f"{len(FAILURES)} failure(s)")
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
