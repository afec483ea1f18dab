/* SPDX-License-Identifier: MIT */
/*
 * libqnt.h: the public, stable C API of libqnt.
 *
 * This header is the contract. A function, type or macro that is not declared
 * here is not part of the API. Depends only on <stddef.h> and <stdint.h>.
 *
 * ABI rules (see README.md, "Stability"):
 *   - SONAME libqnt.so.1; additions bump the minor version, nothing is ever
 *     removed, renamed or renumbered.
 *   - Handles are opaque. Structs that cross the boundary start with
 *     `struct_size` and only grow at the end; zero in a new field means the old
 *     behaviour. Always initialise them with their QNT_*_INIT macro or the
 *     matching *_init() function.
 *   - Status codes and type ids are fixed values.
 *
 * Threading: unless a function says otherwise, distinct qnt_ctx objects may be
 * used from different threads at the same time, but one qnt_ctx must not be
 * used by two threads at once. The NULL ("default") context is the exception:
 * it serialises its callers and may be used from any thread. Functions marked
 * "any thread" are safe everywhere; "init-only" ones must not race with any
 * other libqnt call.
 *
 * Each function documents, in order: what it does, Returns, Thread-safety,
 * Since.
 */
#ifndef LIBQNT_H
#define LIBQNT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) && defined(QNT_BUILDING_DLL)
#define QNT_API __declspec(dllexport)
#elif defined(_WIN32) && !defined(QNT_STATIC)
#define QNT_API __declspec(dllimport)
#elif defined(__GNUC__)
#define QNT_API __attribute__((visibility("default")))
#else
#define QNT_API
#endif

/* ------------------------------------------------------------------------ */
/* Versions                                                                  */
/* ------------------------------------------------------------------------ */

#define QNT_VERSION_MAJOR 1
#define QNT_VERSION_MINOR 0
#define QNT_VERSION_PATCH 0
#define QNT_VERSION_NUMBER (QNT_VERSION_MAJOR * 10000 + QNT_VERSION_MINOR * 100 + QNT_VERSION_PATCH)
#define QNT_VERSION_STRING "1.0.0"

/* Version of the quantized data formats libqnt writes; bumped whenever the
 * bytes a quantizer produces for the same input change. Independent of the
 * library version and of the ABI. */
#define QNT_FORMAT_VERSION 1

/* Library version as MAJOR*10000 + MINOR*100 + PATCH. An engine checks
 * qnt_version_number() >= QNT_VERSION_NUMBER to catch running against an
 * older library than it was compiled for.
 * Returns: the number. Thread-safety: any thread. Since: 1.0 */
QNT_API uint32_t qnt_version_number(void);

/* Returns: the version as "MAJOR.MINOR.PATCH", static storage.
 * Thread-safety: any thread. Since: 1.0 */
QNT_API const char *qnt_version_string(void);

/* Returns: QNT_FORMAT_VERSION of the running library. Thread-safety: any
 * thread. Since: 1.0 */
QNT_API uint32_t qnt_format_version(void);

/* ------------------------------------------------------------------------ */
/* Status codes                                                              */
/* ------------------------------------------------------------------------ */

/* Values are ABI: never renumbered or reused. Codes <= -1000 are reserved for
 * backends and passed through unchanged. */
typedef enum qnt_status {
	QNT_OK = 0,
	QNT_E_INVALID_ARG = -1,    /* NULL pointer, negative size, bad flag */
	QNT_E_NO_MEMORY = -2,      /* an allocation failed */
	QNT_E_UNSUPPORTED = -3,    /* valid request the library or backend cannot do */
	QNT_E_BACKEND = -4,        /* a backend failed */
	QNT_E_ABI_MISMATCH = -5,   /* module or struct built for another ABI */
	QNT_E_STRUCT_TOO_NEW = -6, /* caller's struct sets fields this library lacks */
	QNT_E_UNKNOWN_TYPE = -7,   /* type id or name not in the registry */
	QNT_E_BAD_SHAPE = -8,      /* row length not a multiple of the block, overflow */
	QNT_E_NOT_FOUND = -9,      /* no backend, file or entry of that name */
	QNT_E_IO = -10,            /* reading or writing a file failed */
	QNT_E_FORMAT = -11,        /* malformed input data or file */
	QNT_E_NOT_INITIALIZED = -12, /* qnt_init() failed earlier */
	QNT_E_BUSY = -13           /* object in use (e.g. registry closed) */
} qnt_status;

/* Returns: a short English description of a status code; never NULL, even
 * for unknown codes. Static storage. Thread-safety: any thread. Since: 1.0 */
QNT_API const char *qnt_status_str(int status);

/* Returns: the symbolic name of a status code ("QNT_E_BAD_SHAPE"), or
 * "QNT_E_UNKNOWN" for codes libqnt does not define. Thread-safety: any thread.
 * Since: 1.0 */
QNT_API const char *qnt_status_name(int status);

/* ------------------------------------------------------------------------ */
/* Library lifetime                                                          */
/* ------------------------------------------------------------------------ */

/* Probes the CPU, registers the compiled-in backends and loads backend
 * modules from QNT_BACKEND_PATH (a ':'-separated list of directories) and
 * from the installed module directory. Every other call runs it implicitly;
 * calling it first only makes start-up cost and errors explicit.
 * Idempotent.
 * Returns: QNT_OK, or the status of the first failure (also returned by every
 * later call). Thread-safety: any thread. Since: 1.0 */
QNT_API qnt_status qnt_init(void);

/* Destroys the default context. Registered backends and loaded modules stay
 * (a module is never unloaded). Thread-safety: init-only; no other libqnt
 * call may run concurrently or afterwards on the default context. Since: 1.0 */
QNT_API void qnt_shutdown(void);

/* Log levels. */
#define QNT_LOG_ERROR 0
#define QNT_LOG_WARN 1
#define QNT_LOG_INFO 2
#define QNT_LOG_DEBUG 3

/* Log callback: called from the thread that made the libqnt call. `msg` is
 * valid only during the call and has no trailing newline. */
typedef void (*qnt_log_fn)(void *user, int32_t level, const char *msg);

/* Sets the process-wide log callback, which receives messages that belong to
 * no context (module loading, registry) and, when a context has no callback of
 * its own, the context's messages. NULL (the default) discards them. libqnt
 * never writes to stdout or stderr itself.
 * Thread-safety: any thread. Since: 1.0 */
QNT_API void qnt_set_log_fn(qnt_log_fn fn, void *user, int32_t level);

/* ------------------------------------------------------------------------ */
/* Formats                                                                   */
/* ------------------------------------------------------------------------ */

/* A format id. For ggml formats it is the GGUF type id. */
typedef int32_t qnt_type;

#define QNT_TYPE_INVALID (-1)
#define QNT_TYPE_F32 0
#define QNT_TYPE_F16 1
#define QNT_TYPE_Q4_0 2
#define QNT_TYPE_Q4_1 3
#define QNT_TYPE_Q5_0 6
#define QNT_TYPE_Q5_1 7
#define QNT_TYPE_Q8_0 8
#define QNT_TYPE_Q8_1 9
#define QNT_TYPE_Q2_K 10
#define QNT_TYPE_Q3_K 11
#define QNT_TYPE_Q4_K 12
#define QNT_TYPE_Q5_K 13
#define QNT_TYPE_Q6_K 14
#define QNT_TYPE_Q8_K 15
#define QNT_TYPE_IQ2_XXS 16
#define QNT_TYPE_IQ2_XS 17
#define QNT_TYPE_IQ3_XXS 18
#define QNT_TYPE_IQ1_S 19
#define QNT_TYPE_IQ4_NL 20
#define QNT_TYPE_IQ3_S 21
#define QNT_TYPE_IQ2_S 22
#define QNT_TYPE_IQ4_XS 23
#define QNT_TYPE_IQ1_M 29
#define QNT_TYPE_BF16 30
#define QNT_TYPE_TQ1_0 34
#define QNT_TYPE_TQ2_0 35
#define QNT_TYPE_MXFP4 39
#define QNT_TYPE_NVFP4 40
#define QNT_TYPE_Q1_0 41
#define QNT_TYPE_Q2_0 42

