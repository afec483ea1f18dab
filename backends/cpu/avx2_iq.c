/* SPDX-License-Identifier: MIT */
/*
 * The "cpu-avx2" backend's kernels for the i-quants, the ternary formats and
 * the E2M1 formats (compiled with -mavx2 -mfma -mf16c, like avx2.c, whose
 * format table and matmul driver call them through cpu_avx2.h):
 *
 *   dequantize  iq4_nl iq4_xs mxfp4 nvfp4 tq1_0 tq2_0 iq2_xxs iq2_xs iq2_s
 *               iq3_xxs iq3_s iq1_s iq1_m q1_0 q2_0: the floats of the
 *               scalar reference (lib/core/quant_iquants.c, quant_lowbit.c)
 *               bit for bit: the same float operations in the same order
 *               (a negated product is the product with its sign bit
 *               flipped, as C's unary minus is).
 *   matmul      the same formats against their activation companions
 *               (q8_0: iq4_nl mxfp4 nvfp4 q1_0 q2_0; q8_K: the others):
 *               each group of 32 weights decoded to signed bytes w (table
 *               lookups with VPSHUFB for the 16-value formats, grid points
 *               gathered from byte tables for the lattice formats, with
 *               their sign masks applied by VPSIGNB), multiplied with the
 *               activation codes by VPMADDUBSW(|w|, sign(x, w)) and summed
 *               in 32-bit lanes weighted by the integer sub-block scales
 *               (tq1_0/tq2_0: the unsigned codes times x, summed in 16-bit
 *               lanes, less q8_K's sums of x; iq2_xs: its signs made in
 *               vector form from the codes, iq2_xs_body); the float
 *               scales are applied per block (q8_0, two accumulators
 *               alternating) or super-block (q8_K) with FMA. Within the reference's
 *               tolerance, not bit-equal. iq4_nl and mxfp4 in cpu-avx2
 *               take two rows at a time (row2_fn, for any number of
 *               columns: iq4_nl_2_body, mxfp4_2_body). GEMM (qnt__avx2_gemm_T, the
 *               q8_K formats but iq4_xs): each super-block of a row decoded
 *               once for up to 64 columns, the weights signed and the
 *               columns' codes made x + 128 once per 16 rows, so that
 *               VPMADDUBSW(x + 128, w) needs no sign step per column.
 *               iq4_xs (|w| up to 127: x + 128 would saturate) keeps the
 *               row kernel for any number of columns, four at a time: its
 *               sign step per column is the same in both, and the row
 *               kernel keeps its sums in registers (93 against 78 GFLOP/s
 *               at 128 columns, 4096 x 4096, 1 thread).
 *
 * The cpu-avx512 build of this file (QNT_AVX512): the q8_0-companion
 * kernels' block sums by VPDPBUSD (dot4_u8s8; mxfp4 and q1_0 fold them by
 * unpacks instead of VPHADDW, q1_0 takes its bits as bytes 0 / 1 against
 * x), the lattice formats' row kernels two groups at a time (VPDPBUSD,
 * VPACKSSDW, VPDPWSSD: k_body), and the GEMM's scaled sums by VPDPWSSD
 * (dot2_i16).
 *
 * The integer forms: a sub-block scale of the lattice formats is
 * (2 ls + 1) times a power of two folded into the super-block's float scale
 * (iq2_*: d/8, iq3_xxs: d/4, iq3_s: d); iq1_s and iq1_m read w = 8 g + s
 * (g the grid level -1, 0, 1 and s the sign of the +-1/8 delta) times d/8;
 * tq1_0, tq2_0 and q2_0 code - 1; q1_0 +-1; mxfp4 and nvfp4 twice the E2M1
 * value times half the block scale, as the reference reads them.
 *
 * The lattice grids come from lib/core/iquants_tables.c as level codes;
 * they are expanded once (uv_once) into byte tables, one 8-byte (or 4-byte)
 * row per grid point.
 */
#include "cpu_avx2.h"
#include "avx2_util.h"
#include "qnt_fp.h"
#include "../../lib/core/iquants_tables.h"

#include <immintrin.h>
#include <stddef.h>
#include <string.h>
#include <uv.h>

#include "qnt_blocks.h"

#define NC 4 /* the most columns avx2.c's driver passes at once */

/* ------------------------------------------------------------------ */
/* Helpers                                                              */
/* ------------------------------------------------------------------ */

INLINE uint16_t rd16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, sizeof v);
	return v;
}

/* fp16 scale as qnt__fp16_load_quiet (qnt_fp.h) reads it: a signalling NaN made
 * quiet (q1_0 passes it through unmultiplied), which is what F16C does. */
INLINE float get_d(const uint8_t *p)
{
	return h2f(rd16(p));
}

/* Byte j of the result is -1 (all bits) where bit j of m is set, else 0. */
INLINE __m256i bits_to_mask(uint32_t m)
{
	const __m256i idx = _mm256_set_epi64x(0x0303030303030303ll, 0x0202020202020202ll, 0x0101010101010101ll, 0);
	const __m256i sel = _mm256_set1_epi64x((long long)0x8040201008040201ull);
	const __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)m), idx);
	return _mm256_cmpeq_epi8(_mm256_and_si256(v, sel), sel);
}

/* Two 16-bit scales: a in the low lane, b in the high lane. */
INLINE __m256i scale2(int a, int b)
{
	return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_set1_epi16((short)a)), _mm_set1_epi16((short)b), 1);
}

/* 8 signed bytes as floats. */
INLINE __m256 f8(__m128i v)
{
	return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(v));
}

/* 8 unsigned bytes times d, negated where the mask byte is -1. */
INLINE __m256 mul_neg8(__m128i u, __m128i neg, float d)
{
	const __m256 v = _mm256_mul_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(u)));
	const __m256i m = _mm256_slli_epi32(_mm256_cvtepi8_epi32(neg), 31);
	return _mm256_xor_ps(v, _mm256_castsi256_ps(m));
}

/* ------------------------------------------------------------------ */
/* Tables                                                               */
/* ------------------------------------------------------------------ */

/* iq4_nl/iq4_xs values (ggml's kvalues_iq4nl) and E2M1 values doubled
 * (kvalues_mxfp4), in both lanes for VPSHUFB. */
static const int8_t KV_IQ4[32] __attribute__((aligned(32))) = {
	-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
	-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
};
static const int8_t KV_FP4[32] __attribute__((aligned(32))) = {
	0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12,
	0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12,
};

/* KV_FP4 plus 12 (0..24): unsigned for VPMADDUBSW. */
static const int8_t KV_FP4_U[32] __attribute__((aligned(32))) = {
	12, 13, 14, 15, 16, 18, 20, 24, 12, 11, 10, 9, 8, 6, 4, 0,
	12, 13, 14, 15, 16, 18, 20, 24, 12, 11, 10, 9, 8, 6, 4, 0,
};

/* Grid points as bytes: iq2 levels 8, 25, 43; iq3_xxs 4..62; iq3_s 1..15;
 * iq1 levels times 8 (-8, 0, 8). KSIGN64: ggml's ksigns_iq2xs (7 stored
 * bits and the parity bit) as the byte signs (+-1) of 8 elements. */
static uint64_t G_IQ2XXS[256], G_IQ2XS[512], G_IQ2S[1024], G_IQ1S[2048];
/* iq1_m: index bit 11 the delta's sign bit, each byte 8 g + s (s = -1 where
 * the bit is set, else 1) */
static uint64_t G_IQ1M[4096];
static uint32_t G_IQ3XXS[256], G_IQ3S[512];
static uint64_t KSIGN64[128]; /* per element: 0xff negative, 0x01 positive */
static uv_once_t tables_once = UV_ONCE_INIT;

static uint64_t grid8(uint16_t code, const int8_t *lv)
{
	uint64_t g = 0;
	for (int j = 0; j < 8; j++)
		g |= (uint64_t)(uint8_t)lv[(code >> (2 * j)) & 3] << (8 * j);
	return g;
}

static uint32_t grid4(uint16_t code, const int8_t *lv)
{
	uint32_t g = 0;
	for (int j = 0; j < 4; j++)
		g |= (uint32_t)(uint8_t)lv[(code >> (3 * j)) & 7] << (8 * j);
	return g;
}

static void build_tables(void)
{
	static const int8_t lv2[4] = { 8, 25, 43, 0 }, lv1[4] = { -8, 0, 8, 0 };
	static const int8_t lv3xxs[8] = { 4, 12, 20, 28, 36, 44, 52, 62 }, lv3s[8] = { 1, 3, 5, 7, 9, 11, 13, 15 };
	for (int i = 0; i < 256; i++) {
		G_IQ2XXS[i] = grid8(qnt__iq2xxs_codes[i], lv2);
		G_IQ3XXS[i] = grid4(qnt__iq3xxs_codes[i], lv3xxs);
	}
	for (int i = 0; i < 512; i++) {
		G_IQ2XS[i] = grid8(qnt__iq2xs_codes[i], lv2);
		G_IQ3S[i] = grid4(qnt__iq3s_codes[i], lv3s);
	}
	for (int i = 0; i < 1024; i++)
		G_IQ2S[i] = grid8(qnt__iq2s_codes[i], lv2);
	for (int i = 0; i < 2048; i++) {
		G_IQ1S[i] = grid8(qnt__iq1s_codes[i], lv1);
		/* byte by byte: 8 g + 1 and 8 g - 1 */
		uint64_t pos = 0, neg = 0;
		for (int j = 0; j < 8; j++) {
			const uint8_t b = (uint8_t)(G_IQ1S[i] >> (8 * j));
			pos |= (uint64_t)(uint8_t)(b + 1) << (8 * j);
			neg |= (uint64_t)(uint8_t)(b - 1) << (8 * j);
		}
		G_IQ1M[i] = pos;
		G_IQ1M[i + 2048] = neg;
	}
	for (unsigned s = 0; s < 128; s++) {
		unsigned p = s ^ (s >> 4);
		p ^= p >> 2;
		p ^= p >> 1;
		const unsigned k = s | ((p & 1u) << 7);
		KSIGN64[s] = 0;
		for (int j = 0; j < 8; j++)
			KSIGN64[s] |= (uint64_t)((k >> j) & 1 ? 0xff : 0x01) << (8 * j);
	}
}

static void build_all(void);

INLINE void tables(void)
{
	uv_once(&tables_once, build_all);
}

/* ------------------------------------------------------------------ */
/* Decoding: 32 weights of a group as bytes                             */
/* ------------------------------------------------------------------ */

/* The element signs (+-1 bytes) of a group. */
INLINE __m256i ksigns(unsigned a, unsigned b, unsigned c, unsigned d)
{
	return _mm256_set_epi64x((long long)KSIGN64[d], (long long)KSIGN64[c], (long long)KSIGN64[b],
				 (long long)KSIGN64[a]);
}

/* iq2_xxs / iq3_xxs: from the 28 stored bits. */
INLINE __m256i xxs_signs(uint32_t aux)
{
	return ksigns(aux & 127, (aux >> 7) & 127, (aux >> 14) & 127, (aux >> 21) & 127);
}

/* From one bit per element (set: negative). */
INLINE __m256i bit_signs(uint32_t m)
{
	return _mm256_or_si256(bits_to_mask(m), _mm256_set1_epi8(1));
}

/* Grid magnitudes (bytes) of group g, and in *signs their signs. */
INLINE __m256i grid_iq2_xxs(const struct blk_iq2_xxs *b, int g, __m256i *signs, int *ls)
{
	const uint8_t *q = b->qs + 8 * g;
	const uint32_t aux = load_u32(q + 4);
	*signs = xxs_signs(aux);
	*ls = (int)(aux >> 28);
	return _mm256_set_epi64x((long long)G_IQ2XXS[q[3]], (long long)G_IQ2XXS[q[2]], (long long)G_IQ2XXS[q[1]],
				 (long long)G_IQ2XXS[q[0]]);
}

INLINE __m256i grid_iq2_xs(const struct blk_iq2_xs *b, int g, __m256i *signs)
{
	const uint8_t *q = b->qs + 8 * g;
	const uint16_t a0 = rd16(q), a1 = rd16(q + 2), a2 = rd16(q + 4), a3 = rd16(q + 6);
	*signs = ksigns(a0 >> 9, a1 >> 9, a2 >> 9, a3 >> 9);
	return _mm256_set_epi64x((long long)G_IQ2XS[a3 & 511], (long long)G_IQ2XS[a2 & 511],
				 (long long)G_IQ2XS[a1 & 511], (long long)G_IQ2XS[a0 & 511]);
}

/* iq2_xs for the row kernel (iq2_xs_body). The signs in vector form: a
 * code's sign byte is its 7 stored bits with their parity in bit 7
 * (ksigns_iq2xs), the parity that of the low nibble of (c >> 9) ^ (c >> 13)
 * (bits 0-3 xor bits 4-6) by VPSHUFB; iq2_xs_sb makes the 16 sign bytes of
 * groups 4q..4q+3 (byte 2k of the vector: code k of the 16), iq2_xs_signs
 * repeats a group's four over its 32 elements and tests bit j in element j:
 * the same +-1 bytes as KSIGN64. */
