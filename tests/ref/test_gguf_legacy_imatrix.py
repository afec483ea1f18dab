# SPDX-License-Identifier: MIT
"""libqnt's importance-weighted quantizers for q4_0, q4_1, q5_0, q5_1, q8_0
against gguf-py's round-to-nearest bytes (ggml's reference rounding).

For each format and importance vector w (one per row length, as an imatrix
column), with err(row) = sum_j w_j (x_j - x^_j)^2:
  - every row and every block: err(libqnt with w) <= err(gguf-py RTN), up to
    1e-12 relative (float64 summation order; libqnt keeps ggml's block unless
    its own float64 error of a candidate is strictly lower);
  - the total is lower; the reduction is printed;
  - all-ones importance: the unweighted error is no worse than RTN, row by
    row and block by block;
  - libqnt's dequantization of its own importance bytes equals gguf-py's bit
    for bit (new codes and scales RTN never produces).

Exit status: 0 pass, 1 fail, 77 skip (gguf missing).
"""
import sys
import warnings

import numpy as np

import qntlib

gguf = qntlib.require("gguf")
import gguf.quants as gq  # noqa: E402

GT = gguf.GGMLQuantizationType
QK = 32
F32, F64, U32 = np.float32, np.float64, np.uint32
FORMATS = ["q4_0", "q4_1", "q5_0", "q5_1", "q8_0"]
REL_TOL = 1e-12

warnings.filterwarnings("ignore", category=RuntimeWarning)
np.seterr(all="ignore")

FAILURES = []


def fail(msg):
    FAILURES.append(msg)
    print("FAIL: " + msg)


def gguf_rtn(name, x):
    return np.ascontiguousarray(gq.quantize(x, GT[name.upper()])).view(np.uint8).reshape(x.shape[0], -1)


def gguf_deq(name, q, n):
    return np.ascontiguousarray(gq.dequantize(q, GT[name.upper()]), dtype=F32).reshape(-1, n)


def block_err(x, y, w):
    """Weighted squared error per block, float64: rows x (n/32)."""
    r = x.astype(F64) - y.astype(F64)
    e = w.astype(F64)[None, :] * r * r
    return e.reshape(x.shape[0], -1, QK).sum(axis=2)


def importance_vectors(rng, n):
    ws = []
    ws.append(("lognormal", np.exp(rng.standard_normal(n)).astype(F32)))
    ws.append(("uniform", (rng.random(n) + 1e-3).astype(F32)))
    w = np.exp(2 * rng.standard_normal(n)).astype(F32)
    w[rng.random(n) < 0.08] = 0.0  # a few zeros
    w[5 * QK:6 * QK] = 0.0          # and one whole block of zeros
    ws.append(("lognormal+zeros", w))
    w = (rng.random(n) ** 4 + 1e-6).astype(F32)  # very uneven
    ws.append(("skewed", w))
    return ws


def datasets(rng):
    return [
        ("gauss 96x1024", rng.standard_normal((96, 1024)).astype(F32)),
        ("gauss*1e-3 16x4096", (rng.standard_normal((16, 4096)) * 1e-3).astype(F32)),
        ("student-t df=3 64x1024", rng.standard_t(3, size=(64, 1024)).astype(F32)),
        ("gauss+offset 32x1024", (rng.standard_normal((32, 1024)) + 2.5).astype(F32)),
        ("edge blocks 8x256", edge_rows(rng)),
    ]


def edge_rows(rng):
    """64 blocks: zeros, constants, tied extremes, tiny / subnormal / large
    magnitudes, mixed with Gaussian blocks, as 8 rows of 8 blocks."""
    B = []
    for i in range(64):
        k = i % 8
        g = rng.standard_normal(QK).astype(F32)
        if k == 0:
            b = np.zeros(QK, F32)
        elif k == 1:
            b = np.full(QK, F32(rng.choice([-1.0, 1.0]) * 10.0 ** rng.uniform(-3, 3)))
        elif k == 2:
            b = g.copy(); b[3] = 4.0; b[17] = -4.0
        elif k == 3:
            b = g * F32(1e-20)
        elif k == 4:
            b = g * F32(1e-40)
        elif k == 5:
            b = g * F32(1e4)
        elif k == 6:
            b = np.where(g > 0, F32(1.0), F32(-1.0))
        else:
            b = g
        B.append(b.astype(F32))
    return np.array(B, dtype=F32).reshape(8, 8 * QK)


