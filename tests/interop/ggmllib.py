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


def locate_ggml_base():
    """(path of libggml-base.so inside the installed llama_cpp package, None),
    or (None, why not)."""
    try:
        spec = importlib.util.find_spec("llama_cpp")
    except (ImportError, ValueError) as e:
        spec = None
        err = e
    else:
        err = "not found"
    if spec is None or not spec.submodule_search_locations:
        return None, f"llama_cpp (llama-cpp-python) is not importable ({err})"
    for d in spec.submodule_search_locations:
        hits = sorted(glob.glob(os.path.join(d, "lib", "libggml-base.so*"))) + \
            sorted(glob.glob(os.path.join(d, "**", "libggml-base.so*"), recursive=True))
        if hits:
            return hits[0], None
    return None, "llama_cpp is installed but libggml-base.so was not found in it"


def find_ggml_base():
    """Path of libggml-base.so inside the installed llama_cpp package; exits
    77 (skip) when llama_cpp is not installed, unless QNT_REQUIRE_INTEROP=1."""
    path, why = locate_ggml_base()
    if path is None:
        _skip(why)
    return path


def llama_cpp_version():
    try:
        import importlib.metadata as md
        return md.version("llama_cpp_python")
    except Exception:  # noqa: BLE001 - informational only
        return "?"


# ggml_type values (ggml.h); equal to the GGUF type ids.
GGML_TYPE = {"q2_K": 10, "q3_K": 11, "q4_K": 12, "q5_K": 13, "q6_K": 14, "q8_K": 15}
# The i-quants, set up on first use (ggml_quantize_init builds their search
# tables, which takes a while).
GGML_TYPE_IQ = {"iq2_xxs": 16, "iq2_xs": 17, "iq3_xxs": 18, "iq1_s": 19, "iq4_nl": 20, "iq3_s": 21,
                "iq2_s": 22, "iq4_xs": 23, "iq1_m": 29}
# Formats whose ggml quantizer aborts the process without an imatrix
# (ggml_quantize_requires_imatrix).
GGML_REQUIRES_IMATRIX = {"iq2_xxs", "iq2_xs", "iq1_s"}

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
        self._types = {}
        self._inited = set()
        for name in GGML_TYPE:
            self._setup(name)

    def _setup(self, name, init=True):
        """Checks the type's name in ggml's traits and keeps its to_float;
        with `init`, runs ggml_quantize_init once (for the lattice i-quants
        it builds search tables, which takes seconds)."""
        t = self._types.get(name)
        if t is None:
            t = GGML_TYPE.get(name, GGML_TYPE_IQ.get(name))
            if t is None:
                raise KeyError(name)
            tr = self.lib.ggml_get_type_traits(t).contents
            if tr.type_name.decode() != name:
                raise RuntimeError(f"ggml type {t} is {tr.type_name!r}, expected {name}: enum changed?")
            if tr.to_float:
                self._to_float[name] = TO_FLOAT(tr.to_float)
            self._types[name] = t
        if init and name not in self._inited:
            self.lib.ggml_quantize_init(t)
            self._inited.add(name)
        return t

    def row_size(self, name, n_per_row):
        return self.lib.ggml_row_size(self._setup(name, init=False), n_per_row)

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
        if imp is None and name in GGML_REQUIRES_IMATRIX:
            raise ValueError(f"ggml aborts when {name} is quantized without an imatrix")
        got = self.lib.ggml_quantize_chunk(self._setup(name), x.ctypes.data, out.ctypes.data, 0, nrows, n, imp)
        assert got == out.size, (got, out.size)
        return out

    def dequantize(self, name, q, n_per_row):
        q = np.ascontiguousarray(q, dtype=np.uint8)
        nrows = q.size // self.row_size(name, n_per_row)
        out = np.zeros((nrows, n_per_row), dtype=np.float32)
        if name == "q8_K":
            self.lib.dequantize_row_q8_K(q.ctypes.data, out.ctypes.data, out.size)
        else:
            self._setup(name, init=False)
            self._to_float[name](q.ctypes.data, out.ctypes.data, out.size)
        return out


# ---------------------------------------------------------------------------
# ggml's CPU kernels (libggml-cpu): vec_dot per format and ggml_mul_mat
# through a one-node graph, for the matrix-product interop test and
# bench/bench_matmul.py.

GGML_MAX_N_THREADS = 512

VEC_DOT = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t,
                           ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
