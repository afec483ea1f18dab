/* SPDX-License-Identifier: MIT */
/*
 * The backend registry: module loading (the fake module of
 * tests/unit/fake_backend.c), directories, QNT_BACKEND_PATH, scoring and
 * selection, vtables registered from the application, and the props strings.
 *
 * Usage: test_registry GROUP. The registry is process-wide and only grows, so
 * each group runs in its own process (see meson.build). Paths come from the
 * environment:
 *   QNT_TEST_FAKE         libqnt-fake.so       ("fake", score 1000000)
 *   QNT_TEST_FAKE_ABI     libqnt-fake-abi.so   (abi_version 99)
 *   QNT_TEST_FAKE_ZERO    libqnt-fake-zero.so  ("fake-zero", score 0)
 *   QNT_TEST_NOT_BACKEND  libqnt-empty.so      (no qnt_backend_entry)
 *   QNT_TEST_MODULE_DIR   the directory that holds the four
 *   QNT_TEST_NOT_MODULE   a file that is not a shared object
 */
#include "test_common.h"

#include <dlfcn.h>
#include <libgen.h>
#include <stdatomic.h>

#include "libqnt_backend.h"

#define FAKE_SCORE (1 << 28) /* above any CPU variant (1 + sum of 1 << feature) */
#define FAKE_ZERO_REASON "fake-zero needs a flux capacitor"

static const char *env_path(const char *name)
{
	const char *p = getenv(name);
	if (!p || !*p)
		fail_msg("%s is not set (run through meson test)", name);
	return p;
}

/* ---- shared helpers ---- */

struct log_rec {
	int n_warn;
	char all[8192];
};

static void log_cb(void *user, int32_t level, const char *msg)
{
	struct log_rec *r = user;
	if (level == QNT_LOG_WARN)
		r->n_warn++;
	size_t used = strlen(r->all);
	snprintf(r->all + used, sizeof r->all - used, "[%d] %s\n", (int)level, msg);
}

static int find_backend(const char *name, qnt_backend_props *out)
{
	for (int32_t i = 0; i < qnt_backend_count(); i++) {
		qnt_backend_props p = QNT_BACKEND_PROPS_INIT;
		assert_int_equal(qnt_backend_get_props(i, &p), QNT_OK);
		if (strcmp(p.name, name) == 0) {
			if (out)
				*out = p;
			return (int)i;
		}
	}
	return -1;
}

static qnt_ctx *ctx_on(const char *backend, int32_t n_threads)
{
	qnt_ctx_opts o = QNT_CTX_OPTS_INIT;
	qnt_ctx *ctx = NULL;
	o.backend = backend;
	o.n_threads = n_threads;
	if (qnt_ctx_create(&o, &ctx) != QNT_OK)
		fail_msg("qnt_ctx_create(backend %s): %s", backend ? backend : "auto", qnt_ctx_last_error(NULL));
	return ctx;
}

/* The counters of an already-loaded fake module, reached by calling its
 * entry point again (it keeps no state) and asking get_proc. */
struct fake_procs {
	atomic_long *calls, *opens, *closes;
	atomic_int *fail_next;
};

static struct fake_procs fake_procs(const char *path)
{
	struct fake_procs f;
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
	if (!h)
		fail_msg("%s is not loaded: %s", path, dlerror());
	void *sym = dlsym(h, QNT_BACKEND_ENTRY_SYMBOL);
	assert_non_null(sym);
	qnt_backend_entry_fn entry;
	memcpy(&entry, &sym, sizeof entry);
	const qnt_backend_vtbl *vt = entry(QNT_BACKEND_ABI, NULL);
	assert_non_null(vt);
	assert_true(QNT_VTBL_HAS(vt, get_proc));
	assert_null(entry(QNT_BACKEND_ABI + 1, NULL)); /* it refuses other host ABIs */
	f.calls = vt->get_proc(NULL, "fake_calls");
	f.opens = vt->get_proc(NULL, "fake_opens");
	f.closes = vt->get_proc(NULL, "fake_closes");
	f.fail_next = vt->get_proc(NULL, "fake_fail_next");
	assert_non_null(f.calls);
	assert_non_null(f.opens);
	assert_non_null(f.closes);
	assert_non_null(f.fail_next);
	assert_null(vt->get_proc(NULL, "no_such_proc"));
	dlclose(h); /* drops our reference only; libqnt keeps its own */
	return f;
}

/* Quantizes and dequantizes every format on `a` and `b` (with and without
 * importance) and checks that the results are identical. */
static void same_results(qnt_ctx *a, qnt_ctx *b)
{
	const int64_t nrows = 50, n = 1024;
	float *x = test_malloc_or_fail((size_t)(nrows * n) * sizeof(float));
	float *ya = test_malloc_or_fail((size_t)(nrows * n) * sizeof(float));
	float *yb = test_malloc_or_fail((size_t)(nrows * n) * sizeof(float));
	unsigned char *qa = test_malloc_or_fail((size_t)(nrows * n) * 4);
	unsigned char *qb = test_malloc_or_fail((size_t)(nrows * n) * 4);
	float w[1024];
	fill_gauss(x, (size_t)(nrows * n), 5);
	for (int j = 0; j < 1024; j++)
		w[j] = (float)(1 + j % 7);
	for (int32_t i = 0; i < qnt_type_count(); i++) {
		const qnt_type t = qnt_type_at(i);
		qnt_type_info info = QNT_TYPE_INFO_INIT;
		assert_int_equal(qnt_type_get_info(t, &info), QNT_OK);
		if (!(info.flags & QNT_TYPE_FLAG_QUANTIZE) || !(info.flags & QNT_TYPE_FLAG_DEQUANTIZE))
			continue;
		const size_t bytes = qnt_row_size(t, n) * (size_t)nrows;
		for (int with_imp = 0; with_imp < 2; with_imp++) {
			memset(qb, 0xEE, bytes);
			assert_int_equal(qnt_quantize(a, t, x, qa, nrows, n, with_imp ? w : NULL), QNT_OK);
			assert_int_equal(qnt_quantize(b, t, x, qb, nrows, n, with_imp ? w : NULL), QNT_OK);
			assert_memory_equal(qa, qb, bytes);
		}
		memset(yb, 0xEE, (size_t)(nrows * n) * sizeof(float));
		assert_int_equal(qnt_dequantize(a, t, qa, ya, nrows, n), QNT_OK);
		assert_int_equal(qnt_dequantize(b, t, qa, yb, nrows, n), QNT_OK);
		assert_memory_equal(ya, yb, (size_t)(nrows * n) * sizeof(float));
	}
	free(x);
	free(ya);
	free(yb);
	free(qa);
	free(qb);
}

