/* SPDX-License-Identifier: MIT */
/*
 * The CUDA backend's block arithmetic (backends/cuda/qnt_cuda_formats.cuh)
 * run on the CPU, against the scalar reference through libqnt's public API
 * on the "cpu" backend:
 *   - decode: every element of random blocks (random bytes everywhere, the
 *     scale fields included, so NaN, infinity and subnormal scales occur)
 *     and of quantized Gaussian data, for every format the backend runs,
 *     equal to qnt_dequantize's floats bit for bit, one element at a time
 *     (qc_get) and eight (qc_get8, which the matmul uses);
 *   - encode: q8_0, q4_K and every MLX affine format, on Gaussian data at
 *     several magnitudes, rows with zeros, constant groups and huge values,
 *     equal to qnt_quantize's bytes;
 *   - the GEMV decoders (backends/cuda/cuda_gemv.cuh): for every format, each
 *     lane's unit of a quantized 1024-element step, group by group, gives
 *     sc * (A v + B) + m equal to qc_get's weight of the element it pairs
 *     with x (to the reference's own rounding);
 *   - the integer path's decoders, for the formats whose x is quantized to
 *     a companion: each code byte of gvq_words, offset and scaled, equals
 *     qc_get's weight of the element gvq_perm pairs it with, and gvq_unit's
 *     product of a lane unit with random codes equals the sum of those
 *     weights times the codes' values.
 * The kernels call these same functions, compiled for the device with
 * -fmad=false, so this is the arithmetic the GPU runs; the device itself is
 * exercised by test_cuda.c. Needs no GPU: built by nvcc, run on the host.
 */
#include "qnt_cuda_formats.cuh"
#define GV_DECODERS_ONLY /* the decoders without the kernel */
#include "cuda_gemv.cuh"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint64_t next(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545F4914F6CDD1Dull;
}

