/* SPDX-License-Identifier: MIT */
/*
 * safetensors: dtypes and the strict reader; see safetensors.h. The header
 * is parsed by jansson; the rules are those of the reference reader (the
 * `safetensors` package, safetensors/src/tensor.rs): header length <= 100 MB
 * and within the file, UTF-8 JSON object, tensor entries {dtype, shape,
 * data_offsets}, byte size = product(shape) * bits / 8, and the tensors,
 * sorted by data_offsets, tiling the data section from 0 to its end.
 */
#include "safetensors.h"

#include "checksum.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if !defined(_WIN32)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

/* ------------------------------------------------------------------ */
/* dtypes                                                               */
/* ------------------------------------------------------------------ */

static const struct {
	const char *name;
	uint32_t bits;
} dtypes[QNT__ST_N_DTYPES] = {
	[QNT__ST_BOOL] = { "BOOL", 8 },
	[QNT__ST_F4] = { "F4", 4 },
	[QNT__ST_F6_E2M3] = { "F6_E2M3", 6 },
	[QNT__ST_F6_E3M2] = { "F6_E3M2", 6 },
	[QNT__ST_U8] = { "U8", 8 },
	[QNT__ST_I8] = { "I8", 8 },
	[QNT__ST_F8_E5M2] = { "F8_E5M2", 8 },
	[QNT__ST_F8_E4M3] = { "F8_E4M3", 8 },
	[QNT__ST_F8_E8M0] = { "F8_E8M0", 8 },
	[QNT__ST_F8_E4M3FNUZ] = { "F8_E4M3FNUZ", 8 },
	[QNT__ST_F8_E5M2FNUZ] = { "F8_E5M2FNUZ", 8 },
	[QNT__ST_I16] = { "I16", 16 },
	[QNT__ST_U16] = { "U16", 16 },
	[QNT__ST_F16] = { "F16", 16 },
	[QNT__ST_BF16] = { "BF16", 16 },
	[QNT__ST_I32] = { "I32", 32 },
	[QNT__ST_U32] = { "U32", 32 },
	[QNT__ST_F32] = { "F32", 32 },
	[QNT__ST_C64] = { "C64", 64 },
	[QNT__ST_F64] = { "F64", 64 },
	[QNT__ST_I64] = { "I64", 64 },
	[QNT__ST_U64] = { "U64", 64 },
};

const char *qnt__st_dtype_name(int dtype)
{
	return dtype >= 0 && dtype < QNT__ST_N_DTYPES ? dtypes[dtype].name : NULL;
}

int qnt__st_dtype_from_name(const char *name, size_t n)
{
	if (!name)
		return -1;
	for (int i = 0; i < QNT__ST_N_DTYPES; i++)
		if (strlen(dtypes[i].name) == n && memcmp(dtypes[i].name, name, n) == 0)
			return i;
	return -1;
}

uint32_t qnt__st_dtype_bits(int dtype)
{
	return dtype >= 0 && dtype < QNT__ST_N_DTYPES ? dtypes[dtype].bits : 0;
}

qnt_type qnt__st_dtype_to_qnt(int dtype)
{
	switch (dtype) {
	case QNT__ST_F32: return QNT_TYPE_F32;
	case QNT__ST_F16: return QNT_TYPE_F16;
	case QNT__ST_BF16: return QNT_TYPE_BF16;
	default: return QNT_TYPE_INVALID;
	}
}

/* 1 and the element count, or 0 on overflow. */
static int count_elements(uint32_t n_dims, const uint64_t *shape, uint64_t *out)
{
	uint64_t n = 1;
	for (uint32_t i = 0; i < n_dims; i++)
		if (__builtin_mul_overflow(n, shape[i], &n))
			return 0;
	*out = n;
	return 1;
}

int qnt__st_tensor_bytes(int dtype, uint32_t n_dims, const uint64_t *shape, uint64_t *nbytes)
{
	uint64_t n, bits;
	uint32_t b = qnt__st_dtype_bits(dtype);
	if (!b || (n_dims && !shape) || !count_elements(n_dims, shape, &n) || __builtin_mul_overflow(n, b, &bits) ||
	    bits % 8 != 0)
		return 0;
	*nbytes = bits / 8;
	return 1;
}

