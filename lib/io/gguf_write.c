/* SPDX-License-Identifier: MIT */
/*
 * The streaming GGUF writer; see gguf_write.h. The layout is the one of
 * gguf-py's GGUFWriter (write_header_to_file, write_kv_data_to_file,
 * write_ti_data_to_file, write_tensors_to_file) and of ggml's gguf writer:
 * every tensor's data is followed by zero padding to the alignment, the
 * last one too, and a tensor's offset is the sum of the padded sizes of the
 * tensors before it.
 */
#include "gguf_write.h"

#include "atomic_file.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ggml's GGML_MAX_NAME counts the NUL: its loader refuses names of 64 bytes
 * and more (gguf.cpp), although the format's spec allows 64. */
#define MAX_TENSOR_NAME (QNT__GGUF_MAX_NAME - 1)

/* Bytes of a fixed-size value type; 0 for STRING and ARRAY. */
static const uint8_t type_size[QNT__GGUF_N_TYPES] = { 1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8 };

struct kvent {
	char *key;
	size_t klen;
	uint32_t type;
	uint8_t *enc; /* the bytes after the type field */
	size_t enc_len;
};

struct tent {
	char *name;
	size_t nlen;
	uint32_t type;
	uint32_t n_dims;
	int64_t ne[QNT__GGUF_MAX_DIMS];
	uint64_t nbytes;
	uint64_t offset; /* in the data section, once laid out */
};

struct qnt__gguf_writer {
	qnt_ctx *ctx;
	char *path;
	uint32_t flags;
	struct qnt__afile *af;
	struct kvent *kv;
	int64_t n_kv, cap_kv;
	struct tent *t;
	int64_t n_t, cap_t;
	int64_t *slots; /* open addressing: tensor name -> index + 1; 0 empty */
	size_t n_slots;
	int begun;
	qnt_status failed; /* sticky */
	uint64_t alignment;
	int64_t pos;       /* the tensor whose bytes come next */
	uint64_t in_cur;   /* bytes of it written */
	uint64_t left;     /* bytes of tensor data still to come */
	uint64_t cksum_at; /* file offset of the checksum array's elements; 0: none */
	uint64_t *cksums;
	struct qnt__xxh3 *xs;
};

static void put_le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *p, int n)
{
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* ------------------------------------------------------------------ */
/* Creation and metadata                                                */
/* ------------------------------------------------------------------ */

qnt_status qnt__gguf_writer_create(qnt_ctx *ctx, const char *path, uint32_t flags, struct qnt__gguf_writer **out)
{
	if (!out || !path)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "GGUF writer: NULL argument");
	*out = NULL;
	if (flags & ~(QNT__GGUF_WRITE_NAMED_TEMP | QNT__GGUF_WRITE_CHECKSUMS))
		return qnt__error(ctx, QNT_E_INVALID_ARG, "%s: GGUF writer: unknown flags 0x%x", path, (unsigned)flags);
	struct qnt__gguf_writer *w = calloc(1, sizeof *w);
	size_t n = strlen(path);
	if (!w || !(w->path = malloc(n + 1))) {
		free(w);
		return qnt__error(ctx, QNT_E_NO_MEMORY, "%s: out of memory", path);
	}
	memcpy(w->path, path, n + 1);
	w->ctx = ctx;
	w->flags = flags;
	w->alignment = QNT__GGUF_DEFAULT_ALIGNMENT;
	qnt_status st = qnt__afile_create(ctx, path, flags & QNT__GGUF_WRITE_NAMED_TEMP ? QNT__AFILE_NAMED_TEMP : 0,
					  &w->af);
	if (st != QNT_OK) {
		qnt__gguf_writer_abort(w);
		return st;
	}
	*out = w;
	return QNT_OK;
}

static qnt_status declaring(struct qnt__gguf_writer *w, const char *what)
{
	if (w->failed)
		return w->failed;
	if (w->begun)
		return qnt__error(w->ctx, QNT_E_INVALID_ARG, "%s: GGUF writer: %s after the data has begun", w->path,
				  what);
	return QNT_OK;
}

static qnt_status check_key(struct qnt__gguf_writer *w, const char *key)
{
	qnt_status st = declaring(w, "metadata set");
	if (st != QNT_OK)
		return st;
	if (!key)
		return qnt__error(w->ctx, QNT_E_INVALID_ARG, "%s: GGUF writer: NULL key", w->path);
	size_t n = strlen(key);
	if (n == 0 || n > QNT__GGUF_MAX_KEY)
		return qnt__error(w->ctx, QNT_E_INVALID_ARG, "%s: GGUF writer: key of %zu bytes (1..%d allowed)", w->path,
				  n, QNT__GGUF_MAX_KEY);
	return QNT_OK;
}

