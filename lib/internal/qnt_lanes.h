/* SPDX-License-Identifier: MIT */
/* Small fixed-width vectors (GCC/Clang vector extensions) for the reference
 * kernels' candidate scans: several candidate scales are evaluated at once,
 * one per lane. Every operation is the plain IEEE operation lane by lane
 * (no FMA under -ffp-contract=off, no reassociation), so each lane computes
 * the same floats as the scalar code it replaces, on every target; the
 * compiler maps them to SSE2/NEON or splits them. */
#ifndef QNT_LANES_H
#define QNT_LANES_H

#include <stdint.h>
#include <string.h>

#if defined(__AVX__) || defined(__SSE__)
#include <immintrin.h>
#endif

typedef float qnt__v4f __attribute__((vector_size(16)));
typedef int32_t qnt__v4i __attribute__((vector_size(16)));
typedef double qnt__v4d __attribute__((vector_size(32)));

/* qnt__nearest_int lane by lane: round to nearest even by adding 1.5 * 2^23
 * and reading the low mantissa bits. */
static inline qnt__v4i qnt__nearest_int_v4(qnt__v4f f)
{
	const qnt__v4f v = f + 12582912.0f;
	qnt__v4i bits;
	memcpy(&bits, &v, sizeof bits);
	return (bits & 0x007fffff) - 0x00400000;
}

/* qnt__clampi lane by lane, for |v|, |lo|, |hi| < 2^30 (what
 * qnt__nearest_int_v4 gives is below 2^22): the sign of v - lo selects
 * lo - v to add. Written with shifts, not comparisons, because GCC turns a
 * compare-and-select into min/max, which SSE2 lacks for 32-bit lanes and
 * then does lane by lane in scalar code. */
static inline qnt__v4i qnt__clamp_v4i(qnt__v4i v, int lo, int hi)
{
	const qnt__v4i vlo = { lo, lo, lo, lo }, vhi = { hi, hi, hi, hi };
	v = v + ((vlo - v) & ((v - vlo) >> 31));
	return v - ((v - vhi) & ((vhi - v) >> 31));
}

/* a where mask is set, else b (mask lanes all-ones or zero). */
static inline qnt__v4f qnt__select_v4f(qnt__v4i mask, qnt__v4f a, qnt__v4f b)
{
	qnt__v4i ia, ib;
	memcpy(&ia, &a, sizeof ia);
	memcpy(&ib, &b, sizeof ib);
	const qnt__v4i r = (ia & mask) | (ib & ~mask);
	qnt__v4f f;
	memcpy(&f, &r, sizeof f);
	return f;
}

/* Four doubles' lane masks (all-ones or zero), as a compare of qnt__v4d
 * gives them once cast: (qnt__v4l)(a < b). */
typedef int64_t qnt__v4l __attribute__((vector_size(32)));

/* a where mask is set, else b. */
static inline qnt__v4d qnt__select_v4d(qnt__v4l mask, qnt__v4d a, qnt__v4d b)
{
	qnt__v4l ia, ib;
	memcpy(&ia, &a, sizeof ia);
	memcpy(&ib, &b, sizeof ib);
	const qnt__v4l r = (ia & mask) | (ib & ~mask);
	qnt__v4d d;
	memcpy(&d, &r, sizeof d);
	return d;
}

/* Lane permutations: QNT__SHUF1(a, m) is lane m[i] of a (m[i] modulo the
 * lane count), QNT__SHUF2(a, b, m) lane m[i] of a followed by b (modulo
 * twice the count), m an integer vector of as many lanes, constant or not.
 * GCC has them as __builtin_shuffle; clang's __builtin_shufflevector takes
 * constant indices only, so there each lane is picked by its index (the
 * same bits: a permutation does no arithmetic). The arguments are plain
 * values (each is evaluated once). */
#if defined(__clang__)
#define QNT__SHUF1(a, m)                                                \
	__extension__({                                                 \
		const __typeof__(a) a_ = (a);                           \
		const __typeof__(m) m_ = (m);                           \
		__typeof__(a_ + a_) r_;                                 \
		enum { n_ = sizeof a_ / sizeof a_[0] };                 \
		for (int i_ = 0; i_ < n_; i_++)                         \
			r_[i_] = a_[m_[i_] & (n_ - 1)];                 \
		r_;                                                     \
	})
