/* SPDX-License-Identifier: MIT */
/*
 * qnt_matmul: argument checks; the activations are quantized once per call
 * to the format the kernel wants (the backend's matmul_xq_type, or the
 * reference's companion), column chunks on the context's pool; then the
 * output rows are cut into chunks and run on the pool, by the context's
 * backend when it supports QNT_OP_MATMUL for the format and by the scalar
 * reference otherwise. Every output is computed by one kernel call whatever
 * the chunking, so the result does not depend on the thread count.
 */
#include "qnt_internal.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

/* Elements of activations per quantization chunk. */
#define XQ_CHUNK_ELEMS (1 << 15)
/* Chunks per thread for the product (the pool hands them out in order; a
 * thread that runs out waits for at most the others' last chunk). A GEMV
 * (one column) reads each weight once and nothing else, so its chunks are
 * cut finer: on 2 threads, 4096 x 4096 from memory, the two threads' last
 * chunks ended a median 45-73 us apart (iq2_xxs) with 8 per thread, 10-18 us
 * with 32. */
#define CHUNKS_PER_THREAD 8
#define CHUNKS_PER_THREAD_GEMV 32
/* Rows per chunk are rounded up to a multiple of this when at least this
 * many: whole cache lines of y and whole row tiles of the kernels. */
#define CHUNK_ROW_ALIGN 16
/* Multiply-adds below which a chunk is not split further. */
#define MIN_CHUNK_WORK (1 << 16)

struct fail {
	atomic_int status; /* first failure */
	atomic_llong where;
};

static void record_failure(struct fail *f, qnt_status st, int64_t where)
{
	int expected = QNT_OK;
	if (atomic_compare_exchange_strong(&f->status, &expected, (int)st))
		atomic_store(&f->where, (long long)where);
}

/* ---- activations ---- */

struct xq_run {
	qnt_ctx *ctx;
	const struct qnt__type_traits *xt;
	qnt_kernel_job job; /* template: n_cols rows of n_in floats -> xq_type */
	size_t row_bytes;
	int64_t cols_per_chunk;
	int use_backend;
	struct fail fail;
};

static void xq_chunk(void *arg, int64_t chunk, int thread)
{
	struct xq_run *r = arg;
	const qnt_kernel_job *job = &r->job;
	const int64_t b = chunk * r->cols_per_chunk;
	const int64_t e = b + r->cols_per_chunk < job->nrows ? b + r->cols_per_chunk : job->nrows;
	if (r->use_backend) {
		qnt_kernel_job j = *job;
		j.row_begin = b;
		j.row_end = e;
		j.scratch = r->ctx->scratch[thread];
		j.scratch_bytes = r->ctx->scratch_bytes;
		qnt_status st = r->ctx->backend->vt->quantize(r->ctx->backend_state, &j);
		if (st != QNT_OK)
			record_failure(&r->fail, st, b);
		return;
	}
	r->xt->quantize((const float *)job->src.host + b * job->n_per_row,
			(char *)job->dst.host + (size_t)b * r->row_bytes, e - b, job->n_per_row, NULL);
}

