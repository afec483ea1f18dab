/* SPDX-License-Identifier: MIT */
/*
 * Conformance of the "vulkan" backend module against the scalar CPU
 * reference (the "cpu" backend):
 *   - dequantize: the floats of the reference bit for bit, on quantized
 *     Gaussian data and on random bytes (random scales included: a NaN must
 *     come back as a NaN, its payload may differ), odd row counts;
 *   - matmul: every format against the exact product (double) of the
 *     dequantized W with x, within the per-format tolerance of
 *     tests/unit/test_matmul.c, for 1, 3, 5 and 9 columns and odd n_out;
 *   - the vtable directly: device props, buffers (alloc, write, jobs on
 *     device memory, read), and errors: unsupported types and bad ranges
 *     give a status, an old host ABI no vtable.
 * Modes (argv[1]):
 *   (none)       the above; skips (77) when the backend scores 0 here,
 *                fails instead when QNT_REQUIRE_VULKAN=1
 *   default-ctx  run with QNT_BACKEND=vulkan: the default context is on
 *                vulkan and qnt_dequantize / qnt_matmul / qnt_quantize run
 *   no-icd       run with no Vulkan driver: the module loads, scores 0
 *                with a reason, and libqnt still works
 * The module path is VK_MODULE (set by tests/vulkan/meson.build).
 */
#include "test_backend.h"

#include "libqnt.h"
#include "libqnt_backend.h"


/* Every format of the registry that qnt_dequantize reads: the backend
 * runs them all (GGUF and MLX). */
static qnt_type vk_types[256];
static size_t n_vk_types;

static void list_types(void)
{
	n_vk_types = 0;
	for (int32_t i = 0; i < qnt_type_count() && n_vk_types < N_ELEMS(vk_types); i++) {
		qnt_type_info ti = QNT_TYPE_INFO_INIT;
		const qnt_type t = qnt_type_at(i);
		if (qnt_type_get_info(t, &ti) == QNT_OK && (ti.flags & QNT_TYPE_FLAG_DEQUANTIZE))
			vk_types[n_vk_types++] = t;
	}
}

static void dequantize_bit_exact(void **state)
{
	(void)state;
	qnt_ctx *vk = ctx_on("vulkan", 2), *cpu = ctx_on("cpu", 2);
	struct test_rng r;
	rng_seed(&r, 42);
	for (size_t k = 0; k < n_vk_types; k++) {
		const qnt_type t = vk_types[k];
		const int64_t bs = qnt_type_block_size(t);
		const int64_t shapes[][2] = { { 1, bs }, { 7, 3 * bs }, { 13, 5 * bs }, { 3, 1024 } };
		for (size_t s = 0; s < N_ELEMS(shapes); s++) {
			const int64_t nrows = shapes[s][0], n = shapes[s][1] < bs ? bs : shapes[s][1];
			if (n % bs)
				continue;
			const size_t bytes = (size_t)nrows * qnt_row_size(t, n);
			/* quantized Gaussian data */
			float *x = test_malloc_or_fail((size_t)(nrows * n) * sizeof(float));
			fill_gauss(x, (size_t)(nrows * n), 7 + k * 31 + s);
			uint8_t *q = test_malloc_or_fail(bytes);
			assert_int_equal(qnt_quantize(cpu, t, x, q, nrows, n, NULL), QNT_OK);
			check_dequant(vk, cpu, t, q, nrows, n, "quantized data");
			/* random bytes: every bit pattern of scales and codes */
			for (size_t i = 0; i < bytes; i++)
				q[i] = (uint8_t)rng_next(&r);
			check_dequant(vk, cpu, t, q, nrows, n, "random bytes");
			free(x);
			free(q);
		}
		print_message("# dequantize %-22s bit-exact (quantized data and random bytes)\n", qnt_type_name(t));
	}
	qnt_ctx_destroy(vk);
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
	static const char *const q8[] = { "q4_0", "q5_0", "q8_0", "iq4_nl", "mxfp4", "nvfp4", "q1_0", "q2_0",
					  "q4_1", "q5_1", NULL };
	static const char *const q8_K[] = { "q2_K",  "q3_K",  "q4_K",   "q5_K",  "q6_K",  "iq2_xxs", "iq2_xs",
					    "iq3_xxs", "iq1_s", "iq3_s", "iq2_s", "iq4_xs", "iq1_m", "tq1_0",
					    "tq2_0", NULL };
	const char *name = qnt_type_name(type);
	if (in_list(name, q8))
		return 1e-2;
	if (in_list(name, q8_K))
		return 1.5e-2;
	return 1e-5;
}

