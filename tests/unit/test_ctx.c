/* SPDX-License-Identifier: MIT */
/*
 * Contexts: options (versioned struct), creation errors, allocator, logging,
 * last error, userdata, and the default context's environment.
 *
 * Usage: test_ctx [GROUP]. Without an argument the context tests run; the
 * env-* groups check the default context under the environment that
 * tests/unit/meson.build sets for them (QNT_NUM_THREADS, QNT_BACKEND), which
 * the library reads when the default context is first created, hence one
 * process per setting.
 */
#include "test_common.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "libqnt.h"

/* A small valid quantize call on `ctx` (NULL: default context). */
static qnt_status quantize_small(qnt_ctx *ctx, unsigned char *out /* 2 * 18 bytes */)
{
	float x[64];
	fill_gauss(x, 64, 7);
	return qnt_quantize(ctx, QNT_TYPE_Q4_0, x, out, 2, 32, NULL);
}

/* ---- options ---- */

static void opts_init_matches_macro(void **state)
{
	(void)state;
	const qnt_ctx_opts m = QNT_CTX_OPTS_INIT;
	qnt_ctx_opts o;
	memset(&o, 0xCC, sizeof o);
	assert_int_equal(qnt_ctx_opts_init(&o, sizeof o), QNT_OK);
	assert_int_equal(o.struct_size, sizeof(qnt_ctx_opts));
	assert_int_equal(o.n_threads, 0);
	assert_null(o.backend);
	assert_null(o.alloc);
	assert_null(o.free);
	assert_null(o.alloc_user);
	assert_null(o.log);
	assert_null(o.log_user);
	assert_int_equal(o.log_level, QNT_LOG_WARN);
	assert_int_equal(o.device, 0);
	assert_int_equal(o.flags, 0);
	assert_int_equal(o.reserved, 0);
	/* no padding in the struct, so the bytes must match too */
	assert_memory_equal(&o, &m, sizeof o);
}

static void opts_init_errors(void **state)
{
	(void)state;
	qnt_ctx_opts o;
	assert_int_equal(qnt_ctx_opts_init(NULL, sizeof o), QNT_E_INVALID_ARG);
	assert_contains(qnt_ctx_last_error(NULL), "qnt_ctx_opts_init");
	memset(&o, 0xCC, sizeof o);
	assert_int_equal(qnt_ctx_opts_init(&o, sizeof o - 1), QNT_E_INVALID_ARG);
	assert_int_equal(qnt_ctx_opts_init(&o, 0), QNT_E_INVALID_ARG);
	/* nothing written on failure */
	const unsigned char *p = (const unsigned char *)&o;
	for (size_t i = 0; i < sizeof o; i++)
		assert_int_equal(p[i], 0xCC);
}

/* A caller with a newer, larger struct: the tail is zeroed and struct_size
 * records the caller's size; such a struct is accepted by qnt_ctx_create. */
static void opts_init_larger(void **state)
{
	(void)state;
	struct {
		qnt_ctx_opts o;
		uint64_t newer[3];
	} big;
	memset(&big, 0xCC, sizeof big);
	assert_int_equal(qnt_ctx_opts_init(&big.o, sizeof big), QNT_OK);
	assert_int_equal(big.o.struct_size, sizeof big);
	assert_int_equal(big.o.log_level, QNT_LOG_WARN);
	for (size_t i = 0; i < N_ELEMS(big.newer); i++)
		assert_int_equal(big.newer[i], 0);
	qnt_ctx *ctx = NULL;
	big.o.n_threads = 2;
	assert_int_equal(qnt_ctx_create(&big.o, &ctx), QNT_OK);
	assert_int_equal(qnt_ctx_n_threads(ctx), 2);
	qnt_ctx_destroy(ctx);
}

