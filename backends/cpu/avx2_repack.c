/* SPDX-License-Identifier: MIT */
/*
 * cpu-avx2 prepared weights (qnt_matrix_prepare): q4_0, q8_0, iq4_nl, mxfp4,
 * nvfp4, q2_K, q4_K, q5_K, q6_K, iq4_xs, tq2_0, tq1_0, iq1_s and iq1_m copied
 * into groups of eight interleaved rows, and their matrix products. The
 * table fmts (at the end) chooses per format its packer, its kernel and its
 * activations' per-column sums: a format is one line there. The other
 * lattice i-quants (iq2_xxs, iq2_xs, iq2_s, iq3_xxs, iq3_s) and q3_K have a
 * layout of their own: avx2_repack_iq.c.
 *
 * Layout of one matrix: a header (struct rp), then ceil(n_out / 8) groups of
 * group_bytes each. A group holds, for each block i of the row, the eight
 * rows' codes in 32-byte words (q4_0: 4 words, 128 bytes; q8_0: 8 words,
 * 256 bytes), then the eight rows' f16 scales of every block (16 bytes per
 * block). Word j of block i has row r's bytes qs[4j .. 4j + 3] in its 32-bit
 * lane r. Rows past n_out are zero (scale 0).
 *
 * So one 32-bit broadcast of four activation codes meets the same four
 * elements of all eight rows (VPMADDUBSW, then VPMADDWD): the eight dot
 * products of a block end in the eight lanes of one register, where one
 * F16C conversion of the eight scales and an FMA take them, and no
 * horizontal sum is left (the plain-layout kernels do one per row and
 * column). q4_0: a word's low nibbles are elements 4j..4j+3, its high
 * nibbles 16+4j..16+4j+3; codes stay unsigned (0..15, 16-bit sums of 16
 * products stay below 2^15) and the offset 8 is taken out with the block's
 * activation sum, as in avx2.c. q8_0: |w| times x with w's sign, 32-bit sums.
 * The codes are prefetched eight blocks ahead (weights from memory, 1
 * thread, 4096 x 4096, interleaved medians against no prefetch: q4_0 9.5 ->
 * 10.5 GB/s, q8_0 10.6 -> 12.5 GB/s on the shared 2-core machine), now
 * PF_BYTES (2 KiB: sixteen blocks of q4_0, iq4_nl, mxfp4 and nvfp4, eight
 * of q8_0; from eight blocks, ab_matmul --cold, 200 runs in each order:
 * iq4_nl 1.03-1.10x in four runs, mxfp4 1.05-1.09x, q4_0 1.02-1.04x). q4_K
 * gained nothing from it on 4 KiB pages; on the huge pages prepared
 * matrices now have, a quarter of its codes two super-blocks ahead per h
 * made it 1.15x faster from memory (process CPU time, interleaved, 2 x 15
 * runs; bench_matmul --cold, 1 thread: 12.73 -> 14.47 GB/s).
 *
 * iq4_nl (blocks like q4_0: f16 d, 16 code bytes) has q4_0's layout; its
 * kernel looks the nibbles up in ggml's kvalues_iq4nl (VPSHUFB) and meets
 * x with the sign trick (|w| times x with w's sign): a 16-bit pair sum
 * reaches 2 * 127 * 127, so each is widened to 32 bits at once. mxfp4
 * (E8M0 e, 16 code bytes): the same words, then the eight rows' e bytes of
 * every block (8 bytes a block); the nibbles looked up in the doubled E2M1
 * values plus 12 (0..24, unsigned), the offset taken out exactly (12 times
 * the block's activation sum, an integer below 2^24, as a float); the low
 * and the high nibbles sum in two 16-bit registers (each 8 products of at
 * most 24 * 127 a lane); the scale made from e as e8m0_half does (avx2_iq.c),
 * eight at a time. nvfp4 (pack_nvfp4) is taken as blocks of 32 in mxfp4's
 * arrangement, the low nibbles one sub-block of 16 and the high nibbles the
 * next, with its UE4M3 scales kept as a byte each (nv_scale_byte), 4.5 bits
 * a weight as in the row: the two sub-blocks' sums stay apart, each started
 * at minus 12 times the activations it meets, and meet their scales in
 * floats (4096 x 4096, 1 thread, process CPU time against the plain kernel,
 * medians of 11-15, interleaved, load 8: 2.09x in cache, 1.91x from memory,
 * 2.17x with 64 columns, with f16 scales, 5.0 bits a weight, and the offset
 * taken out in floats; the integer start and the byte scales then measured
 * 1.03-1.09x in cache, 0.99-1.03x from memory at load 12).
 *
 * q4_K (against q8_K): per super-block 32 words of codes (word 8h + t: row
 * r's qs[32h + 4t .. +3]; low nibbles sub-block 2h, high 2h + 1), then 160
 * bytes: the eight d, the eight dmin (f16), the 6-bit scales unpacked to
 * bytes [sub-block][row], the mins as bytes [pair p][row][2] (sub-blocks 2p,
 * 2p + 1). A sub-block's 16-bit sums meet its eight scales (each doubled
 * into both halves of a lane) in one VPMADDWD; the mins meet q8_K's sums of
 * 32 codes, two sub-blocks per VPMADDWD. Bounds: a 16-bit lane sums 16
 * products of a code 0..15 with one of -128..127 (|sum| <= 30720); a min
 * (<= 63) meets a sum of 32 codes (|bx| <= 4096).
 *
 * q5_K and iq4_xs: q4_K's code words; see k5_group and x4_group for the
 * rest, q5_K_body and iq4_xs_body for the kernels. q2_K: k2_group and
 * q2_K_body (4096 x 4096, 1 thread, process CPU time against the plain
 * kernel, interleaved, load 3-4: 1.57x in cache, 1.11x from memory, 1.42x
 * with 4 columns, 1.43x with 64; then the scales and mins packed into
 * nibbles: 1.09-1.15x from memory, 0.94-0.96x in cache and with 4
 * columns, 0.99x with 64, against the layout with bytes of their own). tq2_0: q2_K's code words, pack_tq2_0 and
 * tq2_0_body (the same measure: 1.09x in cache, 0.96-0.99x from memory,
 * where both read at the bandwidth, 1.65x with 4 and 64 columns).
 *
 * q6_K (against q8_K): per super-block 32 nibble words and 16 words of the
 * top two bits (k6_group), then 144 bytes: the eight d (f16) and the int8
 * scales as [pair p][row][2]. Its codes are prefetched two super-blocks
 * ahead: without, a 4096 x 4096 GEMV (13.8 MB) took 2.1-2.6 ms of thread
 * CPU time against 0.7-1.1 with (plain kernel 0.9-1.4), in cache no
 * difference.
 *
 * cpu-avx512 (QNT_AVX512, this file built again): VPDPBUSD sums the code
 * bytes against the activations straight into 32-bit lanes where cpu-avx2
 * has VPMADDUBSW, 16-bit adds and a VPMADDWD: q4_0, iq4_nl and mxfp4 (low
 * and high nibbles in two chains), q8_0 (even and odd words), and per
 * sub-block in q4_K, q5_K and iq4_xs, whose scales then meet the 32-bit
 * sums in floats (add_scaled_i32 and add_scaled2_i32, avx2_util.h: exact,
 * every |sum * scale| below 2^24), no VPMULLD. VPDPWSSD (dot2_i16) takes
 * the VPMADDWD and VPADDD of the mins (q4_K, q5_K) and of q6_K, whose
 * 16-bit sums stay (4 VPDPBUSD and a float scaling a sub-block would cost
 * what VPMADDUBSW, VPADDW and VPDPWSSD do). Each kernel's comments show
 * that cpu-avx2's VPMADDUBSW never saturates and its 16-bit sums never
 * wrap, so both builds have the same integers and the same float steps:
 * the same floats (test_matrix.c checks it).
 *
 * Each output depends only on its row and column: the group, the column
 * group and the thread do not change how it is computed.
 */
#include "cpu_avx2.h"
#include "avx2_repack_iq.h"
#include "avx2_util.h"
#include "qnt_blocks.h"
#include "../../lib/core/iquants_tables.h"

#include <immintrin.h>
#include <string.h>

#define RG 8     /* rows per group */
#define PC 4     /* columns per pass over a group */
#define PF_BYTES 2048 /* software prefetch of the codes of blocks of 32 this far ahead */

struct rfmt;

struct rp {
	const struct rfmt *f;
	int64_t n_out, n_in, nb, groups;
	size_t group_bytes; /* nb * (f->word_bytes + f->meta_bytes) */
};

#define RP_HEADER 64
_Static_assert(sizeof(struct rp) <= RP_HEADER, "header fits before the groups");

INLINE const uint8_t *rp_group(const struct rp *p, int64_t g)
{
	return (const uint8_t *)p + RP_HEADER + (size_t)g * p->group_bytes;
}

/* nvfp4: bytes after the codes of a block's group (its eight rows' two
 * scales, a byte each: nv_scale_byte). */
#define NV_META (2 * RG)

/* q4_K: bytes after the codes of a super-block's group. */
#define K4_META (2 * RG + 2 * RG + 8 * RG + 8 * RG)
#define K4_DMIN (2 * RG)
#define K4_SC (4 * RG)
#define K4_MN (12 * RG)

/* Scale j and min j (6 bits each) of a q4_K block's 12 scale bytes. */
static void k4_scale_min(const uint8_t *q, int j, uint8_t *sc, uint8_t *mn)
{
	if (j < 4) {
		*sc = q[j] & 63;
		*mn = q[j + 4] & 63;
	} else {
		*sc = (uint8_t)((q[j + 4] & 0x0f) | ((q[j - 4] >> 6) << 4));
		*mn = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
	}
}

/* Row r of a q4_K or q5_K group: its d, dmin, the eight 6-bit scales and
 * mins into the metadata, its 32 words of nibbles into the code words. */
static void k4_row(uint8_t *cw, uint8_t *meta, int r, const void *d, const void *dmin, const uint8_t *scales,
		   const uint8_t *qs)
{
	memcpy(meta + 2 * r, d, 2);
	memcpy(meta + K4_DMIN + 2 * r, dmin, 2);
	for (int j = 0; j < 8; j++) {
		uint8_t sc, mn;
		k4_scale_min(scales, j, &sc, &mn);
		meta[K4_SC + RG * j + r] = sc;
		meta[K4_MN + 2 * RG * (j / 2) + 2 * r + (j % 2)] = mn;
	}
	for (int wd = 0; wd < 32; wd++)
		memcpy(cw + (size_t)wd * 32 + (size_t)r * 4, qs + 4 * wd, 4);
}

/* One q4_K group: nr (1..RG) rows of nb super-blocks, rs bytes apart, into
 * dst (codes of every super-block, then their metadata); rows past nr zero. */
static void k4_group(uint8_t *dst, const uint8_t *w, size_t rs, int nr, int64_t nb)
{
	const size_t word_bytes = RG * QK_K / 2;
	uint8_t *meta0 = dst + (size_t)nb * word_bytes;
	memset(dst, 0, (size_t)nb * (word_bytes + K4_META));
	for (int64_t i = 0; i < nb; i++) {
		uint8_t *cw = dst + (size_t)i * word_bytes, *meta = meta0 + (size_t)i * K4_META;
		for (int r = 0; r < nr; r++) {
			const struct blk_q4_K *b = (const struct blk_q4_K *)(w + (size_t)r * rs) + i;
			k4_row(cw, meta, r, &b->d, &b->dmin, b->scales, b->qs);
		}
	}
}

/* q5_K: q4_K's 32 code words of a super-block, then 8 words of the fifth
 * bits (word t: row r's qh[4t .. 4t + 3]; bits 2h, 2h + 1 of its byte k
 * belong to the low and high nibbles of byte k of code word 8h + t), then
 * q4_K's metadata (K4_META). */
#define K5_CODES (RG * (QK_K / 2 + QK_K / 8))

static void k5_group(uint8_t *dst, const uint8_t *w, size_t rs, int nr, int64_t nb)
{
	uint8_t *meta0 = dst + (size_t)nb * K5_CODES;
	memset(dst, 0, (size_t)nb * (K5_CODES + K4_META));
	for (int64_t i = 0; i < nb; i++) {
		uint8_t *cw = dst + (size_t)i * K5_CODES, *hw = cw + RG * QK_K / 2, *meta = meta0 + (size_t)i * K4_META;
		for (int r = 0; r < nr; r++) {
			const struct blk_q5_K *b = (const struct blk_q5_K *)(w + (size_t)r * rs) + i;
			k4_row(cw, meta, r, &b->d, &b->dmin, b->scales, b->qs);
			for (int t = 0; t < 8; t++)
				memcpy(hw + (size_t)t * 32 + (size_t)r * 4, b->qh + 4 * t, 4);
		}
	}
}

/* q6_K: bytes after the codes of a super-block's group: the eight d (f16),
 * then the scales as bytes [pair p][row][2] (sub-blocks 2p, 2p + 1). */
#define K6_META (2 * RG + 16 * RG)
#define K6_CODES (RG * (QK_K / 2 + QK_K / 4)) /* 32 nibble words, then 16 words of high bits */
#define K6_PF 2 /* software prefetch of the codes this many super-blocks ahead */

/* The 6-bit codes (0..63) of a q6_K block, in element order. */
static void k6_codes(const struct blk_q6_K *b, uint8_t *q)
{
	for (int n = 0; n < 2; n++) {
		const uint8_t *ql = b->ql + 64 * n, *qh = b->qh + 32 * n;
		uint8_t *o = q + 128 * n;
		for (int l = 0; l < 32; l++) {
			o[l] = (uint8_t)((ql[l] & 0x0f) | (qh[l] & 3) << 4);
			o[l + 32] = (uint8_t)((ql[l + 32] & 0x0f) | ((qh[l] >> 2) & 3) << 4);
			o[l + 64] = (uint8_t)((ql[l] >> 4) | ((qh[l] >> 4) & 3) << 4);
			o[l + 96] = (uint8_t)((ql[l + 32] >> 4) | ((qh[l] >> 6) & 3) << 4);
		}
	}
}

