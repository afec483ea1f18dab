/* SPDX-License-Identifier: MIT */
/* Block layouts of ggml's legacy formats and k-quants, as in ggml's
 * ggml-common.h (written anew): the one definition the quantizers, the
 * reference matrix product and the SIMD kernels share. fp16 fields are
 * uint16_t bit patterns. */
#ifndef QNT_BLOCKS_H
#define QNT_BLOCKS_H

#include <stdint.h>

#define QK 32    /* elements per legacy block */
#define QK_K 256 /* elements per k-quant super-block */

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

#endif /* QNT_BLOCKS_H */
