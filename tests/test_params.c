/* test_params.c: input templates (built-in and user files), placeholders,
 * extra_json merging, --set, sampler names and the A1111 parameters text. */
#include <errno.h>
#include <math.h>

#include <cjson/cJSON.h>

#include "th.h"
#include "params.h"
#include "util.h"

static char dir[4096]; /* a config dir with templates/ */

static void write_template(const char *name, const char *text)
{
	char path[4200];
	FILE *f;
	snprintf(path, sizeof path, "%s/templates/%s.json", dir, name);
	f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(2);
	}
	fputs(text, f);
	fclose(f);
}

/* Full parameters; tests change the fields they care about. */
static void full(struct job_params *p)
{
	job_params_init(p);
	p->prompt = strdup("a cat");
	p->negative_prompt = strdup("blurry");
	p->width = 512;
	p->height = 768;
	p->steps = 20;
	p->cfg = 7;
	p->has_cfg = 1;
	p->seed = 42;
	p->sampler = strdup("Euler a");
	p->count = 2;
}

/* Build and compare; want == NULL means an error whose text has err_has. */
static void expect(const struct job_params *p, const char *tname, const char *want,
                   const char *err_has)
{
	char *err = NULL, *got = params_build_input(p, tname, dir, &err);
	if (want) {
		CHECK_STR(got, want);
		if (!got)
			fprintf(stderr, "  (error: %s)\n", err ? err : "none");
		CHECK(err == NULL);
	} else {
		CHECK(got == NULL);
		CHECK(err != NULL);
		if (got)
			fprintf(stderr, "  (unexpected: %s)\n", got);
		if (err && !strstr(err, err_has))
			fprintf(stderr, "  error \"%s\" lacks \"%s\"\n", err, err_has);
		CHECK(err && strstr(err, err_has));
	}
	free(got);
	free(err);
}

static void test_builtins(void)
{
	static const struct {
		const char *tname;
		const char *want;
	} rows[] = {
	    {"sd15", "{\"prompt\":\"a cat\",\"negative_prompt\":\"blurry\",\"width\":512,"
	             "\"height\":768,\"num_inference_steps\":20,\"guidance_scale\":7.0,"
	             "\"num_outputs\":2,\"seed\":42,\"scheduler\":\"EULER-A\"}"},
	    {"sdxl", "{\"prompt\":\"a cat\",\"negative_prompt\":\"blurry\",\"width\":512,"
	             "\"height\":768,\"num_inference_steps\":20,\"guidance_scale\":7.0,"
	             "\"num_images\":2,\"seed\":42,\"scheduler\":\"K_EULER_ANCESTRAL\"}"},
	    {"a1111", "{\"prompt\":\"a cat\",\"negative_prompt\":\"blurry\",\"width\":512,"
	              "\"height\":768,\"steps\":20,\"cfg_scale\":7.0,\"sampler_name\":"
	              "\"Euler a\",\"batch_size\":2,\"seed\":42}"},
	};
	struct job_params p;
	full(&p);
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
		expect(&p, rows[i].tname, rows[i].want, NULL);
	/* tname NULL: the job's template, then sdxl (PARAMS_DEFAULT_TEMPLATE) */
	free(p.template_name);
	p.template_name = strdup("a1111");
	expect(&p, NULL, rows[2].want, NULL);
	free(p.template_name);
	p.template_name = NULL;
	expect(&p, NULL, rows[1].want, NULL);
	CHECK_STR(PARAMS_DEFAULT_TEMPLATE, "sdxl");
	job_params_clear(&p);
}

static void test_unset_left_out(void)
{
	struct job_params p;
	job_params_init(&p);
	p.prompt = strdup("only this");
	expect(&p, "sd15", "{\"prompt\":\"only this\"}", NULL);
	expect(&p, "sdxl", "{\"prompt\":\"only this\"}", NULL);
	expect(&p, "a1111", "{\"prompt\":\"only this\"}", NULL);
	/* empty strings are unset too; seed 0 is a seed */
	p.negative_prompt = strdup("");
	p.sampler = strdup("");
	p.seed = 0;
	expect(&p, "sd15", "{\"prompt\":\"only this\",\"seed\":0}", NULL);
	job_params_clear(&p);
	job_params_init(&p);
	expect(&p, "a1111", "{}", NULL);
	/* sd15 marks the prompt required, sdxl has no default for it: both need one */
	expect(&p, "sd15", NULL, "needs a value for {{prompt}}: give -p");
	expect(&p, "sdxl", NULL, "needs a value for {{prompt}}");
	job_params_clear(&p);
}

static void test_numbers(void)
{
	static const struct {
		double cfg;
		int64_t seed;
		const char *want;
	} rows[] = {
	    {7.5, 1, "{\"cfg_scale\":7.5,\"seed\":1}"},
	    {7, 9223372036854775807LL, "{\"cfg_scale\":7.0,\"seed\":9223372036854775807}"},
	    {7, 9007199254740993LL, "{\"cfg_scale\":7.0,\"seed\":9007199254740993}"},
	    {0, 4294967295LL, "{\"cfg_scale\":0.0,\"seed\":4294967295}"},
	    {1e20, 5, "{\"cfg_scale\":1e+20,\"seed\":5}"},
	    {-2.25, 6, "{\"cfg_scale\":-2.25,\"seed\":6}"},
	};
	struct job_params p;
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		job_params_init(&p);
		p.cfg = rows[i].cfg;
		p.has_cfg = 1;
		p.seed = rows[i].seed;
		expect(&p, "a1111", rows[i].want, NULL);
	}
	p.cfg = NAN;
	expect(&p, "a1111", NULL, "cfg");
}

