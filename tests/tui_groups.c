/*
 * tui_groups.c: the jobs table's model without a terminal: joblist's rows
 * (a group of jobs is one row with its counts, expands to its jobs'
 * rows, keeps the selection across reloads, follows the list's order) and
 * waitlist's reasons (short, from one read of the store a second however
 * many rows ask). Linked with libsdqtui (joblist.o, waitlist.o).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "th.h"
#include "engine.h"
#include "job.h"
#include "store.h"
#include "waitwhy.h"
#include "joblist.h"
#include "waitlist.h"

static struct store *st;

/* A job of group gid (0: alone) in state s, with a variant. Its id. */
static int64_t add(int64_t gid, enum job_state s, const char *prompt, const char *variant)
{
	struct job *j = job_new();
	char *err = NULL;
	job_set_str(&j->params.prompt, prompt);
	job_set_str(&j->backend, "runpod");
	job_set_str(&j->endpoint, "ep");
	j->group_id = gid;
	if (variant)
		job_set_str(&j->variant, variant);
	j->state = JOB_PENDING;
	if (store_job_add(st, j, &err) != 0) {
		fprintf(stderr, "store_job_add: %s\n", err ? err : "?");
		free(err);
		job_free(j);
		return 0;
	}
	j->state = s;
	if (s == JOB_IN_PROGRESS) {
		j->started_at = job_now_ms();
		j->progress = 0.5;
	}
	if (!job_state_is_live(s))
		j->finished_at = job_now_ms();
	store_job_save(st, j, NULL);
	int64_t id = j->id;
	job_free(j);
	return id;
}

static int64_t group(const char *prompt, int n)
{
	struct store_group g;
	memset(&g, 0, sizeof g);
	g.prompt = (char *)prompt;
	g.njobs = n;
	return store_group_add(st, &g, NULL);
}

static const char *kinds(struct joblist *jl, char *buf, size_t size)
{
	size_t n, o = 0;
	const struct joblist_row *r = joblist_rows(jl, &n);
	buf[0] = 0;
	for (size_t i = 0; i < n && o + 2 < size; i++)
		buf[o++] = r[i].kind == JOBLIST_ROW_GROUP ? 'G' : r[i].kind == JOBLIST_ROW_MEMBER ? 'm' : 'j';
	buf[o] = 0;
	return buf;
}

static void test_rows(void)
{
	char b[256], sum[128];
	int64_t g = group("a {red|blue|green|gold} car", 4);
	int64_t a = add(0, JOB_COMPLETED, "before", NULL);
	int64_t m1 = add(g, JOB_COMPLETED, "a red car", "{\"prompt{1}\":\"red\",\"steps\":20}");
	add(g, JOB_IN_PROGRESS, "a blue car", "{\"prompt{1}\":\"blue\",\"steps\":20}");
	add(g, JOB_FAILED, "a green car", "{\"prompt{1}\":\"green\",\"steps\":20}");
	int64_t m4 = add(g, JOB_IN_QUEUE, "a gold car", "{\"prompt{1}\":\"gold\",\"steps\":20}");
	int64_t z = add(0, JOB_IN_QUEUE, "after", NULL);
	CHECK(a && m1 && m4 && z);
	struct joblist *jl = joblist_new(st, NULL);
	joblist_set_rows(jl, 20);
	CHECK_INT(joblist_reload(jl), 0);
	/* newest first: the job after, the group's one row, the job before */
	CHECK_STR(kinds(jl, b, sizeof b), "jGj");
	size_t n;
	const struct joblist_row *r = joblist_rows(jl, &n);
	struct job **jobs = joblist_jobs(jl, &n);
	CHECK(r[1].group && r[1].group->id == g && r[1].group->n == 4);
	CHECK_INT(jobs[r[1].job]->id, m4); /* its first job in the list's order */
	CHECK_STR(joblist_group_summary(r[1].group, sum, sizeof sum),
	          "1/4 done, 1 running, 1 queued, 1 failed");
	CHECK(r[1].group->progress > 0.49 && r[1].group->progress < 0.51);
	CHECK_INT(r[1].group->nlive, 2);
	/* select the group's row, expand: its jobs follow it, newest first */
	joblist_move(jl, 1);
	CHECK(joblist_selected_group(jl) && joblist_selected_group(jl)->id == g);
	CHECK_INT(joblist_expand(jl, g, 1), 1);
	CHECK_STR(kinds(jl, b, sizeof b), "jGmmmmj");
	CHECK_INT(joblist_sel_row(jl), 1); /* the group's row stays selected */
	r = joblist_rows(jl, &n);
	jobs = joblist_jobs(jl, &n);
	CHECK_INT(jobs[r[2].job]->id, m4);
	CHECK_INT(jobs[r[5].job]->id, m1);
	CHECK_STR(joblist_variant_text(jobs[r[5].job]->variant, b, sizeof b), "red, steps=20");
	/* a job's row of the group, kept across a reload; collapsing selects the
	 * group's row */
	joblist_move(jl, 4);
	CHECK_INT(joblist_selected(jl)->id, m1);
	CHECK(joblist_selected_group(jl) == NULL);
	CHECK_INT(joblist_reload(jl), 0);
	CHECK_INT(joblist_selected(jl)->id, m1);
	CHECK_INT(joblist_expand(jl, g, 0), 1);
	CHECK_STR(kinds(jl, b, sizeof b), "jGj");
	CHECK(joblist_selected_group(jl) && joblist_selected_group(jl)->id == g);
	/* a filter narrows the group to its matching jobs: one left is a job's row */
	joblist_set_filter(jl, 1 << JOB_FAILED, 0);
	joblist_reload(jl);
	CHECK_STR(kinds(jl, b, sizeof b), "j");
	joblist_set_filter(jl, (1 << JOB_FAILED) | (1 << JOB_COMPLETED), 0);
	joblist_reload(jl);
	CHECK_STR(kinds(jl, b, sizeof b), "Gj");
	r = joblist_rows(jl, &n);
	CHECK_STR(joblist_group_summary(r[0].group, sum, sizeof sum), "1/2 done, 1 failed");
	/* by state: the group's row where its first job in that order is (the
	 * running one: before the job alone that waits) */
	joblist_set_filter(jl, 0, 0);
	joblist_set_sort(jl, JOBLIST_STATE);
	joblist_reload(jl);
	CHECK_STR(kinds(jl, b, sizeof b), "Gjj");
	/* follow: a new job of a collapsed group selects the group's row */
	joblist_set_sort(jl, JOBLIST_NEWEST);
	joblist_set_follow(jl, 1);
	joblist_reload(jl);
	CHECK_INT(joblist_selected(jl)->id, z);
	int64_t m5 = add(g, JOB_PENDING, "a gold car", "{\"prompt{1}\":\"gold\",\"steps\":30}");
	joblist_reload(jl);
	CHECK_STR(kinds(jl, b, sizeof b), "Gjj");
	CHECK(joblist_selected_group(jl) && joblist_selected_group(jl)->id == g);
	CHECK_INT(joblist_selected(jl)->id, m5);
	/* g then G in rows */
	joblist_last(jl);
	CHECK_INT(joblist_sel_row(jl), 2);
	joblist_first(jl);
	CHECK_INT(joblist_sel_row(jl), 0);
	joblist_free(jl);
}

