/*
 * test_store.c: the SQLite history against real files: every field round
 * trips, events and outputs are written once, search/paging/masks, find,
 * delete, migrations, several processes writing at once, a writer killed
 * mid-way, data_version and the driver lock.
 */
#include "th.h"
#include "schema.h"
#include "store.h"
#include "util.h"

#include <errno.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/wait.h>

/* A fresh database path in a new private directory. */
static const char *db_path(void)
{
	static char buf[4200];
	snprintf(buf, sizeof buf, "%s/sub/dir/history.db", th_tmpdir());
	return buf;
}

static struct store *open_ok(const char *path)
{
	char *err = NULL;
	struct store *st = store_open(path, &err);
	if (!st)
		fprintf(stderr, "  store_open(%s): %s\n", path, err ? err : "?");
	free(err);
	return st;
}

static struct job *mkjob(const char *prompt, const char *neg, enum job_state state)
{
	struct job *j = job_new();
	job_set_str(&j->params.prompt, prompt);
	job_set_str(&j->params.negative_prompt, neg);
	job_set_str(&j->backend, "runpod");
	j->state = state;
	return j;
}

/* Add a job and free the struct; returns its id (0 on failure). */
static int64_t add(struct store *st, const char *prompt, const char *neg, enum job_state state,
                   const char *remote_id)
{
	struct job *j = mkjob(prompt, neg, state);
	char *err = NULL;
	int64_t id;
	job_set_str(&j->remote_id, remote_id);
	if (store_job_add(st, j, &err) < 0) {
		fprintf(stderr, "  add: %s\n", err ? err : "?");
		free(err);
		job_free(j);
		return 0;
	}
	id = j->id;
	job_free(j);
	return id;
}

static size_t n_events(struct store *st, int64_t id)
{
	struct store_event *ev;
	size_t n = 0;
	char *err = NULL;
	if (store_job_events(st, id, &ev, &n, &err) < 0) {
		fprintf(stderr, "  events: %s\n", err ? err : "?");
		free(err);
		return (size_t)-1;
	}
	store_events_free(ev, n);
	return n;
}

/* Run a query; returns the number of jobs (or -1) and frees them unless out. */
static long list(struct store *st, const struct store_query *q, struct job ***out)
{
	struct job **jobs;
	size_t n;
	char *err = NULL;
	if (store_job_list(st, q, &jobs, &n, &err) < 0) {
		fprintf(stderr, "  list: %s\n", err ? err : "?");
		free(err);
		return -1;
	}
	if (out)
		*out = jobs;
	else
		store_jobs_free(jobs, n);
	return (long)n;
}

static long search(struct store *st, const char *text)
{
	struct store_query q = {0};
	q.text = text;
	return list(st, &q, NULL);
}

static int64_t count(struct store *st, const struct store_query *q)
{
	char *err = NULL;
	int64_t c = store_job_count(st, q, &err);
	if (c < 0)
		fprintf(stderr, "  count: %s\n", err ? err : "?");
	free(err);
	return c;
}

/* One scalar from a raw SQLite connection (for checks behind the API). */
static long long raw_int(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	long long v = -1;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
		return -2;
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK) {
		if (sqlite3_step(s) == SQLITE_ROW)
			v = sqlite3_column_int64(s, 0);
		sqlite3_finalize(s);
	}
	sqlite3_close(db);
	return v;
}

static void test_roundtrip(void)
{
	const char *path = db_path();
	struct store *st = open_ok(path);
	struct job *j = job_new(), *g;
	struct job_output o1 = {0, "/img/1-0.png", 512, 768, 42, "png", 12345};
	struct job_output o2 = {1, "/img/1-1.jpg", 0, 0, -1, "jpeg", 7};
	char *err = NULL;
	struct stat sb;

	CHECK(st);
	if (!st)
		return;
	/* The directories were created private. */
	{
		char dir[4200];
		snprintf(dir, sizeof dir, "%s", path);
		*strrchr(dir, '/') = '\0';
		CHECK(stat(dir, &sb) == 0 && (sb.st_mode & 0777) == 0700);
	}
	CHECK_STR(store_path(st), path);
	CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);

	job_set_str(&j->remote_id, "abc-123-e1");
	job_set_str(&j->backend, "runpod");
	job_set_str(&j->endpoint, "sdxl");
	job_set_str(&j->endpoint_url, "https://api.runpod.ai/v2/xyz");
	job_set_str(&j->api, "runpod");
	job_set_str(&j->input_json, "{\"prompt\":\"x\",\"seed\":9007199254740993}");
	job_set_str(&j->run_extra, "{\"policy\":{\"ttl\":60000}}");
	job_set_str(&j->key_fp, "0123456789abcdef");
	j->state = JOB_OTHER;
	job_set_str(&j->status_text, "WARMING_UP");
	job_set_str(&j->params.prompt, "a lighthouse at dusk, \"oil\" painting\nline 2");
	job_set_str(&j->params.negative_prompt, "blurry");
	j->params.width = 1024;
	j->params.height = 768;
	j->params.steps = 30;
	j->params.cfg = 7.25;
	j->params.has_cfg = 1;
	j->params.seed = 1234567890123LL;
	job_set_str(&j->params.sampler, "euler_a");
	j->params.count = 2;
	job_set_str(&j->params.endpoint, "sdxl-params");
	job_set_str(&j->params.template_name, "sdxl");
	job_set_str(&j->params.extra_json, "{\"lora\":\"x\"}");
	j->created_at = 1700000000001LL;
	j->submitted_at = 1700000000002LL;
	j->started_at = 1700000000003LL;
	j->finished_at = 1700000000004LL;
	j->delay_ms = 150;
	j->exec_ms = 9000;
	job_set_str(&j->worker_id, "worker-7");
	job_set_str(&j->error, "");
	job_set_str(&j->raw_output, "{\"x\":1}");
	job_set_str(&j->log_tail, "step 1\nstep 2");
	j->progress = 0.5;
	job_set_str(&j->progress_text, "4/8");
	j->cancel_requested = 1;
	j->retry_requested = 0;
	job_add_output(j, &o1);
	job_add_output(j, &o2);

	CHECK_INT(store_job_add(st, j, &err), 0);
	CHECK(j->id > 0);
	CHECK_INT(j->created_at, 1700000000001LL);
	g = store_job_get(st, j->id, &err);
	CHECK(g);
	CHECK(!err);
	if (g) {
		CHECK_INT(g->id, j->id);
		CHECK_STR(g->remote_id, "abc-123-e1");
		CHECK_STR(g->backend, "runpod");
		CHECK_STR(g->endpoint, "sdxl");
		CHECK_STR(g->endpoint_url, "https://api.runpod.ai/v2/xyz");
		CHECK_STR(g->api, "runpod");
		CHECK_STR(g->input_json, "{\"prompt\":\"x\",\"seed\":9007199254740993}");
		CHECK_STR(g->run_extra, "{\"policy\":{\"ttl\":60000}}");
		CHECK_STR(g->key_fp, "0123456789abcdef");
		CHECK_INT(g->state, JOB_OTHER);
		CHECK_STR(g->status_text, "WARMING_UP");
		CHECK_STR(g->params.prompt, j->params.prompt);
		CHECK_STR(g->params.negative_prompt, "blurry");
		CHECK_INT(g->params.width, 1024);
		CHECK_INT(g->params.height, 768);
		CHECK_INT(g->params.steps, 30);
		CHECK_INT(g->params.has_cfg, 1);
		CHECK(g->params.cfg == 7.25);
		CHECK_INT(g->params.seed, 1234567890123LL);
		CHECK_STR(g->params.sampler, "euler_a");
		CHECK_INT(g->params.count, 2);
		CHECK_STR(g->params.endpoint, "sdxl-params");
		CHECK_STR(g->params.template_name, "sdxl");
		CHECK_STR(g->params.extra_json, "{\"lora\":\"x\"}");
		CHECK_INT(g->created_at, 1700000000001LL);
		CHECK_INT(g->submitted_at, 1700000000002LL);
		CHECK_INT(g->started_at, 1700000000003LL);
		CHECK_INT(g->finished_at, 1700000000004LL);
		CHECK_INT(g->delay_ms, 150);
		CHECK_INT(g->exec_ms, 9000);
		CHECK_STR(g->worker_id, "worker-7");
		CHECK_STR(g->error, ""); /* empty stays empty, not NULL */
		CHECK_STR(g->raw_output, "{\"x\":1}");
		CHECK_STR(g->log_tail, "step 1\nstep 2");
		CHECK(g->progress == 0.5);
		CHECK_STR(g->progress_text, "4/8");
		CHECK_INT(g->cancel_requested, 1);
		CHECK_INT(g->retry_requested, 0);
		CHECK_INT(g->n_outputs, 2);
		if (g->n_outputs == 2) {
			CHECK_INT(g->outputs[0].index, 0);
			CHECK_STR(g->outputs[0].path, "/img/1-0.png");
			CHECK_INT(g->outputs[0].width, 512);
			CHECK_INT(g->outputs[0].height, 768);
			CHECK_INT(g->outputs[0].seed, 42);
			CHECK_STR(g->outputs[0].format, "png");
			CHECK_INT(g->outputs[0].bytes, 12345);
			CHECK_INT(g->outputs[1].index, 1);
			CHECK_STR(g->outputs[1].path, "/img/1-1.jpg");
			CHECK_INT(g->outputs[1].seed, -1);
			CHECK_STR(g->outputs[1].format, "jpeg");
		}
	}
	job_free(g);
	job_free(j);

	/* An empty job: NULLs stay NULL, unset numbers stay unset. */
	j = job_new();
	CHECK_INT(store_job_add(st, j, &err), 0);
	CHECK(j->created_at > 0); /* set by add */
	g = store_job_get(st, j->id, &err);
	CHECK(g);
	if (g) {
		CHECK_INT(g->state, JOB_PENDING);
		CHECK(!g->remote_id && !g->backend && !g->endpoint && !g->endpoint_url);
		CHECK(!g->api && !g->input_json && !g->run_extra && !g->key_fp);
		CHECK(!g->status_text && !g->worker_id && !g->error && !g->raw_output);
		CHECK(!g->log_tail && !g->progress_text);
		CHECK(!g->params.prompt && !g->params.negative_prompt && !g->params.sampler);
		CHECK(!g->params.endpoint && !g->params.template_name && !g->params.extra_json);
		CHECK_INT(g->params.has_cfg, 0);
		CHECK_INT(g->params.seed, -1);
		CHECK_INT(g->delay_ms, -1);
		CHECK_INT(g->exec_ms, -1);
		CHECK(g->progress < 0);
		CHECK_INT(g->created_at, j->created_at);
		CHECK_INT(g->n_outputs, 0);
	}
	/* cfg is NULL in the row when has_cfg is 0. */
	{
		char sql[128];
		snprintf(sql, sizeof sql, "SELECT cfg IS NULL FROM jobs WHERE id=%lld",
		         (long long)j->id);
		CHECK_INT(raw_int(path, sql), 1);
	}
	job_free(g);
	job_free(j);

	/* Absent: NULL with no error. */
	err = NULL;
	CHECK(!store_job_get(st, 999999, &err));
	CHECK(!err);
	store_close(st);
}