/* Numbers in a template file and in --set go out as written, never through a
 * double: 2^53+1 and a 20-digit seed (ComfyUI takes unsigned 64-bit seeds). */
static void test_exact_numbers(void)
{
	struct job_params p;
	char *err = NULL;

	job_params_init(&p);
	p.prompt = strdup("x");
	write_template("exact", "{\"a\": 9007199254740993, \"b\": 18446744073709551615,"
	                        " \"c\": 0.1000000000000000055511151231257827, \"d\": -0,"
	                        " \"e\": 1E400, \"f\": [1.50, 2e-7], \"g\": \"{{prompt}}\"}");
	expect(&p, "exact",
	       "{\"a\":9007199254740993,\"b\":18446744073709551615,"
	       "\"c\":0.1000000000000000055511151231257827,\"d\":-0,\"e\":1E400,"
	       "\"f\":[1.50,2e-7],\"g\":\"x\"}",
	       NULL);
	CHECK_INT(params_parse_set(&p, "seed=18446744073709551615", &err), 0);
	CHECK_INT(params_parse_set(&p, "nested.v=12345678901234567890123", &err), 0);
	CHECK_STR(p.extra_json, "{\"seed\":18446744073709551615,\"nested\":{\"v\":"
	                        "12345678901234567890123}}");
	expect(&p, "sdxl",
	       "{\"prompt\":\"x\",\"seed\":18446744073709551615,"
	       "\"nested\":{\"v\":12345678901234567890123}}",
	       NULL);
	free(err);
	job_params_clear(&p);
}

/* {{name|default}}, {{name?}} and {{name}}: defaults are typed like values,
 * an unset needed placeholder is an error naming it, never a removed input. */
static void test_defaults(void)
{
	struct job_params p;

	job_params_init(&p);
	p.prompt = strdup("a fox");
	write_template("defs", "{\"steps\": \"{{steps|20}}\", \"cfg\": \"{{ cfg | 7 }}\","
	                       " \"seed\": \"{{seed|-1}}\", \"neg\": \"{{negative_prompt|}}\","
	                       " \"s\": \"{{sampler|euler}}\", \"w\": \"{{width|1024}}\","
	                       " \"t\": \"{{prompt}}, {{negative_prompt|blurry, low | res}}\","
	                       " \"o\": \"{{count?}}\", \"l\": [\"{{height?}}\"],"
	                       " \"in\": \"n={{count?}}.\"}");
	expect(&p, "defs",
	       "{\"steps\":20,\"cfg\":7.0,\"seed\":-1,\"neg\":\"\",\"s\":\"euler\","
	       "\"w\":1024,\"t\":\"a fox, blurry, low | res\",\"l\":[null],\"in\":\"n=.\"}",
	       NULL);
	/* values win over defaults */
	p.steps = 30;
	p.cfg = 4.5;
	p.has_cfg = 1;
	p.seed = 9007199254740993LL;
	p.negative_prompt = strdup("ugly");
	p.sampler = strdup("dpmpp_2m");
	p.width = 640;
	p.count = 3;
	p.height = 480;
	expect(&p, "defs",
	       "{\"steps\":30,\"cfg\":4.5,\"seed\":9007199254740993,\"neg\":\"ugly\","
	       "\"s\":\"dpmpp_2m\",\"w\":640,\"t\":\"a fox, ugly\",\"o\":3,\"l\":[480],"
	       "\"in\":\"n=3.\"}",
	       NULL);
	job_params_clear(&p);

	/* needed and unset: an error naming the placeholder and the option */
	job_params_init(&p);
	p.prompt = strdup("p");
	write_template("need1", "{\"a\": \"{{seed}}\"}");
	expect(&p, "need1", NULL, "needs a value for {{seed}}: give --seed");
	write_template("need2", "{\"a\": {\"b\": [\"{{steps}}\"]}}");
	expect(&p, "need2", NULL, "{{steps}}: give --steps, or write a default ({{steps|VALUE}})");
	write_template("need3", "{\"a\": \"w={{width}}\"}");
	expect(&p, "need3", NULL, "{{width}}");
	write_template("need4", "{\"text\": \"{{negative_prompt}}\"}");
	expect(&p, "need4", NULL, "give -n");
	/* bad defaults for numbers */
	write_template("baddef1", "{\"a\": \"{{steps|twenty}}\"}");
	expect(&p, "baddef1", NULL, "the default of {{steps|twenty}} is not a whole number");
	write_template("baddef2", "{\"a\": \"{{cfg|7,5}}\"}");
	expect(&p, "baddef2", NULL, "is not a number");
	write_template("baddef3", "{\"a\": \"{{steps|1.5}}\"}");
	expect(&p, "baddef3", NULL, "whole number");
	write_template("baddef4", "{\"a\": \"{{seed|99999999999999999999}}\"}");
	expect(&p, "baddef4", NULL, "whole number");
	write_template("baddef5", "{\"a\": \"{{width|}}\"}");
	expect(&p, "baddef5", NULL, "whole number");
	/* not placeholders: left as text */
	write_template("plain", "{\"a\": \"{{ }}\", \"b\": \"{{a b}}\"}");
	expect(&p, "plain", "{\"a\":\"{{ }}\",\"b\":\"{{a b}}\"}", NULL);
	job_params_clear(&p);
}

