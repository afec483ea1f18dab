/* SPDX-License-Identifier: MIT */
/*
 * The backend registry: a mutex-protected list of vtables, each scored once
 * when it is registered, with module loading (dlopen) and the host table that
 * backends receive.
 *
 * Modules are never unloaded: a backend's threads or callbacks may outlive
 * any point at which unloading would look safe (ggml makes the same choice).
 */
#include "qnt_internal.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

/* ---- host table ---- */

static void host_log(int32_t level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	qnt__vlog(level, fmt, ap);
	va_end(ap);
}

qnt_host_api qnt__host = {
	sizeof(qnt_host_api),
	QNT_BACKEND_ABI,
	0, /* cpu_features: set by qnt__ensure_init */
	host_log,
	qnt__aligned_alloc,
	qnt__aligned_free,
	qnt__quantize_ref,
	qnt__dequantize_ref,
	qnt_row_size,
	qnt_type_get_info,
	qnt__matmul_ref_xq_type,
	qnt__matmul_ref,
};

/* ---- the list ---- */

static uv_once_t reg_once = UV_ONCE_INIT;
static uv_mutex_t reg_mu;
static struct qnt__backend **list;
static int32_t n_list, cap_list;

static void reg_init(void)
{
	uv_mutex_init(&reg_mu);
}

static const struct qnt__backend *find_locked(const char *name)
{
	for (int32_t i = 0; i < n_list; i++)
		if (strcmp(list[i]->vt->name, name) == 0)
			return list[i];
	return NULL;
}

qnt_status qnt__registry_register(const qnt_backend_vtbl *vt, uint32_t flags, const char *path, char *err,
				  size_t err_size)
{
	uv_once(&reg_once, reg_init);
	if (!vt) {
		snprintf(err, err_size, "backend vtable is NULL");
		return QNT_E_INVALID_ARG;
	}
	if (vt->abi_version != QNT_BACKEND_ABI || vt->struct_size < QNT_BACKEND_VTBL_MIN_SIZE) {
		snprintf(err, err_size, "backend built for ABI %u (vtable of %u bytes); this libqnt speaks ABI %d (at least %zu bytes)",
			 (unsigned)vt->abi_version, (unsigned)vt->struct_size, QNT_BACKEND_ABI,
			 (size_t)QNT_BACKEND_VTBL_MIN_SIZE);
		return QNT_E_ABI_MISMATCH;
	}
	if (!vt->name || !vt->name[0] || strlen(vt->name) > 64 || !vt->score || !vt->open || !vt->close ||
	    !vt->supports) {
		snprintf(err, err_size, "backend vtable lacks a name (1-64 chars), score, open, close or supports");
		return QNT_E_INVALID_ARG;
	}

	struct qnt__backend *b = calloc(1, sizeof *b);
	if (!b || (path && !(b->path = strdup(path)))) {
		free(b);
		snprintf(err, err_size, "out of memory");
		return QNT_E_NO_MEMORY;
	}
	b->vt = vt;
	b->flags = flags;
	b->score = vt->score(&qnt__host, b->reason, sizeof b->reason);
	if (b->score < 0)
		b->score = 0;
	if (b->score > 0)
		b->reason[0] = '\0';
	else if (!b->reason[0])
		snprintf(b->reason, sizeof b->reason, "the backend reports it cannot run here");

	uv_mutex_lock(&reg_mu);
	if (find_locked(vt->name)) { /* same name again: a no-op */
		uv_mutex_unlock(&reg_mu);
		free(b->path);
		free(b);
		return QNT_OK;
	}
	if (n_list == cap_list) {
		int32_t nc = cap_list ? cap_list * 2 : 8;
		struct qnt__backend **nl = realloc(list, (size_t)nc * sizeof *nl);
		if (!nl) {
			uv_mutex_unlock(&reg_mu);
			free(b->path);
			free(b);
			snprintf(err, err_size, "out of memory");
			return QNT_E_NO_MEMORY;
		}
		list = nl;
		cap_list = nc;
	}
	list[n_list++] = b;
	uv_mutex_unlock(&reg_mu);
	qnt__log(QNT_LOG_INFO, "registered backend %s (score %d)%s%s", vt->name, (int)b->score,
		 path ? " from " : "", path ? path : "");
	return QNT_OK;
}

