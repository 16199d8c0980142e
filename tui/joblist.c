/*
 * joblist.c: the dashboard's job list, a paged window over the history (see
 * joblist.h). No curses: ui.c draws it (view_jobs.c) and feeds it events.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "job.h"
#include "store.h"
#include "util.h"
#include <cjson/cJSON.h>
#include "joblist.h"

#define JL_PAGE_MIN 100  /* jobs loaded per page at least */
#define JL_LIVE_MAX 1000 /* live ids tracked for the markers */

struct joblist {
	struct store *st;
	struct engine *e;
	int rows; /* visible rows: the page size follows */

	struct job **jobs;
	size_t n;
	int more;     /* older jobs than jobs[n-1] exist, not loaded */
	int gap;      /* newer jobs than jobs[0] exist, not loaded (after G) */
	int64_t base; /* how many jobs of the whole list come before jobs[0] */
	size_t sel, top;
	int64_t sel_id;
	int64_t total;

	int64_t *live;
	size_t nlive;
	enum job_state *live_state; /* live[i]'s state, kept current by job_changed */
	char **live_ep;             /* live[i]'s endpoint name (NULL: none) */
	size_t nwait_key;           /* live jobs whose API key no running sdq holds */

	char *search;   /* as typed */
	int state_mask; /* 0: all */
	int live_only;
	enum joblist_sort sort;
	int follow;        /* select each new job as it appears */
	int64_t newest_id; /* the newest job id seen (follow) */

	char *err;  /* the last error, for joblist_error */
	int failed; /* an error since the call began */

	/* Rows (joblist.h): made from jobs when rows_dirty, at the next read.
	 * sel is the selected row's job, rsel the row; sel_group the group
	 * whose row is selected (0: a job's row). top is a row. */
	struct joblist_row *rv;
	size_t nrows, rv_cap;
	struct joblist_group *groups; /* the window's groups, by slot */
	size_t ngroups, groups_cap;
	size_t *gnext;   /* gnext[i]: the next job of jobs[i]'s group, or SIZE_MAX */
	size_t *gslot;   /* gslot[i]: jobs[i]'s group slot, or SIZE_MAX */
	size_t *ghash;   /* open addressing: group id -> slot + 1 (0 empty) */
	size_t next_cap, slot_cap, hash_cap;
	int rows_dirty;
	size_t rsel;
	int64_t sel_group;
	int64_t *expanded; /* the expanded groups' ids */
	size_t nexpanded;
	struct store_group **info; /* joblist_group_info's cache */
	size_t ninfo;
};

/* Keep a store error (*err, freed) with what failed. */
static void jl_error(struct joblist *jl, const char *what, char **err)
{
	char *m = util_asprintf("%s: %s", what, err && *err ? *err : "failed");
	free(jl->err);
	jl->err = m;
	jl->failed = 1;
	if (err) {
		free(*err);
		*err = NULL;
	}
}

static int jl_page(const struct joblist *jl)
{
	int p = jl->rows * 2;
	return p > JL_PAGE_MIN ? p : JL_PAGE_MIN;
}

/* FTS5 query from what the user typed: every word as a quoted prefix. */
static char *jl_fts_query(const char *in)
{
	if (!in)
		return NULL;
	size_t cap = strlen(in) * 2 + 16, o = 0;
	char *q = malloc(cap);
	if (!q)
		return NULL;
	const char *p = in;
	while (*p) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		if (o)
			q[o++] = ' ';
		q[o++] = '"';
		while (*p && *p != ' ') {
			if (*p == '"')
				q[o++] = '"';
			q[o++] = *p++;
		}
		q[o++] = '"';
		q[o++] = '*';
	}
	q[o] = 0;
	if (!o) {
		free(q);
		return NULL;
	}
	return q;
}

static void jl_query(struct joblist *jl, struct store_query *q, char **fts)
{
	memset(q, 0, sizeof *q);
	*fts = jl_fts_query(jl->search);
	q->text = *fts;
	q->state_mask = jl->state_mask;
	q->live_only = jl->live_only;
}

static void jl_rows(struct joblist *jl);
static void jl_fill(struct joblist *jl);

/* The window changed: the rows are made again, the selection kept. */
static void jl_select_id(struct joblist *jl)
{
	jl->rows_dirty = 1;
	jl_rows(jl);
	jl_fill(jl);
}

static void jl_free_live(struct joblist *jl)
{
	for (size_t i = 0; jl->live_ep && i < jl->nlive; i++)
		free(jl->live_ep[i]);
	free(jl->live_ep);
	free(jl->live_state);
	free(jl->live);
	jl->live_ep = NULL;
	jl->live_state = NULL;
	jl->live = NULL;
	jl->nlive = 0;
}

