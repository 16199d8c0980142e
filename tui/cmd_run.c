/*
 * cmd_run.c: a command's session with the engine (see cmd_run.h): open the
 * store and an engine, hear its events, wait for jobs with a status line on
 * stderr, report them, and hand live jobs over to a detached driver at the
 * end.
 */
#include "cmd_run.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "config.h"
#include "engine.h"
#include "job.h"
#include "output.h"
#include "spawn.h"
#include "store.h"
#include "util.h"

/* ---------------------------------------------------- the engine and driver */

void cmd_run_status_clear(struct cmd_run *r)
{
	if (r->status_shown) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
		r->status_shown = 0;
	}
}

static void on_event(struct engine *e, const struct engine_event *ev, void *udata)
{
	struct cmd_run *r = udata;
	(void)e;
	switch (ev->type) {
	case ENGINE_EV_JOB:
	case ENGINE_EV_STORE:
	case ENGINE_EV_ROLE:
		r->dirty = 1;
		break;
	case ENGINE_EV_HEALTH:
		if (r->health_for && ev->endpoint && strcmp(ev->endpoint, r->health_for) == 0)
			r->health_seen = 1;
		break;
	case ENGINE_EV_MESSAGE:
		r->msg_seen = 1;
		r->msg_error = ev->is_error;
		free(r->msg);
		r->msg = cmd_clean(ev->message ? ev->message : "");
		if (r->log) {
			char t[40];
			fprintf(stderr, "%s %s%s\n", job_iso8601(job_now_ms(), t, sizeof t),
			        ev->is_error ? "error: " : "", r->msg);
		} else if (ev->is_error && !r->quiet) {
			cmd_run_status_clear(r);
			fprintf(stderr, "sdq: %s: %s\n", r->cmd, r->msg);
		}
		break;
	case ENGINE_EV_SIGNAL:
		r->signo = ev->signo;
		break;
	}
}

/* Live jobs sent with `-e URL` (or an endpoint id) name an endpoint that is
 * not in the config file. The engine only knows cfg's endpoints, so add
 * those before it starts (config_endpoint adds a URL or id as a temporary
 * endpoint; doing it before any backend exists keeps their pointers valid). */
static void register_endpoints(struct config *cfg, struct store *st)
{
	struct store_query q;
	struct job **jobs = NULL;
	size_t n = 0;

	memset(&q, 0, sizeof q);
	q.live_only = 1;
	if (store_job_list(st, &q, &jobs, &n, NULL) < 0)
		return;
	for (size_t i = 0; i < n; i++)
		if (jobs[i]->endpoint)
			config_endpoint(cfg, jobs[i]->endpoint);
	store_jobs_free(jobs, n);
}

/* Open the store and an engine for cmd; drive = 1 asks to be the driver.
 * -1 after printing an error. */
int cmd_run_open(struct cmd_run *r, struct config *cfg, const char *cmd, int drive)
{
	char *err = NULL;
	memset(r, 0, sizeof *r);
	r->cfg = cfg;
	r->cmd = cmd;
	if (!(r->st = cmd_open_store(cfg, cmd)))
		return -1;
	register_endpoints(cfg, r->st);
	if (!(r->e = engine_new(cfg, r->st, &err))) {
		cmd_errf_core(cmd, "cannot start the engine", err);
		store_close(r->st);
		r->st = NULL;
		return -1;
	}
	engine_set_callback(r->e, on_event, r);
	engine_catch_signal(r->e, SIGINT);
	engine_catch_signal(r->e, SIGTERM);
	engine_catch_signal(r->e, SIGHUP);
	if (drive)
		engine_drive(r->e, 1);
	return 0;
}
/* Free the engine (giving up the driver role), start a background driver if
 * live jobs remain, close the store. */
void cmd_run_close(struct cmd_run *r, int handover)
{
	cmd_run_status_clear(r);
	engine_free(r->e);
	r->e = NULL;
	if (handover && r->st)
		spawn_ensure_driver(r->cfg, r->st, 0);
	store_close(r->st);
	r->st = NULL;
	free(r->msg);
	r->msg = NULL;
}

