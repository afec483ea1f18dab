// SPDX-License-Identifier: MIT
// Dequantize: one invocation per element of rows [0, nrows) of a tensor
// whose first row starts at byte w_off of W; floats to Y from y_off on.
#version 450
#extension GL_GOOGLE_include_directive : require

layout(local_size_x = 256) in;

layout(std430, set = 0, binding = 0) readonly buffer WBuf { uint W[]; };
layout(std430, set = 0, binding = 1) readonly buffer XBuf { float X[]; };
layout(std430, set = 0, binding = 2) writeonly buffer YBuf { float Y[]; };

layout(push_constant) uniform P {
	uint fmt;
	uint n_per_row;
	uint nrows;
	uint row_bytes;
	uint w_off;   // bytes
	uint y_off;   // floats
} p;

#include "decode.glsl"

void main()
{
	uint total = p.nrows * p.n_per_row;
	uint stride = gl_NumWorkGroups.x * 256u;
	for (uint i = gl_GlobalInvocationID.x; i < total; i += stride) {
		uint r = i / p.n_per_row, c = i - r * p.n_per_row;
		Y[p.y_off + i] = decode(p.fmt, p.w_off + r * p.row_bytes, c);
	}
}
