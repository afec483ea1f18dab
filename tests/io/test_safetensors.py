# SPDX-License-Identifier: MIT
"""libqnt's internal safetensors module (lib/io/safetensors*.c, through
libqnt_iotest.so) against the `safetensors` package (the reference, Rust
core) in the project venv.

1. Every dtype of the format (BOOL, U8..U64, I8..I64, F16, BF16, F32, F64,
   C64, the five F8 kinds, F4, F6_E2M3, F6_E3M2), shapes 0-D to 8-D, zero
   sizes: files written by safetensors.numpy.save_file (bf16/f8 through
   ml_dtypes, F4 through a raw TensorSpec) read by libqnt give the same
   names, dtypes, shapes, bytes, metadata and data order (safe_open's
   offset_keys); each tensor's header_offset points at its key.
2. Files written by libqnt: with the sorted layout, byte for byte the
   package's own output (same order, same JSON, same space padding); in
   declaration order, read back by load_file, safe_open and deserialize with
   the same content and offset_keys in declaration order; written in chunks
   of random sizes.
3. Valid oddities (header not padded, unknown entry fields, "__metadata__":
   null, empty and non-ASCII names, entries out of data order, no tensors)
   are accepted by both, with the same content.
4. Malformed files: QNT_E_FORMAT with a message naming the file, the tensor
   and the exact byte offset; the reference refuses each too (except the
   documented differences). A package-written file truncated at every
   length up to the end of its header + 64 bytes, and every header byte set
   to 12 values, give the same accept/refuse decision as the reference.
5. Sharded checkpoints: libqnt's sharded writer splits as mlx-lm's
   make_shards, names model-0000N-of-0000M.safetensors, writes the index
   byte for byte as mlx-lm's json.dump(indent=4) (sorted weight_map,
   total_size, total_parameters), every shard loads in the package; a
   Hugging Face-style checkpoint written by the package is read through the
   index reader; index errors (missing tensor, tensor in two shards, tensor
   not in the index, missing shard, bad shard names, bad JSON) are caught,
   lazily or with OPEN_ALL.
6. Checksums (WRITE_CHECKSUMS): "qnt.xxh3_64" in "__metadata__" holds, in
   the package's data order (offset_keys), libxxhash's one-shot XXH3_64bits
   of each tensor's bytes (the writer hashes the chunks as they come); with
   the sorted layout the file is byte for byte the package's output for
   that metadata; the reader's stored_checksum and verify agree, a flipped
   data byte is named; each shard of a sharded save holds its own.
7. Atomic output: an abandoned writer, an incomplete finish, a write failure
   injected with RLIMIT_FSIZE (a real EFBIG), a rename that fails, and a
   process killed mid-write leave no file at the destination and no
   temporary file (both O_TMPFILE and named temporary files), and an
   existing destination keeps its old content.
"""
import ctypes
import json
import os
import random
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import textwrap

from iotest import (E_BAD_SHAPE, E_FORMAT, E_INVALID_ARG, E_IO, E_NOT_FOUND, INDEX_OPEN_ALL,
                    SHARDS_INDEX_IF_MANY, WRITE_CHECKSUMS, WRITE_NAMED_TEMP, WRITE_SORTED, AFILE_NAMED_TEMP, Index,
                    QntError, StFile, Writer, check, dtype_names, last_error, lib, open_status, require, xxh3_ref)

np = require("numpy")
require("safetensors")
import safetensors  # noqa: E402
import safetensors.numpy as stn  # noqa: E402
from safetensors import TensorSpec, safe_open  # noqa: E402

try:
    import ml_dtypes
except ImportError:  # bf16 and f8 then go through raw TensorSpecs
    ml_dtypes = None

FAILURES = []
STATS = {"checks": 0, "files_read": 0, "files_written": 0, "malformed": 0, "agree": 0}
TMP = tempfile.mkdtemp(prefix="qnt-io-")


def status_since(n):
    """'ok', or how many failures since FAILURES had n entries."""
    return "ok" if len(FAILURES) == n else f"{len(FAILURES) - n} FAILED"


def expect(cond, msg):
    STATS["checks"] += 1
    if not cond:
        FAILURES.append(msg)
        print("FAIL:", msg)
    return cond


# ---------------------------------------------------------------------------
# dtypes