/* ======================================================================== */
/* group "load": qnt_backend_load                                            */
/* ======================================================================== */

static void load_errors(void **state)
{
	(void)state;
	const int32_t n0 = qnt_backend_count();
	assert_true(n0 >= 1); /* "cpu" at least */

	assert_int_equal(qnt_backend_load(NULL), QNT_E_INVALID_ARG);
	assert_contains(qnt_ctx_last_error(NULL), "qnt_backend_load");

	assert_int_equal(qnt_backend_load("/nonexistent/dir/libqnt-nothing.so"), QNT_E_NOT_FOUND);
	assert_contains(qnt_ctx_last_error(NULL), "/nonexistent/dir/libqnt-nothing.so");

	const char *not_module = env_path("QNT_TEST_NOT_MODULE");
	assert_int_equal(qnt_backend_load(not_module), QNT_E_BACKEND);
	assert_contains(qnt_ctx_last_error(NULL), not_module);

	const char *empty = env_path("QNT_TEST_NOT_BACKEND");
	assert_int_equal(qnt_backend_load(empty), QNT_E_BACKEND);
	assert_contains(qnt_ctx_last_error(NULL), empty);
	assert_contains(qnt_ctx_last_error(NULL), QNT_BACKEND_ENTRY_SYMBOL);

	const char *abi = env_path("QNT_TEST_FAKE_ABI");
	assert_int_equal(qnt_backend_load(abi), QNT_E_ABI_MISMATCH);
	assert_contains(qnt_ctx_last_error(NULL), abi);
	assert_contains(qnt_ctx_last_error(NULL), "99");
	assert_int_equal(find_backend("fake-abi99", NULL), -1);

	assert_int_equal(qnt_backend_count(), n0);
}

static void load_fake(void **state)
{
	(void)state;
	const char *path = env_path("QNT_TEST_FAKE");
	const int32_t n0 = qnt_backend_count();
	assert_int_equal(qnt_backend_load(path), QNT_OK);
	assert_int_equal(qnt_backend_count(), n0 + 1);

	qnt_backend_props p = QNT_BACKEND_PROPS_INIT;
	assert_int_equal(qnt_backend_get_props(n0, &p), QNT_OK);
	assert_string_equal(p.name, "fake");
	assert_string_equal(p.description, "fake backend for the libqnt tests");
	assert_non_null(p.path);
	assert_string_equal(p.path, path);
	assert_string_equal(p.reason, "");
	assert_int_equal(p.score, FAKE_SCORE);
	assert_int_equal(p.flags, QNT_BACKEND_FLAG_MODULE);
	assert_int_equal(p.device_count, -1);

	/* twice: a no-op */
	assert_int_equal(qnt_backend_load(path), QNT_OK);
	assert_int_equal(qnt_backend_count(), n0 + 1);

	/* its score beats the CPU backend's */
	assert_string_equal(qnt_backend_best(), "fake");
}

static void fake_gives_cpu_bytes(void **state)
{
	(void)state;
	struct fake_procs f = fake_procs(env_path("QNT_TEST_FAKE"));
	const long opens0 = atomic_load(f.opens), closes0 = atomic_load(f.closes);
	qnt_ctx *fake = ctx_on("fake", 3), *cpu = ctx_on("cpu", 2);
	assert_string_equal(qnt_ctx_backend_name(fake), "fake");
	assert_string_equal(qnt_ctx_backend_name(cpu), "cpu");
	assert_int_equal(atomic_load(f.opens), opens0 + 1);

	const long calls0 = atomic_load(f.calls);
	same_results(cpu, fake);
	const long calls1 = atomic_load(f.calls);
	print_message("# the fake backend ran %ld kernel calls\n", calls1 - calls0);
	/* 9 formats x (2 quantize + 1 dequantize) jobs of 50 rows, at least */
	assert_true(calls1 - calls0 >= 27);

	/* the CPU context never reaches the fake */
	float x[64] = { 0 };
	unsigned char q[2 * 34]; /* two q8_0 blocks */
	assert_int_equal(qnt_row_size(QNT_TYPE_Q8_0, 64), sizeof q);
	assert_int_equal(qnt_quantize(cpu, QNT_TYPE_Q8_0, x, q, 1, 64, NULL), QNT_OK);
	assert_int_equal(atomic_load(f.calls), calls1);
	assert_int_equal(qnt_quantize(fake, QNT_TYPE_Q8_0, x, q, 1, 64, NULL), QNT_OK);
	assert_int_equal(atomic_load(f.calls), calls1 + 1);

	qnt_ctx_destroy(fake);
	qnt_ctx_destroy(cpu);
	assert_int_equal(atomic_load(f.closes), closes0 + 1);
}

static void auto_picks_highest_score(void **state)
{
	(void)state;
	qnt_ctx *a = ctx_on(NULL, 1);
	assert_string_equal(qnt_ctx_backend_name(a), "fake");
	qnt_ctx_destroy(a);
	a = ctx_on("auto", 1);
	assert_string_equal(qnt_ctx_backend_name(a), "fake");
	qnt_ctx_destroy(a);
}

/* Status codes of a backend (<= -1000) reach the caller unchanged, with a
 * message that names the backend. */
