/* SPDX-License-Identifier: MIT */
/* Quantization recipes: building, JSON parsing and writing, planning. See
 * recipe.h and docs/recipes.md. */
#include "recipe.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RECIPE_FORMAT 1 /* "libqnt_recipe" */

static const char *const kind_names[QNT__K_COUNT] = {
	"other", "token_embd", "output", "attn_q", "attn_k", "attn_v", "attn_qkv",
	"attn_kv_b", "attn_output", "ffn_up", "ffn_gate", "ffn_down", "norm", "router",
};

/* ---- names ---- */

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && strcmp(s + n - k, suffix) == 0;
}

static enum qnt__kind kind_gguf(const char *name)
{
	/* llama-quantize's categories, tested in its order */
	if (strcmp(name, "output.weight") == 0)
		return QNT__K_OUTPUT;
	if (strcmp(name, "token_embd.weight") == 0 || strcmp(name, "per_layer_token_embd.weight") == 0)
		return QNT__K_TOKEN_EMBD;
	if (strstr(name, "_norm.weight"))
		return QNT__K_NORM;
	if (strstr(name, "ffn_gate_inp.weight"))
		return QNT__K_ROUTER;
	if (strstr(name, "attn_qkv.weight"))
		return QNT__K_ATTN_QKV;
	if (strstr(name, "attn_kv_b.weight"))
		return QNT__K_ATTN_KV_B;
	if (strstr(name, "attn_v.weight"))
		return QNT__K_ATTN_V;
	if (strstr(name, "attn_k.weight"))
		return QNT__K_ATTN_K;
	if (strstr(name, "attn_q.weight"))
		return QNT__K_ATTN_Q;
	if (strstr(name, "attn_output.weight"))
		return QNT__K_ATTN_OUTPUT;
	if (strstr(name, "ffn_up"))
		return QNT__K_FFN_UP;
	if (strstr(name, "ffn_gate"))
		return QNT__K_FFN_GATE;
	if (strstr(name, "ffn_down"))
		return QNT__K_FFN_DOWN;
	return QNT__K_OTHER;
}

static enum qnt__kind kind_hf(const char *name)
{
	if (strcmp(name, "lm_head.weight") == 0)
		return QNT__K_OUTPUT;
	if (ends_with(name, "embed_tokens.weight"))
		return QNT__K_TOKEN_EMBD;
	if (ends_with(name, "norm.weight"))
		return QNT__K_NORM;
	if (ends_with(name, ".mlp.gate.weight") || strstr(name, ".router."))
		return QNT__K_ROUTER;
	if (strstr(name, "qkv_proj.") || strstr(name, "query_key_value."))
		return QNT__K_ATTN_QKV;
	if (strstr(name, "kv_b_proj."))
		return QNT__K_ATTN_KV_B;
	if (strstr(name, ".v_proj."))
		return QNT__K_ATTN_V;
	if (strstr(name, ".k_proj."))
		return QNT__K_ATTN_K;
	if (strstr(name, ".q_proj."))
		return QNT__K_ATTN_Q;
	if (strstr(name, ".o_proj."))
		return QNT__K_ATTN_OUTPUT;
	if (strstr(name, "up_proj"))
		return QNT__K_FFN_UP;
	if (strstr(name, "gate_proj"))
		return QNT__K_FFN_GATE;
	if (strstr(name, "down_proj"))
		return QNT__K_FFN_DOWN;
	return QNT__K_OTHER;
}

enum qnt__kind qnt__recipe_kind(const char *name, int name_style)
{
	return name_style == QNT__NAMES_HF ? kind_hf(name) : kind_gguf(name);
}

/* The layer number: the first dot-separated component made only of digits
 * ("blk.3.attn_v.weight", "model.layers.3.mlp..."); -1 if none. */
static int64_t layer_of(const char *name)
{
	const char *p = name;
	while (*p) {
		const char *e = strchr(p, '.');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len > 0 && len < 10) {
			size_t k = 0;
			while (k < len && isdigit((unsigned char)p[k]))
				k++;
			if (k == len)
				return strtoll(p, NULL, 10);
		}
		if (!e)
			break;
		p = e + 1;
	}
	return -1;
}

/* ---- building ---- */

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void rule_clear(struct qnt__rule *rl)
{
	free((char *)rl->d.note);
	free((char *)rl->d.arch);
	free((char *)rl->d.not_arch);
	free((char *)rl->d.type);
	if (rl->d.match) {
		regfree(&rl->re_match);
		free((char *)rl->d.match);
	}
	if (rl->d.not_match) {
		regfree(&rl->re_not_match);
		free((char *)rl->d.not_match);
	}
}

void qnt__recipe_free(struct qnt__recipe *r)
{
	if (!r)
		return;
	for (int i = 0; i < r->n_rules; i++)
		rule_clear(&r->rules[i]);
	free(r->rules);
	free(r->fallback);
	free(r->name);
	free(r->description);
	free(r->default_name);
	free(r);
}

static int has_dtype_suffix(const char *name)
{
	const char *c = strrchr(name, ':');
	return c && (strcasecmp(c, ":f32") == 0 || strcasecmp(c, ":f16") == 0 || strcasecmp(c, ":bf16") == 0);
}

/* A type name of a recipe: a registry name; MLX names without a dtype
 * suffix follow the source's dtype. */
static qnt_status resolve_type(qnt_ctx *ctx, const char *src, int rule, const char *what, const char *name,
			       qnt_type *type, int *mlx_auto)
{
	qnt_type t = qnt_type_by_name(name);
	qnt_type_info info = QNT_TYPE_INFO_INIT;
	if (t == QNT_TYPE_INVALID || qnt_type_get_info(t, &info) != QNT_OK) {
		if (rule >= 0)
			return qnt__error(ctx, QNT_E_UNKNOWN_TYPE, "%s: rule %d: %s: unknown type name \"%s\"", src,
					  rule, what, name);
		return qnt__error(ctx, QNT_E_UNKNOWN_TYPE, "%s: %s: unknown type name \"%s\"", src, what, name);
	}
	if (!(info.flags & QNT_TYPE_FLAG_QUANTIZE) || (info.flags & QNT_TYPE_FLAG_ACTIVATION)) {
		if (rule >= 0)
			return qnt__error(ctx, QNT_E_UNSUPPORTED, "%s: rule %d: %s: \"%s\" is not a weight format", src,
					  rule, what, name);
		return qnt__error(ctx, QNT_E_UNSUPPORTED, "%s: %s: \"%s\" is not a weight format", src, what, name);
	}
	*type = t;
	*mlx_auto = strncasecmp(name, "mlx:", 4) == 0 && !has_dtype_suffix(name);
	return QNT_OK;
}

