/* SPDX-License-Identifier: MIT */
/*
 * libqnt_backend.h: the ABI between libqnt and its backends.
 *
 * A backend is a table of functions (qnt_backend_vtbl). It reaches libqnt
 * only through the host table it is handed (qnt_host_api), never by linking
 * against libqnt, so a module loaded into a process that holds two copies of
 * libqnt (a Python wheel and a Rust crate, say) stays consistent.
 *
 * A backend is registered in one of two ways:
 *   - compiled in, or built into the application: qnt_backend_register(vtbl);
 *   - as a module: a shared object that exports exactly one symbol,
 *       const qnt_backend_vtbl *qnt_backend_entry(uint32_t host_abi,
 *                                                 const qnt_host_api *host);
 *     found by qnt_backend_load() / qnt_backend_load_dir() / QNT_BACKEND_PATH.
 *     `entry` must be cheap and side-effect free; the work belongs in open().
 *
 * Growth rules: both tables start with struct_size and only grow at the end.
 * A caller reads a member only if QNT_VTBL_HAS() says the other side has it.
 * QNT_BACKEND_ABI changes only for an incompatible change.
 *
 * Device backends (CUDA, Vulkan, Metal): a backend exposes one or more
 * devices; memory on a device is a qnt_buffer handle owned by the backend.
 * Jobs name their operands with qnt_mem, which is either a host pointer or a
 * (buffer, offset) pair. Backends with unified memory return a host pointer
 * from buffer_host_ptr and may then be handed host pointers directly.
 */
#ifndef LIBQNT_BACKEND_H
#define LIBQNT_BACKEND_H

#include "libqnt.h"

