/* SPDX-License-Identifier: MIT */
/*
 * The compiled-in recipes, as data in the rule language of recipe.h (what
 * qnt_recipe_to_json prints and qnt_recipe_parse reads back):
 *
 *   - llama-quantize's file types (Q4_K_M, Q3_K_S, IQ4_XS, ...): the choices
 *     of llama.cpp's src/llama-quant.cpp (llama_tensor_get_type and its
 *     fallback table), written down as rules and checked against
 *     llama_model_quantize itself by tests/interop/test_recipes.py;
 *   - mlx-lm's mixed recipes (mlx_lm/convert.py, mixed_quant_predicate_builder):
 *     v_proj / down_proj of the layers use_more_bits picks, and lm_head, get
 *     the high bit width, everything else the low one, affine, group 64.
 *
 * In llama.cpp the choices form one if/else chain per tensor category; here
 * each preset holds the rules of its own file type only, in the chain's
 * order, so the first rule that holds decides. Positions: attn_v uses its
 * ordinal among the attn_v-like tensors (llama's i_attention_wv counter),
 * the FFN tensors the layer number over n_layer (what the counters amount
 * to in a dense model, and what llama.cpp parses from the name in a MoE).
 */
#include "recipe.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define K(x) (1u << QNT__K_##x)
#define ATTN_V_KINDS (K(ATTN_V) | K(ATTN_QKV) | K(ATTN_KV_B))

/* Tensors llama-quantize never quantizes (tensor_allows_quantization). */
#define LLAMA_KEEP                                                                                                 \
	{ .note = "not a weight", .not_match = "weight$", .type = "keep" },                                        \
	{ .note = "norm", .kinds = K(NORM), .type = "keep" },                                                      \
	{ .note = "expert router", .kinds = K(ROUTER), .type = "keep" },                                           \
	{ .note = "small or special tensors llama.cpp leaves as they are",                                         \
	  .match = "ffn_gate_tid2eid\\.weight|altup|laurel|per_layer_model_proj|ssm_conv1d|"                       \
		   "shortconv\\.conv\\.weight|indexer\\.[kq]_proj\\.weight|"                                       \
		   "time_mix_(first|w0|w1|w2|v0|v1|v2|a0|a1|a2|g1|g2|decay_w1|decay_w2|lerp_fused)\\.weight|"      \
		   "attn_rel_b\\.weight|\\.position_embd|sam\\.pos_embd|sam\\.neck\\.|sam\\.net_|\\.rel_pos|"      \
		   "\\.patch_embd|\\.patch_merger|a\\.rvq\\.codebook|mm\\.a\\.code_embd",                          \
	  .type = "keep" },                                                                                         \
	{ .note = "positional and token-type embeddings",                                                          \
	  .match = "^(position_embd|token_types)\\.weight$",                                                       \
	  .type = "keep" }

/* output.weight, and token_embd when it doubles as the output (no
 * output.weight in the model): q8_0 when the row does not fit the default
 * type's block B (or for falcon), else T. */
#define LLAMA_OUTPUT(B, T)                                                                                         \
	{ .note = "output, row not a multiple of the default block", .kinds = K(OUTPUT), .row_not_multiple = B,    \
	  .type = "q8_0" },                                                                                         \
	{ .note = "output of falcon", .kinds = K(OUTPUT), .arch = "falcon", .type = "q8_0" },                      \
	{ .note = "output", .kinds = K(OUTPUT), .type = T },                                                       \
	{ .note = "token_embd tied to the output, row not a multiple of the default block",                        \
	  .kinds = K(TOKEN_EMBD), .tied = 1, .row_not_multiple = B, .type = "q8_0" },                              \
	{ .note = "token_embd tied to the output, falcon", .kinds = K(TOKEN_EMBD), .tied = 1, .arch = "falcon",    \
	  .type = "q8_0" },                                                                                         \
	{ .note = "token_embd tied to the output", .kinds = K(TOKEN_EMBD), .tied = 1, .type = T }

