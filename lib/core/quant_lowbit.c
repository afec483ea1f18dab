/* SPDX-License-Identifier: MIT */
/*
 * Scalar reference for ggml's low-bit formats:
 *   tq1_0 (34)  ternary codes, base-3 packed (5 per byte), fp16 scale per 256
 *   tq2_0 (35)  ternary codes in 2-bit fields, fp16 scale per 256
 *   mxfp4 (39)  E2M1 codes, one E8M0 exponent per 32
 *   nvfp4 (40)  E2M1 codes, one UE4M3 scale per 16, 64 per block
 *   q1_0  (41)  sign bits, fp16 scale per 128
 *   q2_0  (42)  2-bit codes for {-1, 0, 1, 2}, fp16 scale per 64
 *
 * Layouts, constants and the rounding of the reference quantizers follow
 * ggml (ggml-common.h, ggml-quants.c, ggml-impl.h, ggml master of 2026-08),
 * written anew here. Without importance weights the bytes are those of
 * ggml's quantize_row_*_ref, including the integer wrap-around ggml's casts
 * give on x86-64 for inputs with inf or NaN (lroundf of a non-finite value is
 * LONG_MIN there, a float converted to an integer out of range is INT_MIN).
 * mxfp4's exponent is floor(log2f(amax)) as in ggml: log2f comes from the C
 * library, as it does for ggml (with glibc both give the same bytes).
 * Dequantization performs ggml's float operations, so it gives its floats.
 *
 * ggml's quantize_* functions ignore the importance matrix for all six
 * formats (q1_0 and q2_0 take it but call the reference per row). With
 * importance weights w, libqnt minimises sum_j w_j (x_j - x^_j)^2 per block:
 *   - tq1_0 (levels -1, 0, 1), tq2_0 and q2_0 (levels -1, 0, 1, 2):
 *     value = d * level. For a
 *     fixed set of codes the best d is a weighted least-squares ratio; the
 *     sets of nearest codes, as 1/d sweeps from 0 to infinity, are
 *     enumerated exactly (one sort of |x| per block), which gives the
 *     continuous optimum; the best few are then rounded to fp16, tried at
 *     their fp16 neighbours with the codes chosen again for the rounded
 *     scale, and measured exactly.
 *   - q1_0: the codes are the signs; the best d is sum w|x| / sum w, rounded
 *     to the nearest fp16 values (the error is a parabola in d).
 *   - mxfp4, nvfp4: for a given scale the nearest code is best for every
 *     weight, so only the scale is searched, exhaustively: a scale twice
 *     one that does not clip has only values that one has, so it cannot do
 *     better; below that every E8M0 exponent or UE4M3 scale is tried, down
 *     to where the clipping of the large elements alone costs more than the
 *     best so far.
 * The result is packed, dequantized and its weighted error compared with
 * that of ggml's block: ggml's block is kept unless the search's is strictly
 * better, so it is never worse than ggml for the same data.
 *
 * tq2_0 and q2_0 store 2-bit codes c read as (c - 1) * d, so code 3 is the
 * value 2d. ggml's quantizers never write it (|x / d| <= 1), although every
 * ggml kernel decodes (c & 3) - 1 arithmetically (the reference, x86, ARM,
 * RISC-V, Metal and Vulkan code). tq2_0 is a ternary format, and engines may
 * rely on that (sign-based ternary kernels), so its search keeps to the
 * levels -1, 0, 1. q2_0 is a plain 2-bit format: its search uses all four
 * levels -1, 0, 1, 2 (and their negatives, with d < 0); on exactly ternary
 * data the best fit is still ternary.
 *
 * Built with -ffp-contract=off (no fused multiply-add anywhere).
 */
#include "qnt_fp.h"
#include "qnt_lanes.h"
#include "qnt_internal.h"
#include "formats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define QK_K 256
#define QK_MXFP4 32
#define QK_NVFP4 64
#define QK_NVFP4_SUB 16
#define QK1_0 128
#define QK2_0 64

struct blk_tq1_0 {
	uint8_t qs[48]; /* elements 0..239, five trits per byte */
	uint8_t qh[4];  /* elements 240..255, four trits per byte */
	uint16_t d;
};
struct blk_tq2_0 {
	uint8_t qs[QK_K / 4]; /* 2-bit fields */
	uint16_t d;
};
struct blk_mxfp4 {
	uint8_t e; /* E8M0 */
	uint8_t qs[QK_MXFP4 / 2];
};
struct blk_nvfp4 {
	uint8_t d[QK_NVFP4 / QK_NVFP4_SUB]; /* UE4M3 */
	uint8_t qs[QK_NVFP4 / 2];
};
struct blk_q1_0 {
	uint16_t d;
	uint8_t qs[QK1_0 / 8];
};
struct blk_q2_0 {
	uint16_t d;
	uint8_t qs[QK2_0 / 4];
};

_Static_assert(sizeof(struct blk_tq1_0) == 54, "tq1_0 block");
_Static_assert(sizeof(struct blk_tq2_0) == 66, "tq2_0 block");
_Static_assert(sizeof(struct blk_mxfp4) == 17, "mxfp4 block");
_Static_assert(sizeof(struct blk_nvfp4) == 36, "nvfp4 block");
_Static_assert(sizeof(struct blk_q1_0) == 18, "q1_0 block");
_Static_assert(sizeof(struct blk_q2_0) == 18, "q2_0 block");
_Static_assert(offsetof(struct blk_tq1_0, d) == 52 && offsetof(struct blk_tq2_0, d) == 64, "scale last");

/* ------------------------------------------------------------------ */
/* Scalar helpers with ggml's exact semantics                           */
/* ------------------------------------------------------------------ */

/* fp32 -> fp16 as ggml's portable conversion: round to nearest even, every
 * NaN becomes 0x7e00 with its sign. */
static inline uint16_t to_fp16(float f)
{
	uint32_t u = qnt__f32_bits(f);
	if ((u & 0x7fffffffu) > 0x7f800000u)
		return (uint16_t)(((u >> 16) & 0x8000u) | 0x7e00u);
	return qnt__fp32_to_fp16(f);
}

/* The fp16 scales are read and written bytewise: a block may sit at any
 * address. ggml's portable fp16 -> fp32 conversion ends in a float multiply,
 * which quiets a signalling NaN; q1_0 passes the scale through unmultiplied,
 * so the quiet bit is set here too. */
