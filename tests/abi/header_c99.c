/* SPDX-License-Identifier: MIT */
/*
 * The public headers compile as strict C99 (-std=c99 -pedantic-errors -Wall
 * -Wextra -Werror), are self-contained (libqnt_backend.h first, no other
 * include before it), survive a second inclusion, and their INIT macros and
 * helper macros are usable from C99. Exit status 0 when the runtime checks
 * pass.
 */
#include "libqnt_backend.h"
#include "libqnt.h"
#include "libqnt_backend.h"

#include <stdio.h>
#include <string.h>

static int failures;

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (!(cond)) {                                               \
			printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			failures++;                                          \
		}                                                            \
	} while (0)

static int32_t score(const qnt_host_api *host, char *why, size_t why_size)
{
	(void)host;
	(void)why;
	(void)why_size;
	return 1;
}

/* C99 designated initialisers, as a backend would write its table. */
static const qnt_backend_vtbl vtbl = {
	.struct_size = sizeof(qnt_backend_vtbl),
	.abi_version = QNT_BACKEND_ABI,
	.name = "c99",
	.description = "header test",
	.score = score,
};

int main(void)
{
	qnt_ctx_opts opts = QNT_CTX_OPTS_INIT;
	qnt_ctx_opts by_fn;
	qnt_type_info info = QNT_TYPE_INFO_INIT;
	qnt_backend_props props = QNT_BACKEND_PROPS_INIT;
	qnt_kernel_job job;
	qnt_mem mem = { NULL, NULL, 0 };
	uint64_t cpu_bits = QNT_CPU_SSE42 | QNT_CPU_AVX512VNNI | QNT_CPU_FP16;
#ifdef QNT_MLX_PARAMS_INIT
	qnt_mlx_params mlx = QNT_MLX_PARAMS_INIT;
	CHECK(mlx.struct_size == sizeof(qnt_mlx_params));
#endif

	memset(&job, 0, sizeof job);
	job.struct_size = sizeof job;
	job.src = mem;

	CHECK(opts.struct_size == sizeof(qnt_ctx_opts));
	CHECK(opts.log_level == QNT_LOG_WARN);
	CHECK(qnt_ctx_opts_init(&by_fn, sizeof by_fn) == QNT_OK);
	CHECK(memcmp(&opts, &by_fn, sizeof opts) == 0);
	CHECK(info.struct_size == sizeof(qnt_type_info));
	CHECK(qnt_type_get_info(QNT_TYPE_Q4_0, &info) == QNT_OK);
	CHECK(info.block_size == 32);
	CHECK(props.struct_size == sizeof(qnt_backend_props));
	CHECK(qnt_backend_get_props(0, &props) == QNT_OK);
	CHECK(QNT_VTBL_HAS(&vtbl, score));
	CHECK(!QNT_VTBL_HAS(&vtbl, open));
	CHECK(!QNT_VTBL_HAS(&vtbl, get_proc));
	CHECK(QNT_BACKEND_VTBL_MIN_SIZE <= sizeof(qnt_backend_vtbl));
	CHECK(cpu_bits == ((UINT64_C(1) << 0) | (UINT64_C(1) << 8) | (UINT64_C(1) << 20)));
	CHECK(qnt_version_number() == QNT_VERSION_NUMBER);
	CHECK(strcmp(qnt_version_string(), QNT_VERSION_STRING) == 0);
	CHECK(strcmp(QNT_BACKEND_ENTRY_SYMBOL, "qnt_backend_entry") == 0);
	CHECK(job.src.host == NULL);
	if (failures)
		return 1;
	printf("ok: the headers compile as C99 and the macros agree with the library\n");
	return 0;
}
