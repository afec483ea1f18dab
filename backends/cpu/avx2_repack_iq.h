/* SPDX-License-Identifier: MIT */
/* cpu-avx2 prepared weights of the lattice i-quants (avx2_repack_iq.c),
 * called from avx2_repack.c's matrix_prepare / matmul_prepared. */
#ifndef QNT_AVX2_REPACK_IQ_H
#define QNT_AVX2_REPACK_IQ_H

#include "cpu_avx2.h"

/* Whether wtype has this layout (iq2_xxs iq2_xs iq2_s iq3_xxs iq3_s q3_K;
 * iq1_s, iq1_m and tq1_0 have avx2_repack.c's). */
int qnt__avx2_iqp_handles(qnt_type wtype);
qnt_status qnt__avx2_iqp_prepare(const qnt_host_api *host, qnt_type wtype, const void *w, int64_t n_out,
				 int64_t n_in, void **prepared, int64_t *row_group);
qnt_status qnt__avx2_iqp_matmul(const qnt_host_api *host, const qnt_matmul_job *job);

#endif