/* Type flags, in qnt_type_info.flags. */
#define QNT_TYPE_FLAG_QUANTIZED 0x1u   /* block format with scales, not a plain float */
#define QNT_TYPE_FLAG_QUANTIZE 0x2u    /* qnt_quantize() can produce it */
#define QNT_TYPE_FLAG_DEQUANTIZE 0x4u  /* qnt_dequantize() can read it */
#define QNT_TYPE_FLAG_IMPORTANCE 0x8u  /* the quantizer uses importance weights */
#define QNT_TYPE_FLAG_ACTIVATION 0x10u /* companion format for activations (q8_1, q8_K) */

typedef struct qnt_type_info {
	uint32_t struct_size;    /* set by the caller: sizeof(qnt_type_info) */
	qnt_type type;
	int64_t block_size;      /* elements per block */
	uint64_t block_bytes;    /* bytes per block */
	uint32_t flags;          /* QNT_TYPE_FLAG_* */
	uint32_t reserved;       /* zero */
	double bits_per_weight;  /* 8 * block_bytes / block_size */
	const char *name;        /* canonical spelling, static storage */
	const char *description; /* one line, static storage */
} qnt_type_info;
#define QNT_TYPE_INFO_INIT { sizeof(qnt_type_info), 0, 0, 0, 0, 0, 0.0, NULL, NULL }

/* Looks a format up by name, case-insensitively ("q4_0", "Q4_K", "bf16").
 * Returns: its id, or QNT_TYPE_INVALID if unknown or name is NULL.
 * Thread-safety: any thread. Since: 1.0 */
QNT_API qnt_type qnt_type_by_name(const char *name);

/* Returns: the canonical name of a format ("q4_K"), or NULL if unknown.
 * Thread-safety: any thread. Since: 1.0 */
QNT_API const char *qnt_type_name(qnt_type type);

/* Returns: elements per block, or 0 if unknown. Thread-safety: any thread.
 * Since: 1.0 */
QNT_API int64_t qnt_type_block_size(qnt_type type);

/* Returns: bytes per block, or 0 if unknown. Thread-safety: any thread.
 * Since: 1.0 */
QNT_API size_t qnt_type_block_bytes(qnt_type type);

/* Returns: bytes of one row of n_per_row elements, or 0 if the type is
 * unknown, n_per_row <= 0 or not a multiple of the block size, or the size
 * overflows. Thread-safety: any thread. Since: 1.0 */
QNT_API size_t qnt_row_size(qnt_type type, int64_t n_per_row);

/* Fills `info` (the caller sets info->struct_size; the library writes at most
 * that many bytes).
 * Returns: QNT_OK, QNT_E_UNKNOWN_TYPE, QNT_E_INVALID_ARG. Thread-safety: any
 * thread. Since: 1.0 */
QNT_API qnt_status qnt_type_get_info(qnt_type type, qnt_type_info *info);

/* Formats are enumerated by index, 0 <= index < qnt_type_count(), in
 * ascending id order.
 * Returns: the count / the id at index, or QNT_TYPE_INVALID out of range.
 * Thread-safety: any thread. Since: 1.0 */
QNT_API int32_t qnt_type_count(void);
QNT_API qnt_type qnt_type_at(int32_t index);

/* ------------------------------------------------------------------------ */
/* Contexts                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct qnt_ctx qnt_ctx; /* opaque */

/* Allocator: `alloc` returns `size` bytes aligned to `align` (a power of two,
 * at most 4096) or NULL; `free` accepts NULL. Both may be called from worker
 * threads concurrently. */
typedef void *(*qnt_alloc_fn)(void *user, size_t size, size_t align);
typedef void (*qnt_free_fn)(void *user, void *ptr);

typedef struct qnt_ctx_opts {
	uint32_t struct_size; /* sizeof(qnt_ctx_opts) as seen by the caller */
	int32_t n_threads;    /* 0: the number of online CPUs; 1: no worker threads */
	const char *backend;  /* NULL or "auto": highest score; else a backend name */
	qnt_alloc_fn alloc;   /* NULL: malloc-based; alloc and free are set together */
	qnt_free_fn free;
	void *alloc_user;
	qnt_log_fn log;       /* NULL: no logging */
	void *log_user;
	int32_t log_level;    /* most verbose level passed to `log` */
	int32_t device;       /* device index within the backend; 0 = first */
	uint32_t flags;       /* reserved, zero */
	uint32_t reserved;    /* zero */
} qnt_ctx_opts;
#define QNT_CTX_OPTS_INIT { sizeof(qnt_ctx_opts), 0, NULL, NULL, NULL, NULL, NULL, NULL, QNT_LOG_WARN, 0, 0, 0 }

/* Fills `opts` with the defaults of QNT_CTX_OPTS_INIT (for FFI callers).
 * Returns: QNT_OK or QNT_E_INVALID_ARG. Thread-safety: any thread. Since: 1.0 */
QNT_API qnt_status qnt_ctx_opts_init(qnt_ctx_opts *opts, size_t struct_size);

/* Creates a context: a thread pool of n_threads - 1 workers (the calling
 * thread is the last one) and an open backend. `opts` may be NULL (defaults).
 * A caller compiled against a newer header may pass a larger struct as long as
 * the fields this library does not know are zero.
 * Returns: QNT_OK and *out, or QNT_E_INVALID_ARG, QNT_E_STRUCT_TOO_NEW,
 * QNT_E_NOT_FOUND (no backend of that name), QNT_E_NO_MEMORY, QNT_E_BACKEND;
 * the message is available from qnt_ctx_last_error(NULL) on this thread.
 * Thread-safety: any thread. Since: 1.0 */
QNT_API qnt_status qnt_ctx_create(const qnt_ctx_opts *opts, qnt_ctx **out);

/* Destroys a context and joins its threads; NULL is a no-op.
 * Thread-safety: per-ctx. Since: 1.0 */
QNT_API void qnt_ctx_destroy(qnt_ctx *ctx);

/* Returns: the message of the last failed call on `ctx` ("" if none). For
 * ctx == NULL, the message of the last failed call made on this thread with
 * the default context or without a context. Valid until the next call on the
 * same context (thread). Never NULL.
 * Thread-safety: per-ctx (NULL: any thread). Since: 1.0 */
QNT_API const char *qnt_ctx_last_error(const qnt_ctx *ctx);

/* Returns: the name of the backend the context runs on ("cpu"), never NULL.
 * ctx NULL means the default context ("" if it cannot be created).
 * Thread-safety: per-ctx. Since: 1.0 */
QNT_API const char *qnt_ctx_backend_name(qnt_ctx *ctx);

/* Returns: the context's thread count (>= 1), or 0 if the default context
 * cannot be created. Thread-safety: per-ctx. Since: 1.0 */
QNT_API int32_t qnt_ctx_n_threads(qnt_ctx *ctx);

/* A pointer the caller owns, carried by the context. Thread-safety: per-ctx.
 * Since: 1.0 */
QNT_API void qnt_ctx_set_userdata(qnt_ctx *ctx, void *user);
QNT_API void *qnt_ctx_get_userdata(const qnt_ctx *ctx);

/* ------------------------------------------------------------------------ */
/* Tensor quantization                                                       */
/* ------------------------------------------------------------------------ */

/* Quantizes nrows rows of n_per_row floats (back to back) into `dst`, which
 * holds nrows * qnt_row_size(type, n_per_row) bytes.
 * `importance`: NULL, or n_per_row non-negative weights (an imatrix column):
 * the quantizer then minimises sum_j importance[j] * (x[j] - x^[j])^2 in each
 * row instead of reproducing ggml's reference rounding. Without it, the bytes
 * equal ggml's reference quantizer for every ggml format.
 * The result is the same for every thread count and backend. ctx NULL: the
 * default context (threads from QNT_NUM_THREADS, backend from QNT_BACKEND).
 * Returns: QNT_OK, QNT_E_INVALID_ARG (NULL src/dst, nrows < 0, importance
 * negative or NaN), QNT_E_UNKNOWN_TYPE, QNT_E_UNSUPPORTED (type cannot be
 * quantized), QNT_E_BAD_SHAPE (n_per_row not a positive multiple of the block,
 * or the size overflows), QNT_E_NO_MEMORY.
 * Thread-safety: per-ctx (NULL: any thread). Since: 1.0 */
QNT_API qnt_status qnt_quantize(qnt_ctx *ctx, qnt_type type, const float *src, void *dst,
				int64_t nrows, int64_t n_per_row, const float *importance);

/* Dequantizes nrows rows of `type` (qnt_row_size(type, n_per_row) bytes each)
 * into nrows * n_per_row floats. The floats equal ggml's for ggml formats.
 * Returns: QNT_OK, QNT_E_INVALID_ARG, QNT_E_UNKNOWN_TYPE, QNT_E_UNSUPPORTED,
 * QNT_E_BAD_SHAPE. Thread-safety: per-ctx (NULL: any thread). Since: 1.0 */
