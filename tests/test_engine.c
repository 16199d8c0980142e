/*
 * test_engine.c: the event loop itself: timers (order, cancel, timers added
 * from timers), fd watches, the signal self-pipe and engine_wakeup, no busy
 * waiting while idle, store change events for viewers, and the driver lock
 * handed from one engine to another on the same database (a job a viewer
 * recorded is taken up by the new driver), and engine_driving_count (jobs it
 * cannot drive are not counted).
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include "engine.h"
#include "th.h"
#include "util.h"
#include "th_config.h"
#include "th_net.h"

static char dir[4096];

static struct config *make_config(const char *d, int dead_port)
{
	struct config *c = th_config_in(d);
	char buf[128];

	if (dead_port) {
		snprintf(buf, sizeof buf, "http://127.0.0.1:%d/v2/test", dead_port);
		th_config_add_runpod(c, "dead", buf, "SDQ_TEST_KEY", NULL);
	}
	return c;
}

/* ---- what the callback saw ---- */
static int ev_count[8];
static int last_signo;

static void on_event(struct engine *e, const struct engine_event *ev, void *udata)
{
	(void)e;
	(void)udata;
	ev_count[ev->type]++;
	if (ev->type == ENGINE_EV_SIGNAL)
		last_signo = ev->signo;
}

static struct engine *new_engine(struct config **cfg, struct store **st)
{
	char *err = NULL;
	struct engine *e;

	*cfg = make_config(dir, 0);
	*st = store_open((*cfg)->db_path, &err);
	if (!*st) {
		fprintf(stderr, "store_open: %s\n", err ? err : "?");
		exit(2);
	}
	e = engine_new(*cfg, *st, &err);
	if (!e) {
		fprintf(stderr, "engine_new: %s\n", err ? err : "?");
		exit(2);
	}
	engine_set_callback(e, on_event, NULL);
	return e;
}

static void free_engine(struct engine *e, struct config *cfg, struct store *st)
{
	engine_free(e);
	store_close(st);
	config_free(cfg);
}

/* ---- timers ---- */
static char order[16];
static size_t norder;

static void tmark(struct engine *e, void *udata)
{
	(void)e;
	if (norder + 1 < sizeof order)
		order[norder++] = *(const char *)udata;
}

static void tchain(struct engine *e, void *udata)
{
	/* a 0 ms timer added from a timer: runs on a later pass, never loops */
	tmark(e, udata);
	engine_timer_add(e, 0, tmark, "z");
}

static void test_timers(void)
{
	struct config *cfg;
	struct store *st;
	struct engine *e = new_engine(&cfg, &st);
	uint64_t c;
	int64_t deadline = util_now_ms() + 5000;

	norder = 0;
	memset(order, 0, sizeof order);
	/* 'a' well after the 40 ms ones: under load the pass firing d/e can
	 * come late, and 'a' must still not share a pass with d's 0 ms 'z' */
	engine_timer_add(e, 500, tmark, "a");
	engine_timer_add(e, 20, tmark, "b");
	c = engine_timer_add(e, 40, tmark, "c");
	engine_timer_add(e, 40, tchain, "d");
	engine_timer_add(e, 40, tmark, "e");
	CHECK(c > 0);
	engine_timer_cancel(e, c);
	engine_timer_cancel(e, c);      /* twice: harmless */
	engine_timer_cancel(e, 123456); /* unknown: harmless */
	while (norder < 5 && util_now_ms() < deadline)
		engine_step(e, 200);
	CHECK_STR(order, "bdeza");
	free_engine(e, cfg, st);
}

/* Many timers added in decreasing order (each one moves up the heap):
 * cancelling by the returned id must cancel exactly that timer. */
static int fired_mask[64];

static void tcount(struct engine *e, void *udata)
{
	(void)e;
	fired_mask[(int *)udata - fired_mask]++;
}

static void test_timer_ids(void)
{
	struct config *cfg;
	struct store *st;
	struct engine *e = new_engine(&cfg, &st);
	uint64_t ids[64];
	int64_t deadline = util_now_ms() + 5000;
	int fired = 0, wrong = 0;

	memset(fired_mask, 0, sizeof fired_mask);
	for (int i = 0; i < 64; i++)
		ids[i] = engine_timer_add(e, 200 - 3 * i, tcount, &fired_mask[i]);
	for (int i = 1; i < 64; i += 2)
		engine_timer_cancel(e, ids[i]);
	while (fired < 32 && util_now_ms() < deadline) {
		engine_step(e, 100);
		fired = 0;
		for (int i = 0; i < 64; i++)
			fired += fired_mask[i];
	}
	engine_step(e, 50);
	for (int i = 0; i < 64; i++)
		wrong += fired_mask[i] != (i % 2 == 0);
	CHECK_INT(wrong, 0);
	free_engine(e, cfg, st);
}

