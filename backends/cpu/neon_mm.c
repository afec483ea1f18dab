/* SPDX-License-Identifier: MIT */
/*
 * Row kernels of the "cpu-neon" matrix product, compiled three times (see
 * lib/meson.build): with QNT_NEON_DOTPROD=1 and -march=armv8.2-a+dotprod the
 * 8-bit dot products use SDOT (vdotq_s32) and the table is
 * qnt__neon_mm_dotprod; with QNT_NEON_DOTPROD=0 they use widening multiplies
 * (SMULL, SADALP) and the table is qnt__neon_mm_plain; with QNT_NEON_I8MM=1
 * as well and -march=armv8.2-a+dotprod+i8mm the table qnt__neon_mm_i8mm
 * adds two-row kernels for q4_0 and q8_0 (SMMLA: 2 rows x 2 columns x 8
 * codes per instruction), which neon.c runs for two columns and more.
 *
 *   legacy formats (q4_0 q5_0 q8_0 against q8_0, q4_1 q5_1 against q8_1):
 *       the signed codes of each block times the activation codes, summed
 *       exactly in 32 bits; then (d_w * d_x) * sum (+ m_w * s_x) in float.
 *   k-quants (q2_K..q6_K against q8_K): per super-block the exact integer
 *       sum of scale * (codes . activations), the mins through q8_K's sums of
 *       16; then d_x * (d * sum - dmin * msum) in float.
 *   i-quants (iq4_xs, iq2_*, iq3_*, iq1_s, iq1_m against q8_K): signed
 *       weight bytes per group of 32 (the lattice points decoded by
 *       neon_iq.h), exact integer sums weighted by the integer sub-block
 *       scales, one float factor per super-block; tq1_0, tq2_0: the codes
 *       (0..2) against q8_K, less its sums.
 *   f32, f16, bf16: float FMA against the float activations.
 *
 * The integer sums are exact and the float steps the same, so all builds
 * (and the two-row kernels) give the same floats; all are
 * within the reference's tolerance, not bit-equal to it (it sums in double).
 */
#include "cpu_neon.h"
#include "neon_iq.h"
#include "qnt_fp.h"

#include <arm_neon.h>
#include <string.h>

#include "qnt_blocks.h"

#if defined(__GNUC__)
#define INLINE static inline __attribute__((always_inline))
#else
#define INLINE static inline
#endif

#define NC QNT_NEON_NC

/* acc + the sums of four products of 16 signed bytes, per 32-bit lane (which
 * products land in which lane differs between the builds; only the total of
 * the four lanes is used). */
INLINE int32x4_t dot16(int32x4_t acc, int8x16_t a, int8x16_t b)
{
#if QNT_NEON_DOTPROD
	return vdotq_s32(acc, a, b);
#else
	const int16x8_t lo = vmull_s8(vget_low_s8(a), vget_low_s8(b));
	const int16x8_t hi = vmull_high_s8(a, b);
	return vpadalq_s16(vpadalq_s16(acc, lo), hi);
#endif
}

INLINE float h2f(uint16_t h)
{
	return qnt__fp16_to_fp32(h);
}

/* Byte j (0..15) is 0x10 where bit j of h is set. */
INLINE int8x16_t bits_0x10(uint32_t h)
{
	static const uint8_t sel[16] = { 1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128 };
	const uint8x16_t v = vcombine_u8(vdup_n_u8((uint8_t)h), vdup_n_u8((uint8_t)(h >> 8)));
	return vreinterpretq_s8_u8(vandq_u8(vtstq_u8(v, vld1q_u8(sel)), vdupq_n_u8(0x10)));
}

INLINE uint32_t load_u32(const void *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof v);
	return v;
}

/* ------------------------------------------------------------------ */
/* Legacy formats                                                       */
/* ------------------------------------------------------------------ */

enum { L_Q4_0, L_Q5_0, L_Q8_0, L_Q4_1, L_Q5_1 };

/* The 32 signed codes of block b (q4_0: -8..7, q5_0: -16..15, q8_0 as
 * stored, q4_1: 0..15, q5_1: 0..31) in element order; its scale and min. */
INLINE void legacy_codes(const uint8_t *b, int kind, int8x16_t *c0, int8x16_t *c1, float *d, float *m)
{
	const uint8_t *qs;
	uint32_t qh = 0;
	*m = 0.0f;
	switch (kind) {
	case L_Q4_0:
		*d = h2f(((const struct blk_q4_0 *)b)->d);
		qs = ((const struct blk_q4_0 *)b)->qs;
		break;
	case L_Q5_0:
		*d = h2f(((const struct blk_q5_0 *)b)->d);
		qh = load_u32(((const struct blk_q5_0 *)b)->qh);
		qs = ((const struct blk_q5_0 *)b)->qs;
		break;
	case L_Q8_0:
		*d = h2f(((const struct blk_q8_0 *)b)->d);
		*c0 = vld1q_s8(((const struct blk_q8_0 *)b)->qs);
		*c1 = vld1q_s8(((const struct blk_q8_0 *)b)->qs + 16);
		return;
	case L_Q4_1:
		*d = h2f(((const struct blk_q4_1 *)b)->d);
		*m = h2f(((const struct blk_q4_1 *)b)->m);
		qs = ((const struct blk_q4_1 *)b)->qs;
		break;
	default:
		*d = h2f(((const struct blk_q5_1 *)b)->d);
		*m = h2f(((const struct blk_q5_1 *)b)->m);
		qh = load_u32(((const struct blk_q5_1 *)b)->qh);
		qs = ((const struct blk_q5_1 *)b)->qs;
		break;
	}
	const uint8x16_t v = vld1q_u8(qs);
	int8x16_t lo = vreinterpretq_s8_u8(vandq_u8(v, vdupq_n_u8(0x0f)));
	int8x16_t hi = vreinterpretq_s8_u8(vshrq_n_u8(v, 4));
	if (kind == L_Q5_0 || kind == L_Q5_1) {
		lo = vorrq_s8(lo, bits_0x10(qh));
		hi = vorrq_s8(hi, bits_0x10(qh >> 16));
	}
	if (kind == L_Q4_0 || kind == L_Q5_0) {
		const int8x16_t off = vdupq_n_s8(kind == L_Q4_0 ? 8 : 16);
		lo = vsubq_s8(lo, off);
		hi = vsubq_s8(hi, off);
	}
	*c0 = lo;
	*c1 = hi;
}