static inline float get_d(const uint16_t *p)
{
	uint16_t h;
	memcpy(&h, p, sizeof h);
	float d = qnt__fp16_to_fp32(h);
	if ((h & 0x7c00u) == 0x7c00u && (h & 0x03ffu))
		d = qnt__f32_from_bits(qnt__f32_bits(d) | 0x00400000u);
	return d;
}

static inline void put_d(uint16_t *p, uint16_t h)
{
	memcpy(p, &h, sizeof h);
}

/* lroundf as glibc computes it on x86-64: round half away from zero, and
 * LONG_MIN for NaN, infinities and values outside the range of long. */
static inline int64_t lround_x86(float v)
{
	if (!(v >= -0x1p63f && v < 0x1p63f))
		return INT64_MIN;
	if (fabsf(v) >= 0x1p23f) /* already an integer */
		return (int64_t)v;
	int32_t t = (int32_t)v;
	float f = v - (float)t;
	return (int64_t)t + (f >= 0.5f) - (f <= -0.5f);
}

/* E2M1 values, doubled (ggml's kvalues_mxfp4): index 8 is -0. */
static const int8_t kv_fp4[16] = { 0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12 };

/* ggml's search for the nearest E2M1 code: the first index of least
 * fabsf(kv*d - x), in float. */
static int fp4_index_loop(float x, float d)
{
	int best = 0;
	float best_err = fabsf((float)kv_fp4[0] * d - x);
	for (int i = 1; i < 16; i++) {
		float err = fabsf((float)kv_fp4[i] * d - x);
		if (err < best_err) {
			best = i;
			best_err = err;
		}
	}
	return best;
}

/* The same indices for n elements at one scale, fast. kv*d and the
 * midpoints m*d are exact in float for the scales of both formats (powers of
 * two, or 4 significant bits times a power of two, below 2^120), and for
 * |x| <= 24 d the differences ggml compares are exact too (Sterbenz) or far
 * apart, so comparing |x| with the midpoints, ties to the smaller magnitude,
 * gives ggml's index. Elsewhere (huge, inf or NaN x, where ggml's rounded
 * errors can tie) ggml's loop decides. */
static void fp4_indices(const float *x, int n, float d, uint8_t *idx)
{
	static const float mid[7] = { 0.5f, 1.5f, 2.5f, 3.5f, 5.0f, 7.0f, 10.0f };
	float t[7];
	for (int k = 0; k < 7; k++)
		t[k] = mid[k] * d;
	const float lim = d < 0x1p120f ? 24.0f * d : -1.0f;
	/* four elements per vector (n is a multiple of 4); a comparison gives
	 * -1 in the lanes where it holds */
	const qnt__v4i absmask = { INT32_MAX, INT32_MAX, INT32_MAX, INT32_MAX };
	const qnt__v4f zero = { 0, 0, 0, 0 }, vlim = { lim, lim, lim, lim };
	qnt__v4i slowv = { 0, 0, 0, 0 };
	for (int j = 0; j < n; j += 4) {
		qnt__v4f xv, a;
		qnt__v4i bits;
		memcpy(&xv, x + j, sizeof xv);
		memcpy(&bits, &xv, sizeof bits);
		bits &= absmask;
		memcpy(&a, &bits, sizeof a);
		qnt__v4i i = -(a > t[0]);
		for (int k = 1; k < 7; k++)
			i -= a > t[k];
		const qnt__v4i code = i + (((xv < zero) & (i > 0)) & 8);
		for (int k = 0; k < 4; k++)
			idx[j + k] = (uint8_t)code[k];
		slowv |= ~(a <= vlim);
	}
	const int slow = (slowv[0] | slowv[1] | slowv[2] | slowv[3]) != 0;
	if (slow)
		for (int j = 0; j < n; j++)
			if (!(fabsf(x[j]) <= lim))
				idx[j] = (uint8_t)fp4_index_loop(x[j], d);
}

/* Packs n codes for two halves: element j < n/2 in the low nibble of byte
 * j, element j + n/2 in its high nibble. */
static void pack_fp4(const float *x, int n, float d, uint8_t *qs)
{
	uint8_t idx[QK_MXFP4];
	fp4_indices(x, n, d, idx);
	for (int j = 0; j < n / 2; j++)
		qs[j] = (uint8_t)(idx[j] | idx[j + n / 2] << 4);
}

/* ggml_e8m0_to_fp32_half: 2^(e - 128), subnormal for e < 2. */
static inline float e8m0_half(uint8_t e)
{
	uint32_t bits = e < 2 ? 0x00200000u << e : (uint32_t)(e - 1) << 23;
	return qnt__f32_from_bits(bits);
}

/* ggml_ue4m3_to_fp32: unsigned E4M3 (bias 7), times 0.5; bit 7 is ignored,
 * 0x00 and 0x7f read as 0. Every value is exact in float. */
static inline float ue4m3_half(uint8_t x)
{
	if (x == 0 || x == 0x7f)
		return 0.0f;
	int ex = (x >> 3) & 0xf, man = x & 7;
	if (ex == 0)
		return (float)man * 0x1p-10f;
	/* (1 + man/8) * 2^(ex-7) * 0.5 = (8 + man) * 2^(ex-11) */
	return (float)(8 + man) * qnt__f32_from_bits((uint32_t)(ex - 11 + 127) << 23);
}

/* ggml_fp32_to_ue4m3: clamp to 448, round by the first dropped mantissa bit
 * (half up), subnormals by x * 512 + 0.5 truncated. */
static uint8_t fp32_to_ue4m3(float x)
{
	if (!(x > 0.0f))
		return 0;
	if (x > 448.0f)
		x = 448.0f;
	uint32_t bits = qnt__f32_bits(x);
	int ex = (int)((bits >> 23) & 0xff) - 127 + 7;
	int man = (int)((bits >> 20) & 7);
	if (ex <= 0) {
		int m = (int)(x * 512.0f + 0.5f);
		if (m > 7)
			m = 7;
		return m < 1 ? 0 : (uint8_t)m;
	}
	if (ex >= 15)
		return 0x7e;
	man += (int)((bits >> 19) & 1);
	if (man > 7) {
		man = 0;
		if (++ex >= 15)
			return 0x7e;
	}
	return (uint8_t)((ex << 3) | man);
}

static int all_zero(const float *w, int n)
{
	for (int j = 0; j < n; j++)
		if (w[j] != 0.0f)
			return 0;
	return 1;
}

