/* SPDX-License-Identifier: MIT */
/* Shared helpers of the qnt command-line tool. */
#ifndef QNT_TOOL_H
#define QNT_TOOL_H

#include <jansson.h>
#include <stdio.h>

#include "libqnt.h"

/* Exit statuses. */
#define EXIT_OK 0
#define EXIT_FAIL 1  /* the operation failed */
#define EXIT_USAGE 2 /* bad command line */

struct cmd {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
};

int cmd_info(int argc, char **argv);
int cmd_types(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_dequantize(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_recipes(int argc, char **argv);

/* Prints "qnt: error: ..." on stderr and returns EXIT_FAIL. */
int die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Prints "qnt CMD: ..." and a hint on stderr and returns EXIT_USAGE. */
int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Writes a JSON value to stdout (indented, with a newline) and frees it. */
int print_json(json_t *v);
/* Options of a command that takes only --json and --help and at most
 * max_args arguments: 0, -1 (help printed) or EXIT_USAGE. */
int simple_opts(const char *cmd, const char *help, int argc, char **argv, int *json, int max_args);
/* Parses a positive integer option value; returns 0 on error. */
int parse_int(const char *s, long min, long max, long *out);

#endif