def degenerate_blocks(rng, fail):
    """The hand-made edge and tie blocks of test_gguf_legacy (zeros, constants,
    huge values whose fp16 scale overflows, subnormals, rounding ties): the
    weighted error must not be worse than RTN's either; a non-finite error
    (inf/NaN from an overflowed scale) counts as worse unless RTN's is too.
    Kept out of the reduction statistics."""
    import test_gguf_legacy as legacy
    blocks = np.concatenate([legacy.edge_blocks(rng), legacy.tie_blocks(rng, 64)])
    blocks = blocks[:blocks.shape[0] // 8 * 8]
    x = blocks.reshape(-1, 8 * QK)
    n = x.shape[1]
    total = nonfinite = n_worse = 0
    for name in FORMATS:
        y_rtn = gguf_deq(name, gguf_rtn(name, x), n)
        for wlabel, w in importance_vectors(rng, n) + [("ones", np.ones(n, F32))]:
            y = qntlib.dequantize(name, qntlib.quantize(name, x, importance=w), n)
            a = block_err(x, y, w)
            b = block_err(x, y_rtn, w)
            worse = (a > b * (1 + REL_TOL)) | (np.isnan(a) & ~np.isnan(b)) | (np.isinf(a) & np.isfinite(b))
            total += a.size
            n_worse += int(worse.sum())
            nonfinite += int((~np.isfinite(b)).sum())
            if worse.any():
                i, j = np.argwhere(worse)[0]
                fail(f"{name} edge blocks {wlabel}: {worse.sum()} blocks worse than RTN (first: "
                     f"x={x[i, j * QK:(j + 1) * QK].tolist()}: {float(a[i, j])!r} > {float(b[i, j])!r})")
    print(f"edge/tie blocks: {total} (format, importance, block) cases, {n_worse} worse than RTN; "
          f"{nonfinite} have a non-finite RTN error (fp16 scale overflow)")


def main():
    rng = np.random.default_rng(7177)
    sets = datasets(rng)
    agg = {}  # (format, importance kind) -> counters over all data sets
    for name in FORMATS:
        for dlabel, x in sets:
            n = x.shape[1]
            rtn = gguf_rtn(name, x)
            y_rtn = gguf_deq(name, rtn, n)
            cases = importance_vectors(rng, n) + [("ones", np.ones(n, F32))]
            for wlabel, w in cases:
                q = qntlib.quantize(name, x, importance=w)
                y = qntlib.dequantize(name, q, n)
                y_g = gguf_deq(name, q, n)
                if not np.array_equal(y.view(U32), y_g.view(U32)):
                    fail(f"{name} {dlabel} {wlabel}: dequantize of the importance bytes differs from gguf-py "
                         f"on {(y.view(U32) != y_g.view(U32)).sum()} values")
                # the metric: weighted error; for 'ones' it is the plain squared error
                eb_imp = block_err(x, y, w)
                eb_rtn = block_err(x, y_rtn, w)
                tol_b = REL_TOL * eb_rtn + 1e-300
                worse_b = eb_imp > eb_rtn + tol_b
                better_b = eb_imp < eb_rtn - tol_b
                er_imp = eb_imp.sum(axis=1)
                er_rtn = eb_rtn.sum(axis=1)
                worse_r = er_imp > er_rtn * (1 + REL_TOL) + 1e-300
                s_imp, s_rtn = er_imp.sum(), er_rtn.sum()
                if not (np.isfinite(s_imp) and np.isfinite(s_rtn)):
                    fail(f"{name} {dlabel} {wlabel}: non-finite error ({s_imp!r}, RTN {s_rtn!r})")
                if worse_b.any():
                    i, j = np.argwhere(worse_b)[0]
                    fail(f"{name} {dlabel} {wlabel}: {worse_b.sum()} blocks have a larger weighted error than "
                         f"RTN (first: row {i} block {j}: {float(eb_imp[i, j])!r} > {float(eb_rtn[i, j])!r})")
                if worse_r.any():
                    fail(f"{name} {dlabel} {wlabel}: {worse_r.sum()} rows have a larger weighted error than RTN")
                if not s_imp < s_rtn:
                    fail(f"{name} {dlabel} {wlabel}: total weighted error {float(s_imp)!r} not below RTN's {float(s_rtn)!r}")
                a = agg.setdefault((name, wlabel), dict(blocks=0, better=0, worse=0, rows=0, rows_worse=0,
                                                       e_imp=0.0, e_rtn=0.0, red_min=100.0, reds=[]))
                a["blocks"] += eb_imp.size
                a["better"] += int(better_b.sum())
                a["worse"] += int(worse_b.sum())
                a["rows"] += x.shape[0]
                a["rows_worse"] += int(worse_r.sum())
                a["e_imp"] += s_imp
                a["e_rtn"] += s_rtn
                a["red_min"] = min(a["red_min"], 100.0 * (1 - s_imp / s_rtn))
                a["reds"].append(100.0 * (1 - s_imp / s_rtn))
    degenerate_blocks(rng, fail)
    print(f"data sets: {', '.join(d for d, _ in sets)}")
    print(f"{'format':6} {'importance':16} {'blocks':>7} {'better':>7} {'equal':>6} {'worse':>5} {'rows':>5} "
          f"{'rows worse':>10} {'mean red.':>9} {'min/set':>8}")
    for (name, wlabel), a in agg.items():
        red = float(np.mean(a["reds"]))
        print(f"{name:6} {wlabel:16} {a['blocks']:7d} {a['better']:7d} {a['blocks'] - a['better'] - a['worse']:6d} "
              f"{a['worse']:5d} {a['rows']:5d} {a['rows_worse']:10d} {red:8.2f}% {a['red_min']:7.2f}%")
    print("(better/equal/worse: blocks whose weighted error is below / equal to / above gguf-py's RTN; "
          "reduction of a data set: 1 - sum err(libqnt) / sum err(RTN); mean red.: its mean over the data sets, "
          "min/set: the smallest; "
          "'ones': plain squared error)")
    if FAILURES:
        print(f"\n{len(FAILURES)} failure(s)")
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
