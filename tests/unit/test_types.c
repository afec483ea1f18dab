/* SPDX-License-Identifier: MIT */
/* The format registry: names, ids, block geometry, qnt_row_size,
 * qnt_type_get_info and enumeration. */
#include "test_common.h"

#include <limits.h>
#include <strings.h>

#include "libqnt.h"

static const struct {
	qnt_type id;
	int gguf_id;
	const char *name;
	int64_t block_size;
	size_t block_bytes;
	int quantized;
} known[] = {
	{ QNT_TYPE_F32, 0, "f32", 1, 4, 0 },
	{ QNT_TYPE_F16, 1, "f16", 1, 2, 0 },
	{ QNT_TYPE_Q4_0, 2, "q4_0", 32, 18, 1 },
	{ QNT_TYPE_Q4_1, 3, "q4_1", 32, 20, 1 },
	{ QNT_TYPE_Q5_0, 6, "q5_0", 32, 22, 1 },
	{ QNT_TYPE_Q5_1, 7, "q5_1", 32, 24, 1 },
	{ QNT_TYPE_Q8_0, 8, "q8_0", 32, 34, 1 },
	{ QNT_TYPE_Q8_1, 9, "q8_1", 32, 36, 1 },
	{ QNT_TYPE_BF16, 30, "bf16", 1, 2, 0 },
};

static void ids_equal_gguf(void **state)
{
	(void)state;
	assert_int_equal(QNT_TYPE_INVALID, -1);
	for (size_t i = 0; i < N_ELEMS(known); i++)
		assert_int_equal(known[i].id, known[i].gguf_id);
}

static void canonical_names(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(known); i++) {
		assert_string_equal(qnt_type_name(known[i].id), known[i].name);
		assert_int_equal(qnt_type_by_name(known[i].name), known[i].id);
	}
	assert_null(qnt_type_name(QNT_TYPE_INVALID));
	assert_null(qnt_type_name(4)); /* q4_2, removed from ggml: never registered */
	assert_null(qnt_type_name(5));
	assert_null(qnt_type_name(INT32_MAX));
	assert_null(qnt_type_name(INT32_MIN));
}

static void by_name_is_case_insensitive(void **state)
{
	(void)state;
	assert_int_equal(qnt_type_by_name("Q4_0"), QNT_TYPE_Q4_0);
	assert_int_equal(qnt_type_by_name("q4_0"), QNT_TYPE_Q4_0);
	assert_int_equal(qnt_type_by_name("Q5_1"), QNT_TYPE_Q5_1);
	assert_int_equal(qnt_type_by_name("BF16"), QNT_TYPE_BF16);
	assert_int_equal(qnt_type_by_name("Bf16"), QNT_TYPE_BF16);
	assert_int_equal(qnt_type_by_name("F32"), QNT_TYPE_F32);
	assert_int_equal(qnt_type_by_name("Q8_1"), QNT_TYPE_Q8_1);
	/* every registered name, in upper case */
	for (int32_t i = 0; i < qnt_type_count(); i++) {
		qnt_type t = qnt_type_at(i);
		char up[64];
		const char *n = qnt_type_name(t);
		assert_non_null(n);
		assert_true(strlen(n) < sizeof up);
		for (size_t k = 0; k <= strlen(n); k++)
			up[k] = (char)((n[k] >= 'a' && n[k] <= 'z') ? n[k] - 'a' + 'A' : n[k]);
		assert_int_equal(qnt_type_by_name(up), t);
	}
}

static void by_name_unknown(void **state)
{
	(void)state;
	const char *bad[] = { "", "q4", "q4_00", " q4_0", "q4_0 ", "q4-0", "float32", "q3", "f64x", "auto" };
	assert_int_equal(qnt_type_by_name(NULL), QNT_TYPE_INVALID);
	for (size_t i = 0; i < N_ELEMS(bad); i++)
		assert_int_equal(qnt_type_by_name(bad[i]), QNT_TYPE_INVALID);
}

static void block_geometry(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(known); i++) {
		assert_int_equal(qnt_type_block_size(known[i].id), known[i].block_size);
		assert_int_equal(qnt_type_block_bytes(known[i].id), known[i].block_bytes);
	}
	assert_int_equal(qnt_type_block_size(QNT_TYPE_INVALID), 0);
	assert_int_equal(qnt_type_block_bytes(QNT_TYPE_INVALID), 0);
	assert_int_equal(qnt_type_block_size(4), 0);
	assert_int_equal(qnt_type_block_bytes(12345), 0);
}

