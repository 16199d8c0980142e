/*
 * runpod.c: the RunPod serverless backend (backend.h).
 *
 * Jobs are sent with POST {base}/run and followed with GET {base}/status/{id}
 * on a per-job schedule: ~1 s after the submit, every ~1 s while IN_PROGRESS,
 * backing off 1 -> 2 -> 4 -> 8 -> 10 s while IN_QUEUE, always with +-20%
 * jitter so a thousand jobs do not poll in lockstep.
 *
 * Every request goes through a per-endpoint limiter (limiter.h): one token
 * bucket and one concurrency cap per operation, set under RunPod's documented limits (status
 * 2000/10 s, run 1000/10 s, cancel 100/10 s, purge 2/10 s). Requests that find
 * no token wait in a FIFO per operation. A 429 or 503 pauses the whole
 * endpoint (Retry-After, else exponential backoff with jitter).
 *
 * A /run is never re-sent blindly: only a definite refusal (429/503, or a
 * connection that never carried the request) sends it again or fails it;
 * anything after which the job may exist remotely makes it UNKNOWN. A job
 * is committed as SUBMITTING only when libcurl is about to write its /run
 * (http.h before_send): until then it is PENDING, also for the next driver
 * if this one dies.
 *
 * Long-poll: where the endpoint has it, a job is followed with GET
 * {base}/status-sync/{id}?wait=<ms> instead (RunPod answers when the job is
 * final or the wait is over). A held request hides every other change, so
 * the window follows what is left to learn: until the job is seen running,
 * windows back off like plain polling (2 s at first while nothing watches,
 * up to 10 s); once it runs, 90 s while nothing watches (its result is seen
 * the moment it exists) and 1.5 s while a dashboard or a `wait` watches, so
 * progress still shows. status-sync takes its tokens from the status bucket
 * (it counts against RunPod's status limit) but has its own concurrency cap
 * and its own requests: a cancel, a retry or a plain status never waits
 * behind a long-poll. An endpoint that answers status-sync with 404/405, or
 * answers at once every time, is followed with /status from then on
 * (remembered per endpoint for the life of the driver).
 *
 * COMPLETED: runpod_done.c extracts the images (output.h), fetches URL
 * images through the same curl multi and saves every image; only then the
 * job is committed as COMPLETED with its outputs in one engine_job_update().
 *
 * Split in three (runpod_int.h says what they share): this file is the
 * backend itself (its state, the limiter pump, dispatch of every request,
 * the answers to /run, /cancel, /retry, /health and /purge-queue, the
 * backend operations); runpod_follow.c follows a sent job (the poll
 * schedule, the long-poll, the /status answer, the COMPLETED hand-off);
 * runpod_parse.c reads replies. The next cut, if it grows: runpod-python's
 * local test API (its POST /status and its health).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include "backend.h"
#include "http.h"
#include "image.h"
#include "limiter.h"
#include "output.h"
#include "params.h"
#include "runpod.h"
#include "runpod_done.h"
#include "runpod_int.h"
#include "util.h"

#define STATUS_MAX_BODY ((size_t)256 << 20)
#define SMALL_MAX_BODY ((size_t)1 << 20)
#define FAIL_BACKOFF_MAX_MS 30000
#define PAUSE_MAX_MS 60000
/* runpod-python's local test API runs the handler inside the POST /status
 * request: as long as the handler takes (minutes), and never sent twice. */
#define LOCAL_STATUS_TIMEOUT_MS (6L * 3600 * 1000)

#define LOCAL_CANNOT                                                                               \
	"it has no /health (no queue or worker counts), and cannot cancel, retry or purge jobs; "  \
	"a job runs when sdq asks for its status"
#define NOT_FOUND_MSG "endpoint not found (HTTP 404): check the id"

static const char *const op_names[OP_N] = {"run",         "status", "cancel",     "retry",
                                           "purge-queue", "health", "status-sync"};

/* Budgets per 10 s: 90% of RunPod's (a 10% burst, then 80% steady), so no
 * 10 s window can pass the documented limit. retry and health are not in
 * RunPod's table. Concurrency stays below RunPod's caps (400/200/20), and
 * these caps (not libcurl's, see HTTP_MAX_HOST_CONNECTIONS) are what bound
 * the connections: every /run has a connection of its own (http.h "once"),
 * so a few at a time keep a big batch from timing out before it is even
 * sent. */
static const struct limiter_limit limits[OP_N] = {
    [OP_RUN] = {1000, 6},
    [OP_STATUS] = {2000, 64},
    [OP_CANCEL] = {100, 8},
    [OP_RETRY] = {100, 8},
    [OP_PURGE] = {2, 1},
    [OP_HEALTH] = {100, 2},
    /* status-sync: tokens from the status bucket (limiter_share_tokens);
     * 300 held + 64 plain stay under RunPod's 400 concurrent status requests */
    [OP_SYNC] = {2000, 300},
};

/* ---------- small helpers ---------- */

