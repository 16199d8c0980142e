/*
 * runpod_follow.c: following a RunPod job once it is sent (part of the
 * RunPod backend, runpod_int.h; runpod.c sends the requests).
 *
 * The poll schedule: ~1 s after the submit, every ~1 s while IN_PROGRESS,
 * backing off 1 -> 2 -> 4 -> 8 -> 10 s while IN_QUEUE, with jitter. Where
 * the endpoint has it, the long-poll GET {base}/status-sync/{id}?wait=<ms>
 * instead (see runpod.c's opening comment for its windows). The /status
 * answer moves the job through its states; a COMPLETED one goes to
 * runpod_done.c, which saves the images, and is committed once with them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "backend.h"
#include "http.h"
#include "limiter.h"
#include "output.h"
#include "runpod.h"
#include "runpod_done.h"
#include "runpod_int.h"
#include "util.h"

#define FIRST_POLL_MS 1000
#define PROGRESS_POLL_MS 1000
#define SAVE_RETRY_MS 10000
#define PROGRESS_SAVE_MS 2000
#define SYNC_POLL_MAX_MS 3000
#define LONGPOLL_MS 90000           /* status-sync window of a running job nobody watches */
#define LONGPOLL_WATCHED_MS 1500    /* ... while watched: progress every <= 2 s */
#define LONGPOLL_QUEUED_MIN_MS 2000 /* first window of a job not seen running, unwatched */
#define LONGPOLL_INSTANT_N 3        /* this many early answers in a row: unsupported */

/* A job sent through /runsync ("sync-<uuid>-u1"): its result lives 60 s. */
static int is_sync_id(const char *id)
{
	return id && strncmp(id, "sync-", 5) == 0;
}

/* ---------- the poll schedule ---------- */

static enum op status_op(struct rjob *rj);

void runpod_poll_timer_cb(struct engine *e, void *udata)
{
	struct rjob *rj = udata;
	(void)e;
	rj->timer = 0;
	/* One request per job at a time: a request in flight schedules the
	 * next poll itself, and a job whose images are being saved is past
	 * polling (a second COMPLETED would start a second completion while
	 * the first one's downloads still point at this job). */
	if (rj->req || rj->done)
		return;
	runpod_submit_op(rj->rp, status_op(rj), rj, 0);
}

void runpod_poll_in(struct rjob *rj, int64_t ms)
{
	engine_timer_cancel(rj->rp->e, rj->timer);
	rj->timer = engine_timer_add(rj->rp->e, ms, runpod_poll_timer_cb, rj);
}

/* The next look at a live job after a status answer: at once after a
 * status-sync the endpoint held (it already waited for us), else in ms. */
static void poll_next(struct rjob *rj, int64_t ms)
{
	int again = rj->lp_again;
	rj->lp_again = 0;
	runpod_poll_in(rj, again ? 0 : ms);
}

/* ---------- completion (runpod_done.c saves the images) ---------- */

/* Saving failed or a download failed: keep the job as it is and look again
 * later (RunPod keeps the result 30 minutes). why NULL: out of memory. */
static void complete_later(struct rjob *rj, const char *why)
{
	struct rp *rp = rj->rp;
	char msg[1200];

	if (!why) {
		runpod_poll_in(rj, SAVE_RETRY_MS);
		return;
	}
	engine_message(rp->e, 1, "job %lld: %s; trying again in %d s", (long long)rj->j->id, why,
	               SAVE_RETRY_MS / 1000);
	job_clear_outputs(rj->j);
	/* Shown on the job (sdq show, --json, the dashboard) while it is
	 * stuck, not only in the driver's log; cleared when a save works. */
	snprintf(msg, sizeof msg, "%s; retrying every %d s", why, SAVE_RETRY_MS / 1000);
	if (!rj->j->error || strcmp(rj->j->error, msg) != 0) {
		job_set_str(&rj->j->error, msg);
		engine_job_update(rp->e, rj->j);
	}
	runpod_poll_in(rj, SAVE_RETRY_MS);
}

/* What became of a completion: commit the job COMPLETED with its outputs,
 * or FAILED, or keep it and ask again later. */
static void complete_result(struct rjob *rj, enum runpod_done_result r, const char *msg)
{
	if (r == RUNPOD_DONE_SAVED)
		runpod_update(rj);
	else if (r == RUNPOD_DONE_FAILED)
		runpod_finish(rj, JOB_FAILED, msg);
	else
		complete_later(rj, msg);
}

/* The downloads of a completion ended (msg is not d's: it outlives d). */
static void complete_done(struct runpod_done *d, enum runpod_done_result r, const char *msg,
                          void *udata)
{
	struct rjob *rj = udata;
	rj->done = NULL;
	runpod_done_free(d);
	complete_result(rj, r, msg);
}

