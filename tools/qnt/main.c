/* SPDX-License-Identifier: MIT */
/* qnt: the libqnt command-line tool. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "qnt.h"

static const struct cmd cmds[] = {
	{ "info", "version, backends and their scores, CPU features", cmd_info },
	{ "types", "the formats: block size, bytes, bits per weight", cmd_types },
	{ "quantize", "quantize a whole model (GGUF, safetensors, MLX) with a type or recipe", cmd_quantize },
	{ "dequantize", "write every tensor of a model as f32 (or f16/bf16) to GGUF", cmd_dequantize },
	{ "inspect", "a model's format, metadata and tensors", cmd_inspect },
	{ "compare", "per-tensor error between two models", cmd_compare },
	{ "verify", "check the tensors' recorded checksums", cmd_verify },
	{ "recipes", "list the recipe presets, or print one as an editable JSON file", cmd_recipes },
	{ "bench", "quantize a generated tensor in every format: error and speed", cmd_bench },
};
#define N_CMDS (sizeof cmds / sizeof cmds[0])

int die(const char *fmt, ...)
{
	va_list ap;
	fputs("qnt: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return EXIT_FAIL;
}

int usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "qnt %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'qnt %s --help'.\n", cmd);
	return EXIT_USAGE;
}

int print_json(json_t *v)
{
	if (!v)
		return die("out of memory building JSON output");
	int rc = json_dumpf(v, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(8));
	json_decref(v);
	fputc('\n', stdout);
	return rc == 0 ? EXIT_OK : die("cannot write JSON output");
}

int parse_int(const char *s, long min, long max, long *out)
{
	char *end;
	if (!s || !*s)
		return 0;
	long v = strtol(s, &end, 10);
	if (*end || v < min || v > max)
		return 0;
	*out = v;
	return 1;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: qnt COMMAND [OPTIONS]\n\n"
		   "Quantize, convert and inspect model weights with libqnt %s.\n\nCommands:\n",
		qnt_version_string());
	for (size_t i = 0; i < N_CMDS; i++)
		fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f, "\nRun 'qnt COMMAND --help' for the options of a command.\n"
		   "Environment: QNT_NUM_THREADS (threads), QNT_BACKEND (force a backend),\n"
		   "QNT_BACKEND_PATH (directories of backend modules).\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("qnt %s\n", qnt_version_string());
		return EXIT_OK;
	}
	for (size_t i = 0; i < N_CMDS; i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].run(argc - 1, argv + 1);
	fprintf(stderr, "qnt: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
