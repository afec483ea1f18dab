/* SPDX-License-Identifier: MIT */
/* Library start-up, contexts (including the process-wide default one) and
 * allocation. */
#include "qnt_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <uv.h>

#define MAX_THREADS 1024

/* ---- allocation ---- */

/* Buffers of HUGE_MIN bytes or more (prepared weight matrices, slabs of
 * tensors) are aligned to HUGE_ALIGN and marked MADV_HUGEPAGE, so that where
 * transparent huge pages are on "madvise" (the default of most
 * distributions) the kernel backs them with 2 MiB pages, as numpy does for
 * its large arrays: a 4096 x 4096 product streams 9-32 MiB of weights, and
 * one TLB miss per 4 KiB cost prepared GEMV 4-20% on this project's machine
 * (a VM, where a miss walks two page tables). Best effort: without huge
 * pages the buffer is an ordinary one. */
#define HUGE_MIN ((size_t)4 << 20)
#define HUGE_ALIGN ((size_t)2 << 20)

void *qnt__aligned_alloc(size_t size, size_t align)
{
	void *p = NULL;
	if (align < sizeof(void *))
		align = sizeof(void *);
#ifdef MADV_HUGEPAGE
	if (size >= HUGE_MIN && align < HUGE_ALIGN)
		align = HUGE_ALIGN;
#endif
	if (posix_memalign(&p, align, size ? size : 1) != 0)
		return NULL;
#ifdef MADV_HUGEPAGE
	if (size >= HUGE_MIN)
		(void)madvise(p, size & ~(HUGE_ALIGN - 1), MADV_HUGEPAGE);
#endif
	return p;
}

void qnt__aligned_free(void *p)
{
	free(p);
}

void *qnt__ctx_alloc(qnt_ctx *ctx, size_t size, size_t align)
{
	if (ctx->alloc)
		return ctx->alloc(ctx->alloc_user, size, align);
	return qnt__aligned_alloc(size, align);
}

void qnt__ctx_free(qnt_ctx *ctx, void *p)
{
	if (!p)
		return;
	if (ctx->free)
		ctx->free(ctx->alloc_user, p);
	else
		qnt__aligned_free(p);
}

qnt_status qnt__ctx_ensure_scratch(qnt_ctx *ctx, uint64_t need)
{
	if (need <= ctx->scratch_bytes)
		return QNT_OK;
	for (int32_t i = 0; i < ctx->n_threads; i++) {
		qnt__ctx_free(ctx, ctx->scratch[i]);
		ctx->scratch[i] = qnt__ctx_alloc(ctx, (size_t)need, 64);
		if (!ctx->scratch[i]) {
			while (i-- > 0) {
				qnt__ctx_free(ctx, ctx->scratch[i]);
				ctx->scratch[i] = NULL;
			}
			ctx->scratch_bytes = 0;
			return qnt__error(ctx, QNT_E_NO_MEMORY, "out of memory for %llu bytes of scratch per thread",
					  (unsigned long long)need);
		}
	}
	ctx->scratch_bytes = need;
	return QNT_OK;
}

/* ---- start-up ---- */

static uv_once_t init_once = UV_ONCE_INIT;
static qnt_status init_status = QNT_OK;