/* One q6_K group, as k4_group. Per super-block and quarter h (elements
 * 64h .. 64h + 63, sub-blocks 4h .. 4h + 3) and u = 0..3: word A (32 *
 * (8h + 2u)) holds in row r's lane byte k the low 4 bits of element 64h +
 * 4u + k (low nibble; sub-block 4h) and of 64h + 32 + 4u + k (high; 4h + 2),
 * word B (next) those of 64h + 16 + 4u + k (4h + 1) and 64h + 48 + 4u + k
 * (4h + 3); high-bit word 4h + u (after the 32 nibble words) the top 2 bits
 * of the same four elements in that byte's bits 0-1, 2-3, 4-5, 6-7. */
static void k6_group(uint8_t *dst, const uint8_t *w, size_t rs, int nr, int64_t nb)
{
	uint8_t *meta0 = dst + (size_t)nb * K6_CODES;
	memset(dst, 0, (size_t)nb * (K6_CODES + K6_META));
	for (int64_t i = 0; i < nb; i++) {
		uint8_t *cw = dst + (size_t)i * K6_CODES, *hw = cw + RG * QK_K / 2, *meta = meta0 + (size_t)i * K6_META;
		for (int r = 0; r < nr; r++) {
			const struct blk_q6_K *b = (const struct blk_q6_K *)(w + (size_t)r * rs) + i;
			uint8_t q[QK_K];
			k6_codes(b, q);
			memcpy(meta + 2 * r, &b->d, 2);
			for (int j = 0; j < QK_K / 16; j++)
				meta[2 * RG + 2 * RG * (j / 2) + 2 * r + (j % 2)] = (uint8_t)b->scales[j];
			for (int h = 0; h < 4; h++)
				for (int u = 0; u < 4; u++)
					for (int k = 0; k < 4; k++) {
						const int e = 64 * h + 4 * u + k;
						const uint8_t al = q[e], ah = q[e + 32], bl = q[e + 16], bh = q[e + 48];
						const size_t at = (size_t)32 * (8 * h + 2 * u) + (size_t)(4 * r + k);
						cw[at] = (uint8_t)((al & 15) | (ah & 15) << 4);
						cw[at + 32] = (uint8_t)((bl & 15) | (bh & 15) << 4);
						hw[(size_t)32 * (4 * h + u) + (size_t)(4 * r + k)] =
							(uint8_t)(al >> 4 | (ah >> 4) << 2 | (bl >> 4) << 4 | (bh >> 4) << 6);
					}
		}
	}
}

/* q2_K: per super-block of a group 16 words of codes, one per sub-block k
 * of 16: row r's element 16k + 4v + t in bits 2v, 2v + 1 of byte t of lane
 * r (so one load, shifted by 0, 2, 4, 6, gives the four words a sub-block
 * has against four activation broadcasts); then K2_META bytes: the eight d,
 * the eight dmin (f16, where q4_K has them, so acc_kmin serves), then per
 * pair p of sub-blocks (2p, 2p + 1) 16 bytes whose low nibbles are the
 * 4-bit scales [sub-block][row] and whose high nibbles the 4-bit mins
 * [row][2]: q2_K's own 2.625 bits a weight. With the scales and the mins
 * in bytes of their own (3.125 bits a weight) the layout read 1.19x the
 * bytes, and from memory it ran below ggml's plain q2_K. */
#define K2_CODES (RG * QK_K / 4)
#define K2_SM (4 * RG)
#define K2_META (K2_SM + 16 * RG)
/* software prefetch of the codes this many super-blocks ahead: q2_K and
 * tq2_0 4 (2 KiB; against 2, ab_matmul --cold, 1 thread, 200 runs in each
 * order: tq2_0 1.04x and 1.02x, q2_K 1.02x and 1.02x; tq2_0 on 2 threads
 * 1.07x and 1.02x), iq1_s and iq1_m 2 (8 measured 0.94x for both) */
#define K2_PF 4
#define I1_PF 2

/* Row r's 2-bit codes of a q2_K or tq2_0 super-block (element e's in bits
 * 2j of qs[32 n + l], n = e / 128, j = e % 128 / 32, l = e % 32) into the
 * code words (element 16k + 4v + t: bits 2v of byte t of lane r of word k). */
INLINE void k2_put(uint8_t *cw, int r, int e, unsigned q)
{
	cw[32 * (e / 16) + 4 * r + e % 4] |= (uint8_t)(q << (2 * (e % 16 / 4)));
}

static void k2_planes(uint8_t *cw, int r, const uint8_t *qs)
{
	for (int e = 0; e < QK_K; e++) {
		const int n = e / 128, j = e % 128 / 32, l = e % 32;
		k2_put(cw, r, e, (qs[32 * n + l] >> (2 * j)) & 3);
	}
}

static void k2_group(uint8_t *dst, const uint8_t *w, size_t rs, int nr, int64_t nb)
{
	uint8_t *meta0 = dst + (size_t)nb * K2_CODES;
	memset(dst, 0, (size_t)nb * (K2_CODES + K2_META));
	for (int64_t i = 0; i < nb; i++) {
		uint8_t *cw = dst + (size_t)i * K2_CODES, *meta = meta0 + (size_t)i * K2_META;
		for (int r = 0; r < nr; r++) {
			const struct blk_q2_K *b = (const struct blk_q2_K *)(w + (size_t)r * rs) + i;
			memcpy(meta + 2 * r, &b->d, 2);
			memcpy(meta + K4_DMIN + 2 * r, &b->dmin, 2);
			for (int k = 0; k < QK_K / 16; k++) {
				meta[K2_SM + RG * k + r] |= (uint8_t)(b->scales[k] & 0xf);
				meta[K2_SM + 2 * RG * (k / 2) + 2 * r + (k % 2)] |= (uint8_t)(b->scales[k] & 0xf0);
			}
			k2_planes(cw, r, b->qs);
		}
	}
}

static void pack_q2_K(uint8_t *dst, const uint8_t *w, size_t rs, int nr, int64_t nb, size_t blk_bytes)
{
	(void)blk_bytes;
	k2_group(dst, w, rs, nr, nb);
}

/* tq2_0 (64 code bytes, then d; value (code - 1) d, q2_K's element order):
 * q2_K's code words, then the eight d (f16). 2.0625 bits a weight, as the
 * format. */
#define T2_META (2 * RG)

static void pack_tq2_0(uint8_t *dst, const uint8_t *w, size_t rs, int nr, int64_t nb, size_t blk_bytes)
{
	uint8_t *meta0 = dst + (size_t)nb * K2_CODES;
	memset(dst, 0, (size_t)nb * (K2_CODES + T2_META));
	for (int64_t i = 0; i < nb; i++)
		for (int r = 0; r < nr; r++) {
			const uint8_t *b = w + (size_t)r * rs + (size_t)i * blk_bytes;
			k2_planes(dst + (size_t)i * K2_CODES, r, b);
			memcpy(meta0 + (size_t)i * T2_META + 2 * r, b + offsetof(struct blk_tq2_0, d), 2);
		}
}

/* iq1_s (d, then per sub-block of 32 four grid indices and a half-word of
 * their high bits, the 3-bit scale l and the delta's sign; value
 * d (2 l + 1) (g + delta), g = -1, 0, 1 from ggml's iq1s_grid, delta =
 * +-1/8): the grid's 2-bit fields g + 1 (0..2) in q2_K's code words, so
 * that with s the delta's sign a sub-block's integer sum
 * (2 l + 1) sum (8 g + s) x = 8 (2 l + 1) sum (g + 1) x - (2 l + 1) (8 - s) sum x
 * needs no grid lookup: the first part through q2_K's words and a scale,
 * the second through q8_K's sums of 32 codes (q4_K's mins). Then S1_META
 * bytes: the eight d (f16), the scales 2 l + 1 as bytes [sub-block][row],
 * the mins (2 l + 1) (8 - s) (7..135) as bytes [pair p][row][2] (sub-blocks
 * 2p, 2p + 1). 2.5625 bits a weight (the format's own 1.5625; the nibble
 * layout of the other lattice i-quants, avx2_repack_iq.c, takes 4.5). */
#define S1_SC (2 * RG)
#define S1_MN (S1_SC + 8 * RG)
#define S1_META (S1_MN + 8 * RG)

static void pack_iq1_s(uint8_t *dst, const uint8_t *w, size_t rs, int nr, int64_t nb, size_t blk_bytes)
{
	(void)blk_bytes;
	uint8_t *meta0 = dst + (size_t)nb * K2_CODES;
	memset(dst, 0, (size_t)nb * (K2_CODES + S1_META));
	for (int64_t i = 0; i < nb; i++) {
		uint8_t *cw = dst + (size_t)i * K2_CODES, *meta = meta0 + (size_t)i * S1_META;
		for (int r = 0; r < nr; r++) {
			const struct blk_iq1_s *b = (const struct blk_iq1_s *)(w + (size_t)r * rs) + i;
			memcpy(meta + 2 * r, &b->d, 2);
			for (int j = 0; j < QK_K / 32; j++) {
				const unsigned h = (unsigned)b->qh[2 * j] | (unsigned)b->qh[2 * j + 1] << 8;
				const int sc = 2 * (int)((h >> 12) & 7) + 1;
				meta[S1_SC + RG * j + r] = (uint8_t)sc;
				meta[S1_MN + 2 * RG * (j / 2) + 2 * r + j % 2] = (uint8_t)(sc * (h & 0x8000 ? 9 : 7));
				for (int l = 0; l < 4; l++) {
					const unsigned code = qnt__iq1s_codes[b->qs[4 * j + l] | ((h >> (3 * l)) & 7) << 8];
					for (int u = 0; u < 8; u++)
						k2_put(cw, r, 32 * j + 8 * l + u, (code >> (2 * u)) & 3);
				}
			}
		}
	}
}

/* iq1_m (per 16 weights two grid indices with their delta signs and a
 * 3-bit scale l; value d (2 l + 1) (g + delta), g = -1, 0, 1 from ggml's
 * iq1s_grid, delta = +-1/8 per group of 8): iq1_s's code words, then
 * M1_META bytes: the eight d (f16, gathered from the scales' top nibbles),
 * and per sub-block k of 16 the signed factors c = (2 l + 1) s of its two
 * groups (s the delta's sign) as int8 [sub-block][row][2]. A sub-block's
 * integer sum
 * (2 l + 1) sum (8 g + s) x = 8 (2 l + 1) sum (g + 1) x - sum over its groups of (8 |c| - c) sum x
 * takes its scale as |c| (both halves of a lane, as VPMADDWD needs it) and
 * the groups' sums of eight activation codes (col_q8_K8). 3.0625 bits a
 * weight (the nibble layout of avx2_repack_iq.c: 4.75). */
#define M1_C (2 * RG)
#define M1_META (M1_C + 32 * RG)

static void pack_iq1_m(uint8_t *dst, const uint8_t *w, size_t rs, int nr, int64_t nb, size_t blk_bytes)
{
	(void)blk_bytes;
	uint8_t *meta0 = dst + (size_t)nb * K2_CODES;
	memset(dst, 0, (size_t)nb * (K2_CODES + M1_META));
	for (int64_t i = 0; i < nb; i++) {
		uint8_t *cw = dst + (size_t)i * K2_CODES, *meta = meta0 + (size_t)i * M1_META;
		for (int r = 0; r < nr; r++) {
			const struct blk_iq1_m *b = (const struct blk_iq1_m *)(w + (size_t)r * rs) + i;
			unsigned sc[4];
			for (int h = 0; h < 4; h++)
				sc[h] = (unsigned)b->scales[2 * h] | (unsigned)b->scales[2 * h + 1] << 8;
			const uint16_t d = (uint16_t)((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) | ((sc[2] >> 4) & 0x0f00) |
						      (sc[3] & 0xf000));
			memcpy(meta + 2 * r, &d, 2);
			for (int k = 0; k < QK_K / 16; k++) {
				const int l = 2 * (int)((sc[k / 4] >> (3 * (k % 4))) & 7) + 1;
				for (int h = 0; h < 2; h++) {
					const unsigned hb = b->qh[k] >> (4 * h);
					meta[M1_C + 2 * RG * k + 2 * r + h] = (uint8_t)(int8_t)(hb & 8 ? -l : l);
					const unsigned code = qnt__iq1s_codes[b->qs[2 * k + h] | (hb & 7) << 8];
					for (int u = 0; u < 8; u++)
						k2_put(cw, r, 16 * k + 8 * h + u, (code >> (2 * u)) & 3);
				}
			}
		}
	}
}

/* tq1_0 (base-3 digits, then d; value (t - 1) d for a digit t = 0..2): the
 * digits in tq2_0's layout (q2_K's code words, then the eight d), 2.0625
 * bits a weight, multiplied by tq2_0_body. Digit n of a byte q (the most
 * significant first) is floor(3 (q 3^n mod 256) / 256); elements 0..159
 * are digit n of qs[m] (e = 32 n + m), 160..239 digit n of qs[32 + m]
 * (e = 160 + 16 n + m), 240..255 digit n of qh[m] (e = 240 + 4 n + m). */
static void tq1_digits(uint8_t *cw, int r, const uint8_t *q, int nq, int ndigits, int e0)
{
	unsigned pow3 = 1;
	for (int n = 0; n < ndigits; n++, pow3 *= 3)
		for (int m = 0; m < nq; m++)
			k2_put(cw, r, e0 + nq * n + m, ((unsigned)(uint8_t)(q[m] * pow3) * 3) >> 8);
}