/* ---- fds ---- */
static int fd_calls;
static short fd_revents;

static void on_fd(struct engine *e, int fd, short revents, void *udata)
{
	char buf[16];
	ssize_t r;
	(void)e;
	(void)udata;
	fd_calls++;
	fd_revents = revents;
	r = read(fd, buf, sizeof buf);
	(void)r;
}

static void test_fd_watch(void)
{
	struct config *cfg;
	struct store *st;
	struct engine *e = new_engine(&cfg, &st);
	int p[2];
	int64_t deadline = util_now_ms() + 5000;
	ssize_t r;

	CHECK_INT(pipe(p), 0);
	fd_calls = 0;
	CHECK_INT(engine_watch_fd(e, p[0], POLLIN, on_fd, NULL), 0);
	CHECK_INT(engine_watch_fd(e, p[0], POLLIN, on_fd, NULL), 0); /* replaces */
	r = write(p[1], "x", 1);
	(void)r;
	while (!fd_calls && util_now_ms() < deadline)
		engine_step(e, 200);
	CHECK_INT(fd_calls, 1);
	CHECK(fd_revents & POLLIN);
	engine_unwatch_fd(e, p[0]);
	r = write(p[1], "y", 1);
	engine_step(e, 50);
	engine_step(e, 50);
	CHECK_INT(fd_calls, 1);
	close(p[0]);
	close(p[1]);
	free_engine(e, cfg, st);
}

/* ---- signals and wakeup ---- */
static void test_signal_pipe(void)
{
	struct config *cfg;
	struct store *st;
	struct engine *e = new_engine(&cfg, &st);
	int64_t deadline = util_now_ms() + 5000, t0;

	memset(ev_count, 0, sizeof ev_count);
	last_signo = 0;
	CHECK_INT(engine_catch_signal(e, SIGUSR1), 0);
	raise(SIGUSR1);
	while (!ev_count[ENGINE_EV_SIGNAL] && util_now_ms() < deadline)
		engine_step(e, 200);
	CHECK_INT(ev_count[ENGINE_EV_SIGNAL], 1);
	CHECK_INT(last_signo, SIGUSR1);
	/* SIGCHLD is caught but not reported unless asked for */
	raise(SIGCHLD);
	engine_step(e, 50);
	CHECK_INT(ev_count[ENGINE_EV_SIGNAL], 1);
	/* a wakeup ends a long wait at once (bound far above any scheduling) */
	engine_wakeup(e);
	t0 = util_now_ms();
	engine_step(e, 20000);
	CHECK(util_now_ms() - t0 < 10000);
	free_engine(e, cfg, st);
}

/* ---- no busy waiting ---- */
static int idle_fired;
static void on_idle(struct engine *e, void *udata)
{
	(void)e;
	(void)udata;
	idle_fired = 1;
}

static int idle_passes(struct engine *e)
{
	int passes = 0;
	int64_t deadline = util_now_ms() + 5000;
	idle_fired = 0;
	engine_timer_add(e, 300, on_idle, NULL);
	while (!idle_fired && util_now_ms() < deadline) {
		engine_step(e, -1);
		passes++;
	}
	return passes;
}

static void test_no_busy_wait(void)
{
	struct config *cfg;
	struct store *st;
	struct engine *e = new_engine(&cfg, &st);
	int n;

	n = idle_passes(e);
	CHECK(idle_fired);
	CHECK(n >= 1 && n <= 5);
	if (n > 5)
		fprintf(stderr, "  viewer: %d passes in 300 ms idle\n", n);
	CHECK_INT(engine_drive(e, 1), 1);
	CHECK(engine_is_driver(e));
	n = idle_passes(e);
	CHECK(idle_fired);
	CHECK(n >= 1 && n <= 5);
	if (n > 5)
		fprintf(stderr, "  driver: %d passes in 300 ms idle\n", n);
	free_engine(e, cfg, st);
}

