/* SPDX-License-Identifier: MIT */
/*
 * bench_cuda: the CUDA backend module on its device, per format:
 *   GEMV  one column, GB/s of weight bytes read per call, on --gemv-copies
 *         copies of the matrix stacked (n_out * copies rows), so that the
 *         launch and the synchronisation of each call (a few microseconds)
 *         weigh little against the read, and the weights come from device
 *         memory rather than the 50 MB L2 of an H100; also microseconds
 *         per call;
 *   GEMM  --cols columns, TFLOP/s (2 * n_out * n_in * cols / s);
 * next to the device's copy bandwidth (cudaMemcpy device to device, GB/s
 * of bytes read plus written) and cuBLAS at the same shapes (f16 weights
 * and activations, f32 accumulation: cublasGemmEx; one column as GB/s,
 * --cols as TFLOP/s). Weights, activations and outputs stay in device
 * buffers (the vtable's qnt_mem), so host copies are not timed; each
 * backend call synchronizes, so its figure includes one launch and one
 * stream synchronization. Median of --reps timed calls after a warm-up.
 *
 *   build/bench/bench_cuda [--module PATH] [--formats q4_0,q4_K,...]
 *       [--n-out 16384] [--n-in 8192] [--cols 512] [--gemv-copies 8] [--reps 7]
 *
 * Without a CUDA device it prints "no CUDA device: <reason>" and exits 0.
 */
#include "libqnt.h"
#include "libqnt_backend.h"

#include <cublas_v2.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	const double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return v[n / 2];
}

static qnt_ctx *cpu;

static void host_log(int32_t level, const char *fmt, ...)
{
	(void)level;
	(void)fmt;
}

static void *host_alloc(size_t size, size_t align)
{
	return aligned_alloc(align, (size + align - 1) / align * align);
}

static qnt_status host_quantize(qnt_type type, const float *src, void *dst, int64_t nrows, int64_t n, const float *imp)
{
	return qnt_quantize(cpu, type, src, dst, nrows, n, imp);
}

static qnt_status host_dequantize(qnt_type type, const void *src, float *dst, int64_t nrows, int64_t n)
{
	return qnt_dequantize(cpu, type, src, dst, nrows, n);
}