static void pack_tq1_0(uint8_t *dst, const uint8_t *w, size_t rs, int nr, int64_t nb, size_t blk_bytes)
{
	uint8_t *meta0 = dst + (size_t)nb * K2_CODES;
	memset(dst, 0, (size_t)nb * (K2_CODES + T2_META));
	for (int64_t i = 0; i < nb; i++)
		for (int r = 0; r < nr; r++) {
			const struct blk_tq1_0 *b = (const struct blk_tq1_0 *)(w + (size_t)r * rs + (size_t)i * blk_bytes);
			uint8_t *cw = dst + (size_t)i * K2_CODES;
			tq1_digits(cw, r, b->qs, 32, 5, 0);
			tq1_digits(cw, r, b->qs + 32, 16, 5, 160);
			tq1_digits(cw, r, b->qh, 4, 4, 240);
			memcpy(meta0 + (size_t)i * T2_META + 2 * r, &b->d, 2);
		}
}

/* iq4_xs: per super-block
 * of a group 32 words of codes (word 4j + t: row r's qs[16j + 4t .. +3];
 * low nibbles elements 32j + 4t .., high 32j + 16 + 4t ..), then 80 bytes:
 * the eight d (f16), the scales ls - 32 as int8 [sub-block][row]. */
#define X4_META (2 * RG + 8 * RG)

static void x4_group(uint8_t *dst, const uint8_t *w, size_t rs, int nr, int64_t nb)
{
	const size_t word_bytes = RG * QK_K / 2;
	uint8_t *meta0 = dst + (size_t)nb * word_bytes;
	memset(dst, 0, (size_t)nb * (word_bytes + X4_META));
	for (int64_t i = 0; i < nb; i++) {
		uint8_t *cw = dst + (size_t)i * word_bytes, *meta = meta0 + (size_t)i * X4_META;
		for (int r = 0; r < nr; r++) {
			const struct blk_iq4_xs *b = (const struct blk_iq4_xs *)(w + (size_t)r * rs) + i;
			memcpy(meta + 2 * r, &b->d, 2);
			for (int j = 0; j < 8; j++) {
				const int ls = ((b->scales_l[j / 2] >> (4 * (j % 2))) & 0xf) | (((b->scales_h >> (2 * j)) & 3) << 4);
				meta[2 * RG + RG * j + r] = (uint8_t)(int8_t)(ls - 32);
			}
			for (int wd = 0; wd < 32; wd++)
				memcpy(cw + (size_t)wd * 32 + (size_t)r * 4, b->qs + 4 * wd, 4);
		}
	}
}

/* One group of a 32-element format: nr (1..RG) rows of nb blocks of
 * blk_bytes, rs bytes apart, each a scale of sc_bytes (f16 d, or mxfp4's
 * e) then its codes; into dst: the codes of every block (word j of block i:
 * row r's code bytes 4j .. 4j + 3 in its 32-bit lane r), then the blocks'
 * scales (sc_bytes per row). Rows past nr zero. */
static void legacy_group(uint8_t *dst, const uint8_t *w, size_t rs, int nr, int64_t nb, size_t blk_bytes,
			 size_t sc_bytes)
{
	const size_t code_bytes = blk_bytes - sc_bytes, word_bytes = RG * code_bytes;
	uint8_t *scales = dst + (size_t)nb * word_bytes;
	memset(dst, 0, (size_t)nb * (word_bytes + RG * sc_bytes));
	for (int64_t i = 0; i < nb; i++) {
		uint8_t *cw = dst + (size_t)i * word_bytes, *sw = scales + (size_t)i * RG * sc_bytes;
		for (int r = 0; r < nr; r++) {
			const uint8_t *b = w + (size_t)r * rs + (size_t)i * blk_bytes;
			memcpy(sw + sc_bytes * (size_t)r, b, sc_bytes);
			for (size_t j = 0; j < code_bytes / 4; j++)
				memcpy(cw + j * 32 + (size_t)r * 4, b + sc_bytes + 4 * j, 4);
		}
	}
}

static void pack_f16(uint8_t *dst, const uint8_t *w, size_t rs, int nr, int64_t nb, size_t blk_bytes)
{
	legacy_group(dst, w, rs, nr, nb, blk_bytes, 2);
}

static void pack_e8m0(uint8_t *dst, const uint8_t *w, size_t rs, int nr, int64_t nb, size_t blk_bytes)
{
	legacy_group(dst, w, rs, nr, nb, blk_bytes, 1);
}

/* An nvfp4 UE4M3 scale halved (avx2_iq.c's UE4M3_HALF, quant_lowbit.c's
 * ue4m3_half) as f16 bits: (8 + m) 2^(e - 11), or m 2^-10 for e = 0, 0 for
 * 0x7f (bit 7 ignored); every such value is an f16 (2^-10 .. 240, at most 4
 * significant bits), so the conversion is exact. */
static uint16_t ue4m3_half_f16(uint8_t x)
{
	const int e = (x >> 3) & 0xf, m = x & 7;
	if (x == 0x7f || (e == 0 && m == 0))
		return 0;
	const float v = e == 0 ? (float)m * 0x1p-10f : (float)(8 + m) * (float)(1 << e) * 0x1p-11f;
	return (uint16_t)_mm_extract_epi16(_mm_cvtps_ph(_mm_set_ss(v), _MM_FROUND_TO_NEAREST_INT), 0);
}

/* The byte prepared nvfp4 keeps of a halved UE4M3 scale: bits 14..7 of its
 * f16 (ue4m3_half_f16; every nonzero one is a normal f16 with at most 4
 * significant bits, so the others are 0: the f16's exponent and its top 3
 * mantissa bits), 0 for 0. nvfp4_body makes the f32 of it with one add and
 * one shift: ((b + (112 << 3)) << 20), 112 the two formats' exponent
 * biases apart; b = 0 gives 2^-15, not 0, hence pack_nvfp4's zero codes. */
static uint8_t nv_scale_byte(uint8_t x)
{
	return (uint8_t)(ue4m3_half_f16(x) >> 7);
}

/* nvfp4 (64 elements: four UE4M3 scales, then 32 code bytes, sub-block s of
 * 16 in qs[8s .. 8s + 7], low nibbles its elements 0..7, high 8..15) taken
 * as blocks of 32 (nb counts them, blk_bytes 18: the row size is the same),
 * q8_0's blocks: block i is half i % 2 of nvfp4 block i / 2, sub-blocks
 * A = 2h and B = 2h + 1. Its four words have in byte t of lane r row r's
 * element 4j + t of A (low nibble) and of B (high nibble), mxfp4's
 * arrangement; then per block 16 bytes, row r's scale bytes of A and B
 * (nv_scale_byte) at 2r and 2r + 1: 4.5 bits a weight, as in the row. A
 * sub-block whose scale is 0 gets the codes of +0 (nibble 0), so that its
 * products are 0 whatever its scale byte stands for (the row's values are
 * 0 there too). Rows past nr zero. */
static void pack_nvfp4(uint8_t *dst, const uint8_t *w, size_t rs, int nr, int64_t nb, size_t blk_bytes)
{
	(void)blk_bytes;
	const size_t word_bytes = RG * QK / 2;
	uint8_t *meta0 = dst + (size_t)nb * word_bytes;
	memset(dst, 0, (size_t)nb * (word_bytes + NV_META));
	for (int64_t i = 0; i < nb; i++) {
		uint8_t *cw = dst + (size_t)i * word_bytes, *meta = meta0 + (size_t)i * NV_META;
		const int h = (int)(i % 2);
		for (int r = 0; r < nr; r++) {
			const uint8_t *b = w + (size_t)r * rs + (size_t)(i / 2) * 36, *qs = b + 4;
			const uint8_t sa = nv_scale_byte(b[2 * h]), sb = nv_scale_byte(b[2 * h + 1]);
			meta[2 * r] = sa;
			meta[2 * r + 1] = sb;
			for (int j = 0; j < 4; j++)
				for (int t = 0; t < 4; t++) {
					const int e = 4 * j + t; /* element of A and of B */
					const uint8_t *qa = qs + 16 * h, *qb = qa + 8;
					const int a = e < 8 ? qa[e] & 0xf : qa[e - 8] >> 4;
					const int bb = e < 8 ? qb[e] & 0xf : qb[e - 8] >> 4;
					cw[32 * j + 4 * r + t] = (uint8_t)((sa ? a : 0) | (sb ? bb : 0) << 4);
				}
		}
	}
}

static void pack_q4_K(uint8_t *dst, const uint8_t *w, size_t rs, int nr, int64_t nb, size_t blk_bytes)
{
	(void)blk_bytes;
	k4_group(dst, w, rs, nr, nb);
}

static void pack_iq4_xs(uint8_t *dst, const uint8_t *w, size_t rs, int nr, int64_t nb, size_t blk_bytes)
{
	(void)blk_bytes;
	x4_group(dst, w, rs, nr, nb);
}

static void pack_q5_K(uint8_t *dst, const uint8_t *w, size_t rs, int nr, int64_t nb, size_t blk_bytes)
{
	(void)blk_bytes;
	k5_group(dst, w, rs, nr, nb);
}

static void pack_q6_K(uint8_t *dst, const uint8_t *w, size_t rs, int nr, int64_t nb, size_t blk_bytes)
{
	(void)blk_bytes;
	k6_group(dst, w, rs, nr, nb);
}

/* One column of q8_0 activations: its blocks, and per block the scale d and
 * (q4_0) 8 * d * the sum of the codes, (mxfp4) 12 * the sum of the codes. */
struct pcol {
	const struct blk_q8_0 *b;
	const float *d, *s8;
	const float *s12;         /* mxfp4: exact integers (|12 sum| <= 48768) */
	const int32_t *oa, *ob;   /* nvfp4: its integer sums' start per block (col_nvfp4) */
	const struct blk_q8_K *k; /* q4_K: the q8_K blocks, d and s8 unused */
	const int16_t *bx;        /* q4_K: per super-block the 8 sums of 32 codes (iq1_m: 32 of 8) */
};

/* ggml's kvalues_iq4nl, and the doubled E2M1 values (kvalues_mxfp4) plus
 * 12, in both lanes for VPSHUFB. */
static const int8_t KV_IQ4NL[32] __attribute__((aligned(32))) = {
	-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
	-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
};
static const int8_t KV_FP4_12[32] __attribute__((aligned(32))) = {
	12, 13, 14, 15, 16, 18, 20, 24, 12, 11, 10, 9, 8, 6, 4, 0,
	12, 13, 14, 15, 16, 18, 20, 24, 12, 11, 10, 9, 8, 6, 4, 0,
};

INLINE __m256i bcast4(const int8_t *p)
{
	return _mm256_set1_epi32((int)load_u32(p));
}

/* The parts every group kernel below ends a block, or the matrix, with:
 * acc[c] += d8 * (s[c] * the column's d), s[c] a block's integer sums and
 * d8 its eight rows' scales (q8_0 columns: acc_d; q8_K columns: acc_k);
 * q4_K and q5_K also take their mins out (acc_kmin). */
INLINE void acc_zero(__m256 *acc, int nc)
{
	UNROLL for (int c = 0; c < nc; c++)
		acc[c] = _mm256_setzero_ps();
}

INLINE void acc_store(float *out, const __m256 *acc, int nc)
{
	UNROLL for (int c = 0; c < nc; c++)
		_mm256_storeu_ps(out + c * RG, acc[c]);
}

INLINE void acc_d(__m256 *acc, const struct pcol *x, int nc, int64_t i, __m256 d8, const __m256i *s)
{
	UNROLL for (int c = 0; c < nc; c++)
		acc[c] = _mm256_fmadd_ps(d8, _mm256_mul_ps(_mm256_cvtepi32_ps(s[c]), _mm256_set1_ps(x[c].d[i])), acc[c]);
}

INLINE void acc_k(__m256 *acc, const struct pcol *x, int nc, int64_t i, __m256 d8, const __m256i *s)
{
	UNROLL for (int c = 0; c < nc; c++)
		acc[c] = _mm256_fmadd_ps(d8, _mm256_mul_ps(_mm256_cvtepi32_ps(s[c]), _mm256_set1_ps(x[c].k[i].d)),
					 acc[c]);
}

/* q4_K and q5_K: msum[c] += the eight rows' mins of sub-blocks 2h, 2h + 1
 * against the column's sums of those sub-blocks' codes (bx) */
INLINE void k4_mins(__m256i *msum, const struct pcol *x, int nc, int64_t i, int h, const uint8_t *meta)
{
	const __m256i mn = _mm256_cvtepu8_epi16(load128(meta + K4_MN + 2 * RG * h));
	UNROLL for (int c = 0; c < nc; c++)
		msum[c] = dot2_i16(msum[c], mn, bcast4((const int8_t *)(x[c].bx + 8 * i + 2 * h)));
}

/* q4_K and q5_K: acc[c] += the column's d * (d8 * isum[c] - dmin8 * msum[c]) */
INLINE void acc_kmin(__m256 *acc, const struct pcol *x, int nc, int64_t i, const uint8_t *meta, const __m256i *isum,
		     const __m256i *msum)
{
	const __m256 d8 = _mm256_cvtph_ps(load128(meta)), dm8 = _mm256_cvtph_ps(load128(meta + K4_DMIN));
	UNROLL for (int c = 0; c < nc; c++) {
		__m256 a = _mm256_mul_ps(d8, _mm256_cvtepi32_ps(isum[c]));
		a = _mm256_fnmadd_ps(dm8, _mm256_cvtepi32_ps(msum[c]), a);
		acc[c] = _mm256_fmadd_ps(_mm256_set1_ps(x[c].k[i].d), a, acc[c]);
	}
}

/* A kernel's prefetch of its group's bytes after the codes, 256 bytes
 * ahead of block i's (the first four lines come from prefetch_group_start):
 * once per line where a block's are shorter than a line, otherwise each
 * line they reach (4096 x 4096 GEMV from memory, 1 thread, ab_matmul
 * --cold, 100 alternating runs in each order, the geometric mean of the
 * two ratios: iq1_s 1.25x, q2_K 1.11x, q6_K 1.08x, q4_0 1.06x, mxfp4 1.06x,
 * q4_K 1.04x, nvfp4 1.04x, q5_K 1.04x, iq4_nl 1.04x, iq4_xs 1.02x, iq1_m
 * 1.01x, tq2_0 1.00x, q8_0 0.99x; in cache q4_0 1.02x, q4_K 1.08x). */