#define QNT__SHUF2(a, b, m)                                             \
	__extension__({                                                 \
		const __typeof__(a) a_ = (a), b_ = (b);                 \
		const __typeof__(m) m_ = (m);                           \
		__typeof__(a_ + a_) r_;                                 \
		enum { n_ = sizeof a_ / sizeof a_[0] };                 \
		for (int i_ = 0; i_ < n_; i_++) {                       \
			const int k_ = (int)(m_[i_] & (2 * n_ - 1));    \
			r_[i_] = k_ < n_ ? a_[k_] : b_[k_ - n_];        \
		}                                                       \
		r_;                                                     \
	})
#else
#define QNT__SHUF1(a, m) __builtin_shuffle(a, m)
#define QNT__SHUF2(a, b, m) __builtin_shuffle(a, b, m)
#endif

/* Eight lanes: one AVX register in the cpu-avx2 build of the reference,
 * two SSE2 (or NEON) registers elsewhere; the same lane-by-lane IEEE
 * operations, so the same floats either way. */
typedef float qnt__v8f __attribute__((vector_size(32)));
typedef int32_t qnt__v8i __attribute__((vector_size(32)));
/* (They are only passed to static inline helpers, never across a
 * library boundary, so the build turns off -Wpsabi, the note that 32-byte
 * vectors are passed differently with and without AVX.) */

static inline qnt__v8i qnt__nearest_int_v8(qnt__v8f f)
{
	const qnt__v8f v = f + 12582912.0f;
	qnt__v8i bits;
	memcpy(&bits, &v, sizeof bits);
	return (bits & 0x007fffff) - 0x00400000;
}

/* As qnt__clamp_v4i. */
static inline qnt__v8i qnt__clamp_v8i(qnt__v8i v, int lo, int hi)
{
	const qnt__v8i vlo = { lo, lo, lo, lo, lo, lo, lo, lo }, vhi = { hi, hi, hi, hi, hi, hi, hi, hi };
	v = v + ((vlo - v) & ((v - vlo) >> 31));
	return v - ((v - vhi) & ((vhi - v) >> 31));
}

/* a where the lane of mask is all-ones, b where it is zero (the masks
 * comparisons give): one vblendvps with AVX (which reads the sign bit). */
static inline qnt__v8f qnt__select_v8f(qnt__v8i mask, qnt__v8f a, qnt__v8f b)
{
#if defined(__AVX__)
	return (qnt__v8f)_mm256_blendv_ps((__m256)b, (__m256)a, (__m256)mask);
#else
	qnt__v8i ia, ib;
	memcpy(&ia, &a, sizeof ia);
	memcpy(&ib, &b, sizeof ib);
	const qnt__v8i r = (ia & mask) | (ib & ~mask);
	qnt__v8f f;
	memcpy(&f, &r, sizeof f);
	return f;
#endif
}

/* The low byte of each of eight int32 lanes, as eight bytes (codes known
 * to fit in a byte). */
typedef int8_t qnt__v8c __attribute__((vector_size(8)));
static inline qnt__v8c qnt__narrow_v8i(qnt__v8i c)
{
	qnt__v8c r;
	typedef int8_t v32c_ __attribute__((vector_size(32)));
	v32c_ b;
	memcpy(&b, &c, sizeof b);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	r = __builtin_shufflevector(b, b, 0, 4, 8, 12, 16, 20, 24, 28);
#else
	r = __builtin_shufflevector(b, b, 3, 7, 11, 15, 19, 23, 27, 31);
#endif
	return r;
}

/* Bit i set where lane i of m (all-ones or zero lanes, as the comparisons
 * give) is set: one vmovmskps with AVX, two movmskps with SSE, an OR of the
 * masked lanes otherwise. */
