/* SPDX-License-Identifier: MIT */
/*
 * A strict GGUF reader; see gguf_read.h. The layout (GGUF spec, docs/gguf.md
 * of ggml, and ggml's gguf.cpp for the checks its loader makes):
 *
 *   magic "GGUF" | u32 version | u64 n_tensors | u64 n_kv
 *   n_kv x { string key | u32 type | value }
 *   n_tensors x { string name | u32 n_dims | u64 ne[n_dims] | u32 ggml type | u64 offset }
 *   padding to general.alignment (default 32) | tensor data
 *
 * string = u64 length + bytes; array value = u32 element type + u64 count +
 * elements. Everything is little-endian. Version 1 (32-bit counts) is not
 * read; version 2 and 3 have the same layout (3 only allows big-endian
 * files, which are recognised and refused).
 */
#include "gguf_read.h"

#include "checksum.h"

#include <errno.h>
#include <stddef.h>
#include <limits.h>
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
/* ggml types: elements and bytes per block                             */
/* ------------------------------------------------------------------ */

struct ggml_type_size {
	const char *name;
	int64_t block;
	uint64_t bytes;
};

/* Indexed by ggml type id (ggml.h); ids that ggml removed have no entry. */
static const struct ggml_type_size ggml_types[] = {
	[0] = { "f32", 1, 4 },        [1] = { "f16", 1, 2 },        [2] = { "q4_0", 32, 18 },
	[3] = { "q4_1", 32, 20 },     [6] = { "q5_0", 32, 22 },     [7] = { "q5_1", 32, 24 },
	[8] = { "q8_0", 32, 34 },     [9] = { "q8_1", 32, 36 },     [10] = { "q2_K", 256, 84 },
	[11] = { "q3_K", 256, 110 },  [12] = { "q4_K", 256, 144 },  [13] = { "q5_K", 256, 176 },
	[14] = { "q6_K", 256, 210 },  [15] = { "q8_K", 256, 292 },  [16] = { "iq2_xxs", 256, 66 },
	[17] = { "iq2_xs", 256, 74 }, [18] = { "iq3_xxs", 256, 98 }, [19] = { "iq1_s", 256, 50 },
	[20] = { "iq4_nl", 32, 18 },  [21] = { "iq3_s", 256, 110 }, [22] = { "iq2_s", 256, 82 },
	[23] = { "iq4_xs", 256, 136 }, [24] = { "i8", 1, 1 },       [25] = { "i16", 1, 2 },
	[26] = { "i32", 1, 4 },       [27] = { "i64", 1, 8 },       [28] = { "f64", 1, 8 },
	[29] = { "iq1_m", 256, 56 },  [30] = { "bf16", 1, 2 },      [34] = { "tq1_0", 256, 54 },
	[35] = { "tq2_0", 256, 66 },  [39] = { "mxfp4", 32, 17 },   [40] = { "nvfp4", 64, 36 },
	[41] = { "q1_0", 128, 18 },   [42] = { "q2_0", 64, 18 },
};
#define N_GGML_TYPES (sizeof ggml_types / sizeof ggml_types[0])

const char *qnt__ggml_type_name(uint32_t type)
{
	return type < N_GGML_TYPES ? ggml_types[type].name : NULL;
}

int64_t qnt__ggml_block_size(uint32_t type)
{
	return type < N_GGML_TYPES ? ggml_types[type].block : 0;
}

uint64_t qnt__ggml_block_bytes(uint32_t type)
{
	return type < N_GGML_TYPES ? ggml_types[type].bytes : 0;
}

static const char *const value_type_names[QNT__GGUF_N_TYPES] = {
	"UINT8", "INT8", "UINT16", "INT16", "UINT32", "INT32", "FLOAT32",
	"BOOL", "STRING", "ARRAY", "UINT64", "INT64", "FLOAT64",
};

/* Bytes of a fixed-size value type; 0 for STRING and ARRAY. */
static const uint8_t value_type_size[QNT__GGUF_N_TYPES] = { 1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8 };

const char *qnt__gguf_type_name(uint32_t type)
{
	return type < QNT__GGUF_N_TYPES ? value_type_names[type] : "?";
}

/* ------------------------------------------------------------------ */
/* The handle                                                           */
/* ------------------------------------------------------------------ */

