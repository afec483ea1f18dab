# SPDX-License-Identifier: MIT
"""libqnt against gguf-py (the PyPI `gguf` package) for the formats of the
foundation: f32, f16, bf16, q4_0, q4_1, q5_0, q5_1, q8_0 (and q8_1, which
gguf-py cannot handle, against a numpy statement of ggml's formula).

1. Quantize: libqnt's bytes equal gguf.quants.quantize()'s on Gaussian
   tensors of random shapes, Student-t data and hand-made edge blocks (zeros,
   constants, ties for the max magnitude, huge / tiny / subnormal values,
   inputs that land exactly on rounding boundaries, f16/bf16 halfway cases).
   Every block is also checked against an independent numpy statement of
   ggml's quantize_row_*_ref (ggml/src/ggml-quants.c), which classifies any
   difference from gguf-py. Only two kinds are tolerated, and both are
   counted and printed:
     - q4_0/q5_0 blocks where gguf-py's codes are those of the fused
       multiply-add form of `x*id + 8.5` (`+ 16.5`) and libqnt's those of the
       unfused form (see /work/shared/reference/ggml-rounding.md). gguf-py
       0.19 evaluates `(blocks * id) + np.float32(8.5)` as two float32 numpy
       operations, i.e. unfused, so none is expected; the "fma-sens" column
       counts the blocks of the data on which the two forms differ, showing
       the comparison would see it;
     - blocks whose fp16 scale (q4_0/q5_0) or min (q4_1/q5_1) is a zero whose
       sign gguf-py takes from numpy's argmax/min instead of from ggml's scan,
       with libqnt's field equal to ggml's.
   Every other difference fails.
2. Dequantize: libqnt's floats equal gguf.quants.dequantize()'s bit for bit
   (uint32 views; a NaN matches only the same NaN bits) on the bytes of 1. and
   on random bytes (every fp16 value as a scale, so subnormals, inf and NaN).

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

# gguf-py and the numpy statements below cast inf/NaN and overflow fp16 on
# purpose (degenerate blocks); numpy's warnings about that are noise.
warnings.filterwarnings("ignore", category=RuntimeWarning)
np.seterr(all="ignore")

F32, F64, U8, U16, U32 = np.float32, np.float64, np.uint8, np.uint16, np.uint32

FAILURES = []


def fail(msg):
    FAILURES.append(msg)
    print("FAIL: " + msg)


# ---------------------------------------------------------------------------
# Format facts
# ---------------------------------------------------------------------------

BLOCK_FORMATS = ["q4_0", "q4_1", "q5_0", "q5_1", "q8_0"]
FLOAT_FORMATS = ["f32", "f16", "bf16"]
# bytes of the fp16 fields at the start of each block
SCALE_FIELDS = {"q4_0": ["d"], "q5_0": ["d"], "q4_1": ["d", "m"], "q5_1": ["d", "m"], "q8_0": ["d"]}


def gguf_quantize(name, x):
    q = gq.quantize(x, GT[name.upper()])
    return np.ascontiguousarray(q).view(U8).reshape(x.shape[0], -1)


def gguf_dequantize(name, q, n_per_row):
    y = gq.dequantize(np.ascontiguousarray(q, dtype=U8), GT[name.upper()])
    return np.ascontiguousarray(y, dtype=F32).reshape(-1, n_per_row)


# ---------------------------------------------------------------------------
# Independent numpy statement of ggml's reference quantizers
# (quantize_row_{q4_0,q4_1,q5_0,q5_1,q8_0,q8_1}_ref in ggml/src/ggml-quants.c,
# read at ggml-org/llama.cpp 01243c587feceaa5d6a6c2305535ef2f549c48b8),
# written here from the C semantics, float32 throughout.
# ---------------------------------------------------------------------------

def c_to_int32(v):
    """C's float -> int conversion as x86-64 does it (CVTTSS2SI): truncate,
    INT32_MIN for NaN, inf and out of range. The (int8_t)/(uint8_t) casts of
    ggml then keep the low byte."""
    v = np.asarray(v, dtype=F32)
    ok = np.isfinite(v) & (v > F32(-2.0 ** 31)) & (v < F32(2.0 ** 31))
    return np.where(ok, np.trunc(np.where(ok, v, F32(0))), -2.0 ** 31).astype(np.int64)


def low_int8(i):
    return ((np.asarray(i, dtype=np.int64) & 0xFF) ^ 0x80) - 0x80


def c_roundf(v):
    """roundf: half away from zero, in float32 (exact steps only)."""
    v = np.asarray(v, dtype=F32)
    a = np.abs(v)
    t = np.trunc(a)
    r = t + np.where(a - t >= F32(0.5), F32(1), F32(0)).astype(F32)
    return np.where(v < 0, -r, r).astype(F32)


def fma_f32(a, b, c):
    """Correctly rounded float32 a*b + c (one rounding), a/b arrays, c scalar.
    The product of two float32 is exact in float64; the float64 sum is then
    corrected at the only place double rounding can bite: a float64 sum that
    sits exactly on a float32 midpoint, resolved by the sign of the TwoSum
    error."""
    p = a.astype(F64) * b.astype(F64)
    cc = F64(c)
    s = p + cc
    bp = s - p
    e = (p - (s - bp)) + (cc - bp)  # s + e == p + c exactly
    f = s.astype(F32)
    r = s - f.astype(F64)
    toward = np.where(r > 0, np.nextafter(f, F32(np.inf)), np.nextafter(f, F32(-np.inf)))
    half = (toward.astype(F64) - f.astype(F64)) / 2
    mid = np.isfinite(s) & (r != 0) & (r == half) & (e != 0) & (np.sign(e) == np.sign(r))
    return np.where(mid, toward, f).astype(F32)


def fp16_bytes(v):
    """GGML_FP32_TO_FP16 (round to nearest even) as two little-endian bytes."""
    return np.ascontiguousarray(np.asarray(v, dtype=F32).astype(np.float16)).view(U8).reshape(-1, 2)


def pack_nibbles(c, mask_low):
    lo, hi = c[:, :16], c[:, 16:]
    if mask_low:
        return ((lo & 0x0F) | ((hi & 0x0F) << 4)).astype(U8)
    return ((lo | (hi << 4)) & 0xFF).astype(U8)  # q4_0/q4_1: ggml ORs the whole byte


def pack_qh(c):
    bits = ((c >> 4) & 1).astype(np.uint64)
    h = (bits << np.arange(QK, dtype=np.uint64)).sum(axis=1).astype(U32)
    return np.ascontiguousarray(h).view(U8).reshape(-1, 4)


def ggml_first_extreme(x, kind):
    """ggml's scans keep the first element that compares strictly better:
    that fixes which of several equal values (notably +0.0 / -0.0) is kept."""
    n = np.arange(x.shape[0])
    if kind == "absmax":  # amax starts at 0: all-zero blocks keep max = +0.0
        ax = np.abs(x)
        v = x[n, ax.argmax(axis=1)]
        return np.where(ax.max(axis=1) > 0, v, F32(0.0)).astype(F32)
    if kind == "min":
        return x[n, (x == x.min(axis=1, keepdims=True)).argmax(axis=1)]
    return x[n, (x == x.max(axis=1, keepdims=True)).argmax(axis=1)]


def ggml_ref_blocks(name, x, fused=False):
    """ggml's bytes for blocks x (nb x 32 float32). fused=True evaluates
    `x*id + 8.5` / `+ 16.5` (q4_0/q5_0) with one rounding, as a compiler that
    contracts to FMA would."""
    x = np.ascontiguousarray(x, dtype=F32)
    if name in ("q4_0", "q5_0"):
        nmax, cmax = (8, 15) if name == "q4_0" else (16, 31)
        mx = ggml_first_extreme(x, "absmax")
        d = (mx / F32(-nmax)).astype(F32)
        idv = np.where(d != 0, F32(1) / np.where(d != 0, d, F32(1)), F32(0)).astype(F32)[:, None]
        off = F32(nmax + 0.5)
        v = fma_f32(x, np.broadcast_to(idv, x.shape), off) if fused else ((x * idv).astype(F32) + off).astype(F32)
        c = np.minimum(low_int8(c_to_int32(v)), cmax) & 0xFF
        if name == "q4_0":
            return np.concatenate([fp16_bytes(d), pack_nibbles(c, False)], axis=1)
        return np.concatenate([fp16_bytes(d), pack_qh(c), pack_nibbles(c, True)], axis=1)
    if name in ("q4_1", "q5_1"):
        cmax = 15 if name == "q4_1" else 31
        mn = ggml_first_extreme(x, "min")
        mxv = ggml_first_extreme(x, "max")
        d = ((mxv - mn) / F32(cmax)).astype(F32)
        idv = np.where(d != 0, F32(1) / np.where(d != 0, d, F32(1)), F32(0)).astype(F32)[:, None]
        v = (((x - mn[:, None]).astype(F32) * idv).astype(F32) + F32(0.5)).astype(F32)
        i = c_to_int32(v)
        if name == "q4_1":
            c = np.minimum(low_int8(i), 15) & 0xFF
            return np.concatenate([fp16_bytes(d), fp16_bytes(mn), pack_nibbles(c, False)], axis=1)
        c = i & 0xFF  # (uint8_t), no clamp
        return np.concatenate([fp16_bytes(d), fp16_bytes(mn), pack_qh(c), pack_nibbles(c, True)], axis=1)
    if name in ("q8_0", "q8_1"):
        amax = np.abs(x).max(axis=1)
        d = (amax / F32(127)).astype(F32)
        idv = np.where(d != 0, F32(1) / np.where(d != 0, d, F32(1)), F32(0)).astype(F32)[:, None]
        qs = low_int8(c_to_int32(c_roundf((x * idv).astype(F32))))
        qb = (qs & 0xFF).astype(U8)
        if name == "q8_0":
            return np.concatenate([fp16_bytes(d), qb], axis=1)
        s = (qs.sum(axis=1).astype(F32) * d).astype(F32)  # sum*d: int -> float, then float product
        return np.concatenate([fp16_bytes(d), fp16_bytes(s), qb], axis=1)
    raise KeyError(name)


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------

def gaussian_sets(rng):
    shapes = [(1, 32), (1, 16384), (4000, 32), (512, 4096)]
    for _ in range(10):
        shapes.append((int(rng.integers(2, 400)), 32 * int(rng.integers(1, 128))))
    out = []
    for r, n in shapes:
        sigma = 10.0 ** rng.uniform(-3, 2)
        out.append((f"gauss {r}x{n}", (rng.standard_normal((r, n)) * sigma).astype(F32)))
    return out


def heavy_sets(rng):
    out = []
    for df in (1, 2, 3):
        out.append((f"student-t df={df} 256x1024", rng.standard_t(df, size=(256, 1024)).astype(F32)))
    return out


def tie_blocks(rng, count):
    """Blocks whose codes sit on rounding boundaries of the 4/5/8-bit
    formats: the extreme element fixes the scale at k (q4_0: max = -8k, so
    d = k, id = 1/k) and the others are k*(j + 0.5), so x*id + 8.5 lands on
    an integer up to the rounding of x and id. k a power of two: exact ties;
    otherwise the float32 roundings fall on either side (and the fused and
    unfused forms of x*id + 8.5 can differ)."""
    blocks = []
    for fmt_max, lo, hi in ((8, -8, 8), (16, -16, 16), (127, -127, 127)):  # q4_0, q5_0, q8_0
        for i in range(count):
            if i % 4 == 0:
                k = F32(2.0 ** int(rng.integers(-20, 10)))
            else:
                k = F32(rng.uniform(0.5, 2.0) * 10.0 ** rng.uniform(-6, 3))
            t = rng.integers(lo, hi, size=QK) + 0.5
            b = (k * t.astype(F32)).astype(F32)
            sign = 1.0 if rng.random() < 0.5 else -1.0
            b[int(rng.integers(0, QK))] = F32(sign * fmt_max) * k
            blocks.append(b)
    for cmax in (15, 31):  # q4_1, q5_1: min m, max m + cmax*k, others m + k*(j + 0.5)
        for i in range(count):
            k = F32(2.0 ** int(rng.integers(-12, 6))) if i % 4 == 0 else F32(rng.uniform(0.5, 2.0) * 10.0 ** rng.uniform(-4, 2))
            m = F32(0) if i % 2 == 0 else F32(rng.standard_normal() * 10 * k)
            t = rng.integers(0, cmax, size=QK) + 0.5
            b = (m + (k * t.astype(F32)).astype(F32)).astype(F32)
            p = rng.permutation(QK)
            b[p[0]] = m
            b[p[1]] = (m + F32(cmax) * k).astype(F32)
            blocks.append(b)
    return np.array(blocks, dtype=F32)


def edge_blocks(rng):
    """Hand-made blocks of 32 (all formats get all of them)."""
    B = []
    z = np.zeros(QK, F32)
    B.append(z.copy())                       # +0.0
    B.append(-z)                             # -0.0
    b = z.copy(); b[0] = -0.0; B.append(b)   # mixed signed zeros
    b = z.copy(); b[1::2] = -0.0; B.append(b)
    b = z.copy(); b[::2] = -0.0; B.append(b)
    b = np.abs(rng.standard_normal(QK)).astype(F32); b[3] = -0.0; b[9] = 0.0; B.append(b)  # min is a zero
    b = np.abs(rng.standard_normal(QK)).astype(F32); b[3] = 0.0; b[9] = -0.0; B.append(b)
    b = -np.abs(rng.standard_normal(QK)).astype(F32); b[5] = -0.0; b[6] = 0.0; B.append(b)  # max is a zero
    for c in (1.0, -1.0, 0.3, -0.3, 1e-3, -7.25, 65504.0, -65504.0, 1e5, -1e5, 1e-20, -1e-20, 1e-40, -1e-40):
        B.append(np.full(QK, c, F32))        # constant blocks
    for _ in range(6):                       # max magnitude negative
        b = rng.standard_normal(QK).astype(F32)
        b[int(rng.integers(0, QK))] = -F32(4 + abs(rng.standard_normal()))
        B.append(b)
    for order in ((2, 9), (9, 2)):           # ties for the max magnitude, both signs, both orders
        b = rng.standard_normal(QK).astype(F32) * F32(0.5)
        b[order[0]] = 3.0
        b[order[1]] = -3.0
        B.append(b)
    b = np.where(rng.random(QK) < 0.5, 1.5, -1.5).astype(F32); B.append(b)  # all tied
    b = np.where(np.arange(QK) % 2 == 0, -2.0, 2.0).astype(F32); B.append(b)
    for lo, hi in ((1e4, 6e4), (6e4, 6.6e4), (1e5, 1e6), (1e6, 1e8), (1e20, 1e30), (1e37, 3.4e38)):
        for _ in range(3):                   # huge magnitudes, scales up to fp16 overflow
            b = (rng.uniform(lo, hi, QK) * np.where(rng.random(QK) < 0.5, -1, 1)).astype(F32)
            B.append(b)
            B.append(np.abs(b))
    for scale in (1e-20, 1e-30, 1e-38, 1e-39, 1e-41, 1e-44):  # tiny and float32-subnormal
        for _ in range(3):
            B.append((rng.standard_normal(QK) * scale).astype(F32))
    b = (rng.integers(-50, 50, QK) * F32(2.0 ** -149)).astype(F32); B.append(b)  # multiples of the smallest subnormal
    b = (rng.integers(-9, 9, QK) * F32(2.0 ** -149)).astype(F32); B.append(b)
    b = np.full(QK, F32(2.0 ** -126)); b[::3] = F32(2.0 ** -127); B.append(b)
    b = rng.standard_normal(QK).astype(F32) * F32(1e-39); b[0] = F32(3e-38); B.append(b)
    return np.array(B, dtype=F32)


def f16_special_values(rng):
    """float32 inputs for f16: every finite fp16 value, halfway cases of
    round-to-nearest-even (normal, subnormal, overflow to inf, underflow to
    zero) and their float32 neighbours, inf, quiet NaNs, random bits."""
    h = np.arange(0, 0x10000, dtype=U32).astype(U16)
    hv = h.view(np.float16).astype(F32)
    finite = hv[np.isfinite(hv)]
    h_lo = np.arange(0, 0x7BFF, dtype=U32).astype(U16)         # positive finite, not the largest
    a = h_lo.view(np.float16).astype(F64)
    b = (h_lo + 1).astype(U16).view(np.float16).astype(F64)
    mid = ((a + b) / 2).astype(F32)                            # exact in float32
    assert np.all(mid.astype(F64) == (a + b) / 2)
    mids = np.concatenate([mid, np.nextafter(mid, F32(np.inf)), np.nextafter(mid, F32(-np.inf))])
    edges = np.array([65504, 65519.996, 65520, 65520.004, 65536, 1e5, 3.4e38, np.inf,
                      2.0 ** -24, 2.0 ** -25, np.nextafter(F32(2.0 ** -25), F32(1)), np.nextafter(F32(2.0 ** -25), F32(0)),
                      2.0 ** -26, 3 * 2.0 ** -26, 2.0 ** -14, 2.0 ** -14 - 2.0 ** -25, 1e-40, 2.0 ** -149, 0.0], dtype=F32)
    qnan = np.array([0x7FC00000, 0x7FC02000, 0x7FFFFFFF, 0x7FE00001, 0x7FD55555], dtype=U32).view(F32)
    rnd = rng.integers(0, 2 ** 32, size=200000, dtype=np.uint64).astype(U32)
    rnd = rnd[(rnd & 0x7F800000) != 0x7F800000].view(F32)        # random finite float32 bits
    v = np.concatenate([finite, mids, edges, qnan, rnd])
    v = np.concatenate([v, -v])
    pad = (-v.size) % 256
    return np.concatenate([v, np.zeros(pad, F32)]).reshape(-1, 256)


def bf16_special_values(rng):
    """float32 bit patterns for bf16: every kind of low half around the
    rounding point (0x7fff, 0x8000, 0x8001 with both parities), overflow to
    inf, subnormals, every NaN class, random bits (NaNs included)."""
    hi = rng.integers(0, 0x10000, size=20000, dtype=np.uint64).astype(U32) << 16
    lows = np.array([0x0000, 0x0001, 0x7FFF, 0x8000, 0x8001, 0xFFFF], dtype=U32)
    v = (hi[:, None] | lows[None, :]).ravel()
    special = np.array([0x7F7F8000, 0x7F7F7FFF, 0x7F7FFFFF, 0x7F800000, 0x7F800001, 0x7FBFFFFF, 0x7FC00000,
                        0x7FFFFFFF, 0x00008000, 0x00018000, 0x00007FFF, 0x007FFFFF, 0x00800000, 0x0000FFFF],
                       dtype=U32)
    rnd = rng.integers(0, 2 ** 32, size=100000, dtype=np.uint64).astype(U32)
    v = np.concatenate([v, special, special | 0x80000000, rnd])
    pad = (-v.size) % 256
    return np.concatenate([v, np.zeros(pad, U32)]).view(F32).reshape(-1, 256)


# ---------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------

class Stats:
    def __init__(self):
        self.q = {}   # name -> dict of counters

    def add(self, name, **kw):
        d = self.q.setdefault(name, {})
        for k, v in kw.items():
            d[k] = d.get(k, 0) + v


ST = Stats()
EXAMPLES_SHOWN = {}


def show(key, msg, limit=3):
    n = EXAMPLES_SHOWN.get(key, 0)
    if n < limit:
        print("  " + msg)
    EXAMPLES_SHOWN[key] = n + 1


def zero_field_only(name, a, b):
    """a, b: differing blocks. True if they differ only inside fp16 fields
    whose two values are +0.0 / -0.0."""
    nf = 2 * len(SCALE_FIELDS[name])
    if not np.array_equal(a[nf:], b[nf:]):
        return False
    fa = a[:nf].view(U16)
    fb = b[:nf].view(U16)
    for x, y in zip(fa, fb):
        if x != y and not ({int(x), int(y)} <= {0x0000, 0x8000}):
            return False
    return True


def check_quant_blocks(name, label, x):
    """x: rows x n float32. Compares libqnt's, gguf-py's and ggml's (numpy
    statement) bytes block by block. Returns libqnt's bytes."""
    ours = qntlib.quantize(name, x)
    ref = gguf_quantize(name, x)
    bb = qntlib.block_bytes(name)
    if ours.shape != ref.shape:
        fail(f"{name} {label}: libqnt row bytes {ours.shape} vs gguf-py {ref.shape}")
        return ours
    ob = ours.reshape(-1, bb)
    rb = ref.reshape(-1, bb)
    xb = x.reshape(-1, QK)
    stmt = ggml_ref_blocks(name, xb)
    nb = ob.shape[0]
    ST.add(name, q_blocks=nb)
    # blocks whose fp16 scale/min overflowed to inf (huge inputs): still compared
    fields = ob[:, :2 * len(SCALE_FIELDS[name])].copy().view(U16)
    ST.add(name, inf_field=int(((fields & 0x7FFF) == 0x7C00).any(axis=1).sum()))

    stmt_bad = np.nonzero((ob != stmt).any(axis=1))[0]
    if stmt_bad.size:
        ST.add(name, q_stmt_mismatch=int(stmt_bad.size))
        fail(f"{name} {label}: libqnt differs from the numpy statement of ggml's reference on "
             f"{stmt_bad.size} of {nb} blocks")
        for i in stmt_bad[:3]:
            print(f"  block {i}: x={xb[i].tolist()}\n    libqnt={ob[i].tolist()}\n    ggml  ={stmt[i].tolist()}")

    if name in ("q4_0", "q5_0"):
        fused = ggml_ref_blocks(name, xb, fused=True)
        would = (fused != stmt).any(axis=1)
        ST.add(name, fma_sensitive=int(would.sum()))

    bad = np.nonzero((ob != rb).any(axis=1))[0]
    for i in bad:
        if name in ("q4_0", "q5_0") and np.array_equal(rb[i], fused[i]) and np.array_equal(ob[i], stmt[i]) \
                and not np.array_equal(fused[i], stmt[i]):
            ST.add(name, fused_unfused=1)
            show(name + "fma", f"{name} {label} block {i}: gguf-py = fused form, libqnt = unfused form")
            continue
        if name in ("q4_0", "q4_1", "q5_0", "q5_1") and np.array_equal(ob[i], stmt[i]) and zero_field_only(name, ob[i], rb[i]):
            ST.add(name, signed_zero=1)
            show(name + "sz", f"{name} {label} block {i}: gguf-py's fp16 field(s) {rb[i][:2 * len(SCALE_FIELDS[name])].view(U16)} "
                              f"vs ggml/libqnt {ob[i][:2 * len(SCALE_FIELDS[name])].view(U16)} (signed zero), x[:4]={xb[i][:4]}")
            continue
        ST.add(name, q_mismatch=1)
        if EXAMPLES_SHOWN.get(name + "bad", 0) == 0:
            fail(f"{name} {label}: libqnt's bytes differ from gguf-py's")
        show(name + "bad", f"block {i}: x={xb[i].tolist()}\n    libqnt={ob[i].tolist()}\n    gguf  ={rb[i].tolist()}\n"
                           f"    ggml  ={stmt[i].tolist()}", limit=5)
    return ours


