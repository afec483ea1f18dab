# SPDX-License-Identifier: MIT
"""libqnt's mlx-lm presets (mixed_2_6, mixed_3_4, mixed_3_6, mixed_4_6)
against mlx-lm's own predicate.

mlx-lm's mixed recipes are the function mixed_quant_predicate_builder of
mlx_lm/convert.py. Importing mlx_lm.convert pulls in transformers; to stay
light this test takes that one function from the installed package's source
(it uses nothing but its arguments) and calls it with a stand-in model that
has the module names of a Hugging Face llama. For each model shape (1 to 36
layers, with and without lm_head, rows that are and are not multiples of the
group) the bits mlx-lm gives every module must equal the type
qnt_recipe_plan chooses for the module's weight; where mlx-lm's
quantize_model skips a module (rows not a multiple of the group size, 64) the
plan must keep the tensor. The scales' dtype follows the source (f16 here).

Needs mlx-lm (pip install --no-deps mlx-lm is enough). mlx-lm is not in
tests/requirements-ref.txt (its dependencies include transformers), so
without it the test exits 77 (skip) even under QNT_REQUIRE_REFERENCE=1;
QNT_REQUIRE_MLX_LM=1 makes that a failure. tests/unit/test_recipe.c checks
the same rules as mlx-lm's source states them without it."""
import ast
import ctypes
import importlib.util
import os
import sys
import types
import typing


def skip(msg):
    if os.environ.get("QNT_REQUIRE_MLX_LM") == "1":
        print(f"FAIL: {msg}", file=sys.stderr)
        sys.exit(1)
    print(f"SKIP: {msg}")
    sys.exit(77)


spec = importlib.util.find_spec("mlx_lm")
if spec is None or not spec.submodule_search_locations:
    skip("mlx_lm (mlx-lm) is not installed")
CONVERT = os.path.join(list(spec.submodule_search_locations)[0], "convert.py")


def load_builder():
    tree = ast.parse(open(CONVERT).read(), CONVERT)
    fn = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "mixed_quant_predicate_builder"]
    recipes = [n for n in tree.body if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == "QUANT_RECIPES"]
    if not fn or not recipes:
        skip(f"{CONVERT} has no mixed_quant_predicate_builder / QUANT_RECIPES")
    ns = {"Callable": typing.Callable, "Union": typing.Union, "nn": types.SimpleNamespace(Module=object)}
    exec(compile(ast.Module(body=fn + recipes, type_ignores=[]), CONVERT, "exec"), ns)
    return ns["mixed_quant_predicate_builder"], ns["QUANT_RECIPES"]


# ---- libqnt ----------------------------------------------------------------

lib = ctypes.CDLL(os.environ.get("QNT_LIB", "libqnt.so.1"))
vp = ctypes.c_void_p


class RecipeModel(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("name_style", ctypes.c_uint32),
                ("n_layer", ctypes.c_int64), ("n_expert", ctypes.c_int64),
                ("n_head", ctypes.c_int64), ("n_head_kv", ctypes.c_int64),
                ("arch", ctypes.c_char_p), ("flags", ctypes.c_uint32), ("reserved", ctypes.c_uint32)]


class MlxParams(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("mode", ctypes.c_int32), ("bits", ctypes.c_int32),
                ("group_size", ctypes.c_int32), ("dtype", ctypes.c_int32), ("flags", ctypes.c_uint32),
                ("global_scale", ctypes.c_float), ("reserved", ctypes.c_uint32)]


lib.qnt_recipe_preset.argtypes = [ctypes.c_char_p, ctypes.POINTER(vp)]
lib.qnt_recipe_free.argtypes = [vp]
lib.qnt_recipe_plan.argtypes = [vp, vp, ctypes.POINTER(RecipeModel), ctypes.c_int64,
                                ctypes.POINTER(ctypes.c_char_p), ctypes.POINTER(ctypes.c_uint32),
                                ctypes.POINTER(ctypes.c_int64), ctypes.POINTER(ctypes.c_int32),
                                ctypes.POINTER(ctypes.c_int32), ctypes.POINTER(ctypes.c_uint32), ctypes.c_char_p]
lib.qnt_mlx_type.argtypes = [ctypes.POINTER(MlxParams)]
lib.qnt_mlx_type.restype = ctypes.c_int32
lib.qnt_ctx_last_error.argtypes = [vp]
lib.qnt_ctx_last_error.restype = ctypes.c_char_p
F32, F16, KEEP = 0, 1, 0x1


