/* SPDX-License-Identifier: MIT */
/*
 * libqnt_iotest.so: a test-only shared library that exposes libqnt's
 * internal file modules (lib/io: safetensors.h, gguf_read.h, gguf_write.h,
 * atomic_file.h), whose
 * symbols are hidden, to the Python tests in this directory through small
 * wrappers with default visibility. Linked with the static library.
 * Nothing here is installed or part of any API.
 *
 * Every function returning int returns a qnt_status; the message is
 * iotest_last_error(). Handles are void pointers.
 */
#include "qnt_internal.h"

#include "../../lib/io/atomic_file.h"
#include "../../lib/io/gguf_write.h"
#include "../../lib/io/safetensors.h"

/* The reference for the checksums: libxxhash's one-shot XXH3_64bits, not
 * libqnt's wrapper (the writers hash in pieces, with the streaming API). */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <string.h>

#define IOTEST_API __attribute__((visibility("default")))

/* Mirror of the tensor record for ctypes (tests/io/iotest.py). */
struct iotest_tensor {
	const char *name;
	const char *dtype;
	uint32_t n_dims;
	uint32_t reserved;
	uint64_t shape[QNT__ST_MAX_DIMS];
	uint64_t nelements;
	uint64_t begin, end;
	uint64_t file_offset;
	uint64_t nbytes;
	const void *data;
	uint64_t header_offset;
};

IOTEST_API const char *iotest_last_error(void);
IOTEST_API int iotest_max_dims(void);
IOTEST_API const char *iotest_dtype_name(int dtype);
IOTEST_API int iotest_dtype_from_name(const char *name);
IOTEST_API uint32_t iotest_dtype_bits(int dtype);
IOTEST_API int iotest_dtype_to_qnt(int dtype);

IOTEST_API int iotest_st_open(const char *path, void **out);
IOTEST_API int iotest_st_open_memory(const char *name, const void *data, size_t size, void **out);
IOTEST_API void iotest_st_close(void *f);
IOTEST_API uint64_t iotest_st_file_size(void *f);
IOTEST_API uint64_t iotest_st_header_size(void *f);
IOTEST_API uint64_t iotest_st_data_offset(void *f);
IOTEST_API int64_t iotest_st_count(void *f);
IOTEST_API int iotest_st_tensor(void *f, int64_t i, struct iotest_tensor *out);
IOTEST_API int64_t iotest_st_find(void *f, const char *name);
IOTEST_API int64_t iotest_st_meta_count(void *f);
IOTEST_API void iotest_st_meta(void *f, int64_t i, const char **key, const char **value);
IOTEST_API const char *iotest_st_meta_get(void *f, const char *key);

IOTEST_API int iotest_w_create(const char *path, uint32_t flags, void **out);
IOTEST_API int iotest_w_meta(void *w, const char *key, const char *value);
IOTEST_API int iotest_w_add(void *w, const char *name, const char *dtype, uint32_t n_dims, const uint64_t *shape);
IOTEST_API int iotest_w_begin(void *w);
IOTEST_API int64_t iotest_w_next(void *w);
IOTEST_API int iotest_w_write(void *w, const void *data, size_t n);
IOTEST_API int iotest_w_write_tensor(void *w, int64_t index, const void *data, size_t n);
IOTEST_API uint64_t iotest_w_data_size(void *w);
IOTEST_API uint64_t iotest_w_written(void *w);
IOTEST_API int iotest_w_finish(void *w);
IOTEST_API void iotest_w_abort(void *w);

IOTEST_API int iotest_sw_create(const char *dir, uint64_t max_shard_bytes, uint32_t flags, int64_t total_parameters,
				void **out);
IOTEST_API int iotest_sw_meta(void *s, const char *key, const char *value);
IOTEST_API int iotest_sw_add(void *s, const char *name, const char *dtype, uint32_t n_dims, const uint64_t *shape);
IOTEST_API int iotest_sw_begin(void *s);
IOTEST_API int64_t iotest_sw_n_shards(void *s);
IOTEST_API const char *iotest_sw_shard_name(void *s, int64_t i);
IOTEST_API int64_t iotest_sw_tensor_shard(void *s, int64_t index);
IOTEST_API int64_t iotest_sw_next(void *s);
IOTEST_API int iotest_sw_write(void *s, const void *data, size_t n);
IOTEST_API int iotest_sw_write_tensor(void *s, int64_t index, const void *data, size_t n);
IOTEST_API int iotest_sw_finish(void *s);
IOTEST_API void iotest_sw_abort(void *s);

