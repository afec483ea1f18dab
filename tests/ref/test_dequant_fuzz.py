# SPDX-License-Identifier: MIT
"""Random-byte fuzzing of every dequantizer in the registry.

For every format with QNT_TYPE_FLAG_DEQUANTIZE (ggml, MLX and float formats,
activation formats included), many blocks of random bytes (every byte drawn
uniformly, so scales take every value: subnormals, inf, NaN, unused codes)
are dequantized by libqnt, on the reference backend ("cpu") with one thread
and on the best backend ("auto") with one and two threads. The test fails
when

  - qnt_dequantize returns an error or crashes the process,
  - the backends or thread counts give different floats (uint32 views: NaN
    payloads included),
  - the set of NaN/inf outputs differs, element for element, from the one
    the format's rule below predicts, in either direction: an unexpected
    NaN/inf is a bug, and so is a finite value where the rule says the
    stored scale makes the result NaN/inf,
  - a format of the registry has no rule here (a new format must add one),
  - for a format whose rule allows NaN/inf, the random blocks never hit that
    case, or never produced an all-finite block (so the rule was really
    tested both ways).

The rules, per family (T = 2^128 - 2^103: a value whose exact magnitude is
>= T rounds to infinity in float32; "overflows" means the IEEE float32
operation gives +-inf from finite operands):

  f32, f16, bf16 (one element per block): an output is non-finite iff the
      stored element is (f16 and bf16 widen exactly).
  fp16 scale fields (q4_0, q5_0, q8_0, q8_1: d; q4_1, q5_1: d, m; q2_K,
      q4_K, q5_K: d, dmin; q3_K, q6_K, iq2_xxs, iq2_xs, iq2_s, iq3_xxs,
      iq3_s, iq1_s, iq4_nl, iq4_xs, tq1_0, tq2_0, q1_0, q2_0: d): the whole
      block is non-finite iff one of the listed fp16 fields is NaN or inf,
      else the whole block is finite. With finite fields the values are
      bounded by 65504 times small integers (no overflow); with a NaN/inf
      field every element is inf times a non-zero factor or inf * 0 = NaN,
      or NaN (q8_1's s field is not used by its dequantizer).
  iq1_m: as above, for the fp16 super-scale assembled from the top nibbles
      of its four 16-bit scale words (bytes 48..55).
  q8_K: float32 d times int8 code: element j is non-finite iff d is NaN/inf
      or |d * q_j| >= T.
  mxfp4 (ggml): E8M0 byte e read as 2^(e - 128) (ggml's "half" scale, never
      NaN) times the doubled E2M1 value k_j in {0, +-1, 2, 3, 4, 6, 8, 12}:
      element j is non-finite iff |k_j| * 2^(e - 128) >= T (k_j = 0 gives 0).
  nvfp4 (ggml): UE4M3 scales decode to finite values (0x7f reads as 0, the
      sign bit is ignored) and |E2M1| <= 6: never non-finite.
  MLX affine (scale s and bias b in the format's dtype, widened to float32;
      y = f32(f32(q * s) + b)): element j is non-finite iff s or b is NaN/inf
      or the float32 product q_j * s or the float32 sum (q_j * s) + b
      overflows (possible with f32 and bf16 scales, not with f16).
  MLX mxfp4 / mxfp8 (E8M0 scale byte e read as 2^(e - 127): e = 255 is inf):
      element j is non-finite iff e = 255, or (mxfp8) its E4M3 code is one
      of MLX's NaNs (0x7f, 0xff), or |value_j| * 2^(e - 127) >= T.
  MLX nvfp4 (E4M3 scale byte, times E2M1 <= 6): element j is non-finite iff
      the scale byte is one of the E4M3 NaNs 0x7f, 0xff.

Exit status: 0 pass, 1 fail.
"""
import sys
import time
import warnings

import numpy as np

import qntlib

warnings.filterwarnings("ignore", category=RuntimeWarning)
np.seterr(all="ignore")

