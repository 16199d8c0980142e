/*
 * test_follow.c: how the driver follows jobs (issue 12), against
 * tests/emulator.py on 127.0.0.1: the long-poll status (/status-sync) is
 * used and costs about one request per job when nobody watches; while
 * someone watches, progress still shows (short windows), also when the
 * watcher arrives while a long window is held; a cancel never waits behind a
 * held long-poll; an endpoint without status-sync (404, 405) or one that
 * answers it at once is followed with /status, and that is remembered. Then
 * the notifications between processes (dbwatch): writes to the database,
 * the driver lock closed by its holder, watchers; and an idle driver or
 * viewer engine makes no passes of its loop. No timing is asserted: a
 * waiting loop has a generous deadline, and "idle" is checked as passes
 * that end before their own timeout (a load can only make waits longer).
 */
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include "dbwatch.h"
#include "engine.h"
#include "http.h"
#include "th.h"
#include "util.h"
#include "th_net.h"
#include "th_config.h"

static char dir[2048];

/* One emulator, its config, store and what the engine's callback heard. */
struct fx {
	struct emu em;
	struct config *cfg;
	struct store *st;
};

static char messages[8192];
static int64_t watch_id;
static double max_progress;
static int store_events;

static void on_event(struct engine *e, const struct engine_event *ev, void *udata)
{
	(void)udata;
	if (ev->type == ENGINE_EV_MESSAGE && ev->message) {
		size_t n = strlen(messages);
		snprintf(messages + n, sizeof messages - n, "%s\n", ev->message);
	}
	if (ev->type == ENGINE_EV_STORE)
		store_events++;
	if (ev->type == ENGINE_EV_JOB && ev->job_id == watch_id) {
		const struct job *j = engine_job(e, ev->job_id);
		if (j && j->state == JOB_IN_PROGRESS && j->progress > max_progress)
			max_progress = j->progress;
	}
}

static int fx_start(struct fx *f, const char *mode, const char *sub)
{
	const char *args[] = {"--status-sync", mode, "--steps", "8", NULL};
	char d[2100], *err = NULL;

	memset(f, 0, sizeof *f);
	if (emu_start(&f->em, args) < 0)
		return -1;
	snprintf(d, sizeof d, "%s/%s", dir, sub);
	mkdir(d, 0700);
	f->cfg = th_config_in(d);
	th_config_add_runpod(f->cfg, "emu", f->em.base, "SDQ_TEST_KEY", "sdxl");
	f->st = store_open(f->cfg->db_path, &err);
	if (!f->st) {
		fprintf(stderr, "store_open: %s\n", err ? err : "?");
		free(err);
		emu_stop(&f->em);
		return -1;
	}
	return 0;
}

static void fx_stop(struct fx *f)
{
	store_close(f->st);
	config_free(f->cfg);
	emu_stop(&f->em);
}

static struct engine *start_engine(struct fx *f)
{
	struct engine *e = th_engine_new(f->cfg, f->st, on_event, NULL);
	messages[0] = '\0';
	th_engine_drive(e);
	return e;
}

static int64_t submit(struct engine *e, const char *prompt)
{
	return th_submit(e, "emu", prompt, 1);
}

/* Step e until job id is terminal, at most secs seconds; the store's copy. */
static struct job *wait_job(struct fx *f, struct engine *e, int64_t id, int secs)
{
	return th_wait_job(e, f->st, id, -1, secs);
}

static cJSON *stats(struct fx *f)
{
	return emu_get(&f->em, "/_emu/stats", NULL);
}

/* ops.<name> of the emulator's stats (-1 if absent). */
static long op_count(struct fx *f, const char *name)
{
	cJSON *s = stats(f);
	const cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(s, "ops"), name);
	long n = cJSON_IsNumber(v) ? (long)v->valuedouble : -1;
	cJSON_Delete(s);
	return n;
}

