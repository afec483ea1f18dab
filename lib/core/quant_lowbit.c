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
 *   - tq1_0 and tq2_0 (levels -1, 0, 1): value = d * level, the codes
 *     for d are |x| > d/2. Lloyd's iteration (the best d for the codes,
 *     then the codes for d; the error never rises) from d = 1.2 times the
 *     weighted RMS of the block, with every sum taken eight elements at a
 *     time, then the fp16 value of its fixed point and the two next to it,
 *     ranked by their estimated errors. A local optimum: on heavy-tailed data a
 *     little above the global one, far below ggml's error.
 *   - q2_0 (levels -1, 0, 1, 2, and their negatives with d < 0): eight
 *     starting scales (four multiples of the weighted RMS, both signs) are
 *     scored at once, one per lane, each by the error of its nearest codes
 *     at their least-squares scale; the fp16 value of the best one's. A
 *     local optimum, a little above the global one.
 *   - q1_0: the codes are the signs; the best d is sum w|x| / sum w, rounded
 *     to the nearest fp16 value (the error is a parabola in d), the sums
 *     taken eight elements at a time.
 *   - mxfp4, nvfp4: for a given scale the nearest code is best for every
 *     weight, so only the scale is searched, exhaustively: a scale twice
 *     one that does not clip has only values that one has, so it cannot do
 *     better; below that every E8M0 exponent or UE4M3 scale is tried, down
 *     to where the clipping of the large elements alone costs more than the
 *     best so far.
 * The result's weighted error is compared with that of ggml's block: ggml's
 * block is kept unless the search's is strictly better, so it is never worse
 * than ggml for the same data. (tq*, q2_0: when the two estimates, exact up
 * to float rounding of at most 2e-5 of sum w x^2, are more than 1e-4 of it
 * apart, they decide; otherwise both errors are computed exactly.)
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
#include "qnt_blocks.h"
#include "qnt_fp.h"
#include "qnt_lanes.h"
#include "qnt_internal.h"
#include "formats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef uint8_t qnt__v32u8 __attribute__((vector_size(32)));

/* The low bytes of eight 32-bit lanes, to out[0..7]. */
static inline void store_low_bytes(qnt__v8i v, uint8_t *out)
{
#if defined(__AVX2__)
	static const qnt__v32u8 sel = { 0, 4, 8, 12, 16, 20, 24, 28 };
	qnt__v32u8 b;
	memcpy(&b, &v, sizeof b);
	b = QNT__SHUF1(b, sel);
	memcpy(out, &b, 8);
#else
	/* GCC builds that byte permutation lane by lane without AVX2; here
	 * shifts and ors gather each half's four low bytes into its lane 0,
	 * with permutations of constant 32-bit lanes (one instruction) */
	static const qnt__v4i s1 = { 1, 1, 3, 3 }, s2 = { 2, 2, 2, 2 };
	for (int h = 0; h < 2; h++) {
		qnt__v4i q;
		memcpy(&q, (const char *)&v + h * sizeof q, sizeof q);
		q &= 0xff;
		q |= QNT__SHUF1(q, s1) << 8;
		q |= QNT__SHUF1(q, s2) << 16;
		memcpy(out + 4 * h, &q, 4);
	}
#endif
}
/* A vector of eight equal lanes. */
#define V8(s) { s, s, s, s, s, s, s, s }

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

/* The fp16 scales are written bytewise: a block may sit at any address. */
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
#if defined(__AVX__)
	/* eight elements per vector (n is a multiple of 8); a comparison gives
	 * -1 in the lanes where it holds. (Without AVX, GCC splits the
	 * comparisons of eight lanes into scalar ones: four lanes there. The
	 * comparisons are exact, so both give the same codes.) */
	const qnt__v8f zero = { 0 }, vlim = V8(lim);
	qnt__v8i slowv = { 0 };
	for (int j = 0; j < n; j += 8) {
		qnt__v8f xv, a;
		memcpy(&xv, x + j, sizeof xv);
		a = qnt__abs_v8f(xv);
		qnt__v8i i = { 0 };
		for (int k = 0; k < 7; k++) {
			const qnt__v8f tk = V8(t[k]);
			i -= a > tk;
		}
		const qnt__v8i code = i + (((xv < zero) & (i > 0)) & 8);
		store_low_bytes(code, idx + j);
		slowv |= ~(a <= vlim);
	}
	int32_t sl = 0;
	for (int k = 0; k < 8; k++)
		sl |= slowv[k];
#else
	/* four elements per vector (n is a multiple of 4) */
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
	const int32_t sl = slowv[0] | slowv[1] | slowv[2] | slowv[3];
#endif
	const int slow = sl != 0;
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
	for (int j = 0; j < n / 2; j += 8) { /* eight bytes at a time: each code is below 16 */
		uint64_t lo, hi;
		memcpy(&lo, idx + j, sizeof lo);
		memcpy(&hi, idx + j + n / 2, sizeof hi);
		lo |= hi << 4;
		memcpy(qs + j, &lo, sizeof lo);
	}
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

typedef uint8_t qnt__v16u8 __attribute__((vector_size(16)));
typedef uint16_t qnt__v16u16 __attribute__((vector_size(32)));

/* Sixteen bytes of five trits each: the trits of byte m are c[m + s n]
 * (n = 0..4), in 8-bit arithmetic, then tq1_byte() in 16-bit lanes. */
static inline void tq1_pack16(const uint8_t *c, int s, uint8_t *out)
{
	qnt__v16u8 q, t;
	memcpy(&q, c, sizeof q);
	for (int n = 1; n < 5; n++) {
		memcpy(&t, c + s * n, sizeof t);
		q = q * 3 + t;
	}
	const qnt__v16u16 w = (__builtin_convertvector(q, qnt__v16u16) * 256 + 242) / 243;
	const qnt__v16u8 r = __builtin_convertvector(w, qnt__v16u8);
	memcpy(out, &r, sizeof r);
}

static void pack_tq1_0(const uint8_t *c, struct blk_tq1_0 *b)
{
	tq1_pack16(c, 32, b->qs);
	tq1_pack16(c + 16, 32, b->qs + 16);
	tq1_pack16(c + 160, 16, b->qs + 32);
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
	/* Eight codes (each 0..3) per 64-bit word, little-endian: shifting by
	 * 6, 12 and 18 brings the codes of bytes 1, 2, 3 (and 5, 6, 7) next
	 * to those of byte 0 (4), into bytes 0 and 4 alone. */
	for (int j = 0; j < QK2_0 / 8; j++) {
		uint64_t v;
		memcpy(&v, c + 8 * j, sizeof v);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		v = __builtin_bswap64(v);
#endif
		v |= v >> 6 | v >> 12 | v >> 18;
		b->qs[2 * j] = (uint8_t)v;
		b->qs[2 * j + 1] = (uint8_t)(v >> 32);
	}
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
		const float d = qnt__fp16_load_quiet(&b->d);
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
		const float d = qnt__fp16_load_quiet(&b->d);
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
		const float d = qnt__fp16_load_quiet(&b->d);
		const float nd = -d;
		for (int j = 0; j < QK1_0; j++)
			y[j] = (b->qs[j / 8] >> (j % 8)) & 1 ? d : nd;
	}
}

