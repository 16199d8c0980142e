/*
 * cli.c: the scriptable subcommands of sdq, on the same core as the dashboard.
 *
 * Every command opens the store (and, when it needs to move jobs, an engine),
 * does one thing, prints a result a script can use on stdout and any error as
 * one line on stderr, and returns an exit status (0 ok, 1 failure, 2 usage).
 *
 * Commands that wait (submit --wait, wait, rerun --wait) ask to be the driver
 * so the job moves even when no other sdq runs; when they finish while other
 * jobs are still live they hand those over to a detached `sdq driver`, so
 * nothing is left unsaved (RunPod forgets results after 30 minutes).
 *
 * Text from the store (prompts, errors, paths) is sanitised before it is
 * printed to a terminal; JSON output is built with cJSON, which escapes it.
 */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "engine.h"
#include "job.h"
#include "store.h"
#include "text.h"

static const char *g_endpoint; /* -e NAME|URL|ID, or NULL */
static int g_color = 1;

void cli_set_endpoint(const char *endpoint)
{
	g_endpoint = endpoint;
}

void cli_set_color(int color)
{
	g_color = color;
}

/* ---------------------------------------------------------------- helpers */

static void errf(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* One error line: "sdq: CMD: message". */
static void errf(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fflush(stdout);
	fprintf(stderr, "sdq: %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Sanitised copy of s for a terminal (never NULL; "" for NULL). Caller frees. */
static char *clean(const char *s)
{
	char *c = text_sanitize_str(s, 0);
	if (!c) {
		fputs("sdq: out of memory\n", stderr);
		exit(1);
	}
	return c;
}

/* Print s sanitised to f. */
static void put_clean(FILE *f, const char *s)
{
	char *c = clean(s);
	fputs(c, f);
	free(c);
}

/* The error line for a core call that failed: "what: err" (just "err" when
 * what is NULL), err sanitised and "error" when NULL. Takes err and frees it. */
static void errf_core(const char *cmd, const char *what, char *err)
{
	char *e = clean(err ? err : "error");
	if (what)
		errf(cmd, "%s: %s", what, e);
	else
		errf(cmd, "%s", e);
	free(e);
	free(err);
}

static int use_color(void)
{
	const char *nc = getenv("NO_COLOR");
	return g_color && !(nc && *nc) && isatty(STDOUT_FILENO);
}

static const char *state_color(enum job_state s)
{
	switch (s) {
	case JOB_COMPLETED:
		return "\033[32m";
	case JOB_FAILED:
	case JOB_SUBMIT_FAILED:
	case JOB_TIMED_OUT:
	case JOB_EXPIRED:
	case JOB_UNKNOWN:
		return "\033[31m";
	case JOB_IN_PROGRESS:
		return "\033[33m";
	case JOB_IN_QUEUE:
	case JOB_PENDING:
	case JOB_SUBMITTING:
		return "\033[36m";
	default:
		return "";
	}
}

/* Terminal width of stdout, or 0 when stdout is not a terminal. */
static int term_cols(void)
{
	struct winsize ws;
	const char *c;
	if (!isatty(STDOUT_FILENO))
		return 0;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	c = getenv("COLUMNS");
	if (c && atoi(c) > 0)
		return atoi(c);
	return 80;
}

/* Print s, which is already sanitised, cut to at most cols terminal columns
 * (cols <= 0: no limit). */
static void put_fit(const char *s, int cols)
{
	char *t;
	if (cols <= 0) {
		fputs(s, stdout);
		return;
	}
	if (cols < 4)
		cols = 4;
	t = text_truncate(s, cols);
	fputs(t ? t : s, stdout);
	free(t);
}

/* "12s", "5m", "3h", "2d" for a duration in ms. */
static void fmt_age(int64_t ms, char *buf, size_t len)
{
	int64_t s = ms / 1000;
	if (ms <= 0)
		s = 0;
	if (s < 60)
		snprintf(buf, len, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm", (long long)(s / 60));
	else if (s < 86400)
		snprintf(buf, len, "%lldh", (long long)(s / 3600));
	else
		snprintf(buf, len, "%lldd", (long long)(s / 86400));
}

/* "4.2s", "1m05s" for a duration in ms. */
static void fmt_dur(int64_t ms, char *buf, size_t len)
{
	if (ms < 0)
		snprintf(buf, len, "-");
	else if (ms < 60000)
		snprintf(buf, len, "%.1fs", ms / 1000.0);
	else if (ms < 3600000)
		snprintf(buf, len, "%lldm%02llds", (long long)(ms / 60000),
		         (long long)(ms / 1000 % 60));
	else
		snprintf(buf, len, "%lldh%02lldm", (long long)(ms / 3600000),
		         (long long)(ms / 60000 % 60));
}

/* Local time "2026-11-27 15:02:54" for ms since the epoch; "-" for 0. */
static void fmt_time(int64_t ms, char *buf, size_t len)
{
	struct tm tm;
	time_t t = (time_t)(ms / 1000);
	if (ms <= 0 || !localtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, len, "-");
}

static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_i64(const char *s, int64_t *out)
{
	char *end;
	long long v;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end)
		return -1;
	*out = v;
	return 0;
}

static int parse_double(const char *s, double *out)
{
	char *end;
	double v;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || v != v)
		return -1;
	*out = v;
	return 0;
}

static int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Print a usage error as one line; returns 2. */
static int usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "sdq: %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see sdq help %s)\n", cmd);
	return 2;
}

/* getopt_long over argv (argv[0] = the command) with our own error lines.
 * Returns the option, -1 at the end, or '?' after printing a usage error. */
static int next_opt(const char *cmd, int argc, char **argv, const char *shortopts,
                    const struct option *longopts)
{
	int c = getopt_long(argc, argv, shortopts, longopts, NULL);
	if (c == '?') {
		if (optopt && optopt != '?')
			usage_error(cmd, "unknown option -%c", optopt);
		else
			usage_error(cmd, "unknown option %s", argv[optind - 1]);
	} else if (c == ':') {
		usage_error(cmd, "option %s needs a value", argv[optind - 1]);
		c = '?';
	}
	return c;
}

static void opt_reset(void)
{
	optind = 0; /* GNU: re-initialise, so every command starts afresh */
	opterr = 0;
}

/* Open the store of cfg. NULL after printing an error. */
static struct store *open_store(struct config *cfg, const char *cmd)
{
	char *err = NULL;
	struct store *st = store_open(cfg->db_path, &err);
	if (!st) {
		errf(cmd, "cannot open the history %s: %s", cfg->db_path, err ? err : "error");
		free(err);
	}
	return st;
}

/* Resolve a user's job reference; 0 after printing an error. */
static int64_t find_job(struct store *st, const char *ref, const char *cmd)
{
	char *err = NULL;
	char *c;
	int64_t id = store_job_find(st, ref, &err);
	if (id > 0)
		return id;
	c = clean(ref);
	if (err) {
		char *e = clean(err);
		errf(cmd, "%s: %s", c, e);
		free(e);
	} else {
		errf(cmd, "no job '%s': see sdq ls for the ids", c);
	}
	free(c);
	free(err);
	return 0;
}

/* The endpoint to use: the command's -e, else the global one, else the
 * default. NULL after printing an error. */
/* The job id from the store, or NULL after saying why (cmd's message). */
static struct job *read_job(struct store *st, int64_t id, const char *cmd)
{
	char *err = NULL;
	struct job *j = store_job_get(st, id, &err);
	if (!j)
		errf(cmd, "cannot read job %lld: %s", (long long)id, err ? err : "gone");
	free(err);
	return j;
}

static const struct config_endpoint *pick_endpoint(struct config *cfg, const char *name,
                                                   const char *cmd)
{
	const struct config_endpoint *ep;
	if (!name)
		name = g_endpoint;
	ep = config_endpoint(cfg, name);
	if (!ep) {
		if (name) {
			char *c = clean(name);
			errf(cmd,
			     "unknown endpoint '%s': name one from the config file (%s), or "
			     "give a URL or a RunPod endpoint id",
			     c, cfg->config_path ? cfg->config_path : "~/.config/sdq/config");
			free(c);
		} else {
			errf(cmd,
			     "no endpoint configured: set SDQ_ENDPOINT (a RunPod endpoint id or "
			     "URL) or add an [endpoint] section to %s",
			     cfg->config_path ? cfg->config_path : "~/.config/sdq/config");
		}
	}
	return ep;
}

/* A RunPod endpoint needs an API key: check there is one before queueing
 * work that could never be sent. The key itself is wiped at once. */
static int check_key(const struct config_endpoint *ep, const char *cmd)
{
	char *err = NULL, *key;
	if (ep->kind != CONFIG_RUNPOD)
		return 0;
	key = config_api_key(ep, &err);
	if (!key) {
		char *c = clean(err ? err : "no API key");
		errf(cmd, "%s", c);
		free(c);
		free(err);
		return -1;
	}
	config_key_free(key);
	return 0;
}

/* ------------------------------------------------------------- JSON output */

static void json_time(cJSON *o, const char *name, int64_t ms)
{
	char buf[40];
	if (ms == 0)
		cJSON_AddNullToObject(o, name);
	else
		cJSON_AddStringToObject(o, name, job_iso8601(ms, buf, sizeof buf));
}

static void json_str(cJSON *o, const char *name, const char *s)
{
	if (s)
		cJSON_AddStringToObject(o, name, s);
	else
		cJSON_AddNullToObject(o, name);
}

/* An exact integer (cJSON numbers are doubles; seeds may pass 2^53). */
static void json_i64(cJSON *o, const char *name, int64_t v)
{
	char buf[32];
	snprintf(buf, sizeof buf, "%lld", (long long)v);
	cJSON_AddRawToObject(o, name, buf);
}

static void json_i64_or_null(cJSON *o, const char *name, int64_t v, int64_t unset_below)
{
	if (v < unset_below)
		cJSON_AddNullToObject(o, name);
	else
		json_i64(o, name, v);
}

/* The public JSON form of a job (see the man page, JSON OUTPUT). ev may be
 * NULL (then no "events" member). */
