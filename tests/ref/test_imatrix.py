# SPDX-License-Identifier: MIT
"""Importance matrices from llama.cpp's files, through libqnt's
qnt_imatrix_* API (ctypes), and the strict GGUF reader under it.

Formats (llama.cpp tools/imatrix/imatrix.cpp, common/imatrix-loader.cpp,
tools/quantize/quantize.cpp):
  GGUF: general.type = "imatrix", imatrix.datasets (array of strings),
  imatrix.chunk_count, imatrix.chunk_size (UINT32); per weight tensor NAME:
  NAME.in_sum2 (F32, ne [n_per_row, n_experts], sums of squared
  activations), NAME.counts (F32, ne [1, n_experts]), optionally NAME.in_sum.
  Importance = in_sum2 / float(lround(count)); 1 where the count is 0.
  Legacy .dat: int32 n_entries; per entry int32 name length, name, int32
  ncall, int32 nval, nval float32 = (sum / count) * ncall; then optionally
  int32 chunk count and int32 length + data set name. Importance = value /
  float(ncall) (the value itself if ncall <= 0).

1. GGUF files written with gguf-py's GGUFWriter, with the keys and tensor
   names llama-imatrix writes (dense and MoE entries, a zero count, in_sum
   tensors, an extra unrelated tensor): every vector equals numpy's
   in_sum2 / float32(round(count)) bit for bit; names, shapes, experts,
   datasets, chunk count and size are read back.
2. The same through a hand-made GGUF holding every metadata value type
   (nested arrays too), general.alignment 64 and a version-2 header.
3. Legacy .dat files made with struct.pack as llama-imatrix writes them
   (full trailer, chunk count only, no trailer, ncall 0): every vector equals
   numpy's stored / float32(ncall) bit for bit.
4. Malformed files never crash and return QNT_E_FORMAT with a message that
   names the file and a byte offset: a valid GGUF and a valid .dat truncated
   at every offset (for .dat, except the two valid lengths), bad magic,
   version 1, big-endian, huge key/tensor counts, huge string, key and array
   lengths, unknown value and tensor types, bool 2, arrays nested too deep,
   too many dimensions, element-count overflow, rows not a multiple of the
   block, misaligned, out-of-file and overlapping data, duplicate keys and
   tensor names, bad general.alignment, missing or mistyped imatrix keys,
   general.type not imatrix, sums without counts, non-f32 tensors, NaN or
   negative values and counts, legacy counts and lengths that do not fit,
   stray trailing bytes; plus 3000 random byte corruptions (OK or
   QNT_E_FORMAT, never anything else). A missing file gives QNT_E_NOT_FOUND.
   A model-like GGUF written by gguf-py (quantized tensors, a 3000-string
   array, alignment 64) passes the reader and is refused as no imatrix.
5. The vectors drive qnt_quantize: bytes with an expert's importance from
   the file equal those with the same numpy vector.

Exit status: 0 pass, 1 fail, 77 skip (gguf missing).
"""
import ctypes
import os
import shutil
import struct
import sys
import tempfile

import numpy as np

import qntlib

gguf = qntlib.require("gguf")

F32, U8 = np.float32, np.uint8
L = qntlib._lib

QNT_OK, QNT_E_INVALID_ARG, QNT_E_NOT_FOUND, QNT_E_IO, QNT_E_FORMAT = 0, -1, -9, -10, -11
QNT_IMATRIX_GGUF, QNT_IMATRIX_LEGACY = 1, 2


class ImatrixInfo(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("format", ctypes.c_int32), ("n_entries", ctypes.c_int64),
                ("n_datasets", ctypes.c_int64), ("chunk_count", ctypes.c_int32), ("chunk_size", ctypes.c_int32)]


L.qnt_imatrix_open.restype = ctypes.c_int
L.qnt_imatrix_open.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
L.qnt_imatrix_close.restype = None
L.qnt_imatrix_close.argtypes = [ctypes.c_void_p]
L.qnt_imatrix_count.restype = ctypes.c_int64
L.qnt_imatrix_count.argtypes = [ctypes.c_void_p]
L.qnt_imatrix_name.restype = ctypes.c_char_p
L.qnt_imatrix_name.argtypes = [ctypes.c_void_p, ctypes.c_int64]
L.qnt_imatrix_dataset.restype = ctypes.c_char_p
L.qnt_imatrix_dataset.argtypes = [ctypes.c_void_p, ctypes.c_int64]
L.qnt_imatrix_get_info.restype = ctypes.c_int
L.qnt_imatrix_get_info.argtypes = [ctypes.c_void_p, ctypes.POINTER(ImatrixInfo)]
L.qnt_imatrix_shape.restype = ctypes.c_int
L.qnt_imatrix_shape.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_int64),
                                ctypes.POINTER(ctypes.c_int64)]
L.qnt_imatrix_get.restype = ctypes.c_int
L.qnt_imatrix_get.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int64,
                              ctypes.POINTER(ctypes.POINTER(ctypes.c_float)), ctypes.POINTER(ctypes.c_int64)]

FAILURES = []
STATS = {"gguf_files": 0, "dat_files": 0, "floats": 0, "float_mismatch": 0, "malformed": 0, "malformed_bad": 0}
TMP = tempfile.mkdtemp(prefix="qnt-imatrix-")


