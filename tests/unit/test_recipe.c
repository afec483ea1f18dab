/* SPDX-License-Identifier: MIT */
/* Recipes: JSON errors (each names the source and the rule), presets and
 * their JSON round trip, planning rules (1-D, sources, fallbacks, MLX dtype,
 * mlx-lm's and llama-quantize's positions), argument checks. The choices of
 * the llama-quantize presets are compared with llama.cpp itself in
 * tests/interop/test_recipes.py. */
#include "test_common.h"

#include <unistd.h>

#include "libqnt.h"

#define SRC "my.json"

static qnt_status parse(const char *json, qnt_recipe **r)
{
	return qnt_recipe_parse(NULL, json, strlen(json), SRC, r);
}

/* Parsing fails with `st` and a message containing every one of `parts`. */
static void expect_error(const char *json, qnt_status st, const char *part1, const char *part2)
{
	qnt_recipe *r = (qnt_recipe *)1;
	assert_int_equal(parse(json, &r), st);
	assert_null(r);
	assert_contains(qnt_ctx_last_error(NULL), SRC ": ");
	assert_contains(qnt_ctx_last_error(NULL), part1);
	if (part2)
		assert_contains(qnt_ctx_last_error(NULL), part2);
}

static void bad_json(void **state)
{
	(void)state;
	expect_error("{\"default\": \"q4_0\",", QNT_E_FORMAT, "JSON error at line 1", NULL);
	expect_error("[1, 2]", QNT_E_FORMAT, "a recipe is a JSON object", NULL);
	expect_error("{\"default\": \"q4_0\", \"default\": \"q8_0\"}", QNT_E_FORMAT, "JSON error", "duplicate");
	expect_error("{\"rules\": []}", QNT_E_FORMAT, "no \"default\" type", NULL);
	expect_error("{\"default\": \"q4_0\", \"colour\": 1}", QNT_E_FORMAT, "\"colour\": unknown key", NULL);
	expect_error("{\"default\": \"q4_0\", \"libqnt_recipe\": 2}", QNT_E_FORMAT, "\"libqnt_recipe\"", "must be 1");
	expect_error("{\"default\": \"q4_0\", \"file_type\": -3}", QNT_E_FORMAT, "\"file_type\"", NULL);
	expect_error("{\"default\": \"q4_0\", \"fallback_else\": \"q8_0\"}", QNT_E_FORMAT, "\"fallback_else\"", NULL);
	expect_error("{\"default\": \"q4_0\", \"rules\": {}}", QNT_E_FORMAT, "\"rules\"", "array");
	expect_error("{\"default\": \"q4_0\", \"rules\": [{\"type\": \"q8_0\"}, 7]}", QNT_E_FORMAT,
		     "rule 1: not a JSON object", NULL);
}

static void unknown_types(void **state)
{
	(void)state;
	expect_error("{\"default\": \"q9_K\"}", QNT_E_UNKNOWN_TYPE, "default: unknown type name \"q9_K\"", NULL);
	expect_error("{\"default\": \"q4_0\", \"rules\": [{\"type\": \"q8_0\"}, {\"type\": \"keep\"}, "
		     "{\"kind\": \"attn_v\", \"type\": \"q7_0\"}]}",
		     QNT_E_UNKNOWN_TYPE, "rule 2: type: unknown type name \"q7_0\"", NULL);
	/* activation formats are not weight formats */
	expect_error("{\"default\": \"q4_0\", \"rules\": [{\"type\": \"q8_K\"}]}", QNT_E_UNSUPPORTED,
		     "rule 0: type: \"q8_K\" is not a weight format", NULL);
	expect_error("{\"default\": \"q4_0\", \"fallback\": {\"q4_K\": \"q5_9\"}}", QNT_E_UNKNOWN_TYPE,
		     "fallback: unknown type name \"q5_9\"", NULL);
	expect_error("{\"default\": \"q4_0\", \"fallback\": {\"q4_K\": 5}}", QNT_E_FORMAT, "\"fallback\"",
		     "type names");
}