static void test_save_events_outputs(void)
{
	const char *path = db_path();
	struct store *st = open_ok(path);
	struct job *j = mkjob("a cat", NULL, JOB_PENDING), *g;
	struct job_output o = {0, "/x/0.png", 64, 64, 1, "png", 100};
	struct store_event *ev;
	size_t n;
	char *err = NULL;
	char sql[128];

	if (!st)
		return;
	CHECK_INT(store_job_add(st, j, &err), 0);
	CHECK_INT(n_events(st, j->id), 1);

	/* No state change: no event. */
	job_set_str(&j->remote_id, "r-1");
	CHECK_INT(store_job_save(st, j, &err), 0);
	CHECK_INT(n_events(st, j->id), 1);

	j->state = JOB_IN_QUEUE;
	CHECK_INT(store_job_save(st, j, &err), 0);
	CHECK_INT(store_job_save(st, j, &err), 0);
	CHECK_INT(n_events(st, j->id), 2);

	j->state = JOB_IN_PROGRESS;
	j->progress = 0.25;
	CHECK_INT(store_job_save(st, j, &err), 0);
	j->state = JOB_FAILED;
	job_set_str(&j->error, "CUDA out of memory");
	CHECK_INT(store_job_save(st, j, &err), 0);
	CHECK_INT(store_job_events(st, j->id, &ev, &n, &err), 0);
	CHECK_INT(n, 4);
	if (n == 4) {
		CHECK_STR(ev[0].state, "PENDING");
		CHECK_STR(ev[0].detail, "created");
		CHECK_STR(ev[1].state, "IN_QUEUE");
		CHECK_STR(ev[2].state, "IN_PROGRESS");
		CHECK_STR(ev[3].state, "FAILED");
		CHECK_STR(ev[3].detail, "CUDA out of memory");
		CHECK(ev[0].at > 0 && ev[0].at <= ev[3].at);
	}
	store_events_free(ev, n);

	/* An unknown status changing its text is a change; the same text is not. */
	j->state = JOB_OTHER;
	job_set_str(&j->status_text, "WARMING_UP");
	CHECK_INT(store_job_save(st, j, &err), 0);
	CHECK_INT(store_job_save(st, j, &err), 0);
	CHECK_INT(n_events(st, j->id), 5);
	job_set_str(&j->status_text, "THROTTLED");
	CHECK_INT(store_job_save(st, j, &err), 0);
	CHECK_INT(store_job_events(st, j->id, &ev, &n, &err), 0);
	CHECK(n == 6 && strcmp(ev[5].state, "OTHER") == 0 && ev[5].detail &&
	      strcmp(ev[5].detail, "THROTTLED") == 0);
	store_events_free(ev, n);

	/* Outputs are inserted once, however often the job is saved. */
	j->state = JOB_IN_QUEUE;
	job_add_output(j, &o);
	CHECK_INT(store_job_save(st, j, &err), 0);
	CHECK_INT(store_job_save(st, j, &err), 0);
	o.index = 1;
	o.path = "/x/1.png";
	job_add_output(j, &o);
	CHECK_INT(store_job_save(st, j, &err), 0);
	snprintf(sql, sizeof sql, "SELECT count(*) FROM outputs WHERE job_id=%lld",
	         (long long)j->id);
	CHECK_INT(raw_int(path, sql), 2);
	g = store_job_get(st, j->id, &err);
	CHECK(g && g->n_outputs == 2 && g->progress == 0.25);
	CHECK(g && strcmp(g->error, "CUDA out of memory") == 0);
	job_free(g);

	/* A save of a job that is not stored fails with a message. */
	{
		int64_t id = j->id;
		j->id = 424242;
		err = NULL;
		CHECK_INT(store_job_save(st, j, &err), -1);
		CHECK(err && strstr(err, "no job 424242"));
		free(err);
		err = NULL;
		j->id = 0;
		CHECK_INT(store_job_save(st, j, &err), -1);
		CHECK(err != NULL);
		free(err);
		j->id = id;
	}

	/* A changed prompt is re-indexed; the old words no longer match. */
	job_set_str(&j->params.prompt, "a zebra");
	CHECK_INT(store_job_save(st, j, &err), 0);
	CHECK_INT(search(st, "zebra"), 1);
	CHECK_INT(search(st, "cat"), 0);
	job_free(j);
	store_close(st);
}

/* A save that changes no indexed column (state, remote_id, group_id) and no
 * prompt takes the narrow UPDATE (it leaves the index entries alone); one
 * that changes any of them alone still writes it: the remote id is found,
 * the group lists the job, the FTS index follows the negative prompt, the
 * state index finds the job under its new state, and the file is sound. */
