# SPDX-License-Identifier: MIT
"""Quality regression table: the quantization error of every format, on fixed
data, against the committed table tests/ref/quality_table.json.

For every format of the registry that qnt_quantize() can produce, except the
activation formats (QNT_TYPE_FLAG_ACTIVATION: q8_1, q8_K) and the MLX dtype
variants (the registry names ending in ":f16" or ":f32"; the canonical MLX
names, with bf16 scales, are measured), it quantizes two fixed tensors and
dequantizes them back:

  - "gauss":    approximately N(0,1): (sum of 12 uniforms) - 6 (Irwin-Hall),
  - "student3": Student-t with 3 degrees of freedom, Z / sqrt((A^2 + B^2 +
                C^2) / 3) from four such normals, a heavy-tailed stand-in for
                LLM weights,

each ROWS x 4096 (ROWS = 64 unless ROWS_OVERRIDE names fewer for a slow
quantizer), built from a PCG64 stream of raw 32-bit integers with exact
float64 arithmetic and one final rounding to float32, so they are the same
on every machine and numpy version (a sha256 of the data is stored in the
table and checked). It records per format and data set

  rmse     sqrt(sum (x - x^)^2 / sum x^2), quantized without importance,
  rmse_imp sqrt(sum w (x - x^)^2 / sum w x^2), quantized with importance w,
           a fixed log-normal vector (w = exp(z), z from the same stream);
           for formats that ignore importance this is the weighted error of
           the no-importance bytes.

The library is deterministic (same bytes for every thread count and
backend), so the values must match the table exactly. The test FAILS when
  - a value is worse than the table by more than a relative 1e-6,
  - a format of the registry (as selected above) has no row in the table:
    a new format must add its row (run --update and commit the table),
  - the table has a row for a format the registry does not have, or was made
    from other data (different sha256, rows or columns).
Every difference from the table, better or worse, is printed; a better
value passes but says that the table should be updated.

Updating the table:

    QNT_LIB=build/lib/libqnt.so PYTHONPATH=tests/ref \\
        .venv/bin/python tests/ref/test_quality.py --update

rewrites tests/ref/quality_table.json from the library under test. A commit
that changes the table must say why in its message: which formats got worse
or better and the change that did it (a new format only adds rows). Making a
value worse needs a justification (e.g. a format change for ggml
bit-exactness), not just a refreshed table.

Exit status: 0 pass, 1 fail.
"""
import argparse
import hashlib
import json
import math
import os
import sys
import time

import numpy as np

import qntlib

HERE = os.path.dirname(os.path.abspath(__file__))
TABLE = os.path.join(HERE, "quality_table.json")

COLS = 4096
ROWS = 64
# Formats whose quantizer is too slow for ROWS rows in the time budget
# (about 60 s on 2 cores for the whole test): name -> rows. Empty now: the
# slowest (iq2_xs) takes about 0.6 s for 64 x 4096 on one core.
ROWS_OVERRIDE = {}
SEED = 0x71756c74  # "qult"
REL_EPS = 1e-6
DATASETS = ("gauss", "student3")
F32, F64 = np.float32, np.float64


# ---------------------------------------------------------------------------
# Fixed data, the same on every machine: PCG64's raw stream is stable across
# numpy versions (unlike Generator.standard_normal), and sums, products,
# quotients and square roots in float64 are correctly rounded everywhere.