const struct qnt__backend *qnt__backend_find(const char *name)
{
	uv_once(&reg_once, reg_init);
	uv_mutex_lock(&reg_mu);
	const struct qnt__backend *b = find_locked(name);
	uv_mutex_unlock(&reg_mu);
	return b;
}

const struct qnt__backend *qnt__backend_best(void)
{
	uv_once(&reg_once, reg_init);
	uv_mutex_lock(&reg_mu);
	const struct qnt__backend *best = NULL;
	for (int32_t i = 0; i < n_list; i++)
		if (list[i]->score > 0 && (!best || list[i]->score > best->score))
			best = list[i];
	uv_mutex_unlock(&reg_mu);
	return best;
}

/* Comma-separated names of the registered backends, for error messages. */
void qnt__backend_names(char *buf, size_t size)
{
	uv_once(&reg_once, reg_init);
	size_t used = 0;
	buf[0] = '\0';
	uv_mutex_lock(&reg_mu);
	for (int32_t i = 0; i < n_list && used < size; i++)
		used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "", list[i]->vt->name);
	uv_mutex_unlock(&reg_mu);
}

/* ---- public: registration and listing ---- */

QNT_API qnt_status qnt_backend_register(const qnt_backend_vtbl *vtbl)
{
	char err[256];
	qnt_status st = qnt__ensure_init();
	if (st != QNT_OK)
		return st;
	st = qnt__registry_register(vtbl, 0, NULL, err, sizeof err);
	if (st != QNT_OK)
		return qnt__error(NULL, st, "qnt_backend_register: %s", err);
	return QNT_OK;
}

QNT_API int32_t qnt_backend_count(void)
{
	if (qnt__ensure_init() != QNT_OK)
		return 0;
	uv_mutex_lock(&reg_mu);
	int32_t n = n_list;
	uv_mutex_unlock(&reg_mu);
	return n;
}

QNT_API qnt_status qnt_backend_get_props(int32_t index, qnt_backend_props *props)
{
	qnt_status st = qnt__ensure_init();
	if (st != QNT_OK)
		return st;
	if (!props || props->struct_size < sizeof(qnt_backend_props))
		return qnt__error(NULL, QNT_E_INVALID_ARG,
				  "qnt_backend_get_props: props is NULL or its struct_size is below %zu",
				  sizeof(qnt_backend_props));
	uv_mutex_lock(&reg_mu);
	if (index < 0 || index >= n_list) {
		int32_t n = n_list;
		uv_mutex_unlock(&reg_mu);
		return qnt__error(NULL, QNT_E_NOT_FOUND, "qnt_backend_get_props: index %d out of range (%d backends)",
				  (int)index, (int)n);
	}
	const struct qnt__backend *b = list[index];
	uv_mutex_unlock(&reg_mu);
	props->score = b->score;
	props->name = b->vt->name;
	props->description = b->vt->description ? b->vt->description : "";
	props->path = b->path;
	props->reason = b->reason;
	props->flags = b->flags | ((b->vt->caps & QNT_BACKEND_CAP_DEVICE_MEMORY) ? QNT_BACKEND_FLAG_DEVICE : 0);
	props->device_count = -1;
	return QNT_OK;
}

QNT_API const char *qnt_backend_best(void)
{
	if (qnt__ensure_init() != QNT_OK)
		return "";
	const struct qnt__backend *b = qnt__backend_best();
	return b ? b->vt->name : "";
}

/* ---- modules ---- */

