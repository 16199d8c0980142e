/*
 * test_child.c: core/child, the one way sdq runs a child process: output
 * through the loop, exit status and signals, the time limit, a grandchild
 * that holds the pipes, kill on free and at exit, exec errors, detached
 * launches, and that reaping never steals another part's child.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>

#include "child.h"
#include "config.h"
#include "engine.h"
#include "store.h"
#include "th.h"

struct env {
	struct config *cfg;
	struct store *st;
	struct engine *e;
};

static int env_open(struct env *v)
{
	char *err = NULL;
	char db[4200];
	memset(v, 0, sizeof *v);
	v->cfg = config_new_defaults(&err);
	snprintf(db, sizeof db, "%s/history.db", th_tmpdir());
	v->st = v->cfg ? store_open(db, &err) : NULL;
	v->e = v->st ? engine_new(v->cfg, v->st, &err) : NULL;
	if (!v->e) {
		fprintf(stderr, "  env: %s\n", err ? err : "?");
		free(err);
		return -1;
	}
	return 0;
}

static void env_close(struct env *v)
{
	engine_free(v->e);
	store_close(v->st);
	config_free(v->cfg);
}

/* What the callbacks saw. */
struct rec {
	char out[4096], err[4096];
	size_t n_out, n_err, total;
	int eof[2];      /* end-of-stream calls per stream */
	int eof_early;   /* an end-of-stream after on_exit */
	int exits;       /* on_exit calls */
	struct child_exit x;
	int free_in_output; /* child_free from inside on_output */
	struct child **self;
};

static void rec_output(struct child *c, enum child_stream s, const char *buf, size_t n,
                       void *udata)
{
	struct rec *r = udata;
	if (!buf) {
		r->eof[s]++;
		if (r->exits)
			r->eof_early = 1;
		return;
	}
	char *dst = s == CHILD_STDOUT ? r->out : r->err;
	size_t *dn = s == CHILD_STDOUT ? &r->n_out : &r->n_err;
	size_t take = n < 4095 - *dn ? n : 4095 - *dn;
	memcpy(dst + *dn, buf, take);
	*dn += take;
	dst[*dn] = 0;
	r->total += n;
	if (r->free_in_output && r->self && *r->self) {
		child_free(c);
		*r->self = NULL;
	}
}

static void rec_exit(struct child *c, const struct child_exit *x, void *udata)
{
	struct rec *r = udata;
	r->exits++;
	r->x = *x;
}

static struct child *spawn(struct env *v, struct rec *r, char *const argv[], int timeout_ms,
                           int grace_ms, char **err)
{
	struct child_opts o;
	memset(&o, 0, sizeof o);
	o.argv = argv;
	o.timeout_ms = timeout_ms;
	o.grace_ms = grace_ms;
	o.on_output = rec_output;
	o.on_exit = rec_exit;
	o.udata = r;
	return child_spawn(v->e, &o, err);
}

/* Step the loop until *flag, at most about 60 s (a bound, not a timing). */
static void run_until(struct env *v, const int *flag)
{
	for (int i = 0; i < 600 && !*flag; i++)
		engine_step(v->e, 100);
}

static int group_alive(pid_t pgid)
{
	return kill(-pgid, 0) == 0 || errno != ESRCH;
}

/* Wait (bounded) until the group is gone: members killed with SIGKILL are
 * reaped by init, which may take a moment on a loaded machine. */
