// SPDX-License-Identifier: MIT
// The public headers compile as C++11 with -pedantic-errors -Wall -Wextra
// -Werror, declare the functions extern "C" (the link would fail
// otherwise), and their structs stay standard-layout and trivially copyable,
// so C++ (and Rust, through bindgen) can share them with C.
#include "libqnt.h"
#include "libqnt_backend.h"
#include "libqnt.h"

#include <cstdio>
#include <cstring>
#include <type_traits>

#define LAYOUT_OK(T)                                                                 \
	static_assert(std::is_standard_layout<T>::value, #T " is standard-layout"); \
	static_assert(std::is_trivially_copyable<T>::value, #T " is trivially copyable")

LAYOUT_OK(qnt_ctx_opts);
LAYOUT_OK(qnt_type_info);
LAYOUT_OK(qnt_backend_props);
LAYOUT_OK(qnt_mem);
LAYOUT_OK(qnt_kernel_job);
LAYOUT_OK(qnt_device_props);
LAYOUT_OK(qnt_host_api);
LAYOUT_OK(qnt_backend_vtbl);
#ifdef QNT_MLX_PARAMS_INIT
LAYOUT_OK(qnt_mlx_params);
#endif

static_assert(QNT_VERSION_NUMBER == QNT_VERSION_MAJOR * 10000 + QNT_VERSION_MINOR * 100 + QNT_VERSION_PATCH,
	      "version number");
static_assert(QNT_CPU_AVX2 == (UINT64_C(1) << 2), "cpu bit");

static int failures;

#define CHECK(cond)                                                          \
	do {                                                                 \
		if (!(cond)) {                                               \
			std::printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			failures++;                                          \
		}                                                            \
	} while (0)

extern "C" {
static int32_t score(const qnt_host_api *, char *, size_t)
{
	return 1;
}
}

int main()
{
	qnt_ctx_opts opts = QNT_CTX_OPTS_INIT;
	qnt_ctx_opts by_fn;
	qnt_type_info info = QNT_TYPE_INFO_INIT;
	qnt_backend_props props = QNT_BACKEND_PROPS_INIT;
	qnt_backend_vtbl vtbl;
#ifdef QNT_MLX_PARAMS_INIT
	qnt_mlx_params mlx = QNT_MLX_PARAMS_INIT;
	CHECK(mlx.struct_size == sizeof(qnt_mlx_params));
#endif
	std::memset(&vtbl, 0, sizeof vtbl);
	vtbl.struct_size = sizeof vtbl;
	vtbl.score = score;

	CHECK(opts.struct_size == sizeof(qnt_ctx_opts));
	CHECK(qnt_ctx_opts_init(&by_fn, sizeof by_fn) == QNT_OK);
	CHECK(std::memcmp(&opts, &by_fn, sizeof opts) == 0);
	CHECK(qnt_type_get_info(QNT_TYPE_Q8_0, &info) == QNT_OK);
	CHECK(info.block_bytes == 34);
	CHECK(qnt_backend_get_props(0, &props) == QNT_OK);
	CHECK(QNT_VTBL_HAS(&vtbl, score));
	CHECK(!QNT_VTBL_HAS(&vtbl, open));
	CHECK(qnt_version_number() == QNT_VERSION_NUMBER);
	CHECK(std::strcmp(qnt_status_name(QNT_E_BAD_SHAPE), "QNT_E_BAD_SHAPE") == 0);
	if (failures)
		return 1;
	std::printf("ok: the headers compile as C++11 and link with extern \"C\" names\n");
	return 0;
}
