/* SPDX-License-Identifier: MIT */
/* Block layouts of ggml's legacy formats, k-quants, i-quants, ternary and
 * E2M1 formats, as in ggml's ggml-common.h (written anew): the one
 * definition the quantizers, the reference matrix product and the SIMD
 * kernels share. fp16 fields are uint16_t bit patterns. */
#ifndef QNT_BLOCKS_H
#define QNT_BLOCKS_H

#include <stdint.h>

#define QK 32    /* elements per legacy block */
#define QK_K 256 /* elements per k-quant super-block */
#define QK4_NL 32 /* iq4_nl */
#define QK_MXFP4 32
#define QK_NVFP4 64
#define QK_NVFP4_SUB 16 /* elements per nvfp4 scale */
#define QK1_0 128
#define QK2_0 64

struct blk_q4_0 {
	uint16_t d;
	uint8_t qs[QK / 2];
};
struct blk_q4_1 {
	uint16_t d, m;
	uint8_t qs[QK / 2];
};
struct blk_q5_0 {
	uint16_t d;
	uint8_t qh[4];
	uint8_t qs[QK / 2];
};
struct blk_q5_1 {
	uint16_t d, m;
	uint8_t qh[4];
	uint8_t qs[QK / 2];
};
struct blk_q8_0 {
	uint16_t d;
	int8_t qs[QK];
};
struct blk_q8_1 {
	uint16_t d, s;
	int8_t qs[QK];
};

_Static_assert(sizeof(struct blk_q4_0) == 18, "q4_0 block");
_Static_assert(sizeof(struct blk_q4_1) == 20, "q4_1 block");
_Static_assert(sizeof(struct blk_q5_0) == 22, "q5_0 block");
_Static_assert(sizeof(struct blk_q5_1) == 24, "q5_1 block");
_Static_assert(sizeof(struct blk_q8_0) == 34, "q8_0 block");
_Static_assert(sizeof(struct blk_q8_1) == 36, "q8_1 block");

struct blk_q2_K {
	uint8_t scales[QK_K / 16]; /* low nibble: scale, high nibble: min */
	uint8_t qs[QK_K / 4];      /* 2-bit codes */
	uint16_t d, dmin;          /* fp16 super-scales */
};
struct blk_q3_K {
	uint8_t hmask[QK_K / 8]; /* bit 2 of the codes */
	uint8_t qs[QK_K / 4];    /* bits 0-1 of the codes */
	uint8_t scales[12];      /* 16 6-bit scales, biased by 32 */
	uint16_t d;
};
struct blk_q4_K {
	uint16_t d, dmin;
	uint8_t scales[12]; /* 8 6-bit scales and 8 6-bit mins */
	uint8_t qs[QK_K / 2];
};
struct blk_q5_K {
	uint16_t d, dmin;
	uint8_t scales[12];
	uint8_t qh[QK_K / 8]; /* bit 4 of the codes */
	uint8_t qs[QK_K / 2]; /* bits 0-3 */
};
struct blk_q6_K {
	uint8_t ql[QK_K / 2];     /* bits 0-3 */
	uint8_t qh[QK_K / 4];     /* bits 4-5 */
	int8_t scales[QK_K / 16]; /* 8-bit signed scales */
	uint16_t d;
};
struct blk_q8_K {
	float d;
	int8_t qs[QK_K];
	int16_t bsums[QK_K / 16]; /* sums of the codes of each 16 */
};

_Static_assert(sizeof(struct blk_q2_K) == 84, "q2_K block");
_Static_assert(sizeof(struct blk_q3_K) == 110, "q3_K block");
_Static_assert(sizeof(struct blk_q4_K) == 144, "q4_K block");
_Static_assert(sizeof(struct blk_q5_K) == 176, "q5_K block");
_Static_assert(sizeof(struct blk_q6_K) == 210, "q6_K block");
_Static_assert(sizeof(struct blk_q8_K) == 292, "q8_K block");

