# SPDX-License-Identifier: MIT
"""Python bindings to libqnt over its C ABI (ctypes; numpy arrays in and out).

    import numpy as np, libqnt
    x = np.random.default_rng(0).standard_normal((64, 4096), dtype=np.float32)
    q = libqnt.quantize(x, "q4_K")            # uint8, 64 rows of row_size bytes
    y = libqnt.dequantize(q, "q4_K", 4096)     # float32 (64, 4096)
    with libqnt.Context(n_threads=2) as ctx:
        v = ctx.matmul(q, "q4_K", x[:3])      # (3, 64): W x for 3 columns

The shared library is $QNT_LIB when set, else libqnt.so.1 from the loader's
path. Every failure raises QntError with the C status and libqnt's message
(which names the file, tensor and offset where there is one).
"""
import ctypes
import json
import os
from dataclasses import dataclass

import numpy as np

from . import _ffi
from ._ffi import lib

__all__ = [
    "QntError", "version", "format_version", "type_id", "type_name", "type_info", "types", "row_size",
    "backends", "best_backend", "load_backend", "cpu_features", "Context", "Matrix", "Model", "Tensor",
    "Imatrix", "Recipe", "quantize", "dequantize", "matmul", "prepare", "convert", "convert_kind",
    "mlx_quantize", "mlx_dequantize", "quantize_model", "dequantize_model", "compare_models",
]

TYPE_FLAG_QUANTIZED = 0x1
TYPE_FLAG_QUANTIZE = 0x2
TYPE_FLAG_DEQUANTIZE = 0x4
TYPE_FLAG_IMPORTANCE = 0x8
TYPE_FLAG_ACTIVATION = 0x10

STATUS_UNKNOWN_TYPE = -7
MODEL_FORMATS = {1: "gguf", 2: "safetensors", 3: "mlx"}
MLX_MODES = {"affine": 0, "mxfp4": 1, "mxfp8": 2, "nvfp4": 3}
MLX_DTYPES = {"f32": 0, "f16": 1, "bf16": 30}  # QNT_TYPE_F32, _F16, _BF16
MLX_NP_DTYPES = {"f32": np.float32, "f16": np.float16, "bf16": np.uint16}  # bf16 as its bits


class QntError(RuntimeError):
    """A libqnt call failed: `status` is the qnt_status (negative), `name`
    its QNT_E_* name, `message` libqnt's text."""

    def __init__(self, status, message):
        self.status = status
        self.name = (lib.qnt_status_name(status) or b"QNT_E_?").decode()
        self.message = message
        super().__init__(f"{self.name}: {message}")


def _check(status, handle=None):
    if status != 0:
        raise QntError(status, lib.qnt_ctx_last_error(handle).decode())


def version():
    """The library's version string ("1.0.0")."""
    return lib.qnt_version_string().decode()


def format_version():
    """QNT_FORMAT_VERSION of the loaded library (bumped when quantized bytes change)."""
    return lib.qnt_format_version()


if lib.qnt_version_number() // 10000 != _ffi.ABI_MAJOR:
    raise ImportError(f"libqnt: the loaded library is {version()}; these bindings need {_ffi.ABI_MAJOR}.x")


# ---------------------------------------------------------------------------
# Formats

def type_id(t):
    """A format id from a name ("q4_K", case-insensitive) or an id."""
    if isinstance(t, (int, np.integer)):
        if lib.qnt_type_name(int(t)) is None:
            raise QntError(STATUS_UNKNOWN_TYPE, f"unknown format id {int(t)}")
        return int(t)
    tid = lib.qnt_type_by_name(str(t).encode())
    if tid < 0:
        raise QntError(STATUS_UNKNOWN_TYPE, f"unknown format '{t}'")
    return tid


def type_name(t):
    """The canonical name of a format ("q4_K")."""
    return lib.qnt_type_name(type_id(t)).decode()


@dataclass(frozen=True)
class TypeInfo:
    id: int
    name: str
    block_size: int
    block_bytes: int
    flags: int
    bits_per_weight: float
    description: str

    @property
    def can_quantize(self):
        return bool(self.flags & TYPE_FLAG_QUANTIZE)

    @property
    def can_dequantize(self):
        return bool(self.flags & TYPE_FLAG_DEQUANTIZE)

    @property
    def uses_importance(self):
        return bool(self.flags & TYPE_FLAG_IMPORTANCE)


