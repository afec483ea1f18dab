# SPDX-License-Identifier: MIT
"""libqnt's MLX formats against MLX itself (mlx[cpu], the version pinned in
tests/requirements-ref.txt), bit for bit.

For every mode (affine with bits 1-6 and 8 and groups 32/64/128; mxfp4,
mxfp8, nvfp4, and nvfp4 with a global scale) and every source dtype (f32,
f16, bf16), on random tensors of several shapes and on rows of special
values (rounding ties, zero, constant, all-negative, huge, subnormal, inf and
NaN groups, scales at and next to powers of two):
  - qnt_mlx_quantize == mx.quantize (packed words, scales, biases);
  - qnt_mlx_dequantize == mx.dequantize (same dtype) of libqnt's output, and
    of random codes/scales/biases;
  - the registry formats "mlx:*" (qnt_quantize on f32 rows, each dtype
    suffix): codes, scales and biases of the blocks == mx.quantize of the rows
    cast to that dtype; qnt_dequantize == mx.dequantize with the scales and
    biases cast to float32 (affine) or dtype=float32 (fp modes);
  - 1, 2 and 7 threads give the same bytes;
plus the registry names/ids, the parameter checks, importance weights
(affine: a weighted search never worse than MLX's groups; fp modes: ignored),
and the golden vectors of the reference note (examples A-D; mxfp4/mxfp8 with
amax 1.0 as mlx 0.32.4 encodes them), which are checked first and do not need
MLX (and then against MLX too).

Where mlx 0.32.4 differs from /work/shared/reference/mlx-quantization.md
(read from the 0.32.2 sources): 1-bit affine exists (scale = max - min,
bias = min); the mx* scale is 2^ceil(log2(amax / M)), exact, not rint; the
E4M3 decoder gives NaN for 0x7f/0xff, not +-480; nvfp4 dequantize with a
global scale returns float32 whatever dtype is asked for.

Exit status: 0 pass, 1 fail, 77 skip (mlx missing).
"""
import ctypes
import sys
import time
import warnings

import numpy as np

import qntlib as Q

warnings.filterwarnings("ignore", category=RuntimeWarning)

DTYPES = ["f32", "f16", "bf16"]
AFFINE_BITS = [1, 2, 3, 4, 5, 6, 8]
REGISTRY_BITS = [2, 3, 4, 5, 6, 8]  # 1-bit affine has no registry id
GROUPS = [32, 64, 128]
FP = [("mxfp4", 4, 32), ("mxfp8", 8, 32), ("nvfp4", 4, 16)]
THREADS = [1, 2, 7]
GLOBAL_SCALE = 3.7

failures = []


def fail(msg):
    failures.append(msg)
    if len(failures) <= 40:
        print("FAIL:", msg)


def check(cond, msg):
    if not cond:
        fail(msg)
    return cond


def words(hexes):
    return np.array([int(h, 16) for h in hexes.split()], dtype=np.uint32)


def u16(a):
    return np.ascontiguousarray(a).view(np.uint16)


def bits_of(a):
    """Raw bytes of an array, so that NaNs compare by their bits."""
    return np.ascontiguousarray(a).view(np.uint8)


# ---------------------------------------------------------------------------
# Golden vectors (reference note, section 1; f32 input, group 32)

