# SPDX-License-Identifier: MIT
"""libqnt's internal GGUF writer and reader (lib/io/gguf_write.c,
gguf_read.c, through libqnt_iotest.so) against the `gguf` package
(gguf-py: GGUFReader and GGUFWriter) in the project venv.

1. Files written by libqnt, read by gguf.GGUFReader: every metadata value
   type (the ten numbers, BOOL, STRING with empty and non-ASCII text),
   arrays of each, arrays of strings, empty arrays and arrays of arrays
   three deep, keys in the order first set (a key set twice keeps its
   place, a removed key is gone); a tensor of every ggml type both know,
   0-D to 4-D, zero-size, with the names, types, shapes and bytes given;
   the alignment default (32) and general.alignment = 1, 8, 64, 4096:
   GGUFReader's data_offset and every tensor offset are aligned, the
   padding is zero, and the bytes of each field are the ones encoded.
2. Files written by gguf.GGUFWriter (every add_* type, nested arrays,
   numpy and raw quantized tensors, custom alignment) read by libqnt: the
   same keys, types, value bytes, tensors and data.
3. Round trip: a GGUFWriter file read with libqnt and written again
   (set_value of every key, the tensors in file order, the data in random
   chunks) is byte for byte the same file, for alignments 32, 64 and 1.
4. Checksums ("qnt.xxh3_64"): the array GGUFReader reads equals libxxhash's
   one-shot XXH3_64bits of each tensor's bytes (the writer hashes the
   chunks with the streaming API); the reader's stored_checksum and verify
   agree; a flipped data byte is caught, naming the tensor; a checksummed
   file copied with the flag is byte-identical, without it loses the key.
5. Writer misuse: bad keys and alignments, unknown types, rows that are not
   whole blocks, duplicate or long names, calls after the data began,
   bytes past the end or missing.
6. Interrupted writes leave nothing: an abandoned writer, a finish with
   missing bytes, a write failure from RLIMIT_FSIZE (EFBIG, SIGXFSZ
   ignored, in a child process) and a child killed with SIGKILL mid-write
   leave no file at the destination and no temporary file (O_TMPFILE), and
   an old destination keeps its content.
"""
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import textwrap

from iotest import (CHECKSUM_KEY, E_BAD_SHAPE, E_FORMAT, E_INVALID_ARG, E_IO, E_NOT_FOUND, G_ARRAY, G_BOOL,
                    G_FLOAT32, G_FLOAT64, G_INT8, G_INT16, G_INT32, G_INT64, G_STRING, G_UINT8, G_UINT16, G_UINT32,
                    G_UINT64, GGUF_WRITE_CHECKSUMS, GGUF_WRITE_NAMED_TEMP, GgufFile, GgufWriter, QntError, check,
                    last_error, require, xxh3_ref)

np = require("numpy")
require("gguf")
import gguf  # noqa: E402
from gguf import GGMLQuantizationType as QT, GGUFValueType as VT  # noqa: E402

FAILURES = []
STATS = {"checks": 0, "files": 0}
TMP = tempfile.mkdtemp(prefix="qnt-gguf-")
E_UNKNOWN_TYPE = -7


def expect(cond, msg):
    STATS["checks"] += 1
    if not cond:
        FAILURES.append(msg)
        print("FAIL:", msg)


def status_since(n):
    return "ok" if len(FAILURES) == n else f"{len(FAILURES) - n} FAILED"


# ---------------------------------------------------------------------------
# Values: an encoder from the spec, and what gguf-py's reader returns

FMT = {G_UINT8: "B", G_INT8: "b", G_UINT16: "H", G_INT16: "h", G_UINT32: "I", G_INT32: "i", G_FLOAT32: "f",
       G_BOOL: "?", G_UINT64: "Q", G_INT64: "q", G_FLOAT64: "d"}
NP = {G_UINT8: np.uint8, G_INT8: np.int8, G_UINT16: np.uint16, G_INT16: np.int16, G_UINT32: np.uint32,
      G_INT32: np.int32, G_FLOAT32: np.float32, G_BOOL: np.bool_, G_UINT64: np.uint64, G_INT64: np.int64,
      G_FLOAT64: np.float64}


def enc(vtype, val):
    """The bytes after the type field. Arrays are (elem_type, [items])."""
    if vtype in FMT:
        return struct.pack("<" + FMT[vtype], val)
    if vtype == G_STRING:
        b = val.encode()
        return struct.pack("<Q", len(b)) + b
    et, items = val
    return struct.pack("<IQ", et, len(items)) + b"".join(enc(et, x) for x in items)


