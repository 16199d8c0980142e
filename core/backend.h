/*
 * backend.h: the backend contract. Everything a backend implements (struct
 * backend_ops) and everything it may call in the engine (engine_job_update
 * and the rest below) is here; the front ends never include this file except
 * to ask what a kind of backend can do (backend_kind_*).
 *
 * Backends: RunPod serverless (runpod.c) and stable-diffusion.cpp (sdcpp.c).
 * The engine creates one backend per endpoint through the constructor in
 * the kind table (backend.c) and calls its operations only while it is the
 * driver.
 *
 * Jobs passed in are owned by the engine and stay valid until the engine
 * drops them (after engine_job_update() reported a terminal state) or calls
 * forget. A backend changes a job's fields and then calls
 * engine_job_update(), which commits and reports. Operations return 0 when
 * the work was started, -1 with *err on an immediate failure (util.h's
 * error-out convention).
 */
#ifndef SDQ_BACKEND_H
#define SDQ_BACKEND_H

#include "config.h"
#include "engine.h"
#include "job.h"

struct backend;
struct http;

/* ---- the kinds of backend and what each can do ---- */

enum backend_cap {
	BACKEND_CAN_CANCEL = 1 << 0,      /* a live job can be cancelled */
	BACKEND_CAN_RETRY = 1 << 1,       /* a FAILED/TIMED_OUT job is retried in place */
	BACKEND_CAN_PURGE = 1 << 2,       /* queued jobs can be purged at the endpoint */
	BACKEND_SURVIVES_DRIVER = 1 << 3, /* a sent job keeps running when the driver exits */
	BACKEND_REMOTE_HEALTH = 1 << 4,   /* health counts remote workers and queue */
	BACKEND_NEEDS_KEY = 1 << 5,       /* requests need an API key */
	BACKEND_FOLLOW_BY_URL = 1 << 6,   /* a job can be followed through its URL alone */
};

struct backend_kind {
	const char *name;        /* "runpod", "local": stored as job->backend */
	enum config_kind config; /* the config endpoints of this kind */
	unsigned caps;           /* enum backend_cap bits */
	/* A backend for ep (borrowed; it must outlive the backend). NULL with *err. */
	struct backend *(*create)(struct engine *e, const struct config_endpoint *ep, char **err);
};

/* The kind named name (as in job->backend), or NULL if none (or name NULL).
 * The pointers returned by these two are static. */
const struct backend_kind *backend_kind_named(const char *name);
/* The kind that drives endpoint ep (never NULL for a valid ep). */
const struct backend_kind *backend_kind_of(const struct config_endpoint *ep);
/* The enum backend_cap bits of the kind named name; 0 if unknown. */
unsigned backend_kind_caps(const char *name);

/* ---- what a backend implements ---- */

struct backend_ops {
	/* Start driving j. j is PENDING (send it) or IN_QUEUE / IN_PROGRESS /
	 * OTHER (resume: an earlier driver sent it). (The engine itself turns a
	 * job found in SUBMITTING at start into UNKNOWN; it never reaches here.) */
	int (*drive)(struct backend *b, struct job *j, char **err);
	/* Cancel live job j. The backend moves it to CANCELLED (or to a terminal
	 * state reached first) through engine_job_update. */
	int (*cancel)(struct backend *b, struct job *j, char **err);
	/* Retry a FAILED or TIMED_OUT job j (RunPod /retry); NULL if unsupported. */
	int (*retry)(struct backend *b, struct job *j, char **err);
	/* The engine stops tracking j now (deleted, or engine shutting down):
	 * drop every reference to it; j is freed right after. */
	void (*forget)(struct backend *b, struct job *j);
	/* Fetch health; report it through engine_health_set. */
	int (*health)(struct backend *b, char **err);
	/* Remove queued jobs (RunPod purge-queue); NULL if unsupported. */
	int (*purge)(struct backend *b, char **err);
	/* A SIGCHLD arrived (local children); NULL if not needed. */
	void (*sigchld)(struct backend *b);
	/* Someone started (1) or stopped (0) watching live jobs (engine_watched):
	 * a backend that trades freshness for fewer requests adapts. NULL: no
	 * interest. */
	void (*watch)(struct backend *b, int watched);
	/* Free everything (kill children, cancel transfers). Accepts NULL b. */
	void (*free)(struct backend *b);
};

struct backend {
	const struct backend_ops *ops;
	struct engine *engine;            /* borrowed */
	const struct config_endpoint *ep; /* borrowed from the engine's config */
	void *priv;                       /* the backend's own state */
	/* A backend of a job's recorded route (backends.c route_backend): the
	 * fingerprint of the key its jobs are sent with (engine_key); NULL: the
	 * key comes from ep's key source. Borrowed from the engine. */
	const char *key_fp;
};

/* The constructors the kind table points at. */
struct backend *runpod_backend_new(struct engine *e, const struct config_endpoint *ep, char **err);
struct backend *sdcpp_backend_new(struct engine *e, const struct config_endpoint *ep, char **err);

/* ---- what a backend calls in the engine ---- */

/* Commit j (a job this engine drives) to the store and tell the front end.
 * From inside engine_step (a backend's callbacks): j joins the changes of
 * the pass, committed in one transaction at its end (held up to about
 * 100 ms for more to share the commit, but not a job's first change after
 * it was sent), then reported; while another process keeps the store
 * locked they stay in memory and are tried again, never dropped; returns
 * 0. Outside a pass: committed at once, 0 or -1 (store failure, reported).
 * A terminal j leaves the live set once committed. */
int engine_job_update(struct engine *e, struct job *j);
/* Commit live job j to the store now, and tell the front end at the end of
 * the current engine_step pass: unlike engine_job_update, safe from inside
 * a libcurl callback (http.h before_send), where no front end code may run.
 * For non-terminal states only. 0 or -1 (store failure, nothing reported). */
int engine_job_commit(struct engine *e, struct job *j);
/* Tell the front end without writing the store (e.g. only the progress text
 * of a job moved). */
void engine_job_notify(struct engine *e, const struct job *j);
/* Report a message to the front end. */
void engine_message(struct engine *e, int is_error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Replace endpoint name's health with h (copied) and report it. */
void engine_health_set(struct engine *e, const char *name, const struct engine_health *h);
/* Free the strings inside h. */
void engine_health_clear(struct engine_health *h);
/* The /runsync wait (ms) asked for job id by engine_submit_opts, or 0 for
 * /run. Kept until the job leaves this engine. */
int engine_job_sync_wait(struct engine *e, int64_t id);
/* The engine's HTTP client (borrowed). */
struct http *engine_http(struct engine *e);
/* The image directories whose entries the engine syncs before its next
 * commit (output_save_to): a backend saving images hands them this. */
struct output_dirs *engine_output_dirs(struct engine *e);
/* The engine's image writer (saver.h), made on first use; NULL if it cannot
 * be (the caller then writes on the loop, output_save_to). */
struct saver *engine_saver(struct engine *e);
/* The API key of fingerprint fp if this engine holds it (borrowed, valid
 * until engine_free; never copy it anywhere lasting), else NULL. */
const char *engine_key(struct engine *e, const char *fp);
/* The API key of ep (an endpoint of the engine's config), borrowed like
 * engine_key's. From the environment or a file it is read at once; an
 * api_key_cmd runs through the loop, and until it answers this is NULL with
 * *err "waiting for the key command of endpoint X" (engine_key_pending
 * says 1). NULL with *err when there is no key. */
const char *engine_endpoint_key(struct engine *e, const struct config_endpoint *ep, char **err);

#endif
