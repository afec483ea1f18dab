/* SPDX-License-Identifier: MIT */
/*
 * Importance matrices from llama.cpp's files (qnt_imatrix_*).
 *
 * GGUF (llama-imatrix's output, tools/imatrix/imatrix.cpp save_imatrix):
 * keys general.type = "imatrix", imatrix.datasets (array of strings),
 * imatrix.chunk_count and imatrix.chunk_size (UINT32); per weight tensor
 * NAME, tensors NAME.in_sum2 (F32, ne = [n_per_row, n_experts]: sums of the
 * squared activations), NAME.counts (F32, ne = [1, n_experts]: activations
 * summed per expert) and, in newer files, NAME.in_sum (F32: sums of the
 * activations, not used here). The importance llama-quantize derives
 * (tools/quantize/quantize.cpp load_imatrix, common/imatrix-loader.cpp):
 * in_sum2 / (float)lround(count), and 1 for every column of an expert whose
 * rounded count is 0.
 *
 * Legacy .dat (save_imatrix_legacy): int32 n_entries, then per entry int32
 * name length, the name, int32 ncall, int32 nval and nval floats holding
 * (sum / count) * ncall; then, optionally, int32 chunk count and int32
 * length + the data set name. The importance is value / (float)ncall, the
 * value itself when ncall <= 0.
 */
#include "gguf_read.h"
#include "qnt_internal.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if !defined(_WIN32)
#include <sys/stat.h>
#endif

struct entry {
	char *name;
	int64_t n_per_row, n_experts;
	float *values; /* n_experts * n_per_row */
};

struct qnt_imatrix {
	char *path;
	int32_t format;
	int32_t chunk_count, chunk_size;
	int64_t n;
	struct entry *e; /* sorted by name */
	int64_t n_datasets;
	char **datasets;
};

static char *dup_bytes(const char *s, size_t n)
{
	char *c = malloc(n + 1);
	if (c) {
		memcpy(c, s, n);
		c[n] = '\0';
	}
	return c;
}

static void im_free(struct qnt_imatrix *im)
{
	if (!im)
		return;
	for (int64_t i = 0; i < im->n; i++) {
		free(im->e[i].name);
		free(im->e[i].values);
	}
	for (int64_t i = 0; i < im->n_datasets; i++)
		free(im->datasets[i]);
	free(im->e);
	free(im->datasets);
	free(im->path);
	free(im);
}