static int64_t find_kv(const struct qnt__gguf_writer *w, const char *key)
{
	for (int64_t i = 0; i < w->n_kv; i++)
		if (strcmp(w->kv[i].key, key) == 0)
			return i;
	return -1;
}

/* Sets key to (type, enc[0..len)), taking ownership of enc (freed on
 * failure too). */
static qnt_status put(struct qnt__gguf_writer *w, const char *key, uint32_t type, uint8_t *enc, size_t len)
{
	if (strcmp(key, "general.alignment") == 0) {
		uint32_t a = type == QNT__GGUF_UINT32 ? (uint32_t)get_le(enc, 4) : 0;
		if (type != QNT__GGUF_UINT32 || a == 0 || (a & (a - 1)) != 0) {
			free(enc);
			if (type != QNT__GGUF_UINT32)
				return qnt__error(w->ctx, QNT_E_INVALID_ARG,
						  "%s: GGUF writer: key 'general.alignment': type %s, not UINT32", w->path,
						  qnt__gguf_type_name(type));
			return qnt__error(w->ctx, QNT_E_INVALID_ARG,
					  "%s: GGUF writer: key 'general.alignment': %u is not a power of two", w->path,
					  (unsigned)a);
		}
	}
	int64_t i = find_kv(w, key);
	if (i >= 0) {
		free(w->kv[i].enc);
		w->kv[i].type = type;
		w->kv[i].enc = enc;
		w->kv[i].enc_len = len;
		return QNT_OK;
	}
	if (w->n_kv == w->cap_kv) {
		int64_t cap = w->cap_kv ? 2 * w->cap_kv : 32;
		struct kvent *k = realloc(w->kv, (size_t)cap * sizeof *k);
		if (!k) {
			free(enc);
			return qnt__error(w->ctx, QNT_E_NO_MEMORY, "%s: out of memory", w->path);
		}
		w->kv = k;
		w->cap_kv = cap;
	}
	size_t kl = strlen(key);
	char *kc = malloc(kl + 1);
	if (!kc) {
		free(enc);
		return qnt__error(w->ctx, QNT_E_NO_MEMORY, "%s: out of memory", w->path);
	}
	memcpy(kc, key, kl + 1);
	w->kv[w->n_kv++] = (struct kvent){ kc, kl, type, enc, len };
	return QNT_OK;
}

static uint8_t *alloc_enc(struct qnt__gguf_writer *w, size_t n)
{
	uint8_t *p = malloc(n ? n : 1);
	if (!p)
		qnt__error(w->ctx, QNT_E_NO_MEMORY, "%s: out of memory for a value of %zu bytes", w->path, n);
	return p;
}

/* Checks that p[0..size) starts with one well-formed value of `type` (the
 * rules of gguf_read.c) and sets *used to its size. */
static qnt_status check_value(struct qnt__gguf_writer *w, const char *key, uint32_t type, const uint8_t *p,
			      uint64_t size, int depth, uint64_t *used)
{
	if (type >= QNT__GGUF_N_TYPES)
		return qnt__error(w->ctx, QNT_E_INVALID_ARG, "%s: GGUF writer: key '%s': unknown value type %u", w->path,
				  key, (unsigned)type);
	if (type_size[type]) {
		if (size < type_size[type])
			goto short_value;
		if (type == QNT__GGUF_BOOL && p[0] > 1)
			return qnt__error(w->ctx, QNT_E_INVALID_ARG, "%s: GGUF writer: key '%s': BOOL value %u", w->path,
					  key, (unsigned)p[0]);
		*used = type_size[type];
		return QNT_OK;
	}
	if (type == QNT__GGUF_STRING) {
		if (size < 8 || get_le(p, 8) > size - 8)
			goto short_value;
		*used = 8 + get_le(p, 8);
		return QNT_OK;
	}
	if (depth >= QNT__GGUF_MAX_DEPTH)
		return qnt__error(w->ctx, QNT_E_INVALID_ARG, "%s: GGUF writer: key '%s': arrays nested deeper than %d",
				  w->path, key, QNT__GGUF_MAX_DEPTH);
	if (size < 12)
		goto short_value;
	const uint32_t et = (uint32_t)get_le(p, 4);
	const uint64_t n = get_le(p + 4, 8);
	if (et >= QNT__GGUF_N_TYPES)
		return qnt__error(w->ctx, QNT_E_INVALID_ARG, "%s: GGUF writer: key '%s': unknown array element type %u",
				  w->path, key, (unsigned)et);
	uint64_t off = 12;
	if (type_size[et]) {
		if (n > (size - off) / type_size[et])
			goto short_value;
		if (et == QNT__GGUF_BOOL)
			for (uint64_t i = 0; i < n; i++)
				if (p[off + i] > 1)
					return qnt__error(w->ctx, QNT_E_INVALID_ARG,
							  "%s: GGUF writer: key '%s': BOOL element %" PRIu64 " is %u", w->path,
							  key, i, (unsigned)p[off + i]);
		off += n * type_size[et];
	} else {
		for (uint64_t i = 0; i < n; i++) {
			uint64_t u;
			qnt_status st = check_value(w, key, et, p + off, size - off, depth + 1, &u);
			if (st != QNT_OK)
				return st;
			off += u;
		}
	}
	*used = off;
	return QNT_OK;
short_value:
	return qnt__error(w->ctx, QNT_E_INVALID_ARG,
			  "%s: GGUF writer: key '%s': a %s value does not fit in the %" PRIu64 " bytes given", w->path, key,
			  qnt__gguf_type_name(type), size);
}

