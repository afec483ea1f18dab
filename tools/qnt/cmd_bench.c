/* SPDX-License-Identifier: MIT */
/* qnt bench: quantize a generated tensor in every format and report bits per
 * weight, relative RMSE and throughput (medians of several repetitions);
 * the matrix-vector (GEMV) and matrix-matrix (GEMM) products of a square
 * matrix in each format, next to the machine's read bandwidth. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "qnt.h"

static const char bench_help[] =
	"Usage: qnt bench [OPTIONS]\n\n"
	"Generates a seeded tensor, quantizes it to each format and dequantizes it\n"
	"back, and prints per format: bits per weight, relative RMSE\n"
	"sqrt(sum((x-x^)^2)/sum(x^2)) of the reference rounding and of libqnt's\n"
	"search (importance weights all ones), and the throughput of quantize\n"
	"(MB/s of f32 in) and dequantize (MB/s of f32 out), medians of --reps runs.\n"
	"Then, per format, qnt_matmul with an N x N matrix (--matmul-n): GEMV, one\n"
	"column (GB/s of weight bytes read, ns per output row), the same GEMV on\n"
	"the matrix prepared once in the backend's layout (qnt_matrix_prepare),\n"
	"and GEMM with --gemm-cols columns (GFLOP/s, 2 N^2 cols / s); and the read\n"
	"bandwidth of the machine (a sum over a buffer twice the last-level cache,\n"
	"on the same threads), the limit a GEMV of weights not in cache can reach.\n\n"
	"  -t, --type T[,T...]  formats to run (default: every quantizable format)\n"
	"  -r, --rows N         rows of the tensor (default 256)\n"
	"  -c, --cols N         elements per row (default 4096)\n"
	"  -n, --threads N      threads (default: QNT_NUM_THREADS or all CPUs)\n"
	"      --reps N         repetitions per measurement (default 5)\n"
	"      --dist D         gaussian (default) or student (t, 3 d.o.f.: heavy tails)\n"
	"      --seed N         generator seed (default 1)\n"
	"      --matmul-n N     rows = columns of the product matrix (default 4096;\n"
	"                       0: no products, no bandwidth line)\n"
	"      --gemm-cols N    columns of the GEMM (default 128; 0: no GEMM)\n"
	"      --bandwidth-mb N buffer of the read-bandwidth sum (default: twice the\n"
	"                       last-level cache, 64 MB to 1 GB)\n"
	"  -j, --json           machine-readable output\n"
	"  -q, --quiet          no progress line\n"
	"  -h, --help           this help\n";

/* xorshift64* and Box-Muller: the same data on every machine. */
static uint64_t rng_state;
static double rnd_uniform(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (double)((rng_state * 0x2545F4914F6CDD1DULL) >> 11) * 0x1p-53;
}
static double rnd_normal(void)
{
	double u = rnd_uniform(), v = rnd_uniform();
	return sqrt(-2.0 * log(u > 0 ? u : 0x1p-60)) * cos(2.0 * M_PI * v);
}
static double rnd_student3(void)
{
	double z = rnd_normal(), c = 0;
	for (int k = 0; k < 3; k++) {
		double g = rnd_normal();
		c += g * g;
	}
	return z / sqrt(c / 3.0);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double rel_rmse(const float *x, const float *y, size_t n)
{
	double num = 0, den = 0;
	for (size_t i = 0; i < n; i++) {
		double d = (double)x[i] - (double)y[i];
		num += d * d;
		den += (double)x[i] * x[i];
	}
	return den > 0 ? sqrt(num / den) : 0;
}

struct result {
	const char *name;
	double bpw, rmse, rmse_imp, q_mbs, q_imp_mbs, dq_mbs;
	double gemv_gbs, gemv_ns_row, gemm_gflops; /* 0: not measured */
	double prep_gbs;                           /* GEMV of the prepared matrix; 0: not measured */
	char layout[32];                           /* qnt_matrix_layout of the prepared matrix */
};

static int run_type(qnt_ctx *ctx, qnt_type t, const float *x, float *y, void *q, const float *ones, long rows,
		    long cols, int reps, struct result *r)
{
	qnt_type_info ti = QNT_TYPE_INFO_INIT;
	qnt_type_get_info(t, &ti);
	double *tq = calloc((size_t)reps, sizeof *tq), *td = calloc((size_t)reps, sizeof *td);
	if (!tq || !td) {
		free(tq);
		free(td);
		return die("out of memory");
	}
	const double mb = (double)rows * (double)cols * sizeof(float) / 1e6;
	r->name = ti.name;
	r->bpw = ti.bits_per_weight;
	for (int i = 0; i < reps; i++) {
		uint64_t t0 = uv_hrtime();
		if (qnt_quantize(ctx, t, x, q, rows, cols, NULL) != QNT_OK)
			goto fail;
		uint64_t t1 = uv_hrtime();
		if (qnt_dequantize(ctx, t, q, y, rows, cols) != QNT_OK)
			goto fail;
		uint64_t t2 = uv_hrtime();
		tq[i] = (double)(t1 - t0) * 1e-9;
		td[i] = (double)(t2 - t1) * 1e-9;
	}
	r->rmse = rel_rmse(x, y, (size_t)(rows * cols));
	r->q_mbs = mb / median(tq, reps);
	r->dq_mbs = mb / median(td, reps);
	r->rmse_imp = r->rmse;
	r->q_imp_mbs = 0;
	if (ti.flags & QNT_TYPE_FLAG_IMPORTANCE) {
		uint64_t t0 = uv_hrtime();
		if (qnt_quantize(ctx, t, x, q, rows, cols, ones) != QNT_OK)
			goto fail;
		r->q_imp_mbs = mb / ((double)(uv_hrtime() - t0) * 1e-9);
		if (qnt_dequantize(ctx, t, q, y, rows, cols) != QNT_OK)
			goto fail;
		r->rmse_imp = rel_rmse(x, y, (size_t)(rows * cols));
	}
	free(tq);
	free(td);
	return EXIT_OK;
fail:
	free(tq);
	free(td);
	return die("%s: %s", ti.name, qnt_ctx_last_error(ctx));
}

/* ---- products ---- */

struct mm_buf {
	float *w, *x, *y; /* n x n floats, cols x n floats, cols x n floats */
	void *wq;         /* n x n in the format */
	long n, cols;
};

/* Median seconds of reps runs of one product after a warm-up: qnt_matmul
 * with cols columns, or (pm not NULL) qnt_matmul_prepared with one. */
static qnt_status time_matmul(qnt_ctx *ctx, qnt_type t, const struct mm_buf *m, const qnt_matrix *pm, long cols,
			      int reps, double *ts, double *sec)
{
	for (int i = -1; i < reps; i++) { /* i = -1: warm-up */
		uint64_t t0 = uv_hrtime();
		qnt_status st = pm ? qnt_matmul_prepared(ctx, pm, m->x, 1, m->y)
				   : qnt_matmul(ctx, t, m->wq, m->n, m->n, m->x, cols, m->y);
		if (st != QNT_OK)
			return st;
		if (i >= 0)
			ts[i] = (double)(uv_hrtime() - t0) * 1e-9;
	}
	*sec = median(ts, reps);
	return QNT_OK;
}

/* GEMV, GEMV of the matrix prepared once (qnt_matrix_prepare) and GEMM of
 * an n x n matrix in format t (quantized from m->w once). A format without
 * a product leaves the figures at 0. */
static int run_matmul(qnt_ctx *ctx, qnt_type t, struct mm_buf *m, int reps, struct result *r)
{
	const long n = m->n;
	const size_t wbytes = qnt_row_size(t, n) * (size_t)n;
	if (n % qnt_type_block_size(t) != 0)
		return EXIT_OK;
	if (qnt_quantize(ctx, t, m->w, m->wq, n, n, NULL) != QNT_OK)
		return die("%s: quantizing the %ld x %ld product matrix: %s", qnt_type_name(t), n, n,
			   qnt_ctx_last_error(ctx));
	double *ts = calloc((size_t)reps, sizeof *ts);
	if (!ts)
		return die("out of memory");
	double sec = 0;
	const char *what = "qnt_matmul";
	long cols = 1;
	qnt_status st = time_matmul(ctx, t, m, NULL, 1, reps, ts, &sec);
	if (st == QNT_E_UNSUPPORTED) {
		free(ts);
		return EXIT_OK;
	}
	if (st != QNT_OK)
		goto fail;
	r->gemv_gbs = (double)wbytes / sec / 1e9;
	r->gemv_ns_row = sec * 1e9 / (double)n;
	qnt_matrix *pm = NULL;
	what = "qnt_matrix_prepare";
	if ((st = qnt_matrix_prepare(ctx, t, m->wq, n, n, &pm)) != QNT_OK)
		goto fail;
	snprintf(r->layout, sizeof r->layout, "%s", qnt_matrix_layout(pm));
	what = "qnt_matmul_prepared";
	st = time_matmul(ctx, t, m, pm, 1, reps, ts, &sec);
	qnt_matrix_free(pm);
	if (st != QNT_OK)
		goto fail;
	r->prep_gbs = (double)wbytes / sec / 1e9;
	if (m->cols > 0) {
		what = "qnt_matmul";
		cols = m->cols;
		if ((st = time_matmul(ctx, t, m, NULL, cols, reps, ts, &sec)) != QNT_OK)
			goto fail;
		r->gemm_gflops = 2.0 * (double)n * (double)n * (double)cols / sec / 1e9;
	}
	free(ts);
	return EXIT_OK;
fail:
	free(ts);
	return die("%s: %s of %ld x %ld with %ld columns: %s", qnt_type_name(t), what, n, n, cols,
		   qnt_ctx_last_error(ctx));
}

/* Read bandwidth: each thread sums its slice of a buffer as 64-bit words
 * (eight independent sums, so the loads, not the adds, set the pace). */
struct bw_part {
	const uint64_t *p;
	size_t n;
	uint64_t sum;
};

static void bw_sum(void *arg)
{
	struct bw_part *b = arg;
	uint64_t s[8] = { 0 };
	size_t i = 0;
	for (; i + 8 <= b->n; i += 8)
		for (int k = 0; k < 8; k++)
			s[k] += b->p[i + k];
	for (; i < b->n; i++)
		s[0] += b->p[i];
	b->sum = s[0] + s[1] + s[2] + s[3] + s[4] + s[5] + s[6] + s[7];
}

/* The size of the last-level cache, or 32 MB when the system does not say. */
static size_t llc_bytes(void)
{
	long v = -1;
#ifdef _SC_LEVEL3_CACHE_SIZE
	v = sysconf(_SC_LEVEL3_CACHE_SIZE);
	if (v <= 0)
		v = sysconf(_SC_LEVEL2_CACHE_SIZE);
#endif
	return v > 0 ? (size_t)v : (size_t)32 << 20;
}

/* GB/s of a sum over `bytes` on `threads` threads, median of reps after a
 * warm-up; 0 on failure (reported). */
static double read_bandwidth(size_t bytes, int threads, int reps)
{
	const size_t words = bytes / sizeof(uint64_t);
	uint64_t *buf = malloc(bytes);
	struct bw_part *parts = calloc((size_t)threads, sizeof *parts);
	uv_thread_t *th = calloc((size_t)threads, sizeof *th);
	double *ts = calloc((size_t)reps, sizeof *ts), gbs = 0;
	if (!buf || !parts || !th || !ts) {
		die("out of memory for the %zu MB bandwidth buffer", bytes >> 20);
		goto out;
	}
	for (size_t i = 0; i < words; i++)
		buf[i] = i;
	for (int t = 0; t < threads; t++) {
		parts[t].p = buf + words * (size_t)t / (size_t)threads;
		parts[t].n = words * (size_t)(t + 1) / (size_t)threads - words * (size_t)t / (size_t)threads;
	}
	uint64_t check = 0;
	for (int i = -1; i < reps; i++) {
		uint64_t t0 = uv_hrtime();
		int started = 0;
		for (; started < threads; started++)
			if (uv_thread_create(&th[started], bw_sum, &parts[started]) != 0)
				break;
		for (int t = 0; t < started; t++)
			uv_thread_join(&th[t]);
		if (started < threads) {
			die("cannot start thread %d of %d for the bandwidth measurement", started + 1, threads);
			goto out;
		}
		if (i >= 0)
			ts[i] = (double)(uv_hrtime() - t0) * 1e-9;
		for (int t = 0; t < threads; t++)
			check += parts[t].sum;
	}
	/* the sums are used: words - 1 choose 2, per run */
	if (check != (uint64_t)(reps + 1) * ((uint64_t)words * (uint64_t)(words - 1) / 2)) {
		die("the bandwidth buffer summed to the wrong value");
		goto out;
	}
	gbs = (double)bytes / median(ts, reps) / 1e9;
out:
	free(buf);
	free(parts);
	free(th);
	free(ts);
	return gbs;
}

int cmd_bench(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "type", required_argument, 0, 't' }, { "rows", required_argument, 0, 'r' },
		{ "cols", required_argument, 0, 'c' }, { "threads", required_argument, 0, 'n' },
		{ "reps", required_argument, 0, 'R' }, { "dist", required_argument, 0, 'D' },
		{ "seed", required_argument, 0, 'S' }, { "json", no_argument, 0, 'j' },
		{ "quiet", no_argument, 0, 'q' },      { "help", no_argument, 0, 'h' },
		{ "matmul-n", required_argument, 0, 'M' }, { "gemm-cols", required_argument, 0, 'G' },
		{ "bandwidth-mb", required_argument, 0, 'B' },
		{ 0 },
	};
	long rows = 256, cols = 4096, threads = 0, reps = 5, seed = 1, mm_n = 4096, gemm_cols = 128, bw_mb = 0;
	int json = 0, quiet = 0, student = 0, c;
	char *types = NULL;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "t:r:c:n:jqh", lo, NULL)) != -1) {
		switch (c) {
		case 't':
			types = optarg;
			break;
		case 'r':
			if (!parse_int(optarg, 1, 1L << 24, &rows))
				return usage_error("bench", "--rows needs a positive integer, not '%s'", optarg);
			break;
		case 'c':
			if (!parse_int(optarg, 1, 1L << 26, &cols))
				return usage_error("bench", "--cols needs a positive integer, not '%s'", optarg);
			break;
		case 'n':
			if (!parse_int(optarg, 1, 1024, &threads))
				return usage_error("bench", "--threads needs an integer in 1..1024, not '%s'", optarg);
			break;
		case 'R':
			if (!parse_int(optarg, 1, 1000, &reps))
				return usage_error("bench", "--reps needs an integer in 1..1000, not '%s'", optarg);
			break;
		case 'S':
			if (!parse_int(optarg, 0, 1L << 62, &seed))
				return usage_error("bench", "--seed needs a non-negative integer, not '%s'", optarg);
			break;
		case 'M':
			if (!parse_int(optarg, 0, 1L << 16, &mm_n))
				return usage_error("bench", "--matmul-n needs an integer in 0..65536, not '%s'", optarg);
			break;
		case 'G':
			if (!parse_int(optarg, 0, 4096, &gemm_cols))
				return usage_error("bench", "--gemm-cols needs an integer in 0..4096, not '%s'", optarg);
			break;
		case 'B':
			if (!parse_int(optarg, 1, 1L << 16, &bw_mb))
				return usage_error("bench", "--bandwidth-mb needs an integer in 1..65536, not '%s'", optarg);
			break;
		case 'D':
			if (!strcmp(optarg, "student"))
				student = 1;
			else if (strcmp(optarg, "gaussian"))
				return usage_error("bench", "--dist is gaussian or student, not '%s'", optarg);
			break;
		case 'j':
			json = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			fputs(bench_help, stdout);
			return EXIT_OK;
		default:
			return usage_error("bench", "unknown option or missing value: '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error("bench", "unexpected argument '%s'", argv[optind]);

	/* the formats to run */
	qnt_type list[256];
	int nlist = 0;
	if (types) {
		char *copy = strdup(types), *save = NULL;
		if (!copy)
			return die("out of memory");
		for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			qnt_type t = qnt_type_by_name(tok);
			qnt_type_info ti = QNT_TYPE_INFO_INIT;
			int rc = EXIT_OK;
			if (t == QNT_TYPE_INVALID || qnt_type_get_info(t, &ti) != QNT_OK)
				rc = usage_error("bench", "unknown format '%s' (see 'qnt types')", tok);
			else if (!(ti.flags & QNT_TYPE_FLAG_QUANTIZE))
				rc = usage_error("bench", "libqnt cannot quantize to '%s'", tok);
			if (rc != EXIT_OK) {
				free(copy);
				return rc;
			}
			if (nlist < 256)
				list[nlist++] = t;
		}
		free(copy);
	} else {
		for (int32_t i = 0; i < qnt_type_count() && nlist < 256; i++) {
			qnt_type_info ti = QNT_TYPE_INFO_INIT;
			if (qnt_type_get_info(qnt_type_at(i), &ti) == QNT_OK && (ti.flags & QNT_TYPE_FLAG_QUANTIZE) &&
			    !(ti.flags & QNT_TYPE_FLAG_ACTIVATION))
				list[nlist++] = ti.type;
		}
	}
	for (int i = 0; i < nlist; i++)
		if (cols % qnt_type_block_size(list[i]))
			return usage_error("bench", "--cols %ld is not a multiple of %s's block of %lld", cols,
					   qnt_type_name(list[i]), (long long)qnt_type_block_size(list[i]));

	qnt_ctx_opts o = QNT_CTX_OPTS_INIT;
	qnt_ctx *ctx = NULL;
	o.backend = getenv("QNT_BACKEND");
	if (!threads && getenv("QNT_NUM_THREADS") && !parse_int(getenv("QNT_NUM_THREADS"), 1, 1024, &threads))
		return die("QNT_NUM_THREADS='%s' is not a thread count", getenv("QNT_NUM_THREADS"));
	o.n_threads = (int32_t)threads;
	if (qnt_ctx_create(&o, &ctx) != QNT_OK)
		return die("%s", qnt_ctx_last_error(NULL));

	size_t n = (size_t)rows * (size_t)cols, max_row = 0;
	for (int i = 0; i < nlist; i++) {
		size_t rs = qnt_row_size(list[i], cols);
		max_row = rs > max_row ? rs : max_row;
	}
	float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y), *ones = malloc((size_t)cols * sizeof *ones);
	void *q = malloc(max_row * (size_t)rows);
	struct result *res = calloc((size_t)nlist, sizeof *res);
	struct mm_buf mm = { 0 };
	double bw_gbs = 0;
	size_t bw_bytes = 0;
	int rc = EXIT_OK;
	if (!x || !y || !q || !ones || !res) {
		rc = die("out of memory for a %ld x %ld tensor", rows, cols);
		goto out;
	}
	rng_state = 0x9E3779B97F4A7C15ULL ^ (uint64_t)seed;
	for (size_t i = 0; i < n; i++)
		x[i] = (float)(student ? rnd_student3() : rnd_normal());
	for (long j = 0; j < cols; j++)
		ones[j] = 1.0f;

	const int progress = !json && !quiet && isatty(2);
	for (int i = 0; i < nlist && rc == EXIT_OK; i++) {
		if (progress)
			fprintf(stderr, "\r[%d/%d] %-10s", i + 1, nlist, qnt_type_name(list[i]));
		rc = run_type(ctx, list[i], x, y, q, ones, rows, cols, (int)reps, &res[i]);
	}
	if (rc != EXIT_OK)
		goto out;

	/* the products: an mm_n x mm_n matrix of the same values, cycled */
	if (mm_n > 0) {
		size_t mm_row = 0;
		for (int i = 0; i < nlist; i++) {
			size_t rs = qnt_row_size(list[i], mm_n);
			mm_row = rs > mm_row ? rs : mm_row;
		}
		const size_t nn = (size_t)mm_n * (size_t)mm_n, nx = (size_t)(gemm_cols > 1 ? gemm_cols : 1) * (size_t)mm_n;
		mm.n = mm_n;
		mm.cols = gemm_cols;
		mm.w = malloc(nn * sizeof(float));
		mm.x = malloc(nx * sizeof(float));
		mm.y = malloc(nx * sizeof(float));
		mm.wq = malloc(mm_row * (size_t)mm_n + 1);
		if (!mm.w || !mm.x || !mm.y || !mm.wq) {
			rc = die("out of memory for a %ld x %ld product matrix", mm_n, mm_n);
			goto out;
		}
		for (size_t i = 0; i < nn; i++)
			mm.w[i] = x[i % n];
		for (size_t i = 0; i < nx; i++)
			mm.x[i] = x[(i + n / 2) % n];
		for (int i = 0; i < nlist && rc == EXIT_OK; i++) {
			if (progress)
				fprintf(stderr, "\r[%d/%d] %-10s products", i + 1, nlist, qnt_type_name(list[i]));
			rc = run_matmul(ctx, list[i], &mm, (int)reps, &res[i]);
		}
		if (rc == EXIT_OK) {
			if (progress)
				fprintf(stderr, "\r%-40s", "read bandwidth");
			if (bw_mb > 0) {
				bw_bytes = (size_t)bw_mb << 20;
			} else { /* twice the last-level cache, within 64 MB .. 1 GB */
				bw_bytes = 2 * llc_bytes();
				bw_bytes = bw_bytes < ((size_t)64 << 20) ? (size_t)64 << 20 : bw_bytes;
				bw_bytes = bw_bytes > ((size_t)1 << 30) ? (size_t)1 << 30 : bw_bytes;
			}
			bw_gbs = read_bandwidth(bw_bytes, (int)qnt_ctx_n_threads(ctx), (int)reps);
			if (bw_gbs <= 0)
				rc = EXIT_FAIL;
		}
	}
	if (progress)
		fprintf(stderr, "\r%*s\r", 40, "");
	if (rc != EXIT_OK)
		goto out;

	if (json) {
		json_t *o2 = json_object(), *arr = json_array();
		json_object_set_new(o2, "rows", json_integer(rows));
		json_object_set_new(o2, "cols", json_integer(cols));
		json_object_set_new(o2, "threads", json_integer(qnt_ctx_n_threads(ctx)));
		json_object_set_new(o2, "backend", json_string(qnt_ctx_backend_name(ctx)));
		json_object_set_new(o2, "distribution", json_string(student ? "student3" : "gaussian"));
		json_object_set_new(o2, "reps", json_integer(reps));
		json_object_set_new(o2, "matmul_n", json_integer(mm_n));
		json_object_set_new(o2, "gemm_cols", json_integer(gemm_cols));
		json_object_set_new(o2, "read_bandwidth_gbs", mm_n > 0 ? json_real(bw_gbs) : json_null());
		json_object_set_new(o2, "read_bandwidth_bytes", json_integer((json_int_t)bw_bytes));
		for (int i = 0; i < nlist; i++) {
			json_t *e = json_object();
			json_object_set_new(e, "type", json_string(res[i].name));
			json_object_set_new(e, "bits_per_weight", json_real(res[i].bpw));
			json_object_set_new(e, "rel_rmse", json_real(res[i].rmse));
			json_object_set_new(e, "rel_rmse_search", json_real(res[i].rmse_imp));
			json_object_set_new(e, "quantize_mbs", json_real(res[i].q_mbs));
			json_object_set_new(e, "quantize_search_mbs", res[i].q_imp_mbs > 0 ? json_real(res[i].q_imp_mbs) : json_null());
			json_object_set_new(e, "dequantize_mbs", json_real(res[i].dq_mbs));
			json_object_set_new(e, "gemv_gbs", res[i].gemv_gbs > 0 ? json_real(res[i].gemv_gbs) : json_null());
			json_object_set_new(e, "gemv_ns_per_row",
					    res[i].gemv_ns_row > 0 ? json_real(res[i].gemv_ns_row) : json_null());
			json_object_set_new(e, "gemv_prepared_gbs",
					    res[i].prep_gbs > 0 ? json_real(res[i].prep_gbs) : json_null());
			json_object_set_new(e, "prepared_layout",
					    res[i].prep_gbs > 0 ? json_string(res[i].layout) : json_null());
			json_object_set_new(e, "gemm_gflops",
					    res[i].gemm_gflops > 0 ? json_real(res[i].gemm_gflops) : json_null());
			json_array_append_new(arr, e);
		}
		json_object_set_new(o2, "results", arr);
		rc = print_json(o2);
		goto out;
	}
	printf("%ld x %ld %s tensor, backend %s, %d threads, median of %ld runs\n\n", rows, cols,
	       student ? "Student-t(3)" : "Gaussian", qnt_ctx_backend_name(ctx), (int)qnt_ctx_n_threads(ctx), reps);
	int w = 8;
	for (int i = 0; i < nlist; i++)
		w = (int)strlen(res[i].name) > w ? (int)strlen(res[i].name) : w;
	printf("%-*s %7s %10s %12s %11s %13s %12s\n", w, "TYPE", "BPW", "RMSE", "RMSE search", "QUANT MB/s",
	       "SEARCH MB/s", "DEQUANT MB/s");
	for (int i = 0; i < nlist; i++) {
		char s[32] = "-";
		if (res[i].q_imp_mbs > 0)
			snprintf(s, sizeof s, "%.0f", res[i].q_imp_mbs);
		printf("%-*s %7.4f %10.6f %12.6f %11.0f %13s %12.0f\n", w, res[i].name, res[i].bpw, res[i].rmse,
		       res[i].rmse_imp, res[i].q_mbs, s, res[i].dq_mbs);
	}
	printf("\nRMSE: relative, sqrt(sum((x-x^)^2)/sum(x^2)); 'search' = libqnt's quantizer with\n"
	       "importance weights all ones (minimises the squared error), '-' where the format\n"
	       "has no freedom to search.\n");
	if (mm_n > 0) {
		printf("\nProducts of a %ld x %ld matrix (qnt_matmul), %d threads:\n\n", mm_n, mm_n,
		       (int)qnt_ctx_n_threads(ctx));
		printf("%-*s %10s %12s %10s %-10s %14s\n", w, "TYPE", "GEMV GB/s", "GEMV ns/row", "PREP GB/s",
		       "LAYOUT", "GEMM GFLOP/s");
		for (int i = 0; i < nlist; i++) {
			char a[32] = "-", b[32] = "-", p[32] = "-", g[32] = "-";
			if (res[i].gemv_gbs > 0) {
				snprintf(a, sizeof a, "%.2f", res[i].gemv_gbs);
				snprintf(b, sizeof b, "%.0f", res[i].gemv_ns_row);
			}
			if (res[i].prep_gbs > 0)
				snprintf(p, sizeof p, "%.2f", res[i].prep_gbs);
			if (res[i].gemm_gflops > 0)
				snprintf(g, sizeof g, "%.1f", res[i].gemm_gflops);
			printf("%-*s %10s %12s %10s %-10s %14s\n", w, res[i].name, a, b, p,
			       res[i].prep_gbs > 0 ? res[i].layout : "-", g);
		}
		printf("\nGEMV: one column, GB/s of weight bytes read; PREP: the same product on the\n"
		       "matrix prepared once (qnt_matrix_prepare) in LAYOUT ('plain': the rows as given);\n"
		       "GEMM: %ld columns, 2 N^2 cols / s\n"
		       "('-': no product for the format, or N not a multiple of its block).\n"
		       "Read bandwidth (the GEMV limit for weights not in cache): %.1f GB/s, a sum over\n"
		       "%zu MB on %d threads.\n",
		       gemm_cols, bw_gbs, bw_bytes >> 20, (int)qnt_ctx_n_threads(ctx));
	}
out:
	free(mm.w);
	free(mm.x);
	free(mm.y);
	free(mm.wq);
	free(x);
	free(y);
	free(q);
	free(ones);
	free(res);
	qnt_ctx_destroy(ctx);
	return rc;
}
