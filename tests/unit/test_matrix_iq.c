/* SPDX-License-Identifier: MIT */
/*
 * Prepared matrices of the lattice i-quants (iq2_xxs iq2_xs iq2_s iq3_xxs
 * iq3_s iq1_s iq1_m), q3_K and tq1_0, cpu-avx2's layouts of 3-bit and 4-bit
 * codes (backends/cpu/avx2_repack_iq.c; the 2-bit layouts of iq1_s, iq1_m
 * and tq1_0 are avx2_repack.c's),
 * and cpu-avx512's (the same file built with AVX-512):
 *   - against the scalar reference (qnt_matmul on the "cpu" backend, the
 *     same q8_K activations: only float rounding between them, 1e-5 of the
 *     product of the magnitudes, normwise), against the plain cpu-avx2
 *     kernel (the same measure) and against the exact product of the
 *     dequantized W with the float x (1.5e-2, test_matmul.c's q8_K
 *     tolerance), for odd shapes: n_out not a multiple of the eight
 *     interleaved rows, one super-block and many, 1, 3, 5 and 17 columns,
 *     random weight bytes (every grid index is valid) with finite scales;
 *   - the handle owns its copy (w overwritten after prepare);
 *   - the same floats for 1, 2, 3 and 7 threads;
 *   - cpu-avx512 the same floats as cpu-avx2 (its VPDPBUSD sums are
 *     cpu-avx2's integers, scaled exactly), for gaussian x and x all 1 or
 *     all -1, where both run.
 * Where neither runs there is nothing to check (a message says so).
 */
#include "test_backend.h"

static const qnt_type iq_types[] = { QNT_TYPE_IQ2_XXS, QNT_TYPE_IQ2_XS, QNT_TYPE_IQ2_S, QNT_TYPE_IQ3_XXS,
				     QNT_TYPE_IQ3_S,   QNT_TYPE_IQ1_S,  QNT_TYPE_IQ1_M, QNT_TYPE_Q3_K,
				     QNT_TYPE_TQ1_0 };

static const struct {
	int64_t n_out, n_in;
} shapes[] = {
	{ 1, 256 }, { 7, 256 }, { 8, 512 }, { 13, 768 }, { 37, 256 }, { 9, 4096 }, { 17, 1024 },
};
static const int64_t col_counts[] = { 1, 3, 5, 17 };

#define EXACT_TOL 1.5e-2 /* q8_K activations (test_matmul.c) */
#define SAME_TOL 1e-5    /* the same activation bytes: float rounding only */

static void against_reference(const char *backend)
{
	if (!backend_usable(backend)) { /* cmocka's skip() reads as "not ok" in TAP */
		print_message("# %s does not run here: nothing to check\n", backend);
		return;
	}
	qnt_ctx *avx2 = ctx_on(backend, 2), *cpu = ctx_on("cpu", 2);
	for (size_t ti = 0; ti < N_ELEMS(iq_types); ti++) {
		const qnt_type t = iq_types[ti];
		double worst_exact = 0, worst_ref = 0, worst_plain = 0;
		for (size_t si = 0; si < N_ELEMS(shapes); si++) {
			const int64_t n_out = shapes[si].n_out, n_in = shapes[si].n_in;
			const size_t wbytes = (size_t)n_out * qnt_row_size(t, n_in);
			unsigned char *w = random_weights(t, n_out, n_in, 100 * si + ti);
			unsigned char *wcopy = test_malloc_or_fail(wbytes);
			memcpy(wcopy, w, wbytes);
			qnt_matrix *m = NULL;
			assert_int_equal(qnt_matrix_prepare(avx2, t, w, n_out, n_in, &m), QNT_OK);
			assert_string_equal(qnt_matrix_layout(m), backend);
			memset(w, 0x77, wbytes); /* the handle owns its copy */
			for (size_t ci = 0; ci < N_ELEMS(col_counts); ci++) {
				const int64_t nc = col_counts[ci];
				const size_t ny = (size_t)(nc * n_out);
				float *x = test_malloc_or_fail((size_t)(nc * n_in) * sizeof(float));
				float *y = test_malloc_or_fail(ny * sizeof(float));
				float *yr = test_malloc_or_fail(ny * sizeof(float));
				float *yp = test_malloc_or_fail(ny * sizeof(float));
				fill_gauss(x, (size_t)(nc * n_in), 7 + (uint64_t)ci);
				double *mag = NULL;
				double *ye = exact_product(t, wcopy, n_out, n_in, x, nc, &mag);
				memset(y, 0xff, ny * sizeof(float));
				assert_int_equal(qnt_matmul_prepared(avx2, m, x, nc, y), QNT_OK);
				assert_int_equal(qnt_matmul(cpu, t, wcopy, n_out, n_in, x, nc, yr), QNT_OK);
				assert_int_equal(qnt_matmul(avx2, t, wcopy, n_out, n_in, x, nc, yp), QNT_OK);
				const double ee = rel_err_mag(y, ye, NULL, mag, ny), er = rel_err_mag(y, NULL, yr, mag, ny),
					     ep = rel_err_mag(y, NULL, yp, mag, ny);
				if (!(ee <= EXACT_TOL) || !(er <= SAME_TOL) || !(ep <= SAME_TOL))
					fail_msg("%s on %s, %lld x %lld, %lld columns: error %.3e against the exact "
						 "product (tol %.1e), %.3e against cpu's qnt_matmul, %.3e against the "
						 "plain kernel's (tol %.1e)",
						 qnt_type_name(t), backend, (long long)n_out, (long long)n_in, (long long)nc,
						 ee, EXACT_TOL, er, ep, SAME_TOL);
				worst_exact = ee > worst_exact ? ee : worst_exact;
				worst_ref = er > worst_ref ? er : worst_ref;
				worst_plain = ep > worst_plain ? ep : worst_plain;
				free(ye);
				free(mag);
				free(x);
				free(y);
				free(yr);
				free(yp);
			}
			qnt_matrix_free(m);
			free(w);
			free(wcopy);
		}
		print_message("# %-8s %s worst: exact %.2e, cpu %.2e, plain %.2e\n", qnt_type_name(t), backend,
			      worst_exact, worst_ref, worst_plain);
	}
	qnt_ctx_destroy(avx2);
	qnt_ctx_destroy(cpu);
}

