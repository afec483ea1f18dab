/* SPDX-License-Identifier: MIT */
/*
 * safetensors: the streaming writer and the sharded writer; see
 * safetensors.h. The header is what the reference writer (the `safetensors`
 * package's serialize) makes: compact JSON, "__metadata__" first, each
 * tensor as {"dtype", "shape", "data_offsets"}, padded with spaces to a
 * multiple of 8 bytes; with QNT__ST_WRITE_SORTED the tensors are in its
 * order too (dtype descending in the Dtype enum's order, then name by
 * bytes), and the file is byte for byte the same as its output.
 */
#include "safetensors.h"

#include "atomic_file.h"
#include "checksum.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct decl {
	char *name;
	int dtype;
	uint32_t n_dims;
	uint64_t *shape;
	uint64_t nbytes;
	uint64_t begin; /* in the data section, once laid out */
};

/* The declarations common to both writers. */
struct decls {
	struct decl *d;
	int64_t n, cap;
	json_t *names; /* name -> index: uniqueness */
	json_t *meta;  /* "__metadata__", ordered */
	uint64_t total;
};

static void decls_free(struct decls *ds)
{
	for (int64_t i = 0; i < ds->n; i++) {
		free(ds->d[i].name);
		free(ds->d[i].shape);
	}
	free(ds->d);
	json_decref(ds->names);
	json_decref(ds->meta);
	memset(ds, 0, sizeof *ds);
}

static qnt_status decls_init(qnt_ctx *ctx, const char *path, struct decls *ds)
{
	memset(ds, 0, sizeof *ds);
	ds->names = json_object();
	ds->meta = json_object();
	if (!ds->names || !ds->meta) {
		decls_free(ds);
		return qnt__error(ctx, QNT_E_NO_MEMORY, "%s: out of memory", path);
	}
	return QNT_OK;
}

static qnt_status decls_set_metadata(qnt_ctx *ctx, const char *path, struct decls *ds, const char *key,
				     const char *value)
{
	if (!key || !value)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "%s: safetensors metadata: NULL key or value", path);
	if (json_object_get(ds->meta, key))
		return qnt__error(ctx, QNT_E_INVALID_ARG, "%s: safetensors metadata: duplicate key \"%.64s\"", path, key);
	json_t *v = json_string(value);
	if (!v || json_object_set_new(ds->meta, key, v) != 0)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "%s: safetensors metadata \"%.64s\": not UTF-8 text", path, key);
	return QNT_OK;
}

static qnt_status decls_add(qnt_ctx *ctx, const char *path, struct decls *ds, const char *name, int dtype,
			    uint32_t n_dims, const uint64_t *shape)
{
	if (!name)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "%s: safetensors: NULL tensor name", path);
	if (strcmp(name, "__metadata__") == 0)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "%s: safetensors: '__metadata__' cannot name a tensor", path);
	if (!qnt__st_dtype_name(dtype))
		return qnt__error(ctx, QNT_E_INVALID_ARG, "%s: safetensors: tensor '%s': unknown dtype %d", path, name,
				  dtype);
	if (n_dims > QNT__ST_MAX_DIMS || (n_dims && !shape))
		return qnt__error(ctx, QNT_E_INVALID_ARG, "%s: safetensors: tensor '%s': %s", path, name,
				  n_dims > QNT__ST_MAX_DIMS ? "too many dimensions" : "NULL shape");
	uint64_t nbytes, end;
	for (uint32_t i = 0; i < n_dims; i++)
		if (shape[i] > (uint64_t)INT64_MAX)
			return qnt__error(ctx, QNT_E_BAD_SHAPE, "%s: safetensors: tensor '%s': dimension %u too large",
					  path, name, i);
	if (!qnt__st_tensor_bytes(dtype, n_dims, shape, &nbytes) || __builtin_add_overflow(ds->total, nbytes, &end) ||
	    end > (uint64_t)INT64_MAX)
		return qnt__error(ctx, QNT_E_BAD_SHAPE,
				  "%s: safetensors: tensor '%s': %u-D shape of dtype %s: too many bytes, or not a whole "
				  "number of bytes",
				  path, name, n_dims, qnt__st_dtype_name(dtype));
	if (json_object_get(ds->names, name))
		return qnt__error(ctx, QNT_E_INVALID_ARG, "%s: safetensors: duplicate tensor name '%s'", path, name);
	if (ds->n == ds->cap) {
		int64_t cap = ds->cap ? 2 * ds->cap : 64;
		struct decl *d = realloc(ds->d, (size_t)cap * sizeof *d);
		if (!d)
			return qnt__error(ctx, QNT_E_NO_MEMORY, "%s: out of memory", path);
		ds->d = d;
		ds->cap = cap;
	}
	struct decl *d = &ds->d[ds->n];
	memset(d, 0, sizeof *d);
	size_t nl = strlen(name);
	d->name = malloc(nl + 1);
	d->shape = malloc((n_dims ? n_dims : 1) * sizeof *d->shape);
	json_t *ix = json_integer(ds->n);
	if (!d->name || !d->shape || !ix) {
		free(d->name);
		free(d->shape);
		json_decref(ix);
		return qnt__error(ctx, QNT_E_NO_MEMORY, "%s: out of memory", path);
	}
	if (json_object_set_new(ds->names, name, ix) != 0) {
		free(d->name);
		free(d->shape);
		return qnt__error(ctx, QNT_E_INVALID_ARG, "%s: safetensors: tensor name '%s' is not UTF-8 text", path,
				  name);
	}
	memcpy(d->name, name, nl + 1);
	if (n_dims)
		memcpy(d->shape, shape, n_dims * sizeof *shape);
	d->dtype = dtype;
	d->n_dims = n_dims;
	d->nbytes = nbytes;
	ds->total = end;
	ds->n++;
	return QNT_OK;
}