/* ---- viewers see other processes' changes; the lock changes hands ---- */
static void test_handover(void)
{
	int port = th_dead_port();
	struct config *ca = make_config(dir, port), *cb = make_config(dir, port);
	char *err = NULL;
	struct store *sa = store_open(ca->db_path, &err), *sb = store_open(cb->db_path, &err);
	struct engine *ea = engine_new(ca, sa, &err), *eb = engine_new(cb, sb, &err);
	struct job_params p;
	struct job *j;
	int64_t id, deadline;

	setenv("SDQ_TEST_KEY", "test-key-123", 1);
	CHECK(ea && eb);
	if (!ea || !eb)
		return;
	memset(ev_count, 0, sizeof ev_count);
	engine_set_callback(eb, on_event, NULL);
	CHECK_INT(engine_drive(ea, 1), 1);
	CHECK_INT(engine_drive(eb, 1), 0);
	CHECK(engine_is_driver(ea));
	CHECK(!engine_is_driver(eb));

	/* b is a viewer: its job is only recorded */
	job_params_init(&p);
	p.prompt = strdup("handover");
	p.endpoint = strdup("dead");
	id = engine_submit(eb, &p, &err);
	job_params_clear(&p);
	CHECK(id > 0);
	j = store_job_get(sb, id, NULL);
	CHECK(j && j->state == JOB_PENDING);
	job_free(j);

	/* a's view of the store changes: a is the driver, it takes the job
	 * (and the dead port refuses it) */
	deadline = util_now_ms() + 5000;
	for (;;) {
		j = store_job_get(sa, id, NULL);
		int done = j && job_state_is_terminal(j->state);
		job_free(j);
		if (done || util_now_ms() > deadline)
			break;
		engine_step(ea, 100);
		engine_step(eb, 0);
	}
	j = store_job_get(sa, id, NULL);
	CHECK(j != NULL);
	if (j) {
		CHECK_INT(j->state, JOB_SUBMIT_FAILED);
		CHECK(j->error && strstr(j->error, "not sent"));
		CHECK(j->params.seed >= 0 && j->params.seed <= 4294967295LL);
		CHECK_STR(j->backend, "runpod");
	}
	job_free(j);
	deadline = util_now_ms() + 5000;
	while (!ev_count[ENGINE_EV_STORE] && util_now_ms() < deadline)
		engine_step(eb, 200);
	CHECK(ev_count[ENGINE_EV_STORE] >= 1); /* the viewer saw a's writes */

	/* a goes away: b takes over within its next lock tries */
	engine_free(ea);
	deadline = util_now_ms() + 5000;
	while (!engine_is_driver(eb) && util_now_ms() < deadline)
		engine_step(eb, 200);
	CHECK(engine_is_driver(eb));
	CHECK(ev_count[ENGINE_EV_ROLE] >= 1);
	engine_free(eb);
	store_close(sa);
	store_close(sb);
	config_free(ca);
	config_free(cb);
	free(err);
}

static int64_t add_job(struct store *st, const char *endpoint, const char *backend,
                       enum job_state state, const char *remote_id)
{
	struct job *j = job_new();
	int64_t id = 0;

	job_set_str(&j->params.prompt, "counted?");
	job_set_str(&j->params.endpoint, endpoint);
	job_set_str(&j->endpoint, endpoint);
	job_set_str(&j->backend, backend);
	if (remote_id)
		job_set_str(&j->remote_id, remote_id);
	j->state = state;
	j->created_at = job_now_ms();
	if (store_job_add(st, j, NULL) == 0)
		id = j->id;
	job_free(j);
	return id;
}

/* engine_driving_count: only jobs a backend really follows. A job of an
 * endpoint this config lacks (no URL to follow) and a job its backend
 * refused (IN_QUEUE without a remote id) stay live but are not counted; a
 * viewer drives nothing. Cancelling clears them. */