static cJSON *job_json(const struct job *j, const struct store_event *ev, size_t nev)
{
	cJSON *o = cJSON_CreateObject(), *a;
	const struct job_params *p = &j->params;

	if (!o)
		return NULL;
	json_i64(o, "id", j->id);
	json_str(o, "remote_id", j->remote_id);
	json_str(o, "backend", j->backend);
	json_str(o, "endpoint", j->endpoint ? j->endpoint : p->endpoint);
	json_str(o, "endpoint_url", j->endpoint_url);
	cJSON_AddStringToObject(o, "state", job_state_name(j->state));
	if (j->state == JOB_OTHER)
		json_str(o, "status_text", j->status_text);
	json_str(o, "prompt", p->prompt);
	json_str(o, "negative_prompt", p->negative_prompt);
	json_i64_or_null(o, "seed", p->seed, 0);
	json_i64_or_null(o, "width", p->width, 1);
	json_i64_or_null(o, "height", p->height, 1);
	json_i64_or_null(o, "steps", p->steps, 1);
	if (p->has_cfg)
		cJSON_AddNumberToObject(o, "cfg", p->cfg);
	else
		cJSON_AddNullToObject(o, "cfg");
	json_str(o, "sampler", p->sampler);
	json_i64_or_null(o, "count", p->count, 1);
	json_str(o, "template", p->template_name);
	if (p->extra_json) {
		cJSON *x = cJSON_Parse(p->extra_json);
		if (x)
			cJSON_AddItemToObject(o, "extra", x);
		else
			cJSON_AddStringToObject(o, "extra", p->extra_json);
	} else {
		cJSON_AddNullToObject(o, "extra");
	}
	a = cJSON_AddArrayToObject(o, "images");
	for (size_t i = 0; a && i < j->n_outputs; i++)
		if (j->outputs[i].path)
			cJSON_AddItemToArray(a, cJSON_CreateString(j->outputs[i].path));
	a = cJSON_AddArrayToObject(o, "outputs");
	for (size_t i = 0; a && i < j->n_outputs; i++) {
		const struct job_output *out = &j->outputs[i];
		cJSON *x = cJSON_CreateObject();
		if (!x)
			break;
		json_i64(x, "index", out->index);
		json_str(x, "path", out->path);
		json_i64_or_null(x, "width", out->width, 1);
		json_i64_or_null(x, "height", out->height, 1);
		json_i64_or_null(x, "seed", out->seed, 0);
		json_str(x, "format", out->format);
		json_i64_or_null(x, "bytes", out->bytes, 0);
		cJSON_AddItemToArray(a, x);
	}
	json_str(o, "error", j->error);
	json_i64_or_null(o, "delay_ms", j->delay_ms, 0);
	json_i64_or_null(o, "exec_ms", j->exec_ms, 0);
	json_str(o, "worker_id", j->worker_id);
	if (j->progress >= 0)
		cJSON_AddNumberToObject(o, "progress", j->progress);
	else
		cJSON_AddNullToObject(o, "progress");
	json_str(o, "progress_text", j->progress_text);
	json_time(o, "created_at", j->created_at);
	json_time(o, "submitted_at", j->submitted_at);
	json_time(o, "started_at", j->started_at);
	json_time(o, "finished_at", j->finished_at);
	if (ev) {
		a = cJSON_AddArrayToObject(o, "events");
		for (size_t i = 0; a && i < nev; i++) {
			cJSON *x = cJSON_CreateObject();
			if (!x)
				break;
			json_time(x, "at", ev[i].at);
			json_str(x, "state", ev[i].state);
			json_str(x, "detail", ev[i].detail);
			cJSON_AddItemToArray(a, x);
		}
	}
	return o;
}

/* Print a JSON tree (formatted) and free it. -1 on ENOMEM. */
static int json_print(cJSON *o)
{
	char *s = o ? cJSON_Print(o) : NULL;
	cJSON_Delete(o);
	if (!s) {
		fputs("sdq: out of memory\n", stderr);
		return -1;
	}
	puts(s);
	free(s);
	return 0;
}

/* ------------------------------------------------------------------ help */

static int cmd_help_opt(const char *name, int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			break;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			cli_command_usage(name, stdout);
			return 1;
		}
	}
	return 0;
}

int cli_help(struct config *cfg, int argc, char **argv)
{
	(void)cfg;
	if (argc < 2) {
		cli_usage(stdout);
		return 0;
	}
	if (argc > 2)
		return usage_error("help", "give one command name");
	if (cli_command_usage(argv[1], stdout) < 0) {
		char *c = clean(argv[1]);
		fprintf(stderr, "sdq: help: no command '%s': see sdq --help\n", c);
		free(c);
		return 2;
	}
	return 0;
}

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

int cli_ls(struct config *cfg, int argc, char **argv)
{
	static const struct option lo[] = {
	    {"json", no_argument, 0, 'j'},        {"state", required_argument, 0, 's'},
	    {"limit", required_argument, 0, 'l'}, {"all", no_argument, 0, 'a'},
	    {"help", no_argument, 0, 'h'},        {0, 0, 0, 0}};
	struct store_query q;
	struct store *st;
	struct job **jobs = NULL;
	size_t n = 0, tlen = 0;
	char *text = NULL, *err = NULL;
	int json = 0, all = 0, c, live = 0, cols, color;
	long limit = 20;
	int64_t now;

	if (cmd_help_opt("ls", argc, argv))
		return 0;
	memset(&q, 0, sizeof q);
	opt_reset();
	while ((c = next_opt("ls", argc, argv, ":js:l:a", lo)) != -1) {
		switch (c) {
		case 'j':
			json = 1;
			break;
		case 's':
			if (parse_states(optarg, &q.state_mask, &live) < 0)
				return usage_error("ls",
				                   "unknown state in '%s' (states: PENDING, "
				                   "SUBMITTING, IN_QUEUE, IN_PROGRESS, "
				                   "COMPLETED, FAILED, CANCELLED, TIMED_OUT, "
				                   "SUBMIT_FAILED, EXPIRED, UNKNOWN, OTHER, live, "
				                   "done)",
				                   optarg);
			break;
		case 'l':
			if (parse_long(optarg, 1, INT_MAX, &limit) < 0)
				return usage_error("ls", "--limit needs a positive number");
			break;
		case 'a':
			all = 1;
			break;
		default:
			return 2;
		}
	}
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

	if (!(st = open_store(cfg, "ls"))) {
		free(text);
		return 1;
	}
	if (store_job_list(st, &q, &jobs, &n, &err) < 0) {
		errf_core("ls", "cannot read the history", err);
		free(text);
		store_close(st);
		return 1;
	}
	free(text);
	if (json) {
		cJSON *a = cJSON_CreateArray();
		for (size_t i = 0; a && i < n; i++)
			cJSON_AddItemToArray(a, job_json(jobs[i], NULL, 0));
		c = json_print(a) < 0;
		store_jobs_free(jobs, n);
		store_close(st);
		return c;
	}
	cols = term_cols();
	color = use_color();
	now = job_now_ms();
	if (n > 0 && isatty(STDOUT_FILENO))
		printf("%6s  %-13s %5s  %-12s %s\n", "ID", "STATE", "AGE", "ENDPOINT", "PROMPT");
	for (size_t i = 0; i < n; i++) {
		const struct job *j = jobs[i];
		char age[16], *ep, *pr, lead[128];
		int w;
		fmt_age(now - j->created_at, age, sizeof age);
		ep = clean(j->endpoint          ? j->endpoint
		           : j->params.endpoint ? j->params.endpoint
		                                : "-");
		pr = clean(j->params.prompt);
		if (strlen(ep) > 12)
			strcpy(ep + 9, "...");
		w = snprintf(lead, sizeof lead, "%6lld  %-13s %5s  %-12s ", (long long)j->id,
		             job_state_name(j->state), age, ep);
		if (color) {
			printf("%6lld  %s%-13s\033[0m %5s  %-12s ", (long long)j->id,
			       state_color(j->state), job_state_name(j->state), age, ep);
		} else {
			fputs(lead, stdout);
		}
		put_fit(pr, cols > 0 ? cols - w : 0);
		putchar('\n');
		free(ep);
		free(pr);
	}
	if (n == 0 && isatty(STDOUT_FILENO))
		fputs(q.text || q.state_mask || q.live_only ? "no matching jobs\n"
		                                            : "no jobs yet: sdq submit -p PROMPT\n",
		      stderr);
	store_jobs_free(jobs, n);
	store_close(st);
	return 0;
}

/* ------------------------------------------------------------------ show */

static void show_line(const char *label, const char *value)
{
	printf("%-10s ", label);
	put_clean(stdout, value);
	putchar('\n');
}

static void show_job(const struct job *j, const struct store_event *ev, size_t nev)
{
	const struct job_params *p = &j->params;
	char buf[128], buf2[64];
	int color = use_color();

	printf("%-10s %lld\n", "id", (long long)j->id);
	if (j->remote_id)
		show_line("remote id", j->remote_id);
	if (color)
		printf("%-10s %s%s\033[0m", "state", state_color(j->state),
		       job_state_name(j->state));
	else
		printf("%-10s %s", "state", job_state_name(j->state));
	if (j->state == JOB_OTHER && j->status_text) {
		fputs(" (", stdout);
		put_clean(stdout, j->status_text);
		putchar(')');
	}
	if (job_state_is_live(j->state) && j->progress >= 0)
		printf(" %.0f%%", j->progress * 100);
	if (job_state_is_live(j->state) && j->progress_text) {
		putchar(' ');
		put_clean(stdout, j->progress_text);
	}
	putchar('\n');
	printf("%-10s ", "endpoint");
	put_clean(stdout, j->endpoint ? j->endpoint : p->endpoint ? p->endpoint : "-");
	if (j->backend || j->endpoint_url) {
		fputs(" (", stdout);
		put_clean(stdout, j->backend ? j->backend : "");
		if (j->backend && j->endpoint_url)
			fputs(", ", stdout);
		put_clean(stdout, j->endpoint_url ? j->endpoint_url : "");
		putchar(')');
	}
	putchar('\n');
	show_line("prompt", p->prompt);
	if (p->negative_prompt)
		show_line("negative", p->negative_prompt);
	if (p->seed >= 0)
		printf("%-10s %lld\n", "seed", (long long)p->seed);
	if (p->width > 0 || p->height > 0)
		printf("%-10s %dx%d\n", "size", p->width, p->height);
	if (p->steps > 0)
		printf("%-10s %d\n", "steps", p->steps);
	if (p->has_cfg)
		printf("%-10s %g\n", "cfg", p->cfg);
	if (p->sampler)
		show_line("sampler", p->sampler);
	if (p->count > 0)
		printf("%-10s %d\n", "count", p->count);
	if (p->template_name)
		show_line("template", p->template_name);
	if (p->extra_json)
		show_line("extra", p->extra_json);
	fmt_time(j->created_at, buf, sizeof buf);
	printf("%-10s %s\n", "created", buf);
	if (j->submitted_at) {
		fmt_time(j->submitted_at, buf, sizeof buf);
		printf("%-10s %s\n", "submitted", buf);
	}
	if (j->started_at) {
		fmt_time(j->started_at, buf, sizeof buf);
		printf("%-10s %s\n", "started", buf);
	}
	if (j->finished_at) {
		fmt_time(j->finished_at, buf, sizeof buf);
		fmt_dur(j->finished_at - j->created_at, buf2, sizeof buf2);
		printf("%-10s %s (%s after creation)\n", "finished", buf, buf2);
	}
	if (j->delay_ms >= 0) {
		fmt_dur(j->delay_ms, buf, sizeof buf);
		printf("%-10s %s\n", "queued", buf);
	}
	if (j->exec_ms >= 0) {
		fmt_dur(j->exec_ms, buf, sizeof buf);
		printf("%-10s %s\n", "executed", buf);
	}
	if (j->worker_id)
		show_line("worker", j->worker_id);
	if (j->error)
		show_line("error", j->error);
	if (j->n_outputs == 0 && j->state == JOB_COMPLETED && j->raw_output)
		show_line("output", j->raw_output);
	if (j->log_tail)
		show_line("log", j->log_tail);
	for (size_t i = 0; i < j->n_outputs; i++) {
		const struct job_output *o = &j->outputs[i];
		printf("%-10s ", i == 0 ? "images" : "");
		put_clean(stdout, o->path);
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
		fmt_time(ev[i].at, buf, sizeof buf);
		printf("  %s  %-13s ", buf, ev[i].state ? ev[i].state : "");
		if (ev[i].detail)
			put_clean(stdout, ev[i].detail);
		putchar('\n');
	}
}