#define MOE8 .n_expert_min = 8, .n_expert_max = 8
#define LLAMA_70B .arch = "llama", .n_layer_min = 80, .n_layer_max = 80, .grouped_kv = 1
#define NOT_FALCON .not_arch = "falcon"

#define ATTN_V_MOE8 { .note = "attn_v, 8 experts", .kinds = ATTN_V_KINDS, MOE8, .type = "q8_0" }
#define ATTN_V_70B { .note = "attn_v of a 70B llama", .kinds = ATTN_V_KINDS, LLAMA_70B, .type = "q5_K" }
#define ATTN_K_MOE8 { .note = "attn_k, 8 experts", .kinds = K(ATTN_K), MOE8, .type = "q8_0" }
#define ATTN_OUT_MOE8(T) { .note = "attn_output, 8 experts", .kinds = K(ATTN_OUTPUT), NOT_FALCON, MOE8, .type = T }

/* i < n/8 || i >= 7n/8 || (i - n/8) % 3 == 2 */
#define MORE_BITS_ORD .index = QNT__IDX_ORDINAL, .more_bits = 1
#define MORE_BITS_LAYER .index = QNT__IDX_LAYER, .more_bits = 1
#define FIRST_EIGHTH .index = QNT__IDX_LAYER, .lt_frac = { 1, 8 }

static const struct qnt__rule_def r_float[] = { LLAMA_KEEP };

static const struct qnt__rule_def r_q8_0[] = { LLAMA_KEEP };

static const struct qnt__rule_def r_q4_0[] = {
	LLAMA_KEEP, LLAMA_OUTPUT(32, "q6_K"), ATTN_V_MOE8, ATTN_K_MOE8,
	{ .note = "first eighth of ffn_down, with an imatrix", .kinds = K(FFN_DOWN), .imatrix = 1, FIRST_EIGHTH,
	  .type = "q4_1" },
};

static const struct qnt__rule_def r_q5_0[] = {
	LLAMA_KEEP, LLAMA_OUTPUT(32, "q6_K"), ATTN_V_MOE8, ATTN_K_MOE8,
	{ .note = "first eighth of ffn_down, with an imatrix", .kinds = K(FFN_DOWN), .imatrix = 1, FIRST_EIGHTH,
	  .type = "q5_1" },
};

static const struct qnt__rule_def r_legacy_1[] = { LLAMA_KEEP, LLAMA_OUTPUT(32, "q6_K"), ATTN_V_MOE8, ATTN_K_MOE8 };

static const struct qnt__rule_def r_q2_k[] = {
	LLAMA_KEEP, LLAMA_OUTPUT(256, "q6_K"), ATTN_V_MOE8, ATTN_V_70B,
	{ .note = "attn_v, GQA >= 4", .kinds = ATTN_V_KINDS, .gqa_min = 4, .type = "q4_K" },
	{ .note = "attn_v", .kinds = ATTN_V_KINDS, .type = "q3_K" },
	ATTN_K_MOE8,
	{ .note = "ffn_down", .kinds = K(FFN_DOWN), .type = "q3_K" },
	ATTN_OUT_MOE8("q5_K"),
	{ .note = "attn_output", .kinds = K(ATTN_OUTPUT), NOT_FALCON, .type = "q3_K" },
};

static const struct qnt__rule_def r_q2_k_s[] = {
	LLAMA_KEEP, LLAMA_OUTPUT(256, "q6_K"), ATTN_V_MOE8,
	{ .note = "attn_v of a 70B llama, GQA >= 4", .kinds = ATTN_V_KINDS, LLAMA_70B, .gqa_min = 4, .type = "q5_K" },
	{ .note = "attn_v, GQA >= 4", .kinds = ATTN_V_KINDS, .gqa_min = 4, .type = "q4_K" },
	ATTN_K_MOE8,
	{ .note = "first eighth of ffn_down", .kinds = K(FFN_DOWN), FIRST_EIGHTH, .type = "q4_K" },
};

