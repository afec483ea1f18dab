/* SPDX-License-Identifier: MIT */
/* qnt info, qnt types */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "qnt.h"

static const uint64_t all_features[] = {
	QNT_CPU_SSE42,	    QNT_CPU_AVX,	QNT_CPU_AVX2,	  QNT_CPU_F16C, QNT_CPU_FMA,
	QNT_CPU_AVX512F,    QNT_CPU_AVX512BW,	QNT_CPU_AVX512VL, QNT_CPU_AVX512VNNI,
	QNT_CPU_AVX512BF16, QNT_CPU_AVXVNNI,	QNT_CPU_NEON,	  QNT_CPU_DOTPROD,
	QNT_CPU_I8MM,	    QNT_CPU_SVE,	QNT_CPU_FP16,
};
#define N_FEATURES (sizeof all_features / sizeof all_features[0])

/* Parses the options of a command that takes only --json and --help, and
 * at most max_args arguments (left at argv[optind..]). Returns 0, -1 after
 * printing the help, or EXIT_USAGE. */
int simple_opts(const char *cmd, const char *help, int argc, char **argv, int *json, int max_args)
{
	static const struct option lo[] = { { "json", no_argument, 0, 'j' }, { "help", no_argument, 0, 'h' }, { 0 } };
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "jh", lo, NULL)) != -1) {
		switch (c) {
		case 'j':
			*json = 1;
			break;
		case 'h':
			fputs(help, stdout);
			return -1;
		default:
			return usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind > max_args)
		return usage_error(cmd, "unexpected argument '%s'", argv[optind + max_args]);
	return 0;
}

static const char info_help[] =
	"Usage: qnt info [--json]\n\n"
	"Prints the library version, the CPU features libqnt detected (CPU and OS\n"
	"support both), and every registered backend with its score; the backend\n"
	"with the highest score runs the work unless QNT_BACKEND names another.\n\n"
	"  -j, --json   machine-readable output\n"
	"  -h, --help   this help\n";

int cmd_info(int argc, char **argv)
{
	int json = 0, rc = simple_opts("info", info_help, argc, argv, &json, 0);
	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	if (qnt_init() != QNT_OK)
		return die("libqnt failed to initialise: %s", qnt_ctx_last_error(NULL));

	uint64_t feats = qnt_cpu_features();
	const char *best = qnt_backend_best();
	const char *forced = getenv("QNT_BACKEND");
	int32_t nthreads = qnt_ctx_n_threads(NULL);
	const char *dflt = qnt_ctx_backend_name(NULL);

	if (json) {
		json_t *o = json_object(), *fa = json_array(), *ba = json_array();
		json_object_set_new(o, "version", json_string(qnt_version_string()));
		json_object_set_new(o, "version_number", json_integer(qnt_version_number()));
		json_object_set_new(o, "format_version", json_integer(qnt_format_version()));
		for (size_t i = 0; i < N_FEATURES; i++)
			if (feats & all_features[i])
				json_array_append_new(fa, json_string(qnt_cpu_feature_name(all_features[i])));
		json_object_set_new(o, "cpu_features", fa);
		for (int32_t i = 0; i < qnt_backend_count(); i++) {
			qnt_backend_props p = QNT_BACKEND_PROPS_INIT;
			if (qnt_backend_get_props(i, &p) != QNT_OK)
				continue;
			json_t *b = json_object();
			json_object_set_new(b, "name", json_string(p.name));
			json_object_set_new(b, "score", json_integer(p.score));
			json_object_set_new(b, "description", json_string(p.description));
			json_object_set_new(b, "builtin", json_boolean(p.flags & QNT_BACKEND_FLAG_BUILTIN));
			json_object_set_new(b, "reference", json_boolean(p.flags & QNT_BACKEND_FLAG_REFERENCE));
			json_object_set_new(b, "path", p.path ? json_string(p.path) : json_null());
			json_object_set_new(b, "reason", p.score > 0 ? json_null() : json_string(p.reason));
			json_array_append_new(ba, b);
		}
		json_object_set_new(o, "backends", ba);
		json_object_set_new(o, "best_backend", json_string(best));
		json_object_set_new(o, "default_backend", dflt[0] ? json_string(dflt) : json_null());
		json_object_set_new(o, "default_threads", json_integer(nthreads));
		if (!dflt[0])
			json_object_set_new(o, "default_error", json_string(qnt_ctx_last_error(NULL)));
		return print_json(o);
	}

	printf("libqnt %s (format version %u)\n", qnt_version_string(), (unsigned)qnt_format_version());
	printf("CPU features:");
	int any = 0;
	for (size_t i = 0; i < N_FEATURES; i++)
		if (feats & all_features[i]) {
			printf(" %s", qnt_cpu_feature_name(all_features[i]));
			any = 1;
		}
	printf("%s\n\nBackends (highest score runs the work):\n", any ? "" : " none");
	printf("  %-14s %8s  %s\n", "NAME", "SCORE", "DESCRIPTION");
	for (int32_t i = 0; i < qnt_backend_count(); i++) {
		qnt_backend_props p = QNT_BACKEND_PROPS_INIT;
		if (qnt_backend_get_props(i, &p) != QNT_OK)
			continue;
		printf("  %-14s %8d  %s%s%s%s\n", p.name, (int)p.score, p.description,
		       p.flags & QNT_BACKEND_FLAG_BUILTIN ? " [built in]" : "", p.path ? " from " : "",
		       p.path ? p.path : "");
		if (p.score == 0)
			printf("  %-14s %8s  unusable: %s\n", "", "", p.reason);
	}
	if (dflt[0])
		printf("\nDefault context: backend %s%s, %d threads\n", dflt,
		       forced && *forced ? " (forced by QNT_BACKEND)" : "", (int)nthreads);
	else
		printf("\nDefault context: unavailable: %s\n", qnt_ctx_last_error(NULL));
	return EXIT_OK;
}

