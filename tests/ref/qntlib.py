# SPDX-License-Identifier: MIT
"""ctypes bindings to libqnt for the reference tests (the library under test
is the shared object named by $QNT_LIB; meson sets it)."""
import ctypes
import os
import sys

import numpy as np

_lib = ctypes.CDLL(os.environ.get("QNT_LIB", "libqnt.so.1"))

_lib.qnt_type_by_name.restype = ctypes.c_int32
_lib.qnt_type_by_name.argtypes = [ctypes.c_char_p]
_lib.qnt_row_size.restype = ctypes.c_size_t
_lib.qnt_row_size.argtypes = [ctypes.c_int32, ctypes.c_int64]
_lib.qnt_type_block_size.restype = ctypes.c_int64
_lib.qnt_type_block_size.argtypes = [ctypes.c_int32]
_lib.qnt_quantize.restype = ctypes.c_int
_lib.qnt_quantize.argtypes = [ctypes.c_void_p, ctypes.c_int32, ctypes.c_void_p, ctypes.c_void_p,
                              ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
_lib.qnt_dequantize.restype = ctypes.c_int
_lib.qnt_dequantize.argtypes = [ctypes.c_void_p, ctypes.c_int32, ctypes.c_void_p, ctypes.c_void_p,
                                ctypes.c_int64, ctypes.c_int64]
_lib.qnt_ctx_last_error.restype = ctypes.c_char_p
_lib.qnt_ctx_last_error.argtypes = [ctypes.c_void_p]
_lib.qnt_status_name.restype = ctypes.c_char_p
_lib.qnt_status_name.argtypes = [ctypes.c_int]


class QntError(RuntimeError):
    def __init__(self, status, msg):
        super().__init__(f"{_lib.qnt_status_name(status).decode()}: {msg}")
        self.status = status


def type_id(name):
    t = _lib.qnt_type_by_name(name.encode())
    if t < 0:
        raise KeyError(name)
    return t


def row_size(name, n_per_row):
    return _lib.qnt_row_size(type_id(name), n_per_row)


def block_size(name):
    return _lib.qnt_type_block_size(type_id(name))


def _check(st, ctx=None):
    if st != 0:
        raise QntError(st, _lib.qnt_ctx_last_error(ctx).decode())


def quantize(name, x, importance=None, ctx=None):
    """x: 2-D float32 array (rows x n_per_row). Returns a uint8 array of rows."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    nrows, n = x.shape
    out = np.zeros((nrows, row_size(name, n)), dtype=np.uint8)
    imp = None
    if importance is not None:
        importance = np.ascontiguousarray(importance, dtype=np.float32)
        imp = importance.ctypes.data
    _check(_lib.qnt_quantize(ctx, type_id(name), x.ctypes.data, out.ctypes.data, nrows, n, imp), ctx)
    return out


def dequantize(name, q, n_per_row, ctx=None):
    """q: uint8 array of nrows rows of row_size bytes. Returns float32 rows."""
    q = np.ascontiguousarray(q, dtype=np.uint8)
    nrows = q.size // row_size(name, n_per_row)
    out = np.zeros((nrows, n_per_row), dtype=np.float32)
    _check(_lib.qnt_dequantize(ctx, type_id(name), q.ctypes.data, out.ctypes.data, nrows, n_per_row), ctx)
    return out


def require(module):
    """Import a reference package; exit 77 (skip) when it is missing, unless
    QNT_REQUIRE_REFERENCE=1 (the test command sets it), where that fails."""
    try:
        return __import__(module)
    except ImportError as e:
        if os.environ.get("QNT_REQUIRE_REFERENCE") == "1":
            print(f"FAIL: reference package '{module}' is missing ({e}); run scripts/venv", file=sys.stderr)
            sys.exit(1)
        print(f"SKIP: reference package '{module}' is not installed ({e})")
        sys.exit(77)


# ---------------------------------------------------------------------------
# Extras for the legacy-format reference tests: block sizes and explicit
# contexts (the other functions take one through their `ctx` argument).

_lib.qnt_type_block_bytes.restype = ctypes.c_size_t
_lib.qnt_type_block_bytes.argtypes = [ctypes.c_int32]

# Callback types of include/libqnt.h.
ALLOC_FN = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t)
FREE_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)
LOG_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int32, ctypes.c_char_p)


class CtxOpts(ctypes.Structure):
    """Mirror of qnt_ctx_opts (include/libqnt.h), field for field."""
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("n_threads", ctypes.c_int32),
        ("backend", ctypes.c_char_p),
        ("alloc", ALLOC_FN),
        ("free", FREE_FN),
        ("alloc_user", ctypes.c_void_p),
        ("log", LOG_FN),
        ("log_user", ctypes.c_void_p),
        ("log_level", ctypes.c_int32),
        ("device", ctypes.c_int32),
        ("flags", ctypes.c_uint32),
        ("reserved", ctypes.c_uint32),
    ]


_lib.qnt_ctx_opts_init.restype = ctypes.c_int
_lib.qnt_ctx_opts_init.argtypes = [ctypes.POINTER(CtxOpts), ctypes.c_size_t]
_lib.qnt_ctx_create.restype = ctypes.c_int
_lib.qnt_ctx_create.argtypes = [ctypes.POINTER(CtxOpts), ctypes.POINTER(ctypes.c_void_p)]
_lib.qnt_ctx_destroy.restype = None
_lib.qnt_ctx_destroy.argtypes = [ctypes.c_void_p]
_lib.qnt_ctx_n_threads.restype = ctypes.c_int32
_lib.qnt_ctx_n_threads.argtypes = [ctypes.c_void_p]
_lib.qnt_ctx_backend_name.restype = ctypes.c_char_p
_lib.qnt_ctx_backend_name.argtypes = [ctypes.c_void_p]


def block_bytes(name):
    return _lib.qnt_type_block_bytes(type_id(name))


def ctx_create(n_threads=0, backend=None):
    """Creates a context with n_threads threads (0: the number of CPUs) on
    `backend` (None: auto). Returns the handle (an int) for the `ctx`
    arguments; free it with ctx_destroy."""
    opts = CtxOpts()
    _check(_lib.qnt_ctx_opts_init(ctypes.byref(opts), ctypes.sizeof(opts)))
    opts.n_threads = n_threads
    if backend is not None:
        opts.backend = backend.encode()
    out = ctypes.c_void_p()
    _check(_lib.qnt_ctx_create(ctypes.byref(opts), ctypes.byref(out)))
    return out.value


def ctx_destroy(ctx):
    _lib.qnt_ctx_destroy(ctx)


def ctx_n_threads(ctx):
    return _lib.qnt_ctx_n_threads(ctx)


def ctx_backend_name(ctx):
    return _lib.qnt_ctx_backend_name(ctx).decode()


class Context:
    """`with Context(n_threads=7) as ctx:` creates and destroys a context."""

    def __init__(self, n_threads=0, backend=None):
        self.handle = ctx_create(n_threads, backend)

    def __enter__(self):
        return self.handle

    def __exit__(self, *exc):
        ctx_destroy(self.handle)
        self.handle = None
        return False


# ---------------------------------------------------------------------------
# MLX formats (qnt_mlx_* of include/libqnt.h). Element arrays are numpy
# float32 (f32), float16 (f16) or uint16 holding bfloat16 bits (bf16).

class MlxParams(ctypes.Structure):
    """Mirror of qnt_mlx_params (include/libqnt.h), field for field."""
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("mode", ctypes.c_int32),
        ("bits", ctypes.c_int32),
        ("group_size", ctypes.c_int32),
        ("dtype", ctypes.c_int32),
        ("flags", ctypes.c_uint32),
        ("global_scale", ctypes.c_float),
        ("reserved", ctypes.c_uint32),
    ]


MLX_MODES = {"affine": 0, "mxfp4": 1, "mxfp8": 2, "nvfp4": 3}
MLX_DTYPES = {"f32": 0, "f16": 1, "bf16": 30}  # QNT_TYPE_F32, _F16, _BF16
MLX_FLAG_GLOBAL_SCALE = 0x1
MLX_NP_DTYPES = {"f32": np.float32, "f16": np.float16, "bf16": np.uint16}

_lib.qnt_mlx_quantize.restype = ctypes.c_int
_lib.qnt_mlx_quantize.argtypes = [ctypes.c_void_p, ctypes.POINTER(MlxParams), ctypes.c_void_p, ctypes.c_int64,
                                  ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
_lib.qnt_mlx_dequantize.restype = ctypes.c_int
_lib.qnt_mlx_dequantize.argtypes = [ctypes.c_void_p, ctypes.POINTER(MlxParams), ctypes.c_void_p, ctypes.c_void_p,
                                    ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
_lib.qnt_mlx_type.restype = ctypes.c_int32
_lib.qnt_mlx_type.argtypes = [ctypes.POINTER(MlxParams)]
_lib.qnt_mlx_params_from_type.restype = ctypes.c_int
_lib.qnt_mlx_params_from_type.argtypes = [ctypes.c_int32, ctypes.POINTER(MlxParams)]
_lib.qnt_type_name.restype = ctypes.c_char_p
_lib.qnt_type_name.argtypes = [ctypes.c_int32]


def type_name(type_id_):
    n = _lib.qnt_type_name(type_id_)
    return None if n is None else n.decode()


def mlx_params(mode="affine", bits=0, group_size=0, dtype="bf16", global_scale=None):
    """A qnt_mlx_params; mode and dtype by name ("affine", "bf16")."""
    p = MlxParams(ctypes.sizeof(MlxParams), MLX_MODES[mode], bits, group_size, MLX_DTYPES[dtype], 0, 0.0, 0)
    if global_scale is not None:
        p.flags = MLX_FLAG_GLOBAL_SCALE
        p.global_scale = global_scale
    return p


def mlx_quantize(p, w, ctx=None):
    """w: 2-D array of p's element type (see MLX_NP_DTYPES). Returns (wq uint32,
    scales, biases or None) in MLX's planar layout."""
    dt = {v: k for k, v in MLX_DTYPES.items()}[p.dtype]
    w = np.ascontiguousarray(w, dtype=MLX_NP_DTYPES[dt])
    nrows, n = w.shape
    bits = p.bits or {0: 4, 1: 4, 2: 8, 3: 4}[p.mode]
    gs = p.group_size or {0: 64, 1: 32, 2: 32, 3: 16}[p.mode]
    wq = np.zeros((nrows, n * bits // 32), dtype=np.uint32)
    affine = p.mode == 0
    scales = np.zeros((nrows, n // gs), dtype=MLX_NP_DTYPES[dt] if affine else np.uint8)
    biases = np.zeros_like(scales) if affine else None
    _check(_lib.qnt_mlx_quantize(ctx, ctypes.byref(p), w.ctypes.data, nrows, n, wq.ctypes.data, scales.ctypes.data,
                                 None if biases is None else biases.ctypes.data), ctx)
    return wq, scales, biases


def mlx_dequantize(p, wq, scales, biases, ctx=None):
    """The inverse of mlx_quantize: elements of p's element type."""
    dt = {v: k for k, v in MLX_DTYPES.items()}[p.dtype]
    bits = p.bits or {0: 4, 1: 4, 2: 8, 3: 4}[p.mode]
    wq = np.ascontiguousarray(wq, dtype=np.uint32)
    scales = np.ascontiguousarray(scales)
    if biases is not None:
        biases = np.ascontiguousarray(biases)
    nrows = wq.shape[0]
    n = wq.shape[1] * 32 // bits
    out = np.zeros((nrows, n), dtype=MLX_NP_DTYPES[dt])
    _check(_lib.qnt_mlx_dequantize(ctx, ctypes.byref(p), wq.ctypes.data, scales.ctypes.data,
                                   None if biases is None else biases.ctypes.data, nrows, n, out.ctypes.data), ctx)
    return out


def mlx_type(p):
    return _lib.qnt_mlx_type(ctypes.byref(p))


def mlx_params_from_type(t):
    p = MlxParams(ctypes.sizeof(MlxParams))
    _check(_lib.qnt_mlx_params_from_type(t, ctypes.byref(p)))
    return p


def raw_status(fn, *args):
    """Calls a raw binding (e.g. 'qnt_mlx_quantize') and returns (status, message)."""
    st = getattr(_lib, fn)(*args)
    return st, _lib.qnt_ctx_last_error(None).decode()


# ---------------------------------------------------------------------------
# The format registry (qnt_type_count / qnt_type_at / qnt_type_get_info), for
# tests that run over every format.

TYPE_FLAG_QUANTIZED = 0x1
TYPE_FLAG_QUANTIZE = 0x2
TYPE_FLAG_DEQUANTIZE = 0x4
TYPE_FLAG_IMPORTANCE = 0x8
TYPE_FLAG_ACTIVATION = 0x10


class TypeInfo(ctypes.Structure):
    """Mirror of qnt_type_info (include/libqnt.h), field for field."""
    _fields_ = [
        ("struct_size", ctypes.c_uint32),
        ("type", ctypes.c_int32),
        ("block_size", ctypes.c_int64),
        ("block_bytes", ctypes.c_uint64),
        ("flags", ctypes.c_uint32),
        ("reserved", ctypes.c_uint32),
        ("bits_per_weight", ctypes.c_double),
        ("name", ctypes.c_char_p),
        ("description", ctypes.c_char_p),
    ]


_lib.qnt_type_count.restype = ctypes.c_int32
_lib.qnt_type_count.argtypes = []
_lib.qnt_type_at.restype = ctypes.c_int32
_lib.qnt_type_at.argtypes = [ctypes.c_int32]
_lib.qnt_type_get_info.restype = ctypes.c_int
_lib.qnt_type_get_info.argtypes = [ctypes.c_int32, ctypes.POINTER(TypeInfo)]


def type_info(t):
    """qnt_type_info of a type id, as a dict (name, type, block_size,
    block_bytes, flags, bits_per_weight, description)."""
    info = TypeInfo(ctypes.sizeof(TypeInfo))
    _check(_lib.qnt_type_get_info(t, ctypes.byref(info)))
    return {"type": info.type, "name": info.name.decode(), "block_size": info.block_size,
            "block_bytes": info.block_bytes, "flags": info.flags, "bits_per_weight": info.bits_per_weight,
            "description": info.description.decode()}


def registry():
    """Every format of the registry, in ascending id order, as type_info dicts."""
    return [type_info(_lib.qnt_type_at(i)) for i in range(_lib.qnt_type_count())]


# ---------------------------------------------------------------------------
# Conversion (qnt_convert / qnt_convert_kind of include/libqnt.h).

CONVERT_LOSSY = 0
CONVERT_EXACT = 1
CONVERT_EXACT_IF = 2
CONVERT_FLAG_EXACT_ONLY = 0x1

_lib.qnt_convert_kind.restype = ctypes.c_int32
_lib.qnt_convert_kind.argtypes = [ctypes.c_int32, ctypes.c_int32]
_lib.qnt_convert.restype = ctypes.c_int
_lib.qnt_convert.argtypes = [ctypes.c_void_p, ctypes.c_int32, ctypes.c_void_p, ctypes.c_int32, ctypes.c_void_p,
                             ctypes.c_int64, ctypes.c_int64, ctypes.c_uint32, ctypes.c_void_p]


def convert_kind(src, dst):
    """qnt_convert_kind by names or ids: 0 lossy, 1 exact, 2 exact if, -1."""
    f = type_id(src) if isinstance(src, str) else src
    t = type_id(dst) if isinstance(dst, str) else dst
    return _lib.qnt_convert_kind(f, t)


def convert(src, q, dst, n_per_row, flags=0, ctx=None):
    """Converts rows of format `src` (a uint8 array of nrows rows) to format
    `dst`. Returns (uint8 rows of dst, the number of requantized blocks);
    raises QntError on failure."""
    q = np.ascontiguousarray(q, dtype=np.uint8)
    nrows = q.size // row_size(src, n_per_row)
    out = np.zeros((nrows, row_size(dst, n_per_row)), dtype=np.uint8)
    nreq = ctypes.c_int64(-1)
    _check(_lib.qnt_convert(ctx, type_id(src), q.ctypes.data, type_id(dst), out.ctypes.data, nrows, n_per_row,
                            flags, ctypes.addressof(nreq)), ctx)
    return out, nreq.value