def leaves(vtype, val):
    if vtype == G_ARRAY:
        et, items = val
        return [x for it in items for x in leaves(et, it)]
    if vtype == G_FLOAT32:
        return [float(np.float32(val))]
    if vtype == G_BOOL:
        return [bool(val)]
    return [val]


def type_list(vtype, val):
    if vtype == G_ARRAY:
        et, items = val
        return [G_ARRAY] + (type_list(et, items[0]) if items else [])
    return [vtype]


def field_bytes(field):
    """The bytes of a GGUFReader field after its key and type."""
    return b"".join(p.tobytes() for p in field.parts[3:])


def kv_fields(r):
    """GGUFReader's fields less its three header pseudo-fields."""
    items = list(r.fields.items())
    assert [k for k, _ in items[:3]] == ["GGUF.version", "GGUF.tensor_count", "GGUF.kv_count"]
    return dict(items[3:])


def field_leaves(field):
    c = field.contents()
    return c if isinstance(c, list) else [c]


# Every value type, with extremes; nested arrays three deep.
META = [
    ("general.architecture", G_STRING, "llama"),
    ("t.u8", G_UINT8, 255), ("t.i8", G_INT8, -128), ("t.u16", G_UINT16, 65535), ("t.i16", G_INT16, -32768),
    ("t.u32", G_UINT32, 4294967295), ("t.i32", G_INT32, -2147483648), ("t.f32", G_FLOAT32, 0.1),
    ("t.bool", G_BOOL, True), ("t.bool0", G_BOOL, False), ("t.str", G_STRING, "caf\u00e9 \u2713 \"q\"\n\t"),
    ("t.empty_str", G_STRING, ""), ("t.u64", G_UINT64, 2**64 - 1), ("t.i64", G_INT64, -2**63),
    ("t.f64", G_FLOAT64, 1e300),
    ("a.u8", G_ARRAY, (G_UINT8, [0, 1, 255])), ("a.i8", G_ARRAY, (G_INT8, [-128, 0, 127])),
    ("a.u16", G_ARRAY, (G_UINT16, [0, 65535])), ("a.i16", G_ARRAY, (G_INT16, [-32768, 32767])),
    ("a.u32", G_ARRAY, (G_UINT32, [1, 2, 4294967295])), ("a.i32", G_ARRAY, (G_INT32, [-1, 2**31 - 1])),
    ("a.f32", G_ARRAY, (G_FLOAT32, [1.5, -0.0, 3.25e-5])), ("a.bool", G_ARRAY, (G_BOOL, [True, False, True])),
    ("a.u64", G_ARRAY, (G_UINT64, [2**64 - 1, 0])), ("a.i64", G_ARRAY, (G_INT64, [-2**63, 2**63 - 1])),
    ("a.f64", G_ARRAY, (G_FLOAT64, [2.5, -1e-300])), ("a.str", G_ARRAY, (G_STRING, ["a", "", "\u00fc" * 3, "x y"])),
    ("a.empty", G_ARRAY, (G_UINT32, [])), ("a.empty_str", G_ARRAY, (G_STRING, [])),
    ("n.i32", G_ARRAY, (G_ARRAY, [(G_INT32, [1, 2]), (G_INT32, [3]), (G_INT32, [])])),
    ("n.str", G_ARRAY, (G_ARRAY, [(G_STRING, ["x", "yz"]), (G_STRING, [])])),
    ("n.deep", G_ARRAY, (G_ARRAY, [(G_ARRAY, [(G_FLOAT32, [1.5, 2.5])]), (G_ARRAY, [(G_FLOAT32, [7.0])])])),
]


def set_meta(w, key, vtype, val, rng):
    """Sets one value through the writer, by the most specific call."""
    if vtype == G_UINT32 and rng.random() < 0.5:
        return w.set_u32(key, val)
    if vtype == G_INT32:
        return w.set_i32(key, val)
    if vtype == G_UINT64:
        return w.set_u64(key, val)
    if vtype == G_FLOAT32:
        return w.set_f32(key, val)
    if vtype == G_BOOL:
        return w.set_bool(key, val)
    if vtype == G_STRING:
        return w.set_str(key, val)
    if vtype in FMT:
        return w.set_scalar(key, vtype, enc(vtype, val))
    et, items = val
    if et == G_STRING:
        return w.set_array(key, et, items)
    if et in FMT:
        return w.set_array(key, et, (np.array(items, dtype=NP[et]).tobytes(), len(items)))
    return w.set_encoded(key, vtype, enc(vtype, val))