/* Jobs of endpoint ep (NULL: every endpoint) among the live ones in state s. */
long joblist_live_in(const struct joblist *jl, const char *ep, enum job_state s)
{
	long n = 0;
	for (size_t i = 0; i < jl->nlive; i++)
		if (jl->live_state[i] == s &&
		    (!ep || (jl->live_ep[i] && strcmp(jl->live_ep[i], ep) == 0)))
			n++;
	return n;
}

void joblist_load_live(struct joblist *jl)
{
	struct store_query q;
	char *fts, *err = NULL;
	struct job **l = NULL;
	size_t n = 0;
	jl_query(jl, &q, &fts);
	q.live_only = 1;
	q.limit = JL_LIVE_MAX;
	if (store_job_list(jl->st, &q, &l, &n, &err) == 0) {
		int64_t *ids = malloc((n ? n : 1) * sizeof *ids);
		enum job_state *sts = malloc((n ? n : 1) * sizeof *sts);
		char **eps = calloc(n ? n : 1, sizeof *eps);
		if (ids && sts && eps) {
			for (size_t i = 0; i < n; i++) {
				ids[i] = l[i]->id;
				sts[i] = l[i]->state;
				eps[i] = l[i]->endpoint ? strdup(l[i]->endpoint) : NULL;
			}
			jl_free_live(jl);
			jl->live = ids;
			jl->live_state = sts;
			jl->live_ep = eps;
			ids = NULL;
			sts = NULL;
			eps = NULL;
			jl->nlive = n;
			jl->nwait_key = 0;
			for (size_t i = 0; i < n; i++)
				jl->nwait_key += store_job_waits_for_key(jl->st, l[i]) != 0;
		}
		free(ids);
		free(sts);
		free(eps);
		store_jobs_free(l, n);
	} else {
		free(err);
	}
	free(fts);
}

static int jl_state_rank(enum job_state s)
{
	static const enum job_state order[] = {JOB_IN_PROGRESS, JOB_IN_QUEUE,  JOB_SUBMITTING,
	                                       JOB_PENDING,     JOB_OTHER,     JOB_UNKNOWN,
	                                       JOB_FAILED,      JOB_TIMED_OUT, JOB_SUBMIT_FAILED,
	                                       JOB_EXPIRED,     JOB_CANCELLED, JOB_COMPLETED};
	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
		if (order[i] == s)
			return (int)i;
	return (int)(sizeof order / sizeof order[0]);
}

/* How long a job ran (or runs: now), -1 if it never started. */
static int64_t jl_run_ms(const struct job *j, int64_t now)
{
	if (j->started_at)
		return (j->finished_at ? j->finished_at : now) - j->started_at;
	return j->exec_ms >= 0 ? j->exec_ms : -1;
}

static int jl_sort_key;
static int64_t jl_sort_now;

/* Live first, then failures, cancelled, finished; the longest run first; by
 * endpoint name; ties newest first. */
static int jl_sort_cmp(const void *pa, const void *pb)
{
	const struct job *a = *(struct job *const *)pa, *b = *(struct job *const *)pb;
	int c = 0;
	if (jl_sort_key == JOBLIST_STATE) {
		c = jl_state_rank(a->state) - jl_state_rank(b->state);
	} else if (jl_sort_key == JOBLIST_RUN) {
		int64_t x = jl_run_ms(a, jl_sort_now), y = jl_run_ms(b, jl_sort_now);
		c = x > y ? -1 : x < y;
	} else if (jl_sort_key == JOBLIST_ENDPOINT) {
		const char *x = a->endpoint ? a->endpoint : a->params.endpoint;
		const char *y = b->endpoint ? b->endpoint : b->params.endpoint;
		c = strcmp(x ? x : "", y ? y : "");
	}
	return c ? c : a->id > b->id ? -1 : a->id < b->id;
}

static void jl_sort(struct joblist *jl)
{
	jl_sort_key = jl->sort;
	jl_sort_now = job_now_ms();
	if (jl->n > 1)
		qsort(jl->jobs, jl->n, sizeof *jl->jobs, jl_sort_cmp);
}

/* Follow (F): a job newer than any seen before is selected. */
static void jl_follow(struct joblist *jl)
{
	int64_t newest = 0;
	size_t at = 0;
	for (size_t i = 0; i < jl->n; i++)
		if (jl->jobs[i]->id > newest) {
			newest = jl->jobs[i]->id;
			at = i;
		}
	if (jl->follow && newest > jl->newest_id) {
		jl->sel = at;
		jl->sel_id = newest;
		jl->sel_group = 0; /* its group's row when collapsed (jl_rows) */
	}
	if (newest > jl->newest_id)
		jl->newest_id = newest;
}

