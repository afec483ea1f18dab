# SPDX-License-Identifier: MIT
"""qnt_convert / qnt_convert_kind: lossless conversion between formats.

A block is exact when the target dequantizes (libqnt's f32 row API) to the
same floats as the source, bit for bit, +0 and -0 counting as equal. For
every pair that libqnt repacks (the affine family: q4_0 q5_0 q8_0 q4_1 q5_1
q2_0, tq1_0 tq2_0 q4_K q5_K as sources, every mlx:affine format; the fp4
family: mxfp4 <-> mlx:mxfp4*, nvfp4 <-> mlx:nvfp4*; copies) and for data
sets of random floats quantized by libqnt, random bytes, structured blocks
(scales that fit every dtype, scales shared by neighbouring blocks, biases
-K * scale, narrow codes, NaN/inf/zero scales), blocks from gguf-py's
quantizers and arrays from mx.quantize:
  - an independent numpy model (its own unpackers and packers, written from
    the layouts) predicts which target blocks have a repacking and their
    bytes; libqnt's bytes equal the model's there, and elsewhere equal
    qnt_quantize(to) of the dequantized source (requantization);
  - n_requantized == the number of target blocks whose dequantized floats
    differ from the source's (counted in numpy), model-exact blocks are
    exact, and QNT_CONVERT_EXACT pairs never requantize;
  - QNT_CONVERT_FLAG_EXACT_ONLY fails with QNT_E_UNSUPPORTED at the first
    inexact block (row-major), naming its row and block, and succeeds with
    the same bytes when every block is exact;
  - 1, 2 and 7 threads give the same bytes, counts and failing block;
plus qnt_convert_kind for every pair of the registry against a table of the
rules (and hand-written expectations), lossy pairs (every source format to a
set of targets and back) against dequantize + quantize, from == to as a byte
copy, the error paths, and real MLX: GGUF q4_0/q4_1/q5_0/q5_1/q8_0 (gguf-py's
quantizer) -> mlx affine, mxfp4 -> mlx:mxfp4 and nvfp4 -> mlx:nvfp4 give
arrays that mx.dequantize turns into gguf-py's dequantized floats, and
mx.quantize arrays -> GGUF give blocks gguf-py dequantizes to mx.dequantize's.

Exit status: 0 pass, 1 fail, 77 skip (gguf or mlx missing).
"""
import ctypes
import re
import sys
import time
import warnings

import numpy as np

import qntlib as Q

warnings.filterwarnings("ignore", category=RuntimeWarning)

failures = []
stats = {}


def fail(msg):
    failures.append(msg)
    if len(failures) <= 40:
        print("FAIL:", msg)


def check(cond, msg):
    if not cond:
        fail(msg)
    return cond


def count(key, k=1):
    stats[key] = stats.get(key, 0) + k


# ---------------------------------------------------------------------------
# Formats

DTYPES = ["f32", "f16", "bf16"]
MLX_BITS = [2, 3, 4, 5, 6, 8]
GROUPS = [32, 64, 128]


def mlx_name(bits, g, dt):
    return f"mlx:affine:{bits}:{g}" + ("" if dt == "bf16" else ":" + dt)


def fp_name(mode, dt):
    return f"mlx:{mode}" + ("" if dt == "bf16" else ":" + dt)


MLX_AFFINE = [mlx_name(b, g, dt) for b in MLX_BITS for g in GROUPS for dt in DTYPES]

# Affine family: form 1 values k*d, form 2 values c*d + m; unit: elements per
# (d, m); [qmin, qmax] codes as a source, [tmin, tmax] as a target (None: not
# a target); pd: element type of d and m; exact_ops: the dequantizer computes
# exactly f32(k*d) / f32(f32(c*d) + m) from them.
AFF = {
    "q4_0": dict(form=1, unit=32, block=32, qmin=-8, qmax=7, tmin=-8, tmax=7, pd="f16", exact_ops=True, bits=4),
    "q5_0": dict(form=1, unit=32, block=32, qmin=-16, qmax=15, tmin=-16, tmax=15, pd="f16", exact_ops=True,
                 bits=5),
    "q8_0": dict(form=1, unit=32, block=32, qmin=-128, qmax=127, tmin=-127, tmax=127, pd="f16", exact_ops=True,
                 bits=8),
    "q4_1": dict(form=2, unit=32, block=32, qmin=0, qmax=15, tmin=0, tmax=15, pd="f16", exact_ops=True, bits=4),
    "q5_1": dict(form=2, unit=32, block=32, qmin=0, qmax=31, tmin=0, tmax=31, pd="f16", exact_ops=True, bits=5),
    "q2_0": dict(form=1, unit=64, block=64, qmin=-1, qmax=2, tmin=-1, tmax=2, pd="f16", exact_ops=True, bits=2),
    "q1_0": dict(form=1, unit=128, block=128, qmin=-1, qmax=1, tmin=None, tmax=None, pd="f16", exact_ops=False,
                 bits=1),
    "tq1_0": dict(form=1, unit=256, block=256, qmin=-1, qmax=1, tmin=None, tmax=None, pd="f16", exact_ops=True),
    "tq2_0": dict(form=1, unit=256, block=256, qmin=-1, qmax=2, tmin=None, tmax=None, pd="f16", exact_ops=True),
    "q4_K": dict(form=2, unit=32, block=256, qmin=0, qmax=15, tmin=None, tmax=None, pd="f32", exact_ops=False),
    "q5_K": dict(form=2, unit=32, block=256, qmin=0, qmax=31, tmin=None, tmax=None, pd="f32", exact_ops=False),
}
for b in MLX_BITS:
    for g in GROUPS:
        for dt in DTYPES:
            AFF[mlx_name(b, g, dt)] = dict(form=2, unit=g, block=g, qmin=0, qmax=(1 << b) - 1, tmin=0,
                                           tmax=(1 << b) - 1, pd=dt, exact_ops=True, bits=b)
AFF_TARGETS = [t for t, f in AFF.items() if f["tmin"] is not None]

# fp4 family: elements per scale, and whether it is ggml's layout.
FP4 = {"mxfp4": (32, True), "nvfp4": (16, True)}
for dt in DTYPES:
    FP4[fp_name("mxfp4", dt)] = (32, False)
    FP4[fp_name("nvfp4", dt)] = (16, False)
FLOATS = ["f32", "f16", "bf16"]


