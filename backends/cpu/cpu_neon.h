/* SPDX-License-Identifier: MIT */
/* The "cpu-neon" backend (AArch64): its vtable, dequantizers, quantizers and
 * score (backends/cpu/neon.c, built for plain ARMv8-A), and its matrix
 * product row kernels (backends/cpu/neon_mm.c), built twice: once for plain
 * ARMv8-A NEON and once with -march=armv8.2-a+dotprod (SDOT). neon.c picks
 * one of the two tables from host->cpu_features, so a CPU without dotprod
 * never runs an SDOT. Never installed. */
#ifndef QNT_CPU_NEON_H
#define QNT_CPU_NEON_H

#include "libqnt_backend.h"

/* 1 + QNT_CPU_NEON, plus QNT_CPU_DOTPROD where the CPU has it (the kernels
 * then use it); 0 with a reason where host->cpu_features lacks NEON. */
int32_t qnt__cpu_neon_score(const qnt_host_api *host, char *why, size_t why_size);

extern const qnt_backend_vtbl qnt__cpu_neon_backend;

/* Columns that share one decoded weight block in a row kernel. */
#define QNT_NEON_NC 4

/* One column of quantized activations (or floats): its blocks, and for the
 * legacy formats each block's scale d and (q8_1) stored sum s as floats. */
struct qnt__neon_xcol {
	const uint8_t *blk;
	const float *d, *s;
};

/* One weight row of n elements against nc (1..QNT_NEON_NC) columns: out[c]. */
typedef void (*qnt__neon_row_fn)(const void *w, const struct qnt__neon_xcol *x, int nc, int64_t n, float *out);

/* The row kernels of one build of neon_mm.c. */
struct qnt__neon_mm {
	const char *name; /* "neon" or "neon+dotprod" */
	qnt__neon_row_fn q4_0, q4_1, q5_0, q5_1, q8_0;
	qnt__neon_row_fn q2_K, q3_K, q4_K, q5_K, q6_K;
	qnt__neon_row_fn f32, f16, bf16;
};

extern const struct qnt__neon_mm qnt__neon_mm_plain;
extern const struct qnt__neon_mm qnt__neon_mm_dotprod;

#endif
