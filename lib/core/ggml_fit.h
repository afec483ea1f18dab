/* SPDX-License-Identifier: MIT */
#ifndef QNT_GGML_FIT_H
#define QNT_GGML_FIT_H

#include <stdint.h>

/* Scale and min of n values for codes 0..nmax, weighted: ggml's
 * make_qkx2_quants / make_qkx3_quants. Returns the scale; *the_min receives
 * the negated min. L receives the n codes; n <= 32. */
float qnt__ggml_fit_affine(int n, int nmax, const float *x, const float *weights, uint8_t *L, float *the_min,
			   float rmin, float rdelta, int nstep, int use_mad);

/* qnt__ggml_fit_affine for `count` consecutive sub-blocks of n values
 * (x + n j, weights + n j, L + n j; scales[j] and the_mins[j] as the
 * function's result and *the_min), the same results for each; n 16 or 32,
 * count a multiple of 8. */
void qnt__ggml_fit_affine_subs(int count, int n, int nmax, const float *x, const float *weights, uint8_t *L,
			       float *scales, float *the_mins, float rmin, float rdelta, int nstep, int use_mad);

/* Symmetric scale for codes -nmax..nmax-1, stored biased by nmax in L,
 * weighted by qw (x^2 when NULL): ggml's make_qx_quants with rmse_type 1.
 * n <= 32. */
float qnt__ggml_fit_sym(int n, int nmax, const float *x, int8_t *L, const float *qw);

/* qnt__ggml_fit_sym for `count` consecutive sub-blocks of n values (x + n j,
 * L + n j, qw + n j unless qw is NULL; scales[j] the function's result),
 * the same results for each; n 16 or 32, count a multiple of 8. */
void qnt__ggml_fit_sym_subs(int count, int n, int nmax, const float *x, int8_t *L, const float *qw, float *scales);

#endif