static void test_driving_count(void)
{
	char sub[4096];
	int port = th_dead_port();
	struct config *c;
	struct store *st;
	struct engine *e, *v;
	int64_t a, b, d;
	struct job *j;

	snprintf(sub, sizeof sub, "%s", th_tmpdir());
	c = make_config(sub, port);
	st = store_open(c->db_path, NULL);
	setenv("SDQ_TEST_KEY", "test-key-123", 1);
	a = add_job(st, "gpu-elsewhere", "local", JOB_PENDING, NULL);
	b = add_job(st, "dead", "runpod", JOB_IN_QUEUE, NULL);
	d = add_job(st, "dead", "runpod", JOB_IN_QUEUE, "remote-1");
	CHECK(a && b && d);
	e = engine_new(c, st, NULL);
	v = engine_new(c, st, NULL);
	CHECK(e && v);
	if (!e || !v) {
		engine_free(e);
		engine_free(v);
		store_close(st);
		config_free(c);
		return;
	}
	CHECK_INT(engine_driving_count(e), 0);
	CHECK_INT(engine_drive(e, 1), 1);
	/* only d: its polls fail (dead port) and it stays live, followed */
	CHECK_INT(engine_driving_count(e), 1);
	CHECK_INT(engine_live_count(e), 3);
	CHECK_INT(engine_driving_count(v), 0);
	engine_step(e, 50);
	CHECK_INT(engine_driving_count(e), 1);
	CHECK_INT(engine_cancel(e, a, NULL), 0);
	CHECK_INT(engine_cancel(e, b, NULL), 0);
	j = store_job_get(st, b, NULL);
	CHECK(j && j->state == JOB_CANCELLED);
	job_free(j);
	CHECK_INT(engine_live_count(e), 1);
	CHECK_INT(engine_driving_count(e), 1);
	engine_free(v);
	engine_free(e);
	store_close(st);
	config_free(c);
}

/* An engine over a fresh history with the endpoint "dead" (nothing
 * answers), not driving, and a second handle on the same database (another
 * process holding a driver lock). */
struct many_fx {
	struct config *c;
	struct store *st, *other;
	struct engine *e;
};

static int many_open(struct many_fx *f)
{
	char sub[4096];
	snprintf(sub, sizeof sub, "%s", th_tmpdir());
	f->c = make_config(sub, th_dead_port());
	f->st = store_open(f->c->db_path, NULL);
	f->other = store_open(f->c->db_path, NULL);
	setenv("SDQ_TEST_KEY", "test-key-123", 1);
	f->e = f->st && f->other ? engine_new(f->c, f->st, NULL) : NULL;
	return CHECK(f->e != NULL) ? 0 : -1;
}

static void many_close(struct many_fx *f)
{
	engine_free(f->e);
	store_close(f->other);
	store_close(f->st);
	config_free(f->c);
}

/* engine_cancel_many (a group's cancel, one commit for all): by an engine
 * that does not drive them, jobs not sent yet become CANCELLED unsent, sent
 * ones get a cancel request for their driver, a finished one is named in
 * the error while the others are still done; with the driver lock held by
 * another process, the unsent ones are left to it (a request each). */
static void test_cancel_many(void)
{
	struct many_fx f;
	char *err = NULL;
	size_t done = 0;

	if (many_open(&f) < 0)
		goto out;
	struct store *st = f.st, *other = f.other;
	struct engine *e = f.e;
	int64_t ids[5];
	ids[0] = add_job(st, "dead", "runpod", JOB_PENDING, NULL);
	ids[1] = add_job(st, "dead", "runpod", JOB_IN_QUEUE, "remote-1");
	ids[2] = add_job(st, "dead", "runpod", JOB_COMPLETED, "remote-2");
	ids[3] = add_job(st, "dead", "runpod", JOB_PENDING, NULL);
	ids[4] = add_job(st, "dead", "runpod", JOB_IN_PROGRESS, "remote-3");
	CHECK_INT(engine_cancel_many(e, ids, 5, &done, &err), -1);
	CHECK_INT(done, 4);
	char want[64];
	snprintf(want, sizeof want, "job %lld is already COMPLETED", (long long)ids[2]);
	CHECK(err && strstr(err, want));
	free(err);
	err = NULL;
	static const enum job_state after[5] = {JOB_CANCELLED, JOB_IN_QUEUE, JOB_COMPLETED,
	                                        JOB_CANCELLED, JOB_IN_PROGRESS};
	static const int asked[5] = {0, 1, 0, 0, 1};
	for (int i = 0; i < 5; i++) {
		struct job *j = store_job_get(st, ids[i], NULL);
		if (CHECK(j != NULL)) {
			if (!CHECK_INT(j->state, after[i]) | !CHECK_INT(j->cancel_requested, asked[i]))
				fprintf(stderr, "  job %d\n", i);
		}
		job_free(j);
	}
	/* another process drives (holds the lock): it cancels them, not us */
	CHECK_INT(store_lock_driver(other, NULL), 1);
	ids[0] = add_job(st, "dead", "runpod", JOB_PENDING, NULL);
	ids[1] = add_job(st, "dead", "runpod", JOB_PENDING, NULL);
	CHECK_INT(engine_cancel_many(e, ids, 2, &done, &err), 0);
	CHECK_INT(done, 2);
	for (int i = 0; i < 2; i++) {
		struct job *j = store_job_get(st, ids[i], NULL);
		CHECK(j && j->state == JOB_PENDING && j->cancel_requested == 1);
		job_free(j);
	}
	store_unlock_driver(other);
	free(err);
out:
	many_close(&f);
}