/* A COMPLETED reply (root, taken): its timings now, then runpod_done finds,
 * downloads and saves the images; the job is committed once, as COMPLETED
 * with every output (or FAILED). */
static void on_completed(struct rjob *rj, cJSON *root)
{
	struct job *j = rj->j;
	const cJSON *v;
	char *msg = NULL;
	int64_t n;
	enum runpod_done_result r;

	if ((n = runpod_num_i64(cJSON_GetObjectItemCaseSensitive(root, "delayTime"))) >= 0)
		j->delay_ms = n;
	if ((n = runpod_num_i64(cJSON_GetObjectItemCaseSensitive(root, "executionTime"))) >= 0)
		j->exec_ms = n;
	v = cJSON_GetObjectItemCaseSensitive(root, "workerId");
	if (cJSON_IsString(v))
		job_set_str(&j->worker_id, v->valuestring);
	r = runpod_done_start(rj->rp->e, j, root, &rj->fetch_tries, complete_done, rj, &rj->done,
	                      &msg);
	if (r != RUNPOD_DONE_PENDING)
		complete_result(rj, r, msg);
	free(msg);
}

/* ---------- long-poll (status-sync) ---------- */

/* How long status-sync should hold rj. It answers when the job is final or
 * the window ends, so a window hides every other change: until the job is
 * seen running, windows back off like plain polling (state changes, an
 * unknown status included, show as soon as polling would show them: `sdq
 * show` and `ls` tell the truth); once it runs, only progress is left to
 * learn, so the window is long while nothing watches, and short while a
 * dashboard or a `wait` shows progress (every <= 2 s). */
static int longpoll_window(struct rjob *rj)
{
	int64_t w;
	if (rj->j->state == JOB_IN_PROGRESS)
		return rj->rp->watched ? LONGPOLL_WATCHED_MS : LONGPOLL_MS;
	w = rj->queue_backoff;
	if (!rj->rp->watched && w < LONGPOLL_QUEUED_MIN_MS)
		w = LONGPOLL_QUEUED_MIN_MS;
	if (w < 1000)
		w = 1000; /* RunPod's smallest wait */
	return w > QUEUE_POLL_MAX_MS ? QUEUE_POLL_MAX_MS : (int)w;
}

/* Which status request to send for rj now: status-sync unless the endpoint
 * lacks it or every long-poll slot is taken (a job is never queued behind
 * held requests: it gets a plain status instead). Sets rj->lp_window. */
static enum op status_op(struct rjob *rj)
{
	struct rp *rp = rj->rp;

	rj->lp_window = 0;
	if (rp->lp_mode < 0 || !rj->j->remote_id || limiter_busy(rp->lim, OP_SYNC))
		return OP_STATUS;
	rj->lp_window = longpoll_window(rj);
	return OP_SYNC;
}

/* The first look after a submit or a retry: a long-poll can be sent at once
 * (it is held until something happens); a plain status waits a second. */
int64_t runpod_first_poll_ms(struct rjob *rj)
{
	return rj->rp->lp_mode >= 0 ? 0 : runpod_jitter(rj->rp, FIRST_POLL_MS);
}

char *runpod_longpoll_url(struct rjob *rj)
{
	char *u = runpod_make_url(runpod_job_base(rj), "status-sync", rj->j->remote_id), *q;
	if (!u)
		return NULL;
	q = util_asprintf("%s?wait=%d", u, rj->lp_window);
	free(u);
	rj->lp_sent = util_now_ms();
	return q;
}

/* Whether a status body says a final status, without parsing it (runpod_on_status
 * parses it once, and may free the job). Looks at "status" in its head. */
static int body_is_final(const char *b, size_t len)
{
	static const char *const fin[] = {"COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"};
	size_t n = len < 1024 ? len : 1024;
	for (size_t i = 0; i + 8 <= n; i++) {
		size_t k = i + 8;
		if (memcmp(b + i, "\"status\"", 8) != 0)
			continue;
		while (k < n && (b[k] == ' ' || b[k] == ':' || b[k] == '\t'))
			k++;
		if (k >= n || b[k] != '"')
			return 0;
		k++;
		for (size_t f = 0; f < 4; f++) {
			size_t fl = strlen(fin[f]);
			if (k + fl < n && memcmp(b + k, fin[f], fl) == 0 && b[k + fl] == '"')
				return 1;
		}
		return 0;
	}
	return 0;
}

static void longpoll_unsupported(struct rp *rp, const char *why)
{
	if (rp->lp_mode < 0)
		return;
	rp->lp_mode = -1;
	engine_message(rp->e, 0, "endpoint %s: %s; following jobs with /status", rp->ep->name, why);
}