static const uint8_t IQ2XS_PAR[32] __attribute__((aligned(32))) = {
	0, 0x80, 0x80, 0, 0x80, 0, 0, 0x80, 0x80, 0, 0, 0x80, 0, 0x80, 0x80, 0,
	0, 0x80, 0x80, 0, 0x80, 0, 0, 0x80, 0x80, 0, 0, 0x80, 0, 0x80, 0x80, 0,
};

INLINE __m256i iq2_xs_sb(const struct blk_iq2_xs *b, int q)
{
	const __m256i v = load256(b->qs + 32 * q);
	const __m256i s = _mm256_srli_epi16(v, 9);
	return _mm256_or_si256(s, _mm256_shuffle_epi8(load256(IQ2XS_PAR), _mm256_xor_si256(s, _mm256_srli_epi16(v, 13))));
}

/* Signs of group 2h + k (k = 0, 1) of the four in sb (iq2_xs_sb): the pair's
 * 128-bit half of sb in both lanes (VPERMQ), then code 4k, 4k + 1 repeated
 * in the low lane and 4k + 2, 4k + 3 in the high lane (VPSHUFB). */
INLINE void iq2_xs_signs(__m256i sb, int h, __m256i sv[2])
{
	const __m256i sel = _mm256_set1_epi64x((long long)0x8040201008040201ull);
	const __m256i p = h ? _mm256_permute4x64_epi64(sb, 0xee) : _mm256_permute4x64_epi64(sb, 0x44);
	UNROLL for (int k = 0; k < 2; k++) {
		const __m256i rep = _mm256_shuffle_epi8(
			p, _mm256_set_epi64x(0x0606060606060606ll + 0x0808080808080808ll * k,
					     0x0404040404040404ll + 0x0808080808080808ll * k,
					     0x0202020202020202ll + 0x0808080808080808ll * k, 0x0808080808080808ll * k));
		sv[k] = _mm256_or_si256(_mm256_cmpeq_epi8(_mm256_and_si256(rep, sel), sel), _mm256_set1_epi8(1));
	}
}

/* Grid rows of four codes from their 9-bit indices j[0..3]. */
INLINE __m256i iq2_xs_grid(const uint16_t *j)
{
	return _mm256_set_epi64x((long long)G_IQ2XS[j[3]], (long long)G_IQ2XS[j[2]], (long long)G_IQ2XS[j[1]],
				 (long long)G_IQ2XS[j[0]]);
}

/* The 32 grid indices of block b (codes & 511) stored to ix. */
INLINE void iq2_xs_ix(const struct blk_iq2_xs *b, uint16_t *ix)
{
	_mm256_store_si256((__m256i *)ix, _mm256_and_si256(load256(b->qs), _mm256_set1_epi16(511)));
	_mm256_store_si256((__m256i *)ix + 1, _mm256_and_si256(load256(b->qs + 32), _mm256_set1_epi16(511)));
}

/* The 16 scales 2 l + 1 as bytes: byte g of the low lane group g's first
 * half (low nibble of scales[g]), of the high lane its second half. */
INLINE __m256i iq2_xs_scales(const struct blk_iq2_xs *b)
{
	uint64_t r;
	memcpy(&r, b->scales, sizeof r);
	const __m256i l = _mm256_and_si256(_mm256_srlv_epi64(_mm256_set1_epi64x((long long)r), _mm256_setr_epi64x(0, 0, 4, 4)),
					   _mm256_set1_epi8(0x0f));
	return _mm256_or_si256(_mm256_add_epi8(l, l), _mm256_set1_epi8(1));
}

INLINE __m256i grid_iq2_s(const struct blk_iq2_s *b, int g, __m256i *signs)
{
	const uint8_t *q = b->qs + 4 * g;
	const unsigned h = b->qh[g];
	*signs = bit_signs(load_u32(b->qs + 32 + 4 * g));
	return _mm256_set_epi64x((long long)G_IQ2S[q[3] | ((h << 2) & 0x300)],
				 (long long)G_IQ2S[q[2] | ((h << 4) & 0x300)],
				 (long long)G_IQ2S[q[1] | ((h << 6) & 0x300)],
				 (long long)G_IQ2S[q[0] | ((h << 8) & 0x300)]);
}

INLINE __m256i grid_iq3_xxs(const struct blk_iq3_xxs *b, int g, __m256i *signs, int *ls)
{
	const uint8_t *q = b->qs + 8 * g;
	const uint32_t aux = load_u32(b->qs + 64 + 4 * g);
	*signs = xxs_signs(aux);
	*ls = (int)(aux >> 28);
	return _mm256_set_epi32((int)G_IQ3XXS[q[7]], (int)G_IQ3XXS[q[6]], (int)G_IQ3XXS[q[5]], (int)G_IQ3XXS[q[4]],
				(int)G_IQ3XXS[q[3]], (int)G_IQ3XXS[q[2]], (int)G_IQ3XXS[q[1]], (int)G_IQ3XXS[q[0]]);
}

INLINE __m256i grid_iq3_s(const struct blk_iq3_s *b, int g, __m256i *signs, int *ls)
{
	const uint8_t *q = b->qs + 8 * g;
	const unsigned h = b->qh[g];
	*signs = bit_signs(load_u32(b->signs + 4 * g));
	*ls = (b->scales[g / 2] >> (4 * (g % 2))) & 0xf;
	return _mm256_set_epi32((int)G_IQ3S[q[7] | ((h << 1) & 0x100)], (int)G_IQ3S[q[6] | ((h << 2) & 0x100)],
				(int)G_IQ3S[q[5] | ((h << 3) & 0x100)], (int)G_IQ3S[q[4] | ((h << 4) & 0x100)],
				(int)G_IQ3S[q[3] | ((h << 5) & 0x100)], (int)G_IQ3S[q[2] | ((h << 6) & 0x100)],
				(int)G_IQ3S[q[1] | ((h << 7) & 0x100)], (int)G_IQ3S[q[0] | ((h << 8) & 0x100)]);
}

/* iq1_s: 8 g (g = -1, 0, 1) of group g, without the delta. */
INLINE __m256i grid_iq1_s(const struct blk_iq1_s *b, int g)
{
	const uint8_t *q = b->qs + 4 * g;
	const unsigned h = rd16(b->qh + 2 * g);
	return _mm256_set_epi64x((long long)G_IQ1S[q[3] | ((h >> 1) & 0x700)],
				 (long long)G_IQ1S[q[2] | ((h << 2) & 0x700)],
				 (long long)G_IQ1S[q[1] | ((h << 5) & 0x700)],
				 (long long)G_IQ1S[q[0] | ((h << 8) & 0x700)]);
}

/* iq1_s: 8 g + s (s = +-1, the delta's sign) for group g; *ls its 3-bit
 * scale. */
INLINE __m256i w_iq1_s(const struct blk_iq1_s *b, int g, int *ls)
{
	const unsigned h = rd16(b->qh + 2 * g);
	*ls = (int)((h >> 12) & 7);
	return _mm256_add_epi8(grid_iq1_s(b, g), _mm256_set1_epi8(h & 0x8000 ? -1 : 1));
}

/* iq1_m: 8 g + s for group g (two sub-blocks of 16, a delta sign per 8). */
INLINE __m256i w_iq1_m(const struct blk_iq1_m *b, int g)
{
	const uint8_t *q = b->qs + 4 * g;
	const unsigned h0 = b->qh[2 * g], h1 = b->qh[2 * g + 1];
	/* the grid's top 3 index bits and the delta's sign: bits 0-3 of
	 * qh[2g] for elements 0-7, bits 4-7 for 8-15, the same of qh[2g + 1]
	 * for 16-31 */
	return _mm256_set_epi64x((long long)G_IQ1M[q[3] | ((h1 << 4) & 0xf00)],
				 (long long)G_IQ1M[q[2] | ((h1 << 8) & 0xf00)],
				 (long long)G_IQ1M[q[1] | ((h0 << 4) & 0xf00)],
				 (long long)G_IQ1M[q[0] | ((h0 << 8) & 0xf00)]);
}

/* iq1_m's fp16 super-scale from the top nibbles of its scale words. */
INLINE uint16_t iq1m_d(const uint8_t *s)
{
	return (uint16_t)((rd16(s) >> 12) | ((rd16(s + 2) >> 8) & 0x00f0) | ((rd16(s + 4) >> 4) & 0x0f00) |
			  (rd16(s + 6) & 0xf000));
}

/* Bytes times 3 mod 256 (as ggml's uint8_t product wraps), k times. */
INLINE __m256i times3(__m256i v, int k)
{
	for (int i = 0; i < k; i++)
		v = _mm256_add_epi8(_mm256_add_epi8(v, v), v);
	return v;
}

INLINE __m128i times3_128(__m128i v, int k)
{
	for (int i = 0; i < k; i++)
		v = _mm_add_epi8(_mm_add_epi8(v, v), v);
	return v;
}

/* tq1_0 trits of bytes already multiplied by their power of 3, 0..2: (v *
 * 3) >> 8, which is 1 from v = 86 and 2 from v = 171. The bytes come as
 * v + 128 (mod 256), which multiplying by 3 keeps (3 * 128 = 128 mod 256),
 * so that signed compares order them: two compares, two subtractions. */
INLINE __m256i trits(__m256i v)
{
	/* the thresholds opaque to GCC, which would otherwise rewrite the
	 * first compare as v >= -42 by VPMINSB and VPCMPEQB (one instruction
	 * more) */
	__m256i t1 = _mm256_set1_epi8(86 - 1 - 128), t2 = _mm256_set1_epi8(171 - 1 - 128);
	keep_reg(&t1);
	keep_reg(&t2);
	const __m256i m1 = _mm256_cmpgt_epi8(v, t1);
	const __m256i m2 = _mm256_cmpgt_epi8(v, t2);
	return _mm256_sub_epi8(_mm256_sub_epi8(_mm256_setzero_si256(), m1), m2);
}

/* tq1_0 codes (0..2) of group g (elements 32g..32g+31): groups 0-4 the
 * 32 bytes of qs times 1, 3, 9, 27, 81; group 5 the next 16 times 1 | 3,
 * group 6 times 9 | 27; group 7 those times 81 | the 4 bytes of qh times
 * 1, 3, 9, 27 (4 elements each). Multiplying by 3 is two byte additions;
 * the bytes are loaded plus 128 for trits(). */
INLINE __m256i codes_tq1(const struct blk_tq1_0 *b, int g)
{
	if (g < 5)
		return trits(times3(_mm256_xor_si256(load256(b->qs), _mm256_set1_epi8((char)0x80)), g));
	const __m128i q = _mm_xor_si128(load128(b->qs + 32), _mm_set1_epi8((char)0x80));
	if (g < 7) {
		const __m128i lo = times3_128(q, 2 * (g - 5));
		return trits(_mm256_inserti128_si256(_mm256_castsi128_si256(lo), times3_128(lo, 1), 1));
	}
	const __m128i h = _mm_xor_si128(_mm_set1_epi32((int)load_u32(b->qh)), _mm_set1_epi8((char)0x80));
	const __m128i h3 = times3_128(h, 1), h9 = times3_128(h3, 1), h27 = times3_128(h9, 1);
	const __m128i hi = _mm_blend_epi32(_mm_blend_epi32(h, h3, 0x2), _mm_blend_epi32(h9, h27, 0x8), 0xc);
	return trits(_mm256_inserti128_si256(_mm256_castsi128_si256(times3_128(q, 4)), hi, 1));
}

/* tq2_0 codes (0..3) of group g. */
INLINE __m256i codes_tq2(const struct blk_tq2_0 *b, int g)
{
	const __m256i v = load256(b->qs + 32 * (g / 4));
	return _mm256_and_si256(_mm256_srli_epi16(v, 2 * (g % 4)), _mm256_set1_epi8(3));
}

/* nvfp4: the 32 codes of sub-blocks 2h and 2h + 1 in element order (each
 * sub-block: 8 low nibbles, then 8 high nibbles). */
INLINE __m256i codes_nvfp4(const struct blk_nvfp4 *b, int h)
{
	const __m128i raw = load128(b->qs + 16 * h);
	const __m256i v = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(raw, 4), raw), _mm256_set1_epi8(0x0f));
	return _mm256_permute4x64_epi64(v, 0xd8); /* lo0-7 hi0-7 lo8-15 hi8-15 */
}