static inline unsigned qnt__bits_v8i(qnt__v8i m)
{
#if defined(__AVX__)
	return (unsigned)_mm256_movemask_ps((__m256)m);
#elif defined(__SSE__)
	__m128 a, b;
	memcpy(&a, &m, sizeof a);
	memcpy(&b, (const char *)&m + sizeof a, sizeof b);
	return (unsigned)_mm_movemask_ps(a) | (unsigned)_mm_movemask_ps(b) << 4;
#else
	const qnt__v8i bit = { 1, 2, 4, 8, 16, 32, 64, 128 };
	const qnt__v8i a = m & bit;
	const qnt__v4i h = __builtin_shufflevector(a, a, 0, 1, 2, 3) | __builtin_shufflevector(a, a, 4, 5, 6, 7);
	return (unsigned)(h[0] | h[1] | h[2] | h[3]);
#endif
}

/* |v| lane by lane: the sign bit cleared (NaN payloads kept). */
static inline qnt__v8f qnt__abs_v8f(qnt__v8f v)
{
	qnt__v8i b;
	memcpy(&b, &v, sizeof b);
	b &= 0x7fffffff;
	memcpy(&v, &b, sizeof v);
	return v;
}

/* Comparisons of eight lanes: all-ones lanes where true, as a < b gives.
 * GCC (12) compiles a comparison of 32-byte vectors lane by lane in scalar
 * code (compare, set, negate) where the target has no 32-byte registers:
 * SSE2 (the baseline x86-64 build) and NEON. There these compare the two
 * 16-byte halves and join the results by memcpy (two 16-byte stores: GCC
 * builds a __builtin_shufflevector join lane by lane through memory too);
 * with AVX they are the plain operators. */
#if defined(__AVX__)
#define QNT__CMP8(NAME, VT, HT, OP) \
	static inline qnt__v8i NAME(VT a, VT b) \
	{ \
		return a OP b; \
	}
#else
#define QNT__CMP8(NAME, VT, HT, OP) \
	static inline qnt__v8i NAME(VT a, VT b) \
	{ \
		HT a0, a1, b0, b1; \
		memcpy(&a0, &a, sizeof a0); \
		memcpy(&a1, (const char *)&a + sizeof a0, sizeof a1); \
		memcpy(&b0, &b, sizeof b0); \
		memcpy(&b1, (const char *)&b + sizeof b0, sizeof b1); \
		const qnt__v4i r0 = a0 OP b0, r1 = a1 OP b1; \
		qnt__v8i r; \
		memcpy(&r, &r0, sizeof r0); \
		memcpy((char *)&r + sizeof r0, &r1, sizeof r1); \
		return r; \
	}
#endif
QNT__CMP8(qnt__gt_v8f, qnt__v8f, qnt__v4f, >)
QNT__CMP8(qnt__ge_v8f, qnt__v8f, qnt__v4f, >=)
QNT__CMP8(qnt__lt_v8f, qnt__v8f, qnt__v4f, <)
QNT__CMP8(qnt__le_v8f, qnt__v8f, qnt__v4f, <=)
QNT__CMP8(qnt__eq_v8f, qnt__v8f, qnt__v4f, ==)
QNT__CMP8(qnt__gt_v8i, qnt__v8i, qnt__v4i, >)
QNT__CMP8(qnt__lt_v8i, qnt__v8i, qnt__v4i, <)
#undef QNT__CMP8

/* t where it is greater (max) or less (!max) than v, else v. */
static inline qnt__v8f qnt__pick_v8f(qnt__v8f t, qnt__v8f v, const int max)
{
	return qnt__select_v8f(max ? qnt__gt_v8f(t, v) : qnt__lt_v8f(t, v), t, v);
}

/* The largest (max) or least (!max) lane of v in every lane: three swaps
 * of halves, pairs and neighbours, each followed by qnt__pick_v8f (a
 * comparison with NaN is false, so NaN lanes give no defined answer: for
 * lanes that are numbers). */
static inline qnt__v8f qnt__bext_v8f(qnt__v8f v, const int max)
{
	v = qnt__pick_v8f(__builtin_shufflevector(v, v, 4, 5, 6, 7, 0, 1, 2, 3), v, max);
	v = qnt__pick_v8f(__builtin_shufflevector(v, v, 2, 3, 0, 1, 6, 7, 4, 5), v, max);
	return qnt__pick_v8f(__builtin_shufflevector(v, v, 1, 0, 3, 2, 5, 4, 7, 6), v, max);
}

/* v in eight lanes, and comparisons of eight lanes with one value b. GCC
 * (12) without AVX builds a 32-byte broadcast lane by lane in memory; here
 * the halves are 16-byte broadcasts, and the results are joined by memcpy
 * as in QNT__CMP8. */
