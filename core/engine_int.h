/*
 * engine_int.h: what the two halves of the engine share. engine.c is the
 * loop (engine_step), the live set, events, health, watchers and the
 * requests (submit, cancel, retry, rerun); engine_drive.c is the driver
 * role (the locks, taking live jobs over from the store, the scan of the
 * store, other processes' writes, giving the role up). Internal: included
 * by those two files only; everyone else goes through engine.h (front
 * ends) and backend.h (backends).
 */
#ifndef SDQ_ENGINE_INT_H
#define SDQ_ENGINE_INT_H

#include <stddef.h>
#include <stdint.h>
#include "backend.h"
#include "engine.h"
#include "job.h"
#include "output.h"

struct timers;
struct dbwatch;
struct backends;
struct keyring;

#define DV_CHECK_FALLBACK_MS 1000 /* without dbwatch notifications only */

struct watch {
	int fd;
	short events;
	engine_fd_cb cb;
	void *udata;
};

struct live {
	struct job *j;
	struct backend *b; /* NULL: its endpoint is gone or its backend failed */
	int sent;          /* committed SUBMITTING, not committed since: its next
	                      change (the remote id) is not held back */
};

struct sync_ent {
	int64_t id;
	int wait_ms;
};

struct hent {
	char *name;
	struct engine_health h;
};

struct engine {
	struct config *cfg;
	struct store *st;
	struct http *http;
	engine_cb cb;
	void *udata;

	struct timers *timers;

	struct watch *watches;
	size_t nwatch;

	int pipe_r, pipe_w;
	unsigned char caught[65]; /* signals reported as ENGINE_EV_SIGNAL */

	int want_drive, driving; /* driving: holds the main lock or a key lock */
	int main_lock;           /* holds the store's driver lock */
	int want_key_lock;       /* a job waits for a key lock we lack: retry it */
	int closing; /* giving the role up: take no new work */
	int in_step; /* engine_step is running (callbacks are on the stack) */
	int64_t next_lock_try, next_dv_check;
	int64_t last_dv;
	struct dbwatch *dbw;  /* other processes' changes, and watchers */
	uint64_t dv_recheck;  /* timer */
	uint64_t lock_retry;  /* timer */
	int self_watch;       /* this process watches live jobs */
	int watched;          /* someone does (driver's view) */
	unsigned long passes; /* engine_step passes (engine_passes) */

	struct live *live;
	size_t nlive, caplive;
	struct job **grave;
	size_t ngrave, capgrave;

	int64_t *later; /* jobs committed by engine_job_commit, reported after the pass */
	size_t nlater, caplater;

	/* Live jobs changed and not committed yet (engine_save.c): committed
	 * together by engine_flush_pass, then reported; a terminal one stays
	 * in the live set until its commit. */
	struct job **dirty;
	size_t ndirty, capdirty;
	int64_t dirty_since;      /* when the first of them changed */
	int dirty_urgent;         /* one of them is not to be held back */
	uint64_t flush_timer;     /* the gathering window, or a retry */
	int flush_backoff;        /* ms, the next retry's delay */
	int64_t flush_fail_since; /* when the commits started failing, 0: they do not */
	struct output_dirs dirs;  /* image directories to sync before the commit */
	struct saver *saver;      /* images written off the loop (engine_saver) */

	struct sync_ent *syncs; /* jobs to send through /runsync (engine_submit_opts) */
	size_t nsyncs;

	struct backends *bt; /* the backends jobs go through (backends.h) */
	struct keyring *kr; /* the API keys held and their locks (keyring.h) */
	struct hent *health;
	size_t nhealth;
	int64_t health_interval;
	uint64_t health_timer;
};

/* engine.c */
/* Report an event of type t about job id (0: none) of endpoint ep. */
void engine_emit_simple(struct engine *e, enum engine_event_type t, int64_t id, const char *ep);
/* now + ms for a fallback timer; never (INT64_MAX) when dbwatch notifies. */
int64_t engine_later(struct engine *e, int64_t ms);
/* The driver's view of "someone watches": tell the backends when it moves. */
void engine_watch_update(struct engine *e);
/* The live set: find job id, add j (with its backend, NULL for none), drop
 * l (its job goes to the grave), free the grave (only outside callbacks). */
struct live *engine_live_find(struct engine *e, int64_t id);
struct live *engine_live_add(struct engine *e, struct job *j, struct backend *b);
void engine_live_drop(struct engine *e, struct live *l);
void engine_grave_empty(struct engine *e);
/* Clear j's request flags in the store after acting on them. */
void engine_clear_requests(struct engine *e, struct job *j);

/* engine_save.c */
/* The end of a pass: commit the jobs it changed (or let them gather a
 * moment), then report them. */
void engine_flush_pass(struct engine *e);
/* Commit every changed job now, waiting the store's full busy timeout
 * (giving the driver role up). */
void engine_flush(struct engine *e);
/* j leaves the live set: forget it is changed. */
void engine_dirty_forget(struct engine *e, const struct job *j);

/* engine_drive.c */
/* 1 if this engine may drive j (it holds the lock j goes by). */
int engine_can_drive(struct engine *e, const struct job *j);
/* engine_can_drive, after trying to learn j's key and take its lock. */
int engine_claim(struct engine *e, const struct job *j);
/* Take ownership of j (a live job from the store) and start driving it. */
void engine_track(struct engine *e, struct job *j);
/* Cancel a job this engine tracks (l). 0, or -1 with *err. */
int engine_cancel_tracked(struct engine *e, struct live *l, char **err);
/* Carry out a retry of terminal job j (owned here on success). */
int engine_retry_job(struct engine *e, struct job *j, char **err);
/* This engine holds a lock now: become the driver and scan the store. */
void engine_become_driver(struct engine *e);
/* Give the driver role up (live jobs stay as they are in the store). */
void engine_give_up(struct engine *e);
/* dbwatch says what changed on disk (DBWATCH_* bits). */
void engine_store_event(struct engine *e, int what);
/* The driver's checks once per pass: locks wanted, the fallback timers. */
void engine_periodic(struct engine *e, int64_t now);

#endif
