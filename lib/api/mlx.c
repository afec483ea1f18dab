/* SPDX-License-Identifier: MIT */
/*
 * The MLX calls of libqnt.h: parameter checks, then the rows are cut into
 * chunks and run on the context's pool with the scalar kernels of
 * lib/core/quant_mlx.c. Rows are independent, so the bytes do not depend on
 * the thread count. These calls always run on the host threads of the
 * context; they do not go through its backend.
 */
#include "qnt_internal.h"
#include "../core/quant_mlx.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* About this many elements per chunk, as in tensor.c. */
#define CHUNK_ELEMS (1 << 15)

#define KNOWN_FLAGS QNT_MLX_FLAG_GLOBAL_SCALE

/* Struct size, flags, mode/bits/group/dtype and the global scale. */
static qnt_status check_params(qnt_ctx *ctx, const char *fn, const qnt_mlx_params *p, struct qnt__mlx_fmt *f)
{
	char why[160];
	if (!p)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "%s: params is NULL", fn);
	size_t usize = p->struct_size;
	if (usize < sizeof(qnt_mlx_params))
		return qnt__error(ctx, QNT_E_INVALID_ARG,
				  "%s: params->struct_size %zu is below the 1.0 size %zu (initialise with QNT_MLX_PARAMS_INIT)",
				  fn, usize, sizeof(qnt_mlx_params));
	const unsigned char *bytes = (const unsigned char *)p;
	for (size_t i = sizeof(qnt_mlx_params); i < usize; i++)
		if (bytes[i])
			return qnt__error(ctx, QNT_E_STRUCT_TOO_NEW,
					  "%s: params sets byte %zu, a field this libqnt %s does not know (struct of %zu bytes, this library knows %zu)",
					  fn, i, QNT_VERSION_STRING, usize, sizeof(qnt_mlx_params));
	if (p->flags & ~(uint32_t)KNOWN_FLAGS)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "%s: params->flags 0x%x has unknown bits 0x%x", fn,
				  (unsigned)p->flags, (unsigned)(p->flags & ~(uint32_t)KNOWN_FLAGS));
	if (p->reserved != 0)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "%s: params->reserved is %u, must be zero", fn,
				  (unsigned)p->reserved);
	if (qnt__mlx_resolve(p->mode, p->bits, p->group_size, p->dtype, f, why, sizeof why) != QNT_OK)
		return qnt__error(ctx, QNT_E_UNSUPPORTED, "%s: %s", fn, why);
	if (p->flags & QNT_MLX_FLAG_GLOBAL_SCALE) {
		if (p->mode != QNT_MLX_NVFP4)
			return qnt__error(ctx, QNT_E_INVALID_ARG,
					  "%s: QNT_MLX_FLAG_GLOBAL_SCALE is only for nvfp4 (mode %d), not mode %d", fn,
					  QNT_MLX_NVFP4, (int)p->mode);
		if (!(p->global_scale > 0.0f) || isinf(p->global_scale))
			return qnt__error(ctx, QNT_E_INVALID_ARG,
					  "%s: global_scale %g is not a finite positive number", fn,
					  (double)p->global_scale);
		f->has_global = 1;
		f->global_scale = p->global_scale;
	} else if (p->global_scale != 0.0f) {
		return qnt__error(ctx, QNT_E_INVALID_ARG,
				  "%s: global_scale is %g but QNT_MLX_FLAG_GLOBAL_SCALE is not set", fn,
				  (double)p->global_scale);
	}
	return QNT_OK;
}

/* Pointers and shape. `elems` is the source (quantize) or the destination
 * (dequantize), `biases` must be set exactly for affine. */
static qnt_status check_buffers(qnt_ctx *ctx, const char *fn, const struct qnt__mlx_fmt *f, const void *elems,
				const char *elems_name, const void *wq, const void *scales, const void *biases,
				int64_t nrows, int64_t n_per_row)
{
	if (!elems || !wq || !scales)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "%s: %s is NULL", fn,
				  !elems ? elems_name : !wq ? "wq" : "scales");
	if (f->mode == QNT_MLX_AFFINE && !biases)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "%s: biases is NULL; affine needs one bias per group", fn);
	if (f->mode != QNT_MLX_AFFINE && biases)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "%s: biases must be NULL for mode %d (only affine has biases)",
				  fn, (int)f->mode);
	if (nrows < 0)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "%s: nrows is negative (%lld)", fn, (long long)nrows);
	if (n_per_row <= 0 || n_per_row % f->group_size != 0)
		return qnt__error(ctx, QNT_E_BAD_SHAPE,
				  "%s: n_per_row %lld is not a positive multiple of the group size %d", fn,
				  (long long)n_per_row, (int)f->group_size);
	/* the largest array is the elements (4 bytes each at most) */
	if (nrows > 0 && (uint64_t)nrows > (uint64_t)(INT64_MAX / 4) / (uint64_t)n_per_row)
		return qnt__error(ctx, QNT_E_BAD_SHAPE, "%s: %lld x %lld elements overflow", fn, (long long)nrows,
				  (long long)n_per_row);
	if (nrows > 0 && (uint64_t)(nrows * n_per_row) > SIZE_MAX / 4)
		return qnt__error(ctx, QNT_E_BAD_SHAPE, "%s: %lld x %lld elements overflow the address space", fn,
				  (long long)nrows, (long long)n_per_row);
	return QNT_OK;
}

struct run {
	const struct qnt__mlx_fmt *f;
	int quantize;
	const void *src;   /* quantize: elements */
	void *dst;         /* dequantize: elements */
	uint32_t *wq;
	void *scales;
	void *biases;
	int64_t nrows, n, rows_per_chunk;
};