static void deq_q2_0(const void *src, float *y, int64_t n)
{
	const struct blk_q2_0 *b = src;
	for (int64_t i = 0; i < n / QK2_0; i++, b++, y += QK2_0) {
		const float d = qnt__fp16_load_quiet(&b->d);
		for (int j = 0; j < QK2_0; j++)
			y[j] = (float)(((b->qs[j / 4] >> (2 * (j % 4))) & 3) - 1) * d;
	}
}

/* ------------------------------------------------------------------ */
/* ggml's reference quantizers                                          */
/* ------------------------------------------------------------------ */

/* max |x| over n elements (a multiple of 8), eight at a time: non-negative
 * floats order as integers, so it is the maximum of the bit patterns with
 * the sign cleared. *finite: no element is infinite or NaN (otherwise the
 * result is not max |x|). */
static float absmax_v8(const float *x, int n, int *finite)
{
	const qnt__v8i absmask = V8(INT32_MAX), fmax = V8(0x7f7fffff);
	qnt__v8i mx = { 0 }, bad = { 0 };
	for (int j = 0; j < n; j += 8) {
		qnt__v8i b;
		memcpy(&b, x + j, sizeof b);
		b &= absmask;
		bad |= qnt__gt_v8i(b, fmax);
		const qnt__v8i m = qnt__gt_v8i(b, mx);
		mx = (b & m) | (mx & ~m);
	}
	int32_t mb = 0, nonfinite = 0;
	for (int k = 0; k < 8; k++) {
		nonfinite |= bad[k];
		mb = mx[k] > mb ? mx[k] : mb;
	}
	*finite = !nonfinite;
	return qnt__f32_from_bits((uint32_t)mb);
}

/* tq1_0 and tq2_0: d = max |x| (ggml's MAX macro: a NaN element replaces
 * the running maximum, the next element replaces the NaN), codes
 * lroundf(x / d) + 1 kept to their low bits. Eight elements at a time when
 * every element is finite (then the maximum is the largest bit pattern of
 * |x|, non-negative floats ordering as integers, and lroundf of x / d in
 * [-1, 1] is the truncation plus the rounded-away half); otherwise, or when
 * 1 / d overflows, element by element. *finite tells which. */
static float tq_codes(const float *x, uint8_t *c, int *finite)
{
	const float amax = absmax_v8(x, QK_K, finite);
	const float id = amax != 0.0f ? 1.0f / amax : 0.0f;
	if (*finite && id < INFINITY) {
		const qnt__v8f half = { 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f };
		for (int j = 0; j < QK_K; j += 8) {
			qnt__v8f v;
			memcpy(&v, x + j, sizeof v);
			v *= id;
			qnt__v8i t = __builtin_convertvector(v, qnt__v8i);
			const qnt__v8f f = v - __builtin_convertvector(t, qnt__v8f);
			t = t - qnt__ge_v8f(f, half) + qnt__le_v8f(f, -half) + 1; /* comparisons give -1 */
			store_low_bytes(t, c + j);
		}
		return amax;
	}
	float m = 0.0f;
	for (int j = 0; j < QK_K; j++) {
		float a = fabsf(x[j]);
		m = m > a ? m : a;
	}
	const float d = m;
	const float idd = d != 0.0f ? 1.0f / d : 0.0f;
	for (int j = 0; j < QK_K; j++)
		c[j] = (uint8_t)(lround_x86(x[j] * idd) + 1);
	return d;
}

static void ref_tq1_0(const float *x, void *out)
{
	struct blk_tq1_0 *b = out;
	uint8_t c[QK_K];
	int finite;
	const float d = tq_codes(x, c, &finite);
	put_d(&b->d, to_fp16(d));
	pack_tq1_0(c, b);
}

static void ref_tq2_0(const float *x, void *out)
{
	struct blk_tq2_0 *b = out;
	uint8_t c[QK_K];
	int finite;
	const float d = tq_codes(x, c, &finite);
	put_d(&b->d, to_fp16(d));
	pack_tq2_0(c, b);
}

/* ggml's E8M0 exponent for the largest magnitude amax; (uint8_t) of a
 * float: the low byte of the x86 conversion. */
static uint8_t mx_exponent(float amax)
{
	return amax > 0.0f ? (uint8_t)qnt__cvt_trunc(floorf(log2f(amax)) - 2.0f + 127.0f) : 0;
}

