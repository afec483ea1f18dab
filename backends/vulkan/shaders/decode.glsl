// SPDX-License-Identifier: MIT
// Element decoders of the weight formats, shared by dequant.comp and
// matmul.comp. Each one gives the float the scalar reference
// (lib/core/quant_*.c) computes for element `col` of a row that starts at
// byte `row` of W: the same IEEE operations in the same order, products and
// sums marked `precise` so that no compiler fuses them into an FMA.
//
// The weights are read as 32-bit words and cut into bytes, so blocks need
// no alignment (an 18-byte q4_0 block starts anywhere).

// Format codes (the backend maps qnt_type to them; see vulkan_backend.c).
#define F_F32 0u
#define F_F16 1u
#define F_BF16 2u
#define F_Q4_0 3u
#define F_Q4_1 4u
#define F_Q5_0 5u
#define F_Q5_1 6u
#define F_Q8_0 7u
#define F_Q2_K 8u
#define F_Q3_K 9u
#define F_Q4_K 10u
#define F_Q5_K 11u
#define F_Q6_K 12u
#define F_Q8_K 13u
#define F_Q8_1 14u
#define F_IQ2_XXS 15u
#define F_IQ2_XS 16u
#define F_IQ2_S 17u
#define F_IQ3_XXS 18u
#define F_IQ3_S 19u
#define F_IQ1_S 20u
#define F_IQ1_M 21u
#define F_IQ4_NL 22u
#define F_IQ4_XS 23u
#define F_TQ1_0 24u
#define F_TQ2_0 25u
#define F_MXFP4 26u
#define F_NVFP4 27u
#define F_Q1_0 28u
#define F_Q2_0 29u
#define F_MLX_AFFINE 30u // MLX: bits, group and element type below
#define F_MLX_MXFP4 31u
#define F_MLX_MXFP8 32u
#define F_MLX_NVFP4 33u

// MLX formats: code bits, group size and the element type of the scales
// and biases (0 f32, 1 f16, 2 bf16) come as push constants, so that one
// pipeline per mode serves the 63 MLX formats (each pipeline is compiled
// when first used, which takes seconds on a CPU device).
#define MLX_BITS p.mlx_bits
#define MLX_GROUP p.mlx_group
#define MLX_DT p.mlx_dt

// The i-quant grids (lib/core/iquants_tables.c), one code per word, in
// this order; vulkan_backend.c uploads them from the C tables.
layout(std430, set = 0, binding = 3) readonly buffer TBuf { uint T[]; };
#define T_IQ2XXS 0u
#define T_IQ2XS 256u
#define T_IQ2S 768u
#define T_IQ1S 1792u
#define T_IQ3XXS 3840u
#define T_IQ3S 4096u

uint byte_at(uint b)
{
	return (W[b >> 2] >> ((b & 3u) * 8u)) & 0xffu;
}

// 4 bytes from any byte offset (two aligned loads at most).
uint u32u(uint b)
{
	const uint s = (b & 3u) * 8u, lo = W[b >> 2];
	return s == 0u ? lo : (lo >> s) | (W[(b >> 2) + 1u] << (32u - s));
}

// 2 bytes from any byte offset (one load unless they straddle a word).
uint u16_at(uint b)
{
	return (b & 3u) == 3u ? byte_at(b) | (byte_at(b + 1u) << 8) : (W[b >> 2] >> ((b & 3u) * 8u)) & 0xffffu;
}

uint u32_at(uint b)
{
	return u32u(b);
}

int s8(uint v)
{
	return int(v << 24) >> 24;
}

// IEEE half -> float, as qnt__fp16_to_fp32: NaN payloads kept, subnormals
// as man * 2^-24 (exact).
float h2f(uint h)
{
	uint sign = (h & 0x8000u) << 16;
	uint e = (h >> 10) & 0x1fu;
	uint man = h & 0x3ffu;
	if (e == 0x1fu)
		return uintBitsToFloat(sign | 0x7f800000u | (man << 13));
	if (e == 0u) {
		if (man == 0u)
			return uintBitsToFloat(sign);
		precise float v = float(man) * 5.9604644775390625e-8; // 2^-24
		return sign != 0u ? -v : v;
	}
	return uintBitsToFloat(sign | ((e + 112u) << 23) | (man << 13));
}

