# SPDX-License-Identifier: MIT
"""libqnt's MLX model folders (lib/io/mlx_folder.c, through
libqnt_mlxdirtest.so) against MLX itself (mlx[cpu] in the project venv).

1. A folder written by libqnt (a small model: embedding, linears with and
   without bias, stacked experts, norms, an int tensor; affine 1/2/3/4/5/6/8
   bits with f32, f16 and bf16 scales, mxfp4, mxfp8, nvfp4; global settings,
   per-module entries and false entries; several shards): mx.load of each
   shard gives exactly the arrays libqnt wrote, with {"format": "mlx"}
   metadata; the index lists every tensor with total_size and
   total_parameters; config.json is byte for byte what mlx-lm's save_config
   writes (Python's json.dump(indent=4) of the sorted config); an MLX model
   quantized with mlx-lm's loader rule (the per-module entry, else the
   global settings where P.scales exists) loads every array strictly; each
   quantized module's codes, scales and biases are those of mx.quantize, and
   mx.dequantize of the stored arrays equals libqnt's dequantize, bit for
   bit, in the scales' dtype and in float32.
   With mlx-lm importable (optional; not in the project venv: put its
   site-packages in $QNT_MLX_LM_PATH), the same model quantized by
   mlx_lm.utils.quantize_model and saved by save_model/save_config gives
   the same arrays, the same index and the same config.json bytes, and
   mlx_lm.utils.load_model loads libqnt's folder.
2. A folder written by MLX (nn.quantize with per-module settings and false
   entries, mx.save_safetensors in shards with an index, config.json as
   mlx-lm writes it): libqnt's logical tensors have the float shapes and the
   settings of each module, and dequantize to mx.dequantize's values.
3. nvfp4 experts with one global scale per expert (mlx-lm's
   QuantizedSwitchLinear): written and read, dequantized as MLX does.
4. Malformed folders (no config.json, codes of the wrong packed shape,
   scales of the wrong dtype, biases that do not match, an fp mode with
   biases, an override for a missing module, false for a quantized module, a
   missing shard, bad JSON, quantized tensors without "quantization"): the
   expected status and a message naming the folder, the file and the tensor.
5. Writer errors leave nothing behind (abort, missing data, a bad copy).
"""
import ctypes
import json
import os
import shutil
import sys
import tempfile

from iotest import require

np = require("numpy")
require("mlx")
import mlx.core as mx  # noqa: E402
import mlx.nn as nn  # noqa: E402
from mlx.utils import tree_flatten  # noqa: E402

_lib = ctypes.CDLL(os.environ.get("QNT_MLXDIRTEST_LIB", "libqnt_mlxdirtest.so"))

OK, E_INVALID_ARG, E_UNSUPPORTED, E_NOT_FOUND, E_FORMAT = 0, -1, -3, -9, -11
T_F32, T_F16, T_BF16 = 0, 1, 30
AFFINE, MXFP4, MXFP8, NVFP4 = 0, 1, 2, 3
MODES = ["affine", "mxfp4", "mxfp8", "nvfp4"]
CODES, SCALES, BIASES, GLOBAL_SCALE = 0, 1, 2, 3
ADD_NOT_QUANTIZED, ADD_OVERRIDE, ADD_GLOBAL_SCALE = 0x1, 0x2, 0x4
MLX_FLAG_GLOBAL_SCALE = 0x1

vp, cp, i64, u64, u32, sz = (ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int64, ctypes.c_uint64,
                             ctypes.c_uint32, ctypes.c_size_t)
ci = ctypes.c_int