static void backend_errors_pass_through(void **state)
{
	(void)state;
	struct fake_procs f = fake_procs(env_path("QNT_TEST_FAKE"));
	qnt_ctx *ctx = ctx_on("fake", 1);
	float x[64] = { 0 }, y[64];
	unsigned char q[64];
	atomic_store(f.fail_next, -1042);
	assert_int_equal(qnt_quantize(ctx, QNT_TYPE_Q4_0, x, q, 2, 32, NULL), -1042);
	assert_contains(qnt_ctx_last_error(ctx), "fake");
	assert_contains(qnt_ctx_last_error(ctx), "qnt_quantize");
	assert_contains(qnt_ctx_last_error(ctx), "q4_0");
	assert_int_equal(atomic_load(f.fail_next), 0);
	/* the next call succeeds again */
	assert_int_equal(qnt_quantize(ctx, QNT_TYPE_Q4_0, x, q, 2, 32, NULL), QNT_OK);
	assert_string_equal(qnt_ctx_last_error(ctx), "");
	atomic_store(f.fail_next, QNT_E_NO_MEMORY);
	assert_int_equal(qnt_dequantize(ctx, QNT_TYPE_Q4_0, q, y, 2, 32), QNT_E_NO_MEMORY);
	assert_contains(qnt_ctx_last_error(ctx), "qnt_dequantize");
	qnt_ctx_destroy(ctx);
}

/* The per-thread scratch the fake asks for comes from the context's
 * allocator and is given back on destroy. */
struct counting_alloc {
	atomic_long allocs, frees;
	atomic_ulong bytes;
};

static void *count_alloc(void *user, size_t size, size_t align)
{
	struct counting_alloc *a = user;
	void *p = NULL;
	if (posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, size ? size : 1) != 0)
		return NULL;
	atomic_fetch_add(&a->allocs, 1);
	atomic_fetch_add(&a->bytes, size);
	return p;
}

static void count_free(void *user, void *p)
{
	struct counting_alloc *a = user;
	if (p) {
		atomic_fetch_add(&a->frees, 1);
		free(p);
	}
}

static void fake_scratch_from_ctx_allocator(void **state)
{
	(void)state;
	struct counting_alloc a;
	atomic_init(&a.allocs, 0);
	atomic_init(&a.frees, 0);
	atomic_init(&a.bytes, 0);
	qnt_ctx_opts o = QNT_CTX_OPTS_INIT;
	o.backend = "fake";
	o.n_threads = 4;
	o.alloc = count_alloc;
	o.free = count_free;
	o.alloc_user = &a;
	qnt_ctx *ctx = NULL;
	assert_int_equal(qnt_ctx_create(&o, &ctx), QNT_OK);
	const long after_create = atomic_load(&a.allocs);
	const unsigned long bytes0 = atomic_load(&a.bytes);
	float *x = test_malloc_or_fail(64 * 1024 * sizeof(float));
	unsigned char *q = test_malloc_or_fail(64 * 1024 * 2);
	fill_gauss(x, 64 * 1024, 9);
	/* the fake fails with -1001 if it gets no scratch */
	assert_int_equal(qnt_quantize(ctx, QNT_TYPE_Q8_0, x, q, 64, 1024, NULL), QNT_OK);
	/* one 4096-byte scratch buffer per thread */
	assert_int_equal(atomic_load(&a.allocs), after_create + 4);
	assert_int_equal(atomic_load(&a.bytes) - bytes0, 4 * 4096);
	assert_int_equal(qnt_quantize(ctx, QNT_TYPE_Q4_0, x, q, 64, 1024, NULL), QNT_OK);
	assert_int_equal(atomic_load(&a.allocs), after_create + 4); /* reused */
	qnt_ctx_destroy(ctx);
	assert_int_equal(atomic_load(&a.frees), atomic_load(&a.allocs));
	free(x);
	free(q);
}

/* A backend that scores 0: registered and listed with its reason, but a
 * context cannot use it, and "auto" passes it over. */
static void load_zero_score(void **state)
{
	(void)state;
	const char *path = env_path("QNT_TEST_FAKE_ZERO");
	const int32_t n0 = qnt_backend_count();
	assert_int_equal(qnt_backend_load(path), QNT_OK);
	assert_int_equal(qnt_backend_count(), n0 + 1);
	qnt_backend_props p = QNT_BACKEND_PROPS_INIT;
	assert_int_equal(find_backend("fake-zero", &p), n0);
	assert_int_equal(p.score, 0);
	assert_string_equal(p.reason, FAKE_ZERO_REASON);
	assert_string_equal(p.path, path);
	assert_int_equal(p.flags, QNT_BACKEND_FLAG_MODULE);

	qnt_ctx_opts o = QNT_CTX_OPTS_INIT;
	qnt_ctx *ctx = (qnt_ctx *)(uintptr_t)1;
	o.backend = "fake-zero";
	assert_int_equal(qnt_ctx_create(&o, &ctx), QNT_E_BACKEND);
	assert_null(ctx);
	assert_contains(qnt_ctx_last_error(NULL), "fake-zero");
	assert_contains(qnt_ctx_last_error(NULL), FAKE_ZERO_REASON);
	assert_string_equal(qnt_backend_best(), "fake");
}

/* ======================================================================== */
/* group "dir": qnt_backend_load_dir                                         */
/* ======================================================================== */

static void load_dir_errors(void **state)
{
	(void)state;
	const int32_t n0 = qnt_backend_count();
	assert_int_equal(qnt_backend_load_dir(NULL), QNT_E_INVALID_ARG);
	assert_contains(qnt_ctx_last_error(NULL), "qnt_backend_load_dir");
	assert_int_equal(qnt_backend_load_dir("/nonexistent/qnt-modules"), QNT_E_NOT_FOUND);
	assert_contains(qnt_ctx_last_error(NULL), "/nonexistent/qnt-modules");
	assert_int_equal(qnt_backend_load_dir(env_path("QNT_TEST_NOT_MODULE")), QNT_E_NOT_FOUND);
	/* a directory without modules: nothing to do */
	char src[4096];
	snprintf(src, sizeof src, "%s", env_path("QNT_TEST_NOT_MODULE"));
	assert_int_equal(qnt_backend_load_dir(dirname(src)), QNT_OK);
	assert_int_equal(qnt_backend_count(), n0);
}

