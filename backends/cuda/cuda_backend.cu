/* SPDX-License-Identifier: MIT */
/*
 * The "cuda" backend module (libqnt-cuda.so): CUDA kernels for dequantize,
 * the matrix product and quantize.
 *
 *   dequantize  f32 f16 bf16 q4_0 q4_1 q5_0 q5_1 q8_0 q2_K..q6_K mxfp4
 *               nvfp4 and the MLX registry formats (affine 2-8 bits, groups
 *               32/64/128, f32/f16/bf16 scales; mlx:mxfp4, mlx:mxfp8,
 *               mlx:nvfp4): the reference's floats bit for bit, one thread
 *               per element, decoded by qnt_cuda_formats.cuh.
 *   matmul      the same formats against the float activations
 *               (matmul_xq_type says QNT_TYPE_INVALID). Fewer than 8
 *               columns (GEMV): cuda_gemv.cuh, the weights' bytes staged
 *               in shared memory by cp.async, several rows per warp sharing
 *               each x value, x staged once per block; the GGUF block
 *               formats quantize x on the device to their companion as the
 *               reference does (q8_0, q8_1, q8_K) and multiply codes by
 *               dp4a, the others decode 8 weights at a time (integer codes
 *               made floats by PRMT) into f32 sums; where x is not 16-byte
 *               aligned or n_in
 *               not a multiple of 32, k_gemv below (one warp per row, one
 *               element at a time through qc_get). 8 columns and more
 *               (GEMM): x and the weights converted to f16 panels scaled
 *               by powers of two, then f16 tensor cores (mma.sync, f32
 *               accumulation; cuda_gemm.cuh). The GGUF block formats
 *               (tolerance 1e-2) take one product; the formats held to
 *               1e-5 split x into f16 heads and tails (two products: f16,
 *               bf16, the MLX fp4/fp8 formats, whose weights f16 holds
 *               exactly), f32 and MLX affine weights too (three), and add
 *               each 64-element step's sums in f32.
 *   quantize    q8_0, q4_K and the MLX affine formats, one thread per block:
 *               the reference's bytes (same code as the host test checks).
 *               With importance weights the reference runs (host->
 *               quantize_ref) on host copies.
 *
 * Bit-exactness: this file is compiled with -fmad=false (no multiply-add
 * contraction on the device) and the host side with -ffp-contract=off; see
 * qnt_cuda_formats.cuh.
 *
 * The CUDA runtime is linked statically (nvcc's default), so the module
 * loads where no driver is installed; score() then says why it cannot run
 * (cudaGetDeviceCount's error) and returns 0. Devices below compute
 * capability 8.0 score 0 too (the GEMM uses cp.async, ldmatrix and f16
 * mma.sync).
 *
 * Memory: qnt_buffer is a cudaMalloc allocation (not host-visible). Host
 * operands go through device staging buffers kept by the state, and so do
 * the GEMM's f16 panels (up to 128 MiB of weights and 32 MiB of x at a
 * time, plus a quarter kept for growth). Jobs run
 * on the state's stream and a call returns when they are done; one mutex
 * serialises the calls on a state.
 */
#include "libqnt_backend.h"
#include "qnt_cuda_formats.cuh"
#include "cuda_gemm.cuh"
#include "cuda_gemv.cuh"

#include <cuda_runtime.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define CB_EXPORT extern "C" __attribute__((visibility("default")))

CB_EXPORT const qnt_backend_vtbl *qnt_backend_entry(uint32_t host_abi, const qnt_host_api *host);

/* ------------------------------------------------------------------ */
/* Kernels                                                              */
/* ------------------------------------------------------------------ */

#define THREADS 256

static unsigned grid_for(int64_t items, int per_block)
{
	const int64_t g = (items + per_block - 1) / per_block;
	return g < 1 ? 1u : g > 65535 * 16 ? 65535u * 16 : (unsigned)g;
}

/* y[r * n + e] for rows [0, nrows) of w (rows rs bytes apart). */
template <int K>
__global__ void k_dequant(qc_fmt f, const uint8_t *w, uint64_t rs, int64_t n, int64_t nrows, float *y)
{
	const int64_t total = n * nrows;
	for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
		const int64_t r = i / n, e = i % n;
		y[i] = qc_get<K>(f, w + r * rs + (e / f.bs) * f.bb, (int)(e % f.bs));
	}
}

#define GEMV_COLS 8
#define GEMV_WARPS 4

/* GEMV where gemv_fast does not apply (x not 16-byte aligned, n_in not a
 * multiple of 32): one warp per row r of nr, columns [c0, c0 + nc) (nc <= 8);
 * y[c * ldy + r] = sum_e W[r][e] x[c * n_in + e]. */
