# SPDX-License-Identifier: MIT
"""libqnt's GGUF writer against ggml's own gguf code (libggml-base from
llama-cpp-python, through ctypes; suite 'interop'):

1. Byte for byte: the same keys (every scalar type, strings, arrays of
   numbers, bools and strings) and tensors (every ggml type of this ggml,
   1-D to 4-D) written by ggml's gguf_write_to_file and by libqnt's writer
   (data in random chunks) give the same file (default alignment). With
   general.alignment = 64 ggml's writer (this version) still lays the data
   out at 32, so that its own loader refuses the file: checked as a known
   ggml quirk; libqnt's file is read by ggml's loader (2.).
2. ggml's loader (gguf_init_from_file, which checks that every tensor sits
   at exactly the padded offset it computes) reads libqnt's files with the
   checksums, and finds the version, alignment, data offset, every key,
   type and value, and every tensor's name, type, offset and size.
3. Block sizes: for every type ggml knows (ggml_get_type_traits), libqnt's
   writer gives a tensor ggml's byte size.
"""
import ctypes
import os
import random
import shutil
import struct
import sys
import tempfile

from ggmllib import TypeTraits, find_ggml_base, llama_cpp_version
from iotest import (G_ARRAY, G_BOOL, G_FLOAT32, G_FLOAT64, G_INT8, G_INT16, G_INT32, G_INT64, G_STRING, G_UINT8,
                    G_UINT16, G_UINT32, G_UINT64, GGUF_WRITE_CHECKSUMS, GgufFile, GgufWriter, check, xxh3_ref)

GGML_TYPE_COUNT = 43  # ggml.h of llama-cpp-python 0.3.36 (tests/interop/test_ggml_dequant_fuzz.py)
FAILURES = []
TMP = tempfile.mkdtemp(prefix="qnt-ggml-gguf-")
FMT = {G_UINT8: "B", G_INT8: "b", G_UINT16: "H", G_INT16: "h", G_UINT32: "I", G_INT32: "i", G_FLOAT32: "f",
       G_BOOL: "?", G_UINT64: "Q", G_INT64: "q", G_FLOAT64: "d"}

lib = ctypes.CDLL(find_ggml_base())
vp, cp, i64, sz = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int64, ctypes.c_size_t


class GgufInitParams(ctypes.Structure):
    _fields_ = [("no_alloc", ctypes.c_bool), ("ctx", vp)]


class GgmlInitParams(ctypes.Structure):
    _fields_ = [("mem_size", sz), ("mem_buffer", vp), ("no_alloc", ctypes.c_bool)]


SETTERS = {G_UINT8: ("u8", ctypes.c_uint8), G_INT8: ("i8", ctypes.c_int8), G_UINT16: ("u16", ctypes.c_uint16),
           G_INT16: ("i16", ctypes.c_int16), G_UINT32: ("u32", ctypes.c_uint32), G_INT32: ("i32", ctypes.c_int32),
           G_FLOAT32: ("f32", ctypes.c_float), G_UINT64: ("u64", ctypes.c_uint64), G_INT64: ("i64", ctypes.c_int64),
           G_FLOAT64: ("f64", ctypes.c_double), G_BOOL: ("bool", ctypes.c_bool)}
for name, res, args in [
    ("gguf_init_empty", vp, []),
    ("gguf_init_from_file", vp, [cp, GgufInitParams]),
    ("gguf_free", None, [vp]),
    ("gguf_get_version", ctypes.c_uint32, [vp]),
    ("gguf_get_alignment", sz, [vp]),
    ("gguf_get_data_offset", sz, [vp]),
    ("gguf_get_n_kv", i64, [vp]),
    ("gguf_get_key", cp, [vp, i64]),
    ("gguf_get_kv_type", ctypes.c_int, [vp, i64]),
    ("gguf_get_arr_type", ctypes.c_int, [vp, i64]),
    ("gguf_get_val_data", vp, [vp, i64]),
    ("gguf_get_val_str", cp, [vp, i64]),
    ("gguf_get_arr_n", sz, [vp, i64]),
    ("gguf_get_arr_data", vp, [vp, i64]),
    ("gguf_get_arr_str", cp, [vp, i64, sz]),
    ("gguf_get_n_tensors", i64, [vp]),
    ("gguf_get_tensor_offset", sz, [vp, i64]),
    ("gguf_get_tensor_name", cp, [vp, i64]),
    ("gguf_get_tensor_type", ctypes.c_int, [vp, i64]),
    ("gguf_get_tensor_size", sz, [vp, i64]),
    ("gguf_set_val_str", None, [vp, cp, cp]),
    ("gguf_set_arr_data", None, [vp, cp, ctypes.c_int, vp, sz]),
    ("gguf_set_arr_str", None, [vp, cp, ctypes.POINTER(cp), sz]),
    ("gguf_add_tensor", None, [vp, vp]),
    ("gguf_write_to_file", ctypes.c_bool, [vp, cp, ctypes.c_bool]),
    ("ggml_init", vp, [GgmlInitParams]),
    ("ggml_free", None, [vp]),
    ("ggml_new_tensor", vp, [vp, ctypes.c_int, ctypes.c_int, ctypes.POINTER(i64)]),
    ("ggml_set_name", vp, [vp, cp]),
    ("ggml_get_data", vp, [vp]),
    ("ggml_nbytes", sz, [vp]),
    ("ggml_get_type_traits", ctypes.POINTER(TypeTraits), [ctypes.c_int]),
] + [(f"gguf_set_val_{s}", None, [vp, cp, t]) for s, t in SETTERS.values()]:
    f = getattr(lib, name)
    f.restype = res
    f.argtypes = args


