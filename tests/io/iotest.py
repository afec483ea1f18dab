# SPDX-License-Identifier: MIT
"""ctypes bindings to libqnt_iotest.so (tests/io/iotest.c): libqnt's internal
safetensors reader/writer and atomic files, for the io tests. The library is
named by $QNT_IOTEST_LIB (meson sets it)."""
import ctypes
import os
import sys

_lib = ctypes.CDLL(os.environ.get("QNT_IOTEST_LIB", "libqnt_iotest.so"))

OK, E_INVALID_ARG, E_NO_MEMORY, E_BAD_SHAPE, E_NOT_FOUND, E_IO, E_FORMAT = 0, -1, -2, -8, -9, -10, -11
STATUS_NAMES = {0: "QNT_OK", -1: "QNT_E_INVALID_ARG", -2: "QNT_E_NO_MEMORY", -3: "QNT_E_UNSUPPORTED",
                -8: "QNT_E_BAD_SHAPE", -9: "QNT_E_NOT_FOUND", -10: "QNT_E_IO", -11: "QNT_E_FORMAT"}

# Flags (lib/io/safetensors.h, atomic_file.h).
WRITE_SORTED = 0x1
WRITE_NAMED_TEMP = 0x2
SHARDS_INDEX_IF_MANY = 0x4
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
