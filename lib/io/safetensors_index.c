/* SPDX-License-Identifier: MIT */
/*
 * safetensors: sharded checkpoints (model.safetensors.index.json), read;
 * see safetensors.h. The index is what mlx-lm's save_model and Hugging
 * Face's save_pretrained write: {"metadata": {"total_size": n, ...},
 * "weight_map": {tensor: shard file}}.
 */
#include "safetensors.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

struct qnt__st_index {
	char *path;
	char *dir; /* with a trailing '/', or "" */
	int64_t n_tensors;
	char **tensor_names;   /* weight_map order */
	int64_t *tensor_shard; /* tensor -> shard */
	json_t *tensor_ix;     /* name -> tensor index (read-only after open) */
	int64_t n_shards;
	char **shard_names;
	int64_t *shard_count; /* tensors the index puts in each shard */
	struct qnt__st_file **shards;
	int64_t n_meta;
	char **meta; /* key, value, ... */
	int64_t total_size;
	char *text; /* the index file, for the byte offsets of messages */
	size_t text_len;
	uv_mutex_t mu; /* guards shards[] */
};

QNT_PRINTF(4, 5)
static qnt_status xerr(qnt_ctx *ctx, const char *path, uint64_t offset, const char *fmt, ...)
{
	char msg[QNT_ERRMSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return qnt__error(ctx, QNT_E_FORMAT, "%s: safetensors index: %s (at byte offset %" PRIu64 ")", path, msg,
			  offset);
}

/* File offset of the key `key` (its opening quote) in the index, found by
 * its JSON spelling followed by a colon; 0 if not found. Messages only. */
static uint64_t key_offset(const struct qnt__st_index *x, const char *key)
{
	json_t *j = json_string(key);
	char *q = j ? json_dumps(j, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
	json_decref(j);
	uint64_t at = 0;
	size_t ql = q ? strlen(q) : 0;
	for (size_t i = 0; q && x->text && i + ql <= x->text_len; i++) {
		if (memcmp(x->text + i, q, ql) != 0)
			continue;
		size_t k = i + ql;
		while (k < x->text_len && (x->text[k] == ' ' || x->text[k] == '\t' || x->text[k] == '\n' ||
					   x->text[k] == '\r'))
			k++;
		if (k < x->text_len && x->text[k] == ':') {
			at = i;
			break;
		}
	}
	free(q);
	return at;
}

static char *dup_n(const char *s, size_t n)
{
	char *c = malloc(n + 1);
	if (c) {
		memcpy(c, s, n);
		c[n] = '\0';
	}
	return c;
}

/* A shard name is a relative path without "." or ".." components. */
static int good_shard_name(const char *s)
{
	if (!*s || *s == '/')
		return 0;
	for (const char *p = s; *p;) {
		const char *q = strchr(p, '/');
		size_t n = q ? (size_t)(q - p) : strlen(p);
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.') || memchr(p, '\\', n))
			return 0;
		p += n + (q != NULL);
		if (q && !*p)
			return 0; /* trailing '/' */
	}
	return 1;
}

void qnt__st_index_close(struct qnt__st_index *x)
{
	if (!x)
		return;
	for (int64_t i = 0; x->tensor_names && i < x->n_tensors; i++)
		free(x->tensor_names[i]);
	for (int64_t i = 0; x->shard_names && i < x->n_shards; i++) {
		free(x->shard_names[i]);
		if (x->shards)
			qnt__st_close(x->shards[i]);
	}
	for (int64_t i = 0; x->meta && i < 2 * x->n_meta; i++)
		free(x->meta[i]);
	free(x->tensor_names);
	free(x->tensor_shard);
	json_decref(x->tensor_ix);
	free(x->shard_names);
	free(x->shard_count);
	free(x->shards);
	free(x->meta);
	free(x->text);
	free(x->dir);
	if (x->path) /* the mutex exists once path does: see qnt__st_index_open */
		uv_mutex_destroy(&x->mu);
	free(x->path);
	free(x);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static qnt_status parse_index(qnt_ctx *ctx, struct qnt__st_index *x, json_t *root)
{
	const char *path = x->path;
	if (!json_is_object(root))
		return xerr(ctx, path, 0, "not a JSON object");
	json_t *meta = json_object_get(root, "metadata");
	json_t *map = json_object_get(root, "weight_map");
	if (meta && !json_is_null(meta)) {
		if (!json_is_object(meta))
			return xerr(ctx, path, key_offset(x, "metadata"), "\"metadata\" is not an object");
		size_t n = json_object_size(meta);
		if (!(x->meta = calloc(2 * n + 1, sizeof *x->meta)))
			return qnt__error(ctx, QNT_E_NO_MEMORY, "%s: out of memory", path);
		const char *k;
		json_t *v;
		json_object_foreach(meta, k, v) {
			char *vs = json_is_string(v) ? dup_n(json_string_value(v), json_string_length(v))
						     : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
			char *ks = dup_n(k, strlen(k));
			if (!vs || !ks) {
				free(vs);
				free(ks);
				return qnt__error(ctx, QNT_E_NO_MEMORY, "%s: out of memory", path);
			}
			x->meta[2 * x->n_meta] = ks;
			x->meta[2 * x->n_meta + 1] = vs;
			x->n_meta++;
			if (strcmp(k, "total_size") == 0 && json_is_integer(v) && json_integer_value(v) >= 0)
				x->total_size = json_integer_value(v);
		}
	}
	if (!map)
		return xerr(ctx, path, 0, "missing \"weight_map\"");
	if (!json_is_object(map))
		return xerr(ctx, path, key_offset(x, "weight_map"), "\"weight_map\" is not an object");
	size_t n = json_object_size(map);
	json_t *shard_ix = json_object();
	x->tensor_ix = json_object();
	x->tensor_names = calloc(n + 1, sizeof *x->tensor_names);
	x->tensor_shard = calloc(n + 1, sizeof *x->tensor_shard);
	x->shard_names = calloc(n + 1, sizeof *x->shard_names);
	x->shard_count = calloc(n + 1, sizeof *x->shard_count);
	qnt_status st = QNT_OK;
	if (!shard_ix || !x->tensor_ix || !x->tensor_names || !x->tensor_shard || !x->shard_names || !x->shard_count) {
		st = qnt__error(ctx, QNT_E_NO_MEMORY, "%s: out of memory", path);
		goto out;
	}
	const char *k;
	json_t *v;
	json_object_foreach(map, k, v) {
		if (!json_is_string(v)) {
			st = xerr(ctx, path, key_offset(x, k), "weight_map: the shard of tensor '%s' is not a string", k);
			goto out;
		}
		const char *sname = json_string_value(v);
		if (strlen(sname) != json_string_length(v) || !good_shard_name(sname)) {
			st = xerr(ctx, path, key_offset(x, k), "weight_map: tensor '%s': bad shard file name \"%.80s\"", k,
				  sname);
			goto out;
		}
		json_t *si = json_object_get(shard_ix, sname);
		int64_t shard;
		if (si) {
			shard = json_integer_value(si);
		} else {
			shard = x->n_shards;
			if (!(x->shard_names[shard] = dup_n(sname, strlen(sname))) ||
			    json_object_set_new(shard_ix, sname, json_integer(shard)) != 0) {
				st = qnt__error(ctx, QNT_E_NO_MEMORY, "%s: out of memory", path);
				goto out;
			}
			x->n_shards++;
		}
		int64_t t = x->n_tensors;
		if (!(x->tensor_names[t] = dup_n(k, strlen(k))) ||
		    json_object_set_new(x->tensor_ix, k, json_integer(t)) != 0) {
			st = qnt__error(ctx, QNT_E_NO_MEMORY, "%s: out of memory", path);
			goto out;
		}
		x->tensor_shard[t] = shard;
		x->shard_count[shard]++;
		x->n_tensors++;
	}
	/* Shards in name order (model-00001-of-... first). */
	int64_t *perm = malloc(((size_t)x->n_shards + 1) * sizeof *perm);
	char **names = malloc(((size_t)x->n_shards + 1) * sizeof *names);
	int64_t *counts = malloc(((size_t)x->n_shards + 1) * sizeof *counts);
	if (!perm || !names || !counts || !(x->shards = calloc((size_t)x->n_shards + 1, sizeof *x->shards))) {
		free(perm);
		free(names);
		free(counts);
		st = qnt__error(ctx, QNT_E_NO_MEMORY, "%s: out of memory", path);
		goto out;
	}
	memcpy(names, x->shard_names, (size_t)x->n_shards * sizeof *names);
	qsort(names, (size_t)x->n_shards, sizeof *names, cmp_str);
	for (int64_t i = 0; i < x->n_shards; i++) /* old index -> new index */
		perm[json_integer_value(json_object_get(shard_ix, names[i]))] = i;
	for (int64_t i = 0; i < x->n_shards; i++)
		counts[perm[i]] = x->shard_count[i];
	for (int64_t t = 0; t < x->n_tensors; t++)
		x->tensor_shard[t] = perm[x->tensor_shard[t]];
	memcpy(x->shard_names, names, (size_t)x->n_shards * sizeof *names);
	memcpy(x->shard_count, counts, (size_t)x->n_shards * sizeof *counts);
	free(perm);
	free(names);
	free(counts);
out:
	json_decref(shard_ix);
	return st;
}

qnt_status qnt__st_index_open(qnt_ctx *ctx, const char *path, uint32_t flags, struct qnt__st_index **out)
{
	if (!path || !out)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "safetensors index open: NULL argument");
	*out = NULL;
	struct qnt__st_index *x = calloc(1, sizeof *x);
	if (!x)
		return qnt__error(ctx, QNT_E_NO_MEMORY, "%s: out of memory", path);
	x->total_size = -1;
	const char *slash = strrchr(path, '/');
	size_t dl = slash ? (size_t)(slash - path) + 1 : 0;
	x->dir = dup_n(path, dl);
	if (!x->dir || uv_mutex_init(&x->mu) != 0) {
		qnt__st_index_close(x);
		return qnt__error(ctx, QNT_E_NO_MEMORY, "%s: out of memory", path);
	}
	if (!(x->path = dup_n(path, strlen(path)))) {
		uv_mutex_destroy(&x->mu);
		qnt__st_index_close(x);
		return qnt__error(ctx, QNT_E_NO_MEMORY, "%s: out of memory", path);
	}

	FILE *fp = fopen(path, "rb");
	if (!fp) {
		int e = errno;
		qnt__st_index_close(x);
		return qnt__error(ctx, e == ENOENT ? QNT_E_NOT_FOUND : QNT_E_IO, "%s: cannot open: %s", path,
				  strerror(e));
	}
	/* Read at most the limit + 1 bytes. */
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	qnt_status st = QNT_OK;
	while (buf) {
		if (len == cap) {
			if (cap > QNT__ST_MAX_HEADER)
				break;
			char *b = realloc(buf, cap * 2);
			if (!b) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = b;
			cap *= 2;
		}
		size_t got = fread(buf + len, 1, cap - len, fp);
		len += got;
		if (got == 0)
			break;
	}
	int rerr = ferror(fp);
	fclose(fp);
	if (!buf)
		st = qnt__error(ctx, QNT_E_NO_MEMORY, "%s: out of memory", path);
	else if (rerr)
		st = qnt__error(ctx, QNT_E_IO, "%s: read error", path);
	else if (len > QNT__ST_MAX_HEADER)
		st = xerr(ctx, path, QNT__ST_MAX_HEADER, "larger than %u bytes", QNT__ST_MAX_HEADER);
	x->text = buf;
	x->text_len = len;
	if (st == QNT_OK) {
		json_error_t je;
		json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
		if (!root) {
			st = xerr(ctx, path, je.position >= 0 ? (uint64_t)je.position : 0, "not valid JSON: %s", je.text);
		} else {
			st = parse_index(ctx, x, root);
			json_decref(root);
		}
	}
	if (st == QNT_OK && (flags & QNT__ST_INDEX_OPEN_ALL))
		st = qnt__st_index_verify(ctx, x);
	if (st != QNT_OK) {
		qnt__st_index_close(x);
		return st;
	}
	*out = x;
	return QNT_OK;
}

/* Opens shard i and checks it against the index. Called under the lock. */
static qnt_status open_shard(qnt_ctx *ctx, struct qnt__st_index *x, int64_t i)
{
	const char *sname = x->shard_names[i];
	size_t dl = strlen(x->dir), nl = strlen(sname);
	char *spath = malloc(dl + nl + 1);
	if (!spath)
		return qnt__error(ctx, QNT_E_NO_MEMORY, "%s: out of memory", x->path);
	memcpy(spath, x->dir, dl);
	memcpy(spath + dl, sname, nl + 1);
	struct qnt__st_file *f;
	qnt_status st = qnt__st_open(ctx, spath, &f);
	free(spath);
	if (st != QNT_OK)
		return st;
	int64_t mine = 0;
	for (int64_t k = 0; st == QNT_OK && k < qnt__st_n_tensors(f); k++) {
		const struct qnt__st_tensor *t = qnt__st_tensor_at(f, k);
		json_t *ti = json_object_get(x->tensor_ix, t->name);
		if (!ti) {
			st = qnt__error(ctx, QNT_E_FORMAT,
					"%s: safetensors: tensor '%s' is not in the index %s (at byte offset %" PRIu64 ")",
					qnt__st_path(f), t->name, x->path, t->header_offset);
		} else if (x->tensor_shard[json_integer_value(ti)] != i) {
			st = qnt__error(ctx, QNT_E_FORMAT,
					"%s: safetensors: tensor '%s' is also here, but the index %s puts it in %s (at "
					"byte offset %" PRIu64 ")",
					qnt__st_path(f), t->name, x->path, x->shard_names[x->tensor_shard[json_integer_value(ti)]],
					t->header_offset);
		} else {
			mine++;
		}
	}
	if (st == QNT_OK && mine != x->shard_count[i]) {
		/* Some tensor of the index is missing from the shard: name it. */
		for (int64_t t = 0; t < x->n_tensors; t++)
			if (x->tensor_shard[t] == i && !qnt__st_find(f, x->tensor_names[t])) {
				st = xerr(ctx, x->path, key_offset(x, x->tensor_names[t]),
					  "weight_map: tensor '%s' is not in its shard %s", x->tensor_names[t],
					  qnt__st_path(f));
				break;
			}
	}
	if (st != QNT_OK) {
		qnt__st_close(f);
		return st;
	}
	x->shards[i] = f;
	return QNT_OK;
}

qnt_status qnt__st_index_shard(qnt_ctx *ctx, struct qnt__st_index *x, int64_t i, struct qnt__st_file **out)
{
	if (!x || !out || i < 0 || i >= x->n_shards)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "safetensors index: no shard %" PRId64, i);
	uv_mutex_lock(&x->mu);
	qnt_status st = x->shards[i] ? QNT_OK : open_shard(ctx, x, i);
	*out = x->shards[i];
	uv_mutex_unlock(&x->mu);
	return st;
}

qnt_status qnt__st_index_find(qnt_ctx *ctx, struct qnt__st_index *x, const char *name,
			      const struct qnt__st_tensor **tensor, struct qnt__st_file **file)
{
	if (!x || !name || !tensor)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "safetensors index find: NULL argument");
	*tensor = NULL;
	if (file)
		*file = NULL;
	json_t *ti = json_object_get(x->tensor_ix, name);
	if (!ti)
		return qnt__error(ctx, QNT_E_NOT_FOUND, "%s: no tensor '%s' in the index", x->path, name);
	struct qnt__st_file *f;
	qnt_status st = qnt__st_index_shard(ctx, x, x->tensor_shard[json_integer_value(ti)], &f);
	if (st != QNT_OK)
		return st;
	*tensor = qnt__st_find(f, name); /* there: open_shard checked */
	if (file)
		*file = f;
	return QNT_OK;
}

