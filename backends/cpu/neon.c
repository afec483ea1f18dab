/* SPDX-License-Identifier: MIT */
/*
 * The "cpu-neon" backend: AArch64 NEON kernels, built into libqnt on
 * aarch64. This file is compiled for plain ARMv8-A (NEON is part of it); the
 * matrix product row kernels are in neon_mm.c, built plain, with dotprod,
 * and with dotprod+i8mm, and the table is picked at open() from
 * host->cpu_features.
 *
 *   dequantize  q4_0 q4_1 q5_0 q5_1 q8_0 q2_K q3_K q4_K q5_K q6_K q8_K,
 *               iq4_nl iq4_xs mxfp4 nvfp4 (16-entry tables, TBL), tq1_0
 *               tq2_0 q1_0 q2_0, iq2_xxs iq2_xs iq2_s iq3_xxs iq3_s iq1_s
 *               iq1_m (grid points decoded in neon_iq.h): the floats of
 *               the scalar reference, bit for bit (the same IEEE
 *               operations in the same order: separate multiplies and adds,
 *               never FMA, where the reference does them separately).
 *   quantize    q8_0, q8_1, q8_K (the activation formats; q8_0 with
 *               importance weights runs the reference's search): the bytes
 *               of the scalar reference. Blocks with NaN, infinities or
 *               scales that overflow take the reference's scalar code.
 *   matmul      q4_0 q5_0 q8_0 iq4_nl mxfp4 nvfp4 q1_0 q2_0 (activations
 *               q8_0), q4_1 q5_1 (q8_1), q2_K..q6_K iq4_xs tq1_0 tq2_0
 *               iq2_xxs iq2_xs iq2_s iq3_xxs iq3_s iq1_s iq1_m (q8_K), f32
 *               f16 bf16 (float activations): within the reference's
 *               tolerance (see neon_mm.c); with i8mm, q4_0 and q8_0 take
 *               two rows at a time for two columns and more.
 *   mlx:*       the MLX registry formats (affine, mxfp4, mxfp8, nvfp4):
 *               dequantize, bit for bit (the codes decoded 16 at a time to
 *               their exact values: 4-bit codes through a table of bf16-
 *               exact floats, 8-bit E4M3 through f16, other widths with
 *               TBL and shifts), and matmul against the float activations
 *               (FMA, within the float formats' tolerance), the same code
 *               in all three builds.
 *
 * Every other format and operation is left to the reference (supports()
 * says 0). Like the "cpu" backend it reaches libqnt only through the host
 * table, and quant_mlx.h for the MLX formats' parameters.
 */
#include "cpu_neon.h"
#include "neon_iq.h"
#include "qnt_fp.h"
#include "qnt_host_cpu.h"
#include "../../lib/core/quant_mlx.h"

#include <arm_neon.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "qnt_blocks.h"

#if defined(__GNUC__)
#define INLINE static inline __attribute__((always_inline))
#else
#define INLINE static inline
#endif

/* Loops over the columns of a row kernel (a constant count where it is
 * inlined) unrolled, so that the accumulators stay in registers. */
#if defined(__GNUC__) && !defined(__clang__)
#define UNROLL _Pragma("GCC unroll 8")
#else
#define UNROLL
#endif

#define ROW_TILE 16 /* rows whose weights stay in cache across column groups */

/* ------------------------------------------------------------------ */
/* Score                                                                */
/* ------------------------------------------------------------------ */

int32_t qnt__cpu_neon_score(const qnt_host_api *host, char *why, size_t why_size)
{
	if (why && why_size)
		why[0] = '\0';
	if (!(host->cpu_features & QNT_CPU_NEON)) {
		if (why && why_size)
			snprintf(why, why_size, "the CPU lacks neon");
		return 0;
	}
	const uint64_t f = host->cpu_features;
	const int dot = (f & QNT_CPU_DOTPROD) != 0, i8mm = dot && (f & QNT_CPU_I8MM);
	return 1 + (int32_t)QNT_CPU_NEON + (dot ? (int32_t)QNT_CPU_DOTPROD : 0) + (i8mm ? (int32_t)QNT_CPU_I8MM : 0);
}

/* ------------------------------------------------------------------ */
/* Dequantize: the reference's float operations, 4 lanes at a time     */
/* ------------------------------------------------------------------ */

enum { OP_MUL, OP_MUL_ADD, OP_MUL_SUB };

/* y[0..15] = (float)c * d, then + m or - m (op), each rounded to float. */
INLINE void deq16(int8x16_t c, float d, float m, int op, float *y)
{
	const int16x8_t lo = vmovl_s8(vget_low_s8(c)), hi = vmovl_high_s8(c);
	const int32x4_t v[4] = { vmovl_s16(vget_low_s16(lo)), vmovl_high_s16(lo), vmovl_s16(vget_low_s16(hi)),
				 vmovl_high_s16(hi) };
	const float32x4_t vd = vdupq_n_f32(d), vm = vdupq_n_f32(m);
	for (int k = 0; k < 4; k++) {
		float32x4_t f = vmulq_f32(vcvtq_f32_s32(v[k]), vd);
		if (op == OP_MUL_ADD)
			f = vaddq_f32(f, vm);
		else if (op == OP_MUL_SUB)
			f = vsubq_f32(f, vm);
		vst1q_f32(y + 4 * k, f);
	}
}

/* Byte j (0..15) is 0x10 where bit j of h is set. */
INLINE int8x16_t bits_0x10(uint32_t h)
{
	static const uint8_t sel[16] = { 1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128 };
	const uint8x16_t v = vcombine_u8(vdup_n_u8((uint8_t)h), vdup_n_u8((uint8_t)(h >> 8)));
	return vreinterpretq_s8_u8(vandq_u8(vtstq_u8(v, vld1q_u8(sel)), vdupq_n_u8(0x10)));
}

/* Legacy blocks: the 32 codes (0..15, or 0..31 with qh) minus off. */
INLINE void legacy_codes(const uint8_t *qs, const uint8_t *qh, int off, int8x16_t *c0, int8x16_t *c1)
{
	const uint8x16_t v = vld1q_u8(qs);
	int8x16_t lo = vreinterpretq_s8_u8(vandq_u8(v, vdupq_n_u8(0x0f)));
	int8x16_t hi = vreinterpretq_s8_u8(vshrq_n_u8(v, 4));
	if (qh) {
		uint32_t h;
		memcpy(&h, qh, sizeof h);
		lo = vorrq_s8(lo, bits_0x10(h));
		hi = vorrq_s8(hi, bits_0x10(h >> 16));
	}
	*c0 = vsubq_s8(lo, vdupq_n_s8((int8_t)off));
	*c1 = vsubq_s8(hi, vdupq_n_s8((int8_t)off));
}

static void deq_q4_0(const void *src, float *y, int64_t n)
{
	const struct blk_q4_0 *b = src;
	for (int64_t i = 0; i < n / QK; i++, y += QK) {
		const float d = qnt__fp16_to_fp32(b[i].d);
		int8x16_t c0, c1;
		legacy_codes(b[i].qs, NULL, 8, &c0, &c1);
		deq16(c0, d, 0.0f, OP_MUL, y);
		deq16(c1, d, 0.0f, OP_MUL, y + 16);
	}
}

static void deq_q5_0(const void *src, float *y, int64_t n)
{
	const struct blk_q5_0 *b = src;
	for (int64_t i = 0; i < n / QK; i++, y += QK) {
		const float d = qnt__fp16_to_fp32(b[i].d);
		int8x16_t c0, c1;
		legacy_codes(b[i].qs, b[i].qh, 16, &c0, &c1);
		deq16(c0, d, 0.0f, OP_MUL, y);
		deq16(c1, d, 0.0f, OP_MUL, y + 16);
	}
}

static void deq_q4_1(const void *src, float *y, int64_t n)
{
	const struct blk_q4_1 *b = src;
	for (int64_t i = 0; i < n / QK; i++, y += QK) {
		const float d = qnt__fp16_to_fp32(b[i].d), m = qnt__fp16_to_fp32(b[i].m);
		int8x16_t c0, c1;
		legacy_codes(b[i].qs, NULL, 0, &c0, &c1);
		deq16(c0, d, m, OP_MUL_ADD, y);
		deq16(c1, d, m, OP_MUL_ADD, y + 16);
	}
}

static void deq_q5_1(const void *src, float *y, int64_t n)
{
	const struct blk_q5_1 *b = src;
	for (int64_t i = 0; i < n / QK; i++, y += QK) {
		const float d = qnt__fp16_to_fp32(b[i].d), m = qnt__fp16_to_fp32(b[i].m);
		int8x16_t c0, c1;
		legacy_codes(b[i].qs, b[i].qh, 0, &c0, &c1);
		deq16(c0, d, m, OP_MUL_ADD, y);
		deq16(c1, d, m, OP_MUL_ADD, y + 16);
	}
}

static void deq_q8_0(const void *src, float *y, int64_t n)
{
	const struct blk_q8_0 *b = src;
	for (int64_t i = 0; i < n / QK; i++, y += QK) {
		const float d = qnt__fp16_to_fp32(b[i].d);
		deq16(vld1q_s8(b[i].qs), d, 0.0f, OP_MUL, y);
		deq16(vld1q_s8(b[i].qs + 16), d, 0.0f, OP_MUL, y + 16);
	}
}