int cli_show(struct config *cfg, int argc, char **argv)
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
	opt_reset();
	while ((c = next_opt("show", argc, argv, ":j", lo)) != -1) {
		if (c == 'j')
			json = 1;
		else
			return 2;
	}
	if (optind >= argc)
		return usage_error("show", "which job? give an id (see sdq ls)");
	if (!(st = open_store(cfg, "show")))
		return 1;
	if (json && argc - optind > 1)
		fputs("[\n", stdout);
	for (int i = optind; i < argc; i++) {
		if (!(id = find_job(st, argv[i], "show"))) {
			rc = 1;
			continue;
		}
		if (!(j = read_job(st, id, "show"))) {
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
			if (json_print(job_json(j, ev ? ev : &none, nev)) < 0)
				rc = 1;
		} else {
			if (i > optind)
				putchar('\n');
			show_job(j, ev, nev);
		}
		store_events_free(ev, nev);
		ev = NULL;
		nev = 0;
		job_free(j);
	}
	if (json && argc - optind > 1)
		fputs("]\n", stdout);
	store_close(st);
	return rc;
}

/* ---------------------------------------------------- the engine and driver */

/* What a command learns from the engine's callback. */
struct run {
	struct config *cfg;
	struct store *st;
	struct engine *e;
	const char *cmd;
	int dirty;              /* some job or the store changed */
	int signo;              /* a caught signal */
	int log;                /* driver: print every message with a time stamp */
	int quiet;              /* don't print messages */
	int status_shown;       /* a live status line is on stderr */
	char status_line[256];  /* what it shows */
	const char *health_for; /* waiting for this endpoint's health */
	int health_seen;
	int msg_seen; /* an ENGINE_EV_MESSAGE arrived */
	int msg_error;
	char *msg;    /* the last message (sanitised) */
	int retrying; /* 1: a FAILED job waits for its /retry to be carried out,
	                 then to finish; 2: only for the /retry */
};

static void status_clear(struct run *r)
{
	if (r->status_shown) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
		r->status_shown = 0;
	}
}

static void on_event(struct engine *e, const struct engine_event *ev, void *udata)
{
	struct run *r = udata;
	(void)e;
	switch (ev->type) {
	case ENGINE_EV_JOB:
	case ENGINE_EV_STORE:
	case ENGINE_EV_ROLE:
		r->dirty = 1;
		break;
	case ENGINE_EV_HEALTH:
		if (r->health_for && ev->endpoint && strcmp(ev->endpoint, r->health_for) == 0)
			r->health_seen = 1;
		break;
	case ENGINE_EV_MESSAGE:
		r->msg_seen = 1;
		r->msg_error = ev->is_error;
		free(r->msg);
		r->msg = clean(ev->message ? ev->message : "");
		if (r->log) {
			char t[40];
			fprintf(stderr, "%s %s%s\n", job_iso8601(job_now_ms(), t, sizeof t),
			        ev->is_error ? "error: " : "", r->msg);
		} else if (ev->is_error && !r->quiet) {
			status_clear(r);
			fprintf(stderr, "sdq: %s: %s\n", r->cmd, r->msg);
		}
		break;
	case ENGINE_EV_SIGNAL:
		r->signo = ev->signo;
		break;
	}
}

/* Live jobs sent with `-e URL` (or an endpoint id) name an endpoint that is
 * not in the config file. The engine only knows cfg's endpoints, so add
 * those before it starts (config_endpoint adds a URL or id as a temporary
 * endpoint; doing it before any backend exists keeps their pointers valid). */
static void register_endpoints(struct config *cfg, struct store *st)
{
	struct store_query q;
	struct job **jobs = NULL;
	size_t n = 0;

	memset(&q, 0, sizeof q);
	q.live_only = 1;
	if (store_job_list(st, &q, &jobs, &n, NULL) < 0)
		return;
	for (size_t i = 0; i < n; i++)
		if (jobs[i]->endpoint)
			config_endpoint(cfg, jobs[i]->endpoint);
	store_jobs_free(jobs, n);
}

/* Open the store and an engine for cmd; drive = 1 asks to be the driver.
 * -1 after printing an error. */
static int run_open(struct run *r, struct config *cfg, const char *cmd, int drive)
{
	char *err = NULL;
	memset(r, 0, sizeof *r);
	r->cfg = cfg;
	r->cmd = cmd;
	if (!(r->st = open_store(cfg, cmd)))
		return -1;
	register_endpoints(cfg, r->st);
	if (!(r->e = engine_new(cfg, r->st, &err))) {
		errf_core(cmd, "cannot start the engine", err);
		store_close(r->st);
		r->st = NULL;
		return -1;
	}
	engine_set_callback(r->e, on_event, r);
	engine_catch_signal(r->e, SIGINT);
	engine_catch_signal(r->e, SIGTERM);
	engine_catch_signal(r->e, SIGHUP);
	if (drive)
		engine_drive(r->e, 1);
	return 0;
}

/* Close the file descriptors a detached child must not keep (the driver
 * lock above all). */
static void close_from(int lowfd)
{
	long max = sysconf(_SC_OPEN_MAX);
	if (max < 0 || max > 65536)
		max = 65536;
	for (int fd = lowfd; fd < max; fd++)
		close(fd);
}