def fail(msg):
    FAILURES.append(msg)
    print("FAIL: " + msg)


def last_error():
    return L.qnt_ctx_last_error(None).decode(errors="replace")


class Imatrix:
    def __init__(self, path):
        h = ctypes.c_void_p()
        self.status = L.qnt_imatrix_open(None, path.encode(), ctypes.byref(h))
        self.error = last_error() if self.status else ""
        self.h = h.value

    def close(self):
        if self.h:
            L.qnt_imatrix_close(self.h)
            self.h = None

    def info(self):
        i = ImatrixInfo()
        i.struct_size = ctypes.sizeof(i)
        assert L.qnt_imatrix_get_info(self.h, ctypes.byref(i)) == QNT_OK
        return i

    def names(self):
        return [L.qnt_imatrix_name(self.h, i).decode() for i in range(L.qnt_imatrix_count(self.h))]

    def datasets(self):
        out, i = [], 0
        while (s := L.qnt_imatrix_dataset(self.h, i)) is not None:
            out.append(s.decode())
            i += 1
        return out

    def shape(self, name):
        a, b = ctypes.c_int64(), ctypes.c_int64()
        st = L.qnt_imatrix_shape(self.h, name.encode(), ctypes.byref(a), ctypes.byref(b))
        return (a.value, b.value) if st == QNT_OK else st

    def get(self, name, expert=-1):
        p, n = ctypes.POINTER(ctypes.c_float)(), ctypes.c_int64()
        st = L.qnt_imatrix_get(self.h, name.encode(), expert, ctypes.byref(p), ctypes.byref(n))
        if st != QNT_OK:
            return st
        return np.ctypeslib.as_array(p, shape=(n.value,)).copy()


def same_bits(a, b):
    a, b = np.ascontiguousarray(a, F32), np.ascontiguousarray(b, F32)
    return a.shape == b.shape and np.array_equal(a.view(np.uint32), b.view(np.uint32))


def tmp(name):
    return os.path.join(TMP, name)


def check_vectors(im, expected, what):
    """expected: {name: (n_experts x n_per_row) float32 importance}."""
    if sorted(expected) != im.names():
        fail(f"{what}: names {im.names()} != {sorted(expected)}")
        return
    for name, v in expected.items():
        v = np.asarray(v, F32).reshape(v.shape[0] if v.ndim == 2 else 1, -1)
        if im.shape(name) != (v.shape[1], v.shape[0]):
            fail(f"{what}: shape of {name} {im.shape(name)} != {(v.shape[1], v.shape[0])}")
            continue
        got = im.get(name)
        STATS["floats"] += v.size
        if not same_bits(got, v.ravel()):
            STATS["float_mismatch"] += int(np.sum(np.asarray(got) != v.ravel())) if not isinstance(got, int) else v.size
            fail(f"{what}: values of {name} differ")
        for x in range(v.shape[0]):
            if not same_bits(im.get(name, x), v[x]):
                fail(f"{what}: expert {x} of {name} differs")
        if im.get(name, v.shape[0]) != QNT_E_INVALID_ARG or im.get(name, -2) != QNT_E_INVALID_ARG:
            fail(f"{what}: expert out of range accepted for {name}")
    if im.get("no.such.tensor") != QNT_E_NOT_FOUND or im.shape("no.such.tensor") != QNT_E_NOT_FOUND:
        fail(f"{what}: an unknown name was found")


# ---------------------------------------------------------------------------
# 1. GGUF written by gguf-py, as llama-imatrix writes it
# ---------------------------------------------------------------------------

def make_stats(rng):
    """name -> (in_sum2 [n_experts, n_per_row], counts [n_experts], in_sum or None)."""
    st = {}
    for blk in range(3):
        for t, n in (("attn_q", 64), ("attn_k", 64), ("ffn_down", 160)):
            cnt = float(rng.integers(512, 40000))
            s2 = (rng.standard_normal((1, n)) ** 2 * cnt * np.exp(rng.standard_normal(n))).astype(F32)
            st[f"blk.{blk}.{t}.weight"] = (s2, np.array([cnt], F32), (rng.standard_normal((1, n)) * cnt).astype(F32))
    # MoE: 8 experts, one never used (count 0)
    cnt = rng.integers(0, 5000, 8).astype(F32)
    cnt[5] = 0
    s2 = (rng.standard_normal((8, 96)) ** 2 * np.maximum(cnt, 1)[:, None]).astype(F32)
    s2[5] = 0
    st["blk.1.ffn_gate_exps.weight"] = (s2, cnt, None)
    # fractional counts (llama.cpp rounds them)
    st["output.weight"] = ((rng.random((1, 32)) * 7).astype(F32), np.array([2.5], F32), None)
    return st


def expected_importance(stats):
    out = {}
    for name, (s2, cnt, _) in stats.items():
        c = np.array([np.float32(np.floor(float(x) + 0.5)) for x in cnt], F32)  # lround, non-negative
        v = np.where(c[:, None] > 0, s2 / np.where(c > 0, c, 1)[:, None], F32(1)).astype(F32)
        out[name] = v
    return out