static void create_null_opts(void **state)
{
	(void)state;
	qnt_ctx *ctx = NULL;
	assert_int_equal(qnt_ctx_create(NULL, &ctx), QNT_OK);
	assert_non_null(ctx);
	assert_string_equal(qnt_ctx_backend_name(ctx), qnt_backend_best());
	/* 0 threads means one per available CPU */
	cpu_set_t set;
	CPU_ZERO(&set);
	assert_int_equal(sched_getaffinity(0, sizeof set, &set), 0);
	const int32_t n = qnt_ctx_n_threads(ctx);
	assert_true(n >= 1);
	assert_true(n <= CPU_COUNT(&set));
	assert_string_equal(qnt_ctx_last_error(ctx), "");
	assert_null(qnt_ctx_get_userdata(ctx));
	qnt_ctx_destroy(ctx);
}

static void create_out_null(void **state)
{
	(void)state;
	assert_int_equal(qnt_ctx_create(NULL, NULL), QNT_E_INVALID_ARG);
	assert_contains(qnt_ctx_last_error(NULL), "out");
}

/* Creates with `o`, expects `want`, and checks that *out was cleared. */
static void expect_create(const qnt_ctx_opts *o, qnt_status want)
{
	qnt_ctx *ctx = (qnt_ctx *)(uintptr_t)0x1;
	qnt_status st = qnt_ctx_create(o, &ctx);
	if (st != want)
		fail_msg("qnt_ctx_create returned %s, expected %s (%s)", qnt_status_name(st), qnt_status_name(want),
			 qnt_ctx_last_error(NULL));
	if (want != QNT_OK) {
		assert_null(ctx);
		assert_true(strlen(qnt_ctx_last_error(NULL)) > 0);
	} else {
		assert_non_null(ctx);
		qnt_ctx_destroy(ctx);
	}
}

static void create_struct_too_small(void **state)
{
	(void)state;
	qnt_ctx_opts o = QNT_CTX_OPTS_INIT;
	o.struct_size = sizeof o - 4;
	expect_create(&o, QNT_E_INVALID_ARG);
	assert_contains(qnt_ctx_last_error(NULL), "struct_size");
	o.struct_size = 0;
	expect_create(&o, QNT_E_INVALID_ARG);
	o.struct_size = offsetof(qnt_ctx_opts, backend);
	expect_create(&o, QNT_E_INVALID_ARG);
}

static void create_struct_larger(void **state)
{
	(void)state;
	struct {
		qnt_ctx_opts o;
		unsigned char tail[40];
	} big;
	memset(&big, 0, sizeof big);
	big.o = (qnt_ctx_opts)QNT_CTX_OPTS_INIT;
	big.o.struct_size = sizeof big;
	big.o.n_threads = 1;
	expect_create(&big.o, QNT_OK);

	/* any non-zero byte the library does not know: refused */
	const size_t where[] = { 0, 1, 17, sizeof big.tail - 1 };
	for (size_t i = 0; i < N_ELEMS(where); i++) {
		memset(big.tail, 0, sizeof big.tail);
		big.tail[where[i]] = 1;
		expect_create(&big.o, QNT_E_STRUCT_TOO_NEW);
		assert_contains(qnt_ctx_last_error(NULL), "qnt_ctx_create");
	}
	/* the tail only counts up to struct_size */
	memset(big.tail, 0, sizeof big.tail);
	big.tail[20] = 0xFF;
	big.o.struct_size = (uint32_t)(sizeof big.o + 20);
	expect_create(&big.o, QNT_OK);
}

static void create_bad_fields(void **state)
{
	(void)state;
	qnt_ctx_opts o = QNT_CTX_OPTS_INIT;

	const int32_t bad_threads[] = { -1, 5000, INT32_MIN, INT32_MAX };
	for (size_t i = 0; i < N_ELEMS(bad_threads); i++) {
		o.n_threads = bad_threads[i];
		expect_create(&o, QNT_E_INVALID_ARG);
		assert_contains(qnt_ctx_last_error(NULL), "n_threads");
	}
	o.n_threads = 1;

	o.alloc = (qnt_alloc_fn)(uintptr_t)1; /* never called: refused first */
	expect_create(&o, QNT_E_INVALID_ARG);
	assert_contains(qnt_ctx_last_error(NULL), "alloc");
	o.alloc = NULL;
	o.free = (qnt_free_fn)(uintptr_t)1;
	expect_create(&o, QNT_E_INVALID_ARG);
	assert_contains(qnt_ctx_last_error(NULL), "free");
	o.free = NULL;

	o.flags = 1;
	expect_create(&o, QNT_E_INVALID_ARG);
	o.flags = 0;
	o.reserved = 7;
	expect_create(&o, QNT_E_INVALID_ARG);
	o.reserved = 0;

	o.device = -1;
	expect_create(&o, QNT_E_INVALID_ARG);
	assert_contains(qnt_ctx_last_error(NULL), "device");
	o.device = 1; /* the CPU backend has one device */
	expect_create(&o, QNT_E_NOT_FOUND);
	assert_contains(qnt_ctx_last_error(NULL), "cpu");
	o.device = 0;
	expect_create(&o, QNT_OK);
}

