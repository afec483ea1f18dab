/* SPDX-License-Identifier: MIT */
/*
 * ggml's scale-fitting helpers, written anew with the same operations in the
 * same order (this file is built with -ffp-contract=off), so that libqnt can
 * reproduce the blocks of ggml's importance-weighted quantizers exactly and
 * use them as candidates its own searches must beat.
 */
#include "ggml_fit.h"
#include "qnt_fp.h"
#include "qnt_lanes.h"

#include <math.h>
#include <string.h>

#define GROUP_MAX_EPS 1e-15f

/* The scans below run W candidates of one sub-block at once, one per lane
 * (qnt__ggml_fit_affine, qnt__ggml_fit_sym), or W sub-blocks at once, one
 * per lane, each taking its candidates in turn (the *_subs functions).
 * Each lane does its candidate's or sub-block's float operations in
 * ggml's order, so the width changes the speed, never the result: eight
 * lanes where one AVX register holds them (the cpu-avx2 build), four (one
 * SSE2 or NEON register) otherwise, where eight-lane vectors would be split
 * and spilled: the native vectors of qnt_lanes.h. */
#define W QNT__VN
typedef qnt__vnf vf;
typedef qnt__vni vi;

/* clamp(nearest_int(t), 0, nmax) as a float, for finite |t| < 2^22 (where
 * nearest_int is the rounding to nearest even): t clamped first (the bounds
 * are integers, so the same integer), then rounded: three instructions
 * instead of the integer rounding, clamp and conversion. maxps returns its
 * second operand, +0, for t = -0, so no code is -0. */
