/* SPDX-License-Identifier: MIT */
/*
 * The "cpu-avx2" backend: AVX2/FMA/F16C kernels for x86-64, built into
 * libqnt (this file alone is compiled with -mavx2 -mfma -mf16c; its score()
 * is in avx2_score.c, built without them).
 *
 *   dequantize  q4_0 q4_1 q5_0 q5_1 q8_0 q2_K q3_K q4_K q5_K q6_K q8_K
 *               f16 bf16: the floats of the scalar reference, bit for bit
 *               (the same IEEE operations in the same order: separate
 *               multiplies and adds, never FMA, where the reference does
 *               them separately). Outputs of 16 MB and more go through an
 *               L1 staging buffer and streaming stores.
 *   quantize    q4_0 q4_1 q5_0 q5_1 q8_0 (round-to-nearest; with
 *               importance weights the reference's search, and the k-quants,
 *               i-quants and low-bit formats: avx2_quant.c), q8_1,
 *               q8_K, bf16: the bytes of the scalar reference. Blocks with NaN, infinities or scales that
 *               overflow take the reference's scalar code.
 *   matmul      q4_0 q4_1 q5_0 q5_1 q8_0 (activations q8_0/q8_1) and
 *               q2_K..q6_K (activations q8_K): integer dot products per
 *               block (VPMADDUBSW/VPMADDWD), block scales applied in float
 *               with FMA; f32, f16, bf16: float FMA against the float
 *               activations. Within the reference's tolerance, not
 *               bit-equal.
 *               Each call walks its rows in tiles and the columns in groups
 *               of up to four, so one decoded weight block serves four
 *               columns (GEMM) while a single column (GEMV) streams the
 *               weights once; q4_K and q5_K take two rows per pass
 *               (row2_fn). Float weights with one column go eight
 *               rows at a time (float_gemv), with several columns 4 x 3
 *               register tiles over the whole of n_in, on row tiles kept
 *               in L2 (float_tiles). The lattice i-quants (q8_K) with more
 *               than four columns go through a gemm_fn instead (avx2_iq.c): 16
 *               rows x up to 64 columns per call, each super-block decoded
 *               once for all of them and the columns' codes taken as
 *               x + 128 against the signed weights (no sign step per
 *               column); measured on the shared 2-core machine (4096 x 4096,
 *               1 thread, 128 / 512 columns) iq3_s went from 25.6 / 35.8 to
 *               59.0 / 58.7 GFLOP/s (ggml 54-84), iq2_xs from 49.0 / 43.6
 *               to 89.0 / 88.6. The same structure for the k-quants (tried:
 *               30% fewer instructions) ran no faster than their row
 *               kernels (79 against 82 GFLOP/s for q4_K) and is not used;
 *               the row kernels were held back by GCC summing each
 *               super-block's products as a tree and spilling, which
 *               keep_reg (avx2_util.h) stops (q4_K 93 -> 109 at 128
 *               columns).
 *
 * The cpu-avx512 build of this file (QNT_AVX512): the legacy kernels' and
 * the q8_0 code sums' integer products by VPDPBUSD (dot4_u8s8), the
 * k-quants' two groups at a time by VPDPBUSD, VPACKSSDW and VPDPWSSD
 * (k_pair), the f16 and bf16 dequantizers and the one-column float product
 * 16 lanes at a time.
 *
 * The i-quants, tq1_0/tq2_0, mxfp4/nvfp4 and q1_0/q2_0 (dequantize and
 * matmul): backends/cpu/avx2_iq.c, entries in the table below. The MLX
 * registry formats (dequantize and matmul against float activations):
 * backends/cpu/avx2_mlx.c, which reads a format's parameters with
 * qnt__mlx_fmt_of.
 *
 * Every other format and operation is left to the reference (supports()
 * says 0). Apart from the MLX parameters it reaches libqnt only through the
 * host table, like the "cpu" backend.
 */
#include "cpu_avx2.h"
#include "avx2_util.h"
#include "avx2_quant.h"
#include "qnt_fp.h"
#include "qnt_host_cpu.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "qnt_blocks.h"

/* ------------------------------------------------------------------ */
/* Helpers                                                              */
/* ------------------------------------------------------------------ */

/* The 32 nibbles of 16 bytes in element order: low nibbles (elements 0-15)
 * in the low lane, high nibbles (16-31) in the high lane. */
INLINE __m256i nibbles32(const uint8_t *qs)
{
	const __m128i raw = load128(qs);
	const __m256i both = _mm256_set_m128i(_mm_srli_epi16(raw, 4), raw);
	return _mm256_and_si256(both, _mm256_set1_epi8(0x0f));
}

/* Byte j of the result is 0x10 where bit j of h is set, else 0. */
INLINE __m256i bits_to_0x10(uint32_t h)
{
	const __m256i idx = _mm256_set_epi64x(0x0303030303030303ll, 0x0202020202020202ll, 0x0101010101010101ll, 0);
	const __m256i sel = _mm256_set1_epi64x((long long)0x8040201008040201ull);
	__m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)h), idx);
	v = _mm256_cmpeq_epi8(_mm256_and_si256(v, sel), sel);
	return _mm256_and_si256(v, _mm256_set1_epi8(0x10));
}

/* ------------------------------------------------------------------ */
/* Dequantize: the reference's float operations, 8 lanes at a time     */
/* ------------------------------------------------------------------ */

/* 8 codes (bytes, unsigned) minus `off`, as floats. */
INLINE __m256 codes8_u(const uint8_t *c, int off)
{
	__m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)c));
	return _mm256_cvtepi32_ps(_mm256_sub_epi32(v, _mm256_set1_epi32(off)));
}

INLINE __m256 codes8_s(const int8_t *c)
{
	return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)c)));
}

/* Legacy blocks: the 32 codes in element order into c. */
INLINE void legacy_codes(const uint8_t *qs, const uint8_t *qh, uint8_t *c)
{
	__m256i v = nibbles32(qs);
	if (qh)
		v = _mm256_or_si256(v, bits_to_0x10(load_u32(qh)));
	_mm256_storeu_si256((__m256i *)c, v);
}

static void deq_q4_0(const void *src, float *y, int64_t n)
{
	const struct blk_q4_0 *b = src;
	uint8_t c[QK];
	for (int64_t i = 0; i < n / QK; i++, y += QK) {
		const __m256 d = _mm256_set1_ps(h2f(b[i].d));
		legacy_codes(b[i].qs, NULL, c);
		for (int k = 0; k < QK; k += 8)
			_mm256_storeu_ps(y + k, _mm256_mul_ps(codes8_u(c + k, 8), d));
	}
}

static void deq_q5_0(const void *src, float *y, int64_t n)
{
	const struct blk_q5_0 *b = src;
	uint8_t c[QK];
	for (int64_t i = 0; i < n / QK; i++, y += QK) {
		const __m256 d = _mm256_set1_ps(h2f(b[i].d));
		legacy_codes(b[i].qs, b[i].qh, c);
		for (int k = 0; k < QK; k += 8)
			_mm256_storeu_ps(y + k, _mm256_mul_ps(codes8_u(c + k, 16), d));
	}
}

static void deq_q4_1(const void *src, float *y, int64_t n)
{
	const struct blk_q4_1 *b = src;
	uint8_t c[QK];
	for (int64_t i = 0; i < n / QK; i++, y += QK) {
		const __m256 d = _mm256_set1_ps(h2f(b[i].d));
		const __m256 m = _mm256_set1_ps(h2f(b[i].m));
		legacy_codes(b[i].qs, NULL, c);
		for (int k = 0; k < QK; k += 8)
			_mm256_storeu_ps(y + k, _mm256_add_ps(_mm256_mul_ps(codes8_u(c + k, 0), d), m));
	}
}

static void deq_q5_1(const void *src, float *y, int64_t n)
{
	const struct blk_q5_1 *b = src;
	uint8_t c[QK];
	for (int64_t i = 0; i < n / QK; i++, y += QK) {
		const __m256 d = _mm256_set1_ps(h2f(b[i].d));
		const __m256 m = _mm256_set1_ps(h2f(b[i].m));
		legacy_codes(b[i].qs, b[i].qh, c);
		for (int k = 0; k < QK; k += 8)
			_mm256_storeu_ps(y + k, _mm256_add_ps(_mm256_mul_ps(codes8_u(c + k, 0), d), m));
	}
}

/* The block's four steps unrolled: 4 MB out (in L3) 1.63-2.11x ggml
 * against 1.23-1.42x as a loop. The other legacy formats ran slower so. */
static void deq_q8_0(const void *src, float *y, int64_t n)
{
	const struct blk_q8_0 *b = src;
	for (int64_t i = 0; i < n / QK; i++, y += QK) {
		const __m256 d = _mm256_set1_ps(h2f(b[i].d));
		UNROLL for (int k = 0; k < QK; k += 8)
			_mm256_storeu_ps(y + k, _mm256_mul_ps(codes8_s(b[i].qs + k), d));
	}
}

/* f16: F16C's conversion is exact, but it quiets a signalling NaN where the
 * reference keeps the payload: groups of 8 with one take the scalar code. */
static void deq_f16(const void *src, float *y, int64_t n)
{
	const uint16_t *h = src;
	const __m128i absm = _mm_set1_epi16(0x7fff), lo = _mm_set1_epi16(0x7c00), hi = _mm_set1_epi16(0x7e00);
	int64_t i = 0;
#if QNT_AVX512
	/* cpu-avx512: sixteen at a time (one VCVTPH2PS zmm and one 64-byte
	 * store), the same conversion; a group with a signalling NaN takes the
	 * scalar code, and the rest of n goes on eight at a time below. */
	const __m256i absm2 = _mm256_set1_epi16(0x7fff), lo2 = _mm256_set1_epi16(0x7c00), hi2 = _mm256_set1_epi16(0x7e00);
	for (; i + 16 <= n; i += 16) {
		const __m256i v = load256(h + i);
		const __m256i a = _mm256_and_si256(v, absm2);
		const __m256i snan = _mm256_and_si256(_mm256_cmpgt_epi16(a, lo2), _mm256_cmpgt_epi16(hi2, a));
		if (__builtin_expect(_mm256_movemask_epi8(snan) != 0, 0)) {
			for (int k = 0; k < 16; k++)
				y[i + k] = qnt__fp16_to_fp32(h[i + k]);
			continue;
		}
		_mm512_storeu_ps(y + i, cvtph16_ps(v));
	}
#endif
	for (; i + 8 <= n; i += 8) {
		const __m128i v = load128(h + i);
		const __m128i a = _mm_and_si128(v, absm);
		const __m128i snan = _mm_and_si128(_mm_cmpgt_epi16(a, lo), _mm_cmpgt_epi16(hi, a));
		if (__builtin_expect(_mm_movemask_epi8(snan) != 0, 0)) {
			for (int k = 0; k < 8; k++)
				y[i + k] = qnt__fp16_to_fp32(h[i + k]);
			continue;
		}
		_mm256_storeu_ps(y + i, _mm256_cvtph_ps(v));
	}
	for (; i < n; i++)
		y[i] = qnt__fp16_to_fp32(h[i]);
}

/* bf16: the top half of the float's bits. Eight at a time, each widened
 * to 32 bits and shifted up (VPMOVZXWD, VPSLLD): from memory (4096 x 4096,
 * 1 thread, process CPU time, interleaved, medians of 21-31) 3-4% faster
 * than sixteen at a time through a lane permute and two unpacks. Four such
 * steps a loop iteration: the loop of one step ran at 20 against ggml's 30
 * GB/s in some processes (4 MB out, in L3; the same loop compiled
 * elsewhere ran at 37, so its place in the code decided), the unrolled
 * loop at 37-41 in every one (Zen 3; ggml 29-44). */
static void deq_bf16(const void *src, float *y, int64_t n)
{
	const uint16_t *h = src;
	int64_t i = 0;
	/* up to where y is aligned to the vector stores, so that none of them
	 * splits a cache line (a numpy or malloc buffer is often 16 bytes past
	 * a page) */
	for (; i < n && ((uintptr_t)(y + i) & (QNT_AVX512 ? 63 : 31)) != 0; i++)
		y[i] = qnt__bf16_to_fp32(h[i]);
#if QNT_AVX512
	/* cpu-avx512: each 16 widened to 32 bits and shifted up (VPMOVZXWD
	 * zmm, VPSLLD zmm, one 64-byte store): the same bits. */
	for (; i + 16 <= n; i += 16)
		_mm512_storeu_ps(y + i, bf16x16_ps(load256(h + i)));
#else
	for (; i + 32 <= n; i += 32)
		UNROLL for (int k = 0; k < 32; k += 8)
			_mm256_storeu_si256((__m256i *)(y + i + k),
					    _mm256_slli_epi32(_mm256_cvtepu16_epi32(load128(h + i + k)), 16));
#endif
	for (; i + 8 <= n; i += 8)
		_mm256_storeu_si256((__m256i *)(y + i), _mm256_slli_epi32(_mm256_cvtepu16_epi32(load128(h + i)), 16));
	for (; i < n; i++)
		y[i] = qnt__bf16_to_fp32(h[i]);
}

static void deq_q8_K(const void *src, float *y, int64_t n)
{
	const struct blk_q8_K *b = src;
	for (int64_t i = 0; i < n / QK_K; i++, y += QK_K) {
		const __m256 d = _mm256_set1_ps(b[i].d);
		for (int k = 0; k < QK_K; k += 8)
			_mm256_storeu_ps(y + k, _mm256_mul_ps(d, codes8_s(b[i].qs + k)));
	}
}

/* k-quants: y = (d * sc) * q - (dmin * m) per sub-block, the products and
 * the difference each rounded to float as in the reference (for the formats
 * without mins the reference subtracts +0, which changes nothing). */
INLINE void deq_sub(const uint8_t *c, int n, int off, float dl, float ml, int with_min, float *y)
{
	const __m256 vd = _mm256_set1_ps(dl), vm = _mm256_set1_ps(ml);
	for (int k = 0; k < n; k += 8) {
		__m256 v = _mm256_mul_ps(vd, codes8_u(c + k, off));
		if (with_min)
			v = _mm256_sub_ps(v, vm);
		_mm256_storeu_ps(y + k, v);
	}
}

