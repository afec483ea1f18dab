/* SPDX-License-Identifier: MIT */
/* Internal declarations of libqnt. Never installed. Internal symbols are
 * named qnt__* and hidden (the library is built with -fvisibility=hidden and a
 * version script that lists the public names). */
#ifndef QNT_INTERNAL_H
#define QNT_INTERNAL_H

#include "libqnt.h"
#include "libqnt_backend.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define QNT_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define QNT_PRINTF(f, a)
#endif

#define QNT_ERRMSG_MAX 512

/* ---- formats (lib/core/formats.c) ---- */

/* Quantize nrows rows of n_per_row floats; `imp` is NULL or n_per_row weights.
 * Rows are independent: the same row gives the same bytes wherever it sits. */
typedef void (*qnt__quantize_fn)(const float *src, void *dst, int64_t nrows, int64_t n_per_row,
				 const float *imp);
/* Dequantize one row of n elements. */
typedef void (*qnt__dequantize_fn)(const void *src, float *dst, int64_t n);

struct qnt__type_traits {
	qnt_type id;
	const char *name;
	const char *description;
	int64_t block_size;
	size_t block_bytes;
	uint32_t flags; /* QNT_TYPE_FLAG_* */
	qnt__quantize_fn quantize;
	qnt__dequantize_fn dequantize;
};

/* NULL if unknown. */
const struct qnt__type_traits *qnt__traits(qnt_type type);

/* Argument checks of qnt_quantize / qnt_dequantize; record the error for ctx
 * (may be NULL) and, on success, return the traits in *out. */
qnt_status qnt__check_args(qnt_ctx *ctx, const char *fn, qnt_type type, const void *src, const void *dst,
			   int64_t nrows, int64_t n_per_row, int quantize, const struct qnt__type_traits **out);
qnt_status qnt__check_importance(qnt_ctx *ctx, const char *fn, const float *imp, int64_t n);

/* Scalar reference, host memory, no threads. Argument checks included. */
qnt_status qnt__quantize_ref(qnt_type type, const float *src, void *dst, int64_t nrows,
			     int64_t n_per_row, const float *importance);
qnt_status qnt__dequantize_ref(qnt_type type, const void *src, float *dst, int64_t nrows,
			       int64_t n_per_row);

/* qnt_quantize / qnt_dequantize / qnt_mlx_quantize / qnt_mlx_dequantize on
 * a context the caller has already acquired (qnt__ctx_acquire): for
 * library code that runs them inside another public call. */
qnt_status qnt__quantize_c(qnt_ctx *c, qnt_type type, const float *src, void *dst, int64_t nrows,
			   int64_t n_per_row, const float *importance);
qnt_status qnt__dequantize_c(qnt_ctx *c, qnt_type type, const void *src, float *dst, int64_t nrows,
			     int64_t n_per_row);
qnt_status qnt__mlx_quantize_c(qnt_ctx *c, const qnt_mlx_params *p, const void *src, int64_t nrows,
			       int64_t n_per_row, uint32_t *wq, void *scales, void *biases);
qnt_status qnt__mlx_dequantize_c(qnt_ctx *c, const qnt_mlx_params *p, const uint32_t *wq, const void *scales,
				 const void *biases, int64_t nrows, int64_t n_per_row, void *dst);

/* ---- small text files (lib/io/read_text.c) ---- */
/* Reads a file whole into a NUL-terminated buffer (*out, freed with free;
 * *len, may be NULL, its length). More than max_bytes is QNT_E_FORMAT
 * "<path>: larger than N bytes: not <what>"; QNT_E_NOT_FOUND, QNT_E_IO,
 * QNT_E_NO_MEMORY name the path. */
qnt_status qnt__read_text(qnt_ctx *ctx, const char *path, size_t max_bytes, const char *what, char **out,
			  size_t *len);

/* ---- matrix products (lib/core/matmul_ref.c) ---- */

/* The activation format of the reference product for wtype (ggml's
 * vec_dot_type: q8_0, q8_1 or q8_K), or QNT_TYPE_INVALID when it multiplies
 * by the floats. */
qnt_type qnt__matmul_ref_xq_type(qnt_type wtype);
/* Scalar reference of y = W x for the outputs [row_begin, row_end) of every
 * column (w, x, y point at the whole tensors; y[c * n_out + i]). xq: NULL,
 * or the columns already quantized to qnt__matmul_ref_xq_type(wtype) (then
 * x may be NULL); without it the reference quantizes x itself. No threads;
 * argument checks included. */
qnt_status qnt__matmul_ref(qnt_type wtype, const void *w, int64_t n_out, int64_t n_in, const float *x,
			   const void *xq, int64_t n_cols, float *y, int64_t row_begin, int64_t row_end);

/* qnt_matmul on an acquired context (lib/api/matmul.c). row_group 0: w
 * holds plain rows; otherwise the context's backend's layout from
 * matrix_prepare, with its row_group, multiplied by matmul_prepared. */
