/* SPDX-License-Identifier: MIT */
/*
 * cpu-avx2 prepared weights (qnt_matrix_prepare) of the lattice i-quants
 * iq2_xxs iq2_xs iq2_s iq3_xxs iq3_s, and of q3_K, decoded once into
 * a layout whose product needs no grid lookups or bit gathering, and its
 * matrix products against q8_K. (iq1_s, iq1_m and tq1_0, whose values are
 * -1, 0, 1 before their scales and delta, have 2-bit layouts:
 * avx2_repack.c.)
 *
 * The plain kernels (avx2_iq.c, avx2.c) are compute-bound: each group of 8
 * lattice weights costs a gather from a grid table and one from a sign
 * table; q3_K's codes come from two bit planes.
 * Here every weight is stored as a code, an index into a table of the
 * format's signed integer weights (the plain kernel's integer form):
 *
 *   iq2_xxs iq2_xs iq2_s   +-8 +-25 +-43          (times d/8)  3 bits (p3)
 *   q3_K                   -4 .. 3                (times d)    3 bits (p3)
 *   iq3_xxs                +-4 +-12 ... +-52 +-62 (times d/4)  4 bits
 *   iq3_s                  +-1 +-3 ... +-15       (times d)    4 bits
 *
 * so that one VPSHUFB turns 32 codes into 32 signed weights. The integer
 * sub-block scales (2 l + 1: one per 32 weights for iq2_xxs iq3_xxs iq3_s,
 * one per 16 for iq2_xs iq2_s; q3_K's scale - 32 per 16) are kept as signed
 * bytes, the float factor (d/8, d/4, d) as a float.
 *
 * Layout of one matrix: a header (struct iqp), then ceil(n_out / 8) groups
 * of eight interleaved rows, nb = n_in / 256 super-blocks each of
 * SB_BYTES(nsc, p3) bytes (nsc = 8 or 16 scales per row):
 *
 *   codes   for each group of 32 weights (g = 0..7) the codes of eight
 *           32-byte words: word j = 0..7 has in its 32-bit lane r row r's
 *           weights of elements 32 g + 4 j + t in byte t.
 *           The 4-bit layout (1024 bytes): four 32-byte words, the codes of
 *           word j in the low (j < 4) or high nibbles of word j % 4.
 *           p3 (768 bytes): three 32-byte words L0, L1 and H. The code's
 *           low two bits of word j are bits 2 (j % 4) of L(j / 4), its high
 *           bit is bit HBIT[j] of H. A word's index is the OR of its low
 *           field, masked in place or after a 16-bit shift by 4, and of two
 *           bits of H (masked with 0x03 or 0x0c, after a shift by 4 for
 *           j >= 4), of which the word's table (one of four: struct tbls)
 *           reads one: three or four operations a word, where the 4-bit
 *           layout takes one or two.
 *   scales  nsc * 8 bytes: [sub-block of 32 or 16][row], the integer scale.
 *   corr    8 int32: per row 128 * sum over sub-blocks of scale * (the sum
 *           of the sub-block's weights).
 *   d       8 floats: per row the float factor.
 *
 * Rows past n_out have scale, corr and d zero. A super-block of eight rows
 * takes 896 bytes (p3, 8 scales: 3.5 bits a weight), 960 (p3, 16 scales:
 * 3.75) or 1152 (4.5), against the formats' own 2.06 to 3.44 bits.
 *
 * p3 (measured against the 4-bit layout for these formats, 4096 x 4096
 * GEMV, 1 thread, bench/ab_matmul.py): from memory its fewer bytes win
 * (iq2_xxs 1.15x, iq2_xs 1.16x, iq2_s 1.14x, q3_K 1.10x), in cache its
 * decoding loses (0.79-0.88x). Two 4-bit l of iq2_xs's and iq2_s's scales in
 * a byte (3.5 bits a weight) read no faster from memory and 0.93x in cache.
 *
 * Product: the activation codes x (q8_K, -128..127) are made x + 128
 * (0..255) once per column, so that VPMADDUBSW(x + 128, w) takes the signed
 * weights as they come (no sign step per column); a pair of products stays
 * below 2^15 (2 * 255 * 62 = 31620). A 32-bit broadcast of four activation
 * codes meets the same four elements of the eight rows, VPMADDWD with the
 * rows' scales sums each row's pairs into its 32-bit lane, and the
 * super-block's sum less corr is exactly the plain kernel's integer sum
 * (sum over sub-blocks of scale * (w . x)). q3_K's pairs (at most 2 * 255 *
 * 4) are added in 16 bits over a sub-block's four words first, one
 * VPMADDWD for the four. Bounds: a lane's sum over a super-block is at most
 * 16 * 31 * 16 * 255 * 62 < 2^31 (q3_K: scales down to -32, weights down to
 * -4: 16 * 32 * 16 * 255 * 4). The float step: acc += (d * d_x) * sum, eight
 * rows in one FMA. Equal to the plain kernel up to the order of the float
 * steps.
 *
 * The layout is prefetched PF_SB super-blocks ahead (weights from memory,
 * 4096 x 4096 iq2_xxs, 1 thread, process CPU time, medians of 7-9 at load
 * 9-10: 1.34 ms without, 0.81-0.84 ms with; PF_SB 1, 2, 4 alike within the
 * noise). Tried and dropped: VPMADDUBSW(|w|, sign(x, w)) (x of q8_K is
 * -127..127), whose pairs of products allow adding the two halves of a
 * word before one VPMADDWD and need no corr (1120 bytes a super-block):
 * fewer multiplies, more shuffles, slower (iq2_xxs cold 0.85-0.87 ms
 * against 0.72-0.75 ms, interleaved runs at load 11-16).
 *
 * GEMM: the same kernel, four columns per pass over a group (each group's
 * codes decoded once per pass); the layout keeps no original bytes for the
 * plain GEMM path. Each output depends only on its row and column: the
 * group, the column pass and the thread do not change how it is computed.
 */
