#!/usr/bin/env python3
"""A/B of two builds of libqnt on one matrix product.

Runs the same product (a GEMV by default) with two libqnt shared libraries,
A and B (say main's build copied away, and a changed build), each in a
worker process of its own that stays up for the whole comparison; the
rounds alternate between them (A first in even rounds, B first in odd
ones), so that a change in the host's load falls on both alike, and both
workers run a round's runs on the same CPU (the CPU changes every two
rounds), so that a CPU slower than the other falls on both alike. Each timed
run is measured in the calling thread's CPU time (time.thread_time), not in
wall-clock time, which on a shared machine moves with the other processes;
the medians are compared. One thread (the context is made with n_threads =
1), so the thread's CPU time is the product's. With --threads N > 1 the
context has N threads, the workers are not pinned and a run is measured in
wall-clock time; each round starts 50 ms after the other worker's last run,
so that its pool's threads, which poll for up to 10 ms after a product,
have gone to sleep, and with an untimed run that wakes this worker's.

    bench/ab_matmul.py OLD.so NEW.so q4_K               # prepared GEMV, in cache
    bench/ab_matmul.py OLD.so NEW.so q4_K --cold        # weights from memory
    bench/ab_matmul.py OLD.so NEW.so iq4_nl --plain     # qnt_matmul, no prepare
    bench/ab_matmul.py OLD.so NEW.so q4_0 --cols 64     # 64 columns
    bench/ab_matmul.py OLD.so NEW.so q4_K --cold --threads 2

Prints one line: both medians and A/B (> 1: B is faster). The weights are
random Gaussian rows quantized by each library itself (the same bytes for
any build that keeps the determinism contract).
"""
import argparse
import ctypes
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def worker(lib, fmt, n, cols, backend, plain, cold, threads):
    sys.path.insert(0, HERE)
    import numpy as np
    import bench_matmul as bm
    q = bm.Qnt(lib)
    t = q.type_id(fmt)
    ctx = q.ctx(backend or q.best_cpu(), threads)
    rng = np.random.default_rng(1)
    w = rng.standard_normal((n, n), dtype=np.float32)
    wq = np.empty(q.lib.qnt_row_size(t, n) * n, np.uint8)
    q.check(q.lib.qnt_quantize(ctx, t, w.ctypes.data, wq.ctypes.data, n, n, None), ctx)
    del w
    x = rng.standard_normal((cols, n), dtype=np.float32)
    y = np.empty((cols, n), np.float32)
    if plain:
        def run():
            q.check(q.lib.qnt_matmul(ctx, t, wq.ctypes.data, n, n, x.ctypes.data, cols, y.ctypes.data), ctx)
    else:
        pm = ctypes.c_void_p()
        q.check(q.lib.qnt_matrix_prepare(ctx, t, wq.ctypes.data, n, n, ctypes.byref(pm)), ctx)

        def run():
            q.check(q.lib.qnt_matmul_prepared(ctx, pm, x.ctypes.data, cols, y.ctypes.data), ctx)
    evict = bm.cache_evictor() if cold else None
    for _ in range(3):
        run()
    # one line in: how many timed runs and the CPU to run them on; one line out: their times
    clock = time.thread_time if threads == 1 else time.perf_counter
    for line in sys.stdin:
        count, cpu = (int(v) for v in line.split())
        if threads == 1 and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, {cpu})
        if threads > 1:
            time.sleep(0.05)
            run()  # wakes the pool's threads, which then poll through the gaps below
        out = []
        for _ in range(count):
            if evict:
                evict()
            else:
                run()
            t0 = clock()
            run()
            out.append(clock() - t0)
        print(" ".join(f"{v:.7f}" for v in out), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog="Run from the repository with the project venv's python "
                                        "(.venv/bin/python bench/ab_matmul.py ...).")
    ap.add_argument("a", help="libqnt shared library A (e.g. a copy of main's build/lib/libqnt.so.1.0.0)")
    ap.add_argument("b", help="libqnt shared library B")
    ap.add_argument("type", help="weight format, as qnt_type_by_name spells it (q4_K, iq4_nl, ...)")
    ap.add_argument("--n", type=int, default=4096, help="W is n x n (default 4096)")
    ap.add_argument("--cols", type=int, default=1, help="columns of x (default 1: a GEMV)")
    ap.add_argument("--plain", action="store_true", help="qnt_matmul on the rows as given (default: prepared)")
    ap.add_argument("--cold", action="store_true",
                    help="evict the caches before each timed run (weights from memory)")
    ap.add_argument("--backend", default="",
                    help="backend of the context (default: the best SIMD CPU backend that runs here, as bench_matmul.py)")
    ap.add_argument("--threads", type=int, default=1,
                    help="threads of the context (default 1; more: wall-clock time, workers not pinned)")
    ap.add_argument("--rounds", type=int, default=10, help="alternating rounds (default 10)")
    ap.add_argument("--per-round", type=int, default=5, help="timed runs per library per round (default 5)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.n <= 0 or args.cols <= 0 or args.rounds <= 0 or args.per_round <= 0 or args.threads <= 0:
        ap.error("--n, --cols, --threads, --rounds and --per-round must be positive")
    if args.worker:
        worker(args.a, args.type, args.n, args.cols, args.backend, args.plain, args.cold, args.threads)
        return 0
    flags = [f"--n={args.n}", f"--cols={args.cols}", f"--backend={args.backend}", f"--threads={args.threads}"]
    flags += ["--plain"] * args.plain + ["--cold"] * args.cold
    procs = [subprocess.Popen([sys.executable, __file__, lib, lib, args.type, "--worker"] + flags,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for lib in (args.a, args.b)]
    times = [[], []]
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [0]
    try:
        for r in range(args.rounds):
            # both libraries' runs of a round on the same CPU, the CPU changing every two rounds, so
            # that each CPU sees both orders (unpinned, the worker started first read up to 5%
            # slower in runs of one library against itself on this project's 2-core VM)
            cpu = cpus[(r // 2) % len(cpus)]
            for i in ((0, 1) if r % 2 == 0 else (1, 0)):
                procs[i].stdin.write(f"{args.per_round} {cpu}\n")
                procs[i].stdin.flush()
                line = procs[i].stdout.readline()
                if not line:
                    print(f"ab_matmul: the worker for {(args.a, args.b)[i]} stopped", file=sys.stderr)
                    return 1
                times[i] += [float(v) for v in line.split()]
    finally:
        for p in procs:
            p.stdin.close()
            p.wait()
    ma, mb = statistics.median(times[0]), statistics.median(times[1])
    kind = ("plain" if args.plain else "prepared") + (", from memory" if args.cold else ", in cache")
    kind += f", {args.threads} threads (wall-clock)" if args.threads > 1 else ""
    print(f"{args.type} {args.n} x {args.n}, {args.cols} column(s), {kind}: A {ma * 1e3:.3f} ms, "
          f"B {mb * 1e3:.3f} ms, A/B {ma / mb:.3f} (> 1: B faster; medians of {len(times[0])} runs each)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
