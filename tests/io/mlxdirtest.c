/* SPDX-License-Identifier: MIT */
/*
 * libqnt_mlxdirtest.so: a test-only shared library that exposes libqnt's
 * internal MLX folder module (lib/io/mlx_folder.h), whose symbols are
 * hidden, to tests/io/test_mlx_folder.py through small wrappers with default
 * visibility, like iotest.c. Linked with the static library. Nothing here is
 * installed or part of any API.
 *
 * Every function returning int returns a qnt_status; the message is
 * mdt_last_error(). Handles are void pointers.
 */
#include "qnt_internal.h"

#include "../../lib/io/mlx_folder.h"

#include <string.h>

#define MDT_API __attribute__((visibility("default")))

/* Mirror of struct qnt__mlxdir_tensor for ctypes (test_mlx_folder.py). */
struct mdt_tensor {
	const char *name;
	const char *module;     /* NULL unless quantized */
	int32_t quantized;
	int32_t type;
	const char *dtype;      /* stored dtype name */
	uint32_t n_dims;
	uint32_t reserved;
	uint64_t shape[QNT__ST_MAX_DIMS];
	uint64_t nelements;
	int32_t mode, bits, group_size;
	int32_t reserved2;
	const char *scale_dtype; /* NULL unless quantized */
	uint64_t n_matrices;
	const void *part_data[QNT__MLXDIR_N_PARTS];
	uint64_t part_bytes[QNT__MLXDIR_N_PARTS];
	const char *part_name[QNT__MLXDIR_N_PARTS];
	const char *part_file[QNT__MLXDIR_N_PARTS];
};

MDT_API const char *mdt_last_error(void);
MDT_API int mdt_max_dims(void);
MDT_API int mdt_open(const char *dir, void **out);
MDT_API void mdt_close(void *d);
MDT_API int64_t mdt_count(void *d);
MDT_API int mdt_tensor(void *d, int64_t i, struct mdt_tensor *out);
MDT_API int64_t mdt_find(void *d, const char *name);
MDT_API const char *mdt_config(void *d);
MDT_API int64_t mdt_rows(void *d, int64_t i);
MDT_API int mdt_dequantize(void *d, int64_t i, int64_t r0, int64_t r1, int dtype, void *dst);

MDT_API int mdt_w_create(const char *dir, const char *base_config, uint64_t max_shard_bytes, void **out);
MDT_API int mdt_w_set_quantization(void *w, int mode, int bits, int group_size);
MDT_API int mdt_w_add(void *w, const char *name, int type, uint32_t n_dims, const uint64_t *shape, uint32_t flags,
		      int64_t *index);
MDT_API int mdt_w_add_quant(void *w, const char *name, int mode, int bits, int group_size, int scale_dtype,
			    uint32_t n_dims, const uint64_t *shape, uint32_t flags, int64_t *index);
MDT_API int mdt_w_add_raw(void *w, const char *name, const char *dtype, uint32_t n_dims, const uint64_t *shape,
			  uint32_t flags, int64_t *index);
MDT_API int mdt_w_copy_file(void *w, const char *src, const char *name);
MDT_API uint64_t mdt_w_part_bytes(void *w, int64_t index, int part);
MDT_API int mdt_w_begin(void *w);
MDT_API int mdt_w_next(void *w, int64_t *index, int *part);
MDT_API int mdt_w_write_part(void *w, int64_t index, int part, const void *data, size_t n);
MDT_API int mdt_w_write(void *w, const void *data, size_t n);
MDT_API int mdt_w_finish(void *w);
MDT_API void mdt_w_abort(void *w);

MDT_API int mdt_type_by_name(const char *name);
MDT_API int mdt_mlx_quantize(int mode, int bits, int group_size, int dtype, uint32_t flags, float global_scale,
			     const void *src, int64_t nrows, int64_t n_per_row, uint32_t *wq, void *scales,
			     void *biases);

const char *mdt_last_error(void)
{
	return qnt__thread_error();
}

int mdt_max_dims(void)
{
	return QNT__ST_MAX_DIMS;
}

int mdt_open(const char *dir, void **out)
{
	return qnt__mlxdir_open(NULL, dir, (struct qnt__mlxdir **)out);
}

void mdt_close(void *d)
{
	qnt__mlxdir_close(d);
}

int64_t mdt_count(void *d)
{
	return qnt__mlxdir_n_tensors(d);
}

