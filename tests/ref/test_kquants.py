# SPDX-License-Identifier: MIT
"""libqnt's k-quants (q2_K, q3_K, q4_K, q5_K, q6_K and the activation format
q8_K) against gguf-py (the PyPI `gguf` package).

gguf-py can dequantize k-quants but not quantize them; the byte-exactness of
the quantizers against ggml itself is checked by tests/interop.

1. Dequantize: libqnt's floats equal gguf.quants.dequantize()'s bit for bit
   (uint32 views; a NaN matches only the same NaN bits) on whole random
   blocks (every byte random, so the fp16 super-scales take every value:
   subnormals, inf, NaN) and on libqnt-quantized data, with and without
   importance. q8_K, which gguf-py does not handle, is checked against
   numpy's d * qs on random blocks with finite scales.
2. Round trip: the relative RMSE of quantize + dequantize on Gaussian data
   stays within measured bounds, per format, without and with importance
   (the weighted one for the latter).
3. Importance: for every row, sum_j w_j (x_j - x^_j)^2 with the importance
   is <= the same error of the bytes quantized without it, on Gaussian,
   Student-t, Laplace, offset and sparse data, under several importance
   patterns (log-normal, with zeros, one hot, uniform); importance that is
   zero for a whole super-block gives the bytes of the no-importance path.
4. Structure: every code and scale lands in its range (the dequantized
   values of finite inputs are finite), rows are independent, edge blocks
   (zeros, constants, tiny and huge values) quantize to finite values.

Exit status: 0 pass, 1 fail, 77 skip (gguf missing).
"""
import sys
import warnings

import numpy as np

import qntlib

gguf = qntlib.require("gguf")
import gguf.quants as gq  # noqa: E402

GT = gguf.GGMLQuantizationType
QK_K = 256
F32, F64, U8, U32 = np.float32, np.float64, np.uint8, np.uint32

# random blocks hold inf/NaN scales on purpose
warnings.filterwarnings("ignore", category=RuntimeWarning)
np.seterr(all="ignore")

FORMATS = ["q2_K", "q3_K", "q4_K", "q5_K", "q6_K"]
BLOCK_BYTES = {"q2_K": 84, "q3_K": 110, "q4_K": 144, "q5_K": 176, "q6_K": 210, "q8_K": 292}

# Relative RMSE bounds on N(0,1) rows of 4096 (measured: q2_K 0.2966,
# q3_K 0.1509, q4_K 0.0714, q5_K 0.0359, q6_K 0.0177, q8_K 0.0070 without
# importance; with log-normal importance, weighted: q2_K 0.229, q3_K 0.133,
# q4_K 0.0635, q5_K 0.0312, q6_K 0.0155), with about 3% headroom.
RMSE_BOUND = {"q2_K": 0.306, "q3_K": 0.156, "q4_K": 0.074, "q5_K": 0.037, "q6_K": 0.0183, "q8_K": 0.0072}
WRMSE_BOUND = {"q2_K": 0.236, "q3_K": 0.137, "q4_K": 0.0655, "q5_K": 0.0322, "q6_K": 0.016}

FAILURES = []
STATS = {"deq_blocks": 0, "deq_mismatch": 0, "imp_rows": 0, "imp_worse": 0}


def fail(msg):
    FAILURES.append(msg)
    print("FAIL: " + msg)


def gguf_dequantize(name, q, n_per_row):
    y = gq.dequantize(np.ascontiguousarray(q, dtype=U8), GT[name.upper()])
    return np.ascontiguousarray(y, dtype=F32).reshape(-1, n_per_row)


def same_bits(a, b):
    return np.ascontiguousarray(a, dtype=F32).view(U32) == np.ascontiguousarray(b, dtype=F32).view(U32)


def compare_dequant(name, q, n_per_row, what):
    a = qntlib.dequantize(name, q, n_per_row)
    b = gguf_dequantize(name, q, n_per_row)
    eq = same_bits(a, b).reshape(-1, QK_K).all(axis=1)
    STATS["deq_blocks"] += eq.size
    bad = int(np.sum(~eq))
    STATS["deq_mismatch"] += bad
    if bad:
        i = int(np.argmin(eq))
        fail(f"{name} dequantize ({what}): {bad}/{eq.size} blocks differ from gguf-py, first block {i}")


def wsse(x, y, w):
    """Per-row importance-weighted squared error, in float64."""
    d = x.astype(F64) - y.astype(F64)
    return (d * d * w.astype(F64)[None, :]).sum(axis=1)


# ---------------------------------------------------------------------------
# 1. Dequantize
# ---------------------------------------------------------------------------

