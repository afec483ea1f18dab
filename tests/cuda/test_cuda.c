/* SPDX-License-Identifier: MIT */
/*
 * Conformance of the "cuda" backend module against the scalar CPU reference
 * (the "cpu" backend), on a CUDA device:
 *   - dequantize: the floats of the reference bit for bit, on quantized
 *     Gaussian data and on random bytes (random scales included: a NaN must
 *     come back as a NaN, its payload may differ), odd row counts;
 *   - quantize: q8_0, q4_K and MLX affine bytes equal to the reference's,
 *     without and with importance weights (the latter through the
 *     reference), odd row counts;
 *   - matmul: every format against the exact product (double) of the
 *     dequantized W with x, within the per-format tolerance of
 *     tests/unit/test_matmul.c, for 1, 3, 7 columns (GEMV) and 8 to 129
 *     (GEMM, tensor cores), odd n_out, n_in up to 8192, x scaled by 1e6
 *     and 1e-7 (mm_shapes); the GEMV's fast path on rows of several steps
 *     (n_in 4096, 301 rows, and n_in 3072, 45 rows; 1, 2, 5 columns) and
 *     its fallback (n_in 80: the float formats and mlx:nvfp4); where the
 *     format has a companion, the GEMV quantizes x to the reference's codes,
 *     so its products are also within 1e-5 of the cpu reference's;
 *   - the vtable directly: device props, buffers (alloc, write, jobs on
 *     device memory, read), and errors: unsupported types and bad ranges
 *     give a status, an old host ABI no vtable.
 * Modes (argv[1]):
 *   (none)       the above; skips (77) with "no CUDA device: <reason>" when
 *                the backend scores 0 here, fails instead when
 *                QNT_REQUIRE_CUDA=1
 *   default-ctx  run with QNT_BACKEND=cuda: the default context is on cuda
 *                and qnt_quantize / qnt_dequantize / qnt_matmul run there
 *   no-device    run with no usable device (no driver, or
 *                CUDA_VISIBLE_DEVICES=-1): the module loads, scores 0 with
 *                a reason, and libqnt still works on the CPU
 * The module path is CUDA_MODULE (set by tests/cuda/meson.build).
 */
#include "test_backend.h"

#include "libqnt.h"
#include "libqnt_backend.h"


/* ggml formats by id, MLX ones by name (their ids are not fixed) */
static const char *const cu_type_names[] = {
	"f32",  "f16",  "bf16", "q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q2_K", "q3_K", "q4_K", "q5_K", "q6_K",
	"mxfp4", "nvfp4", "mlx:affine:4:64", "mlx:affine:3:32:f16", "mlx:affine:8:128:f32", "mlx:affine:2:64",
	"mlx:affine:5:32", "mlx:affine:6:128:f16", "mlx:mxfp4", "mlx:mxfp8:f16", "mlx:nvfp4:f32",
};

static const char *const quant_names[] = { "q8_0", "q4_K", "mlx:affine:4:64", "mlx:affine:3:32:f16",
					   "mlx:affine:8:128:f32", "mlx:affine:5:64", "mlx:affine:6:32:f16" };

static qnt_type type_named(const char *name)
{
	qnt_type t = qnt_type_by_name(name);
	if (t == QNT_TYPE_INVALID)
		fail_msg("unknown format %s", name);
	return t;
}

