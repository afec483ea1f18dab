/* SPDX-License-Identifier: MIT */
/*
 * qnt_matmul and the SIMD CPU backends ("cpu-avx2" and "cpu-avx512" on
 * x86-64, "cpu-neon" on AArch64):
 *   - argument checks and their messages;
 *   - every format against the exact product (double) of the dequantized W
 *     with the float x, within the per-format tolerance of
 *     lib/core/matmul_ref.c, for 1, 2, 3, 4 and 64 columns, on every backend that
 *     runs here ("cpu", and each SIMD variant that scores above 0), and the
 *     backends against each other;
 *   - the same floats for 1, 2 and 7 threads on each backend;
 *   - each SIMD variant's dequantize floats and quantize bytes equal the
 *     scalar reference's bit for bit, on random bytes and on data with edge
 *     values;
 *   - every SIMD variant's kernels (cpu-avx2, cpu-avx512, cpu-neon) at
 *     unaligned addresses, odd row counts and 1..6 columns.
 */
#include "test_backend.h"

static int in_list(const char *name, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(name, *list) == 0)
			return 1;
	return 0;
}

/* The SIMD variants of the CPU backend, and the formats whose kernels each
 * provides (backends/cpu/avx2.c, neon.c); every other format goes to the
 * reference on both sides. */
struct variant {
	const char *name;
	const char *const *deq;   /* dequantize */
	const char *const *quant; /* quantize */
	int mlx;                  /* dequantizes and multiplies the "mlx:*" formats */
};

static const char *const avx2_deq[] = { "q4_0",   "q4_1",    "q5_0",   "q5_1",  "q8_0",    "q2_K",  "q3_K",
					"q4_K",   "q5_K",    "q6_K",   "q8_K",  "iq4_nl",  "iq4_xs", "mxfp4",
					"nvfp4",  "tq1_0",   "tq2_0",  "iq2_xxs", "iq2_xs", "iq2_s",  "iq3_xxs",
					"iq3_s",  "iq1_s",   "iq1_m",  "q1_0",  "q2_0",  "f16",  "bf16", NULL };
static const char *const neon_deq[] = { "q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q2_K",
					"q3_K", "q4_K", "q5_K", "q6_K", "q8_K", "iq4_nl", "iq4_xs", "mxfp4",
					"nvfp4", "tq1_0", "tq2_0", "q1_0", "q2_0", "iq2_xxs", "iq2_xs",
					"iq2_s", "iq3_xxs", "iq3_s", "iq1_s", "iq1_m", NULL };
static const char *const avx2_quant[] = { "q4_0", "q4_1", "q5_0", "q5_1", "q8_0", "q8_1", "q8_K", "bf16", NULL };
static const char *const neon_quant[] = { "q8_0", "q8_1", "q8_K", NULL };

/* cpu-avx512 is cpu-avx2's kernel files built with AVX-512 (and shares its
 * quantizers): the same formats. */
static const struct variant variants[] = {
	{ "cpu-avx2", avx2_deq, avx2_quant, 1 },
	{ "cpu-neon", neon_deq, neon_quant, 1 },
	{ "cpu-avx512", avx2_deq, avx2_quant, 1 },
};

/* The x86-64 variants that run the same tests on their kernels. */
static const char *const x86_variants[] = { "cpu-avx2", "cpu-avx512" };

#define MAX_BACKENDS (1 + (int)N_ELEMS(variants))

/* The formats with SIMD product kernels. The "simd" group (a quick run for
 * emulated CPUs: scripts/test-aarch64) checks the products of these only:
 * of the MLX formats, one per kernel path of cpu-neon's (and cpu-avx2's)
 * MLX products (affine bits 4, 8, and 2 and 5 of the other widths; mxfp4,
 * mxfp8, nvfp4), with each group size and scale type. */
static const char *const simd_mm[] = { "f32",  "f16",  "bf16", "q4_0", "q4_1", "q5_0", "q5_1",
				       "q8_0", "q2_K", "q3_K", "q4_K", "q5_K", "q6_K", "iq4_nl", "iq4_xs",
				       "mxfp4", "nvfp4", "tq1_0", "tq2_0", "q1_0", "q2_0", "iq2_xxs",
				       "iq2_xs", "iq2_s", "iq3_xxs", "iq3_s", "iq1_s", "iq1_m",
				       "mlx:affine:4:64", "mlx:affine:8:32:f16", "mlx:affine:2:128:f32",
				       "mlx:affine:5:64:f16", "mlx:mxfp4", "mlx:mxfp8:f16", "mlx:nvfp4:f32", NULL };
static int simd_only;

static int skip_format(qnt_type t)
{
	return simd_only && !in_list(qnt_type_name(t), simd_mm);
}

/* The backends to check: "cpu" always, each variant where it runs. */
static int backends(const char **names)
{
	int n = 0;
	names[n++] = "cpu";
	for (size_t i = 0; i < N_ELEMS(variants); i++)
		if (backend_usable(variants[i].name))
			names[n++] = variants[i].name;
	if (n == 1)
		print_message("# no SIMD variant runs here: checking the cpu backend only\n");
	return n;
}

/* ---- tolerances (lib/core/matmul_ref.c) ---- */