static void ref_mxfp4(const float *x, void *out)
{
	struct blk_mxfp4 *b = out;
	float amax = 0.0f;
	for (int j = 0; j < QK_MXFP4; j++)
		if (amax < fabsf(x[j]))
			amax = fabsf(x[j]);
	const uint8_t e = mx_exponent(amax);
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

/* q2_0: d = max |x|, codes (int)roundf(x / d) + 1 clamped to 0..3; returns d. */
static float q2_0_codes(const float *x, uint8_t *c)
{
	float amax = 0.0f;
	for (int j = 0; j < QK2_0; j++) {
		float a = fabsf(x[j]);
		if (a > amax)
			amax = a;
	}
	const float id = amax > 0.0f ? 1.0f / amax : 0.0f;
	for (int j = 0; j < QK2_0; j++) {
		int32_t r = qnt__cvt_round(x[j] * id);
		int q = r < -1 ? 0 : r > 2 ? 3 : r + 1;
		c[j] = (uint8_t)q;
	}
	return amax;
}

static void ref_q2_0(const float *x, void *out)
{
	struct blk_q2_0 *b = out;
	uint8_t c[QK2_0];
	put_d(&b->d, to_fp16(q2_0_codes(x, c)));
	pack_q2_0(c, b);
}

/* ------------------------------------------------------------------ */
/* Importance: one scale, a few levels (tq1_0, tq2_0, q2_0)             */
/* ------------------------------------------------------------------ */

/* The codes (level + 1) of the nearest levels -1 .. hi for the scale d,
 * eight elements at a time, and in double the weighted errors of those and
 * of ggml's codes cg at its scale dg (values (c - 1) * d as the
 * dequantizers give them). */
static void lv_final(const float *x, const float *w, int n, int hi, float d, const uint8_t *cg, float dg,
		     uint8_t *c, double *err, double *err_g)
{
	const float id = 1.0f / d, fhi = (float)hi;
	const qnt__v8f vlo = { -1, -1, -1, -1, -1, -1, -1, -1 }, vhi = { fhi, fhi, fhi, fhi, fhi, fhi, fhi, fhi };
	qnt__v4d e = { 0, 0, 0, 0 }, eg = { 0, 0, 0, 0 };
	for (int j = 0; j < n; j += 8) {
		qnt__v8f xv, wv;
		memcpy(&xv, x + j, sizeof xv);
		memcpy(&wv, w + j, sizeof wv);
		qnt__v8f t = xv * id;
		t = qnt__select_v8f(qnt__gt_v8f(t, vlo), t, vlo);
		t = qnt__select_v8f(qnt__lt_v8f(t, vhi), t, vhi);
		const qnt__v8f u = t + 0.5f;
		qnt__v8i l = __builtin_convertvector(u, qnt__v8i);
		l += qnt__gt_v8f(__builtin_convertvector(l, qnt__v8f), u); /* floor: -1 where the truncation is above */
		qnt__v8i lg;
		for (int k = 0; k < 8; k++) {
			c[j + k] = (uint8_t)(l[k] + 1);
			lg[k] = (int32_t)cg[j + k] - 1;
		}
		const qnt__v8f y = __builtin_convertvector(l, qnt__v8f) * d;
		const qnt__v8f yg = __builtin_convertvector(lg, qnt__v8f) * dg;
		for (int h = 0; h < 8; h += 4) {
			const qnt__v4f xh = { xv[h], xv[h + 1], xv[h + 2], xv[h + 3] };
			const qnt__v4f wh = { wv[h], wv[h + 1], wv[h + 2], wv[h + 3] };
			const qnt__v4f yh = { y[h], y[h + 1], y[h + 2], y[h + 3] };
			const qnt__v4f ygh = { yg[h], yg[h + 1], yg[h + 2], yg[h + 3] };
			const qnt__v4d xd = __builtin_convertvector(xh, qnt__v4d);
			const qnt__v4d wd = __builtin_convertvector(wh, qnt__v4d);
			const qnt__v4d r = xd - __builtin_convertvector(yh, qnt__v4d);
			const qnt__v4d rg = xd - __builtin_convertvector(ygh, qnt__v4d);
			e += wd * r * r;
			eg += wd * rg * rg;
		}
	}
	*err = (e[0] + e[1]) + (e[2] + e[3]);
	*err_g = (eg[0] + eg[1]) + (eg[2] + eg[3]);
}

/* Ternary search (tq1_0, tq2_0): levels -1, 0, 1, d > 0; the codes for a
 * scale d are |x| > d/2 (ties cost the same either way). The sums that
 * decide are S1(t) = sum w|x| and W1(t) = sum w over |x| > t: for the set
 * above t the best d is S1 / W1, and the error of scale d with the set
 * above t is S_xx - 2 d S1 + d^2 W1. All sums are taken with eight lanes
 * over the elements (lane k sums the elements k, k + 8, ...), then added
 * lane by lane in double: the same floats in every build. */
struct tern {
	float a[QK_K], wa[QK_K]; /* |x|, w |x| */
	double sxx, sw, s1g, w1g; /* sum w x^2, sum w; S1, W1 of ggml's codes */
};

static inline double hsum_v8(qnt__v8f v)
{
	return (((double)v[0] + v[1]) + ((double)v[2] + v[3])) + (((double)v[4] + v[5]) + ((double)v[6] + v[7]));
}

/* The sums of the lanes of a, b, c and e in double, four lanes at a time:
 * s[0] = ((a0 + a4) + (a1 + a5)) + ((a2 + a6) + (a3 + a7)), and so on. */
static inline void hsum4_v8(qnt__v8f a, qnt__v8f b, qnt__v8f c, qnt__v8f e, double s[4])
{
	const qnt__v8f v[4] = { a, b, c, e };
	qnt__v4d t[4];
	for (int i = 0; i < 4; i++) {
		const qnt__v4f lo = { v[i][0], v[i][1], v[i][2], v[i][3] }, hi = { v[i][4], v[i][5], v[i][6], v[i][7] };
		t[i] = __builtin_convertvector(lo, qnt__v4d) + __builtin_convertvector(hi, qnt__v4d);
	}
	typedef int64_t v4l __attribute__((vector_size(32)));
	const v4l ev = { 0, 2, 4, 6 }, od = { 1, 3, 5, 7 };
	const qnt__v4d u0 = QNT__SHUF2(t[0], t[1], ev) + QNT__SHUF2(t[0], t[1], od);
	const qnt__v4d u1 = QNT__SHUF2(t[2], t[3], ev) + QNT__SHUF2(t[2], t[3], od);
	const qnt__v4d r = QNT__SHUF2(u0, u1, ev) + QNT__SHUF2(u0, u1, od);
	memcpy(s, &r, sizeof r);
}

/* The sum of the lanes in float, pairwise. */
static inline float hsum_v8f(qnt__v8f v)
{
	return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7]));
}

/* The pass tern_prep and q2_prep share, over n elements, eight lanes as
 * 8 / QNT__VN native vectors: a = |x| and wa = w |x| stored (q2 also x and
 * 3 w), and the eight-lane sums of wa a, w, and of wa and w where ggml's
 * code is not 0: tern, |x| / amax (times the reciprocal id, as ggml
 * computes it) at least 1/2; q2, x id rounded as roundf (the truncation
 * plus the rounded-away half) not 0. q2 is a constant at each call. */
static inline __attribute__((always_inline)) void lowbit_sums(int n, const float *x, const float *w, float id, int q2,
							      float *ao, float *wao, float *xo, float *w3o,
							      qnt__v8f out[4])
{
	enum { H = 8 / QNT__VN };
	const qnt__vni absmask = QNT__SPLAT_VN(INT32_MAX), zero = QNT__SPLAT_VN(0);
	const qnt__vnf half = qnt__splat_vnf(0.5f), vid = qnt__splat_vnf(id), three = qnt__splat_vnf(3.0f);
	qnt__vnf s[4][H];
#pragma GCC unroll 2
	for (int h = 0; h < H; h++)
		s[0][h] = s[1][h] = s[2][h] = s[3][h] = qnt__splat_vnf(0.0f);
	for (int j = 0; j < n; j += 8) {
#pragma GCC unroll 2
		for (int h = 0; h < H; h++) {
			const int o = j + h * QNT__VN;
			qnt__vnf xv, wv;
			memcpy(&xv, x + o, sizeof xv);
			memcpy(&wv, w + o, sizeof wv);
			const qnt__vnf a = qnt__and_vnf(absmask, xv), wa = wv * a;
			memcpy(ao + o, &a, sizeof a);
			memcpy(wao + o, &wa, sizeof wa);
			qnt__vni nz;
			if (q2) {
				const qnt__vnf v = xv * vid;
				qnt__vni t = __builtin_convertvector(v, qnt__vni);
				const qnt__vnf f = v - __builtin_convertvector(t, qnt__vnf);
				t = t - (f >= half) + (f <= -half); /* comparisons give -1; t + 1 the code */
				nz = ~(t == zero);                  /* |level| 1, of the sign of x */
				const qnt__vnf w3 = wv * three;
				memcpy(xo + o, &xv, sizeof xv);
				memcpy(w3o + o, &w3, sizeof w3);
			} else {
				nz = a * vid >= half;
			}
			s[0][h] += wa * a;
			s[1][h] += wv;
			s[2][h] += qnt__and_vnf(nz, wa);
			s[3][h] += qnt__and_vnf(nz, wv);
		}
	}
	for (int k = 0; k < 4; k++)
		memcpy(&out[k], s[k], sizeof out[k]);
}