IOTEST_API int iotest_ix_open(const char *path, uint32_t flags, void **out);
IOTEST_API void iotest_ix_close(void *x);
IOTEST_API int64_t iotest_ix_count(void *x);
IOTEST_API const char *iotest_ix_tensor_name(void *x, int64_t i);
IOTEST_API int64_t iotest_ix_tensor_shard(void *x, int64_t i);
IOTEST_API int64_t iotest_ix_n_shards(void *x);
IOTEST_API const char *iotest_ix_shard_name(void *x, int64_t i);
IOTEST_API int64_t iotest_ix_meta_count(void *x);
IOTEST_API void iotest_ix_meta(void *x, int64_t i, const char **key, const char **value);
IOTEST_API int64_t iotest_ix_total_size(void *x);
IOTEST_API int iotest_ix_find(void *x, const char *name, struct iotest_tensor *out, const char **shard_path);
IOTEST_API int iotest_ix_verify(void *x);

IOTEST_API int iotest_af_create(const char *path, uint32_t flags, void **out);
IOTEST_API int iotest_af_write(void *f, const void *data, size_t n);
IOTEST_API int iotest_af_pwrite(void *f, const void *data, size_t n, uint64_t offset);
IOTEST_API uint64_t iotest_af_size(void *f);
IOTEST_API const char *iotest_af_temp_path(void *f);
IOTEST_API int iotest_af_commit(void *f);
IOTEST_API void iotest_af_abort(void *f);

/* ---- common ---- */

const char *iotest_last_error(void)
{
	return qnt__thread_error();
}

int iotest_max_dims(void)
{
	return QNT__ST_MAX_DIMS;
}

const char *iotest_dtype_name(int dtype)
{
	return qnt__st_dtype_name(dtype);
}

int iotest_dtype_from_name(const char *name)
{
	return name ? qnt__st_dtype_from_name(name, strlen(name)) : -1;
}

uint32_t iotest_dtype_bits(int dtype)
{
	return qnt__st_dtype_bits(dtype);
}

int iotest_dtype_to_qnt(int dtype)
{
	return qnt__st_dtype_to_qnt(dtype);
}

static void fill_tensor(const struct qnt__st_tensor *t, struct iotest_tensor *out)
{
	memset(out, 0, sizeof *out);
	out->name = t->name;
	out->dtype = qnt__st_dtype_name(t->dtype);
	out->n_dims = t->n_dims;
	for (uint32_t i = 0; i < t->n_dims; i++)
		out->shape[i] = t->shape[i];
	out->nelements = t->nelements;
	out->begin = t->begin;
	out->end = t->end;
	out->file_offset = t->file_offset;
	out->nbytes = t->nbytes;
	out->data = t->data;
	out->header_offset = t->header_offset;
}

/* ---- reader ---- */

int iotest_st_open(const char *path, void **out)
{
	qnt__clear_error(NULL);
	return qnt__st_open(NULL, path, (struct qnt__st_file **)out);
}

int iotest_st_open_memory(const char *name, const void *data, size_t size, void **out)
{
	qnt__clear_error(NULL);
	return qnt__st_open_memory(NULL, name, data, size, (struct qnt__st_file **)out);
}

void iotest_st_close(void *f)
{
	qnt__st_close(f);
}

uint64_t iotest_st_file_size(void *f)
{
	return qnt__st_file_size(f);
}

uint64_t iotest_st_header_size(void *f)
{
	return qnt__st_header_size(f);
}

uint64_t iotest_st_data_offset(void *f)
{
	return qnt__st_data_offset(f);
}

int64_t iotest_st_count(void *f)
{
	return qnt__st_n_tensors(f);
}

int iotest_st_tensor(void *f, int64_t i, struct iotest_tensor *out)
{
	const struct qnt__st_tensor *t = qnt__st_tensor_at(f, i);
	if (!t)
		return QNT_E_NOT_FOUND;
	fill_tensor(t, out);
	return QNT_OK;
}

