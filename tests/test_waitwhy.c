/*
 * test_waitwhy.c: why a live job waits. Every reason of waitwhy_explain from
 * hand-made inputs (cold start, throttled, unhealthy, no worker, busy workers
 * with jobs ahead, idle, health unknown, a local job behind another), the
 * jobs ahead from the endpoint's own queue (other clients'), why the health
 * is unknown (a refused key, no answer, an error after a good report), the
 * estimates and "no estimate", the medians of the history; then
 * waitwhy_gather over a real store, with the health the engine read from
 * tests/emulator.py's /health after /_emu/set switched its workers to
 * throttled, initializing and unhealthy.
 */
#include <cjson/cJSON.h>

#include "engine.h"
#include "http.h"
#include "store.h"
#include "th.h"
#include "th_net.h"
#include "th_config.h"
#include "util.h"
#include "waitwhy.h"

static struct job *mkjob(enum job_state s, const char *backend, const char *ep)
{
	struct job *j = job_new();
	if (!j)
		abort();
	j->state = s;
	j->backend = strdup(backend);
	j->endpoint = strdup(ep);
	j->params.endpoint = strdup(ep);
	j->params.prompt = strdup("a cat");
	return j;
}

static char *fmt(const struct waitwhy_in *in)
{
	static char buf[256];
	struct waitwhy w;
	waitwhy_explain(in, &w);
	return waitwhy_format(&w, buf, sizeof buf);
}

static void test_remote_reasons(void)
{
	struct job *j = mkjob(JOB_IN_QUEUE, "runpod", "emu");
	struct waitwhy_in in;
	struct waitwhy w;

	j->submitted_at = 1000000;
	memset(&in, 0, sizeof in);
	in.job = j;
	in.now_ms = 1000000 + 5000; /* waited 5 s */
	in.has_health = 1;

	/* no history: no estimate, whatever the reason */
	in.initializing = 1;
	CHECK_STR(fmt(&in), "cold start: 1 worker initializing, no estimate");
	in.initializing = 0;
	in.throttled = 2;
	CHECK_STR(fmt(&in), "throttled: no GPU free for this endpoint (2 throttled), no estimate");
	in.throttled = 0;
	in.unhealthy = 1;
	CHECK_STR(fmt(&in), "worker unhealthy (1 unhealthy), no estimate");
	in.unhealthy = 0;
	CHECK_STR(fmt(&in), "no worker: waiting for one to start, no estimate");

	/* with history: 20 jobs, median delay 12 s, median execution 10 s */
	in.stats.n_delay = in.stats.n_exec = 20;
	in.stats.median_delay_ms = 12000;
	in.stats.median_exec_ms = 10000;
	in.initializing = 2;
	waitwhy_explain(&in, &w);
	CHECK(w.waiting);
	CHECK_INT(w.estimate_ms, 7000); /* 12 s typical less the 5 s waited */
	CHECK_STR(fmt(&in), "cold start: 2 workers initializing, ~7 s (median of the last 20 jobs)");
	/* waited longer than usual: no estimate rather than a negative one */
	in.now_ms = 1000000 + 60000;
	CHECK_STR(fmt(&in), "cold start: 2 workers initializing, no estimate");
	/* throttled and unhealthy never get an estimate: nothing says when */
	in.initializing = 0;
	in.throttled = 3;
	CHECK_STR(fmt(&in), "throttled: no GPU free for this endpoint (3 throttled), no estimate");

	/* busy: 4 ahead on 1 worker = 5 executions of 10 s */
	in.throttled = 0;
	in.running = 1;
	in.ahead = 4;
	CHECK_STR(fmt(&in), "4 ahead in the queue, 1 worker busy, ~50 s (median of the last 20 jobs)");
	/* two workers: ceil(5 / 2) = 3 rounds */
	in.running = 2;
	CHECK_STR(fmt(&in), "4 ahead in the queue, 2 workers busy, ~30 s (median of the last 20 jobs)");
	in.ahead = 0;
	in.running = 1;
	CHECK_STR(fmt(&in), "all 1 worker busy, ~10 s (median of the last 20 jobs)");
	/* minutes beyond two */
	in.ahead = 29;
	CHECK_STR(fmt(&in), "29 ahead in the queue, 1 worker busy, ~5 min (median of the last 20 jobs)");

	/* an idle worker: about to start, with the typical delay */
	in.ahead = 0;
	in.running = 0;
	in.idle = 1;
	in.now_ms = 1000000 + 2000;
	CHECK_STR(fmt(&in), "in the queue: 1 worker idle, starting, ~10 s (median of the last 20 jobs)");

	/* the job's own delayTime counts as waited when it is larger */
	j->delay_ms = 11500;
	CHECK_STR(fmt(&in), "in the queue: 1 worker idle, starting, ~1 s (median of the last 20 jobs)");
	j->delay_ms = -1;

	/* health unknown */
	in.has_health = 0;
	in.idle = 0;
	in.ahead = 3;
	CHECK_STR(fmt(&in), "3 ahead in the queue (endpoint health unknown), ~10 s (median of the last 20 jobs)");

	/* not waiting: running or finished */
	j->state = JOB_IN_PROGRESS;
	waitwhy_explain(&in, &w);
	CHECK(!w.waiting);
	CHECK_STR(waitwhy_format(&w, (char[8]){0}, 8), "");
	j->state = JOB_COMPLETED;
	waitwhy_explain(&in, &w);
	CHECK(!w.waiting);
	j->state = JOB_PENDING;
	CHECK_STR(fmt(&in), "not sent yet: waiting for the driver, no estimate");
	job_free(j);
}