qnt_status qnt__gguf_writer_set_value(struct qnt__gguf_writer *w, const char *key, const struct qnt__gguf_value *v)
{
	if (!w)
		return qnt__error(NULL, QNT_E_INVALID_ARG, "GGUF writer: NULL handle");
	qnt_status st = check_key(w, key);
	if (st != QNT_OK)
		return st;
	if (!v || (!v->data && v->size))
		return qnt__error(w->ctx, QNT_E_INVALID_ARG, "%s: GGUF writer: key '%s': NULL value", w->path, key);
	if (v->type >= QNT__GGUF_N_TYPES || (v->type == QNT__GGUF_ARRAY && v->elem_type >= QNT__GGUF_N_TYPES))
		return qnt__error(w->ctx, QNT_E_INVALID_ARG, "%s: GGUF writer: key '%s': unknown value type %u", w->path,
				  key, (unsigned)(v->type >= QNT__GGUF_N_TYPES ? v->type : v->elem_type));
	const size_t head = v->type == QNT__GGUF_ARRAY ? 12 : 0;
	if (v->size > (uint64_t)SIZE_MAX - head)
		return qnt__error(w->ctx, QNT_E_NO_MEMORY, "%s: GGUF writer: key '%s': value too large", w->path, key);
	uint8_t *enc = alloc_enc(w, head + (size_t)v->size);
	if (!enc)
		return QNT_E_NO_MEMORY;
	if (head) {
		put_le(enc, v->elem_type, 4);
		put_le(enc + 4, v->n, 8);
	}
	if (v->size)
		memcpy(enc + head, v->data, (size_t)v->size);
	uint64_t used = 0;
	st = check_value(w, key, v->type, enc, head + v->size, 0, &used);
	if (st == QNT_OK && used != head + v->size)
		st = qnt__error(w->ctx, QNT_E_INVALID_ARG,
				"%s: GGUF writer: key '%s': the %s value takes %" PRIu64 " bytes, not the %" PRIu64 " given",
				w->path, key, qnt__gguf_type_name(v->type), used - head, v->size);
	if (st != QNT_OK) {
		free(enc);
		return st;
	}
	return put(w, key, v->type, enc, head + (size_t)v->size);
}

qnt_status qnt__gguf_writer_set_scalar(struct qnt__gguf_writer *w, const char *key, uint32_t type, const void *le)
{
	if (!w)
		return qnt__error(NULL, QNT_E_INVALID_ARG, "GGUF writer: NULL handle");
	qnt_status st = check_key(w, key);
	if (st != QNT_OK)
		return st;
	if (type >= QNT__GGUF_N_TYPES || !type_size[type] || !le)
		return qnt__error(w->ctx, QNT_E_INVALID_ARG, "%s: GGUF writer: key '%s': %s", w->path, key,
				  !le ? "NULL value" : "not a fixed-size value type");
	uint64_t used;
	if ((st = check_value(w, key, type, le, type_size[type], 0, &used)) != QNT_OK)
		return st;
	uint8_t *enc = alloc_enc(w, type_size[type]);
	if (!enc)
		return QNT_E_NO_MEMORY;
	memcpy(enc, le, type_size[type]);
	return put(w, key, type, enc, type_size[type]);
}

static qnt_status set_num(struct qnt__gguf_writer *w, const char *key, uint32_t type, uint64_t bits)
{
	uint8_t b[8];
	put_le(b, bits, type_size[type]);
	return qnt__gguf_writer_set_scalar(w, key, type, b);
}

