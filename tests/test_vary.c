/* test_vary: {a|b} expansion (order, escapes, literal braces, errors),
 * --vary values and ranges, --seeds, the caps, the variant and axes JSON,
 * and applying a job onto parameters (numbers exact through --set). */
#include "th.h"
#include "vary.h"

#include <stdint.h>

/* The prompts of every job of v, joined by ";". */
static char *prompts(struct vary *v)
{
	static char buf[4096];
	buf[0] = '\0';
	for (size_t i = 0; i < vary_count(v); i++) {
		struct job_params p;
		job_params_init(&p);
		if (vary_apply(v, i, &p, NULL) == 0) {
			if (i)
				strcat(buf, ";");
			strncat(buf, p.prompt ? p.prompt : "(null)", sizeof buf - strlen(buf) - 1);
		}
		job_params_clear(&p);
	}
	return buf;
}

static void test_matrix(void)
{
	struct vary *v = vary_new();
	CHECK(v);
	CHECK_INT(vary_count(v), 1);
	CHECK_INT(vary_set_prompt(v, "a {red|blue} {car|bike}", NULL), 0);
	CHECK_INT(vary_count(v), 4);
	CHECK_INT(vary_naxes(v), 2);
	CHECK_STR(vary_axis_key(v, 0), "prompt{1}");
	CHECK_STR(vary_axis_key(v, 1), "prompt{2}");
	CHECK_STR(vary_axis_value(v, 1, 1), "bike");
	CHECK(vary_axis_value(v, 1, 2) == NULL);
	/* first axis slowest, last fastest */
	CHECK_STR(prompts(v), "a red car;a red bike;a blue car;a blue bike");
	CHECK_INT(vary_index(v, 2, 0), 1);
	CHECK_INT(vary_index(v, 2, 1), 0);
	/* the negative prompt's groups come after the prompt's */
	CHECK_INT(vary_set_negative(v, "{blurry|}", NULL), 0);
	CHECK_INT(vary_count(v), 8);
	CHECK_STR(vary_axis_key(v, 2), "negative{1}");
	struct job_params p;
	job_params_init(&p);
	CHECK_INT(vary_apply(v, 1, &p, NULL), 0);
	CHECK_STR(p.prompt, "a red car");
	CHECK_STR(p.negative_prompt, "");
	job_params_clear(&p);
	/* setting the prompt again replaces its groups */
	CHECK_INT(vary_set_prompt(v, "plain", NULL), 0);
	CHECK_INT(vary_count(v), 2);
	CHECK_STR(prompts(v), "plain;plain");
	vary_free(v);
	vary_free(NULL);
}

static void test_escapes_and_literals(void)
{
	struct vary *v = vary_new();
	/* \{ \| \} are literal; other backslashes stay (A1111's \( ) */
	CHECK_INT(vary_set_prompt(v, "x \\{a\\|b\\} \\(y\\) {p\\|q|r}", NULL), 0);
	CHECK_INT(vary_count(v), 2);
	CHECK_STR(prompts(v), "x {a|b} \\(y\\) p|q;x {a|b} \\(y\\) r");
	/* braces without | and a | outside braces are kept as typed */
	CHECK_INT(vary_set_prompt(v, "{masterpiece}, [cat|dog], {a|}", NULL), 0);
	CHECK_INT(vary_count(v), 2);
	CHECK_STR(prompts(v), "{masterpiece}, [cat|dog], a;{masterpiece}, [cat|dog], ");
	/* UTF-8 passes through */
	CHECK_INT(vary_set_prompt(v, "caf\xc3\xa9 {\xe2\x98\x95|\xf0\x9f\x8d\xb5}", NULL), 0);
	CHECK_STR(prompts(v), "caf\xc3\xa9 \xe2\x98\x95;caf\xc3\xa9 \xf0\x9f\x8d\xb5");
	vary_free(v);
}

