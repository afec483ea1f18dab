#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Instructions that libqnt's quantizers execute, counted by valgrind: a
figure for speed work on the quantizers that does not move with the host's
load (timings on a shared machine move by 10-30% from run to run).

For each library, format and data set, one process quantizes ROWS x 4096
values (numpy's default_rng(SEED): Gaussian, or Student-t with 3 degrees of
freedom) with a log-normal importance vector exp(N(0, 1)) (or none, with
--no-importance) through the Python binding on one thread, under
`valgrind --tool=callgrind`; the figure is the inclusive instruction count
of the format's quantizer (the function quant_<format> of the library, as
callgrind_annotate --inclusive=yes names it). Instructions are not time
(vector and scalar instructions cost differently), but two builds of the
same code path compare well by them.

    .venv/bin/python bench/quant_instructions.py --lib /tmp/old.so \\
        --lib build/lib/libqnt.so.1.0.0 --types q4_K,q6_K [--dist student]

Each figure takes about 10 s (valgrind runs the Python interpreter too).
Needs valgrind (Debian: apt-get install valgrind).
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

CHILD = """
import numpy as np, libqnt
r = np.random.default_rng({seed})
x = (r.standard_normal(({rows}, 4096)) if {dist!r} == "gaussian" else r.standard_t(3, ({rows}, 4096)))
x = x.astype(np.float32)
w = np.exp(r.standard_normal(4096)).astype(np.float32) if {imp} else None
libqnt.Context(n_threads=1).quantize(x, {fmt!r}, importance=w)
"""


def count(lib, fmt, dist, rows, seed, imp):
    """Inclusive instructions of quant_<fmt> in one quantize call."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "callgrind.out")
        env = dict(os.environ, QNT_LIB=os.path.abspath(lib),
                   PYTHONPATH=os.path.join(ROOT, "bindings", "python"))
        code = CHILD.format(seed=seed, rows=rows, dist=dist, imp=imp, fmt=fmt)
        run = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                              sys.executable, "-c", code], env=env, capture_output=True, text=True)
        if run.returncode != 0:
            sys.exit(f"quant_instructions: {lib} {fmt}: valgrind failed:\n{run.stderr[-2000:]}")
        ann = subprocess.run(["callgrind_annotate", "--inclusive=yes", "--threshold=100", out],
                             capture_output=True, text=True).stdout
    name = "quant_" + fmt.replace(":", "_")
    pat = re.compile(r"^\s*([\d,]+)\s.*:" + re.escape(name) + r"(\.[\w.]+)? \[")
    for line in ann.splitlines():
        m = pat.match(line)
        if m:
            return int(m.group(1).replace(",", ""))
    sys.exit(f"quant_instructions: {lib}: no function {name} in the profile "
             "(a format whose quantizer has another name, or a build without symbols)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lib", action="append", required=True,
                    help="libqnt shared object (repeat to compare; ratios are against the first)")
    ap.add_argument("--types", default="q2_K,q3_K,q4_K,q5_K,q6_K", help="comma-separated formats")
    ap.add_argument("--dist", choices=["gaussian", "student"], action="append",
                    help="data (repeatable; default gaussian)")
    ap.add_argument("--rows", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-importance", action="store_true", help="quantize without importance")
    args = ap.parse_args()
    for tool in ("valgrind", "callgrind_annotate"):
        if shutil.which(tool) is None:
            sys.exit(f"quant_instructions: {tool} not found (Debian: apt-get install valgrind)")
    dists = args.dist or ["gaussian"]
    print(f"instructions of quant_<format>, one quantize of {args.rows} x 4096 rows "
          f"({'no importance' if args.no_importance else 'log-normal importance'}), one thread")
    for i, lib in enumerate(args.lib):
        print(f"  [{i}] {lib}")
    head = f"{'format':<10} {'data':<9}" + "".join(f" {'[' + str(i) + ']':>14}" for i in range(len(args.lib)))
    if len(args.lib) > 1:
        head += "".join(f" {'[0]/[' + str(i) + ']':>8}" for i in range(1, len(args.lib)))
    print(head)
    for fmt in args.types.split(","):
        for dist in dists:
            n = [count(lib, fmt, dist, args.rows, args.seed, not args.no_importance) for lib in args.lib]
            line = f"{fmt:<10} {dist:<9}" + "".join(f" {v:>14,}" for v in n)
            line += "".join(f" {n[0] / v:>8.3f}" for v in n[1:])
            print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
