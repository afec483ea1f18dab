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
 * fp16 before the codes are chosen), which always includes ggml's
 * round-to-nearest block, so it never does worse than it.
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

/* Weighted least squares for a fixed set of codes: d (symmetric) or d and m
 * (with offset). Returns 0 when the system is singular. */
static int lsq_fit(const float *x, const float *w, const int *c, int with_min, float *d, float *m)
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
	if (!with_min) {
		if (scc <= 0)
			return 0;
		*d = (float)(scx / scc);
		*m = 0.0f;
		return 1;
	}
	double det = sw * scc - sc * sc;
	if (!(det > 0))
		return 0;
	*d = (float)((sw * scx - sc * sx) / det);
	*m = (float)((scc * sx - sc * scx) / det);
	return 1;
}

/* Refits from the best codes until the error stops falling. */
static void refine(const float *x, const float *w, int with_min, int cmin, int cmax, struct cand *best)
{
	if (!best->found) /* nothing beat the reference block: no codes to refit */
		return;
	for (int it = 0; it < 4; it++) {
		double before = best->err;
		float d, m;
		if (!lsq_fit(x, w, best->c, with_min, &d, &m))
			return;
		try_scale(x, w, d, m, cmin, cmax, 1, best);
		if (!(best->err < before))
			return;
	}
}

/* Scans candidate inverse scales cheaply: each gives codes, the weighted
 * least-squares (d, m) for them, rounded to fp16, and the error those codes
 * have at that (d, m), computed from the sums. The best scan candidate is then
 * evaluated exactly (codes re-chosen for the rounded scale, fp16 neighbours)
 * and refined; only exact errors decide against ggml's block. The candidates
 * are the lanes of the inner loop (independent sums, each in element
 * order); the sums that do not depend on the codes are taken once. */
#define SCAN_MAX 40 /* candidates, a multiple of 4 (four lanes per vector) */

static void scan(const float *x, const float *w, const float *iscales, int n_iscales, float m0, int with_min,
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
		double d, m = 0;
		if (with_min) {
			double det = sw * scck - sck * sck;
			if (!(det > 0))
				continue;
			d = (sw * scxk - sck * sx) / det;
			m = (scck * sx - sck * scxk) / det;
		} else {
			if (!(scck > 0))
				continue;
			d = scxk / scck;
		}
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
		refine(x, w, with_min, cmin, cmax, best);
	}
}

/* Symmetric formats: value = d * q with q in [qmin, qmax]. The extreme
 * element is mapped to targets near either end of the range. */
