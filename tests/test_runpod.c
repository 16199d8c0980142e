/*
 * test_runpod.c: the RunPod backend driven by the engine against
 * tests/emulator.py on 127.0.0.1: full lifecycles with saved images for
 * several worker shapes, FAILED / TIMED_OUT / cancel / retry, 429s with
 * Retry-After, broken status replies retried, a /run of unknown outcome
 * (UNKNOWN, sent exactly once), a refused API key (never shown), expiry,
 * COMPLETED without an image, progress parsing, resuming a job from the store
 * in a new engine, and SUBMITTING found at start; a job whose endpoint name
 * the driver's config lacks (driven through its URL), cancel and forget while
 * requests and a save retry are pending (nothing fires afterwards), /runsync
 * (answered, polled, unknown), and the webhook/policy members of the /run body
 * (through a one-off recorder server) and policy.ttl. Every loop has a deadline.
 */
#include <cjson/cJSON.h>
#include <sys/stat.h>
#include "backend.h"
#include "engine.h"
#include "http.h"
#include "keyfp.h"
#include "runpod.h"
#include "params.h"
#include "th.h"
#include "th_net.h"
#include "util.h"
#include "th_config.h"

static struct emu em;
static char dir[4096];
static struct config *cfg;
static struct store *st;

/* ---- config and engine ---- */

static struct config *make_config(void)
{
	struct config *c = th_config_in(dir);
	th_config_add_runpod(c, "emu", em.base, "SDQ_TEST_KEY", "sdxl");
	th_config_add_runpod(c, "bad", em.base, "SDQ_TEST_BADKEY", "sd15");
	return c;
}

/* what the callback heard */
static char messages[8192];
static int saw_rate_limited;
static double max_progress, min_progress;
static char progress_text[128];
static int64_t watch_id;

static void on_event(struct engine *e, const struct engine_event *ev, void *udata)
{
	(void)udata;
	if (ev->type == ENGINE_EV_MESSAGE && ev->message) {
		size_t n = strlen(messages);
		snprintf(messages + n, sizeof messages - n, "%s\n", ev->message);
	}
	if (ev->type == ENGINE_EV_HEALTH && ev->endpoint) {
		const struct engine_health *h = engine_health(e, ev->endpoint);
		if (h && h->rate_limited)
			saw_rate_limited = 1;
	}
	if (ev->type == ENGINE_EV_JOB && ev->job_id == watch_id) {
		const struct job *j = engine_job(e, ev->job_id);
		if (j && j->state == JOB_IN_PROGRESS && j->progress >= 0) {
			if (j->progress > max_progress)
				max_progress = j->progress;
			if (min_progress < 0 || j->progress < min_progress)
				min_progress = j->progress;
			if (j->progress_text)
				snprintf(progress_text, sizeof progress_text, "%s",
				         j->progress_text);
		}
	}
}

static struct engine *start_engine(void)
{
	struct engine *e = th_engine_new(cfg, st, on_event, NULL);
	messages[0] = '\0';
	saw_rate_limited = 0;
	th_engine_drive(e);
	return e;
}

/* Nothing armed and nothing in flight: e can do nothing more by itself. */
static int nothing_pending(struct engine *e)
{
	return engine_timer_count(e) == 0 && http_active(engine_http(e)) == 0;
}

/* Step e until job id is terminal (or in state `until` if >= 0), at most
 * secs seconds. Returns the store's copy (caller frees) or NULL. */
static struct job *wait_job(struct engine *e, int64_t id, int until, int secs)
{
	return th_wait_job(e, st, id, until, secs);
}

/* ---- emulator stats ---- */

/* A number from the emulator's stats of remote job rid (-1 if absent). */
static long job_stat(const char *rid, const char *field)
{
	cJSON *s = emu_get(&em, "/_emu/stats", NULL);
	const cJSON *v = cJSON_GetObjectItem(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(s, "jobs"), rid ? rid : ""), field);
	long n = cJSON_IsNumber(v) ? (long)v->valuedouble : -1;
	cJSON_Delete(s);
	return n;
}

static long runs_for_prompt(const char *prompt)
{
	cJSON *s = emu_get(&em, "/_emu/stats", NULL);
	const cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(s, "runs_by_prompt"), prompt);
	long n = cJSON_IsNumber(v) ? (long)v->valuedouble : 0;
	cJSON_Delete(s);
	return n;
}

static int file_size_ok(const char *path)
{
	struct stat sb;
	return path && stat(path, &sb) == 0 && sb.st_size > 0;
}

/* ---- tests ---- */

static void test_progress_table(void)
{
	static const struct {
		const char *json;
		double frac; /* -1: unknown */
		const char *text;
	} cases[] = {
	    {"\"4/10\"", 0.4, "4/10"},
	    {"\"40%\"", 0.4, "40%"},
	    {"\"step 4 of 10\"", 0.4, "step 4 of 10"},
	    {"\"sampling 5/20 1.2s/it\"", 0.25, "sampling 5/20 1.2s/it"},
	    {"0.25", 0.25, "25%"},
	    {"{\"progress\":0.4}", 0.4, "40%"},
	    {"{\"progress\":40}", 0.4, "40%"},
	    {"{\"progress\":\"4/10\"}", 0.4, "4/10"},
	    {"{\"step\":4,\"total\":10}", 0.4, "4/10"},
	    {"{\"percent\":40,\"message\":\"denoising\"}", 0.4, "denoising"},
	    {"\"loading the model\"", -1, "loading the model"},
	    {"\"1e999/1e999\"", -1, "1e999/1e999"},
	    {"{\"step\":1e999,\"total\":1e999}", -1, NULL},
	    {"{\"step\":-3,\"total\":10}", -1, NULL},
	    {"null", -1, ""},
	    {"{\"unrelated\":true}", -1, ""},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		double f = 99;
		char text[64];
		CHECK_INT(runpod_progress_parse(cases[i].json, strlen(cases[i].json), &f, text,
		                                sizeof text),
		          0);
		if (!CHECK(f > cases[i].frac - 1e-9 && f < cases[i].frac + 1e-9))
			fprintf(stderr, "  %s: %g\n", cases[i].json, f);
		if (cases[i].text)
			CHECK_STR(text, cases[i].text);
	}
	{
		double f = 0;
		char text[8];
		CHECK_INT(runpod_progress_parse("{", 1, &f, text, sizeof text), -1);
		CHECK(f == -1);
	}
}

static void lifecycle(const char *shape, int count, const char *fmt)
{
	struct engine *e = start_engine();
	char prompt[256];
	int64_t id;
	struct job *j;

	snprintf(prompt, sizeof prompt, "a lighthouse [[shape=%s count=%d]]", shape, count);
	id = th_submit(e, "emu", prompt, count);
	CHECK(id > 0);
	j = wait_job(e, id, -1, 30);
	CHECK(j != NULL);
	if (j) {
		CHECK_STR(job_state_name(j->state), "COMPLETED");
		CHECK_INT(j->n_outputs, count);
		for (size_t i = 0; i < j->n_outputs; i++) {
			CHECK(file_size_ok(j->outputs[i].path));
			CHECK_STR(j->outputs[i].format, fmt);
		}
		CHECK(j->remote_id != NULL);
		CHECK(j->finished_at > 0 && j->submitted_at > 0);
		CHECK(j->exec_ms >= 0);
		if (j->state != JOB_COMPLETED)
			fprintf(stderr, "  %s: %s / %s\n", shape, j->error ? j->error : "",
			        messages);
		CHECK_INT(runs_for_prompt(prompt), 1);
	}
	job_free(j);
	engine_free(e);
}

static void test_shapes(void)
{
	lifecycle("sdxl", 2, "png");
	lifecycle("sd15", 1, "png");
	lifecycle("a1111", 1, "png");
	lifecycle("comfyui", 1, "png");
	lifecycle("url", 1, "png");
	lifecycle("jpeg", 1, "jpeg");
}