#include "avx2_repack_iq.h"
#include "avx2_util.h"
#include "qnt_blocks.h"
#include "../../lib/core/iquants_tables.h"

#include <immintrin.h>
#include <string.h>

#define RG 8  /* rows per group */
#define PC 4  /* columns per pass over a group */
#define NSUB (QK_K / 16)
/* the codes of a super-block: 4 bits a weight (nibble layout) or 3 (p3) */
#define SB_CODES(p3) ((p3) ? RG * QK_K * 3 / 8 : RG * QK_K / 2)
#define G_CODES(p3) (SB_CODES(p3) / (QK_K / 32)) /* of a group of 32 weights */
/* after the codes: nsc * RG scale bytes, then corr and d */
#define SB_CORR(nsc, p3) (SB_CODES(p3) + (nsc) * RG)
#define SB_D(nsc, p3) (SB_CORR(nsc, p3) + 4 * RG)
#define SB_BYTES(nsc, p3) (SB_D(nsc, p3) + 4 * RG)
_Static_assert(SB_BYTES(8, 0) % 64 == 0 && SB_BYTES(8, 1) % 64 == 0 && SB_BYTES(16, 1) % 64 == 0,
	       "super-blocks stay 64-byte aligned");
#define PF_SB 2 /* software prefetch of the layout this many super-blocks ahead */

struct iqp {
	qnt_type wtype;
	int64_t n_out, n_in, nb, groups;
	size_t sb_bytes, group_bytes;
};

#define IQP_HEADER 64
_Static_assert(sizeof(struct iqp) <= IQP_HEADER, "header fits before the groups");

INLINE const uint8_t *iqp_group(const struct iqp *p, int64_t g)
{
	return (const uint8_t *)p + IQP_HEADER + (size_t)g * p->group_bytes;
}

/* ------------------------------------------------------------------ */
/* Decoding a super-block to integer weights (ggml-common.h's layouts;   */
/* the same integers as avx2_iq.c's kernels)                            */
/* ------------------------------------------------------------------ */

/* One super-block as integers: weights w, scales sc (per 16) and the float
 * factor, w * sc * factor being the dequantized value. */
struct sbint {
	int8_t w[QK_K];
	int8_t sc[NSUB];
	float f;
};

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* ggml's ksigns_iq2xs: 7 stored sign bits and their parity as the 8th. */
static unsigned ksign(uint32_t s)
{
	s &= 127;
	unsigned p = s ^ (s >> 4);
	p ^= p >> 2;
	p ^= p >> 1;
	return s | ((p & 1u) << 7);
}

static const int8_t LV2[4] = { 8, 25, 43, 0 };
static const int8_t LV3XXS[8] = { 4, 12, 20, 28, 36, 44, 52, 62 }, LV3S[8] = { 1, 3, 5, 7, 9, 11, 13, 15 };