static void row_size_regular(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(known); i++) {
		const int64_t bs = known[i].block_size;
		assert_int_equal(qnt_row_size(known[i].id, bs), known[i].block_bytes);
		assert_int_equal(qnt_row_size(known[i].id, 4096), (size_t)(4096 / bs) * known[i].block_bytes);
		assert_int_equal(qnt_row_size(known[i].id, 7 * bs), 7 * known[i].block_bytes);
	}
	assert_int_equal(qnt_row_size(QNT_TYPE_Q4_0, 4096), 2304);
	assert_int_equal(qnt_row_size(QNT_TYPE_Q8_0, 4096), 4352);
	assert_int_equal(qnt_row_size(QNT_TYPE_F16, 3), 6);
	assert_int_equal(qnt_row_size(QNT_TYPE_F32, 3), 12);
}

static void row_size_edge_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(known); i++) {
		assert_int_equal(qnt_row_size(known[i].id, 0), 0);
		assert_int_equal(qnt_row_size(known[i].id, -1), 0);
		assert_int_equal(qnt_row_size(known[i].id, -known[i].block_size), 0);
		assert_int_equal(qnt_row_size(known[i].id, INT64_MIN), 0);
		if (known[i].block_size > 1) {
			assert_int_equal(qnt_row_size(known[i].id, 1), 0);
			assert_int_equal(qnt_row_size(known[i].id, 31), 0);
			assert_int_equal(qnt_row_size(known[i].id, 33), 0);
			assert_int_equal(qnt_row_size(known[i].id, 4096 + 16), 0);
		}
	}
	assert_int_equal(qnt_row_size(QNT_TYPE_INVALID, 32), 0);
	assert_int_equal(qnt_row_size(4, 32), 0);
}

/* Near INT64_MAX: 0 when bytes overflow size_t, the exact value otherwise. */
static void row_size_overflow(void **state)
{
	(void)state;
	if (SIZE_MAX != UINT64_MAX) {
		skip();
		return;
	}
	/* f32: 4 bytes per element, overflows from 2^62 elements on */
	const int64_t f32_max = (int64_t)(SIZE_MAX / 4);
	assert_int_equal(qnt_row_size(QNT_TYPE_F32, f32_max), (size_t)f32_max * 4);
	assert_int_equal(qnt_row_size(QNT_TYPE_F32, f32_max + 1), 0);
	assert_int_equal(qnt_row_size(QNT_TYPE_F32, INT64_MAX), 0);
	assert_int_equal(qnt_row_size(QNT_TYPE_F32, INT64_MAX - 1), 0);
	/* 2 bytes per element: INT64_MAX elements still fit */
	assert_int_equal(qnt_row_size(QNT_TYPE_F16, INT64_MAX), (size_t)INT64_MAX * 2);
	assert_int_equal(qnt_row_size(QNT_TYPE_BF16, INT64_MAX), (size_t)INT64_MAX * 2);
	/* the largest multiple of 32: exact, no wrap-around */
	const int64_t n32 = INT64_MAX - INT64_MAX % 32;
	assert_int_equal(qnt_row_size(QNT_TYPE_Q8_1, n32), (size_t)(n32 / 32) * 36);
	assert_int_equal(qnt_row_size(QNT_TYPE_Q4_0, n32), (size_t)(n32 / 32) * 18);
	assert_int_equal(qnt_row_size(QNT_TYPE_Q4_0, INT64_MAX), 0); /* not a multiple */
}

