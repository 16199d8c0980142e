/*
 * store.h: the durable history, one SQLite database (WAL) shared by every sdq
 * process: jobs with all their parameters, their outputs, every state change
 * as an event, and an FTS5 index over prompts.
 *
 * Every write that belongs together is one transaction, committed before the
 * function returns, so a change is durable before any front end is told of
 * it. Several processes may open the same file at once (busy_timeout).
 *
 * Errors: functions return 0 / -1 (or NULL) and, on failure, set *err to a
 * malloc'd message that the caller frees (err may be NULL).
 */
#ifndef SDQ_STORE_H
#define SDQ_STORE_H

#include <stddef.h>
#include <stdint.h>
#include "job.h"

struct store;

/* Open (creating the file and its directory if needed) and migrate the
 * database at path. NULL on failure with *err set. */
struct store *store_open(const char *path, char **err);
/* Close st. Accepts NULL. */
void store_close(struct store *st);
/* The path st was opened with (borrowed, valid until store_close). */
const char *store_path(const struct store *st);

/* Insert j as a new job (its state as given, normally PENDING) with a
 * "created" event, set j->id and, if 0, j->created_at. 0 or -1. */
int store_job_add(struct store *st, struct job *j, char **err);

/* Write every field of j (found by j->id) in one transaction: the job row, an
 * event row if j->state differs from the stored state, and any output of j
 * whose index is not stored yet. 0 or -1 (also when no such job). */
int store_job_save(struct store *st, const struct job *j, char **err);
/* store_job_save of n jobs in ONE transaction (one commit for all: the
 * driver saves what a pass of its loop changed together). All or none. */
int store_jobs_save(struct store *st, const struct job *const *jobs, size_t n, char **err);

#define STORE_BUSY_DEFAULT_MS 5000
/* How long a write waits for another process's write lock before failing
 * (SQLite's busy timeout); STORE_BUSY_DEFAULT_MS unless set. A loop sets it short and
 * keeps what it could not write for later (store_was_busy). */
void store_set_busy_wait(struct store *st, int ms);
/* 1 if the last call that failed failed because another connection held
 * the database's write lock past the busy wait (trying again later may
 * work), 0 for any other failure. */
int store_was_busy(const struct store *st);

/* Set only the request flags of job id (any process may call this; the driver
 * acts on them). 0 or -1. */
int store_job_request_cancel(struct store *st, int64_t id, char **err);
int store_job_request_retry(struct store *st, int64_t id, char **err);
/* Reset both request flags of job id to 0; the driver calls this once it has
 * acted on them (store_job_save never touches the flags, so requests written
 * by other processes meanwhile are not lost). 0 or -1 (also when no such job). */
int store_job_clear_requests(struct store *st, int64_t id, char **err);

/* Load job id with its outputs. NULL if absent (with *err NULL) or on error. */
struct job *store_job_get(struct store *st, int64_t id, char **err);

/* Find a job by a user's reference: a local id ("42"), or a remote id or a
 * unique prefix of one. 0 if not found or ambiguous (with *err saying which). */
int64_t store_job_find(struct store *st, const char *ref, char **err);

/* Delete job id, its outputs and events (not the image files). 0 or -1. */
int store_job_delete(struct store *st, int64_t id, char **err);

/* A query over the history. Zero-initialise, then set what you need. */
struct store_query {
	const char *text;   /* full-text search over prompt and negative prompt: every
			       word (run of non-blanks) must match the start of a word;
			       punctuation is safe; up to 64 words; NULL or no
			       words: all */
	int state_mask;     /* bit (1 << state) for each wanted state; 0: all */
	int live_only;      /* only jobs with job_state_is_live() */
	int64_t group_id;   /* only the jobs of this group (store_group_add); 0: any */
	int64_t before_id;  /* only jobs with id < before_id (paging); 0: no bound */
	int limit;          /* at most this many; 0: no limit */
	int oldest_first;   /* default: newest (highest id) first */
};

/* Run q. On success *out is a malloc'd array of *n jobs (each with outputs),
 * freed with store_jobs_free. 0 or -1. */
int store_job_list(struct store *st, const struct store_query *q, struct job ***out, size_t *n,
		   char **err);
void store_jobs_free(struct job **jobs, size_t n);

/* Walk the jobs of q newest first, page jobs at a time (q->limit and
 * q->before_id are the walk's own), calling fn with each; a job is fn's to
 * read during the call only. fn returns 1 to go on, 0 to go on through this
 * page but read no more, -1 to stop at once. 0, or -1 (an error reading a
 * page: the jobs of the pages before were walked). */