/* |x|, w|x| and the fixed sums; ggml's codes are +-1 where |x| / amax
 * (times the reciprocal, as ggml computes it) is at least 1/2. */
static void tern_prep(const float *x, const float *w, float amax, struct tern *tr)
{
	const float id = amax != 0.0f ? 1.0f / amax : 0.0f;
	qnt__v8f v[4];
	lowbit_sums(QK_K, x, w, id, 0, tr->a, tr->wa, NULL, NULL, v);
	tr->sxx = hsum_v8(v[0]), tr->sw = hsum_v8(v[1]), tr->s1g = hsum_v8(v[2]), tr->w1g = hsum_v8(v[3]);
}

/* S1 and W1 above N thresholds t[0..N-1] in one pass (N a constant at
 * each call, so that the loops unroll), in native vectors: the eight
 * lanes of the sums are H vectors of QNT__VN lanes. */
#define TERN_SUMS(N)                                                                              \
	static void tern_sums##N(const struct tern *tr, const float *w, const float *t, double *s1, double *w1) \
	{                                                                                         \
		enum { H = 8 / QNT__VN };                                                         \
		qnt__vnf vt[N], vs[N][H], vw[N][H];                                               \
		for (int k = 0; k < N; k++) {                                                     \
			vt[k] = qnt__splat_vnf(t[k]);                                             \
			for (int h = 0; h < H; h++)                                               \
				vs[k][h] = vw[k][h] = qnt__splat_vnf(0.0f);                       \
		}                                                                                 \
		for (int j = 0; j < QK_K; j += 8) {                                               \
			_Pragma("GCC unroll 2")                                                   \
			for (int h = 0; h < H; h++) {                                             \
				qnt__vnf a, wa, wv;                                               \
				memcpy(&a, tr->a + j + h * QNT__VN, sizeof a);                    \
				memcpy(&wa, tr->wa + j + h * QNT__VN, sizeof wa);                 \
				memcpy(&wv, w + j + h * QNT__VN, sizeof wv);                      \
				_Pragma("GCC unroll 3")                                           \
				for (int k = 0; k < N; k++) {                                     \
					const qnt__vni m = a > vt[k];                             \
					vs[k][h] += qnt__and_vnf(m, wa);                          \
					vw[k][h] += qnt__and_vnf(m, wv);                          \
				}                                                                 \
			}                                                                         \
		}                                                                                 \
		for (int k = 0; k < N; k++) {                                                     \
			qnt__v8f s, ww;                                                           \
			memcpy(&s, vs[k], sizeof s);                                              \
			memcpy(&ww, vw[k], sizeof ww);                                            \
			s1[k] = hsum_v8(s), w1[k] = hsum_v8(ww);                                  \
		}                                                                                 \
	}
TERN_SUMS(1)
TERN_SUMS(3)

/* The best fp16 scale by Lloyd's iteration (codes for d, then d for the
 * codes, each step lowering the error) from the threshold 0.6 times the
 * weighted RMS of x, then the fp16 value of the fixed point and its two
 * neighbours. Returns 0 if none; *est its error estimate. */
static uint16_t tern_search(const struct tern *tr, const float *w, double *est)
{
	if (!(tr->sw > 0) || !(tr->sxx > 0))
		return 0;
	float d = (float)(1.2 * sqrt(tr->sxx / tr->sw));
	for (int it = 0; it < 8; it++) {
		double s1, w1;
		const float t = 0.5f * d;
		tern_sums1(tr, w, &t, &s1, &w1);
		if (!(w1 > 0) || !(s1 > 0))
			return 0;
		const float dn = (float)(s1 / w1);
		if (dn == d)
			break;
		d = dn;
	}
	const uint16_t h0 = to_fp16(d);
	uint16_t hs[3];
	float t[3], dd[3];
	int n = 0;
	for (int k = -1; k <= 1; k++) {
		const uint16_t h = (uint16_t)(h0 + k);
		if ((h & 0x7c00u) == 0x7c00u || (h & 0x8000u) || h == 0)
			continue;
		hs[n] = h, dd[n] = qnt__fp16_to_fp32(h), t[n] = 0.5f * dd[n], n++;
	}
	if (!n)
		return 0;
	for (int k = n; k < 3; k++) /* repeat the last: three thresholds in one pass */
		t[k] = t[n - 1];
	double s1[3], w1[3];
	tern_sums3(tr, w, t, s1, w1);
	uint16_t best = 0;
	for (int k = 0; k < n; k++) {
		const double e = (double)dd[k] * dd[k] * w1[k] - 2.0 * dd[k] * s1[k];
		if (!best || e < *est)
			best = hs[k], *est = e;
	}
	return best;
}

/* Codes 1 + sign(x) where |x| > t, else 1. */
static void tern_codes(const float *x, const struct tern *tr, float t, uint8_t *c)
{
	const qnt__v8f vt = qnt__splat_v8f(t), zero = { 0 };
	const qnt__v8i one = V8(1);
	for (int j = 0; j < QK_K; j += 8) {
		qnt__v8f xv, a;
		memcpy(&xv, x + j, sizeof xv);
		memcpy(&a, tr->a + j, sizeof a);
		const qnt__v8i m = qnt__gt_v8f(a, vt), neg = qnt__lt_v8f(xv, zero);
		const qnt__v8i code = one + (m & (neg | one));
		store_low_bytes(code, c + j);
	}
}

/* tq1_0 and tq2_0: ggml's codes (its block) unless the search's are
 * clearly better; *h the scale. The estimates decide when they are apart by
 * far more than their rounding (they are exact sums of terms of at most
 * 8 S_xx, each lane of 32 terms in float: off by less than 2e-5 S_xx);
 * otherwise both errors are computed exactly. */
static void weighted_tq(const float *x, const float *w, uint8_t *c, uint16_t *h)
{
	int finite;
	const float amax = tq_codes(x, c, &finite);
	*h = to_fp16(amax);
	if (!finite)
		return;
	struct tern tr;
	double est = 0;
	tern_prep(x, w, amax, &tr);
	const uint16_t hs = tern_search(&tr, w, &est);
	if (!hs)
		return;
	const float d = qnt__fp16_to_fp32(hs), dg = qnt__fp16_to_fp32(*h);
	const double est_g = (double)dg * dg * tr.w1g - 2.0 * dg * tr.s1g;
	if (tr.sxx > 0x1p-60 && tr.sxx < 0x1p100 && dg < INFINITY && est < est_g - 1e-4 * tr.sxx) {
		tern_codes(x, &tr, 0.5f * d, c);
		*h = hs;
		return;
	}
	uint8_t cs[QK_K];
	double e, eg;
	lv_final(x, w, QK_K, 1, d, c, dg, cs, &e, &eg);
	if (clearly_better(e, eg)) {
		memcpy(c, cs, sizeof cs);
		*h = hs;
	}
}

static void weighted_tq1_0(const float *x, const float *w, void *out)
{
	struct blk_tq1_0 *b = out;
	uint8_t c[QK_K];
	uint16_t h;
	weighted_tq(x, w, c, &h);
	put_d(&b->d, h);
	pack_tq1_0(c, b);
}