static const struct qnt__rule_def r_q3_k_s[] = {
	LLAMA_KEEP, LLAMA_OUTPUT(256, "q6_K"), ATTN_V_MOE8, ATTN_V_70B, ATTN_K_MOE8, ATTN_OUT_MOE8("q5_K"),
};

static const struct qnt__rule_def r_q3_k_m[] = {
	LLAMA_KEEP, LLAMA_OUTPUT(256, "q6_K"), ATTN_V_MOE8, ATTN_V_70B,
	{ .note = "first two attn_v", .kinds = ATTN_V_KINDS, .index = QNT__IDX_ORDINAL, .lt = 2, .type = "q5_K" },
	{ .note = "attn_v", .kinds = ATTN_V_KINDS, .type = "q4_K" },
	ATTN_K_MOE8,
	{ .note = "first sixteenth of ffn_down", .kinds = K(FFN_DOWN), .index = QNT__IDX_LAYER, .lt_frac = { 1, 16 },
	  .type = "q5_K" },
	{ .note = "ffn_down", .kinds = K(FFN_DOWN), NOT_FALCON, .type = "q4_K" },
	{ .note = "ffn_down of falcon, more bits", .kinds = K(FFN_DOWN), MORE_BITS_LAYER, .type = "q4_K" },
	ATTN_OUT_MOE8("q5_K"),
	{ .note = "attn_output", .kinds = K(ATTN_OUTPUT), NOT_FALCON, .type = "q4_K" },
};

static const struct qnt__rule_def r_q3_k_l[] = {
	LLAMA_KEEP, LLAMA_OUTPUT(256, "q6_K"), ATTN_V_MOE8,
	{ .note = "attn_v", .kinds = ATTN_V_KINDS, .type = "q5_K" },
	ATTN_K_MOE8,
	{ .note = "ffn_down of falcon", .kinds = K(FFN_DOWN), .arch = "falcon", .type = "q4_K" },
	{ .note = "ffn_down", .kinds = K(FFN_DOWN), .type = "q5_K" },
	ATTN_OUT_MOE8("default"),
	{ .note = "attn_output", .kinds = K(ATTN_OUTPUT), NOT_FALCON, .type = "q5_K" },
	{ .note = "attn_output of falcon", .kinds = K(ATTN_OUTPUT), .type = "q4_K" },
};

static const struct qnt__rule_def r_q4_k_s[] = {
	LLAMA_KEEP, LLAMA_OUTPUT(256, "q6_K"), ATTN_V_MOE8, ATTN_V_70B,
	{ .note = "first four attn_v", .kinds = ATTN_V_KINDS, .index = QNT__IDX_ORDINAL, .lt = 4, .type = "q5_K" },
	ATTN_K_MOE8,
	{ .note = "first eighth of ffn_down", .kinds = K(FFN_DOWN), NOT_FALCON, FIRST_EIGHTH, .type = "q5_K" },
	ATTN_OUT_MOE8("q5_K"),
};

static const struct qnt__rule_def r_q4_k_m[] = {
	LLAMA_KEEP, LLAMA_OUTPUT(256, "q6_K"), ATTN_V_MOE8,
	{ .note = "attn_v, more bits", .kinds = ATTN_V_KINDS, MORE_BITS_ORD, .type = "q6_K" },
	ATTN_V_70B, ATTN_K_MOE8,
	{ .note = "first sixteenth of ffn_down of falcon", .kinds = K(FFN_DOWN), .arch = "falcon",
	  .index = QNT__IDX_LAYER, .lt_frac = { 1, 16 }, .type = "q6_K" },
	{ .note = "ffn_down of falcon, more bits", .kinds = K(FFN_DOWN), .arch = "falcon", MORE_BITS_LAYER,
	  .type = "q5_K" },
	{ .note = "ffn_down of falcon", .kinds = K(FFN_DOWN), .arch = "falcon", .type = "default" },
	{ .note = "ffn_down, more bits", .kinds = K(FFN_DOWN), MORE_BITS_LAYER, .type = "q6_K" },
	ATTN_OUT_MOE8("q5_K"),
};

