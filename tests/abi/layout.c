/* SPDX-License-Identifier: MIT */
/*
 * The layout of every public struct on LP64, pinned: sizes, offsets, and no
 * implicit padding (each size is the sum of its fields). Growing a struct at
 * the end is allowed in a minor release; then this file and the abidiff
 * baseline (tests/abi/update_baseline.sh) are updated together. Also the ABI
 * values of the header (status codes, type ids, flags, CPU bits) and that the
 * macros agree with the library at run time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "libqnt_backend.h"

#define SA(cond) _Static_assert(cond, #cond)
#define FIELD_SIZE(T, m) sizeof(((T *)0)->m)
#define AT(T, m, off) SA(offsetof(T, m) == (off))

#if defined(__LP64__) || defined(_LP64)

/* qnt_type_info */
AT(qnt_type_info, struct_size, 0);
AT(qnt_type_info, type, 4);
AT(qnt_type_info, block_size, 8);
AT(qnt_type_info, block_bytes, 16);
AT(qnt_type_info, flags, 24);
AT(qnt_type_info, reserved, 28);
AT(qnt_type_info, bits_per_weight, 32);
AT(qnt_type_info, name, 40);
AT(qnt_type_info, description, 48);
SA(sizeof(qnt_type_info) == 56);
SA(sizeof(qnt_type_info) ==
   FIELD_SIZE(qnt_type_info, struct_size) + FIELD_SIZE(qnt_type_info, type) +
	   FIELD_SIZE(qnt_type_info, block_size) + FIELD_SIZE(qnt_type_info, block_bytes) +
	   FIELD_SIZE(qnt_type_info, flags) + FIELD_SIZE(qnt_type_info, reserved) +
	   FIELD_SIZE(qnt_type_info, bits_per_weight) + FIELD_SIZE(qnt_type_info, name) +
	   FIELD_SIZE(qnt_type_info, description));

/* qnt_ctx_opts */
AT(qnt_ctx_opts, struct_size, 0);
AT(qnt_ctx_opts, n_threads, 4);
AT(qnt_ctx_opts, backend, 8);
AT(qnt_ctx_opts, alloc, 16);
AT(qnt_ctx_opts, free, 24);
AT(qnt_ctx_opts, alloc_user, 32);
AT(qnt_ctx_opts, log, 40);
AT(qnt_ctx_opts, log_user, 48);
AT(qnt_ctx_opts, log_level, 56);
AT(qnt_ctx_opts, device, 60);
AT(qnt_ctx_opts, flags, 64);
AT(qnt_ctx_opts, reserved, 68);
SA(sizeof(qnt_ctx_opts) == 72);
SA(sizeof(qnt_ctx_opts) ==
   FIELD_SIZE(qnt_ctx_opts, struct_size) + FIELD_SIZE(qnt_ctx_opts, n_threads) +
	   FIELD_SIZE(qnt_ctx_opts, backend) + FIELD_SIZE(qnt_ctx_opts, alloc) + FIELD_SIZE(qnt_ctx_opts, free) +
	   FIELD_SIZE(qnt_ctx_opts, alloc_user) + FIELD_SIZE(qnt_ctx_opts, log) +
	   FIELD_SIZE(qnt_ctx_opts, log_user) + FIELD_SIZE(qnt_ctx_opts, log_level) +
	   FIELD_SIZE(qnt_ctx_opts, device) + FIELD_SIZE(qnt_ctx_opts, flags) +
	   FIELD_SIZE(qnt_ctx_opts, reserved));

/* qnt_backend_props */
AT(qnt_backend_props, struct_size, 0);
AT(qnt_backend_props, score, 4);
AT(qnt_backend_props, name, 8);
AT(qnt_backend_props, description, 16);
AT(qnt_backend_props, path, 24);
AT(qnt_backend_props, reason, 32);
AT(qnt_backend_props, flags, 40);
AT(qnt_backend_props, device_count, 44);
SA(sizeof(qnt_backend_props) == 48);
SA(sizeof(qnt_backend_props) ==
   FIELD_SIZE(qnt_backend_props, struct_size) + FIELD_SIZE(qnt_backend_props, score) +
	   FIELD_SIZE(qnt_backend_props, name) + FIELD_SIZE(qnt_backend_props, description) +
	   FIELD_SIZE(qnt_backend_props, path) + FIELD_SIZE(qnt_backend_props, reason) +
	   FIELD_SIZE(qnt_backend_props, flags) + FIELD_SIZE(qnt_backend_props, device_count));

