/* SPDX-License-Identifier: MIT */
/*
 * Prepared matrices (qnt_matrix_prepare, qnt_matmul_prepared):
 *   - argument checks, their statuses and messages; freeing NULL;
 *   - q4_0, q8_0, iq4_nl, mxfp4, nvfp4, q2_K, q4_K, q5_K, q6_K, iq4_xs, tq2_0 (cpu-avx2's
 *     interleaved layout where it runs, and cpu-avx512's) and q4_1 (kept plain) against the exact product of
 *     the dequantized W with the float x, within 1e-2 (the q8_K ones 1.5e-2: test_matmul.c's
 *     tolerances) of the product of the magnitudes (normwise: a
 *     product of one block may cancel to nearly 0), for odd
 *     shapes: n_out not a multiple of the eight interleaved rows, n_in of
 *     one block and of many, 1..17 columns, random weight bytes (finite
 *     scales); and against qnt_matmul on the same backend (1e-5, the same
 *     measure);
 *   - the handle owns its copy (w overwritten after prepare);
 *   - the same floats for 1, 2, 3 and 7 threads;
 *   - cpu-avx512 the same floats as cpu-avx2 (its VPDPBUSD/VPDPWSSD sums
 *     are cpu-avx2's integers, scaled exactly; the float steps the same),
 *     for gaussian x and for x all 1 or all -1 (activation codes 127 and
 *     -127/-128 in every block), where both run;
 *   - a matrix in cpu-avx2's layout on a "cpu" context: a clear error; a
 *     plain one works there.
 */
#include "test_backend.h"


/* The backends to check: "cpu", and "cpu-avx2" and "cpu-avx512" (the same
 * layouts, its own kernels) where they run. */
#define MAX_BACKENDS 3
static int backends(const char **names)
{
	int n = 0;
	names[n++] = "cpu";
	if (backend_usable("cpu-avx2"))
		names[n++] = "cpu-avx2";
	else
		print_message("# cpu-avx2 does not run here: checking the plain layout only\n");
	if (backend_usable("cpu-avx512"))
		names[n++] = "cpu-avx512";
	return n;
}

/* ---- argument checks ---- */

