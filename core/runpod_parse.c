/*
 * runpod_parse.c: RunPod's replies read (part of the RunPod backend,
 * runpod_int.h): a worker's progress out of an IN_PROGRESS output of any
 * shape, /status and /health replies (runpod.h, for tests and fuzzing), and
 * the excerpts of error bodies the messages quote. No state, no requests.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "runpod.h"
#include "runpod_int.h"

/* A JSON number as int64 milliseconds/counters: -1 when it is not a finite
 * number in range (a server's 1e999 must not be undefined behaviour; a
 * negative time or count means nothing either). */
int64_t runpod_num_i64(const cJSON *v)
{
	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0 ||
	    v->valuedouble > 9.0e18)
		return -1;
	return (int64_t)v->valuedouble;
}

/* A short, single-line excerpt of a response body for an error message. */
void runpod_excerpt(const char *body, size_t len, char *out, size_t outlen)
{
	size_t o = 0;
	for (size_t i = 0; i < len && o + 1 < outlen; i++) {
		unsigned char c = (unsigned char)body[i];
		out[o++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
	}
	if (o + 1 >= outlen && outlen > 4)
		memcpy(out + outlen - 4, "...", 3), o = outlen - 1;
	out[o] = '\0';
}

/* The "error" member of a JSON error body, or the body excerpt. */
void runpod_body_message(const char *body, size_t len, char *out, size_t outlen)
{
	cJSON *root = cJSON_ParseWithLength(body, len);
	const cJSON *m = NULL;
	if (root) {
		m = cJSON_GetObjectItemCaseSensitive(root, "error");
		if (!cJSON_IsString(m))
			m = cJSON_GetObjectItemCaseSensitive(root, "message");
	}
	if (cJSON_IsString(m))
		runpod_excerpt(m->valuestring, strlen(m->valuestring), out, outlen);
	else
		runpod_excerpt(body, len, out, outlen);
	cJSON_Delete(root);
}

/* ---------- progress ---------- */

/* Find "a/b", "a of b" or "n%" in s. */
static int progress_from_text(const char *s, double *frac)
{
	const char *p;
	for (p = s; *p; p++) {
		if (isdigit((unsigned char)*p) && (p == s || !isdigit((unsigned char)p[-1]))) {
			char *end;
			double a = strtod(p, &end), b;
			const char *q = end;
			while (*q == ' ')
				q++;
			if (*q == '%') {
				*frac = a / 100.0;
				return 1;
			}
			if (*q == '/' || strncmp(q, "of ", 3) == 0) {
				q += *q == '/' ? 1 : 3;
				while (*q == ' ')
					q++;
				if (isdigit((unsigned char)*q)) {
					b = strtod(q, &end);
					if (b > 0) {
						*frac = a / b;
						return 1;
					}
				}
			}
			p = end - 1;
		}
	}
	return 0;
}

static int number_progress(double v, double *frac)
{
	if (v < 0)
		return 0;
	*frac = v <= 1.0 ? v : v / 100.0;
	return 1;
}

static const cJSON *get_any(const cJSON *o, const char *const *names)
{
	for (; *names; names++) {
		const cJSON *v = cJSON_GetObjectItem(o, *names);
		if (v)
			return v;
	}
	return NULL;
}

/* Progress out of an IN_PROGRESS output of any shape. *frac < 0 when
 * unknown; text gets a short description (may be empty). */
static void parse_progress(const cJSON *out, double *frac, char *text, size_t tlen)
{
	static const char *const prog_keys[] = {"progress", "percent", "percentage", NULL};
	static const char *const step_keys[] = {"step", "current", "current_step", "i", NULL};
	static const char *const total_keys[] = {"total", "steps", "total_steps", "max", "n", NULL};
	static const char *const text_keys[] = {"message", "status", "text", "stage", NULL};
	const cJSON *v, *t;

	*frac = -1;
	text[0] = '\0';
	if (!out)
		return;
	if (cJSON_IsString(out)) {
		runpod_excerpt(out->valuestring, strlen(out->valuestring), text, tlen);
		progress_from_text(out->valuestring, frac);
	} else if (cJSON_IsNumber(out)) {
		number_progress(out->valuedouble, frac);
	} else if (cJSON_IsObject(out)) {
		v = get_any(out, prog_keys);
		if (cJSON_IsNumber(v)) {
			if (strcmp(v->string, "progress") == 0)
				number_progress(v->valuedouble, frac);
			else
				*frac = v->valuedouble / 100.0;
		} else if (cJSON_IsString(v)) {
			runpod_excerpt(v->valuestring, strlen(v->valuestring), text, tlen);
			progress_from_text(v->valuestring, frac);
		} else if (cJSON_IsObject(v)) {
			parse_progress(v, frac, text, tlen);
			return;
		}
		v = get_any(out, step_keys);
		t = get_any(out, total_keys);
		if (*frac < 0 && cJSON_IsNumber(v) && cJSON_IsNumber(t) && t->valuedouble > 0) {
			*frac = v->valuedouble / t->valuedouble;
			if (!text[0])
				snprintf(text, tlen, "%g/%g", v->valuedouble, t->valuedouble);
		}
		v = get_any(out, text_keys);
		if (!text[0] && cJSON_IsString(v))
			runpod_excerpt(v->valuestring, strlen(v->valuestring), text, tlen);
	}
	if (!isfinite(*frac) || *frac < 0)
		*frac = -1; /* 1e999/1e999, negative steps...: unknown */
	else if (*frac > 1)
		*frac = 1;
	if (*frac >= 0 && !text[0])
		snprintf(text, tlen, "%.0f%%", *frac * 100.0);
}

int runpod_progress_parse(const char *json, size_t len, double *frac, char *text, size_t tlen)
{
	cJSON *root = cJSON_ParseWithLength(json, len);
	if (!root) {
		*frac = -1;
		if (tlen)
			text[0] = '\0';
		return -1;
	}
	parse_progress(root, frac, text, tlen);
	cJSON_Delete(root);
	return 0;
}

/* ---------- /status and /health replies ---------- */

void runpod_status_clear(struct runpod_status *st)
{
	if (!st)
		return;
	free(st->status);
	free(st->worker_id);
	free(st->error);
	memset(st, 0, sizeof *st);
	st->delay_ms = st->exec_ms = -1;
	st->progress = -1;
}

/* *st (whatever it held: overwritten, not freed) from a parsed reply root
 * (kept by the caller). 0, or -1 without a string "status". */
int runpod_status_from_json(const cJSON *root, struct runpod_status *st)
{
	const cJSON *s, *v;

	memset(st, 0, sizeof *st);
	st->delay_ms = st->exec_ms = -1;
	st->progress = -1;
	s = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "status") : NULL;
	if (!cJSON_IsString(s) || !(st->status = strdup(s->valuestring)))
		return -1;
	st->state = job_state_parse(s->valuestring);
	st->delay_ms = runpod_num_i64(cJSON_GetObjectItemCaseSensitive(root, "delayTime"));
	st->exec_ms = runpod_num_i64(cJSON_GetObjectItemCaseSensitive(root, "executionTime"));
	v = cJSON_GetObjectItemCaseSensitive(root, "workerId");
	if (cJSON_IsString(v))
		st->worker_id = strdup(v->valuestring);
	v = cJSON_GetObjectItemCaseSensitive(root, "output");
	st->has_output = v && !cJSON_IsNull(v);
	if (st->state == JOB_IN_PROGRESS)
		parse_progress(v, &st->progress, st->progress_text, sizeof st->progress_text);
	if (st->state == JOB_FAILED || st->state == JOB_TIMED_OUT ||
	    st->state == JOB_CANCELLED) {
		v = cJSON_GetObjectItemCaseSensitive(root, "error");
		if (cJSON_IsString(v))
			st->error = strdup(v->valuestring);
		else if (v && !cJSON_IsNull(v))
			st->error = cJSON_PrintUnformatted(v);
	}
	return 0;
}