static void load_dir(void **state)
{
	(void)state;
	const char *dir = env_path("QNT_TEST_MODULE_DIR");
	struct log_rec rec;
	memset(&rec, 0, sizeof rec);
	const int32_t n0 = qnt_backend_count();

	qnt_set_log_fn(log_cb, &rec, QNT_LOG_WARN);
	assert_int_equal(qnt_backend_load_dir(dir), QNT_OK);
	qnt_set_log_fn(NULL, NULL, QNT_LOG_WARN);

	/* fake and fake-zero are registered, in file-name order
	 * (libqnt-fake-zero.so sorts before libqnt-fake.so) */
	assert_int_equal(qnt_backend_count(), n0 + 2);
	qnt_backend_props p = QNT_BACKEND_PROPS_INIT;
	assert_int_equal(qnt_backend_get_props(n0, &p), QNT_OK);
	assert_string_equal(p.name, "fake-zero");
	assert_contains(p.path, dir);
	assert_int_equal(qnt_backend_get_props(n0 + 1, &p), QNT_OK);
	assert_string_equal(p.name, "fake");
	assert_contains(p.path, dir);
	assert_contains(p.path, "libqnt-fake.so");
	assert_int_equal(find_backend("fake-abi99", NULL), -1);

	/* the two misfits are skipped with a warning each */
	assert_int_equal(rec.n_warn, 2);
	assert_contains(rec.all, "libqnt-fake-abi.so");
	assert_contains(rec.all, "libqnt-empty.so");

	/* again: no change */
	assert_int_equal(qnt_backend_load_dir(dir), QNT_OK);
	assert_int_equal(qnt_backend_count(), n0 + 2);
	assert_string_equal(qnt_backend_best(), "fake");

	qnt_ctx *fake = ctx_on(NULL, 2), *cpu = ctx_on("cpu", 1);
	assert_string_equal(qnt_ctx_backend_name(fake), "fake");
	same_results(cpu, fake);
	qnt_ctx_destroy(fake);
	qnt_ctx_destroy(cpu);
}

/* ======================================================================== */
/* group "static": qnt_backend_register from the application                 */
/* ======================================================================== */

static atomic_long mock_kernel_calls, mock_whole_jobs;
static atomic_llong mock_rows_seen;

/* 0: mock_score takes its reason and score from will_return(); otherwise it
 * returns this value (for calls a test does not want to predict). */
static int32_t mock_score_fixed;

static int32_t mock_score(const qnt_host_api *host, char *why, size_t why_size)
{
	if (mock_score_fixed)
		return mock_score_fixed;
	assert_non_null(host);
	assert_int_equal(host->abi_version, QNT_BACKEND_ABI);
	assert_true(host->struct_size >= sizeof(qnt_host_api));
	assert_int_equal(host->cpu_features, qnt_cpu_features());
	const char *reason = mock_ptr_type(const char *);
	if (reason)
		snprintf(why, why_size, "%s", reason);
	return (int32_t)mock();
}

static int32_t score_one(const qnt_host_api *host, char *why, size_t why_size)
{
	(void)host;
	(void)why;
	(void)why_size;
	return 1;
}

static qnt_status mock_open(const qnt_host_api *host, int32_t device, void **state)
{
	if (device != 0)
		return QNT_E_NOT_FOUND;
	*state = (void *)(uintptr_t)host;
	return QNT_OK;
}

static qnt_status open_fails(const qnt_host_api *host, int32_t device, void **state)
{
	(void)host;
	(void)device;
	(void)state;
	return QNT_E_NO_MEMORY;
}

static void mock_close(void *state)
{
	(void)state;
}

static int32_t supports_all(void *state, qnt_type type, uint32_t op)
{
	(void)state;
	(void)type;
	return op == QNT_OP_QUANTIZE || op == QNT_OP_DEQUANTIZE;
}

static int32_t supports_none(void *state, qnt_type type, uint32_t op)
{
	(void)state;
	(void)type;
	(void)op;
	return 0;
}

static qnt_status kernel_must_not_run(void *state, const qnt_kernel_job *job)
{
	(void)state;
	(void)job;
	atomic_fetch_add(&mock_kernel_calls, 1);
	return QNT_E_BACKEND;
}

static qnt_status kernel_fails(void *state, const qnt_kernel_job *job)
{
	(void)state;
	(void)job;
	return (qnt_status)-1042;
}

/* Without QNT_BACKEND_CAP_HOST_THREADS: one call with the whole tensor. */
static qnt_status whole_quantize(void *state, const qnt_kernel_job *job)
{
	const qnt_host_api *host = state;
	atomic_fetch_add(&mock_whole_jobs, 1);
	if (job->row_begin != 0 || job->row_end != job->nrows)
		return QNT_E_INVALID_ARG;
	atomic_fetch_add(&mock_rows_seen, job->row_end - job->row_begin);
	return host->quantize_ref(job->type, job->src.host, job->dst.host, job->nrows, job->n_per_row,
				  job->importance);
}

static qnt_status whole_dequantize(void *state, const qnt_kernel_job *job)
{
	const qnt_host_api *host = state;
	atomic_fetch_add(&mock_whole_jobs, 1);
	if (job->row_begin != 0 || job->row_end != job->nrows)
		return QNT_E_INVALID_ARG;
	return host->dequantize_ref(job->type, job->src.host, job->dst.host, job->nrows, job->n_per_row);
}

#define MOCK_VTBL(NAME, SCORE, OPEN, SUPPORTS, QUANT, DEQUANT, CAPS)                  \
	{                                                                            \
		.struct_size = sizeof(qnt_backend_vtbl), .abi_version = QNT_BACKEND_ABI, \
		.name = NAME, .description = "test vtable " NAME, .caps = CAPS,          \
		.score = SCORE, .open = OPEN, .close = mock_close, .supports = SUPPORTS, \
		.quantize = QUANT, .dequantize = DEQUANT,                                \
	}

static const qnt_backend_vtbl vt_a = MOCK_VTBL("mock-a", mock_score, mock_open, supports_none, kernel_must_not_run,
					       kernel_must_not_run, QNT_BACKEND_CAP_HOST_THREADS);
static const qnt_backend_vtbl vt_b = MOCK_VTBL("mock-b", mock_score, mock_open, supports_none, kernel_must_not_run,
					       kernel_must_not_run, QNT_BACKEND_CAP_HOST_THREADS);
static const qnt_backend_vtbl vt_c = MOCK_VTBL("mock-c", mock_score, mock_open, supports_none, kernel_must_not_run,
					       kernel_must_not_run, QNT_BACKEND_CAP_HOST_THREADS);