static void test_escaping(void)
{
	struct job_params p;
	job_params_init(&p);
	p.prompt = strdup("say \"hi\"\\\n\t\033[2J caf\xc3\xa9");
	expect(&p, "sd15", "{\"prompt\":\"say \\\"hi\\\"\\\\\\n\\t\\u001b[2J caf\xc3\xa9\"}", NULL);
	/* a prompt that looks like a placeholder stays text */
	free(p.prompt);
	p.prompt = strdup("{{seed}}");
	p.seed = 7;
	expect(&p, "sd15", "{\"prompt\":\"{{seed}}\",\"seed\":7}", NULL);
	job_params_clear(&p);
}

static void test_samplers(void)
{
	static const struct {
		const char *tname, *in, *want; /* want NULL: the worker has no such sampler */
	} rows[] = {
	    {"sd15", "Euler a", "EULER-A"},
	    {"sd15", "euler_a", "EULER-A"},
	    {"sd15", "EULER-A", "EULER-A"},
	    {"sd15", "K_EULER_ANCESTRAL", "EULER-A"},
	    {"sd15", "euler", "EULER-D"},
	    {"sd15", "DPM++ 2M", "DPM-M"},
	    {"sd15", "lms", "K-LMS"},
	    {"sd15", "KLMS", "K-LMS"},
	    {"sd15", "plms", "PNDM"},
	    {"sd15", "ddpm", "DDPM"},
	    {"sd15", "dpm-s", "DPM-S"},
	    {"sd15", "My Custom", NULL},
	    {"sd15", "dpm++ 2s a", NULL},
	    {"sd15", "unipc", NULL},
	    {"sd15", "lcm", NULL},
	    {"sdxl", "Euler a", "K_EULER_ANCESTRAL"},
	    {"sdxl", "dpm++2m", "DPMSolverMultistep"},
	    {"sdxl", "DPM-M", "DPMSolverMultistep"},
	    {"sdxl", "dpmsolversinglestep", "DPMSolverSinglestep"},
	    {"sdxl", "k_euler", "K_EULER"},
	    {"sdxl", "pndm", "PNDM"},
	    /* the names the issue saw fail on worker-sdxl */
	    {"sdxl", "heun", NULL},
	    {"sdxl", "dpm2", NULL},
	    {"sdxl", "dpm2 a", NULL},
	    {"sdxl", "dpm++ 2s a", NULL},
	    {"sdxl", "ddpm", NULL},
	    {"sdxl", "ipndm", NULL},
	    {"sdxl", "unipc", NULL},
	    {"sdxl", "lcm", NULL},
	    {"sdxl", "DPM++ 2M Karras", NULL},
	    {"sdxl", "DPM++ SDE", NULL},
	    {"a1111", "euler_a", "Euler a"},
	    {"a1111", "dpmpp_2m", "DPM++ 2M"},
	    {"a1111", "uni_pc", "UniPC"},
	    {"a1111", "DPM++ 2M Karras", "DPM++ 2M Karras"},
	    {"a1111", "dpmpp_2m_sde karras", "DPM++ 2M SDE Karras"},
	    {"a1111", "Euler a SGM Uniform", "Euler a SGM Uniform"},
	    {"a1111", "DDIM CFG++", "DDIM CFG++"},
	    {"a1111", "restart", "Restart"},
	    {"a1111", "ddpm", NULL},
	    {"a1111", "Euler a Bogus", NULL},
	    {"comfyui", "Euler a", "euler_ancestral"},
	    {"comfyui", "DPM++ 2M", "dpmpp_2m"},
	    {"comfyui", "dpmpp_2m_sde_gpu", "dpmpp_2m_sde_gpu"},
	    {"comfyui", "uni_pc_bh2", "uni_pc_bh2"},
	    {"comfyui", "plms", NULL},
	    {"comfyui", "DPM++ 2M Karras", NULL},
	    {"mine", "Euler a", "Euler a"}, /* user templates get the text as is */
	    {NULL, "Euler a", "Euler a"},
	    {"sd15", "", ""},
	    /* raw: sends the rest unchanged, anywhere */
	    {"sdxl", "raw:heun", "heun"},
	    {"sd15", "raw:My Custom", "My Custom"},
	    {"mine", "raw:x", "x"},
	};
	char buf[PARAMS_SAMPLER_MAX];
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		const char *got = params_sampler_for(rows[i].tname, rows[i].in, buf, sizeof buf);
		if (!th_check_str(got, rows[i].want, rows[i].in, __FILE__, __LINE__))
			fprintf(stderr, "  (template %s)\n", rows[i].tname ? rows[i].tname : "NULL");
		char *err = NULL;
		CHECK_INT(params_sampler_check(rows[i].tname, rows[i].in, &err), rows[i].want ? 0 : -1);
		free(err);
	}
	CHECK(params_sampler_for("sd15", NULL, buf, sizeof buf) == NULL);

	/* the error lists the valid names and the way around */
	char *err = NULL;
	CHECK_INT(params_sampler_check("sdxl", "heun", &err), -1);
	CHECK(err && strstr(err, "sampler \"heun\" is not one the sdxl template's worker accepts"));
	CHECK(err && strstr(err, "valid: PNDM, KLMS, DDIM, K_EULER, K_EULER_ANCESTRAL, "
	                         "DPMSolverMultistep, DPMSolverSinglestep"));
	CHECK(err && strstr(err, "--sampler raw:NAME"));
	free(err);
	struct job_params p;
	full(&p);
	free(p.sampler);
	p.sampler = strdup("heun");
	expect(&p, "sdxl", NULL, "valid: PNDM");
	free(p.sampler);
	p.sampler = strdup("raw:heun");
	{
		char *got = params_build_input(&p, "sdxl", dir, NULL);
		CHECK(got && strstr(got, "\"scheduler\":\"heun\""));
		free(got);
	}
	job_params_clear(&p);

	/* every name of every table is accepted and sent as a name of that table
	 * (itself, or for sd15's "KLMS" its twin "K-LMS") */
	static const char *const tnames[] = {"sd15", "sdxl", "a1111", "comfyui"};
	for (size_t t = 0; t < 4; t++) {
		const char *const *names = params_sampler_names(tnames[t]);
		int n = 0;
		CHECK(names != NULL);
		for (const char *const *nm = names; nm && *nm; nm++, n++) {
			const char *got = params_sampler_for(tnames[t], *nm, buf, sizeof buf);
			int in_table = 0;
			for (const char *const *o = names; got && *o; o++)
				in_table |= strcmp(*o, got) == 0;
			CHECK(in_table);
			if (strcmp(*nm, "KLMS") != 0)
				CHECK_STR(got, *nm);
		}
		CHECK(n >= 7);
	}
	CHECK(params_sampler_names("mine") == NULL);
}