static void test_narrow_save(void)
{
	const char *path = db_path();
	struct store *st = open_ok(path);
	struct job *j = mkjob("a lighthouse", "blurry", JOB_IN_PROGRESS), *g;
	struct store_query q = {0};
	char *err = NULL;

	if (!st)
		return;
	CHECK_INT(store_job_add(st, j, &err), 0);
	job_set_str(&j->remote_id, "narrow-1");
	CHECK_INT(store_job_save(st, j, &err), 0);
	/* progress only: written, no event */
	j->progress = 0.5;
	job_set_str(&j->progress_text, "step 5/10");
	job_set_str(&j->log_tail, "sampling");
	j->exec_ms = 1234;
	CHECK_INT(store_job_save(st, j, &err), 0);
	CHECK_INT(n_events(st, j->id), 1);
	g = store_job_get(st, j->id, &err);
	CHECK(g && g->progress == 0.5 && g->exec_ms == 1234);
	CHECK(g && g->progress_text && strcmp(g->progress_text, "step 5/10") == 0);
	CHECK(g && g->log_tail && strcmp(g->log_tail, "sampling") == 0);
	job_free(g);
	/* the remote id alone */
	job_set_str(&j->remote_id, "narrow-2");
	CHECK_INT(store_job_save(st, j, &err), 0);
	CHECK_INT(store_job_find(st, "narrow-2", &err), j->id);
	CHECK_INT(store_job_find(st, "narrow-1", NULL), 0);
	/* the group alone, set and cleared */
	j->group_id = 77;
	CHECK_INT(store_job_save(st, j, &err), 0);
	q.group_id = 77;
	CHECK_INT(count(st, &q), 1);
	j->group_id = 0;
	CHECK_INT(store_job_save(st, j, &err), 0);
	CHECK_INT(count(st, &q), 0);
	g = store_job_get(st, j->id, &err);
	CHECK(g && g->group_id == 0);
	job_free(g);
	/* the negative prompt alone */
	job_set_str(&j->params.negative_prompt, "grainy");
	CHECK_INT(store_job_save(st, j, &err), 0);
	CHECK_INT(search(st, "grainy"), 1);
	CHECK_INT(search(st, "blurry"), 0);
	/* the state index after narrow saves */
	memset(&q, 0, sizeof q);
	q.state_mask = 1 << JOB_IN_PROGRESS;
	CHECK_INT(count(st, &q), 1);
	j->state = JOB_COMPLETED;
	CHECK_INT(store_job_save(st, j, &err), 0);
	CHECK_INT(count(st, &q), 0);
	q.state_mask = 1 << JOB_COMPLETED;
	CHECK_INT(count(st, &q), 1);
	CHECK_INT(n_events(st, j->id), 2);
	CHECK_INT(raw_int(path, "SELECT count(*) FROM pragma_integrity_check "
	                        "WHERE integrity_check <> 'ok'"),
	          0);
	free(err);
	job_free(j);
	store_close(st);
}

static void test_requests(void)
{
	struct store *st = open_ok(db_path());
	struct job *j = mkjob("x", NULL, JOB_IN_QUEUE), *g;
	char *err = NULL;

	if (!st)
		return;
	CHECK_INT(store_job_add(st, j, &err), 0);
	CHECK_INT(store_job_request_cancel(st, j->id, &err), 0);
	/* A save from a copy that predates the request keeps the request. */
	j->state = JOB_IN_PROGRESS;
	CHECK_INT(store_job_save(st, j, &err), 0);
	g = store_job_get(st, j->id, &err);
	CHECK(g && g->cancel_requested == 1 && g->retry_requested == 0);
	CHECK(g && g->state == JOB_IN_PROGRESS);
	job_free(g);
	CHECK_INT(store_job_request_retry(st, j->id, &err), 0);
	g = store_job_get(st, j->id, &err);
	CHECK(g && g->cancel_requested == 1 && g->retry_requested == 1);
	job_free(g);
	CHECK_INT(store_job_clear_requests(st, j->id, &err), 0);
	g = store_job_get(st, j->id, &err);
	CHECK(g && g->cancel_requested == 0 && g->retry_requested == 0);
	job_free(g);

	CHECK_INT(store_job_request_cancel(st, 777, &err), -1);
	CHECK(err && strstr(err, "no job 777"));
	free(err);
	err = NULL;
	CHECK_INT(store_job_request_retry(st, 777, &err), -1);
	free(err);
	job_free(j);
	store_close(st);
}

struct walk {
	int64_t ids[16];
	int n, stop_at, stop_how;
};

static int walk_fn(const struct job *j, void *udata)
{
	struct walk *w = udata;
	if (w->n < 16)
		w->ids[w->n] = j->id;
	w->n++;
	return w->n == w->stop_at ? w->stop_how : 1;
}

/* store_job_walk: newest first across pages; 0 ends the walk after the
 * page, -1 at once; the query's filter holds. */
static void test_job_walk(void)
{
	char path[4200];
	struct store *st;
	struct store_query q = {0};
	struct walk w;
	int64_t ids[7];

	snprintf(path, sizeof path, "%s/walk/history.db", th_tmpdir());
	if (!(st = open_ok(path)))
		return;
	for (int i = 0; i < 7; i++)
		ids[i] = add(st, "walk", NULL, i == 3 ? JOB_FAILED : JOB_COMPLETED, NULL);
	memset(&w, 0, sizeof w);
	CHECK_INT(store_job_walk(st, &q, 3, walk_fn, &w, NULL), 0);
	CHECK_INT(w.n, 7);
	for (int i = 0; i < 7 && i < w.n; i++)
		CHECK_INT(w.ids[i], ids[6 - i]);
	memset(&w, 0, sizeof w);
	CHECK_INT(store_job_walk(st, &q, 7, walk_fn, &w, NULL), 0);
	CHECK_INT(w.n, 7);
	memset(&w, 0, sizeof w);
	w.stop_at = 2;
	w.stop_how = 0;
	CHECK_INT(store_job_walk(st, &q, 3, walk_fn, &w, NULL), 0);
	CHECK_INT(w.n, 3);
	memset(&w, 0, sizeof w);
	w.stop_at = 2;
	w.stop_how = -1;
	CHECK_INT(store_job_walk(st, &q, 3, walk_fn, &w, NULL), 0);
	CHECK_INT(w.n, 2);
	memset(&w, 0, sizeof w);
	q.state_mask = 1 << JOB_FAILED;
	CHECK_INT(store_job_walk(st, &q, 3, walk_fn, &w, NULL), 0);
	CHECK_INT(w.n, 1);
	CHECK_INT(w.ids[0], ids[3]);
	store_close(st);
}

