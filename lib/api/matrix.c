/* SPDX-License-Identifier: MIT */
/*
 * Prepared matrices (qnt_matrix_*): a weight matrix copied once, into the
 * layout of the backend that prepared it (its matrix_prepare) or as the plain
 * rows, and multiplied by qnt_matmul_prepared. The products go through
 * lib/api/matmul.c (activations, row chunks on the pool); a matrix in a
 * backend's layout only works with contexts on that backend.
 */
#include "qnt_internal.h"

#include <string.h>

struct qnt_matrix {
	qnt_type wtype;
	int64_t n_out, n_in;
	const qnt_backend_vtbl *vt; /* the backend whose layout `data` is, or NULL: plain rows */
	void *data;                 /* vt's prepared layout, or the plain copy */
	int64_t row_group;          /* vt's rows per group (0 for the plain rows) */
	qnt_free_fn free;           /* the preparing context's allocator (NULL: the default) */
	void *alloc_user;
};

static void matrix_free_mem(qnt_free_fn free_fn, void *user, void *p)
{
	if (free_fn)
		free_fn(user, p);
	else
		qnt__aligned_free(p);
}

static qnt_status prepare(qnt_ctx *ctx, qnt_type wtype, const void *w, int64_t n_out, int64_t n_in,
			  qnt_matrix **out)
{
	const struct qnt__type_traits *t = qnt__traits(wtype);
	if (!t)
		return qnt__error(ctx, QNT_E_UNKNOWN_TYPE, "qnt_matrix_prepare: unknown type id %d", (int)wtype);
	if (!w || !out)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "qnt_matrix_prepare(%s): %s is NULL", t->name,
				  !w ? "w" : "out");
	if (n_out < 0 || n_in < 0)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "qnt_matrix_prepare(%s): %s is negative (%lld)", t->name,
				  n_out < 0 ? "n_out" : "n_in", (long long)(n_out < 0 ? n_out : n_in));
	if (n_in == 0 || n_in % t->block_size != 0)
		return qnt__error(ctx, QNT_E_BAD_SHAPE,
				  "qnt_matrix_prepare(%s): n_in %lld is not a positive multiple of the block size %lld",
				  t->name, (long long)n_in, (long long)t->block_size);
	const size_t rs = qnt_row_size(wtype, n_in);
	if (rs == 0 || (n_out > 0 && (uint64_t)n_out > SIZE_MAX / rs))
		return qnt__error(ctx, QNT_E_BAD_SHAPE, "qnt_matrix_prepare(%s): %lld x %lld weights overflow",
				  t->name, (long long)n_out, (long long)n_in);
	if (!t->dequantize)
		return qnt__error(ctx, QNT_E_UNSUPPORTED, "qnt_matrix_prepare: no matrix product for %s", t->name);

	qnt_matrix *m = qnt__ctx_alloc(ctx, sizeof *m, 64);
	if (!m)
		return qnt__error(ctx, QNT_E_NO_MEMORY, "qnt_matrix_prepare(%s): out of memory", t->name);
	memset(m, 0, sizeof *m);
	m->wtype = wtype;
	m->n_out = n_out;
	m->n_in = n_in;
	m->free = ctx->free;
	m->alloc_user = ctx->alloc_user;

	const qnt_backend_vtbl *vt = ctx->backend->vt;
	if (n_out > 0 && QNT_VTBL_HAS(vt, matrix_prepare) && QNT_VTBL_HAS(vt, matmul_prepared) &&
	    QNT_VTBL_HAS(vt, matrix_free) && QNT_VTBL_HAS(vt, matmul) &&
	    vt->supports(ctx->backend_state, wtype, QNT_OP_MATMUL)) {
		void *p = NULL;
		int64_t group = 0;
		qnt_status st = vt->matrix_prepare(ctx->backend_state, wtype, w, n_out, n_in, &p, &group);
		if (st == QNT_OK && (!p || group < 1)) {
			if (p)
				vt->matrix_free(&qnt__host, p);
			st = QNT_E_BACKEND;
		}
		if (st == QNT_OK) {
			m->vt = vt;
			m->data = p;
			m->row_group = group;
			*out = m;
			return QNT_OK;
		}
		if (st != QNT_E_UNSUPPORTED) {
			qnt__ctx_free(ctx, m);
			return qnt__error(ctx, st, "qnt_matrix_prepare(%s): backend '%s' failed to prepare %lld x %lld: %s",
					  t->name, vt->name, (long long)n_out, (long long)n_in, qnt_status_str(st));
		}
	}
	/* the plain rows (at least one byte, so that data is never NULL) */
	const size_t bytes = (size_t)n_out * rs;
	m->data = qnt__ctx_alloc(ctx, bytes ? bytes : 1, 64);
	if (!m->data) {
		qnt__ctx_free(ctx, m);
		return qnt__error(ctx, QNT_E_NO_MEMORY, "qnt_matrix_prepare(%s): out of memory for %zu bytes", t->name,
				  bytes);
	}
	memcpy(m->data, w, bytes);
	*out = m;
	return QNT_OK;
}

QNT_API qnt_status qnt_matrix_prepare(qnt_ctx *ctx, qnt_type wtype, const void *w, int64_t n_out, int64_t n_in,
				      qnt_matrix **out)
{
	if (out)
		*out = NULL;
	qnt_status st;
	qnt_ctx *c = qnt__ctx_acquire(ctx, &st);
	if (!c)
		return st;
	st = prepare(c, wtype, w, n_out, n_in, out);
	qnt__ctx_release(c);
	return st;
}

QNT_API qnt_status qnt_matmul_prepared(qnt_ctx *ctx, const qnt_matrix *m, const float *x, int64_t n_cols, float *y)
{
	qnt_status st;
	qnt_ctx *c = qnt__ctx_acquire(ctx, &st);
	if (!c)
		return st;
	if (!m)
		st = qnt__error(c, QNT_E_INVALID_ARG, "qnt_matmul_prepared: m is NULL");
	else if (m->vt && m->vt != c->backend->vt)
		st = qnt__error(c, QNT_E_INVALID_ARG,
				"qnt_matmul_prepared: the matrix is in the layout of backend '%s', the context runs '%s'",
				m->vt->name, c->backend->vt->name);
	else
		st = qnt__matmul_c(c, m->wtype, m->data, m->n_out, m->n_in, x, n_cols, y, m->vt ? m->row_group : 0);
	qnt__ctx_release(c);
	return st;
}

QNT_API const char *qnt_matrix_layout(const qnt_matrix *m)
{
	if (!m)
		return NULL;
	return m->vt ? m->vt->name : "plain";
}

QNT_API void qnt_matrix_free(qnt_matrix *m)
{
	if (!m)
		return;
	if (m->vt)
		m->vt->matrix_free(&qnt__host, m->data);
	else
		matrix_free_mem(m->free, m->alloc_user, m->data);
	matrix_free_mem(m->free, m->alloc_user, m);
}
