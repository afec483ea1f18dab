/* SPDX-License-Identifier: MIT */
/*
 * XXH3-64 checksums of tensor data, for the internal use of libqnt (the
 * "qnt.xxh3_64" entries the GGUF and safetensors writers can add, and the
 * readers' qnt__gguf_stored_checksum / qnt__st_stored_checksum). The hash is
 * libxxhash's XXH3_64bits with seed 0, compiled in from its header
 * (XXH_INLINE_ALL in checksum.c: no run-time dependency, no XXH symbol
 * exported).
 */
#ifndef QNT_CHECKSUM_H
#define QNT_CHECKSUM_H

#include "qnt_internal.h"

/* The metadata key of both formats. */
#define QNT__CHECKSUM_KEY "qnt.xxh3_64"

/* XXH3_64bits(data, n), seed 0. data may be NULL when n is 0. */
uint64_t qnt__xxh3_64(const void *data, size_t n);

/* The same over data given in pieces: new (NULL when out of memory; starts
 * reset), update any number of times, digest (does not change the state:
 * more updates may follow), reset to start again, free (NULL ok). */
struct qnt__xxh3;
struct qnt__xxh3 *qnt__xxh3_new(void);
void qnt__xxh3_reset(struct qnt__xxh3 *s);
void qnt__xxh3_update(struct qnt__xxh3 *s, const void *data, size_t n);
uint64_t qnt__xxh3_digest(const struct qnt__xxh3 *s);
void qnt__xxh3_free(struct qnt__xxh3 *s);

/* 16 lowercase hex digits and a NUL (the safetensors form). */
void qnt__xxh3_hex(uint64_t h, char out[17]);
/* Parses exactly 16 hex digits (either case); 1 and *h, or 0. */
int qnt__xxh3_parse_hex(const char *s, uint64_t *h);

#endif
