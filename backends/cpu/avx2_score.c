/* SPDX-License-Identifier: MIT */
/* Score of the "cpu-avx2" backend (STYLE 3.5: SIMD variants score
 * 1 + the sum of 1 << feature, and 0 if a feature they need is missing).
 * Built without -mavx2 so that it runs on every x86-64 CPU: host->cpu_features
 * already requires the OS to save the YMM state (XGETBV). */
#include "cpu_avx2.h"

#include <stdio.h>
#include <string.h>

int32_t qnt__cpu_avx2_score(const qnt_host_api *host, char *why, size_t why_size)
{
	static const struct {
		uint64_t bit;
		const char *name;
	} need[] = { { QNT_CPU_AVX2, "avx2" }, { QNT_CPU_FMA, "fma" }, { QNT_CPU_F16C, "f16c" } };
	const uint64_t have = host->cpu_features;
	int32_t score = 1;
	int missing = 0;
	size_t used = 0;
	if (why && why_size)
		why[0] = '\0';
	for (size_t i = 0; i < sizeof need / sizeof need[0]; i++) {
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