static double rnd01(struct rp *rp)
{
	/* xorshift64* */
	rp->rng ^= rp->rng >> 12;
	rp->rng ^= rp->rng << 25;
	rp->rng ^= rp->rng >> 27;
	return (double)((rp->rng * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

int64_t runpod_jitter(struct rp *rp, int64_t ms)
{
	return (int64_t)((double)ms * (0.8 + 0.4 * rnd01(rp)));
}

static int64_t backoff_ms(struct rp *rp, int n, int64_t base, int64_t max)
{
	int64_t d = base;
	while (n-- > 0 && d < max)
		d *= 2;
	if (d > max)
		d = max;
	return runpod_jitter(rp, d);
}

static char *url_escape(const char *s)
{
	size_t n = strlen(s);
	char *o = malloc(n * 3 + 1), *p = o;
	if (!o)
		return NULL;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
			*p++ = (char)c;
		} else {
			sprintf(p, "%%%02X", c);
			p += 3;
		}
	}
	*p = '\0';
	return o;
}

const char *runpod_job_base(struct rjob *rj)
{
	return rj->j->endpoint_url ? rj->j->endpoint_url : rj->rp->ep->url;
}

char *runpod_make_url(const char *base, const char *path, const char *id)
{
	char *eid = id ? url_escape(id) : NULL, *u;
	size_t n;
	if (id && !eid)
		return NULL;
	n = strlen(base) + strlen(path) + (eid ? strlen(eid) : 0) + 3;
	u = malloc(n);
	if (u)
		snprintf(u, n, "%s/%s%s%s", base, path, eid ? "/" : "", eid ? eid : "");
	free(eid);
	return u;
}

/* The key to send: for a job's recorded route, the key of its fingerprint
 * from the engine's ring (never another); "" for runpod-python's test API,
 * which takes none (no Authorization header is sent); else the endpoint's
 * configured key. NULL with *err. */
static const char *get_key(struct rp *rp, char **err)
{
	if (rp->local)
		return "";
	if (rp->b.key_fp) {
		const char *k = engine_key(rp->e, rp->b.key_fp);
		if (!k)
			util_set_err(err,
			             "this sdq does not hold the API key the job was submitted with "
			             "(key %s)",
			             rp->b.key_fp);
		return k;
	}
	if (!rp->key) {
		/* an api_key_cmd runs through the loop: NULL until it answers */
		const char *k = engine_endpoint_key(rp->e, rp->ep, err);
		if (k && !(rp->key = strdup(k)))
			util_set_err(err, "out of memory");
	}
	return rp->key;
}

static void drop_key(struct rp *rp)
{
	if (rp->key) {
		config_key_free(rp->key);
		rp->key = NULL;
	}
}

static void report_health(struct rp *rp)
{
	rp->health.updated_at = job_now_ms();
	engine_health_set(rp->e, rp->ep->name, &rp->health);
}

static void health_error(struct rp *rp, const char *msg)
{
	free(rp->health.error);
	rp->health.error = msg ? strdup(msg) : NULL;
}

/* ---------- the limiter ---------- */

static void pump(struct rp *rp);

static void pump_timer_cb(struct engine *e, void *udata)
{
	struct rp *rp = udata;
	(void)e;
	rp->pump_timer = 0;
	pump(rp);
}

/* Run the limiter from the loop (not from the caller's stack). */
void runpod_pump_soon(struct rp *rp)
{
	if (!rp->pump_timer)
		rp->pump_timer = engine_timer_add(rp->e, 0, pump_timer_cb, rp);
}

void runpod_pause_endpoint(struct rp *rp, const struct http_response *r, const char *op)
{
	int64_t d;
	if (r->retry_after_ms >= 0)
		d = r->retry_after_ms < PAUSE_MAX_MS * 5 ? r->retry_after_ms : PAUSE_MAX_MS * 5;
	else
		d = backoff_ms(rp, rp->pause_n, 1000, PAUSE_MAX_MS);
	rp->pause_n++;
	if (util_now_ms() + d > rp->paused_until)
		rp->paused_until = util_now_ms() + d;
	if (!rp->health.rate_limited) {
		rp->health.rate_limited = 1;
		engine_message(rp->e, 1,
		               "endpoint %s: rate limited (HTTP %ld on %s), pausing %.1f s",
		               rp->ep->name, r->status, op, (double)d / 1000.0);
		report_health(rp);
	}
}

void runpod_request_ok(struct rp *rp)
{
	int changed = !rp->health.reachable || rp->health.auth_failed ||
	              (rp->health.rate_limited && util_now_ms() >= rp->paused_until);
	rp->health.reachable = 1;
	rp->health.auth_failed = 0;
	rp->auth_reported = 0;
	if (util_now_ms() >= rp->paused_until) {
		rp->health.rate_limited = 0;
		rp->pause_n = 0;
	}
	if (changed) {
		health_error(rp, NULL);
		report_health(rp);
	}
}

static void dispatch(struct rp *rp, enum op op, struct rjob *rj);

static void pump(struct rp *rp)
{
	int64_t now, wait = -1;

	if (rp->pumping) {
		rp->pump_again = 1;
		return;
	}
	rp->pumping = 1;
	do {
		rp->pump_again = 0;
		now = util_now_ms();
		wait = -1;
		if (now < rp->paused_until) {
			wait = rp->paused_until - now;
			break;
		}
		for (int op = 0; op < OP_N; op++) {
			struct limiter_entry *q;
			while ((q = limiter_take(rp->lim, op, now, &wait))) {
				struct rjob *qrj = limiter_entry_udata(q);
				if (qrj) {
					if (qrj->qe == q)
						qrj->qe = NULL;
					if (qrj->cqe == q)
						qrj->cqe = NULL;
				} else if (rp->health_qe == q) {
					rp->health_qe = NULL;
				} else if (rp->purge_qe == q) {
					rp->purge_qe = NULL;
				}
				limiter_entry_free(q);
				dispatch(rp, (enum op)op, qrj);
				if (now < rp->paused_until)
					break;
			}
		}
	} while (rp->pump_again);
	rp->pumping = 0;
	if (wait >= 0 && !rp->pump_timer)
		rp->pump_timer = engine_timer_add(rp->e, wait, pump_timer_cb, rp);
}

/* Queue op for rj (or the endpoint) and run the limiter. */
void runpod_submit_op(struct rp *rp, enum op op, struct rjob *rj, int front)
{
	struct limiter_entry *q;

	if (rj && op == OP_CANCEL && rj->cqe)
		return;
	if (rj && op != OP_CANCEL && rj->qe)
		return;
	q = limiter_enqueue(rp->lim, op, rj, front);
	if (!q) {
		engine_message(rp->e, 1, "endpoint %s: out of memory", rp->ep->name);
		return;
	}
	if (rj && op == OP_CANCEL)
		rj->cqe = q;
	else if (rj)
		rj->qe = q;
	else if (op == OP_HEALTH)
		rp->health_qe = q;
	else if (op == OP_PURGE)
		rp->purge_qe = q;
	pump(rp);
}

/* ---------- jobs ---------- */

static struct rjob *rjob_find(struct rp *rp, const struct job *j)
{
	for (struct rjob *rj = rp->jobs; rj; rj = rj->next)
		if (rj->j == j)
			return rj;
	return NULL;
}

static struct rjob *rjob_new(struct rp *rp, struct job *j)
{
	struct rjob *rj = calloc(1, sizeof *rj);
	if (!rj)
		return NULL;
	rj->rp = rp;
	rj->j = j;
	rj->queue_backoff = QUEUE_POLL_MIN_MS;
	rj->next = rp->jobs;
	if (rp->jobs)
		rp->jobs->prev = rj;
	rp->jobs = rj;
	return rj;
}

/* Stop everything in flight or scheduled for rj (not the job itself). */
static void rjob_stop(struct rjob *rj)
{
	struct rp *rp = rj->rp;
	struct http *h = engine_http(rp->e);

	engine_timer_cancel(rp->e, rj->timer);
	rj->timer = 0;
	/* a cancelled request's callback never runs: give its slot back here */
	if (rj->req) {
		http_cancel(h, rj->req);
		rj->req = 0;
		limiter_finished(rp->lim, rj->req_op);
		runpod_pump_soon(rp);
	}
	rj->lp_window = 0;
	if (rj->creq) {
		http_cancel(h, rj->creq);
		rj->creq = 0;
		limiter_finished(rp->lim, OP_CANCEL);
		runpod_pump_soon(rp);
	}
	if (rj->qe) {
		limiter_drop(rj->qe);
		rj->qe = NULL;
	}
	if (rj->cqe) {
		limiter_drop(rj->cqe);
		rj->cqe = NULL;
	}
	runpod_done_free(rj->done);
	rj->done = NULL;
}

static void rjob_free(struct rjob *rj)
{
	struct rp *rp = rj->rp;
	rjob_stop(rj);
	if (rj->prev)
		rj->prev->next = rj->next;
	else
		rp->jobs = rj->next;
	if (rj->next)
		rj->next->prev = rj->prev;
	free(rj);
}

static void save_again_cb(struct engine *e, void *udata)
{
	struct rjob *rj = udata;
	(void)e;
	rj->timer = 0;
	runpod_update(rj);
}

/* Commit rj's job; if it is terminal now, rj is freed (and must not be used).
 * A terminal job the store refused (busy, disk full) is kept and saved again
 * in 5 s: the engine keeps it live until a save succeeds. */
void runpod_update(struct rjob *rj)
{
	struct rp *rp = rj->rp;
	struct job *j = rj->j;
	int terminal = job_state_is_terminal(j->state);

	if (terminal)
		rjob_stop(rj);
	if (engine_job_update(rp->e, j) < 0 && terminal) {
		rj->timer = engine_timer_add(rp->e, 5000, save_again_cb, rj);
		return;
	}
	if (terminal)
		rjob_free(rj);
}

static void run_timer_cb(struct engine *e, void *udata)
{
	struct rjob *rj = udata;
	(void)e;
	rj->timer = 0;
	runpod_submit_op(rj->rp, OP_RUN, rj, 0);
}

void runpod_finish(struct rjob *rj, enum job_state s, const char *error)
{
	struct job *j = rj->j;
	j->state = s;
	if (!j->finished_at)
		j->finished_at = job_now_ms();
	if (error)
		job_set_str(&j->error, error);
	runpod_update(rj);
}

/* ---------- responses ---------- */

void runpod_transient(struct rjob *rj, const char *what, const char *why)
{
	struct rp *rp = rj->rp;
	int64_t d = backoff_ms(rp, rj->fails, 1000, FAIL_BACKOFF_MAX_MS);
	rj->fails++;
	if (rj->fails == 3 || (rj->fails > 3 && rj->fails % 10 == 0))
		engine_message(rp->e, 1, "job %lld: %s failed %d times in a row (%s); still trying",
		               (long long)rj->j->id, what, rj->fails, why);
	if (rp->health.reachable || !rp->health.error) {
		rp->health.reachable = 0;
		health_error(rp, why);
		report_health(rp);
	}
	runpod_poll_in(rj, d);
}

void runpod_auth_failed(struct rp *rp, long status)
{
	char msg[512];
	snprintf(msg, sizeof msg,
	         "the endpoint refused the API key (HTTP %ld): check RUNPOD_API_KEY (or the "
	         "endpoint's api_key_env / api_key_file / api_key_cmd)",
	         status);
	drop_key(rp);
	rp->health.auth_failed = 1;
	rp->health.reachable = 1;
	health_error(rp, msg);
	report_health(rp);
	if (!rp->auth_reported) {
		rp->auth_reported = 1;
		engine_message(rp->e, 1, "endpoint %s: %s", rp->ep->name, msg);
	}
}

/* The endpoint answered 404 to /run or /health: its id (or URL) is wrong.
 * Reported as health (not_found) with NOT_FOUND_MSG; a FastAPI-style body
 * ({"detail":"Not Found"}) hints at runpod-python's local test API. */
static void not_found(struct rp *rp, const struct http_response *r)
{
	char msg[600];
	int fastapi = r->len < 200 && strstr(r->body, "\"detail\"") != NULL;

	snprintf(msg, sizeof msg, NOT_FOUND_MSG " (%s)%s", rp->ep->url,
	         fastapi ? "; if this is " LOCAL_API_NAME " (python handler.py --rp_serve_api), "
	                   "use its address with no path, e.g. http://localhost:8000, or set "
	                   "api = runpod-local"
	                 : "");
	rp->health.reachable = 1;
	rp->health.not_found = 1;
	rp->health.valid = 0;
	health_error(rp, msg);
	report_health(rp);
}

static void on_run(struct rjob *rj, const struct http_response *r)
{
	struct rp *rp = rj->rp;
	struct job *j = rj->j;
	char msg[1024], ex[400];
	cJSON *root;
	const cJSON *id, *st;

	if (r->status == 429 || r->status == 503) {
		/* refused: nothing was created; it waits for its turn again */
		runpod_pause_endpoint(rp, r, "run");
		j->state = JOB_PENDING;
		runpod_update(rj);
		runpod_submit_op(rp, OP_RUN, rj, 1);
		return;
	}
	if (r->aborted) {
		/* held back before it left (the store refused SUBMITTING):
		 * still PENDING, sent again later */
		engine_message(rp->e, 1, "job %lld: cannot record that it is being sent; trying "
		               "again in 5 s", (long long)j->id);
		j->state = JOB_PENDING;
		engine_timer_cancel(rp->e, rj->timer);
		rj->timer = engine_timer_add(rp->e, 5000, run_timer_cb, rj);
		return;
	}
	if (r->error) {
		if (!r->sent) {
			snprintf(msg, sizeof msg,
			         "could not reach the endpoint, the job was not sent: %s",
			         r->error);
			runpod_finish(rj, JOB_SUBMIT_FAILED, msg);
		} else {
			snprintf(
			    msg, sizeof msg,
			    "the submit's outcome is unknown (%s): the job may or may not exist "
			    "on the endpoint, so it was not sent again (re-run it if no result "
			    "arrives)",
			    r->error);
			runpod_finish(rj, JOB_UNKNOWN, msg);
		}
		return;
	}
	if (r->status == 401 || r->status == 403) {
		runpod_auth_failed(rp, r->status);
		snprintf(
		    msg, sizeof msg,
		    "the endpoint refused the API key (HTTP %ld): check RUNPOD_API_KEY (or the "
		    "endpoint's api_key_env / api_key_file / api_key_cmd)",
		    r->status);
		runpod_finish(rj, JOB_SUBMIT_FAILED, msg);
		return;
	}
	if (r->status == 404) {
		runpod_request_ok(rp);
		not_found(rp, r);
		runpod_finish(rj, JOB_SUBMIT_FAILED, rp->health.error);
		return;
	}
	if (r->status >= 400 && r->status < 500) {
		runpod_request_ok(rp);
		runpod_body_message(r->body, r->len, ex, sizeof ex);
		snprintf(msg, sizeof msg, "the endpoint refused the job (HTTP %ld): %s", r->status,
		         ex);
		runpod_finish(rj, JOB_SUBMIT_FAILED, msg);
		return;
	}
	if (r->status != 200 && r->status != 201) {
		runpod_body_message(r->body, r->len, ex, sizeof ex);
		snprintf(
		    msg, sizeof msg,
		    "the endpoint answered the submit with HTTP %ld (%s): the job may or may "
		    "not exist there, so it was not sent again (re-run it if no result arrives)",
		    r->status, ex);
		runpod_finish(rj, JOB_UNKNOWN, msg);
		return;
	}
	root = cJSON_ParseWithLength(r->body, r->len);
	id = root ? cJSON_GetObjectItemCaseSensitive(root, "id") : NULL;
	if (!cJSON_IsString(id) || !id->valuestring[0]) {
		cJSON_Delete(root);
		runpod_excerpt(r->body, r->len, ex, 120);
		snprintf(msg, sizeof msg,
		         "the endpoint accepted the submit but its reply has no job id (%s): the "
		         "job may or may not run there",
		         ex);
		runpod_finish(rj, JOB_UNKNOWN, msg);
		return;
	}
	runpod_request_ok(rp);
	job_set_str(&j->remote_id, id->valuestring);
	st = cJSON_GetObjectItemCaseSensitive(root, "status");
	j->state = JOB_IN_QUEUE;
	if (cJSON_IsString(st) && job_state_parse(st->valuestring) == JOB_IN_PROGRESS)
		j->state = JOB_IN_PROGRESS;
	j->submitted_at = job_now_ms();
	cJSON_Delete(root);
	/* the remote id is committed before anything else happens to the job */
	runpod_update(rj);
	if (rj->sync_sent && r->status == 200) {
		/* /runsync: its answer is a status (terminal: saved now; still
		 * running: polled under its id like any job) */
		rj->sync_sent = 0;
		if (rj->cancel_pending) {
			rj->cancel_pending = 0;
			runpod_submit_op(rp, OP_CANCEL, rj, 0);
		}
		runpod_on_status(rj, r);
		return;
	}
	rj->sync_sent = 0;
	if (rj->cancel_pending) {
		rj->cancel_pending = 0;
		runpod_submit_op(rp, OP_CANCEL, rj, 0);
	}
	runpod_poll_in(rj, runpod_first_poll_ms(rj));
}

static void on_cancel(struct rjob *rj, const struct http_response *r)
{
	struct rp *rp = rj->rp;
	cJSON *root;
	const cJSON *st;

	if (rj->done)
		return; /* COMPLETED was seen first: its images are being saved */
	if (r->status == 429 || r->status == 503) {
		runpod_pause_endpoint(rp, r, "cancel");
		runpod_submit_op(rp, OP_CANCEL, rj, 1);
		return;
	}
	if (r->error || r->status >= 500) {
		/* cancel is idempotent: try again */
		engine_timer_cancel(rp->e, rj->timer);
		rj->timer = 0;
		if (++rj->fails > 8) {
			engine_message(rp->e, 1, "job %lld: cancel failed: %s",
			               (long long)rj->j->id, r->error ? r->error : "server error");
			rj->fails = 0;
			runpod_poll_in(rj, 1000);
			return;
		}
		runpod_submit_op(rp, OP_CANCEL, rj, 0);
		return;
	}
	if (r->status == 401 || r->status == 403) {
		runpod_auth_failed(rp, r->status);
		return;
	}
	root = cJSON_ParseWithLength(r->body, r->len);
	st = root ? cJSON_GetObjectItemCaseSensitive(root, "status") : NULL;
	if (r->status == 200 && cJSON_IsString(st) &&
	    job_state_parse(st->valuestring) == JOB_CANCELLED) {
		cJSON_Delete(root);
		runpod_request_ok(rp);
		runpod_finish(rj, JOB_CANCELLED, NULL);
		return;
	}
	cJSON_Delete(root);
	/* anything else (already finished, 404...): let a status poll decide */
	if (!rj->req && !rj->done)
		runpod_poll_in(rj, 0);
}

static void on_retry(struct rjob *rj, const struct http_response *r)
{
	struct rp *rp = rj->rp;
	struct job *j = rj->j;
	char ex[300];

	if (r->status == 429 || r->status == 503) {
		runpod_pause_endpoint(rp, r, "retry");
		runpod_submit_op(rp, OP_RETRY, rj, 1);
		return;
	}
	if (r->status == 200 || r->status == 201) {
		cJSON *root = cJSON_ParseWithLength(r->body, r->len);
		const cJSON *st = root ? cJSON_GetObjectItemCaseSensitive(root, "status") : NULL;
		enum job_state s =
		    cJSON_IsString(st) ? job_state_parse(st->valuestring) : JOB_IN_QUEUE;
		cJSON_Delete(root);
		if (s != JOB_IN_PROGRESS)
			s = JOB_IN_QUEUE;
		runpod_request_ok(rp);
		j->state = s;
		j->finished_at = 0;
		j->started_at = 0;
		j->progress = -1;
		job_set_str(&j->progress_text, NULL);
		job_set_str(&j->error, NULL);
		job_set_str(&j->raw_output, NULL);
		job_set_str(&j->status_text, NULL);
		rj->queue_backoff = QUEUE_POLL_MIN_MS;
		runpod_update(rj);
		runpod_poll_in(rj, runpod_first_poll_ms(rj));
		return;
	}
	if (r->error)
		snprintf(ex, sizeof ex, "%s", r->error);
	else if (r->status == 401 || r->status == 403) {
		runpod_auth_failed(rp, r->status);
		snprintf(ex, sizeof ex, "HTTP %ld: the endpoint refused the API key", r->status);
	} else {
		char b[200];
		runpod_body_message(r->body, r->len, b, sizeof b);
		snprintf(ex, sizeof ex, "HTTP %ld: %s", r->status, b);
	}
	engine_message(rp->e, 1, "job %lld: the endpoint did not retry it (%s)", (long long)j->id,
	               ex);
	runpod_update(rj); /* still terminal: the engine lets it go */
}

static void local_health(struct rp *rp, int busy);

static void on_health(struct rp *rp, const struct http_response *r)
{
	char msg[512];

	rp->health.updated_at = job_now_ms();
	if (r->status == 429 || r->status == 503) {
		runpod_pause_endpoint(rp, r, "health");
		return;
	}
	if (r->error) {
		rp->health.reachable = 0;
		health_error(rp, r->error);
		report_health(rp);
		return;
	}
	if (r->status == 401 || r->status == 403) {
		runpod_auth_failed(rp, r->status);
		return;
	}
	if (rp->local) {
		/* no /health there: any HTTP answer to the probe means it is up */
		local_health(rp, 0);
		return;
	}
	if (r->status == 404) {
		not_found(rp, r);
		return;
	}
	if (r->status != 200 || runpod_health_parse(r->body, r->len, &rp->health) < 0) {
		char ex[200];
		runpod_body_message(r->body, r->len, ex, sizeof ex);
		snprintf(msg, sizeof msg, "health: HTTP %ld: %s", r->status, ex);
		rp->health.reachable = 1;
		health_error(rp, msg);
		report_health(rp);
		return;
	}
	rp->health.valid = 1;
	rp->health.reachable = 1;
	rp->health.auth_failed = 0;
	rp->health.not_found = 0;
	if (util_now_ms() >= rp->paused_until)
		rp->health.rate_limited = 0;
	health_error(rp, NULL);
	report_health(rp);
}

static void on_purge(struct rp *rp, const struct http_response *r)
{
	cJSON *root;
	const cJSON *n;

	if (r->status == 429 || r->status == 503) {
		runpod_pause_endpoint(rp, r, "purge-queue");
		runpod_submit_op(rp, OP_PURGE, NULL, 1);
		return;
	}
	if (r->error) {
		engine_message(rp->e, 1, "endpoint %s: purge-queue failed: %s", rp->ep->name,
		               r->error);
		return;
	}
	if (r->status == 401 || r->status == 403) {
		runpod_auth_failed(rp, r->status);
		return;
	}
	if (r->status != 200) {
		char ex[200];
		runpod_body_message(r->body, r->len, ex, sizeof ex);
		engine_message(rp->e, 1, "endpoint %s: purge-queue failed: HTTP %ld: %s",
		               rp->ep->name, r->status, ex);
		return;
	}
	root = cJSON_ParseWithLength(r->body, r->len);
	n = root ? cJSON_GetObjectItem(root, "removed") : NULL;
	if (runpod_num_i64(n) >= 0)
		engine_message(rp->e, 0, "endpoint %s: removed %ld queued job%s", rp->ep->name,
		               (long)runpod_num_i64(n), runpod_num_i64(n) == 1 ? "" : "s");
	else
		engine_message(rp->e, 0, "endpoint %s: queue purged", rp->ep->name);
	cJSON_Delete(root);
	/* our queued jobs learn their fate at once */
	for (struct rjob *rj = rp->jobs; rj; rj = rj->next)
		if (rj->j->state == JOB_IN_QUEUE && !rj->req && !rj->qe && !rj->done)
			runpod_poll_in(rj, 0);
}

/* ---------- dispatch ---------- */

static void http_done(struct http *h, const struct http_response *r, void *udata)
{
	struct reqctx *ctx = udata;
	struct rp *rp = ctx->rp;
	struct rjob *rj = ctx->rj;
	enum op op = ctx->op;
	(void)h;

	limiter_finished(rp->lim, op);
	if (rj) {
		if (op == OP_CANCEL)
			rj->creq = 0;
		else
			rj->req = 0;
	} else if (op == OP_HEALTH) {
		rp->health_req = 0;
	} else if (op == OP_PURGE) {
		rp->purge_req = 0;
	}
	switch (op) {
	case OP_RUN:
		on_run(rj, r);
		break;
	case OP_STATUS:
		runpod_on_status(rj, r);
		break;
	case OP_SYNC:
		runpod_on_status_sync(rj, r);
		break;
	case OP_CANCEL:
		on_cancel(rj, r);
		break;
	case OP_RETRY:
		on_retry(rj, r);
		break;
	case OP_HEALTH:
		on_health(rp, r);
		break;
	case OP_PURGE:
		on_purge(rp, r);
		break;
	default:
		break;
	}
	pump(rp);
}

/* The /run body of a job that recorded it at submit: {"input": the
 * rendered input byte for byte, then the members of run_extra}. */
static char *recorded_body(const struct job *j, char **err)
{
	const char *x = j->run_extra;
	size_t nin = strlen(j->input_json), nx;
	char *out;

	/* run_extra is an object's text "{...}": its members follow input */
	if (x && (x[0] != '{' || strlen(x) < 2 || x[strlen(x) - 1] != '}'))
		x = NULL;
	if (x && strspn(x + 1, " \t\r\n") == strlen(x) - 2)
		x = NULL; /* {} */
	nx = x ? strlen(x) : 0;
	out = malloc(nin + nx + 16);
	if (!out) {
		util_set_err(err, "out of memory");
		return NULL;
	}
	memcpy(out, "{\"input\":", 9);
	memcpy(out + 9, j->input_json, nin);
	if (x) {
		out[9 + nin] = ',';
		memcpy(out + 10 + nin, x + 1, nx - 1); /* with its closing } */
		out[9 + nin + nx] = '\0';
	} else {
		out[9 + nin] = '}';
		out[10 + nin] = '\0';
	}
	return out;
}

/* The /run body: as recorded at submit (recorded_body), or for a job of an
 * older history {"input": <params_build_input>, "webhook"?, "policy"?}. The
 * rendered input is spliced in as the bytes it is, never parsed and printed
 * again: cJSON would turn a 64-bit seed into a double. */
static char *run_body(struct rp *rp, struct job *j, char **err)
{
	struct config *cfg = engine_config(rp->e);
	char *in;
	cJSON *rest, *pol;
	char *tail, *out;
	size_t n;

	if (j->input_json)
		return recorded_body(j, err);
	in = params_build_input(&j->params, j->params.template_name, cfg->config_dir, err);
	if (!in)
		return NULL;
	rest = cJSON_CreateObject();
	if (!rest) {
		free(in);
		util_set_err(err, "out of memory");
		return NULL;
	}
	if (rp->ep->webhook_set && rp->ep->webhook && rp->ep->webhook[0])
		cJSON_AddStringToObject(rest, "webhook", rp->ep->webhook);
	if (rp->ep->execution_timeout_ms > 0 || rp->ep->ttl_ms > 0 || rp->ep->low_priority) {
		pol = cJSON_AddObjectToObject(rest, "policy");
		if (pol && rp->ep->execution_timeout_ms > 0)
			cJSON_AddNumberToObject(pol, "executionTimeout",
			                        (double)rp->ep->execution_timeout_ms);
		if (pol && rp->ep->ttl_ms > 0)
			cJSON_AddNumberToObject(pol, "ttl", (double)rp->ep->ttl_ms);
		if (pol && rp->ep->low_priority)
			cJSON_AddBoolToObject(pol, "lowPriority", 1);
	}
	tail = cJSON_PrintUnformatted(rest); /* "{}" or "{...}" */
	cJSON_Delete(rest);
	n = tail ? sizeof "{\"input\":" + strlen(in) + strlen(tail) + 1 : 0;
	out = n ? malloc(n) : NULL;
	if (out)
		snprintf(out, n, "{\"input\":%s%s%s", in, tail[1] == '}' ? "" : ",", tail + 1);
	else
		util_set_err(err, "out of memory");
	free(tail);
	free(in);
	return out;
}

/* http.h before_send of a /run: the connection is ready and the request is
 * about to leave. Commit SUBMITTING first (from here on the endpoint may see
 * the job, so it is never sent again); if the store refuses, hold the
 * request back: nothing was sent, the job stays PENDING. */
static int run_before_send(void *udata)
{
	struct reqctx *ctx = udata;
	struct rjob *rj = ctx->rj;
	struct job *j = rj->j;

	j->state = JOB_SUBMITTING;
	job_set_str(&j->endpoint_url, ctx->rp->ep->url);
	if (engine_job_commit(ctx->rp->e, j) < 0) {
		j->state = JOB_PENDING;
		return -1;
	}
	return 0;
}

static void key_wait_cb(struct engine *e, void *udata)
{
	struct rp *rp = udata;
	(void)e;
	rp->key_timer = 0;
	if (!rp->health_req && !rp->health_qe)
		runpod_submit_op(rp, OP_HEALTH, NULL, 0);
}

static void dispatch(struct rp *rp, enum op op, struct rjob *rj)
{
	struct http_request req;
	struct reqctx *ctx;
	char *url = NULL, *body = NULL, *err = NULL;
	const char *key;
	uint64_t id;
	int sync_ms;

	key = get_key(rp, &err);
	if (!key && !rp->b.key_fp && engine_key_pending(rp->e, rp->ep->name)) {
		/* its api_key_cmd has not answered yet (the engine said so):
		 * ask again in a second, fail nothing */
		free(err);
		if (rj) {
			engine_timer_cancel(rp->e, rj->timer);
			rj->timer = engine_timer_add(
			    rp->e, 1000, op == OP_RUN ? run_timer_cb : runpod_poll_timer_cb, rj);
		} else if (op == OP_HEALTH && !rp->key_timer) {
			rp->key_timer = engine_timer_add(rp->e, 1000, key_wait_cb, rp);
		}
		return;
	}
	if (!key) {
		char msg[1024];
		snprintf(msg, sizeof msg, "no API key: %s", err ? err : "not configured");
		free(err);
		health_error(rp, msg);
		report_health(rp);
		if (rj && op == OP_RUN) {
			runpod_finish(rj, JOB_SUBMIT_FAILED, msg);
		} else if (rj) {
			if (!rp->auth_reported) {
				rp->auth_reported = 1;
				engine_message(rp->e, 1, "endpoint %s: %s", rp->ep->name, msg);
			}
			if (op != OP_RETRY)
				runpod_poll_in(rj, 30000);
			else
				runpod_update(rj);
		} else {
			engine_message(rp->e, 1, "endpoint %s: %s", rp->ep->name, msg);
		}
		return;
	}
	memset(&req, 0, sizeof req);
	req.api_key = key[0] ? key : NULL;
	req.connect_timeout_ms = 10000;
	req.timeout_ms = 30000;
	req.max_response = SMALL_MAX_BODY;
	switch (op) {
	case OP_RUN:
		body = run_body(rp, rj->j, &err);
		if (!body) {
			char msg[1024];
			snprintf(msg, sizeof msg, "cannot build the job's input: %s",
			         err ? err : "error");
			free(err);
			runpod_finish(rj, JOB_SUBMIT_FAILED, msg);
			return;
		}
		/* The job stays PENDING until libcurl is about to write the
		 * request (run_before_send commits SUBMITTING then): a driver
		 * that dies before that leaves it PENDING, sent again by the
		 * next one; after it, the outcome is unknown. */
		req.before_send = run_before_send;
		sync_ms = engine_job_sync_wait(rp->e, rj->j->id);
		rj->sync_sent = sync_ms > 0;
		if (sync_ms > 0) {
			char path[40];
			snprintf(path, sizeof path, "runsync?wait=%d", sync_ms);
			url = runpod_make_url(rp->ep->url, path, NULL);
			/* its answer comes when the job ends or the wait is over */
			req.timeout_ms = (long)sync_ms + 30000;
			req.max_response = STATUS_MAX_BODY;
		} else {
			url = runpod_make_url(rp->ep->url, "run", NULL);
		}
		req.method = "POST";
		req.body = body;
		req.once = 1;
		break;
	case OP_STATUS:
		url = runpod_make_url(runpod_job_base(rj), "status", rj->j->remote_id);
		req.max_response = STATUS_MAX_BODY;
		req.timeout_ms = 120000;
		if (rp->local) {
			/* runs the handler: long, and never sent twice */
			req.method = "POST";
			req.timeout_ms = LOCAL_STATUS_TIMEOUT_MS;
			req.once = 1;
		}
		rj->lp_again = 0;
		break;
	case OP_SYNC:
		url = runpod_longpoll_url(rj);
		req.max_response = STATUS_MAX_BODY;
		/* the endpoint holds it up to lp_window: time out well after */
		req.timeout_ms = rj->lp_window + 120000L;
		rj->lp_again = 0;
		break;
	case OP_CANCEL:
		url = runpod_make_url(runpod_job_base(rj), "cancel", rj->j->remote_id);
		req.method = "POST";
		break;
	case OP_RETRY:
		url = runpod_make_url(runpod_job_base(rj), "retry", rj->j->remote_id);
		req.method = "POST";
		break;
	case OP_PURGE:
		url = runpod_make_url(rp->ep->url, "purge-queue", NULL);
		req.method = "POST";
		break;
	case OP_HEALTH:
		/* the test API has no /health: its API description answers */
		url = runpod_make_url(rp->ep->url, rp->local ? "openapi.json" : "health", NULL);
		break;
	default:
		return;
	}
	if (!rj)
		ctx = op == OP_HEALTH ? &rp->hctx : &rp->pctx;
	else
		ctx = op == OP_CANCEL ? &rj->cctx : &rj->rctx;
	if (!url) {
		free(body);
		engine_message(rp->e, 1, "endpoint %s: out of memory", rp->ep->name);
		if (rj && op == OP_RUN)
			runpod_finish(rj, JOB_SUBMIT_FAILED, "out of memory");
		else if (rj)
			runpod_poll_in(rj, 5000);
		return;
	}
	req.url = url;
	ctx->rp = rp;
	ctx->rj = rj;
	ctx->op = op;
	id = http_request(engine_http(rp->e), &req, http_done, ctx, &err);
	free(url);
	free(body);
	if (!id) {
		char msg[1024];
		snprintf(msg, sizeof msg, "%s: %s", op_names[op], err ? err : "cannot start");
		free(err);
		if (rj && op == OP_RUN)
			runpod_finish(rj, JOB_SUBMIT_FAILED, msg);
		else if (rj && op == OP_RETRY)
			runpod_update(rj);
		else if (rj)
			runpod_transient(rj, op_names[op], msg);
		else
			engine_message(rp->e, 1, "endpoint %s: %s", rp->ep->name, msg);
		return;
	}
	limiter_started(rp->lim, op);
	if (!rj) {
		if (op == OP_HEALTH)
			rp->health_req = id;
		else
			rp->purge_req = id;
	} else if (op == OP_CANCEL) {
		rj->creq = id;
	} else {
		rj->req = id;
		rj->req_op = op;
	}
}

/* ---------- backend operations ---------- */

static struct rp *RP(struct backend *b)
{
	return b->priv;
}

static int rp_drive(struct backend *b, struct job *j, char **err)
{
	struct rp *rp = RP(b);
	struct rjob *rj = rjob_find(rp, j);

	if (!rj && !(rj = rjob_new(rp, j))) {
		util_set_err(err, "out of memory");
		return -1;
	}
	switch (j->state) {
	case JOB_PENDING:
		runpod_submit_op(rp, OP_RUN, rj, 0);
		return 0;
	case JOB_IN_QUEUE:
	case JOB_IN_PROGRESS:
	case JOB_OTHER:
		if (!j->remote_id) {
			rjob_free(rj);
			util_set_err(err, "job has no remote id; cannot follow it");
			return -1;
		}
		/* resumed: look at once */
		runpod_poll_in(rj, 0);
		return 0;
	default:
		rjob_free(rj);
		util_set_err(err, "job is not in a state the RunPod backend can drive");
		return -1;
	}
}

static int rp_cancel(struct backend *b, struct job *j, char **err)
{
	struct rp *rp = RP(b);
	struct rjob *rj = rjob_find(rp, j);

	if (!rj) {
		util_set_err(err, "job is not being driven");
		return -1;
	}
	if (rj->done)
		return 0; /* its images are being saved: too late */
	if (j->state == JOB_PENDING) {
		runpod_finish(rj, JOB_CANCELLED, NULL);
		return 0;
	}
	if (j->state == JOB_SUBMITTING || !j->remote_id) {
		rj->cancel_pending = 1;
		return 0;
	}
	if (rj->creq || rj->cqe)
		return 0;
	if (rp->local) {
		/* no /cancel there: stop following it (its handler may run on) */
		if (rj->req) {
			http_cancel(engine_http(rp->e), rj->req);
			rj->req = 0;
			limiter_finished(rp->lim, OP_STATUS);
		}
		runpod_finish(rj, JOB_CANCELLED,
		              "cancelled in sdq only: " LOCAL_API_NAME " cannot cancel a job, so its "
		              "handler may still run to the end");
		return 0;
	}
	rj->fails = 0;
	runpod_submit_op(rp, OP_CANCEL, rj, 0);
	return 0;
}

static int rp_retry(struct backend *b, struct job *j, char **err)
{
	struct rp *rp = RP(b);
	struct rjob *rj;

	if (!j->remote_id || (j->state != JOB_FAILED && j->state != JOB_TIMED_OUT)) {
		util_set_err(err, "only a FAILED or TIMED_OUT job that reached the endpoint can be "
		                  "retried");
		return -1;
	}
	if (rp->local) {
		util_set_err(err, LOCAL_API_NAME " has no /retry: re-run the job instead");
		return -1;
	}
	rj = rjob_find(rp, j);
	if (!rj && !(rj = rjob_new(rp, j))) {
		util_set_err(err, "out of memory");
		return -1;
	}
	runpod_submit_op(rp, OP_RETRY, rj, 0);
	return 0;
}

static void rp_forget(struct backend *b, struct job *j)
{
	struct rjob *rj = rjob_find(RP(b), j);
	if (rj)
		rjob_free(rj);
}

/* runpod-python's local test API: up, no counts, and what it cannot do. */
static void local_health(struct rp *rp, int busy)
{
	rp->health.reachable = 1;
	rp->health.valid = 0;
	rp->health.not_found = 0;
	rp->health.no_health = 1;
	free(rp->health.text);
	rp->health.text = strdup(busy ? LOCAL_API_NAME " (python handler.py --rp_serve_api), "
	                                "running a handler: " LOCAL_CANNOT
	                              : LOCAL_API_NAME " (python handler.py --rp_serve_api): "
	                                LOCAL_CANNOT);
	health_error(rp, NULL);
	report_health(rp);
}

static int rp_health(struct backend *b, char **err)
{
	struct rp *rp = RP(b);
	(void)err;
	if (rp->health_req || rp->health_qe)
		return 0;
	if (rp->local) {
		/* A handler runs inside a status request, and a synchronous one
		 * blocks that whole server: a probe now would only time out. */
		for (struct rjob *rj = rp->jobs; rj; rj = rj->next) {
			if (rj->req && rj->j->state == JOB_IN_PROGRESS) {
				local_health(rp, 1);
				return 0;
			}
		}
	}
	runpod_submit_op(rp, OP_HEALTH, NULL, 0);
	return 0;
}

static int rp_purge(struct backend *b, char **err)
{
	struct rp *rp = RP(b);
	if (rp->local) {
		util_set_err(err, LOCAL_API_NAME " has no queue to purge (no /purge-queue)");
		return -1;
	}
	if (rp->purge_req || rp->purge_qe)
		return 0;
	runpod_submit_op(rp, OP_PURGE, NULL, 0);
	return 0;
}

static void rp_watch(struct backend *b, int watched)
{
	runpod_longpoll_watch(RP(b), watched);
}

static void rp_free(struct backend *b)
{
	struct rp *rp;
	struct http *h;

	if (!b)
		return;
	rp = RP(b);
	h = engine_http(rp->e);
	while (rp->jobs)
		rjob_free(rp->jobs);
	if (rp->health_req)
		http_cancel(h, rp->health_req);
	if (rp->purge_req)
		http_cancel(h, rp->purge_req);
	engine_timer_cancel(rp->e, rp->pump_timer);
	engine_timer_cancel(rp->e, rp->key_timer);
	limiter_free(rp->lim);
	drop_key(rp);
	engine_health_clear(&rp->health);
	free(rp);
}

const struct backend_ops runpod_ops = {
    .drive = rp_drive,
    .cancel = rp_cancel,
    .retry = rp_retry,
    .forget = rp_forget,
    .health = rp_health,
    .purge = rp_purge,
    .sigchld = NULL,
    .watch = rp_watch,
    .free = rp_free,
};

struct backend *runpod_backend_new(struct engine *e, const struct config_endpoint *ep, char **err)
{
	struct rp *rp;
	int64_t now = util_now_ms();

	if (!ep || ep->kind != CONFIG_RUNPOD || !ep->url || !ep->url[0]) {
		util_set_err(err, "not a RunPod endpoint (no url)");
		return NULL;
	}
	rp = calloc(1, sizeof *rp);
	if (!rp) {
		util_set_err(err, "out of memory");
		return NULL;
	}
	rp->b.ops = &runpod_ops;
	rp->b.engine = e;
	rp->b.ep = ep;
	rp->b.priv = rp;
	rp->e = e;
	rp->ep = ep;
	rp->local = strcmp(config_endpoint_api(ep), "runpod-local") == 0;
	if (rp->local)
		rp->lp_mode = -1; /* its status runs the job: never a long-poll */
	rp->watched = engine_watched(e);
	rp->rng = (uint64_t)now * 6364136223846793005ULL ^ ((uint64_t)getpid() << 32) ^
	          (uint64_t)(uintptr_t)rp;
	if (!rp->rng)
		rp->rng = 88172645463325252ULL;
	if (!(rp->lim = limiter_new(limits, OP_N, now))) {
		free(rp);
		util_set_err(err, "out of memory");
		return NULL;
	}
	limiter_share_tokens(rp->lim, OP_SYNC, OP_STATUS);
	rp->health.jobs_completed = rp->health.jobs_failed = rp->health.jobs_in_progress = -1;
	rp->health.jobs_in_queue = rp->health.jobs_retried = -1;
	rp->health.workers_idle = rp->health.workers_running = rp->health.workers_initializing = -1;
	rp->health.workers_ready = rp->health.workers_throttled = rp->health.workers_unhealthy = -1;
	return &rp->b;
}