INLINE void legacy_body(const void *wv, const struct qnt__neon_xcol *x, int nc, int64_t n, float *out, int kind)
{
	static const size_t wbytes[] = { sizeof(struct blk_q4_0), sizeof(struct blk_q5_0), sizeof(struct blk_q8_0),
					 sizeof(struct blk_q4_1), sizeof(struct blk_q5_1) };
	const size_t wb = wbytes[kind];
	const int q81 = kind == L_Q4_1 || kind == L_Q5_1;
	const size_t xb = q81 ? sizeof(struct blk_q8_1) : sizeof(struct blk_q8_0);
	const size_t xo = q81 ? offsetof(struct blk_q8_1, qs) : offsetof(struct blk_q8_0, qs);
	float acc[NC], cor[NC];
	for (int c = 0; c < nc; c++)
		acc[c] = cor[c] = 0.0f;
	for (int64_t i = 0; i < n / QK; i++) {
		int8x16_t c0, c1;
		float dw, mw;
		legacy_codes((const uint8_t *)wv + (size_t)i * wb, kind, &c0, &c1, &dw, &mw);
		for (int c = 0; c < nc; c++) {
			const int8_t *xq = (const int8_t *)(x[c].blk + (size_t)i * xb + xo);
			int32x4_t s = dot16(vdupq_n_s32(0), c0, vld1q_s8(xq));
			s = dot16(s, c1, vld1q_s8(xq + 16));
			acc[c] += (dw * x[c].d[i]) * (float)vaddvq_s32(s);
			if (q81)
				cor[c] += mw * x[c].s[i];
		}
	}
	for (int c = 0; c < nc; c++)
		out[c] = acc[c] + cor[c];
}

static void mm_q4_0(const void *w, const struct qnt__neon_xcol *x, int nc, int64_t n, float *out)
{
	legacy_body(w, x, nc, n, out, L_Q4_0);
}

static void mm_q5_0(const void *w, const struct qnt__neon_xcol *x, int nc, int64_t n, float *out)
{
	legacy_body(w, x, nc, n, out, L_Q5_0);
}

static void mm_q8_0(const void *w, const struct qnt__neon_xcol *x, int nc, int64_t n, float *out)
{
	legacy_body(w, x, nc, n, out, L_Q8_0);
}

static void mm_q4_1(const void *w, const struct qnt__neon_xcol *x, int nc, int64_t n, float *out)
{
	legacy_body(w, x, nc, n, out, L_Q4_1);
}

static void mm_q5_1(const void *w, const struct qnt__neon_xcol *x, int nc, int64_t n, float *out)
{
	legacy_body(w, x, nc, n, out, L_Q5_1);
}

/* ------------------------------------------------------------------ */
/* k-quants against q8_K                                                */
/* ------------------------------------------------------------------ */

/* Per super-block and column: the exact sums isum (scales times codes times
 * activations) and msum (mins times activation sums). */
INLINE void k_finish(const struct blk_q8_K *xk, int32x4_t isum, int64_t msum, float d, float dmin, float *acc)
{
	*acc += xk->d * (d * (float)vaddvq_s32(isum) - dmin * (float)msum);
}

/* Sixteen 16-element sub-blocks (q2_K, q3_K, q6_K): c[k] holds the codes of
 * elements 16k..16k+15, sc[k] their scale. */
INLINE int32x4_t k16_isum(const int8x16_t *c, const int8_t *sc, const int8_t *xq)
{
	int32x4_t isum = vdupq_n_s32(0);
	for (int k = 0; k < 16; k++) {
		const int32x4_t p = dot16(vdupq_n_s32(0), c[k], vld1q_s8(xq + 16 * k));
		isum = vmlaq_n_s32(isum, p, sc[k]);
	}
	return isum;
}

/* 2-bit fields: element 128h + 32g + l is bits 2g of qs[32h + l]. */
INLINE void codes2(const uint8_t *qs, int8x16_t *c)
{
	for (int h = 0; h < 2; h++) {
		const uint8x16_t q0 = vld1q_u8(qs + 32 * h), q1 = vld1q_u8(qs + 32 * h + 16);
		const uint8x16_t m3 = vdupq_n_u8(3);
		c[8 * h + 0] = vreinterpretq_s8_u8(vandq_u8(q0, m3));
		c[8 * h + 1] = vreinterpretq_s8_u8(vandq_u8(q1, m3));
		c[8 * h + 2] = vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(q0, 2), m3));
		c[8 * h + 3] = vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(q1, 2), m3));
		c[8 * h + 4] = vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(q0, 4), m3));
		c[8 * h + 5] = vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(q1, 4), m3));
		c[8 * h + 6] = vreinterpretq_s8_u8(vshrq_n_u8(q0, 6));
		c[8 * h + 7] = vreinterpretq_s8_u8(vshrq_n_u8(q1, 6));
	}
}

static void mm_q2_K(const void *wv, const struct qnt__neon_xcol *x, int nc, int64_t n, float *out)
{
	const struct blk_q2_K *w = wv;
	float acc[NC] = { 0 };
	for (int64_t i = 0; i < n / QK_K; i++) {
		int8x16_t c[16];
		int8_t sc[16];
		int16_t mn[16];
		codes2(w[i].qs, c);
		for (int j = 0; j < 16; j++) {
			sc[j] = (int8_t)(w[i].scales[j] & 0x0f);
			mn[j] = (int16_t)(w[i].scales[j] >> 4);
		}
		const int16x8_t m0 = vld1q_s16(mn), m1 = vld1q_s16(mn + 8);
		const float d = h2f(w[i].d), dmin = h2f(w[i].dmin);
		for (int col = 0; col < nc; col++) {
			const struct blk_q8_K *xk = (const struct blk_q8_K *)x[col].blk + i;
			int32x4_t ms = vmull_s16(vget_low_s16(m0), vld1_s16(xk->bsums));
			ms = vmlal_high_s16(ms, m0, vld1q_s16(xk->bsums));
			ms = vmlal_s16(ms, vget_low_s16(m1), vld1_s16(xk->bsums + 8));
			ms = vmlal_high_s16(ms, m1, vld1q_s16(xk->bsums + 8));
			k_finish(xk, k16_isum(c, sc, xk->qs), vaddvq_s32(ms), d, dmin, &acc[col]);
		}
	}
	memcpy(out, acc, (size_t)nc * sizeof(float));
}

