/*
 * jobset.h: the jobs of one submit, made, checked and recorded as one group.
 * `sdq submit` (tui/cmd_submit.c) and the dashboard's compose form
 * (tui/view_compose.c) both go through it, so a group from either is the
 * same: the same jobs in the same order, one seed for them all unless the
 * seed varies, one job_groups row, and each job's group id and variant.
 *
 *   jobset_new     base parameters x a vary (vary.h) -> the jobs
 *   jobset_check   every job rendered as the engine will render it, so a
 *                  job its template cannot take stops the whole submit
 *                  before anything is recorded
 *   jobset_submit  the group row (only for more than one job), then the
 *                  jobs in order, each PENDING in the store (engine.h)
 *
 * No printing: errors are malloc'd in *err (util.h's convention).
 */
#ifndef SDQ_JOBSET_H
#define SDQ_JOBSET_H

#include <stddef.h>
#include <stdint.h>

#include "job.h"

struct config;
struct engine;
struct vary;

struct jobset;

/* The jobs base x v: job i is a copy of base made job i of v by vary_apply
 * (base holds the prompt and negative prompt as typed, with their {a|b}
 * groups, which the group row records). When v makes several jobs and
 * base->seed < 0, one random seed is picked for them all (a varying seed
 * still sets its own). v is only read: it may be freed afterwards. NULL
 * with *err (a job vary_apply cannot make: the message names it, ENOMEM). */
struct jobset *jobset_new(const struct job_params *base, const struct vary *v, char **err);
/* Free s (the jobs submitted stay in the store). Accepts NULL. */
void jobset_free(struct jobset *s);

/* A random seed, from the range engine_submit picks one from for a lone
 * job: the base of --seeds N when no seed is given. */
int64_t jobset_random_seed(void);

/* The number of jobs (1..VARY_MAX_JOBS). */
size_t jobset_count(const struct jobset *s);
/* Job i's parameters (borrowed; NULL out of range). */
const struct job_params *jobset_job(const struct jobset *s, size_t i);
/* Job i's variant, vary_variant_json() (borrowed); NULL for a lone job. */
const char *jobset_variant(const struct jobset *s, size_t i);

/* 0 if every job to a RunPod endpoint of cfg can be built by its template
 * (the job's own template, else its endpoint's, else the default, as
 * engine_submit_opts picks it; params_build_input), else -1 with *err:
 * "no template "X"; templates: ..." or "template X: ...", naming the job
 * ("job 2 of 6: {"sampler":"heun"}") when there are several. Jobs to an
 * endpoint cfg does not have are left to engine_submit_opts to refuse. */
int jobset_check(const struct jobset *s, struct config *cfg, char **err);

/* Record the jobs not recorded yet, in order, through engine_submit_opts
 * (sync_wait_ms as there; 0: /run): first the group row, once, when there
 * are several jobs (store_group_add: the prompts as typed, the axes, the
 * number of jobs), then each job with its group id and variant.
 * 0: all are recorded. 1: the endpoint's api_key_cmd is still running
 * (engine_key_pending; *err says so): call again once it has answered,
 * and it goes on where it stopped. -1 with *err: stopped there
 * (jobset_submitted says how many are recorded). */
int jobset_submit(struct jobset *s, struct engine *e, int sync_wait_ms, char **err);
/* How many jobs are recorded; job i's id (0 if not recorded); the group's
 * id (0 for a lone job or before jobset_submit). */
size_t jobset_submitted(const struct jobset *s);
int64_t jobset_id(const struct jobset *s, size_t i);
int64_t jobset_group(const struct jobset *s);

#endif