static void get_info_known(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(known); i++) {
		qnt_type_info info = QNT_TYPE_INFO_INIT;
		assert_int_equal(qnt_type_get_info(known[i].id, &info), QNT_OK);
		assert_int_equal(info.struct_size, sizeof(qnt_type_info));
		assert_int_equal(info.type, known[i].id);
		assert_int_equal(info.block_size, known[i].block_size);
		assert_int_equal(info.block_bytes, known[i].block_bytes);
		assert_int_equal(info.reserved, 0);
		assert_float_equal(info.bits_per_weight, 8.0 * (double)known[i].block_bytes / (double)known[i].block_size,
				   1e-12);
		assert_string_equal(info.name, known[i].name);
		assert_non_null(info.description);
		assert_true(strlen(info.description) > 0);
		assert_int_equal(!!(info.flags & QNT_TYPE_FLAG_QUANTIZED), known[i].quantized);
		/* all of 1.0's formats can be produced and read */
		assert_true(info.flags & QNT_TYPE_FLAG_QUANTIZE);
		assert_true(info.flags & QNT_TYPE_FLAG_DEQUANTIZE);
		/* plain floats have no freedom, q8_1 is the activation format */
		const int imp = known[i].quantized && known[i].id != QNT_TYPE_Q8_1;
		assert_int_equal(!!(info.flags & QNT_TYPE_FLAG_IMPORTANCE), imp);
		assert_int_equal(!!(info.flags & QNT_TYPE_FLAG_ACTIVATION), known[i].id == QNT_TYPE_Q8_1);
	}
	qnt_type_info info = QNT_TYPE_INFO_INIT;
	assert_float_equal((qnt_type_get_info(QNT_TYPE_Q4_0, &info), info.bits_per_weight), 4.5, 1e-12);
	assert_float_equal((qnt_type_get_info(QNT_TYPE_Q8_0, &info), info.bits_per_weight), 8.5, 1e-12);
}

static void get_info_errors(void **state)
{
	(void)state;
	qnt_type_info info = QNT_TYPE_INFO_INIT;
	assert_int_equal(qnt_type_get_info(QNT_TYPE_Q4_0, NULL), QNT_E_INVALID_ARG);
	assert_contains(qnt_ctx_last_error(NULL), "qnt_type_get_info");
	assert_int_equal(qnt_type_get_info(QNT_TYPE_INVALID, &info), QNT_E_UNKNOWN_TYPE);
	assert_contains(qnt_ctx_last_error(NULL), "-1");
	assert_int_equal(qnt_type_get_info(4, &info), QNT_E_UNKNOWN_TYPE);
	assert_int_equal(qnt_type_get_info(1000, &info), QNT_E_UNKNOWN_TYPE);
	assert_contains(qnt_ctx_last_error(NULL), "1000");
}

/* A struct_size too small to hold even the fixed fields is refused, and
 * nothing is written. */
static void get_info_too_small(void **state)
{
	(void)state;
	const uint32_t sizes[] = { 0, 1, sizeof(uint32_t), 8, 16 };
	for (size_t i = 0; i < N_ELEMS(sizes); i++) {
		qnt_type_info info;
		memset(&info, 0xA5, sizeof info);
		info.struct_size = sizes[i];
		assert_int_equal(qnt_type_get_info(QNT_TYPE_Q4_0, &info), QNT_E_INVALID_ARG);
		assert_int_equal(info.struct_size, sizes[i]);
		const unsigned char *p = (const unsigned char *)&info;
		for (size_t k = sizeof info.struct_size; k < sizeof info; k++)
			assert_int_equal(p[k], 0xA5);
	}
}

/* A smaller struct that the library accepts: it writes at most struct_size
 * bytes. */
static void get_info_partial(void **state)
{
	(void)state;
	qnt_type_info info;
	const size_t part = offsetof(qnt_type_info, name);
	memset(&info, 0xA5, sizeof info);
	info.struct_size = (uint32_t)part;
	assert_int_equal(qnt_type_get_info(QNT_TYPE_Q5_1, &info), QNT_OK);
	assert_int_equal(info.struct_size, part);
	assert_int_equal(info.type, QNT_TYPE_Q5_1);
	assert_int_equal(info.block_size, 32);
	assert_int_equal(info.block_bytes, 24);
	assert_float_equal(info.bits_per_weight, 6.0, 1e-12);
	const unsigned char *p = (const unsigned char *)&info;
	for (size_t k = part; k < sizeof info; k++)
		assert_int_equal(p[k], 0xA5);
}

/* A caller compiled against a newer header: known fields are filled, the
 * tail is left alone and struct_size keeps the caller's value. */
