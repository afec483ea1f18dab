/* SPDX-License-Identifier: MIT */
/* The format families. Each source file of lib/core/ that implements formats
 * exports one table; formats.c puts them together. */
#ifndef QNT_FORMATS_H
#define QNT_FORMATS_H

#include "qnt_internal.h"

extern const struct qnt__type_traits qnt__traits_float[]; /* quant_float.c */
extern const size_t qnt__traits_float_count;
extern const struct qnt__type_traits qnt__traits_legacy[]; /* quant_legacy.c */
extern const size_t qnt__traits_legacy_count;
extern const struct qnt__type_traits qnt__traits_kquants[]; /* quant_kquants.c */
extern const size_t qnt__traits_kquants_count;
extern const struct qnt__type_traits qnt__traits_iquants[]; /* quant_iquants.c */
extern const size_t qnt__traits_iquants_count;
extern const struct qnt__type_traits qnt__traits_lowbit[]; /* quant_lowbit.c */
extern const size_t qnt__traits_lowbit_count;
extern const struct qnt__type_traits qnt__traits_mlx[]; /* quant_mlx.c */
extern const size_t qnt__traits_mlx_count;

/* "mlx:...:bf16" -> the id of that name without the suffix (quant_mlx.c). */
qnt_type qnt__mlx_type_by_alias(const char *name);

#endif
