/* SPDX-License-Identifier: MIT */
/*
 * Whole-model work: qnt_model_quantize, qnt_model_dequantize and
 * qnt_model_compare, with their report.
 *
 * The pipeline streams: the source is mapped, and each tensor is done in
 * slabs of whole rows (within one expert's matrix, so that each slab has
 * one importance vector): read as floats, quantized on the context's pool,
 * dequantized again for the error metrics, written. The buffers are sized
 * from opts->max_memory; the mapped pages of the source are handed back to
 * the kernel after each slab (MADV_PAGEOUT), so that the resident set does
 * not grow with the model. Output bytes depend only on the input and the
 * plan (the quantizers are row-independent), not on the thread count.
 */
#include "model.h"

#include "../io/gguf_read.h"
#include "../io/gguf_write.h"
#include "../io/mlx_folder.h"
#include "../io/safetensors.h"
#include "qnt_fp.h"
#include "../core/recipe.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_MAX_MEMORY ((uint64_t)256 << 20)
#define COPY_CHUNK ((size_t)8 << 20)
#define GGML_QUANTIZATION_VERSION 2 /* general.quantization_version that llama.cpp writes */

/* ---- report ---- */

struct rentry {
	char *name;
	char src_dtype[40];
	char dtype[40];
	qnt_type src_type, type;
	uint32_t flags;
	int64_t n_elements;
	uint64_t nbytes;
	double rel_rmse, max_abs_err, cosine, seconds;
	char reason[128];
};

struct qnt_report {
	int64_t n, cap;
	struct rentry *e;
	double seconds;
	uint64_t src_bytes, out_bytes;
};

static struct rentry *report_add(struct qnt_report *r, const char *name)
{
	if (r->n == r->cap) {
		int64_t cap = r->cap ? 2 * r->cap : 64;
		struct rentry *e = realloc(r->e, (size_t)cap * sizeof *e);
		if (!e)
			return NULL;
		r->e = e;
		r->cap = cap;
	}
	struct rentry *x = &r->e[r->n];
	memset(x, 0, sizeof *x);
	size_t len = strlen(name) + 1;
	if (!(x->name = malloc(len)))
		return NULL;
	memcpy(x->name, name, len);
	x->rel_rmse = x->max_abs_err = x->cosine = NAN;
	x->src_type = x->type = QNT_TYPE_INVALID;
	r->n++;
	return x;
}

QNT_API void qnt_report_free(qnt_report *r)
{
	if (!r)
		return;
	for (int64_t i = 0; i < r->n; i++)
		free(r->e[i].name);
	free(r->e);
	free(r);
}

QNT_API int64_t qnt_report_count(const qnt_report *r)
{
	return r ? r->n : 0;
}

QNT_API qnt_status qnt_report_entry_at(const qnt_report *r, int64_t index, qnt_report_entry *e)
{
	if (!r || !e || e->struct_size < offsetof(qnt_report_entry, flags))
		return qnt__error(NULL, QNT_E_INVALID_ARG, "qnt_report_entry_at: %s",
				  !r ? "NULL report" : !e ? "NULL entry" : "e->struct_size not set");
	if (index < 0 || index >= r->n)
		return qnt__error(NULL, QNT_E_NOT_FOUND, "qnt_report_entry_at: no entry %lld (the report has %lld)",
				  (long long)index, (long long)r->n);
	const struct rentry *x = &r->e[index];
	qnt_report_entry v;
	memset(&v, 0, sizeof v);
	v.struct_size = e->struct_size < sizeof v ? e->struct_size : (uint32_t)sizeof v;
	v.flags = x->flags;
	v.name = x->name;
	v.src_dtype = x->src_dtype;
	v.dtype = x->dtype;
	v.src_type = x->src_type;
	v.type = x->type;
	v.n_elements = x->n_elements;
	v.nbytes = x->nbytes;
	v.bits_per_weight = x->n_elements ? 8.0 * (double)x->nbytes / (double)x->n_elements : 0.0;
	v.rel_rmse = x->rel_rmse;
	v.max_abs_err = x->max_abs_err;
	v.cosine = x->cosine;
	v.seconds = x->seconds;
	v.reason = x->reason;
	memcpy(e, &v, v.struct_size);
	return QNT_OK;
}

static json_t *num_or_null(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

QNT_API qnt_status qnt_report_json(const qnt_report *r, char **json)
{
	static const struct { uint32_t bit; const char *name; } flag_names[] = {
		{ QNT_REPORT_KEPT, "kept" },
		{ QNT_REPORT_FALLBACK, "fallback" },
		{ QNT_REPORT_REQUANTIZED, "requantized" },
		{ QNT_REPORT_IMPORTANCE, "importance" },
		{ QNT_REPORT_ONLY_IN_A, "only_in_a" },
		{ QNT_REPORT_ONLY_IN_B, "only_in_b" },
		{ QNT_REPORT_SHAPE_DIFFERS, "shape_differs" },
		{ QNT_REPORT_CONVERTED, "converted" },
	};
	if (json)
		*json = NULL;
	if (!r || !json)
		return qnt__error(NULL, QNT_E_INVALID_ARG, "qnt_report_json: NULL %s", r ? "json" : "report");
	json_t *root = json_object(), *arr = json_array();
	int64_t n_el = 0;
	uint64_t bytes = 0;
	double w_sum = 0.0, w_err = 0.0;
	for (int64_t i = 0; i < r->n; i++) {
		const struct rentry *x = &r->e[i];
		json_t *o = json_object(), *fl = json_array();
		json_object_set_new(o, "name", json_string(x->name));
		json_object_set_new(o, "src_dtype", json_string(x->src_dtype));
		json_object_set_new(o, "dtype", json_string(x->dtype));
		json_object_set_new(o, "n_elements", json_integer((json_int_t)x->n_elements));
		json_object_set_new(o, "bytes", json_integer((json_int_t)x->nbytes));
		json_object_set_new(o, "bits_per_weight",
				    num_or_null(x->n_elements ? 8.0 * (double)x->nbytes / (double)x->n_elements : NAN));
		json_object_set_new(o, "rel_rmse", num_or_null(x->rel_rmse));
		json_object_set_new(o, "max_abs_err", num_or_null(x->max_abs_err));
		json_object_set_new(o, "cosine", num_or_null(x->cosine));
		json_object_set_new(o, "seconds", json_real(x->seconds));
		for (size_t k = 0; k < sizeof flag_names / sizeof flag_names[0]; k++)
			if (x->flags & flag_names[k].bit)
				json_array_append_new(fl, json_string(flag_names[k].name));
		json_object_set_new(o, "flags", fl);
		json_object_set_new(o, "reason", json_string(x->reason));
		json_array_append_new(arr, o);
		n_el += x->n_elements;
		bytes += x->nbytes;
		if (isfinite(x->rel_rmse)) {
			w_sum += (double)x->n_elements;
			w_err += (double)x->n_elements * x->rel_rmse * x->rel_rmse;
		}
	}
	json_t *tot = json_object();
	json_object_set_new(tot, "tensors", json_integer((json_int_t)r->n));
	json_object_set_new(tot, "n_elements", json_integer((json_int_t)n_el));
	json_object_set_new(tot, "bytes", json_integer((json_int_t)bytes));
	json_object_set_new(tot, "source_bytes", json_integer((json_int_t)r->src_bytes));
	json_object_set_new(tot, "bits_per_weight", num_or_null(n_el ? 8.0 * (double)bytes / (double)n_el : NAN));
	/* the RMS over tensors of rel_rmse, weighted by element count */
	json_object_set_new(tot, "rel_rmse", num_or_null(w_sum > 0 ? sqrt(w_err / w_sum) : NAN));
	json_object_set_new(tot, "seconds", json_real(r->seconds));
	json_object_set_new(root, "tensors", arr);
	json_object_set_new(root, "totals", tot);
	char *s = json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(8));
	json_decref(root);
	if (!s)
		return qnt__error(NULL, QNT_E_NO_MEMORY, "qnt_report_json: out of memory");
	*json = s;
	return QNT_OK;
}