static void bad_rules(void **state)
{
	(void)state;
	expect_error("{\"default\": \"q4_0\", \"rules\": [{\"type\": \"q8_0\"}, {\"match\": \"attn_(v\", "
		     "\"type\": \"q8_0\"}]}",
		     QNT_E_FORMAT, "rule 1: bad regex in \"match\" (\"attn_(v\")", NULL);
	expect_error("{\"default\": \"q4_0\", \"rules\": [{\"not_match\": \"[\", \"type\": \"keep\"}]}", QNT_E_FORMAT,
		     "rule 0: bad regex in \"not_match\"", NULL);
	/* repetitions that glibc's regcomp would expand past memory (a fuzzer's
	 * 130 stacked "+" took more than 2 GB), nested or counted */
	char re[512], json[700];
	strcpy(re, "weig");
	for (int i = 0; i < 130; i++)
		strcat(re, "+");
	strcat(re, "ht$");
	snprintf(json, sizeof json, "{\"default\": \"q4_0\", \"rules\": [{\"not_match\": \"%s\", \"type\": \"keep\"}]}", re);
	expect_error(json, QNT_E_FORMAT, "rule 0: regex in \"not_match\" too complex", NULL);
	expect_error("{\"default\": \"q4_0\", \"rules\": [{\"match\": \"((((a{20}){20}){20}){20})\", \"type\": \"keep\"}]}",
		     QNT_E_FORMAT, "rule 0: regex in \"match\" too complex", NULL);
	/* an ordinary counted repetition, a bracket with "]" and an escaped brace are fine */
	qnt_recipe *ok = NULL;
	assert_int_equal(parse("{\"default\": \"q4_0\", \"rules\": [{\"match\": \"^blk\\\\.[0-9]{1,3}\\\\.(ffn|attn)+_[]x]\\\\{+\", "
			       "\"type\": \"q8_0\"}]}",
			       &ok),
			 QNT_OK);
	qnt_recipe_free(ok);
	expect_error("{\"default\": \"q4_0\", \"rules\": [{\"kind\": \"attn_z\", \"type\": \"q8_0\"}]}",
		     QNT_E_FORMAT, "rule 0: \"kind\": unknown kind \"attn_z\"", NULL);
	expect_error("{\"default\": \"q4_0\", \"rules\": [{\"kind\": \"attn_v\"}]}", QNT_E_FORMAT,
		     "rule 0: no \"type\"", NULL);
	expect_error("{\"default\": \"q4_0\", \"rules\": [{\"lt\": 2, \"type\": \"q8_0\"}]}", QNT_E_FORMAT,
		     "rule 0: \"lt\"", "need \"index\"");
	expect_error("{\"default\": \"q4_0\", \"rules\": [{\"index\": \"row\", \"type\": \"q8_0\"}]}", QNT_E_FORMAT,
		     "rule 0: \"index\": must be \"layer\" or \"ordinal\"", NULL);
	expect_error("{\"default\": \"q4_0\", \"rules\": [{\"index\": \"layer\", \"lt_frac\": [1, 0], "
		     "\"type\": \"q8_0\"}]}",
		     QNT_E_FORMAT, "rule 0: \"lt_frac\"", NULL);
	expect_error("{\"default\": \"q4_0\", \"rules\": [{\"gqa_min\": 0, \"type\": \"q8_0\"}]}", QNT_E_FORMAT,
		     "rule 0: \"gqa_min\": must be a positive integer", NULL);
	expect_error("{\"default\": \"q4_0\", \"rules\": [{\"tied\": 1, \"type\": \"q8_0\"}]}", QNT_E_FORMAT,
		     "rule 0: \"tied\": must be true or false", NULL);
	expect_error("{\"default\": \"q4_0\", \"rules\": [{\"arch\": [\"llama\", 3], \"type\": \"q8_0\"}]}",
		     QNT_E_FORMAT, "rule 0: \"arch\"", NULL);
	expect_error("{\"default\": \"q4_0\", \"rules\": [{\"typo\": 3, \"type\": \"q8_0\"}]}", QNT_E_FORMAT,
		     "rule 0: \"typo\": unknown key", NULL);
}