class Stream:
    def __init__(self, seed):
        self.bg = np.random.PCG64(seed)

    def uniform32(self, n):
        """n uniforms k / 2^32, k a 32-bit integer: exact in float64."""
        raw = self.bg.random_raw((n + 1) // 2).astype(np.uint64)
        k = np.empty(2 * raw.size, dtype=np.uint64)
        k[0::2] = raw & np.uint64(0xFFFFFFFF)
        k[1::2] = raw >> np.uint64(32)
        return k[:n].astype(F64) * 2.0 ** -32

    def normal(self, n):
        """Irwin-Hall: the sum of 12 uniforms minus 6 (mean 0, variance 1),
        exact in float64 (every partial sum has at most 36 significant bits)."""
        u = self.uniform32(12 * n).reshape(n, 12)
        s = np.zeros(n, dtype=F64)
        for k in range(12):
            s = s + u[:, k]
        return s - 6.0


def make_data(rows):
    st = Stream(SEED)
    n = rows * COLS
    gauss = st.normal(n).reshape(rows, COLS).astype(F32)
    z, a, b, c = st.normal(n), st.normal(n), st.normal(n), st.normal(n)
    chi2 = a * a + b * b + c * c
    student = (z / np.sqrt(chi2 / 3.0)).reshape(rows, COLS).astype(F32)
    # log-normal importance: exp is not correctly rounded everywhere, but an
    # error of an ulp of float64 survives the rounding to float32 with odds
    # of about 2^-29 per value; the sha256 below catches it if it happens
    w = np.exp(Stream(SEED + 1).normal(COLS)).astype(F32)
    return {"gauss": gauss, "student3": student}, w


def data_sha256(data, w):
    h = hashlib.sha256()
    for name in DATASETS:
        h.update(np.ascontiguousarray(data[name]).tobytes())
    h.update(w.tobytes())
    return h.hexdigest()


# ---------------------------------------------------------------------------

def formats():
    """The formats the table covers: quantizable, not activation formats, not
    the MLX dtype variants. Returns a list of type_info dicts."""
    out = []
    for t in qntlib.registry():
        if not t["flags"] & qntlib.TYPE_FLAG_QUANTIZE or t["flags"] & qntlib.TYPE_FLAG_ACTIVATION:
            continue
        if t["name"].startswith("mlx:") and (t["name"].endswith(":f16") or t["name"].endswith(":f32")):
            continue
        out.append(t)
    return out


def rel_rmse(x, y, w=None):
    """Relative RMSE (importance-weighted with w), with correctly rounded
    sums (math.fsum) so that the value does not depend on numpy's summation
    order."""
    x = x.astype(F64)
    d = x - y.astype(F64)
    if w is None:
        return math.sqrt(math.fsum((d * d).ravel()) / math.fsum((x * x).ravel()))
    w = w.astype(F64)[None, :]
    return math.sqrt(math.fsum((w * d * d).ravel()) / math.fsum((w * x * x).ravel()))


def measure(info, data, w, ctx):
    name = info["name"]
    rows = ROWS_OVERRIDE.get(name, ROWS)
    row = {"bits_per_weight": info["bits_per_weight"], "rows": rows}
    for dname in DATASETS:
        x = data[dname][:rows]
        y = qntlib.dequantize(name, qntlib.quantize(name, x, ctx=ctx), COLS, ctx=ctx)
        yi = qntlib.dequantize(name, qntlib.quantize(name, x, w, ctx=ctx), COLS, ctx=ctx)
        row[dname] = {"rmse": rel_rmse(x, y), "rmse_imp": rel_rmse(x, yi, w)}
    return row


def dump_table(table):
    """JSON with one line per format (readable diffs); floats as repr, which
    reads back to the same double."""
    lines = ["{"]
    for k, v in table.items():
        if k != "formats":
            lines.append(f" {json.dumps(k)}: {json.dumps(v)},")
    lines.append(' "formats": {')
    items = list(table["formats"].items())
    for i, (name, row) in enumerate(items):
        lines.append(f"  {json.dumps(name)}: {json.dumps(row)}" + ("," if i + 1 < len(items) else ""))
    lines.append(" }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def run(update):
    t0 = time.time()
    data, w = make_data(max([ROWS] + list(ROWS_OVERRIDE.values())))
    sha = data_sha256(data, w)
    fmts = formats()
    print(f"{len(fmts)} formats, {ROWS} x {COLS} (fewer rows: {ROWS_OVERRIDE or 'none'}), data sha256 {sha[:16]}...")
    results = {}
    with qntlib.Context(n_threads=0) as ctx:
        for info in fmts:
            t1 = time.time()
            results[info["name"]] = measure(info, data, w, ctx)
            r = results[info["name"]]
            print(f"  {info['name']:18s} {info['bits_per_weight']:7.4f} bpw  "
                  f"gauss {r['gauss']['rmse']:.6f} / imp {r['gauss']['rmse_imp']:.6f}   "
                  f"student3 {r['student3']['rmse']:.6f} / imp {r['student3']['rmse_imp']:.6f}   "
                  f"({time.time() - t1:.1f} s)", flush=True)

    if update:
        table = {
            "_comment": "Written by tests/ref/test_quality.py --update; see its header. Relative RMSE "
                        "sqrt(sum (x-x^)^2 / sum x^2) without importance (rmse) and importance-weighted "
                        "relative RMSE with the fixed log-normal importance (rmse_imp). A commit that "
                        "changes this file must justify every changed value.",
            "cols": COLS,
            "data_sha256": sha,
            "formats": {k: results[k] for k in sorted(results, key=lambda n: qntlib.type_id(n))},
        }
        with open(TABLE + ".tmp", "w") as f:
            f.write(dump_table(table))
        os.replace(TABLE + ".tmp", TABLE)
        print(f"wrote {TABLE} ({len(results)} formats, {time.time() - t0:.1f} s)")
        return 0

    failures = []
    if not os.path.exists(TABLE):
        print(f"FAIL: {TABLE} is missing; run with --update")
        return 1
    with open(TABLE) as f:
        table = json.load(f)
    if table.get("cols") != COLS or table.get("data_sha256") != sha:
        failures.append(f"the table was made from other data (cols {table.get('cols')}, sha256 "
                        f"{str(table.get('data_sha256'))[:16]}..., here {COLS}, {sha[:16]}...): "
                        "the data generator or numpy changed?")
    rows_t = table.get("formats", {})
    worse = better = within = same = 0
    diffs = []
    for name, r in results.items():
        t = rows_t.get(name)
        if t is None:
            failures.append(f"{name}: no row in {os.path.basename(TABLE)} (a new format must add its row: --update)")
            continue
        if t.get("rows") != r["rows"]:
            failures.append(f"{name}: table made with {t.get('rows')} rows, the test uses {r['rows']}")
            continue
        for dname in DATASETS:
            for key in ("rmse", "rmse_imp"):
                old, new = t[dname][key], r[dname][key]
                if new == old:
                    same += 1
                    continue
                rel = (new - old) / old if old else float("inf")
                diffs.append(f"  {name:18s} {dname:9s} {key:8s} table {old:.9g}  now {new:.9g}  ({rel:+.3e})")
                if new < old:
                    better += 1
                elif new <= old * (1 + REL_EPS):
                    within += 1
                else:
                    worse += 1
                    failures.append(f"{name} {dname} {key}: {new:.9g} is worse than the table's {old:.9g} "
                                    f"(relative {rel:+.3e})")
    for name in rows_t:
        if name not in results:
            failures.append(f"{name}: row in the table but not a format the registry covers (stale row?)")
    if diffs:
        print("differences from the table:")
        print("\n".join(diffs))
    print(f"{len(results)} formats x {len(DATASETS)} data sets x 2 values: {same} equal to the table, "
          f"{better} better, {within} worse within {REL_EPS:g} (relative), {worse} worse")
    if better and not worse:
        print("NOTE: some values are better than the table: update it (--update) and say why in the commit")
    for m in failures:
        print("FAIL: " + m)
    print(f"{len(failures)} failure(s), {time.time() - t0:.1f} s")
    return 1 if failures else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--update", action="store_true", help=f"rewrite {os.path.relpath(TABLE)} (justify it in the commit)")
    a = ap.parse_args()
    return run(a.update)


if __name__ == "__main__":
    sys.exit(main())