# gguf-py's GGML_QUANT_SIZES gives q8_1 the old 40-byte block (two floats);
# ggml's block_q8_1 has been two halves + 32 quants = 36 bytes since 2024,
# which is libqnt's (and llama.cpp's) size. Its files cannot hold q8_1.
STALE_IN_GGUF_PY = {int(QT.Q8_1): (32, 36)}


def gguf_types():
    """(type id, block, bytes) of every ggml type gguf-py knows (and sizes
    right)."""
    return [(int(t), *gguf.GGML_QUANT_SIZES[t]) for t in QT
            if t in gguf.GGML_QUANT_SIZES and int(t) not in STALE_IN_GGUF_PY]


def check_stale_sizes():
    """The one known difference: gguf-py's q8_1 size (so the test notices
    when gguf-py fixes it)."""
    w = GgufWriter(os.path.join(TMP, "stale.gguf"))
    for tid, (block, tbytes) in STALE_IN_GGUF_PY.items():
        check(w.add_tensor("t", tid, [block * 3]))
        expect(w.tensor_nbytes(0) == 3 * tbytes, f"type {tid}: {w.tensor_nbytes(0)} bytes")
        expect(gguf.GGML_QUANT_SIZES[QT(tid)][1] != tbytes, f"gguf-py now sizes type {tid} as ggml does: "
               "remove it from STALE_IN_GGUF_PY")
    w.abort()


def pad(n, a):
    return (n + a - 1) // a * a


def write_chunks(w, stream, rng):
    """Writes the data stream in random chunks (some crossing tensors)."""
    pos = 0
    while pos < len(stream):
        n = min(len(stream) - pos, rng.choice([1, 7, 100, 4096, 70000, 1 << 20]))
        check(w.write(stream[pos:pos + n]))
        pos += n


# ---------------------------------------------------------------------------
# 1. libqnt writes, gguf-py reads