/* q2_0 codes (0..3) of elements 32k..32k+31 (4 per byte, low bits first). */
INLINE __m256i codes_q2_0(const struct blk_q2_0 *b, int k)
{
	const __m256i rep = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(_mm_loadl_epi64((const __m128i *)(b->qs + 8 * k))),
						_mm256_setr_epi8(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4,
								 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7));
	const __m256i s0 = _mm256_and_si256(rep, _mm256_set1_epi32(0x00000003));
	const __m256i s1 = _mm256_and_si256(_mm256_srli_epi16(rep, 2), _mm256_set1_epi32(0x00000300));
	const __m256i s2 = _mm256_and_si256(_mm256_srli_epi16(rep, 4), _mm256_set1_epi32(0x00030000));
	const __m256i s3 = _mm256_and_si256(_mm256_srli_epi16(rep, 6), _mm256_set1_epi32(0x03000000));
	return _mm256_or_si256(_mm256_or_si256(s0, s1), _mm256_or_si256(s2, s3));
}

/* ue4m3 scales halved (quant_lowbit.c's ue4m3_half; all exact in float). */
static float UE4M3_HALF[256];

static void build_ue4m3(void)
{
	for (int x = 0; x < 256; x++) {
		const int ex = (x >> 3) & 0xf, man = x & 7;
		if (x == 0 || x == 0x7f)
			UE4M3_HALF[x] = 0.0f;
		else if (ex == 0)
			UE4M3_HALF[x] = (float)man * 0x1p-10f;
		else
			UE4M3_HALF[x] = (float)(8 + man) * qnt__f32_from_bits((uint32_t)(ex - 11 + 127) << 23);
	}
}

static void build_all(void)
{
	build_tables();
	build_ue4m3();
}

/* E8M0 exponent as half its value (ggml_e8m0_to_fp32_half). */
INLINE float e8m0_half(uint8_t e)
{
	return qnt__f32_from_bits(e < 2 ? 0x00200000u << e : (uint32_t)(e - 1) << 23);
}

/* ------------------------------------------------------------------ */
/* Dequantize                                                           */
/* ------------------------------------------------------------------ */

/* 32 signed bytes w times d0 (elements 0-15) and d1 (16-31) into y:
 * d * (float)w, as the reference multiplies. */
INLINE void store32_mul2(__m256i w, float d0, float d1, float *y)
{
	const __m256 v0 = _mm256_set1_ps(d0), v1 = _mm256_set1_ps(d1);
	const __m128i lo = _mm256_castsi256_si128(w), hi = _mm256_extracti128_si256(w, 1);
	_mm256_storeu_ps(y, _mm256_mul_ps(v0, f8(lo)));
	_mm256_storeu_ps(y + 8, _mm256_mul_ps(v0, f8(_mm_srli_si128(lo, 8))));
	_mm256_storeu_ps(y + 16, _mm256_mul_ps(v1, f8(hi)));
	_mm256_storeu_ps(y + 24, _mm256_mul_ps(v1, f8(_mm_srli_si128(hi, 8))));
}

/* 32 grid magnitudes g times db0 (0-15) / db1 (16-31), negated where the
 * sign byte is -1. */
INLINE void store32_signed2(__m256i g, __m256i signs, float db0, float db1, float *y)
{
	const __m256i m = _mm256_cmpgt_epi8(_mm256_setzero_si256(), signs);
	const __m128i g0 = _mm256_castsi256_si128(g), g1 = _mm256_extracti128_si256(g, 1);
	const __m128i m0 = _mm256_castsi256_si128(m), m1 = _mm256_extracti128_si256(m, 1);
	_mm256_storeu_ps(y, mul_neg8(g0, m0, db0));
	_mm256_storeu_ps(y + 8, mul_neg8(_mm_srli_si128(g0, 8), _mm_srli_si128(m0, 8), db0));
	_mm256_storeu_ps(y + 16, mul_neg8(g1, m1, db1));
	_mm256_storeu_ps(y + 24, mul_neg8(_mm_srli_si128(g1, 8), _mm_srli_si128(m1, 8), db1));
}

/* iq1: w = 8 g + s read as g + s/8 (exact), times dl0 (0-15) / dl1
 * (16-31): the reference's dl * (level + delta). */
INLINE void store32_iq1(__m256i w, float dl0, float dl1, float *y)
{
	const __m256 e = _mm256_set1_ps(0.125f), v0 = _mm256_set1_ps(dl0), v1 = _mm256_set1_ps(dl1);
	const __m128i lo = _mm256_castsi256_si128(w), hi = _mm256_extracti128_si256(w, 1);
	_mm256_storeu_ps(y, _mm256_mul_ps(v0, _mm256_mul_ps(f8(lo), e)));
	_mm256_storeu_ps(y + 8, _mm256_mul_ps(v0, _mm256_mul_ps(f8(_mm_srli_si128(lo, 8)), e)));
	_mm256_storeu_ps(y + 16, _mm256_mul_ps(v1, _mm256_mul_ps(f8(hi), e)));
	_mm256_storeu_ps(y + 24, _mm256_mul_ps(v1, _mm256_mul_ps(f8(_mm_srli_si128(hi, 8)), e)));
}

INLINE __m256i lut16(const int8_t *table, __m256i idx)
{
	return _mm256_shuffle_epi8(_mm256_load_si256((const __m256i *)table), idx);
}

void qnt__avx2_deq_iq4_nl(const void *src, float *y, int64_t n)
{
	const struct blk_iq4_nl *b = src;
	for (int64_t i = 0; i < n / 32; i++, y += 32) {
		const float d = h2f(b[i].d);
		store32_mul2(lut16(KV_IQ4, nib32(b[i].qs)), d, d, y);
	}
}

void qnt__avx2_deq_iq4_xs(const void *src, float *y, int64_t n)
{
	const struct blk_iq4_xs *b = src;
	for (int64_t i = 0; i < n / QK_K; i++) {
		const float d = h2f(b[i].d);
		for (int g = 0; g < 8; g++, y += 32) {
			const int ls = ((b[i].scales_l[g / 2] >> (4 * (g % 2))) & 0xf) | (((b[i].scales_h >> (2 * g)) & 3) << 4);
			const float dl = d * (float)(ls - 32);
			store32_mul2(lut16(KV_IQ4, nib32(b[i].qs + 16 * g)), dl, dl, y);
		}
	}
}

void qnt__avx2_deq_mxfp4(const void *src, float *y, int64_t n)
{
	const struct blk_mxfp4 *b = src;
	for (int64_t i = 0; i < n / 32; i++, y += 32) {
		const float d = e8m0_half(b[i].e);
		store32_mul2(lut16(KV_FP4, nib32(b[i].qs)), d, d, y);
	}
}

void qnt__avx2_deq_nvfp4(const void *src, float *y, int64_t n)
{
	const struct blk_nvfp4 *b = src;
	tables();
	for (int64_t i = 0; i < n / 64; i++)
		for (int h = 0; h < 2; h++, y += 32)
			store32_mul2(lut16(KV_FP4, codes_nvfp4(&b[i], h)), UE4M3_HALF[b[i].d[2 * h]],
				     UE4M3_HALF[b[i].d[2 * h + 1]], y);
}

void qnt__avx2_deq_tq1_0(const void *src, float *y, int64_t n)
{
	const struct blk_tq1_0 *b = src;
	for (int64_t i = 0; i < n / QK_K; i++) {
		const float d = get_d((const uint8_t *)&b[i].d);
		for (int g = 0; g < 8; g++, y += 32)
			store32_mul2(_mm256_sub_epi8(codes_tq1(&b[i], g), _mm256_set1_epi8(1)), d, d, y);
	}
}

void qnt__avx2_deq_tq2_0(const void *src, float *y, int64_t n)
{
	const struct blk_tq2_0 *b = src;
	for (int64_t i = 0; i < n / QK_K; i++) {
		const float d = get_d((const uint8_t *)&b[i].d);
		for (int g = 0; g < 8; g++, y += 32)
			store32_mul2(_mm256_sub_epi8(codes_tq2(&b[i], g), _mm256_set1_epi8(1)), d, d, y);
	}
}

void qnt__avx2_deq_q1_0(const void *src, float *y, int64_t n)
{
	const struct blk_q1_0 *b = src;
	for (int64_t i = 0; i < n / 128; i++) {
		const __m256 d = _mm256_set1_ps(get_d((const uint8_t *)&b[i].d));
		const __m256 nd = _mm256_xor_ps(d, _mm256_set1_ps(-0.0f));
		for (int k = 0; k < 4; k++, y += 32) {
			const __m256i m = bits_to_mask(load_u32(b[i].qs + 4 * k));
			for (int q = 0; q < 4; q++) {
				const __m128i mq = _mm_loadl_epi64((const __m128i *)((const char *)&m + 8 * q));
				const __m256 sel = _mm256_castsi256_ps(_mm256_cvtepi8_epi32(mq));
				_mm256_storeu_ps(y + 8 * q, _mm256_blendv_ps(nd, d, sel));
			}
		}
	}
}

void qnt__avx2_deq_q2_0(const void *src, float *y, int64_t n)
{
	const struct blk_q2_0 *b = src;
	for (int64_t i = 0; i < n / 64; i++) {
		const float d = get_d((const uint8_t *)&b[i].d);
		for (int k = 0; k < 2; k++, y += 32)
			store32_mul2(_mm256_sub_epi8(codes_q2_0(&b[i], k), _mm256_set1_epi8(1)), d, d, y);
	}
}

void qnt__avx2_deq_iq2_xxs(const void *src, float *y, int64_t n)
{
	const struct blk_iq2_xxs *b = src;
	tables();
	for (int64_t i = 0; i < n / QK_K; i++) {
		const float d = h2f(b[i].d);
		for (int g = 0; g < 8; g++, y += 32) {
			__m256i s;
			int ls;
			const __m256i grid = grid_iq2_xxs(&b[i], g, &s, &ls);
			const float db = d * (0.5f + (float)ls) * 0.25f;
			store32_signed2(grid, s, db, db, y);
		}
	}
}

void qnt__avx2_deq_iq2_xs(const void *src, float *y, int64_t n)
{
	const struct blk_iq2_xs *b = src;
	tables();
	for (int64_t i = 0; i < n / QK_K; i++) {
		const float d = h2f(b[i].d);
		for (int g = 0; g < 8; g++, y += 32) {
			__m256i s;
			const __m256i grid = grid_iq2_xs(&b[i], g, &s);
			const float db0 = d * (0.5f + (float)(b[i].scales[g] & 0xf)) * 0.25f;
			const float db1 = d * (0.5f + (float)(b[i].scales[g] >> 4)) * 0.25f;
			store32_signed2(grid, s, db0, db1, y);
		}
	}
}

void qnt__avx2_deq_iq2_s(const void *src, float *y, int64_t n)
{
	const struct blk_iq2_s *b = src;
	tables();
	for (int64_t i = 0; i < n / QK_K; i++) {
		const float d = h2f(b[i].d);
		for (int g = 0; g < 8; g++, y += 32) {
			__m256i s;
			const __m256i grid = grid_iq2_s(&b[i], g, &s);
			const float db0 = d * (0.5f + (float)(b[i].scales[g] & 0xf)) * 0.25f;
			const float db1 = d * (0.5f + (float)(b[i].scales[g] >> 4)) * 0.25f;
			store32_signed2(grid, s, db0, db1, y);
		}
	}
}

void qnt__avx2_deq_iq3_xxs(const void *src, float *y, int64_t n)
{
	const struct blk_iq3_xxs *b = src;
	tables();
	for (int64_t i = 0; i < n / QK_K; i++) {
		const float d = h2f(b[i].d);
		for (int g = 0; g < 8; g++, y += 32) {
			__m256i s;
			int ls;
			const __m256i grid = grid_iq3_xxs(&b[i], g, &s, &ls);
			const float db = d * (0.5f + (float)ls) * 0.5f;
			store32_signed2(grid, s, db, db, y);
		}
	}
}

void qnt__avx2_deq_iq3_s(const void *src, float *y, int64_t n)
{
	const struct blk_iq3_s *b = src;
	tables();
	for (int64_t i = 0; i < n / QK_K; i++) {
		const float d = h2f(b[i].d);
		for (int g = 0; g < 8; g++, y += 32) {
			__m256i s;
			int ls;
			const __m256i grid = grid_iq3_s(&b[i], g, &s, &ls);
			const float db = d * (float)(1 + 2 * ls);
			store32_signed2(grid, s, db, db, y);
		}
	}
}

void qnt__avx2_deq_iq1_s(const void *src, float *y, int64_t n)
{
	const struct blk_iq1_s *b = src;
	tables();
	for (int64_t i = 0; i < n / QK_K; i++) {
		const float d = h2f(b[i].d);
		for (int g = 0; g < 8; g++, y += 32) {
			int ls;
			const __m256i w = w_iq1_s(&b[i], g, &ls);
			const float dl = d * (float)(2 * ls + 1);
			store32_iq1(w, dl, dl, y);
		}
	}
}

void qnt__avx2_deq_iq1_m(const void *src, float *y, int64_t n)
{
	const struct blk_iq1_m *b = src;
	tables();
	for (int64_t i = 0; i < n / QK_K; i++) {
		const float d = h2f(iq1m_d(b[i].scales));
		for (int g = 0; g < 8; g++, y += 32) {
			const unsigned sc = rd16(b[i].scales + 2 * (g / 2));
			const float dl0 = d * (float)(2 * ((sc >> (6 * (g % 2))) & 7) + 1);
			const float dl1 = d * (float)(2 * ((sc >> (6 * (g % 2) + 3)) & 7) + 1);
			store32_iq1(w_iq1_m(&b[i], g), dl0, dl1, y);
		}
	}
}