def kind_model(s, t):
    """qnt_convert_kind by the rules of include/libqnt.h / lib/core/convert.c."""
    if s == t:
        return Q.CONVERT_EXACT
    if t == "f32":
        return Q.CONVERT_EXACT
    if t in ("f16", "bf16"):
        return Q.CONVERT_EXACT_IF
    for mode in ("mxfp4", "mxfp8", "nvfp4"):
        if s.startswith(f"mlx:{mode}") and t.startswith(f"mlx:{mode}"):
            return Q.CONVERT_EXACT
    if s in AFF and t in AFF_TARGETS:
        S, T = AFF[s], AFF[t]
        exact = (S["form"] == T["form"] and S["exact_ops"] and S["unit"] % T["block"] == 0 and
                 S["qmin"] >= T["tmin"] and S["qmax"] <= T["tmax"] and (S["pd"] == T["pd"] or T["pd"] == "f32"))
        return Q.CONVERT_EXACT if exact else Q.CONVERT_EXACT_IF
    if s in FP4 and t in FP4 and FP4[s][0] == FP4[t][0] and FP4[s][1] != FP4[t][1]:
        return Q.CONVERT_EXACT_IF
    return Q.CONVERT_LOSSY


# Hand-written expectations (the brief's table and the reference note, section 8).
KIND_EXPECT = [
    ("q4_0", "mlx:affine:4:32", 2), ("q4_0", "mlx:affine:4:32:f16", 2), ("q4_0", "mlx:affine:4:32:f32", 2),
    ("q4_1", "mlx:affine:4:32:f16", 1), ("q4_1", "mlx:affine:4:32:f32", 1), ("q4_1", "mlx:affine:4:32", 2),
    ("q5_0", "mlx:affine:5:32:f16", 2), ("q5_1", "mlx:affine:5:32:f16", 1), ("q8_0", "mlx:affine:8:32:f16", 2),
    ("q4_0", "mlx:affine:4:64:f16", 2), ("q4_1", "mlx:affine:4:128:f32", 2),
    ("mlx:affine:4:32:f16", "q4_1", 1), ("mlx:affine:4:32", "q4_1", 2), ("mlx:affine:4:32:f32", "q4_1", 2),
    ("mlx:affine:4:64:f16", "q4_1", 1), ("mlx:affine:4:128:f16", "q4_1", 1), ("mlx:affine:5:32:f16", "q5_1", 1),
    ("mlx:affine:5:32:f16", "q4_1", 2), ("mlx:affine:2:32:f16", "q4_1", 1), ("mlx:affine:8:32:f16", "q8_0", 2),
    ("mlx:affine:4:32:f16", "q4_0", 2), ("mlx:affine:6:32:f16", "q5_1", 2),
    ("mlx:affine:4:32:f16", "mlx:affine:4:32:f32", 1), ("mlx:affine:4:32:f32", "mlx:affine:4:32:f16", 2),
    ("mlx:affine:4:32", "mlx:affine:4:32:f16", 2), ("mlx:affine:4:128:f16", "mlx:affine:8:32:f16", 1),
    ("mlx:affine:4:32:f16", "mlx:affine:4:64:f16", 2),
    ("q4_0", "q5_0", 1), ("q4_0", "q8_0", 1), ("q5_0", "q8_0", 1), ("q8_0", "q4_0", 2), ("q4_1", "q5_1", 1),
    ("q5_1", "q4_1", 2), ("q4_0", "q4_1", 2), ("q2_0", "q4_0", 1), ("q4_0", "q2_0", 2), ("tq2_0", "q2_0", 1),
    ("tq1_0", "mlx:affine:2:128:f32", 2), ("q4_K", "mlx:affine:4:32:f32", 2), ("q4_K", "q4_1", 2),
    ("q5_K", "mlx:affine:5:32:f32", 2),
    ("mxfp4", "mlx:mxfp4", 2), ("mlx:mxfp4:f16", "mxfp4", 2), ("nvfp4", "mlx:nvfp4:f32", 2),
    ("mlx:nvfp4", "nvfp4", 2), ("mlx:mxfp4", "mlx:mxfp4:f32", 1), ("mlx:mxfp8:f16", "mlx:mxfp8", 1),
    ("mlx:nvfp4:f16", "mlx:nvfp4:f32", 1), ("mxfp4", "nvfp4", 0), ("mlx:mxfp8", "q8_0", 0),
    ("q4_0", "q4_0", 1), ("iq4_nl", "q4_0", 0), ("q6_K", "mlx:affine:6:32:f32", 0), ("q8_1", "q8_0", 0),
    ("q1_0", "mlx:affine:2:128:f16", 2), ("q1_0", "q2_0", 2), ("q4_0", "q1_0", 0), ("f16", "q4_0", 0), ("f32", "mlx:affine:4:64", 0),
    ("q4_0", "f32", 1), ("iq2_xxs", "f32", 1), ("f16", "f32", 1), ("bf16", "f32", 1), ("q4_0", "f16", 2),
    ("f32", "f16", 2), ("f16", "bf16", 2), ("q4_K", "bf16", 2), ("q4_K", "q4_0", 2), ("q4_0", "q4_K", 0),
    ("mlx:affine:4:32:f16", "q4_K", 0), ("tq1_0", "tq2_0", 0),
]


# ---------------------------------------------------------------------------
# numpy helpers: float bits, fp16 without numpy's casts (they may quiet NaNs)

def u32(a):
    return np.ascontiguousarray(a, dtype=np.float32).view(np.uint32)


def f32(bits):
    return np.asarray(bits, dtype=np.uint32).view(np.float32)


def h2f(h):
    """fp16 bits -> f32, exact, NaN payloads kept."""
    h = np.asarray(h, dtype=np.uint32)
    s = (h & 0x8000) << 16
    e = (h >> 10) & 0x1F
    m = h & 0x3FF
    bits = np.where(e == 0x1F, s | 0x7F800000 | (m << 13), s | ((e + 112) << 23) | (m << 13))
    sub = m.astype(np.float32) * np.float32(2.0 ** -24)
    sub = np.where(s != 0, -sub, sub).astype(np.float32).view(np.uint32)
    return f32(np.where(e == 0, sub, bits).astype(np.uint32))


def h2f_quiet(h):
    v = u32(h2f(h))
    nan = ((v & 0x7F800000) == 0x7F800000) & ((v & 0x7FFFFF) != 0)
    return f32(np.where(nan, v | 0x400000, v))


def b2f(h):
    return f32(np.asarray(h, dtype=np.uint32) << 16)


def exact_in(v, pd):
    """(ok, raw) for float32 values v in element type pd: ok where the
    widening of raw is v bit for bit."""
    v = np.asarray(v, dtype=np.float32)
    u = u32(v)
    if pd == "f32":
        return np.ones(v.shape, bool), u
    if pd == "bf16":
        return (u & 0xFFFF) == 0, (u >> 16).astype(np.uint16)
    nan = ((u & 0x7F800000) == 0x7F800000) & ((u & 0x7FFFFF) != 0)
    h_nan = (((u >> 16) & 0x8000) | 0x7C00 | ((u & 0x7FFFFF) >> 13)).astype(np.uint16)
    h = np.where(nan, h_nan, v.astype(np.float16).view(np.uint16)).astype(np.uint16)
    ok = np.where(nan, (u & 0x1FFF) == 0, u32(h2f(h)) == u)
    return ok, h


