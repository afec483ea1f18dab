/* SPDX-License-Identifier: MIT */
/*
 * MLX model folders, read and written the way mlx-lm does (its utils.py:
 * load_model, quantize_model, save_model, save_config); see mlx_folder.h.
 */
#include "mlx_folder.h"

#include "atomic_file.h"
#include "qnt_fp.h"
#include "../core/quant_mlx.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const mode_names[] = { "affine", "mxfp4", "mxfp8", "nvfp4" };
#define N_MODES 4

static const char *const part_suffix[QNT__MLXDIR_N_PARTS] = { ".weight", ".scales", ".biases", ".global_scale" };

static char *dup_str(const char *s)
{
	size_t n = strlen(s);
	char *c = malloc(n + 1);
	if (c)
		memcpy(c, s, n + 1);
	return c;
}

/* a + b (a NUL-terminated join), or NULL. */
static char *join2(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b);
	char *c = malloc(na + nb + 1);
	if (c) {
		memcpy(c, a, na);
		memcpy(c + na, b, nb + 1);
	}
	return c;
}

/* dir + "/" + name. */
static char *path_join(const char *dir, const char *name)
{
	size_t nd = strlen(dir);
	int slash = nd > 0 && dir[nd - 1] != '/';
	char *s = malloc(nd + slash + strlen(name) + 1);
	if (s) {
		memcpy(s, dir, nd);
		if (slash)
			s[nd] = '/';
		strcpy(s + nd + slash, name);
	}
	return s;
}

static int mode_from_name(const char *s)
{
	for (int i = 0; i < N_MODES; i++)
		if (strcmp(s, mode_names[i]) == 0)
			return i;
	return -1;
}

/* The quantization settings of a module (or the global ones). */
struct qsettings {
	int32_t mode, bits, group_size;
	int global_scale;
};

/* An integer setting: absent or null is 0 (the mode's default), as
 * mlx-lm's `group_size or default`. */
static int int_key(json_t *obj, const char *key, int32_t *out, char *why, size_t why_size)
{
	json_t *v = json_object_get(obj, key);
	*out = 0;
	if (!v || json_is_null(v))
		return 1;
	if (!json_is_integer(v) || json_integer_value(v) <= 0 || json_integer_value(v) > 1024) {
		char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
		snprintf(why, why_size, "\"%s\" is %s, not a positive integer", key, s ? s : "?");
		free(s);
		return 0;
	}
	*out = (int32_t)json_integer_value(v);
	return 1;
}

/* Parses {"group_size", "bits", "mode"[, "global_scale"]} (other keys
 * ignored, as to_quantized's are not all MLX's) and checks it with MLX's
 * rules. */
static qnt_status parse_settings(json_t *obj, struct qsettings *q, char *why, size_t why_size)
{
	memset(q, 0, sizeof *q);
	json_t *m = json_object_get(obj, "mode");
	if (m && !json_is_null(m)) {
		if (!json_is_string(m) || mode_from_name(json_string_value(m)) < 0) {
			char *s = json_dumps(m, JSON_ENCODE_ANY | JSON_COMPACT);
			snprintf(why, why_size, "\"mode\" is %s, not one of \"affine\", \"mxfp4\", \"mxfp8\", \"nvfp4\"",
				 s ? s : "?");
			free(s);
			return QNT_E_UNSUPPORTED;
		}
		q->mode = mode_from_name(json_string_value(m));
	}
	if (!int_key(obj, "group_size", &q->group_size, why, why_size) ||
	    !int_key(obj, "bits", &q->bits, why, why_size))
		return QNT_E_FORMAT;
	json_t *g = json_object_get(obj, "global_scale");
	if (g && !json_is_null(g)) {
		if (!json_is_boolean(g)) {
			snprintf(why, why_size, "\"global_scale\" is not true or false");
			return QNT_E_FORMAT;
		}
		q->global_scale = json_is_true(g);
	}
	struct qnt__mlx_fmt f;
	if (qnt__mlx_resolve(q->mode, q->bits, q->group_size, QNT_TYPE_F32, &f, why, why_size) != QNT_OK)
		return QNT_E_UNSUPPORTED;
	q->bits = f.bits;
	q->group_size = f.group_size;
	if (q->global_scale && q->mode != QNT_MLX_NVFP4) {
		snprintf(why, why_size, "\"global_scale\" is only for nvfp4, not %s", mode_names[q->mode]);
		return QNT_E_UNSUPPORTED;
	}
	return QNT_OK;
}

static int is_global_key(const char *k)
{
	return strcmp(k, "group_size") == 0 || strcmp(k, "bits") == 0 || strcmp(k, "mode") == 0;
}

/* ------------------------------------------------------------------ */
/* Reading                                                              */
/* ------------------------------------------------------------------ */

struct stored {
	const struct qnt__st_tensor *t;
	const struct qnt__st_file *f; /* its file */
	const char *file; /* path of its file */
	int used;         /* a part of a quantized tensor */
};

struct qnt__mlxdir {
	char *path;
	char *config_text;
	struct qnt__st_index *index;  /* when the folder has one */
	struct qnt__st_file **files;  /* without an index: model*.safetensors */
	int64_t n_files;
	struct stored *st;            /* sorted by name */
	int64_t n_st;
	struct qnt__mlxdir_tensor *tensors;
	int64_t n_tensors;
};

void qnt__mlxdir_close(struct qnt__mlxdir *d)
{
	if (!d)
		return;
	for (int64_t i = 0; d->tensors && i < d->n_tensors; i++)
		free((char *)d->tensors[i].module);
	free(d->tensors);
	free(d->st);
	for (int64_t i = 0; d->files && i < d->n_files; i++)
		qnt__st_close(d->files[i]);
	free(d->files);
	qnt__st_index_close(d->index);
	free(d->config_text);
	free(d->path);
	free(d);
}

