/* SPDX-License-Identifier: MIT */
/* Atomic file output; see atomic_file.h. */
#include "atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/random.h>
#endif

#define BUF_CAP ((size_t)1 << 20) /* writes smaller than this are coalesced */

struct qnt__afile {
	qnt_ctx *ctx;
	char *path;      /* destination */
	char *dir;       /* its directory */
	char *temp;      /* named temporary file, or NULL (O_TMPFILE) */
	int fd;
	qnt_status failed; /* sticky error */
	uint64_t flushed;  /* bytes in the file */
	unsigned char *buf;
	size_t buf_len;
};

static char *dup_str(const char *s, size_t n)
{
	char *c = malloc(n + 1);
	if (c) {
		memcpy(c, s, n);
		c[n] = '\0';
	}
	return c;
}

static uint64_t random_u64(void)
{
	static atomic_uint_fast64_t counter;
	uint64_t r = 0;
#if defined(__linux__)
	if (getrandom(&r, sizeof r, GRND_NONBLOCK) == (ssize_t)sizeof r)
		return r ^ atomic_fetch_add(&counter, 1);
#endif
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	r = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 32);
	return r ^ (atomic_fetch_add(&counter, 1) * 0xBF58476D1CE4E5B9ull);
}

/* A fresh name ".<base>.tmp-<pid>-<random>" beside the destination. */
static char *temp_name(const struct qnt__afile *f)
{
	const char *slash = strrchr(f->path, '/');
	const char *base = slash ? slash + 1 : f->path;
	size_t dn = slash ? (size_t)(slash - f->path) + 1 : 0;
	size_t n = dn + 1 + strlen(base) + 64;
	char *t = malloc(n);
	if (t)
		snprintf(t, n, "%.*s.%s.tmp-%ld-%016llx", (int)dn, f->path, base, (long)getpid(),
			 (unsigned long long)random_u64());
	return t;
}

static qnt_status fail(struct qnt__afile *f, qnt_status st, const char *what, uint64_t offset, int err)
{
	st = qnt__error(f->ctx, st, "%s: %s at byte offset %llu: %s", f->path, what, (unsigned long long)offset,
			strerror(err));
	f->failed = st;
	return st;
}

/* A failure other than a write: "<path>: <what>: <strerror>". */
static qnt_status fail_op(struct qnt__afile *f, const char *what, int err)
{
	qnt_status st = qnt__error(f->ctx, QNT_E_IO, "%s: %s: %s", f->path, what, strerror(err));
	f->failed = st;
	return st;
}

static qnt_status write_all(struct qnt__afile *f, const unsigned char *p, size_t n)
{
	while (n > 0) {
		size_t chunk = n > ((size_t)1 << 30) ? ((size_t)1 << 30) : n;
		ssize_t w = write(f->fd, p, chunk);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return fail(f, QNT_E_IO, "write failed", f->flushed, w < 0 ? errno : ENOSPC);
		p += w;
		n -= (size_t)w;
		f->flushed += (uint64_t)w;
	}
	return QNT_OK;
}

static qnt_status flush(struct qnt__afile *f)
{
	if (f->buf_len == 0)
		return QNT_OK;
	size_t n = f->buf_len;
	f->buf_len = 0;
	return write_all(f, f->buf, n);
}

static void destroy(struct qnt__afile *f)
{
	if (f->fd >= 0)
		close(f->fd);
	if (f->temp)
		unlink(f->temp);
	free(f->temp);
	free(f->buf);
	free(f->dir);
	free(f->path);
	free(f);
}

qnt_status qnt__afile_create(qnt_ctx *ctx, const char *path, uint32_t flags, struct qnt__afile **out)
{
	if (!out)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "atomic file: NULL argument");
	*out = NULL;
	if (!path)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "atomic file: NULL path");
	size_t len = strlen(path);
	if (len == 0 || path[len - 1] == '/')
		return qnt__error(ctx, QNT_E_INVALID_ARG, "'%s': not a file name", path);
	struct qnt__afile *f = calloc(1, sizeof *f);
	if (!f)
		return qnt__error(ctx, QNT_E_NO_MEMORY, "%s: out of memory", path);
	f->ctx = ctx;
	f->fd = -1;
	const char *slash = strrchr(path, '/');
	f->path = dup_str(path, len);
	f->dir = slash ? dup_str(path, slash == path ? 1 : (size_t)(slash - path)) : dup_str(".", 1);
	if (!f->path || !f->dir) {
		destroy(f);
		return qnt__error(ctx, QNT_E_NO_MEMORY, "%s: out of memory", path);
	}
	struct stat sb;
	if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
		destroy(f);
		return qnt__error(ctx, QNT_E_IO, "%s: is a directory", path);
	}
