# SPDX-License-Identifier: MIT
"""libqnt's llama-quantize presets against llama.cpp itself.

For a set of tiny llama models (tests/data/make_tiny_llama.py: 1 to 80
layers, GQA and not, tied and untied output, dimensions that are and are not
multiples of 256 so that fallbacks trigger), each preset, with and without
an importance matrix (all ones; the plan is told whether there is one), is
run through llama.cpp's llama_model_quantize (llama-cpp-python's libllama) in
dry-run mode, and the type llama.cpp reports for every tensor must equal the
type qnt_recipe_plan chooses. On the smallest model every preset also
quantizes for real: the types in the file it writes (read back from its
header), general.file_type (qnt_recipe_file_type) and
general.quantization_version (2) must match. Where llama.cpp refuses a model
(a row that fits neither the type nor one of its fallbacks), libqnt's plan must
predict it (libqnt writes f16 there); file types this llama.cpp does not know
are reported.

Exits 77 (skip) when llama_cpp or gguf is missing, unless QNT_REQUIRE_INTEROP=1
or QNT_REQUIRE_REFERENCE=1."""
import ctypes
import os
import re
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "data"))


def skip(msg):
    if os.environ.get("QNT_REQUIRE_INTEROP") == "1" or os.environ.get("QNT_REQUIRE_REFERENCE") == "1":
        print(f"FAIL: {msg}", file=sys.stderr)
        sys.exit(1)
    print(f"SKIP: {msg}")
    sys.exit(77)


try:
    import numpy as np
    import gguf  # noqa: F401 - make_tiny_llama writes with it
    import llama_cpp
except ImportError as e:
    skip(f"a reference package is missing ({e})")

import make_tiny_llama  # noqa: E402

# ---- libqnt ----------------------------------------------------------------

lib = ctypes.CDLL(os.environ.get("QNT_LIB", "libqnt.so.1"))
REASON_SIZE = 96


class RecipeModel(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("name_style", ctypes.c_uint32),
                ("n_layer", ctypes.c_int64), ("n_expert", ctypes.c_int64),
                ("n_head", ctypes.c_int64), ("n_head_kv", ctypes.c_int64),
                ("arch", ctypes.c_char_p), ("flags", ctypes.c_uint32), ("reserved", ctypes.c_uint32)]


vp = ctypes.c_void_p
lib.qnt_recipe_preset.argtypes = [ctypes.c_char_p, ctypes.POINTER(vp)]
lib.qnt_recipe_preset.restype = ctypes.c_int
lib.qnt_recipe_free.argtypes = [vp]
lib.qnt_recipe_file_type.argtypes = [vp]
lib.qnt_recipe_file_type.restype = ctypes.c_uint32
lib.qnt_recipe_plan.argtypes = [vp, vp, ctypes.POINTER(RecipeModel), ctypes.c_int64,
                                ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(ctypes.c_uint32),
                                ctypes.POINTER(ctypes.c_int64), ctypes.POINTER(ctypes.c_int32),
                                ctypes.POINTER(ctypes.c_int32), ctypes.POINTER(ctypes.c_uint32), ctypes.c_char_p]
lib.qnt_recipe_plan.restype = ctypes.c_int
lib.qnt_ctx_last_error.argtypes = [vp]
lib.qnt_ctx_last_error.restype = ctypes.c_char_p
lib.qnt_type_name.argtypes = [ctypes.c_int32]
lib.qnt_type_name.restype = ctypes.c_char_p


def type_name(t):
    n = lib.qnt_type_name(t)
    return n.decode() if n else f"type{t}"


def plan(preset, tensors, arch, n_layer, n_head, n_head_kv, n_expert, imatrix):
    """tensors: [(name, ne list, type)] -> [(type, flags, reason)]"""
    r = vp()
    st = lib.qnt_recipe_preset(preset.encode(), ctypes.byref(r))
    assert st == 0, (preset, lib.qnt_ctx_last_error(None))
    try:
        n = len(tensors)
        m = RecipeModel(ctypes.sizeof(RecipeModel), 0, n_layer, n_expert, n_head, n_head_kv, arch.encode(),
                        1 if imatrix else 0, 0)
        names = (ctypes.c_char_p * n)(*[t[0].encode() for t in tensors])
        dims = (ctypes.c_uint32 * n)(*[len(t[1]) for t in tensors])
        ne = (ctypes.c_int64 * (4 * n))()
        for i, t in enumerate(tensors):
            for d, v in enumerate(t[1]):
                ne[4 * i + d] = v
        src = (ctypes.c_int32 * n)(*[t[2] for t in tensors])
        out = (ctypes.c_int32 * n)()
        flags = (ctypes.c_uint32 * n)()
        reasons = ctypes.create_string_buffer(n * REASON_SIZE)
        st = lib.qnt_recipe_plan(None, r, ctypes.byref(m), n, names, dims, ne, src, out, flags, reasons)
        assert st == 0, lib.qnt_ctx_last_error(None)
        res = []
        for i in range(n):
            raw = reasons.raw[i * REASON_SIZE:(i + 1) * REASON_SIZE]
            res.append((out[i], flags[i], raw.split(b"\0", 1)[0].decode()))
        return res, lib.qnt_recipe_file_type(r)
    finally:
        lib.qnt_recipe_free(r)


