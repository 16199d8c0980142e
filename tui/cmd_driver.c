/*
 * cmd_driver.c: sdq driver: take the driver role and move live jobs until
 * none remain (what a background driver runs); --status says whether one runs.
 */
#include "cmd_driver.h"

#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "cmd.h"
#include "cmd_run.h"
#include "config.h"
#include "engine.h"
#include "job.h"
#include "spawn.h"
#include "store.h"
#include "util.h"

/* ---------------------------------------------------------------- driver */

/* Log one line naming the live jobs the driver leaves behind because it
 * cannot drive them (it tracks them, yet drives none). Returns their number. */
static int64_t log_undrivable(struct cmd_run *r)
{
	struct store_query q;
	struct job **jobs = NULL;
	size_t n = 0, shown = 0;
	int64_t count = 0;
	char *err = NULL, line[1024];
	int len = 0;

	memset(&q, 0, sizeof q);
	q.live_only = 1;
	q.oldest_first = 1;
	if (store_job_list(r->st, &q, &jobs, &n, &err) < 0) {
		free(err);
		return 0;
	}
	line[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		char *ep;
		if (!engine_job(r->e, jobs[i]->id))
			continue; /* not seen yet: a new driver takes it */
		count++;
		if (shown >= 20 || len < 0 || (size_t)len >= sizeof line - 200)
			continue;
		ep = cmd_clean(jobs[i]->endpoint ? jobs[i]->endpoint : "?");
		len += snprintf(line + len, sizeof line - (size_t)len, "%s%lld (%s)",
		                shown ? ", " : "", (long long)jobs[i]->id, ep ? ep : "?");
		free(ep);
		shown++;
	}
	store_jobs_free(jobs, n);
	if (count > 0) {
		char t[40];
		fprintf(stderr,
		        "%s driver: %lld live job%s left for a driver whose config has %s "
		        "endpoint: %s%s\n",
		        job_iso8601(job_now_ms(), t, sizeof t), (long long)count,
		        count == 1 ? "" : "s", count == 1 ? "its" : "their", line,
		        (int64_t)shown < count ? ", ..." : "");
	}
	return count;
}

/* driver --status: one line per API key lock a process holds (each key's
 * driver, with its pid, also while it lingers with no jobs left), then one
 * per key that live jobs are sent with and no process holds. The locks are
 * the files "<history>.lock-<fingerprint>" beside the history
 * (store_lock_key). */
static void key_drivers_status(struct config *cfg, struct store *st)
{
	struct store_query q;
	struct job **jobs = NULL;
	size_t n = 0, plen;
	char *dir, *base, *slash;
	DIR *d;
	struct dirent *de;

	memset(&q, 0, sizeof q);
	q.live_only = 1;
	if (store_job_list(st, &q, &jobs, &n, NULL) < 0)
		n = 0;
	if (cfg->db_path && (dir = strdup(cfg->db_path))) {
		slash = strrchr(dir, '/');
		base = slash ? slash + 1 : dir;
		if (slash)
			*slash = '\0';
		plen = strlen(base);
		if ((d = opendir(slash ? (*dir ? dir : "/") : "."))) {
			while ((de = readdir(d))) {
				const char *fp = de->d_name + plen + 6;
				int count = 0;
				long kp;
				if (strncmp(de->d_name, base, plen) != 0 ||
				    strncmp(de->d_name + plen, ".lock-", 6) != 0 ||
				    !(kp = store_key_driver_pid(st, fp)))
					continue;
				for (size_t k = 0; k < n; k++)
					count += jobs[k]->key_fp && strcmp(jobs[k]->key_fp, fp) == 0;
				if (count)
					printf("key %s: driver pid %ld, %d live job%s\n", fp, kp, count,
					       count == 1 ? "" : "s");
				else
					printf("key %s: driver pid %ld, no live jobs (it exits once its "
					       "linger time is over)\n",
					       fp, kp);
			}
			closedir(d);
		}
		free(dir);
	}
	for (size_t i = 0; i < n; i++) {
		const char *fp = jobs[i]->key_fp;
		int seen = 0, count = 0;
		if (!fp || store_key_driver_pid(st, fp))
			continue; /* listed above */
		for (size_t k = 0; k < i && !seen; k++)
			seen = jobs[k]->key_fp && strcmp(jobs[k]->key_fp, fp) == 0;
		if (seen)
			continue;
		for (size_t k = i; k < n; k++)
			count += jobs[k]->key_fp && strcmp(jobs[k]->key_fp, fp) == 0;
		printf("key %s: no driver holds this API key, %d live job%s wait for one: "
		       "run sdq with that key\n",
		       fp, count, count == 1 ? "" : "s");
	}
	store_jobs_free(jobs, n);
}