int runpod_status_parse(const char *body, size_t len, struct runpod_status *st)
{
	cJSON *root = cJSON_ParseWithLength(body, len);
	int rc = runpod_status_from_json(root, st);
	cJSON_Delete(root);
	if (rc < 0)
		runpod_status_clear(st);
	return rc;
}

int runpod_health_parse(const char *body, size_t len, struct engine_health *h)
{
	cJSON *root = cJSON_ParseWithLength(body, len);
	const cJSON *jobs, *w;

	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return -1;
	}
#define NUM(obj, key) ((long)runpod_num_i64(cJSON_GetObjectItem(obj, key)))
	jobs = cJSON_GetObjectItem(root, "jobs");
	w = cJSON_GetObjectItem(root, "workers");
	h->jobs_completed = NUM(jobs, "completed");
	h->jobs_failed = NUM(jobs, "failed");
	h->jobs_in_progress = NUM(jobs, "inProgress");
	h->jobs_in_queue = NUM(jobs, "inQueue");
	h->jobs_retried = NUM(jobs, "retried");
	h->workers_idle = NUM(w, "idle");
	h->workers_running = NUM(w, "running");
	h->workers_initializing = NUM(w, "initializing");
	h->workers_ready = NUM(w, "ready");
	h->workers_throttled = NUM(w, "throttled");
	h->workers_unhealthy = NUM(w, "unhealthy");
#undef NUM
	cJSON_Delete(root);
	return 0;
}
