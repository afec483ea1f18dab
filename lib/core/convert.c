/* SPDX-License-Identifier: MIT */
/*
 * Conversion between formats without a float round trip where the target
 * can hold the source's values exactly (qnt_convert, lib/api/convert.c).
 *
 * Exact means: the target block dequantizes (libqnt's own dequantizers, the
 * f32 row API) to the same floats as the source, bit for bit, except that a
 * zero may change its sign (+0 and -0 are the same value; ggml's q4_0 gives
 * -0 for code 8 when d < 0, which no MLX affine group can reproduce).
 *
 * Every target block goes through the same steps:
 *   1. for a pair with a repacking (below), the block is repacked from the
 *      source's codes and scales, integers and scale bits only;
 *   2. the candidate is dequantized and compared with the dequantized
 *      source; if it is exact it is kept;
 *   3. otherwise (no repacking, or this block's data does not allow it) the
 *      block is requantized: the target's quantizer, without importance, on
 *      the dequantized source (for pairs without a repacking, the whole row
 *      at once, which gives the same bytes as qnt_quantize of the
 *      dequantized row). If that is not exact either, the block counts as
 *      requantized (and fails QNT_CONVERT_FLAG_EXACT_ONLY).
 * The check in step 2 makes "exact" hold by construction; the repackings are
 * designed so that it never rejects a block whose scales fit (the reference
 * test models their conditions independently and compares).
 *
 * Repackings. The affine family: formats whose values are
 *   form 1: f32(k * d)                 q4_0 q5_0 q8_0 q2_0 tq1_0 tq2_0
 *                                       (q1_0: +-d, k = -1 or 1)
 *   form 2: f32(f32(c * d) + m)        q4_1 q5_1 mlx:affine:* (q4_K q5_K:
 *                                       dl * q - ml, per 32 elements)
 * with d, m per unit of elements and integer codes k (signed) or c >= 0.
 *   1 -> 1: same d (fp16), same k; k must fit the target's range.
 *   2 -> 2: same d, m, c; d and m must be exact in the target's element
 *           type (fp16 for ggml; f32/f16/bf16 for MLX), c must fit. A group
 *           whose codes are all 0 does not need its scale: 0 is written when
 *           the scale does not fit.
 *   1 -> 2: c = k + K, scale d, bias -K*d, with K the source's offset (8 for
 *           q4_0, 16 for q5_0, 128 for q8_0, 1 for q2_0/q1_0/tq*) when the
 *           target's codes can hold the source's whole range, else -min(k)
 *           of the block; d must be finite, d and -K*d exact in the target's
 *           type. f32(c*d) and K*d are exact (11-bit d, 8-bit codes), so the
 *           sum is f32((c - K) * d), ggml's value.
 *   2 -> 1: m must be -K*d for an integer K (d finite; d = 0 needs m = 0),
 *           k = c - K must fit and d must be exact in fp16.
 * A target block that spans several source units (mlx group 64 from q4_0
 * blocks of 32, q2_0 from two q4_0) needs the same d and m bits in all.
 * q8_0 as a target takes codes -127..127 only: libqnt's quantizers never
 * write -128 (SIMD dot products that take |q| overflow on it).
 *
 * The fp4 family: E2M1 codes (same index meaning in ggml and MLX; ggml
 * stores the values doubled and the scale halved, which cancels) with a
 * scale byte per 32 (mxfp4: E8M0) or 16 (nvfp4: E4M3).
 *   mxfp4 <-> mlx:mxfp4: the scale byte is copied; the nibble order
 *     changes (ggml: j / j+16 in byte j; MLX: sequential). Byte 255 is 2^127
 *     for ggml and infinity for MLX: not exact.
 *   nvfp4 <-> mlx:nvfp4 (rows of a multiple of 64): four MLX groups per
 *     ggml block, nibble order j / j+8 per sub-block. ggml ignores the sign
 *     bit of its UE4M3 byte and reads 0x7f as 0 and 0xff as 480; MLX reads
 *     0x7f/0xff as NaN and a set sign bit as a negative scale, which becomes
 *     the flipped sign bit of every code (E2M1 code ^ 8).
 * Copies: from == to, and the dtype variants of one MLX fp mode (the dtype
 * only changes how they quantize; their blocks dequantize alike).
 * Float targets: f32 always holds the dequantized values; f16 and bf16 hold
 * those that round-trip (per element, a block of 1).
 *
 * Kinds (qnt_convert_kind), for from != to:
 *   any -> f32                                           EXACT
 *   any -> f16, bf16                                     EXACT_IF
 *   mlx:mxfp4/mxfp8/nvfp4 dtype variants among each other EXACT
 *   mxfp4 <-> mlx:mxfp4*, nvfp4 <-> mlx:nvfp4*           EXACT_IF
 *   affine family S -> T (T a target: q4_0 q5_0 q8_0 q4_1 q5_1 q2_0 mlx
 *     affine; q1_0, tq1_0, tq2_0, q4_K, q5_K are sources only):
 *     EXACT when S and T have the same form, S's unit is a multiple of T's
 *     block, S's codes fit T's, S's scale type fits T's (same, or T f32),
 *     and S's dequantizer is the form's exact expression (not q4_K/q5_K,
 *     whose dl*q - ml and q1_0's -d differ from it in the sign of a NaN);
 *     EXACT_IF otherwise. For example:
 *       q4_0 -> q5_0, q8_0; q5_0 -> q8_0; q2_0 -> q4_0         EXACT
 *       q4_1 -> q5_1, mlx:affine:{4,5,6,8}:32:{f16,f32}       EXACT
 *       mlx:affine:b:g:f16 -> q4_1 (b <= 4), q5_1 (b <= 5)
 *         for g = 32, 64, 128                                 EXACT
 *       mlx:affine:b:g:t -> mlx:affine:b':g':t' with b <= b',
 *         g' <= g and t' = t or f32                           EXACT
 *       q4_0, q5_0, q8_0, q2_0, q1_0, tq* -> mlx affine
 *         (bias -K*d)                                         EXACT_IF
 *       mlx affine -> q4_0, q5_0, q8_0, q2_0                  EXACT_IF
 *       mlx:affine:*:bf16 or :f32 -> q4_1, q5_1               EXACT_IF
 *       any target group larger than the source's unit        EXACT_IF
 *       q4_K, q5_K -> mlx:affine:{4,5,6,8}:32:f32, q4_1 ...   EXACT_IF
 *   everything else (q2_K q3_K q6_K, i-quants, q8_1, q1_0 as a target,
 *   mlx:mxfp8 -> ggml, mxfp4 <-> nvfp4, floats -> quantized)  LOSSY
 */
