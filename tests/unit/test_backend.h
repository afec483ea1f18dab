/* SPDX-License-Identifier: MIT */
/* Helpers shared by the device backends' conformance tests (tests/vulkan,
 * tests/cuda) and the unit tests of the products (test_matmul.c,
 * test_matrix.c, test_matrix_iq.c): the backend's score, a context on a
 * named backend, the exact product and the error against it, and the
 * bit-for-bit comparison of its dequantized floats with the reference's. */
#ifndef QNT_TEST_BACKEND_H
#define QNT_TEST_BACKEND_H

#include "test_common.h"

#include "libqnt.h"
#include "libqnt_backend.h"

#include <dlfcn.h>
#include <math.h>
#include <stddef.h>

/* The score of the backend called name (-1 if it is not registered), and
 * its description or, with score 0, the reason it is unusable. */
static inline int backend_score(const char *name, char *reason, size_t reason_size)
{
	for (int32_t i = 0; i < qnt_backend_count(); i++) {
		qnt_backend_props p = QNT_BACKEND_PROPS_INIT;
		if (qnt_backend_get_props(i, &p) == QNT_OK && strcmp(p.name, name) == 0) {
			snprintf(reason, reason_size, "%s", p.score > 0 ? p.description : p.reason);
			return p.score;
		}
	}
	snprintf(reason, reason_size, "not registered");
	return -1;
}

/* Non-zero when the backend called name is registered and usable here. */
static inline int backend_usable(const char *name)
{
	char reason[256];
	return backend_score(name, reason, sizeof reason) > 0;
}

/* A context on the named backend with n_threads threads; fails the test
 * when it cannot be made or lands on another backend. */
static inline qnt_ctx *ctx_on(const char *backend, int32_t n_threads)
{
	qnt_ctx_opts o = QNT_CTX_OPTS_INIT;
	o.backend = backend;
	o.n_threads = n_threads;
	qnt_ctx *ctx = NULL;
	if (qnt_ctx_create(&o, &ctx) != QNT_OK)
		fail_msg("cannot create a context on %s: %s", backend, qnt_ctx_last_error(NULL));
	assert_string_equal(qnt_ctx_backend_name(ctx), backend);
	return ctx;
}

/* Where random_weights puts a block's fp16 d, and its fp16 min (-d) in the
 * formats with one: an offset from the block's start, or from its end when
 * negative; min_at 0: no min. Formats not listed keep d first. */
static const struct {
	qnt_type t;
	int d_at, min_at;
} random_d_at[] = {
	{ QNT_TYPE_Q4_1, 0, 2 },   { QNT_TYPE_Q4_K, 0, 2 },   { QNT_TYPE_Q5_K, 0, 2 },
	{ QNT_TYPE_Q2_K, -4, -2 }, { QNT_TYPE_Q3_K, -2, 0 },  { QNT_TYPE_Q6_K, -2, 0 },
	{ QNT_TYPE_TQ1_0, -2, 0 }, { QNT_TYPE_TQ2_0, -2, 0 },
};

/* n_out rows of random blocks of t for the product tests: random code bytes,
 * each block's f16 scale random and finite (|d| in [2^-10, 2^1)) where
 * random_d_at says (iq1_m: in the top nibbles of its four scale words,
 * bytes 48..55); mxfp4's E8M0 scale random in [2^-8, 2^8) (e 119 .. 134),
 * and every eleventh block's one of the two subnormal scales (e 0, 1: their
 * own path in cpu-avx2's kernel). The i-quants' grid indices are all valid,
 * so any bytes are. */