static void matmul_within_tolerance(void **state)
{
	(void)state;
	qnt_ctx *vk = ctx_on("vulkan", 2), *cpu = ctx_on("cpu", 2);
	const int64_t n_out = 37, n_max = 784;
	const int64_t cols[] = { 1, 3, 5, 9 };
	float *w = test_malloc_or_fail((size_t)(n_out * n_max) * sizeof(float));
	float *wd = test_malloc_or_fail((size_t)(n_out * n_max) * sizeof(float));
	float *x = test_malloc_or_fail((size_t)(9 * n_max) * sizeof(float));
	float *y = test_malloc_or_fail((size_t)(9 * n_out) * sizeof(float));
	float *yr = test_malloc_or_fail((size_t)(9 * n_out) * sizeof(float));
	for (size_t k = 0; k < n_vk_types; k++) {
		const qnt_type t = vk_types[k];
		/* 768: a multiple of every block; 784 = 49 x 16: rows that end
		 * inside a run of 32 (groups of 16) */
		const int64_t n_in = qnt_type_block_size(t) == 16 ? 784 : 768;
		uint8_t *q = test_malloc_or_fail((size_t)n_out * qnt_row_size(t, n_in));
		fill_gauss(w, (size_t)(n_out * n_in), 100 + k);
		assert_int_equal(qnt_quantize(cpu, t, w, q, n_out, n_in, NULL), QNT_OK);
		assert_int_equal(qnt_dequantize(cpu, t, q, wd, n_out, n_in), QNT_OK);
		double worst = 0, worst_ref = 0;
		for (size_t ci = 0; ci < N_ELEMS(cols); ci++) {
			const int64_t nc = cols[ci];
			fill_gauss(x, (size_t)(nc * n_in), 900 + ci);
			for (int64_t i = 0; i < nc * n_out; i++)
				y[i] = NAN;
			assert_int_equal(qnt_matmul(vk, t, q, n_out, n_in, x, nc, y), QNT_OK);
			assert_int_equal(qnt_matmul(cpu, t, q, n_out, n_in, x, nc, yr), QNT_OK);
			double d = 0, s = 0, dr = 0;
			for (int64_t c = 0; c < nc; c++)
				for (int64_t i = 0; i < n_out; i++) {
					double e = 0;
					for (int64_t j = 0; j < n_in; j++)
						e += (double)wd[i * n_in + j] * (double)x[c * n_in + j];
					const double v = y[c * n_out + i], vr = yr[c * n_out + i];
					d += (v - e) * (v - e);
					dr += (vr - e) * (vr - e);
					s += e * e;
				}
			const double err = sqrt(d) / sqrt(s), err_ref = sqrt(dr) / sqrt(s);
			if (!(err <= tolerance(t)))
				fail_msg("%s, %lld columns: relative error %.3e above %.1e", qnt_type_name(t), (long long)nc,
					 err, tolerance(t));
			worst = err > worst ? err : worst;
			worst_ref = err_ref > worst_ref ? err_ref : worst_ref;
		}
		print_message("# matmul %-22s tol %.1e  vulkan %.2e  cpu reference %.2e\n", qnt_type_name(t), tolerance(t),
			      worst, worst_ref);
		free(q);
	}
	free(w);
	free(wd);
	free(x);
	free(y);
	free(yr);
	qnt_ctx_destroy(vk);
	qnt_ctx_destroy(cpu);
}

