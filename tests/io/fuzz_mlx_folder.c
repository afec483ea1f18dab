/* SPDX-License-Identifier: MIT */
/*
 * The MLX folder reader never crashes on malformed folders (run it under
 * AddressSanitizer: suite 'unit' of the ASan build does). A valid folder,
 * written by libqnt's writer (affine, mxfp4, nvfp4 experts with global
 * scales, a false entry, an int tensor; three shards with an index), has
 *   - each byte of config.json and of the index set to 12 values;
 *   - each byte of a shard's header set to 6 values, and the shard cut short;
 *   - each file removed;
 * and each time the reader returns QNT_OK or an error status with a message
 * that names the folder, never anything else. Every folder it accepts is
 * consistent: each quantized tensor's parts hold exactly the bytes its
 * logical shape and settings need, and dequantizing all of it succeeds
 * (reading every byte, which the sanitizer checks).
 * Usage: fuzz_mlx_folder TMPDIR
 */
#include "qnt_internal.h"

#include "../../lib/io/mlx_folder.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int failures;
static long n_ok, n_refused;
static qnt_ctx *ctx1; /* one thread: thousands of small dequantizations */

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

static uint64_t rng = 0x6d6c7864697275ull;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static unsigned char *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long len = ftell(f);
	fseek(f, 0, SEEK_SET);
	unsigned char *b = malloc(len > 0 ? (size_t)len : 1);
	if (b && fread(b, 1, (size_t)len, f) != (size_t)len) {
		free(b);
		b = NULL;
	}
	fclose(f);
	*n = (size_t)len;
	return b;
}

/* Writes b over the file (in place when it is n bytes long already: a
 * truncating rewrite costs a flush on ext4, thousands of times here). */
static void spit(const char *path, const unsigned char *b, size_t n)
{
	struct stat sb;
	FILE *f = fopen(path, stat(path, &sb) == 0 && (size_t)sb.st_size == n ? "r+b" : "wb");
	if (!f || fwrite(b, 1, n, f) != n) {
		perror(path);
		exit(1);
	}
	fclose(f);
}

static float frand(void)
{
	return (float)((int64_t)(next_rand() % 20001) - 10000) / 10000.0f;
}

/* Quantizes rows x n random values of `dtype` with p and writes the parts. */
static void put_quantized(struct qnt__mlxdir_writer *w, int64_t index, qnt_mlx_params *p, int64_t rows, int64_t n,
			  const float *gscale, int64_t n_mats)
{
	size_t es = p->dtype == QNT_TYPE_F32 ? 4 : 2;
	size_t ss = p->mode == QNT_MLX_AFFINE ? es : 1;
	unsigned char *src = malloc((size_t)(rows * n) * es);
	uint32_t *wq = malloc((size_t)(rows * n * p->bits / 32) * 4);
	unsigned char *sc = malloc((size_t)(rows * n / p->group_size) * ss);
	unsigned char *bi = p->mode == QNT_MLX_AFFINE ? malloc((size_t)(rows * n / p->group_size) * ss) : NULL;
	for (int64_t i = 0; i < rows * n; i++) {
		float v = frand();
		if (es == 4)
			memcpy(src + 4 * i, &v, 4);
		else {
			uint32_t u;
			memcpy(&u, &v, 4);
			uint16_t h = (uint16_t)(u >> 16);
			memcpy(src + 2 * i, &h, 2);
		}
	}
	int64_t per = rows / n_mats;
	for (int64_t m = 0; m < n_mats; m++) {
		if (gscale) {
			p->flags = QNT_MLX_FLAG_GLOBAL_SCALE;
			p->global_scale = gscale[m];
		}
		qnt_status st = qnt_mlx_quantize(NULL, p, src + (size_t)(m * per * n) * es, per, n,
						 wq + m * per * n * p->bits / 32, sc + (size_t)(m * per * n / p->group_size) * ss,
						 bi ? bi + (size_t)(m * per * n / p->group_size) * ss : NULL);
		CHECK(st == QNT_OK, "quantize: %s", qnt__thread_error());
	}
	CHECK(qnt__mlxdir_writer_write_part(w, index, QNT__MLXDIR_PART_CODES, wq, (size_t)(rows * n * p->bits / 32) * 4) ==
		      QNT_OK,
	      "codes: %s", qnt__thread_error());
	CHECK(qnt__mlxdir_writer_write_part(w, index, QNT__MLXDIR_PART_SCALES, sc,
					    (size_t)(rows * n / p->group_size) * ss) == QNT_OK,
	      "scales: %s", qnt__thread_error());
	if (bi)
		CHECK(qnt__mlxdir_writer_write_part(w, index, QNT__MLXDIR_PART_BIASES, bi,
						    (size_t)(rows * n / p->group_size) * ss) == QNT_OK,
		      "biases: %s", qnt__thread_error());
	if (gscale)
		CHECK(qnt__mlxdir_writer_write_part(w, index, QNT__MLXDIR_PART_GLOBAL_SCALE, gscale,
						    (size_t)n_mats * 4) == QNT_OK,
		      "global scale: %s", qnt__thread_error());
	free(src);
	free(wq);
	free(sc);
	free(bi);
}

