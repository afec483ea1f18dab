/* SPDX-License-Identifier: MIT */
/*
 * cuda_gemm.cuh: the CUDA module's f16 tensor-core GEMM (8 columns and
 * more), included by cuda_backend.cu.
 *
 *   y[c][r] = sum_k W[r][k] x[c][k]
 *
 * in two steps:
 *   k_to_half  rows of a format (the weights, or x as f32) to f16 panels,
 *              one block of threads per row, each thread on chunks of 8
 *              elements (qc_get8: the eight share their block's scales).
 *              A row is scaled by a power of two 2^e (e per row, an int
 *              array) when its largest magnitude m would not sit well in
 *              f16: m >= 2^15 (x of 1e6, weights with large block scales)
 *              would overflow, m < 2^-8 (x of 1e-7) would fall into f16's
 *              subnormals; such a row is decoded a second time and scaled
 *              so that m lies in [2^14, 2^15). Powers of two are exact, so
 *              the epilogue undoes them with one ldexpf. Rows are padded
 *              with zeros to the tiles (k to a multiple of GM_BK, rows to
 *              GM_BM, columns to GM_BN), so the GEMM reads no tails.
 *   k_gemm_f16 mma.sync m16n8k16 (f16 in, f32 accumulation), fed by
 *              ldmatrix from shared memory that a cp.async pipeline fills
 *              (rows padded by 16 bytes: the 8 rows an ldmatrix phase
 *              reads fall on distinct banks); the fragments of the next
 *              16-element step load while the products of this one run.
 *              The backend runs 128 x 128 output tiles, 8 warps of
 *              64 x 32, k steps of 64, 3 stages, 2 blocks per SM.
 *
 * Measured on an H100 (a cudaEvent harness, median of 7, 8192 x 8192
 * weight panel, 512 columns): the GEMM 241 us (285 TFLOP/s; 247-255 us
 * before the fragments were double-buffered); 4 warps of 64 x 64 240 us,
 * 128 x 256 tiles 232 us (one block per SM, 222 registers), k steps of 32
 * with 4 stages 262 us. Nsight Compute (at 1.44 GHz): the tensor pipe 42%
 * busy, issue slots 27%, occupancy 25% (registers and shared memory allow
 * 2 blocks of 8 warps), L2 58%: latency-bound, not at a limit. Converting
 * the panel to f16: 71 us for q4_0 (2.4 TB/s of bytes read and written),
 * 91 us for q4_K, x (512 x 8192) 12 us; the first version (one warp per
 * row, two decodes of each element by qc_get) took 195-640 us.
 *
 * Rounding: f16 keeps 11 bits of each operand, about 3e-4 normwise error
 * on the test's products (tests/cuda/test_cuda.c): enough for the GGUF
 * formats' 1e-2 / 1.5e-2 (one segment: weights and x). For the formats
 * held to 1e-5 k_to_half splits x into f16 heads and tails (x = hi + lo
 * to about 22 bits) and, where f16 does not hold the weights exactly (f32,
 * MLX affine), the weights too; the GEMM runs them as more segments of k
 * (W x_hi + W x_lo: 2; + W_lo x_hi: 3) and adds each k step's products in
 * f32, since the tensor cores round their own sums toward zero. Measured
 * on an H100 (test_cuda): 3.2e-7..5.1e-7 for all of them.
 */
#ifndef QNT_CUDA_GEMM_CUH
#define QNT_CUDA_GEMM_CUH

#include "qnt_cuda_formats.cuh"

#include <cuda_fp16.h>
#include <stdint.h>

/* The configuration the backend runs (k_gemm_f16's parameters) */
#define GM_WM 2     /* warps along the rows */
#define GM_WN 4     /* warps along the columns */
#define GM_MT 4     /* 16-row tiles per warp */
#define GM_NT 4     /* 8-column tiles per warp */
#define GM_BK 64    /* k per pipeline stage */
#define GM_STAGES 3 /* pipeline stages */
#define GM_BM (16 * GM_WM * GM_MT)
#define GM_BN (8 * GM_WN * GM_NT)
#define GM_THREADS (32 * GM_WM * GM_WN)
#define GM_SMEM (GM_STAGES * (GM_BM + GM_BN) * (GM_BK + 8) * 2)
/* two blocks per SM for one segment (126 registers), one for more (the
 * parts take 212) */
#define GM_KERNEL(nseg) k_gemm_f16<GM_WM, GM_WN, GM_MT, GM_NT, GM_BK, GM_STAGES, nseg, (nseg) == 1 ? 2 : 1>
#define TH_THREADS 256 /* threads per row in k_to_half */

