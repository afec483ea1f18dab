/* SPDX-License-Identifier: MIT */
/* cpu-neon: decoding of the i-quant lattice formats iq2_xxs, iq2_xs, iq2_s,
 * iq3_xxs, iq3_s, iq1_s and iq1_m (layouts of ggml-common.h, as
 * lib/core/quant_iquants.c reads them), shared by the dequantizers (neon.c)
 * and the row kernels (neon_mm.c). Each group of 32 elements of the iq2/iq3
 * formats decodes to the grid magnitudes as bytes (from the level codes of
 * lib/core/iquants_tables.c, expanded with shifts and a table lookup), a
 * byte mask of the negative elements, and the odd integer sub-block scales
 * ls (2 s + 1) of its two halves; the float scale of a half is the
 * reference's db, and for the products a super-block factor f with
 * db = f * ls up to rounding. iq1_s and iq1_m decode to signed bytes
 * 8 g + s (qnt__neon_iq1_decode). Never installed. */
#ifndef QNT_NEON_IQ_H
#define QNT_NEON_IQ_H

#include "cpu_neon.h"
#include "../../lib/core/iquants_tables.h"

#include <arm_neon.h>

enum { QNT__NEON_IQ2_XXS, QNT__NEON_IQ2_XS, QNT__NEON_IQ2_S, QNT__NEON_IQ3_XXS, QNT__NEON_IQ3_S };

/* One decoded group of 32: mag[h], neg[h] for elements 16h..16h+15; ls[h]
 * their integer scale, db[h] the reference's float scale. */
struct qnt__neon_iq_group {
	uint8x16_t mag[2], neg[2];
	int32_t ls[2];
	float db[2];
};

static inline uint32_t qnt__neon_rd32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof v);
	return v;
}

static inline uint16_t qnt__neon_rd16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, sizeof v);
	return v;
}

/* ggml's ksigns_iq2xs: 7 stored sign bits, the 8th makes their count even. */
static inline uint32_t qnt__neon_ksign(uint32_t s7)
{
	s7 &= 127;
	uint32_t p = s7 ^ (s7 >> 4);
	p ^= p >> 2;
	p ^= p >> 1;
	return s7 | ((p & 1u) << 7);
}

/* Byte j of the result is 0xff where bit j of m is set. */
static inline uint8x16_t qnt__neon_mask16(uint32_t m)
{
	static const uint8_t sel[16] = { 1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128 };
	const uint8x16_t v = vcombine_u8(vdup_n_u8((uint8_t)m), vdup_n_u8((uint8_t)(m >> 8)));
	return vtstq_u8(v, vld1q_u8(sel));
}

/* The level indices (0..3) of two 8-element grid points (2-bit codes). */
static inline uint8x16_t qnt__neon_lv2(uint16_t a, uint16_t b)
{
	static const int16_t sh[8] = { 0, -2, -4, -6, -8, -10, -12, -14 };
	const int16x8_t s = vld1q_s16(sh);
	const uint16x8_t m = vdupq_n_u16(3);
	return vcombine_u8(vmovn_u16(vandq_u16(vshlq_u16(vdupq_n_u16(a), s), m)),
			   vmovn_u16(vandq_u16(vshlq_u16(vdupq_n_u16(b), s), m)));
}

/* The level indices (0..7) of four 4-element grid points (3-bit codes). */
static inline uint8x16_t qnt__neon_lv3(uint16_t a, uint16_t b, uint16_t c, uint16_t d)
{
	static const int16_t sh[8] = { 0, -3, -6, -9, 0, -3, -6, -9 };
	const int16x8_t s = vld1q_s16(sh);
	const uint16x8_t m = vdupq_n_u16(7);
	const uint16x8_t ab = vcombine_u16(vdup_n_u16(a), vdup_n_u16(b));
	const uint16x8_t cd = vcombine_u16(vdup_n_u16(c), vdup_n_u16(d));
	return vcombine_u8(vmovn_u16(vandq_u16(vshlq_u16(ab, s), m)), vmovn_u16(vandq_u16(vshlq_u16(cd, s), m)));
}

/* Group ib of super-block blk in format kind; d is the super-block's fp16
 * scale as a float (db is computed from it; the products pass 0 and use
 * qnt__neon_iq_factor). */