/* ------------------------------------------------------------------ */
/* Matrix products                                                      */
/* ------------------------------------------------------------------ */

/* Against q8_K: per super-block and column, isum = sum over groups of
 * scale * (w . x) in 32-bit lanes, then acc += (d * d_x) * isum. */
enum { K_IQ2XXS, K_IQ2XS, K_IQ2S, K_IQ3XXS, K_IQ3S, K_IQ1S, K_IQ1M, K_IQ4XS, K_TQ1, K_TQ2 };

INLINE size_t k_bytes(int kind)
{
	static const size_t b[] = { sizeof(struct blk_iq2_xxs), sizeof(struct blk_iq2_xs), sizeof(struct blk_iq2_s),
				    sizeof(struct blk_iq3_xxs), sizeof(struct blk_iq3_s),  sizeof(struct blk_iq1_s),
				    sizeof(struct blk_iq1_m),   sizeof(struct blk_iq4_xs), sizeof(struct blk_tq1_0),
				    sizeof(struct blk_tq2_0) };
	return b[kind];
}

/* The float factor of a super-block's integer sums. */
INLINE float k_scale(const uint8_t *b, int kind)
{
	switch (kind) {
	case K_IQ2XXS:
	case K_IQ2XS:
	case K_IQ2S:
		return h2f(rd16(b)) * 0.125f;
	case K_IQ3XXS:
		return h2f(rd16(b)) * 0.25f;
	case K_IQ1S:
		return h2f(rd16(b)) * 0.125f;
	case K_IQ1M:
		return h2f(iq1m_d(((const struct blk_iq1_m *)b)->scales)) * 0.125f;
	case K_TQ1:
		return h2f(rd16(b + offsetof(struct blk_tq1_0, d)));
	case K_TQ2:
		return h2f(rd16(b + offsetof(struct blk_tq2_0, d)));
	default: /* iq3_s, iq4_xs */
		return h2f(rd16(b));
	}
}

/* Group g's 32 weights as magnitudes (unsigned bytes) and signs (bytes of
 * the sign: negative, zero or positive); *sc their 16-bit scales (one per 16
 * elements: low lane, high lane). */
INLINE __m256i k_decode(const uint8_t *b, int kind, int g, __m256i *sv, __m256i *sc)
{
	int ls;
	__m256i w;
	switch (kind) {
	case K_IQ2XXS:
		w = grid_iq2_xxs((const struct blk_iq2_xxs *)b, g, sv, &ls);
		*sc = _mm256_set1_epi16((short)(2 * ls + 1));
		return w;
	case K_IQ2XS: {
		const uint8_t l = ((const struct blk_iq2_xs *)b)->scales[g];
		*sc = scale2(2 * (l & 0xf) + 1, 2 * (l >> 4) + 1);
		return grid_iq2_xs((const struct blk_iq2_xs *)b, g, sv);
	}
	case K_IQ2S: {
		const uint8_t l = ((const struct blk_iq2_s *)b)->scales[g];
		*sc = scale2(2 * (l & 0xf) + 1, 2 * (l >> 4) + 1);
		return grid_iq2_s((const struct blk_iq2_s *)b, g, sv);
	}
	case K_IQ3XXS:
		w = grid_iq3_xxs((const struct blk_iq3_xxs *)b, g, sv, &ls);
		*sc = _mm256_set1_epi16((short)(2 * ls + 1));
		return w;
	case K_IQ3S:
		w = grid_iq3_s((const struct blk_iq3_s *)b, g, sv, &ls);
		*sc = _mm256_set1_epi16((short)(2 * ls + 1));
		return w;
	case K_IQ1S:
		w = w_iq1_s((const struct blk_iq1_s *)b, g, &ls);
		*sc = _mm256_set1_epi16((short)(2 * ls + 1));
		break;
	case K_IQ1M: {
		const unsigned sw = rd16(((const struct blk_iq1_m *)b)->scales + 2 * (g / 2)) >> (6 * (g % 2));
		*sc = scale2(2 * (int)(sw & 7) + 1, 2 * (int)((sw >> 3) & 7) + 1);
		w = w_iq1_m((const struct blk_iq1_m *)b, g);
		break;
	}
	default: { /* iq4_xs */
		const struct blk_iq4_xs *x = (const struct blk_iq4_xs *)b;
		ls = ((x->scales_l[g / 2] >> (4 * (g % 2))) & 0xf) | (((x->scales_h >> (2 * g)) & 3) << 4);
		*sc = _mm256_set1_epi16((short)(ls - 32));
		w = lut16(KV_IQ4, nib32(x->qs + 16 * g));
		break;
	}
	}
	*sv = w;
	return _mm256_sign_epi8(w, w);
}

/* The formats with two scales per group (iq2_xs, iq2_s: a nibble per 16
 * elements; iq1_m: 3 bits per 16) have all 16 of a super-block made
 * 2 ls + 1 in one vector of 16-bit lanes, the first half of each group in
 * the low half of the vector and the second in the high half, so that
 * group g's pair is one VPSHUFB of word g (k_group_scale). */
INLINE int k_vector_scales(int kind)
{
	return kind == K_IQ2XS || kind == K_IQ2S || kind == K_IQ1M;
}

INLINE __m256i k_scales_v(const uint8_t *b, int kind)
{
	const __m256i ones16 = _mm256_set1_epi16(1);
	if (kind == K_IQ1M) {
		/* sub-block s: 3 bits at 3 (s % 4) of scale word s / 4; word i
		 * of each half: scale word i / 2, multiplied so that the wanted
		 * bits land in bits 13-15 (even sub-blocks at bits 0 and 6, odd
		 * ones at 3 and 9) */
		const __m256i spread = _mm256_setr_epi8(0, 1, 0, 1, 2, 3, 2, 3, 4, 5, 4, 5, 6, 7, 6, 7,
							0, 1, 0, 1, 2, 3, 2, 3, 4, 5, 4, 5, 6, 7, 6, 7);
		const __m256i mult = _mm256_setr_epi16(1 << 13, 1 << 7, 1 << 13, 1 << 7, 1 << 13, 1 << 7, 1 << 13,
						       1 << 7, 1 << 10, 1 << 4, 1 << 10, 1 << 4, 1 << 10, 1 << 4,
						       1 << 10, 1 << 4);
		const __m128i raw = _mm_loadl_epi64((const __m128i *)((const struct blk_iq1_m *)b)->scales);
		const __m256i sw = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(raw), spread);
		return _mm256_or_si256(_mm256_slli_epi16(_mm256_srli_epi16(_mm256_mullo_epi16(sw, mult), 13), 1),
				       ones16);
	}
	const uint8_t *sp = kind == K_IQ2XS ? ((const struct blk_iq2_xs *)b)->scales : ((const struct blk_iq2_s *)b)->scales;
	const __m128i v = _mm_loadl_epi64((const __m128i *)sp), m = _mm_set1_epi8(0x0f);
	const __m128i lohi = _mm_unpacklo_epi64(_mm_and_si128(v, m), _mm_and_si128(_mm_srli_epi16(v, 4), m));
	return _mm256_or_si256(_mm256_slli_epi16(_mm256_cvtepu8_epi16(lohi), 1), ones16);
}

INLINE __m256i k_group_scale(__m256i scl, int g)
{
	return _mm256_shuffle_epi8(scl, _mm256_set1_epi16((short)(0x0100 * (2 * g + 1) + 2 * g)));
}

INLINE void k_body(const void *wv, const struct xcol *x, int nc, int64_t n, float *out, int kind)
{
	const size_t wb = k_bytes(kind);
	const struct blk_q8_K *xk[NC];
	__m256 acc[NC];
	UNROLL for (int c = 0; c < nc; c++) {
		xk[c] = (const struct blk_q8_K *)x[c].blk;
		acc[c] = _mm256_setzero_ps();
	}
	if (kind != K_IQ4XS)
		tables();
	for (int64_t i = 0; i < n / QK_K; i++) {
		const uint8_t *b = (const uint8_t *)wv + (size_t)i * wb;
		if (kind == K_IQ4XS) /* the lattice kernels are compute-bound: no gain there */
			prefetch_ahead(b, wb);
		const float d = k_scale(b, kind);
		const __m256i scl = k_vector_scales(kind) ? k_scales_v(b, kind) : _mm256_setzero_si256();
		__m256i isum[NC];
		UNROLL for (int c = 0; c < nc; c++)
			isum[c] = _mm256_setzero_si256();
#if QNT_AVX512
		/* cpu-avx512, the lattice formats: two groups at a time per
		 * column, each group's products summed by VPDPBUSD into sums of
		 * four, the two packed to 16 bits (VPACKSSDW: per 128-bit lane
		 * four sums of group g, then four of g + 1) and weighted by their
		 * scales (VPBLENDW of the two groups' scale vectors, each the same
		 * within a lane) with one VPDPWSSD: 2 VPDPBUSD + VPACKSSDW +
		 * VPDPWSSD where cpu-avx2 takes 2 x (VPMADDUBSW + VPMADDWD +
		 * VPADDD). Exact: |w| <= 62 (iq3_xxs; iq2 43, iq3_s 15, iq1 9)
		 * and |sign(x, w)| <= 128 keep a sum of four within 31744, so
		 * the pack does not saturate. iq4_xs (|w| up to 127) keeps the
		 * loop below. */
		if (kind != K_IQ4XS) {
			/* one group decoded at a time (the decoders' scalar
			 * registers), group g's sums kept per column meanwhile */
			UNROLL for (int g = 0; g < 8; g += 2) {
				__m256i pa[NC], sv, sc0, sc1;
				__m256i u = k_decode(b, kind, g, &sv, &sc0);
				if (k_vector_scales(kind))
					sc0 = k_group_scale(scl, g);
				UNROLL for (int c = 0; c < nc; c++)
					pa[c] = dot4_u8s8(_mm256_setzero_si256(), u,
							  _mm256_sign_epi8(load256(xk[c][i].qs + 32 * g), sv));
				u = k_decode(b, kind, g + 1, &sv, &sc1);
				if (k_vector_scales(kind))
					sc1 = k_group_scale(scl, g + 1);
				const __m256i s2 = _mm256_blend_epi16(sc0, sc1, 0xf0);
				UNROLL for (int c = 0; c < nc; c++) {
					const __m256i pb = dot4_u8s8(_mm256_setzero_si256(), u,
								     _mm256_sign_epi8(load256(xk[c][i].qs + 32 * g + 32), sv));
					isum[c] = dot2_i16(isum[c], _mm256_packs_epi32(pa[c], pb), s2);
					if (nc > 1)
						keep_reg(&isum[c]);
				}
			}
		} else
#endif
		UNROLL for (int g = 0; g < 8; g++) {
			__m256i sv, sc;
			const __m256i u = k_decode(b, kind, g, &sv, &sc);
			if (k_vector_scales(kind))
				sc = k_group_scale(scl, g);
			UNROLL for (int c = 0; c < nc; c++) {
				const __m256i p = _mm256_maddubs_epi16(u, _mm256_sign_epi8(load256(xk[c][i].qs + 32 * g), sv));
				isum[c] = _mm256_add_epi32(isum[c], _mm256_madd_epi16(p, sc));
				if (nc > 1)
					keep_reg(&isum[c]);
			}
		}
		UNROLL for (int c = 0; c < nc; c++)
			acc[c] = _mm256_fmadd_ps(_mm256_set1_ps(d * xk[c][i].d), _mm256_cvtepi32_ps(isum[c]), acc[c]);
	}
	UNROLL for (int c = 0; c < nc; c++)
		out[c] = hsum_ps(acc[c]);
}

#if !QNT_AVX512
/* iq1_s's row kernel in cpu-avx2: k_body's sums for K_IQ1S regrouped. A
 * group's w . x = 8 g . x + s sum(x): the grid part through VPMADDUBSW
 * (|8 g| <= 8, sign(x, 8 g) zero where g is), the delta part for all eight
 * groups at once from q8_K's sums of 16 (one VPMADDWD with each group's
 * s (2 ls + 1) twice), and each group's scale 2 ls + 1 shuffled out of one
 * vector made per super-block: no per-group delta vector, no scalar scale
 * broadcast. The integer sums are k_body's (exact: |products| <= 8 * 127
 * * 2 per pair, scales <= 15, |sums of 16| <= 16 * 127), gathered in other
 * lanes, so the result differs from k_body's by float rounding only. */