static void test_failed(void)
{
	struct engine *e = start_engine();
	int64_t a = th_submit(e, "emu", "boom [[fail=\"out of memory here\" run=0.2]]", 1);
	int64_t b = th_submit(e, "emu", "boom json [[fail=json run=0.2]]", 1);
	struct job *j;

	j = wait_job(e, a, -1, 30);
	CHECK(j && j->state == JOB_FAILED);
	CHECK(j && j->error && strstr(j->error, "out of memory here"));
	job_free(j);
	j = wait_job(e, b, -1, 30);
	CHECK(j && j->state == JOB_FAILED);
	/* runpod-python's JSON-string error: its message first, then the type and
	 * the whole traceback */
	CHECK(j && j->error &&
	      strncmp(j->error, "Expected all tensors to be on the same device (RuntimeError)\n",
	              61) == 0 &&
	      strstr(j->error, "Traceback (most recent call last):"));
	job_free(j);
	engine_free(e);
}

static void test_timed_out(void)
{
	struct engine *e = start_engine();
	int64_t id = th_submit(e, "emu", "slowpoke [[timeout run=0.2]]", 1);
	struct job *j = wait_job(e, id, -1, 30);
	CHECK(j && j->state == JOB_TIMED_OUT);
	CHECK(j && j->error && j->error[0]);
	job_free(j);
	engine_free(e);
}

static void test_cancel(void)
{
	struct engine *e = start_engine();
	int64_t id = th_submit(e, "emu", "never mind [[queue=60]]", 1);
	struct job *j = wait_job(e, id, JOB_IN_QUEUE, 30);
	char *err = NULL;
	int64_t pend;

	CHECK(j && j->state == JOB_IN_QUEUE);
	job_free(j);
	CHECK_INT(engine_cancel(e, id, &err), 0);
	free(err);
	err = NULL;
	j = wait_job(e, id, -1, 30);
	CHECK(j && j->state == JOB_CANCELLED);
	CHECK(j && job_stat(j->remote_id, "cancel_count") == 1);
	job_free(j);
	CHECK_INT(engine_cancel(e, id, &err), -1); /* already CANCELLED */
	CHECK(err && strstr(err, "CANCELLED"));
	free(err);
	/* nothing of the job is left behind: no timer, no request (a poll timer
	 * left behind would fire within 12 s; an engine with neither has nothing
	 * left to run, so the wait ends there) */
	for (int64_t end = util_now_ms() + 12000; util_now_ms() < end && !nothing_pending(e);)
		engine_step(e, 500);
	engine_free(e);

	/* a PENDING job of a viewer (no driver anywhere) is cancelled at once
	 * and never sent */
	e = engine_new(cfg, st, NULL);
	pend = th_submit(e, "emu", "cancelled before sending [[queue=1]]", 1);
	CHECK_INT(engine_cancel(e, pend, NULL), 0);
	j = store_job_get(st, pend, NULL);
	CHECK(j && j->state == JOB_CANCELLED);
	job_free(j);
	engine_free(e);
	CHECK_INT(runs_for_prompt("cancelled before sending [[queue=1]]"), 0);
}

/* Cancels at every moment of a job's life (before sending, while sending,
 * queued, between polls), then a quiet while: under ASan this shows any
 * timer or request left pointing at a finished job. */
static void test_cancel_storm(void)
{
	struct engine *e = start_engine();
	int64_t ids[24];
	char prompt[64];
	int cancelled = 0;

	for (int i = 0; i < 24; i++) {
		snprintf(prompt, sizeof prompt, "storm %d [[queue=60]]", i);
		ids[i] = th_submit(e, "emu", prompt, 1);
		if (i % 3 == 0)
			engine_cancel(e, ids[i], NULL);
		engine_step(e, i * 13 % 90);
	}
	for (int i = 0; i < 24; i++) {
		if (i % 3 != 0)
			engine_cancel(e, ids[i], NULL);
		engine_step(e, i * 37 % 200);
	}
	for (int64_t end = util_now_ms() + 12000; util_now_ms() < end && !nothing_pending(e);)
		engine_step(e, 500);
	for (int i = 0; i < 24; i++) {
		struct job *j = store_job_get(st, ids[i], NULL);
		cancelled += j && j->state == JOB_CANCELLED;
		job_free(j);
	}
	CHECK_INT(cancelled, 24);
	engine_free(e);
}

/* Another process (a viewer on its own store connection) cancels a job the
 * driver follows: only the request flag is written; the driver carries it
 * out and the flag is cleared. */
static void test_cancel_by_viewer(void)
{
	struct engine *e = start_engine();
	struct store *st2 = store_open(cfg->db_path, NULL);
	struct engine *v = engine_new(cfg, st2, NULL);
	int64_t id = th_submit(e, "emu", "a viewer cancels me [[queue=60]]", 1);
	struct job *j = wait_job(e, id, JOB_IN_QUEUE, 30);

	CHECK(j && j->state == JOB_IN_QUEUE);
	job_free(j);
	CHECK(!engine_is_driver(v));
	CHECK_INT(engine_cancel(v, id, NULL), 0);
	j = store_job_get(st2, id, NULL);
	CHECK(j && j->state == JOB_IN_QUEUE && j->cancel_requested);
	job_free(j);
	j = wait_job(e, id, -1, 30);
	CHECK(j && j->state == JOB_CANCELLED);
	CHECK(j && !j->cancel_requested);
	CHECK(j && job_stat(j->remote_id, "cancel_count") == 1);
	job_free(j);
	engine_free(v);
	store_close(st2);
	engine_free(e);
}

static void test_retry(void)
{
	struct engine *e = start_engine();
	int64_t id = th_submit(e, "emu", "second time lucky [[fail=flaky run=0.2]]", 1);
	struct job *j = wait_job(e, id, -1, 30);
	char *rid = NULL, *err = NULL;

	CHECK(j && j->state == JOB_FAILED);
	if (j)
		rid = j->remote_id ? strdup(j->remote_id) : NULL;
	job_free(j);
	CHECK_INT(engine_retry(e, id, &err), 0);
	free(err);
	j = wait_job(e, id, JOB_COMPLETED, 30);
	CHECK(j && j->state == JOB_COMPLETED);
	CHECK(j && j->n_outputs == 1 && !j->error);
	CHECK(j && rid && j->remote_id && strcmp(j->remote_id, rid) == 0);
	CHECK_INT(job_stat(rid, "retries"), 1);
	CHECK_INT(runs_for_prompt("second time lucky [[fail=flaky run=0.2]]"), 1);
	job_free(j);
	free(rid);
	engine_free(e);
}

static void test_retry_requested_by_viewer(void)
{
	struct engine *e = start_engine();
	struct engine *v;
	struct store *st2;
	int64_t id = th_submit(e, "emu", "retry via the store [[fail=flaky run=0.2]]", 1);
	struct job *j = wait_job(e, id, -1, 30);

	CHECK(j && j->state == JOB_FAILED);
	job_free(j);
	/* another process (a second store connection) asks for a retry */
	st2 = store_open(cfg->db_path, NULL);
	v = engine_new(cfg, st2, NULL);
	CHECK_INT(engine_retry(v, id, NULL), 0);
	j = wait_job(e, id, JOB_COMPLETED, 30);
	CHECK(j && j->state == JOB_COMPLETED);
	CHECK(j && !j->retry_requested);
	job_free(j);
	engine_free(v);
	store_close(st2);
	engine_free(e);
}