/* qnt_mem */
AT(qnt_mem, host, 0);
AT(qnt_mem, buffer, 8);
AT(qnt_mem, offset, 16);
SA(sizeof(qnt_mem) == 24);
SA(sizeof(qnt_mem) == FIELD_SIZE(qnt_mem, host) + FIELD_SIZE(qnt_mem, buffer) + FIELD_SIZE(qnt_mem, offset));

/* qnt_kernel_job */
AT(qnt_kernel_job, struct_size, 0);
AT(qnt_kernel_job, op, 4);
AT(qnt_kernel_job, type, 8);
AT(qnt_kernel_job, device, 12);
AT(qnt_kernel_job, nrows, 16);
AT(qnt_kernel_job, n_per_row, 24);
AT(qnt_kernel_job, row_begin, 32);
AT(qnt_kernel_job, row_end, 40);
AT(qnt_kernel_job, src, 48);
AT(qnt_kernel_job, dst, 72);
AT(qnt_kernel_job, importance, 96);
AT(qnt_kernel_job, scratch, 104);
AT(qnt_kernel_job, scratch_bytes, 112);
SA(sizeof(qnt_kernel_job) == 120);
SA(sizeof(qnt_kernel_job) ==
   FIELD_SIZE(qnt_kernel_job, struct_size) + FIELD_SIZE(qnt_kernel_job, op) + FIELD_SIZE(qnt_kernel_job, type) +
	   FIELD_SIZE(qnt_kernel_job, device) + FIELD_SIZE(qnt_kernel_job, nrows) +
	   FIELD_SIZE(qnt_kernel_job, n_per_row) + FIELD_SIZE(qnt_kernel_job, row_begin) +
	   FIELD_SIZE(qnt_kernel_job, row_end) + FIELD_SIZE(qnt_kernel_job, src) + FIELD_SIZE(qnt_kernel_job, dst) +
	   FIELD_SIZE(qnt_kernel_job, importance) + FIELD_SIZE(qnt_kernel_job, scratch) +
	   FIELD_SIZE(qnt_kernel_job, scratch_bytes));

/* qnt_device_props */
AT(qnt_device_props, struct_size, 0);
AT(qnt_device_props, kind, 4);
AT(qnt_device_props, memory_total, 8);
AT(qnt_device_props, memory_free, 16);
AT(qnt_device_props, caps, 24);
AT(qnt_device_props, reserved, 28);
AT(qnt_device_props, name, 32);
AT(qnt_device_props, description, 40);
SA(sizeof(qnt_device_props) == 48);
SA(sizeof(qnt_device_props) ==
   FIELD_SIZE(qnt_device_props, struct_size) + FIELD_SIZE(qnt_device_props, kind) +
	   FIELD_SIZE(qnt_device_props, memory_total) + FIELD_SIZE(qnt_device_props, memory_free) +
	   FIELD_SIZE(qnt_device_props, caps) + FIELD_SIZE(qnt_device_props, reserved) +
	   FIELD_SIZE(qnt_device_props, name) + FIELD_SIZE(qnt_device_props, description));

/* qnt_host_api */
AT(qnt_host_api, struct_size, 0);
AT(qnt_host_api, abi_version, 4);
AT(qnt_host_api, cpu_features, 8);
AT(qnt_host_api, log, 16);
AT(qnt_host_api, alloc, 24);
AT(qnt_host_api, free, 32);
AT(qnt_host_api, quantize_ref, 40);
AT(qnt_host_api, dequantize_ref, 48);
AT(qnt_host_api, row_size, 56);
AT(qnt_host_api, type_info, 64);
AT(qnt_host_api, matmul_ref_xq_type, 72); /* appended after the 1.0 layout */
AT(qnt_host_api, matmul_ref, 80);
SA(sizeof(qnt_host_api) == 88);
SA(sizeof(qnt_host_api) ==
   FIELD_SIZE(qnt_host_api, struct_size) + FIELD_SIZE(qnt_host_api, abi_version) +
	   FIELD_SIZE(qnt_host_api, cpu_features) + FIELD_SIZE(qnt_host_api, log) + FIELD_SIZE(qnt_host_api, alloc) +
	   FIELD_SIZE(qnt_host_api, free) + FIELD_SIZE(qnt_host_api, quantize_ref) +
	   FIELD_SIZE(qnt_host_api, dequantize_ref) + FIELD_SIZE(qnt_host_api, row_size) +
	   FIELD_SIZE(qnt_host_api, type_info) + FIELD_SIZE(qnt_host_api, matmul_ref_xq_type) +
	   FIELD_SIZE(qnt_host_api, matmul_ref));

