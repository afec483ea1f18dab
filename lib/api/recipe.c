/* SPDX-License-Identifier: MIT */
/* Public recipe calls (libqnt.h, "Recipes") over lib/core/recipe.c. */
#include "../core/recipe.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct qnt_recipe {
	struct qnt__recipe *r;
};

#define MAX_RECIPE_FILE (64u << 20)

static qnt_status wrap(qnt_ctx *ctx, struct qnt__recipe *r, qnt_recipe **out)
{
	qnt_recipe *h = malloc(sizeof(*h));
	if (!h) {
		qnt__recipe_free(r);
		return qnt__error(ctx, QNT_E_NO_MEMORY, "recipe: out of memory");
	}
	h->r = r;
	*out = h;
	return QNT_OK;
}

int32_t qnt_recipe_count_presets(void)
{
	return qnt__recipe_preset_count();
}

const char *qnt_recipe_preset_name(int32_t index)
{
	return qnt__recipe_preset_name(index);
}

qnt_status qnt_recipe_preset(const char *name, qnt_recipe **out)
{
	struct qnt__recipe *r;
	if (!out)
		return qnt__error(NULL, QNT_E_INVALID_ARG, "qnt_recipe_preset: out is NULL");
	*out = NULL;
	qnt_status st = qnt__recipe_preset(NULL, name, &r);
	return st == QNT_OK ? wrap(NULL, r, out) : st;
}

qnt_status qnt_recipe_from_type(qnt_type type, qnt_recipe **out)
{
	struct qnt__recipe *r;
	if (!out)
		return qnt__error(NULL, QNT_E_INVALID_ARG, "qnt_recipe_from_type: out is NULL");
	*out = NULL;
	qnt_status st = qnt__recipe_from_type(NULL, type, &r);
	return st == QNT_OK ? wrap(NULL, r, out) : st;
}

qnt_status qnt_recipe_parse(qnt_ctx *ctx, const char *json, size_t len, const char *source_name,
			    qnt_recipe **out)
{
	struct qnt__recipe *r;
	if (!out || (!json && len))
		return qnt__error(ctx, QNT_E_INVALID_ARG, "qnt_recipe_parse: NULL argument");
	*out = NULL;
	qnt_status st = qnt__recipe_parse(ctx, json ? json : "", len, source_name, &r);
	return st == QNT_OK ? wrap(ctx, r, out) : st;
}

qnt_status qnt_recipe_load_file(qnt_ctx *ctx, const char *path, qnt_recipe **out)
{
	if (!path || !out)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "qnt_recipe_load_file: NULL argument");
	*out = NULL;
	char *buf = NULL;
	size_t len = 0;
	qnt_status st = qnt__read_text(ctx, path, MAX_RECIPE_FILE, "a recipe", &buf, &len);
	if (st == QNT_OK)
		st = qnt_recipe_parse(ctx, buf, len, path, out);
	free(buf);
	return st;
}

void qnt_recipe_free(qnt_recipe *r)
{
	if (!r)
		return;
	qnt__recipe_free(r->r);
	free(r);
}

qnt_status qnt_recipe_to_json(qnt_ctx *ctx, const qnt_recipe *r, char **out)
{
	if (!r || !out)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "qnt_recipe_to_json: NULL argument");
	*out = NULL;
	return qnt__recipe_to_json(ctx, r->r, out);
}


const char *qnt_recipe_name(const qnt_recipe *r)
{
	return r && r->r->name ? r->r->name : "";
}

uint32_t qnt_recipe_file_type(const qnt_recipe *r)
{
	return r ? qnt__recipe_file_type(r->r) : 1024;
}

qnt_status qnt_recipe_plan(qnt_ctx *ctx, const qnt_recipe *r, const qnt_recipe_model *model, int64_t n,
			   const char *const *names, const uint32_t *n_dims, const int64_t *ne,
			   const qnt_type *src_types, qnt_type *types, uint32_t *flags, char *reasons)
{
	static const char fn[] = "qnt_recipe_plan";
	if (!r || !model || n < 0 || (n > 0 && (!names || !n_dims || !ne || !src_types || !types)))
		return qnt__error(ctx, QNT_E_INVALID_ARG, "%s: NULL argument or n < 0", fn);
	size_t usize = model->struct_size;
	if (usize < sizeof(qnt_recipe_model))
		return qnt__error(ctx, QNT_E_INVALID_ARG,
				  "%s: model->struct_size %zu is below the 1.0 size %zu (initialise with QNT_RECIPE_MODEL_INIT)",
				  fn, usize, sizeof(qnt_recipe_model));
	const unsigned char *bytes = (const unsigned char *)model;
	for (size_t i = sizeof(qnt_recipe_model); i < usize; i++)
		if (bytes[i])
			return qnt__error(ctx, QNT_E_STRUCT_TOO_NEW,
					  "%s: model sets byte %zu, a field this libqnt %s does not know", fn, i,
					  QNT_VERSION_STRING);
	if (model->flags & ~QNT_RECIPE_MODEL_IMATRIX)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "%s: model->flags 0x%x has unknown bits", fn,
				  (unsigned)model->flags);
	if (model->reserved)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "%s: model->reserved must be zero", fn);
	struct qnt__recipe_model m = {
		.arch = model->arch,
		.n_layer = model->n_layer,
		.n_expert = model->n_expert,
		.n_head = model->n_head,
		.n_head_kv = model->n_head_kv,
		.name_style = (int)model->name_style,
		.has_imatrix = (model->flags & QNT_RECIPE_MODEL_IMATRIX) != 0,
	};
	if (model->name_style > QNT_RECIPE_NAMES_HF)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "%s: unknown name style %u", fn, (unsigned)model->name_style);
	if (n == 0)
		return QNT_OK;
	if ((uint64_t)n > SIZE_MAX / sizeof(struct qnt__recipe_choice))
		return qnt__error(ctx, QNT_E_NO_MEMORY, "%s: %lld tensors is too many", fn, (long long)n);
	struct qnt__recipe_tensor *t = malloc((size_t)n * sizeof(*t));
	struct qnt__recipe_choice *c = malloc((size_t)n * sizeof(*c));
	if (!t || !c) {
		free(t);
		free(c);
		return qnt__error(ctx, QNT_E_NO_MEMORY, "%s: out of memory for %lld tensors", fn, (long long)n);
	}
	for (int64_t i = 0; i < n; i++) {
		t[i].name = names[i];
		t[i].n_dims = n_dims[i];
		t[i].type = src_types[i];
		for (int d = 0; d < 4; d++)
			t[i].ne[d] = (uint32_t)d < n_dims[i] ? ne[4 * i + d] : 1;
	}
	qnt_status st = qnt__recipe_plan(ctx, r->r, &m, t, n, c);
	if (st == QNT_OK) {
		for (int64_t i = 0; i < n; i++) {
			types[i] = c[i].type;
			if (flags)
				flags[i] = c[i].flags;
			if (reasons)
				memcpy(reasons + (size_t)i * QNT_RECIPE_REASON_SIZE, c[i].reason, QNT_RECIPE_REASON_SIZE);
		}
	}
	free(t);
	free(c);
	return st;
}

const struct qnt__recipe *qnt__recipe_of(const qnt_recipe *r)
{
	return r ? r->r : NULL;
}
