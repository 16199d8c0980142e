/*
 * demo.c: sdq demo: start the local endpoint emulator, write a config for it
 * in a fresh data directory, run sdq (or one command) against it, clean up.
 */
#include "demo.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
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
		execl("/usr/bin/python3", "python3", script, "--port", "0", "--key", "demo-key",
		      "--endpoint", "test", "--idle-exit", "3600", "--max-lifetime", "86400",
		      "--quiet", (char *)NULL);
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

int demo_run(struct config *cfg, int argc, char **argv)
{
	char *script, dir[PATH_MAX], url[128], cfgpath[PATH_MAX + 16];
	const char *base = getenv("XDG_RUNTIME_DIR");
	int keep = 0, port, status = 0, first = 1, rc;
	pid_t emu, child;
	struct sigaction ign, old_int, old_quit;

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
	if (!(script = find_emulator())) {
		fprintf(stderr, "sdq: demo: cannot find emulator.py: set SDQ_EMULATOR to its path "
		                "(it is tests/emulator.py in the source tree)\n");
		return 1;
	}
	if (!base || !*base || access(base, W_OK) != 0)
		base = "/tmp";
	snprintf(dir, sizeof dir, "%s/sdq-demo-%ld-XXXXXX", base, (long)getuid());
	if (!mkdtemp(dir)) {
		fprintf(stderr, "sdq: demo: cannot create a directory in %s: %s\n", base,
		        strerror(errno));
		free(script);
		return 1;
	}
	if ((emu = start_emulator(script, &port)) < 0) {
		free(script);
		util_remove_tree(dir);
		return 1;
	}
	free(script);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/v2/test", port);
	snprintf(cfgpath, sizeof cfgpath, "%s/config", dir);
	/* A throwaway key for a local emulator: not a secret. */
	setenv("RUNPOD_API_KEY", "demo-key", 1);
	setenv("SDQ_ENDPOINT", url, 1);
	setenv("SDQ_DATA_DIR", dir, 1);
	setenv("SDQ_CONFIG", cfgpath, 1); /* does not exist: the user's config is not used */
	fprintf(stderr, "sdq demo: emulator on 127.0.0.1:%d, data in %s\n", port, dir);

	memset(&ign, 0, sizeof ign);
	ign.sa_handler = SIG_IGN;
	sigaction(SIGINT, &ign, &old_int);
	sigaction(SIGQUIT, &ign, &old_quit);
	child = fork();
	if (child == 0) {
		char **av = calloc((size_t)(argc - first) + 2, sizeof *av);
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGQUIT, &old_quit, NULL);
		if (!av)
			_exit(127);
		av[0] = "sdq";
		for (int i = first; i < argc; i++)
			av[i - first + 1] = argv[i];
		execv("/proc/self/exe", av);
		_exit(127);
	}
	if (child > 0)
		while (waitpid(child, &status, 0) < 0 && errno == EINTR)
			;
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGQUIT, &old_quit, NULL);
	rc = child < 0 ? 1 : WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);

	/* A background driver started inside the demo works on the demo's data:
	 * stop it with the emulator. */
	{
		char db[PATH_MAX + 16];
		struct store *st;
		snprintf(db, sizeof db, "%s/history.db", dir);
		if (access(db, F_OK) == 0 && (st = store_open(db, NULL))) {
			long dpid = store_driver_pid(st);
			if (dpid > 0 && dpid != getpid())
				kill((pid_t)dpid, SIGTERM);
			store_close(st);
		}
	}
	kill(emu, SIGTERM);
	while (waitpid(emu, NULL, 0) < 0 && errno == EINTR)
		;
	if (keep) {
		fprintf(stderr, "sdq demo: kept %s (SDQ_DATA_DIR=%s sdq ls)\n", dir, dir);
	} else {
		util_remove_tree(dir);
		if (first < argc)
			fprintf(stderr, "sdq demo: removed %s (sdq demo --keep keeps it)\n", dir);
	}
	return rc;
}