def golden():
    i = np.arange(32, dtype=np.float32).reshape(1, 32)
    cases = [
        # name, w, bits, words, scale f32 bits, bias f32
        ("A", i, 4, "ccddeeff 8899aabb 44556677 00112233", 0xC0044444, 31.0),
        ("B", i - 16, 4, "43222100 87666544 cbaaa988 ffeeedcc", 0x40000000, -16.0),
        ("C", i % 8, 3, "77053977 39770539 05397705", 0xBF800000, 7.0),
        ("C'", i, 5, "75be77df 3a56d7c6 35cf8465 c74254b6 00443214", 0xBF800000, 31.0),
        ("D", 0 * i, 4, "00000000 00000000 00000000 00000000", 0xB3D6BF95, 0.0),
    ]
    for name, w, bits, hexes, sbits, bias in cases:
        wq, s, b = Q.mlx_quantize(Q.mlx_params("affine", bits, 32, "f32"), w)
        check(np.array_equal(wq[0], words(hexes)), f"golden {name}: words {[f'{x:08x}' for x in wq[0]]}")
        check(int(s.view(np.uint32)[0, 0]) == sbits, f"golden {name}: scale {int(s.view(np.uint32)[0, 0]):#x}")
        check(float(b[0, 0]) == bias, f"golden {name}: bias {b[0, 0]}")
    # A and D with bf16 / f16 scales and biases
    for dt, sA, bA, sD in [("bf16", 0xC004, 0x41F8, 0xB3D7), ("f16", 0xC022, 0x4FC0, 0x8002)]:
        raw = Q.MLX_NP_DTYPES[dt]
        xa = i.astype(np.float16) if dt == "f16" else (i.view(np.uint32) >> 16).astype(np.uint16)
        wq, s, b = Q.mlx_quantize(Q.mlx_params("affine", 4, 32, dt), xa.astype(raw))
        check(np.array_equal(wq[0], words(cases[0][3])), f"golden A {dt}: words")
        check(int(u16(s)[0, 0]) == sA and int(u16(b)[0, 0]) == bA,
              f"golden A {dt}: scale {int(u16(s)[0, 0]):#x} bias {int(u16(b)[0, 0]):#x}")
        wq, s, b = Q.mlx_quantize(Q.mlx_params("affine", 4, 32, dt), np.zeros((1, 32), raw))
        check(int(u16(s)[0, 0]) == sD and int(u16(b)[0, 0]) == 0 and not wq.any(), f"golden D {dt}")
    # D dequantizes to exactly 0; A to w
    p = Q.mlx_params("affine", 4, 32, "f32")
    check(not Q.mlx_dequantize(p, *Q.mlx_quantize(p, 0 * i)).any(), "golden D: dequantize is not 0")
    # mxfp4, amax = 1.0 (mlx 0.32.4 CPU: scale 2^ceil(log2(1/6)) = 2^-2, code 125;
    # 1.0 / 0.25 = 4 -> E2M1 code 6; the note's rint rule would give code 124)
    w = np.zeros((1, 32), np.float32)
    w[0, 0] = 1.0
    wq, s, _ = Q.mlx_quantize(Q.mlx_params("mxfp4", dtype="f32"), w)
    check(int(s[0, 0]) == 125 and int(wq[0, 0]) == 6 and not wq[0, 1:].any(),
          f"golden mxfp4 amax 1: scale {int(s[0, 0])} words {wq[0]}")
    d = Q.mlx_dequantize(Q.mlx_params("mxfp4", dtype="f32"), wq, s, None)
    check(d[0, 0] == 1.0 and not d[0, 1:].any(), "golden mxfp4 amax 1: dequantize")
    # mxfp8, amax = 1.0: 2^ceil(log2(1/448)) = 2^-8 (code 119), 1.0 * 256 = E4M3 0x78
    wq, s, _ = Q.mlx_quantize(Q.mlx_params("mxfp8", dtype="f32"), w)
    check(int(s[0, 0]) == 119 and int(wq[0, 0]) == 0x78, f"golden mxfp8 amax 1: scale {int(s[0, 0])} {wq[0, 0]:#x}")


# ---------------------------------------------------------------------------
# Registry: names, ids, params

