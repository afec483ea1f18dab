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
 * the negated min in *the_min. */
float qnt__ggml_fit_affine(int n, int nmax, const float *x, const float *weights, uint8_t *L, float *the_min,
			     uint8_t *Laux, float rmin, float rdelta, int nstep, int use_mad)
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
	for (int is = 0; is <= nstep; is++) {
		iscale = (rmin + rdelta * (float)is + (float)nmax) / (max - min);
		float sum_l = 0, sum_l2 = 0, sum_xl = 0;
		for (int i = 0; i < n; i++) {
			int l = qnt__clampi(qnt__nearest_int(iscale * (x[i] - min)), 0, nmax);
			Laux[i] = (uint8_t)l;
			float w = weights[i];
			sum_l += w * (float)l;
			sum_l2 += w * (float)l * (float)l;
			sum_xl += w * (float)l * x[i];
		}
		float D = sum_w * sum_l2 - sum_l * sum_l;
		if (D > 0) {
			float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D;
			float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
			if (this_min > 0) {
				this_min = 0;
				this_scale = sum_xl / sum_l2;
			}
			float cur_error = 0;
			for (int i = 0; i < n; i++) {
				float diff = this_scale * (float)Laux[i] + this_min - x[i];
				diff = use_mad ? fabsf(diff) : diff * diff;
				cur_error += weights[i] * diff;
			}
			if (cur_error < best_error) {
				memcpy(L, Laux, (size_t)n);
				best_error = cur_error;
				scale = this_scale;
				min = this_min;
			}
		}
	}
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
