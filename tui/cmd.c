/*
 * cmd.c: what the scriptable subcommands share (see cmd.h): global options,
 * error and usage lines, option and number parsing, formatting, the store and
 * endpoint look-ups, and the public JSON form of a job.
 *
 * Text from the store (prompts, errors, paths) is sanitised before it is
 * printed to a terminal; JSON output is built with cJSON, which escapes C0
 * controls, and cmd_json_print escapes the rest a terminal would act on.
 */
#include "cmd.h"

#include <errno.h>
#include <stdint.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include "cli.h"
#include "backend.h"
#include "config.h"
#include "store.h"
#include "text.h"
#include "util.h"

static const char *g_endpoint; /* -e NAME|URL|ID, or NULL */
static int g_color = 1;
static const struct config *g_config; /* for the prices of cmd_job_json's cost */

void cmd_set_config(const struct config *cfg)
{
	g_config = cfg;
}

int cmd_group_cost(struct store *st, int64_t gid, char *buf, size_t len)
{
	struct cost_sum s = {0};

	if (cost_group(st, g_config, gid, &s, NULL) < 0)
		return -1;
	cost_sum_format(&s, buf, len);
	return 0;
}

enum cost_status cmd_job_cost(const struct job *j, double *out)
{
	enum cost_status st = g_config ? cost_job(g_config, j, out) : COST_NO_PRICE;

	if (st == COST_OK)
		*out = round(*out * 1e6) / 1e6; /* a millionth: no binary noise in JSON */
	return st;
}

void cmd_set_endpoint(const char *endpoint)
{
	g_endpoint = endpoint;
}

void cmd_set_color(int color)
{
	g_color = color;
}
/* ---------------------------------------------------------------- helpers */

/* One error line: "sdq: CMD: message". */
void cmd_errf(const char *cmd, const char *fmt, ...)
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
char *cmd_clean(const char *s)
{
	char *c = text_sanitize_str(s, 0);
	if (!c) {
		fputs("sdq: out of memory\n", stderr);
		exit(1);
	}
	return c;
}

/* Print s sanitised to f. */
void cmd_put_clean(FILE *f, const char *s)
{
	char *c = cmd_clean(s);
	fputs(c, f);
	free(c);
}

/* The error line for a core call that failed: "what: err" (just "err" when
 * what is NULL), err sanitised and "error" when NULL. Takes err and frees it. */
void cmd_errf_core(const char *cmd, const char *what, char *err)
{
	char *e = cmd_clean(err ? err : "error");
	if (what)
		cmd_errf(cmd, "%s: %s", what, e);
	else
		cmd_errf(cmd, "%s", e);
	free(e);
	free(err);
}

int cmd_use_color(void)
{
	const char *nc = getenv("NO_COLOR");
	return g_color && !(nc && *nc) && isatty(STDOUT_FILENO);
}

const char *cmd_state_color(enum job_state s)
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
int cmd_term_cols(void)
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

/* "label     value" on stdout, value sanitised. */
void cmd_show_line(const char *label, const char *value)
{
	printf("%-10s ", label);
	cmd_put_clean(stdout, value);
	putchar('\n');
}

/* "label     value" with each line of value on a line of its own, the
 * later ones indented under the first; each line sanitised. */
void cmd_show_lines(const char *label, const char *value)
{
	const char *s = value ? value : "";
	int first = 1;
	for (;;) {
		const char *nl = strchr(s, '\n');
		size_t n = nl ? (size_t)(nl - s) : strlen(s);
		char *c = text_sanitize(s, n, 0);
		printf("%-10s %s\n", first ? label : "", c ? c : "");
		free(c);
		first = 0;
		if (!nl)
			break;
		s = nl + 1;
	}
}

/* Print s, which is already sanitised, cut to at most cols terminal columns
 * (cols <= 0: no limit). */
void cmd_put_fit(const char *s, int cols)
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
void cmd_fmt_age(int64_t ms, char *buf, size_t len)
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
void cmd_fmt_dur(int64_t ms, char *buf, size_t len)
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
void cmd_fmt_time(int64_t ms, char *buf, size_t len)
{
	struct tm tm;
	time_t t = (time_t)(ms / 1000);
	if (ms <= 0 || !localtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, len, "-");
}

int cmd_parse_long(const char *s, long min, long max, long *out)
{
	long long v;
	if (util_parse_ll(s, min, max, &v) < 0)
		return -1;
	*out = (long)v;
	return 0;
}