def registry():
    seen = 0
    for d, dt in enumerate(DTYPES):
        suffix = "" if dt == "bf16" else ":" + dt
        entries = [(f"mlx:affine:{b}:{g}", 3 * bi + gi, "affine", b, g)
                   for bi, b in enumerate(REGISTRY_BITS) for gi, g in enumerate(GROUPS)]
        entries += [("mlx:mxfp4", 18, "mxfp4", 4, 32), ("mlx:mxfp8", 19, "mxfp8", 8, 32),
                    ("mlx:nvfp4", 20, "nvfp4", 4, 16)]
        for base, k, mode, b, g in entries:
            want = 256 + 32 * d + k
            name = base + suffix
            t = Q._lib.qnt_type_by_name(name.encode())
            check(t == want, f"registry: {name} -> {t}, want {want}")
            check(Q.type_name(want) == name, f"registry: name of {want} is {Q.type_name(want)}, want {name}")
            check(Q._lib.qnt_type_by_name((base + ":" + dt).upper().encode()) == want,
                  f"registry: {(base + ':' + dt).upper()} not found")
            check(Q.block_size(name) == g, f"registry: {name} block size")
            bb = g * b // 8 + (1 if mode != "affine" else 2 * (4 if dt == "f32" else 2))
            check(Q.block_bytes(name) == bb, f"registry: {name} block bytes {Q.block_bytes(name)}, want {bb}")
            p = Q.mlx_params_from_type(want)
            check((p.mode, p.bits, p.group_size, p.dtype, p.flags, p.reserved) ==
                  (Q.MLX_MODES[mode], b, g, Q.MLX_DTYPES[dt], 0, 0), f"registry: params of {name}")
            check(Q.mlx_type(Q.mlx_params(mode, b, g, dt)) == want, f"registry: qnt_mlx_type({name})")
            seen += 1
    check(Q._lib.qnt_type_by_name(b"mlx:affine:4:64:bf16:bf16") < 0, "registry: double suffix accepted")
    check(Q._lib.qnt_type_by_name(b"mlx:affine:4:64:q8") < 0, "registry: bad suffix accepted")
    check(Q.mlx_type(Q.mlx_params("affine", 1, 32, "f32")) == -1, "registry: 1-bit affine has an id")
    check(Q.mlx_type(Q.mlx_params("affine", 0, 0, "bf16")) == Q.type_id("mlx:affine:4:64"), "registry: defaults")
    check(Q.mlx_type(Q.mlx_params("nvfp4", dtype="f16", global_scale=2.0)) == Q.type_id("mlx:nvfp4:f16"),
          "registry: nvfp4 with global scale")
    for t in [255, 256 + 21, 256 + 31, 256 + 96, 0, 2]:
        p = Q.MlxParams(ctypes.sizeof(Q.MlxParams))
        check(Q._lib.qnt_mlx_params_from_type(t, ctypes.byref(p)) == -7, f"registry: params_from_type({t})")
    print(f"registry: {seen} formats, names, aliases, ids and params checked")


# ---------------------------------------------------------------------------
# Parameter checks (status codes)