static void weighted_tq2_0(const float *x, const float *w, void *out)
{
	struct blk_tq2_0 *b = out;
	uint8_t c[QK_K];
	uint16_t h;
	weighted_tq(x, w, c, &h);
	put_d(&b->d, h);
	pack_tq2_0(c, b);
}

/* q2_0 with importance: levels -1 .. 2 times d, d of either sign (for d < 0
 * the levels apply to v = -x). For a scale d > 0 the nearest level of v is
 * 1 + (v > 3d/2) where |v| > d/2 and v > 0, -1 where |v| > d/2 and v < 0,
 * else 0; the best d for those levels is S_lx / S_ll with
 *   S_lx = sum w |x| over |v| > d/2, plus sum w |x| over v > 3d/2,
 *   S_ll = sum w over |v| > d/2, plus 3 sum w over v > 3d/2,
 * and the error of the scale d with them is S_xx - 2 d S_lx + d^2 S_ll.
 * Every sum is taken with eight lanes over the elements, then added lane by
 * lane in double: the same floats in every build. */
struct q2w {
	float x[QK2_0], a[QK2_0], wa[QK2_0], w3[QK2_0]; /* x, |x|, w |x|, 3 w */
	double sxx, sw, lxg, llg;                       /* S_xx, sum w; S_lx, S_ll of ggml's codes */
};

/* ggml's codes (d = max |x|, (int)roundf(x / d) + 1) eight at a time with
 * the sums of the search; returns 0 (nothing done) unless every x is
 * finite and 1 / max |x| is finite. Non-negative floats order as integers,
 * so the maximum is that of the bit patterns; x / d is in [-1, 1], where
 * roundf is the truncation plus the rounded-away half. */
static int q2_prep(const float *x, const float *w, float *amax, struct q2w *q)
{
	int finite;
	*amax = absmax_v8(x, QK2_0, &finite);
	const float id = *amax > 0.0f ? 1.0f / *amax : 0.0f;
	if (!finite || !(id < INFINITY))
		return 0;
	qnt__v8f v[4];
	lowbit_sums(QK2_0, x, w, id, 1, q->a, q->wa, q->x, q->w3, v);
	double sums[4];
	hsum4_v8(v[0], v[1], v[2], v[3], sums);
	q->sxx = sums[0], q->sw = sums[1], q->lxg = sums[2], q->llg = sums[3];
	return 1;
}

/* The starting scales, times the weighted RMS of x, each for both signs:
 * eight candidates, one per lane. */
static const float q2_grid_scale[4] = { 0.75f, 1.0f, 1.35f, 2.2f };

/* hsum8(v)[k]: the sum of the lanes of v[k], for eight vectors at once
 * (pairs, then fours, then eights; the same float additions in every
 * build). */
static inline qnt__v8f hsum8(const qnt__v8f v[8])
{
	const qnt__v8i ev = { 0, 8, 2, 10, 4, 12, 6, 14 }, od = { 1, 9, 3, 11, 5, 13, 7, 15 };
	const qnt__v8i lo2 = { 0, 1, 8, 9, 4, 5, 12, 13 }, hi2 = { 2, 3, 10, 11, 6, 7, 14, 15 };
	const qnt__v8i lo4 = { 0, 1, 2, 3, 8, 9, 10, 11 }, hi4 = { 4, 5, 6, 7, 12, 13, 14, 15 };
#define HS_PAIR(a, b, l, h) (QNT__SHUF2(a, b, l) + QNT__SHUF2(a, b, h))
	const qnt__v8f p0 = HS_PAIR(v[0], v[1], ev, od), p1 = HS_PAIR(v[2], v[3], ev, od);
	const qnt__v8f p2 = HS_PAIR(v[4], v[5], ev, od), p3 = HS_PAIR(v[6], v[7], ev, od);
	const qnt__v8f f0 = HS_PAIR(p0, p1, lo2, hi2), f1 = HS_PAIR(p2, p3, lo2, hi2);
	return HS_PAIR(f0, f1, lo4, hi4);
#undef HS_PAIR
}

/* Lanes 0..3 and 4..7 of v in double. */
static inline qnt__v4d lo4d(qnt__v8f v)
{
	const qnt__v4f h = { v[0], v[1], v[2], v[3] };
	return __builtin_convertvector(h, qnt__v4d);
}

static inline qnt__v4d hi4d(qnt__v8f v)
{
	const qnt__v4f h = { v[4], v[5], v[6], v[7] };
	return __builtin_convertvector(h, qnt__v4d);
}

/* S_lx^2 / S_ll (the least error less S_xx of the codes of each scale, at
 * their best scale) for the eight starting scales (four, both signs).
 * The sums over |x| > t, x > 3t and -x > 3t of each of the four scales
 * are taken eight elements at a time (lane k: elements k, k + 8, ...),
 * each once for both signs. Returns the best candidate (0..3 for d > 0,
 * 4..7 for d < 0), -1 if none has S_lx > 0; its S_lx and S_ll. */