/* Eight 2-bit-level elements of a grid point, signs applied. */
static void put8(int8_t *w, uint16_t code, unsigned signs)
{
	for (int j = 0; j < 8; j++) {
		const int v = LV2[(code >> (2 * j)) & 3];
		w[j] = (int8_t)((signs >> j) & 1 ? -v : v);
	}
}

static void put4(int8_t *w, const int8_t *lv, uint16_t code, unsigned signs)
{
	for (int j = 0; j < 4; j++) {
		const int v = lv[(code >> (3 * j)) & 7];
		w[j] = (int8_t)((signs >> j) & 1 ? -v : v);
	}
}

static void dec_iq2_xxs(const uint8_t *b, struct sbint *o)
{
	const uint8_t *qs = b + 2;
	o->f = h2f(rd16(b)) * 0.125f;
	for (int ib = 0; ib < 8; ib++) {
		const uint8_t *q = qs + 8 * ib;
		const uint32_t aux = rd32(q + 4);
		o->sc[2 * ib] = o->sc[2 * ib + 1] = (int8_t)(2 * (aux >> 28) + 1);
		for (int l = 0; l < 4; l++)
			put8(o->w + 32 * ib + 8 * l, qnt__iq2xxs_codes[q[l]], ksign(aux >> (7 * l)));
	}
}

static void dec_iq2_xs(const uint8_t *b, struct sbint *o)
{
	const uint8_t *qs = b + 2, *scales = b + 66;
	o->f = h2f(rd16(b)) * 0.125f;
	for (int ib = 0; ib < 8; ib++) {
		o->sc[2 * ib] = (int8_t)(2 * (scales[ib] & 0xf) + 1);
		o->sc[2 * ib + 1] = (int8_t)(2 * (scales[ib] >> 4) + 1);
		for (int l = 0; l < 4; l++) {
			const uint16_t q = rd16(qs + 2 * (4 * ib + l));
			put8(o->w + 32 * ib + 8 * l, qnt__iq2xs_codes[q & 511], ksign(q >> 9));
		}
	}
}

static void dec_iq2_s(const uint8_t *b, struct sbint *o)
{
	const uint8_t *qs = b + 2, *qh = b + 66, *scales = b + 74;
	o->f = h2f(rd16(b)) * 0.125f;
	for (int ib = 0; ib < 8; ib++) {
		o->sc[2 * ib] = (int8_t)(2 * (scales[ib] & 0xf) + 1);
		o->sc[2 * ib + 1] = (int8_t)(2 * (scales[ib] >> 4) + 1);
		for (int l = 0; l < 4; l++) {
			const int g = 4 * ib + l;
			const int idx = qs[g] | (((qh[ib] >> (2 * l)) & 3) << 8);
			put8(o->w + 8 * g, qnt__iq2s_codes[idx], qs[32 + g]);
		}
	}
}

static void dec_iq3_xxs(const uint8_t *b, struct sbint *o)
{
	const uint8_t *qs = b + 2;
	o->f = h2f(rd16(b)) * 0.25f;
	for (int ib = 0; ib < 8; ib++) {
		const uint8_t *q = qs + 8 * ib;
		const uint32_t aux = rd32(qs + 64 + 4 * ib);
		o->sc[2 * ib] = o->sc[2 * ib + 1] = (int8_t)(2 * (aux >> 28) + 1);
		for (int l = 0; l < 4; l++) {
			const unsigned s = ksign(aux >> (7 * l));
			put4(o->w + 32 * ib + 8 * l, LV3XXS, qnt__iq3xxs_codes[q[2 * l]], s);
			put4(o->w + 32 * ib + 8 * l + 4, LV3XXS, qnt__iq3xxs_codes[q[2 * l + 1]], s >> 4);
		}
	}
}

static void dec_iq3_s(const uint8_t *b, struct sbint *o)
{
	const uint8_t *qs = b + 2, *qh = b + 66, *signs = b + 74, *scales = b + 106;
	o->f = h2f(rd16(b));
	for (int ib = 0; ib < 8; ib++) {
		o->sc[2 * ib] = o->sc[2 * ib + 1] = (int8_t)(2 * ((scales[ib / 2] >> (4 * (ib % 2))) & 0xf) + 1);
		for (int k = 0; k < 8; k++) {
			const int idx = qs[8 * ib + k] | (((qh[ib] >> k) & 1) << 8);
			put4(o->w + 32 * ib + 4 * k, LV3S, qnt__iq3s_codes[idx], signs[4 * ib + k / 2] >> (4 * (k % 2)));
		}
	}
}

