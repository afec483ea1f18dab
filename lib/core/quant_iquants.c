/* SPDX-License-Identifier: MIT */
/*
 * Scalar reference for ggml's i-quants: iq4_nl, iq4_xs (non-linear 4-bit
 * values), iq3_xxs, iq3_s (4-element lattice points), iq2_xxs, iq2_xs, iq2_s
 * (8-element lattice points) and iq1_s, iq1_m (8-element ternary points).
 *
 * Layouts, grids and the float operations of the dequantizers follow ggml
 * (ggml-common.h, ggml-quants.c), written anew here; the grids are kept as
 * level codes in iquants_tables.c. Dequantization gives the same floats as
 * ggml's dequantize_row_iq* from the same bytes. This file is built with
 * -ffp-contract=off, like the rest of the library.
 *
 * Quantizers. ggml's i-quant quantizers are importance-driven searches. For
 * each format this file has a re-implementation of ggml's search that gives
 * ggml's bytes (same operations in the same order, the same neighbour lists,
 * the same quirks), and a search of its own that minimises the exact
 * weighted error
 *     sum_j w_j (x_j - x^_j)^2
 * of the dequantized values. The blocks:
 *   - without importance, formats that ggml quantizes without an imatrix
 *     (iq4_nl, iq4_xs, iq3_xxs, iq3_s, iq2_s, iq1_m) get ggml's bytes: those
 *     of ggml_quantize_chunk() with no imatrix (for iq4_nl that is ggml's
 *     quantize_iq4_nl, a 15-scale search, not quantize_row_iq4_nl_ref). The
 *     formats for which ggml demands an imatrix (iq2_xxs, iq2_xs, iq1_s) are
 *     quantized as with importance, with uniform weights;
 *   - with importance w, iq4_nl and iq4_xs start from ggml's block for
 *     the imatrix w (and the one without it where that can win: blocks
 *     with the smallest scales, iq4_xs's of one magnitude) and improve it
 *     (exact piecewise-quadratic scale profiles); a block replaces the start
 *     only if its exact error, measured on its dequantized bytes, is lower,
 *     so the result is never worse than ggml's imatrix path. The lattice
 *     and 1-bit formats start from their own scales (a few trial scales
 *     per sub-block, the super-scale fitted to the sub-blocks'
 *     least-squares scales) and search per sub-block the
 *     scale code and the codes (the points listed around the nearest levels,
 *     signs with the parity rule), then the super-scale. Running ggml's
 *     imatrix search as the start cost more than the 3x over ggml that the
 *     search aims at; measured on Gaussian and Student-t rows the result is
 *     2-20% below ggml's imatrix path in weighted RMSE (bench_quant.py,
 *     tests/interop/test_ggml_iquants.py checks it per row), but that is not
 *     a bound by construction; on blocks whose values all lie below 2^-12
 *     the no-importance block is a candidate too (iq_tiny). A block whose
 *     importance is all zero gets the no-importance bytes.
 *
 * Nothing here has mutable global state except the derived search tables
 * (lattice neighbour lists), built once under uv_once; rows are independent.
 */
#include "qnt_blocks.h"
#include "qnt_fp.h"
#include "qnt_internal.h"
#include "formats.h"
#include "iquants_tables.h"
#include "qnt_lanes.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#define MAX_BLK_BYTES 136

/* Tuning of the own search of the lattice formats (measured on Gaussian and
 * Student-t data against speed): per group the first IQ_LIST_CAP candidates
 * of the point's list (nearest first); per sub-block the scale codes around
 * the least-squares scale of the current codes and the current one
 * +-IQ_SCALE_STEP; IQ_DSCAN super-scale trials that give the largest
 * sub-block scale the top code and the codes below it. How many trial
 * scales the start takes and how many rounds follow is per format (struct
 * lfmt, struct l1fmt). */
#define IQ_LIST_CAP 24
#define IQ_SCALE_STEP 0
#define IQ_DSCAN 1
/* iq4_xs: super-scale trials per sign (the largest sub-block scale at
 * 31, 30.5, ... or -32, -31.5, ...). */
#define IQ4XS_NTRY 4
/* iq4_nl: of the fp16 scales around the minima of the profiles, how many
 * (the best by the profiles) are measured exactly. */
#define IQ4NL_EXACT 2

/* The 16 values of iq4_nl and iq4_xs (ggml's kvalues_iq4nl). */
static const int8_t kv4[16] = { -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113 };

/* ------------------------------------------------------------------ */
/* Scalar helpers with ggml's exact semantics                           */
/* ------------------------------------------------------------------ */

#define GROUP_MAX_EPS 1e-15f
#define GROUP_MAX_EPS_IQ3_XXS 1e-8f
#define GROUP_MAX_EPS_IQ2_S 1e-8f
#define GROUP_MAX_EPS_IQ1_M 1e-7f
#define GROUP_MAX_EPS_IQ1_S 1e-12f
#define IQ1_DELTA 0.125f

/* Round to nearest, ties to even (ggml's nearest_int), for any input. */
static inline int nearest_int(float f)
{
	float v = f + 12582912.0f;
	return (int)(qnt__f32_bits(v) & 0x007fffffu) - 0x00400000;
}

/* fp32 -> fp16 as ggml's portable conversion: NaN becomes 0x7e00. */
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

static inline int mini(int a, int b)
{
	return a < b ? a : b;
}
static inline int maxi(int a, int b)
{
	return a > b ? a : b;
}
static inline int clampi(int v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}
static inline float maxf(float a, float b)
{
	return a > b ? a : b; /* ggml's MAX(a, b) */
}

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}
static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}
static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline void wr32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* The sign bits of ggml's ksigns_iq2xs: 7 stored bits, the 8th makes the
 * number of negative elements even. */
static inline unsigned ksign(unsigned s7)
{
	s7 &= 127;
	unsigned p = s7 ^ (s7 >> 4);
	p ^= p >> 2;
	p ^= p >> 1;
	return s7 | ((p & 1u) << 7);
}

/* The 16 values of iq4_nl/iq4_xs as floats, and negated in ascending order. */
static const float kv4f[16] = { -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113 };
static const float kv4n[16] = { -113, -89, -69, -53, -38, -25, -13, -1, 10, 22, 35, 49, 65, 83, 104, 127 };

/* kv4f[i] lane by lane, i the index ggml's best_index_int8 picks for v: with
 * ml the last index whose value is <= v, (v - v[ml]) < (v[ml+1] - v) in
 * float picks ml, otherwise ml + 1; values out of range saturate and NaN
 * gives the last index. Near each midpoint of two values the differences it
 * compares are exact in float (checked against best_index_int8 over all
 * floats at a stride of 7 and densely around each midpoint), so i is the
 * number of midpoints m_k <= v; the value is kv4[0] plus the steps of those
 * midpoints, an integer converted exactly.
 * With AVX2 the count is read from a table: the midpoints are multiples of
 * 1/2, so m_k <= v exactly when 2 m_k <= floor(2 v) (2 v is exact, or
 * overflows to an infinity of the right sign), and kv4_half[h + 232] is the
 * value for floor(2 v) = h, h clamped to -232..202 (every midpoint above
 * -232 / 2, none above 202 / 2 = 101, the largest). The clamp takes the
 * minimum first with the float as minps's first operand, which returns its
 * second, 202, for a NaN: the last value. The same values as the compare
 * chain for every float (checked over all 2^32 bit patterns). */
#if defined(__AVX2__)
static const float kv4_half[435] = {
	-127, -104, -104, -104, -104, -104, -104, -104, -104, -104, -104, -104, -104, -104, -104, -104, -104, -104, -104, -104, -104, -104, -104, -104,
	-104, -104, -104, -104, -104, -104, -104, -104, -104, -104, -104, -104, -104, -104, -104, -104, -104, -104, -104, -104, -104, -83, -83, -83,
	-83, -83, -83, -83, -83, -83, -83, -83, -83, -83, -83, -83, -83, -83, -83, -83, -83, -83, -83, -83, -83, -83, -83, -83,
	-83, -83, -83, -83, -83, -83, -83, -83, -83, -83, -83, -83, -65, -65, -65, -65, -65, -65, -65, -65, -65, -65, -65, -65,
	-65, -65, -65, -65, -65, -65, -65, -65, -65, -65, -65, -65, -65, -65, -65, -65, -65, -65, -65, -65, -65, -65, -49, -49,
	-49, -49, -49, -49, -49, -49, -49, -49, -49, -49, -49, -49, -49, -49, -49, -49, -49, -49, -49, -49, -49, -49, -49, -49,
	-49, -49, -49, -49, -35, -35, -35, -35, -35, -35, -35, -35, -35, -35, -35, -35, -35, -35, -35, -35, -35, -35, -35, -35,
	-35, -35, -35, -35, -35, -35, -35, -22, -22, -22, -22, -22, -22, -22, -22, -22, -22, -22, -22, -22, -22, -22, -22, -22,
	-22, -22, -22, -22, -22, -22, -22, -22, -10, -10, -10, -10, -10, -10, -10, -10, -10, -10, -10, -10, -10, -10, -10, -10,
	-10, -10, -10, -10, -10, -10, -10, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13,
	13, 13, 13, 13, 13, 13, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25, 25,
	25, 25, 25, 25, 25, 25, 25, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38,
	38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 38, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53,
	53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 53, 69, 69, 69, 69, 69, 69,
	69, 69, 69, 69, 69, 69, 69, 69, 69, 69, 69, 69, 69, 69, 69, 69, 69, 69, 69, 69, 69, 69, 69, 69,
	69, 69, 69, 69, 69, 69, 89, 89, 89, 89, 89, 89, 89, 89, 89, 89, 89, 89, 89, 89, 89, 89, 89, 89,
	89, 89, 89, 89, 89, 89, 89, 89, 89, 89, 89, 89, 89, 89, 89, 89, 89, 89, 89, 89, 89, 89, 89, 89,
	89, 89, 113,
};
#endif