static void test_429(void)
{
	struct engine *e = start_engine();
	int64_t t0 = util_now_ms(), id;
	struct job *j;

	id = th_submit(e, "emu", "busy [[http429=2 queue=0 run=0.2]]", 1);
	j = wait_job(e, id, -1, 30);
	CHECK(j && j->state == JOB_COMPLETED);
	CHECK(saw_rate_limited);
	/* two answers with Retry-After: 1 -> at least ~2 s (a lower bound only) */
	CHECK(util_now_ms() - t0 >= 1900);
	CHECK(j && job_stat(j->remote_id, "status_polls") >= 3);
	job_free(j);

	/* a /run refused with 429 is sent again (nothing was created) */
	id = th_submit(e, "emu", "busy run [[run429=1 run=0.2]]", 1);
	j = wait_job(e, id, -1, 30);
	CHECK(j && j->state == JOB_COMPLETED);
	CHECK_INT(runs_for_prompt("busy run [[run429=1 run=0.2]]"), 2);
	job_free(j);
	engine_free(e);
}

static void test_broken_status_replies(void)
{
	struct engine *e = start_engine();
	int64_t a = th_submit(e, "emu", "flaky server [[http500=2 reset=1 run=0.2]]", 1);
	int64_t b = th_submit(e, "emu", "truncated [[truncated run=0.2]]", 1);
	int64_t c = th_submit(e, "emu", "not json [[nonjson run=0.2]]", 1);
	int64_t d = th_submit(e, "emu", "cut short [[cut run=0.2]]", 1);
	int64_t ids[4] = {a, b, c, d};

	for (int i = 0; i < 4; i++) {
		struct job *j = wait_job(e, ids[i], -1, 60);
		CHECK(j && j->state == JOB_COMPLETED);
		CHECK(j && j->n_outputs == 1);
		if (j && j->state != JOB_COMPLETED)
			fprintf(stderr, "  job %d: %s %s\n", i, job_state_name(j->state),
			        j->error ? j->error : "");
		/* the faults were served: 2 x 500 and a reset before any answer */
		if (i == 0)
			CHECK(j && job_stat(j->remote_id, "status_polls") >= 4);
		job_free(j);
	}
	engine_free(e);
}

static void test_run_unknown(void)
{
	struct engine *e = start_engine();
	const char *p1 = "dropped [[rundrop=1 run=0.2]]", *p2 = "server error [[run500=1]]";
	int64_t a = th_submit(e, "emu", p1, 1), b = th_submit(e, "emu", p2, 1);
	struct job *j;

	j = wait_job(e, a, -1, 30);
	CHECK(j && j->state == JOB_UNKNOWN);
	CHECK(j && j->error && strstr(j->error, "not sent again"));
	job_free(j);
	j = wait_job(e, b, -1, 30);
	CHECK(j && j->state == JOB_UNKNOWN);
	job_free(j);
	/* a while later: still sent exactly once */
	for (int i = 0; i < 10; i++)
		engine_step(e, 100);
	CHECK_INT(runs_for_prompt(p1), 1);
	CHECK_INT(runs_for_prompt(p2), 1);
	engine_free(e);
}

static void test_bad_key(void)
{
	struct engine *e = start_engine();
	int64_t id = th_submit(e, "bad", "who am i", 1);
	struct job *j = wait_job(e, id, -1, 30);
	char *err = NULL;

	CHECK(j && j->state == JOB_SUBMIT_FAILED);
	CHECK(j && j->error && strstr(j->error, "HTTP 401") && strstr(j->error, "RUNPOD_API_KEY"));
	CHECK(j && j->error && !strstr(j->error, "wrong-key-999"));
	CHECK(!strstr(messages, "wrong-key-999"));
	job_free(j);
	/* health says so too */
	CHECK_INT(engine_health_refresh(e, "bad", &err), 0);
	free(err);
	for (int i = 0; i < 50; i++) {
		const struct engine_health *h = engine_health(e, "bad");
		if (h && h->auth_failed)
			break;
		engine_step(e, 100);
	}
	CHECK(engine_health(e, "bad") && engine_health(e, "bad")->auth_failed);
	CHECK(engine_health(e, "bad")->error &&
	      !strstr(engine_health(e, "bad")->error, "wrong-key-999"));
	engine_free(e);
}

static void test_health(void)
{
	struct engine *e = start_engine();
	const struct engine_health *h = NULL;
	CHECK_INT(engine_health_refresh(e, "emu", NULL), 0);
	for (int i = 0; i < 50; i++) {
		h = engine_health(e, "emu");
		if (h && h->valid)
			break;
		engine_step(e, 100);
	}
	CHECK(h && h->valid && h->reachable && !h->auth_failed);
	CHECK(h && h->workers_idle + h->workers_running >= 0);
	CHECK(h && h->jobs_completed >= 0);
	engine_free(e);

	/* automatic refreshes: /health keeps being asked for */
	{
		cJSON *s0 = emu_get(&em, "/_emu/stats", NULL), *s1;
		const cJSON *n0 = cJSON_GetObjectItem(cJSON_GetObjectItem(s0, "ops"), "health");
		long before = cJSON_IsNumber(n0) ? (long)n0->valuedouble : -1, after = before;
		e = start_engine();
		engine_health_auto(e, 200);
		for (int64_t end = util_now_ms() + 10000;
		     after < before + 3 && util_now_ms() < end;) {
			engine_step(e, 100);
			s1 = emu_get(&em, "/_emu/stats", NULL);
			n0 = cJSON_GetObjectItem(cJSON_GetObjectItem(s1, "ops"), "health");
			after = cJSON_IsNumber(n0) ? (long)n0->valuedouble : -1;
			cJSON_Delete(s1);
		}
		CHECK(after >= before + 3);
		engine_health_auto(e, 0);
		cJSON_Delete(s0);
		engine_free(e);
	}
}

static void test_expired(void)
{
	struct engine *e = start_engine();
	/* gone the moment it finishes: the next poll gets a 404 */
	int64_t id = th_submit(e, "emu", "ephemeral [[expire=0 run=0.1 queue=0]]", 1);
	struct job *j = wait_job(e, id, -1, 30);
	CHECK(j && j->state == JOB_EXPIRED);
	CHECK(j && j->error && strstr(j->error, "404"));
	job_free(j);
	engine_free(e);
}

/* An image bigger than the 64 MiB cap is not saved; the job says why. */
static void test_huge_image(void)
{
	struct engine *e = start_engine();
	int64_t id = th_submit(e, "emu", "enormous [[shape=huge huge=70 run=0.2]]", 1);
	struct job *j = wait_job(e, id, -1, 120);
	CHECK(j && j->state == JOB_FAILED);
	CHECK(j && j->n_outputs == 0);
	CHECK(j && j->error && j->error[0]);
	job_free(j);
	engine_free(e);
}

static void test_no_image(void)
{
	struct engine *e = start_engine();
	int64_t a = th_submit(e, "emu", "nothing [[shape=noimage run=0.2]]", 1);
	int64_t b = th_submit(e, "emu", "nothing at all [[shape=nooutput run=0.2]]", 1);
	int64_t c = th_submit(e, "emu", "old comfy error [[shape=comfy_old_error run=0.2]]", 1);
	struct job *j;

	j = wait_job(e, a, -1, 30);
	CHECK(j && j->state == JOB_FAILED);
	CHECK(j && j->error && strstr(j->error, "completed without an image"));
	CHECK(j && j->raw_output && j->raw_output[0]);
	CHECK(j && j->n_outputs == 0);
	job_free(j);
	j = wait_job(e, b, -1, 30);
	CHECK(j && j->state == JOB_FAILED);
	CHECK(j && j->error && strstr(j->error, "without an image"));
	job_free(j);
	j = wait_job(e, c, -1, 30);
	CHECK(j && j->state == JOB_FAILED);
	CHECK(j && j->error && j->error[0]);
	job_free(j);
	engine_free(e);
}