#define TH_OUT 61
#define TH_IN 512

static void threads_identical(const char *backend)
{
	if (!backend_usable(backend)) {
		print_message("# %s does not run here: nothing to check\n", backend);
		return;
	}
	const int32_t threads[] = { 1, 2, 3, 7 };
	const int64_t cols[] = { 1, 6 };
	float *x = test_malloc_or_fail(6 * TH_IN * sizeof(float));
	float *y0 = test_malloc_or_fail(6 * TH_OUT * sizeof(float));
	float *y1 = test_malloc_or_fail(6 * TH_OUT * sizeof(float));
	fill_gauss(x, 6 * TH_IN, 5);
	qnt_ctx *ctx[N_ELEMS(threads)];
	for (size_t k = 0; k < N_ELEMS(threads); k++)
		ctx[k] = ctx_on(backend, threads[k]);
	for (size_t ti = 0; ti < N_ELEMS(iq_types); ti++) {
		void *w = random_weights(iq_types[ti], TH_OUT, TH_IN, 300 + ti);
		qnt_matrix *m = NULL;
		/* prepared on one context, used on all */
		assert_int_equal(qnt_matrix_prepare(ctx[1], iq_types[ti], w, TH_OUT, TH_IN, &m), QNT_OK);
		assert_string_equal(qnt_matrix_layout(m), backend);
		for (size_t ci = 0; ci < N_ELEMS(cols); ci++) {
			const int64_t nc = cols[ci];
			assert_int_equal(qnt_matmul_prepared(ctx[0], m, x, nc, y0), QNT_OK);
			for (size_t k = 1; k < N_ELEMS(threads); k++) {
				memset(y1, 0xff, (size_t)(nc * TH_OUT) * sizeof(float));
				assert_int_equal(qnt_matmul_prepared(ctx[k], m, x, nc, y1), QNT_OK);
				if (memcmp(y0, y1, (size_t)(nc * TH_OUT) * sizeof(float)) != 0)
					fail_msg("%s on %s, %lld columns: %d threads differ from 1",
						 qnt_type_name(iq_types[ti]), backend, (long long)nc, (int)threads[k]);
			}
		}
		qnt_matrix_free(m);
		free(w);
	}
	for (size_t k = 0; k < N_ELEMS(threads); k++)
		qnt_ctx_destroy(ctx[k]);
	free(x);
	free(y0);
	free(y1);
}

/* cpu-avx512 is the same kernel files built with AVX-512: the same layout. */
static const char *const x86_variants[] = { "cpu-avx2", "cpu-avx512" };

static void x86_against_reference(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(x86_variants); i++)
		against_reference(x86_variants[i]);
}

static void x86_threads_identical(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(x86_variants); i++)
		threads_identical(x86_variants[i]);
}

/* cpu-avx512 against cpu-avx2, bit for bit (prepared_as_avx2, test_backend.h). */
static void avx512_as_avx2(void **state)
{
	(void)state;
	if (!backend_usable("cpu-avx2") || !backend_usable("cpu-avx512")) {
		print_message("# cpu-avx2 and cpu-avx512 do not both run here: nothing to compare\n");
		return;
	}
	qnt_ctx *a2 = ctx_on("cpu-avx2", 2), *a5 = ctx_on("cpu-avx512", 2);
	for (size_t ti = 0; ti < N_ELEMS(iq_types); ti++) {
		const qnt_type t = iq_types[ti];
		for (size_t si = 0; si < N_ELEMS(shapes); si++) {
			const int64_t n_out = shapes[si].n_out, n_in = shapes[si].n_in;
			prepared_as_avx2(a2, a5, t, n_out, n_in, 500 + 10 * si + ti);
		}
	}
	qnt_ctx_destroy(a2);
	qnt_ctx_destroy(a5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(x86_against_reference),
		cmocka_unit_test(x86_threads_identical),
		cmocka_unit_test(avx512_as_avx2),
	};
	return cmocka_run_group_tests_name("matrix_iq", tests, NULL, NULL);
}
