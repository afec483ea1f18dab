# SPDX-License-Identifier: MIT
"""ctypes bindings to libqnt_iotest.so (tests/io/iotest.c): libqnt's internal
safetensors and GGUF readers/writers and atomic files, for the io tests. The library is
named by $QNT_IOTEST_LIB (meson sets it)."""
import ctypes
import os
import struct
import sys

_lib = ctypes.CDLL(os.environ.get("QNT_IOTEST_LIB", "libqnt_iotest.so"))

OK, E_INVALID_ARG, E_NO_MEMORY, E_BAD_SHAPE, E_NOT_FOUND, E_IO, E_FORMAT = 0, -1, -2, -8, -9, -10, -11
STATUS_NAMES = {0: "QNT_OK", -1: "QNT_E_INVALID_ARG", -2: "QNT_E_NO_MEMORY", -3: "QNT_E_UNSUPPORTED",
                -8: "QNT_E_BAD_SHAPE", -9: "QNT_E_NOT_FOUND", -10: "QNT_E_IO", -11: "QNT_E_FORMAT"}

# Flags (lib/io/safetensors.h, atomic_file.h).
WRITE_SORTED = 0x1
WRITE_NAMED_TEMP = 0x2
SHARDS_INDEX_IF_MANY = 0x4
WRITE_CHECKSUMS = 0x8
INDEX_OPEN_ALL = 0x1
AFILE_NAMED_TEMP = 0x1

MAX_DIMS = None  # set below

vp = ctypes.c_void_p
cp = ctypes.c_char_p
i64 = ctypes.c_int64
u64 = ctypes.c_uint64
sz = ctypes.c_size_t
u32 = ctypes.c_uint32
pp = ctypes.POINTER(ctypes.c_void_p)