/* ---- error metrics ---- */

struct metrics {
	double sxx, syy, sxy, sdd; /* weighted sums: x^2, y^2, x*y, (x-y)^2 */
	double max_abs;
};

static void metrics_add(struct metrics *mt, const float *x, const float *y, int64_t n_rows, int64_t row_len,
			const float *w)
{
	for (int64_t r = 0; r < n_rows; r++) {
		const float *xr = x + r * row_len, *yr = y + r * row_len;
		double sxx = 0, syy = 0, sxy = 0, sdd = 0, mx = mt->max_abs;
		for (int64_t j = 0; j < row_len; j++) {
			const double a = xr[j], b = yr[j], wj = w ? w[j] : 1.0;
			const double d = a - b;
			sxx += wj * a * a;
			syy += wj * b * b;
			sxy += wj * a * b;
			sdd += wj * d * d;
			if (fabs(d) > mx || d != d)
				mx = d != d ? INFINITY : fabs(d);
		}
		mt->sxx += sxx;
		mt->syy += syy;
		mt->sxy += sxy;
		mt->sdd += sdd;
		mt->max_abs = mx;
	}
}

static void metrics_store(const struct metrics *mt, struct rentry *e)
{
	e->rel_rmse = mt->sxx > 0 ? sqrt(mt->sdd / mt->sxx) : (mt->sdd == 0 ? 0.0 : INFINITY);
	e->max_abs_err = mt->max_abs;
	e->cosine = mt->sxx > 0 && mt->syy > 0 ? mt->sxy / sqrt(mt->sxx * mt->syy)
					       : (mt->sxx == 0 && mt->syy == 0 ? 1.0 : 0.0);
}

/* ---- source pages ---- */

/* Hands the pages of [p, p + n) back to the kernel, so that the resident
 * set does not grow with the model. A read-only file mapping drops them
 * (MADV_DONTNEED: they come back from the file if read again); memory a
 * reader filled with read() is left alone (MADV_PAGEOUT, which only swaps,
 * where the kernel has it). Errors are ignored: this only bounds memory. */
static void release_pages(const void *p, uint64_t n, int mapped)
{
	const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t b = (uintptr_t)p & ~(page - 1), e = ((uintptr_t)p + n) & ~(page - 1);
	if (e <= b)
		return;
	if (mapped)
		(void)madvise((void *)b, e - b, MADV_DONTNEED);
#ifdef MADV_PAGEOUT
	else
		(void)madvise((void *)b, e - b, MADV_PAGEOUT);
#endif
}

/* Slab buffers come straight from mmap and go back with munmap: buffers of
 * tens of megabytes freed through malloc would raise glibc's mmap threshold
 * and stay in the heap, and the resident set would creep up tensor after
 * tensor. */