static void test_bad_names(void)
{
	static const char *const bad[] = {
	    "../etc/passwd",
	    "a/b",
	    "",
	    "a.b",
	    "..",
	    "a b",
	    "x\033[2J",
	    "/abs",
	    "sd15.json",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", /* 65 */
	};
	struct job_params p;
	full(&p);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		CHECK_INT(params_template_name_ok(bad[i]), 0);
		CHECK_INT(params_template_known(bad[i], dir), 0);
		expect(&p, bad[i], NULL, "bad template name");
	}
	CHECK_INT(params_template_name_ok(NULL), 0);
	CHECK_INT(params_template_name_ok("My-tpl_2"), 1);
	/* the error shows a control character, never sends it */
	{
		char *err = NULL;
		CHECK(params_build_input(&p, "x\033[2J", dir, &err) == NULL);
		CHECK(err && !strchr(err, '\033') && strstr(err, "^["));
		free(err);
	}
	expect(&p, "nosuch", NULL, "unknown template \"nosuch\"");
	expect(&p, "nosuch", NULL, "templates/nosuch.json");
	job_params_clear(&p);
}

static void test_user_template(void)
{
	struct job_params p;
	full(&p);
	write_template("typed",
	               "{\"input\": {\"w\": \"{{width}}\", \"h\": \"{{ height }}\","
	               " \"cfg\": \"{{cfg}}\", \"seed\": \"{{seed}}\", \"n\": \"{{count}}\","
	               " \"steps\": \"{{steps}}\", \"s\": \"{{sampler}}\"},"
	               " \"list\": [\"{{prompt}}\", 1, true, null],"
	               " \"keep\": {\"k\": \"literal\", \"braces\": \"{ not } {{ a b }}\"}}\n");
	expect(&p, "typed",
	       "{\"input\":{\"w\":512,\"h\":768,\"cfg\":7.0,\"seed\":42,\"n\":2,\"steps\":20,"
	       "\"s\":\"Euler a\"},\"list\":[\"a cat\",1,true,null],"
	       "\"keep\":{\"k\":\"literal\",\"braces\":\"{ not } {{ a b }}\"}}",
	       NULL);

	write_template("text", "{\"caption\": \"{{prompt}} at {{width}}x{{height}}, cfg {{cfg}}"
	                       "{{negative_prompt}}!\", \"q\": \"\\\"{{prompt}}\\\"\"}");
	free(p.prompt);
	p.prompt = strdup("a \"quoted\"\ncat");
	expect(&p, "text",
	       "{\"caption\":\"a \\\"quoted\\\"\\ncat at 512x768, cfg 7.0blurry!\","
	       "\"q\":\"\\\"a \\\"quoted\\\"\\ncat\\\"\"}",
	       NULL);

	/* unset optional: a member is removed, an array element becomes null, text empty */
	job_params_clear(&p);
	job_params_init(&p);
	p.prompt = strdup("p");
	write_template("unset",
	               "{\"a\": \"{{seed?}}\", \"b\": [\"{{width?}}\", \"{{prompt}}\"],"
	               " \"c\": \"w={{width ?}};\", \"d\": {\"e\": \"{{negative_prompt?}}\"}}");
	expect(&p, "unset", "{\"b\":[null,\"p\"],\"c\":\"w=;\",\"d\":{}}", NULL);

	/* unknown placeholders are errors that name them, wherever they are */
	write_template("unknown1", "{\"a\": \"{{sed}}\"}");
	expect(&p, "unknown1", NULL, "{{sed}}");
	write_template("unknown2", "{\"a\": {\"b\": [\"x {{Prompt}} y\"]}}");
	expect(&p, "unknown2", NULL, "{{Prompt}}");

	/* not an object / not JSON */
	write_template("arr", "[\"{{prompt}}\"]");
	expect(&p, "arr", NULL, "must be a JSON object");
	write_template("broken", "{\n  \"a\": 1,\n  \"b\": \n}\n");
	expect(&p, "broken", NULL, "broken.json:4:1: invalid JSON");
	write_template("trailing", "{\"a\": 1} x");
	expect(&p, "trailing", NULL, "invalid JSON (text after the value)");
	write_template("badutf8", "{\"a\": \"caf\xe9\"}");
	expect(&p, "badutf8", NULL, "badutf8.json:1:11: invalid JSON (not valid UTF-8)");
	write_template("surrogate", "{\"a\": \"\\ud83d\\ude00 \\u00e9\"}");
	expect(&p, "surrogate", "{\"a\":\"\xf0\x9f\x98\x80 \xc3\xa9\"}", NULL);
	write_template("lone", "{\"a\": \"\\ud83d\"}");
	expect(&p, "lone", NULL, "lone high surrogate");
	write_template("nul", "{\"a\": \"\\u0000\"}");
	expect(&p, "nul", NULL, "\\u0000 is not supported");
	write_template("lead0", "{\"a\": 01}");
	expect(&p, "lead0", NULL, "invalid JSON");

	/* a user file replaces the built-in of the same name */
	write_template("sdxl", "{\"custom\": \"{{prompt}}\"}");
	expect(&p, "sdxl", "{\"custom\":\"p\"}", NULL);
	CHECK_INT(params_template_known("typed", dir), 1);
	job_params_clear(&p);
}

