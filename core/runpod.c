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
 * Over 1500 lines (about 2100): the operations, their answers, the poll
 * schedule and the long-poll belong together; runpod-python's local test API
 * (its POST /status and its health) is the next cut.
 */
#include <ctype.h>
#include <math.h>
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
#include "util.h"

#define STATUS_MAX_BODY ((size_t)256 << 20)
#define SMALL_MAX_BODY ((size_t)1 << 20)
#define FIRST_POLL_MS 1000
#define PROGRESS_POLL_MS 1000
#define QUEUE_POLL_MIN_MS 1000
#define QUEUE_POLL_MAX_MS 10000
#define FAIL_BACKOFF_MAX_MS 30000
#define PAUSE_MAX_MS 60000
#define SAVE_RETRY_MS 10000
#define PROGRESS_SAVE_MS 2000
#define SYNC_POLL_MAX_MS 3000
/* runpod-python's local test API runs the handler inside the POST /status
 * request: as long as the handler takes (minutes), and never sent twice. */
#define LOCAL_STATUS_TIMEOUT_MS (6L * 3600 * 1000)

#define LOCAL_API_NAME "runpod-python's local test API"
#define LOCAL_CANNOT                                                                               \
	"it has no /health (no queue or worker counts), and cannot cancel, retry or purge jobs; "  \
	"a job runs when sdq asks for its status"
#define NOT_FOUND_MSG "endpoint not found (HTTP 404): check the id"
#define LONGPOLL_MS 90000           /* status-sync window of a running job nobody watches */
#define LONGPOLL_WATCHED_MS 1500    /* ... while watched: progress every <= 2 s */
#define LONGPOLL_QUEUED_MIN_MS 2000 /* first window of a job not seen running, unwatched */
#define LONGPOLL_INSTANT_N 3        /* this many early answers in a row: unsupported */

enum op { OP_RUN, OP_STATUS, OP_CANCEL, OP_RETRY, OP_PURGE, OP_HEALTH, OP_SYNC, OP_N };

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

struct rjob;

/* What a request's callback needs; embedded in its owner, so cancelling a
 * request leaves nothing to free. */
struct reqctx {
	struct rp *rp;
	struct rjob *rj;
	enum op op;
};

struct rjob {
	struct rjob *prev, *next;
	struct reqctx rctx, cctx;
	struct rp *rp;
	struct job *j;
	uint64_t timer;
	uint64_t req, creq;             /* in flight: run/status/retry, and cancel */
	enum op req_op;                 /* the operation of req */
	struct limiter_entry *qe, *cqe; /* waiting in the limiter */
	int64_t queue_backoff;
	int fails; /* transient failures in a row */
	int fetch_tries; /* completions that ended with a failed download */
	int cancel_pending; /* cancel as soon as a remote id exists */
	int sync_sent;      /* the submit in flight went to /runsync */
	int lp_window;      /* the status-sync in flight: its wait in ms (0: none) */
	int64_t lp_sent;    /* ... and when it was sent */
	int lp_again;       /* the answer was held: poll again at once */
	int64_t last_progress_save;
	struct runpod_done *done; /* a COMPLETED job's images on their way to disk */
};

struct rp {
	struct backend b;
	struct engine *e;
	const struct config_endpoint *ep;
	char *key;
	struct rjob *jobs;
	struct limiter *lim; /* udata of an entry: its rjob, NULL for endpoint operations */
	int64_t paused_until;
	int pause_n;
	uint64_t pump_timer;
	uint64_t key_timer; /* a health probe waits for the api_key_cmd */
	int pumping, pump_again;
	uint64_t health_req, purge_req;
	struct reqctx hctx, pctx;
	struct limiter_entry *health_qe, *purge_qe;
	int auth_reported;
	int local; /* runpod-python's local test API (config_endpoint_api) */
	struct engine_health health;
	uint64_t rng;
	int lp_mode;    /* status-sync: 0 untried, 1 seen holding, -1 unsupported */
	int lp_instant; /* early non-final answers in a row */
	int watched;    /* someone watches (engine_watched): short windows */
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

static int64_t jitter(struct rp *rp, int64_t ms)
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
	return jitter(rp, d);
}