def check_quant_float(name, label, x):
    ours = qntlib.quantize(name, x)
    ref = gguf_quantize(name, x)
    ST.add(name, q_values=x.size)
    if ours.shape != ref.shape:
        fail(f"{name} {label}: libqnt row bytes {ours.shape} vs gguf-py {ref.shape}")
        return ours
    w = 4 if name == "f32" else 2
    ov = ours.reshape(-1, w)
    rv = ref.reshape(-1, w)
    bad = np.nonzero((ov != rv).any(axis=1))[0]
    if bad.size:
        ST.add(name, q_mismatch=int(bad.size))
        fail(f"{name} {label}: {bad.size} of {x.size} values differ from gguf-py")
        xf = x.ravel()
        for i in bad[:5]:
            print(f"  x=0x{xf[i:i + 1].view(U32)[0]:08x} ({xf[i]!r}): libqnt={ov[i].tolist()} gguf={rv[i].tolist()}")
    return ours


def bits_equal(name, label, ours, ref, what):
    """Bitwise float compare; returns mismatch count."""
    ou = np.ascontiguousarray(ours, dtype=F32).view(U32).ravel()
    ru = np.ascontiguousarray(ref, dtype=F32).view(U32).ravel()
    if ou.shape != ru.shape:
        fail(f"{name} {label}: {what} shapes differ: {ou.shape} vs {ru.shape}")
        return 1
    bad = np.nonzero(ou != ru)[0]
    ST.add(name, dq_values=ou.size, dq_nan=int(np.isnan(ru.view(F32)).sum()), dq_mismatch=int(bad.size))
    if bad.size:
        fail(f"{name} {label}: {bad.size} of {ou.size} dequantized values differ from {what}")
        for i in bad[:5]:
            print(f"  value {i}: libqnt=0x{ou[i]:08x} ({ou[i:i + 1].view(F32)[0]!r}) "
                  f"{what}=0x{ru[i]:08x} ({ru[i:i + 1].view(F32)[0]!r})")
    return bad.size


