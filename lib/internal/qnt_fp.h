/* SPDX-License-Identifier: MIT */
/* Scalar float conversions shared by the reference kernels. All of them are
 * exact bit manipulations or single IEEE operations in the default rounding
 * mode, so they give the same result with every compiler and flag set. */
#ifndef QNT_FP_H
#define QNT_FP_H

#include <stdint.h>
#include <string.h>

static inline uint32_t qnt__f32_bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	return u;
}

static inline float qnt__f32_from_bits(uint32_t u)
{
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}

/* IEEE half -> float, exact. */
static inline float qnt__fp16_to_fp32(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
	uint32_t exp = (h >> 10) & 0x1fu;
	uint32_t man = h & 0x3ffu;

	if (exp == 0x1f) /* inf / nan: keep the payload */
		return qnt__f32_from_bits(sign | 0x7f800000u | (man << 13));
	if (exp == 0) {
		if (man == 0)
			return qnt__f32_from_bits(sign);
		/* subnormal: man * 2^-24, exact in float */
		float v = (float)man * 0x1p-24f;
		return sign ? -v : v;
	}
	return qnt__f32_from_bits(sign | ((exp + 112u) << 23) | (man << 13));
}

/* The fp16 scale at p (read bytewise: a block may sit at any address) as
 * ggml's low-bit formats read it: ggml's portable conversion ends in a
 * float multiply, which quiets a signalling NaN, so the quiet bit is set
 * here too (q1_0 passes the scale through unmultiplied). */
static inline float qnt__fp16_load_quiet(const void *p)
{
	uint16_t h;
	memcpy(&h, p, sizeof h);
	float d = qnt__fp16_to_fp32(h);
	if ((h & 0x7c00u) == 0x7c00u && (h & 0x03ffu))
		d = qnt__f32_from_bits(qnt__f32_bits(d) | 0x00400000u);
	return d;
}

/* float -> IEEE half, round to nearest even (what F16C's VCVTPS2PH with
 * imm 0 and numpy's astype(float16) do). NaN stays NaN (quiet, payload kept
 * in its top bits), overflow goes to infinity. */
static inline uint16_t qnt__fp32_to_fp16(float f)
{
	uint32_t x = qnt__f32_bits(f);
	uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
	uint32_t ax = x & 0x7fffffffu;

	if (ax > 0x7f800000u) /* NaN */
		return (uint16_t)(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
	if (ax >= 0x477ff000u) /* >= 65520: rounds to infinity (or is inf) */
		return (uint16_t)(sign | 0x7c00u);
	if (ax < 0x38800000u) {
		/* below 2^-14: the result is subnormal or zero. Adding 0.5 shifts
		 * the value so that the float adder rounds at bit 2^-24 (RNE). */
		float v = qnt__f32_from_bits(ax) + 0.5f;
		return (uint16_t)(sign | (uint16_t)(qnt__f32_bits(v) - 0x3f000000u));
	}
	/* normal: rebias and round the 13 dropped bits to nearest even */
	uint32_t odd = (ax >> 13) & 1u;
	ax += 0xc8000fffu + odd; /* -(112 << 23) + 0xfff + odd */
	return (uint16_t)(sign | (ax >> 13));
}

/* float -> bfloat16 as ggml does it: NaN forced quiet, otherwise round to
 * nearest even; subnormals are kept. */
static inline uint16_t qnt__fp32_to_bf16(float f)
{
	uint32_t u = qnt__f32_bits(f);
	if ((u & 0x7fffffffu) > 0x7f800000u)
		return (uint16_t)((u >> 16) | 64u);
	return (uint16_t)((u + (0x7fffu + ((u >> 16) & 1u))) >> 16);
}

static inline float qnt__bf16_to_fp32(uint16_t h)
{
	return qnt__f32_from_bits((uint32_t)h << 16);
}

/* Round an fp32 value through fp16 and back. */
static inline float qnt__fp16_round(float f)
{
	return qnt__fp16_to_fp32(qnt__fp32_to_fp16(f));
}

/* C's float -> small-integer conversion as ggml's reference quantizers get it
 * on x86-64 (CVTTSS2SI): truncation toward zero of values in int32 range, and
 * INT32_MIN for NaN, infinities and anything out of range. The caller then
 * keeps the low bits, as the (int8_t)/(uint8_t) casts in ggml do. Only
 * degenerate blocks (scales that underflow, making 1/d infinite) reach the
 * out-of-range case. */
static inline int32_t qnt__cvt_trunc(float v)
{
	if (v > -2147483648.0f && v < 2147483648.0f)
		return (int32_t)v;
	return INT32_MIN;
}

/* roundf (half away from zero) followed by the same conversion. Branch-free
 * in the common case: v - trunc(v) is exact, and so is (float)trunc(v) (a
 * float of magnitude >= 2^23 is already an integer). */
static inline int32_t qnt__cvt_round(float v)
{
	if (v > -2147483648.0f && v < 2147483648.0f) {
		int32_t t = (int32_t)v;
		float f = v - (float)t;
		return t + (f >= 0.5f) - (f <= -0.5f);
	}
	return INT32_MIN;
}

/* Round to nearest, ties to even, by adding 1.5 * 2^23 and reading the low
 * mantissa bits (ggml's nearest_int, defined for every input: far outside
 * +-2^22 it gives the same wrapped value ggml gets). */
static inline int qnt__nearest_int(float f)
{
	float v = f + 12582912.0f;
	return (int)(qnt__f32_bits(v) & 0x007fffffu) - 0x00400000;
}

static inline int qnt__clampi(int v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

#endif /* QNT_FP_H */