/* A JSON number as int64 milliseconds/counters: -1 when it is not a finite
 * number in range (a server's 1e999 must not be undefined behaviour; a
 * negative time or count means nothing either). */
static int64_t num_i64(const cJSON *v)
{
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0 ||
	    v->valuedouble > 9.0e18)
		return -1;
	return (int64_t)v->valuedouble;
}

/* A short, single-line excerpt of a response body for an error message. */
static void excerpt(const char *body, size_t len, char *out, size_t outlen)
{
	size_t o = 0;
	for (size_t i = 0; i < len && o + 1 < outlen; i++) {
		unsigned char c = (unsigned char)body[i];
		out[o++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
	}
	if (o + 1 >= outlen && outlen > 4)
		memcpy(out + outlen - 4, "...", 3), o = outlen - 1;
	out[o] = '\0';
}

/* The "error" member of a JSON error body, or the body excerpt. */
static void body_message(const char *body, size_t len, char *out, size_t outlen)
{
	cJSON *root = cJSON_ParseWithLength(body, len);
	const cJSON *m = NULL;
	if (root) {
		m = cJSON_GetObjectItemCaseSensitive(root, "error");
		if (!cJSON_IsString(m))
			m = cJSON_GetObjectItemCaseSensitive(root, "message");
	}
	if (cJSON_IsString(m))
		excerpt(m->valuestring, strlen(m->valuestring), out, outlen);
	else
		excerpt(body, len, out, outlen);
	cJSON_Delete(root);
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

/* A job sent through /runsync ("sync-<uuid>-u1"): its result lives 60 s. */
static int is_sync_id(const char *id)
{
	return id && strncmp(id, "sync-", 5) == 0;
}

static const char *job_base(struct rjob *rj)
{
	return rj->j->endpoint_url ? rj->j->endpoint_url : rj->rp->ep->url;
}

static char *make_url(const char *base, const char *path, const char *id)
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
		if (!k && err) {
			char msg[300];
			snprintf(msg, sizeof msg,
			         "this sdq does not hold the API key the job was submitted with "
			         "(key %s)",
			         rp->b.key_fp);
			*err = strdup(msg);
		}
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
static void pump_soon(struct rp *rp)
{
	if (!rp->pump_timer)
		rp->pump_timer = engine_timer_add(rp->e, 0, pump_timer_cb, rp);
}

static void pause_endpoint(struct rp *rp, const struct http_response *r, const char *op)
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

static void request_ok(struct rp *rp)
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
static void submit_op(struct rp *rp, enum op op, struct rjob *rj, int front)
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
		pump_soon(rp);
	}
	rj->lp_window = 0;
	if (rj->creq) {
		http_cancel(h, rj->creq);
		rj->creq = 0;
		limiter_finished(rp->lim, OP_CANCEL);
		pump_soon(rp);
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

static void update(struct rjob *rj);
static enum op status_op(struct rjob *rj);
static int64_t first_poll_ms(struct rjob *rj);
static void on_status(struct rjob *rj, const struct http_response *r);

static void save_again_cb(struct engine *e, void *udata)
{
	struct rjob *rj = udata;
	(void)e;
	rj->timer = 0;
	update(rj);
}

/* Commit rj's job; if it is terminal now, rj is freed (and must not be used).
 * A terminal job the store refused (busy, disk full) is kept and saved again
 * in 5 s: the engine keeps it live until a save succeeds. */
static void update(struct rjob *rj)
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

static void poll_timer_cb(struct engine *e, void *udata)
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
	submit_op(rj->rp, status_op(rj), rj, 0);
}

static void run_timer_cb(struct engine *e, void *udata)
{
	struct rjob *rj = udata;
	(void)e;
	rj->timer = 0;
	submit_op(rj->rp, OP_RUN, rj, 0);
}

static void poll_in(struct rjob *rj, int64_t ms)
{
	engine_timer_cancel(rj->rp->e, rj->timer);
	rj->timer = engine_timer_add(rj->rp->e, ms, poll_timer_cb, rj);
}

/* The next look at a live job after a status answer: at once after a
 * status-sync the endpoint held (it already waited for us), else in ms. */
static void poll_next(struct rjob *rj, int64_t ms)
{
	int again = rj->lp_again;
	rj->lp_again = 0;
	poll_in(rj, again ? 0 : ms);
}

static void finish(struct rjob *rj, enum job_state s, const char *error)
{
	struct job *j = rj->j;
	j->state = s;
	if (!j->finished_at)
		j->finished_at = job_now_ms();
	if (error)
		job_set_str(&j->error, error);
	update(rj);
}

/* ---------- progress ---------- */

/* Find "a/b", "a of b" or "n%" in s. */
static int progress_from_text(const char *s, double *frac)
{
	const char *p;
	for (p = s; *p; p++) {
		if (isdigit((unsigned char)*p) && (p == s || !isdigit((unsigned char)p[-1]))) {
			char *end;
			double a = strtod(p, &end), b;
			const char *q = end;
			while (*q == ' ')
				q++;
			if (*q == '%') {
				*frac = a / 100.0;
				return 1;
			}
			if (*q == '/' || strncmp(q, "of ", 3) == 0) {
				q += *q == '/' ? 1 : 3;
				while (*q == ' ')
					q++;
				if (isdigit((unsigned char)*q)) {
					b = strtod(q, &end);
					if (b > 0) {
						*frac = a / b;
						return 1;
					}
				}
			}
			p = end - 1;
		}
	}
	return 0;
}

static int number_progress(double v, double *frac)
{
	if (v < 0)
		return 0;
	*frac = v <= 1.0 ? v : v / 100.0;
	return 1;
}

static const cJSON *get_any(const cJSON *o, const char *const *names)
{
	for (; *names; names++) {
		const cJSON *v = cJSON_GetObjectItem(o, *names);
		if (v)
			return v;
	}
	return NULL;
}

/* Progress out of an IN_PROGRESS output of any shape. *frac < 0 when
 * unknown; text gets a short description (may be empty). */
static void parse_progress(const cJSON *out, double *frac, char *text, size_t tlen)
{
	static const char *const prog_keys[] = {"progress", "percent", "percentage", NULL};
	static const char *const step_keys[] = {"step", "current", "current_step", "i", NULL};
	static const char *const total_keys[] = {"total", "steps", "total_steps", "max", "n", NULL};
	static const char *const text_keys[] = {"message", "status", "text", "stage", NULL};
	const cJSON *v, *t;

	*frac = -1;
	text[0] = '\0';
	if (!out)
		return;
	if (cJSON_IsString(out)) {
		excerpt(out->valuestring, strlen(out->valuestring), text, tlen);
		progress_from_text(out->valuestring, frac);
	} else if (cJSON_IsNumber(out)) {
		number_progress(out->valuedouble, frac);
	} else if (cJSON_IsObject(out)) {
		v = get_any(out, prog_keys);
		if (cJSON_IsNumber(v)) {
			if (strcmp(v->string, "progress") == 0)
				number_progress(v->valuedouble, frac);
			else
				*frac = v->valuedouble / 100.0;
		} else if (cJSON_IsString(v)) {
			excerpt(v->valuestring, strlen(v->valuestring), text, tlen);
			progress_from_text(v->valuestring, frac);
		} else if (cJSON_IsObject(v)) {
			parse_progress(v, frac, text, tlen);
			return;
		}
		v = get_any(out, step_keys);
		t = get_any(out, total_keys);
		if (*frac < 0 && cJSON_IsNumber(v) && cJSON_IsNumber(t) && t->valuedouble > 0) {
			*frac = v->valuedouble / t->valuedouble;
			if (!text[0])
				snprintf(text, tlen, "%g/%g", v->valuedouble, t->valuedouble);
		}
		v = get_any(out, text_keys);
		if (!text[0] && cJSON_IsString(v))
			excerpt(v->valuestring, strlen(v->valuestring), text, tlen);
	}
	if (!isfinite(*frac) || *frac < 0)
		*frac = -1; /* 1e999/1e999, negative steps...: unknown */
	else if (*frac > 1)
		*frac = 1;
	if (*frac >= 0 && !text[0])
		snprintf(text, tlen, "%.0f%%", *frac * 100.0);
}

int runpod_progress_parse(const char *json, size_t len, double *frac, char *text, size_t tlen)
{
	cJSON *root = cJSON_ParseWithLength(json, len);
	if (!root) {
		*frac = -1;
		if (tlen)
			text[0] = '\0';
		return -1;
	}
	parse_progress(root, frac, text, tlen);
	cJSON_Delete(root);
	return 0;
}

/* ---------- /status and /health replies ---------- */

void runpod_status_clear(struct runpod_status *st)
{
	if (!st)
		return;
	free(st->status);
	free(st->worker_id);
	free(st->error);
	memset(st, 0, sizeof *st);
	st->delay_ms = st->exec_ms = -1;
	st->progress = -1;
}

/* *st (whatever it held: overwritten, not freed) from a parsed reply root
 * (kept by the caller). 0, or -1 without a string "status". */
static int status_from_json(const cJSON *root, struct runpod_status *st)
{
	const cJSON *s, *v;

	memset(st, 0, sizeof *st);
	st->delay_ms = st->exec_ms = -1;
	st->progress = -1;
	s = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "status") : NULL;
	if (!cJSON_IsString(s) || !(st->status = strdup(s->valuestring)))
		return -1;
	st->state = job_state_parse(s->valuestring);
	st->delay_ms = num_i64(cJSON_GetObjectItemCaseSensitive(root, "delayTime"));
	st->exec_ms = num_i64(cJSON_GetObjectItemCaseSensitive(root, "executionTime"));
	v = cJSON_GetObjectItemCaseSensitive(root, "workerId");
	if (cJSON_IsString(v))
		st->worker_id = strdup(v->valuestring);
	v = cJSON_GetObjectItemCaseSensitive(root, "output");
	st->has_output = v && !cJSON_IsNull(v);
	if (st->state == JOB_IN_PROGRESS)
		parse_progress(v, &st->progress, st->progress_text, sizeof st->progress_text);
	if (st->state == JOB_FAILED || st->state == JOB_TIMED_OUT ||
	    st->state == JOB_CANCELLED) {
		v = cJSON_GetObjectItemCaseSensitive(root, "error");
		if (cJSON_IsString(v))
			st->error = strdup(v->valuestring);
		else if (v && !cJSON_IsNull(v))
			st->error = cJSON_PrintUnformatted(v);
	}
	return 0;
}