U8, U16, U32, F32, F64 = np.uint8, np.uint16, np.uint32, np.float32, np.float64
T_OVF = 2.0 ** 128 - 2.0 ** 103
SEED = 0x66757a7a  # "fuzz"
BLOCKS = 16384  # random blocks per format (65536 for the one-element float formats)
PER_ROW = 8  # blocks per row

FAILURES = []


def fail(msg):
    FAILURES.append(msg)
    print("FAIL: " + msg)


# ---------------------------------------------------------------------------
# Field decoders (vectorised over blocks)

def u16_at(blk, off):
    return blk[:, off].astype(U16) | (blk[:, off + 1].astype(U16) << np.uint16(8))


def u32_at(blk, off):
    return (blk[:, off].astype(U32) | (blk[:, off + 1].astype(U32) << np.uint32(8)) |
            (blk[:, off + 2].astype(U32) << np.uint32(16)) | (blk[:, off + 3].astype(U32) << np.uint32(24)))


def fp16_nonfinite(u):
    return (u & 0x7C00) == 0x7C00


def bf16_nonfinite(u):
    return (u & 0x7F80) == 0x7F80


def f32_nonfinite(u):
    return (u & 0x7F800000) == 0x7F800000


def bits_lsb(blk, off, n, b):
    """n codes of b bits from an LSB-first bitstream starting at byte off."""
    nbytes = n * b // 8
    bits = np.unpackbits(blk[:, off:off + nbytes], axis=1, bitorder="little").reshape(blk.shape[0], n, b)
    return (bits.astype(np.int64) << np.arange(b, dtype=np.int64)).sum(axis=2)


E2M1 = np.array([0, .5, 1, 1.5, 2, 3, 4, 6, -0., -.5, -1, -1.5, -2, -3, -4, -6], dtype=F64)
KVALUES_MXFP4 = 2 * E2M1  # ggml stores E2M1 doubled: 0, 1, 2, 3, 4, 6, 8, 12


def e4m3_magnitude(c):
    """|E4M3| of codes c (int array), NaN codes (0x7f, 0xff) excluded by the caller."""
    c = c & 0x7F
    e, m = (c >> 3) & 0xF, c & 7
    return np.where(e == 0, m * 2.0 ** -9, (1 + m / 8.0) * np.exp2(e.astype(F64) - 7))


def dtype_value(blk, off, dt):
    """Scale/bias fields of an MLX dtype as float32 values."""
    if dt == "f32":
        return u32_at(blk, off).view(F32)
    u = u16_at(blk, off)
    if dt == "f16":
        return u.view(np.float16).astype(F32)
    return (u.astype(U32) << np.uint32(16)).view(F32)


# ---------------------------------------------------------------------------
# The rules: expected non-finite mask (nblocks x block_size) from the bytes.

def rule_all(cond, n):
    return np.repeat(cond[:, None], n, axis=1)


FP16_FIELDS = {  # ggml formats: byte offsets of the fp16 fields that scale the block, block bytes
    "q4_0": ([0], 18), "q4_1": ([0, 2], 20), "q5_0": ([0], 22), "q5_1": ([0, 2], 24), "q8_0": ([0], 34),
    "q8_1": ([0], 36), "q2_K": ([80, 82], 84), "q3_K": ([108], 110), "q4_K": ([0, 2], 144),
    "q5_K": ([0, 2], 176), "q6_K": ([208], 210), "iq2_xxs": ([0], 66), "iq2_xs": ([0], 74),
    "iq3_xxs": ([0], 98), "iq1_s": ([0], 50), "iq4_nl": ([0], 18), "iq3_s": ([0], 110), "iq2_s": ([0], 82),
    "iq4_xs": ([0], 136), "tq1_0": ([52], 54), "tq2_0": ([64], 66), "q1_0": ([0], 18), "q2_0": ([0], 18),
}