/* ---- quantize ---- */

static void check_quant_bytes(qnt_ctx *vk, qnt_ctx *cpu, qnt_type t, const float *x, const float *imp, int64_t nrows,
			      int64_t n, const char *what, uint8_t *a, uint8_t *b)
{
	const size_t bytes = (size_t)nrows * qnt_row_size(t, n), bb = qnt_type_block_bytes(t);
	memset(a, 0xa5, bytes);
	assert_int_equal(qnt_quantize(vk, t, x, a, nrows, n, imp), QNT_OK);
	assert_int_equal(qnt_quantize(cpu, t, x, b, nrows, n, imp), QNT_OK);
	for (size_t i = 0; i < bytes; i++)
		if (a[i] != b[i])
			fail_msg("%s %lld x %lld, %s: byte %zu (block %zu) is 0x%02x on vulkan, 0x%02x in the reference",
				 qnt_type_name(t), (long long)nrows, (long long)n, what, i, i / bb, a[i], b[i]);
}

/* q4_0..q8_0 and the MLX affine formats on the device: the reference's bytes for
 * Gaussian rows at scales from subnormal to near overflow (and beyond the
 * f16 range), blocks of zeros, odd row counts; rows holding NaN or an
 * infinity, and importance weights, go to the reference's code on the
 * host, so the bytes agree too. */
static void quantize_bytes(void **state)
{
	(void)state;
	qnt_ctx *vk = ctx_on("vulkan", 2), *cpu = ctx_on("cpu", 2);
	const int64_t shapes[][2] = { { 1, 128 }, { 7, 384 }, { 13, 640 }, { 3, 4096 } };
	const float scales[] = { 1.0f, 1e-41f, 3e-39f, 1e-30f, 6e-5f, 1e3f, 3e4f, 1e30f, 1.5e38f };
	size_t n_types = 0;
	for (size_t k = 0; k < n_vk_types; k++) {
		const qnt_type t = vk_types[k];
		if (t != QNT_TYPE_Q4_0 && t != QNT_TYPE_Q4_1 && t != QNT_TYPE_Q5_0 && t != QNT_TYPE_Q5_1 &&
		    t != QNT_TYPE_Q8_0 && strncmp(qnt_type_name(t), "mlx:affine:", 11) != 0)
			continue;
		n_types++;
		for (size_t si = 0; si < N_ELEMS(shapes); si++) {
			const int64_t nrows = shapes[si][0], n = shapes[si][1];
			const size_t bytes = (size_t)nrows * qnt_row_size(t, n);
			float *x = test_malloc_or_fail((size_t)(nrows * n) * sizeof(float));
			float *imp = test_malloc_or_fail((size_t)n * sizeof(float));
			uint8_t *a = test_malloc_or_fail(bytes), *b = test_malloc_or_fail(bytes);
			char what[64];
			for (size_t ki = 0; ki < N_ELEMS(scales); ki++) {
				fill_gauss(x, (size_t)(nrows * n), 50 + si * 7 + ki);
				for (int64_t i = 0; i < nrows * n; i++)
					x[i] *= scales[ki];
				memset(x + n - 128, 0, 32 * sizeof(float)); /* a block of zeros */
				x[n - 1] = -0.0f;
				snprintf(what, sizeof what, "scale %g", (double)scales[ki]);
				check_quant_bytes(vk, cpu, t, x, NULL, nrows, n, what, a, b);
			}
			x[5] = NAN; /* NaN and infinities: the reference's path */
			x[nrows * n - 3] = -INFINITY;
			check_quant_bytes(vk, cpu, t, x, NULL, nrows, n, "NaN and inf", a, b);
			fill_gauss(x, (size_t)(nrows * n), 77 + si);
			for (int64_t j = 0; j < n; j++)
				imp[j] = 0.1f + (float)(j % 7);
			check_quant_bytes(vk, cpu, t, x, imp, nrows, n, "importance", a, b);
			free(x);
			free(imp);
			free(a);
			free(b);
		}
	}
	assert_int_equal(n_types, 5 + 54); /* q4_0..q8_0 and the MLX affine formats */
	print_message("# quantize q4_0 q4_1 q5_0 q5_1 q8_0 and %zu MLX affine formats on the device: the reference's "
		      "bytes\n",
		      n_types - 5);
	qnt_ctx_destroy(vk);
	qnt_ctx_destroy(cpu);
}

