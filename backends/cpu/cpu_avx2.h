/* SPDX-License-Identifier: MIT */
/* The "cpu-avx2" backend: its vtable (backends/cpu/avx2.c, built with
 * -mavx2 -mfma -mf16c) and its score (backends/cpu/avx2_score.c, built
 * without them, so that it runs on any x86-64 CPU). Never installed. */
#ifndef QNT_CPU_AVX2_H
#define QNT_CPU_AVX2_H

#include "libqnt_backend.h"

/* 1 + QNT_CPU_AVX2 + QNT_CPU_F16C + QNT_CPU_FMA where the CPU and the OS
 * support all three (host->cpu_features), else 0 with the missing ones in
 * `why`. */
int32_t qnt__cpu_avx2_score(const qnt_host_api *host, char *why, size_t why_size);

extern const qnt_backend_vtbl qnt__cpu_avx2_backend;

/* The "cpu-avx512" backend: the same kernel files built with -DQNT_X86_AVX512
 * and AVX-512 F/BW/VL/VNNI (lib/meson.build), their symbols renamed by
 * avx512_names.h. Its score: 1 + the sum of the seven features' bits where
 * the CPU and the OS support all of them, else 0. In an emulated build
 * (-Davx512=emulated: SIMDe in place of the AVX-512 instructions, for the
 * tests) it needs only what cpu-avx2 needs and scores one more than it. */
int32_t qnt__cpu_avx512_score(const qnt_host_api *host, char *why, size_t why_size);
extern const qnt_backend_vtbl qnt__cpu_avx512_backend;

#if defined(QNT_X86_AVX512) && defined(QNT_AVX512_EMULATED)
#define QNT_X86_BACKEND_NAME "cpu-avx512"
#define QNT_X86_BACKEND_DESCRIPTION "x86-64 AVX-512 kernels, emulated by SIMDe (a test build)"
#elif defined(QNT_X86_AVX512)
#define QNT_X86_BACKEND_NAME "cpu-avx512"
#define QNT_X86_BACKEND_DESCRIPTION "x86-64 AVX-512 F/BW/VL/VNNI kernels"
#else
#define QNT_X86_BACKEND_NAME "cpu-avx2"
#define QNT_X86_BACKEND_DESCRIPTION "x86-64 AVX2/FMA/F16C kernels"
#endif

/* One column of quantized activations as avx2.c's matmul driver passes it:
 * its blocks, and for the q8_0/q8_1 companions each block's scale d and
 * sum s as floats (q8_0: s = d * sum of the codes; q8_1: its stored s). */
struct xcol {
	const uint8_t *blk;
	const float *d, *s;
};

/* One weight row of n elements against nc (1..4) columns: out[c]. */
typedef void (*row_fn)(const void *w, const struct xcol *x, int nc, int64_t n, float *out);

/* Two weight rows (w0, w1) of n elements against nc (1..4) columns:
 * out[2c] (row w0), out[2c + 1] (row w1). Each output depends only on its
 * own row and column (w1 may be w0). */
typedef void (*row2_fn)(const void *w0, const void *w1, const struct xcol *x, int nc, int64_t n, float *out);

/* Several weight rows against several columns (GEMM): rows [0, nr) of w
 * (rows wrs bytes apart, nr <= QNT__AVX2_GEMM_ROWS) against nc
 * (<= QNT__AVX2_GEMM_COLS) columns, y[c * ldy + r]. Each output depends
 * only on its row and column (not on nr, nc or the first row), so the result
 * does not depend on the thread count. */
#define QNT__AVX2_GEMM_ROWS 16
#define QNT__AVX2_GEMM_COLS 64
typedef void (*gemm_fn)(const void *w, size_t wrs, int nr, const struct xcol *x, int nc, int64_t n, float *y,
			int64_t ldy);

/* backends/cpu/avx2_iq.c: the i-quants, tq1_0/tq2_0, mxfp4/nvfp4 and
 * q1_0/q2_0. qnt__avx2_deq_T(src, y, n): n elements (whole blocks) of T,
 * the reference's floats. qnt__avx2_mm_T: a row_fn against T's activation
 * companion (q8_0 for iq4_nl, mxfp4, nvfp4, q1_0, q2_0; q8_K otherwise). */