static inline qnt__v8f iq4_value_v8(qnt__v8f v)
{
#if defined(__AVX2__)
	const __m256 h = _mm256_round_ps((__m256)(v * 2.0f), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
	const __m256 c = _mm256_max_ps(_mm256_min_ps(h, _mm256_set1_ps(202.0f)), _mm256_set1_ps(-232.0f));
	const __m256i i = _mm256_add_epi32(_mm256_cvtps_epi32(c), _mm256_set1_epi32(232));
	return (qnt__v8f)_mm256_i32gather_ps(kv4_half, i, 4);
#else
	static const float mid[15] = { -115.5f, -93.5f, -74, -57, -42, -28.5f, -16, -4.5f, 7, 19, 31.5f, 45.5f, 61, 79, 101 };
	static const int32_t step[15] = { 23, 21, 18, 16, 14, 13, 12, 11, 12, 12, 13, 15, 16, 20, 24 };
	qnt__v8i q = { -127, -127, -127, -127, -127, -127, -127, -127 };
	for (int k = 0; k < 15; k++)
		q += qnt__ge_v8f_s(v, mid[k]) & step[k];
	const qnt__v8i num = qnt__eq_v8f(v, v);
	q = (q & num) | (~num & 113);
	return __builtin_convertvector(q, qnt__v8f);
#endif
}

static int all_zero(const float *w, int n)
{
	for (int j = 0; j < n; j++)
		if (w[j] != 0.0f)
			return 0;
	return 1;
}

/* ------------------------------------------------------------------ */
/* Dequantizers (ggml's float operations)                               */
/* ------------------------------------------------------------------ */

static const float lv_iq2[3] = { 8.0f, 25.0f, 43.0f };
static const float lv_iq3xxs[8] = { 4, 12, 20, 28, 36, 44, 52, 62 };
static const float lv_iq3s[8] = { 1, 3, 5, 7, 9, 11, 13, 15 };
static const float lv_iq1[3] = { -1.0f, 0.0f, 1.0f };

/* Eight elements of a 2-bit-level grid point times db, with signs. */
static inline void put8(float *y, float db, const float *lv, uint16_t code, unsigned signs)
{
	for (int j = 0; j < 8; j++) {
		const float v = db * lv[(code >> (2 * j)) & 3];
		y[j] = (signs >> j) & 1 ? -v : v;
	}
}

/* Four elements of a 3-bit-level grid point times db; sign bits sh.. of s. */
static inline void put4(float *y, float db, const float *lv, uint16_t code, unsigned signs)
{
	for (int j = 0; j < 4; j++) {
		const float v = db * lv[(code >> (3 * j)) & 7];
		y[j] = (signs >> j) & 1 ? -v : v;
	}
}

static void deq_iq2_xxs(const void *src, float *y, int64_t n)
{
	const struct blk_iq2_xxs *b = src;
	for (int64_t i = 0; i < n / QK_K; i++, b++) {
		const float d = from_fp16(b->d);
		for (int ib = 0; ib < 8; ib++, y += 32) {
			const uint8_t *q = b->qs + 8 * ib;
			const uint32_t aux = rd32(q + 4);
			const float db = d * (0.5f + (float)(aux >> 28)) * 0.25f;
			for (int l = 0; l < 4; l++)
				put8(y + 8 * l, db, lv_iq2, qnt__iq2xxs_codes[q[l]], ksign(aux >> (7 * l)));
		}
	}
}

static void deq_iq2_xs(const void *src, float *y, int64_t n)
{
	const struct blk_iq2_xs *b = src;
	for (int64_t i = 0; i < n / QK_K; i++, b++) {
		const float d = from_fp16(b->d);
		for (int ib = 0; ib < 8; ib++, y += 32) {
			const float db[2] = { d * (0.5f + (float)(b->scales[ib] & 0xf)) * 0.25f,
					      d * (0.5f + (float)(b->scales[ib] >> 4)) * 0.25f };
			for (int l = 0; l < 4; l++) {
				const uint16_t q = rd16(b->qs + 2 * (4 * ib + l));
				put8(y + 8 * l, db[l / 2], lv_iq2, qnt__iq2xs_codes[q & 511], ksign(q >> 9));
			}
		}
	}
}

static void deq_iq2_s(const void *src, float *y, int64_t n)
{
	const struct blk_iq2_s *b = src;
	for (int64_t i = 0; i < n / QK_K; i++, b++) {
		const float d = from_fp16(b->d);
		for (int ib = 0; ib < 8; ib++, y += 32) {
			const float db[2] = { d * (0.5f + (float)(b->scales[ib] & 0xf)) * 0.25f,
					      d * (0.5f + (float)(b->scales[ib] >> 4)) * 0.25f };
			for (int l = 0; l < 4; l++) {
				const int g = 4 * ib + l;
				const int idx = b->qs[g] | (((b->qh[ib] >> (2 * l)) & 3) << 8);
				put8(y + 8 * l, db[l / 2], lv_iq2, qnt__iq2s_codes[idx], b->qs[32 + g]);
			}
		}
	}
}

static void deq_iq3_xxs(const void *src, float *y, int64_t n)
{
	const struct blk_iq3_xxs *b = src;
	for (int64_t i = 0; i < n / QK_K; i++, b++) {
		const float d = from_fp16(b->d);
		for (int ib = 0; ib < 8; ib++, y += 32) {
			const uint8_t *q = b->qs + 8 * ib;
			const uint32_t aux = rd32(b->qs + 64 + 4 * ib);
			const float db = d * (0.5f + (float)(aux >> 28)) * 0.5f;
			for (int l = 0; l < 4; l++) {
				const unsigned s = ksign(aux >> (7 * l));
				put4(y + 8 * l, db, lv_iq3xxs, qnt__iq3xxs_codes[q[2 * l]], s);
				put4(y + 8 * l + 4, db, lv_iq3xxs, qnt__iq3xxs_codes[q[2 * l + 1]], s >> 4);
			}
		}
	}
}

static void deq_iq3_s(const void *src, float *y, int64_t n)
{
	const struct blk_iq3_s *b = src;
	for (int64_t i = 0; i < n / QK_K; i++, b++) {
		const float d = from_fp16(b->d);
		for (int ib = 0; ib < 8; ib++, y += 32) {
			const int s = (b->scales[ib / 2] >> (4 * (ib % 2))) & 0xf;
			const float db = d * (float)(1 + 2 * s);
			for (int k = 0; k < 8; k++) {
				const int idx = b->qs[8 * ib + k] | (((b->qh[ib] >> k) & 1) << 8);
				const unsigned sg = b->signs[4 * ib + k / 2] >> (4 * (k % 2));
				put4(y + 4 * k, db, lv_iq3s, qnt__iq3s_codes[idx], sg);
			}
		}
	}
}

static void deq_iq1_s(const void *src, float *y, int64_t n)
{
	const struct blk_iq1_s *b = src;
	for (int64_t i = 0; i < n / QK_K; i++, b++) {
		const float d = from_fp16(b->d);
		for (int ib = 0; ib < 8; ib++) {
			const uint16_t h = rd16(b->qh + 2 * ib);
			const float dl = d * (float)(2 * ((h >> 12) & 7) + 1);
			const float delta = h & 0x8000 ? -IQ1_DELTA : IQ1_DELTA;
			for (int l = 0; l < 4; l++, y += 8) {
				const uint16_t code = qnt__iq1s_codes[b->qs[4 * ib + l] | (((h >> (3 * l)) & 7) << 8)];
				for (int j = 0; j < 8; j++)
					y[j] = dl * (lv_iq1[(code >> (2 * j)) & 3] + delta);
			}
		}
	}
}

/* The fp16 super-scale of iq1_m, from the top nibbles of its scale words. */
static inline uint16_t iq1m_scale_bits(const uint8_t *scales)
{
	return (uint16_t)((rd16(scales) >> 12) | ((rd16(scales + 2) >> 8) & 0x00f0) |
			  ((rd16(scales + 4) >> 4) & 0x0f00) | (rd16(scales + 6) & 0xf000));
}

static void deq_iq1_m(const void *src, float *y, int64_t n)
{
	const struct blk_iq1_m *b = src;
	for (int64_t i = 0; i < n / QK_K; i++, b++) {
		const float d = from_fp16(iq1m_scale_bits(b->scales));
		for (int ib = 0; ib < 16; ib++) {
			const uint16_t sc = rd16(b->scales + 2 * (ib / 4));
			const float dl = d * (float)(2 * ((sc >> (3 * (ib % 4))) & 7) + 1);
			for (int k = 0; k < 2; k++, y += 8) {
				const uint8_t h = (uint8_t)(b->qh[ib] >> (4 * k));
				const uint16_t code = qnt__iq1s_codes[b->qs[2 * ib + k] | ((h & 7) << 8)];
				const float delta = h & 8 ? -IQ1_DELTA : IQ1_DELTA;
				for (int j = 0; j < 8; j++)
					y[j] = dl * (lv_iq1[(code >> (2 * j)) & 3] + delta);
			}
		}
	}
}

static void deq_iq4_nl(const void *src, float *y, int64_t n)
{
	const struct blk_iq4_nl *b = src;
	for (int64_t i = 0; i < n / QK4_NL; i++, b++, y += QK4_NL) {
		const float d = from_fp16(b->d);
		for (int j = 0; j < 16; j++) {
			y[j] = d * (float)kv4[b->qs[j] & 0xf];
			y[j + 16] = d * (float)kv4[b->qs[j] >> 4];
		}
	}
}

static void deq_iq4_xs(const void *src, float *y, int64_t n)
{
	const struct blk_iq4_xs *b = src;
	for (int64_t i = 0; i < n / QK_K; i++, b++) {
		const float d = from_fp16(b->d);
		for (int ib = 0; ib < 8; ib++, y += 32) {
			const int ls = ((b->scales_l[ib / 2] >> (4 * (ib % 2))) & 0xf) | (((b->scales_h >> (2 * ib)) & 3) << 4);
			const float dl = d * (float)(ls - 32);
			const uint8_t *qs = b->qs + 16 * ib;
			for (int j = 0; j < 16; j++) {
				y[j] = dl * (float)kv4[qs[j] & 0xf];
				y[j + 16] = dl * (float)kv4[qs[j] >> 4];
			}
		}
	}
}

/* ------------------------------------------------------------------ */
/* iq4_nl, iq4_xs: ggml's search                                        */
/* ------------------------------------------------------------------ */

/* The fields of an iq4 block that ggml's search writes. */
struct iq4_out {
	uint16_t *dh;
	uint8_t *q4;
	uint16_t *scales_h; /* iq4_xs only */
	uint8_t *scales_l;
};

/* Eight codes 0..15 stored as bytes. */
static inline void iq4_store8(qnt__v8i c, uint8_t *L)
{
#if defined(__AVX2__)
	const __m128i h = _mm_packus_epi32(_mm256_castsi256_si128((__m256i)c), _mm256_extracti128_si256((__m256i)c, 1));
	_mm_storel_epi64((__m128i *)L, _mm_packus_epi16(h, h));
#else
	for (int i = 0; i < 8; i++)
		L[i] = (uint8_t)c[i];
#endif
}

/* The indices best_index_int8 picks for the eight products id * x[0..7]
 * (see iq4_value_v8): the number of midpoints at or below each, 15 for NaN
 * (equal to a scalar form of ggml's search for every float, checked over
 * all 2^32). */
static inline void iq4_index8(float id, const float *x, uint8_t *L)
{
	static const float mid[15] = { -115.5f, -93.5f, -74, -57, -42, -28.5f, -16, -4.5f, 7, 19, 31.5f, 45.5f, 61, 79, 101 };
	qnt__v8f v;
	memcpy(&v, x, sizeof v);
	v = v * id;
	qnt__v8i c = { 0, 0, 0, 0, 0, 0, 0, 0 };
	for (int k = 0; k < 15; k++)
		c -= qnt__ge_v8f_s(v, mid[k]);
	const qnt__v8i num = qnt__eq_v8f(v, v);
	c = (c & num) | (~num & 15);
	iq4_store8(c, L);
}

/* ggml's quantize_row_iq4_nl_impl with ntry = 7 (what ggml_quantize_chunk
 * runs, with or without an imatrix) for n = 32 (iq4_nl: one scale) or
 * n = 256 (iq4_xs: 8 sub-blocks of 32 under 6-bit scales). out[0] receives
 * the block for the weights x^2 (no imatrix), out[1] (if qw is not NULL) the
 * one for the imatrix qw; either may be NULL. The two share the value
 * lookups, which do not depend on the weights; each sum is accumulated in
 * ggml's order. */
static void ggml_iq4(int n, const float *x, const float *qw, const struct iq4_out *out0, const struct iq4_out *out1)
{
	const int ntry = 7;
	const int nsub = n / 32;
	const struct iq4_out *outs[2] = { out0, qw ? out1 : NULL };
	float weight[2][32], scales[2][8];

	float sigma2 = 0;
	for (int j = 0; j < n; j++)
		sigma2 += x[j] * x[j];
	sigma2 *= 2.0f / (float)n;

	float max_scale[2] = { 0, 0 }, amax_scale[2] = { 0, 0 };
	for (int ib = 0; ib < nsub; ib++) {
		const float *xb = x + 32 * ib;
		for (int j = 0; j < 32; j++)
			weight[0][j] = xb[j] * xb[j];
		if (outs[1])
			for (int j = 0; j < 32; j++)
				weight[1][j] = qw[32 * ib + j] * sqrtf(sigma2 + xb[j] * xb[j]);
		float amax = 0, max = 0;
		for (int j = 0; j < 32; j++) {
			const float ax = fabsf(xb[j]);
			if (ax > amax) {
				amax = ax;
				max = xb[j];
			}
		}
		if (amax < GROUP_MAX_EPS) {
			scales[0][ib] = scales[1][ib] = 0;
			continue;
		}
		/* ggml's first pass (d = -max/v[0]) and its 15 trial scales */
		float ids[16], sqx[2][16], sq2[2][16];
		const float d0 = -max / (float)kv4[0];
		ids[0] = 1 / d0;
		for (int t = 1; t < 16; t++)
			ids[t] = (float)(t - 1 - ntry + kv4[0]) / max;
		/* the 16 trials in two vectors of 8 lanes, each lane's sums in
		 * ggml's element order */
		qnt__v8f idv[2], vx[2][2], vq[2][2];
		memcpy(idv, ids, sizeof idv);
		memset(vx, 0, sizeof vx);
		memset(vq, 0, sizeof vq);
		if (outs[0] && outs[1]) {
			for (int j = 0; j < 32; j++) {
				const float xj = xb[j], w0 = weight[0][j], w1 = weight[1][j];
				for (int h = 0; h < 2; h++) {
					const qnt__v8f q = iq4_value_v8(idv[h] * xj);
					const qnt__v8f wq0 = w0 * q, wq1 = w1 * q;
					vx[0][h] += wq0 * xj;
					vq[0][h] += wq0 * q;
					vx[1][h] += wq1 * xj;
					vq[1][h] += wq1 * q;
				}
			}
		} else {
			/* one set of weights: those of the output asked for */
			const int o = outs[1] ? 1 : 0;
			qnt__v8f ax0 = vx[o][0], ax1 = vx[o][1], aq0 = vq[o][0], aq1 = vq[o][1];
			for (int j = 0; j < 32; j++) {
				const float xj = xb[j], wj = weight[o][j];
				const qnt__v8f q0 = iq4_value_v8(idv[0] * xj), q1 = iq4_value_v8(idv[1] * xj);
				const qnt__v8f wq0 = wj * q0, wq1 = wj * q1;
				ax0 += wq0 * xj;
				aq0 += wq0 * q0;
				ax1 += wq1 * xj;
				aq1 += wq1 * q1;
			}
			vx[o][0] = ax0;
			vx[o][1] = ax1;
			vq[o][0] = aq0;
			vq[o][1] = aq1;
		}
		memcpy(sqx, vx, sizeof sqx);
		memcpy(sq2, vq, sizeof sq2);
		for (int o = 0; o < 2; o++) {
			if (!outs[o])
				continue;
			float d = sq2[o][0] > 0 ? sqx[o][0] / sq2[o][0] : 0.0f;
			float best = d * sqx[o][0];
			for (int t = 1; t < 16; t++) {
				if (sq2[o][t] > 0 && sqx[o][t] * sqx[o][t] > best * sq2[o][t]) {
					d = sqx[o][t] / sq2[o][t];
					best = d * sqx[o][t];
				}
			}
			scales[o][ib] = d;
			const float abs_d = fabsf(d);
			if (abs_d > amax_scale[o]) {
				amax_scale[o] = abs_d;
				max_scale[o] = d;
			}
		}
	}

	for (int o = 0; o < 2; o++) {
		const struct iq4_out *out = outs[o];
		if (!out)
			continue;
		uint8_t L[QK_K];
		if (nsub > 1) {
			*out->scales_h = 0;
			const float d = -max_scale[o] / 32;
			*out->dh = to_fp16(d);
			const float id = d != 0.0f ? 1 / d : 0.0f;
			for (int ib = 0; ib < nsub; ib++) {
				int l = nearest_int(id * scales[o][ib]);
				l = maxi(-32, mini(31, l));
				const float dl = d * (float)l;
				const float idl = dl != 0.0f ? 1 / dl : 0.0f;
				for (int j = 0; j < 32; j += 8)
					iq4_index8(idl, x + 32 * ib + j, L + 32 * ib + j);
				l += 32;
				const uint8_t l_l = (uint8_t)(l & 0xf), l_h = (uint8_t)(l >> 4);
				if (ib % 2 == 0)
					out->scales_l[ib / 2] = l_l;
				else
					out->scales_l[ib / 2] |= (uint8_t)(l_l << 4);
				*out->scales_h |= (uint16_t)(l_h << (2 * (ib % 8)));
			}
		} else {
			*out->dh = to_fp16(scales[o][0]);
			const float id = scales[o][0] != 0.0f ? 1 / scales[o][0] : 0.0f;
			for (int j = 0; j < 32; j += 8)
				iq4_index8(id, x + j, L + j);
		}
		for (int i = 0; i < nsub; i++)
			for (int j = 0; j < 16; j++)
				out->q4[16 * i + j] = (uint8_t)(L[32 * i + j] | (L[32 * i + 16 + j] << 4));
	}
}

/* ggml's iq4_nl / iq4_xs blocks without (b0) and with (b1, if qw) the
 * imatrix qw; b0 or b1 may be NULL. */
static void ggml_iq4_nl(const float *x, const float *qw, struct blk_iq4_nl *b0, struct blk_iq4_nl *b1)
{
	struct iq4_out o0 = { 0 }, o1 = { 0 };
	if (b0)
		o0 = (struct iq4_out){ &b0->d, b0->qs, NULL, NULL };
	if (b1)
		o1 = (struct iq4_out){ &b1->d, b1->qs, NULL, NULL };
	ggml_iq4(QK4_NL, x, qw, b0 ? &o0 : NULL, b1 ? &o1 : NULL);
}

static void ggml_iq4_xs(const float *x, const float *qw, struct blk_iq4_xs *b0, struct blk_iq4_xs *b1)
{
	struct iq4_out o0 = { 0 }, o1 = { 0 };
	if (b0)
		o0 = (struct iq4_out){ &b0->d, b0->qs, &b0->scales_h, b0->scales_l };
	if (b1)
		o1 = (struct iq4_out){ &b1->d, b1->qs, &b1->scales_h, b1->scales_l };
	ggml_iq4(QK_K, x, qw, b0 ? &o0 : NULL, b1 ? &o1 : NULL);
}

/* ------------------------------------------------------------------ */
/* iq4_nl, iq4_xs: the weighted search                                  */
/* ------------------------------------------------------------------ */

/* The error of 32 elements under one scale s with the best code for each,
 *     E(s) = sum_j w_j min_k (x_j - s v_k)^2,
 * is a piecewise quadratic function of s: between two breakpoints (where an
 * element moves to the next value) the codes are fixed and
 * E(s) = sxx - 2 s sxq + s^2 sqq. A profile lists the breakpoints of s > 0
 * in ascending order with the sums on the interval that starts at each. For
 * s < 0 the same is done with the negated values (s -> -s). */
#define PROF_MAX (32 * 8 + 1)

/* For the search of the interval of s the starts s[1..n] (s[n] the end)
 * are read in groups of eight, s[1 + 8 i .. 8 + 8 i], +inf past s[n] up to
 * a whole group and one more, and top[i] holds the last of group i (+inf
 * past the last group, up to a multiple of eight: ntop). */
#define PROF_GROUPS ((PROF_MAX + 7) / 8)

struct prof {
	int n;                /* intervals; interval i starts at s[i] (s[0] = 0) */
	int ntop;
	float s[1 + 8 * PROF_GROUPS + 8]; /* s[n]: the end of the last interval */
	float top[(PROF_GROUPS + 7) / 8 * 8];
	double sxq[PROF_MAX], sqq[PROF_MAX];
	double sxx;
	double best_e;        /* the minimum over s > 0 and where it is */
	double best_s;
};

/* A breakpoint: at scale s element j moves to the next code, which adds
 * w_j x_j sd[c] to sxq and w_j sd2[c] to sqq (struct iq4_mids). It is kept
 * as the key bits(s) << 32 | j << 3 | r, r < 8 the number of the element's
 * earlier breakpoints (its code follows from r): s >= 0, whose float bits
 * order like its value, so the keys order by s, then by element, then by
 * the element's own order (equal s within an element is possible only with
 * subnormal s). */
static inline float ev_s(uint64_t key)
{
	return qnt__f32_from_bits((uint32_t)(key >> 32));
}

/* Ascending sort of the n keys of a into out. Every s lies in [lo, 2.75 lo]
 * (up to roundings, clamped here), under 1.5 binades: the float bits of
 * non-negative floats order like their values, so the bucket
 * (bits(s) - bits(lo)) >> QNT__EV_SH (128 buckets per binade, at most 188
 * for normal lo, clamped to QNT__EV_NBK <= 256 for subnormal ones) is
 * monotone in the key. A counting sort on the bucket and an insertion sort
 * give the sorted keys; buckets this fine leave the insertion sort little to
 * move (~70 events a profile). The keys are distinct, so the order does
 * not depend on the order of a, nor on the method.
 * With AVX2, where every bits(s) - bits(lo) + 2^20 is in [0, 2^24) (always
 * for normal lo), the keys are ranked instead: each key's place is the
 * number of smaller keys, counted by comparisons of 32-bit keys that order
 * as the 64-bit ones, (bits(s) - bits(lo) + 2^20) << 8 | j << 3 | r, eight
 * keys against one per instruction, without branches or stores in the
 * loop. */
#define QNT__EV_SH 16
#define QNT__EV_NBK 224
static inline int ev_bucket(uint64_t key, int32_t base, int nbk)
{
	return clampi(((int32_t)(key >> 32) - base) >> QNT__EV_SH, 0, nbk - 1);
}

#if QNT__VN == 8
/* The ranks of the 32 keys k32[i0..i0+31] among k32[0..n-1]: one broadcast
 * key compared against four groups of eight, four independent sums, not
 * one chain. */
static void rank_32(const int32_t *k32, int n, int i0, int32_t *rk)
{
	const __m256i k0 = _mm256_loadu_si256((const __m256i *)(k32 + i0));
	const __m256i k1 = _mm256_loadu_si256((const __m256i *)(k32 + i0 + 8));
	const __m256i k2 = _mm256_loadu_si256((const __m256i *)(k32 + i0 + 16));
	const __m256i k3 = _mm256_loadu_si256((const __m256i *)(k32 + i0 + 24));
	__m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
	for (int m = 0; m < n; m += 2) {
		const __m256i km = _mm256_set1_epi32(k32[m]), kn = _mm256_set1_epi32(k32[m + 1]);
		a0 = _mm256_sub_epi32(a0, _mm256_add_epi32(_mm256_cmpgt_epi32(k0, km), _mm256_cmpgt_epi32(k0, kn)));
		a1 = _mm256_sub_epi32(a1, _mm256_add_epi32(_mm256_cmpgt_epi32(k1, km), _mm256_cmpgt_epi32(k1, kn)));
		a2 = _mm256_sub_epi32(a2, _mm256_add_epi32(_mm256_cmpgt_epi32(k2, km), _mm256_cmpgt_epi32(k2, kn)));
		a3 = _mm256_sub_epi32(a3, _mm256_add_epi32(_mm256_cmpgt_epi32(k3, km), _mm256_cmpgt_epi32(k3, kn)));
	}
	_mm256_storeu_si256((__m256i *)rk, a0);
	_mm256_storeu_si256((__m256i *)(rk + 8), a1);
	_mm256_storeu_si256((__m256i *)(rk + 16), a2);
	_mm256_storeu_si256((__m256i *)(rk + 24), a3);
}

/* The same for the 16 keys k32[i0..i0+15]. */
static void rank_16(const int32_t *k32, int n, int i0, int32_t *rk)
{
	const __m256i k0 = _mm256_loadu_si256((const __m256i *)(k32 + i0));
	const __m256i k1 = _mm256_loadu_si256((const __m256i *)(k32 + i0 + 8));
	__m256i a0 = _mm256_setzero_si256(), a1 = a0;
	for (int m = 0; m < n; m += 2) {
		const __m256i km = _mm256_set1_epi32(k32[m]), kn = _mm256_set1_epi32(k32[m + 1]);
		a0 = _mm256_sub_epi32(a0, _mm256_add_epi32(_mm256_cmpgt_epi32(k0, km), _mm256_cmpgt_epi32(k0, kn)));
		a1 = _mm256_sub_epi32(a1, _mm256_add_epi32(_mm256_cmpgt_epi32(k1, km), _mm256_cmpgt_epi32(k1, kn)));
	}
	_mm256_storeu_si256((__m256i *)rk, a0);
	_mm256_storeu_si256((__m256i *)(rk + 8), a1);
}

static int rank_events(const uint64_t *a, uint64_t *out, int n, int32_t base)
{
	/* the 32-bit keys, their top bit flipped for signed compares; the
	 * slack lanes (up to a multiple of 32) are ranked too, not used */
	int32_t k32[32 * 8 + 32];
	/* eight keys a step (a has eight readable keys past n): in each
	 * 64-bit lane h = bits(s) - base + 2^20 and (h << 8 | tag) ^ 2^31 in
	 * the low half, then the low halves packed in order */
	const __m256i off = _mm256_set1_epi32((int32_t)((1u << 20) - (uint32_t)base));
	const __m256i low8 = _mm256_set1_epi64x(0xff), low32 = _mm256_set1_epi64x(0xffffffff);
	const __m256i flip = _mm256_set1_epi32(INT32_MIN), lane = _mm256_setr_epi64x(0, 1, 2, 3);
	__m256i bad = _mm256_setzero_si256();
	for (int i = 0; i < n; i += 8) {
		const __m256i a0 = _mm256_loadu_si256((const __m256i *)(a + i));
		const __m256i a1 = _mm256_loadu_si256((const __m256i *)(a + i + 4));
		const __m256i h0 = _mm256_add_epi32(_mm256_srli_epi64(a0, 32), off);
		const __m256i h1 = _mm256_add_epi32(_mm256_srli_epi64(a1, 32), off);
		/* the lanes below n */
		const __m256i v0 = _mm256_cmpgt_epi64(_mm256_set1_epi64x(n - i), lane);
		const __m256i v1 = _mm256_cmpgt_epi64(_mm256_set1_epi64x(n - i - 4), lane);
		bad = _mm256_or_si256(bad, _mm256_and_si256(_mm256_or_si256(_mm256_and_si256(h0, v0),
									      _mm256_and_si256(h1, v1)), low32));
		const __m256i k0 = _mm256_or_si256(_mm256_slli_epi32(h0, 8), _mm256_and_si256(a0, low8));
		const __m256i k1 = _mm256_or_si256(_mm256_slli_epi32(h1, 8), _mm256_and_si256(a1, low8));
		const __m256 k = _mm256_shuffle_ps((__m256)k0, (__m256)k1, _MM_SHUFFLE(2, 0, 2, 0));
		const __m256i kk = _mm256_permute4x64_epi64((__m256i)k, _MM_SHUFFLE(3, 1, 2, 0));
		_mm256_storeu_si256((__m256i *)(k32 + i), _mm256_xor_si256(kk, flip));
	}
	if (!_mm256_testz_si256(bad, _mm256_set1_epi64x(0xff000000)))
		return 0;
	/* k32[n]: a key no key is greater than, for the pairs of rank_32
	 * and rank_16 */
	memset(k32 + n, 0, 32 * sizeof *k32);
	k32[n] = INT32_MAX;
	for (int i0 = 0; i0 < n; i0 += 32) {
		/* four groups of eight a pass, two on a short tail */
		int32_t rk[32];
		const int left = n - i0;
		if (left > 16)
			rank_32(k32, n, i0, rk);
		else
			rank_16(k32, n, i0, rk);
		const int cnt = left < 32 ? left : 32;
		for (int l = 0; l < cnt; l++)
			out[rk[l]] = a[i0 + l];
	}
	return 1;
}
#endif

static void sort_events(const uint64_t *a, uint64_t *out, int n, int32_t base, int nbk)
{
#if QNT__VN == 8
	if (rank_events(a, out, n, base))
		return;
#endif
	int cnt[QNT__EV_NBK], run = 0;
	memset(cnt, 0, (size_t)nbk * sizeof *cnt);
	for (int i = 0; i < n; i++)
		cnt[ev_bucket(a[i], base, nbk)]++;
	for (int k = 0; k < nbk; k++) {
		const int c = cnt[k];
		cnt[k] = run;
		run += c;
	}
	for (int i = 0; i < n; i++)
		out[cnt[ev_bucket(a[i], base, nbk)]++] = a[i];
	for (int i = 1; i < n; i++) {
		if (!(out[i] < out[i - 1]))
			continue;
		const uint64_t t = out[i];
		int k = i;
		while (k > 0 && t < out[k - 1]) {
			out[k] = out[k - 1];
			k--;
		}
		out[k] = t;
	}
}

/* The tables of a profile's ascending values v[0..15]: the midpoints
 * mid[k] = (v[k] + v[k+1]) / 2, their inverses, and the steps
 * dv[k] = v[k] - v[k+1], dv2[k] = v[k]^2 - v[k+1]^2. The compiler folds
 * these float expressions with IEEE rounding, the values the same
 * expressions give at run time; dv and dv2 are small integers (exact). */
#define IQ4_PAIRS(F, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15) \
	{ F(a0, a1), F(a1, a2), F(a2, a3), F(a3, a4), F(a4, a5), F(a5, a6), F(a6, a7), F(a7, a8), \
	  F(a8, a9), F(a9, a10), F(a10, a11), F(a11, a12), F(a12, a13), F(a13, a14), F(a14, a15) }
#define IQ4_PAIRS2(F, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15) \
	{ F(a0, a1), F(a1, a2), F(a2, a3), F(a3, a4), F(a4, a5), F(a5, a6), F(a6, a7), F(a7, a8), \
	  F(a8, a9), F(a9, a10), F(a10, a11), F(a11, a12), F(a12, a13), F(a13, a14), F(a14, a15), \
	  -F(a0, a1), -F(a1, a2), -F(a2, a3), -F(a3, a4), -F(a4, a5), -F(a5, a6), -F(a6, a7), -F(a7, a8), \
	  -F(a8, a9), -F(a9, a10), -F(a10, a11), -F(a11, a12), -F(a12, a13), -F(a13, a14), -F(a14, a15) }
#define IQ4_TAB(F, ...) IQ4_PAIRS(F, __VA_ARGS__)
#define IQ4_TAB2(F, ...) IQ4_PAIRS2(F, __VA_ARGS__)
#define IQ4_MID(a, b) (0.5f * ((a) + (b)))
#define IQ4_IMID(a, b) (1.0f / IQ4_MID(a, b))
#define IQ4_DV(a, b) ((a) - (b))
#define IQ4_DV2(a, b) ((a) * (a) - (b) * (b))
#define IQ4_VP -127.0f, -104.0f, -83.0f, -65.0f, -49.0f, -35.0f, -22.0f, -10.0f, 1.0f, 13.0f, 25.0f, 38.0f, 53.0f, \
	69.0f, 89.0f, 113.0f
#define IQ4_VN -113.0f, -89.0f, -69.0f, -53.0f, -38.0f, -25.0f, -13.0f, -1.0f, 10.0f, 22.0f, 35.0f, 49.0f, 65.0f, \
	83.0f, 104.0f, 127.0f

struct iq4_mids {
	const float *v;
	int kpos; /* mid[k] > 0 exactly for k >= kpos (none is 0) */
	float mid[15], imid[15];
	float sd[30], sd2[30]; /* dv, dv2, then -dv, -dv2 (step k of x < 0) */
};

static const struct iq4_mids iq4_mids_pos = { kv4f, 8, IQ4_TAB(IQ4_MID, IQ4_VP), IQ4_TAB(IQ4_IMID, IQ4_VP),
					      IQ4_TAB2(IQ4_DV, IQ4_VP), IQ4_TAB2(IQ4_DV2, IQ4_VP) };
static const struct iq4_mids iq4_mids_neg = { kv4n, 7, IQ4_TAB(IQ4_MID, IQ4_VN), IQ4_TAB(IQ4_IMID, IQ4_VN),
					      IQ4_TAB2(IQ4_DV, IQ4_VN), IQ4_TAB2(IQ4_DV2, IQ4_VN) };

/* The native lanes' indices 0, 1, ..., whether any lane of a mask is set,
 * and tab[k] lane by lane (k in 0..14). */
#if QNT__VN == 8
#define IQ4_LANES { 0, 1, 2, 3, 4, 5, 6, 7 }
#else
#define IQ4_LANES { 0, 1, 2, 3 }
#endif

static inline int iq4_any(qnt__vni m)
{
#if defined(__AVX2__)
	return !_mm256_testz_si256((__m256i)m, (__m256i)m);
#else
	int r = 0;
	for (int i = 0; i < QNT__VN; i++)
		r |= m[i];
	return r != 0;
#endif
}

static inline qnt__vnf iq4_gather15(const float *tab, qnt__vni k)
{
#if defined(__AVX2__)
	/* two in-register permutations (tab[7..14] as the upper eight),
	 * cheaper than a gather */
	const __m256i ki = (__m256i)k;
	const __m256 lo = _mm256_permutevar8x32_ps(_mm256_loadu_ps(tab), ki);
	const __m256 hi = _mm256_permutevar8x32_ps(_mm256_loadu_ps(tab + 7), _mm256_sub_epi32(ki, _mm256_set1_epi32(7)));
	return (qnt__vnf)_mm256_blendv_ps(lo, hi, (__m256)_mm256_cmpgt_epi32(ki, _mm256_set1_epi32(7)));
#else
	qnt__vnf r;
	for (int i = 0; i < QNT__VN; i++)
		r[i] = tab[k[i]];
	return r;
#endif
}

/* Appends to out the keys bits(s) << 32 | tag of the lanes where live is
 * set (in some order), returns how many. With AVX2 it stores 8 keys a time
 * through a permutation that moves the live ones first: out needs 4 keys
 * of slack. */
static inline int iq4_put_events(uint64_t *out, qnt__vni live, qnt__vni sbits, qnt__vni tag)
{
#if defined(__AVX2__)
	static const int32_t perm[16][8] = {
		{ 0, 0, 0, 0, 0, 0, 0, 0 }, { 0, 1, 0, 0, 0, 0, 0, 0 }, { 2, 3, 0, 0, 0, 0, 0, 0 },
		{ 0, 1, 2, 3, 0, 0, 0, 0 }, { 4, 5, 0, 0, 0, 0, 0, 0 }, { 0, 1, 4, 5, 0, 0, 0, 0 },
		{ 2, 3, 4, 5, 0, 0, 0, 0 }, { 0, 1, 2, 3, 4, 5, 0, 0 }, { 6, 7, 0, 0, 0, 0, 0, 0 },
		{ 0, 1, 6, 7, 0, 0, 0, 0 }, { 2, 3, 6, 7, 0, 0, 0, 0 }, { 0, 1, 2, 3, 6, 7, 0, 0 },
		{ 4, 5, 6, 7, 0, 0, 0, 0 }, { 0, 1, 4, 5, 6, 7, 0, 0 }, { 2, 3, 4, 5, 6, 7, 0, 0 },
		{ 0, 1, 2, 3, 4, 5, 6, 7 },
	};
	static const uint8_t npop[16] = { 0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4 };
	const __m256i t = (__m256i)tag, sb = (__m256i)sbits, l = (__m256i)live;
	const __m256i k0 = _mm256_unpacklo_epi32(t, sb), k1 = _mm256_unpackhi_epi32(t, sb);
	const int m0 = _mm256_movemask_pd((__m256d)_mm256_unpacklo_epi32(l, l));
	const int m1 = _mm256_movemask_pd((__m256d)_mm256_unpackhi_epi32(l, l));
	_mm256_storeu_si256((__m256i *)out,
			    _mm256_permutevar8x32_epi32(k0, _mm256_loadu_si256((const __m256i *)perm[m0])));
	out += npop[m0];
	_mm256_storeu_si256((__m256i *)out,
			    _mm256_permutevar8x32_epi32(k1, _mm256_loadu_si256((const __m256i *)perm[m1])));
	return npop[m0] + npop[m1];
#else
	int n = 0;
	for (int i = 0; i < QNT__VN; i++) {
		out[n] = (uint64_t)(uint32_t)sbits[i] << 32 | (uint32_t)tag[i];
		n -= live[i];
	}
	return n;
#endif
}

/* Profile of n elements (a multiple of 8, at most 32) for the ascending
 * values m->v, for s in the window [amax/176, amax/64] (amax: the largest
 * |x| of weight > 0), where the minimum lies for all but odd data; outside
 * it E is extrapolated from the first and last intervals. wx[j] = w[j] x[j] and sxx = sum_j wx[j] x[j]
 * (in double, in j order) are shared by the two signs. */
static void build_prof(int n, const float *x, const float *w, const float *wxv, float amax, double sxx,
		       const struct iq4_mids *m, struct prof *p)
{
	/* at most 8 events an element (the midpoints of one sign), and
	 * iq4_put_events' slack, and rank_events' */
	uint64_t ev[32 * 8 + 8], sorted[32 * 8];
	const float *v = m->v, *mid = m->mid, *imid = m->imid;
	const int kpos = m->kpos;
	p->n = 1;
	p->s[0] = 0.0f;
	p->sxq[0] = p->sqq[0] = p->sxx = 0;
	p->best_e = 0;
	p->best_s = 0;
	p->ntop = 0;
	for (int i = 1; i <= 8; i++)
		p->s[i] = INFINITY;
	if (!(amax > 0) || !(amax < INFINITY))
		return;
	const float s_lo = amax * (1.0f / 176), s_hi = amax * (1.0f / 64), is_lo = 1.0f / s_lo;
	/* the bucket of an event (see sort_events); s <= s_hi bounds it */
	const int32_t base = (int32_t)qnt__f32_bits(s_lo);
	const int nbk = clampi((((int32_t)qnt__f32_bits(s_hi) - base) >> QNT__EV_SH) + 1, 1, QNT__EV_NBK);
	/* per element the code at s_lo, and the code of its event r,
	 * cb[j] + r cs[j] */
	int ne = 0, c[32], cb[32], cs[32];
	/* QNT__VN elements at a time: the code at s_lo (how many midpoints
	 * are <= x/s_lo), then the events in the order the element meets them,
	 * the r-th in round r: an element with x > 0 moves down from code
	 * c (midpoints k = c - 1, c - 2, ... >= kpos), one with x < 0 up
	 * (k = c, c + 1, ... < kpos), each at s = x imid[k] while s <= s_hi
	 * (ascending in r: the first that fails ends the element's events). */
	const qnt__vnf vis_lo = qnt__splat_vnf(is_lo), vs_hi = qnt__splat_vnf(s_hi), fz = qnt__splat_vnf(0.0f);
	const qnt__vni iz = QNT__SPLAT_VN(0), lane = IQ4_LANES;
	for (int j0 = 0; j0 < n; j0 += QNT__VN) {
		qnt__vnf xv;
		memcpy(&xv, x + j0, sizeof xv);
		const qnt__vnf t = xv * vis_lo;
		qnt__vni cv = iz;
		for (int k = 0; k < 15; k++)
			cv += t >= qnt__splat_vnf(mid[k]);
		cv = -cv;
		const qnt__vni pos = xv > fz, neg = xv < fz;
		qnt__vni live = pos | neg, k = cv + pos, tag = (lane + j0) << 3;
		const qnt__vni step = pos | (neg & 1), code0 = k + (neg & 15);
		memcpy(c + j0, &cv, sizeof cv);
		memcpy(cb + j0, &code0, sizeof code0);
		memcpy(cs + j0, &step, sizeof step);
		for (;;) {
			live &= (pos & (k >= kpos)) | (neg & (k < kpos));
			if (!iq4_any(live))
				break;
			const qnt__vnf sk = xv * iq4_gather15(imid, qnt__clamp_vni(k, 0, 14));
			live &= sk <= vs_hi;
			qnt__vni sb;
			memcpy(&sb, &sk, sizeof sb);
			ne += iq4_put_events(ev + ne, live, sb, tag);
			k += step;
			tag += 1;
		}
	}
	double sxq = 0, sqq = 0;
	for (int j = 0; j < n; j++) {
		sxq += (double)wxv[j] * v[c[j]];
		sqq += (double)w[j] * v[c[j]] * v[c[j]];
	}
	if (ne > 0) {
		memset(ev + ne, 0, 8 * sizeof *ev);
		sort_events(ev, sorted, ne, base, nbk);
	}
	p->sxx = sxx;
	p->s[0] = s_lo;
	p->sxq[0] = sxq;
	p->sqq[0] = sqq;
	/* the sums on each interval (in event order) */
	for (int e = 0; e < ne; e++) {
		/* the float products the events held before, added in double */
		const int j = (int)(sorted[e] >> 3) & 31, r = (int)sorted[e] & 7, ce = cb[j] + r * cs[j];
		sxq += wxv[j] * m->sd[ce];
		sqq += w[j] * m->sd2[ce];
		p->s[e + 1] = ev_s(sorted[e]);
		p->sxq[e + 1] = sxq;
		p->sqq[e + 1] = sqq;
	}
	p->s[ne + 1] = s_hi;
	/* the groups of the interval search (see struct prof) */
	const int ng = (ne + 1 + 7) / 8;
	for (int i = ne + 2; i <= 8 * ng + 8; i++)
		p->s[i] = INFINITY;
	p->ntop = (ng + 7) / 8 * 8;
	for (int i = 0; i < p->ntop; i++)
		p->top[i] = i < ng ? p->s[8 + 8 * i] : INFINITY;
	/* the minimum of each interval [s[e], s[e + 1]], at sxq/sqq clamped
	 * to it, and the first of the least. Each interval's s2 and err are
	 * the same IEEE operations as the scalar
	 *     s2 = a > lo q ? a / q : lo;  s2 = a > hi q ? hi : s2;
	 *     err = sxx - 2 s2 a + s2^2 q
	 * (the division is taken and discarded where not selected); four
	 * intervals at once, one per lane, each lane keeping the first of its
	 * least (strict <, so NaN and +inf never count), then the tail
	 * intervals and the lanes' picks merged by (err, index): the interval
	 * the sequential first-of-least scan picks. */
	const int ni = ne + 1;
	double best_e = INFINITY, best_s = s_lo;
	int best_i = ni;
	int e = 0;
	if (ni >= 4) {
		const qnt__v4d vsxx = { sxx, sxx, sxx, sxx }, inf = { INFINITY, INFINITY, INFINITY, INFINITY };
		qnt__v4d be = inf, bs = inf, bi = inf, idx = { 0, 1, 2, 3 };
		for (; e + 4 <= ni; e += 4) {
			qnt__v4f lo4, hi4;
			qnt__v4d a, q;
			memcpy(&lo4, p->s + e, sizeof lo4);
			memcpy(&hi4, p->s + e + 1, sizeof hi4);
			memcpy(&a, p->sxq + e, sizeof a);
			memcpy(&q, p->sqq + e, sizeof q);
			const qnt__v4d lo = __builtin_convertvector(lo4, qnt__v4d), hi = __builtin_convertvector(hi4, qnt__v4d);
			qnt__v4d s2 = qnt__select_v4d((qnt__v4l)(a > lo * q), a / q, lo);
			s2 = qnt__select_v4d((qnt__v4l)(a > hi * q), hi, s2);
			const qnt__v4d err = vsxx - 2 * s2 * a + s2 * s2 * q;
			const qnt__v4l take = (qnt__v4l)(err < be);
			be = qnt__select_v4d(take, err, be);
			bs = qnt__select_v4d(take, s2, bs);
			bi = qnt__select_v4d(take, idx, bi);
			idx += 4;
		}
		for (int l = 0; l < 4; l++) {
			if (be[l] < best_e || (be[l] == best_e && be[l] < INFINITY && (int)bi[l] < best_i)) {
				best_e = be[l];
				best_s = bs[l];
				best_i = (int)bi[l];
			}
		}
	}
	/* the tail comes after every lane's intervals: it wins ties never */
	for (; e < ni; e++) {
		const double lo = p->s[e], hi = p->s[e + 1];
		const double a = p->sxq[e], q = p->sqq[e];
		double s2 = a > lo * q ? a / q : lo;
		s2 = a > hi * q ? hi : s2;
		const double err = sxx - 2 * s2 * a + s2 * s2 * q;
		if (err < best_e) {
			best_e = err;
			best_s = s2;
		}
	}
	p->n = ne + 1;
	p->best_e = best_e;
	p->best_s = best_s;
}

/* How many of the eight floats at v are <= f. */
static inline int count_le8(const float *v, float f)
{
#if defined(__AVX2__)
	return __builtin_popcount((unsigned)_mm256_movemask_ps(_mm256_cmp_ps(_mm256_loadu_ps(v), _mm256_set1_ps(f),
									      _CMP_LE_OQ)));
#else
	qnt__v8f a;
	memcpy(&a, v, sizeof a);
	const qnt__v8i m = qnt__le_v8f(a, qnt__splat_v8f(f));
	int c = 0;
	for (int i = 0; i < 8; i++)
		c -= m[i];
	return c;
#endif
}

/* The interval of s >= 0: the last i in 0..n-1 with s[i] <= s, s[0]
 * counting as -inf. The starts ascend, so that is how many of s[1..n] are
 * <= s (s[n] too, hence the clamp to n - 1): the whole groups (their
 * last is <= s), then those of the next group. Without branches on the
 * data. The scales searched are floats: fp16 values, and those times the
 * integers -32..31 (exact in float). */
static inline int prof_find(const struct prof *p, float s)
{
	int g = 0;
	for (int i = 0; i < p->ntop; i += 8)
		g += count_le8(p->top + i, s);
	return mini(8 * g + count_le8(p->s + 1 + 8 * g, s), p->n - 1);
}

/* E(s) for s >= 0 from a profile. */
static inline double prof_eval(const struct prof *p, float sf)
{
	const int base = prof_find(p, sf);
	const double s = sf;
	return p->sxx - 2 * s * p->sxq[base] + s * s * p->sqq[base];
}

/* Both signs of one group of 32: pos for s > 0, neg for s < 0. */
struct prof2 {
	struct prof pos, neg;
};

static void build_prof2(const float *x, const float *w, struct prof2 *p)
{
	float wx[32], amax = 0;
	double sxx = 0;
	for (int j = 0; j < 32; j++) {
		if (w[j] > 0 && fabsf(x[j]) > amax)
			amax = fabsf(x[j]);
		wx[j] = w[j] * x[j];
		sxx += (double)wx[j] * x[j];
	}
	build_prof(32, x, w, wx, amax, sxx, &iq4_mids_pos, &p->pos);
	build_prof(32, x, w, wx, amax, sxx, &iq4_mids_neg, &p->neg);
}

static inline double prof2_eval(const struct prof2 *p, float s)
{
	return s >= 0 ? prof_eval(&p->pos, s) : prof_eval(&p->neg, -s);
}

/* Best signed scale of a profile pair. */
static double prof2_best(const struct prof2 *p)
{
	return p->neg.best_e < p->pos.best_e ? -p->neg.best_s : p->pos.best_s;
}

/* Codes of 32 elements for the exact scale dl (nearest of the float
 * products dl * v_k) and the values they give, y[j] = dl * v[L[j]] (what
 * the dequantizers compute from the codes and dl). */
static void iq4_codes(float dl, const float *x, uint8_t *L, float *y)
{
	float p[16];
	if (dl == 0.0f || !(fabsf(dl) < INFINITY)) {
		for (int j = 0; j < 32; j++) {
			L[j] = 8;
			y[j] = dl * kv4f[8];
		}
		return;
	}
	/* p ascending; code of p[k] is k (dl > 0) or 15 - k (dl < 0). Per
	 * element (8 lanes): ml the last k with p[k] <= x (0 if none),
	 * lo = min(ml, 14), and of p[lo], p[lo + 1] the nearer (lo on a tie). */
	const int neg = dl < 0;
	for (int k = 0; k < 16; k++)
		p[k] = dl * kv4f[neg ? 15 - k : k];
	const qnt__v8i zi = { 0, 0, 0, 0, 0, 0, 0, 0 };
	for (int j = 0; j < 32; j += 8) {
		qnt__v8f xv, plo, pmu;
		memcpy(&xv, x + j, sizeof xv);
		qnt__v8i lo = zi;
		plo = qnt__splat_v8f(p[0]);
		pmu = qnt__splat_v8f(p[1]);
		for (int k = 1; k < 15; k++) {
			const qnt__v8i m = qnt__ge_v8f_s(xv, p[k]);
			lo -= m;
			plo = qnt__select_v8f(m, qnt__splat_v8f(p[k]), plo);
			pmu = qnt__select_v8f(m, qnt__splat_v8f(p[k + 1]), pmu);
		}
		const qnt__v8f dlo = xv - plo, dmu = pmu - xv;
		const qnt__v8i abs = { 0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff,
				       0x7fffffff, 0x7fffffff };
		qnt__v8i alo, amu;
		memcpy(&alo, &dlo, sizeof alo);
		memcpy(&amu, &dmu, sizeof amu);
		qnt__v8f flo, fmu;
		alo &= abs;
		amu &= abs;
		memcpy(&flo, &alo, sizeof flo);
		memcpy(&fmu, &amu, sizeof fmu);
		const qnt__v8i near_lo = qnt__le_v8f(flo, fmu);
		const qnt__v8i k = lo + (~near_lo & 1);
		const qnt__v8f yv = qnt__select_v8f(near_lo, plo, pmu);
		memcpy(y + j, &yv, sizeof yv);
		iq4_store8(neg ? 15 - k : k, L + j);
	}
}

static void pack_iq4_nibbles(const uint8_t *L, uint8_t *qs)
{
	for (int j = 0; j < 16; j++)
		qs[j] = (uint8_t)(L[j] | (L[j + 16] << 4));
}

static void unpack_iq4_nibbles(const uint8_t *qs, uint8_t *L)
{
	for (int j = 0; j < 16; j++) {
		L[j] = qs[j] & 0xf;
		L[j + 16] = qs[j] >> 4;
	}
}

/* fp16 values around v: v rounded, and its neighbours +-1, +-2 in fp16
 * order (finite, same sign); returns how many. */
static int fp16_around(double v, float *out)
{
	const uint16_t h = to_fp16((float)v);
	int n = 0;
	for (int u = -2; u <= 2; u++) {
		const int hv = (int)(h & 0x7fff) + u;
		if (hv < 0 || hv >= 0x7c00)
			continue;
		out[n++] = from_fp16((uint16_t)((h & 0x8000) | hv));
	}
	return n;
}

static double iq4nl_err(const struct blk_iq4_nl *b, const float *x, const float *w)
{
	float y[32];
	deq_iq4_nl(b, y, 32);
	return qnt__wsse(32, x, y, w);
}

/* iq4_nl with importance: the best of ggml's blocks and of the fp16 scales
 * around the minima of the profile. */
static void weighted_iq4_nl(const float *x, const float *w, struct blk_iq4_nl *out)
{
	ggml_iq4_nl(x, w, NULL, out);
	double best = iq4nl_err(out, x, w), e;
	if (!(best < INFINITY))
		best = INFINITY;
	if (fabsf(from_fp16(out->d)) < 0x1p-20f) {
		/* among fp16's smallest subnormals the block without the imatrix
		 * too (as in weighted_iq4_xs; rows of N(0, 1e-12): 1.14x worse
		 * with importance than without it, before) */
		struct blk_iq4_nl cand;
		ggml_iq4_nl(x, NULL, &cand, NULL);
		e = iq4nl_err(&cand, x, w);
		if (e < best) {
			best = e;
			*out = cand;
		}
	}

	struct prof2 p;
	build_prof2(x, w, &p);
	/* the minimum of each sign, and the fp16 values around them, ranked by
	 * the profiles; the IQ4NL_EXACT best measured exactly */
	const double starts[2] = { p.pos.best_s, -p.neg.best_s };
	float top[IQ4NL_EXACT];
	double tope[IQ4NL_EXACT];
	for (int c = 0; c < IQ4NL_EXACT; c++) {
		top[c] = 0;
		tope[c] = INFINITY;
	}
	for (int t = 0; t < 2; t++) {
		if (starts[t] == 0)
			continue;
		float dv[5];
		const int nd = fp16_around(starts[t], dv);
		for (int i = nd == 5 ? 1 : 0; i < (nd == 5 ? 4 : nd); i++) {
			const double pe = prof2_eval(&p, dv[i]);
			int c = IQ4NL_EXACT;
			while (c > 0 && pe < tope[c - 1]) {
				if (c < IQ4NL_EXACT) {
					tope[c] = tope[c - 1];
					top[c] = top[c - 1];
				}
				c--;
			}
			if (c < IQ4NL_EXACT) {
				tope[c] = pe;
				top[c] = dv[i];
			}
		}
	}
	uint8_t L[32];
	float y[32];
	for (int c = 0; c < IQ4NL_EXACT && tope[c] < INFINITY; c++) {
		iq4_codes(top[c], x, L, y);
		e = qnt__wsse(32, x, y, w);
		if (e < best) {
			best = e;
			out->d = to_fp16(top[c]);
			pack_iq4_nibbles(L, out->qs);
		}
	}
}

static double iq4xs_err(const struct blk_iq4_xs *b, const float *x, const float *w)
{
	float y[QK_K];
	deq_iq4_xs(b, y, QK_K);
	return qnt__wsse(QK_K, x, y, w);
}

/* prof_eval at three scales s[0..2] >= 0 of one profile (the searches
 * share their pass over the groups' last starts). */
static inline void prof_eval3(const struct prof *p, const float *sf, double *e)
{
	int g0 = 0, g1 = 0, g2 = 0;
	for (int i = 0; i < p->ntop; i += 8) {
		g0 += count_le8(p->top + i, sf[0]);
		g1 += count_le8(p->top + i, sf[1]);
		g2 += count_le8(p->top + i, sf[2]);
	}
	const int b0 = mini(8 * g0 + count_le8(p->s + 1 + 8 * g0, sf[0]), p->n - 1);
	const int b1 = mini(8 * g1 + count_le8(p->s + 1 + 8 * g1, sf[1]), p->n - 1);
	const int b2 = mini(8 * g2 + count_le8(p->s + 1 + 8 * g2, sf[2]), p->n - 1);
	const double s0 = sf[0], s1 = sf[1], s2 = sf[2];
	e[0] = p->sxx - 2 * s0 * p->sxq[b0] + s0 * s0 * p->sqq[b0];
	e[1] = p->sxx - 2 * s1 * p->sxq[b1] + s1 * s1 * p->sqq[b1];
	e[2] = p->sxx - 2 * s2 * p->sxq[b2] + s2 * s2 * p->sqq[b2];
}

/* The best 6-bit scale for sub-block j under the super-scale d, among the
 * integers around a/d (r, its nearest in -32..31; l0 the first of the nl
 * in -32..31 around it), by the profile (the first of the least); sv[i] =
 * d times integer i (the last for i >= nl). */
static int iq4xs_pick_l(const struct prof2 *p, int r, int l0, int nl, const float *sv, double *err)
{
	double e[3];
	const int neg = !(sv[0] >= 0);
	if (neg == !(sv[2] >= 0)) {
		/* one sign (the profile chosen by a select: the sign of a / d
		 * follows no pattern), s -> -s for s < 0, exact */
		const float sg = neg ? -1.0f : 1.0f;
		const float ss[3] = { sg * sv[0], sg * sv[1], sg * sv[2] };
		prof_eval3(neg ? &p->neg : &p->pos, ss, e);
	} else {
		e[0] = prof2_eval(p, sv[0]);
		e[1] = prof2_eval(p, sv[1]);
		e[2] = prof2_eval(p, sv[2]);
	}
	/* the first of the least of the nl (nl < 3 only at the ends of the
	 * range), without branches on the errors */
	const double e2 = nl < 3 ? INFINITY : e[2];
	int bl = e[0] < INFINITY ? l0 : r;
	double best = e[0] < INFINITY ? e[0] : INFINITY;
	bl = e[1] < best ? l0 + 1 : bl;
	best = e[1] < best ? e[1] : best;
	bl = e2 < best ? l0 + 2 : bl;
	best = e2 < best ? e2 : best;
	*err = best;
	return bl;
}

/* iq4xs_pick_l for the eight sub-blocks under the super-scale d: their
 * scales into ls, the sum of their errors (in sub-block order) returned. The
 * nearest integers to a[j] / d are found for all first (with AVX2 four at a
 * time, the same double operations; t beyond +-40, or NaN, gives the same
 * clamped integer either way). */
static double iq4xs_pick_all(const struct prof2 *p, const float *a, float d, int *ls)
{
	int r[8];
#if defined(__AVX2__)
	const __m256d dv = _mm256_set1_pd(d), lo = _mm256_set1_pd(-40), hi = _mm256_set1_pd(40);
	for (int j = 0; j < 8; j += 4) {
		const __m256d t = _mm256_div_pd(_mm256_cvtps_pd(_mm_loadu_ps(a + j)), dv);
		const __m256d c = _mm256_min_pd(_mm256_max_pd(t, lo), hi);
		const __m128i ri = _mm256_cvttpd_epi32(_mm256_floor_pd(_mm256_add_pd(c, _mm256_set1_pd(0.5))));
		_mm_storeu_si128((__m128i *)(r + j),
				 _mm_min_epi32(_mm_max_epi32(ri, _mm_set1_epi32(-32)), _mm_set1_epi32(31)));
	}
#else
	for (int j = 0; j < 8; j++) {
		const double t = (double)a[j] / d;
		r[j] = clampi(t > 40 ? 40 : t < -40 ? -40 : (int)floor(t + 0.5), -32, 31);
	}
#endif
	/* the candidates l0, l0 + 1, l0 + 2 (up to r + 1, within -32..31)
	 * of each, and d times them, exact in float (d is an fp16 value) */
	qnt__v8i rv;
	memcpy(&rv, r, sizeof rv);
	const qnt__v8i l0 = qnt__clamp_v8i(rv - 1, -32, 31), top = qnt__clamp_v8i(rv + 1, -32, 31);
	const qnt__v8i nl = top - l0 + 1;
	float sv[3][8];
	for (int i = 0; i < 3; i++) {
		const qnt__v8i li = l0 + i, over = li > top;
		const qnt__v8f f = d * __builtin_convertvector((top & over) | (li & ~over), qnt__v8f);
		memcpy(sv[i], &f, sizeof f);
	}
	double tot = 0, ej;
	for (int j = 0; j < 8; j++) {
		const float s3[3] = { sv[0][j], sv[1][j], sv[2][j] };
		ls[j] = iq4xs_pick_l(&p[j], r[j], l0[j], nl[j], s3, &ej);
		tot += ej;
	}
	return tot;
}

/* The block for the fp16 value d and the sub-block scales sl (those
 * iq4xs_pick_l picked for d) with the codes nearest to the exact values;
 * returns the error, iq4xs_err's (d is an fp16 value, so the values of
 * iq4_codes are those the block dequantizes to). */
static double iq4xs_with_d(float d, const int *sl, const float *x, const float *w, struct blk_iq4_xs *b)
{
	uint8_t L[32];
	float y[QK_K];
	b->d = to_fp16(d);
	b->scales_h = 0;
	memset(b->scales_l, 0, sizeof b->scales_l);
	for (int j = 0; j < 8; j++) {
		const int l = sl[j];
		iq4_codes(d * (float)l, x + 32 * j, L, y + 32 * j);
		const int ls = l + 32;
		b->scales_l[j / 2] |= (uint8_t)((ls & 0xf) << (4 * (j % 2)));
		b->scales_h |= (uint16_t)((ls >> 4) << (2 * j));
		pack_iq4_nibbles(L, b->qs + 16 * j);
	}
	return qnt__wsse(QK_K, x, y, w);
}

/* Least-squares super-scale for the block's integer scales and codes. */
static double iq4xs_lsq_d(const struct blk_iq4_xs *b, const float *x, const float *w)
{
	double num = 0, den = 0;
	uint8_t L[32];
	for (int j = 0; j < 8; j++) {
		const int ls = ((b->scales_l[j / 2] >> (4 * (j % 2))) & 0xf) | (((b->scales_h >> (2 * j)) & 3) << 4);
		const double l = ls - 32;
		unpack_iq4_nibbles(b->qs + 16 * j, L);
		for (int i = 0; i < 32; i++) {
			const double q = l * kv4f[L[i]];
			num += (double)w[32 * j + i] * q * x[32 * j + i];
			den += (double)w[32 * j + i] * q * q;
		}
	}
	return den > 0 ? num / den : 0.0;
}

static void weighted_iq4_xs(const float *x, const float *w, struct blk_iq4_xs *out)
{
	/* ggml's block with the imatrix, and the one without it on blocks
	 * whose elements all have one magnitude (constant or alternating rows,
	 * where the profile search can tie or lose by a rounding) or whose
	 * imatrix block's super-scale is below 2^-20, among fp16's smallest
	 * subnormals (rows of N(0, 1e-10): up to 3x worse with importance than
	 * without it, on 13 of 768 blocks, before). The imatrix block is every
	 * block's start, though it costs a fifth of the time: the profile
	 * search alone was better in all but 5 of 4096 blocks under log-normal
	 * importance, but under spiky importance (exp(3 N(0, 1)), 2048 blocks)
	 * ggml's block won 18, one by 16.7x (iq4_nl: 57 of 16384, one by
	 * 2096x; 2026-11-25). */
	struct blk_iq4_xs cand, trial;
	int one_mag = 1;
	for (int j = 1; j < QK_K && one_mag; j++)
		one_mag = fabsf(x[j]) == fabsf(x[0]);
	ggml_iq4_xs(x, w, one_mag ? &cand : NULL, out);
	const int noimp = one_mag || fabsf(from_fp16(out->d)) < 0x1p-20f;
	if (noimp && !one_mag)
		ggml_iq4_xs(x, NULL, &cand, NULL);
	double best = iq4xs_err(out, x, w);
	if (!(best < INFINITY))
		best = INFINITY;
	if (noimp) {
		const double e = iq4xs_err(&cand, x, w);
		if (e < best) {
			best = e;
			*out = cand;
		}
	}

	struct prof2 *p = malloc(8 * sizeof *p);
	if (!p)
		return; /* ggml's blocks only */
	float a[8];
	float amax = 0, A = 0;
	for (int j = 0; j < 8; j++) {
		build_prof2(x + 32 * j, w + 32 * j, &p[j]);
		a[j] = (float)prof2_best(&p[j]);
		if (fabsf(a[j]) > amax) {
			amax = fabsf(a[j]);
			A = a[j];
		}
	}
	if (!(amax > 0) || !(amax < INFINITY)) {
		free(p);
		return;
	}
	/* super-scales that put the largest sub-block scale near +31 or -32,
	 * ranked with the profiles; the best measured exactly and its
	 * super-scale refitted for its scales and codes: the fp16 values around
	 * the least-squares one, ranked by the profiles, the best measured
	 * exactly */
	float bd = 0;
	double be = INFINITY;
	int bls[8], ls[8];
	for (int side = 0; side < 2; side++) {
		for (int k = 0; k <= IQ4XS_NTRY; k++) {
			const double m = side == 0 ? 31.0 - 0.5 * k : -32.0 + 0.5 * k;
			const float d = from_fp16(to_fp16((float)(A / m)));
			if (d == 0.0f || !(fabsf(d) < INFINITY) || d == bd)
				continue;
			const double tot = iq4xs_pick_all(p, a, d, ls);
			if (tot < be) {
				be = tot;
				bd = d;
				memcpy(bls, ls, sizeof bls);
			}
		}
	}
	double ec = INFINITY;
	if (bd != 0.0f) {
		ec = iq4xs_with_d(bd, bls, x, w, &trial);
		if (ec < best) {
			best = ec;
			*out = trial;
		}
	}
	for (int it = 0; it < 2 && ec < INFINITY; it++) {
		const uint16_t h0 = to_fp16((float)iq4xs_lsq_d(&trial, x, w));
		float bdv = 0;
		double bt = INFINITY;
		for (int u = -1; u <= 1; u++) {
			const uint16_t h = (uint16_t)(h0 + u);
			const float dv = from_fp16(h);
			if (dv == 0.0f || !(fabsf(dv) < INFINITY) || ((h ^ h0) & 0x8000))
				continue;
			const double tot = iq4xs_pick_all(p, a, dv, ls);
			if (tot < bt) {
				bt = tot;
				bdv = dv;
				memcpy(bls, ls, sizeof bls);
			}
		}
		if (bdv == 0.0f || bdv == from_fp16(trial.d))
			break;
		struct blk_iq4_xs t2;
		const double e2 = iq4xs_with_d(bdv, bls, x, w, &t2);
		if (!(e2 < ec))
			break;
		ec = e2;
		trial = t2;
		if (ec < best) {
			best = ec;
			*out = trial;
		}
	}
	free(p);
}

/* ------------------------------------------------------------------ */
/* Lattice tables                                                       */
/* ------------------------------------------------------------------ */

/* A grid point is addressed by the level indices of its elements packed
 * like the codes (2 bits per element for the 8-element grids, 3 for the
 * 4-element ones): u. For every u whose levels ggml's searches can produce,
 * map[u] is the grid index of the point with those levels, or, if there is
 * none, -(1 + offset) of ggml's neighbour list of u in nb: the count, then
 * the grid points at the `nwant` smallest distinct squared distances
 * (ggml's positions 2l+1), ordered by distance and then index. alt[u] is the
 * offset of such a list for every valid u, on the grid or not (on the grid,
 * the point itself and its nearest ring): the candidates of libqnt's own
 * search.
 * The sizes are those these constant grids give; building them is
 * deterministic. */
enum { LAT_IQ2XXS, LAT_IQ2XS, LAT_IQ2S, LAT_IQ1S, LAT_IQ3XXS, LAT_IQ3S, N_LAT };

struct lattice {
	int ngrid, dim, bits, nlev, nwant;
	const uint16_t *codes;
	int32_t *map, *alt;
	uint16_t *nb;
	size_t nb_cap;
	uint8_t *lev; /* levels of the points, ngrid x dim */
	float *pos;   /* ggml's positions 2 * level + 1, ngrid x dim */
	int ok;       /* built */
};

/* list sizes: ggml's lists of the off-grid points + the on-grid lists */
#define NB_IQ2XXS (119462 + 3818)
#define NB_IQ2XS (187770 + 12041)
#define NB_IQ2S (50253 + 36605)
#define NB_IQ1S (332234 + 22802)
#define NB_IQ3XXS (22825 + 2023)
#define NB_IQ3S (28317 + 3547)

static int32_t map_iq2xxs[1 << 16], map_iq2xs[1 << 16], map_iq2s[1 << 16], map_iq1s[1 << 16];
static int32_t map_iq3xxs[1 << 12], map_iq3s[1 << 12];
static int32_t alt_iq2xxs[1 << 16], alt_iq2xs[1 << 16], alt_iq2s[1 << 16], alt_iq1s[1 << 16];
static int32_t alt_iq3xxs[1 << 12], alt_iq3s[1 << 12];
static uint16_t nb_iq2xxs[NB_IQ2XXS], nb_iq2xs[NB_IQ2XS], nb_iq2s[NB_IQ2S], nb_iq1s[NB_IQ1S];
static uint16_t nb_iq3xxs[NB_IQ3XXS], nb_iq3s[NB_IQ3S];
static uint8_t lev_iq2xxs[256 * 8], lev_iq2xs[512 * 8], lev_iq2s[1024 * 8], lev_iq1s[2048 * 8];
static uint8_t lev_iq3xxs[256 * 4], lev_iq3s[512 * 4];
static float pos_iq3xxs[256 * 4], pos_iq3s[512 * 4];

static struct lattice lat[N_LAT] = {
	{ 256, 8, 2, 3, 2, qnt__iq2xxs_codes, map_iq2xxs, alt_iq2xxs, nb_iq2xxs, NB_IQ2XXS, lev_iq2xxs, NULL, 0 },
	{ 512, 8, 2, 3, 2, qnt__iq2xs_codes, map_iq2xs, alt_iq2xs, nb_iq2xs, NB_IQ2XS, lev_iq2xs, NULL, 0 },
	{ 1024, 8, 2, 3, 1, qnt__iq2s_codes, map_iq2s, alt_iq2s, nb_iq2s, NB_IQ2S, lev_iq2s, NULL, 0 },
	{ 2048, 8, 2, 3, 3, qnt__iq1s_codes, map_iq1s, alt_iq1s, nb_iq1s, NB_IQ1S, lev_iq1s, NULL, 0 },
	{ 256, 4, 3, 8, 2, qnt__iq3xxs_codes, map_iq3xxs, alt_iq3xxs, nb_iq3xxs, NB_IQ3XXS, lev_iq3xxs, pos_iq3xxs, 0 },
	{ 512, 4, 3, 8, 3, qnt__iq3s_codes, map_iq3s, alt_iq3s, nb_iq3s, NB_IQ3S, lev_iq3s, pos_iq3s, 0 },
};

/* Appends the list of u to nb at *pos (count, then indices); returns the
 * offset or -1 when the table is full. The squared level distance of every
 * point is the sum of those of its two halves, read from tables of the
 * halves of u. */
static int32_t lat_list(struct lattice *lt, uint32_t u, int nwant, size_t *pos)
{
	uint8_t d2[2048];
	int hist[8 * 49 + 1];
	const int mask = (1 << lt->bits) - 1, hdim = lt->dim / 2, hbits = lt->bits * hdim;
	int dh[2][256]; /* 4 x 2 bits (8-element grids) or 2 x 3 bits */
	for (int h = 0; h < 2; h++)
		for (int c = 0; c < (1 << hbits); c++) {
			int s = 0;
			for (int i = 0; i < hdim; i++) {
				const int dl = ((c >> (lt->bits * i)) & mask) -
					       (int)((u >> (lt->bits * (i + h * hdim))) & (uint32_t)mask);
				s += dl * dl;
			}
			dh[h][c] = s;
		}
	memset(hist, 0, sizeof hist);
	const int hm = (1 << hbits) - 1;
	for (int g = 0; g < lt->ngrid; g++) {
		const int s = dh[0][lt->codes[g] & hm] + dh[1][(lt->codes[g] >> hbits) & hm];
		d2[g] = (uint8_t)s;
		hist[s]++;
	}
	/* the nwant smallest distances present */
	int lim = -1, have = 0;
	for (int s = 0; s <= 8 * 49 && have < nwant; s++)
		if (hist[s]) {
			lim = s;
			have++;
		}
	int n = 0, start[8 * 49 + 1];
	for (int s = 0; s <= lim; s++) {
		start[s] = n;
		n += hist[s];
	}
	if (*pos + 1 + (size_t)n > lt->nb_cap)
		return -1;
	const int32_t off = (int32_t)*pos;
	uint16_t *out = lt->nb + *pos;
	*out++ = (uint16_t)n;
	for (int g = 0; g < lt->ngrid; g++) /* by distance, then index */
		if (d2[g] <= lim)
			out[start[d2[g]]++] = (uint16_t)g;
	*pos += 1 + (size_t)n;
	return off;
}

static void lat_build(struct lattice *lt)
{
	const int mask = (1 << lt->bits) - 1;
	const uint32_t usize = 1u << (lt->bits * lt->dim);
	const int lmax = lt->dim == 8 ? 2 : 7; /* levels ggml's searches produce */
	for (uint32_t u = 0; u < usize; u++)
		lt->map[u] = lt->alt[u] = INT32_MIN;
	for (int g = 0; g < lt->ngrid; g++) {
		lt->map[lt->codes[g]] = g;
		for (int i = 0; i < lt->dim; i++) {
			lt->lev[g * lt->dim + i] = (uint8_t)((lt->codes[g] >> (lt->bits * i)) & mask);
			if (lt->pos)
				lt->pos[g * lt->dim + i] = (float)(2 * lt->lev[g * lt->dim + i] + 1);
		}
	}
	size_t pos = 0;
	/* ggml's lists first (off-grid points, in order of u), then the lists of
	 * the points on the grid */
	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t u = 0; u < usize; u++) {
			int valid = 1;
			for (int i = 0; i < lt->dim; i++)
				valid &= (int)((u >> (lt->bits * i)) & (uint32_t)mask) <= lmax;
			if (!valid || (lt->map[u] >= 0) != (pass == 1))
				continue;
			const int32_t off = lat_list(lt, u, pass == 0 ? lt->nwant : 2, &pos);
			if (off < 0)
				return; /* cannot happen with these grids; lt->ok stays 0 */
			lt->alt[u] = off;
			if (pass == 0)
				lt->map[u] = -(off + 1);
		}
	}
	lt->ok = 1;
}

