# SPDX-License-Identifier: MIT
"""The C ABI of libqnt (include/libqnt.h) as ctypes declarations: the shared
library, the structs field for field, and the argument and result types of
every function the package calls. Internal: use the `libqnt` package."""
import ctypes
import ctypes.util
import os

ABI_MAJOR = 1  # the SONAME's number: libqnt.so.1


def _load():
    """The library named by $QNT_LIB (a path), else libqnt.so.1 from the
    loader's search path (an installed libqnt, or LD_LIBRARY_PATH)."""
    path = os.environ.get("QNT_LIB")
    names = [path] if path else [f"libqnt.so.{ABI_MAJOR}", ctypes.util.find_library("qnt")]
    errors = []
    for name in names:
        if not name:
            continue
        try:
            return ctypes.CDLL(name)
        except OSError as e:
            errors.append(str(e))
    raise ImportError("libqnt: cannot load the shared library (set QNT_LIB to the path of "
                      f"libqnt.so.{ABI_MAJOR}, or install libqnt): " + "; ".join(errors or ["not found"]))


lib = _load()

c_int32, c_int64, c_uint32, c_uint64 = ctypes.c_int32, ctypes.c_int64, ctypes.c_uint32, ctypes.c_uint64
c_size_t, c_double, c_float, c_char_p, c_void_p = ctypes.c_size_t, ctypes.c_double, ctypes.c_float, \
    ctypes.c_char_p, ctypes.c_void_p
c_int = ctypes.c_int
P = ctypes.POINTER

ALLOC_FN = ctypes.CFUNCTYPE(c_void_p, c_void_p, c_size_t, c_size_t)
FREE_FN = ctypes.CFUNCTYPE(None, c_void_p, c_void_p)
LOG_FN = ctypes.CFUNCTYPE(None, c_void_p, c_int32, c_char_p)
PROGRESS_FN = ctypes.CFUNCTYPE(None, c_void_p, c_uint64, c_uint64, c_char_p)


class CtxOpts(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("n_threads", c_int32), ("backend", c_char_p),
                ("alloc", ALLOC_FN), ("free", FREE_FN), ("alloc_user", c_void_p),
                ("log", LOG_FN), ("log_user", c_void_p), ("log_level", c_int32),
                ("device", c_int32), ("flags", c_uint32), ("reserved", c_uint32)]


class TypeInfo(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("type", c_int32), ("block_size", c_int64),
                ("block_bytes", c_uint64), ("flags", c_uint32), ("reserved", c_uint32),
                ("bits_per_weight", c_double), ("name", c_char_p), ("description", c_char_p)]


class MlxParams(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("mode", c_int32), ("bits", c_int32), ("group_size", c_int32),
                ("dtype", c_int32), ("flags", c_uint32), ("global_scale", c_float), ("reserved", c_uint32)]


class BackendProps(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("score", c_int32), ("name", c_char_p), ("description", c_char_p),
                ("path", c_char_p), ("reason", c_char_p), ("flags", c_uint32), ("device_count", c_int32)]


MAX_DIMS = 8


class TensorInfo(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("n_dims", c_int32), ("name", c_char_p), ("type", c_int32),
                ("reserved", c_int32), ("dtype", c_char_p), ("shape", c_int64 * MAX_DIMS),
                ("n_elements", c_int64), ("nbytes", c_uint64), ("file", c_char_p), ("offset", c_uint64)]


class ImatrixInfo(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("format", c_int32), ("n_entries", c_int64),
                ("n_datasets", c_int64), ("chunk_count", c_int32), ("chunk_size", c_int32)]


class ModelQuantizeOpts(ctypes.Structure):
    _fields_ = [("struct_size", c_uint32), ("output_format", c_int32), ("recipe", c_void_p),
                ("imatrix", c_void_p), ("max_memory", c_uint64), ("flags", c_uint32), ("reserved0", c_int32),
                ("progress", PROGRESS_FN), ("progress_user", c_void_p), ("max_shard_bytes", c_uint64)]


