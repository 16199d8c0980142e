/*
 * groupact.c: acting on a whole group (see groupact.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "job.h"
#include "store.h"
#include "util.h"
#include "groupact.h"

/* Group gid's jobs (live_only: the live ones), oldest first. 0 or -1. */
static int ga_jobs(struct store *st, int64_t gid, int live_only, struct job ***jobs, size_t *n,
                   char **err)
{
	struct store_query q;
	memset(&q, 0, sizeof q);
	q.group_id = gid;
	q.live_only = live_only;
	q.oldest_first = 1;
	*jobs = NULL;
	*n = 0;
	return store_job_list(st, &q, jobs, n, err);
}

static const char *ga_endpoint(const struct job *j)
{
	return j->endpoint ? j->endpoint : j->params.endpoint ? j->params.endpoint : "";
}

int groupact_info(struct store *st, int64_t gid, struct groupact_info *out, char **err)
{
	struct job **jobs;
	size_t n;
	memset(out, 0, sizeof *out);
	if (ga_jobs(st, gid, 0, &jobs, &n, err) < 0)
		return -1;
	size_t neps = 0;
	out->n = n;
	for (size_t i = 0; i < n; i++) {
		if (job_state_is_live(jobs[i]->state))
			out->live++;
		else
			out->files += jobs[i]->n_outputs;
		size_t k = 0; /* a name not seen before (groups are small) */
		while (k < i && strcmp(ga_endpoint(jobs[k]), ga_endpoint(jobs[i])) != 0)
			k++;
		neps += k == i;
	}
	if (neps == 1)
		snprintf(out->endpoint, sizeof out->endpoint, "%s", ga_endpoint(jobs[0]));
	else if (neps > 1)
		snprintf(out->endpoint, sizeof out->endpoint, "%zu endpoints", neps);
	store_jobs_free(jobs, n);
	return 0;
}

int groupact_cancel(struct engine *e, struct store *st, int64_t gid, size_t *done, char **err)
{
	struct job **jobs;
	size_t n;
	int rc;
	*done = 0;
	if (ga_jobs(st, gid, 1, &jobs, &n, err) < 0)
		return -1;
	int64_t *ids = calloc(n ? n : 1, sizeof *ids);
	if (!ids) {
		store_jobs_free(jobs, n);
		util_set_err(err, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		ids[i] = jobs[i]->id;
	store_jobs_free(jobs, n);
	/* one commit for them all, not one per job (seconds for 1000+) */
	rc = engine_cancel_many(e, ids, n, done, err);
	free(ids);
	return rc;
}

int64_t groupact_rerun(struct engine *e, struct store *st, int64_t gid, int64_t **ids,
                       size_t *nids, char **err)
{
	struct store_group *g = NULL, ng;
	struct job **jobs = NULL;
	size_t n = 0;
	int64_t *out = NULL, ngid = 0;
	const struct job_params **ps = NULL;
	const char **vs = NULL;
	*ids = NULL;
	*nids = 0;
	if (!(g = store_group_get(st, gid, err))) {
		if (err && !*err)
			util_set_err(err, "no group %lld", (long long)gid);
		return 0;
	}
	if (ga_jobs(st, gid, 0, &jobs, &n, err) < 0)
		goto out;
	if (n == 0) {
		util_set_err(err, "group %lld has no jobs left in the history", (long long)gid);
		goto out;
	}
	out = calloc(n, sizeof *out);
	ps = calloc(n, sizeof *ps);
	vs = calloc(n, sizeof *vs);
	if (!out || !ps || !vs) {
		util_set_err(err, "out of memory");
		goto out;
	}
	memset(&ng, 0, sizeof ng);
	ng.prompt = g->prompt;
	ng.negative_prompt = g->negative_prompt;
	ng.axes_json = g->axes_json;
	ng.njobs = (int)n;
	if (!(ngid = store_group_add(st, &ng, err)))
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct job *j = jobs[i];
		if (!j->params.endpoint && j->endpoint)
			job_set_str(&j->params.endpoint, j->endpoint);
		ps[i] = &j->params;
		vs[i] = j->variant;
	}
	/* made in order, recorded in one commit (engine_submit_many) */
	if (engine_submit_many(e, ps, vs, n, ngid, out, nids, err) < 0) {
		char *m = util_asprintf("job %lld: %s (%zu of %zu submitted again, group %lld)",
		                        (long long)jobs[*nids < n ? *nids : n - 1]->id,
		                        err && *err ? *err : "error", *nids, n, (long long)ngid);
		if (err) {
			free(*err);
			*err = m;
		} else {
			free(m);
		}
	}
out:
	free(ps);
	free(vs);
	store_jobs_free(jobs, n);
	store_group_free(g);
	if (!*nids) {
		free(out);
		return 0;
	}
	*ids = out;
	return ngid;
}

int groupact_delete(struct store *st, int64_t gid, int files, size_t *deleted, size_t *gone,
                    size_t *failed, char **err)
{
	struct job **jobs;
	size_t n;
	int rc = 0;
	*deleted = *gone = *failed = 0;
	if (ga_jobs(st, gid, 0, &jobs, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n && rc == 0; i++) {
		const struct job *j = jobs[i];
		if (job_state_is_live(j->state))
			continue;
		if (store_job_delete(st, j->id, err) < 0) {
			rc = -1;
			break;
		}
		(*deleted)++;
		for (size_t k = 0; files && k < j->n_outputs; k++) {
			if (j->outputs[k].path && unlink(j->outputs[k].path) == 0)
				(*gone)++;
			else
				(*failed)++;
		}
	}
	store_jobs_free(jobs, n);
	return rc;
}
