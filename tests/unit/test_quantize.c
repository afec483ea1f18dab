/* SPDX-License-Identifier: MIT */
/*
 * qnt_quantize / qnt_dequantize: argument errors, round-trip accuracy of
 * every registered format, identical bytes for every thread count, and the
 * importance-weighted quantizers.
 */
#include "test_common.h"

#include <time.h>

#include "libqnt.h"

/* ---- helpers ---- */

static qnt_ctx *ctx_with_threads(int32_t n)
{
	qnt_ctx_opts o = QNT_CTX_OPTS_INIT;
	qnt_ctx *ctx = NULL;
	o.n_threads = n;
	if (qnt_ctx_create(&o, &ctx) != QNT_OK)
		fail_msg("qnt_ctx_create(%d threads): %s", (int)n, qnt_ctx_last_error(NULL));
	return ctx;
}

static int type_flags(qnt_type t)
{
	qnt_type_info info = QNT_TYPE_INFO_INIT;
	if (qnt_type_get_info(t, &info) != QNT_OK)
		fail_msg("qnt_type_get_info(%d) failed", (int)t);
	return (int)info.flags;
}

static int can_round_trip(qnt_type t)
{
	const int f = type_flags(t);
	return (f & QNT_TYPE_FLAG_QUANTIZE) && (f & QNT_TYPE_FLAG_DEQUANTIZE);
}

/* Checked quantize: fails the test with the library's message. */
static void quantize_ok(qnt_ctx *ctx, qnt_type t, const float *x, void *q, int64_t nrows, int64_t n,
			const float *imp)
{
	qnt_status st = qnt_quantize(ctx, t, x, q, nrows, n, imp);
	if (st != QNT_OK)
		fail_msg("qnt_quantize(%s, %lld x %lld): %s: %s", qnt_type_name(t), (long long)nrows, (long long)n,
			 qnt_status_name(st), qnt_ctx_last_error(ctx));
}

static void dequantize_ok(qnt_ctx *ctx, qnt_type t, const void *q, float *y, int64_t nrows, int64_t n)
{
	qnt_status st = qnt_dequantize(ctx, t, q, y, nrows, n);
	if (st != QNT_OK)
		fail_msg("qnt_dequantize(%s, %lld x %lld): %s: %s", qnt_type_name(t), (long long)nrows,
			 (long long)n, qnt_status_name(st), qnt_ctx_last_error(ctx));
}

/* Importance weights with a wide spread, some exactly zero. */
static void fill_importance(float *w, size_t n, uint64_t seed)
{
	struct test_rng r;
	rng_seed(&r, seed);
	for (size_t i = 0; i < n; i++) {
		double u = rng_uniform(&r);
		w[i] = u < 0.05 ? 0.0f : (float)exp(2.0 * rng_gauss(&r));
	}
}

static double weighted_sq_err(const float *x, const float *y, const float *w, int64_t n)
{
	double e = 0;
	for (int64_t j = 0; j < n; j++) {
		double d = (double)x[j] - (double)y[j];
		e += (double)(w ? w[j] : 1.0f) * d * d;
	}
	return e;
}

/* ---- argument errors ---- */

static void errors_null_pointers(void **state)
{
	qnt_ctx *ctx = *state;
	float x[32] = { 0 };
	unsigned char q[18];
	assert_int_equal(qnt_quantize(ctx, QNT_TYPE_Q4_0, NULL, q, 1, 32, NULL), QNT_E_INVALID_ARG);
	assert_contains(qnt_ctx_last_error(ctx), "qnt_quantize");
	assert_contains(qnt_ctx_last_error(ctx), "q4_0");
	assert_contains(qnt_ctx_last_error(ctx), "src");
	assert_int_equal(qnt_quantize(ctx, QNT_TYPE_Q4_0, x, NULL, 1, 32, NULL), QNT_E_INVALID_ARG);
	assert_contains(qnt_ctx_last_error(ctx), "qnt_quantize");
	assert_contains(qnt_ctx_last_error(ctx), "dst");
	assert_int_equal(qnt_dequantize(ctx, QNT_TYPE_Q8_0, NULL, x, 1, 32), QNT_E_INVALID_ARG);
	assert_contains(qnt_ctx_last_error(ctx), "qnt_dequantize");
	assert_contains(qnt_ctx_last_error(ctx), "q8_0");
	assert_contains(qnt_ctx_last_error(ctx), "src");
	assert_int_equal(qnt_dequantize(ctx, QNT_TYPE_Q8_0, q, NULL, 1, 32), QNT_E_INVALID_ARG);
	assert_contains(qnt_ctx_last_error(ctx), "dst");
	/* also with nrows == 0: the pointers are checked first */
	assert_int_equal(qnt_quantize(ctx, QNT_TYPE_Q4_0, NULL, q, 0, 32, NULL), QNT_E_INVALID_ARG);
	/* and on the default context */
	assert_int_equal(qnt_quantize(NULL, QNT_TYPE_F16, NULL, q, 1, 4, NULL), QNT_E_INVALID_ARG);
	assert_contains(qnt_ctx_last_error(NULL), "qnt_quantize");
	assert_contains(qnt_ctx_last_error(NULL), "f16");
}

