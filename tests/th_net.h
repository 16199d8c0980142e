/*
 * th_net.h: the network fixture of the C tests. Header only, 127.0.0.1 only.
 * - th_dead_port: a port nobody listens on (a refused connection).
 * - struct emu: tests/emulator.py started and stopped from a C test
 *   (emu_start, emu_start_key, emu_stop); it exits by itself after
 *   --idle-exit seconds without a request. emu_call/emu_get ask its /_emu/
 *   pages (stats, jobs, reset) through core/http, with a deadline.
 * - an engine on a config and store (th_engine_new, th_engine_drive), a job
 *   submitted (th_submit) and stepped until it ends (th_wait_job), every loop
 *   with a deadline.
 */
#ifndef SDQ_TH_NET_H
#define SDQ_TH_NET_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include "engine.h"
#include "http.h"
#include "job.h"
#include "store.h"
#include "util.h"

/* A port the kernel just gave out and that was closed again at once: a
 * connection to it is refused (unless something takes it in between). */
static inline int th_dead_port(void)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof sa;
	int s = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(s, (struct sockaddr *)&sa, sizeof sa);
	getsockname(s, (struct sockaddr *)&sa, &sl);
	close(s);
	return ntohs(sa.sin_port);
}

/* ---- the emulator ---- */

struct emu {
	pid_t pid;
	int port;
	char base[128]; /* http://127.0.0.1:PORT/v2/test */
	char root[64];  /* http://127.0.0.1:PORT */
};

/* Start the emulator taking API key key, with extra arguments
 * (NULL-terminated); 0 or -1. */
static inline int emu_start_key(struct emu *em, const char *key, const char *const *extra)
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
	argv[n++] = key;
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

/* Start the emulator with the tests' usual key, test-key-123. */
static inline int emu_start(struct emu *em, const char *const *extra)
{
	return emu_start_key(em, "test-key-123", extra);
}

static inline void emu_stop(struct emu *em)
{
	if (em->pid > 0) {
		kill(em->pid, SIGTERM);
		waitpid(em->pid, NULL, 0);
		em->pid = 0;
	}
}

struct th_got {
	int done;
	long status;
	char *body;
};

static inline void th_got_cb(struct http *h, const struct http_response *r, void *udata)
{
	struct th_got *g = udata;
	(void)h;
	g->done = 1;
	g->status = r->error ? -1 : r->status;
	g->body = strdup(r->body ? r->body : "");
}

/* method (NULL: GET) root+path of the emulator, at most 10 s: the HTTP
 * status (-1: no answer) and, when body is not NULL, the body (malloc'd,
 * NULL without an answer). */
static inline long emu_call(const struct emu *em, const char *path, const char *method,
                            char **body)
{
	struct http *h = http_new(NULL);
	struct http_request r;
	struct th_got g = {0, -1, NULL};
	char url[256];
	int64_t deadline = util_now_ms() + 10000;

	if (body)
		*body = NULL;
	if (!h)
		return -1;
	snprintf(url, sizeof url, "%s%s", em->root, path);
	memset(&r, 0, sizeof r);
	r.url = url;
	r.method = method;
	r.max_response = 16 << 20;
	http_request(h, &r, th_got_cb, &g, NULL);
	while (!g.done && util_now_ms() < deadline) {
		http_poll(h, NULL, 0, 200);
		http_perform(h);
	}
	http_free(h);
	if (body)
		*body = g.body;
	else
		free(g.body);
	return g.done ? g.status : -1;
}

/* The emulator's JSON answer to method root+path (NULL: none, or not JSON). */
static inline cJSON *emu_get(const struct emu *em, const char *path, const char *method)
{
	char *body = NULL;
	cJSON *root;

	emu_call(em, path, method, &body);
	root = body ? cJSON_Parse(body) : NULL;
	free(body);
	return root;
}

/* ---- an engine against it ---- */

/* A new engine on cfg and st reporting to cb; exits the test (2) if none. */
static inline struct engine *th_engine_new(struct config *cfg, struct store *st, engine_cb cb,
                                           void *udata)
{
	char *err = NULL;
	struct engine *e = engine_new(cfg, st, &err);
	if (!e) {
		fprintf(stderr, "engine_new: %s\n", err ? err : "?");
		exit(2);
	}
	engine_set_callback(e, cb, udata);
	return e;
}

/* e becomes the driver (says so when it cannot). */
static inline void th_engine_drive(struct engine *e)
{
	if (engine_drive(e, 1) != 1)
		fprintf(stderr, "  could not become the driver\n");
}

/* Submit one job of count images (64x64, 4 steps) to endpoint; its id, or 0. */
static inline int64_t th_submit(struct engine *e, const char *endpoint, const char *prompt,
                                int count)
{
	struct job_params p;
	char *err = NULL;
	int64_t id;

	job_params_init(&p);
	p.prompt = strdup(prompt);
	p.endpoint = strdup(endpoint);
	p.width = 64;
	p.height = 64;
	p.count = count;
	p.steps = 4;
	id = engine_submit(e, &p, &err);
	if (!id)
		fprintf(stderr, "  submit: %s\n", err ? err : "?");
	free(err);
	job_params_clear(&p);
	return id;
}

/* Step e until job id is terminal (or in state until, if >= 0), at most
 * secs seconds. The store's copy (the caller frees it), or NULL. */
static inline struct job *th_wait_job(struct engine *e, struct store *st, int64_t id, int until,
                                      int secs)
{
	int64_t deadline = util_now_ms() + (int64_t)secs * 1000;
	struct job *j = NULL;

	for (;;) {
		j = store_job_get(st, id, NULL);
		if (j && (until >= 0 ? (int)j->state == until : job_state_is_terminal(j->state)))
			return j;
		if (util_now_ms() > deadline)
			return j;
		job_free(j);
		engine_step(e, 100);
	}
}

#endif
