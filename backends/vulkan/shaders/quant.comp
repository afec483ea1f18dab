// SPDX-License-Identifier: MIT
// Quantize float rows without importance, the bytes of the scalar
// reference block for block:
//   q8_0        qnt__ref_q8_0 (lib/core/quant_legacy.c)
//   q4_0 q4_1 q5_0 q5_1  qnt__ref_q4_0 ... (the same file): ggml's
//               round-to-nearest
//   MLX affine  affine_group and quant_blocks (lib/core/quant_mlx.c): the
//               rows rounded to the element type, then MLX's group rule
// One invocation per block (grid-stride). The reference's divisions are
// IEEE divisions, which Vulkan does not promise for `/` (2.5 ulp), so they
// are done here in integers, correctly rounded; sums and products are IEEE
// operations marked `precise`, the conversions bit manipulations. The
// backend sends only finite rows here (vulkan_backend.c), so NaN payloads
// never matter.
//
// Blocks start anywhere: the words a block shares with its neighbours are
// written with atomicAnd/atomicOr on its own bytes only.
#version 450
#extension GL_GOOGLE_include_directive : require

layout(local_size_x = 64) in;

layout(std430, set = 0, binding = 0) buffer WBuf { uint W[]; };          // out: blocks
layout(std430, set = 0, binding = 1) readonly buffer XBuf { float X[]; }; // in: floats

// the format: F_Q4_0 (3), F_Q4_1 (4), F_Q5_0 (5), F_Q5_1 (6), F_Q8_0 (7) or
// F_MLX_AFFINE (30), as in decode.glsl
layout(constant_id = 0) const uint FMT = 7u;