# ---- llama.cpp -------------------------------------------------------------

LOG = []
_log_cb = llama_cpp.llama_log_callback(lambda level, text, user: LOG.append(text.decode("utf-8", "replace")))
llama_cpp.llama_log_set(_log_cb, None)
llama_cpp.llama_backend_init()

FTYPE = {name: getattr(llama_cpp, "LLAMA_FTYPE_MOSTLY_" + name, None) for name in [
    "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q2_K_S", "Q3_K_S", "Q3_K_M", "Q3_K_L",
    "Q4_K_S", "Q4_K_M", "Q5_K_S", "Q5_K_M", "Q6_K", "IQ2_XXS", "IQ2_XS", "IQ3_XS", "IQ3_XXS", "IQ1_S",
    "IQ4_NL", "IQ3_S", "IQ3_M", "IQ2_S", "IQ2_M", "IQ4_XS", "IQ1_M", "TQ1_0", "TQ2_0", "MXFP4_MOE", "NVFP4",
    "Q1_0", "Q2_0"]}
FTYPE["F32"] = llama_cpp.LLAMA_FTYPE_ALL_F32
# file types llama.cpp refuses to write without an importance matrix
NEEDS_IMATRIX = {"IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ2_M", "IQ1_S", "IQ1_M", "IQ3_XXS", "IQ3_XS", "Q2_K_S"}
# llama.cpp's tensor_type_fallback table: a type missing from it has no fallback
LLAMA_FALLBACK_FROM = {"iq1_s", "iq1_m", "iq2_xxs", "iq2_xs", "iq2_s", "iq3_xxs", "iq3_s", "iq4_xs", "q2_0",
                       "q2_K", "q3_K", "tq1_0", "tq2_0", "q4_K", "q5_K", "q6_K"}

_SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}


def read_model(path):
    """(scalar metadata, [(name, ne, type)]) of a GGUF file. Its own small
    parser of the header: gguf-py 0.19's GGUFReader refuses type ids it does
    not know (q1_0, q2_0), which llama.cpp writes."""
    import struct
    with open(path, "rb") as f:
        data = f.read(1 << 20)
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from(fmt, data, pos)[0]
        pos += struct.calcsize(fmt)
        return v

    def string():
        nonlocal pos
        n = take("<Q")
        s = data[pos:pos + n].decode()
        pos += n
        return s

    def value(t):
        if t == 8:
            return string()
        if t == 9:
            et, n = take("<I"), take("<Q")
            return [value(et) for _ in range(n)]
        return take(_SCALAR[t])

    assert data[:4] == b"GGUF", path
    pos = 4
    take("<I")
    n_tensors, n_kv = take("<Q"), take("<Q")
    kv = {}
    for _ in range(n_kv):
        key = string()
        v = value(take("<I"))
        if not isinstance(v, list):
            kv[key] = v
    tensors = []
    for _ in range(n_tensors):
        name = string()
        ne = [take("<Q") for _ in range(take("<I"))]
        tensors.append((name, ne, take("<I")))
        take("<Q")
    return kv, tensors


def llama_quantize(src, dst, ftype, tensors, dry_run):
    """llama_model_quantize; with `tensors`, an importance matrix of ones for
    each 2-D one. Returns (rc, log text)."""
    p = llama_cpp.llama_model_quantize_default_params()
    p.ftype = ftype
    p.nthread = 1
    p.dry_run = dry_run
    keep = []
    if tensors is not None:
        arr = (llama_cpp.llama_model_imatrix_data * (len(tensors) + 1))()
        for i, (name, ne, _) in enumerate(t for t in tensors if len(t[1]) >= 2):
            ones = np.ones(ne[0] * (ne[2] if len(ne) > 2 else 1), dtype=np.float32)
            keep.append(ones)
            arr[i].name = name.encode()
            arr[i].data = ones.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
            arr[i].size = ones.size
        p.imatrix = arr
        keep.append(arr)
    LOG.clear()
    rc = llama_cpp.llama_model_quantize(src.encode(), dst.encode(), ctypes.byref(p))
    return rc, "".join(LOG)


def dry_run_types(log, tensors):
    """The type llama.cpp chose for each tensor, from its --dry-run lines
    "[  3/ 75] blk.0.attn_v.weight - [...], type = f16, size = ... -> ... (q6_K)"
    (no "(type)": left as it is)."""
    src = {name: t for name, _, t in tensors}
    got = {}
    for line in log.splitlines():
        m = re.match(r"\[\s*\d+/\s*\d+\]\s+(\S+)\s+- \[.*\], type =\s*(\S+), size = .*?(?:\((\S+)\))?$", line)
        if m:
            got[m.group(1)] = m.group(3) if m.group(3) else type_name(src[m.group(1)])
    return got