static void do_init(void)
{
	char err[256];
	qnt__host.cpu_features = qnt_cpu_features();
	init_status = qnt__registry_register(&qnt__cpu_backend, QNT_BACKEND_FLAG_BUILTIN | QNT_BACKEND_FLAG_REFERENCE,
					     NULL, err, sizeof err);
	if (init_status != QNT_OK) {
		qnt__log(QNT_LOG_ERROR, "libqnt: cannot register the CPU backend: %s", err);
		return;
	}
#ifdef QNT_HAVE_CPU_AVX2
	/* scores 0 (with its reason) where the CPU or the OS lacks a feature */
	if (qnt__registry_register(&qnt__cpu_avx2_backend, QNT_BACKEND_FLAG_BUILTIN, NULL, err, sizeof err) != QNT_OK)
		qnt__log(QNT_LOG_WARN, "libqnt: cannot register the cpu-avx2 backend: %s", err);
#endif
#ifdef QNT_HAVE_CPU_AVX512
	if (qnt__registry_register(&qnt__cpu_avx512_backend, QNT_BACKEND_FLAG_BUILTIN, NULL, err, sizeof err) != QNT_OK)
		qnt__log(QNT_LOG_WARN, "libqnt: cannot register the cpu-avx512 backend: %s", err);
#endif
#ifdef QNT_HAVE_CPU_NEON
	if (qnt__registry_register(&qnt__cpu_neon_backend, QNT_BACKEND_FLAG_BUILTIN, NULL, err, sizeof err) != QNT_OK)
		qnt__log(QNT_LOG_WARN, "libqnt: cannot register the cpu-neon backend: %s", err);
#endif
	qnt__load_env_path();
#ifdef QNT_MODULE_DIR
	struct stat sb;
	if (stat(QNT_MODULE_DIR, &sb) == 0 && S_ISDIR(sb.st_mode) && !getenv("QNT_NO_SYSTEM_MODULES"))
		qnt__load_dir(QNT_MODULE_DIR, err, sizeof err);
#endif
}

qnt_status qnt__ensure_init(void)
{
	uv_once(&init_once, do_init);
	return init_status;
}

QNT_API qnt_status qnt_init(void)
{
	qnt_status st = qnt__ensure_init();
	if (st != QNT_OK)
		return qnt__error(NULL, st, "qnt_init: the CPU backend could not be registered");
	return QNT_OK;
}

/* ---- options ---- */

QNT_API qnt_status qnt_ctx_opts_init(qnt_ctx_opts *opts, size_t struct_size)
{
	static const qnt_ctx_opts defaults = QNT_CTX_OPTS_INIT;
	if (!opts || struct_size < sizeof(qnt_ctx_opts))
		return qnt__error(NULL, QNT_E_INVALID_ARG,
				  "qnt_ctx_opts_init: opts is NULL or struct_size %zu is below the 1.0 size %zu",
				  struct_size, sizeof(qnt_ctx_opts));
	memset(opts, 0, struct_size);
	memcpy(opts, &defaults, sizeof defaults);
	opts->struct_size = (uint32_t)(struct_size > UINT32_MAX ? UINT32_MAX : struct_size);
	return QNT_OK;
}

/* Copies a caller's options: a struct from an older header must hold at
 * least the 1.0 fields; one from a newer header may be larger only if the
 * fields this library does not know are zero. */
static qnt_status copy_opts(qnt_ctx_opts *dst, const qnt_ctx_opts *src)
{
	static const qnt_ctx_opts defaults = QNT_CTX_OPTS_INIT;
	*dst = defaults;
	if (!src)
		return QNT_OK;
	size_t usize = src->struct_size;
	if (usize < sizeof(qnt_ctx_opts))
		return qnt__error(NULL, QNT_E_INVALID_ARG,
				  "qnt_ctx_create: opts->struct_size %zu is below the 1.0 size %zu (initialise with QNT_CTX_OPTS_INIT)",
				  usize, sizeof(qnt_ctx_opts));
	const unsigned char *s = (const unsigned char *)src;
	for (size_t i = sizeof(qnt_ctx_opts); i < usize; i++)
		if (s[i])
			return qnt__error(NULL, QNT_E_STRUCT_TOO_NEW,
					  "qnt_ctx_create: opts sets byte %zu, a field this libqnt %s does not know (struct of %zu bytes, this library knows %zu)",
					  i, QNT_VERSION_STRING, usize, sizeof(qnt_ctx_opts));
	memcpy(dst, src, sizeof(qnt_ctx_opts));
	dst->struct_size = sizeof(qnt_ctx_opts);
	return QNT_OK;
}

/* ---- contexts ---- */

static qnt_status pick_backend(const char *name, const struct qnt__backend **out)
{
	const struct qnt__backend *b;
	if (!name || !*name || strcmp(name, "auto") == 0) {
		b = qnt__backend_best();
		if (!b)
			return qnt__error(NULL, QNT_E_NOT_FOUND, "no usable backend is registered");
	} else {
		b = qnt__backend_find(name);
		if (!b) {
			char names[512];
			qnt__backend_names(names, sizeof names);
			return qnt__error(NULL, QNT_E_NOT_FOUND, "no backend named '%s' (registered: %s)", name, names);
		}
		if (b->score <= 0)
			return qnt__error(NULL, QNT_E_BACKEND, "backend '%s' cannot run here: %s", name, b->reason);
	}
	*out = b;
	return QNT_OK;
}

