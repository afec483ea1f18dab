/* SPDX-License-Identifier: MIT */
/*
 * Scalar reference for MLX's quantized formats, as mx.quantize and
 * mx.dequantize compute them on MLX's CPU backend (mlx[cpu]); written from a
 * reading of MLX's sources (mlx/ops.cpp, mlx/backend/cpu/quantized.cpp,
 * unary_ops.h, types/) and checked bit for bit against mlx 0.32.4 by
 * tests/ref/test_mlx.py. No MLX code is reused.
 *
 * affine (bits 2-6 and 8, groups 32/64/128). All group arithmetic in f32:
 *   lo = min w, hi = max w (NaN ignored); s = max((hi - lo) / (2^b - 1), 1e-7);
 *   if |lo| > |hi|: s = +s, edge = lo, else s = -s, edge = hi;
 *   q0 = rint(edge / s); if q0 != 0: s = edge / q0, bias = edge; else bias 0;
 *   q = clamp(rint((w - bias) / s), 0, 2^b - 1), rint = nearest even;
 *   the f32 s and bias are then rounded to the element type T for storage.
 *   1-bit (mlx >= 0.32.4): s = max(hi - lo, 1e-7), bias = lo, same q.
 *   Dequantize: T(T(q * s) + bias), each op rounded to T.
 *
 * mxfp4 / mxfp8 / nvfp4. MLX's CPU builds these from generic array ops, each
 * rounded to the element type T of the input (f32, f16 or bf16), and the
 * kernels below repeat those ops in order:
 *   mx: sd = T(max|w| / M) (M = 6 or 448); e = sd == 0 ? 0 : ceil(log2 sd),
 *       exact (mlx 0.32.4; 0.32.2 had rint of a rounded log2), NaN and inf
 *       giving INT32_MIN, then e back to T; w' = T(w / T(2^e)); scale byte =
 *       uint8(int32(T(e + 127))), wrapping, not clamped.
 *   nvfp4: sd = T(max|w| / 6); scale = E4M3(f32(sd * enc)), with
 *       enc = 2688 / global_scale (f32) or 1; w' = f32(T(w / E4M3) * enc).
 *   E2M1: the index of the nearest entry of the table 0, .5, 1, 1.5, 2, 3, 4,
 *       6, -0, ..., -6 by |w' - entry| (computed in T for mx, f32 for nvfp4),
 *       the lowest index winning ties; E4M3: MLX's saturating, round to
 *       nearest even conversion; its decoder maps 0x7f/0xff to NaN.
 *   Dequantize: the table value (in T) times the scale (2^(byte - 127) in T,
 *       or the E4M3 scale in T), rounded to T; nvfp4 with a global scale
 *       computes in f32: E2M1 * f32(E4M3 * (global_scale / 2688)).
 *
 * Codes of a group form an LSB-first bitstream cut into uint32 words; a group
 * never shares a word with the next one (group * bits is a multiple of 32).
 *
 * The registry formats "mlx:*" interleave one group per block: the packed
 * codes as little-endian bytes, the scale (element type for affine, one byte
 * for the fp modes), the bias (affine). Their quantizers read f32 rows and
 * round them to the element type first, which is what mx.quantize of the
 * rows cast to that type computes; the bytes are then mx.quantize's.
 * With importance weights, affine groups come from a weighted search that
 * starts from MLX's group and keeps it unless it finds a lower weighted error
 * (affine_weighted); the fp modes have no such freedom worth searching and
 * ignore the weights (their types do not set QNT_TYPE_FLAG_IMPORTANCE).
 */
#include "formats.h"
#include "qnt_fp.h"
#include "quant_mlx.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MAX_GROUP 128
#define MAX_WORDS (MAX_GROUP * 8 / 32)

/* ------------------------------------------------------------------ */
/* Element types, converted the way MLX's bfloat16/float16 types do     */
/* ------------------------------------------------------------------ */