INLINE void prefetch_meta(const void *meta0, int64_t i, size_t mb)
{
	const uintptr_t a = (uintptr_t)meta0 + (uintptr_t)i * mb + 256;
	if (mb < 64) {
		if ((uintptr_t)i * mb % 64 < mb)
			_mm_prefetch((const char *)a, _MM_HINT_T0);
		return;
	}
	for (uintptr_t o = 0; o < mb + 63; o += 64)
		_mm_prefetch((const char *)(a + o), _MM_HINT_T0);
}

/* The codes `ahead` blocks (cb bytes each) past block i's: once past the
 * group's nb blocks, in the next group's codes, which follow the group's
 * metadata (mb bytes a block), so that the prefetch of a group's last
 * blocks reaches the next group's first ones (4096 x 4096 GEMV from
 * memory, 1 thread, ab_matmul --cold, 200 alternating runs in each order,
 * against the address past the codes, the geometric mean of the two
 * orders: q4_K 1.09-1.12x, q6_K 1.10x, nvfp4 1.09x, q5_K 1.07x, iq4_xs
 * 1.07x, iq1_s 1.05x, q8_0 1.04x, tq2_0 1.03x, q4_0 1.01x, mxfp4 1.01x,
 * iq4_nl 1.00x, q2_K 1.00x; iq1_m 0.96-0.99x keeps the old address). */
INLINE const uint8_t *pf_codes(const uint8_t *codes, int64_t i, int64_t ahead, int64_t nb, size_t cb, size_t mb)
{
	const int64_t j = i + ahead;
	return codes + (size_t)j * cb + (j >= nb ? (size_t)nb * mb : 0);
}

/* One group (rows g*8 .. g*8+7) against nc columns: out[c * 8 + r]. */
INLINE void q4_0_body(const uint8_t *codes, const uint16_t *scales, const struct pcol *x, int nc, int64_t nb,
		      float *out)
{
	const __m256i m4 = _mm256_set1_epi8(0x0f);
#if !QNT_AVX512
	const __m256i ones = _mm256_set1_epi16(1);
#endif
	__m256 acc[PC];
	acc_zero(acc, nc);
	for (int64_t i = 0; i < nb; i++) {
		prefetch_meta(scales, i, 2 * RG);
		const uint8_t *q = codes + (size_t)i * (RG * QK / 2);
		const uint8_t *pf = pf_codes(codes, i, PF_BYTES / (RG * QK / 2), nb, RG * QK / 2, 2 * RG);
		_mm_prefetch((const char *)pf, _MM_HINT_T0);
		_mm_prefetch((const char *)pf + 64, _MM_HINT_T0);
#if QNT_AVX512
		/* VPDPBUSD: the low and the high nibbles' products in two 32-bit chains (half the latency of
		 * one); the same sums as cpu-avx2's 16-bit lanes, which hold 16 products of a code 0..15 with
		 * one of -128..127 (|sum| <= 30720, a pair <= 3840: no saturation) */
		__m256i slo[PC], shi[PC];
		UNROLL for (int c = 0; c < nc; c++)
			slo[c] = shi[c] = _mm256_setzero_si256();
		UNROLL for (int j = 0; j < 4; j++) {
			const __m256i v = load256(q + 32 * j);
			const __m256i lo = _mm256_and_si256(v, m4);
			const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
			UNROLL for (int c = 0; c < nc; c++) {
				const int8_t *xq = x[c].b[i].qs;
				slo[c] = _mm256_dpbusd_epi32(slo[c], lo, bcast4(xq + 4 * j));
				shi[c] = _mm256_dpbusd_epi32(shi[c], hi, bcast4(xq + 16 + 4 * j));
			}
		}
#else
		__m256i s16[PC];
		UNROLL for (int c = 0; c < nc; c++)
			s16[c] = _mm256_setzero_si256();
		UNROLL for (int j = 0; j < 4; j++) {
			const __m256i v = load256(q + 32 * j);
			const __m256i lo = _mm256_and_si256(v, m4);
			const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
			UNROLL for (int c = 0; c < nc; c++) {
				const int8_t *xq = x[c].b[i].qs;
				s16[c] = _mm256_add_epi16(s16[c], _mm256_maddubs_epi16(lo, bcast4(xq + 4 * j)));
				s16[c] = _mm256_add_epi16(s16[c], _mm256_maddubs_epi16(hi, bcast4(xq + 16 + 4 * j)));
			}
		}
#endif
		const __m256 d8 = _mm256_cvtph_ps(load128(scales + (size_t)i * RG));
		UNROLL for (int c = 0; c < nc; c++) {
#if QNT_AVX512
			const __m256i s = _mm256_add_epi32(slo[c], shi[c]);
#else
			const __m256i s = _mm256_madd_epi16(s16[c], ones);
#endif
			const __m256 t = _mm256_fmsub_ps(_mm256_cvtepi32_ps(s), _mm256_set1_ps(x[c].d[i]),
							 _mm256_set1_ps(x[c].s8[i]));
			acc[c] = _mm256_fmadd_ps(d8, t, acc[c]);
		}
	}
	acc_store(out, acc, nc);
}

INLINE void q8_0_body(const uint8_t *codes, const uint16_t *scales, const struct pcol *x, int nc, int64_t nb,
		      float *out)
{
	__m256 acc[PC];
	acc_zero(acc, nc);
	for (int64_t i = 0; i < nb; i++) {
		prefetch_meta(scales, i, 2 * RG);
		const uint8_t *q = codes + (size_t)i * (RG * QK);
		const uint8_t *pf = pf_codes(codes, i, PF_BYTES / (RG * QK), nb, RG * QK, 2 * RG);
		UNROLL for (int k = 0; k < 4; k++)
			_mm_prefetch((const char *)pf + 64 * k, _MM_HINT_T0);
		/* |w| <= 128 against x with w's sign (-128..127: sign() of -128 stays -128): a pair sums to at
		 * most 2 * 128 * 128 = 2^15 in magnitude, and only -2^15 (both x -128), so VPMADDUBSW never
		 * saturates and dot4_u8s8's VPDPBUSD (cpu-avx512) gives cpu-avx2's sums */
#if QNT_AVX512
		__m256i s32[PC], s32b[PC]; /* even and odd words: two chains of VPDPBUSD */
		UNROLL for (int c = 0; c < nc; c++)
			s32[c] = s32b[c] = _mm256_setzero_si256();
#else
		__m256i s32[PC];
		UNROLL for (int c = 0; c < nc; c++)
			s32[c] = _mm256_setzero_si256();
#endif
		UNROLL for (int j = 0; j < 8; j++) {
			const __m256i v = load256(q + 32 * j);
			const __m256i a = _mm256_sign_epi8(v, v);
			UNROLL for (int c = 0; c < nc; c++) {
				const __m256i xs = _mm256_sign_epi8(bcast4(x[c].b[i].qs + 4 * j), v);
#if QNT_AVX512
				if (j % 2) {
					s32b[c] = dot4_u8s8(s32b[c], a, xs);
					continue;
				}
#endif
				s32[c] = dot4_u8s8(s32[c], a, xs);
			}
		}
#if QNT_AVX512
		UNROLL for (int c = 0; c < nc; c++)
			s32[c] = _mm256_add_epi32(s32[c], s32b[c]);
#endif
		acc_d(acc, x, nc, i, _mm256_cvtph_ps(load128(scales + (size_t)i * RG)), s32);
	}
	acc_store(out, acc, nc);
}

INLINE void iq4_nl_body(const uint8_t *codes, const uint16_t *scales, const struct pcol *x, int nc, int64_t nb,
			float *out)
{
	const __m256i m4 = _mm256_set1_epi8(0x0f);
#if !QNT_AVX512
	const __m256i ones = _mm256_set1_epi16(1);
#endif
	const __m256i kv = _mm256_load_si256((const __m256i *)KV_IQ4NL);
	__m256 acc[PC];
	acc_zero(acc, nc);
	for (int64_t i = 0; i < nb; i++) {
		prefetch_meta(scales, i, 2 * RG);
		const uint8_t *q = codes + (size_t)i * (RG * QK / 2);
		const uint8_t *pf = pf_codes(codes, i, PF_BYTES / (RG * QK / 2), nb, RG * QK / 2, 2 * RG);
		_mm_prefetch((const char *)pf, _MM_HINT_T0);
		_mm_prefetch((const char *)pf + 64, _MM_HINT_T0);
		/* |w| <= 127 against x with w's sign (-128..127): a pair's magnitude stays below 2 * 127 * 128
		 * < 2^15, so VPDPBUSD (cpu-avx512, the low and the high nibbles in two chains) gives
		 * cpu-avx2's sums */
		__m256i s32[PC];
#if QNT_AVX512
		__m256i s32b[PC];
		UNROLL for (int c = 0; c < nc; c++)
			s32[c] = s32b[c] = _mm256_setzero_si256();
#else
		UNROLL for (int c = 0; c < nc; c++)
			s32[c] = _mm256_setzero_si256();
#endif
		UNROLL for (int j = 0; j < 4; j++) {
			const __m256i v = load256(q + 32 * j);
			const __m256i lo = _mm256_shuffle_epi8(kv, _mm256_and_si256(v, m4));
			const __m256i hi = _mm256_shuffle_epi8(kv, _mm256_and_si256(_mm256_srli_epi16(v, 4), m4));
			const __m256i alo = _mm256_sign_epi8(lo, lo), ahi = _mm256_sign_epi8(hi, hi);
			UNROLL for (int c = 0; c < nc; c++) {
				const int8_t *xq = x[c].b[i].qs;
#if QNT_AVX512
				s32[c] = _mm256_dpbusd_epi32(s32[c], alo, _mm256_sign_epi8(bcast4(xq + 4 * j), lo));
				s32b[c] = _mm256_dpbusd_epi32(s32b[c], ahi, _mm256_sign_epi8(bcast4(xq + 16 + 4 * j), hi));
#else
				const __m256i plo = _mm256_maddubs_epi16(alo, _mm256_sign_epi8(bcast4(xq + 4 * j), lo));
				const __m256i phi = _mm256_maddubs_epi16(ahi, _mm256_sign_epi8(bcast4(xq + 16 + 4 * j), hi));
				s32[c] = _mm256_add_epi32(s32[c], _mm256_madd_epi16(plo, ones));
				s32[c] = _mm256_add_epi32(s32[c], _mm256_madd_epi16(phi, ones));
#endif
			}
		}
#if QNT_AVX512
		UNROLL for (int c = 0; c < nc; c++)
			s32[c] = _mm256_add_epi32(s32[c], s32b[c]);
#endif
		acc_d(acc, x, nc, i, _mm256_cvtph_ps(load128(scales + (size_t)i * RG)), s32);
	}
	acc_store(out, acc, nc);
}

/* The eight rows' E8M0 bytes (e8m0_half_v). */
INLINE __m256 e8m0_half8(const uint8_t *e8)
{
	return e8m0_half_v(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)e8)));
}

INLINE void mxfp4_body(const uint8_t *codes, const uint16_t *scales, const struct pcol *x, int nc, int64_t nb,
		       float *out)
{
	const __m256i m4 = _mm256_set1_epi8(0x0f);
#if !QNT_AVX512
	const __m256i ones = _mm256_set1_epi16(1);
#endif
	const __m256i kv = _mm256_load_si256((const __m256i *)KV_FP4_12);
	const uint8_t *e0 = (const uint8_t *)scales;
	__m256 acc[PC];
	acc_zero(acc, nc);
	for (int64_t i = 0; i < nb; i++) {
		prefetch_meta(scales, i, RG);
		const uint8_t *q = codes + (size_t)i * (RG * QK / 2);
		const uint8_t *pf = pf_codes(codes, i, PF_BYTES / (RG * QK / 2), nb, RG * QK / 2, RG);
		_mm_prefetch((const char *)pf, _MM_HINT_T0);
		_mm_prefetch((const char *)pf + 64, _MM_HINT_T0);
		__m256i slo[PC], shi[PC];
		UNROLL for (int c = 0; c < nc; c++)
			slo[c] = shi[c] = _mm256_setzero_si256();
		UNROLL for (int j = 0; j < 4; j++) {
			const __m256i v = load256(q + 32 * j);
			const __m256i lo = _mm256_shuffle_epi8(kv, _mm256_and_si256(v, m4));
			const __m256i hi = _mm256_shuffle_epi8(kv, _mm256_and_si256(_mm256_srli_epi16(v, 4), m4));
			UNROLL for (int c = 0; c < nc; c++) {
				const int8_t *xq = x[c].b[i].qs;
#if QNT_AVX512
				/* 32-bit lanes: cpu-avx2's 16-bit sums (8 products of a value 0..24 with one of
				 * -128..127 a lane, |sum| <= 24576: no saturation) */
				slo[c] = _mm256_dpbusd_epi32(slo[c], lo, bcast4(xq + 4 * j));
				shi[c] = _mm256_dpbusd_epi32(shi[c], hi, bcast4(xq + 16 + 4 * j));
#else
				slo[c] = _mm256_add_epi16(slo[c], _mm256_maddubs_epi16(lo, bcast4(xq + 4 * j)));
				shi[c] = _mm256_add_epi16(shi[c], _mm256_maddubs_epi16(hi, bcast4(xq + 16 + 4 * j)));
#endif
			}
		}
		const __m256 e8 = e8m0_half8(e0 + (size_t)i * RG);
		UNROLL for (int c = 0; c < nc; c++) {
#if QNT_AVX512
			const __m256i s = _mm256_add_epi32(slo[c], shi[c]);
#else
			const __m256i s = _mm256_add_epi32(_mm256_madd_epi16(slo[c], ones), _mm256_madd_epi16(shi[c], ones));
#endif
			/* both integers below 2^24: the difference is exact */
			const __m256 t = _mm256_sub_ps(_mm256_cvtepi32_ps(s), _mm256_set1_ps(x[c].s12[i]));
			acc[c] = _mm256_fmadd_ps(e8, _mm256_mul_ps(t, _mm256_set1_ps(x[c].d[i])), acc[c]);
		}
	}
	acc_store(out, acc, nc);
}

