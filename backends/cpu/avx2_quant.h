/* SPDX-License-Identifier: MIT */
/* The "cpu-avx2" backend's quantizers (avx2_quant.c): the scalar reference's
 * search quantizers compiled for AVX2, the reference's bytes. */
#ifndef QNT_AVX2_QUANT_H
#define QNT_AVX2_QUANT_H

#include "libqnt_backend.h"

#include <stddef.h>

/* The AVX2 build of the reference quantizer of `type`: 1 where there is
 * one (the formats of lib/core's legacy, k-quant, i-quant and low-bit
 * families that qnt_quantize() produces, less the activation formats). */
int qnt__avx2_has_quantizer(qnt_type type);

/* Quantizes rows [0, nrows) of n_per_row elements (arguments already
 * checked) to rows of row_bytes bytes, as host->quantize_ref would: rows
 * that hold a NaN or an infinity are handed to host->quantize_ref (see
 * avx2_quant.c), the others to the AVX2 build. imp: NULL or n_per_row
 * weights. */
qnt_status qnt__avx2_quantize(const qnt_host_api *host, qnt_type type, const float *src, void *dst, int64_t nrows,
			      int64_t n_per_row, size_t row_bytes, const float *imp);

#endif