/* Normwise relative error ||y - y_exact|| / ||y_exact|| allowed for W in
 * `type`, by its activation companion. */
static double tolerance(qnt_type type)
{
	static const char *const q8_0[] = { "q4_0", "q5_0", "q8_0", "iq4_nl", "mxfp4", "nvfp4", "q1_0", "q2_0", NULL };
	static const char *const q8_1[] = { "q4_1", "q5_1", NULL };
	static const char *const q8_K[] = { "q2_K",  "q3_K",  "q4_K",   "q5_K",  "q6_K",  "iq2_xxs", "iq2_xs",
					    "iq3_xxs", "iq1_s", "iq3_s", "iq2_s", "iq4_xs", "iq1_m", "tq1_0",
					    "tq2_0", NULL };
	const char *name = qnt_type_name(type);
	if (in_list(name, q8_0) || in_list(name, q8_1))
		return 1e-2;
	if (in_list(name, q8_K))
		return 1.5e-2;
	return 1e-5; /* float activations (f32 sums: ~1e-7 at n_in 512, ~1e-6 at 65536) */
}

/* Between two backends the activations are the same bytes: only float
 * rounding separates them. */
#define BACKEND_TOL 1e-5

/* ---- helpers ---- */

static size_t row_bytes(qnt_type t, int64_t n)
{
	size_t rs = qnt_row_size(t, n);
	assert_true(rs > 0);
	return rs;
}

/* W (n_out x n_in) in `type`, from Gaussian floats; its dequantized values
 * into wd (may be NULL). */
static void *make_weights(qnt_type type, int64_t n_out, int64_t n_in, uint64_t seed, float *wd)
{
	float *w = test_malloc_or_fail((size_t)(n_out * n_in) * sizeof(float));
	void *q = test_malloc_or_fail((size_t)n_out * row_bytes(type, n_in));
	fill_gauss(w, (size_t)(n_out * n_in), seed);
	assert_int_equal(qnt_quantize(NULL, type, w, q, n_out, n_in, NULL), QNT_OK);
	if (wd)
		assert_int_equal(qnt_dequantize(NULL, type, q, wd, n_out, n_in), QNT_OK);
	free(w);
	return q;
}

static double norm_diff(const float *a, const double *b, size_t n, double *nb)
{
	double d = 0, s = 0;
	for (size_t i = 0; i < n; i++) {
		double e = (double)a[i] - b[i];
		d += e * e;
		s += b[i] * b[i];
	}
	*nb = sqrt(s);
	return sqrt(d);
}

static int can_matmul(qnt_type t)
{
	qnt_type_info info = QNT_TYPE_INFO_INIT;
	assert_int_equal(qnt_type_get_info(t, &info), QNT_OK);
	return (info.flags & QNT_TYPE_FLAG_DEQUANTIZE) && (info.flags & QNT_TYPE_FLAG_QUANTIZE);
}

/* ---- argument checks ---- */

static void errors(void **state)
{
	(void)state;
	qnt_ctx *ctx = ctx_on("cpu", 1);
	const qnt_type t = QNT_TYPE_Q4_0;
	unsigned char w[2 * 18 * 2] = { 0 };
	float x[64] = { 0 }, y[8];

	assert_int_equal(qnt_matmul(ctx, 12345, w, 2, 64, x, 1, y), QNT_E_UNKNOWN_TYPE);
	assert_contains(qnt_ctx_last_error(ctx), "unknown type id 12345");
	assert_int_equal(qnt_matmul(ctx, t, NULL, 2, 64, x, 1, y), QNT_E_INVALID_ARG);
	assert_contains(qnt_ctx_last_error(ctx), "qnt_matmul(q4_0): w is NULL");
	assert_int_equal(qnt_matmul(ctx, t, w, 2, 64, NULL, 1, y), QNT_E_INVALID_ARG);
	assert_contains(qnt_ctx_last_error(ctx), "x is NULL");
	assert_int_equal(qnt_matmul(ctx, t, w, 2, 64, x, 1, NULL), QNT_E_INVALID_ARG);
	assert_contains(qnt_ctx_last_error(ctx), "y is NULL");
	assert_int_equal(qnt_matmul(ctx, t, w, -1, 64, x, 1, y), QNT_E_INVALID_ARG);
	assert_contains(qnt_ctx_last_error(ctx), "n_out is negative (-1)");
	assert_int_equal(qnt_matmul(ctx, t, w, 2, -32, x, 1, y), QNT_E_INVALID_ARG);
	assert_contains(qnt_ctx_last_error(ctx), "n_in is negative");
	assert_int_equal(qnt_matmul(ctx, t, w, 2, 64, x, -3, y), QNT_E_INVALID_ARG);
	assert_contains(qnt_ctx_last_error(ctx), "n_cols is negative (-3)");
	assert_int_equal(qnt_matmul(ctx, t, w, 2, 33, x, 1, y), QNT_E_BAD_SHAPE);
	assert_contains(qnt_ctx_last_error(ctx), "n_in 33 is not a positive multiple of the block size 32");
	assert_int_equal(qnt_matmul(ctx, t, w, 2, 0, x, 1, y), QNT_E_BAD_SHAPE);
	assert_int_equal(qnt_matmul(ctx, t, w, INT64_MAX / 2, 64, x, 1, y), QNT_E_BAD_SHAPE);
	assert_contains(qnt_ctx_last_error(ctx), "overflow");
	assert_int_equal(qnt_matmul(ctx, t, w, 2, 64, x, INT64_MAX / 4, y), QNT_E_BAD_SHAPE);

	/* the default context records the message for this thread */
	assert_int_equal(qnt_matmul(NULL, t, NULL, 2, 64, x, 1, y), QNT_E_INVALID_ARG);
	assert_contains(qnt_ctx_last_error(NULL), "w is NULL");

	/* nothing to do: y untouched, QNT_OK, the message cleared */
	y[0] = 42.0f;
	assert_int_equal(qnt_matmul(ctx, t, w, 0, 64, x, 1, y), QNT_OK);
	assert_int_equal(qnt_matmul(ctx, t, w, 2, 64, x, 0, y), QNT_OK);
	assert_true(y[0] == 42.0f);
	assert_string_equal(qnt_ctx_last_error(ctx), "");

	/* all-zero weights and activations: zeros, on the default context too */
	assert_int_equal(qnt_matmul(NULL, t, w, 2, 64, x, 1, y), QNT_OK);
	assert_true(y[0] == 0.0f && y[1] == 0.0f);
	qnt_ctx_destroy(ctx);
}