/* nvfp4 (pack_nvfp4): mxfp4's integer sums, the low nibbles' (sub-block A)
 * and the high nibbles' (B) kept apart, each started at minus 12 times the
 * activations it meets (col_nvfp4: the offset 12 of the looked-up values
 * taken out before the first product, no float subtraction after the
 * last), then scaled by its eight rows' halved scales and by the column's
 * d. The integer loop is mxfp4_body's written out again: one helper for
 * both made mxfp4 with 4 columns 4-8% slower (interleaved process CPU
 * time, three runs). */
INLINE void nvfp4_body(const uint8_t *codes, const uint16_t *scales, const struct pcol *x, int nc, int64_t nb,
		       float *out)
{
	const __m256i m4 = _mm256_set1_epi8(0x0f);
#if !QNT_AVX512
	const __m256i ones = _mm256_set1_epi16(1);
#endif
	const __m256i kv = _mm256_load_si256((const __m256i *)KV_FP4_12);
	const uint8_t *meta0 = (const uint8_t *)scales;
	__m256 acc[PC];
	acc_zero(acc, nc);
	for (int64_t i = 0; i < nb; i++) {
		prefetch_meta(scales, i, NV_META);
		const uint8_t *q = codes + (size_t)i * (RG * QK / 2), *meta = meta0 + (size_t)i * NV_META;
		/* PF_BYTES: from memory 1.03x against eight blocks (ab.py COLD=1, three runs of 10-14 rounds)
		 * before the others went there too */
		const uint8_t *pf = pf_codes(codes, i, PF_BYTES / (RG * QK / 2), nb, RG * QK / 2, NV_META);
		_mm_prefetch((const char *)pf, _MM_HINT_T0);
		_mm_prefetch((const char *)pf + 64, _MM_HINT_T0);
		__m256i slo[PC], shi[PC];
		UNROLL for (int c = 0; c < nc; c++) {
			slo[c] = _mm256_set1_epi32(x[c].oa[i]);
			shi[c] = _mm256_set1_epi32(x[c].ob[i]);
		}
		UNROLL for (int j = 0; j < 4; j++) {
			const __m256i v = load256(q + 32 * j);
			const __m256i lo = _mm256_shuffle_epi8(kv, _mm256_and_si256(v, m4));
			const __m256i hi = _mm256_shuffle_epi8(kv, _mm256_and_si256(_mm256_srli_epi16(v, 4), m4));
			UNROLL for (int c = 0; c < nc; c++) {
				const int8_t *xq = x[c].b[i].qs;
#if QNT_AVX512
				/* 32-bit lanes: cpu-avx2's sums (col_nvfp4's start, then the products as in
				 * mxfp4_body: no saturation) */
				slo[c] = _mm256_dpbusd_epi32(slo[c], lo, bcast4(xq + 4 * j));
				shi[c] = _mm256_dpbusd_epi32(shi[c], hi, bcast4(xq + 16 + 4 * j));
#else
				/* a 16-bit lane starts at -12 times the sum of the 8 activations it meets and,
				 * after k words, holds the products w x (|w| <= 12) of 2k of them less 12 times
				 * the other 8 - 2k: |sum| <= 8 * 12 * 128 = 12288, no wrap */
				slo[c] = _mm256_add_epi16(slo[c], _mm256_maddubs_epi16(lo, bcast4(xq + 4 * j)));
				shi[c] = _mm256_add_epi16(shi[c], _mm256_maddubs_epi16(hi, bcast4(xq + 16 + 4 * j)));
#endif
			}
		}
		/* the scales' f32 from their bytes (nv_scale_byte): row r's A and B in the two halves of
		 * 32-bit lane r, each plus 112 << 3 (below 2^11), then put at bits 20..30 */
		const __m256i sv = _mm256_add_epi16(_mm256_cvtepu8_epi16(load128(meta)), _mm256_set1_epi16(112 << 3));
		const __m256 sa = _mm256_castsi256_ps(_mm256_slli_epi32(sv, 20));
		const __m256 sb = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_srli_epi32(sv, 16), 20));
		UNROLL for (int c = 0; c < nc; c++) {
#if QNT_AVX512
			const __m256i ia = slo[c], ib = shi[c];
#else
			const __m256i ia = _mm256_madd_epi16(slo[c], ones), ib = _mm256_madd_epi16(shi[c], ones);
#endif
			const __m256 ta = _mm256_cvtepi32_ps(ia), tb = _mm256_cvtepi32_ps(ib);
			acc[c] = _mm256_fmadd_ps(_mm256_fmadd_ps(sb, tb, _mm256_mul_ps(sa, ta)), _mm256_set1_ps(x[c].d[i]),
						 acc[c]);
		}
	}
	acc_store(out, acc, nc);
}

INLINE void q4_K_body(const uint8_t *codes, const uint16_t *scales, const struct pcol *x, int nc, int64_t nb,
		      float *out)
{
	const __m256i m4 = _mm256_set1_epi8(0x0f);
	const uint8_t *meta0 = (const uint8_t *)scales;
	__m256 acc[PC];
	acc_zero(acc, nc);
	for (int64_t i = 0; i < nb; i++) {
		prefetch_meta(scales, i, K4_META);
		const uint8_t *q = codes + (size_t)i * (RG * QK_K / 2), *meta = meta0 + (size_t)i * K4_META;
		const uint8_t *pf = pf_codes(codes, i, 2, nb, RG * QK_K / 2, K4_META);
		__m256i isum[PC], msum[PC];
		UNROLL for (int c = 0; c < nc; c++)
			isum[c] = msum[c] = _mm256_setzero_si256();
		for (int h = 0; h < 4; h++) {
			/* a quarter of the codes two super-blocks ahead */
			UNROLL for (int k = 0; k < 4; k++)
				_mm_prefetch((const char *)pf + 256 * h + 64 * k, _MM_HINT_T0);
			__m256i slo[PC], shi[PC];
			UNROLL for (int c = 0; c < nc; c++)
				slo[c] = shi[c] = _mm256_setzero_si256();
			UNROLL for (int t = 0; t < 8; t++) {
				const __m256i v = load256(q + 32 * (8 * h + t));
				const __m256i lo = _mm256_and_si256(v, m4);
				const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
				UNROLL for (int c = 0; c < nc; c++) {
					const int8_t *xq = x[c].k[i].qs + 64 * h + 4 * t;
#if QNT_AVX512
					slo[c] = _mm256_dpbusd_epi32(slo[c], lo, bcast4(xq));
					shi[c] = _mm256_dpbusd_epi32(shi[c], hi, bcast4(xq + 32));
#else
					slo[c] = _mm256_add_epi16(slo[c], _mm256_maddubs_epi16(lo, bcast4(xq)));
					shi[c] = _mm256_add_epi16(shi[c], _mm256_maddubs_epi16(hi, bcast4(xq + 32)));
#endif
				}
			}
#if QNT_AVX512
			/* VPDPBUSD summed each sub-block's 32 products a row in a 32-bit lane (16 VPDPBUSD for 16
			 * VPMADDUBSW and 16 VPADDW); the scales meet them in floats, exactly: |s| <= 32 * 15 * 128
			 * = 61440, two sub-blocks <= 2 * 61440 * 63 < 2^24 (add_scaled2_i32) */
			const __m256 flo = u8x8_ps(meta + K4_SC + RG * 2 * h), fhi = u8x8_ps(meta + K4_SC + RG * (2 * h + 1));
#else
			/* the eight rows' scales of sub-blocks 2h and 2h + 1, each in both halves of its lane */
			const __m128i sc = _mm_loadu_si128((const __m128i *)(meta + K4_SC + RG * 2 * h));
			const __m256i sclo = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(sc, sc));
			const __m256i schi = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(sc, sc));
#endif
			UNROLL for (int c = 0; c < nc; c++) {
#if QNT_AVX512
				isum[c] = add_scaled2_i32(isum[c], slo[c], flo, shi[c], fhi);
#else
				isum[c] = _mm256_add_epi32(isum[c], _mm256_madd_epi16(slo[c], sclo));
				isum[c] = _mm256_add_epi32(isum[c], _mm256_madd_epi16(shi[c], schi));
#endif
			}
			k4_mins(msum, x, nc, i, h, meta);
		}
		acc_kmin(acc, x, nc, i, meta, isum, msum);
	}
	acc_store(out, acc, nc);
}

/* q6_K (against q8_K): a sub-block's two words (4 elements a row each) sum
 * in 16 bits (4 products of a code 0..63 with one of -128..127 a lane:
 * |sum| <= 32256), then meet its eight scales (each in both halves of a
 * lane) in one VPMADDWD; the offset 32 is taken out with q8_K's sums of 16
 * codes against 32 times the scales in pairs. Integers to the end of the
 * super-block (|sum| <= 256 * 63 * 128 * 128 + 16 * 4096 * 2048 < 2^31). */
INLINE void q6_K_body(const uint8_t *codes, const uint16_t *scales, const struct pcol *x, int nc, int64_t nb,
		      float *out)
{
	const __m256i m4 = _mm256_set1_epi8(0x0f), m30 = _mm256_set1_epi8(0x30);
	const __m256i dup_even = _mm256_setr_epi8(0, 1, 0, 1, 4, 5, 4, 5, 8, 9, 8, 9, 12, 13, 12, 13, 0, 1, 0, 1, 4, 5,
						  4, 5, 8, 9, 8, 9, 12, 13, 12, 13);
	const __m256i dup_odd = _mm256_add_epi8(dup_even, _mm256_set1_epi8(2));
	const uint8_t *meta0 = (const uint8_t *)scales;
	__m256 acc[PC];
	acc_zero(acc, nc);
	for (int64_t i = 0; i < nb; i++) {
		prefetch_meta(scales, i, K6_META);
		const uint8_t *q = codes + (size_t)i * K6_CODES, *hq = q + RG * QK_K / 2;
		const uint8_t *pf = pf_codes(codes, i, K6_PF, nb, K6_CODES, K6_META);
		const uint8_t *meta = meta0 + (size_t)i * K6_META;
		__m256i isum[PC];
		UNROLL for (int c = 0; c < nc; c++)
			isum[c] = _mm256_setzero_si256();
		for (int h = 0; h < 4; h++) {
			/* a quarter of the codes of the super-block K6_PF ahead */
			UNROLL for (int k = 0; k < K6_CODES / 4 / 64; k++)
				_mm_prefetch((const char *)pf + (K6_CODES / 4) * h + 64 * k, _MM_HINT_T0);
			/* scales of sub-blocks 4h, 4h + 1 (p) and 4h + 2, 4h + 3 (p2), [row][2] as int16 */
			const __m256i p = _mm256_cvtepi8_epi16(load128(meta + 2 * RG + 2 * RG * (2 * h)));
			const __m256i p2 = _mm256_cvtepi8_epi16(load128(meta + 2 * RG + 2 * RG * (2 * h + 1)));
			const __m256i sc[4] = { _mm256_shuffle_epi8(p, dup_even), _mm256_shuffle_epi8(p, dup_odd),
						_mm256_shuffle_epi8(p2, dup_even), _mm256_shuffle_epi8(p2, dup_odd) };
			/* the offset: 32 times the scales (|32 sc| <= 4096) against the sums of 16 codes */
#if QNT_AVX512
			/* negated once for all the columns, each then one VPDPWSSD (dot2_i16) */
			const __m256i p32 = _mm256_sub_epi16(_mm256_setzero_si256(), _mm256_slli_epi16(p, 5));
			const __m256i p232 = _mm256_sub_epi16(_mm256_setzero_si256(), _mm256_slli_epi16(p2, 5));
			UNROLL for (int c = 0; c < nc; c++) {
				const int16_t *bs = x[c].k[i].bsums + 4 * h;
				isum[c] = dot2_i16(isum[c], p32, bcast4((const int8_t *)bs));
				isum[c] = dot2_i16(isum[c], p232, bcast4((const int8_t *)(bs + 2)));
			}
#else
			const __m256i p32 = _mm256_slli_epi16(p, 5), p232 = _mm256_slli_epi16(p2, 5);
			UNROLL for (int c = 0; c < nc; c++) {
				const int16_t *bs = x[c].k[i].bsums + 4 * h;
				isum[c] = _mm256_sub_epi32(isum[c], _mm256_madd_epi16(p32, bcast4((const int8_t *)bs)));
				isum[c] = _mm256_sub_epi32(isum[c], _mm256_madd_epi16(p232, bcast4((const int8_t *)(bs + 2))));
			}
#endif
			UNROLL for (int u0 = 0; u0 < 4; u0 += 2) {
				__m256i s16[PC][4];
				UNROLL for (int c = 0; c < nc; c++)
					s16[c][0] = s16[c][1] = s16[c][2] = s16[c][3] = _mm256_setzero_si256();
				UNROLL for (int u = u0; u < u0 + 2; u++) {
					const __m256i va = load256(q + 32 * (8 * h + 2 * u)), vb = load256(q + 32 * (8 * h + 2 * u + 1));
					const __m256i hb = load256(hq + 32 * (4 * h + u));
					/* sub-blocks 4h, 4h + 2 (a), 4h + 1, 4h + 3 (b) */
					const __m256i w0 = _mm256_or_si256(_mm256_and_si256(va, m4),
									   _mm256_and_si256(_mm256_slli_epi16(hb, 4), m30));
					const __m256i w2 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(va, 4), m4),
									   _mm256_and_si256(_mm256_slli_epi16(hb, 2), m30));
					const __m256i w1 = _mm256_or_si256(_mm256_and_si256(vb, m4), _mm256_and_si256(hb, m30));
					const __m256i w3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(vb, 4), m4),
									   _mm256_and_si256(_mm256_srli_epi16(hb, 2), m30));
					UNROLL for (int c = 0; c < nc; c++) {
						const int8_t *xq = x[c].k[i].qs + 64 * h + 4 * u;
						s16[c][0] = _mm256_add_epi16(s16[c][0], _mm256_maddubs_epi16(w0, bcast4(xq)));
						s16[c][1] = _mm256_add_epi16(s16[c][1], _mm256_maddubs_epi16(w1, bcast4(xq + 16)));
						s16[c][2] = _mm256_add_epi16(s16[c][2], _mm256_maddubs_epi16(w2, bcast4(xq + 32)));
						s16[c][3] = _mm256_add_epi16(s16[c][3], _mm256_maddubs_epi16(w3, bcast4(xq + 48)));
					}
				}
				UNROLL for (int c = 0; c < nc; c++)
					UNROLL for (int j = 0; j < 4; j++)
						isum[c] = dot2_i16(isum[c], s16[c][j], sc[j]);
			}
		}
		acc_k(acc, x, nc, i, _mm256_cvtph_ps(load128(meta)), isum);
	}
	acc_store(out, acc, nc);
}