static void progress_case(const char *kind)
{
	struct engine *e = start_engine();
	char prompt[128];
	struct job *j;

	snprintf(prompt, sizeof prompt, "slowly [[run=4 steps=8 progress=%s queue=0]]", kind);
	/* progress is followed closely only while someone watches (long-poll) */
	engine_set_watching(e, 1);
	max_progress = -1;
	min_progress = -1;
	progress_text[0] = '\0';
	watch_id = th_submit(e, "emu", prompt, 1);
	j = wait_job(e, watch_id, -1, 40);
	CHECK(j && j->state == JOB_COMPLETED);
	CHECK(max_progress > 0 && max_progress <= 1);
	CHECK(min_progress >= 0 && min_progress < 1);
	CHECK(progress_text[0] != '\0');
	if (!(max_progress > 0))
		fprintf(stderr, "  progress=%s: none seen\n", kind);
	job_free(j);
	watch_id = 0;
	engine_free(e);
}

static void test_progress(void)
{
	progress_case("str");
	progress_case("dict");
	progress_case("step");
	progress_case("dictstr");
}

static void test_resume(void)
{
	struct engine *e = start_engine();
	const char *prompt = "survives a restart [[queue=3 run=0.2]]";
	int64_t id = th_submit(e, "emu", prompt, 1);
	struct job *j = wait_job(e, id, JOB_IN_QUEUE, 30);

	CHECK(j && j->state == JOB_IN_QUEUE);
	job_free(j);
	engine_free(e); /* the job stays IN_QUEUE in the store */
	j = store_job_get(st, id, NULL);
	CHECK(j && j->state == JOB_IN_QUEUE);
	job_free(j);

	e = start_engine();
	j = wait_job(e, id, -1, 30);
	CHECK(j && j->state == JOB_COMPLETED);
	CHECK(j && j->n_outputs == 1);
	CHECK_INT(runs_for_prompt(prompt), 1);
	job_free(j);
	engine_free(e);
}

/* The engine is freed right after a submit went out: the submit is allowed
 * to finish, so the job is IN_QUEUE with its remote id (not UNKNOWN for the
 * next driver), and a new driver completes it. */
/* A job is PENDING until its /run is about to leave (http.h before_send):
 * an engine freed before that leaves it PENDING, nothing reached the
 * endpoint, and the next driver sends it once. */
static void test_free_before_sent(void)
{
	struct engine *e = start_engine();
	const char *prompt = "quit before the run left [[queue=0.5 run=0.2]]";
	int64_t id = th_submit(e, "emu", prompt, 1);
	struct job *j = store_job_get(st, id, NULL);

	CHECK(j && j->state == JOB_PENDING);
	job_free(j);
	engine_free(e);
	j = store_job_get(st, id, NULL);
	CHECK(j && j->state == JOB_PENDING && !j->remote_id);
	job_free(j);
	CHECK_INT(runs_for_prompt(prompt), 0);
	e = start_engine();
	j = wait_job(e, id, -1, 30);
	CHECK(j && j->state == JOB_COMPLETED);
	CHECK_INT(runs_for_prompt(prompt), 1);
	job_free(j);
	engine_free(e);
}

/* Once SUBMITTING is committed (the request is leaving), freeing the engine
 * lets the submit finish: the job keeps its remote id, is not sent again. */
static void test_free_while_submitting(void)
{
	struct engine *e = start_engine();
	const char *prompt = "quit right after submit [[queue=0.5 run=0.2]]";
	int64_t id = th_submit(e, "emu", prompt, 1);
	int64_t deadline = util_now_ms() + 30000;
	struct job *j;

	/* step until it left (SUBMITTING, or already answered: IN_QUEUE) */
	while ((j = store_job_get(st, id, NULL)) && j->state == JOB_PENDING &&
	       util_now_ms() < deadline) {
		job_free(j);
		engine_step(e, 100);
	}
	CHECK(j && (j->state == JOB_SUBMITTING || j->state == JOB_IN_QUEUE));
	job_free(j);
	engine_free(e);
	j = store_job_get(st, id, NULL);
	CHECK(j && j->state == JOB_IN_QUEUE && j->remote_id);
	job_free(j);
	e = start_engine();
	j = wait_job(e, id, -1, 30);
	CHECK(j && j->state == JOB_COMPLETED);
	CHECK_INT(runs_for_prompt(prompt), 1);
	job_free(j);
	engine_free(e);
}

static void test_submitting_at_start(void)
{
	struct job *j = job_new();
	struct engine *e;
	int64_t id;

	job_set_str(&j->params.prompt, "the process died here");
	job_set_str(&j->params.endpoint, "emu");
	job_set_str(&j->endpoint, "emu");
	job_set_str(&j->backend, "runpod");
	j->state = JOB_SUBMITTING;
	CHECK_INT(store_job_add(st, j, NULL), 0);
	id = j->id;
	job_free(j);
	e = start_engine();
	j = store_job_get(st, id, NULL);
	CHECK(j && j->state == JOB_UNKNOWN);
	CHECK(j && j->error && strstr(j->error, "not sent again"));
	job_free(j);
	for (int i = 0; i < 5; i++)
		engine_step(e, 100);
	CHECK_INT(runs_for_prompt("the process died here"), 0);
	engine_free(e);
}

static int saw_other;

static void on_event_other(struct engine *e, const struct engine_event *ev, void *udata)
{
	on_event(e, ev, udata);
	if (ev->type == ENGINE_EV_JOB) {
		const struct job *j = engine_job(e, ev->job_id);
		if (j && j->state == JOB_OTHER && j->status_text &&
		    strcmp(j->status_text, "WARMING_UP") == 0)
			saw_other = 1;
	}
}

static void test_unknown_status(void)
{
	struct engine *e = start_engine();
	int64_t id;
	struct job *j;

	saw_other = 0;
	engine_set_callback(e, on_event_other, NULL);
	engine_set_watching(e, 1); /* a queued state shows only to a watcher */
	id = th_submit(e, "emu", "strange states [[weird queue=1.5 run=0.2]]", 1);
	j = wait_job(e, id, -1, 30);
	CHECK(saw_other);
	CHECK(j && j->state == JOB_COMPLETED);
	job_free(j);
	engine_free(e);
}

/* Saving fails (the images directory cannot be created): the job is not
 * failed, the error is reported, and a later attempt saves it. */
static void test_save_failure(void)
{
	struct engine *e = start_engine();
	char *good = cfg->images_dir;
	int64_t id;
	struct job *j = NULL;
	int64_t deadline;

	cfg->images_dir = strdup("/dev/null/images");
	id = th_submit(e, "emu", "disk full [[run=0.2 queue=0]]", 1);
	deadline = util_now_ms() + 20000;
	while (!strstr(messages, "cannot save") && util_now_ms() < deadline)
		engine_step(e, 100);
	CHECK(strstr(messages, "cannot save") != NULL);
	/* the job's own record follows with the pass's commit */
	while (util_now_ms() < deadline) {
		j = store_job_get(st, id, NULL);
		if (j && j->error)
			break;
		job_free(j);
		j = NULL;
		engine_step(e, 100);
	}
	if (!j)
		j = store_job_get(st, id, NULL);
	CHECK(j && job_state_is_live(j->state));
	/* the reason is on the job itself, not only in the driver's log */
	CHECK(j && j->error && strncmp(j->error, "cannot save: image 1: ", 22) == 0);
	CHECK(j && j->error && strstr(j->error, "; retrying every 10 s"));
	job_free(j);
	free(cfg->images_dir);
	cfg->images_dir = good;
	j = wait_job(e, id, -1, 40);
	CHECK(j && j->state == JOB_COMPLETED && j->n_outputs == 1);
	CHECK(j && !j->error); /* saved: the complaint is gone */
	job_free(j);
	engine_free(e);
}

