/* SPDX-License-Identifier: MIT */
/*
 * Scalar reference for ggml's legacy block formats: q4_0, q4_1, q5_0, q5_1,
 * q8_0 and q8_1 (32 elements per block).
 *
 * Layouts and the rounding of the reference quantizers follow ggml
 * (ggml-common.h, ggml-quants.c), written anew here. Without importance
 * weights the bytes are those of ggml's quantize_row_*_ref; the products and
 * sums are computed unfused (this file is built with -ffp-contract=off), which
 * is what ggml's portable x86-64 build does.
 *
 * With importance weights w, each block minimises sum_j w_j (x_j - x^_j)^2
 * over the values the format can store: a search over candidate scales
 * (each followed by a weighted least-squares refit, with the scale rounded to
 * fp16 before the codes are chosen), which starts from ggml's blocks (its
 * imatrix block, and round-to-nearest) and keeps them unless it does better.
 * The symmetric formats evaluate eight candidate scales per float vector
 * (qnt_lanes.h), q8_0 from its round-to-nearest scale only.
 */
#include "qnt_fp.h"
#include "qnt_lanes.h"
#include "qnt_internal.h"
#include "qnt_blocks.h"
#include "formats.h"
#include "ggml_fit.h"
#include "quant_legacy.h"

#include <assert.h>
#include <math.h>
#include <string.h>
#if defined(__AVX__) || defined(__SSE__) || defined(__SSE2__)
#include <immintrin.h>
#endif



/* ------------------------------------------------------------------ */
/* Packing: codes 0..2^bits-1 in element order -> block bytes           */
/* ------------------------------------------------------------------ */

/* Element j (< 16) goes to the low nibble of qs[j], element j + 16 to the
 * high nibble; for 5-bit formats bit 4 of element j is bit j of qh. */
static void pack_nibbles(const uint8_t *c, uint8_t *qs)
{
	for (int j = 0; j < QK / 2; j++)
		qs[j] = (uint8_t)((c[j] & 0x0f) | ((c[j + QK / 2] & 0x0f) << 4));
}

static void pack_high_bits(const uint8_t *c, uint8_t qh[4])
{
	uint32_t h = 0;
	for (int j = 0; j < QK; j++)
		h |= (uint32_t)((c[j] >> 4) & 1u) << j;
	for (int k = 0; k < 4; k++)
		qh[k] = (uint8_t)(h >> (8 * k));
}