static void test_extra_merge(void)
{
	static const struct {
		const char *extra;
		const char *want; /* NULL: error containing err_has */
		const char *err_has;
	} rows[] = {
	    {"{\"num_outputs\": 4, \"lora\": {\"name\": \"x\", \"w\": 0.5}}",
	     "{\"prompt\":\"a cat\",\"seed\":42,\"num_outputs\":4,"
	     "\"lora\":{\"name\":\"x\",\"w\":0.5}}",
	     NULL},
	    {"{\"seed\": null, \"gone\": null}", "{\"prompt\":\"a cat\"}", NULL},
	    {"{\"prompt\": {\"nested\": {\"drop\": null, \"keep\": 1}}}",
	     "{\"prompt\":{\"nested\":{\"keep\":1}},\"seed\":42}", NULL},
	    {"{}", "{\"prompt\":\"a cat\",\"seed\":42}", NULL},
	    {"", "{\"prompt\":\"a cat\",\"seed\":42}", NULL},
	    {"[1]", NULL, "must be a JSON object"},
	    {"42", NULL, "must be a JSON object"},
	    {"{\"a\":", NULL, "invalid JSON"},
	};
	struct job_params p;
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		job_params_init(&p);
		p.prompt = strdup("a cat");
		p.seed = 42;
		p.extra_json = strdup(rows[i].extra);
		expect(&p, "sd15", rows[i].want, rows[i].err_has);
		job_params_clear(&p);
	}
}