static void dequantize_bit_exact(void **state)
{
	(void)state;
	qnt_ctx *cu = ctx_on("cuda", 2), *cpu = ctx_on("cpu", 2);
	struct test_rng r;
	rng_seed(&r, 42);
	for (size_t k = 0; k < N_ELEMS(cu_type_names); k++) {
		const qnt_type t = type_named(cu_type_names[k]);
		const int64_t bs = qnt_type_block_size(t);
		const int64_t shapes[][2] = { { 1, bs }, { 7, 3 * bs }, { 13, 5 * bs }, { 3, 1024 } };
		for (size_t s = 0; s < N_ELEMS(shapes); s++) {
			const int64_t nrows = shapes[s][0], n = shapes[s][1] < bs ? bs : shapes[s][1];
			if (n % bs)
				continue;
			const size_t bytes = (size_t)nrows * qnt_row_size(t, n);
			float *x = test_malloc_or_fail((size_t)(nrows * n) * sizeof(float));
			fill_gauss(x, (size_t)(nrows * n), 7 + k * 31 + s);
			uint8_t *q = test_malloc_or_fail(bytes);
			assert_int_equal(qnt_quantize(cpu, t, x, q, nrows, n, NULL), QNT_OK);
			check_dequant(cu, cpu, t, q, nrows, n, "quantized data");
			for (size_t i = 0; i < bytes; i++)
				q[i] = (uint8_t)rng_next(&r);
			check_dequant(cu, cpu, t, q, nrows, n, "random bytes");
			free(x);
			free(q);
		}
		print_message("# dequantize %-20s bit-exact (quantized data and random bytes)\n", qnt_type_name(t));
	}
	qnt_ctx_destroy(cu);
	qnt_ctx_destroy(cpu);
}

/* ---- quantize ---- */

static void quantize_same_bytes(void **state)
{
	(void)state;
	qnt_ctx *cu = ctx_on("cuda", 2), *cpu = ctx_on("cpu", 2);
	for (size_t k = 0; k < N_ELEMS(quant_names); k++) {
		const qnt_type t = type_named(quant_names[k]);
		const int64_t n = 1024, nrows = 11;
		const size_t bytes = (size_t)nrows * qnt_row_size(t, n);
		float *x = test_malloc_or_fail((size_t)(nrows * n) * sizeof(float));
		float *imp = test_malloc_or_fail((size_t)n * sizeof(float));
		fill_gauss(x, (size_t)(nrows * n), 50 + k);
		for (int64_t i = 0; i < n; i++) /* rows at magnitudes 1e-6 .. 1e4, one of zeros */
			x[3 * n + i] = 0.0f;
		for (int64_t r = 4; r < nrows; r++)
			for (int64_t i = 0; i < n; i++)
				x[r * n + i] *= powf(10.0f, (float)(r - 8));
		fill_gauss(imp, (size_t)n, 60 + k);
		for (int64_t i = 0; i < n; i++)
			imp[i] = fabsf(imp[i]) + 0.1f;
		uint8_t *a = test_malloc_or_fail(bytes), *b = test_malloc_or_fail(bytes);
		for (int with_imp = 0; with_imp < 2; with_imp++) {
			const float *w = with_imp ? imp : NULL;
			memset(a, 0xa5, bytes);
			assert_int_equal(qnt_quantize(cu, t, x, a, nrows, n, w), QNT_OK);
			assert_int_equal(qnt_quantize(cpu, t, x, b, nrows, n, w), QNT_OK);
			for (size_t i = 0; i < bytes; i++)
				if (a[i] != b[i])
					fail_msg("%s%s: byte %zu (row %zu) is 0x%02x on cuda, 0x%02x in the reference",
						 qnt_type_name(t), w ? " with importance" : "", i,
						 i / qnt_row_size(t, n), a[i], b[i]);
		}
		print_message("# quantize %-20s same bytes (with and without importance)\n", qnt_type_name(t));
		free(x);
		free(imp);
		free(a);
		free(b);
	}
	qnt_ctx_destroy(cu);
	qnt_ctx_destroy(cpu);
}

/* ---- matmul ---- */

static int in_list(const char *name, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(name, *list) == 0)
			return 1;
	return 0;
}

/* The tolerances of tests/unit/test_matmul.c (normwise relative error). */
static double tolerance(qnt_type type)
{
	static const char *const q8[] = { "q4_0", "q5_0", "q8_0", "q4_1", "q5_1", "mxfp4", "nvfp4", NULL };
	static const char *const q8_K[] = { "q2_K", "q3_K", "q4_K", "q5_K", "q6_K", NULL };
	const char *name = qnt_type_name(type);
	if (in_list(name, q8))
		return 1e-2;
	if (in_list(name, q8_K))
		return 1.5e-2;
	return 1e-5;
}