FROM_FLOAT = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)


# enum ggml_log_level (ggml.h) and ggml_log_callback.
GGML_LOG_LEVEL_DEBUG = 1
GGML_LOG_LEVEL_CONT = 5
LOG_CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)


class TypeTraitsCpu(ctypes.Structure):
    """struct ggml_type_traits_cpu (ggml-cpu.h)."""
    _fields_ = [
        ("from_float", ctypes.c_void_p),
        ("vec_dot", ctypes.c_void_p),
        ("vec_dot_type", ctypes.c_int),
        ("nrows", ctypes.c_int64),
    ]


class InitParams(ctypes.Structure):
    """struct ggml_init_params (ggml.h)."""
    _fields_ = [("mem_size", ctypes.c_size_t), ("mem_buffer", ctypes.c_void_p), ("no_alloc", ctypes.c_bool)]


class ThreadpoolParams(ctypes.Structure):
    """struct ggml_threadpool_params (ggml.h)."""
    _fields_ = [
        ("cpumask", ctypes.c_bool * GGML_MAX_N_THREADS),
        ("n_threads", ctypes.c_int),
        ("prio", ctypes.c_int),
        ("poll", ctypes.c_uint32),
        ("strict_cpu", ctypes.c_bool),
        ("paused", ctypes.c_bool),
    ]


# Every ggml type id by name, for the formats the CPU backend multiplies.
GGML_TYPE_ALL = {"f32": 0, "f16": 1, "q4_0": 2, "q4_1": 3, "q5_0": 6, "q5_1": 7, "q8_0": 8, "q8_1": 9,
                 **GGML_TYPE, **GGML_TYPE_IQ, "bf16": 30, "tq1_0": 34, "tq2_0": 35, "mxfp4": 39, "nvfp4": 40,
                 "q1_0": 41, "q2_0": 42}


