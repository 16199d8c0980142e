/*
 * cmd_jobs.c: the commands that read or edit the history: sdq ls, show, get
 * and rm. Only show runs an engine, briefly: the /health of a queued remote
 * job's endpoint, for its waiting line.
 */
#include "cmd_jobs.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/stat.h>

#include "backend.h"
#include "cmd.h"
#include "config.h"
#include "engine.h"
#include "job.h"
#include "store.h"
#include "text.h"
#include "util.h"
#include "waitwhy.h"

/* -------------------------------------------------------------------- ls */

/* Parse "IN_QUEUE,failed,live" into a state mask; -1 on an unknown name. */
static int parse_states(const char *s, int *mask, int *live)
{
	char *copy = strdup(s), *tok, *save = NULL;
	int rc = 0;
	if (!copy)
		return -1;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		enum job_state st;
		while (*tok == ' ')
			tok++;
		if (!*tok)
			continue;
		if (strcasecmp(tok, "live") == 0) {
			*live = 1;
			continue;
		}
		if (strcasecmp(tok, "done") == 0 || strcasecmp(tok, "terminal") == 0) {
			for (int i = 0; i < JOB_STATE_COUNT; i++)
				if (job_state_is_terminal((enum job_state)i))
					*mask |= 1 << i;
			continue;
		}
		st = job_state_parse(tok);
		if (st == JOB_OTHER && strcasecmp(tok, "OTHER") != 0) {
			rc = -1;
			break;
		}
		*mask |= 1 << st;
	}
	free(copy);
	return rc;
}

/* Say on stderr which of jobs wait for a driver that holds their API key
 * (store_job_waits_for_key): nothing moves them until sdq runs with it. */
static void note_key_waits(struct store *st, struct job **jobs, size_t n)
{
	char line[600];
	int len = 0, shown = 0, count = 0;
	const char *fp = NULL;

	line[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (!store_job_waits_for_key(st, jobs[i]))
			continue;
		count++;
		if (!fp)
			fp = jobs[i]->key_fp;
		if (shown < 10 && len >= 0 && (size_t)len < sizeof line - 40)
			len += snprintf(line + len, sizeof line - (size_t)len, "%s%lld",
			                shown++ ? ", " : "", (long long)jobs[i]->id);
	}
	if (!count)
		return;
	fprintf(stderr,
	        "sdq: job%s %s%s wait%s for a driver with %s API key (key %s%s): run sdq with the "
	        "key %s submitted with (e.g. sdq driver)\n",
	        count == 1 ? "" : "s", line, shown < count ? ", ..." : "", count == 1 ? "s" : "",
	        count == 1 ? "its" : "their", fp, count > 1 ? ", ..." : "",
	        count == 1 ? "it was" : "they were");
}

/* The JSON form of a group (ls --groups --json). */
static cJSON *group_json(const struct store_group *g)
{
	cJSON *o = cJSON_CreateObject(), *states, *x;
	char buf[32];

	if (!o)
		return NULL;
	snprintf(buf, sizeof buf, "%lld", (long long)g->id);
	cJSON_AddRawToObject(o, "group", buf);
	cmd_json_str(o, "prompt", g->prompt);
	cmd_json_str(o, "negative_prompt", g->negative_prompt);
	x = g->axes_json ? cJSON_Parse(g->axes_json) : NULL;
	if (cJSON_IsArray(x))
		cJSON_AddRawToObject(o, "axes", g->axes_json); /* numbers exact */
	else
		cJSON_AddNullToObject(o, "axes");
	cJSON_Delete(x);
	cJSON_AddNumberToObject(o, "submitted", g->njobs);
	cJSON_AddNumberToObject(o, "jobs", g->nhistory);
	states = cJSON_AddObjectToObject(o, "states");
	for (int s = 0; states && s < JOB_STATE_COUNT; s++)
		if (g->nstate[s])
			cJSON_AddNumberToObject(states, job_state_name((enum job_state)s), g->nstate[s]);
	cmd_json_time(o, "created_at", g->created_at);
	return o;
}