/* The products the test measures: shape, column counts, and a factor on
 * x. 77 x 768 covers GEMV (1, 3, 7 columns) and the GEMM's small cases;
 * 300 x 4096 with 64 and 129 columns takes several 128 x 128 tiles of the
 * f16 GEMM, partial ones at both edges; x of 1e6 and of 1e-7 lie beyond
 * f16's range (unless scaled); 129 x 8192 has the longest rows; n_in 100
 * is not a multiple of the GEMM's k step (64) nor of 8. */
static const struct mm_shape {
	int64_t n_out, n_in, cols[6];
	float xscale;
} mm_shapes[] = {
	{ 77, 768, { 1, 3, 7, 8, 9, 40 }, 1.0f },
	{ 300, 4096, { 64, 129 }, 1.0f },
	{ 300, 4096, { 40 }, 1e6f },
	{ 129, 8192, { 9 }, 1e-7f },
	{ 37, 100, { 8, 33 }, 1.0f }, /* rows the f16 panels pad (f32, f16, bf16 only) */
};

/* Normwise relative error of y (nc columns of n_out) against the exact
 * product of wd (n_out rows of n_in, n_in a multiple of 4) with x, summed
 * in double in four chains. */
static double product_error(const float *wd, const float *x, const float *y, int64_t n_out, int64_t n_in, int64_t nc)
{
	assert_true(n_in % 4 == 0);
	double d = 0, s = 0;
	for (int64_t c = 0; c < nc; c++)
		for (int64_t i = 0; i < n_out; i++) {
			const float *wr = wd + i * n_in, *xc = x + c * n_in;
			double e4[4] = { 0, 0, 0, 0 };
			for (int64_t j = 0; j < n_in; j += 4)
				for (int u = 0; u < 4; u++)
					e4[u] += (double)wr[j + u] * (double)xc[j + u];
			const double e = (e4[0] + e4[1]) + (e4[2] + e4[3]);
			const double v = y[c * n_out + i];
			d += (v - e) * (v - e);
			s += e * e;
		}
	return sqrt(d) / sqrt(s);
}

static void matmul_within_tolerance(void **state)
{
	(void)state;
	qnt_ctx *cu = ctx_on("cuda", 2), *cpu = ctx_on("cpu", 2);
	int failures = 0; /* every format is measured before the test fails */
	for (size_t k = 0; k < N_ELEMS(cu_type_names); k++) {
		const qnt_type t = type_named(cu_type_names[k]);
		double worst_gemv = 0, worst_gemm = 0;
		for (size_t si = 0; si < N_ELEMS(mm_shapes); si++) {
			const struct mm_shape *sh = &mm_shapes[si];
			const int64_t n_out = sh->n_out, n_in = sh->n_in;
			if (n_in % qnt_type_block_size(t))
				continue;
			int64_t max_cols = 0;
			for (size_t ci = 0; ci < N_ELEMS(sh->cols); ci++)
				max_cols = sh->cols[ci] > max_cols ? sh->cols[ci] : max_cols;
			float *w = test_malloc_or_fail((size_t)(n_out * n_in) * sizeof(float));
			float *wd = test_malloc_or_fail((size_t)(n_out * n_in) * sizeof(float));
			float *x = test_malloc_or_fail((size_t)(max_cols * n_in) * sizeof(float));
			float *y = test_malloc_or_fail((size_t)(max_cols * n_out) * sizeof(float));
			void *q = test_malloc_or_fail((size_t)n_out * qnt_row_size(t, n_in));
			fill_gauss(w, (size_t)(n_out * n_in), 100 + k);
			assert_int_equal(qnt_quantize(cpu, t, w, q, n_out, n_in, NULL), QNT_OK);
			assert_int_equal(qnt_dequantize(cpu, t, q, wd, n_out, n_in), QNT_OK);
			for (size_t ci = 0; ci < N_ELEMS(sh->cols) && sh->cols[ci] > 0; ci++) {
				const int64_t nc = sh->cols[ci];
				fill_gauss(x, (size_t)(nc * n_in), 900 + ci);
				for (int64_t i = 0; i < nc * n_in; i++)
					x[i] *= sh->xscale;
				for (int64_t i = 0; i < nc * n_out; i++)
					y[i] = NAN;
				assert_int_equal(qnt_matmul(cu, t, q, n_out, n_in, x, nc, y), QNT_OK);
				const double err = product_error(wd, x, y, n_out, n_in, nc);
				if (!(err <= tolerance(t))) {
					print_error("ERROR: %s, %lld x %lld, %lld columns, x * %g: relative error %.3e "
						    "above %.1e\n",
						    qnt_type_name(t), (long long)n_out, (long long)n_in, (long long)nc,
						    (double)sh->xscale, err, tolerance(t));
					failures++;
				}
				if (nc < 8)
					worst_gemv = err > worst_gemv ? err : worst_gemv;
				else
					worst_gemm = err > worst_gemm ? err : worst_gemm;
			}
			free(q);
			free(w);
			free(wd);
			free(x);
			free(y);
		}
		print_message("# matmul %-20s tol %.1e  gemv %.2e  gemm (tensor cores) %.2e\n", qnt_type_name(t),
			      tolerance(t), worst_gemv, worst_gemm);
	}
	qnt_ctx_destroy(cu);
	qnt_ctx_destroy(cpu);
	if (failures)
		fail_msg("%d products above their format's tolerance", failures);
}

