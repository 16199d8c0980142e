/*
 * test_cost.c: what jobs cost: price_per_second from the config (parsed and
 * refused), a job's cost from its recorded execution time, "no price set"
 * and "no execution time" instead of a guess, totals and their wording.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "cost.h"
#include "job.h"
#include "store.h"
#include "th.h"

static struct config *load(const char *text, char **err)
{
	struct config *cfg = config_new_defaults(err);

	if (cfg && config_parse(cfg, text, "test.conf", err) < 0) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

static const char conf[] = "[endpoint \"sdxl\"]\n"
                           "\turl = abc123\n"
                           "\tprice_per_second = 0.00044\n"
                           "[endpoint \"free\"]\n"
                           "\turl = def456\n"
                           "[local \"gpu\"]\n"
                           "\tmodel = /m.safetensors\n"
                           "\tprice-per-second = 0\n";

static struct job *mk(const char *ep, int64_t exec_ms)
{
	struct job *j = job_new();
	job_set_str(&j->endpoint, ep);
	j->exec_ms = exec_ms;
	return j;
}

static void test_config_price(void)
{
	char *err = NULL;
	struct config *cfg = load(conf, &err);

	if (!CHECK(cfg)) {
		fprintf(stderr, "  %s\n", err ? err : "?");
		free(err);
		return;
	}
	CHECK_INT(cfg->n_endpoints, 3);
	CHECK(cfg->endpoints[0].price_set && fabs(cfg->endpoints[0].price_per_s - 0.00044) < 1e-12);
	CHECK(!cfg->endpoints[1].price_set);
	CHECK(cfg->endpoints[2].price_set && cfg->endpoints[2].price_per_s == 0);
	config_free(cfg);

	static const char *const bad[] = {"-1", "abc", "0.1x", "", "nan", "1e9", NULL};
	for (int i = 0; bad[i]; i++) {
		char text[200];
		snprintf(text, sizeof text,
		         "[endpoint \"a\"]\n\turl = x1\n\tprice_per_second = %s\n", bad[i]);
		cfg = load(text, &err);
		if (!CHECK(cfg == NULL))
			fprintf(stderr, "  accepted price_per_second = %s\n", bad[i]);
		CHECK(err && strstr(err, "price_per_second") && strstr(err, "test.conf"));
		free(err);
		err = NULL;
		config_free(cfg);
	}
	/* not a [ui] or [core] key */
	cfg = load("[ui]\n\tprice_per_second = 1\n", &err);
	CHECK(cfg == NULL);
	free(err);
	config_free(cfg);
}

static void test_job_cost(void)
{
	char *err = NULL;
	struct config *cfg = load(conf, &err);
	struct job *j;
	double c = -1;

	if (!CHECK(cfg))
		return;
	j = mk("sdxl", 12500); /* 12.5 s */
	CHECK_INT(cost_job(cfg, j, &c), COST_OK);
	CHECK(fabs(c - 0.0055) < 1e-12);
	job_free(j);

	j = mk("free", 12500);
	c = -1;
	CHECK_INT(cost_job(cfg, j, &c), COST_NO_PRICE);
	CHECK(c == -1); /* untouched */
	job_free(j);

	j = mk("gone", 1000); /* an endpoint no longer in the config */
	CHECK_INT(cost_job(cfg, j, &c), COST_NO_PRICE);
	job_free(j);

	j = mk("sdxl", -1); /* never ran, or RunPod did not say */
	CHECK_INT(cost_job(cfg, j, &c), COST_NO_TIME);
	job_free(j);

	j = mk("gpu", 60000); /* priced at 0: free, not "no price" */
	CHECK_INT(cost_job(cfg, j, &c), COST_OK);
	CHECK(c == 0);
	job_free(j);
	config_free(cfg);
}

