/* SPDX-License-Identifier: MIT */
/* Small inline helpers shared by the cpu-avx2 kernel files (avx2.c,
 * avx2_iq.c), which are compiled with -mavx2 -mfma -mf16c. */
#ifndef QNT_AVX2_UTIL_H
#define QNT_AVX2_UTIL_H

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

/* QNT_AVX512: the cpu-avx512 build of these files (-DQNT_X86_AVX512), whose
 * AVX-512 code paths use the F/BW/VL/VNNI intrinsics; in an emulated build
 * (-Davx512=emulated) SIMDe supplies them under their Intel names, computed
 * with AVX2, so that the tests run that code on a CPU without AVX-512. */
#if defined(QNT_X86_AVX512) && defined(QNT_AVX512_EMULATED)
#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
#define QNT_AVX512 1
#elif defined(QNT_X86_AVX512)
#if !defined(__AVX512F__) || !defined(__AVX512BW__) || !defined(__AVX512VL__) || !defined(__AVX512VNNI__)
#error "the cpu-avx512 build needs -mavx512f -mavx512bw -mavx512vl -mavx512vnni"
#endif
#define QNT_AVX512 1
#else
#define QNT_AVX512 0
#endif

#if defined(__GNUC__)
#define INLINE static inline __attribute__((always_inline))
#else
#define INLINE static inline
#endif

#if defined(__GNUC__) && !defined(__clang__)
#define UNROLL _Pragma("GCC unroll 8")
#else
#define UNROLL
#endif

/* fp16 -> fp32 with F16C: exact, and cheaper than the reference's
 * branches; a signalling NaN comes back quiet (payload kept). That equals
 * the reference wherever the scale only enters arithmetic (a multiply or
 * add quiets the NaN the same way), which is every dequantizer's scale but
 * not an f16 element itself (deq_f16 keeps the payload). */
INLINE float h2f(uint16_t h)
{
	return _cvtsh_ss(h);
}

/* The one-row kernels prefetch their blocks this many bytes ahead, past the
 * row's end into the next row, which follows it in memory (4096 x 4096 GEMV
 * from memory, 1 thread, bench/ab_matmul.py --plain --cold: q4_0
 * 1.12-1.16x against none, 2048 bytes 1.08x against 1024, 4096 1.02x
 * against 2048; q2_K 1.04-1.09x; q8_0, q4_1, q5_0, q5_1 1.12-1.20x, 100
 * or 80 rounds in both orders; q3_K 1.15-1.18x, q6_K 1.18-1.27x; tq2_0
 * 1.09-1.21x (1 KiB ahead 1.05-1.12x, 2 KiB alike, 512 bytes 0.93-0.94x
 * of 1 KiB); iq4_xs 1.04-1.16x; the lattice i-quants' compute-bound
 * kernels 0.82-1.03x, so they do not). */
#define ROW_PF 4096

/* Prefetches the cache lines of `bytes` bytes from p + ROW_PF. */
INLINE void prefetch_ahead(const void *p, size_t bytes)
{
	for (size_t o = 0; o < bytes; o += 64)
		_mm_prefetch((const char *)p + ROW_PF + o, _MM_HINT_T0);
}

/* Keeps v in a register as it is: a running sum stays one chain of adds,
 * where GCC would otherwise reassociate the integer sums of an unrolled
 * loop into a tree of every product (one register each, then spills). */
INLINE void keep_reg(__m256i *v)
{
#if defined(__GNUC__)
	__asm__("" : "+x"(*v));
#else
	(void)v;
#endif
}

/* A row group's products (out[c * rg + i]: column c, row r0 + i) into y
 * (n_out floats a column) for columns c0 .. c0 + nc - 1 and rows
 * r0 .. r1 - 1: the prepared layouts' kernels end here. */
INLINE void scatter_group(float *y, int64_t n_out, int64_t c0, int nc, int64_t r0, int64_t r1, const float *out,
			  int rg)
{
	for (int c = 0; c < nc; c++)
		for (int64_t r = r0; r < r1; r++)
			y[(c0 + c) * n_out + r] = out[c * rg + (r - r0)];
}

