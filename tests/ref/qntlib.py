# SPDX-License-Identifier: MIT
"""The reference tests' view of libqnt: the Python bindings
(bindings/python/libqnt; the library under test is the shared object named
by $QNT_LIB, which meson sets) under the names the tests use (format name
first, raw context handles in `ctx`), and require() for reference packages."""
import ctypes
import os
import sys

import numpy as np

import libqnt
from libqnt import QntError, type_id, type_name, row_size, TYPE_FLAG_QUANTIZED, TYPE_FLAG_QUANTIZE, \
    TYPE_FLAG_DEQUANTIZE, TYPE_FLAG_IMPORTANCE, TYPE_FLAG_ACTIVATION, MLX_MODES, MLX_DTYPES, MLX_NP_DTYPES  # noqa: F401
from libqnt._ffi import lib as _lib, CtxOpts, MlxParams, TypeInfo  # noqa: F401

CONVERT_LOSSY = 0
CONVERT_EXACT = 1
CONVERT_EXACT_IF = 2
CONVERT_FLAG_EXACT_ONLY = 0x1


def _ctx(handle):
    return libqnt.Context._borrow(handle)


def block_size(name):
    return libqnt.type_info(name).block_size


def block_bytes(name):
    return libqnt.type_info(name).block_bytes


def quantize(name, x, importance=None, ctx=None):
    """x: 2-D float32 array (rows x n_per_row). Returns a uint8 array of rows."""
    return _ctx(ctx).quantize(x, name, importance)


def dequantize(name, q, n_per_row, ctx=None):
    """q: uint8 array of nrows rows of row_size bytes. Returns float32 rows."""
    return _ctx(ctx).dequantize(q, name, n_per_row)


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
# Contexts as raw handles (ints), for the `ctx` arguments.

def ctx_create(n_threads=0, backend=None):
    """A context with n_threads threads (0: the number of CPUs) on `backend`
    (None: auto); its raw handle, to free with ctx_destroy."""
    c = libqnt.Context(n_threads, backend)
    c._owned = False  # ctx_destroy frees it
    return c.handle


def ctx_destroy(ctx):
    _lib.qnt_ctx_destroy(ctx)


def ctx_n_threads(ctx):
    return _lib.qnt_ctx_n_threads(ctx)


def ctx_backend_name(ctx):
    return _lib.qnt_ctx_backend_name(ctx).decode()


class Context:
    """`with Context(n_threads=7) as ctx:` gives a raw handle for `ctx`."""

    def __init__(self, n_threads=0, backend=None):
        self.ctx = libqnt.Context(n_threads, backend)

    def __enter__(self):
        return self.ctx.handle

    def __exit__(self, *exc):
        self.ctx.close()
        return False


# ---------------------------------------------------------------------------
# MLX formats: a qnt_mlx_params struct (mlx_params) says mode, bits, group
# and dtype. Element arrays are numpy float32 (f32), float16 (f16) or uint16
# holding bfloat16 bits (bf16).

_MODE_NAMES = {v: k for k, v in MLX_MODES.items()}
_DTYPE_NAMES = {v: k for k, v in MLX_DTYPES.items()}


def mlx_params(mode="affine", bits=0, group_size=0, dtype="bf16", global_scale=None):
    """A qnt_mlx_params; mode and dtype by name ("affine", "bf16")."""
    p = MlxParams(ctypes.sizeof(MlxParams), MLX_MODES[mode], bits, group_size, MLX_DTYPES[dtype], 0, 0.0, 0)
    if global_scale is not None:
        p.flags = 1
        p.global_scale = global_scale
    return p



def _mlx_kw(p):
    return dict(mode=_MODE_NAMES[p.mode], bits=p.bits, group_size=p.group_size,
                global_scale=p.global_scale if p.flags & 1 else None)


def mlx_quantize(p, w, ctx=None):
    """w: 2-D array of p's element type. Returns (wq uint32, scales, biases or
    None) in MLX's planar layout."""
    w = np.ascontiguousarray(w, dtype=MLX_NP_DTYPES[_DTYPE_NAMES[p.dtype]])
    return _ctx(ctx).mlx_quantize(w, **_mlx_kw(p))


def mlx_dequantize(p, wq, scales, biases, ctx=None):
    """The inverse of mlx_quantize: elements of p's element type."""
    return _ctx(ctx).mlx_dequantize(wq, scales, biases, dtype=_DTYPE_NAMES[p.dtype], **_mlx_kw(p))


def mlx_type(p):
    return _lib.qnt_mlx_type(ctypes.byref(p))


def mlx_params_from_type(t):
    p = MlxParams(ctypes.sizeof(MlxParams))
    libqnt._check(_lib.qnt_mlx_params_from_type(t, ctypes.byref(p)))
    return p


def raw_status(fn, *args):
    """Calls a raw binding (e.g. 'qnt_mlx_quantize') and returns (status, message)."""
    st = getattr(_lib, fn)(*args)
    return st, _lib.qnt_ctx_last_error(None).decode()


# ---------------------------------------------------------------------------
# The format registry, as dicts (type, name, block_size, block_bytes, flags,
# bits_per_weight, description).

def type_info(t):
    i = libqnt.type_info(t)
    return {"type": i.id, "name": i.name, "block_size": i.block_size, "block_bytes": i.block_bytes,
            "flags": i.flags, "bits_per_weight": i.bits_per_weight, "description": i.description}


def registry():
    """Every format of the registry, in ascending id order, as type_info dicts."""
    return [type_info(i.id) for i in libqnt.types()]


# ---------------------------------------------------------------------------
# Conversion.

def convert_kind(src, dst):
    """qnt_convert_kind by names or ids: 0 lossy, 1 exact, 2 exact if, -1."""
    f = type_id(src) if isinstance(src, str) else src
    t = type_id(dst) if isinstance(dst, str) else dst
    return _lib.qnt_convert_kind(f, t)


def convert(src, q, dst, n_per_row, flags=0, ctx=None):
    """Converts rows of format `src` to format `dst`. Returns (uint8 rows of
    dst, the number of requantized blocks); raises QntError on failure."""
    return _ctx(ctx).convert(q, src, dst, n_per_row, exact_only=bool(flags & CONVERT_FLAG_EXACT_ONLY))