/* ---- every format against the exact product ---- */

#define EX_OUT 37

/* Rows of n_in elements; returns the number of formats checked. */
static int check_exact(int64_t n_in)
{
	const char *names[MAX_BACKENDS];
	const int nb = backends(names);
	qnt_ctx *ctxs[MAX_BACKENDS];
	for (int b = 0; b < nb; b++)
		ctxs[b] = ctx_on(names[b], 2);
	const int64_t cols[] = { 1, 2, 3, 4, 64 };
	float *wd = test_malloc_or_fail(EX_OUT * n_in * sizeof(float));
	float *x = test_malloc_or_fail(64 * n_in * sizeof(float));
	float *y[MAX_BACKENDS];
	double *ex = test_malloc_or_fail(64 * EX_OUT * sizeof(double));
	for (int b = 0; b < nb; b++)
		y[b] = test_malloc_or_fail(64 * EX_OUT * sizeof(float));
	int checked = 0;

	for (int32_t k = 0; k < qnt_type_count(); k++) {
		const qnt_type t = qnt_type_at(k);
		if (!can_matmul(t) || n_in % qnt_type_block_size(t) != 0 || skip_format(t))
			continue;
		const double tol = tolerance(t);
		void *w = make_weights(t, EX_OUT, n_in, 1000 + (uint64_t)t, wd);
		double worst[MAX_BACKENDS] = { 0 }, worst_pair = 0;
		for (size_t ci = 0; ci < N_ELEMS(cols); ci++) {
			const int64_t nc = cols[ci];
			fill_gauss(x, (size_t)(nc * n_in), 77 + (uint64_t)ci);
			for (int64_t c = 0; c < nc; c++)
				for (int64_t i = 0; i < EX_OUT; i++) {
					double s = 0;
					for (int64_t j = 0; j < n_in; j++)
						s += (double)wd[i * n_in + j] * (double)x[c * n_in + j];
					ex[c * EX_OUT + i] = s;
				}
			for (int b = 0; b < nb; b++) {
				double ne;
				assert_int_equal(qnt_matmul(ctxs[b], t, w, EX_OUT, n_in, x, nc, y[b]), QNT_OK);
				double err = norm_diff(y[b], ex, (size_t)(nc * EX_OUT), &ne) / ne;
				if (!(err <= tol))
					fail_msg("%s on %s, %lld columns: relative error %.3e above %.1e", qnt_type_name(t),
						 names[b], (long long)nc, err, tol);
				worst[b] = err > worst[b] ? err : worst[b];
			}
			for (int b = 1; b < nb; b++) {
				double ne, d = 0;
				for (int64_t i = 0; i < nc * EX_OUT; i++) {
					double e = (double)y[0][i] - (double)y[b][i];
					d += e * e;
				}
				norm_diff(y[0], ex, (size_t)(nc * EX_OUT), &ne);
				d = sqrt(d) / ne;
				if (!(d <= BACKEND_TOL))
					fail_msg("%s, %lld columns: cpu and %s differ by %.3e", qnt_type_name(t),
						 (long long)nc, names[b], d);
				worst_pair = d > worst_pair ? d : worst_pair;
			}
		}
		print_message("# %-22s tol %.1e  cpu %.2e", qnt_type_name(t), tol, worst[0]);
		for (int b = 1; b < nb; b++)
			print_message("  %s %.2e", names[b], worst[b]);
		print_message("  (backends differ by %.1e)\n", worst_pair);
		free(w);
		checked++;
	}
	for (int b = 0; b < nb; b++) {
		qnt_ctx_destroy(ctxs[b]);
		free(y[b]);
	}
	free(wd);
	free(x);
	free(ex);
	return checked;
}

static void against_exact(void **state)
{
	(void)state;
	assert_true(check_exact(512) >= (simd_only ? (int)N_ELEMS(simd_mm) - 1 : 20));
}