def rd_param(raw, pd):
    """Scales of element type pd from bytes (..., size) -> float32."""
    raw = np.ascontiguousarray(raw)
    if pd == "f32":
        return raw.view(np.float32)[..., 0]
    h = raw.view(np.uint16)[..., 0]
    return h2f(h) if pd == "f16" else b2f(h)


def param_bytes(raw, pd):
    return np.ascontiguousarray(np.asarray(raw).astype(np.uint32 if pd == "f32" else np.uint16)).view(np.uint8)


def same_vals(a, b):
    """Elementwise: the same bits, or two zeros."""
    x, y = u32(a), u32(b)
    return (x == y) | (((x | y) & 0x7FFFFFFF) == 0)


def bits_unpack(p, n, bits):
    """Little-endian bitstreams (rows of bytes) -> codes (rows x n)."""
    b = np.unpackbits(np.ascontiguousarray(p, dtype=np.uint8), axis=-1, bitorder="little")
    b = b[..., :n * bits].reshape(p.shape[:-1] + (n, bits)).astype(np.int32)
    return (b << np.arange(bits, dtype=np.int32)).sum(-1)


def bits_pack(c, bits):
    c = np.asarray(c, dtype=np.int64)
    b = ((c[..., None] >> np.arange(bits)) & 1).astype(np.uint8)
    b = b.reshape(c.shape[:-1] + (c.shape[-1] * bits,))
    return np.packbits(b, axis=-1, bitorder="little")


def nib_split(qs):
    """ggml's j / j + 16 nibble order: bytes (.., 16) -> codes (.., 32)."""
    return np.concatenate([qs & 15, qs >> 4], axis=-1).astype(np.int32)


def nib_join(c):
    h = c.shape[-1] // 2
    return ((c[..., :h] & 15) | ((c[..., h:] & 15) << 4)).astype(np.uint8)


def seq_split(qs):
    """MLX's sequential order: bytes (.., k) -> codes (.., 2k)."""
    return np.stack([qs & 15, qs >> 4], axis=-1).reshape(qs.shape[:-1] + (2 * qs.shape[-1],)).astype(np.int32)


def seq_join(c):
    return ((c[..., 0::2] & 15) | ((c[..., 1::2] & 15) << 4)).astype(np.uint8)


def qh_bits(qh):
    """4 bytes -> 32 bits (bit j for element j)."""
    w = np.ascontiguousarray(qh).view(np.uint32)[..., 0]
    return ((w[..., None] >> np.arange(32, dtype=np.uint32)) & 1).astype(np.int32)


def qh_make(c):
    w = (((c >> 4) & 1).astype(np.uint64) << np.arange(32, dtype=np.uint64)).sum(-1).astype(np.uint32)
    return np.ascontiguousarray(w[..., None]).view(np.uint8)


# ---------------------------------------------------------------------------
# The affine family: decoding (codes, d, m per unit) and packing

def gguf_codes(name, blocks, d_off, kq):
    """Codes of tq1_0/tq2_0/q4_K/q5_K blocks through gguf-py's dequantizer,
    with the scales replaced by ones that make the values the codes."""
    b = blocks.copy()
    b[:, d_off:d_off + 2] = np.frombuffer(np.uint16(0x3C00).tobytes(), np.uint8)
    if kq:
        b[:, 2:4] = 0
        b[:, 4:16] = np.array([1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1], np.uint8)
    v = gq.dequantize(b, getattr(gguf.GGMLQuantizationType, name.upper()))
    return v.reshape(blocks.shape[0], -1).astype(np.int32)


def aff_decode(name, raw, n):
    """raw: rows of blocks -> codes (rows, n) and d, m (rows, n / unit)."""
    f = AFF[name]
    nrows = raw.shape[0]
    bb = Q.block_bytes(name)
    b = np.ascontiguousarray(raw).reshape(-1, bb)
    u16 = lambda o: b[:, o:o + 2].copy().view(np.uint16)[:, 0]  # noqa: E731
    zero = np.zeros(b.shape[0], np.float32)
    if name in ("q4_0", "q5_0", "q8_0", "q4_1", "q5_1"):
        d = h2f(u16(0))
        m = h2f(u16(2)) if name.endswith("_1") else zero
        if name == "q8_0":
            c = b[:, 2:34].view(np.int8).astype(np.int32)
        elif name == "q4_0":
            c = nib_split(b[:, 2:18]) - 8
        elif name == "q4_1":
            c = nib_split(b[:, 4:20])
        elif name == "q5_0":
            c = (nib_split(b[:, 6:22]) | (qh_bits(b[:, 2:6]) << 4)) - 16
        else:
            c = nib_split(b[:, 8:24]) | (qh_bits(b[:, 4:8]) << 4)
    elif name == "q2_0":
        d, m = h2f_quiet(u16(0)), zero
        c = bits_unpack(b[:, 2:18], 64, 2) - 1
    elif name == "q1_0":
        d, m = h2f_quiet(u16(0)), zero
        c = 2 * bits_unpack(b[:, 2:18], 128, 1) - 1
    elif name in ("tq1_0", "tq2_0"):
        off = 52 if name == "tq1_0" else 64
        d, m = h2f_quiet(u16(off)), zero
        c = gguf_codes(name, b, off, False)  # (c - 1) * 1: k
    elif name in ("q4_K", "q5_K"):
        dd, dmin = h2f(u16(0)), h2f(u16(2))
        s = b[:, 4:16].astype(np.int32)
        sc = np.zeros((b.shape[0], 8), np.int32)
        mm = np.zeros((b.shape[0], 8), np.int32)
        sc[:, :4], mm[:, :4] = s[:, :4] & 63, s[:, 4:8] & 63
        sc[:, 4:] = (s[:, 8:12] & 15) | ((s[:, 0:4] >> 6) << 4)
        mm[:, 4:] = (s[:, 8:12] >> 4) | ((s[:, 4:8] >> 6) << 4)
        d = (dd[:, None] * sc.astype(np.float32)).astype(np.float32)
        m = -(dmin[:, None] * mm.astype(np.float32)).astype(np.float32)
        c = gguf_codes(name, b, 0, True)
    else:
        g, bits, pd = f["block"], f["bits"], f["pd"]
        cb, ds = g * bits // 8, 4 if pd == "f32" else 2
        c = bits_unpack(b[:, :cb], g, bits)
        d, m = rd_param(b[:, cb:cb + ds], pd), rd_param(b[:, cb + ds:cb + 2 * ds], pd)
    return (c.reshape(nrows, n), np.asarray(d, np.float32).reshape(nrows, -1),
            np.asarray(m, np.float32).reshape(nrows, -1))