static void errors(void **state)
{
	(void)state;
	qnt_ctx *ctx = ctx_on("cpu", 1);
	unsigned char w[2 * 18 * 2] = { 0 };
	float x[64] = { 0 }, y[8];
	qnt_matrix *m = (qnt_matrix *)(uintptr_t)1;

	assert_int_equal(qnt_matrix_prepare(ctx, 12345, w, 2, 64, &m), QNT_E_UNKNOWN_TYPE);
	assert_null(m);
	assert_contains(qnt_ctx_last_error(ctx), "qnt_matrix_prepare: unknown type id 12345");
	assert_int_equal(qnt_matrix_prepare(ctx, QNT_TYPE_Q4_0, NULL, 2, 64, &m), QNT_E_INVALID_ARG);
	assert_contains(qnt_ctx_last_error(ctx), "qnt_matrix_prepare(q4_0): w is NULL");
	assert_int_equal(qnt_matrix_prepare(ctx, QNT_TYPE_Q4_0, w, 2, 64, NULL), QNT_E_INVALID_ARG);
	assert_contains(qnt_ctx_last_error(ctx), "out is NULL");
	assert_int_equal(qnt_matrix_prepare(ctx, QNT_TYPE_Q4_0, w, -1, 64, &m), QNT_E_INVALID_ARG);
	assert_contains(qnt_ctx_last_error(ctx), "n_out is negative (-1)");
	assert_int_equal(qnt_matrix_prepare(ctx, QNT_TYPE_Q4_0, w, 2, -32, &m), QNT_E_INVALID_ARG);
	assert_contains(qnt_ctx_last_error(ctx), "n_in is negative (-32)");
	assert_int_equal(qnt_matrix_prepare(ctx, QNT_TYPE_Q4_0, w, 2, 48, &m), QNT_E_BAD_SHAPE);
	assert_contains(qnt_ctx_last_error(ctx), "n_in 48 is not a positive multiple of the block size 32");
	assert_int_equal(qnt_matrix_prepare(ctx, QNT_TYPE_Q4_0, w, 2, 0, &m), QNT_E_BAD_SHAPE);
	assert_int_equal(qnt_matrix_prepare(ctx, QNT_TYPE_Q4_0, w, INT64_MAX / 2, 64, &m), QNT_E_BAD_SHAPE);
	assert_contains(qnt_ctx_last_error(ctx), "overflow");
	assert_null(m);
	/* a registered format without a product, where there is one */
	for (int32_t k = 0; k < qnt_type_count(); k++) {
		qnt_type_info info = QNT_TYPE_INFO_INIT;
		assert_int_equal(qnt_type_get_info(qnt_type_at(k), &info), QNT_OK);
		if (info.flags & QNT_TYPE_FLAG_DEQUANTIZE)
			continue;
		assert_int_equal(qnt_matrix_prepare(ctx, qnt_type_at(k), w, 1, qnt_type_block_size(qnt_type_at(k)), &m),
				 QNT_E_UNSUPPORTED);
		assert_contains(qnt_ctx_last_error(ctx), "no matrix product");
		break;
	}

	assert_int_equal(qnt_matmul_prepared(ctx, NULL, x, 1, y), QNT_E_INVALID_ARG);
	assert_contains(qnt_ctx_last_error(ctx), "qnt_matmul_prepared: m is NULL");
	assert_int_equal(qnt_matrix_prepare(ctx, QNT_TYPE_Q4_0, w, 2, 64, &m), QNT_OK);
	assert_string_equal(qnt_matrix_layout(m), "plain");
	assert_int_equal(qnt_matmul_prepared(ctx, m, NULL, 1, y), QNT_E_INVALID_ARG);
	assert_contains(qnt_ctx_last_error(ctx), "x is NULL");
	assert_int_equal(qnt_matmul_prepared(ctx, m, x, 1, NULL), QNT_E_INVALID_ARG);
	assert_contains(qnt_ctx_last_error(ctx), "y is NULL");
	assert_int_equal(qnt_matmul_prepared(ctx, m, x, -3, y), QNT_E_INVALID_ARG);
	assert_contains(qnt_ctx_last_error(ctx), "n_cols is negative (-3)");
	assert_int_equal(qnt_matmul_prepared(ctx, m, x, INT64_MAX / 4, y), QNT_E_BAD_SHAPE);
	/* zero columns: y untouched */
	y[0] = 42.0f;
	assert_int_equal(qnt_matmul_prepared(ctx, m, x, 0, y), QNT_OK);
	assert_true(y[0] == 42.0f);
	/* all-zero weights: zeros, on the default context too */
	assert_int_equal(qnt_matmul_prepared(NULL, m, x, 1, y), QNT_OK);
	assert_true(y[0] == 0.0f && y[1] == 0.0f);
	qnt_matrix_free(m);

	/* no rows: a matrix all the same, and an empty product */
	assert_int_equal(qnt_matrix_prepare(ctx, QNT_TYPE_Q8_0, w, 0, 32, &m), QNT_OK);
	assert_int_equal(qnt_matmul_prepared(ctx, m, x, 1, y), QNT_OK);
	qnt_matrix_free(m);

	qnt_matrix_free(NULL);
	assert_null(qnt_matrix_layout(NULL));
	qnt_ctx_destroy(ctx);
}

/* ---- products ---- */

static const struct {
	int64_t n_out, n_in;
} shapes[] = {
	{ 1, 32 }, { 7, 32 }, { 8, 64 }, { 13, 96 }, { 5, 256 }, { 11, 768 }, { 37, 512 }, { 9, 4096 },
};
static const int64_t col_counts[] = { 1, 3, 5, 17 };
static const qnt_type wtypes[] = { QNT_TYPE_Q4_0, QNT_TYPE_Q8_0,   QNT_TYPE_IQ4_NL, QNT_TYPE_MXFP4,
				   QNT_TYPE_NVFP4, QNT_TYPE_Q2_K, QNT_TYPE_Q4_K,  QNT_TYPE_Q5_K,
				   QNT_TYPE_Q6_K, QNT_TYPE_IQ4_XS, QNT_TYPE_TQ2_0, QNT_TYPE_Q4_1 };