/* 13 blocks of 32 per row: the tails of the kernels that take blocks of 32
 * four at a time (q1_0's blocks are 128: not here) */
static void against_exact_odd_blocks(void **state)
{
	(void)state;
	assert_true(check_exact(13 * 32) >= 5);
}

/* n_in 413 = 12 x 32 + 16 + 8 + 5 (the float formats alone): every pass of
 * their GEMV (32 elements in cpu-avx512, then 16, 8 and a scalar tail of
 * five) and of their GEMM tiles */
static void against_exact_float_tails(void **state)
{
	(void)state;
	assert_true(check_exact(413) >= 3);
}

/* ---- thread counts ---- */

#define TH_OUT 2048
#define TH_IN 256

static void threads_identical(void **state)
{
	(void)state;
	const char *names[MAX_BACKENDS];
	const int nb = backends(names);
	const int32_t threads[] = { 1, 2, 7 };
	const int64_t cols[] = { 1, 5 };
	float *x = test_malloc_or_fail(5 * TH_IN * sizeof(float));
	float *y0 = test_malloc_or_fail(5 * TH_OUT * sizeof(float));
	float *y1 = test_malloc_or_fail(5 * TH_OUT * sizeof(float));
	fill_gauss(x, 5 * TH_IN, 5);
	for (int b = 0; b < nb; b++) {
		qnt_ctx *ctx[3];
		for (size_t k = 0; k < N_ELEMS(threads); k++)
			ctx[k] = ctx_on(names[b], threads[k]);
		for (int32_t k = 0; k < qnt_type_count(); k++) {
			const qnt_type t = qnt_type_at(k);
			if (!can_matmul(t) || TH_IN % qnt_type_block_size(t) != 0 || skip_format(t))
				continue;
			void *w = make_weights(t, TH_OUT, TH_IN, 2000 + (uint64_t)t, NULL);
			for (size_t ci = 0; ci < N_ELEMS(cols); ci++) {
				const int64_t nc = cols[ci];
				assert_int_equal(qnt_matmul(ctx[0], t, w, TH_OUT, TH_IN, x, nc, y0), QNT_OK);
				for (size_t tk = 1; tk < N_ELEMS(threads); tk++) {
					memset(y1, 0xff, (size_t)(nc * TH_OUT) * sizeof(float));
					assert_int_equal(qnt_matmul(ctx[tk], t, w, TH_OUT, TH_IN, x, nc, y1), QNT_OK);
					if (memcmp(y0, y1, (size_t)(nc * TH_OUT) * sizeof(float)) != 0)
						fail_msg("%s on %s, %lld columns: %d threads differ from 1", qnt_type_name(t),
							 names[b], (long long)nc, (int)threads[tk]);
				}
			}
			free(w);
		}
		for (size_t k = 0; k < N_ELEMS(threads); k++)
			qnt_ctx_destroy(ctx[k]);
	}
	free(x);
	free(y0);
	free(y1);
}

/* ---- the SIMD variants against the scalar reference, bit for bit ---- */

/* Equal floats: the same bits, or both NaN (the payload of a NaN is not
 * part of the contract: C does not fix it through arithmetic). */
static void assert_same_floats(const float *a, const float *b, size_t n, const char *what)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t ua, ub;
		memcpy(&ua, a + i, 4);
		memcpy(&ub, b + i, 4);
		if (ua != ub && !(isnan(a[i]) && isnan(b[i])))
			fail_msg("%s: element %zu: %a (0x%08x) vs %a (0x%08x)", what, i, (double)a[i], ua,
				 (double)b[i], ub);
	}
}

/* Floats with edge values, row by row: Gaussian at scales from 1e-42
 * (subnormal) to 1e37, zeros, signed zeros, ties (multiples of 0.5),
 * one huge outlier, near FLT_MAX; with `nonfinite`, rows with NaN and
 * infinities too. */
static void edge_rows(float *x, int64_t nrows, int64_t n, uint64_t seed, int nonfinite)
{
	struct test_rng r;
	rng_seed(&r, seed);
	fill_gauss(x, (size_t)(nrows * n), seed);
	for (int64_t i = 0; i < nrows; i++) {
		float *row = x + i * n;
		const int kind = (int)(i % (nonfinite ? 10 : 8));
		float scale = 1.0f;
		switch (kind) {
		case 0:
			break;
		case 1:
			memset(row, 0, (size_t)n * sizeof(float));
			break;
		case 2:
			scale = 1e-42f;
			break;
		case 3:
			scale = 1e37f;
			break;
		case 4:
			for (int64_t j = 0; j < n; j++)
				row[j] = (float)((int)(rng_next(&r) % 9) - 4) * 0.5f * ((j & 1) ? -1.0f : 1.0f);
			row[0] = -0.0f;
			break;
		case 5:
			for (int64_t j = 0; j < n; j += 7)
				row[j] = 1e6f;
			break;
		case 6:
			for (int64_t j = 0; j < n; j++)
				row[j] = (j % 3) ? 3.4e38f : -3.4e38f;
			break;
		case 7:
			scale = (float)pow(10.0, (double)(int)(rng_next(&r) % 60) - 30.0);
			break;
		case 8:
			row[(int64_t)(rng_next(&r) % (uint64_t)n)] = NAN;
			break;
		default:
			row[(int64_t)(rng_next(&r) % (uint64_t)n)] = INFINITY;
			row[(int64_t)(rng_next(&r) % (uint64_t)n)] = -INFINITY;
			break;
		}
		if (scale != 1.0f)
			for (int64_t j = 0; j < n; j++)
				row[j] *= scale;
	}
}