/* Round to nearest even; NaN becomes 0x7fc0 (sign dropped). */
static inline uint16_t to_bf16(float f)
{
	uint32_t u = qnt__f32_bits(f);
	if ((u & 0x7fffffffu) > 0x7f800000u)
		return 0x7fc0u;
	return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

/* Round to nearest even, overflow to infinity; NaN becomes sign | 0x7d00. */
static inline uint16_t to_f16(float f)
{
	uint32_t u = qnt__f32_bits(f);
	if ((u & 0x7fffffffu) > 0x7f800000u)
		return (uint16_t)(((u >> 16) & 0x8000u) | 0x7d00u);
	return qnt__fp32_to_fp16(f);
}

/* x rounded to element type d (identity for f32). */
static inline float rt(float x, int d)
{
	if (d == QNT__MLX_F16)
		return qnt__fp16_to_fp32(to_f16(x));
	if (d == QNT__MLX_BF16)
		return qnt__bf16_to_fp32(to_bf16(x));
	return x;
}

static inline float load(const void *p, int d, size_t i)
{
	if (d == QNT__MLX_F32) {
		float f;
		memcpy(&f, (const char *)p + 4 * i, 4);
		return f;
	}
	uint16_t h;
	memcpy(&h, (const char *)p + 2 * i, 2);
	return d == QNT__MLX_F16 ? qnt__fp16_to_fp32(h) : qnt__bf16_to_fp32(h);
}

static inline void store(void *p, int d, size_t i, float v)
{
	if (d == QNT__MLX_F32) {
		memcpy((char *)p + 4 * i, &v, 4);
		return;
	}
	uint16_t h = d == QNT__MLX_F16 ? to_f16(v) : to_bf16(v);
	memcpy((char *)p + 2 * i, &h, 2);
}

size_t qnt__mlx_dsize(int32_t d)
{
	return d == QNT__MLX_F32 ? 4 : 2;
}

size_t qnt__mlx_scale_size(const struct qnt__mlx_fmt *f)
{
	return f->mode == QNT_MLX_AFFINE ? qnt__mlx_dsize(f->d) : 1;
}

/* C's float -> int32 conversion as MLX's astype(int32) gets it on x86-64:
 * truncation, and INT32_MIN for NaN and out-of-range values. */
static inline int32_t to_i32(float v)
{
	if (v > -2147483648.0f && v < 2147483648.0f)
		return (int32_t)v;
	return INT32_MIN;
}

/* 2^e for an integral (or infinite) e, exact or correctly rounded, as
 * powf(2, e) gives it. */
static inline float pow2f(float e)
{
	if (e < -300.0f)
		return 0.0f;
	if (e > 300.0f)
		return INFINITY;
	return ldexpf(1.0f, (int)e);
}

/* ceil(log2(x)), exact, for x > 0 finite; INT32_MIN (what MLX's astype to
 * int32 makes of NaN and infinity) otherwise. */
static inline int32_t ceil_log2(float x)
{
	int ex;
	if (!(x > 0.0f) || isinf(x))
		return INT32_MIN;
	float m = frexpf(x, &ex); /* x = m * 2^ex, 0.5 <= m < 1 */
	return m == 0.5f ? ex - 1 : ex;
}

/* ------------------------------------------------------------------ */
/* FP8 (E4M3 FN) and FP4 (E2M1)                                         */
/* ------------------------------------------------------------------ */

/* MLX's float -> E4M3: round to nearest even; |x| >= 448, infinities and NaN
 * saturate to 0x7e (448) with the sign kept. */
static inline uint8_t to_e4m3(float f)
{
	uint32_t b = qnt__f32_bits(f);
	uint32_t sign = b & 0x80000000u;
	uint8_t r;
	b ^= sign;
	if (b >= 0x43e00000u) {
		r = 0x7e;
	} else if (b < (121u << 23)) {
		/* below 2^-6: the float adder rounds at 2^-9 once 2^14 is added */
		float v = qnt__f32_from_bits(b) + 16384.0f;
		r = (uint8_t)(qnt__f32_bits(v) - (141u << 23));
	} else {
		uint32_t odd = (b >> 20) & 1u;
		b += 0xc4000000u + 0x7ffffu + odd; /* rebias by (7 - 127) << 23 */
		r = (uint8_t)(b >> 20);
	}
	return (uint8_t)(r | (sign >> 24));
}

/* MLX's E4M3 -> float: 0x7f and 0xff are the NaNs 0x7ff00000 and
 * 0xfff00000 (mlx 0.32.4; older versions decoded them as +-480). */
static inline float from_e4m3(uint8_t x)
{
	if ((x & 0x7fu) == 0x7fu)
		return qnt__f32_from_bits(0x7ff00000u | ((uint32_t)(x & 0x80u) << 24));
	float v = qnt__fp16_to_fp32((uint16_t)((x & 0x7fu) << 7)) * 256.0f;
	return (x & 0x80u) ? -v : v;
}

static const float e2m1[16] = { 0.0f,  0.5f,  1.0f,  1.5f,  2.0f,  3.0f,  4.0f,  6.0f,
				-0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f };

/* MLX's E2M1 encoding: the index of the table entry with the smallest
 * distance |x - e_i| computed (rounded) in type d, the lowest index winning
 * ties, as an argmin over the 16 entries gives it. Rounding is monotonic, so
 * the entries whose rounded distance ties with the nearest one's are
 * neighbours of it, and the lowest index among them is the one of smallest
 * magnitude (positive entries come first: for x < 0 only -0 ties with +0,
 * which then wins). So: the nearest magnitude k, then down while the rounded
 * distance stays the same. Zero, NaN and infinities give 0 (+0). */
static inline uint8_t e2m1_nearest(float x, int d)
{
	float a = fabsf(x);
	if (!(a > 0.0f) || isinf(a))
		return 0;
	int k = (a >= 0.25f) + (a >= 0.75f) + (a >= 1.25f) + (a >= 1.75f) + (a >= 2.5f) + (a >= 3.5f) +
		(a >= 5.0f); /* branch-free */
	float r = fabsf(rt(a - e2m1[k], d));
	while (k > 0 && fabsf(rt(a - e2m1[k - 1], d)) == r)
		k--;
	return (uint8_t)(k == 0 ? 0 : x < 0.0f ? 8 + k : k);
}

/* max |w|, NaN if any element is NaN. */
static inline float amax_of(const float *w, int n)
{
	float m = -INFINITY;
	for (int j = 0; j < n; j++) {
		float a = fabsf(w[j]);
		if (a != a)
			return a;
		m = a > m ? a : m;
	}
	return m;
}

/* ------------------------------------------------------------------ */
/* Packing                                                              */
/* ------------------------------------------------------------------ */

static void pack(const uint8_t *q, int n, int bits, uint32_t *w)
{
	memset(w, 0, (size_t)(n * bits / 32) * sizeof *w);
	for (int i = 0; i < n; i++) {
		unsigned bit = (unsigned)(i * bits), k = bit >> 5, o = bit & 31u;
		w[k] |= (uint32_t)q[i] << o;
		if (o + (unsigned)bits > 32)
			w[k + 1] |= (uint32_t)q[i] >> (32 - o);
	}
}

static void unpack(const uint32_t *w, int n, int bits, uint8_t *q)
{
	uint32_t mask = (1u << bits) - 1u;
	for (int i = 0; i < n; i++) {
		unsigned bit = (unsigned)(i * bits), k = bit >> 5, o = bit & 31u;
		uint32_t v = w[k] >> o;
		if (o + (unsigned)bits > 32)
			v |= w[k + 1] << (32 - o);
		q[i] = (uint8_t)(v & mask);
	}
}

/* ------------------------------------------------------------------ */
/* Group kernels                                                        */
/* ------------------------------------------------------------------ */

/* std::max / std::min as MLX's kernel calls them (NaN in b is ignored). */
static inline float max_std(float a, float b)
{
	return a < b ? b : a;
}

static inline float min_std(float a, float b)
{
	return b < a ? b : a;
}

static void affine_group(const float *w, int gs, int bits, uint8_t *q, float *scale, float *bias)
{
	const float n_bins = (float)((1 << bits) - 1);
	float lo = INFINITY, hi = -INFINITY;
	for (int j = 0; j < gs; j++) {
		hi = max_std(hi, w[j]);
		lo = min_std(lo, w[j]);
	}
	float s = max_std((hi - lo) / n_bins, 1e-7f);
	float b;
	if (bits == 1) {
		/* 1-bit: s = max(hi - lo, eps) and bias = lo, as they are */
		b = lo;
	} else {
		int neg_edge = fabsf(lo) > fabsf(hi);
		s = neg_edge ? s : -s;
		float edge = neg_edge ? lo : hi;
		float q0 = rintf(edge / s);
		b = 0.0f;
		if (q0 != 0.0f) {
			s = edge / q0;
			b = edge;
		}
	}
	for (int j = 0; j < gs; j++) {
		float v = rintf((w[j] - b) / s);
		v = min_std(max_std(v, 0.0f), n_bins);
		q[j] = v == v ? (uint8_t)v : 0; /* NaN: MLX's uint64 cast leaves 0 in the low bits */
	}
	*scale = s;
	*bias = b;
}

/* mxfp4 (M = 6) and mxfp8 (M = 448), in element type d. */
static void mx_group(const float *w, int gs, int fp8, int d, uint8_t *q, uint8_t *sbyte)
{
	float sd = rt(amax_of(w, gs) / (fp8 ? 448.0f : 6.0f), d);
	float e = 0.0f;
	if (!(sd == 0.0f))
		e = rt((float)ceil_log2(sd), d);
	float p2 = rt(pow2f(e), d);
	*sbyte = (uint8_t)to_i32(rt(e + 127.0f, d));
	for (int j = 0; j < gs; j++) {
		float x = rt(w[j] / p2, d);
		q[j] = fp8 ? to_e4m3(x) : e2m1_nearest(x, d);
	}
}

static void nv_group(const float *w, int gs, int d, float enc, uint8_t *q, uint8_t *sbyte)
{
	float sd = rt(amax_of(w, gs) / 6.0f, d);
	uint8_t s = to_e4m3(sd * enc);
	float ds = rt(from_e4m3(s), d);
	*sbyte = s;
	for (int j = 0; j < gs; j++)
		q[j] = e2m1_nearest(rt(w[j] / ds, d) * enc, QNT__MLX_F32);
}

/* One group of f->group_size values (exact in f->d) -> packed words, the
 * scale and bias (affine, f32 before rounding to d) or the scale byte. */
static void quant_group(const struct qnt__mlx_fmt *f, const float *w, uint32_t *words, float *scale, float *bias,
			uint8_t *sbyte)
{
	uint8_t q[MAX_GROUP];
	switch (f->mode) {
	case QNT_MLX_AFFINE:
		affine_group(w, f->group_size, f->bits, q, scale, bias);
		break;
	case QNT_MLX_MXFP4:
	case QNT_MLX_MXFP8:
		mx_group(w, f->group_size, f->mode == QNT_MLX_MXFP8, f->d, q, sbyte);
		break;
	default:
		nv_group(w, f->group_size, f->d, f->has_global ? 2688.0f / f->global_scale : 1.0f, q, sbyte);
		break;
	}
	pack(q, f->group_size, f->bits, words);
}

/* One group back to values, each op rounded to type od: affine from the
 * scale and bias (values of f->d), the fp modes from the scale byte. */
static void dequant_group(const struct qnt__mlx_fmt *f, const uint32_t *words, float s, float b, uint8_t sbyte,
			  int od, float *out)
{
	const int gs = f->group_size;
	uint8_t q[MAX_GROUP];
	unpack(words, gs, f->bits, q);
	switch (f->mode) {
	case QNT_MLX_AFFINE:
		for (int j = 0; j < gs; j++)
			out[j] = rt(rt((float)q[j] * s, od) + b, od);
		break;
	case QNT_MLX_MXFP4:
	case QNT_MLX_MXFP8: {
		float p2 = rt(pow2f((float)sbyte - 127.0f), od);
		if (f->mode == QNT_MLX_MXFP4)
			for (int j = 0; j < gs; j++)
				out[j] = rt(e2m1[q[j]] * p2, od);
		else
			for (int j = 0; j < gs; j++)
				out[j] = rt(rt(from_e4m3(q[j]), od) * p2, od);
		break;
	}
	default: {
		float ds = rt(from_e4m3(sbyte), od);
		if (f->has_global) {
			/* MLX's result is f32 here, whatever the dtype asked for */
			float sc = ds * (f->global_scale / 2688.0f);
			for (int j = 0; j < gs; j++)
				out[j] = rt(e2m1[q[j]] * sc, od);
		} else {
			for (int j = 0; j < gs; j++)
				out[j] = rt(e2m1[q[j]] * ds, od);
		}
		break;
	}
	}
}

/* ------------------------------------------------------------------ */
/* Importance weights (affine registry formats)                         */
/* ------------------------------------------------------------------ */

/* sum_j w_j (x_j - y_j)^2 with y = f32(f32(q * s) + b), the row API's
 * dequantization of stored (element type) s and b. */
static double weighted_err(const float *x, const float *w, const uint8_t *q, int n, float s, float b)
{
	double e = 0.0;
	for (int j = 0; j < n; j++) {
		float y = (float)q[j] * s + b; /* two roundings: no contraction in this library */
		double r = (double)x[j] - (double)y;
		e += (double)w[j] * r * r;
	}
	return e;
}

static void codes_for(const float *x, int n, float s, float b, float n_bins, uint8_t *q)
{
	for (int j = 0; j < n; j++) {
		float v = rintf((x[j] - b) / s);
		v = v < 0.0f ? 0.0f : v > n_bins ? n_bins : v;
		q[j] = (uint8_t)v;
	}
}

/* The group with importance weights w (not all zero): MLX's rule, then a
 * search over ranges (the group's span divided by n_bins + 0.1 k, k = -10..10,
 * codes from the unrounded range, a weighted least-squares fit of scale and
 * bias, both rounded to type d, codes again). A candidate replaces MLX's
 * group only if its weighted error, measured on what the row API
 * dequantizes, is lower, so the result is never worse than MLX's. x is the
 * caller's f32 data (not rounded to d); s and b come back as values of d. */
static void affine_weighted(const float *x, const float *w, int gs, int bits, int d, uint8_t *q, float *scale,
			    float *bias)
{
	const float n_bins = (float)((1 << bits) - 1);
	float xr[MAX_GROUP];
	uint8_t c[MAX_GROUP];
	float lo = INFINITY, hi = -INFINITY;
	for (int j = 0; j < gs; j++) {
		xr[j] = rt(x[j], d);
		lo = x[j] < lo ? x[j] : lo;
		hi = x[j] > hi ? x[j] : hi;
	}
	affine_group(xr, gs, bits, q, scale, bias);
	float s_best = rt(*scale, d), b_best = rt(*bias, d);
	*scale = s_best;
	*bias = b_best;
	double best = weighted_err(x, w, q, gs, s_best, b_best);
	if (!(best > 0.0) || !isfinite(best) || !(hi > lo) || !isfinite(hi - lo))
		return;
	for (int k = -10; k <= 10; k++) {
		float iscale = (n_bins + 0.1f * (float)k) / (hi - lo);
		double sw = 0, sl = 0, sl2 = 0, sx = 0, slx = 0;
		for (int j = 0; j < gs; j++) {
			float v = rintf(iscale * (x[j] - lo));
			v = v < 0.0f ? 0.0f : v > n_bins ? n_bins : v;
			sw += w[j];
			sl += (double)w[j] * v;
			sl2 += (double)w[j] * v * v;
			sx += (double)w[j] * x[j];
			slx += (double)w[j] * v * x[j];
		}
		double det = sw * sl2 - sl * sl;
		if (!(det > 0.0))
			continue;
		float s = rt((float)((sw * slx - sl * sx) / det), d);
		float b = rt((float)((sl2 * sx - sl * slx) / det), d);
		if (!(s != 0.0f) || !isfinite(s) || !isfinite(b))
			continue;
		codes_for(x, gs, s, b, n_bins, c);
		double e = weighted_err(x, w, c, gs, s, b);
		if (e < best) {
			best = e;
			*scale = s;
			*bias = b;
			memcpy(q, c, (size_t)gs);
		}
	}
}

/* ------------------------------------------------------------------ */
/* Planar rows                                                          */
/* ------------------------------------------------------------------ */

void qnt__mlx_quantize_rows(const struct qnt__mlx_fmt *f, const void *src, int64_t r0, int64_t r1, int64_t n,
			    uint32_t *wq, void *scales, void *biases)
{
	const int gs = f->group_size, d = f->d;
	const int64_t ng = n / gs, wpg = gs * f->bits / 32;
	float w[MAX_GROUP];
	for (int64_t r = r0; r < r1; r++) {
		for (int64_t g = 0; g < ng; g++) {
			const size_t e0 = (size_t)(r * n + g * gs), gi = (size_t)(r * ng + g);
			float s = 0.0f, b = 0.0f;
			uint8_t sb = 0;
			for (int j = 0; j < gs; j++)
				w[j] = load(src, d, e0 + (size_t)j);
			quant_group(f, w, wq + gi * (size_t)wpg, &s, &b, &sb);
			if (f->mode == QNT_MLX_AFFINE) {
				store(scales, d, gi, s);
				store(biases, d, gi, b);
			} else {
				((uint8_t *)scales)[gi] = sb;
			}
		}
	}
}

void qnt__mlx_dequantize_rows(const struct qnt__mlx_fmt *f, const uint32_t *wq, const void *scales,
			      const void *biases, int64_t r0, int64_t r1, int64_t n, void *dst)
{
	const int gs = f->group_size, d = f->d;
	const int64_t ng = n / gs, wpg = gs * f->bits / 32;
	float out[MAX_GROUP];
	for (int64_t r = r0; r < r1; r++) {
		for (int64_t g = 0; g < ng; g++) {
			const size_t e0 = (size_t)(r * n + g * gs), gi = (size_t)(r * ng + g);
			float s = 0.0f, b = 0.0f;
			uint8_t sb = 0;
			if (f->mode == QNT_MLX_AFFINE) {
				s = load(scales, d, gi);
				b = load(biases, d, gi);
			} else {
				sb = ((const uint8_t *)scales)[gi];
			}
			dequant_group(f, wq + gi * (size_t)wpg, s, b, sb, d, out);
			for (int j = 0; j < gs; j++)
				store(dst, d, e0 + (size_t)j, out[j]);
		}
	}
}

/* ------------------------------------------------------------------ */
/* Interleaved blocks (the registry formats)                            */
/* ------------------------------------------------------------------ */

static size_t block_bytes(const struct qnt__mlx_fmt *f)
{
	size_t b = (size_t)(f->group_size * f->bits / 8) + qnt__mlx_scale_size(f);
	return f->mode == QNT_MLX_AFFINE ? b + qnt__mlx_dsize(f->d) : b;
}

static int all_zero(const float *w, int n)
{
	for (int j = 0; j < n; j++)
		if (w[j] != 0.0f)
			return 0;
	return 1;
}

/* imp: NULL or n weights; used by affine only (see affine_weighted). */
static void quant_blocks(const struct qnt__mlx_fmt *f, const float *src, void *dst, int64_t nrows, int64_t n,
			 const float *imp)
{
	const int gs = f->group_size, d = f->d;
	const int nw = gs * f->bits / 32;
	const int64_t ng = n / gs, nb = nrows * ng;
	const size_t bb = block_bytes(f), ss = qnt__mlx_scale_size(f);
	uint8_t *y = dst;
	float w[MAX_GROUP];
	uint32_t words[MAX_WORDS];
	for (int64_t i = 0; i < nb; i++, src += gs, y += bb) {
		float s = 0.0f, b = 0.0f;
		uint8_t sb = 0;
		const float *wi = imp ? imp + (i % ng) * gs : NULL;
		if (wi && f->mode == QNT_MLX_AFFINE && !all_zero(wi, gs)) {
			uint8_t q[MAX_GROUP];
			affine_weighted(src, wi, gs, f->bits, d, q, &s, &b);
			pack(q, gs, f->bits, words);
		} else {
			for (int j = 0; j < gs; j++)
				w[j] = rt(src[j], d);
			quant_group(f, w, words, &s, &b, &sb);
		}
		for (int k = 0; k < nw; k++)
			for (int t = 0; t < 4; t++)
				y[4 * k + t] = (uint8_t)(words[k] >> (8 * t));
		if (f->mode == QNT_MLX_AFFINE) {
			store(y + 4 * nw, d, 0, s);
			store(y + 4 * nw + ss, d, 0, b);
		} else {
			y[4 * nw] = sb;
		}
	}
}

static void dequant_blocks(const struct qnt__mlx_fmt *f, const void *src, float *dst, int64_t n)
{
	const int gs = f->group_size, d = f->d;
	const int nw = gs * f->bits / 32;
	const size_t bb = block_bytes(f), ss = qnt__mlx_scale_size(f);
	const uint8_t *x = src;
	uint32_t words[MAX_WORDS];
	for (int64_t i = 0; i < n / gs; i++, x += bb, dst += gs) {
		float s = 0.0f, b = 0.0f;
		uint8_t sb = 0;
		for (int k = 0; k < nw; k++)
			words[k] = (uint32_t)x[4 * k] | (uint32_t)x[4 * k + 1] << 8 | (uint32_t)x[4 * k + 2] << 16 |
				   (uint32_t)x[4 * k + 3] << 24;
		if (f->mode == QNT_MLX_AFFINE) {
			s = load(x + 4 * nw, d, 0);
			b = load(x + 4 * nw + ss, d, 0);
		} else {
			sb = x[4 * nw];
		}
		dequant_group(f, words, s, b, sb, QNT__MLX_F32, dst);
	}
}

/* ------------------------------------------------------------------ */
/* Formats and ids                                                      */
/* ------------------------------------------------------------------ */

static const int32_t affine_bits[] = { 2, 3, 4, 5, 6, 8 }; /* registry order (bits 1 has no id) */
static const int32_t affine_groups[] = { 32, 64, 128 };
#define K_MXFP4 18
#define K_MXFP8 19
#define K_NVFP4 20

qnt_status qnt__mlx_resolve(int32_t mode, int32_t bits, int32_t group_size, qnt_type dtype, struct qnt__mlx_fmt *out,
			    char *why, size_t why_size)
{
	static const char *const mode_names[] = { "affine", "mxfp4", "mxfp8", "nvfp4" };
	struct qnt__mlx_fmt f = { mode, bits, group_size, 0, 0, 0.0f };
	int bits_ok, group_ok;
	switch (dtype) {
	case QNT_TYPE_F32:
		f.d = QNT__MLX_F32;
		break;
	case QNT_TYPE_F16:
		f.d = QNT__MLX_F16;
		break;
	case QNT_TYPE_BF16:
		f.d = QNT__MLX_BF16;
		break;
	default:
		snprintf(why, why_size, "dtype %d is not f32 (%d), f16 (%d) or bf16 (%d)", (int)dtype, QNT_TYPE_F32,
			 QNT_TYPE_F16, QNT_TYPE_BF16);
		return QNT_E_UNSUPPORTED;
	}
	switch (mode) {
	case QNT_MLX_AFFINE:
		f.bits = bits ? bits : 4;
		f.group_size = group_size ? group_size : 64;
		bits_ok = f.bits >= 1 && f.bits <= 8 && f.bits != 7;
		group_ok = f.group_size == 32 || f.group_size == 64 || f.group_size == 128;
		if (!bits_ok) {
			snprintf(why, why_size, "bits %d is not an affine width (1, 2, 3, 4, 5, 6, 8)", (int)f.bits);
			return QNT_E_UNSUPPORTED;
		}
		if (!group_ok) {
			snprintf(why, why_size, "group_size %d is not an affine group (32, 64, 128)",
				 (int)f.group_size);
			return QNT_E_UNSUPPORTED;
		}
		break;
	case QNT_MLX_MXFP4:
	case QNT_MLX_MXFP8:
	case QNT_MLX_NVFP4: {
		int32_t want_bits = mode == QNT_MLX_MXFP8 ? 8 : 4;
		int32_t want_group = mode == QNT_MLX_NVFP4 ? 16 : 32;
		f.bits = bits ? bits : want_bits;
		f.group_size = group_size ? group_size : want_group;
		if (f.bits != want_bits) {
			snprintf(why, why_size, "%s needs bits %d, not %d", mode_names[mode], (int)want_bits,
				 (int)f.bits);
			return QNT_E_UNSUPPORTED;
		}
		if (f.group_size != want_group) {
			snprintf(why, why_size, "%s needs group_size %d, not %d", mode_names[mode], (int)want_group,
				 (int)f.group_size);
			return QNT_E_UNSUPPORTED;
		}
		break;
	}
	default:
		snprintf(why, why_size, "mode %d is not an MLX mode (0 affine, 1 mxfp4, 2 mxfp8, 3 nvfp4)", (int)mode);
		return QNT_E_UNSUPPORTED;
	}
	*out = f;
	return QNT_OK;
}

qnt_type qnt__mlx_type_of(const struct qnt__mlx_fmt *f)
{
	int32_t k = -1;
	if (f->mode == QNT_MLX_AFFINE) {
		for (int bi = 0; bi < 6; bi++)
			for (int gi = 0; gi < 3; gi++)
				if (affine_bits[bi] == f->bits && affine_groups[gi] == f->group_size)
					k = 3 * bi + gi;
	} else {
		k = f->mode == QNT_MLX_MXFP4 ? K_MXFP4 : f->mode == QNT_MLX_MXFP8 ? K_MXFP8 : K_NVFP4;
	}
	return k < 0 ? QNT_TYPE_INVALID : QNT__MLX_ID_BASE + 32 * f->d + k;
}

int qnt__mlx_fmt_of(qnt_type type, struct qnt__mlx_fmt *out)
{
	if (type < QNT__MLX_ID_BASE || type >= QNT__MLX_ID_BASE + 3 * 32)
		return 0;
	int32_t d = (type - QNT__MLX_ID_BASE) / 32, k = (type - QNT__MLX_ID_BASE) % 32;
	struct qnt__mlx_fmt f = { 0, 0, 0, d, 0, 0.0f };
	if (k < 18) {
		f.mode = QNT_MLX_AFFINE;
		f.bits = affine_bits[k / 3];
		f.group_size = affine_groups[k % 3];
	} else if (k == K_MXFP4) {
		f.mode = QNT_MLX_MXFP4;
		f.bits = 4;
		f.group_size = 32;
	} else if (k == K_MXFP8) {
		f.mode = QNT_MLX_MXFP8;
		f.bits = 8;
		f.group_size = 32;
	} else if (k == K_NVFP4) {
		f.mode = QNT_MLX_NVFP4;
		f.bits = 4;
		f.group_size = 16;
	} else {
		return 0;
	}
	*out = f;
	return 1;
}

/* ------------------------------------------------------------------ */
/* Registry table                                                       */
/* ------------------------------------------------------------------ */

#define BI_2 0
#define BI_3 1
#define BI_4 2
#define BI_5 3
#define BI_6 4
#define BI_8 5
#define GI_32 0
#define GI_64 1
#define GI_128 2
#define BI(b) BI_##b
#define GI(g) GI_##g
#define ID(d, k) (QNT__MLX_ID_BASE + 32 * (d) + (k))

/* Row functions of one format (the trait signatures carry no parameters). */
#define FNS(tag, MODE, BITS, GS, D)                                                                 \
	static const struct qnt__mlx_fmt fmt_##tag = { MODE, BITS, GS, D, 0, 0.0f };                \
	static void q_##tag(const float *src, void *dst, int64_t nrows, int64_t n, const float *imp) \
	{                                                                                           \
		quant_blocks(&fmt_##tag, src, dst, nrows, n, imp);                                  \
	}                                                                                           \
	static void dq_##tag(const void *src, float *dst, int64_t n)                                \
	{                                                                                           \
		dequant_blocks(&fmt_##tag, src, dst, n);                                            \
	}

#define AFFINE_FORMATS(X)                                                                            \
	X(2, 32) X(2, 64) X(2, 128) X(3, 32) X(3, 64) X(3, 128) X(4, 32) X(4, 64) X(4, 128) X(5, 32) \
	X(5, 64) X(5, 128) X(6, 32) X(6, 64) X(6, 128) X(8, 32) X(8, 64) X(8, 128)

#define AFFINE_FNS(B, G)                                                  \
	FNS(a##B##_##G##_f32, QNT_MLX_AFFINE, B, G, QNT__MLX_F32)         \
	FNS(a##B##_##G##_f16, QNT_MLX_AFFINE, B, G, QNT__MLX_F16)         \
	FNS(a##B##_##G##_bf16, QNT_MLX_AFFINE, B, G, QNT__MLX_BF16)
AFFINE_FORMATS(AFFINE_FNS)

#define FP_FNS(D, T)                                        \
	FNS(mxfp4_##T, QNT_MLX_MXFP4, 4, 32, D)             \
	FNS(mxfp8_##T, QNT_MLX_MXFP8, 8, 32, D)             \
	FNS(nvfp4_##T, QNT_MLX_NVFP4, 4, 16, D)
FP_FNS(QNT__MLX_F32, f32)
FP_FNS(QNT__MLX_F16, f16)
FP_FNS(QNT__MLX_BF16, bf16)

#define AFFINE_ROW(B, G, T, D, SUFFIX, DS)                                                              \
	{ ID(D, 3 * BI(B) + GI(G)), "mlx:affine:" #B ":" #G SUFFIX,                                     \
	  "MLX affine, " #B "-bit codes, " #T " scale and bias per " #G, G, (G) * (B) / 8 + 2 * (DS),   \
	  QNT_TYPE_FLAG_QUANTIZED | QNT_TYPE_FLAG_IMPORTANCE, q_a##B##_##G##_##T, dq_a##B##_##G##_##T },
#define AFFINE_ROWS(B, G)                                  \
	AFFINE_ROW(B, G, f32, QNT__MLX_F32, ":f32", 4)     \
	AFFINE_ROW(B, G, f16, QNT__MLX_F16, ":f16", 2)     \
	AFFINE_ROW(B, G, bf16, QNT__MLX_BF16, "", 2)

#define FP_ROWS(T, D, SUFFIX)                                                                              \
	{ ID(D, K_MXFP4), "mlx:mxfp4" SUFFIX, "MLX mxfp4 from " #T ": E2M1 codes, E8M0 scale per 32", 32, 17, \
	  QNT_TYPE_FLAG_QUANTIZED, q_mxfp4_##T, dq_mxfp4_##T },                                            \
	{ ID(D, K_MXFP8), "mlx:mxfp8" SUFFIX, "MLX mxfp8 from " #T ": E4M3 codes, E8M0 scale per 32", 32, 33, \
	  QNT_TYPE_FLAG_QUANTIZED, q_mxfp8_##T, dq_mxfp8_##T },                                            \
	{ ID(D, K_NVFP4), "mlx:nvfp4" SUFFIX, "MLX nvfp4 from " #T ": E2M1 codes, E4M3 scale per 16", 16, 9,  \
	  QNT_TYPE_FLAG_QUANTIZED, q_nvfp4_##T, dq_nvfp4_##T },

const struct qnt__type_traits qnt__traits_mlx[] = {
	AFFINE_FORMATS(AFFINE_ROWS)
	FP_ROWS(f32, QNT__MLX_F32, ":f32")
	FP_ROWS(f16, QNT__MLX_F16, ":f16")
	FP_ROWS(bf16, QNT__MLX_BF16, "")
};
const size_t qnt__traits_mlx_count = sizeof qnt__traits_mlx / sizeof qnt__traits_mlx[0];

qnt_type qnt__mlx_type_by_alias(const char *name)
{
	static const char suffix[] = ":bf16";
	const size_t ls = sizeof suffix - 1;
	size_t len = strlen(name);
	if (len <= ls + 4 || strncasecmp(name, "mlx:", 4) != 0 || strcasecmp(name + len - ls, suffix) != 0)
		return QNT_TYPE_INVALID;
	for (size_t i = 0; i < qnt__traits_mlx_count; i++) {
		const struct qnt__type_traits *t = &qnt__traits_mlx[i];
		if (t->id >= ID(QNT__MLX_BF16, 0) && strlen(t->name) == len - ls &&
		    strncasecmp(t->name, name, len - ls) == 0)
			return t->id;
	}
	return QNT_TYPE_INVALID;
}