typedef int (*store_job_fn)(const struct job *j, void *udata);
int store_job_walk(struct store *st, const struct store_query *q, int page, store_job_fn fn,
		   void *udata, char **err);

/* Count jobs matching q (limit ignored). -1 on error. */
int64_t store_job_count(struct store *st, const struct store_query *q, char **err);

/* A group: the jobs one submit of variations made (vary.h). Each job
 * records its group_id and its variant (job.h). */
struct store_group {
	int64_t id;
	int64_t created_at;
	char *prompt;          /* as typed, with its {a|b} groups; NULL: none */
	char *negative_prompt; /* likewise */
	char *axes_json;       /* what varies: vary_axes_json(), or NULL */
	int njobs;             /* how many jobs the submit made */
	/* Filled by store_group_get and store_group_list: the group's jobs in
	 * the history now (some may have been deleted), in all and by state. */
	int nhistory;
	int nstate[JOB_STATE_COUNT];
};

/* Record a new group (id, nhistory and nstate are ignored; created_at 0 is
 * now) and return its id, or 0 with *err set. Its jobs name it in their
 * group_id when they are added. */
int64_t store_group_add(struct store *st, const struct store_group *g, char **err);
/* Group id with its job counts; NULL if absent (*err NULL) or on error.
 * Free with store_group_free. */
struct store_group *store_group_get(struct store *st, int64_t id, char **err);
/* The groups with at least one job matching q (q->limit counts groups; the
 * order is q's, by group id), with their job counts. *out is a malloc'd
 * array of *n, freed with store_groups_free. 0 or -1. */
int store_group_list(struct store *st, const struct store_query *q, struct store_group ***out,
                     size_t *n, char **err);
/* Free g (NULL allowed) / an array of n groups and the array. */
void store_group_free(struct store_group *g);
void store_groups_free(struct store_group **g, size_t n);

/* One recorded state change. */
struct store_event {
	int64_t at;  /* ms since epoch */
	char *state; /* state name */
	char *detail;
};
/* The events of job id, oldest first; free with store_events_free. 0 or -1. */
int store_job_events(struct store *st, int64_t id, struct store_event **out, size_t *n,
		     char **err);
void store_events_free(struct store_event *ev, size_t n);

/* Recent distinct prompts, newest first (for recall in the compose form). */
int store_recent_prompts(struct store *st, int limit, char ***out, size_t *n, char **err);
void store_strings_free(char **s, size_t n);

/* A number that changes whenever another connection commits to the database
 * (PRAGMA data_version), so a viewer can cheaply tell when to re-read. Commits
 * made through st itself do not change it. -1 on error. */
int64_t store_data_version(struct store *st);

/* The driver lock: an exclusive flock on "<db path>.lock". Returns 1 if this
 * process now holds it (or already did), 0 if another process holds it, -1 on
 * error. Never blocks. The lock is released by store_unlock_driver,
 * store_close, or the death of the process. */
int store_lock_driver(struct store *st, char **err);
void store_unlock_driver(struct store *st);
/* The pid written in the lock file by the process holding it, or 0. */
long store_driver_pid(struct store *st);

/* The driver lock of the jobs sent with the API key of fingerprint fp
 * (keyfp.h): "<db path>.lock-<fp>". Jobs that record a key fingerprint are
 * driven by the process holding their key's lock (it holds that key); the
 * lock above (store_lock_driver) covers local jobs and jobs without one.
 * Same rules as store_lock_driver: 1 held (now or already), 0 another
 * process holds it, -1 on error (also when fp is not a fingerprint). */
int store_lock_key(struct store *st, const char *fp, char **err);
void store_unlock_key(struct store *st, const char *fp);
/* The pid of the process holding fp's lock (getpid() if it is us), or 0. */
long store_key_driver_pid(struct store *st, const char *fp);
/* 1 if j is live, records a key fingerprint, and no process holds that key's
 * driver lock: nothing sends or follows it until an sdq with its key runs. */
int store_job_waits_for_key(struct store *st, const struct job *j);

/* Many jobs in ONE transaction (a group's re-run and cancel: a commit per
 * job made the dashboard wait seconds for 1000+ jobs).
 * store_jobs_add: store_job_add of jobs[0..n), all or none (their ids 0
 * again on failure). store_jobs_request_cancel: store_job_request_cancel of
 * each id; *done: how many jobs there were (an id no longer in the history
 * is passed over). 0 or -1. */
int store_jobs_add(struct store *st, struct job *const *jobs, size_t n, char **err);
int store_jobs_request_cancel(struct store *st, const int64_t *ids, size_t n, size_t *done,
                              char **err);

#endif