static void test_sums(void)
{
	char *err = NULL, buf[200];
	struct config *cfg = load(conf, &err);
	struct cost_sum s = {0};
	static const struct {
		const char *ep;
		int64_t ms;
	} jobs[] = {{"sdxl", 10000}, {"sdxl", 2500}, {"free", 4000}, {"sdxl", -1}, {"gpu", 1000}};

	if (!CHECK(cfg))
		return;
	cost_sum_format(&s, buf, sizeof buf);
	CHECK_STR(buf, "nothing ran");
	for (size_t i = 0; i < sizeof jobs / sizeof jobs[0]; i++) {
		struct job *j = mk(jobs[i].ep, jobs[i].ms);
		cost_add(&s, cfg, j);
		job_free(j);
	}
	CHECK_INT(s.priced, 3);
	CHECK_INT(s.no_price, 1);
	CHECK_INT(s.no_time, 1);
	CHECK_INT(s.exec_ms, 13500);
	CHECK(fabs(s.total - 0.0055) < 1e-12);
	cost_sum_format(&s, buf, sizeof buf);
	CHECK_STR(buf, "0.0055 for 3 jobs (13.5 s), 1 with no price set");

	memset(&s, 0, sizeof s);
	{
		struct job *j = mk("free", 1000);
		cost_add(&s, cfg, j);
		cost_add(&s, cfg, j);
		job_free(j);
	}
	cost_sum_format(&s, buf, sizeof buf);
	CHECK_STR(buf, "no price set (2 jobs)");

	cost_format(0.00123456, buf, sizeof buf);
	CHECK_STR(buf, "0.0012");
	cost_format(12.4, buf, sizeof buf);
	CHECK_STR(buf, "12.40");
	config_free(cfg);
}

/* The day's total from a history: only jobs created since the day began,
 * of one endpoint or all, across pages. */
static void test_since(void)
{
	char *err = NULL, path[4200];
	struct config *cfg = load(conf, &err);
	struct store *st;
	struct cost_sum all = {0}, sdxl = {0};
	int64_t now = 1795000000000, day = cost_day_start(now);

	snprintf(path, sizeof path, "%s/history.db", th_tmpdir());
	st = store_open(path, &err);
	if (!CHECK(cfg) || !CHECK(st))
		return;
	CHECK(day <= now && now - day < 25 * 3600 * 1000LL);
	CHECK_INT(cost_day_start(day), day);
	for (int i = 0; i < 1203; i++) { /* more than two pages */
		struct job *j = mk(i % 3 == 2 ? "free" : "sdxl", 1000);
		j->created_at = i < 3 ? day - 1000 : day + i; /* the first 3: yesterday */
		j->state = JOB_COMPLETED;
		CHECK_INT(store_job_add(st, j, NULL), 0);
		job_free(j);
	}
	CHECK_INT(cost_since(st, cfg, NULL, day, &all, &err), 0);
	CHECK_INT(all.priced + all.no_price, 1200);
	CHECK_INT(all.no_price, 400);
	CHECK_INT(cost_since(st, cfg, "sdxl", day, &sdxl, &err), 0);
	CHECK_INT(sdxl.priced, 800);
	CHECK_INT(sdxl.no_price, 0);
	CHECK(fabs(sdxl.total - 800 * 0.00044) < 1e-9);

	/* a group's total: only its jobs */
	{
		struct store_group g = {0};
		struct cost_sum gs = {0};
		int64_t gid;

		g.njobs = 3;
		gid = store_group_add(st, &g, &err);
		CHECK(gid > 0);
		for (int i = 0; i < 3; i++) {
			struct job *j = mk(i == 2 ? "free" : "sdxl", 2000);
			j->group_id = gid;
			j->state = JOB_COMPLETED;
			CHECK_INT(store_job_add(st, j, NULL), 0);
			job_free(j);
		}
		CHECK_INT(cost_group(st, cfg, gid, &gs, &err), 0);
		CHECK_INT(gs.priced, 2);
		CHECK_INT(gs.no_price, 1);
		CHECK(fabs(gs.total - 4 * 0.00044) < 1e-12);
	}
	store_close(st);
	config_free(cfg);
}

int main(void)
{
	TH_RUN(test_config_price);
	TH_RUN(test_job_cost);
	TH_RUN(test_sums);
	TH_RUN(test_since);
	return th_done("test_cost");
}