def statuses():
    w = np.zeros((2, 64), np.float32)
    wq = np.zeros((2, 64), np.uint32)
    s = np.zeros((2, 4), np.float32)
    b = np.zeros((2, 4), np.float32)

    def q(p, nrows=2, n=64, biases=True, pp=None):
        pp = ctypes.byref(p) if pp is None else pp
        return Q._lib.qnt_mlx_quantize(None, pp, w.ctypes.data, nrows, n, wq.ctypes.data, s.ctypes.data,
                                       b.ctypes.data if biases else None)

    def dq(p, biases=True):
        return Q._lib.qnt_mlx_dequantize(None, ctypes.byref(p), wq.ctypes.data, s.ctypes.data,
                                         b.ctypes.data if biases else None, 2, 64, w.ctypes.data)

    P = Q.mlx_params
    check(q(P("affine", 4, 32, "f32")) == 0, "status: valid call fails")
    check(q(P("affine", 4, 32, "f32"), nrows=0) == 0, "status: nrows 0")
    check(Q._lib.qnt_mlx_quantize(None, None, w.ctypes.data, 2, 64, wq.ctypes.data, s.ctypes.data,
                                  b.ctypes.data) == -1, "status: NULL params")
    p = P("affine", 4, 32, "f32")
    p.struct_size = 28
    check(q(p) == -1, "status: small struct_size")

    class Bigger(ctypes.Structure):
        _fields_ = [("p", Q.MlxParams), ("extra", ctypes.c_uint32 * 2)]
    big = Bigger(P("affine", 4, 32, "f32"))
    big.p.struct_size = ctypes.sizeof(Bigger)
    check(q(None, pp=ctypes.cast(ctypes.byref(big), ctypes.POINTER(Q.MlxParams))) == 0, "status: larger, zero tail")
    big.extra[1] = 1
    st = q(None, pp=ctypes.cast(ctypes.byref(big), ctypes.POINTER(Q.MlxParams)))
    check(st == -6, f"status: larger, non-zero tail -> {st}")
    p = P("affine", 4, 32, "f32")
    p.flags = 0x10
    check(q(p) == -1, "status: unknown flag")
    p = P("affine", 4, 32, "f32")
    p.reserved = 1
    check(q(p) == -1, "status: reserved")
    for args in [("affine", 7, 32), ("affine", 9, 32), ("affine", -1, 32), ("affine", 4, 16), ("affine", 4, 256),
                 ("mxfp4", 8, 32), ("mxfp4", 4, 16), ("mxfp8", 4, 32), ("nvfp4", 4, 32), ("mxfp8", 8, 64)]:
        st = q(P(args[0], args[1], args[2], "f32"))
        check(st == -3, f"status: {args} -> {st}, want QNT_E_UNSUPPORTED")
    p = P("affine", 4, 32, "f32")
    p.mode = 4
    check(q(p) == -3, "status: mode 4")
    p = P("affine", 4, 32, "f32")
    p.dtype = 2  # q4_0
    check(q(p) == -3, "status: dtype q4_0")
    check(q(P("affine", 4, 32, "f32"), biases=False) == -1, "status: affine without biases")
    check(q(P("mxfp4", dtype="f32")) == -1, "status: fp mode with biases")
    check(q(P("mxfp4", dtype="f32"), biases=False) == 0, "status: mxfp4")
    check(q(P("affine", 4, 128, "f32")) == -8, "status: n_per_row % group")
    check(q(P("affine", 4, 32, "f32"), nrows=-1) == -1, "status: nrows < 0")
    check(q(P("mxfp4", dtype="f32", global_scale=2.0), biases=False) == -1, "status: global scale on mxfp4")
    check(q(P("nvfp4", dtype="f32", global_scale=0.0), biases=False) == -1, "status: global scale 0")
    check(q(P("nvfp4", dtype="f32", global_scale=float("nan")), biases=False) == -1, "status: global scale NaN")
    p = P("nvfp4", dtype="f32")
    p.global_scale = 2.0
    check(q(p, biases=False) == -1, "status: global_scale without the flag")
    check(q(P("nvfp4", dtype="f32", global_scale=2.0), biases=False) == 0, "status: nvfp4 global scale")
    check(dq(P("affine", 4, 32, "f32")) == 0 and dq(P("affine", 4, 32, "f32"), biases=False) == -1,
          "status: dequantize biases")
    check(dq(P("affine", 4, 128, "f32")) == -8, "status: dequantize shape")
    msg = Q._lib.qnt_ctx_last_error(None).decode()
    check("qnt_mlx_dequantize" in msg and "128" in msg, f"status: message '{msg}'")
    st = q(P("affine", 7, 32, "f32"))
    msg = Q._lib.qnt_ctx_last_error(None).decode()
    check("qnt_mlx_quantize" in msg and "7" in msg, f"status: message '{msg}'")
    print("statuses: parameter checks done")


def importance():
    """Affine registry formats: with importance weights, never a worse weighted
    error than MLX's group (per group), and lower overall; the fp formats
    ignore the weights (same bytes) and do not set QNT_TYPE_FLAG_IMPORTANCE."""
    rng = np.random.default_rng(77)
    x = rng.standard_normal((32, 512)).astype(np.float32)
    x[3] *= 1e-3
    x[4, :64] = 0.0
    x[5, :128] = 2.5
    imp = np.exp(rng.standard_normal(512) * 1.5).astype(np.float32)
    imp[64:96] = 0.0  # a group (or part of one) without weight
    ratios = []
    for dt in DTYPES:
        suffix = "" if dt == "bf16" else ":" + dt
        for bits in REGISTRY_BITS:
            for gs in GROUPS:
                name = f"mlx:affine:{bits}:{gs}{suffix}"
                check(type_flags(name) & 0x8, f"importance: {name} lacks QNT_TYPE_FLAG_IMPORTANCE")
                ya = Q.dequantize(name, Q.quantize(name, x), 512).astype(np.float64)
                yb = Q.dequantize(name, Q.quantize(name, x, importance=imp), 512).astype(np.float64)
                ea = (((ya - x) ** 2) * imp).reshape(32, -1, gs).sum(-1)
                eb = (((yb - x) ** 2) * imp).reshape(32, -1, gs).sum(-1)
                worse = int((eb > ea * (1 + 1e-9) + 1e-30).sum())
                check(worse == 0, f"importance: {name}: {worse} groups worse than MLX's")
                ratios.append(eb.sum() / ea.sum())
                check(eb.sum() < ea.sum(), f"importance: {name}: no gain ({eb.sum()} vs {ea.sum()})")
        for mode in ["mxfp4", "mxfp8", "nvfp4"]:
            name = "mlx:" + mode + suffix
            check(not type_flags(name) & 0x8, f"importance: {name} sets QNT_TYPE_FLAG_IMPORTANCE")
            check(np.array_equal(Q.quantize(name, x), Q.quantize(name, x, importance=imp)),
                  f"importance: {name} depends on the weights")
    print(f"importance: weighted error / MLX's over {len(ratios)} affine formats: "
          f"min {min(ratios):.3f}, max {max(ratios):.3f}, never worse per group")