static void search_sym(const float *x, const float *w, int qmin, int qmax, struct cand *best)
{
	const float max = signed_absmax(x);
	if (max == 0.0f)
		return;
	const int ends[2] = { max < 0 ? qmin : qmax, max < 0 ? qmax : qmin };
	float iscales[SCAN_MAX];
	int n = 0;
	for (int e = 0; e < 2; e++) {
		for (int is = -9; is <= 9; is++) {
			float target = (float)ends[e] + 0.1f * (float)is;
			if (target != 0.0f && (target > 0) == (ends[e] > 0))
				iscales[n++] = target / max;
		}
	}
	scan(x, w, iscales, n, 0.0f, 0, qmin, qmax, best);
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
	scan(x, w, iscales, n, mn, 1, 0, cmax, best);
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
 * from make_qx_quants (symmetric) or make_qkx3_quants (with a min). They are
 * candidates the weighted search starts from, so that libqnt never does
 * worse than ggml's imatrix path. */
static void ggml_weights(const float *x, const float *imp, float sigma2, float *wt)
{
	for (int j = 0; j < QK; j++)
		wt[j] = imp[j] * sqrtf(sigma2 + x[j] * x[j]);
}

static void ggml_imat_sym(const float *x, const float *wt, int nmax, uint16_t *d, uint8_t *c)
{
	int8_t L[QK];
	float scale = qnt__ggml_fit_sym(QK, nmax, x, L, wt);
	*d = qnt__fp32_to_fp16(scale);
	for (int j = 0; j < QK; j++)
		c[j] = (uint8_t)L[j];
}

static void ggml_imat_q4_0(const float *x, const float *wt, void *blk)
{
	struct blk_q4_0 *b = blk;
	uint8_t c[QK];
	ggml_imat_sym(x, wt, 8, &b->d, c);
	pack_nibbles(c, b->qs);
}

static void ggml_imat_q5_0(const float *x, const float *wt, void *blk)
{
	struct blk_q5_0 *b = blk;
	uint8_t c[QK];
	ggml_imat_sym(x, wt, 16, &b->d, c);
	pack_nibbles(c, b->qs);
	pack_high_bits(c, b->qh);
}

static void ggml_imat_affine(const float *x, const float *wt, int nmax, uint16_t *d, uint16_t *m, uint8_t *c)
{
	float min;
	float scale = qnt__ggml_fit_affine(QK, nmax, x, wt, c, &min, -0.9f, 0.05f, 36, 0);
	*d = qnt__fp32_to_fp16(scale);
	*m = qnt__fp32_to_fp16(-min);
}

static void ggml_imat_q4_1(const float *x, const float *wt, void *blk)
{
	struct blk_q4_1 *b = blk;
	uint8_t c[QK];
	ggml_imat_affine(x, wt, 15, &b->d, &b->m, c);
	pack_nibbles(c, b->qs);
}

static void ggml_imat_q5_1(const float *x, const float *wt, void *blk)
{
	struct blk_q5_1 *b = blk;
	uint8_t c[QK];
	ggml_imat_affine(x, wt, 31, &b->d, &b->m, c);
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
	/* ggml's block with importance (weights as ggml_weights gives them), or
	 * NULL where ggml ignores importance (q8_0) */
	void (*ggml_imat)(const float *x, const float *wt, void *blk);
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

static const struct legacy_fmt fmt_q4_0 = { qnt__ref_q4_0, ggml_imat_q4_0, deq_q4_0, sizeof(struct blk_q4_0), -8, 7, 0, pack_q4_0 };
static const struct legacy_fmt fmt_q5_0 = { qnt__ref_q5_0, ggml_imat_q5_0, deq_q5_0, sizeof(struct blk_q5_0), -16, 15, 0, pack_q5_0 };
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

/* One block: the better of ggml's two blocks (round-to-nearest, and its
 * imatrix path when it has one), replaced by the search's when that is
 * better still in weighted error. */
static void weighted_block(const struct legacy_fmt *f, const float *x, const float *w, float sigma2, void *blk)
{
	struct cand best;
	f->ref(x, blk);
	best.err = block_werr(f, x, w, blk);
	best.found = 0;
	if (f->ggml_imat) {
		unsigned char alt[sizeof(struct blk_q5_1)];
		float wt[QK];
		ggml_weights(x, w, sigma2, wt);
		f->ggml_imat(x, wt, alt);
		double e = block_werr(f, x, w, alt);
		if (e < best.err) {
			memcpy(blk, alt, f->block_bytes);
			best.err = e;
		}
	}
	const double ref_err = best.err;
	if (f->with_min)
		search_asym(x, w, f->cmax, &best);
	else
		search_sym(x, w, f->cmin, f->cmax, &best);
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
		if (imp) { /* the row's mean square, as ggml computes it */
			float sum_x2 = 0;
			for (int64_t j = 0; j < n; j++)
				sum_x2 += x[j] * x[j];
			sigma2 = sum_x2 / (float)n;
		}
		for (int64_t i = 0; i < n / QK; i++, b += f->block_bytes) {
			if (imp && !all_zero(imp + i * QK))
				weighted_block(f, x + i * QK, imp + i * QK, sigma2, b);
			else
				f->ref(x + i * QK, b);
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