def write_gguf_imatrix(path, stats, datasets=("wiki.train.raw",), chunk_count=64, chunk_size=512, extra=None):
    w = gguf.GGUFWriter(path, arch="imatrix")
    w.kv_data[0].pop("general.architecture", None)  # llama-imatrix writes no architecture
    w.add_type(gguf.GGUFType.IMATRIX)
    w.add_array(gguf.Keys.IMatrix.DATASETS, list(datasets))
    w.add_uint32(gguf.Keys.IMatrix.CHUNK_COUNT, chunk_count)
    w.add_uint32(gguf.Keys.IMatrix.CHUNK_SIZE, chunk_size)
    for name in sorted(stats):
        s2, cnt, s1 = stats[name]
        w.add_tensor(f"{name}.in_sum2", s2)
        w.add_tensor(f"{name}.counts", cnt.reshape(-1, 1))
        if s1 is not None:
            w.add_tensor(f"{name}.in_sum", s1)
    if extra:
        extra(w)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def test_gguf(rng):
    stats = make_stats(rng)
    path = tmp("imatrix.gguf")
    write_gguf_imatrix(path, stats, datasets=("wiki.train.raw", "code.txt"), chunk_count=100, chunk_size=512,
                       extra=lambda w: w.add_tensor("unrelated.weight", np.ones((2, 32), F32)))
    STATS["gguf_files"] += 1
    im = Imatrix(path)
    if im.status != QNT_OK:
        fail(f"gguf-py imatrix: open failed: {im.status} {im.error}")
        return stats
    check_vectors(im, expected_importance(stats), "gguf-py imatrix")
    info = im.info()
    if (info.format, info.n_entries, info.chunk_count, info.chunk_size) != (QNT_IMATRIX_GGUF, len(stats), 100, 512):
        fail(f"gguf-py imatrix: info {info.format} {info.n_entries} {info.chunk_count} {info.chunk_size}")
    if im.datasets() != ["wiki.train.raw", "code.txt"] or info.n_datasets != 2:
        fail(f"gguf-py imatrix: datasets {im.datasets()}")
    im.close()
    print(f"GGUF (gguf-py GGUFWriter): {len(stats)} entries read back bit for bit, metadata checked")
    return stats


# ---------------------------------------------------------------------------
# A hand-made GGUF writer, for every value type and for corruptions
# ---------------------------------------------------------------------------

T_U8, T_I8, T_U16, T_I16, T_U32, T_I32, T_F32, T_BOOL, T_STR, T_ARR, T_U64, T_I64, T_F64 = range(13)
FMT = {T_U8: "<B", T_I8: "<b", T_U16: "<H", T_I16: "<h", T_U32: "<I", T_I32: "<i", T_F32: "<f", T_BOOL: "<?",
       T_U64: "<Q", T_I64: "<q", T_F64: "<d"}


def enc_str(s):
    b = s.encode() if isinstance(s, str) else s
    return struct.pack("<Q", len(b)) + b


def enc_value(t, v):
    if t == T_STR:
        return enc_str(v)
    if t == T_ARR:
        et, items = v
        return struct.pack("<IQ", et, len(items)) + b"".join(enc_value(et, x) for x in items)
    return struct.pack(FMT[t], v)


class Gguf:
    """Builds a GGUF file and records the byte offset of every field."""

    def __init__(self, version=3, alignment=32):
        self.version, self.alignment = version, alignment
        self.kvs, self.tensors = [], []

    def kv(self, key, t, v):
        self.kvs.append((key, t, v))
        return self

    def tensor(self, name, arr, ggml_type=0, ne=None):
        arr = np.ascontiguousarray(arr)
        self.tensors.append([name, list(ne) if ne is not None else list(arr.shape[::-1]), ggml_type, arr.tobytes(),
                             None])
        return self

    def build(self):
        off = {}
        out = bytearray(b"GGUF")
        off["version"] = len(out)
        out += struct.pack("<I", self.version)
        off["n_tensors"] = len(out)
        out += struct.pack("<Q", len(self.tensors))
        off["n_kv"] = len(out)
        out += struct.pack("<Q", len(self.kvs))
        for key, t, v in self.kvs:
            off[f"kv:{key}"] = len(out)
            out += enc_str(key)
            off[f"kv:{key}:type"] = len(out)
            out += struct.pack("<I", t)
            off[f"kv:{key}:value"] = len(out)
            out += enc_value(t, v)
        # data offsets: packed in order, each padded
        rel, rels = 0, []
        for name, ne, gt, data, forced in self.tensors:
            rels.append(rel if forced is None else forced)
            rel += (len(data) + self.alignment - 1) // self.alignment * self.alignment
        for (name, ne, gt, data, _), r in zip(self.tensors, rels):
            off[f"t:{name}"] = len(out)
            out += enc_str(name)
            off[f"t:{name}:n_dims"] = len(out)
            out += struct.pack("<I", len(ne))
            off[f"t:{name}:ne"] = len(out)
            out += b"".join(struct.pack("<Q", x) for x in ne)
            off[f"t:{name}:type"] = len(out)
            out += struct.pack("<I", gt)
            off[f"t:{name}:offset"] = len(out)
            out += struct.pack("<Q", r)
        pad = (-len(out)) % self.alignment
        out += b"\0" * pad
        off["data"] = len(out)
        end = 0
        for (name, ne, gt, data, _), r in zip(self.tensors, rels):
            if len(out) < off["data"] + r:
                out += b"\0" * (off["data"] + r - len(out))
            out[off["data"] + r:off["data"] + r + len(data)] = data
            end = max(end, off["data"] + r + len(data))
        off["end"] = max(end, off["data"])  # the file may stop here: the rest is padding
        out += b"\0" * ((-len(out)) % self.alignment)
        return bytes(out), off


