/*
 * joblist.h: the dashboard's job list, a window over the history (no
 * curses). The newest page comes first (store_job_list with a limit), older
 * pages are appended as the selection moves down (before_id), so a long
 * history opens at once; after G the window is the oldest page with a gap
 * above it, filled as the selection moves up. A search (FTS5, every word a
 * prefix), a state filter and an order (newest first, or the newest
 * JOBLIST_SORT_MAX jobs by state, run time or endpoint) narrow and sort it.
 * It also keeps the live jobs' ids and states (the table's markers, the
 * header's counts) and follows the newest job when asked.
 *
 * Rows: the jobs of one submit of several (a group, vary.h) that are in the
 * window are one row, at the place of the group's first job in the list's
 * order, with their counts by state (joblist_group_summary: "3/8 done, 2
 * running, 1 failed"); an expanded group is followed by its jobs' rows. A
 * group with one job in the window is an ordinary row. The selection is a
 * row; moving, paging and follow work in rows. The rows are made again
 * (one pass over the window) when the window or a job in it changed, at the
 * next call that reads them.
 *
 * Errors of the store are kept: every call that can fail returns -1 and
 * joblist_error hands the message over.
 */
#ifndef SDQ_JOBLIST_H
#define SDQ_JOBLIST_H

#include <stddef.h>
#include <stdint.h>
#include "job.h"

struct store;
struct store_group;
struct engine;
struct joblist;

#define JOBLIST_SORT_MAX 2000 /* sorted other than by age: the newest this many */

/* The orders of the list (S cycles them). */
enum joblist_sort {
	JOBLIST_NEWEST,   /* newest first, paged through the whole history */
	JOBLIST_STATE,    /* live, then failed, cancelled, finished; newest first */
	JOBLIST_RUN,      /* the longest run first */
	JOBLIST_ENDPOINT, /* by endpoint name, newest first */
	JOBLIST_SORT_COUNT
};
/* "newest", "state", "run time", "endpoint". */
const char *joblist_sort_name(enum joblist_sort s);

/* What joblist_job_changed found (bits). */
enum {
	JOBLIST_PAINT = 1,  /* a loaded job changed: draw again */
	JOBLIST_RELOAD = 2, /* the list changed: joblist_reload */
	JOBLIST_MOVED = 4,  /* a live job changed state (the header's counts move) */
	JOBLIST_LIVE = 8,   /* a job outside the window changed: joblist_load_live
	                       (once per pass: with 1000 live jobs a pass brings
	                       hundreds of events, and each read is a query) */
};

/* A list over st, taking fresh copies of live jobs from e (both borrowed;
 * they must outlive it). Empty until joblist_reload. NULL on ENOMEM. */
struct joblist *joblist_new(struct store *st, struct engine *e);
void joblist_free(struct joblist *jl);

/* The last error (malloc'd, the caller frees it), or NULL. */
char *joblist_error(struct joblist *jl);

/* The visible rows: pages are twice that (at least 100 jobs), and a page is
 * kept loaded past the selection. */
void joblist_set_rows(struct joblist *jl, int rows);

/* Re-read the list: from the newest job, as many as are loaded now; or, with
 * a gap above (after G), the same window from its first job down. The
 * selection stays on its job when it is still there. 0 or -1. */
int joblist_reload(struct joblist *jl);
/* Move the selection by delta rows (loading pages as needed). */
void joblist_move(struct joblist *jl, long delta);
/* The first (newest) job: the window starts again from the newest. */
void joblist_first(struct joblist *jl);
/* The last (oldest) job: the window jumps to the oldest page. */
void joblist_last(struct joblist *jl);
/* Select the job at index i of the loaded window (clamped): its row, or its
 * group's row when the group is collapsed. */
void joblist_select_index(struct joblist *jl, size_t i);
/* Select job id at the next reload (a job just submitted). */
void joblist_select_id(struct joblist *jl, int64_t id);
/* Append the next page of older jobs. 0, or -1 if none came. */
int joblist_load_more(struct joblist *jl);

/* Re-read the ids and states of the live jobs (the markers, the header). */
void joblist_load_live(struct joblist *jl);

/* Job id changed (an engine event): refresh the copy in place. Returns
 * JOBLIST_* bits. */
int joblist_job_changed(struct joblist *jl, int64_t id);

/* Narrow to a search as typed (NULL or "": none), a state filter (a mask of
 * 1 << state, 0: all; live_only: the live states), an order, or turn
 * following the newest job on or off. Each empties the window: reload. */