def rule_for(info):
    """Returns (family, fn(blocks) -> expected mask, block bytes it expects), or None."""
    name, bs = info["name"], info["block_size"]
    if name == "f32":
        return "float element", lambda b: f32_nonfinite(u32_at(b, 0))[:, None], 4
    if name == "f16":
        return "float element", lambda b: fp16_nonfinite(u16_at(b, 0))[:, None], 2
    if name == "bf16":
        return "float element", lambda b: bf16_nonfinite(u16_at(b, 0))[:, None], 2
    if name in FP16_FIELDS:
        offs, bb = FP16_FIELDS[name]

        def fp16_rule(b, offs=offs):
            bad = np.zeros(b.shape[0], dtype=bool)
            for o in offs:
                bad |= fp16_nonfinite(u16_at(b, o))
            return rule_all(bad, bs)
        return f"fp16 fields at {offs}", fp16_rule, bb
    if name == "iq1_m":
        def iq1m(b):
            sc = [u16_at(b, 48 + 2 * k) for k in range(4)]
            d = (sc[0] >> 12) | ((sc[1] >> 8) & 0x00F0) | ((sc[2] >> 4) & 0x0F00) | (sc[3] & 0xF000)
            return rule_all(fp16_nonfinite(d), bs)
        return "assembled fp16 super-scale", iq1m, 56
    if name == "q8_K":
        def q8k(b):
            d = u32_at(b, 0).view(F32).astype(F64)
            q = b[:, 4:4 + 256].view(np.int8).astype(F64)
            return ~np.isfinite(d)[:, None] | (np.abs(d[:, None] * q) >= T_OVF)
        return "f32 scale, overflow", q8k, 292
    if name == "mxfp4":
        def mxfp4(b):
            e = b[:, 0].astype(F64)
            qs = b[:, 1:17]
            codes = np.concatenate([qs & 0xF, qs >> 4], axis=1)
            return np.abs(KVALUES_MXFP4[codes] * np.exp2(e - 128)[:, None]) >= T_OVF
        return "E8M0 half scale, overflow", mxfp4, 17
    if name == "nvfp4":
        return "never", lambda b: np.zeros((b.shape[0], bs), dtype=bool), 36
    if name.startswith("mlx:"):
        p = qntlib.mlx_params_from_type(info["type"])
        dt = {v: k for k, v in qntlib.MLX_DTYPES.items()}[p.dtype]
        gs = p.group_size
        if p.mode == qntlib.MLX_MODES["affine"]:
            nb = gs * p.bits // 8
            ds = 4 if dt == "f32" else 2

            def affine(b, nb=nb, ds=ds, bits=p.bits):
                q = bits_lsb(b, 0, gs, bits).astype(F32)
                s = dtype_value(b, nb, dt)
                bias = dtype_value(b, nb + ds, dt)
                prod = q * s[:, None]  # float32 IEEE product
                tot = prod + bias[:, None]  # float32 IEEE sum
                bad = (~np.isfinite(s) | ~np.isfinite(bias))[:, None]
                return bad | (~np.isfinite(prod)) | (~np.isfinite(tot))
            return f"MLX affine {dt} scale/bias, overflow", affine, nb + 2 * ds
        if p.mode in (qntlib.MLX_MODES["mxfp4"], qntlib.MLX_MODES["mxfp8"]):
            fp8 = p.mode == qntlib.MLX_MODES["mxfp8"]
            nb = gs * p.bits // 8

            def mx(b, nb=nb, fp8=fp8):
                e = b[:, nb].astype(F64)
                if fp8:
                    codes = b[:, :nb].astype(np.int64)
                    nan = (codes & 0x7F) == 0x7F
                    mag = np.where(nan, 0.0, e4m3_magnitude(codes))
                else:
                    codes = bits_lsb(b, 0, gs, 4)
                    nan = np.zeros(codes.shape, dtype=bool)
                    mag = np.abs(E2M1[codes])
                return (e == 255)[:, None] | nan | (mag * np.exp2(e - 127)[:, None] >= T_OVF)
            return "MLX E8M0 scale, overflow" + (", E4M3 NaN codes" if fp8 else ""), mx, nb + 1
        if p.mode == qntlib.MLX_MODES["nvfp4"]:
            nb = gs * p.bits // 8

            def nv(b, nb=nb):
                return rule_all((b[:, nb] & 0x7F) == 0x7F, gs)
            return "MLX E4M3 scale NaN", nv, nb + 1
    return None


# ---------------------------------------------------------------------------