qnt_status qnt__gguf_writer_set_u32(struct qnt__gguf_writer *w, const char *key, uint32_t v)
{
	return set_num(w, key, QNT__GGUF_UINT32, v);
}

qnt_status qnt__gguf_writer_set_i32(struct qnt__gguf_writer *w, const char *key, int32_t v)
{
	return set_num(w, key, QNT__GGUF_INT32, (uint32_t)v);
}

qnt_status qnt__gguf_writer_set_u64(struct qnt__gguf_writer *w, const char *key, uint64_t v)
{
	return set_num(w, key, QNT__GGUF_UINT64, v);
}

qnt_status qnt__gguf_writer_set_f32(struct qnt__gguf_writer *w, const char *key, float v)
{
	uint32_t u;
	memcpy(&u, &v, sizeof u);
	return set_num(w, key, QNT__GGUF_FLOAT32, u);
}

qnt_status qnt__gguf_writer_set_bool(struct qnt__gguf_writer *w, const char *key, int v)
{
	return set_num(w, key, QNT__GGUF_BOOL, v != 0);
}

qnt_status qnt__gguf_writer_set_str(struct qnt__gguf_writer *w, const char *key, const char *s)
{
	if (!w)
		return qnt__error(NULL, QNT_E_INVALID_ARG, "GGUF writer: NULL handle");
	qnt_status st = check_key(w, key);
	if (st != QNT_OK)
		return st;
	if (!s)
		return qnt__error(w->ctx, QNT_E_INVALID_ARG, "%s: GGUF writer: key '%s': NULL string", w->path, key);
	size_t n = strlen(s);
	uint8_t *enc = alloc_enc(w, 8 + n);
	if (!enc)
		return QNT_E_NO_MEMORY;
	put_le(enc, n, 8);
	memcpy(enc + 8, s, n);
	return put(w, key, QNT__GGUF_STRING, enc, 8 + n);
}

qnt_status qnt__gguf_writer_set_array(struct qnt__gguf_writer *w, const char *key, uint32_t elem_type, uint64_t n,
				      const void *elems)
{
	if (!w)
		return qnt__error(NULL, QNT_E_INVALID_ARG, "GGUF writer: NULL handle");
	qnt_status st = check_key(w, key);
	if (st != QNT_OK)
		return st;
	if (elem_type >= QNT__GGUF_N_TYPES || elem_type == QNT__GGUF_ARRAY)
		return qnt__error(w->ctx, QNT_E_INVALID_ARG,
				  "%s: GGUF writer: key '%s': element type %u (arrays of arrays go through set_value)",
				  w->path, key, (unsigned)elem_type);
	if (n && !elems)
		return qnt__error(w->ctx, QNT_E_INVALID_ARG, "%s: GGUF writer: key '%s': NULL elements", w->path, key);
	size_t len = 12;
	const char *const *strs = elems;
	if (type_size[elem_type]) {
		if (n > (SIZE_MAX - 12) / type_size[elem_type])
			return qnt__error(w->ctx, QNT_E_NO_MEMORY, "%s: GGUF writer: key '%s': %" PRIu64 " elements",
					  w->path, key, n);
		len += (size_t)n * type_size[elem_type];
	} else {
		if (n > SIZE_MAX / 8)
			return qnt__error(w->ctx, QNT_E_NO_MEMORY, "%s: GGUF writer: key '%s': %" PRIu64 " elements",
					  w->path, key, n);
		for (uint64_t i = 0; i < n; i++) {
			if (!strs[i])
				return qnt__error(w->ctx, QNT_E_INVALID_ARG,
						  "%s: GGUF writer: key '%s': string %" PRIu64 " is NULL", w->path, key, i);
			size_t sl = strlen(strs[i]);
			if (sl > SIZE_MAX - 8 - len)
				return qnt__error(w->ctx, QNT_E_NO_MEMORY, "%s: GGUF writer: key '%s': too large",
						  w->path, key);
			len += 8 + sl;
		}
	}
	uint8_t *enc = alloc_enc(w, len);
	if (!enc)
		return QNT_E_NO_MEMORY;
	put_le(enc, elem_type, 4);
	put_le(enc + 4, n, 8);
	if (type_size[elem_type]) {
		if (n)
			memcpy(enc + 12, elems, len - 12);
		uint64_t used;
		if ((st = check_value(w, key, QNT__GGUF_ARRAY, enc, len, 0, &used)) != QNT_OK) {
			free(enc);
			return st;
		}
	} else {
		size_t off = 12;
		for (uint64_t i = 0; i < n; i++) {
			size_t sl = strlen(strs[i]);
			put_le(enc + off, sl, 8);
			memcpy(enc + off + 8, strs[i], sl);
			off += 8 + sl;
		}
	}
	return put(w, key, QNT__GGUF_ARRAY, enc, len);
}