/* Normwise relative error of the cuda product of nc columns against the
 * exact product of the dequantized weights; in *vs_cpu, its normwise
 * distance from the cpu reference's product (the same activation codes
 * where the format has a companion: float rounding only). */
static double gemv_error(qnt_ctx *cu, qnt_ctx *cpu, qnt_type t, int64_t n_out, int64_t n_in, int64_t nc,
			 unsigned seed, double *vs_cpu)
{
	float *w = test_malloc_or_fail((size_t)(n_out * n_in) * sizeof(float));
	float *wd = test_malloc_or_fail((size_t)(n_out * n_in) * sizeof(float));
	float *x = test_malloc_or_fail((size_t)(nc * n_in) * sizeof(float));
	float *y = test_malloc_or_fail((size_t)(nc * n_out) * sizeof(float));
	float *yc = test_malloc_or_fail((size_t)(nc * n_out) * sizeof(float));
	void *q = test_malloc_or_fail((size_t)n_out * qnt_row_size(t, n_in));
	fill_gauss(w, (size_t)(n_out * n_in), seed);
	fill_gauss(x, (size_t)(nc * n_in), seed + 1);
	assert_int_equal(qnt_quantize(cpu, t, w, q, n_out, n_in, NULL), QNT_OK);
	assert_int_equal(qnt_dequantize(cpu, t, q, wd, n_out, n_in), QNT_OK);
	for (int64_t i = 0; i < nc * n_out; i++)
		y[i] = NAN;
	assert_int_equal(qnt_matmul(cu, t, q, n_out, n_in, x, nc, y), QNT_OK);
	assert_int_equal(qnt_matmul(cpu, t, q, n_out, n_in, x, nc, yc), QNT_OK);
	const double err = product_error(wd, x, y, n_out, n_in, nc);
	double d = 0, s = 0;
	for (int64_t i = 0; i < nc * n_out; i++) {
		d += ((double)y[i] - yc[i]) * ((double)y[i] - yc[i]);
		s += (double)yc[i] * yc[i];
	}
	*vs_cpu = sqrt(d) / sqrt(s);
	free(w);
	free(wd);
	free(x);
	free(y);
	free(yc);
	free(q);
	return err;
}

/* The GEMV's paths (1..7 columns): rows of several steps (n_in 4096, and
 * 3072 whose last step is half full) with odd row counts on the fast path,
 * and rows of n_in % 32 == 16 (the float formats and mlx:nvfp4 take k_gemv
 * there). */