static void *buf_alloc(size_t n)
{
	if (n == 0)
		n = 1;
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void buf_free(void *p, size_t n)
{
	if (p)
		munmap(p, n ? n : 1);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- the pipeline ---- */

enum { MODE_QUANTIZE, MODE_DEQUANTIZE };

struct tplan {
	int keep;          /* copy the bytes as they are */
	qnt_type type;     /* the output's format (not keep) */
	uint32_t raw;      /* keep: the output's type id (GGUF: ggml id; MLX: safetensors dtype) */
	uint32_t flags;    /* QNT_REPORT_* */
	char dtype[40];
	char reason[128];
};

struct job {
	qnt_ctx *c;
	int mode;
	const qnt_model_quantize_opts *o;
	const struct qnt_model *m;
	const char *out;
	int out_format;
	struct tplan *plan;
	struct qnt_report *rep;
	uint64_t max_memory;
	struct qnt__gguf_writer *gw;
	struct qnt__mlxdir_writer *mw;
	struct qnt__st_writer *sw;
	uint64_t done, total;
	qnt_type deq_to; /* MODE_DEQUANTIZE: the float type written */
};

static const char *const ggml_storage_names[] = { "i8", "i16", "i32", "i64", "f64" };

/* The GGUF type id of a kept storage tensor, or -1. */
static int gguf_storage_id(const struct qnt__mtensor *t)
{
	switch (t->storage) {
	case QNT__STORE_I8: return 24;
	case QNT__STORE_I16: return 25;
	case QNT__STORE_I32: return 26;
	case QNT__STORE_I64: return 27;
	case QNT__STORE_F64: return 28;
	default: return -1;
	}
}

static int is_float_type(qnt_type t)
{
	return t == QNT_TYPE_F32 || t == QNT_TYPE_F16 || t == QNT_TYPE_BF16;
}

static int is_mlx_type(qnt_type t)
{
	qnt_mlx_params p = QNT_MLX_PARAMS_INIT;
	return qnt_mlx_params_from_type(t, &p) == QNT_OK;
}

static int is_quantized(qnt_type t)
{
	const struct qnt__type_traits *tr = qnt__traits(t);
	return tr && (tr->flags & QNT_TYPE_FLAG_QUANTIZED);
}

/* Can the output format hold type t? */
static int output_holds(int out_format, qnt_type t)
{
	if (out_format == QNT_MODEL_GGUF)
		return t >= 0 && t < 256 && qnt__traits(t) != NULL;
	return is_float_type(t) || is_mlx_type(t); /* MLX folder, safetensors file */
}

static const char *output_name(int out_format)
{
	return out_format == QNT_MODEL_GGUF ? "a GGUF file" : out_format == QNT_MODEL_MLX ? "an MLX folder" : "a safetensors file";
}

/* Plans tensor i that is not kept: to type `type`. */
static qnt_status plan_convert(struct job *j, int64_t i, qnt_type type)
{
	const struct qnt__mtensor *t = &j->m->t[i];
	struct tplan *p = &j->plan[i];
	p->keep = 0;
	p->type = type;
	if (t->storage == QNT__STORE_OTHER)
		return qnt__error(j->c, QNT_E_UNSUPPORTED, "%s: tensor '%s': cannot convert %s to %s", j->m->path,
				  t->name, t->dtype, qnt_type_name(type));
	if (!output_holds(j->out_format, type))
		return qnt__error(j->c, QNT_E_UNSUPPORTED, "%s: tensor '%s': %s cannot hold %s (%s)", j->out,
				  t->name, output_name(j->out_format),
				  qnt_type_name(type),
				  j->out_format == QNT_MODEL_GGUF ? "use a ggml format" : "use f32/f16/bf16 or mlx:*");
	const int64_t bs = qnt_type_block_size(type);
	if (bs <= 0 || t->row_len % bs != 0)
		return qnt__error(j->c, QNT_E_BAD_SHAPE, "%s: tensor '%s': rows of %lld are not a multiple of %s's block of %lld",
				  j->m->path, t->name, (long long)t->row_len, qnt_type_name(type), (long long)bs);
	if (t->storage == QNT__STORE_MLX || (t->storage == QNT__STORE_FORMAT && is_quantized(t->type)))
		p->flags |= QNT_REPORT_REQUANTIZED;
	snprintf(p->dtype, sizeof p->dtype, "%s", qnt_type_name(type));
	return QNT_OK;
}

/* Plans tensor i as kept: the same bytes in the output, when the output can
 * hold them; otherwise converted to the nearest lossless float. */
static qnt_status plan_keep(struct job *j, int64_t i)
{
	const struct qnt__mtensor *t = &j->m->t[i];
	struct tplan *p = &j->plan[i];
	if (t->storage == QNT__STORE_FORMAT && output_holds(j->out_format, t->type)) {
		p->keep = 1;
		p->type = t->type;
		p->raw = j->out_format == QNT_MODEL_GGUF ? (uint32_t)t->type : t->raw_type;
		snprintf(p->dtype, sizeof p->dtype, "%s", t->dtype);
		p->flags |= QNT_REPORT_KEPT;
		return QNT_OK;
	}
	if (t->storage == QNT__STORE_MLX && j->out_format != QNT_MODEL_GGUF && !t->mx->parts[QNT__MLXDIR_PART_GLOBAL_SCALE]) {
		p->keep = 1;
		p->type = t->type;
		snprintf(p->dtype, sizeof p->dtype, "%s", t->dtype);
		p->flags |= QNT_REPORT_KEPT;
		return QNT_OK;
	}
	if (t->storage != QNT__STORE_FORMAT && t->storage != QNT__STORE_MLX && t->storage != QNT__STORE_OTHER) {
		int id = gguf_storage_id(t);
		if (j->out_format == QNT_MODEL_GGUF && id >= 0) {
			p->keep = 1;
			p->type = QNT_TYPE_INVALID;
			p->raw = (uint32_t)id;
			snprintf(p->dtype, sizeof p->dtype, "%s", ggml_storage_names[id - 24]);
			p->flags |= QNT_REPORT_KEPT;
			return QNT_OK;
		}
		if (j->out_format != QNT_MODEL_GGUF && j->m->format != QNT_MODEL_GGUF) {
			p->keep = 1;
			p->type = QNT_TYPE_INVALID;
			p->raw = t->raw_type;
			snprintf(p->dtype, sizeof p->dtype, "%s", t->dtype);
			p->flags |= QNT_REPORT_KEPT;
			return QNT_OK;
		}
	}
	/* a quantized tensor the output cannot hold (an MLX format into GGUF, a
	 * ggml format into MLX), or an integer type it cannot name: f32 holds
	 * every value exactly */
	qnt_status st = plan_convert(j, i, QNT_TYPE_F32);
	if (st == QNT_OK) {
		j->plan[i].flags = (j->plan[i].flags & ~QNT_REPORT_REQUANTIZED) | QNT_REPORT_CONVERTED;
		snprintf(j->plan[i].reason, sizeof j->plan[i].reason, "kept: %s has no counterpart in %s, written as f32",
			 t->dtype, output_name(j->out_format));
	}
	return st;
}

static qnt_status make_plan(struct job *j)
{
	const struct qnt_model *m = j->m;
	qnt_status st = QNT_OK;
	j->plan = calloc((size_t)(m->n ? m->n : 1), sizeof *j->plan);
	if (!j->plan)
		return qnt__error(j->c, QNT_E_NO_MEMORY, "%s: out of memory", m->path);
	if (j->mode == MODE_DEQUANTIZE) {
		for (int64_t i = 0; i < m->n && st == QNT_OK; i++) {
			const struct qnt__mtensor *t = &m->t[i];
			const int floats = t->storage == QNT__STORE_FORMAT || t->storage == QNT__STORE_MLX;
			if (!floats || t->type == j->deq_to)
				st = plan_keep(j, i);
			else
				st = plan_convert(j, i, j->deq_to);
			if (st == QNT_OK && !j->plan[i].reason[0])
				snprintf(j->plan[i].reason, sizeof j->plan[i].reason, "%s",
					 floats ? "dequantize" : "not floats: kept");
		}
		return st;
	}
	struct qnt__recipe_tensor *rt = calloc((size_t)(m->n ? m->n : 1), sizeof *rt);
	struct qnt__recipe_choice *ch = calloc((size_t)(m->n ? m->n : 1), sizeof *ch);
	if (!rt || !ch) {
		st = qnt__error(j->c, QNT_E_NO_MEMORY, "%s: out of memory", m->path);
		goto out;
	}
	for (int64_t i = 0; i < m->n; i++) {
		const struct qnt__mtensor *t = &m->t[i];
		rt[i].name = t->name;
		rt[i].n_dims = t->n_dims < 4 ? t->n_dims : 4;
		for (uint32_t d = 0; d < 4; d++)
			rt[i].ne[d] = 1;
		for (uint32_t d = 0; d < t->n_dims && d < 4; d++)
			rt[i].ne[d] = t->shape[t->n_dims - 1 - d];
		/* a quantized source is planned as the floats it holds: the recipe
		 * picks its format as for any float tensor; the same format as the
		 * source keeps the bytes, another requantizes (and says so) */
		if (t->storage == QNT__STORE_MLX || (t->storage == QNT__STORE_FORMAT && is_quantized(t->type)))
			rt[i].type = QNT_TYPE_F32;
		else
			rt[i].type = t->storage == QNT__STORE_FORMAT ? t->type : QNT_TYPE_INVALID;
	}
	struct qnt__recipe_model rm;
	memset(&rm, 0, sizeof rm);
	rm.arch = m->arch[0] ? m->arch : NULL;
	rm.n_layer = m->n_layer;
	rm.n_expert = m->n_expert;
	rm.n_head = m->n_head;
	rm.n_head_kv = m->n_head_kv;
	rm.name_style = m->format == QNT_MODEL_GGUF ? QNT__NAMES_GGUF : QNT__NAMES_HF;
	rm.has_imatrix = j->o->imatrix != NULL;
	if ((st = qnt__recipe_plan(j->c, qnt__recipe_of(j->o->recipe), &rm, rt, m->n, ch)) != QNT_OK)
		goto out;
	for (int64_t i = 0; i < m->n && st == QNT_OK; i++) {
		const struct qnt__mtensor *t = &m->t[i];
		if ((ch[i].flags & QNT__CHOICE_KEEP) || ch[i].type == QNT_TYPE_INVALID ||
		    (ch[i].type == t->type && t->storage != QNT__STORE_OTHER))
			st = plan_keep(j, i);
		else
			st = plan_convert(j, i, ch[i].type);
		if (st != QNT_OK)
			break;
		if (ch[i].flags & QNT__CHOICE_FALLBACK)
			j->plan[i].flags |= QNT_REPORT_FALLBACK;
		if (!j->plan[i].reason[0])
			snprintf(j->plan[i].reason, sizeof j->plan[i].reason, "%s", ch[i].reason);
	}
out:
	free(rt);
	free(ch);
	return st;
}

/* ---- output: GGUF ---- */

static qnt_status gguf_declare(struct job *j)
{
	const struct qnt_model *m = j->m;
	uint32_t flags = (j->o->flags & QNT_MQ_FLAG_NO_CHECKSUMS) ? 0 : QNT__GGUF_WRITE_CHECKSUMS;
	qnt_status st = qnt__gguf_writer_create(j->c, j->out, flags, &j->gw);
	if (st != QNT_OK)
		return st;
	if (m->gguf) {
		for (int64_t k = 0; k < qnt__gguf_n_kv(m->gguf) && st == QNT_OK; k++) {
			const struct qnt__gguf_kv *kv = qnt__gguf_kv_at(m->gguf, k);
			if (strcmp(kv->key, "qnt.xxh3_64") == 0)
				continue; /* the writer records the new ones */
			st = qnt__gguf_writer_set_value(j->gw, kv->key, &kv->value);
		}
	} else if (m->arch[0]) {
		st = qnt__gguf_writer_set_str(j->gw, "general.architecture", m->arch);
	}
	int any_quantized = 0;
	for (int64_t i = 0; i < m->n; i++)
		if (!j->plan[i].keep ? is_quantized(j->plan[i].type) : is_quantized(m->t[i].type))
			any_quantized = 1;
	uint32_t file_type;
	if (j->mode == MODE_QUANTIZE)
		file_type = qnt__recipe_file_type(qnt__recipe_of(j->o->recipe));
	else
		file_type = j->deq_to == QNT_TYPE_F32 ? 0 : j->deq_to == QNT_TYPE_F16 ? 1 : 32; /* LLAMA_FTYPE_ALL_F32, MOSTLY_F16, MOSTLY_BF16 */
	if (st == QNT_OK)
		st = qnt__gguf_writer_set_u32(j->gw, "general.file_type", file_type);
	if (st == QNT_OK && (any_quantized || m->gguf))
		st = qnt__gguf_writer_set_u32(j->gw, "general.quantization_version", GGML_QUANTIZATION_VERSION);
	for (int64_t i = 0; i < m->n && st == QNT_OK; i++) {
		const struct qnt__mtensor *t = &m->t[i];
		if (t->n_dims > 4)
			return qnt__error(j->c, QNT_E_UNSUPPORTED, "%s: tensor '%s': %u dimensions; GGUF holds at most 4",
					  j->out, t->name, (unsigned)t->n_dims);
		int64_t ne[4] = { 1, 1, 1, 1 };
		uint32_t nd = t->n_dims ? t->n_dims : 1;
		for (uint32_t d = 0; d < t->n_dims; d++)
			ne[d] = t->shape[t->n_dims - 1 - d];
		const uint32_t type = j->plan[i].keep ? j->plan[i].raw : (uint32_t)j->plan[i].type;
		st = qnt__gguf_writer_add_tensor(j->gw, t->name, type, nd, ne);
	}
	if (st == QNT_OK)
		st = qnt__gguf_writer_begin(j->gw);
	return st;
}

/* ---- output: MLX folder ---- */

static const char *const tokenizer_files[] = {
	"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model",
	"generation_config.json", "vocab.json", "merges.txt", "added_tokens.json", "chat_template.jinja",
};

static int ends_with_weight(const char *name)
{
	size_t n = strlen(name);
	return n > 7 && strcmp(name + n - 7, ".weight") == 0;
}

static qnt_status mlx_declare(struct job *j)
{
	const struct qnt_model *m = j->m;
	qnt_status st = qnt__mlxdir_writer_create(j->c, j->out, m->config_json, j->o->max_shard_bytes, &j->mw);
	/* config.json's global settings are the recipe's default, the
	 * exceptions per module (as mlx-lm writes its mixed recipes) */
	if (st == QNT_OK && !(j->o->flags & QNT_MQ_FLAG_NO_CHECKSUMS))
		st = qnt__mlxdir_writer_set_checksums(j->mw, 1);
	qnt_mlx_params dp = QNT_MLX_PARAMS_INIT;
	const struct qnt__recipe *rc = j->mode == MODE_QUANTIZE ? qnt__recipe_of(j->o->recipe) : NULL;
	if (st == QNT_OK && rc && qnt_mlx_params_from_type(rc->default_type, &dp) == QNT_OK)
		st = qnt__mlxdir_writer_set_quantization(j->mw, dp.mode, dp.bits, dp.group_size);
	for (int64_t i = 0; i < m->n && st == QNT_OK; i++) {
		const struct qnt__mtensor *t = &m->t[i];
		const struct tplan *p = &j->plan[i];
		uint64_t shape[QNT_MAX_DIMS];
		for (uint32_t d = 0; d < t->n_dims; d++)
			shape[d] = (uint64_t)t->shape[d];
		if (p->keep && t->storage == QNT__STORE_MLX) {
			const struct qnt__mlxdir_tensor *x = t->mx;
			const qnt_type sd = qnt__st_dtype_to_qnt(x->scale_dtype);
			st = qnt__mlxdir_writer_add_quant(j->mw, t->name, x->mode, x->bits, x->group_size,
							  sd == QNT_TYPE_INVALID ? QNT_TYPE_BF16 : sd, t->n_dims, shape,
							  x->parts[QNT__MLXDIR_PART_GLOBAL_SCALE] ? QNT__MLXDIR_ADD_GLOBAL_SCALE : 0,
							  NULL);
		} else if (p->keep && t->storage != QNT__STORE_FORMAT) {
			st = qnt__mlxdir_writer_add_raw(j->mw, t->name, (int)t->raw_type, t->n_dims, shape, 0, NULL);
		} else {
			/* a 2-D weight left in floats says so in config.json ("P": false) */
			const uint32_t fl = p->keep && t->n_dims >= 2 && ends_with_weight(t->name) ? QNT__MLXDIR_ADD_NOT_QUANTIZED : 0;
			st = qnt__mlxdir_writer_add(j->mw, t->name, p->type, t->n_dims, shape, fl, NULL);
		}
	}
	if (st == QNT_OK && m->config_json) { /* the tokenizer and friends of a source folder */
		for (size_t k = 0; k < sizeof tokenizer_files / sizeof tokenizer_files[0] && st == QNT_OK; k++) {
			char path[4096];
			snprintf(path, sizeof path, "%s/%s", m->path, tokenizer_files[k]);
			if (access(path, R_OK) == 0)
				st = qnt__mlxdir_writer_copy_file(j->mw, path, tokenizer_files[k]);
		}
	}
	if (st == QNT_OK)
		st = qnt__mlxdir_writer_begin(j->mw);
	return st;
}

/* ---- output: one safetensors file ---- */

static int st_float_dtype(qnt_type t)
{
	return t == QNT_TYPE_F32 ? QNT__ST_F32 : t == QNT_TYPE_F16 ? QNT__ST_F16 : QNT__ST_BF16;
}

/* Declares an MLX quantized tensor as mlx-lm stores it: P.weight (U32
 * codes), P.scales and, for affine, P.biases. */
static qnt_status st_add_mlx(struct job *j, const struct qnt__mtensor *t, int32_t mode, int32_t bits, int32_t group,
			     int scale_dtype)
{
	const size_t len = strlen(t->name);
	if (len <= 7 || strcmp(t->name + len - 7, ".weight") != 0 || t->n_dims < 1)
		return qnt__error(j->c, QNT_E_UNSUPPORTED, "%s: tensor '%s': an MLX quantized tensor's name must end in .weight",
				  j->out, t->name);
	char name[1024];
	uint64_t shape[QNT_MAX_DIMS];
	for (uint32_t d = 0; d < t->n_dims; d++)
		shape[d] = (uint64_t)t->shape[d];
	shape[t->n_dims - 1] = (uint64_t)t->row_len * (uint64_t)bits / 32;
	qnt_status st = qnt__st_writer_add(j->sw, t->name, QNT__ST_U32, t->n_dims, shape);
	shape[t->n_dims - 1] = (uint64_t)(t->row_len / group);
	snprintf(name, sizeof name, "%.*s.scales", (int)(len - 7), t->name);
	if (st == QNT_OK)
		st = qnt__st_writer_add(j->sw, name, scale_dtype, t->n_dims, shape);
	snprintf(name, sizeof name, "%.*s.biases", (int)(len - 7), t->name);
	if (st == QNT_OK && mode == QNT_MLX_AFFINE)
		st = qnt__st_writer_add(j->sw, name, scale_dtype, t->n_dims, shape);
	return st;
}

static qnt_status st_declare(struct job *j)
{
	const struct qnt_model *m = j->m;
	const uint32_t flags = (j->o->flags & QNT_MQ_FLAG_NO_CHECKSUMS) ? 0 : QNT__ST_WRITE_CHECKSUMS;
	qnt_status st = qnt__st_writer_create(j->c, j->out, flags, &j->sw);
	if (st == QNT_OK)
		st = qnt__st_writer_set_metadata(j->sw, "format", "mlx");
	for (int64_t i = 0; i < m->n && st == QNT_OK; i++) {
		const struct qnt__mtensor *t = &m->t[i];
		const struct tplan *p = &j->plan[i];
		uint64_t shape[QNT_MAX_DIMS];
		for (uint32_t d = 0; d < t->n_dims; d++)
			shape[d] = (uint64_t)t->shape[d];
		qnt_mlx_params mp = QNT_MLX_PARAMS_INIT;
		if (p->keep && t->storage == QNT__STORE_MLX)
			st = st_add_mlx(j, t, t->mx->mode, t->mx->bits, t->mx->group_size, t->mx->scale_dtype);
		else if (p->keep && t->storage != QNT__STORE_FORMAT)
			st = qnt__st_writer_add(j->sw, t->name, (int)t->raw_type, t->n_dims, shape);
		else if (qnt_mlx_params_from_type(p->type, &mp) == QNT_OK)
			st = st_add_mlx(j, t, mp.mode, mp.bits, mp.group_size,
					mp.mode == QNT_MLX_AFFINE ? st_float_dtype(mp.dtype) : QNT__ST_U8);
		else
			st = qnt__st_writer_add(j->sw, t->name, st_float_dtype(p->type), t->n_dims, shape);
	}
	if (st == QNT_OK)
		st = qnt__st_writer_begin(j->sw);
	return st;
}

/* ---- MLX planes from the registry's interleaved blocks ---- */

/* A registry MLX block is the group's codes (whole uint32 words, LSB-first,
 * little-endian), its scale (the dtype's bytes for affine, one byte for the
 * fp modes) and, for affine, its bias: the planar tensors are those pieces
 * put end to end (lib/core/quant_mlx.c). */
struct mlx_split {
	int64_t group;
	size_t code_bytes, scale_bytes;
	int has_bias;
};

static int mlx_split_of(qnt_type type, struct mlx_split *sp)
{
	qnt_mlx_params mp = QNT_MLX_PARAMS_INIT;
	if (qnt_mlx_params_from_type(type, &mp) != QNT_OK)
		return 0;
	sp->group = mp.group_size;
	sp->code_bytes = (size_t)mp.group_size * (size_t)mp.bits / 8;
	sp->has_bias = mp.mode == QNT_MLX_AFFINE;
	sp->scale_bytes = !sp->has_bias ? 1 : mp.dtype == QNT_TYPE_F32 ? 4 : 2;
	return 1;
}

static void mlx_split(const struct mlx_split *sp, const void *blocks, uint64_t n_groups, unsigned char *codes,
		      unsigned char *scales, unsigned char *biases)
{
	const unsigned char *b = blocks;
	for (uint64_t g = 0; g < n_groups; g++) {
		memcpy(codes + g * sp->code_bytes, b, sp->code_bytes);
		b += sp->code_bytes;
		memcpy(scales + g * sp->scale_bytes, b, sp->scale_bytes);
		b += sp->scale_bytes;
		if (sp->has_bias) {
			memcpy(biases + g * sp->scale_bytes, b, sp->scale_bytes);
			b += sp->scale_bytes;
		}
	}
}

/* ---- per tensor ---- */

/* Bytes of source data per row (for MLX: the codes only), for page release
 * and memory planning. */
static uint64_t src_row_bytes(const struct qnt__mtensor *t)
{
	return t->n_rows ? t->nbytes / (uint64_t)t->n_rows : 0;
}

static void release_rows(const struct qnt__mtensor *t, int64_t row0, int64_t n)
{
	const uint64_t rb = src_row_bytes(t);
	release_pages((const char *)t->data + (uint64_t)row0 * rb, (uint64_t)n * rb, t->mapped);
}

static void progress(struct job *j, uint64_t bytes, const char *name)
{
	j->done += bytes;
	if (j->o && j->o->progress)
		j->o->progress(j->o->progress_user, j->done, j->total, name);
}

static qnt_status write_out(struct job *j, const void *data, size_t n)
{
	if (j->gw)
		return qnt__gguf_writer_write(j->gw, data, n);
	return j->mw ? qnt__mlxdir_writer_write(j->mw, data, n) : qnt__st_writer_write(j->sw, data, n);
}

static qnt_status copy_bytes(struct job *j, const void *data, uint64_t nbytes, const char *name, int mapped)
{
	qnt_status st = QNT_OK;
	for (uint64_t off = 0; off < nbytes && st == QNT_OK; off += COPY_CHUNK) {
		const size_t n = nbytes - off < COPY_CHUNK ? (size_t)(nbytes - off) : COPY_CHUNK;
		st = write_out(j, (const char *)data + off, n);
		release_pages((const char *)data + off, n, mapped);
		progress(j, n, name);
	}
	return st;
}

static qnt_status copy_tensor(struct job *j, const struct qnt__mtensor *t, struct rentry *e)
{
	qnt_status st = QNT_OK;
	if (t->storage == QNT__STORE_MLX) { /* the stored parts, in the writer's order */
		for (int p = 0; p < QNT__MLXDIR_N_PARTS && st == QNT_OK; p++)
			if (t->mx->parts[p])
				st = copy_bytes(j, t->mx->parts[p]->data, t->mx->parts[p]->nbytes, t->name, 0);
	} else {
		st = copy_bytes(j, t->data, t->nbytes, t->name, t->mapped);
	}
	e->nbytes = t->nbytes;
	if (st == QNT_OK && t->storage != QNT__STORE_OTHER) {
		e->rel_rmse = 0.0; /* the same bytes */
		e->max_abs_err = 0.0;
		e->cosine = 1.0;
	}
	return st;
}

/* The importance of slice s (an expert's matrix) of tensor t, or NULL. */
static qnt_status slice_importance(struct job *j, const struct qnt__mtensor *t, int64_t n_slices, int64_t s,
				   const float **imp)
{
	*imp = NULL;
	const qnt_imatrix *im = j->o ? j->o->imatrix : NULL;
	int64_t npr, nex, n;
	if (!im || j->mode != MODE_QUANTIZE || qnt_imatrix_shape(im, t->name, &npr, &nex) != QNT_OK)
		return QNT_OK;
	if (npr != t->row_len || (nex != 1 && nex != n_slices))
		return qnt__error(j->c, QNT_E_BAD_SHAPE,
				  "%s: tensor '%s': the importance matrix has %lld x %lld values, the tensor %lld x %lld",
				  j->m->path, t->name, (long long)nex, (long long)npr, (long long)n_slices,
				  (long long)t->row_len);
	return qnt_imatrix_get(im, t->name, nex == 1 ? 0 : s, imp, &n) == QNT_OK
		       ? QNT_OK
		       : qnt__error(j->c, QNT_E_FORMAT, "%s: importance of '%s': unreadable", j->m->path, t->name);
}

static qnt_status convert_tensor(struct job *j, const struct qnt__mtensor *t, const struct tplan *p,
				 struct rentry *e)
{
	const int64_t L = t->row_len;
	const size_t out_row = qnt_row_size(p->type, L);
	const int metrics = !(j->o && (j->o->flags & QNT_MQ_FLAG_NO_METRICS));
	const int64_t rps = t->n_dims >= 3 ? t->shape[t->n_dims - 2] : t->n_rows; /* rows per slice */
	const int64_t n_slices = rps ? t->n_rows / rps : 0;
	const uint64_t per_row = (uint64_t)L * 4 * (metrics ? 2 : 1) + out_row + src_row_bytes(t);
	uint64_t budget = j->max_memory / 4 * 3;
	struct mlx_split sp0;
	if ((j->mw || j->sw) && mlx_split_of(p->type, &sp0)) { /* a whole tensor's scales and biases are held */
		const uint64_t sb = (uint64_t)t->n_rows * (uint64_t)(L / sp0.group) * sp0.scale_bytes * (sp0.has_bias ? 2 : 1);
		budget = budget > sb ? budget - sb : 0;
	}
	int64_t slab = (int64_t)(budget / per_row);
	if (slab < 1)
		return qnt__error(j->c, QNT_E_NO_MEMORY,
				  "%s: tensor '%s': one row needs %llu bytes of buffers, more than the memory limit allows (%llu bytes)",
				  j->m->path, t->name, (unsigned long long)per_row, (unsigned long long)j->max_memory);
	if (slab > rps)
		slab = rps;
	e->nbytes = (uint64_t)out_row * (uint64_t)t->n_rows;
	if (t->n_rows == 0 || L == 0)
		return QNT_OK;
	struct mlx_split sp;
	const int planar = (j->mw || j->sw) && mlx_split_of(p->type, &sp);
	const uint64_t groups = planar ? (uint64_t)t->n_rows * (uint64_t)(L / sp.group) : 0;
	const size_t n_src = (size_t)slab * (size_t)L * sizeof(float), n_q = (size_t)slab * out_row;
	const size_t n_codes = planar ? (size_t)slab * (size_t)(L / sp.group) * sp.code_bytes : 0;
	const size_t n_scales = planar ? (size_t)(groups * sp.scale_bytes) : 0;
	float *src = buf_alloc(n_src);
	float *chk = metrics ? buf_alloc(n_src) : NULL;
	void *q = buf_alloc(n_q);
	unsigned char *codes = planar ? buf_alloc(n_codes) : NULL;
	unsigned char *scales = planar ? buf_alloc(n_scales) : NULL;
	unsigned char *biases = planar && sp.has_bias ? buf_alloc(n_scales) : NULL;
	uint64_t g_done = 0;
	qnt_status st = QNT_OK;
	struct metrics mt;
	memset(&mt, 0, sizeof mt);
	if (!src || !q || (metrics && !chk) || (planar && (!codes || !scales || (sp.has_bias && !biases)))) {
		st = qnt__error(j->c, QNT_E_NO_MEMORY, "%s: tensor '%s': out of memory for a slab of %lld rows",
				j->m->path, t->name, (long long)slab);
		goto out;
	}
	for (int64_t s = 0; s < n_slices && st == QNT_OK; s++) {
		const float *imp;
		if ((st = slice_importance(j, t, n_slices, s, &imp)) != QNT_OK)
			break;
		if (imp)
			e->flags |= QNT_REPORT_IMPORTANCE;
		for (int64_t r0 = 0; r0 < rps && st == QNT_OK; r0 += slab) {
			const int64_t row = s * rps + r0, n = rps - r0 < slab ? rps - r0 : slab;
			if ((st = qnt__model_read_rows(j->c, j->m, t - j->m->t, row, n, src)) != QNT_OK)
				break;
			if ((st = qnt__quantize_c(j->c, p->type, src, q, n, L, imp)) != QNT_OK)
				break;
			if (metrics) {
				if ((st = qnt__dequantize_c(j->c, p->type, q, chk, n, L)) != QNT_OK)
					break;
				metrics_add(&mt, src, chk, n, L, imp);
			}
			if (planar) { /* MLX: the codes now, the scales and biases after them */
				const uint64_t ng = (uint64_t)n * (uint64_t)(L / sp.group);
				mlx_split(&sp, q, ng, codes, scales + g_done * sp.scale_bytes,
					  biases ? biases + g_done * sp.scale_bytes : NULL);
				g_done += ng;
				st = write_out(j, codes, (size_t)(ng * sp.code_bytes));
			} else {
				st = write_out(j, q, (size_t)n * out_row);
			}
			release_rows(t, row, n);
			progress(j, (uint64_t)n * src_row_bytes(t), t->name);
		}
	}
	if (st == QNT_OK && planar)
		st = write_out(j, scales, (size_t)(groups * sp.scale_bytes));
	if (st == QNT_OK && planar && biases)
		st = write_out(j, biases, (size_t)(groups * sp.scale_bytes));
	if (st == QNT_OK && metrics)
		metrics_store(&mt, e);
out:
	buf_free(src, n_src);
	buf_free(chk, metrics ? n_src : 0);
	buf_free(q, n_q);
	buf_free(codes, n_codes);
	buf_free(scales, n_scales);
	buf_free(biases, n_scales);
	return st;
}

static qnt_status process_tensor(struct job *j, int64_t i)
{
	const struct qnt__mtensor *t = &j->m->t[i];
	const struct tplan *p = &j->plan[i];
	struct rentry *e = report_add(j->rep, t->name);
	if (!e)
		return qnt__error(j->c, QNT_E_NO_MEMORY, "%s: out of memory", j->m->path);
	snprintf(e->src_dtype, sizeof e->src_dtype, "%s", t->dtype);
	snprintf(e->dtype, sizeof e->dtype, "%s", p->dtype);
	snprintf(e->reason, sizeof e->reason, "%s", p->reason);
	e->src_type = t->type;
	e->type = p->keep ? t->type : p->type;
	e->flags = p->flags;
	e->n_elements = t->n_elements;
	const double t0 = now_s();
	qnt_status st = p->keep ? copy_tensor(j, t, e) : convert_tensor(j, t, p, e);
	e->seconds = now_s() - t0;
	return st;
}

/* ---- entry points ---- */

static qnt_status check_opts(qnt_ctx *ctx, const char *fn, const qnt_model_quantize_opts *o, int need_recipe)
{
	if (!o)
		return need_recipe ? qnt__error(ctx, QNT_E_INVALID_ARG, "%s: NULL opts (a recipe is required)", fn)
				   : QNT_OK;
	if (o->struct_size < offsetof(qnt_model_quantize_opts, max_shard_bytes))
		return qnt__error(ctx, QNT_E_INVALID_ARG, "%s: opts->struct_size %u is below the 1.0 size", fn,
				  (unsigned)o->struct_size);
	if (o->struct_size > sizeof *o) {
		const unsigned char *b = (const unsigned char *)o;
		for (size_t k = sizeof *o; k < o->struct_size; k++)
			if (b[k])
				return qnt__error(ctx, QNT_E_STRUCT_TOO_NEW,
						  "%s: opts carries fields this libqnt does not know (byte %zu is set)", fn, k);
	}
	if (o->flags & ~(uint32_t)(QNT_MQ_FLAG_NO_CHECKSUMS | QNT_MQ_FLAG_NO_METRICS))
		return qnt__error(ctx, QNT_E_INVALID_ARG, "%s: unknown flags 0x%x", fn, (unsigned)o->flags);
	if (o->reserved0)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "%s: reserved0 must be zero", fn);
	if (o->output_format != QNT_OUTPUT_AUTO && o->output_format != QNT_MODEL_GGUF &&
	    o->output_format != QNT_MODEL_MLX && o->output_format != QNT_MODEL_SAFETENSORS)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "%s: output_format %d is not GGUF, MLX or safetensors", fn,
				  (int)o->output_format);
	if (need_recipe && !o->recipe)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "%s: opts->recipe is NULL", fn);
	return QNT_OK;
}