static void load_file_errors_name_the_path(void **state)
{
	(void)state;
	qnt_recipe *r = NULL;
	assert_int_equal(qnt_recipe_load_file(NULL, "/nonexistent/recipe.json", &r), QNT_E_NOT_FOUND);
	assert_contains(qnt_ctx_last_error(NULL), "/nonexistent/recipe.json");
	char path[] = "/tmp/qnt_recipe_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char *text = "{\"name\": \"mine\", \"default\": \"q4_0\", \"rules\": [{\"match\": \"(\", \"type\": \"keep\"}]}";
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(qnt_recipe_load_file(NULL, path, &r), QNT_E_FORMAT);
	assert_contains(qnt_ctx_last_error(NULL), path);
	assert_contains(qnt_ctx_last_error(NULL), "rule 0: bad regex");
	unlink(path);
}

/* ---- a synthetic model ---- */

#define MAX_T 256

struct model {
	int n;
	const char *names[MAX_T];
	char buf[MAX_T][64];
	uint32_t dims[MAX_T];
	int64_t ne[4 * MAX_T];
	qnt_type src[MAX_T];
};

static void add(struct model *m, const char *name, int64_t ne0, int64_t ne1, qnt_type src)
{
	int i = m->n++;
	snprintf(m->buf[i], sizeof(m->buf[i]), "%s", name);
	m->names[i] = m->buf[i];
	m->dims[i] = ne1 > 0 ? 2 : 1;
	m->ne[4 * i] = ne0;
	m->ne[4 * i + 1] = ne1 > 0 ? ne1 : 1;
	m->src[i] = src;
}

/* GGUF (hf = 0) or HF names of a llama with n_layer layers. */
static void llama_model(struct model *m, int n_layer, int64_t dim, int64_t ff, int tied, int hf, qnt_type src)
{
	char name[64];
	memset(m, 0, sizeof(*m));
	add(m, hf ? "model.embed_tokens.weight" : "token_embd.weight", dim, 320, src);
	add(m, hf ? "model.norm.weight" : "output_norm.weight", dim, 0, QNT_TYPE_F32);
	if (!tied)
		add(m, hf ? "lm_head.weight" : "output.weight", dim, 320, src);
	for (int l = 0; l < n_layer; l++) {
		static const char *const gg[] = { "attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up" };
		static const char *const hfn[] = { "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
						    "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj" };
		for (int k = 0; k < 6; k++) {
			if (hf)
				snprintf(name, sizeof(name), "model.layers.%d.%s.weight", l, hfn[k]);
			else
				snprintf(name, sizeof(name), "blk.%d.%s.weight", l, gg[k]);
			add(m, name, dim, k >= 4 ? ff : dim, src);
		}
		snprintf(name, sizeof(name), hf ? "model.layers.%d.mlp.down_proj.weight" : "blk.%d.ffn_down.weight", l);
		add(m, name, ff, dim, src);
		snprintf(name, sizeof(name), hf ? "model.layers.%d.input_layernorm.weight" : "blk.%d.attn_norm.weight",
			 l);
		add(m, name, dim, 0, QNT_TYPE_F32);
	}
}

static int find(const struct model *m, const char *name)
{
	for (int i = 0; i < m->n; i++)
		if (strcmp(m->names[i], name) == 0)
			return i;
	fail_msg("no tensor %s", name);
	return -1;
}

static void run_plan(const qnt_recipe *r, const struct model *m, int hf, int64_t n_layer, qnt_type *types,
		     uint32_t *flags, char *reasons)
{
	qnt_recipe_model mm = QNT_RECIPE_MODEL_INIT;
	mm.name_style = hf ? QNT_RECIPE_NAMES_HF : QNT_RECIPE_NAMES_GGUF;
	mm.n_layer = n_layer;
	mm.n_head = 8;
	mm.n_head_kv = 8;
	mm.arch = "llama";
	assert_int_equal(qnt_recipe_plan(NULL, r, &mm, m->n, m->names, m->dims, m->ne, m->src, types, flags, reasons),
			 QNT_OK);
}

static void presets_by_name(void **state)
{
	(void)state;
	qnt_recipe *r = NULL;
	assert_true(qnt_recipe_count_presets() >= 40);
	assert_null(qnt_recipe_preset_name(-1));
	assert_null(qnt_recipe_preset_name(qnt_recipe_count_presets()));
	assert_int_equal(qnt_recipe_preset("q4_k_m", &r), QNT_OK);
	assert_string_equal(qnt_recipe_name(r), "Q4_K_M");
	assert_int_equal(qnt_recipe_file_type(r), 15);
	qnt_recipe_free(r);
	assert_int_equal(qnt_recipe_preset("Q4_K", &r), QNT_OK); /* llama-quantize's alias */
	assert_string_equal(qnt_recipe_name(r), "Q4_K_M");
	qnt_recipe_free(r);
	assert_int_equal(qnt_recipe_preset("MIXED_4_6", &r), QNT_OK);
	assert_int_equal(qnt_recipe_file_type(r), 1024);
	qnt_recipe_free(r);
	assert_int_equal(qnt_recipe_preset("Q4_K_XL", &r), QNT_E_NOT_FOUND);
	assert_null(r);
	assert_contains(qnt_ctx_last_error(NULL), "Q4_K_XL");
	assert_int_equal(qnt_recipe_preset(NULL, &r), QNT_E_INVALID_ARG);
	assert_int_equal(qnt_recipe_file_type(NULL), 1024);
	assert_string_equal(qnt_recipe_name(NULL), "");
	qnt_recipe_free(NULL);
	qnt_free(NULL);
}

/* Every preset prints as JSON that parses back to a recipe printing the same
 * text and planning the same types and reasons, on both name styles. */
static void presets_round_trip(void **state)
{
	(void)state;
	static struct model m;
	qnt_type t1[MAX_T], t2[MAX_T];
	static char r1[MAX_T * QNT_RECIPE_REASON_SIZE], r2[MAX_T * QNT_RECIPE_REASON_SIZE];
	for (int32_t i = 0; i < qnt_recipe_count_presets(); i++) {
		qnt_recipe *a = NULL, *b = NULL;
		char *ja = NULL, *jb = NULL;
		assert_int_equal(qnt_recipe_preset(qnt_recipe_preset_name(i), &a), QNT_OK);
		assert_int_equal(qnt_recipe_to_json(NULL, a, &ja), QNT_OK);
		assert_int_equal(qnt_recipe_parse(NULL, ja, strlen(ja), "printed", &b), QNT_OK);
		assert_int_equal(qnt_recipe_to_json(NULL, b, &jb), QNT_OK);
		assert_string_equal(ja, jb);
		assert_int_equal(qnt_recipe_file_type(a), qnt_recipe_file_type(b));
		for (int hf = 0; hf < 2; hf++) {
			llama_model(&m, 12, hf ? 256 : 160, hf ? 352 : 512, hf, hf, QNT_TYPE_F16);
			run_plan(a, &m, hf, 12, t1, NULL, r1);
			run_plan(b, &m, hf, 12, t2, NULL, r2);
			assert_memory_equal(t1, t2, sizeof(qnt_type) * (size_t)m.n);
			assert_memory_equal(r1, r2, (size_t)m.n * QNT_RECIPE_REASON_SIZE);
		}
		qnt_free(ja);
		qnt_free(jb);
		qnt_recipe_free(a);
		qnt_recipe_free(b);
	}
}

static void one_type(void **state)
{
	(void)state;
	static struct model m;
	qnt_type types[8];
	uint32_t flags[8];
	static char reasons[8 * QNT_RECIPE_REASON_SIZE];
	qnt_recipe *r = NULL;
	memset(&m, 0, sizeof(m));
	add(&m, "a.weight", 4096, 0, QNT_TYPE_F32);      /* 1-D */
	add(&m, "b.weight", 4096, 64, QNT_TYPE_F16);     /* quantized */
	add(&m, "c.weight", 100, 64, QNT_TYPE_BF16);     /* 100 % 32 != 0: kept */
	add(&m, "d.weight", 4096, 64, QNT_TYPE_Q8_0);    /* not a float source */
	add(&m, "e.bias", 64, 32, QNT_TYPE_F32);         /* 2-D: quantized, whatever the name */
	add(&m, "f.weight", 4096, 1, QNT_TYPE_F32);      /* [4096, 1] is 1-D, as ggml_n_dims says */
	assert_int_equal(qnt_recipe_from_type(QNT_TYPE_Q4_0, &r), QNT_OK);
	assert_int_equal(qnt_recipe_file_type(r), 2);
	run_plan(r, &m, 0, 0, types, flags, reasons);
	assert_int_equal(types[0], QNT_TYPE_F32);
	assert_int_equal(flags[0], QNT_RECIPE_KEEP);
	assert_int_equal(types[1], QNT_TYPE_Q4_0);
	assert_int_equal(flags[1], 0);
	assert_int_equal(types[2], QNT_TYPE_BF16);
	assert_int_equal(flags[2], QNT_RECIPE_KEEP | QNT_RECIPE_FALLBACK);
	assert_contains(reasons + 2 * QNT_RECIPE_REASON_SIZE, "100 % 32 != 0");
	assert_int_equal(types[3], QNT_TYPE_Q8_0);
	assert_int_equal(flags[3], QNT_RECIPE_KEEP);
	assert_contains(reasons + 3 * QNT_RECIPE_REASON_SIZE, "not a float type");
	assert_int_equal(types[4], QNT_TYPE_Q4_0);
	assert_int_equal(types[5], QNT_TYPE_F32);
	assert_int_equal(flags[5], QNT_RECIPE_KEEP);
	qnt_recipe_free(r);
	assert_int_equal(qnt_recipe_from_type(QNT_TYPE_Q8_K, &r), QNT_E_UNSUPPORTED);
	assert_int_equal(qnt_recipe_from_type(12345, &r), QNT_E_UNKNOWN_TYPE);
	/* a k-quant recipe of one type says Q4_K_S */
	assert_int_equal(qnt_recipe_from_type(QNT_TYPE_Q4_K, &r), QNT_OK);
	assert_int_equal(qnt_recipe_file_type(r), 14);
	qnt_recipe_free(r);
}

/* mlx-lm mixed_3_6 on HF names: 6 bits for v_proj and down_proj in the layers
 * use_more_bits picks (n = 12: 0, 3, 6, 9, 10, 11 ... i < 1, i >= 10,
 * (i - 1) % 3 == 2) and for lm_head; 3 bits elsewhere; scales follow the
 * source dtype. */
static void mlx_mixed(void **state)
{
	(void)state;
	static struct model m;
	qnt_type types[MAX_T];
	qnt_recipe *r = NULL;
	qnt_mlx_params p = QNT_MLX_PARAMS_INIT;
	llama_model(&m, 12, 256, 512, 0, 1, QNT_TYPE_F16);
	assert_int_equal(qnt_recipe_preset("mixed_3_6", &r), QNT_OK);
	run_plan(r, &m, 1, 12, types, NULL, NULL);
	p.dtype = QNT_TYPE_F16;
	p.group_size = 64;
	p.bits = 6;
	qnt_type hi = qnt_mlx_type(&p);
	p.bits = 3;
	qnt_type lo = qnt_mlx_type(&p);
	assert_int_equal(types[find(&m, "lm_head.weight")], hi);
	assert_int_equal(types[find(&m, "model.embed_tokens.weight")], lo);
	assert_int_equal(types[find(&m, "model.norm.weight")], QNT_TYPE_F32);
	for (int l = 0; l < 12; l++) {
		char name[64];
		int more = l < 1 || l >= 10 || (l - 1) % 3 == 2;
		snprintf(name, sizeof(name), "model.layers.%d.self_attn.v_proj.weight", l);
		assert_int_equal(types[find(&m, name)], more ? hi : lo);
		snprintf(name, sizeof(name), "model.layers.%d.mlp.down_proj.weight", l);
		assert_int_equal(types[find(&m, name)], more ? hi : lo);
		snprintf(name, sizeof(name), "model.layers.%d.self_attn.q_proj.weight", l);
		assert_int_equal(types[find(&m, name)], lo);
	}
	qnt_recipe_free(r);
}

/* Q4_K_M's rules on a 12-layer model with rows of 160 (fallbacks) */
static void llama_positions_and_fallbacks(void **state)
{
	(void)state;
	static struct model m;
	qnt_type types[MAX_T];
	uint32_t flags[MAX_T];
	static char reasons[MAX_T * QNT_RECIPE_REASON_SIZE];
	qnt_recipe *r = NULL;
	llama_model(&m, 12, 256, 160, 1, 0, QNT_TYPE_F16);
	assert_int_equal(qnt_recipe_preset("Q4_K_M", &r), QNT_OK);
	run_plan(r, &m, 0, 12, types, flags, reasons);
	/* tied: token_embd is the output: q6_K */
	assert_int_equal(types[find(&m, "token_embd.weight")], QNT_TYPE_Q6_K);
	for (int l = 0; l < 12; l++) {
		char name[64];
		int more = l < 1 || l >= 10 || (l - 1) % 3 == 2;
		snprintf(name, sizeof(name), "blk.%d.attn_v.weight", l);
		assert_int_equal(types[find(&m, name)], more ? QNT_TYPE_Q6_K : QNT_TYPE_Q4_K);
		/* ffn_down rows are 160: q6_K -> q8_0, q4_K -> q5_0 */
		snprintf(name, sizeof(name), "blk.%d.ffn_down.weight", l);
		int i = find(&m, name);
		assert_int_equal(types[i], more ? QNT_TYPE_Q8_0 : QNT_TYPE_Q5_0);
		assert_int_equal(flags[i], QNT_RECIPE_FALLBACK);
		assert_contains(reasons + (size_t)i * QNT_RECIPE_REASON_SIZE, "160 % 256 != 0");
		snprintf(name, sizeof(name), "blk.%d.attn_norm.weight", l);
		assert_int_equal(flags[find(&m, name)], QNT_RECIPE_KEEP);
	}
	qnt_recipe_free(r);
}

static void plan_argument_checks(void **state)
{
	(void)state;
	static struct model m;
	qnt_type types[MAX_T];
	qnt_recipe *r = NULL;
	qnt_recipe_model mm = QNT_RECIPE_MODEL_INIT;
	llama_model(&m, 1, 256, 512, 0, 0, QNT_TYPE_F16);
	assert_int_equal(qnt_recipe_preset("Q8_0", &r), QNT_OK);
	mm.struct_size = 8;
	assert_int_equal(qnt_recipe_plan(NULL, r, &mm, m.n, m.names, m.dims, m.ne, m.src, types, NULL, NULL),
			 QNT_E_INVALID_ARG);
	assert_contains(qnt_ctx_last_error(NULL), "struct_size");
	mm.struct_size = sizeof(mm);
	mm.reserved = 1;
	assert_int_equal(qnt_recipe_plan(NULL, r, &mm, m.n, m.names, m.dims, m.ne, m.src, types, NULL, NULL),
			 QNT_E_INVALID_ARG);
	mm.reserved = 0;
	mm.name_style = 7;
	assert_int_equal(qnt_recipe_plan(NULL, r, &mm, m.n, m.names, m.dims, m.ne, m.src, types, NULL, NULL),
			 QNT_E_INVALID_ARG);
	mm.name_style = 0;
	m.dims[3] = 0;
	assert_int_equal(qnt_recipe_plan(NULL, r, &mm, m.n, m.names, m.dims, m.ne, m.src, types, NULL, NULL),
			 QNT_E_INVALID_ARG);
	assert_contains(qnt_ctx_last_error(NULL), m.names[3]);
	m.dims[3] = 2;
	assert_int_equal(qnt_recipe_plan(NULL, r, &mm, -1, m.names, m.dims, m.ne, m.src, types, NULL, NULL),
			 QNT_E_INVALID_ARG);
	assert_int_equal(qnt_recipe_plan(NULL, r, &mm, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL), QNT_OK);
	qnt_recipe_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bad_json),
		cmocka_unit_test(unknown_types),
		cmocka_unit_test(bad_rules),
		cmocka_unit_test(load_file_errors_name_the_path),
		cmocka_unit_test(presets_by_name),
		cmocka_unit_test(presets_round_trip),
		cmocka_unit_test(one_type),
		cmocka_unit_test(mlx_mixed),
		cmocka_unit_test(llama_positions_and_fallbacks),
		cmocka_unit_test(plan_argument_checks),
	};
	return cmocka_run_group_tests_name("recipe", tests, NULL, NULL);
}