/* ------------------------------------------------------------------ */
/* The single-file writer                                               */
/* ------------------------------------------------------------------ */

struct qnt__st_writer {
	qnt_ctx *ctx;
	char *path;
	uint32_t flags;
	struct qnt__afile *af;
	struct decls ds;
	int64_t *order; /* file position -> declaration index */
	int begun;
	qnt_status failed; /* sticky */
	uint64_t written;
	int64_t pos; /* first position in `order` whose tensor is not complete */
	/* QNT__ST_WRITE_CHECKSUMS */
	struct qnt__xxh3 *xs;
	uint64_t *cksums; /* by file position */
	int64_t hpos;     /* the file position being hashed */
	uint64_t hin;     /* bytes of it hashed */
	uint64_t cksum_at; /* file offset of the hex digits in the header */
};

qnt_status qnt__st_writer_create(qnt_ctx *ctx, const char *path, uint32_t flags, struct qnt__st_writer **out)
{
	if (!out || !path)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "safetensors writer: NULL argument");
	*out = NULL;
	struct qnt__st_writer *w = calloc(1, sizeof *w);
	size_t n = strlen(path);
	if (!w || !(w->path = malloc(n + 1))) {
		free(w);
		return qnt__error(ctx, QNT_E_NO_MEMORY, "%s: out of memory", path);
	}
	memcpy(w->path, path, n + 1);
	w->ctx = ctx;
	w->flags = flags;
	qnt_status st = decls_init(ctx, path, &w->ds);
	if (st == QNT_OK)
		st = qnt__afile_create(ctx, path, flags & QNT__ST_WRITE_NAMED_TEMP ? QNT__AFILE_NAMED_TEMP : 0, &w->af);
	if (st != QNT_OK) {
		qnt__st_writer_abort(w);
		return st;
	}
	*out = w;
	return QNT_OK;
}

static qnt_status check_declaring(struct qnt__st_writer *w, const char *what)
{
	if (w->failed)
		return w->failed;
	if (w->begun)
		return qnt__error(w->ctx, QNT_E_INVALID_ARG, "%s: safetensors: %s after the data has begun", w->path,
				  what);
	return QNT_OK;
}

qnt_status qnt__st_writer_set_metadata(struct qnt__st_writer *w, const char *key, const char *value)
{
	if (!w)
		return qnt__error(NULL, QNT_E_INVALID_ARG, "safetensors writer: NULL handle");
	qnt_status st = check_declaring(w, "metadata");
	return st ? st : decls_set_metadata(w->ctx, w->path, &w->ds, key, value);
}

qnt_status qnt__st_writer_add(struct qnt__st_writer *w, const char *name, int dtype, uint32_t n_dims,
			      const uint64_t *shape)
{
	if (!w)
		return qnt__error(NULL, QNT_E_INVALID_ARG, "safetensors writer: NULL handle");
	qnt_status st = check_declaring(w, "a tensor declared");
	return st ? st : decls_add(w->ctx, w->path, &w->ds, name, dtype, n_dims, shape);
}

/* The reference writer's order: dtype descending (in its Dtype enum's
 * order, which enum qnt__st_dtype follows), then name by bytes. */
static int cmp_sorted(const void *pa, const void *pb)
{
	const struct decl *a = *(const struct decl *const *)pa, *b = *(const struct decl *const *)pb;
	if (a->dtype != b->dtype)
		return a->dtype > b->dtype ? -1 : 1;
	return strcmp(a->name, b->name);
}

