# SPDX-License-Identifier: MIT
"""The qnt command-line tool: --help, --json output, exit statuses, errors.
Run by meson with the path of the qnt executable as argv[1]."""
import json
import os
import subprocess
import sys

QNT = sys.argv[1]
failures = 0
checks = 0


def run(*args, env=None):
    e = dict(os.environ)
    e.pop("QNT_BACKEND", None)
    e.pop("QNT_NUM_THREADS", None)
    e.update(env or {})
    return subprocess.run([QNT, *args], capture_output=True, text=True, env=e, timeout=300)


def check(cond, what):
    global failures, checks
    checks += 1
    if not cond:
        failures += 1
        print(f"FAIL: {what}")


# help and usage
r = run("--help")
check(r.returncode == 0 and "Commands:" in r.stdout and "bench" in r.stdout, "qnt --help")
for cmd in ("info", "types", "bench", "quantize", "dequantize", "inspect", "compare", "verify", "recipes"):
    r = run(cmd, "--help")
    check(r.returncode == 0 and r.stdout.startswith(f"Usage: qnt {cmd}"), f"qnt {cmd} --help")
r = run()
check(r.returncode == 2 and "Usage" in r.stderr, "no command: exit 2 with usage")
r = run("quantize", "in.gguf", "out.gguf")
check(r.returncode == 2 and "--type" in r.stderr and "--recipe" in r.stderr, "quantize without a type or recipe: exit 2")
r = run("quantize", "--type", "q4_0", "only-one-arg")
check(r.returncode == 2 and "IN and OUT" in r.stderr, "quantize with one path: exit 2")
r = run("quantize", "--type", "q4_0", "--max-memory", "lots", "a", "b")
check(r.returncode == 2 and "--max-memory" in r.stderr, "a bad size: exit 2")
r = run("inspect", "/nonexistent/model.gguf")
check(r.returncode == 1 and r.stderr.startswith("qnt: error: /nonexistent/model.gguf"), "inspect of a missing file: exit 1, named")
r = run("recipes", "--json")
presets = json.loads(r.stdout) if r.returncode == 0 else []
check(any(p["name"] == "Q4_K_M" and p["file_type"] == 15 for p in presets), "recipes --json lists Q4_K_M (file type 15)")
r = run("recipes", "Q4_K_M")
check(r.returncode == 0 and json.loads(r.stdout).get("name", "").upper() == "Q4_K_M", "recipes Q4_K_M prints a JSON recipe")
r = run("frobnicate")
check(r.returncode == 2 and "unknown command 'frobnicate'" in r.stderr, "unknown command")
r = run("info", "--bogus")
check(r.returncode == 2 and "unknown option '--bogus'" in r.stderr, "unknown option")
r = run("--version")
check(r.returncode == 0 and r.stdout.startswith("qnt "), "--version")

# info
r = run("info", "--json")
check(r.returncode == 0, "info --json exit 0")
info = json.loads(r.stdout)
names = [b["name"] for b in info["backends"]]
check("cpu" in names, "info --json lists the cpu backend")
cpu = info["backends"][names.index("cpu")]
check(cpu["score"] == 1 and cpu["builtin"] and cpu["reference"] and cpu["path"] is None, "cpu backend fields")
check(all({"name", "score"} <= set(b) for b in info["backends"]), "every backend has name and score")
check(info["best_backend"] in names and info["default_threads"] >= 1, "best backend and threads")
check(isinstance(info["cpu_features"], list), "cpu_features is a list")
r = run("info", "--json", env={"QNT_NUM_THREADS": "3"})
check(json.loads(r.stdout)["default_threads"] == 3, "QNT_NUM_THREADS=3 reaches the default context")
r = run("info", "--json", env={"QNT_BACKEND": "nonexistent"})
j = json.loads(r.stdout)
check(j["default_backend"] is None and "nonexistent" in j["default_error"], "QNT_BACKEND=nonexistent reported")
r = run("info")
check(r.returncode == 0 and "Backends" in r.stdout and "cpu" in r.stdout, "info text")