static void create_thread_counts(void **state)
{
	(void)state;
	const int32_t n[] = { 1, 2, 3, 7 };
	for (size_t i = 0; i < N_ELEMS(n); i++) {
		qnt_ctx_opts o = QNT_CTX_OPTS_INIT;
		qnt_ctx *ctx = NULL;
		o.n_threads = n[i];
		assert_int_equal(qnt_ctx_create(&o, &ctx), QNT_OK);
		assert_int_equal(qnt_ctx_n_threads(ctx), n[i]);
		unsigned char out[36];
		assert_int_equal(quantize_small(ctx, out), QNT_OK);
		qnt_ctx_destroy(ctx);
	}
}

static void create_backend_by_name(void **state)
{
	(void)state;
	const char *ok[] = { NULL, "", "auto", "cpu" };
	for (size_t i = 0; i < N_ELEMS(ok); i++) {
		qnt_ctx_opts o = QNT_CTX_OPTS_INIT;
		qnt_ctx *ctx = NULL;
		o.backend = ok[i];
		o.n_threads = 1;
		assert_int_equal(qnt_ctx_create(&o, &ctx), QNT_OK);
		assert_string_equal(qnt_ctx_backend_name(ctx), ok[i] && strcmp(ok[i], "cpu") == 0 ? "cpu" : qnt_backend_best());
		qnt_ctx_destroy(ctx);
	}
	qnt_ctx_opts o = QNT_CTX_OPTS_INIT;
	o.backend = "nonexistent";
	expect_create(&o, QNT_E_NOT_FOUND);
	assert_contains(qnt_ctx_last_error(NULL), "nonexistent");
	/* the message lists what is registered */
	assert_contains(qnt_ctx_last_error(NULL), "cpu");
	o.backend = "CPU"; /* names are exact */
	expect_create(&o, QNT_E_NOT_FOUND);
	assert_contains(qnt_ctx_last_error(NULL), "CPU");
}

/* ---- allocator ---- */

struct counting_alloc {
	atomic_long allocs, frees, bad_align, bad_free;
	long fail_at; /* 1-based call that returns NULL; 0: never */
	atomic_long calls;
	/* live pointers, to check that free only gets ours */
	pthread_mutex_t mu;
	void *live[256];
	int n_live;
};

static void *count_alloc(void *user, size_t size, size_t align)
{
	struct counting_alloc *a = user;
	long call = atomic_fetch_add(&a->calls, 1) + 1;
	if (a->fail_at && call == a->fail_at)
		return NULL;
	if (align == 0 || (align & (align - 1)) || align > 4096)
		atomic_fetch_add(&a->bad_align, 1);
	void *p = NULL;
	if (posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, size ? size : 1) != 0)
		return NULL;
	pthread_mutex_lock(&a->mu);
	if (a->n_live < (int)N_ELEMS(a->live))
		a->live[a->n_live++] = p;
	pthread_mutex_unlock(&a->mu);
	atomic_fetch_add(&a->allocs, 1);
	return p;
}