SHAPES = [
    # name, make_tiny_llama arguments
    ("1 layer, MHA, 256", dict(layers=1, dim=256, ff=256, heads=4, kv_heads=4, n_vocab=260)),
    ("8 layers, GQA 4, ff 768", dict(layers=8, dim=256, ff=768, heads=8, kv_heads=2)),
    ("12 layers, dim 160 (fallbacks), tied", dict(layers=12, dim=160, ff=320, heads=5, kv_heads=5, tied=True)),
    ("32 layers, GQA 2, ff 352, tied", dict(layers=32, dim=256, ff=352, heads=2, kv_heads=1, tied=True)),
    ("80 layers, GQA 2, dim 64 ('70B')", dict(layers=80, dim=64, ff=96, heads=2, kv_heads=1, n_vocab=288)),
]


def compare(tensors, mine, llama_types):
    bad = []
    for (name, ne, _), (t, fl, why) in zip(tensors, mine):
        if llama_types.get(name) != type_name(t):
            bad.append(f"{name} {ne}: llama.cpp {llama_types.get(name)}, libqnt {type_name(t)} ({why})")
    return bad


def predicted_refusal(mine):
    """libqnt's plan has a tensor llama.cpp cannot place: a row that fits
    neither the type nor a fallback of llama.cpp's table (llama.cpp then fails
    the quantization; libqnt writes f16)."""
    for t, fl, why in mine:
        m = re.match(r"fallback: .* for (\S+) -> f16", why)
        if m and m.group(1) not in LLAMA_FALLBACK_FROM:
            return why
    return None


def main():
    t0 = time.time()
    presets = [name for name in FTYPE if FTYPE[name] is not None]
    n_cmp = 0
    table = {}
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        dst = os.path.join(tmp, "out.gguf")
        for si, (shape, args) in enumerate(SHAPES):
            src = os.path.join(tmp, f"m{si}.gguf")
            make_tiny_llama.build(src, dtype="f16", seed=si, **args)
            kv, tensors = read_model(src)
            arch = kv["general.architecture"]
            hp = (kv[f"{arch}.block_count"], kv[f"{arch}.attention.head_count"],
                  kv[f"{arch}.attention.head_count_kv"], kv.get(f"{arch}.expert_count", 0))
            for preset in presets:
                for with_im in (False, True):
                    label = preset + (" +imatrix" if with_im else "")
                    cell = table.setdefault(label, {})
                    mine, ftype = plan(preset, tensors, arch, *hp, with_im)
                    # every shape: the types llama.cpp chooses (--dry-run, nothing written)
                    rc, log = llama_quantize(src, dst, FTYPE[preset], tensors if with_im else None, True)
                    if rc != 0:
                        if "invalid output file type" in log:
                            cell[shape] = "not in this llama.cpp"
                        elif predicted_refusal(mine):
                            cell[shape] = "refused, as predicted"
                        else:
                            cell[shape] = "llama.cpp failed"
                            failures.append(f"{shape}: {label}: llama_model_quantize failed: "
                                            f"{log.strip().splitlines()[-1] if log.strip() else rc}")
                        continue
                    if predicted_refusal(mine):
                        failures.append(f"{shape}: {label}: libqnt predicted a refusal ({predicted_refusal(mine)})")
                    bad = compare(tensors, mine, dry_run_types(log, tensors))
                    n_cmp += len(tensors)
                    # the smallest shape: quantize for real, read the file back
                    if si == 0 and (with_im or preset not in NEEDS_IMATRIX):
                        rc, log = llama_quantize(src, dst, FTYPE[preset], tensors if with_im else None, False)
                        if rc != 0:
                            bad.append(f"llama_model_quantize failed: {log.strip().splitlines()[-1]}")
                        else:
                            okv, out = read_model(dst)
                            bad += compare(tensors, mine, {name: type_name(t) for name, _, t in out})
                            n_cmp += len(tensors)
                            if okv.get("general.file_type") != ftype:
                                bad.append(f"general.file_type: llama.cpp {okv.get('general.file_type')}, "
                                           f"libqnt {ftype}")
                            if okv.get("general.quantization_version") != 2:
                                bad.append(f"general.quantization_version {okv.get('general.quantization_version')}")
                            os.unlink(dst)
                    cell[shape] = "match" if not bad else f"{len(bad)} differ"
                    failures += [f"{shape}: {label}: {b}" for b in bad]
    print(f"llama-cpp-python {llama_cpp.__version__}: {n_cmp} tensor choices compared in {time.time() - t0:.1f} s")
    for label, row in table.items():
        cells = [row.get(s, "-") for s, _ in SHAPES]
        summary = "match on every shape" if all(c == "match" for c in cells) else "; ".join(
            f"{s}: {c}" for (s, _), c in zip(SHAPES, cells))
        print(f"  {label:18s} {summary}")
    for f in failures[:60]:
        print("FAIL:", f)
    if failures:
        print(f"{len(failures)} differences")
        sys.exit(1)
    print("every preset matches llama.cpp wherever llama.cpp quantizes")


if __name__ == "__main__":
    main()