int cli_spawn_driver(struct config *cfg)
{
	char path[PATH_MAX];
	int status, logfd = -1, null;
	pid_t pid;

	/* Everything that may allocate is done before fork(): libcurl may have
	 * started threads, and after fork only async-signal-safe calls are. */
	if (cfg->data_dir && config_mkdirs(cfg->data_dir, 0700) == 0 &&
	    snprintf(path, sizeof path, "%s/driver.log", cfg->data_dir) < (int)sizeof path) {
		struct stat sb;
		int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC;
		/* Keep the log small: start afresh past 1 MiB. */
		if (stat(path, &sb) == 0 && sb.st_size > (1 << 20))
			flags |= O_TRUNC;
		logfd = open(path, flags, 0600);
	}
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	pid = fork();
	if (pid == 0) {
		setsid();
		pid = fork();
		if (pid != 0)
			_exit(pid < 0);
		if (null >= 0)
			dup2(null, STDIN_FILENO);
		dup2(logfd >= 0 ? logfd : null, STDOUT_FILENO);
		dup2(logfd >= 0 ? logfd : null, STDERR_FILENO);
		close_from(3);
		execl("/proc/self/exe", "sdq", "driver", (char *)NULL);
		_exit(127);
	}
	if (logfd >= 0)
		close(logfd);
	if (null >= 0)
		close(null);
	if (pid < 0)
		return -1;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* Hand live jobs to a detached driver when none runs (and the config allows
 * it), if there are more than `undrivable` (jobs the caller knows no driver of
 * this config can take). Called with the engine closed, so the lock is free. */
static void ensure_driver_above(struct config *cfg, struct store *st, int64_t undrivable)
{
	struct store_query q;
	memset(&q, 0, sizeof q);
	q.live_only = 1;
	if (!cfg->background_driver || store_driver_pid(st) != 0)
		return;
	if (store_job_count(st, &q, NULL) <= undrivable)
		return;
	if (cli_spawn_driver(cfg) < 0)
		fprintf(stderr, "sdq: could not start a background driver: jobs move on when "
		                "sdq runs again (sdq driver)\n");
}

static void ensure_driver(struct config *cfg, struct store *st)
{
	ensure_driver_above(cfg, st, 0);
}

/* Free the engine (giving up the driver role), start a background driver if
 * live jobs remain, close the store. */
static void run_close(struct run *r, int handover)
{
	status_clear(r);
	engine_free(r->e);
	r->e = NULL;
	if (handover && r->st)
		ensure_driver(r->cfg, r->st);
	store_close(r->st);
	r->st = NULL;
	free(r->msg);
	r->msg = NULL;
}

/* The freshest copy of job id (the driver's own, else the store's). */
static struct job *current_job(struct run *r, int64_t id)
{
	const struct job *j = engine_job(r->e, id);
	char *err = NULL;
	struct job *c;
	if (j)
		return job_dup(j);
	c = store_job_get(r->st, id, &err);
	free(err);
	return c;
}

/* Show "sdq: job 42 IN_PROGRESS 40% 12s" on stderr, redrawn in place. */
static void status_draw(struct run *r, struct job **jobs, size_t n, int64_t elapsed_ms)
{
	char el[32], line[256];
	size_t live = 0, done = 0;
	int len;

	if (elapsed_ms < 60000)
		snprintf(el, sizeof el, "%llds", (long long)(elapsed_ms / 1000));
	else
		fmt_dur(elapsed_ms, el, sizeof el);
	for (size_t i = 0; i < n; i++) {
		if (!jobs[i])
			continue;
		if (job_state_is_live(jobs[i]->state))
			live++;
		else
			done++;
	}
	if (n == 1 && jobs[0]) {
		const struct job *j = jobs[0];
		len = snprintf(line, sizeof line, "job %lld %s", (long long)j->id,
		               job_state_name(j->state));
		if (j->state == JOB_IN_PROGRESS && j->progress >= 0 && len < (int)sizeof line)
			len +=
			    snprintf(line + len, sizeof line - len, " %.0f%%", j->progress * 100);
		if (len < (int)sizeof line)
			snprintf(line + len, sizeof line - len, "  %s", el);
	} else {
		snprintf(line, sizeof line, "%zu of %zu jobs done, %zu live  %s", done, n, live,
		         el);
	}
	if (r->status_shown && strcmp(line, r->status_line) == 0)
		return;
	snprintf(r->status_line, sizeof r->status_line, "%s", line);
	fprintf(stderr, "\r%s\033[K", line);
	fflush(stderr);
	r->status_shown = 1;
}

/* Whether job j (id) is still to be waited for: live, or, after a retry
 * request, FAILED/TIMED_OUT until the driver has carried the request out. */
static int pending(struct run *r, const struct job *j)
{
	if (!j)
		return 0;
	if (job_state_is_live(j->state))
		return r->retrying != 2;
	return r->retrying && (j->state == JOB_FAILED || j->state == JOB_TIMED_OUT) &&
	       (j->retry_requested || engine_job(r->e, j->id));
}

/* Run the engine until every job in ids[] has left the live states, a signal
 * arrives or timeout_ms passes (0: no limit). Fills jobs[] with the last
 * copies (caller frees). Returns 0 when all finished, 1 on timeout, 130 (or
 * 128 + signo) on a signal, -1 on a fatal engine error. */
static int run_until_done(struct run *r, const int64_t *ids, struct job **jobs, size_t n, int show,
                          int64_t timeout_ms)
{
	int64_t start = engine_now_ms(), last_read = 0;
	int first = 1;

	for (;;) {
		int64_t now = engine_now_ms();
		size_t live = 0;

		if (first || r->dirty || now - last_read >= 1000) {
			for (size_t i = 0; i < n; i++) {
				if (!first && jobs[i] && !pending(r, jobs[i]))
					continue;
				job_free(jobs[i]);
				jobs[i] = current_job(r, ids[i]);
			}
			r->dirty = 0;
			last_read = now;
			first = 0;
		}
		for (size_t i = 0; i < n; i++)
			if (pending(r, jobs[i]))
				live++;
		if (!live)
			break;
		if (r->signo)
			return 128 + r->signo;
		if (timeout_ms > 0 && now - start >= timeout_ms)
			return 1;
		if (show && now - start >= 1000)
			status_draw(r, jobs, n, now - start);
		if (engine_step(r->e, 250) < 0)
			return -1;
	}
	status_clear(r);
	return 0;
}

/* What to tell about a job that ended without images and without an error. */
static const char *state_hint(enum job_state s)
{
	switch (s) {
	case JOB_COMPLETED:
		return "the worker returned no image (sdq show has its output)";
	case JOB_CANCELLED:
		return "it was cancelled";
	case JOB_EXPIRED:
		return "the endpoint forgot it before its result was saved: sdq rerun sends it "
		       "again";
	case JOB_UNKNOWN:
		return "sdq stopped while sending it, so it may or may not have run: sdq rerun "
		       "sends it again";
	default:
		return "no error text";
	}
}

/* Report each finished job: image paths on stdout, errors on stderr. 0 if all
 * COMPLETED with images, else 1. */
static int report_jobs(const char *cmd, struct job **jobs, size_t n, int json)
{
	int rc = 0;
	cJSON *arr = NULL;
	if (json && n > 1)
		arr = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++) {
		const struct job *j = jobs[i];
		if (!j) {
			rc = 1;
			continue;
		}
		if (j->state != JOB_COMPLETED || j->n_outputs == 0) {
			char *e = clean(j->error ? j->error : state_hint(j->state));
			if (job_state_is_live(j->state))
				errf(cmd, "job %lld still %s", (long long)j->id,
				     job_state_name(j->state));
			else
				errf(cmd, "job %lld %s: %s", (long long)j->id,
				     job_state_name(j->state), e);
			free(e);
			rc = 1;
		}
		if (json) {
			cJSON *o = job_json(j, NULL, 0);
			if (arr)
				cJSON_AddItemToArray(arr, o);
			else if (json_print(o) < 0)
				rc = 1;
		} else {
			for (size_t k = 0; k < j->n_outputs; k++) {
				put_clean(stdout, j->outputs[k].path);
				putchar('\n');
			}
		}
	}
	if (arr && json_print(arr) < 0)
		rc = 1;
	fflush(stdout);
	return rc;
}

/* Wait for ids as a driver (or a viewer when another process drives), report,
 * hand over, close. Returns the exit status. */
static int wait_and_report(struct run *r, const int64_t *ids, size_t n, int json,
                           int64_t timeout_ms)
{
	struct job **jobs = calloc(n ? n : 1, sizeof *jobs);
	int show = isatty(STDERR_FILENO) && !json, rc;

	if (!jobs) {
		run_close(r, 1);
		return 1;
	}
	rc = run_until_done(r, ids, jobs, n, show, timeout_ms);
	status_clear(r);
	if (rc == 0) {
		rc = report_jobs(r->cmd, jobs, n, json);
	} else if (rc == 1) {
		errf(r->cmd, "timed out; the job goes on: sdq wait %lld", (long long)ids[0]);
	} else if (rc < 0) {
		errf(r->cmd, "the engine stopped; the job goes on: sdq wait %lld",
		     (long long)ids[0]);
		rc = 1;
	} else {
		fprintf(stderr, "sdq: %s: interrupted; the job goes on (sdq wait %lld)\n", r->cmd,
		        (long long)ids[0]);
	}
	for (size_t i = 0; i < n; i++)
		job_free(jobs[i]);
	free(jobs);
	run_close(r, 1);
	return rc;
}

/* ---------------------------------------------------------------- submit */

/* Merge KEY=JSON into the object *extra (created when NULL). A value that is
 * not JSON is taken as a string. -1 on a bad KEY. */
