/* SPDX-License-Identifier: MIT */
/*
 * A corpus of malformed GGUF files for the reader (lib/io/gguf_read.c),
 * which must refuse each with QNT_E_FORMAT and a message naming the file,
 * the item and the byte offset, and never crash (run it under
 * AddressSanitizer and UBSan: suite 'unit' of the sanitizer build does).
 *
 * A small valid file, written by libqnt's GGUF writer (keys of several
 * types, nested arrays, three tensors, checksums), is
 *   - truncated at every length: QNT_E_FORMAT up to the end of the last
 *     tensor's data, QNT_OK from there (the last padding is optional);
 *   - changed at every byte before the data, to each of 12 values: QNT_OK
 *     or QNT_E_FORMAT, never anything else;
 *   - corrupted at random (1 to 8 bytes anywhere, 20000 times, fixed seed);
 * and hand-made files check each rule with its exact message and offset:
 * lying counts, lying string and array lengths, nesting depth, bad
 * alignments, misaligned, overlapping and out-of-file tensors, unknown
 * types, dimensions whose product or byte size overflows, duplicates, bad
 * magic and versions. Every buffer is a malloc of its exact size, so that a
 * read past its end is caught; every accepted file has all its tensors
 * inside the buffer, and their bytes are read.
 * Then the writer's error paths and the checksum verification once each,
 * for the sanitizers' leak and bounds checks (the behaviour itself is
 * tested against gguf-py in test_gguf.py).
 * Usage: fuzz_gguf TMPDIR
 */
#include "qnt_internal.h"

#include "../../lib/io/gguf_write.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int failures;
static long n_ok, n_format;

#define CHECK(c, ...)                                                                                      \
	do {                                                                                               \
		if (!(c)) {                                                                                \
			fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                               \
			fprintf(stderr, __VA_ARGS__);                                                      \
			fprintf(stderr, "\n");                                                             \
			if (++failures > 20)                                                               \
				exit(1);                                                                   \
		}                                                                                          \
	} while (0)

static uint64_t rng = 0x66756666u;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static char last_msg[QNT_ERRMSG_MAX];

/* Opens a copy of data[0..n) and checks the result; returns the status
 * (the message in last_msg). */
static qnt_status try_open(const char *what, const unsigned char *data, size_t n)
{
	unsigned char *copy = malloc(n ? n : 1);
	if (!copy)
		exit(2);
	if (n)
		memcpy(copy, data, n);
	struct qnt__gguf *g = NULL;
	qnt_status st = qnt__gguf_open_memory(NULL, "fuzz.gguf", copy, n, &g);
	last_msg[0] = '\0';
	if (st == QNT_OK) {
		n_ok++;
		uint64_t sum = 0;
		for (int64_t i = 0; i < qnt__gguf_n_tensors(g); i++) {
			const struct qnt__gguf_tensor *t = qnt__gguf_tensor_at(g, i);
			CHECK(t->file_offset >= qnt__gguf_data_offset(g) && t->file_offset + t->nbytes <= n,
			      "%s: tensor '%s' outside the buffer", what, t->name);
			CHECK(qnt__gguf_find_tensor(g, t->name) == t, "%s: find('%s')", what, t->name);
			for (uint64_t k = 0; k < t->nbytes; k++)
				sum += ((const unsigned char *)t->data)[k];
		}
		/* every value, through the accessors and iterators */
		for (int64_t i = 0; i < qnt__gguf_n_kv(g); i++) {
			const struct qnt__gguf_kv *kv = qnt__gguf_kv_at(g, i);
			CHECK(qnt__gguf_find_kv(g, kv->key) == kv, "%s: find_kv('%s')", what, kv->key);
			CHECK(kv->value.offset + kv->value.size <= n, "%s: key '%s' outside the buffer", what, kv->key);
			struct qnt__gguf_iter it;
			struct qnt__gguf_value e;
			qnt__gguf_iter_init(&it, &kv->value);
			while (qnt__gguf_iter_next(&it, &e))
				sum += e.size;
		}
		if (qnt__gguf_verify_checksums(NULL, g) == QNT_E_FORMAT)
			sum++;
		(void)sum;
		qnt__gguf_close(g);
	} else {
		snprintf(last_msg, sizeof last_msg, "%s", qnt__thread_error());
		CHECK(g == NULL, "%s: handle set on failure", what);
		CHECK(st == QNT_E_FORMAT, "%s: status %d (%s)", what, st, last_msg);
		CHECK(strncmp(last_msg, "fuzz.gguf: GGUF: ", 17) == 0 && strstr(last_msg, "(at byte offset "),
		      "%s: message '%s'", what, last_msg);
		n_format++;
	}
	free(copy);
	return st;
}

