/*
 * engine.h: the single event loop and the driver.
 *
 * One thread, one wait (HACKING.md, "One loop"). The engine owns the
 * libcurl multi handle (through http.h), the timers, the watched file
 * descriptors (a front end's tty, local children's pipes), a self-pipe for
 * signals, and the backends (one per configured endpoint, created when first
 * needed). Each engine_step() waits in curl_multi_poll() until the sooner of
 * the next timer and the caller's deadline, then runs transfers, fd callbacks
 * and timers, and reports what happened through one callback.
 *
 * Driver and viewer (HACKING.md, "Driver and viewers"): the engine that
 * holds the store's driver lock drives every live job in the store: it sends
 * PENDING jobs, polls remote ones, runs local ones, saves results, and acts on
 * cancel/retry requests written by any process. An engine without the lock is
 * a viewer: it only writes requests to the store and watches the store for
 * changes; it tries to take the lock every second, so when the driver dies a
 * viewer takes over and resumes every live job.
 *
 * Every state change is committed to the store before the callback hears of it.
 */
#ifndef SDQ_ENGINE_H
#define SDQ_ENGINE_H

#include <stdint.h>
#include "config.h"
#include "job.h"
#include "store.h"

struct engine;

enum engine_event_type {
	ENGINE_EV_JOB,     /* job_id changed (state, progress, outputs): re-read it */
	ENGINE_EV_STORE,   /* the store changed in another process: re-read lists */
	ENGINE_EV_HEALTH,  /* endpoint's health changed: engine_health(e, endpoint) */
	ENGINE_EV_ROLE,    /* this engine became the driver (or lost the role) */
	ENGINE_EV_MESSAGE, /* message: something to tell the user; is_error set for errors */
	ENGINE_EV_SIGNAL,  /* signo was caught (see engine_catch_signal) */
};

struct engine_event {
	enum engine_event_type type;
	int64_t job_id;
	const char *endpoint; /* borrowed, valid during the callback */
	const char *message;  /* borrowed, valid during the callback; sanitise before drawing */
	int is_error;
	int signo;
};

typedef void (*engine_cb)(struct engine *e, const struct engine_event *ev, void *udata);

/* A new engine over cfg and st (both borrowed; they must outlive it). It does
 * not take the driver role until engine_drive() is called. NULL with *err. */
struct engine *engine_new(struct config *cfg, struct store *st, char **err);
/* Stop everything (transfers are dropped, local children are sent SIGTERM
 * then SIGKILL, the driver lock is released) and free. Accepts NULL. Live jobs
 * stay live in the store and are resumed by the next driver. */
void engine_free(struct engine *e);

void engine_set_callback(struct engine *e, engine_cb cb, void *udata);
struct config *engine_config(struct engine *e);
struct store *engine_store(struct engine *e);

/* Ask to be the driver: take the lock now if free and resume every live job;
 * if another process drives, keep trying once a second from engine_step.
 * want = 0 gives the role up (and stops trying). Returns 1 if driving now. */
int engine_drive(struct engine *e, int want);
int engine_is_driver(const struct engine *e);

/* One pass of the loop: wait at most max_wait_ms (-1: until something
 * happens), then do all due work. Returns 0, or -1 on a fatal error. */
int engine_step(struct engine *e, int max_wait_ms);
/* Make a running or the next engine_step return at once (async-signal-safe). */
void engine_wakeup(struct engine *e);
/* Catch signo through the self-pipe; each one is reported as ENGINE_EV_SIGNAL.
 * SIGCHLD is always caught for the local backend. 0 or -1. */
int engine_catch_signal(struct engine *e, int signo);

/* Watch fd for events (POLLIN...). cb runs from engine_step with the revents.
 * One watch per fd; watching again replaces it. 0 or -1. */
typedef void (*engine_fd_cb)(struct engine *e, int fd, short revents, void *udata);
int engine_watch_fd(struct engine *e, int fd, short events, engine_fd_cb cb, void *udata);
void engine_unwatch_fd(struct engine *e, int fd);