static uv_once_t lat_once[N_LAT] = { UV_ONCE_INIT, UV_ONCE_INIT, UV_ONCE_INIT,
				     UV_ONCE_INIT, UV_ONCE_INIT, UV_ONCE_INIT };
static void lat_init0(void) { lat_build(&lat[0]); }
static void lat_init1(void) { lat_build(&lat[1]); }
static void lat_init2(void) { lat_build(&lat[2]); }
static void lat_init3(void) { lat_build(&lat[3]); }
static void lat_init4(void) { lat_build(&lat[4]); }
static void lat_init5(void) { lat_build(&lat[5]); }
static void (*const lat_init[N_LAT])(void) = { lat_init0, lat_init1, lat_init2, lat_init3, lat_init4, lat_init5 };

/* The tables of lattice k, built on first use (thread-safe). */
static const struct lattice *get_lattice(int k)
{
	uv_once(&lat_once[k], lat_init[k]);
	return &lat[k];
}

/* Level of element i of grid point g. */
static inline int lat_level(const struct lattice *lt, int g, int i)
{
	return lt->lev[g * lt->dim + i];
}

/* ---- Eight listed points at once: the 8-element grids (iq2_xxs, iq2_xs,
 * iq2_s, iq1_s, iq1_m) and the 4-element ones (iq3_xxs, iq3_s) ---- */