def test_dequantize(rng):
    for name in FORMATS:
        assert qntlib.block_size(name) == QK_K and qntlib.row_size(name, QK_K) == BLOCK_BYTES[name], name
        # whole random blocks, every field random
        for nb, rows in [(1, 1), (3, 2), (16, 8), (64, 4)]:
            raw = rng.integers(0, 256, size=(rows, nb * BLOCK_BYTES[name]), dtype=U8)
            compare_dequant(name, raw, nb * QK_K, f"random bytes {rows}x{nb}")
        # random blocks whose fp16 fields are finite normal numbers
        raw = rng.integers(0, 256, size=(32, BLOCK_BYTES[name]), dtype=U8)
        y = qntlib.dequantize(name, raw, QK_K)
        compare_dequant(name, raw, QK_K, "random bytes, second draw")
        # libqnt-quantized data, with and without importance
        for scale in (1.0, 1e-3, 1e3):
            x = (rng.standard_normal((6, 1024)) * scale).astype(F32)
            w = np.exp(rng.standard_normal(1024)).astype(F32)
            compare_dequant(name, qntlib.quantize(name, x), 1024, f"quantized N(0,{scale})")
            compare_dequant(name, qntlib.quantize(name, x, w), 1024, f"quantized N(0,{scale}) with importance")
        del y
    # q8_K: float d, int8 qs[256], int16 bsums[16]; y = d * qs
    raw = rng.integers(0, 256, size=(40, BLOCK_BYTES["q8_K"]), dtype=U8)
    d = (rng.standard_normal(40) * 10.0 ** rng.uniform(-8, 8, 40)).astype(F32)
    raw[:, 0:4] = d.view(U8).reshape(40, 4)
    y = qntlib.dequantize("q8_K", raw, QK_K)
    qs = raw[:, 4:4 + QK_K].view(np.int8).astype(F32)
    ref = d[:, None] * qs
    eq = same_bits(y, ref).all(axis=1)
    STATS["deq_blocks"] += eq.size
    STATS["deq_mismatch"] += int(np.sum(~eq))
    if not eq.all():
        fail(f"q8_K dequantize: {int(np.sum(~eq))}/40 blocks differ from d * qs")


# ---------------------------------------------------------------------------
# 2. Round trip
# ---------------------------------------------------------------------------

def test_round_trip(rng):
    x = rng.standard_normal((16, 4096)).astype(F32)
    w = np.exp(rng.standard_normal(4096)).astype(F32)
    print("format  bpw     rel.RMSE   bound    | weighted rel.RMSE with importance  bound")
    for name in FORMATS + ["q8_K"]:
        q = qntlib.quantize(name, x)
        y = qntlib.dequantize(name, q, 4096)
        rmse = float(np.sqrt(np.mean((x.astype(F64) - y) ** 2) / np.mean(x.astype(F64) ** 2)))
        bpw = 8.0 * BLOCK_BYTES[name] / QK_K
        line = f"{name:6s}  {bpw:.4f}  {rmse:.5f}  {RMSE_BOUND[name]:.5f}"
        if not rmse <= RMSE_BOUND[name]:
            fail(f"{name}: relative RMSE {rmse:.5f} above {RMSE_BOUND[name]}")
        if name in WRMSE_BOUND:
            qi = qntlib.quantize(name, x, w)
            yi = qntlib.dequantize(name, qi, 4096)
            wr = float(np.sqrt(wsse(x, yi, w).sum() / wsse(x, np.zeros_like(x), w).sum()))
            w0 = float(np.sqrt(wsse(x, y, w).sum() / wsse(x, np.zeros_like(x), w).sum()))
            line += f"  | {wr:.5f} (without: {w0:.5f})  {WRMSE_BOUND[name]:.5f}"
            if not wr <= WRMSE_BOUND[name]:
                fail(f"{name}: weighted relative RMSE {wr:.5f} above {WRMSE_BOUND[name]}")
        print(line)


# ---------------------------------------------------------------------------
# 3. Importance never does worse, per row
# ---------------------------------------------------------------------------