QNT_API void qnt_imatrix_close(qnt_imatrix *im)
{
	im_free(im);
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

static inline float rd_f32(const uint8_t *p)
{
	uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}

static inline int32_t rd_i32(const uint8_t *p)
{
	uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
	return (int32_t)u;
}

/* ------------------------------------------------------------------ */
/* GGUF                                                                 */
/* ------------------------------------------------------------------ */

static qnt_status gguf_fail(qnt_ctx *ctx, const char *path, uint64_t off, const char *fmt, ...) QNT_PRINTF(4, 5);

static qnt_status gguf_fail(qnt_ctx *ctx, const char *path, uint64_t off, const char *fmt, ...)
{
	char msg[QNT_ERRMSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return qnt__error(ctx, QNT_E_FORMAT, "%s: imatrix: %s (at byte offset %llu)", path, msg, (unsigned long long)off);
}

enum { PART_SUM2, PART_COUNTS, PART_SUM, N_PARTS };
static const char *const part_suffix[N_PARTS] = { ".in_sum2", ".counts", ".in_sum" };

struct part {
	const char *base; /* the tensor's name */
	size_t base_len;
	int kind;
	const struct qnt__gguf_tensor *t;
};

static int cmp_part(const void *a, const void *b)
{
	const struct part *x = a, *y = b;
	size_t n = x->base_len < y->base_len ? x->base_len : y->base_len;
	int c = memcmp(x->base, y->base, n);
	if (c)
		return c;
	if (x->base_len != y->base_len)
		return x->base_len < y->base_len ? -1 : 1;
	return (x->kind > y->kind) - (x->kind < y->kind);
}

static int ends_with(const char *s, size_t n, const char *suffix)
{
	size_t m = strlen(suffix);
	return n > m && memcmp(s + n - m, suffix, m) == 0;
}

static qnt_status required_u32(qnt_ctx *ctx, const struct qnt__gguf *g, const char *key, int32_t *out)
{
	const struct qnt__gguf_kv *kv = qnt__gguf_find_kv(g, key);
	uint32_t v;
	if (!kv)
		return qnt__error(ctx, QNT_E_FORMAT,
				  "%s: imatrix: no key '%s' (llama-imatrix writes it, llama-quantize requires it)",
				  qnt__gguf_path(g), key);
	if (!qnt__gguf_get_u32(&kv->value, &v))
		return gguf_fail(ctx, qnt__gguf_path(g), kv->value.offset, "key '%s' has type %s, not UINT32", key,
				 qnt__gguf_type_name(kv->value.type));
	if (v > INT32_MAX)
		return gguf_fail(ctx, qnt__gguf_path(g), kv->value.offset, "key '%s' = %u is out of range", key,
				 (unsigned)v);
	*out = (int32_t)v;
	return QNT_OK;
}

static qnt_status read_datasets(qnt_ctx *ctx, const struct qnt__gguf *g, struct qnt_imatrix *im)
{
	const char *path = qnt__gguf_path(g);
	const struct qnt__gguf_kv *kv = qnt__gguf_find_kv(g, "imatrix.datasets");
	if (!kv)
		return qnt__error(ctx, QNT_E_FORMAT,
				  "%s: imatrix: no key 'imatrix.datasets' (llama-imatrix writes it, llama-quantize requires it)",
				  path);
	if (kv->value.type != QNT__GGUF_ARRAY || kv->value.elem_type != QNT__GGUF_STRING)
		return gguf_fail(ctx, path, kv->value.offset, "key 'imatrix.datasets' is not an array of strings");
	im->datasets = calloc(kv->value.n ? (size_t)kv->value.n : 1, sizeof *im->datasets);
	if (!im->datasets)
		return qnt__error(ctx, QNT_E_NO_MEMORY, "%s: imatrix: out of memory", path);
	struct qnt__gguf_iter it;
	struct qnt__gguf_value e;
	qnt__gguf_iter_init(&it, &kv->value);
	while (qnt__gguf_iter_next(&it, &e)) {
		const char *s;
		uint64_t len;
		qnt__gguf_get_str(&e, &s, &len);
		if (!(im->datasets[im->n_datasets] = dup_bytes(s, (size_t)len)))
			return qnt__error(ctx, QNT_E_NO_MEMORY, "%s: imatrix: out of memory", path);
		im->n_datasets++;
	}
	return QNT_OK;
}

/* One entry from its tensors; e->name is set by the caller. */
static qnt_status gguf_entry(qnt_ctx *ctx, const char *path, const struct qnt__gguf_tensor *const *p, struct entry *e)
{
	const struct qnt__gguf_tensor *sum2 = p[PART_SUM2], *counts = p[PART_COUNTS], *sum = p[PART_SUM];
	if (!sum2 || !counts) {
		const struct qnt__gguf_tensor *t = sum2 ? sum2 : counts ? counts : sum;
		return gguf_fail(ctx, path, t->info_offset, "tensor '%s' has no '%s%s'", t->name, e->name,
				 part_suffix[sum2 ? PART_COUNTS : PART_SUM2]);
	}
	for (int k = 0; k < N_PARTS; k++)
		if (p[k] && p[k]->type != 0)
			return gguf_fail(ctx, path, p[k]->info_offset, "tensor '%s' has type %s, not f32", p[k]->name,
					 qnt__ggml_type_name(p[k]->type));
	const int64_t nsums = qnt__gguf_tensor_nelements(sum2), ncounts = qnt__gguf_tensor_nelements(counts);
	if (ncounts < 1)
		return gguf_fail(ctx, path, counts->info_offset, "tensor '%s' is empty", counts->name);
	if (nsums < 1 || nsums % ncounts != 0)
		return gguf_fail(ctx, path, sum2->info_offset,
				 "tensor '%s' has %lld values, not a positive multiple of the %lld counts of '%s'",
				 sum2->name, (long long)nsums, (long long)ncounts, counts->name);
	if (sum && qnt__gguf_tensor_nelements(sum) != nsums)
		return gguf_fail(ctx, path, sum->info_offset, "tensor '%s' has %lld values, '%s' has %lld", sum->name,
				 (long long)qnt__gguf_tensor_nelements(sum), sum2->name, (long long)nsums);
	e->n_experts = ncounts;
	e->n_per_row = nsums / ncounts;
	if (!(e->values = malloc((size_t)nsums * sizeof(float))))
		return qnt__error(ctx, QNT_E_NO_MEMORY, "%s: imatrix: out of memory", path);
	const uint8_t *cd = counts->data, *sd = sum2->data;
	for (int64_t x = 0; x < ncounts; x++) {
		const float c = rd_f32(cd + 4 * x);
		if (!(c >= 0.0f) || !isfinite(c))
			return gguf_fail(ctx, path, counts->file_offset + 4 * (uint64_t)x,
					 "tensor '%s': count %lld is %g, not a finite non-negative number", counts->name,
					 (long long)x, (double)c);
		/* std::lround, then the float division llama-quantize does (a float
		 * of 2^23 or more is already an integer) */
		const float cnt = c < 0x1p23f ? (float)llroundf(c) : c;
		float *v = e->values + x * e->n_per_row;
		for (int64_t j = 0; j < e->n_per_row; j++) {
			const uint64_t at = sum2->file_offset + 4 * (uint64_t)(x * e->n_per_row + j);
			const float s = rd_f32(sd + (at - sum2->file_offset));
			if (!(s >= 0.0f) || !isfinite(s))
				return gguf_fail(ctx, path, at, "tensor '%s': value %lld is %g, not a finite non-negative sum",
						 sum2->name, (long long)(x * e->n_per_row + j), (double)s);
			v[j] = cnt > 0.0f ? s / cnt : 1.0f;
		}
	}
	return QNT_OK;
}

static qnt_status open_gguf(qnt_ctx *ctx, const char *path, struct qnt_imatrix *im)
{
	struct qnt__gguf *g;
	qnt_status st = qnt__gguf_open(ctx, path, &g);
	if (st != QNT_OK)
		return st;
	struct part *parts = NULL;
	im->format = QNT_IMATRIX_GGUF;

	const struct qnt__gguf_kv *type = qnt__gguf_find_kv(g, "general.type");
	if (type) {
		const char *s;
		uint64_t len;
		if (!qnt__gguf_get_str(&type->value, &s, &len)) {
			st = gguf_fail(ctx, path, type->value.offset, "key 'general.type' has type %s, not STRING",
				       qnt__gguf_type_name(type->value.type));
			goto out;
		}
		if (len != 7 || memcmp(s, "imatrix", 7) != 0) {
			st = gguf_fail(ctx, path, type->value.offset, "general.type is '%.*s', not 'imatrix'",
				       (int)(len > 64 ? 64 : len), s);
			goto out;
		}
	}
	if ((st = required_u32(ctx, g, "imatrix.chunk_count", &im->chunk_count)) != QNT_OK ||
	    (st = required_u32(ctx, g, "imatrix.chunk_size", &im->chunk_size)) != QNT_OK ||
	    (st = read_datasets(ctx, g, im)) != QNT_OK)
		goto out;

	/* the tensors of each entry, grouped by name */
	const int64_t nt = qnt__gguf_n_tensors(g);
	int64_t np = 0;
	parts = malloc((nt ? (size_t)nt : 1) * sizeof *parts);
	if (!parts) {
		st = qnt__error(ctx, QNT_E_NO_MEMORY, "%s: imatrix: out of memory", path);
		goto out;
	}
	for (int64_t i = 0; i < nt; i++) {
		const struct qnt__gguf_tensor *t = qnt__gguf_tensor_at(g, i);
		const size_t n = strlen(t->name);
		for (int k = 0; k < N_PARTS; k++)
			if (ends_with(t->name, n, part_suffix[k])) {
				parts[np++] = (struct part){ t->name, n - strlen(part_suffix[k]), k, t };
				break;
			}
	}
	qsort(parts, (size_t)np, sizeof *parts, cmp_part);
	im->e = calloc(np ? (size_t)np : 1, sizeof *im->e);
	if (!im->e) {
		st = qnt__error(ctx, QNT_E_NO_MEMORY, "%s: imatrix: out of memory", path);
		goto out;
	}
	for (int64_t i = 0; i < np;) {
		const struct qnt__gguf_tensor *p[N_PARTS] = { NULL, NULL, NULL };
		int64_t j = i;
		for (; j < np && parts[j].base_len == parts[i].base_len &&
		       memcmp(parts[j].base, parts[i].base, parts[i].base_len) == 0;
		     j++)
			p[parts[j].kind] = parts[j].t;
		struct entry *e = &im->e[im->n++];
		if (!(e->name = dup_bytes(parts[i].base, parts[i].base_len))) {
			st = qnt__error(ctx, QNT_E_NO_MEMORY, "%s: imatrix: out of memory", path);
			goto out;
		}
		if ((st = gguf_entry(ctx, path, p, e)) != QNT_OK)
			goto out;
		i = j;
	}
	if (im->n == 0)
		st = qnt__error(ctx, QNT_E_FORMAT, "%s: imatrix: no entries (no tensor named '<weight>.in_sum2')", path);
out:
	free(parts);
	qnt__gguf_close(g);
	return st;
}

/* ------------------------------------------------------------------ */
/* Legacy .dat                                                          */
/* ------------------------------------------------------------------ */

struct lrd {
	qnt_ctx *ctx;
	const char *path;
	const uint8_t *p;
	uint64_t size, pos;
};

static qnt_status lfail(struct lrd *r, uint64_t off, const char *fmt, ...) QNT_PRINTF(3, 4);

static qnt_status lfail(struct lrd *r, uint64_t off, const char *fmt, ...)
{
	char msg[QNT_ERRMSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return qnt__error(r->ctx, QNT_E_FORMAT, "%s: imatrix (legacy .dat): %s (at byte offset %llu)", r->path, msg,
			  (unsigned long long)off);
}

static qnt_status lget(struct lrd *r, const char *what, int32_t *v)
{
	if (r->size - r->pos < 4)
		return lfail(r, r->pos, "%s needs 4 bytes, the file has %llu left (file size %llu)", what,
			     (unsigned long long)(r->size - r->pos), (unsigned long long)r->size);
	*v = rd_i32(r->p + r->pos);
	r->pos += 4;
	return QNT_OK;
}

static qnt_status parse_legacy(struct lrd *r, struct qnt_imatrix *im)
{
	qnt_status st;
	int32_t n_entries;
	im->format = QNT_IMATRIX_LEGACY;
	if ((st = lget(r, "the entry count", &n_entries)) != QNT_OK)
		return st;
	/* an entry takes at least 4 + 1 + 4 + 4 + 4 bytes */
	if (n_entries < 1)
		return lfail(r, 0, "entry count %d is not positive", (int)n_entries);
	if ((uint64_t)n_entries > (r->size - r->pos) / 17)
		return lfail(r, 0, "%d entries cannot fit in the %llu bytes that follow", (int)n_entries,
			     (unsigned long long)(r->size - r->pos));
	if (!(im->e = calloc((size_t)n_entries, sizeof *im->e)))
		return qnt__error(r->ctx, QNT_E_NO_MEMORY, "%s: imatrix: out of memory", r->path);
	uint64_t *at = malloc((size_t)n_entries * sizeof *at);
	if (!at)
		return qnt__error(r->ctx, QNT_E_NO_MEMORY, "%s: imatrix: out of memory", r->path);
	for (int32_t i = 0; i < n_entries; i++) {
		char what[64];
		int32_t len, ncall, nval;
		at[i] = r->pos;
		snprintf(what, sizeof what, "the name length of entry #%d", (int)i);
		if ((st = lget(r, what, &len)) != QNT_OK)
			goto out;
		if (len < 1 || (uint64_t)len > r->size - r->pos) {
			st = lfail(r, at[i], "entry #%d: name length %d is %s", (int)i, (int)len,
				   len < 1 ? "not positive" : "past the end of the file");
			goto out;
		}
		const char *name = (const char *)r->p + r->pos;
		if (memchr(name, '\0', (size_t)len)) {
			st = lfail(r, r->pos, "entry #%d: the name holds a NUL byte", (int)i);
			goto out;
		}
		struct entry *e = &im->e[im->n++];
		if (!(e->name = dup_bytes(name, (size_t)len))) {
			st = qnt__error(r->ctx, QNT_E_NO_MEMORY, "%s: imatrix: out of memory", r->path);
			goto out;
		}
		r->pos += (uint64_t)len;
		snprintf(what, sizeof what, "the call count of entry '%.32s'", e->name);
		if ((st = lget(r, what, &ncall)) != QNT_OK)
			goto out;
		const uint64_t nval_at = r->pos;
		snprintf(what, sizeof what, "the value count of entry '%.32s'", e->name);
		if ((st = lget(r, what, &nval)) != QNT_OK)
			goto out;
		if (nval < 1 || (uint64_t)nval > (r->size - r->pos) / 4) {
			st = lfail(r, nval_at, "entry '%s': %d values %s", e->name, (int)nval,
				   nval < 1 ? "(not positive)" : "run past the end of the file");
			goto out;
		}
		e->n_per_row = nval;
		e->n_experts = 1;
		if (!(e->values = malloc((size_t)nval * sizeof(float)))) {
			st = qnt__error(r->ctx, QNT_E_NO_MEMORY, "%s: imatrix: out of memory", r->path);
			goto out;
		}
		for (int32_t j = 0; j < nval; j++, r->pos += 4) {
			const float v = rd_f32(r->p + r->pos);
			if (!(v >= 0.0f) || !isfinite(v)) {
				st = lfail(r, r->pos, "entry '%s': value %d is %g, not a finite non-negative number",
					   e->name, (int)j, (double)v);
				goto out;
			}
			e->values[j] = ncall > 0 ? v / (float)ncall : v;
		}
	}
	/* trailer: nothing, the chunk count, or the chunk count and the data
	 * set name (llama-imatrix writes both) */
	{
		const uint64_t rest = r->size - r->pos;
		if (rest >= 4) {
			im->chunk_count = rd_i32(r->p + r->pos);
			if (im->chunk_count < 0) {
				st = lfail(r, r->pos, "trailing chunk count %d is negative", (int)im->chunk_count);
				goto out;
			}
		}
		if (rest >= 8) {
			const int32_t len = rd_i32(r->p + r->pos + 4);
			if (len < 0 || (uint64_t)len != rest - 8) {
				st = lfail(r, r->pos + 4,
					   "the data set name length %d does not match the %llu bytes left in the file", (int)len,
					   (unsigned long long)(rest - 8));
				goto out;
			}
			if (len > 0) {
				if (!(im->datasets = malloc(sizeof *im->datasets)) ||
				    !(im->datasets[0] = dup_bytes((const char *)r->p + r->pos + 8, (size_t)len))) {
					st = qnt__error(r->ctx, QNT_E_NO_MEMORY, "%s: imatrix: out of memory", r->path);
					goto out;
				}
				im->n_datasets = 1;
			}
		} else if (rest != 0 && rest != 4) {
			st = lfail(r, r->pos, "%llu stray bytes after the last entry", (unsigned long long)rest);
			goto out;
		}
	}
	/* unique names: a repeat is reported at its second offset */
	{
		struct entry *sorted = im->e;
		qsort(sorted, (size_t)im->n, sizeof *sorted, cmp_entry);
		for (int64_t i = 1; i < im->n; i++)
			if (strcmp(sorted[i - 1].name, sorted[i].name) == 0) {
				/* find the second occurrence in file order */
				uint64_t second = 0;
				int seen = 0;
				const uint8_t *p = r->p;
				for (int32_t k = 0; k < n_entries; k++) {
					const int32_t len = rd_i32(p + at[k]);
					if ((size_t)len == strlen(sorted[i].name) &&
					    memcmp(p + at[k] + 4, sorted[i].name, (size_t)len) == 0 && seen++ == 1) {
						second = at[k];
						break;
					}
				}
				st = lfail(r, second, "entry '%s' appears twice", sorted[i].name);
				goto out;
			}
	}
	st = QNT_OK;
out:
	free(at);
	return st;
}

static qnt_status open_legacy(qnt_ctx *ctx, const char *path, FILE *f, struct qnt_imatrix *im)
{
	/* the file is read whole: legacy files are small (one vector per
	 * tensor) */
	if (fseek(f, 0, SEEK_END) != 0)
		return qnt__error(ctx, QNT_E_IO, "%s: cannot seek", path);
	long sz = ftell(f);
	if (sz < 0 || fseek(f, 0, SEEK_SET) != 0)
		return qnt__error(ctx, QNT_E_IO, "%s: cannot find the file size", path);
	uint8_t *buf = malloc(sz ? (size_t)sz : 1);
	if (!buf)
		return qnt__error(ctx, QNT_E_NO_MEMORY, "%s: out of memory for %ld bytes", path, sz);
	if (sz && fread(buf, 1, (size_t)sz, f) != (size_t)sz) {
		free(buf);
		return qnt__error(ctx, QNT_E_IO, "%s: cannot read %ld bytes", path, sz);
	}
	struct lrd r = { ctx, path, buf, (uint64_t)sz, 0 };
	qnt_status st = parse_legacy(&r, im);
	free(buf);
	return st;
}

/* ------------------------------------------------------------------ */
/* Public API                                                           */
/* ------------------------------------------------------------------ */

QNT_API qnt_status qnt_imatrix_open(qnt_ctx *ctx, const char *path, qnt_imatrix **out)
{
	if (out)
		*out = NULL;
	if (!path || !out)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "qnt_imatrix_open: %s is NULL", !path ? "path" : "out");
	struct qnt_imatrix *im = calloc(1, sizeof *im);
	if (!im || !(im->path = dup_bytes(path, strlen(path)))) {
		free(im);
		return qnt__error(ctx, QNT_E_NO_MEMORY, "qnt_imatrix_open: out of memory");
	}
	FILE *f = fopen(path, "rb");
	if (!f) {
		int e = errno;
		im_free(im);
		return qnt__error(ctx, e == ENOENT ? QNT_E_NOT_FOUND : QNT_E_IO, "%s: cannot open: %s", path, strerror(e));
	}
#if !defined(_WIN32)
	struct stat sb;
	if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
		fclose(f);
		im_free(im);
		return qnt__error(ctx, QNT_E_IO, "%s: not a regular file", path);
	}
#endif
	unsigned char magic[4] = { 0, 0, 0, 0 };
	const size_t got = fread(magic, 1, 4, f);
	qnt_status st;
	if (got == 4 && memcmp(magic, "GGUF", 4) == 0) {
		fclose(f);
		st = open_gguf(ctx, path, im);
	} else {
		st = open_legacy(ctx, path, f, im);
		fclose(f);
	}
	if (st != QNT_OK) {
		im_free(im);
		return st;
	}
	qsort(im->e, (size_t)im->n, sizeof *im->e, cmp_entry);
	*out = im;
	return QNT_OK;
}

QNT_API qnt_status qnt_imatrix_get_info(const qnt_imatrix *im, qnt_imatrix_info *info)
{
	if (!im || !info || info->struct_size < offsetof(qnt_imatrix_info, n_entries))
		return qnt__error(NULL, QNT_E_INVALID_ARG,
				  "qnt_imatrix_get_info: im or info is NULL, or info->struct_size is too small");
	qnt_imatrix_info v = { sizeof(qnt_imatrix_info), im->format, im->n, im->n_datasets, im->chunk_count,
			       im->chunk_size };
	const uint32_t caller = info->struct_size;
	memcpy(info, &v, caller < sizeof v ? caller : sizeof v);
	info->struct_size = caller;
	return QNT_OK;
}

QNT_API int64_t qnt_imatrix_count(const qnt_imatrix *im)
{
	return im ? im->n : 0;
}

QNT_API const char *qnt_imatrix_name(const qnt_imatrix *im, int64_t index)
{
	return im && index >= 0 && index < im->n ? im->e[index].name : NULL;
}

QNT_API const char *qnt_imatrix_dataset(const qnt_imatrix *im, int64_t index)
{
	return im && index >= 0 && index < im->n_datasets ? im->datasets[index] : NULL;
}

static const struct entry *find(const qnt_imatrix *im, const char *name)
{
	int64_t lo = 0, hi = im->n - 1;
	while (lo <= hi) {
		int64_t mid = lo + (hi - lo) / 2;
		int c = strcmp(im->e[mid].name, name);
		if (c == 0)
			return &im->e[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

QNT_API qnt_status qnt_imatrix_shape(const qnt_imatrix *im, const char *tensor_name, int64_t *n_per_row,
				     int64_t *n_experts)
{
	if (!im || !tensor_name)
		return qnt__error(NULL, QNT_E_INVALID_ARG, "qnt_imatrix_shape: %s is NULL", !im ? "im" : "tensor_name");
	const struct entry *e = find(im, tensor_name);
	if (!e)
		return qnt__error(NULL, QNT_E_NOT_FOUND, "%s: no importance for tensor '%s'", im->path, tensor_name);
	if (n_per_row)
		*n_per_row = e->n_per_row;
	if (n_experts)
		*n_experts = e->n_experts;
	return QNT_OK;
}

QNT_API qnt_status qnt_imatrix_get(const qnt_imatrix *im, const char *tensor_name, int64_t expert,
				   const float **values, int64_t *n)
{
	if (!im || !tensor_name || !values || !n)
		return qnt__error(NULL, QNT_E_INVALID_ARG, "qnt_imatrix_get: a pointer argument is NULL");
	const struct entry *e = find(im, tensor_name);
	if (!e)
		return qnt__error(NULL, QNT_E_NOT_FOUND, "%s: no importance for tensor '%s'", im->path, tensor_name);
	if (expert < -1 || expert >= e->n_experts)
		return qnt__error(NULL, QNT_E_INVALID_ARG, "qnt_imatrix_get: tensor '%s' has %lld expert(s), not %lld",
				  tensor_name, (long long)e->n_experts, (long long)expert);
	if (expert < 0) {
		*values = e->values;
		*n = e->n_experts * e->n_per_row;
	} else {
		*values = e->values + expert * e->n_per_row;
		*n = e->n_per_row;
	}
	return QNT_OK;
}