#if defined(__AVX__) || defined(__SSE__)
#define HAVE_LEVEL 1
static inline vf level_vf(vf t, float nmax)
{
#if QNT__VN == 8
	const __m256 c = _mm256_min_ps(_mm256_max_ps((__m256)t, _mm256_setzero_ps()), _mm256_set1_ps(nmax));
	return (vf)_mm256_round_ps(c, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
#else
	const __m128 c = _mm_min_ps(_mm_max_ps((__m128)t, _mm_setzero_ps()), _mm_set1_ps(nmax));
	return ((vf)c + 12582912.0f) - 12582912.0f;
#endif
}
#else
#define HAVE_LEVEL 0
#endif

/* 1 if every x[i] is finite: x * 0 is 0 for each, NaN otherwise, and a
 * NaN stays in the sums. */
static inline int all_finite(int n, const float *x)
{
	qnt__v8f zs = { 0 };
	float z = 0;
	int i = 0;
	for (; i + 8 <= n; i += 8) {
		qnt__v8f xv;
		memcpy(&xv, x + i, sizeof xv);
		zs += xv * 0.0f;
	}
	for (; i < n; i++)
		z += x[i] * 0.0f;
	for (int k = 0; k < 8; k++)
		z += zs[k];
	return z == 0.0f;
}

/* clamp(nearest_int(t), -nmax, nmax - 1) as a float, for finite
 * |t| < 2^22: clamped, then rounded to nearest even (nearest_int's own
 * rounding): vroundps with AVX, else adding and subtracting 1.5 * 2^23.
 * vroundps keeps the sign of a zero: a code 0 may come out as -0 there,
 * which the callers' sums cannot tell from +0 (their terms are then zeros,
 * and a sum that starts at +0 never becomes -0 in the default rounding
 * mode, so adding a zero of either sign leaves it as it is). */
#if HAVE_LEVEL
static inline vf sym_level_vf(vf t, float nmax)
{
#if QNT__VN == 8
	const __m256 c = _mm256_min_ps(_mm256_max_ps((__m256)t, _mm256_set1_ps(-nmax)), _mm256_set1_ps(nmax - 1));
	return (vf)_mm256_round_ps(c, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
#else
	const __m128 c = _mm_min_ps(_mm_max_ps((__m128)t, _mm_set1_ps(-nmax)), _mm_set1_ps(nmax - 1));
	return ((vf)c + 12582912.0f) - 12582912.0f;
#endif
}
#endif

/* One candidate chunk's codes (as floats, kept in fls) and its weighted
 * sums, each lane in ggml's element order; level: the codes by level_vf
 * (the caller has checked that every |isc * (x[i] - cmin)| < 2^22). */
static inline __attribute__((always_inline)) void affine_sums(int n, int nmax, const float *x,
								const float *weights, vf isc, float cmin, int level,
								vf *fls, vf *psl, vf *psl2, vf *psxl)
{
	vf sl = { 0 }, sl2 = { 0 }, sxl = { 0 };
	for (int i = 0; i < n; i++) {
		const float w = weights[i], xi = x[i];
		vf fl;
#if HAVE_LEVEL
		if (level)
			fl = level_vf(isc * (xi - cmin), (float)nmax);
		else
#endif
			fl = __builtin_convertvector(qnt__clamp_vni(qnt__nearest_vni(isc * (xi - cmin)), 0, nmax), vf);
		fls[i] = fl;
		sl += w * fl;
		sl2 += w * fl * fl;
		sxl += w * fl * xi;
	}
	*psl = sl;
	*psl2 = sl2;
	*psxl = sxl;
}

/* Bit k set where lane k of the mask m (all-ones or zero lanes) is set. */
static inline unsigned lane_mask(vi m)
{
#if QNT__VN == 8
	return (unsigned)_mm256_movemask_ps((__m256)m);
#elif defined(__SSE__)
	return (unsigned)_mm_movemask_ps((__m128)m);
#else
	unsigned r = 0;
	for (int k = 0; k < W; k++)
		r |= (m[k] != 0) << k;
	return r;
#endif
}

/* The low byte of each of eight lanes. */
typedef uint8_t v8b __attribute__((vector_size(8)));

/* The weighted least-squares scale and min of a candidate (ggml's: a
 * positive min is taken as 0 and the scale refitted alone), lane by lane;
 * returns where the system is regular (D > 0). */
static inline vi affine_solve(vf sum_w, vf sum_x, vf sl, vf sl2, vf sxl, vf *tsc, vf *tmn)
{
	const vf zero = qnt__splat_vnf(0.0f);
	const vf D = sum_w * sl2 - sl * sl;
	const vi ok = D > zero;
	vf sc = (sum_w * sxl - sum_x * sl) / D;
	vf mn = (sl2 * sum_x - sl * sxl) / D;
	const vi pos = mn > zero;
	*tmn = qnt__select_vnf(pos, zero, mn);
	*tsc = qnt__select_vnf(pos, sxl / sl2, sc);
	return ok;
}

/* ggml's affine codes clamp(nearest_int(iscale * (x[i] - min)), 0, nmax)
 * into L, eight at a time; returns where the scalar tail starts. */
static int affine_codes8(int n, int nmax, const float *x, float iscale, float min, uint8_t *L)
{
	int i = 0;
	for (; i + 8 <= n; i += 8) {
		qnt__v8f xv;
		memcpy(&xv, x + i, sizeof xv);
		const qnt__v8c c = qnt__narrow_v8i(qnt__clamp8_v8i(qnt__nearest_int_v8(iscale * (xv - min)), 0, nmax));
		memcpy(L + i, &c, sizeof c);
	}
	return i;
}

/* Scale and min of n values for codes 0..nmax, weighted; a scan of nstep+1
 * scales with a least-squares refit each (ggml's make_qkx2_quants, which is
 * also its make_qkx3_quants when weights are given). Returns the scale and
 * the negated min in *the_min.
 *
 * ggml tries the scales one after the other, and each candidate's codes
 * depend on the min of the best candidate so far. Here W candidates are
 * evaluated at once for the current min, one per lane (lane by lane the
 * same floats as ggml's loop: each lane sums its elements in element
 * order), then taken in ggml's order; when one is accepted with a
 * different min, the candidates after it are evaluated again for the new
 * min. n <= 32. */
float qnt__ggml_fit_affine(int n, int nmax, const float *x, const float *weights, uint8_t *L, float *the_min,
			     float rmin, float rdelta, int nstep, int use_mad)
{
	float min = x[0], max = x[0];
	float sum_w = weights[0];
	float sum_x = sum_w * x[0];
	for (int i = 1; i < n; i++) {
		if (x[i] < min)
			min = x[i];
		if (x[i] > max)
			max = x[i];
		float w = weights[i];
		sum_w += w;
		sum_x += w * x[i];
	}
	const float xlo = min; /* the smallest value */
	if (min > 0)
		min = 0;
	if (max == min) {
		memset(L, 0, (size_t)n);
		*the_min = -min;
		return 0.0f;
	}
	float iscale = (float)nmax / (max - min);
	float scale = 1 / iscale;
	/* the first guess's error terms elementwise, eight at a time, then
	 * summed in element order as ggml sums them */
	float terms[32];
	int i0 = affine_codes8(n, nmax, x, iscale, min, L);
	for (int i = 0; i < i0; i += 8) {
		qnt__v8f xv, wv;
		memcpy(&xv, x + i, sizeof xv);
		memcpy(&wv, weights + i, sizeof wv);
		const v8b c = { L[i], L[i + 1], L[i + 2], L[i + 3], L[i + 4], L[i + 5], L[i + 6], L[i + 7] };
		qnt__v8f diff = scale * __builtin_convertvector(c, qnt__v8f) + min - xv;
		diff = use_mad ? qnt__abs_v8f(diff) : diff * diff;
		const qnt__v8f t = wv * diff;
		memcpy(terms + i, &t, sizeof t);
	}
	for (int i = i0; i < n; i++) {
		int l = qnt__nearest_int(iscale * (x[i] - min));
		L[i] = (uint8_t)qnt__clampi(l, 0, nmax);
		float diff = scale * (float)L[i] + min - x[i];
		diff = use_mad ? fabsf(diff) : diff * diff;
		terms[i] = weights[i] * diff;
	}
	float best_error = 0;
	for (int i = 0; i < n; i++)
		best_error += terms[i];
	if (nstep < 1) {
		*the_min = -min;
		return scale;
	}
	const int finite = all_finite(n, x);
	const vf zero = { 0 };
	float lanes[W];
	for (int k = 0; k < W; k++)
		lanes[k] = (float)k;
	vf flane;
	memcpy(&flane, lanes, sizeof flane);
	float code_iscale = 0, code_min = 0; /* the accepted candidate's codes */
	int accepted = 0;
	for (int is0 = 0; is0 <= nstep;) {
		const float cmin = min, range = max - min;
		/* lane k: (rmin + rdelta * (is0 + k) + nmax) / range, as ggml computes it */
		const vf isc = (rmin + rdelta * ((float)is0 + flane) + (float)nmax) / range;
		vf sl, sl2, sxl;
		vf fls[32]; /* the codes, as floats, for the second pass */
		/* |isc * (x[i] - cmin)| is at most bound (float rounding is
		 * monotonic, and the lanes' isc are monotonic in the lane, so the
		 * largest |isc| is an end lane's); NaN when isc is, so not below
		 * 2^22 */
		const float i0a = fabsf(isc[0]), i1a = fabsf(isc[W - 1]);
		const float dhi = fabsf(max - cmin), dlo = fabsf(xlo - cmin);
		const float bound = (i0a > i1a ? i0a : i1a) * (dhi > dlo ? dhi : dlo);
		if (HAVE_LEVEL && finite && bound < 4194304.0f)
			affine_sums(n, nmax, x, weights, isc, cmin, 1, fls, &sl, &sl2, &sxl);
		else
			affine_sums(n, nmax, x, weights, isc, cmin, 0, fls, &sl, &sl2, &sxl);
		vf tsc, tmn;
		const vi ok = affine_solve(qnt__splat_vnf(sum_w), qnt__splat_vnf(sum_x), sl, sl2, sxl, &tsc, &tmn);
		vf err = zero;
		if (use_mad) {
			for (int i = 0; i < n; i++) {
				const vf diff = tsc * fls[i] + tmn - x[i];
				vi bits;
				memcpy(&bits, &diff, sizeof bits);
				bits &= INT32_MAX;
				vf ad;
				memcpy(&ad, &bits, sizeof ad);
				err += weights[i] * ad;
			}
		} else {
			for (int i = 0; i < n; i++) {
				const vf diff = tsc * fls[i] + tmn - x[i];
				err += weights[i] * (diff * diff);
			}
		}
		/* ggml's sequential choice: the lanes that beat the best so far,
		 * tested all at once; the first is the one ggml takes; after it
		 * (same min) the later lanes are tested against its error */
		int next = is0 + W;
		const unsigned valid = nstep - is0 + 1 >= W ? (1u << W) - 1 : (1u << (nstep - is0 + 1)) - 1;
		unsigned m = lane_mask(ok & (err < best_error)) & valid;
		while (m) {
			const int k = __builtin_ctz(m);
			best_error = err[k];
			scale = tsc[k];
			min = tmn[k];
			code_iscale = isc[k];
			code_min = cmin;
			accepted = 1;
			if (min != cmin) { /* the later candidates depend on the new min */
				next = is0 + k + 1;
				break;
			}
			m = lane_mask(ok & (err < best_error)) & valid & ~((2u << k) - 1);
		}
		is0 = next;
	}
	if (accepted)
		for (int i = affine_codes8(n, nmax, x, code_iscale, code_min, L); i < n; i++)
			L[i] = (uint8_t)qnt__clampi(qnt__nearest_int(code_iscale * (x[i] - code_min)), 0, nmax);
	*the_min = -min;
	return scale;
}

/* W sub-blocks of n values (n a multiple of W) transposed by shuffles of
 * whole-vector loads: out[i] lane k is src[n k + i]. */
static inline __attribute__((always_inline)) void transpose_subs(const int n, const float *src, vf *out)
{
	for (int i0 = 0; i0 < n; i0 += W) {
		vf r[W];
		for (int k = 0; k < W; k++)
			memcpy(&r[k], src + n * k + i0, sizeof r[k]);
		qnt__transpose_vnf(r, out + i0);
	}
}

/* The scan of one vector of fit_affine_lanes' sub-blocks (the lanes): the
 * sums of the values and the best candidate so far. */
struct fit_vec {
	vf min, max, sum_w, sum_x, xlo, scale, best_error, code_isc, code_min;
	vi flat;
};

/* The sums and the first guess of one vector's sub-blocks (transposed into
 * xt, wt); returns whether every value is finite. */
static inline __attribute__((always_inline)) int fit_vec_init(const int n, int nmax, const float *x,
								const float *weights, vf *xt, vf *wt, int use_mad,
								struct fit_vec *s)
{
	const vf zero = { 0 };
	transpose_subs(n, x, xt);
	transpose_subs(n, weights, wt);
	vf min = xt[0], max = xt[0], sum_w = wt[0];
	vf sum_x = sum_w * xt[0], fin = xt[0] * 0.0f;
	for (int i = 1; i < n; i++) {
		min = qnt__select_vnf(xt[i] < min, xt[i], min);
		max = qnt__select_vnf(xt[i] > max, xt[i], max);
		sum_w += wt[i];
		sum_x += wt[i] * xt[i];
		fin += xt[i] * 0.0f; /* NaN in a lane with a value that is not finite */
	}
	s->xlo = min; /* the smallest value */
	min = qnt__select_vnf(min > zero, zero, min);
	s->flat = max == min; /* ggml returns at once: no codes, no scale */
	/* the first guess and its error, each lane summing in element order */
	const vf iscale = (float)nmax / (max - min);
	vf scale = 1 / iscale, best_error = zero;
	for (int i = 0; i < n; i++) {
		const vf l = __builtin_convertvector(qnt__clamp_vni(qnt__nearest_vni(iscale * (xt[i] - min)), 0, nmax), vf);
		vf diff = scale * l + min - xt[i];
		diff = use_mad ? qnt__abs_vnf(diff) : diff * diff;
		best_error += wt[i] * diff;
	}
	s->min = min;
	s->max = max;
	s->sum_w = sum_w;
	s->sum_x = sum_x;
	s->scale = scale;
	s->best_error = best_error;
	s->code_isc = iscale; /* the codes of the best so far */
	s->code_min = min;
	return lane_mask(fin == zero) == (1u << W) - 1;
}

/* Step is of the scan: the candidate's inverse scale *isc for the min
 * *cmin of the best so far; returns whether its codes may be taken by
 * level_vf: |isc * (x - cmin)| <= |isc| max(|max - cmin|, |xlo - cmin|)
 * (float rounding is monotonic) is below 2^22 (NaN when isc is). Flat
 * lanes are left out: their results are never read. */
static inline __attribute__((always_inline)) int fit_vec_begin(const struct fit_vec *s, int is, int nmax,
								 float rmin, float rdelta, vf *cmin, vf *isc)
{
	*cmin = s->min;
	/* ggml's (rmin + rdelta * is + nmax) / (max - min): the numerator is
	 * the same float in every lane */
	*isc = (rmin + rdelta * (float)is + (float)nmax) / (s->max - *cmin);
	const vf dhi = qnt__abs_vnf(s->max - *cmin), dlo = qnt__abs_vnf(s->xlo - *cmin);
	const vf bound = qnt__abs_vnf(*isc) * qnt__select_vnf(dhi > dlo, dhi, dlo);
	return lane_mask((bound < qnt__splat_vnf(4194304.0f)) | s->flat) == (1u << W) - 1;
}

/* ggml's test and update, lane by lane. */
static inline __attribute__((always_inline)) void fit_vec_take(struct fit_vec *s, vi ok, vf err, vf tsc, vf tmn,
								 vf isc, vf cmin)
{
	const vi take = ok & (err < s->best_error) & ~s->flat;
	s->best_error = qnt__select_vnf(take, err, s->best_error);
	s->scale = qnt__select_vnf(take, tsc, s->scale);
	s->min = qnt__select_vnf(take, tmn, s->min);
	s->code_isc = qnt__select_vnf(take, isc, s->code_isc);
	s->code_min = qnt__select_vnf(take, cmin, s->code_min);
}

/* The codes, scales and negated mins of one vector's sub-blocks. */
static inline __attribute__((always_inline)) void fit_vec_out(const int n, int nmax, const float *x,
								const struct fit_vec *s, uint8_t *L, float *scales,
								float *the_mins)
{
	for (int k = 0; k < W; k++) {
		uint8_t *Lk = L + n * k;
		the_mins[k] = -s->min[k];
		if (s->flat[k]) {
			memset(Lk, 0, (size_t)n);
			scales[k] = 0.0f;
			continue;
		}
		affine_codes8(n, nmax, x + n * k, s->code_isc[k], s->code_min[k], Lk);
		scales[k] = s->scale[k];
	}
}

/* qnt__ggml_fit_affine for nv W sub-blocks at once (nv 1 or 2), lane k of
 * vector v being sub-block W v + k (x + n (W v + k), weights and L alike,
 * scales[W v + k], the_mins[W v + k]), n 16 or 32.
 * Each lane runs ggml's loop over its own candidates is = 0..nstep in order,
 * one per step, with its own min: the same float operations in the same
 * order as the scalar loop (sums over its elements in element order, its
 * comparisons, its choices as lane selects), so every lane's codes, scale
 * and min are qnt__ggml_fit_affine's for its sub-block, to the bit. Where
 * the candidate scan above evaluates W candidates of one sub-block under the
 * min of the best so far and evaluates the later ones again each time an
 * accepted candidate moves the min, here no lane ever evaluates a candidate
 * twice or one ggml does not: nstep + 1 steps in all. A step's sums and its
 * error are chains of n dependent additions in each lane; with two vectors
 * their elements are taken in turn, so that one vector's additions run
 * while the other's wait. The step's values are plain locals (a: the first
 * vector, b: the second) and its terms are written out in the loops: GCC
 * 12 kept the sums in registers so, where through a helper taking pointers
 * to them it stored each element's product w l and added them up later
 * (14% slower). */
static inline __attribute__((always_inline)) void fit_affine_lanes(const int nv, const int n, int nmax,
								     const float *x, const float *weights,
								     uint8_t *L, float *scales, float *the_mins,
								     float rmin, float rdelta, int nstep,
								     int use_mad)
{
	/* the sub-blocks transposed: xa[i] lane k is element i of sub-block
	 * k, xb[i] of sub-block W + k */
	vf xa[32], wa[32], xb[32], wb[32];
	struct fit_vec a, b;
	int finite = fit_vec_init(n, nmax, x, weights, xa, wa, use_mad, &a);
	if (nv == 2)
		finite &= fit_vec_init(n, nmax, x + n * W, weights + n * W, xb, wb, use_mad, &b);
	const vf zero = { 0 };
	for (int is = 0; is <= nstep; is++) {
		vf fa[32], fb[32]; /* the step's codes, as floats, for its error */
		vf cmina, isca, cminb = zero, iscb = zero;
		vf sla = zero, sl2a = zero, sxla = zero, slb = zero, sl2b = zero, sxlb = zero;
		int level = HAVE_LEVEL && finite;
		level &= fit_vec_begin(&a, is, nmax, rmin, rdelta, &cmina, &isca);
		if (nv == 2)
			level &= fit_vec_begin(&b, is, nmax, rmin, rdelta, &cminb, &iscb);
		/* each element's code (level_vf where level) and its terms */
		if (level) {
#if HAVE_LEVEL
#pragma GCC unroll 32
			for (int i = 0; i < n; i++) {
				fa[i] = level_vf(isca * (xa[i] - cmina), (float)nmax);
				sla += wa[i] * fa[i];
				sl2a += wa[i] * fa[i] * fa[i];
				sxla += wa[i] * fa[i] * xa[i];
				if (nv == 2) {
					fb[i] = level_vf(iscb * (xb[i] - cminb), (float)nmax);
					slb += wb[i] * fb[i];
					sl2b += wb[i] * fb[i] * fb[i];
					sxlb += wb[i] * fb[i] * xb[i];
				}
			}
#endif
		} else {
			for (int i = 0; i < n; i++) {
				fa[i] = __builtin_convertvector(
					qnt__clamp_vni(qnt__nearest_vni(isca * (xa[i] - cmina)), 0, nmax), vf);
				sla += wa[i] * fa[i];
				sl2a += wa[i] * fa[i] * fa[i];
				sxla += wa[i] * fa[i] * xa[i];
				if (nv == 2) {
					fb[i] = __builtin_convertvector(
						qnt__clamp_vni(qnt__nearest_vni(iscb * (xb[i] - cminb)), 0, nmax), vf);
					slb += wb[i] * fb[i];
					sl2b += wb[i] * fb[i] * fb[i];
					sxlb += wb[i] * fb[i] * xb[i];
				}
			}
		}
		vf tsca, tmna, tscb = zero, tmnb = zero, erra = zero, errb = zero;
		const vi oka = affine_solve(a.sum_w, a.sum_x, sla, sl2a, sxla, &tsca, &tmna);
		vi okb = { 0 };
		if (nv == 2)
			okb = affine_solve(b.sum_w, b.sum_x, slb, sl2b, sxlb, &tscb, &tmnb);
		if (use_mad) {
#pragma GCC unroll 32
			for (int i = 0; i < n; i++) {
				erra += wa[i] * qnt__abs_vnf(tsca * fa[i] + tmna - xa[i]);
				if (nv == 2)
					errb += wb[i] * qnt__abs_vnf(tscb * fb[i] + tmnb - xb[i]);
			}
		} else {
#pragma GCC unroll 32
			for (int i = 0; i < n; i++) {
				const vf da = tsca * fa[i] + tmna - xa[i];
				erra += wa[i] * (da * da);
				if (nv == 2) {
					const vf db = tscb * fb[i] + tmnb - xb[i];
					errb += wb[i] * (db * db);
				}
			}
		}
		fit_vec_take(&a, oka, erra, tsca, tmna, isca, cmina);
		if (nv == 2)
			fit_vec_take(&b, okb, errb, tscb, tmnb, iscb, cminb);
	}
	fit_vec_out(n, nmax, x, &a, L, scales, the_mins);
	if (nv == 2)
		fit_vec_out(n, nmax, x + n * W, &b, L + n * W, scales + W, the_mins + W);
}

/* Two vectors at a time while at least 2 W sub-blocks are left. */
void qnt__ggml_fit_affine_subs(int count, int n, int nmax, const float *x, const float *weights, uint8_t *L,
			       float *scales, float *the_mins, float rmin, float rdelta, int nstep, int use_mad)
{
	for (int j = 0; j < count;) {
		const int o = n * j, nv = count - j >= 2 * W ? 2 : 1;
		if (nv == 2 && n == 16)
			fit_affine_lanes(2, 16, nmax, x + o, weights + o, L + o, scales + j, the_mins + j, rmin,
					 rdelta, nstep, use_mad);
		else if (nv == 2)
			fit_affine_lanes(2, 32, nmax, x + o, weights + o, L + o, scales + j, the_mins + j, rmin,
					 rdelta, nstep, use_mad);
		else if (n == 16)
			fit_affine_lanes(1, 16, nmax, x + o, weights + o, L + o, scales + j, the_mins + j, rmin,
					 rdelta, nstep, use_mad);
		else
			fit_affine_lanes(1, 32, nmax, x + o, weights + o, L + o, scales + j, the_mins + j, rmin,
					 rdelta, nstep, use_mad);
		j += nv * W;
	}
}

/* Symmetric scale for codes -nmax..nmax-1 (stored biased by nmax), weights
 * qw or x^2: ggml's make_qx_quants with rmse_type 1. ggml scans the inverse
 * scales -(nmax + 0.1 * is) / max, is = 0 then -9..9, one at a time; here
 * the 19 candidates are the lanes of a few vectors (each lane sums its
 * elements in ggml's order, so every sum is ggml's to the bit), and the
 * choice is then made in ggml's order. */
#define FIT_SYM_VECS ((19 + W - 1) / W) /* the 19 candidates, padded */

/* The candidates' sums, each lane in ggml's element order; level: the
 * codes by sym_level_vf. */
static inline __attribute__((always_inline)) void fit_sym_sums(int n, int nmax, const float *x, const float *qw,
								 const vf *visc, int level, vf *vlx, vf *vl2)
{
	for (int i = 0; i < n; i++) {
		const float xi = x[i];
		const float w = qw ? qw[i] : xi * xi;
		const float wx = w * xi;
		for (int b = 0; b < FIT_SYM_VECS; b++) {
			vf fl;
#if HAVE_LEVEL
			if (level)
				fl = sym_level_vf(visc[b] * xi, (float)nmax);
			else
#endif
				fl = __builtin_convertvector(qnt__clamp_vni(qnt__nearest_vni(visc[b] * xi), -nmax, nmax - 1), vf);
			vlx[b] += wx * fl;
			vl2[b] += w * fl * fl;
		}
	}
}

float qnt__ggml_fit_sym(int n, int nmax, const float *x, int8_t *L, const float *qw)
{
	float max = 0, amax = 0;
	for (int i = 0; i < n; i++) {
		float ax = fabsf(x[i]);
		if (ax > amax) {
			amax = ax;
			max = x[i];
		}
	}
	if (amax < GROUP_MAX_EPS) {
		memset(L, 0, (size_t)n);
		return 0.0f;
	}
	/* lane 0: is = 0, the first guess; lanes 1..18: is = -9..-1, 1..9;
	 * the padding lanes repeat lane 0 and are never chosen */
	static const float sis[8 * 3] = { 0, -9, -8, -7, -6, -5, -4, -3, -2, -1, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 0, 0, 0, 0 };
	float isc[W * FIT_SYM_VECS], sumlx[W * FIT_SYM_VECS], suml2[W * FIT_SYM_VECS];
	vf visc[FIT_SYM_VECS], vlx[FIT_SYM_VECS], vl2[FIT_SYM_VECS];
	for (int b = 0; b < FIT_SYM_VECS; b++) {
		vf is;
		memcpy(&is, sis + W * b, sizeof is);
		/* lane 0 (is = 0) is ggml's first guess -nmax / max: the same
		 * float, since nmax + 0.1f * 0 is nmax exactly */
		visc[b] = -((float)nmax + 0.1f * is) / max;
	}
	memcpy(isc, visc, sizeof isc);
	for (int b = 0; b < FIT_SYM_VECS; b++)
		vlx[b] = vl2[b] = (vf){ 0 };
	/* with every x finite, |visc * x[i]| <= (nmax + 0.9) / amax * amax
	 * (rounded) is far below 2^22, so the codes can be clamped and rounded
	 * as floats */
	if (HAVE_LEVEL && all_finite(n, x))
		fit_sym_sums(n, nmax, x, qw, visc, 1, vlx, vl2);
	else
		fit_sym_sums(n, nmax, x, qw, visc, 0, vlx, vl2);
	memcpy(sumlx, vlx, sizeof vlx);
	memcpy(suml2, vl2, sizeof vl2);
	float scale = suml2[0] != 0.0f ? sumlx[0] / suml2[0] : 0.0f;
	float best = scale * sumlx[0];
	int chosen = 0;
	for (int k = 1; k < 19; k++) {
		if (suml2[k] > 0 && sumlx[k] * sumlx[k] > best * suml2[k]) {
			scale = sumlx[k] / suml2[k];
			best = scale * sumlx[k];
			chosen = k;
		}
	}
	int i = 0;
	for (; i + 8 <= n; i += 8) { /* the same operations eight lanes at a time */
		qnt__v8f xv;
		memcpy(&xv, x + i, sizeof xv);
		const qnt__v8c c = qnt__narrow_v8i(qnt__clamp8_v8i(qnt__nearest_int_v8(isc[chosen] * xv), -nmax, nmax - 1) + nmax);
		memcpy(L + i, &c, sizeof c);
	}
	for (; i < n; i++)
		L[i] = (int8_t)(nmax + qnt__clampi(qnt__nearest_int(isc[chosen] * x[i]), -nmax, nmax - 1));
	return scale;
}

/* qnt__ggml_fit_sym for W sub-blocks at once, lane k = sub-block k
 * (x + n k, L + n k, qw + n k, scales[k]), n 16 or 32. Each lane takes
 * ggml's 19 candidates one per step in ggml's order, summing its elements in
 * element order, and makes ggml's choice after each (lane selects): the same
 * float operations in the same order as qnt__ggml_fit_sym for its
 * sub-block, so the same codes and scale, to the bit. */
static inline __attribute__((always_inline)) void fit_sym_lanes(const int n, int nmax, const float *x, int8_t *L,
								  const float *qw, float *scales)
{
	/* the sub-blocks transposed: xt[i] lane k is element i of sub-block k;
	 * the weights qw, or x^2 */
	vf xt[32], wt[32], wx[32];
	transpose_subs(n, x, xt);
	if (qw)
		transpose_subs(n, qw, wt);
	else
		for (int i = 0; i < n; i++)
			wt[i] = xt[i] * xt[i];
	const vf zero = { 0 };
	vf max = zero, amax = zero, fin = zero;
	for (int i = 0; i < n; i++) {
		wx[i] = wt[i] * xt[i]; /* ggml's w x, formed once */
		const vf ax = qnt__abs_vnf(xt[i]);
		const vi m = ax > amax;
		amax = qnt__select_vnf(m, ax, amax);
		max = qnt__select_vnf(m, xt[i], max);
		fin += xt[i] * 0.0f; /* NaN in a lane with a value that is not finite */
	}
	const vi tiny = amax < qnt__splat_vnf(GROUP_MAX_EPS);
	/* with every x finite the codes are clamped and rounded as floats
	 * (qnt__ggml_fit_sym's argument) */
	const int level = HAVE_LEVEL && lane_mask(fin == zero) == (1u << W) - 1;
	/* ggml's order: is = 0 (the first guess), then -9..-1, 1..9 */
	static const float sis[19] = { 0, -9, -8, -7, -6, -5, -4, -3, -2, -1, 1, 2, 3, 4, 5, 6, 7, 8, 9 };
	vf scale = zero, best = zero, chosen = zero;
	/* the candidates' inverse scales, all divided first, so that no
	 * candidate's sums wait for a division */
	vf iscs[19];
	for (int c = 0; c < 19; c++)
		iscs[c] = -((float)nmax + 0.1f * sis[c]) / max;
	for (int c = 0; c < 19; c++) {
		const vf isc = iscs[c];
		vf lx = zero, l2 = zero;
		if (level) {
#if HAVE_LEVEL
#pragma GCC unroll 32
			for (int i = 0; i < n; i++) {
				const vf fl = sym_level_vf(isc * xt[i], (float)nmax);
				lx += wx[i] * fl;
				l2 += wt[i] * fl * fl;
			}
#endif
		} else {
			for (int i = 0; i < n; i++) {
				const vf fl = __builtin_convertvector(
					qnt__clamp_vni(qnt__nearest_vni(isc * xt[i]), -nmax, nmax - 1), vf);
				lx += wx[i] * fl;
				l2 += wt[i] * fl * fl;
			}
		}
		if (c == 0) {
			scale = qnt__select_vnf(l2 != zero, lx / l2, zero);
			best = scale * lx;
			chosen = isc;
		} else {
			const vi take = (l2 > zero) & (lx * lx > best * l2);
			const vf sc = lx / l2;
			scale = qnt__select_vnf(take, sc, scale);
			best = qnt__select_vnf(take, sc * lx, best);
			chosen = qnt__select_vnf(take, isc, chosen);
		}
	}
	for (int k = 0; k < W; k++) {
		int8_t *Lk = L + n * k;
		if (tiny[k]) {
			memset(Lk, 0, (size_t)n);
			scales[k] = 0.0f;
			continue;
		}
		for (int i = 0; i < n; i += 8) {
			qnt__v8f xv;
			memcpy(&xv, x + n * k + i, sizeof xv);
			const qnt__v8c cq =
				qnt__narrow_v8i(qnt__clamp8_v8i(qnt__nearest_int_v8(chosen[k] * xv), -nmax, nmax - 1) + nmax);
			memcpy(Lk + i, &cq, sizeof cq);
		}
		scales[k] = scale[k];
	}
}

void qnt__ggml_fit_sym_subs(int count, int n, int nmax, const float *x, int8_t *L, const float *qw, float *scales)
{
	for (int j = 0; j < count; j += W) {
		const int o = n * j;
		const float *w = qw ? qw + o : NULL;
		if (n == 16)
			fit_sym_lanes(16, nmax, x + o, L + o, w, scales + j);
		else
			fit_sym_lanes(32, nmax, x + o, L + o, w, scales + j);
	}
}