/* An upper bound on the size of the tree glibc's regcomp builds for an
 * extended regex, in its atoms: it copies a repeated item once for "+"
 * and once per count of "{m,n}", nested repetitions multiplying (a
 * pattern of 130 stacked "+" took more than 2 GB: scripts/fuzz). Bracket
 * expressions and escapes count as one atom. Saturates at RE_SIZE_MAX. */
#define RE_SIZE_MAX 4096u
#define RE_DEPTH_MAX 64

static unsigned re_add(unsigned a, unsigned b)
{
	return a + b > RE_SIZE_MAX ? RE_SIZE_MAX + 1 : a + b;
}

static unsigned re_mul(unsigned a, unsigned long k)
{
	return k > RE_SIZE_MAX || (unsigned long)a * k > RE_SIZE_MAX ? RE_SIZE_MAX + 1 : (unsigned)(a * k);
}

static unsigned re_size(const char *re)
{
	unsigned sum[RE_DEPTH_MAX + 1], last[RE_DEPTH_MAX + 1];
	int depth = 0;
	sum[0] = last[0] = 0;
	for (const char *p = re; *p; p++) {
		unsigned item = 1;
		switch (*p) {
		case '(':
			if (depth == RE_DEPTH_MAX)
				return RE_SIZE_MAX + 1;
			depth++;
			sum[depth] = last[depth] = 0;
			continue;
		case ')':
			if (depth == 0)
				break; /* regcomp reports it */
			item = sum[depth] + 1;
			depth--;
			break;
		case '+':
			sum[depth] = re_add(sum[depth], last[depth]); /* one more copy */
			last[depth] = re_mul(last[depth], 2);
			continue;
		case '*':
		case '?':
			continue;
		case '{': {
			char *end;
			unsigned long m = strtoul(p + 1, &end, 10), n = m;
			if (*end == ',')
				n = end[1] == '}' ? m : strtoul(end + 1, &end, 10);
			const unsigned long top = n > m ? n : m;
			const unsigned long k = top > RE_SIZE_MAX ? RE_SIZE_MAX + 1ul : top + 1; /* no wrap at ULONG_MAX */
			sum[depth] = re_add(sum[depth], re_mul(last[depth], k));
			last[depth] = re_mul(last[depth], k + 1);
			while (*p && *p != '}')
				p++;
			if (!*p)
				return sum[depth]; /* regcomp reports it */
			continue;
		}
		case '[':
			/* to the closing bracket: "]" first (or after "^") is a member */
			p++;
			if (*p == '^')
				p++;
			if (*p == ']')
				p++;
			while (*p && *p != ']')
				p++;
			if (!*p)
				return sum[depth];
			break;
		case '\\':
			if (p[1])
				p++;
			break;
		default:
			break;
		}
		sum[depth] = re_add(sum[depth], item);
		last[depth] = item;
	}
	return sum[depth];
}

static qnt_status compile_re(qnt_ctx *ctx, const char *src, int rule, const char *field, const char *re,
			     regex_t *out)
{
	if (re_size(re) > RE_SIZE_MAX)
		return qnt__error(ctx, QNT_E_FORMAT,
				  "%s: rule %d: regex in \"%s\" too complex (repetitions expand past %u atoms)", src,
				  rule, field, RE_SIZE_MAX);
	int rc = regcomp(out, re, REG_EXTENDED | REG_NOSUB);
	if (rc != 0) {
		char msg[160];
		regerror(rc, out, msg, sizeof(msg));
		return qnt__error(ctx, QNT_E_FORMAT, "%s: rule %d: bad regex in \"%s\" (\"%s\"): %s", src, rule, field,
				  re, msg);
	}
	return QNT_OK;
}

static qnt_status rule_set(qnt_ctx *ctx, const char *src, int i, const struct qnt__rule_def *d,
			   struct qnt__rule *rl)
{
	memset(rl, 0, sizeof(*rl));
	rl->d = *d;
	rl->d.note = dup_or_null(d->note);
	rl->d.arch = dup_or_null(d->arch);
	rl->d.not_arch = dup_or_null(d->not_arch);
	rl->d.type = dup_or_null(d->type);
	rl->d.match = NULL;
	rl->d.not_match = NULL;
	if ((d->note && !rl->d.note) || (d->arch && !rl->d.arch) || (d->not_arch && !rl->d.not_arch) ||
	    (d->type && !rl->d.type))
		return qnt__error(ctx, QNT_E_NO_MEMORY, "%s: rule %d: out of memory", src, i);
	if (!d->type)
		return qnt__error(ctx, QNT_E_FORMAT, "%s: rule %d: no \"type\"", src, i);
	if (d->index != QNT__IDX_NONE && d->index != QNT__IDX_LAYER && d->index != QNT__IDX_ORDINAL)
		return qnt__error(ctx, QNT_E_FORMAT, "%s: rule %d: bad index mode %d", src, i, d->index);
	if ((d->lt || d->lt_frac[1] || d->ge_frac[1] || d->more_bits) && d->index == QNT__IDX_NONE)
		return qnt__error(ctx, QNT_E_FORMAT,
				  "%s: rule %d: \"lt\", \"lt_frac\", \"ge_frac\" and \"more_bits\" need \"index\"", src,
				  i);
	if ((d->lt_frac[1] == 0 && d->lt_frac[0]) || (d->ge_frac[1] == 0 && d->ge_frac[0]) || d->lt_frac[1] < 0 ||
	    d->ge_frac[1] < 0 || d->lt_frac[0] < 0 || d->ge_frac[0] < 0)
		return qnt__error(ctx, QNT_E_FORMAT, "%s: rule %d: a fraction needs [a, b] with a >= 0, b > 0", src, i);
	if (d->kinds >> QNT__K_COUNT)
		return qnt__error(ctx, QNT_E_FORMAT, "%s: rule %d: unknown kind bits", src, i);
	if (strcmp(d->type, "keep") == 0) {
		rl->action = QNT__RULE_KEEP;
	} else if (strcmp(d->type, "default") == 0) {
		rl->action = QNT__RULE_DEFAULT;
	} else {
		qnt_status st = resolve_type(ctx, src, i, "type", d->type, &rl->type, &rl->mlx_auto);
		if (st != QNT_OK)
			return st;
		rl->action = QNT__RULE_TYPE;
	}
	if (d->match) {
		qnt_status st = compile_re(ctx, src, i, "match", d->match, &rl->re_match);
		if (st != QNT_OK)
			return st;
		rl->d.match = strdup(d->match);
		if (!rl->d.match) {
			regfree(&rl->re_match);
			return qnt__error(ctx, QNT_E_NO_MEMORY, "%s: rule %d: out of memory", src, i);
		}
	}
	if (d->not_match) {
		qnt_status st = compile_re(ctx, src, i, "not_match", d->not_match, &rl->re_not_match);
		if (st != QNT_OK)
			return st;
		rl->d.not_match = strdup(d->not_match);
		if (!rl->d.not_match) {
			regfree(&rl->re_not_match);
			return qnt__error(ctx, QNT_E_NO_MEMORY, "%s: rule %d: out of memory", src, i);
		}
	}
	return QNT_OK;
}