static int all_finite(const float *x, int n)
{
	for (int j = 0; j < n; j++)
		if (!isfinite(x[j]))
			return 0;
	return 1;
}

/* sum w (x - y)^2 in double. */
static double wsse(const float *x, const float *y, const float *w, int n)
{
	double e = 0;
	for (int j = 0; j < n; j++) {
		double r = (double)x[j] - (double)y[j];
		e += (double)w[j] * r * r;
	}
	return e;
}

static inline double finite_or_inf(double e)
{
	return e < INFINITY ? e : INFINITY;
}

/* A search result replaces ggml's block only when it is better by more than
 * rounding noise, so that sums in any order agree that it is not worse. A
 * non-finite error of ggml's block (a scale that overflows fp16) counts as
 * infinite: any finite result beats it. */
static inline int clearly_better(double err, double ref_err)
{
	if (!(ref_err < INFINITY))
		return err < INFINITY;
	return err < ref_err - 1e-12 * ref_err;
}

/* ------------------------------------------------------------------ */
/* Packing                                                              */
/* ------------------------------------------------------------------ */

/* tq1_0: c[e] is the trit of element e (0, 1, 2 for -1, 0, +1) or, in
 * ggml's degenerate cases, any byte: the arithmetic is ggml's uint8_t
 * arithmetic. Byte m of the first 32 holds elements m + 32n (n = 0..4, n = 0
 * the most significant trit), the next 16 bytes elements 160 + m + 16n, qh[j]
 * elements 240 + j + 4n (n = 0..3, then one trit of zero), each as
 * ceil(q * 256 / 243). */
static inline uint8_t tq1_byte(uint8_t q)
{
	return (uint8_t)(((unsigned)q * 256u + 242u) / 243u);
}

static void pack_tq1_0(const uint8_t *c, struct blk_tq1_0 *b)
{
	for (int m = 0; m < 32; m++) {
		uint8_t q = 0;
		for (int n = 0; n < 5; n++)
			q = (uint8_t)(q * 3u + c[m + 32 * n]);
		b->qs[m] = tq1_byte(q);
	}
	for (int m = 0; m < 16; m++) {
		uint8_t q = 0;
		for (int n = 0; n < 5; n++)
			q = (uint8_t)(q * 3u + c[160 + m + 16 * n]);
		b->qs[32 + m] = tq1_byte(q);
	}
	for (int j = 0; j < 4; j++) {
		uint8_t q = 0;
		for (int n = 0; n < 4; n++)
			q = (uint8_t)(q * 3u + c[240 + j + 4 * n]);
		b->qh[j] = tq1_byte((uint8_t)(q * 3u));
	}
}

/* tq2_0 (and the k-quants' 2-bit layout): element 128h + 32n + m is bits
 * 2n..2n+1 of qs[32h + m]. */
static void pack_tq2_0(const uint8_t *c, struct blk_tq2_0 *b)
{
	for (int h = 0; h < 2; h++)
		for (int m = 0; m < 32; m++) {
			const uint8_t *e = c + 128 * h + m;
			b->qs[32 * h + m] = (uint8_t)((e[0] & 3) | (e[32] & 3) << 2 | (e[64] & 3) << 4 | (e[96] & 3) << 6);
		}
}

/* q2_0: element j is bits 2(j%4)..2(j%4)+1 of qs[j/4]. */
static void pack_q2_0(const uint8_t *c, struct blk_q2_0 *b)
{
	for (int j = 0; j < QK2_0 / 4; j++)
		b->qs[j] = (uint8_t)(c[4 * j] | c[4 * j + 1] << 2 | c[4 * j + 2] << 4 | c[4 * j + 3] << 6);
}

/* q1_0: bit j%8 of qs[j/8] set for +d. */
static void pack_q1_0(const uint8_t *c, struct blk_q1_0 *b)
{
	for (int j = 0; j < QK1_0 / 8; j++) {
		uint8_t v = 0;
		for (int k = 0; k < 8; k++)
			v |= (uint8_t)(c[8 * j + k] << k);
		b->qs[j] = v;
	}
}

/* ------------------------------------------------------------------ */
/* Dequantizers (ggml's float operations)                               */
/* ------------------------------------------------------------------ */

/* The trit n (0 = most significant) of n bytes of tq1_0, as ggml extracts
 * it: the byte times 3^n kept to 8 bits, times 3, over 256. Called with
 * constant arguments, so that the loops vectorise. */
static inline void tq1_trits(const uint8_t *restrict q, int n, unsigned pow3, float d, float *restrict y)
{
	for (int m = 0; m < n; m++) {
		const uint8_t v = (uint8_t)(q[m] * pow3);
		y[m] = (float)((int)(((uint16_t)v * 3u) >> 8) - 1) * d;
	}
}

static void deq_tq1_0(const void *src, float *y, int64_t n)
{
	const struct blk_tq1_0 *b = src;
	for (int64_t i = 0; i < n / QK_K; i++, b++, y += QK_K) {
		const float d = get_d(&b->d);
		tq1_trits(b->qs, 32, 1, d, y + 0);
		tq1_trits(b->qs, 32, 3, d, y + 32);
		tq1_trits(b->qs, 32, 9, d, y + 64);
		tq1_trits(b->qs, 32, 27, d, y + 96);
		tq1_trits(b->qs, 32, 81, d, y + 128);
		tq1_trits(b->qs + 32, 16, 1, d, y + 160);
		tq1_trits(b->qs + 32, 16, 3, d, y + 176);
		tq1_trits(b->qs + 32, 16, 9, d, y + 192);
		tq1_trits(b->qs + 32, 16, 27, d, y + 208);
		tq1_trits(b->qs + 32, 16, 81, d, y + 224);
		tq1_trits(b->qh, 4, 1, d, y + 240);
		tq1_trits(b->qh, 4, 3, d, y + 244);
		tq1_trits(b->qh, 4, 9, d, y + 248);
		tq1_trits(b->qh, 4, 27, d, y + 252);
	}
}

/* 32 2-bit fields at one shift, read as (c - 1) * d. */
static inline void tq2_lane(const uint8_t *restrict q, int shift, float d, float *restrict y)
{
	for (int m = 0; m < 32; m++)
		y[m] = (float)((int)((q[m] >> shift) & 3) - 1) * d;
}

