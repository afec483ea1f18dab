/* SPDX-License-Identifier: MIT */
/* The "cpu-avx2" backend: its vtable (backends/cpu/avx2.c, built with
 * -mavx2 -mfma -mf16c) and its score (backends/cpu/avx2_score.c, built
 * without them, so that it runs on any x86-64 CPU). Never installed. */
#ifndef QNT_CPU_AVX2_H
#define QNT_CPU_AVX2_H

#include "libqnt_backend.h"

/* 1 + QNT_CPU_AVX2 + QNT_CPU_F16C + QNT_CPU_FMA where the CPU and the OS
 * support all three (host->cpu_features), else 0 with the missing ones in
 * `why`. */
int32_t qnt__cpu_avx2_score(const qnt_host_api *host, char *why, size_t why_size);

extern const qnt_backend_vtbl qnt__cpu_avx2_backend;

#endif