/* qnt_matmul_job */
AT(qnt_matmul_job, struct_size, 0);
AT(qnt_matmul_job, wtype, 4);
AT(qnt_matmul_job, device, 8);
AT(qnt_matmul_job, xq_type, 12);
AT(qnt_matmul_job, n_out, 16);
AT(qnt_matmul_job, n_in, 24);
AT(qnt_matmul_job, n_cols, 32);
AT(qnt_matmul_job, row_begin, 40);
AT(qnt_matmul_job, row_end, 48);
AT(qnt_matmul_job, w, 56);
AT(qnt_matmul_job, x, 80);
AT(qnt_matmul_job, y, 104);
AT(qnt_matmul_job, xq, 128);
AT(qnt_matmul_job, scratch, 136);
AT(qnt_matmul_job, scratch_bytes, 144);
SA(sizeof(qnt_matmul_job) == 152);
SA(sizeof(qnt_matmul_job) ==
   FIELD_SIZE(qnt_matmul_job, struct_size) + FIELD_SIZE(qnt_matmul_job, wtype) + FIELD_SIZE(qnt_matmul_job, device) +
	   FIELD_SIZE(qnt_matmul_job, xq_type) + FIELD_SIZE(qnt_matmul_job, n_out) + FIELD_SIZE(qnt_matmul_job, n_in) +
	   FIELD_SIZE(qnt_matmul_job, n_cols) + FIELD_SIZE(qnt_matmul_job, row_begin) +
	   FIELD_SIZE(qnt_matmul_job, row_end) + FIELD_SIZE(qnt_matmul_job, w) + FIELD_SIZE(qnt_matmul_job, x) +
	   FIELD_SIZE(qnt_matmul_job, y) + FIELD_SIZE(qnt_matmul_job, xq) + FIELD_SIZE(qnt_matmul_job, scratch) +
	   FIELD_SIZE(qnt_matmul_job, scratch_bytes));

/* qnt_backend_vtbl: 6 header fields, then 21 function pointers */
AT(qnt_backend_vtbl, struct_size, 0);
AT(qnt_backend_vtbl, abi_version, 4);
AT(qnt_backend_vtbl, name, 8);
AT(qnt_backend_vtbl, description, 16);
AT(qnt_backend_vtbl, caps, 24);
AT(qnt_backend_vtbl, reserved, 28);
AT(qnt_backend_vtbl, score, 32);
AT(qnt_backend_vtbl, open, 40);
AT(qnt_backend_vtbl, close, 48);
AT(qnt_backend_vtbl, device_count, 56);
AT(qnt_backend_vtbl, device_props, 64);
AT(qnt_backend_vtbl, supports, 72);
AT(qnt_backend_vtbl, quantize, 80);
AT(qnt_backend_vtbl, dequantize, 88);
AT(qnt_backend_vtbl, scratch_bytes, 96);
AT(qnt_backend_vtbl, buffer_alloc, 104);
AT(qnt_backend_vtbl, buffer_free, 112);
AT(qnt_backend_vtbl, buffer_write, 120);
AT(qnt_backend_vtbl, buffer_read, 128);
AT(qnt_backend_vtbl, buffer_host_ptr, 136);
AT(qnt_backend_vtbl, synchronize, 144);
AT(qnt_backend_vtbl, get_proc, 152);
AT(qnt_backend_vtbl, matmul_xq_type, 160); /* appended after the minimum size */
AT(qnt_backend_vtbl, matmul, 168);
AT(qnt_backend_vtbl, matrix_prepare, 176);
AT(qnt_backend_vtbl, matmul_prepared, 184);
AT(qnt_backend_vtbl, matrix_free, 192);
SA(sizeof(qnt_backend_vtbl) == 200);
SA(QNT_BACKEND_VTBL_MIN_SIZE == 160); /* the 1.0 layout, forever */
SA(sizeof(qnt_backend_vtbl) == 4 + 4 + 8 + 8 + 4 + 4 + 21 * sizeof(void (*)(void)));