static int cmp_names(const void *pa, const void *pb)
{
	const struct decl *a = *(const struct decl *const *)pa, *b = *(const struct decl *const *)pb;
	return strcmp(a->name, b->name);
}

/* The declarations' indices, sorted by cmp. */
static int sort_indices(const struct decls *ds, int (*cmp)(const void *, const void *), int64_t *order)
{
	const struct decl **p = malloc((ds->n ? (size_t)ds->n : 1) * sizeof *p);
	if (!p)
		return 0;
	for (int64_t i = 0; i < ds->n; i++)
		p[i] = &ds->d[i];
	qsort(p, (size_t)ds->n, sizeof *p, cmp);
	for (int64_t i = 0; i < ds->n; i++)
		order[i] = p[i] - ds->d;
	free(p);
	return 1;
}

/* The header: the reference's compact JSON, padded with spaces to a
 * multiple of 8. */
static qnt_status make_header(struct qnt__st_writer *w, char **out, size_t *len)
{
	json_t *root = json_object();
	int bad = !root;
	/* the checksums: last in "__metadata__", reserved as zeros */
	size_t meta_len = 0, hex_len = w->ds.n ? (size_t)w->ds.n * 17 - 1 : 0;
	json_object_del(w->ds.meta, QNT__CHECKSUM_KEY);
	if (!bad && (w->flags & QNT__ST_WRITE_CHECKSUMS)) {
		char *hex = malloc(hex_len + 1);
		bad = !hex;
		for (size_t i = 0; hex && i < hex_len; i++)
			hex[i] = i % 17 == 16 ? ' ' : '0';
		if (hex)
			hex[hex_len] = '\0';
		bad = bad || json_object_set_new(w->ds.meta, QNT__CHECKSUM_KEY, json_string(hex)) != 0;
		free(hex);
		char *m = bad ? NULL : json_dumps(w->ds.meta, JSON_COMPACT | JSON_PRESERVE_ORDER);
		bad = !m;
		meta_len = m ? strlen(m) : 0;
		free(m);
	}
	if (!bad && json_object_size(w->ds.meta) > 0)
		bad = json_object_set(root, "__metadata__", w->ds.meta) != 0;
	for (int64_t i = 0; !bad && i < w->ds.n; i++) {
		const struct decl *d = &w->ds.d[w->order[i]];
		json_t *e = json_object(), *shape = json_array(), *offs = json_array();
		bad = !e || !shape || !offs;
		for (uint32_t k = 0; !bad && k < d->n_dims; k++)
			bad = json_array_append_new(shape, json_integer((json_int_t)d->shape[k])) != 0;
		bad = bad || json_array_append_new(offs, json_integer((json_int_t)d->begin)) != 0 ||
		      json_array_append_new(offs, json_integer((json_int_t)(d->begin + d->nbytes))) != 0 ||
		      json_object_set_new(e, "dtype", json_string(qnt__st_dtype_name(d->dtype))) != 0 ||
		      json_object_set_new(e, "shape", shape) != 0;
		shape = NULL;
		bad = bad || json_object_set_new(e, "data_offsets", offs) != 0;
		offs = NULL;
		bad = bad || json_object_set_new(root, d->name, e) != 0;
		e = NULL;
		json_decref(shape);
		json_decref(offs);
	}
	char *s = bad ? NULL : json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (!s)
		return qnt__error(w->ctx, QNT_E_NO_MEMORY, "%s: out of memory for the safetensors header", w->path);
	size_t n = strlen(s), padded = (n + 7) & ~(size_t)7;
	if (padded > QNT__ST_MAX_HEADER) {
		free(s);
		return qnt__error(w->ctx, QNT_E_INVALID_ARG,
				  "%s: safetensors: the header would be %zu bytes, more than the format's limit of %u",
				  w->path, padded, QNT__ST_MAX_HEADER);
	}
	char *p = realloc(s, padded + 1);
	if (!p) {
		free(s);
		return qnt__error(w->ctx, QNT_E_NO_MEMORY, "%s: out of memory for the safetensors header", w->path);
	}
	memset(p + n, ' ', padded - n);
	p[padded] = '\0';
	if (w->flags & QNT__ST_WRITE_CHECKSUMS) {
		/* {"__metadata__":{...,"qnt.xxh3_64":"<hex>"},... */
		static const char lead[] = "{\"__metadata__\":";
		const size_t at = sizeof lead - 1 + meta_len - 2 - hex_len;
		if (strncmp(p, lead, sizeof lead - 1) != 0 || p[at - 1] != '"' || p[at + hex_len] != '"') {
			free(p);
			return qnt__error(w->ctx, QNT_E_UNSUPPORTED, "%s: safetensors: cannot place the checksums in the header",
					  w->path);
		}
		w->cksum_at = 8 + at;
	}
	*out = p;
	*len = padded;
	return QNT_OK;
}