static void errors_unknown_type(void **state)
{
	qnt_ctx *ctx = *state;
	float x[32] = { 0 };
	unsigned char q[64];
	const qnt_type bad[] = { QNT_TYPE_INVALID, 4, 5, 12345, INT32_MIN };
	for (size_t i = 0; i < N_ELEMS(bad); i++) {
		char id[32];
		snprintf(id, sizeof id, "%d", (int)bad[i]);
		assert_int_equal(qnt_quantize(ctx, bad[i], x, q, 1, 32, NULL), QNT_E_UNKNOWN_TYPE);
		assert_contains(qnt_ctx_last_error(ctx), "qnt_quantize");
		assert_contains(qnt_ctx_last_error(ctx), id);
		assert_int_equal(qnt_dequantize(ctx, bad[i], q, x, 1, 32), QNT_E_UNKNOWN_TYPE);
		assert_contains(qnt_ctx_last_error(ctx), "qnt_dequantize");
		assert_contains(qnt_ctx_last_error(ctx), id);
	}
}

static void errors_nrows(void **state)
{
	qnt_ctx *ctx = *state;
	float x[32] = { 0 };
	unsigned char q[18];
	const int64_t bad[] = { -1, -100, INT64_MIN };
	for (size_t i = 0; i < N_ELEMS(bad); i++) {
		assert_int_equal(qnt_quantize(ctx, QNT_TYPE_Q4_1, x, q, bad[i], 32, NULL), QNT_E_INVALID_ARG);
		assert_contains(qnt_ctx_last_error(ctx), "qnt_quantize");
		assert_contains(qnt_ctx_last_error(ctx), "q4_1");
		assert_contains(qnt_ctx_last_error(ctx), "nrows");
		assert_int_equal(qnt_dequantize(ctx, QNT_TYPE_Q4_1, q, x, bad[i], 32), QNT_E_INVALID_ARG);
		assert_contains(qnt_ctx_last_error(ctx), "qnt_dequantize");
		assert_contains(qnt_ctx_last_error(ctx), "nrows");
	}
}

static void errors_shape(void **state)
{
	qnt_ctx *ctx = *state;
	float x[256] = { 0 };
	unsigned char q[512];
	for (int32_t i = 0; i < qnt_type_count(); i++) {
		const qnt_type t = qnt_type_at(i);
		if (!can_round_trip(t))
			continue;
		const int64_t bs = qnt_type_block_size(t);
		int64_t bad[] = { 0, -1, -bs, INT64_MIN, bs + 1, 2 * bs - 1, bs / 2 };
		for (size_t k = 0; k < N_ELEMS(bad); k++) {
			if (bad[k] > 0 && bad[k] % bs == 0)
				continue; /* bs/2 or bs+1 with bs == 1 */
			memset(q, 0xEE, sizeof q);
			assert_int_equal(qnt_quantize(ctx, t, x, q, 1, bad[k], NULL), QNT_E_BAD_SHAPE);
			assert_contains(qnt_ctx_last_error(ctx), "qnt_quantize");
			assert_contains(qnt_ctx_last_error(ctx), qnt_type_name(t));
			assert_int_equal(qnt_dequantize(ctx, t, q, x, 1, bad[k]), QNT_E_BAD_SHAPE);
			assert_contains(qnt_ctx_last_error(ctx), "qnt_dequantize");
			assert_contains(qnt_ctx_last_error(ctx), qnt_type_name(t));
			for (size_t b = 0; b < sizeof q; b++)
				assert_int_equal(q[b], 0xEE);
		}
	}
	/* the message gives the block size */
	assert_int_equal(qnt_quantize(ctx, QNT_TYPE_Q5_1, x, q, 1, 40, NULL), QNT_E_BAD_SHAPE);
	assert_contains(qnt_ctx_last_error(ctx), "40");
	assert_contains(qnt_ctx_last_error(ctx), "32");
}

