/* SPDX-License-Identifier: MIT */
/*
 * safetensors reading and writing, for the internal use of libqnt (the
 * public file API sits on top of it).
 *
 * The format: an 8-byte little-endian header length N, N bytes of UTF-8
 * JSON (an object: "__metadata__" -> {string: string}, and for each tensor
 * name -> {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}),
 * then the data section, which the tensors' [begin, end) ranges (relative
 * to its start) cover exactly: no overlap, no hole, no trailing bytes.
 * These are the rules of the reference implementation (the `safetensors`
 * package, safetensors/src/tensor.rs: read_metadata and Metadata::validate),
 * which the reader follows, with these differences:
 *   - duplicate keys in the header are an error (serde keeps the last);
 *   - "\u0000" in a string and integers beyond INT64_MAX are refused by the
 *     JSON parser (no valid file needs either);
 *   - at most QNT__ST_MAX_DIMS dimensions.
 * Like the reference, unknown fields in a tensor entry are ignored and
 * "__metadata__": null means no metadata.
 *
 * Reading (qnt__st_open): maps the file (read() where mmap fails) and
 * validates all of it before returning, so that nothing in the handle can
 * point outside the file. A failure returns QNT_E_FORMAT (malformed file),
 * QNT_E_IO (cannot read), QNT_E_NOT_FOUND (no such file) or QNT_E_NO_MEMORY,
 * with a message through qnt__error(ctx, ...) of the form
 *     "<path>: safetensors: <tensor or item>: <problem> (at byte offset <n>)"
 * where n is the file offset of the header entry at fault or, for the data
 * layout (holes, overlaps), of the data. The handle is immutable: any number
 * of threads may read it at once. Data pointers are as aligned as the file
 * makes them (the reference writer pads the header to a multiple of 8).
 *
 * Writing (qnt__st_writer_*): streaming; declare every tensor, then write
 * their bytes in file order (qnt__st_writer_next tells which tensor comes
 * next; a chunk may be any size), then finish: the caller never holds more
 * than the chunk it writes. The header is the reference writer's: compact
 * JSON, "__metadata__" first (when there is any), then each tensor as
 * {"dtype", "shape", "data_offsets"}, padded with spaces to a multiple of
 * 8 bytes. The layout is the declaration order, or with
 * QNT__ST_WRITE_SORTED the reference's (dtype descending in its Dtype
 * enum's order, then name by bytes), which makes the file byte for byte
 * what the package's serialize writes for the same tensors (given names
 * without control characters, whose \u escapes differ in case, and at most
 * one metadata entry: its metadata map has no fixed order). The
 * output goes through an atomic file (atomic_file.h): nothing appears at
 * the destination unless finish succeeds, and an error or an abandoned
 * writer removes the temporary file.
 *
 * Sharded checkpoints: qnt__st_index_* reads model.safetensors.index.json
 * and its shards; qnt__st_shards_* writes them the way mlx-lm's save_model
 * does.
 */
#ifndef QNT_SAFETENSORS_H
#define QNT_SAFETENSORS_H

#include "qnt_internal.h"

#define QNT__ST_MAX_HEADER 100000000u /* bytes of JSON: the reference's MAX_HEADER_SIZE */
#define QNT__ST_MAX_DIMS 64
#define QNT__ST_DEFAULT_SHARD_BYTES ((uint64_t)5 << 30) /* mlx-lm's MAX_FILE_SIZE_GB */

/* The dtypes of the format, in the order of the reference's Dtype enum: its
 * writer sorts tensors by this order (descending), then by name. */
enum qnt__st_dtype {
	QNT__ST_BOOL,
	QNT__ST_F4,      /* 4 bits (float4_e2m1) */
	QNT__ST_F6_E2M3, /* 6 bits */
	QNT__ST_F6_E3M2, /* 6 bits */
	QNT__ST_U8,
	QNT__ST_I8,
	QNT__ST_F8_E5M2,
	QNT__ST_F8_E4M3,
	QNT__ST_F8_E8M0,
	QNT__ST_F8_E4M3FNUZ,
	QNT__ST_F8_E5M2FNUZ,
	QNT__ST_I16,
	QNT__ST_U16,
	QNT__ST_F16,
	QNT__ST_BF16,
	QNT__ST_I32,
	QNT__ST_U32,
	QNT__ST_F32,
	QNT__ST_C64,
	QNT__ST_F64,
	QNT__ST_I64,
	QNT__ST_U64,
	QNT__ST_N_DTYPES
};

