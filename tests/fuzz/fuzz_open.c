/* SPDX-License-Identifier: MIT */
/*
 * A coverage-guided fuzz target (libFuzzer) for every reader of untrusted
 * bytes in libqnt's public API. The first byte of an input chooses what the
 * rest becomes:
 *
 *   0  a GGUF file                 qnt_model_open
 *   1  a .safetensors file         qnt_model_open
 *   2  an MLX folder: config.json (the next 2 bytes give its length, little
 *      endian) and model.safetensors (the remainder)
 *   3  a folder of shards: model.safetensors.index.json (length as for 2)
 *      and the shard a.safetensors (the remainder)
 *   4  an importance matrix file   qnt_imatrix_open
 *   5  a recipe                    qnt_recipe_parse
 *
 * A file that opens is then used as a caller would use it: every tensor's
 * info (checked for consistency: the elements are the product of the
 * shape), its first row read as floats where it is a format and the row is
 * small, its checksum, the metadata as JSON; every importance vector; the
 * recipe written back to JSON, which must parse again. Any other status
 * than QNT_OK must come with a message. Crashes, leaks and reads out of
 * bounds are the sanitizers' to find (scripts/fuzz builds this with
 * -fsanitize=fuzzer,address,undefined).
 */
#include <libqnt.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* The readers map their files, and a read past the end of a mapping stays
 * inside its last page, where AddressSanitizer cannot see it. Linked with
 * -Wl,--wrap=mmap,--wrap=mmap64 (tests/fuzz/meson.build; with
 * _FILE_OFFSET_BITS=64 glibc's headers name mmap64), libqnt's calls of mmap
 * come here and fail for files, so that the readers take their other path:
 * the file read into a malloc of its exact size, whose end ASan guards. */
void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
void *__real_mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off);
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
void *__wrap_mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off);
static int refuse_file(int fd)
{
	if (fd < 0)
		return 0;
	errno = ENODEV;
	return 1;
}
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return refuse_file(fd) ? MAP_FAILED : __real_mmap(addr, len, prot, flags, fd, off);
}
void *__wrap_mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	return refuse_file(fd) ? MAP_FAILED : __real_mmap64(addr, len, prot, flags, fd, off);
}

static char dir[64];
static char path_file[96], path_config[96], path_st[96], path_index[96], path_shard[96];
static qnt_ctx *ctx;

/* The files an input may have written. */
static void remove_files(void)
{
	const char *files[] = { path_file, path_config, path_st, path_index, path_shard };
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
		unlink(files[i]);
}

static void remove_dir(void)
{
	remove_files();
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof dir, "%s/qnt-fuzz-XXXXXX", tmp && strlen(tmp) < 32 ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		perror("fuzz_open: mkdtemp");
		abort();
	}
	snprintf(path_file, sizeof path_file, "%s/input", dir);
	snprintf(path_config, sizeof path_config, "%s/config.json", dir);
	snprintf(path_st, sizeof path_st, "%s/model.safetensors", dir);
	snprintf(path_index, sizeof path_index, "%s/model.safetensors.index.json", dir);
	snprintf(path_shard, sizeof path_shard, "%s/a.safetensors", dir);
	atexit(remove_dir);
	qnt_ctx_opts o = QNT_CTX_OPTS_INIT;
	o.n_threads = 1;
	o.backend = "cpu";
	if (qnt_ctx_create(&o, &ctx) != QNT_OK)
		abort();
	return 0;
}

static void put(const char *path, const uint8_t *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (!f || (n && fwrite(p, 1, n, f) != n) || fclose(f) != 0)
		abort();
}

/* A failed call must say why. */
static void check_status(qnt_status s)
{
	if (s != QNT_OK && qnt_ctx_last_error(ctx)[0] == '\0')
		abort();
}