/* q2_K (against q8_K): a sub-block's four words (codes 0..3 against
 * -128..127: a pair of products at most 768 in magnitude) sum in 16 bits
 * (|sum| <= 4 * 768), then meet its eight scales (0..15, each in both
 * halves of a lane) in one VPMADDWD; the mins meet q8_K's sums of 16 codes,
 * two sub-blocks per VPMADDWD. Integers to the end of the super-block
 * (|isum| <= 16 * 15 * 16 * 3 * 128, |msum| <= 16 * 15 * 2048), then
 * d * isum - dmin * msum. cpu-avx512 runs the same code (VPDPWSSD for the
 * VPMADDWD and VPADDD pairs). */
INLINE void q2_K_body(const uint8_t *codes, const uint16_t *scales, const struct pcol *x, int nc, int64_t nb,
		      float *out)
{
	const __m256i m3 = _mm256_set1_epi8(3);
	const uint8_t *meta0 = (const uint8_t *)scales;
	__m256 acc[PC];
	acc_zero(acc, nc);
	for (int64_t i = 0; i < nb; i++) {
		prefetch_meta(scales, i, K2_META);
		const uint8_t *q = codes + (size_t)i * K2_CODES, *meta = meta0 + (size_t)i * K2_META;
		const uint8_t *pf = pf_codes(codes, i, K2_PF, nb, K2_CODES, K2_META);
		__m256i isum[PC], msum[PC];
		UNROLL for (int c = 0; c < nc; c++)
			isum[c] = msum[c] = _mm256_setzero_si256();
		for (int p = 0; p < 8; p++) {
			_mm_prefetch((const char *)pf + 64 * p, _MM_HINT_T0);
			const __m128i sm = load128(meta + K2_SM + RG * 2 * p);
			const __m128i sc = _mm_and_si128(sm, _mm_set1_epi8(0x0f));
			const __m256i scd[2] = { _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(sc, sc)),
						 _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(sc, sc)) };
			UNROLL for (int s = 0; s < 2; s++) {
				const int k = 2 * p + s;
				const __m256i v = load256(q + 32 * k);
				const __m256i w0 = _mm256_and_si256(v, m3), w1 = _mm256_and_si256(_mm256_srli_epi16(v, 2), m3);
				const __m256i w2 = _mm256_and_si256(_mm256_srli_epi16(v, 4), m3);
				const __m256i w3 = _mm256_and_si256(_mm256_srli_epi16(v, 6), m3);
				UNROLL for (int c = 0; c < nc; c++) {
					const int8_t *xq = x[c].k[i].qs + 16 * k;
					__m256i s16 = _mm256_maddubs_epi16(w0, bcast4(xq));
					s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(w1, bcast4(xq + 4)));
					s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(w2, bcast4(xq + 8)));
					s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(w3, bcast4(xq + 12)));
					isum[c] = dot2_i16(isum[c], s16, scd[s]);
				}
			}
			const __m256i mn = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sm, 4), _mm_set1_epi8(0x0f)));
			UNROLL for (int c = 0; c < nc; c++)
				msum[c] = dot2_i16(msum[c], mn, bcast4((const int8_t *)(x[c].k[i].bsums + 2 * p)));
		}
		acc_kmin(acc, x, nc, i, meta, isum, msum);
	}
	acc_store(out, acc, nc);
}

/* tq2_0 (against q8_K): q2_K's words without scales: the codes (0..3; a
 * pair of products at most 768) sum in 16 bits over eight sub-blocks
 * (|sum| <= 32 * 768 = 24576), then in 32; less the column's sum of all
 * its codes (the offset 1), the eight d, the column's d. The codes are
 * prefetched K2_PF super-blocks ahead (weights from memory, interleaved
 * process CPU time: 13% slower without). */
INLINE void tq2_0_body(const uint8_t *codes, const uint16_t *scales, const struct pcol *x, int nc, int64_t nb,
		       float *out)
{
	const __m256i m3 = _mm256_set1_epi8(3), ones = _mm256_set1_epi16(1);
	const uint8_t *meta0 = (const uint8_t *)scales;
	__m256 acc[PC];
	acc_zero(acc, nc);
	for (int64_t i = 0; i < nb; i++) {
		prefetch_meta(scales, i, T2_META);
		const uint8_t *q = codes + (size_t)i * K2_CODES;
		const uint8_t *pf = pf_codes(codes, i, K2_PF, nb, K2_CODES, T2_META);
		__m256i isum[PC];
		UNROLL for (int c = 0; c < nc; c++) {
			/* the offset: minus the sum of the 256 codes (q8_K's 16 bsums) */
			const __m128i bs = _mm_add_epi16(load128(x[c].k[i].bsums), load128(x[c].k[i].bsums + 8));
			__m128i t = _mm_madd_epi16(bs, _mm_set1_epi16(-1));
			t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4e));
			t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xb1));
			isum[c] = _mm256_broadcastd_epi32(t);
		}
		for (int h = 0; h < 2; h++) {
			UNROLL for (int k = 0; k < 4; k++)
				_mm_prefetch((const char *)pf + 256 * h + 64 * k, _MM_HINT_T0);
			__m256i s16[PC];
			UNROLL for (int c = 0; c < nc; c++)
				s16[c] = _mm256_setzero_si256();
			UNROLL for (int k = 8 * h; k < 8 * h + 8; k++) {
				const __m256i v = load256(q + 32 * k);
				const __m256i w0 = _mm256_and_si256(v, m3), w1 = _mm256_and_si256(_mm256_srli_epi16(v, 2), m3);
				const __m256i w2 = _mm256_and_si256(_mm256_srli_epi16(v, 4), m3);
				const __m256i w3 = _mm256_and_si256(_mm256_srli_epi16(v, 6), m3);
				UNROLL for (int c = 0; c < nc; c++) {
					const int8_t *xq = x[c].k[i].qs + 16 * k;
					s16[c] = _mm256_add_epi16(s16[c], _mm256_maddubs_epi16(w0, bcast4(xq)));
					s16[c] = _mm256_add_epi16(s16[c], _mm256_maddubs_epi16(w1, bcast4(xq + 4)));
					s16[c] = _mm256_add_epi16(s16[c], _mm256_maddubs_epi16(w2, bcast4(xq + 8)));
					s16[c] = _mm256_add_epi16(s16[c], _mm256_maddubs_epi16(w3, bcast4(xq + 12)));
				}
			}
			UNROLL for (int c = 0; c < nc; c++)
				isum[c] = dot2_i16(isum[c], s16[c], ones);
		}
		acc_k(acc, x, nc, i, _mm256_cvtph_ps(load128(meta0 + (size_t)i * T2_META)), isum);
	}
	acc_store(out, acc, nc);
}

/* The four 2-bit fields of a code word (element 4v + t's code in byte t of
 * field v), and their VPMADDUBSW pair sums against 16 activation codes
 * (iq1_s, iq1_m: codes 0..2, a pair at most 512 in magnitude, the sum of
 * the four at most 2048). */
INLINE void k2_fields(__m256i v, __m256i w[4])
{
	const __m256i m3 = _mm256_set1_epi8(3);
	w[0] = _mm256_and_si256(v, m3);
	w[1] = _mm256_and_si256(_mm256_srli_epi16(v, 2), m3);
	w[2] = _mm256_and_si256(_mm256_srli_epi16(v, 4), m3);
	w[3] = _mm256_and_si256(_mm256_srli_epi16(v, 6), m3);
}

INLINE __m256i k2_dot16(const __m256i w[4], const int8_t *xq)
{
	const __m256i a = _mm256_add_epi16(_mm256_maddubs_epi16(w[0], bcast4(xq)), _mm256_maddubs_epi16(w[1], bcast4(xq + 4)));
	const __m256i b = _mm256_add_epi16(_mm256_maddubs_epi16(w[2], bcast4(xq + 8)),
					   _mm256_maddubs_epi16(w[3], bcast4(xq + 12)));
	return _mm256_add_epi16(a, b);
}

/* iq1_s and iq1_m: acc[c] += the column's d * d / 8 * (8 isum[c] - msum[c]),
 * the integer exact (below 2^24 in magnitude), d the eight rows' (f16) at
 * meta. */
INLINE void acc_iq1(__m256 *acc, const struct pcol *x, int nc, int64_t i, const uint8_t *meta, const __m256i *isum,
		    const __m256i *msum)
{
	const __m256 d8 = _mm256_cvtph_ps(load128(meta));
	UNROLL for (int c = 0; c < nc; c++) {
		const __m256i s = _mm256_sub_epi32(_mm256_slli_epi32(isum[c], 3), msum[c]);
		acc[c] = _mm256_fmadd_ps(d8, _mm256_mul_ps(_mm256_cvtepi32_ps(s), _mm256_set1_ps(0.125f * x[c].k[i].d)),
					 acc[c]);
	}
}

/* iq1_s (against q8_K): a sub-block's eight words (codes g + 1, 0..2,
 * against -128..127: a pair of products at most 512 in magnitude) sum in 16
 * bits (|sum| <= 8 * 512), then meet its eight scales (1..15, each in both
 * halves of a lane) in one VPMADDWD; the mins meet q8_K's sums of 32 codes,
 * two sub-blocks per VPMADDWD (q4_K's k4_mins). Integers to the end of the
 * super-block (|isum| <= 8 * 15 * 2 * 4096, |msum| <= 8 * 135 * 4096), then
 * the plain kernel's integer sum 8 isum - msum (exact, below 2^24 in
 * magnitude) times d / 8 and the column's d. The codes are prefetched
 * I1_PF super-blocks ahead. */
INLINE void iq1_s_body(const uint8_t *codes, const uint16_t *scales, const struct pcol *x, int nc, int64_t nb,
		       float *out)
{
	const uint8_t *meta0 = (const uint8_t *)scales;
	__m256 acc[PC];
	acc_zero(acc, nc);
	for (int64_t i = 0; i < nb; i++) {
		prefetch_meta(scales, i, S1_META);
		const uint8_t *q = codes + (size_t)i * K2_CODES, *meta = meta0 + (size_t)i * S1_META;
		const uint8_t *pf = pf_codes(codes, i, I1_PF, nb, K2_CODES, S1_META);
		__m256i isum[PC], msum[PC];
		UNROLL for (int c = 0; c < nc; c++)
			isum[c] = msum[c] = _mm256_setzero_si256();
		for (int j = 0; j < QK_K / 32; j++) { /* sub-block j: words 2j, 2j + 1 */
			_mm_prefetch((const char *)pf + 64 * j, _MM_HINT_T0);
			const __m128i sc = _mm_loadl_epi64((const __m128i *)(meta + S1_SC + RG * j));
			const __m256i scd = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(sc, sc));
			__m256i s16[PC];
			UNROLL for (int c = 0; c < nc; c++)
				s16[c] = _mm256_setzero_si256();
			UNROLL for (int h = 0; h < 2; h++) {
				const int k = 2 * j + h;
				__m256i w[4];
				k2_fields(load256(q + 32 * k), w);
				UNROLL for (int c = 0; c < nc; c++)
					s16[c] = _mm256_add_epi16(s16[c], k2_dot16(w, x[c].k[i].qs + 16 * k));
			}
			UNROLL for (int c = 0; c < nc; c++)
				isum[c] = dot2_i16(isum[c], s16[c], scd);
		}
		for (int p = 0; p < 4; p++) {
			const __m256i mn = _mm256_cvtepu8_epi16(load128(meta + S1_MN + 2 * RG * p));
			UNROLL for (int c = 0; c < nc; c++)
				msum[c] = dot2_i16(msum[c], mn, bcast4((const int8_t *)(x[c].bx + 8 * i + 2 * p)));
		}
		acc_iq1(acc, x, nc, i, meta, isum, msum);
	}
	acc_store(out, acc, nc);
}

/* iq1_m (against q8_K): iq1_s's sums, a sub-block of 16 a word: its four
 * VPMADDUBSW (|sum| <= 4 * 512) meet |c| (1..15) in one VPMADDWD; the
 * groups' factors 8 |c| - c (7..135) meet the column's sums of eight codes
 * (|X8| <= 1024), a sub-block's two groups per VPMADDWD. Integers to the
 * end of the super-block (|isum| <= 16 * 15 * 2048, |msum| <= 32 * 135 *
 * 1024), then 8 isum - msum (exact, below 2^24) times d / 8 and the
 * column's d. */
