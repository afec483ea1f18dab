# SPDX-License-Identifier: MIT
"""MLX folders through qnt quantize and qnt inspect, against mlx itself:
a Hugging Face style safetensors folder quantized with --type
mlx:affine:4:64 and the mixed_3_6 recipe gives an MLX folder whose arrays
(mx.load) are bit-identical to mx.quantize of the same bf16 weights and
whose config.json carries the quantization; the folder reads back in
libqnt (qnt inspect, qnt compare), requantizes to GGUF, and fails cleanly
where it must.

argv[1]: the qnt executable. Exits 77 without mlx / safetensors / numpy,
unless QNT_REQUIRE_REFERENCE=1."""
import json
import os
import subprocess
import sys
import tempfile

QNT = sys.argv[1]
try:
    import numpy as np
    import mlx.core as mx
    from safetensors.numpy import save_file
except ImportError as e:
    if os.environ.get("QNT_REQUIRE_REFERENCE") == "1":
        print(f"reference packages missing: {e}")
        sys.exit(1)
    print(f"SKIP: {e}")
    sys.exit(77)

failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print(f"FAIL: {what}", flush=True)


def qnt(*args):
    return subprocess.run([QNT, *args], capture_output=True, text=True, timeout=600)


def bf16_round(a):
    """float32 -> nearest-even bfloat16, as float32 (mx's astype)."""
    return np.array(mx.array(a).astype(mx.bfloat16).astype(mx.float32))


LAYERS, D, FF = 4, 128, 256
rng = np.random.default_rng(5)
weights = {"model.embed_tokens.weight": rng.standard_normal((64, D)).astype(np.float32),
           "model.norm.weight": np.ones(D, np.float32),
           "lm_head.weight": rng.standard_normal((64, D)).astype(np.float32)}