static void against_exact(void **state)
{
	(void)state;
	const char *names[MAX_BACKENDS];
	const int nbk = backends(names);
	for (int b = 0; b < nbk; b++) {
		qnt_ctx *ctx = ctx_on(names[b], 2);
		for (size_t ti = 0; ti < N_ELEMS(wtypes); ti++) {
			const qnt_type t = wtypes[ti];
			const int repacked = strcmp(names[b], "cpu") != 0 && t != QNT_TYPE_Q4_1;
			double worst = 0;
			/* q8_K or q8_0/q8_1 activations */
			const double tol = t == QNT_TYPE_Q2_K || t == QNT_TYPE_Q4_K || t == QNT_TYPE_Q5_K ||
						   t == QNT_TYPE_Q6_K || t == QNT_TYPE_IQ4_XS || t == QNT_TYPE_TQ2_0
						   ? 1.5e-2
						   : 1e-2;
			for (size_t si = 0; si < N_ELEMS(shapes); si++) {
				const int64_t n_out = shapes[si].n_out, n_in = shapes[si].n_in;
				if (n_in % qnt_type_block_size(t) != 0)
					continue;
				const size_t wbytes = (size_t)n_out * qnt_row_size(t, n_in);
				unsigned char *w = random_weights(t, n_out, n_in, 100 * si + ti);
				unsigned char *wcopy = test_malloc_or_fail(wbytes);
				memcpy(wcopy, w, wbytes);
				qnt_matrix *m = NULL;
				assert_int_equal(qnt_matrix_prepare(ctx, t, w, n_out, n_in, &m), QNT_OK);
				assert_string_equal(qnt_matrix_layout(m), repacked ? names[b] : "plain");
				memset(w, 0x77, wbytes); /* the handle owns its copy */
				for (size_t ci = 0; ci < N_ELEMS(col_counts); ci++) {
					const int64_t nc = col_counts[ci];
					float *x = test_malloc_or_fail((size_t)(nc * n_in) * sizeof(float));
					float *y = test_malloc_or_fail((size_t)(nc * n_out) * sizeof(float));
					float *yp = test_malloc_or_fail((size_t)(nc * n_out) * sizeof(float));
					fill_gauss(x, (size_t)(nc * n_in), 7 + (uint64_t)ci);
					double *mag = NULL;
					double *ye = exact_product(t, wcopy, n_out, n_in, x, nc, &mag);
					memset(y, 0xff, (size_t)(nc * n_out) * sizeof(float));
					assert_int_equal(qnt_matmul_prepared(ctx, m, x, nc, y), QNT_OK);
					const double err = rel_err_mag(y, ye, NULL, mag, (size_t)(nc * n_out));
					if (!(err <= tol))
						fail_msg("%s on %s, %lld x %lld, %lld columns: error %.3e > %.1e",
							 qnt_type_name(t), names[b], (long long)n_out, (long long)n_in,
							 (long long)nc, err, tol);
					worst = err > worst ? err : worst;
					/* next to the plain-layout call on the same backend */
					assert_int_equal(qnt_matmul(ctx, t, wcopy, n_out, n_in, x, nc, yp), QNT_OK);
					double d = 0, s = 0;
					for (int64_t i = 0; i < nc * n_out; i++) {
						d += ((double)y[i] - yp[i]) * ((double)y[i] - yp[i]);
						s += mag[i] * mag[i];
					}
					if (!(sqrt(d) <= 1e-5 * sqrt(s)))
						fail_msg("%s on %s, %lld x %lld, %lld columns: %.3e from qnt_matmul",
							 qnt_type_name(t), names[b], (long long)n_out, (long long)n_in,
							 (long long)nc, sqrt(d / s));
					free(ye);
					free(mag);
					free(x);
					free(y);
					free(yp);
				}
				qnt_matrix_free(m);
				free(w);
				free(wcopy);
			}
			print_message("# %-8s %-9s layout %-8s worst %.2e (tol %.1e)\n", qnt_type_name(t), names[b],
				      repacked ? names[b] : "plain", worst, tol);
		}
		qnt_ctx_destroy(ctx);
	}
}

/* W (n_out x n_in of t, with special scales) prepared on every backend
 * against nc Gaussian columns: within 1e-2 of the exact product (scaled by
 * the magnitudes, as in against_exact) and within 1e-5 of qnt_matmul on the
 * same backend (the same activations: this one sees a wrong small scale,
 * which the exact product's tolerance hides). */
