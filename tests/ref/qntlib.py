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