int runpod_status_parse(const char *body, size_t len, struct runpod_status *st)
{
	cJSON *root = cJSON_ParseWithLength(body, len);
	int rc = status_from_json(root, st);
	cJSON_Delete(root);
	if (rc < 0)
		runpod_status_clear(st);
	return rc;
}

int runpod_health_parse(const char *body, size_t len, struct engine_health *h)
{
	cJSON *root = cJSON_ParseWithLength(body, len);
	const cJSON *jobs, *w;

	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return -1;
	}
#define NUM(obj, key) ((long)num_i64(cJSON_GetObjectItem(obj, key)))
	jobs = cJSON_GetObjectItem(root, "jobs");
	w = cJSON_GetObjectItem(root, "workers");
	h->jobs_completed = NUM(jobs, "completed");
	h->jobs_failed = NUM(jobs, "failed");
	h->jobs_in_progress = NUM(jobs, "inProgress");
	h->jobs_in_queue = NUM(jobs, "inQueue");
	h->jobs_retried = NUM(jobs, "retried");
	h->workers_idle = NUM(w, "idle");
	h->workers_running = NUM(w, "running");
	h->workers_initializing = NUM(w, "initializing");
	h->workers_ready = NUM(w, "ready");
	h->workers_throttled = NUM(w, "throttled");
	h->workers_unhealthy = NUM(w, "unhealthy");
