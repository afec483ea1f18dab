/* SPDX-License-Identifier: MIT */
/* The format registry: every format family's table, looked up by id or name,
 * and the scalar reference entry points. */
#include "formats.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <uv.h>

struct family {
	const struct qnt__type_traits *t;
	const size_t *n;
};

static const struct family families[] = {
	{ qnt__traits_float, &qnt__traits_float_count },
	{ qnt__traits_legacy, &qnt__traits_legacy_count },
	{ qnt__traits_kquants, &qnt__traits_kquants_count },
	{ qnt__traits_iquants, &qnt__traits_iquants_count },
	{ qnt__traits_lowbit, &qnt__traits_lowbit_count },
	{ qnt__traits_mlx, &qnt__traits_mlx_count },
};
#define N_FAMILIES (sizeof families / sizeof families[0])

/* Sorted by id on first use; the tables are constant, so this is done once. */
#define MAX_TYPES 256
static const struct qnt__type_traits *sorted[MAX_TYPES];
static int32_t n_sorted = -1;

static int by_id(const void *a, const void *b)
{
	const struct qnt__type_traits *x = *(const struct qnt__type_traits *const *)a;
	const struct qnt__type_traits *y = *(const struct qnt__type_traits *const *)b;
	return (x->id > y->id) - (x->id < y->id);
}

static uv_once_t sort_once = UV_ONCE_INIT;

static void sort_types(void)
{
	int32_t n = 0;
	for (size_t f = 0; f < N_FAMILIES; f++)
		for (size_t i = 0; i < *families[f].n && n < MAX_TYPES; i++)
			sorted[n++] = &families[f].t[i];
	qsort(sorted, (size_t)n, sizeof sorted[0], by_id);
	n_sorted = n;
}

static void ensure_sorted(void)
{
	uv_once(&sort_once, sort_types);
}