qnt_status qnt__matmul_c(qnt_ctx *c, qnt_type wtype, const void *w, int64_t n_out, int64_t n_in, const float *x,
			 int64_t n_cols, float *y, int64_t row_group);

/* ---- errors and logging (lib/api/status.c) ---- */

/* Records a message for `ctx` (may be NULL) and for the calling thread, logs
 * it at QNT_LOG_ERROR, and returns `st`. */
qnt_status qnt__error(qnt_ctx *ctx, qnt_status st, const char *fmt, ...) QNT_PRINTF(3, 4);
/* Clears the calling thread's message (and ctx's, if not NULL). */
void qnt__clear_error(qnt_ctx *ctx);
const char *qnt__thread_error(void);
/* Process-wide log (qnt_set_log_fn). */
void qnt__log(int32_t level, const char *fmt, ...) QNT_PRINTF(2, 3);
void qnt__vlog(int32_t level, const char *fmt, va_list ap);

/* ---- CPU features (lib/backend/cpu_features.c) ---- */
uint64_t qnt__cpu_detect(void);

/* ---- registry (lib/backend/registry.c) ---- */
struct qnt__backend {
	const qnt_backend_vtbl *vt;
	int32_t score;
	uint32_t flags;           /* QNT_BACKEND_FLAG_* */
	char *path;               /* module path or NULL */
	char reason[160];         /* why score is 0 */
};

extern qnt_host_api qnt__host; /* filled once by qnt__ensure_init */

qnt_status qnt__registry_register(const qnt_backend_vtbl *vt, uint32_t flags, const char *path,
				  char *err, size_t err_size);
/* Find by name (NULL if absent), or the best-scoring one. The pointers stay
 * valid until the process exits. */
const struct qnt__backend *qnt__backend_find(const char *name);
const struct qnt__backend *qnt__backend_best(void);
qnt_status qnt__load_module(const char *path, char *err, size_t err_size);
qnt_status qnt__load_dir(const char *dir, char *err, size_t err_size);
void qnt__load_env_path(void);
void qnt__backend_names(char *buf, size_t size);

/* Process start-up (lib/api/ctx.c): runs once; returns the saved status. */
qnt_status qnt__ensure_init(void);

/* Built-in backends. */
extern const qnt_backend_vtbl qnt__cpu_backend;
#ifdef QNT_HAVE_CPU_AVX2
extern const qnt_backend_vtbl qnt__cpu_avx2_backend; /* backends/cpu/avx2.c */
#endif
#ifdef QNT_HAVE_CPU_AVX512
extern const qnt_backend_vtbl qnt__cpu_avx512_backend; /* avx2.c built with -DQNT_X86_AVX512 */
#endif
#ifdef QNT_HAVE_CPU_NEON
extern const qnt_backend_vtbl qnt__cpu_neon_backend; /* backends/cpu/neon.c */
#endif

/* ---- thread pool (lib/api/pool.c) ---- */
struct qnt__pool;
/* fn(arg, chunk, thread): thread is 0 for the caller, 1..n-1 for workers. */
typedef void (*qnt__task_fn)(void *arg, int64_t chunk, int thread);
qnt_status qnt__pool_create(int n_threads, struct qnt__pool **out);
void qnt__pool_destroy(struct qnt__pool *pool);
/* Runs chunks 0..n_chunks-1 on the pool and the calling thread; returns when
 * all are done. Not reentrant. */
void qnt__pool_run(struct qnt__pool *pool, int64_t n_chunks, qnt__task_fn fn, void *arg);

/* ---- contexts (lib/api/ctx.c) ---- */
struct qnt_ctx {
	int32_t n_threads;
	int32_t device;
	int32_t log_level;
	int is_default;
	qnt_alloc_fn alloc;
	qnt_free_fn free;
	void *alloc_user;
	qnt_log_fn log;
	void *log_user;
	void *userdata;
	const struct qnt__backend *backend;
	void *backend_state;
	struct qnt__pool *pool;
	void **scratch;           /* n_threads buffers of scratch_bytes */
	uint64_t scratch_bytes;
	char err[QNT_ERRMSG_MAX];
};

/* Resolves a public ctx argument: NULL means the default context, which is
 * created on first use and locked for the duration of the call. Returns NULL
 * (with the error recorded) if it cannot be created. */
qnt_ctx *qnt__ctx_acquire(qnt_ctx *ctx, qnt_status *st);
void qnt__ctx_release(qnt_ctx *ctx);
void *qnt__ctx_alloc(qnt_ctx *ctx, size_t size, size_t align);
/* Grows every thread's scratch buffer to at least `need` bytes. */
qnt_status qnt__ctx_ensure_scratch(qnt_ctx *ctx, uint64_t need);
void qnt__ctx_free(qnt_ctx *ctx, void *p);
void qnt__ctx_log(qnt_ctx *ctx, int32_t level, const char *msg);

/* Default aligned allocation. */
void *qnt__aligned_alloc(size_t size, size_t align);
void qnt__aligned_free(void *p);

#endif /* QNT_INTERNAL_H */
