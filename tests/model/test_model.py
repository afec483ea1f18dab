# SPDX-License-Identifier: MIT
"""Whole models through the qnt tool, checked against the gguf package:
qnt quantize (recipe and --type, GGUF and safetensors input), the quality
report, determinism across thread counts, qnt inspect, qnt dequantize,
qnt compare, qnt verify, and clean errors that leave no output.

Run by meson: argv[1] is the qnt executable. Exits 77 (skip) without numpy
and gguf, unless QNT_REQUIRE_REFERENCE=1."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

QNT = sys.argv[1]
HERE = os.path.dirname(os.path.abspath(__file__))
MAKE_TINY = os.path.join(HERE, "..", "data", "make_tiny_llama.py")

try:
    import numpy as np
    import gguf
    from gguf.quants import dequantize as gguf_dequantize, quantize as gguf_quantize
except ImportError as e:
    if os.environ.get("QNT_REQUIRE_REFERENCE") == "1":
        print(f"reference packages missing: {e}")
        sys.exit(1)
    print(f"SKIP: {e}")
    sys.exit(77)

failures = 0
checks = 0


def check(cond, what):
    global failures, checks
    checks += 1
    if not cond:
        failures += 1
        print(f"FAIL: {what}", flush=True)


def qnt(*args, env=None):
    e = dict(os.environ)
    e.pop("QNT_BACKEND", None)
    e.pop("QNT_NUM_THREADS", None)
    e.update(env or {})
    return subprocess.run([QNT, *args], capture_output=True, text=True, env=e, timeout=600)


def tensors_of(path):
    r = gguf.GGUFReader(path)
    return r, {t.name: t for t in r.tensors}


def as_f32(t):
    """A reader tensor as float32 in numpy order, via gguf-py's own dequantize."""
    shape = tuple(int(x) for x in reversed(t.shape))
    if t.tensor_type == gguf.GGMLQuantizationType.F32:
        return np.asarray(t.data, dtype=np.float32).reshape(shape)
    return gguf_dequantize(np.asarray(t.data), t.tensor_type).astype(np.float32).reshape(shape)


def metrics(x, y):
    x = x.astype(np.float64).ravel()
    y = y.astype(np.float64).ravel()
    d = x - y
    rel = float(np.sqrt((d * d).sum() / (x * x).sum())) if (x * x).sum() > 0 else 0.0
    cos = float((x * y).sum() / np.sqrt((x * x).sum() * (y * y).sum())) if (x * x).sum() > 0 else 1.0
    return rel, float(np.abs(d).max()), cos


def close(a, b, rtol=1e-5, atol=1e-12):
    return abs(a - b) <= atol + rtol * abs(b)