/* "F32"; NULL if out of range. */
const char *qnt__st_dtype_name(int dtype);
/* The dtype of a name (exact, case-sensitive, n bytes), or -1. */
int qnt__st_dtype_from_name(const char *name, size_t n);
/* Bits per element (4, 6, 8, 16, 32 or 64); 0 if out of range. */
uint32_t qnt__st_dtype_bits(int dtype);
/* The libqnt type of F32, F16, BF16 (QNT_TYPE_*); QNT_TYPE_INVALID for
 * the others. */
qnt_type qnt__st_dtype_to_qnt(int dtype);
/* Bytes of a tensor: 1 and *nbytes, or 0 if the element count or the bit
 * count overflows 64 bits or is not a whole number of bytes (sub-byte
 * dtypes). n_dims == 0 is a scalar (one element). */
int qnt__st_tensor_bytes(int dtype, uint32_t n_dims, const uint64_t *shape, uint64_t *nbytes);

/* ------------------------------------------------------------------ */
/* Reading                                                              */
/* ------------------------------------------------------------------ */

struct qnt__st_tensor {
	const char *name;        /* NUL-terminated (a name holds no NUL) */
	int dtype;               /* enum qnt__st_dtype */
	uint32_t n_dims;         /* 0 (a scalar) .. QNT__ST_MAX_DIMS */
	const uint64_t *shape;   /* n_dims sizes; zero sizes allowed */
	uint64_t nelements;      /* product of shape (1 for a scalar) */
	uint64_t begin, end;     /* data_offsets: relative to the data section */
	uint64_t file_offset;    /* absolute offset of the data */
	uint64_t nbytes;         /* end - begin */
	const void *data;        /* into the file's bytes */
	uint64_t header_offset;  /* file offset of the tensor's key in the header */
};

struct qnt__st_file;

/* Opens and validates `path`. `ctx` (may be NULL) receives the error. */
qnt_status qnt__st_open(qnt_ctx *ctx, const char *path, struct qnt__st_file **out);
/* The same for bytes in memory (not copied: they must outlive the handle);
 * `name` stands for the path in messages. */
qnt_status qnt__st_open_memory(qnt_ctx *ctx, const char *name, const void *data, size_t size,
			       struct qnt__st_file **out);
void qnt__st_close(struct qnt__st_file *f);

const char *qnt__st_path(const struct qnt__st_file *f);
/* 1 when the bytes are a read-only mapping of the file (not a copy in
 * memory): madvise(MADV_DONTNEED) on them only drops pages. */
int qnt__st_is_mapped(const struct qnt__st_file *f);
uint64_t qnt__st_file_size(const struct qnt__st_file *f);
uint64_t qnt__st_header_size(const struct qnt__st_file *f); /* N: bytes of JSON and padding */
uint64_t qnt__st_data_offset(const struct qnt__st_file *f); /* 8 + N */

int64_t qnt__st_n_tensors(const struct qnt__st_file *f);
/* In data order (increasing data_offsets, as the reference's offset_keys). */
const struct qnt__st_tensor *qnt__st_tensor_at(const struct qnt__st_file *f, int64_t i);
/* NULL if absent. */
const struct qnt__st_tensor *qnt__st_find(const struct qnt__st_file *f, const char *name);

/* "__metadata__", in header order. */
int64_t qnt__st_n_metadata(const struct qnt__st_file *f);
void qnt__st_metadata_at(const struct qnt__st_file *f, int64_t i, const char **key, const char **value);
const char *qnt__st_metadata_get(const struct qnt__st_file *f, const char *key); /* NULL if absent */

/* Checksums (QNT__ST_WRITE_CHECKSUMS below): 1 and the stored XXH3-64 of
 * tensor i (data order, as qnt__st_tensor_at) if "__metadata__" has a
 * well-formed "qnt.xxh3_64" (one 16-lowercase-hex-digit entry per tensor,
 * separated by single spaces), else 0. */
int qnt__st_stored_checksum(const struct qnt__st_file *f, int64_t i, uint64_t *out);
/* Hashes every tensor and compares: QNT_OK when all match,
 * QNT_E_NOT_FOUND when there are no well-formed checksums, QNT_E_FORMAT
 * naming the first tensor that differs (and its data's byte offset). */
qnt_status qnt__st_verify_checksums(qnt_ctx *ctx, const struct qnt__st_file *f);

/* ------------------------------------------------------------------ */
/* Writing                                                              */
/* ------------------------------------------------------------------ */