/* "6 jobs: 4 COMPLETED, 2 IN_QUEUE" into buf. */
static void group_summary(const struct store_group *g, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%d job%s", g->nhistory, g->nhistory == 1 ? "" : "s");
	const char *sep = ": ";
	for (int s = 0; s < JOB_STATE_COUNT && n >= 0 && (size_t)n < len; s++) {
		if (!g->nstate[s])
			continue;
		n += snprintf(buf + n, len - (size_t)n, "%s%d %s", sep, g->nstate[s],
		              job_state_name((enum job_state)s));
		sep = ", ";
	}
}

/* ls --groups: one line (or JSON object) per group with a job matching q. */
static int ls_groups(struct store *st, const struct store_query *q, int json)
{
	struct store_group **gs = NULL;
	size_t n = 0;
	char *err = NULL;
	int cols = cmd_term_cols(), rc = 0;
	int64_t now = job_now_ms();

	if (store_group_list(st, q, &gs, &n, &err) < 0) {
		cmd_errf_core("ls", "cannot read the history", err);
		return 1;
	}
	if (json) {
		cJSON *a = cJSON_CreateArray();
		for (size_t i = 0; a && i < n; i++)
			cJSON_AddItemToArray(a, group_json(gs[i]));
		rc = cmd_json_print(a) < 0;
		store_groups_free(gs, n);
		return rc;
	}
	if (n > 0 && isatty(STDOUT_FILENO))
		printf("%6s  %5s  %-40s %s\n", "GROUP", "AGE", "JOBS", "PROMPT");
	for (size_t i = 0; i < n; i++) {
		char age[16], sum[200], lead[300], *pr;
		int w;
		cmd_fmt_age(now - gs[i]->created_at, age, sizeof age);
		group_summary(gs[i], sum, sizeof sum);
		w = snprintf(lead, sizeof lead, "%6lld  %5s  %-40s ", (long long)gs[i]->id, age, sum);
		fputs(lead, stdout);
		pr = cmd_clean(gs[i]->prompt);
		cmd_put_fit(pr, cols > 0 ? cols - w : 0);
		putchar('\n');
		free(pr);
	}
	if (n == 0 && isatty(STDOUT_FILENO))
		fputs("no groups: sdq submit -p \"a {red|blue} car\" makes one\n", stderr);
	store_groups_free(gs, n);
	return 0;
}