int mdt_tensor(void *d, int64_t i, struct mdt_tensor *out)
{
	const struct qnt__mlxdir_tensor *t = qnt__mlxdir_tensor_at(d, i);
	if (!t)
		return QNT_E_INVALID_ARG;
	memset(out, 0, sizeof *out);
	out->name = t->name;
	out->module = t->module;
	out->quantized = t->quantized;
	out->type = t->type;
	out->dtype = qnt__st_dtype_name(t->dtype);
	out->n_dims = t->n_dims;
	memcpy(out->shape, t->shape, t->n_dims * sizeof *t->shape);
	out->nelements = t->nelements;
	out->mode = t->mode;
	out->bits = t->bits;
	out->group_size = t->group_size;
	out->scale_dtype = t->quantized ? qnt__st_dtype_name(t->scale_dtype) : NULL;
	out->n_matrices = t->n_matrices;
	for (int p = 0; p < QNT__MLXDIR_N_PARTS; p++) {
		if (!t->parts[p])
			continue;
		out->part_data[p] = t->parts[p]->data;
		out->part_bytes[p] = t->parts[p]->nbytes;
		out->part_name[p] = t->parts[p]->name;
		out->part_file[p] = t->files[p];
	}
	return QNT_OK;
}

int64_t mdt_find(void *d, const char *name)
{
	const struct qnt__mlxdir_tensor *t = qnt__mlxdir_find(d, name);
	return t ? t - qnt__mlxdir_tensor_at(d, 0) : -1;
}

const char *mdt_config(void *d)
{
	return qnt__mlxdir_config_json(d);
}

int64_t mdt_rows(void *d, int64_t i)
{
	const struct qnt__mlxdir_tensor *t = qnt__mlxdir_tensor_at(d, i);
	return t ? qnt__mlxdir_tensor_rows(t) : -1;
}

int mdt_dequantize(void *d, int64_t i, int64_t r0, int64_t r1, int dtype, void *dst)
{
	return qnt__mlxdir_dequantize(NULL, qnt__mlxdir_tensor_at(d, i), r0, r1, dtype, dst);
}

int mdt_w_create(const char *dir, const char *base_config, uint64_t max_shard_bytes, void **out)
{
	return qnt__mlxdir_writer_create(NULL, dir, base_config, max_shard_bytes, (struct qnt__mlxdir_writer **)out);
}

int mdt_w_set_quantization(void *w, int mode, int bits, int group_size)
{
	return qnt__mlxdir_writer_set_quantization(w, mode, bits, group_size);
}

int mdt_w_add(void *w, const char *name, int type, uint32_t n_dims, const uint64_t *shape, uint32_t flags,
	      int64_t *index)
{
	return qnt__mlxdir_writer_add(w, name, type, n_dims, shape, flags, index);
}

int mdt_w_add_quant(void *w, const char *name, int mode, int bits, int group_size, int scale_dtype, uint32_t n_dims,
		    const uint64_t *shape, uint32_t flags, int64_t *index)
{
	return qnt__mlxdir_writer_add_quant(w, name, mode, bits, group_size, scale_dtype, n_dims, shape, flags,
					    index);
}

int mdt_w_add_raw(void *w, const char *name, const char *dtype, uint32_t n_dims, const uint64_t *shape,
		  uint32_t flags, int64_t *index)
{
	return qnt__mlxdir_writer_add_raw(w, name, qnt__st_dtype_from_name(dtype, strlen(dtype)), n_dims, shape,
					  flags, index);
}

int mdt_w_copy_file(void *w, const char *src, const char *name)
{
	return qnt__mlxdir_writer_copy_file(w, src, name);
}

uint64_t mdt_w_part_bytes(void *w, int64_t index, int part)
{
	return qnt__mlxdir_writer_part_bytes(w, index, (enum qnt__mlxdir_part)part);
}

int mdt_w_begin(void *w)
{
	return qnt__mlxdir_writer_begin(w);
}

int mdt_w_next(void *w, int64_t *index, int *part)
{
	enum qnt__mlxdir_part p = QNT__MLXDIR_PART_CODES;
	int more = qnt__mlxdir_writer_next(w, index, &p);
	*part = (int)p;
	return more;
}

int mdt_w_write_part(void *w, int64_t index, int part, const void *data, size_t n)
{
	return qnt__mlxdir_writer_write_part(w, index, (enum qnt__mlxdir_part)part, data, n);
}

int mdt_w_write(void *w, const void *data, size_t n)
{
	return qnt__mlxdir_writer_write(w, data, n);
}

int mdt_w_finish(void *w)
{
	return qnt__mlxdir_writer_finish(w);
}

void mdt_w_abort(void *w)
{
	qnt__mlxdir_writer_abort(w);
}

int mdt_type_by_name(const char *name)
{
	return qnt_type_by_name(name);
}

int mdt_mlx_quantize(int mode, int bits, int group_size, int dtype, uint32_t flags, float global_scale,
		     const void *src, int64_t nrows, int64_t n_per_row, uint32_t *wq, void *scales, void *biases)
{
	qnt_mlx_params p = QNT_MLX_PARAMS_INIT;
	p.mode = mode;
	p.bits = bits;
	p.group_size = group_size;
	p.dtype = dtype;
	p.flags = flags;
	p.global_scale = global_scale;
	return qnt_mlx_quantize(NULL, &p, src, nrows, n_per_row, wq, scales, biases);
}
