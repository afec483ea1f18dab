/* SPDX-License-Identifier: MIT */
/*
 * The safetensors reader never crashes on malformed input (run it under
 * AddressSanitizer: suite 'unit' of the ASan build does). A valid file,
 * written by libqnt's writer with checksums (verified in every accepted
 * file, with every well-formed stored checksum read), is
 *   - truncated at every length: always QNT_E_FORMAT;
 *   - changed at every header byte, to each of 20 values: QNT_OK or
 *     QNT_E_FORMAT, never anything else;
 *   - corrupted at random (1 to 8 bytes anywhere, 30000 times, fixed seed);
 * and hand-made headers with huge numbers and overflowing sizes are refused.
 * Every buffer is a malloc of its exact size, so that a read past its end
 * is caught; every accepted file has all its tensors inside the buffer, and
 * their bytes are read. Every QNT_E_FORMAT message names the file and a
 * byte offset.
 * Then the writers' and the index reader's success and error paths once
 * each, for the sanitizers' leak and bounds checks (the behaviour itself is
 * tested against the reference in test_safetensors.py).
 * Usage: fuzz_safetensors TMPDIR
 */
#include "qnt_internal.h"

#include "../../lib/io/atomic_file.h"
#include "../../lib/io/safetensors.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

static uint64_t rng = 0x5eed5afe7e115ull;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Opens a copy of data[0..n) and checks the result; returns the status. */
static qnt_status try_open(const char *what, const unsigned char *data, size_t n)
{
	unsigned char *copy = malloc(n ? n : 1);
	if (!copy)
		exit(2);
	if (n)
		memcpy(copy, data, n);
	struct qnt__st_file *f = NULL;
	qnt_status st = qnt__st_open_memory(NULL, "fuzz.safetensors", copy, n, &f);
	if (st == QNT_OK) {
		n_ok++;
		uint64_t sum = 0, covered = 0;
		for (int64_t i = 0; i < qnt__st_n_tensors(f); i++) {
			const struct qnt__st_tensor *t = qnt__st_tensor_at(f, i);
			CHECK(t->file_offset >= qnt__st_data_offset(f) && t->file_offset + t->nbytes <= n,
			      "%s: tensor '%s' outside the buffer", what, t->name);
			CHECK(qnt__st_find(f, t->name) == t, "%s: find('%s')", what, t->name);
			for (uint64_t k = 0; k < t->nbytes; k++)
				sum += ((const unsigned char *)t->data)[k];
			covered += t->nbytes;
		}
		CHECK(covered == n - qnt__st_data_offset(f), "%s: tensors cover %" PRIu64 " of %zu bytes", what,
		      covered, n - (size_t)qnt__st_data_offset(f));
		for (int64_t i = 0; i < qnt__st_n_metadata(f); i++) {
			const char *k, *v;
			qnt__st_metadata_at(f, i, &k, &v);
			sum += strlen(k) + strlen(v);
		}
		/* the checksums: all well-formed ones are read, mismatches named */
		uint64_t h;
		for (int64_t i = 0; i < qnt__st_n_tensors(f); i++)
			sum += qnt__st_stored_checksum(f, i, &h);
		qnt_status vs = qnt__st_verify_checksums(NULL, f);
		CHECK(vs == QNT_OK || vs == QNT_E_FORMAT || vs == QNT_E_NOT_FOUND, "%s: verify %d", what, vs);
		(void)sum;
		qnt__st_close(f);
	} else {
		CHECK(f == NULL, "%s: handle set on failure", what);
		CHECK(st == QNT_E_FORMAT, "%s: status %d (%s)", what, st, qnt__thread_error());
		CHECK(strstr(qnt__thread_error(), "fuzz.safetensors: safetensors: ") &&
			      strstr(qnt__thread_error(), "(at byte offset "),
		      "%s: message '%s'", what, qnt__thread_error());
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
	*n = fread(b, 1, (size_t)sz, fp);
	fclose(fp);
	return b;
}

/* A file with a bit of everything, through the writer. */
static unsigned char *make_valid(const char *dir, size_t *n)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/valid.safetensors", dir);
	struct qnt__st_writer *w;
	qnt_status st = qnt__st_writer_create(NULL, path, QNT__ST_WRITE_SORTED | QNT__ST_WRITE_CHECKSUMS, &w);
	CHECK(st == QNT_OK, "writer_create: %s", qnt__thread_error());
	if (st != QNT_OK)
		exit(1);
	uint64_t s1[] = { 3, 4 }, s2[] = { 2, 0, 5 }, s3[] = { 7 }, s4[] = { 1, 1, 1, 1, 1, 1, 1, 2 }, s5[] = { 6 };
	qnt__st_writer_set_metadata(w, "format", "mlx");
	qnt__st_writer_set_metadata(w, "note", "caf\xc3\xa9 \"quoted\"");
	qnt__st_writer_add(w, "model.w", QNT__ST_F32, 2, s1);
	qnt__st_writer_add(w, "empty", QNT__ST_BF16, 3, s2);
	qnt__st_writer_add(w, "scalar", QNT__ST_I64, 0, NULL);
	qnt__st_writer_add(w, "bytes", QNT__ST_U8, 1, s3);
	qnt__st_writer_add(w, "eight.d", QNT__ST_F16, 8, s4);
	qnt__st_writer_add(w, "fp4", QNT__ST_F4, 1, s5);
	unsigned char buf[64];
	for (int i = 0; i < 64; i++)
		buf[i] = (unsigned char)(i * 37 + 1);
	int64_t k;
	while ((k = qnt__st_writer_next(w)) >= 0) {
		static const size_t sizes[] = { 48, 0, 8, 7, 4, 3 };
		st = qnt__st_writer_write(w, buf, sizes[k]);
		CHECK(st == QNT_OK, "write: %s", qnt__thread_error());
	}
	st = qnt__st_writer_finish(w);
	CHECK(st == QNT_OK, "finish: %s", qnt__thread_error());
	unsigned char *b = read_file(path, n);
	CHECK(b != NULL, "read back %s", path);
	if (!b)
		exit(1);
	remove(path);
	return b;
}

