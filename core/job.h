/*
 * job.h: the job record, generation parameters and the job state machine.
 *
 * A job is one generation request: its parameters, where it was sent, its
 * state and timings, and the images it produced. The store (store.h) keeps
 * jobs; the engine (engine.h) moves them through their states; the front ends
 * read them.
 *
 * Design note: struct job_params and struct job are plain public records, not
 * opaque objects. They are values copied out of the store and handed to the
 * front ends, with no behaviour of their own; accessors for thirty fields would
 * add code and hide nothing. The objects that do own resources (store, engine,
 * backends, http) stay opaque.
 *
 * Ownership: every char * in these structs is owned by the struct and freed by
 * job_params_clear() / job_free(). NULL means "unset".
 */
#ifndef SDQ_JOB_H
#define SDQ_JOB_H

#include <stddef.h>
#include <stdint.h>

/* Job states. Remote states are RunPod's; the others are sdq's own. The order
 * is stored in the database as text (job_state_name), never as a number. */
enum job_state {
	JOB_PENDING,       /* recorded, not yet sent: safe to send after a crash */
	JOB_SUBMITTING,    /* the submit request is in flight, no remote id yet */
	JOB_IN_QUEUE,      /* accepted; waiting for a worker (or sdq's local queue) */
	JOB_IN_PROGRESS,   /* a worker runs it (RUNNING is read as this) */
	JOB_COMPLETED,     /* finished and its images are saved */
	JOB_FAILED,        /* the worker or the local process failed */
	JOB_CANCELLED,     /* cancelled by the user */
	JOB_TIMED_OUT,     /* the endpoint gave up on it */
	JOB_SUBMIT_FAILED, /* the submit was refused: never accepted */
	JOB_EXPIRED,       /* the endpoint forgot it before its result was saved */
	JOB_UNKNOWN,       /* the process died while submitting: may or may not exist */
	JOB_OTHER,         /* a status string sdq does not know; kept verbatim, polled on */
	JOB_STATE_COUNT
};

/* The canonical name of a state ("IN_QUEUE", ...). Never NULL. */
const char *job_state_name(enum job_state s);

/* Map a status string (from a server or the store) to a state, ignoring case.
 * "RUNNING" is JOB_IN_PROGRESS. Anything unknown, NULL or empty is JOB_OTHER. */
enum job_state job_state_parse(const char *s);

/* 1 for states that are never left except by an explicit retry or re-run. */
int job_state_is_terminal(enum job_state s);

/* 1 for states in which the driver still has work to do (PENDING, SUBMITTING,
 * IN_QUEUE, IN_PROGRESS, OTHER). */
int job_state_is_live(enum job_state s);

/* 1 if the transition from -> to is legal (see the table in job.c). A state to
 * itself is legal (a repeated status); retry is FAILED/TIMED_OUT -> IN_QUEUE. */
int job_transition_ok(enum job_state from, enum job_state to);

/* Generation parameters. Numeric fields use "unset" values: 0 for width,
 * height, steps and count, has_cfg == 0 for cfg, seed < 0. Unset parameters are
 * left out of the backend's input. */
struct job_params {
	char *prompt;
	char *negative_prompt;
	int width, height;
	int steps;
	double cfg;
	int has_cfg;
	int64_t seed; /* < 0: random; engine_submit picks one and records it */
	char *sampler;
	int count;           /* number of images */
	char *endpoint;      /* endpoint or local backend name from the config */
	char *template_name; /* input template (params.h); NULL: the endpoint's */
	char *extra_json;    /* a JSON object merged into the backend input, or NULL */
};

/* One saved image of a job. */
struct job_output {
	int index;    /* 0-based, in the order the worker returned them */
	char *path;   /* absolute path of the saved file */
	int width, height; /* 0 if unknown */
	int64_t seed; /* < 0 if unknown */
	char *format; /* "png", "jpeg", "webp", "gif" */
	int64_t bytes;
};

struct job {
	int64_t id;        /* local id, the store's primary key; 0 before it is stored */
	char *remote_id;   /* the endpoint's job id, NULL before it is accepted */
	char *backend;     /* "runpod" or "local" */
	char *endpoint;    /* endpoint name (also in params.endpoint) */
	char *endpoint_url; /* RunPod base URL, fixed at submit: the driver sends it there */
	/* Fixed at submit too (DESIGN.md "One driver, many viewers"); NULL in
	 * jobs of older histories, which are sent the old way. */
	char *api;        /* "runpod", or "runpod-local": runpod-python's local test API */
	char *input_json; /* the rendered "input" JSON, sent byte for byte */
	char *run_extra;  /* a JSON object of the other /run members (webhook,
	                     policy), or NULL for none */
	char *key_fp;     /* fingerprint of the API key the submitter's config gave
	                     (keyfp.h; never the key); NULL: the job needs no key */
	/* One submit of several jobs (vary.h) is a group: its id in the store's
	 * groups (store_group_add), 0 for a job submitted alone; variant is the
	 * JSON object of the values that vary for this job ({"steps":20}), NULL
	 * alone. */
	int64_t group_id;
	char *variant;
	enum job_state state;
	char *status_text; /* the server's status string verbatim when state is JOB_OTHER */
	struct job_params params;

	/* Wall-clock times in milliseconds since the Unix epoch; 0 = not yet. */
	int64_t created_at, submitted_at, started_at, finished_at;
	int64_t delay_ms, exec_ms; /* RunPod's delayTime / executionTime; -1 = unknown */
	char *worker_id;
	char *error;      /* the error text in full, or NULL */
	char *raw_output; /* the raw output JSON, kept when it held no image */
	char *log_tail;   /* last lines of a local process's output, or NULL */

	/* Progress while IN_PROGRESS: fraction 0..1 or < 0 when unknown, and the
	 * worker's progress as text ("4/10", "sampling 4/20 1.2s/it"). */
	double progress;
	char *progress_text;

	/* Requests written by any process, carried out by the driver. */
	int cancel_requested;
	int retry_requested;

	struct job_output *outputs;
	size_t n_outputs;
};

/* Set every field of p to "unset" (does not free). */
void job_params_init(struct job_params *p);
/* Free the strings of p and set it to "unset". Accepts NULL. */
void job_params_clear(struct job_params *p);
/* Deep copy src into dst (dst is overwritten, not freed). 0, or -1 on ENOMEM. */
int job_params_copy(struct job_params *dst, const struct job_params *src);

/* A new empty job (state PENDING, times 0, delay/exec -1, progress -1), or NULL. */
struct job *job_new(void);
/* A deep copy of j, or NULL. */
struct job *job_dup(const struct job *j);
/* Free j and everything it owns. Accepts NULL. */
void job_free(struct job *j);
/* Free the outputs array (and each output's strings) of j. */
void job_clear_outputs(struct job *j);
/* Append a copy of o to j's outputs. 0, or -1 on ENOMEM. */
int job_add_output(struct job *j, const struct job_output *o);

/* Replace *dst with a copy of src (NULL allowed). 0, or -1 on ENOMEM. */
int job_set_str(char **dst, const char *src);

/* Wall-clock time now, in milliseconds since the epoch. */
int64_t job_now_ms(void);

/* Format ms-since-epoch as ISO 8601 UTC ("2026-11-27T15:02:54Z") into buf.
 * Returns buf; an empty string for 0. */
char *job_iso8601(int64_t ms, char *buf, size_t len);

#endif