#if defined(__AVX__)
static inline qnt__v8f qnt__splat_v8f(float v)
{
	const qnt__v8f r = { v, v, v, v, v, v, v, v };
	return r;
}
#define QNT__CMP8S(NAME, OP) \
	static inline qnt__v8i NAME(qnt__v8f a, float b) \
	{ \
		return a OP qnt__splat_v8f(b); \
	}
#else
static inline qnt__v8f qnt__splat_v8f(float v)
{
	const qnt__v4f h = { v, v, v, v };
	qnt__v8f r;
	memcpy(&r, &h, sizeof h);
	memcpy((char *)&r + sizeof h, &h, sizeof h);
	return r;
}
#define QNT__CMP8S(NAME, OP) \
	static inline qnt__v8i NAME(qnt__v8f a, float b) \
	{ \
		const qnt__v4f h = { b, b, b, b }; \
		qnt__v4f a0, a1; \
		memcpy(&a0, &a, sizeof a0); \
		memcpy(&a1, (const char *)&a + sizeof a0, sizeof a1); \
		const qnt__v4i r0 = a0 OP h, r1 = a1 OP h; \
		qnt__v8i r; \
		memcpy(&r, &r0, sizeof r0); \
		memcpy((char *)&r + sizeof r0, &r1, sizeof r1); \
		return r; \
	}
#endif
/* a >= b (b one value) */
QNT__CMP8S(qnt__ge_v8f_s, >=)

/* The native vectors: eight lanes with AVX2, else four (SSE2, NEON), on
 * which every operation (comparisons, integer arithmetic, broadcasts) is
 * one instruction or a few. A loop over eight lanes written as 8 /
 * QNT__VN native vectors of QNT__VN lanes (lane k of the eight in lane
 * k % QNT__VN of vector k / QNT__VN) keeps its accumulators in registers
 * where the eight-lane code went through memory; the arrays of native
 * vectors join into eight lanes by memcpy. */
#if defined(__AVX2__)
#define QNT__VN 8
typedef qnt__v8f qnt__vnf;
typedef qnt__v8i qnt__vni;
#define QNT__SPLAT_VN(v) { v, v, v, v, v, v, v, v }
#else
#define QNT__VN 4
typedef qnt__v4f qnt__vnf;
typedef qnt__v4i qnt__vni;
#define QNT__SPLAT_VN(v) { v, v, v, v }
#endif

static inline qnt__vnf qnt__splat_vnf(float v)
{
	const qnt__vnf r = QNT__SPLAT_VN(v);
	return r;
}

/* A 4 x 4 transpose by shuffles: out[i] lane k is in[k] lane i (four
 * lanes also where QNT__VN is 8, for loops over four sub-blocks). */
static inline __attribute__((always_inline)) void qnt__transpose_v4f(const qnt__v4f *in, qnt__v4f *out)
{
	const qnt__v4f t0 = __builtin_shufflevector(in[0], in[1], 0, 4, 1, 5);
	const qnt__v4f t1 = __builtin_shufflevector(in[0], in[1], 2, 6, 3, 7);
	const qnt__v4f t2 = __builtin_shufflevector(in[2], in[3], 0, 4, 1, 5);
	const qnt__v4f t3 = __builtin_shufflevector(in[2], in[3], 2, 6, 3, 7);
	out[0] = __builtin_shufflevector(t0, t2, 0, 1, 4, 5);
	out[1] = __builtin_shufflevector(t0, t2, 2, 3, 6, 7);
	out[2] = __builtin_shufflevector(t1, t3, 0, 1, 4, 5);
	out[3] = __builtin_shufflevector(t1, t3, 2, 3, 6, 7);
}

/* A QNT__VN x QNT__VN transpose by shuffles: out[i] lane k is in[k] lane
 * i (the loads of whole rows made columns, with no stores read back; the
 * loops unrolled, which GCC at -O2 left as loops through memory). */