static void remove_at(struct qnt__gguf_writer *w, int64_t i)
{
	free(w->kv[i].key);
	free(w->kv[i].enc);
	memmove(&w->kv[i], &w->kv[i + 1], (size_t)(w->n_kv - i - 1) * sizeof *w->kv);
	w->n_kv--;
}

qnt_status qnt__gguf_writer_remove(struct qnt__gguf_writer *w, const char *key)
{
	if (!w)
		return qnt__error(NULL, QNT_E_INVALID_ARG, "GGUF writer: NULL handle");
	qnt_status st = check_key(w, key);
	if (st != QNT_OK)
		return st;
	int64_t i = find_kv(w, key);
	if (i >= 0)
		remove_at(w, i);
	return QNT_OK;
}

/* ------------------------------------------------------------------ */
/* Tensors                                                              */
/* ------------------------------------------------------------------ */

static size_t name_slot(const struct qnt__gguf_writer *w, const char *name, size_t len)
{
	size_t mask = w->n_slots - 1, s = (size_t)qnt__xxh3_64(name, len) & mask;
	while (w->slots[s] && strcmp(w->t[w->slots[s] - 1].name, name) != 0)
		s = (s + 1) & mask;
	return s;
}

/* Keeps the table at most half full. */
static int grow_slots(struct qnt__gguf_writer *w)
{
	if ((size_t)w->n_t + 1 <= w->n_slots / 2)
		return 1;
	size_t n = w->n_slots ? 2 * w->n_slots : 64;
	int64_t *s = calloc(n, sizeof *s);
	if (!s)
		return 0;
	free(w->slots);
	w->slots = s;
	w->n_slots = n;
	for (int64_t i = 0; i < w->n_t; i++)
		w->slots[name_slot(w, w->t[i].name, w->t[i].nlen)] = i + 1;
	return 1;
}

qnt_status qnt__gguf_writer_add_tensor(struct qnt__gguf_writer *w, const char *name, uint32_t ggml_type,
				       uint32_t n_dims, const int64_t *ne)
{
	if (!w)
		return qnt__error(NULL, QNT_E_INVALID_ARG, "GGUF writer: NULL handle");
	qnt_status st = declaring(w, "a tensor declared");
	if (st != QNT_OK)
		return st;
	if (!name)
		return qnt__error(w->ctx, QNT_E_INVALID_ARG, "%s: GGUF writer: NULL tensor name", w->path);
	size_t nl = strlen(name);
	if (nl == 0 || nl > MAX_TENSOR_NAME)
		return qnt__error(w->ctx, QNT_E_INVALID_ARG,
				  "%s: GGUF writer: tensor name '%.64s' of %zu bytes (1..%d allowed)", w->path, name, nl,
				  MAX_TENSOR_NAME);
	if (n_dims > QNT__GGUF_MAX_DIMS || (n_dims && !ne))
		return qnt__error(w->ctx, QNT_E_INVALID_ARG, "%s: GGUF writer: tensor '%s': %s", w->path, name,
				  n_dims > QNT__GGUF_MAX_DIMS ? "more than 4 dimensions" : "NULL shape");
	const int64_t bs = qnt__ggml_block_size(ggml_type);
	if (bs == 0)
		return qnt__error(w->ctx, QNT_E_UNKNOWN_TYPE, "%s: GGUF writer: tensor '%s': unknown ggml type %u",
				  w->path, name, (unsigned)ggml_type);
	struct tent t = { NULL, nl, ggml_type, n_dims, { 1, 1, 1, 1 }, 0, 0 };
	uint64_t nel = 1;
	int overflow = 0, empty = 0;
	for (uint32_t d = 0; d < n_dims; d++) {
		if (ne[d] < 0)
			return qnt__error(w->ctx, QNT_E_BAD_SHAPE, "%s: GGUF writer: tensor '%s': dimension %u is %" PRId64,
					  w->path, name, d, ne[d]);
		t.ne[d] = ne[d];
		empty |= ne[d] == 0;
		if (ne[d] && nel > (uint64_t)INT64_MAX / (uint64_t)ne[d])
			overflow = 1;
		nel *= (uint64_t)ne[d];
	}
	if (empty)
		nel = 0;
	else if (overflow)
		return qnt__error(w->ctx, QNT_E_BAD_SHAPE,
				  "%s: GGUF writer: tensor '%s': the element count overflows a 64-bit count", w->path, name);
	if (t.ne[0] % bs != 0)
		return qnt__error(w->ctx, QNT_E_BAD_SHAPE,
				  "%s: GGUF writer: tensor '%s': %" PRId64 " elements per row, not a multiple of %s's block "
				  "of %" PRId64,
				  w->path, name, t.ne[0], qnt__ggml_type_name(ggml_type), bs);
	const uint64_t blocks = nel / (uint64_t)bs, bb = qnt__ggml_block_bytes(ggml_type);
	if (blocks > (uint64_t)INT64_MAX / bb)
		return qnt__error(w->ctx, QNT_E_BAD_SHAPE, "%s: GGUF writer: tensor '%s': the size in bytes overflows",
				  w->path, name);
	t.nbytes = blocks * bb;
	if (!grow_slots(w))
		return qnt__error(w->ctx, QNT_E_NO_MEMORY, "%s: out of memory", w->path);
	size_t slot = name_slot(w, name, nl);
	if (w->slots[slot])
		return qnt__error(w->ctx, QNT_E_INVALID_ARG, "%s: GGUF writer: duplicate tensor name '%s'", w->path, name);
	if (w->n_t == w->cap_t) {
		int64_t cap = w->cap_t ? 2 * w->cap_t : 64;
		struct tent *p = realloc(w->t, (size_t)cap * sizeof *p);
		if (!p)
			return qnt__error(w->ctx, QNT_E_NO_MEMORY, "%s: out of memory", w->path);
		w->t = p;
		w->cap_t = cap;
	}
	if (!(t.name = malloc(nl + 1)))
		return qnt__error(w->ctx, QNT_E_NO_MEMORY, "%s: out of memory", w->path);
	memcpy(t.name, name, nl + 1);
	w->t[w->n_t] = t;
	w->slots[slot] = ++w->n_t;
	return QNT_OK;
}

