/* SPDX-License-Identifier: MIT */
/*
 * The context's thread pool (lib/api/pool.c), through qnt_matmul and
 * qnt_quantize: jobs back to back (workers polling), after pauses shorter
 * and longer than the workers' polling (workers asleep, woken, their polling
 * time growing and shrinking), jobs of different chunk counts alternating
 * (a late worker must not run a chunk of the wrong job), with 2, 3, 7 and
 * 17 threads (where that is more than the CPUs, the pollers yield). Every product and
 * every quantized row must equal the one thread's bytes, the outputs filled
 * with NaN bytes before each call so that a chunk that never ran shows.
 * Built with -Db_sanitize=thread, this is the pool's race check.
 */
#include "test_backend.h"

#include <time.h>

#define P_OUT 1024
#define P_IN 1024
#define P_ROUNDS 48

static void pause_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };
	while (nanosleep(&ts, &ts) != 0)
		;
}

/* The pause before round i: none (most), 50 us, 1 ms, or 15 ms (longer than
 * the workers poll). */
static long pause_before(int i)
{
	switch (i % 16) {
	case 3:
		return 50;
	case 7:
	case 8:
		return 1000;
	case 12:
		return i % 48 == 12 ? 15000 : 0;
	default:
		return 0;
	}
}

static void jobs_against_one_thread(void **state)
{
	(void)state;
	const int32_t threads[] = { 2, 3, 7, 17 };
	const qnt_type wt = QNT_TYPE_Q8_0, qt = QNT_TYPE_Q4_0;
	const size_t wbytes = (size_t)P_OUT * qnt_row_size(wt, P_IN), qbytes = (size_t)P_OUT * qnt_row_size(qt, P_IN);
	float *wf = test_malloc_or_fail((size_t)P_OUT * P_IN * sizeof(float));
	float *x = test_malloc_or_fail(3 * P_IN * sizeof(float));
	void *w = test_malloc_or_fail(wbytes);
	void *q0 = test_malloc_or_fail(qbytes), *q1 = test_malloc_or_fail(qbytes);
	float *y0 = test_malloc_or_fail(3 * P_OUT * sizeof(float)), *y1 = test_malloc_or_fail(3 * P_OUT * sizeof(float));
	fill_gauss(wf, (size_t)P_OUT * P_IN, 41);
	fill_gauss(x, 3 * P_IN, 42);

	qnt_ctx *one = ctx_on("cpu", 1);
	assert_int_equal(qnt_quantize(one, wt, wf, w, P_OUT, P_IN, NULL), QNT_OK);
	assert_int_equal(qnt_quantize(one, qt, wf, q0, P_OUT, P_IN, NULL), QNT_OK);
	for (size_t k = 0; k < N_ELEMS(threads); k++) {
		qnt_ctx *ctx = ctx_on("cpu", threads[k]);
		for (int i = 0; i < P_ROUNDS; i++) {
			const int64_t nc = 1 + i % 3;
			const long us = pause_before(i);
			if (us)
				pause_us(us);
			assert_int_equal(qnt_matmul(one, wt, w, P_OUT, P_IN, x, nc, y0), QNT_OK);
			memset(y1, 0xff, (size_t)(nc * P_OUT) * sizeof(float));
			assert_int_equal(qnt_matmul(ctx, wt, w, P_OUT, P_IN, x, nc, y1), QNT_OK);
			if (memcmp(y0, y1, (size_t)(nc * P_OUT) * sizeof(float)) != 0)
				fail_msg("round %d (%lld columns, after %ld us): %d threads' product differs from 1 thread's",
					 i, (long long)nc, us, (int)threads[k]);
			if (i % 4 == 1) {
				/* a job of another chunk count right after the product */
				memset(q1, 0xff, qbytes);
				assert_int_equal(qnt_quantize(ctx, qt, wf, q1, P_OUT, P_IN, NULL), QNT_OK);
				if (memcmp(q0, q1, qbytes) != 0)
					fail_msg("round %d: %d threads' %s rows differ from 1 thread's", i,
						 (int)threads[k], qnt_type_name(qt));
			}
		}
		qnt_ctx_destroy(ctx);
	}
	qnt_ctx_destroy(one);
	free(wf);
	free(x);
	free(w);
	free(q0);
	free(q1);
	free(y0);
	free(y1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(jobs_against_one_thread),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