def check_dequant(name, label, q, n_per_row):
    ours = qntlib.dequantize(name, q, n_per_row)
    ref = gguf_dequantize(name, q, n_per_row)
    bits_equal(name, label, ours, ref, "gguf-py")


def random_block_bytes(rng, name, nblocks):
    """Random blocks; the first 65536 walk every fp16 value through the
    scale field (and, permuted, the min field)."""
    bb = qntlib.block_bytes(name)
    q = np.frombuffer(rng.bytes(nblocks * bb), dtype=U8).reshape(nblocks, bb).copy()
    allh = np.arange(0x10000, dtype=U32).astype(U16)
    q[:0x10000, 0:2] = allh.view(U8).reshape(-1, 2)
    if len(SCALE_FIELDS.get(name, [])) == 2 or name == "q8_1":
        q[:0x10000, 2:4] = rng.permutation(allh).view(U8).reshape(-1, 2)
    return q


# ---------------------------------------------------------------------------
# q8_1: not in gguf-py
# ---------------------------------------------------------------------------
# block_q8_1 is { ggml_half d; ggml_half s; int8_t qs[32]; }:
# static_assert(sizeof(block_q8_1) == 2*sizeof(ggml_half) + QK8_1) = 36 bytes,
# in ggml/src/ggml-common.h of ggml-org/llama.cpp (commit
# 01243c587feceaa5d6a6c2305535ef2f549c48b8). gguf-py 0.19's
# GGML_QUANT_SIZES[Q8_1] = (32, 4 + 4 + 32) = 40 bytes is stale (the layout
# before d and s became fp16), and gguf-py has no Q8_1 quantizer or
# dequantizer. ggml itself has no q8_1 to_float either (ggml.c's type_traits
# give Q8_1 only from_float_ref), so libqnt's q8_1 dequantize is checked
# against the formula every ggml q8 format uses: y = qs * d.

