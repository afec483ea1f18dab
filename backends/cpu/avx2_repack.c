/* SPDX-License-Identifier: MIT */
/*
 * cpu-avx2 prepared weights (qnt_matrix_prepare): q4_0, q8_0 and q4_K copied
 * into groups of eight interleaved rows, and their matrix products.
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
 * 10.5 GB/s, q8_0 10.6 -> 12.5 GB/s on the shared 2-core machine); q4_K
 * gained nothing from it (6.8 / 7.8 GB/s with, 6.9 / 8.2 without) and has
 * none.
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
 * Each output depends only on its row and column: the group, the column
 * group and the thread do not change how it is computed.
 */
#include "cpu_avx2.h"
#include "avx2_repack_iq.h"
#include "avx2_util.h"
#include "qnt_blocks.h"

#include <immintrin.h>
#include <string.h>

#define RG 8     /* rows per group */
#define PC 4     /* columns per pass over a group */
#define PF_BLOCKS 8 /* software prefetch of the codes this many blocks ahead */

struct rp {
	qnt_type wtype;
	int64_t n_out, n_in, nb, groups;
	size_t word_bytes;  /* codes of one block of the group: 128 (q4_0), 256 (q8_0), 1024 (q4_K) */
	size_t group_bytes; /* nb * (word_bytes + 16), q4_K nb * (word_bytes + K4_META) */
};

#define RP_HEADER 64
_Static_assert(sizeof(struct rp) <= RP_HEADER, "header fits before the groups");

INLINE const uint8_t *rp_group(const struct rp *p, int64_t g)
{
	return (const uint8_t *)p + RP_HEADER + (size_t)g * p->group_bytes;
}

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
			memcpy(meta + 2 * r, &b->d, 2);
			memcpy(meta + K4_DMIN + 2 * r, &b->dmin, 2);
			for (int j = 0; j < 8; j++) {
				uint8_t sc, mn;
				k4_scale_min(b->scales, j, &sc, &mn);
				meta[K4_SC + RG * j + r] = sc;
				meta[K4_MN + 2 * RG * (j / 2) + 2 * r + (j % 2)] = mn;
			}
			for (int wd = 0; wd < 32; wd++)
				memcpy(cw + (size_t)wd * 32 + (size_t)r * 4, b->qs + 4 * wd, 4);
		}
	}
}

qnt_status qnt__avx2_matrix_prepare(void *state, qnt_type wtype, const void *w, int64_t n_out, int64_t n_in,
				    void **prepared, int64_t *row_group)
{
	const qnt_host_api *host = state;
	if (qnt__avx2_iqp_handles(wtype)) /* the lattice i-quants: avx2_repack_iq.c */
		return qnt__avx2_iqp_prepare(host, wtype, w, n_out, n_in, prepared, row_group);
	size_t word_bytes, blk_bytes, meta_bytes = 2 * RG;
	int64_t bs = QK;
	if (wtype == QNT_TYPE_Q4_0) {
		word_bytes = RG * QK / 2;
		blk_bytes = sizeof(struct blk_q4_0);
	} else if (wtype == QNT_TYPE_Q8_0) {
		word_bytes = RG * QK;
		blk_bytes = sizeof(struct blk_q8_0);
	} else if (wtype == QNT_TYPE_Q4_K) {
		word_bytes = RG * QK_K / 2;
		blk_bytes = sizeof(struct blk_q4_K);
		meta_bytes = K4_META;
		bs = QK_K;
	} else {
		return QNT_E_UNSUPPORTED;
	}
	if (n_out < 1 || n_in < bs || n_in % bs != 0)
		return QNT_E_INVALID_ARG;
	const int64_t nb = n_in / bs, groups = (n_out + RG - 1) / RG;
	const size_t group_bytes = (size_t)nb * (word_bytes + meta_bytes);
	if ((uint64_t)groups > (SIZE_MAX - RP_HEADER) / group_bytes)
		return QNT_E_BAD_SHAPE;
	struct rp *p = host->alloc(RP_HEADER + (size_t)groups * group_bytes, 64);
	if (!p)
		return QNT_E_NO_MEMORY;
	p->wtype = wtype;
	p->n_out = n_out;
	p->n_in = n_in;
	p->nb = nb;
	p->groups = groups;
	p->word_bytes = word_bytes;
	p->group_bytes = group_bytes;
	const size_t rs = (size_t)nb * blk_bytes, code_bytes = blk_bytes - 2;
	if (wtype == QNT_TYPE_Q4_K) {
		for (int64_t g = 0; g < groups; g++)
			k4_group((uint8_t *)rp_group(p, g), (const uint8_t *)w + (size_t)(g * RG) * rs, rs,
				 n_out - g * RG < RG ? (int)(n_out - g * RG) : RG, nb);
		*prepared = p;
		*row_group = RG;
		return QNT_OK;
	}
	for (int64_t g = 0; g < groups; g++) {
		uint8_t *codes = (uint8_t *)rp_group(p, g);
		uint8_t *scales = codes + (size_t)nb * word_bytes;
		for (int64_t i = 0; i < nb; i++) {
			uint8_t *cw = codes + (size_t)i * word_bytes;
			uint8_t *sw = scales + (size_t)i * 2 * RG;
			for (int r = 0; r < RG; r++) {
				const int64_t row = g * RG + r;
				if (row >= n_out) {
					memset(sw + 2 * r, 0, 2);
					for (size_t j = 0; j < code_bytes / 4; j++)
						memset(cw + j * 32 + (size_t)r * 4, 0, 4);
					continue;
				}
				/* both block kinds: the f16 scale d, then the codes */
				const uint8_t *b = (const uint8_t *)w + (size_t)row * rs + (size_t)i * blk_bytes;
				memcpy(sw + 2 * r, b, 2);
				for (size_t j = 0; j < code_bytes / 4; j++)
					memcpy(cw + j * 32 + (size_t)r * 4, b + 2 + 4 * j, 4);
			}
		}
	}
	*prepared = p;
	*row_group = RG;
	return QNT_OK;
}