#define BX_ROWS 40
#define BX_IN 512

static void dequantize_bitexact(const struct variant *v)
{
	if (!backend_usable(v->name)) { /* cmocka's skip() reads as "not ok" in TAP */
		print_message("# %s does not run here\n", v->name);
		return;
	}
	qnt_ctx *cpu = ctx_on("cpu", 3), *avx = ctx_on(v->name, 3);
	float *src = test_malloc_or_fail(BX_ROWS * BX_IN * sizeof(float));
	float *a = test_malloc_or_fail(BX_ROWS * BX_IN * sizeof(float));
	float *b = test_malloc_or_fail(BX_ROWS * BX_IN * sizeof(float));
	unsigned char *q = test_malloc_or_fail(BX_ROWS * 2 * BX_IN * sizeof(float));
	for (int32_t k = 0; k < qnt_type_count(); k++) {
		const qnt_type t = qnt_type_at(k);
		if (!can_matmul(t) || BX_IN % qnt_type_block_size(t) != 0)
			continue;
		const size_t rs = row_bytes(t, BX_IN);
		char what[96];
		/* random bytes (any scale, NaN and infinities included) */
		struct test_rng r;
		rng_seed(&r, 31 + (uint64_t)t);
		for (size_t i = 0; i < BX_ROWS * rs; i++)
			q[i] = (unsigned char)rng_next(&r);
		assert_int_equal(qnt_dequantize(cpu, t, q, a, BX_ROWS, BX_IN), QNT_OK);
		assert_int_equal(qnt_dequantize(avx, t, q, b, BX_ROWS, BX_IN), QNT_OK);
		snprintf(what, sizeof what, "dequantize %s on %s, random bytes", qnt_type_name(t), v->name);
		assert_same_floats(a, b, BX_ROWS * BX_IN, what);
		/* quantized edge values, for the formats the variant dequantizes
		 * (the others run the reference on both sides) */
		if (!in_list(qnt_type_name(t), v->deq) && !(v->mlx && strncmp(qnt_type_name(t), "mlx:", 4) == 0))
			continue;
		edge_rows(src, BX_ROWS, BX_IN, 57 + (uint64_t)t, 0);
		assert_int_equal(qnt_quantize(cpu, t, src, q, BX_ROWS, BX_IN, NULL), QNT_OK);
		assert_int_equal(qnt_dequantize(cpu, t, q, a, BX_ROWS, BX_IN), QNT_OK);
		assert_int_equal(qnt_dequantize(avx, t, q, b, BX_ROWS, BX_IN), QNT_OK);
		snprintf(what, sizeof what, "dequantize %s on %s, edge values", qnt_type_name(t), v->name);
		assert_same_floats(a, b, BX_ROWS * BX_IN, what);
		/* one row, and rows that start mid-tensor */
		assert_int_equal(qnt_dequantize(avx, t, q + 3 * rs, b, 1, BX_IN), QNT_OK);
		assert_same_floats(a + 3 * BX_IN, b, BX_IN, what);
	}
	qnt_ctx_destroy(cpu);
	qnt_ctx_destroy(avx);
	free(src);
	free(a);
	free(b);
	free(q);
}

/* cpu-avx2 and cpu-avx512 write outputs of 16 MB and more with streaming
 * stores through a staging buffer (backends/cpu/avx2.c): the same floats as
 * the reference, aligned and not, on 2 threads. */
static void dequantize_large(const char *backend)
{
	if (!backend_usable(backend)) {
		print_message("# %s does not run here\n", backend);
		return;
	}
	enum { ROWS = 1024, IN = 4096 + 256 }; /* 17 MB of floats; rows not a multiple of the staging chunk */
	qnt_ctx *cpu = ctx_on("cpu", 2), *avx = ctx_on(backend, 2);
	float *a = test_malloc_or_fail((size_t)ROWS * IN * sizeof(float));
	float *b = test_malloc_or_fail(((size_t)ROWS * IN + 1) * sizeof(float));
	unsigned char *q = test_malloc_or_fail((size_t)ROWS * IN * 2);
	static const char *const names[] = { "q4_K", "q8_0", "f16", "bf16" };
	for (size_t k = 0; k < N_ELEMS(names); k++) {
		const qnt_type t = qnt_type_by_name(names[k]);
		const size_t n = (size_t)ROWS * row_bytes(t, IN);
		struct test_rng r;
		rng_seed(&r, 77 + k);
		for (size_t i = 0; i < n; i++)
			q[i] = (unsigned char)rng_next(&r);
		assert_int_equal(qnt_dequantize(cpu, t, q, a, ROWS, IN), QNT_OK);
		for (int off = 0; off < 2; off++) { /* b + 1: not 32-byte aligned */
			memset(b, 0, ((size_t)ROWS * IN + 1) * sizeof(float));
			assert_int_equal(qnt_dequantize(avx, t, q, b + off, ROWS, IN), QNT_OK);
			char what[96];
			snprintf(what, sizeof what, "dequantize %s on %s, %d MB, offset %d", names[k], backend,
				 (int)((size_t)ROWS * IN * 4 >> 20), off);
			assert_same_floats(a, b + off, (size_t)ROWS * IN, what);
		}
	}
	qnt_ctx_destroy(cpu);
	qnt_ctx_destroy(avx);
	free(a);
	free(b);
	free(q);
}