static void count_free(void *user, void *p)
{
	struct counting_alloc *a = user;
	if (!p)
		return;
	int found = 0;
	pthread_mutex_lock(&a->mu);
	for (int i = 0; i < a->n_live; i++) {
		if (a->live[i] == p) {
			a->live[i] = a->live[--a->n_live];
			found = 1;
			break;
		}
	}
	pthread_mutex_unlock(&a->mu);
	if (!found)
		atomic_fetch_add(&a->bad_free, 1);
	atomic_fetch_add(&a->frees, 1);
	free(p);
}

static void counting_init(struct counting_alloc *a)
{
	memset(a, 0, sizeof *a);
	pthread_mutex_init(&a->mu, NULL);
}

static void custom_allocator(void **state)
{
	(void)state;
	struct counting_alloc a;
	counting_init(&a);
	qnt_ctx_opts o = QNT_CTX_OPTS_INIT;
	o.alloc = count_alloc;
	o.free = count_free;
	o.alloc_user = &a;
	o.n_threads = 3;
	qnt_ctx *ctx = NULL;
	assert_int_equal(qnt_ctx_create(&o, &ctx), QNT_OK);
	/* at least the context itself comes from the allocator */
	assert_true(atomic_load(&a.allocs) >= 1);
	int ctx_is_ours = 0;
	for (int i = 0; i < a.n_live; i++)
		ctx_is_ours |= a.live[i] == (void *)ctx;
	assert_true(ctx_is_ours);
	unsigned char out[36];
	assert_int_equal(quantize_small(ctx, out), QNT_OK);
	qnt_ctx_destroy(ctx);
	assert_int_equal(atomic_load(&a.frees), atomic_load(&a.allocs));
	assert_int_equal(a.n_live, 0);
	assert_int_equal(atomic_load(&a.bad_free), 0);
	assert_int_equal(atomic_load(&a.bad_align), 0);
	pthread_mutex_destroy(&a.mu);
}

/* Every allocation failing in turn: QNT_E_NO_MEMORY, and whatever was
 * allocated before the failure is given back. */
static void allocator_failures(void **state)
{
	(void)state;
	int succeeded = 0;
	for (long fail_at = 1; fail_at <= 32 && !succeeded; fail_at++) {
		struct counting_alloc a;
		counting_init(&a);
		a.fail_at = fail_at;
		qnt_ctx_opts o = QNT_CTX_OPTS_INIT;
		o.alloc = count_alloc;
		o.free = count_free;
		o.alloc_user = &a;
		o.n_threads = 2;
		qnt_ctx *ctx = (qnt_ctx *)(uintptr_t)1;
		qnt_status st = qnt_ctx_create(&o, &ctx);
		if (atomic_load(&a.calls) < fail_at) {
			/* the failure point is past every allocation: success */
			assert_int_equal(st, QNT_OK);
			qnt_ctx_destroy(ctx);
			succeeded = 1;
		} else {
			assert_int_equal(st, QNT_E_NO_MEMORY);
			assert_null(ctx);
			assert_contains(qnt_ctx_last_error(NULL), "memory");
		}
		assert_int_equal(atomic_load(&a.frees), atomic_load(&a.allocs));
		assert_int_equal(atomic_load(&a.bad_free), 0);
		pthread_mutex_destroy(&a.mu);
	}
	assert_true(succeeded);
}

/* ---- logging ---- */

struct log_rec {
	int n;
	int32_t level;
	char msg[1024];
};

static void log_cb(void *user, int32_t level, const char *msg)
{
	struct log_rec *r = user;
	r->n++;
	r->level = level;
	snprintf(r->msg, sizeof r->msg, "%s", msg);
}

