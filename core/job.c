/*
 * job.c: the job record and its state machine.
 *
 * The legal transitions live in one static table (transitions[][] below), so
 * the rules can be read, reviewed and tested as data. Everything else here is
 * plain memory handling for struct job_params / struct job: init, deep copy,
 * free, and small helpers for times.
 */
#include "job.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static const char *const state_names[JOB_STATE_COUNT] = {
    [JOB_PENDING] = "PENDING",
    [JOB_SUBMITTING] = "SUBMITTING",
    [JOB_IN_QUEUE] = "IN_QUEUE",
    [JOB_IN_PROGRESS] = "IN_PROGRESS",
    [JOB_COMPLETED] = "COMPLETED",
    [JOB_FAILED] = "FAILED",
    [JOB_CANCELLED] = "CANCELLED",
    [JOB_TIMED_OUT] = "TIMED_OUT",
    [JOB_SUBMIT_FAILED] = "SUBMIT_FAILED",
    [JOB_EXPIRED] = "EXPIRED",
    [JOB_UNKNOWN] = "UNKNOWN",
    [JOB_OTHER] = "OTHER",
};

/*
 * transitions[from][to] == 1 when a job may go from `from` to `to`.
 * Columns, in enum order:
 *   P  = PENDING        S  = SUBMITTING     Q  = IN_QUEUE      R  = IN_PROGRESS
 *   C  = COMPLETED      F  = FAILED         X  = CANCELLED     T  = TIMED_OUT
 *   SF = SUBMIT_FAILED  E  = EXPIRED        U  = UNKNOWN       O  = OTHER
 *
 * Why each row is what it is:
 * - PENDING: sent (SUBMITTING); local backends skip SUBMITTING and queue or
 *   start at once (IN_QUEUE, IN_PROGRESS); cancelled before it was sent;
 *   refused before sending (SUBMIT_FAILED: no backend, bad template); UNKNOWN
 *   when a crash may have happened after the request left.
 * - SUBMITTING: any remote state (a /runsync answer may already be terminal or
 *   a status sdq does not know), SUBMIT_FAILED, UNKNOWN (died or lost the
 *   answer), and back to PENDING when the request was certainly never sent
 *   (e.g. the connection was refused), so it is safe to send again. Not
 *   EXPIRED: the endpoint cannot forget a job it never acknowledged.
 * - IN_QUEUE, IN_PROGRESS, OTHER: any remote state, plus EXPIRED (the endpoint
 *   answered 404 before the result was saved). IN_PROGRESS -> IN_QUEUE
 *   happens when RunPod requeues a job whose worker died.
 * - FAILED, TIMED_OUT: only to IN_QUEUE, which is RunPod's /retry (and the
 *   local backend's re-queue).
 * - COMPLETED, CANCELLED, SUBMIT_FAILED, EXPIRED, UNKNOWN: never left; a re-run
 *   is a new job. UNKNOWN in particular is for the user to resolve: sdq never
 *   resubmits or re-polls it on its own.
 * - Every state may "go" to itself: a repeated status is not an error.
 */
/* clang-format off */
static const unsigned char transitions[JOB_STATE_COUNT][JOB_STATE_COUNT] = {
	/*                  P  S  Q  R  C  F  X  T  SF E  U  O */
	[JOB_PENDING] =     {1, 1, 1, 1, 0, 0, 1, 0, 1, 0, 1, 0},
	[JOB_SUBMITTING] =  {1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1},
	[JOB_IN_QUEUE] =    {0, 0, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1},
	[JOB_IN_PROGRESS] = {0, 0, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1},
	[JOB_COMPLETED] =   {0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0},
	[JOB_FAILED] =      {0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0},
	[JOB_CANCELLED] =   {0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0},
	[JOB_TIMED_OUT] =   {0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0},
	[JOB_SUBMIT_FAILED] = {0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0},
	[JOB_EXPIRED] =     {0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0},
	[JOB_UNKNOWN] =     {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0},
	[JOB_OTHER] =       {0, 0, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1},
};
/* clang-format on */

const char *job_state_name(enum job_state s)
{
	if ((int)s < 0 || s >= JOB_STATE_COUNT)
		return "OTHER";
	return state_names[s];
}

enum job_state job_state_parse(const char *s)
{
	if (!s || !*s)
		return JOB_OTHER;
	if (strcasecmp(s, "RUNNING") == 0)
		return JOB_IN_PROGRESS;
	for (int i = 0; i < JOB_STATE_COUNT; i++)
		if (strcasecmp(s, state_names[i]) == 0)
			return (enum job_state)i;
	return JOB_OTHER;
}

int job_state_is_terminal(enum job_state s)
{
	switch (s) {
	case JOB_COMPLETED:
	case JOB_FAILED:
	case JOB_CANCELLED:
	case JOB_TIMED_OUT:
	case JOB_SUBMIT_FAILED:
	case JOB_EXPIRED:
	case JOB_UNKNOWN:
		return 1;
	default:
		return 0;
	}
}

int job_state_is_live(enum job_state s)
{
	switch (s) {
	case JOB_PENDING:
	case JOB_SUBMITTING:
	case JOB_IN_QUEUE:
	case JOB_IN_PROGRESS:
	case JOB_OTHER:
		return 1;
	default:
		return 0;
	}
}

int job_transition_ok(enum job_state from, enum job_state to)
{
	if ((int)from < 0 || from >= JOB_STATE_COUNT || (int)to < 0 || to >= JOB_STATE_COUNT)
		return 0;
	return transitions[from][to];
}

int job_set_str(char **dst, const char *src)
{
	char *c = NULL;
	if (src && !(c = strdup(src)))
		return -1;
	free(*dst);
	*dst = c;
	return 0;
}