static void test_purge(void)
{
	struct engine *e = start_engine();
	int64_t id = th_submit(e, "emu", "purged [[queue=60]]", 1), deadline;
	struct job *j = wait_job(e, id, JOB_IN_QUEUE, 30);

	CHECK(j && j->state == JOB_IN_QUEUE);
	job_free(j);
	CHECK_INT(engine_purge_queue(e, "emu", NULL), 0);
	j = wait_job(e, id, -1, 30);
	CHECK(j && (j->state == JOB_CANCELLED || j->state == JOB_EXPIRED));
	/* a held status-sync the purge woke may bring the job's end before
	 * the purge's own answer arrives */
	deadline = util_now_ms() + 20000;
	while (!strstr(messages, "removed") && util_now_ms() < deadline)
		engine_step(e, 100);
	CHECK(strstr(messages, "removed") != NULL);
	job_free(j);
	engine_free(e);
}

/* Cancel while a (slow) status request is in flight: the job ends CANCELLED,
 * and nothing of it (the status reply, a poll timer) acts on it afterwards. */
static void test_cancel_during_status(void)
{
	struct engine *e = start_engine();
	const char *prompt = "cancel me mid-poll [[queue=60 slow=1]]";
	int64_t id = th_submit(e, "emu", prompt, 1);
	struct job *j = wait_job(e, id, JOB_IN_QUEUE, 30);
	char *rid = j && j->remote_id ? strdup(j->remote_id) : NULL;
	long polls;

	CHECK(j && j->state == JOB_IN_QUEUE && rid);
	job_free(j);
	/* the first poll goes out ~1 s after the submit and takes 1 s: cancel
	 * once the emulator has it */
	for (int64_t end = util_now_ms() + 10000;
	     util_now_ms() < end && rid && job_stat(rid, "status_polls") < 1;)
		engine_step(e, 50);
	CHECK_INT(engine_cancel(e, id, NULL), 0);
	j = wait_job(e, id, -1, 30);
	CHECK(j && j->state == JOB_CANCELLED);
	job_free(j);
	CHECK(engine_job(e, id) == NULL);
	for (int64_t end = util_now_ms() + 1500; util_now_ms() < end;)
		engine_step(e, 100);
	polls = job_stat(rid, "status_polls");
	for (int64_t end = util_now_ms() + 3000; util_now_ms() < end;)
		engine_step(e, 100);
	CHECK_INT(job_stat(rid, "status_polls"), polls);
	j = store_job_get(st, id, NULL);
	CHECK(j && j->state == JOB_CANCELLED);
	job_free(j);
	free(rid);
	engine_free(e);
}

/* Giving the driver role up (every job forgotten) while one job has a status
 * and a cancel request in flight and another waits for a save retry: the
 * engine keeps running with nothing of the forgotten jobs left (no poll, no
 * save retry: ASan would see a freed job), and a new driver finishes both. */
static void test_give_up_mid_flight(void)
{
	struct engine *e = start_engine();
	const char *pa = "forgotten mid-poll [[queue=60 slow=1]]";
	const char *pb = "forgotten mid-save [[run=0.2 queue=0]]";
	char *good = cfg->images_dir, *rid = NULL;
	int64_t a, b, deadline;
	long polls;
	struct job *j;

	a = th_submit(e, "emu", pa, 1);
	j = wait_job(e, a, JOB_IN_QUEUE, 30);
	rid = j && j->remote_id ? strdup(j->remote_id) : NULL;
	CHECK(j && j->state == JOB_IN_QUEUE && rid);
	job_free(j);
	cfg->images_dir = strdup("/dev/null/images");
	b = th_submit(e, "emu", pb, 1);
	deadline = util_now_ms() + 20000;
	while (!strstr(messages, "cannot save") && util_now_ms() < deadline)
		engine_step(e, 100);
	CHECK(strstr(messages, "cannot save") != NULL);
	CHECK_INT(engine_cancel(e, a, NULL), 0); /* a cancel request goes out */
	engine_step(e, 0);
	CHECK_INT(engine_drive(e, 0), 0);
	CHECK(!engine_is_driver(e));
	CHECK(engine_job(e, a) == NULL && engine_job(e, b) == NULL);
	for (int64_t end = util_now_ms() + 1500; util_now_ms() < end;)
		engine_step(e, 100);
	polls = job_stat(rid, "status_polls");
	for (int64_t end = util_now_ms() + 3000; util_now_ms() < end;)
		engine_step(e, 100);
	CHECK_INT(job_stat(rid, "status_polls"), polls);
	j = store_job_get(st, b, NULL);
	CHECK(j && job_state_is_live(j->state));
	job_free(j);

	free(cfg->images_dir);
	cfg->images_dir = good;
	CHECK_INT(engine_drive(e, 1), 1);
	j = wait_job(e, b, -1, 40);
	CHECK(j && j->state == JOB_COMPLETED && j->n_outputs == 1);
	job_free(j);
	j = store_job_get(st, a, NULL);
	if (j && job_state_is_live(j->state))
		CHECK_INT(engine_cancel(e, a, NULL), 0);
	job_free(j);
	j = wait_job(e, a, -1, 30);
	CHECK(j && j->state == JOB_CANCELLED);
	job_free(j);
	free(rid);
	engine_free(e);
}

static int64_t submit_sync(struct engine *e, const char *prompt, int wait_ms)
{
	struct job_params p;
	struct engine_submit_opts o;
	char *err = NULL;
	int64_t id;

	job_params_init(&p);
	p.prompt = strdup(prompt);
	p.endpoint = strdup("emu");
	p.width = p.height = 64;
	p.count = 1;
	memset(&o, 0, sizeof o);
	o.sync_wait_ms = wait_ms;
	id = engine_submit_opts(e, &p, &o, &err);
	if (!id)
		fprintf(stderr, "  submit: %s\n", err ? err : "?");
	free(err);
	job_params_clear(&p);
	return id;
}

static long ops_count(const char *op)
{
	cJSON *s = emu_get(&em, "/_emu/stats", NULL);
	const cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(s, "ops"), op);
	long n = cJSON_IsNumber(v) ? (long)v->valuedouble : -1;
	cJSON_Delete(s);
	return n;
}

/* /runsync: a job done within the wait is saved from the answer itself (no
 * status poll); one that is not is polled under its sync- id; one whose
 * answer never comes is UNKNOWN and never sent again. */
static void test_runsync(void)
{
	struct engine *e = start_engine();
	const char *quick = "sync quick [[queue=0 run=0.3]]";
	const char *slow = "sync slow [[queue=0.3 run=2.5]]";
	const char *lost = "sync lost [[rundrop=1]]";
	long runsync0 = ops_count("runsync"), run0 = ops_count("run");
	int64_t id;
	struct job *j;

	id = submit_sync(e, quick, 10000);
	j = wait_job(e, id, -1, 30);
	CHECK(j && j->state == JOB_COMPLETED && j->n_outputs == 1);
	CHECK(j && j->remote_id && strncmp(j->remote_id, "sync-", 5) == 0);
	CHECK(j && file_size_ok(j->n_outputs ? j->outputs[0].path : NULL));
	CHECK_INT(j ? job_stat(j->remote_id, "status_polls") : -1, 0);
	job_free(j);

	id = submit_sync(e, slow, 1000);
	j = wait_job(e, id, -1, 40);
	CHECK(j && j->state == JOB_COMPLETED && j->n_outputs == 1);
	CHECK(j && j->remote_id && strncmp(j->remote_id, "sync-", 5) == 0);
	CHECK(j && job_stat(j->remote_id, "status_polls") >= 1);
	job_free(j);
	CHECK_INT(runs_for_prompt(slow), 1);

	id = submit_sync(e, lost, 1000);
	j = wait_job(e, id, -1, 40);
	CHECK(j && j->state == JOB_UNKNOWN);
	job_free(j);
	CHECK_INT(runs_for_prompt(lost), 1);
	CHECK_INT(ops_count("runsync") - runsync0, 3);
	CHECK_INT(ops_count("run") - run0, 0);
	engine_free(e);
}

