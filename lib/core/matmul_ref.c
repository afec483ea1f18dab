/* SPDX-License-Identifier: MIT */
/*
 * Scalar reference of qnt_matmul: y = W x for a quantized W.
 *
 * For the formats ggml multiplies with quantized activations, the reference
 * does the same: each column of x is quantized to the format's companion
 * (ggml's vec_dot_type: q8_0 for q4_0, q5_0, q8_0, iq4_nl, mxfp4, nvfp4,
 * q1_0, q2_0; q8_1 for q4_1, q5_1; q8_K for the k-quants, the i-quants and
 * tq1_0/tq2_0) with the reference quantizer, then
 *   - legacy formats and k-quants: an exact integer dot product of the codes
 *     per block (or sub-block), scaled by the block scales, summed in double;
 *   - the other formats with a companion: each block of W dequantized to
 *     floats and multiplied by the dequantized activations, summed in double
 *     (the same real number as the integer product, which these formats
 *     only complicate with lattice tables).
 * All other formats (f32, f16, bf16, the MLX formats, and q8_1/q8_K used as
 * weights) are dequantized to floats and multiplied by the float x, summed
 * in double. The double sums make the reference independent of the
 * summation order; the only rounding left is the final conversion to float
 * (and, for q4_1/q5_1, the fp16 sum ggml stores in q8_1 blocks).
 *
 * Tolerances. qnt_matmul's result (any backend) is checked against the exact
 * product of the dequantized W with the float x, computed in double, as the
 * normwise relative error ||y - y_exact||_2 / ||y_exact||_2 over all outputs
 * and columns, on Gaussian weights (quantized) and Gaussian activations
 * (tests/unit/test_matmul.c). The error is that of the activation companion:
 *
 *   weights                                         activations  measured        tolerance
 *   f32, f16, bf16, mlx:* (all), q8_1, q8_K         f32          2e-8 .. 1.3e-7  1e-5
 *   q4_0, q5_0, q8_0, iq4_nl, mxfp4, nvfp4,
 *     q1_0, q2_0                                    q8_0         4.5e-3 .. 6.5e-3 1e-2
 *   q4_1, q5_1                                      q8_1         5e-3 .. 6.5e-3  1e-2
 *   q2_K .. q6_K, tq1_0, tq2_0, iq2_xxs .. iq1_m    q8_K         6.5e-3 .. 9e-3  1.5e-2
 *
 * (measured: the largest error over 1, 3 and 64 columns of 37 x 512 weights,
 * on the cpu and cpu-avx2 backends; the tolerance column is what
 * tests/unit/test_matmul.c enforces). The float row is this reference's
 * final rounding (2e-8 .. 4e-8) or cpu-avx2's f32 sums, whose error grows
 * with n_in: 1.3e-7 at 512, 3e-7 at 4096, 1.2e-6 at 65536; the
 * companion rows do not depend on n_in. Between backends the activations are
 * the same bytes, so an accelerated backend differs from this reference only
 * by float rounding: normwise below 4e-7 measured (n_in 512), 1e-5
 * enforced. ggml's own
 * products (vec_dot, ggml_mul_mat) differ from libqnt's by less than 1e-6
 * (tests/interop/test_ggml_matmul.py enforces 1e-4).
 */
#include "qnt_fp.h"
#include "qnt_internal.h"
#include "formats.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Block layouts (as in quant_legacy.c and quant_kquants.c)             */
/* ------------------------------------------------------------------ */

#include "qnt_blocks.h"

static inline double h2d(uint16_t h)
{
	return (double)qnt__fp16_to_fp32(h);
}

/* ------------------------------------------------------------------ */
/* Integer dot products (one row of n elements against one column)     */
/* ------------------------------------------------------------------ */

typedef double (*dot_fn)(const void *w, const void *xq, int64_t n);