/* strdup that keeps NULL as NULL; *fail is set on ENOMEM. */
static char *dup_or_null(const char *s, int *fail)
{
	char *c;
	if (!s)
		return NULL;
	if (!(c = strdup(s)))
		*fail = 1;
	return c;
}

void job_params_init(struct job_params *p)
{
	memset(p, 0, sizeof *p);
	p->seed = -1;
}

void job_params_clear(struct job_params *p)
{
	if (!p)
		return;
	free(p->prompt);
	free(p->negative_prompt);
	free(p->sampler);
	free(p->endpoint);
	free(p->template_name);
	free(p->extra_json);
	job_params_init(p);
}

int job_params_copy(struct job_params *dst, const struct job_params *src)
{
	int fail = 0;
	*dst = *src;
	dst->prompt = dup_or_null(src->prompt, &fail);
	dst->negative_prompt = dup_or_null(src->negative_prompt, &fail);
	dst->sampler = dup_or_null(src->sampler, &fail);
	dst->endpoint = dup_or_null(src->endpoint, &fail);
	dst->template_name = dup_or_null(src->template_name, &fail);
	dst->extra_json = dup_or_null(src->extra_json, &fail);
	if (fail) {
		job_params_clear(dst);
		return -1;
	}
	return 0;
}

struct job *job_new(void)
{
	struct job *j = calloc(1, sizeof *j);
	if (!j)
		return NULL;
	j->state = JOB_PENDING;
	j->delay_ms = j->exec_ms = -1;
	j->progress = -1;
	job_params_init(&j->params);
	return j;
}

static void output_clear(struct job_output *o)
{
	free(o->path);
	free(o->format);
	o->path = o->format = NULL;
}

void job_clear_outputs(struct job *j)
{
	if (!j)
		return;
	for (size_t i = 0; i < j->n_outputs; i++)
		output_clear(&j->outputs[i]);
	free(j->outputs);
	j->outputs = NULL;
	j->n_outputs = 0;
}

int job_add_output(struct job *j, const struct job_output *o)
{
	struct job_output *grown, c = *o;
	int fail = 0;

	c.path = dup_or_null(o->path, &fail);
	c.format = dup_or_null(o->format, &fail);
	if (fail) {
		output_clear(&c);
		return -1;
	}
	grown = realloc(j->outputs, (j->n_outputs + 1) * sizeof *grown);
	if (!grown) {
		output_clear(&c);
		return -1;
	}
	j->outputs = grown;
	j->outputs[j->n_outputs++] = c;
	return 0;
}

void job_free(struct job *j)
{
	if (!j)
		return;
	free(j->remote_id);
	free(j->backend);
	free(j->endpoint);
	free(j->endpoint_url);
	free(j->api);
	free(j->input_json);
	free(j->run_extra);
	free(j->key_fp);
	free(j->variant);
	free(j->status_text);
	job_params_clear(&j->params);
	free(j->worker_id);
	free(j->error);
	free(j->raw_output);
	free(j->log_tail);
	free(j->progress_text);
	job_clear_outputs(j);
	free(j);
}

struct job *job_dup(const struct job *j)
{
	struct job *d;
	int fail = 0;

	if (!j || !(d = calloc(1, sizeof *d)))
		return NULL;
	*d = *j;
	/* Detach every pointer first, so a failure half-way frees only copies. */
	d->remote_id = d->backend = d->endpoint = d->endpoint_url = d->status_text = NULL;
	d->worker_id = d->error = d->raw_output = d->log_tail = d->progress_text = NULL;
	d->api = d->input_json = d->run_extra = d->key_fp = d->variant = NULL;
	d->outputs = NULL;
	d->n_outputs = 0;
	job_params_init(&d->params);

	d->remote_id = dup_or_null(j->remote_id, &fail);
	d->backend = dup_or_null(j->backend, &fail);
	d->endpoint = dup_or_null(j->endpoint, &fail);
	d->endpoint_url = dup_or_null(j->endpoint_url, &fail);
	d->api = dup_or_null(j->api, &fail);
	d->input_json = dup_or_null(j->input_json, &fail);
	d->run_extra = dup_or_null(j->run_extra, &fail);
	d->key_fp = dup_or_null(j->key_fp, &fail);
	d->variant = dup_or_null(j->variant, &fail);
	d->status_text = dup_or_null(j->status_text, &fail);
	d->worker_id = dup_or_null(j->worker_id, &fail);
	d->error = dup_or_null(j->error, &fail);
	d->raw_output = dup_or_null(j->raw_output, &fail);
	d->log_tail = dup_or_null(j->log_tail, &fail);
	d->progress_text = dup_or_null(j->progress_text, &fail);
	if (!fail && job_params_copy(&d->params, &j->params) < 0) {
		job_params_init(&d->params);
		fail = 1;
	}
	for (size_t i = 0; !fail && i < j->n_outputs; i++)
		if (job_add_output(d, &j->outputs[i]) < 0)
			fail = 1;
	if (fail) {
		job_free(d);
		return NULL;
	}
	return d;
}

int64_t job_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

char *job_iso8601(int64_t ms, char *buf, size_t len)
{
	struct tm tm;
	time_t t;
	int64_t secs;

	if (!buf || len == 0)
		return buf;
	buf[0] = '\0';
	if (ms == 0)
		return buf;
	/* Floor division, so times before 1970 round down, not toward zero. */
	secs = ms / 1000 - (ms % 1000 < 0 ? 1 : 0);
	t = (time_t)secs;
	if (!gmtime_r(&t, &tm) || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		buf[0] = '\0';
	return buf;
}