/* Flags of the writers. */
#define QNT__ST_WRITE_SORTED 0x1u      /* the reference writer's order: dtype (descending), then name */
#define QNT__ST_WRITE_NAMED_TEMP 0x2u  /* QNT__AFILE_NAMED_TEMP (tests) */
#define QNT__ST_SHARDS_INDEX_IF_MANY 0x4u /* one shard: no index (Hugging Face's habit; mlx-lm always writes it) */
/* "__metadata__" gets "qnt.xxh3_64": the XXH3-64 (seed 0) of each tensor's
 * bytes as 16 lowercase hex digits, space-separated, in data (file) order
 * (by data_offsets, tensors of zero bytes in header order: the reader's
 * qnt__st_tensor_at order).
 * The writer puts it last in "__metadata__" (replacing a value the caller
 * set), reserves it in the header and patches it at finish. Without the
 * flag a caller's "qnt.xxh3_64" is dropped: the writer never writes a
 * checksum it did not compute. Sharded: each shard holds its own. */
#define QNT__ST_WRITE_CHECKSUMS 0x8u

struct qnt__st_writer;

/* Starts a file that finish puts at `path`. Without QNT__ST_WRITE_SORTED
 * the tensors are laid out in the order they are declared. */
qnt_status qnt__st_writer_create(qnt_ctx *ctx, const char *path, uint32_t flags, struct qnt__st_writer **out);
/* Adds a "__metadata__" entry (UTF-8 strings, keys unique), in order. Only
 * before the first write. */
qnt_status qnt__st_writer_set_metadata(struct qnt__st_writer *w, const char *key, const char *value);
/* Declares a tensor (a UTF-8 name, unique, not "__metadata__"). Only
 * before the first write. */
qnt_status qnt__st_writer_add(struct qnt__st_writer *w, const char *name, int dtype, uint32_t n_dims,
			      const uint64_t *shape);
/* Lays the tensors out and writes the header; the first write does it if
 * the caller has not. */
qnt_status qnt__st_writer_begin(struct qnt__st_writer *w);
/* The declaration index (0-based, order of _add) of the tensor whose bytes
 * come next, -1 once all are written (or before the layout, when the
 * header cannot be written). Tensors of zero bytes are skipped. */
int64_t qnt__st_writer_next(struct qnt__st_writer *w);
/* Appends n bytes of tensor data in file order; chunks may cross tensor
 * boundaries. More bytes than the tensors hold is an error. */
qnt_status qnt__st_writer_write(struct qnt__st_writer *w, const void *data, size_t n);
/* Writes the whole of tensor `index`, which must be the next one. */
qnt_status qnt__st_writer_write_tensor(struct qnt__st_writer *w, int64_t index, const void *data, size_t n);
/* Number of tensors declared; bytes of data declared and written. */
int64_t qnt__st_writer_n_tensors(const struct qnt__st_writer *w);
uint64_t qnt__st_writer_data_size(const struct qnt__st_writer *w);
uint64_t qnt__st_writer_written(const struct qnt__st_writer *w);
/* Checks that every byte was written and commits the file. Always frees
 * the writer; on failure nothing is left at the destination or beside it. */
qnt_status qnt__st_writer_finish(struct qnt__st_writer *w);
/* Abandons the file (removes the temporary file) and frees the writer. */
void qnt__st_writer_abort(struct qnt__st_writer *w);

/* ------------------------------------------------------------------ */
/* Sharded checkpoints                                                  */
/* ------------------------------------------------------------------ */

#define QNT__ST_INDEX_NAME "model.safetensors.index.json"

/* Reading: the index JSON {"metadata": {...}, "weight_map": {tensor: shard
 * file name relative to the index's directory}} (metadata optional). Shard
 * names must be relative and free of ".." components. Shards are opened on
 * first use (under a lock: the handle may be shared by threads); opening
 * one checks it against the index: every tensor the index puts in it is
 * there, and every tensor in it is put there by the index (a tensor that is
 * in two shards, or in none of the index's entries, is an error). */
#define QNT__ST_INDEX_OPEN_ALL 0x1u /* open and check every shard now */

struct qnt__st_index;

qnt_status qnt__st_index_open(qnt_ctx *ctx, const char *path, uint32_t flags, struct qnt__st_index **out);
void qnt__st_index_close(struct qnt__st_index *x);