/* q3_K scale j (-32..31): low nibble in byte j (j < 8) or the high nibble of
 * byte j - 8, top two bits at bit 2 (j / 4) of byte 8 + j % 4. */
INLINE void q3_scales(const uint8_t *s, int8_t *sc)
{
	for (int j = 0; j < 16; j++) {
		const int lo = j < 8 ? s[j] & 0x0f : s[j - 8] >> 4;
		const int hi = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
		sc[j] = (int8_t)((lo | (hi << 4)) - 32);
	}
}

/* q3_K values (code - 4, -4..3): the 2-bit field, plus 4 where bit 4h + g of
 * hmask[l] is set, minus 4. */
INLINE void codes3(const struct blk_q3_K *b, int8x16_t *c)
{
	codes2(b->qs, c);
	const uint8x16_t hm0 = vld1q_u8(b->hmask), hm1 = vld1q_u8(b->hmask + 16);
	for (int k = 0; k < 16; k++) {
		const int bit = k / 2; /* 4h + g with k = 8h + 2g + half */
		const uint8x16_t hm = k & 1 ? hm1 : hm0;
		const uint8x16_t set = vtstq_u8(hm, vdupq_n_u8((uint8_t)(1u << bit)));
		const int8x16_t four = vreinterpretq_s8_u8(vandq_u8(set, vdupq_n_u8(4)));
		c[k] = vsubq_s8(vorrq_s8(c[k], four), vdupq_n_s8(4));
	}
}

static void mm_q3_K(const void *wv, const struct qnt__neon_xcol *x, int nc, int64_t n, float *out)
{
	const struct blk_q3_K *w = wv;
	float acc[NC] = { 0 };
	for (int64_t i = 0; i < n / QK_K; i++) {
		int8x16_t c[16];
		int8_t sc[16];
		codes3(&w[i], c);
		q3_scales(w[i].scales, sc);
		const float d = h2f(w[i].d);
		for (int col = 0; col < nc; col++) {
			const struct blk_q8_K *xk = (const struct blk_q8_K *)x[col].blk + i;
			k_finish(xk, k16_isum(c, sc, xk->qs), 0, d, 0.0f, &acc[col]);
		}
	}
	memcpy(out, acc, (size_t)nc * sizeof(float));
}

/* q6_K values (code - 32, -32..31): element 128h + 32g + l has the nibble
 * (g >= 2: high) of ql[64h + 32 (g & 1) + l] and bits 2g of qh[32h + l]. */
INLINE void codes6(const struct blk_q6_K *b, int8x16_t *c)
{
	for (int h = 0; h < 2; h++)
		for (int half = 0; half < 2; half++) {
			const uint8x16_t l0 = vld1q_u8(b->ql + 64 * h + 16 * half);
			const uint8x16_t l1 = vld1q_u8(b->ql + 64 * h + 32 + 16 * half);
			const uint8x16_t qh = vld1q_u8(b->qh + 32 * h + 16 * half);
			const uint8x16_t m4 = vdupq_n_u8(0x0f), m30 = vdupq_n_u8(0x30);
			const uint8x16_t v[4] = {
				vorrq_u8(vandq_u8(l0, m4), vandq_u8(vshlq_n_u8(qh, 4), m30)),
				vorrq_u8(vandq_u8(l1, m4), vandq_u8(vshlq_n_u8(qh, 2), m30)),
				vorrq_u8(vshrq_n_u8(l0, 4), vandq_u8(qh, m30)),
				vorrq_u8(vshrq_n_u8(l1, 4), vandq_u8(vshrq_n_u8(qh, 2), m30)),
			};
			for (int g = 0; g < 4; g++)
				c[8 * h + 2 * g + half] = vsubq_s8(vreinterpretq_s8_u8(v[g]), vdupq_n_s8(32));
		}
}

static void mm_q6_K(const void *wv, const struct qnt__neon_xcol *x, int nc, int64_t n, float *out)
{
	const struct blk_q6_K *w = wv;
	float acc[NC] = { 0 };
	for (int64_t i = 0; i < n / QK_K; i++) {
		int8x16_t c[16];
		codes6(&w[i], c);
		const float d = h2f(w[i].d);
		for (int col = 0; col < nc; col++) {
			const struct blk_q8_K *xk = (const struct blk_q8_K *)x[col].blk + i;
			k_finish(xk, k16_isum(c, w[i].scales, xk->qs), 0, d, 0.0f, &acc[col]);
		}
	}
	memcpy(out, acc, (size_t)nc * sizeof(float));
}

/* q4_K/q5_K: scale and min of 32-element sub-block j (6 bits each). */
INLINE void k4_scales(const uint8_t *s, int8_t *sc, int32_t *m)
{
	for (int j = 0; j < 8; j++) {
		if (j < 4) {
			sc[j] = (int8_t)(s[j] & 63);
			m[j] = s[j + 4] & 63;
		} else {
			sc[j] = (int8_t)((s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4));
			m[j] = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
		}
	}
}

/* Element 64h + 32s + l: nibble s of qs[32h + l], plus 16 where bit 2h + s
 * of qh[l] is set (q5_K). c[k] holds elements 16k..16k+15. */