static void test_list_search(void)
{
	struct store *st = open_ok(db_path());
	struct store_query q;
	struct job **jobs;
	int64_t ids[8];
	long n;

	if (!st)
		return;
	ids[0] = add(st, "a red cat sitting on a mat", "blurry", JOB_COMPLETED, "r0");
	ids[1] = add(st, "a blue dog", NULL, JOB_IN_QUEUE, "r1");
	ids[2] = add(st, "the cat's toy", "ugly", JOB_FAILED, "r2");
	ids[3] = add(st, "portrait of a woman", "cat hair, lowres", JOB_IN_PROGRESS, "r3");
	ids[4] = add(st, "Café au lait", NULL, JOB_PENDING, "r4");
	ids[5] = add(st, "dog and cat", NULL, JOB_CANCELLED, "r5");
	ids[6] = add(st, NULL, NULL, JOB_OTHER, "r6");
	ids[7] = add(st, "a sunset", NULL, JOB_COMPLETED, "r7");
	for (int i = 0; i < 8; i++)
		CHECK(ids[i] > 0);

	/* Plain words, prefixes, case, diacritics, negative prompts. */
	CHECK_INT(search(st, "cat"), 4); /* 0, 2, 3 (negative), 5 */
	CHECK_INT(search(st, "sit"), 1);
	CHECK_INT(search(st, "CAT dog"), 1);
	CHECK_INT(search(st, "cafe"), 1);
	CHECK_INT(search(st, "lowres"), 1);
	CHECK_INT(search(st, "nothing-like-this"), 0);
	/* Punctuation-laden input never is a syntax error. */
	CHECK_INT(search(st, "cat's \"dog"), 0);
	CHECK_INT(search(st, "cat's"), 2); /* "cat s*": "cat's toy", "cat sitting" */
	CHECK_INT(search(st, "\"cat"), 4);
	CHECK_INT(search(st, "cat*"), 4);
	CHECK_INT(search(st, "NOT cat"), 0); /* "not" is a word, not an operator */
	CHECK_INT(search(st, "cat OR dog"), 0);
	CHECK_INT(search(st, "prompt:cat"), 0);
	CHECK_INT(search(st, "(cat) +dog"), 1);
	CHECK_INT(search(st, "^cat {dog}"), 1);
	CHECK_INT(search(st, "NEAR(dog"), 0); /* the phrase "near dog" */
	CHECK_INT(search(st, "'cat'"), 4);
	/* Very long input is fine (words past the 64th are ignored). */
	{
		char big[8192];
		size_t o = 0;
		while (o + 8 < sizeof big)
			o += (size_t)snprintf(big + o, sizeof big - o, "%s", "c ca cat ");
		CHECK_INT(search(st, big), 4);
	}
	/* No words at all: no text filter. */
	CHECK_INT(search(st, "-"), 8);
	CHECK_INT(search(st, "  \" * - "), 8);
	CHECK_INT(search(st, ""), 8);

	/* Newest first by default, outputs attached. */
	{
		struct job *j = store_job_get(st, ids[5], NULL);
		struct job_output o = {0, "/p/5-0.png", 8, 8, 5, "png", 10};
		job_add_output(j, &o);
		o.index = 1;
		job_add_output(j, &o);
		CHECK_INT(store_job_save(st, j, NULL), 0);
		job_free(j);
		j = store_job_get(st, ids[0], NULL);
		o.index = 0;
		job_add_output(j, &o);
		CHECK_INT(store_job_save(st, j, NULL), 0);
		job_free(j);
	}
	memset(&q, 0, sizeof q);
	q.text = "cat";
	n = list(st, &q, &jobs);
	CHECK_INT(n, 4);
	if (n == 4) {
		CHECK_INT(jobs[0]->id, ids[5]);
		CHECK_INT(jobs[0]->n_outputs, 2);
		CHECK_INT(jobs[1]->id, ids[3]);
		CHECK_INT(jobs[1]->n_outputs, 0);
		CHECK_INT(jobs[2]->id, ids[2]);
		CHECK_INT(jobs[3]->id, ids[0]);
		CHECK_INT(jobs[3]->n_outputs, 1);
		CHECK(jobs[0]->n_outputs == 2 && jobs[0]->outputs[1].index == 1);
	}
	store_jobs_free(jobs, (size_t)(n > 0 ? n : 0));
	q.oldest_first = 1;
	n = list(st, &q, &jobs);
	CHECK(n == 4 && jobs[0]->id == ids[0] && jobs[3]->id == ids[5]);
	store_jobs_free(jobs, (size_t)(n > 0 ? n : 0));
	CHECK_INT(count(st, &q), 4);

	/* State masks and live_only, with and without text. */
	memset(&q, 0, sizeof q);
	q.state_mask = 1 << JOB_COMPLETED;
	CHECK_INT(list(st, &q, NULL), 2);
	CHECK_INT(count(st, &q), 2);
	q.state_mask = (1 << JOB_COMPLETED) | (1 << JOB_FAILED);
	q.text = "cat";
	CHECK_INT(list(st, &q, NULL), 2);
	CHECK_INT(count(st, &q), 2);
	memset(&q, 0, sizeof q);
	q.live_only = 1; /* IN_QUEUE, IN_PROGRESS, PENDING, OTHER */
	CHECK_INT(list(st, &q, NULL), 4);
	CHECK_INT(count(st, &q), 4);
	q.state_mask = 1 << JOB_COMPLETED; /* live and completed: nothing */
	CHECK_INT(list(st, &q, NULL), 0);
	CHECK_INT(count(st, &q), 0);
	q.state_mask = (1 << JOB_OTHER) | (1 << JOB_CANCELLED);
	n = list(st, &q, &jobs);
	CHECK(n == 1 && jobs[0]->id == ids[6] && jobs[0]->state == JOB_OTHER);
	store_jobs_free(jobs, (size_t)(n > 0 ? n : 0));
	CHECK_INT(count(st, NULL), 8);

	/* Paging: before_id + limit walk every job once, newest first. */
	{
		int64_t before = 0, seen = 0, last = INT64_MAX;
		int pages = 0, ok = 1;
		for (; pages < 10; pages++) {
			memset(&q, 0, sizeof q);
			q.limit = 3;
			q.before_id = before;
			n = list(st, &q, &jobs);
			if (n <= 0)
				break;
			for (long i = 0; i < n; i++) {
				if (jobs[i]->id >= last)
					ok = 0;
				last = jobs[i]->id;
			}
			seen += n;
			before = jobs[n - 1]->id;
			store_jobs_free(jobs, (size_t)n);
		}
		CHECK(ok);
		CHECK_INT(seen, 8);
		CHECK_INT(pages, 3);
		/* with text */
		memset(&q, 0, sizeof q);
		q.text = "cat";
		q.limit = 2;
		q.before_id = ids[3];
		n = list(st, &q, &jobs);
		CHECK(n == 2 && jobs[0]->id == ids[2] && jobs[1]->id == ids[0]);
		store_jobs_free(jobs, (size_t)(n > 0 ? n : 0));
		CHECK_INT(count(st, &q), 2); /* limit ignored by count */
	}
	store_close(st);
}

static void test_find(void)
{
	struct store *st = open_ok(db_path());
	int64_t a, b, c, d;
	char *err = NULL, ref[32];

	if (!st)
		return;
	a = add(st, "a", NULL, JOB_IN_QUEUE, "9f8e7d6c-aaaa-1111");
	b = add(st, "b", NULL, JOB_IN_QUEUE, "9f8e7d6c-bbbb-2222");
	c = add(st, "c", NULL, JOB_IN_QUEUE, "1234abcd-cccc");
	d = add(st, "d", NULL, JOB_PENDING, NULL);

	snprintf(ref, sizeof ref, "%lld", (long long)d);
	CHECK_INT(store_job_find(st, ref, &err), d);
	CHECK(!err);
	CHECK_INT(store_job_find(st, "9f8e7d6c-aaaa-1111", &err), a);
	CHECK_INT(store_job_find(st, "9f8e7d6c-b", &err), b);
	CHECK_INT(store_job_find(st, "1234", &err), c); /* not a local id: a prefix */
	CHECK(!err);

	CHECK_INT(store_job_find(st, "9f8e", &err), 0);
	CHECK(err && strstr(err, "ambiguous") && strstr(err, "2 jobs"));
	free(err);
	err = NULL;
	CHECK_INT(store_job_find(st, "9f8", &err), 0); /* too short for a prefix */
	CHECK(err != NULL);
	free(err);
	err = NULL;
	CHECK_INT(store_job_find(st, "zzzzzz", &err), 0);
	CHECK(err && strstr(err, "no job zzzzzz"));
	free(err);
	err = NULL;
	CHECK_INT(store_job_find(st, "99999", &err), 0);
	CHECK(err != NULL);
	free(err);
	err = NULL;
	/* LIKE/GLOB characters are plain characters. */
	CHECK_INT(store_job_find(st, "9f8e%", &err), 0);
	CHECK(err != NULL);
	free(err);
	store_close(st);
}

static void test_delete(void)
{
	const char *path = db_path();
	struct store *st = open_ok(path);
	struct job *j = mkjob("a unicorn", "ugly", JOB_PENDING);
	struct job_output o = {0, "/u/0.png", 1, 1, 1, "png", 1};
	char *err = NULL;
	int64_t keep;

	if (!st)
		return;
	job_add_output(j, &o);
	CHECK_INT(store_job_add(st, j, &err), 0);
	j->state = JOB_COMPLETED;
	CHECK_INT(store_job_save(st, j, &err), 0);
	keep = add(st, "a unicorn too", NULL, JOB_PENDING, NULL);
	CHECK_INT(search(st, "unicorn"), 2);

	CHECK_INT(store_job_delete(st, j->id, &err), 0);
	CHECK(!store_job_get(st, j->id, &err));
	CHECK(!err);
	CHECK_INT(n_events(st, j->id), 0);
	CHECK_INT(raw_int(path, "SELECT count(*) FROM outputs"), 0);
	CHECK_INT(raw_int(path, "SELECT count(*) FROM events"), 1); /* keep's "created" */
	CHECK_INT(search(st, "unicorn"), 1);
	CHECK_INT(search(st, "ugly"), 0);
	CHECK_INT(raw_int(path, "SELECT count(*) FROM jobs_fts WHERE jobs_fts MATCH 'unicorn'"), 1);
	CHECK_INT(store_job_delete(st, j->id, &err), -1);
	CHECK(err && strstr(err, "no job"));
	free(err);
	/* Ids are never reused, even after the newest job is deleted. */
	CHECK_INT(store_job_delete(st, keep, NULL), 0);
	CHECK(add(st, "next", NULL, JOB_PENDING, NULL) > keep);
	job_free(j);
	store_close(st);
}

static void test_recent_prompts(void)
{
	struct store *st = open_ok(db_path());
	char **p = NULL;
	size_t n = 0;
	char *err = NULL;

	if (!st)
		return;
	CHECK_INT(store_recent_prompts(st, 10, &p, &n, &err), 0);
	CHECK_INT(n, 0);
	store_strings_free(p, n);
	add(st, "alpha", NULL, JOB_COMPLETED, NULL);
	add(st, "beta", NULL, JOB_COMPLETED, NULL);
	add(st, NULL, NULL, JOB_COMPLETED, NULL);
	add(st, "alpha", NULL, JOB_COMPLETED, NULL);
	add(st, "", NULL, JOB_COMPLETED, NULL);
	add(st, "gamma", NULL, JOB_COMPLETED, NULL);
	CHECK_INT(store_recent_prompts(st, 10, &p, &n, &err), 0);
	CHECK_INT(n, 3);
	if (n == 3) {
		CHECK_STR(p[0], "gamma");
		CHECK_STR(p[1], "alpha");
		CHECK_STR(p[2], "beta");
	}
	store_strings_free(p, n);
	CHECK_INT(store_recent_prompts(st, 2, &p, &n, &err), 0);
	CHECK(n == 2 && strcmp(p[0], "gamma") == 0 && strcmp(p[1], "alpha") == 0);
	store_strings_free(p, n);
	store_close(st);
}