/* The exponent e that brings the magnitude m to [2^14, 2^15); 0 for 0,
 * infinities and NaN (they stay as they are). */
__device__ __forceinline__ int half_exp(float m)
{
	if (!(m > 0.0f) || isinf(m))
		return 0;
	int ex;
	frexpf(m, &ex); /* m = f * 2^ex, f in [0.5, 1) */
	return 15 - ex;
}

/* 2^a for |a| <= 126. */
__device__ __forceinline__ float pow2f(int a)
{
	return __int_as_float((a + 127) << 23);
}

/* k_to_half's kinds for x (f32, 4-byte aligned): as it is, and split */
#define GM_X_KIND QC_N_KINDS
#define GM_XS_KIND (QC_N_KINDS + 1)

/* Whether k_to_half<K> splits its rows into f16 heads and tails: x for
 * the formats held to 1e-5, and the weights of those whose values f16
 * does not hold exactly (f32, MLX affine: q s + b in f32). */
__host__ __device__ constexpr bool th_split(int K)
{
	return K == GM_XS_KIND || K == QC_F32 || K == QC_MLX_AFFINE;
}

/* Elements [e, e + 8) of a row of n elements of K (a block size of 1 or a
 * multiple of 8) into v, zero from n on. */
template <int K>
__device__ __forceinline__ void load8(const qc_fmt &f, const uint8_t *row, int64_t n, int64_t e, float *v)
{
	if (e >= n) {
#pragma unroll
		for (int t = 0; t < 8; t++)
			v[t] = 0.0f;
	} else if constexpr (K == GM_X_KIND || K == GM_XS_KIND) {
		const float *p = (const float *)row + e;
#pragma unroll
		for (int t = 0; t < 8; t++)
			v[t] = e + t < n ? p[t] : 0.0f;
	} else if constexpr (K == QC_F32 || K == QC_F16 || K == QC_BF16) {
#pragma unroll
		for (int t = 0; t < 8; t++)
			v[t] = e + t < n ? qc_get<K>(f, row + (e + t) * f.bb, 0) : 0.0f;
	} else {
		qc_get8<K>(f, row + (e / f.bs) * f.bb, (int)(e % f.bs), v);
	}
}

/* The halves of v[0 .. 8) times s1 s2 (powers of two) at hi; with lo, the
 * tails (what the halves miss) there. */
__device__ __forceinline__ void store8(uint4 *hi, uint4 *lo, const float *v, float s1, float s2)
{
	__half2 h[4], l[4];
#pragma unroll
	for (int t = 0; t < 4; t++) {
		const float a = v[2 * t] * s1 * s2, b = v[2 * t + 1] * s1 * s2;
		h[t] = __floats2half2_rn(a, b);
		l[t] = __floats2half2_rn(a - __low2float(h[t]), b - __high2float(h[t]));
	}
	*hi = *(const uint4 *)h;
	if (lo)
		*lo = *(const uint4 *)l;
}

/* Row r of src (rows rs bytes apart, n elements of format K) to dst, rows
 * kp halves apart (a multiple of 8; 2 kp when split: the heads, then the
 * tails), scaled by 2^exps[r]; rows r >= nrows and the elements [n, kp)
 * zero. One block of threads per row, thread i on the chunks of 8
 * elements at 8 i + 8 TH_THREADS c. Unsplit, the row is decoded once and
 * stored unscaled (e = 0) when its largest magnitude m lies in
 * [2^-8, 2^15): f16 holds it without overflow, and what falls into f16's
 * subnormals is below 2^-17 m; otherwise (e.g. x of 1e6, or 1e-7) it is
 * decoded again and stored scaled so that m lies in [2^14, 2^15). Split
 * rows are always scaled so (the tails, 2^-11 below the heads, stay out
 * of the subnormals), after a first pass that finds m. */