def expect(cond, msg):
    if not cond:
        FAILURES.append(msg)
        print("FAIL:", msg)


def ggml_types():
    """(id, name, block, bytes) of every type this ggml has."""
    out = []
    for t in range(GGML_TYPE_COUNT):
        tr = lib.ggml_get_type_traits(t).contents
        if tr.blck_size > 0 and tr.type_size > 0:
            out.append((t, tr.type_name.decode(), tr.blck_size, tr.type_size))
    return out


def content(rng, align):
    kvs = [("general.architecture", G_STRING, "llama")]
    if align:
        kvs.append(("general.alignment", G_UINT32, align))
    kvs += [("s.u8", G_UINT8, 250), ("s.i8", G_INT8, -7), ("s.u16", G_UINT16, 60000), ("s.i16", G_INT16, -1234),
            ("s.u32", G_UINT32, 3000000000), ("s.i32", G_INT32, -2000000000), ("s.f32", G_FLOAT32, 0.25),
            ("s.u64", G_UINT64, 2**64 - 2), ("s.i64", G_INT64, -2**62), ("s.f64", G_FLOAT64, -1.5e-200),
            ("s.bool", G_BOOL, True), ("s.str", G_STRING, "h\u00e9llo"), ("s.empty", G_STRING, ""),
            ("a.f32", G_ARRAY, (G_FLOAT32, [1.0, -2.5, 3.75])), ("a.i64", G_ARRAY, (G_INT64, [-1, 2**40])),
            ("a.u8", G_ARRAY, (G_UINT8, list(range(20)))), ("a.bool", G_ARRAY, (G_BOOL, [False, True])),
            ("a.str", G_ARRAY, (G_STRING, ["<unk>", "", "\u2581a", "b c"]))]
    tensors = []
    for i, (t, name, block, tbytes) in enumerate(ggml_types()):
        nd = 1 + i % 4
        ne = [block * (1 + i % 2)] + [2 + (i + d) % 3 for d in range(1, nd)]
        nel = 1
        for x in ne:
            nel *= x
        data = bytes(rng.getrandbits(8) for _ in range(nel // block * tbytes))
        tensors.append((f"blk.{i}.{name}", t, ne, data))
    return kvs, tensors


def ggml_write(path, kvs, tensors):
    g = lib.gguf_init_empty()
    keep = []
    for k, t, v in kvs:
        kb = k.encode()
        if t == G_STRING:
            lib.gguf_set_val_str(g, kb, v.encode())
        elif t == G_ARRAY:
            et, items = v
            if et == G_STRING:
                arr = (cp * len(items))(*[s.encode() for s in items])
                keep.append(arr)
                lib.gguf_set_arr_str(g, kb, arr, len(items))
            else:
                raw = b"".join(struct.pack("<" + FMT[et], x) for x in items)
                lib.gguf_set_arr_data(g, kb, et, raw, len(items))
        else:
            getattr(lib, f"gguf_set_val_{SETTERS[t][0]}")(g, kb, v)
    mem = sum(len(d) for _, _, _, d in tensors) + 1024 * (len(tensors) + 16)
    ctx = lib.ggml_init(GgmlInitParams(mem, None, False))
    for name, t, ne, data in tensors:
        tt = lib.ggml_new_tensor(ctx, t, len(ne), (i64 * len(ne))(*ne))
        lib.ggml_set_name(tt, name.encode())
        assert lib.ggml_nbytes(tt) == len(data)
        ctypes.memmove(lib.ggml_get_data(tt), data, len(data))
        lib.gguf_add_tensor(g, tt)
    ok = lib.gguf_write_to_file(g, path.encode(), False)
    lib.gguf_free(g)
    lib.ggml_free(ctx)
    return ok


def qnt_write(path, kvs, tensors, rng, flags=0):
    w = GgufWriter(path, flags)
    for k, t, v in kvs:
        if t == G_STRING:
            check(w.set_str(k, v))
        elif t == G_ARRAY:
            et, items = v
            if et == G_STRING:
                check(w.set_array(k, et, items))
            else:
                check(w.set_array(k, et, (b"".join(struct.pack("<" + FMT[et], x) for x in items), len(items))))
        else:
            check(w.set_scalar(k, t, struct.pack("<" + FMT[t], v)))
    for i, (name, t, ne, data) in enumerate(tensors):
        check(w.add_tensor(name, t, ne))
        expect(w.tensor_nbytes(i) == len(data), f"{name}: libqnt {w.tensor_nbytes(i)} bytes, ggml {len(data)}")
    stream = b"".join(d for _, _, _, d in tensors)
    pos = 0
    while pos < len(stream):
        n = rng.choice([1, 33, 1000, 65536])
        check(w.write(stream[pos:pos + n]))
        pos += n
    check(w.finish())


def ggml_read_check(path, kvs, tensors, label):
    g = lib.gguf_init_from_file(path.encode(), GgufInitParams(True, None))
    expect(bool(g), f"{label}: ggml's gguf_init_from_file refuses the file")
    if not g:
        return
    align = dict((k, v) for k, _, v in kvs).get("general.alignment", 32)
    with GgufFile(path) as q:
        expect(lib.gguf_get_version(g) == 3 and lib.gguf_get_alignment(g) == align and
               lib.gguf_get_data_offset(g) == q.data_offset, f"{label}: version/alignment/data offset")
    expect(lib.gguf_get_n_kv(g) == len(kvs), f"{label}: {lib.gguf_get_n_kv(g)} keys")
    for i, (k, t, v) in enumerate(kvs):
        expect(lib.gguf_get_key(g, i).decode() == k and lib.gguf_get_kv_type(g, i) == t, f"{label}: key {i} {k}")
        if t == G_STRING:
            got = lib.gguf_get_val_str(g, i).decode()
        elif t == G_ARRAY:
            et, items = v
            n = lib.gguf_get_arr_n(g, i)
            expect(lib.gguf_get_arr_type(g, i) == et and n == len(items), f"{label}: {k}: array type/count")
            if et == G_STRING:
                got = (et, [lib.gguf_get_arr_str(g, i, j).decode() for j in range(n)])
            else:
                es = struct.calcsize(FMT[et])
                raw = ctypes.string_at(lib.gguf_get_arr_data(g, i), n * es)
                got = (et, [struct.unpack_from("<" + FMT[et], raw, j * es)[0] for j in range(n)])
        else:
            got = struct.unpack("<" + FMT[t], ctypes.string_at(lib.gguf_get_val_data(g, i), struct.calcsize(FMT[t])))[0]
        expect(got == v, f"{label}: {k}: ggml reads {got!r}, written {v!r}")
    expect(lib.gguf_get_n_tensors(g) == len(tensors), f"{label}: tensor count")
    off = 0
    for i, (name, t, ne, data) in enumerate(tensors):
        expect(lib.gguf_get_tensor_name(g, i).decode() == name and lib.gguf_get_tensor_type(g, i) == t and
               lib.gguf_get_tensor_offset(g, i) == off and lib.gguf_get_tensor_size(g, i) == len(data),
               f"{label}: tensor {name}")
        off += (len(data) + align - 1) // align * align
    lib.gguf_free(g)


def main():
    rng = random.Random(0x9916)
    types = ggml_types()
    print(f"llama-cpp-python {llama_cpp_version()}: ggml has {len(types)} tensor types")
    try:
        for align in (None, 64):
            kvs, tensors = content(rng, align)
            a, b = os.path.join(TMP, "ggml.gguf"), os.path.join(TMP, "qnt.gguf")
            expect(ggml_write(a, kvs, tensors), "ggml's gguf_write_to_file failed")
            qnt_write(b, kvs, tensors, rng)
            x, y = open(a, "rb").read(), open(b, "rb").read()
            if align is None:
                expect(x == y, f"libqnt's file differs from ggml's ({len(y)} vs {len(x)} bytes; first difference "
                               f"at {next((i for i in range(min(len(x), len(y))) if x[i] != y[i]), None)})")
                print(f"  alignment 32: {len(kvs)} keys, {len(tensors)} tensors: {len(y)} bytes, "
                      f"{'identical to' if x == y else 'DIFFERENT from'} ggml's gguf_write_to_file")
            else:
                # ggml's writer keeps its context's alignment (32) when the
                # key is set with gguf_set_val_u32, so its own loader refuses
                # the file it wrote; libqnt's writer follows the key.
                g = lib.gguf_init_from_file(a.encode(), GgufInitParams(True, None))
                expect(not g, "ggml's writer now honours general.alignment: compare its bytes with libqnt's")
                if g:
                    lib.gguf_free(g)
                print(f"  alignment {align}: ggml's own writer lays the data out at 32 and its loader refuses that "
                      f"file; libqnt's ({len(y)} bytes) is read by ggml's loader:")
            ggml_read_check(b, kvs, tensors, f"alignment {align}")
            # with checksums: ggml reads the extra key as any array
            qnt_write(b, kvs, tensors, rng, GGUF_WRITE_CHECKSUMS)
            ck = ("qnt.xxh3_64", G_ARRAY, (G_UINT64, [xxh3_ref(d) for _, _, _, d in tensors]))
            ggml_read_check(b, kvs + [ck], tensors, f"alignment {align}, checksums")
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    if FAILURES:
        print(f"{len(FAILURES)} failure(s)")
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