static int q2_grid(const struct q2w *q, const float *w, float rms, double *blx, double *bll)
{
	/* g[0]: over |x| > t, w|x| (lanes 0..3, one per scale) and w (4..7);
	 * g[1]: over x > 3t, w|x| and 3w; g[2]: the same over -x > 3t. */
	qnt__v8f acc[3][8];
	for (int i = 0; i < 4; i++) {
		/* the six sums in native vectors (qnt_lanes.h), each's eight
		 * lanes as H vectors */
		enum { H = 8 / QNT__VN };
		const float d = rms * q2_grid_scale[i];
		const qnt__vnf vt = qnt__splat_vnf(0.5f * d), v3 = qnt__splat_vnf(1.5f * d), n3t = -v3;
		qnt__vnf aw[H], ww[H], pw[H], p3[H], nw[H], n3[H];
#pragma GCC unroll 2
		for (int h = 0; h < H; h++)
			aw[h] = ww[h] = pw[h] = p3[h] = nw[h] = n3[h] = qnt__splat_vnf(0.0f);
		for (int j = 0; j < QK2_0; j += 8) {
#pragma GCC unroll 2
			for (int h = 0; h < H; h++) {
				const int o = j + h * QNT__VN;
				qnt__vnf a, x, wa, wv, w3;
				memcpy(&a, q->a + o, sizeof a);
				memcpy(&x, q->x + o, sizeof x);
				memcpy(&wa, q->wa + o, sizeof wa);
				memcpy(&wv, w + o, sizeof wv);
				memcpy(&w3, q->w3 + o, sizeof w3);
				const qnt__vni on = a > vt, tp = x > v3, tn = x < n3t; /* -x > 3t */
				aw[h] += qnt__and_vnf(on, wa), ww[h] += qnt__and_vnf(on, wv);
				pw[h] += qnt__and_vnf(tp, wa), p3[h] += qnt__and_vnf(tp, w3);
				nw[h] += qnt__and_vnf(tn, wa), n3[h] += qnt__and_vnf(tn, w3);
			}
		}
		memcpy(&acc[0][i], aw, sizeof aw), memcpy(&acc[0][4 + i], ww, sizeof ww);
		memcpy(&acc[1][i], pw, sizeof pw), memcpy(&acc[1][4 + i], p3, sizeof p3);
		memcpy(&acc[2][i], nw, sizeof nw), memcpy(&acc[2][4 + i], n3, sizeof n3);
	}
	const qnt__v8f on = hsum8(acc[0]), tp = hsum8(acc[1]), tn = hsum8(acc[2]);
	const qnt__v4d onx = lo4d(on), onl = hi4d(on);
	const qnt__v4d lx[2] = { onx + lo4d(tp), onx + lo4d(tn) }, ll[2] = { onl + hi4d(tp), onl + hi4d(tn) };
	/* the first of the largest S_lx^2 / S_ll among those with S_lx > 0 and
	 * S_ll > 0 (positive: the others count as -1), without branches */
	int kb = -1;
	double best = 0;
	for (int sg = 0; sg < 2; sg++) {
		typedef int64_t v4l __attribute__((vector_size(32)));
		const qnt__v4d z = { 0, 0, 0, 0 }, m1 = { -1, -1, -1, -1 }, sc = lx[sg] * lx[sg] / ll[sg];
		const v4l ok = (ll[sg] > z) & (lx[sg] > z);
		v4l bs, bm;
		memcpy(&bs, &sc, sizeof bs);
		memcpy(&bm, &m1, sizeof bm);
		bs = (bs & ok) | (bm & ~ok);
		qnt__v4d v;
		memcpy(&v, &bs, sizeof v);
		for (int i = 0; i < 4; i++) {
			const int gt = v[i] > best;
			kb = gt ? 4 * sg + i : kb;
			best = gt ? v[i] : best;
		}
	}
	if (kb >= 0)
		*blx = lx[kb >> 2][kb & 3], *bll = ll[kb >> 2][kb & 3];
	return kb;
}

/* The best fp16 scale (sign included): of eight starting scales (both
 * signs), the one whose nearest codes have the least error at their own
 * least-squares scale S_lx / S_ll (one step of Lloyd's iteration from each);
 * the fp16 value of that scale is the best for those codes (their error is
 * a parabola in d), and *est, their error at it less S_xx, bounds that of
 * the nearest codes from above. (Lloyd's iteration on to its fixed point
 * lowered the weighted RMSE by about 0.2 percent, for about a sixth of
 * the time.) Returns 0 if none. */
static uint16_t q2_search(const struct q2w *q, const float *w, double *est)
{
	if (!(q->sw > 0) || !(q->sxx > 0))
		return 0;
	double lx = 0, ll = 1;
	const int kb = q2_grid(q, w, (float)sqrt(q->sxx / q->sw), &lx, &ll);
	if (kb < 0)
		return 0;
	const uint16_t h = to_fp16((float)(lx / ll));
	if ((h & 0x7c00u) == 0x7c00u || h == 0)
		return 0;
	const double dh = qnt__fp16_to_fp32(h);
	*est = dh * dh * ll - 2.0 * dh * lx;
	return (uint16_t)(h | (kb >= 4 ? 0x8000u : 0));
}

/* The codes of the search's scale (signed fp16 h), from the thresholds
 * its estimate counted, packed as pack_q2_0 packs them: the code of lane k
 * times 4^(k % 4), each four lanes added (exact: at most 255). */
static void q2_codes(const struct q2w *q, uint16_t h, uint8_t *qs)
{
	const qnt__v8i mul = { 1, 4, 16, 64, 1, 4, 16, 64 }, s1 = { 1, 0, 3, 2, 5, 4, 7, 6 },
		       s2 = { 2, 3, 0, 1, 6, 7, 4, 5 };
	const float d = qnt__fp16_to_fp32((uint16_t)(h & 0x7fffu));
	const qnt__v8f vt = qnt__splat_v8f(0.5f * d), v3 = qnt__splat_v8f(1.5f * d), zero = { 0 };
	const qnt__v8i one = V8(1);
	const qnt__v8f sg = qnt__splat_v8f((h & 0x8000u) ? -1.0f : 1.0f); /* v = x for d > 0, -x for d < 0 */
	for (int j = 0; j < QK2_0; j += 8) {
		qnt__v8f x, a;
		memcpy(&x, q->x + j, sizeof x);
		memcpy(&a, q->a + j, sizeof a);
		const qnt__v8f v = x * sg;
		const qnt__v8i on = qnt__gt_v8f(a, vt), two = qnt__gt_v8f(v, v3), neg = qnt__lt_v8f(v, zero);
		const qnt__v8i code = one + (on & (neg | one)) + (two & one);
		qnt__v8i p = code * mul;
		p += QNT__SHUF1(p, s1);
		p += QNT__SHUF1(p, s2);
		qs[j / 4] = (uint8_t)p[0];
		qs[j / 4 + 1] = (uint8_t)p[4];
	}
}

/* ggml's codes (its block) unless the search's are clearly better: by the
 * estimates when they are apart by far more than their rounding (as for
 * tq), otherwise by the exact errors. */
static void weighted_q2_0(const float *x, const float *w, void *out)
{
	struct blk_q2_0 *b = out;
	uint8_t c[QK2_0];
	struct q2w q;
	float amax;
	uint16_t h;
	if (!q2_prep(x, w, &amax, &q)) {
		h = to_fp16(q2_0_codes(x, c));
	} else {
		double est = 0;
		h = to_fp16(amax);
		const uint16_t hs = q2_search(&q, w, &est);
		const float dg = qnt__fp16_to_fp32(h);
		const double est_g = (double)dg * dg * q.llg - 2.0 * dg * q.lxg;
		if (hs && q.sxx > 0x1p-60 && q.sxx < 0x1p100 && dg < INFINITY && est < est_g - 1e-4 * q.sxx) {
			q2_codes(&q, hs, b->qs);
			put_d(&b->d, hs);
			return;
		} else {
			q2_0_codes(x, c); /* ggml's codes, only now (those whose sums prep took) */
			if (hs) {
				uint8_t cs[QK2_0];
				double e, eg;
				lv_final(x, w, QK2_0, 2, qnt__fp16_to_fp32(hs), c, dg, cs, &e, &eg);
				if (clearly_better(e, eg)) {
					memcpy(c, cs, sizeof cs);
					h = hs;
				}
			}
		}
	}
	put_d(&b->d, h);
	pack_q2_0(c, b);
}

/* q1_0: the codes are the signs, ggml's codes too (x >= 0 is +d), so a
 * block differs from ggml's only in d; the error sum w (|x| - d)^2 =
 * S_xx - 2 d S_1 + d^2 W (S_1 = sum w|x|, W = sum w) is a parabola in d,
 * least at S_1 / W, and its nearest fp16 value is the best. Against ggml's
 * d_g the difference is (d - d_g) (W (d + d_g) - 2 S_1): the sums, taken
 * eight elements at a time in float (each lane 16 terms, off by less than
 * 1e-6 of the sum of their magnitudes), decide when the second factor is
 * far from zero; otherwise both errors are computed exactly in double. */