static void ctx_log_receives_errors(void **state)
{
	(void)state;
	struct log_rec rec = { 0 };
	qnt_ctx_opts o = QNT_CTX_OPTS_INIT;
	o.log = log_cb;
	o.log_user = &rec;
	o.log_level = QNT_LOG_ERROR;
	o.n_threads = 1;
	qnt_ctx *ctx = NULL;
	assert_int_equal(qnt_ctx_create(&o, &ctx), QNT_OK);
	float x[32] = { 0 };
	unsigned char out[18];
	assert_int_equal(qnt_quantize(ctx, QNT_TYPE_Q4_0, NULL, out, 1, 32, NULL), QNT_E_INVALID_ARG);
	assert_int_equal(rec.n, 1);
	assert_int_equal(rec.level, QNT_LOG_ERROR);
	assert_string_equal(rec.msg, qnt_ctx_last_error(ctx));
	assert_contains(rec.msg, "qnt_quantize");
	assert_contains(rec.msg, "src");
	assert_true(rec.msg[strlen(rec.msg) - 1] != '\n');
	/* a successful call logs no error */
	assert_int_equal(qnt_quantize(ctx, QNT_TYPE_Q4_0, x, out, 1, 32, NULL), QNT_OK);
	assert_int_equal(rec.n, 1);
	assert_int_equal(qnt_dequantize(ctx, QNT_TYPE_Q4_0, out, x, 1, 33), QNT_E_BAD_SHAPE);
	assert_int_equal(rec.n, 2);
	assert_contains(rec.msg, "qnt_dequantize");
	qnt_ctx_destroy(ctx);
}

/* log_level below QNT_LOG_ERROR silences even errors. */
static void ctx_log_level_filters(void **state)
{
	(void)state;
	struct log_rec rec = { 0 };
	qnt_ctx_opts o = QNT_CTX_OPTS_INIT;
	o.log = log_cb;
	o.log_user = &rec;
	o.log_level = -1;
	o.n_threads = 1;
	qnt_ctx *ctx = NULL;
	assert_int_equal(qnt_ctx_create(&o, &ctx), QNT_OK);
	unsigned char out[18];
	assert_int_equal(qnt_quantize(ctx, QNT_TYPE_Q4_0, NULL, out, 1, 32, NULL), QNT_E_INVALID_ARG);
	assert_int_equal(rec.n, 0);
	assert_contains(qnt_ctx_last_error(ctx), "qnt_quantize"); /* still recorded */
	qnt_ctx_destroy(ctx);
}

/* The process-wide callback gets errors that belong to no context, and those
 * of a context without a callback of its own. */
static void global_log_receives_errors(void **state)
{
	(void)state;
	struct log_rec rec = { 0 };
	qnt_set_log_fn(log_cb, &rec, QNT_LOG_WARN);

	qnt_ctx_opts o = QNT_CTX_OPTS_INIT;
	o.n_threads = -1;
	qnt_ctx *ctx = NULL;
	assert_int_equal(qnt_ctx_create(&o, &ctx), QNT_E_INVALID_ARG);
	assert_int_equal(rec.n, 1);
	assert_int_equal(rec.level, QNT_LOG_ERROR);
	assert_string_equal(rec.msg, qnt_ctx_last_error(NULL));
	assert_contains(rec.msg, "n_threads");

	o.n_threads = 1;
	assert_int_equal(qnt_ctx_create(&o, &ctx), QNT_OK);
	const int before = rec.n;
	unsigned char out[18];
	float x[32] = { 0 };
	assert_int_equal(qnt_quantize(ctx, 12345, x, out, 1, 32, NULL), QNT_E_UNKNOWN_TYPE);
	assert_int_equal(rec.n, before + 1);
	assert_string_equal(rec.msg, qnt_ctx_last_error(ctx));
	assert_contains(rec.msg, "12345");
	qnt_ctx_destroy(ctx);

	/* removed: nothing more arrives */
	qnt_set_log_fn(NULL, NULL, QNT_LOG_WARN);
	const int n = rec.n;
	o.n_threads = -1;
	assert_int_equal(qnt_ctx_create(&o, &ctx), QNT_E_INVALID_ARG);
	assert_int_equal(rec.n, n);

	/* a global level below ERROR filters errors */
	qnt_set_log_fn(log_cb, &rec, -1);
	assert_int_equal(qnt_ctx_create(&o, &ctx), QNT_E_INVALID_ARG);
	assert_int_equal(rec.n, n);
	qnt_set_log_fn(NULL, NULL, QNT_LOG_WARN);
}

/* ---- last error ---- */