static const struct qnt__rule_def r_q5_k_s[] = { LLAMA_KEEP, LLAMA_OUTPUT(256, "q6_K"), ATTN_V_MOE8, ATTN_K_MOE8 };

static const struct qnt__rule_def r_q5_k_m[] = {
	LLAMA_KEEP, LLAMA_OUTPUT(256, "q6_K"), ATTN_V_MOE8,
	{ .note = "attn_v, more bits", .kinds = ATTN_V_KINDS, MORE_BITS_ORD, .type = "q6_K" },
	ATTN_K_MOE8,
	{ .note = "ffn_down, more bits", .kinds = K(FFN_DOWN), MORE_BITS_LAYER, .type = "q6_K" },
};

static const struct qnt__rule_def r_q6_k[] = { LLAMA_KEEP, LLAMA_OUTPUT(256, "q6_K"), ATTN_V_MOE8, ATTN_K_MOE8 };

#define R_IQ4(B)                                                                                                   \
	LLAMA_KEEP, LLAMA_OUTPUT(B, "q6_K"), ATTN_V_MOE8,                                                          \
	{ .note = "attn_v, GQA >= 4", .kinds = ATTN_V_KINDS, .gqa_min = 4, .type = "q5_K" },                       \
	ATTN_K_MOE8,                                                                                                \
	{ .note = "first eighth of ffn_down, no imatrix", .kinds = K(FFN_DOWN), .imatrix = -1, FIRST_EIGHTH,       \
	  .type = "q5_K" },                                                                                         \
	ATTN_OUT_MOE8("q5_K")

static const struct qnt__rule_def r_iq4_nl[] = { R_IQ4(32) };
static const struct qnt__rule_def r_iq4_xs[] = { R_IQ4(256) };

#define ATTN_V_GQA4_70B                                                                                            \
	{ .note = "attn_v of a 70B llama, GQA >= 4", .kinds = ATTN_V_KINDS, LLAMA_70B, .gqa_min = 4, .type = "q5_K" }, \
	{ .note = "attn_v, GQA >= 4", .kinds = ATTN_V_KINDS, .gqa_min = 4, .type = "q4_K" }

static const struct qnt__rule_def r_iq3_xs[] = {
	LLAMA_KEEP, LLAMA_OUTPUT(256, "q6_K"), ATTN_V_MOE8, ATTN_V_GQA4_70B, ATTN_K_MOE8,
	{ .note = "attn_k", .kinds = K(ATTN_K), .type = "iq3_xxs" },
	{ .note = "attn_q", .kinds = K(ATTN_Q), .type = "iq3_xxs" },
	ATTN_OUT_MOE8("q5_K"),
	{ .note = "ffn_gate and ffn_up between the first and the last eighth", .kinds = K(FFN_GATE) | K(FFN_UP),
	  .index = QNT__IDX_LAYER, .ge_frac = { 1, 8 }, .lt_frac = { 7, 8 }, .type = "iq3_xxs" },
};

static const struct qnt__rule_def r_iq3_s[] = {
	LLAMA_KEEP, LLAMA_OUTPUT(256, "q6_K"), ATTN_V_MOE8, ATTN_V_GQA4_70B, ATTN_K_MOE8, ATTN_OUT_MOE8("q5_K"),
};

static const struct qnt__rule_def r_iq3_m[] = {
	LLAMA_KEEP, LLAMA_OUTPUT(256, "q6_K"), ATTN_V_MOE8, ATTN_V_70B,
	{ .note = "attn_v", .kinds = ATTN_V_KINDS, .type = "q4_K" },
	ATTN_K_MOE8,
	{ .note = "first eighth of ffn_down", .kinds = K(FFN_DOWN), FIRST_EIGHTH, .type = "q4_K" },
	{ .note = "ffn_down, 8 experts, more bits", .kinds = K(FFN_DOWN), MOE8, MORE_BITS_LAYER, .type = "q4_K" },
	ATTN_OUT_MOE8("q5_K"),
	{ .note = "attn_output", .kinds = K(ATTN_OUTPUT), NOT_FALCON, .type = "q4_K" },
};