/* "[2, 3]", cut with "..." when it does not fit. */
static const char *fmt_shape(char *buf, size_t size, uint32_t n_dims, const uint64_t *shape)
{
	size_t at = (size_t)snprintf(buf, size, "[");
	for (uint32_t i = 0; i < n_dims && at < size; i++) {
		if (at + 24 > size) {
			snprintf(buf + at, size - at, "...");
			return buf;
		}
		at += (size_t)snprintf(buf + at, size - at, "%s%" PRIu64, i ? ", " : "", shape[i]);
	}
	if (at < size)
		snprintf(buf + at, size - at, "]");
	return buf;
}

/* ------------------------------------------------------------------ */
/* The reader                                                           */
/* ------------------------------------------------------------------ */

struct qnt__st_file {
	char *path;
	const uint8_t *base;
	uint64_t size;
	void *map; /* munmap(map, size) */
	void *buf; /* free(buf) */
	uint64_t header_len;
	int64_t n_tensors;
	struct qnt__st_tensor *tensors; /* data order */
	uint64_t *dims;                 /* every tensor's shape */
	int64_t *slots;                 /* open addressing: tensor index + 1, 0 = empty */
	uint64_t mask;
	int64_t n_meta;
	char **meta; /* key, value, key, value, ... */
};

/* One tensor while parsing: its entry's place in the header. */
struct entry {
	struct qnt__st_tensor t;
	int64_t order; /* header order */
};

static uint64_t hash_name(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

QNT_PRINTF(4, 5)
static qnt_status ferr(qnt_ctx *ctx, const struct qnt__st_file *f, uint64_t offset, const char *fmt, ...)
{
	char msg[QNT_ERRMSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return qnt__error(ctx, QNT_E_FORMAT, "%s: safetensors: %s (at byte offset %" PRIu64 ")", f->path, msg, offset);
}

static qnt_status nomem(qnt_ctx *ctx, const struct qnt__st_file *f)
{
	return qnt__error(ctx, QNT_E_NO_MEMORY, "%s: safetensors: out of memory", f->path);
}

/* Offsets (from the start of the JSON) of the top-level object's keys, in
 * text order, which is jansson's iteration order (it keeps insertion order,
 * and duplicates were refused). The text is valid JSON, jansson parsed it:
 * tracking strings and nesting is enough to tell keys from values. Only
 * for messages and qnt__st_tensor.header_offset. */
static void scan_keys(const char *s, uint64_t n, uint64_t *pos, size_t max)
{
	int depth = 0, expect_key = 0;
	size_t k = 0;
	for (uint64_t i = 0; i < n && k < max; i++) {
		char c = s[i];
		if (c == '"') {
			if (depth == 1 && expect_key)
				pos[k++] = i;
			expect_key = 0;
			for (i++; i < n && s[i] != '"'; i++)
				if (s[i] == '\\')
					i++;
		} else if (c == '{' || c == '[') {
			depth++;
			expect_key = depth == 1 && c == '{';
		} else if (c == '}' || c == ']') {
			depth--;
		} else if (c == ',' && depth == 1) {
			expect_key = 1;
		}
	}
}

/* A non-negative JSON integer. */
static int get_u64(const json_t *v, uint64_t *out)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return 0;
	*out = (uint64_t)json_integer_value(v);
	return 1;
}

static const char *json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a real number";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	case JSON_NULL: return "null";
	}
	return "?";
}

/* Validates one tensor entry into e->t (name, shape and data left to the
 * caller). `at` is the file offset of its key. */