int cmd_parse_i64(const char *s, int64_t *out)
{
	long long v;
	if (util_parse_ll(s, INT64_MIN, INT64_MAX, &v) < 0)
		return -1;
	*out = (int64_t)v;
	return 0;
}

int cmd_parse_double(const char *s, double *out)
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

/* Print a usage error as one line; returns 2. */
int cmd_usage_error(const char *cmd, const char *fmt, ...)
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
int cmd_next_opt(const char *cmd, int argc, char **argv, const char *shortopts,
                 const struct option *longopts)
{
	int c;

	if (getenv("SDQ_TEST_OPTS")) {
		/* tests/it_complete.sh: the getopt tables agree with cli.c's */
		char *drift = cli_check_opts(cmd, shortopts, longopts);
		if (drift) {
			cmd_errf(cmd, "option table drift: %s", drift);
			free(drift);
			exit(70);
		}
	}
	c = getopt_long(argc, argv, shortopts, longopts, NULL);
	if (c == '?') {
		if (optopt && optopt != '?')
			cmd_usage_error(cmd, "unknown option -%c", optopt);
		else
			cmd_usage_error(cmd, "unknown option %s", argv[optind - 1]);
	} else if (c == ':') {
		cmd_usage_error(cmd, "option %s needs a value", argv[optind - 1]);
		c = '?';
	}
	return c;
}

void cmd_opt_reset(void)
{
	optind = 0; /* GNU: re-initialise, so every command starts afresh */
	opterr = 0;
}

/* Open the store of cfg. NULL after printing an error. */
struct store *cmd_open_store(struct config *cfg, const char *cmd)
{
	char *err = NULL;
	struct store *st = store_open(cfg->db_path, &err);
	if (!st) {
		cmd_errf(cmd, "cannot open the history %s: %s", cfg->db_path, err ? err : "error");
		free(err);
	}
	return st;
}

/* Resolve a user's job reference; 0 after printing an error. */
int64_t cmd_find_job(struct store *st, const char *ref, const char *cmd)
{
	char *err = NULL;
	char *c;
	int64_t id = store_job_find(st, ref, &err);
	if (id > 0)
		return id;
	c = cmd_clean(ref);
	if (err) {
		char *e = cmd_clean(err);
		cmd_errf(cmd, "%s: %s", c, e);
		free(e);
	} else {
		cmd_errf(cmd, "no job '%s': see sdq ls for the ids", c);
	}
	free(c);
	free(err);
	return 0;
}

/* The job id from the store, or NULL after saying why (cmd's message). */
struct job *cmd_read_job(struct store *st, int64_t id, const char *cmd)
{
	char *err = NULL;
	struct job *j = store_job_get(st, id, &err);
	if (!j)
		cmd_errf(cmd, "cannot read job %lld: %s", (long long)id, err ? err : "gone");
	free(err);
	return j;
}

/* The endpoint to use: the command's -e, else the global one, else the
 * default. NULL after printing an error. */
const struct config_endpoint *cmd_pick_endpoint(struct config *cfg, const char *name,
                                                const char *cmd)
{
	const struct config_endpoint *ep;
	if (!name)
		name = g_endpoint;
	ep = config_endpoint(cfg, name);
	if (!ep) {
		if (name) {
			char *c = cmd_clean(name);
			cmd_errf(cmd,
			         "unknown endpoint '%s': name one from the config file (%s), or "
			         "give a URL or a RunPod endpoint id",
			         c, cfg->config_path ? cfg->config_path : "~/.config/sdq/config");
			free(c);
		} else {
			cmd_errf(
			    cmd,
			    "no endpoint configured: set SDQ_ENDPOINT (a RunPod endpoint id or "
			    "URL) or add an [endpoint] section to %s",
			    cfg->config_path ? cfg->config_path : "~/.config/sdq/config");
		}
	}
	return ep;
}

/* A RunPod endpoint needs an API key: check there is one before queueing
 * work that could never be sent. The key itself is wiped at once. */
int cmd_check_key(const struct config_endpoint *ep, const char *cmd)
{
	char *err = NULL, *key;
	if (!(backend_kind_of(ep)->caps & BACKEND_NEEDS_KEY) ||
	    strcmp(config_endpoint_api(ep), "runpod-local") == 0)
		return 0; /* runpod-python's local test API takes no key */
	if (ep->api_key_cmd)
		return 0; /* run once, by the engine's loop (engine_key_pending) */
	key = config_api_key(ep, &err);
	if (!key) {
		char *c = cmd_clean(err ? err : "no API key");
		cmd_errf(cmd, "%s", c);
		free(c);
		free(err);
		return -1;
	}
	config_key_free(key);
	return 0;
}

