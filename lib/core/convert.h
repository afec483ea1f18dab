/* SPDX-License-Identifier: MIT */
/* Conversion between formats (convert.c): the plan of a conversion and the
 * row kernel behind qnt_convert (lib/api/convert.c). */
#ifndef QNT_CONVERT_H
#define QNT_CONVERT_H

#include "qnt_internal.h"

/* A format of one of the families that convert.c repacks. */
struct qnt__cv_fmt {
	int32_t fam;       /* CV_* of convert.c */
	int32_t form;      /* affine family: 1 value k*d, 2 value c*d + m */
	int32_t unit;      /* elements that share one scale (and min) */
	int32_t block;     /* elements per block */
	int32_t qmin, qmax; /* codes as a source (k for form 1, c for form 2) */
	int32_t tmin, tmax; /* codes it may be given as a target */
	int32_t pd;        /* element type of the scales: QNT__MLX_F32/F16/BF16 */
	int32_t bits;      /* code width */
	int32_t exact_ops; /* form 2: the dequantizer computes f32(f32(c*d) + m) */
	int32_t target;    /* may be written by a repacking */
};

/* A conversion from one format to another, resolved once per call. */
struct qnt__conv {
	const struct qnt__type_traits *ts, *tt;
	int32_t kind;   /* QNT_CONVERT_* */
	int32_t path;   /* how rows are converted (CV_PATH_* of convert.c) */
	struct qnt__cv_fmt s, t;
};

/* The kind of a conversion (QNT_CONVERT_*), or -1 when a type is unknown,
 * `to` cannot be quantized or `from` cannot be dequantized. */
int32_t qnt__convert_kind(qnt_type from, qnt_type to);

/* Fills cv; returns its kind, or -1 as qnt__convert_kind. */
int32_t qnt__convert_plan(qnt_type from, qnt_type to, struct qnt__conv *cv);

/* Bytes of scratch one thread needs for rows of n elements. 0 on overflow
 * of the size (never for shapes that pass the argument checks). */
uint64_t qnt__convert_scratch(const struct qnt__conv *cv, int64_t n);

/* Converts one row of n elements. Returns the number of target blocks whose
 * values are not the source's (those were requantized). With exact_only it
 * stops at the first such block, stores its index in *bad and returns 1
 * (the row of dst is then partly written). scratch: qnt__convert_scratch
 * bytes, 64-byte aligned. */
int64_t qnt__convert_row(const struct qnt__conv *cv, const void *src, void *dst, int64_t n, int exact_only,
			 void *scratch, int64_t *bad);

#endif
