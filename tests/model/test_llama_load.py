# SPDX-License-Identifier: MIT
"""llama.cpp itself (llama-cpp-python) loads models that qnt quantize wrote
and evaluates a prompt: a tiny llama-architecture GGUF with random weights
(tests/data/make_tiny_llama.py), f32 and f16 sources, with the Q4_K_M,
Q8_0 and IQ4_XS recipes and --type q4_0; the logits are finite and close
to those of the unquantized model (cosine similarity of the last token's
logits), and llama.cpp's own quantization of the same file scores no
better than ours.

argv[1]: the qnt executable. Exits 77 without llama_cpp, unless
QNT_REQUIRE_INTEROP=1."""
import os
import subprocess
import sys
import tempfile

QNT = sys.argv[1]
HERE = os.path.dirname(os.path.abspath(__file__))
MAKE_TINY = os.path.join(HERE, "..", "data", "make_tiny_llama.py")
try:
    import numpy as np
    import llama_cpp
except ImportError as e:
    if os.environ.get("QNT_REQUIRE_INTEROP") == "1":
        print(f"llama-cpp-python missing: {e}")
        sys.exit(1)
    print(f"SKIP: {e}")
    sys.exit(77)

failures = 0


def check(cond, what):
    global failures
    print(("ok: " if cond else "FAIL: ") + what, flush=True)
    if not cond:
        failures += 1


PROMPT = [1, 5, 17, 99, 200, 31, 7, 250]


def logits(path):
    llm = llama_cpp.Llama(model_path=path, n_ctx=64, n_batch=16, n_threads=2, logits_all=True, verbose=False)
    llm.eval(PROMPT)
    out = np.array(llm.scores[len(PROMPT) - 1], dtype=np.float64)
    llm.close()
    return out


def cos(a, b):
    return float(a @ b / np.sqrt((a @ a) * (b @ b)))


def llama_quantize(src, dst, ftype):
    p = llama_cpp.llama_model_quantize_default_params()
    p.ftype = ftype
    p.nthread = 2
    rc = llama_cpp.llama_model_quantize(src.encode(), dst.encode(), p)
    return rc == 0


with tempfile.TemporaryDirectory(prefix="qnt-llama-") as tmp:
    for dtype in ("f32", "f16"):
        src = os.path.join(tmp, f"tiny-{dtype}.gguf")
        r = subprocess.run([sys.executable, MAKE_TINY, src, "--layers", "4", "--dim", "256", "--ff", "512",
                            "--vocab", "512", "--heads", "4", "--kv-heads", "2", "--dtype", dtype, "--seed", "11"],
                           capture_output=True, text=True)
        check(r.returncode == 0, f"tiny model {dtype}: {r.stderr.strip()}")
        ref = logits(src)
        check(np.isfinite(ref).all(), f"{dtype}: the source model evaluates")
        for how in (("--recipe", "Q4_K_M"), ("--recipe", "Q8_0"), ("--recipe", "IQ4_XS"), ("--type", "q4_0")):
            out = os.path.join(tmp, f"{dtype}-{how[1]}.gguf")
            r = subprocess.run([QNT, "quantize", *how, "--quiet", src, out], capture_output=True, text=True)
            check(r.returncode == 0, f"{dtype} {how}: qnt quantize: {r.stderr.strip()}")
            if r.returncode != 0:
                continue
            try:
                got = logits(out)
            except Exception as e:  # llama.cpp refused the file
                check(False, f"{dtype} {how}: llama.cpp loads it: {e}")
                continue
            c = cos(ref, got)
            check(np.isfinite(got).all() and c > 0.9, f"{dtype} {how}: llama.cpp evaluates it, logits cosine {c:.5f}")
            if how == ("--recipe", "Q4_K_M"):
                theirs = os.path.join(tmp, f"{dtype}-llama-q4km.gguf")
                if llama_quantize(src, theirs, llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M):
                    ct = cos(ref, logits(theirs))
                    print(f"  {dtype} Q4_K_M logits cosine: libqnt {c:.6f}, llama-quantize {ct:.6f}")
                    check(c >= ct - 2e-3, f"{dtype} Q4_K_M: libqnt's logits at least as close as llama-quantize's")
                else:
                    check(False, f"{dtype}: llama_model_quantize ran")

sys.exit(1 if failures else 0)