static void special_scales(qnt_type t, const unsigned char *w, int64_t n_out, int64_t n_in, int64_t nc,
			   const char *what)
{
	const char *names[MAX_BACKENDS];
	const int nbk = backends(names);
	float *x = test_malloc_or_fail((size_t)(nc * n_in) * sizeof(float));
	float *y = test_malloc_or_fail((size_t)(nc * n_out) * sizeof(float));
	float *yp = test_malloc_or_fail((size_t)(nc * n_out) * sizeof(float));
	fill_gauss(x, (size_t)(nc * n_in), 92);
	double *mag = NULL;
	double *ye = exact_product(t, w, n_out, n_in, x, nc, &mag);
	for (int b = 0; b < nbk; b++) {
		qnt_ctx *ctx = ctx_on(names[b], 1);
		qnt_matrix *m = NULL;
		assert_int_equal(qnt_matrix_prepare(ctx, t, w, n_out, n_in, &m), QNT_OK);
		assert_int_equal(qnt_matmul_prepared(ctx, m, x, nc, y), QNT_OK);
		assert_int_equal(qnt_matmul(ctx, t, w, n_out, n_in, x, nc, yp), QNT_OK);
		const double err = rel_err_mag(y, ye, NULL, mag, (size_t)(nc * n_out));
		const double ep = rel_err_mag(y, NULL, yp, mag, (size_t)(nc * n_out));
		print_message("# %s %s on %s (%s): error %.2e, %.2e from qnt_matmul\n", qnt_type_name(t), what,
			      names[b], qnt_matrix_layout(m), err, ep);
		if (!(err <= 1e-2) || !(ep <= 1e-5))
			fail_msg("%s %s on %s: error %.3e (tol 1e-2), %.3e from qnt_matmul (tol 1e-5)", qnt_type_name(t),
				 what, names[b], err, ep);
		qnt_matrix_free(m);
		qnt_ctx_destroy(ctx);
	}
	free(ye);
	free(mag);
	free(x);
	free(y);
	free(yp);
}

/* mxfp4 with only the subnormal scales (e 0 and 1, 2^-129 and 2^-128 as
 * halves): the products stay normal floats, so the normwise error sees
 * them (in against_exact they are lost next to the other blocks). */
static void mxfp4_subnormal(void **state)
{
	(void)state;
	const int64_t n_out = 13, n_in = 96;
	unsigned char *w = random_weights(QNT_TYPE_MXFP4, n_out, n_in, 77);
	for (int64_t b = 0; b < n_out * n_in / 32; b++)
		w[b * 17] = (unsigned char)(b % 2);
	special_scales(QNT_TYPE_MXFP4, w, n_out, n_in, 5, "subnormal scales");
	free(w);
}

/* nvfp4 with every kind of UE4M3 scale byte: the subnormals m 2^-9 (e 0),
 * 0x7f (read as 0), and bit 7 set (ignored), cycling through the blocks'
 * four scales. */
static void nvfp4_scales(void **state)
{
	(void)state;
	const int64_t n_out = 11, n_in = 192;
	/* small normals only next to the subnormals, so that an error in them is not lost */
	static const unsigned char sc[] = { 0x00, 0x01, 0x05, 0x07, 0x7f, 0x80, 0x87, 0x81, 0x08, 0x0f, 0x8c };
	unsigned char *w = random_weights(QNT_TYPE_NVFP4, n_out, n_in, 91);
	for (int64_t b = 0; b < n_out * n_in / 64; b++)
		for (int k = 0; k < 4; k++)
			w[b * 36 + k] = sc[(4 * b + k) % sizeof sc];
	special_scales(QNT_TYPE_NVFP4, w, n_out, n_in, 3, "special scales");
	free(w);
}

#define TH_OUT 61
#define TH_IN 256