/* Many rows asking in one second read the store once. */
static void test_waitlist(void)
{
	char b[96];
	struct waitlist *wl = waitlist_new(st);
	struct engine_health h;
	memset(&h, 0, sizeof h);
	h.valid = h.reachable = 1;
	h.workers_initializing = 1;
	struct store_query q;
	struct job **l = NULL;
	size_t n = 0;
	memset(&q, 0, sizeof q);
	q.live_only = 1;
	q.oldest_first = 1;
	CHECK_INT(store_job_list(st, &q, &l, &n, NULL), 0);
	int64_t t = job_now_ms();
	const struct job *queued = NULL;
	for (int frame = 0; frame < 50; frame++)
		for (size_t i = 0; i < n; i++) {
			const char *why = waitlist_reason(wl, l[i], &h, t + frame * 10);
			if (l[i]->state == JOB_IN_QUEUE) {
				queued = l[i];
				CHECK_STR(why, "cold start");
			} else if (l[i]->state == JOB_IN_PROGRESS) {
				CHECK(why == NULL);
			}
		}
	CHECK(queued != NULL);
	CHECK_INT(waitlist_reads(wl), 1);
	/* a second later: read again, and the answers follow the health */
	h.workers_initializing = 0;
	h.workers_throttled = 2;
	CHECK_STR(waitlist_reason(wl, queued, &h, t + 1000), "throttled");
	CHECK_INT(waitlist_reads(wl), 2);
	store_jobs_free(l, n);
	waitlist_free(wl);
	/* the short forms */
	struct waitwhy w;
	memset(&w, 0, sizeof w);
	w.waiting = 1;
	w.estimate_ms = 40000;
	snprintf(w.reason, sizeof w.reason, "4 ahead in the queue, 1 worker busy");
	CHECK_STR(waitlist_short(&w, b, sizeof b), "4 ahead ~40s");
	snprintf(w.reason, sizeof w.reason, "waiting for job 12 on gpu (2 more ahead)");
	w.estimate_ms = -1;
	CHECK_STR(waitlist_short(&w, b, sizeof b), "waiting for job 12 on gpu");
	snprintf(w.reason, sizeof w.reason, "in the queue: 2 workers idle, starting");
	CHECK_STR(waitlist_short(&w, b, sizeof b), "starting");
	snprintf(w.reason, sizeof w.reason, "3 ahead in the local queue");
	w.estimate_ms = 300000;
	CHECK_STR(waitlist_short(&w, b, sizeof b), "3 ahead ~5min");
}

int main(void)
{
	char path[4200], *err = NULL;
	snprintf(path, sizeof path, "%s/history.db", th_tmpdir());
	st = store_open(path, &err);
	if (!st) {
		fprintf(stderr, "store_open: %s\n", err ? err : "?");
		return 1;
	}
	TH_RUN(test_rows);
	TH_RUN(test_waitlist);
	store_close(st);
	return th_done("tui_groups");
}