static void weighted_q1_0(const float *x, const float *w, void *out)
{
	struct blk_q1_0 *b = out;
	ref_q1_0(x, b);
	const qnt__v8i absmask = V8(INT32_MAX), fmax = V8(0x7f7fffff);
	qnt__v8i bad = { 0 };
	qnt__v8f vw = { 0 }, v1 = { 0 }, vxx = { 0 };
	for (int j = 0; j < QK1_0; j += 8) {
		qnt__v8f xv, wv, a;
		qnt__v8i bits;
		memcpy(&xv, x + j, sizeof xv);
		memcpy(&wv, w + j, sizeof wv);
		memcpy(&bits, &xv, sizeof bits);
		bits &= absmask;
		bad |= bits > fmax;
		memcpy(&a, &bits, sizeof a);
		const qnt__v8f wa = wv * a;
		vw += wv;
		v1 += wa;
		vxx += wa * a;
	}
	for (int k = 0; k < 8; k++)
		if (bad[k])
			return;
	const double sw = hsum_v8(vw), s1 = hsum_v8(v1), sxx = hsum_v8(vxx);
	if (!(sw > 0) || !(s1 > 0) || !(sxx < 0x1p100))
		return;
	uint16_t hg;
	memcpy(&hg, &b->d, sizeof hg);
	const uint16_t h = to_fp16((float)(s1 / sw));
	if (h == hg || (h & 0x7c00u) == 0x7c00u || h == 0)
		return;
	const double d = qnt__fp16_to_fp32(h), dg = qnt__fp16_load_quiet(&b->d);
	if (dg < INFINITY) {
		const double f = sw * (d + dg) - 2.0 * s1, fbound = 1e-5 * (sw * (d + dg) + 2.0 * s1);
		if (fabs(f) > fbound) {
			if ((d - dg) * f < 0)
				put_d(&b->d, h);
			return;
		}
	}
	qnt__v4d e = { 0, 0, 0, 0 }, eg = { 0, 0, 0, 0 };
	for (int j = 0; j < QK1_0; j += 4) {
		const qnt__v4f xh = { x[j], x[j + 1], x[j + 2], x[j + 3] };
		const qnt__v4f wh = { w[j], w[j + 1], w[j + 2], w[j + 3] };
		const qnt__v4d xd = __builtin_convertvector(xh, qnt__v4d), wd = __builtin_convertvector(wh, qnt__v4d);
		const qnt__v4d ad = { fabs(xd[0]), fabs(xd[1]), fabs(xd[2]), fabs(xd[3]) };
		const qnt__v4d r = ad - d, rg = ad - dg;
		e += wd * r * r;
		eg += wd * rg * rg;
	}
	const double err = (e[0] + e[1]) + (e[2] + e[3]), err_g = (eg[0] + eg[1]) + (eg[2] + eg[3]);
	if (clearly_better(finite_or_inf(err), finite_or_inf(err_g)))
		put_d(&b->d, h);
}

/* ------------------------------------------------------------------ */
/* Importance: the E2M1 formats (mxfp4, nvfp4)                          */
/* ------------------------------------------------------------------ */

/* The weighted error of n elements (n a multiple of 8) at scale d with
 * their nearest codes, |x| compared with the midpoints (ties to the smaller
 * magnitude, as ggml), eight elements at a time in float, each lane added
 * in element order; *clip what clipping alone costs at d (the largest value
 * is 12 d, so no element comes closer than |x| - 12 d; it grows as d
 * falls). Each term passes at most 4 roundings, then at most 3 in its
 * lane and 3 in the float sum of the lanes: the result is within 1e-6 of
 * the exact error
 * where every |x| <= 24 d (beyond, ggml's rounded comparisons may pick
 * another code, see fp4_indices). */
static inline double fp4_est(const float *x, const float *w, int n, float d, double *clip)
{
	enum { H = 8 / QNT__VN }; /* lanes as in qnt_lanes.h's native vectors */
	const qnt__vni absmask = QNT__SPLAT_VN(INT32_MAX);
#if defined(__AVX2__)
	static const qnt__v8f lv = { 0.0f, 1.0f, 2.0f, 3.0f, 4.0f, 6.0f, 8.0f, 12.0f };
	const qnt__v8f vals = lv * d;
#else
	const qnt__vnf vd = qnt__splat_vnf(d);
#endif
	const qnt__vnf zero = qnt__splat_vnf(0.0f);
	const qnt__vnf t0 = qnt__splat_vnf(0.5f * d), t1 = qnt__splat_vnf(1.5f * d), t2 = qnt__splat_vnf(2.5f * d);
	const qnt__vnf t3 = qnt__splat_vnf(3.5f * d), t4 = qnt__splat_vnf(5.0f * d), t5 = qnt__splat_vnf(7.0f * d);
	const qnt__vnf t6 = qnt__splat_vnf(10.0f * d), top = qnt__splat_vnf(12.0f * d);
	qnt__vnf e[H], c[H];
	for (int h = 0; h < H; h++)
		e[h] = c[h] = zero;
	for (int j = 0; j < n; j += 8) {
#pragma GCC unroll 2
		for (int h = 0; h < H; h++) {
			qnt__vnf xv, wv;
			memcpy(&xv, x + j + h * QNT__VN, sizeof xv);
			memcpy(&wv, w + j + h * QNT__VN, sizeof wv);
			const qnt__vnf a = qnt__and_vnf(absmask, xv);
#if defined(__AVX2__)
			/* minus the number of midpoints below |x|: the code's index */
			const qnt__vni i = ((a > t0) + (a > t1)) + ((a > t2) + (a > t3)) + ((a > t4) + (a > t5)) + (a > t6);
			const qnt__vnf q = QNT__SHUF1(vals, -i);
#else
			/* Without AVX2 (four lanes) the value is not taken from a
			 * table: minus the code's magnitude m (0, 1, 2, 3, 4, 6, 8
			 * or 12) is the steps between the values at the midpoints
			 * below |x|, added exactly in integers, and m * d the
			 * value (the product the table of values times d has). */
			const qnt__vni s2 = (a > t4) + (a > t5), s4 = (a > t6) + (a > t6);
			const qnt__vni m = (((a > t0) + (a > t1)) + ((a > t2) + (a > t3))) + ((s2 + s2) + (s4 + s4));
			const qnt__vnf q = __builtin_convertvector(-m, qnt__vnf) * vd;
#endif
			const qnt__vnf r = a - q, o = a - top;
			const qnt__vnf oc = qnt__and_vnf(o > zero, o); /* o where o > 0, else +0 */
			e[h] += wv * (r * r);
			c[h] += wv * (oc * oc);
		}
	}
	qnt__v8f ev, cv;
	memcpy(&ev, e, sizeof ev);
	memcpy(&cv, c, sizeof cv);
	*clip = hsum_v8f(cv);
	return hsum_v8f(ev);
}

