/* SPDX-License-Identifier: MIT */
/* CPU feature probing. On x86 a feature counts only when the CPU reports it
 * (CPUID) and the operating system saves its register state (XGETBV);
 * on ARM the kernel's hardware capabilities are authoritative. */
#include "qnt_internal.h"

#include <uv.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static uint64_t xgetbv0(void)
{
	uint32_t lo, hi;
	__asm__ volatile(".byte 0x0f, 0x01, 0xd0" : "=a"(lo), "=d"(hi) : "c"(0));
	return ((uint64_t)hi << 32) | lo;
}

uint64_t qnt__cpu_detect(void)
{
	unsigned a, b, c, d;
	uint64_t f = 0;
	if (!__get_cpuid(1, &a, &b, &c, &d))
		return 0;
	const int osxsave = (c >> 27) & 1;
	const uint64_t xcr0 = osxsave ? xgetbv0() : 0;
	const int os_avx = (xcr0 & 0x6) == 0x6;      /* XMM and YMM state */
	const int os_avx512 = (xcr0 & 0xe6) == 0xe6; /* plus opmask, ZMM_Hi256, Hi16_ZMM */

	if ((c >> 20) & 1)
		f |= QNT_CPU_SSE42;
	if (os_avx) {
		if ((c >> 28) & 1)
			f |= QNT_CPU_AVX;
		if ((c >> 12) & 1)
			f |= QNT_CPU_FMA;
		if ((c >> 29) & 1)
			f |= QNT_CPU_F16C;
	}
	unsigned max_leaf = __get_cpuid_max(0, NULL);
	if (max_leaf >= 7) {
		__cpuid_count(7, 0, a, b, c, d);
		if (os_avx && ((b >> 5) & 1))
			f |= QNT_CPU_AVX2;
		if (os_avx512) {
			if ((b >> 16) & 1)
				f |= QNT_CPU_AVX512F;
			if ((b >> 30) & 1)
				f |= QNT_CPU_AVX512BW;
			if ((b >> 31) & 1)
				f |= QNT_CPU_AVX512VL;
			if ((c >> 11) & 1)
				f |= QNT_CPU_AVX512VNNI;
		}
		unsigned sub = a;
		if (sub >= 1) {
			__cpuid_count(7, 1, a, b, c, d);
			if (os_avx && ((a >> 4) & 1))
				f |= QNT_CPU_AVXVNNI;
			if (os_avx512 && ((a >> 5) & 1))
				f |= QNT_CPU_AVX512BF16;
		}
	}
	return f;
}

#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>

uint64_t qnt__cpu_detect(void)
{
	unsigned long hw = getauxval(AT_HWCAP), hw2 = getauxval(AT_HWCAP2);
	uint64_t f = QNT_CPU_NEON; /* mandatory on AArch64 */
	if (hw & (1ul << 10)) /* HWCAP_ASIMDHP */
		f |= QNT_CPU_FP16;
	if (hw & (1ul << 20)) /* HWCAP_ASIMDDP */
		f |= QNT_CPU_DOTPROD;
	if (hw & (1ul << 22)) /* HWCAP_SVE */
		f |= QNT_CPU_SVE;
	if (hw2 & (1ul << 13)) /* HWCAP2_I8MM */
		f |= QNT_CPU_I8MM;
	return f;
}

#elif defined(__aarch64__)
uint64_t qnt__cpu_detect(void)
{
	return QNT_CPU_NEON;
}

#else
uint64_t qnt__cpu_detect(void)
{
	return 0;
}
#endif

static uv_once_t once = UV_ONCE_INIT;
static uint64_t features;

static void detect(void)
{
	features = qnt__cpu_detect();
}

QNT_API uint64_t qnt_cpu_features(void)
{
	uv_once(&once, detect);
	return features;
}

static const struct {
	uint64_t bit;
	const char *name;
} names[] = {
	{ QNT_CPU_SSE42, "sse4.2" },   { QNT_CPU_AVX, "avx" },
	{ QNT_CPU_AVX2, "avx2" },      { QNT_CPU_F16C, "f16c" },
	{ QNT_CPU_FMA, "fma" },        { QNT_CPU_AVX512F, "avx512f" },
	{ QNT_CPU_AVX512BW, "avx512bw" }, { QNT_CPU_AVX512VL, "avx512vl" },
	{ QNT_CPU_AVX512VNNI, "avx512vnni" }, { QNT_CPU_AVX512BF16, "avx512bf16" },
	{ QNT_CPU_AVXVNNI, "avxvnni" }, { QNT_CPU_NEON, "neon" },
	{ QNT_CPU_DOTPROD, "dotprod" }, { QNT_CPU_I8MM, "i8mm" },
	{ QNT_CPU_SVE, "sve" },        { QNT_CPU_FP16, "fp16" },
};

QNT_API const char *qnt_cpu_feature_name(uint64_t bit)
{
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (names[i].bit == bit)
			return names[i].name;
	return NULL;
}
