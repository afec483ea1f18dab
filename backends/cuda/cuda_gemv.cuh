/* SPDX-License-Identifier: MIT */
/*
 * cuda_gemv.cuh: the matrix-vector product (1 to 7 columns) of the CUDA
 * backend, included by cuda_backend.cu; its decoders are host-callable too,
 * so tests/cuda/test_cuda_formats.cu checks them against qc_get on the CPU.
 *
 * Work: a block of GV_WARPS warps owns GV_WARPS * gv_rows() consecutive rows
 * (a task) and walks them in steps of gv_units() units of GV_UNIT elements
 * (two for the quantized formats, one for the float formats), its warps in
 * lockstep; lane l takes elements [32 l, 32 l + 32) of each unit in each of
 * its warp's rows, so each x value it reads serves all of them.
 * Tasks are dealt to the blocks round-robin, with as many blocks as make the
 * tasks come out in equal rounds (no last partial wave).
 *
 * Loads: the raw bytes of a step (whole blocks, any alignment) go from global
 * to shared memory with 16-byte cp.async copies of the aligned range that
 * covers them, GV_STAGES - 1 steps ahead, a fixed number of predicated
 * copies per lane; a task inside the job copies without range checks, the
 * first and last ones check each row, and copies that would touch a byte
 * outside the job's weights are done byte by byte instead (the job's first
 * and last 16 bytes at most). The step's x (every column) is copied once per
 * block: the companion codes and scales of the integer path (below), or the
 * floats, into a padded layout whose float4 reads hit distinct banks. Read
 * straight from global memory, x cost 32 L1 wavefronts per float4 load (the
 * lanes 128 bytes apart) and held q4_0 to 1.2 TB/s on an H100; the float
 * formats' lanes read interleaved runs (bank conflicts held f32 to 0.74 TB/s;
 * now 2.4).
 *
 * Integer path (the GGUF block formats): as the reference does, x is first
 * quantized to the format's companion (q8_0, q8_1 or q8_K: k_gemv_xq, the
 * reference's arithmetic, so the products are the cpu reference's up to
 * float rounding, 1e-7 apart measured), then each lane's 32 codes of a row
 * are multiplied with x's by 8 dp4a (gvq_words, gvq_unit): about 1 issued
 * instruction per weight for q4_0 where the float path below took 2.5.
 * Codes a byte holds in its high nibble are multiplied in place (16 n,
 * the sum shifted back), FP4 codes go through a PRMT table to v + 12.
 *
 * Float path (the float and MLX formats, held to 1e-5): a unit is 4 groups
 * of 8 elements; gv_group gives each group's 8
 * values v, and the weight is w = sc * (A v + B) + m with sc and m per half
 * unit (16 elements) and A, B per format. Integer codes become floats without
 * a conversion instruction: a code byte c placed by one PRMT in bits 16..23 of
 * 0x3F000000 is the float 0.5 + c / 256 (c < 128), so 4-bit codes stored as
 * 8 n give v = 0.5 + n / 32, and n = 32 v - 16 is folded into A and B; FP4
 * codes go through a PRMT table lookup (4 codes per PRMT) to biased bytes
 * first. 8-bit codes are exact (2^23 + c, then - 2^23). A group then costs
 * 8 PRMT and 8 FFMA per column, and per half unit sum(v x) and sum(x) are
 * turned into the weights' sum with 4 more operations per column. The
 * cancellation between A sum(v x) and B sum(x) costs about 5 f32 roundings of
 * relative error (v lies in [0.5, 1) and the codes spread over half of it),
 * which keeps the MLX formats' products within 1e-5 (measured on an H100:
 * 1.4e-6 at most, mlx:mxfp4; the GGUF formats 1.0e-6 at most).
 *
 * Where it stands (H100, bench_cuda: 131072 x 8192 weights, 1 column, per
 * call with launch and sync, median of 7; the copy 2.98 TB/s): q4_0 2.72
 * TB/s, q4_K 2.69, mxfp4 2.60, nvfp4 2.29, q8_0 2.96, mlx:affine:4:64
 * 2.05, f16 2.99. Before the integer path and the cheaper copies: q4_0
 * 1.87, q4_K 1.52, mxfp4 1.47 (ncu on q4_0: 6.8 issued thread-instructions
 * per weight, issue slots 73% busy; after: 3.3, and a third of the stall
 * samples wait for the step's data). Three stages instead of two measured
 * no faster (q4_0 2.74, q4_K 2.68, nvfp4 2.07, mlx:affine:4:64 1.62).
 */
#ifndef QNT_CUDA_GEMV_CUH
#define QNT_CUDA_GEMV_CUH

#include "qnt_cuda_formats.cuh"

#include <cuda_fp16.h>

#define GV_HD __host__ __device__ __forceinline__

#define GV_UNIT 1024 /* elements of a row per unit: 32 lanes x 32 */
#define GV_WARPS 4
#define GV_STAGES 2 /* steps in shared memory: one computed, one copied (gv_units) */
#define GV_MAX_COLS 7

/* ------------------------------------------------------------------ */
/* Primitives (device instructions, host equivalents for the test)      */
/* ------------------------------------------------------------------ */

/* PTX prmt in its default mode: selector nibble bit 3 replicates the sign
 * of the selected byte (CUDA's __byte_perm masks that bit off). */