static void deq_q8_K(const void *src, float *y, int64_t n)
{
	const struct blk_q8_K *b = src;
	for (int64_t i = 0; i < n / QK_K; i++, y += QK_K)
		for (int k = 0; k < QK_K; k += 16)
			deq16(vld1q_s8(b[i].qs + k), b[i].d, 0.0f, OP_MUL, y + k);
}

/* k-quants: y = (d * sc) * q - (dmin * m) per sub-block, the products and
 * the difference each rounded to float as in the reference; the formats
 * without mins subtract +0 there, which changes no float. */

/* 2-bit fields: c[8h + 2g + half] = elements 128h + 32g + 16 half + 0..15,
 * bits 2g of qs[32h + 16 half + l]. */
INLINE void codes2(const uint8_t *qs, int8x16_t *c)
{
	for (int h = 0; h < 2; h++)
		for (int half = 0; half < 2; half++) {
			const uint8x16_t q = vld1q_u8(qs + 32 * h + 16 * half);
			const uint8x16_t m3 = vdupq_n_u8(3);
			c[8 * h + half] = vreinterpretq_s8_u8(vandq_u8(q, m3));
			c[8 * h + 2 + half] = vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(q, 2), m3));
			c[8 * h + 4 + half] = vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(q, 4), m3));
			c[8 * h + 6 + half] = vreinterpretq_s8_u8(vshrq_n_u8(q, 6));
		}
}

static void deq_q2_K(const void *src, float *y, int64_t n)
{
	const struct blk_q2_K *b = src;
	for (int64_t i = 0; i < n / QK_K; i++, y += QK_K) {
		const float d = qnt__fp16_to_fp32(b[i].d), dmin = qnt__fp16_to_fp32(b[i].dmin);
		int8x16_t c[16];
		codes2(b[i].qs, c);
		for (int j = 0; j < 16; j++) {
			const uint8_t sc = b[i].scales[j];
			deq16(c[j], d * (float)(sc & 0x0f), dmin * (float)(sc >> 4), OP_MUL_SUB, y + 16 * j);
		}
	}
}

static void deq_q3_K(const void *src, float *y, int64_t n)
{
	const struct blk_q3_K *b = src;
	for (int64_t i = 0; i < n / QK_K; i++, y += QK_K) {
		const float d = qnt__fp16_to_fp32(b[i].d);
		const uint8_t *s = b[i].scales;
		int8x16_t c[16];
		codes2(b[i].qs, c);
		const uint8x16_t hm0 = vld1q_u8(b[i].hmask), hm1 = vld1q_u8(b[i].hmask + 16);
		for (int j = 0; j < 16; j++) {
			/* bit 2 of the codes: bit j / 2 (= 4h + g) of hmask[l]; value code - 4 */
			const uint8x16_t set = vtstq_u8(j & 1 ? hm1 : hm0, vdupq_n_u8((uint8_t)(1u << (j / 2))));
			const int8x16_t q = vsubq_s8(vorrq_s8(c[j], vreinterpretq_s8_u8(vandq_u8(set, vdupq_n_u8(4)))),
						     vdupq_n_s8(4));
			const int lo = j < 8 ? s[j] & 0x0f : s[j - 8] >> 4;
			const int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
			deq16(q, d * (float)((lo | (hi << 4)) - 32), 0.0f, OP_MUL, y + 16 * j);
		}
	}
}

/* q4_K/q5_K: element 64h + 32s + l is nibble s of qs[32h + l], plus 16 where
 * bit 2h + s of qh[l] is set (q5_K); 6-bit scales and mins. */
static void deq_k45(const uint8_t *s, uint16_t hd, uint16_t hdmin, const uint8_t *qs, const uint8_t *qh, float *y)
{
	const float d = qnt__fp16_to_fp32(hd), dmin = qnt__fp16_to_fp32(hdmin);
	for (int h = 0; h < 4; h++)
		for (int half = 0; half < 2; half++) {
			const uint8x16_t v = vld1q_u8(qs + 32 * h + 16 * half);
			uint8x16_t c[2] = { vandq_u8(v, vdupq_n_u8(0x0f)), vshrq_n_u8(v, 4) };
			for (int sub = 0; sub < 2; sub++) {
				const int j = 2 * h + sub;
				if (qh) {
					const uint8x16_t set = vtstq_u8(vld1q_u8(qh + 16 * half),
									vdupq_n_u8((uint8_t)(1u << j)));
					c[sub] = vorrq_u8(c[sub], vandq_u8(set, vdupq_n_u8(0x10)));
				}
				int sc, m;
				if (j < 4) {
					sc = s[j] & 63;
					m = s[j + 4] & 63;
				} else {
					sc = (s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4);
					m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
				}
				deq16(vreinterpretq_s8_u8(c[sub]), d * (float)sc, dmin * (float)m, OP_MUL_SUB,
				      y + 32 * j + 16 * half);
			}
		}
}

static void deq_q4_K(const void *src, float *y, int64_t n)
{
	const struct blk_q4_K *b = src;
	for (int64_t i = 0; i < n / QK_K; i++, y += QK_K)
		deq_k45(b[i].scales, b[i].d, b[i].dmin, b[i].qs, NULL, y);
}

static void deq_q5_K(const void *src, float *y, int64_t n)
{
	const struct blk_q5_K *b = src;
	for (int64_t i = 0; i < n / QK_K; i++, y += QK_K)
		deq_k45(b[i].scales, b[i].d, b[i].dmin, b[i].qs, b[i].qh, y);
}

/* q6_K: element 128h + 32g + l has the nibble (g >= 2: high) of
 * ql[64h + 32 (g & 1) + l] and bits 2g of qh[32h + l]; value code - 32. */
static void deq_q6_K(const void *src, float *y, int64_t n)
{
	const struct blk_q6_K *b = src;
	const uint8x16_t m4 = vdupq_n_u8(0x0f), m30 = vdupq_n_u8(0x30);
	for (int64_t i = 0; i < n / QK_K; i++, y += QK_K) {
		const float d = qnt__fp16_to_fp32(b[i].d);
		for (int h = 0; h < 2; h++)
			for (int half = 0; half < 2; half++) {
				const uint8x16_t l0 = vld1q_u8(b[i].ql + 64 * h + 16 * half);
				const uint8x16_t l1 = vld1q_u8(b[i].ql + 64 * h + 32 + 16 * half);
				const uint8x16_t qh = vld1q_u8(b[i].qh + 32 * h + 16 * half);
				const uint8x16_t v[4] = {
					vorrq_u8(vandq_u8(l0, m4), vandq_u8(vshlq_n_u8(qh, 4), m30)),
					vorrq_u8(vandq_u8(l1, m4), vandq_u8(vshlq_n_u8(qh, 2), m30)),
					vorrq_u8(vshrq_n_u8(l0, 4), vandq_u8(qh, m30)),
					vorrq_u8(vshrq_n_u8(l1, 4), vandq_u8(vshrq_n_u8(qh, 2), m30)),
				};
				for (int g = 0; g < 4; g++) {
					const int j = 8 * h + 2 * g + half;
					deq16(vsubq_s8(vreinterpretq_s8_u8(v[g]), vdupq_n_s8(32)),
					      d * (float)b[i].scales[j], 0.0f, OP_MUL, y + 16 * j);
				}
			}
	}
}

/* iq4_nl, iq4_xs, mxfp4, nvfp4: the codes through a 16-entry table; the
 * reference's d * value (or value * d: the same float) per element. */
INLINE void table_codes(const uint8_t *qs, const int8_t *tbl, int8x16_t *lo, int8x16_t *hi)
{
	const int8x16_t t = vld1q_s8(tbl);
	const uint8x16_t v = vld1q_u8(qs);
	*lo = vqtbl1q_s8(t, vandq_u8(v, vdupq_n_u8(0x0f)));
	*hi = vqtbl1q_s8(t, vshrq_n_u8(v, 4));
}

static void deq_iq4_nl(const void *src, float *y, int64_t n)
{
	const struct blk_iq4_nl *b = src;
	for (int64_t i = 0; i < n / QK; i++, y += QK) {
		const float d = qnt__fp16_to_fp32(b[i].d);
		int8x16_t lo, hi;
		table_codes(b[i].qs, qnt__neon_kv_iq4, &lo, &hi);
		deq16(lo, d, 0.0f, OP_MUL, y);
		deq16(hi, d, 0.0f, OP_MUL, y + 16);
	}
}

static void deq_iq4_xs(const void *src, float *y, int64_t n)
{
	const struct blk_iq4_xs *b = src;
	for (int64_t i = 0; i < n / QK_K; i++) {
		const float d = qnt__fp16_to_fp32(b[i].d);
		for (int ib = 0; ib < 8; ib++, y += 32) {
			const int ls = ((b[i].scales_l[ib / 2] >> (4 * (ib % 2))) & 0xf) |
				       (((b[i].scales_h >> (2 * ib)) & 3) << 4);
			const float dl = d * (float)(ls - 32);
			int8x16_t lo, hi;
			table_codes(b[i].qs + 16 * ib, qnt__neon_kv_iq4, &lo, &hi);
			deq16(lo, dl, 0.0f, OP_MUL, y);
			deq16(hi, dl, 0.0f, OP_MUL, y + 16);
		}
	}
}

static void deq_mxfp4(const void *src, float *y, int64_t n)
{
	const struct blk_mxfp4 *b = src;
	for (int64_t i = 0; i < n / QK; i++, y += QK) {
		const float d = qnt__neon_e8m0_half(b[i].e);
		int8x16_t lo, hi;
		table_codes(b[i].qs, qnt__neon_kv_fp4, &lo, &hi);
		deq16(lo, d, 0.0f, OP_MUL, y);
		deq16(hi, d, 0.0f, OP_MUL, y + 16);
	}
}