static void deq_tq2_0(const void *src, float *y, int64_t n)
{
	const struct blk_tq2_0 *b = src;
	for (int64_t i = 0; i < n / QK_K; i++, b++, y += QK_K) {
		const float d = get_d(&b->d);
		for (int h = 0; h < 2; h++) {
			tq2_lane(b->qs + 32 * h, 0, d, y + 128 * h);
			tq2_lane(b->qs + 32 * h, 2, d, y + 128 * h + 32);
			tq2_lane(b->qs + 32 * h, 4, d, y + 128 * h + 64);
			tq2_lane(b->qs + 32 * h, 6, d, y + 128 * h + 96);
		}
	}
}

static void deq_mxfp4(const void *src, float *y, int64_t n)
{
	const struct blk_mxfp4 *b = src;
	for (int64_t i = 0; i < n / QK_MXFP4; i++, b++, y += QK_MXFP4) {
		const float d = e8m0_half(b->e);
		for (int j = 0; j < QK_MXFP4 / 2; j++) {
			y[j] = (float)kv_fp4[b->qs[j] & 0x0f] * d;
			y[j + QK_MXFP4 / 2] = (float)kv_fp4[b->qs[j] >> 4] * d;
		}
	}
}

static void deq_nvfp4_sub(const struct blk_nvfp4 *b, int s, float *y)
{
	const float d = ue4m3_half(b->d[s]);
	const uint8_t *qs = b->qs + s * (QK_NVFP4_SUB / 2);
	for (int j = 0; j < QK_NVFP4_SUB / 2; j++) {
		y[j] = (float)kv_fp4[qs[j] & 0x0f] * d;
		y[j + QK_NVFP4_SUB / 2] = (float)kv_fp4[qs[j] >> 4] * d;
	}
}

static void deq_nvfp4(const void *src, float *y, int64_t n)
{
	const struct blk_nvfp4 *b = src;
	for (int64_t i = 0; i < n / QK_NVFP4; i++, b++)
		for (int s = 0; s < QK_NVFP4 / QK_NVFP4_SUB; s++, y += QK_NVFP4_SUB)
			deq_nvfp4_sub(b, s, y);
}

static void deq_q1_0(const void *src, float *y, int64_t n)
{
	const struct blk_q1_0 *b = src;
	for (int64_t i = 0; i < n / QK1_0; i++, b++, y += QK1_0) {
		const float d = get_d(&b->d);
		const float nd = -d;
		for (int j = 0; j < QK1_0; j++)
			y[j] = (b->qs[j / 8] >> (j % 8)) & 1 ? d : nd;
	}
}

static void deq_q2_0(const void *src, float *y, int64_t n)
{
	const struct blk_q2_0 *b = src;
	for (int64_t i = 0; i < n / QK2_0; i++, b++, y += QK2_0) {
		const float d = get_d(&b->d);
		for (int j = 0; j < QK2_0; j++)
			y[j] = (float)(((b->qs[j / 4] >> (2 * (j % 4))) & 3) - 1) * d;
	}
}

/* ------------------------------------------------------------------ */
/* ggml's reference quantizers                                          */
/* ------------------------------------------------------------------ */

/* tq1_0 and tq2_0: d = max |x| (ggml's MAX macro: a NaN element replaces
 * the running maximum, the next element replaces the NaN), codes
 * lroundf(x / d) + 1 kept to their low bits. */
static float tq_codes(const float *x, uint8_t *c)
{
	float amax = 0.0f;
	for (int j = 0; j < QK_K; j++) {
		float a = fabsf(x[j]);
		amax = amax > a ? amax : a;
	}
	const float d = amax;
	const float id = d != 0.0f ? 1.0f / d : 0.0f;
	for (int j = 0; j < QK_K; j++)
		c[j] = (uint8_t)(lround_x86(x[j] * id) + 1);
	return d;
}

static void ref_tq1_0(const float *x, void *out)
{
	struct blk_tq1_0 *b = out;
	uint8_t c[QK_K];
	const float d = tq_codes(x, c);
	put_d(&b->d, to_fp16(d));
	pack_tq1_0(c, b);
}

static void ref_tq2_0(const float *x, void *out)
{
	struct blk_tq2_0 *b = out;
	uint8_t c[QK_K];
	const float d = tq_codes(x, c);
	put_d(&b->d, to_fp16(d));
	pack_tq2_0(c, b);
}

static void ref_mxfp4(const float *x, void *out)
{
	struct blk_mxfp4 *b = out;
	float amax = 0.0f;
	for (int j = 0; j < QK_MXFP4; j++)
		if (amax < fabsf(x[j]))
			amax = fabsf(x[j]);
	/* (uint8_t) of a float: the low byte of the x86 conversion */
	const uint8_t e = amax > 0.0f ? (uint8_t)qnt__cvt_trunc(floorf(log2f(amax)) - 2.0f + 127.0f) : 0;
	const float d = e8m0_half(e);
	b->e = e;
	pack_fp4(x, QK_MXFP4, d, b->qs);
}

static void ref_nvfp4_sub(const float *xb, struct blk_nvfp4 *b, int s)
{
	float amax = 0.0f;
	for (int j = 0; j < QK_NVFP4_SUB; j++)
		if (amax < fabsf(xb[j]))
			amax = fabsf(xb[j]);
	const uint8_t ue = fp32_to_ue4m3(amax / 6.0f);
	const float d = ue4m3_half(ue);
	b->d[s] = ue;
	pack_fp4(xb, QK_NVFP4_SUB, d, b->qs + s * (QK_NVFP4_SUB / 2));
}

static void ref_nvfp4(const float *x, void *out)
{
	for (int s = 0; s < QK_NVFP4 / QK_NVFP4_SUB; s++)
		ref_nvfp4_sub(x + s * QK_NVFP4_SUB, out, s);
}

static void ref_q1_0(const float *x, void *out)
{
	struct blk_q1_0 *b = out;
	uint8_t c[QK1_0];
	float sum = 0.0f;
	for (int j = 0; j < QK1_0; j++)
		sum += fabsf(x[j]);
	put_d(&b->d, to_fp16(sum / (float)QK1_0));
	for (int j = 0; j < QK1_0; j++)
		c[j] = x[j] >= 0.0f;
	pack_q1_0(c, b);
}