int64_t iotest_st_find(void *f, const char *name)
{
	const struct qnt__st_tensor *t = qnt__st_find(f, name);
	return t ? t - qnt__st_tensor_at(f, 0) : -1;
}

int64_t iotest_st_meta_count(void *f)
{
	return qnt__st_n_metadata(f);
}

void iotest_st_meta(void *f, int64_t i, const char **key, const char **value)
{
	qnt__st_metadata_at(f, i, key, value);
}

const char *iotest_st_meta_get(void *f, const char *key)
{
	return qnt__st_metadata_get(f, key);
}

/* ---- writer ---- */

static int dtype_arg(const char *dtype)
{
	return dtype ? qnt__st_dtype_from_name(dtype, strlen(dtype)) : -1;
}

int iotest_w_create(const char *path, uint32_t flags, void **out)
{
	qnt__clear_error(NULL);
	return qnt__st_writer_create(NULL, path, flags, (struct qnt__st_writer **)out);
}

int iotest_w_meta(void *w, const char *key, const char *value)
{
	return qnt__st_writer_set_metadata(w, key, value);
}

int iotest_w_add(void *w, const char *name, const char *dtype, uint32_t n_dims, const uint64_t *shape)
{
	return qnt__st_writer_add(w, name, dtype_arg(dtype), n_dims, shape);
}

int iotest_w_begin(void *w)
{
	return qnt__st_writer_begin(w);
}

int64_t iotest_w_next(void *w)
{
	return qnt__st_writer_next(w);
}

int iotest_w_write(void *w, const void *data, size_t n)
{
	return qnt__st_writer_write(w, data, n);
}

int iotest_w_write_tensor(void *w, int64_t index, const void *data, size_t n)
{
	return qnt__st_writer_write_tensor(w, index, data, n);
}

uint64_t iotest_w_data_size(void *w)
{
	return qnt__st_writer_data_size(w);
}

uint64_t iotest_w_written(void *w)
{
	return qnt__st_writer_written(w);
}

int iotest_w_finish(void *w)
{
	return qnt__st_writer_finish(w);
}

void iotest_w_abort(void *w)
{
	qnt__st_writer_abort(w);
}

/* ---- sharded writer ---- */

int iotest_sw_create(const char *dir, uint64_t max_shard_bytes, uint32_t flags, int64_t total_parameters,
		     void **out)
{
	qnt__clear_error(NULL);
	struct qnt__st_shards_opts o = { max_shard_bytes, flags, total_parameters };
	return qnt__st_shards_create(NULL, dir, &o, (struct qnt__st_shards **)out);
}

int iotest_sw_meta(void *s, const char *key, const char *value)
{
	return qnt__st_shards_set_metadata(s, key, value);
}

int iotest_sw_add(void *s, const char *name, const char *dtype, uint32_t n_dims, const uint64_t *shape)
{
	return qnt__st_shards_add(s, name, dtype_arg(dtype), n_dims, shape);
}

int iotest_sw_begin(void *s)
{
	return qnt__st_shards_begin(s);
}

int64_t iotest_sw_n_shards(void *s)
{
	return qnt__st_shards_n_shards(s);
}

const char *iotest_sw_shard_name(void *s, int64_t i)
{
	return qnt__st_shards_shard_name(s, i);
}

int64_t iotest_sw_tensor_shard(void *s, int64_t index)
{
	return qnt__st_shards_tensor_shard(s, index);
}

int64_t iotest_sw_next(void *s)
{
	return qnt__st_shards_next(s);
}

int iotest_sw_write(void *s, const void *data, size_t n)
{
	return qnt__st_shards_write(s, data, n);
}

int iotest_sw_write_tensor(void *s, int64_t index, const void *data, size_t n)
{
	return qnt__st_shards_write_tensor(s, index, data, n);
}

int iotest_sw_finish(void *s)
{
	return qnt__st_shards_finish(s);
}

void iotest_sw_abort(void *s)
{
	qnt__st_shards_abort(s);
}

/* ---- index ---- */

int iotest_ix_open(const char *path, uint32_t flags, void **out)
{
	qnt__clear_error(NULL);
	return qnt__st_index_open(NULL, path, flags, (struct qnt__st_index **)out);
}

void iotest_ix_close(void *x)
{
	qnt__st_index_close(x);
}

int64_t iotest_ix_count(void *x)
{
	return qnt__st_index_n_tensors(x);
}

