/* test_vary: {a|b} expansion (order, escapes, literal braces, errors),
 * --vary values and ranges, --seeds, the caps, the variant and axes JSON,
 * and applying a job onto parameters (numbers exact through --set).
 * jobset (the expansion and group recording `sdq submit` and the compose
 * form share): the jobs made from base parameters, one seed for a group,
 * the render check naming the job, and the group row and each job's group
 * and variant in a real store, resumed across an api_key_cmd that is still
 * running (no network: nothing is sent, jobs stay PENDING). */
#include "th.h"
#include "th_config.h"
#include "vary.h"
#include "jobset.h"
#include "config.h"
#include "engine.h"
#include "store.h"

#include <stdint.h>
#include <stdio.h>
#include <unistd.h>

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

static void test_jobset_make(void)
{
	struct vary *v = vary_new();
	struct job_params base;
	struct jobset *s;
	char *err = NULL;

	job_params_init(&base);
	base.prompt = strdup("a {red|blue} car");
	base.negative_prompt = strdup("{blurry|dark}");
	base.steps = 20;
	CHECK_INT(vary_set_prompt(v, base.prompt, NULL), 0);
	CHECK_INT(vary_set_negative(v, base.negative_prompt, NULL), 0);
	s = jobset_new(&base, v, &err);
	CHECK(s);
	if (!s)
		goto out;
	CHECK_INT(jobset_count(s), 4);
	CHECK_STR(jobset_job(s, 0)->prompt, "a red car");
	CHECK_STR(jobset_job(s, 1)->negative_prompt, "dark");
	CHECK_STR(jobset_job(s, 3)->prompt, "a blue car");
	CHECK_INT(jobset_job(s, 3)->steps, 20);
	CHECK(jobset_job(s, 4) == NULL);
	/* no seed given: one random seed for the whole group */
	CHECK(jobset_job(s, 0)->seed >= 0);
	for (size_t i = 1; i < 4; i++)
		CHECK(jobset_job(s, i)->seed == jobset_job(s, 0)->seed);
	CHECK_STR(jobset_variant(s, 2), "{\"prompt{1}\":\"blue\",\"negative{1}\":\"blurry\"}");
	CHECK_INT(jobset_submitted(s), 0);
	CHECK(jobset_id(s, 0) == 0);
	jobset_free(s);

	/* a lone job: no variant, its seed left to the engine */
	CHECK_INT(vary_set_prompt(v, "one \\{car\\}", NULL), 0);
	CHECK_INT(vary_set_negative(v, NULL, NULL), 0);
	s = jobset_new(&base, v, NULL);
	CHECK(s);
	if (s) {
		CHECK_INT(jobset_count(s), 1);
		CHECK_STR(jobset_job(s, 0)->prompt, "one {car}");
		CHECK(jobset_variant(s, 0) == NULL);
		CHECK(jobset_job(s, 0)->seed == -1);
	}
	jobset_free(s);
	jobset_free(NULL);

	/* --seeds: the seeds vary, from the base */
	CHECK_INT(vary_set_seeds(v, 41, 3, NULL), 0);
	s = jobset_new(&base, v, NULL);
	CHECK(s);
	if (s) {
		CHECK_INT(jobset_count(s), 3);
		CHECK(jobset_job(s, 0)->seed == 41 && jobset_job(s, 2)->seed == 43);
	}
	jobset_free(s);
out:
	free(err);
	job_params_clear(&base);
	vary_free(v);
}

/* Wait (bounded) until endpoint ep's key command has answered. */
static void key_wait(struct engine *e, const char *ep)
{
	for (int i = 0; i < 600 && engine_key_pending(e, ep); i++)
		engine_step(e, 50);
}