for i in range(LAYERS):
    p = f"model.layers.{i}"
    for n, shape in (("self_attn.q_proj", (D, D)), ("self_attn.k_proj", (D // 2, D)), ("self_attn.v_proj", (D // 2, D)),
                     ("self_attn.o_proj", (D, D)), ("mlp.gate_proj", (FF, D)), ("mlp.up_proj", (FF, D)),
                     ("mlp.down_proj", (D, FF))):
        weights[f"{p}.{n}.weight"] = (rng.standard_normal(shape) * 0.05).astype(np.float32)
    weights[f"{p}.input_layernorm.weight"] = np.ones(D, np.float32)
config = {"model_type": "llama", "num_hidden_layers": LAYERS, "hidden_size": D, "intermediate_size": FF,
          "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 64, "torch_dtype": "bfloat16"}

with tempfile.TemporaryDirectory(prefix="qnt-mlx-") as tmp:
    src = os.path.join(tmp, "hf")
    os.mkdir(src)
    save_file(weights, os.path.join(src, "model.safetensors"))
    with open(os.path.join(src, "config.json"), "w") as f:
        json.dump(config, f)
    with open(os.path.join(src, "tokenizer.json"), "w") as f:
        f.write('{"version": "1.0"}')

    # ---- --type mlx:affine:4:64 ----
    out = os.path.join(tmp, "mlx4")
    r = qnt("quantize", "--type", "mlx:affine:4:64", "--report", os.path.join(tmp, "r.json"), src, out)
    check(r.returncode == 0, f"quantize to an MLX folder: {r.stderr.strip()}")
    cfg = json.load(open(os.path.join(out, "config.json")))
    check(cfg.get("quantization", {}).get("bits") == 4 and cfg["quantization"].get("group_size") == 64,
          f"config.json quantization: {cfg.get('quantization')}")
    check(cfg.get("quantization_config") == cfg.get("quantization"), "quantization_config == quantization")
    check(os.path.exists(os.path.join(out, "tokenizer.json")), "tokenizer.json copied")
    arrays = {}
    for fn in sorted(os.listdir(out)):
        if fn.endswith(".safetensors"):
            arrays.update(mx.load(os.path.join(out, fn)))
    for name, w in weights.items():
        if w.ndim == 2:
            p = name[: -len(".weight")]
            # the type without a suffix is bf16: mx.quantize of the bf16 weights
            wq, sc, bi = mx.quantize(mx.array(w).astype(mx.bfloat16), group_size=64, bits=4)
            got = [arrays.get(f"{p}.weight"), arrays.get(f"{p}.scales"), arrays.get(f"{p}.biases")]
            check(all(g is not None for g in got), f"{p}: weight, scales and biases stored")
            if all(g is not None for g in got):
                check(np.array_equal(np.array(got[0]), np.array(wq)), f"{p}: codes == mx.quantize")
                check(got[1].dtype == mx.bfloat16 and np.array_equal(np.array(got[1].astype(mx.float32)),
                                                                      np.array(sc.astype(mx.float32))),
                      f"{p}: scales == mx.quantize")
                check(np.array_equal(np.array(got[2].astype(mx.float32)), np.array(bi.astype(mx.float32))),
                      f"{p}: biases == mx.quantize")
        else:
            check(np.array_equal(np.array(arrays[name]), w), f"{name}: kept as it was")
    rep = {e["name"]: e for e in json.load(open(os.path.join(tmp, "r.json")))["tensors"]}
    w = weights["model.layers.0.mlp.down_proj.weight"]
    wq, sc, bi = mx.quantize(mx.array(w).astype(mx.bfloat16), group_size=64, bits=4)
    y = np.array(mx.dequantize(wq, sc.astype(mx.float32), bi.astype(mx.float32), group_size=64, bits=4))
    rel = float(np.sqrt(((w.astype(np.float64) - y) ** 2).sum() / (w.astype(np.float64) ** 2).sum()))
    e = rep["model.layers.0.mlp.down_proj.weight"]
    check(abs(e["rel_rmse"] - rel) <= 1e-5 * rel, f"report rel_rmse {e['rel_rmse']} == mx.dequantize's {rel}")

    # ---- one .safetensors file: the same arrays as the folder's ----
    one = os.path.join(tmp, "one.safetensors")
    r = qnt("quantize", "--type", "mlx:affine:4:64", "--quiet", src, one)
    check(r.returncode == 0, f"quantize to a .safetensors file: {r.stderr.strip()}")
    if r.returncode == 0:
        a1 = mx.load(one)
        check(set(a1) == set(arrays) and all(np.array_equal(np.array(a1[k].astype(mx.float32)),
                                                            np.array(arrays[k].astype(mx.float32)))
                                             and a1[k].dtype == arrays[k].dtype for k in a1),
              "a .safetensors output holds the folder's arrays")
        r = qnt("verify", one)
        check(r.returncode == 0, f"verify of the .safetensors output: {r.stdout.strip()} {r.stderr.strip()}")

    # ---- an explicit scale dtype: f32, mx.quantize of the f32 weights ----
    out32 = os.path.join(tmp, "mlx4f32")
    r = qnt("quantize", "--type", "mlx:affine:4:64:f32", "--quiet", src, out32)
    check(r.returncode == 0, f"mlx:affine:4:64:f32: {r.stderr.strip()}")
    a32 = mx.load(os.path.join(out32, "model.safetensors")) if r.returncode == 0 else {}
    w = weights["model.layers.1.mlp.up_proj.weight"]
    wq, sc, bi = mx.quantize(mx.array(w), group_size=64, bits=4)
    p = "model.layers.1.mlp.up_proj"
    check(p + ".weight" in a32 and np.array_equal(np.array(a32[p + ".weight"]), np.array(wq)) and
          a32[p + ".scales"].dtype == mx.float32 and np.array_equal(np.array(a32[p + ".scales"]), np.array(sc)) and
          np.array_equal(np.array(a32[p + ".biases"]), np.array(bi)),
          "f32: codes, scales and biases == mx.quantize of the f32 weights")
    r = qnt("verify", out32)
    check(r.returncode == 0 and "0 mismatched" in r.stdout, f"verify of an MLX folder: {r.stdout.strip()} {r.stderr.strip()}")

    # ---- the folder reads back in libqnt ----
    r = qnt("inspect", "--json", out)
    ins = json.loads(r.stdout) if r.returncode == 0 else {}
    check(ins.get("format") == "mlx", f"inspect: an MLX folder: {r.stderr.strip()}")
    t = {x["name"]: x for x in ins.get("tensors", [])}
    q = t.get("model.layers.0.mlp.down_proj.weight", {})
    check(q.get("shape") == [D, FF] and q.get("type", "").startswith("mlx:affine:4:64"),
          f"inspect: logical shape and MLX type: {q}")
    check("model.layers.0.mlp.down_proj.scales" not in t, "inspect: scales are part of the logical tensor")
    # reading the folder back gives what MLX gives: mx.dequantize with the
    # bf16 scales (computed in bf16), not the f32 arithmetic of the report
    w = weights["model.layers.0.mlp.down_proj.weight"]
    wq, sc, bi = mx.quantize(mx.array(w).astype(mx.bfloat16), group_size=64, bits=4)
    yb = np.array(mx.dequantize(wq, sc, bi, group_size=64, bits=4, dtype=mx.float32)).astype(np.float64)
    rel_back = float(np.sqrt(((w - yb) ** 2).sum() / (w.astype(np.float64) ** 2).sum()))
    r = qnt("compare", "--json", src, out)
    cmp = {x["name"]: x for x in json.loads(r.stdout)["tensors"]} if r.returncode == 0 else {}
    got = cmp.get("model.layers.0.mlp.down_proj.weight", {}).get("rel_rmse", -1)
    check(r.returncode == 0 and abs(got - rel_back) <= 1e-5 * rel_back,
          f"compare with the folder: {got} == mx.dequantize's {rel_back} {r.stderr.strip()}")

    # ---- mixed_3_6: per-module overrides in config.json ----
    out36 = os.path.join(tmp, "mlx36")
    r = qnt("quantize", "--recipe", "mixed_3_6", "--quiet", src, out36)
    check(r.returncode == 0, f"mixed_3_6: {r.stderr.strip()}")
    if r.returncode == 0:
        cfg = json.load(open(os.path.join(out36, "config.json")))
        quant = cfg["quantization"]
        arrays = {}
        for fn in os.listdir(out36):
            if fn.endswith(".safetensors"):
                arrays.update(mx.load(os.path.join(out36, fn)))
        for name, w in weights.items():
            if w.ndim != 2:
                continue
            p = name[: -len(".weight")]
            bits = quant.get(p, {}).get("bits", quant["bits"]) if isinstance(quant.get(p), dict) else quant["bits"]
            gs = quant.get(p, {}).get("group_size", quant["group_size"]) if isinstance(quant.get(p), dict) else quant["group_size"]
            wq, sc, bi = mx.quantize(mx.array(w), group_size=gs, bits=bits)
            check(np.array_equal(np.array(arrays[f"{p}.weight"]), np.array(wq)),
                  f"mixed_3_6 {p}: codes == mx.quantize at {bits} bits per config.json")
        six = [k for k, v in quant.items() if isinstance(v, dict) and v.get("bits") == 6]
        check(any("down_proj" in k or "v_proj" in k for k in six) and quant["bits"] == 3,
              f"mixed_3_6: 3 bits, with 6-bit overrides for some down_proj/v_proj: {six}")

    # ---- MLX folder -> GGUF: requantized, reported ----
    gg = os.path.join(tmp, "from_mlx.gguf")
    r = qnt("quantize", "--type", "q8_0", "--report", os.path.join(tmp, "r2.json"), "--quiet", out, gg)
    check(r.returncode == 0, f"MLX folder -> GGUF: {r.stderr.strip()}")
    if r.returncode == 0:
        rep2 = {e["name"]: e for e in json.load(open(os.path.join(tmp, "r2.json")))["tensors"]}
        check("requantized" in rep2["model.layers.0.mlp.down_proj.weight"]["flags"], "the report says requantized")

    # ---- errors ----
    r = qnt("quantize", "--type", "q4_K", "--quiet", src, os.path.join(tmp, "bad-mlx"))
    check(r.returncode == 1 and "q4_K" in r.stderr and not os.path.exists(os.path.join(tmp, "bad-mlx")),
          f"a GGUF format into an MLX folder: clear error, nothing left: {r.stderr.strip()}")

sys.exit(1 if failures else 0)