/* ------------------------------------------------------------- JSON output */

void cmd_json_time(cJSON *o, const char *name, int64_t ms)
{
	char buf[40];
	if (ms == 0)
		cJSON_AddNullToObject(o, name);
	else
		cJSON_AddStringToObject(o, name, job_iso8601(ms, buf, sizeof buf));
}

void cmd_json_str(cJSON *o, const char *name, const char *s)
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
cJSON *cmd_job_json(const struct job *j, const struct store_event *ev, size_t nev)
{
	cJSON *o = cJSON_CreateObject(), *a;
	const struct job_params *p = &j->params;

	if (!o)
		return NULL;
	json_i64(o, "id", j->id);
	cmd_json_str(o, "remote_id", j->remote_id);
	cmd_json_str(o, "backend", j->backend);
	cmd_json_str(o, "endpoint", j->endpoint ? j->endpoint : p->endpoint);
	cmd_json_str(o, "endpoint_url", j->endpoint_url);
	cmd_json_str(o, "api", j->api);
	cmd_json_str(o, "key_fingerprint", j->key_fp);
	cJSON_AddStringToObject(o, "state", job_state_name(j->state));
	if (j->state == JOB_OTHER)
		cmd_json_str(o, "status_text", j->status_text);
	cmd_json_str(o, "prompt", p->prompt);
	cmd_json_str(o, "negative_prompt", p->negative_prompt);
	json_i64_or_null(o, "seed", p->seed, 0);
	json_i64_or_null(o, "width", p->width, 1);
	json_i64_or_null(o, "height", p->height, 1);
	json_i64_or_null(o, "steps", p->steps, 1);
	if (p->has_cfg)
		cJSON_AddNumberToObject(o, "cfg", p->cfg);
	else
		cJSON_AddNullToObject(o, "cfg");
	cmd_json_str(o, "sampler", p->sampler);
	json_i64_or_null(o, "count", p->count, 1);
	cmd_json_str(o, "template", p->template_name);
	/* the group of one submit of variations, and what varies for this job */
	if (j->group_id > 0)
		json_i64(o, "group", j->group_id);
	else
		cJSON_AddNullToObject(o, "group");
	{
		cJSON *x = j->variant ? cJSON_Parse(j->variant) : NULL;
		if (cJSON_IsObject(x))
			cJSON_AddRawToObject(o, "variant", j->variant); /* numbers exact */
		else
			cJSON_AddNullToObject(o, "variant");
		cJSON_Delete(x);
	}
	if (p->extra_json) {
		/* as recorded: its numbers exact (cJSON would make them doubles) */
		cJSON *x = cJSON_Parse(p->extra_json);
		cJSON_Delete(x);
		if (x)
			cJSON_AddRawToObject(o, "extra", p->extra_json);
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
		cmd_json_str(x, "path", out->path);
		json_i64_or_null(x, "width", out->width, 1);
		json_i64_or_null(x, "height", out->height, 1);
		json_i64_or_null(x, "seed", out->seed, 0);
		cmd_json_str(x, "format", out->format);
		json_i64_or_null(x, "bytes", out->bytes, 0);
		cJSON_AddItemToArray(a, x);
	}
	cmd_json_str(o, "error", j->error);
	json_i64_or_null(o, "delay_ms", j->delay_ms, 0);
	json_i64_or_null(o, "exec_ms", j->exec_ms, 0);
	{
		double c;
		if (cmd_job_cost(j, &c) == COST_OK)
			cJSON_AddNumberToObject(o, "cost", c);
		else
			cJSON_AddNullToObject(o, "cost"); /* no price set, or no execution time */
	}
	cmd_json_str(o, "worker_id", j->worker_id);
	if (j->progress >= 0)
		cJSON_AddNumberToObject(o, "progress", j->progress);
	else
		cJSON_AddNullToObject(o, "progress");
	cmd_json_str(o, "progress_text", j->progress_text);
	cmd_json_time(o, "created_at", j->created_at);
	cmd_json_time(o, "submitted_at", j->submitted_at);
	cmd_json_time(o, "started_at", j->started_at);
	cmd_json_time(o, "finished_at", j->finished_at);
	if (ev) {
		a = cJSON_AddArrayToObject(o, "events");
		for (size_t i = 0; a && i < nev; i++) {
			cJSON *x = cJSON_CreateObject();
			if (!x)
				break;
			cmd_json_time(x, "at", ev[i].at);
			cmd_json_str(x, "state", ev[i].state);
			cmd_json_str(x, "detail", ev[i].detail);
			cJSON_AddItemToArray(a, x);
		}
	}
	return o;
}

