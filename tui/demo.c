/*
 * demo.c: sdq demo: start the local endpoint emulator, write a config for it
 * in a fresh data directory, run sdq (or one command) against it, clean up.
 */
#include "demo.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include "cli.h"
#include "cmd.h"
#include "engine.h"
#include "spawn.h"
#include "util.h"

/* ------------------------------------------------------------------ demo */

/* The emulator script: $SDQ_EMULATOR, else next to the executable (build
 * tree or installed). Malloc'd, or NULL. */
static char *find_emulator(void)
{
	const char *env = getenv("SDQ_EMULATOR");
	static const char *const rel[] = {"/../tests/emulator.py", "/../../tests/emulator.py",
	                                  "/../share/sdq/emulator.py", "/tests/emulator.py"};
	char exe[PATH_MAX], path[PATH_MAX * 2], *slash;
	ssize_t n;

	if (env && *env)
		return access(env, R_OK) == 0 ? strdup(env) : NULL;
	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	if (!(slash = strrchr(exe, '/')))
		return NULL;
	*slash = '\0';
	for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
		char *real;
		snprintf(path, sizeof path, "%s%s", exe, rel[i]);
		if (access(path, R_OK) == 0 && (real = realpath(path, NULL)))
			return real;
	}
	return NULL;
}

/* Start the emulator; read "PORT n" from its stdout. Returns its pid (and
 * *port), or -1 after printing an error. */