def imatrix_builder(stats, version=3, alignment=32, all_types=False):
    g = Gguf(version, alignment)
    g.kv("general.type", T_STR, "imatrix")
    g.kv("imatrix.datasets", T_ARR, (T_STR, ["a.txt", "b.txt"]))
    g.kv("imatrix.chunk_count", T_U32, 7)
    g.kv("imatrix.chunk_size", T_U32, 256)
    if alignment != 32:
        g.kv("general.alignment", T_U32, alignment)
    if all_types:
        for t, v in ((T_U8, 200), (T_I8, -5), (T_U16, 60000), (T_I16, -30000), (T_U32, 4000000000), (T_I32, -7),
                     (T_F32, 1.5), (T_BOOL, True), (T_STR, "hello \u00e9"), (T_U64, 2 ** 63 + 5), (T_I64, -2 ** 40),
                     (T_F64, -2.25)):
            g.kv(f"test.scalar.{t}", t, v)
            g.kv(f"test.array.{t}", T_ARR, (t, [v, v]))
        g.kv("test.array.empty", T_ARR, (T_F32, []))
        g.kv("test.array.nested", T_ARR, (T_ARR, [(T_I32, [1, 2, 3]), (T_STR, ["x", "yy"]),
                                                  (T_ARR, [(T_BOOL, [False, True])])]))
    for name in sorted(stats):
        s2, cnt, s1 = stats[name]
        g.tensor(f"{name}.in_sum2", s2)
        g.tensor(f"{name}.counts", cnt.reshape(-1, 1))
        if s1 is not None:
            g.tensor(f"{name}.in_sum", s1)
    return g


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)
    return path


def test_handmade(stats):
    exp = expected_importance(stats)
    for version, alignment in ((3, 32), (2, 32), (3, 64), (3, 1)):
        data, _ = imatrix_builder(stats, version, alignment, all_types=True).build()
        path = write(tmp(f"hand-v{version}-a{alignment}.gguf"), data)
        STATS["gguf_files"] += 1
        im = Imatrix(path)
        if im.status != QNT_OK:
            fail(f"hand-made GGUF v{version} alignment {alignment}: {im.status} {im.error}")
            continue
        check_vectors(im, exp, f"hand-made GGUF v{version} alignment {alignment}")
        if im.datasets() != ["a.txt", "b.txt"] or im.info().chunk_count != 7 or im.info().chunk_size != 256:
            fail("hand-made GGUF: metadata")
        im.close()
    print("GGUF (hand-made): every value type, nested arrays, versions 2 and 3, alignments 1, 32, 64 read")


# ---------------------------------------------------------------------------
# 3. Legacy .dat
# ---------------------------------------------------------------------------

def legacy_bytes(entries, trailer="full", chunk_count=40, dataset="wiki.train.raw"):
    """entries: list of (name, ncall, stored float32 values)."""
    out = bytearray(struct.pack("<i", len(entries)))
    offs = []
    for name, ncall, vals in entries:
        offs.append(len(out))
        nb = name.encode()
        out += struct.pack("<i", len(nb)) + nb + struct.pack("<ii", ncall, len(vals))
        out += np.asarray(vals, F32).tobytes()
    end = len(out)
    if trailer in ("full", "count"):
        out += struct.pack("<i", chunk_count)
    if trailer == "full":
        d = dataset.encode()
        out += struct.pack("<i", len(d)) + d
    return bytes(out), offs, end


def legacy_entries(rng, stats, chunk_size=512):
    """As save_imatrix_legacy: value = (sum / count) * ncall, with
    ncall = ceil(max(count) / chunk_size) and partial experts stored as 1."""
    entries = []
    for name in sorted(stats):
        s2, cnt, _ = stats[name]
        counts = np.floor(cnt.astype(np.float64) + 0.5).astype(np.int64)  # the collector's integer counts
        ncall = int((counts.max() + chunk_size - 1) // chunk_size)
        nval, nmat = s2.size, counts.size
        tmpv = np.empty(nval, F32)
        flat = s2.ravel()
        for i in range(nval):
            c = F32(counts[i // (nval // nmat)])
            v = flat[i]
            if c == 0:
                v, c = F32(1), F32(1)
            tmpv[i] = F32(F32(v / c) * F32(ncall))
        entries.append((name, ncall, tmpv))
    return entries


def test_legacy(rng, stats):
    entries = legacy_entries(rng, stats)
    entries.append(("blk.9.zero_calls.weight", 0, (rng.random(32) * 3).astype(F32)))
    entries.append(("blk.9.negative_calls.weight", -3, (rng.random(32) * 3).astype(F32)))
    exp = {}
    for name, ncall, vals in entries:
        exp[name] = (vals / F32(ncall) if ncall > 0 else vals).astype(F32)[None, :]
    for trailer in ("full", "count", "none"):
        data, _, _ = legacy_bytes(entries, trailer)
        path = write(tmp(f"imatrix-{trailer}.dat"), data)
        STATS["dat_files"] += 1
        im = Imatrix(path)
        if im.status != QNT_OK:
            fail(f"legacy .dat ({trailer} trailer): {im.status} {im.error}")
            continue
        check_vectors(im, exp, f"legacy .dat ({trailer} trailer)")
        info = im.info()
        want = {"full": (40, ["wiki.train.raw"]), "count": (40, []), "none": (0, [])}[trailer]
        if (info.format, info.chunk_count, info.chunk_size, im.datasets()) != (QNT_IMATRIX_LEGACY, want[0], 0, want[1]):
            fail(f"legacy .dat ({trailer}): info {info.format} {info.chunk_count} {info.chunk_size} {im.datasets()}")
        im.close()
    # the legacy importance matches the GGUF importance of the same data up
    # to float rounding (both are the mean of squared activations)
    gexp = expected_importance(stats)
    data, _, _ = legacy_bytes(entries)
    im = Imatrix(write(tmp("compare.dat"), data))
    worst = 0.0
    for name in stats:
        a, b = im.get(name), gexp[name].ravel()
        worst = max(worst, float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-30))))
    im.close()
    if worst > 1e-5:
        fail(f"legacy and GGUF importance of the same statistics differ by {worst:.3g} (relative)")
    print(f"legacy .dat: 3 trailers, ncall > 0, 0, < 0 read bit for bit; same importance as GGUF within {worst:.2g}")
    return entries


