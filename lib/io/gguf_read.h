/* SPDX-License-Identifier: MIT */
/*
 * A strict, read-only GGUF reader (versions 2 and 3, little-endian), for the
 * internal use of libqnt: imatrix files now, model files later.
 *
 * qnt__gguf_open maps the file (read() into memory where mmap is not
 * available) and validates all of it before returning: the magic, the
 * version, the tensor and key counts against the file size, every key and
 * metadata value (all thirteen value types, nested arrays included, bools 0
 * or 1), string lengths, general.alignment (UINT32, a power of two), and
 * every tensor info: name (1..64 bytes, unique), 0..4 dimensions, element
 * counts whose product and byte size do not overflow, a known ggml type
 * whose block divides the rows, and a data range that is aligned, lies in
 * the file and overlaps no other tensor. After a successful open nothing in
 * the handle can point outside the file, and later reads need no checks.
 *
 * A failure returns QNT_E_FORMAT (malformed file), QNT_E_IO (cannot read),
 * QNT_E_NOT_FOUND (no such file) or QNT_E_NO_MEMORY, with a message, through
 * qnt__error(ctx, ...), of the form
 *     "<path>: GGUF: <item>: <problem> (at byte offset <n>)".
 *
 * The handle is immutable: any number of threads may read it at once.
 */
#ifndef QNT_GGUF_READ_H
#define QNT_GGUF_READ_H

#include "qnt_internal.h"

/* Metadata value types (the GGUF spec's gguf_metadata_value_type). */
enum qnt__gguf_type {
	QNT__GGUF_UINT8 = 0,
	QNT__GGUF_INT8 = 1,
	QNT__GGUF_UINT16 = 2,
	QNT__GGUF_INT16 = 3,
	QNT__GGUF_UINT32 = 4,
	QNT__GGUF_INT32 = 5,
	QNT__GGUF_FLOAT32 = 6,
	QNT__GGUF_BOOL = 7,
	QNT__GGUF_STRING = 8,
	QNT__GGUF_ARRAY = 9,
	QNT__GGUF_UINT64 = 10,
	QNT__GGUF_INT64 = 11,
	QNT__GGUF_FLOAT64 = 12,
	QNT__GGUF_N_TYPES = 13
};

#define QNT__GGUF_MAX_DIMS 4
#define QNT__GGUF_MAX_NAME 64          /* bytes of a tensor name (the spec's limit) */
#define QNT__GGUF_MAX_KEY 65535        /* bytes of a key (the spec's limit) */
#define QNT__GGUF_MAX_DEPTH 8          /* nesting of arrays in arrays */
#define QNT__GGUF_DEFAULT_ALIGNMENT 32

/* A metadata value, or an element of an array. `data` points into the file:
 * at the value itself for scalars, at the 8-byte length for strings, at the
 * first element for arrays. Multi-byte numbers are little-endian and may be
 * unaligned: read them with the accessors below. */
struct qnt__gguf_value {
	uint32_t type;      /* enum qnt__gguf_type */
	uint32_t elem_type; /* arrays: the element type */
	uint64_t n;         /* arrays: the element count */
	const uint8_t *data;
	uint64_t size;   /* bytes from data to the end of the value */
	uint64_t offset; /* file offset of data */
};

struct qnt__gguf_kv {
	const char *key; /* NUL-terminated copy (a key has no NUL byte) */
	uint64_t offset; /* file offset of the key's length field */
	struct qnt__gguf_value value;
};

struct qnt__gguf_tensor {
	const char *name; /* NUL-terminated copy */
	uint32_t n_dims;
	int64_t ne[QNT__GGUF_MAX_DIMS]; /* elements per dimension; 1 beyond n_dims */
	uint32_t type;                  /* ggml type id (= GGUF type id) */
	uint64_t offset;                /* as stored: relative to the data section */
	uint64_t file_offset;           /* absolute */
	uint64_t nbytes;
	const void *data;     /* into the file's bytes */
	uint64_t info_offset; /* file offset of the tensor info */
};

struct qnt__gguf;

/* Opens and validates `path`. `ctx` (may be NULL) receives the error. */
qnt_status qnt__gguf_open(qnt_ctx *ctx, const char *path, struct qnt__gguf **out);
/* The same for bytes in memory (not copied: they must outlive the handle);
 * `name` stands for the path in messages. */