NP_NAMES = {  # safetensors dtype -> numpy dtype name the package maps to it
    "BOOL": "bool", "U8": "uint8", "I8": "int8", "U16": "uint16", "I16": "int16", "U32": "uint32",
    "I32": "int32", "U64": "uint64", "I64": "int64", "F16": "float16", "F32": "float32", "F64": "float64",
    "C64": "complex64", "BF16": "bfloat16", "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2",
    "F8_E4M3FNUZ": "float8_e4m3fnuz", "F8_E5M2FNUZ": "float8_e5m2fnuz", "F8_E8M0": "float8_e8m0fnu",
    "F4": "float4_e2m1fn_x2",
}
BITS = {"BOOL": 8, "U8": 8, "I8": 8, "U16": 16, "I16": 16, "U32": 32, "I32": 32, "U64": 64, "I64": 64,
        "F16": 16, "F32": 32, "F64": 64, "C64": 64, "BF16": 16, "F8_E4M3": 8, "F8_E5M2": 8, "F8_E4M3FNUZ": 8,
        "F8_E5M2FNUZ": 8, "F8_E8M0": 8, "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6}


def np_dtype(name):
    n = NP_NAMES[name]
    if hasattr(np, n) and n not in ("bfloat16",):
        return np.dtype(n)
    if ml_dtypes is not None and hasattr(ml_dtypes, n):
        return np.dtype(getattr(ml_dtypes, n))
    return None


def random_array(rng, dtype, shape):
    dt = np_dtype(dtype)
    n = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if dtype == "BOOL":
        return rng.integers(0, 2, size=shape).astype(np.bool_)
    raw = rng.integers(0, 256, size=n * dt.itemsize, dtype=np.uint8)
    return raw.view(dt).reshape(shape)


SHAPES = [(), (1,), (7,), (0,), (3, 5), (2, 0, 4), (2, 3, 4), (1, 2, 1, 3), (2, 1, 2, 1, 2),
          (1, 1, 2, 1, 1, 3), (2, 1, 1, 1, 1, 1, 2), (1, 2, 1, 2, 1, 2, 1, 2), (0, 0, 0, 0, 0, 0, 0, 0)]


def spec_dict(arrays):
    """numpy arrays (and raw (dtype, shape, bytes) tuples) -> TensorSpecs; keeps buffers alive."""
    keep, specs = [], {}
    for k, v in arrays.items():
        if isinstance(v, tuple):
            dt, shape, data = v
            buf = ctypes.create_string_buffer(data, max(1, len(data)))
            keep.append(buf)
            # the package's F4 dtype packs two per byte: its shape counts bytes in the last dimension
            pshape = list(shape)
            if dt == "F4":
                pshape[-1] //= 2
            specs[k] = TensorSpec(dtype=NP_NAMES[dt], shape=pshape, data_ptr=ctypes.addressof(buf), data_len=len(data))
        else:
            a = np.asarray(v)
            if not a.flags.c_contiguous:  # (ascontiguousarray would make a 0-D array 1-D)
                a = a.copy(order="C")
            keep.append(a)
            specs[k] = TensorSpec(dtype=a.dtype.name, shape=list(a.shape), data_ptr=a.ctypes.data, data_len=a.nbytes)
    return specs, keep


def ref_save(arrays, metadata=None):
    specs, keep = spec_dict(arrays)
    out = bytes(safetensors.serialize(specs, metadata=metadata))
    del keep
    return out


def describe(arrays):
    """name -> (dtype, shape, bytes) of a dict of arrays / raw tuples."""
    inv = {v: k for k, v in NP_NAMES.items()}
    out = {}
    for k, v in arrays.items():
        if isinstance(v, tuple):
            out[k] = v
        else:
            out[k] = (inv[v.dtype.name], list(v.shape), v.tobytes())
    return out


def test_dtype_list():
    ours = dtype_names()
    expect(sorted(ours) == sorted(BITS), f"dtype list {ours}")
    for i, n in enumerate(ours):
        expect(lib.iotest_dtype_bits(i) == BITS[n], f"bits of {n}")
        expect(lib.iotest_dtype_from_name(n.encode()) == i, f"from_name {n}")
    expect(lib.iotest_dtype_from_name(b"f32") == -1 and lib.iotest_dtype_from_name(b"F32 ") == -1, "case/space")
    # QNT_TYPE_F32 = 0, F16 = 1, BF16 = 30
    expect([lib.iotest_dtype_to_qnt(ours.index(n)) for n in ("F32", "F16", "BF16", "U8")] == [0, 1, 30, -1],
           "dtype_to_qnt")


def check_read(path, want, want_meta, order=None, label=""):
    """Reads `path` with libqnt and compares with want (name -> (dtype, shape, bytes))."""
    with StFile(path) as f:
        STATS["files_read"] += 1
        ts = f.tensors()
        got = {t["name"]: (t["dtype"], t["shape"], t["data"]) for t in ts}
        expect(set(got) == set(want), f"{label}: names {sorted(got)} != {sorted(want)}")
        for k in want:
            if k in got:
                expect(got[k][0] == want[k][0], f"{label}: {k}: dtype {got[k][0]} != {want[k][0]}")
                expect(list(got[k][1]) == list(want[k][1]), f"{label}: {k}: shape {got[k][1]} != {want[k][1]}")
                expect(got[k][2] == want[k][2], f"{label}: {k}: bytes differ")
        expect(dict(f.metadata()) == dict(want_meta or {}), f"{label}: metadata {f.metadata()} != {want_meta}")
        if order is not None:  # (tensors of zero bytes tie: the package orders them at random)
            mine = [t["name"] for t in ts if t["nbytes"]]
            theirs = [n for n in order if want[n][2]]
            expect(mine == theirs, f"{label}: data order {mine} != {theirs}")
        raw = open(path, "rb").read()
        for t in ts:
            expect(f.find(t["name"]) == t, f"{label}: find {t['name']}")
            key = json.dumps(t["name"], ensure_ascii=False).encode()
            expect(raw[t["header_offset"]:t["header_offset"] + len(key)] == key,
                   f"{label}: header_offset of {t['name']} -> {raw[t['header_offset']:t['header_offset'] + 20]!r}")
            expect(t["file_offset"] == f.data_offset + t["begin"] and t["end"] - t["begin"] == t["nbytes"],
                   f"{label}: offsets of {t['name']}")
        expect(f.find("no such tensor") is None, f"{label}: find of a missing name")
        return ts


def all_dtype_arrays(rng):
    arrays = {}
    for dt in BITS:
        if dt in ("F4", "F6_E2M3", "F6_E3M2"):
            continue
        if np_dtype(dt) is None:  # no ml_dtypes: raw bytes
            for i, shape in enumerate(SHAPES):
                n = int(np.prod(shape, dtype=np.int64)) if shape else 1
                arrays[f"{dt.lower()}.{i}"] = (dt, list(shape), rng.bytes(n * BITS[dt] // 8))
            continue
        for i, shape in enumerate(SHAPES):
            arrays[f"{dt.lower()}.{i}"] = random_array(rng, dt, shape)
    for i, shape in enumerate([(2,), (3, 4), (0,), (2, 2, 6)]):  # F4: even counts in the last dimension
        n = int(np.prod(shape))
        arrays[f"f4.{i}"] = ("F4", list(shape), rng.bytes(n // 2))
    return arrays


def test_package_to_libqnt(rng):
    print("files written by the safetensors package, read by libqnt:")
    nf = len(FAILURES)
    arrays = all_dtype_arrays(rng)
    meta = {"format": "mlx", "note": "caf\u00e9 \"quoted\" \\ \n tab\t"}
    path = os.path.join(TMP, "all_dtypes.safetensors")
    with open(path, "wb") as fp:
        fp.write(ref_save(arrays, metadata=meta))
    with safe_open(path, "numpy") as sf:
        order = list(sf.offset_keys())
    check_read(path, describe(arrays), meta, order, "all dtypes")
    # save_file with plain numpy arrays (the common path), no metadata
    plain = {k: v for k, v in arrays.items() if not isinstance(v, tuple)}
    path2 = os.path.join(TMP, "save_file.safetensors")
    stn.save_file(plain, path2)
    check_read(path2, describe(plain), None, None, "save_file")
    # F6 (no numpy type in the package): a hand-made file the package accepts
    data = bytes(range(3 + 6))
    hdr = json.dumps({"a": {"dtype": "F6_E2M3", "shape": [4], "data_offsets": [0, 3]},
                      "b": {"dtype": "F6_E3M2", "shape": [2, 4], "data_offsets": [3, 9]}}).encode()
    blob = struct.pack("<Q", len(hdr)) + hdr + data
    ref = dict(safetensors.deserialize(blob))
    expect(ref["a"]["dtype"] == "F6_E2M3" and ref["b"]["shape"] == [2, 4], "package reads F6")
    path3 = os.path.join(TMP, "f6.safetensors")
    open(path3, "wb").write(blob)
    check_read(path3, {"a": ("F6_E2M3", [4], data[:3]), "b": ("F6_E3M2", [2, 4], data[3:])}, None, ["a", "b"], "F6")
    print(f"  {len(arrays)} tensors of {len(BITS)} dtypes, shapes 0-D to 8-D: "
          f"{status_since(nf)}")
    return arrays


def write_with_libqnt(path, arrays, meta=None, flags=0, order=None, rng=None, chunked=False):
    """Writes describe(arrays) with libqnt's writer; returns the declaration order."""
    desc = describe(arrays)
    names = list(order) if order is not None else list(desc)
    w = Writer(path, flags)
    for k, v in (meta or {}).items():
        check(w.meta(k, v))
    for n in names:
        check(w.add(n, desc[n][0], desc[n][1]))
    if chunked:
        # chunks of random sizes that cross tensor boundaries: the stream in
        # the file order, which is the writer's order
        check(w.begin())
        if flags & WRITE_SORTED:
            rank = {d: i for i, d in enumerate(dtype_names())}
            seq = sorted(names, key=lambda n: (-rank[desc[n][0]], n.encode()))
        else:
            seq = names
        stream = b"".join(desc[n][2] for n in seq)
        pos = 0
        while pos < len(stream):
            step = rng.integers(1, 300) if rng is not None else 17
            check(w.write(stream[pos:pos + step]))
            pos += step
        expect(w.next() == -1, "next() after all bytes")
    else:
        while True:
            i = w.next()
            if i < 0:
                break
            check(w.write_tensor(i, desc[names[i]][2]))
    check(w.finish())
    STATS["files_written"] += 1
    return names


def ref_load(path):
    """The package's view: name -> (dtype, shape, bytes), metadata, offset_keys."""
    with open(path, "rb") as fp:
        blob = fp.read()
    out = {k: (v["dtype"], list(v["shape"]), bytes(v["data"])) for k, v in safetensors.deserialize(blob)}
    with safe_open(path, "numpy") as sf:
        meta = sf.metadata()
        keys = list(sf.offset_keys())
    return out, meta, keys


def test_libqnt_to_package(rng, arrays):
    print("files written by libqnt, read by the safetensors package:")
    nf = len(FAILURES)
    desc = describe(arrays)
    names = list(desc)
    # 1. sorted layout: byte for byte the package's output
    for meta in (None, {"format": "mlx"}):
        shuffled = names[:]
        random.Random(7).shuffle(shuffled)
        path = os.path.join(TMP, "sorted.safetensors")
        write_with_libqnt(path, arrays, meta, WRITE_SORTED, shuffled)
        mine = open(path, "rb").read()
        ref = ref_save(arrays, metadata=meta)
        hl = struct.unpack("<Q", mine[:8])[0]
        expect(mine == ref, f"sorted layout (metadata {meta}) differs from the package's bytes: "
                            f"{mine[:200]!r} vs {ref[:200]!r}")
        expect(hl % 8 == 0 and mine[8:8 + hl].endswith(b" " * (-len(mine[8:8 + hl].rstrip(b" ")) % 8)),
               "padding to 8 with spaces")
    # 2. declaration order, several metadata entries, chunks of random sizes
    meta = {"format": "mlx", "b": "2", "a": "caf\u00e9"}
    for flags in (0, WRITE_NAMED_TEMP, WRITE_SORTED | WRITE_NAMED_TEMP):
        path = os.path.join(TMP, f"declared-{flags}.safetensors")
        order = names[:]
        random.Random(flags).shuffle(order)
        write_with_libqnt(path, arrays, meta, flags, order, rng, chunked=True)
        got, gmeta, keys = ref_load(path)
        expect(got == desc, f"flags {flags}: package reads other content")
        expect(gmeta == meta, f"flags {flags}: metadata {gmeta}")
        if not flags & WRITE_SORTED:  # (tensors of zero bytes tie: the package orders them at random)
            nz = [k for k in order if desc[k][2]]
            expect([k for k in keys if desc[k][2]] == nz, f"flags {flags}: offset_keys not in declaration order: {keys[:8]} vs {order[:8]}")
        # the package's numpy loader knows numpy's own types only (not bf16, f8, f4)
        plain = {k: v for k, v in arrays.items() if not isinstance(v, tuple) and hasattr(np, v.dtype.name)}
        with safe_open(path, "numpy") as sf:
            for k, v in plain.items():
                if True:
                    a = sf.get_tensor(k)
                    expect(a.dtype == v.dtype and a.shape == v.shape and a.tobytes() == v.tobytes(),
                           f"flags {flags}: safe_open {k}")
        path2 = os.path.join(TMP, f"plain-{flags}.safetensors")
        write_with_libqnt(path2, plain, meta, flags, None, rng, chunked=True)
        loaded = stn.load_file(path2)
        expect(set(loaded) == set(plain) and all(loaded[k].dtype == v.dtype and loaded[k].shape == v.shape and
                                                 loaded[k].tobytes() == v.tobytes() for k, v in plain.items()),
               f"flags {flags}: load_file")
        check_read(path, desc, meta, keys, f"round trip {flags}")
        expect(sorted(os.listdir(TMP)) == sorted(set(os.listdir(TMP))), "listing")
    # 3. edge files: no tensors, only zero-size tensors, one scalar
    for label, arrs in [("empty", {}), ("zero-size", {"a": np.zeros((0, 3), np.float32), "b": np.zeros((0,), np.uint8)}),
                        ("scalar", {"s": np.array(3.5, np.float64)})]:
        for meta in (None, {"k": "v"}):
            path = os.path.join(TMP, f"{label}.safetensors")
            write_with_libqnt(path, arrs, meta, WRITE_SORTED)
            expect(open(path, "rb").read() == ref_save(arrs, meta), f"{label}: bytes differ from the package's")
            check_read(path, describe(arrs), meta, None, label)
    # 4. non-ASCII names: same content (jansson and serde_json agree on UTF-8)
    arrs = {"caf\u00e9.w": np.arange(4, dtype=np.int16), "\u6f22\u5b57": np.ones(2, np.float32)}
    path = os.path.join(TMP, "unicode.safetensors")
    write_with_libqnt(path, arrs, {"\u00e9": "\u00e8"}, WRITE_SORTED)
    expect(open(path, "rb").read() == ref_save(arrs, {"\u00e9": "\u00e8"}), "unicode names: bytes differ")
    print(f"  byte-identical sorted layout, declaration order and chunked writes: "
          f"{status_since(nf)}")


def test_writer_errors():
    print("writer argument errors:")
    nf = len(FAILURES)
    path = os.path.join(TMP, "err.safetensors")
    w = Writer(path)
    expect(w.add("a", "F32", [2]) == 0, "add a")
    expect(w.add("a", "F32", [2]) == E_INVALID_ARG and "duplicate" in last_error(), "duplicate name")
    expect(w.add("__metadata__", "F32", [2]) == E_INVALID_ARG, "__metadata__ as a name")
    expect(w.add("b", "F7", [2]) == E_INVALID_ARG and "unknown dtype" in last_error(), "unknown dtype")
    expect(w.add("c", "F4", [3]) == E_BAD_SHAPE and "whole number of bytes" in last_error(), "F4 odd count")
    expect(w.add("d", "F32", [1 << 62, 8]) == E_BAD_SHAPE, "overflow")
    expect(w.add("e", "F32", [1] * 65) == E_INVALID_ARG, "65 dims")
    expect(lib.iotest_w_add(w.h, b"\xff\xfe", b"F32", 0, None) == E_INVALID_ARG and "UTF-8" in last_error(),
           "invalid UTF-8 name")
    expect(w.meta("k", "v") == 0 and w.meta("k", "w") == E_INVALID_ARG, "duplicate metadata key")
    expect(lib.iotest_w_meta(w.h, b"x", b"\xc3") == E_INVALID_ARG, "metadata not UTF-8")
    expect(w.add("b", "U8", [3]) == 0, "add b")
    expect(w.next() == 0, "next is a")
    expect(w.add("late", "U8", [1]) == E_INVALID_ARG and "after the data" in last_error(), "add after begin")
    expect(w.meta("late", "x") == E_INVALID_ARG, "metadata after begin")
    expect(w.write_tensor(1, b"abc") == E_INVALID_ARG, "write_tensor out of order")
    expect(w.write(b"x" * 12) == E_INVALID_ARG and "remain" in last_error(), "too many bytes")
    expect(w.write(b"\0" * 8) == 0 and w.next() == 1, "the writer goes on after a refused write")
    expect(w.write_tensor(1, b"ab") == E_INVALID_ARG, "write_tensor with the wrong size")
    expect(w.write_tensor(1, b"abc") == 0 and w.next() == -1, "write_tensor")
    expect(w.finish() == 0, "finish")
    got, _, keys = ref_load(path)
    expect(keys == ["a", "b"] and got["b"][2] == b"abc", "content after the refused calls")
    os.unlink(path)
    print(f"  {status_since(nf)}")


# ---------------------------------------------------------------------------
# Valid oddities and malformed files

def blob(header, data=b"", n=None):
    h = header if isinstance(header, bytes) else json.dumps(header, separators=(",", ":")).encode()
    return struct.pack("<Q", len(h) if n is None else n) + h + data


def ref_accepts(b):
    try:
        safetensors.deserialize(b)
        return True
    except Exception:
        return False


def test_valid_oddities():
    print("valid oddities (accepted by both):")
    nf = len(FAILURES)
    e = {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]}
    cases = [
        ("unpadded header", blob({"a": e}, b"xy")),
        ("unknown fields", blob({"a": dict(e, extra=[1, {"x": None}], dtype2="?")}, b"xy")),
        ("metadata null", blob({"__metadata__": None, "a": e}, b"xy")),
        ("empty metadata", blob({"__metadata__": {}, "a": e}, b"xy")),
        ("empty name", blob({"": e}, b"xy")),
        ("unicode name", blob({"\u00e9\u6f22": e}, b"xy")),
        ("out of data order", blob({"b": {"dtype": "U8", "shape": [1], "data_offsets": [2, 3]}, "a": e}, b"xyz")),
        ("zero-size in the middle", blob({"a": e, "z": {"dtype": "F32", "shape": [0, 9], "data_offsets": [2, 2]},
                                          "b": {"dtype": "U8", "shape": [1], "data_offsets": [2, 3]}}, b"xyz")),
        ("no tensors", blob({})),
        ("no tensors, metadata", blob({"__metadata__": {"a": "b"}})),
        ("whitespace", blob(b' \n\t{ "a" : { "shape" : [ 2 ] , "dtype" : "U8" , "data_offsets" : [ 0 , 2 ] } }\r\n ',
                            b"xy")),
        ("escaped name", blob(b'{"\\u0041\\n\\"":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}', b"xy")),
        ("scalar", blob({"s": {"dtype": "F64", "shape": [], "data_offsets": [0, 8]}}, b"12345678")),
    ]
    for label, b in cases:
        st, msg = open_status(label, b)
        ref = ref_accepts(b)
        expect(st == 0 and ref, f"{label}: libqnt {st} {msg}, reference {'accepts' if ref else 'refuses'}")
        if st == 0 and ref:
            f = StFile(label, b)
            mine = {t["name"]: (t["dtype"], t["shape"], t["data"]) for t in f.tensors()}
            theirs = {k: (v["dtype"], list(v["shape"]), bytes(v["data"])) for k, v in safetensors.deserialize(b)}
            expect(mine == theirs, f"{label}: content {mine} != {theirs}")
            f.close()
    print(f"  {len(cases)} files: {status_since(nf)}")


def key_at(b, key):
    """File offset of the JSON key `key` in blob b."""
    k = json.dumps(key).encode()
    return b.index(k, 8)


def test_malformed():
    print("malformed files:")
    e = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
    d8 = bytes(range(8))
    big = 2 ** 63 - 1
    cases = []  # (label, blob, offset (None: anything), tensor name in the message or None, reference refuses)

    def add(label, b, offset=None, tensor=None, ref_refuses=True, text=None):
        cases.append((label, b, offset, tensor, ref_refuses, text))

    add("empty file", b"", 0)
    for n in (1, 7):
        add(f"{n} bytes", b"\x02" * n, 0)
    add("header length > file", blob({"a": e}, d8, n=1000), 0, text="exceeds")
    add("header length 2^64-1", blob({}, b"", n=2 ** 64 - 1), 0)
    add("header length > 100 MB", blob({}, b"", n=100_000_001), 0, text="limit")
    add("header length 0", struct.pack("<Q", 0) + b"{}", 8)
    add("not JSON", blob(b"{nope}"), 13)  # jansson's position: the end of the bad token
    add("truncated JSON", blob(b'{"a":{"dtype":"F32"'), None)
    add("trailing garbage", blob(b'{} x'), 12)
    add("not UTF-8", blob(b'{"\xff":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}'), None)
    add("NUL padding", blob(b'{}\0\0\0\0\0\0'), 11)
    add("array header", blob([]), 8, text="not an object")
    add("string header", blob(b'"x"'), None)
    add("entry not an object", blob({"a": [1]}, b""), None, "a")
    add("missing dtype", blob({"a": {"shape": [2], "data_offsets": [0, 8]}}, d8), None, "a")
    add("dtype not a string", blob({"a": dict(e, dtype=1)}, d8), None, "a")
    add("unknown dtype", blob({"a": dict(e, dtype="F7")}, d8), None, "a", text="unknown dtype")
    add("lower-case dtype", blob({"a": dict(e, dtype="f32")}, d8), None, "a")
    add("missing shape", blob({"a": {"dtype": "F32", "data_offsets": [0, 8]}}, d8), None, "a")
    add("shape not an array", blob({"a": dict(e, shape=2)}, d8), None, "a")
    add("negative dim", blob({"a": dict(e, shape=[-2])}, d8), None, "a")
    add("real dim", blob({"a": dict(e, shape=[2.0])}, d8), None, "a")
    add("string dim", blob({"a": dict(e, shape=["2"])}, d8), None, "a")
    add("missing data_offsets", blob({"a": {"dtype": "F32", "shape": [2]}}, d8), None, "a")
    add("data_offsets of 1", blob({"a": dict(e, data_offsets=[8])}, d8), None, "a")
    add("data_offsets of 3", blob({"a": dict(e, data_offsets=[0, 8, 8])}, d8), None, "a")
    add("data_offsets not ints", blob({"a": dict(e, data_offsets=[0, "8"])}, d8), None, "a")
    add("begin > end", blob({"a": dict(e, data_offsets=[8, 0])}, d8), None, "a", text="begin > end")
    add("end beyond the data", blob({"a": dict(e, data_offsets=[0, 8])}, d8[:4]), None, "a", text="beyond")
    add("huge end", blob({"a": dict(e, data_offsets=[0, big])}, d8), None, "a")
    add("end > 2^63", blob(b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,18446744073709551615]}}', d8), None)
    add("size mismatch", blob({"a": dict(e, shape=[3], data_offsets=[0, 8])}, d8), None, "a", text="needs 12")
    add("element count overflow", blob({"a": dict(e, shape=[2 ** 32, 2 ** 32, 2 ** 32])}, d8), None, "a",
        text="overflows")
    add("bit count overflow", blob({"a": dict(e, dtype="F64", shape=[2 ** 62])}, d8), None, "a")
    add("F4 odd count", blob({"a": {"dtype": "F4", "shape": [3], "data_offsets": [0, 2]}}, d8[:2]), None, "a",
        text="whole number of bytes")
    add("65 dims", blob({"a": dict(e, shape=[1] * 63 + [2, 1, 1])}, d8), None, "a", ref_refuses=False)
    add("hole at the start", blob({"a": dict(e, data_offsets=[4, 12])}, d8 + d8[:4]), None, "a",
        text="belong to no tensor")
    add("hole in the middle", blob({"a": e, "b": dict(e, data_offsets=[12, 20])}, d8 * 2 + d8[:4]), None, "b")
    add("trailing bytes", blob({"a": e}, d8 + b"!"), None, None, text="belong to no tensor")
    add("overlap", blob({"a": e, "b": dict(e, data_offsets=[4, 12])}, d8 + d8[:4]), None, "b", text="overlap")
    add("same range", blob({"a": e, "b": e}, d8), None, "b")
    add("zero-size inside another", blob({"a": e, "z": dict(e, shape=[0], data_offsets=[4, 4])}, d8), None, "z")
    add("duplicate tensor", blob(b'{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},'
                                 b'"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', d8), None,
        ref_refuses=False, text="duplicate")
    add("duplicate field", blob(b'{"a":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}}', d8), None,
        ref_refuses=True, text="duplicate")
    add("metadata not an object", blob({"__metadata__": "x", "a": e}, d8), None, None)
    add("metadata value int", blob({"__metadata__": {"k": 1}, "a": e}, d8), None, None, text="not a string")
    add("metadata value null", blob({"__metadata__": {"k": None}, "a": e}, d8), None, None)
    add("metadata value object", blob({"__metadata__": {"k": {}}, "a": e}, d8), None, None)
    add("NUL in a name", blob(b'{"a\\u0000b":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', d8), None,
        ref_refuses=False)
    add("deep nesting", blob(b'{"a":' + b"[" * 5000 + b"]" * 5000 + b"}"), None)
    n_bad = 0
    samples = {}
    for label, b, offset, tensor, ref_refuses, text in cases:
        STATS["malformed"] += 1
        path = os.path.join(TMP, "malformed.safetensors")
        with open(path, "wb") as fp:
            fp.write(b)
        for src, data in ((path, None), ("mem:" + label, b)):
            st, msg = open_status(src, data)
            ok = expect(st == E_FORMAT, f"{label}: status {st} ({msg})")
            ok &= expect(msg.startswith(f"{src}: safetensors: "), f"{label}: message does not name the file: {msg}")
            at = msg.rsplit("(at byte offset ", 1)
            ok &= expect(len(at) == 2 and at[1].endswith(")"), f"{label}: no byte offset in: {msg}")
            if len(at) == 2 and offset is not None:
                ok &= expect(at[1] == f"{offset})", f"{label}: offset {at[1]} != {offset}: {msg}")
            if tensor is not None:
                ok &= expect(f"tensor '{tensor}'" in msg, f"{label}: message does not name tensor '{tensor}': {msg}")
                if "(at byte offset" in msg and text not in ("belong to no tensor", "overlap") and \
                        label not in ("hole in the middle", "same range", "zero-size inside another"):
                    ok &= expect(at[1] == f"{key_at(b, tensor)})", f"{label}: offset is not the key's: {msg}")
            if text is not None:
                ok &= expect(text in msg, f"{label}: '{text}' not in: {msg}")
            n_bad += not ok
            samples[label] = msg
        ref = not ref_accepts(b)
        if ref_refuses:
            expect(ref, f"{label}: the reference accepts it")
        else:
            print(f"  note: {label}: reference {'refuses' if ref else 'accepts'} (documented difference)")
    print(f"  {len(cases)} cases, {n_bad} not refused as expected")
    for k in ("header length > 100 MB", "not JSON", "unknown dtype", "size mismatch", "hole in the middle",
              "overlap", "trailing bytes", "duplicate tensor", "metadata value int", "F4 odd count"):
        print(f"    {k}: {samples[k].replace(TMP + os.sep, '')}")
    # missing file, directory
    st, msg = open_status(os.path.join(TMP, "nope.safetensors"))
    expect(st == E_NOT_FOUND and "nope.safetensors" in msg, f"missing file: {st} {msg}")
    st, msg = open_status(TMP)
    expect(st == E_IO, f"directory: {st} {msg}")


def test_fuzz_agreement(rng, arrays):
    """Truncations and header byte changes: libqnt and the reference agree."""
    print("truncations and header byte changes, against the reference:")
    small = {k: v for k, v in list(arrays.items())[::9]}
    b = ref_save(small, {"format": "mlx"})
    hl = struct.unpack("<Q", b[:8])[0]
    disagree = []
    n = 0

    def judge(label, data):
        nonlocal n
        n += 1
        st, msg = open_status("fuzz", data)
        expect(st in (0, E_FORMAT), f"{label}: status {st} {msg}")
        ref = ref_accepts(data)
        if (st == 0) != ref:
            disagree.append((label, st, msg, ref))
        else:
            STATS["agree"] += 1

    for L in range(min(len(b), 8 + hl + 64)):
        judge(f"truncated to {L}", b[:L])
    vals = [0x00, 0x20, 0x22, 0x2c, 0x30, 0x39, 0x5b, 0x5d, 0x7b, 0x7d, 0xff, 0x80]
    for pos in range(8 + hl):
        for v in vals:
            if b[pos] == v:
                continue
            m = bytearray(b)
            m[pos] = v
            judge(f"byte {pos} = {v:#x}", bytes(m))
    # Documented differences: the reference keeps the last of duplicate keys, and
    # accepts integers beyond 2^63 and "\u0000"; libqnt refuses those. Any other
    # disagreement is a failure.
    for label, st, msg, ref in disagree:
        known = ref and st == E_FORMAT and ("duplicate" in msg or "too big" in msg or "NUL" in msg)
        expect(known, f"{label}: libqnt {'accepts' if st == 0 else 'refuses'} ({msg}), the reference "
                      f"{'accepts' if ref else 'refuses'}")
    print(f"  {n} files, {n - len(disagree)} judged as the reference does, {len(disagree)} differently "
          f"(only documented differences allowed)")


# ---------------------------------------------------------------------------
# Sharded checkpoints

def make_shards_mlx(sizes, limit):
    """mlx-lm's make_shards over (name, nbytes), without its empty first shard
    when the first tensor is over the limit."""
    shards, cur, size = [], [], 0
    for name, nb in sizes:
        if cur and size + nb > limit:
            shards.append(cur)
            cur, size = [], 0
        cur.append(name)
        size += nb
    shards.append(cur)
    return shards


def write_shards(d, arrays, limit, flags=WRITE_SORTED, total_parameters=-1, meta=None):
    desc = describe(arrays)
    names = list(desc)
    w = Writer(d, flags, shards=True, max_shard_bytes=limit, total_parameters=total_parameters)
    for k, v in (meta or {}).items():
        check(w.meta(k, v))
    for n in names:
        check(w.add(n, desc[n][0], desc[n][1]))
    check(w.begin())
    shard_names = [w.shard_name(i) for i in range(w.n_shards())]
    assign = [w.tensor_shard(i) for i in range(len(names))]
    while True:
        i = w.next()
        if i < 0:
            break
        check(w.write_tensor(i, desc[names[i]][2]))
    check(w.finish())
    STATS["files_written"] += len(shard_names)
    return shard_names, assign


def test_shards(rng):
    print("sharded checkpoints:")
    nf = len(FAILURES)
    arrays = {}
    for i in range(14):
        n = int(rng.integers(0, 120))
        arrays[f"model.layers.{i}.w"] = rng.standard_normal(n).astype(np.float32)
    arrays["big"] = rng.standard_normal(400).astype(np.float32)  # 1600 bytes > limit
    arrays["lm_head.weight"] = rng.integers(0, 2 ** 32, 50, dtype=np.uint32)
    desc = describe(arrays)
    limit = 1000
    d = os.path.join(TMP, "sharded")
    os.mkdir(d)
    shard_names, assign = write_shards(d, arrays, limit, total_parameters=12345, meta={"format": "mlx"})
    want = make_shards_mlx([(k, len(v[2])) for k, v in desc.items()], limit)
    m = len(want)
    expect(shard_names == [f"model-{i + 1:05d}-of-{m:05d}.safetensors" for i in range(m)], f"names {shard_names}")
    names = list(desc)
    expect([[names[i] for i in range(len(names)) if assign[i] == s] for s in range(m)] == want, "shard assignment")
    expect(sorted(os.listdir(d)) == sorted(shard_names + ["model.safetensors.index.json"]),
           f"directory {sorted(os.listdir(d))}")
    weight_map = {n: shard_names[assign[i]] for i, n in enumerate(names)}
    index = {"metadata": {"total_size": sum(len(v[2]) for v in desc.values()), "total_parameters": 12345},
             "weight_map": {k: weight_map[k] for k in sorted(weight_map)}}
    text = open(os.path.join(d, "model.safetensors.index.json"), "rb").read()
    expect(text == json.dumps(index, indent=4).encode(), f"index differs from mlx-lm's json.dump: {text[:300]!r}")
    for s, sname in enumerate(shard_names):
        got, meta, _ = ref_load(os.path.join(d, sname))
        expect(meta == {"format": "mlx"}, f"{sname}: metadata {meta}")
        expect(got == {n: desc[n] for n in want[s]}, f"{sname}: content")
        expect(sum(len(v[2]) for v in got.values()) <= limit or len(got) == 1, f"{sname}: over the limit")
    # the index reader, lazily and all at once
    for flags in (0, INDEX_OPEN_ALL):
        x = Index(os.path.join(d, "model.safetensors.index.json"), flags)
        expect(x.names() == sorted(names), "index names")
        expect(x.shards() == shard_names, f"index shards {x.shards()}")
        expect(x.total_size() == index["metadata"]["total_size"], "total_size")
        expect(x.metadata() == [("total_size", str(index["metadata"]["total_size"])), ("total_parameters", "12345")],
               f"index metadata {x.metadata()}")
        for n in names:
            t, p = x.find(n)
            expect(t["name"] == n and (t["dtype"], t["shape"], t["data"]) == desc[n] and
                   p == os.path.join(d, weight_map[n]), f"find {n}")
        try:
            x.find("missing")
            expect(False, "find of a missing tensor")
        except QntError as e:
            expect(e.status == E_NOT_FOUND, f"find missing: {e}")
        x.verify()
        x.close()
    # one shard: model.safetensors, index (mlx-lm) or none (INDEX_IF_MANY)
    for flags, with_index in ((WRITE_SORTED, True), (SHARDS_INDEX_IF_MANY, False)):
        d1 = os.path.join(TMP, f"single-{flags}")
        os.mkdir(d1)
        sn, _ = write_shards(d1, arrays, 0, flags)
        expect(sn == ["model.safetensors"], f"single shard name {sn}")
        expect(sorted(os.listdir(d1)) == sorted(["model.safetensors"] + (["model.safetensors.index.json"]
                                                                           if with_index else [])),
               f"single shard directory {os.listdir(d1)}")
        got, _, _ = ref_load(os.path.join(d1, "model.safetensors"))
        expect(got == desc, "single shard content")
    # the same in declaration order, written as one stream in chunks that
    # cross tensor and shard boundaries: the same files as tensor by tensor
    dA, dB = os.path.join(TMP, "by-tensor"), os.path.join(TMP, "by-chunk")
    os.mkdir(dA)
    os.mkdir(dB)
    write_shards(dA, arrays, limit, flags=0, meta={"format": "mlx"})
    w = Writer(dB, 0, shards=True, max_shard_bytes=limit)
    check(w.meta("format", "mlx"))
    for n in names:
        check(w.add(n, desc[n][0], desc[n][1]))
    stream = b"".join(desc[n][2] for n in names)
    pos = 0
    while pos < len(stream):
        step = int(rng.integers(1, 700))
        check(w.write(stream[pos:pos + step]))
        pos += step
    expect(w.next() == -1 and w.write(b"x") == E_INVALID_ARG, "sharded: a byte too many")
    check(w.finish())
    expect(listing(dA) == listing(dB) and all(open(os.path.join(dA, f), "rb").read() ==
                                              open(os.path.join(dB, f), "rb").read() for f in listing(dA)),
           "sharded: chunked stream and tensor by tensor differ")
    # no tensors at all
    d0 = os.path.join(TMP, "none")
    os.mkdir(d0)
    sn, _ = write_shards(d0, {}, 0)
    expect(json.load(open(os.path.join(d0, "model.safetensors.index.json"))) ==
           {"metadata": {"total_size": 0}, "weight_map": {}}, "empty index")
    expect(ref_load(os.path.join(d0, "model.safetensors"))[0] == {}, "empty shard")
    dz = os.path.join(TMP, "zeros")
    os.mkdir(dz)
    zeros = {"a": np.zeros((0, 4), np.float32), "b": np.zeros((3, 0), np.uint8)}
    sn, _ = write_shards(dz, zeros, 1)
    expect(sn == ["model.safetensors"] and ref_load(os.path.join(dz, sn[0]))[0] == describe(zeros), "zero-size shard")
    print(f"  {m} shards, mlx-lm split, names and index bytes; single-shard and empty cases: "
          f"{status_since(nf)}")
    return arrays


def hf_checkpoint(d, arrays, groups, extra_index=None):
    """A Hugging Face-style sharded checkpoint written by the package."""
    os.makedirs(d, exist_ok=True)
    n = len(groups)
    wm = {}
    for i, g in enumerate(groups):
        name = f"model-{i + 1:05d}-of-{n:05d}.safetensors"
        stn.save_file({k: arrays[k] for k in g}, os.path.join(d, name), metadata={"format": "pt"})
        for k in g:
            wm[k] = name
    index = {"metadata": {"total_size": sum(arrays[k].nbytes for k in wm)}, "weight_map": wm}
    if extra_index:
        extra_index(index)
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as fp:
        json.dump(index, fp, indent=2)
    return os.path.join(d, "model.safetensors.index.json")


def index_status(path, flags=INDEX_OPEN_ALL):
    try:
        x = Index(path, flags)
        x.close()
        return 0, ""
    except QntError as e:
        return e.status, e.msg


def test_hf_index(rng, arrays):
    print("sharded checkpoints written by the package, and index errors:")
    nf = len(FAILURES)
    names = list(arrays)
    groups = [names[:5], names[5:11], names[11:]]
    p = hf_checkpoint(os.path.join(TMP, "hf"), arrays, groups)
    x = Index(p, INDEX_OPEN_ALL)
    for k in names:
        t, _ = x.find(k)
        expect(t["data"] == arrays[k].tobytes() and t["shape"] == list(arrays[k].shape), f"hf find {k}")
    x.close()

    def case(label, mutate_index=None, after=None, want=E_FORMAT, text=None, groups_=groups, flags=INDEX_OPEN_ALL,
             key=None):
        d = os.path.join(TMP, "hf-" + label.replace(" ", "-"))
        p = hf_checkpoint(d, arrays, groups_, mutate_index)
        if after:
            after(d)
        st, msg = index_status(p, flags)
        expect(st == want, f"index {label}: {st} {msg}")
        if text:
            expect(text in msg, f"index {label}: '{text}' not in {msg}")
        if key is not None:  # the message's offset is that of the key in the index
            at = open(p, "rb").read().index(json.dumps(key).encode() + b":")
            expect(msg.endswith(f"(at byte offset {at})"), f"index {label}: offset, want {at}: {msg}")
        return msg

    samples = {}
    samples["missing tensor"] = case("missing tensor", lambda ix: ix["weight_map"].__setitem__("ghost", ix["weight_map"][names[0]]),
                                     text="'ghost' is not in its shard", key="ghost")
    samples["tensor twice"] = case("tensor twice", groups_=[names[:5], names[4:11], names[11:]], text="also here")
    samples["not in index"] = case("not in index", lambda ix: ix["weight_map"].pop(names[3]), text="not in the index")
    case("missing shard", after=lambda d: os.unlink(os.path.join(d, "model-00002-of-00003.safetensors")),
         want=E_NOT_FOUND)
    case("broken shard", after=lambda d: open(os.path.join(d, "model-00002-of-00003.safetensors"), "r+b").truncate(20),
         text="safetensors: ")
    for bad in ("/etc/passwd", "../x.safetensors", "a/../../x", "", "a//b", "./x"):
        case(f"shard name {bad!r}", lambda ix, bad=bad: ix["weight_map"].__setitem__(names[0], bad),
             text="bad shard file name", key=names[0])
    case("no weight_map", lambda ix: ix.pop("weight_map"), text="weight_map")
    case("weight_map list", lambda ix: ix.__setitem__("weight_map", []), text="weight_map", key="weight_map")
    case("shard not a string", lambda ix: ix["weight_map"].__setitem__(names[0], 3), text="not a string",
         key=names[0])
    case("metadata a string", lambda ix: ix.__setitem__("metadata", "x"), text="metadata")
    d = os.path.join(TMP, "hf-badjson")
    os.makedirs(d)
    open(os.path.join(d, "model.safetensors.index.json"), "w").write('{"weight_map": {"a": "b"},}')
    st, msg = index_status(os.path.join(d, "model.safetensors.index.json"))
    expect(st == E_FORMAT and "byte offset" in msg, f"index bad JSON: {st} {msg}")
    st, msg = index_status(os.path.join(TMP, "nope", "model.safetensors.index.json"))
    expect(st == E_NOT_FOUND, f"index missing: {st} {msg}")
    # lazily: a broken shard is found only when used
    d = os.path.join(TMP, "hf-lazy")
    p = hf_checkpoint(d, arrays, groups)
    open(os.path.join(d, "model-00003-of-00003.safetensors"), "r+b").truncate(30)
    x = Index(p, 0)
    t, _ = x.find(names[0])
    expect(t["data"] == arrays[names[0]].tobytes(), "lazy: a good shard")
    for _ in range(2):
        try:
            x.find(names[-1])
            expect(False, "lazy: broken shard accepted")
        except QntError as e:
            expect(e.status == E_FORMAT, f"lazy: broken shard: {e}")
    try:
        x.verify()
        expect(False, "verify accepts a broken shard")
    except QntError as e:
        expect(e.status == E_FORMAT, f"verify: {e}")
    x.close()
    for k, v in samples.items():
        print(f"    {k}: {v.replace(TMP + os.sep, '')}")
    print(f"  {status_since(nf)}")


# ---------------------------------------------------------------------------
# Checksums

def data_order(path):
    """Tensor names by data_offsets, ties (tensors of zero bytes) in header
    order: offset_keys orders ties at random."""
    raw = open(path, "rb").read()
    hdr = json.loads(raw[8:8 + struct.unpack("<Q", raw[:8])[0]])
    ents = [(v["data_offsets"], i, k) for i, (k, v) in enumerate(hdr.items()) if k != "__metadata__"]
    return [k for _, _, k in sorted(ents)]


def test_checksums(rng, arrays):
    print("checksums:")
    nf = len(FAILURES)
    desc = describe(arrays)
    names = list(desc)
    for flags in (WRITE_CHECKSUMS, WRITE_CHECKSUMS | WRITE_SORTED):
        path = os.path.join(TMP, f"ck-{flags}.safetensors")
        order = names[:]
        random.Random(flags).shuffle(order)
        meta = {"format": "mlx", "qnt.xxh3_64": "a value of the caller's, replaced"}
        write_with_libqnt(path, arrays, meta, flags, order, rng, chunked=True)
        got, gmeta, _ = ref_load(path)
        expect(got == desc, f"flags {flags}: package reads other content")
        keys = data_order(path)
        want = " ".join(f"{xxh3_ref(desc[k][2]):016x}" for k in keys)
        raw = open(path, "rb").read()
        hmeta = json.loads(raw[8:8 + struct.unpack("<Q", raw[:8])[0]])["__metadata__"]
        expect(list(hmeta) == ["format", "qnt.xxh3_64"] and gmeta == hmeta and gmeta["qnt.xxh3_64"] == want,
               f"flags {flags}: checksums {list(hmeta)} "
               f"{[(k, a, b) for k, a, b in zip(keys, gmeta.get('qnt.xxh3_64', '').split(), want.split()) if a != b][:3]}")
        with StFile(path) as f:
            ts = f.tensors()
            expect([t["name"] for t in ts] == keys or not flags & WRITE_SORTED, "data order")
            expect([f.stored_checksum(i) for i in range(len(ts))] == [xxh3_ref(t["data"]) for t in ts],
                   f"flags {flags}: stored_checksum")
            expect(f.verify() == 0, f"flags {flags}: verify {last_error()}")
            victim = max(ts, key=lambda t: t["nbytes"])
        raw = bytearray(open(path, "rb").read())
        raw[victim["file_offset"] + victim["nbytes"] - 1] ^= 1
        with StFile("flipped.safetensors", raw) as f:
            st, msg = f.verify(), last_error()
            expect(st == E_FORMAT and f"tensor '{victim['name']}'" in msg and
                   f"(at byte offset {victim['file_offset']})" in msg, f"flipped: {st} {msg}")
        if flags & WRITE_SORTED:
            print(f"    {msg}")
    # sorted, checksums the only metadata: byte for byte the package's file
    path = os.path.join(TMP, "ck-ref.safetensors")
    write_with_libqnt(path, arrays, None, WRITE_CHECKSUMS | WRITE_SORTED)
    _, gmeta, keys = ref_load(path)
    expect(open(path, "rb").read() == ref_save(arrays, metadata=gmeta), "checksummed file differs from the package's")
    # edge cases: no tensors (an empty entry), a zero-size tensor; no flag drops a caller's entry
    for arrs in ({}, {"z": np.zeros((0, 2), np.float32), "a": np.arange(3, dtype=np.int8)}):
        write_with_libqnt(path, arrs, None, WRITE_CHECKSUMS)
        _, gmeta, keys = ref_load(path)
        expect(gmeta == {"qnt.xxh3_64": " ".join(f"{xxh3_ref(describe(arrs)[k][2]):016x}" for k in keys)},
               f"edge {list(arrs)}: {gmeta}")
        with StFile(path) as f:
            expect(f.verify() == 0, f"edge {list(arrs)}: verify {last_error()}")
    write_with_libqnt(path, arrays, {"qnt.xxh3_64": "stale", "k": "v"}, 0)
    _, gmeta, _ = ref_load(path)
    expect(gmeta == {"k": "v"}, f"no flag: {gmeta}")
    with StFile(path) as f:
        expect(f.stored_checksum(0) is None and f.verify() == E_NOT_FOUND, "no checksums")
    # malformed entries are not used
    for bad in ("0" * 15, ("0" * 16 + " ") * (len(names) - 1) + "0" * 15 + "G", ("0" * 16 + "  ") * len(names)):
        write_with_libqnt(path, arrays, {"qnt.xxh3_64": bad}, 0)
        raw = open(path, "rb").read()
        hl = struct.unpack("<Q", raw[:8])[0]
        hdr = json.loads(raw[8:8 + hl])
        hdr["__metadata__"] = {"qnt.xxh3_64": bad}
        with StFile("bad.safetensors", blob(hdr, raw[8 + hl:])) as f:
            expect(f.stored_checksum(0) is None and f.verify() == E_NOT_FOUND, f"malformed entry {bad[:20]!r}")
    # sharded: each shard has its own
    d = os.path.join(TMP, "ck-shards")
    os.mkdir(d)
    w = Writer(d, WRITE_CHECKSUMS, shards=True, max_shard_bytes=1000)
    for n in names:
        check(w.add(n, desc[n][0], desc[n][1]))
    while True:
        i = w.next()
        if i < 0:
            break
        check(w.write_tensor(i, desc[names[i]][2]))
    check(w.finish())
    shards = sorted(x for x in os.listdir(d) if x.endswith(".safetensors"))
    for sh in shards:
        _, gmeta, keys = ref_load(os.path.join(d, sh))
        expect(gmeta.get("qnt.xxh3_64") == " ".join(f"{xxh3_ref(desc[k][2]):016x}" for k in keys), f"shard {sh}")
    print(f"    {len(shards)} shards, each with its own checksums")
    print(f"  {status_since(nf)}")


# ---------------------------------------------------------------------------
# Atomic output

SUB = textwrap.dedent("""
    import os, resource, signal, sys
    from iotest import *
    mode, path, flags = sys.argv[1], sys.argv[2], int(sys.argv[3])
    w = Writer(path, flags)
    check(w.add("a", "U8", [1 << 20]))
    check(w.add("b", "U8", [100]))
    if mode == "fsize":
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (300000, 300000))
        st = w.write(b"x" * (1 << 19))
        st = st or w.write(b"x" * (1 << 19))
        st2 = w.write(b"y" * 100)
        st3 = w.finish()
        print(st, st2, st3)
        print(last_error())
    elif mode == "kill":
        check(w.write(b"x" * (1 << 19)))
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)
""")


def listing(d):
    return sorted(os.listdir(d))


def test_atomic():
    print("atomic output:")
    nf = len(FAILURES)
    d = os.path.join(TMP, "atomic")
    os.mkdir(d)
    dest = os.path.join(d, "out.safetensors")
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.abspath(__file__)))
    for flags in (0, WRITE_NAMED_TEMP):
        tag = "named temp" if flags else "O_TMPFILE"
        # abandoned mid-way
        w = Writer(dest, flags)
        check(w.add("a", "F32", [1000]))
        check(w.write(b"\0" * 1000))
        lst = listing(d)
        if flags:
            expect(len(lst) == 1 and lst[0].startswith(".out.safetensors.tmp-"), f"{tag}: temp file {lst}")
        expect(not os.path.exists(dest), f"{tag}: destination exists before finish")
        w.abort()
        expect(listing(d) == [], f"{tag}: abandoned writer left {listing(d)}")
        # finished before all bytes
        w = Writer(dest, flags)
        check(w.add("a", "F32", [1000]))
        check(w.write(b"\0" * 3999))
        st = w.finish()
        expect(st == E_INVALID_ARG and "incomplete" in last_error(), f"{tag}: incomplete finish {st}")
        expect(listing(d) == [], f"{tag}: incomplete finish left {listing(d)}")
        # write failure (RLIMIT_FSIZE, EFBIG), with an old file at the destination
        open(dest, "wb").write(b"old content")
        r = subprocess.run([sys.executable, "-c", SUB, "fsize", dest, str(flags)], env=env, capture_output=True,
                           text=True, timeout=120)
        out = r.stdout.split("\n")
        expect(r.returncode == 0 and out[0].split()[0] == str(E_IO), f"{tag}: EFBIG run: {r.stdout} {r.stderr}")
        expect(len(out) > 1 and dest in out[1] and "write failed at byte offset" in out[1] and "large" in out[1],
               f"{tag}: EFBIG message: {out[1:2]}")
        expect(len(out) > 0 and out[0].split()[1:] == [str(E_IO), str(E_IO)], f"{tag}: sticky error: {out[0]}")
        expect(listing(d) == ["out.safetensors"] and open(dest, "rb").read() == b"old content",
               f"{tag}: write failure left {listing(d)} / changed the destination")
        if flags == 0:
            print(f"    {out[1].replace(TMP + os.sep, '')}")
        os.unlink(dest)
        # killed mid-write
        r = subprocess.run([sys.executable, "-c", SUB, "kill", dest, str(flags)], env=env, capture_output=True,
                           timeout=120)
        expect(r.returncode == -9, f"{tag}: kill run {r.returncode} {r.stderr}")
        lst = listing(d)
        if flags:
            # a named temporary file survives a SIGKILL (documented); clean up
            expect(len(lst) == 1 and lst[0].startswith(".out.safetensors.tmp-"), f"{tag}: after kill {lst}")
            for n in lst:
                os.unlink(os.path.join(d, n))
        else:
            expect(lst == [], f"{tag}: a killed writer left {lst}")
        # rename fails: the destination became a directory
        w = Writer(dest, flags)
        check(w.add("a", "U8", [3]))
        check(w.write(b"abc"))
        os.mkdir(dest)
        st = w.finish()
        expect(st == E_IO and "rename" in last_error(), f"{tag}: rename over a directory: {st} {last_error()}")
        expect(listing(d) == ["out.safetensors"] and os.path.isdir(dest), f"{tag}: after failed rename {listing(d)}")
        os.rmdir(dest)
        # replaces an existing file; mode 0666 less the umask
        open(dest, "wb").write(b"old")
        os.chmod(dest, 0o600)
        w = Writer(dest, flags)
        check(w.add("a", "U8", [3]))
        check(w.write(b"abc"))
        expect(open(dest, "rb").read() == b"old", f"{tag}: destination changed before finish")
        check(w.finish())
        um = os.umask(0)
        os.umask(um)
        expect(stat.S_IMODE(os.stat(dest).st_mode) == 0o666 & ~um, f"{tag}: mode {oct(os.stat(dest).st_mode)}")
        expect(ref_load(dest)[0] == {"a": ("U8", [3], b"abc")} and listing(d) == ["out.safetensors"],
               f"{tag}: replaced file")
        os.unlink(dest)
    # creation errors
    st = lib.iotest_w_create(os.path.join(TMP, "no-dir", "x.safetensors").encode(), 0, ctypes.byref(ctypes.c_void_p()))
    expect(st == E_NOT_FOUND, f"missing directory: {st} {last_error()}")
    st = lib.iotest_w_create(d.encode(), 0, ctypes.byref(ctypes.c_void_p()))
    expect(st == E_IO and "directory" in last_error(), f"destination is a directory: {st} {last_error()}")
    st = lib.iotest_w_create((d + "/").encode(), 0, ctypes.byref(ctypes.c_void_p()))
    expect(st == E_INVALID_ARG, f"path ending in '/': {st}")
    # the atomic file itself: pwrite patches written bytes only
    for flags in (0, AFILE_NAMED_TEMP):
        h = ctypes.c_void_p()
        check(lib.iotest_af_create(dest.encode(), flags, ctypes.byref(h)))
        expect((lib.iotest_af_temp_path(h) is None) == (flags == 0), "temp path")
        check(lib.iotest_af_write(h, b"hello world", 11))
        check(lib.iotest_af_pwrite(h, b"W", 1, 6))
        big = b"z" * (3 << 20)  # past the buffer
        check(lib.iotest_af_write(h, big, len(big)))
        check(lib.iotest_af_pwrite(h, b"!", 1, 11 + len(big) - 1))
        expect(lib.iotest_af_size(h) == 11 + len(big), "size")
        check(lib.iotest_af_commit(h))
        expect(open(dest, "rb").read() == b"hello World" + big[:-1] + b"!", "afile content")
        check(lib.iotest_af_create(dest.encode(), flags, ctypes.byref(h)))
        check(lib.iotest_af_write(h, b"abc", 3))
        expect(lib.iotest_af_pwrite(h, b"abcd", 4, 0) == E_INVALID_ARG, "pwrite beyond the end")
        expect(lib.iotest_af_commit(h) == E_INVALID_ARG, "sticky error at commit")
        expect(listing(d) == ["out.safetensors"] and open(dest, "rb").read().startswith(b"hello"),
               "failed commit keeps the old file")
        os.unlink(dest)
    # the sharded writer, abandoned after its first shard: nothing left
    sd = os.path.join(TMP, "shards-abort")
    os.mkdir(sd)
    for flags in (0, WRITE_NAMED_TEMP):
        w = Writer(sd, flags, shards=True, max_shard_bytes=100)
        for i in range(5):
            check(w.add(f"t{i}", "U8", [80]))
        check(w.write(b"x" * 250))
        w.abort()
        expect(listing(sd) == [], f"abandoned sharded writer left {listing(sd)}")
        w = Writer(sd, flags, shards=True, max_shard_bytes=100)
        for i in range(5):
            check(w.add(f"t{i}", "U8", [80]))
        check(w.write(b"x" * 399))
        expect(w.finish() == E_INVALID_ARG and listing(sd) == [], f"incomplete sharded finish left {listing(sd)}")
    print(f"  {status_since(nf)}")


def main():
    rng = np.random.default_rng(0x5afe7e45)
    print(f"safetensors {safetensors.__version__}, ml_dtypes {getattr(ml_dtypes, '__version__', 'missing')}")
    try:
        test_dtype_list()
        arrays = test_package_to_libqnt(rng)
        test_libqnt_to_package(rng, arrays)
        test_writer_errors()
        test_valid_oddities()
        test_malformed()
        test_fuzz_agreement(rng, arrays)
        sharded = test_shards(rng)
        test_hf_index(rng, sharded)
        test_checksums(rng, arrays)
        test_atomic()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    print(f"totals: {STATS['checks']} checks, {STATS['files_read']} files read, {STATS['files_written']} written, "
          f"{STATS['malformed']} malformed cases, {STATS['agree']} fuzzed files judged as the reference does")
    if FAILURES:
        print(f"{len(FAILURES)} failure(s)")
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
