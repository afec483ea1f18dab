# SPDX-License-Identifier: MIT
"""The Python bindings (bindings/python/libqnt) against the real things, in
the project venv:
1. quantize gives gguf-py's bytes for the formats gguf-py quantizes, and
   dequantize gives gguf-py's floats for every format gguf-py dequantizes
   (k-quants, i-quants included), on the default context and on explicit
   contexts of 1 and 3 threads on every usable CPU backend;
2. matmul and a prepared Matrix agree with numpy's float64 product of the
   dequantized weights (1-D and 2-D activations);
3. mlx_quantize gives mx.quantize's arrays and mlx_dequantize mx.dequantize's;
4. convert repacks q4_1 into MLX affine 4-bit exactly;
5. a safetensors model written by the safetensors package is quantized by
   quantize_model (progress called, report returned) into a GGUF that
   gguf-py's GGUFReader reads with the same tensor bytes as
   libqnt.quantize, the checksums recorded; Model reads it back as the
   dequantized floats; compare_models measures the error;
6. errors raise QntError with the status name and libqnt's message
   (a truncated GGUF names the file), and bad arguments raise before C."""
import json
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "ref"))
from qntlib import require  # noqa: E402

import libqnt  # noqa: E402

gguf = require("gguf")
from gguf import GGMLQuantizationType as GT, quants as GQ  # noqa: E402

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what)


rng = np.random.default_rng(7)
N = 512
x = (rng.standard_normal((6, N)) * rng.uniform(0.1, 3, (6, 1))).astype(np.float32)

# 1. bytes and floats against gguf-py
contexts = [("default", libqnt.Context._borrow(None))]
for b in libqnt.backends():
    if b["score"] > 0 and b["name"].startswith("cpu"):
        for nt in (1, 3):
            contexts.append((f"{b['name']}/{nt}", libqnt.Context(n_threads=nt, backend=b["name"])))