static void test_comfyui(void)
{
	struct job_params p;
	char path[4200];

	full(&p);
	snprintf(path, sizeof path, "%s/templates/comfyui.json", dir);
	unlink(path);
	CHECK_INT(params_template_known("comfyui", dir), 0);
	expect(&p, "comfyui", NULL, path);
	expect(&p, "comfyui", NULL, "no workflow file");
	{
		char *err = NULL;
		CHECK(params_build_input(&p, "comfyui", NULL, &err) == NULL);
		CHECK(err && strstr(err, "templates/comfyui.json"));
		free(err);
	}
	write_template(
	    "comfyui",
	    "{\n"
	    "  \"3\": {\"class_type\": \"KSampler\", \"inputs\": {\"seed\": \"{{seed}}\","
	    " \"steps\": \"{{steps}}\", \"cfg\": \"{{cfg}}\", \"sampler_name\":"
	    " \"{{sampler}}\", \"model\": [\"4\", 0]}},\n"
	    "  \"5\": {\"class_type\": \"EmptyLatentImage\", \"inputs\": {\"width\":"
	    " \"{{width}}\", \"height\": \"{{height}}\", \"batch_size\": \"{{count}}\"}},\n"
	    "  \"6\": {\"class_type\": \"CLIPTextEncode\", \"inputs\": {\"text\":"
	    " \"{{prompt}}\"}},\n"
	    "  \"7\": {\"class_type\": \"CLIPTextEncode\", \"inputs\": {\"text\":"
	    " \"{{negative_prompt}}\"}}\n"
	    "}\n");
	CHECK_INT(params_template_known("comfyui", dir), 1);
	expect(
	    &p, "comfyui",
	    "{\"workflow\":{\"3\":{\"class_type\":\"KSampler\",\"inputs\":{\"seed\":42,"
	    "\"steps\":20,\"cfg\":7.0,\"sampler_name\":\"euler_ancestral\",\"model\":[\"4\",0]}},"
	    "\"5\":{\"class_type\":\"EmptyLatentImage\",\"inputs\":{\"width\":512,\"height\":768,"
	    "\"batch_size\":2}},\"6\":{\"class_type\":\"CLIPTextEncode\",\"inputs\":{\"text\":"
	    "\"a cat\"}},\"7\":{\"class_type\":\"CLIPTextEncode\",\"inputs\":{\"text\":"
	    "\"blurry\"}}}}",
	    NULL);
	/* extra_json merges over the wrapper: into the workflow, or beside it */
	p.extra_json = strdup("{\"workflow\": {\"3\": {\"inputs\": {\"steps\": 8}}},"
	                      " \"images\": [{\"name\": \"a.png\", \"image\": \"AAAA\"}]}");
	{
		char *err = NULL, *got = params_build_input(&p, "comfyui", dir, &err);
		CHECK(got != NULL);
		CHECK(got && strstr(got, "\"steps\":8,"));
		CHECK(got && strstr(got, "\"seed\":42"));
		CHECK(got &&
		      strstr(got, "},\"images\":[{\"name\":\"a.png\",\"image\":\"AAAA\"}]}"));
		free(got);
		free(err);
	}
	job_params_clear(&p);
}

static void test_known(void)
{
	static const struct {
		const char *name;
		int known;
	} rows[] = {
	    {"sd15", 1},   {"sdxl", 1}, {"a1111", 1}, {"typed", 1},
	    {"nosuch", 0}, {"", 0},     {NULL, 0},    {"../templates/typed", 0},
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
		CHECK_INT(params_template_known(rows[i].name, dir), rows[i].known);
	CHECK_INT(params_template_known("sd15", NULL), 1);
	CHECK_INT(params_template_known("typed", NULL), 0);
}

static void test_a1111_text(void)
{
	struct job_params p;
	char *t;

	full(&p);
	t = params_a1111_text(&p, -1, 0, 0);
	CHECK_STR(t, "a cat\nNegative prompt: blurry\nSteps: 20, Sampler: Euler a, CFG scale: 7, "
	             "Seed: 42, Size: 512x768");
	free(t);
	/* the image's own seed and size win */
	p.cfg = 7.5;
	free(p.sampler);
	p.sampler = strdup("dpmpp_2m");
	t = params_a1111_text(&p, 43, 1024, 1024);
	CHECK_STR(t, "a cat\nNegative prompt: blurry\nSteps: 20, Sampler: DPM++ 2M, CFG scale: "
	             "7.5, Seed: 43, Size: 1024x1024");
	free(t);
	/* a name A1111 lacks is written as the job had it; ',' ':' are quoted */
	free(p.sampler);
	p.sampler = strdup("raw:odd, one: \"x\"");
	t = params_a1111_text(&p, 43, 8, 8);
	CHECK_STR(t, "a cat\nNegative prompt: blurry\nSteps: 20, Sampler: \"odd, one: \\\"x\\\"\", "
	             "CFG scale: 7.5, Seed: 43, Size: 8x8");
	free(t);
	job_params_clear(&p);

	/* the last line always has 3 pairs: A1111 reads fewer as prompt text */
	job_params_init(&p);
	p.prompt = strdup("just a prompt");
	t = params_a1111_text(&p, 5, 64, 32);
	CHECK_STR(t, "just a prompt\nSeed: 5, Size: 64x32, Generator: sdq");
	free(t);
	t = params_a1111_text(&p, -1, 0, 0);
	CHECK_STR(t, "just a prompt\nSeed: -1, Generator: sdq, Template: none");
	free(t);
	p.steps = 4;
	p.template_name = strdup("sdxl");
	t = params_a1111_text(&p, -1, 0, 0);
	CHECK_STR(t, "just a prompt\nSteps: 4, Seed: -1, Generator: sdq");
	free(t);
	job_params_clear(&p);
	job_params_init(&p);
	t = params_a1111_text(&p, -1, 0, 0);
	CHECK_STR(t, "\nSeed: -1, Generator: sdq, Template: none");
	free(t);
}

static void test_parse_set(void)
{
	static const struct {
		const char *arg;
		const char *want; /* extra_json after it, or NULL: error with err_has */
		const char *err_has;
	} rows[] = {
	    /* each row applies to the result of the previous one */
	    {"num_outputs=4", "{\"num_outputs\":4}", NULL},
	    {"style=vivid", "{\"num_outputs\":4,\"style\":\"vivid\"}", NULL},
	    {"flag=true", "{\"num_outputs\":4,\"style\":\"vivid\",\"flag\":true}", NULL},
	    {"num_outputs=\"4\"", "{\"num_outputs\":\"4\",\"style\":\"vivid\",\"flag\":true}",
	     NULL},
	    {"lora={\"a\":1}",
	     "{\"num_outputs\":\"4\",\"style\":\"vivid\",\"flag\":true,"
	     "\"lora\":{\"a\":1}}",
	     NULL},
	    {"lora.b=2",
	     "{\"num_outputs\":\"4\",\"style\":\"vivid\",\"flag\":true,"
	     "\"lora\":{\"a\":1,\"b\":2}}",
	     NULL},
	    {"style=null",
	     "{\"num_outputs\":\"4\",\"style\":null,\"flag\":true,"
	     "\"lora\":{\"a\":1,\"b\":2}}",
	     NULL},
	    {"empty=",
	     "{\"num_outputs\":\"4\",\"style\":null,\"flag\":true,"
	     "\"lora\":{\"a\":1,\"b\":2},\"empty\":\"\"}",
	     NULL},
	    {"eq=a=b",
	     "{\"num_outputs\":\"4\",\"style\":null,\"flag\":true,"
	     "\"lora\":{\"a\":1,\"b\":2},\"empty\":\"\",\"eq\":\"a=b\"}",
	     NULL},
	    {"noequals", NULL, "KEY=VALUE"},
	    {"=5", NULL, "KEY=VALUE"},
	    {"a..b=1", NULL, "empty key part"},
	    {"a.=1", NULL, "empty key part"},
	};
	struct job_params p;
	const char *last = NULL;

	job_params_init(&p);
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		char *err = NULL;
		int rc = params_parse_set(&p, rows[i].arg, &err);
		if (rows[i].want) {
			CHECK_INT(rc, 0);
			CHECK_STR(p.extra_json, rows[i].want);
			last = rows[i].want;
		} else {
			CHECK_INT(rc, -1);
			CHECK(err && strstr(err, rows[i].err_has));
			CHECK_STR(p.extra_json, last); /* unchanged on error */
		}
		free(err);
	}
	/* extra_json that is not an object is refused */
	free(p.extra_json);
	p.extra_json = strdup("[1]");
	{
		char *err = NULL;
		CHECK_INT(params_parse_set(&p, "a=1", &err), -1);
		CHECK(err && strstr(err, "JSON object"));
		free(err);
	}
	job_params_clear(&p);

	/* --set null removes the member from the built input */
	full(&p);
	CHECK_INT(params_parse_set(&p, "scheduler=null", NULL), 0);
	CHECK_INT(params_parse_set(&p, "nsfw=true", NULL), 0);
	expect(&p, "sd15",
	       "{\"prompt\":\"a cat\",\"negative_prompt\":\"blurry\",\"width\":512,\"height\":768,"
	       "\"num_inference_steps\":20,\"guidance_scale\":7.0,\"num_outputs\":2,\"seed\":42,"
	       "\"nsfw\":true}",
	       NULL);
	job_params_clear(&p);
}