/* A number of remote job rid in the stats (-1 if absent). */
static long job_stat(struct fx *f, const char *rid, const char *field)
{
	cJSON *s = stats(f);
	const cJSON *v = cJSON_GetObjectItem(
	    cJSON_GetObjectItem(cJSON_GetObjectItem(s, "jobs"), rid ? rid : ""), field);
	long n = cJSON_IsNumber(v) ? (long)v->valuedouble : -1;
	cJSON_Delete(s);
	return n;
}

/* Step e until job id's first status-sync is held by the emulator. */
static int wait_held(struct fx *f, struct engine *e, int64_t id, int secs)
{
	int64_t deadline = util_now_ms() + secs * 1000;
	while (util_now_ms() < deadline) {
		const struct job *j = engine_job(e, id);
		if (j && j->remote_id && job_stat(f, j->remote_id, "sync_polls") >= 1)
			return 1;
		engine_step(e, 100);
	}
	return 0;
}

/* ---- long-poll ---- */

static struct fx fx_wait;

/* Nobody watches: one status-sync follows the job to its end. */
static void test_longpoll_used(void)
{
	struct engine *e = start_engine(&fx_wait);
	int64_t id = submit(e, "held to the end [[queue=0.3 run=1.5]]");
	struct job *j = wait_job(&fx_wait, e, id, 60);

	CHECK(j && j->state == JOB_COMPLETED && j->n_outputs == 1);
	CHECK(j && j->remote_id && job_stat(&fx_wait, j->remote_id, "sync_polls") >= 1);
	/* RunPod-python would have asked about 3 times */
	CHECK(j && j->remote_id && job_stat(&fx_wait, j->remote_id, "status_polls") <= 2);
	CHECK(engine_watched(e) == 0);
	job_free(j);
	engine_free(e);
}

/* Someone watches: progress still arrives while the job runs. */
static void test_watched_progress(void)
{
	struct engine *e = start_engine(&fx_wait);
	struct job *j;

	CHECK_INT(engine_set_watching(e, 1), 0);
	CHECK(engine_watched(e));
	max_progress = -1;
	watch_id = submit(e, "watched [[queue=0 run=4 steps=8]]");
	j = wait_job(&fx_wait, e, watch_id, 60);
	CHECK(j && j->state == JOB_COMPLETED);
	CHECK(max_progress > 0 && max_progress < 1);
	CHECK(j && j->remote_id && job_stat(&fx_wait, j->remote_id, "sync_polls") >= 2);
	job_free(j);
	watch_id = 0;
	engine_free(e);
}

/* Step e until job id is IN_PROGRESS in the engine and the emulator holds a
 * status-sync of it asked after that (its long window while nobody watches). */
static int wait_held_running(struct fx *f, struct engine *e, int64_t id, int secs)
{
	int64_t deadline = util_now_ms() + secs * 1000;
	long polls = -1;
	while (util_now_ms() < deadline) {
		const struct job *j = engine_job(e, id);
		if (j && j->remote_id && j->state == JOB_IN_PROGRESS) {
			long n = job_stat(f, j->remote_id, "sync_polls");
			if (polls < 0)
				polls = n;
			else if (n > polls)
				return 1;
		}
		engine_step(e, 100);
	}
	return 0;
}

/* A watcher arrives while a long window is held on a running job: the job is
 * asked again with a short one, so its progress moves before it ends. */
static void test_watcher_arrives(void)
{
	struct engine *e = start_engine(&fx_wait);
	struct job *j;
	double seen;
	int64_t id;

	max_progress = -1;
	id = submit(e, "watched later [[queue=0 run=10 steps=20]]");
	watch_id = id;
	CHECK(wait_held_running(&fx_wait, e, id, 30));
	seen = max_progress;
	CHECK(seen < 0.9);
	CHECK_INT(engine_set_watching(e, 1), 0);
	j = wait_job(&fx_wait, e, id, 60);
	CHECK(j && j->state == JOB_COMPLETED);
	/* recorded only while IN_PROGRESS: a held window would have ended
	 * with COMPLETED */
	CHECK(max_progress > seen);
	job_free(j);
	watch_id = 0;
	engine_free(e);
}

