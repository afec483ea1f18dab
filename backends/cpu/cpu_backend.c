/* SPDX-License-Identifier: MIT */
/*
 * The "cpu" backend: the scalar reference kernels behind the backend vtable.
 * It is always compiled in, scores 1 (every SIMD variant that can run scores
 * higher) and is the ground truth the other backends are tested against.
 *
 * It touches libqnt only through the host table, exactly as a module would,
 * so it doubles as the template for new backends.
 */
#include "libqnt_backend.h"
#include "qnt_host_cpu.h"

#include <string.h>

static int32_t cpu_score(const qnt_host_api *host, char *why, size_t why_size)
{
	(void)host;
	(void)why;
	(void)why_size;
	return 1;
}

static qnt_status cpu_device_props(void *state, int32_t device, qnt_device_props *props)
{
	(void)state;
	return qnt__host_cpu_props(device, props, "cpu", "host CPU, portable scalar code");
}

static int32_t cpu_supports(void *state, qnt_type type, uint32_t op)
{
	const qnt_host_api *host = state;
	qnt_type_info info = QNT_TYPE_INFO_INIT;
	if (host->type_info(type, &info) != QNT_OK)
		return 0;
	if (op == QNT_OP_QUANTIZE)
		return (info.flags & QNT_TYPE_FLAG_QUANTIZE) != 0;
	if (op == QNT_OP_DEQUANTIZE)
		return (info.flags & QNT_TYPE_FLAG_DEQUANTIZE) != 0;
	if (op == QNT_OP_MATMUL) /* the host's reference product, when it has one */
		return (info.flags & QNT_TYPE_FLAG_DEQUANTIZE) != 0 && QNT_HOST_HAS(host, matmul_ref) &&
		       host->matmul_ref != NULL;
	return 0;
}

static qnt_status cpu_quantize(void *state, const qnt_kernel_job *job)
{
	const qnt_host_api *host = state;
	size_t rs = host->row_size(job->type, job->n_per_row);
	if (job->src.buffer || job->dst.buffer || rs == 0)
		return QNT_E_INVALID_ARG;
	return host->quantize_ref(job->type, (const float *)job->src.host + job->row_begin * job->n_per_row,
				  (char *)job->dst.host + (size_t)job->row_begin * rs, job->row_end - job->row_begin,
				  job->n_per_row, job->importance);
}

static qnt_status cpu_dequantize(void *state, const qnt_kernel_job *job)
{
	const qnt_host_api *host = state;
	size_t rs = host->row_size(job->type, job->n_per_row);
	if (job->src.buffer || job->dst.buffer || rs == 0)
		return QNT_E_INVALID_ARG;
	return host->dequantize_ref(job->type, (const char *)job->src.host + (size_t)job->row_begin * rs,
				    (float *)job->dst.host + job->row_begin * job->n_per_row,
				    job->row_end - job->row_begin, job->n_per_row);
}

/* The activations in the reference's companion format, quantized once per
 * call by libqnt. */
static qnt_type cpu_matmul_xq_type(void *state, qnt_type wtype)
{
	const qnt_host_api *host = state;
	if (!QNT_HOST_HAS(host, matmul_ref_xq_type) || !host->matmul_ref_xq_type)
		return QNT_TYPE_INVALID;
	return host->matmul_ref_xq_type(wtype);
}

static qnt_status cpu_matmul(void *state, const qnt_matmul_job *job)
{
	const qnt_host_api *host = state;
	if (job->w.buffer || job->x.buffer || job->y.buffer)
		return QNT_E_INVALID_ARG;
	/* xq is usable only in the reference's own companion format */
	const void *xq = job->xq && job->xq_type == cpu_matmul_xq_type(state, job->wtype) ? job->xq : NULL;
	return host->matmul_ref(job->wtype, job->w.host, job->n_out, job->n_in, (const float *)job->x.host, xq,
				job->n_cols, (float *)job->y.host, job->row_begin, job->row_end);
}

const qnt_backend_vtbl qnt__cpu_backend = {
	.struct_size = sizeof(qnt_backend_vtbl),
	.abi_version = QNT_BACKEND_ABI,
	.name = "cpu",
	.description = "scalar reference (portable C)",
	.caps = QNT_BACKEND_CAP_HOST_THREADS,
	.score = cpu_score,
	.open = qnt__host_cpu_open,
	.close = qnt__host_cpu_close,
	.device_count = qnt__host_cpu_device_count,
	.device_props = cpu_device_props,
	.supports = cpu_supports,
	.quantize = cpu_quantize,
	.dequantize = cpu_dequantize,
	.matmul_xq_type = cpu_matmul_xq_type,
	.matmul = cpu_matmul,
};
