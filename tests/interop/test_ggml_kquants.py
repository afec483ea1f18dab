# SPDX-License-Identifier: MIT
"""libqnt's k-quants against ggml itself: libggml-base from the PyPI package
llama-cpp-python (which builds llama.cpp and ggml from source), loaded with
ctypes into the same process as libqnt.

1. Without importance, libqnt's bytes equal ggml_quantize_chunk()'s for
   q2_K..q6_K (quantize_row_q8_K_ref()'s for q8_K, which ggml_quantize_chunk
   does not handle) on random shapes of Gaussian, Student-t, Laplace, uniform,
   sparse and scaled data, and on edge blocks (zeros, constants, tiny,
   subnormal, huge, FLT_MAX, fp16 boundaries, inf and NaN elements).
   q8_K: ggml leaves bsums unwritten in an all-zero block, libqnt writes
   zeros; ggml's output buffer is zero-filled first so that the two compare.
2. libqnt's dequantize equals ggml's to_float (dequantize_row_q8_K for q8_K)
   bit for bit, on whole random blocks and on quantized data.
3. With an importance matrix, libqnt's importance-weighted squared error
   sum_j w_j (x_j - x^_j)^2 is <= that of ggml's imatrix path, for every row,
   on Gaussian and heavy-tailed data with two kinds of importance.
4. Prints a table (bits per weight, relative RMSE of ggml and libqnt without
   and with importance) and single-thread quantize throughput of both, in MB/s
   of f32 input (medians of several runs, same process, same data).

Exit status: 0 pass, 1 fail, 77 skip (llama_cpp not installed and
QNT_REQUIRE_INTEROP unset).
"""
import os
import sys
import time
import warnings

os.environ["QNT_NUM_THREADS"] = "1"  # single-thread default context (timings)

import numpy as np  # noqa: E402

import ggmllib  # noqa: E402

GGML = ggmllib.Ggml()  # exits 77 when llama_cpp is missing

import qntlib  # noqa: E402

warnings.filterwarnings("ignore", category=RuntimeWarning)
np.seterr(all="ignore")

F32, F64, U8, U32 = np.float32, np.float64, np.uint8, np.uint32
QK_K = 256
FORMATS = ["q2_K", "q3_K", "q4_K", "q5_K", "q6_K"]
ALL = FORMATS + ["q8_K"]

FAILURES = []


def fail(msg):
    FAILURES.append(msg)
    print("FAIL: " + msg)


def same_bits(a, b):
    return np.ascontiguousarray(a, dtype=F32).view(U32) == np.ascontiguousarray(b, dtype=F32).view(U32)


def wsse(x, y, w):
    d = x.astype(F64) - y.astype(F64)
    return (d * d * w.astype(F64)[None, :]).sum(axis=1)


# ---------------------------------------------------------------------------
# 1. Bytes without importance
# ---------------------------------------------------------------------------

def random_data(rng, kind, rows, n):
    if kind == "gauss":
        x = rng.standard_normal((rows, n))
    elif kind == "student-t(2)":
        x = rng.standard_t(2, (rows, n))
    elif kind == "laplace+offset":
        x = rng.laplace(size=(rows, n)) + rng.uniform(-3, 3, (rows, 1))
    elif kind == "uniform":
        x = rng.uniform(-1, 1, (rows, n))
    elif kind == "sparse":
        x = rng.standard_normal((rows, n)) * (rng.random((rows, n)) < 0.25)
    elif kind == "positive":
        x = np.abs(rng.standard_normal((rows, n)))
    else:
        raise ValueError(kind)
    return (x * 10.0 ** rng.uniform(-8, 8)).astype(F32)