static void ref_q2_0(const float *x, void *out)
{
	struct blk_q2_0 *b = out;
	uint8_t c[QK2_0];
	float amax = 0.0f;
	for (int j = 0; j < QK2_0; j++) {
		float a = fabsf(x[j]);
		if (a > amax)
			amax = a;
	}
	const float d = amax;
	const float id = d > 0.0f ? 1.0f / d : 0.0f;
	put_d(&b->d, to_fp16(d));
	for (int j = 0; j < QK2_0; j++) {
		/* (int)roundf(x * id) + 1, clamped to 0..3 */
		int32_t r = qnt__cvt_round(x[j] * id);
		int q = r < -1 ? 0 : r > 2 ? 3 : r + 1;
		c[j] = (uint8_t)q;
	}
	pack_q2_0(c, b);
}

/* ------------------------------------------------------------------ */
/* Importance: one scale, a few levels (tq1_0, tq2_0, q2_0)             */
/* ------------------------------------------------------------------ */

#define N_CAND 4
#define MAX_N 256

struct cands {
	int n;
	double err[N_CAND];
	double d[N_CAND];
};

static void cand_add(struct cands *c, double err, double d)
{
	int i;
	if (c->n == N_CAND) {
		if (!(err < c->err[N_CAND - 1]))
			return;
		i = N_CAND - 1;
	} else {
		i = c->n++;
	}
	while (i > 0 && err < c->err[i - 1]) {
		c->err[i] = c->err[i - 1];
		c->d[i] = c->d[i - 1];
		i--;
	}
	c->err[i] = err;
	c->d[i] = d;
}

/* Indices sorted by |x| descending, ties by index: a stable LSD radix sort
 * (four 8-bit digits) of the bits of |x| (a non-negative float sorts as an
 * integer), each digit's buckets taken from the largest. Passes whose digit
 * is the same for every element are skipped. */
static void sort_by_magnitude(const float *x, int n, uint16_t *order)
{
	uint32_t key[MAX_N], key2[MAX_N];
	uint16_t idx2[MAX_N];
	uint16_t cnt[4][256];
	memset(cnt, 0, sizeof cnt);
	for (int j = 0; j < n; j++) {
		const uint32_t k = qnt__f32_bits(x[j]) & 0x7fffffffu;
		key[j] = k;
		order[j] = (uint16_t)j;
		for (int p = 0; p < 4; p++)
			cnt[p][(k >> (8 * p)) & 0xffu]++;
	}
	uint32_t *ka = key, *kb = key2;
	uint16_t *ia = order, *ib = idx2;
	for (int p = 0; p < 4; p++) {
		const int shift = 8 * p;
		if (cnt[p][(ka[0] >> shift) & 0xffu] == n)
			continue;
		uint16_t start[256];
		unsigned pos = 0;
		for (int b = 255; b >= 0; b--) {
			start[b] = (uint16_t)pos;
			pos += cnt[p][b];
		}
		for (int j = 0; j < n; j++) {
			const unsigned b = (ka[j] >> shift) & 0xffu;
			const unsigned t = start[b]++;
			kb[t] = ka[j];
			ib[t] = ia[j];
		}
		uint32_t *kt = ka;
		ka = kb, kb = kt;
		uint16_t *it = ia;
		ia = ib, ib = it;
	}
	if (ia != order)
		memcpy(order, ia, sizeof order[0] * (size_t)n);
}

/* Levels lo..hi (integers, lo <= 0 < hi), value = d * level.
 *
 * One sweep, for d > 0 (call it with sgn = -1 for d < 0, which is the same
 * with x negated): as s = 1/d grows from 0, element j starts at level 0 and
 * moves one level outward each time s * |x_j| passes a midpoint k - 1/2
 * (k = 1 .. hi for x > 0, 1 .. -lo for x < 0); elements with a larger |x|
 * move first. Every set of codes met on the way is the set of nearest codes
 * for some d; for each, the best d is S_lx / S_ll and its error
 * S_xx - S_lx^2 / S_ll. The smallest of these is the continuous optimum.
 * The events are merged from one list per midpoint and side, each in the
 * order of |x| (so of s). */
/* sweep() for the levels -1, 0, 1: every list crosses the midpoint 1/2, so
 * the events come in the order of |x|; among equal |x| the merge takes the
 * elements of the side sgn * x > 0 first (the list of level 1 comes first),
 * which this keeps. The sums are those of sweep(), in the same order. */
static void sweep_ternary(const float *x, const float *w, int n, const uint16_t *order, float sgn,
			  struct cands *out)
{
	double slx = 0, sll = 0, sxx = 0;
	for (int j = 0; j < n; j++)
		sxx += (double)w[j] * x[j] * x[j];
	int i = 0;
	while (i < n && x[order[i]] != 0.0f) {
		/* a run of equal |x|: side sgn * x > 0 first, then the other */
		const float a = fabsf(x[order[i]]);
		int e = i + 1;
		while (e < n && fabsf(x[order[e]]) == a)
			e++;
		for (int side = 0; side < 2; side++) {
			for (int k = i; k < e; k++) {
				const int j = order[k];
				const float v = sgn * x[j];
				if ((side == 0) != (v > 0.0f))
					continue;
				const double xj = (double)v, wj = w[j];
				const double to = side == 0 ? 1.0 : -1.0;
				slx += wj * xj * to;
				sll += wj * 1.0;
				if (sll > 0 && slx > 0)
					cand_add(out, sxx - slx * slx / sll, sgn * (slx / sll));
			}
		}
		i = e;
	}
}

