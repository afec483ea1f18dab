/* SPDX-License-Identifier: MIT */
/*
 * A streaming GGUF writer (version 3, little-endian), for the internal use
 * of libqnt: the model pipeline writes quantized models with it.
 *
 * Declare the metadata and the tensors, then write the tensors' bytes in
 * declaration order (qnt__gguf_writer_next tells which tensor comes next;
 * a chunk may be any size and may cross tensors), then finish: the caller
 * never holds more than the chunk it writes. The layout is the one of
 * gguf-py's GGUFWriter and ggml's gguf writer:
 *
 *   "GGUF" | u32 3 | u64 n_tensors | u64 n_kv
 *   the key-value pairs, in the order their keys were first set
 *   the tensor infos, in declaration order
 *   zero padding to the alignment
 *   each tensor's bytes, in declaration order, each followed by zero
 *   padding to the alignment (the last one too)
 *
 * The alignment is general.alignment when it is set (a UINT32 power of
 * two), else 32; a tensor's offset is the sum of the padded sizes of those
 * before it. So a file that gguf-py wrote, read with qnt__gguf_open and
 * written again (set_value of every key in file order, the tensors in file
 * order), comes out byte for byte the same.
 *
 * With QNT__GGUF_WRITE_CHECKSUMS the file gets the key "qnt.xxh3_64": an
 * ARRAY of UINT64, the XXH3-64 (seed 0) of each tensor's bytes (exactly its
 * nbytes, no padding), in tensor-info order. The writer reserves the array
 * in the header (after the caller's keys, or in place when the caller set
 * that key, e.g. by copying the keys of a file that has it) and patches it
 * at finish. The writer never writes a "qnt.xxh3_64" it did not compute:
 * without the flag, a value the caller set for that key is dropped.
 * qnt__gguf_stored_checksum (gguf_read.h) reads it back.
 *
 * The output goes through an atomic file (atomic_file.h): nothing appears
 * at the destination unless finish succeeds, and an error or an abandoned
 * writer removes the temporary file.
 *
 * Errors are a qnt_status plus a message through qnt__error(ctx, ...) of
 * the form "<path>: GGUF writer: <item>: <problem>": QNT_E_INVALID_ARG
 * (NULL, a bad or reserved key, a metadata or tensor call after the data
 * has begun, a write past the end, finish before all bytes),
 * QNT_E_UNKNOWN_TYPE (ggml type), QNT_E_BAD_SHAPE (row length not a
 * multiple of the block, sizes that overflow), QNT_E_NO_MEMORY, and the
 * atomic file's QNT_E_IO / QNT_E_NOT_FOUND. A failed write is sticky.
 *
 * A writer is used by one thread at a time. POSIX only.
 */
#ifndef QNT_GGUF_WRITE_H
#define QNT_GGUF_WRITE_H

#include "checksum.h"
#include "gguf_read.h"

/* Flags of qnt__gguf_writer_create. */
#define QNT__GGUF_WRITE_NAMED_TEMP 0x1u /* QNT__AFILE_NAMED_TEMP (tests) */
#define QNT__GGUF_WRITE_CHECKSUMS 0x2u  /* write "qnt.xxh3_64" (above) */

struct qnt__gguf_writer;

/* Starts a file that finish puts at `path`. `ctx` (may be NULL) receives
 * the errors of this call and of every later one on the writer. */
qnt_status qnt__gguf_writer_create(qnt_ctx *ctx, const char *path, uint32_t flags, struct qnt__gguf_writer **out);

/* Metadata, kept in the order keys are first set; setting an existing key
 * replaces its value in place. Only before begin. A key is 1..65535 bytes.
 * general.alignment must be a UINT32 power of two. */

/* A deep copy of a value from gguf_read (any type, nested arrays), e.g. a
 * qnt__gguf_kv's value or an array element from qnt__gguf_iter_next. The
 * bytes it points at are checked to be one well-formed value of `size`
 * bytes. */