static void make_folder(const char *dir)
{
	struct qnt__mlxdir_writer *w;
	const char *cfg = "{\"model_type\": \"llama\", \"rms_norm_eps\": 1e-05, \"layers\": [1, 2]}";
	CHECK(qnt__mlxdir_writer_create(NULL, dir, cfg, 300, &w) == QNT_OK, "create: %s", qnt__thread_error());
	int64_t iq, if4, ie, in, ib;
	uint64_t sq[2] = { 8, 128 }, sf[2] = { 4, 64 }, se[3] = { 2, 4, 32 }, sn[1] = { 16 }, sb[1] = { 3 };
	CHECK(qnt__mlxdir_writer_set_quantization(w, QNT_MLX_AFFINE, 4, 64) == QNT_OK, "%s", qnt__thread_error());
	CHECK(qnt__mlxdir_writer_add(w, "m.q.weight", qnt_type_by_name("mlx:affine:4:64:bf16"), 2, sq, 0, &iq) ==
		      QNT_OK,
	      "%s", qnt__thread_error());
	CHECK(qnt__mlxdir_writer_add(w, "m.f.weight", qnt_type_by_name("mlx:mxfp4:bf16"), 2, sf, 0, &if4) == QNT_OK,
	      "%s", qnt__thread_error());
	CHECK(qnt__mlxdir_writer_add(w, "m.e.weight", qnt_type_by_name("mlx:nvfp4:bf16"), 3, se,
				     QNT__MLXDIR_ADD_GLOBAL_SCALE, &ie) == QNT_OK,
	      "%s", qnt__thread_error());
	CHECK(qnt__mlxdir_writer_add(w, "m.n.weight", QNT_TYPE_F32, 1, sn, QNT__MLXDIR_ADD_NOT_QUANTIZED, &in) == QNT_OK,
	      "%s", qnt__thread_error());
	CHECK(qnt__mlxdir_writer_add_raw(w, "m.b", QNT__ST_I32, 1, sb, 0, &ib) == QNT_OK, "%s", qnt__thread_error());
	qnt_mlx_params p = QNT_MLX_PARAMS_INIT;
	p.bits = 4;
	p.group_size = 64;
	put_quantized(w, iq, &p, 8, 128, NULL, 1);
	qnt_mlx_params pf = QNT_MLX_PARAMS_INIT;
	pf.mode = QNT_MLX_MXFP4;
	pf.bits = 4;
	pf.group_size = 32;
	put_quantized(w, if4, &pf, 4, 64, NULL, 1);
	qnt_mlx_params pe = QNT_MLX_PARAMS_INIT;
	pe.mode = QNT_MLX_NVFP4;
	pe.bits = 4;
	pe.group_size = 16;
	const float gs[2] = { 0.75f, 1.5f };
	put_quantized(w, ie, &pe, 8, 32, gs, 2);
	float nrm[16];
	for (int i = 0; i < 16; i++)
		nrm[i] = frand();
	int32_t b[3] = { 1, -2, 3 };
	CHECK(qnt__mlxdir_writer_write_part(w, in, QNT__MLXDIR_PART_CODES, nrm, sizeof nrm) == QNT_OK, "%s",
	      qnt__thread_error());
	CHECK(qnt__mlxdir_writer_write_part(w, ib, QNT__MLXDIR_PART_CODES, b, sizeof b) == QNT_OK, "%s",
	      qnt__thread_error());
	CHECK(qnt__mlxdir_writer_finish(w) == QNT_OK, "finish: %s", qnt__thread_error());
}

/* Opens the folder; checks the outcome; returns the status. */
static qnt_status try_open(const char *dir, const char *what)
{
	struct qnt__mlxdir *d;
	qnt_status st = qnt__mlxdir_open(NULL, dir, &d);
	if (st != QNT_OK) {
		n_refused++;
		CHECK(st == QNT_E_FORMAT || st == QNT_E_NOT_FOUND || st == QNT_E_UNSUPPORTED,
		      "%s: status %d (%s)", what, (int)st, qnt__thread_error());
		CHECK(strncmp(qnt__thread_error(), dir, strlen(dir)) == 0, "%s: message does not name the folder: %s",
		      what, qnt__thread_error());
		return st;
	}
	n_ok++;
	for (int64_t i = 0; i < qnt__mlxdir_n_tensors(d); i++) {
		const struct qnt__mlxdir_tensor *t = qnt__mlxdir_tensor_at(d, i);
		if (!t->quantized) {
			CHECK(t->parts[QNT__MLXDIR_PART_CODES] && t->parts[QNT__MLXDIR_PART_CODES]->nelements == t->nelements,
			      "%s: %s: plain tensor", what, t->name);
			continue;
		}
		int64_t rows = qnt__mlxdir_tensor_rows(t);
		uint64_t in = t->shape[t->n_dims - 1];
		uint64_t ss = t->mode == QNT_MLX_AFFINE ? qnt__st_dtype_bits(t->scale_dtype) / 8 : 1;
		CHECK(t->parts[QNT__MLXDIR_PART_CODES]->nbytes == (uint64_t)rows * in * (uint64_t)t->bits / 8,
		      "%s: %s: codes bytes", what, t->name);
		CHECK(t->parts[QNT__MLXDIR_PART_SCALES]->nbytes == (uint64_t)rows * in / (uint64_t)t->group_size * ss,
		      "%s: %s: scales bytes", what, t->name);
		CHECK((t->parts[QNT__MLXDIR_PART_BIASES] != NULL) == (t->mode == QNT_MLX_AFFINE), "%s: %s: biases", what,
		      t->name);
		if (rows * (int64_t)in > (1 << 22))
			continue;
		float *out = malloc((size_t)(rows * (int64_t)in) * sizeof *out + 1);
		qnt_status ds = qnt__mlxdir_dequantize(ctx1, t, 0, rows, QNT_TYPE_F32, out);
		CHECK(ds == QNT_OK, "%s: %s: dequantize: %s", what, t->name, qnt__thread_error());
		free(out);
	}
	qnt__mlxdir_close(d);
	return st;
}