def type_flags(name):
    return Q.type_info(Q.type_id(name))["flags"]


# ---------------------------------------------------------------------------
# Against MLX

mx = None
MXD = {}
stats = {}  # (mode, bits, group, dtype) -> [groups, mismatched groups, dequantized groups, mismatched]


def to_mx(raw, dt):
    a = mx.array(raw)
    return a.view(mx.bfloat16) if dt == "bf16" else a


def from_mx(a):
    a = np.array(a.view(mx.uint16)) if a.dtype == mx.bfloat16 else np.array(a)
    return a


def cast_f32(x, dt):
    """f32 values -> raw elements of dt, rounded as MLX's astype rounds."""
    return from_mx(mx.array(np.ascontiguousarray(x, np.float32)).astype(MXD[dt]))


def special_rows(dt, rng):
    """Rows of 128 values (f32) exercising the edge cases, cast later to dt."""
    big = {"f32": 3.0e38, "f16": 6.0e4, "bf16": 3.0e38}[dt]
    tiny = {"f32": 3e-41, "f16": 3e-7, "bf16": 3e-41}[dt]
    minsub = {"f32": 1.4e-45, "f16": 6e-8, "bf16": 9.2e-41}[dt]
    i = np.arange(128, dtype=np.float32)
    e2m1_ties = np.array([0.25, 0.75, 1.25, 1.75, 2.5, 3.5, 5.0, 6.0], np.float32)
    e2m1_ties = np.concatenate([e2m1_ties, -e2m1_ties])
    rows = [
        i - 64, i % 8, i, (i % 16) - 8, (i % 32) * 0.5 - 8,
        np.zeros(128), np.full(128, 3.7), np.full(128, -2.5), np.full(128, 1e-3),
        -np.abs(rng.standard_normal(128)), np.abs(rng.standard_normal(128)),
        rng.choice([-1.0, 1.0], 128) * big, rng.standard_normal(128) * big / 4,
        rng.standard_normal(128) * tiny, np.where(rng.random(128) < 0.5, minsub, 0.0),
        rng.choice([-1.0, 1.0], 128) * minsub,
        np.tile(e2m1_ties, 8), np.tile(e2m1_ties, 8) * 2.0 ** -3, np.tile(e2m1_ties, 8) * 96.0,
        rng.integers(-8, 9, 128) * 0.5, rng.integers(-448, 449, 128) / 64.0,
        rng.standard_normal(128) * 1e-4, np.where(i % 16 == 0, 6.0 * 2.0 ** 5, rng.standard_normal(128)),
        np.where(i % 16 == 0, 6.0 * 2.0 ** -7 * (1 + 2.0 ** -7), rng.standard_normal(128) * 1e-2),
        np.where(i % 32 == 3, 448.0 * 2.0 ** 3, rng.standard_normal(128)),
        np.where(i % 16 == 5, np.inf, rng.standard_normal(128)),
        np.where(i % 16 == 7, -np.inf, rng.standard_normal(128)),
        np.where(i % 32 == 9, np.nan, rng.standard_normal(128)),
        np.where(i % 2 == 0, 1e-30, -1e-30) * np.where(i < 64, 1.0, 1e-10),
        rng.standard_normal(128) * 10.0 ** rng.integers(-30, 30, 128).astype(np.float64),
    ]
    return np.stack([np.asarray(r, np.float64) for r in rows]).astype(np.float32)


def sweep_rows(dt, rng):
    """Rows of normal values scaled by 2^k over the whole exponent range of dt
    (subnormal to overflow), so that every scale code and its wrap-around
    (E8M0 without clamping) is reached."""
    lo, hi = {"f32": (-152, 128), "f16": (-27, 16), "bf16": (-152, 128)}[dt]
    k = np.arange(lo, hi, dtype=np.float64)[:, None]
    return (rng.standard_normal((len(k), 128)) * 2.0 ** k).astype(np.float32)