/* nvfp4: the codes of sub-blocks 2h (*s0) and 2h + 1 (*s1) in element order. */
INLINE void nvfp4_codes(const struct blk_nvfp4 *b, int h, int8x16_t *s0, int8x16_t *s1)
{
	int8x16_t lo, hi;
	table_codes(b->qs + 16 * h, qnt__neon_kv_fp4, &lo, &hi);
	*s0 = vcombine_s8(vget_low_s8(lo), vget_low_s8(hi));
	*s1 = vcombine_s8(vget_high_s8(lo), vget_high_s8(hi));
}

static void deq_nvfp4(const void *src, float *y, int64_t n)
{
	const struct blk_nvfp4 *b = src;
	for (int64_t i = 0; i < n / 64; i++)
		for (int h = 0; h < 2; h++, y += 32) {
			int8x16_t s0, s1;
			nvfp4_codes(&b[i], h, &s0, &s1);
			deq16(s0, qnt__neon_ue4m3_half(b[i].d[2 * h]), 0.0f, OP_MUL, y);
			deq16(s1, qnt__neon_ue4m3_half(b[i].d[2 * h + 1]), 0.0f, OP_MUL, y + 16);
		}
}

/* tq1_0: the trit (0..2) of 16 bytes already multiplied by their power of
 * 3 (mod 256, as ggml's uint8_t product): (v * 3) >> 8. */
INLINE uint8x16_t trit16(uint8x16_t v)
{
	const uint8x8_t three = vdup_n_u8(3);
	return vcombine_u8(vshrn_n_u16(vmull_u8(vget_low_u8(v), three), 8),
			   vshrn_n_u16(vmull_high_u8(v, vdupq_n_u8(3)), 8));
}

/* tq1_0's codes (0..2) of elements 16k..16k+15, k = 0..15. */
INLINE void tq1_codes(const struct blk_tq1_0 *b, int8x16_t *c)
{
	static const uint8_t pow3[5] = { 1, 3, 9, 27, 81 };
	const uint8x16_t q0 = vld1q_u8(b->qs), q1 = vld1q_u8(b->qs + 16), q2 = vld1q_u8(b->qs + 32);
	for (int t = 0; t < 5; t++) {
		const uint8x16_t p = vdupq_n_u8(pow3[t]);
		c[2 * t] = vreinterpretq_s8_u8(trit16(vmulq_u8(q0, p)));
		c[2 * t + 1] = vreinterpretq_s8_u8(trit16(vmulq_u8(q1, p)));
		c[10 + t] = vreinterpretq_s8_u8(trit16(vmulq_u8(q2, p)));
	}
	/* elements 240 + 4t + j: trit t of qh[j] */
	static const uint8_t rep[16] = { 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3 };
	static const uint8_t pw[16] = { 1, 1, 1, 1, 3, 3, 3, 3, 9, 9, 9, 9, 27, 27, 27, 27 };
	uint32_t qh;
	memcpy(&qh, b->qh, sizeof qh);
	const uint8x16_t h = vqtbl1q_u8(vreinterpretq_u8_u32(vdupq_n_u32(qh)), vld1q_u8(rep));
	c[15] = vreinterpretq_s8_u8(trit16(vmulq_u8(h, vld1q_u8(pw))));
}

static void deq_tq1_0(const void *src, float *y, int64_t n)
{
	const struct blk_tq1_0 *b = src;
	for (int64_t i = 0; i < n / QK_K; i++, y += QK_K) {
		const float d = qnt__fp16_load_quiet(&b[i].d);
		int8x16_t c[16];
		tq1_codes(&b[i], c);
		for (int k = 0; k < 16; k++)
			deq16(vsubq_s8(c[k], vdupq_n_s8(1)), d, 0.0f, OP_MUL, y + 16 * k);
	}
}

static void deq_tq2_0(const void *src, float *y, int64_t n)
{
	const struct blk_tq2_0 *b = src;
	for (int64_t i = 0; i < n / QK_K; i++, y += QK_K) {
		const float d = qnt__fp16_load_quiet(&b[i].d);
		int8x16_t c[16];
		codes2(b[i].qs, c);
		for (int k = 0; k < 16; k++)
			deq16(vsubq_s8(c[k], vdupq_n_s8(1)), d, 0.0f, OP_MUL, y + 16 * k);
	}
}

/* q1_0: element j is +d where bit j % 8 of qs[j / 8] is set, else -d. */
static void deq_q1_0(const void *src, float *y, int64_t n)
{
	static const uint8_t sel[16] = { 1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128 };
	const struct blk_q1_0 *b = src;
	for (int64_t i = 0; i < n / 128; i++, y += 128) {
		const float d = qnt__fp16_load_quiet(&b[i].d);
		const float32x4_t vd = vdupq_n_f32(d), vnd = vdupq_n_f32(-d);
		for (int k = 0; k < 8; k++) {
			const uint8x16_t v = vcombine_u8(vdup_n_u8(b[i].qs[2 * k]), vdup_n_u8(b[i].qs[2 * k + 1]));
			const int8x16_t set = vreinterpretq_s8_u8(vtstq_u8(v, vld1q_u8(sel)));
			const int16x8_t s0 = vmovl_s8(vget_low_s8(set)), s1 = vmovl_high_s8(set);
			const int32x4_t m[4] = { vmovl_s16(vget_low_s16(s0)), vmovl_high_s16(s0),
						 vmovl_s16(vget_low_s16(s1)), vmovl_high_s16(s1) };
			for (int u = 0; u < 4; u++)
				vst1q_f32(y + 16 * k + 4 * u, vbslq_f32(vreinterpretq_u32_s32(m[u]), vd, vnd));
		}
	}
}

/* q2_0: the codes (0..3) of elements 16k..16k+15: bits 2 (j % 4) of
 * qs[j / 4]. */
INLINE int8x16_t q2_0_codes(const uint8_t *qs, int k)
{
	static const uint8_t rep[16] = { 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3 };
	static const int8_t shr[16] = { 0, -2, -4, -6, 0, -2, -4, -6, 0, -2, -4, -6, 0, -2, -4, -6 };
	uint32_t w;
	memcpy(&w, qs + 4 * k, sizeof w);
	const uint8x16_t v = vqtbl1q_u8(vreinterpretq_u8_u32(vdupq_n_u32(w)), vld1q_u8(rep));
	return vreinterpretq_s8_u8(vandq_u8(vshlq_u8(v, vld1q_s8(shr)), vdupq_n_u8(3)));
}

static void deq_q2_0(const void *src, float *y, int64_t n)
{
	const struct blk_q2_0 *b = src;
	for (int64_t i = 0; i < n / 64; i++, y += 64) {
		const float d = qnt__fp16_load_quiet(&b[i].d);
		for (int k = 0; k < 4; k++)
			deq16(vsubq_s8(q2_0_codes(b[i].qs, k), vdupq_n_s8(1)), d, 0.0f, OP_MUL, y + 16 * k);
	}
}

/* The i-quant lattice formats (neon_iq.h): per element db * level, its
 * sign bit flipped where the element is negative (as C's unary minus). */
INLINE void deq_iq_group(const struct qnt__neon_iq_group *g, float *y)
{
	for (int h = 0; h < 2; h++) {
		const uint16x8_t m0 = vmovl_u8(vget_low_u8(g->mag[h])), m1 = vmovl_high_u8(g->mag[h]);
		const int16x8_t n0 = vmovl_s8(vget_low_s8(vreinterpretq_s8_u8(g->neg[h])));
		const int16x8_t n1 = vmovl_high_s8(vreinterpretq_s8_u8(g->neg[h]));
		const uint32x4_t mag[4] = { vmovl_u16(vget_low_u16(m0)), vmovl_high_u16(m0), vmovl_u16(vget_low_u16(m1)),
					    vmovl_high_u16(m1) };
		const int32x4_t neg[4] = { vmovl_s16(vget_low_s16(n0)), vmovl_high_s16(n0), vmovl_s16(vget_low_s16(n1)),
					   vmovl_high_s16(n1) };
		const float32x4_t db = vdupq_n_f32(g->db[h]);
		for (int k = 0; k < 4; k++) {
			const uint32x4_t v = vreinterpretq_u32_f32(vmulq_f32(db, vcvtq_f32_u32(mag[k])));
			const uint32x4_t sb = vandq_u32(vreinterpretq_u32_s32(neg[k]), vdupq_n_u32(0x80000000u));
			vst1q_f32(y + 16 * h + 4 * k, vreinterpretq_f32_u32(veorq_u32(v, sb)));
		}
	}
}

INLINE void deq_iq(const void *src, float *y, int64_t n, size_t bytes, int kind)
{
	for (int64_t i = 0; i < n / QK_K; i++) {
		const uint8_t *blk = (const uint8_t *)src + (size_t)i * bytes;
		uint16_t h;
		memcpy(&h, blk, sizeof h); /* d first in every one of these blocks */
		const float d = qnt__fp16_to_fp32(h);
		for (int ib = 0; ib < 8; ib++, y += 32) {
			struct qnt__neon_iq_group g;
			qnt__neon_iq_decode(blk, kind, ib, d, &g);
			deq_iq_group(&g, y);
		}
	}
}