/* Re-read the list: from the newest job, as many as are loaded now; or, with
 * a gap above (after G), the same window from its first job down. */
static void jl_reload(struct joblist *jl)
{
	struct store_query q;
	char *fts, *err = NULL;
	struct job **l = NULL;
	size_t n = 0, want = jl->n > (size_t)jl_page(jl) ? jl->n : (size_t)jl_page(jl);
	if (jl->sort != JOBLIST_NEWEST) { /* one window, sorted here */
		want = JOBLIST_SORT_MAX;
		jl->gap = 0;
	}
	jl_query(jl, &q, &fts);
	q.limit = (int)want;
	if (jl->gap && jl->n)
		q.before_id = jl->jobs[0]->id + 1;
	if (store_job_list(jl->st, &q, &l, &n, &err) < 0) {
		jl_error(jl, jl->search && *jl->search ? "search" : "history", &err);
		free(fts);
		return;
	}
	if (jl->gap && n == 0) { /* the window is gone: start from the top */
		free(l);
		free(fts);
		jl->gap = 0;
		jl->base = 0;
		store_jobs_free(jl->jobs, jl->n);
		jl->jobs = NULL;
		jl->n = 0;
		jl_reload(jl);
		return;
	}
	store_jobs_free(jl->jobs, jl->n);
	jl->jobs = l;
	jl->n = n;
	jl->more = n == want && jl->sort == JOBLIST_NEWEST;
	if (jl->sort != JOBLIST_NEWEST)
		jl_sort(jl);
	jl_follow(jl);
	int64_t bound = q.before_id;
	q.before_id = 0;
	jl->total = store_job_count(jl->st, &q, NULL);
	if (jl->gap) {
		q.before_id = bound;
		jl->base = jl->total - store_job_count(jl->st, &q, NULL);
		jl->gap = jl->base > 0;
	} else {
		jl->base = 0;
	}
	free(fts);
	jl_select_id(jl);
	joblist_load_live(jl);
}

/* The window at the end of the list (G on a long history): the oldest page,
 * with a gap above it that jl_load_newer fills as the selection moves up. */
static void jl_load_tail(struct joblist *jl)
{
	struct store_query q;
	char *fts, *err = NULL;
	struct job **l = NULL;
	size_t n = 0;
	jl_query(jl, &q, &fts);
	q.oldest_first = 1;
	q.limit = jl_page(jl);
	int rc = store_job_list(jl->st, &q, &l, &n, &err);
	q.oldest_first = 0;
	int64_t total = rc == 0 ? store_job_count(jl->st, &q, NULL) : -1;
	free(fts);
	if (rc < 0) {
		jl_error(jl, "history", &err);
		return;
	}
	if (n == 0) {
		free(l);
		return;
	}
	for (size_t i = 0; i < n / 2; i++) { /* newest first, like the rest */
		struct job *t = l[i];
		l[i] = l[n - 1 - i];
		l[n - 1 - i] = t;
	}
	store_jobs_free(jl->jobs, jl->n);
	jl->jobs = l;
	jl->n = n;
	jl->more = 0;
	jl->total = total;
	jl->base = total > (int64_t)n ? total - (int64_t)n : 0;
	jl->gap = jl->base > 0;
	jl->sel = n - 1;
	jl->top = 0;
	jl->sel_id = l[n - 1]->id;
	jl->sel_group = 0;
	jl->rows_dirty = 1;
	joblist_load_live(jl);
}

/* Fill the gap above jobs[0] with the page of jobs just newer than it. The
 * store pages only downwards (before_id), so find the bound B with exactly a
 * page of matching jobs between jobs[0] and B by bisection over counts, then
 * list downwards from B. 0, or -1 if nothing came. */
