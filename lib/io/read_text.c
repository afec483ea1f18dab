/* SPDX-License-Identifier: MIT */
/* qnt__read_text: a small text file (config.json, a recipe) read whole. */
#include "qnt_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

qnt_status qnt__read_text(qnt_ctx *ctx, const char *path, size_t max_bytes, const char *what, char **out,
			  size_t *len)
{
	*out = NULL;
	FILE *fp = fopen(path, "rb");
	if (!fp) {
		int e = errno;
		return qnt__error(ctx, e == ENOENT ? QNT_E_NOT_FOUND : QNT_E_IO, "%s: cannot open: %s", path,
				  strerror(e));
	}
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	qnt_status st = QNT_OK;
	while (buf) {
		if (n + 1 >= cap) {
			if (cap > max_bytes) {
				st = qnt__error(ctx, QNT_E_FORMAT, "%s: larger than %zu bytes: not %s", path, max_bytes,
						what);
				break;
			}
			char *nb = realloc(buf, cap * 2);
			if (!nb) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		size_t got = fread(buf + n, 1, cap - 1 - n, fp);
		n += got;
		if (got == 0)
			break;
	}
	if (!buf)
		st = qnt__error(ctx, QNT_E_NO_MEMORY, "%s: out of memory", path);
	else if (st == QNT_OK && ferror(fp))
		st = qnt__error(ctx, QNT_E_IO, "%s: read failed", path);
	fclose(fp);
	if (st != QNT_OK) {
		free(buf);
		return st;
	}
	buf[n] = '\0';
	*out = buf;
	if (len)
		*len = n;
	return QNT_OK;
}