QNT_API qnt_status qnt_dequantize(qnt_ctx *ctx, qnt_type type, const void *src, float *dst,
				  int64_t nrows, int64_t n_per_row);

/* ------------------------------------------------------------------------ */
/* Matrix products                                                           */
/* ------------------------------------------------------------------------ */

/* y = W x for a quantized W: W holds n_out rows of n_in elements in format
 * wtype (rows back to back, qnt_row_size(wtype, n_in) bytes each); x holds
 * n_cols vectors of n_in floats and y receives n_cols vectors of n_out floats,
 * both back to back (y[c * n_out + i] = sum_j W[i][j] * x[c * n_in + j]).
 * The activations are quantized on the fly to the format's companion
 * (q8_0, q8_1 or q8_K, as ggml does) or read as floats, whichever the
 * backend's kernel uses; results agree with the scalar reference within the
 * per-format tolerance documented in README.md, and are the same for every
 * thread count on a given backend.
 * Returns: QNT_OK, QNT_E_INVALID_ARG (NULL pointers, negative sizes),
 * QNT_E_UNKNOWN_TYPE, QNT_E_UNSUPPORTED (no matmul for wtype),
 * QNT_E_BAD_SHAPE (n_in not a multiple of the block), QNT_E_NO_MEMORY.
 * Thread-safety: per-ctx (NULL: any thread). Since: 1.0 */
QNT_API qnt_status qnt_matmul(qnt_ctx *ctx, qnt_type wtype, const void *w, int64_t n_out, int64_t n_in,
			      const float *x, int64_t n_cols, float *y);

/* ------------------------------------------------------------------------ */
/* Importance matrices                                                       */
/* ------------------------------------------------------------------------ */

/* An importance matrix as llama.cpp's llama-imatrix writes it, read from a
 * file: the GGUF format (its current output) or the legacy binary ".dat"
 * format. For each weight tensor it holds the importance of every column:
 * the mean of the squared activations that column was multiplied with, the
 * vector llama-quantize passes to ggml as quant_weights. Pass it as the
 * `importance` of qnt_quantize() for the rows of that tensor.
 *
 * The expert tensors of mixture-of-experts models (3-D, one matrix per
 * expert) have one vector per expert in GGUF files. A legacy file does not
 * record the expert count: such an entry is a single vector of
 * n_experts * n_per_row values, the experts back to back.
 *
 * GGUF: for tensor NAME, the file holds NAME.in_sum2 (F32, n_experts rows of
 * n_per_row sums of squared activations) and NAME.counts (F32, the number of
 * activations summed for each expert); the importance is
 * in_sum2 / round(count), and 1 for every column of an expert whose count is
 * 0 (no data), as llama-quantize computes it. NAME.in_sum (sums of the
 * activations) and other tensors are not used. The keys imatrix.datasets,
 * imatrix.chunk_count and imatrix.chunk_size must be present (llama-quantize
 * requires them too). Legacy: each entry stores the mean multiplied by its
 * call count; the importance is the stored value divided by that count (as
 * stored when the count is not positive). */
typedef struct qnt_imatrix qnt_imatrix; /* opaque; immutable once opened */

#define QNT_IMATRIX_GGUF 1   /* GGUF imatrix (llama-imatrix's default output) */
#define QNT_IMATRIX_LEGACY 2 /* legacy binary .dat (llama-imatrix --output-format dat) */

typedef struct qnt_imatrix_info {
	uint32_t struct_size; /* set by the caller: sizeof(qnt_imatrix_info) */
	int32_t format;       /* QNT_IMATRIX_* */
	int64_t n_entries;    /* tensors, as qnt_imatrix_count() */
	int64_t n_datasets;   /* names of the data it was computed on */
	int32_t chunk_count;  /* chunks of text it was computed on (0 if not recorded) */
	int32_t chunk_size;   /* tokens per chunk (0 if not recorded: legacy) */
} qnt_imatrix_info;
#define QNT_IMATRIX_INFO_INIT { sizeof(qnt_imatrix_info), 0, 0, 0, 0, 0 }

/* Opens an importance matrix file; the format is detected from its first
 * bytes ("GGUF" or not). The whole file is validated and its values copied:
 * a malformed file (truncated, wrong magic, counts or lengths that do not
 * fit, unknown types, NaN or negative values) gives QNT_E_FORMAT with a
 * message naming the file, the item and its byte offset. `ctx` (may be NULL)
 * only receives the error message; the handle does not depend on it.
 * Returns: QNT_OK and *out, QNT_E_INVALID_ARG, QNT_E_NOT_FOUND (no such
 * file), QNT_E_IO, QNT_E_FORMAT, QNT_E_NO_MEMORY.
 * Thread-safety: per-ctx (NULL: any thread). Since: 1.0 */
QNT_API qnt_status qnt_imatrix_open(qnt_ctx *ctx, const char *path, qnt_imatrix **out);

/* Frees an importance matrix; NULL is a no-op. Pointers it returned become
 * invalid. Thread-safety: must not race with any other use of `im`.
 * Since: 1.0 */
QNT_API void qnt_imatrix_close(qnt_imatrix *im);

/* Fills `info` (the caller sets info->struct_size; the library writes at
 * most that many bytes).
 * Returns: QNT_OK or QNT_E_INVALID_ARG. Thread-safety: any thread.
 * Since: 1.0 */
QNT_API qnt_status qnt_imatrix_get_info(const qnt_imatrix *im, qnt_imatrix_info *info);

/* Returns: the number of tensors with importance data (0 for NULL).
 * Thread-safety: any thread. Since: 1.0 */
QNT_API int64_t qnt_imatrix_count(const qnt_imatrix *im);

/* Entries are enumerated by index, 0 <= index < qnt_imatrix_count(), in
 * ascending byte order of their names.
 * Returns: the tensor name ("blk.0.attn_q.weight"), owned by `im`, or NULL
 * out of range. Thread-safety: any thread. Since: 1.0 */
QNT_API const char *qnt_imatrix_name(const qnt_imatrix *im, int64_t index);

/* Returns: the name of the index-th data set the matrix was computed on
 * (imatrix.datasets; legacy: the one the file ends with), owned by `im`, or
 * NULL out of range. Thread-safety: any thread. Since: 1.0 */
QNT_API const char *qnt_imatrix_dataset(const qnt_imatrix *im, int64_t index);

/* The shape of a tensor's entry: *n_per_row values per expert (the
 * tensor's row length) and *n_experts vectors (1 for dense tensors and for
 * every legacy entry). Either pointer may be NULL.
 * Returns: QNT_OK, QNT_E_NOT_FOUND (no entry of that name),
 * QNT_E_INVALID_ARG. Thread-safety: any thread. Since: 1.0 */
QNT_API qnt_status qnt_imatrix_shape(const qnt_imatrix *im, const char *tensor_name, int64_t *n_per_row,
				     int64_t *n_experts);

/* The importance of a tensor: for `expert` in 0..n_experts-1, *values
 * points to its n_per_row values (*n = n_per_row); expert -1 gives all of
 * them, expert by expert (*n = n_experts * n_per_row). The values are
 * finite and non-negative, owned by `im` and valid until it is closed.
 * Returns: QNT_OK, QNT_E_NOT_FOUND (no entry of that name),
 * QNT_E_INVALID_ARG (NULL argument, expert out of range); the message is in
 * qnt_ctx_last_error(NULL). Thread-safety: any thread. Since: 1.0 */
QNT_API qnt_status qnt_imatrix_get(const qnt_imatrix *im, const char *tensor_name, int64_t expert,
				   const float **values, int64_t *n);

/* ------------------------------------------------------------------------ */
/* MLX formats                                                               */
/* ------------------------------------------------------------------------ */