static int jl_load_newer(struct joblist *jl)
{
	if (!jl->gap || jl->n == 0)
		return -1;
	struct store_query q;
	char *fts, *err = NULL;
	struct job **l = NULL;
	size_t n = 0;
	int64_t top = jl->jobs[0]->id, page = jl_page(jl);
	jl_query(jl, &q, &fts);
	q.limit = 1;
	if (store_job_list(jl->st, &q, &l, &n, &err) < 0 || n == 0) {
		free(err);
		store_jobs_free(l, n);
		free(fts);
		jl->gap = 0;
		return -1;
	}
	int64_t hi = l[0]->id + 1, lo = top + 1;
	store_jobs_free(l, n);
	l = NULL;
	q.before_id = top + 1;
	int64_t c0 = store_job_count(jl->st, &q, NULL);
	q.before_id = hi;
	int head = store_job_count(jl->st, &q, NULL) - c0 <= page;
	if (!head) {
		while (lo < hi) {
			int64_t mid = lo + (hi - lo) / 2;
			q.before_id = mid;
			if (store_job_count(jl->st, &q, NULL) - c0 >= page)
				hi = mid;
			else
				lo = mid + 1;
		}
	}
	q.before_id = hi;
	q.limit = (int)page;
	int rc = store_job_list(jl->st, &q, &l, &n, &err);
	free(fts);
	if (rc < 0) {
		jl_error(jl, "history", &err);
		return -1;
	}
	size_t k = 0; /* keep only jobs newer than the window (a race may add others) */
	for (size_t i = 0; i < n; i++) {
		if (l[i]->id > top)
			l[k++] = l[i];
		else
			job_free(l[i]);
	}
	if (k == 0) {
		free(l);
		jl->gap = 0;
		return -1;
	}
	struct job **nj = realloc(l, (k + jl->n) * sizeof *nj);
	if (!nj) {
		store_jobs_free(l, k);
		return -1;
	}
	memcpy(nj + k, jl->jobs, jl->n * sizeof *nj);
	free(jl->jobs);
	jl->jobs = nj;
	jl->n += k;
	jl->sel += k;
	/* the rows above the view grew by what came: the view stays put */
	size_t before = jl->nrows;
	jl->rows_dirty = 1;
	jl_rows(jl);
	if (jl->nrows > before)
		jl->top += jl->nrows - before;
	jl->base = jl->base > (int64_t)k ? jl->base - (int64_t)k : 0;
	if (head)
		jl->gap = 0;
	if (!jl->gap)
		jl->base = 0;
	return 0;
}

/* Append the next page of older jobs. 0, or -1 if none came. */
int joblist_load_more(struct joblist *jl)
{
	if (!jl->more || jl->n == 0)
		return -1;
	struct store_query q;
	char *fts, *err = NULL;
	struct job **l = NULL;
	size_t n = 0;
	jl_query(jl, &q, &fts);
	q.limit = jl_page(jl);
	q.before_id = jl->jobs[jl->n - 1]->id;
	int rc = store_job_list(jl->st, &q, &l, &n, &err);
	free(fts);
	if (rc < 0) {
		jl_error(jl, "history", &err);
		return -1;
	}
	jl->more = n == (size_t)q.limit;
	if (n == 0) {
		free(l);
		return -1;
	}
	struct job **nj = realloc(jl->jobs, (jl->n + n) * sizeof *nj);
	if (!nj) {
		store_jobs_free(l, n);
		return -1;
	}
	memcpy(nj + jl->n, l, n * sizeof *l);
	free(l);
	jl->jobs = nj;
	jl->n += n;
	jl->rows_dirty = 1;
	return 0;
}

int joblist_job_changed(struct joblist *jl, int64_t id)
{
	/* the header counts the live jobs by state: keep the state current in
	 * the same pass as the table's copy */
	int r = 0;
	for (size_t i = 0; i < jl->nlive; i++) {
		if (jl->live[i] != id)
			continue;
		const struct job *ej = engine_job(jl->e, id);
		struct job *sj = ej ? NULL : store_job_get(jl->st, id, NULL);
		const struct job *cj = ej ? ej : sj;
		if (cj && cj->state != jl->live_state[i]) {
			jl->live_state[i] = cj->state;
			r |= JOBLIST_MOVED;
		}
		job_free(sj);
		break;
	}
	for (size_t i = 0; i < jl->n; i++) {
		if (jl->jobs[i]->id != id)
			continue;
		const struct job *ej = engine_job(jl->e, id);
		struct job *nj = ej ? job_dup(ej) : store_job_get(jl->st, id, NULL);
		if (!nj)
			return r | JOBLIST_RELOAD;
		if (job_state_is_live(nj->state) != job_state_is_live(jl->jobs[i]->state) ||
		    (jl->state_mask && !(jl->state_mask & (1 << nj->state))) ||
		    (jl->sort != JOBLIST_NEWEST && nj->state != jl->jobs[i]->state))
			r |= JOBLIST_RELOAD;
		job_free(jl->jobs[i]);
		jl->jobs[i] = nj;
		jl->rows_dirty = 1; /* its group's counts */
		return r | JOBLIST_PAINT;
	}
	/* Not loaded. Without a search or filter, a job older than the loaded
	 * window (or newer, with the window at the end after G) only matters
	 * for the live markers; anything else means the list changed. */
	if (!joblist_narrowed(jl) && jl->n &&
	    (id < jl->jobs[jl->n - 1]->id || (jl->gap && id > jl->jobs[0]->id)))
		return r | JOBLIST_LIVE;
	return r | JOBLIST_RELOAD;
}