static const qnt_backend_vtbl vt_zero = MOCK_VTBL("mock-zero", mock_score, mock_open, supports_all,
						  kernel_must_not_run, kernel_must_not_run, 0);
static const qnt_backend_vtbl vt_neg = MOCK_VTBL("mock-negative", mock_score, mock_open, supports_all,
						 kernel_must_not_run, kernel_must_not_run, 0);
static const qnt_backend_vtbl vt_whole = MOCK_VTBL("mock-whole", score_one, mock_open, supports_all,
						   whole_quantize, whole_dequantize, 0);
static const qnt_backend_vtbl vt_openfail = MOCK_VTBL("mock-openfail", score_one, open_fails, supports_all,
						      kernel_must_not_run, kernel_must_not_run, 0);
static const qnt_backend_vtbl vt_fails = MOCK_VTBL("mock-fails", score_one, mock_open, supports_all,
						   kernel_fails, kernel_fails, QNT_BACKEND_CAP_HOST_THREADS);

static void register_errors(void **state)
{
	(void)state;
	const int32_t n0 = qnt_backend_count();
	qnt_backend_vtbl v;

	assert_int_equal(qnt_backend_register(NULL), QNT_E_INVALID_ARG);
	assert_contains(qnt_ctx_last_error(NULL), "qnt_backend_register");

	const uint32_t bad_abi[] = { 0, QNT_BACKEND_ABI + 1, 99, UINT32_MAX };
	for (size_t i = 0; i < N_ELEMS(bad_abi); i++) {
		v = (qnt_backend_vtbl)MOCK_VTBL("mock-badabi", score_one, mock_open, supports_all, NULL, NULL, 0);
		v.abi_version = bad_abi[i];
		assert_int_equal(qnt_backend_register(&v), QNT_E_ABI_MISMATCH);
		assert_contains(qnt_ctx_last_error(NULL), "ABI");
	}
	const uint32_t bad_size[] = { 0, 8, (uint32_t)offsetof(qnt_backend_vtbl, get_proc),
				      (uint32_t)QNT_BACKEND_VTBL_MIN_SIZE - 1 };
	for (size_t i = 0; i < N_ELEMS(bad_size); i++) {
		v = (qnt_backend_vtbl)MOCK_VTBL("mock-small", score_one, mock_open, supports_all, NULL, NULL, 0);
		v.struct_size = bad_size[i];
		assert_int_equal(qnt_backend_register(&v), QNT_E_ABI_MISMATCH);
	}

	/* required members */
	v = (qnt_backend_vtbl)MOCK_VTBL("mock-incomplete", score_one, mock_open, supports_all, NULL, NULL, 0);
	v.name = NULL;
	assert_int_equal(qnt_backend_register(&v), QNT_E_INVALID_ARG);
	v.name = "";
	assert_int_equal(qnt_backend_register(&v), QNT_E_INVALID_ARG);
	v.name = "mock-name-that-is-much-too-long-for-the-registry-0123456789abcdef";
	assert_true(strlen(v.name) > 64);
	assert_int_equal(qnt_backend_register(&v), QNT_E_INVALID_ARG);
	v.name = "mock-incomplete";
	v.score = NULL;
	assert_int_equal(qnt_backend_register(&v), QNT_E_INVALID_ARG);
	v.score = score_one;
	v.open = NULL;
	assert_int_equal(qnt_backend_register(&v), QNT_E_INVALID_ARG);
	v.open = mock_open;
	v.close = NULL;
	assert_int_equal(qnt_backend_register(&v), QNT_E_INVALID_ARG);
	v.close = mock_close;
	v.supports = NULL;
	assert_int_equal(qnt_backend_register(&v), QNT_E_INVALID_ARG);

	assert_int_equal(qnt_backend_count(), n0);
}

/* The 1.0 size is enough; a larger vtable from a newer backend is fine. */
static void register_sizes(void **state)
{
	(void)state;
	static qnt_backend_vtbl v_min =
		MOCK_VTBL("mock-minsize", score_one, mock_open, supports_none, NULL, NULL, 0);
	static struct {
		qnt_backend_vtbl v;
		void (*newer[2])(void);
	} v_big = { MOCK_VTBL("mock-bigger", score_one, mock_open, supports_none, NULL, NULL, 0), { NULL, NULL } };
	const int32_t n0 = qnt_backend_count();
	v_min.struct_size = (uint32_t)QNT_BACKEND_VTBL_MIN_SIZE;
	assert_int_equal(qnt_backend_register(&v_min), QNT_OK);
	v_big.v.struct_size = (uint32_t)sizeof v_big;
	assert_int_equal(qnt_backend_register(&v_big.v), QNT_OK);
	assert_int_equal(qnt_backend_count(), n0 + 2);
	/* both work: supports nothing, so the reference runs */
	qnt_ctx *a = ctx_on("mock-minsize", 1), *b = ctx_on("mock-bigger", 1), *cpu = ctx_on("cpu", 1);
	same_results(cpu, a);
	same_results(cpu, b);
	qnt_ctx_destroy(a);
	qnt_ctx_destroy(b);
	qnt_ctx_destroy(cpu);
}

static void highest_score_wins(void **state)
{
	(void)state;
	assert_string_not_equal(qnt_backend_best(), "mock-a");
	will_return(mock_score, NULL);
	will_return(mock_score, 1 << 30);
	assert_int_equal(qnt_backend_register(&vt_a), QNT_OK);
	assert_string_equal(qnt_backend_best(), "mock-a");
	qnt_ctx *ctx = ctx_on(NULL, 1);
	assert_string_equal(qnt_ctx_backend_name(ctx), "mock-a");
	qnt_ctx_destroy(ctx);

	/* a tie: the backend registered first stays */
	will_return(mock_score, NULL);
	will_return(mock_score, 1 << 30);
	assert_int_equal(qnt_backend_register(&vt_b), QNT_OK);
	assert_string_equal(qnt_backend_best(), "mock-a");

	/* a higher score registered later wins */
	will_return(mock_score, NULL);
	will_return(mock_score, (1 << 30) + 1);
	assert_int_equal(qnt_backend_register(&vt_c), QNT_OK);
	assert_string_equal(qnt_backend_best(), "mock-c");
	ctx = ctx_on("auto", 1);
	assert_string_equal(qnt_ctx_backend_name(ctx), "mock-c");
	qnt_ctx_destroy(ctx);

	/* by name, a lower-scored one is still available */
	ctx = ctx_on("mock-b", 1);
	assert_string_equal(qnt_ctx_backend_name(ctx), "mock-b");
	qnt_ctx_destroy(ctx);
}