/* MLX stores a quantized matrix as three planar tensors: the codes packed
 * LSB-first into uint32 words (nrows x n_per_row*bits/32), one scale per group
 * (nrows x n_per_row/group_size) and, for affine, one bias per group. The
 * calls below read and write that layout directly and give the bytes of
 * mx.quantize on MLX's CPU backend (mlx[cpu]) for the same input, as of
 * mlx 0.32.4 (MLX has changed its CPU rounding between releases).
 *
 * Each MLX format is also in the registry, for qnt_quantize/qnt_dequantize on
 * float rows: "mlx:affine:<bits>:<group>[:f32|:f16|:bf16]", "mlx:mxfp4",
 * "mlx:mxfp8", "mlx:nvfp4" (same suffixes). Their blocks interleave one
 * group's packed codes, its scale (dtype bytes for affine, one byte for the fp
 * modes) and its bias (affine only). The suffix is the dtype of the scales and
 * biases and of the source: f32 rows are first rounded to it (nearest even),
 * which is what mx.quantize of an array of that dtype computes. Without a
 * suffix the dtype is bf16 (the name with ":bf16" is accepted as an alias).
 * qnt_dequantize gives f32(scale * q + bias) with the scale and bias widened
 * to f32 (affine), E2M1/E4M3 value times the scale (fp modes): mx.dequantize
 * with float32 scales and biases, or dtype float32. With importance weights,
 * qnt_quantize runs a weighted search for affine groups that is never worse
 * than MLX's group in weighted error; the fp formats ignore the weights. */

#define QNT_MLX_AFFINE 0 /* bits 1, 2, 3, 4, 5, 6, 8 (1: planar calls only, no registry format);
			    groups 32, 64, 128; scale and bias per group */
#define QNT_MLX_MXFP4 1  /* E2M1 codes, E8M0 scale per 32 */
#define QNT_MLX_MXFP8 2  /* E4M3 codes, E8M0 scale per 32 */
#define QNT_MLX_NVFP4 3  /* E2M1 codes, E4M3 scale per 16, optional global scale */

#define QNT_MLX_FLAG_GLOBAL_SCALE 0x1u /* nvfp4: use global_scale */

typedef struct qnt_mlx_params {
	uint32_t struct_size; /* sizeof(qnt_mlx_params) as seen by the caller */
	int32_t mode;         /* QNT_MLX_* */
	int32_t bits;         /* 0: the mode's default (affine 4, mxfp4/nvfp4 4, mxfp8 8) */
	int32_t group_size;   /* 0: the mode's default (affine 64, mx* 32, nvfp4 16) */
	qnt_type dtype;       /* QNT_TYPE_F32, QNT_TYPE_F16 or QNT_TYPE_BF16: the element type
				 of the source (and of the output of dequantize) and of
				 affine scales and biases */
	uint32_t flags;       /* QNT_MLX_FLAG_* */
	float global_scale;   /* nvfp4 with QNT_MLX_FLAG_GLOBAL_SCALE: finite, > 0;
				 must be 0 without the flag */
	uint32_t reserved;    /* zero */
} qnt_mlx_params;
#define QNT_MLX_PARAMS_INIT { sizeof(qnt_mlx_params), QNT_MLX_AFFINE, 0, 0, QNT_TYPE_BF16, 0, 0.0f, 0 }

/* Quantizes nrows rows of n_per_row elements of p->dtype into MLX's planar
 * layout: wq (nrows * n_per_row * bits / 32 words), scales (nrows *
 * n_per_row / group_size elements: p->dtype for affine, uint8 for the fp
 * modes) and biases (affine: as scales; fp modes: must be NULL).
 * Returns: QNT_OK, QNT_E_INVALID_ARG (NULL pointers, a bias pointer for an fp
 * mode or none for affine, nrows < 0, unknown flags, reserved not zero, the
 * global-scale flag on another mode than nvfp4 or a global scale that is not
 * finite and positive, a global scale without the flag), QNT_E_UNSUPPORTED (mode, bits, group size or dtype MLX
 * does not define), QNT_E_BAD_SHAPE (n_per_row not a multiple of the group),
 * QNT_E_STRUCT_TOO_NEW. Thread-safety: per-ctx (NULL: any thread). Since: 1.0 */
QNT_API qnt_status qnt_mlx_quantize(qnt_ctx *ctx, const qnt_mlx_params *p, const void *src, int64_t nrows,
				    int64_t n_per_row, uint32_t *wq, void *scales, void *biases);

/* The inverse: writes nrows * n_per_row elements of p->dtype to dst, the
 * values mx.dequantize gives on the CPU for the same arrays and dtype. (For
 * nvfp4 with a global scale MLX computes and returns float32 whatever the
 * dtype; libqnt writes those values rounded to p->dtype.)
 * Returns: as qnt_mlx_quantize. Thread-safety: per-ctx (NULL: any thread).
 * Since: 1.0 */
QNT_API qnt_status qnt_mlx_dequantize(qnt_ctx *ctx, const qnt_mlx_params *p, const uint32_t *wq,
				      const void *scales, const void *biases, int64_t nrows, int64_t n_per_row,
				      void *dst);

/* Returns: the registry id of the interleaved form of an MLX format
 * (global_scale is not part of it), or QNT_TYPE_INVALID if p does not
 * describe one or the format has no registry form (1-bit affine). Thread-safety: any thread. Since: 1.0 */
QNT_API qnt_type qnt_mlx_type(const qnt_mlx_params *p);

/* Fills p (its struct_size set by the caller) from a registry id of an MLX
 * format. Returns: QNT_OK, QNT_E_UNKNOWN_TYPE (not an MLX format),
 * QNT_E_INVALID_ARG. Thread-safety: any thread. Since: 1.0 */
QNT_API qnt_status qnt_mlx_params_from_type(qnt_type type, qnt_mlx_params *p);

/* ------------------------------------------------------------------------ */
/* Conversion                                                                */
/* ------------------------------------------------------------------------ */

/* Converting data from one format to another, without a float round trip
 * where the target can hold the source's values. Each target block is
 * either repacked (codes and scales moved over, integers and scale bits
 * only) or, when this block's data does not allow it, requantized: the
 * target's quantizer, without importance, on the dequantized source. A block
 * is exact when it dequantizes (qnt_dequantize) to the same floats as the
 * source, bit for bit, except that a zero may change its sign (ggml's q4_0
 * gives -0 for a zero code when its scale is negative; an MLX affine group
 * cannot); libqnt checks this for every repacked block.
 *
 * Repackings, with d, m the scale and min (bias) of a block:
 *   - q4_0, q5_0, q8_0, q2_0, q1_0, tq1_0, tq2_0 (value k*d) -> MLX affine:
 *     codes k + K, scale d, bias -K*d (K = 8, 16, 128, 1); d must be finite,
 *     d and -K*d exact in the MLX dtype (always for f32).
 *   - q4_1, q5_1, MLX affine, q4_K and q5_K (per 32: d*sc, -dmin*m) (value
 *     c*d + m) -> q4_1, q5_1, MLX affine: d and m copied; they must be exact
 *     in the target's type (fp16 for ggml; f32, f16 or bf16 for MLX).
 *   - those c*d + m formats -> q4_0, q5_0, q8_0, q2_0 when m = -K*d for an
 *     integer K and d is exact in fp16.
 *   - among q4_0, q5_0, q8_0, q2_0 (q1_0, tq1_0, tq2_0 as sources): d
 *     copied.
 *   - mxfp4 <-> mlx:mxfp4 and nvfp4 <-> mlx:nvfp4: scale bytes kept (nvfp4:
 *     the sign of a negative MLX scale moves to the codes), nibble order
 *     changed; rows of nvfp4 must be a multiple of 64. ggml's E8M0 byte 255
 *     (2^127) and UE4M3 byte 0xff (480), and MLX's NaN scales, have no
 *     counterpart.
 *   - the dtype variants of mlx:mxfp4, mlx:mxfp8 and mlx:nvfp4: copied.
 * Codes must fit the target (q8_0 takes -127..127, as libqnt's quantizers
 * write it), and a target group that spans several source blocks (mlx group
 * 64 from q4_0) needs their d and m to be equal. Any format -> f32 is exact;
 * -> f16 or bf16 exact for each value that round-trips. */

#define QNT_CONVERT_LOSSY 0    /* values change: dequantize then quantize */
#define QNT_CONVERT_EXACT 1    /* always exact (a repacking) */
#define QNT_CONVERT_EXACT_IF 2 /* exact when the data allows (e.g. scales representable in fp16);
				  per block otherwise requantized */

/* What qnt_convert does from one format to another: QNT_CONVERT_EXACT for
 * every input (from == to, any format -> f32, q4_1 -> mlx:affine:4:32:f16,
 * mlx:affine:4:64:f16 -> q4_1, ...), QNT_CONVERT_EXACT_IF when it depends on
 * the data (q4_0 -> mlx affine: the scale must be finite and d, -8d exact in
 * the MLX dtype; q4_K -> mlx:affine:4:32:f32, exact but for NaN signs),
 * QNT_CONVERT_LOSSY when there is no repacking (q2_K, q3_K, q6_K, i-quants,
 * mxfp4 <-> nvfp4, floats -> quantized formats).
 * Returns: the kind, or -1 if either type is unknown, `to` cannot be
 * quantized or `from` cannot be dequantized. Thread-safety: any thread.
 * Since: 1.0 */
