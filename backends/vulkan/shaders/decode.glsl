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

uint byte_at(uint b)
{
	return (W[b >> 2] >> ((b & 3u) * 8u)) & 0xffu;
}

uint u16_at(uint b)
{
	return byte_at(b) | (byte_at(b + 1u) << 8);
}

uint u32_at(uint b)
{
	return u16_at(b) | (u16_at(b + 2u) << 16);
}

// 4 bytes from any byte offset (two aligned loads at most).
uint u32u(uint b)
{
	const uint s = (b & 3u) * 8u, lo = W[b >> 2];
	return s == 0u ? lo : (lo >> s) | (W[(b >> 2) + 1u] << (32u - s));
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
	}
	return 0.0;
}

// Elements c0 .. c0+31 of a row (c0 a multiple of 32; the row holds them
// all): the values decode() gives, with the block's scales read once.
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
	for (uint j = 0u; j < 32u; j++)
		v[j] = decode(fmt, row, c0 + j);
}