QNT_API void qnt_model_quantize_opts_init(qnt_model_quantize_opts *opts)
{
	if (!opts)
		return;
	memset(opts, 0, sizeof *opts);
	opts->struct_size = sizeof *opts;
}

static int path_ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && strcasecmp(s + n - k, suffix) == 0;
}

static qnt_status run(qnt_ctx *ctx, int mode, const char *in, const char *out, qnt_type deq_to,
		      const qnt_model_quantize_opts *o, qnt_report **report)
{
	static const qnt_model_quantize_opts defaults = { sizeof(qnt_model_quantize_opts), 0, NULL, NULL, 0, 0, 0,
							  NULL, NULL, 0 };
	const char *fn = mode == MODE_QUANTIZE ? "qnt_model_quantize" : "qnt_model_dequantize";
	if (report)
		*report = NULL;
	if (!in || !out)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "%s: NULL %s", fn, in ? "out" : "in");
	qnt_status st = check_opts(ctx, fn, o, mode == MODE_QUANTIZE);
	if (st != QNT_OK)
		return st;
	qnt_ctx *c = qnt__ctx_acquire(ctx, &st);
	if (!c)
		return st;
	struct job j;
	memset(&j, 0, sizeof j);
	j.c = c;
	j.mode = mode;
	j.o = o ? o : &defaults;
	j.out = out;
	j.deq_to = deq_to;
	j.out_format = j.o->output_format != QNT_OUTPUT_AUTO ? j.o->output_format
			: path_ends_with(out, ".gguf")       ? QNT_MODEL_GGUF
			: path_ends_with(out, ".safetensors") ? QNT_MODEL_SAFETENSORS
							     : QNT_MODEL_MLX;
	if (mode == MODE_DEQUANTIZE)
		j.out_format = QNT_MODEL_GGUF;
	j.max_memory = j.o->max_memory ? j.o->max_memory : DEFAULT_MAX_MEMORY;
	const double t0 = now_s();
	struct qnt_model *m = NULL;
	int made_dir = 0;
	j.rep = calloc(1, sizeof *j.rep);
	if (!j.rep) {
		st = qnt__error(c, QNT_E_NO_MEMORY, "%s: out of memory", fn);
		goto out;
	}
	if ((st = qnt_model_open(c, in, &m)) != QNT_OK)
		goto out;
	j.m = m;
	for (int64_t i = 0; i < m->n; i++)
		j.total += m->t[i].nbytes;
	j.rep->src_bytes = j.total;
	/* the default limit grows to what one row of the widest tensor needs */
	if (!j.o->max_memory) {
		for (int64_t i = 0; i < m->n; i++) {
			const uint64_t need = (uint64_t)m->t[i].row_len * 16 + 4 * src_row_bytes(&m->t[i]);
			if (need / 3 * 4 + (1u << 20) > j.max_memory)
				j.max_memory = need / 3 * 4 + (1u << 20);
		}
	}
	if ((st = make_plan(&j)) != QNT_OK)
		goto out;
	if (j.out_format == QNT_MODEL_GGUF) {
		st = gguf_declare(&j);
	} else if (j.out_format == QNT_MODEL_SAFETENSORS) {
		st = st_declare(&j);
	} else {
		/* the folder is made here, and removed again if the run fails */
		if (mkdir(out, 0777) == 0)
			made_dir = 1;
		else if (errno != EEXIST)
			st = qnt__error(c, errno == ENOENT ? QNT_E_NOT_FOUND : QNT_E_IO, "%s: cannot make the folder: %s", out,
					strerror(errno));
		if (st == QNT_OK)
			st = mlx_declare(&j);
	}
	for (int64_t i = 0; i < m->n && st == QNT_OK; i++)
		st = process_tensor(&j, i);
	if (st == QNT_OK && j.gw) {
		st = qnt__gguf_writer_finish(j.gw);
		j.gw = NULL;
	}
	if (st == QNT_OK && j.mw) {
		st = qnt__mlxdir_writer_finish(j.mw);
		j.mw = NULL;
	}
	if (st == QNT_OK && j.sw) {
		st = qnt__st_writer_finish(j.sw);
		j.sw = NULL;
	}