static void last_error_per_ctx(void **state)
{
	(void)state;
	qnt_ctx_opts o = QNT_CTX_OPTS_INIT;
	o.n_threads = 1;
	qnt_ctx *a = NULL, *b = NULL;
	assert_int_equal(qnt_ctx_create(&o, &a), QNT_OK);
	assert_int_equal(qnt_ctx_create(&o, &b), QNT_OK);
	assert_string_equal(qnt_ctx_last_error(a), "");

	float x[64];
	unsigned char out[36];
	fill_gauss(x, 64, 1);
	assert_int_equal(qnt_quantize(a, QNT_TYPE_Q5_0, x, out, 1, 48, NULL), QNT_E_BAD_SHAPE);
	assert_contains(qnt_ctx_last_error(a), "qnt_quantize");
	assert_contains(qnt_ctx_last_error(a), "q5_0");
	assert_contains(qnt_ctx_last_error(a), "48");
	assert_string_equal(qnt_ctx_last_error(b), ""); /* b is untouched */

	/* a successful call clears it */
	assert_int_equal(qnt_quantize(a, QNT_TYPE_Q5_0, x, out, 1, 32, NULL), QNT_OK);
	assert_string_equal(qnt_ctx_last_error(a), "");

	/* so does a successful dequantize */
	assert_int_equal(qnt_dequantize(a, QNT_TYPE_Q5_0, out, x, -1, 32), QNT_E_INVALID_ARG);
	assert_contains(qnt_ctx_last_error(a), "nrows");
	assert_int_equal(qnt_dequantize(a, QNT_TYPE_Q5_0, out, x, 1, 32), QNT_OK);
	assert_string_equal(qnt_ctx_last_error(a), "");
	qnt_ctx_destroy(a);
	qnt_ctx_destroy(b);
}

struct thread_arg {
	char seen_before[256];
	char seen_after[256];
};

static void *other_thread(void *varg)
{
	struct thread_arg *t = varg;
	snprintf(t->seen_before, sizeof t->seen_before, "%s", qnt_ctx_last_error(NULL));
	qnt_ctx_opts o = QNT_CTX_OPTS_INIT;
	o.backend = "from-the-other-thread";
	qnt_ctx *ctx;
	if (qnt_ctx_create(&o, &ctx) == QNT_OK)
		qnt_ctx_destroy(ctx);
	snprintf(t->seen_after, sizeof t->seen_after, "%s", qnt_ctx_last_error(NULL));
	return NULL;
}

/* qnt_ctx_last_error(NULL) is per thread. */
static void last_error_per_thread(void **state)
{
	(void)state;
	qnt_ctx_opts o = QNT_CTX_OPTS_INIT;
	o.backend = "from-the-main-thread";
	qnt_ctx *ctx;
	assert_int_equal(qnt_ctx_create(&o, &ctx), QNT_E_NOT_FOUND);
	assert_contains(qnt_ctx_last_error(NULL), "from-the-main-thread");

	struct thread_arg t;
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, other_thread, &t), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_string_equal(t.seen_before, "");
	assert_contains(t.seen_after, "from-the-other-thread");
	/* ours is unchanged */
	assert_contains(qnt_ctx_last_error(NULL), "from-the-main-thread");
}

/* ---- misc ---- */

static void userdata_round_trip(void **state)
{
	(void)state;
	qnt_ctx_opts o = QNT_CTX_OPTS_INIT;
	o.n_threads = 1;
	qnt_ctx *ctx = NULL;
	int token = 0;
	assert_int_equal(qnt_ctx_create(&o, &ctx), QNT_OK);
	assert_null(qnt_ctx_get_userdata(ctx));
	qnt_ctx_set_userdata(ctx, &token);
	assert_ptr_equal(qnt_ctx_get_userdata(ctx), &token);
	/* survives calls on the context */
	unsigned char out[36];
	assert_int_equal(quantize_small(ctx, out), QNT_OK);
	assert_ptr_equal(qnt_ctx_get_userdata(ctx), &token);
	qnt_ctx_set_userdata(ctx, NULL);
	assert_null(qnt_ctx_get_userdata(ctx));
	qnt_ctx_destroy(ctx);
	/* NULL context: harmless */
	qnt_ctx_set_userdata(NULL, &token);
	assert_null(qnt_ctx_get_userdata(NULL));
}