int64_t qnt__gguf_writer_n_tensors(const struct qnt__gguf_writer *w)
{
	return w ? w->n_t : 0;
}

uint64_t qnt__gguf_writer_tensor_nbytes(const struct qnt__gguf_writer *w, int64_t index)
{
	return w && index >= 0 && index < w->n_t ? w->t[index].nbytes : 0;
}

uint64_t qnt__gguf_writer_file_size(const struct qnt__gguf_writer *w)
{
	return w && w->af ? qnt__afile_size(w->af) : 0;
}

/* ------------------------------------------------------------------ */
/* Writing                                                              */
/* ------------------------------------------------------------------ */

static qnt_status write_zeros(struct qnt__gguf_writer *w, uint64_t n)
{
	static const uint8_t zeros[4096];
	while (n > 0) {
		size_t k = n < sizeof zeros ? (size_t)n : sizeof zeros;
		qnt_status st = qnt__afile_write(w->af, zeros, k);
		if (st != QNT_OK)
			return st;
		n -= k;
	}
	return QNT_OK;
}

static uint64_t padding(uint64_t n, uint64_t align)
{
	return (align - n % align) % align;
}

static qnt_status write_u(struct qnt__gguf_writer *w, uint64_t v, int n)
{
	uint8_t b[8];
	put_le(b, v, n);
	return qnt__afile_write(w->af, b, (size_t)n);
}

/* The checksum key: reserved in place (or appended) with the flag, dropped
 * without it. */
static qnt_status place_checksum_key(struct qnt__gguf_writer *w)
{
	int64_t i = find_kv(w, QNT__CHECKSUM_KEY);
	if (!(w->flags & QNT__GGUF_WRITE_CHECKSUMS)) {
		if (i >= 0)
			remove_at(w, i);
		return QNT_OK;
	}
	const uint64_t n = (uint64_t)w->n_t;
	if (n > (SIZE_MAX - 12) / 8)
		return qnt__error(w->ctx, QNT_E_NO_MEMORY, "%s: out of memory", w->path);
	uint8_t *enc = calloc(1, 12 + (size_t)n * 8);
	w->cksums = calloc(n ? (size_t)n : 1, sizeof *w->cksums);
	w->xs = qnt__xxh3_new();
	if (!enc || !w->cksums || !w->xs) {
		free(enc);
		return qnt__error(w->ctx, QNT_E_NO_MEMORY, "%s: out of memory", w->path);
	}
	put_le(enc, QNT__GGUF_UINT64, 4);
	put_le(enc + 4, n, 8);
	return put(w, QNT__CHECKSUM_KEY, QNT__GGUF_ARRAY, enc, 12 + (size_t)n * 8);
}