static void get_info_larger(void **state)
{
	(void)state;
	struct {
		qnt_type_info info;
		uint64_t newer[4];
	} big;
	memset(&big, 0x5A, sizeof big);
	big.info.struct_size = (uint32_t)sizeof big;
	assert_int_equal(qnt_type_get_info(QNT_TYPE_Q8_0, &big.info), QNT_OK);
	assert_int_equal(big.info.struct_size, sizeof big);
	assert_int_equal(big.info.type, QNT_TYPE_Q8_0);
	assert_int_equal(big.info.block_size, 32);
	assert_int_equal(big.info.block_bytes, 34);
	assert_string_equal(big.info.name, "q8_0");
	assert_int_equal(big.info.reserved, 0);
	const unsigned char *p = (const unsigned char *)big.newer;
	for (size_t k = 0; k < sizeof big.newer; k++)
		assert_int_equal(p[k], 0x5A);
}

static void enumeration(void **state)
{
	(void)state;
	const int32_t n = qnt_type_count();
	assert_true(n >= (int32_t)N_ELEMS(known));
	assert_int_equal(qnt_type_at(-1), QNT_TYPE_INVALID);
	assert_int_equal(qnt_type_at(n), QNT_TYPE_INVALID);
	assert_int_equal(qnt_type_at(INT32_MAX), QNT_TYPE_INVALID);
	assert_int_equal(qnt_type_at(INT32_MIN), QNT_TYPE_INVALID);
	qnt_type prev = QNT_TYPE_INVALID;
	size_t seen = 0;
	for (int32_t i = 0; i < n; i++) {
		qnt_type t = qnt_type_at(i);
		assert_true(t > prev); /* strictly ascending: sorted, no duplicates */
		prev = t;
		const char *name = qnt_type_name(t);
		assert_non_null(name);
		assert_int_equal(qnt_type_by_name(name), t);
		assert_true(qnt_type_block_size(t) > 0);
		assert_true(qnt_type_block_bytes(t) > 0);
		qnt_type_info info = QNT_TYPE_INFO_INIT;
		assert_int_equal(qnt_type_get_info(t, &info), QNT_OK);
		assert_int_equal(info.type, t);
		assert_string_equal(info.name, name);
		/* names are unique, case-insensitively */
		for (int32_t j = 0; j < i; j++)
			assert_int_not_equal(strcasecmp(qnt_type_name(qnt_type_at(j)), name), 0);
		for (size_t k = 0; k < N_ELEMS(known); k++)
			seen += known[k].id == t;
	}
	assert_int_equal(seen, N_ELEMS(known));
}

/* The macros of the header equal what the library reports. */
static void macros_equal_functions(void **state)
{
	(void)state;
	assert_int_equal(qnt_type_by_name("f32"), QNT_TYPE_F32);
	assert_int_equal(qnt_type_by_name("f16"), QNT_TYPE_F16);
	assert_int_equal(qnt_type_by_name("q4_0"), QNT_TYPE_Q4_0);
	assert_int_equal(qnt_type_by_name("q4_1"), QNT_TYPE_Q4_1);
	assert_int_equal(qnt_type_by_name("q5_0"), QNT_TYPE_Q5_0);
	assert_int_equal(qnt_type_by_name("q5_1"), QNT_TYPE_Q5_1);
	assert_int_equal(qnt_type_by_name("q8_0"), QNT_TYPE_Q8_0);
	assert_int_equal(qnt_type_by_name("q8_1"), QNT_TYPE_Q8_1);
	assert_int_equal(qnt_type_by_name("bf16"), QNT_TYPE_BF16);
	assert_int_equal(qnt_version_number(), QNT_VERSION_NUMBER);
	assert_string_equal(qnt_version_string(), QNT_VERSION_STRING);
	assert_int_equal(qnt_format_version(), QNT_FORMAT_VERSION);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ids_equal_gguf),
		cmocka_unit_test(canonical_names),
		cmocka_unit_test(by_name_is_case_insensitive),
		cmocka_unit_test(by_name_unknown),
		cmocka_unit_test(block_geometry),
		cmocka_unit_test(row_size_regular),
		cmocka_unit_test(row_size_edge_cases),
		cmocka_unit_test(row_size_overflow),
		cmocka_unit_test(get_info_known),
		cmocka_unit_test(get_info_errors),
		cmocka_unit_test(get_info_too_small),
		cmocka_unit_test(get_info_partial),
		cmocka_unit_test(get_info_larger),
		cmocka_unit_test(enumeration),
		cmocka_unit_test(macros_equal_functions),
	};
	return cmocka_run_group_tests_name("types", tests, NULL, NULL);
}