static void test_migrations(void)
{
	const char *path = db_path();
	char p2[4200], *err = NULL;
	struct store *st = open_ok(path);
	int64_t id;
	struct job *g;
	FILE *f;

	if (!st)
		return;
	id = add(st, "persisted", NULL, JOB_COMPLETED, "keep-1");
	store_close(st);
	CHECK_INT(raw_int(path, "PRAGMA user_version"), schema_version);

	/* A version 1 history (before jobs recorded their destination): its
	 * jobs are read with the new fields unset, and the columns come back. */
	CHECK_INT(raw_int(path, "ALTER TABLE jobs DROP COLUMN api"), -1);
	CHECK_INT(raw_int(path, "ALTER TABLE jobs DROP COLUMN input_json"), -1);
	CHECK_INT(raw_int(path, "ALTER TABLE jobs DROP COLUMN run_extra"), -1);
	CHECK_INT(raw_int(path, "ALTER TABLE jobs DROP COLUMN key_fp"), -1);
	CHECK_INT(raw_int(path, "DROP INDEX jobs_group"), -1);
	CHECK_INT(raw_int(path, "ALTER TABLE jobs DROP COLUMN group_id"), -1);
	CHECK_INT(raw_int(path, "ALTER TABLE jobs DROP COLUMN variant"), -1);
	CHECK_INT(raw_int(path, "DROP TABLE job_groups"), -1);
	CHECK_INT(raw_int(path, "PRAGMA user_version = 1"), -1);
	CHECK_INT(raw_int(path, "SELECT count(*) FROM pragma_table_info('jobs') WHERE "
	                        "name IN ('api','input_json','run_extra','key_fp')"),
	          0);
	st = open_ok(path);
	CHECK(st);
	if (st) {
		g = store_job_get(st, id, NULL);
		CHECK(g && strcmp(g->params.prompt, "persisted") == 0);
		CHECK(g && !g->api && !g->input_json && !g->run_extra && !g->key_fp);
		if (g) {
			job_set_str(&g->key_fp, "fedcba9876543210");
			CHECK_INT(store_job_save(st, g, NULL), 0);
		}
		job_free(g);
		g = store_job_get(st, id, NULL);
		CHECK(g && g->key_fp && strcmp(g->key_fp, "fedcba9876543210") == 0);
		job_free(g);
		store_close(st);
	}
	CHECK_INT(raw_int(path, "PRAGMA user_version"), schema_version);
	CHECK_INT(raw_int(path, "SELECT count(*) FROM pragma_table_info('jobs') WHERE "
	                        "name IN ('api','input_json','run_extra','key_fp')"),
	          4);
	CHECK_INT(raw_int(path, "SELECT count(*) FROM sqlite_master WHERE name='jobs_fts'"), 1);

	/* Opening a current database again changes nothing. */
	st = open_ok(path);
	CHECK(st);
	if (st) {
		g = store_job_get(st, id, NULL);
		CHECK(g && strcmp(g->params.prompt, "persisted") == 0);
		job_free(g);
		CHECK_INT(search(st, "persisted"), 1);
		store_close(st);
	}
	CHECK_INT(raw_int(path, "PRAGMA user_version"), schema_version);
	CHECK_INT(
	    raw_int(path, "SELECT count(*) FROM pragma_journal_mode WHERE journal_mode='wal'"), 1);

	/* A newer schema is refused, clearly. */
	CHECK_INT(raw_int(path, "PRAGMA user_version = 99"), -1);
	CHECK_INT(raw_int(path, "PRAGMA user_version"), 99);
	st = store_open(path, &err);
	CHECK(!st);
	CHECK(err && strstr(err, "newer") && strstr(err, "99"));
	if (err)
		fprintf(stderr, "  (message: %s)\n", err);
	free(err);
	err = NULL;
	store_close(st);

	/* So is a negative one (user_version is signed). */
	CHECK_INT(raw_int(path, "PRAGMA user_version = -3"), -1);
	st = store_open(path, &err);
	CHECK(!st);
	CHECK(err && strstr(err, "-3"));
	free(err);
	err = NULL;

	/* Not a database at all. */
	snprintf(p2, sizeof p2, "%s/garbage.db", th_tmpdir());
	f = fopen(p2, "w");
	for (int i = 0; f && i < 200; i++)
		fputs("this is not an sqlite database, just text. ", f);
	if (f)
		fclose(f);
	st = store_open(p2, &err);
	CHECK(!st);
	CHECK(err && strstr(err, "not an sdq database"));
	if (err)
		fprintf(stderr, "  (message: %s)\n", err);
	free(err);
	err = NULL;

	/* A directory that cannot be created. */
	snprintf(p2, sizeof p2, "%s/garbage.db", th_tmpdir());
	f = fopen(p2, "w"); /* a file where a directory should be */
	if (f)
		fclose(f);
	strcat(p2, "/sub/h.db");
	st = store_open(p2, &err);
	CHECK(!st);
	CHECK(err && strstr(err, "garbage.db"));
	free(err);
}

/* Run sql on the database at path with sqlite3 itself; 0 or -1. */
static int raw_exec(const char *path, const char *sql)
{
	sqlite3 *db = NULL;
	char *msg = NULL;
	int rc = sqlite3_open(path, &db) == SQLITE_OK &&
	                 sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK
	             ? 0
	             : -1;
	if (rc < 0)
		fprintf(stderr, "  sqlite: %s\n", msg ? msg : sqlite3_errmsg(db));
	sqlite3_free(msg);
	sqlite3_close(db);
	return rc;
}

/* A version 2 history as sdq wrote it before groups (made with sqlite3 and
 * the version 2 schema, not through the store): opening it upgrades it in
 * place to groups, and every job, output, event and the search index
 * survive; then groups work. */