QNT_API int32_t qnt_convert_kind(qnt_type from, qnt_type to);

#define QNT_CONVERT_FLAG_EXACT_ONLY 0x1u /* fail with QNT_E_UNSUPPORTED (message naming row and block)
					    instead of requantizing */

/* Converts nrows rows of n_per_row elements from format `from` (qnt_row_size
 * (from, n_per_row) bytes each, back to back) to format `to` in `dst`
 * (qnt_row_size(to, n_per_row) bytes each). Each block of the target is
 * repacked when that is exact, otherwise requantized from the dequantized
 * source (see above); for QNT_CONVERT_LOSSY pairs the bytes are those of
 * qnt_dequantize followed by qnt_quantize without importance. from == to
 * copies. The bytes are the same for every thread count. src and dst must not
 * overlap.
 * n_requantized: NULL, or receives (on QNT_OK) the number of target blocks
 * that could not be kept exact and were requantized (for f16/bf16 targets a
 * block is one element).
 * flags: QNT_CONVERT_FLAG_EXACT_ONLY makes the call fail at the first such
 * block, in row-major order, with a message naming its row and block; dst is
 * then partly written.
 * Returns: QNT_OK, QNT_E_INVALID_ARG (NULL src/dst, nrows < 0, unknown flags,
 * overlapping buffers), QNT_E_UNKNOWN_TYPE, QNT_E_UNSUPPORTED (`to` cannot be
 * quantized or `from` dequantized; an inexact block with
 * QNT_CONVERT_FLAG_EXACT_ONLY), QNT_E_BAD_SHAPE (n_per_row not a positive
 * multiple of both block sizes, or the size overflows), QNT_E_NO_MEMORY.
 * Thread-safety: per-ctx (NULL: any thread). Since: 1.0 */
QNT_API qnt_status qnt_convert(qnt_ctx *ctx, qnt_type from, const void *src, qnt_type to, void *dst,
			       int64_t nrows, int64_t n_per_row, uint32_t flags, int64_t *n_requantized);

/* ------------------------------------------------------------------------ */
/* Backends (read side; registering lives in libqnt_backend.h)               */
/* ------------------------------------------------------------------------ */

#define QNT_BACKEND_FLAG_BUILTIN 0x1u  /* compiled into libqnt */
#define QNT_BACKEND_FLAG_MODULE 0x2u   /* loaded with dlopen */
#define QNT_BACKEND_FLAG_DEVICE 0x4u   /* runs on a device with its own memory */
#define QNT_BACKEND_FLAG_REFERENCE 0x8u /* the scalar reference */

typedef struct qnt_backend_props {
	uint32_t struct_size;    /* set by the caller */
	int32_t score;           /* 0: unusable on this machine */
	const char *name;        /* "cpu", "cpu-avx2", "cuda", ... */
	const char *description;
	const char *path;        /* module file, or NULL when compiled in */
	const char *reason;      /* why the score is 0 ("" otherwise) */
	uint32_t flags;          /* QNT_BACKEND_FLAG_* */
	int32_t device_count;    /* -1 until the backend is opened */
} qnt_backend_props;
#define QNT_BACKEND_PROPS_INIT { sizeof(qnt_backend_props), 0, NULL, NULL, NULL, NULL, 0, 0 }

/* Registered backends, by index in registration order. Strings point into
 * the registry and stay valid until the process exits.
 * Returns: the count / QNT_OK, QNT_E_NOT_FOUND (index out of range),
 * QNT_E_INVALID_ARG. Thread-safety: any thread. Since: 1.0 */
QNT_API int32_t qnt_backend_count(void);
QNT_API qnt_status qnt_backend_get_props(int32_t index, qnt_backend_props *props);

/* Returns: the name of the backend an "auto" context would choose now.
 * Thread-safety: any thread. Since: 1.0 */
QNT_API const char *qnt_backend_best(void);

/* Loads a backend module (a shared object exporting qnt_backend_entry) and
 * registers it. Loading the same backend name twice is a no-op.
 * Returns: QNT_OK, QNT_E_NOT_FOUND (file), QNT_E_ABI_MISMATCH, QNT_E_BACKEND;
 * details in qnt_ctx_last_error(NULL). Thread-safety: any thread. Since: 1.0 */
QNT_API qnt_status qnt_backend_load(const char *path);

/* Loads every "libqnt-*.so" module of a directory, skipping those that fail
 * (each failure is reported to the log as a warning).
 * Returns: QNT_OK, QNT_E_NOT_FOUND (not a directory), QNT_E_INVALID_ARG.
 * Thread-safety: any thread. Since: 1.0 */
QNT_API qnt_status qnt_backend_load_dir(const char *dir);

/* ------------------------------------------------------------------------ */
/* CPU features                                                              */
/* ------------------------------------------------------------------------ */

/* Bits of qnt_cpu_features(). A bit is set only when both the CPU and the
 * operating system support the feature (XGETBV for AVX/AVX-512 state). */
#define QNT_CPU_SSE42 (UINT64_C(1) << 0)
#define QNT_CPU_AVX (UINT64_C(1) << 1)
#define QNT_CPU_AVX2 (UINT64_C(1) << 2)
#define QNT_CPU_F16C (UINT64_C(1) << 3)
#define QNT_CPU_FMA (UINT64_C(1) << 4)
#define QNT_CPU_AVX512F (UINT64_C(1) << 5)
#define QNT_CPU_AVX512BW (UINT64_C(1) << 6)
#define QNT_CPU_AVX512VL (UINT64_C(1) << 7)
#define QNT_CPU_AVX512VNNI (UINT64_C(1) << 8)
#define QNT_CPU_AVX512BF16 (UINT64_C(1) << 9)
#define QNT_CPU_AVXVNNI (UINT64_C(1) << 10)
#define QNT_CPU_NEON (UINT64_C(1) << 16)
#define QNT_CPU_DOTPROD (UINT64_C(1) << 17)
#define QNT_CPU_I8MM (UINT64_C(1) << 18)
#define QNT_CPU_SVE (UINT64_C(1) << 19)
#define QNT_CPU_FP16 (UINT64_C(1) << 20)

/* Returns: the QNT_CPU_* bits of this machine. Thread-safety: any thread.
 * Since: 1.0 */
QNT_API uint64_t qnt_cpu_features(void);

/* Returns: the lower-case name of one QNT_CPU_* bit ("avx512vnni"), or NULL
 * for a bit libqnt does not define. Thread-safety: any thread. Since: 1.0 */
QNT_API const char *qnt_cpu_feature_name(uint64_t bit);

/* ------------------------------------------------------------------------ */
/* Recipes                                                                   */
/* ------------------------------------------------------------------------ */

/* A recipe says which format each tensor of a model gets: a default type, an
 * ordered list of rules (conditions on the tensor's name, kind, layer and
 * position, and on the model: arch, experts, GQA, tied embeddings; then a
 * type, "default" or "keep"), a fallback table for rows that do not fit a
 * type's block, and the general.file_type to write. Presets reproduce
 * llama-quantize's file types ("Q4_K_M", "IQ4_XS", ...; checked against
 * llama.cpp's llama_model_quantize) and mlx-lm's mixed recipes
 * ("mixed_4_6", ...). Recipes are data: a preset prints as JSON
 * (qnt_recipe_to_json) that qnt_recipe_parse reads back; the format is
 * documented in docs/recipes.md. A recipe is immutable once made. */
typedef struct qnt_recipe qnt_recipe; /* opaque */

/* Returns: the number of presets. Thread-safety: any thread. Since: 1.0 */
QNT_API int32_t qnt_recipe_count_presets(void);

/* Returns: the name of the index-th preset ("Q4_K_M", "mixed_4_6"), static
 * storage, or NULL out of range. Thread-safety: any thread. Since: 1.0 */
QNT_API const char *qnt_recipe_preset_name(int32_t index);

