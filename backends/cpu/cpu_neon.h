/* SPDX-License-Identifier: MIT */
/* The "cpu-neon" backend (AArch64): its vtable, dequantizers, quantizers and
 * score (backends/cpu/neon.c, built for plain ARMv8-A), and its matrix
 * product row kernels (backends/cpu/neon_mm.c), built three times: for plain
 * ARMv8-A NEON, with -march=armv8.2-a+dotprod (SDOT), and with
 * -march=armv8.2-a+dotprod+i8mm (SDOT, and SMMLA in the two-row kernels).
 * neon.c picks one of the three tables from host->cpu_features, so a CPU
 * without dotprod never runs an SDOT, nor one without i8mm an SMMLA. Never
 * installed. */
#ifndef QNT_CPU_NEON_H
#define QNT_CPU_NEON_H

#include "libqnt_backend.h"
#include "qnt_blocks.h"
#include "qnt_fp.h"

#include <stdint.h>
#include <string.h>

/* 1 + QNT_CPU_NEON, plus QNT_CPU_DOTPROD where the CPU has it and
 * QNT_CPU_I8MM where it has both (the kernels then use them); 0 with a
 * reason where host->cpu_features lacks NEON. */
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

/* Two weight rows (w0, and w1 = w0 + row bytes) of n elements against nc
 * (1..QNT_NEON_NC) columns: out0[c], out1[c]. */
typedef void (*qnt__neon_row2_fn)(const void *w0, size_t row_bytes, const struct qnt__neon_xcol *x, int nc, int64_t n,
				  float *out0, float *out1);

/* The row kernels of one build of neon_mm.c. */
struct qnt__neon_mm {
	const char *name; /* "neon", "neon+dotprod" or "neon+i8mm" */
	qnt__neon_row_fn q4_0, q4_1, q5_0, q5_1, q8_0;
	qnt__neon_row_fn q2_K, q3_K, q4_K, q5_K, q6_K;
	qnt__neon_row_fn f32, f16, bf16;
	qnt__neon_row_fn iq4_nl, mxfp4, nvfp4, q1_0, q2_0; /* against q8_0 */
	qnt__neon_row_fn iq4_xs, tq1_0, tq2_0;             /* against q8_K */
	qnt__neon_row_fn iq2_xxs, iq2_xs, iq2_s, iq3_xxs, iq3_s; /* against q8_K */
	qnt__neon_row_fn iq1_s, iq1_m;                           /* against q8_K */
	/* two rows at once (the i8mm build: SMMLA, 2 rows x 2 columns per
	 * instruction), NULL in the others; for two columns and more */
	qnt__neon_row2_fn q4_0_r2, q8_0_r2;
};

extern const struct qnt__neon_mm qnt__neon_mm_plain;
extern const struct qnt__neon_mm qnt__neon_mm_dotprod;
extern const struct qnt__neon_mm qnt__neon_mm_i8mm;



/* iq4_nl/iq4_xs values (ggml's kvalues_iq4nl). */
static const int8_t qnt__neon_kv_iq4[16] = { -127, -104, -83, -65, -49, -35, -22, -10,
					     1,    13,   25,  38,  53,  69,  89,  113 };
/* E2M1 values doubled (ggml's kvalues_mxfp4; index 8 is -0). */
static const int8_t qnt__neon_kv_fp4[16] = { 0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12 };

/* ggml_e8m0_to_fp32_half: 2^(e - 128), subnormal for e < 2. */
static inline float qnt__neon_e8m0_half(uint8_t e)
{
	return qnt__f32_from_bits(e < 2 ? 0x00200000u << e : (uint32_t)(e - 1) << 23);
}

/* ggml_ue4m3_to_fp32 (half of the unsigned E4M3 value; 0x00 and 0x7f read
 * as 0), as quant_lowbit.c's ue4m3_half: exact in float. */
static inline float qnt__neon_ue4m3_half(uint8_t x)
{
	if (x == 0 || x == 0x7f)
		return 0.0f;
	const int ex = (x >> 3) & 0xf, man = x & 7;
	if (ex == 0)
		return (float)man * 0x1p-10f;
	return (float)(8 + man) * qnt__f32_from_bits((uint32_t)(ex - 11 + 127) << 23);
}

#endif
