/* SPDX-License-Identifier: MIT */
/*
 * Quantization recipes (internal side; the public calls are the qnt_recipe_*
 * section of libqnt.h, docs in docs/recipes.md).
 *
 * A recipe is data: a default type, an ordered list of rules (conditions ->
 * a type, "default" or "keep"), a fallback table for rows that do not fit a
 * type's block, and the general.file_type to write. Presets (llama-quantize's
 * mixes, mlx-lm's mixed_* recipes) are compiled-in tables of the same rules
 * (recipe_presets.c); JSON files parse into the same structure and
 * qnt__recipe_to_json writes it back.
 *
 * Planning looks at the whole model at once, because llama-quantize's choices
 * depend on counts over it (the position of each attn_v among all attn_v, the
 * presence of output.weight for tied embeddings).
 */
#ifndef QNT_RECIPE_H
#define QNT_RECIPE_H

#include "qnt_internal.h"

#include <regex.h>

#define QNT__NAMES_GGUF QNT_RECIPE_NAMES_GGUF /* "blk.3.attn_v.weight", "token_embd.weight", "output.weight" */
#define QNT__NAMES_HF QNT_RECIPE_NAMES_HF     /* "model.layers.3.self_attn.v_proj.weight", "lm_head.weight" */

/* What the pipeline knows about the model. */
struct qnt__recipe_model {
	const char *arch;          /* GGUF general.architecture or HF model_type; may be NULL */
	int64_t n_layer;           /* block count, 0 if unknown */
	int64_t n_expert;          /* 0 or 1: dense */
	int64_t n_head, n_head_kv; /* 0 if unknown */
	int name_style;            /* QNT__NAMES_GGUF or QNT__NAMES_HF */
	int has_imatrix;           /* an importance matrix will be used (changes some of llama's choices) */
};

struct qnt__recipe_tensor {
	const char *name;
	uint32_t n_dims;
	int64_t ne[4]; /* ne[0] = row length */
	qnt_type type; /* source type */
};

#define QNT__CHOICE_KEEP QNT_RECIPE_KEEP         /* left as is (1-D, not float, a keep rule, no fit) */
#define QNT__CHOICE_FALLBACK QNT_RECIPE_FALLBACK /* the row length did not fit the wanted type */

struct qnt__recipe_choice {
	qnt_type type;    /* chosen type; == source type when kept */
	uint32_t flags;   /* QNT__CHOICE_* */
	qnt_type wanted;  /* the type the rule asked for, before a fallback (source type for a keep) */
	int32_t rule;     /* index of the rule that decided, -1 for the default or a built-in keep */
	char reason[QNT_RECIPE_REASON_SIZE]; /* "rule 3: attn_v (more bits)", "fallback: 2880 % 256 != 0 -> q5_0" */
};

/* Tensor kinds, by name (llama-quantize's categories, plus norm and router). */
enum qnt__kind {
	QNT__K_OTHER,
	QNT__K_TOKEN_EMBD,
	QNT__K_OUTPUT,
	QNT__K_ATTN_Q,
	QNT__K_ATTN_K,
	QNT__K_ATTN_V,
	QNT__K_ATTN_QKV,
	QNT__K_ATTN_KV_B,
	QNT__K_ATTN_OUTPUT,
	QNT__K_FFN_UP,
	QNT__K_FFN_GATE,
	QNT__K_FFN_DOWN,
	QNT__K_NORM,
	QNT__K_ROUTER,
	QNT__K_COUNT
};

#define QNT__IDX_NONE 0
#define QNT__IDX_LAYER 1   /* i = layer number in the name, n = model n_layer */
#define QNT__IDX_ORDINAL 2 /* i = position among the tensors of the rule's kinds (by layer, then name), n = their count */

#define QNT__RULE_TYPE 0    /* rule->type */
#define QNT__RULE_DEFAULT 1 /* the recipe's default type */
#define QNT__RULE_KEEP 2    /* leave the tensor as it is */

/* A rule as data: every condition that is set must hold. Unset is 0 (NULL)
 * for every field; tri-states are 1 (true) or -1 (false). Strings are
 * static in the preset tables and owned by the recipe once built. */