/* Makes a preset, by name, case-insensitively ("q4_k_m"; "Q4_K" is
 * llama-quantize's alias of "Q4_K_M", likewise Q3_K and Q5_K).
 * Returns: QNT_OK and *out, QNT_E_NOT_FOUND (no such preset),
 * QNT_E_INVALID_ARG, QNT_E_NO_MEMORY; the message is in
 * qnt_ctx_last_error(NULL). Thread-safety: any thread. Since: 1.0 */
QNT_API qnt_status qnt_recipe_preset(const char *name, qnt_recipe **out);

/* The recipe of one type: every tensor of 2 or more dimensions whose source
 * is f32, f16 or bf16 and whose row length is a multiple of the type's block
 * becomes `type`; every other tensor stays as it is (and the plan says why).
 * The type is exact: an MLX id keeps its scale dtype (bf16 for
 * "mlx:affine:4:64", the registry's default), unlike a name without a
 * suffix in a JSON recipe, which follows the source's dtype.
 * Returns: QNT_OK and *out, QNT_E_UNKNOWN_TYPE, QNT_E_UNSUPPORTED (not a
 * weight format: q8_K, q8_1), QNT_E_INVALID_ARG, QNT_E_NO_MEMORY.
 * Thread-safety: any thread. Since: 1.0 */
QNT_API qnt_status qnt_recipe_from_type(qnt_type type, qnt_recipe **out);

/* Parses a JSON recipe of `len` bytes. `source_name` (e.g. the file name,
 * may be NULL) starts every error message, which also names the rule index
 * and key at fault: "my.json: rule 3: bad regex in \"match\" ...".
 * Returns: QNT_OK and *out, QNT_E_FORMAT (bad JSON, unknown key, bad value or
 * regex), QNT_E_UNKNOWN_TYPE (unknown type name), QNT_E_UNSUPPORTED (not a
 * weight format), QNT_E_INVALID_ARG, QNT_E_NO_MEMORY.
 * Thread-safety: per-ctx (NULL: any thread). Since: 1.0 */
QNT_API qnt_status qnt_recipe_parse(qnt_ctx *ctx, const char *json, size_t len, const char *source_name,
				    qnt_recipe **out);

/* Reads and parses a JSON recipe file (errors name the path).
 * Returns: as qnt_recipe_parse, and QNT_E_NOT_FOUND, QNT_E_IO.
 * Thread-safety: per-ctx (NULL: any thread). Since: 1.0 */
QNT_API qnt_status qnt_recipe_load_file(qnt_ctx *ctx, const char *path, qnt_recipe **out);

/* Frees a recipe; NULL is a no-op. Thread-safety: must not race with any
 * other use of `r`. Since: 1.0 */
QNT_API void qnt_recipe_free(qnt_recipe *r);

/* The recipe as JSON text (NUL-terminated, *out allocated with malloc: free
 * it with qnt_free), which qnt_recipe_parse turns back into a
 * recipe that plans the same way.
 * Returns: QNT_OK, QNT_E_INVALID_ARG, QNT_E_NO_MEMORY.
 * Thread-safety: per-ctx (NULL: any thread). Since: 1.0 */
QNT_API qnt_status qnt_recipe_to_json(qnt_ctx *ctx, const qnt_recipe *r, char **out);

/* Returns: the recipe's name ("Q4_K_M", "type q4_0", the "name" of a JSON
 * file or its source name), owned by r; "" for NULL. Thread-safety: any
 * thread. Since: 1.0 */
QNT_API const char *qnt_recipe_name(const qnt_recipe *r);

/* Returns: the value for GGUF's general.file_type (a LLAMA_FTYPE_*): the
 * preset's (15 for Q4_K_M), a JSON recipe's "file_type", else derived from
 * its default type (docs/recipes.md: q4_K gives 14, Q4_K_S), and 1024
 * (LLAMA_FTYPE_GUESSED) when there is none (MLX formats, NULL).
 * general.quantization_version is 2 with every recipe.
 * Thread-safety: any thread. Since: 1.0 */
QNT_API uint32_t qnt_recipe_file_type(const qnt_recipe *r);

#define QNT_RECIPE_NAMES_GGUF 0 /* "blk.3.attn_v.weight", "token_embd.weight", "output.weight" */
#define QNT_RECIPE_NAMES_HF 1   /* "model.layers.3.self_attn.v_proj.weight", "lm_head.weight" */

#define QNT_RECIPE_MODEL_IMATRIX 0x1u /* an importance matrix will be used */

/* What a plan needs to know of the model. */
typedef struct qnt_recipe_model {
	uint32_t struct_size; /* sizeof(qnt_recipe_model) as seen by the caller */
	uint32_t name_style;  /* QNT_RECIPE_NAMES_* */
	int64_t n_layer;      /* block count, 0 if unknown */
	int64_t n_expert;     /* experts per MoE layer; 0 or 1: dense */
	int64_t n_head;       /* attention heads, 0 if unknown */
	int64_t n_head_kv;    /* key/value heads, 0 if unknown */
	const char *arch;     /* GGUF general.architecture or HF model_type; may be NULL */
	uint32_t flags;       /* QNT_RECIPE_MODEL_* */
	uint32_t reserved;    /* zero */
} qnt_recipe_model;
#define QNT_RECIPE_MODEL_INIT { sizeof(qnt_recipe_model), QNT_RECIPE_NAMES_GGUF, 0, 0, 0, 0, NULL, 0, 0 }

#define QNT_RECIPE_KEEP 0x1u     /* left as it is: 1-D, not a float source, a "keep" rule, no fit */
#define QNT_RECIPE_FALLBACK 0x2u /* the row length did not fit the type the rule asked for */
#define QNT_RECIPE_REASON_SIZE 96 /* bytes of one reason, NUL included */

/* Plans a whole model at once (some of llama-quantize's choices depend on
 * counts over the model). Tensor i has name names[i], n_dims[i] dimensions
 * (1 to 4) of sizes ne[4*i .. 4*i+3] (ne[4*i] is the row length; unused
 * sizes are ignored) and source type src_types[i]. For each it writes
 * types[i] (the chosen type; the source type when kept), flags[i]
 * (QNT_RECIPE_*; may be NULL) and reasons[i * QNT_RECIPE_REASON_SIZE ...]
 * (NULL, or n * QNT_RECIPE_REASON_SIZE bytes: "rule 14: q6_K (attn_v, more
 * bits)", "fallback: 2880 % 256 != 0 for q4_K -> q5_0").
 * Returns: QNT_OK, QNT_E_INVALID_ARG (NULL pointers, n < 0, bad dimensions,
 * unknown flags or name style, reserved not zero), QNT_E_STRUCT_TOO_NEW,
 * QNT_E_NO_MEMORY. Thread-safety: per-ctx (NULL: any thread). Since: 1.0 */
QNT_API qnt_status qnt_recipe_plan(qnt_ctx *ctx, const qnt_recipe *r, const qnt_recipe_model *model, int64_t n,
				   const char *const *names, const uint32_t *n_dims, const int64_t *ne,
				   const qnt_type *src_types, qnt_type *types, uint32_t *flags, char *reasons);

/* ------------------------------------------------------------------------ */
/* Models                                                                    */
/* ------------------------------------------------------------------------ */

/* A model file opened for reading: a GGUF file, a safetensors file, a
 * folder of safetensors shards with model.safetensors.index.json (Hugging
 * Face layout) or an mlx-lm folder (config.json with "quantization"). The
 * whole file (every shard) is validated when it is opened: after that no
 * read can go outside the data. Tensors are mapped, not copied: a model
 * larger than memory opens in constant memory, and pages are read as the
 * tensors are used.
 *
 * Shapes are given outermost first, as numpy and safetensors give them:
 * shape[n_dims - 1] is the row length (GGUF's ne[0]). A GGUF tensor of
 * ne = {4096, 11008} has shape {11008, 4096}: 11008 rows of 4096.
 *
 * An MLX quantized module P is one tensor, "P.weight", whose type is the
 * MLX format (qnt_mlx_type) and whose shape is the float shape; its
 * scales and biases are not listed apart. */
typedef struct qnt_model qnt_model; /* opaque; immutable once opened */

#define QNT_MODEL_GGUF 1        /* a GGUF file (version 2 or 3) */
#define QNT_MODEL_SAFETENSORS 2 /* a .safetensors file, or a folder / index of shards */
#define QNT_MODEL_MLX 3         /* an mlx-lm folder (config.json + safetensors) */

#define QNT_MAX_DIMS 8