def edge_blocks(rng):
    n = QK_K
    sign = np.sign(rng.standard_normal(n))
    yield "zeros", np.zeros(n)
    yield "constant +", np.full(n, 0.75)
    yield "constant -", np.full(n, -3.5)
    yield "tiny", rng.standard_normal(n) * 1e-30
    yield "subnormal", rng.standard_normal(n) * 1e-41
    yield "min subnormal", sign * 1.4e-45
    yield "huge", rng.standard_normal(n) * 1e30
    yield "FLT_MAX", sign * 3.4028235e38
    yield "fp16 boundaries", rng.choice([65504.0, 65520.0, -65519.0, 6.1035156e-05, 5.96e-08, -2.98e-08], n)
    yield "one hot", np.eye(1, n, 77)[0] * -2.0
    yield "zero halves", np.concatenate([np.zeros(128), rng.standard_normal(128)])
    yield "outlier", np.concatenate([rng.standard_normal(n - 1) * 1e-3, [50.0]])
    yield "ramp", np.linspace(-1, 1, n)
    yield "integers", rng.integers(-8, 8, n).astype(F64)
    yield "inf", np.where(rng.random(n) < 0.05, np.inf, rng.standard_normal(n))
    yield "-inf", np.where(rng.random(n) < 0.05, -np.inf, rng.standard_normal(n))
    yield "nan", np.where(rng.random(n) < 0.05, np.nan, rng.standard_normal(n))


def compare_bytes(name, x, what, counts):
    a = qntlib.quantize(name, x)
    b = GGML.quantize(name, x, fill=0)
    bb = ggmllib_block_bytes(name)
    eq = (a.reshape(-1, bb) == b.reshape(-1, bb)).all(axis=1)
    counts[0] += eq.size
    counts[1] += int(np.sum(~eq))
    if not eq.all():
        fail(f"{name} {what}: {int(np.sum(~eq))}/{eq.size} blocks differ from ggml (first {int(np.argmin(eq))})")
    return a


def ggmllib_block_bytes(name):
    return GGML.row_size(name, QK_K)


def test_bytes(rng):
    kinds = ["gauss", "student-t(2)", "laplace+offset", "uniform", "sparse", "positive"]
    print("bytes without importance (libqnt vs ggml):")
    for name in ALL:
        assert qntlib.row_size(name, QK_K) == GGML.row_size(name, QK_K), name
        counts = [0, 0]
        for t in range(36):
            rows = int(rng.integers(1, 9))
            n = QK_K * int(rng.integers(1, 17))
            compare_bytes(name, random_data(rng, kinds[t % len(kinds)], rows, n), kinds[t % len(kinds)], counts)
        edges = np.stack([v.astype(F32) for _, v in edge_blocks(rng)])
        compare_bytes(name, edges, "edge blocks (one row)", counts)
        for ename, v in edge_blocks(rng):
            compare_bytes(name, v.astype(F32)[None, :], ename, counts)
        print(f"  {name}: {counts[0]} blocks compared, {counts[1]} mismatches")


# ---------------------------------------------------------------------------
# 2. Dequantize
# ---------------------------------------------------------------------------

def test_dequantize(rng):
    print("dequantize (libqnt vs ggml to_float, bit for bit):")
    for name in ALL:
        bb = GGML.row_size(name, QK_K)
        total = bad = 0
        sets = [rng.integers(0, 256, size=(8, 16 * bb), dtype=U8) for _ in range(4)]
        for kind in ("gauss", "student-t(2)"):
            x = random_data(rng, kind, 8, 16 * QK_K)
            sets.append(qntlib.quantize(name, x))
            if name != "q8_K":
                sets.append(qntlib.quantize(name, x, np.exp(rng.standard_normal(16 * QK_K)).astype(F32)))
        for q in sets:
            if name == "q8_K":  # keep the float scale of random blocks finite
                qq = q.reshape(-1, bb).copy()
                d = (rng.standard_normal(qq.shape[0]) * 10.0 ** rng.uniform(-10, 10, qq.shape[0])).astype(F32)
                qq[:, 0:4] = d.view(U8).reshape(-1, 4)
                q = qq.reshape(q.shape)
            a = qntlib.dequantize(name, q, 16 * QK_K)
            b = GGML.dequantize(name, q, 16 * QK_K)
            eq = same_bits(a, b).reshape(-1, QK_K).all(axis=1)
            total += eq.size
            bad += int(np.sum(~eq))
        if bad:
            fail(f"{name}: dequantize differs from ggml in {bad}/{total} blocks")
        print(f"  {name}: {total} blocks compared, {bad} mismatches")


# ---------------------------------------------------------------------------
# 3. Importance: libqnt <= ggml's imatrix path, per row; 4. the table
# ---------------------------------------------------------------------------

