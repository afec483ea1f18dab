# SPDX-License-Identifier: MIT
"""Legacy formats with importance weights against ggml's imatrix path.

For q4_0, q4_1, q5_0 and q5_1 ggml's quantize_* with quant_weights runs a
weighted scale search; q8_0 ignores the weights. libqnt's importance path
starts from ggml's blocks (both the round-to-nearest one and the imatrix
one) and only replaces them when its own search finds a lower weighted
error, so for every row its weighted squared error must be <= ggml's.
Without importance the bytes must equal ggml's."""
import sys

import numpy as np

import ggmllib
import qntlib

FORMATS = {"q4_0": 2, "q4_1": 3, "q5_0": 6, "q5_1": 7, "q8_0": 8}
ggmllib.GGML_TYPE.update(FORMATS)  # the legacy types are plain ggml types
g = ggmllib.Ggml()
failures = 0


def fail(msg):
    global failures
    failures += 1
    print("FAIL:", msg)


rng = np.random.default_rng(20261123)
for dist in ("gaussian", "student-t(3)"):
    shape = (48, 2048)
    x = (rng.standard_normal(shape) if dist == "gaussian" else rng.standard_t(3, shape)).astype(np.float32)
    for imp_kind in ("log-normal", "activation^2"):
        if imp_kind == "log-normal":
            w = np.exp(rng.standard_normal(shape[1])).astype(np.float32)
        else:
            w = (rng.standard_normal((64, shape[1])) ** 2).mean(0).astype(np.float32)
        for name in FORMATS:
            qg = g.quantize(name, x)
            qq = qntlib.quantize(name, x)
            if not np.array_equal(qg, qq):
                fail(f"{name} {dist}: bytes without importance differ from ggml's")
            yq = qntlib.dequantize(name, qntlib.quantize(name, x, w), shape[1]).astype(np.float64)
            yg = g.dequantize(name, g.quantize(name, x, w), shape[1]).astype(np.float64)
            eq = (w * (x - yq) ** 2).sum(1)
            eg = (w * (x - yg) ** 2).sum(1)
            worse = int((eq > eg * (1 + 1e-12)).sum())
            print(f"{name:5s} {dist:13s} {imp_kind:12s} weighted error libqnt/ggml {eq.sum() / eg.sum():.4f}, "
                  f"rows worse {worse}/{shape[0]}")
            if worse:
                fail(f"{name} {dist} {imp_kind}: {worse} rows with a higher weighted error than ggml's imatrix path")

print(f"{0 if failures else 1} passed, {failures} failed")
sys.exit(1 if failures else 0)
