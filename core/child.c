/*
 * child.c: child processes run through the engine's loop (see child.h).
 *
 * A child is done when it has been reaped and both of its pipes have reached
 * end of file; only then is on_exit called, so the owner always has all of
 * the output before it hears how the child ended. Three timers keep that
 * promise when things go wrong: the time limit (SIGTERM, then SIGKILL after
 * the grace), the drain limit (the leader exited but something left in its
 * group holds the pipes: kill the group, close the pipes) and a reap poll
 * (the pipes closed but no SIGCHLD arrived yet; backs off to 1 s).
 *
 * Every child is on one list, so child_sigchld() can reap them all by pid and
 * the atexit handler can kill any group left behind.
 */
#include "child.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "util.h"

#define CHILD_GRACE_MS 3000
#define CHILD_DRAIN_MS 2000
#define CHILD_REAP_FIRST_MS 50
#define CHILD_REAP_MAX_MS 1000
#define CHILD_READ_ROUNDS 16 /* reads per wakeup per pipe, so one child cannot starve the loop */

struct child {
	struct engine *e;
	pid_t pid; /* also the process group id */
	int fd[2]; /* read ends of stdout, stderr; -1 when not a pipe or closed */
	int reaped, status, lost;
	int done; /* on_exit called (or freed) */
	int timed_out, terminated;
	int grace_ms, timeout_ms, secret;
	int64_t started;
	uint64_t t_limit, t_kill, t_drain, t_reap;
	int reap_delay;
	child_output_cb on_output;
	child_exit_cb on_exit;
	void *udata;
	int in_cb, free_pending;
	struct child *prev, *next;
};

static struct child *all_head;
static pid_t all_owner; /* the process that spawned the listed children */
static int atexit_set;

static void check(struct child *c);

/* ---------- the list, reaping, exit ---------- */

static void list_add(struct child *c)
{
	c->prev = NULL;
	c->next = all_head;
	if (all_head)
		all_head->prev = c;
	all_head = c;
}

static void list_del(struct child *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else if (all_head == c)
		all_head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
}

/* At exit: SIGKILL to each group that may still have members. Only in the
 * process that started them (a forked copy must not kill its parent's). */
static void kill_all_at_exit(void)
{
	if (getpid() != all_owner)
		return;
	for (struct child *c = all_head; c; c = c->next)
		if (c->pid > 0 && (!c->reaped || c->fd[0] >= 0 || c->fd[1] >= 0))
			kill(-c->pid, SIGKILL);
}

/* Reap c if it has exited (never blocks, never reaps another pid).
 * Returns 1 if it was reaped just now. */
static int reap(struct child *c)
{
	if (c->reaped || c->pid <= 0)
		return 0;
	int st;
	pid_t r;
	do
		r = waitpid(c->pid, &st, WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == c->pid) {
		c->reaped = 1;
		c->status = st;
		return 1;
	}
	if (r < 0 && errno == ECHILD) {
		c->reaped = 1; /* somebody else reaped it */
		c->lost = 1;
		return 1;
	}
	return 0;
}

static void close_fd(struct child *c, int i)
{
	if (c->fd[i] < 0)
		return;
	engine_unwatch_fd(c->e, c->fd[i]);
	close(c->fd[i]);
	c->fd[i] = -1;
}

static void cancel_timers(struct child *c)
{
	engine_timer_cancel(c->e, c->t_limit);
	engine_timer_cancel(c->e, c->t_kill);
	engine_timer_cancel(c->e, c->t_drain);
	engine_timer_cancel(c->e, c->t_reap);
	c->t_limit = c->t_kill = c->t_drain = c->t_reap = 0;
}

static void really_free(struct child *c)
{
	close_fd(c, 0);
	close_fd(c, 1);
	cancel_timers(c);
	list_del(c);
	free(c);
}

/* Run a callback of c; returns 0 if c was freed meanwhile (then it is gone). */
static int after_cb(struct child *c)
{
	c->in_cb--;
	if (c->in_cb == 0 && c->free_pending) {
		really_free(c);
		return 0;
	}
	return 1;
}

static void reap_timer(struct engine *e, void *udata)
{
	struct child *c = udata;
	(void)e;
	c->t_reap = 0;
	reap(c);
	check(c);
}