static void test_prompt_errors(void)
{
	struct vary *v = vary_new();
	char *err = NULL;

	CHECK_INT(vary_set_prompt(v, "keep {a|b}", NULL), 0);
	CHECK_INT(vary_set_prompt(v, "a {b|{c|d}}", &err), -1);
	CHECK(err && strstr(err, "nested") && strstr(err, "byte 5") && strstr(err, "\\{"));
	free(err), err = NULL;
	CHECK_INT(vary_count(v), 2); /* unchanged on error */
	CHECK_INT(vary_set_prompt(v, "a {b|c", &err), -1);
	CHECK(err && strstr(err, "never closed") && strstr(err, "byte 2"));
	free(err), err = NULL;
	CHECK_INT(vary_set_prompt(v, "a } b", &err), -1);
	CHECK(err && strstr(err, "closes no group") && strstr(err, "byte 2"));
	free(err), err = NULL;
	CHECK_INT(vary_set_negative(v, "{x|{y}}", &err), -1);
	CHECK(err && strstr(err, "negative prompt"));
	free(err), err = NULL;
	CHECK_INT(vary_prompt_count("{a|b|c} {d|e}", "{f|g}", NULL), 12);
	CHECK_INT(vary_prompt_count("no groups", NULL, NULL), 1);
	CHECK_INT(vary_prompt_count("{a|b", NULL, &err), 0);
	CHECK(err != NULL);
	free(err), err = NULL;
	vary_free(v);
}

static void test_vary_values(void)
{
	struct vary *v = vary_new();
	char *err = NULL, *s;

	CHECK_INT(vary_add(v, "steps=20-40:10", NULL), 0);
	CHECK_INT(vary_axis_len(v, 0), 3);
	CHECK_STR(vary_axis_value(v, 0, 2), "40");
	CHECK_INT(vary_add(v, "cfg=5-6:0.5", NULL), 0);
	CHECK_STR(vary_axis_value(v, 1, 0), "5");
	CHECK_STR(vary_axis_value(v, 1, 1), "5.5");
	CHECK_STR(vary_axis_value(v, 1, 2), "6");
	CHECK_INT(vary_add(v, "sampler=Euler a,DPM++ 2M", NULL), 0);
	{ /* a range among other values; a range is checked like any value */
		struct vary *w = vary_new();
		CHECK_INT(vary_add(w, "width=64,128-256:64,1024", NULL), 0);
		CHECK_INT(vary_axis_len(w, 0), 5);
		CHECK_STR(vary_axis_value(w, 0, 3), "256");
		CHECK_INT(vary_add(w, "steps=0-20:10", &err), -1);
		CHECK(err && strstr(err, "\"0\""));
		free(err), err = NULL;
		CHECK_INT(vary_add(w, "sampler=1-2:1", NULL), 0); /* a name, not a range */
		CHECK_STR(vary_axis_value(w, 1, 0), "1-2:1");
		vary_free(w);
	}
	CHECK_INT(vary_add(v, "style=vivid\\, bright,9007199254740993", NULL), 0);
	CHECK_STR(vary_axis_value(v, 3, 0), "vivid, bright");
	CHECK_INT(vary_count(v), 3 * 3 * 2 * 2);
	/* job 0: steps 20, cfg 5, Euler a, style "vivid, bright" */
	struct job_params p;
	job_params_init(&p);
	CHECK_INT(vary_apply(v, 0, &p, NULL), 0);
	CHECK_INT(p.steps, 20);
	CHECK(p.has_cfg && p.cfg == 5.0);
	CHECK_STR(p.sampler, "Euler a");
	CHECK_STR(p.extra_json, "{\"style\":\"vivid, bright\"}");
	job_params_clear(&p);
	job_params_init(&p);
	CHECK_INT(vary_apply(v, vary_count(v) - 1, &p, NULL), 0);
	CHECK_INT(p.steps, 40);
	CHECK(p.cfg == 6.0);
	CHECK_STR(p.sampler, "DPM++ 2M");
	CHECK_STR(p.extra_json, "{\"style\":9007199254740993}"); /* exact */
	job_params_clear(&p);
	s = vary_variant_json(v, vary_count(v) - 1);
	CHECK_STR(s, "{\"steps\":40,\"cfg\":6,\"sampler\":\"DPM++ 2M\",\"style\":9007199254740993}");
	free(s);
	s = vary_axes_json(v);
	CHECK(s && strstr(s, "{\"key\":\"steps\",\"values\":[20,30,40]}") &&
	      strstr(s, "{\"key\":\"cfg\",\"values\":[5,5.5,6]}") &&
	      strstr(s, "\"values\":[\"vivid, bright\",9007199254740993]"));
	free(s);

	/* errors */
	const char *bad[] = {"steps", "=1", "steps=", "steps=0", "steps=10001", "steps=20,,30",
	                     "cfg=101", "cfg=nan", "width=7", "height=abc", "count=101",
	                     "seed=-1", "template=../x", "prompt=a,b", "negative=a",
	                     "steps=3", /* twice */ "width=40-20:10", "width=8-16:0",
	                     "x=1-100000:1", "wid\x01th=8"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		size_t before = vary_count(v);
		err = NULL;
		if (!CHECK(vary_add(v, bad[i], &err) == -1 && err))
			fprintf(stderr, "    accepted: %s\n", bad[i]);
		CHECK_INT(vary_count(v), before);
		free(err);
	}
	err = NULL;
	CHECK_INT(vary_add(v, "k=\xff", &err), -1);
	CHECK(err && strstr(err, "UTF-8"));
	free(err);
	vary_free(v);
}