static inline void qnt__neon_iq_decode(const void *blk, int kind, int ib, float d, struct qnt__neon_iq_group *g)
{
	static const uint8_t lv_iq2[16] = { 8, 25, 43 };
	static const uint8_t lv_iq3xxs[16] = { 4, 12, 20, 28, 36, 44, 52, 62 };
	static const uint8_t lv_iq3s[16] = { 1, 3, 5, 7, 9, 11, 13, 15 };
	uint16_t c[8];
	uint32_t signs;
	switch (kind) {
	case QNT__NEON_IQ2_XXS:
	case QNT__NEON_IQ3_XXS: {
		const int three = kind == QNT__NEON_IQ3_XXS;
		const uint8_t *qs = three ? ((const struct blk_iq3_xxs *)blk)->qs
					  : ((const struct blk_iq2_xxs *)blk)->qs;
		const uint8_t *q = qs + 8 * ib;
		const uint32_t aux = qnt__neon_rd32(three ? qs + 64 + 4 * ib : q + 4);
		signs = 0;
		for (int l = 0; l < 4; l++)
			signs |= qnt__neon_ksign(aux >> (7 * l)) << (8 * l);
		g->ls[0] = g->ls[1] = (int32_t)(2 * (aux >> 28) + 1);
		g->db[0] = g->db[1] = d * (0.5f + (float)(aux >> 28)) * (three ? 0.5f : 0.25f);
		if (three) {
			for (int k = 0; k < 8; k++)
				c[k] = qnt__iq3xxs_codes[q[k]];
		} else {
			for (int l = 0; l < 4; l++)
				c[l] = qnt__iq2xxs_codes[q[l]];
		}
		break;
	}
	case QNT__NEON_IQ2_XS:
	case QNT__NEON_IQ2_S: {
		const int s = kind == QNT__NEON_IQ2_S;
		const struct blk_iq2_xs *bx = blk;
		const struct blk_iq2_s *bs = blk;
		const uint8_t sc = s ? bs->scales[ib] : bx->scales[ib];
		signs = 0;
		for (int l = 0; l < 4; l++) {
			const int gi = 4 * ib + l;
			if (s) {
				c[l] = qnt__iq2s_codes[bs->qs[gi] | (((bs->qh[ib] >> (2 * l)) & 3) << 8)];
			} else {
				const uint16_t q = qnt__neon_rd16(bx->qs + 2 * gi);
				c[l] = qnt__iq2xs_codes[q & 511];
				signs |= qnt__neon_ksign(q >> 9) << (8 * l);
			}
		}
		if (s)
			signs = qnt__neon_rd32(bs->qs + 32 + 4 * ib);
		g->ls[0] = 2 * (sc & 0xf) + 1;
		g->ls[1] = 2 * (sc >> 4) + 1;
		g->db[0] = d * (0.5f + (float)(sc & 0xf)) * 0.25f;
		g->db[1] = d * (0.5f + (float)(sc >> 4)) * 0.25f;
		break;
	}
	default: {
		const struct blk_iq3_s *b = blk;
		const int s = (b->scales[ib / 2] >> (4 * (ib % 2))) & 0xf;
		for (int k = 0; k < 8; k++)
			c[k] = qnt__iq3s_codes[b->qs[8 * ib + k] | (((b->qh[ib] >> k) & 1) << 8)];
		signs = qnt__neon_rd32(b->signs + 4 * ib);
		g->ls[0] = g->ls[1] = 1 + 2 * s;
		g->db[0] = g->db[1] = d * (float)(1 + 2 * s);
		break;
	}
	}
	if (kind == QNT__NEON_IQ3_XXS || kind == QNT__NEON_IQ3_S) {
		const uint8x16_t t = vld1q_u8(kind == QNT__NEON_IQ3_S ? lv_iq3s : lv_iq3xxs);
		g->mag[0] = vqtbl1q_u8(t, qnt__neon_lv3(c[0], c[1], c[2], c[3]));
		g->mag[1] = vqtbl1q_u8(t, qnt__neon_lv3(c[4], c[5], c[6], c[7]));
	} else {
		const uint8x16_t t = vld1q_u8(lv_iq2);
		g->mag[0] = vqtbl1q_u8(t, qnt__neon_lv2(c[0], c[1]));
		g->mag[1] = vqtbl1q_u8(t, qnt__neon_lv2(c[2], c[3]));
	}
	g->neg[0] = qnt__neon_mask16(signs);
	g->neg[1] = qnt__neon_mask16(signs >> 16);
}