# ---------------------------------------------------------------------------
# 4. Malformed files
# ---------------------------------------------------------------------------

def expect_format_error(data, what, path_name="bad.gguf", allow_ok=False):
    path = write(tmp(path_name), data)
    im = Imatrix(path)
    STATS["malformed"] += 1
    if im.status == QNT_OK:
        im.close()
        if not allow_ok:
            STATS["malformed_bad"] += 1
            fail(f"malformed ({what}): accepted")
        return None
    if im.status != QNT_E_FORMAT:
        STATS["malformed_bad"] += 1
        fail(f"malformed ({what}): status {im.status}, expected QNT_E_FORMAT ({im.error})")
    elif path not in im.error or ("byte offset" not in im.error and "no key" not in im.error
                                  and "no entries" not in im.error):
        STATS["malformed_bad"] += 1
        fail(f"malformed ({what}): message does not name the file and an offset: {im.error}")
    return im.error


def patch(data, off, fmt, v):
    b = bytearray(data)
    struct.pack_into(fmt, b, off, v)
    return bytes(b)


def test_malformed(rng, stats):
    # a small file: one dense entry (with in_sum) and one of 3 experts, every value type
    small = {"blk.0.attn_q.weight": (np.abs(rng.standard_normal((1, 32))).astype(F32), np.array([9.0], F32),
                                     rng.standard_normal((1, 32)).astype(F32)),
             "blk.1.ffn_gate_exps.weight": (np.abs(rng.standard_normal((3, 32))).astype(F32),
                                            np.array([4.0, 0.0, 7.0], F32), None)}
    g = imatrix_builder(small, all_types=True)
    data, off = g.build()
    samples = {}

    # truncation at every offset
    for cut in range(off["end"]):
        msg = expect_format_error(data[:cut], f"GGUF truncated to {cut} bytes")
        if cut in (0, 3, 20, off["kv:imatrix.datasets"] + 5, off["data"] + 1):
            samples[f"truncated to {cut}"] = msg
    for cut in range(off["end"], len(data) + 1):  # only end padding is cut: still valid
        im = Imatrix(write(tmp("pad.gguf"), data[:cut]))
        if im.status != QNT_OK:
            fail(f"GGUF without {len(data) - cut} bytes of end padding: {im.status} {im.error}")
        im.close()
    print(f"  GGUF truncated at every one of {off['end']} offsets before the end of the data: QNT_E_FORMAT each "
          f"time; cutting the {len(data) - off['end']} bytes of end padding keeps it valid")

    def kv_edit(key, part, fmt, v):
        return patch(data, off[f"kv:{key}{part}"], fmt, v)

    first_t = sorted(small)[0] + ".in_sum2"
    cases = [
        ("bad magic", b"GGUX" + data[4:]),
        ("magic lower case", b"gguf" + data[4:]),
        ("version 1", patch(data, off["version"], "<I", 1)),
        ("version 4", patch(data, off["version"], "<I", 4)),
        ("version 0", patch(data, off["version"], "<I", 0)),
        ("big-endian version", patch(data, off["version"], "<I", 0x03000000)),
        ("huge tensor count", patch(data, off["n_tensors"], "<Q", 2 ** 62)),
        ("tensor count +1", patch(data, off["n_tensors"], "<Q", len(g.tensors) + 1)),
        ("huge key count", patch(data, off["n_kv"], "<Q", 2 ** 63 + 7)),
        ("key count +1", patch(data, off["n_kv"], "<Q", len(g.kvs) + 1)),
        ("key length huge", kv_edit("imatrix.chunk_size", "", "<Q", 2 ** 64 - 1)),
        ("key length zero", kv_edit("imatrix.chunk_size", "", "<Q", 0)),
        ("key length past end", kv_edit("general.type", "", "<Q", len(data))),
        ("unknown value type", kv_edit("imatrix.chunk_size", ":type", "<I", 13)),
        ("value type 0xffffffff", kv_edit("imatrix.chunk_size", ":type", "<I", 0xFFFFFFFF)),
        ("string length huge", kv_edit("general.type", ":value", "<Q", 2 ** 63)),
        ("string length past end", kv_edit("general.type", ":value", "<Q", len(data))),
        ("array count huge", kv_edit("imatrix.datasets", ":value", "<Q", 0) if False else
         patch(data, off["kv:imatrix.datasets:value"] + 4, "<Q", 2 ** 61)),
        ("array element type unknown", patch(data, off["kv:imatrix.datasets:value"], "<I", 99)),
        ("string array count +1", patch(data, off["kv:imatrix.datasets:value"] + 4, "<Q", 3)),
        ("bool 2", kv_edit(f"test.scalar.{T_BOOL}", ":value", "<B", 2)),
        ("bool array element 7", patch(data, off[f"kv:test.array.{T_BOOL}:value"] + 12 + 1, "<B", 7)),
        ("f32 array count huge", patch(data, off[f"kv:test.array.{T_F32}:value"] + 4, "<Q", 2 ** 62)),
        ("nested array count huge", patch(data, off["kv:test.array.nested:value"] + 4, "<Q", 2 ** 60)),
        ("alignment 0 (u32)", None),
        ("tensor name length huge", patch(data, off[f"t:{first_t}"], "<Q", 2 ** 63)),
        ("tensor name length 0", patch(data, off[f"t:{first_t}"], "<Q", 0)),
        ("5 dimensions", patch(data, off[f"t:{first_t}:n_dims"], "<I", 5)),
        ("dimensions 0xffffffff", patch(data, off[f"t:{first_t}:n_dims"], "<I", 0xFFFFFFFF)),
        ("ne negative", patch(data, off[f"t:{first_t}:ne"], "<Q", 2 ** 64 - 5)),
        ("ne overflow", patch(patch(data, off[f"t:{first_t}:ne"], "<Q", 2 ** 40), off[f"t:{first_t}:ne"] + 8,
                              "<Q", 2 ** 40)),
        ("ne bigger than the file", patch(data, off[f"t:{first_t}:ne"], "<Q", 10 ** 9)),
        ("unknown tensor type 31", patch(data, off[f"t:{first_t}:type"], "<I", 31)),
        ("unknown tensor type 2^31", patch(data, off[f"t:{first_t}:type"], "<I", 2 ** 31)),
        ("rows not a multiple of the block", patch(data, off[f"t:{first_t}:type"], "<I", 2)),
        ("misaligned data offset", patch(data, off[f"t:{first_t}:offset"], "<Q", 4)),
        ("data offset past the end", patch(data, off[f"t:{first_t}:offset"], "<Q", 2 ** 63)),
        ("data offset huge", patch(data, off[f"t:{first_t}:offset"], "<Q", 2 ** 64 - 32)),
        ("overlapping tensors", patch(data, off[f"t:{sorted(small)[0]}.counts:offset"], "<Q", 0)),
    ]
    # general.alignment: wrong type, zero, not a power of two
    for what, t, v in (("alignment 0 (u32)", T_U32, 0), ("alignment 48", T_U32, 48),
                       ("alignment as u64", T_U64, 32), ("alignment as string", T_STR, "32")):
        gg = imatrix_builder(small)
        gg.kv("general.alignment", t, v)
        cases.append((what, gg.build()[0]))
    cases = [c for c in cases if c[1] is not None]
    # duplicates
    gg = imatrix_builder(small)
    gg.kv("imatrix.chunk_size", T_U32, 9)
    cases.append(("duplicate key", gg.build()[0]))
    gg = imatrix_builder(small)
    gg.tensor(f"{sorted(small)[0]}.in_sum2", small[sorted(small)[0]][0])
    cases.append(("duplicate tensor name", gg.build()[0]))
    # nesting deeper than the reader allows
    v = (T_I32, [1])
    for _ in range(12):
        v = (T_ARR, [v])
    gg = imatrix_builder(small)
    gg.kv("test.deep", T_ARR, v)
    cases.append(("arrays nested 13 deep", gg.build()[0]))
    # imatrix semantics
    for what, drop in (("no imatrix.chunk_count", "imatrix.chunk_count"), ("no imatrix.chunk_size", "imatrix.chunk_size"),
                       ("no imatrix.datasets", "imatrix.datasets")):
        gg = imatrix_builder(small)
        gg.kvs = [k for k in gg.kvs if k[0] != drop]
        cases.append((what, gg.build()[0]))
    gg = imatrix_builder(small)
    gg.kvs = [k if k[0] != "imatrix.chunk_count" else (k[0], T_I32, 7) for k in gg.kvs]
    cases.append(("imatrix.chunk_count as INT32", gg.build()[0]))
    gg = imatrix_builder(small)
    gg.kvs = [k if k[0] != "imatrix.datasets" else (k[0], T_ARR, (T_U8, [1, 2])) for k in gg.kvs]
    cases.append(("imatrix.datasets of UINT8", gg.build()[0]))
    gg = imatrix_builder(small)
    gg.kvs = [k if k[0] != "general.type" else (k[0], T_STR, "model") for k in gg.kvs]
    cases.append(("general.type model", gg.build()[0]))
    gg = imatrix_builder(small)
    gg.tensors = [t for t in gg.tensors if not t[0].endswith(".counts")]
    cases.append(("sums without counts", gg.build()[0]))
    gg = imatrix_builder(small)
    gg.tensors = [t for t in gg.tensors if not t[0].endswith(".in_sum2")]
    cases.append(("counts without sums", gg.build()[0]))
    gg = imatrix_builder(small)
    gg.tensors = [t for t in gg.tensors if not t[0].endswith((".in_sum2", ".counts", ".in_sum"))]
    gg.tensor("x.weight", np.ones(32, F32))
    cases.append(("no entries", gg.build()[0]))
    gg = imatrix_builder(small)
    for t in gg.tensors:
        if t[0].endswith(".in_sum2"):
            t[2], t[3] = 1, np.frombuffer(t[3], F32).astype(np.float16).tobytes()
            break
    cases.append(("in_sum2 as f16", gg.build()[0]))
    for what, field, val in (("NaN sum", ".in_sum2", np.nan), ("negative sum", ".in_sum2", -1.0),
                             ("inf sum", ".in_sum2", np.inf), ("NaN count", ".counts", np.nan),
                             ("negative count", ".counts", -2.0), ("inf count", ".counts", np.inf)):
        gg = imatrix_builder(small)
        for t in gg.tensors:
            if t[0].endswith(field):
                a = np.frombuffer(t[3], F32).copy()
                a[-1] = val
                t[3] = a.tobytes()
                break
        cases.append((what, gg.build()[0]))
    gg = imatrix_builder(small)
    for t in gg.tensors:
        if t[0].endswith(".in_sum2") and "exps" in t[0]:
            t[1] = [t[1][0] * t[1][1] - 1, 1]
            t[3] = t[3][:4 * t[1][0]]
            break
    cases.append(("sums not a multiple of the counts", gg.build()[0]))

    for what, d in cases:
        msg = expect_format_error(d, what)
        samples.setdefault(what, msg)
    print(f"  GGUF: {len(cases)} corruptions of lengths, counts, types, offsets and imatrix keys: QNT_E_FORMAT")

    # random corruptions: OK or QNT_E_FORMAT, nothing else, no crash
    bad = 0
    for k in range(3000):
        b = bytearray(data)
        for _ in range(int(rng.integers(1, 4))):
            i = int(rng.integers(0, len(b)))
            b[i] = int(rng.integers(0, 256)) if k % 2 else b[i] ^ (1 << int(rng.integers(0, 8)))
        im = Imatrix(write(tmp("fuzz.gguf"), bytes(b)))
        if im.status not in (QNT_OK, QNT_E_FORMAT):
            bad += 1
            fail(f"random corruption {k}: status {im.status} ({im.error})")
        im.close()
    STATS["malformed"] += 3000
    STATS["malformed_bad"] += bad
    print(f"  GGUF: 3000 random byte corruptions: OK or QNT_E_FORMAT, {bad} other")
    return samples