static pid_t start_emulator(const char *script, int *port)
{
	int fds[2];
	pid_t pid;
	char buf[256];
	size_t len = 0;
	int64_t start;

	if (pipe(fds) < 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		dup2(fds[1], STDOUT_FILENO);
		if (null >= 0) {
			dup2(null, STDIN_FILENO);
			if (!getenv("SDQ_DEMO_DEBUG"))
				dup2(null, STDERR_FILENO);
		}
		util_close_fds(3, -1);
		/* pictures of a sensible size (the emulator's default is a
		 * 64x64 stamp for fast tests), unless the job asks for one */
		execl("/usr/bin/python3", "python3", script, "--port", "0", "--key", "demo-key",
		      "--endpoint", "test", "--idle-exit", "3600", "--max-lifetime", "86400",
		      "--image-size", "512x512", "--quiet", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	start = util_now_ms();
	*port = 0;
	while (util_now_ms() - start < 10000 && len < sizeof buf - 1) {
		struct pollfd pfd = {fds[0], POLLIN, 0};
		ssize_t n;
		char *nl;
		if (poll(&pfd, 1, 200) <= 0)
			continue;
		n = read(fds[0], buf + len, sizeof buf - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		if ((nl = strstr(buf, "PORT ")) && strchr(nl, '\n')) {
			*port = atoi(nl + 5);
			break;
		}
	}
	close(fds[0]);
	if (*port <= 0) {
		fprintf(stderr,
		        "sdq: demo: the emulator did not start (python3 %s): run it by hand "
		        "to see why\n",
		        script);
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
		return -1;
	}
	return pid;
}

/* ------------------------------------------------------------- lifetime */

/* A demo owns everything it starts: the emulator, the command (or dashboard)
 * and the directory. Its directory holds demo.lock, locked (flock) for as long
 * as the demo runs, so that a directory whose lock is free belongs to a demo
 * that died without cleaning up (SIGKILL, a power cut) and the next demo may
 * remove it. Inside a demo no background driver is started (the config says
 * background_driver = false): the dashboard or the command drives the jobs,
 * and what is still live when it ends ends with the demo. */

static volatile sig_atomic_t demo_signo;

static void demo_on_signal(int signo)
{
	demo_signo = signo;
}

/* Catch (or, with on == 0, restore) SIGHUP and SIGTERM, without SA_RESTART so
 * that waitpid() returns to look at demo_signo. */
static void demo_signals(int on, struct sigaction *old_hup, struct sigaction *old_term)
{
	struct sigaction sa;
	if (!on) {
		sigaction(SIGHUP, old_hup, NULL);
		sigaction(SIGTERM, old_term, NULL);
		return;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = demo_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGHUP, &sa, old_hup);
	sigaction(SIGTERM, &sa, old_term);
}

/* 1 when the demo directory dir is in use (its lock is held), 0 when its
 * demo is gone, -1 when it is not a demo directory (no demo.lock). */
static int demo_dir_alive(const char *dir)
{
	char path[PATH_MAX + 16];
	int fd, alive;
	snprintf(path, sizeof path, "%s/demo.lock", dir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	alive = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	close(fd);
	return alive;
}

/* Remove the directories of demos of this user that died without cleaning
 * up (their lock is free). One younger than 10 s may be a demo starting up
 * that has not taken its lock yet: left alone. */
static void demo_sweep(const char *base)
{
	char prefix[64], path[PATH_MAX];
	DIR *d = opendir(base);
	struct dirent *de;
	if (!d)
		return;
	snprintf(prefix, sizeof prefix, "sdq-demo-%ld-", (long)getuid());
	while ((de = readdir(d))) {
		struct stat sb;
		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
			continue;
		if (snprintf(path, sizeof path, "%s/%s", base, de->d_name) >= (int)sizeof path)
			continue;
		if (lstat(path, &sb) < 0 || !S_ISDIR(sb.st_mode) || sb.st_uid != getuid() ||
		    time(NULL) - sb.st_mtime < 10)
			continue;
		if (demo_dir_alive(path) == 0)
			util_remove_tree(path);
	}
	closedir(d);
}

/* Wait for child, forwarding SIGHUP/SIGTERM to it (then SIGKILL when it has
 * not gone 5 s later), and noticing the emulator's end (*emu set to -1, its
 * status in *emu_status; the child is then asked to stop). Returns the
 * child's wait status. */
static int demo_wait(pid_t child, pid_t *emu, int *emu_status)
{
	int status = 0, forwarded = 0;
	int64_t kill_at = 0;
	for (;;) {
		pid_t w = waitpid(-1, &status, kill_at ? WNOHANG : 0);
		if (w == child)
			return status;
		if (w > 0 && w == *emu) {
			*emu = -1;
			*emu_status = status;
			if (!forwarded) {
				kill(child, SIGTERM);
				forwarded = 1;
				kill_at = util_now_ms() + 5000;
			}
			continue;
		}
		if (w < 0 && errno != EINTR)
			return 0; /* no child left: cannot happen */
		if (demo_signo && !forwarded) {
			kill(child, demo_signo);
			forwarded = 1;
			kill_at = util_now_ms() + 5000;
		}
		if (kill_at) {
			if (util_now_ms() >= kill_at) {
				kill(child, SIGKILL);
				kill_at = 0;
			} else {
				struct timespec ts = {0, 50 * 1000 * 1000};
				nanosleep(&ts, NULL);
			}
		}
	}
}

/* Run `sdq ARGS...` as a child of the demo (its own signals back to the
 * defaults, ended with the demo if the demo dies). Returns its pid, or -1. */
static pid_t demo_spawn(char **av, const struct sigaction *old_int,
                        const struct sigaction *old_quit, const struct sigaction *old_hup,
                        const struct sigaction *old_term)
{
	pid_t pid = fork();
	if (pid == 0) {
		sigaction(SIGINT, old_int, NULL);
		sigaction(SIGQUIT, old_quit, NULL);
		sigaction(SIGHUP, old_hup, NULL);
		sigaction(SIGTERM, old_term, NULL);
		prctl(PR_SET_PDEATHSIG, SIGHUP);
		execv("/proc/self/exe", av);
		_exit(127);
	}
	return pid;
}

/* The ids of the demo's live jobs as "sdq wait ID..." arguments (malloc'd,
 * NULL-terminated), or NULL when there are none. *n is their count. */
static char **demo_live_jobs(const char *dir, size_t *n)
{
	char db[PATH_MAX + 16];
	struct store *st;
	struct store_query q;
	struct job **jobs = NULL;
	char **av = NULL;
	*n = 0;
	snprintf(db, sizeof db, "%s/history.db", dir);
	if (access(db, F_OK) != 0 || !(st = store_open(db, NULL)))
		return NULL;
	memset(&q, 0, sizeof q);
	q.live_only = 1;
	q.oldest_first = 1;
	if (store_job_list(st, &q, &jobs, n, NULL) == 0 && *n > 0 &&
	    (av = calloc(*n + 3, sizeof *av))) {
		av[0] = strdup("sdq");
		av[1] = strdup("wait");
		for (size_t i = 0; i < *n; i++)
			av[i + 2] = util_asprintf("%lld", (long long)jobs[i]->id);
	}
	if (jobs)
		store_jobs_free(jobs, *n);
	store_close(st);
	return av;
}

static void demo_free_argv(char **av)
{
	for (size_t i = 0; av && av[i]; i++)
		free(av[i]);
	free(av);
}

/* Stop a driver someone started by hand inside the demo, and wait (5 s at
 * most) for it to go, so that the directory can be removed. */
static void demo_stop_driver(const char *dir)
{
	char db[PATH_MAX + 16];
	struct store *st;
	long dpid = 0;
	snprintf(db, sizeof db, "%s/history.db", dir);
	if (access(db, F_OK) != 0 || !(st = store_open(db, NULL)))
		return;
	dpid = store_driver_pid(st);
	store_close(st);
	if (dpid <= 0 || dpid == getpid())
		return;
	kill((pid_t)dpid, SIGTERM);
	for (int i = 0; i < 100 && kill((pid_t)dpid, 0) == 0; i++) {
		struct timespec ts = {0, 50 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
}

/* ---------------------------------------------------------- second shell */

/* The base directory demos go under. */
static const char *demo_base(void)
{
	const char *base = getenv("XDG_RUNTIME_DIR");
	return base && *base && access(base, W_OK) == 0 ? base : "/tmp";
}

/* The running demo to join: $SDQ_DEMO when it still runs, else the newest
 * running demo of this user under the base directory. Copies its directory
 * to dir; 0, or -1 when none runs. */
static int demo_find_running(char *dir, size_t size)
{
	const char *env = getenv("SDQ_DEMO");
	char prefix[64], path[PATH_MAX];
	time_t best = 0;
	DIR *d;
	struct dirent *de;
	int found = -1;

	if (env && *env && demo_dir_alive(env) == 1 && snprintf(dir, size, "%s", env) < (int)size)
		return 0;
	if (!(d = opendir(demo_base())))
		return -1;
	snprintf(prefix, sizeof prefix, "sdq-demo-%ld-", (long)getuid());
	while ((de = readdir(d))) {
		struct stat sb;
		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
			continue;
		if (snprintf(path, sizeof path, "%s/%s", demo_base(), de->d_name) >=
		        (int)sizeof path ||
		    lstat(path, &sb) < 0 || !S_ISDIR(sb.st_mode) || sb.st_uid != getuid())
			continue;
		if (demo_dir_alive(path) == 1 && (found < 0 || sb.st_mtime >= best) &&
		    snprintf(dir, size, "%s", path) < (int)size) {
			best = sb.st_mtime;
			found = 0;
		}
	}
	closedir(d);
	return found;
}

/* The demo's endpoint URL, from DIR/endpoint, into url. 0 or -1. */
static int demo_read_url(const char *dir, char *url, size_t size)
{
	char path[PATH_MAX + 16];
	FILE *f;
	int ok;
	snprintf(path, sizeof path, "%s/endpoint", dir);
	if (!(f = fopen(path, "r")))
		return -1;
	ok = fgets(url, (int)size, f) != NULL;
	fclose(f);
	url[ok ? strcspn(url, "\r\n") : 0] = '\0';
	return ok && strncmp(url, "http://127.0.0.1:", 17) == 0 ? 0 : -1;
}

/* Point this process's environment at the demo in dir (url its endpoint). */
static void demo_setenv(const char *dir, const char *url)
{
	char path[PATH_MAX + 16];
	snprintf(path, sizeof path, "%s/config", dir);
	/* A throwaway key for a local emulator: not a secret. */
	setenv("RUNPOD_API_KEY", "demo-key", 1);
	setenv("SDQ_ENDPOINT", url, 1);
	setenv("SDQ_DATA_DIR", dir, 1);
	setenv("SDQ_CONFIG", path, 1);
	setenv("SDQ_DEMO", dir, 1);
}

/* Print s single-quoted for a POSIX shell. */
static void demo_put_quoted(const char *s, FILE *out)
{
	fputc('\'', out);
	for (; *s; s++) {
		if (*s == '\'')
			fputs("'\\''", out);
		else
			fputc(*s, out);
	}
	fputc('\'', out);
}

/* sdq demo env: the shell lines that point a shell at the running demo. */
static int demo_env(void)
{
	static const char *const vars[] = {"SDQ_DEMO", "SDQ_ENDPOINT", "RUNPOD_API_KEY",
	                                   "SDQ_DATA_DIR", "SDQ_CONFIG"};
	char dir[PATH_MAX], url[128];
	if (demo_find_running(dir, sizeof dir) < 0 || demo_read_url(dir, url, sizeof url) < 0) {
		fprintf(stderr, "sdq demo: no demo is running: start one with sdq demo (in "
		                "another shell), then eval \"$(sdq demo env)\" here\n");
		return 1;
	}
	demo_setenv(dir, url);
	printf("# sdq demo in %s (the key is a throwaway one for the local emulator)\n", dir);
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
		printf("export %s=", vars[i]);
		demo_put_quoted(getenv(vars[i]), stdout);
		putchar('\n');
	}
	printf("# back to your own settings: unset SDQ_DEMO SDQ_ENDPOINT RUNPOD_API_KEY "
	       "SDQ_DATA_DIR SDQ_CONFIG\n");
	return 0;
}

int demo_joined_gone(void)
{
	const char *env = getenv("SDQ_DEMO");
	if (!env || !*env || demo_dir_alive(env) == 1)
		return 0;
	fprintf(stderr,
	        "sdq: the demo this shell joined (SDQ_DEMO=%s) has ended: start a new one with "
	        "sdq demo, or go back to your own settings with: unset SDQ_DEMO SDQ_ENDPOINT "
	        "RUNPOD_API_KEY SDQ_DATA_DIR SDQ_CONFIG\n",
	        env);
	return 1;
}

int demo_run(struct config *cfg, int argc, char **argv)
{
	char *script, dir[PATH_MAX], url[128], path[PATH_MAX + 16];
	const char *base;
	int keep = 0, port, status = 0, first = 1, rc, lockfd, emu_status = 0;
	pid_t emu, child;
	size_t nlive = 0;
	char **wait_av;
	struct sigaction ign, old_int, old_quit, old_hup, old_term;
	FILE *f;

	(void)cfg;
	for (; first < argc && argv[first][0] == '-'; first++) {
		if (strcmp(argv[first], "--keep") == 0) {
			keep = 1;
		} else if (strcmp(argv[first], "--help") == 0 || strcmp(argv[first], "-h") == 0) {
			cli_command_usage("demo", stdout);
			return 0;
		} else if (strcmp(argv[first], "--") == 0) {
			first++;
			break;
		} else {
			return cmd_usage_error("demo", "unknown option %s", argv[first]);
		}
	}
	/* `sdq demo env`, and a command while a demo runs: join that demo. */
	if (first < argc && strcmp(argv[first], "env") == 0) {
		if (keep || first + 1 < argc)
			return cmd_usage_error("demo", "env takes no options or arguments");
		return demo_env();
	}
	if (first < argc && demo_find_running(dir, sizeof dir) == 0 &&
	    demo_read_url(dir, url, sizeof url) == 0) {
		if (keep)
			fprintf(stderr, "sdq demo: --keep is for a new demo: the running one keeps "
			                "its own setting\n");
		fprintf(stderr, "sdq demo: joining the demo running in %s\n", dir);
		demo_setenv(dir, url);
		argv[first - 1] = "sdq";
		execv("/proc/self/exe", argv + first - 1);
		fprintf(stderr, "sdq demo: cannot run sdq: %s\n", strerror(errno));
		return 1;
	}
	if (!(script = find_emulator())) {
		fprintf(stderr, "sdq: demo: cannot find emulator.py: set SDQ_EMULATOR to its path "
		                "(it is tests/emulator.py in the source tree)\n");
		return 1;
	}
	base = demo_base();
	demo_sweep(base);
	snprintf(dir, sizeof dir, "%s/sdq-demo-%ld-XXXXXX", base, (long)getuid());
	if (!mkdtemp(dir)) {
		fprintf(stderr, "sdq: demo: cannot create a directory in %s: %s\n", base,
		        strerror(errno));
		free(script);
		return 1;
	}
	snprintf(path, sizeof path, "%s/demo.lock", dir);
	lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lockfd < 0 || flock(lockfd, LOCK_EX) < 0) {
		fprintf(stderr, "sdq: demo: cannot lock %s: %s\n", path, strerror(errno));
		if (lockfd >= 0)
			close(lockfd);
		util_remove_tree(dir);
		free(script);
		return 1;
	}
	/* From here on a SIGHUP (the terminal closed) or SIGTERM ends the demo
	 * through the cleanup below; Ctrl-C and Ctrl-\ are for the command. */
	demo_signo = 0;
	demo_signals(1, &old_hup, &old_term);
	memset(&ign, 0, sizeof ign);
	ign.sa_handler = SIG_IGN;
	sigaction(SIGINT, &ign, &old_int);
	sigaction(SIGQUIT, &ign, &old_quit);
	emu = start_emulator(script, &port);
	free(script);
	if (emu < 0) {
		rc = 1;
		goto out;
	}
	snprintf(url, sizeof url, "http://127.0.0.1:%d/v2/test", port);
	/* The demo's own config: its jobs are driven by the dashboard or the
	 * command, never by a detached driver that would outlive the demo. */
	snprintf(path, sizeof path, "%s/config", dir);
	if ((f = fopen(path, "w"))) {
		fputs("# written by sdq demo\n[core]\n    background_driver = false\n", f);
		fclose(f);
	}
	snprintf(path, sizeof path, "%s/endpoint", dir);
	if ((f = fopen(path, "w"))) {
		fprintf(f, "%s\n", url);
		fclose(f);
	}
	demo_setenv(dir, url);
	fprintf(stderr, "sdq demo: emulator on 127.0.0.1:%d, data in %s\n", port, dir);
	if (first == argc)
		fprintf(stderr, "sdq demo: from another shell: eval \"$(sdq demo env)\" (or sdq "
		                "demo submit -p PROMPT) joins this demo\n");

	{
		char **av = calloc((size_t)(argc - first) + 2, sizeof *av);
		child = -1;
		if (av && !demo_signo) {
			av[0] = "sdq";
			for (int i = first; i < argc; i++)
				av[i - first + 1] = argv[i];
			child = demo_spawn(av, &old_int, &old_quit, &old_hup, &old_term);
		}
		free(av);
	}
	status = child > 0 ? demo_wait(child, &emu, &emu_status) : 0;
	rc = child < 0 ? 1 : WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);

	/* Jobs still live: a one-shot command (sdq demo submit without --wait)
	 * gets its jobs finished before the emulator goes; the dashboard's end
	 * with it. */
	wait_av = demo_live_jobs(dir, &nlive);
	if (wait_av && first < argc && rc == 0 && emu > 0 && !demo_signo) {
		fprintf(stderr,
		        "sdq demo: waiting for %zu live job%s: the demo's emulator stops with "
		        "this command (sdq demo in another shell keeps one running)\n",
		        nlive, nlive == 1 ? "" : "s");
		child = demo_spawn(wait_av, &old_int, &old_quit, &old_hup, &old_term);
		status = child > 0 ? demo_wait(child, &emu, &emu_status) : 0;
		rc = child < 0           ? 1
		     : WIFEXITED(status) ? WEXITSTATUS(status)
		                         : 128 + WTERMSIG(status);
		demo_free_argv(wait_av);
		wait_av = demo_live_jobs(dir, &nlive);
	}
	if (wait_av)
		fprintf(stderr, "sdq demo: %zu live job%s end%s with the demo\n", nlive,
		        nlive == 1 ? "" : "s", nlive == 1 ? "s" : "");
	demo_free_argv(wait_av);
	demo_stop_driver(dir);
	if (emu > 0) {
		kill(emu, SIGTERM);
		while (waitpid(emu, NULL, 0) < 0 && errno == EINTR)
			;
	} else {
		fprintf(stderr, "sdq demo: the emulator stopped (%s %d), so the demo ended\n",
		        WIFSIGNALED(emu_status) ? "signal" : "exit status",
		        WIFSIGNALED(emu_status) ? WTERMSIG(emu_status) : WEXITSTATUS(emu_status));
		if (rc == 0)
			rc = 1;
	}
out:
	if (keep) {
		snprintf(path, sizeof path, "%s/demo.lock", dir);
		unlink(path); /* a kept directory is not swept by the next demo */
		fprintf(stderr, "sdq demo: kept %s (SDQ_DATA_DIR=%s sdq ls)\n", dir, dir);
	} else if (util_remove_tree(dir) < 0) {
		fprintf(stderr, "sdq demo: could not remove %s: %s\n", dir, strerror(errno));
	} else if (first < argc) {
		fprintf(stderr, "sdq demo: removed %s (sdq demo --keep keeps it)\n", dir);
	}
	close(lockfd);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGQUIT, &old_quit, NULL);
	demo_signals(0, &old_hup, &old_term);
	if (demo_signo && rc < 128)
		rc = 128 + demo_signo;
	return rc;
}
