/*
 * view_jobs.h: the jobs table: one row per job, newest first, with state
 * (colour and text), progress, live timers, endpoint and prompt.
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

struct view_jobs_info {
	const int64_t *live_ids; /* ids of every live job matching the list's query */
	size_t nlive;
	int more;    /* older jobs exist beyond jobs[n-1] (not loaded) */
	int64_t now; /* wall clock, ms */
};

/* Draw jobs[0..n) (borrowed) into w: a heading row, then the rows from *top,
 * with row sel highlighted. *top is adjusted so that sel is visible. An empty
 * list shows empty_text (may be NULL). */
void view_jobs_draw(WINDOW *w, struct job **jobs, size_t n, size_t sel, size_t *top,
                    const struct view_jobs_info *info, const char *empty_text);

/* The index of the job drawn at window row y by the last view_jobs_draw, or
 * -1 (heading, marker, empty row). */
long view_jobs_hit(int y);

/* How many job rows fit in a window of height h (for paging). */
int view_jobs_page(int h);

#endif