def test_malformed_legacy(rng, entries):
    small = entries[:3]
    data, offs, end = legacy_bytes(small)
    valid = {end, end + 4, len(data)}
    n_ok = 0
    for cut in range(len(data)):
        msg = expect_format_error(data[:cut], f".dat truncated to {cut}", "bad.dat", allow_ok=cut in valid)
        if cut in valid:
            n_ok += msg is None
        elif msg is None:
            pass
    if n_ok != 2:
        fail(f".dat: the valid truncations (no trailer, chunk count only) were not both accepted ({n_ok})")
    print(f"  .dat truncated at every one of {len(data)} offsets: QNT_E_FORMAT except the 2 valid lengths")
    o = offs[1]  # second entry
    name_len = len(small[1][0])
    cases = [
        ("zero entries", patch(data, 0, "<i", 0)),
        ("negative entries", patch(data, 0, "<i", -1)),
        ("huge entries", patch(data, 0, "<i", 2 ** 31 - 1)),
        ("entries +1", patch(data, 0, "<i", len(small) + 1)),
        ("name length 0", patch(data, o, "<i", 0)),
        ("name length negative", patch(data, o, "<i", -5)),
        ("name length huge", patch(data, o, "<i", 2 ** 31 - 1)),
        ("nval 0", patch(data, o + 4 + name_len + 4, "<i", 0)),
        ("nval negative", patch(data, o + 4 + name_len + 4, "<i", -1)),
        ("nval huge", patch(data, o + 4 + name_len + 4, "<i", 2 ** 30)),
        ("NaN value", patch(data, o + 4 + name_len + 8, "<f", float("nan"))),
        ("negative value", patch(data, o + 4 + name_len + 8, "<f", -1.0)),
        ("inf value", patch(data, o + 4 + name_len + 8, "<f", float("inf"))),
        ("stray byte", data + b"\0"),
        ("dataset length too long", patch(data, end + 4, "<i", 1000)),
        ("dataset length negative", patch(data, end + 4, "<i", -1)),
        ("negative chunk count", patch(data, end, "<i", -3)),
        ("duplicate entry", legacy_bytes(small + [small[1]])[0]),
        ("NUL in name", legacy_bytes([("a\0b", 1, np.ones(4, F32))])[0]),
        ("empty file", b""),
        ("three bytes", b"\1\0\0"),
    ]
    samples = {}
    for what, d in cases:
        samples[what] = expect_format_error(d, what, "bad.dat")
    for k in range(2000):
        b = bytearray(data)
        i = int(rng.integers(0, len(b)))
        b[i] = int(rng.integers(0, 256))
        im = Imatrix(write(tmp("fuzz.dat"), bytes(b)))
        if im.status not in (QNT_OK, QNT_E_FORMAT):
            fail(f".dat random corruption {k}: status {im.status} ({im.error})")
        im.close()
    STATS["malformed"] += 2000
    print(f"  .dat: {len(cases)} corruptions of counts, lengths and values: QNT_E_FORMAT; 2000 random: OK or QNT_E_FORMAT")
    return samples