const char *iotest_ix_tensor_name(void *x, int64_t i)
{
	return qnt__st_index_tensor_name(x, i);
}

int64_t iotest_ix_tensor_shard(void *x, int64_t i)
{
	return qnt__st_index_tensor_shard(x, i);
}

int64_t iotest_ix_n_shards(void *x)
{
	return qnt__st_index_n_shards(x);
}

const char *iotest_ix_shard_name(void *x, int64_t i)
{
	return qnt__st_index_shard_name(x, i);
}

int64_t iotest_ix_meta_count(void *x)
{
	return qnt__st_index_n_metadata(x);
}

void iotest_ix_meta(void *x, int64_t i, const char **key, const char **value)
{
	qnt__st_index_metadata_at(x, i, key, value);
}

int64_t iotest_ix_total_size(void *x)
{
	return qnt__st_index_total_size(x);
}

int iotest_ix_find(void *x, const char *name, struct iotest_tensor *out, const char **shard_path)
{
	const struct qnt__st_tensor *t;
	struct qnt__st_file *f;
	qnt__clear_error(NULL);
	qnt_status st = qnt__st_index_find(NULL, x, name, &t, &f);
	if (st == QNT_OK) {
		fill_tensor(t, out);
		*shard_path = qnt__st_path(f);
	}
	return st;
}

int iotest_ix_verify(void *x)
{
	qnt__clear_error(NULL);
	return qnt__st_index_verify(NULL, x);
}

/* ---- atomic file ---- */

int iotest_af_create(const char *path, uint32_t flags, void **out)
{
	qnt__clear_error(NULL);
	return qnt__afile_create(NULL, path, flags, (struct qnt__afile **)out);
}

int iotest_af_write(void *f, const void *data, size_t n)
{
	return qnt__afile_write(f, data, n);
}

int iotest_af_pwrite(void *f, const void *data, size_t n, uint64_t offset)
{
	return qnt__afile_pwrite(f, data, n, offset);
}

uint64_t iotest_af_size(void *f)
{
	return qnt__afile_size(f);
}

const char *iotest_af_temp_path(void *f)
{
	return qnt__afile_temp_path(f);
}

int iotest_af_commit(void *f)
{
	return qnt__afile_commit(f);
}

void iotest_af_abort(void *f)
{
	qnt__afile_abort(f);
}

/* ---- checksums ---- */

IOTEST_API uint64_t iotest_xxh3_ref(const void *data, size_t n);
IOTEST_API uint64_t iotest_xxh3_qnt(const void *data, size_t n);

uint64_t iotest_xxh3_ref(const void *data, size_t n)
{
	return XXH3_64bits(data, n);
}

uint64_t iotest_xxh3_qnt(const void *data, size_t n)
{
	return qnt__xxh3_64(data, n);
}

/* ---- GGUF reader ---- */

/* Mirror of a GGUF tensor for ctypes. */
struct iotest_gguf_tensor {
	const char *name;
	uint32_t n_dims;
	uint32_t type;
	int64_t ne[QNT__GGUF_MAX_DIMS];
	uint64_t offset, file_offset, nbytes;
	const void *data;
	uint64_t info_offset;
};

/* Mirror of a value: type, elem_type, n, data, size, offset. */
struct iotest_gguf_value {
	uint32_t type, elem_type;
	uint64_t n;
	const void *data;
	uint64_t size, offset;
};

IOTEST_API int iotest_gguf_open(const char *path, void **out);
IOTEST_API int iotest_gguf_open_memory(const char *name, const void *data, size_t size, void **out);
IOTEST_API void iotest_gguf_close(void *g);
IOTEST_API uint32_t iotest_gguf_version(void *g);
IOTEST_API uint32_t iotest_gguf_alignment(void *g);
IOTEST_API uint64_t iotest_gguf_data_offset(void *g);
IOTEST_API int64_t iotest_gguf_n_kv(void *g);
IOTEST_API const char *iotest_gguf_kv(void *g, int64_t i, struct iotest_gguf_value *v, uint64_t *key_offset);
IOTEST_API int64_t iotest_gguf_n_tensors(void *g);
IOTEST_API int iotest_gguf_tensor(void *g, int64_t i, struct iotest_gguf_tensor *out);
IOTEST_API int iotest_gguf_stored_checksum(void *g, int64_t i, uint64_t *out);
IOTEST_API int iotest_gguf_verify_checksums(void *g);