typedef struct qnt_tensor_info {
	uint32_t struct_size;  /* set by the caller: sizeof(qnt_tensor_info) */
	int32_t n_dims;        /* 0 (a scalar) .. QNT_MAX_DIMS */
	const char *name;      /* owned by the model */
	qnt_type type;         /* the libqnt format of the data, or QNT_TYPE_INVALID for
				  storage types that are not formats (integers, bool, fp8) */
	int32_t reserved;      /* zero */
	const char *dtype;     /* the file's name of the type: "q4_K", "F32", "I64",
				  "mlx:affine:4:64:bf16"; owned by the model */
	int64_t shape[QNT_MAX_DIMS]; /* outermost first; 1 beyond n_dims */
	int64_t n_elements;
	uint64_t nbytes;       /* bytes of data in the file (all three planes for MLX) */
	const char *file;      /* the file (shard) that holds the data; owned by the model */
	uint64_t offset;       /* byte offset of the data (the codes for MLX) in that file */
} qnt_tensor_info;

/* Opens a model. The format is found from the path: a file starting with
 * "GGUF", a .safetensors file, a model.safetensors.index.json, or a folder
 * holding one of those (with config.json saying "quantization": an MLX
 * folder). `ctx` (may be NULL) only receives the error message.
 * Returns: QNT_OK and *out, QNT_E_INVALID_ARG, QNT_E_NOT_FOUND, QNT_E_IO,
 * QNT_E_FORMAT (malformed file: the message names the file, the item and
 * its byte offset), QNT_E_UNSUPPORTED (a file that is none of these),
 * QNT_E_NO_MEMORY. Thread-safety: per-ctx (NULL: any thread). Since: 1.0 */
QNT_API qnt_status qnt_model_open(qnt_ctx *ctx, const char *path, qnt_model **out);

/* Closes a model; NULL is a no-op. Every pointer it returned becomes
 * invalid. Thread-safety: must not race with any other use of `m`.
 * Since: 1.0 */
QNT_API void qnt_model_close(qnt_model *m);

/* Returns: QNT_MODEL_* (0 for NULL). Thread-safety: any thread.
 * Since: 1.0 */
QNT_API int32_t qnt_model_format(const qnt_model *m);

/* Returns: the number of tensors (0 for NULL). Tensors are enumerated in
 * file order (GGUF: tensor-info order; safetensors: data order, shard by
 * shard). Thread-safety: any thread. Since: 1.0 */
QNT_API int64_t qnt_model_tensor_count(const qnt_model *m);

/* Fills `info` for tensor `index` (the caller sets info->struct_size).
 * Returns: QNT_OK, QNT_E_NOT_FOUND (index out of range),
 * QNT_E_INVALID_ARG. Thread-safety: any thread. Since: 1.0 */
QNT_API qnt_status qnt_model_tensor_info(const qnt_model *m, int64_t index, qnt_tensor_info *info);

/* Returns: the index of the tensor named `name`, or -1. Thread-safety: any
 * thread. Since: 1.0 */
QNT_API int64_t qnt_model_find_tensor(const qnt_model *m, const char *name);

/* Reads rows [row0, row0 + n_rows) of tensor `index` as floats (the
 * tensor's rows are its elements in groups of the row length; a 1-D tensor
 * is one row): dequantized with qnt_dequantize for every libqnt format,
 * converted for the integer storage types. `out` receives n_rows * row
 * length floats. Runs on the context's threads.
 * Returns: QNT_OK, QNT_E_INVALID_ARG, QNT_E_NOT_FOUND (index),
 * QNT_E_BAD_SHAPE (rows out of range), QNT_E_UNSUPPORTED (a type libqnt
 * cannot read as floats: bool, complex). Thread-safety: per-ctx (NULL: any
 * thread). Since: 1.0 */
QNT_API qnt_status qnt_model_read_rows(qnt_ctx *ctx, const qnt_model *m, int64_t index, int64_t row0,
				       int64_t n_rows, float *out);

/* The model's metadata as a JSON object, in a string the caller frees with
 * qnt_free(): GGUF key/value pairs (arrays as JSON arrays; with
 * max_array >= 0 an array of more elements is given as
 * {"type": "ARRAY", "elem_type": "STRING", "n": N, "head": [first max_array]}),
 * safetensors "__metadata__", and for folders "config.json" as an object.
 * Returns: QNT_OK and *json, QNT_E_INVALID_ARG, QNT_E_NO_MEMORY.
 * Thread-safety: any thread. Since: 1.0 */
QNT_API qnt_status qnt_model_metadata_json(const qnt_model *m, int64_t max_array, char **json);

/* The integrity checksum of tensor `index`: *stored is what the file
 * records (libqnt writes the XXH3-64 of every tensor's bytes into the files
 * it writes), *actual what the data hashes to now. Either may be NULL. An
 * MLX quantized tensor is several stored arrays with a checksum each: both
 * values are then the XXH3-64 of the arrays' checksums, equal exactly when
 * every array matches.
 * Returns: QNT_OK (then they are compared by the caller), QNT_E_NOT_FOUND
 * (index out of range, or the file records no checksum: *actual is still
 * set), QNT_E_INVALID_ARG. Thread-safety: any thread. Since: 1.0 */
QNT_API qnt_status qnt_model_tensor_checksum(const qnt_model *m, int64_t index, uint64_t *stored,
					     uint64_t *actual);

/* Frees a string or buffer libqnt allocated for the caller (JSON texts);
 * NULL is a no-op. Thread-safety: any thread. Since: 1.0 */
QNT_API void qnt_free(void *p);

/* ------------------------------------------------------------------------ */
/* Model quantization                                                        */
/* ------------------------------------------------------------------------ */

/* qnt_model_quantize reads a model (any qnt_model_open input), chooses a
 * format for every tensor with a recipe (see Recipes), and writes a GGUF
 * file, an MLX folder or one safetensors file, streaming: tensor by
 * tensor, and row slab by row slab within a tensor, so that memory stays
 * under opts->max_memory
 * whatever the model's size. Each slab is read as floats (dequantized when
 * the source is quantized: the report says so), quantized on the context's
 * threads, compared with its source for the report, and written; the
 * output's bytes do not depend on the thread count. The output is atomic:
 * temporary files, fsync, rename; a failure leaves nothing at `out`.
 *
 * GGUF output keeps the source's metadata (GGUF source) or carries the
 * safetensors metadata and config.json, sets general.file_type and
 * general.quantization_version as llama-quantize does, and records
 * "qnt.xxh3_64", the XXH3-64 of every tensor's bytes (qnt_model_tensor_checksum). */

typedef struct qnt_report qnt_report; /* opaque: per-tensor outcome */

/* Progress: called on the calling thread after each slab, with the bytes
 * of source data done and in all, and the tensor being worked on. */
typedef void (*qnt_progress_fn)(void *user, uint64_t done, uint64_t total, const char *tensor);