static unsigned char *read_file(const char *path, size_t *n)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		return NULL;
	fseek(fp, 0, SEEK_END);
	long sz = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	unsigned char *b = malloc(sz > 0 ? (size_t)sz : 1);
	*n = b ? fread(b, 1, (size_t)sz, fp) : 0;
	fclose(fp);
	return b;
}

/* ------------------------------------------------------------------ */
/* The valid file                                                       */
/* ------------------------------------------------------------------ */

static unsigned char *make_valid(const char *dir, size_t *n, uint64_t *data_end)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/valid.gguf", dir);
	struct qnt__gguf_writer *w;
	qnt_status st = qnt__gguf_writer_create(NULL, path, QNT__GGUF_WRITE_CHECKSUMS, &w);
	CHECK(st == QNT_OK, "writer_create: %s", qnt__thread_error());
	if (st != QNT_OK)
		exit(1);
	static const char *const vocab[] = { "<s>", "", "caf\xc3\xa9" };
	const uint8_t flags[] = { 1, 0, 1 };
	/* [[1, 2], [3]] of INT16 */
	static const uint8_t nested[] = { 3, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2, 0,
					  3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 3, 0 };
	const struct qnt__gguf_value nv = { QNT__GGUF_ARRAY, QNT__GGUF_ARRAY, 2, nested, sizeof nested, 0 };
	st = qnt__gguf_writer_set_str(w, "general.architecture", "llama");
	st = st ? st : qnt__gguf_writer_set_u32(w, "general.alignment", 32);
	st = st ? st : qnt__gguf_writer_set_f32(w, "f", 0.5f);
	st = st ? st : qnt__gguf_writer_set_bool(w, "b", 1);
	st = st ? st : qnt__gguf_writer_set_array(w, "tokens", QNT__GGUF_STRING, 3, vocab);
	st = st ? st : qnt__gguf_writer_set_array(w, "flags", QNT__GGUF_BOOL, 3, flags);
	st = st ? st : qnt__gguf_writer_set_value(w, "nested", &nv);
	const int64_t ne0[] = { 4, 2 }, ne1[] = { 32 }, ne2[] = { 3 };
	st = st ? st : qnt__gguf_writer_add_tensor(w, "w.f32", 0, 2, ne0);
	st = st ? st : qnt__gguf_writer_add_tensor(w, "w.q4_0", 2, 1, ne1);
	st = st ? st : qnt__gguf_writer_add_tensor(w, "w.f16", 1, 1, ne2);
	unsigned char buf[64];
	for (int i = 0; i < 64; i++)
		buf[i] = (unsigned char)(i * 37 + 1);
	int64_t k;
	while (st == QNT_OK && (k = qnt__gguf_writer_next(w)) >= 0)
		st = qnt__gguf_writer_write_tensor(w, k, buf, (size_t)qnt__gguf_writer_tensor_nbytes(w, k));
	CHECK(st == QNT_OK, "writing: %s", qnt__thread_error());
	st = qnt__gguf_writer_finish(w);
	CHECK(st == QNT_OK, "finish: %s", qnt__thread_error());
	unsigned char *b = read_file(path, n);
	CHECK(b != NULL, "read back %s", path);
	if (!b)
		exit(1);
	remove(path);
	struct qnt__gguf *g;
	st = qnt__gguf_open_memory(NULL, "valid", b, *n, &g);
	CHECK(st == QNT_OK, "valid: %s", qnt__thread_error());
	if (st != QNT_OK)
		exit(1);
	const struct qnt__gguf_tensor *last = qnt__gguf_tensor_at(g, 2);
	*data_end = last->file_offset + last->nbytes;
	CHECK(qnt__gguf_verify_checksums(NULL, g) == QNT_OK, "valid: checksums: %s", qnt__thread_error());
	qnt__gguf_close(g);
	return b;
}

