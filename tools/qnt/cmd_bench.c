/* SPDX-License-Identifier: MIT */
/* qnt bench: quantize a generated tensor in every format and report bits per
 * weight, relative RMSE and throughput (medians of several repetitions). */
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
	"(MB/s of f32 in) and dequantize (MB/s of f32 out), medians of --reps runs.\n\n"
	"  -t, --type T[,T...]  formats to run (default: every quantizable format)\n"
	"  -r, --rows N         rows of the tensor (default 256)\n"
	"  -c, --cols N         elements per row (default 4096)\n"
	"  -n, --threads N      threads (default: QNT_NUM_THREADS or all CPUs)\n"
	"      --reps N         repetitions per measurement (default 5)\n"
	"      --dist D         gaussian (default) or student (t, 3 d.o.f.: heavy tails)\n"
	"      --seed N         generator seed (default 1)\n"
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

int cmd_bench(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "type", required_argument, 0, 't' }, { "rows", required_argument, 0, 'r' },
		{ "cols", required_argument, 0, 'c' }, { "threads", required_argument, 0, 'n' },
		{ "reps", required_argument, 0, 'R' }, { "dist", required_argument, 0, 'D' },
		{ "seed", required_argument, 0, 'S' }, { "json", no_argument, 0, 'j' },
		{ "quiet", no_argument, 0, 'q' },      { "help", no_argument, 0, 'h' },
		{ 0 },
	};
	long rows = 256, cols = 4096, threads = 0, reps = 5, seed = 1;
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
		for (int i = 0; i < nlist; i++) {
			json_t *e = json_object();
			json_object_set_new(e, "type", json_string(res[i].name));
			json_object_set_new(e, "bits_per_weight", json_real(res[i].bpw));
			json_object_set_new(e, "rel_rmse", json_real(res[i].rmse));
			json_object_set_new(e, "rel_rmse_search", json_real(res[i].rmse_imp));
			json_object_set_new(e, "quantize_mbs", json_real(res[i].q_mbs));
			json_object_set_new(e, "quantize_search_mbs", res[i].q_imp_mbs > 0 ? json_real(res[i].q_imp_mbs) : json_null());
			json_object_set_new(e, "dequantize_mbs", json_real(res[i].dq_mbs));
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
out:
	free(x);
	free(y);
	free(q);
	free(ones);
	free(res);
	qnt_ctx_destroy(ctx);
	return rc;
}