/* Whether fp4_est of scale d is as exact as it says for elements up to
 * amax (and d's midpoints exact: a normal scale, not huge). */
static inline int fp4_est_ok(float amax, float d)
{
	return d >= 0x1p-120f && d < 0x1p120f && amax <= 24.0f * d;
}

static float amax_of(const float *x, int n)
{
	float amax = 0.0f;
	for (int j = 0; j < n; j++)
		if (amax < fabsf(x[j]))
			amax = fabsf(x[j]);
	return amax;
}

/* The best scale code s in [lo, hi] for n elements by fp4_est, scale(s)
 * increasing in s: every code from hi down, until the clipping alone
 * reaches the best error (every lower scale clips more). Returns the
 * estimate, *best_s the code (-1 if none). The caller picks hi: a scale
 * twice one that does not clip is never better, as its values up to 12 d
 * are values of the smaller scale. */
static double fp4_search(const float *x, const float *w, int n, float (*scale)(int), int lo, int hi, int *best_s)
{
	double best = INFINITY;
	*best_s = -1;
	for (int s = hi; s >= lo; s--) {
		double clip;
		const double e = fp4_est(x, w, n, scale(s), &clip);
		if (!(clip < best))
			break;
		if (e < best) {
			best = e;
			*best_s = s;
		}
	}
	return best;
}

/* Whether the search's block (scale d, estimate est) replaces ggml's
 * (scale dg): 1 yes, 0 no, -1 undecided by the estimates (then the exact
 * errors decide). They decide when both are within their 1e-6 and apart by
 * 1e-5. */
static int fp4_decide(const float *x, const float *w, int n, float amax, float d, double est, float dg)
{
	if (!fp4_est_ok(amax, d) || !fp4_est_ok(amax, dg))
		return -1;
	double clip;
	const double est_g = fp4_est(x, w, n, dg, &clip);
	if (est < est_g * (1.0 - 1e-5))
		return 1;
	if (est > est_g * (1.0 + 1e-5))
		return 0;
	return -1;
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

/* mxfp4: ggml's exponent e_g and the search's; the block is packed once,
 * with the one kept. */
static void weighted_mxfp4(const float *x, const float *w, void *out)
{
	struct blk_mxfp4 *b = out, nb;
	float y[QK_MXFP4];
	if (!all_finite(x, QK_MXFP4)) {
		ref_mxfp4(x, b);
		return;
	}
	const float amax = amax_of(x, QK_MXFP4);
	const uint8_t eg = mx_exponent(amax);
	b->e = eg;
	int e = -1;
	double est = INFINITY;
	if (amax > 0.0f) {
		/* the smallest exponent whose 12 d = 6 * 2^(e-127) reaches amax:
		 * every larger one is a doubling of a scale that does not clip */
		int hi = ilog2f(amax) - 2 + 127;
		while (hi < 255 && 12.0f * e8m0_half((uint8_t)hi) < amax)
			hi++;
		hi = hi < 0 ? 0 : hi;
		est = fp4_search(x, w, QK_MXFP4, mx_scale, 0, hi, &e);
	}
	if (e < 0 || e == eg) {
		pack_fp4(x, QK_MXFP4, e8m0_half(eg), b->qs);
		return;
	}
	const float d = e8m0_half((uint8_t)e);
	const int take = fp4_decide(x, w, QK_MXFP4, amax, d, est, e8m0_half(eg));
	if (take >= 0) {
		b->e = (uint8_t)(take ? e : eg);
		pack_fp4(x, QK_MXFP4, e8m0_half(b->e), b->qs);
		return;
	}
	pack_fp4(x, QK_MXFP4, e8m0_half(eg), b->qs);
	nb.e = (uint8_t)e;
	pack_fp4(x, QK_MXFP4, d, nb.qs);
	deq_mxfp4(b, y, QK_MXFP4);
	const double ref_err = wsse(x, y, w, QK_MXFP4);
	deq_mxfp4(&nb, y, QK_MXFP4);
	if (clearly_better(wsse(x, y, w, QK_MXFP4), finite_or_inf(ref_err)))
		*b = nb;
}

/* nvfp4: the sub-blocks of 16 have their own scales; each is searched on
 * its own (the error is a sum over them) against ggml's scale, and packed
 * once, with the one kept. */
static void weighted_nvfp4(const float *x, const float *w, void *out)
{
	struct blk_nvfp4 *b = out;
	for (int s = 0; s < QK_NVFP4 / QK_NVFP4_SUB; s++) {
		const float *xb = x + s * QK_NVFP4_SUB, *wb = w + s * QK_NVFP4_SUB;
		uint8_t *qs = b->qs + s * (QK_NVFP4_SUB / 2);
		float y[QK_NVFP4_SUB];
		if (all_zero(wb, QK_NVFP4_SUB) || !all_finite(xb, QK_NVFP4_SUB)) {
			ref_nvfp4_sub(xb, b, s);
			continue;
		}
		const float amax = amax_of(xb, QK_NVFP4_SUB);
		const uint8_t ug = fp32_to_ue4m3(amax / 6.0f);
		int sc = -1;
		double est = INFINITY;
		b->d[s] = ug;
		if (amax > 0.0f) {
			/* the smallest scale that does not clip; codes 8 apart are
			 * a factor of two apart from 8 on (normal UE4M3), so beyond
			 * max(that, 8) + 7 every scale doubles one that does not
			 * clip */
			int lo_nc = ug - 2;
			lo_nc = lo_nc < 1 ? 1 : lo_nc;
			while (lo_nc < 0x7e && 12.0f * ue4m3_half((uint8_t)lo_nc) < amax)
				lo_nc++;
			int hi = (lo_nc > 8 ? lo_nc : 8) + 7;
			hi = hi > 0x7e ? 0x7e : hi;
			est = fp4_search(xb, wb, QK_NVFP4_SUB, nv_scale, 1, hi, &sc);
		}
		if (sc < 0 || sc == ug) {
			pack_fp4(xb, QK_NVFP4_SUB, ue4m3_half(ug), qs);
			continue;
		}
		const float d = ue4m3_half((uint8_t)sc);
		const int take = fp4_decide(xb, wb, QK_NVFP4_SUB, amax, d, est, ue4m3_half(ug));
		if (take >= 0) {
			b->d[s] = (uint8_t)(take ? sc : ug);
			pack_fp4(xb, QK_NVFP4_SUB, ue4m3_half(b->d[s]), qs);
			continue;
		}
		pack_fp4(xb, QK_NVFP4_SUB, ue4m3_half(ug), qs);
		struct blk_nvfp4 nb = *b;
		nb.d[s] = (uint8_t)sc;
		pack_fp4(xb, QK_NVFP4_SUB, d, nb.qs + s * (QK_NVFP4_SUB / 2));
		deq_nvfp4_sub(b, s, y);
		const double ref_err = wsse(xb, y, wb, QK_NVFP4_SUB);
		deq_nvfp4_sub(&nb, s, y);
		if (clearly_better(wsse(xb, y, wb, QK_NVFP4_SUB), finite_or_inf(ref_err)))
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
