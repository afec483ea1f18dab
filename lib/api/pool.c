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
 * A job is open while the caller runs it (odd `gen`). The caller returns
 * once every chunk is finished, not once every worker has come and gone: a
 * worker that wakes late (or is not scheduled at all, on a busy machine)
 * finds no chunk left and costs the caller nothing. Workers enter a job by
 * incrementing `active` and checking that it is still open; the caller
 * closes it before it returns and rewrites the job's fields only once no
 * worker is inside (active == 0), which it checks at the next job.
 *
 * Waiting polls before it sleeps. A worker that has finished a job polls for
 * the next one for `spin` nanoseconds, then sleeps on `wake` (the caller
 * signals it only when a worker sleeps): on this project's 2-core VM a
 * woken worker started a median 30-50 us (at worst over 1 ms) into a
 * 4096 x 4096 q4_K GEMV that takes about 550 us, and a polling one at 0 us.
 * Each worker adapts its own `spin` to the gaps between jobs, as KVM's halt
 * polling does: after a sleep that ended within SPIN_MAX_NS of the last job,
 * spin grows to cover that gap (a model's products come back to back);
 * after a longer sleep it halves, down to SPIN_MIN_NS. A worker that finds
 * it lost its CPU while polling (a busy machine: the scheduler hands a
 * poller's CPU to other tasks and gives it back only a time slice later,
 * while a sleeper that is woken takes its CPU at once) sleeps right away.
 * An idle pool thus burns at most SPIN_MAX_NS of CPU per worker
 * after its last job, then sleeps. The caller, once out of chunks, polls for
 * the last chunks in flight for up to CALLER_SPIN_NS before it sleeps on
 * `done`. Polling yields the CPU only when the pool has more threads than
 * the process has CPUs (a poller then may hold the CPU of the thread it waits
 * for); otherwise yielding hands the core to any other runnable task for a
 * whole time slice, in the middle of a product.
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

#define SPIN_MIN_NS 200000ull
#define SPIN_MAX_NS 10000000ull
#define CALLER_SPIN_NS 2000000ull
/* polls between two reads of the clock */
#define SPIN_POLLS 64
/* A gap this long between two reads of the clock while polling means that
 * the poller lost its CPU to another thread (a time slice lasts
 * milliseconds; an interrupt or a VM exit tens of microseconds). */
#define PREEMPTED_NS 200000ull

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield")
#else
#define cpu_relax() ((void)0)
#endif

struct qnt__pool {
	int n_threads;
	int yield;          /* more threads than CPUs: pollers yield */
	uv_thread_t *threads;
	uv_mutex_t mu;
	uv_cond_t wake;     /* a new job or stop */
	uv_cond_t done;     /* the last chunk finished */
	int sleepers;       /* workers waiting on wake (under mu) */
	int caller_waits;   /* the caller waits on done (under mu) */
	atomic_int stop;
	/* the job, written by the caller while it is closed and no worker is
	 * inside; read by the workers inside it */
	qnt__task_fn fn;
	void *arg;
	int64_t n_chunks;
	_Alignas(64) atomic_uint_fast64_t gen; /* odd: the job is open */
	_Alignas(64) atomic_int active;        /* workers inside the job */
	_Alignas(64) atomic_int_fast64_t next; /* the next chunk to hand out */
	_Alignas(64) atomic_int_fast64_t finished; /* chunks finished */
};

struct worker_arg {
	struct qnt__pool *pool;
	int index;
};

/* Runs chunks of the open job until none is left; a worker (not the caller)
 * that finishes the last one wakes the caller if it sleeps. */
static void run_chunks(struct qnt__pool *p, int thread)
{
	const int64_t n = p->n_chunks;
	for (;;) {
		int64_t c = atomic_fetch_add_explicit(&p->next, 1, memory_order_relaxed);
		if (c >= n)
			return;
		p->fn(p->arg, c, thread);
		if (atomic_fetch_add_explicit(&p->finished, 1, memory_order_acq_rel) == n - 1 && thread != 0) {
			uv_mutex_lock(&p->mu);
			if (p->caller_waits)
				uv_cond_signal(&p->done);
			uv_mutex_unlock(&p->mu);
		}
	}
}

/* A job this worker has not looked at is open. */
static int job_ready(struct qnt__pool *p, uint64_t seen)
{
	uint64_t g = atomic_load_explicit(&p->gen, memory_order_acquire);
	return (g & 1) && g != seen;
}

/* Polls for a new job or stop for at most spin_ns; returns whether it saw
 * either. */
static int poll_for_job(struct qnt__pool *p, uint64_t seen, uint64_t t0, uint64_t spin_ns)
{
	uint64_t last = t0;
	for (;;) {
		for (int i = 0; i < SPIN_POLLS; i++) {
			if (job_ready(p, seen) || atomic_load_explicit(&p->stop, memory_order_relaxed))
				return 1;
			cpu_relax();
		}
		const uint64_t now = uv_hrtime();
		if (now - t0 > spin_ns || (!p->yield && now - last > PREEMPTED_NS))
			return 0;
		last = now;
		if (p->yield)
			yield_cpu();
	}
}

/* The next polling time after a sleep that ended `idle` ns after the worker
 * started waiting. */
static uint64_t adapt_spin(uint64_t spin, uint64_t idle)
{
	if (idle > SPIN_MAX_NS)
		return spin / 2 > SPIN_MIN_NS ? spin / 2 : SPIN_MIN_NS;
	uint64_t want = idle + idle / 4;
	if (want < 2 * spin)
		want = 2 * spin;
	return want < SPIN_MAX_NS ? want : SPIN_MAX_NS;
}

static void worker(void *varg)
{
	struct worker_arg *wa = varg;
	struct qnt__pool *p = wa->pool;
	int index = wa->index;
	uint64_t seen = 0, spin = SPIN_MIN_NS;
	free(wa);

	for (;;) {
		const uint64_t t0 = uv_hrtime();
		if (!poll_for_job(p, seen, t0, spin)) {
			/* the caller opens the job, then takes mu to look for
			 * sleepers: checking again under mu misses no job */
			uv_mutex_lock(&p->mu);
			p->sleepers++;
			while (!atomic_load(&p->stop) && !job_ready(p, seen))
				uv_cond_wait(&p->wake, &p->mu);
			p->sleepers--;
			uv_mutex_unlock(&p->mu);
			spin = adapt_spin(spin, uv_hrtime() - t0);
		}
		if (atomic_load(&p->stop))
			break;
		const uint64_t g = atomic_load(&p->gen);
		if (!(g & 1) || g == seen)
			continue; /* closed meanwhile: wait for the next one */
		/* enter, then check that the job is still open (sequentially
		 * consistent, against the caller's close then load of active) */
		atomic_fetch_add(&p->active, 1);
		if (atomic_load(&p->gen) == g) {
			seen = g;
			run_chunks(p, index);
		}
		atomic_fetch_sub_explicit(&p->active, 1, memory_order_release);
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
	p->yield = (unsigned)p->n_threads > uv_available_parallelism();
	atomic_init(&p->stop, 0);
	atomic_init(&p->gen, 0);
	atomic_init(&p->active, 0);
	atomic_init(&p->next, 0);
	atomic_init(&p->finished, 0);
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
	/* a worker still inside the last job (between its last chunk and its
	 * way out, or about to find it closed) reads the fields below */
	for (int i = 0; atomic_load_explicit(&p->active, memory_order_acquire) != 0; i++) {
		cpu_relax();
		if (p->yield || i % SPIN_POLLS == SPIN_POLLS - 1)
			yield_cpu();
	}
	p->fn = fn;
	p->arg = arg;
	p->n_chunks = n_chunks;
	atomic_store_explicit(&p->next, 0, memory_order_relaxed);
	atomic_store_explicit(&p->finished, 0, memory_order_relaxed);
	const uint64_t g = atomic_load_explicit(&p->gen, memory_order_relaxed) + 1;
	atomic_store(&p->gen, g); /* open */
	uv_mutex_lock(&p->mu);
	if (p->sleepers > 0)
		uv_cond_broadcast(&p->wake);
	uv_mutex_unlock(&p->mu);

	run_chunks(p, 0);

	const uint64_t t0 = uv_hrtime();
	for (;;) {
		int i;
		for (i = 0; i < SPIN_POLLS; i++) {
			if (atomic_load_explicit(&p->finished, memory_order_acquire) == n_chunks)
				break;
			cpu_relax();
		}
		if (i < SPIN_POLLS || uv_hrtime() - t0 > CALLER_SPIN_NS)
			break;
		if (p->yield)
			yield_cpu();
	}
	if (atomic_load_explicit(&p->finished, memory_order_acquire) != n_chunks) {
		/* the worker that finishes the last chunk then takes mu to look
		 * for the caller: checking again under mu misses no signal */
		uv_mutex_lock(&p->mu);
		p->caller_waits = 1;
		while (atomic_load_explicit(&p->finished, memory_order_acquire) != n_chunks)
			uv_cond_wait(&p->done, &p->mu);
		p->caller_waits = 0;
		uv_mutex_unlock(&p->mu);
	}
	/* close (sequentially consistent, against a worker's increment of
	 * active then load of gen) */
	atomic_store(&p->gen, g + 1);
}
