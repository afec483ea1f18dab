/* SPDX-License-Identifier: MIT */
/* qnt quantize, dequantize, inspect, compare, verify: whole models. */
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "qnt.h"

/* ---- shared option handling ---- */

/* "512M", "2G", "1.5GiB", "300000000": bytes (binary multiples). */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	if (!s || !*s)
		return 0;
	double v = strtod(s, &end);
	if (end == s || !(v > 0))
		return 0;
	double mul = 1;
	switch (*end) {
	case 'k': case 'K': mul = 1024.0; end++; break;
	case 'm': case 'M': mul = 1024.0 * 1024; end++; break;
	case 'g': case 'G': mul = 1024.0 * 1024 * 1024; end++; break;
	case 't': case 'T': mul = 1024.0 * 1024 * 1024 * 1024; end++; break;
	default: break;
	}
	if (mul > 1 && *end == 'i')
		end++;
	if (*end == 'B' || *end == 'b')
		end++;
	if (*end || v * mul >= 1.8e19)
		return 0;
	*out = (uint64_t)(v * mul);
	return 1;
}

static void human_bytes(double b, char *buf, size_t n)
{
	static const char *const u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	int k = 0;
	while (b >= 1024 && k < 4) {
		b /= 1024;
		k++;
	}
	snprintf(buf, n, k ? "%.1f %s" : "%.0f %s", b, u[k]);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static qnt_ctx *make_ctx(long threads)
{
	qnt_ctx_opts o;
	qnt_ctx_opts_init(&o, sizeof o);
	if (threads > 0)
		o.n_threads = (int32_t)threads;
	qnt_ctx *ctx = NULL;
	if (qnt_ctx_create(&o, &ctx) != QNT_OK) {
		die("cannot create a context: %s", qnt_ctx_last_error(NULL));
		return NULL;
	}
	return ctx;
}

/* ---- progress bar ---- */

struct bar {
	double t0, last;
	int shown;
};

static void on_progress(void *user, uint64_t done, uint64_t total, const char *tensor)
{
	struct bar *b = user;
	const double t = now_s();
	if (t - b->last < 0.1 && done < total)
		return;
	b->last = t;
	b->shown = 1;
	const double frac = total ? (double)done / (double)total : 1.0;
	const double el = t - b->t0, rate = el > 0 ? (double)done / el : 0;
	const double eta = rate > 0 ? (double)(total - done) / rate : 0;
	char d[32], tt[32], r[32];
	human_bytes((double)done, d, sizeof d);
	human_bytes((double)total, tt, sizeof tt);
	human_bytes(rate, r, sizeof r);
	char bar[31];
	int fill = (int)(frac * 30);
	for (int i = 0; i < 30; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[30] = '\0';
	fprintf(stderr, "\r[%s] %3.0f%% %s / %s  %s/s  ETA %d:%02d  %-32.32s", bar, 100 * frac, d, tt, r,
		(int)eta / 60, (int)eta % 60, tensor ? tensor : "");
	fflush(stderr);
}

static void bar_end(struct bar *b)
{
	if (b->shown)
		fputc('\n', stderr);
}

/* ---- report output ---- */

static void print_report(const qnt_report *r, int compare)
{
	const int64_t n = qnt_report_count(r);
	size_t w = 6;
	for (int64_t i = 0; i < n; i++) {
		qnt_report_entry e;
		memset(&e, 0, sizeof e);
		e.struct_size = sizeof e;
		if (qnt_report_entry_at(r, i, &e) == QNT_OK && strlen(e.name) > w)
			w = strlen(e.name);
	}
	if (w > 48)
		w = 48;
	printf("%-*s %-12s %-16s %7s %10s %10s %9s  %s\n", (int)w, "tensor", compare ? "A" : "source",
	       compare ? "B" : "type", "bpw", "rel_rmse", "max_abs", "cosine", "note");
	double sum_n = 0, sum_e = 0, bytes = 0, nel = 0;
	for (int64_t i = 0; i < n; i++) {
		qnt_report_entry e;
		memset(&e, 0, sizeof e);
		e.struct_size = sizeof e;
		if (qnt_report_entry_at(r, i, &e) != QNT_OK)
			continue;
		char note[160] = "";
		if (e.flags & QNT_REPORT_ONLY_IN_A)
			snprintf(note, sizeof note, "only in A");
		else if (e.flags & QNT_REPORT_ONLY_IN_B)
			snprintf(note, sizeof note, "only in B");
		else if (e.flags & QNT_REPORT_SHAPE_DIFFERS)
			snprintf(note, sizeof note, "shapes differ");
		else
			snprintf(note, sizeof note, "%s%s%s%s%s", (e.flags & QNT_REPORT_KEPT) ? "kept " : "",
				 (e.flags & QNT_REPORT_FALLBACK) ? "fallback " : "",
				 (e.flags & QNT_REPORT_REQUANTIZED) ? "requantized " : "",
				 (e.flags & QNT_REPORT_IMPORTANCE) ? "imatrix " : "",
				 compare ? "" : e.reason ? e.reason : "");
		printf("%-*.*s %-12.12s %-16.16s %7.3f %10.3e %10.3e %9.6f  %s\n", (int)w, (int)w, e.name, e.src_dtype,
		       e.dtype, e.bits_per_weight, e.rel_rmse, e.max_abs_err, e.cosine, note);
		if (isfinite(e.rel_rmse)) {
			sum_n += (double)e.n_elements;
			sum_e += (double)e.n_elements * e.rel_rmse * e.rel_rmse;
		}
		bytes += (double)e.nbytes;
		nel += (double)e.n_elements;
	}
	char b[32];
	human_bytes(bytes, b, sizeof b);
	printf("%lld tensors, %.0f weights, %s, %.3f bits per weight, rel_rmse %.3e (RMS over weights)\n",
	       (long long)n, nel, b, nel > 0 ? 8 * bytes / nel : 0.0, sum_n > 0 ? sqrt(sum_e / sum_n) : 0.0);
}

static int write_report_file(const qnt_report *r, const char *path)
{
	char *js = NULL;
	if (qnt_report_json(r, &js) != QNT_OK)
		return die("cannot build the report: %s", qnt_ctx_last_error(NULL));
	FILE *f = strcmp(path, "-") ? fopen(path, "w") : stdout;
	if (!f) {
		qnt_free(js);
		return die("%s: cannot write the report", path);
	}
	int ok = fputs(js, f) >= 0 && fputc('\n', f) != EOF;
	if (f != stdout)
		ok = fclose(f) == 0 && ok;
	qnt_free(js);
	return ok ? EXIT_OK : die("%s: cannot write the report", path);
}

/* ---- qnt quantize / qnt dequantize ---- */

static const char quantize_help[] =
	"Usage: qnt quantize (--type T | --recipe NAME|FILE) [OPTIONS] IN OUT\n\n"
	"Quantizes a whole model, streaming tensor by tensor in bounded memory.\n"
	"IN: a GGUF file, a .safetensors file, a sharded safetensors folder (or its\n"
	"model.safetensors.index.json), or an MLX folder. OUT: a GGUF file (*.gguf),\n"
	"a .safetensors file (MLX formats in MLX's tensor layout), or an MLX folder\n"
	"(any other path). Prints the quality report: per tensor\n"
	"the format, bits per weight, relative RMSE, max abs error and cosine\n"
	"similarity against the source (importance-weighted with --imatrix).\n\n"
	"  -t, --type T          every 2-D float tensor whose rows fit T's block -> T\n"
	"                        (q4_K, iq4_xs, mlx:affine:4:64, ...; see 'qnt types');\n"
	"                        1-D tensors (norms, biases) stay as they are\n"
	"  -r, --recipe R        a preset (Q4_K_M, Q8_0, mixed_3_6, ...: see\n"
	"                        'qnt recipes') or a JSON recipe file\n"
	"  -i, --imatrix F       importance matrix (llama-imatrix GGUF or .dat)\n"
	"  -n, --threads N       threads (default: QNT_NUM_THREADS or all CPUs)\n"
	"  -m, --max-memory S    limit for buffers, e.g. 512M, 2G (default 256M)\n"
	"      --shard-size S    MLX output: largest shard (default 5G, as mlx-lm)\n"
	"      --report F        write the report as JSON to F ('-': stdout)\n"
	"      --no-checksums    do not record XXH3-64 checksums of the tensors\n"
	"  -j, --json            print the report as JSON instead of a table\n"
	"  -q, --quiet           no progress bar, no table\n"
	"  -h, --help            this help\n\n"
	"Exit status: 0 done, 1 failed (nothing is left at OUT), 2 bad usage.\n";

static const char dequantize_help[] =
	"Usage: qnt dequantize [OPTIONS] IN OUT.gguf\n\n"
	"Writes every tensor of IN that holds floats or a libqnt format as f32 (or\n"
	"--type f16|bf16) to a GGUF file; other tensors (integers) as they are.\n\n"
	"  -t, --type T          f32 (default), f16 or bf16\n"
	"  -n, --threads N       threads\n"
	"  -m, --max-memory S    limit for buffers (default 256M)\n"
	"      --report F        write the report as JSON to F\n"
	"  -j, --json            print the report as JSON\n"
	"  -q, --quiet           no progress bar, no table\n"
	"  -h, --help            this help\n";

static int load_recipe(qnt_ctx *ctx, const char *arg, qnt_recipe **out)
{
	if (qnt_recipe_preset(arg, out) == QNT_OK)
		return EXIT_OK;
	if (access(arg, R_OK) != 0)
		return usage_error("quantize", "'%s' is neither a preset (see 'qnt recipes') nor a readable file", arg);
	if (qnt_recipe_load_file(ctx, arg, out) != QNT_OK)
		return die("%s", qnt_ctx_last_error(ctx));
	return EXIT_OK;
}

static int run_model_cmd(int argc, char **argv, int dequantize)
{
	const char *cmd = dequantize ? "dequantize" : "quantize";
	enum { O_REPORT = 256, O_NO_CHECKSUMS, O_SHARD };
	static const struct option lo[] = {
		{ "type", required_argument, 0, 't' },	     { "recipe", required_argument, 0, 'r' },
		{ "imatrix", required_argument, 0, 'i' },    { "threads", required_argument, 0, 'n' },
		{ "max-memory", required_argument, 0, 'm' }, { "report", required_argument, 0, O_REPORT },
		{ "shard-size", required_argument, 0, O_SHARD }, { "no-checksums", no_argument, 0, O_NO_CHECKSUMS },
		{ "json", no_argument, 0, 'j' },	     { "quiet", no_argument, 0, 'q' },
		{ "help", no_argument, 0, 'h' },	     { 0 }
	};
	const char *type = NULL, *recipe = NULL, *imatrix = NULL, *report_path = NULL;
	long threads = 0;
	uint64_t max_mem = 0, shard = 0;
	int json = 0, quiet = 0, no_sums = 0, c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, dequantize ? "t:n:m:jqh" : "t:r:i:n:m:jqh", lo, NULL)) != -1) {
		switch (c) {
		case 't': type = optarg; break;
		case 'r': recipe = optarg; break;
		case 'i': imatrix = optarg; break;
		case 'n':
			if (!parse_int(optarg, 1, 1024, &threads))
				return usage_error(cmd, "--threads wants 1..1024, not '%s'", optarg);
			break;
		case 'm':
			if (!parse_size(optarg, &max_mem))
				return usage_error(cmd, "--max-memory wants a size such as 512M or 2G, not '%s'", optarg);
			break;
		case O_SHARD:
			if (!parse_size(optarg, &shard))
				return usage_error(cmd, "--shard-size wants a size such as 2G, not '%s'", optarg);
			break;
		case O_REPORT: report_path = optarg; break;
		case O_NO_CHECKSUMS: no_sums = 1; break;
		case 'j': json = 1; break;
		case 'q': quiet = 1; break;
		case 'h': fputs(dequantize ? dequantize_help : quantize_help, stdout); return EXIT_OK;
		default: return usage_error(cmd, "unknown option or missing value: '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 2)
		return usage_error(cmd, "wants IN and OUT (got %d arguments)", argc - optind);
	const char *in = argv[optind], *out = argv[optind + 1];
	if (!dequantize && !!type == !!recipe)
		return usage_error(cmd, "give exactly one of --type and --recipe");
	qnt_type t = QNT_TYPE_INVALID;
	if (type && (t = qnt_type_by_name(type)) == QNT_TYPE_INVALID)
		return usage_error(cmd, "unknown type '%s' (see 'qnt types')", type);
	if (dequantize && !type)
		t = QNT_TYPE_F32;

	qnt_ctx *ctx = make_ctx(threads);
	if (!ctx)
		return EXIT_FAIL;
	int rc = EXIT_OK;
	qnt_recipe *rcp = NULL;
	qnt_imatrix *im = NULL;
	qnt_report *rep = NULL;
	if (!dequantize) {
		if (recipe) {
			if ((rc = load_recipe(ctx, recipe, &rcp)) != EXIT_OK)
				goto out;
		} else if (qnt_recipe_from_type(t, &rcp) != QNT_OK) {
			rc = die("%s", qnt_ctx_last_error(NULL));
			goto out;
		}
	}
	if (imatrix && qnt_imatrix_open(ctx, imatrix, &im) != QNT_OK) {
		rc = die("%s", qnt_ctx_last_error(ctx));
		goto out;
	}
	qnt_model_quantize_opts o;
	qnt_model_quantize_opts_init(&o);
	o.recipe = rcp;
	o.imatrix = im;
	o.max_memory = max_mem;
	o.max_shard_bytes = shard;
	o.flags = no_sums ? QNT_MQ_FLAG_NO_CHECKSUMS : 0;
	struct bar bar = { now_s(), 0, 0 };
	if (!quiet && !json && isatty(2)) {
		o.progress = on_progress;
		o.progress_user = &bar;
	}
	qnt_status st = dequantize ? qnt_model_dequantize(ctx, in, out, t, &o, &rep)
				   : qnt_model_quantize(ctx, in, out, &o, &rep);
	bar_end(&bar);
	if (st != QNT_OK) {
		rc = die("%s", qnt_ctx_last_error(ctx));
		goto out;
	}
	if (report_path && (rc = write_report_file(rep, report_path)) != EXIT_OK)
		goto out;
	if (json) {
		rc = write_report_file(rep, "-");
	} else if (!quiet) {
		print_report(rep, 0);
		printf("wrote %s in %.2f s\n", out, now_s() - bar.t0);
	}
out:
	qnt_report_free(rep);
	qnt_imatrix_close(im);
	qnt_recipe_free(rcp);
	qnt_ctx_destroy(ctx);
	return rc;
}

int cmd_quantize(int argc, char **argv)
{
	return run_model_cmd(argc, argv, 0);
}

int cmd_dequantize(int argc, char **argv)
{
	return run_model_cmd(argc, argv, 1);
}

/* ---- qnt inspect ---- */

static const char inspect_help[] =
	"Usage: qnt inspect [--json] [--all] FILE\n\n"
	"Shows a model: its format, metadata (long arrays cut to their first\n"
	"elements unless --all), and every tensor with its type, shape, size and\n"
	"bits per weight. FILE: a GGUF file, a safetensors file or folder, or an\n"
	"MLX folder.\n\n"
	"  -a, --all    print long metadata arrays whole\n"
	"  -j, --json   machine-readable output\n"
	"  -h, --help   this help\n";

static const char *format_name(int32_t f)
{
	return f == QNT_MODEL_GGUF ? "gguf" : f == QNT_MODEL_SAFETENSORS ? "safetensors" : f == QNT_MODEL_MLX ? "mlx" : "?";
}

static void shape_str(const qnt_tensor_info *ti, char *buf, size_t n)
{
	size_t k = 0;
	buf[k++] = '[';
	for (int d = 0; d < ti->n_dims && k < n - 24; d++)
		k += (size_t)snprintf(buf + k, n - k, d ? ", %lld" : "%lld", (long long)ti->shape[d]);
	snprintf(buf + k, n - k, "]");
}

int cmd_inspect(int argc, char **argv)
{
	static const struct option lo[] = { { "json", no_argument, 0, 'j' }, { "all", no_argument, 0, 'a' },
					    { "help", no_argument, 0, 'h' }, { 0 } };
	int json = 0, all = 0, c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "jah", lo, NULL)) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		case 'a': all = 1; break;
		case 'h': fputs(inspect_help, stdout); return EXIT_OK;
		default: return usage_error("inspect", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return usage_error("inspect", "wants one FILE");
	qnt_model *m = NULL;
	if (qnt_model_open(NULL, argv[optind], &m) != QNT_OK)
		return die("%s", qnt_ctx_last_error(NULL));
	char *meta = NULL;
	if (qnt_model_metadata_json(m, all ? -1 : (json ? 16 : 8), &meta) != QNT_OK) {
		qnt_model_close(m);
		return die("%s", qnt_ctx_last_error(NULL));
	}
	json_error_t je;
	json_t *md = json_loads(meta, 0, &je);
	qnt_free(meta);
	const int64_t n = qnt_model_tensor_count(m);
	double total_bytes = 0, total_el = 0;
	json_t *tensors = json_array();
	if (!json) {
		printf("%s: %s, %lld tensors\n\nmetadata:\n", argv[optind], format_name(qnt_model_format(m)),
		       (long long)n);
		const char *k;
		json_t *v;
		json_object_foreach(md, k, v)
		{
			char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER);
			if (s && strlen(s) > 160 && !all)
				strcpy(s + 150, " ...");
			printf("  %-40s %s\n", k, s ? s : "?");
			free(s);
		}
		printf("\n%-48s %-22s %-22s %12s %7s\n", "tensor", "type", "shape", "bytes", "bpw");
	}
	for (int64_t i = 0; i < n; i++) {
		qnt_tensor_info ti;
		memset(&ti, 0, sizeof ti);
		ti.struct_size = sizeof ti;
		if (qnt_model_tensor_info(m, i, &ti) != QNT_OK)
			continue;
		char sh[160];
		shape_str(&ti, sh, sizeof sh);
		const double bpw = ti.n_elements ? 8.0 * (double)ti.nbytes / (double)ti.n_elements : 0;
		total_bytes += (double)ti.nbytes;
		total_el += (double)ti.n_elements;
		if (json) {
			json_t *o = json_object(), *s = json_array();
			for (int d = 0; d < ti.n_dims; d++)
				json_array_append_new(s, json_integer(ti.shape[d]));
			json_object_set_new(o, "name", json_string(ti.name));
			json_object_set_new(o, "type", json_string(ti.dtype));
			json_object_set_new(o, "shape", s);
			json_object_set_new(o, "n_elements", json_integer(ti.n_elements));
			json_object_set_new(o, "bytes", json_integer((json_int_t)ti.nbytes));
			json_object_set_new(o, "bits_per_weight", json_real(bpw));
			json_object_set_new(o, "file", json_string(ti.file));
			json_object_set_new(o, "offset", json_integer((json_int_t)ti.offset));
			json_array_append_new(tensors, o);
		} else {
			printf("%-48s %-22s %-22s %12llu %7.3f\n", ti.name, ti.dtype, sh, (unsigned long long)ti.nbytes, bpw);
		}
	}
	int rc = EXIT_OK;
	if (json) {
		json_t *o = json_object();
		json_object_set_new(o, "path", json_string(argv[optind]));
		json_object_set_new(o, "format", json_string(format_name(qnt_model_format(m))));
		json_object_set_new(o, "n_tensors", json_integer(n));
		json_object_set_new(o, "n_elements", json_real(total_el));
		json_object_set_new(o, "bytes", json_real(total_bytes));
		json_object_set_new(o, "bits_per_weight", json_real(total_el > 0 ? 8 * total_bytes / total_el : 0));
		json_object_set_new(o, "metadata", md ? md : json_object());
		json_object_set_new(o, "tensors", tensors);
		rc = print_json(o);
	} else {
		char b[32];
		human_bytes(total_bytes, b, sizeof b);
		printf("\n%lld tensors, %.0f elements, %s, %.3f bits per weight\n", (long long)n, total_el, b,
		       total_el > 0 ? 8 * total_bytes / total_el : 0.0);
		json_decref(md);
		json_decref(tensors);
	}
	qnt_model_close(m);
	return rc;
}