int cmd_jobs_ls(struct config *cfg, int argc, char **argv)
{
	static const struct option lo[] = {
	    {"json", no_argument, 0, 'j'},        {"state", required_argument, 0, 's'},
	    {"limit", required_argument, 0, 'l'}, {"all", no_argument, 0, 'a'},
	    {"group", required_argument, 0, 'g'}, {"groups", no_argument, 0, 'G'},
	    {"help", no_argument, 0, 'h'},        {0, 0, 0, 0}};
	struct store_query q;
	struct store *st;
	struct job **jobs = NULL;
	size_t n = 0, tlen = 0;
	char *text = NULL, *err = NULL;
	int json = 0, all = 0, c, live = 0, cols, color, groups = 0;
	const char *group = NULL;
	long limit = 20;
	int64_t now;

	if (cmd_help_opt("ls", argc, argv))
		return 0;
	memset(&q, 0, sizeof q);
	cmd_opt_reset();
	while ((c = cmd_next_opt("ls", argc, argv, ":js:l:a", lo)) != -1) {
		switch (c) {
		case 'j':
			json = 1;
			break;
		case 's':
			if (parse_states(optarg, &q.state_mask, &live) < 0)
				return cmd_usage_error(
				    "ls",
				    "unknown state in '%s' (states: PENDING, "
				    "SUBMITTING, IN_QUEUE, IN_PROGRESS, "
				    "COMPLETED, FAILED, CANCELLED, TIMED_OUT, "
				    "SUBMIT_FAILED, EXPIRED, UNKNOWN, OTHER, live, "
				    "done)",
				    optarg);
			break;
		case 'l':
			if (cmd_parse_long(optarg, 1, INT_MAX, &limit) < 0)
				return cmd_usage_error("ls", "--limit needs a positive number");
			break;
		case 'a':
			all = 1;
			break;
		case 'g':
			if (!cmd_parse_group(optarg))
				return cmd_usage_error("ls", "--group needs a group number (sdq ls --groups)");
			group = optarg;
			break;
		case 'G':
			groups = 1;
			break;
		default:
			return 2;
		}
	}
	if (group && groups)
		return cmd_usage_error("ls", "--group G lists one group's jobs, --groups the groups: "
		                             "not both");
	for (int i = optind; i < argc; i++) {
		size_t l = strlen(argv[i]);
		char *t = realloc(text, tlen + l + 2);
		if (!t) {
			free(text);
			return 1;
		}
		text = t;
		if (tlen)
			text[tlen++] = ' ';
		memcpy(text + tlen, argv[i], l + 1);
		tlen += l;
	}
	q.text = text;
	q.live_only = live && !q.state_mask;
	if (live && q.state_mask)
		for (int i = 0; i < JOB_STATE_COUNT; i++)
			if (job_state_is_live((enum job_state)i))
				q.state_mask |= 1 << i;
	q.limit = all ? 0 : (int)limit;

	if (!(st = cmd_open_store(cfg, "ls"))) {
		free(text);
		return 1;
	}
	if (group) {
		/* a group's jobs in the order they were made (their variants') */
		if (!(q.group_id = cmd_find_group(st, group, "ls"))) {
			free(text);
			store_close(st);
			return 1;
		}
		q.oldest_first = 1;
		if (!all && limit == 20)
			q.limit = 0;
	}
	if (groups) {
		c = ls_groups(st, &q, json);
		free(text);
		store_close(st);
		return c;
	}
	if (store_job_list(st, &q, &jobs, &n, &err) < 0) {
		cmd_errf_core("ls", "cannot read the history", err);
		free(text);
		store_close(st);
		return 1;
	}
	free(text);
	if (json) {
		cJSON *a = cJSON_CreateArray();
		for (size_t i = 0; a && i < n; i++)
			cJSON_AddItemToArray(a, cmd_job_json(jobs[i], NULL, 0));
		c = cmd_json_print(a) < 0;
		store_jobs_free(jobs, n);
		store_close(st);
		return c;
	}
	cols = cmd_term_cols();
	color = cmd_use_color();
	now = job_now_ms();
	if (n > 0 && isatty(STDOUT_FILENO))
		printf("%6s  %-13s %5s  %-12s %s\n", "ID", "STATE", "AGE", "ENDPOINT", "PROMPT");
	for (size_t i = 0; i < n; i++) {
		const struct job *j = jobs[i];
		char age[16], *ep, *pr, lead[128];
		int w;
		cmd_fmt_age(now - j->created_at, age, sizeof age);
		ep = cmd_clean(j->endpoint          ? j->endpoint
		               : j->params.endpoint ? j->params.endpoint
		                                    : "-");
		if (j->group_id > 0) { /* "g12 the prompt": its group first */
			char *gp = util_asprintf("g%lld %s", (long long)j->group_id,
			                         j->params.prompt ? j->params.prompt : "");
			pr = cmd_clean(gp ? gp : j->params.prompt);
			free(gp);
		} else {
			pr = cmd_clean(j->params.prompt);
		}
		if (strlen(ep) > 12)
			strcpy(ep + 9, "...");
		w = snprintf(lead, sizeof lead, "%6lld  %-13s %5s  %-12s ", (long long)j->id,
		             job_state_name(j->state), age, ep);
		if (color) {
			printf("%6lld  %s%-13s\033[0m %5s  %-12s ", (long long)j->id,
			       cmd_state_color(j->state), job_state_name(j->state), age, ep);
		} else {
			fputs(lead, stdout);
		}
		cmd_put_fit(pr, cols > 0 ? cols - w : 0);
		putchar('\n');
		free(ep);
		free(pr);
	}
	if (n == 0 && isatty(STDOUT_FILENO))
		fputs(q.text || q.state_mask || q.live_only || q.group_id ? "no matching jobs\n"
		                                            : "no jobs yet: sdq submit -p PROMPT\n",
		      stderr);
	note_key_waits(st, jobs, n);
	store_jobs_free(jobs, n);
	store_close(st);
	return 0;
}