def check_q8_1(datasets, rng):
    name = "q8_1"
    bb = qntlib.block_bytes(name)
    gsz = gguf.GGML_QUANT_SIZES[GT.Q8_1]
    print(f"q8_1: libqnt block = {bb} bytes (ggml-common.h: 2*fp16 + 32 int8 = 36); "
          f"gguf-py 0.19 GGML_QUANT_SIZES says {gsz[1]} (stale)")
    if bb != 36 or qntlib.row_size(name, 64) != 72:
        fail(f"q8_1 block is {bb} bytes, ggml's is 36")
        return
    for label, x in datasets:
        xb = x.reshape(-1, QK)
        ours = qntlib.quantize(name, x).reshape(-1, bb)
        stmt = ggml_ref_blocks(name, xb)
        q80 = qntlib.quantize("q8_0", x).reshape(-1, 34)
        nb = ours.shape[0]
        ST.add(name, q_blocks=nb)
        bad = np.nonzero((ours != stmt).any(axis=1))[0]
        if bad.size:
            ST.add(name, q_mismatch=int(bad.size))
            fail(f"q8_1 {label}: {bad.size} of {nb} blocks differ from ggml's quantize_row_q8_1_ref formula")
            for i in bad[:3]:
                print(f"  block {i}: x={xb[i].tolist()}\n    libqnt={ours[i].tolist()}\n    ggml  ={stmt[i].tolist()}")
        same = (ours[:, 0:2] == q80[:, 0:2]).all(axis=1) & (ours[:, 4:] == q80[:, 2:]).all(axis=1)
        if not same.all():
            ST.add(name, q80_mismatch=int((~same).sum()))
            fail(f"q8_1 {label}: d/qs differ from q8_0's on {(~same).sum()} blocks")
        # dequantize: qs * d
        y = qntlib.dequantize(name, ours.reshape(x.shape[0], -1), x.shape[1])
        d = ours[:, 0:2].copy().view(np.float16).astype(F32)
        exp = (ours[:, 4:].view(np.int8).astype(F32) * d).astype(F32)
        bits_equal(name, label, y, exp, "qs*d")
    q = random_block_bytes(rng, name, 0x10000 + 4096)
    y = qntlib.dequantize(name, q.reshape(-1, bb), QK)
    d = q[:, 0:2].copy().view(np.float16).astype(F32)
    exp = (q[:, 4:].view(np.int8).astype(F32) * d).astype(F32)
    bits_equal(name, "random bytes", y, exp, "qs*d")
    # the s field is ignored by dequantize: q8_0 blocks with the same d, qs
    q80 = np.concatenate([q[:, 0:2], q[:, 4:]], axis=1)
    bits_equal(name, "random bytes vs q8_0", y, qntlib.dequantize("q8_0", q80, QK), "q8_0")