/* Mutated templates: building never crashes (ASan watches) and either fails
 * with a message or gives JSON that parses back to an object. */
static void test_template_mutations(void)
{
	static const char base[] =
	    "{\"a\": \"{{prompt}}\", \"b\": [\"{{seed}}\", \"x {{width}} y\"],"
	    " \"c\": {\"d\": \"{{negative_prompt}}\", \"e\": 1.5}}";
	static const char junk[] = "{}[]\":,\\ nul{{}}";
	unsigned int x = 7;
	char text[sizeof base + 64];
	int ok = 0, failed = 0;
	struct job_params p;

	full(&p);
	for (int round = 0; round < 2000; round++) {
		memcpy(text, base, sizeof base);
		th_mutate(text, sizeof base - 1, sizeof text, junk, 1 + round % 3, &x);
		write_template("mut", text);
		char *err = NULL, *got = params_build_input(&p, "mut", dir, &err);
		if (got) {
			cJSON *j = cJSON_Parse(got);
			ok++;
			CHECK(err == NULL);
			CHECK(cJSON_IsObject(j));
			cJSON_Delete(j);
		} else {
			failed++;
			CHECK(err != NULL);
		}
		free(got);
		free(err);
	}
	CHECK(ok > 0 && failed > 0);
	job_params_clear(&p);
}

/* A template's own placeholders ({{style}}): filled from --set style=...
 * (the member is then not merged again), strings as text, other JSON as
 * itself (numbers exact), defaults (a number default as a number), optional
 * ones left out; a needed one without a value names it and --set. */