static void drain_timer(struct engine *e, void *udata)
{
	struct child *c = udata;
	(void)e;
	c->t_drain = 0;
	/* the leader is gone but something in its group keeps the pipes open */
	kill(-c->pid, SIGKILL);
	for (int i = 0; i < 2; i++) {
		if (c->fd[i] < 0)
			continue;
		close_fd(c, i);
		if (c->on_output) {
			c->in_cb++;
			c->on_output(c, (enum child_stream)i, NULL, 0, c->udata);
			if (!after_cb(c))
				return;
		}
	}
	check(c);
}

static void kill_timer(struct engine *e, void *udata)
{
	struct child *c = udata;
	(void)e;
	c->t_kill = 0;
	if (!c->done)
		kill(-c->pid, SIGKILL);
}

static void limit_timer(struct engine *e, void *udata)
{
	struct child *c = udata;
	(void)e;
	c->t_limit = 0;
	if (c->done)
		return;
	c->timed_out = 1;
	kill(-c->pid, SIGTERM);
	if (!c->t_kill)
		c->t_kill = engine_timer_add(c->e, c->grace_ms, kill_timer, c);
}

/* Decide whether c is done; if so, call on_exit. */
static void check(struct child *c)
{
	if (c->done || c->free_pending)
		return;
	int open = c->fd[0] >= 0 || c->fd[1] >= 0;
	if (c->reaped && !open) {
		c->done = 1;
		cancel_timers(c);
		struct child_exit x;
		memset(&x, 0, sizeof x);
		x.status = c->status;
		x.lost = c->lost;
		x.code = !c->lost && WIFEXITED(c->status) ? WEXITSTATUS(c->status) : -1;
		x.signo = !c->lost && WIFSIGNALED(c->status) ? WTERMSIG(c->status) : 0;
		x.timed_out = c->timed_out;
		x.terminated = c->terminated;
		x.ms = util_now_ms() - c->started;
		if (c->on_exit) {
			c->in_cb++;
			c->on_exit(c, &x, c->udata);
			after_cb(c);
		}
		return;
	}
	if (c->reaped && open && !c->t_drain)
		c->t_drain = engine_timer_add(c->e, CHILD_DRAIN_MS, drain_timer, c);
	if (!c->reaped && !open && !c->t_reap) {
		c->t_reap = engine_timer_add(c->e, c->reap_delay, reap_timer, c);
		c->reap_delay = c->reap_delay * 2 > CHILD_REAP_MAX_MS ? CHILD_REAP_MAX_MS
		                                                      : c->reap_delay * 2;
	}
}

void child_sigchld(void)
{
	/* A callback may free any child: start over after each one reaped. Each
	 * pass reaps at least one, so this ends. */
	for (;;) {
		struct child *c = all_head;
		while (c && (c->reaped || c->free_pending || !reap(c)))
			c = c->next;
		if (!c)
			return;
		check(c);
	}
}

/* ---------- reading ---------- */

static void fd_cb(struct engine *e, int fd, short revents, void *udata)
{
	struct child *c = udata;
	(void)e;
	(void)revents;
	int i = fd == c->fd[0] ? 0 : fd == c->fd[1] ? 1 : -1;
	if (i < 0)
		return;
	char buf[16384];
	for (int rounds = 0; rounds < CHILD_READ_ROUNDS; rounds++) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n > 0) {
			if (c->on_output) {
				c->in_cb++;
				c->on_output(c, (enum child_stream)i, buf, (size_t)n, c->udata);
				if (c->secret)
					explicit_bzero(buf, (size_t)n);
				if (!after_cb(c))
					return;
			}
			if (c->fd[i] != fd)
				return;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		/* end of file, or a read error */
		close_fd(c, i);
		if (c->on_output) {
			c->in_cb++;
			c->on_output(c, (enum child_stream)i, NULL, 0, c->udata);
			if (!after_cb(c))
				return;
		}
		reap(c);
		check(c);
		return;
	}
}

/* ---------- starting ---------- */

static const int default_signals[] = {SIGPIPE, SIGINT,  SIGTERM, SIGHUP,  SIGQUIT,
                                      SIGCHLD, SIGTSTP, SIGTTIN, SIGTTOU, SIGWINCH,
                                      SIGUSR1, SIGUSR2, SIGALRM, SIGXFSZ};