#ifdef QNT_MLX_PARAMS_INIT
/* qnt_mlx_params */
AT(qnt_mlx_params, struct_size, 0);
AT(qnt_mlx_params, mode, 4);
AT(qnt_mlx_params, bits, 8);
AT(qnt_mlx_params, group_size, 12);
AT(qnt_mlx_params, dtype, 16);
AT(qnt_mlx_params, flags, 20);
AT(qnt_mlx_params, global_scale, 24);
AT(qnt_mlx_params, reserved, 28);
SA(sizeof(qnt_mlx_params) == 32);
SA(sizeof(qnt_mlx_params) ==
   FIELD_SIZE(qnt_mlx_params, struct_size) + FIELD_SIZE(qnt_mlx_params, mode) + FIELD_SIZE(qnt_mlx_params, bits) +
	   FIELD_SIZE(qnt_mlx_params, group_size) + FIELD_SIZE(qnt_mlx_params, dtype) +
	   FIELD_SIZE(qnt_mlx_params, flags) + FIELD_SIZE(qnt_mlx_params, global_scale) +
	   FIELD_SIZE(qnt_mlx_params, reserved));
#endif

#ifdef QNT_RECIPE_MODEL_INIT
/* qnt_recipe_model */
AT(qnt_recipe_model, struct_size, 0);
AT(qnt_recipe_model, name_style, 4);
AT(qnt_recipe_model, n_layer, 8);
AT(qnt_recipe_model, n_expert, 16);
AT(qnt_recipe_model, n_head, 24);
AT(qnt_recipe_model, n_head_kv, 32);
AT(qnt_recipe_model, arch, 40);
AT(qnt_recipe_model, flags, 48);
AT(qnt_recipe_model, reserved, 52);
SA(sizeof(qnt_recipe_model) == 56);
SA(sizeof(qnt_recipe_model) == 4 + 4 + 4 * 8 + sizeof(const char *) + 4 + 4);

/* qnt_tensor_info */
AT(qnt_tensor_info, struct_size, 0);
AT(qnt_tensor_info, n_dims, 4);
AT(qnt_tensor_info, name, 8);
AT(qnt_tensor_info, type, 16);
AT(qnt_tensor_info, reserved, 20);
AT(qnt_tensor_info, dtype, 24);
AT(qnt_tensor_info, shape, 32);
AT(qnt_tensor_info, n_elements, 32 + 8 * QNT_MAX_DIMS);
AT(qnt_tensor_info, nbytes, 40 + 8 * QNT_MAX_DIMS);
AT(qnt_tensor_info, file, 48 + 8 * QNT_MAX_DIMS);
AT(qnt_tensor_info, offset, 56 + 8 * QNT_MAX_DIMS);
SA(sizeof(qnt_tensor_info) == 64 + 8 * QNT_MAX_DIMS);

/* qnt_model_quantize_opts */
AT(qnt_model_quantize_opts, struct_size, 0);
AT(qnt_model_quantize_opts, output_format, 4);
AT(qnt_model_quantize_opts, recipe, 8);
AT(qnt_model_quantize_opts, imatrix, 16);
AT(qnt_model_quantize_opts, max_memory, 24);
AT(qnt_model_quantize_opts, flags, 32);
AT(qnt_model_quantize_opts, reserved0, 36);
AT(qnt_model_quantize_opts, progress, 40);
AT(qnt_model_quantize_opts, progress_user, 48);
AT(qnt_model_quantize_opts, max_shard_bytes, 56);
SA(sizeof(qnt_model_quantize_opts) == 64);