/* Nobody watches, and the job sits in a status RunPod does not define: the
 * first windows are short (like plain polling while queued), so the store
 * names the status long before a 90 s window would end; the job is not
 * asked more often than plain polling would ask. */
static void test_unwatched_queued_state(void)
{
	struct engine *e = start_engine(&fx_wait);
	int64_t id = submit(e, "strange [[weird queue=300]]"), deadline;
	struct job *j = NULL;
	int named = 0;

	deadline = util_now_ms() + 45000;
	while (!named && util_now_ms() < deadline) {
		engine_step(e, 100);
		job_free(j);
		j = store_job_get(fx_wait.st, id, NULL);
		named = j && j->status_text && strcmp(j->status_text, "WARMING_UP") == 0;
	}
	CHECK(named);
	CHECK(j && j->state == JOB_OTHER);
	CHECK(j && j->remote_id && job_stat(&fx_wait, j->remote_id, "sync_polls") >= 1);
	job_free(j);
	CHECK_INT(engine_cancel(e, id, NULL), 0);
	j = wait_job(&fx_wait, e, id, 45);
	CHECK(j && j->state == JOB_CANCELLED);
	job_free(j);
	engine_free(e);
}

/* A watcher in another process (its own store and engine, a viewer) is seen
 * by the driver. */
static void test_watcher_elsewhere(void)
{
	struct engine *d = start_engine(&fx_wait), *v;
	struct store *st2 = store_open(fx_wait.cfg->db_path, NULL);
	int64_t deadline;

	CHECK(st2 != NULL);
	if (!st2) {
		engine_free(d);
		return;
	}
	v = engine_new(fx_wait.cfg, st2, NULL);
	CHECK(v != NULL);
	CHECK(engine_watched(d) == 0);
	CHECK_INT(engine_set_watching(v, 1), 0);
	deadline = util_now_ms() + 20000;
	while (!engine_watched(d) && util_now_ms() < deadline)
		engine_step(d, 200);
	CHECK(engine_watched(d));
	CHECK_INT(engine_set_watching(v, 0), 0);
	deadline = util_now_ms() + 20000;
	while (engine_watched(d) && util_now_ms() < deadline)
		engine_step(d, 200);
	CHECK(engine_watched(d) == 0);
	engine_free(v);
	store_close(st2);
	engine_free(d);
}

/* A cancel is its own request: it does not wait for the held long-poll
 * (which the emulator would hold for 90 s). */
static void test_cancel_not_behind(void)
{
	struct engine *e = start_engine(&fx_wait);
	int64_t id = submit(e, "cancel me [[queue=600]]");
	struct job *j;

	CHECK(wait_held(&fx_wait, e, id, 30));
	CHECK_INT(engine_cancel(e, id, NULL), 0);
	j = wait_job(&fx_wait, e, id, 45);
	CHECK(j && j->state == JOB_CANCELLED);
	job_free(j);
	engine_free(e);
}

/* Many jobs are held at once (their own connections), none behind another. */
static void test_many_held(void)
{
	struct engine *e = start_engine(&fx_wait);
	int64_t ids[12];
	cJSON *s;
	const cJSON *v;

	for (int i = 0; i < 12; i++) {
		char p[64];
		snprintf(p, sizeof p, "together %d [[queue=0.5 run=2]]", i);
		ids[i] = submit(e, p);
	}
	for (int i = 0; i < 12; i++) {
		struct job *j = wait_job(&fx_wait, e, ids[i], 60);
		CHECK(j && j->state == JOB_COMPLETED);
		job_free(j);
	}
	s = stats(&fx_wait);
	v = cJSON_GetObjectItem(s, "sync_waiting_max");
	CHECK(cJSON_IsNumber(v) && v->valuedouble >= 6);
	cJSON_Delete(s);
	engine_free(e);
}

/* ---- falling back ---- */