template <int K>
__global__ void __launch_bounds__(32 * GEMV_WARPS)
	k_gemv(qc_fmt f, const uint8_t *w, uint64_t rs, int64_t n_in, int64_t nr, const float *x, int nc, float *y,
	       int64_t ldy)
{
	const int lane = threadIdx.x % 32;
	for (int64_t r = blockIdx.x * (int64_t)GEMV_WARPS + threadIdx.x / 32; r < nr;
	     r += (int64_t)gridDim.x * GEMV_WARPS) {
		const uint8_t *row = w + r * rs;
		float acc[GEMV_COLS];
#pragma unroll
		for (int c = 0; c < GEMV_COLS; c++)
			acc[c] = 0.0f;
		for (int64_t e = lane; e < n_in; e += 32) {
			const float v = qc_get<K>(f, row + (e / f.bs) * f.bb, (int)(e % f.bs));
#pragma unroll
			for (int c = 0; c < GEMV_COLS; c++)
				if (c < nc)
					acc[c] += v * x[c * n_in + e];
		}
#pragma unroll
		for (int c = 0; c < GEMV_COLS; c++) {
			float s = acc[c];
			for (int o = 16; o > 0; o /= 2)
				s += __shfl_xor_sync(0xffffffffu, s, o);
			if (lane == 0 && c < nc)
				y[c * ldy + r] = s;
		}
	}
}

/* Quantizers: one thread per block of nblk, blocks back to back. */
__global__ void k_quant_q8_0(const float *x, uint8_t *out, int64_t nblk)
{
	for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < nblk; i += (int64_t)gridDim.x * blockDim.x)
		qc_enc_q8_0(x + i * 32, out + i * 34);
}

__global__ void k_quant_q4_K(const float *x, uint8_t *out, int64_t nblk)
{
	for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < nblk; i += (int64_t)gridDim.x * blockDim.x)
		qc_enc_q4_K(x + i * 256, out + i * 144);
}

__global__ void k_quant_mlx_affine(qc_fmt f, const float *x, uint8_t *out, int64_t nblk)
{
	for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < nblk; i += (int64_t)gridDim.x * blockDim.x)
		qc_enc_mlx_affine(f, x + i * f.bs, out + i * f.bb);
}

/* Launches kernel template KERNEL for the kind of f. */
#define LAUNCH_KIND(f, KERNEL, CFG, ...)                                              \
	do {                                                                          \
		switch ((f).kind) {                                                   \
		case QC_F32: KERNEL<QC_F32><<<CFG>>>(__VA_ARGS__); break;             \
		case QC_F16: KERNEL<QC_F16><<<CFG>>>(__VA_ARGS__); break;             \
		case QC_BF16: KERNEL<QC_BF16><<<CFG>>>(__VA_ARGS__); break;           \
		case QC_Q4_0: KERNEL<QC_Q4_0><<<CFG>>>(__VA_ARGS__); break;           \
		case QC_Q4_1: KERNEL<QC_Q4_1><<<CFG>>>(__VA_ARGS__); break;           \
		case QC_Q5_0: KERNEL<QC_Q5_0><<<CFG>>>(__VA_ARGS__); break;           \
		case QC_Q5_1: KERNEL<QC_Q5_1><<<CFG>>>(__VA_ARGS__); break;           \
		case QC_Q8_0: KERNEL<QC_Q8_0><<<CFG>>>(__VA_ARGS__); break;           \
		case QC_Q2_K: KERNEL<QC_Q2_K><<<CFG>>>(__VA_ARGS__); break;           \
		case QC_Q3_K: KERNEL<QC_Q3_K><<<CFG>>>(__VA_ARGS__); break;           \
		case QC_Q4_K: KERNEL<QC_Q4_K><<<CFG>>>(__VA_ARGS__); break;           \
		case QC_Q5_K: KERNEL<QC_Q5_K><<<CFG>>>(__VA_ARGS__); break;           \
		case QC_Q6_K: KERNEL<QC_Q6_K><<<CFG>>>(__VA_ARGS__); break;           \
		case QC_MXFP4: KERNEL<QC_MXFP4><<<CFG>>>(__VA_ARGS__); break;         \
		case QC_NVFP4: KERNEL<QC_NVFP4><<<CFG>>>(__VA_ARGS__); break;         \
		case QC_MLX_AFFINE: KERNEL<QC_MLX_AFFINE><<<CFG>>>(__VA_ARGS__); break; \
		case QC_MLX_MXFP4: KERNEL<QC_MLX_MXFP4><<<CFG>>>(__VA_ARGS__); break; \
		case QC_MLX_MXFP8: KERNEL<QC_MLX_MXFP8><<<CFG>>>(__VA_ARGS__); break; \
		default: KERNEL<QC_MLX_NVFP4><<<CFG>>>(__VA_ARGS__); break;           \
		}                                                                     \
	} while (0)

#define CFG2(a, b) a, b
#define CFG3(a, b, c) a, b, 0, c

/* ------------------------------------------------------------------ */
/* State                                                                */
/* ------------------------------------------------------------------ */

struct qnt_buffer {
	void *ptr; /* device memory */
	uint64_t size;
	int device;
};

/* operands (STAGE_W/X/Y); the f16 GEMM's panels of weights and of x,
 * each followed by its int exponents (STAGE_HW, STAGE_HX) */