static const struct qnt__rule_def r_iq3_xxs[] = {
	LLAMA_KEEP, LLAMA_OUTPUT(256, "q5_K"),
	{ .note = "token_embd", .kinds = K(TOKEN_EMBD), .type = "iq3_s" },
	ATTN_V_MOE8, ATTN_V_GQA4_70B,
	{ .note = "attn_v, no imatrix", .kinds = ATTN_V_KINDS, .imatrix = -1, .type = "iq3_s" },
	ATTN_K_MOE8,
	{ .note = "attn_k", .kinds = K(ATTN_K), .type = "iq2_s" },
	{ .note = "attn_q", .kinds = K(ATTN_Q), .type = "iq2_s" },
	{ .note = "first eighth of ffn_down, no imatrix", .kinds = K(FFN_DOWN), .imatrix = -1, FIRST_EIGHTH,
	  .type = "q4_K" },
	{ .note = "ffn_down, no imatrix", .kinds = K(FFN_DOWN), .imatrix = -1, .type = "q3_K" },
	ATTN_OUT_MOE8("q5_K"),
	{ .note = "attn_output", .kinds = K(ATTN_OUTPUT), NOT_FALCON, .type = "iq3_s" },
};

/* IQ2_XXS, IQ2_XS, IQ2_S, IQ2_M, IQ1_S, IQ1_M: E is token_embd's type, L the
 * type of attn_v and of the first eighth of ffn_down, A attn_output's. */
#define R_IQ2(E, L, A)                                                                                             \
	LLAMA_KEEP, LLAMA_OUTPUT(256, "q5_K"),                                                                     \
	{ .note = "token_embd", .kinds = K(TOKEN_EMBD), .type = E },                                               \
	{ .note = "attn_v, GQA >= 4", .kinds = ATTN_V_KINDS, .gqa_min = 4, .type = "q4_K" },                       \
	{ .note = "attn_v, 4 experts or more", .kinds = ATTN_V_KINDS, .n_expert_min = 4, .type = "q4_K" },         \
	{ .note = "attn_v", .kinds = ATTN_V_KINDS, .type = L },                                                    \
	{ .note = "attn_k, 8 experts", .kinds = K(ATTN_K), MOE8, .type = "q4_K" },                                 \
	{ .note = "first eighth of ffn_down", .kinds = K(FFN_DOWN), FIRST_EIGHTH, .type = L },                     \
	{ .note = "attn_output, 8 experts", .kinds = K(ATTN_OUTPUT), MOE8, .type = "q5_K" },                       \
	{ .note = "attn_output", .kinds = K(ATTN_OUTPUT), .type = A }

static const struct qnt__rule_def r_iq2_xxs[] = { R_IQ2("q2_K", "q2_K", "default") };
static const struct qnt__rule_def r_iq2_s[] = { R_IQ2("iq3_s", "iq3_s", "iq3_s") };
static const struct qnt__rule_def r_iq1[] = { R_IQ2("q2_K", "q2_K", "iq2_xxs") };

static const struct qnt__rule_def r_ternary[] = {
	LLAMA_KEEP, LLAMA_OUTPUT(256, "q6_K"),
	{ .note = "token_embd", .kinds = K(TOKEN_EMBD), .type = "q4_K" },
	ATTN_V_MOE8, ATTN_K_MOE8,
};

static const struct qnt__rule_def r_q2_0[] = {
	LLAMA_KEEP, LLAMA_OUTPUT(64, "q6_K"),
	{ .note = "token_embd", .kinds = K(TOKEN_EMBD), .type = "q4_K" },
	ATTN_V_MOE8, ATTN_K_MOE8,
};

static const struct qnt__rule_def r_q1_0[] = { LLAMA_KEEP, LLAMA_OUTPUT(128, "q6_K"), ATTN_V_MOE8, ATTN_K_MOE8 };

static const struct qnt__rule_def r_nvfp4[] = { LLAMA_KEEP, LLAMA_OUTPUT(64, "q6_K"), ATTN_V_MOE8, ATTN_K_MOE8 };

