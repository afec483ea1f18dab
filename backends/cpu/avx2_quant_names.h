/* SPDX-License-Identifier: MIT */
/* Forced in (-include) when lib/core's quantizers are compiled a second
 * time for the "cpu-avx2" backend (lib/meson.build, library
 * qnt_cpu_avx2_quant): gives that copy's external symbols names of their own,
 * so that it links beside the scalar reference. The source is the same; only
 * the instruction set differs (see avx2_quant.c). A symbol missing here
 * shows up as a duplicate definition at link time. */
#ifndef QNT_AVX2_QUANT_NAMES_H
#define QNT_AVX2_QUANT_NAMES_H

/* quant_legacy.c */
#define qnt__ref_q4_0 qnt__avx2q_ref_q4_0
#define qnt__ref_q4_1 qnt__avx2q_ref_q4_1
#define qnt__ref_q5_0 qnt__avx2q_ref_q5_0
#define qnt__ref_q5_1 qnt__avx2q_ref_q5_1
#define qnt__ref_q8_0 qnt__avx2q_ref_q8_0
#define qnt__ref_q8_1 qnt__avx2q_ref_q8_1
#define qnt__traits_legacy qnt__avx2q_traits_legacy
#define qnt__traits_legacy_count qnt__avx2q_traits_legacy_count
/* quant_kquants.c */
#define qnt__traits_kquants qnt__avx2q_traits_kquants
#define qnt__traits_kquants_count qnt__avx2q_traits_kquants_count
/* quant_iquants.c */
#define qnt__traits_iquants qnt__avx2q_traits_iquants
#define qnt__traits_iquants_count qnt__avx2q_traits_iquants_count
/* quant_lowbit.c */
#define qnt__traits_lowbit qnt__avx2q_traits_lowbit
#define qnt__traits_lowbit_count qnt__avx2q_traits_lowbit_count
/* ggml_fit.c */
#define qnt__ggml_fit_sym qnt__avx2q_ggml_fit_sym
#define qnt__ggml_fit_affine qnt__avx2q_ggml_fit_affine
#define qnt__ggml_fit_affine_subs qnt__avx2q_ggml_fit_affine_subs
#define qnt__ggml_fit_sym_subs qnt__avx2q_ggml_fit_sym_subs

#endif