static void gemv_paths(void **state)
{
	(void)state;
	qnt_ctx *cu = ctx_on("cuda", 2), *cpu = ctx_on("cpu", 2);
	const int64_t cols[] = { 1, 2, 5 };
	/* the cpu reference quantizes x to the same codes: the products differ
	 * by float rounding (the reference sums in double) */
	const double agree = 1e-5;
	int failures = 0;
	for (size_t k = 0; k < N_ELEMS(cu_type_names); k++) {
		const qnt_type t = type_named(cu_type_names[k]);
		double worst_fast = 0, worst_fallback = -1, worst_cpu = 0, v;
		for (size_t ci = 0; ci < N_ELEMS(cols); ci++) {
			const double err = gemv_error(cu, cpu, t, 301, 4096, cols[ci], 300 + (unsigned)(k * 7 + ci), &v);
			worst_cpu = v > worst_cpu ? v : worst_cpu;
			/* n_in 3072: a step of two units per lane, then one of one */
			const double e3 = gemv_error(cu, cpu, t, 45, 3072, cols[ci], 700 + (unsigned)(k * 7 + ci), &v);
			worst_cpu = v > worst_cpu ? v : worst_cpu;
			worst_fast = err > worst_fast ? err : worst_fast;
			worst_fast = e3 > worst_fast ? e3 : worst_fast;
			if (qnt_type_block_size(t) <= 16) {
				const double e2 =
					gemv_error(cu, cpu, t, 37, 80, cols[ci], 500 + (unsigned)(k * 7 + ci), &v);
				worst_cpu = v > worst_cpu ? v : worst_cpu;
				worst_fallback = e2 > worst_fallback ? e2 : worst_fallback;
			}
		}
		if (!(worst_fast <= tolerance(t)) || worst_fallback > tolerance(t) || !(worst_cpu <= agree)) {
			print_error("ERROR: %s: GEMV relative error %.3e (n_in 4096, 3072), %.3e (n_in 80) "
				    "above %.1e, or %.3e from the cpu reference's product (above %.0e)\n",
				    qnt_type_name(t), worst_fast, worst_fallback, tolerance(t), worst_cpu, agree);
			failures++;
		}
		print_message("# gemv %-22s tol %.1e  n_in 4096, 3072: %.2e, from cpu %.2e%s\n", qnt_type_name(t),
			      tolerance(t), worst_fast, worst_cpu,
			      worst_fallback >= 0 ? "  (n_in 80, k_gemv: checked)" : "");
	}
	qnt_ctx_destroy(cu);
	qnt_ctx_destroy(cpu);
	if (failures)
		fail_msg("%d formats above their tolerance", failures);
}

/* A format the backend does not run (iq4_nl) goes to the reference through
 * the public API: the same floats as on the cpu context. */
static void unsupported_through_api(void **state)
{
	(void)state;
	qnt_ctx *cu = ctx_on("cuda", 2), *cpu = ctx_on("cpu", 2);
	const int64_t nrows = 3, n = 64;
	float x[3 * 64], a[3 * 64], b[3 * 64];
	uint8_t q[3 * 64];
	fill_gauss(x, N_ELEMS(x), 5);
	assert_true(qnt_row_size(QNT_TYPE_IQ4_NL, n) * nrows <= sizeof q);
	assert_int_equal(qnt_quantize(cu, QNT_TYPE_IQ4_NL, x, q, nrows, n, NULL), QNT_OK);
	assert_int_equal(qnt_dequantize(cu, QNT_TYPE_IQ4_NL, q, a, nrows, n), QNT_OK);
	assert_int_equal(qnt_dequantize(cpu, QNT_TYPE_IQ4_NL, q, b, nrows, n), QNT_OK);
	assert_int_equal(first_mismatch(a, b, nrows * n), -1);
	assert_int_equal(qnt_dequantize(cu, QNT_TYPE_Q4_0, q, a, 1, 33), QNT_E_BAD_SHAPE);
	qnt_ctx_destroy(cu);
	qnt_ctx_destroy(cpu);
}

/* ---- the vtable directly ---- */