static const struct qnt__rule_def r_mxfp4_moe[] = {
	LLAMA_KEEP,
	{ .note = "output", .kinds = K(OUTPUT), .type = "q8_0" },
	{ .note = "token_embd tied to the output", .kinds = K(TOKEN_EMBD), .tied = 1, .type = "q8_0" },
	{ .note = "expert tensors", .ne2_min = 2, .not_arch = "bailingmoe3", .type = "mxfp4" },
	{ .note = "expert tensors of bailingmoe3", .ne2_min = 2, .arch = "bailingmoe3",
	  .kinds = K(FFN_UP) | K(FFN_GATE) | K(FFN_DOWN), .type = "mxfp4" },
	{ .note = "not an expert tensor", .type = "q8_0" },
};

/* llama-quantize's fallback for rows that do not fit the block
 * (tensor_type_fallback); when the fallback does not fit either: f16. */
static const struct qnt__fallback llama_fallback[] = {
	{ QNT_TYPE_IQ1_S, QNT_TYPE_IQ4_NL },   { QNT_TYPE_IQ1_M, QNT_TYPE_IQ4_NL },  { QNT_TYPE_IQ2_XXS, QNT_TYPE_IQ4_NL },
	{ QNT_TYPE_IQ2_XS, QNT_TYPE_IQ4_NL },  { QNT_TYPE_IQ2_S, QNT_TYPE_IQ4_NL },  { QNT_TYPE_IQ3_XXS, QNT_TYPE_IQ4_NL },
	{ QNT_TYPE_IQ3_S, QNT_TYPE_IQ4_NL },   { QNT_TYPE_IQ4_XS, QNT_TYPE_IQ4_NL }, { QNT_TYPE_Q2_0, QNT_TYPE_Q4_0 },
	{ QNT_TYPE_Q2_K, QNT_TYPE_Q4_0 },      { QNT_TYPE_Q3_K, QNT_TYPE_Q4_0 },     { QNT_TYPE_TQ1_0, QNT_TYPE_Q4_0 },
	{ QNT_TYPE_TQ2_0, QNT_TYPE_Q4_0 },     { QNT_TYPE_Q4_K, QNT_TYPE_Q5_0 },     { QNT_TYPE_Q5_K, QNT_TYPE_Q5_1 },
	{ QNT_TYPE_Q6_K, QNT_TYPE_Q8_0 },
};

/* mlx-lm: H bits for v_proj / down_proj in use_more_bits layers and for
 * lm_head, L bits elsewhere; modules whose rows do not fit the group stay. */
#define R_MLX(H)                                                                                                \
	{ .note = "not a weight", .not_match = "\\.weight$", .type = "keep" },                                     \
	{ .note = "v_proj, more bits", .match = "v_proj|v_a_proj|v_b_proj", MORE_BITS_LAYER, .type = H },          \
	{ .note = "down_proj, more bits", .match = "down_proj", MORE_BITS_LAYER, .type = H },                      \
	{ .note = "lm_head", .match = "lm_head", .type = H }

static const struct qnt__rule_def r_mixed_2_6[] = { R_MLX("mlx:affine:6:64") };
static const struct qnt__rule_def r_mixed_3_4[] = { R_MLX("mlx:affine:4:64") };
static const struct qnt__rule_def r_mixed_3_6[] = { R_MLX("mlx:affine:6:64") };
static const struct qnt__rule_def r_mixed_4_6[] = { R_MLX("mlx:affine:6:64") };

#define N(a) (int)(sizeof(a) / sizeof((a)[0]))
#define LLAMA(name, ftype, deflt, rules, desc) { name, desc, ftype, deflt, rules, N(rules), 0 }
#define MLX(name, deflt, rules, desc) { name, desc, -1, deflt, rules, N(rules), 1 }