int cmd_driver_run(struct config *cfg, int argc, char **argv)
{
	static const struct option lo[] = {{"status", no_argument, 0, 's'},
	                                   {"linger", required_argument, 0, 'l'},
	                                   {"service", no_argument, 0, 'S'},
	                                   {"help", no_argument, 0, 'h'},
	                                   {0, 0, 0, 0}};
	struct store_query q;
	struct cmd_run r;
	int c, status = 0;
	double linger_s = 3;
	int64_t idle_since = 0;
	struct stat db0;
	int gone = 0, service = 0, was_driver = 0, failed = 0;
	int64_t undrivable = 0;
	long pid;

	if (cmd_help_opt("driver", argc, argv))
		return 0;
	cmd_opt_reset();
	while ((c = cmd_next_opt("driver", argc, argv, ":", lo)) != -1) {
		if (c == 's') {
			status = 1;
		} else if (c == 'S') {
			service = 1;
		} else if (c == 'l') {
			if (cmd_parse_double(optarg, &linger_s) < 0 || linger_s < 0)
				return cmd_usage_error("driver", "--linger needs seconds");
		} else {
			return 2;
		}
	}
	if (optind < argc)
		return cmd_usage_error("driver", "unexpected argument '%s'", argv[optind]);
	memset(&q, 0, sizeof q);
	q.live_only = 1;
	if (status) {
		struct store *st = cmd_open_store(cfg, "driver");
		int64_t live;
		if (!st)
			return 1;
		pid = store_driver_pid(st);
		live = store_job_count(st, &q, NULL);
		if (pid)
			printf("driver running, pid %ld, %lld live jobs\n", pid, (long long)live);
		else
			printf("no driver running, %lld live jobs\n", (long long)live);
		key_drivers_status(cfg, st);
		store_close(st);
		return pid ? 0 : 1;
	}
	if (cmd_run_open(&r, cfg, "driver", 1) < 0)
		return 1;
	r.log = 1;
	if (!engine_is_driver(r.e) && !service) {
		pid = store_driver_pid(r.st);
		fprintf(stderr, "sdq: driver: another sdq drives the jobs (pid %ld)\n", pid);
		cmd_run_close(&r, 0);
		return 0;
	}
	{
		char t[40];
		fprintf(stderr, "%s driver started, pid %ld%s\n",
		        job_iso8601(job_now_ms(), t, sizeof t), (long)getpid(),
		        !service                ? ""
		        : engine_is_driver(r.e) ? " (service)"
		                                : " (service; another sdq drives for now: waiting "
		                                  "for its lock)");
	}
	if (stat(cfg->db_path, &db0) < 0)
		memset(&db0, 0, sizeof db0);
	for (;;) {
		int64_t now = util_now_ms();
		if (r.signo)
			break;
		if (service) {
			/* A service never leaves on its own: it waits for the
			 * lock while another process drives, and for new jobs
			 * while there are none. */
			if (engine_is_driver(r.e) != was_driver) {
				char t[40];
				was_driver = engine_is_driver(r.e);
				fprintf(stderr, "%s %s\n", job_iso8601(job_now_ms(), t, sizeof t),
				        was_driver ? "driving" : "another sdq drives: waiting");
			}
		} else if (!engine_is_driver(r.e)) {
			break;
		}
		/* A history file deleted or replaced under us (a removed test or
		 * demo directory) has no one left to serve: stop. Looked at on
		 * every pass (a pass comes with every change, the deletion
		 * included: the engine's dbwatch), so the loop below can sleep
		 * while nothing is due. */
		{
			struct stat sb;
			if (stat(cfg->db_path, &sb) < 0 || sb.st_ino != db0.st_ino ||
			    sb.st_dev != db0.st_dev) {
				gone = 1;
				break;
			}
		}
		/* Live jobs it cannot drive (their endpoint is not in this
		 * config) do not keep it alive: they wait for a driver that can.
		 * A key command still running does: its jobs may be ours. */
		if (service || engine_driving_count(r.e) > 0 || engine_keys_pending(r.e) > 0) {
			idle_since = 0;
		} else if (!idle_since) {
			idle_since = now;
		} else if (now - idle_since >= (int64_t)(linger_s * 1000)) {
			undrivable = log_undrivable(&r);
			break;
		}
		if (engine_step(r.e, idle_since ? 500 : -1) < 0) {
			failed = 1;
			break;
		}
	}
	{
		char t[40];
		fprintf(stderr, "%s driver exits%s\n", job_iso8601(job_now_ms(), t, sizeof t),
		        r.signo      ? " on a signal"
		        : gone       ? ": the history file was removed"
		        : failed     ? ": the event loop failed"
		        : undrivable ? ", nothing it can drive"
		                     : ", no live jobs");
	}
	if (service) {
		/* under a service manager: 0 when stopped, 1 (restart me) on
		 * anything else */
		cmd_run_close(&r, 0);
		return r.signo ? 0 : 1;
	}
	/* A job submitted while this driver was on its way out saw a driver and
	 * started none: hand it to a new one once the lock is free (not for the
	 * jobs it could not drive itself: a new driver of the same config could
	 * not either, and would only be started again and again). */
	if (undrivable > 0 && !r.signo && !gone) {
		cmd_run_status_clear(&r);
		engine_free(r.e);
		r.e = NULL;
		spawn_ensure_driver(cfg, r.st, undrivable);
		cmd_run_close(&r, 0);
		return 0;
	}
	cmd_run_close(&r, !r.signo && !gone && !failed);
	return failed ? 1 : 0;
}
