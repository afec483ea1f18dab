/* SPDX-License-Identifier: MIT */
/*
 * A context's thread pool, built on libuv's threads, mutexes and condition
 * variables.
 *
 * libuv's own work queue (uv_queue_work) is process-wide, sized once by
 * UV_THREADPOOL_SIZE and needs an event loop; libqnt promises a thread count
 * per context and a blocking call, so each context owns n_threads - 1 workers
 * and the calling thread works alongside them. Chunks are handed out with an
 * atomic counter; which thread runs a chunk never changes its result.
 *
 * Waiting spins briefly before it sleeps. A worker that has finished a job
 * polls for the next one for up to WORKER_SPIN_NS (a model's products come
 * back to back, microseconds apart, and a futex wake-up costs tens of
 * microseconds), then sleeps on `wake`; the caller signals `wake` only when
 * a worker sleeps. The caller, once out of chunks, polls for the workers'
 * last chunks for up to CALLER_SPIN_NS (at most about one chunk's time when
 * the chunks are balanced) before it sleeps on `done`.
 */
#include "qnt_internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <uv.h>
#ifdef _WIN32
#include <windows.h>
#define yield_cpu() ((void)SwitchToThread())
#else
#include <sched.h>
#define yield_cpu() ((void)sched_yield())
#endif

#define WORKER_SPIN_NS 200000
#define CALLER_SPIN_NS 2000000
/* polls between two reads of the clock and yields of the CPU (a thread
 * that shares its core with the one it waits for lets that one run) */
#define SPIN_POLLS 64

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield")
#else
#define cpu_relax() ((void)0)
#endif

struct qnt__pool {
	int n_threads;
	uv_thread_t *threads;
	uv_mutex_t mu;
	uv_cond_t wake;     /* a new job or stop */
	uv_cond_t done;     /* the last worker left the job */
	int sleepers;       /* workers waiting on wake (under mu) */
	int caller_waits;   /* the caller waits on done (under mu) */
	atomic_int stop;
	atomic_uint_fast64_t generation; /* bumped (release) once the job below is set */
	qnt__task_fn fn;
	void *arg;
	int64_t n_chunks;
	_Alignas(64) atomic_int busy;    /* workers still inside the current job */
	_Alignas(64) atomic_int_fast64_t next;
};

struct worker_arg {
	struct qnt__pool *pool;
	int index;
};

static void run_chunks(struct qnt__pool *p, int thread)
{
	for (;;) {
		int64_t c = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
		if (c >= p->n_chunks)
			return;
		p->fn(p->arg, c, thread);
	}
}

/* Polls until the generation differs from `seen` or stop is set, for at most
 * WORKER_SPIN_NS; returns whether it saw either. */
static int spin_for_job(struct qnt__pool *p, uint64_t seen)
{
	const uint64_t t0 = uv_hrtime();
	for (;;) {
		for (int i = 0; i < SPIN_POLLS; i++) {
			if (atomic_load_explicit(&p->generation, memory_order_acquire) != seen ||
			    atomic_load_explicit(&p->stop, memory_order_relaxed))
				return 1;
			cpu_relax();
		}
		if (uv_hrtime() - t0 > WORKER_SPIN_NS)
			return 0;
		yield_cpu();
	}
}

static void worker(void *varg)
{
	struct worker_arg *wa = varg;
	struct qnt__pool *p = wa->pool;
	int index = wa->index;
	uint64_t seen = 0;
	free(wa);

	for (;;) {
		if (!spin_for_job(p, seen)) {
			/* the caller bumps the generation, then takes mu to look
			 * for sleepers: checking again under mu misses no job */
			uv_mutex_lock(&p->mu);
			p->sleepers++;
			while (!atomic_load(&p->stop) && atomic_load(&p->generation) == seen)
				uv_cond_wait(&p->wake, &p->mu);
			p->sleepers--;
			uv_mutex_unlock(&p->mu);
		}
		if (atomic_load(&p->stop))
			break;
		seen = atomic_load_explicit(&p->generation, memory_order_acquire);
		run_chunks(p, index);
		if (atomic_fetch_sub_explicit(&p->busy, 1, memory_order_acq_rel) == 1) {
			uv_mutex_lock(&p->mu);
			if (p->caller_waits)
				uv_cond_signal(&p->done);
			uv_mutex_unlock(&p->mu);
		}
	}
}