struct qnt__rule_def {
	const char *note;      /* free text, shown in reasons */
	const char *match;     /* POSIX extended regex searched in the name */
	const char *not_match; /* ... that must not match */
	uint32_t kinds;        /* bit (1 << qnt__kind) per kind; 0: any */
	const char *arch;      /* comma-separated: the model's arch is one of these (case-insensitive) */
	const char *not_arch;  /* ... none of these (an unknown arch is none) */
	int8_t tied;           /* the model has no output tensor (token_embd doubles as output) */
	int8_t imatrix;        /* model->has_imatrix */
	int8_t grouped_kv;     /* n_head_kv != n_head (both known) */
	int8_t more_bits;      /* use_more_bits(i, n): i < n/8 || i >= 7n/8 || (i - n/8) % 3 == 2 */
	int64_t n_expert_min, n_expert_max;
	int64_t gqa_min;          /* n_head / n_head_kv (integer division; 0 when unknown) */
	int64_t n_layer_min, n_layer_max;
	int64_t ne2_min;          /* ne[2] (experts in one tensor) */
	int64_t row_not_multiple; /* ne[0] % k != 0 */
	int index;                /* QNT__IDX_* that lt / lt_frac / ge_frac / more_bits read */
	int64_t lt;               /* i < lt */
	int64_t lt_frac[2];       /* i < n * a / b (integer division, as llama.cpp computes it) */
	int64_t ge_frac[2];       /* i >= n * a / b */
	const char *type;         /* type name ("mlx:affine:4:64": MLX dtype follows the source), "default" or "keep" */
};

struct qnt__rule {
	struct qnt__rule_def d; /* strings owned */
	regex_t re_match, re_not_match;
	int action;    /* QNT__RULE_* */
	qnt_type type; /* QNT__RULE_TYPE */
	int mlx_auto;  /* MLX type without a dtype suffix */
};

struct qnt__fallback {
	qnt_type from, to;
};

struct qnt__recipe {
	char *name;
	char *description;
	int64_t file_type;  /* general.file_type; -1: derived from the default type */
	qnt_type default_type;
	char *default_name;
	int default_mlx_auto;
	struct qnt__rule *rules;
	int n_rules;
	struct qnt__fallback *fallback;
	int n_fallback;
	int fallback_keep; /* no fitting fallback: 1 keep the tensor, 0 use f16 */
};

qnt_status qnt__recipe_plan(qnt_ctx *ctx, const struct qnt__recipe *r, const struct qnt__recipe_model *m,
			    const struct qnt__recipe_tensor *t, int64_t n, struct qnt__recipe_choice *out);

/* The LLAMA_FTYPE_* value for general.file_type: the recipe's "file_type",
 * or derived from its default type (docs/recipes.md), 1024 (LLAMA_FTYPE_GUESSED)
 * when the default has no llama.cpp file type (MLX formats). */
uint32_t qnt__recipe_file_type(const struct qnt__recipe *r);

/* Parses a JSON recipe; errors name `source_name` and the rule index. */
qnt_status qnt__recipe_parse(qnt_ctx *ctx, const char *json, size_t len, const char *source_name,
			     struct qnt__recipe **out);
/* The JSON text of a recipe (malloc'd, the caller frees); parsing it gives the same recipe. */
qnt_status qnt__recipe_to_json(qnt_ctx *ctx, const struct qnt__recipe *r, char **out);
void qnt__recipe_free(struct qnt__recipe *r);

/* The kind of a tensor name in a name style. */
enum qnt__kind qnt__recipe_kind(const char *name, int name_style);

/* Presets (recipe_presets.c). */
int qnt__recipe_preset_count(void);
const char *qnt__recipe_preset_name(int i);
qnt_status qnt__recipe_preset(qnt_ctx *ctx, const char *name, struct qnt__recipe **out);
qnt_status qnt__recipe_from_type(qnt_ctx *ctx, qnt_type type, struct qnt__recipe **out);

/* Builds a recipe from plain data (the presets): copies the strings and
 * compiles the regexes. fallback_keep as in struct qnt__recipe. Errors start
 * with `source` (a file name, a preset's name). */
qnt_status qnt__recipe_build(qnt_ctx *ctx, const char *source, const char *name, const char *description,
			     int64_t file_type, const char *default_type, const struct qnt__rule_def *rules, int n_rules,
			     const struct qnt__fallback *fallback, int n_fallback, int fallback_keep,
			     struct qnt__recipe **out);

/* The internal recipe under a public handle (lib/api/recipe.c). */
const struct qnt__recipe *qnt__recipe_of(const qnt_recipe *r);

#endif