static void deq_iq2_xxs(const void *src, float *y, int64_t n)
{
	deq_iq(src, y, n, sizeof(struct blk_iq2_xxs), QNT__NEON_IQ2_XXS);
}

static void deq_iq2_xs(const void *src, float *y, int64_t n)
{
	deq_iq(src, y, n, sizeof(struct blk_iq2_xs), QNT__NEON_IQ2_XS);
}

static void deq_iq2_s(const void *src, float *y, int64_t n)
{
	deq_iq(src, y, n, sizeof(struct blk_iq2_s), QNT__NEON_IQ2_S);
}

static void deq_iq3_xxs(const void *src, float *y, int64_t n)
{
	deq_iq(src, y, n, sizeof(struct blk_iq3_xxs), QNT__NEON_IQ3_XXS);
}

static void deq_iq3_s(const void *src, float *y, int64_t n)
{
	deq_iq(src, y, n, sizeof(struct blk_iq3_s), QNT__NEON_IQ3_S);
}

/* iq1_s, iq1_m (neon_iq.h): the reference's dl * (g + delta) with
 * dl = d * (float)(2 s + 1); g + delta is w / 8 for the odd integer
 * w = 8 g + s (|w| <= 9), and w * 0.125f gives that float exactly, so one
 * rounded multiply by dl as in the reference. */
INLINE void deq_iq1_half(int8x16_t w, float dl, float *y)
{
	const int16x8_t lo = vmovl_s8(vget_low_s8(w)), hi = vmovl_high_s8(w);
	const int32x4_t v[4] = { vmovl_s16(vget_low_s16(lo)), vmovl_high_s16(lo), vmovl_s16(vget_low_s16(hi)),
				 vmovl_high_s16(hi) };
	const float32x4_t vd = vdupq_n_f32(dl), e = vdupq_n_f32(0.125f);
	for (int k = 0; k < 4; k++)
		vst1q_f32(y + 4 * k, vmulq_f32(vd, vmulq_f32(vcvtq_f32_s32(v[k]), e)));
}

INLINE void deq_iq1(const void *src, float *y, int64_t n, int m)
{
	const size_t bytes = m ? sizeof(struct blk_iq1_m) : sizeof(struct blk_iq1_s);
	for (int64_t i = 0; i < n / QK_K; i++) {
		const uint8_t *blk = (const uint8_t *)src + (size_t)i * bytes;
		const uint16_t h = m ? qnt__neon_iq1m_d(((const struct blk_iq1_m *)blk)->scales)
				     : qnt__neon_rd16(blk);
		const float d = qnt__fp16_to_fp32(h);
		for (int ib = 0; ib < 8; ib++, y += 32) {
			struct qnt__neon_iq1_group g;
			qnt__neon_iq1_decode(blk, m, ib, &g);
			deq_iq1_half(g.w[0], d * (float)g.ls[0], y);
			deq_iq1_half(g.w[1], d * (float)g.ls[1], y + 16);
		}
	}
}

static void deq_iq1_s(const void *src, float *y, int64_t n)
{
	deq_iq1(src, y, n, 0);
}

static void deq_iq1_m(const void *src, float *y, int64_t n)
{
	deq_iq1(src, y, n, 1);
}

/* ------------------------------------------------------------------ */
/* The MLX registry formats ("mlx:*", quant_mlx.c)                     */
/* ------------------------------------------------------------------ */

/*
 * One group of gs elements per block: the codes as an LSB-first bitstream
 * of b bits, then the scale, then (affine) the bias. The reference's floats
 * (quant_mlx.c's dequant_blocks, element type f32):
 *   affine  b 2, 3, 4, 5, 6, 8; gs 32, 64, 128; scale s and bias z in f32,
 *           f16 or bf16:                     f32(f32(q * s) + z)
 *   mxfp4   E2M1 codes, gs 32, E8M0 byte e:   e2m1[q] * 2^(e - 127)
 *   mxfp8   E4M3 codes, gs 32, E8M0 byte e:   e4m3(q) * 2^(e - 127)
 *   nvfp4   E2M1 codes, gs 16, E4M3 byte:     e2m1[q] * e4m3(byte)
 * each a single IEEE multiply (and add) of exact operands. The kernels below
 * decode the codes, 16 at a time, to their exact values (mlx_values16: the
 * integer q, or the E2M1/E4M3 value), so dequantize repeats those
 * operations and gets the same floats, and the products work on the same
 * values.
 */
struct mlx_k {
	int mode, bits, gs, d;
	size_t code_bytes, ss, block_bytes;
};

/* 1 and k filled when type is an MLX registry format. */
static int mlx_of(qnt_type type, struct mlx_k *k)
{
	struct qnt__mlx_fmt f;
	if (!qnt__mlx_fmt_of(type, &f))
		return 0;
	k->mode = f.mode;
	k->bits = f.bits;
	k->gs = f.group_size;
	k->d = f.d;
	k->code_bytes = (size_t)(f.group_size * f.bits / 8);
	k->ss = qnt__mlx_scale_size(&f);
	k->block_bytes = k->code_bytes + k->ss + (f.mode == QNT_MLX_AFFINE ? qnt__mlx_dsize(f.d) : 0);
	return 1;
}

/* quant_mlx.c's load(): the scale or bias as a float (the same conversions,
 * so a signalling NaN stays as the reference gets it until the arithmetic
 * quiets it the same way). */
INLINE float mlx_elem(const uint8_t *p, int d)
{
	if (d == QNT__MLX_F32) {
		float f;
		memcpy(&f, p, sizeof f);
		return f;
	}
	uint16_t h;
	memcpy(&h, p, sizeof h);
	return d == QNT__MLX_F16 ? qnt__fp16_to_fp32(h) : qnt__bf16_to_fp32(h);
}

/* MLX's E4M3 decoding (quant_mlx.c's from_e4m3): the magnitude's 7 bits are
 * an f16's exponent (bias 15, E4M3's is 7) and top mantissa bits, so the f16
 * of (x & 0x7f) << 7 times 2^8 is the value, subnormals included, exactly;
 * 0x7f and 0xff are NaN. */
INLINE float mlx_e4m3(uint8_t x)
{
	if ((x & 0x7fu) == 0x7fu)
		return qnt__f32_from_bits(0x7ff00000u | (uint32_t)(x & 0x80u) << 24);
	const float v = qnt__fp16_to_fp32((uint16_t)((x & 0x7fu) << 7)) * 256.0f;
	return x & 0x80u ? -v : v;
}

/* 2^(e - 127) for a scale byte e, as quant_mlx.c's pow2f gives it: 2^-127
 * (subnormal) for 0, infinity for 255. */
INLINE float mlx_pow2(uint8_t e)
{
	if (e == 0)
		return 0x1p-127f;
	if (e == 255)
		return qnt__f32_from_bits(0x7f800000u);
	return qnt__f32_from_bits((uint32_t)e << 23);
}

/* A block's scale and (affine; 0 otherwise) bias. */
INLINE void mlx_scale(const struct mlx_k *k, int mode, const uint8_t *blk, float *s, float *z)
{
	const uint8_t *sp = blk + k->code_bytes;
	*z = 0.0f;
	switch (mode) {
	case QNT_MLX_AFFINE:
		*s = mlx_elem(sp, k->d);
		*z = mlx_elem(sp + k->ss, k->d);
		break;
	case QNT_MLX_MXFP4:
	case QNT_MLX_MXFP8:
		*s = mlx_pow2(sp[0]);
		break;
	default:
		*s = mlx_e4m3(sp[0]);
		break;
	}
}

/* Code j of a chunk of eight b-bit codes (b bytes) starts at bit b j: byte
 * b j / 8, bit b j % 8, and with b <= 8 it ends within the next byte. TBL
 * puts those two bytes into 16-bit lane j (idx), a shift right by the bit
 * offset (sh, negative) and the mask leave the code. Chunks are read as the
 * 8 bytes that start with them, or, where that would pass the end of the
 * block (the last chunk, when the scale and bias take fewer than 8 - b
 * bytes), as the 8 that end with them, the table indices moved up by 8 - b
 * (idx_end). Indices past the 8 loaded bytes read 0, and only ever feed
 * bits above the code, which the mask clears. Used for b = 2, 3, 5, 6 (4
 * and 8 take whole bytes). */
struct mlx_unpack {
	uint8x16_t idx, idx_end;
	int16x8_t sh;
	uint16x8_t mask;
};

static struct mlx_unpack mlx_unpack_for(int b)
{
	uint8_t idx[16], idx_end[16];
	int16_t sh[8];
	for (int j = 0; j < 8; j++) {
		const int byte = b * j / 8;
		idx[2 * j] = (uint8_t)byte;
		idx[2 * j + 1] = (uint8_t)(byte + 1);
		idx_end[2 * j] = (uint8_t)(byte + 8 - b);
		idx_end[2 * j + 1] = (uint8_t)(byte + 1 + 8 - b);
		sh[j] = (int16_t)-(b * j % 8);
	}
	struct mlx_unpack u;
	u.idx = vld1q_u8(idx);
	u.idx_end = vld1q_u8(idx_end);
	u.sh = vld1q_s16(sh);
	u.mask = vdupq_n_u16((uint16_t)((1u << b) - 1u));
	return u;
}

