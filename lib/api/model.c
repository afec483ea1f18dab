/* SPDX-License-Identifier: MIT */
/*
 * qnt_model: one read-only view of a GGUF file, a safetensors file or
 * checkpoint, or an MLX folder, over the strict readers of lib/io.
 */
#include "model.h"

#include "../io/gguf_read.h"
#include "../io/checksum.h"
#include "../io/mlx_folder.h"
#include "qnt_fp.h"
#include "../io/safetensors.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

QNT_API void qnt_free(void *p)
{
	free(p);
}

static char *dup_str(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);
	if (d)
		memcpy(d, s, n);
	return d;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && strcmp(s + n - k, suffix) == 0;
}

static int is_dir(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int file_exists(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

static char *join(const char *dir, const char *name)
{
	size_t a = strlen(dir), b = strlen(name);
	char *p = malloc(a + b + 2);
	if (!p)
		return NULL;
	memcpy(p, dir, a);
	p[a] = '/';
	memcpy(p + a + 1, name, b + 1);
	return p;
}

/* ---- tensors from the readers ---- */

static qnt_status grow(qnt_ctx *ctx, struct qnt_model *m, int64_t more)
{
	struct qnt__mtensor *t = realloc(m->t, (size_t)(m->n + more) * sizeof *t);
	if (!t)
		return qnt__error(ctx, QNT_E_NO_MEMORY, "%s: out of memory", m->path);
	memset(t + m->n, 0, (size_t)more * sizeof *t);
	m->t = t;
	return QNT_OK;
}

static void set_rows(struct qnt__mtensor *t)
{
	int64_t n = 1;
	for (uint32_t d = 0; d < t->n_dims; d++)
		n *= t->shape[d];
	for (uint32_t d = t->n_dims; d < QNT_MAX_DIMS; d++)
		t->shape[d] = 1;
	t->n_elements = n;
	t->row_len = t->n_dims ? t->shape[t->n_dims - 1] : 1;
	t->n_rows = t->row_len ? n / t->row_len : 0;
}

static void set_storage(struct qnt__mtensor *t, int storage, int elem_bytes)
{
	t->storage = storage;
	t->elem_bytes = elem_bytes;
	t->type = QNT_TYPE_INVALID;
}

static qnt_status add_gguf(qnt_ctx *ctx, struct qnt_model *m)
{
	const int64_t n = qnt__gguf_n_tensors(m->gguf);
	qnt_status st = grow(ctx, m, n);
	if (st != QNT_OK)
		return st;
	for (int64_t i = 0; i < n; i++) {
		const struct qnt__gguf_tensor *g = qnt__gguf_tensor_at(m->gguf, i);
		struct qnt__mtensor *t = &m->t[m->n++];
		t->name = g->name;
		t->n_dims = g->n_dims;
		for (uint32_t d = 0; d < g->n_dims; d++)
			t->shape[d] = g->ne[g->n_dims - 1 - d];
		set_rows(t);
		t->raw_type = g->type;
		t->data = g->data;
		t->nbytes = g->nbytes;
		t->file = qnt__gguf_path(m->gguf);
		t->offset = g->file_offset;
		t->src_index = i;
		t->mapped = qnt__gguf_is_mapped(m->gguf);
		const char *tn = qnt__ggml_type_name(g->type);
		snprintf(t->dtype, sizeof t->dtype, "%s", tn ? tn : "unknown");
		if (qnt__traits((qnt_type)g->type) && !(qnt__traits((qnt_type)g->type)->flags &
							 QNT_TYPE_FLAG_ACTIVATION)) {
			t->type = (qnt_type)g->type;
			t->storage = QNT__STORE_FORMAT;
		} else {
			switch (g->type) {
			case 24: set_storage(t, QNT__STORE_I8, 1); break;
			case 25: set_storage(t, QNT__STORE_I16, 2); break;
			case 26: set_storage(t, QNT__STORE_I32, 4); break;
			case 27: set_storage(t, QNT__STORE_I64, 8); break;
			case 28: set_storage(t, QNT__STORE_F64, 8); break;
			default:
				if (qnt__traits((qnt_type)g->type)) { /* q8_1, q8_K: readable */
					t->type = (qnt_type)g->type;
					t->storage = QNT__STORE_FORMAT;
				} else {
					set_storage(t, QNT__STORE_OTHER, 0);
				}
			}
		}
	}
	return QNT_OK;
}

static void st_storage(struct qnt__mtensor *t, int dtype)
{
	switch (dtype) {
	case QNT__ST_F32: t->type = QNT_TYPE_F32; t->storage = QNT__STORE_FORMAT; return;
	case QNT__ST_F16: t->type = QNT_TYPE_F16; t->storage = QNT__STORE_FORMAT; return;
	case QNT__ST_BF16: t->type = QNT_TYPE_BF16; t->storage = QNT__STORE_FORMAT; return;
	case QNT__ST_BOOL: set_storage(t, QNT__STORE_BOOL, 1); return;
	case QNT__ST_U8: set_storage(t, QNT__STORE_U8, 1); return;
	case QNT__ST_I8: set_storage(t, QNT__STORE_I8, 1); return;
	case QNT__ST_I16: set_storage(t, QNT__STORE_I16, 2); return;
	case QNT__ST_U16: set_storage(t, QNT__STORE_U16, 2); return;
	case QNT__ST_I32: set_storage(t, QNT__STORE_I32, 4); return;
	case QNT__ST_U32: set_storage(t, QNT__STORE_U32, 4); return;
	case QNT__ST_I64: set_storage(t, QNT__STORE_I64, 8); return;
	case QNT__ST_U64: set_storage(t, QNT__STORE_U64, 8); return;
	case QNT__ST_F64: set_storage(t, QNT__STORE_F64, 8); return;
	case QNT__ST_F8_E4M3: set_storage(t, QNT__STORE_F8_E4M3, 1); return;
	case QNT__ST_F8_E5M2: set_storage(t, QNT__STORE_F8_E5M2, 1); return;
	default: set_storage(t, QNT__STORE_OTHER, 0); return;
	}
}

static qnt_status add_st(qnt_ctx *ctx, struct qnt_model *m, const struct qnt__st_file *f)
{
	const int64_t n = qnt__st_n_tensors(f);
	qnt_status st = grow(ctx, m, n);
	if (st != QNT_OK)
		return st;
	for (int64_t i = 0; i < n; i++) {
		const struct qnt__st_tensor *s = qnt__st_tensor_at(f, i);
		if (s->n_dims > QNT_MAX_DIMS)
			return qnt__error(ctx, QNT_E_UNSUPPORTED, "%s: tensor '%s': %u dimensions, libqnt reads at most %d",
					  qnt__st_path(f), s->name, (unsigned)s->n_dims, QNT_MAX_DIMS);
		struct qnt__mtensor *t = &m->t[m->n++];
		t->name = s->name;
		t->n_dims = s->n_dims;
		for (uint32_t d = 0; d < s->n_dims; d++) {
			if (s->shape[d] > (uint64_t)INT64_MAX)
				return qnt__error(ctx, QNT_E_FORMAT, "%s: tensor '%s': dimension too large", qnt__st_path(f),
						  s->name);
			t->shape[d] = (int64_t)s->shape[d];
		}
		set_rows(t);
		t->raw_type = (uint32_t)s->dtype;
		t->data = s->data;
		t->nbytes = s->nbytes;
		t->file = qnt__st_path(f);
		t->offset = s->file_offset;
		t->src_index = i;
		t->mapped = qnt__st_is_mapped(f);
		t->stf = f;
		snprintf(t->dtype, sizeof t->dtype, "%s", qnt__st_dtype_name(s->dtype));
		st_storage(t, s->dtype);
	}
	return QNT_OK;
}

struct qnt__name_ref {
	const char *name;
	int64_t index;
};

static int cmp_name_ref(const void *a, const void *b)
{
	return strcmp(((const struct qnt__name_ref *)a)->name, ((const struct qnt__name_ref *)b)->name);
}

/* Sorts the names for lookups; a name given twice (a tensor in two shards
 * of an index-less folder) is an error. */
static qnt_status index_names(qnt_ctx *ctx, struct qnt_model *m)
{
	m->by_name = malloc((size_t)(m->n ? m->n : 1) * sizeof *m->by_name);
	if (!m->by_name)
		return qnt__error(ctx, QNT_E_NO_MEMORY, "%s: out of memory", m->path);
	for (int64_t i = 0; i < m->n; i++) {
		m->by_name[i].name = m->t[i].name;
		m->by_name[i].index = i;
	}
	qsort(m->by_name, (size_t)m->n, sizeof *m->by_name, cmp_name_ref);
	for (int64_t i = 1; i < m->n; i++)
		if (strcmp(m->by_name[i - 1].name, m->by_name[i].name) == 0)
			return qnt__error(ctx, QNT_E_FORMAT, "%s: tensor '%s' is given twice (in %s and %s)", m->path,
					  m->by_name[i].name, m->t[m->by_name[i - 1].index].file,
					  m->t[m->by_name[i].index].file);
	return QNT_OK;
}

/* ---- opening ---- */

static void load_arch(struct qnt_model *m);

static void model_free(struct qnt_model *m)
{
	if (!m)
		return;
	qnt__mlxdir_close(m->mlx);
	qnt__st_index_close(m->stx);
	qnt__st_close(m->st);
	qnt__gguf_close(m->gguf);
	free(m->config_json);
	free(m->by_name);
	free(m->t);
	free(m->path);
	free(m);
}

static qnt_status open_index(qnt_ctx *ctx, struct qnt_model *m, const char *index_path)
{
	qnt_status st = qnt__st_index_open(ctx, index_path, QNT__ST_INDEX_OPEN_ALL, &m->stx);
	if (st != QNT_OK)
		return st;
	const int64_t ns = qnt__st_index_n_shards(m->stx);
	for (int64_t i = 0; i < ns; i++) {
		struct qnt__st_file *f;
		if ((st = qnt__st_index_shard(ctx, m->stx, i, &f)) != QNT_OK)
			return st;
		if ((st = add_st(ctx, m, f)) != QNT_OK)
			return st;
	}
	return QNT_OK;
}

/* An mlx-lm folder: config.json names a quantization. */
static int config_says_quantized(const char *config)
{
	json_error_t e;
	json_t *root = json_loads(config, 0, &e);
	int q = root && json_is_object(root) &&
		(json_object_get(root, "quantization") || json_object_get(root, "quantization_config"));
	json_decref(root);
	return q;
}

static qnt_status add_mlx(qnt_ctx *ctx, struct qnt_model *m)
{
	const int64_t n = qnt__mlxdir_n_tensors(m->mlx);
	qnt_status st = grow(ctx, m, n);
	if (st != QNT_OK)
		return st;
	for (int64_t i = 0; i < n; i++) {
		const struct qnt__mlxdir_tensor *x = qnt__mlxdir_tensor_at(m->mlx, i);
		const struct qnt__st_tensor *codes = x->parts[QNT__MLXDIR_PART_CODES];
		if (x->n_dims > QNT_MAX_DIMS)
			return qnt__error(ctx, QNT_E_UNSUPPORTED, "%s: tensor '%s': %u dimensions, libqnt reads at most %d",
					  m->path, x->name, (unsigned)x->n_dims, QNT_MAX_DIMS);
		struct qnt__mtensor *t = &m->t[m->n++];
		t->name = x->name;
		t->n_dims = x->n_dims;
		for (uint32_t d = 0; d < x->n_dims; d++)
			t->shape[d] = (int64_t)x->shape[d];
		set_rows(t);
		t->data = codes->data;
		t->file = x->files[QNT__MLXDIR_PART_CODES];
		t->offset = codes->file_offset;
		t->src_index = i;
		t->mx = x;
		if (x->quantized) {
			t->storage = QNT__STORE_MLX;
			t->type = x->type;
			t->nbytes = 0;
			for (int p = 0; p < QNT__MLXDIR_N_PARTS; p++)
				if (x->parts[p])
					t->nbytes += x->parts[p]->nbytes;
			const char *tn = qnt_type_name(x->type);
			if (tn)
				snprintf(t->dtype, sizeof t->dtype, "%s", tn);
			else
				snprintf(t->dtype, sizeof t->dtype, "mlx:affine:%d:%d", (int)x->bits, (int)x->group_size);
		} else {
			t->nbytes = codes->nbytes;
			t->raw_type = (uint32_t)x->dtype;
			snprintf(t->dtype, sizeof t->dtype, "%s", qnt__st_dtype_name(x->dtype));
			st_storage(t, x->dtype);
		}
	}
	return QNT_OK;
}

static qnt_status open_dir(qnt_ctx *ctx, struct qnt_model *m)
{
	qnt_status st;
	char *config = join(m->path, "config.json");
	char *index = join(m->path, QNT__ST_INDEX_NAME);
	char *single = join(m->path, "model.safetensors");
	if (!config || !index || !single) {
		st = qnt__error(ctx, QNT_E_NO_MEMORY, "%s: out of memory", m->path);
		goto out;
	}
	if (file_exists(config)) {
		if ((st = qnt__read_text(ctx, config, (size_t)64 << 20, "a config file", &m->config_json, NULL)) != QNT_OK)
			goto out;
		if (config_says_quantized(m->config_json)) {
			m->format = QNT_MODEL_MLX;
			if ((st = qnt__mlxdir_open(ctx, m->path, &m->mlx)) == QNT_OK)
				st = add_mlx(ctx, m);
			goto out;
		}
	}
	m->format = QNT_MODEL_SAFETENSORS;
	if (file_exists(index)) {
		st = open_index(ctx, m, index);
	} else if (file_exists(single)) {
		if ((st = qnt__st_open(ctx, single, &m->st)) == QNT_OK)
			st = add_st(ctx, m, m->st);
	} else {
		st = qnt__error(ctx, QNT_E_NOT_FOUND, "%s: a folder without %s or model.safetensors: not a model",
				m->path, QNT__ST_INDEX_NAME);
	}
out:
	free(config);
	free(index);
	free(single);
	return st;
}

static qnt_status open_file(qnt_ctx *ctx, struct qnt_model *m)
{
	unsigned char magic[4] = { 0 };
	FILE *f = fopen(m->path, "rb");
	if (!f)
		return qnt__error(ctx, errno == ENOENT ? QNT_E_NOT_FOUND : QNT_E_IO, "%s: cannot open: %s", m->path,
				  strerror(errno));
	size_t got = fread(magic, 1, 4, f);
	fclose(f);
	if (got == 4 && memcmp(magic, "GGUF", 4) == 0) {
		m->format = QNT_MODEL_GGUF;
		qnt_status st = qnt__gguf_open(ctx, m->path, &m->gguf);
		return st == QNT_OK ? add_gguf(ctx, m) : st;
	}
	m->format = QNT_MODEL_SAFETENSORS;
	if (ends_with(m->path, ".index.json"))
		return open_index(ctx, m, m->path);
	if (!ends_with(m->path, ".safetensors"))
		return qnt__error(ctx, QNT_E_UNSUPPORTED,
				  "%s: not a model file (GGUF, .safetensors, .safetensors.index.json, or a folder)",
				  m->path);
	qnt_status st = qnt__st_open(ctx, m->path, &m->st);
	return st == QNT_OK ? add_st(ctx, m, m->st) : st;
}

QNT_API qnt_status qnt_model_open(qnt_ctx *ctx, const char *path, qnt_model **out)
{
	if (out)
		*out = NULL;
	if (!path || !out)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "qnt_model_open: NULL %s", path ? "out" : "path");
	qnt__clear_error(ctx);
	struct qnt_model *m = calloc(1, sizeof *m);
	if (!m || !(m->path = dup_str(path))) {
		free(m);
		return qnt__error(ctx, QNT_E_NO_MEMORY, "%s: out of memory", path);
	}
	/* a trailing slash on a folder is fine; keep messages clean */
	size_t n = strlen(m->path);
	while (n > 1 && m->path[n - 1] == '/')
		m->path[--n] = '\0';
	qnt_status st = is_dir(m->path) ? open_dir(ctx, m) : open_file(ctx, m);
	if (st == QNT_OK)
		st = index_names(ctx, m);
	if (st == QNT_OK)
		load_arch(m);
	if (st != QNT_OK) {
		model_free(m);
		return st;
	}
	*out = m;
	return QNT_OK;
}

QNT_API void qnt_model_close(qnt_model *m)
{
	model_free(m);
}

QNT_API int32_t qnt_model_format(const qnt_model *m)
{
	return m ? m->format : 0;
}

QNT_API int64_t qnt_model_tensor_count(const qnt_model *m)
{
	return m ? m->n : 0;
}

QNT_API qnt_status qnt_model_tensor_info(const qnt_model *m, int64_t index, qnt_tensor_info *info)
{
	if (!m || !info || info->struct_size < offsetof(qnt_tensor_info, name))
		return qnt__error(NULL, QNT_E_INVALID_ARG, "qnt_model_tensor_info: %s",
				  !m ? "NULL model" : !info ? "NULL info" : "info->struct_size not set");
	if (index < 0 || index >= m->n)
		return qnt__error(NULL, QNT_E_NOT_FOUND, "qnt_model_tensor_info: %s: no tensor %lld (it has %lld)",
				  m->path, (long long)index, (long long)m->n);
	const struct qnt__mtensor *t = &m->t[index];
	qnt_tensor_info v;
	memset(&v, 0, sizeof v);
	v.struct_size = info->struct_size < sizeof v ? info->struct_size : (uint32_t)sizeof v;
	v.n_dims = (int32_t)t->n_dims;
	v.name = t->name;
	v.type = t->type;
	v.dtype = t->dtype;
	for (int d = 0; d < QNT_MAX_DIMS; d++)
		v.shape[d] = t->shape[d];
	v.n_elements = t->n_elements;
	v.nbytes = t->nbytes;
	v.file = t->file;
	v.offset = t->offset;
	memcpy(info, &v, v.struct_size);
	return QNT_OK;
}

QNT_API int64_t qnt_model_find_tensor(const qnt_model *m, const char *name)
{
	if (!m || !name)
		return -1;
	int64_t lo = 0, hi = m->n;
	while (lo < hi) {
		int64_t mid = lo + (hi - lo) / 2;
		int c = strcmp(m->by_name[mid].name, name);
		if (c == 0)
			return m->by_name[mid].index;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* ---- reading rows as floats ---- */

static float f8_e4m3_to_f32(uint8_t b)
{
	/* OCP E4M3FN: bias 7, no infinities, S.1111.111 is NaN */
	const int s = b >> 7, e = (b >> 3) & 15, m = b & 7;
	float v;
	if (e == 15 && m == 7)
		v = NAN;
	else if (e == 0)
		v = ldexpf((float)m, -9); /* subnormal: m/8 * 2^-6 */
	else
		v = ldexpf((float)(8 + m), e - 10);
	return s ? -v : v;
}

static float f8_e5m2_to_f32(uint8_t b)
{
	/* E5M2 is the top byte of an IEEE half */
	return qnt__fp16_to_fp32((uint16_t)((uint16_t)b << 8));
}

static void convert_storage(const struct qnt__mtensor *t, const void *src, float *dst, int64_t n)
{
	const unsigned char *p = src;
	for (int64_t i = 0; i < n; i++, p += t->elem_bytes) {
		switch (t->storage) {
		case QNT__STORE_I8: dst[i] = (float)*(const int8_t *)p; break;
		case QNT__STORE_U8: dst[i] = (float)*p; break;
		case QNT__STORE_BOOL: dst[i] = *p ? 1.0f : 0.0f; break;
		case QNT__STORE_F8_E4M3: dst[i] = f8_e4m3_to_f32(*p); break;
		case QNT__STORE_F8_E5M2: dst[i] = f8_e5m2_to_f32(*p); break;
		case QNT__STORE_I16: { int16_t v; memcpy(&v, p, 2); dst[i] = (float)v; break; }
		case QNT__STORE_U16: { uint16_t v; memcpy(&v, p, 2); dst[i] = (float)v; break; }
		case QNT__STORE_I32: { int32_t v; memcpy(&v, p, 4); dst[i] = (float)v; break; }
		case QNT__STORE_U32: { uint32_t v; memcpy(&v, p, 4); dst[i] = (float)v; break; }
		case QNT__STORE_I64: { int64_t v; memcpy(&v, p, 8); dst[i] = (float)v; break; }
		case QNT__STORE_U64: { uint64_t v; memcpy(&v, p, 8); dst[i] = (float)v; break; }
		case QNT__STORE_F64: { double v; memcpy(&v, p, 8); dst[i] = (float)v; break; }
		default: dst[i] = NAN; break;
		}
	}
}

qnt_status qnt__model_read_rows(qnt_ctx *ctx, const struct qnt_model *m, int64_t index, int64_t row0,
				int64_t n_rows, float *out)
{
	if (index < 0 || index >= m->n)
		return qnt__error(ctx, QNT_E_NOT_FOUND, "%s: no tensor %lld (it has %lld)", m->path, (long long)index,
				  (long long)m->n);
	const struct qnt__mtensor *t = &m->t[index];
	if (row0 < 0 || n_rows < 0 || row0 > t->n_rows || n_rows > t->n_rows - row0)
		return qnt__error(ctx, QNT_E_BAD_SHAPE, "%s: tensor '%s': rows %lld..%lld out of its %lld rows", m->path,
				  t->name, (long long)row0, (long long)(row0 + n_rows), (long long)t->n_rows);
	if (n_rows == 0 || t->row_len == 0)
		return QNT_OK;
	switch (t->storage) {
	case QNT__STORE_FORMAT: {
		const size_t rb = qnt_row_size(t->type, t->row_len);
		return qnt__dequantize_c(ctx, t->type, (const char *)t->data + (uint64_t)row0 * rb, out, n_rows,
					 t->row_len);
	}
	case QNT__STORE_MLX:
		return qnt__mlxdir_dequantize(ctx, t->mx, row0, row0 + n_rows, QNT_TYPE_F32, out);
	case QNT__STORE_OTHER:
		return qnt__error(ctx, QNT_E_UNSUPPORTED, "%s: tensor '%s': libqnt cannot read %s as floats", m->path,
				  t->name, t->dtype);
	default:
		convert_storage(t, (const char *)t->data + (uint64_t)row0 * (uint64_t)t->row_len * (uint64_t)t->elem_bytes,
				out, n_rows * t->row_len);
		return QNT_OK;
	}
}

QNT_API qnt_status qnt_model_read_rows(qnt_ctx *ctx, const qnt_model *m, int64_t index, int64_t row0,
				       int64_t n_rows, float *out)
{
	if (!m || !out)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "qnt_model_read_rows: NULL %s", m ? "out" : "model");
	qnt_status st;
	qnt_ctx *c = qnt__ctx_acquire(ctx, &st);
	if (!c)
		return st;
	st = qnt__model_read_rows(c, m, index, row0, n_rows, out);
	qnt__ctx_release(c);
	return st;
}

/* ---- metadata ---- */

static json_t *gguf_value_json(const struct qnt__gguf_value *v, int64_t max_array, int depth);

static json_t *gguf_scalar_json(const struct qnt__gguf_value *v)
{
	uint64_t u;
	int64_t i;
	double d;
	int b;
	const char *s;
	uint64_t len;
	switch (v->type) {
	case QNT__GGUF_BOOL:
		return qnt__gguf_get_bool(v, &b) ? json_boolean(b) : json_null();
	case QNT__GGUF_FLOAT32:
	case QNT__GGUF_FLOAT64:
		if (!qnt__gguf_get_f64(v, &d))
			return json_null();
		return isfinite(d) ? json_real(d) : json_string(isnan(d) ? "nan" : d > 0 ? "inf" : "-inf");
	case QNT__GGUF_STRING:
		if (!qnt__gguf_get_str(v, &s, &len))
			return json_null();
		return json_stringn_nocheck(s, (size_t)len);
	case QNT__GGUF_UINT64:
		if (qnt__gguf_get_uint(v, &u) && u > (uint64_t)INT64_MAX) {
			char buf[24];
			snprintf(buf, sizeof buf, "%llu", (unsigned long long)u);
			return json_string(buf);
		}
		/* fall through */
	default:
		return qnt__gguf_get_int(v, &i) ? json_integer(i) : json_null();
	}
}

static json_t *gguf_value_json(const struct qnt__gguf_value *v, int64_t max_array, int depth)
{
	if (v->type != QNT__GGUF_ARRAY)
		return gguf_scalar_json(v);
	json_t *arr = json_array();
	struct qnt__gguf_iter it;
	struct qnt__gguf_value e;
	int64_t k = 0;
	qnt__gguf_iter_init(&it, v);
	while (qnt__gguf_iter_next(&it, &e)) {
		if (max_array >= 0 && k >= max_array)
			break;
		json_array_append_new(arr, gguf_value_json(&e, max_array, depth + 1));
		k++;
	}
	if (max_array < 0 || (int64_t)v->n <= max_array)
		return arr;
	json_t *o = json_object();
	json_object_set_new(o, "type", json_string("ARRAY"));
	json_object_set_new(o, "elem_type", json_string(qnt__gguf_type_name(v->elem_type)));
	json_object_set_new(o, "n", json_integer((json_int_t)v->n));
	json_object_set_new(o, "head", arr);
	return o;
}

static void st_metadata_json(json_t *o, const struct qnt__st_file *f)
{
	for (int64_t i = 0; i < qnt__st_n_metadata(f); i++) {
		const char *k, *v;
		qnt__st_metadata_at(f, i, &k, &v);
		json_object_set_new(o, k, json_string(v));
	}
}

QNT_API qnt_status qnt_model_metadata_json(const qnt_model *m, int64_t max_array, char **json)
{
	if (json)
		*json = NULL;
	if (!m || !json)
		return qnt__error(NULL, QNT_E_INVALID_ARG, "qnt_model_metadata_json: NULL %s", m ? "json" : "model");
	json_t *o = json_object();
	if (!o)
		return qnt__error(NULL, QNT_E_NO_MEMORY, "qnt_model_metadata_json: out of memory");
	if (m->gguf) {
		for (int64_t i = 0; i < qnt__gguf_n_kv(m->gguf); i++) {
			const struct qnt__gguf_kv *kv = qnt__gguf_kv_at(m->gguf, i);
			json_object_set_new(o, kv->key, gguf_value_json(&kv->value, max_array, 0));
		}
	}
	if (m->st)
		st_metadata_json(o, m->st);
	if (m->stx) {
		struct qnt__st_file *f;
		if (qnt__st_index_n_shards(m->stx) > 0 && qnt__st_index_shard(NULL, m->stx, 0, &f) == QNT_OK)
			st_metadata_json(o, f);
	}
	if (m->config_json) {
		json_error_t e;
		json_t *cfg = json_loads(m->config_json, 0, &e);
		json_object_set_new(o, "config.json", cfg ? cfg : json_string(m->config_json));
	}
	char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!s)
		return qnt__error(NULL, QNT_E_NO_MEMORY, "qnt_model_metadata_json: out of memory");
	/* jansson allocates with malloc (the default allocator): qnt_free works */
	*json = s;
	return QNT_OK;
}

/* ---- checksums ---- */

/* An MLX quantized tensor is several stored arrays, each with its own
 * checksum: the tensor's value is the XXH3-64 of theirs (stored and actual
 * alike), so the two are equal exactly when every array matches. */
static int mlx_checksum(const struct qnt_model *m, const struct qnt__mtensor *t, uint64_t *stored, uint64_t *actual)
{
	uint64_t sv[QNT__MLXDIR_N_PARTS], av[QNT__MLXDIR_N_PARTS];
	int n = 0, have = 1;
	for (int p = 0; p < QNT__MLXDIR_N_PARTS; p++) {
		const struct qnt__st_tensor *pt = t->mx->parts[p];
		if (!pt)
			continue;
		av[n] = qnt__xxh3_64(pt->data, (size_t)pt->nbytes);
		if (!qnt__mlxdir_part_checksum(m->mlx, t->mx, p, &sv[n]))
			have = 0;
		n++;
	}
	*actual = qnt__xxh3_64(av, (size_t)n * sizeof av[0]);
	*stored = qnt__xxh3_64(sv, (size_t)n * sizeof sv[0]);
	return have;
}

QNT_API qnt_status qnt_model_tensor_checksum(const qnt_model *m, int64_t index, uint64_t *stored,
					     uint64_t *actual)
{
	if (!m)
		return qnt__error(NULL, QNT_E_INVALID_ARG, "qnt_model_tensor_checksum: NULL model");
	if (index < 0 || index >= m->n)
		return qnt__error(NULL, QNT_E_NOT_FOUND, "qnt_model_tensor_checksum: %s: no tensor %lld", m->path,
				  (long long)index);
	const struct qnt__mtensor *t = &m->t[index];
	uint64_t s = 0, a = 0;
	int have = 0;
	if (t->storage == QNT__STORE_MLX) {
		have = mlx_checksum(m, t, &s, &a);
	} else {
		a = qnt__xxh3_64(t->data, (size_t)t->nbytes);
		if (m->gguf)
			have = qnt__gguf_stored_checksum(m->gguf, t->src_index, &s);
		else if (t->stf)
			have = qnt__st_stored_checksum(t->stf, t->src_index, &s);
		else if (m->mlx) /* a plain tensor of an MLX folder */
			have = qnt__mlxdir_part_checksum(m->mlx, t->mx, QNT__MLXDIR_PART_CODES, &s);
	}
	if (stored)
		*stored = s;
	if (actual)
		*actual = a;
	if (!have)
		return qnt__error(NULL, QNT_E_NOT_FOUND, "%s: tensor '%s': the file records no checksum", m->path,
				  t->name);
	return QNT_OK;
}

/* ---- architecture facts for recipes ---- */

static int64_t gguf_int(const struct qnt__gguf *g, const char *arch, const char *suffix)
{
	char key[160];
	snprintf(key, sizeof key, "%s.%s", arch, suffix);
	const struct qnt__gguf_kv *kv = qnt__gguf_find_kv(g, key);
	int64_t v;
	if (!kv)
		return 0;
	if (kv->value.type == QNT__GGUF_ARRAY) { /* per-layer head counts: take the first */
		struct qnt__gguf_iter it;
		struct qnt__gguf_value e;
		qnt__gguf_iter_init(&it, &kv->value);
		return qnt__gguf_iter_next(&it, &e) && qnt__gguf_get_int(&e, &v) ? v : 0;
	}
	return qnt__gguf_get_int(&kv->value, &v) ? v : 0;
}

static int64_t cfg_int(json_t *cfg, const char *const *keys)
{
	for (; *keys; keys++) {
		json_t *v = json_object_get(cfg, *keys);
		if (json_is_integer(v))
			return (int64_t)json_integer_value(v);
	}
	return 0;
}

/* Fills the architecture facts of m (at open). */
static void load_arch(struct qnt_model *m)
{
	if (m->gguf) {
		const struct qnt__gguf_kv *kv = qnt__gguf_find_kv(m->gguf, "general.architecture");
		const char *s;
		uint64_t len;
		if (!kv || !qnt__gguf_get_str(&kv->value, &s, &len) || len == 0 || len >= sizeof m->arch)
			return;
		memcpy(m->arch, s, (size_t)len);
		m->arch[len] = '\0';
		m->n_layer = gguf_int(m->gguf, m->arch, "block_count");
		m->n_expert = gguf_int(m->gguf, m->arch, "expert_count");
		m->n_head = gguf_int(m->gguf, m->arch, "attention.head_count");
		m->n_head_kv = gguf_int(m->gguf, m->arch, "attention.head_count_kv");
		return;
	}
	if (!m->config_json)
		return;
	json_error_t e;
	json_t *cfg = json_loads(m->config_json, 0, &e);
	if (!json_is_object(cfg)) {
		json_decref(cfg);
		return;
	}
	json_t *mt = json_object_get(cfg, "model_type");
	if (json_is_string(mt) && strlen(json_string_value(mt)) < sizeof m->arch)
		strcpy(m->arch, json_string_value(mt));
	static const char *const layers[] = { "num_hidden_layers", "n_layer", "num_layers", NULL };
	static const char *const experts[] = { "num_local_experts", "num_experts", "n_routed_experts", NULL };
	static const char *const heads[] = { "num_attention_heads", "n_head", NULL };
	static const char *const kv_heads[] = { "num_key_value_heads", "n_head_kv", NULL };
	m->n_layer = cfg_int(cfg, layers);
	m->n_expert = cfg_int(cfg, experts);
	m->n_head = cfg_int(cfg, heads);
	m->n_head_kv = cfg_int(cfg, kv_heads);
	if (m->n_head_kv == 0)
		m->n_head_kv = m->n_head;
	json_decref(cfg);
}