static void x86_dequantize_large(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(x86_variants); i++)
		dequantize_large(x86_variants[i]);
}

static void quantize_bitexact(const struct variant *v)
{
	if (!backend_usable(v->name)) { /* cmocka's skip() reads as "not ok" in TAP */
		print_message("# %s does not run here\n", v->name);
		return;
	}
	qnt_ctx *cpu = ctx_on("cpu", 3), *avx = ctx_on(v->name, 3);
	float *src = test_malloc_or_fail(BX_ROWS * BX_IN * sizeof(float));
	float *imp = test_malloc_or_fail(BX_IN * sizeof(float));
	const size_t cap = BX_ROWS * 2 * BX_IN * sizeof(float);
	unsigned char *a = test_malloc_or_fail(cap), *b = test_malloc_or_fail(cap);
	fill_gauss(imp, BX_IN, 99);
	for (int j = 0; j < BX_IN; j++)
		imp[j] = j % 17 ? imp[j] * imp[j] : 0.0f;
	for (int32_t k = 0; k < qnt_type_count(); k++) {
		const qnt_type t = qnt_type_at(k);
		const char *name = qnt_type_name(t);
		if (!can_matmul(t) || BX_IN % qnt_type_block_size(t) != 0 || strncmp(name, "mlx:", 4) == 0)
			continue;
		/* the other formats run the reference on both sides */
		const int accel = in_list(name, v->quant) || in_list(name, v->deq);
		if (!accel)
			continue;
		const int64_t rows = BX_ROWS;
		const size_t n = (size_t)rows * row_bytes(t, BX_IN);
		/* NaN and infinities where the variant quantizes itself */
		edge_rows(src, rows, BX_IN, 91 + (uint64_t)t, in_list(name, v->quant));
		memset(a, 0x5a, n);
		memset(b, 0xa5, n);
		assert_int_equal(qnt_quantize(cpu, t, src, a, rows, BX_IN, NULL), QNT_OK);
		assert_int_equal(qnt_quantize(avx, t, src, b, rows, BX_IN, NULL), QNT_OK);
		if (memcmp(a, b, n) != 0)
			fail_msg("quantize %s: %s bytes differ from the reference", name, v->name);
		/* importance weights: q8_0 falls back to the weighted search */
		qnt_type_info info = QNT_TYPE_INFO_INIT;
		assert_int_equal(qnt_type_get_info(t, &info), QNT_OK);
		if (info.flags & QNT_TYPE_FLAG_IMPORTANCE) {
			edge_rows(src, rows, BX_IN, 92 + (uint64_t)t, 0);
			assert_int_equal(qnt_quantize(cpu, t, src, a, rows, BX_IN, imp), QNT_OK);
			assert_int_equal(qnt_quantize(avx, t, src, b, rows, BX_IN, imp), QNT_OK);
			if (memcmp(a, b, n) != 0)
				fail_msg("quantize %s with importance: %s bytes differ", name, v->name);
		}
	}
	qnt_ctx_destroy(cpu);
	qnt_ctx_destroy(avx);
	free(src);
	free(imp);
	free(a);
	free(b);
}

/* cpu-avx2's and cpu-avx512's kernels on awkward shapes and addresses: weights 4 bytes past
 * a 32-byte boundary (the alignment their float and fp16 fields need; the
 * blocks of mxfp4 and nvfp4 and the 17-byte strides of mxfp4 land anywhere)
 * at the end of a buffer of exactly their size (ASan sees any read past it),
 * x and y 4 bytes off a 32-byte boundary, odd row counts (a partial row
 * tile), 1..6 columns (every remainder of the 4-column groups, and more
 * than one group); products against the cpu backend's (which against_exact
 * checks against the exact product), dequantized floats bit for bit. */
#define UA_IN 512