qnt_status qnt__recipe_build(qnt_ctx *ctx, const char *source, const char *name, const char *description,
			     int64_t file_type, const char *default_type, const struct qnt__rule_def *rules, int n_rules,
			     const struct qnt__fallback *fallback, int n_fallback, int fallback_keep,
			     struct qnt__recipe **out)
{
	*out = NULL;
	const char *src = source ? source : "recipe";
	struct qnt__recipe *r = calloc(1, sizeof(*r));
	if (!r)
		return qnt__error(ctx, QNT_E_NO_MEMORY, "%s: out of memory", src);
	qnt_status st = QNT_OK;
	r->name = dup_or_null(name);
	r->description = dup_or_null(description);
	r->default_name = dup_or_null(default_type);
	r->file_type = file_type;
	r->fallback_keep = fallback_keep;
	if ((name && !r->name) || (description && !r->description) || (default_type && !r->default_name)) {
		st = qnt__error(ctx, QNT_E_NO_MEMORY, "%s: out of memory", src);
		goto err;
	}
	if (!default_type) {
		st = qnt__error(ctx, QNT_E_FORMAT, "%s: no \"default\" type", src);
		goto err;
	}
	if (file_type < -1 || file_type > UINT32_MAX) {
		st = qnt__error(ctx, QNT_E_FORMAT, "%s: \"file_type\" %lld out of range", src, (long long)file_type);
		goto err;
	}
	st = resolve_type(ctx, src, -1, "default", default_type, &r->default_type, &r->default_mlx_auto);
	if (st != QNT_OK)
		goto err;
	if (n_rules > 0) {
		r->rules = calloc((size_t)n_rules, sizeof(*r->rules));
		if (!r->rules) {
			st = qnt__error(ctx, QNT_E_NO_MEMORY, "%s: out of memory", src);
			goto err;
		}
	}
	for (int i = 0; i < n_rules; i++) {
		st = rule_set(ctx, src, i, &rules[i], &r->rules[i]);
		r->n_rules = i + 1; /* rule_set leaves it in a state rule_clear frees */
		if (st != QNT_OK)
			goto err;
	}
	if (n_fallback > 0) {
		r->fallback = malloc((size_t)n_fallback * sizeof(*r->fallback));
		if (!r->fallback) {
			st = qnt__error(ctx, QNT_E_NO_MEMORY, "%s: out of memory", src);
			goto err;
		}
		memcpy(r->fallback, fallback, (size_t)n_fallback * sizeof(*r->fallback));
		r->n_fallback = n_fallback;
	}
	*out = r;
	return QNT_OK;
err:
	qnt__recipe_free(r);
	return st;
}

/* ---- JSON ---- */

struct parse_state {
	qnt_ctx *ctx;
	const char *src;
	int rule;
};

static qnt_status perr(struct parse_state *ps, qnt_status st, const char *what, const char *problem)
{
	if (ps->rule >= 0)
		return qnt__error(ps->ctx, st, "%s: rule %d: \"%s\": %s", ps->src, ps->rule, what, problem);
	return qnt__error(ps->ctx, st, "%s: \"%s\": %s", ps->src, what, problem);
}

static qnt_status get_pos_int(struct parse_state *ps, json_t *v, const char *key, int64_t *out)
{
	if (!json_is_integer(v) || json_integer_value(v) <= 0)
		return perr(ps, QNT_E_FORMAT, key, "must be a positive integer");
	*out = json_integer_value(v);
	return QNT_OK;
}

static qnt_status get_bool(struct parse_state *ps, json_t *v, const char *key, int8_t *out)
{
	if (!json_is_boolean(v))
		return perr(ps, QNT_E_FORMAT, key, "must be true or false");
	*out = json_is_true(v) ? 1 : -1;
	return QNT_OK;
}

static qnt_status get_frac(struct parse_state *ps, json_t *v, const char *key, int64_t out[2])
{
	if (!json_is_array(v) || json_array_size(v) != 2 || !json_is_integer(json_array_get(v, 0)) ||
	    !json_is_integer(json_array_get(v, 1)) || json_integer_value(json_array_get(v, 0)) < 0 ||
	    json_integer_value(json_array_get(v, 1)) <= 0)
		return perr(ps, QNT_E_FORMAT, key, "must be [a, b] with integers a >= 0, b > 0 (meaning n * a / b)");
	out[0] = json_integer_value(json_array_get(v, 0));
	out[1] = json_integer_value(json_array_get(v, 1));
	return QNT_OK;
}