static void test_jobset_record(void)
{
	char dir[4096], path[4300], cmd[4500], *err = NULL;
	struct config *cfg;
	struct store *st;
	struct engine *e = NULL;
	struct vary *v = vary_new();
	struct job_params base;
	struct jobset *s = NULL;

	snprintf(dir, sizeof dir, "%s", th_tmpdir());
	setenv("SDQ_TEST_KEY", "test-key-jobset", 1);
	cfg = th_config_in(dir);
	/* nothing listens there: jobs are only recorded, never sent */
	th_config_add_runpod(cfg, "emu", "http://127.0.0.1:9/v2/test", "SDQ_TEST_KEY", "sdxl");
	/* a second endpoint whose key command waits for a file */
	th_config_add_runpod(cfg, "slow", "http://127.0.0.1:9/v2/slow", "SDQ_TEST_NOKEY", "sdxl");
	snprintf(path, sizeof path, "%s/unlock", dir);
	snprintf(cmd, sizeof cmd, "while [ ! -e '%s' ]; do sleep 0.05; done; echo test-key-slow",
	         path);
	cfg->endpoints[1].api_key_cmd = strdup(cmd);
	st = store_open(cfg->db_path, &err);
	CHECK(st);
	e = st ? engine_new(cfg, st, &err) : NULL;
	CHECK(e);
	job_params_init(&base);
	if (!e)
		goto out;

	/* a sampler the template's worker lacks: the job is named, nothing recorded */
	base.prompt = strdup("a {red|blue} car");
	base.endpoint = strdup("emu");
	CHECK_INT(vary_set_prompt(v, base.prompt, NULL), 0);
	CHECK_INT(vary_add(v, "sampler=DDIM,heun", NULL), 0);
	s = jobset_new(&base, v, NULL);
	CHECK(s);
	if (s && CHECK_INT(jobset_check(s, cfg, &err), -1)) {
		CHECK(err && strstr(err, "template sdxl: ") && strstr(err, "job 2 of 4: ") &&
		      strstr(err, "heun"));
	}
	free(err);
	err = NULL;
	jobset_free(s);
	s = NULL;
	free(base.template_name);
	base.template_name = strdup("nosuch");
	vary_free(v);
	v = vary_new();
	CHECK_INT(vary_set_prompt(v, base.prompt, NULL), 0);
	s = jobset_new(&base, v, NULL);
	if (s && CHECK_INT(jobset_check(s, cfg, &err), -1))
		CHECK(err && strstr(err, "no template \"nosuch\"; templates: sd15, sdxl, a1111"));
	free(err);
	err = NULL;
	jobset_free(s);
	s = NULL;
	free(base.template_name);
	base.template_name = NULL;
	struct store_query q;
	memset(&q, 0, sizeof q);
	CHECK_INT(store_job_count(st, &q, NULL), 0);

	/* recorded: one group row, the jobs in order with group and variant */
	s = jobset_new(&base, v, NULL);
	CHECK(s);
	if (!s)
		goto out;
	CHECK_INT(jobset_check(s, cfg, NULL), 0);
	CHECK_INT(jobset_submit(s, e, 0, &err), 0);
	CHECK_INT(jobset_submitted(s), 2);
	int64_t g = jobset_group(s);
	CHECK(g > 0);
	struct store_group *gr = store_group_get(st, g, NULL);
	if (CHECK(gr)) {
		CHECK_STR(gr->prompt, "a {red|blue} car");
		CHECK_INT(gr->njobs, 2);
		CHECK_INT(gr->nhistory, 2);
		CHECK(gr->axes_json && strstr(gr->axes_json, "\"red\",\"blue\""));
	}
	store_group_free(gr);
	for (size_t i = 0; i < 2; i++) {
		struct job *j = store_job_get(st, jobset_id(s, i), NULL);
		if (!CHECK(j))
			continue;
		CHECK_STR(j->params.prompt, i ? "a blue car" : "a red car");
		CHECK(j->group_id == g);
		CHECK_STR(j->variant, i ? "{\"prompt{1}\":\"blue\"}" : "{\"prompt{1}\":\"red\"}");
		CHECK_INT(j->state, JOB_PENDING);
		job_free(j);
	}
	jobset_free(s);
	s = NULL;

	/* an api_key_cmd still running: 1, then it goes on where it stopped,
	 * with the one group row */
	free(base.endpoint);
	base.endpoint = strdup("slow");
	s = jobset_new(&base, v, NULL);
	if (!CHECK(s))
		goto out;
	CHECK_INT(jobset_submit(s, e, 0, &err), 1);
	CHECK(err && strstr(err, "key command"));
	free(err);
	err = NULL;
	CHECK_INT(jobset_submitted(s), 0);
	g = jobset_group(s);
	CHECK(g > 0);
	FILE *f = fopen(path, "w");
	if (f)
		fclose(f);
	key_wait(e, "slow");
	CHECK_INT(engine_key_pending(e, "slow"), 0);
	CHECK_INT(jobset_submit(s, e, 0, &err), 0);
	CHECK(jobset_group(s) == g);
	CHECK_INT(jobset_submitted(s), 2);
	q.group_id = g;
	CHECK_INT(store_job_count(st, &q, NULL), 2);
	struct store_group **gl = NULL;
	size_t ng = 0;
	memset(&q, 0, sizeof q);
	CHECK_INT(store_group_list(st, &q, &gl, &ng, NULL), 0);
	CHECK_INT(ng, 2);
	store_groups_free(gl, ng);
out:
	free(err);
	jobset_free(s);
	job_params_clear(&base);
	vary_free(v);
	engine_free(e);
	store_close(st);
	config_free(cfg);
}

int main(void)
{
	TH_RUN(test_matrix);
	TH_RUN(test_escapes_and_literals);
	TH_RUN(test_prompt_errors);
	TH_RUN(test_vary_values);
	TH_RUN(test_seeds_and_caps);
	TH_RUN(test_template_and_set_axes);
	TH_RUN(test_jobset_make);
	TH_RUN(test_jobset_record);
	return th_done("test_vary");
}