struct qnt__gguf {
	char *path;
	const uint8_t *base;
	uint64_t size;
	void *map; /* munmap(map, size) */
	void *buf; /* free(buf) */
	uint32_t version, alignment;
	uint64_t data_offset;
	int64_t n_kv, n_tensors;
	struct qnt__gguf_kv *kv;
	struct qnt__gguf_tensor *tensors;
	int64_t *kv_by_key;     /* indices sorted by key */
	int64_t *tensor_by_name; /* indices sorted by name */
};

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t rd64(const uint8_t *p)
{
	return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

/* ------------------------------------------------------------------ */
/* The parser's cursor and its errors                                   */
/* ------------------------------------------------------------------ */

struct rd {
	qnt_ctx *ctx;
	const char *path;
	const uint8_t *p;
	uint64_t size;
	uint64_t pos;
};

/* Where a value sits, for messages: "key 'k'", then " element i" per level. */
struct vpath {
	const struct vpath *parent;
	const char *key;
	uint64_t idx;
};

static void render_path(const struct vpath *vp, char *buf, size_t size)
{
	if (!vp) {
		buf[0] = '\0';
		return;
	}
	if (!vp->parent) {
		snprintf(buf, size, "key '%s'", vp->key);
		return;
	}
	render_path(vp->parent, buf, size);
	size_t n = strlen(buf);
	if (n < size)
		snprintf(buf + n, size - n, " element %llu", (unsigned long long)vp->idx);
}

static qnt_status fail(struct rd *r, qnt_status st, uint64_t off, const char *fmt, ...) QNT_PRINTF(4, 5);

static qnt_status fail(struct rd *r, qnt_status st, uint64_t off, const char *fmt, ...)
{
	char msg[QNT_ERRMSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return qnt__error(r->ctx, st, "%s: GGUF: %s (at byte offset %llu)", r->path, msg, (unsigned long long)off);
}

/* n more bytes at the cursor, or an error naming `what`. */
static qnt_status need(struct rd *r, uint64_t n, const char *what)
{
	if (n > r->size - r->pos)
		return fail(r, QNT_E_FORMAT, r->pos, "%s needs %llu bytes, the file has %llu left (file size %llu)", what,
			    (unsigned long long)n, (unsigned long long)(r->size - r->pos), (unsigned long long)r->size);
	return QNT_OK;
}

static qnt_status get32(struct rd *r, const char *what, uint32_t *v)
{
	qnt_status st = need(r, 4, what);
	if (st == QNT_OK) {
		*v = rd32(r->p + r->pos);
		r->pos += 4;
	}
	return st;
}

static qnt_status get64(struct rd *r, const char *what, uint64_t *v)
{
	qnt_status st = need(r, 8, what);
	if (st == QNT_OK) {
		*v = rd64(r->p + r->pos);
		r->pos += 8;
	}
	return st;
}

/* A name (key or tensor name): 1..max bytes, no NUL, copied. */
static qnt_status get_name(struct rd *r, const char *what, uint64_t max, char **out)
{
	const uint64_t at = r->pos;
	uint64_t len;
	qnt_status st = get64(r, what, &len);
	if (st != QNT_OK)
		return st;
	if (len == 0)
		return fail(r, QNT_E_FORMAT, at, "%s is empty", what);
	if (len > max)
		return fail(r, QNT_E_FORMAT, at, "%s is %llu bytes long, more than the %llu allowed", what,
			    (unsigned long long)len, (unsigned long long)max);
	if ((st = need(r, len, what)) != QNT_OK)
		return st;
	const char *s = (const char *)r->p + r->pos;
	if (memchr(s, '\0', (size_t)len))
		return fail(r, QNT_E_FORMAT, at, "%s holds a NUL byte", what);
	char *c = malloc((size_t)len + 1);
	if (!c)
		return qnt__error(r->ctx, QNT_E_NO_MEMORY, "%s: GGUF: out of memory", r->path);
	memcpy(c, s, (size_t)len);
	c[len] = '\0';
	r->pos += len;
	*out = c;
	return QNT_OK;
}

/* ------------------------------------------------------------------ */
/* Values                                                               */
/* ------------------------------------------------------------------ */

static qnt_status parse_value(struct rd *r, uint32_t type, int depth, const struct vpath *vp,
			      struct qnt__gguf_value *v)
{
	char where[256];
	qnt_status st;
	memset(v, 0, sizeof *v);
	v->type = type;
	v->data = r->p + r->pos;
	v->offset = r->pos;

	if (type >= QNT__GGUF_N_TYPES) {
		render_path(vp, where, sizeof where);
		return fail(r, QNT_E_FORMAT, r->pos, "%s: unknown value type %u", where, (unsigned)type);
	}
	if (value_type_size[type]) {
		render_path(vp, where, sizeof where);
		if ((st = need(r, value_type_size[type], where)) != QNT_OK)
			return st;
		if (type == QNT__GGUF_BOOL && r->p[r->pos] > 1)
			return fail(r, QNT_E_FORMAT, r->pos, "%s: BOOL value %u is neither 0 nor 1", where,
				    (unsigned)r->p[r->pos]);
		r->pos += value_type_size[type];
	} else if (type == QNT__GGUF_STRING) {
		uint64_t len;
		if (r->size - r->pos < 8) {
			render_path(vp, where, sizeof where);
			return fail(r, QNT_E_FORMAT, r->pos, "%s: the string's length field needs 8 bytes, %llu left",
				    where, (unsigned long long)(r->size - r->pos));
		}
		len = rd64(r->p + r->pos);
		if (len > r->size - r->pos - 8) {
			render_path(vp, where, sizeof where);
			return fail(r, QNT_E_FORMAT, r->pos,
				    "%s: string length %llu runs past the end of the file (%llu bytes left)", where,
				    (unsigned long long)len, (unsigned long long)(r->size - r->pos - 8));
		}
		r->pos += 8 + len;
	} else { /* ARRAY */
		const uint64_t at = r->pos;
		uint32_t et;
		uint64_t n;
		render_path(vp, where, sizeof where);
		if (depth >= QNT__GGUF_MAX_DEPTH)
			return fail(r, QNT_E_FORMAT, at, "%s: arrays nested deeper than %d", where, QNT__GGUF_MAX_DEPTH);
		if ((st = need(r, 12, where)) != QNT_OK)
			return st;
		et = rd32(r->p + r->pos);
		n = rd64(r->p + r->pos + 4);
		if (et >= QNT__GGUF_N_TYPES)
			return fail(r, QNT_E_FORMAT, at, "%s: unknown array element type %u", where, (unsigned)et);
		r->pos += 12;
		v->elem_type = et;
		v->n = n;
		v->data = r->p + r->pos;
		v->offset = r->pos;
		const uint64_t left = r->size - r->pos;
		const uint64_t es = value_type_size[et];
		/* every element takes at least min bytes */
		const uint64_t min = es ? es : et == QNT__GGUF_STRING ? 8 : 12;
		if (n > left / min)
			return fail(r, QNT_E_FORMAT, at,
				    "%s: %llu %s elements need at least %llu bytes each, the file has %llu left", where,
				    (unsigned long long)n, qnt__gguf_type_name(et), (unsigned long long)min,
				    (unsigned long long)left);
		if (es) {
			if (et == QNT__GGUF_BOOL)
				for (uint64_t i = 0; i < n; i++)
					if (r->p[r->pos + i] > 1)
						return fail(r, QNT_E_FORMAT, r->pos + i,
							    "%s element %llu: BOOL value %u is neither 0 nor 1", where,
							    (unsigned long long)i, (unsigned)r->p[r->pos + i]);
			r->pos += n * es;
		} else {
			struct vpath sub = { vp, vp ? vp->key : "", 0 };
			struct qnt__gguf_value e;
			for (uint64_t i = 0; i < n; i++) {
				sub.idx = i;
				if ((st = parse_value(r, et, depth + 1, &sub, &e)) != QNT_OK)
					return st;
			}
		}
	}
	v->size = r->pos - v->offset;
	return QNT_OK;
}

/* ------------------------------------------------------------------ */
/* Opening                                                              */
/* ------------------------------------------------------------------ */

/* Sorting by name and by offset without global state: the sort keys are
 * copied next to the indices. */
struct by_name {
	const char *s;
	int64_t i;
};

static int cmp_by_name(const void *a, const void *b)
{
	return strcmp(((const struct by_name *)a)->s, ((const struct by_name *)b)->s);
}

struct by_offset {
	uint64_t off, nbytes;
	int64_t i;
};

static int cmp_by_offset(const void *a, const void *b)
{
	const struct by_offset *x = a, *y = b;
	if (x->off != y->off)
		return x->off < y->off ? -1 : 1;
	return (x->nbytes > y->nbytes) - (x->nbytes < y->nbytes);
}

/* idx[] = 0..n-1 sorted by names[i] (names[i] at stride bytes). */
static qnt_status sort_by_name(struct rd *r, const void *base, size_t stride, size_t name_off, int64_t n, int64_t *idx)
{
	if (n == 0)
		return QNT_OK;
	struct by_name *v = malloc((size_t)n * sizeof *v);
	if (!v)
		return qnt__error(r->ctx, QNT_E_NO_MEMORY, "%s: GGUF: out of memory", r->path);
	for (int64_t i = 0; i < n; i++) {
		memcpy(&v[i].s, (const char *)base + (size_t)i * stride + name_off, sizeof v[i].s);
		v[i].i = i;
	}
	qsort(v, (size_t)n, sizeof *v, cmp_by_name);
	for (int64_t i = 0; i < n; i++)
		idx[i] = v[i].i;
	free(v);
	return QNT_OK;
}

static qnt_status parse_header(struct rd *r, struct qnt__gguf *g, uint64_t *n_tensors, uint64_t *n_kv)
{
	if (r->size < 4)
		return fail(r, QNT_E_FORMAT, 0, "the file is %llu bytes long, too short for the magic 'GGUF'",
			    (unsigned long long)r->size);
	if (memcmp(r->p, "GGUF", 4) != 0)
		return fail(r, QNT_E_FORMAT, 0, "bad magic %02x %02x %02x %02x, expected 'GGUF' (47 47 55 46)", r->p[0],
			    r->p[1], r->p[2], r->p[3]);
	r->pos = 4;
	qnt_status st;
	uint32_t version;
	if ((st = get32(r, "the version", &version)) != QNT_OK)
		return st;
	if (version != 2 && version != 3) {
		if (version == 1)
			return fail(r, QNT_E_FORMAT, 4, "version 1 is not supported (only 2 and 3)");
		if (version == 0x02000000u || version == 0x03000000u)
			return fail(r, QNT_E_FORMAT, 4, "a big-endian file (version %u byte-swapped), not supported",
				    version >> 24);
		return fail(r, QNT_E_FORMAT, 4, "unknown version %u (only 2 and 3)", (unsigned)version);
	}
	g->version = version;
	if ((st = get64(r, "the tensor count", n_tensors)) != QNT_OK || (st = get64(r, "the key count", n_kv)) != QNT_OK)
		return st;
	/* a key-value pair takes at least 8 + 1 + 4 + 1 bytes, a tensor info
	 * 8 + 1 + 4 + 4 + 8 */
	const uint64_t left = r->size - r->pos;
	if (*n_kv > left / 14)
		return fail(r, QNT_E_FORMAT, 16, "%llu key-value pairs cannot fit in the %llu bytes left",
			    (unsigned long long)*n_kv, (unsigned long long)left);
	if (*n_tensors > left / 25)
		return fail(r, QNT_E_FORMAT, 8, "%llu tensor infos cannot fit in the %llu bytes left",
			    (unsigned long long)*n_tensors, (unsigned long long)left);
	return QNT_OK;
}

static qnt_status parse_kvs(struct rd *r, struct qnt__gguf *g)
{
	qnt_status st;
	for (int64_t i = 0; i < g->n_kv; i++) {
		struct qnt__gguf_kv *kv = &g->kv[i];
		char what[64];
		snprintf(what, sizeof what, "key #%lld", (long long)i);
		kv->offset = r->pos;
		if ((st = get_name(r, what, QNT__GGUF_MAX_KEY, (char **)&kv->key)) != QNT_OK)
			return st;
		snprintf(what, sizeof what, "the type of key #%lld", (long long)i);
		uint32_t type;
		const uint64_t type_at = r->pos;
		if ((st = get32(r, what, &type)) != QNT_OK)
			return st;
		if (type >= QNT__GGUF_N_TYPES)
			return fail(r, QNT_E_FORMAT, type_at, "key '%s': unknown value type %u", kv->key, (unsigned)type);
		struct vpath vp = { NULL, kv->key, 0 };
		if ((st = parse_value(r, type, 0, &vp, &kv->value)) != QNT_OK)
			return st;
	}
	/* unique keys */
	if ((st = sort_by_name(r, g->kv, sizeof g->kv[0], offsetof(struct qnt__gguf_kv, key), g->n_kv, g->kv_by_key)) !=
	    QNT_OK)
		return st;
	for (int64_t i = 1; i < g->n_kv; i++) {
		const struct qnt__gguf_kv *a = &g->kv[g->kv_by_key[i - 1]], *b = &g->kv[g->kv_by_key[i]];
		if (strcmp(a->key, b->key) == 0) {
			const struct qnt__gguf_kv *later = a->offset > b->offset ? a : b;
			const struct qnt__gguf_kv *first = a->offset > b->offset ? b : a;
			return fail(r, QNT_E_FORMAT, later->offset, "key '%s' appears twice (first at byte offset %llu)",
				    later->key, (unsigned long long)first->offset);
		}
	}
	/* general.alignment */
	g->alignment = QNT__GGUF_DEFAULT_ALIGNMENT;
	const struct qnt__gguf_kv *al = qnt__gguf_find_kv(g, "general.alignment");
	if (al) {
		uint32_t a;
		if (!qnt__gguf_get_u32(&al->value, &a))
			return fail(r, QNT_E_FORMAT, al->value.offset, "key 'general.alignment' has type %s, not UINT32",
				    qnt__gguf_type_name(al->value.type));
		if (a == 0 || (a & (a - 1)) != 0)
			return fail(r, QNT_E_FORMAT, al->value.offset, "general.alignment %u is not a power of two",
				    (unsigned)a);
		g->alignment = a;
	}
	return QNT_OK;
}

static qnt_status parse_tensor_infos(struct rd *r, struct qnt__gguf *g)
{
	qnt_status st;
	for (int64_t i = 0; i < g->n_tensors; i++) {
		struct qnt__gguf_tensor *t = &g->tensors[i];
		char what[64];
		t->info_offset = r->pos;
		snprintf(what, sizeof what, "the name of tensor #%lld", (long long)i);
		if ((st = get_name(r, what, QNT__GGUF_MAX_NAME, (char **)&t->name)) != QNT_OK)
			return st;
		const uint64_t dims_at = r->pos;
		if ((st = get32(r, "the dimension count", &t->n_dims)) != QNT_OK)
			return fail(r, QNT_E_FORMAT, dims_at, "tensor '%s': the info is cut short", t->name);
		if (t->n_dims > QNT__GGUF_MAX_DIMS)
			return fail(r, QNT_E_FORMAT, dims_at, "tensor '%s': %u dimensions, at most %d allowed", t->name,
				    (unsigned)t->n_dims, QNT__GGUF_MAX_DIMS);
		uint64_t nel = 1;
		int overflow = 0, empty = 0;
		for (int d = 0; d < QNT__GGUF_MAX_DIMS; d++) {
			uint64_t ne = 1;
			const uint64_t ne_at = r->pos;
			if ((uint32_t)d < t->n_dims) {
				if (need(r, 8, "a dimension") != QNT_OK)
					return fail(r, QNT_E_FORMAT, ne_at, "tensor '%s': the info is cut short in dimension %d",
						    t->name, d);
				ne = rd64(r->p + r->pos);
				r->pos += 8;
				if (ne > (uint64_t)INT64_MAX)
					return fail(r, QNT_E_FORMAT, ne_at, "tensor '%s': dimension %d has %llu elements",
						    t->name, d, (unsigned long long)ne);
			}
			t->ne[d] = (int64_t)ne;
			empty |= ne == 0;
			if (ne != 0 && nel > (uint64_t)INT64_MAX / ne)
				overflow = 1;
			nel *= ne;
		}
		if (empty)
			nel = 0;
		else if (overflow)
			return fail(r, QNT_E_FORMAT, dims_at,
				    "tensor '%s': %lld x %lld x %lld x %lld elements overflow a 64-bit count", t->name,
				    (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2], (long long)t->ne[3]);
		const uint64_t type_at = r->pos;
		if (need(r, 12, "type and offset") != QNT_OK)
			return fail(r, QNT_E_FORMAT, type_at, "tensor '%s': the info is cut short before its type and offset",
				    t->name);
		t->type = rd32(r->p + r->pos);
		t->offset = rd64(r->p + r->pos + 4);
		r->pos += 12;
		const int64_t bs = qnt__ggml_block_size(t->type);
		const uint64_t bb = qnt__ggml_block_bytes(t->type);
		if (bs == 0)
			return fail(r, QNT_E_FORMAT, type_at, "tensor '%s': unknown ggml type %u", t->name, (unsigned)t->type);
		if (t->ne[0] % bs != 0)
			return fail(r, QNT_E_FORMAT, type_at, "tensor '%s': %lld elements per row, not a multiple of %s's block of %lld",
				    t->name, (long long)t->ne[0], qnt__ggml_type_name(t->type), (long long)bs);
		/* bytes = blocks * block bytes, with nel/bs blocks */
		const uint64_t blocks = nel / (uint64_t)bs;
		if (blocks > UINT64_MAX / bb)
			return fail(r, QNT_E_FORMAT, type_at, "tensor '%s': the size in bytes overflows", t->name);
		t->nbytes = blocks * bb;
	}
	/* unique names */
	if ((st = sort_by_name(r, g->tensors, sizeof g->tensors[0], offsetof(struct qnt__gguf_tensor, name),
			       g->n_tensors, g->tensor_by_name)) != QNT_OK)
		return st;
	for (int64_t i = 1; i < g->n_tensors; i++) {
		const struct qnt__gguf_tensor *a = &g->tensors[g->tensor_by_name[i - 1]];
		const struct qnt__gguf_tensor *b = &g->tensors[g->tensor_by_name[i]];
		if (strcmp(a->name, b->name) == 0) {
			const struct qnt__gguf_tensor *later = a->info_offset > b->info_offset ? a : b;
			const struct qnt__gguf_tensor *first = a->info_offset > b->info_offset ? b : a;
			return fail(r, QNT_E_FORMAT, later->info_offset,
				    "tensor '%s' appears twice (first at byte offset %llu)", later->name,
				    (unsigned long long)first->info_offset);
		}
	}
	return QNT_OK;
}

static qnt_status place_tensors(struct rd *r, struct qnt__gguf *g)
{
	const uint64_t a = g->alignment;
	/* r->pos <= size < 2^63, so this does not overflow */
	g->data_offset = (r->pos + a - 1) / a * a;
	if (g->n_tensors == 0)
		return QNT_OK;
	if (g->data_offset > r->size)
		return fail(r, QNT_E_FORMAT, r->pos,
			    "the file ends before the data section, which starts at byte offset %llu (alignment %llu)",
			    (unsigned long long)g->data_offset, (unsigned long long)a);
	const uint64_t data_size = r->size - g->data_offset;
	for (int64_t i = 0; i < g->n_tensors; i++) {
		struct qnt__gguf_tensor *t = &g->tensors[i];
		if (t->offset % a != 0)
			return fail(r, QNT_E_FORMAT, t->info_offset, "tensor '%s': data offset %llu is not a multiple of the alignment %llu",
				    t->name, (unsigned long long)t->offset, (unsigned long long)a);
		if (t->offset > data_size || t->nbytes > data_size - t->offset)
			return fail(r, QNT_E_FORMAT, t->info_offset,
				    "tensor '%s': data at %llu + %llu bytes runs past the end of the file (data section of %llu bytes from byte offset %llu)",
				    t->name, (unsigned long long)t->offset, (unsigned long long)t->nbytes,
				    (unsigned long long)data_size, (unsigned long long)g->data_offset);
		t->file_offset = g->data_offset + t->offset;
		t->data = r->p + t->file_offset;
	}
	/* no two tensors share a byte */
	struct by_offset *v = malloc((size_t)g->n_tensors * sizeof *v);
	if (!v)
		return qnt__error(r->ctx, QNT_E_NO_MEMORY, "%s: GGUF: out of memory", r->path);
	for (int64_t i = 0; i < g->n_tensors; i++) {
		v[i].off = g->tensors[i].offset;
		v[i].nbytes = g->tensors[i].nbytes;
		v[i].i = i;
	}
	qsort(v, (size_t)g->n_tensors, sizeof *v, cmp_by_offset);
	const struct qnt__gguf_tensor *prev = NULL;
	qnt_status st = QNT_OK;
	for (int64_t i = 0; i < g->n_tensors; i++) {
		const struct qnt__gguf_tensor *t = &g->tensors[v[i].i];
		if (t->nbytes == 0)
			continue;
		if (prev && prev->offset + prev->nbytes > t->offset) {
			st = fail(r, QNT_E_FORMAT, t->info_offset,
				  "tensor '%s' (data bytes %llu..%llu) overlaps tensor '%s' (data bytes %llu..%llu)", t->name,
				  (unsigned long long)t->offset, (unsigned long long)(t->offset + t->nbytes - 1), prev->name,
				  (unsigned long long)prev->offset, (unsigned long long)(prev->offset + prev->nbytes - 1));
			break;
		}
		prev = t;
	}
	free(v);
	return st;
}

static qnt_status parse(qnt_ctx *ctx, struct qnt__gguf *g)
{
	struct rd r = { ctx, g->path, g->base, g->size, 0 };
	uint64_t n_tensors = 0, n_kv = 0;
	qnt_status st = parse_header(&r, g, &n_tensors, &n_kv);
	if (st != QNT_OK)
		return st;
	g->n_kv = (int64_t)n_kv;
	g->n_tensors = (int64_t)n_tensors;
	/* the counts are bounded by the file size, so these are too */
	g->kv = calloc(n_kv ? (size_t)n_kv : 1, sizeof *g->kv);
	g->kv_by_key = malloc((n_kv ? (size_t)n_kv : 1) * sizeof *g->kv_by_key);
	g->tensors = calloc(n_tensors ? (size_t)n_tensors : 1, sizeof *g->tensors);
	g->tensor_by_name = malloc((n_tensors ? (size_t)n_tensors : 1) * sizeof *g->tensor_by_name);
	if (!g->kv || !g->kv_by_key || !g->tensors || !g->tensor_by_name)
		return qnt__error(ctx, QNT_E_NO_MEMORY, "%s: GGUF: out of memory for %llu keys and %llu tensors", g->path,
				  (unsigned long long)n_kv, (unsigned long long)n_tensors);
	if ((st = parse_kvs(&r, g)) != QNT_OK || (st = parse_tensor_infos(&r, g)) != QNT_OK)
		return st;
	return place_tensors(&r, g);
}

void qnt__gguf_close(struct qnt__gguf *g)
{
	if (!g)
		return;
	if (g->kv)
		for (int64_t i = 0; i < g->n_kv; i++)
			free((char *)g->kv[i].key);
	if (g->tensors)
		for (int64_t i = 0; i < g->n_tensors; i++)
			free((char *)g->tensors[i].name);
	free(g->kv);
	free(g->kv_by_key);
	free(g->tensors);
	free(g->tensor_by_name);
#if !defined(_WIN32)
	if (g->map)
		munmap(g->map, (size_t)g->size);
#endif
	free(g->buf);
	free(g->path);
	free(g);
}

static struct qnt__gguf *new_handle(qnt_ctx *ctx, const char *path)
{
	struct qnt__gguf *g = calloc(1, sizeof *g);
	size_t n = strlen(path);
	if (g)
		g->path = malloc(n + 1);
	if (!g || !g->path) {
		free(g);
		qnt__error(ctx, QNT_E_NO_MEMORY, "%s: out of memory", path);
		return NULL;
	}
	memcpy(g->path, path, n + 1);
	return g;
}

static qnt_status finish_open(qnt_ctx *ctx, struct qnt__gguf *g, struct qnt__gguf **out)
{
	qnt_status st = parse(ctx, g);
	if (st != QNT_OK) {
		qnt__gguf_close(g);
		return st;
	}
	*out = g;
	return QNT_OK;
}

qnt_status qnt__gguf_open_memory(qnt_ctx *ctx, const char *name, const void *data, size_t size,
				 struct qnt__gguf **out)
{
	if (!name || !out || (!data && size))
		return qnt__error(ctx, QNT_E_INVALID_ARG, "gguf_open_memory: NULL argument");
	*out = NULL;
	struct qnt__gguf *g = new_handle(ctx, name);
	if (!g)
		return QNT_E_NO_MEMORY;
	g->base = data ? data : (const uint8_t *)"";
	g->size = size;
	return finish_open(ctx, g, out);
}

/* Reads the whole file into memory (no mmap, or mmap refused). */
static qnt_status read_all(qnt_ctx *ctx, const char *path, FILE *f, uint64_t size, void **buf)
{
	if (size > SIZE_MAX - 1)
		return qnt__error(ctx, QNT_E_NO_MEMORY, "%s: the file (%llu bytes) does not fit in memory", path,
				  (unsigned long long)size);
	unsigned char *b = malloc(size ? (size_t)size : 1);
	if (!b)
		return qnt__error(ctx, QNT_E_NO_MEMORY, "%s: out of memory for %llu bytes", path, (unsigned long long)size);
	size_t got = size ? fread(b, 1, (size_t)size, f) : 0;
	if (got != size) {
		free(b);
		return qnt__error(ctx, QNT_E_IO, "%s: read %llu of %llu bytes", path, (unsigned long long)got,
				  (unsigned long long)size);
	}
	*buf = b;
	return QNT_OK;
}

qnt_status qnt__gguf_open(qnt_ctx *ctx, const char *path, struct qnt__gguf **out)
{
	if (!path || !out)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "gguf_open: NULL argument");
	*out = NULL;
	struct qnt__gguf *g = new_handle(ctx, path);
	if (!g)
		return QNT_E_NO_MEMORY;
	qnt_status st = QNT_OK;
#if !defined(_WIN32)
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		st = qnt__error(ctx, e == ENOENT ? QNT_E_NOT_FOUND : QNT_E_IO, "%s: cannot open: %s", path, strerror(e));
		qnt__gguf_close(g);
		return st;
	}
	struct stat sb;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		st = qnt__error(ctx, QNT_E_IO, "%s: not a regular file", path);
		close(fd);
		qnt__gguf_close(g);
		return st;
	}
	g->size = (uint64_t)sb.st_size;
	if (g->size > 0 && g->size <= SIZE_MAX) {
		void *m = mmap(NULL, (size_t)g->size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (m != MAP_FAILED) {
			g->map = m;
			g->base = m;
		}
	}
	if (!g->base) {
		FILE *f = fdopen(fd, "rb");
		if (!f) {
			st = qnt__error(ctx, QNT_E_IO, "%s: cannot read: %s", path, strerror(errno));
			close(fd);
			qnt__gguf_close(g);
			return st;
		}
		fd = -1;
		st = read_all(ctx, path, f, g->size, &g->buf);
		fclose(f);
		if (st != QNT_OK) {
			qnt__gguf_close(g);
			return st;
		}
		g->base = g->buf;
	}
	if (fd >= 0)
		close(fd);
#else
	FILE *f = fopen(path, "rb");
	if (!f) {
		int e = errno;
		st = qnt__error(ctx, e == ENOENT ? QNT_E_NOT_FOUND : QNT_E_IO, "%s: cannot open: %s", path, strerror(e));
		qnt__gguf_close(g);
		return st;
	}
	long long sz = -1;
	if (_fseeki64(f, 0, SEEK_END) == 0)
		sz = _ftelli64(f);
	if (sz < 0 || _fseeki64(f, 0, SEEK_SET) != 0) {
		fclose(f);
		st = qnt__error(ctx, QNT_E_IO, "%s: cannot find the file size", path);
		qnt__gguf_close(g);
		return st;
	}
	g->size = (uint64_t)sz;
	st = read_all(ctx, path, f, g->size, &g->buf);
	fclose(f);
	if (st != QNT_OK) {
		qnt__gguf_close(g);
		return st;
	}
	g->base = g->buf;
#endif
	return finish_open(ctx, g, out);
}