/* iq1_s and iq1_m: 8-element ternary grid points (levels -1, 0, 1) plus a
 * delta of +-1/8, the delta's sign per group of 32 (iq1_s) or of 8 (iq1_m).
 * An element decodes to the odd integer w = 8 g + s (g the level, s the
 * delta's sign), |w| <= 9, so that g + delta = w / 8 exactly; the scale of a
 * half of 16 is the odd integer ls (2 s + 1) times the super-block's d:
 * the reference's dl * (g + delta) is (d * ls) * (w * 0.125f), and the
 * products read d / 8 as the factor of ls * w.
 *
 * One decoded group of 32 of iq1: w[h] for elements 16h..16h+15, ls[h]
 * their integer scale. */
struct qnt__neon_iq1_group {
	int8x16_t w[2];
	int32_t ls[2];
};

/* The fp16 bits of iq1_m's super-scale, from the top nibbles of its four
 * scale half-words. */
static inline uint16_t qnt__neon_iq1m_d(const uint8_t *scales)
{
	return (uint16_t)((qnt__neon_rd16(scales) >> 12) | ((qnt__neon_rd16(scales + 2) >> 8) & 0x00f0) |
			  ((qnt__neon_rd16(scales + 4) >> 4) & 0x0f00) | (qnt__neon_rd16(scales + 6) & 0xf000));
}

/* Group ib (0..7) of an iq1_s (m 0) or iq1_m (m 1) super-block: the four
 * grid points' level codes through qnt__neon_lv2 (levels 0, 1, 2) and a
 * table (-8, 0, 8), plus the delta's sign per 8 elements. */
static inline void qnt__neon_iq1_decode(const void *blk, int m, int ib, struct qnt__neon_iq1_group *g)
{
	static const int8_t lv[16] = { -8, 0, 8 };
	uint16_t c[4];
	int8_t s[4];
	if (m) {
		const struct blk_iq1_m *b = blk;
		for (int h = 0; h < 2; h++) {
			const int sub = 2 * ib + h; /* sub-block of 16 */
			for (int k = 0; k < 2; k++) {
				const unsigned q = (unsigned)b->qh[sub] >> (4 * k);
				c[2 * h + k] = qnt__iq1s_codes[b->qs[2 * sub + k] | ((q & 7) << 8)];
				s[2 * h + k] = q & 8 ? -1 : 1;
			}
			const unsigned sw = qnt__neon_rd16(b->scales + 2 * (sub / 4));
			g->ls[h] = (int32_t)(2 * ((sw >> (3 * (sub % 4))) & 7) + 1);
		}
	} else {
		const struct blk_iq1_s *b = blk;
		const unsigned h = qnt__neon_rd16(b->qh + 2 * ib);
		for (int l = 0; l < 4; l++) {
			c[l] = qnt__iq1s_codes[b->qs[4 * ib + l] | (((h >> (3 * l)) & 7) << 8)];
			s[l] = h & 0x8000 ? -1 : 1;
		}
		g->ls[0] = g->ls[1] = (int32_t)(2 * ((h >> 12) & 7) + 1);
	}
	const int8x16_t t = vld1q_s8(lv);
	for (int h = 0; h < 2; h++) {
		const int8x16_t gv = vqtbl1q_s8(t, qnt__neon_lv2(c[2 * h], c[2 * h + 1]));
		g->w[h] = vaddq_s8(gv, vcombine_s8(vdup_n_s8(s[2 * h]), vdup_n_s8(s[2 * h + 1])));
	}
}

/* The products' super-block factor: db = f * ls (iq2_*: d / 8, iq3_xxs:
 * d / 4, iq3_s: d). */
static inline float qnt__neon_iq_factor(int kind, float d)
{
	return kind == QNT__NEON_IQ3_S ? d : kind == QNT__NEON_IQ3_XXS ? d * 0.25f : d * 0.125f;
}

#endif
