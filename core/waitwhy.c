/*
 * waitwhy.c: why a live job is waiting and an estimate (see waitwhy.h).
 */
#include "waitwhy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "engine.h"
#include "store.h"
#include "util.h"

void waitwhy_in_init(struct waitwhy_in *in, const struct job *j, int64_t now_ms)
{
	memset(in, 0, sizeof *in);
	in->job = j;
	in->now_ms = now_ms;
	in->local = j && j->backend && !(backend_kind_caps(j->backend) & BACKEND_REMOTE_HEALTH);
}

void waitwhy_in_health(struct waitwhy_in *in, const struct engine_health *h)
{
	in->has_health = h && h->valid && h->reachable && !h->auth_failed && !h->not_found &&
	                 !h->no_health && !h->error;
	in->health_why[0] = '\0';
	if (!in->has_health) {
		in->idle = in->running = in->initializing = 0;
		in->throttled = in->unhealthy = in->in_queue = 0;
		if (!h)
			return;
		snprintf(in->health_why, sizeof in->health_why, "%s",
		         h->auth_failed  ? "the API key was refused"
		         : h->not_found  ? "no such endpoint (HTTP 404)"
		         : h->no_health  ? "the server has no /health"
		         : h->error      ? h->error
		                         : "no answer");
		return;
	}
	in->idle = h->workers_idle;
	in->running = h->workers_running;
	in->initializing = h->workers_initializing;
	in->throttled = h->workers_throttled;
	in->unhealthy = h->workers_unhealthy;
	in->in_queue = h->jobs_in_queue;
}

void waitwhy_in_other(struct waitwhy_in *in, const struct job *o)
{
	if (!o || !in->job || o->id == in->job->id)
		return;
	if (o->state == JOB_IN_PROGRESS) {
		if (in->local && !in->blocker_id) {
			in->blocker_id = o->id;
			in->blocker_started_at = o->started_at;
		}
	} else if (o->state == JOB_IN_QUEUE) {
		if (o->id < in->job->id)
			in->ahead++;
		else
			in->behind++;
	}
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static int64_t median(int64_t *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_i64);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void waitwhy_stats_of(const struct job *const *jobs, size_t n, struct waitwhy_stats *out)
{
	int64_t d[WAITWHY_HISTORY], x[WAITWHY_HISTORY];
	int nd = 0, nx = 0;

	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < n; i++) {
		const struct job *j = jobs[i];
		if (!j || j->state != JOB_COMPLETED)
			continue;
		if (j->delay_ms >= 0 && nd < WAITWHY_HISTORY)
			d[nd++] = j->delay_ms;
		if (j->exec_ms >= 0 && nx < WAITWHY_HISTORY)
			x[nx++] = j->exec_ms;
	}
	out->n_delay = nd;
	out->n_exec = nx;
	out->median_delay_ms = nd ? median(d, nd) : -1;
	out->median_exec_ms = nx ? median(x, nx) : -1;
}

/* How long the job has waited so far (its delayTime when the endpoint said). */
static int64_t waited_ms(const struct waitwhy_in *in)
{
	const struct job *j = in->job;
	int64_t from = j->submitted_at ? j->submitted_at : j->created_at;
	int64_t w = from > 0 && in->now_ms > from ? in->now_ms - from : 0;
	return j->delay_ms > w ? j->delay_ms : w;
}

/* The typical delay less what it waited already; none when it is past it. */
static void est_delay(const struct waitwhy_in *in, struct waitwhy *out)
{
	int64_t left;
	if (in->stats.n_delay <= 0)
		return;
	left = in->stats.median_delay_ms - waited_ms(in);
	if (left <= 0)
		return; /* it waits longer than usual: no estimate */
	out->estimate_ms = left;
	out->basis_n = in->stats.n_delay;
}

/* n jobs to run before this one on w workers, each a median execution. */
static void est_exec(const struct waitwhy_in *in, long n, long w, int64_t less,
                     struct waitwhy *out)
{
	int64_t t;
	if (in->stats.n_exec <= 0 || in->stats.median_exec_ms <= 0)
		return;
	if (w < 1)
		w = 1;
	t = (int64_t)((n + w - 1) / w) * in->stats.median_exec_ms - less;
	out->estimate_ms = t > 0 ? t : 0;
	out->basis_n = in->stats.n_exec;
}

/* Jobs ahead: this sdq's, or the endpoint's count of the others it holds
 * when that is more (*elsewhere: how many of them this sdq did not send). */
static long ahead_of(const struct waitwhy_in *in, long *elsewhere)
{
	long a = in->ahead;

	*elsewhere = 0;
	if (in->has_health && in->in_queue - 1 - in->behind > a) {
		*elsewhere = in->in_queue - 1 - in->behind - a;
		a = in->in_queue - 1 - in->behind;
	}
	return a;
}