def test_importance(rng):
    rows, n = 32, 4096
    data = {
        "gauss": rng.standard_normal((rows, n)).astype(F32),
        "student-t(3)": rng.standard_t(3, (rows, n)).astype(F32),
    }
    imps = {
        "log-normal": np.exp(rng.standard_normal(n)).astype(F32),
        "activation^2": (rng.standard_normal(n) * np.exp(rng.standard_normal(n))).astype(F32) ** 2,
    }
    print("importance-weighted relative RMSE, sqrt(sum w (x - x^)^2 / sum w x^2), over all rows:")
    print("  format  data          importance     ggml imatrix  libqnt    ratio   rows libqnt<=ggml")
    table = {}
    for name in FORMATS:
        for dname, x in data.items():
            for iname, w in imps.items():
                yq = qntlib.dequantize(name, qntlib.quantize(name, x, w), n)
                yg = GGML.dequantize(name, GGML.quantize(name, x, w), n)
                eq, eg = wsse(x, yq, w), wsse(x, yg, w)
                den = wsse(x, np.zeros_like(x), w).sum()
                rq, rg = np.sqrt(eq.sum() / den), np.sqrt(eg.sum() / den)
                ok = eq <= eg
                print(f"  {name:6s}  {dname:12s}  {iname:13s}  {rg:.6f}      {rq:.6f}  {rq / rg:.4f}  "
                      f"{int(ok.sum())}/{rows}")
                if not ok.all():
                    r = int(np.argmin(ok))
                    fail(f"{name} {dname}/{iname}: row {r} libqnt {eq[r]:.6g} > ggml {eg[r]:.6g}")
                table.setdefault(name, {})[(dname, iname)] = (rg, rq)
    return data, imps, table


def test_table(data, imps, table):
    x = data["gauss"]
    w = imps["log-normal"]
    n = x.shape[1]
    print("summary on N(0,1) rows (relative RMSE; 'imp': weighted by log-normal importance):")
    print("  format  bpw     ggml      libqnt    | ggml imp  libqnt imp")
    for name in ALL:
        bpw = 8.0 * GGML.row_size(name, QK_K) / QK_K
        yg = GGML.dequantize(name, GGML.quantize(name, x), n)
        yq = qntlib.dequantize(name, qntlib.quantize(name, x), n)
        rg = np.sqrt(np.mean((x.astype(F64) - yg) ** 2) / np.mean(x.astype(F64) ** 2))
        rq = np.sqrt(np.mean((x.astype(F64) - yq) ** 2) / np.mean(x.astype(F64) ** 2))
        line = f"  {name:6s}  {bpw:.4f}  {rg:.6f}  {rq:.6f}"
        if name in table:
            g, q = table[name][("gauss", "log-normal")]
            line += f"  | {g:.6f}  {q:.6f}"
        print(line)


def test_throughput(rng):
    x = rng.standard_normal((64, 4096)).astype(F32)
    w = np.exp(rng.standard_normal(4096)).astype(F32)
    mb = x.nbytes / 1e6

    def rate(f, runs):
        f()  # warm up
        ts = []
        for _ in range(runs):
            t0 = time.perf_counter()
            f()
            ts.append(time.perf_counter() - t0)
        return mb / float(np.median(ts))

    print("single-thread quantize throughput, MB/s of f32 input (median; 64 x 4096):")
    print("  format  libqnt   ggml     | with importance: libqnt  ggml")
    for name in ALL:
        a = rate(lambda: qntlib.quantize(name, x), 7)
        b = rate(lambda: GGML.quantize(name, x), 7)
        line = f"  {name:6s}  {a:7.1f}  {b:7.1f}"
        if name != "q8_K":
            c = rate(lambda: qntlib.quantize(name, x, w), 3)
            d = rate(lambda: GGML.quantize(name, x, w), 3)
            line += f"  |                  {c:6.2f}  {d:6.1f}"
        print(line)


def main():
    print(f"ggml: {GGML.path} (llama-cpp-python {ggmllib.llama_cpp_version()})")
    rng = np.random.default_rng(0x6b717561)
    test_bytes(rng)
    test_dequantize(rng)
    data, imps, table = test_importance(rng)
    test_table(data, imps, table)
    if os.environ.get("QNT_INTEROP_NO_TIMING") != "1":
        test_throughput(rng)
    if FAILURES:
        print(f"{len(FAILURES)} failure(s)")
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