/* The freshest copy of job id (the driver's own, else the store's). */
struct job *cmd_run_current_job(struct cmd_run *r, int64_t id)
{
	const struct job *j = engine_job(r->e, id);
	char *err = NULL;
	struct job *c;
	if (j)
		return job_dup(j);
	c = store_job_get(r->st, id, &err);
	free(err);
	return c;
}

/* Show "sdq: job 42 IN_PROGRESS 40% 12s" on stderr, redrawn in place. */
static void status_draw(struct cmd_run *r, struct job **jobs, size_t n, int64_t elapsed_ms)
{
	char el[32], line[256];
	size_t live = 0, done = 0;
	int len;

	if (elapsed_ms < 60000)
		snprintf(el, sizeof el, "%llds", (long long)(elapsed_ms / 1000));
	else
		cmd_fmt_dur(elapsed_ms, el, sizeof el);
	for (size_t i = 0; i < n; i++) {
		if (!jobs[i])
			continue;
		if (job_state_is_live(jobs[i]->state))
			live++;
		else
			done++;
	}
	if (n == 1 && jobs[0]) {
		const struct job *j = jobs[0];
		len = snprintf(line, sizeof line, "job %lld %s", (long long)j->id,
		               job_state_name(j->state));
		if (j->state == JOB_IN_PROGRESS && j->progress >= 0 && len < (int)sizeof line)
			len +=
			    snprintf(line + len, sizeof line - len, " %.0f%%", j->progress * 100);
		if (len < (int)sizeof line)
			snprintf(line + len, sizeof line - len, "  %s", el);
	} else {
		snprintf(line, sizeof line, "%zu of %zu jobs done, %zu live  %s", done, n, live,
		         el);
	}
	if (r->status_shown && strcmp(line, r->status_line) == 0)
		return;
	snprintf(r->status_line, sizeof r->status_line, "%s", line);
	fprintf(stderr, "\r%s\033[K", line);
	fflush(stderr);
	r->status_shown = 1;
}

/* Whether job j (id) is still to be waited for: live, or, after a retry
 * request, FAILED/TIMED_OUT until the driver has carried the request out. */
static int pending(struct cmd_run *r, const struct job *j)
{
	if (!j)
		return 0;
	if (job_state_is_live(j->state))
		return r->retrying != 2;
	return r->retrying && (j->state == JOB_FAILED || j->state == JOB_TIMED_OUT) &&
	       (j->retry_requested || engine_job(r->e, j->id));
}

/* Run the engine until every job in ids[] has left the live states, a signal
 * arrives or timeout_ms passes (0: no limit). Fills jobs[] with the last
 * copies (caller frees). Returns 0 when all finished, 1 on timeout, 130 (or
 * 128 + signo) on a signal, -1 on a fatal engine error. */
int cmd_run_until_done(struct cmd_run *r, const int64_t *ids, struct job **jobs, size_t n, int show,
                       int64_t timeout_ms)
{
	int64_t start = util_now_ms(), last_read = 0;
	int first = 1;

	for (;;) {
		int64_t now = util_now_ms();
		size_t live = 0;

		if (first || r->dirty || now - last_read >= 1000) {
			for (size_t i = 0; i < n; i++) {
				if (!first && jobs[i] && !pending(r, jobs[i]))
					continue;
				job_free(jobs[i]);
				jobs[i] = cmd_run_current_job(r, ids[i]);
			}
			r->dirty = 0;
			last_read = now;
			first = 0;
		}
		for (size_t i = 0; i < n; i++)
			if (pending(r, jobs[i]))
				live++;
		if (!live)
			break;
		if (r->signo)
			return 128 + r->signo;
		if (timeout_ms > 0 && now - start >= timeout_ms)
			return 1;
		if (show && now - start >= 1000)
			status_draw(r, jobs, n, now - start);
		if (engine_step(r->e, 250) < 0)
			return -1;
	}
	cmd_run_status_clear(r);
	return 0;
}

/* What to tell about a job that ended without images and without an error. */
static const char *state_hint(enum job_state s)
{
	switch (s) {
	case JOB_COMPLETED:
		return "the worker returned no image (sdq show has its output)";
	case JOB_CANCELLED:
		return "it was cancelled";
	case JOB_EXPIRED:
		return "the endpoint forgot it before its result was saved: sdq rerun sends it "
		       "again";
	case JOB_UNKNOWN:
		return "sdq stopped while sending it, so it may or may not have run: sdq rerun "
		       "sends it again";
	default:
		return "no error text";
	}
}