static void destroy_null(void **state)
{
	(void)state;
	qnt_ctx_destroy(NULL);
	qnt_ctx_destroy(NULL);
	assert_int_equal(qnt_init(), QNT_OK);
}

static void init_idempotent(void **state)
{
	(void)state;
	assert_int_equal(qnt_init(), QNT_OK);
	assert_int_equal(qnt_init(), QNT_OK);
	assert_true(qnt_backend_count() >= 1);
	/* "auto" picks a usable backend; the CPU reference is always there */
	assert_true(strlen(qnt_backend_best()) > 0);
	qnt_backend_props p = QNT_BACKEND_PROPS_INIT;
	assert_int_equal(qnt_backend_get_props(0, &p), QNT_OK);
	assert_string_equal(p.name, "cpu");
}

/* Without environment, the default context uses the CPU backend and the same
 * bytes come out as from an explicit context. */
static void default_ctx(void **state)
{
	(void)state;
	unsigned char a[36], b[36];
	qnt_ctx *ctx = NULL;
	assert_int_equal(quantize_small(NULL, a), QNT_OK);
	assert_string_equal(qnt_ctx_last_error(NULL), "");
	assert_string_equal(qnt_ctx_backend_name(NULL), qnt_backend_best());
	assert_true(qnt_ctx_n_threads(NULL) >= 1);
	assert_int_equal(qnt_ctx_create(NULL, &ctx), QNT_OK);
	assert_int_equal(quantize_small(ctx, b), QNT_OK);
	assert_memory_equal(a, b, sizeof a);
	qnt_ctx_destroy(ctx);
	/* errors on the default context land in the thread's message */
	assert_int_equal(qnt_quantize(NULL, QNT_TYPE_Q8_0, NULL, a, 1, 32, NULL), QNT_E_INVALID_ARG);
	assert_contains(qnt_ctx_last_error(NULL), "qnt_quantize");
	assert_contains(qnt_ctx_last_error(NULL), "q8_0");
	assert_int_equal(quantize_small(NULL, a), QNT_OK);
	assert_string_equal(qnt_ctx_last_error(NULL), "");
}

/* ---- default context under QNT_NUM_THREADS / QNT_BACKEND ---- */

static void env_threads_3(void **state)
{
	(void)state;
	unsigned char a[36], b[36];
	assert_int_equal(qnt_ctx_n_threads(NULL), 3);
	assert_string_equal(qnt_ctx_backend_name(NULL), qnt_backend_best());
	assert_int_equal(quantize_small(NULL, a), QNT_OK);
	qnt_ctx_opts o = QNT_CTX_OPTS_INIT;
	o.n_threads = 1;
	qnt_ctx *ctx = NULL;
	assert_int_equal(qnt_ctx_create(&o, &ctx), QNT_OK);
	assert_int_equal(quantize_small(ctx, b), QNT_OK);
	assert_memory_equal(a, b, sizeof a);
	qnt_ctx_destroy(ctx);
}

static void env_threads_bad(void **state)
{
	(void)state;
	unsigned char out[36];
	float y[64];
	assert_int_equal(quantize_small(NULL, out), QNT_E_INVALID_ARG);
	assert_contains(qnt_ctx_last_error(NULL), "QNT_NUM_THREADS");
	assert_contains(qnt_ctx_last_error(NULL), "abc");
	/* every call on the default context fails the same way */
	memset(out, 0, sizeof out);
	assert_int_equal(qnt_dequantize(NULL, QNT_TYPE_Q4_0, out, y, 2, 32), QNT_E_INVALID_ARG);
	assert_contains(qnt_ctx_last_error(NULL), "QNT_NUM_THREADS");
	assert_int_equal(qnt_ctx_n_threads(NULL), 0);
	assert_string_equal(qnt_ctx_backend_name(NULL), "");
	/* explicit contexts do not read the environment */
	qnt_ctx *ctx = NULL;
	assert_int_equal(qnt_ctx_create(NULL, &ctx), QNT_OK);
	assert_int_equal(quantize_small(ctx, out), QNT_OK);
	qnt_ctx_destroy(ctx);
}