#define CHECK(call)                                                                              \
	do {                                                                                     \
		cudaError_t e_ = (call);                                                         \
		if (e_ != cudaSuccess) {                                                         \
			fprintf(stderr, "bench_cuda: %s: %s\n", #call, cudaGetErrorString(e_)); \
			exit(1);                                                                 \
		}                                                                                \
	} while (0)

/* Seconds per call of cuBLAS f16 GEMM y = W x at (n_out, n_in, cols). */
static double cublas_time(cublasHandle_t hb, const __half *w, const __half *x, float *y, int n_out, int n_in, int cols,
			  int reps)
{
	const float one = 1.0f, zero = 0.0f;
	cudaEvent_t a, b;
	CHECK(cudaEventCreate(&a));
	CHECK(cudaEventCreate(&b));
	double t[64];
	for (int r = -1; r < reps; r++) {
		CHECK(cudaEventRecord(a));
		if (cublasGemmEx(hb, CUBLAS_OP_T, CUBLAS_OP_N, n_out, cols, n_in, &one, w, CUDA_R_16F, n_in, x, CUDA_R_16F,
				 n_in, &zero, y, CUDA_R_32F, n_out, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT) !=
		    CUBLAS_STATUS_SUCCESS) {
			fprintf(stderr, "bench_cuda: cublasGemmEx failed\n");
			exit(1);
		}
		CHECK(cudaEventRecord(b));
		CHECK(cudaEventSynchronize(b));
		float ms = 0;
		CHECK(cudaEventElapsedTime(&ms, a, b));
		if (r >= 0)
			t[r] = ms * 1e-3;
	}
	cudaEventDestroy(a);
	cudaEventDestroy(b);
	return median(t, reps);
}

int main(int argc, char **argv)
{
	const char *module = CUDA_MODULE;
	char formats[1024] = "q4_0,q4_1,q5_0,q5_1,q8_0,q2_K,q3_K,q4_K,q5_K,q6_K,mxfp4,nvfp4,mlx:affine:4:64,"
			     "mlx:affine:8:64,mlx:mxfp4,mlx:nvfp4,f16,bf16,f32";
	long n_out = 16384, n_in = 8192, cols = 512, copies = 8;
	int reps = 7;
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--module"))
			module = argv[i + 1];
		else if (!strcmp(argv[i], "--formats"))
			snprintf(formats, sizeof formats, "%s", argv[i + 1]);
		else if (!strcmp(argv[i], "--n-out"))
			n_out = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--n-in"))
			n_in = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--cols"))
			cols = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--gemv-copies"))
			copies = atol(argv[i + 1]);
		else if (!strcmp(argv[i], "--reps"))
			reps = atoi(argv[i + 1]);
		else {
			fprintf(stderr, "bench_cuda: unknown option %s\n", argv[i]);
			return 2;
		}
	}
	if (reps < 1 || reps > 64 || n_out < 1 || n_in < 256 || n_in % 256 || cols < 8 || copies < 1 || copies > 64) {
		fprintf(stderr, "bench_cuda: need 1 <= reps <= 64, n_in a multiple of 256, cols >= 8, 1 <= gemv-copies <= 64\n");
		return 2;
	}
	int ndev = 0;
	cudaError_t e = cudaGetDeviceCount(&ndev);
	if (e != cudaSuccess || ndev == 0) {
		printf("no CUDA device: %s\n", e != cudaSuccess ? cudaGetErrorString(e) : "the driver reports none");
		return 0;
	}

	qnt_ctx_opts o = QNT_CTX_OPTS_INIT;
	o.backend = "cpu-avx2";
	if (qnt_ctx_create(&o, &cpu) != QNT_OK) {
		o.backend = "cpu";
		if (qnt_ctx_create(&o, &cpu) != QNT_OK) {
			fprintf(stderr, "bench_cuda: no CPU context: %s\n", qnt_ctx_last_error(NULL));
			return 1;
		}
	}
	qnt_host_api host = { sizeof(qnt_host_api), QNT_BACKEND_ABI, 0, host_log, host_alloc, free, host_quantize,
			      host_dequantize, qnt_row_size, qnt_type_get_info, NULL, NULL };
	host.struct_size = offsetof(qnt_host_api, matmul_ref_xq_type);
	void *h = dlopen(module, RTLD_NOW | RTLD_LOCAL);
	void *sym = h ? dlsym(h, QNT_BACKEND_ENTRY_SYMBOL) : NULL;
	qnt_backend_entry_fn entry;
	memcpy(&entry, &sym, sizeof entry);
	const qnt_backend_vtbl *vt = entry ? entry(QNT_BACKEND_ABI, &host) : NULL;
	if (!vt) {
		fprintf(stderr, "bench_cuda: cannot load %s: %s\n", module, h ? "no entry point" : dlerror());
		return 1;
	}
	char why[256] = "";
	if (vt->score(&host, why, sizeof why) <= 0) {
		printf("%s\n", why); /* "no CUDA device: ..." */
		return 0;
	}
	void *st = NULL;
	if (vt->open(&host, 0, &st) != QNT_OK) {
		fprintf(stderr, "bench_cuda: cannot open device 0\n");
		return 1;
	}
	qnt_device_props dp;
	memset(&dp, 0, sizeof dp);
	dp.struct_size = sizeof dp;
	vt->device_props(st, 0, &dp);
	printf("device: %s (%s)\nshape: GEMV %ld x %ld weights (%ld copies of %ld x %ld), 1 column; GEMM %ld x %ld, %ld "
	       "columns; median of %d\n",
	       dp.name, dp.description, n_out * copies, n_in, copies, n_out, n_in, n_out, n_in, cols, reps);

	/* device copy bandwidth */
	const size_t cb = (size_t)1 << 30;
	void *c0, *c1;
	CHECK(cudaMalloc(&c0, cb));
	CHECK(cudaMalloc(&c1, cb));
	CHECK(cudaMemset(c0, 1, cb));
	double t[64];
	for (int r = -1; r < reps; r++) {
		CHECK(cudaDeviceSynchronize());
		const double t0 = now();
		CHECK(cudaMemcpy(c1, c0, cb, cudaMemcpyDeviceToDevice));
		CHECK(cudaDeviceSynchronize());
		if (r >= 0)
			t[r] = now() - t0;
	}
	const double copy_bw = 2.0 * (double)cb / median(t, reps) / 1e9;
	printf("device copy bandwidth (cudaMemcpy D2D, read + write): %.0f GB/s\n", copy_bw);
	cudaFree(c0);
	cudaFree(c1);

	/* inputs */
	float *w = (float *)malloc((size_t)(n_out * n_in) * sizeof(float));
	float *x = (float *)malloc((size_t)(cols * n_in) * sizeof(float));
	srand(1);
	for (long i = 0; i < n_out * n_in; i++)
		w[i] = (float)rand() / (float)RAND_MAX - 0.5f;
	for (long i = 0; i < cols * n_in; i++)
		x[i] = (float)rand() / (float)RAND_MAX - 0.5f;
	const long n_gemv = n_out * copies, ny = cols > copies ? cols * n_out : n_gemv;
	qnt_buffer *bx, *by, *bw = NULL;
	if (vt->buffer_alloc(st, 0, (uint64_t)(cols * n_in) * 4, &bx) != QNT_OK ||
	    vt->buffer_alloc(st, 0, (uint64_t)ny * 4, &by) != QNT_OK ||
	    vt->buffer_write(st, bx, 0, x, (uint64_t)(cols * n_in) * 4) != QNT_OK) {
		fprintf(stderr, "bench_cuda: device buffers failed\n");
		return 1;
	}

	/* cuBLAS f16 at the same shapes */
	cublasHandle_t hb;
	if (cublasCreate(&hb) != CUBLAS_STATUS_SUCCESS) {
		fprintf(stderr, "bench_cuda: cublasCreate failed\n");
		return 1;
	}
	__half *w16, *x16;
	float *y32;
	{
		__half *hw = (__half *)malloc((size_t)(n_out * n_in) * sizeof(__half));
		__half *hx = (__half *)malloc((size_t)(cols * n_in) * sizeof(__half));
		for (long i = 0; i < n_out * n_in; i++)
			hw[i] = __float2half(w[i]);
		for (long i = 0; i < cols * n_in; i++)
			hx[i] = __float2half(x[i]);
		CHECK(cudaMalloc(&w16, (size_t)(n_gemv * n_in) * sizeof(__half)));
		CHECK(cudaMalloc(&x16, (size_t)(cols * n_in) * sizeof(__half)));
		CHECK(cudaMalloc(&y32, (size_t)ny * sizeof(float)));
		for (long k = 0; k < copies; k++)
			CHECK(cudaMemcpy(w16 + k * n_out * n_in, hw, (size_t)(n_out * n_in) * sizeof(__half),
					 cudaMemcpyHostToDevice));
		CHECK(cudaMemcpy(x16, hx, (size_t)(cols * n_in) * sizeof(__half), cudaMemcpyHostToDevice));
		free(hw);
		free(hx);
	}
	const double flops = 2.0 * (double)n_out * (double)n_in * (double)cols;
	const double cb1 = cublas_time(hb, w16, x16, y32, (int)n_gemv, (int)n_in, 1, reps);
	const double cbn = cublas_time(hb, w16, x16, y32, (int)n_out, (int)n_in, (int)cols, reps);
	/* "of copy": GEMV GB/s over the copy bandwidth; "of cuBLAS": GEMM
	 * TFLOP/s over cuBLAS f16's */
	printf("\n%-22s %10s %8s %8s %12s %9s\n", "format", "GEMV GB/s", "GEMV us", "of copy", "GEMM TFLOP/s",
	       "of cuBLAS");
	printf("%-22s %10.0f %8.1f %7.0f%% %12.1f %8.0f%%\n", "cuBLAS f16 (GemmEx)",
	       (double)n_gemv * n_in * 2 / cb1 / 1e9, cb1 * 1e6, 100.0 * (double)n_gemv * n_in * 2 / cb1 / 1e9 / copy_bw,
	       flops / cbn / 1e12, 100.0);

	for (char *name = strtok(formats, ","); name; name = strtok(NULL, ",")) {
		const qnt_type ty = qnt_type_by_name(name);
		const size_t rs = ty == QNT_TYPE_INVALID ? 0 : qnt_row_size(ty, n_in);
		if (rs == 0 || !vt->supports(st, ty, QNT_OP_MATMUL)) {
			printf("%-22s %10s\n", name, "(not run by the cuda backend)");
			continue;
		}
		void *q = malloc(rs * (size_t)n_out);
		int ok = q && qnt_quantize(cpu, ty, w, q, n_out, n_in, NULL) == QNT_OK &&
			 vt->buffer_alloc(st, 0, rs * (uint64_t)n_gemv, &bw) == QNT_OK;
		for (long k = 0; ok && k < copies; k++)
			ok = vt->buffer_write(st, bw, rs * (uint64_t)(k * n_out), q, rs * (uint64_t)n_out) == QNT_OK;
		if (!ok) {
			fprintf(stderr, "bench_cuda: %s: cannot upload the weights\n", name);
			return 1;
		}
		qnt_matmul_job mj;
		memset(&mj, 0, sizeof mj);
		mj.struct_size = sizeof mj;
		mj.wtype = ty;
		mj.xq_type = QNT_TYPE_INVALID;
		mj.n_out = n_out;
		mj.n_in = n_in;
		mj.row_end = n_out;
		mj.w.buffer = bw;
		mj.x.buffer = bx;
		mj.y.buffer = by;
		double gemv_t, gemm_t;
		for (int pass = 0; pass < 2; pass++) {
			mj.n_cols = pass == 0 ? 1 : cols;
			mj.n_out = mj.row_end = pass == 0 ? n_gemv : n_out;
			for (int r = -1; r < reps; r++) {
				const double t0 = now();
				if (vt->matmul(st, &mj) != QNT_OK) {
					fprintf(stderr, "bench_cuda: %s: matmul failed\n", name);
					return 1;
				}
				if (r >= 0)
					t[r] = now() - t0;
			}
			*(pass == 0 ? &gemv_t : &gemm_t) = median(t, reps);
		}
		const double gbs = (double)rs * (double)n_gemv / gemv_t / 1e9;
		printf("%-22s %10.0f %8.1f %7.0f%% %12.1f %8.0f%%\n", name, gbs, gemv_t * 1e6, 100.0 * gbs / copy_bw,
		       flops / gemm_t / 1e12, 100.0 * cbn / gemm_t);
		vt->buffer_free(st, bw);
		free(q);
	}
	cublasDestroy(hb);
	vt->buffer_free(st, bx);
	vt->buffer_free(st, by);
	vt->close(st);
	qnt_ctx_destroy(cpu);
	free(w);
	free(x);
	return 0;
}