struct job *joblist_selected(struct joblist *jl)
{
	jl_rows(jl);
	return jl->nrows && jl->sel < jl->n ? jl->jobs[jl->sel] : NULL;
}

/* The selection is on row i: its job and group become the selection. */
static void jl_sel_row(struct joblist *jl, size_t i)
{
	if (!jl->nrows) {
		jl->rsel = 0;
		return;
	}
	jl->rsel = i < jl->nrows ? i : jl->nrows - 1;
	const struct joblist_row *r = &jl->rv[jl->rsel];
	jl->sel = r->job;
	jl->sel_id = jl->jobs[r->job]->id;
	jl->sel_group = r->kind == JOBLIST_ROW_GROUP ? r->group->id : 0;
}

void joblist_move(struct joblist *jl, long delta)
{
	jl_rows(jl);
	if (!jl->nrows)
		return;
	long s = (long)jl->rsel + delta;
	while (s >= (long)jl->nrows && jl->more && joblist_load_more(jl) == 0)
		jl_rows(jl);
	while (s < 0 && jl->gap) {
		size_t before = jl->nrows;
		if (jl_load_newer(jl) < 0)
			break;
		s += (long)(jl->nrows - before);
	}
	if (s >= (long)jl->nrows)
		s = (long)jl->nrows - 1;
	if (s < 0)
		s = 0;
	jl_sel_row(jl, (size_t)s);
	/* keep a page loaded below the selection */
	jl_fill(jl);
	if (jl->gap && jl->rsel < (size_t)jl->rows)
		jl_load_newer(jl);
}

struct joblist *joblist_new(struct store *st, struct engine *e)
{
	struct joblist *jl = calloc(1, sizeof *jl);
	if (!jl)
		return NULL;
	jl->st = st;
	jl->e = e;
	jl->rows = 24;
	return jl;
}

static void jl_empty(struct joblist *jl)
{
	store_jobs_free(jl->jobs, jl->n);
	jl->jobs = NULL;
	jl->n = 0;
	jl->sel = jl->top = 0;
	jl->gap = 0;
	jl->base = 0;
	jl->nrows = 0;
	jl->rsel = 0;
	jl->rows_dirty = 1;
}

void joblist_free(struct joblist *jl)
{
	if (!jl)
		return;
	jl_empty(jl);
	jl_free_live(jl);
	free(jl->rv);
	free(jl->groups);
	free(jl->gnext);
	free(jl->gslot);
	free(jl->ghash);
	free(jl->expanded);
	store_groups_free(jl->info, jl->ninfo);
	free(jl->search);
	free(jl->err);
	free(jl);
}

char *joblist_error(struct joblist *jl)
{
	char *e = jl->err;
	jl->err = NULL;
	return e;
}

void joblist_set_rows(struct joblist *jl, int rows)
{
	jl->rows = rows > 0 ? rows : 1;
}

int joblist_reload(struct joblist *jl)
{
	jl->failed = 0;
	jl_reload(jl);
	return jl->failed ? -1 : 0;
}

void joblist_first(struct joblist *jl)
{
	if (jl->gap) { /* start again from the newest */
		jl_empty(jl);
		jl->sel_id = 0;
		jl_reload(jl);
	}
	jl_rows(jl);
	joblist_move(jl, -(long)jl->rsel);
}

void joblist_last(struct joblist *jl)
{
	if (jl->more)
		jl_load_tail(jl);
	jl_rows(jl);
	joblist_move(jl, (long)jl->nrows);
}

void joblist_select_index(struct joblist *jl, size_t i)
{
	if (!jl->n)
		return;
	jl->sel = i < jl->n ? i : jl->n - 1;
	jl->sel_id = jl->jobs[jl->sel]->id;
	jl->sel_group = 0; /* its group's row when collapsed */
	jl->rows_dirty = 1;
	jl_rows(jl);
}

void joblist_select_id(struct joblist *jl, int64_t id)
{
	jl->sel_id = id;
	jl->sel_group = 0;
}

void joblist_set_search(struct joblist *jl, const char *text)
{
	free(jl->search);
	jl->search = text && *text ? strdup(text) : NULL;
	jl_empty(jl);
	jl->sel_id = 0;
}

void joblist_set_filter(struct joblist *jl, int state_mask, int live_only)
{
	jl->state_mask = state_mask;
	jl->live_only = live_only;
	jl_empty(jl);
	jl->sel_id = 0;
}