static void test_migrate_v2_groups(void)
{
	char path[4200];
	struct store *st;
	struct job *j, **jobs = NULL;
	struct store_query q;
	struct store_group g, *got, **gs = NULL;
	struct store_event *ev = NULL;
	size_t nev = 0, n = 0;
	int64_t gid, id3 = 0;

	snprintf(path, sizeof path, "%s/v2.db", th_tmpdir());
	CHECK_INT(raw_exec(path, schema_migrations[0]), 0);
	CHECK_INT(raw_exec(path, schema_migrations[1]), 0);
	CHECK_INT(raw_exec(path,
	                   "PRAGMA journal_mode=WAL;"
	                   "INSERT INTO jobs(id, remote_id, backend, endpoint, endpoint_url, state, "
	                   "prompt, negative_prompt, width, height, steps, cfg, seed, sampler, count, "
	                   "template, extra_json, created_at, finished_at, delay_ms, exec_ms, api, "
	                   "input_json, key_fp) VALUES(7, 'r-7', 'runpod', 'ep', 'http://x/v2/e', "
	                   "'COMPLETED', 'an old lighthouse', 'blur', 512, 768, 25, 6.5, "
	                   "9007199254740993, 'DDIM', 2, 'sdxl', '{\"k\":1}', 1000, 2000, 11, 22, "
	                   "'runpod', '{\"prompt\":\"an old lighthouse\"}', 'fedcba9876543210');"
	                   "INSERT INTO outputs(job_id, idx, path, width, height, seed, format, bytes) "
	                   "VALUES(7, 0, '/img/7-0.png', 512, 768, 9007199254740993, 'png', 1234);"
	                   "INSERT INTO events(job_id, at, state, detail) VALUES(7, 1000, 'PENDING', "
	                   "'created'), (7, 2000, 'COMPLETED', NULL);"
	                   "INSERT INTO jobs(id, state, prompt, created_at) VALUES(8, 'IN_QUEUE', "
	                   "'a live one', 3000);"
	                   "PRAGMA user_version = 2;"),
	          0);
	CHECK_INT(raw_int(path, "PRAGMA user_version"), 2);
	if (!(st = open_ok(path)))
		return;
	CHECK_INT(raw_int(path, "PRAGMA user_version"), schema_version);
	j = store_job_get(st, 7, NULL);
	CHECK(j != NULL);
	if (j) {
		CHECK_STR(j->remote_id, "r-7");
		CHECK_STR(j->endpoint_url, "http://x/v2/e");
		CHECK_INT(j->state, JOB_COMPLETED);
		CHECK_STR(j->params.prompt, "an old lighthouse");
		CHECK_STR(j->params.negative_prompt, "blur");
		CHECK(j->params.width == 512 && j->params.height == 768 && j->params.steps == 25);
		CHECK(j->params.has_cfg && j->params.cfg == 6.5);
		CHECK(j->params.seed == 9007199254740993LL);
		CHECK_STR(j->params.sampler, "DDIM");
		CHECK_STR(j->params.extra_json, "{\"k\":1}");
		CHECK_STR(j->input_json, "{\"prompt\":\"an old lighthouse\"}");
		CHECK_STR(j->key_fp, "fedcba9876543210");
		CHECK(j->delay_ms == 11 && j->exec_ms == 22 && j->finished_at == 2000);
		CHECK_INT(j->n_outputs, 1);
		CHECK(j->n_outputs == 1 && j->outputs[0].seed == 9007199254740993LL &&
		      strcmp(j->outputs[0].path, "/img/7-0.png") == 0);
		CHECK_INT(j->group_id, 0);
		CHECK(j->variant == NULL);
	}
	job_free(j);
	CHECK_INT(store_job_events(st, 7, &ev, &nev, NULL), 0);
	CHECK_INT(nev, 2);
	store_events_free(ev, nev);
	CHECK_INT(search(st, "lighthouse"), 1);
	memset(&q, 0, sizeof q);
	q.live_only = 1;
	CHECK_INT(count(st, &q), 1);

	/* groups now: a group, two jobs in it, one outside */
	memset(&g, 0, sizeof g);
	g.prompt = "a {red|blue} car";
	g.axes_json = "[{\"key\":\"prompt{1}\",\"values\":[\"red\",\"blue\"]}]";
	g.njobs = 2;
	gid = store_group_add(st, &g, NULL);
	CHECK(gid > 0);
	for (int k = 0; k < 2; k++) {
		j = mkjob(k ? "a blue car" : "a red car", NULL, k ? JOB_FAILED : JOB_COMPLETED);
		j->group_id = gid;
		job_set_str(&j->variant, k ? "{\"prompt{1}\":\"blue\"}" : "{\"prompt{1}\":\"red\"}");
		CHECK_INT(store_job_add(st, j, NULL), 0);
		if (k)
			id3 = j->id;
		job_free(j);
	}
	add(st, "a green car", NULL, JOB_COMPLETED, NULL);
	j = store_job_get(st, id3, NULL);
	CHECK(j && j->group_id == gid && strcmp(j->variant, "{\"prompt{1}\":\"blue\"}") == 0);
	if (j) { /* a save keeps them */
		j->state = JOB_FAILED;
		job_set_str(&j->error, "x");
		CHECK_INT(store_job_save(st, j, NULL), 0);
	}
	job_free(j);
	j = store_job_get(st, id3, NULL);
	CHECK(j && j->group_id == gid && j->variant);
	job_free(j);
	memset(&q, 0, sizeof q);
	q.group_id = gid;
	q.oldest_first = 1;
	CHECK_INT(store_job_list(st, &q, &jobs, &n, NULL), 0);
	CHECK_INT(n, 2);
	CHECK(n == 2 && strcmp(jobs[0]->params.prompt, "a red car") == 0);
	store_jobs_free(jobs, n);
	CHECK_INT(count(st, &q), 2);
	got = store_group_get(st, gid, NULL);
	CHECK(got && got->njobs == 2 && got->nhistory == 2 && got->nstate[JOB_COMPLETED] == 1 &&
	      got->nstate[JOB_FAILED] == 1 && strcmp(got->prompt, "a {red|blue} car") == 0 &&
	      !got->negative_prompt && strstr(got->axes_json, "blue"));
	store_group_free(got);
	CHECK(store_group_get(st, gid + 100, NULL) == NULL);
	/* search finds groups by their jobs' prompts */
	memset(&q, 0, sizeof q);
	q.text = "blue";
	CHECK_INT(store_group_list(st, &q, &gs, &n, NULL), 0);
	CHECK(n == 1 && gs[0]->id == gid && gs[0]->nhistory == 2);
	store_groups_free(gs, n);
	q.text = "green";
	CHECK_INT(store_group_list(st, &q, &gs, &n, NULL), 0);
	CHECK_INT(n, 0);
	store_groups_free(gs, n);
	q.text = NULL;
	q.state_mask = 1 << JOB_FAILED;
	CHECK_INT(store_group_list(st, &q, &gs, &n, NULL), 0);
	CHECK_INT(n, 1);
	store_groups_free(gs, n);
	store_close(st);
}

/* ---- several processes ---- */

#define PER_CHILD 200

/* Child k: add and save PER_CHILD jobs; exit status = number of failures. */
static void writer_child(const char *path, int k, int start_fd)
{
	char *err = NULL, rid[32], c;
	struct store *st;
	int fails = 0;

	/* Start together: the read returns (EOF) when the parent closes its end. */
	if (read(start_fd, &c, 1) < 0)
		_exit(101);
	st = store_open(path, &err);

	if (!st) {
		fprintf(stderr, "  child %d: open: %s\n", k, err ? err : "?");
		_exit(100);
	}
	for (int i = 0; i < PER_CHILD; i++) {
		struct job *j = mkjob("concurrent writer", NULL, JOB_PENDING);
		if (store_job_add(st, j, &err) < 0) {
			fprintf(stderr, "  child %d: add: %s\n", k, err ? err : "?");
			free(err);
			err = NULL;
			fails++;
			job_free(j);
			continue;
		}
		snprintf(rid, sizeof rid, "c%d-%d", k, i);
		job_set_str(&j->remote_id, rid);
		j->state = JOB_IN_QUEUE;
		if (store_job_save(st, j, &err) < 0) {
			fprintf(stderr, "  child %d: save: %s\n", k, err ? err : "?");
			free(err);
			err = NULL;
			fails++;
		}
		job_free(j);
	}
	store_close(st);
	_exit(fails > 99 ? 99 : fails);
}

static void test_concurrent_writers(void)
{
	const char *path = db_path();
	char rid[32];
	struct store *st;

	for (int nproc = 2; nproc <= 4; nproc += 2) {
		char p[4200];
		pid_t pids[4];
		int bad = 0, start[2];

		/* Every child also races to create and migrate the new file. */
		snprintf(p, sizeof p, "%s.%d", path, nproc);
		CHECK(pipe(start) == 0);
		for (int k = 0; k < nproc; k++) {
			fflush(NULL);
			pids[k] = fork();
			if (pids[k] == 0) {
				close(start[1]);
				writer_child(p, k, start[0]);
			}
			CHECK(pids[k] > 0);
		}
		close(start[0]);
		close(start[1]);
		for (int k = 0; k < nproc; k++) {
			int status = 0;
			if (pids[k] > 0 && waitpid(pids[k], &status, 0) == pids[k]) {
				if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
					bad++;
			} else {
				bad++;
			}
		}
		CHECK_INT(bad, 0);
		st = open_ok(p);
		if (!st)
			return;
		CHECK_INT(count(st, NULL), nproc * PER_CHILD);
		CHECK_INT(raw_int(p, "SELECT count(DISTINCT id) FROM jobs"), nproc * PER_CHILD);
		CHECK_INT(raw_int(p, "SELECT count(*) FROM events"), 2 * nproc * PER_CHILD);
		CHECK_INT(raw_int(p, "SELECT count(*) FROM jobs WHERE state='IN_QUEUE'"),
		          nproc * PER_CHILD);
		/* Every child's every job, by its remote id. */
		{
			int missing = 0;
			for (int k = 0; k < nproc; k++)
				for (int i = 0; i < PER_CHILD; i++) {
					snprintf(rid, sizeof rid, "c%d-%d", k, i);
					if (store_job_find(st, rid, NULL) <= 0)
						missing++;
				}
			CHECK_INT(missing, 0);
		}
		CHECK_INT(search(st, "concurrent"), nproc * PER_CHILD);
		store_close(st);
	}
}

/* One report from the crash child: the save of step `step` of job `id` returned. */
struct report {
	int64_t id;
	int32_t step;
	int32_t pad;
};

static const enum job_state crash_steps[] = {JOB_PENDING, JOB_IN_QUEUE, JOB_IN_PROGRESS,
                                             JOB_COMPLETED};