/* "Ahead" from the endpoint's own queue (other clients' jobs in it), and
 * why the health is unknown when a report says so. */
static void test_endpoint_queue(void)
{
	struct job *j = mkjob(JOB_IN_QUEUE, "runpod", "emu");
	struct waitwhy_in in;
	struct engine_health h;

	j->submitted_at = 1000000;
	memset(&in, 0, sizeof in);
	in.job = j;
	in.now_ms = 1000000 + 5000;
	in.has_health = 1;
	in.running = 1;
	in.stats.n_exec = 20;
	in.stats.median_exec_ms = 10000;
	/* this sdq knows 1 ahead and 1 behind; the endpoint holds 5 queued:
	 * this one, those two and 2 more from elsewhere, counted as ahead */
	in.ahead = 1;
	in.behind = 1;
	in.in_queue = 5;
	CHECK_STR(fmt(&in), "3 ahead in the queue (2 from elsewhere), 1 worker busy, ~40 s "
	                    "(median of the last 20 jobs)");
	/* the endpoint's count is older or smaller than what this sdq knows */
	in.in_queue = 2;
	CHECK_STR(fmt(&in), "1 ahead in the queue, 1 worker busy, ~20 s (median of the last 20 jobs)");
	in.in_queue = 0;
	CHECK_STR(fmt(&in), "1 ahead in the queue, 1 worker busy, ~20 s (median of the last 20 jobs)");
	/* only other clients' jobs ahead */
	in.ahead = 0;
	in.behind = 0;
	in.in_queue = 3;
	CHECK_STR(fmt(&in), "2 ahead in the queue (2 from elsewhere), 1 worker busy, ~30 s "
	                    "(median of the last 20 jobs)");
	/* no health: the endpoint's count is not used */
	in.has_health = 0;
	CHECK_STR(fmt(&in), "in the queue (endpoint health unknown), no estimate");

	/* a report that is no health says why */
	memset(&h, 0, sizeof h);
	h.valid = 1;
	h.reachable = 1;
	h.auth_failed = 1;
	waitwhy_in_health(&in, &h);
	CHECK(!in.has_health);
	CHECK_STR(fmt(&in), "in the queue (endpoint health unknown: the API key was refused), no "
	                    "estimate");
	h.auth_failed = 0;
	h.error = "no answer within 2.5 s";
	h.valid = 0;
	waitwhy_in_health(&in, &h);
	CHECK(!in.has_health);
	CHECK_STR(fmt(&in), "in the queue (endpoint health unknown: no answer within 2.5 s), no "
	                    "estimate");
	/* an error after a good report: its counts are stale, not used */
	h.valid = 1;
	h.error = "health: HTTP 500: boom";
	h.workers_running = 1;
	h.jobs_in_queue = 9;
	waitwhy_in_health(&in, &h);
	CHECK(!in.has_health);
	CHECK_INT(in.in_queue, 0);
	h.error = NULL;
	waitwhy_in_health(&in, &h);
	CHECK(in.has_health);
	CHECK_INT(in.in_queue, 9);
	CHECK_STR(in.health_why, "");
	CHECK_STR(fmt(&in), "8 ahead in the queue (8 from elsewhere), 1 worker busy, ~90 s "
	                    "(median of the last 20 jobs)");
	job_free(j);
}