static void fallback_case(const char *mode, const char *sub, const char *said)
{
	struct fx f;
	struct engine *e;
	struct job *j;
	int64_t a, b;
	long miss;

	if (fx_start(&f, mode, sub) < 0) {
		CHECK(0);
		return;
	}
	e = start_engine(&f);
	a = submit(e, "first [[queue=0.2 run=4]]");
	j = wait_job(&f, e, a, 60);
	CHECK(j && j->state == JOB_COMPLETED && j->n_outputs == 1);
	job_free(j);
	CHECK(strstr(messages, said) != NULL);
	miss = op_count(&f, "notfound") + op_count(&f, "status_sync");
	/* remembered: the next job is followed with /status only */
	b = submit(e, "second [[queue=0.2 run=2]]");
	j = wait_job(&f, e, b, 60);
	CHECK(j && j->state == JOB_COMPLETED && j->n_outputs == 1);
	CHECK(j && j->remote_id && job_stat(&f, j->remote_id, "sync_polls") == 0);
	CHECK(j && j->remote_id && job_stat(&f, j->remote_id, "status_polls") >= 1);
	job_free(j);
	CHECK_INT(op_count(&f, "notfound") + op_count(&f, "status_sync"), miss);
	engine_free(e);
	fx_stop(&f);
}

static void test_fallback_404(void)
{
	fallback_case("404", "f404", "no long-poll status (/status-sync: HTTP 404)");
}

static void test_fallback_405(void)
{
	fallback_case("405", "f405", "no long-poll status (/status-sync: HTTP 405)");
}

static void test_fallback_instant(void)
{
	fallback_case("instant", "finstant", "answers at once");
}

/* ---- notifications between processes ---- */

static int wait_fd(int fd, int ms)
{
	struct pollfd p = {fd, POLLIN, 0};
	return poll(&p, 1, ms) == 1;
}

static void touch_file(const char *path, int flags)
{
	int fd = open(path, flags | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0) {
		if (flags & (O_WRONLY | O_RDWR))
			CHECK(write(fd, "x", 1) == 1);
		close(fd);
	}
}

static void test_dbwatch(void)
{
	char db[2100], p[2200];
	struct dbwatch *w1, *w2;
	int fd;

	snprintf(db, sizeof db, "%s/dbw.db", dir);
	w1 = dbwatch_new(db, NULL);
	w2 = dbwatch_new(db, NULL);
	CHECK(w1 && w2);
	if (!w1 || !w2 || dbwatch_fd(w1) < 0) {
		fprintf(stderr, "  no inotify here: the fallback timer is used\n");
		dbwatch_free(w1);
		dbwatch_free(w2);
		return;
	}
	fd = dbwatch_fd(w1);
	/* a file of someone else: nothing */
	snprintf(p, sizeof p, "%s/other.txt", dir);
	touch_file(p, O_WRONLY);
	CHECK(!wait_fd(fd, 50) || dbwatch_read(w1) == 0);
	/* the WAL written */
	snprintf(p, sizeof p, "%s-wal", db);
	touch_file(p, O_WRONLY);
	CHECK(wait_fd(fd, 5000));
	CHECK(dbwatch_read(w1) & DBWATCH_DATA);
	/* a failed lock try (read-only open) is not a driver leaving ... */
	snprintf(p, sizeof p, "%s.lock", db);
	touch_file(p, O_RDONLY);
	CHECK(!wait_fd(fd, 50) || !(dbwatch_read(w1) & DBWATCH_LOCK));
	/* ... a writer's close is */
	touch_file(p, O_RDWR);
	CHECK(wait_fd(fd, 5000));
	CHECK(dbwatch_read(w1) & DBWATCH_LOCK);
	/* watchers */
	CHECK_INT(dbwatch_others_watching(w1), 0);
	CHECK_INT(dbwatch_set_watching(w2, 1), 0);
	CHECK(wait_fd(fd, 5000));
	CHECK(dbwatch_read(w1) & DBWATCH_WATCHERS);
	CHECK_INT(dbwatch_others_watching(w1), 1);
	CHECK_INT(dbwatch_set_watching(w2, 0), 0);
	CHECK(wait_fd(fd, 5000));
	CHECK(dbwatch_read(w1) & DBWATCH_WATCHERS);
	CHECK_INT(dbwatch_others_watching(w1), 0);
	dbwatch_free(w1);
	dbwatch_free(w2);
}