/* Moves pos past the tensors that are complete (zero-size ones included). */
static void advance(struct qnt__st_writer *w)
{
	while (w->pos < w->ds.n) {
		const struct decl *d = &w->ds.d[w->order[w->pos]];
		if (d->begin + d->nbytes > w->written)
			break;
		w->pos++;
	}
}

qnt_status qnt__st_writer_begin(struct qnt__st_writer *w)
{
	if (!w)
		return qnt__error(NULL, QNT_E_INVALID_ARG, "safetensors writer: NULL handle");
	if (w->failed || w->begun)
		return w->failed;
	if (!(w->order = malloc((w->ds.n ? (size_t)w->ds.n : 1) * sizeof *w->order)))
		return w->failed = qnt__error(w->ctx, QNT_E_NO_MEMORY, "%s: out of memory", w->path);
	for (int64_t i = 0; i < w->ds.n; i++)
		w->order[i] = i;
	if ((w->flags & QNT__ST_WRITE_SORTED) && !sort_indices(&w->ds, cmp_sorted, w->order))
		return w->failed = qnt__error(w->ctx, QNT_E_NO_MEMORY, "%s: out of memory", w->path);
	uint64_t off = 0;
	for (int64_t i = 0; i < w->ds.n; i++) {
		struct decl *d = &w->ds.d[w->order[i]];
		d->begin = off;
		off += d->nbytes;
	}
	if ((w->flags & QNT__ST_WRITE_CHECKSUMS) &&
	    (!(w->cksums = calloc(w->ds.n ? (size_t)w->ds.n : 1, sizeof *w->cksums)) || !(w->xs = qnt__xxh3_new())))
		return w->failed = qnt__error(w->ctx, QNT_E_NO_MEMORY, "%s: out of memory", w->path);
	char *hdr = NULL;
	size_t len = 0;
	qnt_status st = make_header(w, &hdr, &len);
	if (st != QNT_OK)
		return w->failed = st;
	unsigned char n8[8];
	for (int i = 0; i < 8; i++)
		n8[i] = (unsigned char)((uint64_t)len >> (8 * i));
	st = qnt__afile_write(w->af, n8, sizeof n8);
	if (st == QNT_OK)
		st = qnt__afile_write(w->af, hdr, len);
	free(hdr);
	if (st != QNT_OK)
		return w->failed = st;
	w->begun = 1;
	advance(w);
	return QNT_OK;
}

int64_t qnt__st_writer_next(struct qnt__st_writer *w)
{
	if (!w || (!w->begun && qnt__st_writer_begin(w) != QNT_OK) || w->failed)
		return -1;
	advance(w);
	return w->pos < w->ds.n ? w->order[w->pos] : -1;
}

/* Feeds bytes of data (in file order) to the checksums; n == 0 ends the
 * tensors that are complete. */
static void hash_data(struct qnt__st_writer *w, const unsigned char *p, size_t n)
{
	if (!w->xs)
		return;
	for (;;) {
		while (w->hpos < w->ds.n && w->hin == w->ds.d[w->order[w->hpos]].nbytes) {
			w->cksums[w->hpos++] = qnt__xxh3_digest(w->xs);
			qnt__xxh3_reset(w->xs);
			w->hin = 0;
		}
		if (n == 0 || w->hpos >= w->ds.n)
			return;
		uint64_t room = w->ds.d[w->order[w->hpos]].nbytes - w->hin;
		size_t take = n < room ? n : (size_t)room;
		qnt__xxh3_update(w->xs, p, take);
		w->hin += take;
		p += take;
		n -= take;
	}
}

qnt_status qnt__st_writer_write(struct qnt__st_writer *w, const void *data, size_t n)
{
	if (!w)
		return qnt__error(NULL, QNT_E_INVALID_ARG, "safetensors writer: NULL handle");
	qnt_status st = w->begun ? w->failed : qnt__st_writer_begin(w);
	if (st != QNT_OK)
		return st;
	if (n > w->ds.total - w->written)
		return qnt__error(w->ctx, QNT_E_INVALID_ARG,
				  "%s: safetensors: a write of %zu bytes, but only %" PRIu64 " of the %" PRIu64
				  " bytes of tensor data remain",
				  w->path, n, w->ds.total - w->written, w->ds.total);
	if ((st = qnt__afile_write(w->af, data, n)) != QNT_OK)
		return w->failed = st;
	hash_data(w, data, n);
	w->written += n;
	advance(w);
	/* All data in: nothing more to buffer until commit. */
	if (w->written == w->ds.total && n > 0 && (st = qnt__afile_flush(w->af)) != QNT_OK)
		return w->failed = st;
	return QNT_OK;
}