template <int K>
__global__ void __launch_bounds__(TH_THREADS)
	k_to_half(qc_fmt f, const uint8_t *__restrict__ src, uint64_t rs, int64_t n, int64_t nrows, int64_t kp,
		  __half *__restrict__ dst, int *__restrict__ exps)
{
	constexpr bool split = th_split(K);
	__shared__ float wmax[TH_THREADS / 32];
	const int64_t r = blockIdx.x;
	uint4 *out = (uint4 *)(dst + r * kp * (split ? 2 : 1)), *out_lo = split ? out + kp / 8 : NULL;
	const uint8_t *row = src + r * rs;
	const int64_t nv = r < nrows ? n : 0; /* the padding rows: zeros */
	float m = 0.0f, v[8];
#pragma unroll 2
	for (int64_t e = 8 * threadIdx.x; e < kp; e += 8 * TH_THREADS) {
		load8<K>(f, row, nv, e, v);
#pragma unroll
		for (int t = 0; t < 8; t++)
			m = fmaxf(m, qc_fabs(v[t]));
		if (!split)
			store8(out + e / 8, NULL, v, 1.0f, 1.0f);
	}
	for (int o = 16; o > 0; o /= 2)
		m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o));
	if (threadIdx.x % 32 == 0)
		wmax[threadIdx.x / 32] = m;
	__syncthreads();
	for (int w = 0; w < TH_THREADS / 32; w++)
		m = fmaxf(m, wmax[w]);
	int ex = half_exp(m);
	if (!split && ex >= 0 && ex <= 22)
		ex = 0;
	if (split || ex != 0) {
		const float s1 = pow2f(ex / 2), s2 = pow2f(ex - ex / 2); /* ex is in [-114, 164] */
		for (int64_t e = 8 * threadIdx.x; e < kp; e += 8 * TH_THREADS) {
			load8<K>(f, row, nv, e, v);
			store8(out + e / 8, split ? out_lo + e / 8 : NULL, v, s1, s2);
		}
	}
	if (threadIdx.x == 0)
		exps[r] = ex;
}

__device__ __forceinline__ uint32_t smem_addr(const void *p)
{
	return (uint32_t)__cvta_generic_to_shared(p);
}

__device__ __forceinline__ void cp_async16(void *sdst, const void *gsrc)
{
	asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(smem_addr(sdst)), "l"(gsrc));
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t *r, const void *p)
{
	asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
		     : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
		     : "r"(smem_addr(p)));
}