def test_model_file(rng):
    """A model-like GGUF written by gguf-py (quantized tensors of several
    types, a tokenizer-sized string array, every scalar kind) passes the
    strict reader whole and is then refused as not an imatrix."""
    import gguf.quants as gq
    path = tmp("model.gguf")
    w = gguf.GGUFWriter(path, arch="llama")
    w.add_name("tiny")
    w.add_uint32("llama.block_count", 2)
    w.add_float32("llama.rope.freq_base", 10000.0)
    w.add_bool("tokenizer.ggml.add_bos_token", True)
    w.add_array("tokenizer.ggml.tokens", [f"tok{i}" for i in range(3000)])
    w.add_array("tokenizer.ggml.scores", [float(i) for i in range(3000)])
    w.add_custom_alignment(64)
    for name, qt in (("a.weight", gguf.GGMLQuantizationType.Q8_0), ("b.weight", gguf.GGMLQuantizationType.Q4_0),
                     ("c.weight", gguf.GGMLQuantizationType.TQ2_0), ("d.weight", gguf.GGMLQuantizationType.MXFP4)):
        x = rng.standard_normal((4, 256)).astype(F32)
        q = gq.quantize(x, qt)
        w.add_tensor(name, q, raw_shape=q.shape, raw_dtype=qt)
    w.add_tensor("e.weight", rng.standard_normal((3, 5)).astype(np.float16))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    im = Imatrix(path)
    if im.status != QNT_E_FORMAT or "general.type" not in im.error and "imatrix." not in im.error:
        fail(f"model GGUF: expected a refusal as not an imatrix after a full read, got {im.status} {im.error}")
    print(f"model GGUF (gguf-py): read whole, refused as not an imatrix: {im.error.replace(TMP + os.sep, '')}")