qnt_status qnt__load_module(const char *path, char *err, size_t err_size)
{
	struct stat sb;
	if (stat(path, &sb) != 0) {
		snprintf(err, err_size, "%s: %s", path, strerror(errno));
		return QNT_E_NOT_FOUND;
	}
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *e = dlerror();
		snprintf(err, err_size, "%s: cannot load: %s", path, e ? e : "unknown error");
		return QNT_E_BACKEND;
	}
	qnt_backend_entry_fn entry;
	void *sym = dlsym(h, QNT_BACKEND_ENTRY_SYMBOL);
	memcpy(&entry, &sym, sizeof entry);
	if (!entry) {
		snprintf(err, err_size, "%s: not a libqnt backend (no %s symbol)", path, QNT_BACKEND_ENTRY_SYMBOL);
		dlclose(h);
		return QNT_E_BACKEND;
	}
	const qnt_backend_vtbl *vt = entry(QNT_BACKEND_ABI, &qnt__host);
	if (!vt) {
		snprintf(err, err_size, "%s: the module does not support host ABI %d", path, QNT_BACKEND_ABI);
		dlclose(h);
		return QNT_E_ABI_MISMATCH;
	}
	char rerr[256];
	qnt_status st = qnt__registry_register(vt, QNT_BACKEND_FLAG_MODULE, path, rerr, sizeof rerr);
	if (st != QNT_OK) {
		snprintf(err, err_size, "%s: %s", path, rerr);
		dlclose(h);
		return st;
	}
	/* registered (or a duplicate name): keep the module loaded for good */
	return QNT_OK;
}

QNT_API qnt_status qnt_backend_load(const char *path)
{
	char err[512];
	qnt_status st = qnt__ensure_init();
	if (st != QNT_OK)
		return st;
	if (!path)
		return qnt__error(NULL, QNT_E_INVALID_ARG, "qnt_backend_load: path is NULL");
	st = qnt__load_module(path, err, sizeof err);
	if (st != QNT_OK)
		return qnt__error(NULL, st, "qnt_backend_load: %s", err);
	return QNT_OK;
}

static int is_module_name(const char *n)
{
	size_t len = strlen(n);
	return strncmp(n, "libqnt-", 7) == 0 && len > 10 && strcmp(n + len - 3, ".so") == 0;
}

/* Loads the modules of one directory, in name order (so that the order of
 * registration, which breaks score ties, does not depend on the file system). */
qnt_status qnt__load_dir(const char *dir, char *err, size_t err_size)
{
	struct dirent **ents = NULL;
	int n = scandir(dir, &ents, NULL, alphasort);
	if (n < 0) {
		snprintf(err, err_size, "%s: %s", dir, strerror(errno));
		return QNT_E_NOT_FOUND;
	}
	for (int i = 0; i < n; i++) {
		if (is_module_name(ents[i]->d_name)) {
			char path[4096], merr[512];
			snprintf(path, sizeof path, "%s/%s", dir, ents[i]->d_name);
			if (qnt__load_module(path, merr, sizeof merr) != QNT_OK)
				qnt__log(QNT_LOG_WARN, "skipping backend module %s", merr);
		}
		free(ents[i]);
	}
	free(ents);
	return QNT_OK;
}

QNT_API qnt_status qnt_backend_load_dir(const char *dir)
{
	char err[512];
	qnt_status st = qnt__ensure_init();
	if (st != QNT_OK)
		return st;
	if (!dir)
		return qnt__error(NULL, QNT_E_INVALID_ARG, "qnt_backend_load_dir: dir is NULL");
	st = qnt__load_dir(dir, err, sizeof err);
	if (st != QNT_OK)
		return qnt__error(NULL, st, "qnt_backend_load_dir: %s", err);
	return QNT_OK;
}

/* QNT_BACKEND_PATH: directories (all their modules) or module files,
 * separated by ':'. */
void qnt__load_env_path(void)
{
	const char *env = getenv("QNT_BACKEND_PATH");
	if (!env || !*env)
		return;
	char *copy = strdup(env);
	if (!copy)
		return;
	char *save = NULL;
	for (char *p = strtok_r(copy, ":", &save); p; p = strtok_r(NULL, ":", &save)) {
		struct stat sb;
		char err[512];
		qnt_status st;
		if (stat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
			st = qnt__load_dir(p, err, sizeof err);
		else
			st = qnt__load_module(p, err, sizeof err);
		if (st != QNT_OK)
			qnt__log(QNT_LOG_WARN, "QNT_BACKEND_PATH: %s", err);
	}
	free(copy);
}