/* A string or an array of strings, joined with commas (no commas inside). */
static qnt_status get_list(struct parse_state *ps, json_t *v, const char *key, char **out)
{
	size_t n = json_is_array(v) ? json_array_size(v) : 1, len = 1;
	if (!json_is_array(v) && !json_is_string(v))
		return perr(ps, QNT_E_FORMAT, key, "must be a string or an array of strings");
	if (json_is_array(v) && n == 0)
		return perr(ps, QNT_E_FORMAT, key, "must not be empty");
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
		if (!json_is_string(e) || json_string_length(e) == 0 || strchr(json_string_value(e), ','))
			return perr(ps, QNT_E_FORMAT, key, "must hold non-empty strings without commas");
		len += json_string_length(e) + 1;
	}
	char *s = malloc(len);
	if (!s)
		return perr(ps, QNT_E_NO_MEMORY, key, "out of memory");
	s[0] = 0;
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
		if (i)
			strcat(s, ",");
		strcat(s, json_string_value(e));
	}
	*out = s;
	return QNT_OK;
}

static qnt_status get_kinds(struct parse_state *ps, json_t *v, uint32_t *out)
{
	size_t n = json_is_array(v) ? json_array_size(v) : 1;
	if ((!json_is_array(v) && !json_is_string(v)) || n == 0)
		return perr(ps, QNT_E_FORMAT, "kind", "must be a kind name or a non-empty array of them");
	*out = 0;
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
		int k;
		for (k = 0; k < QNT__K_COUNT; k++)
			if (json_is_string(e) && strcmp(json_string_value(e), kind_names[k]) == 0)
				break;
		if (k == QNT__K_COUNT) {
			char msg[200];
			snprintf(msg, sizeof(msg),
				 "unknown kind %s%s%s (token_embd, output, attn_q, attn_k, attn_v, attn_qkv, attn_kv_b, "
				 "attn_output, ffn_up, ffn_gate, ffn_down, norm, router, other)",
				 json_is_string(e) ? "\"" : "", json_is_string(e) ? json_string_value(e) : "(not a string)",
				 json_is_string(e) ? "\"" : "");
			return perr(ps, QNT_E_FORMAT, "kind", msg);
		}
		*out |= 1u << k;
	}
	return QNT_OK;
}

static void def_free(struct qnt__rule_def *d)
{
	free((char *)d->note);
	free((char *)d->match);
	free((char *)d->not_match);
	free((char *)d->arch);
	free((char *)d->not_arch);
	free((char *)d->type);
	memset(d, 0, sizeof(*d));
}

static qnt_status get_str(struct parse_state *ps, json_t *v, const char *key, const char **out)
{
	if (!json_is_string(v))
		return perr(ps, QNT_E_FORMAT, key, "must be a string");
	char *s = strdup(json_string_value(v));
	if (!s)
		return perr(ps, QNT_E_NO_MEMORY, key, "out of memory");
	*out = s;
	return QNT_OK;
}

static qnt_status parse_rule(struct parse_state *ps, json_t *obj, struct qnt__rule_def *d)
{
	const char *key;
	json_t *v;
	qnt_status st = QNT_OK;
	memset(d, 0, sizeof(*d));
	if (!json_is_object(obj))
		return qnt__error(ps->ctx, QNT_E_FORMAT, "%s: rule %d: not a JSON object", ps->src, ps->rule);
	json_object_foreach(obj, key, v) {
		if (strcmp(key, "note") == 0)
			st = get_str(ps, v, key, &d->note);
		else if (strcmp(key, "match") == 0)
			st = get_str(ps, v, key, &d->match);
		else if (strcmp(key, "not_match") == 0)
			st = get_str(ps, v, key, &d->not_match);
		else if (strcmp(key, "type") == 0)
			st = get_str(ps, v, key, &d->type);
		else if (strcmp(key, "kind") == 0)
			st = get_kinds(ps, v, &d->kinds);
		else if (strcmp(key, "arch") == 0)
			st = get_list(ps, v, key, (char **)&d->arch);
		else if (strcmp(key, "not_arch") == 0)
			st = get_list(ps, v, key, (char **)&d->not_arch);
		else if (strcmp(key, "tied") == 0)
			st = get_bool(ps, v, key, &d->tied);
		else if (strcmp(key, "imatrix") == 0)
			st = get_bool(ps, v, key, &d->imatrix);
		else if (strcmp(key, "grouped_kv") == 0)
			st = get_bool(ps, v, key, &d->grouped_kv);
		else if (strcmp(key, "more_bits") == 0)
			st = get_bool(ps, v, key, &d->more_bits);
		else if (strcmp(key, "n_expert_min") == 0)
			st = get_pos_int(ps, v, key, &d->n_expert_min);
		else if (strcmp(key, "n_expert_max") == 0)
			st = get_pos_int(ps, v, key, &d->n_expert_max);
		else if (strcmp(key, "gqa_min") == 0)
			st = get_pos_int(ps, v, key, &d->gqa_min);
		else if (strcmp(key, "n_layer_min") == 0)
			st = get_pos_int(ps, v, key, &d->n_layer_min);
		else if (strcmp(key, "n_layer_max") == 0)
			st = get_pos_int(ps, v, key, &d->n_layer_max);
		else if (strcmp(key, "ne2_min") == 0)
			st = get_pos_int(ps, v, key, &d->ne2_min);
		else if (strcmp(key, "row_not_multiple_of") == 0)
			st = get_pos_int(ps, v, key, &d->row_not_multiple);
		else if (strcmp(key, "lt") == 0)
			st = get_pos_int(ps, v, key, &d->lt);
		else if (strcmp(key, "lt_frac") == 0)
			st = get_frac(ps, v, key, d->lt_frac);
		else if (strcmp(key, "ge_frac") == 0)
			st = get_frac(ps, v, key, d->ge_frac);
		else if (strcmp(key, "index") == 0) {
			if (json_is_string(v) && strcmp(json_string_value(v), "layer") == 0)
				d->index = QNT__IDX_LAYER;
			else if (json_is_string(v) && strcmp(json_string_value(v), "ordinal") == 0)
				d->index = QNT__IDX_ORDINAL;
			else
				st = perr(ps, QNT_E_FORMAT, key, "must be \"layer\" or \"ordinal\"");
		} else {
			st = perr(ps, QNT_E_FORMAT, key, "unknown key");
		}
		if (st != QNT_OK)
			break;
	}
	if (st != QNT_OK)
		def_free(d);
	return st;
}

