/*
 * cost.h: what jobs cost. RunPod bills the seconds a worker runs, which it
 * reports as a job's executionTime (job.exec_ms; sd.cpp jobs record their
 * run time the same way). With a price per second set for the job's
 * endpoint (price_per_second in the config, any currency), a job costs
 * exec_ms / 1000 * price. Nothing is guessed: a job whose endpoint has no
 * price, or that has no execution time, has no cost, and totals say how
 * many such jobs they left out.
 */
#ifndef SDQ_COST_H
#define SDQ_COST_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct job;
struct store;

enum cost_status {
	COST_OK,       /* *out is the cost */
	COST_NO_PRICE, /* the job's endpoint has no price_per_second (or is not in cfg) */
	COST_NO_TIME,  /* the job has no execution time (never ran, or not told) */
};

/* The cost of j at the price cfg gives its endpoint (by name). *out is set
 * only for COST_OK. */
enum cost_status cost_job(const struct config *cfg, const struct job *j, double *out);

/* A running total: zero-initialise, then cost_add each job. */
struct cost_sum {
	double total;    /* of the priced jobs */
	int64_t exec_ms; /* their execution time */
	size_t priced;   /* jobs counted in total */
	size_t no_price; /* jobs that ran on an endpoint with no price */
	size_t no_time;  /* jobs with no execution time (not counted) */
};
void cost_add(struct cost_sum *s, const struct config *cfg, const struct job *j);

/* Add every job of st created at or after since_ms (ms since the epoch) to
 * s, only those of endpoint when it is not NULL. Reads the history newest
 * first, a page at a time. 0, or -1 with *err set. */
int cost_since(struct store *st, const struct config *cfg, const char *endpoint, int64_t since_ms,
               struct cost_sum *s, char **err);

/* Add every job of group gid (store_group_add) to s. 0, or -1 with *err. */
int cost_group(struct store *st, const struct config *cfg, int64_t gid, struct cost_sum *s,
               char **err);

/* The local midnight (ms since the epoch) that starts the day of ms. */
int64_t cost_day_start(int64_t ms);

/* A cost as text: 4 decimals under 1, else 2 ("0.0123", "12.40"). */
void cost_format(double c, char *buf, size_t len);

/* A total as one line: "0.1530 for 12 jobs (91.2 s)", then ", 3 with no
 * price set" when some ran without a price; "no price set (3 jobs)" when
 * none had one; "nothing ran" when no job ran. */
void cost_sum_format(const struct cost_sum *s, char *buf, size_t len);

#endif