/* fd moved to a number above 2, close-on-exec (a detached driver may run
 * with 0-2 closed, and the child's dup2 calls must never meet these). */
static int fd_above2(int fd)
{
	if (fd < 0)
		return fd;
	if (fd > 2) {
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		return fd;
	}
	int nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
	return nfd;
}

/* In the child after fork: only async-signal-safe calls. Sets up fds 0-2
 * from in, out, err (already above 2), closes everything else but keep,
 * changes directory and execs. Returns the errno on failure. */
static int exec_child(const struct child_opts *o, int in, int out, int err, int keep)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	for (size_t k = 0; k < sizeof default_signals / sizeof default_signals[0]; k++)
		sigaction(default_signals[k], &sa, NULL);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
		return errno;
	util_close_fds(3, keep);
	if (o->dir && chdir(o->dir) < 0)
		return errno;
	const char *file = o->file ? o->file : o->argv[0];
	if (strchr(file, '/'))
		execv(file, o->argv);
	else
		execvp(file, o->argv);
	return errno;
}

/* The fd for stream io: a pipe's write end (read end in *rd), /dev/null, or
 * a dup of the caller's fd; all above 2 and close-on-exec. -1 on error. */
static int stream_fd(enum child_io io, int user_fd, int devnull, int *rd)
{
	*rd = -1;
	if (io == CHILD_IO_PIPE) {
		int p[2];
		if (pipe(p) < 0)
			return -1;
		*rd = fd_above2(p[0]);
		int w = fd_above2(p[1]);
		if (*rd < 0 || w < 0) {
			if (*rd >= 0)
				close(*rd);
			if (w >= 0)
				close(w);
			*rd = -1;
			return -1;
		}
		return w;
	}
	if (io == CHILD_IO_FD && user_fd >= 0)
		return fd_above2(fcntl(user_fd, F_DUPFD_CLOEXEC, 3));
	return fd_above2(fcntl(devnull, F_DUPFD_CLOEXEC, 3));
}