static qnt_status ctx_create(const qnt_ctx_opts *user_opts, int is_default, qnt_ctx **out)
{
	qnt_ctx_opts o;
	qnt_status st = qnt__ensure_init();
	if (st != QNT_OK)
		return qnt__error(NULL, st, "qnt_ctx_create: libqnt failed to initialise");
	if (!out)
		return qnt__error(NULL, QNT_E_INVALID_ARG, "qnt_ctx_create: out is NULL");
	*out = NULL;
	if ((st = copy_opts(&o, user_opts)) != QNT_OK)
		return st;
	if (o.n_threads < 0 || o.n_threads > MAX_THREADS)
		return qnt__error(NULL, QNT_E_INVALID_ARG, "qnt_ctx_create: n_threads %d is outside 0..%d",
				  (int)o.n_threads, MAX_THREADS);
	if (!o.alloc != !o.free)
		return qnt__error(NULL, QNT_E_INVALID_ARG, "qnt_ctx_create: alloc and free must be set together");
	if (o.flags != 0 || o.reserved != 0)
		return qnt__error(NULL, QNT_E_INVALID_ARG, "qnt_ctx_create: flags and reserved must be zero");
	if (o.device < 0)
		return qnt__error(NULL, QNT_E_INVALID_ARG, "qnt_ctx_create: device %d is negative", (int)o.device);

	const struct qnt__backend *b = NULL;
	if ((st = pick_backend(o.backend, &b)) != QNT_OK)
		return st;

	qnt_ctx *ctx = o.alloc ? o.alloc(o.alloc_user, sizeof *ctx, 64) : qnt__aligned_alloc(sizeof *ctx, 64);
	if (!ctx)
		return qnt__error(NULL, QNT_E_NO_MEMORY, "qnt_ctx_create: out of memory");
	memset(ctx, 0, sizeof *ctx);
	ctx->n_threads = o.n_threads ? o.n_threads : (int32_t)uv_available_parallelism();
	if (ctx->n_threads < 1)
		ctx->n_threads = 1;
	if (ctx->n_threads > MAX_THREADS)
		ctx->n_threads = MAX_THREADS;
	ctx->device = o.device;
	ctx->log_level = o.log_level;
	ctx->is_default = is_default;
	ctx->alloc = o.alloc;
	ctx->free = o.free;
	ctx->alloc_user = o.alloc_user;
	ctx->log = o.log;
	ctx->log_user = o.log_user;
	ctx->backend = b;

	st = b->vt->open(&qnt__host, o.device, &ctx->backend_state);
	if (st != QNT_OK) {
		st = qnt__error(NULL, st == QNT_E_NOT_FOUND ? st : QNT_E_BACKEND,
				"qnt_ctx_create: backend '%s' failed to open device %d: %s", b->vt->name, (int)o.device,
				qnt_status_str(st));
		goto err_free_ctx;
	}
	if (QNT_VTBL_HAS(b->vt, device_count) && o.device >= b->vt->device_count(ctx->backend_state)) {
		st = qnt__error(NULL, QNT_E_NOT_FOUND, "qnt_ctx_create: backend '%s' has no device %d", b->vt->name,
				(int)o.device);
		goto err_close;
	}
	ctx->scratch = qnt__ctx_alloc(ctx, (size_t)ctx->n_threads * sizeof(void *), 64);
	if (!ctx->scratch) {
		st = qnt__error(NULL, QNT_E_NO_MEMORY, "qnt_ctx_create: out of memory");
		goto err_close;
	}
	memset(ctx->scratch, 0, (size_t)ctx->n_threads * sizeof(void *));
	if (qnt__pool_create(ctx->n_threads, &ctx->pool) != QNT_OK) {
		st = qnt__error(NULL, QNT_E_NO_MEMORY, "qnt_ctx_create: cannot start %d threads", (int)ctx->n_threads);
		goto err_scratch;
	}
	*out = ctx;
	return QNT_OK;

err_scratch:
	qnt__ctx_free(ctx, ctx->scratch);
err_close:
	b->vt->close(ctx->backend_state);
err_free_ctx:
	qnt__ctx_free(ctx, ctx);
	return st;
}