void joblist_set_sort(struct joblist *jl, enum joblist_sort s)
{
	jl->sort = s < JOBLIST_SORT_COUNT ? s : JOBLIST_NEWEST;
	jl->gap = 0;
	jl->base = 0;
}

void joblist_set_follow(struct joblist *jl, int on)
{
	jl->follow = on;
	if (on)
		jl->newest_id = 0; /* the newest is selected at the next reload */
}

const char *joblist_sort_name(enum joblist_sort s)
{
	static const char *const names[JOBLIST_SORT_COUNT] = {"newest", "state", "run time",
	                                                      "endpoint"};
	return s < JOBLIST_SORT_COUNT ? names[s] : "?";
}

const char *joblist_search(const struct joblist *jl)
{
	return jl->search;
}

int joblist_narrowed(const struct joblist *jl)
{
	return (jl->search && *jl->search) || jl->state_mask || jl->live_only;
}

int joblist_state_mask(const struct joblist *jl)
{
	return jl->state_mask;
}

int joblist_live_only(const struct joblist *jl)
{
	return jl->live_only;
}

enum joblist_sort joblist_sort(const struct joblist *jl)
{
	return jl->sort;
}

int joblist_follow(const struct joblist *jl)
{
	return jl->follow;
}

struct job **joblist_jobs(const struct joblist *jl, size_t *n)
{
	*n = jl->n;
	return jl->jobs;
}

size_t joblist_sel(struct joblist *jl)
{
	jl_rows(jl);
	return jl->sel;
}

size_t *joblist_top(struct joblist *jl)
{
	return &jl->top;
}

int joblist_more(const struct joblist *jl)
{
	return jl->more;
}

int64_t joblist_base(const struct joblist *jl)
{
	return jl->base;
}

int64_t joblist_total(const struct joblist *jl)
{
	return jl->total;
}

const int64_t *joblist_live(const struct joblist *jl, size_t *n)
{
	*n = jl->nlive;
	return jl->live;
}

size_t joblist_wait_key(const struct joblist *jl)
{
	return jl->nwait_key;
}

/* --- rows --- */

/* Room for n entries of size sz in *p (capacity *cap), doubling through
 * util_grow. 0 or -1. */
static int jl_grow(void **p, size_t *cap, size_t n, size_t sz)
{
	while (*cap < n) {
		void *q = util_grow(*p, *cap, cap, n > 64 ? n : 64, sz);
		if (!q)
			return -1;
		*p = q;
	}
	return 0;
}

static int jl_is_expanded(const struct joblist *jl, int64_t gid)
{
	for (size_t i = 0; i < jl->nexpanded; i++)
		if (jl->expanded[i] == gid)
			return 1;
	return 0;
}

/* The slot of group gid (made when new); SIZE_MAX on ENOMEM. */
static size_t jl_group_slot(struct joblist *jl, int64_t gid, const struct job *j)
{
	size_t mask = jl->hash_cap - 1, h = (size_t)((uint64_t)gid * 0x9E3779B97F4A7C15ull) & mask;
	while (jl->ghash[h]) {
		size_t s = jl->ghash[h] - 1;
		if (jl->groups[s].id == gid)
			return s;
		h = (h + 1) & mask;
	}
	size_t s = jl->ngroups++;
	struct joblist_group *g = &jl->groups[s];
	memset(g, 0, sizeof *g);
	g->id = gid;
	g->newest_id = g->oldest_id = j->id;
	g->created_at = j->created_at;
	g->expanded = jl_is_expanded(jl, gid);
	jl->ghash[h] = s + 1;
	return s;
}

/* Make the rows from the window (when it changed) and find the selection's
 * row again: the same group's row, else the same job's (its group's row
 * when collapsed), else the same place. */