static void unaligned(const struct variant *v)
{
	const char *backend = v->name;
	if (!backend_usable(backend)) { /* cmocka's skip() reads as "not ok" in TAP */
		print_message("# %s does not run here\n", backend);
		return;
	}
	qnt_ctx *cpu = ctx_on("cpu", 1), *avx = ctx_on(backend, 1);
	const int64_t rows[] = { 1, 5, 19 };
	float *x = test_malloc_or_fail((6 * UA_IN + 1) * sizeof(float));
	float *ya = test_malloc_or_fail((6 * 19 + 1) * sizeof(float));
	float *yb = test_malloc_or_fail((6 * 19 + 1) * sizeof(float));
	float *wd = test_malloc_or_fail(19 * UA_IN * sizeof(float));
	float *da = test_malloc_or_fail((19 * UA_IN + 1) * sizeof(float));
	float *db = test_malloc_or_fail((19 * UA_IN + 1) * sizeof(float));
	double *ex = test_malloc_or_fail(6 * 19 * sizeof(double));
	int checked = 0;
	fill_gauss(x + 1, 6 * UA_IN, 404);
	for (int32_t k = 0; k < qnt_type_count(); k++) {
		const qnt_type t = qnt_type_at(k);
		const char *name = qnt_type_name(t);
		if (!(in_list(name, simd_mm) || in_list(name, v->deq) || strncmp(name, "mlx:", 4) == 0) ||
		    UA_IN % qnt_type_block_size(t) != 0)
			continue;
		for (size_t ri = 0; ri < N_ELEMS(rows); ri++) {
			const int64_t nr = rows[ri];
			const size_t rs = row_bytes(t, UA_IN), wbytes = (size_t)nr * rs;
			void *wq = make_weights(t, nr, UA_IN, 3000 + (uint64_t)t + (uint64_t)ri, wd);
			const size_t off = 4;
			unsigned char *base = test_malloc_or_fail(wbytes + off), *buf = base + off;
			memcpy(buf, wq, wbytes);
			free(wq);
			/* dequantize from the unaligned address */
			assert_int_equal(qnt_dequantize(cpu, t, buf, da + 1, nr, UA_IN), QNT_OK);
			assert_int_equal(qnt_dequantize(avx, t, buf, db + 1, nr, UA_IN), QNT_OK);
			char what[96];
			snprintf(what, sizeof what, "dequantize %s on %s, %lld rows at an unaligned address", name, backend,
				 (long long)nr);
			assert_same_floats(da + 1, db + 1, (size_t)(nr * UA_IN), what);
			/* rounding against the size of the terms (one output can cancel
			 * to near 0): sum_j |w_ij x_j|, for the six columns at once (the
			 * first nc of them are those of nc columns) */
			for (int64_t c = 0; c < 6; c++)
				for (int64_t i = 0; i < nr; i++) {
					double sum = 0;
					for (int64_t j = 0; j < UA_IN; j++)
						sum += fabs((double)wd[i * UA_IN + j] * (double)x[1 + c * UA_IN + j]);
					ex[c * nr + i] = sum;
				}
			for (int64_t nc = 1; nc <= 6; nc++) {
				assert_int_equal(qnt_matmul(cpu, t, buf, nr, UA_IN, x + 1, nc, ya + 1), QNT_OK);
				assert_int_equal(qnt_matmul(avx, t, buf, nr, UA_IN, x + 1, nc, yb + 1), QNT_OK);
				double ne, d = 0;
				norm_diff(yb + 1, ex, (size_t)(nc * nr), &ne);
				for (int64_t i = 0; i < nc * nr; i++) {
					const double e = (double)ya[1 + i] - (double)yb[1 + i];
					d += e * e;
				}
				d = sqrt(d) / ne;
				if (!(d <= BACKEND_TOL))
					fail_msg("%s on %s, %lld rows, %lld columns at unaligned addresses: %.3e from the cpu "
						 "backend (relative to sum |w x|)",
						 name, backend, (long long)nr, (long long)nc, d);
			}
			free(base);
			checked++;
		}
	}
	assert_true(checked >= 3 * 25);
	qnt_ctx_destroy(cpu);
	qnt_ctx_destroy(avx);
	free(x);
	free(ya);
	free(yb);
	free(wd);
	free(da);
	free(db);
	free(ex);
}

static void simd_unaligned(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(variants); i++)
		unaligned(&variants[i]);
}

/* The backend's score follows STYLE 3.5: 1 + the feature bits it needs, or
 * 0 with a reason naming what is missing. */
static int find_backend(const char *name, qnt_backend_props *p)
{
	for (int32_t i = 0; i < qnt_backend_count(); i++) {
		assert_int_equal(qnt_backend_get_props(i, p), QNT_OK);
		if (strcmp(p->name, name) == 0)
			return 1;
	}
	return 0;
}

/* cpu-avx512 needs AVX-512 F/BW/VL/VNNI besides cpu-avx2's features, and
 * runs the work wherever it can. An emulated build (-Davx512=emulated, its
 * description says so) needs only cpu-avx2's features and scores one
 * more. */