tmp = tempfile.mkdtemp(prefix="qnt-model-")
try:
    src = os.path.join(tmp, "tiny.gguf")
    r = subprocess.run([sys.executable, MAKE_TINY, src, "--layers", "4", "--dim", "256", "--ff", "512",
                        "--vocab", "512", "--heads", "4", "--kv-heads", "2", "--dtype", "f32", "--seed", "7"],
                       capture_output=True, text=True)
    check(r.returncode == 0, f"make_tiny_llama: {r.stderr.strip()}")
    src_reader, src_t = tensors_of(src)

    # ---- recipe Q4_K_M, report, determinism ----
    out1, out2 = os.path.join(tmp, "q1.gguf"), os.path.join(tmp, "q2.gguf")
    rep_path = os.path.join(tmp, "report.json")
    r1 = qnt("quantize", "--recipe", "Q4_K_M", "--threads", "1", "--report", rep_path, src, out1)
    check(r1.returncode == 0, f"quantize Q4_K_M exit 0: {r1.stderr.strip()}")
    check("tensors" in r1.stdout and "bits per weight" in r1.stdout, "quantize prints the report table")
    r2 = qnt("quantize", "--recipe", "q4_k_m", "--threads", "2", "--quiet", src, out2)
    check(r2.returncode == 0 and r2.stdout == "", "quantize --quiet prints nothing")
    check(open(out1, "rb").read() == open(out2, "rb").read(), "same bytes with 1 and 2 threads")

    rep = json.load(open(rep_path))
    by_name = {e["name"]: e for e in rep["tensors"]}
    q_reader, q_t = tensors_of(out1)
    check(set(q_t) == set(src_t), "the output has the source's tensors")
    check(len(rep["tensors"]) == len(src_t), "one report entry per tensor")
    for name, t in q_t.items():
        e = by_name.get(name)
        s = src_t[name]
        check(list(t.shape) == list(s.shape), f"{name}: shape kept")
        tname = gguf.GGMLQuantizationType(t.tensor_type).name.lower()
        check(e is not None and e["dtype"].lower() == tname, f"{name}: report type {e and e['dtype']} == file {tname}")
        x, y = as_f32(s), as_f32(t)
        rel, mx, cos = metrics(x, y)
        check(close(e["rel_rmse"], rel, 1e-4, 1e-9), f"{name}: report rel_rmse {e['rel_rmse']} == numpy {rel}")
        check(close(e["max_abs_err"], mx, 1e-5, 1e-9), f"{name}: report max_abs_err {e['max_abs_err']} == numpy {mx}")
        check(close(e["cosine"], cos, 1e-6, 1e-9), f"{name}: report cosine == numpy")
        check(e["bytes"] == t.n_bytes, f"{name}: report bytes == file bytes")
        if len(s.shape) == 1 or s.shape[1] == 1:
            check(t.tensor_type == gguf.GGMLQuantizationType.F32, f"{name}: 1-D stays f32")
    kv = {f.name: f for f in q_reader.fields.values()}
    ft = kv.get("general.file_type")
    check(ft is not None and int(ft.parts[ft.data[0]][0]) == 15, "general.file_type = 15 (MOSTLY_Q4_K_M)")
    qv = kv.get("general.quantization_version")
    check(qv is not None and int(qv.parts[qv.data[0]][0]) == 2, "general.quantization_version = 2")
    for f in src_reader.fields.values():
        if f.name.startswith("GGUF.") or f.name in ("general.file_type",):
            continue
        g = kv.get(f.name)
        check(g is not None and g.types == f.types and
              all(np.array_equal(g.parts[a], f.parts[b]) for a, b in zip(g.data, f.data)),
              f"metadata {f.name} carried over")
    check("qnt.xxh3_64" in kv, "checksums recorded")

    # ---- verify ----
    r = qnt("verify", out1)
    check(r.returncode == 0 and "0 mismatched" in r.stdout, f"verify ok: {r.stdout.strip()} {r.stderr.strip()}")
    bad = os.path.join(tmp, "bad.gguf")
    shutil.copy(out1, bad)
    victim = q_t["blk.1.ffn_down.weight"]
    with open(bad, "r+b") as fh:
        fh.seek(int(victim.data_offset) + 17)
        b = fh.read(1)
        fh.seek(int(victim.data_offset) + 17)
        fh.write(bytes([b[0] ^ 0x40]))
    r = qnt("verify", bad)
    check(r.returncode == 1 and "blk.1.ffn_down.weight" in r.stdout, f"verify names the corrupted tensor: {r.stdout}")
    r = qnt("verify", "--json", bad)
    j = json.loads(r.stdout)
    check(r.returncode == 1 and j["mismatch"] == 1 and
          [t["name"] for t in j["tensors"] if t["status"] == "mismatch"] == ["blk.1.ffn_down.weight"], "verify --json")
    r = qnt("verify", src)
    check(r.returncode == 1 and "no checksums" in r.stderr, "verify of a file without checksums fails clearly")

    # ---- inspect ----
    r = qnt("inspect", "--json", out1)
    check(r.returncode == 0, "inspect --json exit 0")
    ins = json.loads(r.stdout)
    check(ins["format"] == "gguf" and ins["n_tensors"] == len(q_t), "inspect: format and count")
    for e in ins["tensors"]:
        t = q_t[e["name"]]
        check(e["shape"] == [int(x) for x in reversed(t.shape)], f"inspect {e['name']}: shape (outermost first)")
        check(e["type"].lower() == gguf.GGMLQuantizationType(t.tensor_type).name.lower(), f"inspect {e['name']}: type")
        check(e["bytes"] == t.n_bytes, f"inspect {e['name']}: bytes")
    check(ins["metadata"]["general.architecture"] == "llama", "inspect: metadata")
    r = qnt("inspect", out1)
    check(r.returncode == 0 and "blk.0.attn_q.weight" in r.stdout and "q4_K" in r.stdout, "inspect table")

    # ---- dequantize: bit-exact with gguf-py's dequantize ----
    deq = os.path.join(tmp, "deq.gguf")
    r = qnt("dequantize", "--quiet", out1, deq)
    check(r.returncode == 0, f"dequantize exit 0: {r.stderr.strip()}")
    _, d_t = tensors_of(deq)
    for name, t in q_t.items():
        d = d_t[name]
        check(d.tensor_type == gguf.GGMLQuantizationType.F32, f"dequantize {name}: f32")
        check(np.array_equal(as_f32(d).view(np.uint32), as_f32(t).view(np.uint32)),
              f"dequantize {name}: bit-exact with gguf.quants.dequantize")
    deq16 = os.path.join(tmp, "deq16.gguf")
    r = qnt("dequantize", "--quiet", "--type", "f16", out1, deq16)
    _, d16 = tensors_of(deq16)
    check(r.returncode == 0 and all(t.tensor_type == gguf.GGMLQuantizationType.F16 for t in d16.values()),
          "dequantize --type f16")

    # ---- compare ----
    r = qnt("compare", "--json", src, out1)
    check(r.returncode == 0, "compare exit 0")
    cmp = {e["name"]: e for e in json.loads(r.stdout)["tensors"]}
    for name, e in by_name.items():
        check(close(cmp[name]["rel_rmse"], e["rel_rmse"], 1e-9, 1e-12), f"compare {name}: rel_rmse == report")

    # ---- --type q8_0: byte-identical with gguf-py's quantizer ----
    q8 = os.path.join(tmp, "q8.gguf")
    r = qnt("quantize", "--type", "q8_0", "--quiet", src, q8)
    check(r.returncode == 0, f"quantize --type q8_0: {r.stderr.strip()}")
    _, q8_t = tensors_of(q8)
    for name, t in q8_t.items():
        s = src_t[name]
        if len(s.shape) >= 2 and s.shape[1] > 1:
            ref = gguf_quantize(as_f32(s), gguf.GGMLQuantizationType.Q8_0)
            check(t.tensor_type == gguf.GGMLQuantizationType.Q8_0 and
                  np.asarray(t.data).tobytes() == ref.tobytes(), f"--type q8_0 {name}: bytes == gguf.quants.quantize")
        else:
            check(t.tensor_type == gguf.GGMLQuantizationType.F32, f"--type q8_0 {name}: 1-D kept")

    # ---- safetensors input ----
    try:
        from safetensors.numpy import save_file
        rng = np.random.default_rng(3)
        st_path = os.path.join(tmp, "model.safetensors")
        w = {"model.layers.0.mlp.down_proj.weight": rng.standard_normal((64, 256)).astype(np.float16),
             "model.layers.0.input_layernorm.weight": np.ones(256, dtype=np.float32),
             "model.embed_tokens.weight": rng.standard_normal((32, 256)).astype(np.float32)}
        save_file(w, st_path)
        st_out = os.path.join(tmp, "from_st.gguf")
        r = qnt("quantize", "--type", "q8_0", "--quiet", st_path, st_out)
        check(r.returncode == 0, f"safetensors -> GGUF: {r.stderr.strip()}")
        _, st_t = tensors_of(st_out)
        for name, a in w.items():
            t = st_t[name]
            if a.ndim == 2:
                ref = gguf_quantize(a.astype(np.float32), gguf.GGMLQuantizationType.Q8_0)
                check(np.asarray(t.data).tobytes() == ref.tobytes(), f"safetensors {name}: q8_0 bytes == gguf-py")
            else:
                check(np.array_equal(np.asarray(t.data), a), f"safetensors {name}: kept")
    except ImportError:
        check(os.environ.get("QNT_REQUIRE_REFERENCE") != "1", "safetensors package present")

    # ---- errors: a clear message, exit 1, nothing left behind ----
    missing_out = os.path.join(tmp, "never.gguf")
    r = qnt("quantize", "--type", "q4_0", os.path.join(tmp, "nope.gguf"), missing_out)
    check(r.returncode == 1 and r.stderr.startswith("qnt: error:") and "nope.gguf" in r.stderr
          and r.stderr.count("\n") == 1, f"missing input: one-line error: {r.stderr!r}")
    trunc = os.path.join(tmp, "trunc.gguf")
    with open(src, "rb") as fh:
        data = fh.read()
    with open(trunc, "wb") as fh:
        fh.write(data[: len(data) // 2])
    r = qnt("quantize", "--type", "q4_0", trunc, missing_out)
    check(r.returncode == 1 and "trunc.gguf" in r.stderr, f"truncated input named: {r.stderr.strip()}")
    r = qnt("quantize", "--type", "bogus", src, missing_out)
    check(r.returncode == 2 and "bogus" in r.stderr, "unknown type: exit 2")
    r = qnt("quantize", "--recipe", "NOT_A_PRESET", src, missing_out)
    check(r.returncode == 2 and "NOT_A_PRESET" in r.stderr, "unknown recipe: exit 2")
    r = qnt("quantize", "--type", "q4_0", src, os.path.join(tmp, "no", "such", "dir.gguf"))
    check(r.returncode == 1 and "dir.gguf" in r.stderr, f"output in a missing folder: {r.stderr.strip()}")
    r = qnt("quantize", "--type", "q4_0", "--max-memory", "1K", src, missing_out)
    check(r.returncode == 1 and "memory" in r.stderr, f"a limit below one row: {r.stderr.strip()}")
    check(not os.path.exists(missing_out), "no output after failures")
    check(not [f for f in os.listdir(tmp) if ".tmp" in f], "no temporary files left")
finally:
    shutil.rmtree(tmp, ignore_errors=True)

print(f"{checks - failures}/{checks} checks passed")
sys.exit(1 if failures else 0)