qnt_status qnt__recipe_parse(qnt_ctx *ctx, const char *json, size_t len, const char *source_name,
			     struct qnt__recipe **out)
{
	struct parse_state ps = { ctx, source_name ? source_name : "recipe", -1 };
	json_error_t jerr;
	qnt_status st = QNT_OK;
	struct qnt__rule_def *defs = NULL;
	struct qnt__fallback *fb = NULL;
	const char *name = NULL, *desc = NULL, *deflt = NULL;
	int64_t file_type = -1;
	int fallback_keep = 0, n_rules = 0, n_fb = 0;
	*out = NULL;
	json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return qnt__error(ctx, QNT_E_FORMAT, "%s: JSON error at line %d, column %d: %s", ps.src, jerr.line,
				  jerr.column, jerr.text);
	if (!json_is_object(root)) {
		st = qnt__error(ctx, QNT_E_FORMAT, "%s: a recipe is a JSON object", ps.src);
		goto done;
	}
	const char *key;
	json_t *v;
	json_object_foreach(root, key, v) {
		if (strcmp(key, "libqnt_recipe") == 0) {
			if (!json_is_integer(v) || json_integer_value(v) != RECIPE_FORMAT)
				st = perr(&ps, QNT_E_FORMAT, key, "must be 1 (the only recipe format version)");
		} else if (strcmp(key, "name") == 0) {
			st = json_is_string(v) ? QNT_OK : perr(&ps, QNT_E_FORMAT, key, "must be a string");
			name = json_string_value(v);
		} else if (strcmp(key, "description") == 0) {
			st = json_is_string(v) ? QNT_OK : perr(&ps, QNT_E_FORMAT, key, "must be a string");
			desc = json_string_value(v);
		} else if (strcmp(key, "default") == 0) {
			st = json_is_string(v) ? QNT_OK : perr(&ps, QNT_E_FORMAT, key, "must be a type name");
			deflt = json_string_value(v);
		} else if (strcmp(key, "file_type") == 0) {
			if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > UINT32_MAX)
				st = perr(&ps, QNT_E_FORMAT, key, "must be an integer in 0..4294967295");
			else
				file_type = json_integer_value(v);
		} else if (strcmp(key, "fallback_else") == 0) {
			if (json_is_string(v) && strcmp(json_string_value(v), "keep") == 0)
				fallback_keep = 1;
			else if (json_is_string(v) && strcmp(json_string_value(v), "f16") == 0)
				fallback_keep = 0;
			else
				st = perr(&ps, QNT_E_FORMAT, key, "must be \"f16\" or \"keep\"");
		} else if (strcmp(key, "fallback") == 0 || strcmp(key, "rules") == 0) {
			/* below, once the other keys are known */
		} else {
			st = perr(&ps, QNT_E_FORMAT, key, "unknown key");
		}
		if (st != QNT_OK)
			goto done;
	}
	json_t *fbo = json_object_get(root, "fallback");
	if (fbo) {
		if (!json_is_object(fbo)) {
			st = perr(&ps, QNT_E_FORMAT, "fallback", "must be an object {\"type\": \"type\", ...}");
			goto done;
		}
		fb = calloc(json_object_size(fbo) + 1, sizeof(*fb));
		if (!fb) {
			st = qnt__error(ctx, QNT_E_NO_MEMORY, "%s: out of memory", ps.src);
			goto done;
		}
		json_object_foreach(fbo, key, v) {
			int autom;
			st = resolve_type(ctx, ps.src, -1, "fallback", key, &fb[n_fb].from, &autom);
			if (st == QNT_OK && !json_is_string(v))
				st = perr(&ps, QNT_E_FORMAT, "fallback", "values must be type names");
			if (st == QNT_OK)
				st = resolve_type(ctx, ps.src, -1, "fallback", json_string_value(v), &fb[n_fb].to, &autom);
			if (st != QNT_OK)
				goto done;
			n_fb++;
		}
	}
	json_t *rules = json_object_get(root, "rules");
	if (rules && !json_is_array(rules)) {
		st = perr(&ps, QNT_E_FORMAT, "rules", "must be an array of rule objects");
		goto done;
	}
	if (rules && json_array_size(rules) > 100000) {
		st = perr(&ps, QNT_E_FORMAT, "rules", "more than 100000 rules");
		goto done;
	}
	n_rules = rules ? (int)json_array_size(rules) : 0;
	defs = calloc((size_t)n_rules + 1, sizeof(*defs));
	if (!defs) {
		st = qnt__error(ctx, QNT_E_NO_MEMORY, "%s: out of memory", ps.src);
		goto done;
	}
	for (int i = 0; i < n_rules; i++) {
		ps.rule = i;
		st = parse_rule(&ps, json_array_get(rules, (size_t)i), &defs[i]);
		if (st != QNT_OK)
			goto done;
	}
	if (!deflt) {
		st = qnt__error(ctx, QNT_E_FORMAT, "%s: no \"default\" type", ps.src);
		goto done;
	}
	st = qnt__recipe_build(ctx, ps.src, name ? name : ps.src, desc, file_type, deflt, defs, n_rules, fb, n_fb,
			       fallback_keep, out);
done:
	if (defs)
		for (int i = 0; i < n_rules; i++)
			def_free(&defs[i]);
	free(defs);
	free(fb);
	json_decref(root);
	return st;
}

static int set_str(json_t *o, const char *key, const char *s)
{
	return s ? json_object_set_new(o, key, json_string(s)) : 0;
}