def mlx_type(bits, group=64):
    p = MlxParams(ctypes.sizeof(MlxParams), 0, bits, group, F16, 0, 0.0, 0)
    return lib.qnt_mlx_type(ctypes.byref(p))


def plan(recipe, tensors, n_layer):
    r = vp()
    assert lib.qnt_recipe_preset(recipe.encode(), ctypes.byref(r)) == 0
    n = len(tensors)
    m = RecipeModel(ctypes.sizeof(RecipeModel), 1, n_layer, 0, 0, 0, b"llama", 0, 0)
    names = (ctypes.c_char_p * n)(*[t[0].encode() for t in tensors])
    dims = (ctypes.c_uint32 * n)(*[len(t[1]) for t in tensors])
    ne = (ctypes.c_int64 * (4 * n))()
    for i, t in enumerate(tensors):
        for d, v in enumerate(t[1]):
            ne[4 * i + d] = v
    src = (ctypes.c_int32 * n)(*[t[2] for t in tensors])
    out = (ctypes.c_int32 * n)()
    flags = (ctypes.c_uint32 * n)()
    st = lib.qnt_recipe_plan(None, r, ctypes.byref(m), n, names, dims, ne, src, out, flags, None)
    lib.qnt_recipe_free(r)
    assert st == 0, lib.qnt_ctx_last_error(None)
    return list(out), list(flags)


def hf_llama(n_layer, dim, ff, kv_dim, tied):
    """(module path, weight ne (row length first)) of the Linear/Embedding
    modules, and the 1-D norms, of a Hugging Face llama."""
    mods = [("model.embed_tokens", [dim, 512])]
    for i in range(n_layer):
        p = f"model.layers.{i}."
        mods += [(p + "self_attn.q_proj", [dim, dim]), (p + "self_attn.k_proj", [dim, kv_dim]),
                 (p + "self_attn.v_proj", [dim, kv_dim]), (p + "self_attn.o_proj", [dim, dim]),
                 (p + "mlp.gate_proj", [dim, ff]), (p + "mlp.up_proj", [dim, ff]),
                 (p + "mlp.down_proj", [ff, dim])]
    if not tied:
        mods.append(("lm_head", [dim, 512]))
    norms = [f"model.layers.{i}.input_layernorm" for i in range(n_layer)] + ["model.norm"]
    return mods, norms


class FakeModel:
    """What mixed_quant_predicate_builder reads: named_modules() and layers."""

    def __init__(self, mods, n_layer):
        self.layers = [None] * n_layer
        self._names = [""] + [m for m, _ in mods]

    def named_modules(self):
        return [(n, None) for n in self._names]


SHAPES = [(1, 256, 512, 256, False), (4, 256, 512, 64, True), (8, 128, 200, 128, False),
          (12, 256, 704, 64, False), (32, 64, 192, 32, True), (36, 192, 320, 64, False)]


def main():
    builder, recipes = load_builder()
    n_cmp = 0
    failures = []
    for recipe in recipes:
        for n_layer, dim, ff, kv_dim, tied in SHAPES:
            mods, norms = hf_llama(n_layer, dim, ff, kv_dim, tied)
            pred = builder(recipe, FakeModel(mods, n_layer), 64)
            tensors = [(m + ".weight", ne, F16) for m, ne in mods] + [(n + ".weight", [dim], F32) for n in norms]
            types_, flags = plan(recipe, tensors, n_layer)
            for i, (m, ne) in enumerate(mods):
                if ne[0] % 64 != 0:  # quantize_model's wrapped_predicate: not quantized
                    want = None
                else:
                    q = pred(m, None)
                    want = mlx_type(q["bits"]) if isinstance(q, dict) else None
                got = None if flags[i] & KEEP else types_[i]
                n_cmp += 1
                if got != want:
                    failures.append(f"{recipe}, {n_layer} layers: {m} {ne}: mlx-lm {want}, libqnt {got}")
            for i in range(len(mods), len(tensors)):
                n_cmp += 1
                if not flags[i] & KEEP:
                    failures.append(f"{recipe}: {tensors[i][0]} (1-D) not kept")
    print(f"{CONVERT}: {len(recipes)} recipes, {n_cmp} modules compared")
    for f in failures[:40]:
        print("FAIL:", f)
    if failures:
        sys.exit(1)
    print("every mlx-lm mixed recipe matches on every shape")


if __name__ == "__main__":
    main()