/* ------------------------------------------------------------------ */
/* Formats                                                              */
/* ------------------------------------------------------------------ */

struct iqfmt {
	qnt_type type;
	size_t bytes; /* of a super-block */
	void (*dec)(const uint8_t *b, struct sbint *o);
	int nsc; /* distinct scales per super-block and row: 8 (one per 32 weights) or 16 */
	int p3;  /* at most 8 weights: the 3-bit layout; otherwise the nibble layout */
	int8_t vals[16] __attribute__((aligned(16))); /* code (index) -> weight */
};

/* q3_K: w = q + 4 h - 4 from the 2-bit code q and the hmask bit h (ggml's
 * q - (h ? 0 : 4)), element e's q in bits 2j of qs[32 n + l] and its h in
 * bit 4n + j of hmask[l] (n = e / 128, j = e % 128 / 32, l = e % 32); the 16
 * 6-bit scales less 32 (-32..31), the factor d. */
static void dec_q3_K(const uint8_t *b, struct sbint *o)
{
	const uint8_t *hmask = b, *qs = b + 32, *s = b + 96;
	o->f = h2f(rd16(b + 108));
	for (int e = 0; e < QK_K; e++) {
		const int n = e / 128, j = e % 128 / 32, l = e % 32;
		const int q = (qs[32 * n + l] >> (2 * j)) & 3, h = (hmask[l] >> (4 * n + j)) & 1;
		o->w[e] = (int8_t)(q + 4 * h - 4);
	}
	for (int k = 0; k < NSUB; k++) {
		const int lo = k < 8 ? s[k] & 0xf : s[k - 8] >> 4, hi = (s[8 + k % 4] >> (2 * (k / 4))) & 3;
		o->sc[k] = (int8_t)((lo | (hi << 4)) - 32);
	}
}

static const struct iqfmt FMTS[] = {
	{ QNT_TYPE_IQ2_XXS, sizeof(struct blk_iq2_xxs), dec_iq2_xxs, 8, 1, { 8, 25, 43, 0, -8, -25, -43, 0 } },
	{ QNT_TYPE_IQ2_XS, sizeof(struct blk_iq2_xs), dec_iq2_xs, 16, 1, { 8, 25, 43, 0, -8, -25, -43, 0 } },
	{ QNT_TYPE_IQ2_S, sizeof(struct blk_iq2_s), dec_iq2_s, 16, 1, { 8, 25, 43, 0, -8, -25, -43, 0 } },
	{ QNT_TYPE_Q3_K, sizeof(struct blk_q3_K), dec_q3_K, 16, 1, { -4, -3, -2, -1, 0, 1, 2, 3 } },
	{ QNT_TYPE_IQ3_XXS, sizeof(struct blk_iq3_xxs), dec_iq3_xxs, 8, 0,
	  { 4, 12, 20, 28, 36, 44, 52, 62, -4, -12, -20, -28, -36, -44, -52, -62 } },
	{ QNT_TYPE_IQ3_S, sizeof(struct blk_iq3_s), dec_iq3_s, 8, 0,
	  { 1, 3, 5, 7, 9, 11, 13, 15, -1, -3, -5, -7, -9, -11, -13, -15 } },
};

static const struct iqfmt *find_fmt(qnt_type t)
{
	for (size_t i = 0; i < sizeof FMTS / sizeof FMTS[0]; i++)
		if (FMTS[i].type == t)
			return &FMTS[i];
	return NULL;
}

int qnt__avx2_iqp_handles(qnt_type wtype)
{
	return find_fmt(wtype) != NULL;
}

/* ------------------------------------------------------------------ */
/* Preparing                                                            */
/* ------------------------------------------------------------------ */

/* The bit of H (p3) holding the high code bit of word j = 0..7 of a group:
 * those of j = 0..3 in bits 0-3, where j's low field (bits 2j % 8 of word
 * j / 4, shifted right by 4 for j % 4 >= 2) leaves room for it; those of
 * j = 4..7 in bits 4-7, the same after a shift by 4 (iqp_body). */
static const uint8_t HBIT[8] = { 2, 0, 3, 1, 6, 4, 7, 5 };

/* Row r (of RG) of super-block dst from its integers; code maps w + 128 to
 * the weight's code (its index in f->vals). */