/* The 32 codes of a legacy block, 0..15 or 0..31 (qh NULL: 4 bits). */
static void legacy_codes(const uint8_t *qs, const uint8_t *qh, int *c)
{
	uint32_t h = 0;
	if (qh)
		h = (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
	for (int j = 0; j < QK / 2; j++) {
		c[j] = (qs[j] & 0x0f) | (int)(((h >> j) & 1u) << 4);
		c[j + QK / 2] = (qs[j] >> 4) | (int)(((h >> (j + QK / 2)) & 1u) << 4);
	}
}

static int64_t isum32(const int *c, int off, const int8_t *q)
{
	int64_t s = 0;
	for (int j = 0; j < QK; j++)
		s += (int64_t)(c[j] - off) * q[j];
	return s;
}

static double dot_q4_0(const void *w, const void *xq, int64_t n)
{
	const struct blk_q4_0 *b = w;
	const struct blk_q8_0 *y = xq;
	double acc = 0;
	int c[QK];
	for (int64_t i = 0; i < n / QK; i++) {
		legacy_codes(b[i].qs, NULL, c);
		acc += h2d(b[i].d) * h2d(y[i].d) * (double)isum32(c, 8, y[i].qs);
	}
	return acc;
}

static double dot_q5_0(const void *w, const void *xq, int64_t n)
{
	const struct blk_q5_0 *b = w;
	const struct blk_q8_0 *y = xq;
	double acc = 0;
	int c[QK];
	for (int64_t i = 0; i < n / QK; i++) {
		legacy_codes(b[i].qs, b[i].qh, c);
		acc += h2d(b[i].d) * h2d(y[i].d) * (double)isum32(c, 16, y[i].qs);
	}
	return acc;
}

/* value = d*c + m; against q8_1 the min term uses the block's stored
 * s = fp16(d_x * sum q), as ggml does. */
static double dot_q4_1(const void *w, const void *xq, int64_t n)
{
	const struct blk_q4_1 *b = w;
	const struct blk_q8_1 *y = xq;
	double acc = 0;
	int c[QK];
	for (int64_t i = 0; i < n / QK; i++) {
		legacy_codes(b[i].qs, NULL, c);
		acc += h2d(b[i].d) * h2d(y[i].d) * (double)isum32(c, 0, y[i].qs) + h2d(b[i].m) * h2d(y[i].s);
	}
	return acc;
}

static double dot_q5_1(const void *w, const void *xq, int64_t n)
{
	const struct blk_q5_1 *b = w;
	const struct blk_q8_1 *y = xq;
	double acc = 0;
	int c[QK];
	for (int64_t i = 0; i < n / QK; i++) {
		legacy_codes(b[i].qs, b[i].qh, c);
		acc += h2d(b[i].d) * h2d(y[i].d) * (double)isum32(c, 0, y[i].qs) + h2d(b[i].m) * h2d(y[i].s);
	}
	return acc;
}

static double dot_q8_0(const void *w, const void *xq, int64_t n)
{
	const struct blk_q8_0 *b = w;
	const struct blk_q8_0 *y = xq;
	double acc = 0;
	for (int64_t i = 0; i < n / QK; i++) {
		int64_t s = 0;
		for (int j = 0; j < QK; j++)
			s += (int64_t)b[i].qs[j] * y[i].qs[j];
		acc += h2d(b[i].d) * h2d(y[i].d) * (double)s;
	}
	return acc;
}

/* k-quants: per super-block, sum_j sc_j * (sum over sub-block j of q*qx)
 * times d, minus sum_j m_j * bsums(j) times dmin, all times the q8_K d. */

/* Codes of a 2-bit field array: element 128h + 32g + l is bits 2g.. of
 * qs[32h + l]. */
static inline int code2(const uint8_t *qs, int e)
{
	return (qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
}

static int64_t sub_isum(const int *q, const int8_t *x, int n)
{
	int64_t s = 0;
	for (int i = 0; i < n; i++)
		s += (int64_t)q[i] * x[i];
	return s;
}

static double dot_q2_K(const void *w, const void *xq, int64_t n)
{
	const struct blk_q2_K *b = w;
	const struct blk_q8_K *y = xq;
	double acc = 0;
	int q[QK_K];
	for (int64_t i = 0; i < n / QK_K; i++) {
		for (int e = 0; e < QK_K; e++)
			q[e] = code2(b[i].qs, e);
		int64_t sum = 0, msum = 0;
		for (int j = 0; j < 16; j++) {
			sum += (int64_t)(b[i].scales[j] & 0x0f) * sub_isum(q + 16 * j, y[i].qs + 16 * j, 16);
			msum += (int64_t)(b[i].scales[j] >> 4) * y[i].bsums[j];
		}
		acc += (double)y[i].d * (h2d(b[i].d) * (double)sum - h2d(b[i].dmin) * (double)msum);
	}
	return acc;
}

/* q3_K scale j (-32..31): low nibble in byte j (j < 8) or the high nibble of
 * byte j - 8, top two bits at bit 2*(j/4) of byte 8 + j%4. */
static int q3_scale(const uint8_t *s, int j)
{
	int lo = j < 8 ? s[j] & 0x0f : s[j - 8] >> 4;
	int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
	return (lo | (hi << 4)) - 32;
}

static double dot_q3_K(const void *w, const void *xq, int64_t n)
{
	const struct blk_q3_K *b = w;
	const struct blk_q8_K *y = xq;
	double acc = 0;
	int q[QK_K];
	for (int64_t i = 0; i < n / QK_K; i++) {
		for (int e = 0; e < QK_K; e++)
			q[e] = code2(b[i].qs, e) - (((b[i].hmask[e % 32] >> (e / 32)) & 1) ? 0 : 4);
		int64_t sum = 0;
		for (int j = 0; j < 16; j++)
			sum += (int64_t)q3_scale(b[i].scales, j) * sub_isum(q + 16 * j, y[i].qs + 16 * j, 16);
		acc += (double)y[i].d * h2d(b[i].d) * (double)sum;
	}
	return acc;
}

/* q4_K/q5_K: 8 6-bit scales and mins in 12 bytes. */
static void scale_min_k4(const uint8_t *s, int j, int *sc, int *m)
{
	if (j < 4) {
		*sc = s[j] & 63;
		*m = s[j + 4] & 63;
	} else {
		*sc = (s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4);
		*m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
	}
}

static double dot_k4_5(const uint8_t *scales, uint16_t d, uint16_t dmin, const int *q, const struct blk_q8_K *y)
{
	int64_t sum = 0, msum = 0;
	for (int j = 0; j < 8; j++) {
		int sc, m;
		scale_min_k4(scales, j, &sc, &m);
		sum += (int64_t)sc * sub_isum(q + 32 * j, y->qs + 32 * j, 32);
		msum += (int64_t)m * (y->bsums[2 * j] + y->bsums[2 * j + 1]);
	}
	return (double)y->d * (h2d(d) * (double)sum - h2d(dmin) * (double)msum);
}

static double dot_q4_K(const void *w, const void *xq, int64_t n)
{
	const struct blk_q4_K *b = w;
	const struct blk_q8_K *y = xq;
	double acc = 0;
	int q[QK_K];
	for (int64_t i = 0; i < n / QK_K; i++) {
		for (int h = 0; h < 4; h++)
			for (int l = 0; l < 32; l++) {
				q[64 * h + l] = b[i].qs[32 * h + l] & 0x0f;
				q[64 * h + 32 + l] = b[i].qs[32 * h + l] >> 4;
			}
		acc += dot_k4_5(b[i].scales, b[i].d, b[i].dmin, q, &y[i]);
	}
	return acc;
}

static double dot_q5_K(const void *w, const void *xq, int64_t n)
{
	const struct blk_q5_K *b = w;
	const struct blk_q8_K *y = xq;
	double acc = 0;
	int q[QK_K];
	for (int64_t i = 0; i < n / QK_K; i++) {
		for (int h = 0; h < 4; h++)
			for (int l = 0; l < 32; l++) {
				const uint8_t hb = b[i].qh[l];
				q[64 * h + l] = (b[i].qs[32 * h + l] & 0x0f) | (((hb >> (2 * h)) & 1) << 4);
				q[64 * h + 32 + l] = (b[i].qs[32 * h + l] >> 4) | (((hb >> (2 * h + 1)) & 1) << 4);
			}
		acc += dot_k4_5(b[i].scales, b[i].d, b[i].dmin, q, &y[i]);
	}
	return acc;
}

static double dot_q6_K(const void *w, const void *xq, int64_t n)
{
	const struct blk_q6_K *b = w;
	const struct blk_q8_K *y = xq;
	double acc = 0;
	int q[QK_K];
	for (int64_t i = 0; i < n / QK_K; i++) {
		for (int h = 0; h < 2; h++)
			for (int l = 0; l < 32; l++) {
				const uint8_t lo0 = b[i].ql[64 * h + l], lo1 = b[i].ql[64 * h + 32 + l];
				const uint8_t hi = b[i].qh[32 * h + l];
				q[128 * h + l] = ((lo0 & 0x0f) | (((hi >> 0) & 3) << 4)) - 32;
				q[128 * h + 32 + l] = ((lo1 & 0x0f) | (((hi >> 2) & 3) << 4)) - 32;
				q[128 * h + 64 + l] = ((lo0 >> 4) | (((hi >> 4) & 3) << 4)) - 32;
				q[128 * h + 96 + l] = ((lo1 >> 4) | (((hi >> 6) & 3) << 4)) - 32;
			}
		int64_t sum = 0;
		for (int j = 0; j < 16; j++)
			sum += (int64_t)b[i].scales[j] * sub_isum(q + 16 * j, y[i].qs + 16 * j, 16);
		acc += (double)y[i].d * h2d(b[i].d) * (double)sum;
	}
	return acc;
}

/* ------------------------------------------------------------------ */
/* The format table                                                     */
/* ------------------------------------------------------------------ */

struct mm_fmt {
	qnt_type w, xq; /* weight format and ggml's vec_dot_type */
	dot_fn dot;     /* integer product, or NULL: dequantized blocks */
};

static const struct mm_fmt fmts[] = {
	{ QNT_TYPE_Q4_0, QNT_TYPE_Q8_0, dot_q4_0 },
	{ QNT_TYPE_Q4_1, QNT_TYPE_Q8_1, dot_q4_1 },
	{ QNT_TYPE_Q5_0, QNT_TYPE_Q8_0, dot_q5_0 },
	{ QNT_TYPE_Q5_1, QNT_TYPE_Q8_1, dot_q5_1 },
	{ QNT_TYPE_Q8_0, QNT_TYPE_Q8_0, dot_q8_0 },
	{ QNT_TYPE_Q2_K, QNT_TYPE_Q8_K, dot_q2_K },
	{ QNT_TYPE_Q3_K, QNT_TYPE_Q8_K, dot_q3_K },
	{ QNT_TYPE_Q4_K, QNT_TYPE_Q8_K, dot_q4_K },
	{ QNT_TYPE_Q5_K, QNT_TYPE_Q8_K, dot_q5_K },
	{ QNT_TYPE_Q6_K, QNT_TYPE_Q8_K, dot_q6_K },
	{ QNT_TYPE_IQ2_XXS, QNT_TYPE_Q8_K, NULL },
	{ QNT_TYPE_IQ2_XS, QNT_TYPE_Q8_K, NULL },
	{ QNT_TYPE_IQ3_XXS, QNT_TYPE_Q8_K, NULL },
	{ QNT_TYPE_IQ1_S, QNT_TYPE_Q8_K, NULL },
	{ QNT_TYPE_IQ4_NL, QNT_TYPE_Q8_0, NULL },
	{ QNT_TYPE_IQ3_S, QNT_TYPE_Q8_K, NULL },
	{ QNT_TYPE_IQ2_S, QNT_TYPE_Q8_K, NULL },
	{ QNT_TYPE_IQ4_XS, QNT_TYPE_Q8_K, NULL },
	{ QNT_TYPE_IQ1_M, QNT_TYPE_Q8_K, NULL },
	{ QNT_TYPE_TQ1_0, QNT_TYPE_Q8_K, NULL },
	{ QNT_TYPE_TQ2_0, QNT_TYPE_Q8_K, NULL },
	{ QNT_TYPE_MXFP4, QNT_TYPE_Q8_0, NULL },
	{ QNT_TYPE_NVFP4, QNT_TYPE_Q8_0, NULL },
	{ QNT_TYPE_Q1_0, QNT_TYPE_Q8_0, NULL },
	{ QNT_TYPE_Q2_0, QNT_TYPE_Q8_0, NULL },
};

static const struct mm_fmt *find_fmt(qnt_type wtype)
{
	for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++)
		if (fmts[i].w == wtype)
			return &fmts[i];
	return NULL;
}

qnt_type qnt__matmul_ref_xq_type(qnt_type wtype)
{
	const struct qnt__type_traits *t = qnt__traits(wtype);
	const struct mm_fmt *f = find_fmt(wtype);
	/* a format another part of the library does not (yet) provide keeps
	 * the float path */
	if (!t || !t->dequantize || !f)
		return QNT_TYPE_INVALID;
	const struct qnt__type_traits *xt = qnt__traits(f->xq);
	return xt && xt->quantize && xt->dequantize ? f->xq : QNT_TYPE_INVALID;
}

/* ------------------------------------------------------------------ */
/* Dequantizing paths                                                   */
/* ------------------------------------------------------------------ */

#define PIECE 1024 /* floats of W (and x) dequantized at a time */
#define COLS 16    /* columns sharing one dequantized piece of W */

static int64_t gcd64(int64_t a, int64_t b)
{
	while (b) {
		int64_t t = a % b;
		a = b;
		b = t;
	}
	return a;
}

/* Elements per piece: a multiple of both block sizes, at most PIECE unless
 * one such multiple is larger (then that one, if it fits). */
static int64_t piece_len(int64_t bw, int64_t bx)
{
	int64_t l = bw / gcd64(bw, bx) * bx;
	if (l >= PIECE)
		return l;
	return PIECE / l * l;
}

/* Rows [rb, re) for the columns [c0, c0 + nc): W dequantized piece by
 * piece; x read as floats (xt NULL) or as companion blocks dequantized. */
static void rows_dequant(const struct qnt__type_traits *wt, const void *w, size_t wrs, int64_t n_out, int64_t n_in,
			 const float *x, const struct qnt__type_traits *xt, const void *xq, size_t xrs, int64_t c0,
			 int64_t nc, float *y, int64_t rb, int64_t re)
{
	float wp[PIECE], xp[PIECE];
	const int64_t p = piece_len(wt->block_size, xt ? xt->block_size : 1);
	for (int64_t i = rb; i < re; i++) {
		double acc[COLS] = { 0 };
		const char *wrow = (const char *)w + (size_t)i * wrs;
		for (int64_t o = 0; o < n_in; o += p) {
			const int64_t len = n_in - o < p ? n_in - o : p;
			wt->dequantize(wrow + (size_t)(o / wt->block_size) * wt->block_bytes, wp, len);
			for (int64_t c = 0; c < nc; c++) {
				const float *xv;
				if (xt) {
					const char *xrow = (const char *)xq + (size_t)(c0 + c) * xrs;
					xt->dequantize(xrow + (size_t)(o / xt->block_size) * xt->block_bytes, xp, len);
					xv = xp;
				} else {
					xv = x + (c0 + c) * n_in + o;
				}
				double s = 0;
				for (int64_t j = 0; j < len; j++)
					s += (double)wp[j] * (double)xv[j];
				acc[c] += s;
			}
		}
		for (int64_t c = 0; c < nc; c++)
			y[(c0 + c) * n_out + i] = (float)acc[c];
	}
}

/* ------------------------------------------------------------------ */
/* Entry point                                                          */
/* ------------------------------------------------------------------ */

static qnt_status check(qnt_type wtype, const void *w, int64_t n_out, int64_t n_in, const float *x, const void *xq,
			int64_t n_cols, const float *y, int64_t rb, int64_t re, const struct qnt__type_traits **out)
{
	const struct qnt__type_traits *t = qnt__traits(wtype);
	if (!t)
		return qnt__error(NULL, QNT_E_UNKNOWN_TYPE, "matmul_ref: unknown type id %d", (int)wtype);
	if (!w || !y || (!x && !xq))
		return qnt__error(NULL, QNT_E_INVALID_ARG, "matmul_ref(%s): %s is NULL", t->name,
				  !w ? "w" : !y ? "y" : "x");
	if (n_out < 0 || n_cols < 0 || rb < 0 || rb > re || re > n_out)
		return qnt__error(NULL, QNT_E_INVALID_ARG,
				  "matmul_ref(%s): rows [%lld, %lld) of %lld outputs, %lld columns", t->name,
				  (long long)rb, (long long)re, (long long)n_out, (long long)n_cols);
	if (n_in <= 0 || n_in % t->block_size != 0)
		return qnt__error(NULL, QNT_E_BAD_SHAPE,
				  "matmul_ref(%s): n_in %lld is not a positive multiple of the block size %lld", t->name,
				  (long long)n_in, (long long)t->block_size);
	if (!t->dequantize)
		return qnt__error(NULL, QNT_E_UNSUPPORTED, "matmul_ref: %s cannot be dequantized", t->name);
	*out = t;
	return QNT_OK;
}

qnt_status qnt__matmul_ref(qnt_type wtype, const void *w, int64_t n_out, int64_t n_in, const float *x,
			   const void *xq, int64_t n_cols, float *y, int64_t row_begin, int64_t row_end)
{
	const struct qnt__type_traits *t = NULL;
	qnt_status st = check(wtype, w, n_out, n_in, x, xq, n_cols, y, row_begin, row_end, &t);
	if (st != QNT_OK)
		return st;
	if (row_begin == row_end || n_cols == 0)
		return QNT_OK;

	const size_t wrs = qnt_row_size(wtype, n_in);
	const qnt_type xq_type = qnt__matmul_ref_xq_type(wtype);
	const struct qnt__type_traits *xt = xq_type != QNT_TYPE_INVALID ? qnt__traits(xq_type) : NULL;
	if (xt && n_in % xt->block_size != 0)
		return qnt__error(NULL, QNT_E_BAD_SHAPE,
				  "matmul_ref(%s): n_in %lld is not a multiple of the block size %lld of its activations (%s)",
				  t->name, (long long)n_in, (long long)xt->block_size, xt->name);
	if (!xt) {
		if (!x)
			return qnt__error(NULL, QNT_E_INVALID_ARG, "matmul_ref(%s): x is NULL", t->name);
		for (int64_t c0 = 0; c0 < n_cols; c0 += COLS)
			rows_dequant(t, w, wrs, n_out, n_in, x, NULL, NULL, 0, c0,
				     n_cols - c0 < COLS ? n_cols - c0 : COLS, y, row_begin, row_end);
		return QNT_OK;
	}

	const size_t xrs = qnt_row_size(xq_type, n_in);
	void *own = NULL;
	if (!xq) {
		if ((uint64_t)n_cols > SIZE_MAX / xrs)
			return qnt__error(NULL, QNT_E_BAD_SHAPE, "matmul_ref(%s): %lld columns overflow", t->name,
					  (long long)n_cols);
		own = qnt__aligned_alloc((size_t)n_cols * xrs, 64);
		if (!own)
			return qnt__error(NULL, QNT_E_NO_MEMORY, "matmul_ref(%s): out of memory for the activations",
					  t->name);
		xt->quantize(x, own, n_cols, n_in, NULL);
		xq = own;
	}
	const struct mm_fmt *f = find_fmt(wtype);
	if (f && f->dot) {
		for (int64_t c = 0; c < n_cols; c++) {
			const char *xrow = (const char *)xq + (size_t)c * xrs;
			for (int64_t i = row_begin; i < row_end; i++)
				y[c * n_out + i] = (float)f->dot((const char *)w + (size_t)i * wrs, xrow, n_in);
		}
	} else {
		for (int64_t c0 = 0; c0 < n_cols; c0 += COLS)
			rows_dequant(t, w, wrs, n_out, n_in, NULL, xt, xq, xrs, c0,
				     n_cols - c0 < COLS ? n_cols - c0 : COLS, y, row_begin, row_end);
	}
	qnt__aligned_free(own);
	return QNT_OK;
}
