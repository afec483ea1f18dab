/* SPDX-License-Identifier: MIT */
/*
 * A fake backend module for the registry tests. It is built several times
 * with different -D options (see modules/meson.build):
 *   FAKE_NAME    backend name
 *   FAKE_ABI     abi_version it claims (QNT_BACKEND_ABI by default)
 *   FAKE_SCORE   what score() returns (0: unusable, FAKE_REASON says why)
 *
 * Like any module it does not link libqnt: everything it needs comes through
 * the qnt_host_api table. Its kernels forward to the host's scalar reference
 * and count their calls; the test reaches the counters with get_proc():
 *   "fake_calls"     atomic_long *  kernel calls (quantize + dequantize)
 *   "fake_opens"     atomic_long *  open() calls
 *   "fake_closes"    atomic_long *  close() calls
 *   "fake_fail_next" atomic_int *   a status the next kernel call returns
 * The only exported symbol is qnt_backend_entry.
 */
#include "libqnt_backend.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#ifndef FAKE_NAME
#define FAKE_NAME "fake"
#endif
#ifndef FAKE_ABI
#define FAKE_ABI QNT_BACKEND_ABI
#endif
#ifndef FAKE_SCORE
#define FAKE_SCORE 1000
#endif
#ifndef FAKE_REASON
#define FAKE_REASON "disabled"
#endif

/* Scratch each thread asks for; a kernel checks that it got it. */
#define FAKE_SCRATCH 4096
/* Returned by a kernel that was handed no (or too little) scratch. */
#define FAKE_E_SCRATCH (-1001)

#define FAKE_EXPORT __attribute__((visibility("default")))

FAKE_EXPORT const qnt_backend_vtbl *qnt_backend_entry(uint32_t host_abi, const qnt_host_api *host);

static atomic_long calls, opens, closes;
static atomic_int fail_next;

struct fake_state {
	const qnt_host_api *host;
	int32_t device;
};

static int32_t fake_score(const qnt_host_api *host, char *why, size_t why_size)
{
	if (!host || host->abi_version != QNT_BACKEND_ABI || host->struct_size < sizeof(qnt_host_api)) {
		snprintf(why, why_size, "host table too old");
		return 0;
	}
	if (FAKE_SCORE <= 0)
		snprintf(why, why_size, "%s", FAKE_REASON);
	return FAKE_SCORE;
}

static qnt_status fake_open(const qnt_host_api *host, int32_t device, void **state)
{
	if (device != 0)
		return QNT_E_NOT_FOUND;
	struct fake_state *s = host->alloc(sizeof *s, 64);
	if (!s)
		return QNT_E_NO_MEMORY;
	s->host = host;
	s->device = device;
	*state = s;
	atomic_fetch_add(&opens, 1);
	host->log(QNT_LOG_DEBUG, "%s: opened device %d", FAKE_NAME, (int)device);
	return QNT_OK;
}

static void fake_close(void *state)
{
	struct fake_state *s = state;
	atomic_fetch_add(&closes, 1);
	s->host->free(s);
}

static int32_t fake_device_count(void *state)
{
	(void)state;
	return 1;
}

static qnt_status fake_device_props(void *state, int32_t device, qnt_device_props *props)
{
	(void)state;
	if (device != 0)
		return QNT_E_NOT_FOUND;
	if (!props || props->struct_size < sizeof *props)
		return QNT_E_INVALID_ARG;
	props->kind = QNT_DEVICE_CPU;
	props->memory_total = 0;
	props->memory_free = 0;
	props->caps = QNT_BACKEND_CAP_HOST_THREADS;
	props->reserved = 0;
	props->name = FAKE_NAME;
	props->description = "fake device";
	return QNT_OK;
}