qnt_status qnt__gguf_writer_set_value(struct qnt__gguf_writer *w, const char *key, const struct qnt__gguf_value *v);
qnt_status qnt__gguf_writer_set_u32(struct qnt__gguf_writer *w, const char *key, uint32_t v);
qnt_status qnt__gguf_writer_set_i32(struct qnt__gguf_writer *w, const char *key, int32_t v);
qnt_status qnt__gguf_writer_set_u64(struct qnt__gguf_writer *w, const char *key, uint64_t v);
qnt_status qnt__gguf_writer_set_f32(struct qnt__gguf_writer *w, const char *key, float v);
qnt_status qnt__gguf_writer_set_bool(struct qnt__gguf_writer *w, const char *key, int v);
qnt_status qnt__gguf_writer_set_str(struct qnt__gguf_writer *w, const char *key, const char *s);
/* A scalar of any fixed-size type (not STRING or ARRAY) from its
 * little-endian bytes (1, 2, 4 or 8 of them, by type; a BOOL is 0 or 1). */
qnt_status qnt__gguf_writer_set_scalar(struct qnt__gguf_writer *w, const char *key, uint32_t type, const void *le);
/* An array: for numeric element types (and BOOL) `elems` is the raw
 * little-endian array of n elements; for QNT__GGUF_STRING it is a
 * `const char *const *` of n NUL-terminated strings. Arrays of arrays go
 * through set_value. n may be 0. */
qnt_status qnt__gguf_writer_set_array(struct qnt__gguf_writer *w, const char *key, uint32_t elem_type, uint64_t n,
				      const void *elems);
/* Removes a key (no-op if absent). */
qnt_status qnt__gguf_writer_remove(struct qnt__gguf_writer *w, const char *key);

/* Declares a tensor; declaration order is tensor-info order and data
 * order. A name is 1..64 bytes, unique. ne[0] is the row length (ggml
 * order), n_dims 0..4, every ne >= 0; the type is a ggml type id (libqnt's
 * qnt_type ids 0..42 are ggml's) and the row length a multiple of its
 * block. Only before begin. */
qnt_status qnt__gguf_writer_add_tensor(struct qnt__gguf_writer *w, const char *name, uint32_t ggml_type,
				       uint32_t n_dims, const int64_t *ne);

/* Lays the file out and writes the header and the tensor infos; the first
 * write (or next) does it if the caller has not. */
qnt_status qnt__gguf_writer_begin(struct qnt__gguf_writer *w);
/* The index (declaration order) of the tensor whose bytes come next, -1
 * when all are written (or when the header cannot be written). Tensors of
 * zero bytes are skipped. */
int64_t qnt__gguf_writer_next(struct qnt__gguf_writer *w);
/* Appends n bytes of tensor data; chunks of any size, may cross tensors;
 * the writer inserts the padding. More bytes than the tensors hold is an
 * error. */
qnt_status qnt__gguf_writer_write(struct qnt__gguf_writer *w, const void *data, size_t n);
/* Writes the whole of tensor `index`, which must be the next one. */
qnt_status qnt__gguf_writer_write_tensor(struct qnt__gguf_writer *w, int64_t index, const void *data, size_t n);

int64_t qnt__gguf_writer_n_tensors(const struct qnt__gguf_writer *w);
/* Bytes of tensor `index` (no padding); 0 if out of range. */
uint64_t qnt__gguf_writer_tensor_nbytes(const struct qnt__gguf_writer *w, int64_t index);
/* Bytes of the file so far (header, infos, data and padding written). */
uint64_t qnt__gguf_writer_file_size(const struct qnt__gguf_writer *w);

/* Checks that every byte was written, patches the checksums and commits
 * the file atomically. Always frees the writer; on failure nothing is left
 * at the destination (its old content stays) or beside it. */
qnt_status qnt__gguf_writer_finish(struct qnt__gguf_writer *w);
/* Abandons the file (removes the temporary file) and frees the writer.
 * NULL is a no-op. */
void qnt__gguf_writer_abort(struct qnt__gguf_writer *w);

#endif