void qnt__avx2_matrix_free(const qnt_host_api *host, void *prepared)
{
	if (prepared)
		host->free(prepared);
}

/* One column of q8_0 activations: its blocks, and per block the scale d and
 * (q4_0) 8 * d * the sum of the codes. */
struct pcol {
	const struct blk_q8_0 *b;
	const float *d, *s8;
	const struct blk_q8_K *k; /* q4_K: the q8_K blocks, d and s8 unused */
	const int16_t *bx;        /* q4_K: per super-block the 8 sums of 32 codes */
};

INLINE __m256i bcast4(const int8_t *p)
{
	return _mm256_set1_epi32((int)load_u32(p));
}

/* One group (rows g*8 .. g*8+7) against nc columns: out[c * 8 + r]. */
INLINE void q4_0_body(const uint8_t *codes, const uint16_t *scales, const struct pcol *x, int nc, int64_t nb,
		      float *out)
{
	const __m256i m4 = _mm256_set1_epi8(0x0f), ones = _mm256_set1_epi16(1);
	__m256 acc[PC];
	UNROLL for (int c = 0; c < nc; c++)
		acc[c] = _mm256_setzero_ps();
	for (int64_t i = 0; i < nb; i++) {
		const uint8_t *q = codes + (size_t)i * (RG * QK / 2);
		_mm_prefetch((const char *)q + PF_BLOCKS * (RG * QK / 2), _MM_HINT_T0);
		_mm_prefetch((const char *)q + PF_BLOCKS * (RG * QK / 2) + 64, _MM_HINT_T0);
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
		const __m256 d8 = _mm256_cvtph_ps(load128(scales + (size_t)i * RG));
		UNROLL for (int c = 0; c < nc; c++) {
			const __m256 t = _mm256_fmsub_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(s16[c], ones)),
							 _mm256_set1_ps(x[c].d[i]), _mm256_set1_ps(x[c].s8[i]));
			acc[c] = _mm256_fmadd_ps(d8, t, acc[c]);
		}
	}
	UNROLL for (int c = 0; c < nc; c++)
		_mm256_storeu_ps(out + c * RG, acc[c]);
}