INLINE void iq1_s_body(const void *wv, const struct xcol *x, int nc, int64_t n, float *out, int kind)
{
	(void)kind;
	const struct blk_iq1_s *w = wv;
	const struct blk_q8_K *xk[NC];
	__m256 acc[NC];
	UNROLL for (int c = 0; c < nc; c++) {
		xk[c] = (const struct blk_q8_K *)x[c].blk;
		acc[c] = _mm256_setzero_ps();
	}
	tables();
	for (int64_t i = 0; i < n / QK_K; i++) {
		const float d = h2f(w[i].d) * 0.125f;
		/* qh words: bits 12-14 ls, bit 15 the delta's sign */
		const __m128i qh = load128(w[i].qh);
		const __m128i sc = _mm_or_si128(_mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(qh, 12), _mm_set1_epi16(7)), 1),
						_mm_set1_epi16(1));
		const __m128i neg = _mm_srai_epi16(qh, 15);
		const __m128i f = _mm_sub_epi16(_mm_xor_si128(sc, neg), neg); /* s (2 ls + 1) */
		const __m256i fdup = _mm256_set_m128i(_mm_unpackhi_epi16(f, f), _mm_unpacklo_epi16(f, f));
		const __m256i scb = _mm256_broadcastsi128_si256(sc);
		__m256i isum[NC];
		UNROLL for (int c = 0; c < nc; c++)
			isum[c] = _mm256_madd_epi16(load256(xk[c][i].bsums), fdup);
		UNROLL for (int g = 0; g < 8; g++) {
			const __m256i sv = grid_iq1_s(&w[i], g);
			const __m256i u = _mm256_sign_epi8(sv, sv);
			const __m256i s16 = _mm256_shuffle_epi8(scb, _mm256_set1_epi16((short)(0x0100 * (2 * g + 1) + 2 * g)));
			UNROLL for (int c = 0; c < nc; c++) {
				const __m256i p = _mm256_maddubs_epi16(u, _mm256_sign_epi8(load256(xk[c][i].qs + 32 * g), sv));
				isum[c] = _mm256_add_epi32(isum[c], _mm256_madd_epi16(p, s16));
				if (nc > 1)
					keep_reg(&isum[c]);
			}
		}
		UNROLL for (int c = 0; c < nc; c++)
			acc[c] = _mm256_fmadd_ps(_mm256_set1_ps(d * xk[c][i].d), _mm256_cvtepi32_ps(isum[c]), acc[c]);
	}
	UNROLL for (int c = 0; c < nc; c++)
		out[c] = hsum_ps(acc[c]);
}
#define IQ1S_BODY iq1_s_body
#else
#define IQ1S_BODY k_body
#endif

/* iq2_xs's row kernel: k_body's sums for K_IQ2XS with the decoding above:
 * the signs in vector form (about 6 instructions a group, where KSIGN64
 * took four index extractions and four loads), and the grid indices of
 * block i + 1 masked and stored while block i is summed, so that the 16-bit
 * loads of the indices find them in L1 (read back right away they would
 * wait for the vector store: a failed store-to-load forwarding). The same
 * integers as k_body: the same |w|, signs and scales, and in cpu-avx512 the
 * same VPDPBUSD / VPACKSSDW / VPDPWSSD steps (exact: |w| <= 43). */
INLINE void iq2_xs_body(const void *wv, const struct xcol *x, int nc, int64_t n, float *out, int kind)
{
	const struct blk_iq2_xs *w = wv;
	const struct blk_q8_K *xk[NC];
	const int64_t nb = n / QK_K;
	__m256 acc[NC];
	UNROLL for (int c = 0; c < nc; c++) {
		xk[c] = (const struct blk_q8_K *)x[c].blk;
		acc[c] = _mm256_setzero_ps();
	}
	tables();
	uint16_t ix[2][32] __attribute__((aligned(32)));
	uint16_t *cur = ix[0], *next = ix[1];
	if (nb > 0)
		iq2_xs_ix(w, cur);
	for (int64_t i = 0; i < nb; i++) {
		const struct blk_iq2_xs *b = w + i;
		const float d = k_scale((const uint8_t *)b, kind);
		const __m256i scb = iq2_xs_scales(b);
		if (i + 1 < nb)
			iq2_xs_ix(b + 1, next);
		__asm__("" : "+m"(ix)); /* the loads below read memory, not the vectors */
		const uint16_t *j = cur;
		cur = next;
		next = (uint16_t *)j;
		__m256i isum[NC];
		UNROLL for (int c = 0; c < nc; c++)
			isum[c] = _mm256_setzero_si256();
		UNROLL for (int q = 0; q < 2; q++) {
			const __m256i sb = iq2_xs_sb(b, q);
			UNROLL for (int h = 0; h < 2; h++) {
				const int g = 4 * q + 2 * h;
				__m256i sv[2];
				iq2_xs_signs(sb, h, sv);
				const __m256i u0 = iq2_xs_grid(j + 4 * g), u1 = iq2_xs_grid(j + 4 * g + 4);
				const __m256i sc0 = _mm256_shuffle_epi8(scb, _mm256_set1_epi16((short)(0x8000 | g)));
				const __m256i sc1 = _mm256_shuffle_epi8(scb, _mm256_set1_epi16((short)(0x8000 | (g + 1))));
#if QNT_AVX512
				/* k_body's pair step */
				const __m256i s2 = _mm256_blend_epi16(sc0, sc1, 0xf0);
				UNROLL for (int c = 0; c < nc; c++) {
					const __m256i pa = dot4_u8s8(_mm256_setzero_si256(), u0,
								     _mm256_sign_epi8(load256(xk[c][i].qs + 32 * g), sv[0]));
					const __m256i pb = dot4_u8s8(_mm256_setzero_si256(), u1,
								     _mm256_sign_epi8(load256(xk[c][i].qs + 32 * g + 32), sv[1]));
					isum[c] = dot2_i16(isum[c], _mm256_packs_epi32(pa, pb), s2);
					if (nc > 1)
						keep_reg(&isum[c]);
				}
#else
				UNROLL for (int c = 0; c < nc; c++) {
					const __m256i pa = _mm256_maddubs_epi16(u0, _mm256_sign_epi8(load256(xk[c][i].qs + 32 * g), sv[0]));
					const __m256i pb = _mm256_maddubs_epi16(u1, _mm256_sign_epi8(load256(xk[c][i].qs + 32 * g + 32), sv[1]));
					isum[c] = _mm256_add_epi32(isum[c], _mm256_madd_epi16(pa, sc0));
					isum[c] = _mm256_add_epi32(isum[c], _mm256_madd_epi16(pb, sc1));
					if (nc > 1)
						keep_reg(&isum[c]);
				}
#endif
			}
		}
		UNROLL for (int c = 0; c < nc; c++)
			acc[c] = _mm256_fmadd_ps(_mm256_set1_ps(d * xk[c][i].d), _mm256_cvtepi32_ps(isum[c]), acc[c]);
	}
	UNROLL for (int c = 0; c < nc; c++)
		out[c] = hsum_ps(acc[c]);
}

/* GEMM: super-block i of a row decoded once (the 8 groups' weights and
 * scales, in L1) serves every column of the call, up to KG columns at a
 * time in registers. The super-blocks are the outer loop and the rows the
 * inner one, so that block i of the columns stays in L1 while every row
 * passes over it; each (row, column) keeps its float accumulator in acc[][]
 * between super-blocks, and its FMA sequence is k_body's.
 *
 * Every |w| <= 62 (not so for iq4_xs, which has no gemm_fn), so the codes
 * of block i of each column are first made unsigned, x + 128 (once per call
 * for 16 rows), so that one VPMADDUBSW takes them against the signed
 * weights (pairs at most 2 * 255 * 62 < 2^15: no saturation), with no sign
 * step per column; the 128 sum(scale * w) this adds is a per-row constant
 * that the sums start from. These integer sums are exact, so each output equals the exact
 * integer products' (the row kernel's sign step turns -128 into -128, not
 * +128, where w < 0: the two may differ by that). */
#define KG 8 /* columns per pass over a decoded super-block */

struct kdec {
	__m256i u[8], sc[8]; /* u: w */
	__m256i corr;        /* 128 sum(scale * w), 32-bit lanes */
};

INLINE void k_cols(const struct kdec *dk, const struct xcol *x, const uint8_t (*xu)[QK_K], int m, int64_t i,
		   float d, __m256 *acc)
{
	const struct blk_q8_K *xk[KG];
	__m256i isum[KG];
	UNROLL for (int c = 0; c < m; c++) {
		xk[c] = (const struct blk_q8_K *)x[c].blk + i;
		isum[c] = dk->corr;
	}
	UNROLL for (int g = 0; g < 8; g++) {
		__m256i u = dk->u[g], sc = dk->sc[g];
		keep_reg(&u); /* one load each for the KG columns, not one folded into each product */
		keep_reg(&sc);
		UNROLL for (int c = 0; c < m; c++) {
			/* dot2_i16: VPDPWSSD in cpu-avx512 (the same sums as
			 * VPMADDWD and VPADDD, one micro-op fewer; the KG columns'
			 * chains hide its latency) */
			const __m256i p = _mm256_maddubs_epi16(load256(xu[c] + 32 * g), u);
			isum[c] = dot2_i16(isum[c], p, sc);
			keep_reg(&isum[c]);
		}
	}
	UNROLL for (int c = 0; c < m; c++)
		acc[c] = _mm256_fmadd_ps(_mm256_set1_ps(d * xk[c]->d), _mm256_cvtepi32_ps(isum[c]), acc[c]);
}

#define K_COLS_CASE(M)                                        \
	case M:                                               \
		k_cols(dk, x, xu, M, i, d, acc);              \
		break;

INLINE void k_cols_n(const struct kdec *dk, const struct xcol *x, const uint8_t (*xu)[QK_K], int m, int64_t i,
		     float d, __m256 *acc)
{
	switch (m) {
		K_COLS_CASE(1)
		K_COLS_CASE(2)
		K_COLS_CASE(3)
		K_COLS_CASE(4)
		K_COLS_CASE(5)
		K_COLS_CASE(6)
		K_COLS_CASE(7)
	default:
		k_cols(dk, x, xu, KG, i, d, acc);
		break;
	}
}

INLINE void k_gemm(const void *wv, size_t wrs, int nr, const struct xcol *x, int nc, int64_t n, float *y,
		   int64_t ldy, int kind)
{
	const size_t wb = k_bytes(kind);
	__m256 acc[QNT__AVX2_GEMM_ROWS][QNT__AVX2_GEMM_COLS];
	uint8_t xu[QNT__AVX2_GEMM_COLS][QK_K] __attribute__((aligned(32)));
	struct kdec dk;
	for (int r = 0; r < nr; r++)
		for (int c = 0; c < nc; c++)
			acc[r][c] = _mm256_setzero_ps();
	tables();
	const __m256i bias = _mm256_set1_epi8((char)0x80);
	for (int64_t i = 0; i < n / QK_K; i++) {
		for (int c = 0; c < nc; c++)
			for (int g = 0; g < 8; g++)
				_mm256_store_si256((__m256i *)(xu[c] + 32 * g),
						   _mm256_xor_si256(load256(((const struct blk_q8_K *)x[c].blk)[i].qs + 32 * g), bias));
		for (int r = 0; r < nr; r++) {
			const uint8_t *b = (const uint8_t *)wv + (size_t)r * wrs + (size_t)i * wb;
			const float d = k_scale(b, kind);
			__m256i corr = _mm256_setzero_si256();
			UNROLL for (int g = 0; g < 8; g++) {
				__m256i sv;
				const __m256i u = k_decode(b, kind, g, &sv, &dk.sc[g]);
				dk.u[g] = _mm256_sign_epi8(u, sv);
				corr = dot2_i16(corr, _mm256_maddubs_epi16(bias, dk.u[g]), dk.sc[g]);
			}
			dk.corr = _mm256_sub_epi32(_mm256_setzero_si256(), corr);
			for (int c0 = 0; c0 < nc; c0 += KG)
				k_cols_n(&dk, x + c0, (const uint8_t(*)[QK_K])(xu + c0), nc - c0 < KG ? nc - c0 : KG, i, d, acc[r] + c0);
		}
	}
	for (int r = 0; r < nr; r++)
		for (int c = 0; c < nc; c++)
			y[c * ldy + r] = hsum_ps(acc[r][c]);
}

#define GEMM_FN(NAME, KIND)                                                                                       \
	void qnt__avx2_gemm_##NAME(const void *w, size_t wrs, int nr, const struct xcol *x, int nc, int64_t n,   \
				   float *y, int64_t ldy)                                                         \
	{                                                                                                         \
		k_gemm(w, wrs, nr, x, nc, n, y, ldy, KIND);                                                       \
	}

GEMM_FN(iq2_xxs, K_IQ2XXS)
GEMM_FN(iq2_xs, K_IQ2XS)
GEMM_FN(iq2_s, K_IQ2S)
GEMM_FN(iq3_xxs, K_IQ3XXS)
GEMM_FN(iq3_s, K_IQ3S)
GEMM_FN(iq1_s, K_IQ1S)
GEMM_FN(iq1_m, K_IQ1M)

/* tq1_0, tq2_0: the codes c (0..2 or 0..3) times x with VPMADDUBSW, summed
 * in 16-bit lanes over the super-block (|sum| <= 8 * 2 * 3 * 127), less
 * the sum of x (q8_K's sums of 16): sum (c - 1) x. */