static inline __attribute__((always_inline)) void qnt__transpose_vnf(const qnt__vnf *in, qnt__vnf *out)
{
#if QNT__VN == 8
	qnt__vnf t[8], u[8];
#pragma GCC unroll 4
	for (int k = 0; k < 8; k += 2) {
		t[k] = __builtin_shufflevector(in[k], in[k + 1], 0, 8, 1, 9, 4, 12, 5, 13);
		t[k + 1] = __builtin_shufflevector(in[k], in[k + 1], 2, 10, 3, 11, 6, 14, 7, 15);
	}
#pragma GCC unroll 2
	for (int k = 0; k < 8; k += 4)
#pragma GCC unroll 2
		for (int e = 0; e < 2; e++) {
			u[k + 2 * e] = __builtin_shufflevector(t[k + e], t[k + e + 2], 0, 1, 8, 9, 4, 5, 12, 13);
			u[k + 2 * e + 1] = __builtin_shufflevector(t[k + e], t[k + e + 2], 2, 3, 10, 11, 6, 7, 14, 15);
		}
	/* u[c] (c < 4): columns c and c + 4 of rows 0-3; u[4 + c]: of rows 4-7 */
#pragma GCC unroll 4
	for (int c = 0; c < 4; c++) {
		out[c] = __builtin_shufflevector(u[c], u[4 + c], 0, 1, 2, 3, 8, 9, 10, 11);
		out[c + 4] = __builtin_shufflevector(u[c], u[4 + c], 4, 5, 6, 7, 12, 13, 14, 15);
	}
#else
	qnt__transpose_v4f(in, out);
#endif
}

/* The native vectors' rounding, clamp, select and |v| (each the eight- or
 * four-lane function above, the same values), and a clamp of eight lanes
 * that is one vpmaxsd/vpminsd pair where eight lanes are native. */
#if defined(__AVX2__)
#define qnt__nearest_vni qnt__nearest_int_v8
#define qnt__select_vnf qnt__select_v8f
#define qnt__abs_vnf qnt__abs_v8f
static inline qnt__vni qnt__clamp_vni(qnt__vni v, int lo, int hi)
{
	return (qnt__vni)_mm256_min_epi32(_mm256_max_epi32((__m256i)v, _mm256_set1_epi32(lo)), _mm256_set1_epi32(hi));
}
#define qnt__clamp8_v8i qnt__clamp_vni
#else
#define qnt__nearest_vni qnt__nearest_int_v4
#define qnt__select_vnf qnt__select_v4f
#define qnt__clamp_vni qnt__clamp_v4i
static inline qnt__vnf qnt__abs_vnf(qnt__vnf v)
{
	qnt__vni b;
	memcpy(&b, &v, sizeof b);
	b &= 0x7fffffff;
	memcpy(&v, &b, sizeof v);
	return v;
}
#define qnt__clamp8_v8i qnt__clamp_v8i
#endif

/* mask & v, bit by bit (mask lanes all-ones or zero). */
static inline qnt__vnf qnt__and_vnf(qnt__vni mask, qnt__vnf v)
{
	qnt__vni b;
	memcpy(&b, &v, sizeof b);
	b &= mask;
	memcpy(&v, &b, sizeof v);
	return v;
}

/* sum_i w_i (x_i - y_i)^2 in double, in a fixed order: four partial sums,
 * of the i with i % 4 = 0, 1, 2, 3 (the lanes of one vector), added
 * pairwise at the end. The quantizers compare their candidates' errors
 * with it, so its order is part of the bytes they choose. */
static inline double qnt__wsse(int n, const float *x, const float *y, const float *w)
{
	qnt__v4d e = { 0, 0, 0, 0 };
	int i = 0;
	for (; i + 4 <= n; i += 4) {
		qnt__v4f xv, yv, wv;
		memcpy(&xv, x + i, sizeof xv);
		memcpy(&yv, y + i, sizeof yv);
		memcpy(&wv, w + i, sizeof wv);
		const qnt__v4d r = __builtin_convertvector(xv, qnt__v4d) - __builtin_convertvector(yv, qnt__v4d);
		e += __builtin_convertvector(wv, qnt__v4d) * r * r;
	}
	for (; i < n; i++) {
		const double r = (double)x[i] - (double)y[i];
		e[i & 3] += (double)w[i] * r * r;
	}
	return (e[0] + e[1]) + (e[2] + e[3]);
}

#endif /* QNT_LANES_H */