/* 2-bit fields: the 32 codes of elements 128h + 32g + l (l = 0..31). */
INLINE __m256i codes2(const uint8_t *qs, int h, int g)
{
	const __m256i v = load256(qs + 32 * h);
	return _mm256_and_si256(_mm256_srli_epi16(v, 2 * g), _mm256_set1_epi8(3));
}

static void deq_q2_K(const void *src, float *y, int64_t n)
{
	const struct blk_q2_K *b = src;
	uint8_t c[QK];
	for (int64_t i = 0; i < n / QK_K; i++, y += QK_K) {
		const float d = h2f(b[i].d), dmin = h2f(b[i].dmin);
		for (int h = 0; h < 2; h++)
			for (int g = 0; g < 4; g++) {
				_mm256_storeu_si256((__m256i *)c, codes2(b[i].qs, h, g));
				for (int s = 0; s < 2; s++) {
					const int j = 8 * h + 2 * g + s;
					const uint8_t sc = b[i].scales[j];
					deq_sub(c + 16 * s, 16, 0, d * (float)(sc & 0x0f), dmin * (float)(sc >> 4), 1,
						y + 16 * j);
				}
			}
	}
}

/* The 12 scale bytes of a q3_K/q4_K/q5_K block as dwords [a, b, c, 0]
 * (no read past them). */
INLINE __m128i load12(const uint8_t *s)
{
	return _mm_insert_epi32(_mm_loadl_epi64((const __m128i *)s), (int)load_u32(s + 8), 2);
}

/* q3_K: the 16 scales (-32..31) as bytes, in registers. */
INLINE __m128i q3_scales_v(const uint8_t *s)
{
	const __m128i v = load12(s);
	const __m128i lo = _mm_and_si128(_mm_srlv_epi32(_mm_shuffle_epi32(v, 0x44), _mm_setr_epi32(0, 0, 4, 4)),
					 _mm_set1_epi8(0x0f));
	const __m128i hi = _mm_and_si128(_mm_srlv_epi32(_mm_shuffle_epi32(v, 0xaa), _mm_setr_epi32(0, 2, 4, 6)),
					 _mm_set1_epi8(0x03));
	return _mm_sub_epi8(_mm_or_si128(lo, _mm_slli_epi32(hi, 4)), _mm_set1_epi8(32));
}

/* q4_K/q5_K: [sc0..7, m0..7] as bytes, in registers. */
INLINE __m128i k4_scales_v(const uint8_t *s)
{
	const __m128i v = load12(s);
	const __m128i lo = _mm_and_si128(_mm_srlv_epi32(_mm_shuffle_epi32(v, 0x98), _mm_setr_epi32(0, 0, 0, 4)),
					 _mm_setr_epi32(0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f));
	const __m128i hi = _mm_and_si128(_mm_srlv_epi32(_mm_shuffle_epi32(v, 0x50), _mm_setr_epi32(0, 6, 0, 6)),
					 _mm_setr_epi32(0, 0x03030303, 0, 0x03030303));
	return _mm_or_si128(lo, _mm_slli_epi32(hi, 4));
}

/* q3_K codes 0..7 of elements 128h + 32g + l: 2 low bits, bit 2 from
 * hmask (set: +4); the value is code - 4. */
INLINE __m256i codes3(const struct blk_q3_K *b, __m256i hm, int h, int g)
{
	const __m256i bit = _mm256_set1_epi8((char)(1 << (4 * h + g)));
	const __m256i hi = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(hm, bit), bit), _mm256_set1_epi8(4));
	return _mm256_or_si256(codes2(b->qs, h, g), hi);
}

static void deq_q3_K(const void *src, float *y, int64_t n)
{
	const struct blk_q3_K *b = src;
	uint8_t c[QK];
	int8_t sc[16];
	for (int64_t i = 0; i < n / QK_K; i++, y += QK_K) {
		const float d = h2f(b[i].d);
		const __m256i hm = load256(b[i].hmask);
		_mm_storeu_si128((__m128i *)sc, q3_scales_v(b[i].scales));
		for (int h = 0; h < 2; h++)
			for (int g = 0; g < 4; g++) {
				_mm256_storeu_si256((__m256i *)c, codes3(&b[i], hm, h, g));
				for (int s = 0; s < 2; s++) {
					const int j = 8 * h + 2 * g + s;
					deq_sub(c + 16 * s, 16, 4, d * (float)sc[j], 0.0f, 0, y + 16 * j);
				}
			}
	}
}

/* q4_K/q5_K codes of elements 64h + 32s + l: nibble s of qs[32h + l], with
 * bit 2h + s of qh[l] as bit 4 for q5_K. */
INLINE __m256i codes45(const uint8_t *qs, const uint8_t *qh, int h, int s)
{
	const __m256i v = load256(qs + 32 * h);
	__m256i c = _mm256_and_si256(s ? _mm256_srli_epi16(v, 4) : v, _mm256_set1_epi8(0x0f));
	if (qh) {
		const __m256i bit = _mm256_set1_epi8((char)(1 << (2 * h + s)));
		const __m256i hb = _mm256_cmpeq_epi8(_mm256_and_si256(load256(qh), bit), bit);
		c = _mm256_or_si256(c, _mm256_and_si256(hb, _mm256_set1_epi8(0x10)));
	}
	return c;
}

INLINE void deq_k45(const uint8_t *scales, uint16_t hd, uint16_t hdmin, const uint8_t *qs, const uint8_t *qh,
		    float *y)
{
	const float d = h2f(hd), dmin = h2f(hdmin);
	uint8_t sm[16], c[QK];
	_mm_storeu_si128((__m128i *)sm, k4_scales_v(scales));
	const uint8_t *sc = sm, *m = sm + 8;
	for (int h = 0; h < 4; h++)
		for (int s = 0; s < 2; s++) {
			const int j = 2 * h + s;
			_mm256_storeu_si256((__m256i *)c, codes45(qs, qh, h, s));
			deq_sub(c, 32, 0, d * (float)sc[j], dmin * (float)m[j], 1, y + 32 * j);
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

/* q6_K codes 0..63 of elements 128h + 32g + l (value: code - 32). */
INLINE __m256i codes6(const struct blk_q6_K *b, int h, int g)
{
	const __m256i lo = load256(b->ql + 64 * h + 32 * (g & 1));
	const __m256i qh = load256(b->qh + 32 * h);
	const __m256i m4 = _mm256_set1_epi8(0x0f), m30 = _mm256_set1_epi8(0x30);
	const __m256i l = _mm256_and_si256(g < 2 ? lo : _mm256_srli_epi16(lo, 4), m4);
	__m256i hi;
	switch (g) {
	case 0:
		hi = _mm256_slli_epi16(qh, 4);
		break;
	case 1:
		hi = _mm256_slli_epi16(qh, 2);
		break;
	case 2:
		hi = qh;
		break;
	default:
		hi = _mm256_srli_epi16(qh, 2);
		break;
	}
	return _mm256_or_si256(l, _mm256_and_si256(hi, m30));
}

static void deq_q6_K(const void *src, float *y, int64_t n)
{
	const struct blk_q6_K *b = src;
	uint8_t c[QK];
	for (int64_t i = 0; i < n / QK_K; i++, y += QK_K) {
		const float d = h2f(b[i].d);
		for (int h = 0; h < 2; h++)
			for (int g = 0; g < 4; g++) {
				_mm256_storeu_si256((__m256i *)c, codes6(&b[i], h, g));
				for (int s = 0; s < 2; s++) {
					const int j = 8 * h + 2 * g + s;
					deq_sub(c + 16 * s, 16, 32, d * (float)b[i].scales[j], 0.0f, 0, y + 16 * j);
				}
			}
	}
}

/* ------------------------------------------------------------------ */
/* Quantize activations: the reference's bytes                          */
/* ------------------------------------------------------------------ */

/* max |x| of n (a multiple of 8) floats; *has_nan when any is NaN. */
INLINE float absmax_n(const float *x, int n, int *has_nan)
{
	const __m256 sign = _mm256_set1_ps(-0.0f);
	__m256 mx = _mm256_setzero_ps(), nan = _mm256_setzero_ps();
	for (int k = 0; k < n; k += 8) {
		const __m256 v = _mm256_loadu_ps(x + k);
		mx = _mm256_max_ps(mx, _mm256_andnot_ps(sign, v));
		nan = _mm256_or_ps(nan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
	}
	*has_nan = _mm256_movemask_ps(nan) != 0;
	__m128 m = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
	m = _mm_max_ps(m, _mm_movehl_ps(m, m));
	m = _mm_max_ss(m, _mm_movehdup_ps(m));
	return _mm_cvtss_f32(m);
}

/* 8 floats rounded half away from zero (qnt__cvt_round for |v| < 2^31). */
INLINE __m256i round_away(__m256 v)
{
	const __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
	const __m256 f = _mm256_sub_ps(v, t);
	const __m256 one = _mm256_set1_ps(1.0f);
	const __m256 up = _mm256_and_ps(_mm256_cmp_ps(f, _mm256_set1_ps(0.5f), _CMP_GE_OQ), one);
	const __m256 dn = _mm256_and_ps(_mm256_cmp_ps(f, _mm256_set1_ps(-0.5f), _CMP_LE_OQ), one);
	return _mm256_cvtps_epi32(_mm256_sub_ps(_mm256_add_ps(t, up), dn));
}

/* Packs 32 int32 (4 vectors, values in -128..127) into 32 bytes in order. */
INLINE void pack32(__m256i a, __m256i b, __m256i c, __m256i d, int8_t *out)
{
	const __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
	__m256i v = _mm256_packs_epi16(ab, cd);
	/* undo the lane interleaving of the two packs */
	v = _mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
	_mm256_storeu_si256((__m256i *)out, v);
}

/* One q8_0 block (with_sum: q8_1's sum). Returns 0 when the block needs the
 * scalar reference (NaN, infinities, a reciprocal that overflows). */
INLINE int quant_q8_0_block(const float *x, int8_t *qs, uint16_t *hd, uint16_t *hs)
{
	int has_nan;
	const float amax = absmax_n(x, QK, &has_nan);
	if (has_nan || !(amax <= 3.4028234663852886e38f))
		return 0;
	const float d = amax / 127.0f;
	const float id = d != 0.0f ? 1.0f / d : 0.0f;
	if (!(id <= 3.4028234663852886e38f))
		return 0;
	const __m256 vid = _mm256_set1_ps(id);
	__m256i q[4];
	for (int k = 0; k < 4; k++)
		q[k] = round_away(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * k), vid));
	pack32(q[0], q[1], q[2], q[3], qs);
	*hd = qnt__fp32_to_fp16(d);
	if (hs) {
		__m256i s = _mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
		__m128i t = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
		t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4e));
		t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xb1));
		*hs = qnt__fp32_to_fp16((float)_mm_cvtsi128_si32(t) * d);
	}
	return 1;
}

/* One q4_0 block by ggml's round-to-nearest (d = the signed element of
 * largest magnitude / -8, codes trunc(x / d + 8.5) limited to 15). Returns 0
 * when the block needs the scalar reference. */
static int quant_q4_0_block(const float *x, struct blk_q4_0 *b)
{
	int has_nan;
	const float amax = absmax_n(x, QK, &has_nan);
	if (has_nan || !(amax <= 3.4028234663852886e38f))
		return 0;
	/* the first element of largest magnitude, with its sign */
	const __m256 sign = _mm256_set1_ps(-0.0f), vmax = _mm256_set1_ps(amax);
	float max = 0.0f;
	for (int k = 0; k < QK && amax > 0.0f; k += 8) {
		const __m256 v = _mm256_loadu_ps(x + k);
		const int m = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_andnot_ps(sign, v), vmax, _CMP_EQ_OQ));
		if (m) {
			max = x[k + __builtin_ctz((unsigned)m)];
			break;
		}
	}
	const float d = max / -8.0f;
	const float id = d != 0.0f ? 1.0f / d : 0.0f;
	if (!(fabsf(id) <= 3.4028234663852886e38f))
		return 0;
	const __m256 vid = _mm256_set1_ps(id), off = _mm256_set1_ps(8.5f);
	__m256i c[4];
	for (int k = 0; k < 4; k++) {
		const __m256 v = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * k), vid), off);
		c[k] = _mm256_min_epi32(_mm256_cvttps_epi32(v), _mm256_set1_epi32(15));
	}
	int8_t codes[QK];
	pack32(c[0], c[1], c[2], c[3], codes);
	const __m128i lo = _mm_loadu_si128((const __m128i *)codes), hi = _mm_loadu_si128((const __m128i *)(codes + 16));
	_mm_storeu_si128((__m128i *)b->qs, _mm_or_si128(lo, _mm_slli_epi16(hi, 4)));
	b->d = qnt__fp32_to_fp16(d);
	return 1;
}

/* The nibbles (and for 5-bit formats the high bits) of 32 codes in element
 * order, laid out as the scalar packers do: element j in the low nibble of
 * qs[j], element j + 16 in the high one, bit 4 of element j in bit j of qh. */
INLINE void pack_codes(const int8_t *codes, uint8_t *qs, uint8_t *qh)
{
	const __m128i m4 = _mm_set1_epi8(0x0f);
	const __m128i lo = _mm_and_si128(_mm_loadu_si128((const __m128i *)codes), m4);
	const __m128i hi = _mm_and_si128(_mm_loadu_si128((const __m128i *)(codes + 16)), m4);
	_mm_storeu_si128((__m128i *)qs, _mm_or_si128(lo, _mm_slli_epi16(hi, 4)));
	if (qh) {
		/* codes < 32: shifting each 16-bit lane left by 3 puts bit 4 of
		 * every byte in that byte's top bit */
		const __m256i c = _mm256_loadu_si256((const __m256i *)codes);
		const uint32_t h = (uint32_t)_mm256_movemask_epi8(_mm256_slli_epi16(c, 3));
		memcpy(qh, &h, 4);
	}
}

/* q5_0 by ggml's round-to-nearest (d = the signed element of largest
 * magnitude / -16, codes trunc(x / d + 16.5) limited to 31). Returns 0 when
 * the block needs the scalar reference. */