static int32_t fake_supports(void *state, qnt_type type, uint32_t op)
{
	struct fake_state *s = state;
	qnt_type_info info = QNT_TYPE_INFO_INIT;
	if (s->host->type_info(type, &info) != QNT_OK)
		return 0;
	if (op == QNT_OP_QUANTIZE)
		return (info.flags & QNT_TYPE_FLAG_QUANTIZE) != 0;
	if (op == QNT_OP_DEQUANTIZE)
		return (info.flags & QNT_TYPE_FLAG_DEQUANTIZE) != 0;
	return 0;
}

/* Common checks of a kernel call; returns QNT_OK to go on. */
static qnt_status enter(const qnt_kernel_job *job)
{
	if (!job || job->struct_size < sizeof *job || job->src.buffer || job->dst.buffer ||
	    job->row_begin < 0 || job->row_end > job->nrows || job->row_begin >= job->row_end)
		return QNT_E_INVALID_ARG;
	if (!job->scratch || job->scratch_bytes < FAKE_SCRATCH || ((uintptr_t)job->scratch & 63u))
		return FAKE_E_SCRATCH;
	memset(job->scratch, 0xFE, FAKE_SCRATCH); /* it is ours to scribble on */
	int f = atomic_exchange(&fail_next, 0);
	if (f)
		return (qnt_status)f;
	atomic_fetch_add(&calls, 1);
	return QNT_OK;
}

static qnt_status fake_quantize(void *state, const qnt_kernel_job *job)
{
	struct fake_state *s = state;
	qnt_status st = enter(job);
	if (st != QNT_OK)
		return st;
	size_t rs = s->host->row_size(job->type, job->n_per_row);
	return s->host->quantize_ref(job->type, (const float *)job->src.host + job->row_begin * job->n_per_row,
				     (char *)job->dst.host + (size_t)job->row_begin * rs, job->row_end - job->row_begin,
				     job->n_per_row, job->importance);
}

static qnt_status fake_dequantize(void *state, const qnt_kernel_job *job)
{
	struct fake_state *s = state;
	qnt_status st = enter(job);
	if (st != QNT_OK)
		return st;
	size_t rs = s->host->row_size(job->type, job->n_per_row);
	return s->host->dequantize_ref(job->type, (const char *)job->src.host + (size_t)job->row_begin * rs,
				       (float *)job->dst.host + job->row_begin * job->n_per_row,
				       job->row_end - job->row_begin, job->n_per_row);
}

static uint64_t fake_scratch_bytes(void *state, const qnt_kernel_job *job)
{
	(void)state;
	(void)job;
	return FAKE_SCRATCH;
}

static void *fake_get_proc(void *state, const char *name)
{
	(void)state;
	if (!name)
		return NULL;
	if (strcmp(name, "fake_calls") == 0)
		return &calls;
	if (strcmp(name, "fake_opens") == 0)
		return &opens;
	if (strcmp(name, "fake_closes") == 0)
		return &closes;
	if (strcmp(name, "fake_fail_next") == 0)
		return &fail_next;
	return NULL;
}

static const qnt_backend_vtbl vtbl = {
	.struct_size = sizeof(qnt_backend_vtbl),
	.abi_version = FAKE_ABI,
	.name = FAKE_NAME,
	.description = "fake backend for the libqnt tests",
	.caps = QNT_BACKEND_CAP_HOST_THREADS,
	.score = fake_score,
	.open = fake_open,
	.close = fake_close,
	.device_count = fake_device_count,
	.device_props = fake_device_props,
	.supports = fake_supports,
	.quantize = fake_quantize,
	.dequantize = fake_dequantize,
	.scratch_bytes = fake_scratch_bytes,
	.get_proc = fake_get_proc,
};

/* Cheap and side-effect free, as the ABI asks; it remembers nothing, so the
 * test may call it again to reach get_proc(). */
FAKE_EXPORT const qnt_backend_vtbl *qnt_backend_entry(uint32_t host_abi, const qnt_host_api *host)
{
	(void)host;
	if (host_abi != QNT_BACKEND_ABI)
		return NULL;
	return &vtbl;
}