static const struct preset {
	const char *name, *description;
	int64_t file_type;
	const char *default_type;
	const struct qnt__rule_def *rules;
	int n_rules;
	int mlx;
} presets[] = {
	LLAMA("F32", 0, "f32", r_float, "llama-quantize F32: every weight f32"),
	LLAMA("F16", 1, "f16", r_float, "llama-quantize F16: every weight f16"),
	LLAMA("BF16", 32, "bf16", r_float, "llama-quantize BF16: every weight bf16"),
	LLAMA("Q4_0", 2, "q4_0", r_q4_0, "llama-quantize Q4_0"),
	LLAMA("Q4_1", 3, "q4_1", r_legacy_1, "llama-quantize Q4_1"),
	LLAMA("Q5_0", 8, "q5_0", r_q5_0, "llama-quantize Q5_0"),
	LLAMA("Q5_1", 9, "q5_1", r_legacy_1, "llama-quantize Q5_1"),
	LLAMA("Q8_0", 7, "q8_0", r_q8_0, "llama-quantize Q8_0"),
	LLAMA("Q2_K", 10, "q2_K", r_q2_k, "llama-quantize Q2_K"),
	LLAMA("Q2_K_S", 21, "q2_K", r_q2_k_s, "llama-quantize Q2_K_S (needs an imatrix in llama.cpp)"),
	LLAMA("Q3_K_S", 11, "q3_K", r_q3_k_s, "llama-quantize Q3_K_S"),
	LLAMA("Q3_K_M", 12, "q3_K", r_q3_k_m, "llama-quantize Q3_K_M"),
	LLAMA("Q3_K_L", 13, "q3_K", r_q3_k_l, "llama-quantize Q3_K_L"),
	LLAMA("Q4_K_S", 14, "q4_K", r_q4_k_s, "llama-quantize Q4_K_S"),
	LLAMA("Q4_K_M", 15, "q4_K", r_q4_k_m, "llama-quantize Q4_K_M"),
	LLAMA("Q5_K_S", 16, "q5_K", r_q5_k_s, "llama-quantize Q5_K_S"),
	LLAMA("Q5_K_M", 17, "q5_K", r_q5_k_m, "llama-quantize Q5_K_M"),
	LLAMA("Q6_K", 18, "q6_K", r_q6_k, "llama-quantize Q6_K"),
	LLAMA("IQ2_XXS", 19, "iq2_xxs", r_iq2_xxs, "llama-quantize IQ2_XXS (needs an imatrix in llama.cpp)"),
	LLAMA("IQ2_XS", 20, "iq2_xs", r_iq2_xxs, "llama-quantize IQ2_XS (needs an imatrix in llama.cpp)"),
	LLAMA("IQ3_XS", 22, "iq3_s", r_iq3_xs, "llama-quantize IQ3_XS (needs an imatrix in llama.cpp)"),
	LLAMA("IQ3_XXS", 23, "iq3_xxs", r_iq3_xxs, "llama-quantize IQ3_XXS (needs an imatrix in llama.cpp)"),
	LLAMA("IQ1_S", 24, "iq1_s", r_iq1, "llama-quantize IQ1_S (needs an imatrix in llama.cpp)"),
	LLAMA("IQ4_NL", 25, "iq4_nl", r_iq4_nl, "llama-quantize IQ4_NL"),
	LLAMA("IQ3_S", 26, "iq3_s", r_iq3_s, "llama-quantize IQ3_S"),
	LLAMA("IQ3_M", 27, "iq3_s", r_iq3_m, "llama-quantize IQ3_M"),
	LLAMA("IQ2_S", 28, "iq2_xs", r_iq2_s, "llama-quantize IQ2_S (needs an imatrix in llama.cpp)"),
	LLAMA("IQ2_M", 29, "iq2_s", r_iq2_s, "llama-quantize IQ2_M (needs an imatrix in llama.cpp)"),
	LLAMA("IQ4_XS", 30, "iq4_xs", r_iq4_xs, "llama-quantize IQ4_XS"),
	LLAMA("IQ1_M", 31, "iq1_m", r_iq1, "llama-quantize IQ1_M (needs an imatrix in llama.cpp)"),
	LLAMA("TQ1_0", 36, "tq1_0", r_ternary, "llama-quantize TQ1_0"),
	LLAMA("TQ2_0", 37, "tq2_0", r_ternary, "llama-quantize TQ2_0"),
	LLAMA("MXFP4_MOE", 38, "mxfp4", r_mxfp4_moe, "llama-quantize MXFP4_MOE: experts mxfp4, the rest q8_0"),
	LLAMA("NVFP4", 39, "nvfp4", r_nvfp4, "llama-quantize NVFP4"),
	LLAMA("Q1_0", 40, "q1_0", r_q1_0, "llama-quantize Q1_0"),
	LLAMA("Q2_0", 41, "q2_0", r_q2_0, "llama-quantize Q2_0"),
	MLX("mixed_2_6", "mlx:affine:2:64", r_mixed_2_6, "mlx-lm mixed_2_6: affine 2-bit, 6-bit where it matters"),
	MLX("mixed_3_4", "mlx:affine:3:64", r_mixed_3_4, "mlx-lm mixed_3_4: affine 3-bit, 4-bit where it matters"),
	MLX("mixed_3_6", "mlx:affine:3:64", r_mixed_3_6, "mlx-lm mixed_3_6: affine 3-bit, 6-bit where it matters"),
	MLX("mixed_4_6", "mlx:affine:4:64", r_mixed_4_6, "mlx-lm mixed_4_6: affine 4-bit, 6-bit where it matters"),
};