GV_HD uint32_t gv_prmt(uint32_t a, uint32_t b, uint32_t s)
{
#ifdef __CUDA_ARCH__
	uint32_t d;
	asm("prmt.b32 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(s));
	return d;
#else
	const uint64_t src = (uint64_t)b << 32 | a;
	uint32_t d = 0;
	for (int i = 0; i < 4; i++) {
		const unsigned sel = (s >> (4 * i)) & 15u;
		uint32_t byte = (uint32_t)(src >> (8 * (sel & 7))) & 0xffu;
		if (sel & 8)
			byte = byte & 0x80u ? 0xffu : 0u;
		d |= byte << (8 * i);
	}
	return d;
#endif
}

GV_HD uint32_t gv_fshr(uint32_t lo, uint32_t hi, unsigned sh)
{
#ifdef __CUDA_ARCH__
	return __funnelshift_r(lo, hi, sh);
#else
	sh &= 31;
	return sh ? lo >> sh | hi << (32 - sh) : lo;
#endif
}

/* N little-endian words at p (any alignment). On the device p is shared
 * memory: N + 1 aligned loads and a funnel shift each (the word after the
 * last is read, so buffers keep 4 bytes of slack). */
template <int N>
GV_HD void gv_ldw(const uint8_t *p, uint32_t *w)
{
#ifdef __CUDA_ARCH__
	/* p minus its misalignment, not an integer mask: the pointer stays
	 * derived from the shared array, so the loads are LDS with 32-bit
	 * addresses (the masked integer made them generic 64-bit loads) */
	const unsigned mis = (unsigned)((uintptr_t)p & 3);
	const uint32_t *q = (const uint32_t *)(p - mis);
	const unsigned sh = mis * 8;
	uint32_t lo = q[0];
#pragma unroll
	for (int i = 0; i < N; i++) {
		const uint32_t hi = q[i + 1];
		w[i] = gv_fshr(lo, hi, sh);
		lo = hi;
	}
#else
	for (int i = 0; i < N; i++)
		w[i] = qc_u32(p + 4 * i);
#endif
}

/* gv_ldw<N> where p's A-byte alignment (A = 4 or 16) is the same in every
 * lane (blocks of a multiple of A bytes): aligned loads, 128-bit ones for
 * A = 16 (N a multiple of 4), when `aligned`, which the lanes agree on. */
template <int N, int A>
GV_HD void gv_ldwa(const uint8_t *p, uint32_t *w, bool aligned)
{
#ifdef __CUDA_ARCH__
	if (aligned) {
#pragma unroll
		for (int i = 0; i < (A == 16 ? N / 4 : 0); i++) {
			const uint4 v = ((const uint4 *)p)[i];
			w[4 * i] = v.x, w[4 * i + 1] = v.y, w[4 * i + 2] = v.z, w[4 * i + 3] = v.w;
		}
#pragma unroll
		for (int i = 0; i < (A == 16 ? 0 : N); i++)
			w[i] = ((const uint32_t *)p)[i];
		return;
	}
#endif
	(void)aligned;
	gv_ldw<N>(p, w);
}

GV_HD float gv_sub(float a, float b)
{
#ifdef __CUDA_ARCH__
	return __fsub_rn(a, b);
#else
	return a - b;
#endif
}

/* 0.5 + (byte k of w) / 256, for bytes below 128 */
GV_HD float gv_half(uint32_t w, int k)
{
	return qc_float(gv_prmt(w, 0x3F000000u, 0x7044u | (uint32_t)k << 8));
}

/* byte k of w as an exact float (0..255) */
GV_HD float gv_u8(uint32_t w, int k)
{
	return gv_sub(qc_float(gv_prmt(w, 0x4B000000u, 0x7440u | (uint32_t)k)), 8388608.0f);
}

/* Four FP4 (E2M1) codes, the nibbles of the low 16 bits of s, as bytes
 * 4 * (v + 12) where v is the doubled E2M1 value (ggml's kvalues_mxfp4:
 * 0 1 2 3 4 6 8 12, negated for codes 8..15; -0 and +0 both 48). Each
 * table's bytes are below 0x80, so a code of the other sign selects with
 * bit 3 set and reads 0. */
GV_HD uint32_t gv_fp4(uint32_t s)
{
	const uint32_t pos = gv_prmt(0x3C383430u, 0x60504840u, s);
	const uint32_t neg = gv_prmt(0x24282C30u, 0x00101820u, s ^ 0x8888u);
	return pos | neg;
}

/* bits 0..3 of x moved to bits 0, 8, 16, 24 */
GV_HD uint32_t gv_spread4(uint32_t x)
{
	return ((x & 15u) * 0x00204081u) & 0x01010101u;
}

GV_HD float gv_h2f(uint16_t h)
{
#ifdef __CUDA_ARCH__
	return __half2float(__ushort_as_half(h));
#else
	return qc_h2f(h);
#endif
}

/* ------------------------------------------------------------------ */
/* Decoders                                                             */
/* ------------------------------------------------------------------ */

/* Rows per warp: fewer for wide steps (floats: shared memory) and many
 * columns (registers). 8 rows for 1 column was slower on an H100 (q4_0
 * 1.34 TB/s against 1.42, q8_0 1.04 against 1.80: fewer blocks fit). */
template <int K, int NC>
__host__ __device__ constexpr int gv_rows()
{
	return K == QC_F32 || K == QC_F16 || K == QC_BF16 || NC >= 4 ? 2 : 4;
}

/* Units per lane per step: two for the quantized formats, so that a step's
 * fixed work (copy bookkeeping, barrier, loop) spreads over twice the
 * weights. H100, 131072 x 8192 weights, 1 column (bench_cuda): q4_0 1.87
 * TB/s against 1.45 with one unit and 3 stages, q4_K 1.52 (1.28), mxfp4
 * 1.47 (1.23), q8_0 2.49 (2.28), f16 (one unit) 2.85 either way. Two
 * stages keep 4 blocks per SM (q4_0: 56 KB of shared memory per block;
 * three stages would take 84 KB, 2 blocks); 2 rows per warp with three
 * stages gave q4_0 1.56, four units with 2 rows and two stages 1.82. */
template <int K>
__host__ __device__ constexpr int gv_units()
{
	return K == QC_F32 || K == QC_F16 || K == QC_BF16 ? 1 : 2;
}

/* Bytes per 256 elements of a row (MLX affine: at most, with f32 scales
 * and biases per 32). */
template <int K, int BITS>
__host__ __device__ constexpr int gv_bytes256()
{
	return K == QC_F32 ? 1024 : K == QC_F16 || K == QC_BF16 ? 512 : K == QC_Q4_0 ? 144 : K == QC_Q4_1 ? 160
	       : K == QC_Q5_0 ? 176 : K == QC_Q5_1 ? 192 : K == QC_Q8_0 ? 272 : K == QC_Q2_K ? 84 : K == QC_Q3_K ? 110
	       : K == QC_Q4_K ? 144 : K == QC_Q5_K ? 176 : K == QC_Q6_K ? 210 : K == QC_MXFP4 || K == QC_MLX_MXFP4 ? 136
	       : K == QC_NVFP4 || K == QC_MLX_NVFP4 ? 144 : K == QC_MLX_MXFP8 ? 264 : 32 * BITS + 64;
}

/* The first element (within the step) of the two runs of 4 that group g
 * (0..3) of lane `lane` pairs with x: h = 0, then h = 1. Quantized formats:
 * the lane's unit is elements [32 lane, 32 lane + 32), one or a few whole
 * blocks. Float formats: runs 4 lane + 128 k (k = 2 g + h), so that the
 * lanes read consecutive shared-memory words. */
template <int K>
GV_HD int gv_elem(int lane, int g, int h)
{
	if (K == QC_F32 || K == QC_F16 || K == QC_BF16)
		return 4 * lane + 128 * (2 * g + h);
	if (K == QC_Q4_0 || K == QC_Q4_1 || K == QC_Q5_0 || K == QC_Q5_1 || K == QC_MXFP4)
		return 32 * lane + 16 * h + 4 * g; /* low nibbles: elements 0..15, high: 16..31 */
	if (K == QC_NVFP4)
		return 32 * lane + 16 * (g >> 1) + 4 * (g & 1) + 8 * h; /* 16-element sub-blocks */
	return 32 * lane + 8 * g + 4 * h;
}

/* w = sc * (A v + B) + m: the per-format A and B (A = 1, B = 0: v is the
 * code, or for the float formats the weight itself). */
template <int K, int BITS>
GV_HD float gv_a()
{
	switch (K) {
	case QC_Q4_0: case QC_Q4_1: case QC_Q4_K: case QC_MLX_MXFP4: case QC_MLX_NVFP4: return 32.0f;
	case QC_Q5_0: case QC_Q5_1: case QC_Q5_K: case QC_MXFP4: case QC_NVFP4: return 64.0f;
	case QC_Q2_K: return 8.0f;
	case QC_Q3_K: return 16.0f;
	case QC_Q6_K: return 128.0f;
	case QC_MLX_AFFINE: return BITS == 4 ? 32.0f : 1.0f;
	default: return 1.0f;
	}
}

template <int K, int BITS>
GV_HD float gv_b()
{
	switch (K) {
	case QC_Q4_0: return -24.0f;  /* n - 8 */
	case QC_Q4_1: case QC_Q4_K: return -16.0f;
	case QC_Q5_0: return -48.0f;  /* c - 16 */
	case QC_Q5_1: case QC_Q5_K: return -32.0f;
	case QC_Q2_K: return -4.0f;
	case QC_Q3_K: return -12.0f;  /* c - 4 */
	case QC_Q6_K: return -96.0f;  /* c - 32 */
	case QC_MXFP4: case QC_NVFP4: return -44.0f;
	case QC_MLX_MXFP4: case QC_MLX_NVFP4: return -22.0f; /* E2M1, not doubled */
	case QC_MLX_AFFINE: return BITS == 4 ? -16.0f : 0.0f;
	default: return 0.0f;
	}
}

/* formats with an offset m (affine) and with a scale at all */
template <int K>
__host__ __device__ constexpr bool gv_has_m()
{
	return K == QC_Q4_1 || K == QC_Q5_1 || K == QC_Q2_K || K == QC_Q4_K || K == QC_Q5_K || K == QC_MLX_AFFINE;
}

template <int K>
__host__ __device__ constexpr bool gv_has_sc()
{
	return K != QC_F32 && K != QC_F16 && K != QC_BF16 && K != QC_MLX_MXFP8;
}

/* One row's unit: code words, scales and offsets of its two halves, and
 * what the groups still need (a pointer, a shift). */
struct gv_unit {
	uint32_t q[16];
	float sc[2], m[2];
	const uint8_t *p;
	int aux;
};

/* log2 of a power of two */
GV_HD int gv_log2(int v)
{
#ifdef __CUDA_ARCH__
	return __ffs(v) - 1;
#else
	return __builtin_ctz((unsigned)v);
#endif
}

/* An MLX scale or bias (qc_mlx_load, with the device's conversion) */
GV_HD float gv_mlx_load(const uint8_t *p, int d)
{
	if (d == QC_D_F32)
		return qc_float(qc_u32(p));
	return d == QC_D_F16 ? gv_h2f(qc_u16(p)) : qc_bf2f(qc_u16(p));
}

/* Loads lane `lane`'s unit of a step whose first byte is at s. */
template <int K, int BITS>
GV_HD void gv_load(const qc_fmt &f, const uint8_t *s, int lane, gv_unit &u)
{
	if (K == QC_F32) {
		u.p = s + 16 * lane;
	} else if (K == QC_F16 || K == QC_BF16) {
		u.p = s + 8 * lane;
	} else if (K == QC_Q4_0 || K == QC_Q4_1 || K == QC_Q5_0 || K == QC_Q5_1) {
		const int bb = K == QC_Q4_0 ? 18 : K == QC_Q4_1 ? 20 : K == QC_Q5_0 ? 22 : 24;
		const uint8_t *b = s + bb * lane;
		const float d = gv_h2f(qc_u16(b));
		const bool has_m = K == QC_Q4_1 || K == QC_Q5_1;
		const float m = has_m ? gv_h2f(qc_u16(b + 2)) : 0.0f;
		const int qh = has_m ? 4 : 2;
		if (K == QC_Q5_0 || K == QC_Q5_1) {
			gv_ldw<1>(b + qh, u.q + 4);
			gv_ldw<4>(b + qh + 4, u.q);
		} else {
			gv_ldw<4>(b + qh, u.q);
		}
		u.sc[0] = u.sc[1] = d;
		u.m[0] = u.m[1] = m;
	} else if (K == QC_Q8_0) {
		const uint8_t *b = s + 34 * lane;
		u.sc[0] = u.sc[1] = gv_h2f(qc_u16(b));
		gv_ldw<8>(b + 2, u.q);
	} else if (K == QC_Q2_K || K == QC_Q3_K || K == QC_Q4_K || K == QC_Q5_K || K == QC_Q6_K) {
		const int bb = K == QC_Q2_K ? 84 : K == QC_Q3_K ? 110 : K == QC_Q4_K ? 144 : K == QC_Q5_K ? 176 : 210;
		const uint8_t *b = s + bb * (lane >> 3);
		const int j = lane & 7; /* 32-element sub-block */
		if (K == QC_Q2_K) {
			const float d = gv_h2f(qc_u16(b + 80)), dmin = gv_h2f(qc_u16(b + 82));
			for (int h = 0; h < 2; h++) {
				const int sm = b[2 * j + h];
				u.sc[h] = d * (float)(sm & 15);
				u.m[h] = -(dmin * (float)(sm >> 4));
			}
			gv_ldwa<8, 4>(b + 16 + 32 * (j >> 2), u.q, ((uintptr_t)s & 3) == 0); /* 84-byte blocks */
			u.aux = 2 * (j & 3);
		} else if (K == QC_Q3_K) {
			const uint8_t *sc = b + 96;
			const float d = gv_h2f(qc_u16(b + 108));
			for (int h = 0; h < 2; h++) {
				const int sj = 2 * j + h;
				const int lo = sj < 8 ? sc[sj] & 0x0f : sc[sj - 8] >> 4;
				const int hi = (sc[8 + sj % 4] >> (2 * (sj / 4))) & 3;
				u.sc[h] = d * (float)((lo | (hi << 4)) - 32);
			}
			gv_ldw<8>(b + 32 + 32 * (j >> 2), u.q);
			gv_ldw<8>(b, u.q + 8);
			u.aux = j;
		} else if (K == QC_Q4_K || K == QC_Q5_K) {
			const bool al = ((uintptr_t)s & 15) == 0; /* 144- and 176-byte blocks */
			int sc, m;
			qc_scale_min_k4(b + 4, j, &sc, &m);
			const float dl = gv_h2f(qc_u16(b)) * (float)sc, ml = gv_h2f(qc_u16(b + 2)) * (float)m;
			u.sc[0] = u.sc[1] = dl;
			u.m[0] = u.m[1] = -ml;
			gv_ldwa<8, 16>(b + (K == QC_Q4_K ? 16 : 48) + 32 * (j >> 1), u.q, al);
			if (K == QC_Q5_K)
				gv_ldwa<8, 16>(b + 16, u.q + 8, al);
			u.aux = j;
		} else { /* Q6_K */
			const float d = gv_h2f(qc_u16(b + 208));
			const int h = j >> 2, g = j & 3;
			u.sc[0] = d * (float)(int8_t)b[192 + 2 * j];
			u.sc[1] = d * (float)(int8_t)b[193 + 2 * j];
			gv_ldw<8>(b + 64 * h + 32 * (g & 1), u.q);
			gv_ldw<8>(b + 128 + 32 * h, u.q + 8);
			u.aux = g;
		}
	} else if (K == QC_MXFP4) {
		const uint8_t *b = s + 17 * lane;
		u.sc[0] = u.sc[1] = qc_e8m0_half(b[0]);
		gv_ldw<4>(b + 1, u.q);
	} else if (K == QC_NVFP4) {
		const uint8_t *b = s + 36 * (lane >> 1);
		const int half = lane & 1;
		u.sc[0] = qc_ue4m3_half(b[2 * half]);
		u.sc[1] = qc_ue4m3_half(b[2 * half + 1]);
		gv_ldwa<4, 4>(b + 4 + 16 * half, u.q, ((uintptr_t)s & 3) == 0); /* 36-byte blocks */
	} else if (K == QC_MLX_MXFP4) {
		const uint8_t *b = s + 17 * lane;
		u.sc[0] = u.sc[1] = qc_mlx_pow2(b[16]);
		gv_ldw<4>(b, u.q);
	} else if (K == QC_MLX_NVFP4) {
		const uint8_t *b = s + 18 * lane; /* two 9-byte blocks */
		u.sc[0] = qc_e4m3_mlx(b[8]);
		u.sc[1] = qc_e4m3_mlx(b[17]);
		gv_ldw<2>(b, u.q);
		gv_ldw<2>(b + 9, u.q + 2);
	} else if (K == QC_MLX_MXFP8) {
		u.p = s + 33 * lane;
	} else { /* QC_MLX_AFFINE */
		const int e = 32 * lane, lbs = gv_log2(f.bs);
		const uint8_t *b = s + (e >> lbs) * f.bb;
		const int nb = f.bs * BITS / 8, ds = f.d == QC_D_F32 ? 4 : 2;
		u.sc[0] = u.sc[1] = gv_mlx_load(b + nb, f.d);
		u.m[0] = u.m[1] = gv_mlx_load(b + nb + ds, f.d);
		gv_ldw<BITS>(b + (e & (f.bs - 1)) * BITS / 8, u.q);
	}
}

/* The 8 values of group g (0..3) of a unit, in the order of x's elements
 * [p0, p0 + 4) then [p1, p1 + 4). */
template <int K, int BITS>
GV_HD void gv_group(const qc_fmt &f, const gv_unit &u, int g, float *v)
{
	if (K == QC_F32) {
		uint32_t w[8];
		gv_ldw<4>(u.p + 1024 * g, w);
		gv_ldw<4>(u.p + 1024 * g + 512, w + 4);
		for (int k = 0; k < 8; k++)
			v[k] = qc_float(w[k]);
	} else if (K == QC_F16 || K == QC_BF16) {
		uint32_t w[4];
		gv_ldw<2>(u.p + 512 * g, w);
		gv_ldw<2>(u.p + 512 * g + 256, w + 2);
		for (int k = 0; k < 4; k++) {
			v[2 * k] = K == QC_F16 ? gv_h2f((uint16_t)w[k]) : qc_float(w[k] << 16);
			v[2 * k + 1] = K == QC_F16 ? gv_h2f((uint16_t)(w[k] >> 16)) : qc_float(w[k] & 0xffff0000u);
		}
	} else if (K == QC_Q4_0 || K == QC_Q4_1) {
		const uint32_t lo = (u.q[g] << 3) & 0x78787878u, hi = (u.q[g] >> 1) & 0x78787878u;
		for (int k = 0; k < 4; k++) {
			v[k] = gv_half(lo, k);
			v[4 + k] = gv_half(hi, k);
		}
	} else if (K == QC_Q5_0 || K == QC_Q5_1) {
		const uint32_t qh = u.q[4];
		const uint32_t lo = ((u.q[g] << 2) & 0x3C3C3C3Cu) | gv_spread4(qh >> (4 * g)) << 6;
		const uint32_t hi = ((u.q[g] >> 2) & 0x3C3C3C3Cu) | gv_spread4(qh >> (16 + 4 * g)) << 6;
		for (int k = 0; k < 4; k++) {
			v[k] = gv_half(lo, k);
			v[4 + k] = gv_half(hi, k);
		}
	} else if (K == QC_Q8_0) {
		for (int h = 0; h < 2; h++)
			for (int k = 0; k < 4; k++)
				v[4 * h + k] = gv_sub(gv_u8(u.q[2 * g + h] ^ 0x80808080u, k), 128.0f);
	} else if (K == QC_Q2_K || K == QC_Q3_K || K == QC_Q4_K || K == QC_Q5_K || K == QC_Q6_K) {
		for (int h = 0; h < 2; h++) {
			const uint32_t w = u.q[2 * g + h];
			uint32_t c;
			if (K == QC_Q2_K)
				c = ((w >> u.aux) & 0x03030303u) << 5; /* 32 c */
			else if (K == QC_Q3_K)
				c = ((w >> (2 * (u.aux & 3))) & 0x03030303u) << 4 |
				    ((u.q[8 + 2 * g + h] >> u.aux) & 0x01010101u) << 6; /* 16 (l + 4 hmask) */
			else if (K == QC_Q4_K)
				c = ((w >> (4 * (u.aux & 1))) << 3) & 0x78787878u; /* 8 n */
			else if (K == QC_Q5_K)
				c = (((w >> (4 * (u.aux & 1))) << 2) & 0x3C3C3C3Cu) |
				    ((u.q[8 + 2 * g + h] >> u.aux) & 0x01010101u) << 6; /* 4 (n + 16 qh) */
			else
				c = (((w >> (u.aux < 2 ? 0 : 4)) << 1) & 0x1E1E1E1Eu) |
				    ((u.q[8 + 2 * g + h] >> (2 * u.aux)) & 0x03030303u) << 5; /* 2 (n + 16 qh) */
			for (int k = 0; k < 4; k++)
				v[4 * h + k] = gv_half(c, k);
		}
	} else if (K == QC_MXFP4 || K == QC_NVFP4) {
		/* nibbles: low of byte 0 (x0), high of byte 0 (x1), low of byte 1 (x0), ... */
		const uint32_t a = gv_fp4(u.q[g]), b = gv_fp4(u.q[g] >> 16);
		v[0] = gv_half(a, 0);
		v[1] = gv_half(a, 2);
		v[2] = gv_half(b, 0);
		v[3] = gv_half(b, 2);
		v[4] = gv_half(a, 1);
		v[5] = gv_half(a, 3);
		v[6] = gv_half(b, 1);
		v[7] = gv_half(b, 3);
	} else if (K == QC_MLX_MXFP4 || K == QC_MLX_NVFP4) {
		/* nibbles in element order */
		const uint32_t a = gv_fp4(u.q[g]), b = gv_fp4(u.q[g] >> 16);
		for (int k = 0; k < 4; k++) {
			v[k] = gv_half(a, k);
			v[4 + k] = gv_half(b, k);
		}
	} else if (K == QC_MLX_MXFP8) {
		for (int k = 0; k < 8; k++)
			v[k] = qc_get<QC_MLX_MXFP8>(f, u.p, 8 * g + k);
	} else if (BITS == 4) { /* MLX affine, 4 bits: element order, low nibble first */
		const uint32_t lo = (u.q[g] << 3) & 0x78787878u, hi = (u.q[g] >> 1) & 0x78787878u;
		for (int k = 0; k < 2; k++) {
			v[2 * k] = gv_half(lo, k);
			v[2 * k + 1] = gv_half(hi, k);
			v[4 + 2 * k] = gv_half(lo, 2 + k);
			v[5 + 2 * k] = gv_half(hi, 2 + k);
		}
	} else if (BITS == 8) {
		for (int k = 0; k < 8; k++)
			v[k] = gv_u8(u.q[2 * g + k / 4], k % 4);
	} else { /* MLX affine, other widths: the LSB-first bit stream */
		for (int k = 0; k < 8; k++) {
			const int bit = (8 * g + k) * BITS, i = bit >> 5, sh = bit & 31;
			const uint32_t c = (sh + BITS <= 32 ? u.q[i] >> sh : gv_fshr(u.q[i], u.q[i + 1], sh)) &
					   ((1u << BITS) - 1u);
			v[k] = gv_sub(qc_float(c | 0x4B000000u), 8388608.0f);
		}
	}
	(void)f;
}

/* ------------------------------------------------------------------ */
/* Integer path: x quantized to the format's companion                 */
/* ------------------------------------------------------------------ */

/* The companion x is quantized to for format K, as the reference does
 * (lib/core/matmul_ref.c): none (the float path above), q8_0, q8_1 or
 * q8_K. Per lane unit (32 elements) the products of the codes are then
 * summed exactly by dp4a, 4 at a time. */
enum { GVQ_NONE, GVQ_8_0, GVQ_8_1, GVQ_8_K };

template <int K>
__host__ __device__ constexpr int gvq_mode()
{
	if (K == QC_Q4_0 || K == QC_Q5_0 || K == QC_Q8_0 || K == QC_MXFP4 || K == QC_NVFP4)
		return GVQ_8_0;
	if (K == QC_Q4_1 || K == QC_Q5_1)
		return GVQ_8_1;
	if (K == QC_Q2_K || K == QC_Q3_K || K == QC_Q4_K || K == QC_Q5_K || K == QC_Q6_K)
		return GVQ_8_K;
	return GVQ_NONE;
}

/* The integer the code bytes of gvq_words are offset by: the weight is
 * sc * (byte + off) + m. FP4 codes are biased bytes v + 12 (v the doubled
 * E2M1 value). */
template <int K>
__host__ __device__ constexpr int gvq_off()
{
	return K == QC_Q4_0 ? -8 : K == QC_Q5_0 ? -16 : K == QC_Q3_K ? -4 : K == QC_Q6_K ? -32
	       : K == QC_MXFP4 || K == QC_NVFP4 ? -12 : 0;
}

/* Formats whose two half units (16 elements each) have scales (and mins)
 * of their own. */
template <int K>
__host__ __device__ constexpr bool gvq_halves()
{
	return K == QC_NVFP4 || K == QC_Q2_K || K == QC_Q3_K || K == QC_Q6_K;
}

/* The element of the lane unit whose code is byte p (0..31) of gvq_words:
 * the element order, except for the FP4 formats, whose table lookups give
 * a byte's two nibbles next to each other. */
template <int K>
GV_HD int gvq_perm(int p)
{
	const int w = p >> 2, hi = p & 1, pair = (p & 3) >> 1;
	if (K == QC_MXFP4) /* byte j: elements j and j + 16 */
		return 4 * (w >> 1) + 2 * (w & 1) + pair + 16 * hi;
	if (K == QC_NVFP4) { /* 16-element sub-blocks, byte j: elements j and j + 8 */
		const int ww = w & 3;
		return 16 * (w >> 2) + 4 * (ww >> 1) + 2 * (ww & 1) + pair + 8 * hi;
	}
	return p;
}

/* Four FP4 codes, the nibbles of the low 16 bits of s, as the bytes
 * v + 12 (gv_fp4's table, unscaled). */
GV_HD uint32_t gvq_fp4(uint32_t s)
{
	const uint32_t pos = gv_prmt(0x0F0E0D0Cu, 0x18141210u, s);
	const uint32_t neg = gv_prmt(0x090A0B0Cu, 0x00040608u, s ^ 0x8888u);
	return pos | neg;
}

/* The 32 code bytes of a row's lane unit, 4 a word, in gvq_perm order
 * (bytes 0..15: the first half unit). */
template <int K>
GV_HD void gvq_words(const gv_unit &u, int *W)
{
	for (int i = 0; i < 4; i++) {
		uint32_t lo = 0, hi = 0;
		if (K == QC_Q4_0 || K == QC_Q4_1) {
			lo = u.q[i] & 0x0F0F0F0Fu;
			hi = u.q[i] & 0xF0F0F0F0u; /* 16 n: gvq_unit divides its sum by 16 */
		} else if (K == QC_Q5_0 || K == QC_Q5_1) {
			lo = (u.q[i] & 0x0F0F0F0Fu) | gv_spread4(u.q[4] >> (4 * i)) << 4;
			hi = ((u.q[i] >> 4) & 0x0F0F0F0Fu) | gv_spread4(u.q[4] >> (16 + 4 * i)) << 4;
		} else if (K == QC_MXFP4 || K == QC_NVFP4) {
			/* W[2 i], W[2 i + 1]: written below in their order */
			lo = gvq_fp4(u.q[i]);
			hi = gvq_fp4(u.q[i] >> 16);
		}
		if (K == QC_MXFP4 || K == QC_NVFP4) {
			W[2 * i] = (int)lo;
			W[2 * i + 1] = (int)hi;
		} else if (K == QC_Q4_0 || K == QC_Q4_1 || K == QC_Q5_0 || K == QC_Q5_1) {
			W[i] = (int)lo;
			W[4 + i] = (int)hi;
		}
	}
	for (int i = 0; i < 8; i++) {
		const uint32_t w = u.q[i];
		if (K == QC_Q8_0)
			W[i] = (int)w;
		else if (K == QC_Q2_K)
			W[i] = (int)((w >> u.aux) & 0x03030303u);
		else if (K == QC_Q3_K)
			W[i] = (int)(((w >> (2 * (u.aux & 3))) & 0x03030303u) | ((u.q[8 + i] >> u.aux) & 0x01010101u) << 2);
		else if (K == QC_Q4_K) /* odd sub-blocks 16 n: gvq_unit divides by 16 */
			W[i] = (int)(w & (u.aux & 1 ? 0xF0F0F0F0u : 0x0F0F0F0Fu));
		else if (K == QC_Q5_K)
			W[i] = (int)(((w >> (4 * (u.aux & 1))) & 0x0F0F0F0Fu) | ((u.q[8 + i] >> u.aux) & 0x01010101u) << 4);
		else if (K == QC_Q6_K)
			W[i] = (int)(((w >> (u.aux < 2 ? 0 : 4)) & 0x0F0F0F0Fu) |
				     ((u.q[8 + i] >> (2 * u.aux)) & 0x03030303u) << 4);
	}
}

/* dp4a: c + the sum of the products of the bytes of a (signed for q8_0's
 * codes, unsigned for the others) and the signed bytes of b */
template <int K>
GV_HD int gvq_dp4a(int a, int b, int c)
{
#ifdef __CUDA_ARCH__
	if (K == QC_Q8_0)
		return __dp4a(a, b, c);
	int d;
	asm("dp4a.u32.s32 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(c));
	return d;
#else
	for (int k = 0; k < 4; k++) {
		const int ak = K == QC_Q8_0 ? (int)(int8_t)(a >> (8 * k)) : (int)(uint8_t)(a >> (8 * k));
		c += ak * (int)(int8_t)(b >> (8 * k));
	}
	return c;
#endif
}

/* One row's lane unit times a column's: W the code bytes (gvq_words), X
 * the column's codes in the same order, sq0 and sq1 the sums of X's
 * halves, dx the column's scale and aux its q8_1 sum (d * sum of codes,
 * rounded to fp16, as ggml's q8_1 stores it). */
template <int K>
GV_HD float gvq_unit(const gv_unit &u, const int *W, const int *X, int sq0, int sq1, float dx, float aux)
{
	int s0 = 0, s1 = 0;
	for (int i = 0; i < 4; i++) {
		s0 = gvq_dp4a<K>(W[i], X[i], s0);
		s1 = gvq_dp4a<K>(W[4 + i], X[4 + i], s1);
	}
	/* codes held as 16 n (gvq_words): exact multiples of 16 */
	if (K == QC_Q4_0 || K == QC_Q4_1)
		s1 >>= 4;
	if (K == QC_Q4_K)
		s0 >>= 4 * (u.aux & 1), s1 >>= 4 * (u.aux & 1);
	constexpr int off = gvq_off<K>();
	if (gvq_mode<K>() == GVQ_8_1) /* d_w d_x sum(c q) + m s */
		return u.sc[0] * dx * (float)(s0 + s1) + u.m[0] * aux;
	if (!gvq_halves<K>()) {
		const float r = u.sc[0] * (float)(s0 + s1 + off * (sq0 + sq1));
		return dx * (gv_has_m<K>() ? r + u.m[0] * (float)(sq0 + sq1) : r);
	}
	float r = u.sc[0] * (float)(s0 + off * sq0) + u.sc[1] * (float)(s1 + off * sq1);
	if (gv_has_m<K>())
		r += u.m[0] * (float)sq0 + u.m[1] * (float)sq1;
	return dx * r;
}

/* ------------------------------------------------------------------ */
/* Kernel                                                               */
/* ------------------------------------------------------------------ */

#ifndef GV_DECODERS_ONLY

/* 16 bytes from global src to shared memory at (shared-window) address
 * dst: the kernel converts its shared base once (converted per copy, the
 * conversion cost 3 instructions a chunk) */
__device__ __forceinline__ void gv_cp16(unsigned dst, const void *src)
{
	asm volatile("cp.async.cg.shared.global [%0], [%1], 16;" ::"r"(dst), "l"(src) : "memory");
}

__device__ __forceinline__ void gv_commit()
{
	asm volatile("cp.async.commit_group;" ::: "memory");
}

template <int N>
__device__ __forceinline__ void gv_wait()
{
	asm volatile("cp.async.wait_group %0;" ::"n"(N) : "memory");
}

/* Shared memory per row slot: a step's bytes, the head's misalignment
 * (< 16) and the unaligned reads' look-ahead word. */
static inline int gv_slot(const qc_fmt &f, int units)
{
	return (units * (GV_UNIT / f.bs) * f.bb + 32 + 15) / 16 * 16;
}

/* x of one column for one step in shared memory: element e at float
 * 36 (e / 32) + e % 32, so that the lanes' float4 reads at 32 lane + p (and
 * at 4 lane + 128 k) hit distinct banks. */
GV_HD int gv_xi(int e)
{
	return (e >> 5) * 36 + (e & 31);
}

/* Bytes of x's companion codes per column for a row of n_in elements:
 * units of GV_UNIT codes, padded to whole steps, then a (dx, aux) pair of
 * floats per 32 elements. */
static inline uint64_t gvq_col_bytes(int64_t n_in, int64_t *units)
{
	const int64_t st = 2 * GV_UNIT, nu = (n_in + st - 1) / st * 2;
	if (units)
		*units = nu;
	return (uint64_t)nu * (GV_UNIT + GV_UNIT / 32 * 8);
}

/* x (nc columns of n_in floats, 16-byte aligned, n_in a multiple of 32)
 * quantized to K's companion as the reference quantizer does it
 * (qnt__ref_q8_0, qnt__ref_q8_1, ggml_q8_K), into the layout the GEMV
 * stages: per column, units of GV_UNIT codes where lane l's 32 lie at
 * [16 l, 16 l + 16) and [512 + 16 l, 512 + 16 l + 16) in gvq_perm order,
 * then (dx, aux) per 32 elements at sc_off; the padding is zeros. One warp
 * per 256 elements, 8 a lane. */
template <int K>
__global__ void __launch_bounds__(256)
	k_gemv_xq(const float *x, int64_t n_in, int64_t units, uint8_t *xq, uint64_t col, uint64_t sc_off)
{
	__shared__ uint32_t codes[8][64];
	const int lane = threadIdx.x & 31, wl = threadIdx.x >> 5;
	const int64_t g = blockIdx.x * 8 + wl, e0 = 256 * g + 8 * lane;
	if (256 * g >= units * GV_UNIT)
		return;
	const float *xc = x + (int64_t)blockIdx.y * n_in;
	float v[8];
	const bool ok = e0 < n_in; /* whole 8-element runs: n_in is a multiple of 32 */
	const float4 a = ok ? *(const float4 *)(xc + e0) : make_float4(0, 0, 0, 0);
	const float4 b = ok ? *(const float4 *)(xc + e0 + 4) : make_float4(0, 0, 0, 0);
	v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w, v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
	int q[8];
	float dx = 0.0f, aux = 0.0f;
	if (gvq_mode<K>() == GVQ_8_K) {
		/* the first element of the largest |x| among the 256, signed */
		float am = 0.0f, mx = 0.0f;
		int at = 256;
		for (int k = 0; k < 8; k++)
			if (fabsf(v[k]) > am)
				am = fabsf(v[k]), mx = v[k], at = 8 * lane + k;
		for (int o = 16; o > 0; o /= 2) {
			const float oam = __shfl_xor_sync(0xffffffffu, am, o), omx = __shfl_xor_sync(0xffffffffu, mx, o);
			const int oat = __shfl_xor_sync(0xffffffffu, at, o);
			if (oam > am || (oam == am && oat < at))
				am = oam, mx = omx, at = oat;
		}
		const float iscale = am == 0.0f ? 0.0f : -127.0f / mx;
		for (int k = 0; k < 8; k++) {
			const int c = qc_nearest_int(iscale * v[k]);
			q[k] = am == 0.0f ? 0 : c < 127 ? c : 127;
		}
		dx = am == 0.0f ? 0.0f : 1 / iscale;
	} else {
		/* a 32-element block: lanes 4 j .. 4 j + 3 */
		float am = 0.0f;
		for (int k = 0; k < 8; k++) {
			const float t = fabsf(v[k]);
			am = am > t ? am : t;
		}
		for (int o = 1; o < 4; o *= 2) {
			const float t = __shfl_xor_sync(0xffffffffu, am, o);
			am = am > t ? am : t;
		}
		const float d = am / 127.0f;
		const float id = d != 0.0f ? 1.0f / d : 0.0f;
		int sum = 0;
		for (int k = 0; k < 8; k++) {
			q[k] = (int)(int8_t)(uint8_t)qc_cvt_round(v[k] * id);
			sum += q[k];
		}
		dx = gv_h2f(qc_f2h(d));
		if (gvq_mode<K>() == GVQ_8_1) {
			for (int o = 1; o < 4; o *= 2)
				sum += __shfl_xor_sync(0xffffffffu, sum, o);
			aux = gv_h2f(qc_f2h((float)sum * d));
		}
	}
	codes[wl][2 * lane] = (uint32_t)(q[0] & 255) | (uint32_t)(q[1] & 255) << 8 | (uint32_t)(q[2] & 255) << 16 |
			      (uint32_t)(q[3] & 255) << 24;
	codes[wl][2 * lane + 1] = (uint32_t)(q[4] & 255) | (uint32_t)(q[5] & 255) << 8 |
				  (uint32_t)(q[6] & 255) << 16 | (uint32_t)(q[7] & 255) << 24;
	__syncwarp();
	uint8_t *xo = xq + (uint64_t)blockIdx.y * col;
	const int64_t blk0 = 8 * g; /* the warp's first 32-element block */
	if (lane < 16) {
		/* block j of the warp, half h: 16 codes in gvq_perm order */
		const int j = lane >> 1, h = lane & 1;
		const uint8_t *cb = (const uint8_t *)codes[wl] + 32 * j;
		uint32_t o[4];
		for (int i = 0; i < 4; i++) {
			o[i] = 0;
			for (int k = 0; k < 4; k++)
				o[i] |= (uint32_t)cb[gvq_perm<K>(16 * h + 4 * i + k)] << (8 * k);
		}
		const int64_t bi = blk0 + j;
		*(uint4 *)(xo + (bi >> 5) * GV_UNIT + 512 * h + 16 * (bi & 31)) = make_uint4(o[0], o[1], o[2], o[3]);
	}
	if ((lane & 3) == 0)
		*(float2 *)(xo + sc_off + 8 * (blk0 + (lane >> 2))) = make_float2(dx, aux);
}

/* y[c * ldy + r] = sum_e W[r][e] x[c * n_in + e] for the nr rows of w (rs
 * bytes apart) and columns c < nc (nc <= NC); x 16-byte aligned, n_in a
 * multiple of 32. A block of GV_WARPS warps owns GV_WARPS * R rows (a task)
 * and steps through them in lockstep, so one copy of each x step in shared
 * memory serves all its rows (read from L2 once per task rather than once
 * per warp). */
template <int K, int BITS, int NC>
__global__ void __launch_bounds__(32 * GV_WARPS)
	k_gemv_fast(qc_fmt f, const uint8_t *w, uint64_t rs, int64_t n_in, int64_t nr, const float *x, int nc, float *y,
		    int64_t ldy, int slot, const uint8_t *xq, uint64_t xq_col, uint64_t xq_sc)
{
	constexpr int R = gv_rows<K, NC>(), TR = GV_WARPS * R, U = gv_units<K>(), ST = U * GV_UNIT,
		      XCOL = ST / 32 * 36;
	constexpr bool flt = K == QC_F32 || K == QC_F16 || K == QC_BF16, q8 = gvq_mode<K>() != GVQ_NONE;
	/* x bytes per column in a stage: floats (padded), or codes and scales */
	constexpr int XB = q8 ? ST + ST / 32 * 8 : XCOL * (int)sizeof(float);
	/* 16-byte chunks per lane of a row's step, at most (head misalignment
	 * and tail rounding included) */
	constexpr int CPL = (ST / 256 * gv_bytes256<K, BITS>() + 30) / 16 / 32 + 1;
	extern __shared__ __align__(16) uint8_t gv_smem[];
	const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
	const size_t wbytes = (size_t)TR * slot, stage_bytes = wbytes + (size_t)NC * XB;
	/* bytes of a row per unit and per step */
	const uint64_t ub = (uint64_t)(GV_UNIT / f.bs) * (uint64_t)f.bb, sb = U * ub;
	const int64_t nsteps = (n_in + ST - 1) / ST, ntask = (nr + TR - 1) / TR;
	const int64_t nit = blockIdx.x < ntask ? ((ntask - 1 - blockIdx.x) / gridDim.x + 1) * nsteps : 0;
	const uintptr_t lo = (uintptr_t)w, hi = (uintptr_t)w + (uintptr_t)nr * rs;

	/* chunks [0, nch) of 16 bytes from base (16-byte aligned) to dst: a
	 * fixed count per lane, predicated (a loop bounded by nch cost more
	 * than the copies); nch <= 32 CPL, gv_bytes256 bounding every format's
	 * bytes */
	const unsigned smem_s = (unsigned)__cvta_generic_to_shared(gv_smem);
	auto copy_row = [&](unsigned dst, uintptr_t base, int nch) {
		const uint8_t *src = (const uint8_t *)base + 16 * lane;
		dst += 16 * lane;
#pragma unroll
		for (int k = 0; k < CPL; k++)
			if (lane + 32 * k < nch)
				gv_cp16(dst + 512 * k, src + 512 * k);
	};
	/* copies step s of task t (each warp its rows, and x) into stage
	 * `stage` */
	auto issue = [&](int64_t t, int64_t s, int stage) {
		uint8_t *st = gv_smem + (size_t)stage * stage_bytes;
		const unsigned st_s = smem_s + (unsigned)(stage * stage_bytes);
		const uint64_t off = (uint64_t)s * sb, len = sb < rs - off ? sb : rs - off;
		const int64_t r0 = t * TR + warp * R;
		uintptr_t p = lo + (uintptr_t)r0 * rs + off;
		if (t > 0 && t < ntask - 1) {
			/* a task inside the job: the chunks covering each row's
			 * bytes lie in the job (its rows start TR >= 8 rows after
			 * the first and end TR rows before the last: 16 bytes or
			 * more), so no range checks */
			const unsigned l32 = (unsigned)len;
#pragma unroll
			for (int i = 0; i < R; i++, p += rs) {
				const unsigned mis = (unsigned)p & 15u;
				copy_row(st_s + (unsigned)(warp * R + i) * slot, p - mis, (int)((mis + l32 + 15u) >> 4));
			}
		} else {
			for (int i = 0; i < R && r0 + i < nr; i++, p += rs) {
				const uintptr_t base = p & ~(uintptr_t)15;
				const int nch = (int)((p - base + len + 15) / 16);
				uint8_t *dst = st + (size_t)(warp * R + i) * slot;
				const unsigned dst_s = st_s + (unsigned)(warp * R + i) * slot;
				if (base >= lo && base + 16 * (uintptr_t)nch <= hi) {
					copy_row(dst_s, base, nch);
					continue;
				}
				/* the job's first or last bytes: nothing outside them is read */
				for (int c = lane; c < nch; c += 32) {
					const uintptr_t src = base + 16 * (uintptr_t)c;
					if (src >= lo && src + 16 <= hi)
						gv_cp16(dst_s + 16 * c, (const void *)src);
					else
						for (int k = 0; k < 16; k++)
							dst[16 * c + k] = src + k >= lo && src + k < hi ? *(const uint8_t *)(src + k) : 0;
				}
			}
		}
		if (q8) { /* the step's codes, then its scales (whole steps: padded) */
			constexpr int NCODE = ST / 16, NT = 32 * GV_WARPS;
			const uint8_t *code = xq + (uint64_t)s * ST, *scale = xq + xq_sc + (uint64_t)s * (ST / 32 * 8);
			for (int c = 0; c < nc; c++)
#pragma unroll
				for (int k = 0; k < (XB / 16 + NT - 1) / NT; k++) {
					const int q = tid + NT * k;
					if (q < XB / 16)
						gv_cp16(st_s + (unsigned)wbytes + c * XB + 16 * q,
							(q < NCODE ? code + 16 * q : scale + 16 * (q - NCODE)) + c * xq_col);
				}
			return;
		}
		for (int c = 0; c < nc; c++)
			for (int q = tid; q < ST / 4; q += 32 * GV_WARPS)
				if (s * ST + 4 * q < n_in)
					gv_cp16(st_s + (unsigned)wbytes + 4 * (c * XCOL + gv_xi(4 * q)),
						x + c * n_in + s * ST + 4 * q);
	};

	float acc[R][NC];
#pragma unroll
	for (int i = 0; i < R; i++)
#pragma unroll
		for (int c = 0; c < NC; c++)
			acc[i][c] = 0.0f;
	/* (task, step) of the next iteration to copy and to compute */
	int64_t ti = blockIdx.x, si = 0, t = blockIdx.x, s = 0;
	for (int p = 0; p < GV_STAGES - 1; p++) {
		if (p < nit) {
			issue(ti, si, p);
			if (++si == nsteps)
				si = 0, ti += gridDim.x;
		}
		gv_commit();
	}
	int stage = 0;
	for (int64_t it = 0; it < nit; it++) {
		gv_wait<GV_STAGES - 2>(); /* this thread's copies for it */
		__syncthreads();          /* everyone's, and it - 1's stage is free */
		if (it + GV_STAGES - 1 < nit) {
			issue(ti, si, stage == 0 ? GV_STAGES - 1 : stage - 1);
			if (++si == nsteps)
				si = 0, ti += gridDim.x;
		}
		gv_commit();
		const uint8_t *st = gv_smem + (size_t)stage * stage_bytes;
		stage = stage == GV_STAGES - 1 ? 0 : stage + 1;
		const float *xs = (const float *)(st + wbytes);
#pragma unroll
		for (int un = 0; un < U; un++) {
			/* elements from this unit on, a multiple of 32 */
			const int64_t left = n_in - s * ST - un * GV_UNIT;
			if (flt || 32 * lane < left) {
				gv_unit u[R];
				/* the rows' misalignment (their low 4 address bits: 32-bit
				 * arithmetic suffices) */
				const unsigned mis0 = (unsigned)lo + (unsigned)(t * TR + warp * R) * (unsigned)rs +
						      (unsigned)s * (unsigned)sb;
#pragma unroll
				for (int i = 0; i < R; i++)
					gv_load<K, BITS>(f,
							 st + (size_t)(warp * R + i) * slot +
								 ((mis0 + i * (unsigned)rs) & 15) + un * ub,
							 lane, u[i]);
				if (q8) {
					/* the column's codes of the lane's 32 elements, their
					 * halves' sums, its scale (and q8_1 sum) */
					int X[NC][8], sq0[NC], sq1[NC];
					float dx[NC], ax[NC];
#pragma unroll
					for (int c = 0; c < NC; c++) {
						const uint8_t *xc = st + wbytes + (c < nc ? c : nc - 1) * XB;
						const uint4 a = *(const uint4 *)(xc + un * GV_UNIT + 16 * lane);
						const uint4 b = *(const uint4 *)(xc + un * GV_UNIT + 512 + 16 * lane);
						const float2 sd = *(const float2 *)(xc + ST + 8 * (un * 32 + lane));
						X[c][0] = (int)a.x, X[c][1] = (int)a.y, X[c][2] = (int)a.z, X[c][3] = (int)a.w;
						X[c][4] = (int)b.x, X[c][5] = (int)b.y, X[c][6] = (int)b.z, X[c][7] = (int)b.w;
						dx[c] = sd.x, ax[c] = sd.y;
						sq0[c] = sq1[c] = 0;
						if (gvq_off<K>() != 0 || (gv_has_m<K>() && gvq_mode<K>() != GVQ_8_1))
#pragma unroll
							for (int k = 0; k < 4; k++) {
								sq0[c] = __dp4a(X[c][k], 0x01010101, sq0[c]);
								sq1[c] = __dp4a(X[c][4 + k], 0x01010101, sq1[c]);
							}
					}
#pragma unroll
					for (int i = 0; i < R; i++) {
						int W[8];
						gvq_words<K>(u[i], W);
#pragma unroll
						for (int c = 0; c < NC; c++)
							acc[i][c] += gvq_unit<K>(u[i], W, X[c], sq0[c], sq1[c], dx[c], ax[c]);
					}
				} else {
#pragma unroll
					for (int h = 0; h < 2; h++) {
						float ua[R][NC], xsum[NC];
#pragma unroll
						for (int c = 0; c < NC; c++) {
							xsum[c] = 0.0f;
#pragma unroll
							for (int i = 0; i < R; i++)
								ua[i][c] = 0.0f;
						}
#pragma unroll
						for (int gg = 0; gg < 2; gg++) {
							const int g = 2 * h + gg;
							const int e0 = gv_elem<K>(lane, g, 0), e1 = gv_elem<K>(lane, g, 1);
							/* float formats: runs past the row's end count as 0 */
							const bool ok0 = !flt || e0 < left, ok1 = !flt || e1 < left;
							float xv[NC][8];
#pragma unroll
							for (int c = 0; c < NC; c++) {
								const float *xc =
									xs + (c < nc ? c : nc - 1) * XCOL + gv_xi(un * GV_UNIT);
								const float4 a = ok0 ? *(const float4 *)(xc + gv_xi(e0)) : make_float4(0, 0, 0, 0);
								const float4 b = ok1 ? *(const float4 *)(xc + gv_xi(e1)) : make_float4(0, 0, 0, 0);
								xv[c][0] = a.x, xv[c][1] = a.y, xv[c][2] = a.z, xv[c][3] = a.w;
								xv[c][4] = b.x, xv[c][5] = b.y, xv[c][6] = b.z, xv[c][7] = b.w;
								if (gv_b<K, BITS>() != 0.0f || gv_has_m<K>())
									xsum[c] += ((xv[c][0] + xv[c][1]) + (xv[c][2] + xv[c][3])) +
										   ((xv[c][4] + xv[c][5]) + (xv[c][6] + xv[c][7]));
							}
#pragma unroll
							for (int i = 0; i < R; i++) {
								float v[8];
								gv_group<K, BITS>(f, u[i], g, v);
								if (flt)
#pragma unroll
									for (int k = 0; k < 4; k++) {
										v[k] = ok0 ? v[k] : 0.0f;
										v[4 + k] = ok1 ? v[4 + k] : 0.0f;
									}
								/* products summed with explicit FMAs (the module is
								 * built with -fmad=false for the bit-exact paths) */
#pragma unroll
								for (int c = 0; c < NC; c++)
#pragma unroll
									for (int k = 0; k < 8; k++)
										ua[i][c] = __fmaf_rn(v[k], xv[c][k], ua[i][c]);
							}
						}
#pragma unroll
						for (int i = 0; i < R; i++)
#pragma unroll
							for (int c = 0; c < NC; c++) {
								if (!gv_has_sc<K>()) {
									acc[i][c] += ua[i][c];
									continue;
								}
								const float a = gv_a<K, BITS>(), b = gv_b<K, BITS>();
								const float sum =
									a == 1.0f && b == 0.0f ? ua[i][c] : __fmaf_rn(a, ua[i][c], b * xsum[c]);
								acc[i][c] = __fmaf_rn(u[i].sc[h], sum, acc[i][c]);
								if (gv_has_m<K>())
									acc[i][c] = __fmaf_rn(u[i].m[h], xsum[c], acc[i][c]);
							}
					}
				}
			}
		}
		if (s == nsteps - 1) {
#pragma unroll
			for (int i = 0; i < R; i++)
#pragma unroll
				for (int c = 0; c < NC; c++) {
					float v = acc[i][c];
					for (int o = 16; o > 0; o /= 2)
						v += __shfl_xor_sync(0xffffffffu, v, o);
					const int64_t r = t * TR + warp * R + i;
					if (lane == 0 && r < nr && c < nc)
						y[c * ldy + r] = v;
					acc[i][c] = 0.0f;
				}
		}
		if (++s == nsteps)
			s = 0, t += gridDim.x;
	}
}

/* Tasks in equal rounds: as many blocks as fit on the device at once, or
 * fewer so that every round is full. */
template <int K, int BITS, int NC>
static cudaError_t gv_run(const qc_fmt &f, int sms, cudaStream_t stream, const uint8_t *w, uint64_t rs, int64_t n_in,
			  int64_t nr, const float *x, int nc, float *y, int64_t ldy, uint8_t *xq)
{
	constexpr int TR = GV_WARPS * gv_rows<K, NC>();
	constexpr int U = gv_units<K>(), ST = U * GV_UNIT;
	constexpr bool q8 = gvq_mode<K>() != GVQ_NONE;
	const int slot = gv_slot(f, U);
	const size_t smem = (size_t)GV_STAGES * ((size_t)TR * slot + (size_t)NC * (q8 ? ST + ST / 32 * 8
											 : ST / 32 * 36 * sizeof(float)));
	static_assert(!q8 || ST == 2 * GV_UNIT, "gvq_col_bytes pads to steps of two units");
	int64_t units = 0;
	const uint64_t col = gvq_col_bytes(n_in, &units);
	if (q8) {
		k_gemv_xq<K><<<dim3((unsigned)(units * GV_UNIT / 2048), (unsigned)nc), 256, 0, stream>>>(
			x, n_in, units, xq, col, (uint64_t)units * GV_UNIT);
	}
	cudaError_t e = cudaSuccess;
	if (smem > 48 * 1024)
		e = cudaFuncSetAttribute(k_gemv_fast<K, BITS, NC>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
	int per_sm = 0;
	if (e == cudaSuccess)
		e = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, k_gemv_fast<K, BITS, NC>, 32 * GV_WARPS, smem);
	if (e != cudaSuccess)
		return e;
	const int64_t ntask = (nr + TR - 1) / TR, fit = (int64_t)(per_sm > 0 ? per_sm : 1) * sms;
	const int64_t rounds = (ntask + fit - 1) / fit, grid = (ntask + rounds - 1) / rounds;
	k_gemv_fast<K, BITS, NC><<<(unsigned)grid, 32 * GV_WARPS, smem, stream>>>(
		f, w, rs, n_in, nr, x, nc, y, ldy, slot, xq, col, (uint64_t)units * GV_UNIT);
	return cudaGetLastError();
}

template <int K, int BITS>
static cudaError_t gv_cols(const qc_fmt &f, int sms, cudaStream_t stream, const uint8_t *w, uint64_t rs, int64_t n_in,
			   int64_t nr, const float *x, int nc, float *y, int64_t ldy, uint8_t *xq)
{
	if (nc == 1)
		return gv_run<K, BITS, 1>(f, sms, stream, w, rs, n_in, nr, x, nc, y, ldy, xq);
	if (nc == 2)
		return gv_run<K, BITS, 2>(f, sms, stream, w, rs, n_in, nr, x, nc, y, ldy, xq);
	if (nc <= 4)
		return gv_run<K, BITS, 4>(f, sms, stream, w, rs, n_in, nr, x, nc, y, ldy, xq);
	return gv_run<K, BITS, 7>(f, sms, stream, w, rs, n_in, nr, x, nc, y, ldy, xq);
}

/* Device scratch gemv_fast needs for x's companion codes (the formats
 * with none leave it unused: 1.25 bytes per element of x). */
static inline uint64_t gemv_fast_scratch(int64_t n_in, int64_t nc)
{
	return (uint64_t)nc * gvq_col_bytes(n_in, NULL);
}

/* Whether gemv_fast runs this product: 1..7 columns, x 16-byte aligned,
 * n_in a multiple of 32 (mlx:nvfp4 rows of an odd number of 16-element
 * blocks and float rows of other lengths do not). */
static inline bool gemv_fast_ok(int64_t n_in, const void *x, int64_t nc)
{
	return nc >= 1 && nc <= GV_MAX_COLS && n_in % 32 == 0 && ((uintptr_t)x & 15) == 0;
}

/* xq: gemv_fast_scratch bytes of device memory (16-byte aligned) */
static cudaError_t gemv_fast(const qc_fmt &f, int sms, cudaStream_t stream, const uint8_t *w, uint64_t rs,
			     int64_t n_in, int64_t nr, const float *x, int nc, float *y, int64_t ldy, uint8_t *xq)
{
#define GV_ARGS f, sms, stream, w, rs, n_in, nr, x, nc, y, ldy, xq
	switch (f.kind) {
	case QC_F32: return gv_cols<QC_F32, 0>(GV_ARGS);
	case QC_F16: return gv_cols<QC_F16, 0>(GV_ARGS);
	case QC_BF16: return gv_cols<QC_BF16, 0>(GV_ARGS);
	case QC_Q4_0: return gv_cols<QC_Q4_0, 0>(GV_ARGS);
	case QC_Q4_1: return gv_cols<QC_Q4_1, 0>(GV_ARGS);
	case QC_Q5_0: return gv_cols<QC_Q5_0, 0>(GV_ARGS);
	case QC_Q5_1: return gv_cols<QC_Q5_1, 0>(GV_ARGS);
	case QC_Q8_0: return gv_cols<QC_Q8_0, 0>(GV_ARGS);
	case QC_Q2_K: return gv_cols<QC_Q2_K, 0>(GV_ARGS);
	case QC_Q3_K: return gv_cols<QC_Q3_K, 0>(GV_ARGS);
	case QC_Q4_K: return gv_cols<QC_Q4_K, 0>(GV_ARGS);
	case QC_Q5_K: return gv_cols<QC_Q5_K, 0>(GV_ARGS);
	case QC_Q6_K: return gv_cols<QC_Q6_K, 0>(GV_ARGS);
	case QC_MXFP4: return gv_cols<QC_MXFP4, 0>(GV_ARGS);
	case QC_NVFP4: return gv_cols<QC_NVFP4, 0>(GV_ARGS);
	case QC_MLX_MXFP4: return gv_cols<QC_MLX_MXFP4, 0>(GV_ARGS);
	case QC_MLX_MXFP8: return gv_cols<QC_MLX_MXFP8, 0>(GV_ARGS);
	case QC_MLX_NVFP4: return gv_cols<QC_MLX_NVFP4, 0>(GV_ARGS);
	default: /* QC_MLX_AFFINE */
		switch (f.bits) {
		case 2: return gv_cols<QC_MLX_AFFINE, 2>(GV_ARGS);
		case 3: return gv_cols<QC_MLX_AFFINE, 3>(GV_ARGS);
		case 4: return gv_cols<QC_MLX_AFFINE, 4>(GV_ARGS);
		case 5: return gv_cols<QC_MLX_AFFINE, 5>(GV_ARGS);
		case 6: return gv_cols<QC_MLX_AFFINE, 6>(GV_ARGS);
		case 7: return gv_cols<QC_MLX_AFFINE, 7>(GV_ARGS);
		default: return gv_cols<QC_MLX_AFFINE, 8>(GV_ARGS);
		}
	}
#undef GV_ARGS
}

#endif /* GV_DECODERS_ONLY */

#endif /* QNT_CUDA_GEMV_CUH */