def test_open_errors():
    im = Imatrix(tmp("does-not-exist.gguf"))
    if im.status != QNT_E_NOT_FOUND:
        fail(f"missing file: status {im.status}")
    im = Imatrix(TMP)
    if im.status not in (QNT_E_IO, QNT_E_FORMAT):
        fail(f"a directory: status {im.status}")
    h = ctypes.c_void_p()
    if L.qnt_imatrix_open(None, None, ctypes.byref(h)) != QNT_E_INVALID_ARG:
        fail("NULL path accepted")
    if L.qnt_imatrix_count(None) != 0 or L.qnt_imatrix_name(None, 0) is not None:
        fail("NULL handle not handled")
    L.qnt_imatrix_close(None)


# ---------------------------------------------------------------------------
# 5. Quantize with it
# ---------------------------------------------------------------------------

def test_quantize(rng, stats):
    im = Imatrix(tmp("imatrix.gguf"))
    name = "blk.1.ffn_gate_exps.weight"
    n_per_row, n_exp = im.shape(name)
    x = rng.standard_normal((4, n_per_row * 8 // n_per_row * n_per_row)).astype(F32)
    x = rng.standard_normal((4, 256)).astype(F32)
    exp = expected_importance(stats)
    # rows of 256 need a vector of 256: use an entry of that many columns or tile
    w_file = np.tile(im.get(name, 2), 256 // n_per_row + 1)[:256]
    w_np = np.tile(exp[name][2], 256 // n_per_row + 1)[:256].astype(F32)
    for fmt in ("q4_K", "q4_0", "tq2_0"):
        if not np.array_equal(qntlib.quantize(fmt, x, w_file), qntlib.quantize(fmt, x, w_np)):
            fail(f"{fmt}: bytes with the file's importance differ from those with numpy's")
    im.close()
    print("quantize: the file's vectors give the same bytes as the same numpy vectors")


def main():
    rng = np.random.default_rng(0x696d6174)
    try:
        test_open_errors()
        stats = test_gguf(rng)
        test_handmade(stats)
        entries = test_legacy(rng, stats)
        print("malformed files:")
        samples = test_malformed(rng, stats)
        samples.update(test_malformed_legacy(rng, entries))
        test_model_file(rng)
        test_quantize(rng, stats)
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    print("sample messages:")
    for k in ("truncated to 20", "key length huge", "string length huge", "ne overflow", "overlapping tensors",
              "misaligned data offset", "duplicate key", "NaN count", "no imatrix.chunk_size", "nval huge",
              "dataset length too long", "duplicate entry"):
        if samples.get(k):
            print(f"  {k}: {samples[k].replace(TMP + os.sep, '')}")
    print(f"totals: {STATS['gguf_files']} GGUF and {STATS['dat_files']} .dat files read, {STATS['floats']} floats "
          f"compared, {STATS['float_mismatch']} mismatches; {STATS['malformed']} malformed files, "
          f"{STATS['malformed_bad']} not rejected as expected")
    if FAILURES:
        print(f"{len(FAILURES)} failure(s)")
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