/* An operation the backend does not run (quantizing iq4_nl) goes to the
 * reference through the public API: the same bytes as on the cpu context;
 * dequantizing them on the device gives the reference's floats. */
static void unsupported_through_api(void **state)
{
	(void)state;
	qnt_ctx *vk = ctx_on("vulkan", 2), *cpu = ctx_on("cpu", 2);
	const int64_t nrows = 3, n = 64;
	float x[3 * 64], a[3 * 64], b[3 * 64];
	uint8_t q[3 * 64], qr[3 * 64];
	fill_gauss(x, N_ELEMS(x), 5);
	assert_true(qnt_row_size(QNT_TYPE_IQ4_NL, n) * nrows <= sizeof q);
	assert_int_equal(qnt_quantize(vk, QNT_TYPE_IQ4_NL, x, q, nrows, n, NULL), QNT_OK);
	assert_int_equal(qnt_quantize(cpu, QNT_TYPE_IQ4_NL, x, qr, nrows, n, NULL), QNT_OK);
	assert_memory_equal(q, qr, qnt_row_size(QNT_TYPE_IQ4_NL, n) * nrows);
	assert_int_equal(qnt_dequantize(vk, QNT_TYPE_IQ4_NL, q, a, nrows, n), QNT_OK);
	assert_int_equal(qnt_dequantize(cpu, QNT_TYPE_IQ4_NL, q, b, nrows, n), QNT_OK);
	assert_int_equal(first_mismatch(a, b, nrows * n), -1);
	/* shape errors are the API's, whichever backend */
	assert_int_equal(qnt_dequantize(vk, QNT_TYPE_Q4_0, q, a, 1, 33), QNT_E_BAD_SHAPE);
	qnt_ctx_destroy(vk);
	qnt_ctx_destroy(cpu);
}

/* ---- the vtable directly ---- */

