# SPDX-License-Identifier: MIT
"""ctypes bindings to ggml itself (libggml-base from the llama-cpp-python
wheel) for the interop tests: the quantizers and dequantizers libqnt must
agree with, called in the same process as libqnt."""
import ctypes
import glob
import importlib.util
import os
import sys

import numpy as np


def _skip(msg):
    if os.environ.get("QNT_REQUIRE_INTEROP") == "1":
        print(f"FAIL: {msg}; install tests/requirements-interop.txt "
              "(QNT_VENV_EXTRA=tests/requirements-interop.txt scripts/venv)", file=sys.stderr)
        sys.exit(1)
    print(f"SKIP: {msg}")
    sys.exit(77)


def find_ggml_base():
    """Path of libggml-base.so inside the installed llama_cpp package; exits
    77 (skip) when llama_cpp is not installed, unless QNT_REQUIRE_INTEROP=1."""
    try:
        spec = importlib.util.find_spec("llama_cpp")
    except (ImportError, ValueError) as e:
        spec = None
        err = e
    else:
        err = "not found"
    if spec is None or not spec.submodule_search_locations:
        _skip(f"llama_cpp (llama-cpp-python) is not importable ({err})")
    for d in spec.submodule_search_locations:
        hits = sorted(glob.glob(os.path.join(d, "lib", "libggml-base.so*"))) + \
            sorted(glob.glob(os.path.join(d, "**", "libggml-base.so*"), recursive=True))
        if hits:
            return hits[0]
    _skip("llama_cpp is installed but libggml-base.so was not found in it")


def llama_cpp_version():
    try:
        import importlib.metadata as md
        return md.version("llama_cpp_python")
    except Exception:  # noqa: BLE001 - informational only
        return "?"


# ggml_type values (ggml.h); equal to the GGUF type ids.
GGML_TYPE = {"q2_K": 10, "q3_K": 11, "q4_K": 12, "q5_K": 13, "q6_K": 14, "q8_K": 15}

TO_FLOAT = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)


class TypeTraits(ctypes.Structure):
    """struct ggml_type_traits (ggml.h)."""
    _fields_ = [
        ("type_name", ctypes.c_char_p),
        ("blck_size", ctypes.c_int64),
        ("blck_size_interleave", ctypes.c_int64),
        ("type_size", ctypes.c_size_t),
        ("is_quantized", ctypes.c_bool),
        ("to_float", ctypes.c_void_p),
        ("from_float_ref", ctypes.c_void_p),
    ]


class Ggml:
    def __init__(self, path=None):
        self.path = path or find_ggml_base()
        lib = self.lib = ctypes.CDLL(self.path)
        lib.ggml_quantize_chunk.restype = ctypes.c_size_t
        lib.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                            ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
        lib.ggml_quantize_init.restype = None
        lib.ggml_quantize_init.argtypes = [ctypes.c_int]
        lib.ggml_get_type_traits.restype = ctypes.POINTER(TypeTraits)
        lib.ggml_get_type_traits.argtypes = [ctypes.c_int]
        lib.ggml_row_size.restype = ctypes.c_size_t
        lib.ggml_row_size.argtypes = [ctypes.c_int, ctypes.c_int64]
        # q8_K is not handled by ggml_quantize_chunk and has no base traits:
        # its reference functions are exported by name.
        lib.quantize_row_q8_K_ref.restype = None
        lib.quantize_row_q8_K_ref.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
        lib.dequantize_row_q8_K.restype = None
        lib.dequantize_row_q8_K.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
        self._to_float = {}
        for name, t in GGML_TYPE.items():
            tr = lib.ggml_get_type_traits(t).contents
            if tr.type_name.decode() != name:
                raise RuntimeError(f"ggml type {t} is {tr.type_name!r}, expected {name}: enum changed?")
            if tr.to_float:
                self._to_float[name] = TO_FLOAT(tr.to_float)
            lib.ggml_quantize_init(t)

    def row_size(self, name, n_per_row):
        return self.lib.ggml_row_size(GGML_TYPE[name], n_per_row)

    def quantize(self, name, x, imatrix=None, fill=0):
        """x: 2-D float32 (rows x n_per_row). `fill` initialises dst (ggml
        leaves some bytes untouched in degenerate q8_K blocks)."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        nrows, n = x.shape
        out = np.full((nrows, self.row_size(name, n)), fill, dtype=np.uint8)
        if name == "q8_K":
            assert imatrix is None
            self.lib.quantize_row_q8_K_ref(x.ctypes.data, out.ctypes.data, x.size)
            return out
        imp = None
        if imatrix is not None:
            imatrix = np.ascontiguousarray(imatrix, dtype=np.float32)
            imp = imatrix.ctypes.data
        got = self.lib.ggml_quantize_chunk(GGML_TYPE[name], x.ctypes.data, out.ctypes.data, 0, nrows, n, imp)
        assert got == out.size, (got, out.size)
        return out

    def dequantize(self, name, q, n_per_row):
        q = np.ascontiguousarray(q, dtype=np.uint8)
        nrows = q.size // self.row_size(name, n_per_row)
        out = np.zeros((nrows, n_per_row), dtype=np.float32)
        if name == "q8_K":
            self.lib.dequantize_row_q8_K(q.ctypes.data, out.ctypes.data, out.size)
        else:
            self._to_float[name](q.ctypes.data, out.ctypes.data, out.size)
        return out