static const char types_help[] =
	"Usage: qnt types [--json]\n\n"
	"Lists the formats libqnt knows: id (the GGUF type id for ggml formats),\n"
	"elements per block, bytes per block, bits per weight, and whether libqnt\n"
	"can quantize to it, dequantize it, and use importance weights.\n\n"
	"  -j, --json   machine-readable output\n"
	"  -h, --help   this help\n";

int cmd_types(int argc, char **argv)
{
	int json = 0, rc = simple_opts("types", types_help, argc, argv, &json, 0);
	if (rc)
		return rc < 0 ? EXIT_OK : rc;
	json_t *arr = json ? json_array() : NULL;
	if (!json)
		printf("%-10s %4s %6s %6s %7s  %-5s %s\n", "NAME", "ID", "BLOCK", "BYTES", "BPW", "OPS", "DESCRIPTION");
	for (int32_t i = 0; i < qnt_type_count(); i++) {
		qnt_type_info ti = QNT_TYPE_INFO_INIT;
		if (qnt_type_get_info(qnt_type_at(i), &ti) != QNT_OK)
			continue;
		if (json) {
			json_t *o = json_object();
			json_object_set_new(o, "name", json_string(ti.name));
			json_object_set_new(o, "id", json_integer(ti.type));
			json_object_set_new(o, "block_size", json_integer(ti.block_size));
			json_object_set_new(o, "block_bytes", json_integer((json_int_t)ti.block_bytes));
			json_object_set_new(o, "bits_per_weight", json_real(ti.bits_per_weight));
			json_object_set_new(o, "quantize", json_boolean(ti.flags & QNT_TYPE_FLAG_QUANTIZE));
			json_object_set_new(o, "dequantize", json_boolean(ti.flags & QNT_TYPE_FLAG_DEQUANTIZE));
			json_object_set_new(o, "importance", json_boolean(ti.flags & QNT_TYPE_FLAG_IMPORTANCE));
			json_object_set_new(o, "activation", json_boolean(ti.flags & QNT_TYPE_FLAG_ACTIVATION));
			json_object_set_new(o, "description", json_string(ti.description));
			json_array_append_new(arr, o);
		} else {
			char ops[8] = "";
			if (ti.flags & QNT_TYPE_FLAG_QUANTIZE)
				strcat(ops, "q");
			if (ti.flags & QNT_TYPE_FLAG_DEQUANTIZE)
				strcat(ops, "d");
			if (ti.flags & QNT_TYPE_FLAG_IMPORTANCE)
				strcat(ops, "i");
			printf("%-10s %4d %6lld %6llu %7.4f  %-5s %s\n", ti.name, (int)ti.type, (long long)ti.block_size,
			       (unsigned long long)ti.block_bytes, ti.bits_per_weight, ops, ti.description);
		}
	}
	if (json)
		return print_json(arr);
	printf("\nOPS: q = quantize, d = dequantize, i = uses importance weights (imatrix)\n");
	return EXIT_OK;
}
