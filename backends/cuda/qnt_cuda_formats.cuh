/* SPDX-License-Identifier: MIT */
/*
 * qnt_cuda_formats.cuh: the per-block arithmetic of the CUDA backend, as
 * __host__ __device__ inline functions, so that the same code runs in the
 * kernels (backends/cuda/cuda_backend.cu) and on the CPU in the host test
 * (tests/cuda/test_cuda_formats.cu), which compares it bit for bit with the
 * scalar reference of lib/core/.
 *
 * Decoding: qc_get<K>(f, blk, j) is element j of one block of format K, the
 * floats of the reference's dequantizer to the bit; qc_get8 the same for
 * eight elements at once (the matmul's conversion to f16). Encoding: qc_enc_q8_0,
 * qc_enc_q4_K and qc_enc_mlx_affine write the reference quantizer's bytes
 * for one block (no importance weights).
 *
 * Floating point: every operation here is a single IEEE operation in round
 * to nearest even, written in the reference's order. Contraction of a*b+c
 * into a fused multiply-add would change results, so the device code is
 * compiled with nvcc -fmad=false and the host code with -ffp-contract=off
 * (backends/cuda/meson.build); divisions and sqrtf stay IEEE-exact (nvcc's
 * defaults -prec-div=true -prec-sqrt=true -ftz=false, never
 * --use_fast_math). Float-to-integer conversions are written out
 * (qc_cvt_trunc, qc_nearest_int) because CUDA's cvt saturates and maps NaN
 * to 0 where x86-64, which the reference follows, gives INT32_MIN.
 *
 * Layouts are read bytewise at fixed offsets (ggml's block layouts, as in
 * lib/internal/qnt_blocks.h; MLX's interleaved registry blocks, as in
 * lib/core/quant_mlx.c), so a block may start at any address.
 */
#ifndef QNT_CUDA_FORMATS_CUH
#define QNT_CUDA_FORMATS_CUH

#include "libqnt.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define QC_HD __host__ __device__ __forceinline__

/* Format kinds (template parameter of the kernels). */
enum {
	QC_F32,
	QC_F16,
	QC_BF16,
	QC_Q4_0,
	QC_Q4_1,
	QC_Q5_0,
	QC_Q5_1,
	QC_Q8_0,
	QC_Q2_K,
	QC_Q3_K,
	QC_Q4_K,
	QC_Q5_K,
	QC_Q6_K,
	QC_MXFP4,      /* ggml's mxfp4: E8M0 byte, 16 code bytes per 32 */
	QC_NVFP4,      /* ggml's nvfp4: 4 UE4M3 bytes, 32 code bytes per 64 */
	QC_MLX_AFFINE, /* mlx:affine:<bits>:<group>[:dtype] */
	QC_MLX_MXFP4,  /* mlx:mxfp4[:dtype] */
	QC_MLX_MXFP8,  /* mlx:mxfp8[:dtype] */
	QC_MLX_NVFP4,  /* mlx:nvfp4[:dtype] */
	QC_N_KINDS
};

/* MLX element types (lib/core/quant_mlx.h order). */
enum { QC_D_F32, QC_D_F16, QC_D_BF16 };

/* A resolved format: its kind plus what the kind leaves open. */
struct qc_fmt {
	int kind;
	int bs;   /* elements per block */
	int bb;   /* bytes per block */
	int bits; /* MLX: code width */
	int d;    /* MLX: element type of scale and bias (QC_D_*) */
};

/* ------------------------------------------------------------------ */
/* Bits and conversions                                                 */
/* ------------------------------------------------------------------ */

QC_HD uint32_t qc_bits(float f)
{
#ifdef __CUDA_ARCH__
	return __float_as_uint(f);
#else
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	return u;
#endif
}

QC_HD float qc_float(uint32_t u)
{
#ifdef __CUDA_ARCH__
	return __uint_as_float(u);
#else
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
#endif
}

QC_HD uint16_t qc_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

QC_HD uint32_t qc_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

QC_HD void qc_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

QC_HD float qc_fabs(float x)
{
	return qc_float(qc_bits(x) & 0x7fffffffu);
}

/* IEEE half -> float, exact (payloads of NaN kept). */
QC_HD float qc_h2f(uint16_t h)
{
	const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
	const uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
	if (exp == 0x1f)
		return qc_float(sign | 0x7f800000u | (man << 13));
	if (exp == 0) {
		if (man == 0)
			return qc_float(sign);
		const float v = (float)man * 5.9604644775390625e-8f; /* 2^-24, exact */
		return sign ? -v : v;
	}
	return qc_float(sign | ((exp + 112u) << 23) | (man << 13));
}