static int group_gone(pid_t pgid)
{
	for (int i = 0; i < 500; i++) {
		if (!group_alive(pgid))
			return 1;
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	return 0;
}

static void test_output_and_status(void)
{
	struct env v;
	if (env_open(&v) < 0)
		return;
	struct rec r;
	memset(&r, 0, sizeof r);
	char *argv[] = {"sh", "-c", "printf 'to out'; printf 'to err' >&2; exit 3", NULL};
	char *err = NULL;
	struct child *c = spawn(&v, &r, argv, 0, 0, &err);
	CHECK(c);
	CHECK(child_pid(c) > 0);
	CHECK(child_running(c));
	run_until(&v, &r.exits);
	CHECK_INT(r.exits, 1);
	CHECK_STR(r.out, "to out");
	CHECK_STR(r.err, "to err");
	CHECK_INT(r.eof[0], 1);
	CHECK_INT(r.eof[1], 1);
	CHECK_INT(r.eof_early, 0);
	CHECK_INT(r.x.code, 3);
	CHECK_INT(r.x.signo, 0);
	CHECK_INT(r.x.timed_out, 0);
	CHECK(!child_running(c));
	char t[128];
	CHECK_STR(child_exit_text(&r.x, 0, t, sizeof t), "exited with status 3");
	child_free(c);
	env_close(&v);
}

/* All output arrives before on_exit, however much there is. */
static void test_big_output_before_exit(void)
{
	struct env v;
	if (env_open(&v) < 0)
		return;
	struct rec r;
	memset(&r, 0, sizeof r);
	char *argv[] = {"sh", "-c", "head -c 1000000 /dev/zero; head -c 3000 /dev/zero >&2", NULL};
	struct child *c = spawn(&v, &r, argv, 0, 0, NULL);
	CHECK(c);
	run_until(&v, &r.exits);
	CHECK_INT(r.total, 1003000);
	CHECK_INT(r.x.code, 0);
	CHECK_INT(r.eof_early, 0);
	child_free(c);
	env_close(&v);
}

static void test_exec_errors(void)
{
	struct env v;
	if (env_open(&v) < 0)
		return;
	struct rec r;
	memset(&r, 0, sizeof r);
	char *err = NULL;
	char *a1[] = {"/nonexistent/sdq-no-such-program", NULL};
	CHECK(spawn(&v, &r, a1, 0, 0, &err) == NULL);
	CHECK(err && strstr(err, "cannot run /nonexistent/sdq-no-such-program"));
	CHECK(err && strstr(err, "No such file"));
	free(err);
	err = NULL;
	char *a2[] = {"sdq-no-such-program-on-path", NULL};
	CHECK(spawn(&v, &r, a2, 0, 0, &err) == NULL);
	CHECK(err && strstr(err, "cannot run sdq-no-such-program-on-path"));
	free(err);
	err = NULL;
	/* a bad working directory is an exec error too */
	struct child_opts o;
	memset(&o, 0, sizeof o);
	char *a3[] = {"true", NULL};
	o.argv = a3;
	o.dir = "/nonexistent/dir";
	CHECK(child_spawn(v.e, &o, &err) == NULL);
	CHECK(err && strstr(err, "cannot run true"));
	free(err);
	CHECK_INT(r.exits, 0); /* no callback for a child that never ran */
	env_close(&v);
}

static void test_signal(void)
{
	struct env v;
	if (env_open(&v) < 0)
		return;
	struct rec r;
	memset(&r, 0, sizeof r);
	char *argv[] = {"sh", "-c", "echo 'what():  stoi' >&2; kill -ABRT $$", NULL};
	struct child *c = spawn(&v, &r, argv, 0, 0, NULL);
	CHECK(c);
	run_until(&v, &r.exits);
	CHECK_INT(r.x.signo, SIGABRT);
	CHECK_INT(r.x.code, -1);
	char t[128];
	CHECK_STR(child_exit_text(&r.x, 0, t, sizeof t), "killed by signal 6 (SIGABRT)");
	CHECK_STR(child_signal_name(SIGKILL), "SIGKILL");
	CHECK_STR(child_signal_name(0), "?");
	child_free(c);
	env_close(&v);
}

static void test_time_limit(void)
{
	struct env v;
	if (env_open(&v) < 0)
		return;
	struct rec r;
	memset(&r, 0, sizeof r);
	char *argv[] = {"sleep", "30", NULL};
	struct child *c = spawn(&v, &r, argv, 200, 0, NULL);
	CHECK(c);
	run_until(&v, &r.exits);
	CHECK_INT(r.exits, 1);
	CHECK_INT(r.x.timed_out, 1);
	CHECK_INT(r.x.signo, SIGTERM);
	char t[128];
	CHECK_STR(child_exit_text(&r.x, 200, t, sizeof t),
	          "was stopped after the time limit of 200 ms");
	child_free(c);

	/* one that ignores SIGTERM gets SIGKILL after the grace */
	memset(&r, 0, sizeof r);
	char *a2[] = {"sh", "-c", "trap '' TERM; echo ready; sleep 30; sleep 30", NULL};
	c = spawn(&v, &r, a2, 300, 100, NULL);
	CHECK(c);
	pid_t pg = child_pid(c);
	run_until(&v, &r.exits);
	CHECK_INT(r.x.timed_out, 1);
	CHECK_INT(r.x.signo, SIGKILL);
	child_free(c);
	CHECK(group_gone(pg));
	env_close(&v);
}

/* The leader exits but a grandchild keeps the pipes open: the group is
 * killed after the drain limit and on_exit still comes. */
static void test_grandchild_holds_pipes(void)
{
	struct env v;
	if (env_open(&v) < 0)
		return;
	struct rec r;
	memset(&r, 0, sizeof r);
	char *argv[] = {"sh", "-c", "sleep 30 & echo started", NULL};
	struct child *c = spawn(&v, &r, argv, 0, 0, NULL);
	CHECK(c);
	pid_t pg = child_pid(c);
	run_until(&v, &r.exits);
	CHECK_INT(r.exits, 1);
	CHECK_INT(r.x.code, 0);
	CHECK_STR(r.out, "started\n");
	CHECK_INT(r.eof[0], 1);
	CHECK(group_gone(pg));
	child_free(c);
	env_close(&v);
}

/* child_free of a running child ends its whole group, without callbacks. */
static void test_free_kills_group(void)
{
	struct env v;
	if (env_open(&v) < 0)
		return;
	struct rec r;
	memset(&r, 0, sizeof r);
	char *argv[] = {"sh", "-c", "sleep 30 & sleep 30", NULL};
	struct child *c = spawn(&v, &r, argv, 0, 0, NULL);
	CHECK(c);
	pid_t pg = child_pid(c);
	CHECK(group_alive(pg));
	child_free(c);
	CHECK(group_gone(pg));
	CHECK_INT(r.exits, 0);
	/* the loop still works and nothing fires for the freed child */
	engine_step(v.e, 10);
	CHECK_INT(r.exits, 0);
	child_free(NULL);
	env_close(&v);
}

/* child_free from inside on_output: no further callback, nothing left. */
static void test_free_inside_callback(void)
{
	struct env v;
	if (env_open(&v) < 0)
		return;
	struct rec r;
	memset(&r, 0, sizeof r);
	struct child *c = NULL;
	r.free_in_output = 1;
	r.self = &c;
	char *argv[] = {"sh", "-c", "echo hello; sleep 30", NULL};
	c = spawn(&v, &r, argv, 0, 0, NULL);
	CHECK(c);
	pid_t pg = child_pid(c);
	for (int i = 0; i < 600 && c; i++)
		engine_step(v.e, 100);
	CHECK(c == NULL);
	CHECK_STR(r.out, "hello\n");
	CHECK(group_gone(pg));
	engine_step(v.e, 10);
	CHECK_INT(r.exits, 0);
	env_close(&v);
}

/* A process that exits with children still running kills their groups;
 * here a forked copy of the test plays that process. */
static void test_killed_at_exit(void)
{
	int p[2];
	if (!CHECK(pipe(p) == 0))
		return;
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		struct env v;
		if (env_open(&v) < 0)
			_exit(2);
		char *argv[] = {"sleep", "30", NULL};
		struct child_opts o;
		memset(&o, 0, sizeof o);
		o.argv = argv;
		struct child *c = child_spawn(v.e, &o, NULL);
		pid_t pg = child_pid(c);
		if (write(p[1], &pg, sizeof pg) != sizeof pg)
			_exit(3);
		exit(0); /* no child_free: the atexit handler must act */
	}
	close(p[1]);
	pid_t pg = 0;
	ssize_t n = read(p[0], &pg, sizeof pg);
	close(p[0]);
	int st;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(n == (ssize_t)sizeof pg && pg > 0);
	if (pg > 0)
		CHECK(group_gone(pg));
}

