/*
 * engine_drive.c: the driver role of the engine (engine_int.h; engine.c is
 * the loop). The process holding the store's driver lock (or a key's lock)
 * drives every live job of the store it may: it takes them over
 * (engine_track: a job found SUBMITTING, whose submitter died, becomes
 * UNKNOWN; the others go to their backend's drive), scans the store for new
 * jobs and request flags whenever another process commits (dbwatch, else a
 * 1 s data_version timer), takes a key's lock when that key's driver goes
 * away, and gives the role up letting every live job stay as it is in the
 * store for the next driver.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "backend.h"
#include "backends.h"
#include "dbwatch.h"
#include "engine.h"
#include "engine_int.h"
#include "keyring.h"
#include "saver.h"
#include "store.h"
#include "util.h"

#define DV_RECHECK_MS 20        /* a write seen before its commit was: look again */
#define LOCK_RETRY_MS 1000      /* without dbwatch notifications only */
#define LOCK_EVENT_RETRY_MS 200 /* one more try after a lock file's close */
#define RETRY_SCAN_LIMIT 200
#define FREE_DRAIN_MS 5000

/* ---------- the locks ---------- */

/* Take the driver locks we lack: the main one, and the lock of every key in
 * the ring. Returns how many were newly taken. */
static int take_locks(struct engine *e)
{
	int n = 0;
	char *err = NULL;

	if (!e->main_lock) {
		int r = store_lock_driver(e->st, &err);
		if (r < 0)
			engine_message(e, 1, "driver lock: %s", err ? err : "error");
		free(err);
		err = NULL;
		if (r == 1) {
			e->main_lock = 1;
			n++;
		}
	}
	return n + keyring_lock_all(e->kr);
}

static void release_locks(struct engine *e)
{
	keyring_unlock_all(e->kr);
	if (e->main_lock)
		store_unlock_driver(e->st);
	e->main_lock = 0;
}

/* 1 if this engine may drive j: a job that records its key's fingerprint
 * goes to the holder of that key's lock (who holds the key), any other to
 * the holder of the main lock. */
int engine_can_drive(struct engine *e, const struct job *j)
{
	return j->key_fp ? keyring_holds(e->kr, j->key_fp) : e->main_lock;
}

/* can_drive, after trying to learn j's key and take its lock. */
int engine_claim(struct engine *e, const struct job *j)
{
	if (engine_can_drive(e, j))
		return 1;
	if (!j->key_fp || e->closing)
		return 0;
	if (keyring_claim(e->kr, j->key_fp))
		return 1;
	if (keyring_key(e->kr, j->key_fp))
		e->want_key_lock = 1; /* its driver holds it; take over if it dies */
	return 0;
}

/* ---------- taking jobs over from the store ---------- */

/* Turn a job found in SUBMITTING (its submitter died) into UNKNOWN. */
static void make_unknown(struct engine *e, struct job *j)
{
	j->state = JOB_UNKNOWN;
	j->finished_at = job_now_ms();
	job_set_str(&j->error, "sdq stopped while this job was being submitted: it may or may "
	                       "not exist on the endpoint, so it was not sent again (re-run it if "
	                       "no result arrives)");
	engine_job_update(e, j);
}

/* Cancel a job this engine tracks (l). */
int engine_cancel_tracked(struct engine *e, struct live *l, char **err)
{
	struct job *j = l->j;
	struct backend *b = l->b;

	if (job_state_is_terminal(j->state))
		return 0; /* it ended; the commit saying so is on its way */
	if (j->state == JOB_PENDING || !b) {
		/* the backend lets go of it first: nothing of its may fire later */
		if (b && b->ops->forget)
			b->ops->forget(b, j);
		l->b = NULL;
		j->state = JOB_CANCELLED;
		j->finished_at = job_now_ms();
		if (!b && !j->remote_id)
			job_set_str(&j->error, NULL);
		else if (!b)
			job_set_str(&j->error,
			            "cancelled locally; its endpoint is not in the config "
			            "any more, so it was not cancelled remotely");
		return engine_job_update(e, j);
	}
	return l->b->ops->cancel(l->b, j, err);
}

/* Take ownership of j (a live job from the store) and start driving it. */
void engine_track(struct engine *e, struct job *j)
{
	char *err = NULL;
	struct backend *b;
	struct live *l;

	if (j->state == JOB_SUBMITTING) {
		l = engine_live_add(e, j, NULL);
		if (!l) {
			job_free(j);
			return;
		}
		make_unknown(e, j);
		return;
	}
	b = backends_for_job(e->bt, j, &err);
	if (b) {
		free(err);
		err = NULL;
	} else {
		engine_message(e, 1, "job %lld stays %s: %s", (long long)j->id,
		               job_state_name(j->state), err ? err : "no backend");
		free(err);
		err = NULL;
	}
	l = engine_live_add(e, j, b);
	if (!l) {
		job_free(j);
		return;
	}
	if (j->cancel_requested && j->state == JOB_PENDING) {
		/* never sent: cancelled without asking anyone */
		engine_cancel_tracked(e, l, NULL);
		return;
	}
	if (b && b->ops->drive(b, j, &err) < 0) {
		engine_message(e, 1, "job %lld stays %s: %s", (long long)j->id,
		               job_state_name(j->state), err ? err : "failed");
		free(err);
		err = NULL;
		/* the backend holds nothing of it: not driven (engine_driving_count),
		 * and a cancel of it is carried out here */
		if ((l = engine_live_find(e, j->id)) && l->j == j)
			l->b = NULL;
	}
	if (j->cancel_requested && (l = engine_live_find(e, j->id)) && l->j == j) {
		int64_t id = j->id;
		if (engine_cancel_tracked(e, l, &err) < 0) {
			engine_message(e, 1, "job %lld: cannot cancel: %s", (long long)id,
			               err ? err : "failed");
			free(err);
		}
	}
}