#undef NUM
	cJSON_Delete(root);
	return 0;
}

/* ---------- completion (runpod_done.c saves the images) ---------- */

/* Saving failed or a download failed: keep the job as it is and look again
 * later (RunPod keeps the result 30 minutes). why NULL: out of memory. */
static void complete_later(struct rjob *rj, const char *why)
{
	struct rp *rp = rj->rp;
	char msg[1200];

	if (!why) {
		poll_in(rj, SAVE_RETRY_MS);
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
	poll_in(rj, SAVE_RETRY_MS);
}

/* What became of a completion: commit the job COMPLETED with its outputs,
 * or FAILED, or keep it and ask again later. */
static void complete_result(struct rjob *rj, enum runpod_done_result r, const char *msg)
{
	if (r == RUNPOD_DONE_SAVED)
		update(rj);
	else if (r == RUNPOD_DONE_FAILED)
		finish(rj, JOB_FAILED, msg);
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

	if ((n = num_i64(cJSON_GetObjectItemCaseSensitive(root, "delayTime"))) >= 0)
		j->delay_ms = n;
	if ((n = num_i64(cJSON_GetObjectItemCaseSensitive(root, "executionTime"))) >= 0)
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
static int64_t first_poll_ms(struct rjob *rj)
{
	return rj->rp->lp_mode >= 0 ? 0 : jitter(rj->rp, FIRST_POLL_MS);
}

static char *longpoll_url(struct rjob *rj)
{
	char *u = make_url(job_base(rj), "status-sync", rj->j->remote_id), *q;
	if (!u)
		return NULL;
	q = util_asprintf("%s?wait=%d", u, rj->lp_window);
	free(u);
	rj->lp_sent = util_now_ms();
	return q;
}

/* Whether a status body says a final status, without parsing it (on_status
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
static void on_status_sync(struct rjob *rj, const struct http_response *r)
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
		submit_op(rp, OP_STATUS, rj, 1);
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
	on_status(rj, r);
}

/* Someone started or stopped watching: a job held in a window longer than
 * a watcher's is asked again at once with a short one. */
static void longpoll_watch(struct rp *rp, int watched)
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
		poll_in(rj, 0);
	}
	pump_soon(rp);
}