#if defined(O_TMPFILE)
	if (!(flags & QNT__AFILE_NAMED_TEMP) && access("/proc/self/fd", X_OK) == 0) {
		f->fd = open(f->dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
		if (f->fd < 0 && errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL && errno != ENOSYS) {
			int e = errno;
			qnt_status st = qnt__error(ctx, e == ENOENT ? QNT_E_NOT_FOUND : QNT_E_IO,
						   "%s: cannot create a file in '%s': %s", path, f->dir, strerror(e));
			destroy(f);
			return st;
		}
	}
#endif
	for (int tries = 0; f->fd < 0; tries++) {
		free(f->temp);
		if (!(f->temp = temp_name(f))) {
			destroy(f);
			return qnt__error(ctx, QNT_E_NO_MEMORY, "%s: out of memory", path);
		}
		f->fd = open(f->temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (f->fd < 0 && (errno != EEXIST || tries >= 100)) {
			int e = errno;
			qnt_status st = qnt__error(ctx, e == ENOENT ? QNT_E_NOT_FOUND : QNT_E_IO,
						   "%s: cannot create a temporary file in '%s': %s", path, f->dir,
						   strerror(e));
			free(f->temp);
			f->temp = NULL; /* nothing to unlink */
			destroy(f);
			return st;
		}
	}
	*out = f;
	return QNT_OK;
}

qnt_status qnt__afile_write(struct qnt__afile *f, const void *data, size_t n)
{
	if (!f)
		return qnt__error(NULL, QNT_E_INVALID_ARG, "atomic file: NULL handle");
	if (f->failed)
		return f->failed;
	if (n == 0)
		return QNT_OK;
	if (!data)
		return f->failed = qnt__error(f->ctx, QNT_E_INVALID_ARG, "%s: write of %zu bytes from NULL", f->path, n);
	if (f->buf_len + n <= BUF_CAP) {
		if (!f->buf && !(f->buf = malloc(BUF_CAP)))
			return f->failed = qnt__error(f->ctx, QNT_E_NO_MEMORY, "%s: out of memory", f->path);
		memcpy(f->buf + f->buf_len, data, n);
		f->buf_len += n;
		return QNT_OK;
	}
	qnt_status st = flush(f);
	if (st != QNT_OK)
		return st;
	return write_all(f, data, n);
}

qnt_status qnt__afile_pwrite(struct qnt__afile *f, const void *data, size_t n, uint64_t offset)
{
	if (!f)
		return qnt__error(NULL, QNT_E_INVALID_ARG, "atomic file: NULL handle");
	if (f->failed)
		return f->failed;
	uint64_t size = f->flushed + f->buf_len;
	if (offset > size || n > size - offset)
		return f->failed = qnt__error(f->ctx, QNT_E_INVALID_ARG,
					      "%s: pwrite of %zu bytes at byte offset %llu beyond the %llu bytes written",
					      f->path, n, (unsigned long long)offset, (unsigned long long)size);
	if (n && !data)
		return f->failed = qnt__error(f->ctx, QNT_E_INVALID_ARG, "%s: write of %zu bytes from NULL", f->path, n);
	qnt_status st = flush(f);
	if (st != QNT_OK)
		return st;
	const unsigned char *p = data;
	while (n > 0) {
		ssize_t w = pwrite(f->fd, p, n, (off_t)offset);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return fail(f, QNT_E_IO, "write failed", offset, w < 0 ? errno : ENOSPC);
		p += w;
		n -= (size_t)w;
		offset += (uint64_t)w;
	}
	return QNT_OK;
}

qnt_status qnt__afile_flush(struct qnt__afile *f)
{
	if (!f)
		return qnt__error(NULL, QNT_E_INVALID_ARG, "atomic file: NULL handle");
	if (f->failed)
		return f->failed;
	qnt_status st = flush(f);
	free(f->buf);
	f->buf = NULL;
	return st;
}

uint64_t qnt__afile_size(const struct qnt__afile *f)
{
	return f ? f->flushed + f->buf_len : 0;
}

const char *qnt__afile_path(const struct qnt__afile *f)
{
	return f ? f->path : NULL;
}

const char *qnt__afile_temp_path(const struct qnt__afile *f)
{
	return f ? f->temp : NULL;
}

static qnt_status sync_dir(struct qnt__afile *f)
{
	int dfd = open(f->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return fail_op(f, "renamed, but cannot open the directory to sync it", errno);
	int r;
	while ((r = fsync(dfd)) != 0 && errno == EINTR)
		;
	int e = errno;
	close(dfd);
	/* Some file systems cannot sync a directory; the rename stands. */
	if (r != 0 && e != EINVAL && e != EROFS && e != ENOTSUP)
		return fail_op(f, "renamed, but the fsync of the directory failed", e);
	return QNT_OK;
}

qnt_status qnt__afile_commit(struct qnt__afile *f)
{
	if (!f)
		return qnt__error(NULL, QNT_E_INVALID_ARG, "atomic file: NULL handle");
	qnt_status st = f->failed;
	if (st == QNT_OK)
		st = flush(f);
	if (st == QNT_OK) {
		int r;
		while ((r = fsync(f->fd)) != 0 && errno == EINTR)
			;
		if (r != 0)
			st = fail_op(f, "fsync failed", errno);
	}
#if defined(O_TMPFILE)
	if (st == QNT_OK && !f->temp) {
		/* Give the unnamed file a temporary name (linkat cannot replace an
		 * existing file), then rename it like a named one. */
		char proc[64];
		snprintf(proc, sizeof proc, "/proc/self/fd/%d", f->fd);
		for (int tries = 0;; tries++) {
			if (!(f->temp = temp_name(f))) {
				st = f->failed = qnt__error(f->ctx, QNT_E_NO_MEMORY, "%s: out of memory", f->path);
				break;
			}
			if (linkat(AT_FDCWD, proc, AT_FDCWD, f->temp, AT_SYMLINK_FOLLOW) == 0)
				break;
			int e = errno;
			free(f->temp);
			f->temp = NULL;
			if (e != EEXIST || tries >= 100) {
				st = fail_op(f, "cannot link the new file into its directory", e);
				break;
			}
		}
	}
#endif
	if (st == QNT_OK) {
		if (rename(f->temp, f->path) != 0) {
			st = fail_op(f, "cannot rename the new file over the destination", errno);
		} else {
			free(f->temp);
			f->temp = NULL; /* renamed: nothing to remove any more */
			st = sync_dir(f);
		}
	}
	destroy(f);
	return st;
}

void qnt__afile_abort(struct qnt__afile *f)
{
	if (f)
		destroy(f);
}