def raw_rows(dt, rng, nrows=64):
    """Random bit patterns of dt (every value, NaN and infinity included), as
    the f32 values they stand for."""
    if dt == "f32":
        return rng.integers(0, 2 ** 32, (nrows, 128), dtype=np.uint64).astype(np.uint32).view(np.float32)
    h = rng.integers(0, 2 ** 16, (nrows, 128), dtype=np.uint32).astype(np.uint16)
    if dt == "f16":
        return h.view(np.float16).astype(np.float32)
    return (h.astype(np.uint32) << 16).view(np.float32)


def tensors(dt, rng):
    """(label, f32 array) inputs: random shapes, special rows, exponent
    sweeps and random bit patterns."""
    out = []
    for r, n in [(64, 512), (7, 1152), (33, 128), (1, 4096)]:
        out.append((f"{r}x{n}", (rng.standard_normal((r, n)) * 10.0 ** rng.uniform(-3, 3)).astype(np.float32)))
    # rows of very different magnitudes, heavy tails
    scale = 10.0 ** rng.uniform(-6, 6, (256, 1))
    out.append(("256x1024", (rng.standard_t(3, (256, 1024)) * scale).astype(np.float32)))
    # small integers and halves: exact ties for every rounding step
    out.append(("ties", (rng.integers(-40, 41, (64, 512)) * 2.0 ** rng.integers(-3, 2, (64, 1))).astype(np.float32)))
    out.append(("special", np.concatenate([special_rows(dt, rng) for _ in range(4)])))
    out.append(("sweep", sweep_rows(dt, rng)))
    out.append(("rawbits", raw_rows(dt, rng)))
    return out


def group_mismatch(a, b, nrows, ngroups):
    """Per-group mismatch count of two arrays whose rows split evenly into groups."""
    a = bits_of(a).reshape(nrows, ngroups, -1)
    b = bits_of(b).reshape(nrows, ngroups, -1)
    return (a != b).any(axis=2)


def compare_config(mode, bits, gs, dt, gscale, rng):
    key = (mode if gscale is None else "nvfp4+gs", bits, gs, dt)
    st = stats.setdefault(key, [0, 0, 0, 0])
    p = Q.mlx_params(mode, bits, gs, dt, gscale)
    kw = {} if gscale is None else {"global_scale": mx.array(gscale, dtype=mx.float32)}
    affine = mode == "affine"
    for label, x in tensors(dt, rng):
        raw = cast_f32(x, dt)
        nrows, n = raw.shape
        ng = n // gs
        # quantize
        r = mx.quantize(to_mx(raw, dt), group_size=gs, bits=bits, mode=mode, **kw)
        mine = Q.mlx_quantize(p, raw)
        bad = group_mismatch(np.array(r[0]), mine[0], nrows, ng)
        bad |= group_mismatch(from_mx(r[1]), mine[1], nrows, ng)
        if affine:
            bad |= group_mismatch(from_mx(r[2]), mine[2], nrows, ng)
        st[0] += bad.size
        st[1] += int(bad.sum())
        if bad.any():
            g = np.argwhere(bad)[0]
            fail(f"quantize {key} {label}: {int(bad.sum())}/{bad.size} groups differ, first row {g[0]} group {g[1]}")
        # dequantize libqnt's output, and random codes/scales/biases
        inputs = [mine]
        wr = rng.integers(0, 2 ** 32, mine[0].shape, dtype=np.uint64).astype(np.uint32)
        if affine:
            sr = cast_f32(rng.standard_normal(mine[1].shape) * 10.0 ** rng.uniform(-4, 4), dt)
            br = cast_f32(rng.standard_normal(mine[1].shape) * 10.0 ** rng.uniform(-4, 4), dt)
            inputs.append((wr, sr, br))
        else:
            inputs.append((wr, rng.integers(0, 256, mine[1].shape, dtype=np.uint8), None))
        for wq, sc, bi in inputs:
            if affine:
                d = mx.dequantize(mx.array(wq), to_mx(sc, dt), to_mx(bi, dt), group_size=gs, bits=bits)
            else:
                d = mx.dequantize(mx.array(wq), mx.array(sc), group_size=gs, bits=bits, mode=mode, dtype=MXD[dt], **kw)
                if d.dtype != MXD[dt]:  # nvfp4 with a global scale: MLX computes in float32
                    d = d.astype(MXD[dt])
            my = Q.mlx_dequantize(p, wq, sc, bi)
            bad = group_mismatch(from_mx(d), my, nrows, ng)
            st[2] += bad.size
            st[3] += int(bad.sum())
            if bad.any():
                g = np.argwhere(bad)[0]
                fail(f"dequantize {key} {label}: {int(bad.sum())}/{bad.size} groups differ, first {tuple(g)}")
        # registry rows (f32 in, blocks out)
        if gscale is None and (mode != "affine" or bits in REGISTRY_BITS):
            compare_registry(mode, bits, gs, dt, x, r)
    # threads: one larger tensor
    x = (rng.standard_normal((301, 1024)) * 3).astype(np.float32)  # 10 chunks of rows
    imp = rng.random(1024).astype(np.float32)
    raw = cast_f32(x, dt)
    outs, deqs = [], []
    for t in THREADS:
        with Q.Context(n_threads=t) as ctx:
            q = Q.mlx_quantize(p, raw, ctx=ctx)
            outs.append(q)
            deqs.append(Q.mlx_dequantize(p, *q, ctx=ctx))
            if gscale is None and (mode != "affine" or bits in REGISTRY_BITS):
                name = Q.type_name(Q.mlx_type(p))
                outs.append((Q.quantize(name, x, ctx=ctx), Q.quantize(name, x, importance=imp, ctx=ctx)))
    per = len(outs) // len(THREADS)
    for k in range(1, len(THREADS)):
        for j in range(per):
            for a, b in zip(outs[j], outs[k * per + j]):
                if a is not None and not np.array_equal(bits_of(a), bits_of(b)):
                    fail(f"threads {key}: {THREADS[k]} threads differ from 1")
        if not np.array_equal(bits_of(deqs[0]), bits_of(deqs[k])):
            fail(f"threads {key}: dequantize with {THREADS[k]} threads differs")