static void sweep(const float *x, const float *w, int n, const uint16_t *order, int lo, int hi, float sgn,
		  struct cands *out)
{
	uint16_t pos_j[MAX_N], neg_j[MAX_N];
	int npos = 0, nneg = 0;
	for (int i = 0; i < n; i++) {
		const float v = sgn * x[order[i]];
		if (v > 0.0f)
			pos_j[npos++] = order[i];
		else if (v < 0.0f)
			neg_j[nneg++] = order[i];
	}
	/* list l: elements `el[l]` (count len[l]) crossing midpoint half[l] */
	const uint16_t *el[4];
	int len[4], cur[4], nl = 0;
	double half[4], lev[4];
	for (int k = 1; k <= hi; k++, nl++) {
		el[nl] = pos_j, len[nl] = npos, cur[nl] = 0, half[nl] = k - 0.5, lev[nl] = k;
	}
	for (int k = 1; k <= -lo; k++, nl++) {
		el[nl] = neg_j, len[nl] = nneg, cur[nl] = 0, half[nl] = k - 0.5, lev[nl] = -k;
	}
	double slx = 0, sll = 0, sxx = 0;
	for (int j = 0; j < n; j++)
		sxx += (double)w[j] * x[j] * x[j];
	for (;;) {
		/* next event: the least (k - 1/2) / |x| over the heads, compared
		 * as products */
		int best = -1;
		double bh = 0, ba = 1;
		for (int l = 0; l < nl; l++) {
			if (cur[l] == len[l])
				continue;
			const double a = fabs((double)x[el[l][cur[l]]]);
			if (best < 0 || half[l] * ba < bh * a) {
				best = l;
				bh = half[l];
				ba = a;
			}
		}
		if (best < 0)
			return;
		const int j = el[best][cur[best]++];
		const double xj = (double)sgn * x[j], wj = w[j];
		const double to = lev[best], from = to > 0 ? to - 1 : to + 1;
		slx += wj * xj * (to - from);
		sll += wj * (to * to - from * from);
		if (sll > 0 && slx > 0)
			cand_add(out, sxx - slx * slx / sll, sgn * (slx / sll));
	}
}

/* Codes (level - lo, so 0..hi-lo) for the scale d: the nearest level (up
 * to ties, where the error is the same). Returns the weighted error of the
 * exact dequantized values. */
static double levels_codes(const float *x, const float *w, int n, int lo, int hi, float d, uint8_t *c)
{
	const float id = 1.0f / d, flo = (float)lo, fhi = (float)hi;
	double e = 0;
	for (int j = 0; j < n; j++) {
		float t = x[j] * id;
		t = t > flo ? t : flo;
		t = t < fhi ? t : fhi;
		const int l = (int)floorf(t + 0.5f);
		c[j] = (uint8_t)(l - lo);
		const double r = (double)x[j] - (double)((float)l * d);
		e += (double)w[j] * r * r;
	}
	return e;
}

/* The weighted errors levels_codes() gives for four scales at once, one per
 * lane (each lane sums in element order, so its error is levels_codes()'s
 * to the bit, in err[0..3]); floorf of t + 1/2 (which lies in [lo + 1/2, hi + 1/2]) is
 * the truncation, less one where that is above it. */
static void levels_err_v4(const float *x, const float *w, int n, int lo, int hi, qnt__v4f d, double *err)
{
	const qnt__v4f one = { 1, 1, 1, 1 };
	const qnt__v4f id = one / d, flo = one * (float)lo, fhi = one * (float)hi, half = one * 0.5f;
	qnt__v4d e = { 0, 0, 0, 0 };
	for (int j = 0; j < n; j++) {
		qnt__v4f t = x[j] * id;
		t = qnt__select_v4f(t > flo, t, flo);
		t = qnt__select_v4f(t < fhi, t, fhi);
		const qnt__v4f u = t + half;
		qnt__v4i l = __builtin_convertvector(u, qnt__v4i);
		l += (qnt__v4i)(__builtin_convertvector(l, qnt__v4f) > u); /* -1 where true */
		const qnt__v4f y = __builtin_convertvector(l, qnt__v4f) * d;
		const qnt__v4d r = (double)x[j] - __builtin_convertvector(y, qnt__v4d);
		e += (double)w[j] * r * r;
	}
	memcpy(err, &e, sizeof e);
}

/* The best fp16 scale and codes for levels lo..hi; returns its weighted
 * error (INFINITY if none). The candidates are the best few continuous
 * optima, each rounded to fp16 and tried with its two fp16 neighbours
 * (distinct values only, in that order); the first of least error wins. */
static double search_levels(const float *x, const float *w, int n, int lo, int hi, int both_signs, uint16_t *hd,
			    uint8_t *codes)
{
	uint16_t order[MAX_N];
	struct cands cs = { 0, { 0 }, { 0 } };
	sort_by_magnitude(x, n, order);
	if (lo == -1 && hi == 1) {
		sweep_ternary(x, w, n, order, 1.0f, &cs);
		if (both_signs)
			sweep_ternary(x, w, n, order, -1.0f, &cs);
	} else {
		sweep(x, w, n, order, lo, hi, 1.0f, &cs);
		if (both_signs)
			sweep(x, w, n, order, lo, hi, -1.0f, &cs);
	}

	uint16_t tried[3 * N_CAND + 3];
	int ntried = 0;
	for (int i = 0; i < cs.n; i++) {
		const uint16_t h0 = to_fp16((float)cs.d[i]);
		for (int k = -1; k <= 1; k++) {
			const uint16_t h = (uint16_t)(h0 + k);
			if ((h & 0x7c00u) == 0x7c00u || (k != 0 && ((h ^ h0) & 0x8000u)) || (h & 0x7fffu) == 0)
				continue;
			int seen = 0;
			for (int t = 0; t < ntried; t++)
				seen |= tried[t] == h;
			if (!seen)
				tried[ntried++] = h;
		}
	}
	double best = INFINITY;
	int besti = -1;
	for (int i = 0; i < ntried; i += 4) {
		float dl[4];
		for (int k = 0; k < 4; k++)
			dl[k] = qnt__fp16_to_fp32(tried[i + k < ntried ? i + k : i]);
		qnt__v4f dv;
		memcpy(&dv, dl, sizeof dv);
		double e[4];
		levels_err_v4(x, w, n, lo, hi, dv, e);
		for (int k = 0; k < 4 && i + k < ntried; k++) {
			if (e[k] < best) {
				best = e[k];
				besti = i + k;
			}
		}
	}
	if (besti < 0)
		return INFINITY;
	*hd = tried[besti];
	levels_codes(x, w, n, lo, hi, qnt__fp16_to_fp32(*hd), codes);
	return best;
}

static void weighted_tq1_0(const float *x, const float *w, void *out)
{
	struct blk_tq1_0 *b = out, nb;
	float y[QK_K];
	uint8_t c[QK_K];
	uint16_t h;
	ref_tq1_0(x, b);
	if (!all_finite(x, QK_K))
		return;
	deq_tq1_0(b, y, QK_K);
	const double ref_err = wsse(x, y, w, QK_K);
	if (!(search_levels(x, w, QK_K, -1, 1, 0, &h, c) < INFINITY))
		return;
	put_d(&nb.d, h);
	pack_tq1_0(c, &nb);
	deq_tq1_0(&nb, y, QK_K);
	if (clearly_better(wsse(x, y, w, QK_K), ref_err))
		*b = nb;
}