static qnt_status parse_entry(qnt_ctx *ctx, const struct qnt__st_file *f, const char *name, const json_t *v,
			      uint64_t at, uint64_t data_size, uint64_t *dims, struct entry *e)
{
	char sb[96];
	if (!json_is_object(v))
		return ferr(ctx, f, at, "tensor '%s': the entry is %s, not an object", name, json_kind(v));
	const json_t *dt = json_object_get(v, "dtype");
	const json_t *shape = json_object_get(v, "shape");
	const json_t *offs = json_object_get(v, "data_offsets");
	if (!dt)
		return ferr(ctx, f, at, "tensor '%s': missing \"dtype\"", name);
	if (!json_is_string(dt))
		return ferr(ctx, f, at, "tensor '%s': \"dtype\" is %s, not a string", name, json_kind(dt));
	int dtype = qnt__st_dtype_from_name(json_string_value(dt), json_string_length(dt));
	if (dtype < 0)
		return ferr(ctx, f, at, "tensor '%s': unknown dtype \"%.40s\"", name, json_string_value(dt));
	if (!shape)
		return ferr(ctx, f, at, "tensor '%s': missing \"shape\"", name);
	if (!json_is_array(shape))
		return ferr(ctx, f, at, "tensor '%s': \"shape\" is %s, not an array", name, json_kind(shape));
	size_t nd = json_array_size(shape);
	if (nd > QNT__ST_MAX_DIMS)
		return ferr(ctx, f, at, "tensor '%s': %zu dimensions, more than %d", name, nd, QNT__ST_MAX_DIMS);
	for (size_t i = 0; i < nd; i++)
		if (!get_u64(json_array_get(shape, i), &dims[i]))
			return ferr(ctx, f, at, "tensor '%s': shape[%zu] is %s, not a non-negative integer", name, i,
				    json_is_integer(json_array_get(shape, i)) ? "negative"
									       : json_kind(json_array_get(shape, i)));
	if (!offs)
		return ferr(ctx, f, at, "tensor '%s': missing \"data_offsets\"", name);
	uint64_t b, en;
	if (!json_is_array(offs) || json_array_size(offs) != 2 || !get_u64(json_array_get(offs, 0), &b) ||
	    !get_u64(json_array_get(offs, 1), &en))
		return ferr(ctx, f, at, "tensor '%s': \"data_offsets\" is not [begin, end] (two non-negative integers)",
			    name);
	if (b > en)
		return ferr(ctx, f, at, "tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "]: begin > end", name, b, en);
	if (en > data_size)
		return ferr(ctx, f, at,
			    "tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64
			    "]: end beyond the data section of %" PRIu64 " bytes",
			    name, b, en, data_size);
	uint64_t nel, nbytes;
	if (!count_elements((uint32_t)nd, dims, &nel))
		return ferr(ctx, f, at, "tensor '%s': the element count of shape %s overflows 64 bits", name,
			    fmt_shape(sb, sizeof sb, (uint32_t)nd, dims));
	if (!qnt__st_tensor_bytes(dtype, (uint32_t)nd, dims, &nbytes))
		return ferr(ctx, f, at, "tensor '%s': shape %s of dtype %s is %s", name,
			    fmt_shape(sb, sizeof sb, (uint32_t)nd, dims), dtypes[dtype].name,
			    nel > UINT64_MAX / 8 ? "too large (the bit count overflows)" : "not a whole number of bytes");
	if (en - b != nbytes)
		return ferr(ctx, f, at,
			    "tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] hold %" PRIu64 " bytes, but shape %s of "
			    "dtype %s needs %" PRIu64,
			    name, b, en, en - b, fmt_shape(sb, sizeof sb, (uint32_t)nd, dims), dtypes[dtype].name,
			    nbytes);
	e->t.dtype = dtype;
	e->t.n_dims = (uint32_t)nd;
	e->t.nelements = nel;
	e->t.begin = b;
	e->t.end = en;
	e->t.nbytes = nbytes;
	e->t.header_offset = at;
	return QNT_OK;
}

static int cmp_entry(const void *pa, const void *pb)
{
	const struct entry *a = pa, *b = pb;
	if (a->t.begin != b->t.begin)
		return a->t.begin < b->t.begin ? -1 : 1;
	if (a->t.end != b->t.end)
		return a->t.end < b->t.end ? -1 : 1;
	return (a->order > b->order) - (a->order < b->order);
}

