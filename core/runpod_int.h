/*
 * runpod_int.h: what the three parts of the RunPod backend share. runpod.c
 * is the backend (its state, the limiter pump, the requests and the answers
 * to /run, /cancel, /retry, /health, /purge-queue, the backend operations);
 * runpod_follow.c follows a job once it is sent (the poll schedule, the
 * long-poll /status-sync, the /status answer, the hand-off of a COMPLETED
 * reply to runpod_done.c); runpod_parse.c reads replies (progress, /status,
 * /health, error bodies) and holds no state. Internal: included by those
 * files only; everyone else goes through runpod.h and backend.h.
 */
#ifndef SDQ_RUNPOD_INT_H
#define SDQ_RUNPOD_INT_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "backend.h"
#include "http.h"
#include "runpod.h"

#define QUEUE_POLL_MIN_MS 1000
#define QUEUE_POLL_MAX_MS 10000
#define LOCAL_API_NAME "runpod-python's local test API"

enum op { OP_RUN, OP_STATUS, OP_CANCEL, OP_RETRY, OP_PURGE, OP_HEALTH, OP_SYNC, OP_N };

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

struct limiter;
struct limiter_entry;
struct runpod_done;

/* runpod.c: the backend */
/* ms with +-20% jitter from the backend's own generator. */
int64_t runpod_jitter(struct rp *rp, int64_t ms);
/* The base URL rj's requests go to: the one it was sent to, else the endpoint's. */
const char *runpod_job_base(struct rjob *rj);
/* base/path[/id, escaped]; NULL when out of memory. */
char *runpod_make_url(const char *base, const char *path, const char *id);
/* Run the limiter from the loop (not from the caller's stack). */
void runpod_pump_soon(struct rp *rp);
/* Queue op for rj (or the endpoint, rj NULL) and run the limiter. */
void runpod_submit_op(struct rp *rp, enum op op, struct rjob *rj, int front);
/* A 429/503 answer to op: pause the whole endpoint. */
void runpod_pause_endpoint(struct rp *rp, const struct http_response *r, const char *op);
/* A request got an answer: the endpoint is reachable and takes the key. */
void runpod_request_ok(struct rp *rp);
/* The endpoint refused the key (HTTP status): reported once, as health. */
void runpod_auth_failed(struct rp *rp, long status);
/* what failed for a reason that may pass (why): look again after a backoff. */
void runpod_transient(struct rjob *rj, const char *what, const char *why);
/* Commit rj's job; a terminal one frees rj (not to be used after). */
void runpod_update(struct rjob *rj);
/* rj's job ends in state s (error: its text, or NULL); runpod_update. */
void runpod_finish(struct rjob *rj, enum job_state s, const char *error);

/* runpod_follow.c: following a sent job */
/* The next status request for rj in ms (replacing any timer of rj). */
void runpod_poll_in(struct rjob *rj, int64_t ms);
/* The timer callback of runpod_poll_in (udata: the rjob). */
void runpod_poll_timer_cb(struct engine *e, void *udata);
/* The first look after a submit or a retry, in ms. */
int64_t runpod_first_poll_ms(struct rjob *rj);
/* The /status-sync URL of rj's window (rj->lp_window); notes when it is sent. */
char *runpod_longpoll_url(struct rjob *rj);
/* The answer to a /status (or a /runsync, which is a status) of rj. */
void runpod_on_status(struct rjob *rj, const struct http_response *r);
/* The answer to a /status-sync of rj. */
void runpod_on_status_sync(struct rjob *rj, const struct http_response *r);
/* Someone started or stopped watching (engine_watched). */
void runpod_longpoll_watch(struct rp *rp, int watched);

/* runpod_parse.c: replies, no state */
/* A JSON number as int64, -1 when not a finite number in 0..9e18. */
int64_t runpod_num_i64(const cJSON *v);
/* A short single-line excerpt of body (controls as spaces, "..." when cut). */
void runpod_excerpt(const char *body, size_t len, char *out, size_t outlen);
/* The "error" (or "message") member of a JSON error body, else its excerpt. */
void runpod_body_message(const char *body, size_t len, char *out, size_t outlen);
/* *st from a parsed reply (overwritten, not freed); -1 without a string "status". */
int runpod_status_from_json(const cJSON *root, struct runpod_status *st);

#endif
