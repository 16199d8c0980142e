/*
 * cmd_remote.c: the commands that ask the endpoint for something through the
 * engine: sdq cancel, retry, rerun, health and purge-queue.
 */
#include "cmd_remote.h"

#include <math.h>
#include <time.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "groupact.h"
#include "backend.h"
#include "cmd_run.h"
#include "config.h"
#include "engine.h"
#include "job.h"
#include "store.h"
#include "util.h"

/* cancel --group: the group's jobs still live, with one commit for all
 * (engine_cancel_many: a commit and a refused driver-lock try per job took
 * 19 s for 1430 jobs). 0, or -1 after saying what failed. */
static int cancel_group(struct cmd_run *r, const int64_t *ids, size_t n)
{
	int64_t *live = calloc(n ? n : 1, sizeof *live);
	size_t nlive = 0, done = 0;
	char *err = NULL;
	int rc = 0;
	if (!live) {
		cmd_errf("cancel", "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		struct job *j = cmd_run_current_job(r, ids[i]);
		if (j && job_state_is_live(j->state)) { /* one finished since: stays */
			live[nlive++] = ids[i];
			if (j->api && strcmp(j->api, "runpod-local") == 0 && j->state != JOB_PENDING)
				cmd_errf("cancel",
				         "job %lld: cancel is not supported by runpod-python's local test "
				         "API (no /cancel): sdq stops following the job, but its handler "
				         "may still run to the end",
				         (long long)ids[i]);
		}
		job_free(j);
	}
	if (engine_cancel_many(r->e, live, nlive, &done, &err) < 0) {
		char *c = cmd_clean(err ? err : "error");
		cmd_errf("cancel", "%s", c);
		free(c);
		rc = -1;
	}
	free(err);
	free(live);
	return rc;
}

int cmd_remote_cancel(struct config *cfg, int argc, char **argv)
{
	static const struct option lo[] = {{"group", required_argument, 0, 'g'},
	                                   {"help", no_argument, 0, 'h'},
	                                   {0, 0, 0, 0}};
	struct cmd_run r;
	struct job **jobs;
	int64_t *ids, gid = 0;
	size_t n;
	int rc = 0, c;
	const char *group = NULL;

	if (cmd_help_opt("cancel", argc, argv))
		return 0;
	cmd_opt_reset();
	while ((c = cmd_next_opt("cancel", argc, argv, ":", lo)) != -1) {
		if (c == 'g' && !cmd_parse_group(optarg))
			return cmd_usage_error("cancel", "--group needs a group number (sdq ls --groups)");
		else if (c == 'g')
			group = optarg;
		else
			return 2;
	}
	if (optind >= argc && !group)
		return cmd_usage_error("cancel", "which jobs? give one or more ids, or --group G");
	if (optind < argc && group)
		return cmd_usage_error("cancel", "give ids or --group G, not both");
	if (cmd_run_open(&r, cfg, "cancel", 1) < 0)
		return 1;
	r.quiet = 1;
	if (group) {
		/* the group's live jobs; the finished ones stay as they are */
		gid = cmd_find_group(r.st, group, "cancel");
		ids = gid ? cmd_group_jobs(r.st, gid, 1, "cancel", &n) : NULL;
		if (ids && n == 0) {
			cmd_errf("cancel", "group %lld has no live jobs", (long long)gid);
			free(ids);
			cmd_run_close(&r, 0);
			return 1;
		}
	} else {
		ids = cmd_find_jobs(r.st, argc, argv, optind, "cancel", &n);
	}
	if (!ids) {
		cmd_run_close(&r, 0);
		return 1;
	}
	if (!(jobs = calloc(n, sizeof *jobs))) {
		free(ids);
		cmd_run_close(&r, 1);
		return 1;
	}
	if (gid && cancel_group(&r, ids, n) < 0)
		rc = 1;
	for (size_t i = 0; i < n && !gid; i++) {
		char *err = NULL;
		struct job *j = cmd_run_current_job(&r, ids[i]);
		if (j && !job_state_is_live(j->state)) {
			cmd_errf("cancel", "job %lld is already %s", (long long)ids[i],
			         job_state_name(j->state));
			rc = 1;
		} else if (engine_cancel(r.e, ids[i], &err) < 0) {
			char *e = cmd_clean(err ? err : "error");
			cmd_errf("cancel", "job %lld: %s", (long long)ids[i], e);
			free(e);
			rc = 1;
		} else if (j && j->api && strcmp(j->api, "runpod-local") == 0 &&
		           j->state != JOB_PENDING) {
			cmd_errf("cancel",
			         "job %lld: cancel is not supported by runpod-python's local test API "
			         "(no /cancel): sdq stops following the job, but its handler may still "
			         "run to the end",
			         (long long)ids[i]);
		}
		free(err);
		job_free(j);
	}
	/* Give the driver (this one or another) a moment to carry it out. */
	cmd_run_until_done(&r, ids, jobs, n, 0, 10000);
	for (size_t i = 0; i < n; i++) {
		if (!jobs[i])
			continue;
		if (job_state_is_live(jobs[i]->state))
			printf("%lld cancel requested (%s)\n", (long long)ids[i],
			       job_state_name(jobs[i]->state));
		else
			printf("%lld %s\n", (long long)ids[i], job_state_name(jobs[i]->state));
		job_free(jobs[i]);
	}
	free(jobs);
	free(ids);
	cmd_run_close(&r, 1);
	return rc;
}

int cmd_remote_retry(struct config *cfg, int argc, char **argv)
{
	static const struct option lo[] = {{"wait", no_argument, 0, 'w'},
	                                   {"json", no_argument, 0, 'j'},
	                                   {"help", no_argument, 0, 'h'},
	                                   {0, 0, 0, 0}};
	struct cmd_run r;
	char *err = NULL;
	int c, wait = 0, json = 0;
	int64_t id;

	if (cmd_help_opt("retry", argc, argv))
		return 0;
	cmd_opt_reset();
	while ((c = cmd_next_opt("retry", argc, argv, ":wj", lo)) != -1) {
		if (c == 'w')
			wait = 1;
		else if (c == 'j')
			json = 1;
		else
			return 2;
	}
	if (argc - optind != 1)
		return cmd_usage_error("retry", "give one job id");
	if (cmd_run_open(&r, cfg, "retry", 1) < 0)
		return 1;
	if (!(id = cmd_find_job(r.st, argv[optind], "retry"))) {
		cmd_run_close(&r, 0);
		return 1;
	}
	/* A retry already under way (an earlier request this driver picked up
	 * when it started) is as good as a new one. */
	if (engine_retry(r.e, id, &err) < 0 && !engine_job(r.e, id)) {
		char *e = cmd_clean(err ? err : "error");
		cmd_errf("retry", "%s: for a new attempt use sdq rerun %lld", e, (long long)id);
		free(e);
		free(err);
		cmd_run_close(&r, 1);
		return 1;
	}
	free(err);
	if (wait) {
		r.retrying = 1;
		return cmd_run_wait_and_report(&r, &id, 1, json, 0);
	}
	/* Carry the request out now (or see the driver do it), so that the job
	 * is live again and a background driver follows it. */
	{
		struct job *j = NULL;
		r.retrying = 2;
		r.quiet = 1;
		c = cmd_run_until_done(&r, &id, &j, 1, 0, 30000);
		if (c == 0 && j && (j->state == JOB_FAILED || j->state == JOB_TIMED_OUT)) {
			cmd_errf("retry",
			         "job %lld: the endpoint did not retry it%s%s: sdq rerun %lld "
			         "makes a new attempt",
			         (long long)id, r.msg ? ": " : "", r.msg ? r.msg : "",
			         (long long)id);
			c = 1;
		} else if (c == 1) {
			printf("%lld retry requested\n", (long long)id);
			c = 0;
		} else if (c == 0) {
			printf("%lld\n", (long long)id);
		}
		job_free(j);
		cmd_run_close(&r, 1);
		return c ? 1 : 0;
	}
}

/* rerun --group: a new group with the same prompts and axes, each job of the
 * old one (still in the history) submitted again with its parameters, seed
 * and variant, in the same order. Prints the new ids (or a JSON list). */
static int rerun_group(struct config *cfg, const char *ref, int wait, int json)
{
	struct cmd_run r;
	int64_t gid, *ids = NULL;
	size_t made = 0;
	char *err = NULL;
	int rc = 1;

	if (cmd_run_open(&r, cfg, "rerun", wait) < 0)
		return 1;
	if (!(gid = cmd_find_group(r.st, ref, "rerun"))) {
		cmd_run_close(&r, 0);
		return 1;
	}
	/* the same as the dashboard's r on a group's row (groupact.h) */
	r.group = groupact_rerun(r.e, r.st, gid, &ids, &made, &err);
	int whole = err == NULL;
	if (err) {
		char *e = cmd_clean(err);
		cmd_errf("rerun", "%s", e);
		free(e);
		free(err);
	}
	if (!r.group) {
		cmd_run_close(&r, 0);
		return 1;
	}
	size_t n = made;
	if (!json || !wait) {
		if (json) {
			cJSON *arr = cJSON_CreateArray();
			for (size_t i = 0; arr && i < made; i++) {
				struct job *j = store_job_get(r.st, ids[i], NULL);
				if (j)
					cJSON_AddItemToArray(arr, cmd_job_json(j, NULL, 0));
				job_free(j);
			}
			cmd_json_print(arr);
		} else {
			for (size_t i = 0; i < made; i++)
				printf("%lld\n", (long long)ids[i]);
		}
		fflush(stdout);
	}
	if (made > 0 && !json)
		fprintf(stderr, "sdq: rerun: group %lld: %zu jobs (sdq ls --group %lld)\n",
		        (long long)r.group, made, (long long)r.group);
	if (whole && wait) {
		rc = cmd_run_wait_and_report(&r, ids, n, json, 0);
		free(ids);
		return rc;
	}
	rc = whole ? 0 : 1;
	cmd_run_close(&r, made > 0);
	free(ids);
	return rc;
}

int cmd_remote_rerun(struct config *cfg, int argc, char **argv)
{
	static const struct option lo[] = {{"wait", no_argument, 0, 'w'},
	                                   {"json", no_argument, 0, 'j'},
	                                   {"group", required_argument, 0, 'g'},
	                                   {"help", no_argument, 0, 'h'},
	                                   {0, 0, 0, 0}};
	struct cmd_run r;
	char *err = NULL;
	int c, wait = 0, json = 0;
	int64_t id, nid;
	const char *group = NULL;

	if (cmd_help_opt("rerun", argc, argv))
		return 0;
	cmd_opt_reset();
	while ((c = cmd_next_opt("rerun", argc, argv, ":wj", lo)) != -1) {
		if (c == 'w')
			wait = 1;
		else if (c == 'j')
			json = 1;
		else if (c == 'g' && !cmd_parse_group(optarg))
			return cmd_usage_error("rerun", "--group needs a group number (sdq ls --groups)");
		else if (c == 'g')
			group = optarg;
		else
			return 2;
	}
	if (group && argc - optind != 0)
		return cmd_usage_error("rerun", "give one job id or --group G, not both");
	if (group)
		return rerun_group(cfg, group, wait, json);
	if (argc - optind != 1)
		return cmd_usage_error("rerun", "give one job id (or --group G)");
	if (cmd_run_open(&r, cfg, "rerun", wait) < 0)
		return 1;
	if (!(id = cmd_find_job(r.st, argv[optind], "rerun"))) {
		cmd_run_close(&r, 0);
		return 1;
	}
	if (!(nid = engine_rerun(r.e, id, &err))) {
		cmd_errf_core("rerun", NULL, err);
		cmd_run_close(&r, 1);
		return 1;
	}
	if (!json || !wait) {
		if (json) {
			struct job *j = store_job_get(r.st, nid, NULL);
			if (j)
				cmd_json_print(cmd_job_json(j, NULL, 0));
			job_free(j);
		} else {
			printf("%lld\n", (long long)nid);
		}
		fflush(stdout);
	}
	if (wait)
		return cmd_run_wait_and_report(&r, &nid, 1, json, 0);
	cmd_run_close(&r, 1);
	return 0;
}
/* -------------------------------------------------------- health, purge */

/* What health and purge-queue do first: no argument left over, the endpoint
 * (named or the default) with its API key, a quiet engine in r. NULL when
 * something is wrong (already said); *rc is then the exit code. */
static const struct config_endpoint *endpoint_open(struct cmd_run *r, struct config *cfg,
                                                   const char *cmd, const char *epname, int argc,
                                                   char **argv, int *rc)
{
	const struct config_endpoint *ep;

	if (optind < argc) {
		*rc = cmd_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
		return NULL;
	}
	*rc = 1;
	if (!(ep = cmd_pick_endpoint(cfg, epname, cmd)) || cmd_check_key(ep, cmd) < 0 ||
	    cmd_run_open(r, cfg, cmd, 0) < 0)
		return NULL;
	r->quiet = 1;
	return ep;
}

/* Run the engine until *seen is set (by on_event), a signal comes or 30 s pass. */
static void step_until(struct cmd_run *r, const int *seen)
{
	int64_t start = util_now_ms();
	while (!*seen && !r->signo && util_now_ms() - start < 30000)
		if (engine_step(r->e, 250) < 0)
			break;
}

static void print_health(const struct config_endpoint *ep, const struct engine_health *h)
{
	char t[64];
	printf("endpoint   ");
	cmd_put_clean(stdout, ep->name);
	if (ep->url) {
		fputs(" (", stdout);
		cmd_put_clean(stdout, ep->url);
		putchar(')');
	}
	putchar('\n');
	printf("reachable  %s%s%s%s\n", h->reachable ? "yes" : "no",
	       h->auth_failed ? " (the API key was refused)" : "",
	       h->not_found ? " (but no such endpoint: HTTP 404)" : "",
	       h->rate_limited ? " (rate limited, backing off)" : "");
	if ((backend_kind_of(ep)->caps & BACKEND_REMOTE_HEALTH) && h->reachable &&
	    !h->auth_failed && h->valid) {
		printf("jobs       %ld in queue, %ld in progress, %ld completed, %ld failed, "
		       "%ld retried\n",
		       h->jobs_in_queue, h->jobs_in_progress, h->jobs_completed, h->jobs_failed,
		       h->jobs_retried);
		printf("workers    %ld idle, %ld running, %ld initializing, %ld ready, %ld "
		       "throttled, %ld unhealthy\n",
		       h->workers_idle, h->workers_running, h->workers_initializing,
		       h->workers_ready, h->workers_throttled, h->workers_unhealthy);
	}
	if (h->text)
		cmd_show_line("info", h->text);
	if (h->error)
		cmd_show_line("error", h->error);
	cmd_fmt_time(h->updated_at, t, sizeof t);
	printf("updated    %s\n", t);
}

/* A health counter: null when the server did not give it. */
static void json_count(cJSON *o, const char *name, long v)
{
	if (v < 0)
		cJSON_AddNullToObject(o, name);
	else
		cJSON_AddNumberToObject(o, name, (double)v);
}

static cJSON *health_json(const struct config_endpoint *ep, const struct engine_health *h)
{
	cJSON *o = cJSON_CreateObject(), *x;
	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "endpoint", ep->name);
	cmd_json_str(o, "url", ep->url);
	cJSON_AddStringToObject(o, "backend", backend_kind_of(ep)->name);
	cJSON_AddBoolToObject(o, "reachable", h->reachable);
	cJSON_AddBoolToObject(o, "auth_failed", h->auth_failed);
	cJSON_AddBoolToObject(o, "not_found", h->not_found);
	cJSON_AddBoolToObject(o, "has_health", h->valid && !h->no_health);
	cmd_json_str(o, "api", config_endpoint_api(ep));
	cJSON_AddBoolToObject(o, "rate_limited", h->rate_limited);
	if ((x = cJSON_AddObjectToObject(o, "jobs"))) {
		json_count(x, "completed", h->jobs_completed);
		json_count(x, "failed", h->jobs_failed);
		json_count(x, "in_progress", h->jobs_in_progress);
		json_count(x, "in_queue", h->jobs_in_queue);
		json_count(x, "retried", h->jobs_retried);
	}
	if ((x = cJSON_AddObjectToObject(o, "workers"))) {
		json_count(x, "idle", h->workers_idle);
		json_count(x, "running", h->workers_running);
		json_count(x, "initializing", h->workers_initializing);
		json_count(x, "ready", h->workers_ready);
		json_count(x, "throttled", h->workers_throttled);
		json_count(x, "unhealthy", h->workers_unhealthy);
	}
	cmd_json_str(o, "text", h->text);
	cmd_json_str(o, "error", h->error);
	cmd_json_time(o, "updated_at", h->updated_at);
	return o;
}