/* engine_submit_many (a group's re-run, one commit for all): the jobs in
 * order with their group and variants, as engine_submit_opts records one;
 * a job that cannot be made (its template) stops there with the ones
 * before it recorded; a key whose lock another driver holds leaves the
 * jobs to it (recorded, not driven here). */
static void test_submit_many(void)
{
	struct many_fx f;
	char *err = NULL;
	size_t made = 0;

	if (many_open(&f) < 0)
		goto out;
	struct store *st = f.st, *other = f.other;
	struct engine *e = f.e;
	struct job_params p[3];
	const struct job_params *ps[3];
	const char *vs[3] = {"{\"seed\":1}", "{\"seed\":2}", "{\"seed\":3}"};
	for (int i = 0; i < 3; i++) {
		char b[16];
		job_params_init(&p[i]);
		snprintf(b, sizeof b, "many %d", i);
		p[i].prompt = strdup(b);
		p[i].endpoint = strdup("dead");
		p[i].seed = i + 1;
		ps[i] = &p[i];
	}
	struct store_group g;
	memset(&g, 0, sizeof g);
	g.prompt = "many {0|1|2}";
	g.njobs = 3;
	int64_t gid = store_group_add(st, &g, NULL), ids[3] = {0, 0, 0};
	CHECK(gid > 0);
	CHECK_INT(engine_submit_many(e, ps, vs, 3, gid, ids, &made, &err), 0);
	CHECK_INT(made, 3);
	for (int i = 0; i < 3; i++) {
		struct job *j = ids[i] ? store_job_get(st, ids[i], NULL) : NULL;
		if (CHECK(j != NULL)) {
			CHECK_STR(j->params.prompt, p[i].prompt);
			CHECK(j->state == JOB_PENDING && j->group_id == gid && j->params.seed == i + 1);
			CHECK_STR(j->variant, vs[i]);
			CHECK_STR(j->endpoint, "dead");
			CHECK(j->key_fp && j->input_json); /* the route, fixed at submit */
		}
		job_free(j);
		CHECK(i == 0 || ids[i] > ids[i - 1]);
	}
	/* job 1 cannot be made: job 0 is recorded, nothing after */
	free(p[1].template_name);
	p[1].template_name = strdup("no-such-template");
	ids[0] = ids[1] = ids[2] = 0;
	CHECK_INT(engine_submit_many(e, ps, vs, 3, 0, ids, &made, &err), -1);
	CHECK_INT(made, 1);
	CHECK(err && strstr(err, "no-such-template"));
	free(err);
	err = NULL;
	struct store_query q;
	memset(&q, 0, sizeof q);
	CHECK_INT(store_job_count(st, &q, NULL), 4);
	/* the key's driver is another process: recorded, left to it */
	struct job *j0 = store_job_get(st, ids[0], NULL);
	CHECK(j0 && j0->key_fp && store_lock_key(other, j0->key_fp, NULL) == 1);
	free(p[1].template_name);
	p[1].template_name = NULL;
	CHECK_INT(engine_drive(e, 1), 1);
	CHECK_INT(engine_submit_many(e, ps, NULL, 3, 0, ids, &made, &err), 0);
	CHECK_INT(made, 3);
	engine_step(e, 0);
	CHECK_INT(engine_driving_count(e), 0); /* none sent from here */
	CHECK_INT(store_job_count(st, &q, NULL), 7);
	if (j0)
		store_unlock_key(other, j0->key_fp);
	job_free(j0);
	for (int i = 0; i < 3; i++)
		job_params_clear(&p[i]);
	free(err);
out:
	many_close(&f);
}

int main(void)
{
	snprintf(dir, sizeof dir, "%s", th_tmpdir());
	TH_RUN(test_timers);
	TH_RUN(test_timer_ids);
	TH_RUN(test_fd_watch);
	TH_RUN(test_signal_pipe);
	TH_RUN(test_no_busy_wait);
	TH_RUN(test_handover);
	TH_RUN(test_driving_count);
	TH_RUN(test_cancel_many);
	TH_RUN(test_submit_many);
	return th_done("test_engine");
}
