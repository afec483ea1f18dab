/* SPDX-License-Identifier: MIT */
/*
 * qnt_quantize / qnt_dequantize: argument checks, then the work is cut into
 * chunks of whole rows and run on the context's pool, by the context's
 * backend when it supports the format and by the scalar reference otherwise.
 * Rows are independent, so the bytes do not depend on the chunking or the
 * thread count.
 */
#include "qnt_internal.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

/* About this many elements per chunk: large enough to amortise the hand-out,
 * small enough to balance threads on small tensors. */
#define CHUNK_ELEMS (1 << 15)

struct run {
	qnt_ctx *ctx;
	const struct qnt__type_traits *t;
	qnt_kernel_job job;   /* template: the whole tensor */
	size_t row_bytes;
	int64_t rows_per_chunk;
	int use_backend;
	atomic_int status;    /* first failure */
	atomic_llong fail_row;
};

static void run_chunk(void *arg, int64_t chunk, int thread)
{
	struct run *r = arg;
	const qnt_kernel_job *job = &r->job;
	int64_t b = chunk * r->rows_per_chunk;
	int64_t e = b + r->rows_per_chunk < job->nrows ? b + r->rows_per_chunk : job->nrows;

	if (r->use_backend) {
		qnt_kernel_job j = *job;
		j.row_begin = b;
		j.row_end = e;
		j.scratch = r->ctx->scratch[thread];
		j.scratch_bytes = r->ctx->scratch_bytes;
		const qnt_backend_vtbl *vt = r->ctx->backend->vt;
		qnt_status st = job->op == QNT_OP_QUANTIZE ? vt->quantize(r->ctx->backend_state, &j)
							   : vt->dequantize(r->ctx->backend_state, &j);
		if (st != QNT_OK) {
			int expected = QNT_OK;
			if (atomic_compare_exchange_strong(&r->status, &expected, (int)st))
				atomic_store(&r->fail_row, (long long)b);
		}
		return;
	}
	const int64_t n = job->n_per_row;
	if (job->op == QNT_OP_QUANTIZE) {
		r->t->quantize((const float *)job->src.host + b * n, (char *)job->dst.host + (size_t)b * r->row_bytes,
			       e - b, n, job->importance);
	} else {
		for (int64_t row = b; row < e; row++)
			r->t->dequantize((const char *)job->src.host + (size_t)row * r->row_bytes,
					 (float *)job->dst.host + row * n, n);
	}
}

static qnt_status dispatch(qnt_ctx *ctx, uint32_t op, const char *fn, qnt_type type, const void *src, void *dst,
			   int64_t nrows, int64_t n_per_row, const float *importance)
{
	const struct qnt__type_traits *t;
	qnt_status st = qnt__check_args(ctx, fn, type, src, dst, nrows, n_per_row, op == QNT_OP_QUANTIZE, &t);
	if (st != QNT_OK)
		return st;
	if (op == QNT_OP_QUANTIZE && importance) {
		char where[96]; /* "qnt_quantize(q4_0)", like the other messages */
		snprintf(where, sizeof where, "%s(%s)", fn, t->name);
		if ((st = qnt__check_importance(ctx, where, importance, n_per_row)) != QNT_OK)
			return st;
	}
	if (nrows == 0)
		return QNT_OK;

	struct run r;
	memset(&r, 0, sizeof r);
	r.ctx = ctx;
	r.t = t;
	r.row_bytes = qnt_row_size(type, n_per_row);
	r.job.struct_size = sizeof r.job;
	r.job.op = op;
	r.job.type = type;
	r.job.device = ctx->device;
	r.job.nrows = nrows;
	r.job.n_per_row = n_per_row;
	r.job.row_begin = 0;
	r.job.row_end = nrows;
	r.job.src.host = (void *)(uintptr_t)src;
	r.job.dst.host = dst;
	r.job.importance = op == QNT_OP_QUANTIZE ? importance : NULL;
	atomic_init(&r.status, QNT_OK);
	atomic_init(&r.fail_row, 0);

	const qnt_backend_vtbl *vt = ctx->backend->vt;
	r.use_backend = vt->supports(ctx->backend_state, type, op) &&
			(op == QNT_OP_QUANTIZE ? QNT_VTBL_HAS(vt, quantize) : QNT_VTBL_HAS(vt, dequantize));
	if (r.use_backend && QNT_VTBL_HAS(vt, scratch_bytes) &&
	    (st = qnt__ctx_ensure_scratch(ctx, vt->scratch_bytes(ctx->backend_state, &r.job))) != QNT_OK)
		return st;

	if (r.use_backend && !(vt->caps & QNT_BACKEND_CAP_HOST_THREADS)) {
		/* a device backend takes the whole tensor at once */
		r.rows_per_chunk = nrows;
		run_chunk(&r, 0, 0);
	} else {
		int64_t rpc = CHUNK_ELEMS / n_per_row;
		r.rows_per_chunk = rpc < 1 ? 1 : rpc;
		qnt__pool_run(ctx->pool, (nrows + r.rows_per_chunk - 1) / r.rows_per_chunk, run_chunk, &r);
	}
	st = (qnt_status)atomic_load(&r.status);
	if (st != QNT_OK)
		return qnt__error(ctx, st, "%s(%s): backend '%s' failed at row %lld: %s", fn, t->name, vt->name,
				  (long long)atomic_load(&r.fail_row), qnt_status_str(st));
	return QNT_OK;
}

qnt_status qnt__quantize_c(qnt_ctx *c, qnt_type type, const float *src, void *dst, int64_t nrows,
			   int64_t n_per_row, const float *importance)
{
	return dispatch(c, QNT_OP_QUANTIZE, "qnt_quantize", type, src, dst, nrows, n_per_row, importance);
}

qnt_status qnt__dequantize_c(qnt_ctx *c, qnt_type type, const void *src, float *dst, int64_t nrows,
			     int64_t n_per_row)
{
	return dispatch(c, QNT_OP_DEQUANTIZE, "qnt_dequantize", type, src, dst, nrows, n_per_row, NULL);
}

QNT_API qnt_status qnt_quantize(qnt_ctx *ctx, qnt_type type, const float *src, void *dst, int64_t nrows,
				int64_t n_per_row, const float *importance)
{
	qnt_status st;
	qnt_ctx *c = qnt__ctx_acquire(ctx, &st);
	if (!c)
		return st;
	st = dispatch(c, QNT_OP_QUANTIZE, "qnt_quantize", type, src, dst, nrows, n_per_row, importance);
	qnt__ctx_release(c);
	return st;
}

QNT_API qnt_status qnt_dequantize(qnt_ctx *ctx, qnt_type type, const void *src, float *dst, int64_t nrows,
				  int64_t n_per_row)
{
	qnt_status st;
	qnt_ctx *c = qnt__ctx_acquire(ctx, &st);
	if (!c)
		return st;
	st = dispatch(c, QNT_OP_DEQUANTIZE, "qnt_dequantize", type, src, dst, nrows, n_per_row, NULL);
	qnt__ctx_release(c);
	return st;
}