static void put_row(uint8_t *dst, int r, const struct sbint *s, const uint8_t *code, int nsc, int p3)
{
	for (int g = 0; g < QK_K / 32; g++) {
		uint8_t *q = dst + G_CODES(p3) * g;
		for (int j = 0; j < 8; j++)
			for (int t = 0; t < 4; t++) {
				const int c = code[s->w[32 * g + 4 * j + t] + 128], b = 4 * r + t;
				if (p3) {
					q[32 * (j / 4) + b] |= (uint8_t)((c & 3) << (2 * (j % 4)));
					q[64 + b] |= (uint8_t)((c >> 2) << HBIT[j]);
				} else {
					q[32 * (j % 4) + b] |= (uint8_t)(c << (4 * (j / 4)));
				}
			}
	}
	int32_t corr = 0;
	for (int k = 0; k < NSUB; k++) {
		int32_t sw = 0;
		for (int j = 0; j < 16; j++)
			sw += s->w[16 * k + j];
		corr += s->sc[k] * sw;
		if (nsc == NSUB || k % 2 == 0) /* one per 32: sub-blocks 2j and 2j + 1 share it */
			dst[SB_CODES(p3) + RG * (k * nsc / NSUB) + r] = (uint8_t)s->sc[k];
	}
	corr *= 128;
	memcpy(dst + SB_CORR(nsc, p3) + 4 * r, &corr, 4);
	memcpy(dst + SB_D(nsc, p3) + 4 * r, &s->f, 4);
}

qnt_status qnt__avx2_iqp_prepare(const qnt_host_api *host, qnt_type wtype, const void *w, int64_t n_out,
				 int64_t n_in, void **prepared, int64_t *row_group)
{
	const struct iqfmt *f = find_fmt(wtype);
	if (!f)
		return QNT_E_UNSUPPORTED;
	if (n_out < 1 || n_in < QK_K || n_in % QK_K != 0)
		return QNT_E_INVALID_ARG;
	const int64_t nb = n_in / QK_K, groups = (n_out + RG - 1) / RG;
	const size_t sb_bytes = SB_BYTES(f->nsc, f->p3);
	if ((uint64_t)nb > SIZE_MAX / sb_bytes)
		return QNT_E_BAD_SHAPE;
	const size_t group_bytes = (size_t)nb * sb_bytes;
	if ((uint64_t)groups > (SIZE_MAX - IQP_HEADER) / group_bytes)
		return QNT_E_BAD_SHAPE;
	struct iqp *p = host->alloc(IQP_HEADER + (size_t)groups * group_bytes, 64);
	if (!p)
		return QNT_E_NO_MEMORY;
	p->wtype = wtype;
	p->n_out = n_out;
	p->n_in = n_in;
	p->nb = nb;
	p->groups = groups;
	p->sb_bytes = sb_bytes;
	p->group_bytes = group_bytes;

	uint8_t code[256];
	memset(code, 0, sizeof code);
	for (int i = (f->p3 ? 8 : 16) - 1; i >= 0; i--) /* the first entry of a value wins */
		code[f->vals[i] + 128] = (uint8_t)i;
	const size_t rs = (size_t)nb * f->bytes;
	struct sbint s;
	for (int64_t g = 0; g < groups; g++) {
		uint8_t *gd = (uint8_t *)iqp_group(p, g);
		memset(gd, 0, group_bytes);
		const int nr = n_out - g * RG < RG ? (int)(n_out - g * RG) : RG;
		for (int r = 0; r < nr; r++) {
			const uint8_t *row = (const uint8_t *)w + (size_t)(g * RG + r) * rs;
			for (int64_t i = 0; i < nb; i++) {
				f->dec(row + (size_t)i * f->bytes, &s);
				put_row(gd + (size_t)i * sb_bytes, r, &s, code, f->nsc, f->p3);
			}
		}
	}
	*prepared = p;
	*row_group = RG;
	return QNT_OK;
}

/* ------------------------------------------------------------------ */
/* Products                                                             */
/* ------------------------------------------------------------------ */

/* One column: its codes made x + 128, and per super-block d. */
struct pcol {
	const uint8_t *xu;
	const float *d;
};

INLINE __m256i bcast4(const uint8_t *p)
{
	return _mm256_set1_epi32((int)load_u32(p));
}

/* The VPSHUFB tables of a format: the nibble layout's index -> weight in
 * t[0]; p3's four arrangements of a 3-bit code in an index (iqp_body):
 * t[0] low field in bits 0-1 and high bit 2, t[1] bits 2-3 and 0, t[2] bits
 * 0-1 and 3, t[3] bits 2-3 and 1 (the other index bits any). */
struct tbls {
	__m256i t[4];
};