static void vtable_direct(void **state)
{
	(void)state;
	qnt_host_api host = test_host_api();
	const qnt_backend_vtbl *vt = module_vtable(VK_MODULE, &host);
	assert_string_equal(vt->name, "vulkan");
	assert_true(QNT_VTBL_HAS(vt, matmul));
	char why[256] = "";
	assert_true(vt->score(&host, why, sizeof why) > 0);

	void *st = NULL;
	assert_int_equal(vt->open(&host, 99, &st), QNT_E_NOT_FOUND);
	assert_int_equal(vt->open(&host, 0, &st), QNT_OK);
	assert_true(vt->device_count(st) >= 1);
	qnt_device_props dp = { .struct_size = sizeof dp };
	assert_int_equal(vt->device_props(st, 0, &dp), QNT_OK);
	assert_non_null(dp.name);
	assert_true(dp.caps & QNT_BACKEND_CAP_DEVICE_MEMORY);
	print_message("# device 0: %s: %s, %llu MiB\n", dp.name, dp.description,
		      (unsigned long long)(dp.memory_total >> 20));
	assert_int_equal(vt->device_props(st, 99, &dp), QNT_E_NOT_FOUND);

	/* unknown formats: not claimed, and a status if called anyway */
	const qnt_type unknown = 9999;
	assert_false(vt->supports(st, unknown, QNT_OP_DEQUANTIZE));
	assert_false(vt->supports(st, QNT_TYPE_IQ4_NL, QNT_OP_QUANTIZE));
	assert_true(vt->supports(st, QNT_TYPE_Q8_0, QNT_OP_QUANTIZE));
	for (size_t k = 0; k < n_vk_types; k++)
		assert_true(vt->supports(st, vk_types[k], QNT_OP_DEQUANTIZE) && vt->supports(st, vk_types[k], QNT_OP_MATMUL));
	assert_true(vt->supports(st, QNT_TYPE_Q4_0, QNT_OP_MATMUL));
	float x[4 * 64], y[4 * 64], yr[4 * 64];
	uint8_t q[4 * 64 * 2];
	fill_gauss(x, N_ELEMS(x), 9);
	qnt_kernel_job job = { .struct_size = sizeof job, .op = QNT_OP_DEQUANTIZE, .type = unknown,
			       .nrows = 4, .n_per_row = 64, .row_begin = 0, .row_end = 4 };
	job.src.host = q;
	job.dst.host = y;
	assert_int_equal(vt->dequantize(st, &job), QNT_E_UNSUPPORTED);
	job.type = QNT_TYPE_Q8_0;
	job.row_end = 5; /* past nrows */
	assert_int_equal(vt->dequantize(st, &job), QNT_E_INVALID_ARG);
	qnt_matmul_job mj = { .struct_size = sizeof mj, .wtype = unknown, .xq_type = QNT_TYPE_INVALID,
			      .n_out = 4, .n_in = 64, .n_cols = 1, .row_begin = 0, .row_end = 4 };
	mj.w.host = q;
	mj.x.host = x;
	mj.y.host = y;
	assert_int_equal(vt->matmul(st, &mj), QNT_E_UNSUPPORTED);

	/* device buffers: q8_0 blocks in, floats out, rows 1..3 only */
	assert_int_equal(qnt_quantize(host_cpu, QNT_TYPE_Q8_0, x, q, 4, 64, NULL), QNT_OK);
	const size_t qb = 4 * qnt_row_size(QNT_TYPE_Q8_0, 64);
	qnt_buffer *bq = NULL, *by = NULL;
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
	/* a device-memory matmul: y = W x for rows 0..3, one column */
	qnt_buffer *bx = NULL;
	assert_int_equal(vt->buffer_alloc(st, 0, 64 * sizeof(float), &bx), QNT_OK);
	assert_int_equal(vt->buffer_write(st, bx, 0, x, 64 * sizeof(float)), QNT_OK);
	mj.wtype = QNT_TYPE_Q8_0;
	mj.w = (qnt_mem){ NULL, bq, 2 };
	mj.x = (qnt_mem){ NULL, bx, 0 };
	mj.y = (qnt_mem){ NULL, by, 0 };
	assert_int_equal(vt->matmul(st, &mj), QNT_OK);
	assert_int_equal(vt->buffer_read(st, by, 0, y, 4 * sizeof(float)), QNT_OK);
	for (int i = 0; i < 4; i++) {
		double e = 0, s = 0;
		for (int j = 0; j < 64; j++) {
			e += (double)yr[i * 64 + j] * x[j];
			s += fabs((double)yr[i * 64 + j] * x[j]);
		}
		assert_true(fabs(y[i] - e) <= 1e-6 * s);
	}
	/* quantize on device memory: 2 rows into a block stream at byte 1 */
	size_t n_quant = 0;
	uint8_t qd[2 * 34 + 1];
	qnt_buffer *bq2 = NULL;
	assert_int_equal(vt->buffer_alloc(st, 0, sizeof qd, &bq2), QNT_OK);
	qnt_kernel_job qj = { .struct_size = sizeof qj, .op = QNT_OP_QUANTIZE, .type = QNT_TYPE_Q8_0, .nrows = 2,
			      .n_per_row = 32, .row_begin = 0, .row_end = 2 };
	qj.src = (qnt_mem){ NULL, bx, 0 };
	qj.dst = (qnt_mem){ NULL, bq2, 1 };
	assert_int_equal(vt->buffer_write(st, bq2, 0, "\x5a", 1), QNT_OK);
	assert_int_equal(vt->quantize(st, &qj), QNT_OK);
	assert_int_equal(vt->buffer_read(st, bq2, 0, qd, sizeof qd), QNT_OK);
	assert_int_equal(qd[0], 0x5a); /* the byte before is kept */
	assert_int_equal(qnt_quantize(host_cpu, QNT_TYPE_Q8_0, x, q, 2, 32, NULL), QNT_OK);
	assert_memory_equal(qd + 1, q, 2 * 34);
	/* every format quantize.comp writes, called directly (host memory): the
	 * device's bytes are the reference's */
	for (size_t k = 0; k < n_vk_types; k++) {
		const qnt_type t = vk_types[k];
		if (!vt->supports(st, t, QNT_OP_QUANTIZE))
			continue;
		uint8_t qv[4 * 64 * 2], qr[4 * 64 * 2];
		const int64_t n = qnt_type_block_size(t) > 64 ? qnt_type_block_size(t) : 64;
		float xs[4 * 128];
		fill_gauss(xs, N_ELEMS(xs), 31 + k);
		assert_true(2 * qnt_row_size(t, n) <= sizeof qv);
		qnt_kernel_job dj = { .struct_size = sizeof dj, .op = QNT_OP_QUANTIZE, .type = t, .nrows = 2,
				      .n_per_row = n, .row_begin = 0, .row_end = 2 };
		dj.src.host = xs;
		dj.dst.host = qv;
		assert_int_equal(vt->quantize(st, &dj), QNT_OK);
		assert_int_equal(qnt_quantize(host_cpu, t, xs, qr, 2, n, NULL), QNT_OK);
		assert_memory_equal(qv, qr, 2 * qnt_row_size(t, n));
		n_quant++;
	}
	assert_int_equal(n_quant, 5 + 54);
	/* and an MLX format (16-byte blocks) at byte 1 */
	qj.type = qnt_type_by_name("mlx:affine:3:32:f16");
	qj.nrows = qj.row_end = 1;
	qj.n_per_row = 64;
	assert_int_equal(vt->quantize(st, &qj), QNT_OK);
	assert_int_equal(vt->buffer_read(st, bq2, 0, qd, 33), QNT_OK);
	assert_int_equal(qd[0], 0x5a);
	assert_int_equal(qnt_quantize(host_cpu, qj.type, x, q, 1, 64, NULL), QNT_OK);
	assert_memory_equal(qd + 1, q, 32);
	qj.type = QNT_TYPE_Q4_K;
	assert_int_equal(vt->quantize(st, &qj), QNT_E_UNSUPPORTED);
	vt->buffer_free(st, bq2);
	assert_non_null(vt->buffer_host_ptr(st, bq));
	vt->buffer_free(st, bq);
	vt->buffer_free(st, by);
	vt->buffer_free(st, bx);
	vt->close(st);
	qnt_ctx_destroy(host_cpu);
	/* the module stays loaded: the registry holds it too */
}

