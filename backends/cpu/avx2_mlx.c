/* SPDX-License-Identifier: MIT */
/*
 * cpu-avx2 kernels for the registry's MLX formats ("mlx:*": one group per
 * block, the codes as an LSB-first bitstream, then the scale and, for
 * affine, the bias; lib/core/quant_mlx.c).
 *
 *   dequantize  the reference's floats (quant_mlx.c's dequant_blocks):
 *               affine f32(f32(q * s) + b), mxfp4 e2m1[q] * 2^(e - 127),
 *               mxfp8 e4m3(q) * 2^(e - 127), nvfp4 e2m1[q] * e4m3(scale).
 *   matmul      one row against up to four float columns: per group the
 *               codes (affine) or the unscaled element values (fp modes)
 *               times x, accumulated with FMA, then scaled once per group;
 *               affine adds b * (sum of x over the group), the sums taken
 *               once per call. The same real number as the dequantized row
 *               times x, within the float tolerance of the float formats.
 *
 * Eight codes of b bits fill exactly b bytes (every group starts on a word
 * boundary), so a chunk of eight is one 64-bit load, shifted lane by lane.
 */
#include "cpu_avx2.h"
#include "avx2_util.h"
#include "qnt_fp.h"
#include "quant_mlx.h"

#include <immintrin.h>
#include <string.h>

static const float e2m1_tab[16] = { 0.0f,  0.5f,  1.0f,  1.5f,  2.0f,  3.0f,  4.0f,  6.0f,
				    -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f };

int qnt__avx2_mlx_init(qnt_type type, struct qnt__avx2_mlx *k)
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
	/* a 64-bit load of the last chunk reads 8 - bits bytes past the codes:
	 * safe when the scale (and bias) bytes cover them */
	k->tail_safe = 8 - (size_t)f.bits <= k->block_bytes - k->code_bytes;
	return 1;
}

/* The shifts and mask that take eight b-bit codes out of a 64-bit word:
 * even elements in the low halves of the 64-bit lanes, odd ones moved to
 * the high halves, so that the dwords come out in element order. */
struct unpack8 {
	__m256i sh_even, sh_odd, mask;
};

INLINE struct unpack8 unpack8_for(int b)
{
	struct unpack8 u;
	u.sh_even = _mm256_setr_epi64x(0, 2 * b, 4 * b, 6 * b);
	u.sh_odd = _mm256_setr_epi64x(b, 3 * b, 5 * b, 7 * b);
	u.mask = _mm256_set1_epi32((1 << b) - 1);
	return u;
}

/* The eight codes of chunk c of a block (bits 2..8), in element order. A
 * chunk is b bytes; the last one of a block is read as the 8 bytes that
 * end with it (a block has at least 8 code bytes), the others as the 8
 * bytes that start with it (the bytes past a chunk that is not the last are
 * codes, or for bits 2 and 3 at most 4 bytes of the scale and bias). */
INLINE __m256i codes8(const struct qnt__avx2_mlx *k, const struct unpack8 *u, const uint8_t *blk, int c)
{
	const int b = k->bits;
	const uint8_t *p = blk + (size_t)c * (size_t)b;
	if (b == 8)
		return _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p));
	uint64_t v;
	if (k->tail_safe || (c + 1) * 8 < k->gs) {
		memcpy(&v, p, 8);
	} else {
		memcpy(&v, p + b - 8, 8);
		v >>= 8 * (8 - b);
	}
	const __m256i vv = _mm256_set1_epi64x((long long)v);
	const __m256i e = _mm256_srlv_epi64(vv, u->sh_even);
	const __m256i o = _mm256_slli_epi64(_mm256_srlv_epi64(vv, u->sh_odd), 32);
	return _mm256_and_si256(_mm256_blend_epi32(e, o, 0xaa), u->mask);
}

/* e2m1_tab[c] lane by lane (c in 0..15). */
INLINE __m256 e2m1_8(__m256i c)
{
	const __m256 lo = _mm256_loadu_ps(e2m1_tab), hi = _mm256_loadu_ps(e2m1_tab + 8);
	const __m256 a = _mm256_permutevar8x32_ps(lo, c), bneg = _mm256_permutevar8x32_ps(hi, c);
	return _mm256_blendv_ps(a, bneg, _mm256_castsi256_ps(_mm256_slli_epi32(c, 28)));
}

/* quant_mlx.c's from_e4m3 lane by lane: the magnitude's bits moved into a
 * float's exponent and mantissa fields, times 2^120 (exact, subnormals
 * included); 0x7f/0xff are the NaNs 0x7ff00000 / 0xfff00000. */
INLINE __m256 e4m3_8(__m256i c)
{
	const __m256i mag = _mm256_and_si256(c, _mm256_set1_epi32(0x7f));
	const __m256i sign = _mm256_slli_epi32(_mm256_and_si256(c, _mm256_set1_epi32(0x80)), 24);
	const __m256 v = _mm256_mul_ps(_mm256_castsi256_ps(_mm256_slli_epi32(mag, 20)), _mm256_set1_ps(0x1p120f));
	const __m256i nan = _mm256_cmpeq_epi32(mag, _mm256_set1_epi32(0x7f));
	const __m256i bits = _mm256_blendv_epi8(_mm256_castps_si256(v), _mm256_set1_epi32(0x7ff00000), nan);
	return _mm256_castsi256_ps(_mm256_or_si256(bits, sign));
}