/* Quantizes the n_cols columns of x to xq_type into xq. */
static qnt_status quantize_x(qnt_ctx *ctx, const char *where, qnt_type xq_type, const float *x, void *xq,
			     int64_t n_in, int64_t n_cols)
{
	struct xq_run r;
	memset(&r, 0, sizeof r);
	r.ctx = ctx;
	r.xt = qnt__traits(xq_type);
	r.row_bytes = qnt_row_size(xq_type, n_in);
	r.job.struct_size = sizeof r.job;
	r.job.op = QNT_OP_QUANTIZE;
	r.job.type = xq_type;
	r.job.device = ctx->device;
	r.job.nrows = n_cols;
	r.job.n_per_row = n_in;
	r.job.row_end = n_cols;
	r.job.src.host = (void *)(uintptr_t)x;
	r.job.dst.host = xq;
	atomic_init(&r.fail.status, QNT_OK);
	atomic_init(&r.fail.where, 0);

	const qnt_backend_vtbl *vt = ctx->backend->vt;
	/* the backend's quantizer gives the reference's bytes; it is used only
	 * when it runs on host memory from the pool */
	r.use_backend = (vt->caps & QNT_BACKEND_CAP_HOST_THREADS) && QNT_VTBL_HAS(vt, quantize) &&
			vt->supports(ctx->backend_state, xq_type, QNT_OP_QUANTIZE);
	qnt_status st;
	if (r.use_backend && QNT_VTBL_HAS(vt, scratch_bytes) &&
	    (st = qnt__ctx_ensure_scratch(ctx, vt->scratch_bytes(ctx->backend_state, &r.job))) != QNT_OK)
		return st;
	int64_t cpc = XQ_CHUNK_ELEMS / n_in;
	r.cols_per_chunk = cpc < 1 ? 1 : cpc;
	qnt__pool_run(ctx->pool, (n_cols + r.cols_per_chunk - 1) / r.cols_per_chunk, xq_chunk, &r);
	st = (qnt_status)atomic_load(&r.fail.status);
	if (st != QNT_OK)
		return qnt__error(ctx, st, "%s: backend '%s' failed to quantize column %lld of the activations to %s: %s",
				  where, vt->name, (long long)atomic_load(&r.fail.where), r.xt->name,
				  qnt_status_str(st));
	return QNT_OK;
}

/* ---- the product ---- */

struct mm_run {
	qnt_ctx *ctx;
	qnt_matmul_job job; /* template: all rows */
	int64_t rows_per_chunk;
	int use_backend;
	int prepared; /* job.w is the backend's layout (matmul_prepared) */
	struct fail fail;
};

static void mm_chunk(void *arg, int64_t chunk, int thread)
{
	struct mm_run *r = arg;
	const qnt_matmul_job *job = &r->job;
	const int64_t b = chunk * r->rows_per_chunk;
	const int64_t e = b + r->rows_per_chunk < job->n_out ? b + r->rows_per_chunk : job->n_out;
	qnt_status st;
	if (r->use_backend) {
		qnt_matmul_job j = *job;
		j.row_begin = b;
		j.row_end = e;
		j.scratch = r->ctx->scratch[thread];
		j.scratch_bytes = r->ctx->scratch_bytes;
		st = r->prepared ? r->ctx->backend->vt->matmul_prepared(r->ctx->backend_state, &j)
				 : r->ctx->backend->vt->matmul(r->ctx->backend_state, &j);
	} else {
		st = qnt__matmul_ref(job->wtype, job->w.host, job->n_out, job->n_in, job->x.host, job->xq,
				     job->n_cols, job->y.host, b, e);
	}
	if (st != QNT_OK)
		record_failure(&r->fail, st, b);
}

static qnt_status check_args(qnt_ctx *ctx, qnt_type wtype, const void *w, int64_t n_out, int64_t n_in,
			     const float *x, int64_t n_cols, const float *y, const struct qnt__type_traits **out)
{
	const struct qnt__type_traits *t = qnt__traits(wtype);
	if (!t)
		return qnt__error(ctx, QNT_E_UNKNOWN_TYPE, "qnt_matmul: unknown type id %d", (int)wtype);
	if (!w || !x || !y)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "qnt_matmul(%s): %s is NULL", t->name,
				  !w ? "w" : !x ? "x" : "y");
	if (n_out < 0 || n_in < 0 || n_cols < 0)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "qnt_matmul(%s): %s is negative (%lld)", t->name,
				  n_out < 0 ? "n_out" : n_in < 0 ? "n_in" : "n_cols",
				  (long long)(n_out < 0 ? n_out : n_in < 0 ? n_in : n_cols));
	if (n_in == 0 || n_in % t->block_size != 0)
		return qnt__error(ctx, QNT_E_BAD_SHAPE,
				  "qnt_matmul(%s): n_in %lld is not a positive multiple of the block size %lld", t->name,
				  (long long)n_in, (long long)t->block_size);
	const size_t rs = qnt_row_size(wtype, n_in);
	const uint64_t fmax = SIZE_MAX / sizeof(float);
	if (rs == 0 || (n_out > 0 && (uint64_t)n_out > SIZE_MAX / rs) ||
	    (n_cols > 0 && ((uint64_t)n_cols > fmax / (uint64_t)n_in ||
			    (n_out > 0 && (uint64_t)n_cols > fmax / (uint64_t)n_out))))
		return qnt__error(ctx, QNT_E_BAD_SHAPE,
				  "qnt_matmul(%s): %lld x %lld weights with %lld columns overflow the address space",
				  t->name, (long long)n_out, (long long)n_in, (long long)n_cols);
	if (!t->dequantize)
		return qnt__error(ctx, QNT_E_UNSUPPORTED, "qnt_matmul: no matrix product for %s", t->name);
	*out = t;
	return QNT_OK;
}