#include "convert.h"

#include "qnt_fp.h"
#include "quant_mlx.h"

#include <math.h>
#include <string.h>

enum {
	CV_OTHER = 0,
	/* affine family */
	CV_Q4_0,
	CV_Q5_0,
	CV_Q8_0,
	CV_Q4_1,
	CV_Q5_1,
	CV_Q2_0,
	CV_Q1_0,
	CV_TQ1_0,
	CV_TQ2_0,
	CV_Q4_K,
	CV_Q5_K,
	CV_MLX_AFFINE,
	/* fp4 family */
	CV_MXFP4,
	CV_MLX_MXFP4,
	CV_NVFP4,
	CV_MLX_NVFP4,
	/* others with a role */
	CV_MLX_MXFP8,
	CV_FLOAT
};

enum { CV_PATH_REQUANT = 0, CV_PATH_COPY, CV_PATH_AFFINE, CV_PATH_FP4 };

#define IS_AFFINE(f) ((f) >= CV_Q4_0 && (f) <= CV_MLX_AFFINE)
#define IS_FP4(f) ((f) >= CV_MXFP4 && (f) <= CV_MLX_NVFP4)

/* ------------------------------------------------------------------ */
/* Element types of scales                                              */
/* ------------------------------------------------------------------ */

static inline float fp16_f(uint16_t h)
{
	return qnt__fp16_to_fp32(h);
}

/* ggml's lowbit readers (q2_0, tq*) quiet a signalling NaN scale. */
static inline float fp16_quiet(uint16_t h)
{
	float d = qnt__fp16_to_fp32(h);
	if ((h & 0x7c00u) == 0x7c00u && (h & 0x03ffu))
		d = qnt__f32_from_bits(qnt__f32_bits(d) | 0x00400000u);
	return d;
}

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

/* A scale of element type pd at p, widened to f32 as libqnt's MLX reader
 * does. */
static inline float rd_param(const uint8_t *p, int pd)
{
	if (pd == QNT__MLX_F32) {
		float f;
		memcpy(&f, p, 4);
		return f;
	}
	uint16_t h = rd16(p);
	return pd == QNT__MLX_F16 ? qnt__fp16_to_fp32(h) : qnt__bf16_to_fp32(h);
}