/* ---- a one-off recorder of /run bodies (for the request fields) ---- */

/* The whole file (malloc'd, NUL-terminated; at most 1 MiB), or NULL. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	if (!f)
		return NULL;
	buf = malloc((1 << 20) + 1);
	n = buf ? fread(buf, 1, 1 << 20, f) : 0;
	fclose(f);
	if (buf)
		buf[n] = '\0';
	return buf;
}

static const char recorder_py[] =
    "import http.server, sys, time\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    def reply(s, code, out):\n"
    "        s.send_response(code)\n"
    "        s.send_header('Content-Type', 'application/json')\n"
    "        s.send_header('Content-Length', str(len(out)))\n"
    "        s.end_headers()\n"
    "        s.wfile.write(out)\n"
    "    def do_POST(s):\n"
    "        n = int(s.headers.get('Content-Length', 0))\n"
    "        b = s.rfile.read(n)\n"
    "        with open(sys.argv[1] + '.tmp', 'wb') as f: f.write(b)\n"
    "        __import__('os').rename(sys.argv[1] + '.tmp', sys.argv[1])\n"
    "        s.reply(200, b'{\"id\":\"rec-1\",\"status\":\"IN_QUEUE\"}')\n"
    "    def do_GET(s):\n"
    "        s.reply(404, b'{\"error\":\"request does not exist\"}')\n"
    "    def log_message(s, *a): pass\n"
    "srv = http.server.HTTPServer(('127.0.0.1', 0), H)\n"
    "srv.timeout = 5\n"
    "print('PORT', srv.server_address[1], flush=True)\n"
    "end = time.time() + 60\n"
    "while time.time() < end: srv.handle_request()\n";

static pid_t recorder_start(const char *body_file, int *port)
{
	int fds[2];
	pid_t pid;
	FILE *f;
	char line[128];

	*port = 0;
	if (pipe(fds) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execl("/usr/bin/python3", "python3", "-c", recorder_py, body_file, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	f = fdopen(fds[0], "r");
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "PORT %d", port) == 1)
			break;
	if (f)
		fclose(f);
	if (*port <= 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -1;
	}
	return pid;
}

/* A witness endpoint: at each /run it reads the store (its own SQLite
 * connection, another process) and notes "<prompt>\t<state>" of that job;
 * its /run answers IN_QUEUE, its status 404 (the job ends EXPIRED). */
static const char witness_py[] =
    "import http.server, json, sqlite3, sys, time\n"
    "out, db = sys.argv[1], sys.argv[2]\n"
    "n = [0]\n"
    "class H(http.server.BaseHTTPRequestHandler):\n"
    "    def reply(s, code, body):\n"
    "        s.send_response(code)\n"
    "        s.send_header('Content-Type', 'application/json')\n"
    "        s.send_header('Content-Length', str(len(body)))\n"
    "        s.end_headers()\n"
    "        s.wfile.write(body)\n"
    "    def do_POST(s):\n"
    "        b = json.loads(s.rfile.read(int(s.headers.get('Content-Length', 0))))\n"
    "        p = b['input']['prompt']\n"
    "        c = sqlite3.connect('file:%s?mode=ro' % db, uri=True, timeout=10)\n"
    "        r = c.execute('SELECT state FROM jobs WHERE prompt=?', (p,)).fetchall()\n"
    "        c.close()\n"
    "        with open(out, 'a') as f: f.write('%s\\t%s\\n' % (p, ','.join(x[0] for x in r)))\n"
    "        n[0] += 1\n"
    "        s.reply(200, json.dumps({'id': 'w-%d' % n[0], 'status': 'IN_QUEUE'}).encode())\n"
    "    def do_GET(s):\n"
    "        s.reply(404, b'{\"error\":\"request does not exist\"}')\n"
    "    def log_message(s, *a): pass\n"
    "srv = http.server.HTTPServer(('127.0.0.1', 0), H)\n"
    "srv.timeout = 5\n"
    "print('PORT', srv.server_address[1], flush=True)\n"
    "end = time.time() + 60\n"
    "while time.time() < end: srv.handle_request()\n";

/* SUBMITTING is in the store before a /run's bytes leave, for every job of
 * a stream of /runs, as another process sees it; afterwards every job has
 * its remote id and its SUBMITTING event, and each was sent once. Fails if
 * a SUBMITTING commit comes after the send. */