static void vtable_direct(void **state)
{
	(void)state;
	qnt_host_api host = test_host_api();
	const qnt_backend_vtbl *vt = module_vtable(CUDA_MODULE, &host);
	assert_string_equal(vt->name, "cuda");
	assert_true(QNT_VTBL_HAS(vt, matmul));
	char why[256] = "";
	assert_true(vt->score(&host, why, sizeof why) > 29); /* above cpu-avx2 */

	void *st = NULL;
	assert_int_equal(vt->open(&host, 99, &st), QNT_E_NOT_FOUND);
	assert_int_equal(vt->open(&host, 0, &st), QNT_OK);
	assert_true(vt->device_count(st) >= 1);
	qnt_device_props dp = { .struct_size = sizeof dp };
	assert_int_equal(vt->device_props(st, 0, &dp), QNT_OK);
	assert_non_null(dp.name);
	assert_int_equal(dp.kind, QNT_DEVICE_GPU);
	assert_true(dp.caps & QNT_BACKEND_CAP_DEVICE_MEMORY);
	print_message("# device 0: %s: %s, %llu MiB\n", dp.name, dp.description,
		      (unsigned long long)(dp.memory_total >> 20));
	assert_int_equal(vt->device_props(st, 99, &dp), QNT_E_NOT_FOUND);

	assert_false(vt->supports(st, QNT_TYPE_IQ4_NL, QNT_OP_DEQUANTIZE));
	assert_false(vt->supports(st, QNT_TYPE_Q4_0, QNT_OP_QUANTIZE));
	assert_true(vt->supports(st, QNT_TYPE_Q8_0, QNT_OP_QUANTIZE));
	assert_true(vt->supports(st, QNT_TYPE_Q4_0, QNT_OP_MATMUL));
	float x[4 * 64], y[4 * 64], yr[4 * 64];
	uint8_t q[4 * 64 * 2], q2[4 * 64 * 2];
	fill_gauss(x, N_ELEMS(x), 9);
	qnt_kernel_job job = { .struct_size = sizeof job, .op = QNT_OP_DEQUANTIZE, .type = QNT_TYPE_IQ4_NL,
			       .nrows = 4, .n_per_row = 64, .row_begin = 0, .row_end = 4 };
	job.src.host = q;
	job.dst.host = y;
	assert_int_equal(vt->dequantize(st, &job), QNT_E_UNSUPPORTED);
	job.type = QNT_TYPE_Q8_0;
	job.row_end = 5; /* past nrows */
	assert_int_equal(vt->dequantize(st, &job), QNT_E_INVALID_ARG);
	qnt_matmul_job mj = { .struct_size = sizeof mj, .wtype = QNT_TYPE_IQ4_NL, .xq_type = QNT_TYPE_INVALID,
			      .n_out = 4, .n_in = 64, .n_cols = 1, .row_begin = 0, .row_end = 4 };
	mj.w.host = q;
	mj.x.host = x;
	mj.y.host = y;
	assert_int_equal(vt->matmul(st, &mj), QNT_E_UNSUPPORTED);

	/* device buffers: q8_0 blocks in, floats out, rows 1..3 only */
	assert_int_equal(qnt_quantize(host_cpu, QNT_TYPE_Q8_0, x, q, 4, 64, NULL), QNT_OK);
	const size_t qb = 4 * qnt_row_size(QNT_TYPE_Q8_0, 64);
	qnt_buffer *bq = NULL, *by = NULL, *bx = NULL;
	assert_int_equal(vt->buffer_alloc(st, 0, qb + 2, &bq), QNT_OK);
	assert_int_equal(vt->buffer_alloc(st, 0, sizeof y + 16, &by), QNT_OK);
	assert_int_equal(vt->buffer_write(st, bq, 2, q, qb), QNT_OK); /* an unaligned start */
	assert_int_equal(vt->buffer_write(st, bq, 3, q, qb), QNT_E_INVALID_ARG);
	job.row_begin = 1;
	job.row_end = 4;
	job.src = (qnt_mem){ NULL, bq, 2 };
	job.dst = (qnt_mem){ NULL, by, 16 };
	assert_int_equal(vt->dequantize(st, &job), QNT_OK);
	assert_int_equal(vt->synchronize(st, 0), QNT_OK);
	assert_int_equal(vt->buffer_read(st, by, 16 + 64 * sizeof(float), y, 3 * 64 * sizeof(float)), QNT_OK);
	assert_int_equal(qnt_dequantize(host_cpu, QNT_TYPE_Q8_0, q, yr, 4, 64), QNT_OK);
	assert_int_equal(first_mismatch(y, yr + 64, 3 * 64), -1);
	job.dst.offset = 2; /* floats must be 4-byte aligned */
	assert_int_equal(vt->dequantize(st, &job), QNT_E_INVALID_ARG);

	/* quantize on device memory: floats in by, q8_0 blocks out to bq */
	assert_int_equal(vt->buffer_alloc(st, 0, sizeof x, &bx), QNT_OK);
	assert_int_equal(vt->buffer_write(st, bx, 0, x, sizeof x), QNT_OK);
	qnt_kernel_job qj = { .struct_size = sizeof qj, .op = QNT_OP_QUANTIZE, .type = QNT_TYPE_Q8_0, .nrows = 4,
			      .n_per_row = 64, .row_begin = 0, .row_end = 4 };
	qj.src = (qnt_mem){ NULL, bx, 0 };
	qj.dst = (qnt_mem){ NULL, bq, 2 };
	assert_int_equal(vt->buffer_write(st, bq, 0, q2, 2), QNT_OK);
	assert_int_equal(vt->quantize(st, &qj), QNT_OK);
	assert_int_equal(vt->buffer_read(st, bq, 2, q2, qb), QNT_OK);
	assert_memory_equal(q2, q, qb);

	/* a device-memory matmul: y = W x for rows 0..3, one column */
	mj.wtype = QNT_TYPE_Q8_0;
	mj.w = (qnt_mem){ NULL, bq, 2 };
	mj.x = (qnt_mem){ NULL, bx, 0 };
	mj.y = (qnt_mem){ NULL, by, 0 };
	assert_int_equal(vt->matmul(st, &mj), QNT_OK);
	assert_int_equal(vt->buffer_read(st, by, 0, y, 4 * sizeof(float)), QNT_OK);
	/* x quantized to q8_0 as the reference does it: its products up to
	 * float rounding */
	float ye[4];
	assert_int_equal(qnt_matmul(host_cpu, QNT_TYPE_Q8_0, q, 4, 64, x, 1, ye), QNT_OK);
	for (int i = 0; i < 4; i++) {
		double s = 0;
		for (int j = 0; j < 64; j++)
			s += fabs((double)yr[i * 64 + j] * x[j]);
		assert_true(fabs(y[i] - ye[i]) <= 1e-6 * s);
	}
	/* out of the buffer: a status, not a fault */
	mj.n_cols = 5;
	assert_int_equal(vt->matmul(st, &mj), QNT_E_INVALID_ARG);
	assert_null(vt->buffer_host_ptr(st, bq)); /* device memory is not host-visible */
	vt->buffer_free(st, bq);
	vt->buffer_free(st, by);
	vt->buffer_free(st, bx);
	vt->close(st);
	qnt_ctx_destroy(host_cpu);
	/* the module stays loaded: the registry holds it too */
}