// Legacy blocks of 32: low nibbles are elements 0-15, high nibbles 16-31;
// bit j of qh (little-endian word) is bit 4 of element j.
uint nibble(uint qs, uint j)
{
	uint q = byte_at(qs + (j & 15u));
	return j < 16u ? (q & 15u) : (q >> 4);
}

// 6-bit scale and min j of q4_K/q5_K (12 bytes at s).
uvec2 scale_min_6bit(uint s, uint j)
{
	if (j < 4u)
		return uvec2(byte_at(s + j) & 63u, byte_at(s + j + 4u) & 63u);
	return uvec2((byte_at(s + j + 4u) & 15u) | ((byte_at(s + j - 4u) >> 6) << 4),
		     (byte_at(s + j + 4u) >> 4) | ((byte_at(s + j) >> 6) << 4));
}

// (d * sc) * q - dmin * m, each product rounded to float (ggml's order).
float kval(float d, float dmin, int sc, int m, int q)
{
	precise float dl = d * float(sc);
	precise float ml = dmin * float(m);
	precise float v = dl * float(q) - ml;
	return v;
}

float f32_at(uint b)
{
	return uintBitsToFloat(u32_at(b));
}

// ggml's iq4_nl values and the E2M1 values of ggml (doubled) and MLX.
const int KV_IQ4[16] = int[](-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
const int KV_FP4[16] = int[](0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12);
const float E2M1[16] = float[](0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, -0.0, -0.5, -1.0, -1.5, -2.0, -3.0, -4.0, -6.0);

// ggml's ksigns_iq2xs: 7 stored sign bits and an 8th for even parity.
uint ksign(uint s7)
{
	s7 &= 127u;
	return s7 | ((bitCount(s7) & 1u) << 7);
}

// x * 2^e for an x whose product is exact in float (or overflows): built
// from the bits, so that a subnormal result is not flushed to zero.
float ldexp_exact(float x, int e)
{
	const uint u = floatBitsToUint(x), sign = u & 0x80000000u;
	const int ex = int((u >> 23) & 0xffu);
	if (ex == 0xff || (u & 0x7fffffffu) == 0u)
		return x;
	uint man = u & 0x7fffffu;
	int ne = ex + e;
	if (ex == 0) { // a subnormal x: normalise first
		const int sh = 23 - findMSB(man);
		man = (man << sh) & 0x7fffffu;
		ne = 1 - sh + e;
	}
	if (ne >= 0xff)
		return uintBitsToFloat(sign | 0x7f800000u);
	if (ne >= 1)
		return uintBitsToFloat(sign | (uint(ne) << 23) | man);
	const int sh = 1 - ne; // subnormal: exact by assumption
	return uintBitsToFloat(sign | (sh > 24 ? 0u : ((man | 0x800000u) >> uint(sh))));
}

// ggml_e8m0_to_fp32_half times an E2M1 value (doubled): kv * 2^(e - 128).
float e8m0_half_times(int kv, uint e)
{
	return ldexp_exact(float(kv), int(e) - 128);
}

// ggml_ue4m3_to_fp32 (bit 7 ignored, 0x00 and 0x7f read as 0).
float ue4m3_half(uint x)
{
	x &= 0xffu;
	if (x == 0u || x == 0x7fu)
		return 0.0;
	const uint ex = (x >> 3) & 15u, man = x & 7u;
	if (ex == 0u)
		return float(man) * 9.765625e-4; // 2^-10, exact
	return float(8u + man) * uintBitsToFloat((ex - 11u + 127u) << 23);
}

// MLX's E4M3 decoder: 0x7f and 0xff are the NaNs 0x7ff00000, 0xfff00000.
float e4m3_mlx(uint x)
{
	if ((x & 0x7fu) == 0x7fu)
		return uintBitsToFloat(0x7ff00000u | ((x & 0x80u) << 24));
	precise float v = h2f((x & 0x7fu) << 7) * 256.0;
	return (x & 0x80u) != 0u ? -v : v;
}

// ggml's fp16 scale of the low-bit formats: a signalling NaN comes back
// quiet (the reference's conversion ends in a multiply).
float h2f_quiet(uint h)
{
	float d = h2f(h);
	if ((h & 0x7c00u) == 0x7c00u && (h & 0x3ffu) != 0u)
		d = uintBitsToFloat(floatBitsToUint(d) | 0x00400000u);
	return d;
}

// An element of MLX's scale/bias type at byte b.
float mlx_elem(uint b)
{
	if (MLX_DT == 0u)
		return f32_at(b);
	if (MLX_DT == 1u)
		return h2f(u16_at(b));
	return uintBitsToFloat(u16_at(b) << 16);
}

// Code j of an MLX group whose LSB-first bitstream starts at byte b.
uint mlx_code(uint b, uint j)
{
	const uint bit = j * MLX_BITS, k = bit >> 5, o = bit & 31u;
	uint v = u32u(b + 4u * k) >> o;
	if (o + MLX_BITS > 32u)
		v |= u32u(b + 4u * k + 4u) << (32u - o);
	return v & ((1u << MLX_BITS) - 1u);
}

// v times 2^(sb - 127) as MLX's pow(2, e) gives it: 2^-127 is subnormal,
// 2^128 infinite (so 0 * it is NaN); the products are exact otherwise.
float mlx_mx_scale(float v, uint sb)
{
	if (sb == 255u) {
		precise float r = v * uintBitsToFloat(0x7f800000u);
		return r;
	}
	return ldexp_exact(v, int(sb) - 127);
}

float decode(uint fmt, uint row, uint col)
{
	switch (fmt) {
	case F_F32:
		return uintBitsToFloat(u32_at(row + col * 4u));
	case F_F16:
		return h2f(u16_at(row + col * 2u));
	case F_BF16:
		return uintBitsToFloat(u16_at(row + col * 2u) << 16);
	case F_Q4_0: {
		uint b = row + (col >> 5) * 18u, j = col & 31u;
		precise float v = float(int(nibble(b + 2u, j)) - 8) * h2f(u16_at(b));
		return v;
	}
	case F_Q4_1: {
		uint b = row + (col >> 5) * 20u, j = col & 31u;
		precise float v = float(nibble(b + 4u, j)) * h2f(u16_at(b)) + h2f(u16_at(b + 2u));
		return v;
	}
	case F_Q5_0: {
		uint b = row + (col >> 5) * 22u, j = col & 31u;
		uint c = nibble(b + 6u, j) | (((u32_at(b + 2u) >> j) & 1u) << 4);
		precise float v = float(int(c) - 16) * h2f(u16_at(b));
		return v;
	}
	case F_Q5_1: {
		uint b = row + (col >> 5) * 24u, j = col & 31u;
		uint c = nibble(b + 8u, j) | (((u32_at(b + 4u) >> j) & 1u) << 4);
		precise float v = float(c) * h2f(u16_at(b)) + h2f(u16_at(b + 2u));
		return v;
	}
	case F_Q8_0: {
		uint b = row + (col >> 5) * 34u, j = col & 31u;
		precise float v = float(s8(byte_at(b + 2u + j))) * h2f(u16_at(b));
		return v;
	}
	case F_Q2_K: { // scales[16] qs[64] d dmin
		uint b = row + (col >> 8) * 84u, e = col & 255u;
		uint h = e >> 7, g = (e & 127u) >> 5, l = e & 31u;
		uint q = (byte_at(b + 16u + 32u * h + l) >> (2u * g)) & 3u;
		uint s = byte_at(b + (e >> 4));
		return kval(h2f(u16_at(b + 80u)), h2f(u16_at(b + 82u)), int(s & 15u), int(s >> 4), int(q));
	}
	case F_Q3_K: { // hmask[32] qs[64] scales[12] d
		uint b = row + (col >> 8) * 110u, e = col & 255u;
		uint h = e >> 7, g = (e & 127u) >> 5, l = e & 31u;
		int q = int((byte_at(b + 32u + 32u * h + l) >> (2u * g)) & 3u);
		if (((byte_at(b + (e & 31u)) >> (e >> 5)) & 1u) == 0u)
			q -= 4;
		uint j = e >> 4, s = b + 96u;
		uint lo = j < 8u ? (byte_at(s + j) & 15u) : (byte_at(s + j - 8u) >> 4);
		uint hi = (byte_at(s + 8u + (j & 3u)) >> (2u * (j >> 2))) & 3u;
		return kval(h2f(u16_at(b + 108u)), 0.0, int(lo | (hi << 4)) - 32, 0, q);
	}
	case F_Q4_K: { // d dmin scales[12] qs[128]
		uint b = row + (col >> 8) * 144u, e = col & 255u;
		uint qb = byte_at(b + 16u + 32u * (e >> 6) + (e & 31u));
		uint q = (e & 32u) != 0u ? (qb >> 4) : (qb & 15u);
		uvec2 sm = scale_min_6bit(b + 4u, e >> 5);
		return kval(h2f(u16_at(b)), h2f(u16_at(b + 2u)), int(sm.x), int(sm.y), int(q));
	}
	case F_Q5_K: { // d dmin scales[12] qh[32] qs[128]
		uint b = row + (col >> 8) * 176u, e = col & 255u;
		uint qb = byte_at(b + 48u + 32u * (e >> 6) + (e & 31u));
		uint q = (e & 32u) != 0u ? (qb >> 4) : (qb & 15u);
		uint bit = 2u * (e >> 6) + ((e & 32u) != 0u ? 1u : 0u);
		if (((byte_at(b + 16u + (e & 31u)) >> bit) & 1u) != 0u)
			q += 16u;
		uvec2 sm = scale_min_6bit(b + 4u, e >> 5);
		return kval(h2f(u16_at(b)), h2f(u16_at(b + 2u)), int(sm.x), int(sm.y), int(q));
	}
	case F_Q6_K: { // ql[128] qh[64] scales[16] d
		uint b = row + (col >> 8) * 210u, e = col & 255u;
		uint h = e >> 7, g = (e & 127u) >> 5, l = e & 31u;
		uint lo = byte_at(b + 64u * h + 32u * (g & 1u) + l);
		lo = g < 2u ? (lo & 15u) : (lo >> 4);
		uint hi = (byte_at(b + 128u + 32u * h + l) >> (2u * g)) & 3u;
		int sc = s8(byte_at(b + 192u + (e >> 4)));
		return kval(h2f(u16_at(b + 208u)), 0.0, sc, 0, int(lo | (hi << 4)) - 32);
	}
	case F_Q8_K: { // d (f32) qs[256] bsums[16]
		uint b = row + (col >> 8) * 292u;
		precise float v = f32_at(b) * float(s8(byte_at(b + 4u + (col & 255u))));
		return v;
	}
	case F_Q8_1: { // d s qs[32]
		uint b = row + (col >> 5) * 36u;
		precise float v = float(s8(byte_at(b + 4u + (col & 31u)))) * h2f(u16_at(b));
		return v;
	}
	case F_IQ2_XXS: { // d qs[64]: per 32, 4 grid bytes and a word of signs and scale
		uint b = row + (col >> 8) * 66u, e = col & 255u;
		uint q = b + 2u + 8u * (e >> 5), l = (e >> 3) & 3u, j = e & 7u;
		uint aux = u32u(q + 4u);
		precise float db = h2f(u16_at(b)) * (0.5 + float(aux >> 28)) * 0.25;
		uint lv = (T[T_IQ2XXS + byte_at(q + l)] >> (2u * j)) & 3u;
		precise float v = db * (lv == 0u ? 8.0 : lv == 1u ? 25.0 : 43.0);
		return ((ksign(aux >> (7u * l)) >> j) & 1u) != 0u ? -v : v;
	}
	case F_IQ2_XS: { // d qs[64] (9-bit index, 7 sign bits) scales[8]
		uint b = row + (col >> 8) * 74u, e = col & 255u;
		uint ib = e >> 5, l = (e >> 3) & 3u, j = e & 7u;
		uint sc = (byte_at(b + 66u + ib) >> (4u * (l >> 1))) & 15u;
		precise float db = h2f(u16_at(b)) * (0.5 + float(sc)) * 0.25;
		uint q = u16_at(b + 2u + 2u * (4u * ib + l));
		uint lv = (T[T_IQ2XS + (q & 511u)] >> (2u * j)) & 3u;
		precise float v = db * (lv == 0u ? 8.0 : lv == 1u ? 25.0 : 43.0);
		return ((ksign(q >> 9) >> j) & 1u) != 0u ? -v : v;
	}
	case F_IQ2_S: { // d qs[32] signs[32] qh[8] scales[8]
		uint b = row + (col >> 8) * 82u, e = col & 255u;
		uint ib = e >> 5, l = (e >> 3) & 3u, j = e & 7u, g = 4u * ib + l;
		uint sc = (byte_at(b + 74u + ib) >> (4u * (l >> 1))) & 15u;
		precise float db = h2f(u16_at(b)) * (0.5 + float(sc)) * 0.25;
		uint idx = byte_at(b + 2u + g) | (((byte_at(b + 66u + ib) >> (2u * l)) & 3u) << 8);
		uint lv = (T[T_IQ2S + idx] >> (2u * j)) & 3u;
		precise float v = db * (lv == 0u ? 8.0 : lv == 1u ? 25.0 : 43.0);
		return ((byte_at(b + 34u + g) >> j) & 1u) != 0u ? -v : v;
	}
	case F_IQ3_XXS: { // d qs[64] then per 32 a word of signs and scale
		uint b = row + (col >> 8) * 98u, e = col & 255u;
		uint ib = e >> 5, l = (e >> 3) & 3u, k = e & 7u;
		uint aux = u32u(b + 66u + 4u * ib);
		precise float db = h2f(u16_at(b)) * (0.5 + float(aux >> 28)) * 0.5;
		uint code = T[T_IQ3XXS + byte_at(b + 2u + 8u * ib + 2u * l + (k >> 2))];
		uint lv = (code >> (3u * (k & 3u))) & 7u;
		precise float v = db * float(lv == 7u ? 62u : 8u * lv + 4u);
		return ((ksign(aux >> (7u * l)) >> k) & 1u) != 0u ? -v : v;
	}
	case F_IQ3_S: { // d qs[64] qh[8] signs[32] scales[4]
		uint b = row + (col >> 8) * 110u, e = col & 255u;
		uint ib = e >> 5, k = (e >> 2) & 7u, j = e & 3u;
		uint s = (byte_at(b + 106u + (ib >> 1)) >> (4u * (ib & 1u))) & 15u;
		precise float db = h2f(u16_at(b)) * float(1u + 2u * s);
		uint idx = byte_at(b + 2u + 8u * ib + k) | (((byte_at(b + 66u + ib) >> k) & 1u) << 8);
		uint lv = (T[T_IQ3S + idx] >> (3u * j)) & 7u;
		precise float v = db * float(2u * lv + 1u);
		uint sg = byte_at(b + 74u + 4u * ib + (k >> 1)) >> (4u * (k & 1u));
		return ((sg >> j) & 1u) != 0u ? -v : v;
	}
	case F_IQ1_S: { // d qs[32] qh[16]
		uint b = row + (col >> 8) * 50u, e = col & 255u;
		uint ib = e >> 5, l = (e >> 3) & 3u, j = e & 7u;
		uint h = u16_at(b + 34u + 2u * ib);
		precise float dl = h2f(u16_at(b)) * float(2u * ((h >> 12) & 7u) + 1u);
		uint code = T[T_IQ1S + (byte_at(b + 2u + 4u * ib + l) | (((h >> (3u * l)) & 7u) << 8))];
		precise float v = dl * (float(int((code >> (2u * j)) & 3u) - 1) + ((h & 0x8000u) != 0u ? -0.125 : 0.125));
		return v;
	}
	case F_IQ1_M: { // qs[32] qh[16] scales[8] (fp16 super-scale in the top nibbles)
		uint b = row + (col >> 8) * 56u, e = col & 255u;
		uint ib = e >> 4, k = (e >> 3) & 1u, j = e & 7u;
		uint dh = (u16_at(b + 48u) >> 12) | ((u16_at(b + 50u) >> 8) & 0xf0u) | ((u16_at(b + 52u) >> 4) & 0xf00u) |
			  (u16_at(b + 54u) & 0xf000u);
		uint sc = u16_at(b + 48u + 2u * (ib >> 2));
		precise float dl = h2f(dh) * float(2u * ((sc >> (3u * (ib & 3u))) & 7u) + 1u);
		uint h = byte_at(b + 32u + ib) >> (4u * k);
		uint code = T[T_IQ1S + (byte_at(b + 2u * ib + k) | ((h & 7u) << 8))];
		precise float v = dl * (float(int((code >> (2u * j)) & 3u) - 1) + ((h & 8u) != 0u ? -0.125 : 0.125));
		return v;
	}
	case F_IQ4_NL: { // d qs[16]
		uint b = row + (col >> 5) * 18u;
		precise float v = h2f(u16_at(b)) * float(KV_IQ4[nibble(b + 2u, col & 31u)]);
		return v;
	}
	case F_IQ4_XS: { // d scales_h scales_l[4] qs[128]
		uint b = row + (col >> 8) * 136u, e = col & 255u, ib = e >> 5;
		uint ls = ((byte_at(b + 4u + (ib >> 1)) >> (4u * (ib & 1u))) & 15u) | (((u16_at(b + 2u) >> (2u * ib)) & 3u) << 4);
		precise float dl = h2f(u16_at(b)) * float(int(ls) - 32);
		precise float v = dl * float(KV_IQ4[nibble(b + 8u + 16u * ib, e & 31u)]);
		return v;
	}
	case F_TQ1_0: { // qs[48] (5 trits a byte) qh[4] (4 trits a byte) d
		uint b = row + (col >> 8) * 54u, e = col & 255u, q, p;
		if (e < 160u) {
			q = byte_at(b + (e & 31u));
			p = e >> 5;
		} else if (e < 240u) {
			q = byte_at(b + 32u + ((e - 160u) & 15u));
			p = (e - 160u) >> 4;
		} else {
			q = byte_at(b + 48u + ((e - 240u) & 3u));
			p = (e - 240u) >> 2;
		}
		const uint pow3 = p == 0u ? 1u : p == 1u ? 3u : p == 2u ? 9u : p == 3u ? 27u : 81u;
		const uint v8 = (q * pow3) & 255u;
		precise float v = float(int((v8 * 3u) >> 8) - 1) * h2f_quiet(u16_at(b + 52u));
		return v;
	}
	case F_TQ2_0: { // qs[64] d
		uint b = row + (col >> 8) * 66u, e = col & 255u;
		uint c = (byte_at(b + 32u * (e >> 7) + (e & 31u)) >> (2u * ((e & 127u) >> 5))) & 3u;
		precise float v = float(int(c) - 1) * h2f_quiet(u16_at(b + 64u));
		return v;
	}
	case F_MXFP4: { // e (E8M0) qs[16]
		uint b = row + (col >> 5) * 17u;
		return e8m0_half_times(KV_FP4[nibble(b + 1u, col & 31u)], byte_at(b));
	}
	case F_NVFP4: { // d[4] (UE4M3 per 16) qs[32]
		uint b = row + (col >> 6) * 36u, e = col & 63u, s = e >> 4, j = e & 15u;
		uint qb = byte_at(b + 4u + 8u * s + (j & 7u));
		precise float v = float(KV_FP4[j < 8u ? (qb & 15u) : (qb >> 4)]) * ue4m3_half(byte_at(b + s));
		return v;
	}
	case F_Q1_0: { // d qs[16]: d or -d
		uint b = row + (col >> 7) * 18u, j = col & 127u;
		float d = h2f_quiet(u16_at(b));
		return ((byte_at(b + 2u + (j >> 3)) >> (j & 7u)) & 1u) != 0u ? d : -d;
	}
	case F_Q2_0: { // d qs[16]
		uint b = row + (col >> 6) * 18u, j = col & 63u;
		uint c = (byte_at(b + 2u + (j >> 2)) >> (2u * (j & 3u))) & 3u;
		precise float v = float(int(c) - 1) * h2f_quiet(u16_at(b));
		return v;
	}
	case F_MLX_AFFINE: { // codes, scale, bias (MLX_DT each)
		const uint ds = MLX_DT == 0u ? 4u : 2u, cb = MLX_GROUP * MLX_BITS / 8u;
		uint b = row + (col / MLX_GROUP) * (cb + 2u * ds);
		precise float t = float(mlx_code(b, col % MLX_GROUP)) * mlx_elem(b + cb);
		precise float v = t + mlx_elem(b + cb + ds);
		return v;
	}
	case F_MLX_MXFP4: { // codes[16] scale byte
		uint b = row + (col >> 5) * 17u;
		return mlx_mx_scale(E2M1[mlx_code(b, col & 31u)], byte_at(b + 16u));
	}
	case F_MLX_MXFP8: { // codes[32] scale byte
		uint b = row + (col >> 5) * 33u;
		return mlx_mx_scale(e4m3_mlx(byte_at(b + (col & 31u))), byte_at(b + 32u));
	}
	case F_MLX_NVFP4: { // codes[8] E4M3 scale
		uint b = row + (col >> 4) * 9u;
		precise float v = E2M1[mlx_code(b, col & 15u)] * e4m3_mlx(byte_at(b + 8u));
		return v;
	}
	}
	return 0.0;
}

// The formats decode_run() handles; the others are read element by element
// with decode() (GENERIC_LOOP: whether those loops are unrolled).
#ifndef GENERIC_LOOP
#define GENERIC_LOOP [[dont_unroll]]
#endif

bool has_run(uint fmt)
{
	return fmt >= F_Q4_0 && fmt <= F_Q8_0;
}

// Elements c0 .. c0+31 of a row (c0 a multiple of 32; the row holds them
// all) of a format of has_run(): the values decode() gives, with the
// block's scales read once.
void decode_run(uint fmt, uint row, uint c0, inout float v[32])
{
	if (fmt == F_Q4_0 || fmt == F_Q4_1 || fmt == F_Q5_0 || fmt == F_Q5_1) {
		const uint bytes = fmt == F_Q4_0 ? 18u : fmt == F_Q4_1 ? 20u : fmt == F_Q5_0 ? 22u : 24u;
		const uint qs_at = fmt == F_Q4_0 ? 2u : fmt == F_Q4_1 ? 4u : fmt == F_Q5_0 ? 6u : 8u;
		const uint b = row + (c0 >> 5) * bytes;
		const float d = h2f(u16_at(b));
		const float m = fmt == F_Q4_1 || fmt == F_Q5_1 ? h2f(u16_at(b + 2u)) : 0.0;
		const uint qh = fmt == F_Q5_0 ? u32u(b + 2u) : fmt == F_Q5_1 ? u32u(b + 4u) : 0u;
		const int off = fmt == F_Q4_0 ? 8 : fmt == F_Q5_0 ? 16 : 0;
		for (uint g = 0u; g < 4u; g++) {
			const uint q = u32u(b + qs_at + 4u * g);
			for (uint i = 0u; i < 4u; i++) {
				const uint j = 4u * g + i, byte = (q >> (8u * i)) & 0xffu;
				const uint lo = (byte & 15u) | (((qh >> j) & 1u) << 4);
				const uint hi = (byte >> 4) | (((qh >> (j + 16u)) & 1u) << 4);
				if (fmt == F_Q4_1 || fmt == F_Q5_1) {
					precise float a = float(lo) * d + m;
					precise float c = float(hi) * d + m;
					v[j] = a;
					v[j + 16u] = c;
				} else {
					precise float a = float(int(lo) - off) * d;
					precise float c = float(int(hi) - off) * d;
					v[j] = a;
					v[j + 16u] = c;
				}
			}
		}
		return;
	}
	if (fmt == F_Q8_0) {
		const uint b = row + (c0 >> 5) * 34u;
		const float d = h2f(u16_at(b));
		for (uint g = 0u; g < 8u; g++) {
			const uint q = u32u(b + 2u + 4u * g);
			for (uint i = 0u; i < 4u; i++) {
				precise float a = float(s8((q >> (8u * i)) & 0xffu)) * d;
				v[4u * g + i] = a;
			}
		}
		return;
	}
}