quantizable = ["q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "bf16", "tq1_0", "tq2_0", "mxfp4"]
n_q = n_dq = 0
for name, ctx in contexts:
    for t in quantizable:
        gt = GT[t.upper()]
        want = GQ.quantize(x, gt)
        got = ctx.quantize(x, t)
        check(got.shape == (6, libqnt.row_size(t, N)), f"{name} {t}: shape {got.shape}")
        check(np.array_equal(got, want.view(np.uint8).reshape(got.shape)), f"{name} {t}: bytes differ from gguf-py")
        n_q += 1
    for info in libqnt.types():
        if not info.can_dequantize or info.name.upper() not in GT.__members__ or info.block_size > N:
            continue
        gt = GT[info.name.upper()]
        if gt not in GQ._type_traits:
            continue
        q = libqnt.quantize(x, info.name) if info.can_quantize and not info.name.startswith("q8_") \
            else rng.integers(0, 256, (6, libqnt.row_size(info.name, N)), dtype=np.uint8)
        if info.name in ("q8_1", "q8_K"):
            continue
        want = GQ.dequantize(q.reshape(6, -1), gt).reshape(6, N)
        got = ctx.dequantize(q, info.name, N)
        check(np.array_equal(got.view(np.uint32), want.astype(np.float32).view(np.uint32)),
              f"{name} {info.name}: dequantized floats differ from gguf-py")
        n_dq += 1
print(f"1. {n_q} quantize and {n_dq} dequantize results equal gguf-py's on {len(contexts)} contexts")

# 2. products against numpy
w = rng.standard_normal((40, N)).astype(np.float32)
for t in ("q4_0", "q8_0", "q4_K", "q6_K", "iq4_xs", "f16"):
    q = libqnt.quantize(w, t)
    wd = libqnt.dequantize(q, t, N).astype(np.float64)
    exact = x.astype(np.float64) @ wd.T
    y = libqnt.matmul(q, t, x)
    rel = np.linalg.norm(y - exact) / np.linalg.norm(exact)
    check(y.shape == (6, 40) and rel < 1e-2, f"matmul {t}: shape {y.shape}, relative error {rel:.2e}")
    y1 = libqnt.matmul(q, t, x[2])
    check(y1.shape == (40,) and np.allclose(y1, y[2], rtol=1e-5, atol=1e-5), f"matmul {t}: 1-D x differs from column 2")
    with libqnt.Context(n_threads=2) as ctx, ctx.prepare(q, t, N) as m:
        yp = m.matmul(x)
        relp = np.linalg.norm(yp - exact) / np.linalg.norm(exact)
        check(relp < 1e-2, f"prepared {t} ({m.layout}): relative error {relp:.2e}")
print("2. matmul and prepared matrices agree with numpy")

# 3. MLX against mx.quantize / mx.dequantize
require("mlx.core")
import mlx.core as mx  # noqa: E402
for bits, gs in ((4, 64), (8, 32), (2, 128)):
    wq, s, b = libqnt.mlx_quantize(w, bits=bits, group_size=gs)
    rq, rs, rb = mx.quantize(mx.array(w), group_size=gs, bits=bits)
    check(np.array_equal(wq, np.array(rq)) and np.array_equal(s, np.array(rs)) and np.array_equal(b, np.array(rb)),
          f"mlx affine {bits}/{gs}: arrays differ from mx.quantize")
    d = libqnt.mlx_dequantize(wq, s, b, bits=bits, group_size=gs, dtype="f32")
    rd = np.array(mx.dequantize(rq, rs, rb, group_size=gs, bits=bits))
    check(np.array_equal(d, rd), f"mlx affine {bits}/{gs}: dequantized values differ from mx.dequantize")
print("3. MLX arrays equal mlx's")

# 4. exact conversion
q41 = libqnt.quantize(w, "q4_1")
mlxq, nreq = libqnt.convert(q41, "q4_1", "mlx:affine:4:32:f16", N)
check(libqnt.convert_kind("q4_1", "mlx:affine:4:32:f16") == "exact" and nreq == 0, "convert q4_1 -> mlx: not exact")
check(np.array_equal(libqnt.dequantize(mlxq, "mlx:affine:4:32:f16", N), libqnt.dequantize(q41, "q4_1", N)),
      "convert q4_1 -> mlx: values changed")
print("4. q4_1 -> mlx:affine:4:32:f16 repacked exactly")

# 5. whole models
require("safetensors")
import safetensors.numpy as st  # noqa: E402
with tempfile.TemporaryDirectory() as tmp:
    src = os.path.join(tmp, "model.safetensors")
    tensors = {"model.layers.0.mlp.up_proj.weight": rng.standard_normal((64, N)).astype(np.float32),
               "model.layers.0.input_layernorm.weight": np.ones(N, np.float32)}
    st.save_file(tensors, src, metadata={"format": "pt"})
    seen = []
    out = os.path.join(tmp, "model-q8_0.gguf")
    report = libqnt.quantize_model(src, out, "q8_0", progress=lambda d, t, n: seen.append((d, t, n)))
    check(seen and seen[-1][0] == seen[-1][1], f"progress: {seen[-1:] if seen else 'never called'}")
    names = {e["name"]: e for e in report["tensors"]}
    check(len(names) == 2, f"report: {sorted(names)}")
    reader = gguf.GGUFReader(out)
    by_name = {t.name: t for t in reader.tensors}
    up = next(t for n, t in by_name.items() if "up" in n or "ffn_up" in n)
    check(up.tensor_type == GT.Q8_0, f"gguf: {up.name} is {up.tensor_type.name}")
    want = libqnt.quantize(tensors["model.layers.0.mlp.up_proj.weight"], "q8_0")
    check(np.array_equal(np.asarray(up.data).view(np.uint8).reshape(want.shape), want),
          f"gguf: {up.name} bytes differ from libqnt.quantize")
    with libqnt.Model(out) as m:
        check(m.format == "gguf" and len(m.tensors) == 2, f"Model: {m.format}, {len(m.tensors)} tensors")
        t = m.tensor(up.name)
        check(t.type == "q8_0" and t.shape == (64, N), f"Model: {t}")
        check(np.array_equal(m.read(t), libqnt.dequantize(want, "q8_0", N)), "Model.read: not the dequantized rows")
        check(np.array_equal(m.read(t, 10, 3), libqnt.dequantize(want[10:13], "q8_0", N)), "Model.read rows 10..12")
        stored, actual = m.checksum(t)
        check(stored == actual and stored is not None, f"checksum: stored {stored}, actual {actual}")
        meta = m.metadata(max_array=4)
        check(meta.get("general.file_type") == 7, f"metadata: general.file_type {meta.get('general.file_type')}")
        try:
            m.tensor("nope")
            check(False, "Model.tensor('nope') did not raise")
        except KeyError:
            pass
    cmp = libqnt.compare_models(src, out)
    errs = [e["rel_rmse"] for e in cmp["tensors"] if e.get("rel_rmse") is not None]
    check(errs and max(errs) < 0.01, f"compare_models: relative RMSE {errs}")
    print(f"5. model quantized ({len(seen)} progress calls), read by gguf-py and by Model, compared (rmse {max(errs):.2e})")

    # 6. errors
    bad = os.path.join(tmp, "bad.gguf")
    with open(out, "rb") as f:
        data = f.read()
    with open(bad, "wb") as f:
        f.write(data[:100])
    try:
        libqnt.Model(bad)
        check(False, "a truncated GGUF opened")
    except libqnt.QntError as e:
        check(e.name == "QNT_E_FORMAT" and "bad.gguf" in e.message, f"truncated GGUF: {e}")
for call, want_name in ((lambda: libqnt.quantize(x[:, :100], "q4_K"), "QNT_E_BAD_SHAPE"),
                        (lambda: libqnt.quantize(x, "q9_9"), "QNT_E_UNKNOWN_TYPE"),
                        (lambda: libqnt.Context(backend="no-such-backend"), "QNT_E_NOT_FOUND"),
                        (lambda: libqnt.quantize(x, "q4_0", importance=-np.ones(N, np.float32)), "QNT_E_INVALID_ARG"),
                        (lambda: libqnt.Recipe.parse('{"default": "q4_0", "bogus": 1}', "r.json"), "QNT_E_FORMAT")):
    try:
        call()
        check(False, f"no {want_name} raised")
    except libqnt.QntError as e:
        check(e.name == want_name and e.message, f"expected {want_name}, got {e}")
try:
    libqnt.matmul(libqnt.quantize(w, "q4_0"), "q4_0", np.zeros((2, 3, N), np.float32))
    check(False, "a 3-D x was accepted")
except ValueError:
    pass
print("6. errors raise QntError with status names and messages")

if failures:
    print(f"{len(failures)} failures")
    sys.exit(1)
print("PASS")
