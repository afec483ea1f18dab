/* SPDX-License-Identifier: MIT */
/*
 * qnt_convert / qnt_convert_kind: argument checks, then the rows are cut
 * into chunks and converted on the context's pool by lib/core/convert.c.
 * Rows are independent, so the bytes do not depend on the thread count;
 * with QNT_CONVERT_FLAG_EXACT_ONLY the reported block is the first inexact
 * one in row-major order whatever the thread count (a chunk skips only rows
 * after a failure already found). Like the MLX calls, conversion runs on the
 * host threads of the context, not through its backend.
 */
#include "qnt_internal.h"
#include "../core/convert.h"

#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

/* About this many elements per chunk, as in tensor.c. */
#define CHUNK_ELEMS (1 << 15)

#define KNOWN_FLAGS QNT_CONVERT_FLAG_EXACT_ONLY

struct run {
	qnt_ctx *ctx;
	const struct qnt__conv *cv;
	const char *src;
	char *dst;
	size_t src_row, dst_row;
	int64_t nrows, n, rows_per_chunk, blocks_per_row;
	int exact_only;
	atomic_llong inexact;
	atomic_llong first_bad; /* row * blocks_per_row + block; LLONG_MAX: none */
};

static void run_chunk(void *arg, int64_t chunk, int thread)
{
	struct run *r = arg;
	int64_t b = chunk * r->rows_per_chunk;
	int64_t e = b + r->rows_per_chunk < r->nrows ? b + r->rows_per_chunk : r->nrows;
	long long count = 0;
	for (int64_t row = b; row < e; row++) {
		if (r->exact_only && row * r->blocks_per_row > atomic_load(&r->first_bad))
			break;
		int64_t bad = -1;
		int64_t k = qnt__convert_row(r->cv, r->src + (size_t)row * r->src_row, r->dst + (size_t)row * r->dst_row,
					     r->n, r->exact_only, r->ctx->scratch[thread], &bad);
		if (r->exact_only && k) {
			long long at = (long long)(row * r->blocks_per_row + bad);
			long long cur = atomic_load(&r->first_bad);
			while (at < cur && !atomic_compare_exchange_weak(&r->first_bad, &cur, at))
				;
			break;
		}
		count += k;
	}
	atomic_fetch_add(&r->inexact, count);
}

static int overlap(const void *a, size_t na, const void *b, size_t nb)
{
	uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
	return na && nb && x < y + nb && y < x + na;
}

static qnt_status convert(qnt_ctx *ctx, qnt_type from, const void *src, qnt_type to, void *dst, int64_t nrows,
			  int64_t n, uint32_t flags, int64_t *n_requantized)
{
	static const char fn[] = "qnt_convert";
	const struct qnt__type_traits *ts = qnt__traits(from), *tt = qnt__traits(to);
	if (!ts || !tt)
		return qnt__error(ctx, QNT_E_UNKNOWN_TYPE, "%s: unknown type id %d", fn, (int)(ts ? to : from));
	if (flags & ~(uint32_t)KNOWN_FLAGS)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "%s(%s -> %s): flags 0x%x has unknown bits 0x%x", fn, ts->name,
				  tt->name, (unsigned)flags, (unsigned)(flags & ~(uint32_t)KNOWN_FLAGS));
	if (!src || !dst)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "%s(%s -> %s): %s is NULL", fn, ts->name, tt->name,
				  !src ? "src" : "dst");
	if (nrows < 0)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "%s(%s -> %s): nrows is negative (%lld)", fn, ts->name,
				  tt->name, (long long)nrows);
	const struct qnt__type_traits *bad_t = n <= 0 || n % ts->block_size ? ts : n % tt->block_size ? tt : NULL;
	if (bad_t)
		return qnt__error(ctx, QNT_E_BAD_SHAPE,
				  "%s(%s -> %s): n_per_row %lld is not a positive multiple of the block size %lld of %s",
				  fn, ts->name, tt->name, (long long)n, (long long)bad_t->block_size, bad_t->name);

	struct qnt__conv cv;
	if (qnt__convert_plan(from, to, &cv) < 0)
		return qnt__error(ctx, QNT_E_UNSUPPORTED, "%s: %s cannot be %s", fn,
				  !tt->quantize ? tt->name : ts->name, !tt->quantize ? "quantized" : "dequantized");

	const size_t rs = qnt_row_size(from, n), rt = qnt_row_size(to, n);
	const uint64_t scratch = qnt__convert_scratch(&cv, n);
	if (rs == 0 || rt == 0 || scratch == 0 ||
	    (nrows > 0 && ((uint64_t)nrows > SIZE_MAX / rs || (uint64_t)nrows > SIZE_MAX / rt ||
			   (uint64_t)nrows > (uint64_t)INT64_MAX / (uint64_t)n)))
		return qnt__error(ctx, QNT_E_BAD_SHAPE, "%s(%s -> %s): %lld x %lld elements overflow the address space",
				  fn, ts->name, tt->name, (long long)nrows, (long long)n);
	if (overlap(src, rs * (size_t)nrows, dst, rt * (size_t)nrows))
		return qnt__error(ctx, QNT_E_INVALID_ARG, "%s(%s -> %s): src and dst overlap", fn, ts->name, tt->name);
	if (nrows == 0) {
		if (n_requantized)
			*n_requantized = 0;
		return QNT_OK;
	}
	qnt_status st = qnt__ctx_ensure_scratch(ctx, scratch);
	if (st != QNT_OK)
		return st;

	struct run r;
	memset(&r, 0, sizeof r);
	r.ctx = ctx;
	r.cv = &cv;
	r.src = src;
	r.dst = dst;
	r.src_row = rs;
	r.dst_row = rt;
	r.nrows = nrows;
	r.n = n;
	r.blocks_per_row = n / tt->block_size;
	r.exact_only = (flags & QNT_CONVERT_FLAG_EXACT_ONLY) != 0;
	atomic_init(&r.inexact, 0);
	atomic_init(&r.first_bad, LLONG_MAX);
	int64_t rpc = CHUNK_ELEMS / n;
	r.rows_per_chunk = rpc < 1 ? 1 : rpc;
	qnt__pool_run(ctx->pool, (nrows + r.rows_per_chunk - 1) / r.rows_per_chunk, run_chunk, &r);

	long long first = atomic_load(&r.first_bad);
	if (first != LLONG_MAX) {
		long long row = first / r.blocks_per_row, blk = first % r.blocks_per_row;
		long long bs = tt->block_size;
		return qnt__error(ctx, QNT_E_UNSUPPORTED,
				  "%s(%s -> %s): row %lld, block %lld (elements %lld..%lld) cannot be converted exactly "
				  "and QNT_CONVERT_FLAG_EXACT_ONLY is set",
				  fn, ts->name, tt->name, row, blk, blk * bs, blk * bs + bs - 1);
	}
	if (n_requantized)
		*n_requantized = (int64_t)atomic_load(&r.inexact);
	return QNT_OK;
}

QNT_API qnt_status qnt_convert(qnt_ctx *ctx, qnt_type from, const void *src, qnt_type to, void *dst, int64_t nrows,
			       int64_t n_per_row, uint32_t flags, int64_t *n_requantized)
{
	qnt_status st;
	qnt_ctx *c = qnt__ctx_acquire(ctx, &st);
	if (!c)
		return st;
	st = convert(c, from, src, to, dst, nrows, n_per_row, flags, n_requantized);
	qnt__ctx_release(c);
	return st;
}

QNT_API int32_t qnt_convert_kind(qnt_type from, qnt_type to)
{
	return qnt__convert_kind(from, to);
}