static void crash_child(const char *path, int fd)
{
	struct store *st = store_open(path, NULL);
	struct job_output o = {0, "/c/0.png", 8, 8, 1, "png", 99};

	if (!st)
		_exit(3);
	for (int i = 0; i < 5000; i++) {
		struct job *j = mkjob("crash test subject", NULL, JOB_PENDING);
		struct report r = {0, 0, 0};
		if (store_job_add(st, j, NULL) < 0)
			_exit(4);
		r.id = j->id;
		if (write(fd, &r, sizeof r) != (ssize_t)sizeof r)
			_exit(5);
		for (int s = 1; s < 4; s++) {
			j->state = crash_steps[s];
			if (s == 3)
				job_add_output(j, &o);
			job_set_str(&j->log_tail, "some text to make the rows a little longer");
			if (store_job_save(st, j, NULL) < 0)
				_exit(6);
			r.step = s;
			if (write(fd, &r, sizeof r) != (ssize_t)sizeof r)
				_exit(5);
		}
		job_free(j);
	}
	_exit(0);
}

static void test_crash_reopen(void)
{
	const char *path = db_path();
	struct store *st;
	int fds[2], status;
	pid_t pid;
	struct report r;
	int64_t ids[5000];
	int steps[5000], n = 0, reports = 0, bad_state = 0, bad_events = 0, bad_out = 0;

	st = open_ok(path); /* create it first; the child only writes */
	store_close(st);
	CHECK(pipe(fds) == 0);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		crash_child(path, fds[1]);
	}
	close(fds[1]);
	CHECK(pid > 0);
	if (pid <= 0)
		return;
	while (read(fds[0], &r, sizeof r) == (ssize_t)sizeof r) {
		if (r.step == 0 && n < 5000) {
			ids[n] = r.id;
			steps[n++] = 0;
		} else if (n > 0 && ids[n - 1] == r.id) {
			steps[n - 1] = r.step;
		}
		if (++reports == 601)
			kill(pid, SIGKILL); /* mid-way through job ~150 */
	}
	/* The loop ends at EOF: the child is dead and everything it reported is read. */
	close(fds[0]);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	CHECK(n > 100);

	/* The recovery of the WAL happens on open. */
	{
		sqlite3 *db;
		sqlite3_stmt *s;
		const char *res = NULL;
		CHECK(sqlite3_open(path, &db) == SQLITE_OK);
		if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL) == SQLITE_OK) {
			if (sqlite3_step(s) == SQLITE_ROW)
				res = (const char *)sqlite3_column_text(s, 0);
			CHECK_STR(res, "ok");
			sqlite3_finalize(s);
		}
		sqlite3_close(db);
	}
	st = open_ok(path);
	if (!st)
		return;
	for (int i = 0; i < n; i++) {
		struct job *g = store_job_get(st, ids[i], NULL);
		int step = -1;
		if (!g) {
			bad_state++;
			continue;
		}
		for (int s = 0; s < 4; s++)
			if (g->state == crash_steps[s])
				step = s;
		/* The reported save is there; at most the one after it, which
		 * may have committed just before the kill, is there too. */
		if (step < steps[i] || step > steps[i] + 1)
			bad_state++;
		/* Each state change committed with its event, atomically. */
		if (step >= 0 && n_events(st, ids[i]) != (size_t)step + 1)
			bad_events++;
		if ((step == 3) != (g->n_outputs == 1))
			bad_out++;
		job_free(g);
	}
	CHECK_INT(bad_state, 0);
	CHECK_INT(bad_events, 0);
	CHECK_INT(bad_out, 0);
	/* The store is fully usable after the crash. */
	CHECK(add(st, "after the crash", NULL, JOB_PENDING, NULL) > ids[n - 1]);
	store_close(st);
}

/* Child: with a 2 MB file size limit, add big jobs until a write fails;
 * report each added id (int64), then 0 and the error message. */
static void full_child(const char *path, int fd)
{
	struct rlimit rl = {2 << 20, 2 << 20};
	struct store *st = store_open(path, NULL);
	char *big = malloc(64 * 1024 + 1), *err = NULL, msg[512];
	int64_t zero = 0;

	if (!st || !big)
		_exit(3);
	signal(SIGXFSZ, SIG_IGN);
	if (setrlimit(RLIMIT_FSIZE, &rl) < 0)
		_exit(4);
	for (int i = 0; i < 200; i++) {
		struct job *j = mkjob("a big one", NULL, JOB_PENDING);
		memset(big, 'a' + i % 26, 64 * 1024);
		big[64 * 1024] = '\0';
		job_set_str(&j->raw_output, big);
		if (store_job_add(st, j, &err) < 0) {
			job_free(j);
			break;
		}
		if (write(fd, &j->id, sizeof j->id) != (ssize_t)sizeof j->id)
			_exit(5);
		job_free(j);
	}
	snprintf(msg, sizeof msg, "%s", err ? err : "(no failure)");
	if (write(fd, &zero, sizeof zero) < 0 || write(fd, msg, strlen(msg)) < 0)
		_exit(5);
	free(err);
	free(big);
	store_close(st);
	_exit(0);
}

static void test_write_failure(void)
{
	const char *path = db_path();
	struct store *st = open_ok(path);
	int64_t id, ids[200];
	int n = 0, fds[2], status, missing = 0;
	char msg[512] = "";
	ssize_t r;
	pid_t pid;

	if (!st)
		return;
	add(st, "before", NULL, JOB_PENDING, NULL);
	store_close(st);
	CHECK(pipe(fds) == 0);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		full_child(path, fds[1]);
	}
	close(fds[1]);
	while (read(fds[0], &id, sizeof id) == (ssize_t)sizeof id && id != 0 && n < 200)
		ids[n++] = id;
	r = read(fds[0], msg, sizeof msg - 1);
	msg[r > 0 ? r : 0] = '\0';
	close(fds[0]);
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	fprintf(stderr, "  (message: %s)\n", msg);
	/* The limit was hit, and the message says what and why. */
	CHECK(n > 3 && n < 200);
	CHECK(strstr(msg, "adding a job"));
	CHECK(strstr(msg, "cannot write the database") || strstr(msg, "disk full"));
	CHECK(strstr(msg, "file size limit") || strstr(msg, "disk full"));
	/* The failed transaction left nothing behind; everything before it stays. */
	st = open_ok(path);
	if (!st)
		return;
	CHECK_INT(raw_int(path, "SELECT count(*) FROM pragma_integrity_check WHERE "
	                        "integrity_check='ok'"),
	          1);
	CHECK_INT(count(st, NULL), n + 1);
	for (int i = 0; i < n; i++) {
		struct job *g = store_job_get(st, ids[i], NULL);
		if (!g || !g->raw_output || strlen(g->raw_output) != 64 * 1024)
			missing++;
		job_free(g);
	}
	CHECK_INT(missing, 0);
	CHECK_INT(raw_int(path, "SELECT count(*) FROM events"), n + 1);
	CHECK(add(st, "after", NULL, JOB_PENDING, NULL) > ids[n - 1]);
	store_close(st);
}

/* store_jobs_save: several jobs in one transaction, all or none; a write
 * lock held by another connection fails it quickly with store_was_busy
 * (after the busy wait set), and the same save lands once it is released. */