static qnt_status begin(struct qnt__gguf_writer *w)
{
	qnt_status st = place_checksum_key(w);
	if (st != QNT_OK)
		return st;
	int64_t ai = find_kv(w, "general.alignment");
	w->alignment = ai >= 0 ? get_le(w->kv[ai].enc, 4) : QNT__GGUF_DEFAULT_ALIGNMENT;
	uint64_t off = 0;
	for (int64_t i = 0; i < w->n_t; i++) {
		struct tent *t = &w->t[i];
		const uint64_t padded = t->nbytes + padding(t->nbytes, w->alignment);
		t->offset = off;
		if (padded < t->nbytes || padded > (uint64_t)INT64_MAX - off)
			return qnt__error(w->ctx, QNT_E_BAD_SHAPE,
					  "%s: GGUF writer: tensor '%s': the data section would exceed 2^63 bytes", w->path,
					  t->name);
		off += padded;
		w->left += t->nbytes;
	}
	/* magic, version, counts */
	if ((st = qnt__afile_write(w->af, "GGUF", 4)) != QNT_OK || (st = write_u(w, 3, 4)) != QNT_OK ||
	    (st = write_u(w, (uint64_t)w->n_t, 8)) != QNT_OK || (st = write_u(w, (uint64_t)w->n_kv, 8)) != QNT_OK)
		return st;
	for (int64_t i = 0; i < w->n_kv; i++) {
		const struct kvent *k = &w->kv[i];
		if ((st = write_u(w, k->klen, 8)) != QNT_OK || (st = qnt__afile_write(w->af, k->key, k->klen)) != QNT_OK ||
		    (st = write_u(w, k->type, 4)) != QNT_OK)
			return st;
		if (w->cksums && strcmp(k->key, QNT__CHECKSUM_KEY) == 0)
			w->cksum_at = qnt__afile_size(w->af) + 12;
		if ((st = qnt__afile_write(w->af, k->enc, k->enc_len)) != QNT_OK)
			return st;
	}
	for (int64_t i = 0; i < w->n_t; i++) {
		const struct tent *t = &w->t[i];
		if ((st = write_u(w, t->nlen, 8)) != QNT_OK || (st = qnt__afile_write(w->af, t->name, t->nlen)) != QNT_OK ||
		    (st = write_u(w, t->n_dims, 4)) != QNT_OK)
			return st;
		for (uint32_t d = 0; d < t->n_dims; d++)
			if ((st = write_u(w, (uint64_t)t->ne[d], 8)) != QNT_OK)
				return st;
		if ((st = write_u(w, t->type, 4)) != QNT_OK || (st = write_u(w, t->offset, 8)) != QNT_OK)
			return st;
	}
	return write_zeros(w, padding(qnt__afile_size(w->af), w->alignment));
}

qnt_status qnt__gguf_writer_begin(struct qnt__gguf_writer *w)
{
	if (!w)
		return qnt__error(NULL, QNT_E_INVALID_ARG, "GGUF writer: NULL handle");
	if (w->failed || w->begun)
		return w->failed;
	qnt_status st = begin(w);
	if (st != QNT_OK)
		return w->failed = st;
	w->begun = 1;
	return QNT_OK;
}

/* Ends tensor pos: its checksum, its padding. */
static qnt_status complete(struct qnt__gguf_writer *w)
{
	const struct tent *t = &w->t[w->pos];
	if (w->cksums) {
		w->cksums[w->pos] = qnt__xxh3_digest(w->xs);
		qnt__xxh3_reset(w->xs);
	}
	qnt_status st = write_zeros(w, padding(t->nbytes, w->alignment));
	if (st != QNT_OK)
		return w->failed = st;
	w->pos++;
	w->in_cur = 0;
	return QNT_OK;
}

/* Moves past the tensors of zero bytes. */
static qnt_status skip_empty(struct qnt__gguf_writer *w)
{
	while (w->pos < w->n_t && w->t[w->pos].nbytes == 0) {
		qnt_status st = complete(w);
		if (st != QNT_OK)
			return st;
	}
	return QNT_OK;
}

int64_t qnt__gguf_writer_next(struct qnt__gguf_writer *w)
{
	if (!w || (!w->begun && qnt__gguf_writer_begin(w) != QNT_OK) || w->failed || skip_empty(w) != QNT_OK)
		return -1;
	return w->pos < w->n_t ? w->pos : -1;
}

