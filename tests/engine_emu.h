/*
 * engine_emu.h: start and stop tests/emulator.py from a C test (used by the http,
 * engine and runpod tests). The emulator listens on 127.0.0.1 only and exits
 * by itself after --idle-exit seconds without a request.
 */
#ifndef SDQ_TEST_ENGINE_EMU_H
#define SDQ_TEST_ENGINE_EMU_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct emu {
	pid_t pid;
	int port;
	char base[128]; /* http://127.0.0.1:PORT/v2/test */
	char root[64];  /* http://127.0.0.1:PORT */
};

/* Start the emulator with extra arguments (NULL-terminated); 0 or -1. */
static inline int emu_start(struct emu *em, const char *const *extra)
{
	const char *dir = getenv("SDQ_TESTS_DIR");
	char path[1024];
	const char *argv[64];
	int n = 0, fds[2];
	FILE *f;
	char line[128];

	snprintf(path, sizeof path, "%s/emulator.py", dir && *dir ? dir : "tests");
	argv[n++] = "/usr/bin/python3";
	argv[n++] = path;
	argv[n++] = "--port";
	argv[n++] = "0";
	argv[n++] = "--key";
	argv[n++] = "test-key-123";
	argv[n++] = "--idle-exit";
	argv[n++] = "60";
	argv[n++] = "--max-lifetime";
	argv[n++] = "600";
	argv[n++] = "--quiet";
	for (int i = 0; extra && extra[i] && n < 62; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	if (pipe(fds) < 0)
		return -1;
	em->pid = fork();
	if (em->pid < 0)
		return -1;
	if (em->pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	f = fdopen(fds[0], "r");
	em->port = 0;
	while (f && fgets(line, sizeof line, f)) {
		if (sscanf(line, "PORT %d", &em->port) == 1)
			break;
	}
	if (f)
		fclose(f);
	if (em->port <= 0) {
		kill(em->pid, SIGKILL);
		waitpid(em->pid, NULL, 0);
		return -1;
	}
	snprintf(em->root, sizeof em->root, "http://127.0.0.1:%d", em->port);
	snprintf(em->base, sizeof em->base, "http://127.0.0.1:%d/v2/test", em->port);
	return 0;
}

static inline void emu_stop(struct emu *em)
{
	if (em->pid > 0) {
		kill(em->pid, SIGTERM);
		waitpid(em->pid, NULL, 0);
		em->pid = 0;
	}
}

#endif
