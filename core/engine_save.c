/*
 * engine_save.c: how the engine commits the jobs it drives (engine_int.h).
 *
 * Backends change a live job and call engine_job_update(). Inside a pass of
 * the loop the job joins the pass's dirty set, and engine_flush_pass() at
 * the end of the pass commits the whole set in one transaction
 * (store_jobs_save), after syncing the directories of the images saved
 * meanwhile (output_dirs_sync: an image and its directory entry are on disk
 * before the commit that points at it); only then are the front ends told.
 * The set may wait FLUSH_GATHER_MS for more changes to share the commit,
 * except a job's first change after it was sent (its remote id).
 *
 * Nothing here blocks the loop on another process: a commit waits at most
 * STORE_WAIT_MS for the store's write lock. A busy store keeps the set in
 * memory (the jobs stay live, terminal ones too) and a timer tries again,
 * backing off to FLUSH_RETRY_MAX_MS; nothing is dropped. Giving the driver
 * role up (engine_flush) waits the store's full busy timeout instead.
 *
 * engine_job_commit() is the one synchronous commit: SUBMITTING, just before
 * a /run leaves (from inside libcurl); if the lock cannot be had at once the
 * request is held back and sent later.
 */
#include <stdlib.h>
#include <string.h>
#include "backend.h"
#include "engine_int.h"
#include "output.h"
#include "saver.h"
#include "util.h"

/* Job changes are committed at the end of the pass that made them, all in
 * one transaction; a write waits at most STORE_WAIT_MS for another
 * process's write lock, then stays in memory and is tried again after
 * FLUSH_RETRY_MS, doubling up to FLUSH_RETRY_MAX_MS (other failures:
 * FLUSH_ERROR_MS). Nothing is dropped. */
#define STORE_WAIT_MS 20
#define FLUSH_RETRY_MS 50
#define FLUSH_RETRY_MAX_MS 1000
#define FLUSH_ERROR_MS 5000
/* Changes of a pass may wait this long for others to share their commit
 * (the images are on disk already; only what the store says waits). A job
 * just sent is not held back: its remote id is committed at the end of the
 * pass that learnt it, so a crash leaves as few jobs UNKNOWN as before. */
#define FLUSH_GATHER_MS 100

static int dirty_find(struct engine *e, const struct job *j)
{
	for (size_t i = 0; i < e->ndirty; i++)
		if (e->dirty[i] == j)
			return (int)i;
	return -1;
}

void engine_dirty_forget(struct engine *e, const struct job *j)
{
	int i = dirty_find(e, j);
	if (i >= 0)
		memmove(&e->dirty[i], &e->dirty[i + 1],
		        (e->ndirty - (size_t)i - 1) * sizeof *e->dirty);
	if (i >= 0)
		e->ndirty--;
}

/* Commit jobs[0..n) in one transaction, the image directories first (an
 * image is on disk, its directory entry too, before the commit that points
 * at it). wait: how long to wait for another process's write lock. */
static int save_jobs(struct engine *e, struct job *const *jobs, size_t n, int wait, char **err)
{
	int r;

	output_dirs_sync(&e->dirs);
	store_set_busy_wait(e->st, wait);
	r = store_jobs_save(e->st, (const struct job *const *)jobs, n, err);
	store_set_busy_wait(e->st, STORE_BUSY_DEFAULT_MS);
	return r;
}

/* A committed job: tell the front end; a terminal one leaves the live set. */
static void committed(struct engine *e, struct job *j)
{
	struct live *l;

	if (job_state_is_terminal(j->state) && (j->cancel_requested || j->retry_requested))
		engine_clear_requests(e, j);
	engine_emit_simple(e, ENGINE_EV_JOB, j->id, j->endpoint);
	if (job_state_is_terminal(j->state) && (l = engine_live_find(e, j->id)) && l->j == j)
		engine_live_drop(e, l);
}

static void flush_timer_cb(struct engine *e, void *udata);

/* Commit what this pass changed: one transaction for every dirty job. The
 * store busy (another process writing): keep them, try again soon, never
 * waiting more than STORE_WAIT_MS here. wait < 0: the default busy wait
 * (giving the role up: nothing may stay behind). */