/* The fp16 bits whose widening is exactly v (NaN payloads included), or -1. */
static inline int32_t fp16_exact(float v)
{
	uint32_t u = qnt__f32_bits(v);
	if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu)) {
		if (u & 0x1fffu)
			return -1;
		return (int32_t)(((u >> 16) & 0x8000u) | 0x7c00u | ((u & 0x007fffffu) >> 13));
	}
	uint16_t h = qnt__fp32_to_fp16(v);
	return qnt__f32_bits(qnt__fp16_to_fp32(h)) == u ? (int32_t)h : -1;
}

/* Writes v to p in element type pd if it is exact there; 0 if not. */
static inline int wr_param(uint8_t *p, int pd, float v)
{
	uint32_t u = qnt__f32_bits(v);
	if (pd == QNT__MLX_F32) {
		memcpy(p, &u, 4);
		return 1;
	}
	if (pd == QNT__MLX_BF16) {
		if (u & 0xffffu)
			return 0;
		wr16(p, (uint16_t)(u >> 16));
		return 1;
	}
	int32_t h = fp16_exact(v);
	if (h < 0)
		return 0;
	wr16(p, (uint16_t)h);
	return 1;
}

/* ------------------------------------------------------------------ */
/* Formats                                                              */
/* ------------------------------------------------------------------ */

static int describe(qnt_type type, struct qnt__cv_fmt *f)
{
	struct qnt__mlx_fmt m;
	memset(f, 0, sizeof *f);
	f->pd = QNT__MLX_F16;
	f->exact_ops = 1;
	f->target = 1;
	f->form = 1;
	f->unit = f->block = 32;
	switch (type) {
	case QNT_TYPE_Q4_0:
		f->fam = CV_Q4_0, f->bits = 4, f->qmin = f->tmin = -8, f->qmax = f->tmax = 7;
		return 1;
	case QNT_TYPE_Q5_0:
		f->fam = CV_Q5_0, f->bits = 5, f->qmin = f->tmin = -16, f->qmax = f->tmax = 15;
		return 1;
	case QNT_TYPE_Q8_0:
		f->fam = CV_Q8_0, f->bits = 8, f->qmin = -128, f->tmin = -127, f->qmax = f->tmax = 127;
		return 1;
	case QNT_TYPE_Q4_1:
		f->fam = CV_Q4_1, f->form = 2, f->bits = 4, f->qmax = f->tmax = 15;
		return 1;
	case QNT_TYPE_Q5_1:
		f->fam = CV_Q5_1, f->form = 2, f->bits = 5, f->qmax = f->tmax = 31;
		return 1;
	case QNT_TYPE_Q2_0:
		f->fam = CV_Q2_0, f->bits = 2, f->unit = f->block = 64, f->qmin = f->tmin = -1, f->qmax = f->tmax = 2;
		return 1;
	case QNT_TYPE_Q1_0: /* +-d: k = -1 or 1; -d is a negation, not (-1)*d (NaN signs) */
		f->fam = CV_Q1_0, f->bits = 1, f->unit = f->block = 128, f->qmin = -1, f->qmax = 1;
		f->exact_ops = 0, f->target = 0;
		return 1;
	case QNT_TYPE_TQ1_0:
	case QNT_TYPE_TQ2_0:
		f->fam = type == QNT_TYPE_TQ1_0 ? CV_TQ1_0 : CV_TQ2_0;
		f->bits = 2, f->unit = f->block = 256, f->qmin = -1, f->qmax = type == QNT_TYPE_TQ1_0 ? 1 : 2;
		f->target = 0;
		return 1;
	case QNT_TYPE_Q4_K:
	case QNT_TYPE_Q5_K:
		f->fam = type == QNT_TYPE_Q4_K ? CV_Q4_K : CV_Q5_K;
		f->form = 2, f->bits = type == QNT_TYPE_Q4_K ? 4 : 5, f->unit = 32, f->block = 256;
		f->qmax = (1 << f->bits) - 1;
		f->pd = QNT__MLX_F32, f->exact_ops = 0, f->target = 0;
		return 1;
	case QNT_TYPE_MXFP4:
		f->fam = CV_MXFP4, f->form = 0, f->bits = 4;
		return 1;
	case QNT_TYPE_NVFP4:
		f->fam = CV_NVFP4, f->form = 0, f->bits = 4, f->unit = 16, f->block = 64;
		return 1;
	case QNT_TYPE_F32:
	case QNT_TYPE_F16:
	case QNT_TYPE_BF16:
		f->fam = CV_FLOAT, f->form = 0, f->unit = f->block = 1, f->target = 0;
		return 1;
	default:
		break;
	}
	if (!qnt__mlx_fmt_of(type, &m)) {
		f->fam = CV_OTHER, f->form = 0, f->target = 0;
		return 0;
	}
	f->pd = m.d;
	f->bits = m.bits;
	f->unit = f->block = m.group_size;
	switch (m.mode) {
	case QNT_MLX_AFFINE:
		f->fam = CV_MLX_AFFINE, f->form = 2, f->qmax = f->tmax = (1 << m.bits) - 1;
		break;
	case QNT_MLX_MXFP4:
		f->fam = CV_MLX_MXFP4, f->form = 0;
		break;
	case QNT_MLX_NVFP4:
		f->fam = CV_MLX_NVFP4, f->form = 0;
		break;
	default:
		f->fam = CV_MLX_MXFP8, f->form = 0, f->target = 0;
		break;
	}
	return 1;
}