INLINE void q8_0_body(const uint8_t *codes, const uint16_t *scales, const struct pcol *x, int nc, int64_t nb,
		      float *out)
{
	const __m256i ones = _mm256_set1_epi16(1);
	__m256 acc[PC];
	UNROLL for (int c = 0; c < nc; c++)
		acc[c] = _mm256_setzero_ps();
	for (int64_t i = 0; i < nb; i++) {
		const uint8_t *q = codes + (size_t)i * (RG * QK);
		UNROLL for (int k = 0; k < 4; k++)
			_mm_prefetch((const char *)q + PF_BLOCKS * (RG * QK) + 64 * k, _MM_HINT_T0);
		__m256i s32[PC];
		UNROLL for (int c = 0; c < nc; c++)
			s32[c] = _mm256_setzero_si256();
		UNROLL for (int j = 0; j < 8; j++) {
			const __m256i v = load256(q + 32 * j);
			const __m256i a = _mm256_sign_epi8(v, v);
			UNROLL for (int c = 0; c < nc; c++) {
				const __m256i xs = _mm256_sign_epi8(bcast4(x[c].b[i].qs + 4 * j), v);
				s32[c] = _mm256_add_epi32(s32[c], _mm256_madd_epi16(_mm256_maddubs_epi16(a, xs), ones));
			}
		}
		const __m256 d8 = _mm256_cvtph_ps(load128(scales + (size_t)i * RG));
		UNROLL for (int c = 0; c < nc; c++)
			acc[c] = _mm256_fmadd_ps(d8, _mm256_mul_ps(_mm256_cvtepi32_ps(s32[c]), _mm256_set1_ps(x[c].d[i])),
						 acc[c]);
	}
	UNROLL for (int c = 0; c < nc; c++)
		_mm256_storeu_ps(out + c * RG, acc[c]);
}

INLINE void q4_K_body(const uint8_t *codes, const uint16_t *scales, const struct pcol *x, int nc, int64_t nb,
		      float *out)
{
	const __m256i m4 = _mm256_set1_epi8(0x0f);
	const uint8_t *meta0 = (const uint8_t *)scales;
	__m256 acc[PC];
	UNROLL for (int c = 0; c < nc; c++)
		acc[c] = _mm256_setzero_ps();
	for (int64_t i = 0; i < nb; i++) {
		const uint8_t *q = codes + (size_t)i * (RG * QK_K / 2), *meta = meta0 + (size_t)i * K4_META;
		__m256i isum[PC], msum[PC];
		UNROLL for (int c = 0; c < nc; c++)
			isum[c] = msum[c] = _mm256_setzero_si256();
		for (int h = 0; h < 4; h++) {
			__m256i slo[PC], shi[PC];
			UNROLL for (int c = 0; c < nc; c++)
				slo[c] = shi[c] = _mm256_setzero_si256();
			UNROLL for (int t = 0; t < 8; t++) {
				const __m256i v = load256(q + 32 * (8 * h + t));
				const __m256i lo = _mm256_and_si256(v, m4);
				const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
				UNROLL for (int c = 0; c < nc; c++) {
					const int8_t *xq = x[c].k[i].qs + 64 * h + 4 * t;
					slo[c] = _mm256_add_epi16(slo[c], _mm256_maddubs_epi16(lo, bcast4(xq)));
					shi[c] = _mm256_add_epi16(shi[c], _mm256_maddubs_epi16(hi, bcast4(xq + 32)));
				}
			}
			/* the eight rows' scales of sub-blocks 2h and 2h + 1, each in both halves of its lane */
			const __m128i sc = _mm_loadu_si128((const __m128i *)(meta + K4_SC + RG * 2 * h));
			const __m256i sclo = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(sc, sc));
			const __m256i schi = _mm256_cvtepu8_epi16(_mm_unpackhi_epi8(sc, sc));
			const __m256i mn = _mm256_cvtepu8_epi16(load128(meta + K4_MN + 2 * RG * h));
			UNROLL for (int c = 0; c < nc; c++) {
				isum[c] = _mm256_add_epi32(isum[c], _mm256_madd_epi16(slo[c], sclo));
				isum[c] = _mm256_add_epi32(isum[c], _mm256_madd_epi16(shi[c], schi));
				msum[c] = _mm256_add_epi32(msum[c], _mm256_madd_epi16(mn, bcast4((const int8_t *)(x[c].bx + 8 * i + 2 * h))));
			}
		}
		const __m256 d8 = _mm256_cvtph_ps(load128(meta)), dm8 = _mm256_cvtph_ps(load128(meta + K4_DMIN));
		UNROLL for (int c = 0; c < nc; c++) {
			__m256 a = _mm256_mul_ps(d8, _mm256_cvtepi32_ps(isum[c]));
			a = _mm256_fnmadd_ps(dm8, _mm256_cvtepi32_ps(msum[c]), a);
			acc[c] = _mm256_fmadd_ps(_mm256_set1_ps(x[c].k[i].d), a, acc[c]);
		}
	}
	UNROLL for (int c = 0; c < nc; c++)
		_mm256_storeu_ps(out + c * RG, acc[c]);
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