#ifdef __cplusplus
extern "C" {
#endif

#define QNT_BACKEND_ABI 1

/* Operations a backend may support (qnt_backend_vtbl.supports). */
#define QNT_OP_QUANTIZE 1
#define QNT_OP_DEQUANTIZE 2
#define QNT_OP_MATMUL 3

/* Capabilities (qnt_backend_vtbl.caps). */
#define QNT_BACKEND_CAP_HOST_THREADS 0x1u /* kernels run on host memory from libqnt's
					     worker threads, on row ranges */
#define QNT_BACKEND_CAP_DEVICE_MEMORY 0x2u /* has buffers of its own */
#define QNT_BACKEND_CAP_UNIFIED_MEMORY 0x4u /* its buffers are host-visible */
#define QNT_BACKEND_CAP_ASYNC 0x8u         /* jobs may complete after return; call synchronize */

typedef struct qnt_buffer qnt_buffer; /* opaque, owned by a backend */

/* An operand: host memory (buffer == NULL) or device memory. */
typedef struct qnt_mem {
	void *host;         /* host pointer, when buffer == NULL */
	qnt_buffer *buffer; /* device buffer, or NULL */
	uint64_t offset;    /* byte offset into buffer */
} qnt_mem;

/* One kernel invocation: rows [row_begin, row_end) of a tensor of nrows x
 * n_per_row elements. For QUANTIZE src holds floats and dst blocks; for
 * DEQUANTIZE the reverse. Both point at the start of the whole tensor. */
typedef struct qnt_kernel_job {
	uint32_t struct_size;
	uint32_t op;             /* QNT_OP_* */
	qnt_type type;
	int32_t device;          /* device index */
	int64_t nrows;
	int64_t n_per_row;
	int64_t row_begin;
	int64_t row_end;
	qnt_mem src;
	qnt_mem dst;
	const float *importance; /* NULL or n_per_row weights (host memory) */
	void *scratch;           /* per-thread scratch memory, scratch_bytes long */
	uint64_t scratch_bytes;
} qnt_kernel_job;

/* One matrix product y = W x (QNT_OP_MATMUL): W is n_out rows of n_in
 * elements in format wtype (rows back to back, qnt_row_size bytes each), x is
 * n_cols vectors of n_in floats and y n_cols vectors of n_out floats, both
 * back to back. The call computes the outputs [row_begin, row_end) of every
 * column. With QNT_BACKEND_CAP_HOST_THREADS it is called concurrently on
 * disjoint output ranges; `xq` then holds the activations already quantized
 * by libqnt to xq_type (one row of n_in per column, qnt_row_size(xq_type,
 * n_in) bytes each), or is NULL when xq_type is QNT_TYPE_INVALID (the backend
 * reads x directly). */
typedef struct qnt_matmul_job {
	uint32_t struct_size;
	qnt_type wtype;
	int32_t device;
	qnt_type xq_type;  /* companion format of xq, or QNT_TYPE_INVALID */
	int64_t n_out;
	int64_t n_in;
	int64_t n_cols;
	int64_t row_begin;
	int64_t row_end;
	qnt_mem w;
	qnt_mem x;
	qnt_mem y;
	const void *xq;    /* host memory */
	void *scratch;     /* per-thread scratch memory, scratch_bytes long */
	uint64_t scratch_bytes;
} qnt_matmul_job;

/* Device description (qnt_backend_vtbl.device_props). */
#define QNT_DEVICE_CPU 0
#define QNT_DEVICE_GPU 1
#define QNT_DEVICE_ACCEL 2

typedef struct qnt_device_props {
	uint32_t struct_size; /* set by the caller */
	int32_t kind;         /* QNT_DEVICE_* */
	uint64_t memory_total; /* bytes; 0 if unknown */
	uint64_t memory_free;
	uint32_t caps;        /* QNT_BACKEND_CAP_* of this device */
	uint32_t reserved;
	const char *name;
	const char *description;
} qnt_device_props;

/* What libqnt gives a backend. */
typedef struct qnt_host_api {
	uint32_t struct_size;
	uint32_t abi_version;   /* QNT_BACKEND_ABI of the host */
	uint64_t cpu_features;  /* QNT_CPU_* */
	/* log a message (printf-style) at a QNT_LOG_* level; any thread */
	void (*log)(int32_t level, const char *fmt, ...);
	/* allocator of the library (aligned); any thread */
	void *(*alloc)(size_t size, size_t align);
	void (*free)(void *ptr);
	/* the scalar reference kernels: ground truth, and the fallback for formats
	 * a backend does not handle */
	qnt_status (*quantize_ref)(qnt_type type, const float *src, void *dst, int64_t nrows,
				   int64_t n_per_row, const float *importance);
	qnt_status (*dequantize_ref)(qnt_type type, const void *src, float *dst, int64_t nrows,
				     int64_t n_per_row);
	/* format registry (the same as the public calls) */
	size_t (*row_size)(qnt_type type, int64_t n_per_row);
	qnt_status (*type_info)(qnt_type type, qnt_type_info *info);

	/* Since 1.0, after type_info: read only when struct_size covers them. */
	/* The activation format of the reference matrix product for wtype
	 * (q8_0, q8_1 or q8_K, ggml's choice), or QNT_TYPE_INVALID where it
	 * multiplies by the floats; any thread. */
	qnt_type (*matmul_ref_xq_type)(qnt_type wtype);
	/* The scalar reference of a matrix product (see qnt_matmul_job): the
	 * outputs [row_begin, row_end) of every column, host memory, no threads.
	 * w, x and y point at the whole tensors. xq: NULL, or the columns already
	 * quantized to matmul_ref_xq_type(wtype) (x may then be NULL); without it
	 * the reference quantizes x itself on every call. Any thread. */
	qnt_status (*matmul_ref)(qnt_type wtype, const void *w, int64_t n_out, int64_t n_in, const float *x,
				 const void *xq, int64_t n_cols, float *y, int64_t row_begin, int64_t row_end);
} qnt_host_api;

/* True when the host table `h` is large enough to hold member `m`. */
#define QNT_HOST_HAS(h, m) ((h)->struct_size >= offsetof(qnt_host_api, m) + sizeof((h)->m))

typedef struct qnt_backend_vtbl {
	uint32_t struct_size;  /* sizeof(qnt_backend_vtbl) as compiled into the backend */
	uint32_t abi_version;  /* QNT_BACKEND_ABI */
	const char *name;      /* unique: "cpu", "cpu-avx2", "cuda", "vulkan" */
	const char *description;
	uint32_t caps;         /* QNT_BACKEND_CAP_* */
	uint32_t reserved;

	/* Higher is preferred, 0 = unusable here (write why into `why`). Cheap,
	 * no side effects. Conventions: scalar reference 1; SIMD variants
	 * 1 + sum of 1 << feature; GPUs 1 << 20 plus a device class. */
	int32_t (*score)(const qnt_host_api *host, char *why, size_t why_size);
	/* Opens the backend for one context. */
	qnt_status (*open)(const qnt_host_api *host, int32_t device, void **state);
	void (*close)(void *state);

	/* Devices. */
	int32_t (*device_count)(void *state);
	qnt_status (*device_props)(void *state, int32_t device, qnt_device_props *props);

	/* Non-zero when the backend runs `op` on `type` itself; otherwise libqnt
	 * uses the scalar reference. */
	int32_t (*supports)(void *state, qnt_type type, uint32_t op);

	/* Kernels. With QNT_BACKEND_CAP_HOST_THREADS they are called concurrently
	 * from several threads on disjoint row ranges; otherwise once per job with
	 * the whole tensor. */
	qnt_status (*quantize)(void *state, const qnt_kernel_job *job);
	qnt_status (*dequantize)(void *state, const qnt_kernel_job *job);
	/* Scratch bytes each thread needs for a job (may be NULL: none). */
	uint64_t (*scratch_bytes)(void *state, const qnt_kernel_job *job);

	/* Device memory (NULL for host-only backends). */
	qnt_status (*buffer_alloc)(void *state, int32_t device, uint64_t size, qnt_buffer **out);
	void (*buffer_free)(void *state, qnt_buffer *buf);
	qnt_status (*buffer_write)(void *state, qnt_buffer *buf, uint64_t offset, const void *src,
				   uint64_t size);
	qnt_status (*buffer_read)(void *state, qnt_buffer *buf, uint64_t offset, void *dst,
				  uint64_t size);
	void *(*buffer_host_ptr)(void *state, qnt_buffer *buf); /* unified memory, else NULL */
	qnt_status (*synchronize)(void *state, int32_t device);

	/* Backend-specific extras by name, like ggml's get_proc_address. */
	void *(*get_proc)(void *state, const char *name);

	/* Since 1.0, after the minimum size: read only through QNT_VTBL_HAS. */
	/* The activation format the backend wants for `wtype` (libqnt quantizes
	 * x to it once per call and hands it over in job->xq), or
	 * QNT_TYPE_INVALID to read the floats itself. NULL: QNT_TYPE_INVALID. */
	qnt_type (*matmul_xq_type)(void *state, qnt_type wtype);
	qnt_status (*matmul)(void *state, const qnt_matmul_job *job);

	/* Since 1.0, after matmul: prepared weights (qnt_matrix_prepare): read only through
	 * QNT_VTBL_HAS; a backend sets all three or none. */
	/* Copies the n_out x n_in matrix w of wtype (host memory, rows back to
	 * back, qnt_row_size bytes each) into the backend's own layout, returned
	 * in *prepared, with in *row_group the rows that layout keeps together
	 * (>= 1). QNT_E_UNSUPPORTED: no layout for wtype or this shape (libqnt
	 * then keeps the plain rows). Called once per matrix from one thread;
	 * the layout must not depend on `state`: it is used with any context
	 * open on this backend. */
	qnt_status (*matrix_prepare)(void *state, qnt_type wtype, const void *w, int64_t n_out, int64_t n_in,
				     void **prepared, int64_t *row_group);
	/* As matmul, with job->w.host the pointer matrix_prepare returned (and
	 * job->wtype, n_out, n_in those it was given). row_begin is a multiple
	 * of row_group, row_end too or n_out. */
	qnt_status (*matmul_prepared)(void *state, const qnt_matmul_job *job);
	/* Frees what matrix_prepare returned. It has no state: it may run after
	 * the context that prepared the matrix is destroyed. Any thread. */
	void (*matrix_free)(const qnt_host_api *host, void *prepared);
	/* append only */
} qnt_backend_vtbl;

/* The smallest vtable a backend of ABI 1 may hand over: the 1.0 layout. */
#define QNT_BACKEND_VTBL_MIN_SIZE (offsetof(qnt_backend_vtbl, get_proc) + sizeof(void *))

/* True when `vt` is large enough to hold member `m` and sets it. */
#define QNT_VTBL_HAS(vt, m)                                                       \
	((vt)->struct_size >= offsetof(qnt_backend_vtbl, m) + sizeof((vt)->m) &&  \
	 (vt)->m != NULL)

/* Module entry point type and symbol name. */
typedef const qnt_backend_vtbl *(*qnt_backend_entry_fn)(uint32_t host_abi, const qnt_host_api *host);
#define QNT_BACKEND_ENTRY_SYMBOL "qnt_backend_entry"

/* Registers a backend whose vtable stays valid until the process exits.
 * Registering the same name again is a no-op.
 * Returns: QNT_OK, QNT_E_INVALID_ARG, QNT_E_ABI_MISMATCH (wrong abi_version,
 * or struct_size below QNT_BACKEND_VTBL_MIN_SIZE), QNT_E_NO_MEMORY.
 * Thread-safety: any thread. Since: 1.0 */
QNT_API qnt_status qnt_backend_register(const qnt_backend_vtbl *vtbl);

#ifdef __cplusplus
}
#endif

#endif /* LIBQNT_BACKEND_H */