def random_blocks(info, rng, nblocks=None):
    """nblocks random blocks of a format as (nrows, row bytes) uint8 and
    n_per_row; nblocks defaults to BLOCKS (65536 for one-element formats)."""
    bs, bb = info["block_size"], info["block_bytes"]
    if nblocks is None:
        nblocks = BLOCKS if bs > 1 else 65536
    per_row = PER_ROW if bs > 1 else 256
    nrows = nblocks // per_row
    raw = rng.integers(0, 256, size=(nrows, per_row * bb), dtype=U8)
    return raw, per_row * bs


def contexts():
    """(label, ctx handle) for the reference backend and the best one."""
    out = [("cpu/1", qntlib.ctx_create(1, "cpu"))]
    best = qntlib.ctx_create(1)
    out.append((f"{qntlib.ctx_backend_name(best)}/1", best))
    out.append((f"{qntlib.ctx_backend_name(best)}/2", qntlib.ctx_create(2)))
    return out


def main():
    t0 = time.time()
    rng = np.random.default_rng(SEED)
    ctxs = contexts()
    print(f"contexts: {', '.join(k for k, _ in ctxs)}")
    n_formats = 0
    total_blocks = 0
    summary = []
    for info in qntlib.registry():
        if not info["flags"] & qntlib.TYPE_FLAG_DEQUANTIZE:
            continue
        name, bs = info["name"], info["block_size"]
        r = rule_for(info)
        if r is None:
            fail(f"{name}: no NaN/inf rule in test_dequant_fuzz.py (a new format must add one)")
            continue
        family, rule, want_bb = r
        if info["block_bytes"] != want_bb:
            fail(f"{name}: block of {info['block_bytes']} bytes, the rule expects {want_bb}")
            continue
        n_formats += 1
        raw, n = random_blocks(info, rng)
        ys = {}
        for label, ctx in ctxs:
            try:
                ys[label] = qntlib.dequantize(name, raw, n, ctx=ctx)
            except qntlib.QntError as e:
                fail(f"{name} on {label}: {e}")
        if len(ys) != len(ctxs):
            continue
        y0 = ys[ctxs[0][0]].view(U32)
        for label, y in ys.items():
            ne = y.view(U32) != y0
            if ne.any():
                i = int(np.argmax(ne.ravel()))
                fail(f"{name}: {label} differs from {ctxs[0][0]} in {int(ne.sum())} floats "
                     f"(first: element {i}, {y.ravel()[i]!r} vs {ys[ctxs[0][0]].ravel()[i]!r})")
        blocks = raw.reshape(-1, info["block_bytes"])
        got = ~np.isfinite(ys[ctxs[0][0]].reshape(blocks.shape[0], bs))
        want = rule(blocks)
        total_blocks += blocks.shape[0]
        unexpected = got & ~want
        missing = want & ~got
        nf_blocks = int(want.any(axis=1).sum())
        line = (f"  {name:20s} {family:40s} {blocks.shape[0]:6d} blocks, {nf_blocks:5d} with NaN/inf by the "
                f"rule, {int(got.sum()):7d} NaN/inf floats")
        summary.append(line)
        if unexpected.any() or missing.any():
            b = int(np.argmax((unexpected | missing).any(axis=1)))
            fail(f"{name}: {int(unexpected.sum())} NaN/inf floats the rule does not allow, {int(missing.sum())} "
                 f"finite floats where it expects NaN/inf; first block {b}: bytes {blocks[b].tobytes().hex()}, "
                 f"values {ys[ctxs[0][0]].reshape(blocks.shape[0], bs)[b][:8]}...")
        if family != "never":
            if nf_blocks == 0:
                fail(f"{name}: no random block hit the NaN/inf case of the rule: raise BLOCKS")
            if nf_blocks == blocks.shape[0]:
                fail(f"{name}: no random block was all finite")
    for _, ctx in ctxs:
        qntlib.ctx_destroy(ctx)
    print("\n".join(summary))
    print(f"{n_formats} formats, {total_blocks} random blocks, each dequantized on {len(ctxs)} contexts, "
          f"{time.time() - t0:.1f} s")
    if FAILURES:
        print(f"{len(FAILURES)} failure(s)")
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
