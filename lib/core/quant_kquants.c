/* SPDX-License-Identifier: MIT */
/*
 * Scalar reference for ggml's k-quants: q2_K, q3_K, q4_K, q5_K, q6_K and the
 * activation companion q8_K (256 elements per super-block).
 *
 * Layouts, constants and the rounding of the reference quantizers follow
 * ggml (ggml-common.h, ggml-quants.c), written anew here. Without importance
 * weights the bytes are those of ggml's quantize_row_*_K_ref; the products
 * and sums are computed unfused and in the same order (this file is built
 * with -ffp-contract=off), which is what ggml's portable x86-64 build does.
 * Dequantization performs the same float operations as ggml's
 * dequantize_row_*_K, so it gives the same floats.
 *
 * With importance weights w, each super-block minimises
 * sum_j w_j (x_j - x^_j)^2 over what the format can store. Every format is
 * seen as sub-blocks of codes q with an integer scale sc and (for q2_K, q4_K,
 * q5_K) an integer min m under two fp16 super-scales:
 *     x^ = (d*sc) * q - (dmin*m)
 * The search starts from the better of two blocks, both measured with the
 * exact dequantized values: ggml's reference block (no importance; left
 * out of plain blocks, where it seldom wins: block_plain, quant_q3_K,
 * quant_q45_K, q6_starts) and ggml's importance-aware block (its
 * quantize_q*_K path with the same weights), both computed with ggml's
 * float operations (their scale fits
 * vectorized, the sub-blocks as lanes). It then runs a few rounds (per
 * format, struct kfmt) of weighted least-squares refits of each
 * sub-block's integer scale and min and of the super-scales (rounded to
 * fp16), re-choosing the codes each time, and keeps a change only when the error falls; the result replaces
 * the start only if its error, measured again from its bytes, is lower.
 * So the result is never worse than ggml's importance-aware block for the
 * same data, nor than its reference block where that is a candidate. The
 * effort is bounded so that the whole search costs less than ggml's own
 * importance-aware quantizer. q6_K also starts from blocks built from
 * per-sub-block weighted fits, which may give each sub-block's scale either
 * sign (the codes -32..31 are asymmetric).
 */
#include "qnt_fp.h"
#include "qnt_lanes.h"
#include "qnt_internal.h"
#include "qnt_blocks.h"
#include "formats.h"
#include "ggml_fit.h"

#include <math.h>
#include <string.h>

#define GROUP_MAX_EPS 1e-15f

#define MAX_BLK_BYTES 292

/* ------------------------------------------------------------------ */
/* Scalar helpers with ggml's exact semantics                           */
/* ------------------------------------------------------------------ */

/* fp32 -> fp16 as ggml's portable conversion does it: like
 * qnt__fp32_to_fp16, except that every NaN becomes 0x7e00 (with its sign). */
static inline uint16_t to_fp16(float f)
{
	uint32_t u = qnt__f32_bits(f);
	if ((u & 0x7fffffffu) > 0x7f800000u)
		return (uint16_t)(((u >> 16) & 0x8000u) | 0x7e00u);
	return qnt__fp32_to_fp16(f);
}

static inline float from_fp16(uint16_t h)
{
	return qnt__fp16_to_fp32(h);
}

/* Nearest integer to t within [lo, hi] (NaN gives lo). */
static inline int round_clamp(double t, int lo, int hi)
{
	if (!(t > lo))
		return lo;
	if (t >= hi)
		return hi;
	return qnt__clampi((int)floor(t + 0.5), lo, hi);
}

/* ------------------------------------------------------------------ */
/* Packing: codes (offset, non-negative) in element order <-> bytes     */
/* ------------------------------------------------------------------ */

/* 32 bytes as one vector (two halves without AVX) */
typedef uint8_t kq_v32u __attribute__((vector_size(32)));

/* 2-bit fields: element 128*h + 32*g + l is bits 2g..2g+1 of qs[32*h + l]. */
static void pack_2bit(const uint8_t *restrict L, uint8_t *restrict qs)
{
	for (int h = 0; h < QK_K / 128; h++)
		for (int l = 0; l < 32; l++) {
			const uint8_t *c = L + 128 * h + l;
			qs[32 * h + l] = (uint8_t)(c[0] | (c[32] << 2) | (c[64] << 4) | (c[96] << 6));
		}
}

static void unpack_2bit(const uint8_t *restrict qs, uint8_t *restrict L)
{
	for (int h = 0; h < QK_K / 128; h++)
		for (int g = 0; g < 4; g++)
			for (int l = 0; l < 32; l++)
				L[128 * h + 32 * g + l] = (qs[32 * h + l] >> (2 * g)) & 3;
}

/* Nibbles: element 64*h + l (l < 32) is the low nibble of qs[32*h + l],
 * element 64*h + 32 + l its high nibble. */
static void pack_4bit(const uint8_t *L, uint8_t *qs)
{
	for (int h = 0; h < QK_K / 64; h++) {
		kq_v32u lo, hi;
		memcpy(&lo, L + 64 * h, sizeof lo);
		memcpy(&hi, L + 64 * h + 32, sizeof hi);
		const kq_v32u q = (lo & 0x0f) | (hi << 4);
		memcpy(qs + 32 * h, &q, sizeof q);
	}
}

static void unpack_4bit(const uint8_t *qs, uint8_t *L)
{
	for (int h = 0; h < QK_K / 64; h++)
		for (int l = 0; l < 32; l++) {
			L[64 * h + l] = qs[32 * h + l] & 0x0f;
			L[64 * h + 32 + l] = qs[32 * h + l] >> 4;
		}
}

/* q4_K/q5_K scales: 8 6-bit scales and 8 6-bit mins in 12 bytes. Entries
 * 0-3 sit in the low 6 bits of bytes 0-3 (scales) and 4-7 (mins); entries
 * 4-7 have their low nibbles in bytes 8-11 and their top two bits in the top
 * bits of bytes 0-7. */
static void pack_scale_min_6bit(const uint8_t *ls, const uint8_t *lm, uint8_t *s)
{
	for (int j = 0; j < 4; j++) {
		s[j] = ls[j];
		s[j + 4] = lm[j];
	}
	for (int j = 4; j < 8; j++) {
		s[j + 4] = (uint8_t)((ls[j] & 0x0f) | ((lm[j] & 0x0f) << 4));
		s[j - 4] |= (uint8_t)((ls[j] >> 4) << 6);
		s[j] |= (uint8_t)((lm[j] >> 4) << 6);
	}
}

