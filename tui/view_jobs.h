/*
 * view_jobs.h: the jobs table: one row per job, newest first, with state
 * (colour and text), progress, live timers, endpoint and prompt; a group
 * (joblist.h) is one row with its counts ("3/8 done, 2 running") and, when
 * expanded, its jobs' rows under it, each with what varies for it.
 *
 * Live jobs never get lost by scrolling: when live jobs lie above or below the
 * visible rows, the first or last row becomes a marker "^ 2 live jobs above
 * (g)" / "v 1 live job below" instead of a job.
 */
#ifndef SDQ_VIEW_JOBS_H
#define SDQ_VIEW_JOBS_H

#include <stddef.h>
#include <stdint.h>
#include "tui.h"
#include "job.h"
#include "joblist.h"

struct view_jobs_info {
	const int64_t *live_ids; /* ids of every live job matching the list's query */
	size_t nlive;
	int more;    /* older jobs exist beyond jobs[n-1] (not loaded) */
	int64_t now; /* wall clock, ms */
	/* Why a live job that does not run yet waits ("4 ahead ~40s"), shown
	 * before its prompt; NULL (or answering NULL): nothing. Called for the
	 * visible rows only. */
	const char *(*reason)(void *ctx, const struct job *j);
	void *reason_ctx;
	/* A group's prompt as typed ("a {red|blue} car"), or NULL (its first
	 * job's prompt is shown). */
	const char *(*group_prompt)(void *ctx, int64_t group_id);
};

/* Draw rows[0..n) of jobs (borrowed, joblist.h) into w: a heading row, then
 * the rows from *top, with row sel highlighted. *top is adjusted so that sel
 * is visible. An empty list shows empty_text (may be NULL). */
void view_jobs_draw(WINDOW *w, struct job **jobs, const struct joblist_row *rows, size_t n,
                    size_t sel, size_t *top, const struct view_jobs_info *info,
                    const char *empty_text);

/* The index of the row drawn at window row y by the last view_jobs_draw, or
 * -1 (heading, marker, empty row). */
long view_jobs_hit(int y);

/* How many job rows fit in a window of height h (for paging). */
int view_jobs_page(int h);

#endif