struct blk_iq2_xxs {
	uint16_t d;
	uint8_t qs[64]; /* per 32: 4 grid indices, then a little-endian word of
			   4 x 7 sign bits and a 4-bit scale in bits 28-31 */
};
struct blk_iq2_xs {
	uint16_t d;
	uint8_t qs[64];    /* 32 little-endian words: 9-bit index, 7 sign bits */
	uint8_t scales[8]; /* 4-bit scales per 16 */
};
struct blk_iq2_s {
	uint16_t d;
	uint8_t qs[64];    /* 32 low index bytes, then 32 sign bytes */
	uint8_t qh[8];     /* index bits 8-9, 2 bits per group of 8 */
	uint8_t scales[8]; /* 4-bit scales per 16 */
};
struct blk_iq3_xxs {
	uint16_t d;
	uint8_t qs[96]; /* 64 grid indices, then per 32 a word of 4 x 7 sign
			   bits and a 4-bit scale */
};
struct blk_iq3_s {
	uint16_t d;
	uint8_t qs[64];    /* low index bytes */
	uint8_t qh[8];     /* index bit 8, one bit per group of 4 */
	uint8_t signs[32]; /* one bit per element */
	uint8_t scales[4]; /* 4-bit scales per 32 */
};
struct blk_iq1_s {
	uint16_t d;
	uint8_t qs[32]; /* low index bytes */
	uint8_t qh[16]; /* per 32 a little-endian half-word: 4 x 3 high index
			   bits, 3-bit scale (bits 12-14), delta sign (15) */
};
struct blk_iq1_m {
	uint8_t qs[32];    /* low index bytes */
	uint8_t qh[16];    /* per 16: 2 x (3 high index bits, delta sign) */
	uint8_t scales[8]; /* 4 little-endian half-words: 3-bit scales per
			      16 in bits 0-11, the fp16 super-scale in the
			      top nibbles */
};
struct blk_iq4_nl {
	uint16_t d;
	uint8_t qs[QK4_NL / 2]; /* element j: low nibble of qs[j], j + 16: high */
};
struct blk_iq4_xs {
	uint16_t d;
	uint16_t scales_h;    /* bits 4-5 of the 6-bit scales, 2 per 32 */
	uint8_t scales_l[4];  /* bits 0-3 */
	uint8_t qs[QK_K / 2]; /* sub-block ib of 32: as iq4_nl in qs[16 ib..] */
};

_Static_assert(sizeof(struct blk_iq2_xxs) == 66, "iq2_xxs block");
_Static_assert(sizeof(struct blk_iq2_xs) == 74, "iq2_xs block");
_Static_assert(sizeof(struct blk_iq2_s) == 82, "iq2_s block");
_Static_assert(sizeof(struct blk_iq3_xxs) == 98, "iq3_xxs block");
_Static_assert(sizeof(struct blk_iq3_s) == 110, "iq3_s block");
_Static_assert(sizeof(struct blk_iq1_s) == 50, "iq1_s block");
_Static_assert(sizeof(struct blk_iq1_m) == 56, "iq1_m block");
_Static_assert(sizeof(struct blk_iq4_nl) == 18, "iq4_nl block");
_Static_assert(sizeof(struct blk_iq4_xs) == 136, "iq4_xs block");

struct blk_tq1_0 {
	uint8_t qs[48]; /* elements 0..239, five trits per byte */
	uint8_t qh[4];  /* elements 240..255, four trits per byte */
	uint16_t d;
};
struct blk_tq2_0 {
	uint8_t qs[QK_K / 4]; /* 2-bit fields */
	uint16_t d;
};
struct blk_mxfp4 {
	uint8_t e; /* E8M0 */
	uint8_t qs[QK_MXFP4 / 2];
};
struct blk_nvfp4 {
	uint8_t d[QK_NVFP4 / QK_NVFP4_SUB]; /* UE4M3, one per 16 */
	uint8_t qs[QK_NVFP4 / 2];           /* sub-block s: 8 low nibbles then 8 high of qs[8 s..] */
};
struct blk_q1_0 {
	uint16_t d;
	uint8_t qs[QK1_0 / 8]; /* sign bits */
};
struct blk_q2_0 {
	uint16_t d;
	uint8_t qs[QK2_0 / 4]; /* 2-bit codes */
};

_Static_assert(sizeof(struct blk_tq1_0) == 54, "tq1_0 block");
_Static_assert(sizeof(struct blk_tq2_0) == 66, "tq2_0 block");
_Static_assert(sizeof(struct blk_mxfp4) == 17, "mxfp4 block");
_Static_assert(sizeof(struct blk_nvfp4) == 36, "nvfp4 block");
_Static_assert(sizeof(struct blk_q1_0) == 18, "q1_0 block");
_Static_assert(sizeof(struct blk_q2_0) == 18, "q2_0 block");

#endif /* QNT_BLOCKS_H */