static int quant_q5_0_block(const float *x, struct blk_q5_0 *b)
{
	int has_nan;
	const float amax = absmax_n(x, QK, &has_nan);
	if (has_nan || !(amax <= 3.4028234663852886e38f))
		return 0;
	const __m256 sign = _mm256_set1_ps(-0.0f), vmax = _mm256_set1_ps(amax);
	float max = 0.0f;
	for (int k = 0; k < QK && amax > 0.0f; k += 8) {
		const __m256 v = _mm256_loadu_ps(x + k);
		const int m = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_andnot_ps(sign, v), vmax, _CMP_EQ_OQ));
		if (m) {
			max = x[k + __builtin_ctz((unsigned)m)];
			break;
		}
	}
	const float d = max / -16.0f;
	const float id = d != 0.0f ? 1.0f / d : 0.0f;
	if (!(fabsf(id) <= 3.4028234663852886e38f))
		return 0;
	const __m256 vid = _mm256_set1_ps(id), off = _mm256_set1_ps(16.5f);
	__m256i c[4];
	for (int k = 0; k < 4; k++) {
		const __m256 v = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * k), vid), off);
		c[k] = _mm256_min_epi32(_mm256_cvttps_epi32(v), _mm256_set1_epi32(31));
	}
	int8_t codes[QK];
	pack32(c[0], c[1], c[2], c[3], codes);
	pack_codes(codes, b->qs, b->qh);
	b->d = qnt__fp32_to_fp16(d);
	return 1;
}

/* q4_1 / q5_1 by ggml's round-to-nearest with a min: d = (max - min) /
 * nmax, codes trunc((x - min) / d + 0.5) (limited to 15 for q4_1). Returns 0
 * when the block needs the scalar reference: NaN or infinities, a range or
 * a reciprocal that overflows, or a zero min or max (whose sign the scalar
 * scan takes from the first such element). */
static int quant_affine_block(const float *x, int nmax, float *d_out, float *mn_out, int8_t *codes)
{
	const __m256 sign = _mm256_set1_ps(-0.0f), inf = _mm256_set1_ps(INFINITY);
	__m256 lo = _mm256_loadu_ps(x), hi = lo, bad = _mm256_setzero_ps();
	for (int k = 0; k < QK; k += 8) {
		const __m256 v = _mm256_loadu_ps(x + k);
		lo = _mm256_min_ps(lo, v);
		hi = _mm256_max_ps(hi, v);
		bad = _mm256_or_ps(bad, _mm256_cmp_ps(_mm256_andnot_ps(sign, v), inf, _CMP_NLT_UQ));
	}
	if (_mm256_movemask_ps(bad))
		return 0;
	__m128 l = _mm_min_ps(_mm256_castps256_ps128(lo), _mm256_extractf128_ps(lo, 1));
	__m128 h = _mm_max_ps(_mm256_castps256_ps128(hi), _mm256_extractf128_ps(hi, 1));
	l = _mm_min_ps(l, _mm_movehl_ps(l, l));
	h = _mm_max_ps(h, _mm_movehl_ps(h, h));
	const float mn = _mm_cvtss_f32(_mm_min_ss(l, _mm_movehdup_ps(l)));
	const float mx = _mm_cvtss_f32(_mm_max_ss(h, _mm_movehdup_ps(h)));
	if (mn == 0.0f || mx == 0.0f || !(mx - mn <= 3.4028234663852886e38f))
		return 0;
	const float d = (mx - mn) / (float)nmax;
	const float id = d != 0.0f ? 1.0f / d : 0.0f;
	if (!(id <= 3.4028234663852886e38f))
		return 0;
	const __m256 vid = _mm256_set1_ps(id), vmn = _mm256_set1_ps(mn), half = _mm256_set1_ps(0.5f);
	const __m256i cmax = _mm256_set1_epi32(nmax == 15 ? 15 : 127); /* q5_1: no limit (codes <= 31) */
	__m256i c[4];
	for (int k = 0; k < 4; k++) {
		const __m256 v = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + 8 * k), vmn), vid);
		c[k] = _mm256_min_epi32(_mm256_cvttps_epi32(_mm256_add_ps(v, half)), cmax);
	}
	pack32(c[0], c[1], c[2], c[3], codes);
	*d_out = d;
	*mn_out = mn;
	return 1;
}

static int quant_q4_1_block(const float *x, struct blk_q4_1 *b)
{
	int8_t codes[QK];
	float d, mn;
	if (!quant_affine_block(x, 15, &d, &mn, codes))
		return 0;
	pack_codes(codes, b->qs, NULL);
	b->d = qnt__fp32_to_fp16(d);
	b->m = qnt__fp32_to_fp16(mn);
	return 1;
}

static int quant_q5_1_block(const float *x, struct blk_q5_1 *b)
{
	int8_t codes[QK];
	float d, mn;
	if (!quant_affine_block(x, 31, &d, &mn, codes))
		return 0;
	pack_codes(codes, b->qs, b->qh);
	b->d = qnt__fp32_to_fp16(d);
	b->m = qnt__fp32_to_fp16(mn);
	return 1;
}

/* bf16 with ggml's rounding (qnt__fp32_to_bf16: NaN made quiet, otherwise
 * round to nearest even), 16 at a time, the tail in scalar code. */
static void quant_bf16_row(const float *x, uint16_t *y, int64_t n)
{
	const __m256i absm = _mm256_set1_epi32(0x7fffffff), infb = _mm256_set1_epi32(0x7f800000);
	const __m256i bias = _mm256_set1_epi32(0x7fff), one = _mm256_set1_epi32(1), q = _mm256_set1_epi32(64);
	int64_t i = 0;
	for (; i + 16 <= n; i += 16) {
		__m256i r[2];
		for (int k = 0; k < 2; k++) {
			const __m256i u = _mm256_loadu_si256((const __m256i *)(x + i + 8 * k));
			const __m256i top = _mm256_srli_epi32(u, 16);
			const __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, absm), infb);
			const __m256i rnd = _mm256_srli_epi32(
				_mm256_add_epi32(u, _mm256_add_epi32(bias, _mm256_and_si256(top, one))), 16);
			r[k] = _mm256_blendv_epi8(rnd, _mm256_or_si256(top, q), nan);
		}
		const __m256i p = _mm256_permute4x64_epi64(_mm256_packus_epi32(r[0], r[1]), 0xd8);
		_mm256_storeu_si256((__m256i *)(y + i), p);
	}
	for (; i < n; i++)
		y[i] = qnt__fp32_to_bf16(x[i]);
}

/* One q8_K block; 0: use the scalar reference. */
static int quant_q8_K_block(const float *x, struct blk_q8_K *b)
{
	int has_nan;
	const float amax = absmax_n(x, QK_K, &has_nan);
	if (has_nan || !(amax <= 3.4028234663852886e38f) || amax == 0.0f)
		return 0;
	/* the first element of largest magnitude gives the sign of the scale */
	const __m256 sign = _mm256_set1_ps(-0.0f), vmax = _mm256_set1_ps(amax);
	float max = 0.0f;
	for (int k = 0; k < QK_K; k += 8) {
		const __m256 v = _mm256_loadu_ps(x + k);
		const int m = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_andnot_ps(sign, v), vmax, _CMP_EQ_OQ));
		if (m) {
			max = x[k + __builtin_ctz((unsigned)m)];
			break;
		}
	}
	const float iscale = -127.0f / max;
	if (!(fabsf(iscale) <= 3.4028234663852886e38f))
		return 0;
	const __m256 vs = _mm256_set1_ps(iscale);
	const __m256i hi = _mm256_set1_epi32(127);
	for (int k = 0; k < QK_K; k += 32) {
		__m256i q[4];
		for (int u = 0; u < 4; u++) {
			const __m256 v = _mm256_mul_ps(vs, _mm256_loadu_ps(x + k + 8 * u));
			q[u] = _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT |
										      _MM_FROUND_NO_EXC)),
						hi);
		}
		pack32(q[0], q[1], q[2], q[3], b->qs + k);
		/* sums of each 16 */
		const __m256i s01 = _mm256_add_epi32(q[0], q[1]), s23 = _mm256_add_epi32(q[2], q[3]);
		__m256i h = _mm256_hadd_epi32(s01, s23); /* lanes: s01 0-1,2-3 | s23 0-1,2-3 | ... */
		h = _mm256_hadd_epi32(h, h);
		const __m128i t = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
		b->bsums[k / 16] = (int16_t)_mm_cvtsi128_si32(t);
		b->bsums[k / 16 + 1] = (int16_t)_mm_extract_epi32(t, 1);
	}
	b->d = 1 / iscale;
	return 1;
}

/* ------------------------------------------------------------------ */
/* Matrix products                                                      */
/* ------------------------------------------------------------------ */

#define NC 4        /* columns sharing a decoded weight block */
#define ROW_TILE 16 /* rows whose weights stay in cache across column groups */
_Static_assert(ROW_TILE <= QNT__AVX2_GEMM_ROWS, "a row tile is one gemm_fn call");

/* struct xcol (one column of activations) and row_fn: cpu_avx2.h. */

/* Legacy formats. The codes are kept unsigned (q4_0 0..15, q5_0 0..31) and
 * multiplied by the signed activations with VPMADDUBSW; the offset (8 or 16)
 * is taken out once per block with the activation sum s. q8_0 weights are
 * signed: |q| times x with q's sign. q4_1/q5_1 add m * s (q8_1's sum). Two
 * sets of accumulators alternate between blocks to hide the FMA latency.
 * The 32-bit sums of a block's products: dot4_u8s8 (VPDPBUSD in cpu-avx512,
 * VPMADDUBSW and VPMADDWD in cpu-avx2), exact in both: the pair sums of
 * VPMADDUBSW stay within 16 bits (codes up to 31 times |x| <= 128 twice;
 * q8_0: |q| <= 128 as an unsigned byte times sign(x, q) in -128..127 twice,
 * at least -32768), so neither saturates. */
enum { L_Q4_0, L_Q5_0, L_Q8_0, L_Q4_1, L_Q5_1 };

INLINE __m256i legacy_q(const uint8_t *b, int kind, float *dw, float *mw)
{
	switch (kind) {
	case L_Q4_0:
		*dw = h2f(((const struct blk_q4_0 *)b)->d);
		return nib32(((const struct blk_q4_0 *)b)->qs);
	case L_Q5_0:
		*dw = h2f(((const struct blk_q5_0 *)b)->d);
		return _mm256_or_si256(nib32(((const struct blk_q5_0 *)b)->qs),
				       bits_to_0x10(load_u32(((const struct blk_q5_0 *)b)->qh)));
	case L_Q8_0:
		*dw = h2f(((const struct blk_q8_0 *)b)->d);
		return load256(((const struct blk_q8_0 *)b)->qs);
	case L_Q4_1:
		*dw = h2f(((const struct blk_q4_1 *)b)->d);
		*mw = h2f(((const struct blk_q4_1 *)b)->m);
		return nib32(((const struct blk_q4_1 *)b)->qs);
	default:
		*dw = h2f(((const struct blk_q5_1 *)b)->d);
		*mw = h2f(((const struct blk_q5_1 *)b)->m);
		return _mm256_or_si256(nib32(((const struct blk_q5_1 *)b)->qs),
				       bits_to_0x10(load_u32(((const struct blk_q5_1 *)b)->qh)));
	}
}

INLINE size_t legacy_bytes(int kind)
{
	static const size_t b[] = { sizeof(struct blk_q4_0), sizeof(struct blk_q5_0), sizeof(struct blk_q8_0),
				    sizeof(struct blk_q4_1), sizeof(struct blk_q5_1) };
	return b[kind];
}

#define LEGACY_STEP(I, ACC, COR)                                                                  \
	{                                                                                         \
		float dw, mw = 0.0f;                                                              \
		const __m256i q = legacy_q((const uint8_t *)wv + (size_t)(I) * wb, kind, &dw, &mw); \
		const __m256i qa = kind == L_Q8_0 ? _mm256_sign_epi8(q, q) : q;                   \
		UNROLL for (int c = 0; c < nc; c++) {                                                    \
			const __m256i xq = load256(x[c].blk + (size_t)(I) * xb + xo);             \
			const __m256i p = dot4_u8s8(_mm256_setzero_si256(), qa,                    \
						    kind == L_Q8_0 ? _mm256_sign_epi8(xq, q) : xq);  \
			ACC[c] = _mm256_fmadd_ps(_mm256_set1_ps(dw * x[c].d[I]), _mm256_cvtepi32_ps(p), ACC[c]); \
			if (kind == L_Q4_0 || kind == L_Q5_0)                                     \
				COR[c] += dw * x[c].s[I];                                         \
			else if (kind != L_Q8_0)                                                  \
				COR[c] += mw * x[c].s[I];                                         \
		}                                                                                 \
	}

/* The four fp16 values at offset off of blocks b, b + wb, b + 2wb, b + 3wb
 * as floats. */
INLINE __m128 legacy_h4(const uint8_t *b, size_t wb, size_t off)
{
	uint16_t h[4];
	memcpy(&h[0], b + off, 2);
	memcpy(&h[1], b + wb + off, 2);
	memcpy(&h[2], b + 2 * wb + off, 2);
	memcpy(&h[3], b + 3 * wb + off, 2);
	return _mm_cvtph_ps(_mm_loadl_epi64((const __m128i *)h));
}

/* Four blocks at a time: each block's products folded into one vector
 * whose 32-bit lanes are [b0 b1 b2 b3] of each 128-bit lane, then one FMA
 * with the four blocks' d_w times their four d_x. q5_0/q5_1 fold their
 * 16-bit sums (at most 31 * 128 * 8) by three VPHADDW before the widening;
 * q4_0, q4_1 and q8_0 widen first and fold by unpacks (fold4_i32): on Zen 3
 * each measured faster that way, the q5 decode already loading the shuffle
 * ports that the unpacks need. The offset or min term is one FMA per
 * four blocks on four floats. A tail of fewer than four blocks goes
 * through LEGACY_STEP. */
