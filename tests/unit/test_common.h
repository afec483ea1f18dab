/* SPDX-License-Identifier: MIT */
/* Helpers shared by the cmocka unit tests: includes, a substring assertion
 * and a small deterministic random source (the same data on every run and
 * every platform). */
#ifndef QNT_TEST_COMMON_H
#define QNT_TEST_COMMON_H

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

/* Fails unless `needle` occurs in `hay` (neither may be NULL). */
#define assert_contains(hay, needle)                                                         \
	do {                                                                                 \
		const char *h_ = (hay), *n_ = (needle);                                      \
		if (!h_ || !n_ || !strstr(h_, n_))                                           \
			fail_msg("\"%s\" does not contain \"%s\"", h_ ? h_ : "(null)",        \
				 n_ ? n_ : "(null)");                                        \
	} while (0)

/* xorshift64*: deterministic, seeded per test. */
struct test_rng {
	uint64_t s;
};

static inline void rng_seed(struct test_rng *r, uint64_t seed)
{
	r->s = seed ? seed * 0x9E3779B97F4A7C15ull : 0x853C49E6748FEA9Bull;
}

static inline uint64_t rng_next(struct test_rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545F4914F6CDD1Dull;
}

/* Uniform in [0, 1). */
static inline double rng_uniform(struct test_rng *r)
{
	return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/* Standard normal (Box-Muller). */
static inline float rng_gauss(struct test_rng *r)
{
	double u1 = rng_uniform(r), u2 = rng_uniform(r);
	if (u1 < 1e-300)
		u1 = 1e-300;
	return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

static inline void fill_gauss(float *x, size_t n, uint64_t seed)
{
	struct test_rng r;
	rng_seed(&r, seed);
	for (size_t i = 0; i < n; i++)
		x[i] = rng_gauss(&r);
}

/* malloc that fails the test instead of returning NULL. */
static inline void *test_malloc_or_fail(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		fail_msg("out of memory (%zu bytes)", n);
	return p;
}

#endif