static void handmade(void)
{
	static const char *headers[] = {
		"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,18446744073709551615]}}",
		"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,9223372036854775807]}}",
		"{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,4]}}",
		"{\"a\":{\"dtype\":\"F64\",\"shape\":[4611686018427387904],\"data_offsets\":[0,4]}}",
		"{\"a\":{\"dtype\":\"U8\",\"shape\":[9223372036854775807,2],\"data_offsets\":[0,4]}}",
		"{\"a\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}",
		"{\"a\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}",
		"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}",
		"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}",
		"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}",
		"{\"a\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}}",
		"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"a\":{\"dtype\":\"F32\",\"shape\":[1],"
		"\"data_offsets\":[0,4]}}",
		"{\"__metadata__\":{\"k\":1},\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
		"{\"__metadata__\":[],\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}",
		"{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,99999999999999999999999]}}",
		"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
		"{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,"
		"1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}",
	};
	for (size_t i = 0; i < sizeof headers / sizeof *headers; i++) {
		size_t hl = strlen(headers[i]);
		unsigned char *b = calloc(1, 8 + hl + 4);
		for (int k = 0; k < 8; k++)
			b[k] = (unsigned char)((uint64_t)hl >> (8 * k));
		memcpy(b + 8, headers[i], hl);
		char what[32];
		snprintf(what, sizeof what, "handmade %zu", i);
		CHECK(try_open(what, b, 8 + hl + 4) == QNT_E_FORMAT, "%s accepted", what);
		free(b);
	}
	/* Huge header lengths. */
	static const uint64_t lens[] = { UINT64_MAX, (uint64_t)1 << 63, 100000001, 100000000, 24, 9 };
	for (size_t i = 0; i < sizeof lens / sizeof *lens; i++) {
		unsigned char b[24] = { 0 };
		for (int k = 0; k < 8; k++)
			b[k] = (unsigned char)(lens[i] >> (8 * k));
		memcpy(b + 8, "{}", 2);
		CHECK(try_open("huge header length", b, sizeof b) == QNT_E_FORMAT, "length %" PRIu64 " accepted", lens[i]);
	}
}

static void write_text(const char *path, const char *text)
{
	FILE *fp = fopen(path, "wb");
	if (fp) {
		fputs(text, fp);
		fclose(fp);
	}
}

