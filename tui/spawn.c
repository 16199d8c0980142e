/*
 * spawn.c: start `sdq driver` detached (core/child.c:child_spawn_detached: a
 * new session, output to driver.log in the data dir) so live jobs keep
 * moving with no sdq open.
 */
#include "spawn.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "backend.h"
#include "child.h"
#include "config.h"
#include "engine.h"
#include "job.h"
#include "store.h"
#include "util.h"

int spawn_driver(struct config *cfg)
{
	static char *const argv[] = {"sdq", "driver", NULL};
	struct child_opts o;
	char path[PATH_MAX], *err = NULL;
	int logfd = -1, rc;

	if (cfg->data_dir && config_mkdirs(cfg->data_dir, 0700) == 0 &&
	    snprintf(path, sizeof path, "%s/driver.log", cfg->data_dir) < (int)sizeof path) {
		struct stat sb;
		int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC;
		/* Keep the log small: start afresh past 1 MiB. */
		if (stat(path, &sb) == 0 && sb.st_size > (1 << 20))
			flags |= O_TRUNC;
		logfd = open(path, flags, 0600);
	}
	/* core/child: a new session, no shell, every fd but 0-2 closed (the
	 * driver lock above all), output to the log */
	memset(&o, 0, sizeof o);
	o.argv = argv;
	o.file = "/proc/self/exe";
	o.out = o.err = logfd >= 0 ? CHILD_IO_FD : CHILD_IO_NULL;
	o.out_fd = o.err_fd = logfd;
	rc = child_spawn_detached(&o, &err);
	free(err); /* the callers say what it means */
	if (logfd >= 0)
		close(logfd);
	return rc;
}

/* Hand live jobs to a detached driver when none runs (and the config allows
 * it), if there are more than `undrivable` (jobs the caller knows no driver of
 * this config can take). Called with the engine closed, so the lock is free. */
void spawn_ensure_driver(struct config *cfg, struct store *st, int64_t undrivable)
{
	/* jobs of the main lock with no driver, or of a key of ours whose
	 * driver is gone (a driver per key: engine.h) */
	if (!cfg->background_driver || !engine_driver_needed(cfg, st, undrivable))
		return;
	if (spawn_driver(cfg) < 0)
		fprintf(stderr, "sdq: could not start a background driver: jobs move on when "
		                "sdq runs again (sdq driver)\n");
}

/* Could a driver of cfg take live job j? Its endpoint is in the config, or
 * it knows the RunPod URL it was sent to (backends.c backend_by_url). */
static int drivable(const struct config *cfg, const struct job *j)
{
	const char *name = j->endpoint ? j->endpoint : j->params.endpoint;
	for (size_t i = 0; name && i < cfg->n_endpoints; i++)
		if (cfg->endpoints[i].name && strcmp(cfg->endpoints[i].name, name) == 0)
			return 1;
	return j->endpoint_url &&
	       (!j->backend || (backend_kind_caps(j->backend) & BACKEND_FOLLOW_BY_URL)) &&
	       (strncmp(j->endpoint_url, "http://", 7) == 0 ||
	        strncmp(j->endpoint_url, "https://", 8) == 0);
}

int spawn_revive_driver(struct config *cfg, const char *cmd, int say)
{
	struct store_query q;
	struct store *st;
	struct job **jobs = NULL;
	size_t n = 0;
	long live = 0, can = 0;
	int rc = 0;

	if (!cfg || !cfg->db_path || access(cfg->db_path, F_OK) < 0)
		return 0; /* no history yet: no job */
	if (!(st = store_open(cfg->db_path, NULL)))
		return 0; /* the command itself reports it */
	memset(&q, 0, sizeof q);
	q.live_only = 1;
	if (store_driver_pid(st) != 0 || store_job_list(st, &q, &jobs, &n, NULL) < 0) {
		store_close(st);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		live++;
		can += drivable(cfg, jobs[i]);
	}
	store_jobs_free(jobs, n);
	if (can == 0) {
		store_close(st);
		return 0;
	}
	if (!cfg->background_driver) {
		if (say)
			fprintf(stderr,
			        "sdq: %s: %ld live job%s and no driver: they move on when `sdq "
			        "driver` runs (background_driver = false)\n",
			        cmd, live, live == 1 ? "" : "s");
	} else if (spawn_driver(cfg) < 0) {
		rc = -1;
		fprintf(stderr, "sdq: %s: %ld live job%s and no driver, and a background driver "
		                "could not be started (run sdq driver)\n",
		        cmd, live, live == 1 ? "" : "s");
	} else {
		/* let it take the lock, so what the command shows next (and
		 * the next command) sees it: at most 3 s */
		for (int i = 0; i < 150 && store_driver_pid(st) == 0; i++) {
			struct timespec ts = {0, 20 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
		rc = 1;
		if (say)
			fprintf(stderr,
			        "sdq: %s: %ld live job%s had no driver (it was stopped or killed): "
			        "started one in the background\n",
			        cmd, live, live == 1 ? "" : "s");
	}
	store_close(st);
	return rc;
}