static inline void *random_weights(qnt_type t, int64_t n_out, int64_t n_in, uint64_t seed)
{
	const size_t bb = qnt_type_block_bytes(t), nblk = (size_t)(n_out * (n_in / qnt_type_block_size(t)));
	unsigned char *w = test_malloc_or_fail(nblk * bb);
	struct test_rng r;
	rng_seed(&r, seed);
	for (size_t i = 0; i < nblk * bb; i++)
		w[i] = (unsigned char)rng_next(&r);
	for (size_t b = 0; b < nblk; b++) {
		const uint64_t v = rng_next(&r);
		const uint16_t d = (uint16_t)(((v & 1) << 15) | ((5 + (v >> 1) % 11) << 10) | ((v >> 8) & 0x3ff));
		unsigned char *blk = w + b * bb;
		if (t == QNT_TYPE_IQ1_M) {
			for (int k = 0; k < 4; k++)
				blk[48 + 2 * k + 1] = (unsigned char)((blk[48 + 2 * k + 1] & 0x0f) | (((d >> (4 * k)) & 0xf) << 4));
			continue;
		}
		int d_at = 0, min_at = 0;
		for (size_t k = 0; k < sizeof random_d_at / sizeof random_d_at[0]; k++)
			if (random_d_at[k].t == t) {
				d_at = random_d_at[k].d_at;
				min_at = random_d_at[k].min_at;
			}
		memcpy(blk + (d_at < 0 ? (ptrdiff_t)bb + d_at : d_at), &d, 2);
		if (min_at != 0) {
			const uint16_t m = (uint16_t)(d ^ 0x8000);
			memcpy(blk + (min_at < 0 ? (ptrdiff_t)bb + min_at : min_at), &m, 2);
		}
		if (t == QNT_TYPE_MXFP4) /* one byte e, then the codes */
			blk[0] = (unsigned char)(b % 11 == 5 ? (v >> 20) % 2 : 119 + (v >> 20) % 16);
	}
	return w;
}

/* The exact product (double) of the dequantized W (n_out rows of n_in
 * elements of t) with the n_cols vectors x, and in *mag the products of the
 * magnitudes (sum_j |W[i][j]| |x[j]|): the scale errors are measured
 * against, since an output of a few blocks may cancel to nearly 0. Both
 * arrays are freed by the caller. */
static inline double *exact_product(qnt_type t, const void *w, int64_t n_out, int64_t n_in, const float *x,
				    int64_t n_cols, double **mag)
{
	float *wd = test_malloc_or_fail((size_t)(n_out * n_in) * sizeof(float));
	assert_int_equal(qnt_dequantize(NULL, t, w, wd, n_out, n_in), QNT_OK);
	double *y = test_malloc_or_fail((size_t)(n_out * n_cols) * sizeof(double));
	*mag = test_malloc_or_fail((size_t)(n_out * n_cols) * sizeof(double));
	for (int64_t c = 0; c < n_cols; c++)
		for (int64_t i = 0; i < n_out; i++) {
			double s = 0, a = 0;
			for (int64_t j = 0; j < n_in; j++) {
				s += (double)wd[i * n_in + j] * x[c * n_in + j];
				a += fabs((double)wd[i * n_in + j] * x[c * n_in + j]);
			}
			y[c * n_out + i] = s;
			(*mag)[c * n_out + i] = a;
		}
	free(wd);
	return y;
}

/* ||a - b|| / ||mag|| over n values, b given as doubles (bd) or, with bd
 * NULL, as floats (bf). */
static inline double rel_err_mag(const float *a, const double *bd, const float *bf, const double *mag, size_t n)
{
	double d = 0, s = 0;
	for (size_t i = 0; i < n; i++) {
		const double e = (double)a[i] - (bd ? bd[i] : (double)bf[i]);
		d += e * e;
		s += mag[i] * mag[i];
	}
	return s > 0 ? sqrt(d / s) : sqrt(d);
}

static inline uint32_t fbits(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	return u;
}

/* a and b equal bit for bit, NaN for NaN; returns the first mismatch or -1 */
static inline int64_t first_mismatch(const float *a, const float *b, int64_t n)
{
	for (int64_t i = 0; i < n; i++) {
		if (isnan(a[i]) && isnan(b[i]))
			continue;
		if (fbits(a[i]) != fbits(b[i]))
			return i;
	}
	return -1;
}

/* Dequantizes q on dev and on cpu and fails on the first float that differs. */
static inline void check_dequant(qnt_ctx *dev, qnt_ctx *cpu, qnt_type t, const void *q, int64_t nrows, int64_t n,
				 const char *what)
{
	float *a = test_malloc_or_fail((size_t)(nrows * n) * sizeof(float));
	float *b = test_malloc_or_fail((size_t)(nrows * n) * sizeof(float));
	memset(a, 0x55, (size_t)(nrows * n) * sizeof(float));
	assert_int_equal(qnt_dequantize(dev, t, q, a, nrows, n), QNT_OK);
	assert_int_equal(qnt_dequantize(cpu, t, q, b, nrows, n), QNT_OK);
	int64_t i = first_mismatch(a, b, nrows * n);
	if (i >= 0)
		fail_msg("%s, %s, %lld x %lld: element %lld (row %lld) is %a (0x%08x) on %s, %a (0x%08x) in the "
			 "reference",
			 qnt_type_name(t), what, (long long)nrows, (long long)n, (long long)i, (long long)(i / n),
			 (double)a[i], fbits(a[i]), qnt_ctx_backend_name(dev), (double)b[i], fbits(b[i]));
	free(a);
	free(b);
}