/* Report each finished job: image paths on stdout, errors on stderr. 0 if all
 * COMPLETED with images, else 1. */
static int decodable_any(const struct job *j)
{
	for (size_t k = 0; k < j->n_outputs; k++)
		if (output_decodable(&j->outputs[k]))
			return 1;
	return 0;
}

static int report_jobs(const char *cmd, struct job **jobs, size_t n, int json)
{
	int rc = 0;
	cJSON *arr = NULL;
	if (json && n > 1)
		arr = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++) {
		const struct job *j = jobs[i];
		if (!j) {
			rc = 1;
			continue;
		}
		if (j->state == JOB_COMPLETED && j->n_outputs > 0 && !decodable_any(j)) {
			/* every image declares more pixels than sdq decodes */
			char *e = cmd_clean(j->error ? j->error : "no image sdq can decode");
			cmd_errf(cmd, "job %lld COMPLETED without an image sdq can decode: %s",
			         (long long)j->id, e);
			free(e);
			rc = 1;
		} else if (j->state != JOB_COMPLETED || j->n_outputs == 0) {
			char *e = cmd_clean(j->error ? j->error : state_hint(j->state));
			if (job_state_is_live(j->state))
				cmd_errf(cmd, "job %lld still %s", (long long)j->id,
				         job_state_name(j->state));
			else
				cmd_errf(cmd, "job %lld %s: %s", (long long)j->id,
				         job_state_name(j->state), e);
			free(e);
			rc = 1;
		}
		if (json) {
			cJSON *o = cmd_job_json(j, NULL, 0);
			if (arr)
				cJSON_AddItemToArray(arr, o);
			else if (cmd_json_print(o) < 0)
				rc = 1;
		} else {
			for (size_t k = 0; k < j->n_outputs; k++) {
				cmd_put_clean(stdout, j->outputs[k].path);
				putchar('\n');
			}
		}
	}
	if (arr && cmd_json_print(arr) < 0)
		rc = 1;
	fflush(stdout);
	return rc;
}

/* Wait for ids as a driver (or a viewer when another process drives), report,
 * hand over, close. Returns the exit status. */
int cmd_run_wait_and_report(struct cmd_run *r, const int64_t *ids, size_t n, int json,
                            int64_t timeout_ms)
{
	struct job **jobs = calloc(n ? n : 1, sizeof *jobs);
	int show = isatty(STDERR_FILENO) && !json, rc;

	if (!jobs) {
		cmd_run_close(r, 1);
		return 1;
	}
	/* someone reads the progress line: the driver keeps it fresh */
	if (show)
		engine_set_watching(r->e, 1);
	rc = cmd_run_until_done(r, ids, jobs, n, show, timeout_ms);
	cmd_run_status_clear(r);
	if (rc == 0) {
		rc = report_jobs(r->cmd, jobs, n, json);
	} else {
		/* how to pick up the wait again: the group, the one job, or all */
		char again[64 + 21 * 4];
		int len = snprintf(again, sizeof again, "sdq wait%s",
		                   r->group > 0 ? " --group" : "");
		if (r->group > 0)
			snprintf(again + len, sizeof again - (size_t)len, " %lld",
			         (long long)r->group);
		for (size_t i = 0; r->group <= 0 && i < n && i < 4; i++)
			len += snprintf(again + len, sizeof again - (size_t)len, " %lld%s",
			                (long long)ids[i], i == 3 && n > 4 ? " ..." : "");
		if (rc == 1) {
			cmd_errf(r->cmd, "timed out; the job%s go%s on: %s", n > 1 ? "s" : "",
			         n > 1 ? "" : "es", again);
		} else if (rc < 0) {
			cmd_errf(r->cmd, "the engine stopped; the job%s go%s on: %s", n > 1 ? "s" : "",
			         n > 1 ? "" : "es", again);
			rc = 1;
		} else {
			fprintf(stderr, "sdq: %s: interrupted; the job%s go%s on (%s)\n", r->cmd,
			        n > 1 ? "s" : "", n > 1 ? "" : "es", again);
		}
	}
	for (size_t i = 0; i < n; i++)
		job_free(jobs[i]);
	free(jobs);
	cmd_run_close(r, 1);
	return rc;
}
