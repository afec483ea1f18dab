# SPDX-License-Identifier: MIT
"""libqnt's low-bit formats (tq1_0, tq2_0, mxfp4, nvfp4, q1_0, q2_0) against
ggml itself: libggml-base from the PyPI package llama-cpp-python, loaded
with ctypes into the same process as libqnt.

1. Without importance, libqnt's bytes equal ggml_quantize_chunk()'s on
   random shapes of Gaussian, Student-t, Laplace, uniform, sparse, positive
   and ternary data at scales from 1e-8 to 1e8, and on edge blocks (zeros,
   constants, tiny, subnormal, huge, FLT_MAX, fp16 and UE4M3 boundaries,
   values next to powers of two, inf and NaN elements). ggml ignores the
   importance matrix for these formats: its bytes with one are checked to be
   its bytes without.
2. libqnt's dequantize equals ggml's to_float bit for bit, on whole random
   blocks (every byte random: NaN and inf scales, unused codes) and on
   quantized data with and without importance.
3. With an importance matrix, libqnt's importance-weighted squared error
   sum_j w_j (x_j - x^_j)^2 is <= that of ggml's imatrix path for every row,
   on Gaussian, heavy-tailed and ternary data with three kinds of
   importance; importance that is zero everywhere gives ggml's bytes.
4. The bytes are the same for 1, 2, 3 and 8 threads, with and without
   importance.
5. Prints a table (bits per weight, relative RMSE of ggml and libqnt without
   and with importance) and single-thread quantize throughput of both, in
   MB/s of f32 input (medians of several runs, same process, same data).

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

# the GGUF type ids of the formats under test (ggml.h, current master and
# the ggml of llama-cpp-python 0.3.36 agree)
LOWBIT = {"tq1_0": 34, "tq2_0": 35, "mxfp4": 39, "nvfp4": 40, "q1_0": 41, "q2_0": 42}
for _k, _v in LOWBIT.items():
    ggmllib.GGML_TYPE.setdefault(_k, _v)

GGML = ggmllib.Ggml()  # exits 77 when llama_cpp is missing

import qntlib  # noqa: E402

warnings.filterwarnings("ignore", category=RuntimeWarning)
np.seterr(all="ignore")

F32, F64, U8, U32 = np.float32, np.float64, np.uint8, np.uint32
FORMATS = list(LOWBIT)
BLOCK = {"tq1_0": 256, "tq2_0": 256, "mxfp4": 32, "nvfp4": 64, "q1_0": 128, "q2_0": 64}
BYTES = {"tq1_0": 54, "tq2_0": 66, "mxfp4": 17, "nvfp4": 36, "q1_0": 18, "q2_0": 18}

FAILURES = []
STATS = {}


def fail(msg):
    FAILURES.append(msg)
    print("FAIL: " + msg)


def stat(name, key, v=1):
    STATS.setdefault(name, {}).setdefault(key, 0)
    STATS[name][key] += v


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
    elif kind == "ternary":
        x = rng.integers(-1, 2, (rows, n)) * rng.uniform(0.5, 2, (rows, 1))
    else:
        raise ValueError(kind)
    return (x * 10.0 ** rng.uniform(-8, 8)).astype(F32)


KINDS = ["gauss", "student-t(2)", "laplace+offset", "uniform", "sparse", "positive", "ternary"]


def edge_blocks(rng, n):
    sign = np.sign(rng.standard_normal(n))
    yield "zeros", np.zeros(n)
    yield "negative zeros", -np.zeros(n)
    yield "constant +", np.full(n, 0.75)
    yield "constant -", np.full(n, -3.5)
    yield "tiny", rng.standard_normal(n) * 1e-30
    yield "subnormal", rng.standard_normal(n) * 1e-41
    yield "min subnormal", sign * 1.4e-45
    yield "huge", rng.standard_normal(n) * 1e30
    yield "FLT_MAX", sign * 3.4028235e38
    yield "fp16 boundaries", rng.choice([65504.0, 65520.0, -65519.0, 6.1035156e-05, 5.96e-08, -2.98e-08], n)
    yield "ue4m3 boundaries", rng.choice([2688.0, 2689.0, 6 * 448.0, 6 * 464.0, 6 * 2.0 ** -9, 6 * 2.0 ** -10,
                                          1e-4, -1e5, 1e12], n)
    # just below and at powers of two: floor(log2f(amax)) rounds up there
    k = rng.integers(-20, 20, n).astype(F64)
    yield "below powers of two", sign * np.nextafter((2.0 ** k).astype(F32), F32(0))
    yield "powers of two", sign * 2.0 ** k
    yield "one hot", np.eye(1, n, n // 3)[0] * -2.0
    yield "zero halves", np.concatenate([np.zeros(n // 2), rng.standard_normal(n - n // 2)])
    yield "outlier", np.concatenate([rng.standard_normal(n - 1) * 1e-3, [50.0]])
    yield "ramp", np.linspace(-1, 1, n)
    yield "integers", rng.integers(-8, 8, n).astype(F64)
    yield "halves", (rng.integers(-12, 13, n) / 2.0)
    yield "inf", np.where(rng.random(n) < 0.05, np.inf, rng.standard_normal(n))
    yield "-inf", np.where(rng.random(n) < 0.05, -np.inf, rng.standard_normal(n))
    yield "nan", np.where(rng.random(n) < 0.05, np.nan, rng.standard_normal(n))
    yield "nan last", np.concatenate([rng.standard_normal(n - 1), [np.nan]])
    yield "all nan", np.full(n, np.nan)
    yield "inf and nan", rng.choice([np.inf, -np.inf, np.nan, 1.0], n)


def compare_bytes(name, x, what):
    a = qntlib.quantize(name, x)
    b = GGML.quantize(name, x)
    bb = BYTES[name]
    eq = (a.reshape(-1, bb) == b.reshape(-1, bb)).all(axis=1)
    stat(name, "blocks", eq.size)
    stat(name, "block_mismatch", int(np.sum(~eq)))
    if not eq.all():
        fail(f"{name} {what}: {int(np.sum(~eq))}/{eq.size} blocks differ from ggml (first {int(np.argmin(eq))})")
    return a, b


def test_bytes(rng):
    print("bytes without importance (libqnt vs ggml_quantize_chunk):")
    for name in FORMATS:
        bs = BLOCK[name]
        assert qntlib.row_size(name, bs) == GGML.row_size(name, bs) == BYTES[name], name
        for t in range(42):
            rows = int(rng.integers(1, 9))
            n = bs * int(rng.integers(1, 17))
            kind = KINDS[t % len(KINDS)]
            x = random_data(rng, kind, rows, n)
            _, b = compare_bytes(name, x, kind)
            if t % 7 == 0:
                # ggml ignores the importance matrix for these formats
                w = np.exp(rng.standard_normal(n)).astype(F32)
                if not np.array_equal(GGML.quantize(name, x, w), b):
                    fail(f"{name}: ggml's bytes with an imatrix differ from its bytes without")
        edges = list(edge_blocks(rng, bs))
        compare_bytes(name, np.stack([v.astype(F32) for _, v in edges]).reshape(1, -1), "edge blocks (one row)")
        for ename, v in edges:
            compare_bytes(name, v.astype(F32)[None, :], ename)
        s = STATS[name]
        print(f"  {name}: {s['blocks']} blocks ({s['blocks'] * BYTES[name]} bytes) compared, "
              f"{s['block_mismatch']} mismatches")


# ---------------------------------------------------------------------------
# 2. Dequantize
# ---------------------------------------------------------------------------

def test_dequantize(rng):
    print("dequantize (libqnt vs ggml to_float, bit for bit):")
    for name in FORMATS:
        bs, bb = BLOCK[name], BYTES[name]
        n = 16 * bs
        sets = [rng.integers(0, 256, size=(8, 16 * bb), dtype=U8) for _ in range(6)]
        for kind in ("gauss", "student-t(2)", "ternary"):
            x = random_data(rng, kind, 8, n)
            sets.append(qntlib.quantize(name, x))
            sets.append(qntlib.quantize(name, x, np.exp(rng.standard_normal(n)).astype(F32)))
        total = bad = 0
        for q in sets:
            a = qntlib.dequantize(name, q, n)
            b = GGML.dequantize(name, q, n)
            eq = same_bits(a, b)
            total += eq.size
            bad += int(np.sum(~eq))
        stat(name, "floats", total)
        stat(name, "float_mismatch", bad)
        if bad:
            fail(f"{name}: dequantize differs from ggml in {bad}/{total} floats")
        print(f"  {name}: {total} floats compared, {bad} mismatches")


# ---------------------------------------------------------------------------
# 3. Importance: libqnt <= ggml's imatrix path, per row; the table
# ---------------------------------------------------------------------------

def test_importance(rng):
    rows, n = 32, 4096
    data = {
        "gauss": rng.standard_normal((rows, n)).astype(F32),
        "student-t(3)": rng.standard_t(3, (rows, n)).astype(F32),
        "ternary+noise": (rng.integers(-1, 2, (rows, n)) + 0.05 * rng.standard_normal((rows, n))).astype(F32),
    }
    w_zeros = np.exp(2 * rng.standard_normal(n))
    w_zeros[rng.random(n) < 0.3] = 0
    imps = {
        "log-normal": np.exp(rng.standard_normal(n)).astype(F32),
        "activation^2": (rng.standard_normal(n) * np.exp(rng.standard_normal(n))).astype(F32) ** 2,
        "with zeros": w_zeros.astype(F32),
    }
    print("importance-weighted relative RMSE, sqrt(sum w (x - x^)^2 / sum w x^2), over all rows:")
    print("  format  data           importance     ggml imatrix  libqnt    ratio   rows libqnt<=ggml")
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
                stat(name, "imp_rows", rows)
                stat(name, "imp_worse", int((~ok).sum()))
                print(f"  {name:6s}  {dname:13s}  {iname:13s}  {rg:.6f}      {rq:.6f}  {rq / rg:.4f}  "
                      f"{int(ok.sum())}/{rows}")
                if not ok.all():
                    r = int(np.argmin(ok))
                    fail(f"{name} {dname}/{iname}: row {r} libqnt {eq[r]:.6g} > ggml {eg[r]:.6g}")
                table.setdefault(name, {})[(dname, iname)] = (rg, rq)
        x = data["gauss"][:4]
        if not np.array_equal(qntlib.quantize(name, x, np.zeros(n, F32)), GGML.quantize(name, x)):
            fail(f"{name}: all-zero importance did not give ggml's bytes")
        # edge blocks with importance: never worse than ggml, finite
        bs = BLOCK[name]
        for ename, v in edge_blocks(rng, bs):
            v = v.astype(F32)[None, :]
            w = np.exp(rng.standard_normal(bs)).astype(F32)
            yq = qntlib.dequantize(name, qntlib.quantize(name, v, w), bs)
            yg = GGML.dequantize(name, GGML.quantize(name, v, w), bs)
            eq, eg = wsse(v, yq, w), wsse(v, yg, w)
            if np.isfinite(eg).all() and not (eq <= eg).all():
                fail(f"{name} edge '{ename}': importance error {eq[0]:.6g} > ggml {eg[0]:.6g}")
    return data, imps, table


def test_table(data, imps, table):
    x = data["gauss"]
    w = imps["log-normal"]
    n = x.shape[1]
    print("summary on N(0,1) rows (relative RMSE; 'imp': weighted by log-normal importance):")
    print("  format  bpw     ggml      libqnt    | ggml imp  libqnt imp")
    for name in FORMATS:
        bpw = 8.0 * BYTES[name] / BLOCK[name]
        yg = GGML.dequantize(name, GGML.quantize(name, x), n)
        yq = qntlib.dequantize(name, qntlib.quantize(name, x), n)
        rg = np.sqrt(np.mean((x.astype(F64) - yg) ** 2) / np.mean(x.astype(F64) ** 2))
        rq = np.sqrt(np.mean((x.astype(F64) - yq) ** 2) / np.mean(x.astype(F64) ** 2))
        g, q = table[name][("gauss", "log-normal")]
        print(f"  {name:6s}  {bpw:.4f}  {rg:.6f}  {rq:.6f}  | {g:.6f}  {q:.6f}")


# ---------------------------------------------------------------------------
# 4. Thread counts
# ---------------------------------------------------------------------------

def test_threads(rng):
    x = rng.standard_normal((37, 4096)).astype(F32)
    w = np.exp(rng.standard_normal(4096)).astype(F32)
    for name in FORMATS:
        base = [qntlib.quantize(name, x), qntlib.quantize(name, x, w)]
        for nt in (2, 3, 8):
            with qntlib.Context(n_threads=nt) as ctx:
                got = [qntlib.quantize(name, x, ctx=ctx), qntlib.quantize(name, x, w, ctx=ctx)]
            for k in range(2):
                if not np.array_equal(got[k], base[k]):
                    fail(f"{name}: {nt} threads give other bytes than 1 ({'with' if k else 'without'} importance)")
        stat(name, "thread_runs", 6)
    print("threads: 1, 2, 3, 8 threads give the same bytes, with and without importance")


# ---------------------------------------------------------------------------
# 5. Throughput
# ---------------------------------------------------------------------------

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
    print("  format  libqnt   ggml     | with importance: libqnt  ggml (ignores it)")
    for name in FORMATS:
        a = rate(lambda: qntlib.quantize(name, x), 7)
        b = rate(lambda: GGML.quantize(name, x), 7)
        c = rate(lambda: qntlib.quantize(name, x, w), 3)
        d = rate(lambda: GGML.quantize(name, x, w), 3)
        print(f"  {name:6s}  {a:7.1f}  {b:7.1f}  |                  {c:6.1f}  {d:6.1f}")
        q = qntlib.quantize(name, x)
        e = rate(lambda: qntlib.dequantize(name, q, 4096), 7)
        f = rate(lambda: GGML.dequantize(name, q, 4096), 7)
        print(f"          dequantize: libqnt {e:7.1f}  ggml {f:7.1f}")


def main():
    print(f"ggml: {GGML.path} (llama-cpp-python {ggmllib.llama_cpp_version()})")
    rng = np.random.default_rng(0x6c6f7762)
    test_bytes(rng)
    test_dequantize(rng)
    data, imps, table = test_importance(rng)
    test_table(data, imps, table)
    test_threads(rng)
    if os.environ.get("QNT_INTEROP_NO_TIMING") != "1":
        test_throughput(rng)
    print("totals:")
    for name in FORMATS:
        s = STATS[name]
        print(f"  {name}: bytes {s['blocks'] * BYTES[name]} compared / {s['block_mismatch']} blocks differ; "
              f"floats {s['floats']} / {s['float_mismatch']}; importance rows {s['imp_rows']} / "
              f"{s['imp_worse']} worse than ggml")
    if FAILURES:
        print(f"{len(FAILURES)} failure(s)")
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