static qnt_status parse_metadata(qnt_ctx *ctx, struct qnt__st_file *f, const json_t *m, uint64_t at)
{
	if (json_is_null(m))
		return QNT_OK;
	if (!json_is_object(m))
		return ferr(ctx, f, at, "\"__metadata__\" is %s, not an object", json_kind(m));
	size_t n = json_object_size(m);
	if (!(f->meta = calloc(2 * n + 1, sizeof *f->meta)))
		return nomem(ctx, f);
	const char *k;
	const json_t *v;
	json_object_foreach((json_t *)m, k, v) {
		if (!json_is_string(v))
			return ferr(ctx, f, at, "\"__metadata__\": the value of \"%.64s\" is %s, not a string", k,
				    json_kind(v));
		size_t kl = strlen(k), vl = json_string_length(v);
		char *kc = malloc(kl + 1), *vc = malloc(vl + 1);
		if (!kc || !vc) {
			free(kc);
			free(vc);
			return nomem(ctx, f);
		}
		memcpy(kc, k, kl + 1);
		memcpy(vc, json_string_value(v), vl + 1);
		f->meta[2 * f->n_meta] = kc;
		f->meta[2 * f->n_meta + 1] = vc;
		f->n_meta++;
	}
	return QNT_OK;
}

static qnt_status parse_root(qnt_ctx *ctx, struct qnt__st_file *f, json_t *root)
{
	const char *hdr = (const char *)f->base + 8;
	const uint64_t n = f->header_len, data_off = 8 + n, data_size = f->size - data_off;
	if (!json_is_object(root))
		return ferr(ctx, f, 8, "the header is %s, not an object", json_kind(root));
	size_t nkeys = json_object_size(root);
	uint64_t *keypos = malloc((nkeys + 1) * sizeof *keypos);
	if (!keypos)
		return nomem(ctx, f);
	for (size_t i = 0; i < nkeys; i++)
		keypos[i] = 0;
	scan_keys(hdr, n, keypos, nkeys);

	const json_t *meta = json_object_get(root, "__metadata__");
	int64_t nt = (int64_t)nkeys - (meta != NULL);
	size_t total_dims = 0;
	const char *k;
	const json_t *v;
	json_object_foreach(root, k, v) {
		const json_t *shape = json_is_object(v) ? json_object_get(v, "shape") : NULL;
		if (json_is_array(shape) && json_array_size(shape) <= QNT__ST_MAX_DIMS)
			total_dims += json_array_size(shape);
	}
	struct entry *ents = calloc(nt ? (size_t)nt : 1, sizeof *ents);
	f->dims = malloc((total_dims ? total_dims : 1) * sizeof *f->dims);
	f->tensors = calloc(nt ? (size_t)nt : 1, sizeof *f->tensors);
	uint64_t cap = 16;
	while (cap < 2 * (uint64_t)nt)
		cap *= 2;
	f->slots = calloc(cap, sizeof *f->slots);
	f->mask = cap - 1;
	qnt_status st = QNT_OK;
	size_t ki = 0, used_dims = 0;
	int64_t ti = 0; /* entries parsed (their names are owned by ents) */
	if (!ents || !f->dims || !f->tensors || !f->slots) {
		st = nomem(ctx, f);
		goto out;
	}

	json_object_foreach(root, k, v) {
		uint64_t at = 8 + keypos[ki++];
		if (strcmp(k, "__metadata__") == 0) {
			if ((st = parse_metadata(ctx, f, v, at)) != QNT_OK)
				goto out;
			continue;
		}
		struct entry *e = &ents[ti];
		e->order = ti;
		if ((st = parse_entry(ctx, f, k, v, at, data_size, f->dims + used_dims, e)) != QNT_OK)
			goto out;
		e->t.shape = f->dims + used_dims;
		used_dims += e->t.n_dims;
		size_t kl = strlen(k);
		char *name = malloc(kl + 1);
		if (!name) {
			st = nomem(ctx, f);
			goto out;
		}
		memcpy(name, k, kl + 1);
		e->t.name = name;
		ti++;
	}

	/* The data layout, in the reference's order: sorted by data_offsets,
	 * the tensors must tile [0, data_size). */
	qsort(ents, (size_t)nt, sizeof *ents, cmp_entry);
	uint64_t pos = 0;
	for (int64_t i = 0; i < nt; i++) {
		const struct qnt__st_tensor *t = &ents[i].t;
		if (t->begin > pos) {
			st = ferr(ctx, f, data_off + pos,
				  "tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "]: bytes [%" PRIu64 ", %" PRIu64
				  ") of the data section before it belong to no tensor",
				  t->name, t->begin, t->end, pos, t->begin);
			goto out;
		}
		if (t->begin < pos) {
			const struct qnt__st_tensor *p = &ents[i - 1].t;
			st = ferr(ctx, f, data_off + t->begin,
				  "tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] overlap tensor '%s' [%" PRIu64
				  ", %" PRIu64 "]",
				  t->name, t->begin, t->end, p->name, p->begin, p->end);
			goto out;
		}
		pos = t->end;
	}
	if (pos != data_size) {
		st = ferr(ctx, f, data_off + pos,
			  "bytes [%" PRIu64 ", %" PRIu64 ") at the end of the data section belong to no tensor", pos,
			  data_size);
		goto out;
	}

	for (int64_t i = 0; i < nt; i++) {
		struct qnt__st_tensor *t = &f->tensors[i];
		*t = ents[i].t;
		ents[i].t.name = NULL; /* owned by f->tensors now */
		t->file_offset = data_off + t->begin;
		t->data = f->base + t->file_offset;
		uint64_t h = hash_name(t->name) & f->mask;
		while (f->slots[h])
			h = (h + 1) & f->mask;
		f->slots[h] = i + 1;
	}
	f->n_tensors = nt;
	ti = 0;
out:
	if (ents)
		for (int64_t i = 0; i < ti; i++)
			free((char *)ents[i].t.name);
	free(ents);
	free(keypos);
	return st;
}