def _fn(name, restype, *argtypes):
    f = getattr(_lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


_fn("iotest_last_error", cp)
_fn("iotest_max_dims", ctypes.c_int)
MAX_DIMS = _lib.iotest_max_dims()


class Tensor(ctypes.Structure):
    _fields_ = [
        ("name", cp),
        ("dtype", cp),
        ("n_dims", u32),
        ("reserved", u32),
        ("shape", u64 * MAX_DIMS),
        ("nelements", u64),
        ("begin", u64),
        ("end", u64),
        ("file_offset", u64),
        ("nbytes", u64),
        ("data", vp),
        ("header_offset", u64),
    ]


TP = ctypes.POINTER(Tensor)
for name, res, args in [
    ("iotest_dtype_name", cp, [ctypes.c_int]),
    ("iotest_dtype_from_name", ctypes.c_int, [cp]),
    ("iotest_dtype_bits", u32, [ctypes.c_int]),
    ("iotest_dtype_to_qnt", ctypes.c_int, [ctypes.c_int]),
    ("iotest_st_open", ctypes.c_int, [cp, pp]),
    ("iotest_st_open_memory", ctypes.c_int, [cp, vp, sz, pp]),
    ("iotest_st_close", None, [vp]),
    ("iotest_st_file_size", u64, [vp]),
    ("iotest_st_header_size", u64, [vp]),
    ("iotest_st_data_offset", u64, [vp]),
    ("iotest_st_count", i64, [vp]),
    ("iotest_st_tensor", ctypes.c_int, [vp, i64, TP]),
    ("iotest_st_find", i64, [vp, cp]),
    ("iotest_st_meta_count", i64, [vp]),
    ("iotest_st_meta", None, [vp, i64, ctypes.POINTER(cp), ctypes.POINTER(cp)]),
    ("iotest_st_meta_get", cp, [vp, cp]),
    ("iotest_w_create", ctypes.c_int, [cp, u32, pp]),
    ("iotest_w_meta", ctypes.c_int, [vp, cp, cp]),
    ("iotest_w_add", ctypes.c_int, [vp, cp, cp, u32, ctypes.POINTER(u64)]),
    ("iotest_w_begin", ctypes.c_int, [vp]),
    ("iotest_w_next", i64, [vp]),
    ("iotest_w_write", ctypes.c_int, [vp, vp, sz]),
    ("iotest_w_write_tensor", ctypes.c_int, [vp, i64, vp, sz]),
    ("iotest_w_data_size", u64, [vp]),
    ("iotest_w_written", u64, [vp]),
    ("iotest_w_finish", ctypes.c_int, [vp]),
    ("iotest_w_abort", None, [vp]),
    ("iotest_sw_create", ctypes.c_int, [cp, u64, u32, i64, pp]),
    ("iotest_sw_meta", ctypes.c_int, [vp, cp, cp]),
    ("iotest_sw_add", ctypes.c_int, [vp, cp, cp, u32, ctypes.POINTER(u64)]),
    ("iotest_sw_begin", ctypes.c_int, [vp]),
    ("iotest_sw_n_shards", i64, [vp]),
    ("iotest_sw_shard_name", cp, [vp, i64]),
    ("iotest_sw_tensor_shard", i64, [vp, i64]),
    ("iotest_sw_next", i64, [vp]),
    ("iotest_sw_write", ctypes.c_int, [vp, vp, sz]),
    ("iotest_sw_write_tensor", ctypes.c_int, [vp, i64, vp, sz]),
    ("iotest_sw_finish", ctypes.c_int, [vp]),
    ("iotest_sw_abort", None, [vp]),
    ("iotest_ix_open", ctypes.c_int, [cp, u32, pp]),
    ("iotest_ix_close", None, [vp]),
    ("iotest_ix_count", i64, [vp]),
    ("iotest_ix_tensor_name", cp, [vp, i64]),
    ("iotest_ix_tensor_shard", i64, [vp, i64]),
    ("iotest_ix_n_shards", i64, [vp]),
    ("iotest_ix_shard_name", cp, [vp, i64]),
    ("iotest_ix_meta_count", i64, [vp]),
    ("iotest_ix_meta", None, [vp, i64, ctypes.POINTER(cp), ctypes.POINTER(cp)]),
    ("iotest_ix_total_size", i64, [vp]),
    ("iotest_ix_find", ctypes.c_int, [vp, cp, TP, ctypes.POINTER(cp)]),
    ("iotest_ix_verify", ctypes.c_int, [vp]),
    ("iotest_af_create", ctypes.c_int, [cp, u32, pp]),
    ("iotest_af_write", ctypes.c_int, [vp, vp, sz]),
    ("iotest_af_pwrite", ctypes.c_int, [vp, vp, sz, u64]),
    ("iotest_af_size", u64, [vp]),
    ("iotest_af_temp_path", cp, [vp]),
    ("iotest_af_commit", ctypes.c_int, [vp]),
    ("iotest_af_abort", None, [vp]),
    ("iotest_st_stored_checksum", ctypes.c_int, [vp, i64, ctypes.POINTER(u64)]),
    ("iotest_st_verify_checksums", ctypes.c_int, [vp]),
]:
    _fn(name, res, *args)

lib = _lib


class QntError(RuntimeError):
    def __init__(self, status, msg):
        super().__init__(f"{STATUS_NAMES.get(status, status)}: {msg}")
        self.status = status
        self.msg = msg


def last_error():
    return _lib.iotest_last_error().decode("utf-8", "replace")


def check(st):
    if st != 0:
        raise QntError(st, last_error())


def _b(s):
    return s.encode() if isinstance(s, str) else s


def _shape(shape):
    arr = (u64 * max(1, len(shape)))(*shape)
    return arr


def dtype_names():
    out = []
    i = 0
    while True:
        n = _lib.iotest_dtype_name(i)
        if n is None:
            return out
        out.append(n.decode())
        i += 1


def _tensor(t):
    """A Tensor record as a dict (data as bytes)."""
    return {
        "name": t.name.decode(),
        "dtype": t.dtype.decode(),
        "shape": [t.shape[i] for i in range(t.n_dims)],
        "nelements": t.nelements,
        "begin": t.begin,
        "end": t.end,
        "file_offset": t.file_offset,
        "nbytes": t.nbytes,
        "data": ctypes.string_at(t.data, t.nbytes) if t.nbytes else b"",
        "header_offset": t.header_offset,
    }


class StFile:
    """A file read by qnt__st_open (or qnt__st_open_memory with `data`)."""

    def __init__(self, path, data=None):
        self.h = None
        h = vp()
        if data is None:
            st = _lib.iotest_st_open(_b(path), ctypes.byref(h))
        else:
            self._buf = ctypes.create_string_buffer(bytes(data), len(data)) if data else None
            st = _lib.iotest_st_open_memory(_b(path), self._buf, len(data), ctypes.byref(h))
        if st != 0:
            assert not h.value, "handle set on failure"
            raise QntError(st, last_error())
        self.h = h

    def close(self):
        if self.h:
            _lib.iotest_st_close(self.h)
            self.h = None

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def __del__(self):
        self.close()

    @property
    def header_size(self):
        return _lib.iotest_st_header_size(self.h)

    @property
    def data_offset(self):
        return _lib.iotest_st_data_offset(self.h)

    @property
    def file_size(self):
        return _lib.iotest_st_file_size(self.h)

    def tensors(self):
        out = []
        for i in range(_lib.iotest_st_count(self.h)):
            t = Tensor()
            check(_lib.iotest_st_tensor(self.h, i, ctypes.byref(t)))
            out.append(_tensor(t))
        return out

    def find(self, name):
        i = _lib.iotest_st_find(self.h, _b(name))
        if i < 0:
            return None
        t = Tensor()
        check(_lib.iotest_st_tensor(self.h, i, ctypes.byref(t)))
        return _tensor(t)

    def stored_checksum(self, i):
        v = u64()
        return v.value if _lib.iotest_st_stored_checksum(self.h, i, ctypes.byref(v)) else None

    def verify(self):
        return _lib.iotest_st_verify_checksums(self.h)

    def metadata(self):
        out = []
        for i in range(_lib.iotest_st_meta_count(self.h)):
            k, v = cp(), cp()
            _lib.iotest_st_meta(self.h, i, ctypes.byref(k), ctypes.byref(v))
            out.append((k.value.decode(), v.value.decode()))
        return out


def open_status(path, data=None):
    """(status, message) of opening a file (or bytes)."""
    try:
        StFile(path, data).close()
        return 0, ""
    except QntError as e:
        return e.status, e.msg


class Writer:
    """qnt__st_writer_*, or the sharded writer with shards=True."""

    def __init__(self, path, flags=0, shards=False, max_shard_bytes=0, total_parameters=-1):
        self.h = vp()
        self.p = "iotest_sw_" if shards else "iotest_w_"
        if shards:
            check(_lib.iotest_sw_create(_b(path), max_shard_bytes, flags, total_parameters, ctypes.byref(self.h)))
        else:
            check(_lib.iotest_w_create(_b(path), flags, ctypes.byref(self.h)))

    def _f(self, name):
        return getattr(_lib, self.p + name)

    def meta(self, k, v):
        return self._f("meta")(self.h, _b(k), _b(v))

    def add(self, name, dtype, shape):
        return self._f("add")(self.h, _b(name), _b(dtype), len(shape), _shape(shape))

    def begin(self):
        return self._f("begin")(self.h)

    def next(self):
        return self._f("next")(self.h)

    def write(self, data):
        data = bytes(data)
        return self._f("write")(self.h, data, len(data))

    def write_tensor(self, index, data):
        data = bytes(data)
        return self._f("write_tensor")(self.h, index, data, len(data))

    def finish(self):
        h, self.h = self.h, None
        return self._f("finish")(h)

    def abort(self):
        h, self.h = self.h, None
        self._f("abort")(h)

    # sharded only
    def n_shards(self):
        return _lib.iotest_sw_n_shards(self.h)

    def shard_name(self, i):
        return _lib.iotest_sw_shard_name(self.h, i).decode()

    def tensor_shard(self, i):
        return _lib.iotest_sw_tensor_shard(self.h, i)


class Index:
    def __init__(self, path, flags=0):
        self.h = None
        h = vp()
        check(_lib.iotest_ix_open(_b(path), flags, ctypes.byref(h)))
        self.h = h

    def close(self):
        if self.h:
            _lib.iotest_ix_close(self.h)
            self.h = None

    def __del__(self):
        self.close()

    def names(self):
        return [_lib.iotest_ix_tensor_name(self.h, i).decode() for i in range(_lib.iotest_ix_count(self.h))]

    def shards(self):
        return [_lib.iotest_ix_shard_name(self.h, i).decode() for i in range(_lib.iotest_ix_n_shards(self.h))]

    def tensor_shard(self, i):
        return _lib.iotest_ix_tensor_shard(self.h, i)

    def metadata(self):
        out = []
        for i in range(_lib.iotest_ix_meta_count(self.h)):
            k, v = cp(), cp()
            _lib.iotest_ix_meta(self.h, i, ctypes.byref(k), ctypes.byref(v))
            out.append((k.value.decode(), v.value.decode()))
        return out

    def total_size(self):
        return _lib.iotest_ix_total_size(self.h)

    def find(self, name):
        t, p = Tensor(), cp()
        check(_lib.iotest_ix_find(self.h, _b(name), ctypes.byref(t), ctypes.byref(p)))
        return _tensor(t), p.value.decode()

    def verify(self):
        check(_lib.iotest_ix_verify(self.h))


def require(module):
    """Import a reference package; exit 77 (skip) when it is missing, unless
    QNT_REQUIRE_REFERENCE=1, where that fails (tests/ref/qntlib.py's rule)."""
    try:
        return __import__(module)
    except ImportError as e:
        if os.environ.get("QNT_REQUIRE_REFERENCE") == "1":
            print(f"FAIL: reference package '{module}' is missing ({e}); run scripts/venv", file=sys.stderr)
            sys.exit(1)
        print(f"SKIP: reference package '{module}' is not installed ({e})")
        sys.exit(77)


# ---------------------------------------------------------------------------
# GGUF (lib/io/gguf_read.h, gguf_write.h) and the checksums

GGUF_WRITE_NAMED_TEMP = 0x1
GGUF_WRITE_CHECKSUMS = 0x2
CHECKSUM_KEY = "qnt.xxh3_64"
# value types (the GGUF spec's gguf_metadata_value_type)
(G_UINT8, G_INT8, G_UINT16, G_INT16, G_UINT32, G_INT32, G_FLOAT32, G_BOOL, G_STRING, G_ARRAY, G_UINT64, G_INT64,
 G_FLOAT64) = range(13)


class GgufTensor(ctypes.Structure):
    _fields_ = [
        ("name", cp),
        ("n_dims", u32),
        ("type", u32),
        ("ne", i64 * 4),
        ("offset", u64),
        ("file_offset", u64),
        ("nbytes", u64),
        ("data", vp),
        ("info_offset", u64),
    ]


class GgufValue(ctypes.Structure):
    _fields_ = [
        ("type", u32),
        ("elem_type", u32),
        ("n", u64),
        ("data", vp),
        ("size", u64),
        ("offset", u64),
    ]


GTP = ctypes.POINTER(GgufTensor)
GVP = ctypes.POINTER(GgufValue)
for name, res, args in [
    ("iotest_xxh3_ref", u64, [vp, sz]),
    ("iotest_xxh3_qnt", u64, [vp, sz]),
    ("iotest_gguf_open", ctypes.c_int, [cp, pp]),
    ("iotest_gguf_open_memory", ctypes.c_int, [cp, vp, sz, pp]),
    ("iotest_gguf_close", None, [vp]),
    ("iotest_gguf_version", u32, [vp]),
    ("iotest_gguf_alignment", u32, [vp]),
    ("iotest_gguf_data_offset", u64, [vp]),
    ("iotest_gguf_n_kv", i64, [vp]),
    ("iotest_gguf_kv", cp, [vp, i64, GVP, ctypes.POINTER(u64)]),
    ("iotest_gguf_n_tensors", i64, [vp]),
    ("iotest_gguf_tensor", ctypes.c_int, [vp, i64, GTP]),
    ("iotest_gguf_stored_checksum", ctypes.c_int, [vp, i64, ctypes.POINTER(u64)]),
    ("iotest_gguf_verify_checksums", ctypes.c_int, [vp]),
    ("iotest_gw_create", ctypes.c_int, [cp, u32, pp]),
    ("iotest_gw_set_value", ctypes.c_int, [vp, cp, GVP]),
    ("iotest_gw_copy_kv", ctypes.c_int, [vp, vp, i64]),
    ("iotest_gw_set_u32", ctypes.c_int, [vp, cp, u32]),
    ("iotest_gw_set_i32", ctypes.c_int, [vp, cp, ctypes.c_int32]),
    ("iotest_gw_set_u64", ctypes.c_int, [vp, cp, u64]),
    ("iotest_gw_set_f32", ctypes.c_int, [vp, cp, ctypes.c_float]),
    ("iotest_gw_set_bool", ctypes.c_int, [vp, cp, ctypes.c_int]),
    ("iotest_gw_set_str", ctypes.c_int, [vp, cp, cp]),
    ("iotest_gw_set_scalar", ctypes.c_int, [vp, cp, u32, vp]),
    ("iotest_gw_set_array", ctypes.c_int, [vp, cp, u32, u64, vp]),
    ("iotest_gw_remove", ctypes.c_int, [vp, cp]),
    ("iotest_gw_add_tensor", ctypes.c_int, [vp, cp, u32, u32, ctypes.POINTER(i64)]),
    ("iotest_gw_begin", ctypes.c_int, [vp]),
    ("iotest_gw_next", i64, [vp]),
    ("iotest_gw_write", ctypes.c_int, [vp, vp, sz]),
    ("iotest_gw_write_tensor", ctypes.c_int, [vp, i64, vp, sz]),
    ("iotest_gw_n_tensors", i64, [vp]),
    ("iotest_gw_tensor_nbytes", u64, [vp, i64]),
    ("iotest_gw_file_size", u64, [vp]),
    ("iotest_gw_finish", ctypes.c_int, [vp]),
    ("iotest_gw_abort", None, [vp]),
]:
    _fn(name, res, *args)


def xxh3_ref(data):
    """libxxhash's one-shot XXH3_64bits (seed 0), called directly."""
    data = bytes(data)
    return _lib.iotest_xxh3_ref(data, len(data))


class GgufFile:
    """A file read by qnt__gguf_open (or qnt__gguf_open_memory with `data`)."""

    def __init__(self, path, data=None):
        self.h = None
        h = vp()
        if data is None:
            st = _lib.iotest_gguf_open(_b(path), ctypes.byref(h))
        else:
            self._buf = ctypes.create_string_buffer(bytes(data), len(data)) if data else None
            st = _lib.iotest_gguf_open_memory(_b(path), self._buf, len(data), ctypes.byref(h))
        if st != 0:
            assert not h.value, "handle set on failure"
            raise QntError(st, last_error())
        self.h = h

    def close(self):
        if self.h:
            _lib.iotest_gguf_close(self.h)
            self.h = None

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def __del__(self):
        self.close()

    version = property(lambda self: _lib.iotest_gguf_version(self.h))
    alignment = property(lambda self: _lib.iotest_gguf_alignment(self.h))
    data_offset = property(lambda self: _lib.iotest_gguf_data_offset(self.h))

    def kvs(self):
        """[(key, type, encoded value: the bytes after the type field)]."""
        out = []
        for i in range(_lib.iotest_gguf_n_kv(self.h)):
            v, ko = GgufValue(), u64()
            k = _lib.iotest_gguf_kv(self.h, i, ctypes.byref(v), ctypes.byref(ko))
            raw = ctypes.string_at(v.data, v.size) if v.size else b""
            if v.type == G_ARRAY:
                raw = struct.pack("<IQ", v.elem_type, v.n) + raw
            out.append((k.decode("utf-8", "surrogateescape"), v.type, raw))
        return out

    def tensors(self):
        out = []
        for i in range(_lib.iotest_gguf_n_tensors(self.h)):
            t = GgufTensor()
            check(_lib.iotest_gguf_tensor(self.h, i, ctypes.byref(t)))
            out.append({
                "name": t.name.decode("utf-8", "surrogateescape"),
                "type": t.type,
                "ne": [t.ne[d] for d in range(t.n_dims)],
                "offset": t.offset,
                "file_offset": t.file_offset,
                "nbytes": t.nbytes,
                "data": ctypes.string_at(t.data, t.nbytes) if t.nbytes else b"",
                "info_offset": t.info_offset,
            })
        return out

    def stored_checksum(self, i):
        v = u64()
        return v.value if _lib.iotest_gguf_stored_checksum(self.h, i, ctypes.byref(v)) else None

    def verify(self):
        return _lib.iotest_gguf_verify_checksums(self.h)


class GgufWriter:
    """qnt__gguf_writer_*; methods return the status."""

    def __init__(self, path, flags=0):
        self.h = vp()
        check(_lib.iotest_gw_create(_b(path), flags, ctypes.byref(self.h)))

    def set_encoded(self, key, vtype, raw):
        """set_value from an encoded value (the bytes after the type field)."""
        raw = bytes(raw)
        v = GgufValue()
        v.type = vtype
        if vtype == G_ARRAY:
            v.elem_type, v.n = struct.unpack_from("<IQ", raw) if len(raw) >= 12 else (0, 0)
            raw = raw[12:]
        self._keep = ctypes.create_string_buffer(raw, max(1, len(raw)))
        v.data = ctypes.cast(self._keep, vp)
        v.size = len(raw)
        return _lib.iotest_gw_set_value(self.h, _b(key), ctypes.byref(v))

    def copy_kv(self, gguf_file, i):
        return _lib.iotest_gw_copy_kv(self.h, gguf_file.h, i)

    def set_u32(self, k, v):
        return _lib.iotest_gw_set_u32(self.h, _b(k), v)

    def set_i32(self, k, v):
        return _lib.iotest_gw_set_i32(self.h, _b(k), v)

    def set_u64(self, k, v):
        return _lib.iotest_gw_set_u64(self.h, _b(k), v)

    def set_f32(self, k, v):
        return _lib.iotest_gw_set_f32(self.h, _b(k), v)

    def set_bool(self, k, v):
        return _lib.iotest_gw_set_bool(self.h, _b(k), v)

    def set_str(self, k, s):
        return _lib.iotest_gw_set_str(self.h, _b(k), _b(s))

    def set_scalar(self, k, vtype, le):
        le = bytes(le)
        return _lib.iotest_gw_set_scalar(self.h, _b(k), vtype, le)

    def set_array(self, k, elem_type, elems):
        """elems: raw little-endian bytes plus a count, or a list of str."""
        if elem_type == G_STRING:
            arr = (cp * max(1, len(elems)))(*[_b(s) for s in elems])
            return _lib.iotest_gw_set_array(self.h, _b(k), elem_type, len(elems), arr)
        raw, n = elems
        return _lib.iotest_gw_set_array(self.h, _b(k), elem_type, n, bytes(raw) if n else None)

    def remove(self, k):
        return _lib.iotest_gw_remove(self.h, _b(k))

    def add_tensor(self, name, ggml_type, ne):
        arr = (i64 * max(1, len(ne)))(*ne)
        return _lib.iotest_gw_add_tensor(self.h, _b(name), ggml_type, len(ne), arr)

    def begin(self):
        return _lib.iotest_gw_begin(self.h)

    def next(self):
        return _lib.iotest_gw_next(self.h)

    def write(self, data):
        data = bytes(data)
        return _lib.iotest_gw_write(self.h, data, len(data))

    def write_tensor(self, i, data):
        data = bytes(data)
        return _lib.iotest_gw_write_tensor(self.h, i, data, len(data))

    def n_tensors(self):
        return _lib.iotest_gw_n_tensors(self.h)

    def tensor_nbytes(self, i):
        return _lib.iotest_gw_tensor_nbytes(self.h, i)

    def file_size(self):
        return _lib.iotest_gw_file_size(self.h)

    def finish(self):
        h, self.h = self.h, None
        return _lib.iotest_gw_finish(h)

    def abort(self):
        h, self.h = self.h, None
        _lib.iotest_gw_abort(h)