int iotest_gguf_open(const char *path, void **out)
{
	qnt__clear_error(NULL);
	return qnt__gguf_open(NULL, path, (struct qnt__gguf **)out);
}

int iotest_gguf_open_memory(const char *name, const void *data, size_t size, void **out)
{
	qnt__clear_error(NULL);
	return qnt__gguf_open_memory(NULL, name, data, size, (struct qnt__gguf **)out);
}

void iotest_gguf_close(void *g)
{
	qnt__gguf_close(g);
}

uint32_t iotest_gguf_version(void *g)
{
	return qnt__gguf_version(g);
}

uint32_t iotest_gguf_alignment(void *g)
{
	return qnt__gguf_alignment(g);
}

uint64_t iotest_gguf_data_offset(void *g)
{
	return qnt__gguf_data_offset(g);
}

int64_t iotest_gguf_n_kv(void *g)
{
	return qnt__gguf_n_kv(g);
}

const char *iotest_gguf_kv(void *g, int64_t i, struct iotest_gguf_value *v, uint64_t *key_offset)
{
	const struct qnt__gguf_kv *kv = qnt__gguf_kv_at(g, i);
	if (!kv)
		return NULL;
	*v = (struct iotest_gguf_value){ kv->value.type, kv->value.elem_type, kv->value.n,
					 kv->value.data, kv->value.size, kv->value.offset };
	*key_offset = kv->offset;
	return kv->key;
}

int64_t iotest_gguf_n_tensors(void *g)
{
	return qnt__gguf_n_tensors(g);
}

int iotest_gguf_tensor(void *g, int64_t i, struct iotest_gguf_tensor *out)
{
	const struct qnt__gguf_tensor *t = qnt__gguf_tensor_at(g, i);
	if (!t)
		return QNT_E_NOT_FOUND;
	memset(out, 0, sizeof *out);
	out->name = t->name;
	out->n_dims = t->n_dims;
	out->type = t->type;
	memcpy(out->ne, t->ne, sizeof out->ne);
	out->offset = t->offset;
	out->file_offset = t->file_offset;
	out->nbytes = t->nbytes;
	out->data = t->data;
	out->info_offset = t->info_offset;
	return QNT_OK;
}

int iotest_gguf_stored_checksum(void *g, int64_t i, uint64_t *out)
{
	return qnt__gguf_stored_checksum(g, i, out);
}

int iotest_gguf_verify_checksums(void *g)
{
	qnt__clear_error(NULL);
	return qnt__gguf_verify_checksums(NULL, g);
}

/* ---- GGUF writer ---- */

IOTEST_API int iotest_gw_create(const char *path, uint32_t flags, void **out);
IOTEST_API int iotest_gw_set_value(void *w, const char *key, const struct iotest_gguf_value *v);
IOTEST_API int iotest_gw_copy_kv(void *w, void *g, int64_t i);
IOTEST_API int iotest_gw_set_u32(void *w, const char *key, uint32_t v);
IOTEST_API int iotest_gw_set_i32(void *w, const char *key, int32_t v);
IOTEST_API int iotest_gw_set_u64(void *w, const char *key, uint64_t v);
IOTEST_API int iotest_gw_set_f32(void *w, const char *key, float v);
IOTEST_API int iotest_gw_set_bool(void *w, const char *key, int v);
IOTEST_API int iotest_gw_set_str(void *w, const char *key, const char *s);
IOTEST_API int iotest_gw_set_scalar(void *w, const char *key, uint32_t type, const void *le);
IOTEST_API int iotest_gw_set_array(void *w, const char *key, uint32_t elem_type, uint64_t n, const void *elems);
IOTEST_API int iotest_gw_remove(void *w, const char *key);
IOTEST_API int iotest_gw_add_tensor(void *w, const char *name, uint32_t type, uint32_t n_dims, const int64_t *ne);
IOTEST_API int iotest_gw_begin(void *w);
IOTEST_API int64_t iotest_gw_next(void *w);
IOTEST_API int iotest_gw_write(void *w, const void *data, size_t n);
IOTEST_API int iotest_gw_write_tensor(void *w, int64_t index, const void *data, size_t n);
IOTEST_API int64_t iotest_gw_n_tensors(void *w);
IOTEST_API uint64_t iotest_gw_tensor_nbytes(void *w, int64_t index);
IOTEST_API uint64_t iotest_gw_file_size(void *w);
IOTEST_API int iotest_gw_finish(void *w);
IOTEST_API void iotest_gw_abort(void *w);