/* ------------------------------------------------------------------ show */

/* The other jobs of j's group still in the history (ids, oldest first):
 * a malloc'd array of *n, or NULL (none, or no group). */
static int64_t *siblings(struct store *st, const struct job *j, size_t *n)
{
	int64_t *ids;
	size_t k = 0;

	*n = 0;
	if (j->group_id <= 0 || !(ids = cmd_group_jobs(st, j->group_id, 0, "show", n)))
		return NULL;
	for (size_t i = 0; i < *n; i++)
		if (ids[i] != j->id)
			ids[k++] = ids[i];
	*n = k;
	return ids;
}

/* show's lines about j's group: its state, j's variant, the other jobs. */
static void show_group(struct store *st, const struct job *j)
{
	struct store_group *g = store_group_get(st, j->group_id, NULL);
	size_t n = 0;
	int64_t *sib = siblings(st, j, &n);
	char sum[200];
	cJSON *v = j->variant ? cJSON_Parse(j->variant) : NULL, *it;

	if (g) {
		group_summary(g, sum, sizeof sum);
		printf("%-10s %lld (%s; sdq ls --group %lld)\n", "group", (long long)j->group_id,
		       sum, (long long)j->group_id);
	} else {
		printf("%-10s %lld\n", "group", (long long)j->group_id);
	}
	if (cmd_group_cost(st, j->group_id, sum, sizeof sum) == 0)
		printf("%-10s %s\n", "group cost", sum);
	if (cJSON_IsObject(v) && v->child) {
		struct util_buf b = {0};
		cJSON_ArrayForEach(it, v)
		{
			char *val = cJSON_IsString(it) ? NULL : cJSON_PrintUnformatted(it);
			const char *s = cJSON_IsString(it) ? it->valuestring : val ? val : "?";
			if (b.len)
				util_buf_put(&b, ", ", 2);
			util_buf_put(&b, it->string, strlen(it->string));
			util_buf_put(&b, "=", 1);
			util_buf_put(&b, s, strlen(s));
			free(val);
		}
		if (!b.oom)
			cmd_show_line("variant", b.p);
		free(b.p);
	}
	cJSON_Delete(v);
	if (n > 0) {
		printf("%-10s", "siblings");
		for (size_t i = 0; i < n && i < 50; i++)
			printf(" %lld", (long long)sib[i]);
		if (n > 50)
			printf(" ... (%zu in all)", n);
		putchar('\n');
	}
	free(sib);
	store_group_free(g);
}

/* How long show waits for an endpoint's /health before it says why not. */
#define SHOW_HEALTH_MS 2500

/* The endpoints' /health as one show saw them (copied out of the engine,
 * which lives only while it asks). */
struct show_health {
	char *name;
	struct engine_health h; /* counters and flags; error malloc'd, text NULL */
};

struct show_ctx {
	struct config *cfg;
	struct store *st;
	struct show_health *eps;
	size_t n;
};

static void show_ctx_free(struct show_ctx *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->eps[i].name);
		free(c->eps[i].h.error);
	}
	free(c->eps);
}

struct health_wait {
	const char *name;
	int seen;
};

static void on_health_event(struct engine *e, const struct engine_event *ev, void *udata)
{
	struct health_wait *w = udata;
	if (ev->type == ENGINE_EV_HEALTH && ev->endpoint && strcmp(ev->endpoint, w->name) == 0)
		w->seen = 1;
}

/* Ask endpoint name's /health through an engine of its own, at most
 * SHOW_HEALTH_MS; into *out (its error says why when there is no answer). */