INLINE void legacy_body(const void *wv, const struct xcol *x, int nc, int64_t n, float *out, int kind)
{
	const size_t wb = legacy_bytes(kind);
	const int q81 = kind == L_Q4_1 || kind == L_Q5_1;
	const size_t xb = q81 ? sizeof(struct blk_q8_1) : sizeof(struct blk_q8_0);
	const size_t xo = q81 ? offsetof(struct blk_q8_1, qs) : offsetof(struct blk_q8_0, qs);
#if !QNT_AVX512
	const __m256i ones = _mm256_set1_epi16(1);
#endif
	__m256 acc0[NC], acc1[NC];
	__m128 cor4[NC];
	float cor1[NC];
	UNROLL for (int c = 0; c < nc; c++) {
		acc0[c] = acc1[c] = _mm256_setzero_ps();
		cor4[c] = _mm_setzero_ps();
		cor1[c] = 0.0f;
	}
	const int64_t nb = n / QK;
	int64_t i = 0;
	for (; i + 4 <= nb; i += 4) {
		const uint8_t *b = (const uint8_t *)wv + (size_t)i * wb;
		prefetch_ahead(b, 4 * wb);
		const __m128 dw = legacy_h4(b, wb, 0);
		const __m128 mw = q81 ? legacy_h4(b, wb, 2) : dw;
		__m256i q[4], qa[4];
		UNROLL for (int k = 0; k < 4; k++) {
			float dk, mk;
			q[k] = legacy_q(b + (size_t)k * wb, kind, &dk, &mk);
			qa[k] = kind == L_Q8_0 ? _mm256_sign_epi8(q[k], q[k]) : q[k];
		}
		UNROLL for (int c = 0; c < nc; c++) {
			const uint8_t *xp = x[c].blk + (size_t)i * xb + xo;
			__m256i p[4];
#if QNT_AVX512
			/* VPDPBUSD: each block's products summed straight into
			 * 32-bit lanes (the same sums as VPMADDUBSW and VPMADDWD:
			 * see dot4_u8s8), then every kind folds by unpacks; the q5
			 * kinds' VPHADDW tree (three micro-ops each) is not needed. */
			UNROLL for (int k = 0; k < 4; k++) {
				const __m256i xq = load256(xp + (size_t)k * xb);
				p[k] = dot4_u8s8(_mm256_setzero_si256(), qa[k], kind == L_Q8_0 ? _mm256_sign_epi8(xq, q[k]) : xq);
			}
			const __m256i h = fold4_i32(p);
#else
			UNROLL for (int k = 0; k < 4; k++) {
				const __m256i xq = load256(xp + (size_t)k * xb);
				p[k] = kind == L_Q8_0 ? _mm256_madd_epi16(_mm256_maddubs_epi16(qa[k], _mm256_sign_epi8(xq, q[k])), ones)
						      : _mm256_maddubs_epi16(qa[k], xq);
			}
			__m256i h;
			if (kind == L_Q5_0 || kind == L_Q5_1) {
				h = _mm256_madd_epi16(_mm256_hadd_epi16(_mm256_hadd_epi16(p[0], p[1]),
									_mm256_hadd_epi16(p[2], p[3])), ones);
			} else {
				if (kind != L_Q8_0)
					UNROLL for (int k = 0; k < 4; k++)
						p[k] = _mm256_madd_epi16(p[k], ones);
				h = fold4_i32(p);
			}
#endif
			const __m128 s = _mm_mul_ps(dw, _mm_loadu_ps(x[c].d + i));
			acc0[c] = _mm256_fmadd_ps(_mm256_setr_m128(s, s), _mm256_cvtepi32_ps(h), acc0[c]);
			if (kind != L_Q8_0)
				cor4[c] = _mm_fmadd_ps(mw, _mm_loadu_ps(x[c].s + i), cor4[c]);
		}
	}
	for (; i < nb; i++)
		LEGACY_STEP(i, acc1, cor1)
	const float off = kind == L_Q4_0 ? -8.0f : kind == L_Q5_0 ? -16.0f : 1.0f;
	UNROLL for (int c = 0; c < nc; c++) {
		__m128 t = _mm_add_ps(cor4[c], _mm_movehl_ps(cor4[c], cor4[c]));
		t = _mm_add_ss(t, _mm_movehdup_ps(t));
		out[c] = hsum_ps(_mm256_add_ps(acc0[c], acc1[c])) + off * (_mm_cvtss_f32(t) + cor1[c]);
	}
}

INLINE void mm_q4_0_body(const void *w, const struct xcol *x, int nc, int64_t n, float *out)
{
	legacy_body(w, x, nc, n, out, L_Q4_0);
}
INLINE void mm_q5_0_body(const void *w, const struct xcol *x, int nc, int64_t n, float *out)
{
	legacy_body(w, x, nc, n, out, L_Q5_0);
}
INLINE void mm_q8_0_body(const void *w, const struct xcol *x, int nc, int64_t n, float *out)
{
	legacy_body(w, x, nc, n, out, L_Q8_0);
}
INLINE void mm_q4_1_body(const void *w, const struct xcol *x, int nc, int64_t n, float *out)
{
	legacy_body(w, x, nc, n, out, L_Q4_1);
}
INLINE void mm_q5_1_body(const void *w, const struct xcol *x, int nc, int64_t n, float *out)
{
	legacy_body(w, x, nc, n, out, L_Q5_1);
}

/* k-quants against q8_K. Per super-block and column: isum = sum over
 * sub-blocks of scale * (codes . x) in 32-bit lanes, and the correction
 * (mins, or the code offset) from q8_K's sums of 16; then
 * acc += (d * d_x) * isum, then acc -= (dmin * d_x) * msum in float (one
 * accumulator per column: fewer registers than separate sums of the mins). */

#if QNT_AVX512
/* cpu-avx512: two groups of 32 at a time per column, each group's products
 * summed by VPDPBUSD into 32-bit lanes of four (codes . x), the two packed
 * into 16 bits by VPACKSSDW (per 128-bit lane: 4 sums of the first group,
 * then 4 of the second) and multiplied by their scales and added to isum by
 * one VPDPWSSD (dot2_i16): 2 VPDPBUSD + VPACKSSDW + VPDPWSSD for the two
 * groups where cpu-avx2 takes 2 x (VPMADDUBSW + VPMADDWD + VPADDD). Exact:
 * a sum of four is at most 4 * 63 * 128 = 32256 in magnitude (q6_K's codes
 * 0..63, any x; q5_K 31, q4_K 15, q3_K 7, q2_K 3), so the pack does not
 * saturate, and the weighted sums are far inside 32 bits; isum's lanes
 * hold other partial sums than cpu-avx2's (the same total), so the float
 * result differs from it by rounding only. The scale shuffles: PAIR2[k]
 * (sub-blocks of 16, groups 2k and 2k + 1 of a half) puts, in the low lane,
 * scale 4k of the half's eight in the first four 16-bit slots and 4k + 2
 * in the next four, in the high lane 4k + 1 and 4k + 3 (a group's low lane
 * is its first sub-block of 16); ONE2[h] (sub-blocks of 32, groups 2h and
 * 2h + 1) puts scale 2h in the first four slots of each lane and 2h + 1 in
 * the next four. */
#define R4(b) (b), (b) + 1, (b), (b) + 1, (b), (b) + 1, (b), (b) + 1
#define PAIR2_ROW(k) { R4(8 * (k)), R4(8 * (k) + 4), R4(8 * (k) + 2), R4(8 * (k) + 6) }
static const int8_t PAIR2[2][32] __attribute__((aligned(32))) = { PAIR2_ROW(0), PAIR2_ROW(1) };
#define ONE2_ROW(h) { R4(4 * (h)), R4(4 * (h) + 2), R4(4 * (h)), R4(4 * (h) + 2) }
static const int8_t ONE2[4][32] __attribute__((aligned(32))) = { ONE2_ROW(0), ONE2_ROW(1), ONE2_ROW(2), ONE2_ROW(3) };

/* isum[c] + the scaled products of two groups (codes qa, qb against the
 * column's activation codes at xa, xa + 32), s: their scales as above. */
INLINE __m256i k_pair(__m256i isum, __m256i qa, __m256i qb, const int8_t *xa, __m256i s)
{
	const __m256i pa = dot4_u8s8(_mm256_setzero_si256(), qa, load256(xa));
	const __m256i pb = dot4_u8s8(_mm256_setzero_si256(), qb, load256(xa + 32));
	return dot2_i16(isum, _mm256_packs_epi32(pa, pb), s);
}
#else
/* Shuffles that spread 16-bit scales: PAIR[g] puts scale 2g of a lane's
 * eight in every 16-bit slot of the low lane and scale 2g + 1 in the high
 * lane (sub-blocks of 16: a group of 32 spans two); ONE[j] puts scale j in
 * every slot (sub-blocks of 32). */
#define PAIR_ROW(g)                                                                                      \
	{ 4 * (g), 4 * (g) + 1, 4 * (g), 4 * (g) + 1, 4 * (g), 4 * (g) + 1, 4 * (g), 4 * (g) + 1,         \
	  4 * (g), 4 * (g) + 1, 4 * (g), 4 * (g) + 1, 4 * (g), 4 * (g) + 1, 4 * (g), 4 * (g) + 1,         \
	  4 * (g) + 2, 4 * (g) + 3, 4 * (g) + 2, 4 * (g) + 3, 4 * (g) + 2, 4 * (g) + 3, 4 * (g) + 2,       \
	  4 * (g) + 3, 4 * (g) + 2, 4 * (g) + 3, 4 * (g) + 2, 4 * (g) + 3, 4 * (g) + 2, 4 * (g) + 3,       \
	  4 * (g) + 2, 4 * (g) + 3 }
static const int8_t PAIR[4][32] __attribute__((aligned(32))) = { PAIR_ROW(0), PAIR_ROW(1), PAIR_ROW(2),
								  PAIR_ROW(3) };
#define ONE_ROW(j)                                                                                    \
	{ 2 * (j), 2 * (j) + 1, 2 * (j), 2 * (j) + 1, 2 * (j), 2 * (j) + 1, 2 * (j), 2 * (j) + 1,         \
	  2 * (j), 2 * (j) + 1, 2 * (j), 2 * (j) + 1, 2 * (j), 2 * (j) + 1, 2 * (j), 2 * (j) + 1,         \
	  2 * (j), 2 * (j) + 1, 2 * (j), 2 * (j) + 1, 2 * (j), 2 * (j) + 1, 2 * (j), 2 * (j) + 1,         \
	  2 * (j), 2 * (j) + 1, 2 * (j), 2 * (j) + 1, 2 * (j), 2 * (j) + 1, 2 * (j), 2 * (j) + 1 }
static const int8_t ONE[8][32] __attribute__((aligned(32))) = { ONE_ROW(0), ONE_ROW(1), ONE_ROW(2), ONE_ROW(3),
								 ONE_ROW(4), ONE_ROW(5), ONE_ROW(6), ONE_ROW(7) };
#endif

#define K_PROLOGUE                                                         \
	const struct blk_q8_K *xk[NC];                                       \
	__m256 acc[NC];                                                    \
	UNROLL for (int c = 0; c < nc; c++) {                                     \
		xk[c] = (const struct blk_q8_K *)x[c].blk;                   \
		acc[c] = _mm256_setzero_ps();                              \
	}

#define K_EPILOGUE                                                           \
	UNROLL for (int c = 0; c < nc; c++)                                         \
		out[c] = hsum_ps(acc[c]);

/* Sub-blocks of 16 (q2_K, q3_K, q6_K): group (h, g) holds elements
 * 128h + 32g .. + 31 with codes q (unsigned) and scales sc16. */
#if QNT_AVX512
#define K16_GROUPS(CODES, POST)                                                                      \
	UNROLL for (int h = 0; h < 2; h++) {                                                         \
		const __m256i lane = h ? _mm256_permute2x128_si256(sc16, sc16, 0x11)                 \
				       : _mm256_permute2x128_si256(sc16, sc16, 0x00);                \
		UNROLL for (int k = 0; k < 2; k++) {                                                 \
			__m256i qp[2];                                                               \
			UNROLL for (int e = 0; e < 2; e++) {                                         \
				const int g = 2 * k + e;                                             \
				qp[e] = CODES;                                                       \
				POST;                                                                \
			}                                                                            \
			const __m256i s = _mm256_shuffle_epi8(lane, _mm256_load_si256((const __m256i *)PAIR2[k])); \
			UNROLL for (int c = 0; c < nc; c++) {                                        \
				isum[c] = k_pair(isum[c], qp[0], qp[1], xk[c][i].qs + 128 * h + 64 * k, s); \
				if (nc > 1)                                                          \
					keep_reg(&isum[c]);                                          \
			}                                                                            \
		}                                                                                    \
	}
#else
#define K16_GROUPS(CODES, POST)                                                             \
	UNROLL for (int h = 0; h < 2; h++) {                                                \
		const __m256i lane = h ? _mm256_permute2x128_si256(sc16, sc16, 0x11)     \
					  : _mm256_permute2x128_si256(sc16, sc16, 0x00); \
		UNROLL for (int g = 0; g < 4; g++) {                                        \
			const __m256i q = CODES;                                            \
			const __m256i s = _mm256_shuffle_epi8(lane, _mm256_load_si256((const __m256i *)PAIR[g])); \
			UNROLL for (int c = 0; c < nc; c++) {                                      \
				const __m256i xq = load256(xk[c][i].qs + 128 * h + 32 * g); \
				const __m256i p = _mm256_maddubs_epi16(q, xq);              \
				isum[c] = _mm256_add_epi32(isum[c], _mm256_madd_epi16(p, s)); \
				if (nc > 1) /* the row kernel of GEMV as it was */          \
					keep_reg(&isum[c]);                                 \
			}                                                                   \
			POST;                                                               \
		}                                                                           \
	}
#endif

INLINE void mm_q2_K_body(const void *wv, const struct xcol *x, int nc, int64_t n, float *out)
{
	const struct blk_q2_K *w = wv;
	K_PROLOGUE
	for (int64_t i = 0; i < n / QK_K; i++) {
		prefetch_ahead(w + i, sizeof *w);
		const __m128i sc8 = load128(w[i].scales);
		const __m256i sc16 = _mm256_cvtepu8_epi16(_mm_and_si128(sc8, _mm_set1_epi8(0x0f)));
		const __m256i mins = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sc8, 4), _mm_set1_epi8(0x0f)));
		const float d = h2f(w[i].d), dmin = h2f(w[i].dmin);
		__m256i isum[NC];
		UNROLL for (int c = 0; c < nc; c++)
			isum[c] = _mm256_setzero_si256();
		const __m256i q0 = load256(w[i].qs), q1 = load256(w[i].qs + 32);
		K16_GROUPS(_mm256_and_si256(_mm256_srli_epi16(h ? q1 : q0, 2 * g), _mm256_set1_epi8(3)), (void)0)
		UNROLL for (int c = 0; c < nc; c++) {
			const float dx = xk[c][i].d;
			const __m256i ms = _mm256_madd_epi16(load256(xk[c][i].bsums), mins);
			acc[c] = _mm256_fmadd_ps(_mm256_set1_ps(d * dx), _mm256_cvtepi32_ps(isum[c]), acc[c]);
			acc[c] = _mm256_fnmadd_ps(_mm256_set1_ps(dmin * dx), _mm256_cvtepi32_ps(ms), acc[c]);
		}
	}
	K_EPILOGUE
}