/* Sizes that overflow are refused before any memory is touched. */
static void errors_overflow(void **state)
{
	qnt_ctx *ctx = *state;
	float x[32] = { 0 };
	unsigned char q[64];
	assert_int_equal(qnt_quantize(ctx, QNT_TYPE_Q4_0, x, q, INT64_MAX / 16, 32, NULL), QNT_E_BAD_SHAPE);
	assert_contains(qnt_ctx_last_error(ctx), "overflow");
	assert_int_equal(qnt_quantize(ctx, QNT_TYPE_F32, x, q, 2, INT64_MAX, NULL), QNT_E_BAD_SHAPE);
	assert_int_equal(qnt_quantize(ctx, QNT_TYPE_F16, x, q, INT64_MAX, 2, NULL), QNT_E_BAD_SHAPE);
	assert_int_equal(qnt_dequantize(ctx, QNT_TYPE_Q8_0, q, x, INT64_MAX / 32, 64), QNT_E_BAD_SHAPE);
	assert_contains(qnt_ctx_last_error(ctx), "qnt_dequantize");
	assert_int_equal(qnt_dequantize(ctx, QNT_TYPE_F16, q, x, INT64_MAX / 2, 4), QNT_E_BAD_SHAPE);
}

static void errors_importance(void **state)
{
	qnt_ctx *ctx = *state;
	float x[64], w[64];
	unsigned char q[2 * 34];
	fill_gauss(x, 64, 3);
	const struct {
		int index;
		float value;
	} bad[] = { { 5, -1.0f }, { 0, -1e-30f }, { 17, NAN }, { 63, INFINITY }, { 40, -INFINITY } };
	const qnt_type types[] = { QNT_TYPE_Q4_0, QNT_TYPE_Q4_1, QNT_TYPE_Q5_0, QNT_TYPE_Q5_1, QNT_TYPE_Q8_0 };
	for (size_t ti = 0; ti < N_ELEMS(types); ti++) {
		for (size_t i = 0; i < N_ELEMS(bad); i++) {
			char where[32];
			for (int j = 0; j < 64; j++)
				w[j] = 1.0f;
			w[bad[i].index] = bad[i].value;
			memset(q, 0xEE, sizeof q);
			assert_int_equal(qnt_quantize(ctx, types[ti], x, q, 1, 64, w), QNT_E_INVALID_ARG);
			assert_contains(qnt_ctx_last_error(ctx), "qnt_quantize");
			assert_contains(qnt_ctx_last_error(ctx), qnt_type_name(types[ti]));
			snprintf(where, sizeof where, "importance[%d]", bad[i].index);
			assert_contains(qnt_ctx_last_error(ctx), where);
			for (size_t b = 0; b < sizeof q; b++)
				assert_int_equal(q[b], 0xEE); /* refused before any work */
		}
	}
	/* -0.0 and zero are valid weights; so are huge finite ones */
	for (int j = 0; j < 64; j++)
		w[j] = j % 2 ? -0.0f : 3e38f;
	assert_int_equal(qnt_quantize(ctx, QNT_TYPE_Q4_0, x, q, 1, 64, w), QNT_OK);
}

/* nrows == 0 is a valid empty tensor: OK, nothing written. */
static void zero_rows(void **state)
{
	qnt_ctx *ctx = *state;
	float x[256];
	unsigned char q[1024];
	fill_gauss(x, 256, 4);
	for (int32_t i = 0; i < qnt_type_count(); i++) {
		const qnt_type t = qnt_type_at(i);
		if (!can_round_trip(t))
			continue;
		memset(q, 0xEE, sizeof q);
		assert_int_equal(qnt_quantize(ctx, t, x, q, 0, 256, NULL), QNT_OK);
		for (size_t b = 0; b < sizeof q; b++)
			assert_int_equal(q[b], 0xEE);
		float y[256];
		memcpy(y, x, sizeof y);
		assert_int_equal(qnt_dequantize(ctx, t, q, y, 0, 256), QNT_OK);
		assert_memory_equal(y, x, sizeof y);
		assert_string_equal(qnt_ctx_last_error(ctx), "");
	}
}

/* ---- accuracy ---- */

/* Relative RMSE bounds on N(0,1) data, 64 x 4096, without importance:
 * the measured values (in the comments) plus about 15%. */
static const struct {
	const char *name;
	double bound;
} rmse_bounds[] = {
	{ "f32", 0.0 },      /* exact */
	{ "f16", 2.4e-4 },   /* 2.08e-4 */
	{ "bf16", 1.9e-3 },  /* 1.67e-3 */
	{ "q4_0", 0.099 },   /* 0.0862 */
	{ "q4_1", 0.090 },   /* 0.0783 */
	{ "q5_0", 0.049 },   /* 0.0427 */
	{ "q5_1", 0.0436 },  /* 0.0379 */
	{ "q8_0", 6.2e-3 },  /* 5.37e-3 */
	{ "q8_1", 6.2e-3 },  /* 5.37e-3 */
	{ "q2_K", 0.34 },    /* 0.296 */
	{ "q3_K", 0.174 },   /* 0.151 */
	{ "q4_K", 0.082 },   /* 0.0714 */
	{ "q5_K", 0.0416 },  /* 0.0362 */
	{ "q6_K", 0.0204 },  /* 0.0177 */
	{ "q8_K", 8.0e-3 },  /* 6.98e-3 */
};