static float gauss(void)
{
	double u1 = (double)(next() >> 11) * (1.0 / 9007199254740992.0);
	double u2 = (double)(next() >> 11) * (1.0 / 9007199254740992.0);
	if (u1 < 1e-300)
		u1 = 1e-300;
	return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

static int failures;

/* The qc_fmt of registry type t, or kind -1. */
static qc_fmt fmt_of(qnt_type t)
{
	qnt_type_info ti = QNT_TYPE_INFO_INIT;
	qc_fmt f = { -1, 0, 0, 0, 0 };
	if (qnt_type_get_info(t, &ti) != QNT_OK || !qc_fmt_of(t, ti.name, ti.block_size, ti.block_bytes, &f))
		f.kind = -1;
	return f;
}

static float decode(const qc_fmt &f, const uint8_t *b, int j)
{
	switch (f.kind) {
#define K(k)     \
	case k: \
		return qc_get<k>(f, b, j);
		K(QC_F32) K(QC_F16) K(QC_BF16) K(QC_Q4_0) K(QC_Q4_1) K(QC_Q5_0) K(QC_Q5_1) K(QC_Q8_0) K(QC_Q2_K)
		K(QC_Q3_K) K(QC_Q4_K) K(QC_Q5_K) K(QC_Q6_K) K(QC_MXFP4) K(QC_NVFP4) K(QC_MLX_AFFINE)
		K(QC_MLX_MXFP4) K(QC_MLX_MXFP8) K(QC_MLX_NVFP4)
#undef K
	}
	abort();
}

/* Elements j .. j + 7 of block b through qc_get8. */
static void decode8(const qc_fmt &f, const uint8_t *b, int j, float *v)
{
	switch (f.kind) {
#define K(k)                           \
	case k:                        \
		qc_get8<k>(f, b, j, v); \
		return;
		K(QC_Q4_0) K(QC_Q4_1) K(QC_Q5_0) K(QC_Q5_1) K(QC_Q8_0) K(QC_Q2_K) K(QC_Q3_K) K(QC_Q4_K) K(QC_Q5_K)
		K(QC_Q6_K) K(QC_MXFP4) K(QC_NVFP4) K(QC_MLX_AFFINE) K(QC_MLX_MXFP4) K(QC_MLX_MXFP8) K(QC_MLX_NVFP4)
#undef K
	}
	abort();
}

static uint32_t bits(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	return u;
}

/* nblk blocks at q: the header's floats against the reference's. */
static void check_decode(qnt_ctx *cpu, qnt_type t, const qc_fmt &f, const uint8_t *q, int64_t nblk, const char *what)
{
	const int64_t n = nblk * f.bs;
	float *ref = (float *)malloc((size_t)n * sizeof(float));
	if (qnt_dequantize(cpu, t, q, ref, 1, n) != QNT_OK) {
		printf("FAIL: qnt_dequantize(%s): %s\n", qnt_type_name(t), qnt_ctx_last_error(cpu));
		failures++;
		free(ref);
		return;
	}
	for (int64_t i = 0; i < n; i++) {
		const float v = decode(f, q + (i / f.bs) * f.bb, (int)(i % f.bs));
		if (bits(v) != bits(ref[i])) {
			printf("FAIL: decode %s (%s): element %lld is %a (0x%08x), the reference %a (0x%08x)\n",
			       qnt_type_name(t), what, (long long)i, (double)v, bits(v), (double)ref[i], bits(ref[i]));
			failures++;
			break;
		}
	}
	/* qc_get8, eight elements at a time, where the blocks hold multiples of 8 */
	for (int64_t i = 0; f.bs % 8 == 0 && i < n; i += 8) {
		float v[8];
		decode8(f, q + (i / f.bs) * f.bb, (int)(i % f.bs), v);
		for (int u = 0; u < 8; u++)
			if (bits(v[u]) != bits(ref[i + u])) {
				printf("FAIL: decode8 %s (%s): element %lld is %a (0x%08x), the reference %a (0x%08x)\n",
				       qnt_type_name(t), what, (long long)(i + u), (double)v[u], bits(v[u]),
				       (double)ref[i + u], bits(ref[i + u]));
				failures++;
				i = n;
				break;
			}
	}
	free(ref);
}

/* Rows of test data: Gaussian at magnitudes from 1e-30 to 1e4, a row of
 * zeros, constant groups, huge values and an isolated outlier. */
static void fill(float *x, int64_t n, int64_t row)
{
	static const float mag[] = { 1.0f, 1e-30f, 1e-3f, 1e4f, 0.0f, 1.0f, 3e37f, 1.0f };
	const int kind = (int)(row % 8);
	for (int64_t i = 0; i < n; i++)
		x[i] = gauss() * mag[kind];
	if (kind == 5)
		for (int64_t i = 0; i < n; i++)
			x[i] = (float)(i / 64) - 2.0f; /* constant groups */
	if (kind == 7)
		x[n / 3] = 1000.0f;
}

static void check_encode(qnt_ctx *cpu, qnt_type t, const qc_fmt &f, int64_t nrows, int64_t n)
{
	const size_t rs = qnt_row_size(t, n);
	float *x = (float *)malloc((size_t)(nrows * n) * sizeof(float));
	uint8_t *a = (uint8_t *)calloc(nrows, rs), *b = (uint8_t *)calloc(nrows, rs);
	for (int64_t r = 0; r < nrows; r++)
		fill(x + r * n, n, r);
	if (qnt_quantize(cpu, t, x, b, nrows, n, NULL) != QNT_OK) {
		printf("FAIL: qnt_quantize(%s): %s\n", qnt_type_name(t), qnt_ctx_last_error(cpu));
		failures++;
	}
	const int64_t nblk = nrows * n / f.bs;
	for (int64_t i = 0; i < nblk; i++) {
		const float *xb = x + i * f.bs;
		uint8_t *out = a + i * f.bb;
		if (f.kind == QC_Q8_0)
			qc_enc_q8_0(xb, out);
		else if (f.kind == QC_Q4_K)
			qc_enc_q4_K(xb, out);
		else
			qc_enc_mlx_affine(f, xb, out);
	}
	for (size_t i = 0; i < nrows * rs; i++)
		if (a[i] != b[i]) {
			const size_t blk = i / f.bb;
			printf("FAIL: encode %s: byte %zu (block %zu, row %lld) is 0x%02x, the reference 0x%02x\n",
			       qnt_type_name(t), i, blk, (long long)(blk * f.bs / n), a[i], b[i]);
			failures++;
			break;
		}
	free(x);
	free(a);
	free(b);
}

/* One unit (GV_UNIT elements) of quantized Gaussian data at q: every value
 * that gv_group gives, turned into its weight, against qc_get's. */
template <int K, int BITS>
static void check_gemv_decode(qnt_type t, const qc_fmt &f, const uint8_t *q)
{
	const double a = gv_a<K, BITS>(), b = gv_b<K, BITS>();
	for (int lane = 0; lane < 32; lane++) {
		gv_unit u;
		memset(&u, 0, sizeof u);
		gv_load<K, BITS>(f, q, lane, u);
		for (int g = 0; g < 4; g++) {
			float v[8];
			gv_group<K, BITS>(f, u, g, v);
			for (int k = 0; k < 8; k++) {
				const int e = gv_elem<K>(lane, g, k / 4) + k % 4;
				const double ref = decode(f, q + (e / f.bs) * f.bb, e % f.bs);
				const int h = g / 2;
				double w = v[k], bound = fabs(ref);
				if (gv_has_sc<K>()) {
					w = (double)u.sc[h] * (a * v[k] + b) + (gv_has_m<K>() ? (double)u.m[h] : 0.0);
					bound += fabs((double)u.sc[h] * b) + (gv_has_m<K>() ? fabs((double)u.m[h]) : 0.0);
				}
				if (!(fabs(w - ref) <= 0x1p-20 * bound) && !(isnan(w) && isnan(ref))) {
					printf("FAIL: gemv decode %s: lane %d group %d value %d (element %d): %.9g, "
					       "qc_get %.9g\n",
					       qnt_type_name(t), lane, g, k, e, w, ref);
					failures++;
					return;
				}
			}
		}
	}
}

/* The integer path (gvq_words, gvq_perm, gvq_unit) on the unit at q. */
template <int K>
static void check_gemv_q8(qnt_type t, const qc_fmt &f, const uint8_t *q)
{
	for (int lane = 0; gvq_mode<K>() != GVQ_NONE && lane < 32; lane++) {
		gv_unit u;
		memset(&u, 0, sizeof u);
		gv_load<K, 0>(f, q, lane, u);
		int W[8], X[8], sq[2] = { 0, 0 };
		gvq_words<K>(u, W);
		const float dx = 0.0123f;
		double ref = 0, mag = 0;
		for (int p = 0; p < 32; p++) {
			const int e = 32 * lane + gvq_perm<K>(p), h = p / 16;
			int c = (int)(uint8_t)(W[p / 4] >> (8 * (p % 4)));
			if (K == QC_Q8_0)
				c = (int)(int8_t)c;
			/* held as 16 n (gvq_words) */
			if (((K == QC_Q4_0 || K == QC_Q4_1) && p >= 16) || (K == QC_Q4_K && (u.aux & 1)))
				c >>= 4;
			const double w = (double)u.sc[h] * (c + gvq_off<K>()) + (gv_has_m<K>() ? (double)u.m[h] : 0.0);
			const double d = decode(f, q + (e / f.bs) * f.bb, e % f.bs);
			if (!(fabs(w - d) <= 0x1p-20 * (fabs(d) + fabs((double)u.sc[h] * gvq_off<K>()) + fabs(u.m[h])))) {
				printf("FAIL: gemv integer decode %s: lane %d byte %d (element %d): %.9g, qc_get %.9g\n",
				       qnt_type_name(t), lane, p, e, w, d);
				failures++;
				return;
			}
			const int xc = (int)(next() % 255) - 127;
			X[p / 4] = (int)((p % 4 ? (uint32_t)X[p / 4] : 0u) | (uint32_t)(xc & 255) << (8 * (p % 4)));
			sq[h] += xc;
			ref += d * dx * xc;
			/* the scaled codes and the offsets are summed apart */
			mag += (fabs((double)u.sc[h] * (c + gvq_off<K>())) + fabs((double)u.m[h])) * fabs((double)dx * xc);
		}
		/* q8_1's stored sum d * sum(codes) (fp16 there; exact here) */
		const float aux = dx * (float)(sq[0] + sq[1]);
		const double got = gvq_unit<K>(u, W, X, sq[0], sq[1], dx, aux);
		if (!(fabs(got - ref) <= 1e-6 * mag)) { /* a few f32 roundings */
			printf("FAIL: gemv integer product %s: lane %d: %.9g, expected %.9g\n", qnt_type_name(t), lane, got,
			       ref);
			failures++;
			return;
		}
	}
}

static void gemv_decode(qnt_ctx *cpu, qnt_type t, const qc_fmt &f)
{
	const int64_t n = GV_UNIT;
	float *x = (float *)malloc((size_t)n * sizeof(float));
	uint8_t *q = (uint8_t *)calloc(1, qnt_row_size(t, n) + 8);
	for (int64_t i = 0; i < n; i++)
		x[i] = gauss() * (i % 97 == 0 ? 30.0f : 1.0f);
	if (qnt_quantize(cpu, t, x, q, 1, n, NULL) != QNT_OK) {
		printf("FAIL: qnt_quantize(%s): %s\n", qnt_type_name(t), qnt_ctx_last_error(cpu));
		failures++;
	}
	switch (f.kind) {
#define K(k)                                      \
	case k:                                   \
		check_gemv_decode<k, 0>(t, f, q); \
		check_gemv_q8<k>(t, f, q);        \
		break;
		K(QC_F32) K(QC_F16) K(QC_BF16) K(QC_Q4_0) K(QC_Q4_1) K(QC_Q5_0) K(QC_Q5_1) K(QC_Q8_0) K(QC_Q2_K)
		K(QC_Q3_K) K(QC_Q4_K) K(QC_Q5_K) K(QC_Q6_K) K(QC_MXFP4) K(QC_NVFP4) K(QC_MLX_MXFP4)
		K(QC_MLX_MXFP8) K(QC_MLX_NVFP4)
#undef K
	default:
		switch (f.bits) {
		case 2: check_gemv_decode<QC_MLX_AFFINE, 2>(t, f, q); break;
		case 3: check_gemv_decode<QC_MLX_AFFINE, 3>(t, f, q); break;
		case 4: check_gemv_decode<QC_MLX_AFFINE, 4>(t, f, q); break;
		case 5: check_gemv_decode<QC_MLX_AFFINE, 5>(t, f, q); break;
		case 6: check_gemv_decode<QC_MLX_AFFINE, 6>(t, f, q); break;
		case 7: check_gemv_decode<QC_MLX_AFFINE, 7>(t, f, q); break;
		default: check_gemv_decode<QC_MLX_AFFINE, 8>(t, f, q); break;
		}
	}
	free(x);
	free(q);
}

int main(void)
{
	qnt_ctx_opts o = QNT_CTX_OPTS_INIT;
	o.backend = "cpu";
	o.n_threads = 1;
	qnt_ctx *cpu = NULL;
	if (qnt_ctx_create(&o, &cpu) != QNT_OK) {
		printf("FAIL: no cpu context: %s\n", qnt_ctx_last_error(NULL));
		return 1;
	}
	int n_dec = 0, n_enc = 0;
	for (int32_t k = 0; k < qnt_type_count(); k++) {
		const qnt_type t = qnt_type_at(k);
		const qc_fmt f = fmt_of(t);
		if (f.kind < 0)
			continue;
		/* random bytes: 64 blocks */
		const int64_t nblk = 64;
		uint8_t *q = (uint8_t *)malloc((size_t)(nblk * f.bb));
		for (int64_t i = 0; i < nblk * f.bb; i++)
			q[i] = (uint8_t)next();
		check_decode(cpu, t, f, q, nblk, "random bytes");
		/* quantized data, where the format can be produced */
		float *x = (float *)malloc((size_t)(nblk * f.bs) * sizeof(float));
		for (int64_t i = 0; i < nblk * f.bs; i++)
			x[i] = gauss();
		if (qnt_quantize(cpu, t, x, q, 1, nblk * f.bs, NULL) == QNT_OK)
			check_decode(cpu, t, f, q, nblk, "quantized data");
		free(x);
		free(q);
		n_dec++;
		gemv_decode(cpu, t, f);
		if (f.kind == QC_Q8_0 || f.kind == QC_Q4_K || f.kind == QC_MLX_AFFINE) {
			const int64_t n = f.bs * 8 > 1024 ? f.bs * 8 : 1024;
			check_encode(cpu, t, f, 16, n);
			n_enc++;
		}
	}
	qnt_ctx_destroy(cpu);
	printf("%d formats decoded, %d encoded, %d failure%s\n", n_dec, n_enc, failures, failures == 1 ? "" : "s");
	/* the MLX affine family alone is 54 formats; 15 ggml ones */
	if (n_dec < 15 + 54 + 9 || n_enc < 2 + 54) {
		printf("FAIL: fewer formats than expected\n");
		return 1;
	}
	return failures ? 1 : 0;
}