/* ---- modes ---- */

/* QNT_BACKEND=vulkan: the default context runs on the device. */
static int default_ctx(void)
{
	const char *name = qnt_ctx_backend_name(NULL);
	if (strcmp(name, "vulkan") != 0) {
		fprintf(stderr, "FAIL: the default context is on '%s', not vulkan: %s\n", name, qnt_ctx_last_error(NULL));
		return 1;
	}
	float x[2 * 256], a[2 * 256], b[2 * 256], y[2], yr[2];
	uint8_t q[2 * 256];
	fill_gauss(x, N_ELEMS(x), 3);
	qnt_ctx *cpu = NULL;
	qnt_ctx_opts o = QNT_CTX_OPTS_INIT;
	o.backend = "cpu";
	if (qnt_ctx_create(&o, &cpu) != QNT_OK || qnt_quantize(NULL, QNT_TYPE_Q4_K, x, q, 2, 256, NULL) != QNT_OK ||
	    qnt_dequantize(NULL, QNT_TYPE_Q4_K, q, a, 2, 256) != QNT_OK ||
	    qnt_dequantize(cpu, QNT_TYPE_Q4_K, q, b, 2, 256) != QNT_OK ||
	    qnt_matmul(NULL, QNT_TYPE_Q4_K, q, 2, 256, x, 1, y) != QNT_OK) {
		fprintf(stderr, "FAIL: %s\n", qnt_ctx_last_error(NULL));
		return 1;
	}
	if (first_mismatch(a, b, 512) >= 0) {
		fprintf(stderr, "FAIL: the default context's q4_K floats differ from the reference\n");
		return 1;
	}
	for (int i = 0; i < 2; i++) {
		double e = 0;
		for (int j = 0; j < 256; j++)
			e += (double)b[i * 256 + j] * x[j];
		yr[i] = (float)e;
		if (fabs(y[i] - yr[i]) > 1e-4 * (1 + fabs(yr[i]))) {
			fprintf(stderr, "FAIL: default-context matmul row %d: %g, expected %g\n", i, y[i], yr[i]);
			return 1;
		}
	}
	qnt_ctx_destroy(cpu);
	printf("default context on vulkan: quantize, dequantize (bit-exact) and matmul ok\n");
	return 0;
}