qnt_status qnt__st_writer_write_tensor(struct qnt__st_writer *w, int64_t index, const void *data, size_t n)
{
	if (!w)
		return qnt__error(NULL, QNT_E_INVALID_ARG, "safetensors writer: NULL handle");
	int64_t next = qnt__st_writer_next(w);
	if (w->failed)
		return w->failed;
	if (index < 0 || index >= w->ds.n)
		return qnt__error(w->ctx, QNT_E_INVALID_ARG, "%s: safetensors: no tensor %" PRId64, w->path, index);
	const struct decl *d = &w->ds.d[index];
	if (d->nbytes == 0 && n == 0)
		return QNT_OK;
	if (index != next || w->written != d->begin || n != d->nbytes)
		return qnt__error(w->ctx, QNT_E_INVALID_ARG,
				  "%s: safetensors: tensor '%s' (%" PRIu64 " bytes) written with %zu bytes where %s comes "
				  "next",
				  w->path, d->name, d->nbytes, n,
				  next < 0 ? "nothing" : index == next ? "the rest of it" : w->ds.d[next].name);
	return qnt__st_writer_write(w, data, n);
}

int64_t qnt__st_writer_n_tensors(const struct qnt__st_writer *w)
{
	return w ? w->ds.n : 0;
}

uint64_t qnt__st_writer_data_size(const struct qnt__st_writer *w)
{
	return w ? w->ds.total : 0;
}

uint64_t qnt__st_writer_written(const struct qnt__st_writer *w)
{
	return w ? w->written : 0;
}

static void writer_free(struct qnt__st_writer *w)
{
	decls_free(&w->ds);
	free(w->order);
	free(w->cksums);
	qnt__xxh3_free(w->xs);
	free(w->path);
	free(w);
}

void qnt__st_writer_abort(struct qnt__st_writer *w)
{
	if (!w)
		return;
	qnt__afile_abort(w->af);
	writer_free(w);
}

qnt_status qnt__st_writer_finish(struct qnt__st_writer *w)
{
	if (!w)
		return qnt__error(NULL, QNT_E_INVALID_ARG, "safetensors writer: NULL handle");
	qnt_status st = w->begun ? w->failed : qnt__st_writer_begin(w);
	if (st == QNT_OK && w->written != w->ds.total) {
		advance(w);
		st = qnt__error(w->ctx, QNT_E_INVALID_ARG,
				"%s: safetensors: finished after %" PRIu64 " of %" PRIu64
				" bytes of tensor data (tensor '%s' is incomplete); nothing written",
				w->path, w->written, w->ds.total, w->ds.d[w->order[w->pos]].name);
	}
	if (st == QNT_OK && w->xs && w->ds.n > 0) {
		hash_data(w, NULL, 0);
		char *hex = malloc((size_t)w->ds.n * 17);
		if (!hex)
			st = qnt__error(w->ctx, QNT_E_NO_MEMORY, "%s: out of memory", w->path);
		for (int64_t i = 0; hex && i < w->ds.n; i++) {
			qnt__xxh3_hex(w->cksums[i], hex + 17 * i);
			hex[17 * i + 16] = ' ';
		}
		if (hex)
			st = qnt__afile_pwrite(w->af, hex, (size_t)w->ds.n * 17 - 1, w->cksum_at);
		free(hex);
	}
	if (st != QNT_OK) {
		qnt__st_writer_abort(w);
		return st;
	}
	st = qnt__afile_commit(w->af);
	w->af = NULL;
	writer_free(w);
	return st;
}

/* ------------------------------------------------------------------ */
/* The sharded writer                                                   */
/* ------------------------------------------------------------------ */

struct qnt__st_shards {
	qnt_ctx *ctx;
	char *dir;
	char *index_path;
	struct qnt__st_shards_opts o;
	struct decls ds;
	int begun;
	qnt_status failed;
	int64_t n_shards;
	char **names;                 /* file names */
	struct qnt__st_writer **w;    /* created when the data reaches the shard; NULL once committed */
	int64_t *shard_of;            /* declaration -> shard */
	int64_t *first;               /* shard -> its first declaration (shards are runs of declarations) */
	uint64_t *bytes;              /* shard -> bytes of tensor data */
	uint64_t written;             /* bytes of tensor data written, all shards */
	int64_t cur;                  /* the shard being written */
};

