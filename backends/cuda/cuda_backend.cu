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
 *               in shared memory by cp.async, decoded 8 at a time (integer
 *               codes made floats by PRMT, no conversion instructions),
 *               several rows per warp sharing each x value, x staged once
 *               per block, f32 sums; where x is not 16-byte aligned or n_in not
 *               a multiple of 32, k_gemv below (one warp per row, one
 *               element at a time through qc_get). 8 columns and more
 *               (GEMM): tensor cores (WMMA, tf32 in, f32
 *               accumulation) on 64 x 32 output tiles with the weights
 *               dequantized into shared memory; the activations are split
 *               into a tf32 head and tail (x = hi + lo, two products), and
 *               so are f32 and MLX affine weights (three products), which keeps the result
 *               within the float formats' 1e-5 as well.
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
 * capability 8.0 score 0 too (the GEMM uses tf32 tensor cores).
 *
 * Memory: qnt_buffer is a cudaMalloc allocation (not host-visible). Host
 * operands go through device staging buffers kept by the state. Jobs run
 * on the state's stream and a call returns when they are done; one mutex
 * serialises the calls on a state.
 */
#include "libqnt_backend.h"
#include "qnt_cuda_formats.cuh"
#include "cuda_gemv.cuh"

#include <cuda_runtime.h>
#include <mma.h>
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

#define BM 64 /* weight rows per tile */
#define BN 32 /* columns per tile */
#define BK 32 /* elements of n_in per step */
#define LDS (BK + 4)

using namespace nvcuda;

/* GEMM with tf32 tensor cores: a 64 x 32 tile of y per block of 4 warps,
 * each warp 16 rows x 32 columns (two 16 x 16 accumulators). */
template <int K>
__global__ void __launch_bounds__(128)
	k_gemm(qc_fmt f, const uint8_t *w, uint64_t rs, int64_t n_in, int64_t nr, const float *x, int64_t n_cols,
	       float *y, int64_t ldy)
{
	/* f32 and MLX affine weights are not exact in tf32 (and their tolerance
	 * is 1e-5); f16, bf16 and the other formats' values are, or are held to
	 * 1e-2 */
	const bool split_w = K == QC_F32 || K == QC_MLX_AFFINE;
	__shared__ __align__(32) float a_hi[BM * LDS];
	__shared__ __align__(32) float a_lo[split_w ? BM * LDS : 8];
	__shared__ __align__(32) float b_hi[BN * LDS];
	__shared__ __align__(32) float b_lo[BN * LDS];
	__shared__ __align__(32) float c_s[BN * (BM + 4)];
	const int tid = threadIdx.x, warp = tid / 32;
	const int64_t r0 = blockIdx.x * (int64_t)BM, c0 = blockIdx.y * (int64_t)BN;

	/* acc: the sum over all steps, added in f32 (round to nearest); part:
	 * one step's products. The tensor cores round their own additions
	 * toward zero, which over a long row drifts by about 1e-5 (measured on
	 * an H100: f32 weights at n_in 768 came to 1.08e-5), so they only ever
	 * add BK elements' products. */
	wmma::fragment<wmma::accumulator, 16, 16, 8, float> acc[2], part[2];
	wmma::fill_fragment(acc[0], 0.0f);
	wmma::fill_fragment(acc[1], 0.0f);
	for (int64_t k0 = 0; k0 < n_in; k0 += BK) {
		for (int i = tid; i < BM * BK; i += 128) {
			const int rr = i / BK, kk = i % BK;
			const int64_t r = r0 + rr, k = k0 + kk;
			const float v = r < nr && k < n_in ? qc_get<K>(f, w + r * rs + (k / f.bs) * f.bb, (int)(k % f.bs))
							   : 0.0f;
			const float hi = wmma::__float_to_tf32(v);
			a_hi[rr * LDS + kk] = hi;
			if (split_w)
				a_lo[rr * LDS + kk] = wmma::__float_to_tf32(v - hi);
		}
		for (int i = tid; i < BN * BK; i += 128) {
			const int cc = i / BK, kk = i % BK;
			const int64_t c = c0 + cc, k = k0 + kk;
			const float v = c < n_cols && k < n_in ? x[c * n_in + k] : 0.0f;
			const float hi = wmma::__float_to_tf32(v);
			b_hi[cc * LDS + kk] = hi;
			b_lo[cc * LDS + kk] = wmma::__float_to_tf32(v - hi);
		}
		__syncthreads();
		wmma::fill_fragment(part[0], 0.0f);
		wmma::fill_fragment(part[1], 0.0f);
#pragma unroll
		for (int kk = 0; kk < BK; kk += 8) {
			wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> fa, fa_lo;
			wmma::load_matrix_sync(fa, a_hi + warp * 16 * LDS + kk, LDS);
			if (split_w)
				wmma::load_matrix_sync(fa_lo, a_lo + warp * 16 * LDS + kk, LDS);
#pragma unroll
			for (int nf = 0; nf < 2; nf++) {
				wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::col_major> fb, fb_lo;
				wmma::load_matrix_sync(fb, b_hi + nf * 16 * LDS + kk, LDS);
				wmma::load_matrix_sync(fb_lo, b_lo + nf * 16 * LDS + kk, LDS);
				/* the small terms first */
				wmma::mma_sync(part[nf], fa, fb_lo, part[nf]);
				if (split_w)
					wmma::mma_sync(part[nf], fa_lo, fb, part[nf]);
				wmma::mma_sync(part[nf], fa, fb, part[nf]);
			}
		}
#pragma unroll
		for (int nf = 0; nf < 2; nf++)
#pragma unroll
			for (int t = 0; t < acc[nf].num_elements; t++)
				acc[nf].x[t] = __fadd_rn(acc[nf].x[t], part[nf].x[t]);
		__syncthreads();
	}
	for (int nf = 0; nf < 2; nf++)
		wmma::store_matrix_sync(c_s + nf * 16 * (BM + 4) + warp * 16, acc[nf], BM + 4, wmma::mem_col_major);
	__syncthreads();
	for (int i = tid; i < BM * BN; i += 128) {
		const int cc = i / BM, rr = i % BM;
		const int64_t r = r0 + rr, c = c0 + cc;
		if (r < nr && c < n_cols)
			y[c * ldy + r] = c_s[cc * (BM + 4) + rr];
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

enum { STAGE_W, STAGE_X, STAGE_Y, N_STAGE };

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
		CU(s, gemv_fast(f, s->props.multiProcessorCount, s->stream, (const uint8_t *)w, rs, n_in, nr,
				(const float *)x, (int)nc, yr, job->n_out));
	} else if (nc < GEMV_COLS) {
		LAUNCH_KIND(f, k_gemv, CFG3(grid_for(nr, GEMV_WARPS), 32 * GEMV_WARPS, s->stream), f, (const uint8_t *)w,
			    rs, n_in, nr, (const float *)x, (int)nc, yr, job->n_out);
	} else {
		const dim3 grid((unsigned)((nr + BM - 1) / BM), (unsigned)((nc + BN - 1) / BN));
		if (grid.y > 65535)
			return QNT_E_UNSUPPORTED;
		LAUNCH_KIND(f, k_gemm, CFG3(grid, 128, s->stream), f, (const uint8_t *)w, rs, n_in, nr, (const float *)x,
			    nc, yr, job->n_out);
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