/* d += a b for one 16 x 8 x 16 step (f16 in, f32 accumulation). */
__device__ __forceinline__ void mma_16816(float *d, const uint32_t *a, const uint32_t *b)
{
	asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
		     "{%8, %9}, {%0, %1, %2, %3};\n"
		     : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
		     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

/* GEMM on the f16 panels: a (rows kp halves apart, a multiple of BM of
 * them) times b (columns kp apart, a multiple of BN), kp a multiple of BK;
 * y[c * ldy + r] = 2^-(ea[r] + eb[c]) sum_k a[r][k] b[c][k] for r < nr,
 * c < nc. WM x WN warps, each on MT x NT tiles of 16 x 8: a block computes
 * BM = 16 WM MT rows by BN = 8 WN NT columns. Grid: x over column tiles, y
 * over row tiles, so that the blocks that share a row tile of the weights
 * run together (it comes from memory once, then from L2). */
template <int WM, int WN, int MT, int NT, int BK, int STAGES, int NSEG, int MINB>
__global__ void __launch_bounds__(32 * WM * WN, MINB)
	k_gemm_f16(const __half *a, const int *ea, const __half *b, const int *eb, int64_t kp, int64_t nr, int64_t nc,
		   float *y, int64_t ldy)
{
	constexpr int BM = 16 * WM * MT, BN = 8 * WN * NT, LDK = BK + 8, NTH = 32 * WM * WN;
	constexpr bool parts = NSEG > 1;
	const int64_t lda = NSEG == 3 ? 2 * kp : kp, ldb = NSEG > 1 ? 2 * kp : kp;
	extern __shared__ __align__(16) __half gm_smem[];
	__half *sa = gm_smem, *sb = gm_smem + STAGES * BM * LDK;
	const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
	const int wm = warp % WM, wn = warp / WM;
	const int64_t r0 = blockIdx.y * (int64_t)BM, c0 = blockIdx.x * (int64_t)BN;
	const __half *ga = a + r0 * lda, *gb = b + c0 * ldb;
	const int64_t nk = kp / BK, nkt = NSEG * nk;

	/* 16-byte chunks, BK / 8 per row. Step kt of segment kt / nk reads
	 * heads or tails: a's tails in segment 2, b's in segment 1. */
	auto load_stage = [&](int st, int64_t kt) {
		const int seg = kt >= 2 * nk ? 2 : kt >= nk ? 1 : 0;
		const int64_t k0 = (kt - seg * nk) * BK;
		const __half *pa = ga + k0 + (seg == 2 ? kp : 0), *pb = gb + k0 + (seg == 1 ? kp : 0);
#pragma unroll
		for (int i = 0; i < BM * BK / 8 / NTH; i++) {
			const int ch = tid + i * NTH, row = ch / (BK / 8), c8 = (ch % (BK / 8)) * 8;
			cp_async16(sa + (st * BM + row) * LDK + c8, pa + row * lda + c8);
		}
#pragma unroll
		for (int i = 0; i < BN * BK / 8 / NTH; i++) {
			const int ch = tid + i * NTH, row = ch / (BK / 8), c8 = (ch % (BK / 8)) * 8;
			cp_async16(sb + (st * BN + row) * LDK + c8, pb + row * ldb + c8);
		}
	};

	/* acc: the sum; with segments, part: one step's products, added to acc
	 * in f32 after each step (the tensor cores round their additions
	 * toward zero, which over long rows drifts past 1e-5) */
	float acc[MT][NT][4], part[MT][NT][4];
#pragma unroll
	for (int i = 0; i < MT; i++)
#pragma unroll
		for (int j = 0; j < NT; j++)
#pragma unroll
			for (int t = 0; t < 4; t++)
				acc[i][j][t] = 0.0f;

#pragma unroll
	for (int s = 0; s < STAGES - 1; s++) {
		if (s < nkt)
			load_stage(s, s);
		asm volatile("cp.async.commit_group;\n" ::);
	}
	/* ldmatrix addresses: lane l names row l % 8 of matrix l / 8 */
	const int mi = lane / 8, rl = lane % 8;
	const int a_row = wm * 16 * MT + rl + (mi & 1) * 8, a_k = (mi >> 1) * 8;
	const int b_row = wn * 8 * NT + rl + (mi >> 1) * 8, b_k = (mi & 1) * 8;
	for (int64_t kt = 0; kt < nkt; kt++) {
		asm volatile("cp.async.wait_group %0;\n" ::"n"(STAGES - 2));
		__syncthreads(); /* stage kt is in; stage kt - 1 is free */
		if (kt + STAGES - 1 < nkt)
			load_stage((int)((kt + STAGES - 1) % STAGES), kt + STAGES - 1);
		asm volatile("cp.async.commit_group;\n" ::);
		const __half *ta = sa + (kt % STAGES) * BM * LDK;
		const __half *tb = sb + (kt % STAGES) * BN * LDK;
		if (parts)
#pragma unroll
			for (int i = 0; i < MT; i++)
#pragma unroll
				for (int j = 0; j < NT; j++)
#pragma unroll
					for (int t = 0; t < 4; t++)
						part[i][j][t] = 0.0f;
		/* fragments in two sets: those of step kk + 16 load while the
		 * products of step kk run */
		uint32_t fa[2][MT][4], fb[2][NT][2];
		auto load_frags = [&](int set, int kk) {
#pragma unroll
			for (int i = 0; i < MT; i++)
				ldmatrix_x4(fa[set][i], ta + (a_row + i * 16) * LDK + kk + a_k);
#pragma unroll
			for (int j = 0; j < NT / 2; j++) {
				uint32_t t4[4];
				ldmatrix_x4(t4, tb + (b_row + j * 16) * LDK + kk + b_k);
				fb[set][2 * j][0] = t4[0];
				fb[set][2 * j][1] = t4[1];
				fb[set][2 * j + 1][0] = t4[2];
				fb[set][2 * j + 1][1] = t4[3];
			}
		};
		load_frags(0, 0);
#pragma unroll
		for (int ks = 0; ks < BK / 16; ks++) {
			if (ks + 1 < BK / 16)
				load_frags((ks + 1) % 2, 16 * (ks + 1));
#pragma unroll
			for (int i = 0; i < MT; i++)
#pragma unroll
				for (int j = 0; j < NT; j++)
					mma_16816(parts ? part[i][j] : acc[i][j], fa[ks % 2][i], fb[ks % 2][j]);
		}
		if (parts)
#pragma unroll
			for (int i = 0; i < MT; i++)
#pragma unroll
				for (int j = 0; j < NT; j++)
#pragma unroll
					for (int t = 0; t < 4; t++)
						acc[i][j][t] = __fadd_rn(acc[i][j][t], part[i][j][t]);
	}
	asm volatile("cp.async.wait_group 0;\n" ::);

	/* accumulator t of tile (i, j): row g (+8 for t >= 2), column 2q + t % 2 */
	const int g = lane / 4, q = lane % 4;
#pragma unroll
	for (int i = 0; i < MT; i++)
#pragma unroll
		for (int t2 = 0; t2 < 2; t2++) {
			const int64_t r = r0 + wm * 16 * MT + i * 16 + g + 8 * t2;
			if (r >= nr)
				continue;
			const int er = ea[r];
#pragma unroll
			for (int j = 0; j < NT; j++)
#pragma unroll
				for (int t1 = 0; t1 < 2; t1++) {
					const int64_t c = c0 + wn * 8 * NT + j * 8 + 2 * q + t1;
					if (c < nc)
						y[c * ldy + r] = ldexpf(acc[i][j][2 * t2 + t1], -(er + eb[c]));
				}
		}
}

#endif /* QNT_CUDA_GEMM_CUH */