qnt_status qnt__st_shards_create(qnt_ctx *ctx, const char *dir, const struct qnt__st_shards_opts *opts,
				 struct qnt__st_shards **out)
{
	if (!out || !dir)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "safetensors shards: NULL argument");
	*out = NULL;
	struct qnt__st_shards *s = calloc(1, sizeof *s);
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (s) {
		s->dir = malloc(n + 1);
		s->index_path = malloc(n + sizeof "/" QNT__ST_INDEX_NAME);
	}
	if (!s || !s->dir || !s->index_path) {
		if (s) {
			free(s->dir);
			free(s->index_path);
		}
		free(s);
		return qnt__error(ctx, QNT_E_NO_MEMORY, "%s: out of memory", dir);
	}
	memcpy(s->dir, dir, n);
	s->dir[n] = '\0';
	snprintf(s->index_path, n + sizeof "/" QNT__ST_INDEX_NAME, "%s/%s", s->dir, QNT__ST_INDEX_NAME);
	s->ctx = ctx;
	if (opts)
		s->o = *opts;
	else
		s->o.total_parameters = -1;
	if (!s->o.max_shard_bytes)
		s->o.max_shard_bytes = QNT__ST_DEFAULT_SHARD_BYTES;
	qnt_status st = decls_init(ctx, s->index_path, &s->ds);
	if (st != QNT_OK) {
		free(s->dir);
		free(s->index_path);
		free(s);
		return st;
	}
	*out = s;
	return QNT_OK;
}

static qnt_status shards_declaring(struct qnt__st_shards *s, const char *what)
{
	if (s->failed)
		return s->failed;
	if (s->begun)
		return qnt__error(s->ctx, QNT_E_INVALID_ARG, "%s: safetensors: %s after the data has begun", s->dir, what);
	return QNT_OK;
}

qnt_status qnt__st_shards_set_metadata(struct qnt__st_shards *s, const char *key, const char *value)
{
	if (!s)
		return qnt__error(NULL, QNT_E_INVALID_ARG, "safetensors shards: NULL handle");
	qnt_status st = shards_declaring(s, "metadata");
	return st ? st : decls_set_metadata(s->ctx, s->dir, &s->ds, key, value);
}

qnt_status qnt__st_shards_add(struct qnt__st_shards *s, const char *name, int dtype, uint32_t n_dims,
			      const uint64_t *shape)
{
	if (!s)
		return qnt__error(NULL, QNT_E_INVALID_ARG, "safetensors shards: NULL handle");
	qnt_status st = shards_declaring(s, "a tensor declared");
	return st ? st : decls_add(s->ctx, s->dir, &s->ds, name, dtype, n_dims, shape);
}

qnt_status qnt__st_shards_begin(struct qnt__st_shards *s)
{
	if (!s)
		return qnt__error(NULL, QNT_E_INVALID_ARG, "safetensors shards: NULL handle");
	if (s->failed || s->begun)
		return s->failed;
	const int64_t n = s->ds.n;
	/* mlx-lm's make_shards, in declaration order; unlike it, never an
	 * empty shard before a tensor larger than the limit. */
	if (!(s->shard_of = malloc((n ? (size_t)n : 1) * sizeof *s->shard_of)) ||
	    !(s->first = malloc(((size_t)n + 2) * sizeof *s->first)) ||
	    !(s->bytes = calloc((size_t)n + 1, sizeof *s->bytes)))
		return s->failed = qnt__error(s->ctx, QNT_E_NO_MEMORY, "%s: out of memory", s->dir);
	int64_t k = 0;
	s->first[0] = 0;
	for (int64_t i = 0; i < n; i++) {
		uint64_t nb = s->ds.d[i].nbytes;
		if (i > s->first[k] && s->bytes[k] + nb > s->o.max_shard_bytes)
			s->first[++k] = i;
		s->shard_of[i] = k;
		s->bytes[k] += nb;
	}
	s->n_shards = k + 1;
	s->first[s->n_shards] = n;
	s->names = calloc((size_t)s->n_shards, sizeof *s->names);
	s->w = calloc((size_t)s->n_shards, sizeof *s->w);
	if (!s->names || !s->w)
		return s->failed = qnt__error(s->ctx, QNT_E_NO_MEMORY, "%s: out of memory", s->dir);
	for (int64_t j = 0; j < s->n_shards; j++) {
		char name[96];
		if (s->n_shards == 1)
			snprintf(name, sizeof name, "model.safetensors");
		else
			snprintf(name, sizeof name, "model-%05" PRId64 "-of-%05" PRId64 ".safetensors", j + 1,
				 s->n_shards);
		size_t nl = strlen(name);
		if (!(s->names[j] = malloc(nl + 1)))
			return s->failed = qnt__error(s->ctx, QNT_E_NO_MEMORY, "%s: out of memory", s->dir);
		memcpy(s->names[j], name, nl + 1);
	}
	s->begun = 1;
	return QNT_OK;
}

