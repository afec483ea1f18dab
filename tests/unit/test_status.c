/* SPDX-License-Identifier: MIT */
/* qnt_status_str / qnt_status_name: every code of the header, unknown codes,
 * the backend range. */
#include "test_common.h"

#include <limits.h>

#include "libqnt.h"

static const struct {
	int code;
	const char *name;
} codes[] = {
	{ QNT_OK, "QNT_OK" },
	{ QNT_E_INVALID_ARG, "QNT_E_INVALID_ARG" },
	{ QNT_E_NO_MEMORY, "QNT_E_NO_MEMORY" },
	{ QNT_E_UNSUPPORTED, "QNT_E_UNSUPPORTED" },
	{ QNT_E_BACKEND, "QNT_E_BACKEND" },
	{ QNT_E_ABI_MISMATCH, "QNT_E_ABI_MISMATCH" },
	{ QNT_E_STRUCT_TOO_NEW, "QNT_E_STRUCT_TOO_NEW" },
	{ QNT_E_UNKNOWN_TYPE, "QNT_E_UNKNOWN_TYPE" },
	{ QNT_E_BAD_SHAPE, "QNT_E_BAD_SHAPE" },
	{ QNT_E_NOT_FOUND, "QNT_E_NOT_FOUND" },
	{ QNT_E_IO, "QNT_E_IO" },
	{ QNT_E_FORMAT, "QNT_E_FORMAT" },
	{ QNT_E_NOT_INITIALIZED, "QNT_E_NOT_INITIALIZED" },
	{ QNT_E_BUSY, "QNT_E_BUSY" },
};

/* The values are ABI: pin them. */
static void values_are_fixed(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(codes); i++)
		assert_int_equal(codes[i].code, -(int)i);
}

static void every_code_has_its_name(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(codes); i++)
		assert_string_equal(qnt_status_name(codes[i].code), codes[i].name);
}

static void every_code_has_a_distinct_description(void **state)
{
	(void)state;
	const char *unknown = qnt_status_str(12345);
	for (size_t i = 0; i < N_ELEMS(codes); i++) {
		const char *s = qnt_status_str(codes[i].code);
		assert_non_null(s);
		assert_true(strlen(s) > 3);
		assert_string_not_equal(s, unknown);
		/* a description, not the symbol */
		assert_null(strstr(s, "QNT_"));
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(s, qnt_status_str(codes[j].code));
	}
	assert_string_equal(qnt_status_str(QNT_OK), "success");
	assert_string_equal(qnt_status_str(QNT_E_NO_MEMORY), "out of memory");
}

static void unknown_codes(void **state)
{
	(void)state;
	const int unknown[] = { 1, 2, 100, -14, -100, -999, INT_MAX };
	for (size_t i = 0; i < N_ELEMS(unknown); i++) {
		assert_non_null(qnt_status_str(unknown[i]));
		assert_true(strlen(qnt_status_str(unknown[i])) > 0);
		assert_string_equal(qnt_status_name(unknown[i]), "QNT_E_UNKNOWN");
	}
	assert_string_equal(qnt_status_str(-14), qnt_status_str(7));
}

/* Codes <= -1000 belong to backends: named as unknown, described as
 * backend-specific, never NULL. */
static void backend_range(void **state)
{
	(void)state;
	const int be[] = { -1000, -1001, -4242, INT_MIN };
	const char *generic = qnt_status_str(-999);
	for (size_t i = 0; i < N_ELEMS(be); i++) {
		const char *s = qnt_status_str(be[i]);
		assert_non_null(s);
		assert_contains(s, "backend");
		assert_string_not_equal(s, generic);
		assert_string_equal(qnt_status_name(be[i]), "QNT_E_UNKNOWN");
	}
	assert_null(strstr(generic, "backend"));
}

/* The strings are static: the same pointer on each call, and neither call
 * needs qnt_init(). */
static void strings_are_static(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(codes); i++) {
		assert_ptr_equal(qnt_status_str(codes[i].code), qnt_status_str(codes[i].code));
		assert_ptr_equal(qnt_status_name(codes[i].code), qnt_status_name(codes[i].code));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(strings_are_static),
		cmocka_unit_test(values_are_fixed),
		cmocka_unit_test(every_code_has_its_name),
		cmocka_unit_test(every_code_has_a_distinct_description),
		cmocka_unit_test(unknown_codes),
		cmocka_unit_test(backend_range),
	};
	return cmocka_run_group_tests_name("status", tests, NULL, NULL);
}