/* A status-sync answer. 404/405 before status-sync ever held a request
 * means the endpoint lacks it (a 404 for a job it no longer knows is
 * confirmed by a plain status); early non-final answers in a row mean
 * something in between answers at once. The body is a status either way. */
void runpod_on_status_sync(struct rjob *rj, const struct http_response *r)
{
	struct rp *rp = rj->rp;
	int window = rj->lp_window;
	int64_t took = util_now_ms() - rj->lp_sent;

	if (rj->done)
		return;
	if (!r->error && (r->status == 404 || r->status == 405)) {
		if (r->status == 405 || rp->lp_mode == 0) {
			char why[80];
			snprintf(why, sizeof why, "no long-poll status (/status-sync: HTTP %ld)",
			         r->status);
			longpoll_unsupported(rp, why);
		}
		rj->lp_window = 0;
		runpod_submit_op(rp, OP_STATUS, rj, 1);
		return;
	}
	if (!r->error && r->status == 200 && window > 0) {
		/* held (or final, which proves nothing): poll again at once */
		int early = took < window / 2;
		int final = body_is_final(r->body, r->len);
		if (!early) {
			rp->lp_mode = 1;
			rp->lp_instant = 0;
			rj->lp_again = 1;
		} else if (!final && ++rp->lp_instant >= LONGPOLL_INSTANT_N && rp->lp_mode != 1) {
			longpoll_unsupported(rp, "the long-poll status (/status-sync) answers at "
			                         "once");
		}
	}
	rj->lp_window = 0;
	runpod_on_status(rj, r);
}

/* Someone started or stopped watching: a job held in a window longer than
 * a watcher's is asked again at once with a short one. */
void runpod_longpoll_watch(struct rp *rp, int watched)
{
	struct http *h = engine_http(rp->e);
	if (rp->watched == watched)
		return;
	rp->watched = watched;
	if (!watched)
		return;
	for (struct rjob *rj = rp->jobs; rj; rj = rj->next) {
		if (!rj->req || rj->req_op != OP_SYNC || rj->done ||
		    rj->lp_window <= longpoll_window(rj))
			continue;
		http_cancel(h, rj->req);
		rj->req = 0;
		rj->lp_window = 0;
		limiter_finished(rp->lim, OP_SYNC);
		runpod_poll_in(rj, 0);
	}
	runpod_pump_soon(rp);
}