/* acc + the 32-bit sums of each four adjacent products u[i] * s[i] (u
 * unsigned, s signed bytes): one VPDPBUSD in cpu-avx512, VPMADDUBSW then
 * VPMADDWD by ones in cpu-avx2. The two agree wherever VPMADDUBSW's 16-bit
 * pair sums do not saturate, which every caller's operand ranges rule out
 * (|s| <= 127 with u <= 128, or u <= 127). */
INLINE __m256i dot4_u8s8(__m256i acc, __m256i u, __m256i s)
{
#if QNT_AVX512
	return _mm256_dpbusd_epi32(acc, u, s);
#else
	return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)));
#endif
}

INLINE float hsum_ps(__m256 v)
{
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

INLINE __m256i load256(const void *p)
{
	return _mm256_loadu_si256((const __m256i *)p);
}

INLINE __m128i load128(const void *p)
{
	return _mm_loadu_si128((const __m128i *)p);
}

INLINE uint32_t load_u32(const void *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof v);
	return v;
}

/* 32 nibbles in element order from 16 bytes: low nibbles (elements 0-15) in
 * the low lane, high nibbles (16-31) in the high lane (one broadcast load,
 * one variable shift). */
INLINE __m256i nib32(const uint8_t *qs)
{
	const __m256i v = _mm256_broadcastsi128_si256(load128(qs));
	return _mm256_and_si256(_mm256_srlv_epi32(v, _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4)),
				_mm256_set1_epi8(0x0f));
}

/* The sums of four vectors of 32-bit lanes, per 128-bit lane: [p0 p1 p2
 * p3] of each lane, by unpacks and adds (one micro-op each, where VPHADDD
 * takes three or four). */
INLINE __m256i fold4_i32(const __m256i p[4])
{
	const __m256i a = _mm256_add_epi32(_mm256_unpacklo_epi32(p[0], p[1]), _mm256_unpackhi_epi32(p[0], p[1]));
	const __m256i b = _mm256_add_epi32(_mm256_unpacklo_epi32(p[2], p[3]), _mm256_unpackhi_epi32(p[2], p[3]));
	return _mm256_add_epi32(_mm256_unpacklo_epi64(a, b), _mm256_unpackhi_epi64(a, b));
}

/* Eight E8M0 exponents e (32-bit lanes) as avx2_iq.c's e8m0_half makes
 * them: 2^(e - 128), the subnormals 0x00200000 << e for e < 2. */
INLINE __m256 e8m0_half_v(__m256i e)
{
	const __m256i nrm = _mm256_slli_epi32(_mm256_sub_epi32(e, _mm256_set1_epi32(1)), 23);
	const __m256i den = _mm256_sllv_epi32(_mm256_set1_epi32(0x00200000), e);
	return _mm256_castsi256_ps(_mm256_blendv_epi8(nrm, den, _mm256_cmpgt_epi32(_mm256_set1_epi32(2), e)));
}

/* The two-row kernels (row2_fn, cpu_avx2.h: row a in the low 128-bit lane,
 * row b in the high): the 16 bytes at a (low lane) and at b (high lane). */
INLINE __m256i load2x128(const uint8_t *a, const uint8_t *b)
{
	return _mm256_inserti128_si256(_mm256_castsi128_si256(load128(a)), load128(b), 1);
}

/* The 16 bytes at p in both lanes (VBROADCASTI128: a load only). */
INLINE __m256i bcast128(const void *p)
{
	return _mm256_broadcastsi128_si256(load128(p));
}

/* Each lane's four floats summed ((e0 + e2) + (e1 + e3), the same order in
 * both lanes): out[0] from the low lane, out[1] from the high lane. */
INLINE void hsum2_ps(__m256 v, float *out)
{
	v = _mm256_add_ps(v, _mm256_permute_ps(v, 0x4e));
	v = _mm256_add_ps(v, _mm256_permute_ps(v, 0xb1));
	out[0] = _mm256_cvtss_f32(v);
	out[1] = _mm_cvtss_f32(_mm256_extractf128_ps(v, 1));
}

/* ---- cpu-avx512 helpers (QNT_AVX512): the kernels of every file ---- */