def data_sets(rng, rows, n):
    yield "gauss", rng.standard_normal((rows, n))
    yield "student-t(3)", rng.standard_t(3, (rows, n))
    yield "laplace+offset", rng.laplace(size=(rows, n)) + rng.uniform(-2, 2, (rows, 1))
    yield "positive", np.abs(rng.standard_normal((rows, n))) + 0.1
    yield "sparse", rng.standard_normal((rows, n)) * (rng.random((rows, n)) < 0.2)
    yield "tiny", rng.standard_normal((rows, n)) * 1e-6
    # fp16 super-scales among the smallest subnormals (q6_K's about 1e-9 to
    # 1e-7): the reference block must stay a candidate there
    for scale in (1e-5, 3e-5, 1e-4, 3e-4):
        yield f"small {scale:g}", rng.standard_normal((4 * rows, n)) * scale
    yield "weights", rng.standard_normal((rows, n)) * 0.02
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
    for name in FORMATS:
        worst = 0.0
        gain = []
        for dname, x in data_sets(rng, 6, n):
            x = x.astype(F32)
            q0 = qntlib.quantize(name, x)
            y0 = qntlib.dequantize(name, q0, n)
            for wname, w in importance_sets(rng, n):
                w = w.astype(F32)
                qi = qntlib.quantize(name, x, w)
                yi = qntlib.dequantize(name, qi, n)
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
        # importance that is zero on a whole super-block: that super-block
        # takes the no-importance bytes
        x = rng.standard_normal((3, n)).astype(F32)
        w = np.exp(rng.standard_normal(n)).astype(F32)
        w[QK_K:2 * QK_K] = 0
        qi = qntlib.quantize(name, x, w).reshape(3, n // QK_K, -1)
        q0 = qntlib.quantize(name, x).reshape(3, n // QK_K, -1)
        if not np.array_equal(qi[:, 1], q0[:, 1]):
            fail(f"{name}: zero importance on a super-block did not give the no-importance bytes")
        if not np.array_equal(qntlib.quantize(name, x, np.zeros(n, F32)), qntlib.quantize(name, x)):
            fail(f"{name}: all-zero importance did not give the no-importance bytes")


# ---------------------------------------------------------------------------
# 4. Structure and edge blocks
# ---------------------------------------------------------------------------

def edge_rows(rng):
    n = QK_K
    yield "zeros", np.zeros(n)
    yield "constant +", np.full(n, 0.75)
    yield "constant -", np.full(n, -3.5)
    yield "tiny", rng.standard_normal(n) * 1e-30
    yield "subnormal", rng.standard_normal(n) * 1e-41
    yield "huge", rng.standard_normal(n) * 1e30
    yield "one hot", np.eye(1, n, 37)[0] * 5.0
    yield "zero sub-blocks", np.concatenate([np.zeros(128), rng.standard_normal(128)])
    yield "ramp", np.linspace(-1, 1, n)
    yield "alternating", np.tile([1.0, -1.0], n // 2)
    yield "outlier", np.concatenate([rng.standard_normal(n - 1) * 0.01, [100.0]])


def test_edges(rng):
    for name in FORMATS + ["q8_K"]:
        for ename, x in edge_rows(rng):
            x = x.astype(F32)[None, :]
            for imp in (None, np.exp(rng.standard_normal(QK_K)).astype(F32)):
                if imp is not None and name == "q8_K":
                    continue
                q = qntlib.quantize(name, x, imp)
                y = qntlib.dequantize(name, q, QK_K)
                amax = float(np.max(np.abs(x)))
                if amax < 1e29 and not np.isfinite(y).all():
                    fail(f"{name} {ename}{' (importance)' if imp is not None else ''}: non-finite values")
                if amax == 0 and np.any(y != 0):
                    fail(f"{name} {ename}: zeros do not round-trip to zeros")
                if imp is not None:
                    y0 = qntlib.dequantize(name, qntlib.quantize(name, x), QK_K)
                    e0, ei = wsse(x, y0, imp), wsse(x, y, imp)
                    if np.isfinite(e0).all() and not (ei <= e0).all():
                        fail(f"{name} {ename}: importance error {ei[0]:.6g} > {e0[0]:.6g}")
        # rows are independent: one row alone gives the bytes it gets in a batch
        x = rng.standard_normal((5, 768)).astype(F32)
        w = None if name == "q8_K" else np.exp(rng.standard_normal(768)).astype(F32)
        whole = qntlib.quantize(name, x, w)
        for r in range(5):
            if not np.array_equal(qntlib.quantize(name, x[r:r + 1], w)[0], whole[r]):
                fail(f"{name}: row {r} quantized alone differs from the batch")


def main():
    rng = np.random.default_rng(20240611)
    test_dequantize(rng)
    test_round_trip(rng)
    test_importance(rng)
    test_edges(rng)
    print(f"dequantize: {STATS['deq_blocks']} blocks compared bit for bit, {STATS['deq_mismatch']} mismatches")
    print(f"importance: {STATS['imp_rows']} rows compared, {STATS['imp_worse']} worse than without importance")
    if FAILURES:
        print(f"{len(FAILURES)} failure(s)")
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
