// SPDX-License-Identifier: MIT
// y = W x for float activations: a workgroup of 64 computes output rows
// (grid-stride over gl_WorkGroupID.x) for a tile of up to 4 columns
// (gl_WorkGroupID.y, grid-stride too); each invocation decodes a weight
// once for the tile's columns and keeps one partial sum per column; the
// partial sums are added in a fixed tree, so the result does not depend on
// scheduling.
#version 450
#extension GL_GOOGLE_include_directive : require

#define WG 64u
#define TILE 4u

layout(local_size_x = 64) in;

layout(std430, set = 0, binding = 0) readonly buffer WBuf { uint W[]; };
layout(std430, set = 0, binding = 1) readonly buffer XBuf { float X[]; };
layout(std430, set = 0, binding = 2) writeonly buffer YBuf { float Y[]; };

layout(push_constant) uniform P {
	uint fmt;
	uint n_in;
	uint n_rows;    // rows of W present, from w_off on
	uint row_bytes;
	uint w_off;     // bytes: the first row computed
	uint x_off;     // floats
	uint y_off;     // floats: y of (column 0, first row computed)
	uint n_cols;
	uint y_stride;  // floats between columns of y (n_out)
} p;

#include "decode.glsl"

shared vec4 part[WG];

void main()
{
	const uint t = gl_LocalInvocationID.x;
	for (uint r = gl_WorkGroupID.x; r < p.n_rows; r += gl_NumWorkGroups.x) {
		const uint row = p.w_off + r * p.row_bytes;
		for (uint c0 = gl_WorkGroupID.y * TILE; c0 < p.n_cols; c0 += gl_NumWorkGroups.y * TILE) {
			const uint nc = min(TILE, p.n_cols - c0);
			vec4 acc = vec4(0.0);
			for (uint k = t; k < p.n_in; k += WG) {
				const float w = decode(p.fmt, row, k);
				const uint xb = p.x_off + c0 * p.n_in + k;
				acc.x += w * X[xb];
				if (nc > 1u)
					acc.y += w * X[xb + p.n_in];
				if (nc > 2u)
					acc.z += w * X[xb + 2u * p.n_in];
				if (nc > 3u)
					acc.w += w * X[xb + 3u * p.n_in];
			}
			part[t] = acc;
			barrier();
			for (uint s = WG / 2u; s > 0u; s >>= 1) {
				if (t < s)
					part[t] += part[t + s];
				barrier();
			}
			if (t == 0u) {
				const vec4 v = part[0];
				const uint yb = p.y_off + c0 * p.y_stride + r;
				Y[yb] = v.x;
				if (nc > 1u)
					Y[yb + p.y_stride] = v.y;
				if (nc > 2u)
					Y[yb + 2u * p.y_stride] = v.z;
				if (nc > 3u)
					Y[yb + 3u * p.y_stride] = v.w;
			}
			barrier();
		}
	}
}