/* Bit k (0..7) of every byte of v at bit 2 (the other bits garbage): one
 * 16-bit shift by at most 5, so bit 2 of each byte takes bit k of the same
 * byte, never a bit of the other byte of the 16-bit lane. */
INLINE __m256i bit_to_2(__m256i v, int k)
{
	return k < 2 ? _mm256_slli_epi16(v, 2 - k) : k > 2 ? _mm256_srli_epi16(v, k - 2) : v;
}

/* q3_K: values code - 4 with code = 0..7: sum (code - 4) x = sum code x -
 * 4 sum x, the last from bsums. Bit 2 of the codes of group k = 4h + g is
 * bit k of hmask, moved there by one shift (bit_to_2; one fewer operation
 * per group than shifting hm once per group and then into place). */
INLINE void mm_q3_K_body(const void *wv, const struct xcol *x, int nc, int64_t n, float *out)
{
	const struct blk_q3_K *w = wv;
	K_PROLOGUE
	for (int64_t i = 0; i < n / QK_K; i++) {
		prefetch_ahead(w + i, sizeof *w);
		const __m256i sc16 = _mm256_cvtepi8_epi16(q3_scales_v(w[i].scales));
		const __m256i hm = load256(w[i].hmask);
		const float d = h2f(w[i].d);
		__m256i isum[NC];
		UNROLL for (int c = 0; c < nc; c++)
			isum[c] = _mm256_setzero_si256();
		const __m256i q0 = load256(w[i].qs), q1 = load256(w[i].qs + 32);
		const __m256i m3 = _mm256_set1_epi8(3), m4 = _mm256_set1_epi8(4);
		K16_GROUPS(_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(h ? q1 : q0, 2 * g), m3),
					   _mm256_and_si256(bit_to_2(hm, 4 * h + g), m4)),
			   (void)0)
		UNROLL for (int c = 0; c < nc; c++) {
			const __m256i corr = _mm256_slli_epi32(_mm256_madd_epi16(load256(xk[c][i].bsums), sc16), 2);
			isum[c] = _mm256_sub_epi32(isum[c], corr);
			acc[c] = _mm256_fmadd_ps(_mm256_set1_ps(d * xk[c][i].d), _mm256_cvtepi32_ps(isum[c]), acc[c]);
		}
	}
	K_EPILOGUE
}

/* q6_K: values code - 32 with code = 0..63. */
INLINE void mm_q6_K_body(const void *wv, const struct xcol *x, int nc, int64_t n, float *out)
{
	const struct blk_q6_K *w = wv;
	K_PROLOGUE
	for (int64_t i = 0; i < n / QK_K; i++) {
		prefetch_ahead(w + i, sizeof *w);
		const __m256i sc16 = _mm256_cvtepi8_epi16(load128(w[i].scales));
		const float d = h2f(w[i].d);
		__m256i isum[NC];
		UNROLL for (int c = 0; c < nc; c++)
			isum[c] = _mm256_setzero_si256();
		K16_GROUPS(codes6(&w[i], h, g), (void)0)
		UNROLL for (int c = 0; c < nc; c++) {
			const __m256i corr = _mm256_slli_epi32(_mm256_madd_epi16(load256(xk[c][i].bsums), sc16), 5);
			isum[c] = _mm256_sub_epi32(isum[c], corr);
			acc[c] = _mm256_fmadd_ps(_mm256_set1_ps(d * xk[c][i].d), _mm256_cvtepi32_ps(isum[c]), acc[c]);
		}
	}
	K_EPILOGUE
}

/* q4_K/q5_K: sub-blocks of 32 under 6-bit scales and mins. */
INLINE void mm_k45_body(const void *wv, const struct xcol *x, int nc, int64_t n, float *out, int five)
{
	const size_t bytes = five ? sizeof(struct blk_q5_K) : sizeof(struct blk_q4_K);
	K_PROLOGUE
	/* mins 0..7 duplicated to pair with the 16 bsums */
	const __m128i dup = _mm_setr_epi8(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15);
	for (int64_t i = 0; i < n / QK_K; i++) {
		const uint8_t *blk = (const uint8_t *)wv + (size_t)i * bytes;
		const struct blk_q4_K *b4 = (const struct blk_q4_K *)blk; /* d, dmin, scales: same offsets in q5_K */
		const uint8_t *qs = five ? ((const struct blk_q5_K *)blk)->qs : b4->qs;
		const __m128i sm8 = k4_scales_v(b4->scales);
		const __m256i sc16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sm8));
		const __m256i mins = _mm256_cvtepu8_epi16(_mm_shuffle_epi8(sm8, dup));
		const float d = h2f(b4->d), dmin = h2f(b4->dmin);
		__m256i isum[NC], hb = _mm256_setzero_si256();
		if (five)
			hb = load256(((const struct blk_q5_K *)blk)->qh);
		UNROLL for (int c = 0; c < nc; c++)
			isum[c] = _mm256_setzero_si256();
		UNROLL for (int h = 0; h < 4; h++) {
			const __m256i v = load256(qs + 32 * h);
#if QNT_AVX512
			/* groups 2h, 2h + 1 (sub-blocks of 32) together: see k_pair */
			__m256i qp[2];
			UNROLL for (int s = 0; s < 2; s++) {
				qp[s] = _mm256_and_si256(s ? _mm256_srli_epi16(v, 4) : v, _mm256_set1_epi8(0x0f));
				if (five) {
					qp[s] = _mm256_or_si256(qp[s], _mm256_and_si256(_mm256_slli_epi16(hb, 4), _mm256_set1_epi8(0x10)));
					hb = _mm256_srli_epi16(hb, 1);
				}
			}
			const __m256i sv = _mm256_shuffle_epi8(sc16, _mm256_load_si256((const __m256i *)ONE2[h]));
			UNROLL for (int c = 0; c < nc; c++) {
				isum[c] = k_pair(isum[c], qp[0], qp[1], xk[c][i].qs + 64 * h, sv);
				if (nc > 1)
					keep_reg(&isum[c]);
			}
#else
			UNROLL for (int s = 0; s < 2; s++) {
				__m256i q = _mm256_and_si256(s ? _mm256_srli_epi16(v, 4) : v, _mm256_set1_epi8(0x0f));
				if (five) { /* bit 2h + s of qh as bit 4; hb shifts right once per group */
					q = _mm256_or_si256(q, _mm256_and_si256(_mm256_slli_epi16(hb, 4), _mm256_set1_epi8(0x10)));
					hb = _mm256_srli_epi16(hb, 1);
				}
				const __m256i sv = _mm256_shuffle_epi8(sc16, _mm256_load_si256((const __m256i *)ONE[2 * h + s]));
				UNROLL for (int c = 0; c < nc; c++) {
					const __m256i xq = load256(xk[c][i].qs + 64 * h + 32 * s);
					const __m256i p = _mm256_maddubs_epi16(q, xq);
					isum[c] = _mm256_add_epi32(isum[c], _mm256_madd_epi16(p, sv));
					if (nc > 1)
						keep_reg(&isum[c]);
				}
			}
#endif
		}
		UNROLL for (int c = 0; c < nc; c++) {
			const float dx = xk[c][i].d;
			const __m256i ms = _mm256_madd_epi16(load256(xk[c][i].bsums), mins);
			acc[c] = _mm256_fmadd_ps(_mm256_set1_ps(d * dx), _mm256_cvtepi32_ps(isum[c]), acc[c]);
			acc[c] = _mm256_fnmadd_ps(_mm256_set1_ps(dmin * dx), _mm256_cvtepi32_ps(ms), acc[c]);
		}
	}
	K_EPILOGUE
}

INLINE void mm_q4_K_body(const void *wv, const struct xcol *x, int nc, int64_t n, float *out)
{
	mm_k45_body(wv, x, nc, n, out, 0);
}

INLINE void mm_q5_K_body(const void *wv, const struct xcol *x, int nc, int64_t n, float *out)
{
	mm_k45_body(wv, x, nc, n, out, 1);
}

#if !QNT_AVX512
/* Two rows at a time (row2_fn, cpu_avx2.h) against 1..NC columns: row a
 * in the low 128-bit lane of every register, row b in the high lane, so
 * that one scale shuffle and one VPMADDWD serve both rows, the activations
 * are 16-byte broadcasts (a load, no shuffle), and the two rows' scales and
 * mins are unpacked by the same instructions. Every step is lane by lane
 * and the end (hsum2_ps) sums each lane in the same order, so a row's
 * output does not depend on its partner: an odd last row is paired with
 * itself (avx2_matmul), and the result is the same for any thread split.
 * Where a format has one, cpu-avx2 runs it for every column count (its
 * one-row kernel above serves cpu-avx512, which keeps its VPDPBUSD row
 * kernels: no row2_fn there). load2x128, bcast128 and hsum2_ps:
 * avx2_util.h. */

/* k4_scales_v of two blocks: [sc0..7, m0..7] of a in the low lane, of b in
 * the high lane. */
INLINE __m256i k4_scales2_v(const uint8_t *sa, const uint8_t *sb)
{
	const __m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(load12(sa)), load12(sb), 1);
	const __m256i lo = _mm256_and_si256(_mm256_srlv_epi32(_mm256_shuffle_epi32(v, 0x98), _mm256_setr_epi32(0, 0, 0, 4, 0, 0, 0, 4)),
					    _mm256_setr_epi32(0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f,
							      0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f));
	const __m256i hi = _mm256_and_si256(_mm256_srlv_epi32(_mm256_shuffle_epi32(v, 0x50), _mm256_setr_epi32(0, 6, 0, 6, 0, 6, 0, 6)),
					    _mm256_setr_epi32(0, 0x03030303, 0, 0x03030303, 0, 0x03030303, 0, 0x03030303));
	return _mm256_or_si256(lo, _mm256_slli_epi32(hi, 4));
}

/* q8_K's sums of 32 codes (sub-blocks 0..7) as 16-bit values, in both
 * lanes: each |sum| <= 32 * 128 = 4096. */
INLINE __m256i q8k_sums32(const struct blk_q8_K *xk)
{
	const __m256i bs = load256(xk->bsums);
	/* per lane [pairs of its 8 sums of 16] twice; 64-bit words 0 and 2
	 * are the sums of sub-blocks 0..3 and 4..7 */
	return _mm256_permute4x64_epi64(_mm256_hadd_epi16(bs, bs), 0x88);
}

/* Both rows' d and dmin (f16, adjacent at offset 0 of q4_K and q5_K blocks)
 * times d_x: *dd = [d_a d_x] x 4 | [d_b d_x] x 4, *dm the same of dmin. */
INLINE void k4_dd2(const void *ba, const void *bb, float dx, __m256 *dd, __m256 *dm)
{
	const __m128 v = _mm_mul_ps(_mm_cvtph_ps(_mm_setr_epi32((int)load_u32(ba), (int)load_u32(bb), 0, 0)), _mm_set1_ps(dx));
	const __m256 v8 = _mm256_castps128_ps256(v);
	*dd = _mm256_permutevar8x32_ps(v8, _mm256_setr_epi32(0, 0, 0, 0, 2, 2, 2, 2));
	*dm = _mm256_permutevar8x32_ps(v8, _mm256_setr_epi32(1, 1, 1, 1, 3, 3, 3, 3));
}

/* Bit j (0..7) of every byte of v at bit 4 (the other bits garbage): one
 * 16-bit shift by at most 4, so bit 4 of each byte takes bit j of the same
 * byte (as bit_to_2). */
INLINE __m256i bit_to_4(__m256i v, int j)
{
	return j < 4 ? _mm256_slli_epi16(v, 4 - j) : j > 4 ? _mm256_srli_epi16(v, j - 4) : v;
}

/* Rows ahead that k45_2_body prefetches: the next pair's blocks i, i.e.
 * the next 2 x 2304 bytes of a 4096-wide q4_K matrix, one pass ahead. A
 * pair reads two interleaved streams, which the hardware prefetchers alone
 * followed poorly from memory: 4096 x 4096 q4_K GEMV after a 96 MB read
 * (per-thread CPU time, an A/B as bench/ab_matmul.py --cold, medians of
 * 21) took
 * 1.22 ms without, 1.01 / 0.94 / 0.78 ms prefetching 4 / 8 / 16 blocks
 * ahead in the same rows, 0.83 ms two rows ahead, against 0.72-0.85 ms for
 * the one-row kernel in the same runs. */
#define K2_PFROWS 2

/* q4_K and q5_K, two rows against nc (1..NC) q8_K columns: out[2c] row a,
 * out[2c + 1] row b. Per h (64 elements: sub-blocks 2h, low nibbles, and
 * 2h + 1, high nibbles, of qs[32h .. 32h + 31]) the two 16-byte halves of
 * both rows meet each column's broadcast activations; q5_K ORs in bit 2h
 * or 2h + 1 of the matching qh bytes as bit 4 (bit_to_4). The two halves'
 * VPMADDUBSW sums of a sub-block are added in 16 bits (a pair sum is at
 * most 2 * 31 * 128 = 7936 in magnitude, so VPMADDUBSW does not saturate
 * and the sum of two, <= 15872, does not wrap) before one VPMADDWD with the
 * sub-block's scale (<= 63: a lane's 32-bit sum over the block stays below
 * 8 * 2 * 15872 * 63 < 2^31): per column and row half the VPMADDWD and
 * VPADDD of the one-row kernel, and one scale shuffle for both rows and
 * every column. The mins meet q8_K's sums of 32 in one VPMADDWD for both
 * rows. */
