/*
 * cost.c: a job's cost from its execution time and its endpoint's price per
 * second, and totals over many jobs (cost_since reads them from the store).
 */
#include "cost.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "job.h"
#include "store.h"

/* Jobs read from the history per page by cost_since. */
#define COST_PAGE 500

enum cost_status cost_job(const struct config *cfg, const struct job *j, double *out)
{
	const struct config_endpoint *ep = NULL;
	const char *name = j->endpoint ? j->endpoint : j->params.endpoint;

	for (size_t i = 0; cfg && name && i < cfg->n_endpoints; i++)
		if (strcmp(cfg->endpoints[i].name, name) == 0)
			ep = &cfg->endpoints[i];
	if (j->exec_ms < 0)
		return COST_NO_TIME;
	if (!ep || !ep->price_set)
		return COST_NO_PRICE;
	*out = (double)j->exec_ms / 1000.0 * ep->price_per_s;
	return COST_OK;
}

void cost_add(struct cost_sum *s, const struct config *cfg, const struct job *j)
{
	double c;

	switch (cost_job(cfg, j, &c)) {
	case COST_OK:
		s->total += c;
		s->exec_ms += j->exec_ms;
		s->priced++;
		break;
	case COST_NO_PRICE:
		s->no_price++;
		break;
	case COST_NO_TIME:
		s->no_time++;
		break;
	}
}

struct since {
	const struct config *cfg;
	const char *endpoint;
	int64_t since_ms;
	struct cost_sum *s;
};

/* store_job_walk: a job created before since_ms ends the walk after its page */
static int since_job(const struct job *j, void *udata)
{
	struct since *w = udata;
	const char *ep = j->endpoint ? j->endpoint : j->params.endpoint;

	if (j->created_at < w->since_ms)
		return 0;
	if (!w->endpoint || (ep && strcmp(ep, w->endpoint) == 0))
		cost_add(w->s, w->cfg, j);
	return 1;
}

int cost_since(struct store *st, const struct config *cfg, const char *endpoint, int64_t since_ms,
               struct cost_sum *s, char **err)
{
	struct store_query q = {0};
	struct since w = {cfg, endpoint, since_ms, s};

	return store_job_walk(st, &q, COST_PAGE, since_job, &w, err);
}

int cost_group(struct store *st, const struct config *cfg, int64_t gid, struct cost_sum *s,
               char **err)
{
	struct store_query q = {0};
	struct job **jobs = NULL;
	size_t n = 0;

	q.group_id = gid;
	if (store_job_list(st, &q, &jobs, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		cost_add(s, cfg, jobs[i]);
	store_jobs_free(jobs, n);
	return 0;
}

int64_t cost_day_start(int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (!localtime_r(&t, &tm))
		return ms;
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = -1;
	return (int64_t)mktime(&tm) * 1000;
}

void cost_format(double c, char *buf, size_t len)
{
	snprintf(buf, len, c < 1.0 ? "%.4f" : "%.2f", c);
}

void cost_sum_format(const struct cost_sum *s, char *buf, size_t len)
{
	char c[32];
	int w;

	if (!s->priced && !s->no_price) {
		snprintf(buf, len, "nothing ran");
		return;
	}
	if (!s->priced) {
		snprintf(buf, len, "no price set (%zu job%s)", s->no_price,
		         s->no_price == 1 ? "" : "s");
		return;
	}
	cost_format(s->total, c, sizeof c);
	w = snprintf(buf, len, "%s for %zu job%s (%.1f s)", c, s->priced, s->priced == 1 ? "" : "s",
	             (double)s->exec_ms / 1000.0);
	if (s->no_price && w >= 0 && (size_t)w < len)
		snprintf(buf + w, len - (size_t)w, ", %zu with no price set", s->no_price);
}