def compare_registry(mode, bits, gs, dt, x, r):
    """qnt_quantize on f32 rows vs mx.quantize(x cast to dt), already in r."""
    key = ("reg:" + mode, bits, gs, dt)
    st = stats.setdefault(key, [0, 0, 0, 0])
    suffix = "" if dt == "bf16" else ":" + dt
    name = (f"mlx:affine:{bits}:{gs}" if mode == "affine" else "mlx:" + mode) + suffix
    nrows, n = x.shape
    ng = n // gs
    blocks = Q.quantize(name, x).reshape(nrows, ng, -1)
    cb = gs * bits // 8
    ss = (4 if dt == "f32" else 2) if mode == "affine" else 1
    check(blocks.shape[2] == cb + ss * (2 if mode == "affine" else 1), f"registry {name}: block size")
    sdt = Q.MLX_NP_DTYPES[dt] if mode == "affine" else np.uint8
    codes = np.ascontiguousarray(blocks[:, :, :cb]).reshape(nrows, -1).view("<u4").astype(np.uint32)
    scales = np.ascontiguousarray(blocks[:, :, cb:cb + ss]).view(sdt).reshape(nrows, ng)
    biases = np.ascontiguousarray(blocks[:, :, cb + ss:]).view(sdt).reshape(nrows, ng) if mode == "affine" else None
    bad = group_mismatch(np.array(r[0]), codes, nrows, ng)
    bad |= group_mismatch(from_mx(r[1]), scales, nrows, ng)
    if mode == "affine":
        bad |= group_mismatch(from_mx(r[2]), biases, nrows, ng)
    st[0] += bad.size
    st[1] += int(bad.sum())
    if bad.any():
        fail(f"registry quantize {name}: {int(bad.sum())}/{bad.size} groups differ")
    # dequantize libqnt's blocks: f32(scale * q + bias) with scale and bias
    # widened to f32 (affine), E2M1/E4M3 times the scale in f32 (fp modes)
    if mode == "affine":
        d = mx.dequantize(mx.array(codes), to_mx(scales, dt).astype(mx.float32), to_mx(biases, dt).astype(mx.float32),
                          group_size=gs, bits=bits, dtype=mx.float32)
    else:
        d = mx.dequantize(mx.array(codes), mx.array(scales), group_size=gs, bits=bits, mode=mode, dtype=mx.float32)
    my = Q.dequantize(name, blocks.reshape(nrows, -1), n)
    bad = group_mismatch(np.array(d), my, nrows, ng)
    st[2] += bad.size
    st[3] += int(bad.sum())
    if bad.any():
        fail(f"registry dequantize {name}: {int(bad.sum())}/{bad.size} groups differ")