/* The writer of shard j, created (temporary file, header) on first use:
 * one shard's file at a time is being written. */
static qnt_status shard_writer(struct qnt__st_shards *s, int64_t j, struct qnt__st_writer **out)
{
	if (s->w[j]) {
		*out = s->w[j];
		return QNT_OK;
	}
	size_t dl = strlen(s->dir), nl = strlen(s->names[j]);
	char *path = malloc(dl + nl + 2);
	if (!path)
		return s->failed = qnt__error(s->ctx, QNT_E_NO_MEMORY, "%s: out of memory", s->dir);
	snprintf(path, dl + nl + 2, "%s/%s", s->dir, s->names[j]);
	uint32_t wflags = s->o.flags & (QNT__ST_WRITE_SORTED | QNT__ST_WRITE_NAMED_TEMP | QNT__ST_WRITE_CHECKSUMS);
	struct qnt__st_writer *w = NULL;
	qnt_status st = qnt__st_writer_create(s->ctx, path, wflags, &w);
	free(path);
	const char *mk;
	json_t *mv;
	json_object_foreach(s->ds.meta, mk, mv) {
		if (st == QNT_OK)
			st = qnt__st_writer_set_metadata(w, mk, json_string_value(mv));
	}
	for (int64_t i = s->first[j]; st == QNT_OK && i < s->first[j + 1]; i++) {
		const struct decl *d = &s->ds.d[i];
		st = qnt__st_writer_add(w, d->name, d->dtype, d->n_dims, d->shape);
	}
	if (st == QNT_OK)
		st = qnt__st_writer_begin(w);
	if (st != QNT_OK) {
		qnt__st_writer_abort(w);
		return s->failed = st;
	}
	*out = s->w[j] = w;
	return QNT_OK;
}

int64_t qnt__st_shards_n_shards(const struct qnt__st_shards *s)
{
	return s && s->begun ? s->n_shards : 0;
}

const char *qnt__st_shards_shard_name(const struct qnt__st_shards *s, int64_t i)
{
	return s && s->begun && i >= 0 && i < s->n_shards ? s->names[i] : NULL;
}

int64_t qnt__st_shards_tensor_shard(const struct qnt__st_shards *s, int64_t index)
{
	return s && s->begun && index >= 0 && index < s->ds.n ? s->shard_of[index] : -1;
}

int64_t qnt__st_shards_next(struct qnt__st_shards *s)
{
	if (!s || (!s->begun && qnt__st_shards_begin(s) != QNT_OK) || s->failed)
		return -1;
	for (; s->cur < s->n_shards; s->cur++) {
		struct qnt__st_writer *w;
		if (shard_writer(s, s->cur, &w) != QNT_OK)
			return -1;
		int64_t j = qnt__st_writer_next(w);
		if (j >= 0)
			return s->first[s->cur] + j;
	}
	return -1;
}

qnt_status qnt__st_shards_write(struct qnt__st_shards *s, const void *data, size_t n)
{
	if (!s)
		return qnt__error(NULL, QNT_E_INVALID_ARG, "safetensors shards: NULL handle");
	qnt_status st = s->begun ? s->failed : qnt__st_shards_begin(s);
	if (st != QNT_OK)
		return st;
	if (n > s->ds.total - s->written)
		return qnt__error(s->ctx, QNT_E_INVALID_ARG,
				  "%s: safetensors: a write of %zu bytes, but only %" PRIu64 " of the %" PRIu64
				  " bytes of tensor data remain",
				  s->dir, n, s->ds.total - s->written, s->ds.total);
	const unsigned char *p = data;
	while (n > 0) {
		struct qnt__st_writer *w;
		if ((st = shard_writer(s, s->cur, &w)) != QNT_OK)
			return st;
		uint64_t room = qnt__st_writer_data_size(w) - qnt__st_writer_written(w);
		if (room == 0) {
			s->cur++; /* (n <= what remains: there is a next shard) */
			continue;
		}
		size_t take = n < room ? n : (size_t)room;
		if ((st = qnt__st_writer_write(w, p, take)) != QNT_OK)
			return s->failed = st;
		p += take;
		n -= take;
		s->written += take;
	}
	return QNT_OK;
}