void waitwhy_explain(const struct waitwhy_in *in, struct waitwhy *out)
{
	const struct job *j = in->job;
	long workers;

	memset(out, 0, sizeof *out);
	out->estimate_ms = -1;
	if (!j || !job_state_is_live(j->state) || j->state == JOB_IN_PROGRESS)
		return;
	out->waiting = 1;
	if (j->state == JOB_PENDING || j->state == JOB_SUBMITTING) {
		snprintf(out->reason, sizeof out->reason, "%s",
		         j->state == JOB_PENDING ? "not sent yet: waiting for the driver"
		                                 : "being sent to the endpoint");
		return;
	}
	if (in->local) {
		int64_t ran = 0;
		if (in->blocker_id > 0) {
			snprintf(out->reason, sizeof out->reason, "waiting for job %lld on %.40s",
			         (long long)in->blocker_id,
			         j->endpoint ? j->endpoint : j->params.endpoint ? j->params.endpoint
			                                                        : "this backend");
			if (in->ahead > 0) {
				size_t l = strlen(out->reason);
				snprintf(out->reason + l, sizeof out->reason - l, " (%ld more ahead)",
				         in->ahead);
			}
			if (in->blocker_started_at > 0 && in->now_ms > in->blocker_started_at)
				ran = in->now_ms - in->blocker_started_at;
			if (ran > in->stats.median_exec_ms)
				ran = in->stats.median_exec_ms;
			est_exec(in, in->ahead + 1, 1, ran, out);
		} else if (in->ahead > 0) {
			snprintf(out->reason, sizeof out->reason, "%ld ahead in the local queue",
			         in->ahead);
			est_exec(in, in->ahead, 1, 0, out);
		} else {
			snprintf(out->reason, sizeof out->reason, "starting");
		}
		return;
	}
	if (!in->has_health) {
		char why[80] = "";

		if (in->health_why[0])
			snprintf(why, sizeof why, ": %.64s", in->health_why);
		if (in->ahead > 0)
			snprintf(out->reason, sizeof out->reason,
			         "%ld ahead in the queue (endpoint health unknown%s)", in->ahead, why);
		else
			snprintf(out->reason, sizeof out->reason,
			         "in the queue (endpoint health unknown%s)", why);
		est_delay(in, out);
		return;
	}
	workers = in->idle + in->running;
	if (in->idle > 0) {
		snprintf(out->reason, sizeof out->reason, "in the queue: %ld worker%s idle, starting",
		         in->idle, in->idle == 1 ? "" : "s");
		est_delay(in, out);
	} else if (in->running > 0) {
		/* every worker is busy: it waits for those ahead of it and the ones running */
		long elsewhere, ahead = ahead_of(in, &elsewhere);
		if (ahead > 0 && elsewhere > 0)
			snprintf(out->reason, sizeof out->reason,
			         "%ld ahead in the queue (%ld from elsewhere), %ld worker%s busy", ahead,
			         elsewhere, in->running, in->running == 1 ? "" : "s");
		else if (ahead > 0)
			snprintf(out->reason, sizeof out->reason, "%ld ahead in the queue, %ld worker%s busy",
			         ahead, in->running, in->running == 1 ? "" : "s");
		else
			snprintf(out->reason, sizeof out->reason, "all %ld worker%s busy", in->running,
			         in->running == 1 ? "" : "s");
		est_exec(in, ahead + 1, workers, 0, out);
	} else if (in->initializing > 0) {
		snprintf(out->reason, sizeof out->reason, "cold start: %ld worker%s initializing",
		         in->initializing, in->initializing == 1 ? "" : "s");
		est_delay(in, out);
	} else if (in->throttled > 0) {
		snprintf(out->reason, sizeof out->reason,
		         "throttled: no GPU free for this endpoint (%ld throttled)", in->throttled);
	} else if (in->unhealthy > 0) {
		snprintf(out->reason, sizeof out->reason, "worker unhealthy (%ld unhealthy)",
		         in->unhealthy);
	} else {
		snprintf(out->reason, sizeof out->reason, "no worker: waiting for one to start");
	}
}

char *waitwhy_format(const struct waitwhy *w, char *buf, size_t size)
{
	if (!size)
		return buf;
	if (!w->waiting) {
		buf[0] = '\0';
		return buf;
	}
	if (w->estimate_ms < 0) {
		snprintf(buf, size, "%s, no estimate", w->reason);
		return buf;
	}
	long s = (long)((w->estimate_ms + 999) / 1000);
	if (s < 120)
		snprintf(buf, size, "%s, ~%ld s (median of the last %d job%s)", w->reason, s,
		         w->basis_n, w->basis_n == 1 ? "" : "s");
	else
		snprintf(buf, size, "%s, ~%ld min (median of the last %d job%s)", w->reason,
		         (s + 59) / 60, w->basis_n, w->basis_n == 1 ? "" : "s");
	return buf;
}

static const char *ep_of(const struct job *j)
{
	return j->endpoint ? j->endpoint : j->params.endpoint ? j->params.endpoint : "";
}

int waitwhy_gather(struct store *st, const struct job *j, const struct engine_health *h,
                   int64_t now_ms, struct waitwhy *out, char **err)
{
	struct waitwhy_in in;
	struct store_query q;
	struct job **js = NULL;
	const struct job *hist[WAITWHY_HISTORY];
	size_t n = 0, nh = 0;
	const char *ep = ep_of(j);

	waitwhy_in_init(&in, j, now_ms);
	waitwhy_in_health(&in, h);
	memset(out, 0, sizeof *out);
	out->estimate_ms = -1;
	if (!job_state_is_live(j->state) || j->state == JOB_IN_PROGRESS)
		return 0;

	/* the live jobs of this endpoint ahead of j (sdq's order: by id) */
	memset(&q, 0, sizeof q);
	q.live_only = 1;
	q.oldest_first = 1;
	q.limit = 10000;
	if (store_job_list(st, &q, &js, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(ep_of(js[i]), ep) == 0)
			waitwhy_in_other(&in, js[i]);
	}
	store_jobs_free(js, n);

	/* this endpoint's recent finished jobs, newest first */
	memset(&q, 0, sizeof q);
	q.state_mask = 1 << JOB_COMPLETED;
	q.limit = 500;
	js = NULL;
	n = 0;
	if (store_job_list(st, &q, &js, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n && nh < WAITWHY_HISTORY; i++)
		if (strcmp(ep_of(js[i]), ep) == 0)
			hist[nh++] = js[i];
	waitwhy_stats_of(hist, nh, &in.stats);
	store_jobs_free(js, n);
	waitwhy_explain(&in, out);
	return 0;
}