def golden_mlx():
    """The golden vectors hold for MLX itself too."""
    i = np.arange(32, dtype=np.float32).reshape(1, 32)
    for name, w, bits, hexes in [("A", i, 4, "ccddeeff 8899aabb 44556677 00112233"),
                                 ("B", i - 16, 4, "43222100 87666544 cbaaa988 ffeeedcc"),
                                 ("C", i % 8, 3, "77053977 39770539 05397705"),
                                 ("C'", i, 5, "75be77df 3a56d7c6 35cf8465 c74254b6 00443214"),
                                 ("D", 0 * i, 4, "00000000 00000000 00000000 00000000")]:
        wq, _, _ = mx.quantize(mx.array(w), group_size=32, bits=bits)
        check(np.array_equal(np.array(wq)[0], words(hexes)), f"golden {name}: MLX gives {np.array(wq)[0]}")
    w = np.zeros((1, 32), np.float32)
    w[0, 0] = 1.0
    wq, sc = mx.quantize(mx.array(w), mode="mxfp4")
    check(int(np.array(sc)[0, 0]) == 125 and int(np.array(wq)[0, 0]) == 6, "golden mxfp4 amax 1: MLX differs")


def against_mlx():
    golden_mlx()
    rng = np.random.default_rng(20261)
    # a 3-D (experts, rows, K) tensor quantizes like its 2-D reshape
    x = (rng.standard_normal((3, 8, 256))).astype(np.float32)
    r = mx.quantize(mx.array(x).astype(mx.bfloat16), group_size=64, bits=4)
    mine = Q.mlx_quantize(Q.mlx_params("affine", 4, 64, "bf16"), cast_f32(x.reshape(24, 256), "bf16"))
    check(np.array_equal(np.array(r[0]).reshape(24, -1), mine[0]) and
          np.array_equal(from_mx(r[1]).reshape(24, -1), u16(mine[1])), "3-D experts tensor")
    for dt in DTYPES:
        for bits in AFFINE_BITS:
            for gs in GROUPS:
                compare_config("affine", bits, gs, dt, None, rng)
        for mode, bits, gs in FP:
            compare_config(mode, bits, gs, dt, None, rng)
        compare_config("nvfp4", 4, 16, dt, GLOBAL_SCALE, rng)


def report():
    print(f"{'format':<14} {'bits':>4} {'group':>5} {'dtype':<5} {'groups':>7} {'mismatch':>8} "
          f"{'deq grp':>7} {'mismatch':>8}")
    totals = {}
    for (mode, bits, gs, dt), (g, bad, dg, dbad) in sorted(stats.items(), key=lambda kv: (kv[0][0], kv[0][1],
                                                                                            kv[0][2], kv[0][3])):
        print(f"{mode:<14} {bits:>4} {gs:>5} {dt:<5} {g:>7} {bad:>8} {dg:>7} {dbad:>8}")
        t = totals.setdefault(mode, [0, 0, 0, 0])
        for k, v in enumerate((g, bad, dg, dbad)):
            t[k] += v
    print("totals per mode:")
    for mode, (g, bad, dg, dbad) in sorted(totals.items()):
        print(f"  {mode:<14} quantize {g} groups, {bad} mismatched; dequantize {dg} groups, {dbad} mismatched")


def main():
    t0 = time.time()
    golden()
    registry()
    statuses()
    importance()
    if failures:  # do not let a missing mlx turn these into a skip
        print(f"{len(failures)} failures before the MLX comparisons")
        return 1
    global mx, MXD
    mlx = Q.require("mlx")
    import mlx.core
    mx = mlx.core
    MXD = {"f32": mx.float32, "f16": mx.float16, "bf16": mx.bfloat16}
    mx.set_default_device(mx.cpu)
    print(f"mlx {mx.__version__} on {mx.default_device()}")
    against_mlx()
    report()
    print(f"{len(failures)} failures, {time.time() - t0:.1f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
