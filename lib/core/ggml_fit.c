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

/* Scale and min of n values for codes 0..nmax, weighted; a scan of nstep+1
 * scales with a least-squares refit each (ggml's make_qkx2_quants, which is
 * also its make_qkx3_quants when weights are given). Returns the scale and
 * the negated min in *the_min.
 *
 * ggml tries the scales one after the other, and each candidate's codes
 * depend on the min of the best candidate so far. Here FIT_AFFINE_LANES
 * candidates are evaluated at once for the current min (lane by lane the
 * same floats as ggml's loop), then taken in ggml's order; when one is
 * accepted with a different min, the candidates after it are evaluated
 * again for the new min. n <= 32. */
#define FIT_AFFINE_LANES 4

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
	if (min > 0)
		min = 0;
	if (max == min) {
		memset(L, 0, (size_t)n);
		*the_min = -min;
		return 0.0f;
	}
	float iscale = (float)nmax / (max - min);
	float scale = 1 / iscale;
	float best_error = 0;
	for (int i = 0; i < n; i++) {
		int l = qnt__nearest_int(iscale * (x[i] - min));
		L[i] = (uint8_t)qnt__clampi(l, 0, nmax);
		float diff = scale * (float)L[i] + min - x[i];
		diff = use_mad ? fabsf(diff) : diff * diff;
		best_error += weights[i] * diff;
	}
	if (nstep < 1) {
		*the_min = -min;
		return scale;
	}
	enum { NV = FIT_AFFINE_LANES / 4 };
	const qnt__v4i signbit = { INT32_MIN, INT32_MIN, INT32_MIN, INT32_MIN };
	float code_iscale = 0, code_min = 0; /* the accepted candidate's codes */
	int accepted = 0;
	for (int is0 = 0; is0 <= nstep;) {
		const float cmin = min, range = max - min;
		qnt__v4f isc[NV], sl[NV], sl2[NV], sxl[NV];
		for (int v = 0; v < NV; v++) {
			for (int k = 0; k < 4; k++)
				isc[v][k] = (rmin + rdelta * (float)(is0 + 4 * v + k) + (float)nmax) / range;
			sl[v] = sl2[v] = sxl[v] = (qnt__v4f){ 0, 0, 0, 0 };
		}
		qnt__v4f fls[32][NV]; /* the codes, as floats, for the second pass */
		for (int i = 0; i < n; i++) {
			const float xm = x[i] - cmin, w = weights[i], xi = x[i];
			for (int v = 0; v < NV; v++) {
				const qnt__v4i l = qnt__clamp_v4i(qnt__nearest_int_v4(isc[v] * xm), 0, nmax);
				const qnt__v4f fl = __builtin_convertvector(l, qnt__v4f);
				fls[i][v] = fl;
				sl[v] += w * fl;
				sl2[v] += w * fl * fl;
				sxl[v] += w * fl * xi;
			}
		}
		qnt__v4f tsc[NV], tmn[NV], err[NV];
		qnt__v4i ok[NV];
		for (int v = 0; v < NV; v++) {
			const qnt__v4f D = sum_w * sl2[v] - sl[v] * sl[v];
			ok[v] = D > (qnt__v4f){ 0, 0, 0, 0 };
			qnt__v4f s = (sum_w * sxl[v] - sum_x * sl[v]) / D;
			qnt__v4f m = (sl2[v] * sum_x - sl[v] * sxl[v]) / D;
			const qnt__v4i pos = m > (qnt__v4f){ 0, 0, 0, 0 };
			m = qnt__select_v4f(pos, (qnt__v4f){ 0, 0, 0, 0 }, m);
			s = qnt__select_v4f(pos, sxl[v] / sl2[v], s);
			tsc[v] = s;
			tmn[v] = m;
			err[v] = (qnt__v4f){ 0, 0, 0, 0 };
		}
		for (int i = 0; i < n; i++) {
			const float w = weights[i], xi = x[i];
			for (int v = 0; v < NV; v++) {
				qnt__v4f diff = tsc[v] * fls[i][v] + tmn[v] - xi;
				if (use_mad) {
					qnt__v4i bits;
					memcpy(&bits, &diff, sizeof bits);
					bits &= ~signbit;
					memcpy(&diff, &bits, sizeof diff);
				} else {
					diff = diff * diff;
				}
				err[v] += w * diff;
			}
		}
		int next = is0 + FIT_AFFINE_LANES;
		for (int k = 0; k < FIT_AFFINE_LANES && is0 + k <= nstep; k++) {
			const int v = k / 4, u = k % 4;
			if (ok[v][u] && err[v][u] < best_error) {
				best_error = err[v][u];
				scale = tsc[v][u];
				min = tmn[v][u];
				code_iscale = isc[v][u];
				code_min = cmin;
				accepted = 1;
				if (min != cmin) { /* the later candidates depend on the new min */
					next = is0 + k + 1;
					break;
				}
			}
		}
		is0 = next;
	}
	if (accepted)
		for (int i = 0; i < n; i++)
			L[i] = (uint8_t)qnt__clampi(qnt__nearest_int(code_iscale * (x[i] - code_min)), 0, nmax);
	*the_min = -min;
	return scale;
}