class GgmlCpu:
    """ggml's CPU backend: per-format vec_dot (with ggml's own activation
    quantizer, from_float of the vec_dot_type) and ggml_mul_mat on a graph
    run by a persistent thread pool."""

    def __init__(self, base_path=None):
        base_path = base_path or find_ggml_base()
        self.base = ctypes.CDLL(base_path)
        cpu_path = os.path.join(os.path.dirname(base_path), "libggml-cpu.so")
        if not os.path.exists(cpu_path):
            _skip(f"libggml-cpu.so not found next to {base_path}")
        self.cpu = ctypes.CDLL(cpu_path)
        b, c = self.base, self.cpu
        c.ggml_cpu_init.restype = None
        c.ggml_cpu_init()
        c.ggml_get_type_traits_cpu.restype = ctypes.POINTER(TypeTraitsCpu)
        c.ggml_get_type_traits_cpu.argtypes = [ctypes.c_int]
        b.ggml_get_type_traits.restype = ctypes.POINTER(TypeTraits)
        b.ggml_get_type_traits.argtypes = [ctypes.c_int]
        b.ggml_row_size.restype = ctypes.c_size_t
        b.ggml_row_size.argtypes = [ctypes.c_int, ctypes.c_int64]
        b.ggml_quantize_init.restype = None
        b.ggml_quantize_init.argtypes = [ctypes.c_int]
        b.ggml_init.restype = ctypes.c_void_p
        b.ggml_init.argtypes = [InitParams]
        b.ggml_free.restype = None
        b.ggml_free.argtypes = [ctypes.c_void_p]
        b.ggml_new_tensor_2d.restype = ctypes.c_void_p
        b.ggml_new_tensor_2d.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
        b.ggml_get_data.restype = ctypes.c_void_p
        b.ggml_get_data.argtypes = [ctypes.c_void_p]
        b.ggml_nbytes.restype = ctypes.c_size_t
        b.ggml_nbytes.argtypes = [ctypes.c_void_p]
        b.ggml_mul_mat.restype = ctypes.c_void_p
        b.ggml_mul_mat.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        b.ggml_new_graph.restype = ctypes.c_void_p
        b.ggml_new_graph.argtypes = [ctypes.c_void_p]
        b.ggml_build_forward_expand.restype = None
        b.ggml_build_forward_expand.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        b.ggml_tensor_overhead.restype = ctypes.c_size_t
        b.ggml_graph_overhead.restype = ctypes.c_size_t
        b.ggml_threadpool_params_init.restype = None
        b.ggml_threadpool_params_init.argtypes = [ctypes.POINTER(ThreadpoolParams), ctypes.c_int]
        b.ggml_backend_graph_compute.restype = ctypes.c_int
        b.ggml_backend_graph_compute.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        b.ggml_backend_free.restype = None
        b.ggml_backend_free.argtypes = [ctypes.c_void_p]
        c.ggml_threadpool_new.restype = ctypes.c_void_p
        c.ggml_threadpool_new.argtypes = [ctypes.POINTER(ThreadpoolParams)]
        c.ggml_threadpool_free.restype = None
        c.ggml_threadpool_free.argtypes = [ctypes.c_void_p]
        c.ggml_backend_cpu_init.restype = ctypes.c_void_p
        c.ggml_backend_cpu_set_n_threads.restype = None
        c.ggml_backend_cpu_set_n_threads.argtypes = [ctypes.c_void_p, ctypes.c_int]
        c.ggml_backend_cpu_set_threadpool.restype = None
        c.ggml_backend_cpu_set_threadpool.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        self._keep = []
        self._inited = set()

    def type_id(self, name):
        t = GGML_TYPE_ALL[name]
        tr = self.base.ggml_get_type_traits(t).contents
        if tr.type_name.decode() != name:
            raise RuntimeError(f"ggml type {t} is {tr.type_name!r}, expected {name}: enum changed?")
        return t

    def row_size(self, name, n):
        return self.base.ggml_row_size(self.type_id(name), n)

    def vec_dot_type(self, name):
        """ggml's activation format for weights in `name` (a name)."""
        vdt = self.cpu.ggml_get_type_traits_cpu(self.type_id(name)).contents.vec_dot_type
        return next(k for k, v in GGML_TYPE_ALL.items() if v == vdt)

    def quantize_activations(self, name, x):
        """x: 2-D float32 (columns x n); ggml's from_float of the format's
        vec_dot_type (ggml-cpu's SIMD quantizer, what ggml_mul_mat runs)."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        vdt = self.vec_dot_type(name)
        if vdt == "f32":
            return x.view(np.uint8).reshape(x.shape[0], -1)
        ff = self.cpu.ggml_get_type_traits_cpu(GGML_TYPE_ALL[vdt]).contents.from_float
        out = np.zeros((x.shape[0], self.row_size(vdt, x.shape[1])), dtype=np.uint8)
        fn = FROM_FLOAT(ff)
        for c in range(x.shape[0]):
            fn(x[c].ctypes.data, out[c].ctypes.data, x.shape[1])
        return out

    def matmul_vec_dot(self, name, wq, n_out, n_in, x):
        """y[c, i] = vec_dot(W row i, x column c quantized by ggml)."""
        t = self.type_id(name)
        if name not in self._inited:
            self.base.ggml_quantize_init(t)  # lattice tables of the i-quants
            self._inited.add(name)
        vd = VEC_DOT(self.cpu.ggml_get_type_traits_cpu(t).contents.vec_dot)
        xq = self.quantize_activations(name, x)
        wq = np.ascontiguousarray(wq, dtype=np.uint8).reshape(n_out, -1)
        y = np.zeros((x.shape[0], n_out), dtype=np.float32)
        s = ctypes.c_float()
        for c in range(x.shape[0]):
            for i in range(n_out):
                vd(n_in, ctypes.byref(s), 0, wq[i].ctypes.data, 0, xq[c].ctypes.data, 0, 1)
                y[c, i] = s.value
        return y

    def mul_mat_graph(self, name, n_out, n_in, n_cols):
        """A graph y = W x for W of n_out x n_in in `name` and x of n_cols
        float columns; returns a MulMat (set .w and .x, then .compute())."""
        return MulMat(self, self.type_id(name), n_out, n_in, n_cols)

    def drop_debug_log(self):
        """Routes ggml's log to stderr without its debug messages (such as
        repack.cpp's line per repacked tensor)."""
        last = [0]

        def log(level, text, _user):
            if level != GGML_LOG_LEVEL_CONT:
                last[0] = level
            if last[0] != GGML_LOG_LEVEL_DEBUG:
                sys.stderr.write(text.decode(errors="replace"))

        self._log = LOG_CALLBACK(log)  # kept alive while ggml may call it
        self.base.ggml_log_set.restype = None
        self.base.ggml_log_set.argtypes = [LOG_CALLBACK, ctypes.c_void_p]
        self.base.ggml_log_set(self._log, None)

    def repack_buft(self):
        """ggml's CPU "repack" extra buffer type (CPU_REPACK), in which a
        weight is interleaved on upload and multiplied by ggml's gemv/gemm
        kernels for that layout, as llama.cpp does on the CPU by default.
        Returns (buft, None), or (None, why not) for a ggml without it."""
        if hasattr(self, "_repack"):
            return self._repack
        b, c = self.base, self.cpu
        vp = ctypes.c_void_p
        try:
            c.ggml_backend_cpu_reg.restype = vp
            b.ggml_backend_reg_get_proc_address.restype = vp
            b.ggml_backend_reg_get_proc_address.argtypes = [vp, ctypes.c_char_p]
            b.ggml_backend_reg_dev_get.restype = vp
            b.ggml_backend_reg_dev_get.argtypes = [vp, ctypes.c_size_t]
            b.ggml_backend_buft_name.restype = ctypes.c_char_p
            b.ggml_backend_buft_name.argtypes = [vp]
            b.ggml_backend_cpu_buffer_type.restype = vp
            b.ggml_backend_alloc_ctx_tensors_from_buft.restype = vp
            b.ggml_backend_alloc_ctx_tensors_from_buft.argtypes = [vp, vp]
            b.ggml_backend_buffer_free.restype = None
            b.ggml_backend_buffer_free.argtypes = [vp]
            b.ggml_backend_tensor_set.restype = None
            b.ggml_backend_tensor_set.argtypes = [vp, vp, ctypes.c_size_t, ctypes.c_size_t]
            b.ggml_backend_dev_supports_op.restype = ctypes.c_bool
            b.ggml_backend_dev_supports_op.argtypes = [vp, vp]
        except AttributeError as e:
            self._repack = (None, f"this ggml lacks the backend registry API ({e})")
            return self._repack
        reg = c.ggml_backend_cpu_reg()
        self.cpu_dev = b.ggml_backend_reg_dev_get(reg, 0)
        fn = b.ggml_backend_reg_get_proc_address(reg, b"ggml_backend_dev_get_extra_bufts")
        if not fn:
            self._repack = (None, "this ggml's CPU backend has no ggml_backend_dev_get_extra_bufts")
            return self._repack
        bufts = ctypes.CFUNCTYPE(ctypes.POINTER(vp), vp)(fn)(self.cpu_dev)
        names = []
        i = 0
        while bufts[i]:
            names.append(b.ggml_backend_buft_name(bufts[i]).decode())
            if names[-1] == "CPU_REPACK":
                self._repack = (bufts[i], None)
                return self._repack
            i += 1
        self._repack = (None, f"this ggml's CPU backend has no CPU_REPACK buffer type "
                              f"(extra buffer types: {', '.join(names) or 'none'})")
        return self._repack

    def mul_mat_repack(self, name, wq, n_out, n_in, n_cols):
        """As mul_mat_graph with W (the bytes wq, ggml's plain layout) put in
        the repack buffer type: a RepackMulMat (set .x, then .compute()), or
        None when that buffer type does not take W in `name` (ggml's CPU
        device does not support the product with W there: repack.cpp's
        ggml_repack_get_optimal_repack_type has no layout for the format on
        this CPU or this shape; uploading W would then crash)."""
        buft, _ = self.repack_buft()
        mm = RepackMulMat(self, buft, self.type_id(name), n_out, n_in, n_cols)
        if not self.base.ggml_backend_dev_supports_op(self.cpu_dev, mm.yt):
            mm.close()
            return None
        wq = np.ascontiguousarray(wq, dtype=np.uint8)
        assert wq.nbytes == self.base.ggml_nbytes(mm.wt)
        self.base.ggml_backend_tensor_set(mm.wt, wq.ctypes.data, 0, wq.nbytes)  # repacks
        return mm