/* The eight codes of chunk c (bytes b c .. b c + b - 1) of a block. */
INLINE uint16x8_t mlx_chunk8(const struct mlx_k *k, const struct mlx_unpack *u, const uint8_t *blk, int c)
{
	const int b = k->bits;
	const size_t at = (size_t)(c * b);
	/* only the last chunk can fail in_block: a chunk before it ends b
	 * bytes or more before the codes do, so its 8 bytes pass them by at
	 * most 8 - 2 b <= 4, and an affine block's scale and bias take 4 bytes
	 * or more; the last chunk ends with the codes, of which a block has at
	 * least 8 */
	const int in_block = at + 8 <= k->block_bytes;
	const uint8x8_t v = vld1_u8(in_block ? blk + at : blk + at + (size_t)b - 8);
	const uint8x16_t t = vcombine_u8(v, vdup_n_u8(0));
	const uint16x8_t w = vreinterpretq_u16_u8(vqtbl1q_u8(t, in_block ? u->idx : u->idx_end));
	return vandq_u16(vshlq_u16(w, u->sh), u->mask);
}

/* Tables of 16 floats whose low 16 bits are all zero (bf16-exact), as the
 * high and the low bytes of their upper halves: e2m1 (0, .5, 1, 1.5, 2, 3,
 * 4, 6, then the same negated, -0 included) and the integers 0..15. */
static const uint8_t e2m1_hi[16] = { 0x00, 0x3f, 0x3f, 0x3f, 0x40, 0x40, 0x40, 0x40,
				     0x80, 0xbf, 0xbf, 0xbf, 0xc0, 0xc0, 0xc0, 0xc0 };
static const uint8_t e2m1_lo[16] = { 0x00, 0x00, 0x80, 0xc0, 0x00, 0x40, 0x80, 0xc0,
				     0x00, 0x00, 0x80, 0xc0, 0x00, 0x40, 0x80, 0xc0 };
static const uint8_t ints_hi[16] = { 0x00, 0x3f, 0x40, 0x40, 0x40, 0x40, 0x40, 0x40,
				     0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41, 0x41 };
static const uint8_t ints_lo[16] = { 0x00, 0x80, 0x00, 0x40, 0x80, 0xa0, 0xc0, 0xe0,
				     0x00, 0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70 };

struct mlx_tab {
	uint8x16_t hi, lo;
};

/* 16 codes (0..15) through a table: TBL gives the two bytes of each
 * value's upper half, ZIP pairs them into 16-bit lanes and USHLL moves
 * those to the top of the 32-bit lanes (2 TBL, 2 ZIP, 4 USHLL for 16
 * floats). */
INLINE void mlx_tab16(const struct mlx_tab *t, uint8x16_t q, float32x4_t v[4])
{
	const uint8x16_t h = vqtbl1q_u8(t->hi, q), l = vqtbl1q_u8(t->lo, q);
	const uint16x8_t a = vreinterpretq_u16_u8(vzip1q_u8(l, h)), b = vreinterpretq_u16_u8(vzip2q_u8(l, h));
	v[0] = vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(a), 16));
	v[1] = vreinterpretq_f32_u32(vshll_high_n_u16(a, 16));
	v[2] = vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(b), 16));
	v[3] = vreinterpretq_f32_u32(vshll_high_n_u16(b, 16));
}

/* 16 E4M3 bytes to floats, as mlx_e4m3: SSHLL by 7 sign-extends each byte
 * to 16 bits and shifts, which leaves the magnitude in bits 13..7 and the
 * sign in bits 15 and 14; clearing bit 14 gives the f16 of the signed
 * value / 2^8, which FCVTL widens exactly and FMUL by 2^8 restores. The
 * NaN codes become the f16 NaN 0xffff first. */
INLINE void mlx_e4m3_16(uint8x16_t q, float32x4_t v[4])
{
	const uint8x16_t nan = vceqq_u8(vandq_u8(q, vdupq_n_u8(0x7f)), vdupq_n_u8(0x7f));
	const int8x16_t s = vreinterpretq_s8_u8(q), n = vreinterpretq_s8_u8(nan);
	const int16x8_t keep = vdupq_n_s16((int16_t)0xbfff);
	const int16x8_t h0 = vorrq_s16(vandq_s16(vshll_n_s8(vget_low_s8(s), 7), keep), vmovl_s8(vget_low_s8(n)));
	const int16x8_t h1 = vorrq_s16(vandq_s16(vshll_high_n_s8(s, 7), keep), vmovl_high_s8(n));
	const float16x8_t f0 = vreinterpretq_f16_s16(h0), f1 = vreinterpretq_f16_s16(h1);
	v[0] = vmulq_n_f32(vcvt_f32_f16(vget_low_f16(f0)), 256.0f);
	v[1] = vmulq_n_f32(vcvt_high_f32_f16(f0), 256.0f);
	v[2] = vmulq_n_f32(vcvt_f32_f16(vget_low_f16(f1)), 256.0f);
	v[3] = vmulq_n_f32(vcvt_high_f32_f16(f1), 256.0f);
}

/* 8 codes (16-bit lanes) to floats. */
INLINE void mlx_cvt8(uint16x8_t q, float32x4_t *v)
{
	v[0] = vcvtq_f32_u32(vmovl_u16(vget_low_u16(q)));
	v[1] = vcvtq_f32_u32(vmovl_high_u16(q));
}

/* What values16 needs besides the block. */
struct mlx_ctx {
	struct mlx_unpack u;
	struct mlx_tab tab;
};

static struct mlx_ctx mlx_ctx_for(const struct mlx_k *k)
{
	struct mlx_ctx m;
	m.u = mlx_unpack_for(k->bits);
	const int e2m1 = k->mode == QNT_MLX_MXFP4 || k->mode == QNT_MLX_NVFP4;
	m.tab.hi = vld1q_u8(e2m1 ? e2m1_hi : ints_hi);
	m.tab.lo = vld1q_u8(e2m1 ? e2m1_lo : ints_lo);
	return m;
}

/* The exact unscaled values of elements 16 i .. 16 i + 15 of a block: the
 * codes q (affine) or the E2M1 / E4M3 values (fp modes). mode and bits are
 * constants where this is inlined; bits 4: 8 code bytes, low nibble first
 * (ZIP of the low and high nibbles puts them in element order), through
 * the table; bits 8: 16 bytes; bits 2, 3, 5, 6: two chunks of eight. */
INLINE void mlx_values16(const struct mlx_k *k, const struct mlx_ctx *m, int mode, int bits, const uint8_t *blk, int i,
			 float32x4_t v[4])
{
	if (bits == 4) {
		const uint8x8_t c = vld1_u8(blk + 8 * i);
		const uint8x8_t lo = vand_u8(c, vdup_n_u8(0x0f)), hi = vshr_n_u8(c, 4);
		mlx_tab16(&m->tab, vcombine_u8(vzip1_u8(lo, hi), vzip2_u8(lo, hi)), v);
	} else if (bits == 8) {
		const uint8x16_t c = vld1q_u8(blk + 16 * i);
		if (mode == QNT_MLX_MXFP8) {
			mlx_e4m3_16(c, v);
		} else {
			mlx_cvt8(vmovl_u8(vget_low_u8(c)), v);
			mlx_cvt8(vmovl_high_u8(c), v + 2);
		}
	} else {
		mlx_cvt8(mlx_chunk8(k, &m->u, blk, 2 * i), v);
		mlx_cvt8(mlx_chunk8(k, &m->u, blk, 2 * i + 1), v + 2);
	}
}

INLINE void deq_mlx_body(const struct mlx_k *k, int mode, int bits, const uint8_t *blk, float *y, int64_t n)
{
	const struct mlx_ctx m = mlx_ctx_for(k);
	for (int64_t g = 0; g < n / k->gs; g++, blk += k->block_bytes, y += k->gs) {
		float s, z;
		mlx_scale(k, mode, blk, &s, &z);
		const float32x4_t vz = vdupq_n_f32(z);
		for (int i = 0; i < k->gs / 16; i++) {
			float32x4_t v[4];
			mlx_values16(k, &m, mode, bits, blk, i, v);
			UNROLL for (int t = 0; t < 4; t++) {
				float32x4_t f = vmulq_n_f32(v[t], s);
				if (mode == QNT_MLX_AFFINE)
					f = vaddq_f32(f, vz);
				vst1q_f32(y + 16 * i + 4 * t, f);
			}
		}
	}
}

static void deq_mlx(const struct mlx_k *k, const void *src, float *y, int64_t n)
{
	switch (k->mode) {
	case QNT_MLX_AFFINE:
		if (k->bits == 4)
			deq_mlx_body(k, QNT_MLX_AFFINE, 4, src, y, n);
		else if (k->bits == 8)
			deq_mlx_body(k, QNT_MLX_AFFINE, 8, src, y, n);
		else
			deq_mlx_body(k, QNT_MLX_AFFINE, 0, src, y, n);
		break;
	case QNT_MLX_MXFP4:
		deq_mlx_body(k, QNT_MLX_MXFP4, 4, src, y, n);
		break;
	case QNT_MLX_MXFP8:
		deq_mlx_body(k, QNT_MLX_MXFP8, 8, src, y, n);
		break;
	default:
		deq_mlx_body(k, QNT_MLX_NVFP4, 4, src, y, n);
		break;
	}
}

/* The sum of x over each group of gs (the affine products' bias term). */
static void mlx_group_sums(int gs, const float *x, int64_t n, float *sums)
{
	for (int64_t g = 0; g < n / gs; g++) {
		float32x4_t a = vdupq_n_f32(0.0f);
		for (int j = 0; j < gs; j += 4)
			a = vaddq_f32(a, vld1q_f32(x + g * gs + j));
		sums[g] = vaddvq_f32(a);
	}
}