INLINE void k45_2_body(const void *w0, const void *w1, const struct xcol *x, int nc, int64_t n, float *out, int five)
{
	const size_t bytes = five ? sizeof(struct blk_q5_K) : sizeof(struct blk_q4_K);
	const size_t qo = five ? offsetof(struct blk_q5_K, qs) : offsetof(struct blk_q4_K, qs);
	const size_t pf = (size_t)K2_PFROWS * (size_t)(n / QK_K) * bytes;
	const __m256i m4 = _mm256_set1_epi8(0x0f), b4 = _mm256_set1_epi8(0x10);
	const struct blk_q8_K *xk[NC];
	__m256 acc[NC];
	UNROLL for (int c = 0; c < nc; c++) {
		xk[c] = (const struct blk_q8_K *)x[c].blk;
		acc[c] = _mm256_setzero_ps();
	}
	for (int64_t i = 0; i < n / QK_K; i++) {
		const uint8_t *ba = (const uint8_t *)w0 + (size_t)i * bytes, *bb = (const uint8_t *)w1 + (size_t)i * bytes;
		/* integer addresses: past the last pair they point beyond the
		 * matrix, where a prefetch is harmless but C pointers may not go */
		UNROLL for (int l = 0; l < 3; l++) {
			_mm_prefetch((const char *)((uintptr_t)ba + pf + 64 * l), _MM_HINT_T0);
			_mm_prefetch((const char *)((uintptr_t)bb + pf + 64 * l), _MM_HINT_T0);
		}
		/* d, dmin, scales: the same offsets in q4_K and q5_K */
		const __m256i sm = k4_scales2_v(((const struct blk_q4_K *)ba)->scales, ((const struct blk_q4_K *)bb)->scales);
		const __m256i sc16 = _mm256_unpacklo_epi8(sm, _mm256_setzero_si256()); /* 8 scales a lane */
		const __m256i mn16 = _mm256_unpackhi_epi8(sm, _mm256_setzero_si256()); /* 8 mins a lane */
		__m256i qh0 = _mm256_setzero_si256(), qh1 = _mm256_setzero_si256();
		if (five) {
			qh0 = load2x128(((const struct blk_q5_K *)ba)->qh, ((const struct blk_q5_K *)bb)->qh);
			qh1 = load2x128(((const struct blk_q5_K *)ba)->qh + 16, ((const struct blk_q5_K *)bb)->qh + 16);
		}
		__m256i isum[NC];
		UNROLL for (int c = 0; c < nc; c++)
			isum[c] = _mm256_setzero_si256();
		UNROLL for (int h = 0; h < 4; h++) {
			const __m256i c0 = load2x128(ba + qo + 32 * h, bb + qo + 32 * h);
			const __m256i c1 = load2x128(ba + qo + 32 * h + 16, bb + qo + 32 * h + 16);
			/* sub-block j = 2h + s, then the columns: two code
			 * registers live, not four (no spills at four columns) */
			UNROLL for (int s = 0; s < 2; s++) {
				const int j = 2 * h + s;
				__m256i q0 = _mm256_and_si256(s ? _mm256_srli_epi16(c0, 4) : c0, m4);
				__m256i q1 = _mm256_and_si256(s ? _mm256_srli_epi16(c1, 4) : c1, m4);
				if (five) {
					q0 = _mm256_or_si256(q0, _mm256_and_si256(bit_to_4(qh0, j), b4));
					q1 = _mm256_or_si256(q1, _mm256_and_si256(bit_to_4(qh1, j), b4));
				}
				const __m256i sv = _mm256_shuffle_epi8(sc16, _mm256_load_si256((const __m256i *)ONE[j]));
				UNROLL for (int c = 0; c < nc; c++) {
					const int8_t *xq = xk[c][i].qs + 32 * j;
					const __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(q0, bcast128(xq)),
									   _mm256_maddubs_epi16(q1, bcast128(xq + 16)));
					isum[c] = _mm256_add_epi32(isum[c], _mm256_madd_epi16(p, sv));
					if (nc > 1)
						keep_reg(&isum[c]);
				}
			}
		}
		UNROLL for (int c = 0; c < nc; c++) {
			const __m256i ms = _mm256_madd_epi16(q8k_sums32(&xk[c][i]), mn16);
			__m256 dd, dm;
			k4_dd2(ba, bb, xk[c][i].d, &dd, &dm);
			acc[c] = _mm256_fmadd_ps(dd, _mm256_cvtepi32_ps(isum[c]), acc[c]);
			acc[c] = _mm256_fnmadd_ps(dm, _mm256_cvtepi32_ps(ms), acc[c]);
		}
	}
	UNROLL for (int c = 0; c < nc; c++)
		hsum2_ps(acc[c], out + 2 * c);
}

/* Specialise a two-row body for 1..NC columns. */
#define ROW2_FN(NAME, BODY, ARG)                                                                            \
	static void NAME(const void *w0, const void *w1, const struct xcol *x, int nc, int64_t n, float *out) \
	{                                                                                                   \
		switch (nc) {                                                                               \
		case 1:                                                                                     \
			BODY(w0, w1, x, 1, n, out, ARG);                                                    \
			break;                                                                              \
		case 2:                                                                                     \
			BODY(w0, w1, x, 2, n, out, ARG);                                                    \
			break;                                                                              \
		case 3:                                                                                     \
			BODY(w0, w1, x, 3, n, out, ARG);                                                    \
			break;                                                                              \
		default:                                                                                    \
			BODY(w0, w1, x, NC, n, out, ARG);                                                   \
			break;                                                                              \
		}                                                                                           \
	}

ROW2_FN(mm2_q4_K, k45_2_body, 0)
ROW2_FN(mm2_q5_K, k45_2_body, 1)
#endif

/* Float weights (f32, f16, bf16) times float activations: 8 lanes of FMA
 * (16 in cpu-avx512's GEMV), a tail of fewer than 8 elements in scalar
 * float. */
enum { F_F32, F_F16, F_BF16 };

INLINE __m256 load_w8(const uint8_t *w, int64_t j, int kind)
{
	switch (kind) {
	case F_F32:
		return _mm256_loadu_ps((const float *)w + j);
	case F_F16:
		return _mm256_cvtph_ps(load128(w + 2 * j));
	default:
		return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(load128(w + 2 * j)), 16));
	}
}

#if QNT_AVX512
/* Sixteen weights as floats (cpu-avx512's GEMV). */
INLINE __m512 load_w16(const uint8_t *w, int64_t j, int kind)
{
	switch (kind) {
	case F_F32:
		return _mm512_loadu_ps((const float *)w + j);
	case F_F16:
		return cvtph16_ps(load256(w + 2 * j));
	default:
		return bf16x16_ps(load256(w + 2 * j));
	}
}
#endif

INLINE float load_w1(const uint8_t *w, int64_t j, int kind)
{
	uint16_t h;
	switch (kind) {
	case F_F32: {
		float f;
		memcpy(&f, w + 4 * j, 4);
		return f;
	}
	case F_F16:
		memcpy(&h, w + 2 * j, 2);
		return qnt__fp16_to_fp32(h);
	default:
		memcpy(&h, w + 2 * j, 2);
		return qnt__bf16_to_fp32(h);
	}
}

/* GEMV with float weights: GR rows at a time against the one column, so
 * that GR streams of weights are read at once (one row at a time left the
 * reads of a 4096 x 4096 f16 matrix on 4 KiB pages waiting on memory) and
 * each activation vector, loaded once, serves GR rows. Each row has its own
 * two chains of FMAs and its own tail, so its sum is the same whichever
 * rows share the pass: the result does not depend on the row range
 * (threads). Of the 16 chains GCC keeps three on the stack, which the
 * memory-bound loop hides. Measured (4096 x 4096, 1 thread, 4 KiB pages,
 * process CPU time, interleaved, medians of 15-21): GR 8 against one row
 * at a time f16 1.6-1.7x, bf16 1.4x, f32 1.4x; GR 4 was 5-15% slower than
 * 8, GR 12 and 16 (one chain a row) 1.6-2x slower, prefetching 1-2 KiB
 * ahead in each row 10-20% slower. */
#define GR 8

INLINE void float_gemv_body(const uint8_t *const w[GR], const float *x, int64_t n, float *out, int kind)
{
	__m256 a0[GR], a1[GR];
	int64_t j = 0;
#if QNT_AVX512
	/* cpu-avx512: 16-lane chains over 32 elements a pass, folded into the
	 * 8-lane chains after; the rest of n goes on below */
	__m512 b0[GR], b1[GR];
	UNROLL for (int r = 0; r < GR; r++)
		b0[r] = b1[r] = _mm512_setzero_ps();
	for (; j + 32 <= n; j += 32) {
		const __m512 x0 = _mm512_loadu_ps(x + j), x1 = _mm512_loadu_ps(x + j + 16);
		UNROLL for (int r = 0; r < GR; r++) {
			b0[r] = _mm512_fmadd_ps(load_w16(w[r], j, kind), x0, b0[r]);
			b1[r] = _mm512_fmadd_ps(load_w16(w[r], j + 16, kind), x1, b1[r]);
		}
	}
	UNROLL for (int r = 0; r < GR; r++) {
		a0[r] = fold512_ps(b0[r]);
		a1[r] = fold512_ps(b1[r]);
	}
#else
	UNROLL for (int r = 0; r < GR; r++)
		a0[r] = a1[r] = _mm256_setzero_ps();
#endif
	for (; j + 16 <= n; j += 16) {
		const __m256 x0 = _mm256_loadu_ps(x + j), x1 = _mm256_loadu_ps(x + j + 8);
		UNROLL for (int r = 0; r < GR; r++) {
			a0[r] = _mm256_fmadd_ps(load_w8(w[r], j, kind), x0, a0[r]);
			a1[r] = _mm256_fmadd_ps(load_w8(w[r], j + 8, kind), x1, a1[r]);
		}
	}
	if (j + 8 <= n) {
		const __m256 x0 = _mm256_loadu_ps(x + j);
		UNROLL for (int r = 0; r < GR; r++)
			a0[r] = _mm256_fmadd_ps(load_w8(w[r], j, kind), x0, a0[r]);
		j += 8;
	}
	UNROLL for (int r = 0; r < GR; r++) {
		float t = 0.0f;
		for (int64_t k = j; k < n; k++)
			t += load_w1(w[r], k, kind) * x[k];
		out[r] = hsum_ps(_mm256_add_ps(a0[r], a1[r])) + t;
	}
}

/* Rows [0, nr) (wrs bytes apart) of float weights against one column x:
 * y[r]. A last group of fewer than GR rows repeats its last row. */
INLINE void float_gemv(const uint8_t *w, size_t wrs, int64_t nr, const float *x, int64_t n, float *y, int kind)
{
	for (int64_t r = 0; r < nr; r += GR) {
		const uint8_t *rows[GR];
		float out[GR];
		UNROLL for (int i = 0; i < GR; i++)
			rows[i] = w + (size_t)(r + i < nr ? r + i : nr - 1) * wrs;
		float_gemv_body(rows, x, n, out, kind);
		for (int i = 0; i < GR && r + i < nr; i++)
			y[r + i] = out[i];
	}
}

/* GEMM with float weights: GQ rows against GC columns over the whole of n,
 * one accumulator per (row, column): the three activation vectors of a
 * step stay in registers for the four rows, each weight vector serves the
 * three columns (12 accumulators, three activations and one weight in the
 * 16 registers). The operands come from L2 (float_tiles keeps a tile of
 * rows there) and no accumulator leaves the registers before the end. A
 * product's sum depends only on its row and column, never on which rows or
 * columns share the tile, so the result does not depend on the chunking. */
#define GQ 4
#define GC 3

INLINE void float_tile_body(const uint8_t *const w[GQ], const float *const x[GC], int64_t n, float out[GQ][GC],
			    int kind, const int nc)
{
	__m256 a[GQ][GC];
	UNROLL for (int r = 0; r < GQ; r++)
		UNROLL for (int c = 0; c < nc; c++)
			a[r][c] = _mm256_setzero_ps();
	int64_t j = 0;
	for (; j + 8 <= n; j += 8) {
		__m256 xv[GC];
		UNROLL for (int c = 0; c < nc; c++) {
			xv[c] = _mm256_loadu_ps(x[c] + j);
#if defined(__GNUC__)
			__asm__("" : "+x"(xv[c])); /* one load for the four rows, not one folded into each FMA */
#endif
		}
		UNROLL for (int r = 0; r < GQ; r++) {
			const __m256 wv = load_w8(w[r], j, kind);
			UNROLL for (int c = 0; c < nc; c++)
				a[r][c] = _mm256_fmadd_ps(wv, xv[c], a[r][c]);
		}
	}
	UNROLL for (int r = 0; r < GQ; r++)
		UNROLL for (int c = 0; c < nc; c++) {
			float t = 0.0f;
			for (int64_t k = j; k < n; k++)
				t += load_w1(w[r], k, kind) * x[c][k];
			out[r][c] = hsum_ps(a[r][c]) + t;
		}
}

/* GQ rows (w[i]) against nc <= GC columns (x[c]): out[i][c], c < nc. */
typedef void (*tile_fn)(const uint8_t *const w[GQ], const float *const x[GC], int64_t n, float out[GQ][GC]);

#define TILE_FN(NAME, KIND, NC)                                                                              \
	static void NAME(const uint8_t *const w[GQ], const float *const x[GC], int64_t n, float out[GQ][GC]) \
	{                                                                                                    \
		float_tile_body(w, x, n, out, KIND, NC);                                                     \
	}

TILE_FN(tile_f32_1, F_F32, 1)
TILE_FN(tile_f32_2, F_F32, 2)
TILE_FN(tile_f32, F_F32, 3)
TILE_FN(tile_f16_1, F_F16, 1)
TILE_FN(tile_f16_2, F_F16, 2)
TILE_FN(tile_f16, F_F16, 3)
TILE_FN(tile_bf16_1, F_BF16, 1)
TILE_FN(tile_bf16_2, F_BF16, 2)
TILE_FN(tile_bf16, F_BF16, 3)

#define GEMV_FN(NAME, KIND)                                                                                    \
	static void NAME(const uint8_t *w, size_t wrs, int64_t nr, const float *x, int64_t n, float *y)         \
	{                                                                                                      \
		float_gemv(w, wrs, nr, x, n, y, KIND);                                                         \
	}

GEMV_FN(gemv_f32, F_F32)
GEMV_FN(gemv_f16, F_F16)
GEMV_FN(gemv_bf16, F_BF16)

/* A float format's products: one column (gemv), several (tile[nc - 1] for
 * nc columns at a time, through float_tiles). */