static void jl_rows(struct joblist *jl)
{
	if (!jl->rows_dirty)
		return;
	size_t n = jl->n, hc = 16;
	while (hc < n * 2)
		hc *= 2;
	/* every job is one row, and each group of two or more one more */
	if (jl_grow((void **)&jl->rv, &jl->rv_cap, n * 2 + 1, sizeof *jl->rv) < 0 ||
	    jl_grow((void **)&jl->groups, &jl->groups_cap, n + 1, sizeof *jl->groups) < 0 ||
	    jl_grow((void **)&jl->gnext, &jl->next_cap, n + 1, sizeof *jl->gnext) < 0 ||
	    jl_grow((void **)&jl->gslot, &jl->slot_cap, n + 1, sizeof *jl->gslot) < 0) {
		jl->nrows = 0;
		return;
	}
	if (hc > jl->hash_cap) {
		size_t *h = realloc(jl->ghash, hc * sizeof *h);
		if (!h) {
			jl->nrows = 0;
			return;
		}
		jl->ghash = h;
		jl->hash_cap = hc;
	}
	memset(jl->ghash, 0, jl->hash_cap * sizeof *jl->ghash);
	jl->rows_dirty = 0;
	jl->ngroups = 0;

	/* the groups, their counts, and each job's next in its group */
	/* per slot: its last job so far (the chain's end), its running jobs'
	 * progress, whether its row is made */
	size_t *last = malloc((n + 1) * sizeof *last);
	double *psum = calloc(n + 1, sizeof *psum);
	int *pn = calloc(n + 1, sizeof *pn);
	if (!last || !psum || !pn) {
		free(last);
		free(psum);
		free(pn);
		jl->nrows = 0;
		jl->rows_dirty = 1;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct job *j = jl->jobs[i];
		jl->gnext[i] = SIZE_MAX;
		jl->gslot[i] = SIZE_MAX;
		if (!j->group_id)
			continue;
		size_t s = jl_group_slot(jl, j->group_id, j);
		struct joblist_group *g = &jl->groups[s];
		if (g->n)
			jl->gnext[last[s]] = i;
		last[s] = i;
		jl->gslot[i] = s;
		g->n++;
		if ((unsigned)j->state < JOB_STATE_COUNT)
			g->nstate[j->state]++;
		if (job_state_is_live(j->state))
			g->nlive++;
		if (j->id > g->newest_id)
			g->newest_id = j->id;
		if (j->id < g->oldest_id)
			g->oldest_id = j->id;
		if (j->created_at && (!g->created_at || j->created_at < g->created_at))
			g->created_at = j->created_at;
		if (j->started_at && (!g->started_at || j->started_at < g->started_at))
			g->started_at = j->started_at;
		if (j->finished_at > g->finished_at)
			g->finished_at = j->finished_at;
		if (j->state == JOB_IN_PROGRESS && j->progress >= 0) {
			psum[s] += j->progress;
			pn[s]++;
		}
	}
	for (size_t s = 0; s < jl->ngroups; s++) {
		struct joblist_group *g = &jl->groups[s];
		g->progress = pn[s] ? psum[s] / pn[s] : -1;
		if (g->nlive)
			g->finished_at = 0;
		pn[s] = 0; /* now: its row is made */
	}
	free(last);
	free(psum);

	/* the rows: a group's row where its first job is, then (expanded) its
	 * jobs; a group of one job in the window is a job's row */
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		size_t s = jl->gslot[i];
		struct joblist_group *g = s == SIZE_MAX ? NULL : &jl->groups[s];
		if (!g || g->n < 2) {
			jl->rv[k++] = (struct joblist_row){JOBLIST_ROW_JOB, i, NULL};
			continue;
		}
		if (pn[s])
			continue; /* its row is made */
		pn[s] = 1;
		jl->rv[k++] = (struct joblist_row){JOBLIST_ROW_GROUP, i, g};
		if (g->expanded)
			for (size_t m = i; m != SIZE_MAX; m = jl->gnext[m])
				jl->rv[k++] = (struct joblist_row){JOBLIST_ROW_MEMBER, m, g};
	}
	free(pn);
	jl->nrows = k;

	/* the selection */
	size_t at = SIZE_MAX;
	for (size_t r = 0; jl->sel_group && r < k && at == SIZE_MAX; r++)
		if (jl->rv[r].kind == JOBLIST_ROW_GROUP && jl->rv[r].group->id == jl->sel_group)
			at = r;
	for (size_t r = 0; at == SIZE_MAX && jl->sel_id && r < k; r++)
		if (jl->rv[r].kind != JOBLIST_ROW_GROUP &&
		    jl->jobs[jl->rv[r].job]->id == jl->sel_id)
			at = r;
	for (size_t i = 0; at == SIZE_MAX && jl->sel_id && i < n; i++) {
		if (jl->jobs[i]->id != jl->sel_id)
			continue;
		for (size_t r = 0; r < k; r++)
			if (jl->rv[r].kind == JOBLIST_ROW_GROUP && jl->gslot[i] != SIZE_MAX &&
			    jl->rv[r].group == &jl->groups[jl->gslot[i]])
				at = r;
		break;
	}
	jl_sel_row(jl, at != SIZE_MAX ? at : jl->rsel);
}

/* Rows for a page below the selection: a collapsed group is one row for
 * many jobs, so a page of jobs may be a few rows; load pages until there are
 * (or the history ends). */