def type_info(t):
    """The registry's description of a format (TypeInfo)."""
    info = _ffi.TypeInfo(ctypes.sizeof(_ffi.TypeInfo))
    _check(lib.qnt_type_get_info(type_id(t), ctypes.byref(info)))
    return TypeInfo(info.type, info.name.decode(), info.block_size, info.block_bytes, info.flags,
                    info.bits_per_weight, info.description.decode())


def types():
    """Every format of the registry, in ascending id order."""
    return [type_info(lib.qnt_type_at(i)) for i in range(lib.qnt_type_count())]


def row_size(t, n_per_row):
    """Bytes of one row of n_per_row elements; QntError if n_per_row is not a
    positive multiple of the format's block."""
    size = lib.qnt_row_size(type_id(t), int(n_per_row))
    if size == 0:
        raise QntError(-8, f"{type_name(t)}: a row of {n_per_row} elements is not a positive multiple of "
                           f"the block of {lib.qnt_type_block_size(type_id(t))}")
    return size


# ---------------------------------------------------------------------------
# Backends

def backends():
    """The registered backends, in registration order, as dicts (name, score,
    description, path, reason, flags, device_count)."""
    out = []
    for i in range(lib.qnt_backend_count()):
        p = _ffi.BackendProps(ctypes.sizeof(_ffi.BackendProps))
        _check(lib.qnt_backend_get_props(i, ctypes.byref(p)))
        out.append({"name": p.name.decode(), "score": p.score, "description": (p.description or b"").decode(),
                    "path": p.path.decode() if p.path else None, "reason": (p.reason or b"").decode(),
                    "flags": p.flags, "device_count": p.device_count})
    return out


def best_backend():
    """The backend an automatic context chooses now."""
    return lib.qnt_backend_best().decode()


def load_backend(path):
    """Loads a backend module (libqnt-cuda.so, libqnt-vulkan.so) and registers it."""
    _check(lib.qnt_backend_load(os.fsencode(path)))


def cpu_features():
    """The CPU features libqnt detected ("avx2", "fma", "neon", ...)."""
    bits = lib.qnt_cpu_features()
    return [lib.qnt_cpu_feature_name(1 << b).decode() for b in range(64)
            if bits >> b & 1 and lib.qnt_cpu_feature_name(1 << b)]


# ---------------------------------------------------------------------------
# Contexts and the tensor calls

def _floats(x, name="x"):
    a = np.ascontiguousarray(x, dtype=np.float32)
    if a.ndim not in (1, 2):
        raise ValueError(f"{name}: expected a 1-D or 2-D array, got shape {a.shape}")
    return a


def _bytes(q):
    if isinstance(q, (bytes, bytearray, memoryview)):
        return np.frombuffer(q, dtype=np.uint8)
    return np.ascontiguousarray(q).view(np.uint8)


def _rows(q, t, n_per_row):
    """q as a flat uint8 array and its number of rows."""
    q = _bytes(q).reshape(-1)
    rs = row_size(t, n_per_row)
    if q.size % rs:
        raise QntError(-8, f"{type_name(t)}: {q.size} bytes are not whole rows of {rs} bytes "
                           f"({n_per_row} elements)")
    return q, q.size // rs


class _Handle:
    """An object owning one libqnt handle, freed by the C function named
    `_free` on close(), at the end of a `with` block, or when collected."""
    handle = None
    _free = None

    def close(self):
        if self.handle is not None:
            getattr(lib, self._free)(self.handle)
            self.handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __del__(self):
        self.close()