static void threads_identical(void **state)
{
	(void)state;
	const char *names[MAX_BACKENDS];
	const int nbk = backends(names);
	const int32_t threads[] = { 1, 2, 3, 7 };
	const int64_t cols[] = { 1, 6 };
	float *x = test_malloc_or_fail(6 * TH_IN * sizeof(float));
	float *y0 = test_malloc_or_fail(6 * TH_OUT * sizeof(float));
	float *y1 = test_malloc_or_fail(6 * TH_OUT * sizeof(float));
	fill_gauss(x, 6 * TH_IN, 5);
	for (int b = 0; b < nbk; b++) {
		qnt_ctx *ctx[N_ELEMS(threads)];
		for (size_t k = 0; k < N_ELEMS(threads); k++)
			ctx[k] = ctx_on(names[b], threads[k]);
		for (size_t ti = 0; ti < N_ELEMS(wtypes); ti++) {
			void *w = random_weights(wtypes[ti], TH_OUT, TH_IN, 300 + ti);
			qnt_matrix *m = NULL;
			/* prepared on one context, used on all of the same backend */
			assert_int_equal(qnt_matrix_prepare(ctx[1], wtypes[ti], w, TH_OUT, TH_IN, &m), QNT_OK);
			for (size_t ci = 0; ci < N_ELEMS(cols); ci++) {
				const int64_t nc = cols[ci];
				assert_int_equal(qnt_matmul_prepared(ctx[0], m, x, nc, y0), QNT_OK);
				for (size_t k = 1; k < N_ELEMS(threads); k++) {
					memset(y1, 0xff, (size_t)(nc * TH_OUT) * sizeof(float));
					assert_int_equal(qnt_matmul_prepared(ctx[k], m, x, nc, y1), QNT_OK);
					if (memcmp(y0, y1, (size_t)(nc * TH_OUT) * sizeof(float)) != 0)
						fail_msg("%s on %s, %lld columns: %d threads differ from 1",
							 qnt_type_name(wtypes[ti]), names[b], (long long)nc,
							 (int)threads[k]);
				}
			}
			qnt_matrix_free(m);
			free(w);
		}
		for (size_t k = 0; k < N_ELEMS(threads); k++)
			qnt_ctx_destroy(ctx[k]);
	}
	free(x);
	free(y0);
	free(y1);
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
	for (size_t ti = 0; ti < N_ELEMS(wtypes); ti++) {
		const qnt_type t = wtypes[ti];
		for (size_t si = 0; si < N_ELEMS(shapes); si++) {
			const int64_t n_out = shapes[si].n_out, n_in = shapes[si].n_in;
			if (n_in % qnt_type_block_size(t) != 0)
				continue;
			prepared_as_avx2(a2, a5, t, n_out, n_in, 500 + 10 * si + ti);
		}
	}
	qnt_ctx_destroy(a2);
	qnt_ctx_destroy(a5);
}

static void other_backend(void **state)
{
	(void)state;
	if (!backend_usable("cpu-avx2")) { /* cmocka's skip() reads as "not ok" in TAP */
		print_message("# cpu-avx2 does not run here\n");
		return;
	}
	qnt_ctx *avx2 = ctx_on("cpu-avx2", 1), *cpu = ctx_on("cpu", 1);
	void *w = random_weights(QNT_TYPE_Q4_0, 9, 64, 11);
	float x[64], y[9];
	fill_gauss(x, 64, 12);
	qnt_matrix *m = NULL;
	assert_int_equal(qnt_matrix_prepare(avx2, QNT_TYPE_Q4_0, w, 9, 64, &m), QNT_OK);
	assert_string_equal(qnt_matrix_layout(m), "cpu-avx2");
	assert_int_equal(qnt_matmul_prepared(cpu, m, x, 1, y), QNT_E_INVALID_ARG);
	assert_contains(qnt_ctx_last_error(cpu),
			"the matrix is in the layout of backend 'cpu-avx2', the context runs 'cpu'");
	/* the matrix outlives the context that prepared it */
	qnt_ctx_destroy(avx2);
	avx2 = ctx_on("cpu-avx2", 1);
	assert_int_equal(qnt_matmul_prepared(avx2, m, x, 1, y), QNT_OK);
	if (backend_usable("cpu-avx512")) { /* the same layout, but another backend's */
		qnt_ctx *avx512 = ctx_on("cpu-avx512", 1);
		assert_int_equal(qnt_matmul_prepared(avx512, m, x, 1, y), QNT_E_INVALID_ARG);
		assert_contains(qnt_ctx_last_error(avx512),
				"the matrix is in the layout of backend 'cpu-avx2', the context runs 'cpu-avx512'");
		qnt_ctx_destroy(avx512);
	}
	qnt_matrix_free(m);
	/* a plain matrix works on any backend */
	assert_int_equal(qnt_matrix_prepare(cpu, QNT_TYPE_Q4_0, w, 9, 64, &m), QNT_OK);
	assert_string_equal(qnt_matrix_layout(m), "plain");
	assert_int_equal(qnt_matmul_prepared(avx2, m, x, 1, y), QNT_OK);
	qnt_matrix_free(m);
	free(w);
	qnt_ctx_destroy(avx2);
	qnt_ctx_destroy(cpu);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(errors),
		cmocka_unit_test(against_exact),
		cmocka_unit_test(mxfp4_subnormal),
		cmocka_unit_test(nvfp4_scales),
		cmocka_unit_test(threads_identical),
		cmocka_unit_test(avx512_as_avx2),
		cmocka_unit_test(other_backend),
	};
	return cmocka_run_group_tests_name("matrix", tests, NULL, NULL);
}