def aff_pack(name, c, draw, mraw):
    """Blocks of a target from codes (nb, G) in its own convention (k for
    form 1, c for form 2) and raw scales (fp16 bits / dtype bits)."""
    nb = c.shape[0]
    h = lambda v: np.ascontiguousarray(np.asarray(v, np.uint16)[:, None]).view(np.uint8)  # noqa: E731
    if name == "q4_0":
        return np.concatenate([h(draw), nib_join(c + 8)], 1)
    if name == "q5_0":
        cc = c + 16
        return np.concatenate([h(draw), qh_make(cc), nib_join(cc)], 1)
    if name == "q8_0":
        return np.concatenate([h(draw), c.astype(np.int8).view(np.uint8)], 1)
    if name == "q4_1":
        return np.concatenate([h(draw), h(mraw), nib_join(c)], 1)
    if name == "q5_1":
        return np.concatenate([h(draw), h(mraw), qh_make(c), nib_join(c)], 1)
    if name == "q2_0":
        return np.concatenate([h(draw), bits_pack(c + 1, 2)], 1)
    f = AFF[name]
    p = bits_pack(c, f["bits"])
    return np.concatenate([p, param_bytes(draw, f["pd"]).reshape(nb, -1),
                           param_bytes(mraw, f["pd"]).reshape(nb, -1)], 1)


def aff_model(s, t, raw, n):
    """(ok per target block, bytes of the repacked blocks) for s -> t."""
    S, T = AFF[s], AFF[t]
    c, d, m = aff_decode(s, raw, n)
    nrows, gt = raw.shape[0], T["block"]
    nbt = n // gt
    if gt >= S["unit"]:
        k = gt // S["unit"]
        dd, mm = d.reshape(nrows, nbt, k), m.reshape(nrows, nbt, k)
        share = ((u32(dd) == u32(dd[..., :1])).all(-1) & (u32(mm) == u32(mm[..., :1])).all(-1)).reshape(-1)
        d, m = dd[..., 0].reshape(-1), mm[..., 0].reshape(-1)
    else:
        r = S["unit"] // gt
        d, m = np.repeat(d, r, axis=1).reshape(-1), np.repeat(m, r, axis=1).reshape(-1)
        share = np.ones(nrows * nbt, bool)
    c = c.reshape(-1, gt).astype(np.int64)
    kmin, kmax = c.min(1), c.max(1)
    ok = share.copy()
    if T["form"] == 2:
        if S["form"] == 1:
            ok &= np.isfinite(d)
            if S["qmax"] - S["qmin"] <= T["tmax"]:
                K = np.full(c.shape[0], -S["qmin"])
            else:
                K = -kmin
            ok &= (kmin + K >= 0) & (kmax + K <= T["tmax"])
            c = c + K[:, None]
            sc, bi = d, ((-K).astype(np.float32) * d).astype(np.float32)  # (float)-K * d
        else:
            ok &= kmax <= T["tmax"]
            sc, bi = d, m
        allzero = c.max(1) == 0
        s_ok, s_raw = exact_in(sc, T["pd"])
        z_ok, z_raw = exact_in(np.zeros_like(sc), T["pd"])
        s_raw = np.where(s_ok, s_raw, z_raw)
        ok &= s_ok | allzero
        b_ok, b_raw = exact_in(bi, T["pd"])
        ok &= b_ok
    else:
        if S["form"] == 2:
            fin = np.isfinite(d) & np.isfinite(m)
            ok &= fin
            dz = d == 0
            ok &= ~dz | (m == 0)
            with np.errstate(all="ignore"):
                r = np.where(dz | ~fin, 0, -m / np.where(dz, 1, d)).astype(np.float32)
            ok &= np.abs(r) <= 1024
            K = np.rint(np.where(np.abs(r) <= 1024, r, 0)).astype(np.int64)
            with np.errstate(all="ignore"):
                ok &= dz | (((-K).astype(np.float32) * d).astype(np.float32) == m)
            c = np.where(dz[:, None], 0, c - K[:, None])
        ok &= (c.min(1) >= T["tmin"]) & (c.max(1) <= T["tmax"])
        s_ok, s_raw = exact_in(d, "f16")
        ok &= s_ok
        b_raw = np.zeros_like(s_raw)
    c = np.where(ok[:, None], c, 0)
    s_raw = np.where(ok, s_raw, 0)
    b_raw = np.where(ok, b_raw, 0)
    return ok, aff_pack(t, c, s_raw, b_raw)


# ---------------------------------------------------------------------------
# The fp4 family

