/* SPDX-License-Identifier: MIT */
/* Plain float formats: f32, f16 (IEEE half, round to nearest even) and bf16
 * (ggml's rounding: nearest even, NaN forced quiet, subnormals kept). They
 * have no freedom, so importance weights are ignored. */
#include "formats.h"
#include "qnt_fp.h"

#include <string.h>

static void quant_f32(const float *src, void *dst, int64_t nrows, int64_t n, const float *imp)
{
	(void)imp;
	memcpy(dst, src, (size_t)(nrows * n) * sizeof(float));
}

static void deq_f32(const void *src, float *dst, int64_t n)
{
	memcpy(dst, src, (size_t)n * sizeof(float));
}

static void quant_f16(const float *src, void *dst, int64_t nrows, int64_t n, const float *imp)
{
	uint16_t *y = dst;
	(void)imp;
	for (int64_t i = 0; i < nrows * n; i++)
		y[i] = qnt__fp32_to_fp16(src[i]);
}

static void deq_f16(const void *src, float *dst, int64_t n)
{
	const uint16_t *x = src;
	for (int64_t i = 0; i < n; i++)
		dst[i] = qnt__fp16_to_fp32(x[i]);
}

/* qnt__fp32_to_bf16 without branches, so that the fixed-length loop below
 * vectorizes: the same bits for every input. */
static inline uint16_t bf16_bits(uint32_t u)
{
	const uint32_t nan = (u & 0x7fffffffu) > 0x7f800000u;
	const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
	const uint32_t quiet = (u >> 16) | 64u;
	return (uint16_t)(nan ? quiet : rounded);
}

static void quant_bf16(const float *src, void *dst, int64_t nrows, int64_t n, const float *imp)
{
	uint16_t *y = dst;
	const int64_t total = nrows * n;
	int64_t i = 0;
	(void)imp;
	for (; i + 16 <= total; i += 16) {
		uint32_t u[16];
		memcpy(u, src + i, sizeof u);
		for (int k = 0; k < 16; k++)
			y[i + k] = bf16_bits(u[k]);
	}
	for (; i < total; i++)
		y[i] = qnt__fp32_to_bf16(src[i]);
}

static void deq_bf16(const void *src, float *dst, int64_t n)
{
	const uint16_t *x = src;
	for (int64_t i = 0; i < n; i++)
		dst[i] = qnt__bf16_to_fp32(x[i]);
}

const struct qnt__type_traits qnt__traits_float[] = {
	{ QNT_TYPE_F32, "f32", "IEEE binary32", 1, 4, 0, quant_f32, deq_f32 },
	{ QNT_TYPE_F16, "f16", "IEEE binary16, round to nearest even", 1, 2, 0, quant_f16, deq_f16 },
	{ QNT_TYPE_BF16, "bf16", "bfloat16, round to nearest even", 1, 2, 0, quant_bf16, deq_bf16 },
};
const size_t qnt__traits_float_count = sizeof qnt__traits_float / sizeof qnt__traits_float[0];