qnt_status qnt__gguf_writer_write(struct qnt__gguf_writer *w, const void *data, size_t n)
{
	if (!w)
		return qnt__error(NULL, QNT_E_INVALID_ARG, "GGUF writer: NULL handle");
	qnt_status st = w->begun ? w->failed : qnt__gguf_writer_begin(w);
	if (st != QNT_OK)
		return st;
	if (n && !data)
		return qnt__error(w->ctx, QNT_E_INVALID_ARG, "%s: GGUF writer: a write of %zu bytes from NULL", w->path, n);
	if (n > w->left)
		return qnt__error(w->ctx, QNT_E_INVALID_ARG,
				  "%s: GGUF writer: a write of %zu bytes, but only %" PRIu64 " bytes of tensor data remain",
				  w->path, n, w->left);
	const uint8_t *p = data;
	while (n > 0) {
		if ((st = skip_empty(w)) != QNT_OK)
			return st;
		const struct tent *t = &w->t[w->pos];
		const uint64_t room = t->nbytes - w->in_cur;
		const size_t take = n < room ? n : (size_t)room;
		if ((st = qnt__afile_write(w->af, p, take)) != QNT_OK)
			return w->failed = st;
		if (w->xs)
			qnt__xxh3_update(w->xs, p, take);
		w->in_cur += take;
		w->left -= take;
		p += take;
		n -= take;
		if (w->in_cur == t->nbytes && (st = complete(w)) != QNT_OK)
			return st;
	}
	if ((st = skip_empty(w)) != QNT_OK)
		return st;
	/* All data in: nothing more to buffer until finish. */
	if (w->pos == w->n_t && (st = qnt__afile_flush(w->af)) != QNT_OK)
		return w->failed = st;
	return QNT_OK;
}

qnt_status qnt__gguf_writer_write_tensor(struct qnt__gguf_writer *w, int64_t index, const void *data, size_t n)
{
	if (!w)
		return qnt__error(NULL, QNT_E_INVALID_ARG, "GGUF writer: NULL handle");
	int64_t next = qnt__gguf_writer_next(w);
	if (w->failed)
		return w->failed;
	if (index < 0 || index >= w->n_t)
		return qnt__error(w->ctx, QNT_E_INVALID_ARG, "%s: GGUF writer: no tensor %" PRId64, w->path, index);
	const struct tent *t = &w->t[index];
	if (t->nbytes == 0 && n == 0)
		return QNT_OK;
	if (index != next || w->in_cur != 0 || n != t->nbytes)
		return qnt__error(w->ctx, QNT_E_INVALID_ARG,
				  "%s: GGUF writer: tensor '%s' (%" PRIu64 " bytes) written with %zu bytes where %s comes "
				  "next",
				  w->path, t->name, t->nbytes, n,
				  next < 0 ? "nothing" : index == next ? "the rest of it" : w->t[next].name);
	return qnt__gguf_writer_write(w, data, n);
}

static void writer_free(struct qnt__gguf_writer *w)
{
	for (int64_t i = 0; i < w->n_kv; i++) {
		free(w->kv[i].key);
		free(w->kv[i].enc);
	}
	for (int64_t i = 0; i < w->n_t; i++)
		free(w->t[i].name);
	free(w->kv);
	free(w->t);
	free(w->slots);
	free(w->cksums);
	qnt__xxh3_free(w->xs);
	free(w->path);
	free(w);
}

void qnt__gguf_writer_abort(struct qnt__gguf_writer *w)
{
	if (!w)
		return;
	qnt__afile_abort(w->af);
	writer_free(w);
}

qnt_status qnt__gguf_writer_finish(struct qnt__gguf_writer *w)
{
	if (!w)
		return qnt__error(NULL, QNT_E_INVALID_ARG, "GGUF writer: NULL handle");
	qnt_status st = w->begun ? w->failed : qnt__gguf_writer_begin(w);
	if (st == QNT_OK)
		st = skip_empty(w);
	if (st == QNT_OK && w->pos < w->n_t)
		st = qnt__error(w->ctx, QNT_E_INVALID_ARG,
				"%s: GGUF writer: finished with %" PRIu64 " bytes of tensor data missing (tensor '%s' is "
				"incomplete: %" PRIu64 " of %" PRIu64 " bytes); nothing written",
				w->path, w->left, w->t[w->pos].name, w->in_cur, w->t[w->pos].nbytes);
	if (st == QNT_OK && w->cksums && w->n_t > 0) {
		uint8_t *b = malloc((size_t)w->n_t * 8);
		if (!b)
			st = qnt__error(w->ctx, QNT_E_NO_MEMORY, "%s: out of memory", w->path);
		for (int64_t i = 0; b && i < w->n_t; i++)
			put_le(b + 8 * i, w->cksums[i], 8);
		if (b)
			st = qnt__afile_pwrite(w->af, b, (size_t)w->n_t * 8, w->cksum_at);
		free(b);
	}
	if (st != QNT_OK) {
		qnt__gguf_writer_abort(w);
		return st;
	}
	st = qnt__afile_commit(w->af);
	w->af = NULL;
	writer_free(w);
	return st;
}