QNT_PRINTF(5, 6)
static qnt_status derr(qnt_ctx *ctx, qnt_status st, const struct qnt__mlxdir *d, const char *file, const char *fmt,
		       ...)
{
	char msg[QNT_ERRMSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	const char *base = file ? strrchr(file, '/') : NULL;
	return qnt__error(ctx, st, "%s: %s: %s", d->path, base ? base + 1 : file ? file : "", msg);
}

static int cmp_stored(const void *a, const void *b)
{
	return strcmp(((const struct stored *)a)->t->name, ((const struct stored *)b)->t->name);
}

static int cmp_cstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_tensor(const void *a, const void *b)
{
	return strcmp(((const struct qnt__mlxdir_tensor *)a)->name, ((const struct qnt__mlxdir_tensor *)b)->name);
}

static struct stored *find_stored(const struct qnt__mlxdir *d, const char *name)
{
	int64_t lo = 0, hi = d->n_st;
	while (lo < hi) {
		int64_t mid = lo + (hi - lo) / 2;
		int c = strcmp(d->st[mid].t->name, name);
		if (c == 0)
			return &d->st[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* Does some stored tensor's name start with "P."? */
static int module_exists(const struct qnt__mlxdir *d, const char *p)
{
	size_t n = strlen(p);
	for (int64_t i = 0; i < d->n_st; i++)
		if (strncmp(d->st[i].t->name, p, n) == 0 && d->st[i].t->name[n] == '.')
			return 1;
	return 0;
}

/* Without an index: every model*.safetensors file, sorted by name. */
static qnt_status open_glob(qnt_ctx *ctx, struct qnt__mlxdir *d)
{
	DIR *dh = opendir(d->path);
	if (!dh) {
		int e = errno;
		return qnt__error(ctx, e == ENOENT ? QNT_E_NOT_FOUND : QNT_E_IO, "%s: cannot open the folder: %s",
				  d->path, strerror(e));
	}
	char **names = NULL;
	int64_t n = 0, cap = 0;
	qnt_status st = QNT_OK;
	struct dirent *e;
	while ((e = readdir(dh)) != NULL) {
		size_t len = strlen(e->d_name);
		if (len < 17 || strncmp(e->d_name, "model", 5) != 0 ||
		    strcmp(e->d_name + len - 12, ".safetensors") != 0)
			continue;
		if (n == cap) {
			int64_t nc = cap ? cap * 2 : 8;
			char **nn = realloc(names, (size_t)nc * sizeof *nn);
			if (!nn) {
				st = QNT_E_NO_MEMORY;
				break;
			}
			names = nn;
			cap = nc;
		}
		if (!(names[n] = dup_str(e->d_name))) {
			st = QNT_E_NO_MEMORY;
			break;
		}
		n++;
	}
	closedir(dh);
	if (st == QNT_OK && n == 0)
		st = qnt__error(ctx, QNT_E_NOT_FOUND, "%s: no weights: neither %s nor model*.safetensors", d->path,
				QNT__ST_INDEX_NAME);
	else if (st == QNT_E_NO_MEMORY)
		st = qnt__error(ctx, st, "%s: out of memory", d->path);
	if (st == QNT_OK) {
		qsort(names, (size_t)n, sizeof *names, cmp_cstr);
		d->files = calloc((size_t)n, sizeof *d->files);
		if (!d->files)
			st = qnt__error(ctx, QNT_E_NO_MEMORY, "%s: out of memory", d->path);
	}
	for (int64_t i = 0; st == QNT_OK && i < n; i++) {
		char *p = path_join(d->path, names[i]);
		st = p ? qnt__st_open(ctx, p, &d->files[i]) : qnt__error(ctx, QNT_E_NO_MEMORY, "out of memory");
		free(p);
		if (st == QNT_OK)
			d->n_files = i + 1;
	}
	for (int64_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return st;
}

/* Gathers every stored tensor, sorted by name; a name in two files is an
 * error. */
static qnt_status gather(qnt_ctx *ctx, struct qnt__mlxdir *d)
{
	int64_t n = 0;
	if (d->index) {
		n = qnt__st_index_n_tensors(d->index);
	} else {
		for (int64_t f = 0; f < d->n_files; f++)
			n += qnt__st_n_tensors(d->files[f]);
	}
	d->st = calloc((size_t)(n ? n : 1), sizeof *d->st);
	if (!d->st)
		return qnt__error(ctx, QNT_E_NO_MEMORY, "%s: out of memory", d->path);
	if (d->index) {
		for (int64_t i = 0; i < n; i++) {
			struct qnt__st_file *f;
			qnt_status st = qnt__st_index_find(ctx, d->index, qnt__st_index_tensor_name(d->index, i),
							   &d->st[i].t, &f);
			if (st != QNT_OK)
				return st;
			d->st[i].file = qnt__st_path(f);
			d->st[i].f = f;
		}
	} else {
		int64_t k = 0;
		for (int64_t f = 0; f < d->n_files; f++)
			for (int64_t i = 0; i < qnt__st_n_tensors(d->files[f]); i++) {
				d->st[k].t = qnt__st_tensor_at(d->files[f], i);
				d->st[k].f = d->files[f];
				d->st[k++].file = qnt__st_path(d->files[f]);
			}
	}
	d->n_st = n;
	qsort(d->st, (size_t)n, sizeof *d->st, cmp_stored);
	for (int64_t i = 1; i < n; i++)
		if (strcmp(d->st[i - 1].t->name, d->st[i].t->name) == 0)
			return derr(ctx, QNT_E_FORMAT, d, d->st[i].file, "%s: tensor also in %s", d->st[i].t->name,
				    d->st[i - 1].file);
	return QNT_OK;
}

static const char *dname(int dtype)
{
	const char *s = qnt__st_dtype_name(dtype);
	return s ? s : "?";
}

/* "[a, b, c]" into buf. */
static const char *shape_str(const struct qnt__st_tensor *t, char *buf, size_t size)
{
	size_t k = 0;
	buf[0] = '\0';
	k += (size_t)snprintf(buf + k, size - k, "[");
	for (uint32_t i = 0; i < t->n_dims && k < size; i++)
		k += (size_t)snprintf(buf + k, size - k, "%s%" PRIu64, i ? ", " : "", t->shape[i]);
	if (k < size)
		snprintf(buf + k, size - k, "]");
	return buf;
}

/* Checks module p's stored arrays against its settings and fills *out. */
static qnt_status check_module(qnt_ctx *ctx, struct qnt__mlxdir *d, const char *p, const struct qsettings *q,
			       const char *src, struct qnt__mlxdir_tensor *out)
{
	struct stored *sp[QNT__MLXDIR_N_PARTS];
	char nm[QNT__MLXDIR_N_PARTS][512];
	char b1[160], b2[160];
	for (int i = 0; i < QNT__MLXDIR_N_PARTS; i++) {
		snprintf(nm[i], sizeof nm[i], "%s%s", p, part_suffix[i]);
		sp[i] = find_stored(d, nm[i]);
	}
	const struct stored *s = sp[QNT__MLXDIR_PART_SCALES];
	const struct qnt__st_tensor *S = s->t;
	if (!sp[QNT__MLXDIR_PART_CODES])
		return derr(ctx, QNT_E_FORMAT, d, s->file, "%s: quantized module %s has scales but no %s", S->name, p,
			    nm[0]);
	const struct stored *w = sp[QNT__MLXDIR_PART_CODES];
	const struct qnt__st_tensor *W = w->t;
	char set[96];
	snprintf(set, sizeof set, "%s, bits %d, group_size %d (%s)", mode_names[q->mode], (int)q->bits,
		 (int)q->group_size, src);
	if (W->dtype != QNT__ST_U32)
		return derr(ctx, QNT_E_FORMAT, d, w->file, "%s: dtype %s, but the codes of a quantized module are U32",
			    W->name, dname(W->dtype));
	if (W->n_dims < 2 || W->n_dims > QNT__ST_MAX_DIMS)
		return derr(ctx, QNT_E_FORMAT, d, w->file, "%s: codes of shape %s: a quantized weight has at least 2 dimensions",
			    W->name, shape_str(W, b1, sizeof b1));
	if (S->n_dims != W->n_dims || memcmp(S->shape, W->shape, (W->n_dims - 1) * sizeof *S->shape) != 0)
		return derr(ctx, QNT_E_FORMAT, d, s->file, "%s: shape %s does not match the codes %s %s (same leading dimensions expected)",
			    S->name, shape_str(S, b1, sizeof b1), W->name, shape_str(W, b2, sizeof b2));
	int affine = q->mode == QNT_MLX_AFFINE;
	if (affine ? (S->dtype != QNT__ST_F32 && S->dtype != QNT__ST_F16 && S->dtype != QNT__ST_BF16)
		   : S->dtype != QNT__ST_U8)
		return derr(ctx, QNT_E_FORMAT, d, s->file, "%s: dtype %s, but %s scales are %s", S->name,
			    dname(S->dtype), mode_names[q->mode], affine ? "F32, F16 or BF16" : "U8");
	uint64_t ng = S->shape[S->n_dims - 1];
	uint64_t in = ng * (uint64_t)q->group_size;
	uint64_t cols = W->shape[W->n_dims - 1];
	if (ng > UINT64_MAX / 1024 || cols > UINT64_MAX / 32 || cols * 32 != in * (uint64_t)q->bits)
		return derr(ctx, QNT_E_FORMAT, d, w->file,
			    "%s: codes have %" PRIu64 " columns, but %s with %" PRIu64 " scale columns means %" PRIu64
			    " inputs, packed in %" PRIu64 " uint32 columns",
			    W->name, cols, set, ng, in, in * (uint64_t)q->bits / 32);
	const struct stored *b = sp[QNT__MLXDIR_PART_BIASES];
	if (affine && !b)
		return derr(ctx, QNT_E_FORMAT, d, s->file, "%s: affine module %s has no %s", S->name, p,
			    nm[QNT__MLXDIR_PART_BIASES]);
	if (!affine && b)
		return derr(ctx, QNT_E_FORMAT, d, b->file, "%s: %s has no biases, but the tensor exists",
			    b->t->name, mode_names[q->mode]);
	if (b && (b->t->dtype != S->dtype || b->t->n_dims != S->n_dims ||
		  memcmp(b->t->shape, S->shape, S->n_dims * sizeof *S->shape) != 0))
		return derr(ctx, QNT_E_FORMAT, d, b->file, "%s: %s %s differs from the scales' %s %s", b->t->name,
			    dname(b->t->dtype), shape_str(b->t, b1, sizeof b1), dname(S->dtype),
			    shape_str(S, b2, sizeof b2));
	uint64_t nmat = 1;
	for (uint32_t i = 0; i + 2 < W->n_dims; i++)
		nmat *= W->shape[i];
	const struct stored *g = sp[QNT__MLXDIR_PART_GLOBAL_SCALE];
	if (g && q->mode != QNT_MLX_NVFP4)
		return derr(ctx, QNT_E_FORMAT, d, g->file, "%s: a global scale is only for nvfp4, not %s",
			    g->t->name, mode_names[q->mode]);
	if (q->global_scale && !g)
		return derr(ctx, QNT_E_FORMAT, d, s->file, "%s: config.json sets \"global_scale\" for %s, but there is no %s",
			    S->name, p, nm[QNT__MLXDIR_PART_GLOBAL_SCALE]);
	if (g && (g->t->dtype != QNT__ST_F32 || g->t->nelements != nmat))
		return derr(ctx, QNT_E_FORMAT, d, g->file, "%s: %s %s, expected F32 with %" PRIu64 " element(s), one per matrix",
			    g->t->name, dname(g->t->dtype), shape_str(g->t, b1, sizeof b1), nmat);

	memset(out, 0, sizeof *out);
	out->name = W->name;
	out->module = dup_str(p);
	if (!out->module)
		return qnt__error(ctx, QNT_E_NO_MEMORY, "%s: out of memory", d->path);
	out->quantized = 1;
	out->mode = q->mode;
	out->bits = q->bits;
	out->group_size = q->group_size;
	out->scale_dtype = S->dtype;
	out->dtype = QNT__ST_U32;
	out->n_dims = W->n_dims;
	memcpy(out->shape, W->shape, W->n_dims * sizeof *W->shape);
	out->shape[W->n_dims - 1] = in;
	out->nelements = 1;
	for (uint32_t i = 0; i < out->n_dims; i++)
		out->nelements *= out->shape[i];
	out->n_matrices = nmat;
	struct qnt__mlx_fmt f = { q->mode, q->bits, q->group_size, 0, 0, 0.0f };
	f.d = affine ? (S->dtype == QNT__ST_F32 ? QNT__MLX_F32 : S->dtype == QNT__ST_F16 ? QNT__MLX_F16 : QNT__MLX_BF16)
		     : QNT__MLX_BF16;
	out->type = qnt__mlx_type_of(&f);
	for (int i = 0; i < QNT__MLXDIR_N_PARTS; i++) {
		out->parts[i] = sp[i] ? sp[i]->t : NULL;
		out->files[i] = sp[i] ? sp[i]->file : NULL;
		if (sp[i])
			sp[i]->used = 1;
	}
	return QNT_OK;
}

/* Builds the logical tensors from config.json's "quantization". */
static qnt_status build(qnt_ctx *ctx, struct qnt__mlxdir *d, json_t *config)
{
	const char *cfg = QNT__MLXDIR_CONFIG_NAME;
	char why[200];
	json_t *qz = json_object_get(config, "quantization");
	struct qsettings glob;
	int have_q = qz && !json_is_null(qz);
	if (have_q) {
		if (!json_is_object(qz))
			return derr(ctx, QNT_E_FORMAT, d, cfg, "\"quantization\" is not an object");
		qnt_status st = parse_settings(qz, &glob, why, sizeof why);
		if (st != QNT_OK)
			return derr(ctx, st, d, cfg, "\"quantization\": %s", why);
	}
	d->tensors = calloc((size_t)(d->n_st ? d->n_st : 1), sizeof *d->tensors);
	if (!d->tensors)
		return qnt__error(ctx, QNT_E_NO_MEMORY, "%s: out of memory", d->path);
	/* Quantized modules: those with P.scales (the signal of mlx-lm's loader). */
	for (int64_t i = 0; i < d->n_st; i++) {
		const char *name = d->st[i].t->name;
		size_t len = strlen(name);
		if (len <= 7 || strcmp(name + len - 7, ".scales") != 0)
			continue;
		char p[480];
		if (len - 7 >= sizeof p)
			return derr(ctx, QNT_E_FORMAT, d, d->st[i].file, "%s: name too long", name);
		memcpy(p, name, len - 7);
		p[len - 7] = '\0';
		/* A module is quantized when its weight holds U32 codes or its
		 * entry in config.json says so; a tensor that merely ends in
		 * ".scales" beside a float weight is a parameter like any other. */
		char wn[488];
		snprintf(wn, sizeof wn, "%s.weight", p);
		const struct stored *ws = find_stored(d, wn);
		int codes = ws && ws->t->dtype == QNT__ST_U32;
		json_t *e = have_q ? json_object_get(qz, p) : NULL;
		if (!codes && !(e && json_is_object(e)))
			continue;
		if (!have_q)
			return derr(ctx, QNT_E_FORMAT, d, d->st[i].file,
				    "%s: module %s is quantized, but config.json has no \"quantization\"", name, p);
		struct qsettings q = glob;
		const char *src = "global settings";
		if (e && json_is_false(e))
			return derr(ctx, QNT_E_FORMAT, d, d->st[i].file,
				    "%s: config.json says module %s is not quantized (false), but it has scales", name, p);
		if (e && !json_is_object(e))
			return derr(ctx, QNT_E_FORMAT, d, cfg, "\"quantization\": \"%s\" is neither an object nor false", p);
		if (e) {
			qnt_status st = parse_settings(e, &q, why, sizeof why);
			if (st != QNT_OK)
				return derr(ctx, st, d, cfg, "\"quantization\": \"%s\": %s", p, why);
			src = "its entry in config.json";
		}
		qnt_status st = check_module(ctx, d, p, &q, src, &d->tensors[d->n_tensors]);
		if (st != QNT_OK)
			return st;
		d->n_tensors++;
	}
	/* Every per-module entry names a module of the folder. */
	if (have_q) {
		const char *k;
		json_t *v;
		json_object_foreach(qz, k, v) {
			if (is_global_key(k) || !(json_is_object(v) || json_is_false(v)))
				continue;
			char sn[512];
			snprintf(sn, sizeof sn, "%s.scales", k);
			int quant = find_stored(d, sn) != NULL;
			if (json_is_object(v) && !quant)
				return derr(ctx, QNT_E_FORMAT, d, cfg,
					    "\"quantization\": override for module \"%s\", which %s", k,
					    module_exists(d, k) ? "is not quantized (no .scales)" : "the folder does not have");
			if (json_is_false(v) && !module_exists(d, k))
				return derr(ctx, QNT_E_FORMAT, d, cfg,
					    "\"quantization\": \"%s\": false, for a module the folder does not have", k);
		}
	}
	/* Everything else as it is. */
	for (int64_t i = 0; i < d->n_st; i++) {
		if (d->st[i].used)
			continue;
		const struct qnt__st_tensor *t = d->st[i].t;
		struct qnt__mlxdir_tensor *o = &d->tensors[d->n_tensors++];
		memset(o, 0, sizeof *o);
		o->name = t->name;
		o->type = qnt__st_dtype_to_qnt(t->dtype);
		o->dtype = t->dtype;
		o->n_dims = t->n_dims;
		memcpy(o->shape, t->shape, t->n_dims * sizeof *t->shape);
		o->nelements = t->nelements;
		o->mode = -1;
		o->scale_dtype = -1;
		o->parts[QNT__MLXDIR_PART_CODES] = t;
		o->files[QNT__MLXDIR_PART_CODES] = d->st[i].file;
	}
	qsort(d->tensors, (size_t)d->n_tensors, sizeof *d->tensors, cmp_tensor);
	return QNT_OK;
}

qnt_status qnt__mlxdir_open(qnt_ctx *ctx, const char *dir, struct qnt__mlxdir **out)
{
	if (!dir || !out)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "mlx folder open: NULL argument");
	*out = NULL;
	struct qnt__mlxdir *d = calloc(1, sizeof *d);
	if (!d || !(d->path = dup_str(dir))) {
		free(d);
		return qnt__error(ctx, QNT_E_NO_MEMORY, "%s: out of memory", dir);
	}
	json_t *config = NULL;
	char *cpath = path_join(dir, QNT__MLXDIR_CONFIG_NAME);
	char *ipath = path_join(dir, QNT__ST_INDEX_NAME);
	qnt_status st = cpath && ipath ? QNT_OK : qnt__error(ctx, QNT_E_NO_MEMORY, "%s: out of memory", dir);
	size_t clen = 0;
	if (st == QNT_OK) {
		st = qnt__read_text(ctx, cpath, (size_t)64 << 20, "a config file", &d->config_text, &clen);
		if (st == QNT_E_NOT_FOUND)
			st = qnt__error(ctx, st, "%s: no %s: not a model folder", dir, QNT__MLXDIR_CONFIG_NAME);
	}
	if (st == QNT_OK) {
		json_error_t je;
		config = json_loadb(d->config_text, clen, 0, &je);
		if (!config)
			st = derr(ctx, QNT_E_FORMAT, d, cpath, "invalid JSON: %s (line %d, column %d)", je.text, je.line,
				  je.column);
		else if (!json_is_object(config))
			st = derr(ctx, QNT_E_FORMAT, d, cpath, "not a JSON object");
	}
	if (st == QNT_OK) {
		FILE *probe = fopen(ipath, "rb");
		if (probe) {
			fclose(probe);
			st = qnt__st_index_open(ctx, ipath, QNT__ST_INDEX_OPEN_ALL, &d->index);
		} else {
			st = open_glob(ctx, d);
		}
	}
	if (st == QNT_OK)
		st = gather(ctx, d);
	if (st == QNT_OK)
		st = build(ctx, d, config);
	json_decref(config);
	free(cpath);
	free(ipath);
	if (st != QNT_OK) {
		qnt__mlxdir_close(d);
		return st;
	}
	*out = d;
	return QNT_OK;
}

const char *qnt__mlxdir_path(const struct qnt__mlxdir *d)
{
	return d->path;
}

const char *qnt__mlxdir_config_json(const struct qnt__mlxdir *d)
{
	return d->config_text;
}

int64_t qnt__mlxdir_n_tensors(const struct qnt__mlxdir *d)
{
	return d->n_tensors;
}

const struct qnt__mlxdir_tensor *qnt__mlxdir_tensor_at(const struct qnt__mlxdir *d, int64_t i)
{
	return i >= 0 && i < d->n_tensors ? &d->tensors[i] : NULL;
}

const struct qnt__mlxdir_tensor *qnt__mlxdir_find(const struct qnt__mlxdir *d, const char *name)
{
	int64_t lo = 0, hi = d->n_tensors;
	while (lo < hi) {
		int64_t mid = lo + (hi - lo) / 2;
		int c = strcmp(d->tensors[mid].name, name);
		if (c == 0)
			return &d->tensors[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int64_t qnt__mlxdir_tensor_rows(const struct qnt__mlxdir_tensor *t)
{
	if (t->n_dims == 0)
		return 1;
	uint64_t last = t->shape[t->n_dims - 1];
	return last ? (int64_t)(t->nelements / last) : 0;
}

static size_t type_bytes(qnt_type t)
{
	return t == QNT_TYPE_F32 ? 4 : 2;
}

static float load_elem(qnt_type t, const void *p, int64_t i)
{
	if (t == QNT_TYPE_F32)
		return ((const float *)p)[i];
	uint16_t h = ((const uint16_t *)p)[i];
	return t == QNT_TYPE_F16 ? qnt__fp16_to_fp32(h) : qnt__bf16_to_fp32(h);
}

static void store_elem(qnt_type t, void *p, int64_t i, float v)
{
	if (t == QNT_TYPE_F32)
		((float *)p)[i] = v;
	else
		((uint16_t *)p)[i] = t == QNT_TYPE_F16 ? qnt__fp32_to_fp16(v) : qnt__fp32_to_bf16(v);
}

qnt_status qnt__mlxdir_dequantize(qnt_ctx *ctx, const struct qnt__mlxdir_tensor *t, int64_t r0, int64_t r1,
				  qnt_type dtype, void *dst)
{
	if (!t || !dst)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "mlx folder dequantize: NULL argument");
	if (!t->quantized)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "mlx folder dequantize: %s is not quantized", t->name);
	if (dtype != QNT_TYPE_F32 && dtype != QNT_TYPE_F16 && dtype != QNT_TYPE_BF16)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "mlx folder dequantize: %s: dtype %d is not f32, f16 or bf16",
				  t->name, (int)dtype);
	int64_t rows = qnt__mlxdir_tensor_rows(t);
	if (r0 < 0 || r1 < r0 || r1 > rows)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "mlx folder dequantize: %s: rows [%" PRId64 ", %" PRId64
				  ") outside [0, %" PRId64 ")", t->name, r0, r1, rows);
	int64_t n = (int64_t)t->shape[t->n_dims - 1];
	int64_t per_mat = rows / (int64_t)(t->n_matrices ? t->n_matrices : 1);
	int64_t wcols = n * t->bits / 32, ng = n / t->group_size;
	size_t ssize = t->mode == QNT_MLX_AFFINE ? qnt__st_dtype_bits(t->scale_dtype) / 8 : 1;
	/* Affine computes in the scales' dtype (then converts); fp modes in dtype. */
	qnt_type wd = t->mode == QNT_MLX_AFFINE ? qnt__st_dtype_to_qnt(t->scale_dtype) : dtype;
	void *tmp = NULL;
	if (wd != dtype && r1 > r0) {
		tmp = malloc((size_t)((r1 - r0) * n) * type_bytes(wd));
		if (!tmp)
			return qnt__error(ctx, QNT_E_NO_MEMORY, "mlx folder dequantize: %s: out of memory", t->name);
	}
	qnt_status st = QNT_OK;
	/* The codes may sit at any byte offset (mx.save_safetensors does not
	 * align tensor data): unaligned rows are copied into `aligned`. */
	const unsigned char *wq = t->parts[QNT__MLXDIR_PART_CODES]->data;
	uint32_t *aligned = NULL;
	if ((uintptr_t)wq % _Alignof(uint32_t) != 0 && r1 > r0) {
		int64_t most = per_mat && per_mat < r1 - r0 ? per_mat : r1 - r0;
		aligned = malloc((size_t)(most * wcols) * sizeof *aligned + 1);
		if (!aligned) {
			free(tmp);
			return qnt__error(ctx, QNT_E_NO_MEMORY, "mlx folder dequantize: %s: out of memory", t->name);
		}
	}
	const unsigned char *sc = t->parts[QNT__MLXDIR_PART_SCALES]->data;
	const unsigned char *bi = t->parts[QNT__MLXDIR_PART_BIASES] ? t->parts[QNT__MLXDIR_PART_BIASES]->data : NULL;
	const float *gsc = t->parts[QNT__MLXDIR_PART_GLOBAL_SCALE] ? t->parts[QNT__MLXDIR_PART_GLOBAL_SCALE]->data : NULL;
	unsigned char *out = tmp ? tmp : dst;
	for (int64_t r = r0; st == QNT_OK && r < r1;) {
		int64_t m = per_mat ? r / per_mat : 0;
		int64_t end = per_mat ? (m + 1) * per_mat : r1;
		if (end > r1)
			end = r1;
		qnt_mlx_params p = QNT_MLX_PARAMS_INIT;
		p.mode = t->mode;
		p.bits = t->bits;
		p.group_size = t->group_size;
		p.dtype = wd;
		if (gsc) {
			float g;
			memcpy(&g, gsc + m, sizeof g);
			p.flags = QNT_MLX_FLAG_GLOBAL_SCALE;
			p.global_scale = g;
		}
		const uint32_t *codes;
		if (aligned) {
			memcpy(aligned, wq + (size_t)(r * wcols) * 4, (size_t)((end - r) * wcols) * 4);
			codes = aligned;
		} else {
			codes = (const uint32_t *)(const void *)(wq + (size_t)(r * wcols) * 4);
		}
		st = qnt_mlx_dequantize(ctx, &p, codes, sc + (size_t)(r * ng) * ssize,
					bi ? bi + (size_t)(r * ng) * ssize : NULL, end - r, n,
					out + (size_t)((r - r0) * n) * type_bytes(wd));
		r = end;
	}
	if (st == QNT_OK && tmp)
		for (int64_t i = 0; i < (r1 - r0) * n; i++)
			store_elem(dtype, dst, i, load_elem(wd, tmp, i));
	free(aligned);
	free(tmp);
	return st;
}

/* ------------------------------------------------------------------ */
/* JSON as Python's json.dump(obj, indent=4) writes it                  */
/* ------------------------------------------------------------------ */

struct sbuf {
	char *p;
	size_t n, cap;
	int oom;
};

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t nc = b->cap ? b->cap : 1024;
		while (b->n + n + 1 > nc)
			nc *= 2;
		char *np = realloc(b->p, nc);
		if (!np) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = nc;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void sb_puts(struct sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

/* A string with ensure_ascii: \" \\ \n \r \t \b \f, other characters
 * outside ' '..'~' as \uxxxx (lowercase; surrogate pairs above U+FFFF). */
static void py_string(struct sbuf *b, const char *s, size_t n)
{
	char e[16];
	sb_puts(b, "\"");
	for (size_t i = 0; i < n;) {
		unsigned char c = (unsigned char)s[i];
		uint32_t cp;
		size_t len = 1;
		if (c < 0x80) {
			cp = c;
		} else {
			len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
			cp = c & (len == 4 ? 0x07 : len == 3 ? 0x0f : 0x1f);
			for (size_t k = 1; k < len && i + k < n; k++)
				cp = (cp << 6) | ((unsigned char)s[i + k] & 0x3f);
		}
		i += len;
		switch (cp) {
		case '"': sb_puts(b, "\\\""); continue;
		case '\\': sb_puts(b, "\\\\"); continue;
		case '\n': sb_puts(b, "\\n"); continue;
		case '\r': sb_puts(b, "\\r"); continue;
		case '\t': sb_puts(b, "\\t"); continue;
		case '\b': sb_puts(b, "\\b"); continue;
		case '\f': sb_puts(b, "\\f"); continue;
		default: break;
		}
		if (cp >= 0x20 && cp <= 0x7e) {
			e[0] = (char)cp;
			sb_put(b, e, 1);
		} else if (cp > 0xffff) {
			uint32_t v = cp - 0x10000;
			snprintf(e, sizeof e, "\\u%04x\\u%04x", 0xd800 + (v >> 10), 0xdc00 + (v & 0x3ff));
			sb_puts(b, e);
		} else {
			snprintf(e, sizeof e, "\\u%04x", (unsigned)cp);
			sb_puts(b, e);
		}
	}
	sb_puts(b, "\"");
}

/* Python's repr(float): the shortest digits that read back the same,
 * fixed notation for exponents -4 .. 15, else d.ddde+XX. */
static void py_float(struct sbuf *b, double v)
{
	char buf[64], digits[32];
	if (isnan(v)) {
		sb_puts(b, "NaN");
		return;
	}
	if (isinf(v)) {
		sb_puts(b, v > 0 ? "Infinity" : "-Infinity");
		return;
	}
	if (v == 0) {
		sb_puts(b, signbit(v) ? "-0.0" : "0.0");
		return;
	}
	int p;
	for (p = 1; p <= 17; p++) {
		snprintf(buf, sizeof buf, "%.*e", p - 1, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	/* buf: [-]d[.ddd]e[+-]XX */
	const char *s = buf;
	int neg = *s == '-';
	s += neg;
	size_t nd = 0;
	for (; *s && *s != 'e'; s++)
		if (*s != '.')
			digits[nd++] = *s;
	digits[nd] = '\0';
	int exp10 = atoi(s + 1); /* value = d.ddd * 10^exp10 */
	int decpt = exp10 + 1;   /* value = 0.dddd * 10^decpt */
	char out[64];
	size_t k = 0;
	if (neg)
		out[k++] = '-';
	if (decpt > -4 && decpt <= 16) {
		if (decpt <= 0) {
			out[k++] = '0';
			out[k++] = '.';
			for (int i = 0; i < -decpt; i++)
				out[k++] = '0';
			for (size_t i = 0; i < nd; i++)
				out[k++] = digits[i];
		} else {
			for (int i = 0; i < decpt; i++)
				out[k++] = i < (int)nd ? digits[i] : '0';
			out[k++] = '.';
			if ((int)nd > decpt)
				for (size_t i = (size_t)decpt; i < nd; i++)
					out[k++] = digits[i];
			else
				out[k++] = '0';
		}
		out[k] = '\0';
	} else {
		out[k++] = digits[0];
		if (nd > 1) {
			out[k++] = '.';
			for (size_t i = 1; i < nd; i++)
				out[k++] = digits[i];
		}
		snprintf(out + k, sizeof out - k, "e%c%02d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
	}
	sb_puts(b, out);
}

static void py_indent(struct sbuf *b, int level)
{
	sb_puts(b, "\n");
	for (int i = 0; i < level; i++)
		sb_puts(b, "    ");
}

static void py_dump(struct sbuf *b, json_t *v, int level)
{
	char num[32];
	switch (json_typeof(v)) {
	case JSON_OBJECT: {
		if (json_object_size(v) == 0) {
			sb_puts(b, "{}");
			return;
		}
		sb_puts(b, "{");
		const char *k;
		json_t *x;
		int first = 1;
		json_object_foreach(v, k, x) {
			if (!first)
				sb_puts(b, ",");
			first = 0;
			py_indent(b, level + 1);
			py_string(b, k, strlen(k));
			sb_puts(b, ": ");
			py_dump(b, x, level + 1);
		}
		py_indent(b, level);
		sb_puts(b, "}");
		return;
	}
	case JSON_ARRAY: {
		if (json_array_size(v) == 0) {
			sb_puts(b, "[]");
			return;
		}
		sb_puts(b, "[");
		for (size_t i = 0; i < json_array_size(v); i++) {
			if (i)
				sb_puts(b, ",");
			py_indent(b, level + 1);
			py_dump(b, json_array_get(v, i), level + 1);
		}
		py_indent(b, level);
		sb_puts(b, "]");
		return;
	}
	case JSON_STRING:
		py_string(b, json_string_value(v), json_string_length(v));
		return;
	case JSON_INTEGER:
		snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		sb_puts(b, num);
		return;
	case JSON_REAL:
		py_float(b, json_real_value(v));
		return;
	case JSON_TRUE:
		sb_puts(b, "true");
		return;
	case JSON_FALSE:
		sb_puts(b, "false");
		return;
	case JSON_NULL:
		sb_puts(b, "null");
		return;
	}
}

/* ------------------------------------------------------------------ */
/* Writing                                                              */
/* ------------------------------------------------------------------ */

struct wtensor {
	char *name;
	char *module;         /* quantized, or NOT_QUANTIZED: the name less ".weight" */
	int quantized;
	struct qsettings q;
	int scale_dtype;      /* st dtype */
	int dtype;            /* st dtype of a float/raw tensor */
	uint32_t n_dims;
	uint64_t shape[QNT__ST_MAX_DIMS];
	uint64_t nelements;
	uint32_t flags;
	uint64_t part_bytes[QNT__MLXDIR_N_PARTS];
	int64_t first;        /* its first stored tensor in the shards writer */
};

struct wcopy {
	char *src, *name;
};

struct qnt__mlxdir_writer {
	qnt_ctx *ctx;
	char *dir;
	json_t *config;
	uint64_t max_shard_bytes;
	uint32_t st_flags;    /* QNT__ST_WRITE_CHECKSUMS */
	int have_global;
	struct qsettings global;
	struct wtensor *t;
	int64_t n, cap;
	struct wcopy *copies;
	int64_t n_copies;
	struct qnt__st_shards *sh;
	int64_t *owner;       /* stored index -> tensor index * N_PARTS + part */
	int64_t n_stored;
	qnt_status failed;
};

static void writer_free(struct qnt__mlxdir_writer *w)
{
	for (int64_t i = 0; i < w->n; i++) {
		free(w->t[i].name);
		free(w->t[i].module);
	}
	for (int64_t i = 0; i < w->n_copies; i++) {
		free(w->copies[i].src);
		free(w->copies[i].name);
	}
	free(w->t);
	free(w->copies);
	free(w->owner);
	json_decref(w->config);
	free(w->dir);
	free(w);
}

void qnt__mlxdir_writer_abort(struct qnt__mlxdir_writer *w)
{
	if (!w)
		return;
	qnt__st_shards_abort(w->sh);
	writer_free(w);
}

QNT_PRINTF(3, 4)
static qnt_status werr(struct qnt__mlxdir_writer *w, qnt_status st, const char *fmt, ...)
{
	char msg[QNT_ERRMSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return qnt__error(w->ctx, st, "%s: mlx folder writer: %s", w->dir, msg);
}

qnt_status qnt__mlxdir_writer_create(qnt_ctx *ctx, const char *dir, const char *base_config_json,
				     uint64_t max_shard_bytes, struct qnt__mlxdir_writer **out)
{
	if (!dir || !out)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "mlx folder writer: NULL argument");
	*out = NULL;
	struct qnt__mlxdir_writer *w = calloc(1, sizeof *w);
	if (!w || !(w->dir = dup_str(dir))) {
		free(w);
		return qnt__error(ctx, QNT_E_NO_MEMORY, "%s: out of memory", dir);
	}
	w->ctx = ctx;
	w->max_shard_bytes = max_shard_bytes ? max_shard_bytes : QNT__ST_DEFAULT_SHARD_BYTES;
	if (base_config_json) {
		json_error_t je;
		w->config = json_loads(base_config_json, 0, &je);
		if (!w->config || !json_is_object(w->config)) {
			qnt_status st = werr(w, QNT_E_FORMAT, "base config: %s (line %d, column %d)",
					     w->config ? "not a JSON object" : je.text, je.line, je.column);
			writer_free(w);
			return st;
		}
	} else {
		w->config = json_object();
	}
	if (!w->config) {
		writer_free(w);
		return qnt__error(ctx, QNT_E_NO_MEMORY, "%s: out of memory", dir);
	}
	*out = w;
	return QNT_OK;
}

static qnt_status declaring(struct qnt__mlxdir_writer *w, const char *what)
{
	if (w->failed)
		return w->failed;
	if (w->sh)
		return werr(w, QNT_E_INVALID_ARG, "%s after the first write", what);
	return QNT_OK;
}

qnt_status qnt__mlxdir_writer_set_quantization(struct qnt__mlxdir_writer *w, int32_t mode, int32_t bits,
					       int32_t group_size)
{
	char why[160];
	struct qnt__mlx_fmt f;
	qnt_status st = declaring(w, "set_quantization");
	if (st != QNT_OK)
		return st;
	if (qnt__mlx_resolve(mode, bits, group_size, QNT_TYPE_F32, &f, why, sizeof why) != QNT_OK)
		return werr(w, QNT_E_UNSUPPORTED, "global quantization: %s", why);
	w->global = (struct qsettings){ mode, f.bits, f.group_size, 0 };
	w->have_global = 1;
	return QNT_OK;
}

static qnt_status check_shape(struct qnt__mlxdir_writer *w, const char *name, uint32_t n_dims, const uint64_t *shape,
			      uint64_t *nelements)
{
	if (n_dims > QNT__ST_MAX_DIMS || (n_dims && !shape))
		return werr(w, QNT_E_INVALID_ARG, "%s: %u dimensions (at most %d)", name, (unsigned)n_dims,
			    QNT__ST_MAX_DIMS);
	uint64_t n = 1;
	for (uint32_t i = 0; i < n_dims; i++) {
		if (shape[i] && n > UINT64_MAX / shape[i])
			return werr(w, QNT_E_BAD_SHAPE, "%s: element count overflows", name);
		n *= shape[i];
	}
	*nelements = n;
	return QNT_OK;
}

static qnt_status push(struct qnt__mlxdir_writer *w, struct wtensor *t, int64_t *index)
{
	for (int64_t i = 0; i < w->n; i++)
		if (strcmp(w->t[i].name, t->name) == 0) {
			qnt_status st = werr(w, QNT_E_INVALID_ARG, "%s: declared twice", t->name);
			free(t->name);
			free(t->module);
			return st;
		}
	if (w->n == w->cap) {
		int64_t nc = w->cap ? w->cap * 2 : 64;
		struct wtensor *nt = realloc(w->t, (size_t)nc * sizeof *nt);
		if (!nt) {
			free(t->name);
			free(t->module);
			return werr(w, QNT_E_NO_MEMORY, "out of memory");
		}
		w->t = nt;
		w->cap = nc;
	}
	if (index)
		*index = w->n;
	w->t[w->n++] = *t;
	return QNT_OK;
}

qnt_status qnt__mlxdir_writer_add_raw(struct qnt__mlxdir_writer *w, const char *name, int st_dtype,
				      uint32_t n_dims, const uint64_t *shape, uint32_t flags, int64_t *index)
{
	qnt_status st = declaring(w, "add");
	if (st != QNT_OK)
		return st;
	if (!name)
		return werr(w, QNT_E_INVALID_ARG, "tensor name is NULL");
	if (flags & ~(uint32_t)QNT__MLXDIR_ADD_NOT_QUANTIZED)
		return werr(w, QNT_E_INVALID_ARG, "%s: flags 0x%x: only QNT__MLXDIR_ADD_NOT_QUANTIZED applies to a stored-as-is tensor",
			    name, (unsigned)flags);
	if (!qnt__st_dtype_name(st_dtype))
		return werr(w, QNT_E_INVALID_ARG, "%s: unknown dtype %d", name, st_dtype);
	struct wtensor t;
	memset(&t, 0, sizeof t);
	if ((st = check_shape(w, name, n_dims, shape, &t.nelements)) != QNT_OK)
		return st;
	if (!qnt__st_tensor_bytes(st_dtype, n_dims, shape, &t.part_bytes[QNT__MLXDIR_PART_CODES]))
		return werr(w, QNT_E_BAD_SHAPE, "%s: %s of this shape is not a whole number of bytes", name,
			    qnt__st_dtype_name(st_dtype));
	size_t len = strlen(name);
	if ((flags & QNT__MLXDIR_ADD_NOT_QUANTIZED) && (len <= 7 || strcmp(name + len - 7, ".weight") != 0))
		return werr(w, QNT_E_INVALID_ARG, "%s: QNT__MLXDIR_ADD_NOT_QUANTIZED is for a module's \".weight\"", name);
	t.dtype = st_dtype;
	t.n_dims = n_dims;
	if (n_dims)
		memcpy(t.shape, shape, n_dims * sizeof *shape);
	t.flags = flags;
	t.name = dup_str(name);
	if (t.name && (flags & QNT__MLXDIR_ADD_NOT_QUANTIZED)) {
		t.module = dup_str(name);
		if (t.module)
			t.module[len - 7] = '\0';
	}
	if (!t.name || ((flags & QNT__MLXDIR_ADD_NOT_QUANTIZED) && !t.module)) {
		free(t.name);
		free(t.module);
		return werr(w, QNT_E_NO_MEMORY, "out of memory");
	}
	return push(w, &t, index);
}

qnt_status qnt__mlxdir_writer_add_quant(struct qnt__mlxdir_writer *w, const char *name, int32_t mode,
					int32_t bits, int32_t group_size, qnt_type scale_dtype, uint32_t n_dims,
					const uint64_t *shape, uint32_t flags, int64_t *index)
{
	char why[160];
	struct qnt__mlx_fmt f;
	qnt_status st = declaring(w, "add");
	if (st != QNT_OK)
		return st;
	if (!name)
		return werr(w, QNT_E_INVALID_ARG, "tensor name is NULL");
	size_t len = strlen(name);
	if (len <= 7 || strcmp(name + len - 7, ".weight") != 0)
		return werr(w, QNT_E_INVALID_ARG, "%s: a quantized tensor is a module's \".weight\"", name);
	if (flags & ~(uint32_t)(QNT__MLXDIR_ADD_OVERRIDE | QNT__MLXDIR_ADD_GLOBAL_SCALE))
		return werr(w, QNT_E_INVALID_ARG, "%s: flags 0x%x: a quantized tensor takes QNT__MLXDIR_ADD_OVERRIDE and QNT__MLXDIR_ADD_GLOBAL_SCALE",
			    name, (unsigned)flags);
	if (mode != QNT_MLX_AFFINE)
		scale_dtype = QNT_TYPE_F32;
	if (qnt__mlx_resolve(mode, bits, group_size, scale_dtype, &f, why, sizeof why) != QNT_OK)
		return werr(w, QNT_E_UNSUPPORTED, "%s: %s", name, why);
	if ((flags & QNT__MLXDIR_ADD_GLOBAL_SCALE) && mode != QNT_MLX_NVFP4)
		return werr(w, QNT_E_INVALID_ARG, "%s: a global scale is only for nvfp4", name);
	struct wtensor t;
	memset(&t, 0, sizeof t);
	if ((st = check_shape(w, name, n_dims, shape, &t.nelements)) != QNT_OK)
		return st;
	if (n_dims < 2)
		return werr(w, QNT_E_BAD_SHAPE, "%s: a quantized tensor has at least 2 dimensions, not %u", name,
			    (unsigned)n_dims);
	uint64_t in = shape[n_dims - 1];
	if (in % (uint64_t)f.group_size != 0)
		return werr(w, QNT_E_BAD_SHAPE, "%s: last dimension %" PRIu64 " is not a multiple of the group size %d",
			    name, in, (int)f.group_size);
	uint64_t rows = 1;
	for (uint32_t i = 0; i + 1 < n_dims; i++)
		rows *= shape[i];
	uint64_t nmat = 1;
	for (uint32_t i = 0; i + 2 < n_dims; i++)
		nmat *= shape[i];
	uint64_t ssize = mode == QNT_MLX_AFFINE ? type_bytes(scale_dtype) : 1;
	t.q = (struct qsettings){ mode, f.bits, f.group_size, (flags & QNT__MLXDIR_ADD_GLOBAL_SCALE) != 0 };
	t.quantized = 1;
	t.scale_dtype = mode != QNT_MLX_AFFINE ? QNT__ST_U8
			: scale_dtype == QNT_TYPE_F32 ? QNT__ST_F32
			: scale_dtype == QNT_TYPE_F16 ? QNT__ST_F16
						      : QNT__ST_BF16;
	t.dtype = QNT__ST_U32;
	t.n_dims = n_dims;
	memcpy(t.shape, shape, n_dims * sizeof *shape);
	t.flags = flags;
	t.part_bytes[QNT__MLXDIR_PART_CODES] = rows * (in * (uint64_t)f.bits / 32) * 4;
	t.part_bytes[QNT__MLXDIR_PART_SCALES] = rows * (in / (uint64_t)f.group_size) * ssize;
	if (mode == QNT_MLX_AFFINE)
		t.part_bytes[QNT__MLXDIR_PART_BIASES] = t.part_bytes[QNT__MLXDIR_PART_SCALES];
	if (flags & QNT__MLXDIR_ADD_GLOBAL_SCALE)
		t.part_bytes[QNT__MLXDIR_PART_GLOBAL_SCALE] = nmat * 4;
	t.name = dup_str(name);
	t.module = dup_str(name);
	if (!t.name || !t.module) {
		free(t.name);
		free(t.module);
		return werr(w, QNT_E_NO_MEMORY, "out of memory");
	}
	t.module[len - 7] = '\0';
	if (!w->have_global) {
		w->global = t.q;
		w->global.global_scale = 0;
		w->have_global = 1;
	}
	return push(w, &t, index);
}

qnt_status qnt__mlxdir_writer_add(struct qnt__mlxdir_writer *w, const char *name, qnt_type type, uint32_t n_dims,
				  const uint64_t *shape, uint32_t flags, int64_t *index)
{
	struct qnt__mlx_fmt f;
	if (type == QNT_TYPE_F32 || type == QNT_TYPE_F16 || type == QNT_TYPE_BF16)
		return qnt__mlxdir_writer_add_raw(w, name, type == QNT_TYPE_F32 ? QNT__ST_F32
							   : type == QNT_TYPE_F16 ? QNT__ST_F16
										  : QNT__ST_BF16,
						  n_dims, shape, flags, index);
	if (!qnt__mlx_fmt_of(type, &f)) {
		qnt_status st = declaring(w, "add");
		return st != QNT_OK ? st
				    : werr(w, QNT_E_UNSUPPORTED, "%s: type %d is neither f32, f16, bf16 nor an MLX type",
					   name ? name : "(null)", (int)type);
	}
	static const qnt_type dts[3] = { QNT_TYPE_F32, QNT_TYPE_F16, QNT_TYPE_BF16 };
	return qnt__mlxdir_writer_add_quant(w, name, f.mode, f.bits, f.group_size, dts[f.d], n_dims, shape, flags,
					    index);
}

qnt_status qnt__mlxdir_writer_copy_file(struct qnt__mlxdir_writer *w, const char *src_path, const char *name)
{
	qnt_status st = declaring(w, "copy_file");
	if (st != QNT_OK)
		return st;
	if (!src_path || !name || !*name || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return werr(w, QNT_E_INVALID_ARG, "copy_file: \"%s\" is not a plain file name", name ? name : "(null)");
	if (strcmp(name, QNT__MLXDIR_CONFIG_NAME) == 0 || strcmp(name, QNT__ST_INDEX_NAME) == 0 ||
	    (strncmp(name, "model", 5) == 0 && strlen(name) > 12 && strcmp(name + strlen(name) - 12, ".safetensors") == 0))
		return werr(w, QNT_E_INVALID_ARG, "copy_file: %s is written by the writer itself", name);
	struct wcopy *nc = realloc(w->copies, (size_t)(w->n_copies + 1) * sizeof *nc);
	if (!nc)
		return werr(w, QNT_E_NO_MEMORY, "out of memory");
	w->copies = nc;
	nc[w->n_copies].src = dup_str(src_path);
	nc[w->n_copies].name = dup_str(name);
	if (!nc[w->n_copies].src || !nc[w->n_copies].name) {
		free(nc[w->n_copies].src);
		free(nc[w->n_copies].name);
		return werr(w, QNT_E_NO_MEMORY, "out of memory");
	}
	w->n_copies++;
	return QNT_OK;
}

uint64_t qnt__mlxdir_writer_part_bytes(const struct qnt__mlxdir_writer *w, int64_t index,
				       enum qnt__mlxdir_part part)
{
	if (index < 0 || index >= w->n || (int)part < 0 || part >= QNT__MLXDIR_N_PARTS)
		return 0;
	return w->t[index].part_bytes[part];
}

static int has_part(const struct wtensor *t, int part)
{
	if (part == QNT__MLXDIR_PART_CODES)
		return 1;
	if (!t->quantized)
		return 0;
	return part == QNT__MLXDIR_PART_SCALES || (part == QNT__MLXDIR_PART_BIASES && t->q.mode == QNT_MLX_AFFINE) ||
	       (part == QNT__MLXDIR_PART_GLOBAL_SCALE && t->q.global_scale);
}

qnt_status qnt__mlxdir_writer_begin(struct qnt__mlxdir_writer *w)
{
	if (w->failed)
		return w->failed;
	if (w->sh)
		return QNT_OK;
	int64_t total_params = 0;
	int64_t n_stored = 0;
	for (int64_t i = 0; i < w->n; i++) {
		total_params += (int64_t)w->t[i].nelements;
		for (int p = 0; p < QNT__MLXDIR_N_PARTS; p++)
			n_stored += has_part(&w->t[i], p);
	}
	w->owner = malloc((size_t)(n_stored ? n_stored : 1) * sizeof *w->owner);
	if (!w->owner)
		return w->failed = werr(w, QNT_E_NO_MEMORY, "out of memory");
	struct qnt__st_shards_opts o = { w->max_shard_bytes, w->st_flags, total_params };
	qnt_status st = qnt__st_shards_create(w->ctx, w->dir, &o, &w->sh);
	if (st == QNT_OK)
		st = qnt__st_shards_set_metadata(w->sh, "format", "mlx");
	int64_t k = 0;
	for (int64_t i = 0; st == QNT_OK && i < w->n; i++) {
		struct wtensor *t = &w->t[i];
		t->first = k;
		for (int p = 0; st == QNT_OK && p < QNT__MLXDIR_N_PARTS; p++) {
			if (!has_part(t, p))
				continue;
			uint64_t shape[QNT__ST_MAX_DIMS];
			uint32_t nd = t->n_dims;
			int dt = t->dtype;
			memcpy(shape, t->shape, nd * sizeof *shape);
			char *nm = t->quantized ? join2(t->module, part_suffix[p]) : dup_str(t->name);
			if (!nm) {
				st = werr(w, QNT_E_NO_MEMORY, "out of memory");
				break;
			}
			if (t->quantized) {
				uint64_t in = t->shape[nd - 1];
				if (p == QNT__MLXDIR_PART_CODES) {
					shape[nd - 1] = in * (uint64_t)t->q.bits / 32;
				} else if (p == QNT__MLXDIR_PART_GLOBAL_SCALE) {
					dt = QNT__ST_F32;
					nd = nd - 2;
					if (nd == 0) { /* one matrix: shape (1,) */
						nd = 1;
						shape[0] = 1;
					}
				} else {
					shape[nd - 1] = in / (uint64_t)t->q.group_size;
					dt = t->scale_dtype;
				}
			}
			st = qnt__st_shards_add(w->sh, nm, dt, nd, shape);
			free(nm);
			w->owner[k++] = i * QNT__MLXDIR_N_PARTS + p;
		}
	}
	w->n_stored = k;
	if (st == QNT_OK)
		st = qnt__st_shards_begin(w->sh);
	if (st != QNT_OK)
		w->failed = st;
	return st;
}

int qnt__mlxdir_writer_next(struct qnt__mlxdir_writer *w, int64_t *index, enum qnt__mlxdir_part *part)
{
	if (!w->sh && qnt__mlxdir_writer_begin(w) != QNT_OK)
		return 0;
	if (w->failed)
		return 0;
	int64_t k = qnt__st_shards_next(w->sh);
	if (k < 0 || k >= w->n_stored)
		return 0;
	if (index)
		*index = w->owner[k] / QNT__MLXDIR_N_PARTS;
	if (part)
		*part = (enum qnt__mlxdir_part)(w->owner[k] % QNT__MLXDIR_N_PARTS);
	return 1;
}

qnt_status qnt__mlxdir_writer_write_part(struct qnt__mlxdir_writer *w, int64_t index, enum qnt__mlxdir_part part,
					 const void *data, size_t n)
{
	if (!w->sh) {
		qnt_status st = qnt__mlxdir_writer_begin(w);
		if (st != QNT_OK)
			return st;
	}
	if (w->failed)
		return w->failed;
	if (index < 0 || index >= w->n || (int)part < 0 || part >= QNT__MLXDIR_N_PARTS ||
	    !has_part(&w->t[index], part))
		return werr(w, QNT_E_INVALID_ARG, "write_part: tensor %" PRId64 " has no part %d", index, (int)part);
	const struct wtensor *t = &w->t[index];
	if (n != t->part_bytes[part])
		return werr(w, QNT_E_INVALID_ARG, "write_part: %s%s: %zu bytes, the part holds %" PRIu64,
			    t->quantized ? t->module : t->name, t->quantized ? part_suffix[part] : "", n,
			    t->part_bytes[part]);
	int64_t k = t->first;
	for (int p = 0; p < (int)part; p++)
		k += has_part(t, p);
	if (n == 0)
		return QNT_OK; /* zero-byte tensors take no write */
	qnt_status st = qnt__st_shards_write_tensor(w->sh, k, data, n);
	if (st != QNT_OK)
		w->failed = st;
	return st;
}

qnt_status qnt__mlxdir_writer_write(struct qnt__mlxdir_writer *w, const void *data, size_t n)
{
	if (!w->sh) {
		qnt_status st = qnt__mlxdir_writer_begin(w);
		if (st != QNT_OK)
			return st;
	}
	if (w->failed)
		return w->failed;
	qnt_status st = qnt__st_shards_write(w->sh, data, n);
	if (st != QNT_OK)
		w->failed = st;
	return st;
}

/* The "quantization" object. */
static json_t *quant_entry(const struct qsettings *q)
{
	json_t *o = json_object();
	if (o && (json_object_set_new(o, "group_size", json_integer(q->group_size)) ||
		  json_object_set_new(o, "bits", json_integer(q->bits)) ||
		  json_object_set_new(o, "mode", json_string(mode_names[q->mode])) ||
		  (q->global_scale && json_object_set_new(o, "global_scale", json_true())))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static qnt_status make_config(struct qnt__mlxdir_writer *w, struct sbuf *out)
{
	json_t *c = w->config;
	json_object_del(c, "_name_or_path");
	json_object_del(c, "vision_config");
	json_object_del(c, "quantization");
	json_object_del(c, "quantization_config");
	int any = 0;
	for (int64_t i = 0; i < w->n; i++)
		any |= w->t[i].quantized || (w->t[i].flags & QNT__MLXDIR_ADD_NOT_QUANTIZED);
	if (any) {
		if (!w->have_global)
			w->global = (struct qsettings){ QNT_MLX_AFFINE, 4, 64, 0 };
		json_t *q = quant_entry(&w->global);
		if (!q)
			return werr(w, QNT_E_NO_MEMORY, "out of memory");
		for (int64_t i = 0; i < w->n; i++) {
			const struct wtensor *t = &w->t[i];
			json_t *e = NULL;
			if (t->flags & QNT__MLXDIR_ADD_NOT_QUANTIZED)
				e = json_false();
			else if (t->quantized &&
				 ((t->flags & (QNT__MLXDIR_ADD_OVERRIDE | QNT__MLXDIR_ADD_GLOBAL_SCALE)) || t->q.mode != w->global.mode ||
				  t->q.bits != w->global.bits || t->q.group_size != w->global.group_size))
				e = quant_entry(&t->q);
			else
				continue;
			if (!e || json_object_set_new(q, t->module, e)) {
				json_decref(q);
				return werr(w, QNT_E_NO_MEMORY, "out of memory");
			}
		}
		if (json_object_set_new(c, "quantization", q) ||
		    json_object_set_new(c, "quantization_config", json_deep_copy(q)))
			return werr(w, QNT_E_NO_MEMORY, "out of memory");
	}
	/* mlx-lm's save_config: keys sorted at the top level. */
	size_t nk = json_object_size(c);
	const char **keys = malloc((nk ? nk : 1) * sizeof *keys);
	json_t *sorted = json_object();
	if (!keys || !sorted) {
		free(keys);
		json_decref(sorted);
		return werr(w, QNT_E_NO_MEMORY, "out of memory");
	}
	size_t k = 0;
	const char *key;
	json_t *v;
	json_object_foreach(c, key, v) keys[k++] = key;
	qsort(keys, nk, sizeof *keys, cmp_cstr);
	int bad = 0;
	for (size_t i = 0; i < nk; i++)
		bad |= json_object_set(sorted, keys[i], json_object_get(c, keys[i]));
	free(keys);
	if (!bad)
		py_dump(out, sorted, 0);
	json_decref(sorted);
	if (bad || out->oom)
		return werr(w, QNT_E_NO_MEMORY, "out of memory");
	return QNT_OK;
}

static qnt_status copy_into(struct qnt__mlxdir_writer *w, const struct wcopy *c, struct qnt__afile *f)
{
	FILE *fp = fopen(c->src, "rb");
	if (!fp) {
		int e = errno;
		return qnt__error(w->ctx, e == ENOENT ? QNT_E_NOT_FOUND : QNT_E_IO, "%s: cannot open: %s", c->src,
				  strerror(e));
	}
	char buf[65536];
	qnt_status st = QNT_OK;
	size_t got;
	while (st == QNT_OK && (got = fread(buf, 1, sizeof buf, fp)) > 0)
		st = qnt__afile_write(f, buf, got);
	if (st == QNT_OK && ferror(fp))
		st = qnt__error(w->ctx, QNT_E_IO, "%s: read failed", c->src);
	fclose(fp);
	return st;
}

qnt_status qnt__mlxdir_writer_finish(struct qnt__mlxdir_writer *w)
{
	if (!w)
		return qnt__error(NULL, QNT_E_INVALID_ARG, "mlx folder writer finish: NULL writer");
	qnt_status st = w->sh ? w->failed : qnt__mlxdir_writer_begin(w);
	struct qnt__afile **files = calloc((size_t)w->n_copies + 1, sizeof *files);
	struct sbuf cfg = { 0 };
	if (st == QNT_OK && !files)
		st = werr(w, QNT_E_NO_MEMORY, "out of memory");
	if (st == QNT_OK && qnt__st_shards_next(w->sh) >= 0)
		st = werr(w, QNT_E_INVALID_ARG, "finish: tensor data missing (next: stored tensor %" PRId64 ")",
			  qnt__st_shards_next(w->sh));
	if (st == QNT_OK)
		st = make_config(w, &cfg);
	/* config.json and the copies into temporary files first ... */
	for (int64_t i = 0; st == QNT_OK && i <= w->n_copies; i++) {
		char *p = path_join(w->dir, i == 0 ? QNT__MLXDIR_CONFIG_NAME : w->copies[i - 1].name);
		if (!p) {
			st = werr(w, QNT_E_NO_MEMORY, "out of memory");
			break;
		}
		st = qnt__afile_create(w->ctx, p, 0, &files[i]);
		free(p);
		if (st == QNT_OK)
			st = i == 0 ? qnt__afile_write(files[0], cfg.p, cfg.n) : copy_into(w, &w->copies[i - 1], files[i]);
	}
	/* ... then the shards and the index, then the rest. */
	if (st == QNT_OK) {
		st = qnt__st_shards_finish(w->sh);
		w->sh = NULL;
	}
	for (int64_t i = 0; files && i <= w->n_copies; i++) {
		if (st == QNT_OK)
			st = qnt__afile_commit(files[i]);
		else
			qnt__afile_abort(files[i]);
	}
	free(files);
	free(cfg.p);
	qnt__mlxdir_writer_abort(w);
	return st;
}

qnt_status qnt__mlxdir_writer_set_checksums(struct qnt__mlxdir_writer *w, int on)
{
	if (w->sh)
		return werr(w, QNT_E_INVALID_ARG, "set_checksums after begin");
	w->st_flags = on ? QNT__ST_WRITE_CHECKSUMS : 0;
	return QNT_OK;
}

int qnt__mlxdir_part_checksum(const struct qnt__mlxdir *d, const struct qnt__mlxdir_tensor *t, int part,
			      uint64_t *stored)
{
	const struct qnt__st_tensor *p = part >= 0 && part < QNT__MLXDIR_N_PARTS ? t->parts[part] : NULL;
	if (!p)
		return 0;
	for (int64_t i = 0; i < d->n_st; i++) {
		if (d->st[i].t != p)
			continue;
		const int64_t k = p - qnt__st_tensor_at(d->st[i].f, 0); /* its index in data order */
		return qnt__st_stored_checksum(d->st[i].f, k, stored);
	}
	return 0;
}