/* 1 for the code points JSON output writes as \uXXXX although JSON allows
 * them raw: DEL, C1 controls, and the marks that reorder or break lines on a
 * terminal (bidi marks, overrides and isolates, line/paragraph separators). */
static int json_must_escape(uint32_t cp)
{
	return (cp >= 0x7f && cp <= 0x9f) || cp == 0x200e || cp == 0x200f ||
	       (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

/* Write cJSON's text to f so that printing it on a terminal is safe: cJSON
 * escapes C0 controls but copies every other byte, so each code point
 * json_must_escape() names is written \uXXXX and each byte that is not part
 * of valid UTF-8 (an old history may hold one) becomes \ufffd. Bytes >= 0x7f
 * only occur inside strings, so a pass over the whole text is enough. */
static void json_put_safe(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);

	while (n > 0) {
		uint32_t cp;
		size_t k;
		if (*p < 0x7f) {
			fputc(*p, f);
			p++, n--;
			continue;
		}
		k = *p == 0x7f ? 1 : text_utf8_decode(p, n, &cp);
		if (*p == 0x7f)
			cp = 0x7f;
		if (k == 0) {
			fputs("\\ufffd", f);
			p++, n--;
		} else if (json_must_escape(cp)) {
			fprintf(f, "\\u%04x", (unsigned)cp);
			p += k, n -= k;
		} else {
			fwrite(p, 1, k, f);
			p += k, n -= k;
		}
	}
}

/* Print a JSON tree (formatted) and free it. -1 on ENOMEM. */
int cmd_json_print(cJSON *o)
{
	char *s = o ? cJSON_Print(o) : NULL;
	cJSON_Delete(o);
	if (!s) {
		fputs("sdq: out of memory\n", stderr);
		return -1;
	}
	json_put_safe(stdout, s);
	fputc('\n', stdout);
	free(s);
	return 0;
}
int cmd_help_opt(const char *name, int argc, char **argv)
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
int64_t cmd_parse_group(const char *ref)
{
	long long id;
	const char *s = ref + (ref[0] == 'g' || ref[0] == 'G');

	if (*s < '0' || *s > '9' || util_parse_ll(s, 1, INT64_MAX, &id) < 0)
		return 0;
	return (int64_t)id;
}

int64_t cmd_find_group(struct store *st, const char *ref, const char *cmd)
{
	struct store_group *g;
	char *err = NULL, *c;
	int64_t id = cmd_parse_group(ref);

	if (!id) {
		c = cmd_clean(ref);
		cmd_errf(cmd, "'%s' is not a group (a number, as sdq ls --groups shows)", c);
		free(c);
		return 0;
	}
	if (!(g = store_group_get(st, (int64_t)id, &err))) {
		if (err)
			cmd_errf_core(cmd, "cannot read the history", err);
		else
			cmd_errf(cmd, "no group %lld (sdq ls --groups lists them)", (long long)id);
		return 0;
	}
	store_group_free(g);
	return id;
}

int64_t *cmd_group_jobs(struct store *st, int64_t gid, int live_only, const char *cmd, size_t *n)
{
	struct store_query q;
	struct job **jobs = NULL;
	int64_t *ids;
	char *err = NULL;

	memset(&q, 0, sizeof q);
	q.group_id = gid;
	q.live_only = live_only;
	q.oldest_first = 1;
	*n = 0;
	if (store_job_list(st, &q, &jobs, n, &err) < 0) {
		cmd_errf_core(cmd, "cannot read the history", err);
		return NULL;
	}
	if (!(ids = calloc(*n + 1, sizeof *ids))) {
		store_jobs_free(jobs, *n);
		cmd_errf(cmd, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < *n; i++)
		ids[i] = jobs[i]->id;
	store_jobs_free(jobs, *n);
	return ids;
}

/* Parse the ids of argv[from..argc) into a malloc'd array. NULL on error. */
int64_t *cmd_find_jobs(struct store *st, int argc, char **argv, int from, const char *cmd,
                       size_t *n)
{
	int64_t *ids = calloc((size_t)(argc - from) + 1, sizeof *ids);
	*n = 0;
	if (!ids)
		return NULL;
	for (int i = from; i < argc; i++) {
		int64_t id = cmd_find_job(st, argv[i], cmd);
		if (!id) {
			free(ids);
			return NULL;
		}
		ids[(*n)++] = id;
	}
	return ids;
}