/* One row against nc (1..QNT_NEON_NC) float columns x[c]: per group the
 * unscaled values times x, summed with FMA (two accumulators per column),
 * then scaled once: tot += s * acc; affine adds z * (sum of x over the
 * group), since sum_j (q_j s + z) x_j = s sum_j q_j x_j + z sum_j x_j (xsum:
 * those sums, taken once per call). The dequantized row times x as a real
 * number; the float rounding of the sums stays within the float formats'
 * tolerance (the same arithmetic as cpu-avx2's MLX kernel). The inner loop
 * (16 elements) as GCC 12 -O2 builds it, in instructions for 1 and 4
 * columns: 4-bit codes 26 and 51, 8-bit affine 24 and 49, mxfp8 32 and 57,
 * 2/3/5/6-bit 33 to 48 and 74 (4 FMLA and 4 loads of x per column). */
INLINE void mlx_row_body(const struct mlx_k *k, int mode, int bits, const uint8_t *w, const float *const *x,
			 const float *const *xsum, int nc, int64_t n, float *out)
{
	const struct mlx_ctx m = mlx_ctx_for(k);
	float32x4_t tot[QNT_NEON_NC];
	float bt[QNT_NEON_NC];
	UNROLL for (int c = 0; c < nc; c++) {
		tot[c] = vdupq_n_f32(0.0f);
		bt[c] = 0.0f;
	}
	const int gs = k->gs;
	for (int64_t g = 0; g < n / gs; g++, w += k->block_bytes) {
		float s, z;
		mlx_scale(k, mode, w, &s, &z);
		float32x4_t acc0[QNT_NEON_NC], acc1[QNT_NEON_NC];
		UNROLL for (int c = 0; c < nc; c++)
			acc0[c] = acc1[c] = vdupq_n_f32(0.0f);
		for (int i = 0; i < gs / 16; i++) {
			float32x4_t v[4];
			mlx_values16(k, &m, mode, bits, w, i, v);
			UNROLL for (int c = 0; c < nc; c++) {
				const float *xp = x[c] + g * gs + 16 * i;
				acc0[c] = vfmaq_f32(acc0[c], v[0], vld1q_f32(xp));
				acc1[c] = vfmaq_f32(acc1[c], v[1], vld1q_f32(xp + 4));
				acc0[c] = vfmaq_f32(acc0[c], v[2], vld1q_f32(xp + 8));
				acc1[c] = vfmaq_f32(acc1[c], v[3], vld1q_f32(xp + 12));
			}
		}
		UNROLL for (int c = 0; c < nc; c++) {
			tot[c] = vfmaq_n_f32(tot[c], vaddq_f32(acc0[c], acc1[c]), s);
			if (mode == QNT_MLX_AFFINE)
				bt[c] += z * xsum[c][g];
		}
	}
	UNROLL for (int c = 0; c < nc; c++)
		out[c] = vaddvq_f32(tot[c]) + bt[c];
}

#define MLX_ROW_NC(MODE, BITS)                                              \
	switch (nc) {                                                       \
	case 1:                                                             \
		mlx_row_body(k, MODE, BITS, w, x, xsum, 1, n, out);         \
		break;                                                      \
	case 2:                                                             \
		mlx_row_body(k, MODE, BITS, w, x, xsum, 2, n, out);         \
		break;                                                      \
	case 3:                                                             \
		mlx_row_body(k, MODE, BITS, w, x, xsum, 3, n, out);         \
		break;                                                      \
	default:                                                            \
		mlx_row_body(k, MODE, BITS, w, x, xsum, 4, n, out);         \
		break;                                                      \
	}

static void mlx_row(const struct mlx_k *k, const uint8_t *w, const float *const *x, const float *const *xsum, int nc,
		    int64_t n, float *out)
{
	switch (k->mode) {
	case QNT_MLX_AFFINE:
		if (k->bits == 4) {
			MLX_ROW_NC(QNT_MLX_AFFINE, 4)
		} else if (k->bits == 8) {
			MLX_ROW_NC(QNT_MLX_AFFINE, 8)
		} else {
			MLX_ROW_NC(QNT_MLX_AFFINE, 0)
		}
		break;
	case QNT_MLX_MXFP4:
		MLX_ROW_NC(QNT_MLX_MXFP4, 4)
		break;
	case QNT_MLX_MXFP8:
		MLX_ROW_NC(QNT_MLX_MXFP8, 8)
		break;
	default:
		MLX_ROW_NC(QNT_MLX_NVFP4, 4)
		break;
	}
}

/* ------------------------------------------------------------------ */
/* Quantize activations: the reference's bytes                          */
/* ------------------------------------------------------------------ */

#define FLT_MAX_ 3.4028234663852886e38f

/* max |x| of n (a multiple of 4) floats; *has_nan when any is NaN. */
INLINE float absmax_n(const float *x, int n, int *has_nan)
{
	float32x4_t mx = vdupq_n_f32(0.0f);
	uint32x4_t nan = vdupq_n_u32(0);
	for (int k = 0; k < n; k += 4) {
		const float32x4_t v = vld1q_f32(x + k);
		mx = vmaxq_f32(mx, vabsq_f32(v)); /* FMAX: a NaN lane stays NaN, caught below */
		nan = vorrq_u32(nan, vmvnq_u32(vceqq_f32(v, v)));
	}
	*has_nan = vmaxvq_u32(nan) != 0;
	return vmaxvq_f32(mx);
}

/* 4 floats rounded half away from zero (qnt__cvt_round for |v| < 2^31):
 * FCVTAS. */
INLINE int32x4_t round_away(float32x4_t v)
{
	return vcvtaq_s32_f32(v);
}

/* 4 floats rounded half to even (qnt__nearest_int for |v| < 2^22): FCVTNS. */
INLINE int32x4_t round_even(float32x4_t v)
{
	return vcvtnq_s32_f32(v);
}

/* 16 int32 (values in -128..127) to 16 bytes in order. */
INLINE int8x16_t narrow16(const int32x4_t *q)
{
	const int16x8_t a = vcombine_s16(vmovn_s32(q[0]), vmovn_s32(q[1]));
	const int16x8_t b = vcombine_s16(vmovn_s32(q[2]), vmovn_s32(q[3]));
	return vcombine_s8(vmovn_s16(a), vmovn_s16(b));
}

/* One q8_0 block (hs: q8_1's sum). Returns 0 when the block needs the scalar
 * reference (NaN, infinities, a reciprocal that overflows). */
static int quant_q8_0_block(const float *x, int8_t *qs, uint16_t *hd, uint16_t *hs)
{
	int has_nan;
	const float amax = absmax_n(x, QK, &has_nan);
	if (has_nan || !(amax <= FLT_MAX_))
		return 0;
	const float d = amax / 127.0f;
	const float id = d != 0.0f ? 1.0f / d : 0.0f;
	if (!(id <= FLT_MAX_))
		return 0;
	int32x4_t sum = vdupq_n_s32(0);
	for (int h = 0; h < 2; h++) {
		int32x4_t q[4];
		for (int k = 0; k < 4; k++) {
			q[k] = round_away(vmulq_n_f32(vld1q_f32(x + 16 * h + 4 * k), id));
			sum = vaddq_s32(sum, q[k]);
		}
		vst1q_s8(qs + 16 * h, narrow16(q));
	}
	*hd = qnt__fp32_to_fp16(d);
	if (hs)
		*hs = qnt__fp32_to_fp16((float)vaddvq_s32(sum) * d);
	return 1;
}

/* One q8_K block; 0: use the scalar reference. */
static int quant_q8_K_block(const float *x, struct blk_q8_K *b)
{
	int has_nan;
	const float amax = absmax_n(x, QK_K, &has_nan);
	if (has_nan || !(amax <= FLT_MAX_) || amax == 0.0f)
		return 0;
	/* the first element of largest magnitude gives the sign of the scale */
	float max = 0.0f;
	for (int j = 0; j < QK_K; j++)
		if (fabsf(x[j]) == amax) {
			max = x[j];
			break;
		}
	const float iscale = -127.0f / max;
	if (!(fabsf(iscale) <= FLT_MAX_))
		return 0;
	for (int k = 0; k < QK_K; k += 16) {
		int32x4_t q[4];
		for (int u = 0; u < 4; u++)
			q[u] = vminq_s32(round_even(vmulq_f32(vdupq_n_f32(iscale), vld1q_f32(x + k + 4 * u))),
					 vdupq_n_s32(127));
		vst1q_s8(b->qs + k, narrow16(q));
		b->bsums[k / 16] = (int16_t)vaddvq_s32(vaddq_s32(vaddq_s32(q[0], q[1]), vaddq_s32(q[2], q[3])));
	}
	b->d = 1 / iscale;
	return 1;
}

/* ------------------------------------------------------------------ */
/* Format table                                                         */
/* ------------------------------------------------------------------ */

typedef void (*deq_fn)(const void *src, float *y, int64_t n);

/* mm: offset of the row kernel in struct qnt__neon_mm, or -1: no product. */
struct fmt {
	qnt_type type;
	deq_fn deq;
	ptrdiff_t mm;
	qnt_type xq; /* activations of mm */
	int quant;   /* quantize runs here */
};

#define MM(f) ((ptrdiff_t)offsetof(struct qnt__neon_mm, f))