/* qnt_report_entry */
AT(qnt_report_entry, struct_size, 0);
AT(qnt_report_entry, flags, 4);
AT(qnt_report_entry, name, 8);
AT(qnt_report_entry, src_dtype, 16);
AT(qnt_report_entry, dtype, 24);
AT(qnt_report_entry, src_type, 32);
AT(qnt_report_entry, type, 36);
AT(qnt_report_entry, n_elements, 40);
AT(qnt_report_entry, nbytes, 48);
AT(qnt_report_entry, bits_per_weight, 56);
AT(qnt_report_entry, rel_rmse, 64);
AT(qnt_report_entry, max_abs_err, 72);
AT(qnt_report_entry, cosine, 80);
AT(qnt_report_entry, seconds, 88);
AT(qnt_report_entry, reason, 96);
SA(sizeof(qnt_report_entry) == 104);
#endif

#ifdef QNT_IMATRIX_INFO_INIT
/* qnt_imatrix_info */
AT(qnt_imatrix_info, struct_size, 0);
AT(qnt_imatrix_info, format, 4);
AT(qnt_imatrix_info, n_entries, 8);
AT(qnt_imatrix_info, n_datasets, 16);
AT(qnt_imatrix_info, chunk_count, 24);
AT(qnt_imatrix_info, chunk_size, 28);
SA(sizeof(qnt_imatrix_info) == 32);
SA(sizeof(qnt_imatrix_info) ==
   FIELD_SIZE(qnt_imatrix_info, struct_size) + FIELD_SIZE(qnt_imatrix_info, format) +
	   FIELD_SIZE(qnt_imatrix_info, n_entries) + FIELD_SIZE(qnt_imatrix_info, n_datasets) +
	   FIELD_SIZE(qnt_imatrix_info, chunk_count) + FIELD_SIZE(qnt_imatrix_info, chunk_size));
SA(QNT_IMATRIX_GGUF == 1 && QNT_IMATRIX_LEGACY == 2);
#endif

#endif /* LP64 */

/* Every size-prefixed struct starts with a uint32_t struct_size. */
SA(offsetof(qnt_type_info, struct_size) == 0 && sizeof(((qnt_type_info *)0)->struct_size) == 4);
SA(offsetof(qnt_ctx_opts, struct_size) == 0 && sizeof(((qnt_ctx_opts *)0)->struct_size) == 4);
SA(offsetof(qnt_backend_props, struct_size) == 0 && sizeof(((qnt_backend_props *)0)->struct_size) == 4);
SA(offsetof(qnt_kernel_job, struct_size) == 0 && sizeof(((qnt_kernel_job *)0)->struct_size) == 4);
SA(offsetof(qnt_matmul_job, struct_size) == 0 && sizeof(((qnt_matmul_job *)0)->struct_size) == 4);
SA(offsetof(qnt_device_props, struct_size) == 0 && sizeof(((qnt_device_props *)0)->struct_size) == 4);
SA(offsetof(qnt_host_api, struct_size) == 0 && sizeof(((qnt_host_api *)0)->struct_size) == 4);
SA(offsetof(qnt_backend_vtbl, struct_size) == 0 && sizeof(((qnt_backend_vtbl *)0)->struct_size) == 4);