INLINE void codes45(const uint8_t *qs, const uint8_t *qh, int8x16_t *c)
{
	for (int h = 0; h < 4; h++)
		for (int half = 0; half < 2; half++) {
			const uint8x16_t v = vld1q_u8(qs + 32 * h + 16 * half);
			uint8x16_t lo = vandq_u8(v, vdupq_n_u8(0x0f)), hi = vshrq_n_u8(v, 4);
			if (qh) {
				const uint8x16_t hb = vld1q_u8(qh + 16 * half);
				const uint8x16_t b0 = vdupq_n_u8((uint8_t)(1u << (2 * h)));
				const uint8x16_t b1 = vdupq_n_u8((uint8_t)(2u << (2 * h)));
				lo = vorrq_u8(lo, vandq_u8(vtstq_u8(hb, b0), vdupq_n_u8(0x10)));
				hi = vorrq_u8(hi, vandq_u8(vtstq_u8(hb, b1), vdupq_n_u8(0x10)));
			}
			c[4 * h + half] = vreinterpretq_s8_u8(lo);
			c[4 * h + 2 + half] = vreinterpretq_s8_u8(hi);
		}
}

INLINE void k45_body(const void *wv, const struct qnt__neon_xcol *x, int nc, int64_t n, float *out, int five)
{
	const size_t bytes = five ? sizeof(struct blk_q5_K) : sizeof(struct blk_q4_K);
	float acc[NC] = { 0 };
	for (int64_t i = 0; i < n / QK_K; i++) {
		const uint8_t *blk = (const uint8_t *)wv + (size_t)i * bytes;
		const struct blk_q4_K *b4 = (const struct blk_q4_K *)blk;
		const struct blk_q5_K *b5 = (const struct blk_q5_K *)blk;
		int8x16_t c[16];
		int8_t sc[8];
		int32_t mn[8];
		codes45(five ? b5->qs : b4->qs, five ? b5->qh : NULL, c);
		k4_scales(five ? b5->scales : b4->scales, sc, mn);
		const float d = h2f(five ? b5->d : b4->d), dmin = h2f(five ? b5->dmin : b4->dmin);
		for (int col = 0; col < nc; col++) {
			const struct blk_q8_K *xk = (const struct blk_q8_K *)x[col].blk + i;
			int32x4_t isum = vdupq_n_s32(0);
			int64_t msum = 0;
			for (int j = 0; j < 8; j++) {
				int32x4_t p = dot16(vdupq_n_s32(0), c[2 * j], vld1q_s8(xk->qs + 32 * j));
				p = dot16(p, c[2 * j + 1], vld1q_s8(xk->qs + 32 * j + 16));
				isum = vmlaq_n_s32(isum, p, sc[j]);
				msum += (int64_t)mn[j] * (xk->bsums[2 * j] + xk->bsums[2 * j + 1]);
			}
			k_finish(xk, isum, msum, d, dmin, &acc[col]);
		}
	}
	memcpy(out, acc, (size_t)nc * sizeof(float));
}

static void mm_q4_K(const void *w, const struct qnt__neon_xcol *x, int nc, int64_t n, float *out)
{
	k45_body(w, x, nc, n, out, 0);
}

static void mm_q5_K(const void *w, const struct qnt__neon_xcol *x, int nc, int64_t n, float *out)
{
	k45_body(w, x, nc, n, out, 1);
}

/* ------------------------------------------------------------------ */
/* Float weights against float activations                              */
/* ------------------------------------------------------------------ */

enum { F_F32, F_F16, F_BF16 };

INLINE float32x4_t load_w4(const uint8_t *w, int64_t j, int kind)
{
	switch (kind) {
	case F_F32:
		return vld1q_f32((const float *)w + j);
	case F_F16:
		return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16((const uint16_t *)w + j)));
	default:
		return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16((const uint16_t *)w + j), 16));
	}
}

INLINE float load_w1(const uint8_t *w, int64_t j, int kind)
{
	uint16_t h;
	float f;
	switch (kind) {
	case F_F32:
		memcpy(&f, w + 4 * j, 4);
		return f;
	case F_F16:
		memcpy(&h, w + 2 * j, 2);
		return qnt__fp16_to_fp32(h);
	default:
		memcpy(&h, w + 2 * j, 2);
		return qnt__bf16_to_fp32(h);
	}
}

/* Two accumulators of four lanes per column; a tail of fewer than four
 * elements in scalar float. xcol.blk points at the column's floats. */
INLINE void float_body(const void *wv, const struct qnt__neon_xcol *x, int nc, int64_t n, float *out, int kind)
{
	const uint8_t *w = wv;
	float32x4_t acc0[NC], acc1[NC];
	float tail[NC];
	for (int c = 0; c < nc; c++) {
		acc0[c] = acc1[c] = vdupq_n_f32(0.0f);
		tail[c] = 0.0f;
	}
	int64_t j = 0;
	for (; j + 8 <= n; j += 8) {
		const float32x4_t w0 = load_w4(w, j, kind), w1 = load_w4(w, j + 4, kind);
		for (int c = 0; c < nc; c++) {
			const float *xf = (const float *)x[c].blk;
			acc0[c] = vfmaq_f32(acc0[c], w0, vld1q_f32(xf + j));
			acc1[c] = vfmaq_f32(acc1[c], w1, vld1q_f32(xf + j + 4));
		}
	}
	if (j + 4 <= n) {
		const float32x4_t w0 = load_w4(w, j, kind);
		for (int c = 0; c < nc; c++)
			acc0[c] = vfmaq_f32(acc0[c], w0, vld1q_f32((const float *)x[c].blk + j));
		j += 4;
	}
	for (; j < n; j++) {
		const float wj = load_w1(w, j, kind);
		for (int c = 0; c < nc; c++)
			tail[c] += wj * ((const float *)x[c].blk)[j];
	}
	for (int c = 0; c < nc; c++)
		out[c] = vaddvq_f32(vaddq_f32(acc0[c], acc1[c])) + tail[c];
}

static void mm_f32(const void *w, const struct qnt__neon_xcol *x, int nc, int64_t n, float *out)
{
	float_body(w, x, nc, n, out, F_F32);
}

static void mm_f16(const void *w, const struct qnt__neon_xcol *x, int nc, int64_t n, float *out)
{
	float_body(w, x, nc, n, out, F_F16);
}

static void mm_bf16(const void *w, const struct qnt__neon_xcol *x, int nc, int64_t n, float *out)
{
	float_body(w, x, nc, n, out, F_BF16);
}

/* ------------------------------------------------------------------ */
/* Table formats, E2M1 and low-bit formats                              */
/* ------------------------------------------------------------------ */