static void unpack_nibbles(const uint8_t *qs, const uint8_t *qh, uint8_t *c)
{
	uint32_t h = 0;
	if (qh)
		h = (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
	for (int j = 0; j < QK / 2; j++) {
		c[j] = (uint8_t)((qs[j] & 0x0f) | (((h >> j) & 1u) << 4));
		c[j + QK / 2] = (uint8_t)((qs[j] >> 4) | (((h >> (j + QK / 2)) & 1u) << 4));
	}
}

/* ------------------------------------------------------------------ */
/* ggml's round-to-nearest reference quantizers                         */
/* ------------------------------------------------------------------ */

/* The element of largest magnitude, with its sign (first one on ties). */
static float signed_absmax(const float *x)
{
	float amax = 0.0f, max = 0.0f;
	for (int j = 0; j < QK; j++) {
		if (amax < fabsf(x[j])) {
			amax = fabsf(x[j]);
			max = x[j];
		}
	}
	return max;
}

static void min_max(const float *x, float *mn, float *mx)
{
	float lo = INFINITY, hi = -INFINITY;
	for (int j = 0; j < QK; j++) {
		if (x[j] < lo)
			lo = x[j];
		if (x[j] > hi)
			hi = x[j];
	}
	*mn = lo;
	*mx = hi;
}

/* Symmetric RTN with an offset: code = trunc(x * id + offset + 0.5) in the
 * x86 conversion semantics, kept to its low 8 bits as ggml's int8_t cast,
 * then limited to cmax. */
static void rtn_sym(const float *x, int nmax, int cmax, float *d_out, uint8_t *c)
{
	const float max = signed_absmax(x);
	const float d = max / (float)-nmax;
	const float id = d != 0.0f ? 1.0f / d : 0.0f;
	const float off = (float)nmax + 0.5f;
	for (int j = 0; j < QK; j++) {
		int8_t v = (int8_t)(uint8_t)qnt__cvt_trunc(x[j] * id + off);
		c[j] = (uint8_t)(v < cmax ? v : cmax);
	}
	*d_out = d;
}

void qnt__ref_q4_0(const float *x, void *out)
{
	struct blk_q4_0 *b = out;
	uint8_t c[QK];
	float d;
	rtn_sym(x, 8, 15, &d, c);
	b->d = qnt__fp32_to_fp16(d);
	pack_nibbles(c, b->qs);
}

void qnt__ref_q5_0(const float *x, void *out)
{
	struct blk_q5_0 *b = out;
	uint8_t c[QK];
	float d;
	rtn_sym(x, 16, 31, &d, c);
	b->d = qnt__fp32_to_fp16(d);
	pack_nibbles(c, b->qs);
	pack_high_bits(c, b->qh);
}

void qnt__ref_q4_1(const float *x, void *out)
{
	struct blk_q4_1 *b = out;
	uint8_t c[QK];
	float mn, mx;
	min_max(x, &mn, &mx);
	const float d = (mx - mn) / 15.0f;
	const float id = d != 0.0f ? 1.0f / d : 0.0f;
	for (int j = 0; j < QK; j++) {
		int8_t v = (int8_t)(uint8_t)qnt__cvt_trunc((x[j] - mn) * id + 0.5f);
		c[j] = (uint8_t)(v < 15 ? v : 15);
	}
	b->d = qnt__fp32_to_fp16(d);
	b->m = qnt__fp32_to_fp16(mn);
	pack_nibbles(c, b->qs);
}

void qnt__ref_q5_1(const float *x, void *out)
{
	struct blk_q5_1 *b = out;
	uint8_t c[QK];
	float mn, mx;
	min_max(x, &mn, &mx);
	const float d = (mx - mn) / 31.0f;
	const float id = d != 0.0f ? 1.0f / d : 0.0f;
	for (int j = 0; j < QK; j++) /* ggml keeps the low byte, no clamp */
		c[j] = (uint8_t)qnt__cvt_trunc((x[j] - mn) * id + 0.5f);
	b->d = qnt__fp32_to_fp16(d);
	b->m = qnt__fp32_to_fp16(mn);
	pack_nibbles(c, b->qs);
	pack_high_bits(c, b->qh);
}

static float absmax(const float *x)
{
	float amax = 0.0f;
	for (int j = 0; j < QK; j++) {
		float a = fabsf(x[j]);
		amax = amax > a ? amax : a;
	}
	return amax;
}

void qnt__ref_q8_0(const float *x, void *out)
{
	struct blk_q8_0 *b = out;
	const float d = absmax(x) / 127.0f;
	const float id = d != 0.0f ? 1.0f / d : 0.0f;
	b->d = qnt__fp32_to_fp16(d);
	for (int j = 0; j < QK; j++)
		b->qs[j] = (int8_t)(uint8_t)qnt__cvt_round(x[j] * id);
}

void qnt__ref_q8_1(const float *x, void *out)
{
	struct blk_q8_1 *b = out;
	const float d = absmax(x) / 127.0f;
	const float id = d != 0.0f ? 1.0f / d : 0.0f;
	int sum = 0;
	b->d = qnt__fp32_to_fp16(d);
	for (int j = 0; j < QK; j++) {
		b->qs[j] = (int8_t)(uint8_t)qnt__cvt_round(x[j] * id);
		sum += b->qs[j];
	}
	b->s = qnt__fp32_to_fp16((float)sum * d);
}

/* ------------------------------------------------------------------ */
/* Dequantizers                                                         */
/* ------------------------------------------------------------------ */

static void deq_q4_0(const void *src, float *y, int64_t n)
{
	const struct blk_q4_0 *b = src;
	uint8_t c[QK];
	for (int64_t i = 0; i < n / QK; i++, b++, y += QK) {
		const float d = qnt__fp16_to_fp32(b->d);
		unpack_nibbles(b->qs, NULL, c);
		for (int j = 0; j < QK; j++)
			y[j] = (float)((int)c[j] - 8) * d;
	}
}

static void deq_q4_1(const void *src, float *y, int64_t n)
{
	const struct blk_q4_1 *b = src;
	uint8_t c[QK];
	for (int64_t i = 0; i < n / QK; i++, b++, y += QK) {
		const float d = qnt__fp16_to_fp32(b->d);
		const float m = qnt__fp16_to_fp32(b->m);
		unpack_nibbles(b->qs, NULL, c);
		for (int j = 0; j < QK; j++)
			y[j] = (float)c[j] * d + m;
	}
}

static void deq_q5_0(const void *src, float *y, int64_t n)
{
	const struct blk_q5_0 *b = src;
	uint8_t c[QK];
	for (int64_t i = 0; i < n / QK; i++, b++, y += QK) {
		const float d = qnt__fp16_to_fp32(b->d);
		unpack_nibbles(b->qs, b->qh, c);
		for (int j = 0; j < QK; j++)
			y[j] = (float)((int)c[j] - 16) * d;
	}
}

static void deq_q5_1(const void *src, float *y, int64_t n)
{
	const struct blk_q5_1 *b = src;
	uint8_t c[QK];
	for (int64_t i = 0; i < n / QK; i++, b++, y += QK) {
		const float d = qnt__fp16_to_fp32(b->d);
		const float m = qnt__fp16_to_fp32(b->m);
		unpack_nibbles(b->qs, b->qh, c);
		for (int j = 0; j < QK; j++)
			y[j] = (float)c[j] * d + m;
	}
}

static void deq_q8_0(const void *src, float *y, int64_t n)
{
	const struct blk_q8_0 *b = src;
	for (int64_t i = 0; i < n / QK; i++, b++, y += QK) {
		const float d = qnt__fp16_to_fp32(b->d);
		for (int j = 0; j < QK; j++)
			y[j] = (float)b->qs[j] * d;
	}
}

static void deq_q8_1(const void *src, float *y, int64_t n)
{
	const struct blk_q8_1 *b = src;
	for (int64_t i = 0; i < n / QK; i++, b++, y += QK) {
		const float d = qnt__fp16_to_fp32(b->d);
		for (int j = 0; j < QK; j++)
			y[j] = (float)b->qs[j] * d;
	}
}

/* ------------------------------------------------------------------ */
/* Importance-weighted search                                           */
/* ------------------------------------------------------------------ */

/* Codes for a fixed scale (and offset m): the nearest representable value,
 * which is optimal for each element once d and m are fixed (up to the
 * rounding of the reciprocal; the error is always measured exactly). */
static inline int nearest_code(float x, float id, float m, int cmin, int cmax)
{
	/* branch-free clamp to [0, cmax - cmin] (NaN goes to 0); then t >= 0
	 * and truncation is floor */
	float t = (x - m) * id - (float)cmin;
	const float hi = (float)(cmax - cmin);
	t = t > 0.0f ? t : 0.0f;
	t = t < hi ? t : hi;
	return (int)(t + 0.5f) + cmin;
}

/* Weighted error of codes c (value = d*c + m, with the fp16-rounded d, m). */
static double werr(const float *x, const float *w, const int *c, float d, float m)
{
	double e = 0;
	for (int j = 0; j < QK; j++) {
		float y = (float)c[j] * d + m;
		double r = (double)x[j] - (double)y;
		e += (double)w[j] * r * r;
	}
	return e;
}

/* werr for m = 0, in four double lanes (element j in lane j % 4, the lanes
 * added in a fixed order at the end). */
static double werr4(const float *x, const float *w, const int *c, float d)
{
	qnt__v4d e = { 0, 0, 0, 0 };
	for (int j = 0; j < QK; j += 4) {
		qnt__v4i cv;
		memcpy(&cv, c + j, sizeof cv);
		const qnt__v4f y = __builtin_convertvector(cv, qnt__v4f) * d;
		qnt__v4f xv, wv;
		memcpy(&xv, x + j, sizeof xv);
		memcpy(&wv, w + j, sizeof wv);
		const qnt__v4d r = __builtin_convertvector(xv, qnt__v4d) - __builtin_convertvector(y, qnt__v4d);
		e += __builtin_convertvector(wv, qnt__v4d) * r * r;
	}
	return (e[0] + e[1]) + (e[2] + e[3]);
}

struct cand {
	double err;
	int found;  /* d, m and c hold a search result (else only err is set) */
	float d, m; /* fp16-representable */
	int c[QK];
};

/* Rounds d (and m) to fp16, picks the best codes for them and keeps the
 * result if it beats `best`. With `neighbours`, also tries the two fp16
 * values next to d: the least-squares optimum moves once d is rounded. */
static void try_scale(const float *x, const float *w, float d, float m, int cmin, int cmax, int neighbours,
		      struct cand *best)
{
	uint16_t hd = qnt__fp32_to_fp16(d);
	float m16 = qnt__fp16_round(m);
	for (int k = -neighbours; k <= neighbours; k++) {
		uint16_t h = (uint16_t)(hd + k);
		if ((h & 0x7c00u) == 0x7c00u || (k != 0 && ((h ^ hd) & 0x8000u)))
			continue; /* inf/nan, or crossed the sign */
		float d16 = qnt__fp16_to_fp32(h);
		if (d16 == 0.0f)
			continue;
		float id = 1.0f / d16;
		struct cand c;
		for (int j = 0; j < QK; j++)
			c.c[j] = nearest_code(x[j], id, m16, cmin, cmax);
		c.err = werr(x, w, c.c, d16, m16);
		if (c.err < best->err) {
			c.found = 1;
			c.d = d16;
			c.m = m16;
			*best = c;
		}
	}
}

/* Weighted least squares of d and m for a fixed set of codes. Returns 0 when
 * the system is singular. */
static int lsq_fit(const float *x, const float *w, const int *c, float *d, float *m)
{
	double sw = 0, sc = 0, scc = 0, sx = 0, scx = 0;
	for (int j = 0; j < QK; j++) {
		double wj = w[j], cj = c[j];
		sw += wj;
		sc += wj * cj;
		scc += wj * cj * cj;
		sx += wj * x[j];
		scx += wj * cj * x[j];
	}
	double det = sw * scc - sc * sc;
	if (!(det > 0))
		return 0;
	*d = (float)((sw * scx - sc * sx) / det);
	*m = (float)((scc * sx - sc * scx) / det);
	return 1;
}

/* Refits from the best codes until the error stops falling. */
static void refine(const float *x, const float *w, int cmin, int cmax, struct cand *best)
{
	if (!best->found) /* nothing beat the reference block: no codes to refit */
		return;
	for (int it = 0; it < 4; it++) {
		double before = best->err;
		float d, m;
		if (!lsq_fit(x, w, best->c, &d, &m))
			return;
		try_scale(x, w, d, m, cmin, cmax, 1, best);
		if (!(best->err < before))
			return;
	}
}

/* Formats with an offset (q4_1, q5_1).
 * Scans candidate inverse scales cheaply: each gives codes, the weighted
 * least-squares (d, m) for them, rounded to fp16, and the error those codes
 * have at that (d, m), computed from the sums. The best scan candidate is then
 * evaluated exactly (codes re-chosen for the rounded scale, fp16 neighbours)
 * and refined; only exact errors decide against ggml's block. The candidates
 * are the lanes of the inner loop (independent sums, each in element
 * order); the sums that do not depend on the codes are taken once. */
#define SCAN_MAX 40 /* candidates, a multiple of 4 (four lanes per vector) */

static void scan(const float *x, const float *w, const float *iscales, int n_iscales, float m0,
		 int cmin, int cmax, struct cand *best)
{
	double sxx = 0, sw = 0, sx = 0;
	for (int j = 0; j < QK; j++) {
		double wj = w[j];
		sxx += (double)w[j] * x[j] * x[j];
		sw += wj;
		sx += wj * x[j];
	}
	/* nearest_code lane by lane; the lanes past n_iscales repeat the first
	 * scale and are not read */
	const int nv = (n_iscales + 3) / 4;
	qnt__v4f isc[SCAN_MAX / 4];
	qnt__v4d sc[SCAN_MAX / 4], scc[SCAN_MAX / 4], scx[SCAN_MAX / 4];
	{
		float pad[SCAN_MAX];
		for (int k = 0; k < 4 * nv; k++)
			pad[k] = k < n_iscales ? iscales[k] : iscales[0];
		memcpy(isc, pad, sizeof isc[0] * (size_t)nv);
	}
	const float fcmin = (float)cmin, hi = (float)(cmax - cmin);
	const qnt__v4f vzero = { 0, 0, 0, 0 }, vhi = { hi, hi, hi, hi };
	float xm[QK];
	for (int j = 0; j < QK; j++)
		xm[j] = x[j] - m0;
	for (int v = 0; v < nv; v++) {
		qnt__v4d vsc = { 0, 0, 0, 0 }, vscc = vsc, vscx = vsc;
		for (int j = 0; j < QK; j++) {
			const double wj = w[j], xj = x[j];
			qnt__v4f t = xm[j] * isc[v] - fcmin;
			t = qnt__select_v4f(t > vzero, t, vzero);
			t = qnt__select_v4f(t < vhi, t, vhi);
			const qnt__v4i c = __builtin_convertvector(t + 0.5f, qnt__v4i) + cmin;
			const qnt__v4d cj = __builtin_convertvector(c, qnt__v4d);
			const qnt__v4d wc = wj * cj;
			vsc += wc;
			vscc += wc * cj;
			vscx += wc * xj;
		}
		sc[v] = vsc;
		scc[v] = vscc;
		scx[v] = vscx;
	}
	double asc[SCAN_MAX], ascc[SCAN_MAX], ascx[SCAN_MAX];
	memcpy(asc, sc, sizeof sc[0] * (size_t)nv);
	memcpy(ascc, scc, sizeof scc[0] * (size_t)nv);
	memcpy(ascx, scx, sizeof scx[0] * (size_t)nv);
	double best_est = INFINITY;
	float best_d = 0, best_m = 0;
	for (int k = 0; k < n_iscales; k++) {
		const double sck = asc[k], scck = ascc[k], scxk = ascx[k];
		const double det = sw * scck - sck * sck;
		if (!(det > 0))
			continue;
		const double d = (sw * scxk - sck * sx) / det;
		const double m = (scck * sx - sck * scxk) / det;
		double d16 = qnt__fp16_round((float)d), m16 = qnt__fp16_round((float)m);
		double est = sxx - 2 * d16 * scxk - 2 * m16 * sx + d16 * d16 * scck + 2 * d16 * m16 * sck +
			     m16 * m16 * sw;
		if (est < best_est) {
			best_est = est;
			best_d = (float)d;
			best_m = (float)m;
		}
	}
	if (best_est < INFINITY) {
		try_scale(x, w, best_d, best_m, cmin, cmax, 1, best);
		refine(x, w, cmin, cmax, best);
	}
}

/* Formats with an offset: value = d * c + m with c in [0, cmax]. */
static void search_asym(const float *x, const float *w, int cmax, struct cand *best)
{
	float mn, mx;
	min_max(x, &mn, &mx);
	if (!(mx > mn))
		return;
	float iscales[19];
	int n = 0;
	for (int is = -9; is <= 9; is++)
		iscales[n++] = ((float)cmax + 0.1f * (float)is) / (mx - mn);
	scan(x, w, iscales, n, mn, 0, cmax, best);
}

/* ------------------------------------------------------------------ */
/* Symmetric formats (q4_0, q5_0, q8_0): eight candidates per vector    */
/* ------------------------------------------------------------------ */

#define V8F(v) ((qnt__v8f){ v, v, v, v, v, v, v, v })

/* The code nearest to t in [lo, hi] (integers), as a float, lane by lane:
 * float(qnt__clamp(qnt__nearest_int(t), lo, hi)) wherever nearest_int is
 * exact (|t| < 2^22), and lo for NaN. t is clamped first (a clamped integer
 * bound rounds to itself), then rounded to nearest even by adding and
 * subtracting 1.5 * 2^23. maxps/minps where the target has them (one
 * instruction per bound; the same result as the selects otherwise:
 * the bound when t is NaN), so every build gives the same floats. */
static inline __attribute__((always_inline)) qnt__v8f code_v8(qnt__v8f t, float lo, float hi)
{
#if defined(__AVX__)
	__m256 v = _mm256_max_ps((__m256)t, _mm256_set1_ps(lo));
	t = (qnt__v8f)_mm256_min_ps(v, _mm256_set1_ps(hi));
#elif defined(__SSE__)
	__m128 a, b;
	memcpy(&a, &t, sizeof a);
	memcpy(&b, (const char *)&t + sizeof a, sizeof b);
	a = _mm_min_ps(_mm_max_ps(a, _mm_set1_ps(lo)), _mm_set1_ps(hi));
	b = _mm_min_ps(_mm_max_ps(b, _mm_set1_ps(lo)), _mm_set1_ps(hi));
	memcpy(&t, &a, sizeof a);
	memcpy((char *)&t + sizeof a, &b, sizeof b);
#else
	t = qnt__select_v8f(t > V8F(lo), t, V8F(lo));
	t = qnt__select_v8f(t < V8F(hi), t, V8F(hi));
#endif
	return (t + 12582912.0f) - 12582912.0f;
}

/* Eight fp16 scales at once, one per lane: each lane's codes are the
 * nearest to x * (1 / d) in [cmin, cmax], and for them the weighted error
 * sum w (x - d c)^2 (term by term: no cancellation) and the refit sums
 * sum w c^2 and sum w c x. Float, each lane in element order (qnt_lanes.h),
 * so the same in every build. */
struct lanes8 {
	qnt__v8f err, scc, scx;
};

static inline __attribute__((always_inline)) void eval8(const float *x, const float *w, qnt__v8f d, int cmin,
							  int cmax, struct lanes8 *o)
{
	const qnt__v8f id = 1.0f / d;
	qnt__v8f err = V8F(0.0f), scc = err, scx = err;
	for (int j = 0; j < QK; j++) {
		const float xj = x[j], wj = w[j];
		const qnt__v8f fc = code_v8(xj * id, (float)cmin, (float)cmax);
		const qnt__v8f r = xj - fc * d;
		const qnt__v8f wc = wj * fc;
		err += wj * (r * r);
		scc += wc * fc;
		scx += wc * xj;
	}
	o->err = err;
	o->scc = scc;
	o->scx = scx;
}

/* The eight fp16 values h + stride * (k - 3), k = 0..7, that are finite,
 * non-zero and of h's sign (the others repeat h): their magnitude bits in hs,
 * their values in d. Returns 0 when h itself is unusable (inf, nan, zero). */
static inline __attribute__((always_inline)) int neighbour_scales(uint16_t h, int stride, int hs[8], qnt__v8f *d)
{
	if ((h & 0x7c00u) == 0x7c00u || (h & 0x7fffu) == 0)
		return 0;
	const int hm = h & 0x7fff;
	if (hm - 3 * stride >= 0x0400 && hm + 4 * stride < 0x7c00) {
		/* all eight normal: rebias the exponent and shift (exact) */
		const qnt__v8i k = { -3, -2, -1, 0, 1, 2, 3, 4 };
		const qnt__v8i hv = hm + stride * k;
		const qnt__v8i bits = ((hv + (112 << 10)) << 13) | (int32_t)((uint32_t)(h & 0x8000u) << 16);
		memcpy(d, &bits, sizeof *d);
		memcpy(hs, &hv, sizeof(int) * 8);
	} else {
		for (int k = 0; k < 8; k++) {
			const int v = hm + stride * (k - 3);
			hs[k] = v > 0 && v < 0x7c00 ? v : hm;
			(*d)[k] = qnt__fp16_to_fp32((uint16_t)((h & 0x8000u) | (unsigned)hs[k]));
		}
	}
	return 1;
}

/* The best of the eight fp16 values h + stride * (k - 3), k = 0..7, that are
 * finite, non-zero and of h's sign (the others repeat h), and (when d_refit
 * is not NULL) the least-squares scale of its codes. Returns the lane's
 * error (infinite when h itself is unusable). */
static inline __attribute__((always_inline)) float
best_of_neighbours(const float *x, const float *w, uint16_t h, int stride, int cmin, int cmax, uint16_t *h_best,
		   float *d_refit)
{
	*h_best = h;
	if (d_refit)
		*d_refit = 0.0f;
	int hs[8];
	qnt__v8f d;
	if (!neighbour_scales(h, stride, hs, &d))
		return INFINITY;
	struct lanes8 o;
	eval8(x, w, d, cmin, cmax, &o);
	int kb = 0;
	float eb = o.err[0];
	for (int k = 1; k < 8; k++) { /* the first of the lowest, without branches */
		const int lt = o.err[k] < eb;
		kb = lt ? k : kb;
		eb = lt ? o.err[k] : eb;
	}
	*h_best = (uint16_t)((h & 0x8000u) | (unsigned)hs[kb]);
	if (d_refit)
		*d_refit = o.scc[kb] > 0.0f ? o.scx[kb] / o.scc[kb] : 0.0f;
	return o.err[kb];
}

/* qnt__fp16_round lane by lane: where every lane rounds to a normal fp16
 * value, the float's mantissa rounded to 10 bits (to nearest even) in place. */
static inline qnt__v8f fp16_round_v8(qnt__v8f f)
{
	qnt__v8i bits, ax;
	memcpy(&bits, &f, sizeof bits);
	ax = bits & 0x7fffffff;
	const qnt__v8i lo = { 0x387fffff, 0x387fffff, 0x387fffff, 0x387fffff, 0x387fffff, 0x387fffff, 0x387fffff, 0x387fffff };
	const qnt__v8i hi = { 0x477ff000, 0x477ff000, 0x477ff000, 0x477ff000, 0x477ff000, 0x477ff000, 0x477ff000, 0x477ff000 };
	const qnt__v8i normal = qnt__gt_v8i(ax, lo) & qnt__lt_v8i(ax, hi);
	int all = 1;
	for (int k = 0; k < 8; k++)
		all &= normal[k] != 0;
	if (!all) {
		for (int k = 0; k < 8; k++)
			f[k] = qnt__fp16_round(f[k]);
		return f;
	}
	bits = (bits + (0xfff + ((bits >> 13) & 1))) & ~0x1fff;
	memcpy(&f, &bits, sizeof f);
	return f;
}

/* Codes for the fp16 scale h (as eval8 picks them), and their exact
 * weighted error; kept in `best` when lower. */
static void keep_if_better(const float *x, const float *w, uint16_t h, int cmin, int cmax, struct cand *best)
{
	struct cand c;
	c.d = qnt__fp16_to_fp32(h);
	c.m = 0.0f;
	const qnt__v8f id = V8F(1.0f / c.d);
	for (int v = 0; v < QK / 8; v++) { /* as eval8 picks them */
		qnt__v8f xv;
		memcpy(&xv, x + 8 * v, sizeof xv);
		const qnt__v8i cv = __builtin_convertvector(code_v8(xv * id, (float)cmin, (float)cmax), qnt__v8i);
		memcpy(c.c + 8 * v, &cv, sizeof cv);
	}
	c.err = werr4(x, w, c.c, c.d);
	if (c.err < best->err) {
		c.found = 1;
		*best = c;
	}
}

/* From the fp16 scale h: its neighbours (h - 3 .. h + 4), then up to two
 * refits of the best one's codes, each with its own
 * neighbours; the best is checked exactly against `best`. */
static void polish_sym(const float *x, const float *w, uint16_t h, int cmin, int cmax, struct cand *best)
{
	uint16_t hb;
	float d_refit;
	float e = best_of_neighbours(x, w, h, 1, cmin, cmax, &hb, &d_refit);
	if (!(e < INFINITY))
		return;
	for (int it = 0; it < 2; it++) {
		const uint16_t hr = qnt__fp32_to_fp16(d_refit);
		if (hr == hb)
			break;
		uint16_t h2;
		float d2;
		const float e2 = best_of_neighbours(x, w, hr, 1, cmin, cmax, &h2, &d2);
		if (!(e2 < e))
			break;
		e = e2;
		hb = h2;
		d_refit = d2;
	}
	keep_if_better(x, w, hb, cmin, cmax, best);
}

/* q4_0 and q5_0: value = d * q with q in [qmin, qmax]. Candidate inverse
 * scales map the element of largest magnitude to targets beyond the wide end
 * of the range (qmin: from 0.4 to 1.1 beyond it) and inside the narrow one
 * (qmax: from 1.0 to 0.3 inside), 8 each, 0.1 apart (the targets that won
 * most often among twice as many); each gives codes, their least-squares
 * scale rounded to fp16 and, from the sums, the error of the codes at that
 * scale (in float: only a ranking). The best (the first of the lowest,
 * found without branches) is polished. */
#define SYM_NV 2 /* vectors of eight candidates: one per end */

static void search_sym(const float *x, const float *w, float max, int qmin, int qmax, struct cand *best)
{
	if (max == 0.0f)
		return;
	/* steps (of 0.1) outward from each end */
	static const float steps[8 * SYM_NV] = {
#define S(i) 0.1f * (float)(i)
		S(4), S(5), S(6), S(7), S(8), S(9), S(10), S(11),
		S(-10), S(-9), S(-8), S(-7), S(-6), S(-5), S(-4), S(-3),
#undef S
	};
	qnt__v8f isc[SYM_NV];
	memcpy(isc, steps, sizeof isc);
	for (int v = 0; v < SYM_NV; v++) /* targets qmin - step, qmax + step */
		isc[v] = (v < SYM_NV / 2 ? (float)qmin - isc[v] : (float)qmax + isc[v]) / max;
	float best_est = INFINITY, best_d = 0.0f;
	for (int v = 0; v < SYM_NV; v++) {
		qnt__v8f scc = V8F(0.0f), scx = scc;
		for (int j = 0; j < QK; j++) {
			const float xj = x[j], wj = w[j];
			const qnt__v8f fc = code_v8(xj * isc[v], (float)qmin, (float)qmax);
			const qnt__v8f wc = wj * fc;
			scc += wc * fc;
			scx += wc * xj;
		}
		const qnt__v8f d = scx / scc;
		const qnt__v8f d16 = fp16_round_v8(d);
		const qnt__v8f est = d16 * (d16 * scc - 2.0f * scx);
		for (int k = 0; k < 8; k++) {
			const int lt = est[k] < best_est;
			best_est = lt ? est[k] : best_est;
			best_d = lt ? d[k] : best_d;
		}
	}
	if (best_est < INFINITY)
		polish_sym(x, w, qnt__fp32_to_fp16(best_d), qmin, qmax, best);
}

/* The block's 32 floats as four vectors, loaded one by one (they stay in
 * registers: a copy of the whole array through the stack would be stored
 * in halves and read back whole). */
static inline __attribute__((always_inline)) void load_v8x4(const float *p, qnt__v8f v[QK / 8])
{
#pragma GCC unroll 4
	for (int i = 0; i < QK / 8; i++)
		memcpy(&v[i], p + 8 * i, sizeof v[i]);
}

/* max |x| over the block's four vectors (a tree over the lanes: the maximum
 * of finite non-negative floats in any order); *finite: the lanes where
 * every |x| is at most FLT_MAX (where one is not, the result is not max |x|). */
static inline __attribute__((always_inline)) float absmax_v8x4(const qnt__v8f xv[QK / 8], qnt__v8i *finite)
{
	qnt__v8f amax = V8F(0.0f);
	qnt__v8i ok = ~(qnt__v8i){ 0 };
#pragma GCC unroll 4
	for (int v = 0; v < QK / 8; v++) {
		const qnt__v8f a = qnt__abs_v8f(xv[v]);
		ok &= qnt__le_v8f(a, V8F(3.40282347e38f));
		amax = qnt__select_v8f(qnt__gt_v8f(a, amax), a, amax);
	}
	static const qnt__v8i s4 = { 4, 5, 6, 7, 0, 1, 2, 3 }, s2 = { 2, 3, 0, 1, 6, 7, 4, 5 },
			      s1 = { 1, 0, 3, 2, 5, 4, 7, 6 };
	qnt__v8f o = QNT__SHUF1(amax, s4);
	amax = qnt__select_v8f(qnt__gt_v8f(o, amax), o, amax);
	o = QNT__SHUF1(amax, s2);
	amax = qnt__select_v8f(qnt__gt_v8f(o, amax), o, amax);
	o = QNT__SHUF1(amax, s1);
	amax = qnt__select_v8f(qnt__gt_v8f(o, amax), o, amax);
	*finite = ok;
	return amax[0];
}

/* q8_0 with importance: ggml's round-to-nearest block (its bytes, computed
 * eight elements at a time), then eight fp16 scales Q8_STRIDE fp16 steps
 * apart, from Q8_SHIFT - 3 Q8_STRIDE = 2 steps above the round-to-nearest
 * scale (with 8-bit codes the error is a rugged function of the scale:
 * spread-out samples find lower errors than adjacent ones; scales above the
 * round-to-nearest one find lower errors than samples around the
 * least-squares scale of its codes, need no clamping of the codes and do not
 * wait for a fit), each with its nearest codes. The float
 * errors of the two are within a relative 2.2e-6 of the exact ones (32
 * positive terms, each a few roundings), so the search's block is kept only
 * when its error is below the round-to-nearest one by more than 1e-5: never
 * worse than ggml's bytes. Blocks with a non-finite value take the scalar
 * reference. */
#define Q8_STRIDE 10
#define Q8_SHIFT 32

/* The 32 codes q (each in [-127, 127]) as bytes, in element order: saturating
 * packs where the target has them (exact in this range). */
static inline void store_q8(const qnt__v8i q[QK / 8], int8_t *qs)
{
#if defined(__AVX2__)
	__m256i v[4];
	memcpy(v, q, sizeof v);
	/* per 128-bit half: q0 q1 q2 q3, four codes each, low half then high */
	const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(v[0], v[1]), _mm256_packs_epi32(v[2], v[3]));
	const __m256i r = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
	memcpy(qs, &r, sizeof r);
#elif defined(__SSE2__)
	__m128i v[8];
	memcpy(v, q, sizeof v);
	for (int i = 0; i < 2; i++) {
		const __m128i r = _mm_packs_epi16(_mm_packs_epi32(v[4 * i], v[4 * i + 1]),
						  _mm_packs_epi32(v[4 * i + 2], v[4 * i + 3]));
		memcpy(qs + 16 * i, &r, sizeof r);
	}
#else
	for (int v = 0; v < QK / 8; v++)
		for (int k = 0; k < 8; k++)
			qs[8 * v + k] = (int8_t)q[v][k];
#endif
}