void joblist_set_search(struct joblist *jl, const char *text);
void joblist_set_filter(struct joblist *jl, int state_mask, int live_only);
void joblist_set_sort(struct joblist *jl, enum joblist_sort s);
void joblist_set_follow(struct joblist *jl, int on);

/* The search as typed (NULL: none); borrowed until the next set_search. */
const char *joblist_search(const struct joblist *jl);
/* 1 with a search or a state filter. */
int joblist_narrowed(const struct joblist *jl);
int joblist_state_mask(const struct joblist *jl);
int joblist_live_only(const struct joblist *jl);
enum joblist_sort joblist_sort(const struct joblist *jl);
int joblist_follow(const struct joblist *jl);

/* The loaded window: *n jobs, borrowed until the next call that changes the
 * list. */
struct job **joblist_jobs(const struct joblist *jl, size_t *n);
/* The selected job (borrowed, like joblist_jobs), or NULL; on a group's row
 * its first job in the list's order. */
struct job *joblist_selected(struct joblist *jl);
/* Its index in the window (joblist_jobs). */
size_t joblist_sel(struct joblist *jl);

/* A group in the window: its jobs there, counted by state. */
struct joblist_group {
	int64_t id;
	size_t n;                     /* its jobs in the window */
	int nstate[JOB_STATE_COUNT];  /* ... by state */
	int nlive;                    /* ... live */
	double progress;              /* the mean progress of its running jobs that
	                                 report one, or -1 */
	int64_t newest_id, oldest_id; /* its jobs' ids in the window */
	int64_t created_at;           /* its first job's */
	int64_t started_at;           /* its earliest start, 0: none yet */
	int64_t finished_at;          /* its last finish once none is live, else 0 */
	int expanded;
};
enum joblist_row_kind {
	JOBLIST_ROW_JOB,    /* a job alone */
	JOBLIST_ROW_GROUP,  /* a group: job is its first job in the list's order */
	JOBLIST_ROW_MEMBER, /* a job of the expanded group above */
};
struct joblist_row {
	enum joblist_row_kind kind;
	size_t job;                     /* index in joblist_jobs */
	const struct joblist_group *group; /* GROUP and MEMBER rows, else NULL */
};
/* The rows (made again if needed); borrowed until the next call that
 * changes the list. */
const struct joblist_row *joblist_rows(struct joblist *jl, size_t *n);
/* The selected row's index, and its group when it is a group's row (NULL:
 * a job's row). */
size_t joblist_sel_row(struct joblist *jl);
const struct joblist_group *joblist_selected_group(struct joblist *jl);
/* Expand or collapse group id (its row stays selected). 1 if it changed. */
int joblist_expand(struct joblist *jl, int64_t group_id, int on);
/* Select row i (clamped). */
void joblist_select_row(struct joblist *jl, size_t i);
/* "3/8 done, 2 running, 1 queued, 1 failed, 1 cancelled" (only the counts
 * that are not 0, "done" always) into buf. Returns buf. */
char *joblist_group_summary(const struct joblist_group *g, char *buf, size_t size);

/* What the store knows of group id (its prompt as typed, its axes), read
 * once and kept while jl lives; NULL if it is not in the store. Borrowed. */
const struct store_group *joblist_group_info(struct joblist *jl, int64_t id);
/* A job's variant (job.h, a JSON object) in words: the values of its prompt
 * groups, then "key=value" ("red, steps=20"); "" for none. Returns buf. */
char *joblist_variant_text(const char *variant_json, char *buf, size_t size);

/* The first visible row, which the table keeps in view (view_jobs_draw
 * moves it); a pointer into jl, valid while jl lives. */
size_t *joblist_top(struct joblist *jl);
/* Older jobs than the window's last exist, not loaded. */
int joblist_more(const struct joblist *jl);
/* How many jobs of the whole list come before the window's first, and how
 * many match in all. */
int64_t joblist_base(const struct joblist *jl);
int64_t joblist_total(const struct joblist *jl);

/* The live jobs that match (ids, newest first; borrowed), how many of them
 * wait for a driver holding their API key, and how many of endpoint ep's
 * (NULL: any) are in state s. */
const int64_t *joblist_live(const struct joblist *jl, size_t *n);
size_t joblist_wait_key(const struct joblist *jl);
long joblist_live_in(const struct joblist *jl, const char *ep, enum job_state s);

#endif