static int add_set(cJSON **extra, const char *kv)
{
	const char *eq = strchr(kv, '=');
	char *key;
	cJSON *v;
	if (!eq || eq == kv)
		return -1;
	if (!*extra && !(*extra = cJSON_CreateObject()))
		return -1;
	if (!(key = strndup(kv, (size_t)(eq - kv))))
		return -1;
	v = cJSON_Parse(eq + 1);
	if (!v)
		v = cJSON_CreateString(eq + 1);
	if (!v) {
		free(key);
		return -1;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(*extra, key);
	cJSON_AddItemToObject(*extra, key, v);
	free(key);
	return 0;
}

#define SUBMIT_SYNC_WAIT_MS 90000

/* submit --sync without --wait: stay until /runsync has answered (the job
 * left PENDING / SUBMITTING), so its outcome is not left unknown; the rest is
 * a background driver's work. Bounded by the runsync wait plus a margin. */
static void sync_answer_wait(struct run *r, int64_t id)
{
	int64_t end = engine_now_ms() + SUBMIT_SYNC_WAIT_MS + 45000;

	while (!r->signo && engine_now_ms() < end && engine_is_driver(r->e)) {
		const struct job *j = engine_job(r->e, id);
		if (!j || (j->state != JOB_PENDING && j->state != JOB_SUBMITTING))
			break;
		if (engine_step(r->e, 500) < 0)
			break;
	}
}

int cli_submit(struct config *cfg, int argc, char **argv)
{
	static const struct option lo[] = {
	    {"endpoint", required_argument, 0, 'e'}, {"prompt", required_argument, 0, 'p'},
	    {"negative", required_argument, 0, 'n'}, {"seed", required_argument, 0, 'S'},
	    {"steps", required_argument, 0, 's'},    {"cfg", required_argument, 0, 'c'},
	    {"width", required_argument, 0, 'W'},    {"height", required_argument, 0, 'H'},
	    {"count", required_argument, 0, 'N'},    {"sampler", required_argument, 0, 'a'},
	    {"template", required_argument, 0, 't'}, {"set", required_argument, 0, 'x'},
	    {"wait", no_argument, 0, 'w'},           {"sync", no_argument, 0, 'Y'},
	    {"timeout", required_argument, 0, 'T'},  {"json", no_argument, 0, 'j'},
	    {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
	struct engine_submit_opts so;
	struct job_params p;
	const struct config_endpoint *ep;
	const char *epname = NULL;
	cJSON *extra = NULL;
	struct run r;
	char *err = NULL, *prompt = NULL;
	int c, wait = 0, json = 0, sync = 0, rc;
	long v;
	double timeout_s = 0;
	int64_t id;

	memset(&so, 0, sizeof so);
	if (cmd_help_opt("submit", argc, argv))
		return 0;
	job_params_init(&p);
	opt_reset();
	while ((c = next_opt("submit", argc, argv, ":e:p:n:W:H:wj", lo)) != -1) {
		switch (c) {
		case 'e':
			epname = optarg;
			break;
		case 'p':
			prompt = optarg;
			break;
		case 'n':
			job_set_str(&p.negative_prompt, optarg);
			break;
		case 'S':
			if (parse_i64(optarg, &p.seed) < 0 || p.seed < -1) {
				rc = usage_error("submit",
				                 "--seed needs a number >= 0 (-1: random)");
				goto out;
			}
			break;
		case 's':
			if (parse_long(optarg, 1, 10000, &v) < 0) {
				rc =
				    usage_error("submit", "--steps needs a number from 1 to 10000");
				goto out;
			}
			p.steps = (int)v;
			break;
		case 'c':
			if (parse_double(optarg, &p.cfg) < 0 || p.cfg < 0 || p.cfg > 100) {
				rc = usage_error("submit", "--cfg needs a number from 0 to 100");
				goto out;
			}
			p.has_cfg = 1;
			break;
		case 'W':
		case 'H':
			if (parse_long(optarg, 8, 16384, &v) < 0) {
				rc = usage_error("submit",
				                 "-%c needs a size from 8 to 16384 pixels", c);
				goto out;
			}
			if (c == 'W')
				p.width = (int)v;
			else
				p.height = (int)v;
			break;
		case 'N':
			if (parse_long(optarg, 1, 100, &v) < 0) {
				rc = usage_error("submit", "--count needs a number from 1 to 100");
				goto out;
			}
			p.count = (int)v;
			break;
		case 'a':
			job_set_str(&p.sampler, optarg);
			break;
		case 't':
			job_set_str(&p.template_name, optarg);
			break;
		case 'x':
			if (add_set(&extra, optarg) < 0) {
				rc =
				    usage_error("submit", "--set needs KEY=VALUE (VALUE is JSON or "
				                          "text)");
				goto out;
			}
			break;
		case 'w':
			wait = 1;
			break;
		case 'Y':
			sync = 1;
			break;
		case 'T':
			if (parse_double(optarg, &timeout_s) < 0 || timeout_s < 0) {
				rc = usage_error("submit", "--timeout needs seconds");
				goto out;
			}
			break;
		case 'j':
			json = 1;
			break;
		default:
			rc = 2;
			goto out;
		}
	}
	if (!prompt && optind < argc)
		prompt = argv[optind++];
	if (optind < argc) {
		rc = usage_error("submit", "unexpected argument '%s' (quote the prompt)",
		                 argv[optind]);
		goto out;
	}
	if (!prompt || !*prompt) {
		rc = usage_error("submit", "give a prompt with -p PROMPT");
		goto out;
	}
	job_set_str(&p.prompt, prompt);
	if (extra) {
		p.extra_json = cJSON_PrintUnformatted(extra);
		cJSON_Delete(extra);
		extra = NULL;
	}
	rc = 1;
	if (!(ep = pick_endpoint(cfg, epname, "submit")))
		goto out;
	if (check_key(ep, "submit") < 0)
		goto out;
	job_set_str(&p.endpoint, ep->name);

	/* --sync: the answer of /runsync comes to the process that sent it,
	 * so this one drives (or, if another sdq does, the job goes by /run) */
	if (run_open(&r, cfg, "submit", wait || sync) < 0)
		goto out;
	if (sync && ep->kind == CONFIG_RUNPOD) {
		if (engine_is_driver(r.e))
			so.sync_wait_ms = SUBMIT_SYNC_WAIT_MS;
		else
			fprintf(stderr,
			        "sdq: submit: another sdq drives the jobs (pid %ld): "
			        "sent through /run, not /runsync\n",
			        store_driver_pid(r.st));
	}
	if (!(id = engine_submit_opts(r.e, &p, &so, &err))) {
		char *e = clean(err ? err : "error");
		errf("submit", "%s", e);
		free(e);
		free(err);
		run_close(&r, 0);
		goto out;
	}
	if (!wait) {
		rc = 0;
		if (json && so.sync_wait_ms > 0)
			sync_answer_wait(&r, id); /* the JSON shows what it answered */
		if (json) {
			struct job *j = store_job_get(r.st, id, NULL);
			rc = j ? json_print(job_json(j, NULL, 0)) < 0 : 1;
			job_free(j);
		} else {
			printf("%lld\n", (long long)id);
		}
		fflush(stdout);
		if (so.sync_wait_ms > 0 && !json)
			sync_answer_wait(&r, id);
		run_close(&r, 1);
		goto out;
	}
	if (!json) {
		printf("%lld\n", (long long)id);
		fflush(stdout);
	}
	rc = wait_and_report(&r, &id, 1, json, (int64_t)(timeout_s * 1000));
out:
	cJSON_Delete(extra);
	job_params_clear(&p);
	return rc;
}

/* -------------------------------------------------- wait, cancel, retry ... */

/* Parse the ids of argv[from..argc) into a malloc'd array. NULL on error. */
static int64_t *find_jobs(struct store *st, int argc, char **argv, int from, const char *cmd,
                          size_t *n)
{
	int64_t *ids = calloc((size_t)(argc - from) + 1, sizeof *ids);
	*n = 0;
	if (!ids)
		return NULL;
	for (int i = from; i < argc; i++) {
		int64_t id = find_job(st, argv[i], cmd);
		if (!id) {
			free(ids);
			return NULL;
		}
		ids[(*n)++] = id;
	}
	return ids;
}

int cli_wait(struct config *cfg, int argc, char **argv)
{
	static const struct option lo[] = {{"json", no_argument, 0, 'j'},
	                                   {"timeout", required_argument, 0, 'T'},
	                                   {"help", no_argument, 0, 'h'},
	                                   {0, 0, 0, 0}};
	struct run r;
	int64_t *ids;
	size_t n;
	int c, json = 0, rc;
	double timeout_s = 0;

	if (cmd_help_opt("wait", argc, argv))
		return 0;
	opt_reset();
	while ((c = next_opt("wait", argc, argv, ":j", lo)) != -1) {
		if (c == 'j') {
			json = 1;
		} else if (c == 'T') {
			if (parse_double(optarg, &timeout_s) < 0 || timeout_s < 0)
				return usage_error("wait", "--timeout needs seconds");
		} else {
			return 2;
		}
	}
	if (optind >= argc)
		return usage_error("wait", "which jobs? give one or more ids");
	if (run_open(&r, cfg, "wait", 1) < 0)
		return 1;
	if (!(ids = find_jobs(r.st, argc, argv, optind, "wait", &n))) {
		run_close(&r, 0);
		return 1;
	}
	rc = wait_and_report(&r, ids, n, json, (int64_t)(timeout_s * 1000));
	free(ids);
	return rc;
}

int cli_cancel(struct config *cfg, int argc, char **argv)
{
	static const struct option lo[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	struct run r;
	struct job **jobs;
	int64_t *ids;
	size_t n;
	int rc = 0;

	if (cmd_help_opt("cancel", argc, argv))
		return 0;
	opt_reset();
	if (next_opt("cancel", argc, argv, ":", lo) != -1)
		return 2;
	if (optind >= argc)
		return usage_error("cancel", "which jobs? give one or more ids");
	if (run_open(&r, cfg, "cancel", 1) < 0)
		return 1;
	r.quiet = 1;
	if (!(ids = find_jobs(r.st, argc, argv, optind, "cancel", &n))) {
		run_close(&r, 0);
		return 1;
	}
	if (!(jobs = calloc(n, sizeof *jobs))) {
		free(ids);
		run_close(&r, 1);
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		char *err = NULL;
		struct job *j = current_job(&r, ids[i]);
		if (j && !job_state_is_live(j->state)) {
			errf("cancel", "job %lld is already %s", (long long)ids[i],
			     job_state_name(j->state));
			rc = 1;
		} else if (engine_cancel(r.e, ids[i], &err) < 0) {
			char *e = clean(err ? err : "error");
			errf("cancel", "job %lld: %s", (long long)ids[i], e);
			free(e);
			rc = 1;
		}
		free(err);
		job_free(j);
	}
	/* Give the driver (this one or another) a moment to carry it out. */
	run_until_done(&r, ids, jobs, n, 0, 10000);
	for (size_t i = 0; i < n; i++) {
		if (!jobs[i])
			continue;
		if (job_state_is_live(jobs[i]->state))
			printf("%lld cancel requested (%s)\n", (long long)ids[i],
			       job_state_name(jobs[i]->state));
		else
			printf("%lld %s\n", (long long)ids[i], job_state_name(jobs[i]->state));
		job_free(jobs[i]);
	}
	free(jobs);
	free(ids);
	run_close(&r, 1);
	return rc;
}

int cli_retry(struct config *cfg, int argc, char **argv)
{
	static const struct option lo[] = {{"wait", no_argument, 0, 'w'},
	                                   {"json", no_argument, 0, 'j'},
	                                   {"help", no_argument, 0, 'h'},
	                                   {0, 0, 0, 0}};
	struct run r;
	char *err = NULL;
	int c, wait = 0, json = 0;
	int64_t id;

	if (cmd_help_opt("retry", argc, argv))
		return 0;
	opt_reset();
	while ((c = next_opt("retry", argc, argv, ":wj", lo)) != -1) {
		if (c == 'w')
			wait = 1;
		else if (c == 'j')
			json = 1;
		else
			return 2;
	}
	if (argc - optind != 1)
		return usage_error("retry", "give one job id");
	if (run_open(&r, cfg, "retry", 1) < 0)
		return 1;
	if (!(id = find_job(r.st, argv[optind], "retry"))) {
		run_close(&r, 0);
		return 1;
	}
	/* A retry already under way (an earlier request this driver picked up
	 * when it started) is as good as a new one. */
	if (engine_retry(r.e, id, &err) < 0 && !engine_job(r.e, id)) {
		char *e = clean(err ? err : "error");
		errf("retry", "%s: for a new attempt use sdq rerun %lld", e, (long long)id);
		free(e);
		free(err);
		run_close(&r, 1);
		return 1;
	}
	free(err);
	if (wait) {
		r.retrying = 1;
		return wait_and_report(&r, &id, 1, json, 0);
	}
	/* Carry the request out now (or see the driver do it), so that the job
	 * is live again and a background driver follows it. */
	{
		struct job *j = NULL;
		r.retrying = 2;
		r.quiet = 1;
		c = run_until_done(&r, &id, &j, 1, 0, 30000);
		if (c == 0 && j && (j->state == JOB_FAILED || j->state == JOB_TIMED_OUT)) {
			errf("retry",
			     "job %lld: the endpoint did not retry it%s%s: sdq rerun %lld "
			     "makes a new attempt",
			     (long long)id, r.msg ? ": " : "", r.msg ? r.msg : "", (long long)id);
			c = 1;
		} else if (c == 1) {
			printf("%lld retry requested\n", (long long)id);
			c = 0;
		} else if (c == 0) {
			printf("%lld\n", (long long)id);
		}
		job_free(j);
		run_close(&r, 1);
		return c ? 1 : 0;
	}
}

int cli_rerun(struct config *cfg, int argc, char **argv)
{
	static const struct option lo[] = {{"wait", no_argument, 0, 'w'},
	                                   {"json", no_argument, 0, 'j'},
	                                   {"help", no_argument, 0, 'h'},
	                                   {0, 0, 0, 0}};
	struct run r;
	char *err = NULL;
	int c, wait = 0, json = 0;
	int64_t id, nid;

	if (cmd_help_opt("rerun", argc, argv))
		return 0;
	opt_reset();
	while ((c = next_opt("rerun", argc, argv, ":wj", lo)) != -1) {
		if (c == 'w')
			wait = 1;
		else if (c == 'j')
			json = 1;
		else
			return 2;
	}
	if (argc - optind != 1)
		return usage_error("rerun", "give one job id");
	if (run_open(&r, cfg, "rerun", wait) < 0)
		return 1;
	if (!(id = find_job(r.st, argv[optind], "rerun"))) {
		run_close(&r, 0);
		return 1;
	}
	if (!(nid = engine_rerun(r.e, id, &err))) {
		errf_core("rerun", NULL, err);
		run_close(&r, 1);
		return 1;
	}
	if (!json || !wait) {
		if (json) {
			struct job *j = store_job_get(r.st, nid, NULL);
			if (j)
				json_print(job_json(j, NULL, 0));
			job_free(j);
		} else {
			printf("%lld\n", (long long)nid);
		}
		fflush(stdout);
	}
	if (wait)
		return wait_and_report(&r, &nid, 1, json, 0);
	run_close(&r, 1);
	return 0;
}

/* Copy src to dst (through a temp file and rename). 0 or -1 with errno. */
static int copy_file(const char *src, const char *dst)
{
	char tmp[PATH_MAX], buf[65536];
	int in, out, e;
	ssize_t n;

	if (snprintf(tmp, sizeof tmp, "%s.tmp%ld", dst, (long)getpid()) >= (int)sizeof tmp) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	if ((out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
		e = errno;
		close(in);
		errno = e;
		return -1;
	}
	while ((n = read(in, buf, sizeof buf)) != 0) {
		char *p = buf;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		while (n > 0) {
			ssize_t w = write(out, p, (size_t)n);
			if (w < 0) {
				if (errno == EINTR)
					continue;
				goto fail;
			}
			p += w;
			n -= w;
		}
	}
	if (close(out) < 0) {
		out = -1;
		goto fail;
	}
	close(in);
	if (rename(tmp, dst) < 0) {
		e = errno;
		unlink(tmp);
		errno = e;
		return -1;
	}
	return 0;
fail:
	e = errno;
	close(in);
	if (out >= 0)
		close(out);
	unlink(tmp);
	errno = e;
	return -1;
}

int cli_get(struct config *cfg, int argc, char **argv)
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
	opt_reset();
	while ((c = next_opt("get", argc, argv, ":o:", lo)) != -1) {
		if (c == 'o')
			dir = optarg;
		else
			return 2;
	}
	if (argc - optind != 1)
		return usage_error("get", "give one job id");
	if (!(st = open_store(cfg, "get")))
		return 1;
	if (!(id = find_job(st, argv[optind], "get"))) {
		store_close(st);
		return 1;
	}
	if (!(j = read_job(st, id, "get"))) {
		store_close(st);
		return 1;
	}
	store_close(st);
	if (j->n_outputs == 0) {
		if (job_state_is_live(j->state))
			errf("get", "job %lld is %s, no images yet: sdq wait %lld", (long long)id,
			     job_state_name(j->state), (long long)id);
		else
			errf("get", "job %lld (%s) has no images", (long long)id,
			     job_state_name(j->state));
		job_free(j);
		return 1;
	}
	if (config_mkdirs(dir, 0755) < 0) {
		char *d = clean(dir);
		errf("get", "cannot create %s: %s", d, strerror(errno));
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
		    copy_file(src, dst) < 0) {
			char *s = clean(src);
			errf("get", "cannot copy %s: %s", s, strerror(errno));
			free(s);
			rc = 1;
			continue;
		}
		put_clean(stdout, dst);
		putchar('\n');
	}
	job_free(j);
	return rc;
}

int cli_rm(struct config *cfg, int argc, char **argv)
{
	static const struct option lo[] = {
	    {"files", no_argument, 0, 'f'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	struct store *st;
	int64_t *ids;
	size_t n;
	int c, files = 0, rc = 0;

	if (cmd_help_opt("rm", argc, argv))
		return 0;
	opt_reset();
	while ((c = next_opt("rm", argc, argv, ":f", lo)) != -1) {
		if (c == 'f')
			files = 1;
		else
			return 2;
	}
	if (optind >= argc)
		return usage_error("rm", "which jobs? give one or more ids");
	if (!(st = open_store(cfg, "rm")))
		return 1;
	if (!(ids = find_jobs(st, argc, argv, optind, "rm", &n))) {
		store_close(st);
		return 1;
	}
	for (size_t i = 0; i < n; i++) {
		char *err = NULL;
		struct job *j = read_job(st, ids[i], "rm");
		if (!j) {
			rc = 1;
			continue;
		}
		if (job_state_is_live(j->state)) {
			errf("rm", "job %lld is %s: cancel it first (sdq cancel %lld)",
			     (long long)ids[i], job_state_name(j->state), (long long)ids[i]);
			job_free(j);
			rc = 1;
			continue;
		}
		if (store_job_delete(st, ids[i], &err) < 0) {
			errf("rm", "job %lld: %s", (long long)ids[i], err ? err : "error");
			free(err);
			job_free(j);
			rc = 1;
			continue;
		}
		for (size_t k = 0; files && k < j->n_outputs; k++) {
			if (j->outputs[k].path && unlink(j->outputs[k].path) < 0 &&
			    errno != ENOENT) {
				char *s = clean(j->outputs[k].path);
				errf("rm", "cannot delete %s: %s", s, strerror(errno));
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

/* -------------------------------------------------------- health, purge */

/* What health and purge-queue do first: no argument left over, the endpoint
 * (named or the default) with its API key, a quiet engine in r. NULL when
 * something is wrong (already said); *rc is then the exit code. */
static const struct config_endpoint *endpoint_open(struct run *r, struct config *cfg,
                                                   const char *cmd, const char *epname, int argc,
                                                   char **argv, int *rc)
{
	const struct config_endpoint *ep;

	if (optind < argc) {
		*rc = usage_error(cmd, "unexpected argument '%s'", argv[optind]);
		return NULL;
	}
	*rc = 1;
	if (!(ep = pick_endpoint(cfg, epname, cmd)) || check_key(ep, cmd) < 0 ||
	    run_open(r, cfg, cmd, 0) < 0)
		return NULL;
	r->quiet = 1;
	return ep;
}

/* Run the engine until *seen is set (by on_event), a signal comes or 30 s pass. */
static void step_until(struct run *r, const int *seen)
{
	int64_t start = engine_now_ms();
	while (!*seen && !r->signo && engine_now_ms() - start < 30000)
		if (engine_step(r->e, 250) < 0)
			break;
}

static void print_health(const struct config_endpoint *ep, const struct engine_health *h)
{
	char t[64];
	printf("endpoint   ");
	put_clean(stdout, ep->name);
	if (ep->url) {
		fputs(" (", stdout);
		put_clean(stdout, ep->url);
		putchar(')');
	}
	putchar('\n');
	printf("reachable  %s%s%s\n", h->reachable ? "yes" : "no",
	       h->auth_failed ? " (the API key was refused)" : "",
	       h->rate_limited ? " (rate limited, backing off)" : "");
	if (ep->kind == CONFIG_RUNPOD && h->reachable && !h->auth_failed) {
		printf("jobs       %ld in queue, %ld in progress, %ld completed, %ld failed, "
		       "%ld retried\n",
		       h->jobs_in_queue, h->jobs_in_progress, h->jobs_completed, h->jobs_failed,
		       h->jobs_retried);
		printf("workers    %ld idle, %ld running, %ld initializing, %ld ready, %ld "
		       "throttled, %ld unhealthy\n",
		       h->workers_idle, h->workers_running, h->workers_initializing,
		       h->workers_ready, h->workers_throttled, h->workers_unhealthy);
	}
	if (h->text)
		show_line("info", h->text);
	if (h->error)
		show_line("error", h->error);
	fmt_time(h->updated_at, t, sizeof t);
	printf("updated    %s\n", t);
}

static cJSON *health_json(const struct config_endpoint *ep, const struct engine_health *h)
{
	cJSON *o = cJSON_CreateObject(), *x;
	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "endpoint", ep->name);
	json_str(o, "url", ep->url);
	cJSON_AddStringToObject(o, "backend", ep->kind == CONFIG_RUNPOD ? "runpod" : "local");
	cJSON_AddBoolToObject(o, "reachable", h->reachable);
	cJSON_AddBoolToObject(o, "auth_failed", h->auth_failed);
	cJSON_AddBoolToObject(o, "rate_limited", h->rate_limited);
	if ((x = cJSON_AddObjectToObject(o, "jobs"))) {
		cJSON_AddNumberToObject(x, "completed", h->jobs_completed);
		cJSON_AddNumberToObject(x, "failed", h->jobs_failed);
		cJSON_AddNumberToObject(x, "in_progress", h->jobs_in_progress);
		cJSON_AddNumberToObject(x, "in_queue", h->jobs_in_queue);
		cJSON_AddNumberToObject(x, "retried", h->jobs_retried);
	}
	if ((x = cJSON_AddObjectToObject(o, "workers"))) {
		cJSON_AddNumberToObject(x, "idle", h->workers_idle);
		cJSON_AddNumberToObject(x, "running", h->workers_running);
		cJSON_AddNumberToObject(x, "initializing", h->workers_initializing);
		cJSON_AddNumberToObject(x, "ready", h->workers_ready);
		cJSON_AddNumberToObject(x, "throttled", h->workers_throttled);
		cJSON_AddNumberToObject(x, "unhealthy", h->workers_unhealthy);
	}
	json_str(o, "text", h->text);
	json_str(o, "error", h->error);
	json_time(o, "updated_at", h->updated_at);
	return o;
}

int cli_health(struct config *cfg, int argc, char **argv)
{
	static const struct option lo[] = {{"endpoint", required_argument, 0, 'e'},
	                                   {"json", no_argument, 0, 'j'},
	                                   {"help", no_argument, 0, 'h'},
	                                   {0, 0, 0, 0}};
	const struct config_endpoint *ep;
	const struct engine_health *h;
	const char *epname = NULL;
	struct run r;
	char *err = NULL;
	int c, json = 0, rc;

	if (cmd_help_opt("health", argc, argv))
		return 0;
	opt_reset();
	while ((c = next_opt("health", argc, argv, ":e:j", lo)) != -1) {
		if (c == 'e')
			epname = optarg;
		else if (c == 'j')
			json = 1;
		else
			return 2;
	}
	if (!(ep = endpoint_open(&r, cfg, "health", epname, argc, argv, &rc)))
		return rc;
	r.health_for = ep->name;
	if (engine_health_refresh(r.e, ep->name, &err) < 0) {
		errf_core("health", NULL, err);
		run_close(&r, 0);
		return 1;
	}
	step_until(&r, &r.health_seen);
	h = engine_health(r.e, ep->name);
	if (!h || !r.health_seen) {
		errf("health", "no answer from %s within 30 s: check the network and the URL",
		     ep->url ? ep->url : ep->name);
		run_close(&r, 0);
		return 1;
	}
	if (json)
		json_print(health_json(ep, h));
	else
		print_health(ep, h);
	rc = h->reachable && !h->auth_failed ? 0 : 1;
	if (!json && h->auth_failed)
		errf("health", "the endpoint refused the API key (401/403): check RUNPOD_API_KEY");
	run_close(&r, 0);
	return rc;
}

int cli_purge_queue(struct config *cfg, int argc, char **argv)
{
	static const struct option lo[] = {
	    {"endpoint", required_argument, 0, 'e'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	const struct config_endpoint *ep;
	const char *epname = NULL;
	struct run r;
	char *err = NULL;
	int c, rc;

	if (cmd_help_opt("purge-queue", argc, argv))
		return 0;
	opt_reset();
	while ((c = next_opt("purge-queue", argc, argv, ":e:", lo)) != -1) {
		if (c == 'e')
			epname = optarg;
		else
			return 2;
	}
	if (!(ep = endpoint_open(&r, cfg, "purge-queue", epname, argc, argv, &rc)))
		return rc;
	if (engine_purge_queue(r.e, ep->name, &err) < 0) {
		errf_core("purge-queue", NULL, err);
		run_close(&r, 0);
		return 1;
	}
	step_until(&r, &r.msg_seen);
	if (!r.msg_seen) {
		errf("purge-queue", "no answer within 30 s: check sdq health");
		rc = 1;
	} else if (r.msg_error) {
		errf("purge-queue", "%s", r.msg);
		rc = 1;
	} else {
		printf("%s\n", r.msg);
		rc = 0;
	}
	run_close(&r, 0);
	return rc;
}

/* ---------------------------------------------------------------- driver */

/* Log one line naming the live jobs the driver leaves behind because it
 * cannot drive them (it tracks them, yet drives none). Returns their number. */
static int64_t log_undrivable(struct run *r)
{
	struct store_query q;
	struct job **jobs = NULL;
	size_t n = 0, shown = 0;
	int64_t count = 0;
	char *err = NULL, line[1024];
	int len = 0;

	memset(&q, 0, sizeof q);
	q.live_only = 1;
	q.oldest_first = 1;
	if (store_job_list(r->st, &q, &jobs, &n, &err) < 0) {
		free(err);
		return 0;
	}
	line[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		char *ep;
		if (!engine_job(r->e, jobs[i]->id))
			continue; /* not seen yet: a new driver takes it */
		count++;
		if (shown >= 20 || len < 0 || (size_t)len >= sizeof line - 200)
			continue;
		ep = clean(jobs[i]->endpoint ? jobs[i]->endpoint : "?");
		len += snprintf(line + len, sizeof line - (size_t)len, "%s%lld (%s)",
		                shown ? ", " : "", (long long)jobs[i]->id, ep ? ep : "?");
		free(ep);
		shown++;
	}
	store_jobs_free(jobs, n);
	if (count > 0) {
		char t[40];
		fprintf(stderr,
		        "%s driver: %lld live job%s left for a driver whose config has %s "
		        "endpoint: %s%s\n",
		        job_iso8601(job_now_ms(), t, sizeof t), (long long)count,
		        count == 1 ? "" : "s", count == 1 ? "its" : "their", line,
		        (int64_t)shown < count ? ", ..." : "");
	}
	return count;
}

int cli_driver(struct config *cfg, int argc, char **argv)
{
	static const struct option lo[] = {{"status", no_argument, 0, 's'},
	                                   {"linger", required_argument, 0, 'l'},
	                                   {"help", no_argument, 0, 'h'},
	                                   {0, 0, 0, 0}};
	struct store_query q;
	struct run r;
	int c, status = 0;
	double linger_s = 3;
	int64_t idle_since = 0, next_db_check = 0;
	struct stat db0;
	int gone = 0;
	int64_t undrivable = 0;
	long pid;

	if (cmd_help_opt("driver", argc, argv))
		return 0;
	opt_reset();
	while ((c = next_opt("driver", argc, argv, ":", lo)) != -1) {
		if (c == 's') {
			status = 1;
		} else if (c == 'l') {
			if (parse_double(optarg, &linger_s) < 0 || linger_s < 0)
				return usage_error("driver", "--linger needs seconds");
		} else {
			return 2;
		}
	}
	if (optind < argc)
		return usage_error("driver", "unexpected argument '%s'", argv[optind]);
	memset(&q, 0, sizeof q);
	q.live_only = 1;
	if (status) {
		struct store *st = open_store(cfg, "driver");
		int64_t live;
		if (!st)
			return 1;
		pid = store_driver_pid(st);
		live = store_job_count(st, &q, NULL);
		if (pid)
			printf("driver running, pid %ld, %lld live jobs\n", pid, (long long)live);
		else
			printf("no driver running, %lld live jobs\n", (long long)live);
		store_close(st);
		return pid ? 0 : 1;
	}
	if (run_open(&r, cfg, "driver", 1) < 0)
		return 1;
	r.log = 1;
	if (!engine_is_driver(r.e)) {
		pid = store_driver_pid(r.st);
		fprintf(stderr, "sdq: driver: another sdq drives the jobs (pid %ld)\n", pid);
		run_close(&r, 0);
		return 0;
	}
	{
		char t[40];
		fprintf(stderr, "%s driver started, pid %ld\n",
		        job_iso8601(job_now_ms(), t, sizeof t), (long)getpid());
	}
	if (stat(cfg->db_path, &db0) < 0)
		memset(&db0, 0, sizeof db0);
	for (;;) {
		int64_t now = engine_now_ms();
		if (r.signo)
			break;
		if (!engine_is_driver(r.e))
			break;
		/* A history file deleted or replaced under us (a removed test or
		 * demo directory) has no one left to serve: stop. */
		if (now >= next_db_check) {
			struct stat sb;
			next_db_check = now + 2000;
			if (stat(cfg->db_path, &sb) < 0 || sb.st_ino != db0.st_ino ||
			    sb.st_dev != db0.st_dev) {
				gone = 1;
				break;
			}
		}
		/* Live jobs it cannot drive (their endpoint is not in this
		 * config) do not keep it alive: they wait for a driver that can. */
		if (engine_driving_count(r.e) > 0) {
			idle_since = 0;
		} else if (!idle_since) {
			idle_since = now;
		} else if (now - idle_since >= (int64_t)(linger_s * 1000)) {
			undrivable = log_undrivable(&r);
			break;
		}
		if (engine_step(r.e, idle_since ? 500 : 1000) < 0)
			break;
	}
	{
		char t[40];
		fprintf(stderr, "%s driver exits%s\n", job_iso8601(job_now_ms(), t, sizeof t),
		        r.signo      ? " on a signal"
		        : gone       ? ": the history file was removed"
		        : undrivable ? ", nothing it can drive"
		                     : ", no live jobs");
	}
	/* A job submitted while this driver was on its way out saw a driver and
	 * started none: hand it to a new one once the lock is free (not for the
	 * jobs it could not drive itself: a new driver of the same config could
	 * not either, and would only be started again and again). */
	if (undrivable > 0 && !r.signo && !gone) {
		status_clear(&r);
		engine_free(r.e);
		r.e = NULL;
		ensure_driver_above(cfg, r.st, undrivable);
		run_close(&r, 0);
		return 0;
	}
	run_close(&r, !r.signo && !gone);
	return 0;
}

/* ------------------------------------------------------------------ demo */

/* The emulator script: $SDQ_EMULATOR, else next to the executable (build
 * tree or installed). Malloc'd, or NULL. */
static char *find_emulator(void)
{
	const char *env = getenv("SDQ_EMULATOR");
	static const char *const rel[] = {"/../tests/emulator.py", "/../../tests/emulator.py",
	                                  "/../share/sdq/emulator.py", "/tests/emulator.py"};
	char exe[PATH_MAX], path[PATH_MAX * 2], *slash;
	ssize_t n;

	if (env && *env)
		return access(env, R_OK) == 0 ? strdup(env) : NULL;
	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	if (!(slash = strrchr(exe, '/')))
		return NULL;
	*slash = '\0';
	for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
		char *real;
		snprintf(path, sizeof path, "%s%s", exe, rel[i]);
		if (access(path, R_OK) == 0 && (real = realpath(path, NULL)))
			return real;
	}
	return NULL;
}

/* Start the emulator; read "PORT n" from its stdout. Returns its pid (and
 * *port), or -1 after printing an error. */
static pid_t start_emulator(const char *script, int *port)
{
	int fds[2];
	pid_t pid;
	char buf[256];
	size_t len = 0;
	int64_t start;

	if (pipe(fds) < 0)
		return -1;
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		dup2(fds[1], STDOUT_FILENO);
		if (null >= 0) {
			dup2(null, STDIN_FILENO);
			if (!getenv("SDQ_DEMO_DEBUG"))
				dup2(null, STDERR_FILENO);
		}
		close_from(3);
		execl("/usr/bin/python3", "python3", script, "--port", "0", "--key", "demo-key",
		      "--endpoint", "test", "--idle-exit", "3600", "--max-lifetime", "86400",
		      "--quiet", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	start = engine_now_ms();
	*port = 0;
	while (engine_now_ms() - start < 10000 && len < sizeof buf - 1) {
		struct pollfd pfd = {fds[0], POLLIN, 0};
		ssize_t n;
		char *nl;
		if (poll(&pfd, 1, 200) <= 0)
			continue;
		n = read(fds[0], buf + len, sizeof buf - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		buf[len] = '\0';
		if ((nl = strstr(buf, "PORT ")) && strchr(nl, '\n')) {
			*port = atoi(nl + 5);
			break;
		}
	}
	close(fds[0]);
	if (*port <= 0) {
		fprintf(stderr,
		        "sdq: demo: the emulator did not start (python3 %s): run it by hand "
		        "to see why\n",
		        script);
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
		return -1;
	}
	return pid;
}

/* rm -r of the demo directory (only files and directories sdq made). */
static void remove_tree(const char *path)
{
	pid_t pid = fork();
	if (pid == 0) {
		execl("/bin/rm", "rm", "-rf", "--", path, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

int cli_demo(struct config *cfg, int argc, char **argv)
{
	char *script, dir[PATH_MAX], url[128], cfgpath[PATH_MAX + 16];
	const char *base = getenv("XDG_RUNTIME_DIR");
	int keep = 0, port, status = 0, first = 1, rc;
	pid_t emu, child;
	struct sigaction ign, old_int, old_quit;

	(void)cfg;
	for (; first < argc && argv[first][0] == '-'; first++) {
		if (strcmp(argv[first], "--keep") == 0) {
			keep = 1;
		} else if (strcmp(argv[first], "--help") == 0 || strcmp(argv[first], "-h") == 0) {
			cli_command_usage("demo", stdout);
			return 0;
		} else if (strcmp(argv[first], "--") == 0) {
			first++;
			break;
		} else {
			return usage_error("demo", "unknown option %s", argv[first]);
		}
	}
	if (!(script = find_emulator())) {
		fprintf(stderr, "sdq: demo: cannot find emulator.py: set SDQ_EMULATOR to its path "
		                "(it is tests/emulator.py in the source tree)\n");
		return 1;
	}
	if (!base || !*base || access(base, W_OK) != 0)
		base = "/tmp";
	snprintf(dir, sizeof dir, "%s/sdq-demo-%ld-XXXXXX", base, (long)getuid());
	if (!mkdtemp(dir)) {
		fprintf(stderr, "sdq: demo: cannot create a directory in %s: %s\n", base,
		        strerror(errno));
		free(script);
		return 1;
	}
	if ((emu = start_emulator(script, &port)) < 0) {
		free(script);
		remove_tree(dir);
		return 1;
	}
	free(script);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/v2/test", port);
	snprintf(cfgpath, sizeof cfgpath, "%s/config", dir);
	/* A throwaway key for a local emulator: not a secret. */
	setenv("RUNPOD_API_KEY", "demo-key", 1);
	setenv("SDQ_ENDPOINT", url, 1);
	setenv("SDQ_DATA_DIR", dir, 1);
	setenv("SDQ_CONFIG", cfgpath, 1); /* does not exist: the user's config is not used */
	fprintf(stderr, "sdq demo: emulator on 127.0.0.1:%d, data in %s\n", port, dir);

	memset(&ign, 0, sizeof ign);
	ign.sa_handler = SIG_IGN;
	sigaction(SIGINT, &ign, &old_int);
	sigaction(SIGQUIT, &ign, &old_quit);
	child = fork();
	if (child == 0) {
		char **av = calloc((size_t)(argc - first) + 2, sizeof *av);
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGQUIT, &old_quit, NULL);
		if (!av)
			_exit(127);
		av[0] = "sdq";
		for (int i = first; i < argc; i++)
			av[i - first + 1] = argv[i];
		execv("/proc/self/exe", av);
		_exit(127);
	}
	if (child > 0)
		while (waitpid(child, &status, 0) < 0 && errno == EINTR)
			;
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGQUIT, &old_quit, NULL);
	rc = child < 0 ? 1 : WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);

	/* A background driver started inside the demo works on the demo's data:
	 * stop it with the emulator. */
	{
		char db[PATH_MAX + 16];
		struct store *st;
		snprintf(db, sizeof db, "%s/history.db", dir);
		if (access(db, F_OK) == 0 && (st = store_open(db, NULL))) {
			long dpid = store_driver_pid(st);
			if (dpid > 0 && dpid != getpid())
				kill((pid_t)dpid, SIGTERM);
			store_close(st);
		}
	}
	kill(emu, SIGTERM);
	while (waitpid(emu, NULL, 0) < 0 && errno == EINTR)
		;
	if (keep) {
		fprintf(stderr, "sdq demo: kept %s (SDQ_DATA_DIR=%s sdq ls)\n", dir, dir);
	} else {
		remove_tree(dir);
		if (first < argc)
			fprintf(stderr, "sdq demo: removed %s (sdq demo --keep keeps it)\n", dir);
	}
	return rc;
}

/* ------------------------------------------------------------ the table */

static const struct cli_command commands[] = {
    {"ls", cli_ls, "[--json] [--state S[,S...]] [--limit N] [--all] [TEXT...]",
     "list jobs, newest first",
     "  --json           print a JSON array of jobs\n"
     "  --state S,...    only jobs in these states (IN_QUEUE, COMPLETED, ..., or live, done)\n"
     "  --limit N        at most N jobs (default 20)\n"
     "  --all            no limit\n"
     "  TEXT...          full-text search over prompts\n",
     0},
    {"show", cli_show, "ID... [--json]", "show a job: parameters, timings, error, images, events",
     "  --json           print the job as JSON (with its events)\n", 0},
    {"submit", cli_submit,
     "[-e ENDPOINT] -p PROMPT [-n NEG] [--seed N] [--steps N] [--cfg X] [-W N] [-H N]\n"
     "        [--count N] [--sampler S] [--template NAME] [--set KEY=JSON]... [--wait]\n"
     "        [--timeout SECS] [--sync] [--json]",
     "submit a job; print its id",
     "  -e, --endpoint E endpoint name from the config, a URL or a RunPod endpoint id\n"
     "  -p, --prompt P   the prompt (or give it as the only argument)\n"
     "  -n, --negative N the negative prompt\n"
     "  --seed N         seed (default: random, recorded)\n"
     "  --steps N, --cfg X, -W/--width N, -H/--height N, --count N, --sampler S\n"
     "                   generation parameters (unset ones are left to the worker)\n"
     "  --template NAME  input template (sd15, sdxl, a1111, comfyui or a file)\n"
     "  --set KEY=JSON   add KEY to the worker input (VALUE is JSON, or else text)\n"
     "  --wait           wait for the job; print its image paths; exit 1 unless it\n"
     "                   COMPLETED with images\n"
     "  --timeout SECS   with --wait: give up waiting after SECS (the job goes on)\n"
     "  --sync           send it through RunPod's /runsync (answer within 90 s; a job\n"
     "                   not done by then is polled as usual); needs no other sdq\n"
     "                   driving, else it goes by /run\n"
     "  --json           print the job as JSON instead of its id\n",
     0},
    {"wait", cli_wait, "[--json] [--timeout SECS] ID...",
     "wait for jobs to finish; print their image paths",
     "  --json           print the finished jobs as JSON\n"
     "  --timeout SECS   give up after SECS (exit 1; the jobs go on)\n",
     0},
    {"cancel", cli_cancel, "ID...", "cancel live jobs", NULL, 0},
    {"retry", cli_retry, "[--wait] [--json] ID",
     "ask the endpoint to retry a FAILED or TIMED_OUT job (same remote id)",
     "  --wait           wait for it as with submit --wait\n", 0},
    {"rerun", cli_rerun, "[--wait] [--json] ID",
     "submit a new job with the same parameters and seed; print its id",
     "  --wait           wait for it as with submit --wait\n", 0},
    {"get", cli_get, "[-o DIR] ID", "copy a job's images to DIR (default .); print their paths",
     "  -o, --output DIR where to copy (created if needed)\n", 0},
    {"rm", cli_rm, "[--files] ID...", "delete finished jobs from the history",
     "  --files          also delete their image files\n", 0},
    {"health", cli_health, "[-e ENDPOINT] [--json]",
     "show an endpoint's health: queue, workers (exit 1 if unreachable)",
     "  -e, --endpoint E the endpoint (default: the default one)\n"
     "  --json           print it as JSON\n",
     0},
    {"purge-queue", cli_purge_queue, "[-e ENDPOINT]",
     "remove every queued job of an endpoint (running ones go on)",
     "  -e, --endpoint E the endpoint (default: the default one)\n", 0},
    {"driver", cli_driver, "[--status] [--linger SECS]",
     "drive live jobs until none remain (what a background driver runs)",
     "  --status         say whether a driver runs (exit 0) or not (exit 1)\n"
     "  --linger SECS    exit after SECS with no live jobs (default 3)\n",
     0},
    {"preview", NULL, "ID [-w COLS]", "print a job's images in the terminal (sixel or blocks)",
     "  -w COLS          width in terminal columns\n", 0},
    {"demo", cli_demo, "[--keep] [COMMAND [ARGS...]]",
     "try sdq against a local endpoint emulator (no account needed)",
     "  --keep           keep the demo's data directory\n"
     "  COMMAND          run this sdq command instead of the dashboard,\n"
     "                   e.g. sdq demo submit -p cat --wait\n",
     1},
    {"help", cli_help, "[COMMAND]", "show help for sdq or a command", NULL, 1},
    {NULL, NULL, NULL, NULL, NULL, 0},
};

const struct cli_command *cli_commands(void)
{
	return commands;
}

const struct cli_command *cli_command_find(const char *name)
{
	for (const struct cli_command *c = commands; c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

void cli_usage(FILE *f)
{
	fprintf(f, "usage: sdq [-e ENDPOINT] [--config FILE] [--no-color] [COMMAND [ARGS]]\n"
	           "\n"
	           "sdq is a terminal job manager for Stable Diffusion: with no command it opens\n"
	           "the dashboard; the commands below script the same job queue and history.\n"
	           "\n"
	           "Options:\n"
	           "  -e, --endpoint E endpoint name, URL or RunPod id (also SDQ_ENDPOINT)\n"
	           "  --config FILE    config file (also SDQ_CONFIG)\n"
	           "  --no-color       no colour (also NO_COLOR)\n"
	           "  -h, --help       this help;  -V, --version  the version\n"
	           "\n"
	           "Commands:\n");
	for (const struct cli_command *c = commands; c->name; c++)
		fprintf(f, "  %-12s %s\n", c->name, c->summary);
	fprintf(f, "\nsdq help COMMAND shows a command's options; man sdq has the rest.\n");
}

int cli_command_usage(const char *name, FILE *f)
{
	const struct cli_command *c = cli_command_find(name);
	if (!c)
		return -1;
	fprintf(f, "usage: sdq %s %s\n\n%s.\n", c->name, c->args, c->summary);
	if (c->help)
		fprintf(f, "\n%s", c->help);
	return 0;
}