static qnt_status parse(qnt_ctx *ctx, struct qnt__st_file *f)
{
	if (f->size < 8)
		return ferr(ctx, f, 0, "the file is %" PRIu64 " bytes, shorter than the 8-byte header length", f->size);
	uint64_t n = le64(f->base);
	if (n > QNT__ST_MAX_HEADER)
		return ferr(ctx, f, 0, "header length %" PRIu64 " exceeds the format's limit of %u bytes", n,
			    QNT__ST_MAX_HEADER);
	if (n > f->size - 8)
		return ferr(ctx, f, 0, "header length %" PRIu64 " exceeds the %" PRIu64 " bytes that follow it", n,
			    f->size - 8);
	f->header_len = n;
	json_error_t je;
	json_t *root = json_loadb((const char *)f->base + 8, (size_t)n, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		uint64_t pos = je.position >= 0 && (uint64_t)je.position <= n ? (uint64_t)je.position : 0;
		if (strstr(je.text, "duplicate object key")) /* JSON_REJECT_DUPLICATES */
			return ferr(ctx, f, 8 + pos, "the header has a key twice (%s)", je.text);
		return ferr(ctx, f, 8 + pos, "the header is not valid JSON: %s", je.text);
	}
	qnt_status st = parse_root(ctx, f, root);
	json_decref(root);
	return st;
}

void qnt__st_close(struct qnt__st_file *f)
{
	if (!f)
		return;
	if (f->tensors)
		for (int64_t i = 0; i < f->n_tensors; i++)
			free((char *)f->tensors[i].name);
	if (f->meta)
		for (int64_t i = 0; i < 2 * f->n_meta; i++)
			free(f->meta[i]);
	free(f->meta);
	free(f->tensors);
	free(f->dims);
	free(f->slots);
#if !defined(_WIN32)
	if (f->map)
		munmap(f->map, (size_t)f->size);
#endif
	free(f->buf);
	free(f->path);
	free(f);
}

static struct qnt__st_file *new_handle(qnt_ctx *ctx, const char *path)
{
	struct qnt__st_file *f = calloc(1, sizeof *f);
	size_t n = strlen(path);
	if (f)
		f->path = malloc(n + 1);
	if (!f || !f->path) {
		free(f);
		qnt__error(ctx, QNT_E_NO_MEMORY, "%s: out of memory", path);
		return NULL;
	}
	memcpy(f->path, path, n + 1);
	return f;
}