/* A format this table does not know yet: a loose bound that only catches
 * gross breakage: from its bit rate (a uniform quantizer of b bits over about
 * +-3 sigma, times 3), at least 0.05 (float-coded formats such as mxfp8 do
 * worse than the uniform model) and at most 1 (no better than zeros). Add the
 * format to the table with a measured bound. */
static double rmse_bound(qnt_type t, int *known_bound)
{
	for (size_t i = 0; i < N_ELEMS(rmse_bounds); i++) {
		if (strcmp(rmse_bounds[i].name, qnt_type_name(t)) == 0) {
			*known_bound = 1;
			return rmse_bounds[i].bound;
		}
	}
	qnt_type_info info = QNT_TYPE_INFO_INIT;
	qnt_type_get_info(t, &info);
	*known_bound = 0;
	const double b = 3.0 * 6.0 / sqrt(12.0) / pow(2.0, info.bits_per_weight - 0.5);
	return b < 0.05 ? 0.05 : b > 1.0 ? 1.0 : b;
}

static double rel_rmse(const float *x, const float *y, size_t n)
{
	double e = 0, s = 0;
	for (size_t i = 0; i < n; i++) {
		double d = (double)x[i] - (double)y[i];
		e += d * d;
		s += (double)x[i] * x[i];
	}
	return sqrt(e / s);
}

static void round_trip_accuracy(void **state)
{
	qnt_ctx *ctx = *state;
	const int64_t nrows = 64, n = 4096;
	float *x = test_malloc_or_fail((size_t)(nrows * n) * sizeof(float));
	float *y = test_malloc_or_fail((size_t)(nrows * n) * sizeof(float));
	unsigned char *q = test_malloc_or_fail((size_t)nrows * (size_t)n * 4);
	fill_gauss(x, (size_t)(nrows * n), 11);
	int tested = 0;
	for (int32_t i = 0; i < qnt_type_count(); i++) {
		const qnt_type t = qnt_type_at(i);
		if (!can_round_trip(t))
			continue;
		assert_int_equal(n % qnt_type_block_size(t), 0);
		quantize_ok(ctx, t, x, q, nrows, n, NULL);
		dequantize_ok(ctx, t, q, y, nrows, n);
		int known_bound;
		const double err = rel_rmse(x, y, (size_t)(nrows * n));
		const double bound = rmse_bound(t, &known_bound);
		print_message("# %-6s relative RMSE %.4g (bound %.4g%s)\n", qnt_type_name(t), err, bound,
			      known_bound ? "" : ", from the bit rate");
		if (!(err <= bound))
			fail_msg("%s: relative RMSE %g above %g", qnt_type_name(t), err, bound);
		if (strcmp(qnt_type_name(t), "f32") == 0)
			assert_memory_equal(x, y, (size_t)(nrows * n) * sizeof(float));
		tested++;
	}
	assert_true(tested >= 9);
	free(x);
	free(y);
	free(q);
}

/* Rows of values each format stores exactly come back unchanged; so do
 * rows of zeros. */
static void round_trip_exact_values(void **state)
{
	qnt_ctx *ctx = *state;
	const struct {
		qnt_type t;
		int lo, hi; /* integers lo..hi, with lo or hi the absolute maximum */
	} cases[] = {
		{ QNT_TYPE_Q4_0, -8, 7 },     { QNT_TYPE_Q4_1, 0, 15 },    { QNT_TYPE_Q5_0, -16, 15 },
		{ QNT_TYPE_Q5_1, 0, 31 },     { QNT_TYPE_Q8_0, -127, 127 }, { QNT_TYPE_Q8_1, -127, 127 },
		{ QNT_TYPE_F16, -2048, 2048 }, { QNT_TYPE_BF16, -256, 256 }, { QNT_TYPE_F32, -100000, 100000 },
	};
	float x[4 * 32], y[4 * 32];
	unsigned char q[4 * 32 * 4];
	for (size_t c = 0; c < N_ELEMS(cases); c++) {
		struct test_rng r;
		rng_seed(&r, 100 + c);
		const int span = cases[c].hi - cases[c].lo + 1;
		for (int b = 0; b < 4; b++) {
			for (int j = 0; j < 32; j++)
				x[b * 32 + j] = (float)(cases[c].lo + (int)(rng_next(&r) % (uint64_t)span));
			/* pin the extreme that fixes the scale */
			x[b * 32 + (b * 7) % 32] = (float)(-cases[c].lo > cases[c].hi ? cases[c].lo : cases[c].hi);
			if (cases[c].lo == 0)
				x[b * 32 + (b * 7 + 1) % 32] = 0.0f; /* and the minimum */
		}
		quantize_ok(ctx, cases[c].t, x, q, 4, 32, NULL);
		dequantize_ok(ctx, cases[c].t, q, y, 4, 32);
		for (int k = 0; k < 4 * 32; k++)
			if (x[k] != y[k])
				fail_msg("%s: element %d: %g came back as %g", qnt_type_name(cases[c].t), k,
					 (double)x[k], (double)y[k]);

		memset(x, 0, sizeof x);
		quantize_ok(ctx, cases[c].t, x, q, 4, 32, NULL);
		for (int k = 0; k < 4 * 32; k++)
			y[k] = 1.0f;
		dequantize_ok(ctx, cases[c].t, q, y, 4, 32);
		for (int k = 0; k < 4 * 32; k++)
			assert_true(y[k] == 0.0f);
	}
}