def libqnt_file(path, rng, align=None, flags=0):
    """Writes META and a tensor of every type; returns (meta, tensors)."""
    w = GgufWriter(path, flags)
    meta = list(META)
    check(set_meta(w, "t.u8", G_UINT8, 1, rng))  # replaced below, keeps its place
    for k, t, v in meta:
        check(set_meta(w, k, t, v, rng))
    meta = [META[1]] + [m for m in META if m[0] != "t.u8"]
    check(w.set_str("t.removed", "gone"))
    check(w.remove("t.removed"))
    check(w.remove("t.never-set"))
    if align is not None:
        check(w.set_u32("general.alignment", align))
        meta.append(("general.alignment", G_UINT32, align))
    tensors = []
    for i, (tid, block, tbytes) in enumerate(gguf_types()):
        nd = i % 5 if block == 1 else 1 + i % 4
        ne = [block * (1 + i % 3)] + [1 + (i + d) % 3 for d in range(1, nd)] if nd else []
        if i == 3:
            ne = [block, 0, 2]
        nel = int(np.prod(ne)) if ne else 1
        data = rng.integers(0, 256, nel // block * tbytes, dtype=np.uint8).tobytes()
        name = f"blk.{i}.{QT(tid).name.lower()}"
        check(w.add_tensor(name, tid, ne))
        expect(w.tensor_nbytes(i) == len(data), f"{name}: nbytes {w.tensor_nbytes(i)} vs gguf-py's {len(data)}")
        tensors.append((name, tid, ne, data))
    write_chunks(w, b"".join(t[3] for t in tensors), rng)
    expect(w.next() == -1, "next after all data")
    check(w.finish())
    STATS["files"] += 1
    return meta, tensors


def check_with_gguf_py(path, meta, tensors, align, label):
    r = gguf.GGUFReader(path)
    a = align or 32
    names = list(kv_fields(r))
    expect(names == [k for k, _, _ in meta], f"{label}: keys {names}")
    for k, t, v in meta:
        f = r.fields.get(k)
        if f is None:
            continue
        expect([int(x) for x in f.types] == type_list(t, v), f"{label}: {k}: types {f.types}")
        expect(field_bytes(f) == enc(t, v), f"{label}: {k}: bytes")
        got = field_leaves(f)
        want = leaves(t, v)
        expect(got == want or (t == G_FLOAT32 and np.allclose(got, want)), f"{label}: {k}: {got} != {want}")
    expect(r.alignment == a, f"{label}: alignment {r.alignment}")
    expect(r.data_offset % a == 0, f"{label}: data offset {r.data_offset}")
    expect(len(r.tensors) == len(tensors), f"{label}: {len(r.tensors)} tensors")
    raw = open(path, "rb").read()
    covered = bytearray(len(raw))
    covered[:r.data_offset] = b"\1" * r.data_offset
    end = r.data_offset
    for rt, (name, tid, ne, data) in zip(r.tensors, tensors):
        expect(rt.name == name and int(rt.tensor_type) == tid, f"{label}: tensor {rt.name} {rt.tensor_type}")
        expect([int(x) for x in rt.shape] == (ne or []), f"{label}: {name}: shape {list(rt.shape)} vs {ne}")
        expect(rt.data.tobytes() == data and rt.n_bytes == len(data), f"{label}: {name}: data")
        expect(rt.data_offset % a == 0 and rt.data_offset == end, f"{label}: {name}: offset {rt.data_offset}")
        covered[rt.data_offset:rt.data_offset + len(data)] = b"\1" * len(data)
        end += pad(len(data), a)
    expect(len(raw) == end, f"{label}: file size {len(raw)}, expected {end}")
    expect(all(b == 0 for b, c in zip(raw, covered) if not c), f"{label}: non-zero padding")
    return r


def check_with_libqnt(path, meta, tensors, label):
    with GgufFile(path) as g:
        expect(g.version == 3, f"{label}: version {g.version}")
        kvs = g.kvs()
        expect([(k, t, raw) for k, t, raw in kvs] == [(k, t, enc(t, v)) for k, t, v in meta], f"{label}: libqnt kvs")
        ts = g.tensors()
        expect([(t["name"], t["type"], t["ne"], t["data"]) for t in ts] ==
               [(n, tid, ne, d) for n, tid, ne, d in tensors], f"{label}: libqnt tensors")


def test_libqnt_to_gguf_py(rng):
    print("libqnt writes, gguf-py reads:")
    nf = len(FAILURES)
    check_stale_sizes()
    for align in (None, 64, 1, 8, 4096):
        path = os.path.join(TMP, f"qnt-{align}.gguf")
        meta, tensors = libqnt_file(path, rng, align)
        check_with_gguf_py(path, meta, tensors, align, f"align {align}")
        check_with_libqnt(path, meta, tensors, f"align {align}")
        print(f"    alignment {align or 32}: {len(meta)} keys, {len(tensors)} tensors, {os.path.getsize(path)} bytes")
    # no tensors, no keys
    path = os.path.join(TMP, "empty.gguf")
    w = GgufWriter(path)
    check(w.finish())
    r = gguf.GGUFReader(path)
    expect(len(kv_fields(r)) == 0 and len(r.tensors) == 0 and os.path.getsize(path) == 32, "empty file")
    print(f"  {status_since(nf)}")


# ---------------------------------------------------------------------------
# 2. gguf-py writes, libqnt reads; 3. round trip

def gguf_py_file(path, rng, align=None):
    gw = gguf.GGUFWriter(path, "llama")
    if align is not None:
        gw.add_custom_alignment(align)
    gw.add_uint8("p.u8", 200)
    gw.add_int8("p.i8", -5)
    gw.add_uint16("p.u16", 40000)
    gw.add_int16("p.i16", -300)
    gw.add_uint32("p.u32", 123456789)
    gw.add_int32("p.i32", -123456789)
    gw.add_float32("p.f32", 3.14159)
    gw.add_uint64("p.u64", 2**63 + 5)
    gw.add_int64("p.i64", -2**40)
    gw.add_float64("p.f64", 2.718281828459045)
    gw.add_bool("p.bool", True)
    gw.add_string("p.str", "h\u00e9llo w\u00f6rld")
    gw.add_array("p.ai32", [1, -2, 3])
    gw.add_array("p.af32", [0.5, 1.25])
    gw.add_array("p.abool", [True, False])
    gw.add_array("p.astr", ["<s>", "</s>", "\u2581the", ""])
    gw.add_array("p.nested", [[1, 2], [3, 4, 5]])
    gw.add_array("p.nested_str", [["a"], ["b", "c"]])
    gw.add_key_value("p.au64", [2**64 - 1, 7], VT.ARRAY, sub_type=VT.UINT64)
    gw.add_key_value("p.au8", [0, 255], VT.ARRAY, sub_type=VT.UINT8)
    tensors = []
    for i, (dt, qt) in enumerate([(np.float32, QT.F32), (np.float16, QT.F16), (np.int8, QT.I8),
                                  (np.int16, QT.I16), (np.int32, QT.I32), (np.int64, QT.I64),
                                  (np.float64, QT.F64)]):
        shape = [(3, 5), (7,), (2, 3, 4), (1, 1, 1, 9), (33,), (4, 4), (5, 1)][i]
        arr = (rng.standard_normal(shape) * 100).astype(dt)
        gw.add_tensor(f"np.{i}", arr)
        tensors.append((f"np.{i}", int(qt), list(reversed(shape)), arr.tobytes()))
    for j, qt in enumerate([QT.Q4_0, QT.Q8_0, QT.Q4_K, QT.Q6_K, QT.IQ4_NL, QT.BF16, QT.MXFP4, QT.TQ2_0]):
        block, tbytes = gguf.GGML_QUANT_SIZES[qt]
        rows = 1 + j % 3
        raw = rng.integers(0, 256, (rows, 2 * tbytes), dtype=np.uint8)
        gw.add_tensor(f"q.{j}", raw, raw_dtype=qt)
        tensors.append((f"q.{j}", int(qt), [2 * block, rows], raw.tobytes()))
    gw.write_header_to_file()
    gw.write_kv_data_to_file()
    gw.write_tensors_to_file()
    gw.close()
    STATS["files"] += 1
    return tensors


def copy_with_libqnt(src, dst, rng, flags=0):
    with GgufFile(src) as g:
        w = GgufWriter(dst, flags)
        for i in range(len(g.kvs())):
            check(w.copy_kv(g, i))
        ts = g.tensors()
        for t in ts:
            check(w.add_tensor(t["name"], t["type"], t["ne"]))
        write_chunks(w, b"".join(t["data"] for t in ts), rng)
        check(w.finish())


def test_gguf_py_to_libqnt(rng):
    print("gguf-py writes, libqnt reads; round trip:")
    nf = len(FAILURES)
    for align in (None, 64, 1):
        src = os.path.join(TMP, f"py-{align}.gguf")
        tensors = gguf_py_file(src, rng, align)
        r = gguf.GGUFReader(src)
        with GgufFile(src) as g:
            kvs = g.kvs()
            expect([k for k, _, _ in kvs] == list(kv_fields(r)), f"py {align}: keys")
            for (k, t, raw), f in zip(kvs, kv_fields(r).values()):
                expect(t == int(f.types[0]) and raw == field_bytes(f), f"py {align}: {k}: value bytes")
            expect(g.alignment == r.alignment and g.data_offset == r.data_offset, f"py {align}: layout")
            ts = g.tensors()
            expect([(t["name"], t["type"], t["ne"], t["data"]) for t in ts] == tensors, f"py {align}: tensors")
            expect([g.data_offset + t["offset"] for t in ts] == [rt.data_offset for rt in r.tensors],
                   f"py {align}: offsets")
        dst = os.path.join(TMP, f"copy-{align}.gguf")
        copy_with_libqnt(src, dst, rng)
        a, b = open(src, "rb").read(), open(dst, "rb").read()
        expect(a == b, f"py {align}: round trip differs ({len(a)} vs {len(b)} bytes)")
        print(f"    alignment {align or 32}: {len(kvs)} keys, {len(tensors)} tensors, {len(a)} bytes: "
              f"round trip {'identical' if a == b else 'DIFFERS'}")
    print(f"  {status_since(nf)}")


# ---------------------------------------------------------------------------
# 4. Checksums

def test_checksums(rng):
    print("checksums:")
    nf = len(FAILURES)
    expect(xxh3_ref(b"") == 0x2D06800538D394C2, "XXH3_64bits of nothing")
    path = os.path.join(TMP, "ck.gguf")
    meta, tensors = libqnt_file(path, rng, 64, GGUF_WRITE_CHECKSUMS)
    r = gguf.GGUFReader(path)
    f = r.fields.get(CHECKSUM_KEY)
    want = [xxh3_ref(t[3]) for t in tensors]
    expect(f is not None and [int(x) for x in f.types] == [G_ARRAY, G_UINT64], "checksum field type")
    expect(f is not None and f.contents() == want, "checksums read by gguf-py equal libxxhash's")
    expect(list(kv_fields(r))[-1] == CHECKSUM_KEY, "checksum key appended last")
    check_with_gguf_py(path, meta + [(CHECKSUM_KEY, G_ARRAY, (G_UINT64, want))], tensors, 64, "checksummed")
    with GgufFile(path) as g:
        expect([g.stored_checksum(i) for i in range(len(tensors))] == want, "stored_checksum")
        expect(g.stored_checksum(len(tensors)) is None and g.stored_checksum(-1) is None, "out of range")
        expect(g.verify() == 0, f"verify: {last_error()}")
        victim = g.tensors()[5]
    print(f"    {len(want)} tensors, e.g. {tensors[5][0]}: {want[5]:016x}")
    # a flipped data byte
    raw = bytearray(open(path, "rb").read())
    raw[victim["file_offset"] + 3] ^= 0x40
    with GgufFile("flipped.gguf", raw) as g:
        st = g.verify()
        msg = last_error()
        expect(st == E_FORMAT and f"tensor '{victim['name']}'" in msg and
               f"(at byte offset {victim['file_offset']})" in msg, f"flipped byte: {st} {msg}")
        print(f"    {msg}")
    # copied with the flag: identical (the key keeps its place); without: dropped
    dst = os.path.join(TMP, "ck-copy.gguf")
    copy_with_libqnt(path, dst, rng, GGUF_WRITE_CHECKSUMS)
    expect(open(dst, "rb").read() == open(path, "rb").read(), "checksummed round trip identical")
    copy_with_libqnt(path, dst, rng)
    r2 = gguf.GGUFReader(dst)
    expect(CHECKSUM_KEY not in r2.fields and list(kv_fields(r2)) == [k for k, _, _ in meta], "no flag: key dropped")
    with GgufFile(dst) as g:
        expect(g.stored_checksum(0) is None and g.verify() == E_NOT_FOUND, "no checksums: verify NOT_FOUND")
    # a caller's value for the key is replaced in place
    w = GgufWriter(dst, GGUF_WRITE_CHECKSUMS)
    check(w.set_str("a", "x"))
    check(w.set_array(CHECKSUM_KEY, G_UINT64, (b"\xff" * 8, 1)))
    check(w.set_str("b", "y"))
    check(w.add_tensor("t0", 0, [3]))
    check(w.add_tensor("t1", 0, [0]))
    check(w.add_tensor("t2", 1, [5]))
    check(w.write(b"\x01" * 12 + b"\x02" * 10))
    check(w.finish())
    r2 = gguf.GGUFReader(dst)
    expect(list(kv_fields(r2)) == ["a", CHECKSUM_KEY, "b"], f"in place: {list(kv_fields(r2))}")
    expect(r2.fields[CHECKSUM_KEY].contents() == [xxh3_ref(b"\x01" * 12), xxh3_ref(b""), xxh3_ref(b"\x02" * 10)],
           "zero-size tensor's checksum")
    # a malformed checksum array is not used
    w = GgufWriter(dst)
    check(w.set_array(CHECKSUM_KEY, G_UINT32, (b"\0" * 4, 1)))
    check(w.add_tensor("t0", 0, [1]))
    check(w.write(b"\0" * 4))
    check(w.finish())
    with GgufFile(dst) as g:
        expect(CHECKSUM_KEY not in [k for k, _, _ in g.kvs()], "without the flag a caller's checksum is dropped")
    # the writer's streaming hash equals the one-shot one over many sizes
    for n in (0, 1, 15, 16, 17, 128, 129, 240, 241, 1023, 1024, 4096, 100003):
        data = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
        w = GgufWriter(dst, GGUF_WRITE_CHECKSUMS)
        check(w.add_tensor("x", 24, [n]))
        write_chunks(w, data, rng)
        check(w.finish())
        with GgufFile(dst) as g:
            expect(g.stored_checksum(0) == xxh3_ref(data), f"stream hash of {n} bytes")
    print(f"  {status_since(nf)}")


# ---------------------------------------------------------------------------
# 5. Misuse

def test_writer_errors():
    print("writer errors:")
    nf = len(FAILURES)
    path = os.path.join(TMP, "err.gguf")
    w = GgufWriter(path)
    cases = [
        (lambda: w.set_u32("general.alignment", 48), E_INVALID_ARG, "power of two"),
        (lambda: w.set_u32("general.alignment", 0), E_INVALID_ARG, "power of two"),
        (lambda: w.set_u64("general.alignment", 64), E_INVALID_ARG, "not UINT32"),
        (lambda: w.set_str("", "x"), E_INVALID_ARG, "key of 0 bytes"),
        (lambda: w.set_str("k" * 65536, "x"), E_INVALID_ARG, "key of 65536 bytes"),
        (lambda: w.set_scalar("k", G_BOOL, b"\x02"), E_INVALID_ARG, "BOOL value 2"),
        (lambda: w.set_scalar("k", G_STRING, b"\0" * 8), E_INVALID_ARG, "not a fixed-size"),
        (lambda: w.set_array("k", G_ARRAY, (b"", 0)), E_INVALID_ARG, "set_value"),
        (lambda: w.set_array("k", G_BOOL, (b"\x00\x03", 2)), E_INVALID_ARG, "BOOL element 1"),
        (lambda: w.set_encoded("k", G_STRING, struct.pack("<Q", 5) + b"abc"), E_INVALID_ARG, "does not fit"),
        (lambda: w.set_encoded("k", G_UINT32, b"\0" * 5), E_INVALID_ARG, "not the 5 given"),
        (lambda: w.set_encoded("k", G_ARRAY, struct.pack("<IQ", 13, 0)), E_INVALID_ARG, "unknown value type 13"),
        (lambda: w.set_encoded("k", 13, b""), E_INVALID_ARG, "unknown value type 13"),
        (lambda: w.set_encoded("k", G_ARRAY, enc(G_ARRAY, (G_ARRAY, [(G_ARRAY, [])])) + b""), 0, ""),
        (lambda: w.add_tensor("x", 4, [32]), E_UNKNOWN_TYPE, "unknown ggml type 4"),
        (lambda: w.add_tensor("x", 43, [32]), E_UNKNOWN_TYPE, "unknown ggml type 43"),
        (lambda: w.add_tensor("x", 2, [31, 2]), E_BAD_SHAPE, "not a multiple of q4_0's block of 32"),
        (lambda: w.add_tensor("x", 0, [-1]), E_BAD_SHAPE, "dimension 0 is -1"),
        (lambda: w.add_tensor("x", 0, [2**32, 2**32]), E_BAD_SHAPE, "overflows"),
        (lambda: w.add_tensor("x", 0, [2**62]), E_BAD_SHAPE, "size in bytes overflows"),
        (lambda: w.add_tensor("x", 0, [1] * 5), E_INVALID_ARG, "more than 4 dimensions"),
        (lambda: w.add_tensor("n" * 64, 0, [1]), E_INVALID_ARG, "1..63 allowed"),
        (lambda: w.add_tensor("", 0, [1]), E_INVALID_ARG, "1..63 allowed"),
        (lambda: w.add_tensor("n" * 63, 0, [2]), 0, ""),
        (lambda: w.add_tensor("n" * 63, 0, [2]), E_INVALID_ARG, "duplicate tensor name"),
        (lambda: w.add_tensor("zero", 0, [0, 2**40]), 0, ""),
    ]
    for i, (call, want, text) in enumerate(cases):
        st = call()
        msg = last_error() if st else ""
        expect(st == want and text in msg and (not st or "err.gguf: GGUF writer: " in msg),
               f"case {i}: {st} {msg!r}, expected {want} '{text}'")
    # nested deeper than the reader allows
    deep = (G_INT8, [1])
    for _ in range(8):
        deep = (G_ARRAY, [deep])
    expect(w.set_encoded("deep", G_ARRAY, enc(G_ARRAY, deep)) == E_INVALID_ARG and "deeper than 8" in last_error(),
           f"nesting 9 deep: {last_error()}")
    expect(w.set_encoded("deep8", G_ARRAY, enc(G_ARRAY, deep[1][0])) == 0, "nesting 8 deep")
    check(w.begin())
    expect(w.set_u32("late", 1) == E_INVALID_ARG and "after the data has begun" in last_error(), "set after begin")
    expect(w.add_tensor("late", 0, [1]) == E_INVALID_ARG, "add after begin")
    expect(w.write_tensor(1, b"\0" * 8) == E_INVALID_ARG and "comes next" in last_error(), "write_tensor order")
    expect(w.write(b"\0" * 9) == E_INVALID_ARG and "only 8 bytes" in last_error(), "write past the end")
    check(w.write_tensor(0, b"\0" * 8))
    expect(w.next() == -1, "zero-size tensor skipped")
    check(w.finish())
    with GgufFile(path) as g:
        expect([t["name"] for t in g.tensors()] == ["n" * 63, "zero"], "file after errors")
    print(f"  {status_since(nf)}")


# ---------------------------------------------------------------------------
# 6. Interrupted writes

SUB = textwrap.dedent("""
    import os, resource, signal, sys
    from iotest import *
    mode, path, flags = sys.argv[1], sys.argv[2], int(sys.argv[3])
    w = GgufWriter(path, flags)
    check(w.set_str("general.architecture", "llama"))
    check(w.add_tensor("a", 24, [1 << 20]))
    check(w.add_tensor("b", 0, [100]))
    if mode == "fsize":
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (300000, 300000))
        st = w.write(b"x" * (1 << 19))
        st = st or w.write(b"x" * (1 << 19))
        st2 = w.write(b"y" * 400)
        st3 = w.finish()
        print(st, st2, st3)
        print(last_error())
    elif mode == "kill":
        check(w.write(b"x" * (1 << 19) * 2))
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)
""")


def test_interrupted():
    print("interrupted writes:")
    nf = len(FAILURES)
    d = os.path.join(TMP, "atomic")
    os.mkdir(d)
    dest = os.path.join(d, "out.gguf")
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.abspath(__file__)))
    ls = lambda: sorted(os.listdir(d))  # noqa: E731
    for flags in (0, GGUF_WRITE_NAMED_TEMP):
        tag = "named temp" if flags else "O_TMPFILE"
        # (3) abort
        w = GgufWriter(dest, flags | GGUF_WRITE_CHECKSUMS)
        check(w.add_tensor("a", 0, [1000]))
        check(w.write(b"\0" * 1000))
        if flags:
            expect(len(ls()) == 1 and ls()[0].startswith(".out.gguf.tmp-"), f"{tag}: temp file {ls()}")
        w.abort()
        expect(ls() == [], f"{tag}: abort left {ls()}")
        # (4) finish with missing bytes
        w = GgufWriter(dest, flags | GGUF_WRITE_CHECKSUMS)
        check(w.add_tensor("a", 0, [1000]))
        check(w.add_tensor("b", 0, [10]))
        check(w.write(b"\0" * 3999))
        st = w.finish()
        msg = last_error()
        expect(st == E_INVALID_ARG and "41 bytes of tensor data missing" in msg and "tensor 'a' is incomplete" in msg,
               f"{tag}: incomplete finish {st} {msg}")
        expect(ls() == [], f"{tag}: incomplete finish left {ls()}")
        if flags == 0:
            print(f"    {msg.replace(TMP + os.sep, '')}")
        # (1) RLIMIT_FSIZE: EFBIG, with an old file at the destination
        open(dest, "wb").write(b"old content")
        r = subprocess.run([sys.executable, "-c", SUB, "fsize", dest, str(flags)], env=env, capture_output=True,
                           text=True, timeout=120)
        out = r.stdout.split("\n")
        expect(r.returncode == 0 and out[0].split() == [str(E_IO)] * 3, f"{tag}: EFBIG run: {r.stdout} {r.stderr}")
        expect(len(out) > 1 and dest in out[1] and "write failed at byte offset" in out[1], f"{tag}: EFBIG: {out}")
        expect(ls() == ["out.gguf"] and open(dest, "rb").read() == b"old content",
               f"{tag}: write failure left {ls()} / changed the destination")
        if flags == 0:
            print(f"    {out[1].replace(TMP + os.sep, '')}")
        os.unlink(dest)
        r = subprocess.run([sys.executable, "-c", SUB, "fsize", dest, str(flags)], env=env, capture_output=True,
                           text=True, timeout=120)
        expect(r.returncode == 0 and ls() == [], f"{tag}: write failure, no old file: left {ls()}")
        # (2) SIGKILL mid-write
        r = subprocess.run([sys.executable, "-c", SUB, "kill", dest, str(flags)], env=env, capture_output=True,
                           timeout=120)
        expect(r.returncode == -9, f"{tag}: kill run {r.returncode} {r.stderr}")
        expect(not os.path.exists(dest), f"{tag}: a killed writer left the destination")
        if flags:
            # a named temporary file survives a SIGKILL (atomic_file.h says so)
            lst = ls()
            expect(len(lst) == 1 and lst[0].startswith(".out.gguf.tmp-"), f"{tag}: after kill {lst}")
            for n in lst:
                os.unlink(os.path.join(d, n))
        else:
            expect(ls() == [], f"{tag}: a killed writer left {ls()}")
    # creation errors
    try:
        GgufWriter(os.path.join(TMP, "no-dir", "x.gguf"))
        expect(False, "missing directory accepted")
    except QntError as e:
        expect(e.status == E_NOT_FOUND, f"missing directory: {e}")
    print(f"  {status_since(nf)}")


def main():
    rng = np.random.default_rng(0x6606)
    prng = random.Random(7)

    class Rng:  # numpy's generator plus choice/random for chunk sizes
        integers = rng.integers
        standard_normal = rng.standard_normal
        choice = prng.choice
        random = prng.random

    print(f"gguf-py {getattr(gguf, '__version__', '?')}, numpy {np.__version__}")
    try:
        test_libqnt_to_gguf_py(Rng)
        test_gguf_py_to_libqnt(Rng)
        test_checksums(Rng)
        test_writer_errors()
        test_interrupted()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    print(f"totals: {STATS['checks']} checks, {STATS['files']} files written")
    if FAILURES:
        print(f"{len(FAILURES)} failure(s)")
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
