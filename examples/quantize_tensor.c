/* SPDX-License-Identifier: MIT */
/*
 * Quantize a tensor with libqnt and measure the error: the smallest complete
 * use of the public API (context, quantize, dequantize, errors).
 *
 *   quantize_tensor [TYPE [ROWS COLS]]      default: q4_0 64 4096
 */
#include <libqnt.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	const char *type_name = argc > 1 ? argv[1] : "q4_0";
	int64_t rows = argc > 3 ? atoll(argv[2]) : 64, cols = argc > 3 ? atoll(argv[3]) : 4096;

	if (qnt_version_number() < QNT_VERSION_NUMBER) {
		fprintf(stderr, "libqnt %s is older than the header this was built with\n", qnt_version_string());
		return 1;
	}
	qnt_type type = qnt_type_by_name(type_name);
	if (type == QNT_TYPE_INVALID) {
		fprintf(stderr, "unknown format '%s' (try 'qnt types')\n", type_name);
		return 1;
	}
	size_t row_bytes = qnt_row_size(type, cols);
	if (rows <= 0 || row_bytes == 0) {
		fprintf(stderr, "%lld x %lld does not fit %s (block of %lld)\n", (long long)rows, (long long)cols,
			type_name, (long long)qnt_type_block_size(type));
		return 1;
	}

	qnt_ctx_opts opts = QNT_CTX_OPTS_INIT;
	opts.n_threads = 0; /* all CPUs */
	qnt_ctx *ctx = NULL;
	if (qnt_ctx_create(&opts, &ctx) != QNT_OK) {
		fprintf(stderr, "qnt_ctx_create: %s\n", qnt_ctx_last_error(NULL));
		return 1;
	}

	float *x = malloc((size_t)(rows * cols) * sizeof *x), *y = malloc((size_t)(rows * cols) * sizeof *y);
	void *q = malloc((size_t)rows * row_bytes);
	int rc = 1;
	if (!x || !y || !q)
		goto out;
	for (int64_t i = 0; i < rows * cols; i++) /* a smooth signal with outliers */
		x[i] = sinf((float)i * 0.01f) + (i % 97 == 0 ? 4.0f : 0.0f);

	qnt_status st = qnt_quantize(ctx, type, x, q, rows, cols, NULL);
	if (st == QNT_OK)
		st = qnt_dequantize(ctx, type, q, y, rows, cols);
	if (st != QNT_OK) {
		fprintf(stderr, "%s: %s\n", qnt_status_str(st), qnt_ctx_last_error(ctx));
		goto out;
	}
	double num = 0, den = 0;
	for (int64_t i = 0; i < rows * cols; i++) {
		num += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
		den += (double)x[i] * x[i];
	}
	printf("%s: %lld x %lld floats -> %zu bytes (%.3f bits/weight), relative RMSE %.6f, backend %s\n",
	       qnt_type_name(type), (long long)rows, (long long)cols, (size_t)rows * row_bytes,
	       8.0 * (double)row_bytes / (double)cols, sqrt(num / den), qnt_ctx_backend_name(ctx));
	rc = 0;
out:
	free(x);
	free(y);
	free(q);
	qnt_ctx_destroy(ctx);
	return rc;
}