/* acc + VPMADDWD(a, b): the 32-bit sums of each two adjacent 16-bit
 * products added to acc. One VPDPWSSD in cpu-avx512, VPMADDWD then VPADDD in
 * cpu-avx2: the same two 32-bit products and the same wrapping 32-bit adds
 * (VPDPWSSD is the non-saturating form; VPMADDWD saturates only for a pair
 * of -2^15 * -2^15), so the same sums for the callers' operands. */
INLINE __m256i dot2_i16(__m256i acc, __m256i a, __m256i b)
{
#if QNT_AVX512
	return _mm256_dpwssd_epi32(acc, a, b);
#else
	return _mm256_add_epi32(acc, _mm256_madd_epi16(a, b));
#endif
}

#if QNT_AVX512
/* Eight bytes (one per row of a group) as floats, unsigned and signed. */
INLINE __m256 u8x8_ps(const void *p)
{
	return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p)));
}

INLINE __m256 i8x8_ps(const void *p)
{
	return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p)));
}

/* isum + s * sc exactly, lane by lane, without VPMULLD: s a 32-bit sum of
 * products (VPDPBUSD's), sc a small integer as a float, |s * sc| < 2^24:
 * the conversions, the product and its conversion back are all exact, in
 * any rounding mode. Four micro-ops (VPMULLD and VPADDD are three on Intel
 * but VPMULLD's latency is 10); a win where one scale meets a sum of
 * several VPDPBUSD that replace twice as many VPMADDUBSW and VPADDW. */
INLINE __m256i add_scaled_i32(__m256i isum, __m256i s, __m256 sc)
{
	return _mm256_add_epi32(isum, _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_cvtepi32_ps(s), sc)));
}

/* isum + s0 * sc0 + s1 * sc1 exactly where |s0 * sc0| + |s1 * sc1| < 2^24
 * (the FMA's exact result is then a float). */
INLINE __m256i add_scaled2_i32(__m256i isum, __m256i s0, __m256 sc0, __m256i s1, __m256 sc1)
{
	const __m256 t = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s1), sc1, _mm256_mul_ps(_mm256_cvtepi32_ps(s0), sc0));
	return _mm256_add_epi32(isum, _mm256_cvtps_epi32(t));
}

/* 16 fp16 -> 16 floats (VCVTPH2PS zmm: exact, a signalling NaN made quiet as
 * by F16C). SIMDe 0.7.4 has no _mm512_cvtph_ps: the emulated build converts
 * the two halves with F16C, the same conversion. */
INLINE __m512 cvtph16_ps(__m256i h)
{
#if defined(QNT_AVX512_EMULATED)
	const __m256 lo = _mm256_cvtph_ps(_mm256_castsi256_si128(h));
	const __m256 hi = _mm256_cvtph_ps(_mm256_extracti128_si256(h, 1));
	return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castpd256_pd512(_mm256_castps_pd(lo)), _mm256_castps_pd(hi), 1));
#else
	return _mm512_cvtph_ps(h);
#endif
}

/* 16 bf16 -> 16 floats: each widened to 32 bits and shifted into the top
 * half (the float's bits, as qnt__bf16_to_fp32). SIMDe 0.7.4 has no
 * _mm512_cvtepu16_epi32: the emulated build widens the halves with AVX2. */
INLINE __m512 bf16x16_ps(__m256i h)
{
#if defined(QNT_AVX512_EMULATED)
	const __m256i lo = _mm256_cvtepu16_epi32(_mm256_castsi256_si128(h));
	const __m256i hi = _mm256_cvtepu16_epi32(_mm256_extracti128_si256(h, 1));
	const __m512i v = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
#else
	const __m512i v = _mm512_cvtepu16_epi32(h);
#endif
	return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
}

/* The sum of a __m512's halves as a __m256 (for hsum_ps; AVX-512F has no
 * 256-bit float extract without DQ, so it goes through the pd form). */
INLINE __m256 fold512_ps(__m512 v)
{
	return _mm256_add_ps(_mm512_castps512_ps256(v), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
}
#endif
/* ---- end of the cpu-avx512 helpers ---- */

#endif
