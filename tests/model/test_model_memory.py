# SPDX-License-Identifier: MIT
"""Bounded memory: qnt quantize streams a generated 2 GiB model with
--max-memory 192M and its peak resident set (getrusage of the child, which
counts the mapped pages of the source it touched) stays under the limit;
a run killed with SIGKILL half-way leaves no output and no temporary file.

Run by meson: argv[1] is the qnt executable, argv[2] a scratch folder.
Needs numpy and gguf (exit 77 without them unless QNT_REQUIRE_REFERENCE=1)."""
import os
import shutil
import signal
import subprocess
import sys
import time

QNT = sys.argv[1]
SCRATCH = sys.argv[2]
try:
    import numpy as np
    import gguf
except ImportError as e:
    if os.environ.get("QNT_REQUIRE_REFERENCE") == "1":
        print(f"reference packages missing: {e}")
        sys.exit(1)
    print(f"SKIP: {e}")
    sys.exit(77)

ROWS, COLS, N_TENSORS = 4096, 6144, 22  # 22 x 96 MiB of f32 = 2.06 GiB
LIMIT = 192 << 20

failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print(f"FAIL: {what}", flush=True)
    else:
        print(f"ok: {what}", flush=True)


shutil.rmtree(SCRATCH, ignore_errors=True)
os.makedirs(SCRATCH)
try:
    src = os.path.join(SCRATCH, "big.gguf")
    w = gguf.GGUFWriter(src, "llama")
    for i in range(N_TENSORS):
        w.add_tensor_info(f"blk.{i}.ffn_up.weight", (ROWS, COLS), np.dtype(np.float32), ROWS * COLS * 4)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    rng = np.random.default_rng(1)
    for i in range(N_TENSORS):
        w.write_tensor_data(rng.standard_normal((ROWS, COLS), dtype=np.float32))
    w.close()
    size = os.path.getsize(src)
    print(f"generated {size / 2**30:.2f} GiB")

    out = os.path.join(SCRATCH, "big-q8_0.gguf")
    t0 = time.monotonic()
    p = subprocess.Popen([QNT, "quantize", "--type", "q8_0", "--threads", "2", "--max-memory", "192M",
                          "--quiet", src, out], stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    err = p.stderr.read().decode()
    p.stderr.close()
    took = time.monotonic() - t0
    peak = ru.ru_maxrss * 1024
    print(f"quantized {size / 2**30:.2f} GiB in {took:.1f} s, peak RSS {peak / 2**20:.1f} MiB "
          f"(limit {LIMIT / 2**20:.0f} MiB)")
    check(os.waitstatus_to_exitcode(status) == 0, f"quantize exit 0 {err.strip()}")
    check(peak < LIMIT, f"peak RSS {peak / 2**20:.1f} MiB < --max-memory 192M for a {size / 2**30:.2f} GiB model")
    r = gguf.GGUFReader(out)
    check(len(r.tensors) == N_TENSORS and all(t.tensor_type == gguf.GGMLQuantizationType.Q8_0 for t in r.tensors),
          "every tensor written as q8_0")
    q0 = np.asarray(r.tensors[0].data).tobytes()
    ref = gguf.quants.quantize(np.asarray(gguf.GGUFReader(src).tensors[0].data), gguf.GGMLQuantizationType.Q8_0)
    check(q0 == ref.tobytes(), "first tensor's bytes equal gguf.quants.quantize")
    del r

    # killed half-way: nothing at the destination, no temporary file
    out2 = os.path.join(SCRATCH, "killed.gguf")
    p = subprocess.Popen([QNT, "quantize", "--type", "q4_K", "--threads", "1", "--quiet", src, out2])
    time.sleep(1.5)
    still_running = p.poll() is None
    p.send_signal(signal.SIGKILL)
    p.wait()
    check(still_running, "the run was still going when killed")
    left = [f for f in os.listdir(SCRATCH) if f not in ("big.gguf", "big-q8_0.gguf")]
    check(not os.path.exists(out2) and not left, f"nothing left after SIGKILL: {left}")
finally:
    shutil.rmtree(SCRATCH, ignore_errors=True)

sys.exit(1 if failures else 0)
