/*
 * bench_store.c: figures for the history store (printed, never asserted).
 *  - 10k jobs added one transaction each, then saved once each with a state
 *    change (the driver's pattern);
 *  - a 100k-row history built in one transaction, then: newest 50 with a text
 *    query (common word, rare word, two words, no match), newest 50 without
 *    text, a page deep in the history, counts, find by remote prefix, recent
 *    prompts, data_version.
 */
#include "th.h"
#include "store.h"

#include <sqlite3.h>
#include <time.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *const words[] = {
    "cat",    "dog",       "portrait", "landscape", "sunset",  "forest",     "castle",     "robot",
    "dragon", "ocean",     "city",     "night",     "neon",    "painting",   "oil",        "anime",
    "photo",  "realistic", "detailed", "golden",    "hour",    "misty",      "mountain",   "river",
    "woman",  "man",       "child",    "old",       "vintage", "futuristic", "space",      "nebula",
    "flower", "garden",    "winter",   "snow",      "desert",  "storm",      "lighthouse", "ship",
};
#define NWORDS (sizeof words / sizeof words[0])

static unsigned rng = 12345;
static unsigned rnd(void)
{
	rng = rng * 1103515245u + 12345u;
	return (rng >> 8) & 0xffffff;
}

static void make_prompt(char *buf, size_t len, int i)
{
	size_t o = 0;
	int n = 4 + (int)(rnd() % 8);
	for (int k = 0; k < n && o + 16 < len; k++)
		o +=
		    (size_t)snprintf(buf + o, len - o, "%s%s", k ? " " : "", words[rnd() % NWORDS]);
	/* a rare word in about 1 prompt in 1000 */
	if (i % 997 == 0 && o + 16 < len)
		snprintf(buf + o, len - o, " zeppelin");
}

static void die(const char *what, char *err)
{
	fprintf(stderr, "bench_store: %s: %s\n", what, err ? err : "?");
	exit(1);
}

/* Run q `reps` times; print the mean time and the result size. */
static void time_list(struct store *st, const char *label, const struct store_query *q, int reps)
{
	struct job **jobs;
	size_t n = 0;
	char *err = NULL;
	double t0 = now_s();
	for (int r = 0; r < reps; r++) {
		if (store_job_list(st, q, &jobs, &n, &err) < 0)
			die(label, err);
		store_jobs_free(jobs, n);
	}
	printf("  %-44s %8.3f ms  (%zu jobs)\n", label, (now_s() - t0) * 1000 / reps, n);
}

static void time_count(struct store *st, const char *label, const struct store_query *q, int reps)
{
	char *err = NULL;
	int64_t c = 0;
	double t0 = now_s();
	for (int r = 0; r < reps; r++)
		if ((c = store_job_count(st, q, &err)) < 0)
			die(label, err);
	printf("  %-44s %8.3f ms  (= %lld)\n", label, (now_s() - t0) * 1000 / reps, (long long)c);
}

