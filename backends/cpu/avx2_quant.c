/* SPDX-License-Identifier: MIT */
/*
 * The "cpu-avx2" backend's quantizers for the formats whose quantizer is a
 * search (legacy formats with importance; k-quants, i-quants, tq1_0, tq2_0,
 * mxfp4, nvfp4, q1_0 and q2_0 with or without it): the scalar reference's
 * own code (lib/core/quant_legacy.c, quant_kquants.c, quant_iquants.c,
 * quant_lowbit.c, ggml_fit.c), compiled a second time, in the library
 * qnt_cpu_avx2_quant, with -mavx2 -mfma -mf16c and its external symbols
 * renamed (avx2_quant_names.h, forced in). Their candidate scans and error
 * sums are written as 4-lane float and double vectors (qnt_lanes.h); with
 * AVX the double vectors are one instruction instead of two, SSE4.1's
 * rounding instructions replace library calls, and the compiler's
 * vectorizer (on at -O2, as for the reference) has wider vectors.
 *
 * The bytes are the reference's by construction: the code is the same C,
 * and every float operation is the IEEE operation the reference does, in the
 * same order. The whole library is built with -ffp-contract=off, so -mfma
 * fuses nothing, and without -ffast-math the compiler does not reorder
 * floating-point sums (its vectorizer leaves such reductions alone); rounding functions (floorf, roundf) that SSE4.1 lets
 * the compiler inline are exact. tests/unit/test_quantize.c and
 * bench/compare_quant_bytes.py compare this backend's bytes with the "cpu"
 * backend's.
 *
 * Rows that hold a NaN or an infinity are the exception: with two NaN
 * operands x86 keeps the payload of the first, and the compiler may swap the
 * operands of a commutative operation (AVX's three-operand forms make other
 * choices than SSE's two-operand ones), so a NaN's payload, which some
 * quantizers read as bits, can differ between the two builds. Such rows go
 * to the scalar reference (host->quantize_ref). Finite rows only ever meet
 * the default NaN the hardware generates (inf - inf and the like), the same
 * whichever operand comes first.
 *
 * The i-quant lattice tables of this copy are its own (built on first use,
 * like the reference's).
 */
#include "avx2_quant.h"
#include "formats.h"

#include <immintrin.h>
#include <math.h>

static const struct qnt__type_traits *find_in(const struct qnt__type_traits *t, size_t n, qnt_type type)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].id == type)
			return &t[i];
	return NULL;
}

static qnt__quantize_fn quantizer(qnt_type type)
{
	const struct qnt__type_traits *t = find_in(qnt__traits_legacy, qnt__traits_legacy_count, type);
	if (!t)
		t = find_in(qnt__traits_kquants, qnt__traits_kquants_count, type);
	if (!t)
		t = find_in(qnt__traits_iquants, qnt__traits_iquants_count, type);
	if (!t)
		t = find_in(qnt__traits_lowbit, qnt__traits_lowbit_count, type);
	if (!t || !(t->flags & QNT_TYPE_FLAG_QUANTIZED) || (t->flags & QNT_TYPE_FLAG_ACTIVATION))
		return NULL;
	return t->quantize;
}

int qnt__avx2_has_quantizer(qnt_type type)
{
	return quantizer(type) != NULL;
}

/* 1 if all n values are finite (exponent bits not all ones). */
static int row_finite(const float *x, int64_t n)
{
	const __m256i expo = _mm256_set1_epi32(0x7f800000);
	__m256i bad = _mm256_setzero_si256();
	int64_t i = 0;
	for (; i + 8 <= n; i += 8) {
		const __m256i v = _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(const void *)(x + i)), expo);
		bad = _mm256_or_si256(bad, _mm256_cmpeq_epi32(v, expo));
	}
	if (!_mm256_testz_si256(bad, bad))
		return 0;
	for (; i < n; i++)
		if (!isfinite(x[i]))
			return 0;
	return 1;
}

qnt_status qnt__avx2_quantize(const qnt_host_api *host, qnt_type type, const float *src, void *dst, int64_t nrows,
			      int64_t n_per_row, size_t row_bytes, const float *imp)
{
	const qnt__quantize_fn q = quantizer(type);
	if (!q)
		return QNT_E_INVALID_ARG;
	char *out = dst;
	int64_t r = 0;
	while (r < nrows) {
		/* a run of finite rows, then a row that is not */
		int64_t e = r;
		while (e < nrows && row_finite(src + e * n_per_row, n_per_row))
			e++;
		if (e > r)
			q(src + r * n_per_row, out + (size_t)r * row_bytes, e - r, n_per_row, imp);
		if (e < nrows) {
			const qnt_status st = host->quantize_ref(type, src + e * n_per_row, out + (size_t)e * row_bytes, 1,
								 n_per_row, imp);
			if (st != QNT_OK)
				return st;
			e++;
		}
		r = e;
	}
	return QNT_OK;
}