INLINE void tq_body(const void *wv, const struct xcol *x, int nc, int64_t n, float *out, int kind)
{
	const size_t wb = k_bytes(kind);
	const struct blk_q8_K *xk[NC];
	__m256 acc[NC];
	UNROLL for (int c = 0; c < nc; c++) {
		xk[c] = (const struct blk_q8_K *)x[c].blk;
		acc[c] = _mm256_setzero_ps();
	}
	const __m256i ones = _mm256_set1_epi16(1);
	for (int64_t i = 0; i < n / QK_K; i++) {
		const uint8_t *b = (const uint8_t *)wv + (size_t)i * wb;
		prefetch_ahead(b, wb);
		const float d = k_scale(b, kind);
		__m256i s16[NC];
		UNROLL for (int c = 0; c < nc; c++)
			s16[c] = _mm256_setzero_si256();
		if (kind == K_TQ2) {
			/* the codes of groups 4h + 1 and 4h + 2 left in place, 4 c
			 * and 16 c (a mask, no shift), their sums kept apart and
			 * divided by 4 and 16 at the end (exact: multiples of 4 and
			 * 16): per 32 bytes one shift where there were three. In
			 * 16 bits: VPMADDUBSW's pairs at most 2 * 48 * 128, the
			 * 16 c sums (two of them) 24576. */
			__m256i s4[NC], s16x[NC];
			UNROLL for (int c = 0; c < nc; c++)
				s4[c] = s16x[c] = _mm256_setzero_si256();
			const __m256i m3 = _mm256_set1_epi8(3);
			UNROLL for (int h = 0; h < 2; h++) {
				const __m256i v = load256(((const struct blk_tq2_0 *)b)->qs + 32 * h);
				const __m256i c0 = _mm256_and_si256(v, m3), c1 = _mm256_and_si256(v, _mm256_set1_epi8(0x0c));
				const __m256i c2 = _mm256_and_si256(v, _mm256_set1_epi8(0x30));
				const __m256i c3 = _mm256_and_si256(_mm256_srli_epi16(v, 6), m3);
				UNROLL for (int c = 0; c < nc; c++) {
					const int8_t *xq = xk[c][i].qs + 128 * h;
					s16[c] = _mm256_add_epi16(s16[c], _mm256_add_epi16(_mm256_maddubs_epi16(c0, load256(xq)),
											    _mm256_maddubs_epi16(c3, load256(xq + 96))));
					s4[c] = _mm256_add_epi16(s4[c], _mm256_maddubs_epi16(c1, load256(xq + 32)));
					s16x[c] = _mm256_add_epi16(s16x[c], _mm256_maddubs_epi16(c2, load256(xq + 64)));
				}
			}
			UNROLL for (int c = 0; c < nc; c++)
				s16[c] = _mm256_add_epi16(s16[c], _mm256_add_epi16(_mm256_srai_epi16(s4[c], 2),
										    _mm256_srai_epi16(s16x[c], 4)));
		} else {
			UNROLL for (int g = 0; g < 8; g++) {
				const __m256i u = codes_tq1((const struct blk_tq1_0 *)b, g);
				UNROLL for (int c = 0; c < nc; c++)
					s16[c] = _mm256_add_epi16(s16[c], _mm256_maddubs_epi16(u, load256(xk[c][i].qs + 32 * g)));
			}
		}
		UNROLL for (int c = 0; c < nc; c++) {
			const __m256i bs = load256(xk[c][i].bsums);
			const __m256i isum = _mm256_madd_epi16(_mm256_sub_epi16(s16[c], bs), ones);
			acc[c] = _mm256_fmadd_ps(_mm256_set1_ps(d * xk[c][i].d), _mm256_cvtepi32_ps(isum), acc[c]);
		}
	}
	UNROLL for (int c = 0; c < nc; c++)
		out[c] = hsum_ps(acc[c]);
}

/* Against q8_0 (blocks of 32; the driver gives each column's block scales
 * as floats in x[c].d): per 32 weights w and one or two float scales. */
enum { Q_IQ4NL, Q_MXFP4, Q_NVFP4, Q_Q1_0, Q_Q2_0 };

/* The signed weights of q8_0 block j of a row, and their float scales
 * (both halves of 16 the same but for nvfp4). */
INLINE __m256i q_decode(const uint8_t *wv, int kind, int64_t j, __m256 *dv)
{
	switch (kind) {
	case Q_IQ4NL: {
		const struct blk_iq4_nl *b = (const struct blk_iq4_nl *)wv + j;
		*dv = _mm256_set1_ps(h2f(b->d));
		return lut16(KV_IQ4, nib32(b->qs));
	}
	case Q_MXFP4: {
		const struct blk_mxfp4 *b = (const struct blk_mxfp4 *)wv + j;
		*dv = _mm256_set1_ps(e8m0_half(b->e));
		return lut16(KV_FP4, nib32(b->qs));
	}
	case Q_NVFP4: {
		const struct blk_nvfp4 *b = (const struct blk_nvfp4 *)wv + j / 2;
		const int h = (int)(j % 2);
		*dv = _mm256_setr_m128(_mm_set1_ps(UE4M3_HALF[b->d[2 * h]]), _mm_set1_ps(UE4M3_HALF[b->d[2 * h + 1]]));
		return lut16(KV_FP4, codes_nvfp4(b, h));
	}
	case Q_Q1_0: {
		const struct blk_q1_0 *b = (const struct blk_q1_0 *)wv + j / 4;
		*dv = _mm256_set1_ps(h2f(b->d));
		/* +1 where the bit is set, -1 elsewhere */
		const __m256i idx = _mm256_set_epi64x(0x0303030303030303ll, 0x0202020202020202ll, 0x0101010101010101ll, 0);
		const __m256i sel = _mm256_set1_epi64x((long long)0x8040201008040201ull);
		const __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)load_u32(b->qs + 4 * (j % 4))), idx);
		return _mm256_or_si256(_mm256_cmpeq_epi8(_mm256_and_si256(v, sel), _mm256_setzero_si256()),
				       _mm256_set1_epi8(1));
	}
	default: {
		const struct blk_q2_0 *b = (const struct blk_q2_0 *)wv + j / 2;
		*dv = _mm256_set1_ps(h2f(b->d));
		return _mm256_sub_epi8(codes_q2_0(b, (int)(j % 2)), _mm256_set1_epi8(1));
	}
	}
}

#define Q_STEP(J, ACC)                                                                                            \
	{                                                                                                         \
		__m256 dv;                                                                                        \
		const __m256i w = q_decode((const uint8_t *)wv, kind, J, &dv);                                    \
		const __m256i aw = _mm256_sign_epi8(w, w);                                                        \
		UNROLL for (int c = 0; c < nc; c++) {                                                             \
			const __m256i xq = load256(x[c].blk + (size_t)(J) * sizeof(struct blk_q8_0) +             \
						   offsetof(struct blk_q8_0, qs));                                \
			const __m256i p = dot4_u8s8(_mm256_setzero_si256(), aw, _mm256_sign_epi8(xq, w));          \
			ACC[c] = _mm256_fmadd_ps(_mm256_mul_ps(dv, _mm256_set1_ps(x[c].d[J])), _mm256_cvtepi32_ps(p), \
						 ACC[c]);                                                         \
		}                                                                                                 \
	}

/* Two sets of accumulators alternate between blocks to hide the FMA
 * latency. A block's 32-bit sums: dot4_u8s8 (VPDPBUSD in cpu-avx512), the
 * same as VPMADDUBSW and VPMADDWD since |w| <= 127 here (iq4_nl 127, the
 * E2M1 formats 12, q1_0 1, q2_0 2): a pair sum is at most 2 * 127 * 128. */
INLINE void q8_0_body(const void *wv, const struct xcol *x, int nc, int64_t n, float *out, int kind)
{
	__m256 acc0[NC], acc1[NC];
	UNROLL for (int c = 0; c < nc; c++)
		acc0[c] = acc1[c] = _mm256_setzero_ps();
	if (kind == Q_NVFP4)
		tables();
	const int64_t nb = n / 32;
	int64_t j = 0;
	for (; j + 1 < nb; j += 2) {
		Q_STEP(j, acc0)
		Q_STEP(j + 1, acc1)
	}
	if (j < nb)
		Q_STEP(j, acc0)
	UNROLL for (int c = 0; c < nc; c++)
		out[c] = hsum_ps(_mm256_add_ps(acc0[c], acc1[c]));
}

/* iq4_nl, four blocks at a time: each block's pair sums (up to 2 * 127 *
 * 127: no room for a 16-bit fold) widened, the four folded (fold4_i32)
 * into one vector whose 32-bit sums are [b0 b1 b2 b3] of each lane,
 * then one FMA with the four blocks' d_w (their fp16 converted together)
 * times the four d_x; a tail of fewer than four blocks through Q_STEP. */
INLINE void iq4_nl_body(const void *wv, const struct xcol *x, int nc, int64_t n, float *out, int kind)
{
	__m256 acc0[NC], acc1[NC];
	UNROLL for (int c = 0; c < nc; c++)
		acc0[c] = acc1[c] = _mm256_setzero_ps();
	const int64_t nb = n / 32;
	const struct blk_iq4_nl *blk = wv;
	int64_t j = 0;
	for (; j + 4 <= nb; j += 4) {
		const struct blk_iq4_nl *b = blk + j;
		const __m128 dw = _mm_cvtph_ps(_mm_setr_epi16((short)b[0].d, (short)b[1].d, (short)b[2].d, (short)b[3].d,
							      0, 0, 0, 0));
		__m256i wk[4], uk[4];
		UNROLL for (int k = 0; k < 4; k++) {
			wk[k] = lut16(KV_IQ4, nib32(b[k].qs));
			uk[k] = _mm256_sign_epi8(wk[k], wk[k]);
		}
		UNROLL for (int c = 0; c < nc; c++) {
			const uint8_t *xb = x[c].blk + (size_t)j * sizeof(struct blk_q8_0) + offsetof(struct blk_q8_0, qs);
			__m256i pk[4];
			UNROLL for (int k = 0; k < 4; k++)
				pk[k] = dot4_u8s8(_mm256_setzero_si256(), uk[k],
						  _mm256_sign_epi8(load256(xb + (size_t)k * sizeof(struct blk_q8_0)), wk[k]));
			const __m256i h = fold4_i32(pk);
			const __m128 s = _mm_mul_ps(dw, _mm_loadu_ps(x[c].d + j));
			acc0[c] = _mm256_fmadd_ps(_mm256_setr_m128(s, s), _mm256_cvtepi32_ps(h), acc0[c]);
		}
	}
	for (; j < nb; j++)
		Q_STEP(j, acc1)
	UNROLL for (int c = 0; c < nc; c++)
		out[c] = hsum_ps(_mm256_add_ps(acc0[c], acc1[c]));
}

#if !QNT_AVX512
/* The d of four iq4_nl blocks (18 bytes apart) in words 0..3: the 16-byte
 * word at byte 16k holds block k's d in its word k. */
INLINE __m128i iq4_nl_d4(const struct blk_iq4_nl *b)
{
	const uint8_t *p = (const uint8_t *)b;
	__m128i v = _mm_blend_epi16(load128(p), load128(p + 16), 0x02);
	v = _mm_blend_epi16(v, load128(p + 32), 0x04);
	return _mm_blend_epi16(v, load128(p + 48), 0x08);
}

/* iq4_nl, two rows at a time (row2_fn; avx2.c's k45_2_body has the lane
 * scheme): a block's 16 code bytes of row a in the low lane and of row b in
 * the high, so the low nibbles are elements 0..15 of both and the high
 * nibbles 16..31, against 16-byte broadcasts of the activations; each
 * block's pair sums (iq4_nl_body's bounds) widened and added into one
 * vector, four blocks folded (fold4_i32) into [b0 b1 b2 b3] per lane, then
 * one FMA with the eight scales [d_a0..d_a3, d_b0..d_b3] (iq4_nl_d4) times
 * the four d_x. nk (1..4) blocks from block j; a missing block's sums and
 * scale are 0. */
