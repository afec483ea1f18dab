/* SPDX-License-Identifier: MIT */
/*
 * MLX model folders (the layout of mlx-lm's save / load_model), for the
 * internal use of libqnt (the model API sits on top of it).
 *
 * A folder holds config.json and the weights: model.safetensors, or shards
 * with model.safetensors.index.json (mlx-lm always writes the index, even
 * for one shard; without an index the reader takes every model*.safetensors
 * file, as mlx-lm's loader globs them). A module P quantized by MLX is
 * stored as
 *     P.weight   U32 (..., in * bits / 32)  the codes, packed LSB-first
 *     P.scales   (..., in / group_size)      affine: F32, F16 or BF16; fp modes: U8
 *     P.biases   as P.scales                 affine only
 *     P.global_scale  F32, one per matrix    nvfp4 with a tensor scale only
 * where "..." is the output rows (and experts for stacked 3-D weights).
 * config.json has "quantization": {"group_size": G, "bits": B, "mode": M,
 * <module path>: {"group_size", "bits", "mode"} | false, ...} and
 * "quantization_config", a copy of it. The settings of a module are those
 * of its entry when it has one (missing or null keys: mode "affine", the
 * mode's default group size and bits, as nn.quantize's to_quantized), else
 * the global ones (null: the mode's default; no "mode": affine); false
 * means not quantized. The defaults: affine 64/4, mxfp4 32/4, mxfp8 32/8,
 * nvfp4 16/4.
 *
 * Reading (qnt__mlxdir_open) opens and checks the whole folder before it
 * returns: every shard, and for each quantized module (one with P.scales
 * and either U32 codes in P.weight or an entry of its own in
 * "quantization"; a float P.weight beside a P.scales is two plain tensors)
 * its codes, scales, biases and global scale against its settings; every
 * entry of "quantization" names a module of the folder (an object: a
 * quantized one; false: one with tensors). It exposes
 * LOGICAL tensors, sorted by name: one "P.weight" per quantized module,
 * with its float shape (last dimension in = scales columns * group size)
 * and pointers to the stored arrays, and every other stored tensor as it
 * is. Errors: QNT_E_NOT_FOUND (no folder, no config.json, no weights, a
 * shard the index names is missing), QNT_E_FORMAT (malformed JSON, a
 * tensor inconsistent with its settings, an override for a module the
 * folder does not have, ...), QNT_E_UNSUPPORTED (settings MLX does not
 * define), QNT_E_IO, QNT_E_NO_MEMORY; messages name the folder, the file,
 * the tensor and what is wrong:
 *     "<dir>: <file>: <tensor>: <problem>".
 * The handle is immutable once open: any number of threads may read it.
 * Differences from mlx-lm's loader: with an index, the shards are those it
 * names (mlx-lm globs model*.safetensors, index or not); a module's input
 * width comes from its settings (mlx-lm takes it from the model class and
 * infers group size and bits from the shapes), so a module without an entry
 * whose arrays do not fit the global settings is an error; config.json must
 * be plain JSON (jansson: integers within int64, no NaN or Infinity
 * literals; mlx-lm tags those as objects, which pass through).
 *
 * Writing (qnt__mlxdir_writer_*): streaming, like the safetensors writers.
 * Declare the logical tensors (a float tensor, a quantized "P.weight" with
 * its settings and scale dtype, or any other safetensors dtype), then write
 * their stored parts in declaration order, each tensor's parts in the order
 * codes, scales, biases (affine), global scale (nvfp4 with one): the caller
 * holds one part at a time. The shards are split as mlx-lm's save_model
 * (declaration order; a new shard once max_shard_bytes would be passed),
 * with {"format": "mlx"} metadata and the index always written; config.json
 * is the base config (may be NULL: {}) less "_name_or_path" and
 * "vision_config", with "quantization" and "quantization_config" (the same
 * object: the global settings, then an entry per module whose settings
 * differ from them or that asked for one, and false for the tensors
 * declared QNT__MLXDIR_ADD_NOT_QUANTIZED), keys sorted at the top level and
 * the text of Python's json.dump(indent=4) (mlx-lm's save_config). Without
 * any quantized tensor or false entry, "quantization" and
 * "quantization_config" are removed from the base config. Files of a
 * source folder (tokenizer.json, ...) are copied when asked. Every file
 * goes through an atomic file (atomic_file.h): nothing appears before
 * finish, and an error or abort removes every temporary file.
 */
#ifndef QNT_MLX_FOLDER_H
#define QNT_MLX_FOLDER_H

#include "qnt_internal.h"
#include "safetensors.h"

#define QNT__MLXDIR_CONFIG_NAME "config.json"