static void avx2_score(void **state)
{
	(void)state;
	const uint64_t f = qnt_cpu_features();
	const uint64_t need = QNT_CPU_AVX2 | QNT_CPU_FMA | QNT_CPU_F16C;
	const uint64_t need512 = need | QNT_CPU_AVX512F | QNT_CPU_AVX512BW | QNT_CPU_AVX512VL | QNT_CPU_AVX512VNNI;
	qnt_backend_props p = QNT_BACKEND_PROPS_INIT, p512 = QNT_BACKEND_PROPS_INIT;
	if (!find_backend("cpu-avx2", &p)) {
		assert_false(find_backend("cpu-avx512", &p512));
		print_message("# cpu-avx2 is not compiled in (not x86-64)\n");
		return;
	}
	assert_true(p.flags & QNT_BACKEND_FLAG_BUILTIN);
	if ((f & need) == need) {
		assert_int_equal(p.score, (int32_t)(1 + need));
		assert_string_equal(p.reason, "");
	} else {
		assert_int_equal(p.score, 0);
		assert_contains(p.reason, "lacks");
	}
	if (!find_backend("cpu-avx512", &p512)) { /* built with -Davx512=disabled, or a compiler without it */
		print_message("# cpu-avx512 is not compiled in\n");
		if (p.score > 0)
			assert_string_equal(qnt_backend_best(), "cpu-avx2");
		return;
	}
	assert_true(p512.flags & QNT_BACKEND_FLAG_BUILTIN);
	const int emulated = strstr(p512.description, "emulated") != NULL;
	if (emulated) {
		assert_int_equal(p512.score, p.score > 0 ? p.score + 1 : 0);
	} else if ((f & need512) == need512) {
		assert_int_equal(p512.score, (int32_t)(1 + need512));
		assert_string_equal(p512.reason, "");
	} else {
		assert_int_equal(p512.score, 0);
		assert_contains(p512.reason, "lacks");
		assert_contains(p512.reason, "avx512");
	}
	if (p512.score > 0)
		assert_string_equal(qnt_backend_best(), "cpu-avx512");
	else if (p.score > 0)
		assert_string_equal(qnt_backend_best(), "cpu-avx2");
	print_message("# cpu-avx512 %s\n", p512.score > 0 ? (emulated ? "runs, emulated by SIMDe" : "runs") : p512.reason);
}

static void avx2_dequantize_bitexact(void **state)
{
	(void)state;
	dequantize_bitexact(&variants[0]);
}

static void avx2_quantize_bitexact(void **state)
{
	(void)state;
	quantize_bitexact(&variants[0]);
}

static void avx512_dequantize_bitexact(void **state)
{
	(void)state;
	dequantize_bitexact(&variants[2]);
}

static void avx512_quantize_bitexact(void **state)
{
	(void)state;
	quantize_bitexact(&variants[2]);
}

/* cpu-neon: compiled in on AArch64 only, where NEON is mandatory, so it
 * always runs there; it scores 1 + neon, plus dotprod where the CPU has it
 * and i8mm where it has both (its product kernels then use SDOT and SMMLA,
 * and its device says so). Under qemu-aarch64, QEMU_CPU picks the emulated
 * CPU (max: dotprod and i8mm, neoverse-n1: dotprod, cortex-a53: neither). */
static void neon_score(void **state)
{
	(void)state;
	const uint64_t f = qnt_cpu_features();
	for (int32_t i = 0; i < qnt_backend_count(); i++) {
		qnt_backend_props p = QNT_BACKEND_PROPS_INIT;
		assert_int_equal(qnt_backend_get_props(i, &p), QNT_OK);
		if (strcmp(p.name, "cpu-neon") != 0)
			continue;
		assert_true(p.flags & QNT_BACKEND_FLAG_BUILTIN);
		assert_true(f & QNT_CPU_NEON);
		const int dot = (f & QNT_CPU_DOTPROD) != 0, i8mm = dot && (f & QNT_CPU_I8MM);
		assert_int_equal(p.score, (int32_t)(1 + QNT_CPU_NEON + (dot ? QNT_CPU_DOTPROD : 0) +
						    (i8mm ? QNT_CPU_I8MM : 0)));
		assert_string_equal(p.reason, "");
		assert_string_equal(qnt_backend_best(), "cpu-neon");
		print_message("# cpu-neon runs its %s product kernels\n",
			      i8mm ? "i8mm (SMMLA) and dotprod (SDOT)" : dot ? "dotprod (SDOT)" : "plain NEON");
		return;
	}
#if defined(__aarch64__)
	fail_msg("cpu-neon is not registered on AArch64");
#else
	print_message("# cpu-neon is not compiled in (not AArch64)\n");
#endif
}

static void neon_dequantize_bitexact(void **state)
{
	(void)state;
	dequantize_bitexact(&variants[1]);
}

static void neon_quantize_bitexact(void **state)
{
	(void)state;
	quantize_bitexact(&variants[1]);
}

int main(int argc, char **argv)
{
	simd_only = argc > 1 && strcmp(argv[1], "simd") == 0;
	if (argc > 1 && !simd_only) {
		fprintf(stderr, "test_matmul: unknown group '%s'\n", argv[1]);
		return 2;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(errors),
		cmocka_unit_test(avx2_score),
		cmocka_unit_test(neon_score),
		cmocka_unit_test(against_exact),
		cmocka_unit_test(against_exact_odd_blocks),
		cmocka_unit_test(against_exact_float_tails),
		cmocka_unit_test(threads_identical),
		cmocka_unit_test(avx2_dequantize_bitexact),
		cmocka_unit_test(avx2_quantize_bitexact),
		cmocka_unit_test(avx512_dequantize_bitexact),
		cmocka_unit_test(avx512_quantize_bitexact),
		cmocka_unit_test(x86_dequantize_large),
		cmocka_unit_test(simd_unaligned),
		cmocka_unit_test(neon_dequantize_bitexact),
		cmocka_unit_test(neon_quantize_bitexact),
	};
	return cmocka_run_group_tests_name(simd_only ? "matmul-simd" : "matmul", tests, NULL, NULL);
}