static void use_model(const char *path)
{
	qnt_model *m = NULL;
	const qnt_status s = qnt_model_open(ctx, path, &m);
	check_status(s);
	if (s != QNT_OK)
		return;
	const int64_t n = qnt_model_tensor_count(m);
	for (int64_t i = 0; i < n; i++) {
		qnt_tensor_info ti = { .struct_size = sizeof ti };
		if (qnt_model_tensor_info(m, i, &ti) != QNT_OK || !ti.name || !ti.dtype || !ti.file ||
		    ti.n_dims < 0 || ti.n_dims > QNT_MAX_DIMS)
			abort();
		int64_t ne = 1;
		for (int d = 0; d < ti.n_dims; d++) {
			if (ti.shape[d] < 0)
				abort();
			ne *= ti.shape[d];
		}
		if (ne != ti.n_elements || qnt_model_find_tensor(m, ti.name) < 0)
			abort();
		const int64_t row = ti.n_dims ? ti.shape[ti.n_dims - 1] : 1;
		if (ti.type != QNT_TYPE_INVALID && ti.n_elements > 0 && row <= 65536) {
			float *out = malloc((size_t)row * sizeof *out);
			if (!out)
				abort();
			check_status(qnt_model_read_rows(ctx, m, i, 0, 1, out));
			free(out);
		}
		uint64_t stored, actual;
		const qnt_status cs = qnt_model_tensor_checksum(m, i, &stored, &actual);
		if (cs != QNT_OK && cs != QNT_E_NOT_FOUND)
			abort(); /* an opened tensor has a checksum, or the file records none */
	}
	char *json = NULL;
	if (qnt_model_metadata_json(m, 4, &json) == QNT_OK)
		qnt_free(json);
	qnt_model_close(m);
}

static void use_imatrix(void)
{
	qnt_imatrix *im = NULL;
	const qnt_status s = qnt_imatrix_open(ctx, path_file, &im);
	check_status(s);
	if (s != QNT_OK)
		return;
	const int64_t n = qnt_imatrix_count(im);
	for (int64_t i = 0; i < n; i++) {
		const char *name = qnt_imatrix_name(im, i);
		int64_t n_per_row, n_experts;
		if (!name || qnt_imatrix_shape(im, name, &n_per_row, &n_experts) != QNT_OK)
			abort();
		for (int64_t e = 0; e < n_experts; e++) {
			const float *v;
			int64_t nv;
			if (qnt_imatrix_get(im, name, e, &v, &nv) != QNT_OK || nv != n_per_row)
				abort();
			for (int64_t k = 0; k < nv; k++)
				if (!(v[k] >= 0.0f))
					abort(); /* the reader refuses NaN and negative values */
		}
	}
	qnt_imatrix_close(im);
}

static void use_recipe(const uint8_t *p, size_t n)
{
	qnt_recipe *r = NULL;
	const qnt_status s = qnt_recipe_parse(ctx, (const char *)p, n, "fuzz", &r);
	check_status(s);
	if (s != QNT_OK)
		return;
	char *json = NULL;
	if (qnt_recipe_to_json(ctx, r, &json) == QNT_OK) {
		qnt_recipe *again = NULL;
		if (qnt_recipe_parse(ctx, json, strlen(json), "fuzz (written back)", &again) != QNT_OK)
			abort(); /* what libqnt writes, it reads */
		qnt_recipe_free(again);
		qnt_free(json);
	}
	qnt_recipe_free(r);
}

/* Two files from one input: a 2-byte length, the first file, the second. */
static int split(const uint8_t *p, size_t n, const char *first, const char *second)
{
	if (n < 2)
		return 0;
	size_t a = (size_t)p[0] | (size_t)p[1] << 8;
	if (a > n - 2)
		a = n - 2;
	put(first, p + 2, a);
	put(second, p + 2 + a, n - 2 - a);
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const uint8_t *p = data + 1;
	const size_t n = size - 1;
	remove_files();
	switch (data[0] % 6) {
	case 0:
		put(path_file, p, n);
		use_model(path_file);
		break;
	case 1:
		put(path_st, p, n);
		use_model(path_st);
		break;
	case 2:
		if (split(p, n, path_config, path_st))
			use_model(dir);
		break;
	case 3:
		if (split(p, n, path_index, path_shard))
			use_model(dir);
		break;
	case 4:
		put(path_file, p, n);
		use_imatrix();
		break;
	default:
		use_recipe(p, n);
		break;
	}
	return 0;
}