static void test_local(void)
{
	struct job *j = mkjob(JOB_IN_QUEUE, "local", "gpu");
	struct waitwhy_in in;

	memset(&in, 0, sizeof in);
	in.job = j;
	in.local = 1;
	in.now_ms = 100000;
	in.blocker_id = 12;
	in.blocker_started_at = 100000 - 4000;
	CHECK_STR(fmt(&in), "waiting for job 12 on gpu, no estimate");
	in.stats.n_exec = 5;
	in.stats.median_exec_ms = 10000;
	/* the running one has 6 s left */
	CHECK_STR(fmt(&in), "waiting for job 12 on gpu, ~6 s (median of the last 5 jobs)");
	in.ahead = 2;
	CHECK_STR(fmt(&in), "waiting for job 12 on gpu (2 more ahead), ~26 s (median of the last 5 jobs)");
	in.blocker_id = 0;
	CHECK_STR(fmt(&in), "2 ahead in the local queue, ~20 s (median of the last 5 jobs)");
	job_free(j);
}

static void test_stats(void)
{
	struct job *js[6];
	struct waitwhy_stats s;
	int64_t delays[] = {3000, 1000, -1, 2000, 9000, 4000};
	int64_t execs[] = {10000, 30000, 20000, -1, 40000, 50000};

	for (int i = 0; i < 6; i++) {
		js[i] = mkjob(JOB_COMPLETED, "runpod", "emu");
		js[i]->delay_ms = delays[i];
		js[i]->exec_ms = execs[i];
	}
	js[5]->state = JOB_FAILED; /* failed jobs do not count */
	waitwhy_stats_of((const struct job *const *)js, 6, &s);
	CHECK_INT(s.n_delay, 4);
	CHECK_INT(s.median_delay_ms, 2500); /* 1000 2000 3000 9000 */
	CHECK_INT(s.n_exec, 4);
	CHECK_INT(s.median_exec_ms, 25000); /* 10 20 30 40 */
	waitwhy_stats_of((const struct job *const *)js, 0, &s);
	CHECK_INT(s.n_delay, 0);
	CHECK_INT(s.median_exec_ms, -1);
	for (int i = 0; i < 6; i++)
		job_free(js[i]);
}

/* ---- against the emulator's /health, through the engine and a store ---- */

static struct emu em;

struct got {
	int done;
};

static void on_reply(struct http *h, const struct http_response *r, void *udata)
{
	(void)h;
	(void)r;
	((struct got *)udata)->done = 1;
}

static void emu_set(const char *json)
{
	struct http *h = http_new(NULL);
	struct http_request r;
	struct got g = {0};
	char url[256];
	int64_t deadline = util_now_ms() + 10000;

	snprintf(url, sizeof url, "%s/_emu/set", em.root);
	memset(&r, 0, sizeof r);
	r.url = url;
	r.method = "POST";
	r.body = json;
	http_request(h, &r, on_reply, &g, NULL);
	while (!g.done && util_now_ms() < deadline) {
		http_poll(h, NULL, 0, 200);
		http_perform(h);
	}
	http_free(h);
}

/* Refresh emu's health in e and wait for a report newer than before. */
static const struct engine_health *fresh_health(struct engine *e)
{
	const struct engine_health *h = engine_health(e, "emu");
	int64_t before = h ? h->updated_at : 0;
	CHECK_INT(engine_health_refresh(e, "emu", NULL), 0);
	for (int64_t end = util_now_ms() + 10000; util_now_ms() < end;) {
		h = engine_health(e, "emu");
		if (h && h->valid && h->updated_at > before)
			return h;
		engine_step(e, 100);
	}
	return NULL;
}