/* One-shot timer after delay_ms. Returns an id > 0 for engine_timer_cancel, or
 * 0 on ENOMEM. Cancelling a fired or unknown id is harmless. */
typedef void (*engine_timer_cb)(struct engine *e, void *udata);
uint64_t engine_timer_add(struct engine *e, int64_t delay_ms, engine_timer_cb cb, void *udata);
void engine_timer_cancel(struct engine *e, uint64_t id);
/* How many timers are armed. An engine with none and no transfer in flight
 * (http_active) can do nothing until it is asked to: tests wait for that. */
size_t engine_timer_count(const struct engine *e);

/* --- Watching (HACKING.md, "One loop") --- */

/* This process shows live jobs to someone (a dashboard, `sdq wait`): on = 1.
 * The driver, in this process or another, then follows running jobs closely
 * enough that progress shows at least every 2 s; with nobody watching it
 * long-polls (fewer requests, results as soon as they exist). 0 or -1 (the
 * watchers file could not be used: only this process's driver knows). */
int engine_set_watching(struct engine *e, int on);
/* Whether anyone watches live jobs, as far as this engine knows (always
 * known to a driver; a viewer knows only itself). */
int engine_watched(const struct engine *e);
/* Passes engine_step has made (tests count wakeups of an idle engine). */
unsigned long engine_passes(const struct engine *e);

/* --- Requests (any role). They write the store; the driver acts on them. --- */

/* Record a new job with a copy of p (a random seed is picked when p->seed < 0,
 * the endpoint's default template when unset) as PENDING. Returns its id, or 0
 * with *err (e.g. unknown endpoint). */
int64_t engine_submit(struct engine *e, const struct job_params *p, char **err);
/* Options of engine_submit_opts (all zero: the same as engine_submit). */
struct engine_submit_opts {
	/* > 0: send the job through RunPod's /runsync?wait=<sync_wait_ms>
	 * (clamped to 1000..300000) instead of /run. Its answer is handled like
	 * a status: terminal -> saved at once; still running -> polled under
	 * the id it returned (promptly: /runsync results live only 60 s). Like
	 * /run, it is never re-sent when its outcome is unknown. Only honoured
	 * when this engine is the driver when the job is sent (the wish is kept
	 * in memory, not in the store): a job sent by another process's driver
	 * goes through /run. Ignored by the local backend. */
	int sync_wait_ms;
	/* The job's group (store_group_add) and its variant (a JSON object of
	 * what varies for it; borrowed, copied), recorded with it; 0 / NULL for
	 * a job submitted alone (vary.h). */
	int64_t group_id;
	const char *variant;
};
/* engine_submit with options o (NULL: none). Returns the job's id, or 0. */
int64_t engine_submit_opts(struct engine *e, const struct job_params *p,
                           const struct engine_submit_opts *o, char **err);
/* engine_submit_opts of n jobs: ps[i] with variants[i] (variants may be
 * NULL), all of group group_id (0: none), recorded in ONE store commit
 * (1000+ jobs in a moment; a commit each took seconds). Every job is made
 * first (template, route); if job k cannot be, the k before it are
 * recorded and -1 is returned with *err. ids (n slots) gets the new jobs'
 * ids, *made how many there are (0 on a store error). 0 when all n were. */
int engine_submit_many(struct engine *e, const struct job_params *const *ps,
                       const char *const *variants, size_t n, int64_t group_id, int64_t *ids,
                       size_t *made, char **err);
/* Cancel job id: a live job is cancelled (remotely if needed); 0 or -1. */
int engine_cancel(struct engine *e, int64_t id, char **err);
/* engine_cancel of ids[0..n) (a group's live jobs), with ONE store commit
 * for the cancel requests of the jobs another process drives and one per
 * driver lock for the jobs not sent yet (they become CANCELLED unsent, as
 * engine_cancel does), instead of a commit per job. *done: how many were
 * cancelled or asked to be. 0, or -1 with *err naming the first job that
 * failed (the others are still done). */