def fp4_decode(name, raw, n):
    """codes (rows*n/unit, unit) in MLX's meaning, scale byte, ok per unit."""
    unit, ggml = FP4[name]
    b = np.ascontiguousarray(raw).reshape(-1, Q.block_bytes(name))
    if name == "mxfp4":
        return nib_split(b[:, 1:17]), b[:, 0].astype(np.int32), b[:, 0] != 0xFF
    if name == "nvfp4":
        c = nib_split(b[:, 4:36].reshape(-1, 4, 8)).reshape(-1, 16)
        x = b[:, :4].reshape(-1).astype(np.int32)
        return c, np.where(x == 0x7F, 0, x & 0x7F), x != 0xFF
    return seq_split(b[:, :unit // 2]), b[:, unit // 2].astype(np.int32), np.ones(b.shape[0], bool)


def fp4_model(s, t, raw, n):
    c, byte, ok = fp4_decode(s, raw, n)
    if t == "mxfp4":
        ok = ok & (byte != 0xFF)
        return ok, np.concatenate([byte[:, None].astype(np.uint8), nib_join(c)], 1)
    if t == "nvfp4":
        ok = ok & ((byte & 0x7F) != 0x7F)
        flip = np.where(byte & 0x80, 8, 0)
        cc = c ^ flip[:, None]
        ok4 = ok.reshape(-1, 4).all(1)
        qs = nib_join(cc.reshape(-1, 4, 16)).reshape(-1, 32)
        return ok4, np.concatenate([(byte & 0x7F).reshape(-1, 4).astype(np.uint8), qs], 1)
    return ok, np.concatenate([seq_join(c), byte[:, None].astype(np.uint8)], 1)


# ---------------------------------------------------------------------------
# Data

N = 256
NROWS = 8


def floats(rng, nrows=NROWS, n=N):
    x = rng.standard_normal((nrows, n)).astype(np.float32)
    x *= (10.0 ** rng.uniform(-3, 2, (nrows, 1))).astype(np.float32)
    x[0, :64] = 0
    x[1, 32:64] = 0.25
    x[2, :128] = np.abs(x[2, :128])
    return x


def structured(name, rng, nrows=NROWS, n=N, specials=True):
    """Blocks whose scales fit f16 and bf16 (small integers times powers of
    two), shared by runs of neighbouring blocks, with biases -K * scale,
    narrow codes, and some zero / NaN / inf / subnormal scales."""
    f = AFF[name]
    G = f["block"]
    nb = nrows * n // G
    d = (rng.integers(1, 128, nb) * 2.0 ** rng.integers(-14, 3, nb)).astype(np.float32)
    d *= np.where(rng.random(nb) < 0.5, -1, 1).astype(np.float32)
    special = rng.random(nb) if specials else np.ones(nb)
    d = np.where(special < 0.04, 0.0, d)
    d = np.where((special >= 0.04) & (special < 0.06), -0.0, d)
    d = np.where((special >= 0.06) & (special < 0.08), np.inf, d)
    d = np.where((special >= 0.08) & (special < 0.10), np.nan, d)
    d = np.where((special >= 0.10) & (special < 0.12), 2.0 ** -20, d).astype(np.float32)
    lo, hi = (f["tmin"], f["tmax"])
    width = np.repeat(np.where(rng.random(nb // 4 + 1) < 0.5, hi - lo, rng.integers(0, 4, nb // 4 + 1)), 4)[:nb]
    start = np.repeat(rng.integers(0, np.maximum(1, hi - lo - width[::4] + 1)), 4)[:nb]
    c = lo + start[:, None] + (rng.random((nb, G)) * (width[:, None] + 1)).astype(np.int64)
    c = np.minimum(c, hi)
    if f["form"] == 2:
        c[rng.random(nb) < 0.05] = 0
    K = np.where(rng.random(nb) < 0.5, rng.choice([0, 1, 8, 16, 128], nb), rng.integers(-2, (1 << f["bits"]) + 2, nb))
    m = np.where(rng.random(nb) < 0.5, (-K * d.astype(np.float64)), rng.integers(-64, 64, nb) * 2.0 ** -6)
    m = m.astype(np.float32)
    if f["form"] == 1:
        m = np.zeros(nb, np.float32)
    # runs of shared scales: copy block i's d and m to its next 1..3 neighbours
    for i in range(0, nb - 4, 4):
        if rng.random() < 0.6:
            r = rng.integers(1, 4)
            d[i + 1:i + 1 + r], m[i + 1:i + 1 + r] = d[i], m[i]
    pd = f["pd"]
    if pd == "f16" or name in ("q4_0", "q5_0", "q8_0", "q2_0"):
        _, dr = exact_in(d, "f16")
        _, mr = exact_in(m, "f16")
        dr = np.where(np.isnan(d), 0x7E00, np.where(np.isinf(d), 0x7C00, dr)).astype(np.uint16)
    elif pd == "bf16":
        dr, mr = (u32(d) >> 16).astype(np.uint16), (u32(m) >> 16).astype(np.uint16)
    else:
        dr, mr = u32(d), u32(m)
    return aff_pack(name, c, dr, mr).reshape(nrows, -1)


def fp4_special(name, rng, nrows=NROWS, n=N):
    """Random bytes with the scale bytes forced to 0, 0x7f, 0x80, 0xff, 0xfe,
    254, 255 and random values."""
    raw = rng.integers(0, 256, (nrows, Q.row_size(name, n)), dtype=np.uint8)
    b = raw.reshape(-1, Q.block_bytes(name))
    pick = np.array([0, 0x7F, 0x80, 0xFF, 0xFE, 0x81, 1, 2, 126, 127], np.uint8)
    if name == "mxfp4":
        b[:, 0] = np.where(rng.random(b.shape[0]) < 0.5, rng.choice(pick, b.shape[0]), b[:, 0])
    elif name == "nvfp4":
        b[:, :4] = np.where(rng.random((b.shape[0], 4)) < 0.5, rng.choice(pick, (b.shape[0], 4)), b[:, :4])
    else:
        k = Q.block_bytes(name) - 1
        b[:, k] = np.where(rng.random(b.shape[0]) < 0.5, rng.choice(pick, b.shape[0]), b[:, k])
    return raw


# ---------------------------------------------------------------------------
# One pair

def blockwise_same(xs, yt, nrows, bt):
    return same_vals(xs, yt).reshape(nrows, -1, bt).all(-1)


def first_bad(exact):
    r, b = np.nonzero(~exact)
    return (int(r[0]), int(b[0])) if r.size else None


def is_copy(s, t):
    return s == t or any(s.startswith(f"mlx:{m}") and t.startswith(f"mlx:{m}") for m in ("mxfp4", "mxfp8", "nvfp4"))


def run_pair(s, t, raw, n, label, model=None, kind=None):
    """Converts, checks the count, the model and EXACT_ONLY. Returns the
    number of exact target blocks."""
    nrows = raw.shape[0]
    bt = Q.block_size(t)
    try:
        out, nreq = Q.convert(s, raw, t, n)
    except Q.QntError as e:
        fail(f"{s} -> {t} ({label}): {e}")
        return 0
    xs = Q.dequantize(s, raw, n)
    yt = Q.dequantize(t, out, n)
    exact = blockwise_same(xs, yt, nrows, bt)
    nb = exact.size
    count("pairs x data sets")
    count("target blocks", nb)
    check(nreq == int((~exact).sum()),
          f"{s} -> {t} ({label}): n_requantized {nreq}, numpy counts {int((~exact).sum())} inexact of {nb}")
    if kind == Q.CONVERT_EXACT:
        check(nreq == 0, f"{s} -> {t} ({label}): kind EXACT but {nreq} blocks requantized")
    ob = out.reshape(nrows * (n // bt), -1)
    if model is not None:
        ok, mbytes = model
        count("model-exact blocks", int(ok.sum()))
        bad = ok & ~exact.reshape(-1)
        check(not bad.any(), f"{s} -> {t} ({label}): {int(bad.sum())} blocks the model repacks are not exact "
                             f"(first {int(np.argmax(bad))})")
        diff = ok & (ob != mbytes).any(1)
        check(not diff.any(), f"{s} -> {t} ({label}): {int(diff.sum())} repacked blocks differ from the model "
                              f"(first {int(np.argmax(diff))}: {ob[np.argmax(diff)].tobytes().hex()} vs "
                              f"{mbytes[np.argmax(diff)].tobytes().hex()})")
        req = Q.quantize(t, xs).reshape(ob.shape)
        diff = ~ok & (ob != req).any(1)
        check(not diff.any(), f"{s} -> {t} ({label}): {int(diff.sum())} blocks without a repacking are not "
                              f"the requantization (first {int(np.argmax(diff))})")
    elif is_copy(s, t):
        check(np.array_equal(out, raw), f"{s} -> {t} ({label}): not a copy")
    else:  # no repacking: dequantize + quantize
        check(np.array_equal(out, Q.quantize(t, xs)), f"{s} -> {t} ({label}): not dequantize + quantize")
    # EXACT_ONLY
    fb = first_bad(exact)
    try:
        out2, n2 = Q.convert(s, raw, t, n, flags=Q.CONVERT_FLAG_EXACT_ONLY)
        check(fb is None, f"{s} -> {t} ({label}): EXACT_ONLY succeeded with inexact block {fb}")
        check(np.array_equal(out2, out) and n2 == 0, f"{s} -> {t} ({label}): EXACT_ONLY changed the bytes")
    except Q.QntError as e:
        msg = str(e)
        if check(fb is not None, f"{s} -> {t} ({label}): EXACT_ONLY failed on exact data: {msg}"):
            check(e.status == -3 and f"row {fb[0]}, block {fb[1]} " in msg,
                  f"{s} -> {t} ({label}): EXACT_ONLY message/status, want row {fb[0]} block {fb[1]}: {msg}")
            count("EXACT_ONLY failures checked")
    return int(exact.sum())


# ---------------------------------------------------------------------------
# Suites

def source_sets(name, rng):
    sets = [("quant", Q.quantize(name, floats(rng))),
            ("raw", rng.integers(0, 256, (NROWS, Q.row_size(name, N)), dtype=np.uint8))]
    if name in AFF and AFF[name]["tmin"] is not None:
        sets.append(("struct", structured(name, rng)))
    if name in FP4:
        sets.append(("special", fp4_special(name, rng)))
    if name in GGUF_Q:
        x = floats(rng)
        sets.append(("gguf-py", gq.quantize(x, getattr(gguf.GGMLQuantizationType, name.upper()))))
    return sets


GGUF_Q = ["q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "mxfp4"]


def kinds():
    names = [t["name"] for t in Q.registry()]
    n = 0
    for s in names:
        for t in names:
            k = Q.convert_kind(s, t)
            check(k == kind_model(s, t), f"kind({s}, {t}) = {k}, rules say {kind_model(s, t)}")
            n += 1
    for s, t, k in KIND_EXPECT:
        check(Q.convert_kind(s, t) == k, f"kind({s}, {t}) = {Q.convert_kind(s, t)}, expected {k}")
    for a, b in [(-1, 2), (2, -1), (999, 2), (2, 999), (4, 2), (2, 255), (256 + 21, 2), (-5, -5)]:
        check(Q.convert_kind(a, b) == -1, f"kind({a}, {b}) is not -1")
    hist = {}
    for s in names:
        for t in names:
            k = Q.convert_kind(s, t)
            hist[k] = hist.get(k, 0) + 1
    print(f"kinds: {n} pairs checked against the rules, {len(KIND_EXPECT)} by hand; "
          f"exact {hist.get(1, 0)}, exact-if {hist.get(2, 0)}, lossy {hist.get(0, 0)}")


def family_pairs(rng):
    """Every repacked pair, every data set."""
    t0 = time.time()
    no_exact = []
    sources = list(AFF) + list(FP4)
    for s in sources:
        sets = source_sets(s, rng)
        if s in AFF:
            targets = AFF_TARGETS
        else:
            targets = [t for t in FP4 if FP4[t][0] == FP4[s][0] and FP4[t][1] != FP4[s][1]]
        for t in targets:
            if t == s:
                continue
            k = Q.convert_kind(s, t)
            n_exact = 0
            for label, raw in sets:
                model = aff_model(s, t, raw, N) if s in AFF else fp4_model(s, t, raw, N)
                n_exact += run_pair(s, t, raw, N, label, model, k)
            count(f"pairs kind {k}")
            if k == Q.CONVERT_EXACT_IF and n_exact == 0:
                no_exact.append(f"{s}->{t}")
    print(f"family pairs: {stats.get('pairs kind 1', 0)} exact, {stats.get('pairs kind 2', 0)} exact-if, "
          f"{stats.get('pairs x data sets', 0)} conversions, {stats.get('target blocks', 0)} blocks, "
          f"{stats.get('model-exact blocks', 0)} repacked by the model, "
          f"{stats.get('EXACT_ONLY failures checked', 0)} EXACT_ONLY failures, {time.time() - t0:.1f} s")
    if no_exact:
        print(f"  exact-if pairs with no exact block in these data sets: {len(no_exact)} (need shared scales "
              f"and narrow codes at once), e.g. {' '.join(no_exact[:6])}")


def copies(rng):
    names = [t["name"] for t in Q.registry()]
    for s in names:
        raw = rng.integers(0, 256, (3, Q.row_size(s, N)), dtype=np.uint8)
        out, nreq = Q.convert(s, raw, s, N)
        check(np.array_equal(out, raw) and nreq == 0, f"{s} -> {s}: not a copy")
    for mode in ("mxfp4", "mxfp8", "nvfp4"):
        for a in DTYPES:
            for b in DTYPES:
                s, t = fp_name(mode, a), fp_name(mode, b)
                raw = rng.integers(0, 256, (3, Q.row_size(s, N)), dtype=np.uint8)
                out, nreq = Q.convert(s, raw, t, N)
                check(np.array_equal(out, raw) and nreq == 0, f"{s} -> {t}: not a copy")
    print(f"copies: {len(names)} formats to themselves and the mlx fp dtype variants")


def lossy_and_floats(rng):
    """Every format -> a set of targets, and a set of sources -> every format:
    dequantize + quantize, counts against numpy."""
    t0 = time.time()
    names = [t["name"] for t in Q.registry()]
    some = ["f32", "f16", "bf16", "q4_0", "q4_1", "q8_0", "q4_K", "q6_K", "iq4_nl", "iq4_xs", "tq2_0", "q1_0",
            "mxfp4", "nvfp4", "mlx:affine:4:64", "mlx:affine:8:32:f16", "mlx:mxfp8", "mlx:nvfp4:f16"]
    n = 0
    pairs = {(s, t) for s in names for t in some} | {(s, t) for s in some for t in names}
    data = {}
    for s, t in sorted(pairs):
        if s == t:
            continue
        k = Q.convert_kind(s, t)
        if s not in data:
            data[s] = [("quant", Q.quantize(s, floats(rng, 3))),
                       ("raw", rng.integers(0, 256, (3, Q.row_size(s, N)), dtype=np.uint8))]
        for label, raw in data[s]:
            model = None
            if s in AFF and t in AFF_TARGETS:
                model = aff_model(s, t, raw, N)
            elif k == Q.CONVERT_EXACT_IF and s in FP4 and t in FP4:
                model = fp4_model(s, t, raw, N)
            run_pair(s, t, raw, N, label, model, k)
            n += 1
    print(f"lossy and float pairs: {len(pairs)} pairs, {n} conversions, {time.time() - t0:.1f} s")


def threads(rng):
    """1, 2 and 7 threads: same bytes, counts and EXACT_ONLY block, on
    tensors of several chunks (128 rows of 256 per chunk)."""
    cases = [("q4_0", "mlx:affine:4:64"), ("mlx:affine:4:32", "q4_1"), ("q8_0", "mlx:affine:8:32:f16"),
             ("nvfp4", "mlx:nvfp4"), ("mlx:mxfp4:f16", "mxfp4"), ("q4_K", "mlx:affine:4:32:f32"),
             ("q4_K", "q4_0"), ("q5_1", "f16"), ("tq1_0", "mlx:affine:2:128:f32"), ("iq4_xs", "q4_0")]
    ctxs = [Q.ctx_create(k) for k in (1, 2, 7)]
    try:
        for s, t in cases:
            x = floats(rng, 700)
            raw = Q.quantize(s, x)
            # a few random-byte rows late in the tensor: inexact blocks in several chunks
            for r in (650, 333, 699):
                raw[r] = rng.integers(0, 256, raw.shape[1], dtype=np.uint8)
            res = []
            for c in ctxs:
                out, nreq = Q.convert(s, raw, t, N, ctx=c)
                try:
                    Q.convert(s, raw, t, N, flags=Q.CONVERT_FLAG_EXACT_ONLY, ctx=c)
                    msg = "ok"
                except Q.QntError as e:
                    msg = re.search(r"row \d+, block \d+", str(e))
                    msg = msg.group(0) if msg else str(e)
                res.append((out, nreq, msg))
            for (o, k, m), nt in zip(res[1:], (2, 7)):
                check(np.array_equal(o, res[0][0]) and k == res[0][1] and m == res[0][2],
                      f"threads {s} -> {t}: {nt} threads give ({k}, {m}), 1 thread ({res[0][1]}, {res[0][2]})")
            xs = Q.dequantize(s, raw, N)
            ex = blockwise_same(xs, Q.dequantize(t, res[0][0], N), raw.shape[0], Q.block_size(t))
            fb = first_bad(ex)
            want = "ok" if fb is None else f"row {fb[0]}, block {fb[1]}"
            check(res[0][2] == want, f"threads {s} -> {t}: EXACT_ONLY reports {res[0][2]}, first inexact {want}")
    finally:
        for c in ctxs:
            Q.ctx_destroy(c)
    print(f"threads: {len(cases)} pairs on 700 rows, 1/2/7 threads")


def errors():
    lib = Q._lib
    a = np.zeros(4096, np.uint8)
    b = np.zeros(4096, np.uint8)
    q40, mlx = Q.type_id("q4_0"), Q.type_id("mlx:affine:4:32")
    nreq = ctypes.c_int64(-5)

    def cv(f=q40, src=a.ctypes.data, t=mlx, dst=b.ctypes.data, nrows=2, n=64, flags=0, out=True):
        return lib.qnt_convert(None, f, src, t, dst, nrows, n, flags, ctypes.addressof(nreq) if out else None)

    check(cv() == 0 and nreq.value == 0, "errors: valid call")
    check(cv(out=False) == 0, "errors: NULL n_requantized")
    check(cv(src=None) == -1, "errors: NULL src")
    check(cv(dst=None) == -1, "errors: NULL dst")
    check(cv(f=999) == -7 and "999" in lib.qnt_ctx_last_error(None).decode(), "errors: unknown from")
    check(cv(t=-1) == -7, "errors: unknown to")
    check(cv(f=4) == -7, "errors: unknown from id 4")
    check(cv(flags=2) == -1, "errors: unknown flag")
    check(cv(nrows=-1) == -1, "errors: negative nrows")
    check(cv(n=0) == -8 and cv(n=-32) == -8 and cv(n=48) == -8, "errors: n_per_row not a multiple of 32")
    check(cv(t=Q.type_id("mlx:affine:4:64"), n=96) == -8, "errors: n_per_row not a multiple of the target group")
    nv, mnv = Q.type_id("nvfp4"), Q.type_id("mlx:nvfp4")
    st = cv(f=mnv, t=nv, n=48)
    check(st == -8 and "64" in lib.qnt_ctx_last_error(None).decode(), f"errors: nvfp4 with 48 per row -> {st}")
    check(cv(nrows=1 << 62, n=1 << 20) == -8, "errors: overflow")
    nreq.value = -5
    check(cv(nrows=0) == 0 and nreq.value == 0, "errors: nrows 0")
    check(cv(dst=a.ctypes.data + 16) == -1, "errors: overlapping buffers")
    check(cv(f=q40, t=q40, dst=a.ctypes.data) == -1, "errors: in place")
    # EXACT_ONLY on a lossy pair of exactly representable data (zeros) succeeds
    z = Q.quantize("q4_K", np.zeros((2, 256), np.float32))
    out, k = Q.convert("q4_K", z, "iq4_nl", 256, flags=Q.CONVERT_FLAG_EXACT_ONLY)
    check(k == 0, "errors: EXACT_ONLY on zeros through a lossy pair")
    # the error message names the pair
    rng = np.random.default_rng(5)
    raw = rng.integers(0, 256, (2, Q.row_size("mlx:affine:8:32", 64)), dtype=np.uint8)
    try:
        Q.convert("mlx:affine:8:32", raw, "q8_0", 64, flags=Q.CONVERT_FLAG_EXACT_ONLY)
        fail("errors: EXACT_ONLY on random bytes succeeded")
    except Q.QntError as e:
        check(e.status == -3 and "mlx:affine:8:32 -> q8_0" in str(e) and "row 0, block 0" in str(e),
              f"errors: EXACT_ONLY message {e}")
    print("errors: status codes checked")


# ---------------------------------------------------------------------------
# Real MLX

def mlx_split(name, out, n):
    """Interleaved mlx:* blocks -> MLX's planar arrays (wq, scales, biases)."""
    bb = Q.block_bytes(name)
    nrows = out.shape[0]
    b = out.reshape(nrows, -1, bb)
    if name in AFF:
        f = AFF[name]
        cb, ds = f["block"] * f["bits"] // 8, 4 if f["pd"] == "f32" else 2
        raw_t = np.float32 if f["pd"] == "f32" else np.uint16
        wq = np.ascontiguousarray(b[..., :cb]).reshape(nrows, -1).view(np.uint32)
        sc = np.ascontiguousarray(b[..., cb:cb + ds]).view(raw_t).reshape(nrows, -1)
        bi = np.ascontiguousarray(b[..., cb + ds:]).view(raw_t).reshape(nrows, -1)
        return wq, sc, bi
    k = bb - 1
    return np.ascontiguousarray(b[..., :k]).reshape(nrows, -1).view(np.uint32), np.ascontiguousarray(b[..., k]), None


def mlx_join(name, wq, sc, bi):
    nrows = wq.shape[0]
    ng = sc.shape[1]
    w = np.ascontiguousarray(wq).view(np.uint8).reshape(nrows, ng, -1)
    parts = [w, np.ascontiguousarray(sc).view(np.uint8).reshape(nrows, ng, -1)]
    if bi is not None:
        parts.append(np.ascontiguousarray(bi).view(np.uint8).reshape(nrows, ng, -1))
    return np.concatenate(parts, -1).reshape(nrows, -1)


def to_mx32(a, pd):
    if pd == "f32":
        return mx.array(a.view(np.float32))
    if pd == "f16":
        return mx.array(a.view(np.float16)).astype(mx.float32)
    return mx.array(b2f(a.view(np.uint16)))


def real_mlx(rng):
    t0 = time.time()
    n_checked = 0
    # GGUF (gguf-py's quantizer, plus structured blocks) -> mlx affine -> mx.dequantize
    for s, bits in [("q4_0", 4), ("q4_1", 4), ("q5_0", 5), ("q5_1", 5), ("q8_0", 8)]:
        for data in ("gguf-py", "struct"):
            if data == "gguf-py":
                raw = gq.quantize(floats(rng, 16, 512), getattr(gguf.GGMLQuantizationType, s.upper()))
            else:
                raw = structured(s, rng, 16, 512, specials=False)
            ref = gq.dequantize(raw, getattr(gguf.GGMLQuantizationType, s.upper())).reshape(16, 512)
            for g in GROUPS:
                for dt in DTYPES:
                    t = mlx_name(bits, g, dt)
                    out, nreq = Q.convert(s, raw, t, 512)
                    wq, sc, bi = mlx_split(t, out, 512)
                    d = np.array(mx.dequantize(mx.array(wq), to_mx32(sc, dt), to_mx32(bi, dt), group_size=g,
                                               bits=bits))
                    exact = blockwise_same(ref, d, 16, g)
                    check(nreq == int((~exact).sum()),
                          f"mlx {s} ({data}) -> {t}: {nreq} requantized, mx.dequantize differs from gguf-py in "
                          f"{int((~exact).sum())} groups")
                    if data == "gguf-py" and dt != "bf16" and g == 32:
                        check(nreq == 0, f"mlx {s} -> {t}: {nreq} groups of gguf-py's blocks requantized")
                    n_checked += exact.size
    # ggml mxfp4 / nvfp4 -> MLX
    for s, mode in [("mxfp4", "mxfp4"), ("nvfp4", "nvfp4")]:
        for data in ("quant", "special"):
            if data == "quant":
                x = floats(rng, 16, 512)
                raw = gq.quantize(x, gguf.GGMLQuantizationType.MXFP4) if s == "mxfp4" else Q.quantize(s, x)
            else:
                raw = fp4_special(s, rng, 16, 512)
            ref = gq.dequantize(raw, getattr(gguf.GGMLQuantizationType, s.upper())).reshape(16, 512)
            for dt in DTYPES:
                t = fp_name(mode, dt)
                out, nreq = Q.convert(s, raw, t, 512)
                wq, sc, _ = mlx_split(t, out, 512)
                d = np.array(mx.dequantize(mx.array(wq), mx.array(sc), group_size=FP4[t][0], bits=4, mode=mode,
                                           dtype=mx.float32))
                exact = blockwise_same(ref, d, 16, Q.block_size(t))
                check(nreq == int((~exact).sum()),
                      f"mlx {s} ({data}) -> {t}: {nreq} requantized, mx.dequantize differs from gguf-py in "
                      f"{int((~exact).sum())} blocks")
                if data == "quant":
                    check(nreq == 0, f"mlx {s} -> {t}: {nreq} blocks of quantized data requantized")
                n_checked += exact.size
    # mx.quantize -> mlx:* -> GGUF -> gguf-py's dequantize == mx.dequantize
    for bits, g, t in [(4, 32, "q4_1"), (4, 64, "q4_1"), (4, 128, "q4_1"), (5, 32, "q5_1"), (5, 128, "q5_1"),
                       (8, 32, "q8_0"), (4, 32, "q4_0")]:
        for dt in DTYPES:
            x = floats(rng, 16, 512)
            xm = mx.array(x).astype({"f32": mx.float32, "f16": mx.float16, "bf16": mx.bfloat16}[dt])
            wq, sc, bi = mx.quantize(xm, group_size=g, bits=bits)
            raw_t = np.float32 if dt == "f32" else np.uint16
            scn = np.array(sc.view(mx.uint32 if dt == "f32" else mx.uint16)).view(raw_t)
            bin_ = np.array(bi.view(mx.uint32 if dt == "f32" else mx.uint16)).view(raw_t)
            s = mlx_name(bits, g, dt)
            raw = mlx_join(s, np.array(wq), scn, bin_)
            ref = np.array(mx.dequantize(wq, sc.astype(mx.float32), bi.astype(mx.float32), group_size=g, bits=bits))
            check(np.array_equal(u32(ref), u32(Q.dequantize(s, raw, 512))),
                  f"mlx {s}: libqnt's dequantize of mx.quantize's arrays differs from MLX")
            out, nreq = Q.convert(s, raw, t, 512)
            back = gq.dequantize(out, getattr(gguf.GGMLQuantizationType, t.upper())).reshape(16, 512)
            exact = blockwise_same(ref, back, 16, 32)
            check(nreq == int((~exact).sum()),
                  f"mlx {s} -> {t}: {nreq} requantized, gguf-py differs from mx.dequantize in "
                  f"{int((~exact).sum())} blocks")
            if dt == "f16" and t != "q4_0" and t != "q8_0":
                check(nreq == 0, f"mlx {s} -> {t}: {nreq} blocks of mx.quantize's f16 groups requantized")
            count(f"mx.quantize {s} -> {t} exact", int(exact.sum()))
            count(f"mx.quantize {s} -> {t} blocks", exact.size)
            n_checked += exact.size
    for mode, t in [("mxfp4", "mxfp4"), ("nvfp4", "nvfp4")]:
        for dt in DTYPES:
            x = floats(rng, 16, 512)
            xm = mx.array(x).astype({"f32": mx.float32, "f16": mx.float16, "bf16": mx.bfloat16}[dt])
            wq, sc = mx.quantize(xm, mode=mode)
            s = fp_name(mode, dt)
            raw = mlx_join(s, np.array(wq), np.array(sc), None)
            ref = np.array(mx.dequantize(wq, sc, group_size=FP4[s][0], bits=4, mode=mode, dtype=mx.float32))
            out, nreq = Q.convert(s, raw, t, 512)
            back = gq.dequantize(out, getattr(gguf.GGMLQuantizationType, t.upper())).reshape(16, 512)
            exact = blockwise_same(ref, back, 16, Q.block_size(t))
            check(nreq == 0 and exact.all(), f"mlx {s} -> {t}: {nreq} requantized, {int((~exact).sum())} differ")
            n_checked += exact.size
    bf = [(k, v) for k, v in stats.items() if k.startswith("mx.quantize") and k.endswith("exact")]
    summary = ", ".join(f"{k[12:-6]} {v}/{stats[k[:-5] + 'blocks']}" for k, v in bf)
    print(f"real MLX: {n_checked} blocks/groups compared, {time.time() - t0:.1f} s")
    print(f"  exact GGUF blocks from mx.quantize's groups: {summary}")


def main():
    global gguf, gq, mx
    t0 = time.time()
    rng = np.random.default_rng(20260901)
    kinds()
    errors()
    copies(rng)
    gguf = Q.require("gguf")
    import gguf.quants
    gq = gguf.quants
    family_pairs(rng)
    lossy_and_floats(rng)
    threads(rng)
    mlx = Q.require("mlx")
    import mlx.core
    mx = mlx.core
    mx.set_default_device(mx.cpu)
    print(f"mlx {mx.__version__} on {mx.default_device()}")
    real_mlx(rng)
    print(f"{len(failures)} failures, {time.time() - t0:.1f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