static int32_t affine_kind(const struct qnt__cv_fmt *s, const struct qnt__cv_fmt *t)
{
	if (s->form != t->form || !s->exact_ops)
		return QNT_CONVERT_EXACT_IF;
	if (s->unit % t->block != 0)
		return QNT_CONVERT_EXACT_IF;
	if (s->qmin < t->tmin || s->qmax > t->tmax)
		return QNT_CONVERT_EXACT_IF;
	if (s->pd != t->pd && t->pd != QNT__MLX_F32)
		return QNT_CONVERT_EXACT_IF;
	return QNT_CONVERT_EXACT;
}

int32_t qnt__convert_plan(qnt_type from, qnt_type to, struct qnt__conv *cv)
{
	memset(cv, 0, sizeof *cv);
	cv->ts = qnt__traits(from);
	cv->tt = qnt__traits(to);
	if (!cv->ts || !cv->tt || !cv->ts->dequantize || !cv->tt->quantize)
		return cv->kind = -1;
	describe(from, &cv->s);
	describe(to, &cv->t);
	const int fs = cv->s.fam, ft = cv->t.fam;
	cv->path = CV_PATH_REQUANT;
	if (from == to) {
		cv->path = CV_PATH_COPY;
		cv->kind = QNT_CONVERT_EXACT;
	} else if (to == QNT_TYPE_F32) {
		cv->kind = QNT_CONVERT_EXACT;
	} else if (ft == CV_FLOAT) {
		cv->kind = QNT_CONVERT_EXACT_IF;
	} else if (fs == ft && (fs == CV_MLX_MXFP4 || fs == CV_MLX_NVFP4 || fs == CV_MLX_MXFP8)) {
		cv->path = CV_PATH_COPY; /* dtype variants: same blocks, same values */
		cv->kind = QNT_CONVERT_EXACT;
	} else if (IS_AFFINE(fs) && IS_AFFINE(ft) && cv->t.target) {
		cv->path = CV_PATH_AFFINE;
		cv->kind = affine_kind(&cv->s, &cv->t);
	} else if (IS_FP4(fs) && IS_FP4(ft) && cv->s.unit == cv->t.unit) {
		cv->path = CV_PATH_FP4; /* mx <-> mx or nv <-> nv, ggml <-> MLX */
		cv->kind = QNT_CONVERT_EXACT_IF;
	} else {
		cv->kind = QNT_CONVERT_LOSSY;
	}
	return cv->kind;
}

int32_t qnt__convert_kind(qnt_type from, qnt_type to)
{
	struct qnt__conv cv;
	return qnt__convert_plan(from, to, &cv);
}

/* ------------------------------------------------------------------ */
/* Scratch                                                              */
/* ------------------------------------------------------------------ */

/* Scale (and min) of a unit, as f32 values (the bits compare for sharing). */
struct unitp {
	float d, m;
	uint8_t byte; /* fp4: the scale byte in MLX's meaning */
	uint8_t ok;   /* fp4: 0 when no MLX byte has the unit's values */
};

struct layout {
	size_t xs, yt, q, u, total;
};

static struct layout scratch_layout(int64_t n)
{
	struct layout l;
	size_t un = (size_t)n; /* units: at least 1 element each */
	l.xs = 0;
	l.yt = l.xs + ((size_t)n * sizeof(float) + 63) / 64 * 64;
	l.q = l.yt + ((size_t)n * sizeof(float) + 63) / 64 * 64;
	l.u = l.q + ((size_t)n * sizeof(int16_t) + 63) / 64 * 64;
	l.total = l.u + un * sizeof(struct unitp);
	return l;
}

uint64_t qnt__convert_scratch(const struct qnt__conv *cv, int64_t n)
{
	if (n <= 0 || (uint64_t)n > (uint64_t)(SIZE_MAX / 32))
		return 0;
	if (cv->path == CV_PATH_COPY)
		return 64;
	return scratch_layout(n).total;
}

/* ------------------------------------------------------------------ */
/* Affine family: decoding a row, encoding a target block               */
/* ------------------------------------------------------------------ */