const char *qnt__st_index_path(const struct qnt__st_index *x);
/* Tensors in the weight_map's order; shards sorted by file name. */
int64_t qnt__st_index_n_tensors(const struct qnt__st_index *x);
const char *qnt__st_index_tensor_name(const struct qnt__st_index *x, int64_t i);
int64_t qnt__st_index_n_shards(const struct qnt__st_index *x);
const char *qnt__st_index_shard_name(const struct qnt__st_index *x, int64_t i);
/* The shard of tensor i (an index into the shards). */
int64_t qnt__st_index_tensor_shard(const struct qnt__st_index *x, int64_t i);
/* "metadata": the entries in order; values that are not strings are given
 * as their compact JSON text (e.g. "1234" for total_size). */
int64_t qnt__st_index_n_metadata(const struct qnt__st_index *x);
void qnt__st_index_metadata_at(const struct qnt__st_index *x, int64_t i, const char **key, const char **value);
/* metadata.total_size, or -1 if absent or not a non-negative integer. */
int64_t qnt__st_index_total_size(const struct qnt__st_index *x);
/* Opens (once) and returns shard i. */
qnt_status qnt__st_index_shard(qnt_ctx *ctx, struct qnt__st_index *x, int64_t i, struct qnt__st_file **out);
/* Looks a tensor up: QNT_E_NOT_FOUND if the index does not name it; opens
 * its shard if needed. `file` may be NULL. */
qnt_status qnt__st_index_find(qnt_ctx *ctx, struct qnt__st_index *x, const char *name,
			      const struct qnt__st_tensor **tensor, struct qnt__st_file **file);
/* Opens and checks every shard (QNT__ST_INDEX_OPEN_ALL does it at open). */
qnt_status qnt__st_index_verify(qnt_ctx *ctx, struct qnt__st_index *x);

/* Writing, as mlx-lm's save_model: tensors go to shards in declaration
 * order, a new shard starting when the next tensor would take the current
 * one past max_shard_bytes (bytes of tensor data; a tensor larger than the
 * limit gets a shard of its own). One shard is "model.safetensors", more
 * are "model-00001-of-0000M.safetensors", ...; then
 * model.safetensors.index.json, indented by 4 like Python's json.dump:
 *     {"metadata": {"total_size": bytes of all tensors[, "total_parameters": n]},
 *      "weight_map": {tensor: shard, ... sorted by name}}
 * Each shard is an atomic file whose temporary file is made when the data
 * reaches it (so one is being written at a time, and a finished one holds
 * no buffer); finish commits them all, in order, then the index; an error
 * or an abandoned writer removes every temporary file. (A failure during
 * finish, between two renames, can leave some shards renamed, but the new
 * index is never written before all its shards are in place.) Shards of
 * an earlier, differently split save in the same directory are not
 * removed. */
struct qnt__st_shards_opts {
	uint64_t max_shard_bytes; /* 0: QNT__ST_DEFAULT_SHARD_BYTES */
	uint32_t flags;           /* QNT__ST_WRITE_SORTED (within each shard), _NAMED_TEMP, _CHECKSUMS, _SHARDS_INDEX_IF_MANY */
	int64_t total_parameters; /* < 0: not written */
};

struct qnt__st_shards;

qnt_status qnt__st_shards_create(qnt_ctx *ctx, const char *dir, const struct qnt__st_shards_opts *opts,
				 struct qnt__st_shards **out);
/* Metadata of every shard ({"format": "mlx"} for mlx-lm). */
qnt_status qnt__st_shards_set_metadata(struct qnt__st_shards *s, const char *key, const char *value);
qnt_status qnt__st_shards_add(struct qnt__st_shards *s, const char *name, int dtype, uint32_t n_dims,
			      const uint64_t *shape);
/* Splits into shards and starts the first; the first write does it. */
qnt_status qnt__st_shards_begin(struct qnt__st_shards *s);
int64_t qnt__st_shards_n_shards(const struct qnt__st_shards *s); /* 0 before begin */
const char *qnt__st_shards_shard_name(const struct qnt__st_shards *s, int64_t i);
int64_t qnt__st_shards_tensor_shard(const struct qnt__st_shards *s, int64_t index); /* -1 before begin */
/* As the single-file writer: the declaration index of the next tensor, -1
 * when done; bytes in that order, chunks of any size. */
int64_t qnt__st_shards_next(struct qnt__st_shards *s);
qnt_status qnt__st_shards_write(struct qnt__st_shards *s, const void *data, size_t n);
qnt_status qnt__st_shards_write_tensor(struct qnt__st_shards *s, int64_t index, const void *data, size_t n);
qnt_status qnt__st_shards_finish(struct qnt__st_shards *s);
void qnt__st_shards_abort(struct qnt__st_shards *s);

#endif