static void test_custom_placeholders(void)
{
	struct job_params p;
	job_params_init(&p);
	p.prompt = strdup("a cat");
	write_template("own", "{\"prompt\": \"{{prompt}}\", \"style\": \"{{style}}\","
	                      " \"lora\": {\"w\": \"{{lora_w|0.8}}\", \"name\": \"{{lora|none}}\"},"
	                      " \"tag\": \"s={{style}};k={{k?}}\", \"opt\": \"{{k?}}\"}");
	expect(&p, "own", NULL, "needs a value for {{style}}: give --set style=VALUE");
	CHECK_INT(params_parse_set(&p, "style=vivid", NULL), 0);
	expect(&p, "own",
	       "{\"prompt\":\"a cat\",\"style\":\"vivid\",\"lora\":{\"w\":0.8,\"name\":\"none\"},"
	       "\"tag\":\"s=vivid;k=\"}",
	       NULL);
	/* JSON values as themselves, numbers exact; other --set keys still merge */
	CHECK_INT(params_parse_set(&p, "lora_w=0.12345678901234567890", NULL), 0);
	CHECK_INT(params_parse_set(&p, "k={\"a\":[1,2]}", NULL), 0);
	CHECK_INT(params_parse_set(&p, "extra=9007199254740993", NULL), 0);
	expect(&p, "own",
	       "{\"prompt\":\"a cat\",\"style\":\"vivid\",\"lora\":{\"w\":0.12345678901234567890,"
	       "\"name\":\"none\"},\"tag\":\"s=vivid;k={\\\"a\\\":[1,2]}\",\"opt\":{\"a\":[1,2]},"
	       "\"extra\":9007199254740993}",
	       NULL);
	job_params_clear(&p);
}

static int has_ph(const struct params_placeholder *v, size_t n, const char *name, int custom,
                  enum params_ph_mode mode, const char *def)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return v[i].custom == custom && v[i].mode == mode &&
			       ((!def && !v[i].def) || (def && v[i].def && strcmp(def, v[i].def) == 0));
	return 0;
}

/* The placeholders a template uses, for the compose form's fields: the
 * built-ins' (all nine), a user file's own, each once in file order. */
static void test_placeholder_list(void)
{
	struct params_placeholder *v = NULL;
	size_t n = 0;
	char *err = NULL;

	CHECK_INT(params_placeholders("sdxl", NULL, &v, &n, NULL), 0);
	CHECK_INT(n, 9);
	CHECK(n && strcmp(v[0].name, "prompt") == 0 && v[0].mode == PARAMS_PH_NEEDED);
	CHECK(has_ph(v, n, "sampler", 0, PARAMS_PH_OPTIONAL, NULL));
	CHECK(has_ph(v, n, "count", 0, PARAMS_PH_OPTIONAL, NULL));
	params_placeholders_free(v, n);
	CHECK_INT(params_placeholders("a1111", NULL, &v, &n, NULL), 0);
	CHECK(has_ph(v, n, "prompt", 0, PARAMS_PH_OPTIONAL, NULL));
	params_placeholders_free(v, n);

	write_template("few", "{\"p\": \"{{ prompt }}\", \"x\": [\"{{style|oil, thick}}\","
	                      " {\"s\": \"{{seed?}} and {{style}}\"}], \"n\": \"{{n_img}}\","
	                      " \"b\": \"{{ a b }} {{}} {{w?}}\"}");
	CHECK_INT(params_placeholders("few", dir, &v, &n, NULL), 0);
	CHECK_INT(n, 5);
	if (n == 5) {
		CHECK_STR(v[0].name, "prompt");
		CHECK_STR(v[1].name, "style");
		CHECK_STR(v[2].name, "seed");
		CHECK_STR(v[3].name, "n_img");
		CHECK_STR(v[4].name, "w");
	}
	CHECK(has_ph(v, n, "prompt", 0, PARAMS_PH_NEEDED, NULL));
	CHECK(has_ph(v, n, "style", 1, PARAMS_PH_DEFAULT, "oil, thick"));
	CHECK(has_ph(v, n, "seed", 0, PARAMS_PH_OPTIONAL, NULL));
	CHECK(has_ph(v, n, "n_img", 1, PARAMS_PH_NEEDED, NULL));
	CHECK(has_ph(v, n, "w", 1, PARAMS_PH_OPTIONAL, NULL));
	params_placeholders_free(v, n);

	CHECK_INT(params_placeholders("nosuch", dir, &v, &n, &err), -1);
	CHECK(err && strstr(err, "unknown template"));
	free(err);
	err = NULL;
	write_template("notjson", "{\"a\": ");
	CHECK_INT(params_placeholders("notjson", dir, &v, &n, &err), -1);
	CHECK(err && strstr(err, "invalid JSON"));
	free(err);
	CHECK(v == NULL && n == 0);
	params_placeholders_free(NULL, 0);
}

int main(void)
{
	char t[4200];
	snprintf(dir, sizeof dir, "%s", th_tmpdir());
	snprintf(t, sizeof t, "%s/templates", dir);
	if (mkdir(t, 0700) < 0) {
		perror(t);
		return 2;
	}
	TH_RUN(test_builtins);
	TH_RUN(test_unset_left_out);
	TH_RUN(test_numbers);
	TH_RUN(test_exact_numbers);
	TH_RUN(test_defaults);
	TH_RUN(test_escaping);
	TH_RUN(test_samplers);
	TH_RUN(test_bad_names);
	TH_RUN(test_user_template);
	TH_RUN(test_extra_merge);
	TH_RUN(test_comfyui);
	TH_RUN(test_known);
	TH_RUN(test_a1111_text);
	TH_RUN(test_parse_set);
	TH_RUN(test_template_mutations);
	TH_RUN(test_custom_placeholders);
	TH_RUN(test_placeholder_list);
	if (util_remove_tree(dir) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return th_done("test_params");
}