/* ------------------------------------------------------------------ */
/* Hand-made files                                                      */
/* ------------------------------------------------------------------ */

struct buf {
	unsigned char *p;
	size_t n, cap;
};

static void put(struct buf *b, const void *d, size_t n)
{
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			exit(2);
	}
	if (n)
		memcpy(b->p + b->n, d, n);
	b->n += n;
}

static void u32(struct buf *b, uint32_t v)
{
	unsigned char c[4];
	for (int i = 0; i < 4; i++)
		c[i] = (unsigned char)(v >> (8 * i));
	put(b, c, 4);
}

static void u64(struct buf *b, uint64_t v)
{
	unsigned char c[8];
	for (int i = 0; i < 8; i++)
		c[i] = (unsigned char)(v >> (8 * i));
	put(b, c, 8);
}

static void str(struct buf *b, const char *s)
{
	u64(b, strlen(s));
	put(b, s, strlen(s));
}

static void header(struct buf *b, uint64_t n_tensors, uint64_t n_kv)
{
	b->n = 0;
	put(b, "GGUF", 4);
	u32(b, 3);
	u64(b, n_tensors);
	u64(b, n_kv);
}

static void kv_u32(struct buf *b, const char *key, uint32_t type, uint32_t v)
{
	str(b, key);
	u32(b, type);
	u32(b, v);
}

static void tinfo(struct buf *b, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type, uint64_t off)
{
	str(b, name);
	u32(b, n_dims);
	for (uint32_t d = 0; d < n_dims; d++)
		u64(b, ne[d]);
	u32(b, type);
	u64(b, off);
}

static void pad_data(struct buf *b, size_t align, size_t data)
{
	while (b->n % align)
		put(b, "", 1);
	for (size_t i = 0; i < data; i++)
		put(b, "\x5a", 1);
}

/* Expects QNT_E_FORMAT with a message holding `text` and "(at byte
 * offset <off>)". */
static void expect_fail(const char *what, const struct buf *b, const char *text, uint64_t off)
{
	qnt_status st = try_open(what, b->p, b->n);
	char at[64];
	snprintf(at, sizeof at, "(at byte offset %" PRIu64 ")", off);
	CHECK(st == QNT_E_FORMAT && strstr(last_msg, text) && strstr(last_msg, at),
	      "%s: status %d, message '%s', expected '%s' %s", what, st, last_msg, text, at);
}

static void expect_ok(const char *what, const struct buf *b)
{
	CHECK(try_open(what, b->p, b->n) == QNT_OK, "%s: refused: %s", what, last_msg);
}