enum { STAGE_W, STAGE_X, STAGE_Y, STAGE_HW, STAGE_HX, N_STAGE };

struct cu_state {
	const qnt_host_api *host;
	int device;
	cudaStream_t stream;
	cudaDeviceProp props;
	void *stage[N_STAGE];
	uint64_t stage_size[N_STAGE];
	pthread_mutex_t mu;
	char desc[256];
};

/* A CUDA error as a status, logged with where it happened. */
static qnt_status cu_fail(const cu_state *s, cudaError_t e, const char *what)
{
	s->host->log(QNT_LOG_ERROR, "cuda: %s failed on device %d: %s (%s)", what, s->device, cudaGetErrorString(e),
		     cudaGetErrorName(e));
	(void)cudaGetLastError(); /* clear a non-sticky error */
	return e == cudaErrorMemoryAllocation ? QNT_E_NO_MEMORY : QNT_E_BACKEND;
}

#define CU(s, call)                                               \
	do {                                                      \
		cudaError_t e_ = (call);                          \
		if (e_ != cudaSuccess)                            \
			return cu_fail((s), e_, #call);           \
	} while (0)

/* The format of registry type t, or 0 if the kernels do not run it. */
static int fmt_of(const qnt_host_api *host, qnt_type t, qc_fmt *f)
{
	qnt_type_info ti;
	memset(&ti, 0, sizeof ti);
	ti.struct_size = sizeof ti;
	if (host->type_info(t, &ti) != QNT_OK)
		return 0;
	return qc_fmt_of(t, ti.name, ti.block_size, ti.block_bytes, f);
}

static int can_quantize(const qc_fmt &f)
{
	return f.kind == QC_Q8_0 || f.kind == QC_Q4_K || f.kind == QC_MLX_AFFINE;
}

/* Device staging buffer `which` of at least `size` bytes. */
static qnt_status stage(cu_state *s, int which, uint64_t size, void **out)
{
	if (s->stage_size[which] < size) {
		if (s->stage[which])
			cudaFree(s->stage[which]);
		s->stage[which] = NULL;
		s->stage_size[which] = 0;
		const uint64_t want = size + size / 4 + 256;
		CU(s, cudaMalloc(&s->stage[which], want));
		s->stage_size[which] = want;
	}
	*out = s->stage[which];
	return QNT_OK;
}

/* An operand of `size` bytes at byte `off` of m, on the device: a buffer
 * as it is (bounds checked), host memory copied into staging buffer
 * `which` when copy_in. */
static qnt_status operand(cu_state *s, const qnt_mem *m, int which, uint64_t off, uint64_t size, int copy_in,
			  void **dev)
{
	if (m->buffer) {
		if (m->buffer->device != s->device || m->offset > UINT64_MAX - off || m->offset + off > m->buffer->size ||
		    size > m->buffer->size - (m->offset + off))
			return QNT_E_INVALID_ARG;
		*dev = (char *)m->buffer->ptr + m->offset + off;
		return QNT_OK;
	}
	if (!m->host)
		return QNT_E_INVALID_ARG;
	qnt_status st = stage(s, which, size, dev);
	if (st != QNT_OK)
		return st;
	if (copy_in && size)
		CU(s, cudaMemcpyAsync(*dev, (const char *)m->host + off, size, cudaMemcpyHostToDevice, s->stream));
	return QNT_OK;
}

static void state_free(cu_state *s)
{
	for (int i = 0; i < N_STAGE; i++)
		if (s->stage[i])
			cudaFree(s->stage[i]);
	if (s->stream)
		cudaStreamDestroy(s->stream);
	pthread_mutex_destroy(&s->mu);
	s->host->free(s);
}

/* ------------------------------------------------------------------ */
/* Score, open, devices                                                 */
/* ------------------------------------------------------------------ */

static char description[320] = "CUDA kernels (dequantize, matmul, quantize)";

/* Devices this module can run on (compute capability 8.0 and up); 0 and a
 * reason if none. */
static int usable_devices(char *why, size_t why_size, int *first)
{
	int n = 0;
	cudaError_t e = cudaGetDeviceCount(&n);
	if (e != cudaSuccess) {
		snprintf(why, why_size, "no CUDA device: %s (%s)", cudaGetErrorString(e), cudaGetErrorName(e));
		(void)cudaGetLastError();
		return 0;
	}
	int k = 0;
	for (int i = 0; i < n; i++) {
		cudaDeviceProp p;
		if (cudaGetDeviceProperties(&p, i) == cudaSuccess && p.major >= 8) {
			if (k == 0 && first)
				*first = i;
			k++;
		}
	}
	if (n == 0)
		snprintf(why, why_size, "no CUDA device: the driver reports none");
	else if (k == 0)
		snprintf(why, why_size, "no CUDA device: %d device%s, none of compute capability 8.0 or above", n,
			 n == 1 ? "" : "s");
	return k;
}

/* The CUDA ordinal of usable device `index`, or -1. */
static int ordinal(int index)
{
	int n = 0, k = 0;
	if (cudaGetDeviceCount(&n) != cudaSuccess)
		return -1;
	for (int i = 0; i < n; i++) {
		cudaDeviceProp p;
		if (cudaGetDeviceProperties(&p, i) == cudaSuccess && p.major >= 8 && k++ == index)
			return i;
	}
	return -1;
}

static int32_t cu_score(const qnt_host_api *host, char *why, size_t why_size)
{
	if (!host || host->abi_version != QNT_BACKEND_ABI || !QNT_HOST_HAS(host, type_info)) {
		snprintf(why, why_size, "host table too old");
		return 0;
	}
	int first = 0;
	const int n = usable_devices(why, why_size, &first);
	if (n == 0)
		return 0;
	cudaDeviceProp p;
	if (cudaGetDeviceProperties(&p, first) != cudaSuccess) {
		snprintf(why, why_size, "no CUDA device: cannot read the properties of device %d", first);
		return 0;
	}
	snprintf(description, sizeof description,
		 "CUDA kernels (dequantize, matmul, quantize); %d device%s, first: %.200s (sm_%d%d)", n,
		 n == 1 ? "" : "s", p.name, p.major, p.minor);
	return (1 << 20) | 4; /* a GPU, preferred to Vulkan on the same card */
}

static qnt_status cu_open(const qnt_host_api *host, int32_t device, void **state)
{
	char why[256];
	if (usable_devices(why, sizeof why, NULL) == 0) {
		host->log(QNT_LOG_ERROR, "cuda: %s", why);
		return QNT_E_BACKEND;
	}
	const int ord = ordinal(device);
	if (device < 0 || ord < 0) {
		host->log(QNT_LOG_ERROR, "cuda: no device %d", (int)device);
		return QNT_E_NOT_FOUND;
	}
	cu_state *s = (cu_state *)host->alloc(sizeof *s, 64);
	if (!s)
		return QNT_E_NO_MEMORY;
	memset(s, 0, sizeof *s);
	s->host = host;
	s->device = ord;
	pthread_mutex_init(&s->mu, NULL);
	cudaError_t e = cudaSetDevice(ord);
	if (e == cudaSuccess)
		e = cudaGetDeviceProperties(&s->props, ord);
	if (e == cudaSuccess)
		e = cudaStreamCreateWithFlags(&s->stream, cudaStreamNonBlocking);
	if (e != cudaSuccess) {
		qnt_status st = cu_fail(s, e, "opening the device");
		state_free(s);
		return st;
	}
	snprintf(s->desc, sizeof s->desc, "%.200s (sm_%d%d, %d SMs)", s->props.name, s->props.major, s->props.minor,
		 s->props.multiProcessorCount);
	host->log(QNT_LOG_DEBUG, "cuda: opened device %d: %s", (int)device, s->desc);
	*state = s;
	return QNT_OK;
}

static void cu_close(void *state)
{
	cu_state *s = (cu_state *)state;
	cudaSetDevice(s->device);
	state_free(s);
}

static int32_t cu_device_count(void *state)
{
	char why[256];
	(void)state;
	return usable_devices(why, sizeof why, NULL);
}

static qnt_status cu_device_props(void *state, int32_t device, qnt_device_props *props)
{
	cu_state *s = (cu_state *)state;
	const int ord = ordinal(device);
	if (ord < 0)
		return QNT_E_NOT_FOUND;
	if (!props || props->struct_size < sizeof *props)
		return QNT_E_INVALID_ARG;
	if (ord != s->device)
		return QNT_E_UNSUPPORTED; /* only the device this state opened is described */
	size_t free_b = 0, total_b = 0;
	CU(s, cudaSetDevice(s->device));
	CU(s, cudaMemGetInfo(&free_b, &total_b));
	props->kind = QNT_DEVICE_GPU;
	props->memory_total = total_b;
	props->memory_free = free_b;
	props->caps = QNT_BACKEND_CAP_DEVICE_MEMORY;
	props->reserved = 0;
	props->name = s->props.name;
	props->description = s->desc;
	return QNT_OK;
}

static int32_t cu_supports(void *state, qnt_type type, uint32_t op)
{
	cu_state *s = (cu_state *)state;
	qc_fmt f;
	if (!fmt_of(s->host, type, &f))
		return 0;
	if (op == QNT_OP_DEQUANTIZE || op == QNT_OP_MATMUL)
		return 1;
	return op == QNT_OP_QUANTIZE && can_quantize(f);
}

/* ------------------------------------------------------------------ */
/* Jobs                                                                 */
/* ------------------------------------------------------------------ */

static qnt_status finish(cu_state *s, const char *what)
{
	cudaError_t e = cudaGetLastError();
	if (e == cudaSuccess)
		e = cudaStreamSynchronize(s->stream);
	return e == cudaSuccess ? QNT_OK : cu_fail(s, e, what);
}

static qnt_status check_rows(const qnt_kernel_job *job, size_t rs)
{
	if (rs == 0 || job->row_begin < 0 || job->row_end > job->nrows || job->row_begin > job->row_end)
		return QNT_E_INVALID_ARG;
	return QNT_OK;
}

static qnt_status dequantize_locked(cu_state *s, const qnt_kernel_job *job, const qc_fmt &f, size_t rs)
{
	const int64_t nr = job->row_end - job->row_begin, n = job->n_per_row;
	const uint64_t frow = (uint64_t)n * sizeof(float);
	void *w, *y;
	qnt_status st;
	if ((st = operand(s, &job->src, STAGE_W, (uint64_t)job->row_begin * rs, (uint64_t)nr * rs, 1, &w)) != QNT_OK ||
	    (st = operand(s, &job->dst, STAGE_Y, (uint64_t)job->row_begin * frow, (uint64_t)nr * frow, 0, &y)) != QNT_OK)
		return st;
	LAUNCH_KIND(f, k_dequant, CFG3(grid_for(nr * n, THREADS), THREADS, s->stream), f, (const uint8_t *)w, rs, n, nr,
		    (float *)y);
	if (!job->dst.buffer)
		CU(s, cudaMemcpyAsync((float *)job->dst.host + job->row_begin * n, y, (size_t)nr * frow,
				      cudaMemcpyDeviceToHost, s->stream));
	return finish(s, "dequantize");
}

static qnt_status cu_dequantize(void *state, const qnt_kernel_job *job)
{
	cu_state *s = (cu_state *)state;
	if (!job || job->struct_size < sizeof *job || job->op != QNT_OP_DEQUANTIZE)
		return QNT_E_INVALID_ARG;
	qc_fmt f;
	if (!fmt_of(s->host, job->type, &f))
		return QNT_E_UNSUPPORTED;
	const size_t rs = s->host->row_size(job->type, job->n_per_row);
	if (check_rows(job, rs) != QNT_OK || (job->dst.buffer && (job->dst.offset & 3u)))
		return QNT_E_INVALID_ARG;
	if (job->row_end == job->row_begin)
		return QNT_OK;
	pthread_mutex_lock(&s->mu);
	qnt_status st = cudaSetDevice(s->device) == cudaSuccess ? dequantize_locked(s, job, f, rs) : QNT_E_BACKEND;
	pthread_mutex_unlock(&s->mu);
	return st;
}

/* Importance weights: the reference, on host copies of the operands. */
static qnt_status quantize_ref_rows(cu_state *s, const qnt_kernel_job *job, size_t rs)
{
	const int64_t nr = job->row_end - job->row_begin, n = job->n_per_row;
	const size_t fbytes = (size_t)(nr * n) * sizeof(float), qbytes = (size_t)nr * rs;
	const float *src = job->src.buffer ? NULL : (const float *)job->src.host + job->row_begin * n;
	uint8_t *dst = job->dst.buffer ? NULL : (uint8_t *)job->dst.host + (size_t)job->row_begin * rs;
	float *tmp_src = NULL;
	uint8_t *tmp_dst = NULL;
	qnt_status st = QNT_OK;
	if (!src) {
		void *d;
		if ((st = operand(s, &job->src, STAGE_X, (uint64_t)job->row_begin * n * sizeof(float), fbytes, 0, &d)) !=
			    QNT_OK ||
		    !(tmp_src = (float *)s->host->alloc(fbytes, 64)))
			return st != QNT_OK ? st : QNT_E_NO_MEMORY;
		if (cudaMemcpy(tmp_src, d, fbytes, cudaMemcpyDeviceToHost) != cudaSuccess)
			st = QNT_E_BACKEND;
		src = tmp_src;
	}
	void *dd = NULL;
	if (st == QNT_OK && !dst) {
		st = operand(s, &job->dst, STAGE_W, (uint64_t)job->row_begin * rs, qbytes, 0, &dd);
		if (st == QNT_OK && !(dst = tmp_dst = (uint8_t *)s->host->alloc(qbytes, 64)))
			st = QNT_E_NO_MEMORY;
	}
	if (st == QNT_OK)
		st = s->host->quantize_ref(job->type, src, dst, nr, n, job->importance);
	if (st == QNT_OK && tmp_dst && cudaMemcpy(dd, tmp_dst, qbytes, cudaMemcpyHostToDevice) != cudaSuccess)
		st = QNT_E_BACKEND;
	s->host->free(tmp_src);
	s->host->free(tmp_dst);
	return st;
}

static qnt_status quantize_locked(cu_state *s, const qnt_kernel_job *job, const qc_fmt &f, size_t rs)
{
	if (job->importance)
		return quantize_ref_rows(s, job, rs);
	const int64_t nr = job->row_end - job->row_begin, n = job->n_per_row;
	const uint64_t frow = (uint64_t)n * sizeof(float);
	const int64_t nblk = nr * (n / f.bs);
	void *x, *q;
	qnt_status st;
	if ((st = operand(s, &job->src, STAGE_X, (uint64_t)job->row_begin * frow, (uint64_t)nr * frow, 1, &x)) != QNT_OK ||
	    (st = operand(s, &job->dst, STAGE_W, (uint64_t)job->row_begin * rs, (uint64_t)nr * rs, 0, &q)) != QNT_OK)
		return st;
	/* q4_K keeps 256 codes per thread: smaller blocks of threads */
	const int th = f.kind == QC_Q4_K ? 64 : THREADS;
	const unsigned g = grid_for(nblk, th);
	if (f.kind == QC_Q8_0)
		k_quant_q8_0<<<g, th, 0, s->stream>>>((const float *)x, (uint8_t *)q, nblk);
	else if (f.kind == QC_Q4_K)
		k_quant_q4_K<<<g, th, 0, s->stream>>>((const float *)x, (uint8_t *)q, nblk);
	else
		k_quant_mlx_affine<<<g, th, 0, s->stream>>>(f, (const float *)x, (uint8_t *)q, nblk);
	if (!job->dst.buffer)
		CU(s, cudaMemcpyAsync((uint8_t *)job->dst.host + (size_t)job->row_begin * rs, q, (size_t)nr * rs,
				      cudaMemcpyDeviceToHost, s->stream));
	return finish(s, "quantize");
}

static qnt_status cu_quantize(void *state, const qnt_kernel_job *job)
{
	cu_state *s = (cu_state *)state;
	if (!job || job->struct_size < sizeof *job || job->op != QNT_OP_QUANTIZE)
		return QNT_E_INVALID_ARG;
	qc_fmt f;
	if (!fmt_of(s->host, job->type, &f) || !can_quantize(f))
		return QNT_E_UNSUPPORTED;
	const size_t rs = s->host->row_size(job->type, job->n_per_row);
	if (check_rows(job, rs) != QNT_OK || (job->src.buffer && (job->src.offset & 3u)))
		return QNT_E_INVALID_ARG;
	if (job->row_end == job->row_begin)
		return QNT_OK;
	pthread_mutex_lock(&s->mu);
	qnt_status st = cudaSetDevice(s->device) == cudaSuccess ? quantize_locked(s, job, f, rs) : QNT_E_BACKEND;
	pthread_mutex_unlock(&s->mu);
	return st;
}

static qnt_type cu_matmul_xq_type(void *state, qnt_type wtype)
{
	(void)state;
	(void)wtype;
	return QNT_TYPE_INVALID; /* the kernels read the float activations */
}

/* The segments of the f16 GEMM for format f: 1 for the GGUF block formats
 * (weights and x in f16, tolerance 1e-2); 2 where f16 holds the weights
 * exactly (f16, bf16, the MLX fp4/fp8 formats: x split into heads and
 * tails); 3 for f32 and MLX affine weights (split too). */
static int gemm_segments(const qc_fmt &f)
{
	if (f.kind >= QC_Q4_0 && f.kind <= QC_NVFP4)
		return 1;
	return f.kind == QC_F32 || f.kind == QC_MLX_AFFINE ? 3 : 2;
}

#define GM_W_PANEL ((int64_t)128 << 20) /* bytes of f16 weights converted at a time */
#define GM_X_PANEL ((int64_t)32 << 20)  /* bytes of f16 activations */

static int64_t round_up(int64_t v, int64_t m)
{
	return (v + m - 1) / m * m;
}

/* y = W x through f16 panels (cuda_gemm.cuh): the columns in chunks of at
 * most GM_X_PANEL bytes of f16, the rows in panels of at most GM_W_PANEL
 * (both a whole number of tiles), so that the scratch stays bounded. */
static qnt_status gemm_f16(cu_state *s, const qc_fmt &f, const uint8_t *w, size_t rs, int64_t nr, int64_t n_in,
			   const float *x, int64_t nc, float *y, int64_t ldy)
{
	const int nseg = gemm_segments(f);
	/* halves per row of the panels: heads, then tails where split */
	const int64_t kp = round_up(n_in, GM_BK), kw = (nseg == 3 ? 2 : 1) * kp, kx = (nseg > 1 ? 2 : 1) * kp;
	int64_t prow = GM_W_PANEL / (kw * 2) / GM_BM * GM_BM, pcol = GM_X_PANEL / (kx * 2) / GM_BN * GM_BN;
	prow = prow < GM_BM ? GM_BM : prow > round_up(nr, GM_BM) ? round_up(nr, GM_BM) : prow;
	pcol = pcol < GM_BN ? GM_BN : pcol > round_up(nc, GM_BN) ? round_up(nc, GM_BN) : pcol;
	void *hw, *hx;
	qnt_status st;
	if ((st = stage(s, STAGE_HW, (uint64_t)(prow * kw * 2 + prow * 4), &hw)) != QNT_OK ||
	    (st = stage(s, STAGE_HX, (uint64_t)(pcol * kx * 2 + pcol * 4), &hx)) != QNT_OK)
		return st;
	__half *wh = (__half *)hw, *xh = (__half *)hx;
	int *we = (int *)(wh + prow * kw), *xe = (int *)(xh + pcol * kx);
	const void *gemm = nseg == 1 ? (const void *)GM_KERNEL(1) : nseg == 2 ? (const void *)GM_KERNEL(2)
									  : (const void *)GM_KERNEL(3);
	CU(s, cudaFuncSetAttribute(gemm, cudaFuncAttributeMaxDynamicSharedMemorySize, GM_SMEM));
	const qc_fmt fx = { QC_F32, 1, 4, 0, QC_D_F32 };
	for (int64_t c0 = 0; c0 < nc; c0 += pcol) {
		const int64_t cn = nc - c0 < pcol ? nc - c0 : pcol, cpad = round_up(cn, GM_BN);
		const uint8_t *xc = (const uint8_t *)(x + c0 * n_in);
		if (nseg == 1)
			k_to_half<GM_X_KIND><<<(unsigned)cpad, TH_THREADS, 0, s->stream>>>(fx, xc, (uint64_t)n_in * 4, n_in,
											     cn, kp, xh, xe);
		else
			k_to_half<GM_XS_KIND><<<(unsigned)cpad, TH_THREADS, 0, s->stream>>>(fx, xc, (uint64_t)n_in * 4, n_in,
											      cn, kp, xh, xe);
		for (int64_t r0 = 0; r0 < nr; r0 += prow) {
			const int64_t rn = nr - r0 < prow ? nr - r0 : prow, rpad = round_up(rn, GM_BM);
			LAUNCH_KIND(f, k_to_half, CFG3((unsigned)rpad, TH_THREADS, s->stream), f, w + r0 * rs, rs, n_in,
				    rn, kp, wh, we);
			const dim3 grid((unsigned)(cpad / GM_BN), (unsigned)(rpad / GM_BM));
			float *yc = y + c0 * ldy + r0;
			if (nseg == 1)
				GM_KERNEL(1)<<<grid, GM_THREADS, GM_SMEM, s->stream>>>(wh, we, xh, xe, kp, rn, cn, yc, ldy);
			else if (nseg == 2)
				GM_KERNEL(2)<<<grid, GM_THREADS, GM_SMEM, s->stream>>>(wh, we, xh, xe, kp, rn, cn, yc, ldy);
			else
				GM_KERNEL(3)<<<grid, GM_THREADS, GM_SMEM, s->stream>>>(wh, we, xh, xe, kp, rn, cn, yc, ldy);
		}
	}
	return QNT_OK;
}

static qnt_status matmul_locked(cu_state *s, const qnt_matmul_job *job, const qc_fmt &f, size_t rs)
{
	const int64_t rb = job->row_begin, nr = job->row_end - rb, n_in = job->n_in, nc = job->n_cols;
	const uint64_t xbytes = (uint64_t)nc * (uint64_t)n_in * sizeof(float);
	const uint64_t ybytes = (uint64_t)nc * (uint64_t)job->n_out * sizeof(float);
	void *w, *x, *y;
	qnt_status st;
	if ((st = operand(s, &job->w, STAGE_W, (uint64_t)rb * rs, (uint64_t)nr * rs, 1, &w)) != QNT_OK ||
	    (st = operand(s, &job->x, STAGE_X, 0, xbytes, 1, &x)) != QNT_OK ||
	    (st = operand(s, &job->y, STAGE_Y, 0, ybytes, 0, &y)) != QNT_OK)
		return st;
	float *yr = (float *)y + rb; /* row rb of column 0 */
	if (nc < GEMV_COLS && gemv_fast_ok(n_in, x, nc)) {
		void *xq;
		if ((st = stage(s, STAGE_HX, gemv_fast_scratch(n_in, nc), &xq)) != QNT_OK)
			return st;
		CU(s, gemv_fast(f, s->props.multiProcessorCount, s->stream, (const uint8_t *)w, rs, n_in, nr,
				(const float *)x, (int)nc, yr, job->n_out, (uint8_t *)xq));
	} else if (nc < GEMV_COLS) {
		LAUNCH_KIND(f, k_gemv, CFG3(grid_for(nr, GEMV_WARPS), 32 * GEMV_WARPS, s->stream), f, (const uint8_t *)w,
			    rs, n_in, nr, (const float *)x, (int)nc, yr, job->n_out);
	} else if ((st = gemm_f16(s, f, (const uint8_t *)w, rs, nr, n_in, (const float *)x, nc, yr, job->n_out)) !=
		   QNT_OK) {
		return st;
	}
	if (!job->y.buffer) /* only the rows this job computed, of every column */
		CU(s, cudaMemcpy2DAsync((float *)job->y.host + rb, (size_t)job->n_out * sizeof(float), yr,
					(size_t)job->n_out * sizeof(float), (size_t)nr * sizeof(float), (size_t)nc,
					cudaMemcpyDeviceToHost, s->stream));
	return finish(s, "matmul");
}

static qnt_status cu_matmul(void *state, const qnt_matmul_job *job)
{
	cu_state *s = (cu_state *)state;
	if (!job || job->struct_size < sizeof *job)
		return QNT_E_INVALID_ARG;
	qc_fmt f;
	if (!fmt_of(s->host, job->wtype, &f))
		return QNT_E_UNSUPPORTED;
	const size_t rs = s->host->row_size(job->wtype, job->n_in);
	if (rs == 0 || job->n_cols < 0 || job->row_begin < 0 || job->row_end > job->n_out ||
	    job->row_begin > job->row_end)
		return QNT_E_INVALID_ARG;
	if ((job->x.buffer && (job->x.offset & 3u)) || (job->y.buffer && (job->y.offset & 3u)))
		return QNT_E_INVALID_ARG;
	if (job->row_end == job->row_begin || job->n_cols == 0)
		return QNT_OK;
	pthread_mutex_lock(&s->mu);
	qnt_status st = cudaSetDevice(s->device) == cudaSuccess ? matmul_locked(s, job, f, rs) : QNT_E_BACKEND;
	pthread_mutex_unlock(&s->mu);
	return st;
}

/* ------------------------------------------------------------------ */
/* Device memory                                                        */
/* ------------------------------------------------------------------ */

static qnt_status cu_buffer_alloc(void *state, int32_t device, uint64_t size, qnt_buffer **out)
{
	cu_state *s = (cu_state *)state;
	if (!out)
		return QNT_E_INVALID_ARG;
	*out = NULL;
	if (ordinal(device) != s->device)
		return QNT_E_NOT_FOUND;
	qnt_buffer *b = (qnt_buffer *)s->host->alloc(sizeof *b, 16);
	if (!b)
		return QNT_E_NO_MEMORY;
	b->size = size;
	b->device = s->device;
	b->ptr = NULL;
	pthread_mutex_lock(&s->mu);
	cudaError_t e = cudaSetDevice(s->device);
	if (e == cudaSuccess)
		e = cudaMalloc(&b->ptr, size ? size : 4);
	pthread_mutex_unlock(&s->mu);
	if (e != cudaSuccess) {
		s->host->free(b);
		return cu_fail(s, e, "cudaMalloc");
	}
	*out = b;
	return QNT_OK;
}

static void cu_buffer_free(void *state, qnt_buffer *buf)
{
	cu_state *s = (cu_state *)state;
	if (!buf)
		return;
	pthread_mutex_lock(&s->mu);
	cudaSetDevice(s->device);
	cudaFree(buf->ptr);
	pthread_mutex_unlock(&s->mu);
	s->host->free(buf);
}

static qnt_status copy(cu_state *s, void *dst, const void *src, uint64_t size, cudaMemcpyKind kind)
{
	pthread_mutex_lock(&s->mu);
	cudaError_t e = cudaSetDevice(s->device);
	if (e == cudaSuccess && size)
		e = cudaMemcpy(dst, src, size, kind);
	pthread_mutex_unlock(&s->mu);
	return e == cudaSuccess ? QNT_OK : cu_fail(s, e, "cudaMemcpy");
}

static qnt_status cu_buffer_write(void *state, qnt_buffer *buf, uint64_t offset, const void *src, uint64_t size)
{
	if (!buf || (!src && size) || offset > buf->size || size > buf->size - offset)
		return QNT_E_INVALID_ARG;
	return copy((cu_state *)state, (char *)buf->ptr + offset, src, size, cudaMemcpyHostToDevice);
}

static qnt_status cu_buffer_read(void *state, qnt_buffer *buf, uint64_t offset, void *dst, uint64_t size)
{
	if (!buf || (!dst && size) || offset > buf->size || size > buf->size - offset)
		return QNT_E_INVALID_ARG;
	return copy((cu_state *)state, dst, (const char *)buf->ptr + offset, size, cudaMemcpyDeviceToHost);
}

static void *cu_buffer_host_ptr(void *state, qnt_buffer *buf)
{
	(void)state;
	(void)buf;
	return NULL; /* device memory is not host-visible */
}

static qnt_status cu_synchronize(void *state, int32_t device)
{
	(void)state;
	(void)device;
	return QNT_OK; /* every job has finished when its call returns */
}

static const qnt_backend_vtbl vtbl = {
	sizeof(qnt_backend_vtbl),
	QNT_BACKEND_ABI,
	"cuda",
	description,
	QNT_BACKEND_CAP_DEVICE_MEMORY,
	0,
	cu_score,
	cu_open,
	cu_close,
	cu_device_count,
	cu_device_props,
	cu_supports,
	cu_quantize,
	cu_dequantize,
	NULL, /* scratch_bytes */
	cu_buffer_alloc,
	cu_buffer_free,
	cu_buffer_write,
	cu_buffer_read,
	cu_buffer_host_ptr,
	cu_synchronize,
	NULL, /* get_proc */
	cu_matmul_xq_type,
	cu_matmul,
};

CB_EXPORT const qnt_backend_vtbl *qnt_backend_entry(uint32_t host_abi, const qnt_host_api *host)
{
	(void)host;
	return host_abi == QNT_BACKEND_ABI ? &vtbl : NULL;
}