static const struct fmt fmts[] = {
	{ QNT_TYPE_F32, NULL, MM(f32), QNT_TYPE_INVALID, 0 },
	{ QNT_TYPE_F16, NULL, MM(f16), QNT_TYPE_INVALID, 0 },
	{ QNT_TYPE_BF16, NULL, MM(bf16), QNT_TYPE_INVALID, 0 },
	{ QNT_TYPE_Q4_0, deq_q4_0, MM(q4_0), QNT_TYPE_Q8_0, 0 },
	{ QNT_TYPE_Q4_1, deq_q4_1, MM(q4_1), QNT_TYPE_Q8_1, 0 },
	{ QNT_TYPE_Q5_0, deq_q5_0, MM(q5_0), QNT_TYPE_Q8_0, 0 },
	{ QNT_TYPE_Q5_1, deq_q5_1, MM(q5_1), QNT_TYPE_Q8_1, 0 },
	{ QNT_TYPE_Q8_0, deq_q8_0, MM(q8_0), QNT_TYPE_Q8_0, 1 },
	{ QNT_TYPE_Q8_1, NULL, -1, QNT_TYPE_INVALID, 1 },
	{ QNT_TYPE_Q2_K, deq_q2_K, MM(q2_K), QNT_TYPE_Q8_K, 0 },
	{ QNT_TYPE_Q3_K, deq_q3_K, MM(q3_K), QNT_TYPE_Q8_K, 0 },
	{ QNT_TYPE_Q4_K, deq_q4_K, MM(q4_K), QNT_TYPE_Q8_K, 0 },
	{ QNT_TYPE_Q5_K, deq_q5_K, MM(q5_K), QNT_TYPE_Q8_K, 0 },
	{ QNT_TYPE_Q6_K, deq_q6_K, MM(q6_K), QNT_TYPE_Q8_K, 0 },
	{ QNT_TYPE_Q8_K, deq_q8_K, -1, QNT_TYPE_INVALID, 1 },
	{ QNT_TYPE_IQ4_NL, deq_iq4_nl, MM(iq4_nl), QNT_TYPE_Q8_0, 0 },
	{ QNT_TYPE_IQ4_XS, deq_iq4_xs, MM(iq4_xs), QNT_TYPE_Q8_K, 0 },
	{ QNT_TYPE_MXFP4, deq_mxfp4, MM(mxfp4), QNT_TYPE_Q8_0, 0 },
	{ QNT_TYPE_NVFP4, deq_nvfp4, MM(nvfp4), QNT_TYPE_Q8_0, 0 },
	{ QNT_TYPE_TQ1_0, deq_tq1_0, MM(tq1_0), QNT_TYPE_Q8_K, 0 },
	{ QNT_TYPE_TQ2_0, deq_tq2_0, MM(tq2_0), QNT_TYPE_Q8_K, 0 },
	{ QNT_TYPE_Q1_0, deq_q1_0, MM(q1_0), QNT_TYPE_Q8_0, 0 },
	{ QNT_TYPE_Q2_0, deq_q2_0, MM(q2_0), QNT_TYPE_Q8_0, 0 },
	{ QNT_TYPE_IQ2_XXS, deq_iq2_xxs, MM(iq2_xxs), QNT_TYPE_Q8_K, 0 },
	{ QNT_TYPE_IQ2_XS, deq_iq2_xs, MM(iq2_xs), QNT_TYPE_Q8_K, 0 },
	{ QNT_TYPE_IQ2_S, deq_iq2_s, MM(iq2_s), QNT_TYPE_Q8_K, 0 },
	{ QNT_TYPE_IQ3_XXS, deq_iq3_xxs, MM(iq3_xxs), QNT_TYPE_Q8_K, 0 },
	{ QNT_TYPE_IQ3_S, deq_iq3_s, MM(iq3_s), QNT_TYPE_Q8_K, 0 },
	{ QNT_TYPE_IQ1_S, deq_iq1_s, MM(iq1_s), QNT_TYPE_Q8_K, 0 },
	{ QNT_TYPE_IQ1_M, deq_iq1_m, MM(iq1_m), QNT_TYPE_Q8_K, 0 },
};

static const struct fmt *find(qnt_type t)
{
	for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++)
		if (fmts[i].type == t)
			return &fmts[i];
	return NULL;
}

/* ------------------------------------------------------------------ */
/* The vtable                                                           */
/* ------------------------------------------------------------------ */

struct neon_state {
	const qnt_host_api *host;
	const struct qnt__neon_mm *mm; /* i8mm, dotprod or plain row kernels */
};

static qnt_status neon_open(const qnt_host_api *host, int32_t device, void **state)
{
	if (device != 0)
		return QNT_E_NOT_FOUND;
	struct neon_state *s = host->alloc(sizeof *s, 16);
	if (!s)
		return QNT_E_NO_MEMORY;
	s->host = host;
	const uint64_t f = host->cpu_features;
	s->mm = !(f & QNT_CPU_DOTPROD) ? &qnt__neon_mm_plain
		: f & QNT_CPU_I8MM     ? &qnt__neon_mm_i8mm
				       : &qnt__neon_mm_dotprod;
	*state = s;
	return QNT_OK;
}

static void neon_close(void *state)
{
	struct neon_state *s = state;
	if (s)
		s->host->free(s);
}

static qnt_status neon_device_props(void *state, int32_t device, qnt_device_props *props)
{
	const struct neon_state *s = state;
	return qnt__host_cpu_props(device, props, "cpu-neon",
				   !s || s->mm == &qnt__neon_mm_plain ? "host CPU, NEON kernels without dotprod"
				   : s->mm == &qnt__neon_mm_dotprod ? "host CPU, NEON kernels with dotprod (SDOT)"
				   : "host CPU, NEON kernels with dotprod and i8mm (SDOT, SMMLA)");
}

static int32_t neon_supports(void *state, qnt_type type, uint32_t op)
{
	(void)state;
	const struct fmt *f = find(type);
	struct mlx_k mk;
	if (!f) /* the MLX formats: dequantize and matmul */
		return (op == QNT_OP_DEQUANTIZE || op == QNT_OP_MATMUL) && mlx_of(type, &mk);
	switch (op) {
	case QNT_OP_DEQUANTIZE:
		return f->deq != NULL;
	case QNT_OP_QUANTIZE:
		return f->quant;
	case QNT_OP_MATMUL:
		return f->mm >= 0;
	default:
		return 0;
	}
}

static qnt_status neon_dequantize(void *state, const qnt_kernel_job *job)
{
	const struct neon_state *s = state;
	const struct fmt *f = find(job->type);
	const size_t rs = s->host->row_size(job->type, job->n_per_row);
	struct mlx_k mk;
	const int mlx = !f && mlx_of(job->type, &mk);
	if (job->src.buffer || job->dst.buffer || rs == 0 || !(mlx || (f && f->deq)))
		return QNT_E_INVALID_ARG;
	for (int64_t r = job->row_begin; r < job->row_end; r++) {
		const char *src = (const char *)job->src.host + (size_t)r * rs;
		float *y = (float *)job->dst.host + r * job->n_per_row;
		if (mlx)
			deq_mlx(&mk, src, y, job->n_per_row);
		else
			f->deq(src, y, job->n_per_row);
	}
	return QNT_OK;
}

static qnt_status neon_quantize(void *state, const qnt_kernel_job *job)
{
	const struct neon_state *s = state;
	const qnt_host_api *host = s->host;
	const qnt_type t = job->type;
	const int64_t n = job->n_per_row, nr = job->row_end - job->row_begin;
	const size_t rs = host->row_size(t, n);
	if (job->src.buffer || job->dst.buffer || rs == 0 || !neon_supports(state, t, QNT_OP_QUANTIZE))
		return QNT_E_INVALID_ARG;
	const float *src = (const float *)job->src.host + job->row_begin * n;
	char *dst = (char *)job->dst.host + (size_t)job->row_begin * rs;
	if (t == QNT_TYPE_Q8_0 && job->importance) /* the weighted search */
		return host->quantize_ref(t, src, dst, nr, n, job->importance);
	qnt_status st = QNT_OK;
	if (t == QNT_TYPE_Q8_K) {
		struct blk_q8_K *b = (struct blk_q8_K *)dst;
		for (int64_t i = 0; i < nr * (n / QK_K) && st == QNT_OK; i++)
			if (!quant_q8_K_block(src + i * QK_K, b + i))
				st = host->quantize_ref(t, src + i * QK_K, b + i, 1, QK_K, NULL);
	} else if (t == QNT_TYPE_Q8_1) {
		struct blk_q8_1 *b = (struct blk_q8_1 *)dst;
		for (int64_t i = 0; i < nr * (n / QK) && st == QNT_OK; i++)
			if (!quant_q8_0_block(src + i * QK, b[i].qs, &b[i].d, &b[i].s))
				st = host->quantize_ref(t, src + i * QK, b + i, 1, QK, NULL);
	} else {
		struct blk_q8_0 *b = (struct blk_q8_0 *)dst;
		for (int64_t i = 0; i < nr * (n / QK) && st == QNT_OK; i++)
			if (!quant_q8_0_block(src + i * QK, b[i].qs, &b[i].d, NULL))
				st = host->quantize_ref(t, src + i * QK, b + i, 1, QK, NULL);
	}
	return st;
}

static qnt_type neon_matmul_xq_type(void *state, qnt_type wtype)
{
	(void)state;
	const struct fmt *f = find(wtype);
	return f && f->mm >= 0 ? f->xq : QNT_TYPE_INVALID;
}