static qnt_status finish_open(qnt_ctx *ctx, struct qnt__st_file *f, struct qnt__st_file **out)
{
	qnt_status st = parse(ctx, f);
	if (st != QNT_OK) {
		qnt__st_close(f);
		return st;
	}
	*out = f;
	return QNT_OK;
}

qnt_status qnt__st_open_memory(qnt_ctx *ctx, const char *name, const void *data, size_t size,
			       struct qnt__st_file **out)
{
	if (!name || !out || (!data && size))
		return qnt__error(ctx, QNT_E_INVALID_ARG, "safetensors open_memory: NULL argument");
	*out = NULL;
	struct qnt__st_file *f = new_handle(ctx, name);
	if (!f)
		return QNT_E_NO_MEMORY;
	f->base = data ? data : (const uint8_t *)"";
	f->size = size;
	return finish_open(ctx, f, out);
}

qnt_status qnt__st_open(qnt_ctx *ctx, const char *path, struct qnt__st_file **out)
{
	if (!path || !out)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "safetensors open: NULL argument");
	*out = NULL;
	struct qnt__st_file *f = new_handle(ctx, path);
	if (!f)
		return QNT_E_NO_MEMORY;
	qnt_status st;
	FILE *fp = NULL;
#if !defined(_WIN32)
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		st = qnt__error(ctx, e == ENOENT ? QNT_E_NOT_FOUND : QNT_E_IO, "%s: cannot open: %s", path, strerror(e));
		qnt__st_close(f);
		return st;
	}
	struct stat sb;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		st = qnt__error(ctx, QNT_E_IO, "%s: not a regular file", path);
		close(fd);
		qnt__st_close(f);
		return st;
	}
	f->size = (uint64_t)sb.st_size;
	if (f->size > 0 && f->size <= SIZE_MAX) {
		void *m = mmap(NULL, (size_t)f->size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (m != MAP_FAILED) {
			f->map = m;
			f->base = m;
		}
	}
	if (f->base || f->size == 0) {
		close(fd);
		if (!f->base)
			f->base = (const uint8_t *)"";
		return finish_open(ctx, f, out);
	}
	if (!(fp = fdopen(fd, "rb"))) {
		st = qnt__error(ctx, QNT_E_IO, "%s: cannot read: %s", path, strerror(errno));
		close(fd);
		qnt__st_close(f);
		return st;
	}
#else
	if (!(fp = fopen(path, "rb"))) {
		int e = errno;
		st = qnt__error(ctx, e == ENOENT ? QNT_E_NOT_FOUND : QNT_E_IO, "%s: cannot open: %s", path, strerror(e));
		qnt__st_close(f);
		return st;
	}
	long long sz = -1;
	if (_fseeki64(fp, 0, SEEK_END) == 0)
		sz = _ftelli64(fp);
	if (sz < 0 || _fseeki64(fp, 0, SEEK_SET) != 0) {
		fclose(fp);
		st = qnt__error(ctx, QNT_E_IO, "%s: cannot find the file size", path);
		qnt__st_close(f);
		return st;
	}
	f->size = (uint64_t)sz;
#endif
	/* No mapping: read it all. */
	if (f->size > SIZE_MAX - 1 || !(f->buf = malloc(f->size ? (size_t)f->size : 1))) {
		fclose(fp);
		st = qnt__error(ctx, QNT_E_NO_MEMORY, "%s: out of memory for %" PRIu64 " bytes", path, f->size);
		qnt__st_close(f);
		return st;
	}
	size_t got = f->size ? fread(f->buf, 1, (size_t)f->size, fp) : 0;
	fclose(fp);
	if (got != f->size) {
		st = qnt__error(ctx, QNT_E_IO, "%s: read %zu of %" PRIu64 " bytes", path, got, f->size);
		qnt__st_close(f);
		return st;
	}
	f->base = f->buf;
	return finish_open(ctx, f, out);
}

int qnt__st_is_mapped(const struct qnt__st_file *f)
{
	return f->map != NULL;
}

const char *qnt__st_path(const struct qnt__st_file *f)
{
	return f->path;
}