/* The 32 codes of 16 bytes through a 16-entry table: the low nibbles (lo),
 * then the high ones (hi). */
INLINE void table_codes(const uint8_t *qs, int8x16_t t, int8x16_t *lo, int8x16_t *hi)
{
	const uint8x16_t v = vld1q_u8(qs);
	*lo = vqtbl1q_s8(t, vandq_u8(v, vdupq_n_u8(0x0f)));
	*hi = vqtbl1q_s8(t, vshrq_n_u8(v, 4));
}

/* Exact sum of 32 codes times 32 activation codes. */
INLINE int32_t dot32(int8x16_t c0, int8x16_t c1, const int8_t *xq)
{
	return vaddvq_s32(dot16(dot16(vdupq_n_s32(0), c0, vld1q_s8(xq)), c1, vld1q_s8(xq + 16)));
}

INLINE const int8_t *q8_0_qs(const struct qnt__neon_xcol *x, int64_t j)
{
	return ((const struct blk_q8_0 *)x->blk)[j].qs;
}

/* iq4_nl and mxfp4 against q8_0: (d_w * d_x) * sum per block of 32, like
 * the legacy formats (mxfp4: the doubled E2M1 values times half the scale). */
INLINE void fp4_body(const void *wv, const struct qnt__neon_xcol *x, int nc, int64_t n, float *out, int mx)
{
	const int8x16_t t = vld1q_s8(mx ? qnt__neon_kv_fp4 : qnt__neon_kv_iq4);
	float acc[NC] = { 0 };
	for (int64_t i = 0; i < n / QK; i++) {
		float dw;
		const uint8_t *qs;
		if (mx) {
			const struct blk_mxfp4 *b = (const struct blk_mxfp4 *)wv + i;
			dw = qnt__neon_e8m0_half(b->e);
			qs = b->qs;
		} else {
			const struct blk_iq4_nl *b = (const struct blk_iq4_nl *)wv + i;
			uint16_t h;
			memcpy(&h, &b->d, sizeof h);
			dw = h2f(h);
			qs = b->qs;
		}
		int8x16_t c0, c1;
		table_codes(qs, t, &c0, &c1);
		for (int c = 0; c < nc; c++)
			acc[c] += (dw * x[c].d[i]) * (float)dot32(c0, c1, q8_0_qs(&x[c], i));
	}
	memcpy(out, acc, (size_t)nc * sizeof(float));
}

static void mm_iq4_nl(const void *w, const struct qnt__neon_xcol *x, int nc, int64_t n, float *out)
{
	fp4_body(w, x, nc, n, out, 0);
}

static void mm_mxfp4(const void *w, const struct qnt__neon_xcol *x, int nc, int64_t n, float *out)
{
	fp4_body(w, x, nc, n, out, 1);
}

/* nvfp4 (blocks of 64, a UE4M3 scale per 16) against q8_0: per q8_0 block,
 * d_x * (s_0 * sum_0 + s_1 * sum_1) over its two sub-blocks. */
static void mm_nvfp4(const void *wv, const struct qnt__neon_xcol *x, int nc, int64_t n, float *out)
{
	const struct blk_nvfp4 *w = wv;
	const int8x16_t t = vld1q_s8(qnt__neon_kv_fp4);
	float acc[NC] = { 0 };
	for (int64_t i = 0; i < n / 64; i++)
		for (int h = 0; h < 2; h++) {
			int8x16_t lo, hi;
			table_codes(w[i].qs + 16 * h, t, &lo, &hi);
			const int8x16_t s0 = vcombine_s8(vget_low_s8(lo), vget_low_s8(hi));
			const int8x16_t s1 = vcombine_s8(vget_high_s8(lo), vget_high_s8(hi));
			const float d0 = qnt__neon_ue4m3_half(w[i].d[2 * h]), d1 = qnt__neon_ue4m3_half(w[i].d[2 * h + 1]);
			for (int c = 0; c < nc; c++) {
				const int8_t *xq = q8_0_qs(&x[c], 2 * i + h);
				const int32_t p0 = vaddvq_s32(dot16(vdupq_n_s32(0), s0, vld1q_s8(xq)));
				const int32_t p1 = vaddvq_s32(dot16(vdupq_n_s32(0), s1, vld1q_s8(xq + 16)));
				acc[c] += x[c].d[2 * i + h] * (d0 * (float)p0 + d1 * (float)p1);
			}
		}
	memcpy(out, acc, (size_t)nc * sizeof(float));
}

/* q1_0 (blocks of 128, w = +-1) against q8_0: d_w * sum over its four q8_0
 * blocks of d_x * sum. */
static void mm_q1_0(const void *wv, const struct qnt__neon_xcol *x, int nc, int64_t n, float *out)
{
	static const uint8_t sel[16] = { 1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128 };
	const struct blk_q1_0 *w = wv;
	const uint8x16_t vsel = vld1q_u8(sel);
	float acc[NC] = { 0 };
	for (int64_t i = 0; i < n / 128; i++) {
		int8x16_t cw[8]; /* elements 16k..16k+15: +1 where the bit is set, else -1 */
		for (int k = 0; k < 8; k++) {
			const uint8x16_t v = vcombine_u8(vdup_n_u8(w[i].qs[2 * k]), vdup_n_u8(w[i].qs[2 * k + 1]));
			const uint8x16_t two = vandq_u8(vtstq_u8(v, vsel), vdupq_n_u8(2));
			cw[k] = vsubq_s8(vreinterpretq_s8_u8(two), vdupq_n_s8(1));
		}
		const float dw = qnt__fp16_load_quiet(&w[i].d);
		for (int c = 0; c < nc; c++) {
			float s = 0.0f;
			for (int j = 0; j < 4; j++)
				s += x[c].d[4 * i + j] * (float)dot32(cw[2 * j], cw[2 * j + 1], q8_0_qs(&x[c], 4 * i + j));
			acc[c] += dw * s;
		}
	}
	memcpy(out, acc, (size_t)nc * sizeof(float));
}