void runpod_on_status(struct rjob *rj, const struct http_response *r)
{
	struct rp *rp = rj->rp;
	struct job *j = rj->j;
	cJSON *root;
	struct runpod_status ps;
	enum job_state s;
	char why[512];

	if (rj->done)
		return; /* COMPLETED was seen already: its images are being saved */
	if (r->status == 429 || r->status == 503) {
		runpod_pause_endpoint(rp, r, "status");
		runpod_submit_op(rp, OP_STATUS, rj, 1);
		return;
	}
	if (r->status == 405 && !rp->local && !r->error) {
		/* GET /status refused: runpod-python's local test API (POST
		 * only). Nothing ran; its first POST runs the job. */
		rp->local = 1;
		rp->lp_mode = -1; /* its status runs the job: never a long-poll */
		engine_message(rp->e, 0,
		               "endpoint %s answers GET /status with 405, like " LOCAL_API_NAME
		               " (python handler.py --rp_serve_api): its jobs are followed with "
		               "POST /status now (set api = runpod-local for it)",
		               rp->ep->name);
		runpod_submit_op(rp, OP_STATUS, rj, 1);
		return;
	}
	if (rp->local && r->error && r->sent) {
		/* the handler ran (or runs) inside that request, and the server
		 * forgets the job once asked: asking again gets "Job ID not
		 * found", never the result */
		snprintf(why, sizeof why,
		         "the request that ran this job on " LOCAL_API_NAME " failed (%s); that "
		         "server forgets a job once its status is asked for, so the result is "
		         "lost: re-run it",
		         r->error);
		runpod_finish(rj, JOB_FAILED, why);
		return;
	}
	if (r->error) {
		runpod_transient(rj, "status", r->error);
		return;
	}
	if (r->status == 401 || r->status == 403) {
		runpod_auth_failed(rp, r->status);
		runpod_poll_in(rj, 30000);
		return;
	}
	if (r->status == 404) {
		runpod_request_ok(rp);
		runpod_finish(
		    rj, JOB_EXPIRED,
		    "the endpoint no longer knows this job (HTTP 404): its result expired or "
		    "its time to live ran out before sdq saved it");
		return;
	}
	if (r->status != 200) {
		char ex[200];
		runpod_body_message(r->body, r->len, ex, sizeof ex);
		snprintf(why, sizeof why, "HTTP %ld: %s", r->status, ex);
		runpod_transient(rj, "status", why);
		return;
	}
	root = cJSON_ParseWithLength(r->body, r->len);
	memset(&ps, 0, sizeof ps);
	if (runpod_status_from_json(root, &ps) < 0) {
		cJSON_Delete(root);
		runpod_status_clear(&ps);
		runpod_transient(rj, "status", "the reply was not the expected JSON (truncated?)");
		return;
	}
	runpod_request_ok(rp);
	rj->fails = 0;
	s = ps.state;
	if (ps.delay_ms >= 0)
		j->delay_ms = ps.delay_ms;
	if (ps.exec_ms >= 0)
		j->exec_ms = ps.exec_ms;
	if (ps.worker_id && (!j->worker_id || strcmp(j->worker_id, ps.worker_id) != 0))
		job_set_str(&j->worker_id, ps.worker_id);

	switch (s) {
	case JOB_IN_QUEUE:
	case JOB_OTHER:
		if (j->state != s ||
		    (s == JOB_OTHER &&
		     (!j->status_text || strcmp(j->status_text, ps.status)))) {
			j->state = s;
			job_set_str(&j->status_text, s == JOB_OTHER ? ps.status : NULL);
			runpod_update(rj);
		}
		poll_next(rj, runpod_jitter(rp, rj->queue_backoff));
		rj->queue_backoff *= 2;
		if (rj->queue_backoff > QUEUE_POLL_MAX_MS)
			rj->queue_backoff = QUEUE_POLL_MAX_MS;
		/* a /runsync result is kept only 60 s: never look less often
		 * than every SYNC_POLL_MAX_MS */
		if (is_sync_id(j->remote_id) && rj->queue_backoff > SYNC_POLL_MAX_MS)
			rj->queue_backoff = SYNC_POLL_MAX_MS;
		break;
	case JOB_IN_PROGRESS: {
		double frac = ps.progress;
		const char *text = ps.progress_text;
		int changed = j->state != JOB_IN_PROGRESS;
		int64_t now = util_now_ms();
		rj->queue_backoff = QUEUE_POLL_MIN_MS;
		if (!j->started_at)
			j->started_at = job_now_ms();
		if (changed) {
			j->state = JOB_IN_PROGRESS;
			job_set_str(&j->status_text, NULL);
		}
		if (frac != j->progress || strcmp(text, j->progress_text ? j->progress_text : "")) {
			j->progress = frac;
			job_set_str(&j->progress_text, text[0] ? text : NULL);
			if (!changed && now - rj->last_progress_save < PROGRESS_SAVE_MS)
				engine_job_notify(rp->e, j);
			else
				changed = 1;
		}
		if (changed) {
			rj->last_progress_save = now;
			runpod_update(rj);
		}
		poll_next(rj, runpod_jitter(rp, PROGRESS_POLL_MS));
		break;
	}
	case JOB_COMPLETED:
		on_completed(rj, root); /* takes root */
		root = NULL;
		break;
	case JOB_FAILED:
	case JOB_TIMED_OUT:
	case JOB_CANCELLED: {
		char *txt = NULL, *etext = ps.error, *otext = NULL;
		const cJSON *v, *ov = cJSON_GetObjectItemCaseSensitive(root, "output");
		ps.error = NULL;
		if (rp->local && s == JOB_FAILED && etext &&
		    strcmp(etext, "Job ID not found") == 0) {
			free(etext);
			runpod_finish(rj, JOB_EXPIRED,
			              LOCAL_API_NAME " does not know this job (\"Job ID not found\"): it "
			                             "forgets a job once its status was asked for, and "
			                             "every job when it restarts; re-run it");
			break;
		}
		if (s == JOB_FAILED && ov && !cJSON_IsNull(ov))
			otext = cJSON_PrintUnformatted(ov);
		/* a handler exception's message first; what the output adds */
		txt = output_failure_text(etext, otext, j->params.template_name);
		free(etext);
		free(otext);
		if (!txt && s == JOB_FAILED)
			txt = strdup("the worker reported FAILED without an error text");
		if (!txt && s == JOB_TIMED_OUT)
			txt = strdup("the endpoint timed the job out (no worker took it in time, "
			             "or the worker did not report back)");
		v = cJSON_GetObjectItemCaseSensitive(root, "output");
		if (v && !cJSON_IsNull(v) && s == JOB_FAILED) {
			char *o = cJSON_PrintUnformatted(v);
			if (o && strlen(o) < ((size_t)1 << 20))
				job_set_str(&j->raw_output, o);
			free(o);
		}
		runpod_finish(rj, s, txt);
		free(txt);
		break;
	}
	default:
		/* a state RunPod never sends (PENDING, ...): keep polling */
		rj->lp_again = 0;
		runpod_poll_in(rj, runpod_jitter(rp, QUEUE_POLL_MAX_MS));
		break;
	}
	cJSON_Delete(root);
	runpod_status_clear(&ps);
}