uint64_t qnt__st_file_size(const struct qnt__st_file *f)
{
	return f->size;
}

uint64_t qnt__st_header_size(const struct qnt__st_file *f)
{
	return f->header_len;
}

uint64_t qnt__st_data_offset(const struct qnt__st_file *f)
{
	return 8 + f->header_len;
}

int64_t qnt__st_n_tensors(const struct qnt__st_file *f)
{
	return f->n_tensors;
}

const struct qnt__st_tensor *qnt__st_tensor_at(const struct qnt__st_file *f, int64_t i)
{
	return i >= 0 && i < f->n_tensors ? &f->tensors[i] : NULL;
}

const struct qnt__st_tensor *qnt__st_find(const struct qnt__st_file *f, const char *name)
{
	if (!name || !f->slots)
		return NULL;
	for (uint64_t h = hash_name(name) & f->mask; f->slots[h]; h = (h + 1) & f->mask) {
		const struct qnt__st_tensor *t = &f->tensors[f->slots[h] - 1];
		if (strcmp(t->name, name) == 0)
			return t;
	}
	return NULL;
}

int64_t qnt__st_n_metadata(const struct qnt__st_file *f)
{
	return f->n_meta;
}

void qnt__st_metadata_at(const struct qnt__st_file *f, int64_t i, const char **key, const char **value)
{
	int ok = i >= 0 && i < f->n_meta;
	if (key)
		*key = ok ? f->meta[2 * i] : NULL;
	if (value)
		*value = ok ? f->meta[2 * i + 1] : NULL;
}

const char *qnt__st_metadata_get(const struct qnt__st_file *f, const char *key)
{
	for (int64_t i = 0; key && i < f->n_meta; i++)
		if (strcmp(f->meta[2 * i], key) == 0)
			return f->meta[2 * i + 1];
	return NULL;
}

/* ------------------------------------------------------------------ */
/* Checksums                                                            */
/* ------------------------------------------------------------------ */

/* The "qnt.xxh3_64" entry if it is well-formed: 16 lowercase hex digits
 * per tensor, separated by single spaces. */
static const char *checksums(const struct qnt__st_file *f)
{
	const char *s = qnt__st_metadata_get(f, QNT__CHECKSUM_KEY);
	if (!s || strlen(s) != (f->n_tensors ? (size_t)f->n_tensors * 17 - 1 : 0))
		return NULL;
	for (int64_t i = 0; i < f->n_tensors; i++) {
		const char *e = s + 17 * i;
		for (int k = 0; k < 16; k++)
			if (!((e[k] >= '0' && e[k] <= '9') || (e[k] >= 'a' && e[k] <= 'f')))
				return NULL;
		if (i + 1 < f->n_tensors && e[16] != ' ')
			return NULL;
	}
	return s;
}

int qnt__st_stored_checksum(const struct qnt__st_file *f, int64_t i, uint64_t *out)
{
	const char *s = checksums(f);
	return s && i >= 0 && i < f->n_tensors && qnt__xxh3_parse_hex(s + 17 * i, out);
}

qnt_status qnt__st_verify_checksums(qnt_ctx *ctx, const struct qnt__st_file *f)
{
	if (!checksums(f))
		return qnt__error(ctx, QNT_E_NOT_FOUND, "%s: safetensors: no well-formed '%s' checksums", f->path,
				  QNT__CHECKSUM_KEY);
	for (int64_t i = 0; i < f->n_tensors; i++) {
		const struct qnt__st_tensor *t = &f->tensors[i];
		uint64_t want = 0;
		qnt__st_stored_checksum(f, i, &want);
		const uint64_t got = qnt__xxh3_64(t->data, (size_t)t->nbytes);
		if (got != want)
			return qnt__error(ctx, QNT_E_FORMAT,
					  "%s: safetensors: tensor '%s': XXH3-64 of its %" PRIu64 " bytes is %016" PRIx64
					  ", the metadata's '%s' says %016" PRIx64 " (at byte offset %" PRIu64 ")",
					  f->path, t->name, t->nbytes, got, QNT__CHECKSUM_KEY, want, t->file_offset);
	}
	return QNT_OK;
}