class MulMat:
    """One ggml_mul_mat node in its own ggml context, run on ggml's CPU
    backend with a persistent thread pool."""

    def __init__(self, g, t, n_out, n_in, n_cols):
        self.g = g
        b = g.base
        mem = (b.ggml_row_size(t, n_in) * n_out + 4 * n_in * n_cols + 4 * n_out * n_cols +
               8 * b.ggml_tensor_overhead() + b.ggml_graph_overhead() + (1 << 20))
        self.ctx = b.ggml_init(InitParams(mem, None, False))
        if not self.ctx:
            raise MemoryError("ggml_init")
        self.wt = b.ggml_new_tensor_2d(self.ctx, t, n_in, n_out)
        self.xt = b.ggml_new_tensor_2d(self.ctx, 0, n_in, n_cols)
        self.yt = b.ggml_mul_mat(self.ctx, self.wt, self.xt)
        self.gf = b.ggml_new_graph(self.ctx)
        b.ggml_build_forward_expand(self.gf, self.yt)
        self.w = np.ctypeslib.as_array(ctypes.cast(b.ggml_get_data(self.wt), ctypes.POINTER(ctypes.c_uint8)),
                                       shape=(b.ggml_nbytes(self.wt),))
        self.x = np.ctypeslib.as_array(ctypes.cast(b.ggml_get_data(self.xt), ctypes.POINTER(ctypes.c_float)),
                                       shape=(n_cols, n_in))
        self.y = np.ctypeslib.as_array(ctypes.cast(b.ggml_get_data(self.yt), ctypes.POINTER(ctypes.c_float)),
                                       shape=(n_cols, n_out))
        self.backend = None
        self.tp = None

    def set_threads(self, n_threads):
        g = self.g
        self.free_backend()
        p = ThreadpoolParams()
        g.base.ggml_threadpool_params_init(ctypes.byref(p), n_threads)
        self.tp = g.cpu.ggml_threadpool_new(ctypes.byref(p))
        self.backend = g.cpu.ggml_backend_cpu_init()
        g.cpu.ggml_backend_cpu_set_n_threads(self.backend, n_threads)
        g.cpu.ggml_backend_cpu_set_threadpool(self.backend, self.tp)

    def compute(self):
        if self.backend is None:
            self.set_threads(1)
        st = self.g.base.ggml_backend_graph_compute(self.backend, self.gf)
        if st != 0:
            raise RuntimeError(f"ggml_backend_graph_compute: status {st}")
        return self.y

    def free_backend(self):
        if self.backend:
            self.g.base.ggml_backend_free(self.backend)
            self.backend = None
        if self.tp:
            self.g.cpu.ggml_threadpool_free(self.tp)
            self.tp = None

    def close(self):
        self.free_backend()
        if self.ctx:
            self.g.base.ggml_free(self.ctx)
            self.ctx = None