static void test_batch_and_busy(void)
{
	const char *path = db_path();
	struct store *st = open_ok(path);
	struct job *a, *b, *c;
	const struct job *two[2], *three[3];
	char *err = NULL;
	sqlite3 *other = NULL;
	int64_t t0;

	if (!st)
		return;
	a = store_job_get(st, add(st, "batch a", NULL, JOB_PENDING, NULL), NULL);
	b = store_job_get(st, add(st, "batch b", NULL, JOB_PENDING, NULL), NULL);
	c = mkjob("never added", NULL, JOB_PENDING);
	c->id = 999999;
	if (!CHECK(a && b)) {
		job_free(a);
		job_free(b);
		job_free(c);
		store_close(st);
		return;
	}
	a->state = JOB_SUBMITTING;
	b->state = JOB_IN_QUEUE;
	job_set_str(&b->remote_id, "rid-b");
	two[0] = a;
	two[1] = b;
	CHECK_INT(store_jobs_save(st, two, 2, &err), 0);
	free(err);
	err = NULL;
	CHECK_INT(raw_int(path, "SELECT count(*) FROM jobs WHERE state='SUBMITTING'"), 1);
	CHECK_INT(raw_int(path, "SELECT count(*) FROM jobs WHERE remote_id='rid-b'"), 1);
	CHECK_INT(raw_int(path, "SELECT count(*) FROM events WHERE state IN "
	                        "('SUBMITTING','IN_QUEUE')"),
	          2);
	/* all or none: a job the store does not have fails the whole batch */
	a->state = JOB_IN_QUEUE;
	b->state = JOB_IN_PROGRESS;
	three[0] = a;
	three[1] = b;
	three[2] = c;
	CHECK_INT(store_jobs_save(st, three, 3, &err), -1);
	CHECK(err && strstr(err, "no job 999999"));
	CHECK_INT(store_was_busy(st), 0);
	free(err);
	err = NULL;
	CHECK_INT(raw_int(path, "SELECT count(*) FROM jobs WHERE state='IN_PROGRESS'"), 0);
	CHECK_INT(raw_int(path, "SELECT count(*) FROM jobs WHERE state='SUBMITTING'"), 1);

	/* another connection holds the write lock */
	CHECK_INT(sqlite3_open(path, &other), SQLITE_OK);
	CHECK_INT(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	store_set_busy_wait(st, 20);
	t0 = util_now_ms();
	CHECK_INT(store_jobs_save(st, two, 2, &err), -1);
	fprintf(stderr, "  (busy: %s, after %lld ms)\n", err ? err : "?",
	        (long long)(util_now_ms() - t0));
	CHECK_INT(store_was_busy(st), 1);
	CHECK(err && strstr(err, "busy"));
	free(err);
	err = NULL;
	CHECK_INT(sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(other);
	/* released: the same save lands */
	CHECK_INT(store_jobs_save(st, two, 2, &err), 0);
	free(err);
	CHECK_INT(store_was_busy(st), 0);
	CHECK_INT(raw_int(path, "SELECT count(*) FROM jobs WHERE state='IN_PROGRESS'"), 1);
	CHECK_INT(raw_int(path, "SELECT count(*) FROM jobs WHERE state='IN_QUEUE'"), 1);
	store_set_busy_wait(st, STORE_BUSY_DEFAULT_MS);
	job_free(a);
	job_free(b);
	job_free(c);
	store_close(st);
}

static void test_data_version(void)
{
	const char *path = db_path();
	struct store *a = open_ok(path), *b = open_ok(path);
	int64_t v0, v1, v2;

	if (!a || !b) {
		store_close(a);
		store_close(b);
		CHECK(0);
		return;
	}
	v0 = store_data_version(a);
	CHECK(v0 >= 0);
	CHECK_INT(store_data_version(a), v0); /* nothing happened */
	add(b, "from b", NULL, JOB_PENDING, NULL);
	v1 = store_data_version(a);
	CHECK(v1 >= 0 && v1 != v0);
	add(a, "from a", NULL, JOB_PENDING, NULL); /* a's own commit */
	CHECK_INT(store_data_version(a), v1);
	v2 = store_data_version(b);
	CHECK(store_job_request_cancel(a, 1, NULL) == 0);
	CHECK(store_data_version(b) != v2);
	store_close(a);
	store_close(b);
}

/* Child for the lock test: run `what`, write the result as a long on fd. */
static void lock_child(const char *path, int what, int fd, int wait_fd)
{
	struct store *st = store_open(path, NULL);
	long res[2] = {-9, -9};
	char c;

	if (!st)
		_exit(3);
	res[0] = store_lock_driver(st, NULL);
	res[1] = store_driver_pid(st);
	if (write(fd, res, sizeof res) != (ssize_t)sizeof res)
		_exit(4);
	if (what == 1 && read(wait_fd, &c, 1) < 0) /* hold the lock until told */
		_exit(5);
	_exit(0); /* no store_close: the lock must go with the process */
}

static void test_driver_lock(void)
{
	const char *path = db_path();
	struct store *st = open_ok(path);
	char *err = NULL;
	long res[2];
	int fds[2], go[2], status;
	pid_t pid;

	if (!st)
		return;
	CHECK_INT(store_driver_pid(st), 0); /* no lock file yet */
	CHECK_INT(store_lock_driver(st, &err), 1);
	CHECK_INT(store_lock_driver(st, &err), 1); /* already ours */
	CHECK_INT(store_driver_pid(st), (long)getpid());

	/* A second store in another process cannot get it and sees our pid. */
	CHECK(pipe(fds) == 0 && pipe(go) == 0);
	fflush(NULL);
	pid = fork();
	if (pid == 0)
		lock_child(path, 0, fds[1], go[0]);
	CHECK(read(fds[0], res, sizeof res) == (ssize_t)sizeof res);
	CHECK_INT(res[0], 0);
	CHECK_INT(res[1], (long)getpid());
	waitpid(pid, &status, 0);

	/* After we unlock, it can. */
	store_unlock_driver(st);
	CHECK_INT(store_driver_pid(st), 0);
	fflush(NULL);
	pid = fork();
	if (pid == 0)
		lock_child(path, 1, fds[1], go[0]);
	CHECK(read(fds[0], res, sizeof res) == (ssize_t)sizeof res);
	CHECK_INT(res[0], 1);
	CHECK_INT(res[1], (long)pid);
	/* While the child holds it, we cannot take it and see its pid. */
	CHECK_INT(store_lock_driver(st, &err), 0);
	CHECK_INT(store_driver_pid(st), (long)pid);
	/* When the holder dies without unlocking, the lock is free again. */
	CHECK(write(go[1], "x", 1) == 1);
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK_INT(store_driver_pid(st), 0);
	CHECK_INT(store_lock_driver(st, &err), 1);
	CHECK_INT(store_driver_pid(st), (long)getpid());

	/* store_close releases it too. */
	store_close(st);
	fflush(NULL);
	pid = fork();
	if (pid == 0)
		lock_child(path, 0, fds[1], go[0]);
	CHECK(read(fds[0], res, sizeof res) == (ssize_t)sizeof res);
	CHECK_INT(res[0], 1);
	waitpid(pid, &status, 0);
	close(fds[0]);
	close(fds[1]);
	close(go[0]);
	close(go[1]);
	free(err);
}

/* Key driver locks: one per key fingerprint, independent of each other and
 * of the main lock (flock conflicts between two opens in one process too). */
static void test_key_locks(void)
{
	const char *path = db_path();
	struct store *a = open_ok(path), *b = open_ok(path);
	const char *fa = "00112233445566aa", *fb = "00112233445566bb";
	char *err = NULL, lp[4300];
	struct stat sb;

	if (!a || !b) {
		store_close(a);
		store_close(b);
		CHECK(0);
		return;
	}
	CHECK_INT(store_key_driver_pid(b, fa), 0);
	CHECK_INT(store_lock_key(a, fa, &err), 1);
	CHECK_INT(store_lock_key(a, fa, &err), 1); /* already ours */
	CHECK_INT(store_key_driver_pid(a, fa), (long)getpid());
	CHECK_INT(store_lock_key(b, fa, &err), 0);           /* a holds it */
	CHECK_INT(store_key_driver_pid(b, fa), (long)getpid()); /* the pid in the file */
	CHECK_INT(store_key_driver_pid(b, fb), 0);
	CHECK_INT(store_lock_key(b, fb, &err), 1); /* another key: another lock */
	CHECK_INT(store_lock_driver(b, &err), 1);  /* the main lock is separate */
	CHECK_INT(store_driver_pid(a), (long)getpid());
	snprintf(lp, sizeof lp, "%s.lock-%s", path, fa);
	CHECK(stat(lp, &sb) == 0 && (sb.st_mode & 0777) == 0600);
	/* not a fingerprint: refused, no file made from it */
	CHECK_INT(store_lock_key(a, "../x", &err), -1);
	CHECK(err && strstr(err, "fingerprint"));
	free(err);
	err = NULL;
	CHECK_INT(store_key_driver_pid(a, "../x"), 0);
	store_unlock_key(a, fa);
	CHECK_INT(store_key_driver_pid(b, fa), 0);
	CHECK_INT(store_lock_key(b, fa, &err), 1);
	store_close(b); /* releases every lock b held */
	CHECK_INT(store_key_driver_pid(a, fa), 0);
	CHECK_INT(store_key_driver_pid(a, fb), 0);
	CHECK_INT(store_driver_pid(a), 0);
	store_close(a);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	TH_RUN(test_job_walk);
	TH_RUN(test_roundtrip);
	TH_RUN(test_save_events_outputs);
	TH_RUN(test_narrow_save);
	TH_RUN(test_requests);
	TH_RUN(test_list_search);
	TH_RUN(test_find);
	TH_RUN(test_delete);
	TH_RUN(test_recent_prompts);
	TH_RUN(test_migrations);
	TH_RUN(test_migrate_v2_groups);
	TH_RUN(test_concurrent_writers);
	TH_RUN(test_crash_reopen);
	TH_RUN(test_write_failure);
	TH_RUN(test_batch_and_busy);
	TH_RUN(test_data_version);
	TH_RUN(test_driver_lock);
	TH_RUN(test_key_locks);
	return th_done("test_store");
}
