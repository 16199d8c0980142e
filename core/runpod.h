/*
 * runpod.h: what the RunPod backend exposes besides its constructor
 * (runpod_backend_new, in backend.h): its parsers of IN_PROGRESS outputs, of
 * /status and of /health replies, for tests and fuzzing.
 */
#ifndef SDQ_RUNPOD_H
#define SDQ_RUNPOD_H

#include <stddef.h>
#include <stdint.h>
#include "engine.h"
#include "job.h"

/* Read a worker's progress from the JSON text of an IN_PROGRESS "output" (of
 * len bytes): "4/10", "40%", "step 4 of 10", 0.4, {"progress": 0.4 or
 * "4/10"}, {"step": 4, "total": 10}, {"percent": 40}... *frac gets 0..1, or -1
 * when unknown (never NaN); text (tlen bytes, tlen > 0) gets a short
 * single-line description, possibly empty. 0, or -1 if json is not JSON. */
int runpod_progress_parse(const char *json, size_t len, double *frac, char *text, size_t tlen);

/* What a /status reply (also /runsync's answer) says, as the backend reads
 * it: runpod.c's status handling goes through the same code. */
struct runpod_status {
	enum job_state state; /* job_state_parse of "status": JOB_OTHER if unknown */
	char *status;         /* "status" as sent (malloc'd; may hold anything) */
	int64_t delay_ms, exec_ms; /* delayTime, executionTime; -1 when absent */
	char *worker_id;      /* workerId (malloc'd) or NULL */
	double progress;      /* IN_PROGRESS: 0..1, or -1 when unknown */
	char progress_text[160]; /* IN_PROGRESS: a single-line description */
	char *error;   /* FAILED / TIMED_OUT / CANCELLED: "error" (a string, or the
	                  JSON of another value; malloc'd) or NULL */
	int has_output; /* "output" is present and not null */
};
/* Parse a /status body of len bytes into *st (overwritten: what it held is
 * not freed). 0, or -1 when
 * it is not a JSON object with a string "status" (st is then empty). Free
 * with runpod_status_clear. */
int runpod_status_parse(const char *body, size_t len, struct runpod_status *st);
/* Free what *st holds (accepts a zeroed or cleared st). */
void runpod_status_clear(struct runpod_status *st);

/* Parse a /health body of len bytes into h's counters (jobs_* and workers_*;
 * -1 for each one absent or not a finite number in range; text and error
 * untouched). 0, or -1 when it is not a JSON object (counters untouched). */
int runpod_health_parse(const char *body, size_t len, struct engine_health *h);

#endif