/* n passes of engine_step(e, ms): how many ended before their timeout (a
 * wakeup: something happened or a timer fired). */
static int early_passes(struct engine *e, int n, int ms)
{
	int early = 0;
	for (int i = 0; i < n; i++) {
		int64_t t0 = util_now_ms();
		unsigned long p0 = engine_passes(e);
		engine_step(e, ms);
		CHECK_INT(engine_passes(e) - p0, 1);
		if (util_now_ms() - t0 < ms - 5)
			early++;
	}
	return early;
}

/* A driver whose only job is held in a long-poll, and a viewer beside it,
 * sleep: no pass of either loop ends early. A job added by another process
 * wakes the viewer. */
static void test_idle_and_notified(void)
{
	struct engine *d = start_engine(&fx_wait), *v;
	struct store *st2 = store_open(fx_wait.cfg->db_path, NULL), *st3;
	int64_t id = submit(d, "idle [[queue=600]]"), t0;
	struct job *j;

	CHECK(st2 != NULL);
	CHECK(wait_held(&fx_wait, d, id, 30));
	for (int i = 0; i < 5; i++) /* let the submit's own commits settle */
		engine_step(d, 50);
	CHECK_INT(early_passes(d, 4, 300), 0);
	v = st2 ? engine_new(fx_wait.cfg, st2, NULL) : NULL;
	CHECK(v != NULL);
	if (v) {
		engine_set_callback(v, on_event, NULL);
		CHECK_INT(engine_drive(v, 1), 0); /* d drives */
		engine_step(v, 50);
		CHECK_INT(early_passes(v, 4, 300), 0);
		/* another process adds a job: the viewer hears it at once */
		st3 = store_open(fx_wait.cfg->db_path, NULL);
		j = job_new();
		CHECK(st3 && j);
		if (st3 && j) {
			job_set_str(&j->params.prompt, "from elsewhere");
			job_set_str(&j->params.endpoint, "emu");
			job_set_str(&j->endpoint, "emu");
			j->state = JOB_CANCELLED;
			j->created_at = job_now_ms();
			store_events = 0;
			CHECK_INT(store_job_add(st3, j, NULL), 0);
			t0 = util_now_ms();
			for (int i = 0; i < 3 && !store_events; i++)
				engine_step(v, 20000);
			CHECK(store_events > 0);
			/* a notification, not a 20 s timeout */
			CHECK(util_now_ms() - t0 < 15000);
		}
		job_free(j);
		store_close(st3);
		engine_free(v);
	}
	store_close(st2);
	CHECK_INT(engine_cancel(d, id, NULL), 0);
	j = wait_job(&fx_wait, d, id, 30);
	CHECK(j && j->state == JOB_CANCELLED);
	job_free(j);
	engine_free(d);
}

int main(void)
{
	snprintf(dir, sizeof dir, "%.2000s", th_tmpdir());
	setenv("SDQ_TEST_KEY", "test-key-123", 1);
	TH_RUN(test_dbwatch);
	if (fx_start(&fx_wait, "wait", "wait") < 0) {
		fprintf(stderr, "cannot start the emulator\n");
		th_failed++;
		return th_done("test_follow");
	}
	TH_RUN(test_longpoll_used);
	TH_RUN(test_watched_progress);
	TH_RUN(test_watcher_arrives);
	TH_RUN(test_unwatched_queued_state);
	TH_RUN(test_watcher_elsewhere);
	TH_RUN(test_cancel_not_behind);
	TH_RUN(test_many_held);
	TH_RUN(test_idle_and_notified);
	fx_stop(&fx_wait);
	TH_RUN(test_fallback_404);
	TH_RUN(test_fallback_405);
	TH_RUN(test_fallback_instant);
	return th_done("test_follow");
}
