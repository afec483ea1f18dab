/* SPDX-License-Identifier: MIT */
/* XXH3-64 checksums; see checksum.h. */
#include "checksum.h"

#include <stdlib.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

struct qnt__xxh3 {
	XXH3_state_t *st;
};

uint64_t qnt__xxh3_64(const void *data, size_t n)
{
	return (uint64_t)XXH3_64bits(n ? data : "", n);
}

struct qnt__xxh3 *qnt__xxh3_new(void)
{
	struct qnt__xxh3 *s = malloc(sizeof *s);
	if (!s)
		return NULL;
	if (!(s->st = XXH3_createState())) {
		free(s);
		return NULL;
	}
	XXH3_64bits_reset(s->st);
	return s;
}

void qnt__xxh3_reset(struct qnt__xxh3 *s)
{
	XXH3_64bits_reset(s->st);
}

void qnt__xxh3_update(struct qnt__xxh3 *s, const void *data, size_t n)
{
	if (n)
		XXH3_64bits_update(s->st, data, n);
}

uint64_t qnt__xxh3_digest(const struct qnt__xxh3 *s)
{
	return (uint64_t)XXH3_64bits_digest(s->st);
}

void qnt__xxh3_free(struct qnt__xxh3 *s)
{
	if (!s)
		return;
	XXH3_freeState(s->st);
	free(s);
}

void qnt__xxh3_hex(uint64_t h, char out[17])
{
	static const char digits[] = "0123456789abcdef";
	for (int i = 0; i < 16; i++)
		out[i] = digits[(h >> (60 - 4 * i)) & 15];
	out[16] = '\0';
}

int qnt__xxh3_parse_hex(const char *s, uint64_t *h)
{
	uint64_t v = 0;
	for (int i = 0; i < 16; i++) {
		char c = s[i];
		unsigned d;
		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return 0;
		v = v << 4 | d;
	}
	*h = v;
	return 1;
}