static void writers(const char *dir)
{
	char path[8192], sub[4096];
	uint64_t shape[] = { 40 };
	unsigned char buf[64] = { 0 };
	struct qnt__st_writer *w;
	/* abandoned before and after the header, refused calls, an incomplete finish */
	snprintf(path, sizeof path, "%s/w.safetensors", dir);
	CHECK(qnt__st_writer_create(NULL, path, 0, &w) == QNT_OK, "create");
	qnt__st_writer_set_metadata(w, "k", "v");
	qnt__st_writer_add(w, "a", QNT__ST_U8, 1, shape);
	qnt__st_writer_abort(w);
	CHECK(qnt__st_writer_create(NULL, path, QNT__ST_WRITE_NAMED_TEMP, &w) == QNT_OK, "create");
	qnt__st_writer_add(w, "a", QNT__ST_U8, 1, shape);
	CHECK(qnt__st_writer_add(w, "a", QNT__ST_U8, 1, shape) == QNT_E_INVALID_ARG, "duplicate");
	CHECK(qnt__st_writer_add(w, "b", 99, 1, shape) == QNT_E_INVALID_ARG, "dtype");
	qnt__st_writer_write(w, buf, 10);
	qnt__st_writer_abort(w);
	CHECK(qnt__st_writer_create(NULL, path, 0, &w) == QNT_OK, "create");
	qnt__st_writer_add(w, "a", QNT__ST_U8, 1, shape);
	qnt__st_writer_write(w, buf, 10);
	CHECK(qnt__st_writer_finish(w) == QNT_E_INVALID_ARG, "incomplete finish");
	/* sharded: write, read back through the index, abandon another */
	snprintf(sub, sizeof sub, "%.4000s/shards", dir);
	mkdir(sub, 0777);
	struct qnt__st_shards_opts o = { 100, QNT__ST_WRITE_SORTED, 1234 };
	struct qnt__st_shards *s;
	for (int round = 0; round < 2; round++) {
		CHECK(qnt__st_shards_create(NULL, sub, &o, &s) == QNT_OK, "shards create");
		qnt__st_shards_set_metadata(s, "format", "mlx");
		for (int i = 0; i < 6; i++) {
			char name[16];
			snprintf(name, sizeof name, "t%d", i);
			qnt__st_shards_add(s, name, QNT__ST_U8, 1, shape);
		}
		if (round == 1) {
			qnt__st_shards_write(s, buf, 50);
			qnt__st_shards_abort(s);
			break;
		}
		int64_t k;
		while ((k = qnt__st_shards_next(s)) >= 0)
			CHECK(qnt__st_shards_write_tensor(s, k, buf, 40) == QNT_OK, "shards write: %s", qnt__thread_error());
		CHECK(qnt__st_shards_finish(s) == QNT_OK, "shards finish: %s", qnt__thread_error());
	}
	snprintf(path, sizeof path, "%s/%s", sub, QNT__ST_INDEX_NAME);
	for (uint32_t flags = 0; flags < 2; flags++) {
		struct qnt__st_index *x;
		CHECK(qnt__st_index_open(NULL, path, flags, &x) == QNT_OK, "index open: %s", qnt__thread_error());
		if (!x)
			continue;
		CHECK(qnt__st_index_n_shards(x) == 3 && qnt__st_index_n_tensors(x) == 6 &&
			      qnt__st_index_total_size(x) == 240,
		      "index counts");
		const struct qnt__st_tensor *t;
		CHECK(qnt__st_index_find(NULL, x, "t5", &t, NULL) == QNT_OK && t->nbytes == 40, "find");
		CHECK(qnt__st_index_find(NULL, x, "t9", &t, NULL) == QNT_E_NOT_FOUND, "find missing");
		CHECK(qnt__st_index_verify(NULL, x) == QNT_OK, "verify");
		qnt__st_index_close(x);
	}
	static const char *bad[] = {
		"{\"weight_map\": {\"t0\": \"model-00001-of-00003.safetensors\", \"zz\": \"model-00001-of-00003.safetensors\"}}",
		"{\"weight_map\": {\"t0\": \"../x\"}}",
		"{\"weight_map\": {\"t0\": 1}}",
		"{\"metadata\": [], \"weight_map\": {}}",
		"{\"weight_map\": {\"t0\": \"nope.safetensors\"}}",
		"{\"weight_map\": {\"t0\": \"model-00001-of-00003.safetensors\"}}",
		"[",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		snprintf(path, sizeof path, "%s/bad.index.json", sub);
		write_text(path, bad[i]);
		struct qnt__st_index *x;
		qnt_status st = qnt__st_index_open(NULL, path, QNT__ST_INDEX_OPEN_ALL, &x);
		CHECK(st == QNT_E_FORMAT || st == QNT_E_NOT_FOUND, "bad index %zu: %d %s", i, st, qnt__thread_error());
		CHECK(x == NULL, "bad index handle");
	}
	/* the atomic file */
	struct qnt__afile *f;
	snprintf(path, sizeof path, "%s/a.bin", dir);
	CHECK(qnt__afile_create(NULL, path, 0, &f) == QNT_OK, "afile");
	qnt__afile_write(f, buf, sizeof buf);
	qnt__afile_abort(f);
	CHECK(qnt__afile_create(NULL, path, QNT__AFILE_NAMED_TEMP, &f) == QNT_OK, "afile");
	qnt__afile_write(f, buf, sizeof buf);
	CHECK(qnt__afile_pwrite(f, "x", 1, 3) == QNT_OK, "pwrite");
	CHECK(qnt__afile_commit(f) == QNT_OK, "commit");
	remove(path);
	static const char *left[] = { "bad.index.json", QNT__ST_INDEX_NAME, "model-00001-of-00003.safetensors",
				      "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors" };
	for (size_t i = 0; i < sizeof left / sizeof *left; i++) {
		snprintf(path, sizeof path, "%s/%s", sub, left[i]);
		remove(path);
	}
	CHECK(rmdir(sub) == 0, "%s: something was left behind", sub);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : ".";
	if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
		perror(dir);
		return 1;
	}
	size_t n;
	unsigned char *valid = make_valid(dir, &n);
	CHECK(try_open("valid", valid, n) == QNT_OK, "the valid file: %s", qnt__thread_error());
	uint64_t hl = 0;
	for (int k = 7; k >= 0; k--)
		hl = hl << 8 | valid[k];
	CHECK(hl % 8 == 0 && 8 + hl <= n, "header length %" PRIu64, hl);

	/* Every truncation. */
	for (size_t len = 0; len < n; len++) {
		char what[48];
		snprintf(what, sizeof what, "truncated to %zu", len);
		CHECK(try_open(what, valid, len) == QNT_E_FORMAT, "%s accepted", what);
	}
	/* Every header byte (and the length field), 20 values each. */
	static const unsigned char vals[] = { 0x00, 0xff, '"', '{', '}', '[', ']', ',', ':', '0', '9', ' ',
					      '-', '\\', 'a', 0x80, 0xc3, 'e', '.', 0x7f };
	unsigned char *m = malloc(n);
	for (size_t pos = 0; pos < 8 + hl; pos++)
		for (size_t v = 0; v < sizeof vals; v++) {
			memcpy(m, valid, n);
			m[pos] = vals[v];
			try_open("header byte", m, n);
		}
	/* Random corruptions. */
	for (int iter = 0; iter < 30000; iter++) {
		memcpy(m, valid, n);
		int k = 1 + (int)(next_rand() % 8);
		for (int j = 0; j < k; j++) {
			size_t pos = (iter & 1) ? next_rand() % (8 + hl) : next_rand() % n;
			m[pos] = (unsigned char)next_rand();
		}
		size_t len = (iter % 7 == 0) ? next_rand() % (n + 1) : n;
		try_open("random", m, len);
	}
	free(m);
	handmade();

	/* Files that do not exist or are not files. */
	struct qnt__st_file *f;
	char path[4096];
	snprintf(path, sizeof path, "%s/does-not-exist.safetensors", dir);
	CHECK(qnt__st_open(NULL, path, &f) == QNT_E_NOT_FOUND, "missing file: %s", qnt__thread_error());
	CHECK(qnt__st_open(NULL, dir, &f) == QNT_E_IO, "directory: %s", qnt__thread_error());
	free(valid);
	writers(dir);
	printf("%ld accepted, %ld refused with QNT_E_FORMAT, %d failure(s)\n", n_ok, n_format, failures);
	return failures ? 1 : 0;
}