/* q2_0 codes (0..3) of elements 16k..16k+15: bits 2 (j % 4) of qs[j / 4]. */
INLINE int8x16_t q2_0_codes(const uint8_t *qs, int k)
{
	static const uint8_t rep[16] = { 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3 };
	static const int8_t shr[16] = { 0, -2, -4, -6, 0, -2, -4, -6, 0, -2, -4, -6, 0, -2, -4, -6 };
	const uint8x16_t v = vqtbl1q_u8(vreinterpretq_u8_u32(vdupq_n_u32(load_u32(qs + 4 * k))), vld1q_u8(rep));
	return vreinterpretq_s8_u8(vandq_u8(vshlq_u8(v, vld1q_s8(shr)), vdupq_n_u8(3)));
}

/* q2_0 (blocks of 64, w = code - 1) against q8_0: d_w * sum over its two
 * q8_0 blocks of d_x * sum. */
static void mm_q2_0(const void *wv, const struct qnt__neon_xcol *x, int nc, int64_t n, float *out)
{
	const struct blk_q2_0 *w = wv;
	float acc[NC] = { 0 };
	for (int64_t i = 0; i < n / 64; i++) {
		int8x16_t cw[4];
		for (int k = 0; k < 4; k++)
			cw[k] = vsubq_s8(q2_0_codes(w[i].qs, k), vdupq_n_s8(1));
		const float dw = qnt__fp16_load_quiet(&w[i].d);
		for (int c = 0; c < nc; c++) {
			float s = 0.0f;
			for (int j = 0; j < 2; j++)
				s += x[c].d[2 * i + j] * (float)dot32(cw[2 * j], cw[2 * j + 1], q8_0_qs(&x[c], 2 * i + j));
			acc[c] += dw * s;
		}
	}
	memcpy(out, acc, (size_t)nc * sizeof(float));
}

/* iq4_xs against q8_K: sum over the eight sub-blocks of (ls - 32) times
 * their exact sums. */
static void mm_iq4_xs(const void *wv, const struct qnt__neon_xcol *x, int nc, int64_t n, float *out)
{
	const struct blk_iq4_xs *w = wv;
	const int8x16_t t = vld1q_s8(qnt__neon_kv_iq4);
	float acc[NC] = { 0 };
	for (int64_t i = 0; i < n / QK_K; i++) {
		int8x16_t c[16];
		int32_t ls[8];
		for (int ib = 0; ib < 8; ib++) {
			table_codes(w[i].qs + 16 * ib, t, &c[2 * ib], &c[2 * ib + 1]);
			ls[ib] = (((w[i].scales_l[ib / 2] >> (4 * (ib % 2))) & 0xf) | (((w[i].scales_h >> (2 * ib)) & 3) << 4)) -
				 32;
		}
		const float d = h2f(w[i].d);
		for (int col = 0; col < nc; col++) {
			const struct blk_q8_K *xk = (const struct blk_q8_K *)x[col].blk + i;
			int32x4_t isum = vdupq_n_s32(0);
			for (int ib = 0; ib < 8; ib++) {
				int32x4_t p = dot16(vdupq_n_s32(0), c[2 * ib], vld1q_s8(xk->qs + 32 * ib));
				p = dot16(p, c[2 * ib + 1], vld1q_s8(xk->qs + 32 * ib + 16));
				isum = vmlaq_n_s32(isum, p, ls[ib]);
			}
			k_finish(xk, isum, 0, d, 0.0f, &acc[col]);
		}
	}
	memcpy(out, acc, (size_t)nc * sizeof(float));
}

/* The trit (0..2) of 16 bytes already multiplied by their power of 3 (mod
 * 256, as ggml's uint8_t product): (v * 3) >> 8. */
INLINE uint8x16_t trit16(uint8x16_t v)
{
	return vcombine_u8(vshrn_n_u16(vmull_u8(vget_low_u8(v), vdup_n_u8(3)), 8),
			   vshrn_n_u16(vmull_high_u8(v, vdupq_n_u8(3)), 8));
}

/* tq1_0's codes (0..2) of elements 16k..16k+15: trit t of qs[m] is element
 * 32t + m (m < 32) or 160 + 16t + m - 32; trit t of qh[j] element 240 + 4t + j. */
INLINE void tq1_codes(const struct blk_tq1_0 *b, int8x16_t *c)
{
	static const uint8_t pow3[5] = { 1, 3, 9, 27, 81 };
	static const uint8_t rep[16] = { 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3 };
	static const uint8_t pw[16] = { 1, 1, 1, 1, 3, 3, 3, 3, 9, 9, 9, 9, 27, 27, 27, 27 };
	const uint8x16_t q0 = vld1q_u8(b->qs), q1 = vld1q_u8(b->qs + 16), q2 = vld1q_u8(b->qs + 32);
	for (int t = 0; t < 5; t++) {
		const uint8x16_t p = vdupq_n_u8(pow3[t]);
		c[2 * t] = vreinterpretq_s8_u8(trit16(vmulq_u8(q0, p)));
		c[2 * t + 1] = vreinterpretq_s8_u8(trit16(vmulq_u8(q1, p)));
		c[10 + t] = vreinterpretq_s8_u8(trit16(vmulq_u8(q2, p)));
	}
	const uint8x16_t h = vqtbl1q_u8(vreinterpretq_u8_u32(vdupq_n_u32(load_u32(b->qh))), vld1q_u8(rep));
	c[15] = vreinterpretq_s8_u8(trit16(vmulq_u8(h, vld1q_u8(pw))));
}

/* tq1_0, tq2_0 against q8_K: w = code - 1, so the sum is codes . x less the
 * sum of x (q8_K's sums of 16), exact in 32 bits. */