/* ---- qnt compare ---- */

static const char compare_help[] =
	"Usage: qnt compare [OPTIONS] A B\n\n"
	"Compares two models with the same tensor names, tensor by tensor, as\n"
	"floats: relative RMSE of B against A, max abs error, cosine similarity.\n"
	"Tensors in only one of them, or of other shapes, are listed.\n\n"
	"  -i, --imatrix F       weight the columns by an importance matrix\n"
	"  -n, --threads N       threads\n"
	"  -m, --max-memory S    limit for buffers (default 256M)\n"
	"  -j, --json            machine-readable output\n"
	"  -h, --help            this help\n";

int cmd_compare(int argc, char **argv)
{
	static const struct option lo[] = { { "imatrix", required_argument, 0, 'i' },
					    { "threads", required_argument, 0, 'n' },
					    { "max-memory", required_argument, 0, 'm' },
					    { "json", no_argument, 0, 'j' },
					    { "help", no_argument, 0, 'h' },
					    { 0 } };
	const char *imatrix = NULL;
	long threads = 0;
	uint64_t max_mem = 0;
	int json = 0, c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "i:n:m:jh", lo, NULL)) != -1) {
		switch (c) {
		case 'i': imatrix = optarg; break;
		case 'n':
			if (!parse_int(optarg, 1, 1024, &threads))
				return usage_error("compare", "--threads wants 1..1024, not '%s'", optarg);
			break;
		case 'm':
			if (!parse_size(optarg, &max_mem))
				return usage_error("compare", "--max-memory wants a size such as 512M, not '%s'", optarg);
			break;
		case 'j': json = 1; break;
		case 'h': fputs(compare_help, stdout); return EXIT_OK;
		default: return usage_error("compare", "unknown option or missing value: '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 2)
		return usage_error("compare", "wants two models A and B");
	qnt_ctx *ctx = make_ctx(threads);
	if (!ctx)
		return EXIT_FAIL;
	qnt_model *a = NULL, *b = NULL;
	qnt_imatrix *im = NULL;
	qnt_report *rep = NULL;
	int rc = EXIT_OK;
	if (qnt_model_open(ctx, argv[optind], &a) != QNT_OK || qnt_model_open(ctx, argv[optind + 1], &b) != QNT_OK ||
	    (imatrix && qnt_imatrix_open(ctx, imatrix, &im) != QNT_OK) ||
	    qnt_model_compare(ctx, a, b, im, max_mem, &rep) != QNT_OK) {
		rc = die("%s", qnt_ctx_last_error(ctx));
		goto out;
	}
	if (json)
		rc = write_report_file(rep, "-");
	else
		print_report(rep, 1);
out:
	qnt_report_free(rep);
	qnt_imatrix_close(im);
	qnt_model_close(a);
	qnt_model_close(b);
	qnt_ctx_destroy(ctx);
	return rc;
}

/* ---- qnt verify ---- */

static const char verify_help[] =
	"Usage: qnt verify [--json] FILE\n\n"
	"Recomputes the XXH3-64 checksum of every tensor's bytes and compares it\n"
	"with the one libqnt recorded when it wrote the file. Names every tensor\n"
	"that does not match.\n\n"
	"  -j, --json   machine-readable output\n"
	"  -h, --help   this help\n\n"
	"Exit status: 0 all match, 1 a mismatch, no checksums, or an unreadable\n"
	"file, 2 bad usage.\n";

int cmd_verify(int argc, char **argv)
{
	int json = 0, rc0 = simple_opts("verify", verify_help, argc, argv, &json, 1);
	if (rc0)
		return rc0 < 0 ? EXIT_OK : rc0;
	if (argc - optind != 1)
		return usage_error("verify", "wants one FILE");
	qnt_model *m = NULL;
	if (qnt_model_open(NULL, argv[optind], &m) != QNT_OK)
		return die("%s", qnt_ctx_last_error(NULL));
	const int64_t n = qnt_model_tensor_count(m);
	int64_t ok = 0, bad = 0, missing = 0;
	json_t *arr = json_array();
	for (int64_t i = 0; i < n; i++) {
		qnt_tensor_info ti;
		memset(&ti, 0, sizeof ti);
		ti.struct_size = sizeof ti;
		uint64_t stored = 0, actual = 0;
		qnt_model_tensor_info(m, i, &ti);
		qnt_status st = qnt_model_tensor_checksum(m, i, &stored, &actual);
		const char *state = st != QNT_OK ? "missing" : stored == actual ? "ok" : "mismatch";
		if (st != QNT_OK)
			missing++;
		else if (stored == actual)
			ok++;
		else
			bad++;
		char hs[17], ha[17];
		snprintf(hs, sizeof hs, "%016llx", (unsigned long long)stored);
		snprintf(ha, sizeof ha, "%016llx", (unsigned long long)actual);
		if (json) {
			json_t *o = json_object();
			json_object_set_new(o, "name", json_string(ti.name));
			json_object_set_new(o, "status", json_string(state));
			json_object_set_new(o, "stored", st == QNT_OK ? json_string(hs) : json_null());
			json_object_set_new(o, "actual", json_string(ha));
			json_array_append_new(arr, o);
		} else if (st == QNT_OK && stored != actual) {
			printf("MISMATCH %s: recorded %s, data hashes to %s\n", ti.name, hs, ha);
		}
	}
	const int rc = bad || missing || n == 0 ? EXIT_FAIL : EXIT_OK;
	if (json) {
		json_t *o = json_object();
		json_object_set_new(o, "path", json_string(argv[optind]));
		json_object_set_new(o, "ok", json_integer(ok));
		json_object_set_new(o, "mismatch", json_integer(bad));
		json_object_set_new(o, "missing", json_integer(missing));
		json_object_set_new(o, "tensors", arr);
		print_json(o);
	} else {
		json_decref(arr);
		if (missing == n && n > 0)
			fprintf(stderr, "qnt: error: %s: no checksums recorded (not written by libqnt, or written with --no-checksums)\n",
				argv[optind]);
		else
			printf("%s: %lld tensors ok, %lld mismatched, %lld without checksum\n", argv[optind], (long long)ok,
			       (long long)bad, (long long)missing);
	}
	qnt_model_close(m);
	return rc;
}

/* ---- qnt recipes ---- */

static const char recipes_help[] =
	"Usage: qnt recipes [--json] [NAME]\n\n"
	"Without NAME, lists the recipe presets (llama-quantize's file types and\n"
	"mlx-lm's mixed recipes) with the general.file_type each writes. With\n"
	"NAME, prints that preset as a JSON recipe file, to edit and pass to\n"
	"'qnt quantize --recipe FILE' (the format is in docs/recipes.md).\n\n"
	"  -j, --json   list as JSON\n"
	"  -h, --help   this help\n";

int cmd_recipes(int argc, char **argv)
{
	int json = 0, rc0 = simple_opts("recipes", recipes_help, argc, argv, &json, 1);
	if (rc0)
		return rc0 < 0 ? EXIT_OK : rc0;
	if (argc - optind == 1) {
		qnt_recipe *r = NULL;
		char *text = NULL;
		if (qnt_recipe_preset(argv[optind], &r) != QNT_OK)
			return usage_error("recipes", "no preset '%s' (run 'qnt recipes' for the list)", argv[optind]);
		qnt_status st = qnt_recipe_to_json(NULL, r, &text);
		qnt_recipe_free(r);
		if (st != QNT_OK)
			return die("%s", qnt_ctx_last_error(NULL));
		fputs(text, stdout);
		fputc('\n', stdout);
		qnt_free(text);
		return EXIT_OK;
	}
	const int32_t n = qnt_recipe_count_presets();
	json_t *arr = json_array();
	if (!json)
		printf("%-12s %s\n", "preset", "general.file_type");
	for (int32_t i = 0; i < n; i++) {
		const char *name = qnt_recipe_preset_name(i);
		qnt_recipe *r = NULL;
		uint32_t ft = 0;
		if (qnt_recipe_preset(name, &r) == QNT_OK)
			ft = qnt_recipe_file_type(r);
		qnt_recipe_free(r);
		if (json) {
			json_t *o = json_object();
			json_object_set_new(o, "name", json_string(name));
			json_object_set_new(o, "file_type", json_integer(ft));
			json_array_append_new(arr, o);
		} else {
			printf("%-12s %u\n", name, (unsigned)ft);
		}
	}
	if (json)
		return print_json(arr);
	json_decref(arr);
	return EXIT_OK;
}