static void run_chunk(void *arg, int64_t chunk, int thread)
{
	const struct run *r = arg;
	int64_t b = chunk * r->rows_per_chunk;
	int64_t e = b + r->rows_per_chunk < r->nrows ? b + r->rows_per_chunk : r->nrows;
	(void)thread;
	if (r->quantize)
		qnt__mlx_quantize_rows(r->f, r->src, b, e, r->n, r->wq, r->scales, r->biases);
	else
		qnt__mlx_dequantize_rows(r->f, r->wq, r->scales, r->biases, b, e, r->n, r->dst);
}

static void run_rows(qnt_ctx *ctx, struct run *r)
{
	if (r->nrows == 0)
		return;
	int64_t rpc = CHUNK_ELEMS / r->n;
	r->rows_per_chunk = rpc < 1 ? 1 : rpc;
	qnt__pool_run(ctx->pool, (r->nrows + r->rows_per_chunk - 1) / r->rows_per_chunk, run_chunk, r);
}

qnt_status qnt__mlx_quantize_c(qnt_ctx *c, const qnt_mlx_params *p, const void *src, int64_t nrows,
			       int64_t n_per_row, uint32_t *wq, void *scales, void *biases)
{
	static const char fn[] = "qnt_mlx_quantize";
	struct qnt__mlx_fmt f;
	qnt_status st = check_params(c, fn, p, &f);
	if (st == QNT_OK)
		st = check_buffers(c, fn, &f, src, "src", wq, scales, biases, nrows, n_per_row);
	if (st == QNT_OK) {
		struct run r = { &f, 1, src, NULL, wq, scales, biases, nrows, n_per_row, 0 };
		run_rows(c, &r);
	}
	return st;
}

QNT_API qnt_status qnt_mlx_quantize(qnt_ctx *ctx, const qnt_mlx_params *p, const void *src, int64_t nrows,
				    int64_t n_per_row, uint32_t *wq, void *scales, void *biases)
{
	qnt_status st;
	qnt_ctx *c = qnt__ctx_acquire(ctx, &st);
	if (!c)
		return st;
	st = qnt__mlx_quantize_c(c, p, src, nrows, n_per_row, wq, scales, biases);
	qnt__ctx_release(c);
	return st;
}

qnt_status qnt__mlx_dequantize_c(qnt_ctx *c, const qnt_mlx_params *p, const uint32_t *wq, const void *scales,
				 const void *biases, int64_t nrows, int64_t n_per_row, void *dst)
{
	static const char fn[] = "qnt_mlx_dequantize";
	struct qnt__mlx_fmt f;
	qnt_status st = check_params(c, fn, p, &f);
	if (st == QNT_OK)
		st = check_buffers(c, fn, &f, dst, "dst", wq, scales, biases, nrows, n_per_row);
	if (st == QNT_OK) {
		struct run r = { &f,
				 0,
				 NULL,
				 dst,
				 (uint32_t *)(uintptr_t)wq,
				 (void *)(uintptr_t)scales,
				 (void *)(uintptr_t)biases,
				 nrows,
				 n_per_row,
				 0 };
		run_rows(c, &r);
	}
	return st;
}

QNT_API qnt_status qnt_mlx_dequantize(qnt_ctx *ctx, const qnt_mlx_params *p, const uint32_t *wq,
				      const void *scales, const void *biases, int64_t nrows, int64_t n_per_row,
				      void *dst)
{
	qnt_status st;
	qnt_ctx *c = qnt__ctx_acquire(ctx, &st);
	if (!c)
		return st;
	st = qnt__mlx_dequantize_c(c, p, wq, scales, biases, nrows, n_per_row, dst);
	qnt__ctx_release(c);
	return st;
}

QNT_API qnt_type qnt_mlx_type(const qnt_mlx_params *p)
{
	struct qnt__mlx_fmt f;
	char why[160];
	if (!p || p->struct_size < sizeof(qnt_mlx_params) || (p->flags & ~(uint32_t)KNOWN_FLAGS) || p->reserved)
		return QNT_TYPE_INVALID;
	const unsigned char *bytes = (const unsigned char *)p;
	for (size_t i = sizeof(qnt_mlx_params); i < p->struct_size; i++)
		if (bytes[i])
			return QNT_TYPE_INVALID;
	if (qnt__mlx_resolve(p->mode, p->bits, p->group_size, p->dtype, &f, why, sizeof why) != QNT_OK)
		return QNT_TYPE_INVALID;
	if ((p->flags & QNT_MLX_FLAG_GLOBAL_SCALE) && p->mode != QNT_MLX_NVFP4)
		return QNT_TYPE_INVALID;
	return qnt__mlx_type_of(&f);
}

QNT_API qnt_status qnt_mlx_params_from_type(qnt_type type, qnt_mlx_params *p)
{
	static const qnt_type dtypes[] = { QNT_TYPE_F32, QNT_TYPE_F16, QNT_TYPE_BF16 };
	struct qnt__mlx_fmt f;
	if (!p || p->struct_size < sizeof(qnt_mlx_params))
		return qnt__error(NULL, QNT_E_INVALID_ARG,
				  "qnt_mlx_params_from_type: p is NULL or its struct_size is below the 1.0 size %zu",
				  sizeof(qnt_mlx_params));
	if (!qnt__mlx_fmt_of(type, &f))
		return qnt__error(NULL, QNT_E_UNKNOWN_TYPE, "qnt_mlx_params_from_type: type %d is not an MLX format",
				  (int)type);
	uint32_t usize = p->struct_size;
	memset(p, 0, usize);
	p->struct_size = usize;
	p->mode = f.mode;
	p->bits = f.bits;
	p->group_size = f.group_size;
	p->dtype = dtypes[f.d];
	return QNT_OK;
}
