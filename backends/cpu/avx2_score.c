/* SPDX-License-Identifier: MIT */
/* Scores of the "cpu-avx2" and "cpu-avx512" backends (STYLE 3.5: SIMD
 * variants score 1 + the sum of 1 << feature, and 0 if a feature they need
 * is missing). Built without -mavx2 so that it runs on every x86-64 CPU:
 * host->cpu_features already requires the OS to save the YMM (and for
 * AVX-512 the ZMM and opmask) state (XGETBV). */
#include "cpu_avx2.h"

#include <stdio.h>
#include <string.h>

struct feature {
	uint64_t bit;
	const char *name;
};

static const struct feature avx2_need[] = { { QNT_CPU_AVX2, "avx2" }, { QNT_CPU_FMA, "fma" }, { QNT_CPU_F16C, "f16c" } };

static int32_t score_of(const struct feature *need, size_t n, uint64_t have, char *why, size_t why_size)
{
	int32_t score = 1;
	int missing = 0;
	size_t used = 0;
	if (why && why_size)
		why[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (have & need[i].bit) {
			score += (int32_t)need[i].bit;
			continue;
		}
		missing = 1;
		if (why && used < why_size)
			used += (size_t)snprintf(why + used, why_size - used, "%s%s", used ? ", " : "the CPU or OS lacks ",
						 need[i].name);
	}
	return missing ? 0 : score;
}

int32_t qnt__cpu_avx2_score(const qnt_host_api *host, char *why, size_t why_size)
{
	return score_of(avx2_need, sizeof avx2_need / sizeof avx2_need[0], host->cpu_features, why, why_size);
}

#ifdef QNT_HAVE_CPU_AVX512
int32_t qnt__cpu_avx512_score(const qnt_host_api *host, char *why, size_t why_size)
{
#ifdef QNT_AVX512_EMULATED
	const int32_t s = qnt__cpu_avx2_score(host, why, why_size);
	return s > 0 ? s + 1 : 0;
#else
	static const struct feature need[] = {
		{ QNT_CPU_AVX2, "avx2" },         { QNT_CPU_FMA, "fma" },           { QNT_CPU_F16C, "f16c" },
		{ QNT_CPU_AVX512F, "avx512f" },   { QNT_CPU_AVX512BW, "avx512bw" }, { QNT_CPU_AVX512VL, "avx512vl" },
		{ QNT_CPU_AVX512VNNI, "avx512vnni" },
	};
	return score_of(need, sizeof need / sizeof need[0], host->cpu_features, why, why_size);
#endif
}
#endif