static void register_same_name_is_noop(void **state)
{
	(void)state;
	const int32_t n0 = qnt_backend_count();
	qnt_backend_props before = QNT_BACKEND_PROPS_INIT, after = QNT_BACKEND_PROPS_INIT;
	const int idx = find_backend("mock-a", &before);
	assert_true(idx >= 0);
	/* score may or may not be asked again; the entry must not change */
	mock_score_fixed = 5;
	assert_int_equal(qnt_backend_register(&vt_a), QNT_OK);
	mock_score_fixed = 0;
	/* another vtable with a taken name */
	static const qnt_backend_vtbl dup = MOCK_VTBL("mock-a", score_one, mock_open, supports_none, NULL, NULL, 0);
	assert_int_equal(qnt_backend_register(&dup), QNT_OK);
	static const qnt_backend_vtbl dup_cpu = MOCK_VTBL("cpu", score_one, mock_open, supports_none, NULL, NULL, 0);
	assert_int_equal(qnt_backend_register(&dup_cpu), QNT_OK);
	assert_int_equal(qnt_backend_count(), n0);
	assert_int_equal(qnt_backend_get_props(idx, &after), QNT_OK);
	assert_int_equal(after.score, before.score);
	assert_ptr_equal(after.description, before.description);
	assert_string_equal(after.description, "test vtable mock-a");
	qnt_backend_props cpu = QNT_BACKEND_PROPS_INIT;
	assert_int_equal(find_backend("cpu", &cpu), 0); /* registered first, at start-up */
	assert_int_equal(cpu.flags, QNT_BACKEND_FLAG_BUILTIN | QNT_BACKEND_FLAG_REFERENCE);
}

static void zero_and_negative_scores(void **state)
{
	(void)state;
	will_return(mock_score, "mock-zero: no such device here");
	will_return(mock_score, 0);
	assert_int_equal(qnt_backend_register(&vt_zero), QNT_OK);
	will_return(mock_score, NULL);
	will_return(mock_score, -5);
	assert_int_equal(qnt_backend_register(&vt_neg), QNT_OK);

	qnt_backend_props p = QNT_BACKEND_PROPS_INIT;
	assert_true(find_backend("mock-zero", &p) > 0);
	assert_int_equal(p.score, 0);
	assert_string_equal(p.reason, "mock-zero: no such device here");
	assert_null(p.path);
	assert_int_equal(p.flags, 0);
	assert_true(find_backend("mock-negative", &p) > 0);
	assert_int_equal(p.score, 0); /* clamped */
	assert_true(strlen(p.reason) > 0); /* a reason even when the backend gave none */

	qnt_ctx_opts o = QNT_CTX_OPTS_INIT;
	qnt_ctx *ctx = NULL;
	o.backend = "mock-zero";
	assert_int_equal(qnt_ctx_create(&o, &ctx), QNT_E_BACKEND);
	assert_contains(qnt_ctx_last_error(NULL), "mock-zero: no such device here");
	o.backend = "mock-negative";
	assert_int_equal(qnt_ctx_create(&o, &ctx), QNT_E_BACKEND);
	assert_contains(qnt_ctx_last_error(NULL), "mock-negative");
	/* never chosen automatically */
	assert_string_not_equal(qnt_backend_best(), "mock-zero");
	assert_string_not_equal(qnt_backend_best(), "mock-negative");
}

/* What supports() rejects runs on the scalar reference. */
static void unsupported_falls_back_to_reference(void **state)
{
	(void)state;
	atomic_store(&mock_kernel_calls, 0);
	qnt_ctx *mock = ctx_on("mock-b", 3), *cpu = ctx_on("cpu", 1);
	same_results(cpu, mock);
	assert_int_equal(atomic_load(&mock_kernel_calls), 0);
	qnt_ctx_destroy(mock);
	qnt_ctx_destroy(cpu);
}

/* A backend without host threads gets one job with the whole tensor. */
static void whole_tensor_jobs(void **state)
{
	(void)state;
	assert_int_equal(qnt_backend_register(&vt_whole), QNT_OK);
	qnt_ctx *mock = ctx_on("mock-whole", 4), *cpu = ctx_on("cpu", 1);
	const int64_t nrows = 300, n = 4096;
	float *x = test_malloc_or_fail((size_t)(nrows * n) * sizeof(float));
	unsigned char *a = test_malloc_or_fail((size_t)(nrows * n));
	unsigned char *b = test_malloc_or_fail((size_t)(nrows * n));
	fill_gauss(x, (size_t)(nrows * n), 77);
	atomic_store(&mock_whole_jobs, 0);
	atomic_store(&mock_rows_seen, 0);
	assert_int_equal(qnt_quantize(mock, QNT_TYPE_Q4_0, x, a, nrows, n, NULL), QNT_OK);
	assert_int_equal(atomic_load(&mock_whole_jobs), 1);
	assert_int_equal(atomic_load(&mock_rows_seen), nrows);
	assert_int_equal(qnt_quantize(cpu, QNT_TYPE_Q4_0, x, b, nrows, n, NULL), QNT_OK);
	assert_memory_equal(a, b, qnt_row_size(QNT_TYPE_Q4_0, n) * (size_t)nrows);
	same_results(cpu, mock);
	qnt_ctx_destroy(mock);
	qnt_ctx_destroy(cpu);
	free(x);
	free(a);
	free(b);
}

static void open_failure(void **state)
{
	(void)state;
	assert_int_equal(qnt_backend_register(&vt_openfail), QNT_OK);
	qnt_ctx_opts o = QNT_CTX_OPTS_INIT;
	qnt_ctx *ctx = NULL;
	o.backend = "mock-openfail";
	assert_int_equal(qnt_ctx_create(&o, &ctx), QNT_E_BACKEND);
	assert_null(ctx);
	assert_contains(qnt_ctx_last_error(NULL), "mock-openfail");
	assert_contains(qnt_ctx_last_error(NULL), qnt_status_str(QNT_E_NO_MEMORY));
}