layout(push_constant) uniform P {
	uint n_per_row;
	uint nrows;
	uint row_bytes;
	uint w_off; // bytes: row 0 of the output
	uint x_off; // floats: row 0 of the input
	uint mlx_bits, mlx_group, mlx_dt; // MLX affine: code width, group, element type (0 f32, 1 f16, 2 bf16)
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

// |a| / |b|, IEEE round to nearest even, for a and b finite and nonzero.
float div_mag(float a, float b)
{
	const uint ua = floatBitsToUint(a) & 0x7fffffffu, ub = floatBitsToUint(b) & 0x7fffffffu;
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

// a / b as an IEEE division (x86's default NaN for 0/0 and inf/inf; the
// inputs are never NaN here).
float div_rn(float a, float b)
{
	const uint ua = floatBitsToUint(a), ub = floatBitsToUint(b), sign = (ua ^ ub) & 0x80000000u;
	const bool ia = (ua & 0x7fffffffu) == 0x7f800000u, ib = (ub & 0x7fffffffu) == 0x7f800000u;
	const bool za = (ua & 0x7fffffffu) == 0u, zb = (ub & 0x7fffffffu) == 0u;
	if ((ia && ib) || (za && zb))
		return uintBitsToFloat(0xffc00000u);
	if (ia || zb)
		return uintBitsToFloat(sign | 0x7f800000u);
	if (ib || za)
		return uintBitsToFloat(sign);
	return uintBitsToFloat(sign | floatBitsToUint(div_mag(a, b)));
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

// MLX's float -> bfloat16 (round to nearest even; finite inputs here).
uint f2bf(float f)
{
	const uint u = floatBitsToUint(f);
	return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}

float h2f(uint h)
{
	const uint sign = (h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, man = h & 0x3ffu;
	if (e == 0x1fu)
		return uintBitsToFloat(sign | 0x7f800000u | (man << 13));
	if (e == 0u) { // man * 2^-24, built from the bits
		if (man == 0u)
			return uintBitsToFloat(sign);
		const int sh = 10 - findMSB(man);
		return uintBitsToFloat(sign | (uint(113 - sh) << 23) | ((man << uint(sh)) & 0x3ffu) << 13);
	}
	return uintBitsToFloat(sign | ((e + 112u) << 23) | (man << 13));
}

// x rounded to the element type (rt in quant_mlx.c) and its stored bits.
float round_to(float x, uint dt)
{
	if (dt == 1u)
		return h2f(f2h(x));
	if (dt == 2u)
		return uintBitsToFloat(f2bf(x) << 16);
	return x;
}

uint stored_bits(float x, uint dt)
{
	return dt == 0u ? floatBitsToUint(x) : dt == 1u ? f2h(x) : f2bf(x);
}

// std::max / std::min as MLX calls them
float max_std(float a, float b)
{
	return a < b ? b : a;
}

float min_std(float a, float b)
{
	return b < a ? b : a;
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

// The bytes of a block, as words aligned to the buffer (block byte i is at
// bit 8 * ((sh + i) & 3) of word (sh + i) >> 2).
uint wv[36];

void put_byte(uint sh, uint i, uint b)
{
	wv[(sh + i) >> 2] |= (b & 0xffu) << (8u * ((sh + i) & 3u));
}

// Stores `len` bytes of wv at byte `at` of W.
void flush(uint at, uint len)
{
	const uint sh = at & 3u, nw = (sh + len + 3u) >> 2, end = sh + len;
	for (uint k = 0u; k < nw; k++) {
		uint mask = 0xffffffffu;
		if (k == 0u)
			mask &= 0xffffffffu << (8u * sh);
		if (k == nw - 1u && (end & 3u) != 0u)
			mask &= 0xffffffffu >> (8u * (4u - (end & 3u)));
		put_word((at >> 2) + k, wv[k], mask);
	}
}

void q8_0_block(uint x0, uint at)
{
	float amax = 0.0;
	for (uint j = 0u; j < 32u; j++) {
		const float a = abs(X[x0 + j]);
		amax = amax > a ? amax : a;
	}
	const float d = div_rn(amax, 127.0);
	const float id = d != 0.0 ? div_rn(1.0, d) : 0.0;
	const uint sh = at & 3u, hd = f2h(d);
	for (uint k = 0u; k < 10u; k++)
		wv[k] = 0u;
	put_byte(sh, 0u, hd);
	put_byte(sh, 1u, hd >> 8);
	for (uint j = 0u; j < 32u; j++) {
		precise float v = X[x0 + j] * id;
		put_byte(sh, 2u + j, uint(cvt_round(v)));
	}
	flush(at, 34u);
}

// qnt__cvt_trunc: C's conversion on x86-64 (INT32_MIN for NaN and out of
// range).
int cvt_trunc(float v)
{
	return v > -2147483648.0 && v < 2147483648.0 ? int(v) : int(0x80000000u);
}

// q4_0 and q5_0 (symmetric, codes trunc(x / d + nmax + 0.5) as int8, at
// most cmax), q4_1 and q5_1 (codes trunc((x - min) / d + 0.5), q4_1 at most
// 15, q5_1 the low byte); low nibbles, then bit 4 of each code in qh.
void legacy_block(uint x0, uint at)
{
	const bool sym = FMT == 3u || FMT == 5u, five = FMT == 5u || FMT == 6u;
	float d, mn = 0.0, id, off;
	uint codes[32];
	if (sym) {
		float amax = 0.0, mx = 0.0;
		for (uint j = 0u; j < 32u; j++) {
			const float x = X[x0 + j];
			if (amax < abs(x)) {
				amax = abs(x);
				mx = x;
			}
		}
		const float nmax = five ? 16.0 : 8.0;
		d = div_rn(mx, -nmax);
		off = nmax + 0.5;
	} else {
		float lo = uintBitsToFloat(0x7f800000u), hi = -lo;
		for (uint j = 0u; j < 32u; j++) {
			const float x = X[x0 + j];
			if (x < lo)
				lo = x;
			if (x > hi)
				hi = x;
		}
		precise float range = hi - lo;
		d = div_rn(range, five ? 31.0 : 15.0);
		mn = lo;
		off = 0.5;
	}
	id = d != 0.0 ? div_rn(1.0, d) : 0.0;
	const int cmax = FMT == 3u ? 15 : FMT == 5u ? 31 : 15;
	for (uint j = 0u; j < 32u; j++) {
		precise float t = sym ? X[x0 + j] * id + off : (X[x0 + j] - mn) * id + off;
		const uint low = uint(cvt_trunc(t)) & 0xffu;
		if (FMT == 6u) {
			codes[j] = low;
		} else {
			const int v = int(low << 24) >> 24; // the int8_t cast
			codes[j] = uint(v < cmax ? v : cmax) & 0xffu;
		}
	}
	const uint sh = at & 3u, len = FMT == 3u ? 18u : FMT == 4u ? 20u : FMT == 5u ? 22u : 24u;
	for (uint k = 0u; k < 7u; k++)
		wv[k] = 0u;
	const uint hd = f2h(d);
	put_byte(sh, 0u, hd);
	put_byte(sh, 1u, hd >> 8);
	uint qs = 2u;
	if (!sym) {
		const uint hm = f2h(mn);
		put_byte(sh, 2u, hm);
		put_byte(sh, 3u, hm >> 8);
		qs = 4u;
	}
	if (five) {
		uint h = 0u;
		for (uint j = 0u; j < 32u; j++)
			h |= ((codes[j] >> 4) & 1u) << j;
		for (uint k = 0u; k < 4u; k++)
			put_byte(sh, qs + k, h >> (8u * k));
		qs += 4u;
	}
	for (uint j = 0u; j < 16u; j++)
		put_byte(sh, qs + j, (codes[j] & 15u) | ((codes[j + 16u] & 15u) << 4));
	flush(at, len);
}

void affine_block(uint x0, uint at)
{
	const uint G = p.mlx_group, B = p.mlx_bits, dt = p.mlx_dt;
	const float n_bins = float((1u << B) - 1u);
	float lo = uintBitsToFloat(0x7f800000u), hi = -lo;
	for (uint j = 0u; j < G; j++) {
		const float w = round_to(X[x0 + j], dt);
		hi = max_std(hi, w);
		lo = min_std(lo, w);
	}
	precise float range = hi - lo;
	float s = max_std(div_rn(range, n_bins), uintBitsToFloat(0x33d6bf95u)); // 1e-7f
	const bool neg_edge = abs(lo) > abs(hi);
	s = neg_edge ? s : -s;
	const float edge = neg_edge ? lo : hi;
	const float q0 = roundEven(div_rn(edge, s));
	float b = 0.0;
	if (q0 != 0.0) {
		s = div_rn(edge, q0);
		b = edge;
	}
	const uint sh = at & 3u, cb = G * B / 8u, ds = dt == 0u ? 4u : 2u, len = cb + 2u * ds;
	for (uint k = 0u; k < (sh + len + 3u) >> 2; k++)
		wv[k] = 0u;
	for (uint j = 0u; j < G; j++) {
		precise float t = round_to(X[x0 + j], dt) - b;
		float v = roundEven(div_rn(t, s));
		v = min_std(max_std(v, 0.0), n_bins);
		const uint q = uint(v), bit = j * B; // LSB-first, bytes little-endian
		for (uint i = 0u; i < B; i++)
			wv[(sh * 8u + bit + i) >> 5] |= ((q >> i) & 1u) << ((sh * 8u + bit + i) & 31u);
	}
	const uint sb = stored_bits(s, dt), bb = stored_bits(b, dt);
	for (uint i = 0u; i < ds; i++) {
		put_byte(sh, cb + i, sb >> (8u * i));
		put_byte(sh, cb + ds + i, bb >> (8u * i));
	}
	flush(at, len);
}

void main()
{
	const bool mlx = FMT == 30u;
	const uint bs = mlx ? p.mlx_group : 32u;
	const uint blocks_per_row = p.n_per_row / bs;
	const uint bbytes = mlx ? p.mlx_group * p.mlx_bits / 8u + 2u * (p.mlx_dt == 0u ? 4u : 2u)
				: FMT == 7u ? 34u : FMT == 3u ? 18u : FMT == 4u ? 20u : FMT == 5u ? 22u : 24u;
	const uint total = p.nrows * blocks_per_row;
	const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
	for (uint i = gl_GlobalInvocationID.x; i < total; i += stride) {
		const uint r = i / blocks_per_row, ib = i - r * blocks_per_row;
		const uint x0 = p.x_off + r * p.n_per_row + ib * bs, at = p.w_off + r * p.row_bytes + ib * bbytes;
		if (FMT == 7u)
			q8_0_block(x0, at);
		else if (mlx)
			affine_block(x0, at);
		else
			legacy_block(x0, at);
	}
}