#define QNT_OUTPUT_AUTO 0 /* from `out`: "*.gguf" -> GGUF, "*.safetensors" -> one safetensors
			     file (MLX's tensor layout), otherwise an MLX folder */

#define QNT_MQ_FLAG_NO_CHECKSUMS 0x1u /* do not record checksums */
#define QNT_MQ_FLAG_NO_METRICS 0x2u   /* skip the error metrics (faster) */

typedef struct qnt_model_quantize_opts {
	uint32_t struct_size;      /* set by qnt_model_quantize_opts_init */
	int32_t output_format;     /* QNT_OUTPUT_AUTO, QNT_MODEL_GGUF, QNT_MODEL_MLX or QNT_MODEL_SAFETENSORS */
	const qnt_recipe *recipe;       /* required: qnt_recipe_preset, _from_type, _parse */
	const qnt_imatrix *imatrix;      /* NULL: no importance weights */
	uint64_t max_memory;       /* bytes of buffers at most; 0: the default (see below) */
	uint32_t flags;            /* QNT_MQ_FLAG_* */
	int32_t reserved0;         /* zero */
	qnt_progress_fn progress;  /* NULL: none */
	void *progress_user;
	uint64_t max_shard_bytes;  /* MLX output: 0 = 5 GiB as mlx-lm */
} qnt_model_quantize_opts;

/* Fills opts with the defaults (struct_size set). Thread-safety: any
 * thread. Since: 1.0 */
QNT_API void qnt_model_quantize_opts_init(qnt_model_quantize_opts *opts);

/* The default memory limit: 256 MiB, or what one row of the widest tensor
 * needs if that is more. With max_memory set, a slab is as many rows as fit
 * in about a third of it (source floats, output and check buffers); a
 * single row that does not fit is QNT_E_NO_MEMORY with the tensor named.
 *
 * Returns: QNT_OK (and *report, if report is not NULL, to free with
 * qnt_report_free), QNT_E_INVALID_ARG, QNT_E_STRUCT_TOO_NEW, the statuses of
 * qnt_model_open for `in`, QNT_E_UNSUPPORTED (a type the output cannot hold:
 * a GGUF format in an MLX folder or the reverse), QNT_E_IO, QNT_E_NO_MEMORY.
 * Thread-safety: per-ctx (NULL: any thread). Since: 1.0 */
QNT_API qnt_status qnt_model_quantize(qnt_ctx *ctx, const char *in, const char *out,
				      const qnt_model_quantize_opts *opts, qnt_report **report);

/* Writes every tensor of `in` that holds floats or a libqnt format as
 * `type` (QNT_TYPE_F32, QNT_TYPE_F16 or QNT_TYPE_BF16) to a GGUF file
 * `out`, other tensors as they are; opts as qnt_model_quantize (recipe
 * ignored). Returns: as qnt_model_quantize. Thread-safety: per-ctx.
 * Since: 1.0 */
QNT_API qnt_status qnt_model_dequantize(qnt_ctx *ctx, const char *in, const char *out, qnt_type type,
					const qnt_model_quantize_opts *opts, qnt_report **report);

/* Compares two models tensor by tensor (same names; tensors only in one
 * are listed with QNT_REPORT_ONLY_IN_A/B), as floats: relative RMSE of B
 * against A, max abs error, cosine similarity. importance: NULL or an
 * imatrix that weights the columns. Bounded memory as above (max_memory 0:
 * the default). Returns: QNT_OK and *report, or the statuses of
 * qnt_model_open and QNT_E_BAD_SHAPE (a tensor of the same name and another
 * shape is reported, not an error). Thread-safety: per-ctx. Since: 1.0 */
QNT_API qnt_status qnt_model_compare(qnt_ctx *ctx, const qnt_model *a, const qnt_model *b,
				     const qnt_imatrix *importance, uint64_t max_memory, qnt_report **report);

/* What happened to one tensor. */
#define QNT_REPORT_KEPT 0x1u        /* copied as it was */
#define QNT_REPORT_FALLBACK 0x2u    /* the recipe's format did not fit the rows: another chosen */
#define QNT_REPORT_REQUANTIZED 0x4u /* the source was quantized: dequantized first */
#define QNT_REPORT_IMPORTANCE 0x8u  /* quantized with importance weights (and metrics weighted) */
#define QNT_REPORT_ONLY_IN_A 0x10u  /* compare: tensor only in the first model */
#define QNT_REPORT_ONLY_IN_B 0x20u  /* compare: tensor only in the second model */
#define QNT_REPORT_SHAPE_DIFFERS 0x40u /* compare: same name, other shape (no metrics) */
#define QNT_REPORT_CONVERTED 0x80u  /* a format to format conversion (exact where qnt_convert_kind says) */

typedef struct qnt_report_entry {
	uint32_t struct_size;    /* set by the caller */
	uint32_t flags;          /* QNT_REPORT_* */
	const char *name;        /* owned by the report */
	const char *src_dtype;   /* "F16", "q4_K", ... */
	const char *dtype;       /* the output's ("q4_K", "mlx:affine:4:64:bf16", "F32") */
	qnt_type src_type;       /* QNT_TYPE_INVALID for non-format storage */
	qnt_type type;
	int64_t n_elements;
	uint64_t nbytes;         /* bytes written */
	double bits_per_weight;  /* 8 * nbytes / n_elements */
	double rel_rmse;         /* sqrt(sum w (x - y)^2 / sum w x^2); NaN when not measured */
	double max_abs_err;      /* NaN when not measured */
	double cosine;           /* NaN when not measured */
	double seconds;          /* wall time spent on the tensor */
	const char *reason;      /* why this format ("rule 3: ...", "fallback: ..."); owned by the report */
} qnt_report_entry;

/* Returns: the number of entries (0 for NULL). Thread-safety: any thread.
 * Since: 1.0 */
QNT_API int64_t qnt_report_count(const qnt_report *r);

/* Fills `e` (the caller sets e->struct_size) with entry `index`.
 * Returns: QNT_OK, QNT_E_NOT_FOUND, QNT_E_INVALID_ARG. Thread-safety: any
 * thread. Since: 1.0 */
QNT_API qnt_status qnt_report_entry_at(const qnt_report *r, int64_t index, qnt_report_entry *e);

/* The report as JSON ({"tensors": [...], "totals": {...}}), in a string
 * freed with qnt_free(). Returns: QNT_OK, QNT_E_INVALID_ARG,
 * QNT_E_NO_MEMORY. Thread-safety: any thread. Since: 1.0 */
QNT_API qnt_status qnt_report_json(const qnt_report *r, char **json);

/* Frees a report; NULL is a no-op. Thread-safety: must not race with other
 * uses of `r`. Since: 1.0 */
QNT_API void qnt_report_free(qnt_report *r);

/* ------------------------------------------------------------------------ */
/* Prepared matrices                                                         */
/* ------------------------------------------------------------------------ */

/* A weight matrix prepared once for repeated products, in the layout the
 * backend's kernels prefer (rows interleaved in groups, as ggml's "repack"
 * does). Opaque. */
typedef struct qnt_matrix qnt_matrix;

/* Prepares W for products on ctx's backend: W as in qnt_matmul (n_out rows
 * of n_in elements of wtype, rows back to back). The handle owns a copy (w
 * may be freed or changed afterwards): in the backend's layout where it has
 * one for wtype (cpu-avx2: q4_0, q8_0, iq4_nl, mxfp4, nvfp4, q2_K, q3_K, q4_K,
 * q5_K, q6_K, iq4_xs, tq1_0, tq2_0 and the 2- and 3-bit and 1-bit i-quants,
 * eight rows interleaved), otherwise
 * the rows as given, which qnt_matmul_prepared then multiplies as qnt_matmul
 * does. Its memory comes from ctx's allocator (the backend's layout from the
 * library's), which must stay usable until qnt_matrix_free; the context
 * itself need not. The library's allocator puts buffers of 4 MiB or more on
 * transparent huge pages where the system allows (MADV_HUGEPAGE).
 * Returns: QNT_OK, QNT_E_INVALID_ARG (NULL w or out, negative sizes),
 * QNT_E_UNKNOWN_TYPE, QNT_E_UNSUPPORTED (no matmul for wtype),
 * QNT_E_BAD_SHAPE (n_in not a positive multiple of the block, or overflow),
 * QNT_E_NO_MEMORY, or the backend's failure. *out is NULL on failure.
 * Thread-safety: per-ctx (NULL: any thread). Since: 1.0 */
QNT_API qnt_status qnt_matrix_prepare(qnt_ctx *ctx, qnt_type wtype, const void *w, int64_t n_out, int64_t n_in,
				      qnt_matrix **out);

/* y = W x with a prepared W: x holds n_cols vectors of n_in floats and y
 * receives n_cols vectors of n_out floats, as in qnt_matmul. A matrix in a
 * backend's layout (qnt_matrix_layout is not "plain") needs a context on
 * that backend: any other is QNT_E_INVALID_ARG, naming both. The results
 * agree with the scalar reference within qnt_matmul's tolerance (not bit for
 * bit with qnt_matmul) and are the same for every thread count.
 * Returns: QNT_OK, QNT_E_INVALID_ARG (NULL m, x or y, n_cols < 0, another
 * backend), QNT_E_BAD_SHAPE (overflow), QNT_E_NO_MEMORY.
 * Thread-safety: per-ctx (NULL: any thread); one m may be used by several
 * contexts at once. Since: 1.0 */
QNT_API qnt_status qnt_matmul_prepared(qnt_ctx *ctx, const qnt_matrix *m, const float *x, int64_t n_cols,
				       float *y);

/* The name of the backend whose layout m holds ("cpu-avx2"), "plain" when
 * it holds the rows as given, NULL for NULL. Valid while m is.
 * Thread-safety: any thread. Since: 1.0 */
QNT_API const char *qnt_matrix_layout(const qnt_matrix *m);

/* Frees a prepared matrix; NULL is a no-op. Thread-safety: must not race
 * with other uses of m. Since: 1.0 */
QNT_API void qnt_matrix_free(qnt_matrix *m);

#ifdef __cplusplus
}
#endif

#endif /* LIBQNT_H */