/* The stored parts of a quantized tensor. */
enum qnt__mlxdir_part {
	QNT__MLXDIR_PART_CODES,        /* P.weight, U32 */
	QNT__MLXDIR_PART_SCALES,       /* P.scales */
	QNT__MLXDIR_PART_BIASES,       /* P.biases (affine) */
	QNT__MLXDIR_PART_GLOBAL_SCALE, /* P.global_scale (nvfp4 with a tensor scale) */
	QNT__MLXDIR_N_PARTS
};

/* ------------------------------------------------------------------ */
/* Reading                                                              */
/* ------------------------------------------------------------------ */

struct qnt__mlxdir_tensor {
	const char *name;       /* "P.weight" for a quantized module, else the stored name */
	const char *module;     /* P (quantized tensors), else NULL */
	int quantized;          /* 1: the parts below; 0: parts[QNT__MLXDIR_PART_CODES] is the tensor */
	/* quantized: qnt_mlx_type of (mode, bits, group, scale dtype; fp modes:
	 * BF16, MLX's default output), QNT_TYPE_INVALID for 1-bit affine, which
	 * has no registry form. Others: qnt__st_dtype_to_qnt of the dtype. */
	qnt_type type;
	int dtype;              /* stored dtype (enum qnt__st_dtype): U32 for quantized */
	uint32_t n_dims;
	uint64_t shape[QNT__ST_MAX_DIMS]; /* logical (float) shape */
	uint64_t nelements;     /* product of shape */
	/* quantized only */
	int32_t mode;           /* QNT_MLX_* */
	int32_t bits;
	int32_t group_size;
	int scale_dtype;        /* F32/F16/BF16 (affine), U8 (fp modes) */
	uint64_t n_matrices;    /* product of the dimensions before the last two (1 for 2-D) */
	/* Stored arrays: [QNT__MLXDIR_PART_CODES] always; the others NULL when
	 * absent. Their data may lie at any byte offset: mx.save_safetensors
	 * does not align tensor data (U32 codes after an odd number of BF16
	 * elements are 2-byte aligned), so copy or memcpy before reading them
	 * as uint32_t, float or uint16_t (qnt__mlxdir_dequantize does). */
	const struct qnt__st_tensor *parts[QNT__MLXDIR_N_PARTS];
	const char *files[QNT__MLXDIR_N_PARTS]; /* path of the file of each part */
};

struct qnt__mlxdir;

qnt_status qnt__mlxdir_open(qnt_ctx *ctx, const char *dir, struct qnt__mlxdir **out);
void qnt__mlxdir_close(struct qnt__mlxdir *d); /* NULL: no-op */

const char *qnt__mlxdir_path(const struct qnt__mlxdir *d);
/* The text of config.json, NUL-terminated. */
const char *qnt__mlxdir_config_json(const struct qnt__mlxdir *d);
/* Logical tensors, sorted by name (bytes). */
int64_t qnt__mlxdir_n_tensors(const struct qnt__mlxdir *d);
const struct qnt__mlxdir_tensor *qnt__mlxdir_tensor_at(const struct qnt__mlxdir *d, int64_t i);
const struct qnt__mlxdir_tensor *qnt__mlxdir_find(const struct qnt__mlxdir *d, const char *name); /* NULL if absent */
/* Rows of a logical tensor: nelements / shape[n_dims-1] (1 for a scalar). */
int64_t qnt__mlxdir_tensor_rows(const struct qnt__mlxdir_tensor *t);

/* 1 and the XXH3-64 that the shard holding part `part` of t records for
 * it (qnt.xxh3_64 in its metadata, as libqnt writes it), else 0. */
int qnt__mlxdir_part_checksum(const struct qnt__mlxdir *d, const struct qnt__mlxdir_tensor *t, int part,
			      uint64_t *stored);

/* Dequantizes rows [r0, r1) of a quantized tensor (rows over all leading
 * dimensions) to `dtype` (QNT_TYPE_F32, F16 or BF16): the values of
 * mx.dequantize(w, scales, biases, group_size, bits, mode, global_scale,
 * dtype=dtype) on MLX's CPU (affine computes in the scales' dtype, then
 * converts). dst holds (r1 - r0) * shape[n_dims-1] elements. */
qnt_status qnt__mlxdir_dequantize(qnt_ctx *ctx, const struct qnt__mlxdir_tensor *t, int64_t r0, int64_t r1,
				  qnt_type dtype, void *dst);

/* ------------------------------------------------------------------ */
/* Writing                                                              */
/* ------------------------------------------------------------------ */