static void fetch_health(struct show_ctx *c, const char *name, struct engine_health *out)
{
	const struct config_endpoint *ep = config_endpoint(c->cfg, name);
	struct health_wait w = {name, 0};
	struct engine *e = NULL;
	char *err = NULL, why[200] = "";

	memset(out, 0, sizeof *out);
	if (!ep) {
		snprintf(why, sizeof why, "endpoint %.60s is not in the config", name);
	} else if ((backend_kind_of(ep)->caps & BACKEND_NEEDS_KEY) && !ep->api_key_cmd &&
	           strcmp(config_endpoint_api(ep), "runpod-local") != 0) {
		char *key = config_api_key(ep, NULL);
		if (!key)
			snprintf(why, sizeof why, "no API key");
		config_key_free(key);
	}
	if (!why[0] && !(e = engine_new(c->cfg, c->st, &err)))
		snprintf(why, sizeof why, "%.150s", err ? err : "cannot start the engine");
	if (e) {
		int64_t start = util_now_ms();
		engine_set_callback(e, on_health_event, &w);
		if (engine_health_refresh(e, ep->name, &err) < 0) {
			snprintf(why, sizeof why, "%.150s", err ? err : "cannot ask");
		} else {
			while (!w.seen && util_now_ms() - start < SHOW_HEALTH_MS) {
				int64_t left = SHOW_HEALTH_MS - (util_now_ms() - start);
				if (engine_step(e, left < 100 ? (int)left : 100) < 0)
					break;
			}
			const struct engine_health *h = engine_health(e, ep->name);
			if (w.seen && h) {
				*out = *h;
				out->text = NULL;
				out->error = h->error ? strdup(h->error) : NULL;
			} else {
				snprintf(why, sizeof why, "no answer within %d.%d s", SHOW_HEALTH_MS / 1000,
				         SHOW_HEALTH_MS % 1000 / 100);
			}
		}
		engine_free(e);
	}
	free(err);
	if (why[0]) {
		memset(out, 0, sizeof *out);
		out->error = strdup(why);
	}
}

/* The health show uses for live job j's waiting line: NULL when the line
 * does not need one (a local job, one not in a queue), else the endpoint's
 * report, asked once per endpoint per show. */
static const struct engine_health *show_health(struct show_ctx *c, const struct job *j)
{
	const char *name = j->endpoint ? j->endpoint : j->params.endpoint;
	struct show_health *ns;

	if (!name || !job_state_is_live(j->state) || j->state == JOB_PENDING ||
	    j->state == JOB_SUBMITTING || j->state == JOB_IN_PROGRESS ||
	    (j->backend && !(backend_kind_caps(j->backend) & BACKEND_REMOTE_HEALTH)))
		return NULL;
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->eps[i].name, name) == 0)
			return &c->eps[i].h;
	ns = realloc(c->eps, (c->n + 1) * sizeof *ns);
	if (!ns)
		return NULL;
	c->eps = ns;
	if (!(ns[c->n].name = strdup(name)))
		return NULL;
	fetch_health(c, name, &ns[c->n].h);
	return &c->eps[c->n++].h;
}

/* Why live job j waits (waitwhy.h): the store, and for a queued remote job
 * its endpoint's /health (show_health). 0 when j does not wait. */
static int show_wait(struct show_ctx *c, const struct job *j, struct waitwhy *w)
{
	char *err = NULL;
	int rc = waitwhy_gather(c->st, j, show_health(c, j), job_now_ms(), w, &err);
	free(err);
	return rc == 0 && w->waiting;
}