INLINE void tq_body(const void *wv, const struct qnt__neon_xcol *x, int nc, int64_t n, float *out, int one)
{
	float acc[NC] = { 0 };
	for (int64_t i = 0; i < n / QK_K; i++) {
		int8x16_t c[16];
		float d;
		if (one) {
			const struct blk_tq1_0 *b = (const struct blk_tq1_0 *)wv + i;
			tq1_codes(b, c);
			d = qnt__fp16_load_quiet(&b->d);
		} else {
			const struct blk_tq2_0 *b = (const struct blk_tq2_0 *)wv + i;
			codes2(b->qs, c);
			d = qnt__fp16_load_quiet(&b->d);
		}
		for (int col = 0; col < nc; col++) {
			const struct blk_q8_K *xk = (const struct blk_q8_K *)x[col].blk + i;
			int32x4_t s = vdupq_n_s32(0);
			for (int k = 0; k < 16; k++)
				s = dot16(s, c[k], vld1q_s8(xk->qs + 16 * k));
			const int32x4_t xs = vaddq_s32(vpaddlq_s16(vld1q_s16(xk->bsums)), vpaddlq_s16(vld1q_s16(xk->bsums + 8)));
			acc[col] += xk->d * (d * (float)vaddvq_s32(vsubq_s32(s, xs)));
		}
	}
	memcpy(out, acc, (size_t)nc * sizeof(float));
}

static void mm_tq1_0(const void *w, const struct qnt__neon_xcol *x, int nc, int64_t n, float *out)
{
	tq_body(w, x, nc, n, out, 1);
}

static void mm_tq2_0(const void *w, const struct qnt__neon_xcol *x, int nc, int64_t n, float *out)
{
	tq_body(w, x, nc, n, out, 0);
}

/* Super-block i of every column (q8_K) against a super-block's sixteen
 * decoded 16-weight rows w with their integer scales ls: the exact integer
 * sum of ls * (w . x), then f times it into acc[col] (k_finish). */
INLINE void iq_columns(const int8x16_t w[16], const int32_t ls[16], float f, const struct qnt__neon_xcol *x, int nc,
		       int64_t i, float *acc)
{
	for (int col = 0; col < nc; col++) {
		const struct blk_q8_K *xk = (const struct blk_q8_K *)x[col].blk + i;
		int32x4_t isum = vdupq_n_s32(0);
		for (int k = 0; k < 16; k++)
			isum = vmlaq_n_s32(isum, dot16(vdupq_n_s32(0), w[k], vld1q_s8(xk->qs + 16 * k)), ls[k]);
		k_finish(xk, isum, 0, f, 0.0f, &acc[col]);
	}
}

/* The i-quant lattice formats against q8_K (neon_iq.h): each group's
 * signed bytes (magnitude, negated where its mask is set) times the
 * activations, summed exactly with the integer scales ls; then
 * d_x * (f * sum). */
INLINE void iq_body(const void *wv, const struct qnt__neon_xcol *x, int nc, int64_t n, float *out, size_t bytes,
		    int kind)
{
	float acc[NC] = { 0 };
	for (int64_t i = 0; i < n / QK_K; i++) {
		const uint8_t *blk = (const uint8_t *)wv + (size_t)i * bytes;
		int8x16_t w[16];
		int32_t ls[16];
		for (int ib = 0; ib < 8; ib++) {
			struct qnt__neon_iq_group g;
			qnt__neon_iq_decode(blk, kind, ib, 0.0f, &g);
			for (int h = 0; h < 2; h++) {
				const uint8x16_t v = vsubq_u8(veorq_u8(g.mag[h], g.neg[h]), g.neg[h]);
				w[2 * ib + h] = vreinterpretq_s8_u8(v);
				ls[2 * ib + h] = g.ls[h];
			}
		}
		const float f = qnt__neon_iq_factor(kind, h2f(qnt__neon_rd16(blk)));
		iq_columns(w, ls, f, x, nc, i, acc);
	}
	memcpy(out, acc, (size_t)nc * sizeof(float));
}

static void mm_iq2_xxs(const void *w, const struct qnt__neon_xcol *x, int nc, int64_t n, float *out)
{
	iq_body(w, x, nc, n, out, sizeof(struct blk_iq2_xxs), QNT__NEON_IQ2_XXS);
}

static void mm_iq2_xs(const void *w, const struct qnt__neon_xcol *x, int nc, int64_t n, float *out)
{
	iq_body(w, x, nc, n, out, sizeof(struct blk_iq2_xs), QNT__NEON_IQ2_XS);
}

static void mm_iq2_s(const void *w, const struct qnt__neon_xcol *x, int nc, int64_t n, float *out)
{
	iq_body(w, x, nc, n, out, sizeof(struct blk_iq2_s), QNT__NEON_IQ2_S);
}

static void mm_iq3_xxs(const void *w, const struct qnt__neon_xcol *x, int nc, int64_t n, float *out)
{
	iq_body(w, x, nc, n, out, sizeof(struct blk_iq3_xxs), QNT__NEON_IQ3_XXS);
}

static void mm_iq3_s(const void *w, const struct qnt__neon_xcol *x, int nc, int64_t n, float *out)
{
	iq_body(w, x, nc, n, out, sizeof(struct blk_iq3_s), QNT__NEON_IQ3_S);
}

/* iq1_s, iq1_m against q8_K (neon_iq.h): each element is w = 8 g + s
 * (|w| <= 9) in units of 1/8, so that the reference's
 * (d * ls) * (g + delta) * x is (d / 8) * ls * w * x: per super-block the
 * exact integer sum of ls * (w . x) (|ls * w * x| <= 15 * 9 * 128, 256 of
 * them: far inside 32 bits; the plain build's 16-bit products |w * x| <=
 * 1152 too), then d_x * ((d / 8) * sum) in float. */
INLINE void iq1_body(const void *wv, const struct qnt__neon_xcol *x, int nc, int64_t n, float *out, int m)
{
	const size_t bytes = m ? sizeof(struct blk_iq1_m) : sizeof(struct blk_iq1_s);
	float acc[NC] = { 0 };
	for (int64_t i = 0; i < n / QK_K; i++) {
		const uint8_t *blk = (const uint8_t *)wv + (size_t)i * bytes;
		int8x16_t w[16];
		int32_t ls[16];
		for (int ib = 0; ib < 8; ib++) {
			struct qnt__neon_iq1_group g;
			qnt__neon_iq1_decode(blk, m, ib, &g);
			for (int h = 0; h < 2; h++) {
				w[2 * ib + h] = g.w[h];
				ls[2 * ib + h] = g.ls[h];
			}
		}
		const uint16_t dh = m ? qnt__neon_iq1m_d(((const struct blk_iq1_m *)blk)->scales) : qnt__neon_rd16(blk);
		const float f = h2f(dh) * 0.125f;
		iq_columns(w, ls, f, x, nc, i, acc);
	}
	memcpy(out, acc, (size_t)nc * sizeof(float));
}

