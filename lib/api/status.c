/* SPDX-License-Identifier: MIT */
/* Status strings, error messages (per context and per thread) and the
 * process-wide log. */
#include "qnt_internal.h"

#include <stdio.h>
#include <string.h>
#include <uv.h>

#define STATUS_LIST(X)                                                              \
	X(QNT_OK, "success")                                                        \
	X(QNT_E_INVALID_ARG, "invalid argument")                                    \
	X(QNT_E_NO_MEMORY, "out of memory")                                         \
	X(QNT_E_UNSUPPORTED, "operation not supported")                             \
	X(QNT_E_BACKEND, "backend failure")                                         \
	X(QNT_E_ABI_MISMATCH, "ABI version mismatch")                               \
	X(QNT_E_STRUCT_TOO_NEW, "options struct has fields this library does not know") \
	X(QNT_E_UNKNOWN_TYPE, "unknown format")                                     \
	X(QNT_E_BAD_SHAPE, "bad tensor shape")                                      \
	X(QNT_E_NOT_FOUND, "not found")                                             \
	X(QNT_E_IO, "input/output error")                                           \
	X(QNT_E_FORMAT, "malformed data")                                           \
	X(QNT_E_NOT_INITIALIZED, "library initialisation failed")                   \
	X(QNT_E_BUSY, "resource busy")

QNT_API const char *qnt_status_str(int status)
{
	switch (status) {
#define X(code, text)  \
	case code:     \
		return text;
		STATUS_LIST(X)
#undef X
	}
	return status <= -1000 ? "backend-specific error" : "unknown status code";
}

QNT_API const char *qnt_status_name(int status)
{
	switch (status) {
#define X(code, text)  \
	case code:     \
		return #code;
		STATUS_LIST(X)
#undef X
	}
	return "QNT_E_UNKNOWN";
}

/* ---- process-wide log ---- */

static uv_once_t log_once = UV_ONCE_INIT;
static uv_mutex_t log_mu;
static qnt_log_fn log_fn;
static void *log_user;
static int32_t log_level = QNT_LOG_WARN;

static void log_init(void)
{
	uv_mutex_init(&log_mu);
}

QNT_API void qnt_set_log_fn(qnt_log_fn fn, void *user, int32_t level)
{
	uv_once(&log_once, log_init);
	uv_mutex_lock(&log_mu);
	log_fn = fn;
	log_user = user;
	log_level = level;
	uv_mutex_unlock(&log_mu);
}

static void log_msg(int32_t level, const char *msg)
{
	uv_once(&log_once, log_init);
	uv_mutex_lock(&log_mu);
	if (log_fn && level <= log_level)
		log_fn(log_user, level, msg);
	uv_mutex_unlock(&log_mu);
}

void qnt__vlog(int32_t level, const char *fmt, va_list ap)
{
	char buf[QNT_ERRMSG_MAX];
	vsnprintf(buf, sizeof buf, fmt, ap);
	log_msg(level, buf);
}

void qnt__log(int32_t level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	qnt__vlog(level, fmt, ap);
	va_end(ap);
}

void qnt__ctx_log(qnt_ctx *ctx, int32_t level, const char *msg)
{
	if (ctx && ctx->log) {
		if (level <= ctx->log_level)
			ctx->log(ctx->log_user, level, msg);
		return;
	}
	log_msg(level, msg);
}

/* ---- error messages ---- */

static _Thread_local char thread_err[QNT_ERRMSG_MAX];

const char *qnt__thread_error(void)
{
	return thread_err;
}

void qnt__clear_error(qnt_ctx *ctx)
{
	thread_err[0] = '\0';
	if (ctx)
		ctx->err[0] = '\0';
}

qnt_status qnt__error(qnt_ctx *ctx, qnt_status st, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(thread_err, sizeof thread_err, fmt, ap);
	va_end(ap);
	if (ctx)
		memcpy(ctx->err, thread_err, sizeof ctx->err);
	qnt__ctx_log(ctx, QNT_LOG_ERROR, thread_err);
	return st;
}

QNT_API const char *qnt_ctx_last_error(const qnt_ctx *ctx)
{
	if (!ctx || ctx->is_default)
		return thread_err;
	return ctx->err;
}