static void weighted_tq2_0(const float *x, const float *w, void *out)
{
	struct blk_tq2_0 *b = out, nb;
	float y[QK_K];
	uint8_t c[QK_K];
	uint16_t h;
	ref_tq2_0(x, b);
	if (!all_finite(x, QK_K))
		return;
	deq_tq2_0(b, y, QK_K);
	const double ref_err = wsse(x, y, w, QK_K);
	if (!(search_levels(x, w, QK_K, -1, 1, 1, &h, c) < INFINITY))
		return;
	put_d(&nb.d, h);
	pack_tq2_0(c, &nb);
	deq_tq2_0(&nb, y, QK_K);
	if (clearly_better(wsse(x, y, w, QK_K), ref_err))
		*b = nb;
}

static void weighted_q2_0(const float *x, const float *w, void *out)
{
	struct blk_q2_0 *b = out, nb;
	float y[QK2_0];
	uint8_t c[QK2_0];
	uint16_t h;
	ref_q2_0(x, b);
	if (!all_finite(x, QK2_0))
		return;
	deq_q2_0(b, y, QK2_0);
	const double ref_err = wsse(x, y, w, QK2_0);
	if (!(search_levels(x, w, QK2_0, -1, 2, 1, &h, c) < INFINITY))
		return;
	put_d(&nb.d, h);
	pack_q2_0(c, &nb);
	deq_q2_0(&nb, y, QK2_0);
	if (clearly_better(wsse(x, y, w, QK2_0), ref_err))
		*b = nb;
}

/* q1_0: with the codes the signs of x, sum w (|x| - d)^2 is a parabola in d
 * with its minimum at sum w|x| / sum w; the fp16 values next to it are the
 * only candidates. */
static void weighted_q1_0(const float *x, const float *w, void *out)
{
	struct blk_q1_0 *b = out, nb;
	float y[QK1_0];
	uint8_t c[QK1_0];
	ref_q1_0(x, b);
	if (!all_finite(x, QK1_0))
		return;
	deq_q1_0(b, y, QK1_0);
	const double ref_err = wsse(x, y, w, QK1_0);
	double sw = 0, swx = 0;
	for (int j = 0; j < QK1_0; j++) {
		sw += w[j];
		swx += (double)w[j] * fabsf(x[j]);
		c[j] = x[j] >= 0.0f;
	}
	if (!(sw > 0) || !(swx > 0))
		return;
	pack_q1_0(c, &nb);
	const uint16_t h0 = to_fp16((float)(swx / sw));
	double best = ref_err;
	for (int k = -1; k <= 1; k++) {
		const uint16_t h = (uint16_t)(h0 + k);
		if ((h & 0x7c00u) == 0x7c00u || (h & 0x8000u) || h == 0)
			continue;
		put_d(&nb.d, h);
		deq_q1_0(&nb, y, QK1_0);
		const double e = wsse(x, y, w, QK1_0);
		if (clearly_better(e, best)) {
			best = e;
			*b = nb;
		}
	}
}

/* ------------------------------------------------------------------ */
/* Importance: the E2M1 formats (mxfp4, nvfp4)                          */
/* ------------------------------------------------------------------ */

/* Weighted error of n elements at scale d with their nearest codes (exact
 * comparisons with the midpoints; beyond 12 d the nearest is 12 d). */
static double fp4_err(const float *x, const float *w, int n, float d)
{
	static const float mid[7] = { 0.5f, 1.5f, 2.5f, 3.5f, 5.0f, 7.0f, 10.0f };
	float t[7], v[8];
	for (int k = 0; k < 7; k++)
		t[k] = mid[k] * d;
	for (int k = 0; k < 8; k++)
		v[k] = (float)kv_fp4[k] * d;
	double e = 0;
	for (int j = 0; j < n; j++) {
		const float a = fabsf(x[j]);
		const int i = (a > t[0]) + (a > t[1]) + (a > t[2]) + (a > t[3]) + (a > t[4]) + (a > t[5]) + (a > t[6]);
		const double r = (double)a - (double)v[i];
		e += (double)w[j] * r * r;
	}
	return e;
}

/* What clipping alone costs at scale d: the largest value is 12 d, so no
 * element can come closer than |x| - 12 d. Grows as d falls. */
static double fp4_clip_bound(const float *x, const float *w, int n, float d)
{
	double e = 0;
	const double top = 12.0 * (double)d;
	for (int j = 0; j < n; j++) {
		double r = fabs((double)x[j]) - top;
		if (r > 0)
			e += (double)w[j] * r * r;
	}
	return e;
}

static float amax_of(const float *x, int n)
{
	float amax = 0.0f;
	for (int j = 0; j < n; j++)
		if (amax < fabsf(x[j]))
			amax = fabsf(x[j]);
	return amax;
}

/* The best scale code s in [lo, hi] for n elements, scale(s) increasing in
 * s: every code from hi down, until the clipping bound alone reaches the
 * best error (every lower scale clips more). Returns the error, *best_s the
 * code. The caller picks hi: a scale twice one that does not clip is never
 * better, as its values up to 12 d are values of the smaller scale. */
static double fp4_search(const float *x, const float *w, int n, float (*scale)(int), int lo, int hi, int *best_s)
{
	double best = INFINITY;
	for (int s = hi; s >= lo; s--) {
		const float d = scale(s);
		if (!(fp4_clip_bound(x, w, n, d) < best))
			break;
		const double e = fp4_err(x, w, n, d);
		if (e < best) {
			best = e;
			*best_s = s;
		}
	}
	return best;
}

static float mx_scale(int e)
{
	return e8m0_half((uint8_t)e);
}

static float nv_scale(int s)
{
	return ue4m3_half((uint8_t)s);
}

/* The exponent of 2 of a positive finite float, exactly. */
static int ilog2f(float a)
{
	int ex;
	(void)frexpf(a, &ex);
	return ex - 1;
}