static void handmade(void)
{
	struct buf b = { 0 };
	const uint64_t ne8[] = { 8 }, ne16[] = { 16 }, ne32[] = { 32 };
	int printed = 0;
#define SHOW()                                                                                              \
	do {                                                                                               \
		if (printed++ < 6)                                                                         \
			printf("  %s\n", last_msg);                                                        \
	} while (0)

	/* magic, version */
	header(&b, 0, 0);
	b.p[0] = 'X';
	expect_fail("bad magic", &b, "bad magic 58 47 55 46", 0);
	SHOW();
	header(&b, 0, 0);
	b.p[4] = 1;
	expect_fail("version 1", &b, "version 1 is not supported", 4);
	header(&b, 0, 0);
	memcpy(b.p + 4, "\0\0\0\3", 4);
	expect_fail("big-endian", &b, "big-endian", 4);
	header(&b, 0, 0);
	b.p[4] = 4;
	expect_fail("version 4", &b, "unknown version 4", 4);
	header(&b, 0, 0);
	expect_ok("empty file", &b);
	b.n = 20;
	expect_fail("cut in the key count", &b, "the key count needs 8 bytes", 16);

	/* lying counts */
	header(&b, UINT64_MAX, 0);
	expect_fail("n_tensors 2^64-1", &b, "18446744073709551615 tensor infos cannot fit", 8);
	SHOW();
	header(&b, 0, UINT64_MAX);
	expect_fail("n_kv 2^64-1", &b, "18446744073709551615 key-value pairs cannot fit", 16);
	header(&b, 0, (uint64_t)1 << 63);
	expect_fail("n_kv 2^63", &b, "key-value pairs cannot fit", 16);
	header(&b, 0, 2);
	kv_u32(&b, "a", QNT__GGUF_UINT32, 1);
	u64(&b, 1000);
	put(&b, "abcdefghijklmnopqrst", 20);
	expect_fail("one key more than there is", &b, "key #1 needs 1000 bytes, the file has 20 left", 49);
	header(&b, 1, 1);
	kv_u32(&b, "a", QNT__GGUF_UINT32, 1);
	put(&b, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 25);
	expect_fail("a tensor name of 2^64-1 bytes", &b,
		    "the name of tensor #0 is 18446744073709551615 bytes long, more than the 64 allowed", 41);

	/* lying string lengths */
	header(&b, 0, 1);
	u64(&b, UINT64_MAX);
	put(&b, "0123456789abcdef", 16);
	expect_fail("key length 2^64-1", &b, "key #0 is 18446744073709551615 bytes long, more than the 65535", 24);
	header(&b, 0, 1);
	u64(&b, 1000);
	put(&b, "abcdefghijklmnopqrst", 20);
	expect_fail("key length past the end", &b, "key #0 needs 1000 bytes, the file has 20 left", 32);
	header(&b, 0, 1);
	u64(&b, 0);
	u32(&b, QNT__GGUF_UINT8);
	put(&b, "\0\0", 2);
	expect_fail("empty key", &b, "key #0 is empty", 24);
	header(&b, 0, 1);
	str(&b, "k");
	u32(&b, QNT__GGUF_STRING);
	u64(&b, UINT64_MAX - 3);
	put(&b, "abcd", 4);
	expect_fail("string length 2^64-4", &b, "key 'k': string length 18446744073709551612 runs past the end", 37);
	SHOW();
	header(&b, 0, 1);
	str(&b, "k");
	u32(&b, QNT__GGUF_STRING);
	u64(&b, 5);
	put(&b, "abcd", 4);
	expect_fail("string one byte short", &b, "key 'k': string length 5 runs past the end of the file (4 bytes left)",
		    37);
	header(&b, 1, 0);
	u64(&b, 65);
	for (int i = 0; i < 65; i++)
		put(&b, "n", 1);
	expect_fail("tensor name of 65 bytes", &b, "the name of tensor #0 is 65 bytes long, more than the 64", 24);
	header(&b, 1, 0);
	tinfo(&b, "a\0b", 1, ne8, 0, 0);
	b.p[24] = 3;
	expect_fail("NUL in a tensor name", &b, "the name of tensor #0 holds a NUL byte", 24);

	/* lying array lengths */
	static const uint32_t elem_types[] = { QNT__GGUF_UINT8, QNT__GGUF_UINT64, QNT__GGUF_STRING, QNT__GGUF_ARRAY };
	static const char *const elem_msgs[] = { "18446744073709551615 UINT8 elements need at least 1 bytes each",
						 "2305843009213693952 UINT64 elements need at least 8 bytes each",
						 "1152921504606846976 STRING elements need at least 8 bytes each",
						 "4294967296 ARRAY elements need at least 12 bytes each" };
	static const uint64_t counts[] = { UINT64_MAX, (uint64_t)1 << 61, (uint64_t)1 << 60, (uint64_t)1 << 32 };
	for (int i = 0; i < 4; i++) {
		header(&b, 0, 1);
		str(&b, "arr");
		u32(&b, QNT__GGUF_ARRAY);
		u32(&b, elem_types[i]);
		u64(&b, counts[i]);
		put(&b, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
		char what[64];
		snprintf(what, sizeof what, "array count, element type %u", elem_types[i]);
		expect_fail(what, &b, elem_msgs[i], 39);
	}
	SHOW();
	/* an array of strings whose second string lies */
	header(&b, 0, 1);
	str(&b, "vocab");
	u32(&b, QNT__GGUF_ARRAY);
	u32(&b, QNT__GGUF_STRING);
	u64(&b, 2);
	str(&b, "ok");
	u64(&b, 99);
	put(&b, "short", 5);
	expect_fail("second string lies", &b, "key 'vocab' element 1: string length 99 runs past", 63);
	/* a BOOL of 2, an unknown value type, an unknown element type */
	header(&b, 0, 1);
	str(&b, "flag");
	u32(&b, QNT__GGUF_BOOL);
	put(&b, "\2", 1);
	expect_fail("BOOL 2", &b, "key 'flag': BOOL value 2 is neither 0 nor 1", 40);
	header(&b, 0, 1);
	kv_u32(&b, "t", 13, 0);
	expect_fail("value type 13", &b, "key 't': unknown value type 13", 33);
	header(&b, 0, 1);
	str(&b, "t");
	u32(&b, QNT__GGUF_ARRAY);
	u32(&b, 0xffffffffu);
	u64(&b, 0);
	expect_fail("element type 2^32-1", &b, "key 't': unknown array element type 4294967295", 37);

	/* nesting: 8 levels are read, 9 are not */
	for (int depth = 8; depth <= 9; depth++) {
		header(&b, 0, 1);
		str(&b, "deep");
		u32(&b, QNT__GGUF_ARRAY);
		for (int d = 0; d < depth - 1; d++) {
			u32(&b, QNT__GGUF_ARRAY);
			u64(&b, 1);
		}
		u32(&b, QNT__GGUF_INT8);
		u64(&b, 1);
		put(&b, "\7", 1);
		if (depth == 8)
			expect_ok("arrays 8 deep", &b);
		else
			expect_fail("arrays 9 deep", &b, "key 'deep' element 0 element 0 element 0 element 0 element 0 "
				    "element 0 element 0 element 0: arrays nested deeper than 8", 40 + 8 * 12);
	}
	SHOW();

	/* alignment */
	static const uint32_t bad_aligns[] = { 0, 3, 48, 0x80000001u };
	for (int i = 0; i < 4; i++) {
		header(&b, 0, 1);
		kv_u32(&b, "general.alignment", QNT__GGUF_UINT32, bad_aligns[i]);
		char text[80];
		snprintf(text, sizeof text, "general.alignment %u is not a power of two", bad_aligns[i]);
		expect_fail("bad alignment", &b, text, 53);
	}
	header(&b, 0, 1);
	str(&b, "general.alignment");
	u32(&b, QNT__GGUF_UINT64);
	u64(&b, 32);
	expect_fail("alignment as UINT64", &b, "key 'general.alignment' has type UINT64, not UINT32", 53);
	header(&b, 1, 1);
	kv_u32(&b, "general.alignment", QNT__GGUF_UINT32, 0x80000000u);
	tinfo(&b, "t", 1, ne8, 0, 0);
	pad_data(&b, 64, 32);
	/* (the offset is where the tensor infos end) */
	expect_fail("alignment 2^31", &b, "the file ends before the data section, which starts at byte offset 2147483648",
		    90);

	/* tensor placement */
	const size_t info_at = 24;
	header(&b, 1, 0);
	tinfo(&b, "t", 1, ne8, 0, 1);
	pad_data(&b, 32, 64);
	expect_fail("misaligned tensor", &b, "tensor 't': data offset 1 is not a multiple of the alignment 32", info_at);
	SHOW();
	header(&b, 2, 0);
	tinfo(&b, "a", 1, ne16, 0, 0);
	tinfo(&b, "b", 1, ne8, 0, 32);
	pad_data(&b, 32, 96);
	expect_fail("overlapping tensors", &b, "tensor 'b' (data bytes 32..63) overlaps tensor 'a' (data bytes 0..63)",
		    info_at + 8 + 1 + 4 + 8 + 4 + 8);
	header(&b, 1, 0);
	tinfo(&b, "t", 1, ne8, 0, UINT64_MAX - 31);
	pad_data(&b, 32, 64);
	expect_fail("tensor offset 2^64-32", &b, "tensor 't': data at 18446744073709551584 + 32 bytes runs past the end",
		    info_at);
	header(&b, 1, 0);
	tinfo(&b, "t", 1, ne8, 0, 64);
	pad_data(&b, 32, 64);
	expect_fail("tensor past the end", &b, "tensor 't': data at 64 + 32 bytes runs past the end", info_at);
	header(&b, 1, 0);
	tinfo(&b, "t", 1, ne8, 0, 32);
	pad_data(&b, 32, 64);
	expect_ok("tensor at the very end", &b);
	header(&b, 1, 0);
	tinfo(&b, "t", 1, ne8, 0, 0);
	expect_fail("no data section", &b, "the file ends before the data section, which starts at byte offset 64", 57);

	/* types and dimensions */
	static const uint32_t bad_types[] = { 4, 5, 31, 36, 43, 0xffffffffu };
	for (int i = 0; i < 6; i++) {
		header(&b, 1, 0);
		tinfo(&b, "t", 1, ne32, bad_types[i], 0);
		pad_data(&b, 32, 64);
		char text[64];
		snprintf(text, sizeof text, "tensor 't': unknown ggml type %u", bad_types[i]);
		expect_fail("unknown ggml type", &b, text, info_at + 8 + 1 + 4 + 8);
	}
	const uint64_t big3[] = { (uint64_t)1 << 32, (uint64_t)1 << 32, (uint64_t)1 << 32 };
	header(&b, 1, 0);
	tinfo(&b, "t", 3, big3, 0, 0);
	pad_data(&b, 32, 64);
	expect_fail("dims product overflows", &b, "tensor 't': 4294967296 x 4294967296 x 4294967296 x 1 elements overflow",
		    info_at + 8 + 1);
	SHOW();
	const uint64_t zero_big[] = { 0, (uint64_t)1 << 62, (uint64_t)1 << 62 };
	header(&b, 1, 0);
	tinfo(&b, "t", 3, zero_big, 0, 0);
	pad_data(&b, 32, 0);
	expect_ok("a zero dimension beside huge ones (no bytes)", &b);
	const uint64_t huge[] = { (uint64_t)1 << 63 };
	header(&b, 1, 0);
	tinfo(&b, "t", 1, huge, 0, 0);
	pad_data(&b, 32, 64);
	expect_fail("dimension 2^63", &b, "tensor 't': dimension 0 has 9223372036854775808 elements", info_at + 8 + 1 + 4);
	const uint64_t bytes_over[] = { (uint64_t)1 << 62 };
	header(&b, 1, 0);
	tinfo(&b, "t", 1, bytes_over, 0, 0);
	pad_data(&b, 32, 64);
	expect_fail("byte size overflows", &b, "tensor 't': the size in bytes overflows", info_at + 8 + 1 + 4 + 8);
	const uint64_t five[] = { 1, 1, 1, 1, 1 };
	header(&b, 1, 0);
	tinfo(&b, "t", 5, five, 0, 0);
	pad_data(&b, 32, 64);
	expect_fail("5 dimensions", &b, "tensor 't': 5 dimensions, at most 4 allowed", info_at + 8 + 1);
	const uint64_t ne31[] = { 31 };
	header(&b, 1, 0);
	tinfo(&b, "t", 1, ne31, 2, 0);
	pad_data(&b, 32, 64);
	expect_fail("row not a whole block", &b, "tensor 't': 31 elements per row, not a multiple of q4_0's block of 32",
		    info_at + 8 + 1 + 4 + 8);

	/* duplicates */
	header(&b, 0, 2);
	kv_u32(&b, "k", QNT__GGUF_UINT32, 1);
	kv_u32(&b, "k", QNT__GGUF_UINT32, 2);
	expect_fail("duplicate key", &b, "key 'k' appears twice (first at byte offset 24)", 24 + 17);
	header(&b, 2, 0);
	tinfo(&b, "t", 1, ne8, 0, 0);
	tinfo(&b, "t", 1, ne8, 0, 32);
	pad_data(&b, 32, 64);
	expect_fail("duplicate tensor", &b, "tensor 't' appears twice (first at byte offset 24)", 24 + 33);
	free(b.p);
#undef SHOW
}

/* ------------------------------------------------------------------ */
/* The writer's error paths and the checksums, once each                */
/* ------------------------------------------------------------------ */

static void writer_paths(const char *dir)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/w.gguf", dir);
	struct qnt__gguf_writer *w;
	const int64_t ne[] = { 64 };
	/* abandoned after some data */
	CHECK(qnt__gguf_writer_create(NULL, path, QNT__GGUF_WRITE_CHECKSUMS, &w) == QNT_OK, "create");
	CHECK(qnt__gguf_writer_add_tensor(w, "t", 0, 1, ne) == QNT_OK, "add");
	CHECK(qnt__gguf_writer_write(w, path, 10) == QNT_OK, "write");
	qnt__gguf_writer_abort(w);
	qnt__gguf_writer_abort(NULL);
	struct stat sb;
	CHECK(stat(path, &sb) != 0 && errno == ENOENT, "abort left %s", path);
	/* finished early */
	CHECK(qnt__gguf_writer_create(NULL, path, 0, &w) == QNT_OK, "create");
	CHECK(qnt__gguf_writer_set_str(w, "k", "v") == QNT_OK, "set");
	CHECK(qnt__gguf_writer_add_tensor(w, "t", 0, 1, ne) == QNT_OK, "add");
	CHECK(qnt__gguf_writer_finish(w) == QNT_E_INVALID_ARG && strstr(qnt__thread_error(), "256 bytes of tensor data "
												 "missing"),
	      "early finish: %s", qnt__thread_error());
	CHECK(stat(path, &sb) != 0 && errno == ENOENT, "early finish left %s", path);
	/* misuse, then a good file whose checksums verify, then one corrupted */
	CHECK(qnt__gguf_writer_create(NULL, path, QNT__GGUF_WRITE_CHECKSUMS | QNT__GGUF_WRITE_NAMED_TEMP, &w) == QNT_OK,
	      "create");
	CHECK(qnt__gguf_writer_set_u32(w, "general.alignment", 12) == QNT_E_INVALID_ARG, "alignment 12");
	CHECK(qnt__gguf_writer_set_value(w, "k", NULL) == QNT_E_INVALID_ARG, "NULL value");
	CHECK(qnt__gguf_writer_set_array(w, "k", QNT__GGUF_STRING, 1, NULL) == QNT_E_INVALID_ARG, "NULL strings");
	CHECK(qnt__gguf_writer_add_tensor(w, "t", 2, 1, (const int64_t[]){ 33 }) == QNT_E_BAD_SHAPE, "q4_0 of 33");
	CHECK(qnt__gguf_writer_add_tensor(w, "t", 0, 1, ne) == QNT_OK, "add");
	CHECK(qnt__gguf_writer_add_tensor(w, "t", 0, 1, ne) == QNT_E_INVALID_ARG, "duplicate");
	for (int i = 0; i < 200; i++) { /* grows the name table */
		char name[16];
		snprintf(name, sizeof name, "e%d", i);
		CHECK(qnt__gguf_writer_add_tensor(w, name, 0, 1, (const int64_t[]){ 0 }) == QNT_OK, "add %s", name);
	}
	float data[64];
	for (int i = 0; i < 64; i++)
		data[i] = (float)i;
	CHECK(qnt__gguf_writer_write(w, data, sizeof data + 1) == QNT_E_INVALID_ARG, "too many bytes");
	CHECK(qnt__gguf_writer_write(w, data, 100) == QNT_OK && qnt__gguf_writer_write(w, (char *)data + 100, 156) == QNT_OK,
	      "write");
	CHECK(qnt__gguf_writer_next(w) == -1, "done");
	CHECK(qnt__gguf_writer_finish(w) == QNT_OK, "finish: %s", qnt__thread_error());
	size_t n;
	unsigned char *b = read_file(path, &n);
	remove(path);
	struct qnt__gguf *g;
	CHECK(b && qnt__gguf_open_memory(NULL, "w.gguf", b, n, &g) == QNT_OK, "open: %s", qnt__thread_error());
	uint64_t h;
	CHECK(qnt__gguf_stored_checksum(g, 0, &h) && h == qnt__xxh3_64(data, sizeof data), "checksum");
	CHECK(qnt__gguf_stored_checksum(g, 1, &h) && h == qnt__xxh3_64(NULL, 0), "checksum of nothing");
	CHECK(qnt__gguf_verify_checksums(NULL, g) == QNT_OK, "verify");
	const uint64_t at = qnt__gguf_tensor_at(g, 0)->file_offset;
	qnt__gguf_close(g);
	b[at + 5] ^= 1;
	CHECK(qnt__gguf_open_memory(NULL, "w.gguf", b, n, &g) == QNT_OK, "open");
	CHECK(qnt__gguf_verify_checksums(NULL, g) == QNT_E_FORMAT && strstr(qnt__thread_error(), "tensor 't'"),
	      "verify corrupted: %s", qnt__thread_error());
	qnt__gguf_close(g);
	free(b);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : ".";
	mkdir(dir, 0777);
	size_t n;
	uint64_t data_end;
	unsigned char *valid = make_valid(dir, &n, &data_end);
	CHECK(try_open("valid", valid, n) == QNT_OK, "valid file refused: %s", last_msg);

	/* every truncation */
	long trunc_format = 0;
	for (size_t len = 0; len < n; len++) {
		char what[64];
		snprintf(what, sizeof what, "truncated to %zu", len);
		qnt_status st = try_open(what, valid, len);
		if (len < data_end)
			CHECK(st == QNT_E_FORMAT, "%s of %zu: status %d", what, n, st);
		else
			CHECK(st == QNT_OK, "%s of %zu (data ends at %" PRIu64 "): %s", what, n, data_end, last_msg);
		trunc_format += st == QNT_E_FORMAT;
	}
	try_open("truncated", valid, 100);
	printf("%zu-byte valid file (data ends at %" PRIu64 "): %ld truncations refused, e.g. at 100: %s\n", n, data_end,
	       trunc_format, last_msg);

	/* every byte before the data, to 12 values */
	static const unsigned char vals[] = { 0, 1, 2, 7, 8, 9, 12, 13, 0x3f, 0x7f, 0x80, 0xff };
	struct qnt__gguf *g;
	qnt__gguf_open_memory(NULL, "v", valid, n, &g);
	const size_t hdr = (size_t)qnt__gguf_data_offset(g);
	qnt__gguf_close(g);
	unsigned char *m = malloc(n);
	long before_ok = n_ok, before_format = n_format;
	for (size_t i = 0; i < hdr; i++)
		for (size_t v = 0; v < sizeof vals; v++) {
			memcpy(m, valid, n);
			if (m[i] == vals[v])
				continue;
			m[i] = vals[v];
			try_open("byte change", m, n);
		}
	printf("%zu header bytes x %zu values: %ld accepted, %ld refused\n", hdr, sizeof vals, n_ok - before_ok,
	       n_format - before_format);

	/* random corruption */
	before_ok = n_ok;
	before_format = n_format;
	for (int iter = 0; iter < 20000; iter++) {
		memcpy(m, valid, n);
		int k = 1 + (int)(next_rand() % 8);
		for (int j = 0; j < k; j++) {
			size_t at = (size_t)(next_rand() % n);
			if (next_rand() % 4 == 0)
				at = (size_t)(next_rand() % hdr); /* bias to the header */
			m[at] = (unsigned char)next_rand();
		}
		try_open("random", m, n);
	}
	printf("20000 random corruptions: %ld accepted, %ld refused\n", n_ok - before_ok, n_format - before_format);
	free(m);
	free(valid);

	printf("hand-made files, e.g.:\n");
	handmade();
	writer_paths(dir);
	printf("%ld accepted, %ld refused with QNT_E_FORMAT in all\n", n_ok, n_format);
	if (failures) {
		printf("%d failure(s)\n", failures);
		return 1;
	}
	printf("PASS\n");
	return 0;
}