# types
r = run("types", "--json")
types = {t["name"]: t for t in json.loads(r.stdout)}
check(types["q4_0"]["id"] == 2 and types["q4_0"]["block_size"] == 32 and types["q4_0"]["block_bytes"] == 18,
      "types --json q4_0")
check(types["bf16"]["id"] == 30 and types["q8_1"]["activation"], "types --json bf16, q8_1")
check(abs(types["q4_0"]["bits_per_weight"] - 4.5) < 1e-9, "q4_0 bits per weight")
r = run("types")
check(r.returncode == 0 and "q5_1" in r.stdout, "types text")

# bench
r = run("bench", "--json", "-t", "q4_0,q8_0", "-r", "16", "-c", "256", "--reps", "1", "-n", "2",
        "--matmul-n", "256", "--gemm-cols", "8", "--bandwidth-mb", "64")
check(r.returncode == 0, f"bench --json exit 0 ({r.stderr.strip()})")
b = json.loads(r.stdout)
res = {e["type"]: e for e in b["results"]}
check(set(res) == {"q4_0", "q8_0"} and b["threads"] == 2, "bench ran the two types on 2 threads")
check(0.05 < res["q4_0"]["rel_rmse"] < 0.15 and res["q8_0"]["rel_rmse"] < 0.01, "bench errors plausible")
check(res["q4_0"]["rel_rmse_search"] <= res["q4_0"]["rel_rmse"], "search no worse than round-to-nearest")
check(res["q4_0"]["quantize_mbs"] > 0 and res["q4_0"]["dequantize_mbs"] > 0, "bench throughput")


def positive(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0


check(b["matmul_n"] == 256 and b["gemm_cols"] == 8 and b["read_bandwidth_bytes"] == 64 << 20,
      "bench product sizes in the JSON")
check(positive(b["read_bandwidth_gbs"]), f"bench read bandwidth {b.get('read_bandwidth_gbs')}")
for t in ("q4_0", "q8_0"):
    e = res[t]
    keys = ("gemv_gbs", "gemv_ns_per_row", "gemv_prepared_gbs", "gemm_gflops")
    check(all(positive(e.get(k)) for k in keys),
          f"bench {t} GEMV/GEMM figures positive: {[e.get(k) for k in keys]}")
    # the prepared matrix is in the backend's layout or kept as plain rows
    check(e.get("prepared_layout") in (b["backend"], "plain"),
          f"bench {t} prepared layout {e.get('prepared_layout')!r} (backend {b['backend']})")
    # GB/s and ns per row describe the same time: bytes of a row / ns per row
    row_bytes = 256 // 32 * (18 if t == "q4_0" else 34)
    check(abs(row_bytes / e["gemv_ns_per_row"] - e["gemv_gbs"]) < 1e-6 * e["gemv_gbs"] + 1e-9,
          f"bench {t} GEMV GB/s consistent with ns per row")
r = run("bench", "-t", "q4_0", "--matmul-n", "x")
check(r.returncode == 2 and "--matmul-n" in r.stderr, "bench bad --matmul-n")
r = run("bench", "-q", "-t", "q4_0,q8_0", "-r", "8", "-c", "64", "--reps", "1", "--matmul-n", "128",
        "--gemm-cols", "0", "--bandwidth-mb", "64")
check(r.returncode == 0 and "GEMV GB/s" in r.stdout and "PREP GB/s" in r.stdout and "Read bandwidth" in r.stdout,
      "bench products text")
r = run("bench", "-t", "nope")
check(r.returncode == 2 and "unknown format 'nope'" in r.stderr, "bench unknown format")
r = run("bench", "-t", "q4_0", "-c", "100")
check(r.returncode == 2 and "not a multiple" in r.stderr, "bench bad column count")
r = run("bench", "-t", "q4_0", "-r", "-3")
check(r.returncode == 2 and "--rows" in r.stderr, "bench bad rows")
r = run("bench", "-q", "-t", "q4_0", "-r", "8", "-c", "64", "--reps", "1", "--matmul-n", "0")
check(r.returncode == 0 and "q4_0" in r.stdout and r.stderr == "" and "GEMV" not in r.stdout, "bench quiet text")

print(f"{checks - failures} passed, {failures} failed")
sys.exit(1 if failures else 0)
