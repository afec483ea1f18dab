// SPDX-License-Identifier: MIT
// Dequantize: one invocation per run of 32 elements (a legacy block, an
// eighth of a k-quant super-block) of rows [0, nrows) of a tensor whose
// first row starts at byte w_off of W; floats to Y from y_off on. Rows are
// a multiple of 32 elements for the block formats; f32/f16/bf16 rows may
// end inside a run.
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require

layout(local_size_x = 256) in;

layout(std430, set = 0, binding = 0) readonly buffer WBuf { uint W[]; };
layout(std430, set = 0, binding = 1) readonly buffer XBuf { float X[]; };
layout(std430, set = 0, binding = 2) writeonly buffer YBuf { float Y[]; };

// the format: one pipeline per format, so each holds one decoder
layout(constant_id = 0) const uint FMT = 0u;

layout(push_constant) uniform P {
	uint n_per_row;
	uint nrows;
	uint row_bytes;
	uint w_off;   // bytes
	uint y_off;   // floats
	uint mlx_bits, mlx_group, mlx_dt; // MLX formats (decode.glsl)
} p;

#include "decode.glsl"

void main()
{
	const uint runs_per_row = (p.n_per_row + 31u) / 32u;
	const uint total = p.nrows * runs_per_row;
	const uint stride = gl_NumWorkGroups.x * 256u;
	for (uint i = gl_GlobalInvocationID.x; i < total; i += stride) {
		const uint r = i / runs_per_row, c0 = (i - r * runs_per_row) * 32u;
		const uint row = p.w_off + r * p.row_bytes, y0 = p.y_off + r * p.n_per_row;
		const uint n = min(32u, p.n_per_row - c0);
		if (n == 32u && has_run(FMT)) {
			float v[32];
			decode_run(FMT, row, c0, v);
			for (uint j = 0u; j < 32u; j++)
				Y[y0 + c0 + j] = v[j];
		} else if (n == 32u) {
			GENERIC_LOOP for (uint j = 0u; j < 32u; j++)
				Y[y0 + c0 + j] = decode(FMT, row, c0 + j);
		} else {
			[[dont_unroll]] for (uint j = 0u; j < n; j++)
				Y[y0 + c0 + j] = decode(FMT, row, c0 + j);
		}
	}
}