class RepackMulMat(MulMat):
    """A MulMat whose W lives in a buffer of `buft` (ggml's repack buffer
    type), x and y in a CPU buffer: the contexts do not own the data."""

    def __init__(self, g, buft, t, n_out, n_in, n_cols):
        self.g = g
        b = g.base
        self.backend = None
        self.tp = None
        self.bufs = []
        self.wctx = b.ggml_init(InitParams(2 * b.ggml_tensor_overhead(), None, True))
        self.ctx = b.ggml_init(InitParams(8 * b.ggml_tensor_overhead() + b.ggml_graph_overhead(), None, True))
        if not self.wctx or not self.ctx:
            self.close()
            raise MemoryError("ggml_init")
        self.wt = b.ggml_new_tensor_2d(self.wctx, t, n_in, n_out)
        self.xt = b.ggml_new_tensor_2d(self.ctx, 0, n_in, n_cols)
        self.yt = b.ggml_mul_mat(self.ctx, self.wt, self.xt)
        self.gf = b.ggml_new_graph(self.ctx)
        b.ggml_build_forward_expand(self.gf, self.yt)
        for ctx, bt in ((self.wctx, buft), (self.ctx, b.ggml_backend_cpu_buffer_type())):
            buf = b.ggml_backend_alloc_ctx_tensors_from_buft(ctx, bt)
            if not buf:
                self.close()
                raise MemoryError("ggml_backend_alloc_ctx_tensors_from_buft")
            self.bufs.append(buf)
        self.x = np.ctypeslib.as_array(ctypes.cast(b.ggml_get_data(self.xt), ctypes.POINTER(ctypes.c_float)),
                                       shape=(n_cols, n_in))
        self.y = np.ctypeslib.as_array(ctypes.cast(b.ggml_get_data(self.yt), ctypes.POINTER(ctypes.c_float)),
                                       shape=(n_cols, n_out))

    def close(self):
        self.free_backend()
        for buf in self.bufs:
            self.g.base.ggml_backend_buffer_free(buf)
        self.bufs = []
        for attr in ("ctx", "wctx"):
            if getattr(self, attr):
                self.g.base.ggml_free(getattr(self, attr))
                setattr(self, attr, None)
