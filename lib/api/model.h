/* SPDX-License-Identifier: MIT */
/*
 * The inside of a qnt_model (lib/api/model.c), shared with the model
 * pipeline (lib/api/model_quantize.c): one list of tensors over a GGUF
 * file, a safetensors file, a sharded safetensors checkpoint or an MLX
 * folder, each tensor with its data pointer into the mapped file.
 */
#ifndef QNT_MODEL_H
#define QNT_MODEL_H

#include "qnt_internal.h"

/* What a tensor's bytes are, when they are not a libqnt format. */
enum qnt__storage {
	QNT__STORE_FORMAT = 0, /* a libqnt format: qnt_dequantize reads it */
	QNT__STORE_I8, QNT__STORE_U8, QNT__STORE_I16, QNT__STORE_U16, QNT__STORE_I32, QNT__STORE_U32,
	QNT__STORE_I64, QNT__STORE_U64, QNT__STORE_F64, QNT__STORE_BOOL, QNT__STORE_F8_E4M3,
	QNT__STORE_F8_E5M2,
	QNT__STORE_MLX,    /* three planes: codes, scales, biases */
	QNT__STORE_OTHER,  /* nothing libqnt can read as floats (complex, sub-byte floats...) */
};

struct qnt__mtensor {
	const char *name;   /* owned by the reader under the model */
	uint32_t n_dims;
	int64_t shape[QNT_MAX_DIMS]; /* outermost first */
	int64_t n_elements;
	int64_t row_len;    /* shape[n_dims - 1]; 1 for a scalar */
	int64_t n_rows;     /* n_elements / row_len (0 when row_len is 0) */
	qnt_type type;      /* libqnt format or QNT_TYPE_INVALID */
	int storage;        /* enum qnt__storage */
	int elem_bytes;     /* bytes per element of storage types (not FORMAT/MLX) */
	uint32_t raw_type;  /* GGUF: the ggml type id; safetensors: the dtype */
	char dtype[40];
	const void *data;
	uint64_t nbytes;
	const char *file;   /* owned by the reader */
	uint64_t offset;
	int64_t src_index;  /* index in the underlying reader (GGUF tensor-info order) */
	int mapped;         /* data is a read-only file mapping (pages may be dropped) */
	const struct qnt__st_file *stf; /* safetensors: the file (shard) holding it */
	/* storage QNT__STORE_MLX: the folder's logical tensor (data: its codes) */
	const struct qnt__mlxdir_tensor *mx;
};

struct qnt_model {
	int32_t format; /* QNT_MODEL_* */
	char *path;
	struct qnt__gguf *gguf;
	struct qnt__st_file *st;
	struct qnt__st_index *stx;
	char *config_json;  /* folders: config.json, NUL-terminated; NULL if none */
	int64_t n;
	struct qnt__mtensor *t;
	struct qnt__name_ref *by_name; /* names sorted, for lookups */
	struct qnt__mlxdir *mlx;
	/* architecture facts for recipes, from GGUF metadata or config.json;
	 * "" and 0 when unknown */
	char arch[64];
	int64_t n_layer, n_expert, n_head, n_head_kv;
};

/* Reads rows of a tensor as floats, on an acquired context (no locking). */
qnt_status qnt__model_read_rows(qnt_ctx *ctx, const struct qnt_model *m, int64_t index, int64_t row0,
				int64_t n_rows, float *out);
#endif