/* Carry out a retry of terminal job j (loaded from the store, owned here). */
int engine_retry_job(struct engine *e, struct job *j, char **err)
{
	struct backend *b;
	struct live *l;

	if (j->state != JOB_FAILED && j->state != JOB_TIMED_OUT) {
		util_set_err(err, "job %lld is %s: only a FAILED or TIMED_OUT job can be retried",
		             (long long)j->id, job_state_name(j->state));
		return -1;
	}
	if (!j->remote_id) {
		util_set_err(err, "job %lld was never accepted by an endpoint: re-run it instead",
		             (long long)j->id);
		return -1;
	}
	b = backends_for_job(e->bt, j, err);
	if (!b)
		return -1;
	if (!b->ops->retry) {
		util_set_err(err, "endpoint \"%s\" cannot retry jobs: re-run it instead",
		             j->endpoint);
		return -1;
	}
	l = engine_live_add(e, j, b);
	if (!l) {
		util_set_err(err, "out of memory");
		return -1;
	}
	if (b->ops->retry(b, j, err) < 0) {
		l = engine_live_find(e, j->id);
		if (l && l->j == j) {
			/* keep the caller's ownership: take it out again */
			e->live[l - e->live] = e->live[--e->nlive];
		}
		return -1;
	}
	return 0;
}

/* Look at the store: live jobs not tracked yet, requests on tracked ones,
 * retry requests on terminal ones. Only while driving. */
static void scan_store(struct engine *e)
{
	struct store_query q;
	struct job **jobs = NULL;
	size_t n = 0;
	char *err = NULL;

	memset(&q, 0, sizeof q);
	q.live_only = 1;
	q.oldest_first = 1;
	e->want_key_lock = 0; /* engine_claim() sets it while a job waits for its key's lock */
	if (store_job_list(e->st, &q, &jobs, &n, &err) < 0) {
		engine_message(e, 1, "cannot read the job list: %s", err ? err : "store error");
		free(err);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct job *sj = jobs[i];
		struct live *l = engine_live_find(e, sj->id);
		if (!l) {
			/* next: a job recorded by engine_submit_opts (any process)
			 * goes to its backend's drive */
			/* a key another process drives is tried once per pass
			 * (keyring_claim), not once per job */
			if (!engine_claim(e, sj))
				continue; /* another driver's, or waiting for one with its key */
			jobs[i] = NULL;
			engine_track(e, sj);
			continue;
		}
		if (sj->cancel_requested && !l->j->cancel_requested) {
			l->j->cancel_requested = 1;
			if (engine_cancel_tracked(e, l, &err) < 0) {
				engine_message(e, 1, "job %lld: cannot cancel: %s",
				               (long long)sj->id, err ? err : "failed");
				free(err);
				err = NULL;
			}
		}
	}
	store_jobs_free(jobs, n);

	/* retry requests (terminal jobs are not in the live list) */
	memset(&q, 0, sizeof q);
	q.state_mask = (1 << JOB_FAILED) | (1 << JOB_TIMED_OUT);
	q.limit = RETRY_SCAN_LIMIT;
	jobs = NULL;
	n = 0;
	if (store_job_list(e->st, &q, &jobs, &n, &err) < 0) {
		free(err);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct job *sj = jobs[i];
		if (!sj->retry_requested || engine_live_find(e, sj->id) || !engine_claim(e, sj))
			continue;
		jobs[i] = NULL;
		if (engine_retry_job(e, sj, &err) < 0) {
			engine_message(e, 1, "job %lld: retry: %s", (long long)sj->id,
			               err ? err : "failed");
			free(err);
			err = NULL;
			engine_clear_requests(e, sj);
			job_free(sj);
		}
	}
	store_jobs_free(jobs, n);
}

void engine_become_driver(struct engine *e)
{
	e->driving = 1;
	e->last_dv = store_data_version(e->st);
	e->next_dv_check = engine_later(e, DV_CHECK_FALLBACK_MS);
	engine_watch_update(e);
	engine_emit_simple(e, ENGINE_EV_ROLE, 0, NULL);
	scan_store(e);
}