out:
	qnt__gguf_writer_abort(j.gw);
	qnt__mlxdir_writer_abort(j.mw);
	if (j.sw)
		qnt__st_writer_abort(j.sw);
	if (st != QNT_OK && made_dir)
		rmdir(out);
	free(j.plan);
	qnt_model_close(m);
	if (j.rep)
		j.rep->seconds = now_s() - t0;
	if (st == QNT_OK && report)
		*report = j.rep;
	else
		qnt_report_free(j.rep);
	qnt__ctx_release(c);
	return st;
}

QNT_API qnt_status qnt_model_quantize(qnt_ctx *ctx, const char *in, const char *out,
				      const qnt_model_quantize_opts *opts, qnt_report **report)
{
	return run(ctx, MODE_QUANTIZE, in, out, QNT_TYPE_INVALID, opts, report);
}

QNT_API qnt_status qnt_model_dequantize(qnt_ctx *ctx, const char *in, const char *out, qnt_type type,
					const qnt_model_quantize_opts *opts, qnt_report **report)
{
	if (!is_float_type(type))
		return qnt__error(ctx, QNT_E_INVALID_ARG, "qnt_model_dequantize: the type must be f32, f16 or bf16, not %s",
				  qnt_type_name(type) ? qnt_type_name(type) : "an unknown type");
	return run(ctx, MODE_DEQUANTIZE, in, out, type, opts, report);
}