/* Word j = 0..7 of a group of 32 weights: the eight rows' weights of
 * elements 4j..4j+3 (sub-block 2g for j < 4, 2g + 1 after). p3: L the
 * group's low fields of words 0-3 (j < 4) or 4-7, Ls L shifted right by 4,
 * H3 and Hc its high bits masked with 0x03 and 0x0c (after a shift right
 * by 4 for j >= 4): each index takes a low field and two high bits, of
 * which its table reads one. */
INLINE __m256i p3_word(const struct tbls *tb, int j, __m256i L, __m256i Ls, __m256i H3, __m256i Hc)
{
	const __m256i m03 = _mm256_set1_epi8(0x03), m0c = _mm256_set1_epi8(0x0c);
	switch (j % 4) {
	case 0:
		return _mm256_shuffle_epi8(tb->t[0], _mm256_or_si256(_mm256_and_si256(L, m03), Hc));
	case 1:
		return _mm256_shuffle_epi8(tb->t[1], _mm256_or_si256(_mm256_and_si256(L, m0c), H3));
	case 2:
		return _mm256_shuffle_epi8(tb->t[2], _mm256_or_si256(_mm256_and_si256(Ls, m03), Hc));
	default:
		return _mm256_shuffle_epi8(tb->t[3], _mm256_or_si256(_mm256_and_si256(Ls, m0c), H3));
	}
}

/* One group (rows g*8 .. g*8+7) against nc columns: out[c * 8 + r].
 * p3: the 3-bit layout, else the nibble layout; nsc: 8 or 16 scales per
 * super-block and row. */
INLINE void iqp_body(const uint8_t *gd, const struct tbls *tb, const struct pcol *x, int nc, int64_t nb, float *out,
		     const int p3, const int nsc, const int s16)
{
	const __m256i m4 = _mm256_set1_epi8(0x0f);
	const size_t sb_bytes = SB_BYTES(nsc, p3);
	__m256 acc[PC];
	UNROLL for (int c = 0; c < nc; c++)
		acc[c] = _mm256_setzero_ps();
	for (int64_t i = 0; i < nb; i++) {
		const uint8_t *sb = gd + (size_t)i * sb_bytes;
		const uint8_t *scb = sb + SB_CODES(p3);
		__m256i isum[PC];
		UNROLL for (int c = 0; c < nc; c++)
			isum[c] = _mm256_setzero_si256();
		for (int g = 0; g < QK_K / 32; g++) {
			const uint8_t *q = sb + G_CODES(p3) * g;
			_mm_prefetch((const char *)q + PF_SB * sb_bytes, _MM_HINT_T0);
			_mm_prefetch((const char *)q + PF_SB * sb_bytes + 64, _MM_HINT_T0);
			if (g < (int)(sb_bytes - SB_CODES(p3)) / 64)
				_mm_prefetch((const char *)scb + PF_SB * sb_bytes + 64 * g, _MM_HINT_T0);
			/* the eight rows' scales of sub-blocks 2g (words 0-3) and 2g + 1 (words 4-7): bytes 0-7 and
			 * 8-15 of sc */
			__m128i sc;
			if (nsc == NSUB) {
				sc = load128(scb + RG * 2 * g);
			} else {
				sc = _mm_loadl_epi64((const __m128i *)(scb + RG * g));
				sc = _mm_unpacklo_epi64(sc, sc);
			}
#if QNT_AVX512
			/* VPDPBUSD sums the products of words 0-3 and of words 4-7 (each a sub-block of 16,
			 * or together one of 32) in 32-bit lanes: the same sums as cpu-avx2's pairs, which never
			 * saturate (above); then the scales meet them in floats, exactly: |sl| <= 16 * 255 * 62 =
			 * 252960, and 2 * 252960 * 31 < 2^24 (q3_K: 2 * (16 * 255 * 4) * 32; add_scaled2_i32,
			 * add_scaled_i32). 8 VPDPBUSD and 5
			 * or 6 micro-ops a column where cpu-avx2 takes 8 VPMADDUBSW, 8 VPMADDWD and 8 VPADDD. */
			const __m256 flo = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(sc));
			const __m256 fhi = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(sc, 8)));
			__m256i sl[PC], sh[PC];
			UNROLL for (int c = 0; c < nc; c++)
				sl[c] = sh[c] = _mm256_setzero_si256();
