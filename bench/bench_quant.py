#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Quantization quality and speed: libqnt against ggml, single thread, in one
process (both loaded with ctypes).

For every ggml format both libraries can quantize (or those of --types): a
seeded ROWS x COLS float32 tensor (Gaussian, or Student-t with 3 degrees of
freedom with --dist student) is quantized and dequantized by ggml
(ggml_quantize_chunk and the type's to_float, called directly: one thread)
and by libqnt (qnt_quantize / qnt_dequantize on a context with n_threads =
1), without and with a fixed log-normal importance vector (ggml's imatrix
argument, libqnt's importance). Printed per format: bits per weight, whether
the two quantizers wrote the same bytes without importance, relative RMSE
sqrt(sum (x - x^)^2 / sum x^2) of both, importance-weighted relative RMSE
sqrt(sum w (x - x^)^2 / sum w x^2) of both with importance, and throughput:
quantize without and with importance (MB/s of f32 input) and dequantize
(MB/s of f32 output), each the median of --reps timed runs after one
untimed run, with the ratio libqnt / ggml (> 1: libqnt is faster). The two
libraries' runs of a figure alternate, so that a change in the machine's
load falls on both alike.

    .venv/bin/python bench/bench_quant.py [--lib build/lib/libqnt.so]
        [--types q4_0,q4_K] [--rows 256] [--cols 4096] [--reps 5]
        [--dist gaussian|student] [--json | --markdown]
"""
import argparse
import ctypes
import json
import os
import platform
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "interop"))

F32, F64, U8 = np.float32, np.float64, np.uint8

# qnt_type_info flags (include/libqnt.h)
FLAG_QUANTIZE, FLAG_IMPORTANCE, FLAG_ACTIVATION = 0x2, 0x8, 0x10
GGML_TYPE_COUNT = 43  # ggml.h of llama-cpp-python 0.3.36; ggml asserts on ids past it
# ggml_quantize_requires_imatrix(): ggml aborts without an imatrix for these
GGML_REQUIRES_IMATRIX = {"iq2_xxs", "iq2_xs", "iq1_s"}


class CtxOpts(ctypes.Structure):
    """Mirror of qnt_ctx_opts (include/libqnt.h), field for field."""
    _fields_ = [("struct_size", ctypes.c_uint32), ("n_threads", ctypes.c_int32), ("backend", ctypes.c_char_p),
                ("alloc", ctypes.c_void_p), ("free", ctypes.c_void_p), ("alloc_user", ctypes.c_void_p),
                ("log", ctypes.c_void_p), ("log_user", ctypes.c_void_p), ("log_level", ctypes.c_int32),
                ("device", ctypes.c_int32), ("flags", ctypes.c_uint32), ("reserved", ctypes.c_uint32)]


class TypeInfo(ctypes.Structure):
    """Mirror of qnt_type_info (include/libqnt.h)."""
    _fields_ = [("struct_size", ctypes.c_uint32), ("type", ctypes.c_int32), ("block_size", ctypes.c_int64),
                ("block_bytes", ctypes.c_uint64), ("flags", ctypes.c_uint32), ("reserved", ctypes.c_uint32),
                ("bits_per_weight", ctypes.c_double), ("name", ctypes.c_char_p), ("description", ctypes.c_char_p)]


class Qnt:
    def __init__(self, path):
        lib = self.lib = ctypes.CDLL(path)
        self.path = path
        lib.qnt_version_string.restype = ctypes.c_char_p
        lib.qnt_type_count.restype = ctypes.c_int32
        lib.qnt_type_at.restype = ctypes.c_int32
        lib.qnt_type_at.argtypes = [ctypes.c_int32]
        lib.qnt_type_get_info.restype = ctypes.c_int
        lib.qnt_type_get_info.argtypes = [ctypes.c_int32, ctypes.POINTER(TypeInfo)]
        lib.qnt_type_by_name.restype = ctypes.c_int32
        lib.qnt_type_by_name.argtypes = [ctypes.c_char_p]
        lib.qnt_row_size.restype = ctypes.c_size_t
        lib.qnt_row_size.argtypes = [ctypes.c_int32, ctypes.c_int64]
        lib.qnt_ctx_create.restype = ctypes.c_int
        lib.qnt_ctx_create.argtypes = [ctypes.POINTER(CtxOpts), ctypes.POINTER(ctypes.c_void_p)]
        lib.qnt_ctx_destroy.argtypes = [ctypes.c_void_p]
        lib.qnt_ctx_last_error.restype = ctypes.c_char_p
        lib.qnt_ctx_last_error.argtypes = [ctypes.c_void_p]
        lib.qnt_ctx_backend_name.restype = ctypes.c_char_p
        lib.qnt_ctx_backend_name.argtypes = [ctypes.c_void_p]
        lib.qnt_quantize.restype = ctypes.c_int
        lib.qnt_quantize.argtypes = [ctypes.c_void_p, ctypes.c_int32, ctypes.c_void_p, ctypes.c_void_p,
                                     ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
        lib.qnt_dequantize.restype = ctypes.c_int
        lib.qnt_dequantize.argtypes = [ctypes.c_void_p, ctypes.c_int32, ctypes.c_void_p, ctypes.c_void_p,
                                       ctypes.c_int64, ctypes.c_int64]

    def types(self):
        out = []
        for i in range(self.lib.qnt_type_count()):
            info = TypeInfo(ctypes.sizeof(TypeInfo))
            if self.lib.qnt_type_get_info(self.lib.qnt_type_at(i), ctypes.byref(info)) == 0:
                out.append({"type": info.type, "name": info.name.decode(), "flags": info.flags,
                            "bpw": info.bits_per_weight, "block_size": info.block_size})
        return out

    def ctx(self, n_threads, backend):
        o = CtxOpts(ctypes.sizeof(CtxOpts), n_threads, backend.encode() if backend else None,
                    None, None, None, None, None, 1, 0, 0, 0)
        c = ctypes.c_void_p()
        if self.lib.qnt_ctx_create(ctypes.byref(o), ctypes.byref(c)) != 0:
            raise SystemExit(f"libqnt: {self.lib.qnt_ctx_last_error(None).decode()}")
        return c

    def check(self, st, ctx):
        if st != 0:
            raise RuntimeError(self.lib.qnt_ctx_last_error(ctx).decode())


class Ggml:
    def __init__(self, ggmllib):
        self.path = ggmllib.find_ggml_base()  # exits 77 without llama-cpp-python
        lib = self.lib = ctypes.CDLL(self.path)
        self.TO_FLOAT = ggmllib.TO_FLOAT
        lib.ggml_get_type_traits.restype = ctypes.POINTER(ggmllib.TypeTraits)
        lib.ggml_get_type_traits.argtypes = [ctypes.c_int]
        lib.ggml_row_size.restype = ctypes.c_size_t
        lib.ggml_row_size.argtypes = [ctypes.c_int, ctypes.c_int64]
        lib.ggml_quantize_chunk.restype = ctypes.c_size_t
        lib.ggml_quantize_chunk.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                                            ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p]
        lib.ggml_quantize_init.restype = None
        lib.ggml_quantize_init.argtypes = [ctypes.c_int]

    def knows(self, t, name):
        """ggml has type t under the same name and a to_float for it (f32 has
        none; ggml_quantize_chunk quantizes every such type but the
        activation formats q8_1 and q8_K, which the caller leaves out)."""
        if t >= GGML_TYPE_COUNT:
            return False
        tr = self.lib.ggml_get_type_traits(t).contents
        if not tr.type_name or tr.type_name.decode() != name:
            return False
        return bool(tr.to_float) and name not in ("q8_1", "q8_K")

    def to_float(self, t):
        return self.TO_FLOAT(self.lib.ggml_get_type_traits(t).contents.to_float)


def make_data(dist, rows, cols, seed):
    rng = np.random.default_rng(seed)
    if dist == "student":
        x = rng.standard_t(3, (rows, cols))
    else:
        x = rng.standard_normal((rows, cols))
    w = np.exp(rng.standard_normal(cols))
    return x.astype(F32), w.astype(F32)


def rel_rmse(x, y, w=None):
    x = x.astype(F64)
    d = x - y.astype(F64)
    if w is None:
        return float(np.sqrt(np.sum(d * d) / np.sum(x * x)))
    w = w.astype(F64)[None, :]
    return float(np.sqrt(np.sum(w * d * d) / np.sum(w * x * x)))


def median_times(fns, reps):
    """Each of fns once untimed (warm-up: tables, caches, page faults), then
    reps rounds that time each once, in turn, so that a change in the
    machine's load falls on all of them alike; the medians, in fns' order."""
    for fn in fns:
        fn()
    ts = [[] for _ in fns]
    for _ in range(reps):
        for fn, t in zip(fns, ts):
            t0 = time.perf_counter()
            fn()
            t.append(time.perf_counter() - t0)
    return [statistics.median(t) for t in ts]


def bench_type(q, g, ctx, info, x, w, reps):
    name, t = info["name"], info["type"]
    rows, cols = x.shape
    mb_in = x.nbytes / 1e6
    rs_q, rs_g = q.lib.qnt_row_size(t, cols), g.lib.ggml_row_size(t, cols)
    if rs_q != rs_g:
        raise RuntimeError(f"{name}: row of {rs_q} bytes in libqnt, {rs_g} in ggml")
    r = {"type": name, "bits_per_weight": info["bpw"]}
    bq = np.zeros((rows, rs_q), dtype=U8)
    bg = np.zeros((rows, rs_q), dtype=U8)
    y = np.zeros_like(x)

    def qnt_quant(imp):
        q.check(q.lib.qnt_quantize(ctx, t, x.ctypes.data, bq.ctypes.data, rows, cols,
                                   None if imp is None else imp.ctypes.data), ctx)

    def ggml_quant(imp):
        got = g.lib.ggml_quantize_chunk(t, x.ctypes.data, bg.ctypes.data, 0, rows, cols,
                                        None if imp is None else imp.ctypes.data)
        if got != bg.size:
            raise RuntimeError(f"ggml_quantize_chunk({name}) wrote {got} bytes, expected {bg.size}")

    def qnt_deq(buf):
        q.check(q.lib.qnt_dequantize(ctx, t, buf.ctypes.data, y.ctypes.data, rows, cols), ctx)
        return y

    to_float = g.to_float(t)

    def ggml_deq(buf):
        to_float(buf.ctypes.data, y.ctypes.data, y.size)
        return y

    g.lib.ggml_quantize_init(t)  # i-quant tables: not part of the timings

    # without importance: bytes and error
    ggml_noimp = name not in GGML_REQUIRES_IMATRIX
    qnt_quant(None)
    r["qnt_rmse"] = rel_rmse(x, qnt_deq(bq))
    if ggml_noimp:
        ggml_quant(None)
        r["same_bytes"] = bool(np.array_equal(bq, bg))
        r["ggml_rmse"] = rel_rmse(x, ggml_deq(bg))
        g_noimp_bytes = bg.copy()
    else:
        r["same_bytes"] = None
        r["ggml_rmse"] = None
        g_noimp_bytes = None

    # with importance: bytes and error
    r["qnt_importance"] = "used" if info["flags"] & FLAG_IMPORTANCE else "ignored"
    qnt_quant(w)
    r["qnt_rmse_imp"] = rel_rmse(x, qnt_deq(bq), w)
    ggml_quant(w)
    if not ggml_noimp:
        r["ggml_importance"] = "required"
    else:
        r["ggml_importance"] = "ignored" if np.array_equal(bg, g_noimp_bytes) else "used"
    r["ggml_rmse_imp"] = rel_rmse(x, ggml_deq(bg), w)

    # speed: each pair timed in turn (median_times); the runs with importance
    # come last, so that the dequantize runs read each library's own bytes
    # with importance (the work does not depend on the values)
    mb_out = y.nbytes / 1e6
    r["ggml_quant_mbs"] = None
    if ggml_noimp:
        tq, tg = median_times([lambda: qnt_quant(None), lambda: ggml_quant(None)], reps)
        r["ggml_quant_mbs"] = mb_in / tg
    else:
        tq, = median_times([lambda: qnt_quant(None)], reps)
    r["qnt_quant_mbs"] = mb_in / tq
    tq, tg = median_times([lambda: qnt_quant(w), lambda: ggml_quant(w)], reps)
    r["qnt_quant_imp_mbs"], r["ggml_quant_imp_mbs"] = mb_in / tq, mb_in / tg
    tq, tg = median_times([lambda: qnt_deq(bq), lambda: ggml_deq(bg)], reps)
    r["qnt_dequant_mbs"], r["ggml_dequant_mbs"] = mb_out / tq, mb_out / tg

    def ratio(a, b):
        return None if a is None or b is None or b == 0 else a / b
    r["quant_ratio"] = ratio(r["qnt_quant_mbs"], r["ggml_quant_mbs"])
    r["quant_imp_ratio"] = ratio(r["qnt_quant_imp_mbs"], r["ggml_quant_imp_mbs"])
    r["dequant_ratio"] = ratio(r["qnt_dequant_mbs"], r["ggml_dequant_mbs"])
    return r


# ---------------------------------------------------------------------------
# Output

COLUMNS = [  # key, header, format
    ("type", "format", "{}"),
    ("bits_per_weight", "bpw", "{:.4f}"),
    ("same_bytes", "same bytes", None),
    ("ggml_rmse", "RMSE ggml", "{:.6f}"),
    ("qnt_rmse", "RMSE libqnt", "{:.6f}"),
    ("ggml_rmse_imp", "wRMSE ggml", "{:.6f}"),
    ("qnt_rmse_imp", "wRMSE libqnt", "{:.6f}"),
    ("ggml_quant_mbs", "Q ggml", "{:.1f}"),
    ("qnt_quant_mbs", "Q libqnt", "{:.1f}"),
    ("quant_ratio", "Q ratio", "{:.2f}"),
    ("ggml_quant_imp_mbs", "Qi ggml", "{:.1f}"),
    ("qnt_quant_imp_mbs", "Qi libqnt", "{:.1f}"),
    ("quant_imp_ratio", "Qi ratio", "{:.2f}"),
    ("ggml_dequant_mbs", "DQ ggml", "{:.0f}"),
    ("qnt_dequant_mbs", "DQ libqnt", "{:.0f}"),
    ("dequant_ratio", "DQ ratio", "{:.2f}"),
]


def cell(r, key, fmt):
    v = r.get(key)
    if key == "same_bytes":
        return "-" if v is None else ("yes" if v else "NO")
    if v is None:
        return "-"
    s = fmt.format(v)
    if key == "ggml_rmse_imp" and r["ggml_importance"] != "used":
        s += "*" if r["ggml_importance"] == "ignored" else ""
    if key == "qnt_rmse_imp" and r["qnt_importance"] != "used":
        s += "*"
    return s


NOTES = ("RMSE: relative, sqrt(sum (x-x^)^2 / sum x^2), without importance. wRMSE: importance-weighted, "
         "sqrt(sum w (x-x^)^2 / sum w x^2), quantized with the log-normal importance w (ggml's imatrix, "
         "libqnt's importance); * = that library ignores importance for the format (its bytes are the "
         "no-importance ones). '-' = not applicable (ggml requires an imatrix for the format). "
         "same bytes: libqnt's bytes without importance equal ggml's. Q / Qi: single-thread quantize "
         "without / with importance, MB/s of f32 input; DQ: single-thread dequantize, MB/s of f32 output; "
         "ratio = libqnt / ggml (> 1: libqnt faster).")


def print_text(results, head):
    print(head)
    cells = [[h for _, h, _ in COLUMNS]] + [[cell(r, k, f) for k, _, f in COLUMNS] for r in results]
    widths = [max(len(row[i]) for row in cells) for i in range(len(COLUMNS))]
    for j, row in enumerate(cells):
        print("  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(row)))
    print()
    print(NOTES)


def print_markdown(results, head):
    print(f"*{head}*")
    print()
    print("| " + " | ".join(h for _, h, _ in COLUMNS) + " |")
    print("|" + "|".join("---" if i == 0 else "---:" for i in range(len(COLUMNS))) + "|")
    for r in results:
        print("| " + " | ".join(cell(r, k, f) for k, _, f in COLUMNS) + " |")
    print()
    print(NOTES)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lib", default=os.environ.get("QNT_LIB", os.path.join(HERE, "..", "build", "lib", "libqnt.so")),
                    help="libqnt shared object (default: $QNT_LIB or build/lib/libqnt.so)")
    ap.add_argument("--backend", default=None, help="libqnt backend (default: the best, as 'auto')")
    ap.add_argument("--types", default=None,
                    help="comma-separated formats (default: every ggml format both libraries quantize, "
                         "activation formats excepted)")
    ap.add_argument("--rows", type=int, default=256)
    ap.add_argument("--cols", type=int, default=4096)
    ap.add_argument("--reps", type=int, default=5, help="timed runs per figure (median; one untimed run first)")
    ap.add_argument("--dist", choices=["gaussian", "student"], default="gaussian",
                    help="gaussian (default) or student (t, 3 d.o.f.: heavy tails)")
    ap.add_argument("--seed", type=int, default=1)
    out = ap.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="machine-readable output")
    out.add_argument("--markdown", action="store_true", help="a Markdown table (for the README)")
    args = ap.parse_args()
    if args.rows < 1 or args.cols < 1 or args.reps < 1:
        ap.error("--rows, --cols and --reps must be positive")

    import ggmllib  # tests/interop
    q = Qnt(os.path.abspath(args.lib))
    g = Ggml(ggmllib)
    all_types = q.types()
    both = [i for i in all_types if i["type"] < 256 and i["flags"] & FLAG_QUANTIZE and
            not i["flags"] & FLAG_ACTIVATION and g.knows(i["type"], i["name"])]
    if args.types:
        by_name = {i["name"].lower(): i for i in all_types}
        sel = []
        for n in args.types.split(","):
            i = by_name.get(n.strip().lower())
            if i is None:
                ap.error(f"libqnt does not know the format '{n}'")
            if i not in both:
                ap.error(f"'{n}' is not a ggml format that both libraries quantize and dequantize")
            sel.append(i)
        types = sel
    else:
        types = both
    bad = [i["name"] for i in types if args.cols % i["block_size"]]
    if bad:
        ap.error(f"--cols {args.cols} is not a multiple of the block of {', '.join(bad)}")

    ctx = q.ctx(1, args.backend)
    backend = q.lib.qnt_ctx_backend_name(ctx).decode()
    x, w = make_data(args.dist, args.rows, args.cols, args.seed)
    config = {
        "rows": args.rows, "cols": args.cols, "reps": args.reps,
        "distribution": "student-t(3)" if args.dist == "student" else "gaussian", "seed": args.seed,
        "importance": "log-normal exp(N(0,1)) per column",
        "threads": 1, "libqnt": os.path.realpath(q.path), "libqnt_version": q.lib.qnt_version_string().decode(),
        "libqnt_backend": backend, "ggml": g.path, "llama_cpp_python": ggmllib.llama_cpp_version(),
        "machine": platform.machine(), "processor": platform.processor() or None, "cpus": os.cpu_count(),
    }
    results = []
    interactive = not args.json and not args.markdown and sys.stderr.isatty()
    for k, info in enumerate(types):
        if interactive:
            print(f"\r[{k + 1}/{len(types)}] {info['name']:10s}", end="", file=sys.stderr, flush=True)
        results.append(bench_type(q, g, ctx, info, x, w, args.reps))
    if interactive:
        print("\r" + " " * 40 + "\r", end="", file=sys.stderr)
    q.lib.qnt_ctx_destroy(ctx)

    head = (f"{args.rows} x {args.cols} {config['distribution']} float32, single thread, median of {args.reps}; "
            f"libqnt {config['libqnt_version']} (backend {backend}), ggml of llama-cpp-python "
            f"{config['llama_cpp_python']}")
    if args.json:
        json.dump({"config": config, "results": results}, sys.stdout, indent=1)
        print()
    elif args.markdown:
        print_markdown(results, head)
    else:
        print_text(results, head)
    return 0


if __name__ == "__main__":
    sys.exit(main())
