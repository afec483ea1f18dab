# SPDX-License-Identifier: MIT
"""Random-byte dequantization, libqnt against ggml itself (libggml-base from
llama-cpp-python, loaded with ctypes into the same process).

For every ggml format of libqnt's registry (id < 256, QNT_TYPE_FLAG_DEQUANTIZE)
that ggml can dequantize (its type traits have a to_float; q8_K through the
exported dequantize_row_q8_K), many blocks of random bytes (every byte
random: NaN, inf and subnormal scales, unused codes and grid indices) are
dequantized by both, and the floats must be identical bit for bit (uint32
views, NaN payloads and signs included). The blocks come from the
generator of tests/ref/test_dequant_fuzz.py (random_blocks; another seed and
4x as many blocks here), which checks libqnt's NaN/inf rules on its own
draw.

Formats ggml cannot dequantize (no to_float: f32, q8_1) are listed and
skipped. A format whose ggml type name differs from libqnt's fails (the
enums drifted apart).

One known difference is allowed, exactly and nowhere else: f16 signalling
NaNs. ggml's fp16 -> fp32 (ggml_compute_fp16_to_fp32, which rescales the
value with a float multiplication) quiets them, setting bit 22; libqnt keeps
the bits, as gguf-py (numpy's astype(float32)) does, which
tests/ref/test_gguf_legacy.py requires over all 65536 patterns. The
references disagree; the test checks that every differing float is a libqnt
signalling NaN whose ggml value is the same bits | 0x00400000, and prints
how many there were. (In the block formats a NaN scale goes through a
multiplication, which quiets it in both.)

Exit status: 0 pass, 1 fail, 77 skip (llama_cpp not installed and
QNT_REQUIRE_INTEROP unset).
"""
import ctypes
import sys
import time
import warnings

import numpy as np

import ggmllib

GGML_PATH = ggmllib.find_ggml_base()  # exits 77 when llama_cpp is missing

import qntlib  # noqa: E402
import test_dequant_fuzz as fuzz  # noqa: E402  (tests/ref: the random blocks)

warnings.filterwarnings("ignore", category=RuntimeWarning)
np.seterr(all="ignore")

U8, U32, F32 = np.uint8, np.uint32, np.float32
SEED = 0x67676d6c  # "ggml"
# GGML_TYPE_COUNT of the ggml in llama-cpp-python 0.3.36 (ggml.h);
# ggml_get_type_traits asserts on ids past it
GGML_TYPE_COUNT = 43
BLOCKS = 65536  # random blocks per format (4x that many elements for f16, bf16)
FAILURES = []


def snan_quieted(a_bits, b_bits):
    """a is a float32 signalling NaN and b is a with the quiet bit set."""
    snan = ((a_bits & 0x7F800000) == 0x7F800000) & ((a_bits & 0x003FFFFF) != 0) & ((a_bits & 0x00400000) == 0)
    return snan & (b_bits == (a_bits | 0x00400000))


# name -> (description, predicate on (libqnt bits, ggml bits) of differing floats)
KNOWN = {"f16": ("signalling NaN quieted by ggml (bit 22), kept by libqnt and gguf-py", snan_quieted)}


def fail(msg):
    FAILURES.append(msg)
    print("FAIL: " + msg)


class GgmlDequant:
    """ggml's to_float per type id (ggml_get_type_traits), and q8_K's
    dequantize_row_q8_K, which has no base traits."""

    def __init__(self, path):
        lib = self.lib = ctypes.CDLL(path)
        lib.ggml_get_type_traits.restype = ctypes.POINTER(ggmllib.TypeTraits)
        lib.ggml_get_type_traits.argtypes = [ctypes.c_int]
        lib.ggml_row_size.restype = ctypes.c_size_t
        lib.ggml_row_size.argtypes = [ctypes.c_int, ctypes.c_int64]
        lib.dequantize_row_q8_K.restype = None
        lib.dequantize_row_q8_K.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]

    def traits(self, t):
        tr = self.lib.ggml_get_type_traits(t).contents
        return tr.type_name.decode() if tr.type_name else None, tr

    def to_float(self, name, t):
        """A function (src pointer, dst pointer, n) or None."""
        if name == "q8_K":
            return self.lib.dequantize_row_q8_K
        _, tr = self.traits(t)
        return ggmllib.TO_FLOAT(tr.to_float) if tr.to_float else None


def main():
    t0 = time.time()
    print(f"ggml: {GGML_PATH} (llama-cpp-python {ggmllib.llama_cpp_version()})")
    g = GgmlDequant(GGML_PATH)
    rng = np.random.default_rng(SEED)
    compared, skipped, lines = [], [], []
    total = 0
    for info in qntlib.registry():
        name, t = info["name"], info["type"]
        if t >= 256 or not info["flags"] & qntlib.TYPE_FLAG_DEQUANTIZE:
            continue
        if t >= GGML_TYPE_COUNT:
            skipped.append(f"{name} (id {t} is not in ggml's enum)")
            continue
        gname, tr = g.traits(t)
        if gname != name:
            fail(f"type {t}: ggml calls it {gname!r}, libqnt {name!r}")
            continue
        if tr.blck_size != info["block_size"] or tr.type_size != info["block_bytes"]:
            fail(f"{name}: ggml block {tr.blck_size} x {tr.type_size} bytes, libqnt {info['block_size']} x "
                 f"{info['block_bytes']}")
            continue
        fn = g.to_float(name, t)
        if fn is None:
            skipped.append(f"{name} (ggml has no to_float)")
            continue
        raw, n = fuzz.random_blocks(info, rng, BLOCKS if info["block_size"] > 1 else 4 * BLOCKS)
        a = qntlib.dequantize(name, raw, n)
        b = np.zeros_like(a)
        fn(raw.ctypes.data, b.ctypes.data, b.size)
        bs = info["block_size"]
        av, bv = a.view(U32).reshape(-1, bs), b.view(U32).reshape(-1, bs)
        ne = av != bv
        known = ""
        if name in KNOWN and ne.any():
            desc, pred = KNOWN[name]
            ok = np.zeros_like(ne)
            ok[ne] = pred(av[ne], bv[ne])
            if ok.any():
                known = f" ({int(ok.sum())} floats differ as known: {desc})"
            ne &= ~ok
        nblocks = av.shape[0]
        total += nblocks
        bad = int(ne.any(axis=1).sum())
        n_nf = int((~np.isfinite(b)).sum())
        lines.append(f"  {name:8s} {nblocks:6d} blocks ({n_nf:7d} NaN/inf floats in ggml's output), "
                     f"{bad} blocks differ{known}")
        compared.append(name)
        if bad:
            i = int(np.argmax(ne.any(axis=1)))
            j = int(np.argmax(ne[i]))
            blk = raw.reshape(-1, info["block_bytes"])[i]
            nan_only = bool(np.all(np.isnan(a.reshape(-1, bs)[ne]) & np.isnan(b.reshape(-1, bs)[ne])))
            fail(f"{name}: {bad}/{nblocks} random blocks differ from ggml ({int(ne.sum())} floats"
                 f"{', all of them NaN in both: payload or sign' if nan_only else ''}); first: block {i}, "
                 f"element {j}: libqnt {av[i, j]:#010x} ggml {bv[i, j]:#010x}; bytes {blk.tobytes().hex()}")
    print("\n".join(lines))
    print(f"compared {len(compared)} formats, {total} random blocks: {', '.join(compared)}")
    if skipped:
        print(f"not compared: {', '.join(skipped)}")
    print(f"{time.time() - t0:.1f} s")
    if FAILURES:
        print(f"{len(FAILURES)} failure(s)")
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