/* One q4_0 block worked out by hand from ggml's reference rounding:
 * x_j = j - 16, so the scale d = -16 / -8 = 2 and code = min(15, (int)(x/2 + 8.5)). */
static void q4_0_known_block(void **state)
{
	qnt_ctx *ctx = *state;
	float x[32], y[32];
	unsigned char q[18];
	static const unsigned char want[18] = { 0x00, 0x40, /* fp16 2.0 */
						0x80, 0x91, 0x91, 0xA2, 0xA2, 0xB3, 0xB3, 0xC4,
						0xC4, 0xD5, 0xD5, 0xE6, 0xE6, 0xF7, 0xF7, 0xF8 };
	for (int j = 0; j < 32; j++)
		x[j] = (float)(j - 16);
	quantize_ok(ctx, QNT_TYPE_Q4_0, x, q, 1, 32, NULL);
	assert_memory_equal(q, want, sizeof want);
	dequantize_ok(ctx, QNT_TYPE_Q4_0, q, y, 1, 32);
	assert_true(y[0] == -16.0f);
	assert_true(y[1] == -14.0f); /* -15 rounds up (truncation after + 8.5) */
	assert_true(y[16] == 0.0f);
	assert_true(y[31] == 14.0f); /* 15 clamps to code 15 */
}

/* ---- determinism ---- */

struct shape {
	int64_t nrows;
	int64_t blocks; /* n_per_row in blocks */
};

/* Quantizes (and dequantizes) with 1, 2 and 7 threads and on the default
 * context; every result must be identical. */
static void check_same_bytes(qnt_ctx *const *ctxs, size_t n_ctx, qnt_type t, const float *x, int64_t nrows,
			     int64_t n, const float *imp)
{
	const size_t qbytes = qnt_row_size(t, n) * (size_t)nrows;
	const size_t fbytes = (size_t)(nrows * n) * sizeof(float);
	unsigned char *q0 = test_malloc_or_fail(qbytes), *q1 = test_malloc_or_fail(qbytes);
	float *y0 = test_malloc_or_fail(fbytes), *y1 = test_malloc_or_fail(fbytes);
	quantize_ok(ctxs[0], t, x, q0, nrows, n, imp);
	dequantize_ok(ctxs[0], t, q0, y0, nrows, n);
	for (size_t c = 1; c < n_ctx; c++) {
		memset(q1, 0xEE, qbytes);
		quantize_ok(ctxs[c], t, x, q1, nrows, n, imp);
		if (memcmp(q0, q1, qbytes) != 0) {
			size_t k = 0;
			while (q0[k] == q1[k])
				k++;
			fail_msg("%s %lld x %lld%s: context %zu (%d threads) differs at byte %zu (row %zu)",
				 qnt_type_name(t), (long long)nrows, (long long)n, imp ? " with importance" : "", c,
				 ctxs[c] ? (int)qnt_ctx_n_threads(ctxs[c]) : -1, k, k / qnt_row_size(t, n));
		}
		memset(y1, 0xEE, fbytes);
		dequantize_ok(ctxs[c], t, q0, y1, nrows, n);
		assert_memory_equal(y0, y1, fbytes);
	}
	free(q0);
	free(q1);
	free(y0);
	free(y1);
}