int cmd_remote_health(struct config *cfg, int argc, char **argv)
{
	static const struct option lo[] = {{"endpoint", required_argument, 0, 'e'},
	                                   {"json", no_argument, 0, 'j'},
	                                   {"help", no_argument, 0, 'h'},
	                                   {0, 0, 0, 0}};
	const struct config_endpoint *ep;
	const struct engine_health *h;
	const char *epname = NULL;
	struct cmd_run r;
	char *err = NULL;
	int c, json = 0, rc;

	if (cmd_help_opt("health", argc, argv))
		return 0;
	cmd_opt_reset();
	while ((c = cmd_next_opt("health", argc, argv, ":e:j", lo)) != -1) {
		if (c == 'e')
			epname = optarg;
		else if (c == 'j')
			json = 1;
		else
			return 2;
	}
	if (!(ep = endpoint_open(&r, cfg, "health", epname, argc, argv, &rc)))
		return rc;
	r.health_for = ep->name;
	if (engine_health_refresh(r.e, ep->name, &err) < 0) {
		cmd_errf_core("health", NULL, err);
		cmd_run_close(&r, 0);
		return 1;
	}
	step_until(&r, &r.health_seen);
	h = engine_health(r.e, ep->name);
	if (!h || !r.health_seen) {
		cmd_errf("health", "no answer from %s within 30 s: check the network and the URL",
		         ep->url ? ep->url : ep->name);
		cmd_run_close(&r, 0);
		return 1;
	}
	{ /* the day's cost on this endpoint (cost.h) */
		struct cost_sum s = {0};
		char t[160];
		int ok = cost_since(r.st, cfg, ep->name, cost_day_start(time(NULL) * 1000LL), &s,
		                    NULL) == 0;
		cJSON *o = json ? health_json(ep, h) : NULL, *d;

		cost_sum_format(&s, t, sizeof t);
		if (!json) {
			print_health(ep, h);
			printf("today      %s\n", ok ? t : "?");
		} else if (o && (d = cJSON_AddObjectToObject(o, "today"))) {
			if (ok && s.priced)
				cJSON_AddNumberToObject(d, "cost", round(s.total * 1e6) / 1e6);
			else
				cJSON_AddNullToObject(d, "cost");
			cJSON_AddNumberToObject(d, "jobs", (double)s.priced);
			cJSON_AddNumberToObject(d, "jobs_no_price", (double)s.no_price);
			cJSON_AddNumberToObject(d, "exec_ms", (double)s.exec_ms);
		}
		if (json)
			cmd_json_print(o);
	}
	/* 0 only with real health: an endpoint that is not found, or a server
	 * without /health (runpod-python's local test API), is not healthy */
	rc = h->reachable && !h->auth_failed && (h->valid || ep->kind != CONFIG_RUNPOD) ? 0 : 1;
	if (!json && h->auth_failed)
		cmd_errf("health",
		         "the endpoint refused the API key (401/403): check RUNPOD_API_KEY");
	else if (!json && h->not_found)
		cmd_errf("health", "endpoint not found (HTTP 404): check the id");
	else if (!json && h->no_health)
		cmd_errf("health", "this server has no /health (runpod-python's local test API): "
		                   "it answers, but gives no queue or worker counts");
	else if (!json && rc && h->reachable && h->error) {
		char *msg = cmd_clean(h->error);
		cmd_errf("health", "no health report: %s", msg ? msg : "");
		free(msg);
	}
	cmd_run_close(&r, 0);
	return rc;
}