/* ---- modes ---- */

/* QNT_BACKEND=cuda: the default context runs on the device. */
static int default_ctx(void)
{
	const char *name = qnt_ctx_backend_name(NULL);
	if (strcmp(name, "cuda") != 0) {
		fprintf(stderr, "FAIL: the default context is on '%s', not cuda: %s\n", name, qnt_ctx_last_error(NULL));
		return 1;
	}
	float x[2 * 256], a[2 * 256], b[2 * 256], y[2], ye[2];
	uint8_t q[2 * 256], qr[2 * 256];
	fill_gauss(x, N_ELEMS(x), 3);
	qnt_ctx *cpu = NULL;
	qnt_ctx_opts o = QNT_CTX_OPTS_INIT;
	o.backend = "cpu";
	if (qnt_ctx_create(&o, &cpu) != QNT_OK || qnt_quantize(NULL, QNT_TYPE_Q4_K, x, q, 2, 256, NULL) != QNT_OK ||
	    qnt_quantize(cpu, QNT_TYPE_Q4_K, x, qr, 2, 256, NULL) != QNT_OK ||
	    qnt_dequantize(NULL, QNT_TYPE_Q4_K, q, a, 2, 256) != QNT_OK ||
	    qnt_dequantize(cpu, QNT_TYPE_Q4_K, q, b, 2, 256) != QNT_OK ||
	    qnt_matmul(NULL, QNT_TYPE_Q4_K, q, 2, 256, x, 1, y) != QNT_OK ||
	    qnt_matmul(cpu, QNT_TYPE_Q4_K, q, 2, 256, x, 1, ye) != QNT_OK) {
		fprintf(stderr, "FAIL: %s\n", qnt_ctx_last_error(NULL));
		return 1;
	}
	if (memcmp(q, qr, 2 * qnt_row_size(QNT_TYPE_Q4_K, 256)) != 0) {
		fprintf(stderr, "FAIL: the default context's q4_K bytes differ from the reference\n");
		return 1;
	}
	if (first_mismatch(a, b, 512) >= 0) {
		fprintf(stderr, "FAIL: the default context's q4_K floats differ from the reference\n");
		return 1;
	}
	/* x quantized to q8_K as the reference does it: its products up to
	 * float rounding */
	for (int i = 0; i < 2; i++) {
		double s = 0;
		for (int j = 0; j < 256; j++)
			s += fabs((double)b[i * 256 + j] * x[j]);
		if (!(fabs(y[i] - ye[i]) <= 1e-6 * s)) {
			fprintf(stderr, "FAIL: default-context matmul row %d: %g, the reference's %g\n", i, y[i], ye[i]);
			return 1;
		}
	}
	qnt_ctx_destroy(cpu);
	printf("default context on cuda: quantize (same bytes), dequantize (bit-exact) and matmul ok\n");
	return 0;
}