static int set_list(json_t *o, const char *key, const char *csv)
{
	if (!csv)
		return 0;
	json_t *a = json_array();
	const char *p = csv;
	while (a) {
		const char *c = strchr(p, ',');
		size_t n = c ? (size_t)(c - p) : strlen(p);
		if (json_array_append_new(a, json_stringn(p, n)))
			break;
		if (!c)
			return json_object_set_new(o, key, a);
		p = c + 1;
	}
	json_decref(a);
	return -1;
}

static int set_int(json_t *o, const char *key, int64_t v)
{
	return v ? json_object_set_new(o, key, json_integer(v)) : 0;
}

static int set_tri(json_t *o, const char *key, int8_t v)
{
	return v ? json_object_set_new(o, key, json_boolean(v > 0)) : 0;
}

static int set_frac(json_t *o, const char *key, const int64_t f[2])
{
	return f[1] ? json_object_set_new(o, key, json_pack("[II]", (json_int_t)f[0], (json_int_t)f[1])) : 0;
}

static json_t *rule_json(const struct qnt__rule_def *d)
{
	json_t *o = json_object();
	int rc = o ? 0 : -1;
	rc |= set_str(o, "note", d->note);
	if (d->kinds) {
		json_t *a = json_array();
		for (int k = 0; a && k < QNT__K_COUNT; k++)
			if (d->kinds & (1u << k))
				rc |= json_array_append_new(a, json_string(kind_names[k]));
		rc |= json_object_set_new(o, "kind", a);
	}
	rc |= set_str(o, "match", d->match);
	rc |= set_str(o, "not_match", d->not_match);
	rc |= set_list(o, "arch", d->arch);
	rc |= set_list(o, "not_arch", d->not_arch);
	rc |= set_tri(o, "tied", d->tied);
	rc |= set_tri(o, "imatrix", d->imatrix);
	rc |= set_tri(o, "grouped_kv", d->grouped_kv);
	rc |= set_int(o, "n_expert_min", d->n_expert_min);
	rc |= set_int(o, "n_expert_max", d->n_expert_max);
	rc |= set_int(o, "gqa_min", d->gqa_min);
	rc |= set_int(o, "n_layer_min", d->n_layer_min);
	rc |= set_int(o, "n_layer_max", d->n_layer_max);
	rc |= set_int(o, "ne2_min", d->ne2_min);
	rc |= set_int(o, "row_not_multiple_of", d->row_not_multiple);
	if (d->index)
		rc |= set_str(o, "index", d->index == QNT__IDX_LAYER ? "layer" : "ordinal");
	rc |= set_int(o, "lt", d->lt);
	rc |= set_frac(o, "lt_frac", d->lt_frac);
	rc |= set_frac(o, "ge_frac", d->ge_frac);
	rc |= set_tri(o, "more_bits", d->more_bits);
	rc |= set_str(o, "type", d->type);
	if (rc) {
		json_decref(o);
		return NULL;
	}
	return o;
}

qnt_status qnt__recipe_to_json(qnt_ctx *ctx, const struct qnt__recipe *r, char **out)
{
	json_t *root = json_object(), *rules = json_array(), *fb = json_object();
	int rc = (root && rules && fb) ? 0 : -1;
	*out = NULL;
	rc |= json_object_set_new(root, "libqnt_recipe", json_integer(RECIPE_FORMAT));
	rc |= set_str(root, "name", r->name);
	rc |= set_str(root, "description", r->description);
	if (r->file_type >= 0)
		rc |= json_object_set_new(root, "file_type", json_integer(r->file_type));
	rc |= set_str(root, "default", r->default_name);
	for (int i = 0; !rc && i < r->n_fallback; i++)
		rc |= json_object_set_new(fb, qnt_type_name(r->fallback[i].from),
					  json_string(qnt_type_name(r->fallback[i].to)));
	rc |= json_object_set(root, "fallback", fb);
	rc |= json_object_set_new(root, "fallback_else", json_string(r->fallback_keep ? "keep" : "f16"));
	for (int i = 0; !rc && i < r->n_rules; i++) {
		json_t *o = rule_json(&r->rules[i].d);
		rc |= o ? json_array_append_new(rules, o) : -1;
	}
	rc |= json_object_set(root, "rules", rules);
	char *s = rc ? NULL : json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	json_decref(rules);
	json_decref(fb);
	json_decref(root);
	if (!s)
		return qnt__error(ctx, QNT_E_NO_MEMORY, "recipe %s: cannot write JSON: out of memory",
				  r->name ? r->name : "");
	*out = s;
	return QNT_OK;
}

/* ---- planning ---- */

struct order_item {
	int64_t layer;
	const char *name;
	int64_t idx;
};