struct float_fns {
	void (*gemv)(const uint8_t *w, size_t wrs, int64_t nr, const float *x, int64_t n, float *y);
	tile_fn tile[GC];
};

static const struct float_fns fl_f32 = { gemv_f32, { tile_f32_1, tile_f32_2, tile_f32 } },
			      fl_f16 = { gemv_f16, { tile_f16_1, tile_f16_2, tile_f16 } },
			      fl_bf16 = { gemv_bf16, { tile_bf16_1, tile_bf16_2, tile_bf16 } };

/* Specialise each body for 1..NC columns. */
#define ROW_FN(NAME)                                                                        \
	static void NAME(const void *w, const struct xcol *x, int nc, int64_t n, float *out) \
	{                                                                                   \
		switch (nc) {                                                               \
		case 1:                                                                     \
			NAME##_body(w, x, 1, n, out);                                       \
			break;                                                              \
		case 2:                                                                     \
			NAME##_body(w, x, 2, n, out);                                       \
			break;                                                              \
		case 3:                                                                     \
			NAME##_body(w, x, 3, n, out);                                       \
			break;                                                              \
		default:                                                                    \
			NAME##_body(w, x, NC, n, out);                                      \
			break;                                                              \
		}                                                                           \
	}

ROW_FN(mm_q4_0)
ROW_FN(mm_q4_1)
ROW_FN(mm_q5_0)
ROW_FN(mm_q5_1)
ROW_FN(mm_q8_0)
ROW_FN(mm_q2_K)
ROW_FN(mm_q3_K)
ROW_FN(mm_q4_K)
ROW_FN(mm_q5_K)
ROW_FN(mm_q6_K)

/* The legacy kernels' per-block activation scales and sums, as floats. */
static void prepare_legacy(qnt_type xq_type, const uint8_t *xq, int64_t nb, float *d, float *s)
{
	if (xq_type == QNT_TYPE_Q8_1) {
		const struct blk_q8_1 *b = (const struct blk_q8_1 *)xq;
		for (int64_t i = 0; i < nb; i++) {
			d[i] = h2f(b[i].d);
			s[i] = h2f(b[i].s);
		}
		return;
	}
	const struct blk_q8_0 *b = (const struct blk_q8_0 *)xq;
	for (int64_t i = 0; i < nb; i++) { /* sum of the codes: 1 times each (exact) */
		const __m256i p = dot4_u8s8(_mm256_setzero_si256(), _mm256_set1_epi8(1), load256(b[i].qs));
		__m128i t = _mm_add_epi32(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
		t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4e));
		t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xb1));
		d[i] = h2f(b[i].d);
		s[i] = d[i] * (float)_mm_cvtsi128_si32(t);
	}
}

/* ------------------------------------------------------------------ */
/* Format table                                                         */
/* ------------------------------------------------------------------ */

typedef void (*deq_fn)(const void *src, float *y, int64_t n);

struct fmt {
	qnt_type type;
	deq_fn deq;
	row_fn mm;       /* NULL: no product through the row kernels */
	const struct float_fns *fl; /* float weights (mm NULL): their products */
	qnt_type xq;     /* activations of mm */
	int quant;       /* quantize runs here */
	gemm_fn gemm;    /* NULL: several columns through mm (or tile) */
	row2_fn mm2;     /* NULL: rows one at a time through mm; else mm2 in place of mm */
};

#if QNT_AVX512
#define MM2(f) NULL
#else
#define MM2(f) f
#endif

