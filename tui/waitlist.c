/*
 * waitlist.c: the jobs table's waiting reasons (see waitlist.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "job.h"
#include "store.h"
#include "waitwhy.h"
#include "waitlist.h"

#define WL_EVERY_MS 1000 /* the store is read at most this often */
#define WL_LIVE_MAX 10000
#define WL_DONE_MAX 500 /* recent finished jobs looked at for the medians */
#define WL_ANSWERS 256  /* answers kept between reads (the visible rows) */

struct wl_answer {
	int64_t id;
	char text[64]; /* "" : it does not wait */
};

struct waitlist {
	struct store *st;
	int64_t read_at; /* 0: never */
	unsigned long reads;
	struct job **live; /* the live jobs, oldest first */
	size_t nlive;
	struct job **done; /* the last finished COMPLETED jobs, newest first */
	size_t ndone;
	struct wl_answer ans[WL_ANSWERS];
	size_t nans;
};

struct waitlist *waitlist_new(struct store *st)
{
	struct waitlist *wl = calloc(1, sizeof *wl);
	if (wl)
		wl->st = st;
	return wl;
}

static void wl_drop(struct waitlist *wl)
{
	store_jobs_free(wl->live, wl->nlive);
	store_jobs_free(wl->done, wl->ndone);
	wl->live = wl->done = NULL;
	wl->nlive = wl->ndone = 0;
	wl->nans = 0;
}

void waitlist_free(struct waitlist *wl)
{
	if (!wl)
		return;
	wl_drop(wl);
	free(wl);
}

unsigned long waitlist_reads(const struct waitlist *wl)
{
	return wl->reads;
}

static const char *wl_ep(const struct job *j)
{
	return j->endpoint ? j->endpoint : j->params.endpoint ? j->params.endpoint : "";
}

/* Read the store again (at most once a second). */
static void wl_read(struct waitlist *wl, int64_t now)
{
	if (wl->read_at && now >= wl->read_at && now - wl->read_at < WL_EVERY_MS)
		return;
	struct store_query q;
	wl_drop(wl);
	wl->read_at = now;
	wl->reads++;
	memset(&q, 0, sizeof q);
	q.live_only = 1;
	q.oldest_first = 1;
	q.limit = WL_LIVE_MAX;
	if (store_job_list(wl->st, &q, &wl->live, &wl->nlive, NULL) < 0) {
		wl->live = NULL;
		wl->nlive = 0;
	}
	memset(&q, 0, sizeof q);
	q.state_mask = 1 << JOB_COMPLETED;
	q.limit = WL_DONE_MAX;
	if (store_job_list(wl->st, &q, &wl->done, &wl->ndone, NULL) < 0) {
		wl->done = NULL;
		wl->ndone = 0;
	}
}

/* What waitwhy_gather works out, from what was read. */
static void wl_explain(struct waitlist *wl, const struct job *j, const struct engine_health *h,
                       int64_t now, struct waitwhy *out)
{
	struct waitwhy_in in;
	const struct job *hist[WAITWHY_HISTORY];
	size_t nh = 0;
	const char *ep = wl_ep(j);
	waitwhy_in_init(&in, j, now);
	waitwhy_in_health(&in, h);
	for (size_t i = 0; i < wl->nlive; i++)
		if (strcmp(wl_ep(wl->live[i]), ep) == 0)
			waitwhy_in_other(&in, wl->live[i]);
	for (size_t i = 0; i < wl->ndone && nh < WAITWHY_HISTORY; i++)
		if (strcmp(wl_ep(wl->done[i]), ep) == 0)
			hist[nh++] = wl->done[i];
	waitwhy_stats_of(hist, nh, &in.stats);
	waitwhy_explain(&in, out);
}

const char *waitlist_reason(struct waitlist *wl, const struct job *j,
                            const struct engine_health *h, int64_t now_ms)
{
	if (!j || !job_state_is_live(j->state) || j->state == JOB_IN_PROGRESS)
		return NULL;
	wl_read(wl, now_ms);
	for (size_t i = 0; i < wl->nans; i++)
		if (wl->ans[i].id == j->id)
			return wl->ans[i].text[0] ? wl->ans[i].text : NULL;
	struct waitwhy w;
	wl_explain(wl, j, h, now_ms, &w);
	if (wl->nans == WL_ANSWERS)
		wl->nans = 0; /* more rows than kept: start over */
	struct wl_answer *a = &wl->ans[wl->nans++];
	a->id = j->id;
	a->text[0] = '\0';
	if (w.waiting)
		waitlist_short(&w, a->text, sizeof a->text);
	return a->text[0] ? a->text : NULL;
}

char *waitlist_short(const struct waitwhy *w, char *buf, size_t size)
{
	const char *r = w->reason;
	size_t n = strcspn(r, ":(,");
	char head[96];
	if (strstr(r, "idle, starting")) { /* "in the queue: 2 workers idle, starting" */
		r = "starting";
		n = strlen(r);
	} else if (strncmp(r, "not sent yet", 12) == 0) {
		r = "not sent yet";
		n = strlen(r);
	}
	snprintf(head, sizeof head, "%.*s", (int)n, r);
	while (n && head[n - 1] == ' ')
		head[--n] = '\0';
	/* "4 ahead in the queue", "2 ahead in the local queue": "4 ahead" */
	char *q = strstr(head, " in the ");
	if (q && q != head && strstr(q, "queue"))
		*q = '\0';
	else if (strcmp(head, "in the queue") == 0)
		snprintf(head, sizeof head, "queued");
	if (w->estimate_ms < 0) {
		snprintf(buf, size, "%s", head);
	} else {
		long s = (long)((w->estimate_ms + 999) / 1000);
		if (s < 120)
			snprintf(buf, size, "%s ~%lds", head, s);
		else
			snprintf(buf, size, "%s ~%ldmin", head, (s + 59) / 60);
	}
	return buf;
}