static void flush_dirty(struct engine *e, int wait)
{
	char *err = NULL;
	size_t n = e->ndirty;
	struct job **jobs;
	int busy;

	if (!n || (e->flush_timer && wait >= 0))
		return;
	if (e->flush_timer) {
		engine_timer_cancel(e, e->flush_timer);
		e->flush_timer = 0;
	}
	if (save_jobs(e, e->dirty, n, wait < 0 ? STORE_BUSY_DEFAULT_MS : wait, &err) < 0) {
		busy = store_was_busy(e->st);
		if (!busy && n > 1) {
			/* one job the store refuses (deleted meanwhile?) must not
			 * hold the others back: one at a time */
			free(err);
			err = NULL;
			for (size_t i = 0; i < e->ndirty;) {
				struct job *j = e->dirty[i];
				if (save_jobs(e, &j, 1, wait < 0 ? STORE_BUSY_DEFAULT_MS : wait,
				              &err) < 0) {
					busy = store_was_busy(e->st);
					i++;
					continue;
				}
				engine_dirty_forget(e, j);
				committed(e, j);
			}
			if (!e->ndirty) {
				free(err);
				e->flush_fail_since = 0;
				e->flush_backoff = 0;
				e->dirty_urgent = 0;
				return;
			}
		}
		if (!e->flush_fail_since)
			e->flush_fail_since = util_now_ms();
		if (!busy || util_now_ms() - e->flush_fail_since >= FLUSH_ERROR_MS) {
			engine_message(e, 1, "cannot save %zu job change%s yet (kept, trying again): %s",
			               e->ndirty, e->ndirty == 1 ? "" : "s",
			               err ? err : "store error");
			if (busy)
				e->flush_fail_since = util_now_ms(); /* say it again in a while */
		}
		free(err);
		if (!busy)
			e->flush_backoff = FLUSH_ERROR_MS;
		else if (e->flush_backoff < FLUSH_RETRY_MS)
			e->flush_backoff = FLUSH_RETRY_MS;
		else if ((e->flush_backoff *= 2) > FLUSH_RETRY_MAX_MS)
			e->flush_backoff = FLUSH_RETRY_MAX_MS;
		e->flush_timer = engine_timer_add(e, e->flush_backoff, flush_timer_cb, NULL);
		return;
	}
	e->flush_fail_since = 0;
	e->flush_backoff = 0;
	e->dirty_urgent = 0;
	/* committed: the list is taken first (committed() may drop jobs) */
	jobs = e->dirty;
	e->dirty = NULL;
	e->ndirty = e->capdirty = 0;
	for (size_t i = 0; i < n; i++)
		committed(e, jobs[i]);
	free(jobs);
}

static void flush_timer_cb(struct engine *e, void *udata)
{
	(void)udata;
	e->flush_timer = 0;
	flush_dirty(e, STORE_WAIT_MS);
}

/* The end of a pass: commit what it changed, or, within a short window,
 * wait for more changes to share the commit. */
void engine_flush_pass(struct engine *e)
{
	int64_t left;

	if (!e->ndirty || e->flush_fail_since)
		return; /* nothing, or the store is busy: its retry timer is set */
	left = e->dirty_since + FLUSH_GATHER_MS - util_now_ms();
	if (left > 0 && !e->dirty_urgent) {
		if (!e->flush_timer)
			e->flush_timer = engine_timer_add(e, left, flush_timer_cb, NULL);
		return;
	}
	if (e->flush_timer) {
		engine_timer_cancel(e, e->flush_timer);
		e->flush_timer = 0;
	}
	flush_dirty(e, STORE_WAIT_MS);
}

/* Add live job j to the dirty set (once). 0, or -1 out of memory. */
static int dirty_add(struct engine *e, struct job *j)
{
	if (dirty_find(e, j) >= 0)
		return 0;
	if (e->ndirty == e->capdirty) {
		size_t nc = e->capdirty ? e->capdirty * 2 : 32;
		struct job **nd = realloc(e->dirty, nc * sizeof *nd);
		if (!nd)
			return -1;
		e->dirty = nd;
		e->capdirty = nc;
	}
	if (!e->ndirty)
		e->dirty_since = util_now_ms();
	e->dirty[e->ndirty++] = j;
	return 0;
}

int engine_job_update(struct engine *e, struct job *j)
{
	char *err = NULL;
	struct live *l = engine_live_find(e, j->id);

	if (!l || l->j != j || dirty_add(e, j) < 0)
		goto now;
	if (l->sent) {
		l->sent = 0;
		e->dirty_urgent = 1;
	}
	/* from inside a pass: committed at its end, with the others */
	if (e->in_step)
		return 0;
	flush_dirty(e, -1);
	return dirty_find(e, j) < 0 ? 0 : -1;
now:
	/* not a live job of ours (or no memory): committed at once */
	if (save_jobs(e, &j, 1, STORE_BUSY_DEFAULT_MS, &err) < 0) {
		engine_message(e, 1, "job %lld: cannot save it: %s", (long long)j->id,
		               err ? err : "store error");
		free(err);
		return -1;
	}
	committed(e, j);
	return 0;
}

int engine_job_commit(struct engine *e, struct job *j)
{
	char *err = NULL;
	struct live *l;

	/* before a request leaves: at once, never waiting long for the lock
	 * (the request is then held back and sent later) */
	if (save_jobs(e, &j, 1, STORE_WAIT_MS, &err) < 0) {
		/* reported later too: engine_message would reach the front end */
		free(err);
		return -1;
	}
	engine_dirty_forget(e, j); /* what it held is committed now */
	if ((l = engine_live_find(e, j->id)) && l->j == j)
		l->sent = 1;
	for (size_t i = 0; i < e->nlater; i++)
		if (e->later[i] == j->id)
			return 0;
	if (e->nlater == e->caplater) {
		size_t nc = e->caplater ? e->caplater * 2 : 16;
		int64_t *nl = realloc(e->later, nc * sizeof *nl);
		if (!nl)
			return 0; /* committed; only the report is lost */
		e->later = nl;
		e->caplater = nc;
	}
	e->later[e->nlater++] = j->id;
	return 0;
}

void engine_flush(struct engine *e)
{
	flush_dirty(e, -1);
}

struct output_dirs *engine_output_dirs(struct engine *e)
{
	return &e->dirs;
}

struct saver *engine_saver(struct engine *e)
{
	char *err = NULL;

	if (!e->saver && !(e->saver = saver_new(e, &err))) {
		engine_message(e, 1, "images are written on the loop: %s", err ? err : "error");
		free(err);
	}
	return e->saver;
}