/* ABI values: status codes, type ids, flags, bits, levels, versions. */
SA(QNT_OK == 0 && QNT_E_INVALID_ARG == -1 && QNT_E_NO_MEMORY == -2 && QNT_E_UNSUPPORTED == -3);
SA(QNT_E_BACKEND == -4 && QNT_E_ABI_MISMATCH == -5 && QNT_E_STRUCT_TOO_NEW == -6);
SA(QNT_E_UNKNOWN_TYPE == -7 && QNT_E_BAD_SHAPE == -8 && QNT_E_NOT_FOUND == -9 && QNT_E_IO == -10);
SA(QNT_E_FORMAT == -11 && QNT_E_NOT_INITIALIZED == -12 && QNT_E_BUSY == -13);
SA(sizeof(qnt_status) == sizeof(int));
SA(QNT_TYPE_INVALID == -1 && QNT_TYPE_F32 == 0 && QNT_TYPE_F16 == 1 && QNT_TYPE_Q4_0 == 2 && QNT_TYPE_Q4_1 == 3);
SA(QNT_TYPE_Q5_0 == 6 && QNT_TYPE_Q5_1 == 7 && QNT_TYPE_Q8_0 == 8 && QNT_TYPE_Q8_1 == 9 && QNT_TYPE_BF16 == 30);
SA(sizeof(qnt_type) == 4);
#ifdef QNT_TYPE_TQ1_0
SA(QNT_TYPE_TQ1_0 == 34 && QNT_TYPE_TQ2_0 == 35 && QNT_TYPE_MXFP4 == 39 && QNT_TYPE_NVFP4 == 40);
SA(QNT_TYPE_Q1_0 == 41 && QNT_TYPE_Q2_0 == 42);
#endif
SA(QNT_TYPE_FLAG_QUANTIZED == 0x1u && QNT_TYPE_FLAG_QUANTIZE == 0x2u && QNT_TYPE_FLAG_DEQUANTIZE == 0x4u);
SA(QNT_TYPE_FLAG_IMPORTANCE == 0x8u && QNT_TYPE_FLAG_ACTIVATION == 0x10u);
SA(QNT_LOG_ERROR == 0 && QNT_LOG_WARN == 1 && QNT_LOG_INFO == 2 && QNT_LOG_DEBUG == 3);
SA(QNT_BACKEND_FLAG_BUILTIN == 0x1u && QNT_BACKEND_FLAG_MODULE == 0x2u);
SA(QNT_BACKEND_FLAG_DEVICE == 0x4u && QNT_BACKEND_FLAG_REFERENCE == 0x8u);
SA(QNT_CPU_SSE42 == 1u << 0 && QNT_CPU_AVX == 1u << 1 && QNT_CPU_AVX2 == 1u << 2 && QNT_CPU_F16C == 1u << 3);
SA(QNT_CPU_FMA == 1u << 4 && QNT_CPU_AVX512F == 1u << 5 && QNT_CPU_AVX512BW == 1u << 6);
SA(QNT_CPU_AVX512VL == 1u << 7 && QNT_CPU_AVX512VNNI == 1u << 8 && QNT_CPU_AVX512BF16 == 1u << 9);
SA(QNT_CPU_AVXVNNI == 1u << 10 && QNT_CPU_NEON == 1u << 16 && QNT_CPU_DOTPROD == 1u << 17);
SA(QNT_CPU_I8MM == 1u << 18 && QNT_CPU_SVE == 1u << 19 && QNT_CPU_FP16 == 1u << 20);
SA(QNT_BACKEND_ABI == 1);
SA(QNT_OP_QUANTIZE == 1 && QNT_OP_DEQUANTIZE == 2 && QNT_OP_MATMUL == 3);
SA(QNT_BACKEND_CAP_HOST_THREADS == 0x1u && QNT_BACKEND_CAP_DEVICE_MEMORY == 0x2u);
SA(QNT_BACKEND_CAP_UNIFIED_MEMORY == 0x4u && QNT_BACKEND_CAP_ASYNC == 0x8u);
SA(QNT_DEVICE_CPU == 0 && QNT_DEVICE_GPU == 1 && QNT_DEVICE_ACCEL == 2);
SA(QNT_VERSION_NUMBER == QNT_VERSION_MAJOR * 10000 + QNT_VERSION_MINOR * 100 + QNT_VERSION_PATCH);
SA(QNT_VERSION_MAJOR == 1); /* the SONAME is libqnt.so.1 */

/* ---- run time: macros against the library ---- */

static void versions(void **state)
{
	char buf[32];
	(void)state;
	assert_int_equal(qnt_version_number(), QNT_VERSION_NUMBER);
	assert_string_equal(qnt_version_string(), QNT_VERSION_STRING);
	snprintf(buf, sizeof buf, "%d.%d.%d", QNT_VERSION_MAJOR, QNT_VERSION_MINOR, QNT_VERSION_PATCH);
	assert_string_equal(QNT_VERSION_STRING, buf);
	assert_int_equal(qnt_format_version(), QNT_FORMAT_VERSION);
}