/* Per element i the cost of each of its 3 levels: t[i] = { c0, c1, c2, -,
 * c0, c1, c2, - }. A lane picks the cost of its point's level with
 * QNT__SHUF1 (qnt_lanes.h), which takes the index modulo 8: the code
 * shifted right by 2i has the level in bits 0-1 and the next element's low
 * level bit in bit 2, which the copy in lanes 4-6 absorbs. */
static inline void cost8_set(qnt__v8f *t, int i, float c0, float c1, float c2)
{
	const qnt__v8f v = { c0, c1, c2, c0, c0, c1, c2, c0 };
	t[i] = v;
}

/* Lane c: 0.0f + t[0][lv0] + t[1][lv1] + ... + t[7][lv7] for the levels of
 * the grid point whose packed code is code[c], added in element order as
 * the scalar sums add them, so every lane is that sum bit for bit. */
static inline qnt__v8f cost8_lanes(const qnt__v8f *t, qnt__v8i code)
{
	/* written out: the loop is not unrolled at -O2, and constant
	 * shifts are one instruction */
	qnt__v8f acc = { 0, 0, 0, 0, 0, 0, 0, 0 };
	acc += QNT__SHUF1(t[0], code);
	acc += QNT__SHUF1(t[1], code >> 2);
	acc += QNT__SHUF1(t[2], code >> 4);
	acc += QNT__SHUF1(t[3], code >> 6);
	acc += QNT__SHUF1(t[4], code >> 8);
	acc += QNT__SHUF1(t[5], code >> 10);
	acc += QNT__SHUF1(t[6], code >> 12);
	acc += QNT__SHUF1(t[7], code >> 14);
	return acc;
}

/* cost8_lanes for the 4-element grids: t[i] holds the costs of element i's
 * 8 levels, and the code has the level of element i in bits 3i..3i+2. */
static inline qnt__v8f cost4_lanes(const qnt__v8f *t, qnt__v8i code)
{
	qnt__v8f acc = { 0, 0, 0, 0, 0, 0, 0, 0 };
	acc += QNT__SHUF1(t[0], code);
	acc += QNT__SHUF1(t[1], code >> 3);
	acc += QNT__SHUF1(t[2], code >> 6);
	acc += QNT__SHUF1(t[3], code >> 9);
	return acc;
}

/* The lists of the lattices with
 * every grid index replaced by the point's packed code, at the same
 * offsets (the counts kept), and slack at the end, so that the codes of
 * eight listed points are one load. Built once, after the lattice. */
#define NBC_SLACK 8
typedef uint16_t v8u16 __attribute__((vector_size(16)));
static uint16_t nbc_iq2xxs[NB_IQ2XXS + NBC_SLACK], nbc_iq2xs[NB_IQ2XS + NBC_SLACK], nbc_iq2s[NB_IQ2S + NBC_SLACK],
	nbc_iq1s[NB_IQ1S + NBC_SLACK], nbc_iq3xxs[NB_IQ3XXS + NBC_SLACK], nbc_iq3s[NB_IQ3S + NBC_SLACK];
static uint16_t *const nbc_tab[N_LAT] = { nbc_iq2xxs, nbc_iq2xs, nbc_iq2s, nbc_iq1s, nbc_iq3xxs, nbc_iq3s };

static void nbc_build(int k)
{
	const struct lattice *lt = get_lattice(k);
	if (!lt->ok)
		return;
	uint16_t *out = nbc_tab[k];
	for (size_t p = 0; p < lt->nb_cap; p += 1 + (size_t)lt->nb[p]) {
		const int n = lt->nb[p];
		out[p] = (uint16_t)n;
		for (int j = 1; j <= n && p + (size_t)j < lt->nb_cap; j++)
			out[p + (size_t)j] = lt->codes[lt->nb[p + (size_t)j]];
	}
}

static uv_once_t nbc_once[N_LAT] = { UV_ONCE_INIT, UV_ONCE_INIT, UV_ONCE_INIT,
				     UV_ONCE_INIT, UV_ONCE_INIT, UV_ONCE_INIT };
static void nbc_init0(void) { nbc_build(0); }
static void nbc_init1(void) { nbc_build(1); }
static void nbc_init2(void) { nbc_build(2); }
static void nbc_init3(void) { nbc_build(3); }
static void nbc_init4(void) { nbc_build(4); }
static void nbc_init5(void) { nbc_build(5); }
static void (*const nbc_init[N_LAT])(void) = { nbc_init0, nbc_init1, nbc_init2, nbc_init3, nbc_init4, nbc_init5 };

/* The lattice k and its code lists in *codes. */
static const struct lattice *get_lattice8(int k, const uint16_t **codes)
{
	uv_once(&nbc_once[k], nbc_init[k]);
	*codes = nbc_tab[k];
	return get_lattice(k);
}

/* Whether a lane of m (all-ones or zero lanes) is set: with AVX one
 * vmovmskps (the OR of the four quarters took four extractions). */
static inline int any8(qnt__v8i m)
{
#if defined(__AVX__)
	return qnt__bits_v8i(m) != 0;
#else
	uint64_t q[4];
	memcpy(q, &m, sizeof q);
	return (q[0] | q[1] | q[2] | q[3]) != 0;
#endif
}

static inline qnt__v8f splat8(float v)
{
	const qnt__v8f r = { v, v, v, v, v, v, v, v };
	return r;
}

/* Bit i set where lane i of m (all-ones or zero lanes) is set. */
static inline unsigned mask8_bits(qnt__v8i m)
{
	return qnt__bits_v8i(m);
}

/* Codes of listed points j..j+7 of the list at offset off (lanes past the
 * list's end hold whatever follows; callers ignore them). */
static inline qnt__v8i cost8_codes(const uint16_t *nbc, int32_t off, int j)
{
	v8u16 c;
	memcpy(&c, nbc + off + 1 + j, sizeof c);
	return __builtin_convertvector(c, qnt__v8i);
}

/* out[i] lane j = in[j] lane i: eight vectors transposed (by shuffles
 * where eight lanes are native; through memory where GCC would split the
 * 32-byte shuffles). */
static inline void transpose8(const qnt__v8f *in, qnt__v8f *out)
{
#if QNT__VN == 8
	qnt__transpose_vnf(in, out);
#else
	float m[8][8], o[8][8];
	memcpy(m, in, sizeof m);
	for (int i = 0; i < 8; i++)
		for (int j = 0; j < 8; j++)
			o[i][j] = m[j][i];
	memcpy(out, o, sizeof o);
#endif
}

/* The first lane of the least value of cc among the lanes of below (some
 * lane is set): the choice of a scan in lane order that takes a value
 * below the best so far. The least by halving, then its first lane. */
static inline int first_min_lane(qnt__v8f cc, qnt__v8i below)
{
	const qnt__v8f m = qnt__bext_v8f(qnt__select_v8f(below, cc, splat8(INFINITY)), 0);
	return __builtin_ctz(mask8_bits(below & qnt__eq_v8f(cc, m)));
}

/* neg[i] = x[i] < 0 for eight elements; returns the parity of their
 * count. */
static inline int signs8(const float *x, uint8_t *neg)
{
	typedef uint8_t v8u8 __attribute__((vector_size(8)));
	qnt__v8f xv;
	memcpy(&xv, x, sizeof xv);
	const qnt__v8i m = qnt__lt_v8f(xv, splat8(0.0f));
	const v8u8 b = __builtin_convertvector(m & 1, v8u8);
	memcpy(neg, &b, sizeof b);
	return __builtin_parity(mask8_bits(m));
}

/* The first of the n points of the list at offset off with the smallest
 * cost below *best (scanned in list order as a scalar loop would); returns
 * its grid index, or gi if none is below *best, which is lowered to the
 * cost found. The costs are those of cost8_lanes (lt->dim 8) or
 * cost4_lanes (lt->dim 4). */
static inline __attribute__((always_inline)) int cost8_best(const struct lattice *lt, const uint16_t *nbc,
							    int32_t off, int n, const qnt__v8f *t, float *best,
							    int gi)
{
	const uint16_t *list = lt->nb + off;
	for (int j = 0; j < n; j += 8) {
		const qnt__v8i code = cost8_codes(nbc, off, j);
		const qnt__v8f cc = lt->dim == 4 ? cost4_lanes(t, code) : cost8_lanes(t, code);
		qnt__v8i below = qnt__lt_v8f(cc, splat8(*best));
		if (n - j < 8) {
			const qnt__v8i lane = { 0, 1, 2, 3, 4, 5, 6, 7 }, nv = { n - j, n - j, n - j, n - j,
										  n - j, n - j, n - j, n - j };
			below &= qnt__lt_v8i(lane, nv);
		}
		if (!any8(below))
			continue;
		const int c = first_min_lane(cc, below);
		*best = cc[c];
		gi = list[1 + j + c];
	}
	return gi;
}

/* ------------------------------------------------------------------ */
/* ggml's lattice searches                                              */
/* ------------------------------------------------------------------ */

/* u of the levels L[0..dim). */
static inline uint32_t lat_u(const struct lattice *lt, const int8_t *L)
{
	uint32_t u = 0;
	for (int i = 0; i < lt->dim; i++)
		u |= (uint32_t)L[i] << (lt->bits * i);
	return u;
}

/* The grid point of the levels L (which ggml's searches always put on the
 * grid; if not, the first point of its list). */
static int lat_index(const struct lattice *lt, const int8_t *L)
{
	for (int i = 0; i < lt->dim; i++) /* levels ggml's search never leaves */
		if (L[i] < 0 || L[i] >= lt->nlev)
			return 0;
	const int32_t m = lt->map[lat_u(lt, L)];
	if (m >= 0)
		return m;
	return m == INT32_MIN ? 0 : lt->nb[-m]; /* -m - 1 + 1 */
}

/* Signs of 8 elements as ggml's iq2_xxs/iq2_xs/iq3_xxs take them: xval gets
 * |x|, and if the number of negative elements is odd the one with the
 * smallest weight*x^2 keeps its sign (its xval is negative). Returns the 7
 * stored sign bits. */
static unsigned ggml_signs_even(const float *xb, const float *weight, float *xval)
{
	qnt__v8f xv, wv;
	memcpy(&xv, xb, sizeof xv);
	memcpy(&wv, weight, sizeof wv);
	/* !(x >= 0): negative or NaN, ggml's flipped elements */
	const qnt__v8i neg = ~qnt__ge_v8f(xv, splat8(0.0f));
	qnt__v8f xa = qnt__select_v8f(neg, -xv, xv);
	unsigned s = mask8_bits(neg);
	if (__builtin_parity(s)) {
		const qnt__v8f ax = wv * xv * xv;
		int imin = 0;
		float min = ax[0];
		for (int i = 1; i < 8; i++) {
			if (ax[i] < min) {
				min = ax[i];
				imin = i;
			}
		}
		xa[imin] = -xa[imin];
		s ^= 1u << imin;
	}
	memcpy(xval, &xa, sizeof xa);
	return s & 127;
}

/* ggml's iq3_find_best_neighbour for the 3-bit lattices (dim 4, level
 * values 2l + 1): the grid index of the first point of the list at offset
 * off with the least weighted distance sum_i weight[i] (scale (2l_i + 1) -
 * xval[i])^2 below FLT_MAX, or of the list's first point if none is (all
 * NaN: ggml aborts there). The terms of the 8 levels of each element first
 * (8 lanes, ggml's float operations). With AVX2, the distances of eight
 * listed points at a time (cost4_lanes: ggml's sums in its order), each
 * lane keeping its first least distance and where it was; of the lanes
 * with the least of those, the earliest position is ggml's choice. Without
 * it (where GCC picks the lanes of cost4_lanes one at a time), the points
 * one by one, each sum left once it is not below the best (the terms are
 * >= 0 or NaN: the sum only grows). */
static inline __attribute__((always_inline)) int ggml_best_neighbour4(const struct lattice *lt, const uint16_t *nbc,
								      int32_t off, const float *xval,
								      const float *weight, float scale)
{
	static const qnt__v8f lv = { 1, 3, 5, 7, 9, 11, 13, 15 };
	qnt__v8f t[4];
#pragma GCC unroll 4
	for (int i = 0; i < 4; i++) {
		const qnt__v8f diff = scale * lv - xval[i];
		t[i] = weight[i] * diff * diff;
	}
	const int n = lt->nb[off];
#if !defined(__AVX2__)
	float tf[4][8];
	memcpy(tf, t, sizeof tf);
	const uint16_t *list = lt->nb + off;
	float best_d2 = FLT_MAX;
	int gi = list[1];
	for (int j = 1; j <= n; j++) {
		const uint8_t *lvj = lt->lev + 4 * list[j];
		float d2 = 0;
		d2 += tf[0][lvj[0]];
		d2 += tf[1][lvj[1]];
		if (!(d2 < best_d2))
			continue;
		d2 += tf[2][lvj[2]];
		d2 += tf[3][lvj[3]];
		if (d2 < best_d2) {
			best_d2 = d2;
			gi = list[j];
		}
	}
	(void)nbc;
	return gi;
#else
	static const qnt__v8i lane = { 0, 1, 2, 3, 4, 5, 6, 7 };
	qnt__v8f bv = splat8(FLT_MAX);
	qnt__v8i bj = lane;
	for (int j = 0; j < n; j += 8) {
		const qnt__v8i pos = lane + j;
		const qnt__v8f cc = cost4_lanes(t, cost8_codes(nbc, off, j));
		const qnt__v8i below = qnt__lt_v8f(cc, bv) & qnt__lt_v8i(pos, lane * 0 + n);
		bv = qnt__select_v8f(below, cc, bv);
		bj = (pos & below) | (bj & ~below);
	}
	/* the least distance, by halving */
	qnt__v8f m = bv, h = __builtin_shufflevector(m, m, 4, 5, 6, 7, 0, 1, 2, 3);
	m = qnt__select_v8f(qnt__lt_v8f(h, m), h, m);
	h = __builtin_shufflevector(m, m, 2, 3, 0, 1, 6, 7, 4, 5);
	m = qnt__select_v8f(qnt__lt_v8f(h, m), h, m);
	h = __builtin_shufflevector(m, m, 1, 0, 3, 2, 5, 4, 7, 6);
	m = qnt__select_v8f(qnt__lt_v8f(h, m), h, m);
	if (!(m[0] < FLT_MAX))
		return lt->nb[off + 1];
	if (n <= 8) /* one vector: the first lane holding it */
		return lt->nb[off + 1 + __builtin_ctz(mask8_bits(qnt__eq_v8f(bv, m)))];
	/* the earliest position holding it */
	const qnt__v8i big = lane * 0 + 0x7fff;
	qnt__v8i eq = qnt__eq_v8f(bv, m);
	qnt__v8i p = (bj & eq) | (big & ~eq), q = __builtin_shufflevector(p, p, 4, 5, 6, 7, 0, 1, 2, 3);
	eq = qnt__lt_v8i(q, p);
	p = (q & eq) | (p & ~eq);
	q = __builtin_shufflevector(p, p, 2, 3, 0, 1, 6, 7, 4, 5);
	eq = qnt__lt_v8i(q, p);
	p = (q & eq) | (p & ~eq);
	return lt->nb[off + 1 + (p[0] < p[1] ? p[0] : p[1])];
#endif
}

/* ggml's scan of trial scales over one sub-block (groups of lt->dim): for
 * is in [is_lo, is_hi], id = (2 kmaxq - 1 + is*step)/max, each group to its
 * nearest levels (or, off the grid, the best listed neighbour), keeping the
 * codes with the best least-squares fit; returns the scale, with L and
 * is_on_grid the kept codes and which groups were on the grid.
 *
 * ggml_scan3, for the 3-bit lattices (n = 32, dim 4, kmaxq 8, at most 32
 * trials): the nearest levels of 8 trial scales at a time (lanes = trials),
 * the off-grid groups to ggml_best_neighbour4, and each trial's sums in
 * ggml's element order, 8 trials at a time: ggml's floats. The values
 * 2l + 1 are kept as floats per element and trial, the grid point per
 * group and trial. */
static float ggml_scan3(const struct lattice *lt, const uint16_t *nbc, int is_lo, int is_hi, float step,
			float max, float scale, const float *xval, const float *weight, const float *waux, int8_t *L,
			int *is_on_grid)
{
	const int nt = is_hi - is_lo + 1, nv = (nt + 7) / 8;
	float qx[32][32]; /* [element][trial]: 2 l + 1 */
	int32_t gk[32][8]; /* [trial][group]: the grid point, or -1 - it off the grid */
	float ids[32], sc[32];
	for (int t = 0; t < 8 * nv; t++) {
		ids[t] = (15.0f + (float)(is_lo + t) * step) / max;
		sc[t] = 1 / ids[t];
	}
	for (int h = 0; h < nv; h++) {
		qnt__v8f idv;
		memcpy(&idv, ids + 8 * h, sizeof idv);
		for (int k = 0; k < 8; k++) {
			qnt__v8i u = { 0, 0, 0, 0, 0, 0, 0, 0 };
#pragma GCC unroll 4
			for (int i = 0; i < 4; i++) {
				const qnt__v8i l = qnt__clamp_v8i(qnt__nearest_int_v8(0.5f * (idv * xval[4 * k + i] - 1)), 0, 7);
				const qnt__v8f q = __builtin_convertvector(2 * l + 1, qnt__v8f);
				memcpy(&qx[4 * k + i][8 * h], &q, sizeof q);
				u |= l << (3 * i);
			}
			for (int tl = 0; tl < 8 && 8 * h + tl < nt; tl++) {
				const int t = 8 * h + tl;
				const int32_t m = lt->map[u[tl]];
				gk[t][k] = m;
				if (m < 0) {
					const int g = ggml_best_neighbour4(lt, nbc, -m - 1, xval + 4 * k, waux + 4 * k, sc[t]);
					gk[t][k] = -1 - g;
#pragma GCC unroll 4
					for (int i = 0; i < 4; i++)
						qx[4 * k + i][t] = lt->pos[4 * g + i];
				}
			}
		}
	}
	/* the sums, 8 trials per vector, each in ggml's element order */
	float sqx[32], sq2[32];
	for (int h = 0; h < nv; h++) {
		qnt__v8f vx = { 0, 0, 0, 0, 0, 0, 0, 0 }, vq = vx;
		for (int i = 0; i < 32; i++) {
			const float w = weight[i], wwx = w * xval[i];
			qnt__v8f q;
			memcpy(&q, &qx[i][8 * h], sizeof q);
			vx += wwx * q;
			vq += w * q * q;
		}
		memcpy(sqx + 8 * h, &vx, sizeof vx);
		memcpy(sq2 + 8 * h, &vq, sizeof vq);
	}
	/* ggml's choice, in its order */
	float best = 0;
	int bt = -1;
	for (int t = 0; t < nt; t++) {
		if (sq2[t] > 0 && sqx[t] * sqx[t] > best * sq2[t]) {
			scale = sqx[t] / sq2[t];
			best = scale * sqx[t];
			bt = t;
		}
	}
	if (bt >= 0) {
		for (int k = 0; k < 8; k++) {
			const int32_t m = gk[bt][k];
			const int g = m >= 0 ? m : -1 - m;
			for (int i = 0; i < 4; i++)
				L[4 * k + i] = (int8_t)lat_level(lt, g, i);
			is_on_grid[k] = m >= 0;
		}
	}
	return scale;
}

/* ggml's re-quantization at the final scale of the groups that were not on
 * the grid (all = 0) or of all groups (all = 1) if some group was off the
 * grid, or of all groups in any case (all = 2); then its least-squares
 * scale. For the 3-bit lattices (dim 4, ggml_best_neighbour4). */
static float ggml_fixup(const struct lattice *lt, const uint16_t *nbc, int n, int kmaxq, int all, float scale,
			const float *xval, const float *weight, const float *waux, int8_t *L, const int *is_on_grid)
{
	const int dim = lt->dim, ng = n / dim;
	int n_off = 0;
	if (all != 2)
		for (int k = 0; k < ng; k++)
			n_off += !is_on_grid[k];
	if (!((all == 2 || n_off > 0) && scale > 0))
		return scale;
	const float id = 1 / scale;
	for (int k = 0; k < ng; k++) {
		if (!all && is_on_grid[k])
			continue;
		int8_t Lk[8];
		for (int i = 0; i < dim; i++) {
			const int l = nearest_int(0.5f * (id * xval[dim * k + i] - 1));
			Lk[i] = (int8_t)maxi(0, mini(kmaxq - 1, l));
		}
		const int32_t m = lt->map[lat_u(lt, Lk)];
		const int g = m >= 0 ? m : ggml_best_neighbour4(lt, nbc, -m - 1, xval + dim * k, waux + dim * k, scale);
		for (int i = 0; i < dim; i++)
			L[dim * k + i] = (int8_t)lat_level(lt, g, i);
	}
	float sumqx = 0, sumq2 = 0;
	for (int i = 0; i < n; i++) {
		const float w = weight[i];
		const float q = (float)(2 * L[i] + 1);
		sumqx += w * xval[i] * q;
		sumq2 += w * q * q;
	}
	if (sumq2 > 0)
		scale = sumqx / sumq2;
	return scale;
}

/* ggml's quantize_row_iq3_xxs_impl for one super-block without an
 * imatrix (weights x^2). */
static void ggml_iq3_xxs(const float *x, struct blk_iq3_xxs *y)
{
	const uint16_t *nbc;
	const struct lattice *lt = get_lattice8(LAT_IQ3XXS, &nbc);
	const int kmaxq = 8;
	float scales[8], weight[32], xval[32], waux[32];
	int8_t L[32];
	int is_on_grid[8];
	uint8_t q3[96];
	uint32_t sas[8];

	y->d = to_fp16(0.0f);
	memset(q3, 0, sizeof q3);
	memset(sas, 0, sizeof sas);
	float max_scale = 0;

	for (int ib = 0; ib < 8; ib++) {
		const float *xb = x + 32 * ib;
		for (int i = 0; i < 32; i++)
			weight[i] = xb[i] * xb[i];
		for (int i = 0; i < 32; i++)
			waux[i] = sqrtf(weight[i]);
		unsigned bsg[4];
		for (int k = 0; k < 4; k++)
			bsg[k] = ggml_signs_even(xb + 8 * k, weight + 8 * k, xval + 8 * k);
		float max = xval[0];
		for (int i = 1; i < 32; i++)
			max = maxf(max, xval[i]);
		memset(L, 0, sizeof L);
		if (max < GROUP_MAX_EPS_IQ3_XXS) {
			scales[ib] = 0;
			continue;
		}
		for (int k = 0; k < 8; k++)
			is_on_grid[k] = 1;
		float scale = ggml_scan3(lt, nbc, -15, 15, 0.2f, max, max / (2 * kmaxq - 1), xval, weight, waux, L, is_on_grid);
		scale = ggml_fixup(lt, nbc, 32, kmaxq, 0, scale, xval, weight, waux, L, is_on_grid);
		if (scale < 0) {
			scale = -scale;
			for (int k = 0; k < 4; k++)
				bsg[k] = ~bsg[k] & 127;
		}
		for (int k = 0; k < 8; k++)
			q3[8 * ib + k] = (uint8_t)lat_index(lt, L + 4 * k);
		sas[ib] = bsg[0] | (bsg[1] << 7) | (bsg[2] << 14) | (bsg[3] << 21);
		scales[ib] = scale;
		max_scale = maxf(max_scale, scale);
	}
	if (max_scale == 0.0f) { /* ggml: if (!max_scale) */
		memset(y->qs, 0, sizeof y->qs);
		return;
	}
	const float d = max_scale / 31;
	y->d = to_fp16(d * 1.0125f);
	const float id = 1 / d;
	for (int ib = 0; ib < 8; ib++) {
		const int l = maxi(0, mini(15, nearest_int(0.5f * (id * scales[ib] - 1))));
		sas[ib] |= (uint32_t)l << 28;
	}
	memcpy(y->qs, q3, 64);
	for (int ib = 0; ib < 8; ib++)
		wr32(y->qs + 64 + 4 * ib, sas[ib]);
}

/* ggml's quantize_row_iq3_s_impl for one super-block without an imatrix
 * (weights x^2). */