/* float -> IEEE half, round to nearest even, overflow to infinity, NaN
 * quiet with its top payload bits (qnt__fp32_to_fp16). */
QC_HD uint16_t qc_f2h(float f)
{
	const uint32_t x = qc_bits(f);
	const uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
	uint32_t ax = x & 0x7fffffffu;
	if (ax > 0x7f800000u)
		return (uint16_t)(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
	if (ax >= 0x477ff000u)
		return (uint16_t)(sign | 0x7c00u);
	if (ax < 0x38800000u) {
		const float v = qc_float(ax) + 0.5f; /* the adder rounds at 2^-24 */
		return (uint16_t)(sign | (uint16_t)(qc_bits(v) - 0x3f000000u));
	}
	const uint32_t odd = (ax >> 13) & 1u;
	ax += 0xc8000fffu + odd;
	return (uint16_t)(sign | (ax >> 13));
}

/* ggml's fp32 -> fp16 (k-quants): every NaN becomes sign | 0x7e00. */
QC_HD uint16_t qc_f2h_ggml(float f)
{
	const uint32_t u = qc_bits(f);
	if ((u & 0x7fffffffu) > 0x7f800000u)
		return (uint16_t)(((u >> 16) & 0x8000u) | 0x7e00u);
	return qc_f2h(f);
}

QC_HD float qc_bf2f(uint16_t h)
{
	return qc_float((uint32_t)h << 16);
}

/* MLX's float -> bfloat16: round to nearest even, NaN -> 0x7fc0. */
QC_HD uint16_t qc_f2bf_mlx(float f)
{
	const uint32_t u = qc_bits(f);
	if ((u & 0x7fffffffu) > 0x7f800000u)
		return 0x7fc0u;
	return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

/* MLX's float -> half: NaN -> sign | 0x7d00. */
QC_HD uint16_t qc_f2h_mlx(float f)
{
	const uint32_t u = qc_bits(f);
	if ((u & 0x7fffffffu) > 0x7f800000u)
		return (uint16_t)(((u >> 16) & 0x8000u) | 0x7d00u);
	return qc_f2h(f);
}

/* x rounded to MLX element type d (identity for f32). */
QC_HD float qc_mlx_rt(float x, int d)
{
	if (d == QC_D_F16)
		return qc_h2f(qc_f2h_mlx(x));
	if (d == QC_D_BF16)
		return qc_bf2f(qc_f2bf_mlx(x));
	return x;
}

/* An MLX element of type d at p (unaligned). */
QC_HD float qc_mlx_load(const uint8_t *p, int d)
{
	if (d == QC_D_F32)
		return qc_float(qc_u32(p));
	const uint16_t h = qc_u16(p);
	return d == QC_D_F16 ? qc_h2f(h) : qc_bf2f(h);
}

QC_HD void qc_mlx_store(uint8_t *p, int d, float v)
{
	if (d == QC_D_F32) {
		const uint32_t u = qc_bits(v);
		for (int k = 0; k < 4; k++)
			p[k] = (uint8_t)(u >> (8 * k));
		return;
	}
	qc_put16(p, d == QC_D_F16 ? qc_f2h_mlx(v) : qc_f2bf_mlx(v));
}

/* x86-64's CVTTSS2SI: truncation, INT32_MIN for NaN and out of range
 * (qnt__cvt_trunc). */
QC_HD int32_t qc_cvt_trunc(float v)
{
	if (v > -2147483648.0f && v < 2147483648.0f)
		return (int32_t)v;
	return INT32_MIN;
}

/* roundf then that conversion (qnt__cvt_round). */
QC_HD int32_t qc_cvt_round(float v)
{
	if (v > -2147483648.0f && v < 2147483648.0f) {
		const int32_t t = (int32_t)v;
		const float f = v - (float)t;
		return t + (f >= 0.5f) - (f <= -0.5f);
	}
	return INT32_MIN;
}

/* ggml's nearest_int: 1.5 * 2^23 added, low mantissa bits read. */
QC_HD int qc_nearest_int(float f)
{
	const float v = f + 12582912.0f;
	return (int)(qc_bits(v) & 0x007fffffu) - 0x00400000;
}

QC_HD int qc_clampi(int v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

/* E2M1 magnitudes 0, .5, 1, 1.5, 2, 3, 4, 6 for k = 0..7, exact. */
QC_HD float qc_e2m1_mag(int k)
{
	return k < 4 ? 0.5f * (float)k : k == 7 ? 6.0f : (float)(k - 2);
}

/* ggml's kvalues_mxfp4 (doubled E2M1; index 8 is +0) as a float. */
QC_HD float qc_kv_fp4(int c)
{
	const float m = 2.0f * qc_e2m1_mag(c & 7);
	return (c & 8) && m != 0.0f ? -m : (c & 8) ? 0.0f : m;
}

/* MLX's E2M1 table: index 8 is -0. */
QC_HD float qc_e2m1_mlx(int c)
{
	const float m = qc_e2m1_mag(c & 7);
	return (c & 8) ? -m : m;
}

/* ggml's E8M0 scale halved: 2^(e - 128), subnormal below e = 2. */
QC_HD float qc_e8m0_half(uint8_t e)
{
	return qc_float(e < 2 ? 0x00200000u << e : (uint32_t)(e - 1) << 23);
}

/* ggml's unsigned E4M3 halved; 0x00 and 0x7f read as 0, bit 7 ignored. */
QC_HD float qc_ue4m3_half(uint8_t x)
{
	if (x == 0 || x == 0x7f)
		return 0.0f;
	const int ex = (x >> 3) & 0xf, man = x & 7;
	if (ex == 0)
		return (float)man * 0.0009765625f; /* 2^-10 */
	return (float)(8 + man) * qc_float((uint32_t)(ex - 11 + 127) << 23);
}

/* MLX's E4M3 -> float: 0x7f/0xff are NaN (0x7ff00000 with the sign). */
QC_HD float qc_e4m3_mlx(uint8_t x)
{
	if ((x & 0x7fu) == 0x7fu)
		return qc_float(0x7ff00000u | ((uint32_t)(x & 0x80u) << 24));
	const float v = qc_h2f((uint16_t)((x & 0x7fu) << 7)) * 256.0f;
	return (x & 0x80u) ? -v : v;
}

/* MLX's 2^(byte - 127) as powf gives it (exact; 2^-127 subnormal, 2^128
 * infinite). */
QC_HD float qc_mlx_pow2(uint8_t s)
{
	return qc_float(s == 0 ? 0x00400000u : (uint32_t)s << 23);
}

/* ------------------------------------------------------------------ */
/* Decoding: element j of a block                                       */
/* ------------------------------------------------------------------ */

/* Legacy 4-bit code of element j (< 32): low nibbles first. */
QC_HD int qc_nib32(const uint8_t *qs, int j)
{
	return j < 16 ? qs[j] & 0x0f : qs[j - 16] >> 4;
}

/* k-quants: the 6-bit scale and min of sub-block j (q4_K, q5_K). */
QC_HD void qc_scale_min_k4(const uint8_t *s, int j, int *sc, int *m)
{
	if (j < 4) {
		*sc = s[j] & 63;
		*m = s[j + 4] & 63;
	} else {
		*sc = (s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4);
		*m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
	}
}

/* The reference's k-quant value: (d * sc) * q - (dmin * m). */
QC_HD float qc_kval(float d, int sc, float dmin, int m, int q)
{
	const float dl = d * (float)sc;
	const float ml = dmin * (float)m;
	return dl * (float)q - ml;
}

template <int K>
QC_HD float qc_get(const qc_fmt &f, const uint8_t *b, int j)
{
	if (K == QC_F32) {
		return qc_float(qc_u32(b));
	} else if (K == QC_F16) {
		return qc_h2f(qc_u16(b));
	} else if (K == QC_BF16) {
		return qc_bf2f(qc_u16(b));
	} else if (K == QC_Q4_0) {
		return (float)(qc_nib32(b + 2, j) - 8) * qc_h2f(qc_u16(b));
	} else if (K == QC_Q4_1) {
		return (float)qc_nib32(b + 4, j) * qc_h2f(qc_u16(b)) + qc_h2f(qc_u16(b + 2));
	} else if (K == QC_Q5_0) {
		const int c = qc_nib32(b + 6, j) | (int)((qc_u32(b + 2) >> j) & 1u) << 4;
		return (float)(c - 16) * qc_h2f(qc_u16(b));
	} else if (K == QC_Q5_1) {
		const int c = qc_nib32(b + 8, j) | (int)((qc_u32(b + 4) >> j) & 1u) << 4;
		return (float)c * qc_h2f(qc_u16(b)) + qc_h2f(qc_u16(b + 2));
	} else if (K == QC_Q8_0) {
		return (float)(int8_t)b[2 + j] * qc_h2f(qc_u16(b));
	} else if (K == QC_Q2_K) {
		const int s = b[j / 16];
		const int q = (b[16 + 32 * (j / 128) + j % 32] >> (2 * ((j % 128) / 32))) & 3;
		return qc_kval(qc_h2f(qc_u16(b + 80)), s & 0x0f, qc_h2f(qc_u16(b + 82)), s >> 4, q);
	} else if (K == QC_Q3_K) {
		const uint8_t *sc = b + 96;
		const int sj = j / 16;
		const int lo = sj < 8 ? sc[sj] & 0x0f : sc[sj - 8] >> 4;
		const int hi = (sc[8 + sj % 4] >> (2 * (sj / 4))) & 3;
		const int l = (b[32 + 32 * (j / 128) + j % 32] >> (2 * ((j % 128) / 32))) & 3;
		const int q = l - ((b[j % 32] >> (j / 32)) & 1 ? 0 : 4);
		return qc_kval(qc_h2f(qc_u16(b + 108)), (lo | (hi << 4)) - 32, 0.0f, 0, q);
	} else if (K == QC_Q4_K || K == QC_Q5_K) {
		int sc, m;
		qc_scale_min_k4(b + 4, j / 32, &sc, &m);
		const int h = j / 64, l = j % 32, hi = (j % 64) >= 32;
		const uint8_t *qs = b + (K == QC_Q4_K ? 16 : 48);
		int q = hi ? qs[32 * h + l] >> 4 : qs[32 * h + l] & 0x0f;
		if (K == QC_Q5_K && (b[16 + l] & (1u << (2 * h + hi))))
			q += 16;
		return qc_kval(qc_h2f(qc_u16(b)), sc, qc_h2f(qc_u16(b + 2)), m, q);
	} else if (K == QC_Q6_K) {
		const int h = j / 128, g = (j % 128) / 32, l = j % 32;
		const uint8_t lo = b[64 * h + 32 * (g & 1) + l];
		const int q = ((g < 2 ? lo & 0x0f : lo >> 4) | (((b[128 + 32 * h + l] >> (2 * g)) & 3) << 4)) - 32;
		return qc_kval(qc_h2f(qc_u16(b + 208)), (int8_t)b[192 + j / 16], 0.0f, 0, q);
	} else if (K == QC_MXFP4) {
		return qc_kv_fp4(qc_nib32(b + 1, j)) * qc_e8m0_half(b[0]);
	} else if (K == QC_NVFP4) {
		const int s = j / 16, i = j % 16;
		const uint8_t *qs = b + 4 + 8 * s;
		const int c = i < 8 ? qs[i] & 0x0f : qs[i - 8] >> 4;
		return qc_kv_fp4(c) * qc_ue4m3_half(b[s]);
	} else if (K == QC_MLX_AFFINE) {
		/* codes: an LSB-first bit stream; the scale and bias follow */
		const int bit = j * f.bits, nb = f.bs * f.bits / 8;
		const int v = (b[bit >> 3] | (b[(bit >> 3) + 1] << 8)) >> (bit & 7);
		const int q = v & ((1 << f.bits) - 1);
		const int ds = f.d == QC_D_F32 ? 4 : 2;
		const float s = qc_mlx_load(b + nb, f.d), bias = qc_mlx_load(b + nb + ds, f.d);
		return (float)q * s + bias;
	} else if (K == QC_MLX_MXFP4) {
		return qc_e2m1_mlx((b[j >> 1] >> (4 * (j & 1))) & 15) * qc_mlx_pow2(b[16]);
	} else if (K == QC_MLX_MXFP8) {
		return qc_e4m3_mlx(b[j]) * qc_mlx_pow2(b[32]);
	} else { /* QC_MLX_NVFP4 */
		return qc_e2m1_mlx((b[j >> 1] >> (4 * (j & 1))) & 15) * qc_e4m3_mlx(b[8]);
	}
}

/* Elements j .. j + 7 of a block (j a multiple of 8, the block size a
 * multiple of 8): the floats of qc_get<K> for each, with what the eight
 * share (scales, sub-block scales, shifts) worked out once. The matmul's
 * conversion to f16 (cuda_gemm.cuh) decodes through it; the host test
 * checks it against the reference like qc_get. */
template <int K>
QC_HD void qc_get8(const qc_fmt &f, const uint8_t *b, int j, float *v)
{
	if (K == QC_Q4_0 || K == QC_Q4_1) {
		const uint8_t *qs = b + (K == QC_Q4_0 ? 2 : 4) + (j & 15);
		const int sh = j & 16 ? 4 : 0;
		const float d = qc_h2f(qc_u16(b));
		const float m = K == QC_Q4_1 ? qc_h2f(qc_u16(b + 2)) : 0.0f;
		for (int t = 0; t < 8; t++) {
			const int c = (qs[t] >> sh) & 0x0f;
			v[t] = K == QC_Q4_0 ? (float)(c - 8) * d : (float)c * d + m;
		}
	} else if (K == QC_Q5_0 || K == QC_Q5_1) {
		const int o = K == QC_Q5_0 ? 2 : 4;
		const uint8_t *qs = b + o + 4 + (j & 15);
		const int sh = j & 16 ? 4 : 0;
		const uint32_t qh = qc_u32(b + o) >> j;
		const float d = qc_h2f(qc_u16(b));
		const float m = K == QC_Q5_1 ? qc_h2f(qc_u16(b + 2)) : 0.0f;
		for (int t = 0; t < 8; t++) {
			const int c = ((qs[t] >> sh) & 0x0f) | (int)((qh >> t) & 1u) << 4;
			v[t] = K == QC_Q5_0 ? (float)(c - 16) * d : (float)c * d + m;
		}
	} else if (K == QC_Q8_0) {
		const float d = qc_h2f(qc_u16(b));
		for (int t = 0; t < 8; t++)
			v[t] = (float)(int8_t)b[2 + j + t] * d;
	} else if (K == QC_Q2_K) {
		const int s = b[j / 16];
		const float dl = qc_h2f(qc_u16(b + 80)) * (float)(s & 0x0f), ml = qc_h2f(qc_u16(b + 82)) * (float)(s >> 4);
		const uint8_t *q = b + 16 + 32 * (j / 128) + j % 32;
		const int sh = 2 * ((j % 128) / 32);
		for (int t = 0; t < 8; t++)
			v[t] = dl * (float)((q[t] >> sh) & 3) - ml;
	} else if (K == QC_Q3_K) {
		const uint8_t *sc = b + 96;
		const int sj = j / 16;
		const int lo = sj < 8 ? sc[sj] & 0x0f : sc[sj - 8] >> 4;
		const int hi = (sc[8 + sj % 4] >> (2 * (sj / 4))) & 3;
		const float dl = qc_h2f(qc_u16(b + 108)) * (float)((lo | (hi << 4)) - 32);
		const uint8_t *q = b + 32 + 32 * (j / 128) + j % 32, *hm = b + j % 32;
		const int sh = 2 * ((j % 128) / 32), hb = j / 32;
		for (int t = 0; t < 8; t++) {
			const int l = (q[t] >> sh) & 3;
			v[t] = dl * (float)(l - ((hm[t] >> hb) & 1 ? 0 : 4));
		}
	} else if (K == QC_Q4_K || K == QC_Q5_K) {
		int sc, m;
		qc_scale_min_k4(b + 4, j / 32, &sc, &m);
		const float dl = qc_h2f(qc_u16(b)) * (float)sc, ml = qc_h2f(qc_u16(b + 2)) * (float)m;
		const int h = j / 64, l = j % 32, hi = (j % 64) >= 32;
		const uint8_t *qs = b + (K == QC_Q4_K ? 16 : 48) + 32 * h + l, *qh = b + 16 + l;
		for (int t = 0; t < 8; t++) {
			int q = hi ? qs[t] >> 4 : qs[t] & 0x0f;
			if (K == QC_Q5_K && (qh[t] & (1u << (2 * h + hi))))
				q += 16;
			v[t] = dl * (float)q - ml;
		}
	} else if (K == QC_Q6_K) {
		const int h = j / 128, g = (j % 128) / 32, l = j % 32;
		const uint8_t *lo = b + 64 * h + 32 * (g & 1) + l, *hb = b + 128 + 32 * h + l;
		const float dl = qc_h2f(qc_u16(b + 208)) * (float)(int8_t)b[192 + j / 16];
		for (int t = 0; t < 8; t++) {
			const int q = ((g < 2 ? lo[t] & 0x0f : lo[t] >> 4) | (((hb[t] >> (2 * g)) & 3) << 4)) - 32;
			v[t] = dl * (float)q;
		}
	} else if (K == QC_MXFP4) {
		const uint8_t *qs = b + 1 + (j & 15);
		const int sh = j & 16 ? 4 : 0;
		const float d = qc_e8m0_half(b[0]);
		for (int t = 0; t < 8; t++)
			v[t] = qc_kv_fp4((qs[t] >> sh) & 0x0f) * d;
	} else if (K == QC_NVFP4) {
		const int s = j / 16;
		const uint8_t *qs = b + 4 + 8 * s;
		const int sh = j % 16 ? 4 : 0;
		const float d = qc_ue4m3_half(b[s]);
		for (int t = 0; t < 8; t++)
			v[t] = qc_kv_fp4((qs[t] >> sh) & 0x0f) * d;
	} else {
		for (int t = 0; t < 8; t++)
			v[t] = qc_get<K>(f, b, j + t);
	}
}

/* ------------------------------------------------------------------ */
/* Encoding                                                             */
/* ------------------------------------------------------------------ */

/* q8_0 (qnt__ref_q8_0): 32 floats -> 34 bytes. */
QC_HD void qc_enc_q8_0(const float *x, uint8_t *out)
{
	float amax = 0.0f;
	for (int j = 0; j < 32; j++) {
		const float a = qc_fabs(x[j]);
		amax = amax > a ? amax : a;
	}
	const float d = amax / 127.0f;
	const float id = d != 0.0f ? 1.0f / d : 0.0f;
	qc_put16(out, qc_f2h(d));
	for (int j = 0; j < 32; j++)
		out[2 + j] = (uint8_t)qc_cvt_round(x[j] * id);
}

/* ggml's make_qkx2_quants for n <= 32 values (the scalar loop that
 * qnt__ggml_fit_affine evaluates lane by lane): the scale, the negated min
 * in *the_min, the codes in L. */
QC_HD float qc_fit_affine(int n, int nmax, const float *x, const float *weights, uint8_t *L, float *the_min,
			  float rmin, float rdelta, int nstep)
{
	float min = x[0], max = x[0];
	float sum_w = weights[0];
	float sum_x = sum_w * x[0];
	for (int i = 1; i < n; i++) {
		if (x[i] < min)
			min = x[i];
		if (x[i] > max)
			max = x[i];
		const float w = weights[i];
		sum_w += w;
		sum_x += w * x[i];
	}
	if (min > 0)
		min = 0;
	if (max == min) {
		for (int i = 0; i < n; i++)
			L[i] = 0;
		*the_min = -min;
		return 0.0f;
	}
	float iscale = (float)nmax / (max - min);
	float scale = 1 / iscale;
	float best_error = 0;
	for (int i = 0; i < n; i++) {
		const int l = qc_nearest_int(iscale * (x[i] - min));
		L[i] = (uint8_t)qc_clampi(l, 0, nmax);
		float diff = scale * (float)L[i] + min - x[i];
		diff = diff * diff;
		best_error += weights[i] * diff;
	}
	for (int is = 0; is <= nstep; is++) {
		iscale = (rmin + rdelta * (float)is + (float)nmax) / (max - min);
		uint8_t laux[32];
		float sum_l = 0, sum_l2 = 0, sum_xl = 0;
		for (int i = 0; i < n; i++) {
			const int l = qc_clampi(qc_nearest_int(iscale * (x[i] - min)), 0, nmax);
			laux[i] = (uint8_t)l;
			const float w = weights[i], fl = (float)l;
			sum_l += w * fl;
			sum_l2 += w * fl * fl;
			sum_xl += w * fl * x[i];
		}
		const float D = sum_w * sum_l2 - sum_l * sum_l;
		if (D > 0) {
			float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
			float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
			if (this_min > 0) {
				this_min = 0;
				this_scale = sum_xl / sum_l2;
			}
			float cur_error = 0;
			for (int i = 0; i < n; i++) {
				float diff = this_scale * (float)laux[i] + this_min - x[i];
				diff = diff * diff;
				cur_error += weights[i] * diff;
			}
			if (cur_error < best_error) {
				for (int i = 0; i < n; i++)
					L[i] = laux[i];
				best_error = cur_error;
				scale = this_scale;
				min = this_min;
			}
		}
	}
	*the_min = -min;
	return scale;
}

/* q4_K without importance (ggml's quantize_row_q4_K_ref): 256 floats ->
 * 144 bytes. */
QC_HD void qc_enc_q4_K(const float *x, uint8_t *out)
{
	uint8_t L[256], ls[8], lm[8];
	float weights[32], scales[8], mins[8];
	float max_scale = 0, max_min = 0;
	for (int j = 0; j < 8; j++) {
		float sum_x2 = 0;
		for (int l = 0; l < 32; l++)
			sum_x2 += x[32 * j + l] * x[32 * j + l];
		const float av_x = sqrtf(sum_x2 / 32);
		for (int l = 0; l < 32; l++)
			weights[l] = av_x + qc_fabs(x[32 * j + l]);
		scales[j] = qc_fit_affine(32, 15, x + 32 * j, weights, L + 32 * j, &mins[j], -1.0f, 0.1f, 20);
		if (scales[j] > max_scale)
			max_scale = scales[j];
		if (mins[j] > max_min)
			max_min = mins[j];
	}
	const float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
	const float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
	for (int j = 0; j < 8; j++) {
		const uint8_t a = (uint8_t)qc_nearest_int(inv_scale * scales[j]);
		const uint8_t m = (uint8_t)qc_nearest_int(inv_min * mins[j]);
		ls[j] = a < 63 ? a : 63;
		lm[j] = m < 63 ? m : 63;
	}
	uint8_t *s = out + 4;
	for (int j = 0; j < 4; j++) {
		s[j] = ls[j];
		s[j + 4] = lm[j];
	}
	for (int j = 4; j < 8; j++) {
		s[j + 4] = (uint8_t)((ls[j] & 0x0f) | ((lm[j] & 0x0f) << 4));
		s[j - 4] |= (uint8_t)((ls[j] >> 4) << 6);
		s[j] |= (uint8_t)((lm[j] >> 4) << 6);
	}
	const uint16_t d16 = qc_f2h_ggml(max_scale / 63.0f), dmin16 = qc_f2h_ggml(max_min / 63.0f);
	qc_put16(out, d16);
	qc_put16(out + 2, dmin16);
	const float d0 = qc_h2f(d16), dm0 = qc_h2f(dmin16);
	for (int j = 0; j < 8; j++) {
		int sc, m;
		qc_scale_min_k4(s, j, &sc, &m);
		const float d = d0 * (float)sc;
		if (d == 0.0f)
			continue;
		const float dm = dm0 * (float)m;
		for (int i = 0; i < 32; i++)
			L[32 * j + i] = (uint8_t)qc_clampi(qc_nearest_int((x[32 * j + i] + dm) / d), 0, 15);
	}
	for (int h = 0; h < 4; h++)
		for (int l = 0; l < 32; l++)
			out[16 + 32 * h + l] = (uint8_t)((L[64 * h + l] & 0x0f) | ((L[64 * h + 32 + l] & 0x0f) << 4));
}

/* MLX affine, one group of f.bs floats (no importance weights): the floats
 * rounded to f.d, MLX's rule (lib/core/quant_mlx.c affine_group), the codes
 * packed LSB-first, then scale and bias stored in f.d. */
QC_HD void qc_enc_mlx_affine(const qc_fmt &f, const float *src, uint8_t *out)
{
	const float n_bins = (float)((1 << f.bits) - 1);
	float lo = qc_float(0x7f800000u), hi = qc_float(0xff800000u);
	for (int j = 0; j < f.bs; j++) {
		const float w = qc_mlx_rt(src[j], f.d);
		hi = hi < w ? w : hi; /* std::max(hi, w) */
		lo = w < lo ? w : lo; /* std::min(lo, w) */
	}
	float s = (hi - lo) / n_bins;
	s = s < 1e-7f ? 1e-7f : s;
	const int neg_edge = qc_fabs(lo) > qc_fabs(hi);
	s = neg_edge ? s : -s;
	const float edge = neg_edge ? lo : hi;
	const float q0 = rintf(edge / s);
	float b = 0.0f;
	if (q0 != 0.0f) {
		s = edge / q0;
		b = edge;
	}
	const int nb = f.bs * f.bits / 8;
	for (int k = 0; k < nb; k++)
		out[k] = 0;
	for (int j = 0; j < f.bs; j++) {
		float v = rintf((qc_mlx_rt(src[j], f.d) - b) / s);
		v = v < 0.0f ? 0.0f : v; /* std::max(v, 0) keeps a NaN v */
		v = n_bins < v ? n_bins : v;
		const unsigned q = v == v ? (unsigned)v : 0u;
		const int bit = j * f.bits;
		const unsigned sh = q << (bit & 7);
		out[bit >> 3] |= (uint8_t)sh;
		if ((bit & 7) + f.bits > 8)
			out[(bit >> 3) + 1] |= (uint8_t)(sh >> 8);
	}
	const int ds = f.d == QC_D_F32 ? 4 : 2;
	qc_mlx_store(out + nb, f.d, s);
	qc_mlx_store(out + nb + ds, f.d, b);
}

/* ------------------------------------------------------------------ */
/* Formats by registry id                                               */
/* ------------------------------------------------------------------ */

/* The kind of registry format `t`, whose canonical name, block size and
 * block bytes are given (the MLX formats have no fixed ids: they are told
 * apart by name, "mlx:affine:<bits>:<group>[:f32|:f16]", "mlx:mxfp4[...]").
 * Returns 1 and fills *out, or 0 for a format the backend does not run. */
static inline int qc_fmt_of(qnt_type t, const char *name, int64_t bs, uint64_t bb, qc_fmt *out)
{
	static const int fixed[][2] = {
		{ QNT_TYPE_F32, QC_F32 },   { QNT_TYPE_F16, QC_F16 },   { QNT_TYPE_BF16, QC_BF16 },
		{ QNT_TYPE_Q4_0, QC_Q4_0 }, { QNT_TYPE_Q4_1, QC_Q4_1 }, { QNT_TYPE_Q5_0, QC_Q5_0 },
		{ QNT_TYPE_Q5_1, QC_Q5_1 }, { QNT_TYPE_Q8_0, QC_Q8_0 }, { QNT_TYPE_Q2_K, QC_Q2_K },
		{ QNT_TYPE_Q3_K, QC_Q3_K }, { QNT_TYPE_Q4_K, QC_Q4_K }, { QNT_TYPE_Q5_K, QC_Q5_K },
		{ QNT_TYPE_Q6_K, QC_Q6_K }, { QNT_TYPE_MXFP4, QC_MXFP4 }, { QNT_TYPE_NVFP4, QC_NVFP4 },
	};
	qc_fmt f = { -1, (int)bs, (int)bb, 0, QC_D_BF16 };
	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
		if (fixed[i][0] == t)
			f.kind = fixed[i][1];
	if (f.kind < 0 && name && strncmp(name, "mlx:", 4) == 0) {
		const char *rest = name + 4, *dt;
		int bits = 0, group = 0, used = 0;
		if (sscanf(rest, "affine:%d:%d%n", &bits, &group, &used) == 2) {
			f.kind = QC_MLX_AFFINE;
			f.bits = bits;
			dt = rest + used;
		} else if (strncmp(rest, "mxfp4", 5) == 0 || strncmp(rest, "mxfp8", 5) == 0 ||
			   strncmp(rest, "nvfp4", 5) == 0) {
			f.kind = rest[0] == 'n' ? QC_MLX_NVFP4 : rest[4] == '4' ? QC_MLX_MXFP4 : QC_MLX_MXFP8;
			f.bits = f.kind == QC_MLX_MXFP8 ? 8 : 4;
			dt = rest + 5;
		} else {
			return 0;
		}
		if (strcmp(dt, ":f32") == 0)
			f.d = QC_D_F32;
		else if (strcmp(dt, ":f16") == 0)
			f.d = QC_D_F16;
		else if (*dt != '\0' && strcmp(dt, ":bf16") != 0)
			return 0;
		/* the layout this header decodes: codes, then scale (and bias) */
		const int ds = f.kind == QC_MLX_AFFINE ? (f.d == QC_D_F32 ? 8 : 4) : 1;
		if (f.bits < 2 || f.bits > 8 || bs * f.bits % 8 != 0 || (int64_t)bb != bs * f.bits / 8 + ds)
			return 0;
	}
	if (f.kind < 0)
		return 0;
	*out = f;
	return 1;
}

#endif /* QNT_CUDA_FORMATS_CUH */