qnt_status qnt__st_index_verify(qnt_ctx *ctx, struct qnt__st_index *x)
{
	if (!x)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "safetensors index verify: NULL handle");
	struct qnt__st_file *f;
	for (int64_t i = 0; i < x->n_shards; i++) {
		qnt_status st = qnt__st_index_shard(ctx, x, i, &f);
		if (st != QNT_OK)
			return st;
	}
	return QNT_OK;
}

const char *qnt__st_index_path(const struct qnt__st_index *x)
{
	return x->path;
}

int64_t qnt__st_index_n_tensors(const struct qnt__st_index *x)
{
	return x->n_tensors;
}

const char *qnt__st_index_tensor_name(const struct qnt__st_index *x, int64_t i)
{
	return i >= 0 && i < x->n_tensors ? x->tensor_names[i] : NULL;
}

int64_t qnt__st_index_n_shards(const struct qnt__st_index *x)
{
	return x->n_shards;
}

const char *qnt__st_index_shard_name(const struct qnt__st_index *x, int64_t i)
{
	return i >= 0 && i < x->n_shards ? x->shard_names[i] : NULL;
}

int64_t qnt__st_index_tensor_shard(const struct qnt__st_index *x, int64_t i)
{
	return i >= 0 && i < x->n_tensors ? x->tensor_shard[i] : -1;
}

int64_t qnt__st_index_n_metadata(const struct qnt__st_index *x)
{
	return x->n_meta;
}

void qnt__st_index_metadata_at(const struct qnt__st_index *x, int64_t i, const char **key, const char **value)
{
	int ok = i >= 0 && i < x->n_meta;
	if (key)
		*key = ok ? x->meta[2 * i] : NULL;
	if (value)
		*value = ok ? x->meta[2 * i + 1] : NULL;
}

int64_t qnt__st_index_total_size(const struct qnt__st_index *x)
{
	return x->total_size;
}