/* llama-quantize's short names for the recommended mixes */
static const struct {
	const char *alias, *name;
} aliases[] = { { "Q3_K", "Q3_K_M" }, { "Q4_K", "Q4_K_M" }, { "Q5_K", "Q5_K_M" } };

int qnt__recipe_preset_count(void)
{
	return N(presets);
}

const char *qnt__recipe_preset_name(int i)
{
	return i >= 0 && i < N(presets) ? presets[i].name : NULL;
}

qnt_status qnt__recipe_preset(qnt_ctx *ctx, const char *name, struct qnt__recipe **out)
{
	*out = NULL;
	if (!name)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "qnt_recipe_preset: NULL name");
	for (int i = 0; i < N(aliases); i++)
		if (strcasecmp(name, aliases[i].alias) == 0)
			name = aliases[i].name;
	for (int i = 0; i < N(presets); i++) {
		const struct preset *p = &presets[i];
		if (strcasecmp(name, p->name) != 0)
			continue;
		return qnt__recipe_build(ctx, p->name, p->name, p->description, p->file_type, p->default_type, p->rules,
						  p->n_rules, p->mlx ? NULL : llama_fallback,
						  p->mlx ? 0 : N(llama_fallback), p->mlx, out);
	}
	return qnt__error(ctx, QNT_E_NOT_FOUND, "qnt_recipe_preset: no preset named \"%s\"", name);
}

qnt_status qnt__recipe_from_type(qnt_ctx *ctx, qnt_type type, struct qnt__recipe **out)
{
	const char *tn = qnt_type_name(type);
	*out = NULL;
	if (!tn)
		return qnt__error(ctx, QNT_E_UNKNOWN_TYPE, "qnt_recipe_from_type: unknown type %d", (int)type);
	/* a type id is exact: an MLX id names its scale dtype, which the
	 * canonical name leaves out for bf16 (without a suffix a recipe's MLX
	 * type would follow the source's dtype instead) */
	char name[96], tname[80];
	qnt_mlx_params mp = QNT_MLX_PARAMS_INIT;
	const size_t len = strlen(tn);
	if (qnt_mlx_params_from_type(type, &mp) == QNT_OK && mp.dtype == QNT_TYPE_BF16 &&
	    (len < 5 || strcmp(tn + len - 5, ":bf16") != 0))
		snprintf(tname, sizeof(tname), "%s:bf16", tn);
	else
		snprintf(tname, sizeof(tname), "%s", tn);
	snprintf(name, sizeof(name), "type %s", tname);
	return qnt__recipe_build(ctx, name, name, "every 2-D float tensor whose rows fit the block; the rest as is",
				 -1, tname, NULL, 0, NULL, 0, 1, out);
}