INLINE float e4m3_1(uint8_t x)
{
	const uint32_t mag = x & 0x7fu, sign = (uint32_t)(x & 0x80u) << 24;
	if (mag == 0x7fu)
		return qnt__f32_from_bits(0x7ff00000u | sign);
	return qnt__f32_from_bits(qnt__f32_bits(qnt__f32_from_bits(mag << 20) * 0x1p120f) | sign);
}

/* 2^(e - 127) for a scale byte e, as quant_mlx.c's pow2f gives it. */
INLINE float pow2_byte(uint8_t e)
{
	if (e == 0)
		return 0x1p-127f;
	if (e == 255)
		return qnt__f32_from_bits(0x7f800000u);
	return qnt__f32_from_bits((uint32_t)e << 23);
}

INLINE float load_elem(const uint8_t *p, int d)
{
	uint16_t h;
	if (d == QNT__MLX_F32) {
		float f;
		memcpy(&f, p, 4);
		return f;
	}
	memcpy(&h, p, 2);
	/* F16C quiets a signalling NaN: the scale and bias only enter
	 * arithmetic, which quiets it the same way */
	return d == QNT__MLX_F16 ? h2f(h) : qnt__bf16_to_fp32(h);
}

/* A block's scale (and bias): what multiplies the chunk values of
 * `values8`, and what is added after (affine). */
INLINE void block_scale(const struct qnt__avx2_mlx *k, int mode, const uint8_t *blk, float *s, float *b)
{
	const uint8_t *sp = blk + k->code_bytes;
	*b = 0.0f;
	switch (mode) {
	case QNT_MLX_AFFINE:
		*s = load_elem(sp, k->d);
		*b = load_elem(sp + k->ss, k->d);
		break;
	case QNT_MLX_MXFP4:
	case QNT_MLX_MXFP8:
		*s = pow2_byte(sp[0]);
		break;
	default:
		*s = e4m3_1(sp[0]);
		break;
	}
}

/* The unscaled values of 8 codes (dwords). */
INLINE __m256 values_of(int mode, __m256i q)
{
	switch (mode) {
	case QNT_MLX_AFFINE:
		return _mm256_cvtepi32_ps(q);
	case QNT_MLX_MXFP8:
		return e4m3_8(q);
	default:
		return e2m1_8(q);
	}
}

/* The unscaled values of chunk c: the codes (affine) or the element
 * values (fp modes). */
INLINE __m256 values8(const struct qnt__avx2_mlx *k, int mode, const struct unpack8 *u, const uint8_t *blk, int c)
{
	return values_of(mode, codes8(k, u, blk, c));
}

INLINE void deq_body(const struct qnt__avx2_mlx *k, int mode, const uint8_t *blk, float *y, int64_t n)
{
	const struct unpack8 u = unpack8_for(k->bits);
	const int nc = k->gs / 8;
	for (int64_t g = 0; g < n / k->gs; g++, blk += k->block_bytes, y += k->gs) {
		float s, b;
		block_scale(k, mode, blk, &s, &b);
		const __m256 vs = _mm256_set1_ps(s), vb = _mm256_set1_ps(b);
		for (int c = 0; c < nc; c++) {
			__m256 v = _mm256_mul_ps(values8(k, mode, &u, blk, c), vs);
			if (mode == QNT_MLX_AFFINE)
				v = _mm256_add_ps(v, vb);
			_mm256_storeu_ps(y + 8 * c, v);
		}
	}
}

void qnt__avx2_mlx_deq(const struct qnt__avx2_mlx *k, const void *src, float *y, int64_t n)
{
	switch (k->mode) {
	case QNT_MLX_AFFINE:
		deq_body(k, QNT_MLX_AFFINE, src, y, n);
		break;
	case QNT_MLX_MXFP4:
		deq_body(k, QNT_MLX_MXFP4, src, y, n);
		break;
	case QNT_MLX_MXFP8:
		deq_body(k, QNT_MLX_MXFP8, src, y, n);
		break;
	default:
		deq_body(k, QNT_MLX_NVFP4, src, y, n);
		break;
	}
}

void qnt__avx2_mlx_group_sums(const struct qnt__avx2_mlx *k, const float *x, int64_t n, float *sums)
{
	for (int64_t g = 0; g < n / k->gs; g++) {
		__m256 a = _mm256_setzero_ps();
		for (int j = 0; j < k->gs; j += 8)
			a = _mm256_add_ps(a, _mm256_loadu_ps(x + g * k->gs + j));
		sums[g] = hsum_ps(a);
	}
}

int qnt__avx2_mlx_perm_unit(const struct qnt__avx2_mlx *k)
{
	return k->bits == 4 ? 16 : k->bits == 2 ? 32 : 0;
}