/* ---- a module's vtable called directly, with a host table of our own ---- */

/* the reference the host table's quantize_ref/dequantize_ref run on */
static qnt_ctx *host_cpu;

static inline void host_log(int32_t level, const char *fmt, ...)
{
	(void)level;
	(void)fmt;
}

static inline void *host_alloc(size_t size, size_t align)
{
	return aligned_alloc(align, (size + align - 1) / align * align);
}

static inline qnt_status host_quantize(qnt_type type, const float *src, void *dst, int64_t nrows, int64_t n,
				       const float *imp)
{
	return qnt_quantize(host_cpu, type, src, dst, nrows, n, imp);
}

static inline qnt_status host_dequantize(qnt_type type, const void *src, float *dst, int64_t nrows, int64_t n)
{
	return qnt_dequantize(host_cpu, type, src, dst, nrows, n);
}

/* A 1.0 host table up to type_info (a module needs no more); opens host_cpu. */
static inline qnt_host_api test_host_api(void)
{
	host_cpu = ctx_on("cpu", 2);
	qnt_host_api host = { offsetof(qnt_host_api, matmul_ref_xq_type), QNT_BACKEND_ABI, 0, host_log,
			      host_alloc, free, host_quantize, host_dequantize, qnt_row_size, qnt_type_get_info,
			      NULL, NULL };
	return host;
}

/* cpu-avx512's prepared product against cpu-avx2's, bit for bit (its
 * VPDPBUSD/VPDPWSSD sums are cpu-avx2's integers and its float steps the
 * same; test_matrix.c, test_matrix_iq.c): random weights of t, n_out x n_in,
 * against five columns, gaussian, all 1 and all -1 (activation codes 127 and
 * -127/-128 in every block). */
static inline void prepared_as_avx2(qnt_ctx *a2, qnt_ctx *a5, qnt_type t, int64_t n_out, int64_t n_in, uint64_t seed)
{
	const int64_t nc = 5;
	unsigned char *w = random_weights(t, n_out, n_in, seed);
	float *x = test_malloc_or_fail((size_t)(nc * n_in) * sizeof(float));
	float *y2 = test_malloc_or_fail((size_t)(nc * n_out) * sizeof(float));
	float *y5 = test_malloc_or_fail((size_t)(nc * n_out) * sizeof(float));
	fill_gauss(x, (size_t)(3 * n_in), seed + 1);
	for (int64_t k = 0; k < n_in; k++) {
		x[3 * n_in + k] = 1.0f;
		x[4 * n_in + k] = -1.0f;
	}
	qnt_matrix *m2 = NULL, *m5 = NULL;
	assert_int_equal(qnt_matrix_prepare(a2, t, w, n_out, n_in, &m2), QNT_OK);
	assert_int_equal(qnt_matrix_prepare(a5, t, w, n_out, n_in, &m5), QNT_OK);
	memset(y2, 0xff, (size_t)(nc * n_out) * sizeof(float));
	memset(y5, 0x77, (size_t)(nc * n_out) * sizeof(float));
	assert_int_equal(qnt_matmul_prepared(a2, m2, x, nc, y2), QNT_OK);
	assert_int_equal(qnt_matmul_prepared(a5, m5, x, nc, y5), QNT_OK);
	if (memcmp(y2, y5, (size_t)(nc * n_out) * sizeof(float)) != 0)
		fail_msg("%s, %lld x %lld: cpu-avx512 differs from cpu-avx2", qnt_type_name(t), (long long)n_out,
			 (long long)n_in);
	qnt_matrix_free(m2);
	qnt_matrix_free(m5);
	free(w);
	free(x);
	free(y2);
	free(y5);
}

/* The module's vtable for host, after checking that a newer ABI is refused. */
static inline const qnt_backend_vtbl *module_vtable(const char *path, const qnt_host_api *host)
{
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		fail_msg("dlopen %s: %s", path, dlerror());
	qnt_backend_entry_fn entry;
	void *sym = dlsym(h, QNT_BACKEND_ENTRY_SYMBOL);
	memcpy(&entry, &sym, sizeof entry);
	assert_non_null(entry);
	assert_null(entry(QNT_BACKEND_ABI + 1, host));
	const qnt_backend_vtbl *vt = entry(QNT_BACKEND_ABI, host);
	assert_non_null(vt);
	return vt;
}

#endif