/* ---- comparing two models ---- */

static int readable(const struct qnt__mtensor *t)
{
	return t->storage != QNT__STORE_OTHER;
}

static qnt_status compare_tensor(qnt_ctx *c, const struct qnt_model *a, int64_t ia, const struct qnt_model *b,
				 int64_t ib, const qnt_imatrix *im, uint64_t max_memory, struct rentry *e)
{
	const struct qnt__mtensor *ta = &a->t[ia], *tb = &b->t[ib];
	const int64_t L = ta->row_len;
	const int64_t rps = ta->n_dims >= 3 ? ta->shape[ta->n_dims - 2] : ta->n_rows;
	const int64_t n_slices = rps ? ta->n_rows / rps : 0;
	const uint64_t per_row = (uint64_t)L * 8 + src_row_bytes(ta) + src_row_bytes(tb);
	int64_t slab = (int64_t)(max_memory / 4 * 3 / (per_row ? per_row : 1));
	if (slab < 1)
		return qnt__error(c, QNT_E_NO_MEMORY, "tensor '%s': one row needs %llu bytes, more than the memory limit",
				  ta->name, (unsigned long long)per_row);
	if (slab > rps)
		slab = rps;
	if (ta->n_rows == 0 || L == 0)
		return QNT_OK;
	int64_t npr = 0, nex = 0, n;
	const int weighted = im && qnt_imatrix_shape(im, ta->name, &npr, &nex) == QNT_OK && npr == L &&
			     (nex == 1 || nex == n_slices);
	const size_t nb = (size_t)slab * (size_t)L * sizeof(float);
	float *x = buf_alloc(nb);
	float *y = buf_alloc(nb);
	qnt_status st = QNT_OK;
	struct metrics mt;
	memset(&mt, 0, sizeof mt);
	if (!x || !y) {
		st = qnt__error(c, QNT_E_NO_MEMORY, "tensor '%s': out of memory", ta->name);
		goto out;
	}
	if (weighted)
		e->flags |= QNT_REPORT_IMPORTANCE;
	for (int64_t s = 0; s < n_slices && st == QNT_OK; s++) {
		const float *w = NULL;
		if (weighted && qnt_imatrix_get(im, ta->name, nex == 1 ? 0 : s, &w, &n) != QNT_OK)
			w = NULL;
		for (int64_t r0 = 0; r0 < rps && st == QNT_OK; r0 += slab) {
			const int64_t row = s * rps + r0, k = rps - r0 < slab ? rps - r0 : slab;
			if ((st = qnt__model_read_rows(c, a, ia, row, k, x)) != QNT_OK ||
			    (st = qnt__model_read_rows(c, b, ib, row, k, y)) != QNT_OK)
				break;
			metrics_add(&mt, x, y, k, L, w);
			release_rows(ta, row, k);
			release_rows(tb, row, k);
		}
	}
	if (st == QNT_OK)
		metrics_store(&mt, e);
out:
	buf_free(x, nb);
	buf_free(y, nb);
	return st;
}