class Context(_Handle):
    """A libqnt context: a thread pool and a backend. n_threads 0 uses every
    CPU; backend None (or "auto") the best-scoring one, else a name ("cpu",
    "cpu-avx2", "vulkan", "cuda"). Use as a context manager, or close().
    The module-level functions run on libqnt's default context (threads from
    QNT_NUM_THREADS, backend from QNT_BACKEND)."""
    _free = "qnt_ctx_destroy"
    _owned = False

    def __init__(self, n_threads=0, backend=None, device=0):
        opts = _ffi.CtxOpts()
        _check(lib.qnt_ctx_opts_init(ctypes.byref(opts), ctypes.sizeof(opts)))
        opts.n_threads = n_threads
        opts.device = device
        if backend is not None:
            opts.backend = backend.encode()
        handle = ctypes.c_void_p()
        _check(lib.qnt_ctx_create(ctypes.byref(opts), ctypes.byref(handle)))
        self.handle = handle.value
        self._owned = True

    @classmethod
    def _borrow(cls, handle):
        """A Context over a raw qnt_ctx* it does not own (None: the default context)."""
        self = cls.__new__(cls)
        self.handle = handle
        self._owned = False
        return self

    def close(self):
        if self._owned:
            super().close()
        self.handle = None

    def _check(self, status):
        _check(status, self.handle)

    @property
    def backend(self):
        return lib.qnt_ctx_backend_name(self.handle).decode()

    @property
    def n_threads(self):
        return lib.qnt_ctx_n_threads(self.handle)

    def quantize(self, x, t, importance=None):
        """Quantizes the rows of x (float32, 1-D or 2-D: rows x n_per_row) to
        format t. importance: None, or n_per_row non-negative weights (an
        imatrix column) to minimise the weighted error. Returns uint8 rows
        (nrows x row_size); the bytes equal ggml's without importance."""
        tid = type_id(t)
        x = _floats(x)
        x2 = x.reshape(-1, x.shape[-1]) if x.size else x.reshape(0, x.shape[-1])
        out = np.empty((x2.shape[0], row_size(tid, x2.shape[1])), dtype=np.uint8)
        imp = None
        if importance is not None:
            importance = np.ascontiguousarray(importance, dtype=np.float32).reshape(-1)
            if importance.size != x2.shape[1]:
                raise ValueError(f"importance: {importance.size} values for rows of {x2.shape[1]}")
            imp = importance.ctypes.data
        self._check(lib.qnt_quantize(self.handle, tid, x2.ctypes.data, out.ctypes.data, x2.shape[0],
                                     x2.shape[1], imp))
        return out

    def dequantize(self, q, t, n_per_row):
        """The floats of rows of format t (uint8 array or bytes, whole rows)
        as a float32 array (nrows x n_per_row)."""
        tid = type_id(t)
        q, nrows = _rows(q, tid, n_per_row)
        out = np.empty((nrows, n_per_row), dtype=np.float32)
        self._check(lib.qnt_dequantize(self.handle, tid, q.ctypes.data, out.ctypes.data, nrows, n_per_row))
        return out

    def matmul(self, w, t, x):
        """W x for a quantized W (rows of format t, uint8) and x holding
        n_cols vectors of n_in floats (2-D: n_cols x n_in, or one 1-D
        vector). Returns n_cols x n_out floats (1-D for a 1-D x)."""
        tid = type_id(t)
        x = _floats(x)
        n_in = x.shape[-1]
        w, n_out = _rows(w, tid, n_in)
        cols = x.reshape(-1, n_in)
        y = np.empty((cols.shape[0], n_out), dtype=np.float32)
        self._check(lib.qnt_matmul(self.handle, tid, w.ctypes.data, n_out, n_in, cols.ctypes.data,
                                   cols.shape[0], y.ctypes.data))
        return y.reshape(-1) if x.ndim == 1 else y

    def prepare(self, w, t, n_in):
        """W prepared once in this context's backend layout for repeated
        products (Matrix)."""
        return Matrix(self, w, t, n_in)

    def convert(self, q, src, dst, n_per_row, exact_only=False):
        """Converts rows of format src to format dst: repacked where exact,
        requantized otherwise (exact_only: fail instead). Returns (uint8 rows
        of dst, the number of requantized blocks)."""
        s, d = type_id(src), type_id(dst)
        q, nrows = _rows(q, s, n_per_row)
        out = np.empty((nrows, row_size(d, n_per_row)), dtype=np.uint8)
        nreq = ctypes.c_int64(-1)
        self._check(lib.qnt_convert(self.handle, s, q.ctypes.data, d, out.ctypes.data, nrows, n_per_row,
                                    1 if exact_only else 0, ctypes.addressof(nreq)))
        return out, nreq.value

    def mlx_quantize(self, w, mode="affine", bits=0, group_size=0, global_scale=None):
        """MLX's planar layout for the rows of w (float32, float16, or uint16
        holding bfloat16 bits: the element type picks the dtype). Returns
        (wq uint32, scales, biases or None), as mx.quantize gives them."""
        dt = _mlx_dtype(w)
        p = _mlx_params(mode, bits, group_size, dt, global_scale)
        w = np.ascontiguousarray(w)
        w2 = w.reshape(-1, w.shape[-1])
        nrows, n = w2.shape
        bits = p.bits or (8 if p.mode == 2 else 4)
        gs = p.group_size or {0: 64, 1: 32, 2: 32, 3: 16}[p.mode]
        if n % gs or (n * bits) % 32:
            raise QntError(-8, f"mlx {mode}: rows of {n} are not a multiple of the group of {gs}")
        wq = np.empty((nrows, n * bits // 32), dtype=np.uint32)
        affine = p.mode == 0
        scales = np.empty((nrows, n // gs), dtype=MLX_NP_DTYPES[dt] if affine else np.uint8)
        biases = np.empty_like(scales) if affine else None
        self._check(lib.qnt_mlx_quantize(self.handle, ctypes.byref(p), w2.ctypes.data, nrows, n, wq.ctypes.data,
                                         scales.ctypes.data, None if biases is None else biases.ctypes.data))
        return wq, scales, biases

    def mlx_dequantize(self, wq, scales, biases=None, mode="affine", bits=0, group_size=0, dtype="bf16",
                       global_scale=None):
        """The inverse of mlx_quantize: elements of `dtype` ("f32", "f16",
        "bf16" as uint16 bits), the values mx.dequantize gives."""
        p = _mlx_params(mode, bits, group_size, dtype, global_scale)
        bits = p.bits or (8 if p.mode == 2 else 4)
        wq = np.ascontiguousarray(wq, dtype=np.uint32)
        wq2 = wq.reshape(-1, wq.shape[-1])
        scales = np.ascontiguousarray(scales)
        if biases is not None:
            biases = np.ascontiguousarray(biases)
        nrows, n = wq2.shape[0], wq2.shape[1] * 32 // bits
        out = np.empty((nrows, n), dtype=MLX_NP_DTYPES[dtype])
        self._check(lib.qnt_mlx_dequantize(self.handle, ctypes.byref(p), wq2.ctypes.data, scales.ctypes.data,
                                           None if biases is None else biases.ctypes.data, nrows, n,
                                           out.ctypes.data))
        return out

    def open_model(self, path):
        """Opens a GGUF file, safetensors file/index/folder or MLX folder (Model)."""
        return Model(path, ctx=self)

    def quantize_model(self, src, dst, recipe, imatrix=None, output_format=None, max_memory=0,
                       checksums=True, metrics=True, progress=None):
        """Quantizes a whole model, streaming, to a GGUF file, an MLX folder
        or a safetensors file (output_format None: from dst's name). recipe:
        a Recipe, a preset name ("Q4_K_M", "mixed_4_6") or a format name
        ("q8_0"). imatrix: None, an Imatrix or a path. progress: None or
        f(done_bytes, total_bytes, tensor_name). Returns the report (a dict:
        "tensors", "totals"), as `qnt quantize --json` prints it."""
        return self._model_job(src, dst, recipe, imatrix, output_format, max_memory, checksums, metrics,
                               progress, None)

    def dequantize_model(self, src, dst, t="f16", max_memory=0, checksums=True, progress=None):
        """Writes every float or quantized tensor of src as t (f32, f16 or
        bf16) to the GGUF file dst. Returns the report dict."""
        return self._model_job(src, dst, None, None, None, max_memory, checksums, True, progress, type_id(t))

    def _model_job(self, src, dst, recipe, imatrix, output_format, max_memory, checksums, metrics, progress,
                   deq_type):
        opts = _ffi.ModelQuantizeOpts()
        lib.qnt_model_quantize_opts_init(ctypes.byref(opts))
        keep = []
        if recipe is not None:
            if not isinstance(recipe, Recipe):
                recipe = Recipe.named(recipe)
                keep.append(recipe)
            opts.recipe = recipe.handle
        if imatrix is not None:
            if not isinstance(imatrix, Imatrix):
                imatrix = Imatrix(imatrix, ctx=self)
                keep.append(imatrix)
            opts.imatrix = imatrix.handle
        if output_format is not None:
            formats = {v: k for k, v in MODEL_FORMATS.items()}
            if output_format not in formats:
                raise ValueError(f"output_format: one of {sorted(formats)}, not {output_format!r}")
            opts.output_format = formats[output_format]
        opts.max_memory = max_memory
        opts.flags = (0 if checksums else 1) | (0 if metrics else 2)
        failure = []
        if progress is not None:
            def call(_user, done, total, tensor):
                if failure:
                    return
                try:
                    progress(done, total, tensor.decode() if tensor else "")
                except BaseException as e:  # kept, raised after the C call returns
                    failure.append(e)
            opts.progress = _ffi.PROGRESS_FN(call)
        report = ctypes.c_void_p()
        if deq_type is None:
            st = lib.qnt_model_quantize(self.handle, os.fsencode(src), os.fsencode(dst), ctypes.byref(opts),
                                        ctypes.byref(report))
        else:
            st = lib.qnt_model_dequantize(self.handle, os.fsencode(src), os.fsencode(dst), deq_type,
                                          ctypes.byref(opts), ctypes.byref(report))
        self._check(st)
        try:
            if failure:
                raise failure[0]
            return _report_dict(report.value)
        finally:
            lib.qnt_report_free(report.value)

    def compare_models(self, a, b, importance=None, max_memory=0):
        """Compares two models tensor by tensor (paths or Models): relative
        RMSE, max abs error and cosine per tensor. Returns the report dict."""
        ma = a if isinstance(a, Model) else Model(a, ctx=self)
        mb = b if isinstance(b, Model) else Model(b, ctx=self)
        im = importance if importance is None or isinstance(importance, Imatrix) else Imatrix(importance, self)
        report = ctypes.c_void_p()
        self._check(lib.qnt_model_compare(self.handle, ma.handle, mb.handle, im.handle if im else None,
                                          max_memory, ctypes.byref(report)))
        try:
            return _report_dict(report.value)
        finally:
            lib.qnt_report_free(report.value)


def _report_dict(handle):
    text = ctypes.c_void_p()
    _check(lib.qnt_report_json(handle, ctypes.byref(text)))
    return json.loads(_ffi.take_string(text.value))


def _mlx_dtype(w):
    for name, dt in MLX_NP_DTYPES.items():
        if np.asarray(w).dtype == dt:
            return name
    raise ValueError(f"mlx: elements must be float32, float16 or uint16 (bfloat16 bits), not {np.asarray(w).dtype}")


def _mlx_params(mode, bits, group_size, dtype, global_scale):
    if mode not in MLX_MODES:
        raise ValueError(f"mlx mode: one of {sorted(MLX_MODES)}, not {mode!r}")
    p = _ffi.MlxParams(ctypes.sizeof(_ffi.MlxParams), MLX_MODES[mode], bits, group_size, MLX_DTYPES[dtype], 0,
                       0.0, 0)
    if global_scale is not None:
        p.flags = 1
        p.global_scale = global_scale
    return p


class Matrix(_Handle):
    """A weight matrix prepared once (qnt_matrix_prepare) in a backend's
    layout; `layout` names it ("cpu-avx2", or "plain")."""
    _free = "qnt_matrix_free"

    def __init__(self, ctx, w, t, n_in):
        self.type = type_id(t)
        w, self.n_out = _rows(w, self.type, n_in)
        self.n_in = n_in
        self.ctx = ctx
        handle = ctypes.c_void_p()
        ctx._check(lib.qnt_matrix_prepare(ctx.handle, self.type, w.ctypes.data, self.n_out, n_in,
                                          ctypes.byref(handle)))
        self.handle = handle.value

    @property
    def layout(self):
        return lib.qnt_matrix_layout(self.handle).decode()

    def matmul(self, x):
        """W x, as Context.matmul, on the context that prepared it."""
        x = _floats(x)
        if x.shape[-1] != self.n_in:
            raise ValueError(f"x: vectors of {x.shape[-1]} floats for a matrix of {self.n_in} columns")
        cols = x.reshape(-1, self.n_in)
        y = np.empty((cols.shape[0], self.n_out), dtype=np.float32)
        self.ctx._check(lib.qnt_matmul_prepared(self.ctx.handle, self.handle, cols.ctypes.data, cols.shape[0],
                                                y.ctypes.data))
        return y.reshape(-1) if x.ndim == 1 else y



# ---------------------------------------------------------------------------
# Models, importance matrices, recipes

@dataclass(frozen=True)
class Tensor:
    index: int
    name: str
    type: str        # libqnt format name, or None for storage types that are not formats
    dtype: str       # the file's own name of the type ("q4_K", "F32", "I64", "mlx:affine:4:64:bf16")
    shape: tuple     # outermost first; shape[-1] is the row length
    n_elements: int
    nbytes: int
    file: str
    offset: int


class Model(_Handle):
    """An opened model (qnt_model_open): `format` ("gguf", "safetensors",
    "mlx"), `tensors` (list of Tensor), read() as floats, metadata()."""
    _free = "qnt_model_close"

    def __init__(self, path, ctx=None):
        self.ctx = ctx if ctx is not None else Context._borrow(None)
        handle = ctypes.c_void_p()
        self.ctx._check(lib.qnt_model_open(self.ctx.handle, os.fsencode(path), ctypes.byref(handle)))
        self.handle = handle.value
        self.path = path
        self.format = MODEL_FORMATS[lib.qnt_model_format(self.handle)]
        self.tensors = [self._info(i) for i in range(lib.qnt_model_tensor_count(self.handle))]

    def _info(self, i):
        ti = _ffi.TensorInfo(ctypes.sizeof(_ffi.TensorInfo))
        _check(lib.qnt_model_tensor_info(self.handle, i, ctypes.byref(ti)))
        t = lib.qnt_type_name(ti.type) if ti.type >= 0 else None
        return Tensor(i, ti.name.decode(), t.decode() if t else None, ti.dtype.decode(),
                      tuple(ti.shape[:ti.n_dims]), ti.n_elements, ti.nbytes, ti.file.decode(), ti.offset)

    def tensor(self, name):
        """The Tensor of that name (KeyError if there is none)."""
        i = lib.qnt_model_find_tensor(self.handle, name.encode())
        if i < 0:
            raise KeyError(f"{self.path}: no tensor '{name}'")
        return self.tensors[i]

    def read(self, name, row0=0, n_rows=None):
        """Rows [row0, row0 + n_rows) of a tensor (all by default) as
        float32, dequantized; the whole tensor comes back in its shape."""
        t = name if isinstance(name, Tensor) else self.tensor(name)
        row = t.shape[-1] if t.shape else 1
        total = t.n_elements // row if row else 0
        whole = row0 == 0 and n_rows is None
        n_rows = total - row0 if n_rows is None else n_rows
        out = np.empty((n_rows, row), dtype=np.float32)
        self.ctx._check(lib.qnt_model_read_rows(self.ctx.handle, self.handle, t.index, row0, n_rows,
                                                out.ctypes.data))
        return out.reshape(t.shape) if whole else out

    def metadata(self, max_array=-1):
        """The metadata as a dict (GGUF key/values, safetensors __metadata__,
        config.json); arrays longer than max_array (>= 0) are summarised."""
        text = ctypes.c_void_p()
        _check(lib.qnt_model_metadata_json(self.handle, max_array, ctypes.byref(text)))
        return json.loads(_ffi.take_string(text.value))

    def checksum(self, name):
        """(stored, actual) XXH3-64 of a tensor's bytes; stored is None when
        the file records none."""
        t = name if isinstance(name, Tensor) else self.tensor(name)
        stored, actual = ctypes.c_uint64(), ctypes.c_uint64()
        st = lib.qnt_model_tensor_checksum(self.handle, t.index, ctypes.byref(stored), ctypes.byref(actual))
        if st == -9:
            return None, actual.value
        _check(st)
        return stored.value, actual.value



class Imatrix(_Handle):
    """An importance matrix file (llama-imatrix's GGUF or legacy .dat):
    `names`, and get(name) as float32 (n_experts x n_per_row, or n_per_row
    for expert >= 0)."""
    _free = "qnt_imatrix_close"

    def __init__(self, path, ctx=None):
        ctx = ctx if ctx is not None else Context._borrow(None)
        handle = ctypes.c_void_p()
        ctx._check(lib.qnt_imatrix_open(ctx.handle, os.fsencode(path), ctypes.byref(handle)))
        self.handle = handle.value
        self.names = [lib.qnt_imatrix_name(self.handle, i).decode()
                      for i in range(lib.qnt_imatrix_count(self.handle))]

    def get(self, name, expert=-1):
        values, n = ctypes.POINTER(ctypes.c_float)(), ctypes.c_int64()
        _check(lib.qnt_imatrix_get(self.handle, name.encode(), expert, ctypes.byref(values), ctypes.byref(n)))
        return np.ctypeslib.as_array(values, shape=(n.value,)).copy()



class Recipe(_Handle):
    """Which format each tensor of a model gets (docs/recipes.md): a preset
    ("Q4_K_M", "mixed_4_6"), one format for every weight, or JSON."""
    _free = "qnt_recipe_free"

    def __init__(self, handle):
        self.handle = handle

    @staticmethod
    def presets():
        return [lib.qnt_recipe_preset_name(i).decode() for i in range(lib.qnt_recipe_count_presets())]

    @classmethod
    def preset(cls, name):
        h = ctypes.c_void_p()
        _check(lib.qnt_recipe_preset(name.encode(), ctypes.byref(h)))
        return cls(h.value)

    @classmethod
    def from_type(cls, t):
        h = ctypes.c_void_p()
        _check(lib.qnt_recipe_from_type(type_id(t), ctypes.byref(h)))
        return cls(h.value)

    @classmethod
    def named(cls, name):
        """The preset of that name, else the recipe of the format of that name."""
        try:
            return cls.preset(name)
        except QntError as e:
            if e.status != -9:  # QNT_E_NOT_FOUND: not a preset
                raise
        return cls.from_type(name)

    @classmethod
    def parse(cls, text, source_name=None):
        data = text.encode() if isinstance(text, str) else bytes(text)
        h = ctypes.c_void_p()
        _check(lib.qnt_recipe_parse(None, data, len(data), source_name.encode() if source_name else None,
                                    ctypes.byref(h)))
        return cls(h.value)

    @classmethod
    def load(cls, path):
        h = ctypes.c_void_p()
        _check(lib.qnt_recipe_load_file(None, os.fsencode(path), ctypes.byref(h)))
        return cls(h.value)

    @property
    def name(self):
        return lib.qnt_recipe_name(self.handle).decode()

    @property
    def file_type(self):
        return lib.qnt_recipe_file_type(self.handle)

    def to_json(self):
        text = ctypes.c_void_p()
        _check(lib.qnt_recipe_to_json(None, self.handle, ctypes.byref(text)))
        return _ffi.take_string(text.value)



# ---------------------------------------------------------------------------
# The module-level calls: libqnt's default context

_DEFAULT = Context._borrow(None)


def quantize(x, t, importance=None):
    return _DEFAULT.quantize(x, t, importance)


def dequantize(q, t, n_per_row):
    return _DEFAULT.dequantize(q, t, n_per_row)


def matmul(w, t, x):
    return _DEFAULT.matmul(w, t, x)


def prepare(w, t, n_in):
    return _DEFAULT.prepare(w, t, n_in)


def convert(q, src, dst, n_per_row, exact_only=False):
    return _DEFAULT.convert(q, src, dst, n_per_row, exact_only)


def convert_kind(src, dst):
    """"lossy", "exact" or "exact_if" (exact when the data allows), or None."""
    k = lib.qnt_convert_kind(type_id(src), type_id(dst))
    return {0: "lossy", 1: "exact", 2: "exact_if"}.get(k)


def mlx_quantize(w, mode="affine", bits=0, group_size=0, global_scale=None):
    return _DEFAULT.mlx_quantize(w, mode, bits, group_size, global_scale)


def mlx_dequantize(wq, scales, biases=None, mode="affine", bits=0, group_size=0, dtype="bf16",
                   global_scale=None):
    return _DEFAULT.mlx_dequantize(wq, scales, biases, mode, bits, group_size, dtype, global_scale)


def quantize_model(src, dst, recipe, **kw):
    return _DEFAULT.quantize_model(src, dst, recipe, **kw)


def dequantize_model(src, dst, t="f16", **kw):
    return _DEFAULT.dequantize_model(src, dst, t, **kw)


def compare_models(a, b, importance=None, max_memory=0):
    return _DEFAULT.compare_models(a, b, importance, max_memory)


for _f in (quantize, dequantize, matmul, prepare, convert, mlx_quantize, mlx_dequantize, quantize_model,
           dequantize_model, compare_models):
    _f.__doc__ = getattr(Context, _f.__name__).__doc__ + " (On libqnt's default context.)"