int engine_drive(struct engine *e, int want)
{
	char *err = NULL;
	int r;

	if (!want) {
		e->want_drive = 0;
		if (e->driving) {
			engine_give_up(e);
			engine_emit_simple(e, ENGINE_EV_ROLE, 0, NULL);
		}
		return 0;
	}
	e->want_drive = 1;
	if (e->driving)
		return 1;
	/* the keys of this config: their jobs' locks are taken with the main
	 * one, so one process of one config drives all it can */
	keyring_learn(e->kr);
	r = take_locks(e);
	e->next_lock_try = engine_later(e, LOCK_RETRY_MS);
	(void)err;
	if (r == 0)
		return 0;
	engine_become_driver(e);
	return 1;
}

/* ---------- giving the role up ---------- */

/* Stop tracking every live job (they stay as they are in the store). */
static void forget_all(struct engine *e, int keep_submitting)
{
	size_t i = 0;
	while (i < e->nlive) {
		struct live *l = &e->live[i];
		if (keep_submitting && l->j->state == JOB_SUBMITTING && l->b) {
			i++;
			continue;
		}
		if (l->b && l->b->ops->forget)
			l->b->ops->forget(l->b, l->j);
		engine_live_drop(e, l);
	}
}

/* Give the driver role up. Images being written and submits in flight are
 * allowed to finish (at most FREE_DRAIN_MS, and only when not called from
 * inside engine_step), so results are committed and submits are not left
 * UNKNOWN; nothing new is started meanwhile. Every live job
 * stays as it is in the store for the next driver. */
void engine_give_up(struct engine *e)
{
	int64_t deadline = util_now_ms() + FREE_DRAIN_MS;

	e->closing = 1;
	/* images being written finish and are committed first (a /runsync
	 * answer is saved by the process that got it) */
	while (!e->in_step && !saver_idle(e->saver) && util_now_ms() < deadline)
		engine_step(e, 100);
	while (!e->in_step) {
		engine_flush(e); /* nothing changed may be left behind */
		forget_all(e, 1);
		engine_grave_empty(e);
		if (!e->nlive || util_now_ms() >= deadline)
			break;
		engine_step(e, 100);
	}
	engine_flush(e);
	forget_all(e, 0);
	release_locks(e);
	e->driving = 0;
	e->closing = 0;
}

/* ---------- other processes' writes and lock holders ---------- */

/* Does this engine want a lock it lacks: the main one (a viewer that would
 * drive, or a key-only driver), or the key lock of a job that waits for it? */
static int wants_locks(const struct engine *e)
{
	return e->want_drive && !e->closing && (!e->main_lock || e->want_key_lock);
}

/* Try the locks wanted; a new driver takes the store's live jobs, an old one
 * the jobs of a key whose driver went away. */
static void try_locks(struct engine *e)
{
	int was = e->driving;
	e->next_lock_try = engine_later(e, LOCK_RETRY_MS);
	if (take_locks(e) > 0) {
		if (!was)
			engine_become_driver(e);
		else
			scan_store(e);
	}
}

static void lock_retry_cb(struct engine *e, void *udata)
{
	(void)udata;
	e->lock_retry = 0;
	if (wants_locks(e))
		try_locks(e);
}

/* Did another process commit? Then re-read (driver) and tell the front end.
 * Returns 1 if something changed. */
static int dv_check(struct engine *e)
{
	int64_t dv = store_data_version(e->st);
	if (dv == e->last_dv || dv < 0)
		return 0;
	e->last_dv = dv;
	if (e->driving && !e->closing)
		scan_store(e);
	engine_emit_simple(e, ENGINE_EV_STORE, 0, NULL);
	return 1;
}

static void dv_recheck_cb(struct engine *e, void *udata)
{
	(void)udata;
	e->dv_recheck = 0;
	dv_check(e);
}

/* dbwatch says what changed on disk. A write to the WAL can be seen a
 * moment before its commit is (the commit ends in shared memory, which
 * inotify does not see): when data_version has not moved yet, look once
 * more DV_RECHECK_MS later. */
void engine_store_event(struct engine *e, int what)
{
	/* A lock holder closed its lock file after writing: it let go (or
	 * died). Try at once, and once more a moment later in case the event
	 * came before the kernel dropped the lock. */
	if ((what & DBWATCH_LOCK) && wants_locks(e)) {
		try_locks(e);
		if (wants_locks(e) && !e->lock_retry)
			e->lock_retry = engine_timer_add(e, LOCK_EVENT_RETRY_MS, lock_retry_cb, NULL);
	}
	if ((what & DBWATCH_DATA) && !dv_check(e) && !e->dv_recheck)
		e->dv_recheck = engine_timer_add(e, DV_RECHECK_MS, dv_recheck_cb, NULL);
	if (what & DBWATCH_WATCHERS)
		engine_watch_update(e);
}

void engine_periodic(struct engine *e, int64_t now)
{
	if (wants_locks(e) && now >= e->next_lock_try)
		try_locks(e);
	if (now >= e->next_dv_check) {
		e->next_dv_check = engine_later(e, DV_CHECK_FALLBACK_MS);
		dv_check(e);
		engine_watch_update(e);
	}
}