#define QNT__AVX2_IQ_FORMATS(X)                                                                         \
	X(iq2_xxs) X(iq2_xs) X(iq2_s) X(iq3_xxs) X(iq3_s) X(iq1_s) X(iq1_m) X(iq4_nl) X(iq4_xs) X(tq1_0) \
	X(tq2_0) X(mxfp4) X(nvfp4) X(q1_0) X(q2_0)
#define QNT__AVX2_IQ_DECL(T)                                                   \
	void qnt__avx2_deq_##T(const void *src, float *y, int64_t n);           \
	void qnt__avx2_mm_##T(const void *w, const struct xcol *x, int nc, int64_t n, float *out);
QNT__AVX2_IQ_FORMATS(QNT__AVX2_IQ_DECL)
#undef QNT__AVX2_IQ_DECL

/* qnt__avx2_mm2_iq4_nl, qnt__avx2_mm2_mxfp4: row2_fn for iq4_nl and mxfp4
 * against q8_0 (cpu-avx2 only; cpu-avx512 runs the row kernels'
 * VPDPBUSD forms). */
void qnt__avx2_mm2_iq4_nl(const void *w0, const void *w1, const struct xcol *x, int nc, int64_t n, float *out);
void qnt__avx2_mm2_mxfp4(const void *w0, const void *w1, const struct xcol *x, int nc, int64_t n, float *out);

/* qnt__avx2_gemm_T: a gemm_fn for the lattice i-quants against q8_K. */
#define QNT__AVX2_IQ_GEMM_FORMATS(X) X(iq2_xxs) X(iq2_xs) X(iq2_s) X(iq3_xxs) X(iq3_s) X(iq1_s) X(iq1_m)
#define QNT__AVX2_IQ_GEMM_DECL(T) \
	void qnt__avx2_gemm_##T(const void *w, size_t wrs, int nr, const struct xcol *x, int nc, int64_t n, float *y, \
				int64_t ldy);
QNT__AVX2_IQ_GEMM_FORMATS(QNT__AVX2_IQ_GEMM_DECL)
#undef QNT__AVX2_IQ_GEMM_DECL

/* backends/cpu/avx2_mlx.c: the registry's MLX formats ("mlx:*"). */
struct qnt__avx2_mlx {
	int mode, bits, gs, d; /* as struct qnt__mlx_fmt */
	size_t code_bytes, ss, block_bytes;
	int tail_safe; /* a 64-bit load of a block's last chunk stays in it */
};
/* 1 and k filled when type is an MLX registry format, else 0. */
int qnt__avx2_mlx_init(qnt_type type, struct qnt__avx2_mlx *k);
/* n elements (whole groups): the reference's floats. */
void qnt__avx2_mlx_deq(const struct qnt__avx2_mlx *k, const void *src, float *y, int64_t n);
/* The n / group-size sums of x over each group (in a fixed order). */
void qnt__avx2_mlx_group_sums(const struct qnt__avx2_mlx *k, const float *x, int64_t n, float *sums);
/* The row kernel reads 4-bit and 2-bit codes a unit of 16 or 32 elements
 * at a time, in an order of its own: the unit (0: none, x as it is), and x
 * put in that order (n a multiple of the unit). */
int qnt__avx2_mlx_perm_unit(const struct qnt__avx2_mlx *k);
void qnt__avx2_mlx_permute_x(const struct qnt__avx2_mlx *k, const float *x, int64_t n, float *xp);
/* One row of n elements against nc (1..4) float columns x[c] (permuted as
 * above), with the group sums xsum[c] of the columns: out[c]. */
void qnt__avx2_mlx_row(const struct qnt__avx2_mlx *k, const void *w, const float *const *x,
		       const float *const *xsum, int nc, int64_t n, float *out);

/* backends/cpu/avx2_repack.c: prepared weights (the vtable's matrix_prepare,
 * matmul_prepared, matrix_free) in groups of eight interleaved rows: q4_0,
 * q8_0, iq4_nl, mxfp4, q4_K, q5_K, q6_K, iq4_xs, and the lattice i-quants
 * as 4-bit indices (avx2_repack_iq.c). */
qnt_status qnt__avx2_matrix_prepare(void *state, qnt_type wtype, const void *w, int64_t n_out, int64_t n_in,
				    void **prepared, int64_t *row_group);
qnt_status qnt__avx2_matmul_prepared(void *state, const qnt_matmul_job *job);
void qnt__avx2_matrix_free(const qnt_host_api *host, void *prepared);

#endif