int iotest_gw_create(const char *path, uint32_t flags, void **out)
{
	qnt__clear_error(NULL);
	return qnt__gguf_writer_create(NULL, path, flags, (struct qnt__gguf_writer **)out);
}

int iotest_gw_set_value(void *w, const char *key, const struct iotest_gguf_value *v)
{
	struct qnt__gguf_value val = { v->type, v->elem_type, v->n, v->data, v->size, v->offset };
	return qnt__gguf_writer_set_value(w, key, &val);
}

int iotest_gw_copy_kv(void *w, void *g, int64_t i)
{
	const struct qnt__gguf_kv *kv = qnt__gguf_kv_at(g, i);
	if (!kv)
		return QNT_E_NOT_FOUND;
	return qnt__gguf_writer_set_value(w, kv->key, &kv->value);
}

int iotest_gw_set_u32(void *w, const char *key, uint32_t v)
{
	return qnt__gguf_writer_set_u32(w, key, v);
}

int iotest_gw_set_i32(void *w, const char *key, int32_t v)
{
	return qnt__gguf_writer_set_i32(w, key, v);
}

int iotest_gw_set_u64(void *w, const char *key, uint64_t v)
{
	return qnt__gguf_writer_set_u64(w, key, v);
}

int iotest_gw_set_f32(void *w, const char *key, float v)
{
	return qnt__gguf_writer_set_f32(w, key, v);
}

int iotest_gw_set_bool(void *w, const char *key, int v)
{
	return qnt__gguf_writer_set_bool(w, key, v);
}

int iotest_gw_set_str(void *w, const char *key, const char *s)
{
	return qnt__gguf_writer_set_str(w, key, s);
}

int iotest_gw_set_scalar(void *w, const char *key, uint32_t type, const void *le)
{
	return qnt__gguf_writer_set_scalar(w, key, type, le);
}

int iotest_gw_set_array(void *w, const char *key, uint32_t elem_type, uint64_t n, const void *elems)
{
	return qnt__gguf_writer_set_array(w, key, elem_type, n, elems);
}

int iotest_gw_remove(void *w, const char *key)
{
	return qnt__gguf_writer_remove(w, key);
}

int iotest_gw_add_tensor(void *w, const char *name, uint32_t type, uint32_t n_dims, const int64_t *ne)
{
	return qnt__gguf_writer_add_tensor(w, name, type, n_dims, ne);
}

int iotest_gw_begin(void *w)
{
	return qnt__gguf_writer_begin(w);
}

int64_t iotest_gw_next(void *w)
{
	return qnt__gguf_writer_next(w);
}

int iotest_gw_write(void *w, const void *data, size_t n)
{
	return qnt__gguf_writer_write(w, data, n);
}

int iotest_gw_write_tensor(void *w, int64_t index, const void *data, size_t n)
{
	return qnt__gguf_writer_write_tensor(w, index, data, n);
}

int64_t iotest_gw_n_tensors(void *w)
{
	return qnt__gguf_writer_n_tensors(w);
}

uint64_t iotest_gw_tensor_nbytes(void *w, int64_t index)
{
	return qnt__gguf_writer_tensor_nbytes(w, index);
}

uint64_t iotest_gw_file_size(void *w)
{
	return qnt__gguf_writer_file_size(w);
}

int iotest_gw_finish(void *w)
{
	return qnt__gguf_writer_finish(w);
}

void iotest_gw_abort(void *w)
{
	qnt__gguf_writer_abort(w);
}

/* ---- safetensors checksums ---- */

IOTEST_API int iotest_st_stored_checksum(void *f, int64_t i, uint64_t *out);
IOTEST_API int iotest_st_verify_checksums(void *f);

int iotest_st_stored_checksum(void *f, int64_t i, uint64_t *out)
{
	return qnt__st_stored_checksum(f, i, out);
}

int iotest_st_verify_checksums(void *f)
{
	qnt__clear_error(NULL);
	return qnt__st_verify_checksums(NULL, f);
}
