/* SPDX-License-Identifier: MIT */
/* The one device of the host-CPU backends (cpu, cpu-avx2, cpu-avx512,
 * cpu-neon): the vtable entries they share. */
#ifndef QNT_HOST_CPU_H
#define QNT_HOST_CPU_H

#include "libqnt_backend.h"

#include <stdint.h>

/* open for a backend whose state is the host API itself: device 0 only. */
static inline qnt_status qnt__host_cpu_open(const qnt_host_api *host, int32_t device, void **state)
{
	if (device != 0)
		return QNT_E_NOT_FOUND;
	*state = (void *)(uintptr_t)host;
	return QNT_OK;
}

static inline void qnt__host_cpu_close(void *state)
{
	(void)state;
}

static inline int32_t qnt__host_cpu_device_count(void *state)
{
	(void)state;
	return 1;
}

/* device_props for device 0: a CPU with no memory of its own, whose work
 * runs on the host's threads. */
static inline qnt_status qnt__host_cpu_props(int32_t device, qnt_device_props *props, const char *name,
					     const char *description)
{
	if (device != 0)
		return QNT_E_NOT_FOUND;
	if (!props || props->struct_size < sizeof *props)
		return QNT_E_INVALID_ARG;
	props->kind = QNT_DEVICE_CPU;
	props->memory_total = 0;
	props->memory_free = 0;
	props->caps = QNT_BACKEND_CAP_HOST_THREADS;
	props->reserved = 0;
	props->name = name;
	props->description = description;
	return QNT_OK;
}

#endif /* QNT_HOST_CPU_H */