static void ggml_iq3_s(const float *x, struct blk_iq3_s *y)
{
	const uint16_t *nbc;
	const struct lattice *lt = get_lattice8(LAT_IQ3S, &nbc);
	const int kmaxq = 8;
	float scales[8], weight[32], xval[32], waux[32];
	int8_t L[32];
	int is_on_grid[8];

	memset(y, 0, sizeof *y);
	y->d = to_fp16(0.0f);
	float max_scale = 0;
	int qs_at = 0, sg_at = 0;

	for (int ib = 0; ib < 8; ib++) {
		const float *xb = x + 32 * ib;
		for (int i = 0; i < 32; i++)
			weight[i] = xb[i] * xb[i];
		for (int i = 0; i < 32; i++)
			waux[i] = sqrtf(weight[i]);
		uint8_t bsg[4];
		for (int k = 0; k < 4; k++) {
			unsigned s = 0;
			for (int i = 0; i < 8; i++) {
				if (xb[8 * k + i] >= 0) {
					xval[8 * k + i] = xb[8 * k + i];
				} else {
					xval[8 * k + i] = -xb[8 * k + i];
					s |= 1u << i;
				}
			}
			bsg[k] = (uint8_t)s;
		}
		float max = xval[0];
		for (int i = 1; i < 32; i++)
			max = maxf(max, xval[i]);
		memset(L, 0, sizeof L);
		if (!(max != 0.0f)) { /* ggml: if (!max) */
			scales[ib] = 0;
			continue;
		}
		for (int k = 0; k < 8; k++)
			is_on_grid[k] = 0;
		float scale = ggml_scan3(lt, nbc, -9, 9, 0.2f, max, max / (2 * kmaxq - 1), xval, weight, waux, L, is_on_grid);
		scale = ggml_fixup(lt, nbc, 32, kmaxq, 1, scale, xval, weight, waux, L, is_on_grid);
		if (scale < 0) {
			scale = -scale;
			for (int k = 0; k < 4; k++)
				bsg[k] = (uint8_t)~bsg[k];
		}
		/* ggml advances its qs and signs pointers only past the
		 * sub-blocks it writes (not past those skipped above), while qh
		 * is indexed by the sub-block: the same here */
		for (int k = 0; k < 8; k++) {
			const int g = lat_index(lt, L + 4 * k);
			y->qs[qs_at + k] = (uint8_t)(g & 255);
			y->qh[ib] |= (uint8_t)((g >> 8) << k);
		}
		memcpy(y->signs + sg_at, bsg, 4);
		qs_at += 8;
		sg_at += 4;
		scales[ib] = scale;
		max_scale = maxf(max_scale, scale);
	}
	if (max_scale == 0.0f)
		return;
	const float d = max_scale / 31;
	y->d = to_fp16(d * 1.033f);
	const float id = 1 / d;
	for (int ib = 0; ib < 8; ib += 2) {
		const int l1 = maxi(0, mini(15, nearest_int(0.5f * (id * scales[ib] - 1))));
		const int l2 = maxi(0, mini(15, nearest_int(0.5f * (id * scales[ib + 1] - 1))));
		y->scales[ib / 2] = (uint8_t)(l1 | (l2 << 4));
	}
}

/* ------------------------------------------------------------------ */
/* The weighted search of the lattice formats                           */
/* ------------------------------------------------------------------ */

/* A lattice super-block: fp16 super-scale d, a scale code per sub-block,
 * a grid point per group of dim elements and a sign per element. The value
 * of element e is +-fl(db(d, s) * lv[level]) as the dequantizers compute
 * it. */
struct lstate {
	float d;
	uint8_t s[16];
	uint16_t g[64];
	uint8_t neg[QK_K];
};

struct lfmt {
	int lat;          /* lattice */
	int sub;          /* elements per scale */
	int parity;       /* signs stored as 7 bits per 8: the count must be even */
	int dbkind;       /* 0: d*(0.5+s)*0.25, 1: d*(0.5+s)*0.5, 2: d*(1+2s) */
	const float *lv;  /* level magnitudes */
	const float *ratio; /* start_trials' scale / RMS ratios */
	int nratio;
	int rounds;       /* of iq_search */
	void (*pack)(const struct lstate *st, void *blk);
};

static inline float lat_db(int kind, float d, int s)
{
	switch (kind) {
	case 0:
		return d * (0.5f + (float)s) * 0.25f;
	case 1:
		return d * (0.5f + (float)s) * 0.5f;
	default:
		return d * (float)(1 + 2 * s);
	}
}

/* The multiplier of d in db, as a real number (for least squares). */
static inline double lat_dbmul(int kind, int s)
{
	return kind == 0 ? (0.5 + s) * 0.25 : kind == 1 ? (0.5 + s) * 0.5 : 1.0 + 2 * s;
}

/* Whether a sub-block whose group errors are at least lb[0..n) (added in
 * that order to acc, the errors of the groups before) certainly reaches
 * bound: its error, a double sum of the same number of float terms each no
 * less than its lb, is then >= bound. The margin covers the rounding of
 * the two sums (each within 8 * 2^-53 relative: non-negative terms). Never
 * for an infinite bound (the codes are then wanted). */
static int lat_reaches(double acc, const float *lb, int n, double bound)
{
	if (!(bound < INFINITY))
		return 0;
	for (int k = 0; k < n; k++)
		acc += lb[k];
	return acc >= bound * (1 + 1e-12);
}

#if defined(__AVX2__)
/* The tables of cost4_lanes for elements 8h..8h+7 of a sub-block, out[8h + i]
 * lane l = src[32 l + 8h + i] (src: 8 levels x 32 elements), transposed the
 * first time (bit h of *done unset; then set) and kept. */
static inline void lat3_transpose_once(const float *src, int h, unsigned *done, qnt__v8f *out)
{
	if (*done & (1u << h))
		return;
	qnt__v8f in[8];
	for (int l = 0; l < 8; l++)
		memcpy(&in[l], src + 32 * l + 8 * h, sizeof in[l]);
	transpose8(in, out + 8 * h);
	*done |= 1u << h;
}
#endif

/* lat_sub_codes for the 3-bit lattices (dim 4, 8 levels, 32 elements per
 * scale): the per-element terms 8 elements per vector (the same float
 * operations), the list loops unrolled. Same result as lat_sub_codes, or
 * INFINITY (g, neg unset) when the lower bounds show it reaches bound. A
 * group whose nearest levels are a grid point and that needs no flip takes
 * that point (the first of its list, which no other point costs less than),
 * without the scan. */
static double lat_sub_codes3(const struct lfmt *f, const struct lattice *lt, const float *x, const float *w, float db,
			     uint16_t *g, uint8_t *neg, double bound)
{
	float vq[8], e[8][32], pv[8][32], em[32], lbk[8];
	qnt__v8f ax[4], wv[4], wax[4];
	/* with AVX2: per element the costs (te) and flip terms (tp) of its 8
	 * levels, the tables of cost4_lanes, transposed from e and pv per 8
	 * elements when a group there is scanned, and the lists scanned eight
	 * points at a time; without it (where GCC picks the lanes of
	 * cost4_lanes one at a time) the points one by one */
#if defined(__AVX2__)
	qnt__v8f te[32], tp[32];
	unsigned tdone = 0, pdone = 0;
	const uint16_t *nbc;
	get_lattice8(f->lat, &nbc);
#endif
	for (int l = 0; l < 8; l++)
		vq[l] = db * f->lv[l];
	uint8_t bl[32];
	for (int h = 0; h < 4; h++) {
		qnt__v8f xv;
		memcpy(&xv, x + 8 * h, sizeof xv);
		memcpy(&wv[h], w + 8 * h, sizeof wv[h]);
		qnt__v8i bits;
		memcpy(&bits, &xv, sizeof bits);
		bits &= 0x7fffffff;
		memcpy(&ax[h], &bits, sizeof ax[h]);
		wax[h] = wv[h] * ax[h];
		qnt__v8f emin = { 0, 0, 0, 0, 0, 0, 0, 0 };
		qnt__v8i bi = { 0, 0, 0, 0, 0, 0, 0, 0 };
		for (int l = 0; l < 8; l++) {
			const qnt__v8f r = ax[h] - vq[l];
			const qnt__v8f el = wv[h] * r * r;
			memcpy(&e[l][8 * h], &el, sizeof el);
			const qnt__v8f pl = wax[h] * vq[l];
			memcpy(&pv[l][8 * h], &pl, sizeof pl);
			if (l == 0) {
				emin = el;
			} else {
				const qnt__v8i lt_ = qnt__lt_v8f(el, emin);
				emin = qnt__select_v8f(lt_, el, emin);
				bi = (bi & ~lt_) | (lt_ & l);
			}
		}
		for (int i = 0; i < 8; i++)
			bl[8 * h + i] = (uint8_t)bi[i];
		memcpy(&em[8 * h], &emin, sizeof emin);
	}
	/* the cost of the nearest levels per group, in the scan's order */
	for (int k = 0; k < 8; k++) {
		float s = 0;
		s += em[4 * k];
		s += em[4 * k + 1];
		s += em[4 * k + 2];
		s += em[4 * k + 3];
		lbk[k] = s;
	}
	if (lat_reaches(0, lbk, 8, bound))
		return INFINITY;
	int odd[4];
	for (int h = 0; h < 4; h++)
		odd[h] = signs8(x + 8 * h, neg + 8 * h);
	double err = 0, acc = 0;
	int gc[8], gp[8], fp[8];
	float c[8], cp[8];
	for (int k = 0; k < 8; k++) {
		const int o = 4 * k;
		if (k > 0 && lat_reaches(acc, lbk + k, 8 - k, bound))
			return INFINITY;
		const uint32_t u = (uint32_t)bl[o] | ((uint32_t)bl[o + 1] << 3) | ((uint32_t)bl[o + 2] << 6) |
				   ((uint32_t)bl[o + 3] << 9);
		const int flip = f->parity && odd[o / 8];
		const int32_t m = lt->map[u];
		if (!flip && m >= 0 && lbk[k] < INFINITY) {
			c[k] = lbk[k];
			cp[k] = INFINITY;
			gc[k] = gp[k] = m;
			fp[k] = 0;
			acc += c[k];
			continue;
		}
#if defined(__AVX2__)
		const int32_t off = lt->alt[u];
		const uint16_t *list = lt->nb + off;
		const int nl = mini(list[0], IQ_LIST_CAP), h = k / 2;
		lat3_transpose_once(e[0], h, &tdone, te);
		const qnt__v8f *t = te + o;
		float ck = INFINITY, cpk = INFINITY;
		int gck = list[1], gpk = list[1], fpk = 0;
		if (!flip) {
			gck = cost8_best(lt, nbc, off, nl, t, &ck, gck);
		} else {
			lat3_transpose_once(pv[0], h, &pdone, tp);
			/* eight listed points at a time, each lane its cost and
			 * its cheapest flip (the first least w |x| v), then the
			 * first least of each below the best so far, as the scan
			 * in list order takes them */
			for (int j = 0; j < nl; j += 8) {
				const qnt__v8i code = cost8_codes(nbc, off, j);
				const qnt__v8f cc = cost4_lanes(t, code);
				qnt__v8f pm = splat8(INFINITY);
				qnt__v8i pi = { 0, 0, 0, 0, 0, 0, 0, 0 };
				for (int i = 0; i < 4; i++) {
					const qnt__v8f pvv = QNT__SHUF1(tp[o + i], code >> (3 * i));
					const qnt__v8i lt_ = qnt__lt_v8f(pvv, pm);
					pm = qnt__select_v8f(lt_, pvv, pm);
					pi = (lt_ & i) | (pi & ~lt_);
				}
				const qnt__v8f cf = cc + 4 * pm;
				qnt__v8i valid = { -1, -1, -1, -1, -1, -1, -1, -1 };
				if (nl - j < 8) {
					const qnt__v8i lane = { 0, 1, 2, 3, 4, 5, 6, 7 };
					valid = qnt__lt_v8i(lane, (qnt__v8i){ 0, 0, 0, 0, 0, 0, 0, 0 } + (nl - j));
				}
				const qnt__v8i bc = valid & qnt__lt_v8f(cc, splat8(ck));
				if (any8(bc)) {
					const int cix = first_min_lane(cc, bc);
					ck = cc[cix];
					gck = list[1 + j + cix];
				}
				const qnt__v8i bp = valid & qnt__lt_v8f(cf, splat8(cpk));
				if (any8(bp)) {
					const int cix = first_min_lane(cf, bp);
					cpk = cf[cix];
					gpk = list[1 + j + cix];
					fpk = pi[cix];
				}
			}
		}
#else
		const uint16_t *list = lt->nb + lt->alt[u];
		const int nl = mini(list[0], IQ_LIST_CAP);
		float ck = INFINITY, cpk = INFINITY;
		int gck = list[1], gpk = list[1], fpk = 0;
		const float *e0 = &e[0][o], *p0 = &pv[0][o];
		for (int j = 1; j <= nl; j++) {
			const int gg = list[j];
			const uint8_t *lv = lt->lev + 4 * gg;
			float cc = 0;
			cc += e0[32 * lv[0]];
			cc += e0[32 * lv[1] + 1];
			cc += e0[32 * lv[2] + 2];
			cc += e0[32 * lv[3] + 3];
			if (cc < ck) {
				ck = cc;
				gck = gg;
			}
			/* the flip costs 4 pm >= 0 (or NaN, never taken): only a
			 * point with cc < cpk can win */
			if (flip && !(cc >= cpk)) {
				float pm = INFINITY;
				int pi = 0;
				for (int i = 0; i < 4; i++) {
					const float pvi = p0[32 * lv[i] + i];
					if (pvi < pm) {
						pm = pvi;
						pi = i;
					}
				}
				if (cc + 4 * pm < cpk) {
					cpk = cc + 4 * pm;
					gpk = gg;
					fpk = pi;
				}
			}
		}
#endif
		c[k] = ck;
		cp[k] = cpk;
		gc[k] = gck;
		gp[k] = gpk;
		fp[k] = fpk;
		acc += ck;
	}
	if (!f->parity) {
		for (int k = 0; k < 8; k++) {
			g[k] = (uint16_t)gc[k];
			err += c[k];
		}
		return err;
	}
	/* parity per 8 elements: two groups of 4 */
	for (int k0 = 0; k0 < 8; k0 += 2) {
		if (!odd[k0 / 2]) {
			for (int k = k0; k < k0 + 2; k++) {
				g[k] = (uint16_t)gc[k];
				err += c[k];
			}
			continue;
		}
		int kf = k0;
		double bt = INFINITY;
		for (int k = k0; k < k0 + 2; k++) {
			double t = cp[k];
			for (int m = k0; m < k0 + 2; m++)
				if (m != k)
					t += c[m];
			if (t < bt) {
				bt = t;
				kf = k;
			}
		}
		for (int k = k0; k < k0 + 2; k++)
			g[k] = (uint16_t)(k == kf ? gp[k] : gc[k]);
		neg[4 * kf + fp[kf]] ^= 1;
		err += bt;
	}
	return err;
}

/* Codes of one sub-block for the exact scale db: per group the best point
 * among the candidates of the nearest levels (libqnt's lists: the point and
 * its ring, or ggml's neighbours), signs those of x, and where the parity
 * rule forbids that, the cheapest single flip. Writes g and neg; returns the
 * weighted error. */
static double lat_sub_codes(const struct lfmt *f, const struct lattice *lt, const float *x, const float *w, float db,
			    uint16_t *g, uint8_t *neg, double bound)
{
	if (lt->dim == 4 && lt->nlev == 8 && f->sub == 32) /* the 3-bit lattices */
		return lat_sub_codes3(f, lt, x, w, db, g, neg, bound);
	const int dim = lt->dim, nlev = lt->nlev, n = f->sub, ng = n / dim;
	float vq[8], ax[32], e[8][32];
	for (int l = 0; l < nlev; l++)
		vq[l] = db * f->lv[l];
	for (int i = 0; i < n; i++)
		ax[i] = fabsf(x[i]);
	for (int l = 0; l < nlev; l++)
		for (int i = 0; i < n; i++) {
			const float r = ax[i] - vq[l];
			e[l][i] = w[i] * r * r;
		}
	/* parity of the signs of x per 8 elements */
	int odd[4] = { 0, 0, 0, 0 };
	for (int h = 0; h < n / 8; h++)
		odd[h] = signs8(x + 8 * h, neg + 8 * h);
	double err = 0;
	int gc[8], gp[8], fp[8];
	float c[8], cp[8];
	for (int k = 0; k < ng; k++) {
		const int o = dim * k;
		uint32_t u = 0;
		for (int i = 0; i < dim; i++) {
			int bl = 0;
			for (int l = 1; l < nlev; l++)
				bl = e[l][o + i] < e[bl][o + i] ? l : bl;
			u |= (uint32_t)bl << (lt->bits * i);
		}
		const uint16_t *list = lt->nb + lt->alt[u];
		const int flip = f->parity && odd[o / 8], nl = mini(list[0], IQ_LIST_CAP);
		c[k] = cp[k] = INFINITY;
		gc[k] = gp[k] = list[1];
		fp[k] = 0;
		for (int j = 1; j <= nl; j++) {
			const int gg = list[j];
			const uint8_t *lv = lt->lev + dim * gg;
			float cc = 0;
			for (int i = 0; i < dim; i++)
				cc += e[lv[i]][o + i];
			if (cc < c[k]) {
				c[k] = cc;
				gc[k] = gg;
			}
			if (flip) {
				float pm = INFINITY;
				int pi = 0;
				for (int i = 0; i < dim; i++) {
					const float pv = w[o + i] * ax[o + i] * vq[lv[i]];
					if (pv < pm) {
						pm = pv;
						pi = i;
					}
				}
				if (cc + 4 * pm < cp[k]) {
					cp[k] = cc + 4 * pm;
					gp[k] = gg;
					fp[k] = pi;
				}
			}
		}
	}
	if (!f->parity) {
		for (int k = 0; k < ng; k++) {
			g[k] = (uint16_t)gc[k];
			err += c[k];
		}
		return err;
	}
	/* parity per 8 elements: one group of 8, or two groups of 4 */
	const int gpe = 8 / dim; /* groups per 8 */
	for (int k0 = 0; k0 < ng; k0 += gpe) {
		if (!odd[dim * k0 / 8]) {
			for (int k = k0; k < k0 + gpe; k++) {
				g[k] = (uint16_t)gc[k];
				err += c[k];
			}
			continue;
		}
		/* flip in group kf, the others at their best */
		int kf = k0;
		double bt = INFINITY;
		for (int k = k0; k < k0 + gpe; k++) {
			double t = cp[k];
			for (int m = k0; m < k0 + gpe; m++)
				if (m != k)
					t += c[m];
			if (t < bt) {
				bt = t;
				kf = k;
			}
		}
		for (int k = k0; k < k0 + gpe; k++)
			g[k] = (uint16_t)(k == kf ? gp[k] : gc[k]);
		neg[dim * kf + fp[kf]] ^= 1;
		err += bt;
	}
	return err;
}

/* Error of one sub-block of a state with its own codes, for the scale db,
 * and in num, den the sums sum w q x, sum w q^2 (q the signed level) of
 * the least-squares scale of those codes: one walk over the levels. */
static double lat_sub_err(const struct lfmt *f, const struct lattice *lt, const float *x, const float *w, float db,
			  const uint16_t *g, const uint8_t *neg, double *num, double *den)
{
	double err = 0, sn = 0, sd = 0;
	const int dim = lt->dim;
	for (int i = 0; i < f->sub; i++) {
		const float l = f->lv[lat_level(lt, g[i / dim], i % dim)];
		const float v = db * l;
		const double y = neg[i] ? -(double)v : (double)v;
		const double r = (double)x[i] - y;
		err += (double)w[i] * r * r;
		const double q = (neg[i] ? -1.0 : 1.0) * l;
		sn += (double)w[i] * q * x[i];
		sd += (double)w[i] * q * q;
	}
	*num = sn;
	*den = sd;
	return err;
}

/* The scale codes worth trying for sub-block j: the current one +-1 and the
 * two around the least-squares scale num / den of the current codes. */
static int lat_scale_cands(const struct lfmt *f, const struct lstate *st, int j, double num, double den, int *cand)
{
	int n = 0;
	const int sc = st->s[j];
	for (int s = sc - IQ_SCALE_STEP; s <= sc + IQ_SCALE_STEP; s++)
		if (s >= 0 && s <= 15)
			cand[n++] = s;
	if (den > 0 && st->d != 0.0f) {
		const double db = num / den;
		/* invert db = d * m(s) */
		double t;
		if (f->dbkind == 2)
			t = (db / st->d - 1) / 2;
		else
			t = db / (st->d * (f->dbkind == 0 ? 0.25 : 0.5)) - 0.5;
		if (t > -1 && t < 17) {
			const int lo = (int)floor(t);
			for (int s = lo; s <= lo + 1; s++) {
				if (s < 0 || s > 15)
					continue;
				int dup = 0;
				for (int m = 0; m < n; m++)
					dup |= cand[m] == s;
				if (!dup)
					cand[n++] = s;
			}
		}
	}
	return n;
}

/* For the state's d: per sub-block the best scale code among the candidates
 * with re-chosen codes, or the current codes if none is better. Returns the
 * total error (sum of the sub-block errors). */
static double lat_pass(const struct lfmt *f, const struct lattice *lt, const float *x, const float *w,
		       struct lstate *st, double *serr)
{
	const int dim = lt->dim, nsub = QK_K / f->sub;
	double total = 0;
	uint16_t g[64];
	uint8_t neg[32];
	for (int j = 0; j < nsub; j++) {
		const int o = j * f->sub;
		double num, den;
		double best = lat_sub_err(f, lt, x + o, w + o, lat_db(f->dbkind, st->d, st->s[j]), st->g + o / dim,
					  st->neg + o, &num, &den);
		int cand[5];
		const int nc = lat_scale_cands(f, st, j, num, den, cand);
		for (int c = 0; c < nc; c++) {
			const double e = lat_sub_codes(f, lt, x + o, w + o, lat_db(f->dbkind, st->d, cand[c]), g, neg, best);
			if (e < best) {
				best = e;
				st->s[j] = (uint8_t)cand[c];
				memcpy(st->g + o / dim, g, sizeof g[0] * (size_t)(f->sub / dim));
				memcpy(st->neg + o, neg, (size_t)f->sub);
			}
		}
		if (serr)
			serr[j] = best;
		total += best;
	}
	return total;
}

/* Least-squares super-scale for the state's codes and scale codes. */
static double lat_lsq_d(const struct lfmt *f, const struct lattice *lt, const struct lstate *st, const float *x,
			const float *w)
{
	const int dim = lt->dim;
	double num = 0, den = 0;
	for (int e = 0; e < QK_K; e++) {
		const double q = (st->neg[e] ? -1.0 : 1.0) * lat_dbmul(f->dbkind, st->s[e / f->sub]) *
				 f->lv[lat_level(lt, st->g[e / dim], e % dim)];
		num += (double)w[e] * q * x[e];
		den += (double)w[e] * q * q;
	}
	return den > 0 ? num / den : 0.0;
}

/* ---- the search shared by the lattice and the 1-bit formats ---- */

/* The steps of a format's search on its state (struct lstate or struct
 * l1state; the first member of both is the super-scale float d). */
struct search_ops {
	size_t size;   /* of the state */
	int top;       /* the largest scale code */
	void (*pack)(const void *f, const void *st, void *blk);
	/* the start: super-scale, scale codes and codes (start_scales) */
	void (*start)(const void *f, const float *x, const float *w, void *st);
	/* a pass over the sub-blocks (scale codes and codes); the error */
	double (*pass)(const void *f, const float *x, const float *w, void *st);
	/* the largest least-squares scale of a sub-block for the state's codes */
	double (*sub_amax)(const void *f, const float *x, const float *w, const void *st);
	double (*dbmul)(const void *f, int s); /* the multiplier of d for scale code s */
	double (*lsq_d)(const void *f, const void *st, const float *x, const float *w);
};

/* A super-block of iq1: fp16 super-scale d, 3-bit scale codes s (per 32 for
 * iq1_s, per 16 for iq1_m), a grid point and a delta sign (1: -delta) per
 * group of 8 (iq1_s: the same for the 4 groups of a sub-block). The value
 * of an element is fl(fl(d * (2s+1)) * (level + delta)). */
struct l1state {
	float d;
	uint8_t s[16];
	uint8_t sh[32];
	uint16_t g[32];
};

union search_state {
	struct lstate l;
	struct l1state m;
};

static inline float *state_d(void *st)
{
	return (float *)st; /* the first member */
}

/* ---- the start of the search ---- */

/* The trial scales of a sub-block of n elements: its weighted RMS
 * sqrt(sum w x^2 / sum w) times each of the format's ratios (measured
 * medians of the least-squares scale over the RMS, and values around them),
 * and the scale that puts its largest weighted |x| on the top level top
 * (for heavy tails, where the RMS says little). None when the sub-block has
 * no weight or only zeros there. */
static int start_trials(const float *x, const float *w, int n, const float *ratio, int nratio, float top, float *db)
{
	double sx = 0, sw = 0;
	float amax = 0;
	for (int i = 0; i < n; i++) {
		sx += (double)w[i] * x[i] * x[i];
		sw += w[i];
		if (w[i] > 0)
			amax = maxf(amax, fabsf(x[i]));
	}
	if (!(sx > 0) || !(sw > 0) || !(sx < INFINITY))
		return 0;
	const double rms = sqrt(sx / sw);
	int nt = 0;
	for (int r = 0; r < nratio; r++)
		db[nt++] = (float)(ratio[r] * rms);
	db[nt++] = amax / top;
	return nt;
}

/* The codes of a sub-block for scale db (lat_sub_codes, lat8_sub_codes,
 * l1_sub_codes behind a descriptor f of their format): a grid point per
 * group in g, a flag per element (lattices: signs) or group (iq1: delta
 * signs) in flags; the error, INFINITY (g, flags unset) when it reaches
 * bound. */
typedef double (*start_codes_fn)(const void *f, const struct lattice *lt, const uint16_t *nbc, const float *x,
				 const float *w, float db, uint16_t *g, uint8_t *flags, double bound);

/* The codes of the best of the nt trial scales tr[] into g[0..ng),
 * flags[0..nf) (zeros without a trial); returns that scale, 0 without a
 * trial. */
static float start_best(const void *f, const struct lattice *lt, const uint16_t *nbc, start_codes_fn codes,
			const float *x, const float *w, const float *tr, int nt, uint16_t *g, int ng, uint8_t *flags,
			int nf)
{
	uint16_t tg[16];
	uint8_t tf[32];
	memset(g, 0, sizeof g[0] * (size_t)ng);
	memset(flags, 0, (size_t)nf);
	double best = INFINITY;
	float bdb = 0;
	for (int k = 0; k < nt; k++) {
		const double e = codes(f, lt, nbc, x, w, tr[k], tg, tf, best);
		if (e < best) {
			best = e;
			bdb = tr[k];
			memcpy(g, tg, sizeof g[0] * (size_t)ng);
			memcpy(flags, tf, (size_t)nf);
		}
	}
	return bdb;
}

/* The scale code nearest to the scale db for super-scale d (dbkind as
 * lat_db; the 1-bit formats' d*(2s+1) is kind 2), clamped to 0..top. */
static inline int near_code(int kind, int top, double d, double db)
{
	const double t = kind == 2 ? (db / d - 1) / 2 : db / (d * (kind == 0 ? 0.25 : 0.5)) - 0.5;
	if (!(t > 0))
		return 0;
	return t >= top ? top : (int)floor(t + 0.5);
}

/* The super-scale and the scale codes s[] for the sub-blocks' scales
 * db[0..nsub): with its codes kept, sub-block j's error grows by
 * cv[j] * (scale - db[j])^2 (db[j] is its least-squares scale and cv[j]
 * the curvature there), so the super-scale is the one among db[k] / m(s)
 * that minimises the sum of those terms with each sub-block at its nearest
 * code. The candidates: every sub-block at the top code, and the largest
 * also at the three codes below it (its scale clipped or not); one beyond
 * fp16's range is its largest finite value, one below it its smallest
 * (2^-24). 0 when no sub-block has a scale. */