static void mm_iq1_s(const void *w, const struct qnt__neon_xcol *x, int nc, int64_t n, float *out)
{
	iq1_body(w, x, nc, n, out, 0);
}

static void mm_iq1_m(const void *w, const struct qnt__neon_xcol *x, int nc, int64_t n, float *out)
{
	iq1_body(w, x, nc, n, out, 1);
}

/* ------------------------------------------------------------------ */
/* i8mm: two rows by two columns per SMMLA                              */
/* ------------------------------------------------------------------ */

#if QNT_NEON_I8MM
/* q4_0 and q8_0 against q8_0, rows r (0, 1) by columns in pairs: for each
 * block, SMMLA of the rows' eight codes k (a 2 x 8 matrix) with the two
 * columns' (2 x 8) gives the 2 x 2 partial sums [r0c0 r0c1 r1c0 r1c1],
 * exact in 32 bits; then (d_r * d_c) * sum in float, as the row kernels. An
 * odd last column is paired with itself. */
INLINE void legacy_r2(const void *wv, size_t rb, const struct qnt__neon_xcol *x, int nc, int64_t n, float *out0,
		      float *out1, int kind)
{
	const size_t wb = kind == L_Q4_0 ? sizeof(struct blk_q4_0) : sizeof(struct blk_q8_0);
	const uint8_t *w0 = wv, *w1 = (const uint8_t *)wv + rb;
	float32x4_t acc[NC / 2];
	for (int p = 0; p < (nc + 1) / 2; p++)
		acc[p] = vdupq_n_f32(0.0f);
	for (int64_t i = 0; i < n / QK; i++) {
		int8x16_t a0, a1, b0, b1;
		float d0, d1, m;
		legacy_codes(w0 + (size_t)i * wb, kind, &a0, &a1, &d0, &m);
		legacy_codes(w1 + (size_t)i * wb, kind, &b0, &b1, &d1, &m);
		/* rows' codes 8k..8k+7, row 0 in the low half */
		const int8x16_t r[4] = { vcombine_s8(vget_low_s8(a0), vget_low_s8(b0)),
					 vcombine_s8(vget_high_s8(a0), vget_high_s8(b0)),
					 vcombine_s8(vget_low_s8(a1), vget_low_s8(b1)),
					 vcombine_s8(vget_high_s8(a1), vget_high_s8(b1)) };
		const float32x4_t dw = { d0, d0, d1, d1 };
		for (int p = 0; p < (nc + 1) / 2; p++) {
			const int c0 = 2 * p, c1 = 2 * p + 1 < nc ? 2 * p + 1 : 2 * p;
			const int8_t *x0 = ((const struct blk_q8_0 *)x[c0].blk)[i].qs;
			const int8_t *x1 = ((const struct blk_q8_0 *)x[c1].blk)[i].qs;
			int32x4_t s = vdupq_n_s32(0);
			for (int k = 0; k < 4; k++)
				s = vmmlaq_s32(s, r[k], vcombine_s8(vld1_s8(x0 + 8 * k), vld1_s8(x1 + 8 * k)));
			const float32x4_t dx = { x[c0].d[i], x[c1].d[i], x[c0].d[i], x[c1].d[i] };
			acc[p] = vaddq_f32(acc[p], vmulq_f32(vmulq_f32(dw, dx), vcvtq_f32_s32(s)));
		}
	}
	for (int p = 0; p < (nc + 1) / 2; p++) {
		float v[4];
		vst1q_f32(v, acc[p]);
		out0[2 * p] = v[0];
		out1[2 * p] = v[2];
		if (2 * p + 1 < nc) {
			out0[2 * p + 1] = v[1];
			out1[2 * p + 1] = v[3];
		}
	}
}

static void mm2_q4_0(const void *w, size_t rb, const struct qnt__neon_xcol *x, int nc, int64_t n, float *out0,
		     float *out1)
{
	legacy_r2(w, rb, x, nc, n, out0, out1, L_Q4_0);
}

static void mm2_q8_0(const void *w, size_t rb, const struct qnt__neon_xcol *x, int nc, int64_t n, float *out0,
		     float *out1)
{
	legacy_r2(w, rb, x, nc, n, out0, out1, L_Q8_0);
}
#endif

#if QNT_NEON_I8MM
const struct qnt__neon_mm qnt__neon_mm_i8mm = {
	.name = "neon+i8mm",
	.q4_0_r2 = mm2_q4_0,
	.q8_0_r2 = mm2_q8_0,
#elif QNT_NEON_DOTPROD
const struct qnt__neon_mm qnt__neon_mm_dotprod = {
	.name = "neon+dotprod",
#else
const struct qnt__neon_mm qnt__neon_mm_plain = {
	.name = "neon",
#endif
	.q4_0 = mm_q4_0,
	.q4_1 = mm_q4_1,
	.q5_0 = mm_q5_0,
	.q5_1 = mm_q5_1,
	.q8_0 = mm_q8_0,
	.q2_K = mm_q2_K,
	.q3_K = mm_q3_K,
	.q4_K = mm_q4_K,
	.q5_K = mm_q5_K,
	.q6_K = mm_q6_K,
	.f32 = mm_f32,
	.f16 = mm_f16,
	.bf16 = mm_bf16,
	.iq4_nl = mm_iq4_nl,
	.mxfp4 = mm_mxfp4,
	.nvfp4 = mm_nvfp4,
	.q1_0 = mm_q1_0,
	.q2_0 = mm_q2_0,
	.iq4_xs = mm_iq4_xs,
	.tq1_0 = mm_tq1_0,
	.tq2_0 = mm_tq2_0,
	.iq2_xxs = mm_iq2_xxs,
	.iq2_xs = mm_iq2_xs,
	.iq2_s = mm_iq2_s,
	.iq3_xxs = mm_iq3_xxs,
	.iq3_s = mm_iq3_s,
	.iq1_s = mm_iq1_s,
	.iq1_m = mm_iq1_m,
};