static void init_macros(void **state)
{
	(void)state;
	const qnt_ctx_opts o = QNT_CTX_OPTS_INIT;
	qnt_ctx_opts f;
	assert_int_equal(o.struct_size, sizeof(qnt_ctx_opts));
	assert_int_equal(qnt_ctx_opts_init(&f, sizeof f), QNT_OK);
	assert_memory_equal(&o, &f, sizeof o);

	const qnt_type_info ti = QNT_TYPE_INFO_INIT;
	assert_int_equal(ti.struct_size, sizeof(qnt_type_info));
	const qnt_backend_props bp = QNT_BACKEND_PROPS_INIT;
	assert_int_equal(bp.struct_size, sizeof(qnt_backend_props));
#ifdef QNT_MLX_PARAMS_INIT
	const qnt_mlx_params mp = QNT_MLX_PARAMS_INIT;
	assert_int_equal(mp.struct_size, sizeof(qnt_mlx_params));
#endif
}

static void type_macros(void **state)
{
	(void)state;
	assert_string_equal(qnt_type_name(QNT_TYPE_F32), "f32");
	assert_string_equal(qnt_type_name(QNT_TYPE_F16), "f16");
	assert_string_equal(qnt_type_name(QNT_TYPE_Q4_0), "q4_0");
	assert_string_equal(qnt_type_name(QNT_TYPE_Q4_1), "q4_1");
	assert_string_equal(qnt_type_name(QNT_TYPE_Q5_0), "q5_0");
	assert_string_equal(qnt_type_name(QNT_TYPE_Q5_1), "q5_1");
	assert_string_equal(qnt_type_name(QNT_TYPE_Q8_0), "q8_0");
	assert_string_equal(qnt_type_name(QNT_TYPE_Q8_1), "q8_1");
	assert_string_equal(qnt_type_name(QNT_TYPE_BF16), "bf16");
	assert_null(qnt_type_name(QNT_TYPE_INVALID));
}

static void status_names(void **state)
{
	(void)state;
	assert_string_equal(qnt_status_name(QNT_E_STRUCT_TOO_NEW), "QNT_E_STRUCT_TOO_NEW");
	assert_string_equal(qnt_status_name(QNT_E_BUSY), "QNT_E_BUSY");
}

/* The host table a backend receives has the layout above (seen through
 * qnt_backend_register: the backend's score() gets it). */
static const qnt_host_api *seen_host;

static int32_t capture_score(const qnt_host_api *host, char *why, size_t why_size)
{
	(void)why;
	(void)why_size;
	seen_host = host;
	return 0;
}

static qnt_status no_open(const qnt_host_api *host, int32_t device, void **st)
{
	(void)host;
	(void)device;
	(void)st;
	return QNT_E_UNSUPPORTED;
}

static void no_close(void *st)
{
	(void)st;
}

static int32_t no_supports(void *st, qnt_type t, uint32_t op)
{
	(void)st;
	(void)t;
	(void)op;
	return 0;
}

static void host_table(void **state)
{
	(void)state;
	static const qnt_backend_vtbl v = {
		.struct_size = sizeof(qnt_backend_vtbl),
		.abi_version = QNT_BACKEND_ABI,
		.name = "abi-layout-probe",
		.score = capture_score,
		.open = no_open,
		.close = no_close,
		.supports = no_supports,
	};
	assert_int_equal(qnt_backend_register(&v), QNT_OK);
	assert_non_null(seen_host);
	assert_int_equal(seen_host->struct_size, sizeof(qnt_host_api));
	assert_int_equal(seen_host->abi_version, QNT_BACKEND_ABI);
	assert_int_equal(seen_host->cpu_features, qnt_cpu_features());
	assert_non_null(seen_host->log);
	assert_non_null(seen_host->alloc);
	assert_non_null(seen_host->free);
	assert_non_null(seen_host->quantize_ref);
	assert_non_null(seen_host->dequantize_ref);
	assert_non_null(seen_host->row_size);
	assert_non_null(seen_host->type_info);
	assert_int_equal(seen_host->row_size(QNT_TYPE_Q4_0, 64), qnt_row_size(QNT_TYPE_Q4_0, 64));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(versions),
		cmocka_unit_test(init_macros),
		cmocka_unit_test(type_macros),
		cmocka_unit_test(status_names),
		cmocka_unit_test(host_table),
	};
	return cmocka_run_group_tests_name("layout", tests, NULL, NULL);
}
