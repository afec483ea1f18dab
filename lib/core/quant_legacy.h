/* SPDX-License-Identifier: MIT */
#ifndef QNT_QUANT_LEGACY_H
#define QNT_QUANT_LEGACY_H

#include "qnt_internal.h"

/* ggml's round-to-nearest reference for one block of 32 (ggml's bytes). */
void qnt__ref_q4_0(const float *x, void *blk);
void qnt__ref_q4_1(const float *x, void *blk);
void qnt__ref_q5_0(const float *x, void *blk);
void qnt__ref_q5_1(const float *x, void *blk);
void qnt__ref_q8_0(const float *x, void *blk);
void qnt__ref_q8_1(const float *x, void *blk);

#endif