static float start_scales(int kind, int top, int nsub, const double *db, const double *cv, uint8_t *s)
{
	int km = 0;
	for (int k = 1; k < nsub; k++)
		if (db[k] > db[km])
			km = k;
	double best = INFINITY;
	float bd = 0;
	for (int k = 0; k < nsub; k++) {
		if (!(db[k] > 0))
			continue;
		/* where the largest scale's super-scale at the top code is an
		 * fp16 subnormal, that sub-block at every code */
		const int lo = k != km ? top : db[km] / lat_dbmul(kind, top) < 0x1p-14 ? 0 : top - 3;
		for (int c = lo; c <= top; c++) {
			float d = from_fp16(to_fp16((float)(db[k] / lat_dbmul(kind, c))));
			if (d == INFINITY)
				d = 65504.0f;
			if (d == 0.0f)
				d = 0x1p-24f;
			if (!(d > 0))
				continue;
			double v = 0;
			for (int j = 0; j < nsub && v < best; j++) {
				if (!(db[j] > 0))
					continue;
				const double e = lat_dbmul(kind, near_code(kind, top, d, db[j])) * d - db[j];
				v += cv[j] * e * e;
			}
			if (v < best) {
				best = v;
				bd = d;
			}
		}
	}
	for (int j = 0; j < nsub; j++)
		s[j] = (uint8_t)(bd > 0 && db[j] > 0 ? near_code(kind, top, bd, db[j]) : 0);
	return bd;
}

/* The search: the format's start, a pass over the sub-blocks (scale codes
 * and codes for the start's super-scale); with rounds > 0, one pass for
 * each of IQ_DSCAN super-scales that give the sub-block with the largest
 * least-squares scale the top code(s), and up to rounds - 1 passes at the
 * least-squares super-scale while they gain; the best state packed into
 * blk, or a block of zeros (d 0) where that has the lower error (values
 * below what the format's smallest scales reach) or the start has no
 * super-scale (no weight on a value). */
static void iq_search(const struct search_ops *ops, const void *f, const float *x, const float *w, void *blk,
		      int rounds)
{
	const int full = rounds > 0;
	union search_state st, t;
	ops->start(f, x, w, &st);
	const float *d = state_d(&st);
	if (!(*d > 0) || !(*d < INFINITY)) {
		*state_d(&st) = 0;
		ops->pack(f, &st, blk);
		return;
	}
	double cur = ops->pass(f, x, w, &st);
	const double amax = full ? ops->sub_amax(f, x, w, &st) : 0;
	double zero = 0;
	for (int e = 0; e < QK_K; e++)
		zero += (double)w[e] * x[e] * x[e];
	for (int sm = ops->top; sm > ops->top - IQ_DSCAN && amax > 0; sm--) {
		const float dv = from_fp16(to_fp16((float)(amax / ops->dbmul(f, sm))));
		if (!(dv > 0) || !(dv < INFINITY) || dv == *d)
			continue;
		memcpy(&t, &st, ops->size);
		*state_d(&t) = dv;
		const double e = ops->pass(f, x, w, &t);
		if (e < cur) {
			cur = e;
			memcpy(&st, &t, ops->size);
		}
	}
	for (int it = 1; it < rounds; it++) {
		const float dv = from_fp16(to_fp16((float)ops->lsq_d(f, &st, x, w)));
		if (!(dv > 0) || !(dv < INFINITY) || dv == *d)
			break;
		memcpy(&t, &st, ops->size);
		*state_d(&t) = dv;
		const double e = ops->pass(f, x, w, &t);
		if (!(e < cur))
			break;
		cur = e;
		memcpy(&st, &t, ops->size);
	}
	if (!(cur < zero))
		*state_d(&st) = 0;
	ops->pack(f, &st, blk);
}

/* The steps of the lattice formats (lat8_* below for the 8-element grids). */
static void lat_pack(const void *f, const void *st, void *blk)
{
	((const struct lfmt *)f)->pack(st, blk);
}

/* The start of a lattice format: per sub-block the codes of the best of
 * start_trials' scales and their least-squares scale, then start_scales. */
static void lat_start_with(const struct lfmt *f, const struct lattice *lt, const uint16_t *nbc, start_codes_fn codes,
			   const float *x, const float *w, struct lstate *st)
{
	const int nsub = QK_K / f->sub, ng = f->sub / lt->dim;
	double db[16], cv[16];
	for (int j = 0; j < nsub; j++) {
		const int o = j * f->sub;
		float tr[8];
		const int nt = start_trials(x + o, w + o, f->sub, f->ratio, f->nratio, f->lv[lt->nlev - 1], tr);
		const float bdb = start_best(f, lt, nbc, codes, x + o, w + o, tr, nt, st->g + j * ng, ng, st->neg + o,
					     f->sub);
		double num = 0, den = 0;
		if (bdb > 0)
			lat_sub_err(f, lt, x + o, w + o, bdb, st->g + j * ng, st->neg + o, &num, &den);
		db[j] = den > 0 && num > 0 ? num / den : bdb;
		cv[j] = den;
	}
	st->d = start_scales(f->dbkind, 15, nsub, db, cv, st->s);
}
static double lat_codes4(const void *f, const struct lattice *lt, const uint16_t *nbc, const float *x,
			 const float *w, float db, uint16_t *g, uint8_t *neg, double bound)
{
	(void)nbc;
	return lat_sub_codes(f, lt, x, w, db, g, neg, bound);
}
static void lat_start(const void *fv, const float *x, const float *w, void *st)
{
	const struct lfmt *f = fv;
	lat_start_with(f, get_lattice(f->lat), NULL, lat_codes4, x, w, st);
}
static double lat_pass_v(const void *fv, const float *x, const float *w, void *st)
{
	const struct lfmt *f = fv;
	return lat_pass(f, get_lattice(f->lat), x, w, st, NULL);
}
static double lat_sub_amax(const void *fv, const float *x, const float *w, const void *sv)
{
	const struct lfmt *f = fv;
	const struct lattice *lt = get_lattice(f->lat);
	const struct lstate *st = sv;
	double amax = 0;
	for (int j = 0; j < QK_K / f->sub; j++) {
		double num = 0, den = 0;
		for (int i = j * f->sub; i < (j + 1) * f->sub; i++) {
			const double q = f->lv[lat_level(lt, st->g[i / lt->dim], i % lt->dim)];
			num += (double)w[i] * q * fabsf(x[i]);
			den += (double)w[i] * q * q;
		}
		if (den > 0 && num / den > amax)
			amax = num / den;
	}
	return amax;
}
static double lat_dbmul_v(const void *f, int s)
{
	return lat_dbmul(((const struct lfmt *)f)->dbkind, s);
}
static double lat_lsq_d_v(const void *fv, const void *st, const float *x, const float *w)
{
	const struct lfmt *f = fv;
	return lat_lsq_d(f, get_lattice(f->lat), st, x, w);
}

static const struct search_ops R_LAT = { sizeof(struct lstate), 15, lat_pack, lat_start, lat_pass_v,
					 lat_sub_amax, lat_dbmul_v, lat_lsq_d_v };

/* ---- iq3_xxs and iq3_s: state -> bytes ---- */

static void pack_iq3_xxs(const struct lstate *st, void *blk)
{
	struct blk_iq3_xxs *b = blk;
	b->d = to_fp16(st->d);
	for (int ib = 0; ib < 8; ib++) {
		uint32_t aux = (uint32_t)st->s[ib] << 28;
		for (int l = 0; l < 4; l++)
			for (int j = 0; j < 7; j++)
				aux |= (uint32_t)st->neg[32 * ib + 8 * l + j] << (7 * l + j);
		wr32(b->qs + 64 + 4 * ib, aux);
		for (int k = 0; k < 8; k++)
			b->qs[8 * ib + k] = (uint8_t)st->g[8 * ib + k];
	}
}

static void pack_iq3_s(const struct lstate *st, void *blk)
{
	struct blk_iq3_s *b = blk;
	memset(b, 0, sizeof *b);
	b->d = to_fp16(st->d);
	for (int ib = 0; ib < 8; ib++) {
		b->scales[ib / 2] |= (uint8_t)(st->s[ib] << (4 * (ib % 2)));
		for (int k = 0; k < 8; k++) {
			b->qs[8 * ib + k] = (uint8_t)(st->g[8 * ib + k] & 255);
			b->qh[ib] |= (uint8_t)((st->g[8 * ib + k] >> 8) << k);
		}
		for (int e = 0; e < 32; e++)
			b->signs[4 * ib + e / 8] |= (uint8_t)(st->neg[32 * ib + e] << (e % 8));
	}
}

/* The start's trial scales per sub-block as ratios to its weighted RMS,
 * around the median m of the least-squares scale over the RMS (measured on
 * blocks of the search on N(0,1) rows with log-normal importance): 0.8 m,
 * m and 1.25 m, or 0.9 m and 1.12 m (iq3_s, iq1_s), or m (iq1_m); with the
 * trial at the largest |x| that makes 2-4 trials. Fewer trials and rounds
 * where one more did not pay for its time (bench/bench_quant.py, Gaussian
 * and Student-t rows): 3x ggml's imatrix quantizer's speed is the aim. */
static const float ratio_iq3xxs[] = { 0.0302f, 0.0378f, 0.0473f };
static const float ratio_iq3s[] = { 0.14f, 0.175f };
static const struct lfmt F_IQ3XXS = { LAT_IQ3XXS, 32, 1, 1, lv_iq3xxs, ratio_iq3xxs, 3, 1, pack_iq3_xxs };
static const struct lfmt F_IQ3S = { LAT_IQ3S, 32, 0, 2, lv_iq3s, ratio_iq3s, 2, 1, pack_iq3_s };

/* The driver shared by the lattice and the 1-bit formats: a format (its
 * descriptor `fmt`), its search, and ggml's quantizer without an imatrix
 * (NULL for iq2_xxs, iq2_xs and iq1_s, which ggml quantizes only with one). */
typedef void (*iq_ggml_fn)(const float *x, void *blk);

struct iq_driver {
	const void *fmt;
	size_t bytes;
	void (*search)(const void *fmt, const float *x, const float *w, void *blk);
	iq_ggml_fn ggml;
	void (*deq)(const void *src, float *y, int64_t n);
};

/* The block for no importance: ggml's, or the search with uniform weights. */
static void iq_noimp(const struct iq_driver *d, const float *x, const float *ones, void *blk)
{
	if (d->ggml)
		d->ggml(x, blk);
	else
		d->search(d->fmt, x, ones, blk);
}

/* Whether every weighted |x| of a block is below 2^-12: the formats'
 * super-scales are then among fp16's smallest subnormals (2^-20 and
 * below), whose few steps the search can miss where the no-importance
 * block does not (rows of N(0, 1e-12): iq2_s up to 1.5x worse with
 * importance than without it). */
static int iq_tiny(const float *x, const float *w)
{
	for (int e = 0; e < QK_K; e++)
		if (w[e] > 0 && !(fabsf(x[e]) < 0x1p-12f))
			return 0;
	return 1;
}

/* The exact weighted error of a block's bytes. */
static double iq_err(const struct iq_driver *d, const void *blk, const float *x, const float *w)
{
	float y[QK_K];
	d->deq(blk, y, QK_K);
	return qnt__wsse(QK_K, x, y, w);
}

/* Per block: with importance (not all zero there) the search, on tiny
 * blocks (iq_tiny) the no-importance block where its error is lower;
 * without, ggml's bytes, or for the formats ggml has no such path for the
 * search with uniform weights. */
static void quant_iq_rows(const struct iq_driver *d, const float *src, void *dst, int64_t nrows, int64_t n,
			  const float *imp)
{
	unsigned char *out = dst;
	float ones[QK_K];
	for (int i = 0; i < QK_K; i++)
		ones[i] = 1.0f;
	for (int64_t r = 0; r < nrows; r++) {
		const float *x = src + r * n;
		for (int64_t i = 0; i < n / QK_K; i++, out += d->bytes) {
			const float *xb = x + i * QK_K, *wb = imp ? imp + i * QK_K : NULL;
			if (!wb || all_zero(wb, QK_K)) {
				iq_noimp(d, xb, ones, out);
				continue;
			}
			d->search(d->fmt, xb, wb, out);
			if (iq_tiny(xb, wb)) {
				unsigned char alt[MAX_BLK_BYTES];
				iq_noimp(d, xb, ones, alt);
				if (iq_err(d, alt, xb, wb) < iq_err(d, out, xb, wb))
					memcpy(out, alt, d->bytes);
			}
		}
	}
}

/* ---- drivers of the lattice formats ---- */

static void lat_search_v(const void *f, const float *x, const float *w, void *blk)
{
	iq_search(&R_LAT, f, x, w, blk, ((const struct lfmt *)f)->rounds);
}

static void g_iq3_xxs(const float *x, void *blk)
{
	ggml_iq3_xxs(x, blk);
}
static void g_iq3_s(const float *x, void *blk)
{
	ggml_iq3_s(x, blk);
}

static const struct iq_driver D_IQ3XXS = { &F_IQ3XXS, sizeof(struct blk_iq3_xxs), lat_search_v, g_iq3_xxs, deq_iq3_xxs };
static const struct iq_driver D_IQ3S = { &F_IQ3S, sizeof(struct blk_iq3_s), lat_search_v, g_iq3_s, deq_iq3_s };

static void quant_iq3_xxs(const float *src, void *dst, int64_t nrows, int64_t n, const float *imp)
{
	quant_iq_rows(&D_IQ3XXS, src, dst, nrows, n, imp);
}
static void quant_iq3_s(const float *src, void *dst, int64_t nrows, int64_t n, const float *imp)
{
	quant_iq_rows(&D_IQ3S, src, dst, nrows, n, imp);
}


/* From the costs e0, e1, e2 of the three levels (lanes = the 8 elements of
 * a group): the tables t of cost8_lanes (a transpose by shuffles). */
static inline void cost8_tables(qnt__v8f e0, qnt__v8f e1, qnt__v8f e2, qnt__v8f *t)
{
	const qnt__v8f a0 = __builtin_shufflevector(e0, e1, 0, 8, 1, 9, 2, 10, 3, 11);
	const qnt__v8f a1 = __builtin_shufflevector(e0, e1, 4, 12, 5, 13, 6, 14, 7, 15);
	const qnt__v8f b0 = __builtin_shufflevector(e2, e0, 0, 8, 1, 9, 2, 10, 3, 11);
	const qnt__v8f b1 = __builtin_shufflevector(e2, e0, 4, 12, 5, 13, 6, 14, 7, 15);
#define QNT__T8(A, B, j) __builtin_shufflevector(A, B, 2 * (j), 2 * (j) + 1, 8 + 2 * (j), 9 + 2 * (j), 2 * (j), \
						 2 * (j) + 1, 8 + 2 * (j), 9 + 2 * (j))
	t[0] = QNT__T8(a0, b0, 0);
	t[1] = QNT__T8(a0, b0, 1);
	t[2] = QNT__T8(a0, b0, 2);
	t[3] = QNT__T8(a0, b0, 3);
	t[4] = QNT__T8(a1, b1, 0);
	t[5] = QNT__T8(a1, b1, 1);
	t[6] = QNT__T8(a1, b1, 2);
	t[7] = QNT__T8(a1, b1, 3);
#undef QNT__T8
}

/* The first cheapest of the levels with costs e0, e1, e2 (lanes = the 8
 * elements of a group): their costs returned, the levels in *bl. */
static inline qnt__v8f cost8_min(qnt__v8f e0, qnt__v8f e1, qnt__v8f e2, qnt__v8i *bl)
{
	const qnt__v8i m1 = qnt__lt_v8f(e1, e0);
	const qnt__v8f c01 = qnt__select_v8f(m1, e1, e0);
	const qnt__v8i m2 = qnt__lt_v8f(e2, c01);
	*bl = (m2 & 2) | (~m2 & m1 & 1);
	return qnt__select_v8f(m2, e2, c01);
}

/* cost8_tables, and the packed code of the first cheapest level of each
 * element (returned) and in *lb the cost of those levels, 0.0f + the minima
 * in element order: the sum cost8_lanes makes for that code, and no code
 * costs less (each term is the least, and rounding is monotone). NaN costs
 * give a NaN *lb. */
static inline uint32_t cost8_prep(qnt__v8f e0, qnt__v8f e1, qnt__v8f e2, qnt__v8f *t, float *lb)
{
	cost8_tables(e0, e1, e2, t);
	qnt__v8i bl;
	const qnt__v8f mn = cost8_min(e0, e1, e2, &bl);
	const qnt__v4i q = __builtin_shufflevector(bl, bl, 0, 2, 4, 6) | (__builtin_shufflevector(bl, bl, 1, 3, 5, 7) << 2);
	float sum = 0.0f;
	for (int i = 0; i < 8; i++)
		sum += mn[i];
	*lb = sum;
	return (uint32_t)(q[0] | (q[1] << 4) | (q[2] << 8) | (q[3] << 12));
}

/* cost8_prep's code and lower bound of eight groups at once, from their
 * cost8_min (mn[k], bl[k]): u[k] the packed levels of group k, lb[k] =
 * 0.0f + its minima in element order (lane k of the sum of the transposed
 * minima, added in that order). */
static inline void cost8_pack(const qnt__v8f *mn, const qnt__v8i *bl, uint32_t *u, float *lb)
{
	qnt__v8f tm[8], in[8], tb[8];
	qnt__v8i b[8];
	transpose8(mn, tm);
	memcpy(in, bl, sizeof in);
	transpose8(in, tb);
	memcpy(b, tb, sizeof b);
	const qnt__v8f acc = splat8(0.0f) + tm[0] + tm[1] + tm[2] + tm[3] + tm[4] + tm[5] + tm[6] + tm[7];
	const qnt__v8i code = b[0] | b[1] << 2 | b[2] << 4 | b[3] << 6 | b[4] << 8 | b[5] << 10 | b[6] << 12 |
			      b[7] << 14;
	memcpy(u, &code, sizeof code);
	memcpy(lb, &acc, sizeof acc);
}

/* The OR of the eight lanes of v. */
static inline uint32_t hor8(qnt__v8i v)
{
	const qnt__v4i h = __builtin_shufflevector(v, v, 0, 1, 2, 3) | __builtin_shufflevector(v, v, 4, 5, 6, 7);
	return (uint32_t)((h[0] | h[2]) | (h[1] | h[3]));
}


/* ggml's iq2_find_best_neighbour for the 8-element grids (iq2_*): the
 * first point of the list with the least weighted distance (its first
 * point if all are NaN), eight points at a time; returns its grid index. */
static int ggml_best_neighbour8(const struct lattice *lt, const uint16_t *nbc, int32_t off, const float *xval,
				const float *weight, float scale)
{
	qnt__v8f t[8];
#if defined(__AVX__)
	/* the terms of the 8 elements at once (lanes = elements), then
	 * transposed (the shuffles of cost8_tables, slower than the scalar
	 * terms where GCC splits them into 16-byte halves) */
	qnt__v8f xv, wv;
	memcpy(&xv, xval, sizeof xv);
	memcpy(&wv, weight, sizeof wv);
	const qnt__v8f d0 = scale * 1.0f - xv, d1 = scale * 3.0f - xv, d2 = scale * 5.0f - xv;
	cost8_tables(wv * d0 * d0, wv * d1 * d1, wv * d2 * d2, t);
#else
	for (int i = 0; i < 8; i++) {
		float c[3];
		for (int l = 0; l < 3; l++) {
			const float diff = scale * (float)(2 * l + 1) - xval[i];
			c[l] = weight[i] * diff * diff;
		}
		cost8_set(t, i, c[0], c[1], c[2]);
	}
#endif
	float best = FLT_MAX;
	int gi = cost8_best(lt, nbc, off, lt->nb[off], t, &best, -1);
	if (gi < 0)
		gi = lt->nb[off + 1];
	return gi;
}

/* ggml's scan of trial scales (see ggml_scan3) for the 8-element grids,
 * with ggml_best_neighbour8: the codes of a trial eight elements at a time (lanes = elements), the sums of
 * eight trials at a time (lanes = trials, each summed over the elements in
 * order), so every value is ggml's. */
static float ggml_scan8(const struct lattice *lt, const uint16_t *nbc, int n, int kmaxq, int is_lo, int is_hi,
			float step, float max, float scale, const float *xval, const float *weight, const float *waux,
			int8_t *L, int *is_on_grid)
{
	const int ng = n / 8, nt = is_hi - is_lo + 1, ntr = (nt + 7) & ~7;
	const qnt__v8i sh = { 0, 2, 4, 6, 8, 10, 12, 14 };
	uint16_t code[24][4]; /* the grid point's code per trial and group */
	uint8_t on_aux[24][4];
	qnt__v8f qv[4][24]; /* 2 l + 1 per group and trial (lanes = elements) */
	float sqx[24], sq2[24], sct[24];
	int32_t mt[24][4];
	/* the nearest levels of every trial and group first, then their
	 * entries of map, then the lists of the points off the grid: the
	 * tables (2^16 entries, lists of up to a few hundred) are mostly
	 * outside L1 and L2, and so their loads start together */
	for (int t = 0; t < nt; t++) {
		const float id = ((float)(2 * kmaxq - 1) + (float)(is_lo + t) * step) / max;
		sct[t] = 1 / id;
		for (int k = 0; k < ng; k++) {
			qnt__v8f xk;
			memcpy(&xk, xval + 8 * k, sizeof xk);
			const qnt__v8i l = qnt__clamp_v8i(qnt__nearest_int_v8(0.5f * (id * xk - 1.0f)), 0, kmaxq - 1);
			mt[t][k] = (int32_t)hor8(l << sh);
			__builtin_prefetch(lt->map + mt[t][k]);
		}
	}
	for (int t = 0; t < nt; t++)
		for (int k = 0; k < ng; k++) {
			const int32_t m = lt->map[mt[t][k]];
			code[t][k] = (uint16_t)mt[t][k];
			mt[t][k] = m;
			if (m < 0) {
				__builtin_prefetch(lt->nb + (-m - 1));
				__builtin_prefetch(nbc + (-m - 1));
			}
		}
	for (int t = 0; t < nt; t++) {
		for (int k = 0; k < ng; k++) {
			const int32_t m = mt[t][k];
			uint32_t u = code[t][k];
			on_aux[t][k] = m >= 0;
			if (m < 0)
				u = lt->codes[ggml_best_neighbour8(lt, nbc, -m - 1, xval + 8 * k, waux + 8 * k, sct[t])];
			code[t][k] = (uint16_t)u;
			const qnt__v8i lv = ((qnt__v8i){ 0, 0, 0, 0, 0, 0, 0, 0 } + (int32_t)u) >> sh & 3;
			qv[k][t] = __builtin_convertvector(2 * lv + 1, qnt__v8f);
		}
	}
	for (int k = 0; k < ng; k++)
		for (int t = nt; t < ntr; t++)
			qv[k][t] = splat8(1.0f);
	for (int t0 = 0; t0 < nt; t0 += 8) {
		qnt__v8f sx = splat8(0.0f), s2 = splat8(0.0f);
		for (int k = 0; k < ng; k++) {
			qnt__v8f q[8];
			transpose8(qv[k] + t0, q);
			for (int i = 0; i < 8; i++) {
				const float w = weight[8 * k + i], wx = xval[8 * k + i];
				sx += w * wx * q[i];
				s2 += w * q[i] * q[i];
			}
		}
		memcpy(sqx + t0, &sx, sizeof sx);
		memcpy(sq2 + t0, &s2, sizeof s2);
	}
	float best = 0;
	int bt = -1;
	for (int t = 0; t < nt; t++) {
		if (sq2[t] > 0 && sqx[t] * sqx[t] > best * sq2[t]) {
			scale = sqx[t] / sq2[t];
			best = scale * sqx[t];
			bt = t;
		}
	}
	if (bt >= 0) {
		for (int k = 0; k < ng; k++) {
			for (int i = 0; i < 8; i++)
				L[8 * k + i] = (int8_t)(code[bt][k] >> (2 * i) & 3);
			is_on_grid[k] = on_aux[bt][k];
		}
	}
	return scale;
}

/* ggml_fixup for the 8-element grids, with ggml_best_neighbour8. */
static float ggml_fixup8(const struct lattice *lt, const uint16_t *nbc, int n, int kmaxq, int all, float scale, const float *xval,
			 const float *weight, const float *waux, int8_t *L, const int *is_on_grid)
{
	const int ng = n / 8;
	int n_off = 0;
	if (all != 2)
		for (int k = 0; k < ng; k++)
			n_off += !is_on_grid[k];
	if (!((all == 2 || n_off > 0) && scale > 0))
		return scale;
	const float id = 1 / scale;
	for (int k = 0; k < ng; k++) {
		if (!all && is_on_grid[k])
			continue;
		int8_t Lk[8];
		for (int i = 0; i < 8; i++) {
			const int l = nearest_int(0.5f * (id * xval[8 * k + i] - 1));
			Lk[i] = (int8_t)maxi(0, mini(kmaxq - 1, l));
		}
		const int32_t m = lt->map[lat_u(lt, Lk)];
		int g = m;
		if (m < 0)
			g = ggml_best_neighbour8(lt, nbc, -m - 1, xval + 8 * k, waux + 8 * k, scale);
		for (int i = 0; i < 8; i++)
			L[8 * k + i] = (int8_t)lat_level(lt, g, i);
	}
	float sumqx = 0, sumq2 = 0;
	for (int i = 0; i < n; i++) {
		const float w = weight[i];
		const float q = (float)(2 * L[i] + 1);
		sumqx += w * xval[i] * q;
		sumq2 += w * q * q;
	}
	if (sumq2 > 0)
		scale = sumqx / sumq2;
	return scale;
}

/* ---- iq2_xxs, iq2_xs, iq2_s: ggml's search (iq2_s) and the own search ---- */

/* ggml's quantize_row_iq2_s_impl for one super-block without an imatrix
 * (weights sigma^2/4 + x^2). */
static void ggml_iq2_s(const float *x, struct blk_iq2_s *y)
{
	const uint16_t *nbc;
	const struct lattice *lt = get_lattice8(LAT_IQ2S, &nbc);
	const int kmaxq = 3;
	float scales[16], weight[16], xval[16], waux[16];
	int8_t L[16];
	int on[2];

	memset(y, 0, sizeof *y);
	y->d = to_fp16(0.0f);
	float max_scale = 0, sumx2 = 0;
	for (int i = 0; i < QK_K; i++)
		sumx2 += x[i] * x[i];
	const float sigma2 = 2 * sumx2 / QK_K;

	for (int ib = 0; ib < 16; ib++) {
		const float *xb = x + 16 * ib;
		for (int i = 0; i < 16; i++)
			weight[i] = 0.25f * sigma2 + xb[i] * xb[i];
		for (int i = 0; i < 16; i++)
			waux[i] = sqrtf(weight[i]);
		uint8_t bsg[2];
		for (int k = 0; k < 2; k++) {
			unsigned s = 0;
			for (int i = 0; i < 8; i++) {
				if (xb[8 * k + i] >= 0) {
					xval[8 * k + i] = xb[8 * k + i];
				} else {
					xval[8 * k + i] = -xb[8 * k + i];
					s |= 1u << i;
				}
			}
			bsg[k] = (uint8_t)s;
		}
		float max = xval[0];
		for (int i = 1; i < 16; i++)
			max = maxf(max, xval[i]);
		memset(L, 0, sizeof L);
		if (max < GROUP_MAX_EPS_IQ2_S) {
			scales[ib] = 0;
			continue;
		}
		on[0] = on[1] = 1;
		float scale = ggml_scan8(lt, nbc, 16, kmaxq, -9, 9, 0.1f, max, max / (2 * kmaxq - 1), xval, weight, waux, L,
					on);
		scale = ggml_fixup8(lt, nbc, 16, kmaxq, 0, scale, xval, weight, waux, L, on);
		if (scale < 0) {
			scale = -scale;
			for (int k = 0; k < 2; k++)
				bsg[k] = (uint8_t)~bsg[k];
		}
		for (int k = 0; k < 2; k++) {
			const int g = lat_index(lt, L + 8 * k), i8 = 2 * ib + k;
			y->qs[i8] = (uint8_t)(g & 255);
			y->qh[i8 / 4] |= (uint8_t)((g >> 8) << (2 * (i8 % 4)));
			y->qs[32 + i8] = bsg[k];
		}
		scales[ib] = scale;
		max_scale = maxf(max_scale, scale);
	}
	if (max_scale == 0.0f)
		return;
	const float d = max_scale / 31;
	y->d = to_fp16(d * 0.9875f);
	const float id = 1 / d;
	for (int ib = 0; ib < 16; ib++) {
		const int l = maxi(0, mini(15, nearest_int(0.5f * (id * scales[ib] - 1))));
		if (ib % 2 == 0)
			y->scales[ib / 2] = (uint8_t)l;
		else
			y->scales[ib / 2] |= (uint8_t)(l << 4);
	}
}