static void env_backend_missing(void **state)
{
	(void)state;
	unsigned char out[36];
	assert_int_equal(quantize_small(NULL, out), QNT_E_NOT_FOUND);
	assert_contains(qnt_ctx_last_error(NULL), "nonexistent");
	assert_string_equal(qnt_ctx_backend_name(NULL), "");
	assert_int_equal(qnt_ctx_n_threads(NULL), 0);
	qnt_ctx *ctx = NULL;
	assert_int_equal(qnt_ctx_create(NULL, &ctx), QNT_OK);
	assert_string_equal(qnt_ctx_backend_name(ctx), qnt_backend_best());
	qnt_ctx_destroy(ctx);
}

static void env_backend_cpu(void **state)
{
	(void)state;
	unsigned char a[36], b[36];
	assert_string_equal(qnt_ctx_backend_name(NULL), "cpu");
	assert_int_equal(quantize_small(NULL, a), QNT_OK);
	assert_string_equal(qnt_ctx_last_error(NULL), "");
	qnt_ctx *ctx = NULL;
	assert_int_equal(qnt_ctx_create(NULL, &ctx), QNT_OK);
	assert_int_equal(quantize_small(ctx, b), QNT_OK);
	assert_memory_equal(a, b, sizeof a);
	qnt_ctx_destroy(ctx);
}

int main(int argc, char **argv)
{
	const char *group = argc > 1 ? argv[1] : "ctx";
	int rc;
	if (strcmp(group, "ctx") == 0) {
		const struct CMUnitTest tests[] = {
			cmocka_unit_test(init_idempotent),
			cmocka_unit_test(opts_init_matches_macro),
			cmocka_unit_test(opts_init_errors),
			cmocka_unit_test(opts_init_larger),
			cmocka_unit_test(create_null_opts),
			cmocka_unit_test(create_out_null),
			cmocka_unit_test(create_struct_too_small),
			cmocka_unit_test(create_struct_larger),
			cmocka_unit_test(create_bad_fields),
			cmocka_unit_test(create_thread_counts),
			cmocka_unit_test(create_backend_by_name),
			cmocka_unit_test(custom_allocator),
			cmocka_unit_test(allocator_failures),
			cmocka_unit_test(ctx_log_receives_errors),
			cmocka_unit_test(ctx_log_level_filters),
			cmocka_unit_test(global_log_receives_errors),
			cmocka_unit_test(last_error_per_ctx),
			cmocka_unit_test(last_error_per_thread),
			cmocka_unit_test(userdata_round_trip),
			cmocka_unit_test(destroy_null),
			cmocka_unit_test(default_ctx),
		};
		rc = cmocka_run_group_tests_name("ctx", tests, NULL, NULL);
	} else if (strcmp(group, "env-threads-3") == 0) {
		const struct CMUnitTest tests[] = { cmocka_unit_test(env_threads_3) };
		rc = cmocka_run_group_tests_name("ctx-env-threads-3", tests, NULL, NULL);
	} else if (strcmp(group, "env-threads-bad") == 0) {
		const struct CMUnitTest tests[] = { cmocka_unit_test(env_threads_bad) };
		rc = cmocka_run_group_tests_name("ctx-env-threads-bad", tests, NULL, NULL);
	} else if (strcmp(group, "env-backend-missing") == 0) {
		const struct CMUnitTest tests[] = { cmocka_unit_test(env_backend_missing) };
		rc = cmocka_run_group_tests_name("ctx-env-backend-missing", tests, NULL, NULL);
	} else if (strcmp(group, "env-backend-cpu") == 0) {
		const struct CMUnitTest tests[] = { cmocka_unit_test(env_backend_cpu) };
		rc = cmocka_run_group_tests_name("ctx-env-backend-cpu", tests, NULL, NULL);
	} else {
		fprintf(stderr, "test_ctx: unknown group '%s'\n", group);
		return 2;
	}
	qnt_shutdown();
	return rc;
}
