/* SPDX-License-Identifier: MIT */
/* Forced in (-include) when the cpu-avx2 kernel files are compiled a second
 * time for the "cpu-avx512" backend (lib/meson.build, library
 * qnt_cpu_avx512, with -DQNT_X86_AVX512): gives that copy's external
 * symbols names of their own, so that it links beside cpu-avx2. The
 * quantizers (avx2_quant.c: qnt__avx2_quantize, qnt__avx2_has_quantizer)
 * are not renamed: both backends call cpu-avx2's. A symbol missing here
 * shows up as a duplicate definition at link time. */
#ifndef QNT_AVX512_NAMES_H
#define QNT_AVX512_NAMES_H

/* the backend (avx2.c) and its score (avx2_score.c defines both scores) */
#define qnt__cpu_avx2_backend qnt__cpu_avx512_backend
#define qnt__cpu_avx2_score qnt__cpu_avx512_score
/* prepared layouts (avx2_repack.c, avx2_repack_iq.c) */
#define qnt__avx2_matrix_prepare qnt__avx512_matrix_prepare
#define qnt__avx2_matmul_prepared qnt__avx512_matmul_prepared
#define qnt__avx2_matrix_free qnt__avx512_matrix_free
#define qnt__avx2_iqp_handles qnt__avx512_iqp_handles
#define qnt__avx2_iqp_prepare qnt__avx512_iqp_prepare
#define qnt__avx2_iqp_matmul qnt__avx512_iqp_matmul
/* MLX formats (avx2_mlx.c) */
#define qnt__avx2_mlx_init qnt__avx512_mlx_init
#define qnt__avx2_mlx_deq qnt__avx512_mlx_deq
#define qnt__avx2_mlx_group_sums qnt__avx512_mlx_group_sums
#define qnt__avx2_mlx_perm_unit qnt__avx512_mlx_perm_unit
#define qnt__avx2_mlx_permute_x qnt__avx512_mlx_permute_x
#define qnt__avx2_mlx_row qnt__avx512_mlx_row
/* i-quants and low-bit formats (avx2_iq.c, QNT__AVX2_IQ_FORMATS and
 * QNT__AVX2_IQ_GEMM_FORMATS in cpu_avx2.h) */
#define qnt__avx2_deq_iq2_xxs qnt__avx512_deq_iq2_xxs
#define qnt__avx2_mm_iq2_xxs qnt__avx512_mm_iq2_xxs
#define qnt__avx2_deq_iq2_xs qnt__avx512_deq_iq2_xs
#define qnt__avx2_mm_iq2_xs qnt__avx512_mm_iq2_xs
#define qnt__avx2_deq_iq2_s qnt__avx512_deq_iq2_s
#define qnt__avx2_mm_iq2_s qnt__avx512_mm_iq2_s
#define qnt__avx2_deq_iq3_xxs qnt__avx512_deq_iq3_xxs
#define qnt__avx2_mm_iq3_xxs qnt__avx512_mm_iq3_xxs
#define qnt__avx2_deq_iq3_s qnt__avx512_deq_iq3_s
#define qnt__avx2_mm_iq3_s qnt__avx512_mm_iq3_s
#define qnt__avx2_deq_iq1_s qnt__avx512_deq_iq1_s
#define qnt__avx2_mm_iq1_s qnt__avx512_mm_iq1_s
#define qnt__avx2_deq_iq1_m qnt__avx512_deq_iq1_m
#define qnt__avx2_mm_iq1_m qnt__avx512_mm_iq1_m
#define qnt__avx2_deq_iq4_nl qnt__avx512_deq_iq4_nl
#define qnt__avx2_mm_iq4_nl qnt__avx512_mm_iq4_nl
#define qnt__avx2_deq_iq4_xs qnt__avx512_deq_iq4_xs
#define qnt__avx2_mm_iq4_xs qnt__avx512_mm_iq4_xs
#define qnt__avx2_deq_tq1_0 qnt__avx512_deq_tq1_0
#define qnt__avx2_mm_tq1_0 qnt__avx512_mm_tq1_0
#define qnt__avx2_deq_tq2_0 qnt__avx512_deq_tq2_0
#define qnt__avx2_mm_tq2_0 qnt__avx512_mm_tq2_0
#define qnt__avx2_deq_mxfp4 qnt__avx512_deq_mxfp4
#define qnt__avx2_mm_mxfp4 qnt__avx512_mm_mxfp4
#define qnt__avx2_deq_nvfp4 qnt__avx512_deq_nvfp4
#define qnt__avx2_mm_nvfp4 qnt__avx512_mm_nvfp4
#define qnt__avx2_deq_q1_0 qnt__avx512_deq_q1_0
#define qnt__avx2_mm_q1_0 qnt__avx512_mm_q1_0
#define qnt__avx2_deq_q2_0 qnt__avx512_deq_q2_0
#define qnt__avx2_mm_q2_0 qnt__avx512_mm_q2_0
#define qnt__avx2_gemm_iq2_xxs qnt__avx512_gemm_iq2_xxs
#define qnt__avx2_gemm_iq2_xs qnt__avx512_gemm_iq2_xs
#define qnt__avx2_gemm_iq2_s qnt__avx512_gemm_iq2_s
#define qnt__avx2_gemm_iq3_xxs qnt__avx512_gemm_iq3_xxs
#define qnt__avx2_gemm_iq3_s qnt__avx512_gemm_iq3_s
#define qnt__avx2_gemm_iq1_s qnt__avx512_gemm_iq1_s
#define qnt__avx2_gemm_iq1_m qnt__avx512_gemm_iq1_m

#endif