/* ------------------------------------------------------------------ */
/* Queries                                                              */
/* ------------------------------------------------------------------ */

int qnt__gguf_is_mapped(const struct qnt__gguf *g)
{
	return g->map != NULL;
}

const char *qnt__gguf_path(const struct qnt__gguf *g)
{
	return g->path;
}

uint32_t qnt__gguf_version(const struct qnt__gguf *g)
{
	return g->version;
}

uint64_t qnt__gguf_file_size(const struct qnt__gguf *g)
{
	return g->size;
}

uint32_t qnt__gguf_alignment(const struct qnt__gguf *g)
{
	return g->alignment;
}

uint64_t qnt__gguf_data_offset(const struct qnt__gguf *g)
{
	return g->data_offset;
}

int64_t qnt__gguf_n_kv(const struct qnt__gguf *g)
{
	return g->n_kv;
}

const struct qnt__gguf_kv *qnt__gguf_kv_at(const struct qnt__gguf *g, int64_t i)
{
	return i >= 0 && i < g->n_kv ? &g->kv[i] : NULL;
}

const struct qnt__gguf_kv *qnt__gguf_find_kv(const struct qnt__gguf *g, const char *key)
{
	int64_t lo = 0, hi = g->n_kv - 1;
	while (lo <= hi) {
		int64_t mid = lo + (hi - lo) / 2;
		const struct qnt__gguf_kv *kv = &g->kv[g->kv_by_key[mid]];
		int c = strcmp(kv->key, key);
		if (c == 0)
			return kv;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

int64_t qnt__gguf_n_tensors(const struct qnt__gguf *g)
{
	return g->n_tensors;
}

const struct qnt__gguf_tensor *qnt__gguf_tensor_at(const struct qnt__gguf *g, int64_t i)
{
	return i >= 0 && i < g->n_tensors ? &g->tensors[i] : NULL;
}

const struct qnt__gguf_tensor *qnt__gguf_find_tensor(const struct qnt__gguf *g, const char *name)
{
	int64_t lo = 0, hi = g->n_tensors - 1;
	while (lo <= hi) {
		int64_t mid = lo + (hi - lo) / 2;
		const struct qnt__gguf_tensor *t = &g->tensors[g->tensor_by_name[mid]];
		int c = strcmp(t->name, name);
		if (c == 0)
			return t;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

int64_t qnt__gguf_tensor_nelements(const struct qnt__gguf_tensor *t)
{
	return t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
}

/* ------------------------------------------------------------------ */
/* Value accessors                                                      */
/* ------------------------------------------------------------------ */

int qnt__gguf_get_u32(const struct qnt__gguf_value *v, uint32_t *out)
{
	if (v->type != QNT__GGUF_UINT32)
		return 0;
	*out = rd32(v->data);
	return 1;
}

int qnt__gguf_get_int(const struct qnt__gguf_value *v, int64_t *out)
{
	const uint8_t *p = v->data;
	switch (v->type) {
	case QNT__GGUF_UINT8: *out = p[0]; return 1;
	case QNT__GGUF_INT8: *out = (int8_t)p[0]; return 1;
	case QNT__GGUF_UINT16: *out = rd16(p); return 1;
	case QNT__GGUF_INT16: *out = (int16_t)rd16(p); return 1;
	case QNT__GGUF_UINT32: *out = rd32(p); return 1;
	case QNT__GGUF_INT32: *out = (int32_t)rd32(p); return 1;
	case QNT__GGUF_INT64: *out = (int64_t)rd64(p); return 1;
	case QNT__GGUF_UINT64: {
		uint64_t u = rd64(p);
		if (u > (uint64_t)INT64_MAX)
			return 0;
		*out = (int64_t)u;
		return 1;
	}
	default: return 0;
	}
}

int qnt__gguf_get_uint(const struct qnt__gguf_value *v, uint64_t *out)
{
	if (v->type == QNT__GGUF_UINT64) {
		*out = rd64(v->data);
		return 1;
	}
	int64_t s;
	if (!qnt__gguf_get_int(v, &s) || s < 0)
		return 0;
	*out = (uint64_t)s;
	return 1;
}

int qnt__gguf_get_f64(const struct qnt__gguf_value *v, double *out)
{
	if (v->type == QNT__GGUF_FLOAT32) {
		uint32_t u = rd32(v->data);
		float f;
		memcpy(&f, &u, sizeof f);
		*out = f;
		return 1;
	}
	if (v->type == QNT__GGUF_FLOAT64) {
		uint64_t u = rd64(v->data);
		memcpy(out, &u, sizeof *out);
		return 1;
	}
	return 0;
}

int qnt__gguf_get_bool(const struct qnt__gguf_value *v, int *out)
{
	if (v->type != QNT__GGUF_BOOL)
		return 0;
	*out = v->data[0] != 0;
	return 1;
}

int qnt__gguf_get_str(const struct qnt__gguf_value *v, const char **s, uint64_t *len)
{
	if (v->type != QNT__GGUF_STRING)
		return 0;
	*len = rd64(v->data);
	*s = (const char *)v->data + 8;
	return 1;
}

void qnt__gguf_iter_init(struct qnt__gguf_iter *it, const struct qnt__gguf_value *array)
{
	if (array->type != QNT__GGUF_ARRAY) {
		memset(it, 0, sizeof *it);
		return;
	}
	it->elem_type = array->elem_type;
	it->left = array->n;
	it->p = array->data;
	it->offset = array->offset;
}

/* The size of a value that open() validated, from its bytes. */
static uint64_t value_size(uint32_t type, const uint8_t *p)
{
	if (value_type_size[type])
		return value_type_size[type];
	if (type == QNT__GGUF_STRING)
		return 8 + rd64(p);
	/* ARRAY */
	const uint32_t et = rd32(p);
	const uint64_t n = rd64(p + 4);
	uint64_t s = 12;
	if (value_type_size[et])
		return s + n * value_type_size[et];
	for (uint64_t i = 0; i < n; i++)
		s += value_size(et, p + s);
	return s;
}

int qnt__gguf_iter_next(struct qnt__gguf_iter *it, struct qnt__gguf_value *e)
{
	if (it->left == 0)
		return 0;
	const uint64_t sz = value_size(it->elem_type, it->p);
	memset(e, 0, sizeof *e);
	e->type = it->elem_type;
	e->data = it->p;
	e->offset = it->offset;
	e->size = sz;
	if (it->elem_type == QNT__GGUF_ARRAY) {
		e->elem_type = rd32(it->p);
		e->n = rd64(it->p + 4);
		e->data = it->p + 12;
		e->offset = it->offset + 12;
		e->size = sz - 12;
	}
	it->p += sz;
	it->offset += sz;
	it->left--;
	return 1;
}

/* ------------------------------------------------------------------ */
/* Checksums                                                            */
/* ------------------------------------------------------------------ */

/* The checksum array, if well-formed. */
static const struct qnt__gguf_kv *checksum_kv(const struct qnt__gguf *g)
{
	const struct qnt__gguf_kv *kv = qnt__gguf_find_kv(g, QNT__CHECKSUM_KEY);
	if (!kv || kv->value.type != QNT__GGUF_ARRAY || kv->value.elem_type != QNT__GGUF_UINT64 ||
	    kv->value.n != (uint64_t)g->n_tensors)
		return NULL;
	return kv;
}

int qnt__gguf_stored_checksum(const struct qnt__gguf *g, int64_t i, uint64_t *out)
{
	const struct qnt__gguf_kv *kv = checksum_kv(g);
	if (!kv || i < 0 || i >= g->n_tensors)
		return 0;
	*out = rd64(kv->value.data + 8 * (uint64_t)i);
	return 1;
}

qnt_status qnt__gguf_verify_checksums(qnt_ctx *ctx, const struct qnt__gguf *g)
{
	uint64_t want;
	if (!checksum_kv(g))
		return qnt__error(ctx, QNT_E_NOT_FOUND, "%s: GGUF: no well-formed '%s' checksums", g->path,
				  QNT__CHECKSUM_KEY);
	for (int64_t i = 0; i < g->n_tensors; i++) {
		const struct qnt__gguf_tensor *t = &g->tensors[i];
		qnt__gguf_stored_checksum(g, i, &want);
		const uint64_t got = qnt__xxh3_64(t->data, (size_t)t->nbytes);
		if (got != want)
			return qnt__error(ctx, QNT_E_FORMAT,
					  "%s: GGUF: tensor '%s': XXH3-64 of its %llu bytes is %016llx, the file's '%s' says "
					  "%016llx (at byte offset %llu)",
					  g->path, t->name, (unsigned long long)t->nbytes, (unsigned long long)got,
					  QNT__CHECKSUM_KEY, (unsigned long long)want, (unsigned long long)t->file_offset);
	}
	return QNT_OK;
}