INLINE void iq1_m_body(const uint8_t *codes, const uint16_t *scales, const struct pcol *x, int nc, int64_t nb,
		       float *out)
{
	const uint8_t *meta0 = (const uint8_t *)scales;
	__m256 acc[PC];
	acc_zero(acc, nc);
	for (int64_t i = 0; i < nb; i++) {
		prefetch_meta(scales, i, M1_META);
		const uint8_t *q = codes + (size_t)i * K2_CODES, *meta = meta0 + (size_t)i * M1_META;
		/* past the codes, into the group's metadata, not pf_codes (which
		 * measured 0.96-0.99x here) */
		const uint8_t *pf = q + I1_PF * K2_CODES;
		__m256i isum[PC], msum[PC];
		UNROLL for (int c = 0; c < nc; c++)
			isum[c] = msum[c] = _mm256_setzero_si256();
		for (int k = 0; k < QK_K / 16; k++) {
			if (k % 2 == 0)
				_mm_prefetch((const char *)pf + 32 * k, _MM_HINT_T0);
			const __m256i cf = _mm256_cvtepi8_epi16(load128(meta + M1_C + 2 * RG * k));
			const __m256i sc = _mm256_abs_epi16(cf);
			const __m256i mf = _mm256_sub_epi16(_mm256_slli_epi16(sc, 3), cf);
			__m256i w[4];
			k2_fields(load256(q + 32 * k), w);
			UNROLL for (int c = 0; c < nc; c++) {
				isum[c] = dot2_i16(isum[c], k2_dot16(w, x[c].k[i].qs + 16 * k), sc);
				msum[c] = dot2_i16(msum[c], mf, bcast4((const int8_t *)(x[c].bx + 32 * i + 2 * k)));
			}
		}
		acc_iq1(acc, x, nc, i, meta, isum, msum);
	}
	acc_store(out, acc, nc);
}

/* iq4_xs (against q8_K): iq4_nl's decoding and sign trick per word; the
 * 16-bit pair sums (|p| <= 2 * 127 * 128) meet the sub-block's eight scales
 * (|ls - 32| <= 32, each in both halves of a lane) in one VPMADDWD each. */
INLINE void iq4_xs_body(const uint8_t *codes, const uint16_t *scales, const struct pcol *x, int nc, int64_t nb,
			float *out)
{
	const __m256i m4 = _mm256_set1_epi8(0x0f);
	const __m256i kv = _mm256_load_si256((const __m256i *)KV_IQ4NL);
	const uint8_t *meta0 = (const uint8_t *)scales;
	__m256 acc[PC];
	acc_zero(acc, nc);
	for (int64_t i = 0; i < nb; i++) {
		prefetch_meta(scales, i, X4_META);
		const uint8_t *q = codes + (size_t)i * (RG * QK_K / 2), *meta = meta0 + (size_t)i * X4_META;
		const uint8_t *pf = pf_codes(codes, i, 2, nb, RG * QK_K / 2, X4_META);
		__m256i isum[PC];
		UNROLL for (int c = 0; c < nc; c++)
			isum[c] = _mm256_setzero_si256();
		for (int h = 0; h < 4; h++) {
#if QNT_AVX512
			/* VPDPBUSD sums each sub-block's 32 products a row in 32 bits (the low and the high
			 * nibbles in two chains; |s| <= 32 * 127 * 128 = 520192), then its scale meets them in
			 * floats, exactly (|s * (ls - 32)| <= 520192 * 32 < 2^24, add_scaled_i32): 8 VPDPBUSD and
			 * 5 micro-ops where cpu-avx2 takes 8 VPMADDUBSW, 8 VPMADDWD and 8 VPADDD */
			const __m256 fsc[2] = { i8x8_ps(meta + 2 * RG + RG * 2 * h), i8x8_ps(meta + 2 * RG + RG * (2 * h + 1)) };
#else
			/* sub-blocks 2h and 2h + 1: their eight rows' scales, each in both halves of its lane */
			const __m128i sc = load128(meta + 2 * RG + RG * 2 * h);
			const __m256i scd[2] = { _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(sc, sc)),
						 _mm256_cvtepi8_epi16(_mm_unpackhi_epi8(sc, sc)) };
#endif
			/* a quarter of the codes two super-blocks ahead */
			UNROLL for (int k = 0; k < 4; k++)
				_mm_prefetch((const char *)pf + 256 * h + 64 * k, _MM_HINT_T0);
			UNROLL for (int s = 0; s < 2; s++) {
				const int j = 2 * h + s;
#if QNT_AVX512
				__m256i slo[PC], shi[PC];
				UNROLL for (int c = 0; c < nc; c++)
					slo[c] = shi[c] = _mm256_setzero_si256();
#endif
				UNROLL for (int t = 0; t < 4; t++) {
					const __m256i v = load256(q + 32 * (4 * j + t));
					const __m256i lo = _mm256_shuffle_epi8(kv, _mm256_and_si256(v, m4));
					const __m256i hi = _mm256_shuffle_epi8(kv, _mm256_and_si256(_mm256_srli_epi16(v, 4), m4));
					const __m256i alo = _mm256_sign_epi8(lo, lo), ahi = _mm256_sign_epi8(hi, hi);
					UNROLL for (int c = 0; c < nc; c++) {
						const int8_t *xq = x[c].k[i].qs + 32 * j + 4 * t;
#if QNT_AVX512
						slo[c] = _mm256_dpbusd_epi32(slo[c], alo, _mm256_sign_epi8(bcast4(xq), lo));
						shi[c] = _mm256_dpbusd_epi32(shi[c], ahi, _mm256_sign_epi8(bcast4(xq + 16), hi));
#else
						const __m256i plo = _mm256_maddubs_epi16(alo, _mm256_sign_epi8(bcast4(xq), lo));
						const __m256i phi = _mm256_maddubs_epi16(ahi, _mm256_sign_epi8(bcast4(xq + 16), hi));
						isum[c] = _mm256_add_epi32(isum[c], _mm256_madd_epi16(plo, scd[s]));
						isum[c] = _mm256_add_epi32(isum[c], _mm256_madd_epi16(phi, scd[s]));
#endif
					}
				}
#if QNT_AVX512
				UNROLL for (int c = 0; c < nc; c++)
					isum[c] = add_scaled_i32(isum[c], _mm256_add_epi32(slo[c], shi[c]), fsc[s]);
#endif
			}
		}
		acc_k(acc, x, nc, i, _mm256_cvtph_ps(load128(meta)), isum);
	}
	acc_store(out, acc, nc);
}

/* q5_K (against q8_K): q4_K's kernel with the fifth bit ORed into each
 * nibble; codes 0..31, so a 16-bit lane sums four words (8 products, |sum|
 * <= 31744) before meeting the scales. */
INLINE void q5_K_body(const uint8_t *codes, const uint16_t *scales, const struct pcol *x, int nc, int64_t nb,
		      float *out)
{
	const __m256i m4 = _mm256_set1_epi8(0x0f), m10 = _mm256_set1_epi8(0x10);
	const uint8_t *meta0 = (const uint8_t *)scales;
	__m256 acc[PC];
	acc_zero(acc, nc);
	for (int64_t i = 0; i < nb; i++) {
		prefetch_meta(scales, i, K4_META);
		const uint8_t *q = codes + (size_t)i * K5_CODES, *hq = q + RG * QK_K / 2;
		const uint8_t *meta = meta0 + (size_t)i * K4_META;
		const uint8_t *pf = pf_codes(codes, i, 2, nb, K5_CODES, K4_META);
		__m256i isum[PC], msum[PC];
		UNROLL for (int c = 0; c < nc; c++)
			isum[c] = msum[c] = _mm256_setzero_si256();
		for (int h = 0; h < 4; h++) {
			/* a quarter of the codes two super-blocks ahead */
			UNROLL for (int k = 0; k < K5_CODES / 4 / 64; k++)
				_mm_prefetch((const char *)pf + (K5_CODES / 4) * h + 64 * k, _MM_HINT_T0);
			const __m128i sh = _mm_cvtsi32_si128(2 * h);
#if QNT_AVX512
			/* VPDPBUSD: each sub-block's 32 products a row in one 32-bit lane (|s| <= 32 * 31 * 128 =
			 * 126976), then the scales in floats, exactly (two sub-blocks <= 2 * 126976 * 63 < 2^24,
			 * add_scaled2_i32): 16 VPDPBUSD and 6 micro-ops where cpu-avx2 takes 16 VPMADDUBSW, 14
			 * VPADDW, 4 VPMADDWD and 4 VPADDD */
			const __m256 flo = u8x8_ps(meta + K4_SC + RG * 2 * h), fhi = u8x8_ps(meta + K4_SC + RG * (2 * h + 1));
			__m256i slo[PC], shi[PC];
			UNROLL for (int c = 0; c < nc; c++)
				slo[c] = shi[c] = _mm256_setzero_si256();
#else
			const __m128i sc = _mm_loadu_si128((const __m128i *)(meta + K4_SC + RG * 2 * h));
			const __m256i sclo = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(sc, sc));
			const __m256i schi = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(sc, sc));
#endif
			UNROLL for (int t0 = 0; t0 < 8; t0 += 4) {
#if !QNT_AVX512
				__m256i slo[PC], shi[PC];
				UNROLL for (int c = 0; c < nc; c++)
					slo[c] = shi[c] = _mm256_setzero_si256();
#endif
				UNROLL for (int t = t0; t < t0 + 4; t++) {
					const __m256i v = load256(q + 32 * (8 * h + t));
					/* bits 2h, 2h + 1 of each byte to bits 0, 1 */
					const __m256i hb = _mm256_srl_epi16(load256(hq + 32 * t), sh);
					const __m256i lo = _mm256_or_si256(_mm256_and_si256(v, m4),
									   _mm256_and_si256(_mm256_slli_epi16(hb, 4), m10));
					const __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(v, 4), m4),
									   _mm256_and_si256(_mm256_slli_epi16(hb, 3), m10));
					UNROLL for (int c = 0; c < nc; c++) {
						const int8_t *xq = x[c].k[i].qs + 64 * h + 4 * t;
#if QNT_AVX512
						slo[c] = _mm256_dpbusd_epi32(slo[c], lo, bcast4(xq));
						shi[c] = _mm256_dpbusd_epi32(shi[c], hi, bcast4(xq + 32));
#else
						slo[c] = _mm256_add_epi16(slo[c], _mm256_maddubs_epi16(lo, bcast4(xq)));
						shi[c] = _mm256_add_epi16(shi[c], _mm256_maddubs_epi16(hi, bcast4(xq + 32)));
#endif
					}
				}
#if !QNT_AVX512
				UNROLL for (int c = 0; c < nc; c++) {
					isum[c] = _mm256_add_epi32(isum[c], _mm256_madd_epi16(slo[c], sclo));
					isum[c] = _mm256_add_epi32(isum[c], _mm256_madd_epi16(shi[c], schi));
				}
#endif
			}
#if QNT_AVX512
			UNROLL for (int c = 0; c < nc; c++)
				isum[c] = add_scaled2_i32(isum[c], slo[c], flo, shi[c], fhi);
#endif
			k4_mins(msum, x, nc, i, h, meta);
		}
		acc_kmin(acc, x, nc, i, meta, isum, msum);
	}
	acc_store(out, acc, nc);
}

typedef void (*group_fn)(const uint8_t *codes, const uint16_t *scales, const struct pcol *x, int nc, int64_t nb,
			 float *out);

/* Specialised for 1..PC columns. */
#define GROUP_FN(NAME)                                                                                      \
	static void NAME(const uint8_t *codes, const uint16_t *scales, const struct pcol *x, int nc, int64_t nb, \
			 float *out)                                                                        \
	{                                                                                                   \
		switch (nc) {                                                                               \
		case 1:                                                                                     \
			NAME##_body(codes, scales, x, 1, nb, out);                                          \
			break;                                                                              \
		case 2:                                                                                     \
			NAME##_body(codes, scales, x, 2, nb, out);                                          \
			break;                                                                              \
		case 3:                                                                                     \
			NAME##_body(codes, scales, x, 3, nb, out);                                          \
			break;                                                                              \
		default:                                                                                    \
			NAME##_body(codes, scales, x, PC, nb, out);                                         \
			break;                                                                              \
		}                                                                                           \
	}

GROUP_FN(q4_0)
GROUP_FN(q8_0)
GROUP_FN(q4_K)
GROUP_FN(iq4_nl)
GROUP_FN(mxfp4)
GROUP_FN(nvfp4)
GROUP_FN(q6_K)
GROUP_FN(q2_K)
GROUP_FN(tq2_0)
GROUP_FN(q5_K)
GROUP_FN(iq4_xs)
GROUP_FN(iq1_s)
GROUP_FN(iq1_m)

/* The sum of the 32 codes of a q8_0 block. */
INLINE int code_sum(const struct blk_q8_0 *b)
{
	const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), load256(b->qs)),
					    _mm256_set1_epi16(1));
	__m128i t = _mm_add_epi32(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
	t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4e));
	t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xb1));
	return _mm_cvtsi128_si32(t);
}

/* Per-column sums (col_fn) into cs, per_col floats a block: */
typedef void (*col_fn)(const void *xb, int64_t nb, float *cs);

/* q8_0 column: d, then 8 * d * the sum of the codes (q4_0's offset; the
 * other kernels leave it). */
static void col_q8_0(const void *xb, int64_t nb, float *cs)
{
	const struct blk_q8_0 *b = xb;
	for (int64_t i = 0; i < nb; i++) {
		cs[i] = h2f(b[i].d);
		cs[nb + i] = 8.0f * (cs[i] * (float)code_sum(b + i));
	}
}

/* q8_0 column for mxfp4: d, then 12 * the sum of the codes. */
static void col_mxfp4(const void *xb, int64_t nb, float *cs)
{
	const struct blk_q8_0 *b = xb;
	for (int64_t i = 0; i < nb; i++) {
		cs[i] = h2f(b[i].d);
		cs[nb + i] = (float)(12 * code_sum(b + i));
	}
}

/* q8_0 column for nvfp4: d, then per block the start of nvfp4_body's
 * integer sums of sub-block A (the first 16 codes), then of B: minus 12
 * times the activations each lane meets. cpu-avx2's 32-bit lane holds two
 * 16-bit sums, the low one of codes 4j, 4j + 1 (j = 0..3), the high one of
 * 4j + 2, 4j + 3 (VPMADDUBSW's pairs); cpu-avx512's one sum of all 16. */
