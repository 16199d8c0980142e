/*
 * child.h: every child process sdq starts goes through here (DESIGN.md "The
 * event loop", CONVENTIONS.md "Every child process goes through one module").
 *
 * A child is started from an argv, never through a shell, in its own process
 * group, with stdin on /dev/null and its stdout and stderr on non-blocking
 * pipes (or /dev/null, or an fd of the caller's). The engine's loop watches
 * the pipes (engine_watch_fd): output reaches the owner in chunks through
 * on_output as it arrives, and the end through on_exit, both called from
 * engine_step(), never from inside child_spawn() or a signal handler. Nothing
 * here blocks the loop except child_free() of a child still running (it waits
 * a bounded time for it to go).
 *
 * Limits: an optional time limit, after which the whole process group gets
 * SIGTERM and, grace_ms later, SIGKILL (child_exit.timed_out says so). A child
 * that exits while something in its group still holds the pipes open gets
 * the group killed after 2 s, so on_exit always comes. The process group is
 * also killed by child_free() and, as a last resort, when this process exits
 * (an atexit handler; a fork of this process that exits kills nothing).
 *
 * Reaping: the engine calls child_sigchld() when SIGCHLD arrives; each child
 * reaps only its own pid (never waitpid(-1)), so other code's children are
 * not stolen.
 *
 * Ownership: the caller owns the struct child from child_spawn() until
 * child_free(), which may be called at any time, including from inside the
 * child's own callbacks (the free then happens when the callback returns, and
 * no further callback is made). Pointers in struct child_opts are only read
 * during child_spawn(). Buffers passed to callbacks are borrowed for the call.
 */
#ifndef SDQ_CHILD_H
#define SDQ_CHILD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct engine;
struct child;

enum child_stream { CHILD_STDOUT = 0, CHILD_STDERR = 1 };

/* Where the child's stdout or stderr goes. */
enum child_io {
	CHILD_IO_PIPE = 0, /* a pipe read through the loop, delivered by on_output */
	CHILD_IO_NULL,     /* /dev/null */
	CHILD_IO_FD,       /* the caller's fd (out_fd / err_fd), e.g. a log file */
};

/* How a child ended; passed to on_exit. */
struct child_exit {
	int status;     /* the raw wait status (when !lost) */
	int lost;       /* reaped by someone else: status, code and signo unknown */
	int code;       /* exit code if it exited, else -1 */
	int signo;      /* the signal that killed it, else 0 */
	int timed_out;  /* the time limit passed and the group was killed */
	int terminated; /* child_terminate() or child_kill() was called */
	int64_t ms;     /* from spawn to the end (monotonic) */
};

/* Output arrived on stream s: n bytes at buf. buf == NULL (n 0) is the end
 * of that stream; every stream that is a pipe ends exactly once, before
 * on_exit. */
typedef void (*child_output_cb)(struct child *c, enum child_stream s, const char *buf,
                                size_t n, void *udata);
/* The child was reaped and its pipes are closed. Called once; no callback
 * follows it. The owner still calls child_free(). */
typedef void (*child_exit_cb)(struct child *c, const struct child_exit *x, void *udata);

struct child_opts {
	/* argv[0] is what is run: a name with a '/' as is, a bare name searched
	 * on PATH. file, if set, is run instead, with argv as given (e.g.
	 * "/proc/self/exe" with argv[0] "sdq"). argv is NULL-terminated. */
	char *const *argv;
	const char *file;
	const char *dir;      /* working directory, NULL: inherit */
	enum child_io out, err;
	int out_fd, err_fd;   /* for CHILD_IO_FD; borrowed (dup'ed into the child) */
	int timeout_ms;       /* > 0: time limit from the spawn */
	int grace_ms;         /* SIGTERM -> SIGKILL delay; <= 0: 3000 */
	int secret;           /* output is secret (a key): read buffers are wiped */
	int die_with_parent;  /* SIGKILL when sdq dies, even by kill -9
	                         (PR_SET_PDEATHSIG; its own children are reached
	                         only through the group kills above) */
	child_output_cb on_output; /* may be NULL (output is then dropped) */
	child_exit_cb on_exit;     /* may be NULL */
	void *udata;               /* passed to both */
};

/* Start a child watched by e's loop. The exec itself is checked: a program
 * that cannot be run (not found, not executable, bad dir) fails here with
 * *err "cannot run PROG: REASON" rather than as an exit status 127.
 * Returns the child, or NULL with *err. */
struct child *child_spawn(struct engine *e, const struct child_opts *o, char **err);

/* The child's pid, which is also its process group id. */
pid_t child_pid(const struct child *c);
/* 1 until on_exit has been called. */
int child_running(const struct child *c);

/* Ask it to end: SIGTERM to its process group now, SIGKILL grace_ms later.
 * Marks the exit as terminated. on_exit follows from the loop. */
void child_terminate(struct child *c);
/* SIGKILL to its process group now; on_exit follows from the loop. */
void child_kill(struct child *c);

/* Free c. If it still runs: SIGTERM to the group, up to grace_ms for it to
 * go (the only wait here), SIGKILL, reap. No callback is made. Accepts NULL. */
void child_free(struct child *c);

/* Reap every child that has exited (engine.c calls this on SIGCHLD). May call
 * on_exit callbacks. */
void child_sigchld(void);

/* "exited with status 1", "killed by signal 6 (SIGABRT)", "was stopped after
 * the time limit of 60 s", "ended (status lost)". Returns buf (always
 * NUL-terminated). */
char *child_exit_text(const struct child_exit *x, int timeout_ms, char *buf, size_t len);
/* "SIGABRT", ..., or "?" for a signal without a name here. Never NULL. */
const char *child_signal_name(int sig);

/* Run o->argv to its end with no loop, for a process that has none (a
 * command's own checks before it opens an engine): stdout into buf (the
 * first cap bytes are kept, *n of them; *total counts all it printed, and
 * past max_total (0: no cap) its group is killed, with x->terminated set),
 * stderr as o->err says (a pipe is taken as /dev/null), o->timeout_ms
 * enforced (x->timed_out), and its process group killed at the end whatever
 * happened. Never reads without poll() saying there is something, so it
 * blocks at most about timeout_ms. o->dir, o->file, o->secret,
 * o->die_with_parent are used; the callbacks are not. Returns 0 with *x,
 * or -1 with *err (it could not be run). */
int child_capture(const struct child_opts *o, char *buf, size_t cap, size_t *n,
                  size_t max_total, size_t *total, struct child_exit *x, char **err);

/* Start a detached program that outlives this process (the background
 * driver, an image viewer): double fork, a new session, stdin /dev/null,
 * stdout and stderr as o->out / o->err say (CHILD_IO_PIPE is taken as
 * CHILD_IO_NULL), every other fd closed, not watched, not waited for, not
 * killed. o->argv, o->file, o->dir are used; the rest is ignored. Returns 0
 * once the program was exec'd, or -1 with *err (it could not be run). */
int child_spawn_detached(const struct child_opts *o, char **err);

#endif