/* Per block of one q8_0 column: d, and 8 * d * the sum of its codes. */
static void column_scales(const struct blk_q8_0 *b, int64_t nb, float *d, float *s8)
{
	for (int64_t i = 0; i < nb; i++) {
		const __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(1), load256(b[i].qs)),
						    _mm256_set1_epi16(1));
		__m128i t = _mm_add_epi32(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
		t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4e));
		t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xb1));
		d[i] = h2f(b[i].d);
		s8[i] = 8.0f * (d[i] * (float)_mm_cvtsi128_si32(t));
	}
}

/* Per super-block of one q8_K column: its 8 sums of 32 codes (bsums in pairs). */
static void k4_column_sums(const struct blk_q8_K *b, int64_t nb, int16_t *bx)
{
	for (int64_t i = 0; i < nb; i++) {
		const __m128i lo = load128(b[i].bsums), hi = load128(b[i].bsums + 8);
		_mm_storeu_si128((__m128i *)(bx + 8 * i), _mm_hadd_epi16(lo, hi));
	}
}

qnt_status qnt__avx2_matmul_prepared(void *state, const qnt_matmul_job *job)
{
	const qnt_host_api *host = state;
	if (qnt__avx2_iqp_handles(job->wtype))
		return qnt__avx2_iqp_matmul(host, job);
	const struct rp *p = job->w.host;
	if (!p || job->w.buffer || job->x.buffer || job->y.buffer || p->wtype != job->wtype ||
	    p->n_out != job->n_out || p->n_in != job->n_in || job->row_begin < 0 || job->row_begin % RG != 0 ||
	    job->row_end > job->n_out || job->row_begin > job->row_end)
		return QNT_E_INVALID_ARG;
	const int k4 = p->wtype == QNT_TYPE_Q4_K;
	if (!job->xq || job->xq_type != (k4 ? QNT_TYPE_Q8_K : QNT_TYPE_Q8_0))
		return QNT_E_INVALID_ARG;
	const group_fn fn = k4 ? q4_K : p->wtype == QNT_TYPE_Q4_0 ? q4_0 : q8_0;
	const int64_t nb = p->nb, n_out = p->n_out, n_cols = job->n_cols;
	const struct blk_q8_0 *xq = job->xq;
	const struct blk_q8_K *xk = job->xq;
	float *y = job->y.host;

	/* per column: legacy d and s8 (2 floats a block), q4_K the sums bx
	 * (8 int16 a super-block, the room of 4 floats) */
	const size_t per_col = (size_t)nb * (k4 ? 4 : 2);
	float stack[4096], *ds = stack;
	const size_t need = (size_t)n_cols * per_col;
	if (need > sizeof stack / sizeof stack[0] && !(ds = host->alloc(need * sizeof(float), 64)))
		return QNT_E_NO_MEMORY;
	for (int64_t c = 0; c < n_cols; c++) {
		if (k4)
			k4_column_sums(xk + (size_t)c * (size_t)nb, nb, (int16_t *)(ds + (size_t)c * per_col));
		else
			column_scales(xq + (size_t)c * (size_t)nb, nb, ds + (size_t)c * per_col,
				      ds + (size_t)c * per_col + nb);
	}

	for (int64_t g = job->row_begin / RG; g * RG < job->row_end; g++) {
		const uint8_t *codes = rp_group(p, g);
		const uint16_t *scales = (const uint16_t *)(codes + (size_t)nb * p->word_bytes);
		const int64_t r0 = g * RG, r1 = r0 + RG < job->row_end ? r0 + RG : job->row_end;
		for (int64_t c0 = 0; c0 < n_cols; c0 += PC) {
			const int nc = n_cols - c0 < PC ? (int)(n_cols - c0) : PC;
			struct pcol xc[PC];
			float out[PC * RG];
			for (int c = 0; c < nc; c++) {
				const float *cs = ds + (size_t)(c0 + c) * per_col;
				xc[c].b = k4 ? NULL : xq + (size_t)(c0 + c) * (size_t)nb;
				xc[c].d = k4 ? NULL : cs;
				xc[c].s8 = k4 ? NULL : cs + nb;
				xc[c].k = k4 ? xk + (size_t)(c0 + c) * (size_t)nb : NULL;
				xc[c].bx = k4 ? (const int16_t *)cs : NULL;
			}
			fn(codes, scales, xc, nc, nb, out);
			for (int c = 0; c < nc; c++)
				for (int64_t r = r0; r < r1; r++)
					y[(c0 + c) * n_out + r] = out[c * RG + (r - r0)];
		}
	}
	if (ds != stack)
		host->free(ds);
	return QNT_OK;
}