static void weighted_mxfp4(const float *x, const float *w, void *out)
{
	struct blk_mxfp4 *b = out, nb;
	float y[QK_MXFP4];
	ref_mxfp4(x, b);
	if (!all_finite(x, QK_MXFP4))
		return;
	deq_mxfp4(b, y, QK_MXFP4);
	const double ref_err = wsse(x, y, w, QK_MXFP4);
	const float amax = amax_of(x, QK_MXFP4);
	if (!(amax > 0.0f))
		return;
	/* the smallest exponent whose 12 d = 6 * 2^(e-127) reaches amax: every
	 * larger one is a doubling of a scale that does not clip */
	int hi = ilog2f(amax) - 2 + 127, e = 0;
	while (hi < 255 && 12.0f * e8m0_half((uint8_t)hi) < amax)
		hi++;
	hi = hi < 0 ? 0 : hi;
	if (!(fp4_search(x, w, QK_MXFP4, mx_scale, 0, hi, &e) < finite_or_inf(ref_err)))
		return;
	const float d = e8m0_half((uint8_t)e);
	nb.e = (uint8_t)e;
	pack_fp4(x, QK_MXFP4, d, nb.qs);
	deq_mxfp4(&nb, y, QK_MXFP4);
	if (clearly_better(wsse(x, y, w, QK_MXFP4), ref_err))
		*b = nb;
}

/* nvfp4: the sub-blocks of 16 have their own scales; each is searched on
 * its own (the error is a sum over them) and compared with ggml's. */
static void weighted_nvfp4(const float *x, const float *w, void *out)
{
	struct blk_nvfp4 *b = out;
	ref_nvfp4(x, b);
	for (int s = 0; s < QK_NVFP4 / QK_NVFP4_SUB; s++) {
		const float *xb = x + s * QK_NVFP4_SUB, *wb = w + s * QK_NVFP4_SUB;
		float y[QK_NVFP4_SUB];
		if (all_zero(wb, QK_NVFP4_SUB) || !all_finite(xb, QK_NVFP4_SUB))
			continue;
		deq_nvfp4_sub(b, s, y);
		const double ref_err = wsse(xb, y, wb, QK_NVFP4_SUB);
		const float amax = amax_of(xb, QK_NVFP4_SUB);
		if (!(amax > 0.0f))
			continue;
		/* the smallest scale that does not clip; codes 8 apart are a
		 * factor of two apart from 8 on (normal UE4M3), so beyond
		 * max(that, 8) + 7 every scale doubles one that does not clip */
		int lo_nc = fp32_to_ue4m3(amax / 6.0f) - 2, sc = 0;
		lo_nc = lo_nc < 1 ? 1 : lo_nc;
		while (lo_nc < 0x7e && 12.0f * ue4m3_half((uint8_t)lo_nc) < amax)
			lo_nc++;
		int hi = (lo_nc > 8 ? lo_nc : 8) + 7;
		hi = hi > 0x7e ? 0x7e : hi;
		if (!(fp4_search(xb, wb, QK_NVFP4_SUB, nv_scale, 1, hi, &sc) < finite_or_inf(ref_err)))
			continue;
		struct blk_nvfp4 nb = *b;
		const float d = ue4m3_half((uint8_t)sc);
		nb.d[s] = (uint8_t)sc;
		pack_fp4(xb, QK_NVFP4_SUB, d, nb.qs + s * (QK_NVFP4_SUB / 2));
		deq_nvfp4_sub(&nb, s, y);
		if (clearly_better(wsse(xb, y, wb, QK_NVFP4_SUB), ref_err))
			*b = nb;
	}
}

/* ------------------------------------------------------------------ */
/* Row drivers                                                          */
/* ------------------------------------------------------------------ */

typedef void (*ref_fn)(const float *x, void *blk);
typedef void (*weighted_fn)(const float *x, const float *w, void *blk);

static void quant_rows(ref_fn ref, weighted_fn weighted, int qk, size_t bytes, const float *src, void *dst,
		       int64_t nrows, int64_t n, const float *imp)
{
	unsigned char *out = dst;
	for (int64_t r = 0; r < nrows; r++) {
		const float *x = src + r * n;
		for (int64_t i = 0; i < n / qk; i++, out += bytes) {
			if (imp && !all_zero(imp + i * qk, qk))
				weighted(x + i * qk, imp + i * qk, out);
			else
				ref(x + i * qk, out);
		}
	}
}

#define ROWS(fmt, qk)                                                                                   \
	static void quant_##fmt(const float *src, void *dst, int64_t nrows, int64_t n, const float *imp) \
	{                                                                                               \
		quant_rows(ref_##fmt, weighted_##fmt, qk, sizeof(struct blk_##fmt), src, dst, nrows, n, imp); \
	}

ROWS(tq1_0, QK_K)
ROWS(tq2_0, QK_K)
ROWS(mxfp4, QK_MXFP4)
ROWS(nvfp4, QK_NVFP4)
ROWS(q1_0, QK1_0)
ROWS(q2_0, QK2_0)

#define LB_FLAGS (QNT_TYPE_FLAG_QUANTIZED | QNT_TYPE_FLAG_IMPORTANCE)

const struct qnt__type_traits qnt__traits_lowbit[] = {
	{ QNT_TYPE_TQ1_0, "tq1_0", "ternary, 5 trits per byte, fp16 scale per 256", QK_K, sizeof(struct blk_tq1_0),
	  LB_FLAGS, quant_tq1_0, deq_tq1_0 },
	{ QNT_TYPE_TQ2_0, "tq2_0", "ternary in 2-bit fields, fp16 scale per 256", QK_K, sizeof(struct blk_tq2_0),
	  LB_FLAGS, quant_tq2_0, deq_tq2_0 },
	{ QNT_TYPE_MXFP4, "mxfp4", "E2M1 codes, E8M0 scale per 32 (OCP MX)", QK_MXFP4, sizeof(struct blk_mxfp4),
	  LB_FLAGS, quant_mxfp4, deq_mxfp4 },
	{ QNT_TYPE_NVFP4, "nvfp4", "E2M1 codes, UE4M3 scale per 16, 64 per block", QK_NVFP4,
	  sizeof(struct blk_nvfp4), LB_FLAGS, quant_nvfp4, deq_nvfp4 },
	{ QNT_TYPE_Q1_0, "q1_0", "1-bit signs, fp16 scale per 128", QK1_0, sizeof(struct blk_q1_0), LB_FLAGS,
	  quant_q1_0, deq_q1_0 },
	{ QNT_TYPE_Q2_0, "q2_0", "2-bit codes for -1, 0, 1, 2, fp16 scale per 64", QK2_0, sizeof(struct blk_q2_0),
	  LB_FLAGS, quant_q2_0, deq_q2_0 },
};
const size_t qnt__traits_lowbit_count = sizeof qnt__traits_lowbit / sizeof qnt__traits_lowbit[0];