INLINE void iq4_nl_2_step(const struct blk_iq4_nl *a, const struct blk_iq4_nl *b, const struct xcol *x, int nc,
			  int64_t j, int nk, __m256 *acc)
{
	const __m256i m4 = _mm256_set1_epi8(0x0f), ones = _mm256_set1_epi16(1);
	__m256i lo[4], hi[4];
	UNROLL for (int k = 0; k < nk; k++) {
		const __m256i v = load2x128(a[j + k].qs, b[j + k].qs);
		lo[k] = lut16(KV_IQ4, _mm256_and_si256(v, m4));
		hi[k] = lut16(KV_IQ4, _mm256_and_si256(_mm256_srli_epi16(v, 4), m4));
	}
	const __m256 dw = _mm256_cvtph_ps(nk == 4 ? _mm_unpacklo_epi64(iq4_nl_d4(a + j), iq4_nl_d4(b + j))
						 : _mm_setr_epi16((short)a[j].d, nk > 1 ? (short)a[j + 1].d : 0,
								  nk > 2 ? (short)a[j + 2].d : 0, 0, (short)b[j].d,
								  nk > 1 ? (short)b[j + 1].d : 0,
								  nk > 2 ? (short)b[j + 2].d : 0, 0));
	UNROLL for (int c = 0; c < nc; c++) {
		const uint8_t *xb = x[c].blk + (size_t)j * sizeof(struct blk_q8_0) + offsetof(struct blk_q8_0, qs);
		__m256i pk[4];
		UNROLL for (int k = 0; k < 4; k++) {
			if (k >= nk) {
				pk[k] = _mm256_setzero_si256();
				continue;
			}
			const uint8_t *xk = xb + (size_t)k * sizeof(struct blk_q8_0);
			const __m256i pl = _mm256_maddubs_epi16(_mm256_sign_epi8(lo[k], lo[k]),
								_mm256_sign_epi8(bcast128(xk), lo[k]));
			const __m256i ph = _mm256_maddubs_epi16(_mm256_sign_epi8(hi[k], hi[k]),
								_mm256_sign_epi8(bcast128(xk + 16), hi[k]));
			pk[k] = _mm256_add_epi32(_mm256_madd_epi16(pl, ones), _mm256_madd_epi16(ph, ones));
		}
		const __m128 dx = nk == 4 ? _mm_loadu_ps(x[c].d + j)
					  : _mm_setr_ps(x[c].d[j], nk > 1 ? x[c].d[j + 1] : 0.0f,
							nk > 2 ? x[c].d[j + 2] : 0.0f, 0.0f);
		acc[c] = _mm256_fmadd_ps(_mm256_mul_ps(dw, _mm256_setr_m128(dx, dx)), _mm256_cvtepi32_ps(fold4_i32(pk)),
					 acc[c]);
	}
}

/* Two rows' bytes 1 KiB ahead of byte `at` (two cache lines each), past
 * a row's end in the next pair's row (2 rs further on, where avx2_matmul's
 * next pair starts): the hardware prefetcher does not follow the two
 * interleaved streams (iq4_nl from memory, 4096 x 4096, 1 thread, process
 * CPU time against the one-row kernel: 0.70x without, 0.78x with the
 * prefetch running into the other row of the same pair, 1.10x so). */
INLINE void prefetch_pair(const void *a, const void *b, size_t at, size_t rs)
{
	size_t p = at + 1024;
	p += p >= rs ? rs : 0;
	_mm_prefetch((const char *)a + p, _MM_HINT_T0);
	_mm_prefetch((const char *)a + p + 64, _MM_HINT_T0);
	_mm_prefetch((const char *)b + p, _MM_HINT_T0);
	_mm_prefetch((const char *)b + p + 64, _MM_HINT_T0);
}

INLINE void iq4_nl_2_body(const void *w0, const void *w1, const struct xcol *x, int nc, int64_t n, float *out)
{
	const struct blk_iq4_nl *a = w0, *b = w1;
	__m256 acc[NC];
	UNROLL for (int c = 0; c < nc; c++)
		acc[c] = _mm256_setzero_ps();
	const int64_t nb = n / 32;
	int64_t j = 0;
	const size_t rs = (size_t)nb * sizeof(struct blk_iq4_nl);
	for (; j + 4 <= nb; j += 4) {
		prefetch_pair(a, b, (size_t)j * sizeof(struct blk_iq4_nl), rs);
		iq4_nl_2_step(a, b, x, nc, j, 4, acc);
	}
	switch (nb - j) {
	case 1:
		iq4_nl_2_step(a, b, x, nc, j, 1, acc);
		break;
	case 2:
		iq4_nl_2_step(a, b, x, nc, j, 2, acc);
		break;
	case 3:
		iq4_nl_2_step(a, b, x, nc, j, 3, acc);
		break;
	default:
		break;
	}
	UNROLL for (int c = 0; c < nc; c++)
		hsum2_ps(acc[c], out + 2 * c);
}
#endif

/* mxfp4, four blocks at a time: the codes as w + 12 (0..24, KV_FP4_U)
 * multiply the activations directly (no sign trick); the blocks' pair sums
 * (at most 2 * 24 * 128, four of them 24 * 128 * 8 after the folds, in 16
 * bits) folded by three VPHADDW into one vector whose 32-bit pair sums are
 * [b0 b1 b2 b3] of each lane, then one FMA with the four blocks' scales
 * (their E8M0 halves made as e8m0_half does, times the four d_x); the
 * offset, 12 times each block's scale times d_x sum(x) (x[c].s), is one
 * FMA per four blocks on four floats. A tail of fewer than four blocks
 * through Q_STEP. */
INLINE void mxfp4_body(const void *wv, const struct xcol *x, int nc, int64_t n, float *out, int kind)
{
#if !QNT_AVX512
	const __m256i ones = _mm256_set1_epi16(1);
#endif
	__m256 acc0[NC], acc1[NC];
	__m128 cor[NC];
	UNROLL for (int c = 0; c < nc; c++) {
		acc0[c] = acc1[c] = _mm256_setzero_ps();
		cor[c] = _mm_setzero_ps();
	}
	const int64_t nb = n / 32;
	const struct blk_mxfp4 *blk = wv;
	int64_t j = 0;
	for (; j + 4 <= nb; j += 4) {
		const struct blk_mxfp4 *b = blk + j;
		const __m128i e = _mm_setr_epi32(b[0].e, b[1].e, b[2].e, b[3].e);
		const __m128i sub = _mm_slli_epi32(_mm_sub_epi32(e, _mm_set1_epi32(1)), 23);
		const __m128i den = _mm_sllv_epi32(_mm_set1_epi32(0x00200000), e);
		const __m128 eh = _mm_castsi128_ps(_mm_blendv_epi8(sub, den, _mm_cmplt_epi32(e, _mm_set1_epi32(2))));
		__m256i uk[4];
		UNROLL for (int k = 0; k < 4; k++)
			uk[k] = lut16(KV_FP4_U, nib32(b[k].qs));
		UNROLL for (int c = 0; c < nc; c++) {
			const uint8_t *xb = x[c].blk + (size_t)j * sizeof(struct blk_q8_0) + offsetof(struct blk_q8_0, qs);
			__m256i pk[4];
#if QNT_AVX512
			/* VPDPBUSD: each block's sums in 32-bit lanes (the same:
			 * 24 * 128 * 2 leaves VPMADDUBSW unsaturated), folded by
			 * unpacks into the same [b0 b1 b2 b3] per lane, in place
			 * of three VPHADDW (three micro-ops each) and a VPMADDWD. */
			UNROLL for (int k = 0; k < 4; k++)
				pk[k] = dot4_u8s8(_mm256_setzero_si256(), uk[k], load256(xb + (size_t)k * sizeof(struct blk_q8_0)));
			const __m256i h = fold4_i32(pk);
#else
			UNROLL for (int k = 0; k < 4; k++)
				pk[k] = _mm256_maddubs_epi16(uk[k], load256(xb + (size_t)k * sizeof(struct blk_q8_0)));
			const __m256i h = _mm256_madd_epi16(
				_mm256_hadd_epi16(_mm256_hadd_epi16(pk[0], pk[1]), _mm256_hadd_epi16(pk[2], pk[3])), ones);
#endif
			const __m128 s = _mm_mul_ps(eh, _mm_loadu_ps(x[c].d + j));
			acc0[c] = _mm256_fmadd_ps(_mm256_setr_m128(s, s), _mm256_cvtepi32_ps(h), acc0[c]);
			cor[c] = _mm_fmadd_ps(eh, _mm_loadu_ps(x[c].s + j), cor[c]);
		}
	}
	for (; j < nb; j++)
		Q_STEP(j, acc1)
	UNROLL for (int c = 0; c < nc; c++) {
		__m128 t = _mm_add_ps(cor[c], _mm_movehl_ps(cor[c], cor[c]));
		t = _mm_add_ss(t, _mm_movehdup_ps(t));
		out[c] = hsum_ps(_mm256_add_ps(acc0[c], acc1[c])) - 12.0f * _mm_cvtss_f32(t);
	}
}

#if !QNT_AVX512
/* The E8M0 bytes of four mxfp4 blocks (17 bytes apart) in bytes 0..3: the
 * 16-byte word at byte 16k holds block k's e in its byte k. */