static void jl_fill(struct joblist *jl)
{
	jl_rows(jl);
	while (jl->more && jl->rsel + (size_t)jl->rows >= jl->nrows &&
	       joblist_load_more(jl) == 0)
		jl_rows(jl);
}

const struct joblist_row *joblist_rows(struct joblist *jl, size_t *n)
{
	jl_rows(jl);
	*n = jl->nrows;
	return jl->rv;
}

size_t joblist_sel_row(struct joblist *jl)
{
	jl_rows(jl);
	return jl->rsel;
}

const struct joblist_group *joblist_selected_group(struct joblist *jl)
{
	jl_rows(jl);
	return jl->nrows && jl->rv[jl->rsel].kind == JOBLIST_ROW_GROUP ? jl->rv[jl->rsel].group
	                                                                 : NULL;
}

void joblist_select_row(struct joblist *jl, size_t i)
{
	jl_rows(jl);
	jl_sel_row(jl, i);
}

int joblist_expand(struct joblist *jl, int64_t group_id, int on)
{
	size_t i = 0;
	while (i < jl->nexpanded && jl->expanded[i] != group_id)
		i++;
	if ((i < jl->nexpanded) == (on != 0))
		return 0;
	if (on) {
		int64_t *e = realloc(jl->expanded, (jl->nexpanded + 1) * sizeof *e);
		if (!e)
			return 0;
		jl->expanded = e;
		jl->expanded[jl->nexpanded++] = group_id;
	} else {
		jl->expanded[i] = jl->expanded[--jl->nexpanded];
	}
	/* the group's row stays selected */
	jl->sel_group = group_id;
	jl->rows_dirty = 1;
	jl_rows(jl);
	return 1;
}

char *joblist_group_summary(const struct joblist_group *g, char *buf, size_t size)
{
	int queued = 0, failed = 0;
	for (int s = 0; s < JOB_STATE_COUNT; s++) {
		if (s == JOB_IN_PROGRESS || s == JOB_COMPLETED || s == JOB_CANCELLED)
			continue;
		if (job_state_is_live((enum job_state)s))
			queued += g->nstate[s];
		else
			failed += g->nstate[s];
	}
	const struct {
		int n;
		const char *what;
	} part[] = {{g->nstate[JOB_IN_PROGRESS], "running"},
	            {queued, "queued"},
	            {failed, "failed"},
	            {g->nstate[JOB_CANCELLED], "cancelled"}};
	size_t o = 0;
	int k = snprintf(buf, size, "%d/%zu done", g->nstate[JOB_COMPLETED], g->n);
	o = k > 0 ? (size_t)k : 0;
	for (size_t i = 0; i < sizeof part / sizeof part[0] && o < size; i++) {
		if (!part[i].n)
			continue;
		k = snprintf(buf + o, size - o, ", %d %s", part[i].n, part[i].what);
		if (k < 0)
			break;
		o += (size_t)k;
	}
	return buf;
}

const struct store_group *joblist_group_info(struct joblist *jl, int64_t id)
{
	for (size_t i = 0; i < jl->ninfo; i++)
		if (jl->info[i]->id == id)
			return jl->info[i];
	struct store_group *g = store_group_get(jl->st, id, NULL);
	struct store_group **a = g ? realloc(jl->info, (jl->ninfo + 1) * sizeof *a) : NULL;
	if (!a) {
		store_group_free(g);
		return NULL;
	}
	jl->info = a;
	a[jl->ninfo++] = g;
	return g;
}

char *joblist_variant_text(const char *variant_json, char *buf, size_t size)
{
	size_t o = 0;
	if (!size)
		return buf;
	buf[0] = '\0';
	cJSON *v = variant_json ? cJSON_Parse(variant_json) : NULL;
	for (cJSON *it = v ? v->child : NULL; it && o + 1 < size; it = it->next) {
		char *val = cJSON_IsString(it) ? NULL : cJSON_PrintUnformatted(it);
		const char *t = cJSON_IsString(it) ? it->valuestring : val ? val : "?";
		int k;
		/* a prompt group's value alone; other keys by name */
		if (it->string && (strncmp(it->string, "prompt{", 7) == 0 ||
		                   strncmp(it->string, "negative{", 9) == 0))
			k = snprintf(buf + o, size - o, "%s%s", o ? ", " : "", t);
		else
			k = snprintf(buf + o, size - o, "%s%s=%s", o ? ", " : "",
			             it->string ? it->string : "?", t);
		free(val);
		if (k < 0)
			break;
		o += (size_t)k;
	}
	cJSON_Delete(v);
	return buf;
}