static void show_job(struct show_ctx *ctx, const struct job *j, const struct store_event *ev,
                     size_t nev, int waits_key)
{
	const struct job_params *p = &j->params;
	char buf[128], buf2[64];
	int color = cmd_use_color();

	printf("%-10s %lld\n", "id", (long long)j->id);
	if (j->remote_id)
		cmd_show_line("remote id", j->remote_id);
	if (color)
		printf("%-10s %s%s\033[0m", "state", cmd_state_color(j->state),
		       job_state_name(j->state));
	else
		printf("%-10s %s", "state", job_state_name(j->state));
	if (j->state == JOB_OTHER && j->status_text) {
		fputs(" (", stdout);
		cmd_put_clean(stdout, j->status_text);
		putchar(')');
	}
	if (job_state_is_live(j->state) && j->progress >= 0)
		printf(" %.0f%%", j->progress * 100);
	if (job_state_is_live(j->state) && j->progress_text) {
		putchar(' ');
		cmd_put_clean(stdout, j->progress_text);
	}
	putchar('\n');
	{
		struct waitwhy w;
		char wb[256];
		if (!waits_key && show_wait(ctx, j, &w))
			cmd_show_line("waiting", waitwhy_format(&w, wb, sizeof wb));
	}
	printf("%-10s ", "endpoint");
	cmd_put_clean(stdout, j->endpoint ? j->endpoint : p->endpoint ? p->endpoint : "-");
	if (j->backend || j->endpoint_url) {
		fputs(" (", stdout);
		cmd_put_clean(stdout, j->api ? j->api : j->backend ? j->backend : "");
		if (j->backend && j->endpoint_url)
			fputs(", ", stdout);
		cmd_put_clean(stdout, j->endpoint_url ? j->endpoint_url : "");
		putchar(')');
	}
	putchar('\n');
	if (j->key_fp)
		printf("%-10s %s (fingerprint of the API key it is sent with)\n", "key", j->key_fp);
	if (waits_key)
		printf("%-10s for a driver with its API key: run sdq with the key it was "
		       "submitted with (e.g. sdq driver)\n",
		       "waiting");
	if (j->group_id > 0)
		show_group(ctx->st, j);
	cmd_show_line("prompt", p->prompt);
	if (p->negative_prompt)
		cmd_show_line("negative", p->negative_prompt);
	if (p->seed >= 0)
		printf("%-10s %lld\n", "seed", (long long)p->seed);
	if (p->width > 0 || p->height > 0)
		printf("%-10s %dx%d\n", "size", p->width, p->height);
	if (p->steps > 0)
		printf("%-10s %d\n", "steps", p->steps);
	if (p->has_cfg)
		printf("%-10s %g\n", "cfg", p->cfg);
	if (p->sampler)
		cmd_show_line("sampler", p->sampler);
	if (p->count > 0)
		printf("%-10s %d\n", "count", p->count);
	if (p->template_name)
		cmd_show_line("template", p->template_name);
	if (p->extra_json)
		cmd_show_line("extra", p->extra_json);
	cmd_fmt_time(j->created_at, buf, sizeof buf);
	printf("%-10s %s\n", "created", buf);
	if (j->submitted_at) {
		cmd_fmt_time(j->submitted_at, buf, sizeof buf);
		printf("%-10s %s\n", "submitted", buf);
	}
	if (j->started_at) {
		cmd_fmt_time(j->started_at, buf, sizeof buf);
		printf("%-10s %s\n", "started", buf);
	}
	if (j->finished_at) {
		cmd_fmt_time(j->finished_at, buf, sizeof buf);
		cmd_fmt_dur(j->finished_at - j->created_at, buf2, sizeof buf2);
		printf("%-10s %s (%s after creation)\n", "finished", buf, buf2);
	}
	if (j->delay_ms >= 0) {
		cmd_fmt_dur(j->delay_ms, buf, sizeof buf);
		printf("%-10s %s\n", "queued", buf);
	}
	if (j->exec_ms >= 0) {
		double c;
		cmd_fmt_dur(j->exec_ms, buf, sizeof buf);
		printf("%-10s %s\n", "executed", buf);
		if (cmd_job_cost(j, &c) == COST_OK)
			cost_format(c, buf, sizeof buf);
		else
			snprintf(buf, sizeof buf, "no price set");
		printf("%-10s %s\n", "cost", buf);
	}
	if (j->worker_id)
		cmd_show_line("worker", j->worker_id);
	if (j->error)
		cmd_show_line("error", j->error);
	if (j->n_outputs == 0 && j->state == JOB_COMPLETED && j->raw_output)
		cmd_show_line("output", j->raw_output);
	if (j->log_tail)
		cmd_show_lines("log", j->log_tail);
	for (size_t i = 0; i < j->n_outputs; i++) {
		const struct job_output *o = &j->outputs[i];
		printf("%-10s ", i == 0 ? "images" : "");
		cmd_put_clean(stdout, o->path);
		if (o->width > 0)
			printf(" (%dx%d", o->width, o->height);
		else
			fputs(" (", stdout);
		if (o->format)
			printf("%s%s", o->width > 0 ? ", " : "", o->format);
		if (o->seed >= 0)
			printf(", seed %lld", (long long)o->seed);
		puts(")");
	}
	if (nev > 0)
		puts("events");
	for (size_t i = 0; i < nev; i++) {
		cmd_fmt_time(ev[i].at, buf, sizeof buf);
		printf("  %s  %-13s ", buf, ev[i].state ? ev[i].state : "");
		if (ev[i].detail)
			cmd_put_clean(stdout, ev[i].detail);
		putchar('\n');
	}
}