static void close_if(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Read the exec status pipe: 0 if the exec happened (EOF), else the errno. */
static int read_exec_status(int fd)
{
	int code = 0;
	ssize_t n;
	do
		n = read(fd, &code, sizeof code);
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof code ? (code ? code : EINVAL) : 0;
}

static const char *prog_name(const struct child_opts *o)
{
	return o->file ? o->file : o->argv && o->argv[0] ? o->argv[0] : "?";
}

struct child *child_spawn(struct engine *e, const struct child_opts *o, char **err)
{
	if (!e || !o || !o->argv || !o->argv[0]) {
		util_set_err(err, "child_spawn: nothing to run");
		return NULL;
	}
	struct child *c = calloc(1, sizeof *c);
	if (!c) {
		util_set_err(err, "out of memory");
		return NULL;
	}
	c->e = e;
	c->fd[0] = c->fd[1] = -1;
	c->pid = -1;
	c->grace_ms = o->grace_ms > 0 ? o->grace_ms : CHILD_GRACE_MS;
	c->timeout_ms = o->timeout_ms;
	c->secret = o->secret;
	c->reap_delay = CHILD_REAP_FIRST_MS;
	c->on_output = o->on_output;
	c->on_exit = o->on_exit;
	c->udata = o->udata;

	int devnull = fd_above2(open("/dev/null", O_RDWR | O_CLOEXEC));
	int w_out = -1, w_err = -1, st[2] = {-1, -1};
	if (devnull < 0) {
		util_set_err(err, "cannot open /dev/null: %s", strerror(errno));
		free(c);
		return NULL;
	}
	w_out = stream_fd(o->out, o->out_fd, devnull, &c->fd[0]);
	if (w_out >= 0)
		w_err = stream_fd(o->err, o->err_fd, devnull, &c->fd[1]);
	if (w_out < 0 || w_err < 0 || pipe(st) < 0 || (st[0] = fd_above2(st[0])) < 0 ||
	    (st[1] = fd_above2(st[1])) < 0) {
		util_set_err(err, "cannot set up the pipes of %s: %s", prog_name(o),
		             strerror(errno));
		goto fail;
	}
	c->started = util_now_ms();
	pid_t pid = fork();
	if (pid < 0) {
		util_set_err(err, "cannot start %s: fork: %s", prog_name(o), strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		setpgid(0, 0);
		if (o->die_with_parent)
			prctl(PR_SET_PDEATHSIG, SIGKILL);
		int code = exec_child(o, devnull, w_out, w_err, st[1]);
		ssize_t wr = write(st[1], &code, sizeof code);
		(void)wr;
		_exit(127);
	}
	setpgid(pid, pid); /* also here: no race with a kill(-pid) right after */
	close_if(&devnull);
	close_if(&w_out);
	close_if(&w_err);
	close_if(&st[1]);
	int code = read_exec_status(st[0]);
	close_if(&st[0]);
	c->pid = pid;
	if (!all_owner || all_owner != getpid()) {
		all_owner = getpid();
		all_head = NULL; /* a forked copy's inherited list is not ours */
	}
	if (!atexit_set && atexit(kill_all_at_exit) == 0)
		atexit_set = 1;
	list_add(c);
	if (code) {
		util_set_err(err, "cannot run %s: %s", prog_name(o), strerror(code));
		int s;
		while (waitpid(pid, &s, 0) < 0 && errno == EINTR)
			;
		c->reaped = 1;
		really_free(c);
		return NULL;
	}
	for (int k = 0; k < 2; k++) {
		if (c->fd[k] < 0)
			continue;
		fcntl(c->fd[k], F_SETFL, fcntl(c->fd[k], F_GETFL) | O_NONBLOCK);
		if (engine_watch_fd(e, c->fd[k], POLLIN, fd_cb, c) < 0) {
			util_set_err(err, "cannot watch the output of %s", prog_name(o));
			kill(-pid, SIGKILL);
			int s;
			while (waitpid(pid, &s, 0) < 0 && errno == EINTR)
				;
			c->reaped = 1;
			really_free(c);
			return NULL;
		}
	}
	if (o->timeout_ms > 0)
		c->t_limit = engine_timer_add(e, o->timeout_ms, limit_timer, c);
	/* with no pipe to wait on, only SIGCHLD or the poll says it ended */
	check(c);
	return c;
fail:
	close_if(&devnull);
	close_if(&w_out);
	close_if(&w_err);
	close_if(&c->fd[0]);
	close_if(&c->fd[1]);
	close_if(&st[0]);
	close_if(&st[1]);
	free(c);
	return NULL;
}

pid_t child_pid(const struct child *c)
{
	return c ? c->pid : -1;
}

int child_running(const struct child *c)
{
	return c && !c->done;
}

void child_terminate(struct child *c)
{
	if (!c || c->done || c->pid <= 0)
		return;
	c->terminated = 1;
	kill(-c->pid, SIGTERM);
	if (!c->t_kill)
		c->t_kill = engine_timer_add(c->e, c->grace_ms, kill_timer, c);
}

void child_kill(struct child *c)
{
	if (!c || c->done || c->pid <= 0)
		return;
	c->terminated = 1;
	kill(-c->pid, SIGKILL);
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

void child_free(struct child *c)
{
	if (!c)
		return;
	if (c->pid > 0 && !c->reaped) {
		kill(-c->pid, SIGTERM);
		for (int t = 0; t < c->grace_ms / 10 && !c->reaped; t++)
			if (!reap(c))
				sleep_ms(10);
		if (!c->reaped)
			kill(-c->pid, SIGKILL);
		for (int t = 0; t < 300 && !c->reaped; t++)
			if (!reap(c))
				sleep_ms(10);
	}
	if (c->pid > 0 && !c->done)
		kill(-c->pid, SIGKILL); /* anything left in the group */
	c->done = 1;
	if (c->in_cb) {
		/* inside one of c's callbacks: free when it returns */
		close_fd(c, 0);
		close_fd(c, 1);
		cancel_timers(c);
		c->free_pending = 1;
		return;
	}
	really_free(c);
}

/* ---------- words ---------- */

const char *child_signal_name(int sig)
{
	static const struct {
		int sig;
		const char *name;
	} names[] = {
	    {SIGHUP, "SIGHUP"},   {SIGINT, "SIGINT"},   {SIGQUIT, "SIGQUIT"}, {SIGILL, "SIGILL"},
	    {SIGTRAP, "SIGTRAP"}, {SIGABRT, "SIGABRT"}, {SIGBUS, "SIGBUS"},   {SIGFPE, "SIGFPE"},
	    {SIGKILL, "SIGKILL"}, {SIGUSR1, "SIGUSR1"}, {SIGSEGV, "SIGSEGV"}, {SIGUSR2, "SIGUSR2"},
	    {SIGPIPE, "SIGPIPE"}, {SIGALRM, "SIGALRM"}, {SIGTERM, "SIGTERM"}, {SIGXCPU, "SIGXCPU"},
	    {SIGXFSZ, "SIGXFSZ"},
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (names[i].sig == sig)
			return names[i].name;
	return "?";
}

char *child_exit_text(const struct child_exit *x, int timeout_ms, char *buf, size_t len)
{
	if (!len)
		return buf;
	if (x->timed_out && timeout_ms > 0 && timeout_ms % 1000 == 0)
		snprintf(buf, len, "was stopped after the time limit of %d s", timeout_ms / 1000);
	else if (x->timed_out)
		snprintf(buf, len, "was stopped after the time limit of %d ms", timeout_ms);
	else if (x->lost)
		snprintf(buf, len, "ended (status lost)");
	else if (x->signo)
		snprintf(buf, len, "killed by signal %d (%s)", x->signo, child_signal_name(x->signo));
	else
		snprintf(buf, len, "exited with status %d", x->code);
	return buf;
}

/* ---------- detached ---------- */

int child_spawn_detached(const struct child_opts *o, char **err)
{
	if (!o || !o->argv || !o->argv[0]) {
		util_set_err(err, "child_spawn_detached: nothing to run");
		return -1;
	}
	/* everything that may allocate happens before fork() */
	int devnull = fd_above2(open("/dev/null", O_RDWR | O_CLOEXEC));
	int dummy, w_out = -1, w_err = -1, st[2] = {-1, -1}, rc = -1;
	if (devnull < 0) {
		util_set_err(err, "cannot open /dev/null: %s", strerror(errno));
		return -1;
	}
	w_out = stream_fd(o->out == CHILD_IO_PIPE ? CHILD_IO_NULL : o->out, o->out_fd, devnull,
	                  &dummy);
	w_err = stream_fd(o->err == CHILD_IO_PIPE ? CHILD_IO_NULL : o->err, o->err_fd, devnull,
	                  &dummy);
	if (w_out < 0 || w_err < 0 || pipe(st) < 0 || (st[0] = fd_above2(st[0])) < 0 ||
	    (st[1] = fd_above2(st[1])) < 0) {
		util_set_err(err, "cannot start %s: %s", prog_name(o), strerror(errno));
		goto out;
	}
	pid_t pid = fork();
	if (pid < 0) {
		util_set_err(err, "cannot start %s: fork: %s", prog_name(o), strerror(errno));
		goto out;
	}
	if (pid == 0) {
		setsid();
		pid_t g = fork();
		if (g != 0) {
			if (g < 0) {
				int code = errno;
				ssize_t wr = write(st[1], &code, sizeof code);
				(void)wr;
			}
			_exit(g < 0);
		}
		int code = exec_child(o, devnull, w_out, w_err, st[1]);
		ssize_t wr = write(st[1], &code, sizeof code);
		(void)wr;
		_exit(127);
	}
	close_if(&st[1]);
	int s;
	while (waitpid(pid, &s, 0) < 0 && errno == EINTR)
		;
	int code = read_exec_status(st[0]); /* EOF once the grandchild exec'd */
	if (code)
		util_set_err(err, "cannot run %s: %s", prog_name(o), strerror(code));
	else
		rc = 0;
out:
	close_if(&devnull);
	close_if(&w_out);
	close_if(&w_err);
	close_if(&st[0]);
	close_if(&st[1]);
	return rc;
}

/* ---------- to the end, with no loop ---------- */

int child_capture(const struct child_opts *o, char *buf, size_t cap, size_t *n,
                  size_t max_total, size_t *total, struct child_exit *x, char **err)
{
	if (!o || !o->argv || !o->argv[0] || !x) {
		util_set_err(err, "child_capture: nothing to run");
		return -1;
	}
	memset(x, 0, sizeof *x);
	*n = *total = 0;
	int devnull = fd_above2(open("/dev/null", O_RDWR | O_CLOEXEC));
	int rd = -1, w_out = -1, w_err = -1, st[2] = {-1, -1}, dummy;
	if (devnull < 0) {
		util_set_err(err, "cannot open /dev/null: %s", strerror(errno));
		return -1;
	}
	w_out = stream_fd(CHILD_IO_PIPE, -1, devnull, &rd);
	w_err = stream_fd(o->err == CHILD_IO_PIPE ? CHILD_IO_NULL : o->err, o->err_fd, devnull,
	                  &dummy);
	if (w_out < 0 || w_err < 0 || pipe(st) < 0 || (st[0] = fd_above2(st[0])) < 0 ||
	    (st[1] = fd_above2(st[1])) < 0) {
		util_set_err(err, "cannot set up the pipes of %s: %s", prog_name(o),
		             strerror(errno));
		goto fail;
	}
	int64_t t0 = util_now_ms();
	int64_t deadline = o->timeout_ms > 0 ? t0 + o->timeout_ms : INT64_MAX;
	pid_t pid = fork();
	if (pid < 0) {
		util_set_err(err, "cannot start %s: fork: %s", prog_name(o), strerror(errno));
		goto fail;
	}
	if (pid == 0) {
		setpgid(0, 0);
		if (o->die_with_parent)
			prctl(PR_SET_PDEATHSIG, SIGKILL);
		int code = exec_child(o, devnull, w_out, w_err, st[1]);
		ssize_t wr = write(st[1], &code, sizeof code);
		(void)wr;
		_exit(127);
	}
	setpgid(pid, pid);
	close_if(&devnull);
	close_if(&w_out);
	close_if(&w_err);
	close_if(&st[1]);
	int code = read_exec_status(st[0]);
	close_if(&st[0]);
	if (code) {
		util_set_err(err, "cannot run %s: %s", prog_name(o), strerror(code));
		close_if(&rd);
		int s;
		while (waitpid(pid, &s, 0) < 0 && errno == EINTR)
			;
		return -1;
	}
	fcntl(rd, F_SETFL, fcntl(rd, F_GETFL) | O_NONBLOCK);
	/* Read all it prints (it never blocks on a full pipe), keep the first
	 * cap bytes; never read without poll() saying there is something: the
	 * deadline holds even when the output stays open. */
	int status = 0, reaped = 0;
	while (rd >= 0) {
		int64_t left = deadline - util_now_ms();
		if (left <= 0) {
			x->timed_out = 1;
			break;
		}
		struct pollfd pf = {rd, POLLIN, 0};
		int rc = poll(&pf, 1, left > 1000 ? 1000 : (int)left);
		if (rc < 0 && errno != EINTR)
			break;
		if (rc <= 0)
			continue;
		char chunk[4096];
		ssize_t r = read(rd, chunk, sizeof chunk);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0) {
			close_if(&rd);
			break;
		}
		size_t take = *n < cap ? cap - *n : 0;
		if (take > (size_t)r)
			take = (size_t)r;
		memcpy(buf + *n, chunk, take);
		*n += take;
		*total += (size_t)r;
		if (o->secret)
			explicit_bzero(chunk, sizeof chunk);
		if (max_total && *total > max_total) {
			x->terminated = 1; /* it printed too much */
			break;
		}
	}
	close_if(&rd);
	/* its output is over; it must also end before the deadline */
	while (!x->timed_out && !x->terminated) {
		pid_t w = waitpid(pid, &status, WNOHANG);
		if (w == pid) {
			reaped = 1;
			break;
		}
		if (w < 0 && errno != EINTR) {
			x->lost = reaped = 1;
			break;
		}
		if (util_now_ms() >= deadline) {
			x->timed_out = 1;
			break;
		}
		sleep_ms(10);
	}
	kill(-pid, SIGKILL); /* the group: whatever it left behind */
	while (!reaped) {
		pid_t w = waitpid(pid, &status, 0);
		if (w == pid || (w < 0 && errno != EINTR)) {
			x->lost = w < 0;
			reaped = 1;
		}
	}
	x->status = status;
	x->code = !x->lost && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	x->signo = !x->lost && WIFSIGNALED(status) ? WTERMSIG(status) : 0;
	x->ms = util_now_ms() - t0;
	return 0;
fail:
	close_if(&devnull);
	close_if(&w_out);
	close_if(&w_err);
	close_if(&rd);
	close_if(&st[0]);
	close_if(&st[1]);
	return -1;
}