/* No usable device: the module loads, scores 0 with its reason, and the
 * default context runs on a CPU backend. */
static int no_device(void)
{
	char reason[256];
	int sc = backend_score("cuda", reason, sizeof reason);
	if (sc != 0) {
		fprintf(stderr, "FAIL: without a device the cuda backend scores %d (%s), not 0\n", sc, reason);
		return 1;
	}
	if (!strstr(reason, "no CUDA device")) {
		fprintf(stderr, "FAIL: the reason does not say 'no CUDA device': '%s'\n", reason);
		return 1;
	}
	float x[64], a[64];
	uint8_t q[64];
	fill_gauss(x, 64, 1);
	if (qnt_quantize(NULL, QNT_TYPE_Q8_0, x, q, 1, 64, NULL) != QNT_OK ||
	    qnt_dequantize(NULL, QNT_TYPE_Q8_0, q, a, 1, 64) != QNT_OK ||
	    strncmp(qnt_ctx_backend_name(NULL), "cpu", 3) != 0) {
		fprintf(stderr, "FAIL: libqnt does not work on the CPU without a CUDA device: %s\n",
			qnt_ctx_last_error(NULL));
		return 1;
	}
	qnt_ctx_opts o = QNT_CTX_OPTS_INIT;
	o.backend = "cuda";
	qnt_ctx *c = NULL;
	if (qnt_ctx_create(&o, &c) != QNT_E_BACKEND) {
		fprintf(stderr, "FAIL: a context on an unusable cuda backend was not refused\n");
		return 1;
	}
	printf("no device: cuda scores 0 (%s); libqnt runs on %s\n", reason, qnt_ctx_backend_name(NULL));
	return 0;
}

int main(int argc, char **argv)
{
	if (qnt_backend_load(CUDA_MODULE) != QNT_OK) {
		fprintf(stderr, "FAIL: cannot load %s: %s\n", CUDA_MODULE, qnt_ctx_last_error(NULL));
		return 1;
	}
	if (argc > 1 && strcmp(argv[1], "no-device") == 0)
		return no_device();
	char reason[256];
	int sc = backend_score("cuda", reason, sizeof reason);
	if (sc <= 0) {
		const char *req = getenv("QNT_REQUIRE_CUDA");
		if (req && strcmp(req, "1") == 0) {
			fprintf(stderr, "FAIL: QNT_REQUIRE_CUDA=1 but the cuda backend cannot run: %s\n", reason);
			return 1;
		}
		/* the reason starts with "no CUDA device: " */
		printf("SKIP: %s\n", reason);
		return 77;
	}
	printf("# cuda backend, score %d: %s\n", sc, reason);
	if (argc > 1 && strcmp(argv[1], "default-ctx") == 0)
		return default_ctx();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(dequantize_bit_exact),
		cmocka_unit_test(quantize_same_bytes),
		cmocka_unit_test(matmul_within_tolerance),
		cmocka_unit_test(gemv_paths),
		cmocka_unit_test(unsupported_through_api),
		cmocka_unit_test(vtable_direct),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