/* ---- iq2_xxs, iq2_xs, iq2_s: state -> bytes ---- */

static void pack_iq2_xxs(const struct lstate *st, void *blk)
{
	struct blk_iq2_xxs *b = blk;
	b->d = to_fp16(st->d);
	for (int ib = 0; ib < 8; ib++) {
		uint8_t *q = b->qs + 8 * ib;
		uint32_t aux = (uint32_t)st->s[ib] << 28;
		for (int l = 0; l < 4; l++) {
			q[l] = (uint8_t)st->g[4 * ib + l];
			for (int j = 0; j < 7; j++)
				aux |= (uint32_t)st->neg[32 * ib + 8 * l + j] << (7 * l + j);
		}
		wr32(q + 4, aux);
	}
}

static void pack_iq2_xs(const struct lstate *st, void *blk)
{
	struct blk_iq2_xs *b = blk;
	b->d = to_fp16(st->d);
	memset(b->scales, 0, sizeof b->scales);
	for (int j = 0; j < 16; j++)
		b->scales[j / 2] |= (uint8_t)(st->s[j] << (4 * (j % 2)));
	for (int G = 0; G < 32; G++) {
		unsigned sg = 0;
		for (int j = 0; j < 7; j++)
			sg |= (unsigned)st->neg[8 * G + j] << j;
		wr16(b->qs + 2 * G, (uint16_t)(st->g[G] | (sg << 9)));
	}
}

static void pack_iq2_s(const struct lstate *st, void *blk)
{
	struct blk_iq2_s *b = blk;
	memset(b, 0, sizeof *b);
	b->d = to_fp16(st->d);
	for (int j = 0; j < 16; j++)
		b->scales[j / 2] |= (uint8_t)(st->s[j] << (4 * (j % 2)));
	for (int G = 0; G < 32; G++) {
		b->qs[G] = (uint8_t)(st->g[G] & 255);
		b->qh[G / 4] |= (uint8_t)((st->g[G] >> 8) << (2 * (G % 4)));
		unsigned sg = 0;
		for (int j = 0; j < 8; j++)
			sg |= (unsigned)st->neg[8 * G + j] << j;
		b->qs[32 + G] = (uint8_t)sg;
	}
}

/* ---- iq2_xxs, iq2_xs, iq2_s: the weighted search ---- */

/* lat_sub_codes for the 8-element grids (3 levels): the same choices and
 * sums, eight listed points at a time (cost8_lanes); with the parity rule,
 * per point also its cheapest single flip, the first smallest
 * w*|x|*v over the elements, as a lane minimum. As lat_sub_codes3: INFINITY
 * (g, neg unset) when the lower bounds show it reaches bound, and a group
 * without a flip whose nearest levels are a grid point takes it unscanned. */
static double lat8_sub_codes(const struct lfmt *f, const struct lattice *lt, const uint16_t *nbc, const float *x,
			     const float *w, float db, uint16_t *g, uint8_t *neg, double bound)
{
	const int n = f->sub, ng = n / 8;
	float vq[3];
	for (int l = 0; l < 3; l++)
		vq[l] = db * f->lv[l];
	/* the costs of the levels, lanes = elements, per group */
	qnt__v8f tt[4][8], axk[4];
	float lbk[4];
	uint32_t uk[4];
	for (int k = 0; k < ng; k++) {
		qnt__v8f xv, wv;
		qnt__v8i xb;
		memcpy(&xv, x + 8 * k, sizeof xv);
		memcpy(&wv, w + 8 * k, sizeof wv);
		memcpy(&xb, &xv, sizeof xb);
		xb &= 0x7fffffff;
		memcpy(&axk[k], &xb, sizeof axk[k]);
		const qnt__v8f r0 = axk[k] - vq[0], r1 = axk[k] - vq[1], r2 = axk[k] - vq[2];
		uk[k] = cost8_prep(wv * r0 * r0, wv * r1 * r1, wv * r2 * r2, tt[k], &lbk[k]);
		/* the tables of 2^16 entries are mostly outside L1 and L2:
		 * the loads of all groups start together */
		__builtin_prefetch(lt->map + uk[k]);
		__builtin_prefetch(lt->alt + uk[k]);
	}
	if (lat_reaches(0, lbk, ng, bound))
		return INFINITY;
	int odd[4] = { 0, 0, 0, 0 };
	for (int h = 0; h < n / 8; h++)
		odd[h] = signs8(x + 8 * h, neg + 8 * h);
	double err = 0;
	for (int k = 0; k < ng; k++) {
		const int o = 8 * k;
		if (k > 0 && lat_reaches(err, lbk + k, ng - k, bound))
			return INFINITY;
		const qnt__v8f *t = tt[k];
		const uint32_t u = uk[k];
		const int flip = f->parity && odd[k];
		if (!flip && lt->map[u] >= 0 && lbk[k] < INFINITY) {
			g[k] = (uint16_t)lt->map[u];
			err += lbk[k];
			continue;
		}
		const int32_t off = lt->alt[u];
		const uint16_t *list = lt->nb + off;
		const int nl = mini(list[0], IQ_LIST_CAP);
		float c = INFINITY;
		if (!flip) {
			g[k] = (uint16_t)cost8_best(lt, nbc, off, nl, t, &c, list[1]);
			err += c;
			continue;
		}
		/* an odd count of negative signs: the best point with its
		 * cheapest flip, 4 w |x| v more than without (the first point
		 * of equals, the first element of equal flips) */
		qnt__v8f p[8], wv;
		memcpy(&wv, w + o, sizeof wv);
		const qnt__v8f wa = wv * axk[k], p0 = wa * vq[0], p1 = wa * vq[1], p2 = wa * vq[2];
		for (int i = 0; i < 8; i++)
			cost8_set(p, i, p0[i], p1[i], p2[i]);
		float cp = INFINITY;
		int gp = list[1], fp = 0;
		for (int j = 0; j < nl; j += 8) {
			const qnt__v8i code = cost8_codes(nbc, off, j);
			const qnt__v8f cc = cost8_lanes(t, code);
			qnt__v8f pm = splat8(INFINITY);
			qnt__v8i pi = { 0, 0, 0, 0, 0, 0, 0, 0 };
			for (int i = 0; i < 8; i++) {
				const qnt__v8f pv = QNT__SHUF1(p[i], code >> (2 * i));
				const qnt__v8i lt_ = qnt__lt_v8f(pv, pm);
				pm = qnt__select_v8f(lt_, pv, pm);
				pi = (lt_ & i) | (pi & ~lt_);
			}
			/* the scan in lane order: the first least cf below cp */
			const qnt__v8f cf = cc + 4 * pm;
			qnt__v8i below = qnt__lt_v8f(cf, splat8(cp));
			if (nl - j < 8) {
				const qnt__v8i lane = { 0, 1, 2, 3, 4, 5, 6, 7 };
				below &= qnt__lt_v8i(lane, (qnt__v8i){ 0, 0, 0, 0, 0, 0, 0, 0 } + (nl - j));
			}
			if (any8(below)) {
				const int cix = first_min_lane(cf, below);
				cp = cf[cix];
				gp = list[1 + j + cix];
				fp = pi[cix];
			}
		}
		g[k] = (uint16_t)gp;
		neg[o + fp] ^= 1;
		err += cp;
	}
	return err;
}

/* lat_pass with lat8_sub_codes. */
static double lat8_pass(const struct lfmt *f, const struct lattice *lt, const uint16_t *nbc, const float *x,
			const float *w, struct lstate *st)
{
	const int nsub = QK_K / f->sub, ng = f->sub / 8;
	double total = 0;
	uint16_t g[4];
	uint8_t neg[32];
	for (int j = 0; j < nsub; j++) {
		const int o = j * f->sub;
		double num, den;
		double best = lat_sub_err(f, lt, x + o, w + o, lat_db(f->dbkind, st->d, st->s[j]), st->g + j * ng,
					  st->neg + o, &num, &den);
		int cand[5];
		const int nc = lat_scale_cands(f, st, j, num, den, cand);
		for (int c = 0; c < nc; c++) {
			const double e = lat8_sub_codes(f, lt, nbc, x + o, w + o, lat_db(f->dbkind, st->d, cand[c]), g, neg,
							best);
			if (e < best) {
				best = e;
				st->s[j] = (uint8_t)cand[c];
				memcpy(st->g + j * ng, g, sizeof g[0] * (size_t)ng);
				memcpy(st->neg + o, neg, (size_t)f->sub);
			}
		}
		total += best;
	}
	return total;
}

/* The steps of the 8-element grids: those of the lattice formats with
 * lat8_sub_codes and lat8_pass. */
static double lat_codes8(const void *f, const struct lattice *lt, const uint16_t *nbc, const float *x,
			 const float *w, float db, uint16_t *g, uint8_t *neg, double bound)
{
	return lat8_sub_codes(f, lt, nbc, x, w, db, g, neg, bound);
}
static void lat8_start(const void *fv, const float *x, const float *w, void *st)
{
	const struct lfmt *f = fv;
	const uint16_t *nbc;
	const struct lattice *lt = get_lattice8(f->lat, &nbc);
	lat_start_with(f, lt, nbc, lat_codes8, x, w, st);
}
static double lat8_pass_v(const void *fv, const float *x, const float *w, void *st)
{
	const struct lfmt *f = fv;
	const uint16_t *nbc;
	const struct lattice *lt = get_lattice8(f->lat, &nbc);
	return lat8_pass(f, lt, nbc, x, w, st);
}

static const struct search_ops R_LAT8 = { sizeof(struct lstate), 15, lat_pack, lat8_start, lat8_pass_v,
					  lat_sub_amax, lat_dbmul_v, lat_lsq_d_v };

static void lat8_search_v(const void *f, const float *x, const float *w, void *blk)
{
	iq_search(&R_LAT8, f, x, w, blk, ((const struct lfmt *)f)->rounds);
}

/* As ratio_iq3xxs. */
static const float ratio_iq2xxs[] = { 0.035f, 0.0437f, 0.0546f };
static const float ratio_iq2xs[] = { 0.0368f, 0.046f, 0.0575f };
static const float ratio_iq2s[] = { 0.0362f, 0.0452f, 0.0565f };
static const struct lfmt F_IQ2XXS = { LAT_IQ2XXS, 32, 1, 0, lv_iq2, ratio_iq2xxs, 3, 1, pack_iq2_xxs };
static const struct lfmt F_IQ2XS = { LAT_IQ2XS, 16, 1, 0, lv_iq2, ratio_iq2xs, 3, 3, pack_iq2_xs };
static const struct lfmt F_IQ2S = { LAT_IQ2S, 16, 0, 0, lv_iq2, ratio_iq2s, 3, 0, pack_iq2_s };

static void g_iq2_s(const float *x, void *blk)
{
	ggml_iq2_s(x, blk);
}

static const struct iq_driver D_IQ2XXS = { &F_IQ2XXS, sizeof(struct blk_iq2_xxs), lat8_search_v, NULL, deq_iq2_xxs };
static const struct iq_driver D_IQ2XS = { &F_IQ2XS, sizeof(struct blk_iq2_xs), lat8_search_v, NULL, deq_iq2_xs };
static const struct iq_driver D_IQ2S = { &F_IQ2S, sizeof(struct blk_iq2_s), lat8_search_v, g_iq2_s, deq_iq2_s };

static void quant_iq2_xxs(const float *src, void *dst, int64_t nrows, int64_t n, const float *imp)
{
	quant_iq_rows(&D_IQ2XXS, src, dst, nrows, n, imp);
}
static void quant_iq2_xs(const float *src, void *dst, int64_t nrows, int64_t n, const float *imp)
{
	quant_iq_rows(&D_IQ2XS, src, dst, nrows, n, imp);
}
static void quant_iq2_s(const float *src, void *dst, int64_t nrows, int64_t n, const float *imp)
{
	quant_iq_rows(&D_IQ2S, src, dst, nrows, n, imp);
}


/* ------------------------------------------------------------------ */
/* iq1_s, iq1_m                                                         */
/* ------------------------------------------------------------------ */

static const float x_p1[3] = { -1 + IQ1_DELTA, IQ1_DELTA, 1 + IQ1_DELTA };
static const float x_m1[3] = { -1 - IQ1_DELTA, -IQ1_DELTA, 1 - IQ1_DELTA };

/* ggml's iq1_find_best_neighbour2: the listed point (the list at offset off)
 * whose values scale * xg[level] are nearest to xval under the weights;
 * the same sums, eight points at a time. */
#if defined(__AVX__)
/* 1 / v lane by lane, within a relative 1.5 * 2^-12 (vrcpps). */
static inline qnt__v8f rcp8(qnt__v8f v)
{
	return __builtin_ia32_rcpps256(v);
}
#endif