static void kernel_failure(void **state)
{
	(void)state;
	assert_int_equal(qnt_backend_register(&vt_fails), QNT_OK);
	qnt_ctx *ctx = ctx_on("mock-fails", 2);
	float x[4 * 64] = { 0 };
	unsigned char q[4 * 64];
	assert_int_equal(qnt_quantize(ctx, QNT_TYPE_Q8_0, x, q, 4, 64, NULL), -1042);
	assert_contains(qnt_ctx_last_error(ctx), "mock-fails");
	assert_contains(qnt_ctx_last_error(ctx), qnt_status_str(-1042));
	assert_int_equal(qnt_dequantize(ctx, QNT_TYPE_Q8_0, q, x, 4, 64), -1042);
	qnt_ctx_destroy(ctx);
}

/* ======================================================================== */
/* group "props"                                                             */
/* ======================================================================== */

static void props_cpu(void **state)
{
	(void)state;
	assert_true(qnt_backend_count() >= 1);
	qnt_backend_props p = QNT_BACKEND_PROPS_INIT;
	assert_int_equal(qnt_backend_get_props(0, &p), QNT_OK); /* registered first */
	assert_int_equal(p.struct_size, sizeof p);
	assert_string_equal(p.name, "cpu");
	assert_true(strlen(p.description) > 0);
	assert_null(p.path);
	assert_string_equal(p.reason, "");
	assert_int_equal(p.score, 1);
	assert_int_equal(p.flags, QNT_BACKEND_FLAG_BUILTIN | QNT_BACKEND_FLAG_REFERENCE);
	assert_int_equal(p.device_count, -1);
	/* "auto" takes the highest score */
	int32_t best = 0;
	for (int32_t i = 0; i < qnt_backend_count(); i++) {
		qnt_backend_props q = QNT_BACKEND_PROPS_INIT;
		assert_int_equal(qnt_backend_get_props(i, &q), QNT_OK);
		best = q.score > best ? q.score : best;
	}
	qnt_backend_props b = QNT_BACKEND_PROPS_INIT;
	assert_true(find_backend(qnt_backend_best(), &b) >= 0);
	assert_int_equal(b.score, best);
}

static void props_errors(void **state)
{
	(void)state;
	qnt_backend_props p = QNT_BACKEND_PROPS_INIT;
	assert_int_equal(qnt_backend_get_props(-1, &p), QNT_E_NOT_FOUND);
	assert_contains(qnt_ctx_last_error(NULL), "-1");
	assert_int_equal(qnt_backend_get_props(qnt_backend_count(), &p), QNT_E_NOT_FOUND);
	assert_int_equal(qnt_backend_get_props(INT32_MAX, &p), QNT_E_NOT_FOUND);
	assert_int_equal(qnt_backend_get_props(0, NULL), QNT_E_INVALID_ARG);
	memset(&p, 0xA5, sizeof p);
	p.struct_size = 8;
	assert_int_equal(qnt_backend_get_props(0, &p), QNT_E_INVALID_ARG);
	const unsigned char *b = (const unsigned char *)&p;
	for (size_t k = sizeof p.struct_size; k < sizeof p; k++)
		assert_int_equal(b[k], 0xA5); /* untouched */
}

static void props_larger_struct(void **state)
{
	(void)state;
	struct {
		qnt_backend_props p;
		uint64_t newer[2];
	} big;
	memset(&big, 0x5A, sizeof big);
	big.p.struct_size = sizeof big;
	assert_int_equal(qnt_backend_get_props(0, &big.p), QNT_OK);
	assert_int_equal(big.p.struct_size, sizeof big);
	assert_string_equal(big.p.name, "cpu");
	const unsigned char *b = (const unsigned char *)big.newer;
	for (size_t k = 0; k < sizeof big.newer; k++)
		assert_int_equal(b[k], 0x5A);
}

/* The strings stay valid (same pointers, same text) while the registry
 * grows well past its first allocation, and contexts come and go. */
static void props_strings_stay_valid(void **state)
{
	(void)state;
	const int32_t builtin = qnt_backend_count();
	assert_int_equal(qnt_backend_load(env_path("QNT_TEST_FAKE")), QNT_OK);
	assert_int_equal(qnt_backend_load(env_path("QNT_TEST_FAKE_ZERO")), QNT_OK);
	const int32_t n0 = qnt_backend_count();
	assert_int_equal(n0, builtin + 2);
	assert_true(n0 <= 8);
	qnt_backend_props saved[8];
	char copies[8][4][256];
	for (int32_t i = 0; i < n0; i++) {
		saved[i] = (qnt_backend_props)QNT_BACKEND_PROPS_INIT;
		assert_int_equal(qnt_backend_get_props(i, &saved[i]), QNT_OK);
		snprintf(copies[i][0], 256, "%s", saved[i].name);
		snprintf(copies[i][1], 256, "%s", saved[i].description);
		snprintf(copies[i][2], 256, "%s", saved[i].path ? saved[i].path : "(null)");
		snprintf(copies[i][3], 256, "%s", saved[i].reason);
	}
	assert_string_equal(copies[n0 - 1][3], FAKE_ZERO_REASON);

	static char names[40][16];
	static qnt_backend_vtbl many[40];
	for (int i = 0; i < 40; i++) {
		snprintf(names[i], sizeof names[i], "mock-%02d", i);
		many[i] = (qnt_backend_vtbl)MOCK_VTBL("", score_one, mock_open, supports_none, NULL, NULL, 0);
		many[i].name = names[i];
		assert_int_equal(qnt_backend_register(&many[i]), QNT_OK);
		qnt_ctx *ctx = ctx_on(names[i], 1);
		qnt_ctx_destroy(ctx);
	}
	assert_int_equal(qnt_backend_count(), n0 + 40);
	for (int32_t i = 0; i < n0; i++) {
		assert_string_equal(saved[i].name, copies[i][0]);
		assert_string_equal(saved[i].description, copies[i][1]);
		assert_string_equal(saved[i].path ? saved[i].path : "(null)", copies[i][2]);
		assert_string_equal(saved[i].reason, copies[i][3]);
		qnt_backend_props now = QNT_BACKEND_PROPS_INIT;
		assert_int_equal(qnt_backend_get_props(i, &now), QNT_OK);
		assert_ptr_equal(now.name, saved[i].name);
		assert_ptr_equal(now.reason, saved[i].reason);
		assert_ptr_equal(now.path, saved[i].path);
	}
	/* and the order is registration order */
	qnt_backend_props p = QNT_BACKEND_PROPS_INIT;
	assert_int_equal(qnt_backend_get_props(n0 + 39, &p), QNT_OK);
	assert_string_equal(p.name, "mock-39");
}

