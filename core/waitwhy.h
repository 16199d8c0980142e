/*
 * waitwhy.h: why a live job is waiting, and how long it may still wait.
 *
 * From what sdq already has: the endpoint's last /health (worker counts, its
 * queue), the job itself (state, submitted_at, delayTime), the jobs of the
 * same endpoint that are ahead of it (this sdq's, and the endpoint's own
 * count of queued jobs, which includes other clients'), and this endpoint's
 * recent history
 * (median delay and execution times of its last finished jobs). The answer
 * is a short reason ("cold start: 1 worker initializing", "throttled: no GPU
 * free for this endpoint (2 throttled)", "4 ahead in the queue", "worker
 * unhealthy", "waiting for job 12 on gpu") and an estimate of the seconds
 * until the job starts, or none: "no estimate" rather than an invented one.
 *
 * waitwhy_explain is pure (no I/O, no clock): the caller gathers its inputs,
 * with waitwhy_gather from the store or by hand (tests). No curses here.
 */
#ifndef SDQ_WAITWHY_H
#define SDQ_WAITWHY_H

#include <stddef.h>
#include <stdint.h>

#include "job.h"

struct store;
struct engine_health;

/* How many finished jobs of an endpoint the estimates look at. */
#define WAITWHY_HISTORY 20

/* An endpoint's recent history: medians over its last n finished jobs that
 * reported the time (n 0: no history, no estimate). */
struct waitwhy_stats {
	int n_delay, n_exec;
	int64_t median_delay_ms, median_exec_ms;
};

struct waitwhy_in {
	const struct job *job;   /* the job asked about (its state, backend, times) */
	int64_t now_ms;          /* wall clock, ms since the epoch */
	int local;               /* 1: a local backend (sd.cpp, one job at a time) */
	/* The endpoint's health, or has_health 0 when unknown (health_why: why,
	 * "" when not known either). in_queue is the endpoint's own count of
	 * queued jobs, this one and other clients' included. */
	int has_health;
	long idle, running, initializing, throttled, unhealthy, in_queue;
	char health_why[64];
	/* Jobs of the same endpoint this sdq knows of: queued earlier (ahead)
	 * and later (behind), and for a local backend the one it runs
	 * (blocker_id, 0 none, started blocker_started_at). The endpoint does
	 * not say the order of the jobs it holds that this sdq did not send:
	 * they count as ahead (in_queue - 1 - behind, when more than ahead). */
	long ahead, behind;
	int64_t blocker_id, blocker_started_at;
	struct waitwhy_stats stats;
};

struct waitwhy {
	int waiting;          /* 0: the job does not wait (not live, or running) */
	char reason[160];     /* "cold start: 1 worker initializing" (plain ASCII
	                         but for the endpoint name, which the caller
	                         sanitises like any text from a config) */
	int64_t estimate_ms;  /* until it starts, from now_ms; -1: no estimate */
	int basis_n;          /* the estimate is the median of this many jobs */
};

/* Start in for job j at now_ms: zeroed, then the job, the time and whether
 * its backend runs one job at a time here (a kind without remote workers to
 * count, as the backend kind table says). */
void waitwhy_in_init(struct waitwhy_in *in, const struct job *j, int64_t now_ms);

/* Fill in's health fields from an engine health report (NULL or not valid:
 * unknown; health_why then says why when h does: its error, a refused key,
 * no such endpoint, no /health on that server). */
void waitwhy_in_health(struct waitwhy_in *in, const struct engine_health *h);

/* Count o, another live job of in->job's endpoint (the caller matches the
 * endpoint): queued before it (ahead) or after (behind), or for a local
 * backend the one it runs (the blocker). */
void waitwhy_in_other(struct waitwhy_in *in, const struct job *o);

/* Medians of the delay and execution times of jobs[0..n) that finished
 * COMPLETED and reported them (-1 = unknown is skipped). */
void waitwhy_stats_of(const struct job *const *jobs, size_t n, struct waitwhy_stats *out);

/* Why in->job waits. Pure. */
void waitwhy_explain(const struct waitwhy_in *in, struct waitwhy *out);

/* The one-line form: "4 ahead in the queue, ~40 s (median of the last 20
 * jobs)" or "..., no estimate". Returns buf. */
char *waitwhy_format(const struct waitwhy *w, char *buf, size_t size);

/* Read from st what waitwhy_explain needs about job j (the jobs ahead, the
 * local blocker, the endpoint's last WAITWHY_HISTORY finished jobs) and
 * explain it, with the endpoint's health h (may be NULL). 0 or -1. */
int waitwhy_gather(struct store *st, const struct job *j, const struct engine_health *h,
                   int64_t now_ms, struct waitwhy *out, char **err);

#endif