/* Lane k of the result: the sum of the lanes of e[k], as a fixed tree
 * (pairs, then fours, then the halves). */
static inline __attribute__((always_inline)) qnt__v8f hsum8x8(const qnt__v8f e[8])
{
	const qnt__v8i ev = { 0, 8, 2, 10, 4, 12, 6, 14 }, od = { 1, 9, 3, 11, 5, 13, 7, 15 };
	const qnt__v8i lo2 = { 0, 1, 8, 9, 4, 5, 12, 13 }, hi2 = { 2, 3, 10, 11, 6, 7, 14, 15 };
	const qnt__v8i lo4 = { 0, 1, 2, 3, 8, 9, 10, 11 }, hi4 = { 4, 5, 6, 7, 12, 13, 14, 15 };
	qnt__v8f p[4], q[2];
	for (int i = 0; i < 4; i++) /* [e0 01, e1 01, e0 23, e1 23, e0 45, e1 45, e0 67, e1 67] */
		p[i] = QNT__SHUF2(e[2 * i], e[2 * i + 1], ev) + QNT__SHUF2(e[2 * i], e[2 * i + 1], od);
	for (int i = 0; i < 2; i++) /* [e0 0-3, e1 0-3, e2 0-3, e3 0-3, e0 4-7, ...] */
		q[i] = QNT__SHUF2(p[2 * i], p[2 * i + 1], lo2) + QNT__SHUF2(p[2 * i], p[2 * i + 1], hi2);
	return QNT__SHUF2(q[0], q[1], lo4) + QNT__SHUF2(q[0], q[1], hi4);
}