static void test_submitting_before_send(void)
{
	char out[4200], url[128], prompt[64], *text, *line, *save = NULL;
	int64_t ids[6];
	struct engine *e;
	struct job *j;
	struct store_event *ev;
	size_t nev;
	int port, nlines = 0, ok_lines = 0;
	int fds[2];
	pid_t pid;
	FILE *f;
	char buf[128];

	snprintf(out, sizeof out, "%s/witness.txt", dir);
	unlink(out);
	port = 0;
	if (pipe(fds) < 0)
		return;
	pid = fork();
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execl("/usr/bin/python3", "python3", "-c", witness_py, out, cfg->db_path,
		      (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	f = fdopen(fds[0], "r");
	while (f && fgets(buf, sizeof buf, f))
		if (sscanf(buf, "PORT %d", &port) == 1)
			break;
	if (f)
		fclose(f);
	CHECK(pid > 0 && port > 0);
	if (pid <= 0 || port <= 0) {
		if (pid > 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
		}
		return;
	}
	snprintf(url, sizeof url, "http://127.0.0.1:%d/v2/witness", port);
	th_config_add_runpod(cfg, "witness", url, "SDQ_TEST_KEY", "sd15");
	e = start_engine();
	for (int i = 0; i < 6; i++) {
		snprintf(prompt, sizeof prompt, "witnessed %d", i);
		ids[i] = th_submit(e, "witness", prompt, 1);
		CHECK(ids[i] > 0);
	}
	for (int i = 0; i < 6; i++) {
		j = wait_job(e, ids[i], -1, 30);
		CHECK(j && j->state == JOB_EXPIRED);
		CHECK(j && j->remote_id && strncmp(j->remote_id, "w-", 2) == 0);
		job_free(j);
		CHECK_INT(store_job_events(st, ids[i], &ev, &nev, NULL), 0);
		/* (IN_QUEUE may share its commit with EXPIRED: no event of its own) */
		CHECK(nev >= 3);
		if (nev >= 3) {
			CHECK_STR(ev[1].state, "SUBMITTING");
			CHECK_STR(ev[nev - 1].state, "EXPIRED");
		}
		store_events_free(ev, nev);
	}
	text = slurp(out);
	CHECK(text != NULL);
	for (line = text ? strtok_r(text, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		nlines++;
		if (strncmp(line, "witnessed ", 10) == 0 && strstr(line, "\tSUBMITTING") &&
		    !strchr(line, ','))
			ok_lines++;
		else
			fprintf(stderr, "  at its /run: %s\n", line);
	}
	CHECK_INT(nlines, 6); /* each sent once */
	CHECK_INT(ok_lines, 6);
	free(text);
	engine_free(e);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

/* The endpoint's webhook and policy (executionTimeout, ttl, lowPriority)
 * reach the /run body beside the input; an endpoint without them sends
 * neither member. */
static void test_request_fields(void)
{
	char body_file[4200], url[128];
	struct config_endpoint *ep;
	struct engine *e;
	struct job *j;
	cJSON *b;
	int port;
	pid_t pid;
	int64_t id;
	char *text;

	snprintf(body_file, sizeof body_file, "%s/run-body.json", dir);
	pid = recorder_start(body_file, &port);
	CHECK(pid > 0);
	if (pid <= 0)
		return;
	snprintf(url, sizeof url, "http://127.0.0.1:%d/v2/rec", port);
	th_config_add_runpod(cfg, "rec", url, "SDQ_TEST_KEY", "sd15");
	th_config_add_runpod(cfg, "plain", url, "SDQ_TEST_KEY", "sd15");
	ep = &cfg->endpoints[cfg->n_endpoints - 2];
	ep->webhook_set = 1;
	ep->webhook = strdup("https://hooks.example.invalid/sdq?x=1");
	ep->execution_timeout_ms = 600000;
	ep->ttl_ms = 3600000;
	ep->low_priority = 1;

	e = start_engine();
	id = th_submit(e, "rec", "with a policy", 1);
	j = wait_job(e, id, -1, 30); /* the recorder forgets it: EXPIRED */
	CHECK(j && j->state == JOB_EXPIRED);
	job_free(j);
	text = slurp(body_file);
	b = text ? cJSON_Parse(text) : NULL;
	CHECK(b != NULL);
	CHECK(cJSON_IsObject(cJSON_GetObjectItem(b, "input")));
	CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(b, "webhook")),
	          "https://hooks.example.invalid/sdq?x=1");
	{
		const cJSON *pol = cJSON_GetObjectItem(b, "policy");
		const cJSON *et = cJSON_GetObjectItem(pol, "executionTimeout");
		const cJSON *ttl = cJSON_GetObjectItem(pol, "ttl");
		CHECK(cJSON_IsNumber(et) && et->valuedouble == 600000);
		CHECK(cJSON_IsNumber(ttl) && ttl->valuedouble == 3600000);
		CHECK(cJSON_IsTrue(cJSON_GetObjectItem(pol, "lowPriority")));
	}
	cJSON_Delete(b);
	free(text);
	unlink(body_file);

	id = th_submit(e, "plain", "without a policy", 1);
	j = wait_job(e, id, -1, 30);
	CHECK(j && j->state == JOB_EXPIRED);
	job_free(j);
	text = slurp(body_file);
	b = text ? cJSON_Parse(text) : NULL;
	CHECK(cJSON_IsObject(cJSON_GetObjectItem(b, "input")));
	CHECK(b && !cJSON_GetObjectItem(b, "webhook") && !cJSON_GetObjectItem(b, "policy"));
	cJSON_Delete(b);
	free(text);
	engine_free(e);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

/* The /run body is the rendered input byte for byte: a seed above 2^53, the
 * numbers a template file writes (a 20-digit ComfyUI seed, a long decimal)
 * and --set values arrive as written, never through a double. */
static void test_exact_body(void)
{
	char body_file[4200], url[128], path[4200];
	struct job_params p;
	struct engine *e;
	struct job *j;
	char *text, *err = NULL;
	int port;
	pid_t pid;
	int64_t id;
	FILE *f;

	snprintf(body_file, sizeof body_file, "%s/exact-body.json", dir);
	snprintf(path, sizeof path, "%s/templates", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof path, "%s/templates/exactnum.json", dir);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (!f)
		return;
	fputs("{\"seed\": \"{{seed}}\", \"big\": 18446744073709551615,\n"
	      " \"cfg\": \"{{cfg|7}}\", \"tiny\": 0.1000000000000000055511151231257827,"
	      " \"text\": \"{{prompt}}\"}\n",
	      f);
	fclose(f);
	pid = recorder_start(body_file, &port);
	CHECK(pid > 0);
	if (pid <= 0)
		return;
	snprintf(url, sizeof url, "http://127.0.0.1:%d/v2/exact", port);
	th_config_add_runpod(cfg, "exact-xl", url, "SDQ_TEST_KEY", "sdxl");
	th_config_add_runpod(cfg, "exact-file", url, "SDQ_TEST_KEY", "exactnum");
	e = start_engine();

	job_params_init(&p);
	p.prompt = strdup("caf\xc3\xa9 \"q\"");
	p.endpoint = strdup("exact-xl");
	p.seed = 9007199254740993LL;
	p.steps = 30;
	CHECK_INT(params_parse_set(&p, "refiner_inference_steps=12345678901234567890", &err), 0);
	id = engine_submit(e, &p, &err);
	CHECK(id > 0);
	j = wait_job(e, id, -1, 30);
	CHECK(j && j->state == JOB_EXPIRED);
	job_free(j);
	text = slurp(body_file);
	CHECK_STR(text, "{\"input\":{\"prompt\":\"caf\xc3\xa9 \\\"q\\\"\",\"num_inference_steps\":30,"
	                "\"seed\":9007199254740993,\"refiner_inference_steps\":12345678901234567890}}");
	free(text);
	unlink(body_file);

	free(p.endpoint);
	p.endpoint = strdup("exact-file");
	free(p.extra_json);
	p.extra_json = NULL;
	p.seed = INT64_MAX;
	id = engine_submit(e, &p, &err);
	CHECK(id > 0);
	j = wait_job(e, id, -1, 30);
	CHECK(j && j->state == JOB_EXPIRED);
	job_free(j);
	text = slurp(body_file);
	CHECK_STR(text, "{\"input\":{\"seed\":9223372036854775807,\"big\":18446744073709551615,"
	                "\"cfg\":7.0,\"tiny\":0.1000000000000000055511151231257827,"
	                "\"text\":\"caf\xc3\xa9 \\\"q\\\"\"}}");
	free(text);
	free(err);
	job_params_clear(&p);
	engine_free(e);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
}

/* A job's destination is fixed when it is submitted (issue 10): a viewer
 * submits it while "fixed" means the recorder; then "fixed" is pointed
 * elsewhere (URL, webhook, template) in the driver's config. A driver without
 * the submitter's key leaves it PENDING (and sends nothing); one with it
 * sends the job to the recorder with a /run body that is byte for byte the
 * recorded input and members. */
static void test_destination_fixed(void)
{
	char body_file[4200], url[128], want[4096], fp[KEYFP_LEN];
	struct config_endpoint *ep;
	struct engine *e;
	struct job *j;
	int port;
	pid_t pid;
	int64_t id, deadline;
	char *text, *err = NULL;

	snprintf(body_file, sizeof body_file, "%s/fixed-body.json", dir);
	unlink(body_file);
	pid = recorder_start(body_file, &port);
	CHECK(pid > 0);
	if (pid <= 0)
		return;
	snprintf(url, sizeof url, "http://127.0.0.1:%d/v2/rec", port);
	th_config_add_runpod(cfg, "fixed", url, "SDQ_TEST_KEY", "sd15");
	ep = &cfg->endpoints[cfg->n_endpoints - 1];
	ep->webhook_set = 1;
	ep->webhook = strdup("https://hooks.example.invalid/first");
	ep->ttl_ms = 3600000;

	/* a viewer records it */
	e = engine_new(cfg, st, &err);
	CHECK(e != NULL);
	if (!e) {
		free(err);
		return;
	}
	id = th_submit(e, "fixed", "fixed destination", 1);
	engine_free(e);
	j = store_job_get(st, id, NULL);
	CHECK(j && j->state == JOB_PENDING);
	CHECK(j && j->endpoint_url && strcmp(j->endpoint_url, url) == 0);
	CHECK(j && j->api && strcmp(j->api, "runpod") == 0);
	CHECK(j && j->input_json && strstr(j->input_json, "fixed destination"));
	CHECK(j && j->run_extra && strstr(j->run_extra, "hooks.example.invalid/first") &&
	      strstr(j->run_extra, "3600000"));
	CHECK(j && j->key_fp && strcmp(j->key_fp, keyfp_of("test-key-123", fp)) == 0);
	want[0] = '\0';
	if (j && j->input_json && j->run_extra)
		snprintf(want, sizeof want, "{\"input\":%s,%s", j->input_json, j->run_extra + 1);
	job_free(j);

	/* the name now means something else */
	free(ep->url);
	ep->url = strdup("http://127.0.0.1:9/v2/elsewhere");
	free(ep->webhook);
	ep->webhook = strdup("https://hooks.example.invalid/second");
	free(ep->template_name);
	ep->template_name = strdup("sdxl");

	/* a driver holding another key does not send it */
	setenv("SDQ_TEST_KEY", "another-key-456", 1);
	e = start_engine();
	deadline = util_now_ms() + 1500;
	while (util_now_ms() < deadline)
		engine_step(e, 100);
	j = store_job_get(st, id, NULL);
	CHECK(j && j->state == JOB_PENDING);
	job_free(j);
	CHECK(access(body_file, F_OK) != 0);
	CHECK_INT(store_job_waits_for_key(st, j = store_job_get(st, id, NULL)), 1);
	job_free(j);
	engine_free(e);

	/* the submitter's key: sent where and as recorded */
	setenv("SDQ_TEST_KEY", "test-key-123", 1);
	e = start_engine();
	j = wait_job(e, id, -1, 30); /* the recorder forgets it: EXPIRED */
	CHECK(j && j->state == JOB_EXPIRED);
	CHECK(j && j->endpoint_url && strcmp(j->endpoint_url, url) == 0);
	job_free(j);
	text = slurp(body_file);
	CHECK(text && want[0] && strcmp(text, want) == 0);
	if (text && strcmp(text, want) != 0)
		fprintf(stderr, "  sent %s\n  want %s\n", text, want);
	CHECK(text && !strstr(text, "second"));
	free(text);
	engine_free(e);
	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);
	free(ep->url); /* never used again: nothing may reach port 9 */
	ep->url = strdup(url);
}

/* The emulator honours policy.ttl: a job still queued when its time to live
 * runs out is gone (404), and sdq says EXPIRED. */
static void test_policy_ttl(void)
{
	struct engine *e;
	struct job *j;
	int64_t id;

	th_config_add_runpod(cfg, "short-ttl", em.base, "SDQ_TEST_KEY", "sd15");
	cfg->endpoints[cfg->n_endpoints - 1].ttl_ms = 1500;
	e = start_engine();
	id = th_submit(e, "short-ttl", "outlived [[queue=60]]", 1);
	j = wait_job(e, id, -1, 30);
	CHECK(j && j->state == JOB_EXPIRED);
	CHECK(j && j->remote_id && job_stat(j->remote_id, "status_polls") >= 1);
	job_free(j);
	engine_free(e);
}

/* A job whose endpoint name is not in the driver's config ("default" came
 * from the submitter's SDQ_ENDPOINT) is driven through its URL; a job with
 * neither a known endpoint nor a URL stays live and is not counted as driven. */
static void test_unknown_endpoint_name(void)
{
	struct config *c2 = config_new_defaults(NULL);
	struct job *j = job_new(), *loc = job_new();
	struct engine *e;
	int64_t id, lid;
	char *err = NULL;

	if (!c2 || !j || !loc) {
		CHECK(0);
		config_free(c2);
		job_free(j);
		job_free(loc);
		return;
	}
	free(c2->images_dir);
	c2->images_dir = strdup(cfg->images_dir);
	setenv("RUNPOD_API_KEY", "test-key-123", 1);
	job_set_str(&j->params.prompt, "driven by url [[queue=0.2 run=0.2]]");
	job_set_str(&j->params.endpoint, "default");
	job_set_str(&j->params.template_name, "sd15");
	j->params.width = j->params.height = 64;
	j->params.seed = 5;
	job_set_str(&j->endpoint, "default");
	job_set_str(&j->endpoint_url, em.base);
	job_set_str(&j->backend, "runpod");
	j->state = JOB_PENDING;
	j->created_at = job_now_ms();
	CHECK_INT(store_job_add(st, j, NULL), 0);
	id = j->id;
	job_set_str(&loc->params.prompt, "a local job of another config");
	job_set_str(&loc->params.endpoint, "gpu-box");
	job_set_str(&loc->endpoint, "gpu-box");
	job_set_str(&loc->backend, "local");
	loc->state = JOB_PENDING;
	loc->created_at = job_now_ms();
	CHECK_INT(store_job_add(st, loc, NULL), 0);
	lid = loc->id;
	job_free(j);
	job_free(loc);

	e = engine_new(c2, st, &err);
	CHECK(e != NULL);
	if (!e) {
		free(err);
		config_free(c2);
		return;
	}
	engine_set_callback(e, on_event, NULL);
	messages[0] = '\0';
	CHECK_INT(engine_drive(e, 1), 1);
	CHECK_INT(engine_driving_count(e), 1);
	CHECK(strstr(messages, "following it through its URL") != NULL);
	CHECK(strstr(messages, "gpu-box") != NULL);
	j = wait_job(e, id, -1, 30);
	CHECK(j && j->state == JOB_COMPLETED && j->n_outputs == 1);
	CHECK(j && j->endpoint && strcmp(j->endpoint, "default") == 0);
	job_free(j);
	CHECK_INT(runs_for_prompt("driven by url [[queue=0.2 run=0.2]]"), 1);
	for (int i = 0; i < 3; i++)
		engine_step(e, 10);
	/* the local job stays live, but nothing is driven any more */
	CHECK_INT(engine_driving_count(e), 0);
	CHECK(engine_live_count(e) >= 1);
	j = store_job_get(st, lid, NULL);
	CHECK(j && j->state == JOB_PENDING);
	job_free(j);
	CHECK_INT(engine_cancel(e, lid, NULL), 0);
	j = store_job_get(st, lid, NULL);
	CHECK(j && j->state == JOB_CANCELLED);
	job_free(j);
	engine_free(e);
	config_free(c2);
	unsetenv("RUNPOD_API_KEY");
}

int main(void)
{
	char *err = NULL;
	static const char *const args[] = {"--queue-time", "0.2", "--run-time", "0.4",
	                                   "--steps",      "3",   NULL};

	snprintf(dir, sizeof dir, "%s", th_tmpdir());
	setenv("SDQ_TEST_KEY", "test-key-123", 1);
	setenv("SDQ_TEST_BADKEY", "wrong-key-999", 1);
	if (emu_start(&em, args) < 0) {
		fprintf(stderr, "cannot start the emulator\n");
		th_failed++;
		return th_done("test_runpod");
	}
	cfg = make_config();
	st = store_open(cfg->db_path, &err);
	if (!st) {
		fprintf(stderr, "store_open: %s\n", err ? err : "?");
		emu_stop(&em);
		return 2;
	}
	TH_RUN(test_progress_table);
	TH_RUN(test_shapes);
	TH_RUN(test_failed);
	TH_RUN(test_timed_out);
	TH_RUN(test_cancel);
	TH_RUN(test_cancel_storm);
	TH_RUN(test_cancel_by_viewer);
	TH_RUN(test_retry);
	TH_RUN(test_retry_requested_by_viewer);
	TH_RUN(test_429);
	TH_RUN(test_broken_status_replies);
	TH_RUN(test_run_unknown);
	TH_RUN(test_bad_key);
	TH_RUN(test_health);
	TH_RUN(test_expired);
	TH_RUN(test_no_image);
	TH_RUN(test_huge_image);
	TH_RUN(test_progress);
	TH_RUN(test_resume);
	TH_RUN(test_free_before_sent);
	TH_RUN(test_free_while_submitting);
	TH_RUN(test_submitting_at_start);
	TH_RUN(test_purge);
	TH_RUN(test_unknown_status);
	TH_RUN(test_save_failure);
	TH_RUN(test_unknown_endpoint_name);
	TH_RUN(test_cancel_during_status);
	TH_RUN(test_give_up_mid_flight);
	TH_RUN(test_runsync);
	TH_RUN(test_request_fields);
	TH_RUN(test_submitting_before_send);
	TH_RUN(test_exact_body);
	TH_RUN(test_policy_ttl);
	TH_RUN(test_destination_fixed);
	store_close(st);
	config_free(cfg);
	emu_stop(&em);
	return th_done("test_runpod");
}
