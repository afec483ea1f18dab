/* SPDX-License-Identifier: MIT */
/*
 * Atomic file output, for the internal use of libqnt (the safetensors and
 * GGUF writers): the bytes go to a temporary file in the destination's
 * directory, and only qnt__afile_commit makes them visible, all at once, at
 * the destination path:
 *
 *     write ... -> fsync(file) -> rename(temporary, destination) -> fsync(directory)
 *
 * A reader of the destination sees the old file or the whole new one, never
 * a part, and after a crash past commit the new file is on disk. Anything
 * that goes wrong before (a failed write, a full disk, qnt__afile_abort,
 * an error in the caller) removes the temporary file: no partial output is
 * ever left behind.
 *
 * Where the kernel and the file system allow it (Linux O_TMPFILE, with
 * /proc mounted), the temporary file has no name until commit links it in,
 * so even a process killed mid-way leaves nothing behind. Elsewhere it is
 * ".<destination name>.tmp-<pid>-<random>" beside the destination, which a
 * killed process may leave (a normal exit or error path never does).
 *
 * The new file gets mode 0666 less the umask, like fopen(path, "w").
 *
 * Errors are reported through qnt__error(ctx, ...) as QNT_E_IO (or
 * QNT_E_NOT_FOUND when the directory does not exist, QNT_E_INVALID_ARG,
 * QNT_E_NO_MEMORY), with messages of the form
 *     "<destination>: write failed at byte offset <n>: <strerror>".
 * A failure is sticky: every later call on the handle returns it again, and
 * commit then only cleans up.
 *
 * A handle is used by one thread at a time. POSIX only.
 */
#ifndef QNT_ATOMIC_FILE_H
#define QNT_ATOMIC_FILE_H

#include "qnt_internal.h"

/* Flags of qnt__afile_create. */
#define QNT__AFILE_NAMED_TEMP 0x1u /* never O_TMPFILE: always a named temporary file (tests) */

struct qnt__afile;

/* Starts a new file that commit will put at `path`. `ctx` (may be NULL)
 * receives the errors of this call and of every later one on the handle. */
qnt_status qnt__afile_create(qnt_ctx *ctx, const char *path, uint32_t flags, struct qnt__afile **out);

/* Appends n bytes (buffered; large writes go straight to the file). */
qnt_status qnt__afile_write(struct qnt__afile *f, const void *data, size_t n);

/* Overwrites n bytes at `offset`, which must lie in what was already
 * written (offset + n <= qnt__afile_size): to patch a header after the data
 * (the GGUF writer). */
qnt_status qnt__afile_pwrite(struct qnt__afile *f, const void *data, size_t n, uint64_t offset);

/* Writes the buffered bytes out and releases the buffer (for a file that
 * is complete but not committed yet, e.g. one shard of several). Writing
 * on afterwards is fine. */
qnt_status qnt__afile_flush(struct qnt__afile *f);

/* Bytes written so far (the file's size once flushed). */
uint64_t qnt__afile_size(const struct qnt__afile *f);

/* The destination path, and the temporary file's path (NULL while it has no
 * name: O_TMPFILE). */
const char *qnt__afile_path(const struct qnt__afile *f);
const char *qnt__afile_temp_path(const struct qnt__afile *f);

/* Flushes, fsyncs, renames over the destination and fsyncs the directory.
 * Always frees the handle: on failure the temporary file is removed and the
 * destination is untouched (its old content, or no file). Returns the sticky
 * error of an earlier call, if any, without committing. */
qnt_status qnt__afile_commit(struct qnt__afile *f);

/* Abandons the file: removes the temporary file and frees the handle. NULL
 * is a no-op. */
void qnt__afile_abort(struct qnt__afile *f);

#endif