static void fill_pair(struct rentry *e, const struct qnt__mtensor *ta, const struct qnt__mtensor *tb)
{
	if (ta) {
		snprintf(e->src_dtype, sizeof e->src_dtype, "%s", ta->dtype);
		e->src_type = ta->type;
		e->n_elements = ta->n_elements;
	}
	if (tb) {
		snprintf(e->dtype, sizeof e->dtype, "%s", tb->dtype);
		e->type = tb->type;
		e->nbytes = tb->nbytes;
		if (!ta)
			e->n_elements = tb->n_elements;
	}
}

QNT_API qnt_status qnt_model_compare(qnt_ctx *ctx, const qnt_model *a, const qnt_model *b,
				     const qnt_imatrix *importance, uint64_t max_memory, qnt_report **report)
{
	if (report)
		*report = NULL;
	if (!a || !b || !report)
		return qnt__error(ctx, QNT_E_INVALID_ARG, "qnt_model_compare: NULL %s",
				  !a ? "first model" : !b ? "second model" : "report");
	qnt_status st;
	qnt_ctx *c = qnt__ctx_acquire(ctx, &st);
	if (!c)
		return st;
	const double t0 = now_s();
	struct qnt_report *r = calloc(1, sizeof *r);
	if (!r) {
		st = qnt__error(c, QNT_E_NO_MEMORY, "qnt_model_compare: out of memory");
		goto out;
	}
	if (!max_memory)
		max_memory = DEFAULT_MAX_MEMORY;
	for (int64_t i = 0; i < a->n && st == QNT_OK; i++) {
		const struct qnt__mtensor *ta = &a->t[i];
		const int64_t ib = qnt_model_find_tensor(b, ta->name);
		struct rentry *e = report_add(r, ta->name);
		if (!e) {
			st = qnt__error(c, QNT_E_NO_MEMORY, "qnt_model_compare: out of memory");
			break;
		}
		const struct qnt__mtensor *tb = ib >= 0 ? &b->t[ib] : NULL;
		fill_pair(e, ta, tb);
		if (!tb) {
			e->flags |= QNT_REPORT_ONLY_IN_A;
			continue;
		}
		int same = ta->n_elements == tb->n_elements && ta->row_len == tb->row_len && ta->n_dims == tb->n_dims;
		for (uint32_t d = 0; same && d < ta->n_dims; d++)
			same = ta->shape[d] == tb->shape[d];
		if (!same) {
			e->flags |= QNT_REPORT_SHAPE_DIFFERS;
			snprintf(e->reason, sizeof e->reason, "shapes differ");
			continue;
		}
		if (!readable(ta) || !readable(tb)) {
			snprintf(e->reason, sizeof e->reason, "not readable as floats");
			continue;
		}
		const double t1 = now_s();
		st = compare_tensor(c, a, i, b, ib, importance, max_memory, e);
		e->seconds = now_s() - t1;
	}
	for (int64_t i = 0; i < b->n && st == QNT_OK; i++) {
		if (qnt_model_find_tensor(a, b->t[i].name) >= 0)
			continue;
		struct rentry *e = report_add(r, b->t[i].name);
		if (!e) {
			st = qnt__error(c, QNT_E_NO_MEMORY, "qnt_model_compare: out of memory");
			break;
		}
		fill_pair(e, NULL, &b->t[i]);
		e->flags |= QNT_REPORT_ONLY_IN_B;
	}
out:
	if (r)
		r->seconds = now_s() - t0;
	if (st == QNT_OK)
		*report = r;
	else
		qnt_report_free(r);
	qnt__ctx_release(c);
	return st;
}