int main(void)
{
	char path[4200], path2[4200], prompt[512], *err = NULL;
	struct store *st;
	struct job **all;
	double t0, t1;
	int n1 = 10000, n2 = 100000;

	snprintf(path, sizeof path, "%s/bench.db", th_tmpdir());
	snprintf(path2, sizeof path2, "%s/big.db", th_tmpdir());

	/* 1. 10k adds and 10k saves, one transaction each. */
	if (!(st = store_open(path, &err)))
		die("open", err);
	all = calloc((size_t)n1, sizeof *all);
	t0 = now_s();
	for (int i = 0; i < n1; i++) {
		struct job *j = job_new();
		make_prompt(prompt, sizeof prompt, i);
		job_set_str(&j->params.prompt, prompt);
		job_set_str(&j->params.negative_prompt, "blurry, lowres");
		job_set_str(&j->backend, "runpod");
		j->params.width = j->params.height = 1024;
		j->params.steps = 30;
		if (store_job_add(st, j, &err) < 0)
			die("add", err);
		all[i] = j;
	}
	t1 = now_s();
	printf("store_job_add, 10k jobs, 1 transaction each: %.3f s (%.1f us/job)\n", t1 - t0,
	       (t1 - t0) * 1e6 / n1);
	t0 = now_s();
	for (int i = 0; i < n1; i++) {
		char rid[64];
		snprintf(rid, sizeof rid, "%08x-%04x-%04x-e1", rnd(), i, rnd() & 0xffff);
		job_set_str(&all[i]->remote_id, rid);
		all[i]->state = JOB_IN_QUEUE;
		if (store_job_save(st, all[i], &err) < 0)
			die("save", err);
	}
	t1 = now_s();
	printf("store_job_save with a state change, 10k jobs: %.3f s (%.1f us/save)\n", t1 - t0,
	       (t1 - t0) * 1e6 / n1);
	t0 = now_s();
	for (int i = 0; i < n1; i++) {
		all[i]->progress = 0.5;
		if (store_job_save(st, all[i], &err) < 0)
			die("save", err);
	}
	t1 = now_s();
	printf("store_job_save without a state change, 10k: %.3f s (%.1f us/save)\n", t1 - t0,
	       (t1 - t0) * 1e6 / n1);
	for (int i = 0; i < n1; i++)
		job_free(all[i]);
	free(all);
	store_close(st);

	/* 2. A 100k-row history, built in one transaction behind the API. */
	if (!(st = store_open(path2, &err)))
		die("open", err);
	store_close(st);
	{
		sqlite3 *db;
		sqlite3_stmt *s;
		if (sqlite3_open(path2, &db) != SQLITE_OK)
			die("raw open", NULL);
		t0 = now_s();
		sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
		if (sqlite3_prepare_v2(
		        db,
		        "INSERT INTO jobs(state, prompt, negative_prompt, remote_id, "
		        "backend, width, height, steps, created_at) "
		        "VALUES(?1, ?2, 'blurry, lowres', ?3, 'runpod', 1024, 1024, "
		        "30, ?4)",
		        -1, &s, NULL) != SQLITE_OK)
			die("prepare", (char *)sqlite3_errmsg(db));
		for (int i = 0; i < n2; i++) {
			char rid[64];
			enum job_state stt = i > n2 - 20   ? JOB_IN_QUEUE
			                     : i % 50 == 0 ? JOB_FAILED
			                                   : JOB_COMPLETED;
			make_prompt(prompt, sizeof prompt, i);
			snprintf(rid, sizeof rid, "%08x-%05d-e1", rnd(), i);
			sqlite3_bind_text(s, 1, job_state_name(stt), -1, SQLITE_STATIC);
			sqlite3_bind_text(s, 2, prompt, -1, SQLITE_STATIC);
			sqlite3_bind_text(s, 3, rid, -1, SQLITE_STATIC);
			sqlite3_bind_int64(s, 4, 1700000000000LL + i * 1000LL);
			if (sqlite3_step(s) != SQLITE_DONE)
				die("insert", (char *)sqlite3_errmsg(db));
			sqlite3_reset(s);
		}
		sqlite3_finalize(s);
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
		t1 = now_s();
		printf("100k jobs in one transaction (with FTS triggers): %.3f s\n", t1 - t0);
		sqlite3_close(db);
	}
	if (!(st = store_open(path2, &err)))
		die("open", err);
	printf("queries over 100k jobs (mean of repeated runs):\n");
	{
		struct store_query q = {0};
		q.limit = 50;
		time_list(st, "newest 50, no text", &q, 50);
		q.text = "cat";
		time_list(st, "newest 50, text \"cat\" (common)", &q, 50);
		q.text = "misty lighthouse";
		time_list(st, "newest 50, text \"misty lighthouse\"", &q, 50);
		q.text = "zepp";
		time_list(st, "newest 50, text \"zepp\" (rare prefix)", &q, 20);
		q.text = "nosuchword";
		time_list(st, "newest 50, text with no match", &q, 50);
		q.text = "cat's \"dog -";
		time_list(st, "newest 50, text with punctuation", &q, 50);
		q.text = "cat";
		q.before_id = 20000;
		time_list(st, "50 before id 20000, text \"cat\"", &q, 50);
		q.text = NULL;
		q.state_mask = 1 << JOB_FAILED;
		q.before_id = 0;
		time_list(st, "newest 50 FAILED", &q, 50);
		q.state_mask = 1 << JOB_COMPLETED;
		time_list(st, "newest 50 COMPLETED", &q, 50);
		q.state_mask = (1 << JOB_COMPLETED) | (1 << JOB_FAILED);
		time_list(st, "newest 50 COMPLETED or FAILED", &q, 20);
		q.state_mask = (1 << JOB_FAILED) | (1 << JOB_EXPIRED);
		time_list(st, "newest 50 FAILED or EXPIRED", &q, 20);
		q.state_mask = (1 << JOB_COMPLETED) | (1 << JOB_FAILED);
		q.before_id = 50000;
		time_list(st, "50 COMPLETED or FAILED before id 50000", &q, 20);
		q.before_id = 0;
		q.text = "cat";
		q.state_mask = (1 << JOB_COMPLETED) | (1 << JOB_FAILED);
		time_list(st, "newest 50 COMPLETED or FAILED, \"cat\"", &q, 20);
		q.text = NULL;
		q.state_mask = 0;
		q.live_only = 1;
		q.limit = 0;
		time_list(st, "all live jobs (19)", &q, 50);

		memset(&q, 0, sizeof q);
		time_count(st, "count all", &q, 20);
		q.text = "cat";
		time_count(st, "count text \"cat\"", &q, 10);
		q.text = "misty lighthouse";
		time_count(st, "count text \"misty lighthouse\"", &q, 10);
		q.text = NULL;
		q.live_only = 1;
		time_count(st, "count live", &q, 50);
	}
	{
		char **p;
		size_t n;
		int64_t id = 0, v = 0;
		struct job *j = store_job_get(st, 4242, &err);
		char ref[16];
		if (!j || !j->remote_id)
			die("get", err);
		snprintf(ref, sizeof ref, "%.14s", j->remote_id); /* "xxxxxxxx-04241" */
		job_free(j);
		t0 = now_s();
		for (int r = 0; r < 100; r++)
			id = store_job_find(st, ref, NULL);
		printf("  %-44s %8.3f ms  (id %lld)\n", "find by remote prefix (14 chars)",
		       (now_s() - t0) * 1000 / 100, (long long)id);
		t0 = now_s();
		for (int r = 0; r < 100; r++)
			id = store_job_find(st, "4242", NULL);
		printf("  %-44s %8.3f ms  (id %lld)\n", "find by local id",
		       (now_s() - t0) * 1000 / 100, (long long)id);
		t0 = now_s();
		for (int r = 0; r < 20; r++) {
			if (store_recent_prompts(st, 20, &p, &n, &err) < 0)
				die("recent", err);
			store_strings_free(p, n);
		}
		printf("  %-44s %8.3f ms\n", "recent prompts (20)", (now_s() - t0) * 1000 / 20);
		t0 = now_s();
		for (int r = 0; r < 1000; r++)
			v += store_data_version(st);
		printf("  %-44s %8.3f us\n", "data_version", (now_s() - t0) * 1e6 / 1000);
	}
	store_close(st);
	return 0;
}