/* ggml_iq1_m's chunks of eight splits: i1 0..16, i2 from i1 by 8 to 16 */
#define IQ1M_CHUNKS 27
static const int8_t iq1m_ci1[IQ1M_CHUNKS] = { 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6,
					      6, 7, 7, 8, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
static const int8_t iq1m_ci2[IQ1M_CHUNKS] = { 0, 8, 16, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6,
					      14, 7, 15, 8, 16, 9, 10, 11, 12, 13, 14, 15, 16 };

/* The lanes of chunk j that are splits (i2 + lane <= 16). */
static inline qnt__v8i iq1m_lanes(int j)
{
	const int nl = 17 - iq1m_ci2[j];
	const qnt__v8i lane = { 0, 1, 2, 3, 4, 5, 6, 7 };
	return qnt__lt_v8i(lane, (qnt__v8i){ nl, nl, nl, nl, nl, nl, nl, nl });
}

/* Bit c of b (c < 8) moved to bit 4c. */
static inline uint32_t spread4(unsigned b)
{
	uint32_t x = b;
	x = (x | x << 12) & 0x000f000fu;
	x = (x | x << 6) & 0x03030303u;
	return (x | x << 3) & 0x11111111u;
}

static int ggml_best_neighbour1(const struct lattice *lt, const uint16_t *nbc, int32_t off, const float *xval,
				const float *weight, float scale, const float *xg, int8_t *L)
{
	qnt__v8f t[8];
#if defined(__AVX__)
	/* the terms in lanes, transposed (as in ggml_best_neighbour8) */
	qnt__v8f xv, wv;
	memcpy(&xv, xval, sizeof xv);
	memcpy(&wv, weight, sizeof wv);
	const qnt__v8f d0 = scale * xg[0] - xv, d1 = scale * xg[1] - xv, d2 = scale * xg[2] - xv;
	cost8_tables(wv * d0 * d0, wv * d1 * d1, wv * d2 * d2, t);
#else
	for (int i = 0; i < 8; i++) {
		float c[3];
		for (int l = 0; l < 3; l++) {
			const float diff = scale * xg[l] - xval[i];
			c[l] = weight[i] * diff * diff;
		}
		cost8_set(t, i, c[0], c[1], c[2]);
	}
#endif
	float best = FLT_MAX;
	int gi = cost8_best(lt, nbc, off, lt->nb[off], t, &best, -1);
	if (gi < 0)
		gi = lt->nb[off + 1];
	for (int i = 0; i < 8; i++)
		L[i] = (int8_t)lat_level(lt, gi, i);
	return gi;
}

/* Stable ascending sort of (value, index) pairs by value, with the
 * splitting and merging of glibc's qsort (a top-down merge sort that takes
 * the left element unless it compares greater), which ggml's iq1 searches
 * run on 32 or 16 elements. */
static int cmp_f(float a, float b)
{
	return a < b ? -1 : a > b ? 1 : 0;
}

static void msort_pairs(float *v, int *ix, int n, float *tv, int *ti)
{
	if (n <= 1)
		return;
	const int n1 = n / 2, n2 = n - n1;
	msort_pairs(v, ix, n1, tv, ti);
	msort_pairs(v + n1, ix + n1, n2, tv, ti);
	int i = 0, j = n1, k = 0;
	while (i < n1 && j < n) {
		if (cmp_f(v[i], v[j]) <= 0) {
			tv[k] = v[i];
			ti[k++] = ix[i++];
		} else {
			tv[k] = v[j];
			ti[k++] = ix[j++];
		}
	}
	while (i < n1) {
		tv[k] = v[i];
		ti[k++] = ix[i++];
	}
	/* the rest of the right run is in place */
	memcpy(v, tv, sizeof *v * (size_t)k);
	memcpy(ix, ti, sizeof *ix * (size_t)k);
}

/* The order of msort_pairs (stable, ascending) of v[0..n), n 16 or 32, as
 * indices: element i goes to its rank, the count of the elements before it
 * in that order (smaller, or equal and earlier), eight ranks at a time.
 * With a NaN (no consistent order) msort_pairs itself. */
static void sort_idx(const float *v, int n, int *idx)
{
	qnt__v8f V[4];
	qnt__v8i nan = { 0, 0, 0, 0, 0, 0, 0, 0 };
	memcpy(V, v, sizeof v[0] * (size_t)n);
	for (int c = 0; c < n / 8; c++)
		nan |= ~qnt__eq_v8f(V[c], V[c]);
	if (any8(nan)) {
		float pv[32], tv[32];
		int ti[32];
		for (int j = 0; j < n; j++) {
			pv[j] = v[j];
			idx[j] = j;
		}
		msort_pairs(pv, idx, n, tv, ti);
		return;
	}
	const qnt__v8i lane = { 0, 1, 2, 3, 4, 5, 6, 7 };
	for (int c = 0; c < n / 8; c++) {
		qnt__v8i r = { 0, 0, 0, 0, 0, 0, 0, 0 };
		for (int j = 0; j < 8 * c; j++)
			r -= qnt__le_v8f(splat8(v[j]), V[c]);
		for (int j = 8 * c; j < 8 * c + 8; j++) {
			const qnt__v8f vj = splat8(v[j]);
			const qnt__v8i after = { j - 8 * c, j - 8 * c, j - 8 * c, j - 8 * c,
						 j - 8 * c, j - 8 * c, j - 8 * c, j - 8 * c };
			r -= qnt__lt_v8f(vj, V[c]) | (qnt__eq_v8f(vj, V[c]) & qnt__gt_v8i(lane, after));
		}
		for (int j = 8 * c + 8; j < n; j++)
			r -= qnt__lt_v8f(splat8(v[j]), V[c]);
		for (int i = 0; i < 8; i++)
			idx[r[i]] = 8 * c + i;
	}
}

/* ggml's quantize_row_iq1_m_impl for one super-block without an imatrix
 * (weights x^2), with the closed-form split search of current ggml. */
static void ggml_iq1_m(const float *x, struct blk_iq1_m *y)
{
	const uint16_t *nbc;
	const struct lattice *lt = get_lattice8(LAT_IQ1S, &nbc);
	static const uint8_t masks[4] = { 0x00, 0x80, 0x08, 0x88 };
	float scales[16], weight[16];
	int idx[16];
	int8_t L[16], shifts[16];
	uint16_t index[2];

	memset(y, 0, sizeof *y);
	float max_scale = 0;

	for (int ib = 0; ib < 16; ib++) {
		const float *xb = x + 16 * ib;
		for (int i = 0; i < 16; i++)
			weight[i] = xb[i] * xb[i];
		float max = fabsf(xb[0]);
		for (int i = 1; i < 16; i++)
			max = maxf(max, fabsf(xb[i]));
		if (max < GROUP_MAX_EPS_IQ1_M) {
			scales[ib] = 0;
			shifts[ib] = 0;
			continue;
		}
		sort_idx(xb, 16, idx);
		/* prefix sums of w*x and w per half of the sub-block (each half
		 * has its own delta sign); as v0 - v1 = v1 - v2 = -1 the sums of
		 * a split are T*v2 - P(i1) - P(i2) (ggml's closed form) */
		float px[2][25], pw[2][25];
		px[0][0] = px[1][0] = pw[0][0] = pw[1][0] = 0;
		for (int j = 0; j < 16; j++) {
			const int i = idx[j], h = i < 8 ? 0 : 1;
			px[h][j + 1] = px[h][j] + weight[i] * xb[i];
			px[1 - h][j + 1] = px[1 - h][j];
			pw[h][j + 1] = pw[h][j] + weight[i];
			pw[1 - h][j + 1] = pw[1 - h][j];
		}
		const float txs[2] = { px[0][16], px[1][16] }, tws[2] = { pw[0][16], pw[1][16] };
		const float p2 = x_p1[2], m2 = x_m1[2];
		const float cp1 = x_p1[0] * x_p1[0] - x_p1[1] * x_p1[1], cp2 = x_p1[1] * x_p1[1] - x_p1[2] * x_p1[2];
		const float cm1 = x_m1[0] * x_m1[0] - x_m1[1] * x_m1[1], cm2 = x_m1[1] * x_m1[1] - x_m1[2] * x_m1[2];
		float best_score = -FLT_MAX, scale = max;
		int besti1 = -1, besti2 = -1, best_k = -1;
		/* eight i2 at a time as in ggml_iq1_s */
		for (int h = 0; h < 2; h++)
			for (int j = 17; j < 25; j++) {
				px[h][j] = px[h][16];
				pw[h][j] = pw[h][16];
			}
		/* first the sums of every split (chunk j: i1, eight i2 from
		 * ci2[j]; per shift combination k), the scores s = (sqx /
		 * sq2) * sqx that ggml's scan would set, and their largest M */
		qnt__v8f csx[IQ1M_CHUNKS][4], cs2[IQ1M_CHUNKS][4], cmx[IQ1M_CHUNKS];
		const int nch = IQ1M_CHUNKS;
		qnt__v8f smax = splat8(-INFINITY);
#if defined(__AVX__)
		/* The range of the sums, known from the prefix sums: every
		 * level v has v^2 >= IQ1_DELTA^2 = 1/64, so a split's sq2 is at
		 * least (tws[0] + tws[1]) / 64 less its rounding (relatively
		 * some 2^-18), and |sqx| <= 7 max |px|, sq2 <= 4 (tws[0] +
		 * tws[1]) (the levels are at most 1.125 in size). Where the
		 * totals lie within [2^-30, 2^36] every sq2 is in [2^-40, 2^40]
		 * and every |sqx| below 2^40 (no NaN, no overflow in the scores
		 * below); outside (rare) the whole scan decides. */
		qnt__v8f pm = splat8(0.0f);
		for (int h = 0; h < 2; h++)
			for (int j = 0; j < 24; j += 8) {
				qnt__v8f v;
				memcpy(&v, px[h] + j, sizeof v);
				pm = __builtin_ia32_maxps256(pm, qnt__abs_v8f(v));
			}
		float pmax = pm[0];
		for (int i = 1; i < 8; i++)
			pmax = maxf(pmax, pm[i]);
		const float twt = tws[0] + tws[1];
		const int ranged = pmax <= 0x1p36f && twt >= 0x1p-30f && twt <= 0x1p36f;
#else
		const int ranged = 0;
#endif
		for (int j = 0; j < IQ1M_CHUNKS; j++) {
			const int i1 = iq1m_ci1[j], i2 = iq1m_ci2[j];
			qnt__v8f qx_p[2], qx_m[2], q2_p[2], q2_m[2];
			qnt__v8f *sqx = csx[j], *sq2 = cs2[j];
#pragma GCC unroll 2
			for (int h = 0; h < 2; h++) {
				qnt__v8f x2, w2;
				memcpy(&x2, px[h] + i2, sizeof x2);
				memcpy(&w2, pw[h] + i2, sizeof w2);
				const qnt__v8f sx = px[h][i1] + x2;
				qx_p[h] = txs[h] * p2 - sx;
				qx_m[h] = txs[h] * m2 - sx;
				q2_p[h] = tws[h] * p2 * p2 + pw[h][i1] * cp1 + w2 * cp2;
				q2_m[h] = tws[h] * m2 * m2 + pw[h][i1] * cm1 + w2 * cm2;
			}
			sqx[0] = qx_p[0] + qx_p[1];
			sqx[1] = qx_p[0] + qx_m[1];
			sqx[2] = qx_m[0] + qx_p[1];
			sqx[3] = qx_m[0] + qx_m[1];
			sq2[0] = q2_p[0] + q2_p[1];
			sq2[1] = q2_p[0] + q2_m[1];
			sq2[2] = q2_m[0] + q2_p[1];
			sq2[3] = q2_m[0] + q2_m[1];
#if defined(__AVX__)
			if (ranged) {
				/* the scores within a relative 2^-11 (a tiny sqx
				 * gives a score far below the bound below), the
				 * lanes past 16 included: they repeat the split
				 * (i1, 16) of another chunk, so M is the same */
				qnt__v8f cm = splat8(-INFINITY);
#pragma GCC unroll 4
				for (int k = 0; k < 4; k++)
					cm = __builtin_ia32_maxps256(cm, sqx[k] * sqx[k] * rcp8(sq2[k]));
				cmx[j] = cm;
				smax = __builtin_ia32_maxps256(smax, cm);
			}
#endif
		}
		/* The scan keeps the first split that beats the best score so
		 * far (it only rises: a split that does not beat it at the
		 * start of its chunk never can). If every score s is in range
		 * and none lies in [t (1 - 2^-18), t), t = M (1 - 2^-10) (M
		 * the largest score within 2^-11, so t is below the largest), the
		 * scan's winner is its winner among the splits of s >= t alone:
		 * the first of them beats any score below t (1 - 2^-18) that the
		 * scan may hold before it, and once it is held no split below
		 * that beats it (the float rounding of qx * qx, best * sq2 and
		 * s is far inside the 2^-18 gap), so the scan runs the same
		 * from there. Otherwise the whole scan, chunk by chunk. */
#if defined(__AVX__)
		float M = smax[0];
		for (int i = 1; i < 8; i++)
			M = maxf(M, smax[i]);
		int few = ranged && M >= 0x1p-30f && M <= 0x1p60f;
#else
		/* (without AVX the scores cost more than the scan saves) */
		const float M = 0.0f;
		int few = ranged;
		(void)smax;
		(void)cmx;
#endif
		const float t = M * (1.0f - 0x1p-10f), tg = t * (1.0f - 0x1p-18f);
		uint32_t cand[IQ1M_CHUNKS];
		const float tc = tg * (1.0f - 0x1p-9f); /* below tg by more than the error of cmx */
		for (int j = 0; few && j < nch; j++) {
			cand[j] = 0;
			if (!any8(qnt__ge_v8f(cmx[j], splat8(tc))))
				continue;
			uint32_t pass = 0;
			qnt__v8i gap = { 0, 0, 0, 0, 0, 0, 0, 0 };
			for (int k = 0; k < 4; k++) {
				const qnt__v8i valid = iq1m_lanes(j) & qnt__gt_v8f(cs2[j][k], splat8(0.0f));
				const qnt__v8f sk = csx[j][k] / cs2[j][k] * csx[j][k];
				pass |= spread4(mask8_bits(valid & qnt__ge_v8f(sk, splat8(t)))) << k;
				gap |= valid & qnt__ge_v8f(sk, splat8(tg)) & qnt__lt_v8f(sk, splat8(t));
			}
			cand[j] = pass;
			few = !any8(gap);
		}
		for (int j = 0; j < nch; j++) {
			const qnt__v8f *sqx = csx[j], *sq2 = cs2[j];
			uint32_t pass;
			if (few) {
				pass = cand[j];
				if (!pass)
					continue;
			} else {
				const qnt__v8f bs = splat8(best_score);
				pass = 0;
				for (int k = 0; k < 4; k++)
					pass |= spread4(mask8_bits(iq1m_lanes(j) & qnt__gt_v8f(sq2[k], splat8(0.0f)) &
								   qnt__gt_v8f(sqx[k] * sqx[k], bs * sq2[k]))) << k;
			}
			/* bit 4c + k: lane c, then shift k, ggml's order */
			for (; pass; pass &= pass - 1) {
				const int b = __builtin_ctz(pass), c = b >> 2, k = b & 3;
				if (sq2[k][c] > 0 && sqx[k][c] * sqx[k][c] > best_score * sq2[k][c]) {
					scale = sqx[k][c] / sq2[k][c];
					best_score = scale * sqx[k][c];
					besti1 = iq1m_ci1[j];
					besti2 = iq1m_ci2[j] + c;
					best_k = k;
				}
			}
		}
		if (besti1 < 0 || besti2 < 0 || best_k < 0) {
			scales[ib] = 0;
			shifts[ib] = 0;
			continue;
		}
		for (int j = 0; j < 16; j++)
			L[idx[j]] = (int8_t)(j < besti1 ? 0 : j < besti2 ? 1 : 2);
		if (scale < 0) {
			for (int j = 0; j < 16; j++)
				L[j] = (int8_t)(2 - L[j]);
			scale = -scale;
			best_k = 3 - best_k;
		}
		int all_on_grid = 1;
		for (int k = 0; k < 2; k++) {
			const float *xx = (k == 0 ? best_k < 2 : best_k % 2 == 0) ? x_p1 : x_m1;
			const int32_t m = lt->map[lat_u(lt, L + 8 * k)];
			int gi = m;
			if (m < 0) {
				all_on_grid = 0;
				gi = ggml_best_neighbour1(lt, nbc, -m - 1, xb + 8 * k, weight + 8 * k, scale, xx, L + 8 * k);
			}
			index[k] = (uint16_t)gi;
		}
		if (!all_on_grid) {
			float sumqx = 0, sumq2 = 0;
			for (int k = 0; k < 2; k++) {
				const float *xx = (k == 0 ? best_k < 2 : best_k % 2 == 0) ? x_p1 : x_m1;
				for (int j = 0; j < 8; j++) {
					const float w = weight[8 * k + j];
					const float q = xx[lat_level(lt, index[k], j)];
					sumqx += w * q * xb[8 * k + j];
					sumq2 += w * q * q;
				}
			}
			if (sumqx > 0 && sumq2 > 0)
				scale = sumqx / sumq2;
		}
		y->qs[2 * ib] = (uint8_t)(index[0] & 255);
		y->qs[2 * ib + 1] = (uint8_t)(index[1] & 255);
		y->qh[ib] = (uint8_t)((index[0] >> 8) | ((index[1] >> 8) << 4));
		scales[ib] = scale;
		shifts[ib] = (int8_t)best_k;
		max_scale = maxf(max_scale, scale);
	}
	if (max_scale == 0.0f)
		return;
	uint16_t sc[4] = { 0, 0, 0, 0 };
	float d = max_scale / 15;
	const float id = 1 / d;
	float sumqx = 0, sumq2 = 0;
	for (int ib = 0; ib < 16; ib++) {
		const int l = maxi(0, mini(7, nearest_int(0.5f * (id * scales[ib] - 1))));
		sc[ib / 4] |= (uint16_t)(l << (3 * (ib % 4)));
		y->qh[ib] |= masks[shifts[ib]];
		const float *xb = x + 16 * ib;
		for (int i = 0; i < 16; i++)
			weight[i] = xb[i] * xb[i];
		for (int k = 0; k < 2; k++) {
			const float *xx = (k == 0 ? shifts[ib] < 2 : shifts[ib] % 2 == 0) ? x_p1 : x_m1;
			const int g = y->qs[2 * ib + k] | ((y->qh[ib] << (8 - 4 * k)) & 0x700);
			for (int j = 0; j < 8; j++) {
				const float w = weight[8 * k + j];
				const float q = xx[lat_level(lt, g, j)] * (float)(2 * l + 1);
				sumqx += w * q * xb[8 * k + j];
				sumq2 += w * q * q;
			}
		}
	}
	if (sumq2 > 0)
		d = sumqx / sumq2;
	const uint16_t s = to_fp16(d * 1.1125f);
	sc[0] |= (uint16_t)((s & 0x000f) << 12);
	sc[1] |= (uint16_t)((s & 0x00f0) << 8);
	sc[2] |= (uint16_t)((s & 0x0f00) << 4);
	sc[3] |= (uint16_t)(s & 0xf000);
	for (int i = 0; i < 4; i++)
		wr16(y->scales + 2 * i, sc[i]);
}

/* ---- iq1_s, iq1_m: the weighted search ---- */

struct l1fmt {
	int sub;       /* elements per scale: 32 (iq1_s) or 16 (iq1_m) */
	const float *ratio; /* start_trials' scale / RMS ratios */
	int nratio;
	int rounds;         /* of iq_search */
	void (*pack)(const struct l1state *st, void *blk);
};

static void pack_iq1_s(const struct l1state *st, void *blk)
{
	struct blk_iq1_s *b = blk;
	b->d = to_fp16(st->d);
	for (int ib = 0; ib < 8; ib++) {
		uint16_t h = (uint16_t)((st->s[ib] << 12) | (st->sh[4 * ib] << 15));
		for (int k = 0; k < 4; k++) {
			b->qs[4 * ib + k] = (uint8_t)(st->g[4 * ib + k] & 255);
			h |= (uint16_t)((st->g[4 * ib + k] >> 8) << (3 * k));
		}
		wr16(b->qh + 2 * ib, h);
	}
}

static void pack_iq1_m(const struct l1state *st, void *blk)
{
	struct blk_iq1_m *b = blk;
	uint16_t sc[4] = { 0, 0, 0, 0 };
	for (int ib = 0; ib < 16; ib++) {
		sc[ib / 4] |= (uint16_t)(st->s[ib] << (3 * (ib % 4)));
		b->qh[ib] = 0;
		for (int k = 0; k < 2; k++) {
			const int G = 2 * ib + k;
			b->qs[G] = (uint8_t)(st->g[G] & 255);
			b->qh[ib] |= (uint8_t)((((st->g[G] >> 8) & 7) | (st->sh[G] << 3)) << (4 * k));
		}
	}
	const uint16_t h = to_fp16(st->d);
	sc[0] |= (uint16_t)((h & 0x000f) << 12);
	sc[1] |= (uint16_t)((h & 0x00f0) << 8);
	sc[2] |= (uint16_t)((h & 0x0f00) << 4);
	sc[3] |= (uint16_t)(h & 0xf000);
	for (int i = 0; i < 4; i++)
		wr16(b->scales + 2 * i, sc[i]);
}

/* As ratio_iq3xxs (levels of 1 + IQ1_DELTA at most). */
static const float ratio_iq1s[] = { 1.1f, 1.4f };
static const float ratio_iq1m[] = { 1.29f };
static const struct l1fmt F_IQ1S = { 32, ratio_iq1s, 2, 1, pack_iq1_s };
static const struct l1fmt F_IQ1M = { 16, ratio_iq1m, 1, 0, pack_iq1_m };

/* One group of 8 for a scale and delta sign: the costs of its three levels
 * (lanes = elements), the code u of the nearest levels and their cost lb
 * (see cost8_prep; the tables of cost8_lanes are made when a list is
 * scanned). */
struct l1group {
	qnt__v8f e[3];
	uint32_t u;
	float lb;
};

/* The level costs of a group; its cost8_min in *mn, *bl. */
static void l1_group_prep(const float *x, const float *w, float dl, int sh, struct l1group *p, qnt__v8f *mn,
			  qnt__v8i *bl)
{
	const float *c = sh ? x_m1 : x_p1;
	const float v0 = dl * c[0], v1 = dl * c[1], v2 = dl * c[2];
	qnt__v8f xv, wv;
	memcpy(&xv, x, sizeof xv);
	memcpy(&wv, w, sizeof wv);
	const qnt__v8f r0 = xv - v0, r1 = xv - v1, r2 = xv - v2;
	p->e[0] = wv * r0 * r0;
	p->e[1] = wv * r1 * r1;
	p->e[2] = wv * r2 * r2;
	*mn = cost8_min(p->e[0], p->e[1], p->e[2], bl);
}

/* Best point of a prepared group: among the candidates of the nearest
 * levels (the first of the least cost). Returns the error (INFINITY if none
 * is finite), the point in *g. When the nearest levels are a grid point,
 * that point is the answer and lb its cost, unless lb is not finite. */
static float l1_group_best(const struct lattice *lt, const uint16_t *nbc, const struct l1group *p, uint16_t *g)
{
	const int32_t m = lt->map[p->u];
	if (m >= 0 && p->lb < INFINITY) {
		*g = (uint16_t)m;
		return p->lb;
	}
	const int32_t off = lt->alt[p->u];
	float best = INFINITY;
	qnt__v8f t[8];
	cost8_tables(p->e[0], p->e[1], p->e[2], t);
	*g = (uint16_t)cost8_best(lt, nbc, off, mini(lt->nb[off], IQ_LIST_CAP), t, &best, lt->nb[off + 1]);
	return best;
}

/* Whether errors acc + lb[k] + ... + lb[n-1] (added in that order, as the
 * search adds the errors it finds, each no less than its lb) reach bound:
 * then no completion of acc beats bound. Never for an infinite bound (ties
 * there still pick codes). */
static int l1_cannot_beat(double acc, const float *lb, int k, int n, double bound)
{
	if (!(bound < INFINITY))
		return 0;
	for (; k < n; k++)
		acc += lb[k];
	return acc >= bound;
}

/* The error of one delta sign of an iq1_s sub-block (4 groups), its codes in
 * g; -1 when it provably reaches bound (then g is unset). */
static double l1_sign_err(const struct lattice *lt, const uint16_t *nbc, const struct l1group *p, const float *lb,
			  double bound, uint16_t *g)
{
	double acc = 0;
	for (int k = 0; k < 4; k++) {
		if (l1_cannot_beat(acc, lb, k, 4, bound))
			return -1;
		/* the next group's list (its alt entry prefetched) on its way */
		if (k < 3) {
			const int32_t off = lt->alt[p[k + 1].u];
			__builtin_prefetch(lt->nb + off);
			__builtin_prefetch(nbc + off);
		}
		acc += l1_group_best(lt, nbc, p + k, g + k);
	}
	return acc;
}

/* Codes of one sub-block (sub elements) for the scale dl: per group (iq1_m)
 * or for the whole sub-block (iq1_s) the better delta sign (sign 0 on
 * equal errors), and the error. The result is only needed when it is below
 * bound: searches that cannot get there are skipped (by the lower bounds lb
 * of the groups) and then INFINITY is returned with g, sh unset; otherwise
 * the codes and error are those of the full search. */
static double l1_sub_codes(const struct l1fmt *f, const struct lattice *lt, const uint16_t *nbc, const float *x, const float *w, float dl,
			   uint16_t *g, uint8_t *sh, double bound)
{
	const int ng = f->sub / 8;
	struct l1group p[2][4];
	float lb[2][4], lbm[4];
	/* the codes and bounds of all groups by one cost8_pack (iq1_m:
	 * groups 0, 1, 4, 5) */
	qnt__v8f mn[8];
	qnt__v8i bl[8];
	uint32_t u8[8];
	float lb8[8];
#pragma GCC unroll 2
	for (int s = 0; s < 2; s++)
#pragma GCC unroll 4
		for (int k = 0; k < 4; k++) {
			if (k < ng) {
				l1_group_prep(x + 8 * k, w + 8 * k, dl, s, &p[s][k], &mn[4 * s + k], &bl[4 * s + k]);
			} else {
				mn[4 * s + k] = splat8(0.0f);
				bl[4 * s + k] = (qnt__v8i){ 0, 0, 0, 0, 0, 0, 0, 0 };
			}
		}
	cost8_pack(mn, bl, u8, lb8);
	for (int s = 0; s < 2; s++)
		for (int k = 0; k < ng; k++) {
			p[s][k].u = u8[4 * s + k];
			p[s][k].lb = lb[s][k] = lb8[4 * s + k];
			/* the tables of 2^16 entries are mostly outside L1 and
			 * L2: the loads of all groups start together */
			__builtin_prefetch(lt->map + p[s][k].u);
			__builtin_prefetch(lt->alt + p[s][k].u);
		}
	if (ng == 4) { /* iq1_s: one delta for the sub-block */
		uint16_t gg[2][4];
		double b[2] = { 0, 0 }, t[2];
		for (int k = 0; k < 4; k++) {
			b[0] += lb[0][k];
			b[1] += lb[1][k];
		}
		/* the sign of the smaller bound first; the other one matters
		 * only below ob: below bound, and for sign 1 below sign 0's
		 * error (sign 0 wins equal errors) */
		const int a = b[1] < b[0], o = 1 - a;
		t[a] = l1_sign_err(lt, nbc, p[a], lb[a], bound, gg[a]);
		const double ob = a == 0 && t[a] >= 0 && t[a] < bound ? t[a] : bound;
		if (l1_cannot_beat(0, lb[o], 0, 4, ob) || (a == 1 && t[a] >= 0 && b[o] > t[a]))
			t[o] = -1;
		else
			t[o] = l1_sign_err(lt, nbc, p[o], lb[o], ob, gg[o]);
		int s;
		if (t[0] >= 0 && t[1] >= 0)
			s = t[1] < t[0];
		else if (t[a] >= 0)
			s = a;
		else if (t[o] >= 0 && t[o] < bound)
			s = o;
		else
			return INFINITY;
		for (int k = 0; k < 4; k++) {
			g[k] = gg[s][k];
			sh[k] = (uint8_t)s;
		}
		return t[s];
	}
	/* iq1_m: a delta per group (lbm: the smaller lb, NaN if either is) */
	for (int k = 0; k < ng; k++)
		lbm[k] = lb[0][k] <= lb[1][k] ? lb[0][k] : lb[1][k] < lb[0][k] ? lb[1][k] : NAN;
	double err = 0;
	for (int k = 0; k < ng; k++) {
		if (l1_cannot_beat(err, lbm, k, ng, bound))
			return INFINITY;
		uint16_t gs[2];
		float e[2];
		const int a = lb[1][k] < lb[0][k], o = 1 - a;
		e[a] = l1_group_best(lt, nbc, &p[a][k], &gs[a]);
		int s;
		if (a == 0 ? lb[o][k] >= e[a] : lb[o][k] > e[a]) {
			s = a;
		} else {
			e[o] = l1_group_best(lt, nbc, &p[o][k], &gs[o]);
			s = e[1] < e[0];
		}
		g[k] = gs[s];
		sh[k] = (uint8_t)s;
		err += e[s];
	}
	return err;
}

/* The values c[level] of n elements (whole groups) with the points g and
 * delta signs sh: level - 1 +- IQ1_DELTA, exact in float (x_p1, x_m1). */
static void l1_levels(const struct lattice *lt, const uint16_t *g, const uint8_t *sh, int n, float *q)
{
	typedef uint8_t v8u8 __attribute__((vector_size(8)));
	for (int k = 0; k < n / 8; k++) {
		v8u8 lv;
		memcpy(&lv, lt->lev + 8 * g[k], sizeof lv);
		const qnt__v8f v = __builtin_convertvector(__builtin_convertvector(lv, qnt__v8i) - 1, qnt__v8f) +
				   splat8(sh[k] ? -IQ1_DELTA : IQ1_DELTA);
		memcpy(q + 8 * k, &v, sizeof v);
	}
}

static double l1_pass(const struct l1fmt *f, const struct lattice *lt, const uint16_t *nbc, const float *x, const float *w,
		      struct l1state *st)
{
	const int nsub = QK_K / f->sub, ng = f->sub / 8;
	double total = 0;
	uint16_t g[4];
	uint8_t sh[4];
	for (int j = 0; j < nsub; j++) {
		const int o = j * f->sub;
		/* the error of the current codes, and scale codes: the
		 * current one +-1 and those around the least-squares scale of
		 * the current codes */
		float q[32];
		l1_levels(lt, st->g + j * ng, st->sh + j * ng, f->sub, q);
		const float dl = st->d * (float)(2 * st->s[j] + 1);
		double best = 0, num = 0, den = 0;
		for (int i = 0; i < f->sub; i++) {
			const double r = (double)x[o + i] - (double)(dl * q[i]);
			best += (double)w[o + i] * r * r;
			num += (double)w[o + i] * q[i] * x[o + i];
			den += (double)w[o + i] * q[i] * q[i];
		}
		int cand[5], nc = 0;
		for (int s = st->s[j] - IQ_SCALE_STEP; s <= st->s[j] + IQ_SCALE_STEP; s++)
			if (s >= 0 && s <= 7)
				cand[nc++] = s;
		if (den > 0) {
			const double t = (num / den / st->d - 1) / 2;
			if (t > -1 && t < 9) {
				const int lo = (int)floor(t);
				for (int s = lo; s <= lo + 1; s++) {
					int dup = s < 0 || s > 7;
					for (int m = 0; m < nc; m++)
						dup |= cand[m] == s;
					if (!dup)
						cand[nc++] = s;
				}
			}
		}
		for (int c = 0; c < nc; c++) {
			const double e = l1_sub_codes(f, lt, nbc, x + o, w + o, st->d * (float)(2 * cand[c] + 1), g, sh, best);
			if (e < best) {
				best = e;
				st->s[j] = (uint8_t)cand[c];
				memcpy(st->g + j * ng, g, sizeof g[0] * (size_t)ng);
				memcpy(st->sh + j * ng, sh, (size_t)ng);
			}
		}
		total += best;
	}
	return total;
}

static double l1_lsq_d(const struct l1fmt *f, const struct lattice *lt, const struct l1state *st, const float *x,
		       const float *w)
{
	float c[QK_K];
	l1_levels(lt, st->g, st->sh, QK_K, c);
	double num = 0, den = 0;
	for (int e = 0; e < QK_K; e++) {
		const double q = (2.0 * st->s[e / f->sub] + 1) * c[e];
		num += (double)w[e] * q * x[e];
		den += (double)w[e] * q * q;
	}
	return den > 0 ? num / den : 0.0;
}

/* The steps of iq1_s, iq1_m. */
static void l1_pack(const void *f, const void *st, void *blk)
{
	((const struct l1fmt *)f)->pack(st, blk);
}
static double l1_codes(const void *f, const struct lattice *lt, const uint16_t *nbc, const float *x, const float *w,
		       float dl, uint16_t *g, uint8_t *sh, double bound)
{
	return l1_sub_codes(f, lt, nbc, x, w, dl, g, sh, bound);
}
/* As lat_start_with: per sub-block the codes of the best of start_trials'
 * scales (the top level is 1 + IQ1_DELTA) and their least-squares scale,
 * then start_scales (d (2s+1): kind 2, codes 0..7). */
static void l1_start(const void *fv, const float *x, const float *w, void *sv)
{
	const struct l1fmt *f = fv;
	const uint16_t *nbc;
	const struct lattice *lt = get_lattice8(LAT_IQ1S, &nbc);
	struct l1state *st = sv;
	const int nsub = QK_K / f->sub, ng = f->sub / 8;
	double dl[16], cv[16];
	for (int j = 0; j < nsub; j++) {
		const int o = j * f->sub;
		float tr[8];
		const int nt = start_trials(x + o, w + o, f->sub, f->ratio, f->nratio, 1 + IQ1_DELTA, tr);
		const float bdl = start_best(f, lt, nbc, l1_codes, x + o, w + o, tr, nt, st->g + j * ng, ng,
					     st->sh + j * ng, ng);
		float q[32];
		l1_levels(lt, st->g + j * ng, st->sh + j * ng, f->sub, q);
		double num = 0, den = 0;
		for (int i = 0; i < f->sub; i++) {
			num += (double)w[o + i] * q[i] * x[o + i];
			den += (double)w[o + i] * q[i] * q[i];
		}
		dl[j] = den > 0 && num > 0 ? num / den : bdl;
		cv[j] = den;
	}
	st->d = start_scales(2, 7, nsub, dl, cv, st->s);
}
static double l1_pass_v(const void *f, const float *x, const float *w, void *st)
{
	const uint16_t *nbc;
	const struct lattice *lt = get_lattice8(LAT_IQ1S, &nbc);
	return l1_pass(f, lt, nbc, x, w, st);
}
static double l1_sub_amax(const void *fv, const float *x, const float *w, const void *sv)
{
	const struct l1fmt *f = fv;
	const uint16_t *nbc;
	const struct lattice *lt = get_lattice8(LAT_IQ1S, &nbc);
	const struct l1state *st = sv;
	double amax = 0;
	float c[QK_K];
	l1_levels(lt, st->g, st->sh, QK_K, c);
	for (int j = 0; j < QK_K / f->sub; j++) {
		double num = 0, den = 0;
		for (int i = j * f->sub; i < (j + 1) * f->sub; i++) {
			num += (double)w[i] * c[i] * x[i];
			den += (double)w[i] * c[i] * c[i];
		}
		if (den > 0 && num / den > amax)
			amax = num / den;
	}
	return amax;
}
static double l1_dbmul(const void *f, int s)
{
	return 2 * s + 1;
}
static double l1_lsq_d_v(const void *f, const void *st, const float *x, const float *w)
{
	const uint16_t *nbc;
	return l1_lsq_d(f, get_lattice8(LAT_IQ1S, &nbc), st, x, w);
}

static const struct search_ops R_L1 = { sizeof(struct l1state), 7, l1_pack, l1_start, l1_pass_v,
					l1_sub_amax, l1_dbmul, l1_lsq_d_v };

static void l1_search_v(const void *f, const float *x, const float *w, void *blk)
{
	iq_search(&R_L1, f, x, w, blk, ((const struct l1fmt *)f)->rounds);
}

static void g_iq1_m(const float *x, void *blk)
{
	ggml_iq1_m(x, blk);
}

static const struct iq_driver D_IQ1S = { &F_IQ1S, sizeof(struct blk_iq1_s), l1_search_v, NULL, deq_iq1_s };
static const struct iq_driver D_IQ1M = { &F_IQ1M, sizeof(struct blk_iq1_m), l1_search_v, g_iq1_m, deq_iq1_m };

static void quant_iq1_s(const float *src, void *dst, int64_t nrows, int64_t n, const float *imp)
{
	quant_iq_rows(&D_IQ1S, src, dst, nrows, n, imp);
}
static void quant_iq1_m(const float *src, void *dst, int64_t nrows, int64_t n, const float *imp)
{
	quant_iq_rows(&D_IQ1M, src, dst, nrows, n, imp);
}

/* ------------------------------------------------------------------ */
/* Row drivers and the format table                                     */
/* ------------------------------------------------------------------ */

static void quant_iq4_nl(const float *src, void *dst, int64_t nrows, int64_t n, const float *imp)
{
	struct blk_iq4_nl *b = dst;
	for (int64_t r = 0; r < nrows; r++) {
		const float *x = src + r * n;
		for (int64_t i = 0; i < n / QK4_NL; i++, b++) {
			if (imp && !all_zero(imp + i * QK4_NL, QK4_NL))
				weighted_iq4_nl(x + i * QK4_NL, imp + i * QK4_NL, b);
			else
				ggml_iq4_nl(x + i * QK4_NL, NULL, b, NULL);
		}
	}
}

static void quant_iq4_xs(const float *src, void *dst, int64_t nrows, int64_t n, const float *imp)
{
	struct blk_iq4_xs *b = dst;
	for (int64_t r = 0; r < nrows; r++) {
		const float *x = src + r * n;
		for (int64_t i = 0; i < n / QK_K; i++, b++) {
			if (imp && !all_zero(imp + i * QK_K, QK_K))
				weighted_iq4_xs(x + i * QK_K, imp + i * QK_K, b);
			else
				ggml_iq4_xs(x + i * QK_K, NULL, b, NULL);
		}
	}
}

#define IQ_FLAGS (QNT_TYPE_FLAG_QUANTIZED | QNT_TYPE_FLAG_IMPORTANCE)

const struct qnt__type_traits qnt__traits_iquants[] = {
	{ QNT_TYPE_IQ2_XXS, "iq2_xxs", "8-element lattice points (256) with signs, 4-bit scales per 32, fp16 super-scale",
	  QK_K, sizeof(struct blk_iq2_xxs), IQ_FLAGS, quant_iq2_xxs, deq_iq2_xxs },
	{ QNT_TYPE_IQ2_XS, "iq2_xs", "8-element lattice points (512) with signs, 4-bit scales per 16, fp16 super-scale",
	  QK_K, sizeof(struct blk_iq2_xs), IQ_FLAGS, quant_iq2_xs, deq_iq2_xs },
	{ QNT_TYPE_IQ3_XXS, "iq3_xxs", "4-element lattice points (256) with signs, 4-bit scales per 32, fp16 super-scale",
	  QK_K, sizeof(struct blk_iq3_xxs), IQ_FLAGS, quant_iq3_xxs, deq_iq3_xxs },
	{ QNT_TYPE_IQ1_S, "iq1_s", "8-element ternary points (2048), 3-bit scales and shifts per 32, fp16 super-scale",
	  QK_K, sizeof(struct blk_iq1_s), IQ_FLAGS, quant_iq1_s, deq_iq1_s },
	{ QNT_TYPE_IQ4_NL, "iq4_nl", "16 non-linear 4-bit values, fp16 scale per 32", QK4_NL,
	  sizeof(struct blk_iq4_nl), IQ_FLAGS, quant_iq4_nl, deq_iq4_nl },
	{ QNT_TYPE_IQ3_S, "iq3_s", "4-element lattice points (512), sign bits, 4-bit scales per 32, fp16 super-scale",
	  QK_K, sizeof(struct blk_iq3_s), IQ_FLAGS, quant_iq3_s, deq_iq3_s },
	{ QNT_TYPE_IQ2_S, "iq2_s", "8-element lattice points (1024), sign bits, 4-bit scales per 16, fp16 super-scale",
	  QK_K, sizeof(struct blk_iq2_s), IQ_FLAGS, quant_iq2_s, deq_iq2_s },
	{ QNT_TYPE_IQ4_XS, "iq4_xs", "16 non-linear 4-bit values, 6-bit scales per 32, fp16 super-scale", QK_K,
	  sizeof(struct blk_iq4_xs), IQ_FLAGS, quant_iq4_xs, deq_iq4_xs },
	{ QNT_TYPE_IQ1_M, "iq1_m", "8-element ternary points (2048), 3-bit scales per 16, shifts per 8, fp16 super-scale",
	  QK_K, sizeof(struct blk_iq1_m), IQ_FLAGS, quant_iq1_m, deq_iq1_m },
};
const size_t qnt__traits_iquants_count = sizeof qnt__traits_iquants / sizeof qnt__traits_iquants[0];