/* ---------- responses ---------- */

static void transient(struct rjob *rj, const char *what, const char *why)
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
	poll_in(rj, d);
}

static void auth_failed(struct rp *rp, long status)
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

static void on_status(struct rjob *rj, const struct http_response *r)
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
		pause_endpoint(rp, r, "status");
		submit_op(rp, OP_STATUS, rj, 1);
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
		submit_op(rp, OP_STATUS, rj, 1);
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
		finish(rj, JOB_FAILED, why);
		return;
	}
	if (r->error) {
		transient(rj, "status", r->error);
		return;
	}
	if (r->status == 401 || r->status == 403) {
		auth_failed(rp, r->status);
		poll_in(rj, 30000);
		return;
	}
	if (r->status == 404) {
		request_ok(rp);
		finish(rj, JOB_EXPIRED,
		       "the endpoint no longer knows this job (HTTP 404): its result expired or "
		       "its time to live ran out before sdq saved it");
		return;
	}
	if (r->status != 200) {
		char ex[200];
		body_message(r->body, r->len, ex, sizeof ex);
		snprintf(why, sizeof why, "HTTP %ld: %s", r->status, ex);
		transient(rj, "status", why);
		return;
	}
	root = cJSON_ParseWithLength(r->body, r->len);
	memset(&ps, 0, sizeof ps);
	if (status_from_json(root, &ps) < 0) {
		cJSON_Delete(root);
		runpod_status_clear(&ps);
		transient(rj, "status", "the reply was not the expected JSON (truncated?)");
		return;
	}
	request_ok(rp);
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
			update(rj);
		}
		poll_next(rj, jitter(rp, rj->queue_backoff));
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
			update(rj);
		}
		poll_next(rj, jitter(rp, PROGRESS_POLL_MS));
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
			finish(rj, JOB_EXPIRED,
			       LOCAL_API_NAME " does not know this job (\"Job ID not found\"): it "
			                      "forgets a job once its status was asked for, and every "
			                      "job when it restarts; re-run it");
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
		finish(rj, s, txt);
		free(txt);
		break;
	}
	default:
		/* a state RunPod never sends (PENDING, ...): keep polling */
		rj->lp_again = 0;
		poll_in(rj, jitter(rp, QUEUE_POLL_MAX_MS));
		break;
	}
	cJSON_Delete(root);
	runpod_status_clear(&ps);
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
		pause_endpoint(rp, r, "run");
		j->state = JOB_PENDING;
		update(rj);
		submit_op(rp, OP_RUN, rj, 1);
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
			finish(rj, JOB_SUBMIT_FAILED, msg);
		} else {
			snprintf(
			    msg, sizeof msg,
			    "the submit's outcome is unknown (%s): the job may or may not exist "
			    "on the endpoint, so it was not sent again (re-run it if no result "
			    "arrives)",
			    r->error);
			finish(rj, JOB_UNKNOWN, msg);
		}
		return;
	}
	if (r->status == 401 || r->status == 403) {
		auth_failed(rp, r->status);
		snprintf(
		    msg, sizeof msg,
		    "the endpoint refused the API key (HTTP %ld): check RUNPOD_API_KEY (or the "
		    "endpoint's api_key_env / api_key_file / api_key_cmd)",
		    r->status);
		finish(rj, JOB_SUBMIT_FAILED, msg);
		return;
	}
	if (r->status == 404) {
		request_ok(rp);
		not_found(rp, r);
		finish(rj, JOB_SUBMIT_FAILED, rp->health.error);
		return;
	}
	if (r->status >= 400 && r->status < 500) {
		request_ok(rp);
		body_message(r->body, r->len, ex, sizeof ex);
		snprintf(msg, sizeof msg, "the endpoint refused the job (HTTP %ld): %s", r->status,
		         ex);
		finish(rj, JOB_SUBMIT_FAILED, msg);
		return;
	}
	if (r->status != 200 && r->status != 201) {
		body_message(r->body, r->len, ex, sizeof ex);
		snprintf(
		    msg, sizeof msg,
		    "the endpoint answered the submit with HTTP %ld (%s): the job may or may "
		    "not exist there, so it was not sent again (re-run it if no result arrives)",
		    r->status, ex);
		finish(rj, JOB_UNKNOWN, msg);
		return;
	}
	root = cJSON_ParseWithLength(r->body, r->len);
	id = root ? cJSON_GetObjectItemCaseSensitive(root, "id") : NULL;
	if (!cJSON_IsString(id) || !id->valuestring[0]) {
		cJSON_Delete(root);
		excerpt(r->body, r->len, ex, 120);
		snprintf(msg, sizeof msg,
		         "the endpoint accepted the submit but its reply has no job id (%s): the "
		         "job may or may not run there",
		         ex);
		finish(rj, JOB_UNKNOWN, msg);
		return;
	}
	request_ok(rp);
	job_set_str(&j->remote_id, id->valuestring);
	st = cJSON_GetObjectItemCaseSensitive(root, "status");
	j->state = JOB_IN_QUEUE;
	if (cJSON_IsString(st) && job_state_parse(st->valuestring) == JOB_IN_PROGRESS)
		j->state = JOB_IN_PROGRESS;
	j->submitted_at = job_now_ms();
	cJSON_Delete(root);
	/* the remote id is committed before anything else happens to the job */
	update(rj);
	if (rj->sync_sent && r->status == 200) {
		/* /runsync: its answer is a status (terminal: saved now; still
		 * running: polled under its id like any job) */
		rj->sync_sent = 0;
		if (rj->cancel_pending) {
			rj->cancel_pending = 0;
			submit_op(rp, OP_CANCEL, rj, 0);
		}
		on_status(rj, r);
		return;
	}
	rj->sync_sent = 0;
	if (rj->cancel_pending) {
		rj->cancel_pending = 0;
		submit_op(rp, OP_CANCEL, rj, 0);
	}
	poll_in(rj, first_poll_ms(rj));
}