int engine_cancel_many(struct engine *e, const int64_t *ids, size_t n, size_t *done, char **err);
/* Ask the endpoint to retry a FAILED or TIMED_OUT remote job (same remote id). */
int engine_retry(struct engine *e, int64_t id, char **err);
/* A new job with the same parameters and seed as job id. Returns its id or 0. */
int64_t engine_rerun(struct engine *e, int64_t id, char **err);
/* 1 if a new driver of cfg (a detached `sdq driver`) has work in st: more
 * than `undrivable` live jobs of the main lock (local jobs, jobs of older
 * histories) while no process holds it, or a live job recording the
 * fingerprint of a key cfg gives (an endpoint's key source or
 * RUNPOD_API_KEY) whose key lock no process holds. Keys are read only when
 * such a job exists; an api_key_cmd is never run here (it would block): it
 * counts as maybe giving that key when undrivable is 0. Needs no engine. */
int engine_driver_needed(struct config *cfg, struct store *st, int64_t undrivable);
/* Number of live jobs in the store (all processes). */
int engine_live_count(struct engine *e);
/* An endpoint's api_key_cmd runs through this engine's loop (keycmd.h), so
 * a key command that hangs stops nothing but its own endpoint's jobs.
 * engine_key_pending: 1 while the key command of endpoint (a name of the
 * config; NULL: the default) runs: an engine_submit_opts that failed
 * "waiting for the key command of endpoint X" may be tried again once it
 * is 0 (a command runs engine_step meanwhile; the dashboard says so).
 * engine_keys_pending: how many key commands run now (a driver waiting for
 * one is not idle). */
int engine_key_pending(struct engine *e, const char *endpoint);
int engine_keys_pending(struct engine *e);

/* Number of live jobs this engine actually drives (0 unless it is the
 * driver): jobs whose endpoint it could not resolve (not in its config and no
 * RunPod URL to follow) stay live in the store for a driver that can, and are
 * not counted. A driver with nothing to drive may exit. */
int engine_driving_count(struct engine *e);

/* The in-memory copy of a job this engine drives, fresher than the store
 * (borrowed, valid until the next engine_step), or NULL. */
const struct job *engine_job(struct engine *e, int64_t id);

/* --- Endpoint health --- */
struct engine_health {
	int valid;          /* a reply has been seen */
	int reachable;      /* the last request got an HTTP answer */
	int rate_limited;   /* the endpoint is backing off after 429/503 */
	int auth_failed;    /* 401/403 */
	int not_found;      /* 404: no such endpoint ("endpoint not found (HTTP 404): check the id") */
	int no_health;      /* the server has no /health (runpod-python's local test API):
	                       reachable, no counts; text says what it cannot do */
	int64_t updated_at; /* wall clock ms */
	long jobs_completed, jobs_failed, jobs_in_progress, jobs_in_queue, jobs_retried;
	long workers_idle, workers_running, workers_initializing, workers_ready, workers_throttled,
	    workers_unhealthy;
	char *text;  /* a free-form report (local backend: version, devices, model) */
	char *error; /* the last error, or NULL */
};
/* The last known health of endpoint name (borrowed, valid until the next
 * engine_step), or NULL if none was asked for yet. */
const struct engine_health *engine_health(struct engine *e, const char *name);
/* Fetch endpoint name's health now; ENGINE_EV_HEALTH follows. 0 or -1. */
int engine_health_refresh(struct engine *e, const char *name, char **err);
/* Refresh the health of every endpoint every interval_ms (0: stop). */
void engine_health_auto(struct engine *e, int64_t interval_ms);
/* Remove all queued jobs of endpoint name (RunPod purge-queue). The outcome
 * arrives as ENGINE_EV_MESSAGE. 0 or -1. */
int engine_purge_queue(struct engine *e, const char *name, char **err);

/* What backends call (engine_job_update, engine_health_set, ...) is in
 * backend.h: the backend contract. */

#endif