/* x * id rounded to the nearest integer (even on ties), as a float; clamped
 * to [-127, 127] first when `clamp`. Without it, exact for |x * id| < 2^22
 * (where adding and subtracting 1.5 * 2^23 rounds as vroundps does: one
 * instruction instead of two with AVX, the same floats). */
static inline __attribute__((always_inline)) qnt__v8f q8_code(qnt__v8f xv, qnt__v8f id, int clamp)
{
	const qnt__v8f t = xv * id;
	if (clamp)
		return code_v8(t, -127.0f, 127.0f);
#if defined(__AVX__)
	return (qnt__v8f)_mm256_round_ps((__m256)t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
#else
	return (t + 12582912.0f) - 12582912.0f;
#endif
}

/* Errors sum w (x - d q)^2 in float for the eight scales d, each with its
 * nearest codes: the block's elements are the lanes (xv, wv), the eight
 * candidates independent sums added by hsum8x8. */
static inline __attribute__((always_inline)) qnt__v8f q8_errors(const qnt__v8f xv[QK / 8], const qnt__v8f wv[QK / 8],
								 qnt__v8f d, int clamp)
{
	const qnt__v8f id = 1.0f / d;
	qnt__v8f e[8];
#pragma GCC unroll 8
	for (int k = 0; k < 8; k++) {
		const qnt__v8f dk = V8F(d[k]), idk = V8F(id[k]);
		qnt__v8f acc = V8F(0.0f);
#pragma GCC unroll 4
		for (int v = 0; v < QK / 8; v++) {
			const qnt__v8f r = xv[v] - q8_code(xv[v], idk, clamp) * dk;
			acc += wv[v] * (r * r);
		}
		e[k] = acc;
	}
	return hsum8x8(e);
}

/* The best of the eight fp16 scales neighbour_scales gives for h (h above
 * the round-to-nearest scale h_rtn), each with its nearest codes in
 * [-127, 127], by weighted error in float. Where h_rtn is a normal fp16 value
 * the codes need no clamping: every candidate is at least one fp16 step
 * (a relative 2^-10) above h_rtn, which is within a relative 2^-11 of
 * absmax / 127, so |x| / d < 127 for every element. Returns the error
 * (infinite when h is unusable). */
static float q8_0_neighbours(const qnt__v8f xv[QK / 8], const qnt__v8f wv[QK / 8], uint16_t h, uint16_t h_rtn,
			     uint16_t *h_best)
{
	int hs[8];
	qnt__v8f d;
	*h_best = h;
	if (!neighbour_scales(h, Q8_STRIDE, hs, &d))
		return INFINITY;
	const qnt__v8f err = h_rtn >= 0x0400 ? q8_errors(xv, wv, d, 0) : q8_errors(xv, wv, d, 1);
	/* the first of the lowest: a tree over neighbours 1, 2 then 4 lanes
	 * apart, lane 0 taking the higher group only where strictly lower */
	static const qnt__v8i sw1 = { 1, 0, 3, 2, 5, 4, 7, 6 }, sw2 = { 2, 3, 0, 1, 6, 7, 4, 5 },
			      sw4 = { 4, 5, 6, 7, 0, 1, 2, 3 };
	qnt__v8f ev = err;
	qnt__v8i kv = { 0, 1, 2, 3, 4, 5, 6, 7 };
#define ARGMIN_STEP(sw)                                               \
	do {                                                          \
		const qnt__v8f e2 = QNT__SHUF1(ev, sw);        \
		const qnt__v8i lt = e2 < ev;                          \
		ev = qnt__select_v8f(lt, e2, ev);                     \
		kv = (QNT__SHUF1(kv, sw) & lt) | (kv & ~lt);   \
	} while (0)
	ARGMIN_STEP(sw1);
	ARGMIN_STEP(sw2);
	ARGMIN_STEP(sw4);
#undef ARGMIN_STEP
	*h_best = (uint16_t)((h & 0x8000u) | (unsigned)hs[kv[0]]);
	return ev[0];
}

static void q8_0_weighted(const float *x, const float *w, void *out)
{
	struct blk_q8_0 *b = out;
	qnt__v8f xv[QK / 8], wv[QK / 8];
	load_v8x4(x, xv);
	load_v8x4(w, wv);
	qnt__v8i finite;
	const float am = absmax_v8x4(xv, &finite);
	uint64_t fin[4];
	memcpy(fin, &finite, sizeof fin);
	if ((fin[0] & fin[1] & fin[2] & fin[3]) != ~(uint64_t)0) {
		qnt__ref_q8_0(x, out);
		return;
	}
	/* qnt__ref_q8_0: roundf(x * id), half away from zero */
	const float d = am / 127.0f;
	const float id = d != 0.0f ? 1.0f / d : 0.0f;
	if (!(id < INFINITY)) { /* d below 2^-128: x * id overflows the int lanes */
		qnt__ref_q8_0(x, out);
		return;
	}
	const uint16_t h = qnt__fp32_to_fp16(d);
	const float d16 = qnt__fp16_to_fp32(h);
	qnt__v8i q[QK / 8];
	qnt__v8f err = V8F(0.0f);
#pragma GCC unroll 4
	for (int v = 0; v < QK / 8; v++) {
		const qnt__v8f t = xv[v] * id;
		const qnt__v8i ti = __builtin_convertvector(t, qnt__v8i);
		const qnt__v8f fr = t - __builtin_convertvector(ti, qnt__v8f);
		q[v] = ti - qnt__ge_v8f(fr, V8F(0.5f)) + qnt__le_v8f(fr, V8F(-0.5f));
		const qnt__v8f fq = __builtin_convertvector(q[v], qnt__v8f);
		const qnt__v8f r = xv[v] - fq * d16;
		err += wv[v] * (r * r);
	}
	float e_rtn = 0.0f;
	for (int k = 0; k < 8; k++)
		e_rtn += err[k];
	b->d = h;
	if (e_rtn > 1e-30f) {
		uint16_t hb;
		const float e = q8_0_neighbours(xv, wv, (uint16_t)(h + Q8_SHIFT), h, &hb);
		if (e < e_rtn * (1.0f - 1e-5f)) {
			const qnt__v8f idb = V8F(1.0f / qnt__fp16_to_fp32(hb));
#pragma GCC unroll 4
			for (int v = 0; v < QK / 8; v++)
				q[v] = __builtin_convertvector(q8_code(xv[v], idb, h < 0x0400), qnt__v8i);
			b->d = hb;
		}
	}
	store_q8(q, b->qs);
}

static int all_zero(const float *w)
{
	for (int j = 0; j < QK; j++)
		if (w[j] != 0.0f)
			return 0;
	return 1;
}

typedef void (*ref_block_fn)(const float *x, void *blk);

/* ------------------------------------------------------------------ */
/* ggml's importance-weighted blocks                                    */
/* ------------------------------------------------------------------ */

/* ggml's quantize_q4_0 / q5_0 / q4_1 / q5_1 with quant_weights: the weights
 * imp[j] * sqrt(sigma2 + x[j]^2) (sigma2 the row's mean square), the scale
 * from make_qx_quants (symmetric: weighted_block_sym) or make_qkx3_quants
 * (with a min). They are candidates the weighted search starts from, so
 * that libqnt never does worse than ggml's imatrix path. */
static void ggml_weights(const float *x, const float *imp, float sigma2, float *wt)
{
	for (int j = 0; j < QK; j++)
		wt[j] = imp[j] * sqrtf(sigma2 + x[j] * x[j]);
}

/* ggml's imatrix block from its fit (make_qkx3_quants: the scale, the
 * negated min and the codes c). */
static void ggml_imat_q4_1(float scale, float the_min, const uint8_t *c, void *blk)
{
	struct blk_q4_1 *b = blk;
	b->d = qnt__fp32_to_fp16(scale);
	b->m = qnt__fp32_to_fp16(-the_min);
	pack_nibbles(c, b->qs);
}

static void ggml_imat_q5_1(float scale, float the_min, const uint8_t *c, void *blk)
{
	struct blk_q5_1 *b = blk;
	b->d = qnt__fp32_to_fp16(scale);
	b->m = qnt__fp32_to_fp16(-the_min);
	pack_nibbles(c, b->qs);
	pack_high_bits(c, b->qh);
}

/* ------------------------------------------------------------------ */
/* Row drivers                                                          */
/* ------------------------------------------------------------------ */

/* What the weighted search needs to know of a format: its reference block,
 * its decoder, the code range (value d*c for symmetric formats, d*c + m with
 * a min) and how a search result is packed. */
struct legacy_fmt {
	ref_block_fn ref;
	/* ggml's block with importance from its fit (weights as ggml_weights
	 * gives them) for the formats with a min; NULL for the symmetric ones
	 * (weighted_block_sym and q8_0_weighted) */
	void (*ggml_imat)(float scale, float the_min, const uint8_t *c, void *blk);
	qnt__dequantize_fn deq;
	size_t block_bytes;
	int cmin, cmax, with_min;
	void (*pack)(const struct cand *best, void *blk);
};

static void codes_u8(const struct cand *best, int offset, uint8_t *c)
{
	for (int j = 0; j < QK; j++)
		c[j] = (uint8_t)(best->c[j] + offset);
}

static void pack_q4_0(const struct cand *best, void *blk)
{
	struct blk_q4_0 *b = blk;
	uint8_t c[QK];
	codes_u8(best, 8, c);
	b->d = qnt__fp32_to_fp16(best->d);
	pack_nibbles(c, b->qs);
}

static void pack_q5_0(const struct cand *best, void *blk)
{
	struct blk_q5_0 *b = blk;
	uint8_t c[QK];
	codes_u8(best, 16, c);
	b->d = qnt__fp32_to_fp16(best->d);
	pack_nibbles(c, b->qs);
	pack_high_bits(c, b->qh);
}

static void pack_q8_0(const struct cand *best, void *blk)
{
	struct blk_q8_0 *b = blk;
	b->d = qnt__fp32_to_fp16(best->d);
	for (int j = 0; j < QK; j++)
		b->qs[j] = (int8_t)best->c[j];
}

static void pack_q4_1(const struct cand *best, void *blk)
{
	struct blk_q4_1 *b = blk;
	uint8_t c[QK];
	codes_u8(best, 0, c);
	b->d = qnt__fp32_to_fp16(best->d);
	b->m = qnt__fp32_to_fp16(best->m);
	pack_nibbles(c, b->qs);
}

static void pack_q5_1(const struct cand *best, void *blk)
{
	struct blk_q5_1 *b = blk;
	uint8_t c[QK];
	codes_u8(best, 0, c);
	b->d = qnt__fp32_to_fp16(best->d);
	b->m = qnt__fp32_to_fp16(best->m);
	pack_nibbles(c, b->qs);
	pack_high_bits(c, b->qh);
}

static const struct legacy_fmt fmt_q4_0 = { qnt__ref_q4_0, NULL, deq_q4_0, sizeof(struct blk_q4_0), -8, 7, 0, pack_q4_0 };
static const struct legacy_fmt fmt_q5_0 = { qnt__ref_q5_0, NULL, deq_q5_0, sizeof(struct blk_q5_0), -16, 15, 0, pack_q5_0 };
/* q8_0 leaves out -128: SIMD dot products that take |q| would overflow */
static const struct legacy_fmt fmt_q8_0 = { qnt__ref_q8_0, NULL, deq_q8_0, sizeof(struct blk_q8_0), -127, 127, 0, pack_q8_0 };
static const struct legacy_fmt fmt_q4_1 = { qnt__ref_q4_1, ggml_imat_q4_1, deq_q4_1, sizeof(struct blk_q4_1), 0, 15, 1, pack_q4_1 };
static const struct legacy_fmt fmt_q5_1 = { qnt__ref_q5_1, ggml_imat_q5_1, deq_q5_1, sizeof(struct blk_q5_1), 0, 31, 1, pack_q5_1 };

static double block_werr(const struct legacy_fmt *f, const float *x, const float *w, const void *blk)
{
	float y[QK];
	double e = 0;
	f->deq(blk, y, QK);
	for (int j = 0; j < QK; j++) {
		double r = (double)x[j] - (double)y[j];
		e += (double)w[j] * r * r;
	}
	return e;
}

/* rtn_sym (cmax = 2 nmax - 1) eight elements at a time, for the codes the
 * block keeps (its low bits) minus nmax; returns the signed absmax. Where a
 * value is not finite or x * id + offset leaves the int32 range, the scalar
 * rtn_sym. */
static float rtn_sym_v8(const float *x, int nmax, int cmax, float *d_out, int *c)
{
	qnt__v8f xv[QK / 8];
	load_v8x4(x, xv);
	qnt__v8i ok;
	const float am = absmax_v8x4(xv, &ok);
	float max = 0.0f; /* the first element of magnitude am, as signed_absmax */
	if (am > 0.0f)
		for (int j = 0; j < QK; j++)
			if (fabsf(x[j]) == am) {
				max = x[j];
				break;
			}
	const float d = max / (float)-nmax;
	const float id = d != 0.0f ? 1.0f / d : 0.0f;
	const float off = (float)nmax + 0.5f;
	qnt__v8f t[QK / 8];
	for (int v = 0; v < QK / 8; v++) {
		t[v] = xv[v] * id + off;
		ok &= qnt__gt_v8f(t[v], V8F(-2147483648.0f)) & qnt__lt_v8f(t[v], V8F(2147483648.0f));
	}
	int all = 1;
	for (int k = 0; k < 8; k++)
		all &= ok[k] != 0;
	if (!all) {
		uint8_t c8[QK];
		rtn_sym(x, nmax, cmax, d_out, c8);
		for (int j = 0; j < QK; j++)
			c[j] = (c8[j] & cmax) - nmax;
		return signed_absmax(x);
	}
	const qnt__v8i vcmax = { cmax, cmax, cmax, cmax, cmax, cmax, cmax, cmax };
	for (int v = 0; v < QK / 8; v++) {
		/* truncation, then ggml's (int8_t) cast: the low byte, signed */
		const qnt__v8i q = ((__builtin_convertvector(t[v], qnt__v8i) & 0xff) ^ 0x80) - 0x80;
		const qnt__v8i lt = qnt__lt_v8i(q, vcmax);
		const qnt__v8i cv = (((q & lt) | (vcmax & ~lt)) & cmax) - nmax;
		memcpy(c + 8 * v, &cv, sizeof cv);
	}
	*d_out = d;
	return max;
}

/* ggml's imatrix fits (weights as ggml_weights gives them) of one block:
 * make_qx_quants' scale and codes L (0..2 nmax - 1) for the symmetric
 * formats, make_qkx3_quants' scale, negated min and codes c for the
 * others. */
struct ggml_fit {
	float scale, the_min;
	int8_t L[QK];
	uint8_t c[QK];
};

/* ggml_fit of `count` blocks (1, or 8: the fits side by side, ggml_fit.c's
 * *_subs, the same results). */
static void ggml_fits(const struct legacy_fmt *f, const float *x, const float *imp, float sigma2, int count,
		      struct ggml_fit *g)
{
	float wt[8 * QK];
	for (int k = 0; k < count; k++)
		ggml_weights(x + k * QK, imp + k * QK, sigma2, wt + k * QK);
	if (count == 1) {
		if (f->with_min)
			g->scale = qnt__ggml_fit_affine(QK, f->cmax, x, wt, g->c, &g->the_min, -0.9f, 0.05f, 36, 0);
		else
			g->scale = qnt__ggml_fit_sym(QK, -f->cmin, x, g->L, wt);
		return;
	}
	float sc[8], mn[8];
	int8_t L[8 * QK];
	uint8_t c[8 * QK];
	if (f->with_min)
		qnt__ggml_fit_affine_subs(8, QK, f->cmax, x, wt, c, sc, mn, -0.9f, 0.05f, 36, 0);
	else
		qnt__ggml_fit_sym_subs(8, QK, -f->cmin, x, L, wt, sc);
	for (int k = 0; k < 8; k++) {
		g[k].scale = sc[k];
		if (f->with_min) {
			g[k].the_min = mn[k];
			memcpy(g[k].c, c + k * QK, QK);
		} else {
			memcpy(g[k].L, L + k * QK, QK);
		}
	}
}

/* q4_0 and q5_0: the better of ggml's round-to-nearest block and its
 * imatrix block g (make_qx_quants: codes L in 0..2 nmax - 1 and a scale),
 * both as codes and the fp16 scale the block stores, replaced by the
 * search's when that is lower still in exact weighted error. */
static void weighted_block_sym(const struct legacy_fmt *f, const float *x, const float *w, const struct ggml_fit *gf,
			       void *blk)
{
	struct cand best, g;
	const int nmax = -f->cmin, mask = 2 * nmax - 1;
	float d;
	const float max = rtn_sym_v8(x, nmax, mask, &d, best.c);
	best.d = qnt__fp16_round(d);
	best.m = 0.0f;
	best.err = werr4(x, w, best.c, best.d);
	best.found = 1;
	g.d = qnt__fp16_round(gf->scale);
	g.m = 0.0f;
	for (int j = 0; j < QK; j++)
		g.c[j] = gf->L[j] - nmax;
	g.err = werr4(x, w, g.c, g.d);
	g.found = 1;
	if (g.err < best.err)
		best = g;
	search_sym(x, w, max, f->cmin, f->cmax, &best);
	f->pack(&best, blk);
}

/* q4_1 and q5_1: the better of ggml's two blocks (round-to-nearest and its
 * imatrix path, from the fit g), replaced by the search's when that is
 * better still in weighted error. */
static void weighted_block(const struct legacy_fmt *f, const float *x, const float *w, const struct ggml_fit *g,
			   void *blk)
{
	struct cand best;
	f->ref(x, blk);
	best.err = block_werr(f, x, w, blk);
	best.found = 0;
	if (f->ggml_imat) {
		unsigned char alt[sizeof(struct blk_q5_1)];
		f->ggml_imat(g->scale, g->the_min, g->c, alt);
		double e = block_werr(f, x, w, alt);
		if (e < best.err) {
			memcpy(blk, alt, f->block_bytes);
			best.err = e;
		}
	}
	const double ref_err = best.err;
	search_asym(x, w, f->cmax, &best);
	if (best.err < ref_err)
		f->pack(&best, blk);
}

static void quant_rows(const struct legacy_fmt *f, const float *src, void *dst, int64_t nrows, int64_t n,
		       const float *imp)
{
	unsigned char *b = dst;
	for (int64_t r = 0; r < nrows; r++) {
		const float *x = src + r * n;
		float sigma2 = 0;
		if (imp && f != &fmt_q8_0) { /* the row's mean square, as ggml computes it */
			float sum_x2 = 0;
			for (int64_t j = 0; j < n; j++)
				sum_x2 += x[j] * x[j];
			sigma2 = sum_x2 / (float)n;
		}
		/* ggml's imatrix fits eight blocks at a time where eight remain
		 * (those of blocks without weights are not used) */
		const int64_t nb = n / QK;
		for (int64_t i = 0; i < nb;) {
			struct ggml_fit g[8];
			const int count = imp && f != &fmt_q8_0 && i + 8 <= nb ? 8 : 1;
			if (count == 8)
				ggml_fits(f, x + i * QK, imp + i * QK, sigma2, 8, g);
			for (int k = 0; k < count; k++, i++, b += f->block_bytes) {
				const float *w = imp ? imp + i * QK : NULL;
				if (w && f == &fmt_q8_0) {
					q8_0_weighted(x + i * QK, w, b);
				} else if (w && !all_zero(w)) {
					if (count == 1)
						ggml_fits(f, x + i * QK, w, sigma2, 1, g);
					if (f->with_min)
						weighted_block(f, x + i * QK, w, &g[k], b);
					else
						weighted_block_sym(f, x + i * QK, w, &g[k], b);
				} else {
					f->ref(x + i * QK, b);
				}
			}
		}
	}
}

#define ROW_DRIVER(name, fmt)                                                                   \
	static void name(const float *src, void *dst, int64_t nrows, int64_t n, const float *imp) \
	{                                                                                       \
		quant_rows(&fmt, src, dst, nrows, n, imp);                                      \
	}

ROW_DRIVER(quant_q4_0, fmt_q4_0)
ROW_DRIVER(quant_q4_1, fmt_q4_1)
ROW_DRIVER(quant_q5_0, fmt_q5_0)
ROW_DRIVER(quant_q5_1, fmt_q5_1)
ROW_DRIVER(quant_q8_0, fmt_q8_0)

/* q8_1 is the activation companion of q4_1/q5_1: importance does not apply. */
static void quant_q8_1(const float *src, void *dst, int64_t nrows, int64_t n, const float *imp)
{
	struct blk_q8_1 *b = dst;
	(void)imp;
	for (int64_t i = 0; i < nrows * (n / QK); i++)
		qnt__ref_q8_1(src + i * QK, b + i);
}

const struct qnt__type_traits qnt__traits_legacy[] = {
	{ QNT_TYPE_Q4_0, "q4_0", "4-bit, one fp16 scale per 32", QK, sizeof(struct blk_q4_0),
	  QNT_TYPE_FLAG_QUANTIZED | QNT_TYPE_FLAG_IMPORTANCE, quant_q4_0, deq_q4_0 },
	{ QNT_TYPE_Q4_1, "q4_1", "4-bit, fp16 scale and min per 32", QK, sizeof(struct blk_q4_1),
	  QNT_TYPE_FLAG_QUANTIZED | QNT_TYPE_FLAG_IMPORTANCE, quant_q4_1, deq_q4_1 },
	{ QNT_TYPE_Q5_0, "q5_0", "5-bit, one fp16 scale per 32", QK, sizeof(struct blk_q5_0),
	  QNT_TYPE_FLAG_QUANTIZED | QNT_TYPE_FLAG_IMPORTANCE, quant_q5_0, deq_q5_0 },
	{ QNT_TYPE_Q5_1, "q5_1", "5-bit, fp16 scale and min per 32", QK, sizeof(struct blk_q5_1),
	  QNT_TYPE_FLAG_QUANTIZED | QNT_TYPE_FLAG_IMPORTANCE, quant_q5_1, deq_q5_1 },
	{ QNT_TYPE_Q8_0, "q8_0", "8-bit, one fp16 scale per 32", QK, sizeof(struct blk_q8_0),
	  QNT_TYPE_FLAG_QUANTIZED | QNT_TYPE_FLAG_IMPORTANCE, quant_q8_0, deq_q8_0 },
	{ QNT_TYPE_Q8_1, "q8_1", "8-bit, fp16 scale and scaled sum per 32 (activations)", QK,
	  sizeof(struct blk_q8_1), QNT_TYPE_FLAG_QUANTIZED | QNT_TYPE_FLAG_ACTIVATION, quant_q8_1,
	  deq_q8_1 },
};
const size_t qnt__traits_legacy_count = sizeof qnt__traits_legacy / sizeof qnt__traits_legacy[0];
