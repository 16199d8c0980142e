/*
 * joblist.c: the dashboard's job list, a paged window over the history (see
 * joblist.h). No curses: ui.c draws it (view_jobs.c) and feeds it events.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "job.h"
#include "store.h"
#include "util.h"
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

static void jl_select_id(struct joblist *jl)
{
	for (size_t i = 0; i < jl->n; i++)
		if (jl->jobs[i]->id == jl->sel_id) {
			jl->sel = i;
			return;
		}
	if (jl->sel >= jl->n)
		jl->sel = jl->n ? jl->n - 1 : 0;
	jl->sel_id = jl->n ? jl->jobs[jl->sel]->id : 0;
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
	jl->top += k;
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

struct job *joblist_selected(const struct joblist *jl)
{
	return jl->n && jl->sel < jl->n ? jl->jobs[jl->sel] : NULL;
}

void joblist_move(struct joblist *jl, long delta)
{
	if (!jl->n)
		return;
	long s = (long)jl->sel + delta;
	while (s >= (long)jl->n && jl->more && joblist_load_more(jl) == 0)
		;
	while (s < 0 && jl->gap) {
		size_t before = jl->n;
		if (jl_load_newer(jl) < 0)
			break;
		s += (long)(jl->n - before);
	}
	if (s >= (long)jl->n)
		s = (long)jl->n - 1;
	if (s < 0)
		s = 0;
	jl->sel = (size_t)s;
	/* keep a page loaded below the selection */
	if (jl->more && jl->sel + (size_t)jl->rows >= jl->n)
		joblist_load_more(jl);
	if (jl->gap && jl->sel < (size_t)jl->rows)
		jl_load_newer(jl);
	jl->sel_id = jl->jobs[jl->sel]->id;
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
}

void joblist_free(struct joblist *jl)
{
	if (!jl)
		return;
	jl_empty(jl);
	jl_free_live(jl);
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
	joblist_move(jl, -(long)jl->sel);
}

void joblist_last(struct joblist *jl)
{
	if (jl->more)
		jl_load_tail(jl);
	joblist_move(jl, (long)jl->n);
}

void joblist_select_index(struct joblist *jl, size_t i)
{
	if (!jl->n)
		return;
	jl->sel = i < jl->n ? i : jl->n - 1;
	jl->sel_id = jl->jobs[jl->sel]->id;
}

void joblist_select_id(struct joblist *jl, int64_t id)
{
	jl->sel_id = id;
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

size_t joblist_sel(const struct joblist *jl)
{
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