const struct qnt__type_traits *qnt__traits(qnt_type type)
{
	ensure_sorted();
	int32_t lo = 0, hi = n_sorted - 1;
	while (lo <= hi) {
		int32_t mid = lo + (hi - lo) / 2;
		if (sorted[mid]->id == type)
			return sorted[mid];
		if (sorted[mid]->id < type)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

QNT_API int32_t qnt_type_count(void)
{
	ensure_sorted();
	return n_sorted;
}

QNT_API qnt_type qnt_type_at(int32_t index)
{
	ensure_sorted();
	if (index < 0 || index >= n_sorted)
		return QNT_TYPE_INVALID;
	return sorted[index]->id;
}

QNT_API qnt_type qnt_type_by_name(const char *name)
{
	if (!name)
		return QNT_TYPE_INVALID;
	ensure_sorted();
	for (int32_t i = 0; i < n_sorted; i++)
		if (strcasecmp(sorted[i]->name, name) == 0)
			return sorted[i]->id;
	return qnt__mlx_type_by_alias(name);
}

QNT_API const char *qnt_type_name(qnt_type type)
{
	const struct qnt__type_traits *t = qnt__traits(type);
	return t ? t->name : NULL;
}

QNT_API int64_t qnt_type_block_size(qnt_type type)
{
	const struct qnt__type_traits *t = qnt__traits(type);
	return t ? t->block_size : 0;
}

QNT_API size_t qnt_type_block_bytes(qnt_type type)
{
	const struct qnt__type_traits *t = qnt__traits(type);
	return t ? t->block_bytes : 0;
}

QNT_API size_t qnt_row_size(qnt_type type, int64_t n_per_row)
{
	const struct qnt__type_traits *t = qnt__traits(type);
	if (!t || n_per_row <= 0 || n_per_row % t->block_size != 0)
		return 0;
	uint64_t blocks = (uint64_t)(n_per_row / t->block_size);
	if (blocks > SIZE_MAX / t->block_bytes)
		return 0;
	return (size_t)blocks * t->block_bytes;
}

static uint32_t type_flags(const struct qnt__type_traits *t)
{
	uint32_t f = t->flags;
	if (t->quantize)
		f |= QNT_TYPE_FLAG_QUANTIZE;
	if (t->dequantize)
		f |= QNT_TYPE_FLAG_DEQUANTIZE;
	return f;
}

QNT_API qnt_status qnt_type_get_info(qnt_type type, qnt_type_info *info)
{
	if (!info || info->struct_size < offsetof(qnt_type_info, name))
		return qnt__error(NULL, QNT_E_INVALID_ARG, "qnt_type_get_info: info is NULL or its struct_size too small");
	const struct qnt__type_traits *t = qnt__traits(type);
	if (!t)
		return qnt__error(NULL, QNT_E_UNKNOWN_TYPE, "qnt_type_get_info: unknown type id %d", (int)type);
	qnt_type_info v = { sizeof(qnt_type_info), t->id, t->block_size, t->block_bytes, type_flags(t), 0,
			    8.0 * (double)t->block_bytes / (double)t->block_size, t->name, t->description };
	size_t n = info->struct_size < sizeof v ? info->struct_size : sizeof v;
	uint32_t caller_size = info->struct_size;
	memcpy(info, &v, n);
	info->struct_size = caller_size;
	return QNT_OK;
}

/* ---- argument checks shared by the reference and the dispatcher ---- */

qnt_status qnt__check_args(qnt_ctx *ctx, const char *fn, qnt_type type, const void *src, const void *dst,
			   int64_t nrows, int64_t n_per_row, int quantize, const struct qnt__type_traits **out)
{
	const struct qnt__type_traits *t = qnt__traits(type);
	if (!t)
		return qnt__error(ctx, QNT_E_UNKNOWN_TYPE, "%s: unknown type id %d", fn, (int)type);
	if (!src || !dst)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "%s(%s): %s is NULL", fn, t->name, !src ? "src" : "dst");
	if (nrows < 0)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "%s(%s): nrows is negative (%lld)", fn, t->name,
				  (long long)nrows);
	if (n_per_row <= 0 || n_per_row % t->block_size != 0)
		return qnt__error(ctx, QNT_E_BAD_SHAPE,
				  "%s(%s): n_per_row %lld is not a positive multiple of the block size %lld", fn,
				  t->name, (long long)n_per_row, (long long)t->block_size);
	size_t rs = qnt_row_size(type, n_per_row);
	if (rs == 0 || (nrows > 0 && ((uint64_t)nrows > SIZE_MAX / rs ||
				      (uint64_t)nrows > (uint64_t)INT64_MAX / (uint64_t)n_per_row ||
				      (uint64_t)(nrows * n_per_row) > SIZE_MAX / sizeof(float))))
		return qnt__error(ctx, QNT_E_BAD_SHAPE, "%s(%s): %lld x %lld elements overflow the address space", fn,
				  t->name, (long long)nrows, (long long)n_per_row);
	if (quantize ? !t->quantize : !t->dequantize)
		return qnt__error(ctx, QNT_E_UNSUPPORTED, "%s: %s cannot be %s", fn, t->name,
				  quantize ? "quantized" : "dequantized");
	*out = t;
	return QNT_OK;
}

qnt_status qnt__check_importance(qnt_ctx *ctx, const char *fn, const float *imp, int64_t n)
{
	if (!imp)
		return QNT_OK;
	for (int64_t j = 0; j < n; j++)
		if (!(imp[j] >= 0.0f) || imp[j] == INFINITY)
			return qnt__error(ctx, QNT_E_INVALID_ARG,
					  "%s: importance[%lld] = %g is not a finite non-negative weight", fn,
					  (long long)j, (double)imp[j]);
	return QNT_OK;
}

qnt_status qnt__quantize_ref(qnt_type type, const float *src, void *dst, int64_t nrows, int64_t n_per_row,
			     const float *importance)
{
	const struct qnt__type_traits *t;
	qnt_status st = qnt__check_args(NULL, "quantize_ref", type, src, dst, nrows, n_per_row, 1, &t);
	if (st == QNT_OK)
		st = qnt__check_importance(NULL, "quantize_ref", importance, n_per_row);
	if (st == QNT_OK && nrows > 0)
		t->quantize(src, dst, nrows, n_per_row, importance);
	return st;
}

qnt_status qnt__dequantize_ref(qnt_type type, const void *src, float *dst, int64_t nrows, int64_t n_per_row)
{
	const struct qnt__type_traits *t;
	qnt_status st = qnt__check_args(NULL, "dequantize_ref", type, src, dst, nrows, n_per_row, 0, &t);
	if (st != QNT_OK)
		return st;
	size_t rs = qnt_row_size(type, n_per_row);
	for (int64_t r = 0; r < nrows; r++)
		t->dequantize((const char *)src + (size_t)r * rs, dst + r * n_per_row, n_per_row);
	return QNT_OK;
}