/* ======================================================================== */
/* groups "env-path", "env-backend-zero": the environment at start-up        */
/* ======================================================================== */

static struct log_rec init_log;

static void env_path_loads_modules(void **state)
{
	(void)state;
	const char *dir = env_path("QNT_TEST_MODULE_DIR");
	/* the first call runs qnt_init, which reads QNT_BACKEND_PATH: the two
	 * modules of the directory that load are registered, nothing else */
	int modules = 0;
	for (int32_t i = 0; i < qnt_backend_count(); i++) {
		qnt_backend_props q = QNT_BACKEND_PROPS_INIT;
		assert_int_equal(qnt_backend_get_props(i, &q), QNT_OK);
		modules += (q.flags & QNT_BACKEND_FLAG_MODULE) != 0;
	}
	assert_int_equal(modules, 2);
	qnt_set_log_fn(NULL, NULL, QNT_LOG_WARN);
	assert_true(find_backend("fake", NULL) > 0);
	assert_true(find_backend("fake-zero", NULL) > 0);
	qnt_backend_props p = QNT_BACKEND_PROPS_INIT;
	find_backend("fake", &p);
	assert_contains(p.path, dir);
	/* the skipped ones are reported */
	assert_int_equal(init_log.n_warn, 2);
	assert_contains(init_log.all, "libqnt-fake-abi.so");
	assert_contains(init_log.all, "libqnt-empty.so");

	/* the default context takes the best one */
	struct fake_procs f = fake_procs(env_path("QNT_TEST_FAKE"));
	assert_string_equal(qnt_ctx_backend_name(NULL), "fake");
	const long calls0 = atomic_load(f.calls);
	float x[128];
	unsigned char q[4 * 34];
	fill_gauss(x, 128, 3);
	assert_int_equal(qnt_quantize(NULL, QNT_TYPE_Q8_0, x, q, 4, 32, NULL), QNT_OK);
	assert_true(atomic_load(f.calls) > calls0);
}

static void env_backend_zero(void **state)
{
	(void)state;
	float x[32] = { 0 };
	unsigned char q[34];
	assert_int_equal(qnt_quantize(NULL, QNT_TYPE_Q8_0, x, q, 1, 32, NULL), QNT_E_BACKEND);
	assert_contains(qnt_ctx_last_error(NULL), "fake-zero");
	assert_contains(qnt_ctx_last_error(NULL), FAKE_ZERO_REASON);
	assert_string_equal(qnt_ctx_backend_name(NULL), "");
	/* the module itself is registered */
	qnt_backend_props p = QNT_BACKEND_PROPS_INIT;
	assert_true(find_backend("fake-zero", &p) >= 1);
	assert_int_equal(p.flags, QNT_BACKEND_FLAG_MODULE);
	assert_int_equal(p.score, 0);
}

int main(int argc, char **argv)
{
	const char *group = argc > 1 ? argv[1] : "";
	int rc;
	if (strcmp(group, "load") == 0) {
		const struct CMUnitTest tests[] = {
			cmocka_unit_test(load_errors),
			cmocka_unit_test(load_fake),
			cmocka_unit_test(fake_gives_cpu_bytes),
			cmocka_unit_test(auto_picks_highest_score),
			cmocka_unit_test(backend_errors_pass_through),
			cmocka_unit_test(fake_scratch_from_ctx_allocator),
			cmocka_unit_test(load_zero_score),
		};
		rc = cmocka_run_group_tests_name("registry-load", tests, NULL, NULL);
	} else if (strcmp(group, "dir") == 0) {
		const struct CMUnitTest tests[] = {
			cmocka_unit_test(load_dir_errors),
			cmocka_unit_test(load_dir),
		};
		rc = cmocka_run_group_tests_name("registry-dir", tests, NULL, NULL);
	} else if (strcmp(group, "static") == 0) {
		const struct CMUnitTest tests[] = {
			cmocka_unit_test(register_errors),
			cmocka_unit_test(register_sizes),
			cmocka_unit_test(highest_score_wins),
			cmocka_unit_test(register_same_name_is_noop),
			cmocka_unit_test(zero_and_negative_scores),
			cmocka_unit_test(unsupported_falls_back_to_reference),
			cmocka_unit_test(whole_tensor_jobs),
			cmocka_unit_test(open_failure),
			cmocka_unit_test(kernel_failure),
		};
		rc = cmocka_run_group_tests_name("registry-static", tests, NULL, NULL);
	} else if (strcmp(group, "props") == 0) {
		const struct CMUnitTest tests[] = {
			cmocka_unit_test(props_cpu),
			cmocka_unit_test(props_errors),
			cmocka_unit_test(props_larger_struct),
			cmocka_unit_test(props_strings_stay_valid),
		};
		rc = cmocka_run_group_tests_name("registry-props", tests, NULL, NULL);
	} else if (strcmp(group, "env-path") == 0) {
		/* before anything initialises libqnt: catch the start-up warnings */
		qnt_set_log_fn(log_cb, &init_log, QNT_LOG_WARN);
		const struct CMUnitTest tests[] = { cmocka_unit_test(env_path_loads_modules) };
		rc = cmocka_run_group_tests_name("registry-env-path", tests, NULL, NULL);
	} else if (strcmp(group, "env-backend-zero") == 0) {
		const struct CMUnitTest tests[] = { cmocka_unit_test(env_backend_zero) };
		rc = cmocka_run_group_tests_name("registry-env-backend-zero", tests, NULL, NULL);
	} else {
		fprintf(stderr, "usage: test_registry load|dir|static|props|env-path|env-backend-zero\n");
		return 2;
	}
	qnt_shutdown();
	return rc;
}