static void on_cancel(struct rjob *rj, const struct http_response *r)
{
	struct rp *rp = rj->rp;
	cJSON *root;
	const cJSON *st;

	if (rj->done)
		return; /* COMPLETED was seen first: its images are being saved */
	if (r->status == 429 || r->status == 503) {
		pause_endpoint(rp, r, "cancel");
		submit_op(rp, OP_CANCEL, rj, 1);
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
			poll_in(rj, 1000);
			return;
		}
		submit_op(rp, OP_CANCEL, rj, 0);
		return;
	}
	if (r->status == 401 || r->status == 403) {
		auth_failed(rp, r->status);
		return;
	}
	root = cJSON_ParseWithLength(r->body, r->len);
	st = root ? cJSON_GetObjectItemCaseSensitive(root, "status") : NULL;
	if (r->status == 200 && cJSON_IsString(st) &&
	    job_state_parse(st->valuestring) == JOB_CANCELLED) {
		cJSON_Delete(root);
		request_ok(rp);
		finish(rj, JOB_CANCELLED, NULL);
		return;
	}
	cJSON_Delete(root);
	/* anything else (already finished, 404...): let a status poll decide */
	if (!rj->req && !rj->done)
		poll_in(rj, 0);
}

static void on_retry(struct rjob *rj, const struct http_response *r)
{
	struct rp *rp = rj->rp;
	struct job *j = rj->j;
	char ex[300];

	if (r->status == 429 || r->status == 503) {
		pause_endpoint(rp, r, "retry");
		submit_op(rp, OP_RETRY, rj, 1);
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
		request_ok(rp);
		j->state = s;
		j->finished_at = 0;
		j->started_at = 0;
		j->progress = -1;
		job_set_str(&j->progress_text, NULL);
		job_set_str(&j->error, NULL);
		job_set_str(&j->raw_output, NULL);
		job_set_str(&j->status_text, NULL);
		rj->queue_backoff = QUEUE_POLL_MIN_MS;
		update(rj);
		poll_in(rj, first_poll_ms(rj));
		return;
	}
	if (r->error)
		snprintf(ex, sizeof ex, "%s", r->error);
	else if (r->status == 401 || r->status == 403) {
		auth_failed(rp, r->status);
		snprintf(ex, sizeof ex, "HTTP %ld: the endpoint refused the API key", r->status);
	} else {
		char b[200];
		body_message(r->body, r->len, b, sizeof b);
		snprintf(ex, sizeof ex, "HTTP %ld: %s", r->status, b);
	}
	engine_message(rp->e, 1, "job %lld: the endpoint did not retry it (%s)", (long long)j->id,
	               ex);
	update(rj); /* still terminal: the engine lets it go */
}