qnt_status qnt__st_shards_write_tensor(struct qnt__st_shards *s, int64_t index, const void *data, size_t n)
{
	if (!s)
		return qnt__error(NULL, QNT_E_INVALID_ARG, "safetensors shards: NULL handle");
	int64_t next = qnt__st_shards_next(s);
	if (s->failed)
		return s->failed;
	if (index < 0 || index >= s->ds.n)
		return qnt__error(s->ctx, QNT_E_INVALID_ARG, "%s: safetensors: no tensor %" PRId64, s->dir, index);
	const struct decl *d = &s->ds.d[index];
	if (d->nbytes == 0 && n == 0)
		return QNT_OK;
	if (index != next || n != d->nbytes)
		return qnt__error(s->ctx, QNT_E_INVALID_ARG,
				  "%s: safetensors: tensor '%s' (%" PRIu64 " bytes) written with %zu bytes where %s comes "
				  "next",
				  s->dir, d->name, d->nbytes, n, next < 0 ? "nothing" : s->ds.d[next].name);
	int64_t j = s->shard_of[index];
	qnt_status st = qnt__st_writer_write_tensor(s->w[j], index - s->first[j], data, n);
	if (st == QNT_OK)
		s->written += n;
	return st;
}

static void shards_free(struct qnt__st_shards *s)
{
	for (int64_t j = 0; s->w && j < s->n_shards; j++)
		qnt__st_writer_abort(s->w[j]);
	for (int64_t j = 0; s->names && j < s->n_shards; j++)
		free(s->names[j]);
	free(s->names);
	free(s->w);
	free(s->shard_of);
	free(s->first);
	free(s->bytes);
	decls_free(&s->ds);
	free(s->index_path);
	free(s->dir);
	free(s);
}

void qnt__st_shards_abort(struct qnt__st_shards *s)
{
	if (s)
		shards_free(s);
}

/* model.safetensors.index.json, as mlx-lm's json.dump(index, f, indent=4). */
static qnt_status write_index(struct qnt__st_shards *s)
{
	const int64_t n = s->ds.n;
	int64_t *by_name = malloc((n ? (size_t)n : 1) * sizeof *by_name);
	json_t *root = json_object(), *meta = json_object(), *map = json_object();
	int bad = !by_name || !root || !meta || !map || !sort_indices(&s->ds, cmp_names, by_name);
	bad = bad || json_object_set_new(meta, "total_size", json_integer((json_int_t)s->ds.total)) != 0;
	if (!bad && s->o.total_parameters >= 0)
		bad = json_object_set_new(meta, "total_parameters", json_integer((json_int_t)s->o.total_parameters)) != 0;
	for (int64_t i = 0; !bad && i < n; i++)
		bad = json_object_set_new(map, s->ds.d[by_name[i]].name, json_string(s->names[s->shard_of[by_name[i]]])) != 0;
	bad = bad || json_object_set(root, "metadata", meta) != 0 || json_object_set(root, "weight_map", map) != 0;
	char *text = bad ? NULL : json_dumps(root, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
	json_decref(root);
	json_decref(meta);
	json_decref(map);
	free(by_name);
	if (!text)
		return qnt__error(s->ctx, QNT_E_NO_MEMORY, "%s: out of memory", s->index_path);
	struct qnt__afile *af;
	qnt_status st = qnt__afile_create(s->ctx, s->index_path,
					  s->o.flags & QNT__ST_WRITE_NAMED_TEMP ? QNT__AFILE_NAMED_TEMP : 0, &af);
	if (st == QNT_OK) {
		st = qnt__afile_write(af, text, strlen(text));
		if (st == QNT_OK)
			st = qnt__afile_commit(af);
		else
			qnt__afile_abort(af);
	}
	free(text);
	return st;
}

qnt_status qnt__st_shards_finish(struct qnt__st_shards *s)
{
	if (!s)
		return qnt__error(NULL, QNT_E_INVALID_ARG, "safetensors shards: NULL handle");
	qnt_status st = s->begun ? s->failed : qnt__st_shards_begin(s);
	if (st == QNT_OK && s->written != s->ds.total) {
		int64_t next = qnt__st_shards_next(s);
		st = qnt__error(s->ctx, QNT_E_INVALID_ARG,
				"%s: safetensors: finished after %" PRIu64 " of %" PRIu64
				" bytes of tensor data (tensor '%s' is incomplete); nothing written",
				s->dir, s->written, s->ds.total, next >= 0 ? s->ds.d[next].name : "?");
	}
	/* Shards that hold only tensors of zero bytes have no writer yet. */
	struct qnt__st_writer *w;
	for (int64_t j = 0; st == QNT_OK && j < s->n_shards; j++)
		st = shard_writer(s, j, &w);
	/* Every shard is complete: commit them in order, the index last. */
	for (int64_t j = 0; st == QNT_OK && j < s->n_shards; j++) {
		st = qnt__st_writer_finish(s->w[j]);
		s->w[j] = NULL;
	}
	if (st == QNT_OK && !(s->n_shards == 1 && (s->o.flags & QNT__ST_SHARDS_INDEX_IF_MANY)))
		st = write_index(s);
	shards_free(s);
	return st;
}
