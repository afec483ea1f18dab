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