static void mutate_bytes(const char *dir, const char *name, size_t limit, const unsigned char *vals, size_t nv)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	size_t n;
	unsigned char *orig = slurp(path, &n);
	CHECK(orig != NULL, "%s: cannot read", path);
	if (!orig)
		return;
	unsigned char *m = malloc(n);
	size_t end = limit && limit < n ? limit : n;
	for (size_t pos = 0; pos < end; pos++)
		for (size_t v = 0; v < nv; v++) {
			if (orig[pos] == vals[v])
				continue;
			memcpy(m, orig, n);
			m[pos] = vals[v];
			spit(path, m, n);
			char what[256];
			snprintf(what, sizeof what, "%s byte %zu = 0x%02x", name, pos, vals[v]);
			try_open(dir, what);
		}
	/* cut short (shrinking: no rewrite) */
	spit(path, orig, n);
	for (size_t len = n - 1; len < n; len = len > 8 ? len - 1 - len / 8 : len - 1) {
		CHECK(truncate(path, (off_t)len) == 0, "truncate %s", path);
		char what[256];
		snprintf(what, sizeof what, "%s cut to %zu bytes", name, len);
		CHECK(try_open(dir, what) != QNT_OK || strcmp(name, "config.json") == 0, "%s accepted", what);
	}
	spit(path, orig, n);
	free(m);
	free(orig);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "fuzz-mlx-folder";
	if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
		perror(dir);
		return 1;
	}
	qnt_ctx_opts o = QNT_CTX_OPTS_INIT;
	o.n_threads = 1;
	if (qnt_ctx_create(&o, &ctx1) != QNT_OK) {
		fprintf(stderr, "qnt_ctx_create: %s\n", qnt_ctx_last_error(NULL));
		return 1;
	}
	make_folder(dir);
	CHECK(try_open(dir, "the valid folder") == QNT_OK, "the valid folder: %s", qnt__thread_error());
	static const unsigned char json_vals[] = { '{', '}', '"', ':', ',', '0', '9', '-', ' ', 'x', 0x00, 0xc3 };
	mutate_bytes(dir, "config.json", 0, json_vals, sizeof json_vals);
	mutate_bytes(dir, "model.safetensors.index.json", 0, json_vals, sizeof json_vals);
	static const unsigned char hdr_vals[] = { '"', '0', '9', ',', 0x00, 'U' };
	static const char *const shards[] = { "model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
					      "model-00003-of-00003.safetensors" };
	for (int s = 0; s < 3; s++) {
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", dir, shards[s]);
		size_t n;
		unsigned char *b = slurp(path, &n);
		CHECK(b != NULL, "%s missing: the writer did not make three shards", path);
		if (!b)
			continue;
		uint64_t hl = 0;
		for (int k = 7; k >= 0; k--)
			hl = hl << 8 | b[k];
		free(b);
		mutate_bytes(dir, shards[s], (size_t)(8 + hl), hdr_vals, sizeof hdr_vals);
	}
	/* each file removed */
	static const char *const files[] = { "config.json", "model.safetensors.index.json",
					     "model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
					     "model-00003-of-00003.safetensors" };
	for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
		char path[4096], moved[4200];
		snprintf(path, sizeof path, "%s/%s", dir, files[i]);
		snprintf(moved, sizeof moved, "%s/../%s.moved", dir, files[i]);
		CHECK(rename(path, moved) == 0, "rename %s", path);
		qnt_status st = try_open(dir, files[i]);
		/* without the index, the three shards are globbed: still valid */
		CHECK((st == QNT_OK) == (i == 1), "%s removed: status %d (%s)", files[i], (int)st, qnt__thread_error());
		CHECK(rename(moved, path) == 0, "rename back %s", path);
	}
	CHECK(try_open(dir, "the valid folder again") == QNT_OK, "%s", qnt__thread_error());
	qnt_ctx_destroy(ctx1);
	printf("%ld accepted, %ld refused, %d failure(s)\n", n_ok, n_refused, failures);
	return failures ? 1 : 0;
}