static void stop_workers(struct qnt__pool *p, int started)
{
	uv_mutex_lock(&p->mu);
	atomic_store(&p->stop, 1);
	uv_cond_broadcast(&p->wake);
	uv_mutex_unlock(&p->mu);
	for (int i = 0; i < started; i++)
		uv_thread_join(&p->threads[i]);
}

qnt_status qnt__pool_create(int n_threads, struct qnt__pool **out)
{
	struct qnt__pool *p = calloc(1, sizeof *p);
	if (!p)
		return QNT_E_NO_MEMORY;
	p->n_threads = n_threads < 1 ? 1 : n_threads;
	atomic_init(&p->stop, 0);
	atomic_init(&p->generation, 0);
	atomic_init(&p->busy, 0);
	atomic_init(&p->next, 0);
	if (uv_mutex_init(&p->mu) != 0)
		goto err_free;
	if (uv_cond_init(&p->wake) != 0)
		goto err_mutex;
	if (uv_cond_init(&p->done) != 0)
		goto err_wake;
	int nw = p->n_threads - 1;
	if (nw > 0) {
		p->threads = calloc((size_t)nw, sizeof *p->threads);
		if (!p->threads)
			goto err_done;
	}
	for (int i = 0; i < nw; i++) {
		struct worker_arg *wa = malloc(sizeof *wa);
		if (wa) {
			wa->pool = p;
			wa->index = i + 1;
		}
		if (!wa || uv_thread_create(&p->threads[i], worker, wa) != 0) {
			free(wa);
			stop_workers(p, i);
			goto err_threads;
		}
	}
	*out = p;
	return QNT_OK;

err_threads:
	free(p->threads);
err_done:
	uv_cond_destroy(&p->done);
err_wake:
	uv_cond_destroy(&p->wake);
err_mutex:
	uv_mutex_destroy(&p->mu);
err_free:
	free(p);
	return QNT_E_NO_MEMORY;
}

void qnt__pool_destroy(struct qnt__pool *p)
{
	if (!p)
		return;
	stop_workers(p, p->n_threads - 1);
	free(p->threads);
	uv_cond_destroy(&p->done);
	uv_cond_destroy(&p->wake);
	uv_mutex_destroy(&p->mu);
	free(p);
}

void qnt__pool_run(struct qnt__pool *p, int64_t n_chunks, qnt__task_fn fn, void *arg)
{
	if (n_chunks <= 0)
		return;
	if (p->n_threads == 1 || n_chunks == 1) {
		for (int64_t c = 0; c < n_chunks; c++)
			fn(arg, c, 0);
		return;
	}
	p->fn = fn;
	p->arg = arg;
	p->n_chunks = n_chunks;
	atomic_store_explicit(&p->next, 0, memory_order_relaxed);
	atomic_store_explicit(&p->busy, p->n_threads - 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&p->generation, 1, memory_order_release);
	uv_mutex_lock(&p->mu);
	if (p->sleepers > 0)
		uv_cond_broadcast(&p->wake);
	uv_mutex_unlock(&p->mu);

	run_chunks(p, 0);

	const uint64_t t0 = uv_hrtime();
	for (;;) {
		for (int i = 0; i < SPIN_POLLS; i++) {
			if (atomic_load_explicit(&p->busy, memory_order_acquire) == 0)
				return;
			cpu_relax();
		}
		if (uv_hrtime() - t0 > CALLER_SPIN_NS)
			break;
		yield_cpu();
	}
	/* a worker that takes the last place out then takes mu to look for
	 * the caller: checking busy again under mu misses no signal */
	uv_mutex_lock(&p->mu);
	p->caller_waits = 1;
	while (atomic_load_explicit(&p->busy, memory_order_acquire) != 0)
		uv_cond_wait(&p->done, &p->mu);
	p->caller_waits = 0;
	uv_mutex_unlock(&p->mu);
}