int cmd_jobs_show(struct config *cfg, int argc, char **argv)
{
	static const struct option lo[] = {
	    {"json", no_argument, 0, 'j'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	struct store *st;
	struct store_event *ev = NULL;
	size_t nev = 0;
	struct job *j;
	char *err = NULL;
	int json = 0, c, rc = 0;
	int64_t id;

	if (cmd_help_opt("show", argc, argv))
		return 0;
	cmd_opt_reset();
	while ((c = cmd_next_opt("show", argc, argv, ":j", lo)) != -1) {
		if (c == 'j')
			json = 1;
		else
			return 2;
	}
	if (optind >= argc)
		return cmd_usage_error("show", "which job? give an id (see sdq ls)");
	if (!(st = cmd_open_store(cfg, "show")))
		return 1;
	struct show_ctx ctx = {cfg, st, NULL, 0};
	if (json && argc - optind > 1)
		fputs("[\n", stdout);
	for (int i = optind; i < argc; i++) {
		if (!(id = cmd_find_job(st, argv[i], "show"))) {
			rc = 1;
			continue;
		}
		if (!(j = cmd_read_job(st, id, "show"))) {
			rc = 1;
			continue;
		}
		if (store_job_events(st, id, &ev, &nev, &err) < 0) {
			free(err);
			err = NULL;
			ev = NULL;
			nev = 0;
		}
		if (json) {
			static const struct store_event none;
			if (argc - optind > 1 && i > optind)
				fputs(",\n", stdout);
			cJSON *o = cmd_job_json(j, ev ? ev : &none, nev), *a;
			if (o && j->group_id > 0 && (a = cJSON_AddArrayToObject(o, "siblings"))) {
				size_t ns = 0;
				int64_t *sib = siblings(st, j, &ns);
				for (size_t k = 0; k < ns; k++) {
					char b[32];
					snprintf(b, sizeof b, "%lld", (long long)sib[k]);
					cJSON_AddItemToArray(a, cJSON_CreateRaw(b));
				}
				free(sib);
			}
			if (o) {
				struct waitwhy w;
				cJSON *wo;
				if (show_wait(&ctx, j, &w) &&
				    (wo = cJSON_AddObjectToObject(o, "waiting"))) {
					cJSON_AddStringToObject(wo, "reason", w.reason);
					if (w.estimate_ms >= 0)
						cJSON_AddNumberToObject(wo, "estimate_s",
						                        (double)((w.estimate_ms + 999) / 1000));
					else
						cJSON_AddNullToObject(wo, "estimate_s");
				} else {
					cJSON_AddNullToObject(o, "waiting");
				}
			}
			if (cmd_json_print(o) < 0)
				rc = 1;
		} else {
			if (i > optind)
				putchar('\n');
			show_job(&ctx, j, ev, nev, store_job_waits_for_key(st, j));
		}
		store_events_free(ev, nev);
		ev = NULL;
		nev = 0;
		job_free(j);
	}
	if (json && argc - optind > 1)
		fputs("]\n", stdout);
	show_ctx_free(&ctx);
	store_close(st);
	return rc;
}
int cmd_jobs_get(struct config *cfg, int argc, char **argv)
{
	static const struct option lo[] = {
	    {"output", required_argument, 0, 'o'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	struct store *st;
	struct job *j;
	const char *dir = ".";
	int c, rc = 0;
	int64_t id;

	if (cmd_help_opt("get", argc, argv))
		return 0;
	cmd_opt_reset();
	while ((c = cmd_next_opt("get", argc, argv, ":o:", lo)) != -1) {
		if (c == 'o')
			dir = optarg;
		else
			return 2;
	}
	if (argc - optind != 1)
		return cmd_usage_error("get", "give one job id");
	if (!(st = cmd_open_store(cfg, "get")))
		return 1;
	if (!(id = cmd_find_job(st, argv[optind], "get"))) {
		store_close(st);
		return 1;
	}
	if (!(j = cmd_read_job(st, id, "get"))) {
		store_close(st);
		return 1;
	}
	store_close(st);
	if (j->n_outputs == 0) {
		if (job_state_is_live(j->state))
			cmd_errf("get", "job %lld is %s, no images yet: sdq wait %lld",
			         (long long)id, job_state_name(j->state), (long long)id);
		else
			cmd_errf("get", "job %lld (%s) has no images", (long long)id,
			         job_state_name(j->state));
		job_free(j);
		return 1;
	}
	if (config_mkdirs(dir, 0755) < 0) {
		char *d = cmd_clean(dir);
		cmd_errf("get", "cannot create %s: %s", d, strerror(errno));
		free(d);
		job_free(j);
		return 1;
	}
	for (size_t i = 0; i < j->n_outputs; i++) {
		const char *src = j->outputs[i].path, *base;
		char dst[PATH_MAX];
		if (!src)
			continue;
		base = strrchr(src, '/');
		base = base ? base + 1 : src;
		if (snprintf(dst, sizeof dst, "%s/%s", dir, base) >= (int)sizeof dst ||
		    util_copy_file(src, dst, 0) < 0) {
			char *s = cmd_clean(src);
			cmd_errf("get", "cannot copy %s: %s", s, strerror(errno));
			free(s);
			rc = 1;
			continue;
		}
		cmd_put_clean(stdout, dst);
		putchar('\n');
	}
	job_free(j);
	return rc;
}

int cmd_jobs_rm(struct config *cfg, int argc, char **argv)
{
	static const struct option lo[] = {
	    {"files", no_argument, 0, 'f'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	struct store *st;
	int64_t *ids;
	size_t n;
	int c, files = 0, rc = 0;

	if (cmd_help_opt("rm", argc, argv))
		return 0;
	cmd_opt_reset();
	while ((c = cmd_next_opt("rm", argc, argv, ":f", lo)) != -1) {
		if (c == 'f')
			files = 1;
		else
			return 2;
	}
	if (optind >= argc)
		return cmd_usage_error("rm", "which jobs? give one or more ids");
	if (!(st = cmd_open_store(cfg, "rm")))
		return 1;
	if (!(ids = cmd_find_jobs(st, argc, argv, optind, "rm", &n))) {
		store_close(st);
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		char *err = NULL;
		struct job *j = cmd_read_job(st, ids[i], "rm");
		if (!j) {
			rc = 1;
			continue;
		}
		if (job_state_is_live(j->state)) {
			cmd_errf("rm", "job %lld is %s: cancel it first (sdq cancel %lld)",
			         (long long)ids[i], job_state_name(j->state), (long long)ids[i]);
			job_free(j);
			rc = 1;
			continue;
		}
		if (store_job_delete(st, ids[i], &err) < 0) {
			cmd_errf("rm", "job %lld: %s", (long long)ids[i], err ? err : "error");
			free(err);
			job_free(j);
			rc = 1;
			continue;
		}
		for (size_t k = 0; files && k < j->n_outputs; k++) {
			if (j->outputs[k].path && unlink(j->outputs[k].path) < 0 &&
			    errno != ENOENT) {
				char *s = cmd_clean(j->outputs[k].path);
				cmd_errf("rm", "cannot delete %s: %s", s, strerror(errno));
				free(s);
				rc = 1;
			}
		}
		job_free(j);
	}
	free(ids);
	store_close(st);
	return rc;
}