_SIGNATURES = {
    # version, status, init
    "qnt_version_number": (c_uint32, []),
    "qnt_version_string": (c_char_p, []),
    "qnt_format_version": (c_uint32, []),
    "qnt_status_str": (c_char_p, [c_int]),
    "qnt_status_name": (c_char_p, [c_int]),
    # formats
    "qnt_type_by_name": (c_int32, [c_char_p]),
    "qnt_type_name": (c_char_p, [c_int32]),
    "qnt_type_block_size": (c_int64, [c_int32]),
    "qnt_type_block_bytes": (c_size_t, [c_int32]),
    "qnt_row_size": (c_size_t, [c_int32, c_int64]),
    "qnt_type_get_info": (c_int, [c_int32, P(TypeInfo)]),
    "qnt_type_count": (c_int32, []),
    "qnt_type_at": (c_int32, [c_int32]),
    # contexts
    "qnt_ctx_opts_init": (c_int, [P(CtxOpts), c_size_t]),
    "qnt_ctx_create": (c_int, [P(CtxOpts), P(c_void_p)]),
    "qnt_ctx_destroy": (None, [c_void_p]),
    "qnt_ctx_last_error": (c_char_p, [c_void_p]),
    "qnt_ctx_backend_name": (c_char_p, [c_void_p]),
    "qnt_ctx_n_threads": (c_int32, [c_void_p]),
    # tensors
    "qnt_quantize": (c_int, [c_void_p, c_int32, c_void_p, c_void_p, c_int64, c_int64, c_void_p]),
    "qnt_dequantize": (c_int, [c_void_p, c_int32, c_void_p, c_void_p, c_int64, c_int64]),
    "qnt_matmul": (c_int, [c_void_p, c_int32, c_void_p, c_int64, c_int64, c_void_p, c_int64, c_void_p]),
    "qnt_matrix_prepare": (c_int, [c_void_p, c_int32, c_void_p, c_int64, c_int64, P(c_void_p)]),
    "qnt_matmul_prepared": (c_int, [c_void_p, c_void_p, c_void_p, c_int64, c_void_p]),
    "qnt_matrix_layout": (c_char_p, [c_void_p]),
    "qnt_matrix_free": (None, [c_void_p]),
    "qnt_convert_kind": (c_int32, [c_int32, c_int32]),
    "qnt_convert": (c_int, [c_void_p, c_int32, c_void_p, c_int32, c_void_p, c_int64, c_int64, c_uint32,
                            c_void_p]),
    # MLX
    "qnt_mlx_quantize": (c_int, [c_void_p, P(MlxParams), c_void_p, c_int64, c_int64, c_void_p, c_void_p,
                                 c_void_p]),
    "qnt_mlx_dequantize": (c_int, [c_void_p, P(MlxParams), c_void_p, c_void_p, c_void_p, c_int64, c_int64,
                                   c_void_p]),
    "qnt_mlx_type": (c_int32, [P(MlxParams)]),
    "qnt_mlx_params_from_type": (c_int, [c_int32, P(MlxParams)]),
    # backends
    "qnt_backend_count": (c_int32, []),
    "qnt_backend_get_props": (c_int, [c_int32, P(BackendProps)]),
    "qnt_backend_best": (c_char_p, []),
    "qnt_backend_load": (c_int, [c_char_p]),
    "qnt_cpu_features": (c_uint64, []),
    "qnt_cpu_feature_name": (c_char_p, [c_uint64]),
    # importance matrices
    "qnt_imatrix_open": (c_int, [c_void_p, c_char_p, P(c_void_p)]),
    "qnt_imatrix_close": (None, [c_void_p]),
    "qnt_imatrix_get_info": (c_int, [c_void_p, P(ImatrixInfo)]),
    "qnt_imatrix_count": (c_int64, [c_void_p]),
    "qnt_imatrix_name": (c_char_p, [c_void_p, c_int64]),
    "qnt_imatrix_get": (c_int, [c_void_p, c_char_p, c_int64, P(P(c_float)), P(c_int64)]),
    # recipes
    "qnt_recipe_count_presets": (c_int32, []),
    "qnt_recipe_preset_name": (c_char_p, [c_int32]),
    "qnt_recipe_preset": (c_int, [c_char_p, P(c_void_p)]),
    "qnt_recipe_from_type": (c_int, [c_int32, P(c_void_p)]),
    "qnt_recipe_parse": (c_int, [c_void_p, c_char_p, c_size_t, c_char_p, P(c_void_p)]),
    "qnt_recipe_load_file": (c_int, [c_void_p, c_char_p, P(c_void_p)]),
    "qnt_recipe_free": (None, [c_void_p]),
    "qnt_recipe_to_json": (c_int, [c_void_p, c_void_p, P(c_void_p)]),
    "qnt_recipe_name": (c_char_p, [c_void_p]),
    "qnt_recipe_file_type": (c_uint32, [c_void_p]),
    # models
    "qnt_model_open": (c_int, [c_void_p, c_char_p, P(c_void_p)]),
    "qnt_model_close": (None, [c_void_p]),
    "qnt_model_format": (c_int32, [c_void_p]),
    "qnt_model_tensor_count": (c_int64, [c_void_p]),
    "qnt_model_tensor_info": (c_int, [c_void_p, c_int64, P(TensorInfo)]),
    "qnt_model_find_tensor": (c_int64, [c_void_p, c_char_p]),
    "qnt_model_read_rows": (c_int, [c_void_p, c_void_p, c_int64, c_int64, c_int64, c_void_p]),
    "qnt_model_metadata_json": (c_int, [c_void_p, c_int64, P(c_void_p)]),
    "qnt_model_tensor_checksum": (c_int, [c_void_p, c_int64, P(c_uint64), P(c_uint64)]),
    "qnt_free": (None, [c_void_p]),
    "qnt_model_quantize_opts_init": (None, [P(ModelQuantizeOpts)]),
    "qnt_model_quantize": (c_int, [c_void_p, c_char_p, c_char_p, P(ModelQuantizeOpts), P(c_void_p)]),
    "qnt_model_dequantize": (c_int, [c_void_p, c_char_p, c_char_p, c_int32, P(ModelQuantizeOpts),
                                     P(c_void_p)]),
    "qnt_model_compare": (c_int, [c_void_p, c_void_p, c_void_p, c_void_p, c_uint64, P(c_void_p)]),
    "qnt_report_json": (c_int, [c_void_p, P(c_void_p)]),
    "qnt_report_free": (None, [c_void_p]),
}

for _name, (_res, _args) in _SIGNATURES.items():
    _fn = getattr(lib, _name)
    _fn.restype = _res
    _fn.argtypes = _args


def take_string(ptr):
    """A NUL-terminated string libqnt allocated for the caller, decoded and
    freed with qnt_free."""
    try:
        return ctypes.string_at(ptr).decode()
    finally:
        lib.qnt_free(ptr)