/* No Vulkan driver: the module loads, scores 0 with its reason, and the
 * default context runs on a CPU backend. */
static int no_icd(void)
{
	char reason[256];
	int sc = backend_score("vulkan", reason, sizeof reason);
	if (sc != 0) {
		fprintf(stderr, "FAIL: without a driver the vulkan backend scores %d (%s), not 0\n", sc, reason);
		return 1;
	}
	if (!strstr(reason, "Vulkan")) {
		fprintf(stderr, "FAIL: the reason does not name Vulkan: '%s'\n", reason);
		return 1;
	}
	float x[64], a[64];
	uint8_t q[64];
	fill_gauss(x, 64, 1);
	if (qnt_quantize(NULL, QNT_TYPE_Q8_0, x, q, 1, 64, NULL) != QNT_OK ||
	    qnt_dequantize(NULL, QNT_TYPE_Q8_0, q, a, 1, 64) != QNT_OK ||
	    strcmp(qnt_ctx_backend_name(NULL), "vulkan") == 0) {
		fprintf(stderr, "FAIL: libqnt does not work without a Vulkan driver: %s\n", qnt_ctx_last_error(NULL));
		return 1;
	}
	qnt_ctx_opts o = QNT_CTX_OPTS_INIT;
	o.backend = "vulkan";
	qnt_ctx *c = NULL;
	if (qnt_ctx_create(&o, &c) != QNT_E_BACKEND) {
		fprintf(stderr, "FAIL: a context on an unusable vulkan backend was not refused\n");
		return 1;
	}
	printf("no driver: vulkan scores 0 (%s); libqnt runs on %s\n", reason, qnt_ctx_backend_name(NULL));
	return 0;
}

int main(int argc, char **argv)
{
	if (qnt_backend_load(VK_MODULE) != QNT_OK) {
		fprintf(stderr, "FAIL: cannot load %s: %s\n", VK_MODULE, qnt_ctx_last_error(NULL));
		return 1;
	}
	if (argc > 1 && strcmp(argv[1], "no-icd") == 0)
		return no_icd();
	char reason[256];
	int sc = backend_score("vulkan", reason, sizeof reason);
	if (sc <= 0) {
		const char *req = getenv("QNT_REQUIRE_VULKAN");
		if (req && strcmp(req, "1") == 0) {
			fprintf(stderr, "FAIL: QNT_REQUIRE_VULKAN=1 but the vulkan backend cannot run: %s\n", reason);
			return 1;
		}
		printf("SKIP: no usable Vulkan device (%s); install mesa-vulkan-drivers (lavapipe)\n", reason);
		return 77;
	}
	printf("# vulkan backend, score %d: %s\n", sc, reason);
	if (argc > 1 && strcmp(argv[1], "default-ctx") == 0)
		return default_ctx();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(dequantize_bit_exact),
		cmocka_unit_test(matmul_within_tolerance),
		cmocka_unit_test(quantize_bytes),
		cmocka_unit_test(unsupported_through_api),
		cmocka_unit_test(vtable_direct),
	};
	list_types();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