void qnt__avx2_mlx_permute_x(const struct qnt__avx2_mlx *k, const float *x, int64_t n, float *xp)
{
	const int b = k->bits, unit = qnt__avx2_mlx_perm_unit(k), per = 8 / b; /* codes per byte */
	for (int64_t u = 0; u + unit <= n; u += unit)
		for (int s = 0; s < per; s++)      /* bit offset s * b within each byte */
			for (int j = 0; j < 8; j++) /* byte j of the unit */
				*xp++ = x[u + j * per + s];
}

/* One row against nc columns. bits 4 and 2 read each 8 code bytes at once
 * and meet the elements in the order of qnt__avx2_mlx_permute_x (x is
 * permuted so); other widths go through codes8 in element order. */
INLINE void mlx_row_body(const struct qnt__avx2_mlx *k, int mode, int bits, const uint8_t *w, const float *const *x,
			 const float *const *xsum, int nc, int64_t n, float *out)
{
	const struct unpack8 u = unpack8_for(k->bits);
	__m256 tot[4];
	float bt[4];
	UNROLL for (int c = 0; c < nc; c++) {
		tot[c] = _mm256_setzero_ps();
		bt[c] = 0.0f;
	}
	const int gs = k->gs;
	for (int64_t g = 0; g < n / gs; g++, w += k->block_bytes) {
		float s, b;
		block_scale(k, mode, w, &s, &b);
		__m256 acc[4];
		UNROLL for (int c = 0; c < nc; c++)
			acc[c] = _mm256_setzero_ps();
		const int64_t j0 = g * gs;
		if (bits == 4 || bits == 2) {
			const __m128i m = _mm_set1_epi8((char)((1 << bits) - 1));
			for (int un = 0; un < gs / (64 / bits); un++) {
				const __m128i raw = _mm_loadl_epi64((const __m128i *)(w + 8 * un));
				const int64_t jx = j0 + (int64_t)un * (64 / bits);
				UNROLL for (int sh = 0; sh < 8 / bits; sh++) {
					const __m128i q8 = _mm_and_si128(_mm_srli_epi16(raw, sh * bits), m);
					const __m256 v = values_of(mode, _mm256_cvtepu8_epi32(q8));
					UNROLL for (int c = 0; c < nc; c++)
						acc[c] = _mm256_fmadd_ps(v, _mm256_loadu_ps(x[c] + jx + 8 * sh), acc[c]);
				}
			}
		} else {
			for (int ch = 0; ch < gs / 8; ch++) {
				const __m256 v = values8(k, mode, &u, w, ch);
				UNROLL for (int c = 0; c < nc; c++)
					acc[c] = _mm256_fmadd_ps(v, _mm256_loadu_ps(x[c] + j0 + 8 * ch), acc[c]);
			}
		}
		const __m256 vs = _mm256_set1_ps(s);
		UNROLL for (int c = 0; c < nc; c++) {
			tot[c] = _mm256_fmadd_ps(acc[c], vs, tot[c]);
			if (mode == QNT_MLX_AFFINE)
				bt[c] += b * xsum[c][g];
		}
	}
	UNROLL for (int c = 0; c < nc; c++)
		out[c] = hsum_ps(tot[c]) + bt[c];
}

#define ROW_BITS(MODE, BITS)                                                   \
	switch (nc) {                                                          \
	case 1:                                                                \
		mlx_row_body(k, MODE, BITS, w, x, xsum, 1, n, out);            \
		break;                                                         \
	case 2:                                                                \
		mlx_row_body(k, MODE, BITS, w, x, xsum, 2, n, out);            \
		break;                                                         \
	case 3:                                                                \
		mlx_row_body(k, MODE, BITS, w, x, xsum, 3, n, out);            \
		break;                                                         \
	default:                                                               \
		mlx_row_body(k, MODE, BITS, w, x, xsum, 4, n, out);            \
		break;                                                         \
	}

#define ROW_MODE(MODE)                                                         \
	switch (k->bits) {                                                     \
	case 4:                                                                \
		ROW_BITS(MODE, 4)                                              \
		break;                                                         \
	case 2:                                                                \
		ROW_BITS(MODE, 2)                                              \
		break;                                                         \
	default:                                                               \
		ROW_BITS(MODE, 0)                                              \
		break;                                                         \
	}

void qnt__avx2_mlx_row(const struct qnt__avx2_mlx *k, const void *w, const float *const *x,
		       const float *const *xsum, int nc, int64_t n, float *out)
{
	switch (k->mode) {
	case QNT_MLX_AFFINE:
		ROW_MODE(QNT_MLX_AFFINE)
		break;
	case QNT_MLX_MXFP4:
		ROW_MODE(QNT_MLX_MXFP4)
		break;
	case QNT_MLX_MXFP8:
		ROW_BITS(QNT_MLX_MXFP8, 0)
		break;
	default:
		ROW_MODE(QNT_MLX_NVFP4)
		break;
	}
}