/* Reaping by pid only: a child that is not ours stays for its owner. */
static void test_sigchld_steals_nothing(void)
{
	struct env v;
	if (env_open(&v) < 0)
		return;
	pid_t pid = fork();
	if (pid == 0)
		_exit(7);
	struct rec r;
	memset(&r, 0, sizeof r);
	char *argv[] = {"true", NULL};
	struct child *c = spawn(&v, &r, argv, 0, 0, NULL);
	run_until(&v, &r.exits);
	child_sigchld();
	int st = 0;
	CHECK(waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 7);
	child_free(c);
	env_close(&v);
}

static void test_detached(void)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/out", th_tmpdir());
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (!CHECK(fd >= 0))
		return;
	/* it runs in a session of its own (made by the first fork, which then
	 * exits: so it can never get a controlling terminal) */
	char *argv[] = {"sh", "-c", "ps -o sid= -p $$ | tr -d ' '; echo $$", NULL};
	struct child_opts o;
	memset(&o, 0, sizeof o);
	o.argv = argv;
	o.out = CHILD_IO_FD;
	o.out_fd = fd;
	char *err = NULL;
	CHECK_INT(child_spawn_detached(&o, &err), 0);
	close(fd);
	char buf[256] = "";
	for (int i = 0; i < 1000; i++) {
		int in = open(path, O_RDONLY);
		ssize_t n = in >= 0 ? read(in, buf, sizeof buf - 1) : -1;
		if (in >= 0)
			close(in);
		buf[n > 0 ? n : 0] = 0;
		if (strchr(buf, '\n') && strchr(strchr(buf, '\n') + 1, '\n'))
			break;
		struct timespec ts = {0, 10 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	long sid = 0, self = 0;
	CHECK(sscanf(buf, "%ld %ld", &sid, &self) == 2);
	if (!CHECK(sid > 0 && sid != (long)getsid(0) && self != sid))
		fprintf(stderr, "  output: %s\n", buf);
	char *bad[] = {"/nonexistent/sdq-viewer", NULL};
	o.argv = bad;
	o.out = CHILD_IO_NULL;
	CHECK_INT(child_spawn_detached(&o, &err), -1);
	CHECK(err && strstr(err, "cannot run /nonexistent/sdq-viewer"));
	free(err);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	TH_RUN(test_output_and_status);
	TH_RUN(test_big_output_before_exit);
	TH_RUN(test_exec_errors);
	TH_RUN(test_signal);
	TH_RUN(test_time_limit);
	TH_RUN(test_grandchild_holds_pipes);
	TH_RUN(test_free_kills_group);
	TH_RUN(test_free_inside_callback);
	TH_RUN(test_killed_at_exit);
	TH_RUN(test_sigchld_steals_nothing);
	TH_RUN(test_detached);
	return th_done("test_child");
}