qnt_status qnt__gguf_open_memory(qnt_ctx *ctx, const char *name, const void *data, size_t size,
				 struct qnt__gguf **out);
void qnt__gguf_close(struct qnt__gguf *g);

const char *qnt__gguf_path(const struct qnt__gguf *g);
/* 1 when the bytes are a read-only mapping of the file (not a copy in
 * memory): madvise(MADV_DONTNEED) on them only drops pages. */
int qnt__gguf_is_mapped(const struct qnt__gguf *g);
uint32_t qnt__gguf_version(const struct qnt__gguf *g);
uint64_t qnt__gguf_file_size(const struct qnt__gguf *g);
uint32_t qnt__gguf_alignment(const struct qnt__gguf *g);
uint64_t qnt__gguf_data_offset(const struct qnt__gguf *g); /* start of the data section */

int64_t qnt__gguf_n_kv(const struct qnt__gguf *g);
const struct qnt__gguf_kv *qnt__gguf_kv_at(const struct qnt__gguf *g, int64_t i); /* file order */
const struct qnt__gguf_kv *qnt__gguf_find_kv(const struct qnt__gguf *g, const char *key);

int64_t qnt__gguf_n_tensors(const struct qnt__gguf *g);
const struct qnt__gguf_tensor *qnt__gguf_tensor_at(const struct qnt__gguf *g, int64_t i); /* file order */
const struct qnt__gguf_tensor *qnt__gguf_find_tensor(const struct qnt__gguf *g, const char *name);
int64_t qnt__gguf_tensor_nelements(const struct qnt__gguf_tensor *t);

/* The name of a value type ("UINT32") and of a ggml type ("q4_K"; NULL if
 * unknown). */
const char *qnt__gguf_type_name(uint32_t type);
const char *qnt__ggml_type_name(uint32_t type);
/* Elements per block and bytes per block of a ggml type; 0 if unknown. */
int64_t qnt__ggml_block_size(uint32_t type);
uint64_t qnt__ggml_block_bytes(uint32_t type);

/* Scalar accessors: 1 and the value, or 0 when the value has another type
 * (no conversion between types, except that get_uint/get_int accept every
 * integer type whose value fits). */
int qnt__gguf_get_u32(const struct qnt__gguf_value *v, uint32_t *out);
int qnt__gguf_get_uint(const struct qnt__gguf_value *v, uint64_t *out);
int qnt__gguf_get_int(const struct qnt__gguf_value *v, int64_t *out);
int qnt__gguf_get_f64(const struct qnt__gguf_value *v, double *out); /* FLOAT32 or FLOAT64 */
int qnt__gguf_get_bool(const struct qnt__gguf_value *v, int *out);
/* STRING: the bytes (not NUL-terminated, may hold NUL) and their count. */
int qnt__gguf_get_str(const struct qnt__gguf_value *v, const char **s, uint64_t *len);

/* Iteration over an array's elements:
 *     struct qnt__gguf_iter it; struct qnt__gguf_value e;
 *     qnt__gguf_iter_init(&it, &kv->value);
 *     while (qnt__gguf_iter_next(&it, &e)) ...
 * For arrays of fixed-size numbers, value.data is also the raw array. */
struct qnt__gguf_iter {
	uint32_t elem_type;
	uint64_t left;
	const uint8_t *p;
	uint64_t offset;
};
void qnt__gguf_iter_init(struct qnt__gguf_iter *it, const struct qnt__gguf_value *array);
int qnt__gguf_iter_next(struct qnt__gguf_iter *it, struct qnt__gguf_value *elem);

/* Checksums (the key "qnt.xxh3_64" of gguf_write.h): 1 and the stored
 * XXH3-64 of tensor i (tensor-info order) if the file has a well-formed
 * "qnt.xxh3_64" (an ARRAY of UINT64 with one entry per tensor), else 0. */
int qnt__gguf_stored_checksum(const struct qnt__gguf *g, int64_t i, uint64_t *out);
/* Hashes every tensor's bytes and compares them with the stored
 * checksums: QNT_OK when all match, QNT_E_NOT_FOUND when the file has no
 * well-formed checksums, QNT_E_FORMAT naming the first tensor that differs
 * (and its data's byte offset). */
qnt_status qnt__gguf_verify_checksums(qnt_ctx *ctx, const struct qnt__gguf *g);

#endif
