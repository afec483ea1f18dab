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
 */
#include "qnt_internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <uv.h>

struct qnt__pool {
	int n_threads;
	uv_thread_t *threads;
	uv_mutex_t mu;
	uv_cond_t wake;     /* a new job or stop */
	uv_cond_t done;     /* the last worker left the job */
	uint64_t generation;
	int stop;
	int busy;           /* workers still inside the current job */
	qnt__task_fn fn;
	void *arg;
	int64_t n_chunks;
	atomic_int_fast64_t next;
};

struct worker_arg {
	struct qnt__pool *pool;
	int index;
};

static void run_chunks(struct qnt__pool *p, int thread)
{
	for (;;) {
		int64_t c = atomic_fetch_add(&p->next, 1);
		if (c >= p->n_chunks)
			return;
		p->fn(p->arg, c, thread);
	}
}

static void worker(void *varg)
{
	struct worker_arg *wa = varg;
	struct qnt__pool *p = wa->pool;
	int index = wa->index;
	uint64_t seen = 0;
	free(wa);

	uv_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && p->generation == seen)
			uv_cond_wait(&p->wake, &p->mu);
		if (p->stop)
			break;
		seen = p->generation;
		uv_mutex_unlock(&p->mu);
		run_chunks(p, index);
		uv_mutex_lock(&p->mu);
		if (--p->busy == 0)
			uv_cond_signal(&p->done);
	}
	uv_mutex_unlock(&p->mu);
}

static void stop_workers(struct qnt__pool *p, int started)
{
	uv_mutex_lock(&p->mu);
	p->stop = 1;
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
	uv_mutex_lock(&p->mu);
	p->fn = fn;
	p->arg = arg;
	p->n_chunks = n_chunks;
	atomic_store(&p->next, 0);
	p->busy = p->n_threads - 1;
	p->generation++;
	uv_cond_broadcast(&p->wake);
	uv_mutex_unlock(&p->mu);

	run_chunks(p, 0);

	uv_mutex_lock(&p->mu);
	while (p->busy > 0)
		uv_cond_wait(&p->done, &p->mu);
	uv_mutex_unlock(&p->mu);
}