/* The legacy kernels' per-block activation scales and (q8_1) sums. */
static void prepare_legacy(qnt_type xq_type, const uint8_t *xq, int64_t nb, float *d, float *s)
{
	if (xq_type == QNT_TYPE_Q8_1) {
		const struct blk_q8_1 *b = (const struct blk_q8_1 *)xq;
		for (int64_t i = 0; i < nb; i++) {
			d[i] = qnt__fp16_to_fp32(b[i].d);
			s[i] = qnt__fp16_to_fp32(b[i].s);
		}
		return;
	}
	const struct blk_q8_0 *b = (const struct blk_q8_0 *)xq;
	for (int64_t i = 0; i < nb; i++) {
		d[i] = qnt__fp16_to_fp32(b[i].d);
		s[i] = 0.0f;
	}
}

/* The MLX formats against float columns: up to QNT_NEON_NC columns through
 * mlx_row, more through tiles of ROW_TILE dequantized rows and the f32 row
 * kernel (each row decoded once for all the columns). */
static qnt_status mlx_matmul(const struct neon_state *st, const struct mlx_k *k, const qnt_matmul_job *job)
{
	const qnt_host_api *host = st->host;
	const int64_t n_in = job->n_in, n_out = job->n_out, n_cols = job->n_cols;
	const size_t wrs = host->row_size(job->wtype, n_in);
	if (!job->x.host || wrs == 0 || n_in % k->gs != 0)
		return QNT_E_INVALID_ARG;
	const uint8_t *w = job->w.host;
	const float *x = job->x.host;
	float *y = job->y.host;
	if (n_cols > QNT_NEON_NC) {
		float *buf = host->alloc((size_t)ROW_TILE * (size_t)n_in * sizeof(float), 64);
		if (!buf)
			return QNT_E_NO_MEMORY;
		for (int64_t r0 = job->row_begin; r0 < job->row_end; r0 += ROW_TILE) {
			const int64_t r1 = r0 + ROW_TILE < job->row_end ? r0 + ROW_TILE : job->row_end;
			for (int64_t r = r0; r < r1; r++)
				deq_mlx(k, w + (size_t)r * wrs, buf + (r - r0) * n_in, n_in);
			for (int64_t c0 = 0; c0 < n_cols; c0 += QNT_NEON_NC) {
				const int nc = n_cols - c0 < QNT_NEON_NC ? (int)(n_cols - c0) : QNT_NEON_NC;
				struct qnt__neon_xcol xc[QNT_NEON_NC];
				for (int c = 0; c < nc; c++) {
					xc[c].blk = (const uint8_t *)(x + (c0 + c) * n_in);
					xc[c].d = xc[c].s = NULL;
				}
				for (int64_t r = r0; r < r1; r++) {
					float out[QNT_NEON_NC];
					st->mm->f32(buf + (r - r0) * n_in, xc, nc, n_in, out);
					for (int c = 0; c < nc; c++)
						y[(c0 + c) * n_out + r] = out[c];
				}
			}
		}
		host->free(buf);
		return QNT_OK;
	}
	/* affine: each column's sums over the groups */
	const int64_t ng = n_in / k->gs;
	float stack[1024], *sums = stack;
	const float *xc[QNT_NEON_NC], *sc[QNT_NEON_NC];
	if (k->mode == QNT_MLX_AFFINE && (size_t)(n_cols * ng) > sizeof stack / sizeof stack[0] &&
	    !(sums = host->alloc((size_t)(n_cols * ng) * sizeof(float), 64)))
		return QNT_E_NO_MEMORY;
	for (int64_t c = 0; c < n_cols; c++) {
		xc[c] = x + c * n_in;
		sc[c] = sums + c * ng;
		if (k->mode == QNT_MLX_AFFINE)
			mlx_group_sums(k->gs, xc[c], n_in, sums + c * ng);
	}
	for (int64_t r = job->row_begin; r < job->row_end; r++) {
		float out[QNT_NEON_NC];
		mlx_row(k, w + (size_t)r * wrs, xc, sc, (int)n_cols, n_in, out);
		for (int64_t c = 0; c < n_cols; c++)
			y[c * n_out + r] = out[c];
	}
	if (sums != stack)
		host->free(sums);
	return QNT_OK;
}

static qnt_status neon_matmul(void *state, const qnt_matmul_job *job)
{
	const struct neon_state *st = state;
	const qnt_host_api *host = st->host;
	const struct fmt *f = find(job->wtype);
	struct mlx_k mk;
	if (!f && !job->w.buffer && !job->x.buffer && !job->y.buffer && mlx_of(job->wtype, &mk))
		return mlx_matmul(st, &mk, job);
	if (job->w.buffer || job->x.buffer || job->y.buffer || !f || f->mm < 0)
		return QNT_E_INVALID_ARG;
	qnt__neon_row_fn mm;
	memcpy(&mm, (const char *)st->mm + f->mm, sizeof mm);
	/* the two-row kernels (i8mm) for two columns and more */
	const qnt__neon_row2_fn mm2 = job->n_cols < 2	       ? NULL
				      : job->wtype == QNT_TYPE_Q4_0 ? st->mm->q4_0_r2
				      : job->wtype == QNT_TYPE_Q8_0 ? st->mm->q8_0_r2
								    : NULL;
	const int64_t n_in = job->n_in, n_out = job->n_out, n_cols = job->n_cols;
	const int floats = f->xq == QNT_TYPE_INVALID; /* the kernel reads x itself */
	if (floats ? !job->x.host : !job->xq || job->xq_type != f->xq) /* not prepared as asked */
		return host->matmul_ref(job->wtype, job->w.host, n_out, n_in, (const float *)job->x.host, NULL, n_cols,
					(float *)job->y.host, job->row_begin, job->row_end);
	const size_t wrs = host->row_size(job->wtype, n_in);
	const size_t xrs = floats ? (size_t)n_in * sizeof(float) : host->row_size(f->xq, n_in);
	if (wrs == 0 || xrs == 0)
		return QNT_E_INVALID_ARG;
	const uint8_t *w = job->w.host;
	const uint8_t *xq = floats ? (const uint8_t *)job->x.host : (const uint8_t *)job->xq;
	float *y = job->y.host;

	/* legacy formats: every column's block scales (and sums) as floats */
	const int legacy = !floats && f->xq != QNT_TYPE_Q8_K;
	const int64_t nb = n_in / QK;
	float stack[4096], *ds = NULL;
	if (legacy) {
		const size_t need = (size_t)n_cols * (size_t)nb * 2;
		ds = need <= sizeof stack / sizeof stack[0] ? stack : host->alloc(need * sizeof(float), 64);
		if (!ds)
			return QNT_E_NO_MEMORY;
		for (int64_t c = 0; c < n_cols; c++)
			prepare_legacy(f->xq, xq + (size_t)c * xrs, nb, ds + (size_t)(2 * c) * nb,
				       ds + (size_t)(2 * c + 1) * nb);
	}
	for (int64_t r0 = job->row_begin; r0 < job->row_end; r0 += ROW_TILE) {
		const int64_t r1 = r0 + ROW_TILE < job->row_end ? r0 + ROW_TILE : job->row_end;
		for (int64_t c0 = 0; c0 < n_cols; c0 += QNT_NEON_NC) {
			const int nc = n_cols - c0 < QNT_NEON_NC ? (int)(n_cols - c0) : QNT_NEON_NC;
			struct qnt__neon_xcol xc[QNT_NEON_NC];
			for (int c = 0; c < nc; c++) {
				xc[c].blk = xq + (size_t)(c0 + c) * xrs;
				xc[c].d = legacy ? ds + (size_t)(2 * (c0 + c)) * nb : NULL;
				xc[c].s = legacy ? ds + (size_t)(2 * (c0 + c) + 1) * nb : NULL;
			}
			int64_t r = r0;
			for (; mm2 && r + 2 <= r1; r += 2) {
				float out0[QNT_NEON_NC], out1[QNT_NEON_NC];
				mm2(w + (size_t)r * wrs, wrs, xc, nc, n_in, out0, out1);
				for (int c = 0; c < nc; c++) {
					y[(c0 + c) * n_out + r] = out0[c];
					y[(c0 + c) * n_out + r + 1] = out1[c];
				}
			}
			for (; r < r1; r++) {
				float out[QNT_NEON_NC];
				mm(w + (size_t)r * wrs, xc, nc, n_in, out);
				for (int c = 0; c < nc; c++)
					y[(c0 + c) * n_out + r] = out[c];
			}
		}
	}
	if (ds && ds != stack)
		host->free(ds);
	return QNT_OK;
}

const qnt_backend_vtbl qnt__cpu_neon_backend = {
	.struct_size = sizeof(qnt_backend_vtbl),
	.abi_version = QNT_BACKEND_ABI,
	.name = "cpu-neon",
	.description = "AArch64 NEON kernels (dotprod and i8mm where the CPU has them)",
	.caps = QNT_BACKEND_CAP_HOST_THREADS,
	.score = qnt__cpu_neon_score,
	.open = neon_open,
	.close = neon_close,
	.device_count = qnt__host_cpu_device_count,
	.device_props = neon_device_props,
	.supports = neon_supports,
	.quantize = neon_quantize,
	.dequantize = neon_dequantize,
	.matmul_xq_type = neon_matmul_xq_type,
	.matmul = neon_matmul,
};
