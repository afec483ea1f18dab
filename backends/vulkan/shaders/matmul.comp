// SPDX-License-Identifier: MIT
// y = W x for float activations. One invocation computes one output row
// (grid-stride over gl_GlobalInvocationID.x) for a tile of up to 4 columns
// (gl_WorkGroupID.y, grid-stride too): it walks the row in runs of 32
// weights, decodes each run once for the tile's columns, sums each run's 32
// products and adds the run sums in order. No shared memory and no
// barriers (a CPU device such as lavapipe then keeps its SIMD lanes), and
// the order of the additions is fixed, so the result does not depend on
// scheduling.
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require

#define TILE 4u

layout(local_size_x = 64) in;

layout(std430, set = 0, binding = 0) readonly buffer WBuf { uint W[]; };
layout(std430, set = 0, binding = 1) readonly buffer XBuf { float X[]; };
layout(std430, set = 0, binding = 2) writeonly buffer YBuf { float Y[]; };

// the format: one pipeline per format, so each holds one decoder
layout(constant_id = 0) const uint FMT = 0u;

layout(push_constant) uniform P {
	uint n_in;
	uint n_rows;    // rows of W present, from w_off on
	uint row_bytes;
	uint w_off;     // bytes: the first row computed
	uint x_off;     // floats
	uint y_off;     // floats: y of (column 0, first row computed)
	uint n_cols;
	uint y_stride;  // floats between columns of y (n_out)
	uint mlx_bits, mlx_group, mlx_dt; // MLX formats (decode.glsl)
} p;

#include "decode.glsl"

void main()
{
	const uint full = p.n_in & ~31u;
	for (uint r = gl_GlobalInvocationID.x; r < p.n_rows; r += gl_NumWorkGroups.x * gl_WorkGroupSize.x) {
		const uint row = p.w_off + r * p.row_bytes;
		for (uint c0 = gl_WorkGroupID.y * TILE; c0 < p.n_cols; c0 += gl_NumWorkGroups.y * TILE) {
			const uint nc = min(TILE, p.n_cols - c0);
			const uint x0 = p.x_off + c0 * p.n_in;
			vec4 acc = vec4(0.0);
			float v[32];
			for (uint k0 = 0u; k0 < full; k0 += 32u) {
				vec4 s = vec4(0.0);
				if (has_run(FMT)) {
					decode_run(FMT, row, k0, v);
					for (uint j = 0u; j < 32u; j++) {
						const uint xb = x0 + k0 + j;
						s.x += v[j] * X[xb];
						if (nc > 1u)
							s.y += v[j] * X[xb + p.n_in];
						if (nc > 2u)
							s.z += v[j] * X[xb + 2u * p.n_in];
						if (nc > 3u)
							s.w += v[j] * X[xb + 3u * p.n_in];
					}
				} else {
					GENERIC_LOOP for (uint j = 0u; j < 32u; j++) {
						const float w = decode(FMT, row, k0 + j);
						const uint xb = x0 + k0 + j;
						s.x += w * X[xb];
						if (nc > 1u)
							s.y += w * X[xb + p.n_in];
						if (nc > 2u)
							s.z += w * X[xb + 2u * p.n_in];
						if (nc > 3u)
							s.w += w * X[xb + 3u * p.n_in];
					}
				}
				acc += s;
			}
			vec4 s = vec4(0.0);
			[[dont_unroll]] for (uint k = full; k < p.n_in; k++) { // f32/f16/bf16 rows of n_in % 32 != 0
				const float w = decode(FMT, row, k);
				const uint xb = x0 + k;
				s.x += w * X[xb];
				if (nc > 1u)
					s.y += w * X[xb + p.n_in];
				if (nc > 2u)
					s.z += w * X[xb + 2u * p.n_in];
				if (nc > 3u)
					s.w += w * X[xb + 3u * p.n_in];
			}
			acc += s;
			const uint yb = p.y_off + c0 * p.y_stride + r;
			Y[yb] = acc.x;
			if (nc > 1u)
				Y[yb + p.y_stride] = acc.y;
			if (nc > 2u)
				Y[yb + 2u * p.y_stride] = acc.z;
			if (nc > 3u)
				Y[yb + 3u * p.y_stride] = acc.w;
		}
	}
}