/* Symmetric scale for codes -nmax..nmax-1 (stored biased by nmax), weights
 * qw or x^2: ggml's make_qx_quants with rmse_type 1. ggml scans the inverse
 * scales -(nmax + 0.1 * is) / max, is = 0 then -9..9, one at a time; here
 * the 19 candidates are the lanes of the inner loop (each lane sums its
 * elements in ggml's order, so every sum is ggml's to the bit), and the
 * choice is then made in ggml's order. */
#define FIT_SYM_LANES 20 /* the 19 candidates, padded to a multiple of 4 */

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
	/* lane 0: is = 0, the first guess; lanes 1..18: is = -9..-1, 1..9; lane
	 * 19 repeats lane 0 and is never chosen */
	float isc[FIT_SYM_LANES], sumlx[FIT_SYM_LANES], suml2[FIT_SYM_LANES];
	isc[0] = (float)-nmax / max;
	for (int k = 1, is = -9; is <= 9; is++) {
		if (is != 0)
			isc[k++] = -((float)nmax + 0.1f * (float)is) / max;
	}
	isc[FIT_SYM_LANES - 1] = isc[0];
	/* four lanes per vector (qnt_lanes.h: the same floats as scalar code) */
	qnt__v4f visc[FIT_SYM_LANES / 4], vlx[FIT_SYM_LANES / 4], vl2[FIT_SYM_LANES / 4];
	memcpy(visc, isc, sizeof visc);
	for (int b = 0; b < FIT_SYM_LANES / 4; b++)
		vlx[b] = vl2[b] = (qnt__v4f){ 0, 0, 0, 0 };
	for (int i = 0; i < n; i++) {
		const float xi = x[i];
		const float w = qw ? qw[i] : xi * xi;
		const float wx = w * xi;
		for (int b = 0; b < FIT_SYM_LANES / 4; b++) {
			const qnt__v4i l = qnt__clamp_v4i(qnt__nearest_int_v4(visc[b] * xi), -nmax, nmax - 1);
			const qnt__v4f fl = __builtin_convertvector(l, qnt__v4f);
			vlx[b] += wx * fl;
			vl2[b] += w * fl * fl;
		}
	}
	memcpy(sumlx, vlx, sizeof vlx);
	memcpy(suml2, vl2, sizeof vl2);
	float scale = suml2[0] != 0.0f ? sumlx[0] / suml2[0] : 0.0f;
	float best = scale * sumlx[0];
	int chosen = 0;
	for (int k = 1; k < FIT_SYM_LANES - 1; k++) {
		if (suml2[k] > 0 && sumlx[k] * sumlx[k] > best * suml2[k]) {
			scale = sumlx[k] / suml2[k];
			best = scale * sumlx[k];
			chosen = k;
		}
	}
	for (int i = 0; i < n; i++)
		L[i] = (int8_t)(nmax + qnt__clampi(qnt__nearest_int(isc[chosen] * x[i]), -nmax, nmax - 1));
	return scale;
}