#else
			/* each in both halves of its lane */
			const __m256i sclo = _mm256_cvtepi8_epi16(_mm_unpacklo_epi8(sc, sc));
			const __m256i schi = nsc == NSUB ? _mm256_cvtepi8_epi16(_mm_unpackhi_epi8(sc, sc)) : sclo;
#endif
			__m256i H = p3 ? load256(q + 64) : _mm256_setzero_si256();
			UNROLL for (int h = 0; h < 2; h++) {
				__m256i L = _mm256_setzero_si256(), Ls = L, H3 = L, Hc = L;
				if (p3) {
					L = load256(q + 32 * h);
					Ls = _mm256_srli_epi16(L, 4);
					if (h)
						H = _mm256_srli_epi16(H, 4);
					H3 = _mm256_and_si256(H, _mm256_set1_epi8(0x03));
					Hc = _mm256_and_si256(H, _mm256_set1_epi8(0x0c));
				}
#if !QNT_AVX512
				__m256i p16[PC];
				UNROLL for (int c = 0; c < nc; c++)
					p16[c] = _mm256_setzero_si256();
#endif
				UNROLL for (int v = 0; v < 4; v++) {
					const int j = 4 * h + v;
					__m256i wj;
					if (p3) {
						wj = p3_word(tb, j, L, Ls, H3, Hc);
					} else {
						const __m256i cv = load256(q + 32 * v);
						const __m256i ix = h ? _mm256_and_si256(_mm256_srli_epi16(cv, 4), m4)
								     : _mm256_and_si256(cv, m4);
						wj = _mm256_shuffle_epi8(tb->t[0], ix);
					}
					UNROLL for (int c = 0; c < nc; c++) {
						const uint8_t *xq = x[c].xu + (size_t)i * QK_K + 32 * g + 4 * j;
#if QNT_AVX512
						if (h)
							sh[c] = _mm256_dpbusd_epi32(sh[c], bcast4(xq), wj);
						else
							sl[c] = _mm256_dpbusd_epi32(sl[c], bcast4(xq), wj);
#else
						const __m256i pj = _mm256_maddubs_epi16(bcast4(xq), wj);
						if (s16)
							p16[c] = _mm256_add_epi16(p16[c], pj);
						else
							isum[c] = _mm256_add_epi32(isum[c], _mm256_madd_epi16(pj, h ? schi : sclo));
#endif
					}
				}
#if !QNT_AVX512
				if (s16)
					UNROLL for (int c = 0; c < nc; c++)
						isum[c] = _mm256_add_epi32(isum[c], _mm256_madd_epi16(p16[c], h ? schi : sclo));
#endif
			}
#if QNT_AVX512
			UNROLL for (int c = 0; c < nc; c++) {
				if (nsc == NSUB)
					isum[c] = add_scaled2_i32(isum[c], sl[c], flo, sh[c], fhi);
				else
					isum[c] = add_scaled_i32(isum[c], _mm256_add_epi32(sl[c], sh[c]), flo);
			}
#endif
		}
		const __m256i corr = load256(sb + SB_CORR(nsc, p3));
		const __m256 d8 = _mm256_loadu_ps((const float *)(sb + SB_D(nsc, p3)));
		UNROLL for (int c = 0; c < nc; c++) {
			const __m256 t = _mm256_cvtepi32_ps(_mm256_sub_epi32(isum[c], corr));
			acc[c] = _mm256_fmadd_ps(_mm256_mul_ps(d8, _mm256_set1_ps(x[c].d[i])), t, acc[c]);
		}
	}
	UNROLL for (int c = 0; c < nc; c++)
		_mm256_storeu_ps(out + c * RG, acc[c]);
}

typedef void (*iqp_fn)(const uint8_t *gd, const struct tbls *tb, const struct pcol *x, int nc, int64_t nb,
		       float *out);

/* Specialised for 1..PC columns. */
#define IQP_FN(NAME, P3, NSC, S16)                                                                           \
	static void NAME(const uint8_t *gd, const struct tbls *tb, const struct pcol *x, int nc, int64_t nb, \
			 float *out)                                                                         \
	{                                                                                                    \
		switch (nc) {                                                                                \
		case 1:                                                                                      \
			iqp_body(gd, tb, x, 1, nb, out, P3, NSC, S16);                                       \
			break;                                                                               \
		case 2:                                                                                      \
			iqp_body(gd, tb, x, 2, nb, out, P3, NSC, S16);                                       \
			break;                                                                               \
		case 3:                                                                                      \
			iqp_body(gd, tb, x, 3, nb, out, P3, NSC, S16);                                       \
			break;                                                                               \
		default:                                                                                     \
			iqp_body(gd, tb, x, PC, nb, out, P3, NSC, S16);                                      \
			break;                                                                               \
		}                                                                                            \
	}

