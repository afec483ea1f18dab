/* SPDX-License-Identifier: MIT */
/* qnt_cpu_features / qnt_cpu_feature_name: names, implications, and (on
 * x86-64 Linux) agreement with the kernel's view in /proc/cpuinfo. */
#include "test_common.h"

#include "libqnt.h"

static const struct {
	uint64_t bit;
	const char *name;
	const char *cpuinfo; /* the flag in /proc/cpuinfo on x86 Linux, or NULL */
	int x86;
} features[] = {
	{ QNT_CPU_SSE42, "sse4.2", "sse4_2", 1 },
	{ QNT_CPU_AVX, "avx", "avx", 1 },
	{ QNT_CPU_AVX2, "avx2", "avx2", 1 },
	{ QNT_CPU_F16C, "f16c", "f16c", 1 },
	{ QNT_CPU_FMA, "fma", "fma", 1 },
	{ QNT_CPU_AVX512F, "avx512f", "avx512f", 1 },
	{ QNT_CPU_AVX512BW, "avx512bw", "avx512bw", 1 },
	{ QNT_CPU_AVX512VL, "avx512vl", "avx512vl", 1 },
	{ QNT_CPU_AVX512VNNI, "avx512vnni", "avx512_vnni", 1 },
	{ QNT_CPU_AVX512BF16, "avx512bf16", "avx512_bf16", 1 },
	{ QNT_CPU_AVXVNNI, "avxvnni", "avx_vnni", 1 },
	{ QNT_CPU_NEON, "neon", NULL, 0 },
	{ QNT_CPU_DOTPROD, "dotprod", NULL, 0 },
	{ QNT_CPU_I8MM, "i8mm", NULL, 0 },
	{ QNT_CPU_SVE, "sve", NULL, 0 },
	{ QNT_CPU_FP16, "fp16", NULL, 0 },
};

static uint64_t all_defined(void)
{
	uint64_t m = 0;
	for (size_t i = 0; i < N_ELEMS(features); i++)
		m |= features[i].bit;
	return m;
}

static void every_bit_has_its_name(void **state)
{
	(void)state;
	for (size_t i = 0; i < N_ELEMS(features); i++) {
		const char *n = qnt_cpu_feature_name(features[i].bit);
		assert_non_null(n);
		assert_string_equal(n, features[i].name);
		for (const char *c = n; *c; c++) /* lower case */
			assert_false(*c >= 'A' && *c <= 'Z');
		for (size_t j = 0; j < i; j++)
			assert_int_not_equal(features[i].bit, features[j].bit);
	}
}

static void unknown_bits_have_no_name(void **state)
{
	(void)state;
	const uint64_t defined = all_defined();
	assert_null(qnt_cpu_feature_name(0));
	for (int b = 0; b < 64; b++) {
		const uint64_t bit = UINT64_C(1) << b;
		if (!(bit & defined))
			assert_null(qnt_cpu_feature_name(bit));
	}
	/* one bit at a time: a combination is not a feature */
	assert_null(qnt_cpu_feature_name(QNT_CPU_AVX | QNT_CPU_AVX2));
	assert_null(qnt_cpu_feature_name(defined));
	assert_null(qnt_cpu_feature_name(UINT64_MAX));
}

static void features_are_defined_and_stable(void **state)
{
	(void)state;
	const uint64_t f = qnt_cpu_features();
	assert_int_equal(f & ~all_defined(), 0);
	assert_int_equal(qnt_cpu_features(), f);
	print_message("# cpu features:");
	for (size_t i = 0; i < N_ELEMS(features); i++)
		if (f & features[i].bit)
			print_message(" %s", features[i].name);
	print_message("\n");
#if defined(__x86_64__) || defined(__i386__)
	for (size_t i = 0; i < N_ELEMS(features); i++)
		if (!features[i].x86)
			assert_false(f & features[i].bit);
#elif defined(__aarch64__)
	assert_true(f & QNT_CPU_NEON); /* mandatory on AArch64 */
	for (size_t i = 0; i < N_ELEMS(features); i++)
		if (features[i].x86)
			assert_false(f & features[i].bit);
#endif
}

