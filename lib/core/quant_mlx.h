/* SPDX-License-Identifier: MIT */
/* MLX formats (quant_mlx.c): the group kernels behind the planar calls of
 * lib/api/mlx.c and the registry family "mlx:*". */
#ifndef QNT_QUANT_MLX_H
#define QNT_QUANT_MLX_H

#include "qnt_internal.h"

/* Element types, in the order of the registry ids (id = 256 + 32*d + k). */
#define QNT__MLX_F32 0
#define QNT__MLX_F16 1
#define QNT__MLX_BF16 2

#define QNT__MLX_ID_BASE 256

/* A resolved, valid MLX format (defaults filled in). */
struct qnt__mlx_fmt {
	int32_t mode;       /* QNT_MLX_* */
	int32_t bits;
	int32_t group_size;
	int32_t d;          /* QNT__MLX_F32, _F16, _BF16 */
	int32_t has_global; /* nvfp4 only */
	float global_scale;
};

/* Bytes of one element of d (4 or 2). */
size_t qnt__mlx_dsize(int32_t d);
/* Bytes of one scale (affine: dsize; fp modes: 1). */
size_t qnt__mlx_scale_size(const struct qnt__mlx_fmt *f);

/* Resolves params (mode, bits and group 0 = defaults; dtype a QNT_TYPE_*).
 * Returns QNT_OK, or QNT_E_UNSUPPORTED with a description of the offending
 * value in why (e.g. "bits 7 is not an affine width (1, 2, 3, 4, 5, 6, 8)"). */
qnt_status qnt__mlx_resolve(int32_t mode, int32_t bits, int32_t group_size, qnt_type dtype,
			    struct qnt__mlx_fmt *out, char *why, size_t why_size);

/* The registry id of f (global scale ignored), or QNT_TYPE_INVALID when the
 * registry has no interleaved form of it (1-bit affine). */
qnt_type qnt__mlx_type_of(const struct qnt__mlx_fmt *f);
/* The format of a registry id; 0 if the id is not an MLX format. */
int qnt__mlx_fmt_of(qnt_type type, struct qnt__mlx_fmt *out);

/* Planar rows [r0, r1) of a tensor with n elements per row (n a multiple of
 * the group size). src/dst hold elements of f->d; wq/scales/biases are the
 * whole tensors (row strides derived from n). */
void qnt__mlx_quantize_rows(const struct qnt__mlx_fmt *f, const void *src, int64_t r0, int64_t r1, int64_t n,
			    uint32_t *wq, void *scales, void *biases);
void qnt__mlx_dequantize_rows(const struct qnt__mlx_fmt *f, const uint32_t *wq, const void *scales,
			      const void *biases, int64_t r0, int64_t r1, int64_t n, void *dst);

#endif