static void col_nvfp4(const void *xb, int64_t nb, float *cs)
{
	const struct blk_q8_0 *b = xb;
	int32_t *oa = (int32_t *)(cs + nb), *ob = (int32_t *)(cs + 2 * nb);
	const __m256i m12 = _mm256_set1_epi16(-12);
	for (int64_t i = 0; i < nb; i++) {
		/* 32-bit lane w: the sums of codes 4w, 4w + 1 and of 4w + 2, 4w + 3; then the four lanes of
		 * each sub-block added (|sum| <= 8 * 128, times 12 <= 12288) */
		__m256i t = _mm256_maddubs_epi16(_mm256_set1_epi8(1), load256(b[i].qs));
		t = _mm256_add_epi16(t, _mm256_shuffle_epi32(t, 0x4e));
		t = _mm256_add_epi16(t, _mm256_shuffle_epi32(t, 0xb1));
#if QNT_AVX512
		t = _mm256_madd_epi16(t, m12);
#else
		t = _mm256_mullo_epi16(t, m12);
#endif
		cs[i] = h2f(b[i].d);
		oa[i] = _mm256_cvtsi256_si32(t);
		ob[i] = _mm256_extract_epi32(t, 4);
	}
}

/* q8_K column (q4_K): per super-block its 8 sums of 32 codes (bsums in
 * pairs), 8 int16 in the room of 4 floats. */
static void col_q8_K(const void *xb, int64_t nb, float *cs)
{
	const struct blk_q8_K *b = xb;
	int16_t *bx = (int16_t *)cs;
	for (int64_t i = 0; i < nb; i++) {
		const __m128i lo = load128(b[i].bsums), hi = load128(b[i].bsums + 8);
		_mm_storeu_si128((__m128i *)(bx + 8 * i), _mm_hadd_epi16(lo, hi));
	}
}

/* q8_K column (iq1_m): per super-block its 32 sums of 8 codes, 32 int16 in
 * the room of 16 floats. */
static void col_q8_K8(const void *xb, int64_t nb, float *cs)
{
	const struct blk_q8_K *b = xb;
	int16_t *bx = (int16_t *)cs;
	const __m256i one8 = _mm256_set1_epi8(1), one16 = _mm256_set1_epi16(1);
	for (int64_t i = 0; i < nb; i++) {
		/* sums of 4 codes in 32-bit lanes, in order; adjacent pairs added (VPHADDD takes them by
		 * 128-bit lane, so 64-bit units 0, 2, 1, 3); 16 of them packed to int16 (|sum| <= 1024), the
		 * lanes put back in order the same way */
		__m256i s8[4];
		for (int h = 0; h < 4; h++) {
			const __m256i a = _mm256_madd_epi16(_mm256_maddubs_epi16(one8, load256(b[i].qs + 64 * h)), one16);
			const __m256i c = _mm256_madd_epi16(_mm256_maddubs_epi16(one8, load256(b[i].qs + 64 * h + 32)), one16);
			s8[h] = _mm256_permute4x64_epi64(_mm256_hadd_epi32(a, c), 0xd8);
		}
		for (int h = 0; h < 2; h++)
			_mm256_storeu_si256((__m256i *)(bx + 32 * i + 16 * h),
					    _mm256_permute4x64_epi64(_mm256_packs_epi32(s8[2 * h], s8[2 * h + 1]), 0xd8));
	}
}

typedef void (*pack_fn)(uint8_t *dst, const uint8_t *w, size_t rs, int nr, int64_t nb, size_t blk_bytes);

/* The formats with a prepared layout: one line each. */
struct rfmt {
	qnt_type wtype, xq;  /* weights, and the activations the kernel takes */
	int64_t bs;          /* elements per block */
	size_t blk_bytes;    /* a plain block */
	size_t word_bytes;   /* codes of one block of a group */
	size_t meta_bytes;   /* the rest of one block of a group, after all the codes */
	pack_fn pack;        /* one group of rows */
	group_fn fn;         /* one group against 1..PC columns */
	col_fn col;          /* per-column sums (NULL: none) */
	size_t per_col;      /* floats of col's output per block */
};

static const struct rfmt fmts[] = {
	{ QNT_TYPE_Q4_0, QNT_TYPE_Q8_0, QK, sizeof(struct blk_q4_0), RG * QK / 2, 2 * RG, pack_f16, q4_0, col_q8_0, 2 },
	{ QNT_TYPE_Q8_0, QNT_TYPE_Q8_0, QK, sizeof(struct blk_q8_0), RG * QK, 2 * RG, pack_f16, q8_0, col_q8_0, 2 },
	{ QNT_TYPE_IQ4_NL, QNT_TYPE_Q8_0, QK, sizeof(struct blk_iq4_nl), RG * QK / 2, 2 * RG, pack_f16, iq4_nl, col_q8_0, 2 },
	{ QNT_TYPE_MXFP4, QNT_TYPE_Q8_0, QK, sizeof(struct blk_mxfp4), RG * QK / 2, RG, pack_e8m0, mxfp4, col_mxfp4, 2 },
	/* nvfp4 as blocks of 32 (pack_nvfp4): 18 bytes each in the row */
	{ QNT_TYPE_NVFP4, QNT_TYPE_Q8_0, QK, 18, RG * QK / 2, NV_META, pack_nvfp4, nvfp4, col_nvfp4, 3 },
	{ QNT_TYPE_Q4_K, QNT_TYPE_Q8_K, QK_K, sizeof(struct blk_q4_K), RG * QK_K / 2, K4_META, pack_q4_K, q4_K,
	  col_q8_K, 4 },
	{ QNT_TYPE_Q5_K, QNT_TYPE_Q8_K, QK_K, sizeof(struct blk_q5_K), K5_CODES, K4_META, pack_q5_K, q5_K, col_q8_K,
	  4 },
	{ QNT_TYPE_Q6_K, QNT_TYPE_Q8_K, QK_K, sizeof(struct blk_q6_K), K6_CODES, K6_META, pack_q6_K, q6_K, NULL, 0 },
	{ QNT_TYPE_Q2_K, QNT_TYPE_Q8_K, QK_K, sizeof(struct blk_q2_K), K2_CODES, K2_META, pack_q2_K, q2_K, NULL, 0 },
	{ QNT_TYPE_TQ2_0, QNT_TYPE_Q8_K, QK_K, sizeof(struct blk_tq2_0), K2_CODES, T2_META, pack_tq2_0, tq2_0, NULL, 0 },
	{ QNT_TYPE_IQ4_XS, QNT_TYPE_Q8_K, QK_K, sizeof(struct blk_iq4_xs), RG * QK_K / 2, X4_META, pack_iq4_xs, iq4_xs,
	  NULL, 0 },
	{ QNT_TYPE_IQ1_S, QNT_TYPE_Q8_K, QK_K, sizeof(struct blk_iq1_s), K2_CODES, S1_META, pack_iq1_s, iq1_s,
	  col_q8_K, 4 },
	{ QNT_TYPE_TQ1_0, QNT_TYPE_Q8_K, QK_K, sizeof(struct blk_tq1_0), K2_CODES, T2_META, pack_tq1_0, tq2_0, NULL, 0 },
	{ QNT_TYPE_IQ1_M, QNT_TYPE_Q8_K, QK_K, sizeof(struct blk_iq1_m), K2_CODES, M1_META, pack_iq1_m, iq1_m,
	  col_q8_K8, 16 },
};

qnt_status qnt__avx2_matrix_prepare(void *state, qnt_type wtype, const void *w, int64_t n_out, int64_t n_in,
				    void **prepared, int64_t *row_group)
{
	const qnt_host_api *host = state;
	if (qnt__avx2_iqp_handles(wtype)) /* the lattice i-quants: avx2_repack_iq.c */
		return qnt__avx2_iqp_prepare(host, wtype, w, n_out, n_in, prepared, row_group);
	const struct rfmt *f = NULL;
	for (size_t k = 0; k < sizeof fmts / sizeof fmts[0]; k++)
		if (fmts[k].wtype == wtype)
			f = &fmts[k];
	if (!f)
		return QNT_E_UNSUPPORTED;
	if (n_out < 1 || n_in < f->bs || n_in % f->bs != 0)
		return QNT_E_INVALID_ARG;
	const int64_t nb = n_in / f->bs, groups = (n_out + RG - 1) / RG;
	const size_t group_bytes = (size_t)nb * (f->word_bytes + f->meta_bytes);
	if ((uint64_t)groups > (SIZE_MAX - RP_HEADER) / group_bytes)
		return QNT_E_BAD_SHAPE;
	struct rp *p = host->alloc(RP_HEADER + (size_t)groups * group_bytes, 64);
	if (!p)
		return QNT_E_NO_MEMORY;
	p->f = f;
	p->n_out = n_out;
	p->n_in = n_in;
	p->nb = nb;
	p->groups = groups;
	p->group_bytes = group_bytes;
	const size_t rs = (size_t)nb * f->blk_bytes;
	for (int64_t g = 0; g < groups; g++)
		f->pack((uint8_t *)rp_group(p, g), (const uint8_t *)w + (size_t)(g * RG) * rs, rs,
			n_out - g * RG < RG ? (int)(n_out - g * RG) : RG, nb, f->blk_bytes);
	*prepared = p;
	*row_group = RG;
	return QNT_OK;
}

void qnt__avx2_matrix_free(const qnt_host_api *host, void *prepared)
{
	if (prepared)
		host->free(prepared);
}

/* The first four lines of group g's bytes after its codes (the scales,
 * and the rest a block's sums meet), which its kernel reads from its first
 * block on: they start past all the group's codes, where neither the
 * kernels' prefetch of their codes some blocks ahead nor the hardware's
 * stream prefetcher is yet, so the first blocks of each group waited for
 * them (4096 x 4096 GEMV from memory, 1 thread, thread CPU time, 120-150
 * alternating runs each, the two libraries in both orders, where an A/A
 * run reads 0.95-1.01: tq2_0 1.16x, q4_0 1.06-1.09x, q4_K 1.02x; one order
 * only: q2_K 1.12x, iq4_xs 1.11x, mxfp4 1.09x, nvfp4 1.07x, q8_0 1.07x,
 * q6_K 1.06x, iq4_nl 1.03x, q5_K 0.97x. All of those bytes at once, up to
 * 40 lines, was 0.95-1.02x of this; the next group's first codes as well,
 * 1 KiB, made q4_K 0.92-0.95x).
 * Issued a group ahead. A prefetch past the matrix is harmless (uintptr_t:
 * no C pointer goes there). */
INLINE void prefetch_group_start(const struct rp *p, int64_t g)
{
	const uintptr_t c = (uintptr_t)p + RP_HEADER + (uintptr_t)g * p->group_bytes;
	const uintptr_t m = c + (uintptr_t)p->nb * p->f->word_bytes;
	for (int l = 0; l < 4; l++)
		_mm_prefetch((const char *)(m + 64 * (uintptr_t)l), _MM_HINT_T0);
}

qnt_status qnt__avx2_matmul_prepared(void *state, const qnt_matmul_job *job)
{
	const qnt_host_api *host = state;
	if (qnt__avx2_iqp_handles(job->wtype))
		return qnt__avx2_iqp_matmul(host, job);
	const struct rp *p = job->w.host;
	if (!p || job->w.buffer || job->x.buffer || job->y.buffer || p->f->wtype != job->wtype ||
	    p->n_out != job->n_out || p->n_in != job->n_in || job->row_begin < 0 || job->row_begin % RG != 0 ||
	    job->row_end > job->n_out || job->row_begin > job->row_end)
		return QNT_E_INVALID_ARG;
	const struct rfmt *f = p->f;
	if (!job->xq || job->xq_type != f->xq)
		return QNT_E_INVALID_ARG;
	const int64_t nb = p->nb, n_out = p->n_out, n_cols = job->n_cols;
	const size_t xrs = f->xq == QNT_TYPE_Q8_K ? (size_t)(p->n_in / QK_K) * sizeof(struct blk_q8_K)
						  : (size_t)(p->n_in / QK) * sizeof(struct blk_q8_0);
	const uint8_t *xq = job->xq;
	float *y = job->y.host;

	const size_t per_col = (size_t)nb * f->per_col;
	float stack[4096], *ds = stack;
	const size_t need = (size_t)n_cols * per_col;
	if (need > sizeof stack / sizeof stack[0] && !(ds = host->alloc(need * sizeof(float), 64)))
		return QNT_E_NO_MEMORY;
	for (int64_t c = 0; f->col && c < n_cols; c++)
		f->col(xq + (size_t)c * xrs, nb, ds + (size_t)c * per_col);

	for (int64_t g = job->row_begin / RG; g * RG < job->row_end; g++) {
		const uint8_t *codes = rp_group(p, g);
		const uint16_t *scales = (const uint16_t *)(codes + (size_t)nb * f->word_bytes);
		prefetch_group_start(p, g + 1);
		const int64_t r0 = g * RG, r1 = r0 + RG < job->row_end ? r0 + RG : job->row_end;
		for (int64_t c0 = 0; c0 < n_cols; c0 += PC) {
			const int nc = n_cols - c0 < PC ? (int)(n_cols - c0) : PC;
			struct pcol xc[PC];
			float out[PC * RG];
			for (int c = 0; c < nc; c++) {
				const uint8_t *xb = xq + (size_t)(c0 + c) * xrs;
				float *cs = ds + (size_t)(c0 + c) * per_col;
				xc[c].b = (const struct blk_q8_0 *)xb;
				xc[c].k = (const struct blk_q8_K *)xb;
				xc[c].d = cs;
				xc[c].s8 = xc[c].s12 = cs + nb;
				xc[c].oa = (const int32_t *)(cs + nb); /* nvfp4 */
				xc[c].ob = (const int32_t *)(cs + 2 * nb);
				xc[c].bx = (const int16_t *)cs;
			}
			f->fn(codes, scales, xc, nc, nb, out);
			scatter_group(y, n_out, c0, nc, r0, r1, out, RG);
		}
	}
	if (ds != stack)
		host->free(ds);
	return QNT_OK;
}