def _fn(name, restype, *argtypes):
    f = getattr(_lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


_fn("mdt_last_error", cp)
_fn("mdt_max_dims", ci)
MAX_DIMS = _lib.mdt_max_dims()
NP = 4


class Tensor(ctypes.Structure):
    _fields_ = [("name", cp), ("module", cp), ("quantized", ctypes.c_int32), ("type", ctypes.c_int32),
                ("dtype", cp), ("n_dims", u32), ("reserved", u32), ("shape", u64 * MAX_DIMS),
                ("nelements", u64), ("mode", ctypes.c_int32), ("bits", ctypes.c_int32),
                ("group_size", ctypes.c_int32), ("reserved2", ctypes.c_int32), ("scale_dtype", cp),
                ("n_matrices", u64), ("part_data", vp * NP), ("part_bytes", u64 * NP), ("part_name", cp * NP),
                ("part_file", cp * NP)]


_fn("mdt_open", ci, cp, ctypes.POINTER(vp))
_fn("mdt_close", None, vp)
_fn("mdt_count", i64, vp)
_fn("mdt_tensor", ci, vp, i64, ctypes.POINTER(Tensor))
_fn("mdt_find", i64, vp, cp)
_fn("mdt_config", cp, vp)
_fn("mdt_rows", i64, vp, i64)
_fn("mdt_dequantize", ci, vp, i64, i64, i64, ci, vp)
_fn("mdt_w_create", ci, cp, cp, u64, ctypes.POINTER(vp))
_fn("mdt_w_set_quantization", ci, vp, ci, ci, ci)
_fn("mdt_w_add", ci, vp, cp, ci, u32, ctypes.POINTER(u64), u32, ctypes.POINTER(i64))
_fn("mdt_w_add_quant", ci, vp, cp, ci, ci, ci, ci, u32, ctypes.POINTER(u64), u32, ctypes.POINTER(i64))
_fn("mdt_w_add_raw", ci, vp, cp, cp, u32, ctypes.POINTER(u64), u32, ctypes.POINTER(i64))
_fn("mdt_w_copy_file", ci, vp, cp, cp)
_fn("mdt_w_part_bytes", u64, vp, i64, ci)
_fn("mdt_w_begin", ci, vp)
_fn("mdt_w_next", ci, vp, ctypes.POINTER(i64), ctypes.POINTER(ci))
_fn("mdt_w_write_part", ci, vp, i64, ci, vp, sz)
_fn("mdt_w_write", ci, vp, vp, sz)
_fn("mdt_w_finish", ci, vp)
_fn("mdt_w_abort", None, vp)
_fn("mdt_type_by_name", ci, cp)
_fn("mdt_mlx_quantize", ci, ci, ci, ci, ci, u32, ctypes.c_float, vp, i64, i64, vp, vp, vp)

FAILURES = []
STATS = {"checks": 0, "arrays": 0, "dequantized": 0, "malformed": 0, "unaligned": 0}
TMP = tempfile.mkdtemp(prefix="qnt-mlxdir-")


def expect(cond, msg):
    STATS["checks"] += 1
    if not cond:
        FAILURES.append(msg)
        print("FAIL:", msg)
    return cond


def last_error():
    e = _lib.mdt_last_error()
    return e.decode() if e else ""


def shape_arg(shape):
    return (u64 * max(1, len(shape)))(*shape)


# ---------------------------------------------------------------------------
# mx <-> bytes

UINT_VIEW = {mx.bfloat16: mx.uint16, mx.float16: mx.uint16, mx.float32: mx.uint32}
ST_NAME = {mx.bfloat16: "BF16", mx.float16: "F16", mx.float32: "F32", mx.uint32: "U32", mx.uint8: "U8",
           mx.int32: "I32"}
QNT_TYPE = {mx.float32: T_F32, mx.float16: T_F16, mx.bfloat16: T_BF16}


def raw(a):
    """The bytes of an mx array (C order)."""
    a = mx.contiguous(a)
    if a.dtype in UINT_VIEW:
        a = a.view(UINT_VIEW[a.dtype])
    return np.ascontiguousarray(np.array(a)).tobytes()


def from_raw(b, dtype, shape):
    views = {mx.bfloat16: np.uint16, mx.float16: np.uint16, mx.float32: np.uint32, mx.uint32: np.uint32,
             mx.uint8: np.uint8, mx.int32: np.int32}
    a = mx.array(np.frombuffer(b, dtype=views[dtype]).reshape(shape))
    return a.view(dtype) if dtype in UINT_VIEW else a


def qnt_quantize(w, mode, bits, gs, global_scale=None):
    """libqnt's qnt_mlx_quantize of an mx array (any leading dims): codes,
    scales, biases as mx arrays."""
    rows = int(np.prod(w.shape[:-1]))
    n = w.shape[-1]
    sdt = w.dtype if mode == AFFINE else mx.uint8
    ssize = 4 if sdt == mx.float32 else 2 if sdt != mx.uint8 else 1
    wq = ctypes.create_string_buffer(rows * n * bits // 32 * 4)
    sc = ctypes.create_string_buffer(rows * n // gs * ssize)
    bi = ctypes.create_string_buffer(rows * n // gs * ssize) if mode == AFFINE else None
    src = raw(w)
    flags = MLX_FLAG_GLOBAL_SCALE if global_scale is not None else 0
    st = _lib.mdt_mlx_quantize(mode, bits, gs, QNT_TYPE[w.dtype], flags, global_scale or 0.0, src, rows, n, wq, sc,
                               bi)
    assert st == OK, last_error()
    out = [from_raw(wq.raw, mx.uint32, (*w.shape[:-1], n * bits // 32)),
           from_raw(sc.raw, sdt, (*w.shape[:-1], n // gs))]
    out.append(from_raw(bi.raw, sdt, (*w.shape[:-1], n // gs)) if bi is not None else None)
    return out


def same(a, b):
    return a.dtype == b.dtype and tuple(a.shape) == tuple(b.shape) and raw(a) == raw(b)


# ---------------------------------------------------------------------------
# the test model: module path -> (kind, shape, dtype, settings)
#   settings: None = the global ones (affine 4/64), a dict = its own entry,
#   "override" = the global ones with an explicit entry, False = not quantized

GLOBAL = {"group_size": 64, "bits": 4, "mode": "affine"}


def q(mode, bits, gs):
    return {"group_size": gs, "bits": bits, "mode": mode}


SPEC = [
    ("model.embed_tokens", "embedding", (96, 128), mx.bfloat16, None),
    ("model.layers.0.self_attn.q_proj", "linear_bias", (64, 128), mx.bfloat16, "override"),
    ("model.layers.0.self_attn.v_proj", "linear", (64, 128), mx.bfloat16, q("affine", 6, 64)),
    ("model.layers.0.mlp.gate_proj", "linear", (256, 128), mx.float32, q("affine", 3, 128)),
    ("model.layers.0.mlp.up_proj", "linear", (256, 128), mx.bfloat16, q("mxfp4", 4, 32)),
    ("model.layers.0.mlp.down_proj", "linear", (128, 256), mx.float16, q("affine", 8, 32)),
    ("model.layers.0.input_layernorm", "norm", (128,), mx.bfloat16, False),
    ("model.layers.1.self_attn.k_proj", "linear", (64, 128), mx.bfloat16, q("affine", 2, 32)),
    ("model.layers.1.self_attn.o_proj", "linear", (64, 64), mx.bfloat16, q("nvfp4", 4, 16)),
    ("model.layers.1.mlp.gate", "linear", (4, 64), mx.bfloat16, False),
    ("model.layers.1.mlp.experts", "experts", (4, 32, 64), mx.bfloat16, q("affine", 5, 64)),
    ("model.layers.1.mlp.down_proj", "linear", (128, 256), mx.bfloat16, q("mxfp8", 8, 32)),
    ("model.layers.1.buf", "ints", (3,), mx.int32, None),
    ("model.norm", "norm", (128,), mx.float32, None),
    ("lm_head", "linear", (96, 128), mx.bfloat16, q("affine", 1, 64)),
]


class Experts(nn.Module):
    """Stacked expert weights (E, out, in), quantized along the last axis
    (the layout of mlx-lm's SwitchLinear)."""

    def __init__(self, shape, dtype):
        super().__init__()
        self.weight = mx.zeros(shape, dtype=dtype)

    def to_quantized(self, group_size=None, bits=None, mode="affine", **kw):
        return QExperts(self.weight, group_size, bits, mode)


class QExperts(nn.Module):
    def __init__(self, weight, group_size, bits, mode):
        super().__init__()
        self.group_size, self.bits, self.mode = group_size, bits, mode
        self.weight, self.scales, *b = mx.quantize(weight, group_size, bits, mode=mode)
        self.biases = b[0] if b else None
        if self.biases is None:
            del self["biases"]


class Ints(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.ids = mx.arange(n, dtype=mx.int32) * 7 - 5


class Node(nn.Module):
    pass


def make_module(kind, shape, dtype):
    if kind == "embedding":
        m = nn.Embedding(shape[0], shape[1])
    elif kind in ("linear", "linear_bias"):
        m = nn.Linear(shape[1], shape[0], bias=kind == "linear_bias")
    elif kind == "norm":
        m = nn.RMSNorm(shape[0])
    elif kind == "experts":
        m = Experts(shape, dtype)
    else:
        return Ints(shape[0])
    m.set_dtype(dtype)
    return m


def build_model():
    """The SPEC as an nn.Module tree, in SPEC order (lists for layers)."""
    root = Node()
    for path, kind, shape, dtype, _ in SPEC:
        parts = path.split(".")
        node = root
        for i, p in enumerate(parts[:-1]):
            if p.isdigit():
                continue
            nxt = parts[i + 1]
            if nxt.isdigit():
                if p not in node:
                    node[p] = []
                lst = node[p]
                while len(lst) <= int(nxt):
                    lst.append(Node())
                node = lst[int(nxt)]
            else:
                if p not in node:
                    node[p] = Node()
                node = node[p]
        node[parts[-1]] = make_module(kind, shape, dtype)
    return root


def fill_weights(model, seed):
    rng = np.random.default_rng(seed)
    upd = []
    for name, a in tree_flatten(model.parameters()):
        if a.dtype == mx.int32:
            continue
        v = rng.standard_normal(a.shape).astype(np.float32) * 0.05
        if name.endswith("bias"):
            v = v + 0.01
        upd.append((name, mx.array(v).astype(a.dtype)))
    model.load_weights(upd, strict=False)
    mx.eval(model.parameters())


def settings_of(s):
    return GLOBAL if s in (None, "override") else s


def base_config():
    return {"model_type": "llama", "hidden_size": 128, "rms_norm_eps": 1e-05, "rope_theta": 10000.0,
            "_name_or_path": "org/model", "vocab_size": 96, "name": "caf\u00e9 \u2603 \U0001f600 \"q\"",
            "torch_dtype": "bfloat16", "quantization": {"stale": True}, "tie_word_embeddings": False,
            "rope_scaling": None, "list": [1, 2.5, [], {}, -0.0001, 1e16, 1e15, 123456789.125, 3e-300],
            "initializer_range": 0.02, "nested": {"z": 1, "a": {"deep": [True, None]}},
            "vision_config": {"dropped": 1}}


def expected_config():
    """What mlx-lm's quantize_model + save_config write for SPEC (false
    entries as mlx_lm.awq's update_config adds them, in module order)."""
    c = base_config()
    c.pop("_name_or_path")
    c.pop("vision_config")
    qz = dict(GLOBAL)
    for path, kind, shape, dtype, s in SPEC:
        if s is False:
            qz[path] = False
        elif s == "override":
            qz[path] = dict(GLOBAL)
        elif isinstance(s, dict):
            qz[path] = dict(s)
    c["quantization"] = qz
    c["quantization_config"] = qz
    return dict(sorted(c.items()))


def quantized_modules(model):
    """path -> (weight, scales, biases or None, settings) of the model's
    quantized modules (after nn.quantize)."""
    out = {}
    for path, m in tree_flatten(model.leaf_modules(), is_leaf=nn.Module.is_module):
        if hasattr(m, "scales"):
            b = m["biases"] if "biases" in m and m["biases"] is not None else None
            out[path] = (m.weight, m.scales, b, q(m.mode, m.bits, m.group_size))
    return out


def mlx_lm_predicate():
    specs = {p: s for p, _, _, _, s in SPEC}

    def pred(path, module):
        s = specs.get(path)
        if s is False:
            return False
        if s == "override" or isinstance(s, dict):
            return dict(settings_of(s))
        return True
    return pred


def quantize_like_mlx_lm_loader(model, config):
    """mlx-lm's load_model rule: an entry, else the global settings where
    P.scales exists (given by `have_scales`)."""
    qz = config["quantization"]

    def pred(p, m):
        if p in qz:
            return qz[p]
        return hasattr(m, "to_quantized") and p in quantize_like_mlx_lm_loader.have_scales
    nn.quantize(model, group_size=qz["group_size"], bits=qz["bits"], mode=qz.get("mode", "affine"),
                class_predicate=pred)


# ---------------------------------------------------------------------------
# reading a folder with libqnt

class Folder:
    def __init__(self, path):
        self.h = vp()
        self.status = _lib.mdt_open(path.encode(), ctypes.byref(self.h))
        self.error = last_error() if self.status != OK else ""

    def close(self):
        if self.h:
            _lib.mdt_close(self.h)
            self.h = vp()

    def tensors(self):
        out = {}
        for i in range(_lib.mdt_count(self.h)):
            t = Tensor()
            assert _lib.mdt_tensor(self.h, i, ctypes.byref(t)) == OK
            out[t.name.decode()] = (i, t)
        return out

    def dequantize(self, i, t, dtype):
        rows = _lib.mdt_rows(self.h, i)
        n = t.shape[t.n_dims - 1]
        size = 4 if dtype == mx.float32 else 2
        buf = ctypes.create_string_buffer(max(1, rows * n * size))
        st = _lib.mdt_dequantize(self.h, i, 0, rows, QNT_TYPE[dtype], buf)
        if st != OK:
            return None, last_error()
        shape = tuple(t.shape[k] for k in range(t.n_dims))
        return from_raw(buf.raw[:rows * n * size], dtype, shape), ""


def stored_array(t, part):
    """A part of a libqnt tensor as an mx array (copied)."""
    dtypes = {"BF16": mx.bfloat16, "F16": mx.float16, "F32": mx.float32, "U32": mx.uint32, "U8": mx.uint8,
              "I32": mx.int32}
    nb = t.part_bytes[part]
    b = ctypes.string_at(t.part_data[part], nb) if nb else b""
    return b


def check_dequantize(f, path, i, t, w, scales, biases, s, gscale=None, where=""):
    """libqnt's dequantize of tensor i == mx.dequantize of the arrays."""
    mode = s["mode"]
    if t.part_data[CODES] % 4:
        STATS["unaligned"] += 1
    dts = [scales.dtype, mx.float32] if mode == "affine" else [mx.bfloat16, mx.float32, mx.float16]
    for dt in dts:
        kw = {"dtype": dt}
        if gscale is not None:
            ref = mx.stack([mx.dequantize(w[e], scales[e], None, s["group_size"], s["bits"], mode,
                                          global_scale=gscale[e], dtype=dt) for e in range(w.shape[0])])
        else:
            ref = mx.dequantize(w, scales, biases, s["group_size"], s["bits"], mode, **kw)
        if ref.dtype != dt:  # nvfp4 with a global scale: MLX returns float32 whatever dtype says;
            ref = ref.astype(dt)  # libqnt gives those values rounded to dtype (libqnt.h)
        got, err = f.dequantize(i, t, dt)
        if not expect(got is not None, f"{where}{path}: dequantize failed: {err}"):
            continue
        expect(same(got, ref), f"{where}{path}: dequantize to {dt} differs from mx.dequantize "
               f"(max |diff| {float(mx.max(mx.abs(got.astype(mx.float32) - ref.astype(mx.float32))))})")
        STATS["dequantized"] += 1


# ---------------------------------------------------------------------------
# 1. libqnt writes

def write_with_libqnt(out_dir, model, max_shard, src_dir):
    """Writes `model` (float weights, SPEC settings) with libqnt's writer,
    quantizing with libqnt's qnt_mlx_quantize. Returns name -> mx array of
    every stored array written, and the total parameter count."""
    os.makedirs(out_dir, exist_ok=True)
    w = vp()
    st = _lib.mdt_w_create(out_dir.encode(), json.dumps(base_config()).encode(), max_shard, ctypes.byref(w))
    assert st == OK, last_error()
    assert _lib.mdt_w_set_quantization(w, AFFINE, 4, 64) == OK
    specs = {p: (k, sh, dt, s) for p, k, sh, dt, s in SPEC}
    params = dict(tree_flatten(model.parameters()))
    decl = []  # (index, [(part, array)])
    written = {}
    total = 0
    for name, a in params.items():  # mlx-lm's order: tree_flatten(model.parameters())
        mod, _, leaf = name.rpartition(".")
        kind, shape, dtype, s = specs[mod]
        idx = i64(-1)
        sh = shape_arg(a.shape)
        total += a.size
        if leaf == "weight" and s is not False and kind != "norm":
            st_ = settings_of(s)
            mode, bits, gs = MODES.index(st_["mode"]), st_["bits"], st_["group_size"]
            flags = ADD_OVERRIDE if s == "override" else 0
            if bits == 1:
                r = _lib.mdt_w_add_quant(w, name.encode(), mode, bits, gs, QNT_TYPE[a.dtype], a.ndim, sh, flags,
                                         ctypes.byref(idx))
            else:
                tname = f"mlx:{st_['mode']}" + (f":{bits}:{gs}" if mode == AFFINE else "")
                tname += {mx.float32: ":f32", mx.float16: ":f16", mx.bfloat16: ":bf16"}[a.dtype]
                ty = _lib.mdt_type_by_name(tname.encode())
                assert ty >= 0, tname
                r = _lib.mdt_w_add(w, name.encode(), ty, a.ndim, sh, flags, ctypes.byref(idx))
            assert r == OK, last_error()
            codes, scales, biases = qnt_quantize(a, mode, bits, gs)
            parts = [(CODES, codes), (SCALES, scales)] + ([(BIASES, biases)] if biases is not None else [])
            for p, arr in parts:
                written[mod + [".weight", ".scales", ".biases"][p]] = arr
        else:
            flags = ADD_NOT_QUANTIZED if (leaf == "weight" and s is False) else 0
            if a.dtype in QNT_TYPE:
                r = _lib.mdt_w_add(w, name.encode(), QNT_TYPE[a.dtype], a.ndim, sh, flags, ctypes.byref(idx))
            else:
                r = _lib.mdt_w_add_raw(w, name.encode(), ST_NAME[a.dtype].encode(), a.ndim, sh, flags,
                                       ctypes.byref(idx))
            assert r == OK, f"{name}: {last_error()}"
            parts = [(CODES, a)]
            written[name] = a
        decl.append((idx.value, parts))
    for fn in ("tokenizer.json", "tokenizer_config.json"):
        assert _lib.mdt_w_copy_file(w, os.path.join(src_dir, fn).encode(), fn.encode()) == OK, last_error()
    # stream: each tensor's parts in order, as next() says; every third
    # tensor in chunks of 1000 bytes
    for k, (idx, parts) in enumerate(decl):
        for p, arr in parts:
            b = raw(arr)
            expect(_lib.mdt_w_part_bytes(w, idx, p) == len(b), f"part_bytes({idx}, {p}) = "
                   f"{_lib.mdt_w_part_bytes(w, idx, p)}, expected {len(b)}")
            ni, npart = i64(), ci()
            more = _lib.mdt_w_next(w, ctypes.byref(ni), ctypes.byref(npart))
            expect(more == 1 and ni.value == idx and npart.value == p,
                   f"next() = ({more}, {ni.value}, {npart.value}), expected (1, {idx}, {p})")
            if k % 3 == 2:
                for o in range(0, len(b), 1000):
                    assert _lib.mdt_w_write(w, b[o:o + 1000], len(b[o:o + 1000])) == OK, last_error()
            else:
                assert _lib.mdt_w_write_part(w, idx, p, b, len(b)) == OK, last_error()
    ni, npart = i64(), ci()
    expect(_lib.mdt_w_next(w, ctypes.byref(ni), ctypes.byref(npart)) == 0, "next() after the last part")
    st = _lib.mdt_w_finish(w)
    assert st == OK, last_error()
    return written, total


def test_libqnt_writes():
    print("1. a folder written by libqnt, read by MLX")
    nf = len(FAILURES)
    model = build_model()
    fill_weights(model, 1234)
    src = os.path.join(TMP, "src")
    os.makedirs(src)
    with open(os.path.join(src, "tokenizer.json"), "w") as fh:
        fh.write('{"version": "1.0", "model": {"vocab": {"a": 0}}}')
    with open(os.path.join(src, "tokenizer_config.json"), "w") as fh:
        fh.write('{"eos_token": "</s>"}\n')
    out = os.path.join(TMP, "by-libqnt")
    max_shard = 60000
    written, total_params = write_with_libqnt(out, model, max_shard, src)

    files = sorted(os.listdir(out))
    shards = [f for f in files if f.endswith(".safetensors")]
    expect(len(shards) >= 3 and all(s == f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
                                    for i, s in enumerate(shards)), f"shard names {shards}")
    expect(files == sorted(shards + ["model.safetensors.index.json", "config.json", "tokenizer.json",
                                     "tokenizer_config.json"]), f"files in the folder: {files}")
    for fn in ("tokenizer.json", "tokenizer_config.json"):
        expect(open(os.path.join(out, fn), "rb").read() == open(os.path.join(src, fn), "rb").read(),
               f"{fn} not copied byte for byte")

    # mx.load of each shard: the arrays libqnt wrote, "format": "mlx"
    loaded = {}
    for s in shards:
        arrays, meta = mx.load(os.path.join(out, s), return_metadata=True)
        expect(meta == {"format": "mlx"}, f"{s}: metadata {meta}")
        for k, v in arrays.items():
            expect(k not in loaded, f"{k} in two shards")
            loaded[k] = v
            nb = v.nbytes
            expect(nb <= max_shard or len(arrays) == 1, f"{s}: {k} passes the shard limit")
    expect(sorted(loaded) == sorted(written), f"tensors: {sorted(set(loaded) ^ set(written))} differ")
    for k, v in written.items():
        if k in loaded:
            STATS["arrays"] += 1
            expect(same(loaded[k], v), f"{k}: mx.load gives {loaded[k].dtype} {loaded[k].shape}, "
                   f"libqnt wrote {v.dtype} {v.shape} (or the bytes differ)")
    # shard sizes: mlx-lm's make_shards over the same order
    sizes = {s: sum(v.nbytes for v in mx.load(os.path.join(out, s)).values()) for s in shards}
    expect(all(v <= max_shard for v in sizes.values()), f"shard sizes {sizes} over {max_shard}")

    index = json.load(open(os.path.join(out, "model.safetensors.index.json")))
    expect(list(index["weight_map"]) == sorted(written), "index weight_map is not every tensor, sorted")
    expect(index["metadata"] == {"total_size": sum(v.nbytes for v in written.values()),
                                 "total_parameters": total_params}, f"index metadata {index['metadata']}")

    # config.json: mlx-lm's save_config text
    text = open(os.path.join(out, "config.json")).read()
    want = expected_config()
    expect(json.loads(text) == want, f"config.json parses to {json.loads(text)}, expected {want}")
    expect(text == json.dumps(want, indent=4), "config.json is not json.dump(indent=4) of the sorted config:\n"
           + text[:600])

    # each quantized module: mx.quantize's arrays, and the model loads in MLX
    ref_model = build_model()
    fill_weights(ref_model, 1234)
    quantize_like_mlx_lm_loader.have_scales = {k[:-7] for k in loaded if k.endswith(".scales")}
    quantize_like_mlx_lm_loader(ref_model, json.loads(text))
    qm = quantized_modules(ref_model)
    expect(len(qm) == sum(1 for _, k, _, _, s in SPEC if s is not False and k not in ("norm", "ints")),
           f"MLX quantized {len(qm)} modules: {sorted(qm)}")
    for path, (w, sc, b, s) in qm.items():
        expect(same(w, loaded[path + ".weight"]) and same(sc, loaded[path + ".scales"]) and
               (b is None) == (path + ".biases" not in loaded) and (b is None or same(b, loaded[path + ".biases"])),
               f"{path}: libqnt's arrays differ from mx.quantize's")
    try:
        ref_model.load_weights(list(loaded.items()), strict=True)
        ok = True
    except Exception as e:  # noqa: BLE001
        ok = False
        print(f"   load_weights: {e}")
    expect(ok, "the libqnt folder does not load strictly into the MLX model")

    # libqnt reads its folder back; dequantize == mx.dequantize
    f = Folder(out)
    if expect(f.status == OK, f"libqnt cannot read its own folder: {f.error}"):
        ts = f.tensors()
        expect(json.loads(_lib.mdt_config(f.h).decode()) == want, "config text read back")
        logical = {p + ".weight" for p in qm} | {k for k in written if not any(
            k.startswith(p + ".") and k[len(p):] in (".weight", ".scales", ".biases") for p in qm)}
        expect(set(ts) == logical, f"logical tensors {sorted(set(ts) ^ logical)} differ")
        expect(list(ts) == sorted(ts), "logical tensors not sorted by name")
        for path, (w, sc, b, s) in qm.items():
            i, t = ts[path + ".weight"]
            full = tuple(params_shape for params_shape in dict(tree_flatten(model.parameters()))[path + ".weight"].shape)
            got_shape = tuple(t.shape[k] for k in range(t.n_dims))
            expect(t.quantized == 1 and got_shape == full and MODES[t.mode] == s["mode"] and t.bits == s["bits"]
                   and t.group_size == s["group_size"] and t.module.decode() == path,
                   f"{path}: libqnt reads {MODES[t.mode]} {t.bits}/{t.group_size} {got_shape}, expected {s} {full}")
            check_dequantize(f, path, i, t, loaded[path + ".weight"], loaded[path + ".scales"],
                             loaded.get(path + ".biases"), s, where="libqnt folder: ")
        f.close()
    print(f"   {len(shards)} shards, {len(written)} arrays, {len(qm)} quantized modules: "
          f"{'ok' if len(FAILURES) == nf else 'FAILED'}")
    return out, model, loaded


def test_mlx_lm(out, float_model):
    """mlx-lm's own quantize_model/save_model/save_config/load_model, if it
    can be imported ($QNT_MLX_LM_PATH)."""
    extra = os.environ.get("QNT_MLX_LM_PATH")
    if extra:
        sys.path.insert(0, extra)
    try:
        import mlx_lm.utils as mu
    except Exception as e:  # noqa: BLE001 (mlx-lm needs transformers and huggingface_hub)
        print(f"1b. mlx-lm not importable ({type(e).__name__}: {e}); compared with its rules only")
        return
    import io
    import contextlib
    print(f"1b. against mlx-lm {getattr(sys.modules.get('mlx_lm'), '__version__', '?')} (quantize_model, "
          "save_model, save_config, load_model)")
    nf = len(FAILURES)
    model = build_model()
    fill_weights(model, 1234)
    with contextlib.redirect_stdout(io.StringIO()):
        # a float source: its config has no "quantization" (libqnt's writer drops a stale one; mlx-lm would
        # treat one as a partly quantized model)
        src_cfg = base_config()
        del src_cfg["quantization"]
        model, cfg = mu.quantize_model(model, src_cfg, 64, 4, mode="affine", quant_predicate=mlx_lm_predicate())
    # false entries, in module order, as mlx_lm.awq's update_config writes them
    qz = cfg["quantization"]
    new = {k: qz[k] for k in ("group_size", "bits", "mode")}
    falses = {p for p, _, _, _, s in SPEC if s is False}
    for path, _ in tree_flatten(model.leaf_modules(), is_leaf=nn.Module.is_module):
        if path in qz:
            new[path] = qz[path]
        elif path in falses:
            new[path] = False
    cfg["quantization"] = new
    ref = os.path.join(TMP, "by-mlx-lm")
    mu.save_model(ref, model)
    mu.save_config(cfg, os.path.join(ref, "config.json"))
    a_text = open(os.path.join(out, "config.json")).read()
    b_text = open(os.path.join(ref, "config.json")).read()
    expect(a_text == b_text, f"config.json differs from mlx-lm's:\n--- libqnt\n{a_text[:800]}\n--- mlx-lm\n"
           f"{b_text[:800]}")
    ia = json.load(open(os.path.join(out, "model.safetensors.index.json")))
    ib = json.load(open(os.path.join(ref, "model.safetensors.index.json")))
    expect(ia["metadata"] == ib["metadata"], f"index metadata {ia['metadata']} vs mlx-lm's {ib['metadata']}")
    expect(sorted(ia["weight_map"]) == sorted(ib["weight_map"]), "index tensors differ from mlx-lm's")
    mine = {}
    for s in set(ia["weight_map"].values()):
        mine.update(mx.load(os.path.join(out, s)))
    theirs = mx.load(os.path.join(ref, "model.safetensors"))
    for k in theirs:
        expect(k in mine and same(mine[k], theirs[k]), f"{k}: libqnt's array differs from mlx-lm's")

    def classes(config):
        class Args:
            @classmethod
            def from_dict(cls, d):
                return cls()

        def make(args):
            m = build_model()
            return m
        return make, Args
    try:
        loaded_model, _ = mu.load_model(__import__("pathlib").Path(out), get_model_classes=classes)
        ok = True
    except Exception as e:  # noqa: BLE001
        ok = False
        print(f"   load_model: {type(e).__name__}: {e}")
    if expect(ok, "mlx_lm.utils.load_model cannot load libqnt's folder"):
        p1 = dict(tree_flatten(loaded_model.parameters()))
        expect(all(same(p1[k], mine[k]) for k in mine), "load_model's parameters differ from the files")
    # and libqnt reads mlx-lm's folder
    f = Folder(ref)
    if expect(f.status == OK, f"libqnt cannot read mlx-lm's folder: {f.error}"):
        ts = f.tensors()
        for path, (w, sc, b, s) in quantized_modules(model).items():
            i, t = ts[path + ".weight"]
            check_dequantize(f, path, i, t, w, sc, b, s, where="mlx-lm folder: ")
        f.close()
    print(f"   {'ok' if len(FAILURES) == nf else 'FAILED'}")


# ---------------------------------------------------------------------------
# 2. MLX writes

def save_sharded(d, arrays, n_shards, config):
    """Shards like mlx-lm's save_model (mx.save_safetensors, index)."""
    os.makedirs(d, exist_ok=True)
    names = list(arrays)
    per = (len(names) + n_shards - 1) // n_shards
    wm = {}
    for s in range(n_shards):
        fn = f"model-{s + 1:05d}-of-{n_shards:05d}.safetensors"
        part = {k: arrays[k] for k in names[s * per:(s + 1) * per]}
        mx.save_safetensors(os.path.join(d, fn), part, metadata={"format": "mlx"})
        wm.update({k: fn for k in part})
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as fh:
        json.dump({"metadata": {"total_size": sum(v.nbytes for v in arrays.values())},
                   "weight_map": dict(sorted(wm.items()))}, fh, indent=4)
    with open(os.path.join(d, "config.json"), "w") as fh:
        json.dump(config, fh, indent=4)


def mlx_folder(d, seed=7, n_shards=3):
    """A model quantized by nn.quantize with SPEC's settings (as mlx-lm's
    loader applies config.json), saved in shards."""
    model = build_model()
    fill_weights(model, seed)
    cfg = expected_config()
    specs = {p: s for p, _, _, _, s in SPEC}

    def pred(p, m):
        s = specs.get(p)
        if s is False or not hasattr(m, "to_quantized"):
            return False
        return dict(settings_of(s))
    nn.quantize(model, 64, 4, class_predicate=pred)
    arrays = dict(tree_flatten(model.parameters()))
    save_sharded(d, arrays, n_shards, cfg)
    return model, arrays, cfg


def test_mlx_writes():
    print("2. a folder written by MLX, read by libqnt")
    nf = len(FAILURES)
    d = os.path.join(TMP, "by-mlx")
    model, arrays, cfg = mlx_folder(d)
    f = Folder(d)
    if not expect(f.status == OK, f"libqnt cannot read the MLX folder: {f.error}"):
        return
    ts = f.tensors()
    qm = quantized_modules(model)
    for path, (w, sc, b, s) in qm.items():
        if not expect(path + ".weight" in ts, f"{path}.weight missing"):
            continue
        i, t = ts[path + ".weight"]
        shape = (*w.shape[:-1], w.shape[-1] * 32 // s["bits"])
        got = tuple(t.shape[k] for k in range(t.n_dims))
        expect(t.quantized and got == shape and MODES[t.mode] == s["mode"] and t.bits == s["bits"] and
               t.group_size == s["group_size"] and t.nelements == int(np.prod(shape)),
               f"{path}: libqnt sees {MODES[t.mode]} {t.bits}/{t.group_size} {got}, MLX {s} {shape}")
        expect(t.scale_dtype.decode() == ST_NAME[sc.dtype] and (t.part_data[BIASES] is None) == (b is None),
               f"{path}: scale dtype {t.scale_dtype}, biases {t.part_data[BIASES]}")
        expect(stored_array(t, CODES) == raw(w) and stored_array(t, SCALES) == raw(sc) and
               (b is None or stored_array(t, BIASES) == raw(b)), f"{path}: stored parts differ from MLX's arrays")
        want_type = -1 if s["bits"] == 1 else _lib.mdt_type_by_name(
            (f"mlx:{s['mode']}" + (f":{s['bits']}:{s['group_size']}" if s["mode"] == "affine" else "") +
             {mx.float32: ":f32", mx.float16: ":f16", mx.bfloat16: ":bf16"}[sc.dtype if s["mode"] == "affine"
                                                                         else mx.bfloat16]).encode())
        expect(t.type == want_type, f"{path}: type {t.type}, expected {want_type}")
        check_dequantize(f, path, i, t, w, sc, b, s, where="MLX folder: ")
    for k, v in arrays.items():
        mod = k.rpartition(".")[0]
        if mod in qm:
            continue
        if expect(k in ts, f"{k} missing"):
            _, t = ts[k]
            expect(not t.quantized and t.dtype.decode() == ST_NAME[v.dtype] and stored_array(t, CODES) == raw(v),
                   f"{k}: {t.dtype} differs from MLX's {v.dtype} array")
    expect(len(ts) == len(arrays) - sum(2 if b is not None else 1 for (_, _, b, _) in qm.values()),
           f"{len(ts)} logical tensors for {len(arrays)} arrays")
    f.close()
    # mx.save_safetensors does not align tensor data: U32 codes after an odd
    # count of BF16 elements are only 2-byte aligned; libqnt copies them
    expect(STATS["unaligned"] > 0, "no quantized tensor with unaligned codes: the copy path went untested")
    # without an index: model*.safetensors globbed, as mlx-lm's loader
    os.remove(os.path.join(d, "model.safetensors.index.json"))
    f = Folder(d)
    expect(f.status == OK and len(f.tensors()) == len(ts), f"without the index: {f.error}")
    f.close()
    print(f"   {len(qm)} quantized modules, {len(arrays)} arrays: {'ok' if len(FAILURES) == nf else 'FAILED'}")


# ---------------------------------------------------------------------------
# 3. nvfp4 experts with global scales

def test_global_scale():
    print("3. nvfp4 experts with a global scale per expert")
    nf = len(FAILURES)
    rng = np.random.default_rng(99)
    w = mx.array(rng.standard_normal((3, 16, 64)).astype(np.float32) * 0.3).astype(mx.bfloat16)
    gs = mx.max(mx.abs(w), axis=(-2, -1)).astype(mx.float32)
    ref = [mx.quantize(w[e], 16, 4, mode="nvfp4", global_scale=gs[e]) for e in range(3)]
    wq, sc = mx.stack([r[0] for r in ref]), mx.stack([r[1] for r in ref])
    d = os.path.join(TMP, "nvfp4-gs")
    os.makedirs(d)
    h = vp()
    assert _lib.mdt_w_create(d.encode(), None, 0, ctypes.byref(h)) == OK
    ty = _lib.mdt_type_by_name(b"mlx:nvfp4:bf16")
    idx = i64()
    assert _lib.mdt_w_add(h, b"experts.weight", ty, 3, shape_arg((3, 16, 64)), ADD_GLOBAL_SCALE,
                          ctypes.byref(idx)) == OK, last_error()
    codes = []
    scales = []
    for e in range(3):
        c, s, _ = qnt_quantize(w[e], NVFP4, 4, 16, global_scale=float(gs[e].item()))
        codes.append(c)
        scales.append(s)
    expect(same(mx.stack(codes), wq) and same(mx.stack(scales), sc), "libqnt's nvfp4 with global scale differs "
           "from mx.quantize")
    for p, a in ((CODES, mx.stack(codes)), (SCALES, mx.stack(scales)), (GLOBAL_SCALE, gs)):
        b = raw(a)
        assert _lib.mdt_w_write_part(h, 0, p, b, len(b)) == OK, last_error()
    assert _lib.mdt_w_finish(h) == OK, last_error()
    cfg = json.load(open(os.path.join(d, "config.json")))
    expect(cfg["quantization"] == {"group_size": 16, "bits": 4, "mode": "nvfp4",
                                   "experts": {"group_size": 16, "bits": 4, "mode": "nvfp4", "global_scale": True}},
           f"config {cfg}")
    arrays = mx.load(os.path.join(d, "model.safetensors"))
    expect(same(arrays["experts.global_scale"], gs), "global_scale array")
    f = Folder(d)
    if expect(f.status == OK, f.error):
        i, t = f.tensors()["experts.weight"]
        expect(t.n_matrices == 3 and t.part_data[GLOBAL_SCALE] is not None, "global scale part")
        check_dequantize(f, "experts", i, t, arrays["experts.weight"], arrays["experts.scales"], None,
                         q("nvfp4", 4, 16), gscale=gs, where="global scale: ")
        f.close()
    print(f"   {'ok' if len(FAILURES) == nf else 'FAILED'}")


# ---------------------------------------------------------------------------
# 4. malformed folders

def test_malformed():
    print("4. malformed folders")
    nf = len(FAILURES)
    base = os.path.join(TMP, "good")
    _, arrays, cfg = mlx_folder(base, seed=3, n_shards=2)

    def variant(name, arrays_=None, cfg_=None, n_shards=2, edit=None):
        d = os.path.join(TMP, "bad-" + name)
        save_sharded(d, arrays_ if arrays_ is not None else arrays, n_shards, cfg_ if cfg_ is not None else cfg)
        if edit:
            edit(d)
        return d

    def case(name, d, status, *needles):
        STATS["malformed"] += 1
        f = Folder(d)
        msg = f.error
        f.close()
        expect(f.status == status, f"{name}: status {f.status}, expected {status} ({msg})")
        for n in needles:
            expect(n in msg, f"{name}: message {msg!r} lacks {n!r}")
        print(f"   {name}: {msg}")

    v = "model.layers.0.self_attn.v_proj"
    d = variant("noconfig", edit=lambda d: os.remove(os.path.join(d, "config.json")))
    case("no config.json", d, E_NOT_FOUND, d, "config.json")
    d = os.path.join(TMP, "bad-nodir")
    case("no folder", d, E_NOT_FOUND, d)
    a = dict(arrays)
    a[v + ".weight"] = a[v + ".weight"][:, :-1]
    d = variant("packed", a)
    case("codes of the wrong packed shape", d, E_FORMAT, d, v + ".weight", "columns", "model-0000")
    a = dict(arrays)
    a[v + ".scales"] = a[v + ".scales"].astype(mx.float16)
    d = variant("scaledtype", a)
    case("scales dtype differs from the biases", d, E_FORMAT, d, v + ".biases", "F16", "BF16")
    a = dict(arrays)
    a[v + ".scales"] = a[v + ".scales"].astype(mx.uint8)
    a[v + ".biases"] = a[v + ".biases"].astype(mx.uint8)
    d = variant("scaleu8", a)
    case("affine scales of dtype U8", d, E_FORMAT, d, v + ".scales", "U8", "affine")
    a = dict(arrays)
    a[v + ".weight"] = a[v + ".weight"].astype(mx.int32)
    d = variant("codesdtype", a)
    case("codes not U32", d, E_FORMAT, d, v + ".weight", "I32")
    up = "model.layers.0.mlp.up_proj"
    a = dict(arrays)
    a[up + ".biases"] = mx.zeros(a[up + ".scales"].shape, dtype=mx.bfloat16)
    d = variant("fpbias", a)
    case("mxfp4 with biases", d, E_FORMAT, d, up + ".biases", "mxfp4")
    a = dict(arrays)
    del a[v + ".biases"]
    d = variant("nobias", a)
    case("affine without biases", d, E_FORMAT, d, v + ".scales", "biases")
    c = json.loads(json.dumps(cfg))
    c["quantization"]["model.layers.7.mlp.down_proj"] = {"group_size": 64, "bits": 4}
    d = variant("ghost", cfg_=c)
    case("override for a missing module", d, E_FORMAT, d, "config.json", "model.layers.7.mlp.down_proj")
    c = json.loads(json.dumps(cfg))
    c["quantization"]["model.layers.9.norm"] = False
    d = variant("ghostfalse", cfg_=c)
    case("false for a missing module", d, E_FORMAT, d, "config.json", "model.layers.9.norm")
    c = json.loads(json.dumps(cfg))
    c["quantization"][v] = False
    d = variant("falsequant", cfg_=c)
    case("false for a quantized module", d, E_FORMAT, d, v + ".scales", "false")
    c = json.loads(json.dumps(cfg))
    c["quantization"][v] = {"group_size": 64, "bits": 4}
    d = variant("wrongbits", cfg_=c)
    case("override that does not fit the arrays", d, E_FORMAT, d, v + ".weight", "bits 4")
    c = json.loads(json.dumps(cfg))
    c["quantization"][v] = {"group_size": 64, "bits": 7}
    d = variant("bits7", cfg_=c)
    case("override with bits MLX lacks", d, E_UNSUPPORTED, d, "config.json", v, "bits 7")
    c = json.loads(json.dumps(cfg))
    del c["quantization"]
    del c["quantization_config"]
    d = variant("noquant", cfg_=c)
    case("quantized tensors without \"quantization\"", d, E_FORMAT, d, "quantization", ".scales")
    d = variant("shard", edit=lambda d: os.remove(os.path.join(d, "model-00002-of-00002.safetensors")))
    case("missing shard", d, E_NOT_FOUND, d, "model-00002-of-00002.safetensors")

    def badjson(d):
        with open(os.path.join(d, "config.json"), "w") as fh:
            fh.write('{"quantization": {"bits": 4,}')
    d = variant("json", edit=badjson)
    case("invalid config.json", d, E_FORMAT, d, "config.json", "line 1")
    d = variant("noweights", edit=lambda d: [os.remove(os.path.join(d, x)) for x in os.listdir(d)
                                             if x.startswith("model")])
    case("no weights", d, E_NOT_FOUND, d, "model*.safetensors")
    # not malformed: a float parameter that merely ends in ".scales" (no U32
    # codes, no entry) is a tensor like any other, as for mlx-lm's loader
    d = os.path.join(TMP, "odd-scales")
    os.makedirs(d)
    odd = {"ln.weight": mx.ones((8,)), "ln.scales": mx.arange(8).astype(mx.float32)}
    mx.save_safetensors(os.path.join(d, "model.safetensors"), odd, metadata={"format": "mlx"})
    with open(os.path.join(d, "config.json"), "w") as fh:
        fh.write("{}")
    f = Folder(d)
    ts = f.tensors() if f.status == OK else {}
    expect(sorted(ts) == ["ln.scales", "ln.weight"] and not any(t.quantized for _, t in ts.values()) and
           stored_array(ts["ln.scales"][1], CODES) == raw(odd["ln.scales"]), f"float .scales tensor: {f.error}")
    f.close()
    print(f"   {'ok' if len(FAILURES) == nf else 'FAILED'}")


# ---------------------------------------------------------------------------
# 5. writer errors leave nothing

def test_writer_errors():
    print("5. writer errors and atomicity")
    nf = len(FAILURES)
    d = os.path.join(TMP, "werr")
    os.makedirs(d)

    def new(cfg=None):
        h = vp()
        st = _lib.mdt_w_create(d.encode(), cfg, 0, ctypes.byref(h))
        return st, h
    st, h = new(b"[1, 2]")
    expect(st == E_FORMAT and "not a JSON object" in last_error(), f"array config: {st} {last_error()}")
    st, h = new(b"{bad")
    expect(st == E_FORMAT and "base config" in last_error(), f"bad config: {st} {last_error()}")
    st, h = new()
    ty = _lib.mdt_type_by_name(b"mlx:affine:4:64:bf16")
    idx = i64()
    expect(_lib.mdt_w_add(h, b"x.bias", ty, 2, shape_arg((4, 64)), 0, ctypes.byref(idx)) == E_INVALID_ARG,
           "quantized tensor not named .weight")
    expect(_lib.mdt_w_add(h, b"x.weight", ty, 2, shape_arg((4, 96)), 0, ctypes.byref(idx)) == -8,
           "width not a multiple of the group")
    expect(_lib.mdt_w_add(h, b"x.weight", ty, 1, shape_arg((64,)), 0, ctypes.byref(idx)) == -8, "1-D quantized")
    expect(_lib.mdt_w_add_quant(h, b"x.weight", AFFINE, 7, 64, T_BF16, 2, shape_arg((4, 64)), 0,
                                ctypes.byref(idx)) == E_UNSUPPORTED, "7 bits")
    expect(_lib.mdt_w_add(h, b"x.weight", ty, 2, shape_arg((4, 64)), ADD_GLOBAL_SCALE, ctypes.byref(idx)) ==
           E_INVALID_ARG, "global scale on affine")
    expect(_lib.mdt_w_add(h, b"x.weight", ty, 2, shape_arg((4, 64)), 0, ctypes.byref(idx)) == OK, last_error())
    expect(_lib.mdt_w_add(h, b"x.weight", T_F32, 1, shape_arg((4,)), 0, ctypes.byref(idx)) == E_INVALID_ARG,
           "declared twice")
    expect(_lib.mdt_w_copy_file(h, b"/etc/hostname", b"../x") == E_INVALID_ARG, "copy to a path")
    expect(_lib.mdt_w_copy_file(h, b"/etc/hostname", b"config.json") == E_INVALID_ARG, "copy over config.json")
    b = bytes(4 * 64 * 4 // 8)
    expect(_lib.mdt_w_write_part(h, 0, SCALES, b, len(b)) == E_INVALID_ARG, "parts out of order")
    _lib.mdt_w_abort(h)
    expect(os.listdir(d) == [], f"abort left {os.listdir(d)}")
    # finish with data missing: nothing left
    st, h = new(b'{"a": 1}')
    assert _lib.mdt_w_add(h, b"x.weight", ty, 2, shape_arg((4, 64)), 0, ctypes.byref(idx)) == OK
    assert _lib.mdt_w_write_part(h, 0, CODES, b, len(b)) == OK, last_error()
    st = _lib.mdt_w_finish(h)
    expect(st == E_INVALID_ARG and "missing" in last_error(), f"finish with data missing: {st} {last_error()}")
    expect(os.listdir(d) == [], f"failed finish left {os.listdir(d)}")
    # a copy that cannot be read: nothing left either
    st, h = new()
    assert _lib.mdt_w_add(h, b"n.weight", T_F32, 1, shape_arg((2,)), 0, ctypes.byref(idx)) == OK
    assert _lib.mdt_w_copy_file(h, os.path.join(TMP, "no-such-file").encode(), b"tokenizer.json") == OK
    assert _lib.mdt_w_write_part(h, 0, CODES, bytes(8), 8) == OK
    st = _lib.mdt_w_finish(h)
    expect(st == E_NOT_FOUND and "no-such-file" in last_error(), f"bad copy: {st} {last_error()}")
    expect(os.listdir(d) == [], f"failed copy left {os.listdir(d)}")
    # a float-only folder: no quantization keys at all
    st, h = new(b'{"quantization": {"bits": 4}, "quantization_config": {"quant_method": "gptq"}, "b": 2}')
    assert _lib.mdt_w_add(h, b"n.weight", T_F32, 1, shape_arg((2,)), 0, ctypes.byref(idx)) == OK
    assert _lib.mdt_w_write_part(h, 0, CODES, bytes(8), 8) == OK
    expect(_lib.mdt_w_finish(h) == OK, last_error())
    expect(json.load(open(os.path.join(d, "config.json"))) == {"b": 2}, "float folder config")
    f = Folder(d)
    expect(f.status == OK and list(f.tensors()) == ["n.weight"], f"float folder read: {f.error}")
    f.close()
    print(f"   {'ok' if len(FAILURES) == nf else 'FAILED'}")


def main():
    print(f"mlx {mx.__version__}")
    try:
        out, model, _ = test_libqnt_writes()
        test_mlx_lm(out, model)
        test_mlx_writes()
        test_global_scale()
        test_malformed()
        test_writer_errors()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
    print(f"totals: {STATS['checks']} checks, {STATS['arrays']} arrays compared, {STATS['dequantized']} "
          f"dequantizations compared ({STATS['unaligned']} tensors with unaligned codes), "
          f"{STATS['malformed']} malformed folders")
    if FAILURES:
        print(f"{len(FAILURES)} failure(s)")
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