/* The activation format for the chosen kernel, or QNT_TYPE_INVALID. A
 * backend's choice that cannot hold rows of n_in gives 0 (use the
 * reference). */
static int backend_xq(qnt_ctx *ctx, qnt_type wtype, int64_t n_in, qnt_type *xq_type)
{
	const qnt_backend_vtbl *vt = ctx->backend->vt;
	*xq_type = QNT_VTBL_HAS(vt, matmul_xq_type) ? vt->matmul_xq_type(ctx->backend_state, wtype)
						    : QNT_TYPE_INVALID;
	if (*xq_type == QNT_TYPE_INVALID)
		return 1;
	const struct qnt__type_traits *xt = qnt__traits(*xq_type);
	if (!xt || !xt->quantize || n_in % xt->block_size != 0) {
		qnt__log(QNT_LOG_DEBUG, "qnt_matmul: backend '%s' wants activations in type %d, unusable for n_in %lld; "
			 "the reference runs instead", vt->name, (int)*xq_type, (long long)n_in);
		return 0;
	}
	return 1;
}

/* row_group 0: w holds plain rows; otherwise the backend's prepared layout
 * (matrix_prepare), whose row chunks start at multiples of row_group. */
static qnt_status matmul(qnt_ctx *ctx, qnt_type wtype, const void *w, int64_t n_out, int64_t n_in, const float *x,
			 int64_t n_cols, float *y, int64_t row_group)
{
	const struct qnt__type_traits *t = NULL;
	qnt_status st = check_args(ctx, wtype, w, n_out, n_in, x, n_cols, y, &t);
	if (st != QNT_OK)
		return st;
	if (n_out == 0 || n_cols == 0)
		return QNT_OK;

	const qnt_backend_vtbl *vt = ctx->backend->vt;
	qnt_type xq_type = QNT_TYPE_INVALID;
	int use_backend = QNT_VTBL_HAS(vt, matmul) && vt->supports(ctx->backend_state, wtype, QNT_OP_MATMUL) &&
			  backend_xq(ctx, wtype, n_in, &xq_type);
	if (!use_backend)
		xq_type = qnt__matmul_ref_xq_type(wtype);

	char where[96];
	snprintf(where, sizeof where, row_group ? "qnt_matmul_prepared(%s)" : "qnt_matmul(%s)", t->name);
	if (row_group && (!use_backend || !QNT_VTBL_HAS(vt, matmul_prepared)))
		return qnt__error(ctx, QNT_E_BACKEND, "%s: backend '%s' prepared the matrix but cannot multiply it",
				  where, vt->name);
	void *xq = NULL;
	if (xq_type != QNT_TYPE_INVALID) {
		const size_t xrs = qnt_row_size(xq_type, n_in);
		if (xrs == 0 || (uint64_t)n_cols > SIZE_MAX / xrs)
			return qnt__error(ctx, QNT_E_BAD_SHAPE, "%s: %lld columns of activations overflow", where,
					  (long long)n_cols);
		xq = qnt__ctx_alloc(ctx, (size_t)n_cols * xrs, 64);
		if (!xq)
			return qnt__error(ctx, QNT_E_NO_MEMORY, "%s: out of memory for %zu bytes of activations",
					  where, (size_t)n_cols * xrs);
		if ((st = quantize_x(ctx, where, xq_type, x, xq, n_in, n_cols)) != QNT_OK)
			goto out;
	}

	struct mm_run r;
	memset(&r, 0, sizeof r);
	r.ctx = ctx;
	r.use_backend = use_backend;
	r.prepared = row_group > 0;
	r.job.struct_size = sizeof r.job;
	r.job.wtype = wtype;
	r.job.device = ctx->device;
	r.job.xq_type = xq_type;
	r.job.n_out = n_out;
	r.job.n_in = n_in;
	r.job.n_cols = n_cols;
	r.job.row_begin = 0;
	r.job.row_end = n_out;
	r.job.w.host = (void *)(uintptr_t)w;
	r.job.x.host = (void *)(uintptr_t)x;
	r.job.y.host = y;
	r.job.xq = xq;
	atomic_init(&r.fail.status, QNT_OK);
	atomic_init(&r.fail.where, 0);

	if (use_backend && !(vt->caps & QNT_BACKEND_CAP_HOST_THREADS)) {
		/* a device backend takes the whole product at once */
		r.rows_per_chunk = n_out;
		mm_chunk(&r, 0, 0);
	} else {
		/* about CHUNKS_PER_THREAD(_GEMV) chunks per thread, none tiny; a
		 * row is computed the same way whichever chunk holds it */
		const int64_t n_chunks = (int64_t)ctx->n_threads *
					 (n_cols == 1 ? CHUNKS_PER_THREAD_GEMV : CHUNKS_PER_THREAD);
		int64_t rpc = (n_out + n_chunks - 1) / n_chunks;
		const int64_t work_row = n_in * n_cols;
		if (rpc * work_row < MIN_CHUNK_WORK)
			rpc = (MIN_CHUNK_WORK + work_row - 1) / work_row;
		if (rpc >= CHUNK_ROW_ALIGN)
			rpc = (rpc + CHUNK_ROW_ALIGN - 1) / CHUNK_ROW_ALIGN * CHUNK_ROW_ALIGN;
		r.rows_per_chunk = rpc < 1 ? 1 : rpc > n_out ? n_out : rpc;
		if (row_group > 1) /* whole groups of the prepared layout */
			r.rows_per_chunk = (r.rows_per_chunk + row_group - 1) / row_group * row_group;
		qnt__pool_run(ctx->pool, (n_out + r.rows_per_chunk - 1) / r.rows_per_chunk, mm_chunk, &r);
	}
	st = (qnt_status)atomic_load(&r.fail.status);
	if (st != QNT_OK) {
		if (use_backend)
			st = qnt__error(ctx, st, "%s: backend '%s' failed at row %lld: %s", where, vt->name,
					(long long)atomic_load(&r.fail.where), qnt_status_str(st));
		else
			st = qnt__error(ctx, st, "%s: the reference failed at row %lld: %s", where,
					(long long)atomic_load(&r.fail.where), qnt_status_str(st));
	}
out:
	qnt__ctx_free(ctx, xq);
	return st;
}

QNT_API qnt_status qnt_matmul(qnt_ctx *ctx, qnt_type wtype, const void *w, int64_t n_out, int64_t n_in,
			      const float *x, int64_t n_cols, float *y)
{
	qnt_status st;
	qnt_ctx *c = qnt__ctx_acquire(ctx, &st);
	if (!c)
		return st;
	st = matmul(c, wtype, w, n_out, n_in, x, n_cols, y, 0);
	qnt__ctx_release(c);
	return st;
}

qnt_status qnt__matmul_c(qnt_ctx *c, qnt_type wtype, const void *w, int64_t n_out, int64_t n_in, const float *x,
			 int64_t n_cols, float *y, int64_t row_group)
{
	return matmul(c, wtype, w, n_out, n_in, x, n_cols, y, row_group);
}