static void test_emulator(void)
{
	char dir[4096], *err = NULL, buf[256];
	struct config *cfg;
	struct store *st;
	struct engine *e;
	struct job *j;
	struct waitwhy w;
	const struct engine_health *h;
	static const char *const args[] = {"--workers", "0", NULL};

	snprintf(dir, sizeof dir, "%s", th_tmpdir());
	setenv("SDQ_TEST_KEY", "test-key-123", 1);
	if (emu_start(&em, args) < 0) {
		CHECK(!"the emulator started");
		return;
	}
	cfg = th_config_in(dir);
	th_config_add_runpod(cfg, "emu", em.base, "SDQ_TEST_KEY", "sd15");
	st = store_open(cfg->db_path, &err);
	CHECK(st);
	e = st ? engine_new(cfg, st, &err) : NULL;
	CHECK(e);
	if (!e)
		goto out;

	/* history: 3 finished jobs of this endpoint (delay 20 s, exec 10 s) and
	 * one of another endpoint that must not count */
	for (int i = 0; i < 4; i++) {
		j = mkjob(JOB_COMPLETED, "runpod", i == 3 ? "other" : "emu");
		j->delay_ms = i == 3 ? 1 : 20000;
		j->exec_ms = i == 3 ? 1 : 10000;
		CHECK_INT(store_job_add(st, j, NULL), 0);
		job_free(j);
	}
	/* two queued jobs: the second has one ahead */
	j = mkjob(JOB_IN_QUEUE, "runpod", "emu");
	CHECK_INT(store_job_add(st, j, NULL), 0);
	job_free(j);
	j = mkjob(JOB_IN_QUEUE, "runpod", "emu");
	j->submitted_at = job_now_ms();
	CHECK_INT(store_job_add(st, j, NULL), 0);

	emu_set("{\"workers\": 0, \"throttled\": 2, \"initializing\": 0, \"unhealthy\": 0}");
	h = fresh_health(e);
	CHECK(h && h->workers_throttled == 2);
	CHECK_INT(waitwhy_gather(st, j, h, job_now_ms(), &w, &err), 0);
	CHECK_STR(waitwhy_format(&w, buf, sizeof buf),
	          "throttled: no GPU free for this endpoint (2 throttled), no estimate");

	emu_set("{\"throttled\": 0, \"initializing\": 1}");
	h = fresh_health(e);
	CHECK(h && h->workers_initializing == 1);
	CHECK_INT(waitwhy_gather(st, j, h, job_now_ms(), &w, &err), 0);
	CHECK_STR(w.reason, "cold start: 1 worker initializing");
	CHECK(w.estimate_ms > 0 && w.estimate_ms <= 20000);
	CHECK_INT(w.basis_n, 3);

	emu_set("{\"initializing\": 0, \"unhealthy\": 1}");
	h = fresh_health(e);
	CHECK(h && h->workers_unhealthy == 1);
	CHECK_INT(waitwhy_gather(st, j, h, job_now_ms(), &w, &err), 0);
	CHECK_STR(waitwhy_format(&w, buf, sizeof buf), "worker unhealthy (1 unhealthy), no estimate");

	/* the health report's counts are what the explanation reads */
	{
		struct waitwhy_in in;
		memset(&in, 0, sizeof in);
		in.job = j;
		waitwhy_in_health(&in, h);
		CHECK(in.has_health && in.unhealthy == 1 && in.throttled == 0);
		waitwhy_in_health(&in, NULL);
		CHECK(!in.has_health);
	}
	/* no health at all: still the queue and the history */
	CHECK_INT(waitwhy_gather(st, j, NULL, j->submitted_at, &w, &err), 0);
	CHECK_STR(waitwhy_format(&w, buf, sizeof buf),
	          "1 ahead in the queue (endpoint health unknown), ~20 s (median of the last 3 jobs)");
	job_free(j);
out:
	free(err);
	engine_free(e);
	store_close(st);
	config_free(cfg);
	emu_stop(&em);
}

int main(void)
{
	TH_RUN(test_remote_reasons);
	TH_RUN(test_endpoint_queue);
	TH_RUN(test_local);
	TH_RUN(test_stats);
	TH_RUN(test_emulator);
	return th_done("test_waitwhy");
}