QNT_API qnt_status qnt_ctx_create(const qnt_ctx_opts *opts, qnt_ctx **out)
{
	return ctx_create(opts, 0, out);
}

QNT_API void qnt_ctx_destroy(qnt_ctx *ctx)
{
	if (!ctx)
		return;
	qnt__pool_destroy(ctx->pool);
	for (int32_t i = 0; i < ctx->n_threads; i++)
		qnt__ctx_free(ctx, ctx->scratch[i]);
	qnt__ctx_free(ctx, ctx->scratch);
	ctx->backend->vt->close(ctx->backend_state);
	qnt__ctx_free(ctx, ctx);
}

/* ---- the default context ---- */

static uv_once_t dflt_once = UV_ONCE_INIT;
static uv_mutex_t dflt_mu;
static qnt_ctx *dflt;

static void dflt_init(void)
{
	uv_mutex_init(&dflt_mu);
}

static qnt_status default_opts(qnt_ctx_opts *o)
{
	const char *nt = getenv("QNT_NUM_THREADS");
	const char *be = getenv("QNT_BACKEND");
	qnt_ctx_opts_init(o, sizeof *o);
	if (nt && *nt) {
		char *end;
		errno = 0;
		long v = strtol(nt, &end, 10);
		if (errno || *end || v < 1 || v > MAX_THREADS)
			return qnt__error(NULL, QNT_E_INVALID_ARG, "QNT_NUM_THREADS='%s' is not a thread count in 1..%d",
					  nt, MAX_THREADS);
		o->n_threads = (int32_t)v;
	}
	if (be && *be)
		o->backend = be;
	return QNT_OK;
}

qnt_ctx *qnt__ctx_acquire(qnt_ctx *ctx, qnt_status *st)
{
	*st = QNT_OK;
	if (ctx) {
		ctx->err[0] = '\0';
		return ctx;
	}
	uv_once(&dflt_once, dflt_init);
	uv_mutex_lock(&dflt_mu);
	if (!dflt) {
		qnt_ctx_opts o;
		*st = default_opts(&o);
		if (*st == QNT_OK)
			*st = ctx_create(&o, 1, &dflt);
		if (*st != QNT_OK) {
			uv_mutex_unlock(&dflt_mu);
			return NULL;
		}
	}
	qnt__clear_error(NULL);
	return dflt;
}

void qnt__ctx_release(qnt_ctx *ctx)
{
	if (ctx && ctx->is_default)
		uv_mutex_unlock(&dflt_mu);
}

QNT_API void qnt_shutdown(void)
{
	uv_once(&dflt_once, dflt_init);
	uv_mutex_lock(&dflt_mu);
	qnt_ctx_destroy(dflt);
	dflt = NULL;
	uv_mutex_unlock(&dflt_mu);
}

/* ---- accessors ---- */

QNT_API const char *qnt_ctx_backend_name(qnt_ctx *ctx)
{
	qnt_status st;
	qnt_ctx *c = qnt__ctx_acquire(ctx, &st);
	if (!c)
		return "";
	const char *name = c->backend->vt->name;
	qnt__ctx_release(c);
	return name;
}

QNT_API int32_t qnt_ctx_n_threads(qnt_ctx *ctx)
{
	qnt_status st;
	qnt_ctx *c = qnt__ctx_acquire(ctx, &st);
	if (!c)
		return 0;
	int32_t n = c->n_threads;
	qnt__ctx_release(c);
	return n;
}

QNT_API void qnt_ctx_set_userdata(qnt_ctx *ctx, void *user)
{
	if (ctx)
		ctx->userdata = user;
}

QNT_API void *qnt_ctx_get_userdata(const qnt_ctx *ctx)
{
	return ctx ? ctx->userdata : NULL;
}