static void test_seeds_and_caps(void)
{
	struct vary *v = vary_new();
	char *err = NULL, *s;

	CHECK_INT(vary_set_prompt(v, "{a|b}", NULL), 0);
	CHECK_INT(vary_set_seeds(v, 9007199254740991LL, 3, NULL), 0);
	CHECK_INT(vary_add(v, "steps=10,20", NULL), 0); /* goes before the seeds */
	CHECK_INT(vary_count(v), 12);
	CHECK_STR(vary_axis_key(v, 1), "steps");
	CHECK_STR(vary_axis_key(v, 2), "seed");
	struct job_params p;
	job_params_init(&p);
	CHECK_INT(vary_apply(v, 5, &p, NULL), 0); /* a, steps 20, seed base+2 */
	CHECK_STR(p.prompt, "a");
	CHECK_INT(p.steps, 20);
	CHECK(p.seed == 9007199254740993LL);
	job_params_clear(&p);
	s = vary_variant_json(v, 5);
	CHECK_STR(s, "{\"prompt{1}\":\"a\",\"steps\":20,\"seed\":9007199254740993}");
	free(s);
	CHECK_INT(vary_set_seeds(v, 1, 2, &err), -1); /* seed varies already */
	free(err), err = NULL;
	CHECK_INT(vary_add(v, "seed=1,2", &err), -1);
	free(err), err = NULL;
	vary_free(v);

	v = vary_new();
	CHECK_INT(vary_set_seeds(v, INT64_MAX - 1, 5, &err), -1);
	free(err), err = NULL;
	CHECK_INT(vary_set_seeds(v, 0, 0, &err), -1);
	free(err), err = NULL;
	/* the hard cap: 10000 is fine, one more axis of 2 is not */
	CHECK_INT(vary_add(v, "steps=1-100:1", NULL), 0);
	CHECK_INT(vary_add(v, "x=1-100:1", NULL), 0);
	CHECK_INT(vary_count(v), VARY_MAX_JOBS);
	CHECK_INT(vary_add(v, "y=1,2", &err), -1);
	CHECK(err && strstr(err, "10000"));
	free(err), err = NULL;
	CHECK_INT(vary_set_prompt(v, "{a|b}", &err), -1);
	free(err), err = NULL;
	CHECK_INT(vary_set_seeds(v, 1, 2, &err), -1);
	free(err), err = NULL;
	CHECK_INT(vary_count(v), VARY_MAX_JOBS);
	vary_free(v);

	/* with no axis: one job, "{}" */
	v = vary_new();
	s = vary_variant_json(v, 0);
	CHECK_STR(s, "{}");
	free(s);
	s = vary_axes_json(v);
	CHECK_STR(s, "[]");
	free(s);
	vary_free(v);
}

static void test_template_and_set_axes(void)
{
	struct vary *v = vary_new();
	struct job_params p;

	CHECK_INT(vary_add(v, "template=sdxl,sd15", NULL), 0);
	CHECK_INT(vary_add(v, "lora.weight=0.5-1:0.25", NULL), 0);
	CHECK_INT(vary_count(v), 6);
	job_params_init(&p);
	CHECK_INT(vary_apply(v, 5, &p, NULL), 0);
	CHECK_STR(p.template_name, "sd15");
	CHECK_STR(p.extra_json, "{\"lora\":{\"weight\":1}}");
	job_params_clear(&p);
	vary_free(v);
}

int main(void)
{
	TH_RUN(test_matrix);
	TH_RUN(test_escapes_and_literals);
	TH_RUN(test_prompt_errors);
	TH_RUN(test_vary_values);
	TH_RUN(test_seeds_and_caps);
	TH_RUN(test_template_and_set_axes);
	return th_done("test_vary");
}