static const struct fmt fmts[] = {
	{ QNT_TYPE_F32, NULL, NULL, &fl_f32, QNT_TYPE_INVALID, 0, NULL, NULL },
	{ QNT_TYPE_F16, deq_f16, NULL, &fl_f16, QNT_TYPE_INVALID, 0, NULL, NULL },
	{ QNT_TYPE_BF16, deq_bf16, NULL, &fl_bf16, QNT_TYPE_INVALID, 1, NULL, NULL },
	{ QNT_TYPE_Q4_0, deq_q4_0, mm_q4_0, NULL, QNT_TYPE_Q8_0, 1, NULL, NULL },
	{ QNT_TYPE_Q4_1, deq_q4_1, mm_q4_1, NULL, QNT_TYPE_Q8_1, 1, NULL, NULL },
	{ QNT_TYPE_Q5_0, deq_q5_0, mm_q5_0, NULL, QNT_TYPE_Q8_0, 1, NULL, NULL },
	{ QNT_TYPE_Q5_1, deq_q5_1, mm_q5_1, NULL, QNT_TYPE_Q8_1, 1, NULL, NULL },
	{ QNT_TYPE_Q8_0, deq_q8_0, mm_q8_0, NULL, QNT_TYPE_Q8_0, 1, NULL, NULL },
	{ QNT_TYPE_Q8_1, NULL, NULL, NULL, QNT_TYPE_INVALID, 1, NULL, NULL },
	{ QNT_TYPE_Q2_K, deq_q2_K, mm_q2_K, NULL, QNT_TYPE_Q8_K, 0, NULL, NULL },
	{ QNT_TYPE_Q3_K, deq_q3_K, mm_q3_K, NULL, QNT_TYPE_Q8_K, 0, NULL, NULL },
	{ QNT_TYPE_Q4_K, deq_q4_K, mm_q4_K, NULL, QNT_TYPE_Q8_K, 0, NULL, MM2(mm2_q4_K) },
	{ QNT_TYPE_Q5_K, deq_q5_K, mm_q5_K, NULL, QNT_TYPE_Q8_K, 0, NULL, MM2(mm2_q5_K) },
	{ QNT_TYPE_Q6_K, deq_q6_K, mm_q6_K, NULL, QNT_TYPE_Q8_K, 0, NULL, NULL },
	{ QNT_TYPE_Q8_K, deq_q8_K, NULL, NULL, QNT_TYPE_INVALID, 1, NULL, NULL },
	/* avx2_iq.c */
	{ QNT_TYPE_IQ4_NL, qnt__avx2_deq_iq4_nl, qnt__avx2_mm_iq4_nl, NULL, QNT_TYPE_Q8_0, 0, NULL, MM2(qnt__avx2_mm2_iq4_nl) },
	{ QNT_TYPE_IQ4_XS, qnt__avx2_deq_iq4_xs, qnt__avx2_mm_iq4_xs, NULL, QNT_TYPE_Q8_K, 0, NULL, NULL },
	{ QNT_TYPE_MXFP4, qnt__avx2_deq_mxfp4, qnt__avx2_mm_mxfp4, NULL, QNT_TYPE_Q8_0, 0, NULL, MM2(qnt__avx2_mm2_mxfp4) },
	{ QNT_TYPE_NVFP4, qnt__avx2_deq_nvfp4, qnt__avx2_mm_nvfp4, NULL, QNT_TYPE_Q8_0, 0, NULL, NULL },
	{ QNT_TYPE_TQ1_0, qnt__avx2_deq_tq1_0, qnt__avx2_mm_tq1_0, NULL, QNT_TYPE_Q8_K, 0, NULL, NULL },
	{ QNT_TYPE_TQ2_0, qnt__avx2_deq_tq2_0, qnt__avx2_mm_tq2_0, NULL, QNT_TYPE_Q8_K, 0, NULL, NULL },
	{ QNT_TYPE_IQ2_XXS, qnt__avx2_deq_iq2_xxs, qnt__avx2_mm_iq2_xxs, NULL, QNT_TYPE_Q8_K, 0, qnt__avx2_gemm_iq2_xxs, NULL },
	{ QNT_TYPE_IQ2_XS, qnt__avx2_deq_iq2_xs, qnt__avx2_mm_iq2_xs, NULL, QNT_TYPE_Q8_K, 0, qnt__avx2_gemm_iq2_xs, NULL },
	{ QNT_TYPE_IQ2_S, qnt__avx2_deq_iq2_s, qnt__avx2_mm_iq2_s, NULL, QNT_TYPE_Q8_K, 0, qnt__avx2_gemm_iq2_s, NULL },
	{ QNT_TYPE_IQ3_XXS, qnt__avx2_deq_iq3_xxs, qnt__avx2_mm_iq3_xxs, NULL, QNT_TYPE_Q8_K, 0, qnt__avx2_gemm_iq3_xxs, NULL },
	{ QNT_TYPE_IQ3_S, qnt__avx2_deq_iq3_s, qnt__avx2_mm_iq3_s, NULL, QNT_TYPE_Q8_K, 0, qnt__avx2_gemm_iq3_s, NULL },
	{ QNT_TYPE_IQ1_S, qnt__avx2_deq_iq1_s, qnt__avx2_mm_iq1_s, NULL, QNT_TYPE_Q8_K, 0, qnt__avx2_gemm_iq1_s, NULL },
	{ QNT_TYPE_IQ1_M, qnt__avx2_deq_iq1_m, qnt__avx2_mm_iq1_m, NULL, QNT_TYPE_Q8_K, 0, qnt__avx2_gemm_iq1_m, NULL },
	{ QNT_TYPE_Q1_0, qnt__avx2_deq_q1_0, qnt__avx2_mm_q1_0, NULL, QNT_TYPE_Q8_0, 0, NULL, NULL },
	{ QNT_TYPE_Q2_0, qnt__avx2_deq_q2_0, qnt__avx2_mm_q2_0, NULL, QNT_TYPE_Q8_0, 0, NULL, NULL },
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

static qnt_status avx2_device_props(void *state, int32_t device, qnt_device_props *props)
{
	(void)state;
	return qnt__host_cpu_props(device, props, QNT_X86_BACKEND_NAME, "host CPU, " QNT_X86_BACKEND_DESCRIPTION);
}

static int32_t avx2_supports(void *state, qnt_type type, uint32_t op)
{
	(void)state;
	const struct fmt *f = find(type);
	if (op == QNT_OP_QUANTIZE && qnt__avx2_has_quantizer(type)) /* avx2_quant.c */
		return 1;
	struct qnt__avx2_mlx mk;
	if (!f) /* the MLX formats: dequantize and matmul (avx2_mlx.c) */
		return (op == QNT_OP_DEQUANTIZE || op == QNT_OP_MATMUL) && qnt__avx2_mlx_init(type, &mk);
	switch (op) {
	case QNT_OP_DEQUANTIZE:
		return f->deq != NULL;
	case QNT_OP_QUANTIZE:
		return f->quant;
	case QNT_OP_MATMUL:
		return f->mm != NULL || f->fl != NULL;
	default:
		return 0;
	}
}

/* Outputs at least this large (the whole call) are written with streaming
 * stores: they cannot stay in the caches anyway, and the stores then skip
 * reading every destination line first. Not bf16, whose conversion is a
 * widening that the staging buffer's extra pass outweighs (4096 x 4096, 1
 * thread, process CPU time, interleaved, medians of 21-31: 2% faster
 * written in place). */
#define DEQ_STREAM_BYTES ((int64_t)16 << 20)
#define DEQ_CHUNK 1024 /* floats per staging buffer: a multiple of every block size */

/* A table format (f) or, f NULL, an MLX format (k). */
INLINE void deq_any(const struct fmt *f, const struct qnt__avx2_mlx *k, const void *src, float *y, int64_t n)
{
	if (f)
		f->deq(src, y, n);
	else
		qnt__avx2_mlx_deq(k, src, y, n);
}

static qnt_status avx2_dequantize(void *state, const qnt_kernel_job *job)
{
	const qnt_host_api *host = state;
	const struct fmt *f = find(job->type);
	const size_t rs = host->row_size(job->type, job->n_per_row);
	struct qnt__avx2_mlx mk;
	const int mlx = !f && qnt__avx2_mlx_init(job->type, &mk);
	if (job->src.buffer || job->dst.buffer || rs == 0 || !(mlx || (f && f->deq)))
		return QNT_E_INVALID_ARG;
	const int64_t n = job->n_per_row;
	const int stream = job->type != QNT_TYPE_BF16 && job->nrows * n * (int64_t)sizeof(float) >= DEQ_STREAM_BYTES &&
			   ((uintptr_t)job->dst.host & 31) == 0 && n % 8 == 0;
	const size_t chunk_bytes = host->row_size(job->type, DEQ_CHUNK);
	float buf[DEQ_CHUNK] __attribute__((aligned(32)));
	for (int64_t r = job->row_begin; r < job->row_end; r++) {
		const char *src = (const char *)job->src.host + (size_t)r * rs;
		float *dst = (float *)job->dst.host + r * n;
		if (!stream || chunk_bytes == 0) {
			deq_any(f, &mk, src, dst, n);
			continue;
		}
		/* decode into an L1-resident buffer, then stream it out */
		for (int64_t k = 0; k < n; k += DEQ_CHUNK) {
			const int64_t m = n - k < DEQ_CHUNK ? n - k : DEQ_CHUNK;
			deq_any(f, &mk, src + (size_t)(k / DEQ_CHUNK) * chunk_bytes, buf, m);
			for (int64_t j = 0; j < m; j += 8)
				_mm256_stream_ps(dst + k + j, _mm256_load_ps(buf + j));
		}
	}
	if (stream)
		_mm_sfence();
	return QNT_OK;
}

static qnt_status avx2_quantize(void *state, const qnt_kernel_job *job)
{
	const qnt_host_api *host = state;
	const qnt_type t = job->type;
	const int64_t n = job->n_per_row, nr = job->row_end - job->row_begin;
	const size_t rs = host->row_size(t, n);
	if (job->src.buffer || job->dst.buffer || rs == 0 || !avx2_supports(state, t, QNT_OP_QUANTIZE))
		return QNT_E_INVALID_ARG;
	const float *src = (const float *)job->src.host + job->row_begin * n;
	char *dst = (char *)job->dst.host + (size_t)job->row_begin * rs;
	if (qnt__avx2_has_quantizer(t) && (job->importance || !find(t) || !find(t)->quant)) /* avx2_quant.c */
		return qnt__avx2_quantize(host, t, src, dst, nr, n, rs, job->importance);
	qnt_status st = QNT_OK;
	if (t == QNT_TYPE_BF16) { /* no freedom: importance does not apply */
		quant_bf16_row(src, (uint16_t *)dst, nr * n);
	} else if (t == QNT_TYPE_Q4_1) {
		struct blk_q4_1 *b = (struct blk_q4_1 *)dst;
		for (int64_t i = 0; i < nr * (n / QK) && st == QNT_OK; i++)
			if (!quant_q4_1_block(src + i * QK, b + i))
				st = host->quantize_ref(t, src + i * QK, b + i, 1, QK, NULL);
	} else if (t == QNT_TYPE_Q5_0) {
		struct blk_q5_0 *b = (struct blk_q5_0 *)dst;
		for (int64_t i = 0; i < nr * (n / QK) && st == QNT_OK; i++)
			if (!quant_q5_0_block(src + i * QK, b + i))
				st = host->quantize_ref(t, src + i * QK, b + i, 1, QK, NULL);
	} else if (t == QNT_TYPE_Q5_1) {
		struct blk_q5_1 *b = (struct blk_q5_1 *)dst;
		for (int64_t i = 0; i < nr * (n / QK) && st == QNT_OK; i++)
			if (!quant_q5_1_block(src + i * QK, b + i))
				st = host->quantize_ref(t, src + i * QK, b + i, 1, QK, NULL);
	} else if (t == QNT_TYPE_Q8_K) {
		struct blk_q8_K *b = (struct blk_q8_K *)dst;
		for (int64_t i = 0; i < nr * (n / QK_K) && st == QNT_OK; i++)
			if (!quant_q8_K_block(src + i * QK_K, b + i))
				st = host->quantize_ref(t, src + i * QK_K, b + i, 1, QK_K, NULL);
	} else if (t == QNT_TYPE_Q4_0) {
		struct blk_q4_0 *b = (struct blk_q4_0 *)dst;
		for (int64_t i = 0; i < nr * (n / QK) && st == QNT_OK; i++)
			if (!quant_q4_0_block(src + i * QK, b + i))
				st = host->quantize_ref(t, src + i * QK, b + i, 1, QK, NULL);
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

static qnt_type avx2_matmul_xq_type(void *state, qnt_type wtype)
{
	(void)state;
	const struct fmt *f = find(wtype);
	return f && (f->mm || f->fl) ? f->xq : QNT_TYPE_INVALID;
}

/* Floats between the columns of float_tiles' copy: n_in rounded up to 1024,
 * plus 16, so that the columns start 64 bytes apart modulo 4096. */
INLINE int64_t xcopy_ld(int64_t n_in)
{
	return ((n_in + 1023) & ~(int64_t)1023) + 16;
}

/* Columns that float_tiles copies at a time (48 groups of GC), and the
 * bytes of weight rows it keeps in L2 across them (Zen 3: 512 KiB, where
 * the tile's three columns, 48 KiB at n_in 4096, pass too). */
#define XB_COLS (48 * GC)
#define WT_BYTES ((size_t)256 << 10)
#define WT_ROWS 64 /* the most rows of such a tile */

/* Rows [0, nr) (rows wrs bytes apart) of float weights against n_cols float
 * columns (x, n_in apart): y[c * ldy + r]. Blocks of up to XB_COLS columns
 * outermost, then tiles of rows (as many as fill WT_BYTES, a multiple of
 * GQ, at most WT_ROWS), the block's groups of GC columns (one or two left
 * over go through the tiles of as many columns; 3 k + 1 columns end in two
 * groups of two, which cost as much as one of three) and the tile's groups
 * of GQ rows; a last group of rows repeats its last one.
 * A row tile is read from memory once per column block and from L2 by
 * every group of columns. 4096 x 4096, 128 columns, 1 thread, process CPU
 * time, interleaved, medians of 7, against 2 x 6 tiles over slices of 512
 * elements kept in L1 (their 12 accumulators saved and reloaded at every
 * slice): f16 58.4 -> 51.6 ms (ggml 49.2), f32 69.1 -> 62.5, bf16 61.1 ->
 * 63.6 (its widening, two operations a weight vector, weighs more at four
 * rows a step; ggml 77.3); row tiles of 64 or 128 KiB within 1%. With xbuf
 * (min(n_cols, XB_COLS) * xcopy_ld(n_in) floats), each block's columns are
 * first copied there, which changes no product (the same floats, the same
 * operations) but their addresses: columns n_in apart with 4 n_in a
 * multiple of 4096 (n_in = 4096, as in most models) meet in the same L1
 * sets. */
static void float_tiles(const tile_fn tile[GC], const uint8_t *w, size_t wrs, int64_t nr, const float *x, int64_t n_in,
			int64_t n_cols, float *y, int64_t ldy, float *xbuf)
{
	const int64_t xld = xcopy_ld(n_in);
	int64_t rt = (int64_t)(WT_BYTES / wrs) / GQ * GQ;
	rt = rt < GQ ? GQ : rt > WT_ROWS ? WT_ROWS : rt;
	for (int64_t b0 = 0; b0 < n_cols; b0 += XB_COLS) {
		const int64_t nbc = n_cols - b0 < XB_COLS ? n_cols - b0 : XB_COLS;
		const float *xc[XB_COLS];
		for (int64_t c = 0; c < nbc; c++) {
			xc[c] = x + (b0 + c) * n_in;
			if (xbuf) {
				memcpy(xbuf + c * xld, xc[c], (size_t)n_in * sizeof(float));
				xc[c] = xbuf + c * xld;
			}
		}
		for (int64_t t0 = 0; t0 < nr; t0 += rt) {
			const int64_t tr = nr - t0 < rt ? nr - t0 : rt;
			for (int64_t c0 = 0, nc; c0 < nbc; c0 += nc) {
				/* groups of three; four left go as two and two */
				const int64_t left = nbc - c0;
				nc = left == 4 ? 2 : left < GC ? left : GC;
				const float *xg[GC];
				for (int c = 0; c < nc; c++)
					xg[c] = xc[c0 + c];
				for (int64_t r0 = t0; r0 < t0 + tr; r0 += GQ) {
					const uint8_t *wg[GQ];
					float o[GQ][GC];
					for (int i = 0; i < GQ; i++)
						wg[i] = w + (size_t)(r0 + i < t0 + tr ? r0 + i : t0 + tr - 1) * wrs;
					tile[nc - 1](wg, xg, n_in, o);
					for (int c = 0; c < nc; c++)
						for (int i = 0; i < GQ && r0 + i < t0 + tr; i++)
							y[(b0 + c0 + c) * ldy + r0 + i] = o[i][c];
				}
			}
		}
	}
}

/* The MLX formats (avx2_mlx.c) against float columns: up to NC columns
 * through the fused row kernel, more through dequantized row tiles and the
 * f32 tiles (each row decoded once for all the columns). */
static qnt_status mlx_matmul(const qnt_host_api *host, const struct qnt__avx2_mlx *k, const qnt_matmul_job *job)
{
	const int64_t n_in = job->n_in, n_out = job->n_out, n_cols = job->n_cols;
	const size_t wrs = host->row_size(job->wtype, n_in);
	if (!job->x.host || wrs == 0 || n_in % k->gs != 0)
		return QNT_E_INVALID_ARG;
	const uint8_t *w = job->w.host;
	const float *x = job->x.host;
	float *y = job->y.host;
	if (n_cols > NC) {
		float *buf = host->alloc((size_t)ROW_TILE * (size_t)n_in * sizeof(float), 64);
		if (!buf)
			return QNT_E_NO_MEMORY;
		for (int64_t r0 = job->row_begin; r0 < job->row_end; r0 += ROW_TILE) {
			const int64_t r1 = r0 + ROW_TILE < job->row_end ? r0 + ROW_TILE : job->row_end;
			for (int64_t r = r0; r < r1; r++)
				qnt__avx2_mlx_deq(k, w + (size_t)r * wrs, buf + (r - r0) * n_in, n_in);
			float_tiles(fl_f32.tile, (const uint8_t *)buf, (size_t)n_in * sizeof(float), r1 - r0, x, n_in,
				    n_cols, y + r0, n_out, NULL);
		}
		host->free(buf);
		return QNT_OK;
	}
	/* per column: the group sums, and x in the kernel's order */
	const int64_t ng = n_in / k->gs, perm = qnt__avx2_mlx_perm_unit(k) != 0;
	const size_t need = (size_t)(n_cols * (ng + (perm ? n_in : 0)));
	float stack[4096], *sums = need <= sizeof stack / sizeof stack[0] ? stack : host->alloc(need * sizeof(float), 64);
	if (!sums)
		return QNT_E_NO_MEMORY;
	const float *xc[NC], *sc[NC];
	for (int64_t c = 0; c < n_cols; c++) {
		sc[c] = sums + c * ng;
		if (k->mode == QNT_MLX_AFFINE)
			qnt__avx2_mlx_group_sums(k, x + c * n_in, n_in, sums + c * ng);
		xc[c] = x + c * n_in;
		if (perm) {
			float *xp = sums + n_cols * ng + c * n_in;
			qnt__avx2_mlx_permute_x(k, x + c * n_in, n_in, xp);
			xc[c] = xp;
		}
	}
	for (int64_t r = job->row_begin; r < job->row_end; r++) {
		float out[NC];
		qnt__avx2_mlx_row(k, w + (size_t)r * wrs, xc, sc, (int)n_cols, n_in, out);
		for (int64_t c = 0; c < n_cols; c++)
			y[c * n_out + r] = out[c];
	}
	if (sums != stack)
		host->free(sums);
	return QNT_OK;
}

static qnt_status avx2_matmul(void *state, const qnt_matmul_job *job)
{
	const qnt_host_api *host = state;
	const struct fmt *f = find(job->wtype);
	struct qnt__avx2_mlx mk;
	if (!f && !job->w.buffer && !job->x.buffer && !job->y.buffer && qnt__avx2_mlx_init(job->wtype, &mk))
		return mlx_matmul(host, &mk, job);
	if (job->w.buffer || job->x.buffer || job->y.buffer || !f || !(f->mm || f->fl))
		return QNT_E_INVALID_ARG;
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

	/* legacy formats: every column's block scales and sums as floats */
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
	if (f->fl && n_cols == 1) { /* float weights, one column: GR rows at a time (float_gemv) */
		f->fl->gemv(w + (size_t)job->row_begin * wrs, wrs, job->row_end - job->row_begin, (const float *)xq,
			    n_in, y + job->row_begin);
		return QNT_OK;
	}
	if (f->fl) { /* float weights: all the rows at once (see float_tiles) */
		const int64_t xb = n_cols < XB_COLS ? n_cols : XB_COLS;
		float *xbuf = host->alloc((size_t)xb * (size_t)xcopy_ld(n_in) * sizeof(float), 64);
		if (!xbuf)
			return QNT_E_NO_MEMORY;
		float_tiles(f->fl->tile, w + (size_t)job->row_begin * wrs, wrs, job->row_end - job->row_begin,
			    (const float *)xq, n_in, n_cols, y + job->row_begin, n_out, xbuf);
		host->free(xbuf);
		return QNT_OK;
	}
	for (int64_t r0 = job->row_begin; r0 < job->row_end; r0 += ROW_TILE) {
		const int64_t r1 = r0 + ROW_TILE < job->row_end ? r0 + ROW_TILE : job->row_end;
		if (f->gemm && n_cols > NC) {
			for (int64_t c0 = 0; c0 < n_cols; c0 += QNT__AVX2_GEMM_COLS) {
				const int nc = n_cols - c0 < QNT__AVX2_GEMM_COLS ? (int)(n_cols - c0) : QNT__AVX2_GEMM_COLS;
				struct xcol xc[QNT__AVX2_GEMM_COLS];
				for (int c = 0; c < nc; c++) {
					xc[c].blk = xq + (size_t)(c0 + c) * xrs;
					xc[c].d = legacy ? ds + (size_t)(2 * (c0 + c)) * nb : NULL;
					xc[c].s = legacy ? ds + (size_t)(2 * (c0 + c) + 1) * nb : NULL;
				}
				f->gemm(w + (size_t)r0 * wrs, wrs, (int)(r1 - r0), xc, nc, n_in, y + c0 * n_out + r0, n_out);
			}
			continue;
		}
		for (int64_t c0 = 0; c0 < n_cols; c0 += NC) {
			const int nc = n_cols - c0 < NC ? (int)(n_cols - c0) : NC;
			struct xcol xc[NC];
			for (int c = 0; c < nc; c++) {
				xc[c].blk = xq + (size_t)(c0 + c) * xrs;
				xc[c].d = legacy ? ds + (size_t)(2 * (c0 + c)) * nb : NULL;
				xc[c].s = legacy ? ds + (size_t)(2 * (c0 + c) + 1) * nb : NULL;
			}
			for (int64_t r = r0; f->mm2 && r < r1; r += 2) {
				/* an odd last row pairs with itself (its output is the same) */
				const int64_t r2 = r + 1 < r1 ? r + 1 : r;
				float out[2 * NC];
				f->mm2(w + (size_t)r * wrs, w + (size_t)r2 * wrs, xc, nc, n_in, out);
				for (int c = 0; c < nc; c++) {
					y[(c0 + c) * n_out + r] = out[2 * c];
					y[(c0 + c) * n_out + r2] = out[2 * c + 1];
				}
			}
			for (int64_t r = r0; !f->mm2 && r < r1; r++) {
				float out[NC];
				f->mm(w + (size_t)r * wrs, xc, nc, n_in, out);
				for (int c = 0; c < nc; c++)
					y[(c0 + c) * n_out + r] = out[c];
			}
		}
	}
	if (ds && ds != stack)
		host->free(ds);
	return QNT_OK;
}

const qnt_backend_vtbl qnt__cpu_avx2_backend = {
	.struct_size = sizeof(qnt_backend_vtbl),
	.abi_version = QNT_BACKEND_ABI,
	.name = QNT_X86_BACKEND_NAME,
	.description = QNT_X86_BACKEND_DESCRIPTION,
	.caps = QNT_BACKEND_CAP_HOST_THREADS,
	.score = qnt__cpu_avx2_score,
	.open = qnt__host_cpu_open,
	.close = qnt__host_cpu_close,
	.device_count = qnt__host_cpu_device_count,
	.device_props = avx2_device_props,
	.supports = avx2_supports,
	.quantize = avx2_quantize,
	.dequantize = avx2_dequantize,
	.matmul_xq_type = avx2_matmul_xq_type,
	.matmul = avx2_matmul,
	.matrix_prepare = qnt__avx2_matrix_prepare,
	.matmul_prepared = qnt__avx2_matmul_prepared,
	.matrix_free = qnt__avx2_matrix_free,
};