/* Flags of the declarations. */
#define QNT__MLXDIR_ADD_NOT_QUANTIZED 0x1u /* float tensor "P.weight": write "P": false */
#define QNT__MLXDIR_ADD_OVERRIDE 0x2u      /* quantized: write P's entry even if it equals the global one */
#define QNT__MLXDIR_ADD_GLOBAL_SCALE 0x4u  /* nvfp4: a P.global_scale part (F32, one per matrix) */

struct qnt__mlxdir_writer;

/* Starts a folder that finish writes into `dir` (which must exist).
 * base_config_json: the source's config.json text, or NULL. max_shard_bytes:
 * 0 means QNT__ST_DEFAULT_SHARD_BYTES (mlx-lm's 5 GiB). total_parameters of
 * the index: the logical element count of all tensors (mlx-lm's
 * get_total_parameters), computed from the declarations. */
qnt_status qnt__mlxdir_writer_create(qnt_ctx *ctx, const char *dir, const char *base_config_json,
				     uint64_t max_shard_bytes, struct qnt__mlxdir_writer **out);
/* The global settings ("quantization": group_size, bits, mode); without
 * this call, those of the first quantized tensor declared (affine 64/4 when
 * only false entries are). Before begin. */
qnt_status qnt__mlxdir_writer_set_quantization(struct qnt__mlxdir_writer *w, int32_t mode, int32_t bits,
					       int32_t group_size);
/* Declares a logical tensor; *index (may be NULL) receives its index
 * (0-based, in declaration order). `type`: QNT_TYPE_F32/F16/BF16 (stored as
 * is) or an MLX registry type (quantized: the name must end in ".weight";
 * the shape is the float shape, at least 2-D, its last dimension a multiple
 * of the group; the scale dtype is the type's suffix for affine, U8 for the
 * fp modes). */
qnt_status qnt__mlxdir_writer_add(struct qnt__mlxdir_writer *w, const char *name, qnt_type type, uint32_t n_dims,
				  const uint64_t *shape, uint32_t flags, int64_t *index);
/* The same for any quantized setting (1-bit affine has no registry type):
 * scale_dtype QNT_TYPE_F32/F16/BF16 (affine; ignored for the fp modes). */
qnt_status qnt__mlxdir_writer_add_quant(struct qnt__mlxdir_writer *w, const char *name, int32_t mode,
					int32_t bits, int32_t group_size, qnt_type scale_dtype, uint32_t n_dims,
					const uint64_t *shape, uint32_t flags, int64_t *index);
/* A tensor of any safetensors dtype, stored as is. */
qnt_status qnt__mlxdir_writer_add_raw(struct qnt__mlxdir_writer *w, const char *name, int st_dtype,
				      uint32_t n_dims, const uint64_t *shape, uint32_t flags, int64_t *index);
/* Records the XXH3-64 of every stored array in its shard's metadata
 * (QNT__ST_WRITE_CHECKSUMS); off by default. Before begin. */
qnt_status qnt__mlxdir_writer_set_checksums(struct qnt__mlxdir_writer *w, int on);
/* Copies `src_path` into the folder as `name` (a plain file name) at finish,
 * e.g. tokenizer.json. Before begin. */
qnt_status qnt__mlxdir_writer_copy_file(struct qnt__mlxdir_writer *w, const char *src_path, const char *name);
/* Bytes of a part of tensor `index` (0 for a part it has not). */
uint64_t qnt__mlxdir_writer_part_bytes(const struct qnt__mlxdir_writer *w, int64_t index,
				       enum qnt__mlxdir_part part);
/* Splits the shards and starts the first; the first write does it. */
qnt_status qnt__mlxdir_writer_begin(struct qnt__mlxdir_writer *w);
/* The tensor and part whose bytes come next: 1, or 0 once all are written. */
int qnt__mlxdir_writer_next(struct qnt__mlxdir_writer *w, int64_t *index, enum qnt__mlxdir_part *part);
/* Writes the whole of a part, which must be the next one: for a float or
 * raw tensor, part QNT__MLXDIR_PART_CODES is the tensor's bytes. */
qnt_status qnt__mlxdir_writer_write_part(struct qnt__mlxdir_writer *w, int64_t index, enum qnt__mlxdir_part part,
					 const void *data, size_t n);
/* Appends n bytes in that order, chunks of any size. */
qnt_status qnt__mlxdir_writer_write(struct qnt__mlxdir_writer *w, const void *data, size_t n);
/* Checks every byte was written; writes config.json and the copies, then
 * commits the shards, the index, config.json and the copies. Always frees
 * the writer; on failure removes every temporary file. */
qnt_status qnt__mlxdir_writer_finish(struct qnt__mlxdir_writer *w);
void qnt__mlxdir_writer_abort(struct qnt__mlxdir_writer *w); /* NULL: no-op */

#endif
