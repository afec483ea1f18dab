// SPDX-License-Identifier: MIT
// Quantize float rows to q8_0 without importance: the bytes of the scalar
// reference (qnt__ref_q8_0 in lib/core/quant_legacy.c), block for block.
// One invocation per block of 32 (grid-stride). The reference's divisions
// are IEEE divisions, which Vulkan does not promise for `/` (2.5 ulp), so
// they are done here in integers, correctly rounded; the multiply is an
// IEEE multiply, the conversions are bit manipulations.
//
// Blocks are 34 bytes and start anywhere: the words a block shares with its
// neighbours are written with atomicAnd/atomicOr on its own bytes only.
#version 450
#extension GL_GOOGLE_include_directive : require

layout(local_size_x = 64) in;

layout(std430, set = 0, binding = 0) buffer WBuf { uint W[]; };          // out: blocks
layout(std430, set = 0, binding = 1) readonly buffer XBuf { float X[]; }; // in: floats

layout(push_constant) uniform P {
	uint n_per_row;
	uint nrows;
	uint row_bytes;
	uint w_off; // bytes: row 0 of the output
	uint x_off; // floats: row 0 of the input
} p;

// qnt__fp32_to_fp16: round to nearest even, NaN kept quiet with the top of
// its payload, overflow to infinity; subnormal results in integers.
uint f2h(float f)
{
	const uint x = floatBitsToUint(f), sign = (x >> 16) & 0x8000u;
	uint ax = x & 0x7fffffffu;
	if (ax > 0x7f800000u)
		return sign | 0x7e00u | ((ax >> 13) & 0x3ffu);
	if (ax >= 0x477ff000u)
		return sign | 0x7c00u;
	if (ax < 0x38800000u) { // below 2^-14: units of 2^-24, nearest even
		const uint e = ax >> 23;
		if (e < 102u)
			return sign;
		const uint m = (ax & 0x7fffffu) | 0x800000u, sh = 126u - e;
		uint q = m >> sh;
		const uint rem = m & ((1u << sh) - 1u), hlf = 1u << (sh - 1u);
		if (rem > hlf || (rem == hlf && (q & 1u) != 0u))
			q++;
		return sign | q;
	}
	const uint odd = (ax >> 13) & 1u;
	ax += 0xc8000fffu + odd;
	return sign | (ax >> 13);
}

// a / b, IEEE round to nearest even, for a >= 0 finite and b > 0 finite
// (what the q8_0 reference divides: |x| max by 127, 1 by the scale).
float div_rn(float a, float b)
{
	const uint ua = floatBitsToUint(a), ub = floatBitsToUint(b);
	if (ua == 0u)
		return 0.0;
	int ea = int(ua >> 23), eb = int(ub >> 23);
	uint ma = ua & 0x7fffffu, mb = ub & 0x7fffffu;
	if (ea == 0) { // subnormal: normalise
		const int s = 23 - findMSB(ma);
		ma <<= uint(s);
		ea = 1 - s;
	}
	if (eb == 0) {
		const int s = 23 - findMSB(mb);
		mb <<= uint(s);
		eb = 1 - s;
	}
	ma |= 0x800000u;
	mb |= 0x800000u;
	int e = ea - eb + 127; // biased exponent of the quotient, if ma >= mb
	if (ma < mb) {
		ma <<= 1;
		e--;
	}
	// 24 quotient bits (the first is 1), then a guard bit and a sticky bit
	uint q = 0u, r = ma;
	for (int i = 0; i < 25; i++) {
		q <<= 1;
		if (r >= mb) {
			r -= mb;
			q |= 1u;
		}
		r <<= 1;
	}
	bool sticky = r != 0u;
	// q holds 25 bits: 1.xxx (24 bits) and a guard bit
	if (e <= 0) { // a subnormal quotient: shift out 1 - e more bits
		const int sh = 1 - e;
		if (sh > 25)
			return 0.0;
		sticky = sticky || (q & ((1u << uint(sh)) - 1u)) != 0u;
		q >>= uint(sh);
		e = 0;
	}
	const uint guard = q & 1u;
	uint m = q >> 1;
	if (guard != 0u && (sticky || (m & 1u) != 0u))
		m++; // may carry into the exponent: the encoding absorbs it
	if (e >= 255)
		return uintBitsToFloat(0x7f800000u);
	const uint bits = e == 0 ? m : ((uint(e) << 23) + (m - 0x800000u));
	return uintBitsToFloat(bits >= 0x7f800000u ? 0x7f800000u : bits);
}

// qnt__cvt_round: roundf, then C's conversion on x86-64 (INT32_MIN for
// NaN and out of range).
int cvt_round(float v)
{
	if (v > -2147483648.0 && v < 2147483648.0) {
		const int t = int(v);
		precise float f = v - float(t);
		return t + (f >= 0.5 ? 1 : 0) - (f <= -0.5 ? 1 : 0);
	}
	return int(0x80000000u);
}

// Writes the bytes of a block that starts at byte `at`; its words shared
// with a neighbour are merged atomically, the others stored.
void put_word(uint wi, uint v, uint mask)
{
	if (mask == 0xffffffffu) {
		W[wi] = v;
	} else {
		atomicAnd(W[wi], ~mask);
		atomicOr(W[wi], v & mask);
	}
}

void main()
{
	const uint blocks_per_row = p.n_per_row / 32u;
	const uint total = p.nrows * blocks_per_row;
	const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
	for (uint i = gl_GlobalInvocationID.x; i < total; i += stride) {
		const uint r = i / blocks_per_row, ib = i - r * blocks_per_row;
		const uint x0 = p.x_off + r * p.n_per_row + ib * 32u;
		float amax = 0.0;
		for (uint j = 0u; j < 32u; j++) {
			const float a = abs(X[x0 + j]);
			amax = amax > a ? amax : a;
		}
		float d, id;
		if (isnan(amax)) { // NaN / 127 keeps the (quiet) NaN; 1 / NaN too
			d = uintBitsToFloat(floatBitsToUint(amax) | 0x400000u);
			id = d;
		} else if (isinf(amax)) {
			d = amax;
			id = 0.0;
		} else {
			d = div_rn(amax, 127.0);
			id = d != 0.0 ? div_rn(1.0, d) : 0.0;
		}
		// the block's 34 bytes as words aligned to the buffer
		const uint at = p.w_off + r * p.row_bytes + ib * 34u, sh = at & 3u;
		uint wv[10];
		for (uint k = 0u; k < 10u; k++)
			wv[k] = 0u;
		const uint hd = f2h(d);
		wv[sh >> 2] |= (hd & 0xffu) << (8u * (sh & 3u));
		wv[(sh + 1u) >> 2] |= (hd >> 8) << (8u * ((sh + 1u) & 3u));
		for (uint j = 0u; j < 32u; j++) {
			precise float v = X[x0 + j] * id;
			const uint b = uint(cvt_round(v)) & 0xffu, o = sh + 2u + j;
			wv[o >> 2] |= b << (8u * (o & 3u));
		}
		const uint nw = (sh + 34u + 3u) >> 2, end = sh + 34u;
		for (uint k = 0u; k < nw; k++) {
			// the bytes [4k, 4k+4) of the words that are the block's
			uint mask = 0xffffffffu;
			if (k == 0u)
				mask &= 0xffffffffu << (8u * sh);
			if (k == nw - 1u && (end & 3u) != 0u)
				mask &= 0xffffffffu >> (8u * (4u - (end & 3u)));
			put_word((at >> 2) + k, wv[k], mask);
		}
	}
}