/* Codes of a 32-element legacy block: element j < 16 in the low nibble of
 * qs[j], j + 16 in its high nibble, bit 4 (5-bit formats) bit j of qh. */
static void legacy_codes(const uint8_t *qs, const uint8_t *qh, int16_t *c)
{
	uint32_t h = qh ? (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24 : 0;
	for (int j = 0; j < 16; j++) {
		c[j] = (int16_t)((qs[j] & 0x0f) | (((h >> j) & 1u) << 4));
		c[j + 16] = (int16_t)((qs[j] >> 4) | (((h >> (j + 16)) & 1u) << 4));
	}
}

static void legacy_pack(const int16_t *c, int five, uint8_t *qs, uint8_t *qh)
{
	uint32_t h = 0;
	for (int j = 0; j < 16; j++)
		qs[j] = (uint8_t)((c[j] & 0x0f) | (c[j + 16] & 0x0f) << 4);
	if (!five)
		return;
	for (int j = 0; j < 32; j++)
		h |= (uint32_t)((c[j] >> 4) & 1) << j;
	for (int k = 0; k < 4; k++)
		qh[k] = (uint8_t)(h >> (8 * k));
}

/* A little-endian bitstream of n codes of `bits` bits (MLX's packing: the
 * uint32 words are LSB-first, stored little-endian). */
static void bits_unpack(const uint8_t *p, int n, int bits, int16_t *c)
{
	const uint32_t mask = (1u << bits) - 1u;
	for (int i = 0; i < n; i++) {
		unsigned bit = (unsigned)(i * bits), k = bit >> 3, o = bit & 7u;
		uint32_t v = p[k] >> o;
		if (o + (unsigned)bits > 8)
			v |= (uint32_t)p[k + 1] << (8 - o);
		if (o + (unsigned)bits > 16)
			v |= (uint32_t)p[k + 2] << (16 - o);
		c[i] = (int16_t)(v & mask);
	}
}

static void bits_pack(const int16_t *c, int n, int bits, uint8_t *p)
{
	memset(p, 0, (size_t)(n * bits / 8));
	for (int i = 0; i < n; i++) {
		unsigned bit = (unsigned)(i * bits), k = bit >> 3, o = bit & 7u;
		uint32_t v = (uint32_t)c[i] << o;
		p[k] |= (uint8_t)v;
		if (o + (unsigned)bits > 8)
			p[k + 1] |= (uint8_t)(v >> 8);
		if (o + (unsigned)bits > 16)
			p[k + 2] |= (uint8_t)(v >> 16);
	}
}

/* Codes of a block through its own dequantizer, with the scales replaced by
 * ones that make the values the codes (q1_0/tq1_0/tq2_0: d = 1; q4_K/q5_K:
 * d = 1, dmin = 0, every sub-scale 1 and min 0), so their packings need no
 * second implementation here. */
static void codes_by_dequant(const struct qnt__type_traits *t, const uint8_t *b, size_t bytes, size_t d_off,
			     int kq, int n, int16_t *c)
{
	uint8_t tmp[176];
	float v[256];
	static const uint8_t unit_scales[12] = { 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1 };
	memcpy(tmp, b, bytes);
	wr16(tmp + d_off, 0x3c00u);
	if (kq) {
		wr16(tmp + 2, 0);
		memcpy(tmp + 4, unit_scales, 12);
	}
	t->dequantize(tmp, v, n);
	for (int j = 0; j < n; j++)
		c[j] = (int16_t)v[j];
}

/* One row of the source into codes q[n] and units u[n / unit]. */
static void affine_decode_row(const struct qnt__conv *cv, const uint8_t *src, int64_t n, int16_t *q,
			      struct unitp *u)
{
	const struct qnt__cv_fmt *f = &cv->s;
	const size_t bb = cv->ts->block_bytes;
	const int64_t nb = n / f->block;
	for (int64_t i = 0; i < nb; i++) {
		const uint8_t *b = src + (size_t)i * bb;
		int16_t *c = q + i * f->block;
		struct unitp *up = u + i * (f->block / f->unit);
		switch (f->fam) {
		case CV_Q4_0:
		case CV_Q5_0:
			up->d = fp16_f(rd16(b));
			legacy_codes(b + (f->fam == CV_Q5_0 ? 6 : 2), f->fam == CV_Q5_0 ? b + 2 : NULL, c);
			for (int j = 0; j < 32; j++)
				c[j] = (int16_t)(c[j] + f->qmin);
			up->m = 0.0f;
			break;
		case CV_Q8_0:
			up->d = fp16_f(rd16(b));
			up->m = 0.0f;
			for (int j = 0; j < 32; j++)
				c[j] = (int8_t)b[2 + j];
			break;
		case CV_Q4_1:
		case CV_Q5_1:
			up->d = fp16_f(rd16(b));
			up->m = fp16_f(rd16(b + 2));
			legacy_codes(b + (f->fam == CV_Q5_1 ? 8 : 4), f->fam == CV_Q5_1 ? b + 4 : NULL, c);
			break;
		case CV_Q2_0:
			up->d = fp16_quiet(rd16(b));
			up->m = 0.0f;
			bits_unpack(b + 2, 64, 2, c);
			for (int j = 0; j < 64; j++)
				c[j] = (int16_t)(c[j] - 1);
			break;
		case CV_TQ1_0:
		case CV_TQ2_0: {
			const size_t d_off = f->fam == CV_TQ1_0 ? 52 : 64;
			up->d = fp16_quiet(rd16(b + d_off));
			up->m = 0.0f;
			codes_by_dequant(cv->ts, b, bb, d_off, 0, 256, c);
			break;
		}
		case CV_Q1_0:
			up->d = fp16_quiet(rd16(b));
			up->m = 0.0f;
			codes_by_dequant(cv->ts, b, bb, 0, 0, 128, c);
			break;
		case CV_Q4_K:
		case CV_Q5_K: {
			const float d = fp16_f(rd16(b)), dmin = fp16_f(rd16(b + 2));
			const uint8_t *s = b + 4;
			for (int j = 0; j < 8; j++) {
				int sc, m;
				if (j < 4) {
					sc = s[j] & 63;
					m = s[j + 4] & 63;
				} else {
					sc = (s[j + 4] & 0x0f) | ((s[j - 4] >> 6) << 4);
					m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
				}
				up[j].d = d * (float)sc;
				up[j].m = -(dmin * (float)m);
			}
			codes_by_dequant(cv->ts, b, bb, 0, 1, 256, c);
			break;
		}
		default: { /* MLX affine: codes, scale, bias */
			const int cb = f->block * f->bits / 8;
			const size_t ds = f->pd == QNT__MLX_F32 ? 4 : 2;
			bits_unpack(b, f->block, f->bits, c);
			up->d = rd_param(b + cb, f->pd);
			up->m = rd_param(b + cb + ds, f->pd);
			break;
		}
		}
	}
}

static inline int same_bits(float a, float b)
{
	return qnt__f32_bits(a) == qnt__f32_bits(b);
}

/* Target block starting at element e0: a candidate from the source's codes
 * q and units u. Returns 1 if one was written to dst (still to be checked),
 * 0 when this block's data does not allow one. */
static int affine_encode(const struct qnt__conv *cv, const int16_t *q, const struct unitp *u, int64_t e0,
			 uint8_t *dst)
{
	const struct qnt__cv_fmt *s = &cv->s, *t = &cv->t;
	const int gt = t->block;
	int16_t c[256];
	const struct unitp *u0 = u + e0 / s->unit;
	const int64_t u_last = (e0 + gt - 1) / s->unit;
	for (const struct unitp *p = u0 + 1; p <= u + u_last; p++)
		if (!same_bits(p->d, u0->d) || !same_bits(p->m, u0->m))
			return 0;
	const float d = u0->d, m = u0->m;
	int kmin = INT32_MAX, kmax = INT32_MIN;
	for (int j = 0; j < gt; j++) {
		c[j] = q[e0 + j];
		kmin = c[j] < kmin ? c[j] : kmin;
		kmax = c[j] > kmax ? c[j] : kmax;
	}

	if (t->form == 2) {
		float sc = d, bias = m;
		if (s->form == 1) {
			if (!isfinite(d))
				return 0;
			int K = (s->qmax - s->qmin <= t->tmax) ? -s->qmin : -kmin;
			if (kmin + K < 0 || kmax + K > t->tmax)
				return 0;
			for (int j = 0; j < gt; j++)
				c[j] = (int16_t)(c[j] + K);
			bias = (float)-K * d;
			kmax += K;
		} else if (kmax > t->tmax) {
			return 0;
		}
		/* scale and bias in the target's type; the scale of an all-zero
		 * group is not needed */
		if (t->fam == CV_MLX_AFFINE) {
			const int cb = gt * t->bits / 8;
			const size_t ds = t->pd == QNT__MLX_F32 ? 4 : 2;
			bits_pack(c, gt, t->bits, dst);
			if (!wr_param(dst + cb, t->pd, sc) && !(kmax == 0 && wr_param(dst + cb, t->pd, 0.0f)))
				return 0;
			return wr_param(dst + cb + ds, t->pd, bias);
		}
		int32_t hd = fp16_exact(sc), hm = fp16_exact(bias);
		if (hd < 0 && kmax == 0)
			hd = 0;
		if (hd < 0 || hm < 0)
			return 0;
		wr16(dst, (uint16_t)hd);
		wr16(dst + 2, (uint16_t)hm);
		if (t->fam == CV_Q4_1)
			legacy_pack(c, 0, dst + 4, NULL);
		else
			legacy_pack(c, 1, dst + 8, dst + 4);
		return 1;
	}

	/* form 1 target: k * d */
	float dd = d;
	if (s->form == 2) {
		if (!isfinite(d) || !isfinite(m))
			return 0;
		int K;
		if (d == 0.0f) {
			if (m != 0.0f)
				return 0;
			for (int j = 0; j < gt; j++)
				c[j] = 0;
			kmin = kmax = 0;
			K = 0;
		} else {
			float r = -m / d;
			if (!(fabsf(r) <= 1024.0f))
				return 0;
			K = (int)rintf(r);
			if ((float)-K * d != m)
				return 0;
			for (int j = 0; j < gt; j++)
				c[j] = (int16_t)(c[j] - K);
			kmin -= K;
			kmax -= K;
		}
	}
	if (kmin < t->tmin || kmax > t->tmax)
		return 0;
	int32_t hd = fp16_exact(dd);
	if (hd < 0)
		return 0;
	wr16(dst, (uint16_t)hd);
	switch (t->fam) {
	case CV_Q4_0:
	case CV_Q5_0:
		for (int j = 0; j < 32; j++)
			c[j] = (int16_t)(c[j] - t->tmin);
		if (t->fam == CV_Q4_0)
			legacy_pack(c, 0, dst + 2, NULL);
		else
			legacy_pack(c, 1, dst + 6, dst + 2);
		break;
	case CV_Q8_0:
		for (int j = 0; j < 32; j++)
			dst[2 + j] = (uint8_t)(int8_t)c[j];
		break;
	default: /* q2_0 */
		for (int j = 0; j < 64; j++)
			c[j] = (int16_t)(c[j] + 1);
		bits_pack(c, 64, 2, dst + 2);
		break;
	}
	return 1;
}

/* ------------------------------------------------------------------ */
/* fp4 family                                                           */
/* ------------------------------------------------------------------ */

/* One row into E2M1 codes q[n] and units (MLX's scale byte) u[n / unit]. */
static void fp4_decode_row(const struct qnt__conv *cv, const uint8_t *src, int64_t n, int16_t *q,
			   struct unitp *u)
{
	const struct qnt__cv_fmt *f = &cv->s;
	const size_t bb = cv->ts->block_bytes;
	for (int64_t i = 0; i < n / f->block; i++) {
		const uint8_t *b = src + (size_t)i * bb;
		int16_t *c = q + i * f->block;
		struct unitp *up = u + i * (f->block / f->unit);
		switch (f->fam) {
		case CV_MXFP4: /* e, then element j / j + 16 in byte j */
			for (int j = 0; j < 16; j++) {
				c[j] = b[1 + j] & 0x0f;
				c[j + 16] = b[1 + j] >> 4;
			}
			up->byte = b[0];
			up->ok = b[0] != 0xff; /* 2^127 for ggml, inf for MLX */
			break;
		case CV_NVFP4: /* four UE4M3 bytes, then per 16: j / j + 8 in byte j */
			for (int s = 0; s < 4; s++) {
				const uint8_t *qs = b + 4 + 8 * s;
				for (int j = 0; j < 8; j++) {
					c[16 * s + j] = qs[j] & 0x0f;
					c[16 * s + j + 8] = qs[j] >> 4;
				}
				/* ggml: sign bit ignored, 0x7f is 0, 0xff is 480 */
				const uint8_t x = b[s];
				up[s].ok = x != 0xff;
				up[s].byte = x == 0x7f ? 0 : (uint8_t)(x & 0x7f);
			}
			break;
		default: /* MLX: sequential codes, then the scale byte */
			for (int j = 0; j < f->block / 2; j++) {
				c[2 * j] = b[j] & 0x0f;
				c[2 * j + 1] = b[j] >> 4;
			}
			up->byte = b[f->block / 2];
			up->ok = 1;
			break;
		}
	}
}

static int fp4_encode(const struct qnt__conv *cv, const int16_t *q, const struct unitp *u, int64_t e0,
		      uint8_t *dst)
{
	const struct qnt__cv_fmt *t = &cv->t;
	const int64_t u0 = e0 / cv->s.unit;
	switch (t->fam) {
	case CV_MXFP4:
		if (!u[u0].ok || u[u0].byte == 0xff)
			return 0;
		dst[0] = u[u0].byte;
		for (int j = 0; j < 16; j++)
			dst[1 + j] = (uint8_t)(q[e0 + j] | q[e0 + j + 16] << 4);
		return 1;
	case CV_NVFP4:
		for (int s = 0; s < 4; s++) {
			const struct unitp *p = &u[u0 + s];
			const int16_t *c = q + e0 + 16 * s;
			if (!p->ok || (p->byte & 0x7f) == 0x7f) /* NaN for MLX */
				return 0;
			const uint8_t flip = p->byte & 0x80 ? 8 : 0; /* negative scale: flip the codes */
			dst[s] = p->byte & 0x7f;
			for (int j = 0; j < 8; j++)
				dst[4 + 8 * s + j] = (uint8_t)((c[j] ^ flip) | (c[j + 8] ^ flip) << 4);
		}
		return 1;
	default: /* MLX mxfp4 / nvfp4 */
		if (!u[u0].ok)
			return 0;
		for (int j = 0; j < t->block / 2; j++)
			dst[j] = (uint8_t)(q[e0 + 2 * j] | q[e0 + 2 * j + 1] << 4);
		dst[t->block / 2] = u[u0].byte;
		return 1;
	}
}

/* ------------------------------------------------------------------ */
/* Rows                                                                 */
/* ------------------------------------------------------------------ */

/* Equal values: the same bits, or two zeros. */
static int same_values(const float *a, const float *b, int64_t n)
{
	for (int64_t j = 0; j < n; j++) {
		uint32_t x = qnt__f32_bits(a[j]), y = qnt__f32_bits(b[j]);
		if (x != y && ((x | y) & 0x7fffffffu) != 0)
			return 0;
	}
	return 1;
}

/* Keeps the candidate in dst (if `have`) when it is exact, else requantizes
 * the block from x. Returns 1 when the block's values are not x. */
static int settle(const struct qnt__conv *cv, const float *x, uint8_t *dst, int64_t bt, int have, float *y)
{
	if (have) {
		cv->tt->dequantize(dst, y, bt);
		if (same_values(x, y, bt))
			return 0;
	}
	cv->tt->quantize(x, dst, 1, bt, NULL);
	cv->tt->dequantize(dst, y, bt);
	return !same_values(x, y, bt);
}

int64_t qnt__convert_row(const struct qnt__conv *cv, const void *src, void *dst, int64_t n, int exact_only,
			 void *scratch, int64_t *bad)
{
	const int64_t bt = cv->tt->block_size, nbt = n / bt;
	const size_t tbb = cv->tt->block_bytes;
	uint8_t *out = dst;
	int64_t inexact = 0;

	if (cv->path == CV_PATH_COPY) {
		memcpy(dst, src, (size_t)(n / cv->ts->block_size) * cv->ts->block_bytes);
		return 0;
	}
	const struct layout l = scratch_layout(n);
	float *xs = (float *)((char *)scratch + l.xs);
	float *yt = (float *)((char *)scratch + l.yt);
	int16_t *q = (int16_t *)(void *)((char *)scratch + l.q);
	struct unitp *u = (struct unitp *)(void *)((char *)scratch + l.u);

	cv->ts->dequantize(src, xs, n);

	if (cv->path == CV_PATH_REQUANT) {
		cv->tt->quantize(xs, dst, 1, n, NULL);
		if (cv->tt->id == QNT_TYPE_F32)
			return 0; /* the floats themselves */
		cv->tt->dequantize(dst, yt, n);
		for (int64_t b = 0; b < nbt; b++) {
			if (same_values(xs + b * bt, yt + b * bt, bt))
				continue;
			if (exact_only) {
				*bad = b;
				return 1;
			}
			inexact++;
		}
		return inexact;
	}

	if (cv->path == CV_PATH_AFFINE)
		affine_decode_row(cv, src, n, q, u);
	else
		fp4_decode_row(cv, src, n, q, u);
	for (int64_t b = 0; b < nbt; b++) {
		uint8_t *d = out + (size_t)b * tbb;
		int have = cv->path == CV_PATH_AFFINE ? affine_encode(cv, q, u, b * bt, d) : fp4_encode(cv, q, u, b * bt, d);
		if (!settle(cv, xs + b * bt, d, bt, have, yt))
			continue;
		if (exact_only) {
			*bad = b;
			return 1;
		}
		inexact++;
	}
	return inexact;
}