static void scale_min_6bit(int j, const uint8_t *s, uint8_t *sc, uint8_t *m)
{
	if (j < 4) {
		*sc = s[j] & 63;
		*m = s[j + 4] & 63;
	} else {
		*sc = (uint8_t)((s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4));
		*m = (uint8_t)((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
	}
}

/* q3_K scales: 16 6-bit values; low nibbles of 0-7 in the low nibbles of
 * bytes 0-7, of 8-15 in their high nibbles; the top two bits of value j are
 * bits 2*(j/4).. of byte 8 + j%4. */
static void pack_scales_q3(const uint8_t *l6, uint8_t *s)
{
	for (int j = 0; j < 8; j++)
		s[j] = (uint8_t)((l6[j] & 0x0f) | (l6[j + 8] << 4));
	for (int m = 0; m < 4; m++)
		s[8 + m] = (uint8_t)((l6[m] >> 4) | ((l6[4 + m] >> 4) << 2) | ((l6[8 + m] >> 4) << 4) |
				     ((l6[12 + m] >> 4) << 6));
}

static int scale_q3(const uint8_t *s, int j)
{
	int lo = j < 8 ? s[j] & 0x0f : s[j - 8] >> 4;
	int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
	return (lo | (hi << 4)) - 32;
}

/* Codes 0..7: bit 2 of element e goes to bit e/32 of hmask[e%32], bits 0-1
 * to the 2-bit fields (as pack_2bit), 32 bytes per vector. */

static void pack_q3_codes(const uint8_t *L, struct blk_q3_K *b)
{
	kq_v32u hm = { 0 }, lo[8];
	for (int g = 0; g < QK_K / 32; g++) {
		kq_v32u c;
		memcpy(&c, L + 32 * g, sizeof c);
		hm |= (c >> 2) << g;
		lo[g] = c & 3;
	}
	memcpy(b->hmask, &hm, sizeof hm);
	for (int h = 0; h < QK_K / 128; h++) {
		const kq_v32u q = lo[4 * h] | (lo[4 * h + 1] << 2) | (lo[4 * h + 2] << 4) | (lo[4 * h + 3] << 6);
		memcpy(b->qs + 32 * h, &q, sizeof q);
	}
}

/* Codes 0..31: bit 4 of element 64*h + l goes to bit 2h of qh[l], of
 * element 64*h + 32 + l to bit 2h+1. */
static void pack_q5_codes(const uint8_t *L, struct blk_q5_K *b)
{
	kq_v32u qh = { 0 };
	for (int h = 0; h < QK_K / 64; h++) {
		kq_v32u lo, hi;
		memcpy(&lo, L + 64 * h, sizeof lo);
		memcpy(&hi, L + 64 * h + 32, sizeof hi);
		qh |= ((lo >> 4) << (2 * h)) | ((hi >> 4) << (2 * h + 1));
	}
	memcpy(b->qh, &qh, sizeof qh);
	pack_4bit(L, b->qs);
}

/* Codes 0..63: element 128*h + 32*g + l: low nibble in ql[64*h + 32*(g&1) + l]
 * (low half for g < 2, high half otherwise), bits 4-5 in bits 2g.. of
 * qh[32*h + l]. */
static void pack_q6_codes(const uint8_t *restrict L, struct blk_q6_K *restrict b)
{
	for (int h = 0; h < QK_K / 128; h++) {
		kq_v32u c[4];
		memcpy(c, L + 128 * h, sizeof c);
		const kq_v32u ql0 = (c[0] & 0x0f) | (c[2] << 4), ql1 = (c[1] & 0x0f) | (c[3] << 4);
		const kq_v32u qh = (c[0] >> 4) | ((c[1] >> 4) << 2) | ((c[2] >> 4) << 4) | ((c[3] >> 4) << 6);
		memcpy(b->ql + 64 * h, &ql0, sizeof ql0);
		memcpy(b->ql + 64 * h + 32, &ql1, sizeof ql1);
		memcpy(b->qh + 32 * h, &qh, sizeof qh);
	}
}

static void unpack_q6_codes(const struct blk_q6_K *b, uint8_t *L)
{
	for (int h = 0; h < QK_K / 128; h++)
		for (int l = 0; l < 32; l++) {
			uint8_t lo0 = b->ql[64 * h + l], lo1 = b->ql[64 * h + 32 + l], hi = b->qh[32 * h + l];
			L[128 * h + l] = (uint8_t)((lo0 & 0x0f) | (((hi >> 0) & 3) << 4));
			L[128 * h + 32 + l] = (uint8_t)((lo1 & 0x0f) | (((hi >> 2) & 3) << 4));
			L[128 * h + 64 + l] = (uint8_t)((lo0 >> 4) | (((hi >> 4) & 3) << 4));
			L[128 * h + 96 + l] = (uint8_t)((lo1 >> 4) | (((hi >> 6) & 3) << 4));
		}
}

/* ------------------------------------------------------------------ */
/* The generic view: sub-blocks of codes under integer scales/mins      */
/* ------------------------------------------------------------------ */

struct kfmt {
	int nsub, sub; /* sub-blocks per super-block, elements per sub-block */
	int qlo, qhi;  /* code values (after removing the storage bias) */
	int slo, shi;  /* integer scales */
	int mhi;       /* integer mins 0..mhi; 0: no mins (symmetric format) */
	/* the importance search's effort: rounds of refinement, the integers
	 * tried on either side of a sub-block's least-squares scale and min
	 * (0: the nearest only), the fp16 neighbours tried around the refitted
	 * super-scales (-1: no refit), and whether a block from per-sub-block
	 * fits (symmetric formats only) is a starting candidate */
	int rounds, radius, super_radius, fits;
};

static const struct kfmt F_Q2 = { 16, 16, 0, 3, 0, 15, 15, 1, 1, 0, 0 };
static const struct kfmt F_Q3 = { 16, 16, -4, 3, -32, 31, 0, 1, 0, -1, 0 };
static const struct kfmt F_Q4 = { 8, 32, 0, 15, 0, 63, 63, 3, 1, 0, 0 };
static const struct kfmt F_Q5 = { 8, 32, 0, 31, 0, 63, 63, 3, 1, 0, 0 };
static const struct kfmt F_Q6 = { 16, 16, -32, 31, -128, 127, 0, 0, 1, 1, 1 };

/* One super-block: x^_e = (d*sc[j]) * q[e] - dmin*m[j], j = e / sub, each
 * product rounded to float, as the dequantizers compute it. */
struct kstate {
	float d, dmin;
	int sc[16], m[16];
	int8_t q[QK_K];
	double serr[16]; /* weighted error of each sub-block */
	double err;
};

/* Eight q6_K codes (or biased codes) as bytes (qnt__narrow_v8i makes
 * them from int32 lanes). */
typedef qnt__v8c q6_v8c;
typedef int8_t q6_v32c __attribute__((vector_size(32)));

/* The eight bytes of c as signed lanes: each byte copied to all four bytes
 * of its lane, then shifted down with its sign (one sign extension with
 * AVX2). */
static inline qnt__v8i q6_widen(q6_v8c c)
{
#if defined(__AVX2__)
	__m128i lo = _mm_setzero_si128();
	memcpy(&lo, &c, sizeof c);
	return (qnt__v8i)_mm256_cvtepi8_epi32(lo); /* vpmovsxbd: the same lanes */
#else
	const q6_v32c b = __builtin_shufflevector(c, c, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5,
						  5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7);
	qnt__v8i v;
	memcpy(&v, &b, sizeof v);
	return v >> 24;
#endif
}

/* The dequantized values of a state (the same float operations as ggml,
 * eight lanes at a time: the same operations lane by lane), for nsub
 * sub-blocks of sub (16 or 32: constant trip counts) values. */
static inline __attribute__((always_inline)) void state_values_n(const int nsub, const int sub,
								   const struct kstate *st, float *y)
{
	for (int j = 0; j < nsub; j++) {
		const float dl = st->d * (float)st->sc[j];
		const float ml = st->dmin * (float)st->m[j];
#pragma GCC unroll 4
		for (int h = 0; h < sub; h += 8) {
			const int i = j * sub + h;
			q6_v8c c8;
			memcpy(&c8, st->q + i, sizeof c8);
			const qnt__v8i c = q6_widen(c8);
			const qnt__v8f yv = dl * __builtin_convertvector(c, qnt__v8f) - ml;
			memcpy(y + i, &yv, sizeof yv);
		}
	}
}

static void state_values(const struct kfmt *f, const struct kstate *st, float *y)
{
	if (f->sub == 16)
		state_values_n(16, 16, st, y);
	else
		state_values_n(8, 32, st, y);
}

/* A super-block's values and weights in double, four per vector, for
 * state_error (made once, read by each measure of the block). */
struct kxw {
	qnt__v4d x[QK_K / 4], w[QK_K / 4];
};

/* Four floats as doubles: one vcvtps2pd with AVX, where GCC (12) splits
 * the generic conversion in two halves and joins them. */
static inline qnt__v4d kq_cvt4(qnt__v4f v)
{
#if defined(__AVX__)
	return (qnt__v4d)_mm256_cvtps_pd((__m128)v);
#else
	return __builtin_convertvector(v, qnt__v4d);
#endif
}

static inline qnt__v4d kq_v4d(const float *p)
{
	qnt__v4f v;
	memcpy(&v, p, sizeof v);
	return kq_cvt4(v);
}

static void block_doubles(const float *x, const float *w, struct kxw *d)
{
	for (int i = 0; i < QK_K; i += 4) {
		d->x[i / 4] = kq_v4d(x + i);
		d->w[i / 4] = kq_v4d(w + i);
	}
}

/* Weighted error of the state's own codes: each sub-block's values as
 * state_values makes them, eight at a time, and their error as qnt__wsse sums it
 * (element i in partial sum i % 4, four elements at a time in element
 * order; x and w as block_doubles makes them), without storing the
 * values: the same doubles. */
static inline __attribute__((always_inline)) void state_error_n(const int nsub, const int sub,
								  const struct kxw *xw, struct kstate *st)
{
	st->err = 0;
	for (int j = 0; j < nsub; j++) {
		const float dl = st->d * (float)st->sc[j];
		const float ml = st->dmin * (float)st->m[j];
		qnt__v4d e = { 0, 0, 0, 0 };
#pragma GCC unroll 4
		for (int h = 0; h < sub; h += 8) {
			const int i = j * sub + h;
			q6_v8c c8;
			memcpy(&c8, st->q + i, sizeof c8);
			const qnt__v8f yv = dl * __builtin_convertvector(q6_widen(c8), qnt__v8f) - ml;
			for (int k = 0; k < 2; k++) {
				const qnt__v4f y4 = k ? __builtin_shufflevector(yv, yv, 4, 5, 6, 7)
						      : __builtin_shufflevector(yv, yv, 0, 1, 2, 3);
				const qnt__v4d r = xw->x[i / 4 + k] - kq_cvt4(y4);
				e += xw->w[i / 4 + k] * r * r;
			}
		}
		st->serr[j] = (e[0] + e[1]) + (e[2] + e[3]);
		st->err += st->serr[j];
	}
}

static void state_error(const struct kfmt *f, const struct kxw *xw, struct kstate *st)
{
	if (f->sub == 16)
		state_error_n(16, 16, xw, st);
	else
		state_error_n(8, 32, xw, st);
}

/* The nearest integer code lo..hi to each lane of t as a float (a NaN
 * gives lo): t clamped first (maxps with t first gives the bound for a NaN;
 * the bounds are integers, so the same integer), then rounded to nearest
 * even (vroundps, or adding and subtracting 1.5 * 2^23: the same floats).
 * A code 0 may come out as -0 where lo < 0 (the same integer). */
static inline __attribute__((always_inline)) qnt__vnf level_lo_hi(qnt__vnf t, float lo, float hi)
{
#if QNT__VN == 8
	const __m256 c = _mm256_min_ps(_mm256_max_ps((__m256)t, _mm256_set1_ps(lo)), _mm256_set1_ps(hi));
	return (qnt__vnf)_mm256_round_ps(c, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
#else
	const qnt__vnf vlo = qnt__splat_vnf(lo), vhi = qnt__splat_vnf(hi);
	t = qnt__select_vnf(t > vlo, t, vlo);
	t = qnt__select_vnf(t < vhi, t, vhi);
	return (t + 12582912.0f) - 12582912.0f;
#endif
}

/* Best codes of one sub-block for the scale dl and offset ml (the nearest
 * representable value of each element); returns the weighted error. The
 * body is instantiated for the two sub-block lengths (16, 32) so that its
 * branch-free loops have a constant trip count. */
static inline double sub_codes_n(const int n, int lo, int hi, const float *x, const float *w, float dl, float ml,
				 int8_t *q)
{
	float y[32];
	if (!(dl != 0.0f && fabsf(dl) < INFINITY)) {
		const int c = qnt__clampi(0, lo, hi);
		for (int i = 0; i < n; i++) {
			q[i] = (int8_t)c;
			y[i] = dl * (float)c - ml;
		}
		return qnt__wsse(n, x, y, w);
	}
	/* the codes as floats (level_lo_hi; a -0 makes a y of the other sign
	 * of zero at most, the same error) */
	const float id = 1.0f / dl;
	for (int i = 0; i < n; i += QNT__VN) {
		qnt__vnf xv;
		memcpy(&xv, x + i, sizeof xv);
		const qnt__vnf fc = level_lo_hi((xv + ml) * id, (float)lo, (float)hi);
		const qnt__vnf yv = dl * fc - ml;
		memcpy(y + i, &yv, sizeof yv);
		const qnt__vni c = __builtin_convertvector(fc, qnt__vni);
#if QNT__VN == 8
		const q6_v8c c8 = qnt__narrow_v8i(c);
		memcpy(q + i, &c8, sizeof c8);
#else
		for (int k = 0; k < QNT__VN; k++)
			q[i + k] = (int8_t)c[k];
#endif
	}
	return qnt__wsse(n, x, y, w);
}

/* q6_K's codes of a sub-block of 16 for the scale dl (no min) and their
 * weighted error, summed in float in eight lanes (element i in lane i % 8)
 * and the lanes added in double in a fixed order: a ranking of candidates
 * for the search (a block's exact error is state_error's). */
/* The q6_K code nearest to each lane of t, as a float: -32 where t <= -32 or
 * is NaN, 31 where t >= 31 (qnt__clamp_v8i(qnt__nearest_int_v8(t), -32, 31)
 * for finite t). t is clamped first (the bounds are integers, so clamping
 * before rounding gives the same integer; maxps with t first gives the bound
 * for a NaN), then rounded to nearest even by adding and subtracting
 * 1.5 * 2^23 (vroundps with AVX: the same floats). */
static inline __attribute__((always_inline)) qnt__v8f q6_level_v8(qnt__v8f t)
{
#if defined(__AVX__)
	const __m256 c = _mm256_min_ps(_mm256_max_ps((__m256)t, _mm256_set1_ps(-32.0f)), _mm256_set1_ps(31.0f));
	return (qnt__v8f)_mm256_round_ps(c, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
#elif defined(__SSE__)
	__m128 a, b;
	memcpy(&a, &t, sizeof a);
	memcpy(&b, (const char *)&t + sizeof a, sizeof b);
	a = _mm_min_ps(_mm_max_ps(a, _mm_set1_ps(-32.0f)), _mm_set1_ps(31.0f));
	b = _mm_min_ps(_mm_max_ps(b, _mm_set1_ps(-32.0f)), _mm_set1_ps(31.0f));
	memcpy(&t, &a, sizeof a);
	memcpy((char *)&t + sizeof a, &b, sizeof b);
	return (t + 12582912.0f) - 12582912.0f;
#else
	const qnt__v8f lo = { -32, -32, -32, -32, -32, -32, -32, -32 }, hi = { 31, 31, 31, 31, 31, 31, 31, 31 };
	t = qnt__select_v8f(qnt__gt_v8f(t, lo), t, lo);
	t = qnt__select_v8f(qnt__lt_v8f(t, hi), t, hi);
	return (t + 12582912.0f) - 12582912.0f;
#endif
}


static double q6_codes(const float *x, const float *w, float dl, int8_t *q)
{
	qnt__v8f xv[2], wv[2], e = { 0 };
	memcpy(xv, x, sizeof xv);
	memcpy(wv, w, sizeof wv);
	const int ok = dl != 0.0f && fabsf(dl) < INFINITY;
	const float id = ok ? 1.0f / dl : 0.0f;
	for (int h = 0; h < 2; h++) {
		const qnt__v8f fc = ok ? q6_level_v8(xv[h] * id) : (qnt__v8f){ 0 };
		const q6_v8c c8 = qnt__narrow_v8i(__builtin_convertvector(fc, qnt__v8i));
		memcpy(q + 8 * h, &c8, sizeof c8);
		const qnt__v8f r = xv[h] - dl * fc;
		e += wv[h] * r * r;
	}
	return (((double)e[0] + e[1]) + ((double)e[2] + e[3])) + (((double)e[4] + e[5]) + ((double)e[6] + e[7]));
}

static double sub_codes(const struct kfmt *f, const float *x, const float *w, float dl, float ml, int8_t *q)
{
	if (f == &F_Q6) /* ml is 0 */
		return q6_codes(x, w, dl, q);
	if (f->sub == 16)
		return sub_codes_n(16, f->qlo, f->qhi, x, w, dl, ml, q);
	return sub_codes_n(32, f->qlo, f->qhi, x, w, dl, ml, q);
}

/* Re-chooses every code for the state's scales and measures the error. */
static void state_recode(const struct kfmt *f, const float *x, const float *w, struct kstate *st)
{
	st->err = 0;
	for (int j = 0; j < f->nsub; j++) {
		const float dl = st->d * (float)st->sc[j];
		const float ml = st->dmin * (float)st->m[j];
		const int o = j * f->sub;
		st->serr[j] = sub_codes(f, x + o, w + o, dl, ml, st->q + o);
		st->err += st->serr[j];
	}
}

/* ---- weighted fits of one sub-block (double precision) ---- */

/* Weighted sums of one sub-block for codes q. */
struct sums {
	double sw, sq, sqq, sx, sqx, sxx;
};

/* Least squares of x ~ a*q + c from the sums; with_min == 0 fixes c = 0,
 * otherwise c <= 0 is enforced (the formats subtract a non-negative min).
 * Returns the residual, or INFINITY when the system is singular. */
static double lsq_solve(const struct sums *s, int with_min, double *a, double *c)
{
	if (!(s->sqq > 0))
		return INFINITY;
	if (with_min) {
		const double det = s->sw * s->sqq - s->sq * s->sq;
		if (det > 0) {
			const double aa = (s->sw * s->sqx - s->sq * s->sx) / det;
			const double cc = (s->sqq * s->sx - s->sq * s->sqx) / det;
			if (cc <= 0) {
				*a = aa;
				*c = cc;
				return s->sxx - aa * s->sqx - cc * s->sx;
			}
		}
	}
	*a = s->sqx / s->sqq;
	*c = 0;
	return s->sxx - *a * s->sqx;
}


/* The sums of sub-blocks j0 to j1 - 1 for the codes q, in double: element i's
 * terms in lane i % 4 of double vectors, the lanes added as
 * (0 + 1) + (2 + 3). Without mins (mins 0, a constant where this is
 * inlined) lsq_solve reads sqq, sqx and sxx only, and the others are left
 * 0. */
static inline __attribute__((always_inline)) void sub_sums_n(int j0, int j1, const int n, const int mins,
							       const float *x, const float *w, const int8_t *q,
							       struct sums *s)
{
	for (int j = j0; j < j1; j++) {
		const qnt__v4d z = { 0, 0, 0, 0 };
		qnt__v4d sw = z, sq = z, sqq = z, sx = z, sqx = z, sxx = z;
		for (int i = n * j; i < n * (j + 1); i += 4) {
			const qnt__v4d xi = kq_v4d(x + i), wi = kq_v4d(w + i);
			int32_t q4;
			memcpy(&q4, q + i, sizeof q4);
#if defined(__AVX2__)
			const qnt__v4d qi = (qnt__v4d)_mm256_cvtepi32_pd(_mm_cvtepi8_epi32(_mm_cvtsi32_si128(q4)));
#else
			const qnt__v4d qi = { q[i], q[i + 1], q[i + 2], q[i + 3] };
#endif
			if (mins) {
				sw += wi;
				sq += wi * qi;
				sx += wi * xi;
			}
			sqq += wi * qi * qi;
			sqx += wi * qi * xi;
			sxx += wi * xi * xi;
		}
		struct sums *t = &s[j];
		t->sw = (sw[0] + sw[1]) + (sw[2] + sw[3]);
		t->sq = (sq[0] + sq[1]) + (sq[2] + sq[3]);
		t->sqq = (sqq[0] + sqq[1]) + (sqq[2] + sqq[3]);
		t->sx = (sx[0] + sx[1]) + (sx[2] + sx[3]);
		t->sqx = (sqx[0] + sqx[1]) + (sqx[2] + sqx[3]);
		t->sxx = (sxx[0] + sxx[1]) + (sxx[2] + sxx[3]);
	}
}

/* s[j0..j1) for the codes q (sub-blocks j0 to j1 - 1). */
static inline __attribute__((always_inline)) void kq_sub_sums(const struct kfmt *f, const float *x, const float *w,
								const int8_t *q, int j0, int j1, struct sums *s)
{
	if (f->mhi == 0)
		sub_sums_n(j0, j1, 16, 0, x, w, q, s);
	else if (f->sub == 16)
		sub_sums_n(j0, j1, 16, 1, x, w, q, s);
	else
		sub_sums_n(j0, j1, 32, 1, x, w, q, s);
}

/* ---- choosing integer scales for given super-scales ---- */

/* sub_codes_n's codes and values for QNT__VN candidates at once, lane k
 * being the candidate (dl[k], ml[k]), for the codes 0..hi of the formats
 * with mins: the same codes (the nearest code of (x + ml) times dl's
 * reciprocal, by level_lo_hi: +0 for a code 0, as lo is 0; or 0 = clamp(0) where dl is zero or not
 * finite) and, lane by lane, the same float operations on them, so the same
 * values y. Returned: the weighted error sum w (x - y)^2 of each lane
 * computed in float, a bound for the search below, not sub_codes_n's
 * double. */
static inline __attribute__((always_inline)) qnt__vnf sub_errs_n(const int n, int hi, const float *x,
								   const float *w, qnt__vnf dl, qnt__vnf ml)
{
	const qnt__vnf inf = qnt__splat_vnf(INFINITY), zero = qnt__splat_vnf(0.0f);
	const qnt__vni ok = (dl != zero) & (qnt__abs_vnf(dl) < inf);
	const qnt__vnf id = 1.0f / dl;
	qnt__vnf e[4] = { zero, zero, zero, zero };
	/* unrolled, so that the partial sums stay in registers */
#pragma GCC unroll 8
	for (int i = 0; i < n; i += 4)
#pragma GCC unroll 4
		for (int k = 0; k < 4; k++) {
			const qnt__vnf fc = qnt__and_vnf(ok, level_lo_hi((x[i + k] + ml) * id, 0.0f, (float)hi));
			const qnt__vnf y = dl * fc - ml;
			const qnt__vnf rf = x[i + k] - y;
			e[k] += w[i + k] * rf * rf;
		}
	return (e[0] + e[1]) + (e[2] + e[3]);
}

/* Whether a candidate whose float error (sub_errs_n) is ef certainly has a
 * double error (sub_codes_n's) above best >= 0, so that the search may skip
 * it; for sub-blocks whose weights are each 0 or at least 2^-60 (see
 * weights_not_tiny). Let E be the exact sum of w (x - y)^2 over the
 * n <= 32 elements (the values y are the same in both). Each float term
 * (w r) r, r = x - y, is w (x - y)^2 times at most (1 + u)^4, u = 2^-24
 * (three roundings, r's counted twice), and takes at most 8 + 2 more in the
 * sum; below the normal floats a product loses up to 2^-150 instead (a
 * difference of floats is exact there): for w r that is 2^-150 |r| with
 * |r| < 2^-66 (w >= 2^-60), for its product with r 2^-150. So
 * ef <= E (1 + u)^14 + 2^-144 unless something overflowed, and then ef is
 * not finite and the candidate is not skipped. In double no term under- or
 * overflows (they lie between 2^-447 and 2^387), so sub_codes_n's error,
 * formed the same way, is at least E (1 - 2^-53)^14. With
 * ef > best (1 + 2^-16) + 2^-100 (the
 * right side in double, rounded by 2^-52 relative at most), E exceeds
 * best (1 + 2^-17) + 2^-101, and so does the double error: > best. A NaN
 * (best or ef) compares false and is never skipped. */
static inline int sub_err_above(float ef, double best)
{
	return ef < INFINITY && (double)ef > best * (1.0 + 0x1p-16) + 0x1p-100;
}

/* 1 if each of the n (16 or 32) weights is 0 or at least 2^-60 (or NaN,
 * which makes every error NaN). */
static inline int weights_not_tiny(int n, const float *w)
{
	qnt__v8i tiny = { 0 };
	for (int i = 0; i < n; i += 8) {
		qnt__v8f wv;
		memcpy(&wv, w + i, sizeof wv);
		tiny |= qnt__gt_v8f(wv, (qnt__v8f){ 0 }) & qnt__lt_v8f(wv, qnt__splat_v8f(0x1p-60f));
	}
	return qnt__bits_v8i(tiny) == 0;
}

/* For sub-block j, the best integer scale and min near the continuous a, mn,
 * with the codes re-chosen for each: the nearest integers +-f->radius are
 * tried and st changes only if the error falls below st->serr[j]. With
 * mins (q2_K, q4_K, q5_K: up to eight candidates, nine where the current
 * pair is outside the box) the candidates, in the order u then v, are
 * ranked QNT__VN at a time by sub_errs_n's float errors, and only those
 * that may have the least error below st->serr[j] are measured exactly;
 * the first with the least wins, as a scan in that order would choose.
 * Without (q3_K, q6_K: at most three candidates) they are measured one at
 * a time, which costs less than a pass of eight lanes. */
static int choose_sub(const struct kfmt *f, const float *x, const float *w, struct kstate *st, int j, double a,
		      double mn)
{
	const int o = j * f->sub;
	int s0, s1, m0 = 0, m1 = 0;
	if (st->d != 0.0f) {
		const int c = round_clamp(a / st->d, f->slo, f->shi);
		s0 = qnt__clampi(c - f->radius, f->slo, f->shi);
		s1 = qnt__clampi(c + f->radius, f->slo, f->shi);
	} else {
		s0 = s1 = qnt__clampi(0, f->slo, f->shi);
	}
	if (f->mhi != 0 && st->dmin != 0.0f) {
		const int c = round_clamp(mn / st->dmin, 0, f->mhi);
		m0 = qnt__clampi(c - f->radius, 0, f->mhi);
		m1 = qnt__clampi(c + f->radius, 0, f->mhi);
	}
	double best = st->serr[j];
	int changed = 0, bs = 0, bm = 0;
	if (f->mhi == 0) { /* q3_K, q6_K: at most three candidates, one at a time */
		int8_t q[32], bq[32];
		const float ml = st->dmin * 0.0f;
		for (int u = s0; u <= s1; u++) {
			if (u == st->sc[j] && st->m[j] == 0)
				continue;
			const double e = sub_codes(f, x + o, w + o, st->d * (float)u, ml, q);
			if (e < best) {
				best = e;
				bs = u;
				memcpy(bq, q, (size_t)f->sub);
				changed = 1;
			}
		}
		if (changed) {
			st->sc[j] = bs;
			st->m[j] = 0;
			memcpy(st->q + o, bq, (size_t)f->sub);
			st->err += best - st->serr[j];
			st->serr[j] = best;
		}
		return changed;
	}
	/* the candidates in scan order (at most (2 radius + 1)^2: radius <= 2
	 * in every kfmt), their float errors QNT__VN lanes at a time; the last
	 * group's spare lanes repeat its first candidate and are never read.
	 * Then, in scan order, each that may beat the best so far (not
	 * sub_err_above it) is measured exactly by sub_codes: the others would
	 * not be taken, so the choice is the scan's. */
	int cu[25], cv[25], nc = 0;
	for (int u = s0; u <= s1; u++)
		for (int v = m0; v <= m1; v++)
			if (!(u == st->sc[j] && v == st->m[j]) && nc < 25) {
				cu[nc] = u;
				cv[nc] = v;
				nc++;
			}
	int8_t q[32];
	const int may_skip = weights_not_tiny(f->sub, w + o);
	for (int g = 0; g < nc; g += QNT__VN) {
		qnt__vnf dl, ml;
		for (int k = 0; k < QNT__VN; k++) {
			const int c = g + k < nc ? g + k : g;
			dl[k] = st->d * (float)cu[c];
			ml[k] = st->dmin * (float)cv[c];
		}
		const qnt__vnf ef = f->sub == 16 ? sub_errs_n(16, f->qhi, x + o, w + o, dl, ml)
						 : sub_errs_n(32, f->qhi, x + o, w + o, dl, ml);
		for (int k = 0; k < QNT__VN && g + k < nc; k++) {
			if (may_skip && sub_err_above(ef[k], best))
				continue;
			const double e = sub_codes(f, x + o, w + o, dl[k], ml[k], q);
			if (e < best) {
				best = e;
				bs = cu[g + k];
				bm = cv[g + k];
				memcpy(st->q + o, q, (size_t)f->sub);
				changed = 1;
			}
		}
	}
	if (changed) {
		st->sc[j] = bs;
		st->m[j] = bm;
		st->err += best - st->serr[j];
		st->serr[j] = best;
	}
	return changed;
}

/* ---- refinement ---- */

/* Refit of the super-scales for fixed integer scales, mins and codes
 * (sums: the sub-blocks' sums for st's codes), tried at the fp16 values
 * within f->super_radius of the optimum with the codes re-chosen. */
static int refit_super(const struct kfmt *f, const float *x, const float *w, const struct sums *sums,
		       struct kstate *st)
{
	double a11 = 0, a12 = 0, a22 = 0, b1 = 0, b2 = 0;
	for (int j = 0; j < f->nsub; j++) {
		const double sc = st->sc[j], m = st->m[j];
		a11 += sc * sc * sums[j].sqq;
		a12 -= sc * m * sums[j].sq;
		a22 += m * m * sums[j].sw;
		b1 += sc * sums[j].sqx;
		b2 -= m * sums[j].sx;
	}
	if (!(a11 > 0))
		return 0;
	double d = b1 / a11, dmin = st->dmin;
	if (f->mhi) {
		double det = a11 * a22 - a12 * a12;
		if (det > 1e-12 * a11 * a22) {
			d = (b1 * a22 - b2 * a12) / det;
			dmin = (a11 * b2 - a12 * b1) / det;
		}
	}
	uint16_t hd = to_fp16((float)d), hm = to_fp16((float)dmin);
	struct kstate t = *st;
	int changed = 0;
	const int rs = f->super_radius, rm = f->mhi ? rs : 0;
	for (int u = -rs; u <= rs; u++) {
		uint16_t h1 = (uint16_t)(hd + u);
		if ((h1 & 0x7c00u) == 0x7c00u || (u != 0 && ((h1 ^ hd) & 0x8000u)))
			continue;
		for (int v = -rm; v <= rm; v++) {
			uint16_t h2 = (uint16_t)(hm + v);
			if (f->mhi && ((h2 & 0x7c00u) == 0x7c00u || (v != 0 && ((h2 ^ hm) & 0x8000u))))
				continue;
			t.d = from_fp16(h1);
			t.dmin = f->mhi ? from_fp16(h2) : 0.0f;
			if (t.d == st->d && t.dmin == st->dmin)
				continue;
			state_recode(f, x, w, &t);
			if (t.err < st->err) {
				*st = t;
				changed = 1;
			}
			t = *st;
		}
	}
	return changed;
}

/* Per sub-block: least-squares scale and min for the current codes, turned
 * into the integer scale and min around them. On return, where the format
 * refits its super-scales, sums holds the sub-blocks' sums for st's codes
 * (refit_super's). */
static int refit_subs(const struct kfmt *f, const float *x, const float *w, struct kstate *st, struct sums *sums)
{
	int changed = 0;
	/* choose_sub changes sub-block j's codes only: the sums of the others
	 * may be taken first, and j's taken again where it changed them */
	kq_sub_sums(f, x, w, st->q, 0, f->nsub, sums);
	for (int j = 0; j < f->nsub; j++) {
		double a, c;
		if (!(lsq_solve(&sums[j], f->mhi != 0, &a, &c) < INFINITY))
			continue;
		if (choose_sub(f, x, w, st, j, a, -c)) {
			changed = 1;
			if (f->super_radius >= 0)
				kq_sub_sums(f, x, w, st->q, j, j + 1, sums);
		}
	}
	return changed;
}

static void refine(const struct kfmt *f, const float *x, const float *w, struct kstate *st)
{
	struct sums sums[16];
	for (int it = 0; it < f->rounds; it++) {
		int c = refit_subs(f, x, w, st, sums);
		if (f->super_radius >= 0)
			c |= refit_super(f, x, w, sums, st);
		if (!c)
			break;
	}
}

/* ------------------------------------------------------------------ */
/* ggml's fitting helpers (same operations, same order)                 */
/* ------------------------------------------------------------------ */

/* q3_K's sub-block fit (ggml's make_q3_quants with do_rmse, nmax 4) of the
 * 16 sub-blocks of 16 of a super-block: weights x^2, then up to 5 passes
 * moving single codes while the fit improves. The sub-blocks are the lanes
 * of Q3V native vectors of Q3W lanes (qnt_lanes.h: two of eight in the
 * cpu-avx2 build, four of four otherwise); every lane does ggml's float
 * operations in ggml's order.
 * The vectors are independent, so each element's step is taken for all of
 * them at once (their dependency chains overlap). A lane stops changing once
 * one of its passes changes nothing (the next pass starts from the same
 * state), so running it for the passes other lanes still need leaves it as
 * ggml's loop leaves it; a vector none of whose lanes changed in a pass is
 * left out of the later ones. */
#define Q3W QNT__VN
typedef qnt__vnf q3_vf;
typedef qnt__vni q3_vi;
#define Q3V (16 / Q3W)

/* Up to two super-blocks are fitted together (Q3NV vectors). */
#define Q3NV (2 * Q3V)

/* xt[i][vo + v], lane k: element i of sub-block Q3W * v + k (x transposed
 * by shuffles from whole-vector loads). */
static inline __attribute__((always_inline)) void q3_transpose(const float *x, q3_vf xt[16][Q3NV], int vo)
{
	for (int v = 0; v < Q3V; v++)
		for (int h = 0; h < 16 / Q3W; h++) {
			q3_vf r[Q3W];
			for (int k = 0; k < Q3W; k++)
				memcpy(&r[k], x + 16 * (Q3W * v + k) + Q3W * h, sizeof r[k]);
			q3_vf o[Q3W];
			qnt__transpose_vnf(r, o);
			for (int c = 0; c < Q3W; c++)
				xt[Q3W * h + c][vo + v] = o[c];
		}
}

/* The fits of nb (1 or 2) consecutive super-blocks at x. l[i][v], lane
 * k: the code (-4..3) of element i of sub-block Q3W * v + k (counted
 * across the blocks; -4 for a sub-block of tiny values, whose codes ggml
 * zeroes); scales: the 16 * nb scales. Two blocks give each element's step
 * twice as many independent vectors. */
static inline __attribute__((always_inline)) void ggml_fit_q3_all(const float *x, int nb, q3_vi l[16][Q3NV],
								   float *scales)
{
	const int nv = nb * Q3V;
	const int nmax = 4;
	const q3_vf zero = { 0 };
	q3_vf xt[16][Q3NV], w[16][Q3NV], wx[16][Q3NV], fl[16][Q3NV];
	q3_vf sumlx[Q3NV], suml2[Q3NV];
	q3_vi tiny[Q3NV];
	for (int bk = 0; bk < nb; bk++)
		q3_transpose(x + QK_K * bk, xt, Q3V * bk);
	for (int v = 0; v < nv; v++) {
		q3_vf amax = zero, max = zero;
		for (int i = 0; i < 16; i++) {
			const q3_vf ax = qnt__abs_vnf(xt[i][v]);
			const q3_vi m = ax > amax;
			amax = qnt__select_vnf(m, ax, amax);
			max = qnt__select_vnf(m, xt[i][v], max);
		}
		tiny[v] = amax < GROUP_MAX_EPS;
		const q3_vf iscale = (float)-nmax / max;
		q3_vf slx = zero, sl2 = zero;
		for (int i = 0; i < 16; i++) {
			l[i][v] = qnt__clamp_vni(qnt__nearest_vni(iscale * xt[i][v]), -nmax, nmax - 1);
			fl[i][v] = __builtin_convertvector(l[i][v], q3_vf);
			w[i][v] = xt[i][v] * xt[i][v];
			wx[i][v] = w[i][v] * xt[i][v];
			slx += wx[i][v] * fl[i][v];
			sl2 += w[i][v] * fl[i][v] * fl[i][v];
		}
		sumlx[v] = slx;
		suml2[v] = sl2;
	}
	int active[Q3NV];
	for (int v = 0; v < nv; v++)
		active[v] = 1;
	for (int itry = 0; itry < 5; itry++) {
		q3_vi changed[Q3NV];
		int any = 0;
		for (int v = 0; v < nv; v++)
			changed[v] = (q3_vi){ 0 };
		for (int i = 0; i < 16; i++)
			for (int v = 0; v < nv; v++) {
				if (!active[v])
					continue;
				const q3_vf xi = xt[i][v], f = fl[i][v];
				q3_vf slx = sumlx[v] - wx[i][v] * f;
				q3_vf sl2 = suml2[v] - w[i][v] * f * f;
				const q3_vi nl = qnt__clamp_vni(qnt__nearest_vni(xi * sl2 / slx), -nmax, nmax - 1);
				const q3_vf fnl = __builtin_convertvector(nl, q3_vf);
				const q3_vi moved = (slx > zero) & (nl != l[i][v]);
				slx += wx[i][v] * fnl;
				sl2 += w[i][v] * fnl * fnl;
				const q3_vi take = moved & (sl2 > zero) &
						   (slx * slx * suml2[v] > sumlx[v] * sumlx[v] * sl2);
				l[i][v] = (nl & take) | (l[i][v] & ~take);
				fl[i][v] = qnt__select_vnf(take, fnl, f);
				sumlx[v] = qnt__select_vnf(take, slx, sumlx[v]);
				suml2[v] = qnt__select_vnf(take, sl2, suml2[v]);
				changed[v] |= take;
			}
		for (int v = 0; v < nv; v++) {
			int c = 0;
			for (int k = 0; k < Q3W; k++)
				c |= changed[v][k];
			active[v] &= c != 0;
			any |= active[v];
		}
		if (!any)
			break;
	}
	const q3_vi four = (q3_vi){ 0 } - nmax;
	for (int v = 0; v < nv; v++) {
		int some_tiny = 0;
		for (int k = 0; k < Q3W; k++)
			some_tiny |= tiny[v][k];
		if (some_tiny)
			for (int i = 0; i < 16; i++)
				l[i][v] = (four & tiny[v]) | (l[i][v] & ~tiny[v]);
		const q3_vf s = qnt__select_vnf((suml2[v] > zero) & ~tiny[v], sumlx[v] / suml2[v], zero);
		memcpy(scales + Q3W * v, &s, sizeof s);
	}
}

/* Non-negative values (sub-block scales or mins) to integers 0..nmax under
 * one scale, weighted by qw (ggml's make_qp_quants). */
static float ggml_fit_positive(int n, int nmax, const float *x, uint8_t *L, const float *qw)
{
	float max = 0;
	for (int i = 0; i < n; i++)
		max = max > x[i] ? max : x[i];
	if (max < GROUP_MAX_EPS) {
		memset(L, 0, (size_t)n);
		return 0.0f;
	}
	float iscale = (float)nmax / max;
	for (int i = 0; i < n; i++)
		L[i] = (uint8_t)qnt__nearest_int(iscale * x[i]);
	float scale = 1 / iscale;
	float best_mse = 0;
	for (int i = 0; i < n; i++) {
		float diff = x[i] - scale * (float)L[i];
		best_mse += qw[i] * diff * diff;
	}
	for (int is = -4; is <= 4; is++) {
		if (is == 0)
			continue;
		float iscale_is = (0.1f * (float)is + (float)nmax) / max;
		float scale_is = 1 / iscale_is;
		float mse = 0;
		for (int i = 0; i < n; i++) {
			int l = qnt__nearest_int(iscale_is * x[i]);
			l = l < nmax ? l : nmax;
			float diff = x[i] - scale_is * (float)l;
			mse += qw[i] * diff * diff;
		}
		if (mse < best_mse) {
			best_mse = mse;
			iscale = iscale_is;
		}
	}
	float sumlx = 0, suml2 = 0;
	for (int i = 0; i < n; i++) {
		int l = qnt__nearest_int(iscale * x[i]);
		l = l < nmax ? l : nmax;
		L[i] = (uint8_t)l;
		float w = qw[i];
		sumlx += w * x[i] * (float)l;
		suml2 += w * (float)l * (float)l;
	}
	for (int itry = 0; itry < 5; itry++) {
		int n_changed = 0;
		for (int i = 0; i < n; i++) {
			float w = qw[i];
			float slx = sumlx - w * x[i] * (float)L[i];
			float sl2 = suml2 - w * (float)L[i] * (float)L[i];
			if (slx > 0 && sl2 > 0) {
				int new_l = qnt__nearest_int(x[i] * sl2 / slx);
				new_l = new_l < nmax ? new_l : nmax;
				if (new_l != L[i]) {
					slx += w * x[i] * (float)new_l;
					sl2 += w * (float)new_l * (float)new_l;
					if (slx * slx * suml2 > sumlx * sumlx * sl2) {
						L[i] = (uint8_t)new_l;
						sumlx = slx;
						suml2 = sl2;
						n_changed++;
					}
				}
			}
		}
		if (!n_changed)
			break;
	}
	return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/* ------------------------------------------------------------------ */
/* Super-block quantizers: ggml's reference (imp == NULL) and its       */
/* importance-aware variant (imp != NULL)                               */
/* ------------------------------------------------------------------ */

/* Affine formats: codes from the final (fp16-rounded) scales and mins. */
static void requant_affine(const float *x, int nsub, int sub, int nmax, float d16, float dmin16, const uint8_t *sc,
			   const uint8_t *m, uint8_t *L)
{
	for (int j = 0; j < nsub; j++) {
		const float d = d16 * (float)sc[j];
		if (d == 0.0f)
			continue;
		const float dm = dmin16 * (float)m[j];
		for (int i = 0; i < sub; i += 8) { /* sub: 16 or 32 */
			qnt__v8f xv;
			memcpy(&xv, x + sub * j + i, sizeof xv);
			const q6_v8c c = qnt__narrow_v8i(qnt__clamp8_v8i(qnt__nearest_int_v8((xv + dm) / d), 0, nmax));
			memcpy(L + sub * j + i, &c, sizeof c);
		}
	}
}

/* ggml's sums s = 0, s += v[i] (in float, in element order) of each of
 * the nsub sub-blocks of sub values at v (nsub and sub multiples of
 * QNT__VN): QNT__VN sub-blocks at a time, the lanes of one vector, each
 * lane adding its elements in order. One sum is a chain of dependent
 * additions; side by side in lanes the chains take the time of one. */
static void sub_sums(const int nsub, const int sub, const float *v, float *out)
{
	for (int j0 = 0; j0 < nsub; j0 += QNT__VN) {
		qnt__vnf acc = qnt__splat_vnf(0.0f);
		for (int i0 = 0; i0 < sub; i0 += QNT__VN) {
			qnt__vnf r[QNT__VN], t[QNT__VN];
			for (int k = 0; k < QNT__VN; k++)
				memcpy(&r[k], v + sub * (j0 + k) + i0, sizeof r[k]);
			qnt__transpose_vnf(r, t);
			for (int c = 0; c < QNT__VN; c++)
				acc += t[c];
		}
		memcpy(out + j0, &acc, sizeof acc);
	}
}

/* ggml's sum of x[l]^2 over a super-block (in float, in element order) for
 * each of the nb (1 or 2) consecutive super-blocks at x, the two chains of
 * additions side by side. */
static void block_sum_x2(int nb, const float *x, float *out)
{
	float s0 = 0, s1 = 0;
	if (nb == 2) {
		for (int l = 0; l < QK_K; l++) {
			s0 += x[l] * x[l];
			s1 += x[QK_K + l] * x[QK_K + l];
		}
		out[1] = s1;
	} else {
		for (int l = 0; l < QK_K; l++)
			s0 += x[l] * x[l];
	}
	out[0] = s0;
}

static void ggml_q2_K(const float *x, struct blk_q2_K *b, const float *qw)
{
	uint8_t L[QK_K], Ls[16], Lm[16];
	float weights[QK_K], scales[16], mins[16], sw[16];

	if (!qw) {
		float max_scale = 0, max_min = 0;
		for (int l = 0; l < QK_K; l++)
			weights[l] = fabsf(x[l]);
		qnt__ggml_fit_affine_subs(16, 16, 3, x, weights, L, scales, mins, -0.5f, 0.1f, 15, 1);
		for (int j = 0; j < 16; j++) {
			if (scales[j] > max_scale)
				max_scale = scales[j];
			if (mins[j] > max_min)
				max_min = mins[j];
		}
		if (max_scale > 0) {
			const float iscale = 15.0f / max_scale;
			for (int j = 0; j < 16; j++)
				b->scales[j] = (uint8_t)qnt__nearest_int(iscale * scales[j]);
			b->d = to_fp16(max_scale / 15.0f);
		} else {
			memset(b->scales, 0, 16);
			b->d = to_fp16(0.0f);
		}
		if (max_min > 0) {
			const float iscale = 15.0f / max_min;
			for (int j = 0; j < 16; j++)
				b->scales[j] |= (uint8_t)((unsigned)qnt__nearest_int(iscale * mins[j]) << 4);
			b->dmin = to_fp16(max_min / 15.0f);
		} else {
			b->dmin = to_fp16(0.0f);
		}
	} else {
		float sumx2 = 0;
		for (int j = 0; j < QK_K; j++)
			sumx2 += x[j] * x[j];
		const float sigma2 = sumx2 / QK_K;
		for (int j = 0; j < 16; j++) {
			sw[j] = 0;
			for (int l = 0; l < 16; l++)
				weights[16 * j + l] = qw[16 * j + l] * sqrtf(sigma2 + x[16 * j + l] * x[16 * j + l]);
			for (int l = 0; l < 16; l++)
				sw[j] += weights[16 * j + l];
		}
		qnt__ggml_fit_affine_subs(16, 16, 3, x, weights, L, scales, mins, -0.9f, 0.05f, 36, 0);
		const float dm = ggml_fit_positive(16, 15, scales, Ls, sw);
		const float mm = ggml_fit_positive(16, 15, mins, Lm, sw);
		b->d = to_fp16(dm);
		b->dmin = to_fp16(mm);
		for (int j = 0; j < 16; j++)
			b->scales[j] = (uint8_t)(Ls[j] | (Lm[j] << 4));
	}
	uint8_t sc[16], mn[16];
	for (int j = 0; j < 16; j++) {
		sc[j] = b->scales[j] & 0x0f;
		mn[j] = b->scales[j] >> 4;
	}
	requant_affine(x, 16, 16, 3, from_fp16(b->d), from_fp16(b->dmin), sc, mn, L);
	pack_2bit(L, b->qs);
}

/* ggml's codes from the final scales (l6, biased by 32, and b->d), x / d
 * rounded, eight lanes at a time, then the block's codes packed. A
 * sub-block whose d is zero keeps its fit's codes: those in L, or with fit
 * not NULL those of fit[i][vo + j / Q3W], lane j % Q3W. */
static void q3_codes(const float *x, const uint8_t *l6, int8_t *L, q3_vi (*fit)[Q3NV], int vo, struct blk_q3_K *b)
{
	const float d16 = from_fp16(b->d);
	for (int j = 0; j < 16; j++) {
		const float d = d16 * (float)((int)l6[j] - 32);
		if (d == 0.0f) {
			if (fit)
				for (int i = 0; i < 16; i++)
					L[16 * j + i] = (int8_t)(fit[i][vo + j / Q3W][j % Q3W] + 4);
			continue;
		}
		for (int h = 0; h < 2; h++) {
			qnt__v8f xv;
			memcpy(&xv, x + 16 * j + 8 * h, sizeof xv);
			const q6_v8c c = qnt__narrow_v8i(qnt__clamp8_v8i(qnt__nearest_int_v8(xv / d), -4, 3) + 4);
			memcpy(L + 16 * j + 8 * h, &c, sizeof c);
		}
	}
	pack_q3_codes((const uint8_t *)L, b);
}

/* ggml's q3_K block without importance from its sub-block fit: the scales
 * and the fit's codes (vectors vo.. of fit). */
static void q3_ref_block(const float *x, const float *scales, q3_vi (*fit)[Q3NV], int vo, struct blk_q3_K *b)
{
	int8_t L[QK_K];
	uint8_t l6[16];
	float max_scale = 0, amax = 0;
	for (int j = 0; j < 16; j++) {
		float a = fabsf(scales[j]);
		if (a > amax) {
			amax = a;
			max_scale = scales[j];
		}
	}
	if (max_scale != 0.0f) {
		const float iscale = -32.0f / max_scale;
		for (int j = 0; j < 16; j++) {
			int8_t l = (int8_t)(uint8_t)qnt__nearest_int(iscale * scales[j]);
			l = (int8_t)(qnt__clampi(l, -32, 31) + 32);
			l6[j] = (uint8_t)l;
		}
		pack_scales_q3(l6, b->scales);
		b->d = to_fp16(1 / iscale);
	} else {
		memset(l6, 0, sizeof l6);
		memset(b->scales, 0, 12);
		b->d = to_fp16(0.0f);
	}
	q3_codes(x, l6, L, fit, vo, b);
}

/* Two consecutive blocks without importance, their fits done together. */
static void ggml_q3_K_pair(const float *x, struct blk_q3_K *b)
{
	float scales[32];
	q3_vi fit[16][Q3NV];
	ggml_fit_q3_all(x, 2, fit, scales);
	q3_ref_block(x, scales, fit, 0, b);
	q3_ref_block(x + QK_K, scales + 16, fit, Q3V, b + 1);
}

/* ggml's importance-aware q3_K blocks of the nb (1 or 2) consecutive
 * super-blocks at x (qw likewise), written to b[0..nb-1]. */
static void ggml_q3_K_imp(const float *x, int nb, struct blk_q3_K *b, const float *qw)
{
	int8_t L[2 * QK_K];
	float scales[32], weight[2 * QK_K], sw[32], sum_x2[2];
	block_sum_x2(nb, x, sum_x2);
	for (int j = 0; j < 16 * nb; j++) {
		const float sigma2 = 2 * sum_x2[j / 16] / QK_K;
		for (int l = 0; l < 16; l++)
			weight[16 * j + l] = qw[16 * j + l] * sqrtf(sigma2 + x[16 * j + l] * x[16 * j + l]);
	}
	sub_sums(16 * nb, 16, weight, sw);
	qnt__ggml_fit_sym_subs(16 * nb, 16, 4, x, L, weight, scales);
	for (int k = 0; k < nb; k++) {
		uint8_t l6[16];
		int8_t Ls[16];
		const float d_block = qnt__ggml_fit_sym(16, 32, scales + 16 * k, Ls, sw + 16 * k);
		for (int j = 0; j < 16; j++)
			l6[j] = (uint8_t)Ls[j];
		pack_scales_q3(l6, b[k].scales);
		b[k].d = to_fp16(d_block);
		q3_codes(x + QK_K * k, l6, L + QK_K * k, NULL, 0, b + k);
	}
}

static void ggml_q3_K(const float *x, struct blk_q3_K *b, const float *qw)
{
	if (qw) {
		ggml_q3_K_imp(x, 1, b, qw);
		return;
	}
	float scales[16];
	q3_vi fit[16][Q3NV];
	ggml_fit_q3_all(x, 1, fit, scales);
	q3_ref_block(x, scales, fit, 0, b);
}

/* ggml's q4_K (nmax 15) or q5_K (nmax 31) blocks of the nb (1 or 2)
 * consecutive super-blocks at x (qw likewise), written to blk[0..nb-1];
 * the sub-block fits of both super-blocks are done together (two vectors
 * of lanes: qnt__ggml_fit_affine_subs). */
static void ggml_q45_K(const float *x, int nb, void *blk, int nmax, const float *qw)
{
	uint8_t L[2 * QK_K];
	float weights[2 * QK_K], scales[16], mins[16], sw[16];

	for (int b = 0; b < nb; b++) {
		const float *xb = x + QK_K * b;
		float *wb = weights + QK_K * b;
		if (!qw) {
			for (int j = 0; j < 8; j++) {
				float sum_x2 = 0;
				for (int l = 0; l < 32; l++)
					sum_x2 += xb[32 * j + l] * xb[32 * j + l];
				const float av_x = sqrtf(sum_x2 / 32);
				for (int l = 0; l < 32; l++)
					wb[32 * j + l] = av_x + fabsf(xb[32 * j + l]);
			}
			continue;
		}
		const float *qb = qw + QK_K * b;
		float sum_x2 = 0;
		for (int l = 0; l < QK_K; l++)
			sum_x2 += xb[l] * xb[l];
		const float sigma2 = 2 * sum_x2 / QK_K;
		for (int j = 0; j < 8; j++) {
			for (int l = 0; l < 32; l++)
				wb[32 * j + l] = qb[32 * j + l] * sqrtf(sigma2 + xb[32 * j + l] * xb[32 * j + l]);
			float sumw = 0;
			for (int l = 0; l < 32; l++)
				sumw += wb[32 * j + l];
			sw[8 * b + j] = sumw;
		}
	}
	if (!qw && nmax == 15)
		qnt__ggml_fit_affine_subs(8 * nb, 32, 15, x, weights, L, scales, mins, -1.0f, 0.1f, 20, 0);
	else if (!qw)
		qnt__ggml_fit_affine_subs(8 * nb, 32, 31, x, weights, L, scales, mins, -0.5f, 0.1f, 15, 0);
	else
		qnt__ggml_fit_affine_subs(8 * nb, 32, nmax, x, weights, L, scales, mins, -0.9f, 0.05f, 36, 0);

	for (int b = 0; b < nb; b++) {
		const float *sc_b = scales + 8 * b, *mn_b = mins + 8 * b;
		uint8_t *Lb = L + QK_K * b;
		struct blk_q4_K *b4 = (struct blk_q4_K *)blk + b;
		struct blk_q5_K *b5 = (struct blk_q5_K *)blk + b;
		uint16_t *pd = nmax == 15 ? &b4->d : &b5->d, *pdmin = nmax == 15 ? &b4->dmin : &b5->dmin;
		uint8_t *scales12 = nmax == 15 ? b4->scales : b5->scales;
		uint8_t ls[8], lm[8];
		if (!qw) {
			float max_scale = 0, max_min = 0;
			for (int j = 0; j < 8; j++) {
				if (sc_b[j] > max_scale)
					max_scale = sc_b[j];
				if (mn_b[j] > max_min)
					max_min = mn_b[j];
			}
			const float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
			const float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
			for (int j = 0; j < 8; j++) {
				uint8_t a = (uint8_t)qnt__nearest_int(inv_scale * sc_b[j]);
				uint8_t m = (uint8_t)qnt__nearest_int(inv_min * mn_b[j]);
				ls[j] = a < 63 ? a : 63;
				lm[j] = m < 63 ? m : 63;
			}
			*pd = to_fp16(max_scale / 63.0f);
			*pdmin = to_fp16(max_min / 63.0f);
		} else {
			const float d_block = ggml_fit_positive(8, 63, sc_b, ls, sw + 8 * b);
			const float m_block = ggml_fit_positive(8, 63, mn_b, lm, sw + 8 * b);
			for (int j = 0; j < 8; j++) {
				ls[j] = ls[j] < 63 ? ls[j] : 63;
				lm[j] = lm[j] < 63 ? lm[j] : 63;
			}
			*pd = to_fp16(d_block);
			*pdmin = to_fp16(m_block);
		}
		pack_scale_min_6bit(ls, lm, scales12);
		uint8_t sc[8], mn[8];
		for (int j = 0; j < 8; j++)
			scale_min_6bit(j, scales12, &sc[j], &mn[j]);
		requant_affine(x + QK_K * b, 8, 32, nmax, from_fp16(*pd), from_fp16(*pdmin), sc, mn, Lb);
		if (nmax == 15)
			pack_4bit(Lb, b4->qs);
		else
			pack_q5_codes(Lb, b5);
	}
}

static void ggml_q4_K(const float *x, struct blk_q4_K *b, const float *qw)
{
	ggml_q45_K(x, 1, b, 15, qw);
}

static void ggml_q5_K(const float *x, struct blk_q5_K *b, const float *qw)
{
	ggml_q45_K(x, 1, b, 31, qw);
}

/* The end of ggml's q6_K quantizer: the super-scale *d and the integer
 * scales sc from the 16 sub-block scales, then the codes L (biased by 32).
 * A sub-block whose scale rounds to zero keeps the codes of its fit: L holds
 * them on entry, or, with fit_in_L 0, they are rebuilt from the fit's
 * inverse scale isc[j] (zero codes where zero[j], as ggml's fit leaves a
 * sub-block of tiny values). A block of tiny scales is all zeros. */
static void q6_tail(const float *x, const float *scales, int8_t *L, int fit_in_L, const float *isc,
		    const uint8_t *zero, uint16_t *d, int8_t *sc)
{
	float max_scale = 0, max_abs_scale = 0;
	for (int j = 0; j < 16; j++) {
		const float a = fabsf(scales[j]);
		if (a > max_abs_scale) {
			max_abs_scale = a;
			max_scale = scales[j];
		}
	}
	if (max_abs_scale < GROUP_MAX_EPS) {
		memset(L, 0, QK_K);
		memset(sc, 0, 16);
		*d = to_fp16(0.0f);
		return;
	}
	const float iscale = -128.0f / max_scale;
	*d = to_fp16(1 / iscale);
	for (int j = 0; j < 16; j++) {
		int v = qnt__nearest_int(iscale * scales[j]);
		sc[j] = (int8_t)(uint8_t)(v < 127 ? v : 127);
	}
	const float d16 = from_fp16(*d);
	for (int j = 0; j < 16; j++) {
		const float dj = d16 * (float)sc[j];
		int8_t *l = L + 16 * j;
		const float *xj = x + 16 * j;
		if (dj == 0.0f) {
			if (!fit_in_L)
				for (int i = 0; i < 16; i++)
					l[i] = zero[j] ? 0
						       : (int8_t)(32 + qnt__clampi(qnt__nearest_int(isc[j] * xj[i]), -32, 31));
			continue;
		}
		for (int h = 0; h < 2; h++) { /* qnt__nearest_int lane by lane */
			qnt__v8f xv;
			memcpy(&xv, xj + 8 * h, sizeof xv);
			const qnt__v8i c = qnt__clamp_v8i(qnt__nearest_int_v8(xv / dj), -32, 31) + 32;
			const q6_v8c c8 = qnt__narrow_v8i(c);
			memcpy(l + 8 * h, &c8, sizeof c8);
		}
	}
}

/* The state of q6_tail's block (what unpacking its bytes gives). */
static void q6_tail_state(const float *x, const float *scales, const float *isc, const uint8_t *zero,
			  struct kstate *st)
{
	int8_t L[QK_K], sc[16];
	uint16_t d;
	q6_tail(x, scales, L, 0, isc, zero, &d, sc);
	st->d = from_fp16(d);
	st->dmin = 0.0f;
	for (int j = 0; j < 16; j++) {
		st->sc[j] = sc[j];
		st->m[j] = 0;
	}
	for (int e = 0; e < QK_K; e++)
		st->q[e] = (int8_t)(L[e] - 32);
}

static void ggml_q6_K(const float *x, struct blk_q6_K *b, const float *qw)
{
	int8_t L[QK_K];
	float scales[16];
	qnt__ggml_fit_sym_subs(16, 16, 32, x, L, qw, scales);
	q6_tail(x, scales, L, 1, NULL, NULL, &b->d, b->scales);
	pack_q6_codes((const uint8_t *)L, b);
}

/* q6_K with importance w: one scan gives both of ggml's fits (make_qx_quants
 * with weights x^2 for the reference block `ref`, and with w for ggml's
 * importance-aware block `imp`) and the signed scale a[j] the search starts
 * from. Candidates 0..18 are ggml's 19 in qnt__ggml_fit_sym's order
 * (inverse scales -(32 + 0.1 is) / max), candidates 19..23 map the largest
 * element to the other end of the codes, (31 + 0.1 is) / max for
 * is = -8, -4, 0, 4, 8. a[j] is the least-squares scale (x^ = a q,
 * weights w) of the candidate that fits best, after one round of codes
 * re-chosen for it and a refit.
 * The sub-blocks are the lanes of native vectors (qnt_lanes.h: QNT__VN of
 * them at a time); each lane takes the candidates one per step, sums its
 * elements in element order, and makes ggml's two choices and the search's
 * after each step (lane selects), so both of ggml's blocks are its own to
 * the bit. */
#define Q6_CANDS 24

/* The codes clamp(nearest_int(t), -32, 31) as floats: ggml's integer
 * rounding and clamp, or with AVX2 and `fast` (every t finite)
 * q6_level_v8's (the same codes), without its clamp at -32 where `low` is 0
 * (every t > -32.5, which rounds to -32 or above). */
static inline __attribute__((always_inline)) qnt__vnf q6_level_vn(qnt__vnf t, int fast, int low)
{
#if QNT__VN == 8
	if (fast && low)
		return q6_level_v8(t);
	if (fast) {
		const __m256 c = _mm256_min_ps((__m256)t, _mm256_set1_ps(31.0f));
		return (qnt__vnf)_mm256_round_ps(c, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
	}
#else
	(void)fast;
	(void)low;
#endif
	return __builtin_convertvector(qnt__clamp_vni(qnt__nearest_vni(t), -32, 31), qnt__vnf);
}

/* q6_level_v8 on native vectors: the same code for every t, NaN included
 * (NaN gives -32). */
static inline __attribute__((always_inline)) qnt__vnf q6_level_exact_vn(qnt__vnf t)
{
#if QNT__VN == 8
	return q6_level_v8(t);
#else
	const qnt__vnf lo = qnt__splat_vnf(-32.0f), hi = qnt__splat_vnf(31.0f);
	t = qnt__select_vnf(t > lo, t, lo);
	t = qnt__select_vnf(t < hi, t, hi);
	return (t + 12582912.0f) - 12582912.0f;
#endif
}

/* What q6_starts needs of each lane (sub-block) of a group. */
struct q6_lanes {
	qnt__vnf sc[2], isc[2]; /* ggml's scale and inverse scale: reference, imatrix */
	qnt__vnf fit, lx, l2;   /* the best fit (0: none) and the sums of its candidate */
	qnt__vni zero;          /* the sub-block's largest |x| is below GROUP_MAX_EPS */
};

/* q6_starts' scan of the QNT__VN sub-blocks of vector v of the transposed
 * block xt, wt (q3_transpose's layout: lane k of xt[i][v] is element i of
 * sub-block QNT__VN v + k); fast (a constant where this is inlined): every
 * x of the block is finite, so that every visc x is (|visc| <= 33 / |max|,
 * |x| <= |max|; lanes of tiny values are never read); ref (a constant):
 * ggml's reference choice too (r->sc[0], r->isc[0]; zero without it). */
static inline __attribute__((always_inline)) void q6_lanes_run(q3_vf xt[16][Q3NV], q3_vf wt[16][Q3NV],
								 int v, const int fast, const int ref,
								 struct q6_lanes *r)
{
	static const float sis[Q6_CANDS] = { 0, -9, -8, -7, -6, -5, -4, -3, -2, -1, 1, 2,
					     3, 4, 5, 6, 7, 8, 9, -8, -4, 0, 4, 8 };
	static const float mag[Q6_CANDS] = { 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32,
					     32, 32, 32, 32, 32, 32, 32, 31, 31, 31, 31, 31 };
	static const float sgn[Q6_CANDS] = { -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
					     -1, -1, -1, -1, -1, -1, -1, 1, 1, 1, 1, 1 };
	const qnt__vnf zero = qnt__splat_vnf(0.0f);
	/* ggml's weights x^2 and the products the sums take, per element as
	 * the scalar loop forms them */
	qnt__vnf x[16], w2[16], wx2[16], wq[16], wxq[16];
	qnt__vnf max = zero, amax = zero;
	for (int i = 0; i < 16; i++) {
		x[i] = xt[i][v];
		wq[i] = wt[i][v];
		w2[i] = x[i] * x[i];
		wx2[i] = w2[i] * x[i];
		wxq[i] = wq[i] * x[i];
		const qnt__vnf ax = qnt__abs_vnf(x[i]);
		const qnt__vni m = ax > amax;
		amax = qnt__select_vnf(m, ax, amax);
		max = qnt__select_vnf(m, x[i], max);
	}
	r->zero = amax < qnt__splat_vnf(GROUP_MAX_EPS);
	qnt__vnf best[2] = { zero, zero }, sc[2] = { zero, zero }, isc[2] = { zero, zero };
	qnt__vnf fitb = zero, lxb = zero, l2b = zero;
	/* sg (m + 0.1 is) / max: ggml's -(32 + 0.1 is) / max for c < 19, the
	 * same float since the sign is exact; all divided first, so that no
	 * candidate's sums wait for a division */
	qnt__vnf viscs[Q6_CANDS];
	for (int c = 0; c < Q6_CANDS; c++)
		viscs[c] = sgn[c] * (mag[c] + 0.1f * sis[c]) / max;
	for (int c = 0; c < Q6_CANDS; c++) {
		const qnt__vnf visc = viscs[c];
		qnt__vnf rlx = zero, rl2 = zero, ilx = zero, il2 = zero;
		/* visc x > -32.5 (no clamp at -32) for c < 14, where it is at
		 * least -(32 + 0.1 is) (1 + 2^-22) with is <= 4, and for c >= 19,
		 * where only x of the other sign than max gives negative values,
		 * at least -(31 + 0.1 is) (1 + 2^-22); in every lane that is read
		 * (max not tiny) visc is finite */
		if (c < 14) {
#pragma GCC unroll 16
			for (int i = 0; i < 16; i++) {
				const qnt__vnf fl = q6_level_vn(visc * x[i], fast, 0);
				if (ref) {
					rlx += wx2[i] * fl;
					rl2 += w2[i] * fl * fl;
				}
				ilx += wxq[i] * fl;
				il2 += wq[i] * fl * fl;
			}
		} else if (c < 19) {
#pragma GCC unroll 16
			for (int i = 0; i < 16; i++) {
				const qnt__vnf fl = q6_level_vn(visc * x[i], fast, 1);
				if (ref) {
					rlx += wx2[i] * fl;
					rl2 += w2[i] * fl * fl;
				}
				ilx += wxq[i] * fl;
				il2 += wq[i] * fl * fl;
			}
		} else { /* the search's candidates only: no reference sums */
#pragma GCC unroll 16
			for (int i = 0; i < 16; i++) {
				const qnt__vnf fl = q6_level_vn(visc * x[i], fast, 0);
				ilx += wxq[i] * fl;
				il2 += wq[i] * fl * fl;
			}
		}
		/* ggml's choices, in its order: the first candidate's scale
		 * lx / l2 (0 where l2 is 0); a later one replaces the best so far
		 * where l2 > 0 and lx^2 > best l2 */
		const qnt__vnf lxs[2] = { rlx, ilx }, l2s[2] = { rl2, il2 };
		if (c == 0) {
#pragma GCC unroll 2
			for (int o = !ref; o < 2; o++) {
				sc[o] = qnt__select_vnf(l2s[o] != zero, lxs[o] / l2s[o], zero);
				best[o] = sc[o] * lxs[o];
				isc[o] = visc;
			}
		} else if (c < 19) {
#pragma GCC unroll 2
			for (int o = !ref; o < 2; o++) {
				const qnt__vni take = (l2s[o] > zero) & (lxs[o] * lxs[o] > best[o] * l2s[o]);
				const qnt__vnf q = lxs[o] / l2s[o];
				sc[o] = qnt__select_vnf(take, q, sc[o]);
				best[o] = qnt__select_vnf(take, q * lxs[o], best[o]);
				isc[o] = qnt__select_vnf(take, visc, isc[o]);
			}
		}
		/* the search's fit: the first candidate with the largest positive
		 * sum lx^2 / l2 (the least residual of x ~ a q); NaN never
		 * compares greater */
		const qnt__vnf fit = qnt__select_vnf(il2 > zero, ilx * ilx / il2, zero);
		const qnt__vni take = fit > fitb;
		fitb = qnt__select_vnf(take, fit, fitb);
		lxb = qnt__select_vnf(take, ilx, lxb);
		l2b = qnt__select_vnf(take, il2, l2b);
	}
	for (int o = 0; o < 2; o++) {
		r->sc[o] = sc[o];
		r->isc[o] = isc[o];
	}
	r->fit = fitb;
	r->lx = lxb;
	r->l2 = l2b;
}

/* Whether ggml's reference block (weights x^2, no imatrix) can be left
 * out of the candidates of a block with importance: every value finite
 * and of magnitude in [2^-40, 2^40] (no zero), the largest at least amin,
 * and in each sub-block of `sub` values the largest magnitude reached
 * once. amin keeps the format's fp16 super-scale at 2^-20 or more (16
 * steps of fp16's subnormals): on rows of N(0, 1e-10) and N(0, 1e-8) q6_K
 * came out up to 12x worse with importance than without it where the
 * reference block was left out, q3_K on N(0, 1e-12) (test_kquants) 1.1-11x.
 * On Gaussian and
 * Student-t rows the reference block never came out best for q3_K and
 * q6_K (bench/compare_quant_bytes.py: the same bytes without it), but on
 * sparse and structured rows it did (q6_K: rows of 90% zeros 3-14% more
 * weighted error without it, a row of a few values on a grid 1.9e-9
 * against 5.2e-5, rows near 1e20 and 3e37 an infinite error), so blocks
 * that are not plain keep it. ggml's imatrix block stays a candidate for
 * every block. Eight values at a time (sub a multiple of 8): the scalar
 * loop was 8% of q3_K's time with importance. */
static inline __attribute__((always_inline)) int block_plain(const float *x, const int sub, float amin)
{
	const qnt__v8f lo = qnt__splat_v8f(0x1p-40f), hi = qnt__splat_v8f(0x1p40f);
	int big = 0;
	for (int s = 0; s < QK_K; s += sub) {
		qnt__v8f a[QK_K / 8], m = qnt__splat_v8f(0.0f);
		qnt__v8i odd = { 0 };
		for (int k = 0; k < sub / 8; k++) {
			memcpy(&a[k], x + s + 8 * k, sizeof a[k]);
			a[k] = qnt__abs_v8f(a[k]);
			odd |= ~((a[k] >= lo) & (a[k] <= hi));
			m = qnt__select_v8f(a[k] > m, a[k], m);
		}
		if (qnt__bits_v8i(odd))
			return 0;
		m = qnt__bext_v8f(m, 1);
		int n = 0;
		for (int k = 0; k < sub / 8; k++)
			n += __builtin_popcount(qnt__bits_v8i(qnt__eq_v8f(a[k], m)));
		if (n > 1)
			return 0;
		big |= m[0] >= amin;
	}
	return big;
}

/* Whether no value of a block lies beyond 8 times its root mean square
 * (no outlier, where ggml's reference block with its weights x^2 can win:
 * on test_quality's Student-t rows it did for blocks beyond 12 times, never
 * for those within 8; bench/compare_quant_bytes.py gave the same bytes at
 * 4, 6 and 8 times). */
static int block_tame(const float *x)
{
	qnt__v8f s8 = qnt__splat_v8f(0.0f), m8 = s8;
	for (int i = 0; i < QK_K; i += 8) {
		qnt__v8f v;
		memcpy(&v, x + i, sizeof v);
		s8 += v * v;
		v = qnt__abs_v8f(v);
		m8 = qnt__select_v8f(qnt__gt_v8f(v, m8), v, m8);
	}
	float s = 0.0f, amax = 0.0f;
	for (int k = 0; k < 8; k++) {
		s += s8[k];
		amax = m8[k] > amax ? m8[k] : amax;
	}
	return amax * amax <= 64.0f * (s / QK_K);
}

/* Whether a block's importance is spread: every sub-block of 32 has a
 * positive, finite sum of weights and no weight above half of it. Where it
 * sits on a few elements (test_kquants' "few hot": four non-zero weights
 * in 1024), ggml's importance-aware q4_K/q5_K block can be far worse than
 * its reference block (q5_K: a row 87 times the weighted error without
 * importance), so the reference block stays a candidate there. */
static int imp_spread(const float *w)
{
	for (int s = 0; s < QK_K; s += 32) {
		qnt__v8f s8 = qnt__splat_v8f(0.0f), m8 = s8;
		for (int i = 0; i < 32; i += 8) {
			qnt__v8f v;
			memcpy(&v, w + s + i, sizeof v);
			s8 += v;
			m8 = qnt__select_v8f(qnt__gt_v8f(v, m8), v, m8);
		}
		float sum = 0.0f, mx = 0.0f;
		for (int k = 0; k < 8; k++) {
			sum += s8[k];
			mx = m8[k] > mx ? m8[k] : mx;
		}
		if (!(sum > 0.0f && sum < INFINITY && mx <= 0.5f * sum))
			return 0;
	}
	return 1;
}

/* ggml's imatrix block (imp), the signed scales a[] the search starts
 * from, and the block transposed (xt, wt: q3_transpose's layout, the first
 * Q3V vectors) for the search; and ggml's reference block (ref, from the
 * weights x^2) where the block is not block_plain: returns whether it made
 * ref. Its sums were a third of the scan (bench_quant.py --types q6_K
 * --reps 5, with importance, against ggml: 2.76x and 2.75x before on
 * Gaussian and Student-t rows, 3.40x and 3.39x with it only there; without
 * the reference block at all 3.53x). */
static int q6_starts(const float *x, const float *w, struct kstate *ref, struct kstate *imp, float *a,
		     q3_vf xt[16][Q3NV], q3_vf wt[16][Q3NV])
{
	float sc_ref[16], sc_imp[16], isc_ref[16], isc_imp[16], fit[16], lx[16], l2[16], ia[16];
	uint8_t zero[16];
	/* with every x finite the codes may be taken as floats (q6_level_vn) */
	qnt__v8f zs = { 0 };
	for (int i = 0; i < QK_K; i += 8) {
		qnt__v8f xv;
		memcpy(&xv, x + i, sizeof xv);
		zs += xv * 0.0f;
	}
	const int fast = qnt__bits_v8i(qnt__eq_v8f(zs, (qnt__v8f){ 0 })) == 0xffu;
	q3_transpose(x, xt, 0);
	q3_transpose(w, wt, 0);
	const int with_ref = !block_plain(x, 16, 0x1p-8f); /* also where not fast; d is about amax / 4064 */
	for (int v = 0; v < Q3V; v++) {
		const int g = QNT__VN * v;
		struct q6_lanes r;
		if (!fast)
			q6_lanes_run(xt, wt, v, 0, 1, &r);
		else if (with_ref)
			q6_lanes_run(xt, wt, v, 1, 1, &r);
		else
			q6_lanes_run(xt, wt, v, 1, 0, &r);
		memcpy(sc_ref + g, &r.sc[0], sizeof r.sc[0]);
		memcpy(sc_imp + g, &r.sc[1], sizeof r.sc[1]);
		memcpy(isc_ref + g, &r.isc[0], sizeof r.isc[0]);
		memcpy(isc_imp + g, &r.isc[1], sizeof r.isc[1]);
		memcpy(fit + g, &r.fit, sizeof r.fit);
		memcpy(lx + g, &r.lx, sizeof r.lx);
		memcpy(l2 + g, &r.l2, sizeof r.l2);
		for (int k = 0; k < QNT__VN; k++)
			zero[g + k] = r.zero[k] != 0;
	}
	/* each sub-block's fit: the scale ba = lx / l2 of its best candidate
	 * (0 where none fits), then one refit for the codes its inverse gives,
	 * kept where it fits better. Four sub-blocks per double vector; the
	 * codes' sums with the sub-blocks as lanes, element i's terms in float
	 * lane i % 8 of its sub-block, those eight added in double in order. */
	const qnt__v4d dz = { 0, 0, 0, 0 };
	qnt__v4d ba[4];
	for (int j = 0; j < 16; j += 4) {
		qnt__v4f lx4, l24, f4;
		memcpy(&lx4, lx + j, sizeof lx4);
		memcpy(&l24, l2 + j, sizeof l24);
		memcpy(&f4, fit + j, sizeof f4);
		const qnt__v4l pos = (qnt__v4l)(kq_cvt4(f4) > dz);
		const qnt__v4d q = kq_cvt4(lx4) / kq_cvt4(l24);
		ba[j / 4] = qnt__select_v4d(pos, q, dz);
		const qnt__v4f i4 = __builtin_convertvector(1 / ba[j / 4], qnt__v4f);
		memcpy(ia + j, &i4, sizeof i4);
	}
	float ex[8][16], eq[8][16];
	for (int v = 0; v < Q3V; v++) {
		const qnt__vnf z = qnt__splat_vnf(0.0f);
		qnt__vnf iav, tx[16], tq[16];
		memcpy(&iav, ia + QNT__VN * v, sizeof iav);
		for (int i = 0; i < 16; i++) {
			const qnt__vnf fq = q6_level_exact_vn(xt[i][v] * iav);
			const qnt__vnf wf = wt[i][v] * fq;
			tx[i] = wf * xt[i][v];
			tq[i] = wf * fq;
		}
		for (int k = 0; k < 8; k++) {
			const qnt__vnf ek = (z + tx[k]) + tx[k + 8], qk = (z + tq[k]) + tq[k + 8];
			memcpy(ex[k] + QNT__VN * v, &ek, sizeof ek);
			memcpy(eq[k] + QNT__VN * v, &qk, sizeof qk);
		}
	}
	for (int j = 0; j < 16; j += 4) {
		qnt__v4d sx = dz, sq = dz;
		for (int k = 0; k < 8; k++) {
			qnt__v4f e4, q4;
			memcpy(&e4, ex[k] + j, sizeof e4);
			memcpy(&q4, eq[k] + j, sizeof q4);
			sx += kq_cvt4(e4);
			sq += kq_cvt4(q4);
		}
		qnt__v4f f4;
		memcpy(&f4, fit + j, sizeof f4);
		const qnt__v4l better = (qnt__v4l)(ba[j / 4] != dz) & (qnt__v4l)(sq > dz) &
					(qnt__v4l)(sx * sx / sq > kq_cvt4(f4));
		const qnt__v4f a4 = __builtin_convertvector(qnt__select_v4d(better, sx / sq, ba[j / 4]), qnt__v4f);
		memcpy(a + j, &a4, sizeof a4);
	}
	for (int j = 0; j < 16; j++)
		if (zero[j]) {
			sc_ref[j] = sc_imp[j] = a[j] = 0.0f;
			isc_ref[j] = isc_imp[j] = 0.0f;
		}
	if (with_ref)
		q6_tail_state(x, sc_ref, isc_ref, zero, ref);
	q6_tail_state(x, sc_imp, isc_imp, zero, imp);
	return with_ref;
}

/* q6_K's scales from the signed sub-block scales a[] under the super-scale
 * d (an fp16 value): each sub-block takes the integer scale on either side
 * of a[j] / d with the lower error (the lower one on a tie), both measured
 * as q6_codes measures them (element i's term in float lane i % 8, the
 * lanes added in double). The sub-blocks are the lanes (xt, wt as
 * q6_starts transposes them), each doing q6_codes' float operations. Sets
 * st's d, scales, sub-block errors and error, not its codes (q6_set_codes
 * makes them: the same codes). A sub-block no choice gives a number for
 * gets the scale 0 and an infinite error. */
static void q6_build_scales(q3_vf xt[16][Q3NV], q3_vf wt[16][Q3NV], const float *a, float d,
			    struct kstate *st)
{
	/* s[0]: floor(a / d) in double, clamped to -128..127 (NaN: -128; the
	 * rounding of an integer is itself), s[1] the next integer, both 0
	 * where d is; four sub-blocks per double vector */
	int s[2][16];
	for (int j = 0; j < 16; j += 4) {
		qnt__v4f a4;
		memcpy(&a4, a + j, sizeof a4);
		qnt__v4d t = kq_cvt4(a4) / (double)d;
#if defined(__AVX__)
		t = (qnt__v4d)_mm256_floor_pd((__m256d)t);
#else
		for (int k = 0; k < 4; k++)
			t[k] = floor(t[k]);
#endif
		const qnt__v4d lo = { -128, -128, -128, -128 }, hi = { 127, 127, 127, 127 };
		t = qnt__select_v4d((qnt__v4l)(t > lo), t, lo);
		t = qnt__select_v4d((qnt__v4l)(t < hi), t, hi);
		qnt__v4i s0 = __builtin_convertvector(t, qnt__v4i), s1 = qnt__clamp_v4i(s0 + 1, -128, 127);
		if (d == 0.0f)
			s0 = s1 = (qnt__v4i){ 0 };
		memcpy(s[0] + j, &s0, sizeof s0);
		memcpy(s[1] + j, &s1, sizeof s1);
	}
	/* the float lane sums of each candidate, by sub-block: element i's
	 * term in lane i % 8, 0 + t_k + t_{k+8} */
	float e8[2][8][16];
	const qnt__vnf zero = qnt__splat_vnf(0.0f), inf = qnt__splat_vnf(INFINITY);
	for (int u = 0; u < 2; u++)
		for (int v = 0; v < Q3V; v++) {
			qnt__vni sv;
			memcpy(&sv, s[u] + QNT__VN * v, sizeof sv);
			const qnt__vnf dl = d * __builtin_convertvector(sv, qnt__vnf);
			const qnt__vni ok = (dl != zero) & (qnt__abs_vnf(dl) < inf);
			const qnt__vnf id = qnt__and_vnf(ok, 1.0f / dl);
#pragma GCC unroll 8
			for (int k = 0; k < 8; k++) {
				qnt__vnf e = zero;
				for (int h = 0; h < 2; h++) {
					const int i = k + 8 * h;
					const qnt__vnf fc = qnt__and_vnf(ok, q6_level_exact_vn(xt[i][v] * id));
					const qnt__vnf r = xt[i][v] - dl * fc;
					e += wt[i][v] * r * r;
				}
				memcpy(e8[u][k] + QNT__VN * v, &e, sizeof e);
			}
		}
	double err[2][16];
	for (int u = 0; u < 2; u++)
		for (int j = 0; j < 16; j += 4) {
			qnt__v4d ed[8];
			for (int k = 0; k < 8; k++) {
				qnt__v4f e4;
				memcpy(&e4, e8[u][k] + j, sizeof e4);
				ed[k] = kq_cvt4(e4);
			}
			const qnt__v4d sum = ((ed[0] + ed[1]) + (ed[2] + ed[3])) + ((ed[4] + ed[5]) + (ed[6] + ed[7]));
			memcpy(err[u] + j, &sum, sizeof sum);
		}
	st->d = d;
	st->dmin = 0.0f;
	st->err = 0;
	for (int j = 0; j < 16; j++) {
		const int k = s[1][j] != s[0][j] && err[1][j] < err[0][j];
		st->m[j] = 0;
		if (!(err[k][j] < INFINITY)) {
			st->sc[j] = 0;
			st->serr[j] = INFINITY;
		} else {
			st->sc[j] = s[k][j];
			st->serr[j] = err[k][j];
		}
	}
	for (int j = 0; j < 16; j++)
		st->err += st->serr[j];
}

/* The codes of q6_build_scales' state: those its errors were measured for
 * (0 for a scale of 0). */
static void q6_set_codes(const float *x, struct kstate *st)
{
	for (int j = 0; j < 16; j++) {
		const float dl = st->d * (float)st->sc[j];
		const int ok = dl != 0.0f && fabsf(dl) < INFINITY;
		const float id = ok ? 1.0f / dl : 0.0f;
		for (int h = 0; h < 2; h++) {
			qnt__v8f xv;
			memcpy(&xv, x + 16 * j + 8 * h, sizeof xv);
			const qnt__v8f fc = ok ? q6_level_v8(xv * id) : (qnt__v8f){ 0 };
			const q6_v8c c8 = qnt__narrow_v8i(__builtin_convertvector(fc, qnt__v8i));
			memcpy(st->q + 16 * j + 8 * h, &c8, sizeof c8);
		}
	}
}

static float fp16_val(double v)
{
	return from_fp16(to_fp16((float)v));
}

/* Candidates from the per-sub-block signed scales a[] (q6_K), with the
 * super-scale mapping the largest of them to either end of the integer
 * scales; best changes (codes included) only for a lower error. */
static void search_from_fits(const float *x, q3_vf xt[16][Q3NV], q3_vf wt[16][Q3NV], const float *a,
			     struct kstate *best)
{
	struct kstate st;
	float amax = 0, aref = 0;
	int found = 0;
	for (int j = 0; j < 16; j++)
		if (fabsf(a[j]) > amax) {
			amax = fabsf(a[j]);
			aref = a[j];
		}
	if (!(amax > 0))
		return;
	const int ends[2] = { -128, 127 };
	for (int e = 0; e < 2; e++) {
		q6_build_scales(xt, wt, a, fp16_val(aref / ends[e]), &st);
		if (st.err < best->err) {
			best->d = st.d;
			best->dmin = st.dmin;
			memcpy(best->sc, st.sc, sizeof st.sc);
			memcpy(best->m, st.m, sizeof st.m);
			memcpy(best->serr, st.serr, sizeof st.serr);
			best->err = st.err;
			found = 1;
		}
	}
	if (found)
		q6_set_codes(x, best);
}

static void ggml_q8_K(const float *x, struct blk_q8_K *b)
{
	float max = 0, amax = 0;
	for (int j = 0; j < QK_K; j++) {
		float ax = fabsf(x[j]);
		if (ax > amax) {
			amax = ax;
			max = x[j];
		}
	}
	if (amax == 0.0f) {
		/* ggml leaves bsums as they were here; libqnt writes zeros */
		memset(b, 0, sizeof *b);
		return;
	}
	const float iscale = -127.0f / max;
	for (int j = 0; j < QK_K; j++) {
		int v = qnt__nearest_int(iscale * x[j]);
		b->qs[j] = (int8_t)(uint8_t)(v < 127 ? v : 127);
	}
	for (int j = 0; j < QK_K / 16; j++) {
		int sum = 0;
		for (int i = 0; i < 16; i++)
			sum += b->qs[16 * j + i];
		b->bsums[j] = (int16_t)sum;
	}
	b->d = 1 / iscale;
}

/* ------------------------------------------------------------------ */
/* Block <-> state                                                      */
/* ------------------------------------------------------------------ */

static void unpack_state(const struct kfmt *f, const void *blk, struct kstate *st)
{
	uint8_t L[QK_K];
	if (f == &F_Q2) {
		const struct blk_q2_K *b = blk;
		st->d = from_fp16(b->d);
		st->dmin = from_fp16(b->dmin);
		for (int j = 0; j < 16; j++) {
			st->sc[j] = b->scales[j] & 0x0f;
			st->m[j] = b->scales[j] >> 4;
		}
		unpack_2bit(b->qs, L);
		for (int e = 0; e < QK_K; e++)
			st->q[e] = (int8_t)L[e];
	} else if (f == &F_Q3) {
		const struct blk_q3_K *b = blk;
		st->d = from_fp16(b->d);
		st->dmin = 0.0f;
		for (int j = 0; j < 16; j++) {
			st->sc[j] = scale_q3(b->scales, j);
			st->m[j] = 0;
		}
		uint8_t hm[32];
		memcpy(hm, b->hmask, sizeof hm);
		unpack_2bit(b->qs, L);
		for (int g = 0; g < QK_K / 32; g++)
			for (int l = 0; l < 32; l++)
				L[32 * g + l] = (uint8_t)(L[32 * g + l] + 4 * ((hm[l] >> g) & 1));
		for (int e = 0; e < QK_K; e++)
			st->q[e] = (int8_t)(L[e] - 4);
	} else if (f == &F_Q4 || f == &F_Q5) {
		const struct blk_q4_K *b4 = blk;
		const struct blk_q5_K *b5 = blk;
		const uint8_t *s = f == &F_Q4 ? b4->scales : b5->scales;
		st->d = from_fp16(f == &F_Q4 ? b4->d : b5->d);
		st->dmin = from_fp16(f == &F_Q4 ? b4->dmin : b5->dmin);
		for (int j = 0; j < 8; j++) {
			uint8_t sc, m;
			scale_min_6bit(j, s, &sc, &m);
			st->sc[j] = sc;
			st->m[j] = m;
		}
		unpack_4bit(f == &F_Q4 ? b4->qs : b5->qs, L);
		if (f == &F_Q5) /* bit 4 of element 32*g + l is bit g of qh[l] */
			for (int g = 0; g < QK_K / 32; g++)
				for (int l = 0; l < 32; l++)
					L[32 * g + l] = (uint8_t)(L[32 * g + l] | (((b5->qh[l] >> g) & 1) << 4));
		for (int e = 0; e < QK_K; e++)
			st->q[e] = (int8_t)L[e];
	} else {
		const struct blk_q6_K *b = blk;
		st->d = from_fp16(b->d);
		st->dmin = 0.0f;
		for (int j = 0; j < 16; j++) {
			st->sc[j] = b->scales[j];
			st->m[j] = 0;
		}
		unpack_q6_codes(b, L);
		for (int e = 0; e < QK_K; e++)
			st->q[e] = (int8_t)((int)L[e] - 32);
	}
}

/* The state's d and dmin are fp16 values; the integers are in range. */
static void pack_state(const struct kfmt *f, const struct kstate *st, void *blk)
{
	uint8_t L[QK_K];
	for (int e = 0; e < QK_K; e++)
		L[e] = (uint8_t)(st->q[e] - f->qlo);
	if (f == &F_Q2) {
		struct blk_q2_K *b = blk;
		b->d = to_fp16(st->d);
		b->dmin = to_fp16(st->dmin);
		for (int j = 0; j < 16; j++)
			b->scales[j] = (uint8_t)(st->sc[j] | (st->m[j] << 4));
		pack_2bit(L, b->qs);
	} else if (f == &F_Q3) {
		struct blk_q3_K *b = blk;
		uint8_t l6[16];
		b->d = to_fp16(st->d);
		for (int j = 0; j < 16; j++)
			l6[j] = (uint8_t)(st->sc[j] + 32);
		pack_scales_q3(l6, b->scales);
		pack_q3_codes(L, b);
	} else if (f == &F_Q4 || f == &F_Q5) {
		uint8_t ls[8], lm[8];
		for (int j = 0; j < 8; j++) {
			ls[j] = (uint8_t)st->sc[j];
			lm[j] = (uint8_t)st->m[j];
		}
		if (f == &F_Q4) {
			struct blk_q4_K *b = blk;
			b->d = to_fp16(st->d);
			b->dmin = to_fp16(st->dmin);
			pack_scale_min_6bit(ls, lm, b->scales);
			pack_4bit(L, b->qs);
		} else {
			struct blk_q5_K *b = blk;
			b->d = to_fp16(st->d);
			b->dmin = to_fp16(st->dmin);
			pack_scale_min_6bit(ls, lm, b->scales);
			pack_q5_codes(L, b);
		}
	} else {
		struct blk_q6_K *b = blk;
		b->d = to_fp16(st->d);
		for (int j = 0; j < 16; j++)
			b->scales[j] = (int8_t)st->sc[j];
		pack_q6_codes(L, b);
	}
}

/* ------------------------------------------------------------------ */
/* Dequantizers (ggml's float operations)                               */
/* ------------------------------------------------------------------ */

static void deq_generic(const struct kfmt *f, const void *src, size_t bytes, float *y, int64_t n)
{
	struct kstate st;
	for (int64_t i = 0; i < n / QK_K; i++) {
		unpack_state(f, (const char *)src + (size_t)i * bytes, &st);
		state_values(f, &st, y + i * QK_K);
	}
}

static void deq_q2_K(const void *src, float *y, int64_t n)
{
	deq_generic(&F_Q2, src, sizeof(struct blk_q2_K), y, n);
}

static void deq_q3_K(const void *src, float *y, int64_t n)
{
	deq_generic(&F_Q3, src, sizeof(struct blk_q3_K), y, n);
}

static void deq_q4_K(const void *src, float *y, int64_t n)
{
	deq_generic(&F_Q4, src, sizeof(struct blk_q4_K), y, n);
}

static void deq_q5_K(const void *src, float *y, int64_t n)
{
	deq_generic(&F_Q5, src, sizeof(struct blk_q5_K), y, n);
}

static void deq_q6_K(const void *src, float *y, int64_t n)
{
	deq_generic(&F_Q6, src, sizeof(struct blk_q6_K), y, n);
}

static void deq_q8_K(const void *src, float *y, int64_t n)
{
	const struct blk_q8_K *b = src;
	for (int64_t i = 0; i < n / QK_K; i++, b++, y += QK_K)
		for (int j = 0; j < QK_K; j++)
			y[j] = b->d * (float)b->qs[j];
}

/* ------------------------------------------------------------------ */
/* Importance-weighted super-blocks and row drivers                     */
/* ------------------------------------------------------------------ */

typedef void (*kblock_fn)(const float *x, void *blk, const float *qw);

/* q6_K's weighted_block: the same choices, on states (a state's values are
 * those of its bytes: d is an fp16 value, the integers are in range), with
 * both of ggml's blocks and the fits from one scan, and only the chosen
 * block packed. */
static void weighted_block_q6(const struct kfmt *f, const float *x, const float *w, void *blk)
{
	struct kstate ref, imp, best;
	float a[16];
	q3_vf xt[16][Q3NV], wt[16][Q3NV];
	struct kxw xw;
	block_doubles(x, w, &xw);
	const int with_ref = q6_starts(x, w, &ref, &imp, a, xt, wt);
	if (with_ref) {
		state_error(f, &xw, &ref);
		if (!(ref.err < INFINITY))
			ref.err = INFINITY;
	}
	state_error(f, &xw, &imp);
	const struct kstate *start = with_ref && !(imp.err < ref.err) ? &ref : &imp;
	best.err = INFINITY;
	search_from_fits(x, xt, wt, a, &best);
	if (!(best.err < start->err))
		best = *start;
	if (best.err < INFINITY)
		refine(f, x, w, &best);
	/* the search's state replaces the start only if its exact error is lower */
	if (best.err < start->err) {
		state_error(f, &xw, &best);
		if (best.err < start->err)
			start = &best;
	}
	pack_state(f, start, blk);
}

static void weighted_from_ref(const struct kfmt *f, kblock_fn ggml_block, size_t bytes, const float *x,
			      const float *w, void *blk);

static void weighted_block(const struct kfmt *f, kblock_fn ggml_block, size_t bytes, const float *x, const float *w,
			   void *blk)
{
	if (f->fits) {
		weighted_block_q6(f, x, w, blk);
		return;
	}
	ggml_block(x, blk, NULL);
	weighted_from_ref(f, ggml_block, bytes, x, w, blk);
}

/* weighted_block once blk holds ggml's reference block and alt its
 * importance-aware block; or (ref 0) from alt alone, blk then holding no
 * block yet (block_plain blocks). */
static void weighted_from_blocks(const struct kfmt *f, size_t bytes, const float *x, const float *w, void *blk,
				 const void *alt, int ref)
{
	struct kstate best, cand;
	struct kxw xw;

	block_doubles(x, w, &xw);
	/* ggml's reference block (already the output) and its importance-aware
	 * block, measured with their exact values; a non-finite error (scales
	 * that overflow fp16) counts as infinite */
	best.err = INFINITY;
	if (ref) {
		unpack_state(f, blk, &best);
		state_error(f, &xw, &best);
		if (!(best.err < INFINITY))
			best.err = INFINITY;
	}
	unpack_state(f, alt, &cand);
	state_error(f, &xw, &cand);
	const int from_alt = !ref || cand.err < best.err;
	if (from_alt)
		best = cand;
	const double start_err = best.err;

	if (best.err < INFINITY)
		refine(f, x, w, &best);

	/* the search's block replaces the start only if its exact error is
	 * lower: state_error's, for the state's values are its bytes' (d and
	 * dmin are fp16 values, the integers are in range). Each sub-block's
	 * error is state_error's double for its codes already (from
	 * state_error, or from sub_codes_n, which forms the same values y and
	 * the same partial sums), so the exact error is their sum in
	 * state_error's order; the search kept it by differences. */
	if (best.err < start_err) {
		best.err = 0;
		for (int j = 0; j < f->nsub; j++)
			best.err += best.serr[j];
		if (best.err < start_err) {
			pack_state(f, &best, blk);
			return;
		}
	}
	if (from_alt)
		memcpy(blk, alt, bytes);
}

/* weighted_block once blk holds ggml's reference block. */
static void weighted_from_ref(const struct kfmt *f, kblock_fn ggml_block, size_t bytes, const float *x,
			      const float *w, void *blk)
{
	unsigned char alt[MAX_BLK_BYTES];
	ggml_block(x, alt, w);
	weighted_from_blocks(f, bytes, x, w, blk, alt, 1);
}

static int all_zero(const float *w, int n)
{
	for (int j = 0; j < n; j++)
		if (w[j] != 0.0f)
			return 0;
	return 1;
}

static void quant_rows(const struct kfmt *f, kblock_fn ggml_block, size_t bytes, const float *src, void *dst,
		       int64_t nrows, int64_t n, const float *imp)
{
	unsigned char *out = dst;
	for (int64_t r = 0; r < nrows; r++) {
		const float *x = src + r * n;
		for (int64_t i = 0; i < n / QK_K; i++, out += bytes) {
			if (imp && !all_zero(imp + i * QK_K, QK_K))
				weighted_block(f, ggml_block, bytes, x + i * QK_K, imp + i * QK_K, out);
			else
				ggml_block(x + i * QK_K, out, NULL);
		}
	}
}

static void blk_q2(const float *x, void *b, const float *qw)
{
	ggml_q2_K(x, b, qw);
}
static void blk_q3(const float *x, void *b, const float *qw)
{
	ggml_q3_K(x, b, qw);
}
static void blk_q4(const float *x, void *b, const float *qw)
{
	ggml_q4_K(x, b, qw);
}
static void blk_q5(const float *x, void *b, const float *qw)
{
	ggml_q5_K(x, b, qw);
}
static void blk_q6(const float *x, void *b, const float *qw)
{
	ggml_q6_K(x, b, qw);
}

static void quant_q2_K(const float *src, void *dst, int64_t nrows, int64_t n, const float *imp)
{
	quant_rows(&F_Q2, blk_q2, sizeof(struct blk_q2_K), src, dst, nrows, n, imp);
}
static void quant_q3_K(const float *src, void *dst, int64_t nrows, int64_t n, const float *imp)
{
	/* ggml's reference blocks, two at a time where a row has two left;
	 * with importance their importance-aware blocks likewise (where both
	 * have importance), each pair the start of weighted_from_blocks */
	struct blk_q3_K *out = dst;
	const size_t bytes = sizeof(struct blk_q3_K);
	for (int64_t r = 0; r < nrows; r++) {
		const float *x = src + r * n;
		const int64_t nb = n / QK_K;
		for (int64_t i = 0; i < nb; i += 2) {
			const int m = i + 2 <= nb ? 2 : 1;
			const int hot0 = imp && !all_zero(imp + i * QK_K, QK_K);
			const int hot1 = imp && m == 2 && !all_zero(imp + (i + 1) * QK_K, QK_K);
			/* with importance and two plain, tame blocks, ggml's
			 * reference blocks are left out (block_plain; on Student-t
			 * rows without block_tame test_quality's q3_K rmse_imp
			 * read 2.3e-3 worse, with a bound of 12 RMS 3.6e-5).
			 * bench_quant.py --types q3_K --reps 5, with importance
			 * against ggml: Gaussian rows 2.89-2.91x -> 3.74x (4.11x
			 * leaving it out of every plain block), Student-t rows
			 * 2.93-2.96x with block_tame's bound at 4 RMS, 3.55x at
			 * 8. */
			/* d is about amax / 128 */
			const int ref = !(hot0 && hot1 && block_plain(x + i * QK_K, 16, 0x1p-13f) &&
					  block_plain(x + (i + 1) * QK_K, 16, 0x1p-13f) && block_tame(x + i * QK_K) &&
					  block_tame(x + (i + 1) * QK_K));
			if (ref) {
				if (m == 2)
					ggml_q3_K_pair(x + i * QK_K, out + i);
				else
					ggml_q3_K(x + i * QK_K, out + i, NULL);
			}
			if (!imp)
				continue;
			if (hot0 && hot1) {
				struct blk_q3_K alt[2];
				ggml_q3_K_imp(x + i * QK_K, 2, alt, imp + i * QK_K);
				for (int k = 0; k < 2; k++)
					weighted_from_blocks(&F_Q3, bytes, x + (i + k) * QK_K, imp + (i + k) * QK_K,
							     out + i + k, alt + k, ref);
				continue;
			}
			for (int k = 0; k < m; k++)
				if (k ? hot1 : hot0)
					weighted_from_ref(&F_Q3, blk_q3, bytes, x + (i + k) * QK_K, imp + (i + k) * QK_K,
							  out + i + k);
		}
		out += nb;
	}
}
/* q4_K and q5_K: ggml's reference blocks two at a time where a row has two
 * left, and with importance their importance-aware blocks likewise (where
 * both have importance), each pair the start of weighted_from_blocks.
 * With importance, a pair of plain, tame blocks (block_plain: d is about
 * amax / 472, so amax >= 2^-11 keeps it at 2^-20 or more) whose importance
 * is spread (imp_spread) leaves the reference blocks out: there they came
 * out best for a few blocks only (test_quality's rows: rmse_imp 2e-5 to
 * 4e-4 higher, relative, without them), and their scan was a fifth of the
 * instructions. The third round of refinement (kfmt's rounds) that this
 * pays for makes up for it and more: test_quality's q4_K and q5_K rmse_imp
 * 0.08-0.16% lower than with the reference blocks and two rounds, for
 * about the same instructions (bench/quant_instructions.py, 16 x 4096
 * rows: q4_K 22.6 -> 20.1 million on Gaussian rows, 22.8 -> 21.8 on
 * Student-t rows; q5_K 21.8 -> 20.5 and 22.1 -> 22.3). On rows with such blocks,
 * importance stayed no worse than none for every row tried (test_kquants;
 * 64-row sets of Gaussian, Student-t, Laplace with offsets and positive
 * data under log-normal, squared-normal and uniform importance: the worst
 * row 0.991 of the error without importance). */
static void quant_q45_K(const struct kfmt *f, kblock_fn ggml_block, size_t bytes, int nmax, const float *src,
			void *dst, int64_t nrows, int64_t n, const float *imp)
{
	unsigned char *out = dst;
	const int64_t nb = n / QK_K;
	for (int64_t r = 0; r < nrows; r++) {
		const float *x = src + r * n;
		for (int64_t i = 0; i < nb; i += 2) {
			const int m = i + 2 <= nb ? 2 : 1;
			unsigned char *o = out + (size_t)i * bytes;
			const int hot0 = imp && !all_zero(imp + i * QK_K, QK_K);
			const int hot1 = imp && m == 2 && !all_zero(imp + (i + 1) * QK_K, QK_K);
			const int ref = !(hot0 && hot1 && block_plain(x + i * QK_K, 32, 0x1p-11f) &&
					  block_plain(x + (i + 1) * QK_K, 32, 0x1p-11f) && block_tame(x + i * QK_K) &&
					  block_tame(x + (i + 1) * QK_K) && imp_spread(imp + i * QK_K) &&
					  imp_spread(imp + (i + 1) * QK_K));
			if (ref)
				ggml_q45_K(x + i * QK_K, m, o, nmax, NULL);
			if (!imp)
				continue;
			if (hot0 && hot1) {
				unsigned char alt[2 * MAX_BLK_BYTES];
				ggml_q45_K(x + i * QK_K, 2, alt, nmax, imp + i * QK_K);
				for (int k = 0; k < 2; k++)
					weighted_from_blocks(f, bytes, x + (i + k) * QK_K, imp + (i + k) * QK_K,
							     o + k * bytes, alt + k * bytes, ref);
				continue;
			}
			for (int k = 0; k < m; k++)
				if (k ? hot1 : hot0)
					weighted_from_ref(f, ggml_block, bytes, x + (i + k) * QK_K, imp + (i + k) * QK_K,
							  o + k * bytes);
		}
		out += (size_t)nb * bytes;
	}
}
static void quant_q4_K(const float *src, void *dst, int64_t nrows, int64_t n, const float *imp)
{
	quant_q45_K(&F_Q4, blk_q4, sizeof(struct blk_q4_K), 15, src, dst, nrows, n, imp);
}
static void quant_q5_K(const float *src, void *dst, int64_t nrows, int64_t n, const float *imp)
{
	quant_q45_K(&F_Q5, blk_q5, sizeof(struct blk_q5_K), 31, src, dst, nrows, n, imp);
}
static void quant_q6_K(const float *src, void *dst, int64_t nrows, int64_t n, const float *imp)
{
	quant_rows(&F_Q6, blk_q6, sizeof(struct blk_q6_K), src, dst, nrows, n, imp);
}

/* q8_K is the activation companion of the k-quants: importance does not
 * apply. */
static void quant_q8_K(const float *src, void *dst, int64_t nrows, int64_t n, const float *imp)
{
	struct blk_q8_K *b = dst;
	(void)imp;
	for (int64_t i = 0; i < nrows * (n / QK_K); i++)
		ggml_q8_K(src + i * QK_K, b + i);
}

#define KQ_FLAGS (QNT_TYPE_FLAG_QUANTIZED | QNT_TYPE_FLAG_IMPORTANCE)

const struct qnt__type_traits qnt__traits_kquants[] = {
	{ QNT_TYPE_Q2_K, "q2_K", "2-bit codes, 4-bit scales and mins per 16, fp16 super-scales per 256", QK_K,
	  sizeof(struct blk_q2_K), KQ_FLAGS, quant_q2_K, deq_q2_K },
	{ QNT_TYPE_Q3_K, "q3_K", "3-bit codes, 6-bit scales per 16, fp16 super-scale per 256", QK_K,
	  sizeof(struct blk_q3_K), KQ_FLAGS, quant_q3_K, deq_q3_K },
	{ QNT_TYPE_Q4_K, "q4_K", "4-bit codes, 6-bit scales and mins per 32, fp16 super-scales per 256", QK_K,
	  sizeof(struct blk_q4_K), KQ_FLAGS, quant_q4_K, deq_q4_K },
	{ QNT_TYPE_Q5_K, "q5_K", "5-bit codes, 6-bit scales and mins per 32, fp16 super-scales per 256", QK_K,
	  sizeof(struct blk_q5_K), KQ_FLAGS, quant_q5_K, deq_q5_K },
	{ QNT_TYPE_Q6_K, "q6_K", "6-bit codes, 8-bit scales per 16, fp16 super-scale per 256", QK_K,
	  sizeof(struct blk_q6_K), KQ_FLAGS, quant_q6_K, deq_q6_K },
	{ QNT_TYPE_Q8_K, "q8_K", "8-bit codes, fp32 scale and sums of 16 per 256 (activations)", QK_K,
	  sizeof(struct blk_q8_K), QNT_TYPE_FLAG_QUANTIZED | QNT_TYPE_FLAG_ACTIVATION, quant_q8_K, deq_q8_K },
};
const size_t qnt__traits_kquants_count = sizeof qnt__traits_kquants / sizeof qnt__traits_kquants[0];