static void determinism(void **state)
{
	(void)state;
	qnt_ctx *ctxs[4] = { ctx_with_threads(1), ctx_with_threads(2), ctx_with_threads(7), NULL };
	/* 128 x 4096: 16 chunks of 8 rows, more than the threads; the odd shapes
	 * exercise one chunk, partial last chunks and rows shorter than a chunk */
	const struct shape shapes[] = { { 1, 1 }, { 3, 3 }, { 5, 7 }, { 13, 5 }, { 37, 1 }, { 300, 1 }, { 601, 3 } };
	const int64_t big_rows = 128, big_n = 4096;
	float *x = test_malloc_or_fail((size_t)(big_rows * big_n) * sizeof(float));
	float *w = test_malloc_or_fail((size_t)big_n * sizeof(float));
	fill_gauss(x, (size_t)(big_rows * big_n), 21);
	fill_importance(w, (size_t)big_n, 22);
	/* make some rows special: zeros, a constant, an outlier */
	memset(x + 7 * big_n, 0, (size_t)big_n * sizeof(float));
	for (int64_t j = 0; j < big_n; j++)
		x[8 * big_n + j] = 0.25f;
	x[9 * big_n + 100] = 1e4f;

	int tested = 0;
	for (int32_t i = 0; i < qnt_type_count(); i++) {
		const qnt_type t = qnt_type_at(i);
		if (!can_round_trip(t))
			continue;
		const int64_t bs = qnt_type_block_size(t);
		struct timespec t0, t1;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		/* formats without FLAG_IMPORTANCE ignore the weights (checked by
		 * zero_importance_is_none): one pass is enough for them */
		const int passes = (type_flags(t) & QNT_TYPE_FLAG_IMPORTANCE) ? 2 : 1;
		for (int with_imp = 0; with_imp < passes; with_imp++) {
			const float *imp = with_imp ? w : NULL;
			/* the default context is left out here: it only costs time */
			check_same_bytes(ctxs, N_ELEMS(ctxs) - 1, t, x, big_rows, big_n, imp);
			for (size_t s = 0; s < N_ELEMS(shapes); s++) {
				const int64_t n = shapes[s].blocks * bs;
				if (shapes[s].nrows * n > big_rows * big_n || n > big_n)
					continue;
				check_same_bytes(ctxs, N_ELEMS(ctxs), t, x, shapes[s].nrows, n, imp);
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		print_message("# %-5s identical for 1, 2 and 7 threads (%.2f s)\n",
			      qnt_type_name(t), (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec));
		tested++;
	}
	assert_true(tested >= 9);
	for (size_t c = 0; c < N_ELEMS(ctxs); c++)
		qnt_ctx_destroy(ctxs[c]);
	free(x);
	free(w);
}

/* A row gives the same bytes wherever it sits in the tensor. */
static void rows_are_independent(void **state)
{
	qnt_ctx *ctx = *state;
	const int64_t nrows = 40, n = 512;
	float *x = test_malloc_or_fail((size_t)(nrows * n) * sizeof(float));
	float w[512];
	unsigned char *q = test_malloc_or_fail((size_t)(nrows * n) * 4);
	unsigned char one[512 * 4];
	fill_gauss(x, (size_t)(nrows * n), 31);
	fill_importance(w, 512, 32);
	for (int32_t i = 0; i < qnt_type_count(); i++) {
		const qnt_type t = qnt_type_at(i);
		if (!can_round_trip(t))
			continue;
		const size_t rs = qnt_row_size(t, n);
		for (int with_imp = 0; with_imp < 2; with_imp++) {
			const float *imp = with_imp ? w : NULL;
			quantize_ok(ctx, t, x, q, nrows, n, imp);
			const int64_t rows[] = { 0, 17, nrows - 1 };
			for (size_t k = 0; k < N_ELEMS(rows); k++) {
				quantize_ok(ctx, t, x + rows[k] * n, one, 1, n, imp);
				assert_memory_equal(one, q + (size_t)rows[k] * rs, rs);
			}
		}
	}
	free(x);
	free(q);
}

/* ---- importance ---- */

static const qnt_type imp_types[] = { QNT_TYPE_Q4_0, QNT_TYPE_Q4_1, QNT_TYPE_Q5_0, QNT_TYPE_Q5_1,
				      QNT_TYPE_Q8_0 };

/* Per row, the weighted error with importance is never above that of the
 * plain (ggml reference) bytes, and overall it is clearly lower. */
static void importance_lowers_weighted_error(void **state)
{
	qnt_ctx *ctx = *state;
	const int64_t nrows = 64, n = 1024;
	float *x = test_malloc_or_fail((size_t)(nrows * n) * sizeof(float));
	float *y_ref = test_malloc_or_fail((size_t)(nrows * n) * sizeof(float));
	float *y_imp = test_malloc_or_fail((size_t)(nrows * n) * sizeof(float));
	float *w = test_malloc_or_fail((size_t)n * sizeof(float));
	unsigned char *q = test_malloc_or_fail((size_t)(nrows * n) * 2);
	fill_gauss(x, (size_t)(nrows * n), 41);
	fill_importance(w, (size_t)n, 42);
	for (size_t ti = 0; ti < N_ELEMS(imp_types); ti++) {
		const qnt_type t = imp_types[ti];
		assert_true(type_flags(t) & QNT_TYPE_FLAG_IMPORTANCE);
		quantize_ok(ctx, t, x, q, nrows, n, NULL);
		dequantize_ok(ctx, t, q, y_ref, nrows, n);
		quantize_ok(ctx, t, x, q, nrows, n, w);
		dequantize_ok(ctx, t, q, y_imp, nrows, n);
		double sum_ref = 0, sum_imp = 0;
		int better_rows = 0;
		for (int64_t r = 0; r < nrows; r++) {
			const double e_ref = weighted_sq_err(x + r * n, y_ref + r * n, w, n);
			const double e_imp = weighted_sq_err(x + r * n, y_imp + r * n, w, n);
			if (!(e_imp <= e_ref))
				fail_msg("%s row %lld: weighted error %.9g with importance, %.9g without",
					 qnt_type_name(t), (long long)r, e_imp, e_ref);
			better_rows += e_imp < e_ref;
			sum_ref += e_ref;
			sum_imp += e_imp;
		}
		print_message("# %-5s weighted error with importance / without: %.4f (%d of %lld rows better)\n",
			      qnt_type_name(t), sum_imp / sum_ref, better_rows, (long long)nrows);
		assert_true(sum_imp < sum_ref);
		assert_true(sum_imp < 0.8 * sum_ref); /* measured 0.35 to 0.55 */
		assert_true(better_rows > nrows / 2);
	}
	free(x);
	free(y_ref);
	free(y_imp);
	free(w);
	free(q);
}

/* All-zero importance is the same as none; so is a block whose weights are
 * all zero. Formats without FLAG_IMPORTANCE ignore the weights. */
static void zero_importance_is_none(void **state)
{
	qnt_ctx *ctx = *state;
	const int64_t nrows = 8, n = 512;
	float x[8 * 512], w[512];
	unsigned char a[8 * 512 * 4], b[8 * 512 * 4];
	fill_gauss(x, N_ELEMS(x), 51);
	for (int32_t i = 0; i < qnt_type_count(); i++) {
		const qnt_type t = qnt_type_at(i);
		if (!can_round_trip(t))
			continue;
		const size_t bytes = qnt_row_size(t, n) * (size_t)nrows;
		quantize_ok(ctx, t, x, a, nrows, n, NULL);
		memset(w, 0, sizeof w);
		memset(b, 0xEE, sizeof b);
		quantize_ok(ctx, t, x, b, nrows, n, w);
		assert_memory_equal(a, b, bytes);

		if (!(type_flags(t) & QNT_TYPE_FLAG_IMPORTANCE)) {
			fill_importance(w, 512, 52);
			quantize_ok(ctx, t, x, b, nrows, n, w);
			assert_memory_equal(a, b, bytes);
		}
	}
	/* a block of zero weights inside non-zero importance: reference bytes */
	for (size_t ti = 0; ti < N_ELEMS(imp_types); ti++) {
		const qnt_type t = imp_types[ti];
		const size_t bb = qnt_type_block_bytes(t);
		fill_importance(w, 512, 53);
		for (int j = 64; j < 96; j++) /* block 2 */
			w[j] = 0.0f;
		quantize_ok(ctx, t, x, a, 1, n, NULL);
		quantize_ok(ctx, t, x, b, 1, n, w);
		assert_memory_equal(a + 2 * bb, b + 2 * bb, bb);
		assert_memory_not_equal(a, b, qnt_row_size(t, n)); /* the others did move */
	}
}

/* Uniform importance still gives valid, no-worse blocks (unweighted
 * error). */
static void uniform_importance(void **state)
{
	qnt_ctx *ctx = *state;
	const int64_t nrows = 16, n = 256;
	float x[16 * 256], y[16 * 256], w[256];
	unsigned char q[16 * 256 * 2];
	fill_gauss(x, N_ELEMS(x), 61);
	for (int j = 0; j < 256; j++)
		w[j] = 1.0f;
	for (size_t ti = 0; ti < N_ELEMS(imp_types); ti++) {
		const qnt_type t = imp_types[ti];
		quantize_ok(ctx, t, x, q, nrows, n, NULL);
		dequantize_ok(ctx, t, q, y, nrows, n);
		const double e_ref = weighted_sq_err(x, y, NULL, nrows * n);
		quantize_ok(ctx, t, x, q, nrows, n, w);
		dequantize_ok(ctx, t, q, y, nrows, n);
		const double e_imp = weighted_sq_err(x, y, NULL, nrows * n);
		assert_true(e_imp <= e_ref);
		for (size_t k = 0; k < N_ELEMS(y); k++)
			assert_true(isfinite(y[k]));
	}
}

/* The default backend (cpu-avx2 where the CPU has it: its quantizers are
 * the reference's compiled for AVX2) writes the bytes of the "cpu" backend
 * (the scalar reference) for every format, with and without importance, on
 * ordinary rows and on rows with NaN (random bit patterns), infinities,
 * huge, subnormal, zero and constant values. */
static void backends_agree(void **state)
{
	(void)state;
	qnt_ctx_opts o = QNT_CTX_OPTS_INIT;
	qnt_ctx *ref = NULL, *def = NULL;
	o.n_threads = 1;
	o.backend = "cpu";
	if (qnt_ctx_create(&o, &ref) != QNT_OK)
		fail_msg("qnt_ctx_create(cpu): %s", qnt_ctx_last_error(NULL));
	o.backend = NULL;
	if (qnt_ctx_create(&o, &def) != QNT_OK)
		fail_msg("qnt_ctx_create(default): %s", qnt_ctx_last_error(NULL));
	enum { ROWS = 12, N = 1024 };
	float *x = test_malloc_or_fail(sizeof(float) * ROWS * N), w[N];
	struct test_rng r;
	rng_seed(&r, 41);
	fill_gauss(x, (size_t)6 * N, 42); /* rows 0-5 Gaussian; row 1 heavy-tailed */
	for (int j = 0; j < N; j++) {
		const float g = x[N + j];
		x[N + j] = g * g * g;
		uint32_t bits = (uint32_t)rng_next(&r); /* row 6: any bits, NaN included */
		memcpy(&x[6 * N + j], &bits, sizeof bits);
		x[7 * N + j] = x[j] * 3e37f;  /* huge: squares overflow */
		x[8 * N + j] = x[j] * 1e-42f; /* subnormal */
		x[9 * N + j] = 0.0f;
		x[10 * N + j] = -0.5f;
		x[11 * N + j] = x[2 * N + j];
	}
	x[11 * N + 5] = INFINITY;
	x[11 * N + 700] = -INFINITY;
	x[3 * N + 77] = NAN;
	fill_importance(w, N, 43);
	const size_t max_bytes = (size_t)ROWS * N * 4;
	unsigned char *q0 = test_malloc_or_fail(max_bytes), *q1 = test_malloc_or_fail(max_bytes);
	int tested = 0;
	for (int32_t i = 0; i < qnt_type_count(); i++) {
		const qnt_type t = qnt_type_at(i);
		if (!(type_flags(t) & QNT_TYPE_FLAG_QUANTIZE) || qnt_row_size(t, N) == 0)
			continue;
		const size_t bytes = qnt_row_size(t, N) * ROWS;
		for (int with_imp = 0; with_imp < 2; with_imp++) {
			const float *imp = with_imp ? w : NULL;
			memset(q0, 0x11, bytes);
			memset(q1, 0xEE, bytes);
			quantize_ok(ref, t, x, q0, ROWS, N, imp);
			quantize_ok(def, t, x, q1, ROWS, N, imp);
			if (memcmp(q0, q1, bytes) != 0) {
				size_t k = 0;
				while (q0[k] == q1[k])
					k++;
				fail_msg("%s%s: backend %s differs from cpu at byte %zu (row %zu)", qnt_type_name(t),
					 imp ? " with importance" : "", qnt_ctx_backend_name(def), k,
					 k / qnt_row_size(t, N));
			}
		}
		tested++;
	}
	print_message("# %d formats: backend %s gives the bytes of cpu\n", tested, qnt_ctx_backend_name(def));
	assert_true(tested >= 20);
	free(x);
	free(q0);
	free(q1);
	qnt_ctx_destroy(ref);
	qnt_ctx_destroy(def);
}

static int setup_ctx(void **state)
{
	qnt_ctx_opts o = QNT_CTX_OPTS_INIT;
	qnt_ctx *ctx = NULL;
	o.n_threads = 2;
	if (qnt_ctx_create(&o, &ctx) != QNT_OK)
		return -1;
	*state = ctx;
	return 0;
}

static int teardown_ctx(void **state)
{
	qnt_ctx_destroy(*state);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(errors_null_pointers),
		cmocka_unit_test(errors_unknown_type),
		cmocka_unit_test(errors_nrows),
		cmocka_unit_test(errors_shape),
		cmocka_unit_test(errors_overflow),
		cmocka_unit_test(errors_importance),
		cmocka_unit_test(zero_rows),
		cmocka_unit_test(round_trip_accuracy),
		cmocka_unit_test(round_trip_exact_values),
		cmocka_unit_test(q4_0_known_block),
		cmocka_unit_test(rows_are_independent),
		cmocka_unit_test(importance_lowers_weighted_error),
		cmocka_unit_test(zero_importance_is_none),
		cmocka_unit_test(uniform_importance),
		cmocka_unit_test(determinism),
		cmocka_unit_test(backends_agree),
	};
	if (getenv("QNT_TEST_FILTER"))
		cmocka_set_test_filter(getenv("QNT_TEST_FILTER"));
	int rc = cmocka_run_group_tests_name("quantize", tests, setup_ctx, teardown_ctx);
	qnt_shutdown();
	return rc;
}