IQP_FN(iqp_p3_8, 1, 8, 0)
IQP_FN(iqp_p3_16, 1, 16, 0)
IQP_FN(iqp_q3_K, 1, 16, 1)
IQP_FN(iqp_nib8, 0, 8, 0)

/* The tables of f (struct tbls). */
static void make_tbls(const struct iqfmt *f, struct tbls *tb)
{
	if (!f->p3) {
		tb->t[0] = _mm256_broadcastsi128_si256(load128(f->vals));
		return;
	}
	/* index bits of the low field and of the high bit, per table */
	static const int lo_at[4] = { 0, 2, 0, 2 }, hi_at[4] = { 2, 0, 3, 1 };
	_Alignas(16) int8_t t[16];
	for (int k = 0; k < 4; k++) {
		for (int i = 0; i < 16; i++)
			t[i] = f->vals[((i >> lo_at[k]) & 3) | (((i >> hi_at[k]) & 1) << 2)];
		tb->t[k] = _mm256_broadcastsi128_si256(load128(t));
	}
}

qnt_status qnt__avx2_iqp_matmul(const qnt_host_api *host, const qnt_matmul_job *job)
{
	const struct iqp *p = job->w.host;
	const struct iqfmt *f = find_fmt(job->wtype);
	if (!f || !p || job->w.buffer || job->x.buffer || job->y.buffer || p->wtype != job->wtype ||
	    p->n_out != job->n_out || p->n_in != job->n_in || job->row_begin < 0 || job->row_begin % RG != 0 ||
	    job->row_end > job->n_out || job->row_begin > job->row_end)
		return QNT_E_INVALID_ARG;
	if (!job->xq || job->xq_type != QNT_TYPE_Q8_K)
		return QNT_E_INVALID_ARG;
	const int64_t nb = p->nb, n_out = p->n_out, n_cols = job->n_cols;
	const struct blk_q8_K *xk = job->xq;
	float *y = job->y.host;

	/* per column: the codes + 128 (QK_K bytes a super-block), then d */
	const size_t per_col = (size_t)nb * (QK_K + sizeof(float));
	_Alignas(32) uint8_t stack[16384];
	uint8_t *buf = stack;
	const size_t need = (size_t)n_cols * per_col;
	if (need > sizeof stack && !(buf = host->alloc(need, 64)))
		return QNT_E_NO_MEMORY;
	const __m256i k80 = _mm256_set1_epi8((char)0x80);
	for (int64_t c = 0; c < n_cols; c++) {
		uint8_t *xu = buf + (size_t)c * per_col;
		float *d = (float *)(xu + (size_t)nb * QK_K);
		const struct blk_q8_K *b = xk + (size_t)c * (size_t)nb;
		for (int64_t i = 0; i < nb; i++) {
			for (int j = 0; j < QK_K; j += 32)
				_mm256_storeu_si256((__m256i *)(xu + (size_t)i * QK_K + j),
						    _mm256_xor_si256(load256(b[i].qs + j), k80));
			memcpy(d + i, &b[i].d, sizeof(float));
		}
	}
	struct tbls tb;
	make_tbls(f, &tb);
	const iqp_fn fn = !f->p3 ? iqp_nib8 : f->nsc == 8 ? iqp_p3_8 : f->type == QNT_TYPE_Q3_K ? iqp_q3_K : iqp_p3_16;

	for (int64_t g = job->row_begin / RG; g * RG < job->row_end; g++) {
		const uint8_t *gd = iqp_group(p, g);
		const int64_t r0 = g * RG, r1 = r0 + RG < job->row_end ? r0 + RG : job->row_end;
		for (int64_t c0 = 0; c0 < n_cols; c0 += PC) {
			const int nc = n_cols - c0 < PC ? (int)(n_cols - c0) : PC;
			struct pcol xc[PC];
			float out[PC * RG];
			for (int c = 0; c < nc; c++) {
				xc[c].xu = buf + (size_t)(c0 + c) * per_col;
				xc[c].d = (const float *)(xc[c].xu + (size_t)nb * QK_K);
			}
			fn(gd, &tb, xc, nc, nb, out);
			scatter_group(y, n_out, c0, nc, r0, r1, out, RG);
		}
	}
	if (buf != stack)
		host->free(buf);
	return QNT_OK;
}