int cmd_remote_purge_queue(struct config *cfg, int argc, char **argv)
{
	static const struct option lo[] = {
	    {"endpoint", required_argument, 0, 'e'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	const struct config_endpoint *ep;
	const char *epname = NULL;
	struct cmd_run r;
	char *err = NULL;
	int c, rc;

	if (cmd_help_opt("purge-queue", argc, argv))
		return 0;
	cmd_opt_reset();
	while ((c = cmd_next_opt("purge-queue", argc, argv, ":e:", lo)) != -1) {
		if (c == 'e')
			epname = optarg;
		else
			return 2;
	}
	if (!(ep = endpoint_open(&r, cfg, "purge-queue", epname, argc, argv, &rc)))
		return rc;
	if (engine_purge_queue(r.e, ep->name, &err) < 0) {
		cmd_errf_core("purge-queue", NULL, err);
		cmd_run_close(&r, 0);
		return 1;
	}
	step_until(&r, &r.msg_seen);
	if (!r.msg_seen) {
		cmd_errf("purge-queue", "no answer within 30 s: check sdq health");
		rc = 1;
	} else if (r.msg_error) {
		cmd_errf("purge-queue", "%s", r.msg);
		rc = 1;
	} else {
		printf("%s\n", r.msg);
		rc = 0;
	}
	cmd_run_close(&r, 0);
	return rc;
}