# ---------------------------------------------------------------------------

def main():
    rng = np.random.default_rng(20240611)
    import importlib.metadata as md
    print(f"gguf-py {md.version('gguf')} ({gq.__file__}), numpy {np.__version__}")

    gauss = gaussian_sets(rng)
    heavy = heavy_sets(rng)
    ties = tie_blocks(rng, 4096)
    edges = edge_blocks(rng)
    block_sets = gauss + heavy + [
        ("ties 32", ties),
        ("ties 1 row", ties.reshape(1, -1)),
        ("edges 32", edges),
        ("edges 1 row", edges.reshape(1, -1)),
        ("constant rows", np.repeat(np.array([[1.0], [-1.0], [3e-5], [-3e-5], [5e4], [-5e4]], F32), 96, axis=1)),
        ("zero rows", np.zeros((3, 128), F32)),
    ]

    for name in BLOCK_FORMATS:
        for label, x in block_sets:
            q = check_quant_blocks(name, label, x)
            check_dequant(name, label, q, x.shape[1])
        q = random_block_bytes(rng, name, 0x10000 + 8192)
        check_dequant(name, "random bytes", q.reshape(-1, 8 * q.shape[1]), 8 * QK)

    f16_vals = f16_special_values(rng)
    bf16_vals = bf16_special_values(rng)
    float_sets = {"f32": block_sets + [("random bits", bf16_vals)],
                  "f16": block_sets + [("f16 specials", f16_vals)],
                  "bf16": block_sets + [("bf16 specials", bf16_vals)]}
    for name in FLOAT_FORMATS:
        for label, x in float_sets[name]:
            q = check_quant_float(name, label, x)
            check_dequant(name, label, q, x.shape[1])
        w = 4 if name == "f32" else 2
        q = np.frombuffer(rng.bytes(w * 512 * 1024), dtype=U8).reshape(1024, -1).copy()
        if name != "f32":
            q[:128] = np.arange(0x10000, dtype=U32).astype(U16).view(U8).reshape(128, -1)  # every 16-bit pattern
        check_dequant(name, "random bytes", q, 512)

    check_q8_1(block_sets, rng)

    # informational: f16 of signalling NaNs (not compared above; see report)
    snan = np.array([0x7F800001, 0x7FA00000, 0xFF812345, 0x7FBFFFFF], dtype=U32).view(F32).reshape(1, -1)
    print("info: f16 of float32 signalling NaNs "
          f"{[hex(v) for v in snan.view(U32).ravel()]}: libqnt "
          f"{[hex(v) for v in qntlib.quantize('f16', snan).view(U16).ravel()]}, gguf-py (numpy) "
          f"{[hex(v) for v in gguf_quantize('f16', snan).view(U16).ravel()]}")

    print()
    print(f"{'format':6} {'blocks/values':>13} {'stmt!=':>6} {'gguf!=':>6} {'fma-sens':>8} {'fused':>5} {'+-0':>4} "
          f"{'inf-scale':>9} {'deq values':>11} {'deq NaN':>8} {'deq!=':>6}")
    for name in FLOAT_FORMATS + BLOCK_FORMATS + ["q8_1"]:
        d = ST.q.get(name, {})
        n = d.get("q_blocks", d.get("q_values", 0))
        print(f"{name:6} {n:13d} {d.get('q_stmt_mismatch', 0):6d} {d.get('q_mismatch', 0):6d} "
              f"{d.get('fma_sensitive', 0):8d} {d.get('fused_unfused', 0):5d} {d.get('signed_zero', 0):4d} "
              f"{d.get('inf_field', 0):9d} "
              f"{d.get('dq_values', 0):11d} {d.get('dq_nan', 0):8d} {d.get('dq_mismatch', 0):6d}")
    print("(blocks for q*, values for f*; stmt!=: libqnt vs numpy statement of ggml's *_ref; gguf!=: unexplained "
          "differences from gguf-py; fma-sens: blocks whose codes differ between the fused and unfused form of "
          "x*id+off; fused: differences explained by it; +-0: gguf-py's signed-zero scale/min; inf-scale: blocks "
          "whose fp16 scale or min overflowed to inf; q8_1 is compared "
          "with the ggml formula, not gguf-py)")
    if FAILURES:
        print(f"\n{len(FAILURES)} failure(s)")
        return 1
    print("\nOK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