static void implications(void **state)
{
	(void)state;
	const uint64_t f = qnt_cpu_features();
	const struct {
		uint64_t has, implies;
	} rules[] = {
		{ QNT_CPU_AVX2, QNT_CPU_AVX },          { QNT_CPU_FMA, QNT_CPU_AVX },
		{ QNT_CPU_F16C, QNT_CPU_AVX },          { QNT_CPU_AVX512F, QNT_CPU_AVX2 },
		{ QNT_CPU_AVX512BW, QNT_CPU_AVX512F },  { QNT_CPU_AVX512VL, QNT_CPU_AVX512F },
		{ QNT_CPU_AVX512VNNI, QNT_CPU_AVX512F }, { QNT_CPU_AVX512BF16, QNT_CPU_AVX512F },
		{ QNT_CPU_AVXVNNI, QNT_CPU_AVX2 },      { QNT_CPU_DOTPROD, QNT_CPU_NEON },
		{ QNT_CPU_I8MM, QNT_CPU_NEON },         { QNT_CPU_SVE, QNT_CPU_NEON },
		{ QNT_CPU_FP16, QNT_CPU_NEON },
	};
	for (size_t i = 0; i < N_ELEMS(rules); i++)
		if ((f & rules[i].has) && !(f & rules[i].implies))
			fail_msg("%s without %s", qnt_cpu_feature_name(rules[i].has),
				 qnt_cpu_feature_name(rules[i].implies));
}

#if defined(__x86_64__) && defined(__linux__)
/* True when `flag` is a word of the first "flags" line of /proc/cpuinfo. */
static int cpuinfo_has(const char *line, const char *flag)
{
	const size_t n = strlen(flag);
	for (const char *p = line; (p = strstr(p, flag)) != NULL; p += n) {
		const int starts = p == line || p[-1] == ' ' || p[-1] == '\t' || p[-1] == ':';
		const int ends = p[n] == ' ' || p[n] == '\n' || p[n] == '\0';
		if (starts && ends)
			return 1;
	}
	return 0;
}

static void agrees_with_proc_cpuinfo(void **state)
{
	(void)state;
	FILE *fp = fopen("/proc/cpuinfo", "r");
	if (!fp) {
		skip();
		return;
	}
	static char line[16384];
	int found = 0;
	while (fgets(line, sizeof line, fp)) {
		if (strncmp(line, "flags", 5) == 0) {
			found = 1;
			break;
		}
	}
	fclose(fp);
	if (!found) {
		skip();
		return;
	}
	const uint64_t f = qnt_cpu_features();
	for (size_t i = 0; i < N_ELEMS(features); i++) {
		if (!features[i].cpuinfo)
			continue;
		const int reported = (f & features[i].bit) != 0;
		const int listed = cpuinfo_has(line, features[i].cpuinfo);
		/* a feature libqnt reports must be one the kernel lists */
		if (reported && !listed)
			fail_msg("libqnt reports %s, /proc/cpuinfo does not list %s", features[i].name,
				 features[i].cpuinfo);
		/* and the kernel clears the flags of state it does not enable, so a
		 * listed feature is usable and must be reported too */
		if (listed && !reported)
			fail_msg("/proc/cpuinfo lists %s, libqnt does not report %s", features[i].cpuinfo,
				 features[i].name);
	}
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_bit_has_its_name),
		cmocka_unit_test(unknown_bits_have_no_name),
		cmocka_unit_test(features_are_defined_and_stable),
		cmocka_unit_test(implications),
#if defined(__x86_64__) && defined(__linux__)
		cmocka_unit_test(agrees_with_proc_cpuinfo),
#endif
	};
	return cmocka_run_group_tests_name("cpu_features", tests, NULL, NULL);
}