static void local_health(struct rp *rp, int busy);

static void on_health(struct rp *rp, const struct http_response *r)
{
	char msg[512];

	rp->health.updated_at = job_now_ms();
	if (r->status == 429 || r->status == 503) {
		pause_endpoint(rp, r, "health");
		return;
	}
	if (r->error) {
		rp->health.reachable = 0;
		health_error(rp, r->error);
		report_health(rp);
		return;
	}
	if (r->status == 401 || r->status == 403) {
		auth_failed(rp, r->status);
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
		body_message(r->body, r->len, ex, sizeof ex);
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
		pause_endpoint(rp, r, "purge-queue");
		submit_op(rp, OP_PURGE, NULL, 1);
		return;
	}
	if (r->error) {
		engine_message(rp->e, 1, "endpoint %s: purge-queue failed: %s", rp->ep->name,
		               r->error);
		return;
	}
	if (r->status == 401 || r->status == 403) {
		auth_failed(rp, r->status);
		return;
	}
	if (r->status != 200) {
		char ex[200];
		body_message(r->body, r->len, ex, sizeof ex);
		engine_message(rp->e, 1, "endpoint %s: purge-queue failed: HTTP %ld: %s",
		               rp->ep->name, r->status, ex);
		return;
	}
	root = cJSON_ParseWithLength(r->body, r->len);
	n = root ? cJSON_GetObjectItem(root, "removed") : NULL;
	if (num_i64(n) >= 0)
		engine_message(rp->e, 0, "endpoint %s: removed %ld queued job%s", rp->ep->name,
		               (long)num_i64(n), num_i64(n) == 1 ? "" : "s");
	else
		engine_message(rp->e, 0, "endpoint %s: queue purged", rp->ep->name);
	cJSON_Delete(root);
	/* our queued jobs learn their fate at once */
	for (struct rjob *rj = rp->jobs; rj; rj = rj->next)
		if (rj->j->state == JOB_IN_QUEUE && !rj->req && !rj->qe && !rj->done)
			poll_in(rj, 0);
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
		on_status(rj, r);
		break;
	case OP_SYNC:
		on_status_sync(rj, r);
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
		submit_op(rp, OP_HEALTH, NULL, 0);
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
			rj->timer = engine_timer_add(rp->e, 1000,
			                             op == OP_RUN ? run_timer_cb : poll_timer_cb, rj);
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
			finish(rj, JOB_SUBMIT_FAILED, msg);
		} else if (rj) {
			if (!rp->auth_reported) {
				rp->auth_reported = 1;
				engine_message(rp->e, 1, "endpoint %s: %s", rp->ep->name, msg);
			}
			if (op != OP_RETRY)
				poll_in(rj, 30000);
			else
				update(rj);
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
			finish(rj, JOB_SUBMIT_FAILED, msg);
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
			url = make_url(rp->ep->url, path, NULL);
			/* its answer comes when the job ends or the wait is over */
			req.timeout_ms = (long)sync_ms + 30000;
			req.max_response = STATUS_MAX_BODY;
		} else {
			url = make_url(rp->ep->url, "run", NULL);
		}
		req.method = "POST";
		req.body = body;
		req.once = 1;
		break;
	case OP_STATUS:
		url = make_url(job_base(rj), "status", rj->j->remote_id);
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
		url = longpoll_url(rj);
		req.max_response = STATUS_MAX_BODY;
		/* the endpoint holds it up to lp_window: time out well after */
		req.timeout_ms = rj->lp_window + 120000L;
		rj->lp_again = 0;
		break;
	case OP_CANCEL:
		url = make_url(job_base(rj), "cancel", rj->j->remote_id);
		req.method = "POST";
		break;
	case OP_RETRY:
		url = make_url(job_base(rj), "retry", rj->j->remote_id);
		req.method = "POST";
		break;
	case OP_PURGE:
		url = make_url(rp->ep->url, "purge-queue", NULL);
		req.method = "POST";
		break;
	case OP_HEALTH:
		/* the test API has no /health: its API description answers */
		url = make_url(rp->ep->url, rp->local ? "openapi.json" : "health", NULL);
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
			finish(rj, JOB_SUBMIT_FAILED, "out of memory");
		else if (rj)
			poll_in(rj, 5000);
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
			finish(rj, JOB_SUBMIT_FAILED, msg);
		else if (rj && op == OP_RETRY)
			update(rj);
		else if (rj)
			transient(rj, op_names[op], msg);
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
		submit_op(rp, OP_RUN, rj, 0);
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
		poll_in(rj, 0);
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
		finish(rj, JOB_CANCELLED, NULL);
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
		finish(rj, JOB_CANCELLED,
		       "cancelled in sdq only: " LOCAL_API_NAME " cannot cancel a job, so its "
		       "handler may still run to the end");
		return 0;
	}
	rj->fails = 0;
	submit_op(rp, OP_CANCEL, rj, 0);
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
	submit_op(rp, OP_RETRY, rj, 0);
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
	submit_op(rp, OP_HEALTH, NULL, 0);
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
	submit_op(rp, OP_PURGE, NULL, 0);
	return 0;
}

static void rp_watch(struct backend *b, int watched)
{
	longpoll_watch(RP(b), watched);
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

static const struct backend_ops runpod_ops = {
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