static int order_cmp(const void *a, const void *b)
{
	const struct order_item *x = a, *y = b;
	if (x->layer != y->layer)
		return x->layer < y->layer ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int in_list(const char *csv, const char *s)
{
	if (!s)
		return 0;
	size_t n = strlen(s);
	const char *p = csv;
	for (;;) {
		const char *c = strchr(p, ',');
		size_t k = c ? (size_t)(c - p) : strlen(p);
		if (k == n && strncasecmp(p, s, n) == 0)
			return 1;
		if (!c)
			return 0;
		p = c + 1;
	}
}

static int more_bits(int64_t i, int64_t n)
{
	return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

static int tri_ok(int8_t want, int have)
{
	return want == 0 || (want > 0) == (have != 0);
}

struct plan_info {
	const struct qnt__recipe_model *m;
	int tied;
	int64_t gqa;
};

/* Whether rule `rl` holds for tensor t; i_ord/n_ord: its ordinal among the
 * tensors of the rule's kinds, and their count. */
static int rule_holds(const struct qnt__rule *rl, const struct plan_info *pi, const struct qnt__recipe_tensor *t,
		      enum qnt__kind kind, int64_t layer, int64_t i_ord, int64_t n_ord)
{
	const struct qnt__rule_def *d = &rl->d;
	const struct qnt__recipe_model *m = pi->m;
	if (d->kinds && !(d->kinds & (1u << kind)))
		return 0;
	if (d->match && regexec(&rl->re_match, t->name, 0, NULL, 0) != 0)
		return 0;
	if (d->not_match && regexec(&rl->re_not_match, t->name, 0, NULL, 0) == 0)
		return 0;
	if (d->arch && !in_list(d->arch, m->arch))
		return 0;
	if (d->not_arch && in_list(d->not_arch, m->arch))
		return 0;
	if (!tri_ok(d->tied, pi->tied) || !tri_ok(d->imatrix, m->has_imatrix))
		return 0;
	if (!tri_ok(d->grouped_kv, m->n_head > 0 && m->n_head_kv > 0 && m->n_head != m->n_head_kv))
		return 0;
	if ((d->n_expert_min && m->n_expert < d->n_expert_min) || (d->n_expert_max && m->n_expert > d->n_expert_max))
		return 0;
	if (d->gqa_min && pi->gqa < d->gqa_min)
		return 0;
	if ((d->n_layer_min && m->n_layer < d->n_layer_min) || (d->n_layer_max && m->n_layer > d->n_layer_max))
		return 0;
	if (d->ne2_min && (t->n_dims < 3 || t->ne[2] < d->ne2_min))
		return 0;
	if (d->row_not_multiple && t->ne[0] % d->row_not_multiple == 0)
		return 0;
	if (d->index != QNT__IDX_NONE) {
		int64_t i, n;
		if (d->index == QNT__IDX_LAYER) {
			if (layer < 0)
				return 0;
			i = layer;
			n = m->n_layer;
		} else {
			i = i_ord;
			n = n_ord;
		}
		if (d->lt && i >= d->lt)
			return 0;
		if (d->lt_frac[1] && i >= n * d->lt_frac[0] / d->lt_frac[1])
			return 0;
		if (d->ge_frac[1] && i < n * d->ge_frac[0] / d->ge_frac[1])
			return 0;
		if (!tri_ok(d->more_bits, more_bits(i, n)))
			return 0;
	}
	return 1;
}

static int is_float(qnt_type t)
{
	return t == QNT_TYPE_F32 || t == QNT_TYPE_F16 || t == QNT_TYPE_BF16;
}

static qnt_type mlx_for_source(qnt_type t, qnt_type src)
{
	qnt_mlx_params p = QNT_MLX_PARAMS_INIT;
	if (qnt_mlx_params_from_type(t, &p) != QNT_OK)
		return t;
	p.dtype = (src == QNT_TYPE_F32 || src == QNT_TYPE_F16) ? src : QNT_TYPE_BF16;
	qnt_type r = qnt_mlx_type(&p);
	return r == QNT_TYPE_INVALID ? t : r;
}

static int fits(qnt_type t, int64_t ne0)
{
	int64_t b = qnt_type_block_size(t);
	return b > 0 && ne0 % b == 0;
}

static void plan_one(const struct qnt__recipe *r, const struct plan_info *pi, const struct qnt__recipe_tensor *t,
		     enum qnt__kind kind, int64_t layer, const int64_t *ord, const int64_t *ord_n, int64_t n,
		     int64_t ti, struct qnt__recipe_choice *c)
{
	uint32_t dims = 0;
	for (uint32_t d = 0; d < t->n_dims && d < 4; d++)
		if (t->ne[d] > 1)
			dims = d + 1;
	memset(c, 0, sizeof(*c));
	c->rule = -1;
	c->type = c->wanted = t->type;
	if (dims < 2) {
		c->flags = QNT__CHOICE_KEEP;
		snprintf(c->reason, sizeof(c->reason), "keep: %u-D tensor", dims ? dims : 1);
		return;
	}
	if (!is_float(t->type)) {
		c->flags = QNT__CHOICE_KEEP;
		snprintf(c->reason, sizeof(c->reason), "keep: source %s is not a float type",
			 qnt_type_name(t->type) ? qnt_type_name(t->type) : "(unknown)");
		return;
	}
	qnt_type want = r->default_type;
	int autom = r->default_mlx_auto, ri;
	for (ri = 0; ri < r->n_rules; ri++) {
		const struct qnt__rule *rl = &r->rules[ri];
		int64_t io = ord[ri] >= 0 ? ord[(size_t)(r->n_rules + ri * n + ti)] : 0;
		if (!rule_holds(rl, pi, t, kind, layer, io, ord_n[ri]))
			continue;
		c->rule = ri;
		if (rl->action == QNT__RULE_KEEP) {
			c->flags = QNT__CHOICE_KEEP;
			snprintf(c->reason, sizeof(c->reason), "rule %d: keep%s%s%s", ri, rl->d.note ? " (" : "",
				 rl->d.note ? rl->d.note : "", rl->d.note ? ")" : "");
			return;
		}
		if (rl->action == QNT__RULE_TYPE) {
			want = rl->type;
			autom = rl->mlx_auto;
		}
		break;
	}
	if (autom)
		want = mlx_for_source(want, t->type);
	c->wanted = c->type = want;
	if (ri < r->n_rules)
		snprintf(c->reason, sizeof(c->reason), "rule %d: %s%s%s%s", ri, qnt_type_name(want),
			 r->rules[ri].d.note ? " (" : "", r->rules[ri].d.note ? r->rules[ri].d.note : "",
			 r->rules[ri].d.note ? ")" : "");
	else
		snprintf(c->reason, sizeof(c->reason), "default: %s", qnt_type_name(want));
	if (fits(want, t->ne[0]))
		return;
	c->flags = QNT__CHOICE_FALLBACK;
	int64_t blk = qnt_type_block_size(want);
	for (int i = 0; i < r->n_fallback; i++) {
		if (r->fallback[i].from == want && fits(r->fallback[i].to, t->ne[0])) {
			c->type = r->fallback[i].to;
			snprintf(c->reason, sizeof(c->reason), "fallback: %lld %% %lld != 0 for %s -> %s",
				 (long long)t->ne[0], (long long)blk, qnt_type_name(want), qnt_type_name(c->type));
			return;
		}
	}
	if (r->fallback_keep) {
		c->flags |= QNT__CHOICE_KEEP;
		c->type = t->type;
		snprintf(c->reason, sizeof(c->reason), "fallback: %lld %% %lld != 0 for %s -> keep %s",
			 (long long)t->ne[0], (long long)blk, qnt_type_name(want), qnt_type_name(t->type));
	} else {
		c->type = QNT_TYPE_F16;
		snprintf(c->reason, sizeof(c->reason), "fallback: %lld %% %lld != 0 for %s -> f16", (long long)t->ne[0],
			 (long long)blk, qnt_type_name(want));
	}
}

qnt_status qnt__recipe_plan(qnt_ctx *ctx, const struct qnt__recipe *r, const struct qnt__recipe_model *m,
			    const struct qnt__recipe_tensor *t, int64_t n, struct qnt__recipe_choice *out)
{
	if (!r || !m || n < 0 || (n > 0 && (!t || !out)))
		return qnt__error(ctx, QNT_E_INVALID_ARG, "qnt_recipe_plan: NULL argument or negative count");
	if (m->name_style != QNT__NAMES_GGUF && m->name_style != QNT__NAMES_HF)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "qnt_recipe_plan: unknown name style %d", m->name_style);
	for (int64_t i = 0; i < n; i++) {
		if (!t[i].name)
			return qnt__error(ctx, QNT_E_INVALID_ARG, "qnt_recipe_plan: tensor %lld has no name", (long long)i);
		if (t[i].n_dims < 1 || t[i].n_dims > 4)
			return qnt__error(ctx, QNT_E_INVALID_ARG, "qnt_recipe_plan: %s: %u dimensions (1 to 4)",
					  t[i].name, t[i].n_dims);
		for (uint32_t d = 0; d < t[i].n_dims; d++)
			if (t[i].ne[d] < 1)
				return qnt__error(ctx, QNT_E_INVALID_ARG, "qnt_recipe_plan: %s: ne[%u] = %lld",
						  t[i].name, d, (long long)t[i].ne[d]);
	}
	if (n == 0)
		return QNT_OK;
	/* ord: n_rules flags (>= 0: the rule has ordinals), then n_rules * n ordinals */
	size_t nr = (size_t)r->n_rules;
	int64_t *ord = malloc((nr + nr * (size_t)n + 1) * sizeof(*ord));
	int64_t *ord_n = calloc(nr + 1, sizeof(*ord_n));
	enum qnt__kind *kinds = malloc((size_t)n * sizeof(*kinds));
	struct order_item *items = malloc((size_t)n * sizeof(*items));
	if (!ord || !ord_n || !kinds || !items) {
		free(ord);
		free(ord_n);
		free(kinds);
		free(items);
		return qnt__error(ctx, QNT_E_NO_MEMORY, "qnt_recipe_plan: out of memory for %lld tensors", (long long)n);
	}
	struct plan_info pi = { m, 1, m->n_head_kv > 0 ? m->n_head / m->n_head_kv : 0 };
	for (int64_t i = 0; i < n; i++) {
		kinds[i] = qnt__recipe_kind(t[i].name, m->name_style);
		if (kinds[i] == QNT__K_OUTPUT)
			pi.tied = 0;
		items[i].layer = layer_of(t[i].name);
		items[i].name = t[i].name;
		items[i].idx = i;
	}
	/* llama.cpp visits tensors by layer (none first), then name */
	qsort(items, (size_t)n, sizeof(*items), order_cmp);
	for (size_t ri = 0; ri < nr; ri++) {
		const struct qnt__rule_def *d = &r->rules[ri].d;
		ord[ri] = -1;
		if (d->index != QNT__IDX_ORDINAL)
			continue;
		ord[ri] = 0;
		int64_t k = 0;
		for (int64_t j = 0; j < n; j++) {
			int64_t ti = items[j].idx;
			if (!d->kinds || (d->kinds & (1u << kinds[ti])))
				ord[nr + ri * (size_t)n + (size_t)ti] = k++;
		}
		ord_n[ri] = k;
	}
	for (int64_t i = 0; i < n; i++)
		plan_one(r, &pi, &t[i], kinds[i], layer_of(t[i].name), ord, ord_n, n, i, &out[i]);
	free(ord);
	free(ord_n);
	free(kinds);
	free(items);
	return QNT_OK;
}

uint32_t qnt__recipe_file_type(const struct qnt__recipe *r)
{
	static const struct {
		qnt_type t;
		uint32_t ftype;
	} map[] = {
		{ QNT_TYPE_F32, 0 },      { QNT_TYPE_F16, 1 },      { QNT_TYPE_Q4_0, 2 },     { QNT_TYPE_Q4_1, 3 },
		{ QNT_TYPE_Q8_0, 7 },     { QNT_TYPE_Q5_0, 8 },     { QNT_TYPE_Q5_1, 9 },     { QNT_TYPE_Q2_K, 10 },
		{ QNT_TYPE_Q3_K, 11 },    { QNT_TYPE_Q4_K, 14 },    { QNT_TYPE_Q5_K, 16 },    { QNT_TYPE_Q6_K, 18 },
		{ QNT_TYPE_IQ2_XXS, 19 }, { QNT_TYPE_IQ2_XS, 20 },  { QNT_TYPE_IQ3_XXS, 23 }, { QNT_TYPE_IQ1_S, 24 },
		{ QNT_TYPE_IQ4_NL, 25 },  { QNT_TYPE_IQ3_S, 26 },   { QNT_TYPE_IQ2_S, 28 },   { QNT_TYPE_IQ4_XS, 30 },
		{ QNT_TYPE_IQ1_M, 31 },   { QNT_TYPE_BF16, 32 },    { QNT_TYPE_TQ1_0, 36 },   { QNT_TYPE_TQ2_0, 37 },
		{ QNT_TYPE_MXFP4, 38 },   { QNT_TYPE_NVFP4, 39 },   { QNT_TYPE_Q1_0, 40 },    { QNT_TYPE_Q2_0, 41 },
	};
	if (r->file_type >= 0)
		return (uint32_t)r->file_type;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (map[i].t == r->default_type)
			return map[i].ftype;
	return 1024; /* LLAMA_FTYPE_GUESSED: no llama.cpp file type */
}
