#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Matrix-vector products and dequantization: libqnt against ggml, in one
process (both loaded with ctypes).

For each format: a 4096 x 4096 weight matrix (Gaussian, quantized by
libqnt, which writes ggml's bytes) times one float column (GEMV), single
thread and all threads, as GB/s of weight bytes read (the figure that
should approach the memory bandwidth); the same for each of --gemm-cols
(a list of column counts, one row each) as GFLOP/s (2 * n_out * n_in * cols
/ s, all threads); and dequantization of the whole matrix, single thread,
as MB/s of floats written. libqnt runs on the
backend named by --backend (default: the best CPU backend here, cpu-avx512
or cpu-avx2 on x86-64), ggml on its CPU backend
(ggml_mul_mat in a one-node graph with a persistent thread pool, the path
llama.cpp takes; its to_float for dequantization). Every figure is the
median of --reps runs after a warm-up. The machine's read bandwidth comes
first: a sum over a large array, single thread and all threads. The runs of
the figures that are compared (libqnt's and ggml's GEMV, GEMM and
dequantize) alternate, so that a change in the host's load falls on all of
them alike; each timed run follows three untimed runs of the same function
(or, with --cold, the cache evictor), so that it finds its data where its
own runs left it. With worker threads (the all-thread GEMV, the GEMM rows
when --threads is above 1) each function's runs come together instead:
both libraries' pools poll for a while after a product, and alternating
runs would meet the other's polling workers on the same cores.

The GEMV columns, at 1 thread and at --threads: libqnt (qnt_matmul on the
plain rows), prep (qnt_matmul_prepared on the matrix qnt_matrix_prepare
made once), ggml (its plain layout), repack (ggml with W in its CPU
backend's CPU_REPACK buffer type, which interleaves the rows on upload as
llama.cpp does by default; '-' where ggml's CPU device does not support the
product with W there, i.e. repack.cpp has no layout for that format on this
CPU), best (the faster of ggml and repack: ggml's best layout) and the
ratios of libqnt and prep to best. Each row ends with the relative
difference of ggml's products (plain, repack) from libqnt's. Without
llama-cpp-python the ggml columns show '-' (and with a ggml that has no
repack buffer type, the repack column), the reason printed once.

    .venv/bin/python bench/bench_matmul.py [--lib build/lib/libqnt.so]
        [--formats q4_0,q4_K] [--reps 7] [--n 4096] [--threads 2] [--gemm-cols 32,128,512]
        [--cold]

With --cold, each timed GEMV run (both libraries) follows a read of twice
the last-level cache, so that the weights come from memory, as they do in
inference with a model larger than the caches (a 4-bit 4096 x 4096 matrix
otherwise stays in a 32 MB L3 between runs).

With --backend vulkan (or another device backend) there is no ggml
column: the module named by --module is loaded, and each format gets GEMV
GB/s (weight bytes per second of qnt_matmul with one column), GEMM
GFLOP/s (--gemm-cols columns) and dequantize MB/s on the device, with the
relative difference from the cpu backend's product. The device figure
first is a copy on the device: qnt_dequantize of f32 rows, a shader that
reads and writes every float (GB/s of bytes read plus written). Host
operands go through the backend's staging buffers (a memcpy each way),
which these figures include.

    .venv/bin/python bench/bench_matmul.py --backend vulkan --n 2048 --reps 3
"""
import argparse
import concurrent.futures
import ctypes
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "interop"))

DEFAULT_FORMATS = ("q4_0,q4_1,q5_0,q5_1,q8_0,q2_K,q3_K,q4_K,q5_K,q6_K,f16,bf16,"
                   "iq4_nl,iq4_xs,mxfp4,nvfp4,tq2_0,tq1_0,iq2_xxs,iq3_xxs,iq2_xs,iq2_s,iq3_s,iq1_s,iq1_m,q1_0,q2_0")
DEVICE_FORMATS = (DEFAULT_FORMATS + ",q8_K,mlx:affine:4:64,mlx:affine:8:64,mlx:affine:3:64:f16,mlx:mxfp4,"
                  "mlx:nvfp4,mlx:mxfp8")


class CtxOpts(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("n_threads", ctypes.c_int32), ("backend", ctypes.c_char_p),
                ("alloc", ctypes.c_void_p), ("free", ctypes.c_void_p), ("alloc_user", ctypes.c_void_p),
                ("log", ctypes.c_void_p), ("log_user", ctypes.c_void_p), ("log_level", ctypes.c_int32),
                ("device", ctypes.c_int32), ("flags", ctypes.c_uint32), ("reserved", ctypes.c_uint32)]


class Qnt:
    def __init__(self, path):
        lib = self.lib = ctypes.CDLL(path)
        lib.qnt_type_by_name.restype = ctypes.c_int32
        lib.qnt_type_by_name.argtypes = [ctypes.c_char_p]
        lib.qnt_row_size.restype = ctypes.c_size_t
        lib.qnt_row_size.argtypes = [ctypes.c_int32, ctypes.c_int64]
        lib.qnt_ctx_create.restype = ctypes.c_int
        lib.qnt_ctx_create.argtypes = [ctypes.POINTER(CtxOpts), ctypes.POINTER(ctypes.c_void_p)]
        lib.qnt_ctx_destroy.argtypes = [ctypes.c_void_p]
        lib.qnt_ctx_last_error.restype = ctypes.c_char_p
        lib.qnt_ctx_last_error.argtypes = [ctypes.c_void_p]
        lib.qnt_quantize.restype = ctypes.c_int
        lib.qnt_quantize.argtypes = [ctypes.c_void_p, ctypes.c_int32, ctypes.c_void_p, ctypes.c_void_p,
                                     ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
        lib.qnt_dequantize.restype = ctypes.c_int
        lib.qnt_dequantize.argtypes = [ctypes.c_void_p, ctypes.c_int32, ctypes.c_void_p, ctypes.c_void_p,
                                       ctypes.c_int64, ctypes.c_int64]
        lib.qnt_matmul.restype = ctypes.c_int
        lib.qnt_matmul.argtypes = [ctypes.c_void_p, ctypes.c_int32, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64,
                                   ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p]
        lib.qnt_matrix_prepare.restype = ctypes.c_int
        lib.qnt_matrix_prepare.argtypes = [ctypes.c_void_p, ctypes.c_int32, ctypes.c_void_p, ctypes.c_int64,
                                           ctypes.c_int64, ctypes.POINTER(ctypes.c_void_p)]
        lib.qnt_matmul_prepared.restype = ctypes.c_int
        lib.qnt_matmul_prepared.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                            ctypes.c_void_p]
        lib.qnt_matrix_layout.restype = ctypes.c_char_p
        lib.qnt_matrix_layout.argtypes = [ctypes.c_void_p]
        lib.qnt_matrix_free.argtypes = [ctypes.c_void_p]

    def type_id(self, name):
        t = self.lib.qnt_type_by_name(name.encode())
        if t < 0:
            raise SystemExit(f"libqnt does not know the format {name}")
        return t

    def ctx(self, backend, n_threads):
        o = CtxOpts(ctypes.sizeof(CtxOpts), n_threads, backend.encode() if backend else None,
                    None, None, None, None, None, 1, 0, 0, 0)
        c = ctypes.c_void_p()
        if self.lib.qnt_ctx_create(ctypes.byref(o), ctypes.byref(c)) != 0:
            raise SystemExit(f"libqnt: {self.lib.qnt_ctx_last_error(None).decode()}")
        return c

    def best_cpu(self):
        """The first of the SIMD CPU backends that runs here, else "cpu"."""
        for name in ("cpu-avx512", "cpu-avx2", "cpu-neon"):
            o = CtxOpts(ctypes.sizeof(CtxOpts), 1, name.encode(), None, None, None, None, None, 1, 0, 0, 0)
            c = ctypes.c_void_p()
            if self.lib.qnt_ctx_create(ctypes.byref(o), ctypes.byref(c)) == 0:
                self.lib.qnt_ctx_destroy(c)
                return name
        return "cpu"

    def check(self, st, ctx):
        if st != 0:
            raise RuntimeError(self.lib.qnt_ctx_last_error(ctx).decode())


def median_time(fn, reps, before=None):
    """Median of reps timed runs of fn after a warm-up; before() (untimed)
    runs ahead of each timed run."""
    return median_times([fn], reps, before)[0]


WARM_RUNS = 3


def median_times(fns, reps, before=None):
    """median_time for several functions whose runs alternate: each once as a
    warm-up, then reps rounds that time each once in turn, so that a change
    in the host's load falls on all of them alike; the medians, in fns'
    order. Ahead of every timed run comes before() where given (the cache
    evictor), else WARM_RUNS untimed runs of the same function: the
    functions' data together may not fit in the caches (four 4096 x 4096
    matrices of a 4-bit format are 38 MB), and a timed run must find its own
    data where runs of its own left it. On this project's machine (Zen 3,
    whose L3 takes the lines the L2 evicts) a prepared q4_K GEMV after the
    other three matrices took 0.55 ms after one untimed run, 0.39 after two,
    0.34 after three, as many as run alone."""
    for fn in fns:
        fn()
    ts = [[] for _ in fns]
    for _ in range(reps):
        for fn, tl in zip(fns, ts):
            if before:
                before()
            else:
                for _ in range(WARM_RUNS):
                    fn()
            t0 = time.perf_counter()
            fn()
            tl.append(time.perf_counter() - t0)
    return [statistics.median(tl) for tl in ts]


def cache_evictor():
    """A function that reads a buffer of twice the last-level cache (at
    least 64 MB), which leaves no weight bytes in any cache."""
    try:
        llc = os.sysconf("SC_LEVEL3_CACHE_SIZE")
    except (ValueError, OSError):
        llc = 0
    buf = np.ones(max(2 * max(llc, 0), 64 << 20) // 8)
    return lambda: buf.sum()


def numpy_huge_pages(on):
    """numpy marks its arrays of 4 MiB or more MADV_HUGEPAGE (2 MiB pages where
    transparent huge pages are on 'madvise'); ggml's own buffers (its
    context's memory, its repack buffer) have 4 KiB pages, as a GGUF mapped
    from a file has. The weights libqnt reads in place (qnt_matmul's rows)
    are numpy arrays, so for the comparison to be fair they must not be on
    huge pages either: on this project's VM a 4 KiB page costs plain q8_0
    GEMV about 20%. The read bandwidth is printed for both page sizes."""
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy < 2
        from numpy.core import multiarray
    multiarray._set_madvise_hugepage(on)


def read_bandwidth(n_threads, reps, mbytes=512):
    """GB/s of a sum over `mbytes` MB of float64 (numpy's reduction releases
    the GIL, so threads sum their slices in parallel)."""
    a = np.ones(mbytes * (1 << 20) // 8)
    parts = np.array_split(a, n_threads)
    if n_threads == 1:
        t = median_time(lambda: a.sum(), reps)
    else:
        with concurrent.futures.ThreadPoolExecutor(n_threads) as ex:
            t = median_time(lambda: list(ex.map(np.sum, parts)), reps)
    return a.nbytes / t / 1e9


def device_table(args):
    """The figures of a device backend (no ggml counterpart)."""
    q = Qnt(args.lib)
    q.lib.qnt_backend_load.restype = ctypes.c_int
    q.lib.qnt_backend_load.argtypes = [ctypes.c_char_p]
    q.lib.qnt_ctx_backend_name.restype = ctypes.c_char_p
    q.lib.qnt_ctx_backend_name.argtypes = [ctypes.c_void_p]
    if args.module and q.lib.qnt_backend_load(args.module.encode()) != 0:
        raise SystemExit(f"libqnt: {q.lib.qnt_ctx_last_error(None).decode()}")
    dev, cpu = q.ctx(args.backend, 1), q.ctx("cpu", 1)
    n, c = args.n, max([1] + [int(v) for v in args.gemm_cols.split(",") if v.strip()])
    formats = args.formats or DEVICE_FORMATS
    print(f"libqnt {os.path.realpath(args.lib)} on backend {q.lib.qnt_ctx_backend_name(dev).decode()} "
          f"({args.module}); W {n} x {n}, median of {args.reps}")
    f32 = q.type_id("f32")
    a = np.random.default_rng(1).standard_normal((n, n)).astype(np.float32)
    b = np.zeros_like(a)
    t = median_time(lambda: q.check(q.lib.qnt_dequantize(dev, f32, a.ctypes.data, b.ctypes.data, n, n), dev),
                    args.reps)
    assert np.array_equal(a, b)
    print(f"device copy (f32 dequantize, {a.nbytes >> 20} MiB read + written): {2 * a.nbytes / t / 1e9:.2f} GB/s; "
          f"host read bandwidth {read_bandwidth(1, args.reps):.1f} GB/s (1 thread), "
          f"{read_bandwidth(os.cpu_count(), args.reps):.1f} GB/s ({os.cpu_count()} threads)")
    del a, b
    rng = np.random.default_rng(0)
    x = rng.standard_normal((c, n)).astype(np.float32)
    print(f"{'format':22s} | {'GEMV GB/s':>10s} | {'GEMM GFLOP/s ' + str(c) + ' cols':>20s} | {'dequantize MB/s':>16s}")
    for name in formats.split(","):
        t = q.type_id(name)
        w = rng.standard_normal((n, n)).astype(np.float32)
        wq = np.zeros(n * q.lib.qnt_row_size(t, n), dtype=np.uint8)
        q.check(q.lib.qnt_quantize(cpu, t, w.ctypes.data, wq.ctypes.data, n, n, None), cpu)
        del w
        y = np.zeros((c, n), dtype=np.float32)
        yr = np.zeros((1, n), dtype=np.float32)

        def mm(ctx, cols, out):
            q.check(q.lib.qnt_matmul(ctx, t, wq.ctypes.data, n, n, x.ctypes.data, cols, out.ctypes.data), ctx)

        gemv = wq.nbytes / median_time(lambda: mm(dev, 1, y), args.reps) / 1e9
        mm(cpu, 1, yr)
        rel = float(np.linalg.norm(y[0] - yr[0]) / np.linalg.norm(yr[0]))
        gemm = 2.0 * n * n * c / median_time(lambda: mm(dev, c, y), args.reps) / 1e9
        out = np.zeros((n, n), dtype=np.float32)
        deq = out.nbytes / median_time(
            lambda: q.check(q.lib.qnt_dequantize(dev, t, wq.ctypes.data, out.ctypes.data, n, n), dev),
            args.reps) / 1e6
        print(f"{name:22s} | {gemv:10.3f} | {gemm:20.2f} | {deq:16.0f}   (|y - y_cpu| / |y_cpu| = {rel:.1e})",
              flush=True)
    q.lib.qnt_ctx_destroy(dev)
    q.lib.qnt_ctx_destroy(cpu)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lib", default=os.environ.get("QNT_LIB", os.path.join(HERE, "..", "build", "lib", "libqnt.so")))
    ap.add_argument("--backend", default=None,
                    help="libqnt backend (default: the best CPU backend, as 'auto' picks it without modules)")
    ap.add_argument("--formats", default=None, help=f"default: {DEFAULT_FORMATS} (device backends: more)")
    ap.add_argument("--module", default=os.path.join(HERE, "..", "build", "backends", "vulkan", "libqnt-vulkan.so"),
                    help="backend module to load first (device backends)")
    ap.add_argument("--n", type=int, default=4096, help="rows = columns of W")
    ap.add_argument("--reps", type=int, default=7, help="timed runs per figure (the median is shown)")
    ap.add_argument("--threads", type=int, default=os.cpu_count(),
                    help="threads of the second GEMV columns and of GEMM (default: all cores)")
    ap.add_argument("--gemm-cols", default="32",
                    help="comma-separated column counts of the GEMM rows (0 or empty: none)")
    ap.add_argument("--cold", action="store_true",
                    help="GEMV with the weights not in cache: a read of twice the last-level cache before "
                         "each timed run (not timed)")
    args = ap.parse_args()
    gemm_cols = [int(c) for c in args.gemm_cols.split(",") if c.strip() and int(c) > 0]
    if args.backend is None:
        args.backend = Qnt(args.lib).best_cpu()
    if not args.backend.startswith("cpu"):
        return device_table(args)
    args.formats = args.formats or DEFAULT_FORMATS

    import ggmllib  # tests/interop
    q = Qnt(args.lib)
    base, no_ggml = ggmllib.locate_ggml_base()
    g = ggmllib.GgmlCpu(base) if base else None
    if g:
        g.drop_debug_log()
    repack, no_repack = g.repack_buft() if g else (None, no_ggml)
    n, nt = args.n, args.threads
    print(f"libqnt {os.path.realpath(args.lib)} on backend {args.backend}; "
          + (f"ggml {g.base._name} (llama-cpp-python {ggmllib.llama_cpp_version()})" if g
             else f"no ggml ({no_ggml}): its columns show '-'"))
    if g and not repack:
        print(f"no ggml repack ({no_repack}): its column shows '-', ggml best is ggml's plain layout")
    print(f"W {n} x {n}, {nt} threads for 'all', median of {args.reps}"
          + ("; GEMV with the weights evicted from the caches before each run" if args.cold else ""))
    evict = cache_evictor() if args.cold else None
    print(f"memory read bandwidth on huge pages: {read_bandwidth(1, args.reps):.1f} GB/s (1 thread), "
          f"{read_bandwidth(nt, args.reps):.1f} GB/s ({nt} threads)")
    numpy_huge_pages(False)
    print(f"memory read bandwidth on 4 KiB pages: {read_bandwidth(1, args.reps):.1f} GB/s (1 thread), "
          f"{read_bandwidth(nt, args.reps):.1f} GB/s ({nt} threads)")
    print("weights on 4 KiB pages for both libraries' plain layouts (ggml's buffers have them; numpy's huge "
          "pages off); libqnt's prepared matrices and ggml's repack buffer as each library allocates them")
    ctx1, ctxn = q.ctx(args.backend, 1), q.ctx(args.backend, nt)
    rng = np.random.default_rng(0)
    max_cols = max([1] + gemm_cols)
    x = rng.standard_normal((max_cols, n)).astype(np.float32)
    print(f"GEMM rows: GFLOP/s with {nt} threads, {', '.join(str(c) for c in gemm_cols) or 'no'} columns")
    print("GEMV: libqnt = qnt_matmul, prep = qnt_matmul_prepared, ggml = ggml_mul_mat (plain layout), "
          "repack = ggml_mul_mat with W in ggml's CPU_REPACK buffer type ('-': not taken), "
          "best = the faster ggml; ratios against best")
    gemv_cols = ("libqnt", "prep", "ggml", "repack", "best", "qnt/best", "prep/best")
    w_gemv = 9 * len(gemv_cols) - 1
    print(f"{'format':12s} | {'GEMV GB/s 1 thread':>{w_gemv}s} | {'GEMV GB/s ' + str(nt) + ' threads':>{w_gemv}s} | "
          f"{'dequantize MB/s 1 thread':>26s}")
    print(f"{'':12s} | {' '.join(f'{c:>8s}' for c in gemv_cols)} | {' '.join(f'{c:>8s}' for c in gemv_cols)} | "
          f"{'libqnt':>8s} {'ggml':>8s} {'ratio':>8s}")

    def fig(v, spec):
        return "-" if v is None else format(v, spec)

    def ratio(a, b):
        return None if a is None or b is None else a / b

    for name in args.formats.split(","):
        t = q.type_id(name)
        w = rng.standard_normal((n, n)).astype(np.float32)
        wq = np.zeros(n * q.lib.qnt_row_size(t, n), dtype=np.uint8)
        q.check(q.lib.qnt_quantize(ctxn, t, w.ctypes.data, wq.ctypes.data, n, n, None), ctxn)
        del w
        wbytes = wq.nbytes
        y = np.zeros((max_cols, n), dtype=np.float32)

        def qnt_mm(ctx, cols):
            q.check(q.lib.qnt_matmul(ctx, t, wq.ctypes.data, n, n, x.ctypes.data, cols, y.ctypes.data), ctx)

        res = dict.fromkeys(("g1", "gn", "r1", "rn", "gd"))
        qnt_mm(ctx1, 1)
        y_qnt = y[0].copy()
        # the same product on the matrix prepared once (qnt_matrix_prepare)
        pm = ctypes.c_void_p()
        q.check(q.lib.qnt_matrix_prepare(ctx1, t, wq.ctypes.data, n, n, ctypes.byref(pm)), ctx1)
        layout = q.lib.qnt_matrix_layout(pm).decode()
        notes = [f"prepared layout {layout}"]
        mg = mr = None
        if g:
            mg = g.mul_mat_graph(name, n, n, 1)
            mg.w[:] = wq
            mg.x[:] = x[:1]
        if repack:
            mr = g.mul_mat_repack(name, wq, n, n, 1)
            if mr:
                mr.x[:] = x[:1]
        # the GEMV figures of one thread count: libqnt plain, prepared, ggml
        # plain, ggml repack, their runs alternating (median_times)
        for k, ctx, threads in (("1", ctx1, 1), ("n", ctxn, nt)):
            fns = {"q": lambda ctx=ctx: qnt_mm(ctx, 1),
                   "p": lambda ctx=ctx: q.check(q.lib.qnt_matmul_prepared(ctx, pm, x.ctypes.data, 1,
                                                                          y.ctypes.data), ctx)}
            for key, m in (("g", mg), ("r", mr)):
                if m:
                    m.set_threads(threads)
                    fns[key] = m.compute
            if threads == 1:
                tms = median_times(list(fns.values()), args.reps, evict)
            else:
                # with worker threads, one function at a time: both libraries' pools poll for a
                # while after a product, and alternating runs would meet the other's polling
                # workers on the same cores
                tms = [median_time(fn, args.reps, evict) for fn in fns.values()]
            for key, tm in zip(fns, tms):
                res[key + k] = wbytes / tm / 1e9
        q.lib.qnt_matrix_free(pm)
        if mg:
            notes.insert(0, f"|y - y_ggml| / |y_ggml| = {np.linalg.norm(mg.y[0] - y_qnt) / np.linalg.norm(mg.y[0]):.1e}")
            mg.close()
        if mr:
            notes.insert(1, f"repack: {np.linalg.norm(mr.y[0] - y_qnt) / np.linalg.norm(mr.y[0]):.1e}")
            mr.close()
        for k in "1n":
            res["b" + k] = max((v for v in (res["g" + k], res["r" + k]) if v is not None), default=None)

        gemm = []
        for c in gemm_cols:
            flop = 2.0 * n * n * c
            fns = [lambda c=c: qnt_mm(ctxn, c)]
            mm = None
            if g:
                mm = g.mul_mat_graph(name, n, n, c)
                mm.w[:] = wq
                mm.x[:] = x[:c]
                mm.set_threads(nt)
                fns.append(mm.compute)
            tms = median_times(fns, args.reps) if nt == 1 else [median_time(fn, args.reps) for fn in fns]
            gemm.append((c, flop / tms[0] / 1e9, flop / tms[1] / 1e9 if mm else None))
            if mm:
                mm.close()

        out = np.zeros((n, n), dtype=np.float32)
        fns = [lambda: q.check(q.lib.qnt_dequantize(ctx1, t, wq.ctypes.data, out.ctypes.data, n, n), ctx1)]
        if g:
            to_float = ggmllib.TO_FLOAT(g.base.ggml_get_type_traits(g.type_id(name)).contents.to_float)
            fns.append(lambda: to_float(wq.ctypes.data, out.ctypes.data, out.size))
        tms = median_times(fns, args.reps)
        res["qd"] = out.nbytes / tms[0] / 1e6
        if g:
            res["gd"] = out.nbytes / tms[1] / 1e6
        del out
        cells = []
        for k in "1n":
            cells.append(" ".join(f"{fig(v, '8.2f'):>8s}" for v in (
                res["q" + k], res["p" + k], res["g" + k], res["r" + k], res["b" + k],
                ratio(res["q" + k], res["b" + k]), ratio(res["p" + k], res["b" + k]))))
        print(f"{name:12s} | {cells[0]} | {cells[1]} | "
              f"{res['qd']:8.0f} {fig(res['gd'], '8.0f'):>8s} {fig(ratio(res['qd'], res['gd']), '8.2f'):>8s}   "
              f"({'; '.join(notes)})", flush=True)
        for c, qg, gg in gemm:
            print(f"{'  GEMM ' + str(c):12s} | {qg:8.1f} {fig(gg, '8.1f'):>8s} {fig(ratio(qg, gg), '8.2f'):>8s}   "
                  f"GFLOP/s, {nt} threads", flush=True)
    q.lib.qnt_ctx_destroy(ctx1)
    q.lib.qnt_ctx_destroy(ctxn)
    return 0


if __name__ == "__main__":
    sys.exit(main())