INLINE __m128i mxfp4_e4(const struct blk_mxfp4 *b)
{
	const uint8_t *p = (const uint8_t *)b;
	__m128i v = _mm_blendv_epi8(load128(p), load128(p + 16), _mm_setr_epi8(0, -1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
	v = _mm_blendv_epi8(v, load128(p + 32), _mm_setr_epi8(0, 0, -1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
	return _mm_blendv_epi8(v, load128(p + 48), _mm_setr_epi8(0, 0, 0, -1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
}

/* mxfp4, two rows at a time (row2_fn; iq4_nl_2_step's lanes): the codes as
 * w + 12 (0..24) times x; a block's low and high nibbles' pair sums (each
 * at most 2 * 24 * 128) added in 16 bits, four blocks folded by a VPHADDW
 * per two (a lane then at most 4 * 2 * 24 * 128 < 2^15), VPMADDWD and a
 * VPHADDD into [b0 b1 b2 b3] per lane, then one FMA with the eight scales
 * (e8m0_half_v) times the four d_x, and the offset 12 times the scales
 * times d_x sum(x) (x[c].s) summed apart (cor). nk (1..4) blocks from block
 * j; a missing block's sums, d_x and sum are 0. */
INLINE void mxfp4_2_step(const struct blk_mxfp4 *a, const struct blk_mxfp4 *b, const struct xcol *x, int nc,
			 int64_t j, int nk, __m256 *acc, __m256 *cor)
{
	const __m256i m4 = _mm256_set1_epi8(0x0f), ones = _mm256_set1_epi16(1);
	__m256i lo[4], hi[4];
	UNROLL for (int k = 0; k < nk; k++) {
		const __m256i v = load2x128(a[j + k].qs, b[j + k].qs);
		lo[k] = lut16(KV_FP4_U, _mm256_and_si256(v, m4));
		hi[k] = lut16(KV_FP4_U, _mm256_and_si256(_mm256_srli_epi16(v, 4), m4));
	}
	const __m256i e = nk == 4 ? _mm256_cvtepu8_epi32(_mm_unpacklo_epi32(mxfp4_e4(a + j), mxfp4_e4(b + j)))
				  : _mm256_setr_epi32(a[j].e, nk > 1 ? a[j + 1].e : 0, nk > 2 ? a[j + 2].e : 0, 0, b[j].e,
						      nk > 1 ? b[j + 1].e : 0, nk > 2 ? b[j + 2].e : 0, 0);
	const __m256 eh = e8m0_half_v(e);
	UNROLL for (int c = 0; c < nc; c++) {
		const uint8_t *xb = x[c].blk + (size_t)j * sizeof(struct blk_q8_0) + offsetof(struct blk_q8_0, qs);
		__m256i pk[4];
		UNROLL for (int k = 0; k < 4; k++) {
			if (k >= nk) {
				pk[k] = _mm256_setzero_si256();
				continue;
			}
			const uint8_t *xk = xb + (size_t)k * sizeof(struct blk_q8_0);
			pk[k] = _mm256_add_epi16(_mm256_maddubs_epi16(lo[k], bcast128(xk)),
						 _mm256_maddubs_epi16(hi[k], bcast128(xk + 16)));
		}
		const __m256i h = _mm256_hadd_epi32(_mm256_madd_epi16(_mm256_hadd_epi16(pk[0], pk[1]), ones),
						    _mm256_madd_epi16(_mm256_hadd_epi16(pk[2], pk[3]), ones));
		__m128 dx, sx;
		if (nk == 4) {
			dx = _mm_loadu_ps(x[c].d + j);
			sx = _mm_loadu_ps(x[c].s + j);
		} else {
			dx = _mm_setr_ps(x[c].d[j], nk > 1 ? x[c].d[j + 1] : 0.0f, nk > 2 ? x[c].d[j + 2] : 0.0f, 0.0f);
			sx = _mm_setr_ps(x[c].s[j], nk > 1 ? x[c].s[j + 1] : 0.0f, nk > 2 ? x[c].s[j + 2] : 0.0f, 0.0f);
		}
		acc[c] = _mm256_fmadd_ps(_mm256_mul_ps(eh, _mm256_setr_m128(dx, dx)), _mm256_cvtepi32_ps(h), acc[c]);
		cor[c] = _mm256_fmadd_ps(eh, _mm256_setr_m128(sx, sx), cor[c]);
	}
}

INLINE void mxfp4_2_body(const void *w0, const void *w1, const struct xcol *x, int nc, int64_t n, float *out)
{
	const struct blk_mxfp4 *a = w0, *b = w1;
	__m256 acc[NC], cor[NC];
	UNROLL for (int c = 0; c < nc; c++)
		acc[c] = cor[c] = _mm256_setzero_ps();
	const int64_t nb = n / 32;
	int64_t j = 0;
	const size_t rs = (size_t)nb * sizeof(struct blk_mxfp4);
	for (; j + 4 <= nb; j += 4) {
		prefetch_pair(a, b, (size_t)j * sizeof(struct blk_mxfp4), rs);
		mxfp4_2_step(a, b, x, nc, j, 4, acc, cor);
	}
	switch (nb - j) {
	case 1:
		mxfp4_2_step(a, b, x, nc, j, 1, acc, cor);
		break;
	case 2:
		mxfp4_2_step(a, b, x, nc, j, 2, acc, cor);
		break;
	case 3:
		mxfp4_2_step(a, b, x, nc, j, 3, acc, cor);
		break;
	default:
		break;
	}
	UNROLL for (int c = 0; c < nc; c++) {
		float o[2], oc[2];
		hsum2_ps(acc[c], o);
		hsum2_ps(cor[c], oc);
		out[2 * c] = o[0] - 12.0f * oc[0];
		out[2 * c + 1] = o[1] - 12.0f * oc[1];
	}
}
#endif

/* nvfp4 GEMV (one column), a block (64 elements: four sub-blocks of 16,
 * each with its UE4M3 scale; q8_0 blocks 2i and 2i + 1) at a time: the 32
 * code bytes in one load, their low and high nibbles regrouped by two
 * VPUNPCK*QDQ into sub-blocks 0 | 2 and 1 | 3 (a sub-block per 128-bit
 * lane, elements in order), so that each lane meets 16 activations of one
 * q8_0 block (two 16-byte loads a register) and one float scale, s_k d_x,
 * set per lane by VPERMPS from the four products: no per-half decoding
 * (codes_nvfp4's VPERMQ) and one scale vector per block. The 32-bit sums:
 * dot4_u8s8 with the sign trick (|w| <= 12: pair sums at most 2 * 12 *
 * 128), the same integers per lane as Q_STEP's; the float steps differ
 * from it by rounding only (another order of the adds). Several columns
 * keep q8_0_body, whose decoding serves them all (this kernel's per-column
 * activation and scale steps made four columns 12% slower). */
static void nvfp4_gemv(const void *wv, const struct xcol *x, int64_t n, float *out)
{
	const struct blk_nvfp4 *w = wv;
	const __m256i m4 = _mm256_set1_epi8(0x0f);
	const __m256i ia = _mm256_setr_epi32(0, 0, 0, 0, 2, 2, 2, 2), ib = _mm256_setr_epi32(1, 1, 1, 1, 3, 3, 3, 3);
	__m256 acc = _mm256_setzero_ps();
	tables();
	for (int64_t i = 0; i < n / 64; i++) {
		const __m256i v = load256(w[i].qs);
		const __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
		const __m256i wa = lut16(KV_FP4, _mm256_unpacklo_epi64(lo, hi)); /* sub-blocks 0 | 2 */
		const __m256i wb = lut16(KV_FP4, _mm256_unpackhi_epi64(lo, hi)); /* sub-blocks 1 | 3 */
		const __m128 s4 = _mm_setr_ps(UE4M3_HALF[w[i].d[0]], UE4M3_HALF[w[i].d[1]], UE4M3_HALF[w[i].d[2]],
					      UE4M3_HALF[w[i].d[3]]);
		const uint8_t *x0 = x->blk + (size_t)(2 * i) * sizeof(struct blk_q8_0) + offsetof(struct blk_q8_0, qs);
		const uint8_t *x1 = x0 + sizeof(struct blk_q8_0);
		const __m256i xa = _mm256_inserti128_si256(_mm256_castsi128_si256(load128(x0)), load128(x1), 1);
		const __m256i xb = _mm256_inserti128_si256(_mm256_castsi128_si256(load128(x0 + 16)), load128(x1 + 16), 1);
		const __m256i pa = dot4_u8s8(_mm256_setzero_si256(), _mm256_sign_epi8(wa, wa), _mm256_sign_epi8(xa, wa));
		const __m256i pb = dot4_u8s8(_mm256_setzero_si256(), _mm256_sign_epi8(wb, wb), _mm256_sign_epi8(xb, wb));
		/* [s0 d0, s1 d0, s2 d1, s3 d1] (d0, d1: the two q8_0 blocks' d) */
		const __m128 dx = _mm_castpd_ps(_mm_load_sd((const double *)(x->d + 2 * i)));
		const __m256 sd = _mm256_castps128_ps256(_mm_mul_ps(s4, _mm_unpacklo_ps(dx, dx)));
		acc = _mm256_fmadd_ps(_mm256_permutevar8x32_ps(sd, ia), _mm256_cvtepi32_ps(pa), acc);
		acc = _mm256_fmadd_ps(_mm256_permutevar8x32_ps(sd, ib), _mm256_cvtepi32_ps(pb), acc);
	}
	*out = hsum_ps(acc);
}

/* q1_0 (w = +-1): w . x = 2 sum(x where the bit is set) - sum(x), with
 * sum(x) d_x given per q8_0 block in x[c].s. Per q1_0 block (four q8_0
 * blocks): each group's bits widened once to a byte mask shared by the
 * columns, x masked and summed in pairs (VPMADDUBSW by ones), the four
 * groups' pair sums folded by three VPHADDW into one vector (|sum| <= 16 *
 * 127 in 16 bits) whose 32-bit pair sums are [g0 g1 g2 g3] of each lane,
 * then one FMA with 2 d_w times the four d_x; the sum(x) term is one FMA
 * per block on four floats. */
INLINE void q1_0_body(const void *wv, const struct xcol *x, int nc, int64_t n, float *out, int kind)
{
	(void)kind;
	const struct blk_q1_0 *w = wv;
	const __m256i ones8 = _mm256_set1_epi8(1);
#if !QNT_AVX512
	const __m256i ones16 = _mm256_set1_epi16(1);
#endif
	const __m256i sel = _mm256_set1_epi64x((long long)0x8040201008040201ull);
	/* group g's bytes 4g..4g+3: each repeated 8 times, two per lane */
	const __m256i idx0 = _mm256_set_epi64x(0x0303030303030303ll, 0x0202020202020202ll, 0x0101010101010101ll, 0);
	const __m256i four = _mm256_set1_epi8(4);
	__m256 acc[NC];
	__m128 accs[NC];
	UNROLL for (int c = 0; c < nc; c++) {
		acc[c] = _mm256_setzero_ps();
		accs[c] = _mm_setzero_ps();
	}
	for (int64_t i = 0; i < n / 128; i++) {
		const float d = h2f(w[i].d);
		const __m256i bits = _mm256_broadcastsi128_si256(load128(w[i].qs));
		__m256i m[4];
		__m256i idx = idx0;
		UNROLL for (int g = 0; g < 4; g++) {
			const __m256i v = _mm256_and_si256(_mm256_shuffle_epi8(bits, idx), sel);
#if QNT_AVX512
			m[g] = _mm256_min_epu8(v, ones8); /* the bits as bytes 0 / 1 */
#else
			m[g] = _mm256_cmpeq_epi8(v, sel);
#endif
			idx = _mm256_add_epi8(idx, four);
		}
		const __m256 d2 = _mm256_set1_ps(2.0f * d);
		UNROLL for (int c = 0; c < nc; c++) {
			const uint8_t *xb = x[c].blk + (size_t)(4 * i) * sizeof(struct blk_q8_0) + offsetof(struct blk_q8_0, qs);
			__m256i p[4];
#if QNT_AVX512
			/* VPDPBUSD of the 0 / 1 bits with x: the masked sums in
			 * 32-bit lanes with no mask step per column, folded by
			 * unpacks into the same [g0 g1 g2 g3] per lane. */
			UNROLL for (int g = 0; g < 4; g++)
				p[g] = dot4_u8s8(_mm256_setzero_si256(), m[g], load256(xb + (size_t)g * sizeof(struct blk_q8_0)));
			const __m256i h = fold4_i32(p);
#else
			UNROLL for (int g = 0; g < 4; g++)
				p[g] = _mm256_maddubs_epi16(ones8, _mm256_and_si256(load256(xb + (size_t)g * sizeof(struct blk_q8_0)), m[g]));
			const __m256i h = _mm256_madd_epi16(_mm256_hadd_epi16(_mm256_hadd_epi16(p[0], p[1]), _mm256_hadd_epi16(p[2], p[3])),
							    ones16);
#endif
			const __m256 dx = _mm256_broadcast_ps((const __m128 *)(x[c].d + 4 * i));
			acc[c] = _mm256_fmadd_ps(_mm256_mul_ps(d2, dx), _mm256_cvtepi32_ps(h), acc[c]);
			accs[c] = _mm_fmadd_ps(_mm256_castps256_ps128(d2), _mm_loadu_ps(x[c].s + 4 * i), accs[c]);
		}
	}
	UNROLL for (int c = 0; c < nc; c++) {
		/* accs holds 2 d sum(x) d_x: half of it is the sum(x) term */
		__m128 t = _mm_add_ps(_mm256_castps256_ps128(acc[c]), _mm256_extractf128_ps(acc[c], 1));
		t = _mm_sub_ps(t, _mm_mul_ps(accs[c], _mm_set1_ps(0.5f)));
		t = _mm_add_ps(t, _mm_movehl_ps(t, t));
		t = _mm_add_ss(t, _mm_movehdup_ps(t));
		out[c] = _mm_cvtss_f32(t);
	}
}

/* One exported row kernel per format, specialised for 1..NC columns. */
#define ROW_FN(NAME, BODY, KIND)                                                                     \
	void qnt__avx2_mm_##NAME(const void *w, const struct xcol *x, int nc, int64_t n, float *out) \
	{                                                                                            \
		switch (nc) {                                                                        \
		case 1:                                                                              \
			BODY(w, x, 1, n, out, KIND);                                                 \
			break;                                                                       \
		case 2:                                                                              \
			BODY(w, x, 2, n, out, KIND);                                                 \
			break;                                                                       \
		case 3:                                                                              \
			BODY(w, x, 3, n, out, KIND);                                                 \
			break;                                                                       \
		default:                                                                             \
			BODY(w, x, NC, n, out, KIND);                                                \
			break;                                                                       \
		}                                                                                    \
	}

ROW_FN(iq2_xxs, k_body, K_IQ2XXS)
ROW_FN(iq2_xs, iq2_xs_body, K_IQ2XS)
ROW_FN(iq2_s, k_body, K_IQ2S)
ROW_FN(iq3_xxs, k_body, K_IQ3XXS)
ROW_FN(iq3_s, k_body, K_IQ3S)
ROW_FN(iq1_s, IQ1S_BODY, K_IQ1S)
ROW_FN(iq1_m, k_body, K_IQ1M)
ROW_FN(iq4_xs, k_body, K_IQ4XS)
ROW_FN(tq1_0, tq_body, K_TQ1)
ROW_FN(tq2_0, tq_body, K_TQ2)
ROW_FN(iq4_nl, iq4_nl_body, Q_IQ4NL)
ROW_FN(mxfp4, mxfp4_body, Q_MXFP4)
#if !QNT_AVX512
void qnt__avx2_mm2_iq4_nl(const void *w0, const void *w1, const struct xcol *x, int nc, int64_t n, float *out)
{
	switch (nc) {
	case 1:
		iq4_nl_2_body(w0, w1, x, 1, n, out);
		break;
	case 2:
		iq4_nl_2_body(w0, w1, x, 2, n, out);
		break;
	case 3:
		iq4_nl_2_body(w0, w1, x, 3, n, out);
		break;
	default:
		iq4_nl_2_body(w0, w1, x, NC, n, out);
		break;
	}
}
void qnt__avx2_mm2_mxfp4(const void *w0, const void *w1, const struct xcol *x, int nc, int64_t n, float *out)
{
	switch (nc) {
	case 1:
		mxfp4_2_body(w0, w1, x, 1, n, out);
		break;
	case 2:
		mxfp4_2_body(w0, w1, x, 2, n, out);
		break;
	case 3:
		mxfp4_2_body(w0, w1, x, 3, n, out);
		break;
	default:
		mxfp4_2_body(w0, w1, x, NC, n, out);
		break;
	}
}
#endif
/* nvfp4: nvfp4_gemv for one column, q8_0_body for more. */
void qnt__avx2_mm_nvfp4(const void *w, const struct xcol *x, int nc, int64_t n, float *out)
{
	switch (nc) {
	case 1:
		nvfp4_gemv(w, x, n, out);
		break;
	case 2:
		q8_0_body(w, x, 2, n, out, Q_NVFP4);
		break;
	case 3:
		q8_0_body(w, x, 3, n, out, Q_NVFP4);
		break;
	default:
		q8_0_body(w, x, NC, n, out, Q_NVFP4);
		break;
	}
}
ROW_FN(q1_0, q1_0_body, Q_Q1_0)
ROW_FN(q2_0, q8_0_body, Q_Q2_0)
