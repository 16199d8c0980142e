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
	/* tname NULL: the job's template, then sd15 */
	free(p.template_name);
	p.template_name = strdup("a1111");
	expect(&p, NULL, rows[2].want, NULL);
	free(p.template_name);
	p.template_name = NULL;
	expect(&p, NULL, rows[0].want, NULL);
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
	expect(&p, "sd15", "{}", NULL);
	job_params_clear(&p);
}

static void test_numbers(void)
{
	static const struct {
		double cfg;
		int64_t seed;
		const char *want;
	} rows[] = {
	    {7.5, 1, "{\"guidance_scale\":7.5,\"seed\":1}"},
	    {7, 9223372036854775807LL, "{\"guidance_scale\":7.0,\"seed\":9223372036854775807}"},
	    {0, 4294967295LL, "{\"guidance_scale\":0.0,\"seed\":4294967295}"},
	    {1e20, 5, "{\"guidance_scale\":1e+20,\"seed\":5}"},
	    {-2.25, 6, "{\"guidance_scale\":-2.25,\"seed\":6}"},
	};
	struct job_params p;
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		job_params_init(&p);
		p.cfg = rows[i].cfg;
		p.has_cfg = 1;
		p.seed = rows[i].seed;
		expect(&p, "sd15", rows[i].want, NULL);
	}
	p.cfg = NAN;
	expect(&p, "sd15", NULL, "cfg");
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
		const char *tname, *in, *want;
	} rows[] = {
	    {"sd15", "Euler a", "EULER-A"},
	    {"sd15", "euler_a", "EULER-A"},
	    {"sd15", "EULER-A", "EULER-A"},
	    {"sd15", "K_EULER_ANCESTRAL", "EULER-A"},
	    {"sd15", "euler", "EULER-D"},
	    {"sd15", "DPM++ 2M", "DPM-M"},
	    {"sd15", "lms", "K-LMS"},
	    {"sd15", "plms", "PNDM"},
	    {"sdxl", "Euler a", "K_EULER_ANCESTRAL"},
	    {"sdxl", "dpm++2m", "DPMSolverMultistep"},
	    {"sdxl", "DPM-M", "DPMSolverMultistep"},
	    {"sdxl", "heun", "heun"}, /* no such sampler there: passed on */
	    {"a1111", "euler_a", "Euler a"},
	    {"a1111", "dpmpp_2m", "DPM++ 2M"},
	    {"a1111", "uni_pc", "UniPC"},
	    {"comfyui", "Euler a", "euler_ancestral"},
	    {"comfyui", "DPM++ 2M", "dpmpp_2m"},
	    {"sd15", "My Custom", "My Custom"},
	    {"mine", "Euler a", "Euler a"}, /* user templates get the text as is */
	    {NULL, "Euler a", "Euler a"},
	    {"sd15", "", ""},
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
		CHECK_STR(params_sampler_for(rows[i].tname, rows[i].in), rows[i].want);
	CHECK(params_sampler_for("sd15", NULL) == NULL);
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

	/* unset: a member is removed, an array element becomes null, text empty */
	job_params_clear(&p);
	job_params_init(&p);
	p.prompt = strdup("p");
	write_template("unset",
	               "{\"a\": \"{{seed}}\", \"b\": [\"{{width}}\", \"{{prompt}}\"],"
	               " \"c\": \"w={{width}};\", \"d\": {\"e\": \"{{negative_prompt}}\"}}");
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
	expect(&p, "trailing", NULL, "invalid JSON");

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
	job_params_clear(&p);

	job_params_init(&p);
	p.prompt = strdup("just a prompt");
	t = params_a1111_text(&p, -1, 0, 0);
	CHECK_STR(t, "just a prompt");
	free(t);
	t = params_a1111_text(&p, 5, 64, 32);
	CHECK_STR(t, "just a prompt\nSeed: 5, Size: 64x32");
	free(t);
	p.steps = 4;
	t = params_a1111_text(&p, -1, 0, 0);
	CHECK_STR(t, "just a prompt\nSteps: 4");
	free(t);
	job_params_clear(&p);
	job_params_init(&p);
	t = params_a1111_text(&p, -1, 0, 0);
	CHECK_STR(t, "");
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
	if (util_remove_tree(dir) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	return th_done("test_params");
}
