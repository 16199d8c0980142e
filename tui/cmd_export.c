/*
 * cmd_export.c: sdq export and sdq import. Export writes the history (every
 * parameter, timing, state, image path and cost: the public JSON form of a
 * job, cmd_job_json) as JSON Lines for scripts or as CSV for spreadsheets;
 * import reads the JSON Lines back into another history, skipping jobs it
 * already has and copying the images whose files it can find. The history is
 * read and written through store.h only.
 */
#include "cmd_export.h"

#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "cmd.h"
#include "config.h"
#include "job.h"
#include "store.h"
#include "text.h"
#include "util.h"

/* Longest line import reads (a job with its outputs is a few KB). */
#define EXPORT_LINE_MAX (4 << 20)

/* The CSV columns: members of the job's JSON form, in this order. */
static const char *const csv_cols[] = {"id",
                                       "remote_id",
                                       "endpoint",
                                       "backend",
                                       "state",
                                       "prompt",
                                       "negative_prompt",
                                       "seed",
                                       "steps",
                                       "cfg",
                                       "sampler",
                                       "width",
                                       "height",
                                       "count",
                                       "template",
                                       "created_at",
                                       "submitted_at",
                                       "started_at",
                                       "finished_at",
                                       "delay_ms",
                                       "exec_ms",
                                       "cost",
                                       "images",
                                       "error",
                                       NULL};

int export_parse_since(const char *s, int64_t now_ms, int64_t *out)
{
	struct tm tm = {0};
	const char *end;
	long long n;
	char unit;
	int len = 0;

	/* 7d, 24h: that long before now */
	if (sscanf(s, "%lld%c%n", &n, &unit, &len) == 2 && !s[len] && n >= 0 && n < 100000 &&
	    (unit == 'd' || unit == 'h')) {
		*out = now_ms - n * (unit == 'd' ? 86400000LL : 3600000LL);
		return 0;
	}
	if (!(end = strptime(s, "%Y-%m-%d", &tm)))
		return -1;
	if (*end == 'T' || *end == ' ') {
		const char *e2 = strptime(end + 1, "%H:%M", &tm);

		if (!e2)
			return -1;
		end = e2;
		if (*end == ':' && !(end = strptime(end + 1, "%S", &tm)))
			return -1;
	}
	if (*end)
		return -1;
	tm.tm_isdst = -1;
	*out = (int64_t)mktime(&tm) * 1000;
	return 0;
}

void export_csv_cell(FILE *f, const char *s, int text)
{
	/* a cell a spreadsheet would run as a formula is shown as text */
	int guard = text && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@');
	int quote = guard || strpbrk(s, ",\"\r\n") != NULL;

	if (!quote) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	if (guard)
		fputc('\'', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/* One member of a job's JSON form as the text of a CSV cell (malloc'd):
 * strings cleaned of control characters (newlines kept), numbers as JSON
 * writes them, arrays (images) one item a line, null as empty. *text says
 * whether it is text (formula-guarded) rather than a number. */
static char *csv_value(const cJSON *o, const char *name, int *text)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	*text = 0;
	if (!v || cJSON_IsNull(v))
		return strdup("");
	if (cJSON_IsString(v)) {
		*text = 1;
		return text_sanitize_str(v->valuestring, TEXT_KEEP_NEWLINES | TEXT_TABS_TO_SPACES);
	}
	if (cJSON_IsArray(v)) {
		struct util_buf b = {0};
		const cJSON *x;
		char *r;

		*text = 1;
		util_buf_put(&b, "", 0);
		cJSON_ArrayForEach(x, v)
		{
			char *c = cJSON_IsString(x) ? text_sanitize_str(x->valuestring, 0) : NULL;

			if (c) {
				if (b.len)
					util_buf_put(&b, "\n", 1);
				util_buf_put(&b, c, strlen(c));
			}
			free(c);
		}
		if (b.oom) {
			free(b.p);
			return NULL;
		}
		r = b.p;
		return r;
	}
	return cJSON_PrintUnformatted(v);
}

static int write_csv_row(FILE *f, const cJSON *o)
{
	for (int i = 0; csv_cols[i]; i++) {
		int text;
		char *v = csv_value(o, csv_cols[i], &text);

		if (!v)
			return -1;
		if (i)
			fputc(',', f);
		export_csv_cell(f, v, text);
		free(v);
	}
	fputs("\r\n", f);
	return ferror(f) ? -1 : 0;
}

int cmd_export_run(struct config *cfg, int argc, char **argv)
{
	static const struct option lo[] = {
	    {"since", required_argument, 0, 's'},  {"group", required_argument, 0, 'g'},
	    {"format", required_argument, 0, 'f'}, {"output", required_argument, 0, 'o'},
	    {"help", no_argument, 0, 'h'},         {0, 0, 0, 0}};
	struct store_query q = {0};
	struct store *st;
	struct job **jobs = NULL;
	size_t n = 0, written = 0;
	const char *out_path = NULL, *group = NULL;
	int64_t since = 0;
	int c, csv = 0, rc = 0;
	char *err = NULL;
	FILE *f = stdout;

	if (cmd_help_opt("export", argc, argv))
		return 0;
	cmd_opt_reset();
	while ((c = cmd_next_opt("export", argc, argv, ":f:o:", lo)) != -1) {
		if (c == 's') {
			if (export_parse_since(optarg, (int64_t)time(NULL) * 1000, &since) < 0)
				return cmd_usage_error(
				    "export", "--since wants YYYY-MM-DD[THH:MM[:SS]], or Nd or Nh "
				              "(days or hours ago)");
		} else if (c == 'g') {
			if (!cmd_parse_group(optarg))
				return cmd_usage_error(
				    "export", "--group needs a group number (sdq ls --groups)");
			group = optarg;
		} else if (c == 'f') {
			if (strcmp(optarg, "csv") == 0)
				csv = 1;
			else if (strcmp(optarg, "jsonl") != 0)
				return cmd_usage_error("export", "--format is jsonl or csv");
		} else if (c == 'o') {
			out_path = optarg;
		} else {
			return 2;
		}
	}
	if (optind < argc)
		return cmd_usage_error("export", "no arguments expected (see --since)");
	if (!(st = cmd_open_store(cfg, "export")))
		return 1;
	q.oldest_first = 1;
	if (group && !(q.group_id = cmd_find_group(st, group, "export"))) {
		store_close(st);
		return 1;
	}
	if (store_job_list(st, &q, &jobs, &n, &err) < 0) {
		cmd_errf_core("export", "reading the history", err);
		store_close(st);
		return 1;
	}
	if (out_path && !(f = fopen(out_path, "w"))) {
		int en = errno;
		char *p = cmd_clean(out_path);

		cmd_errf("export", "%s: %s", p, strerror(en));
		free(p);
		store_jobs_free(jobs, n);
		store_close(st);
		return 1;
	}
	if (csv) {
		for (int i = 0; csv_cols[i]; i++)
			fprintf(f, "%s%s", i ? "," : "", csv_cols[i]);
		fputs("\r\n", f);
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		cJSON *o;
		char *line;

		if (jobs[i]->created_at < since)
			continue;
		if (!(o = cmd_job_json(jobs[i], NULL, 0))) {
			rc = -1;
			break;
		}
		if (csv) {
			rc = write_csv_row(f, o);
		} else if ((line = cJSON_PrintUnformatted(o))) {
			fputs(line, f);
			fputc('\n', f);
			free(line);
		} else {
			rc = -1;
		}
		cJSON_Delete(o);
		written++;
	}
	if (fflush(f) != 0 || ferror(f))
		rc = -1;
	if (f != stdout && fclose(f) != 0)
		rc = -1;
	if (rc < 0)
		cmd_errf("export", "cannot write the export: %s", strerror(errno));
	else if (out_path)
		fprintf(stderr, "sdq: export: %zu jobs\n", written);
	store_jobs_free(jobs, n);
	store_close(st);
	return rc < 0 ? 1 : 0;
}

/* ------------------------------------------------------------------ import */

/* "2026-11-27T15:02:54Z" -> ms since the epoch; 0 for null or a bad time. */
static int64_t json_time(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	struct tm tm = {0};
	const char *end;

	if (!cJSON_IsString(v) || !(end = strptime(v->valuestring, "%Y-%m-%dT%H:%M:%SZ", &tm)) ||
	    *end)
		return 0;
	return (int64_t)timegm(&tm) * 1000;
}

static const char *json_str(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* A number member, or def for null or absent. */
static int64_t json_num(const cJSON *o, const char *name, int64_t def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : def;
}

/* The key that tells a job is already in a history: its remote id, or for a
 * local job its creation second, seed and prompt. Malloc'd. */
static char *job_key(const struct job *j)
{
	if (j->remote_id && *j->remote_id)
		return util_asprintf("r:%s", j->remote_id);
	return util_asprintf("l:%lld:%lld:%s", (long long)(j->created_at / 1000),
	                     (long long)j->params.seed, j->params.prompt ? j->params.prompt : "");
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted set of keys: is key in it? */
static int keys_has(char **keys, size_t n, const char *key)
{
	return n && bsearch(&key, keys, n, sizeof *keys, cmp_str) != NULL;
}

/* Insert key (taken) into the sorted set; -1 (key freed) on ENOMEM. */
static int keys_add(char ***keys, size_t *n, size_t *cap, char *key)
{
	size_t lo = 0, hi = *n;

	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		char **k = realloc(*keys, nc * sizeof *k);

		if (!k) {
			free(key);
			return -1;
		}
		*keys = k;
		*cap = nc;
	}
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (strcmp((*keys)[mid], key) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	memmove(*keys + lo + 1, *keys + lo, (*n - lo) * sizeof **keys);
	(*keys)[lo] = key;
	(*n)++;
	return 0;
}

/* The job a line of an export describes (caller frees), or NULL with *why. */
static struct job *job_from_json(const cJSON *o, const char **why)
{
	struct job *j = job_new();
	struct job_params *p;
	const cJSON *v;
	const char *s;

	if (!j) {
		*why = "out of memory";
		return NULL;
	}
	p = &j->params;
	if (!(s = json_str(o, "state")) || (j->state = job_state_parse(s)) == JOB_OTHER) {
		*why = "no known state";
		job_free(j);
		return NULL;
	}
	job_set_str(&j->remote_id, json_str(o, "remote_id"));
	job_set_str(&j->backend, json_str(o, "backend") ? json_str(o, "backend") : "runpod");
	job_set_str(&j->endpoint, json_str(o, "endpoint"));
	job_set_str(&p->endpoint, json_str(o, "endpoint"));
	job_set_str(&j->endpoint_url, json_str(o, "endpoint_url"));
	job_set_str(&j->api, json_str(o, "api"));
	job_set_str(&j->key_fp, json_str(o, "key_fingerprint")); /* never a key */
	job_set_str(&j->progress_text, json_str(o, "progress_text"));
	if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(o, "progress")))
		j->progress = v->valuedouble;
	job_set_str(&p->prompt, json_str(o, "prompt"));
	job_set_str(&p->negative_prompt, json_str(o, "negative_prompt"));
	job_set_str(&p->sampler, json_str(o, "sampler"));
	job_set_str(&p->template_name, json_str(o, "template"));
	p->seed = json_num(o, "seed", -1);
	p->width = (int)json_num(o, "width", 0);
	p->height = (int)json_num(o, "height", 0);
	p->steps = (int)json_num(o, "steps", 0);
	p->count = (int)json_num(o, "count", 0);
	if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(o, "cfg"))) {
		p->cfg = v->valuedouble;
		p->has_cfg = 1;
	}
	v = cJSON_GetObjectItemCaseSensitive(o, "extra");
	if (cJSON_IsObject(v))
		p->extra_json = cJSON_PrintUnformatted(v);
	job_set_str(&j->error, json_str(o, "error"));
	job_set_str(&j->worker_id, json_str(o, "worker_id"));
	j->delay_ms = json_num(o, "delay_ms", -1);
	j->exec_ms = json_num(o, "exec_ms", -1);
	j->created_at = json_time(o, "created_at");
	j->submitted_at = json_time(o, "submitted_at");
	j->started_at = json_time(o, "started_at");
	j->finished_at = json_time(o, "finished_at");
	if (!j->created_at) {
		*why = "no created_at";
		job_free(j);
		return NULL;
	}
	return j;
}

/* Copy the images of exported job o (new job j, already stored) into this
 * history: from the exported path, else from dir/<its name>. Counts into
 * *copied and *missing. */
static void import_images(struct config *cfg, struct store *st, struct job *j, const cJSON *o,
                          const char *dir, size_t *copied, size_t *missing)
{
	const cJSON *outs = cJSON_GetObjectItemCaseSensitive(o, "outputs"), *x;
	char day[16], *dstdir;
	time_t t = (time_t)(j->created_at / 1000);
	struct tm tm;
	int index = 0, added = 0;

	localtime_r(&t, &tm);
	strftime(day, sizeof day, "%Y-%m-%d", &tm);
	if (!(dstdir = util_asprintf("%s/%s", cfg->images_dir, day)))
		return;
	cJSON_ArrayForEach(x, outs)
	{
		const char *path = json_str(x, "path"), *base, *fmt = json_str(x, "format");
		char *src = NULL, *dst = NULL;
		struct stat sb;
		struct job_output out = {0};

		if (!path)
			continue;
		base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
		if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode))
			src = strdup(path);
		else if (dir && (src = util_asprintf("%s/%s", dir, base)) &&
		         !(stat(src, &sb) == 0 && S_ISREG(sb.st_mode))) {
			free(src);
			src = NULL;
		}
		if (!src) {
			(*missing)++;
			continue;
		}
		dst =
		    util_asprintf("%s/%lld-%d.%s", dstdir, (long long)j->id, index,
		                  fmt && strspn(fmt, "abcdefghijklmnopqrstuvwxyz") == strlen(fmt) &&
		                          *fmt && strlen(fmt) < 6
		                      ? fmt
		                      : "png");
		if (dst && config_mkdirs(dstdir, 0700) == 0 && util_copy_file(src, dst, 1) == 0) {
			out.index = index++;
			out.path = dst;
			out.width = (int)json_num(x, "width", 0);
			out.height = (int)json_num(x, "height", 0);
			out.seed = json_num(x, "seed", -1);
			out.format = (char *)(fmt ? fmt : "png");
			out.bytes = (int64_t)sb.st_size;
			if (job_add_output(j, &out) == 0)
				added++;
			(*copied)++;
		} else {
			char *s = cmd_clean(src);

			cmd_errf("import", "cannot copy %s: %s", s, strerror(errno));
			free(s);
			(*missing)++;
		}
		free(src);
		free(dst);
	}
	free(dstdir);
	if (added) {
		char *err = NULL;

		if (store_job_save(st, j, &err) < 0)
			cmd_errf_core("import", "saving the images", err);
	}
}

int cmd_import_run(struct config *cfg, int argc, char **argv)
{
	static const struct option lo[] = {
	    {"images", required_argument, 0, 'i'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	struct store_query q = {0};
	struct store *st;
	struct job **have = NULL;
	size_t nhave = 0, nkeys = 0, cap = 0, lineno = 0;
	size_t added = 0, dup = 0, live = 0, bad = 0, copied = 0, missing = 0;
	char **keys = NULL, *line = NULL, *err = NULL;
	const char *dir = NULL, *path = NULL;
	size_t linecap = 0;
	ssize_t len;
	FILE *f = stdin;
	int c;

	if (cmd_help_opt("import", argc, argv))
		return 0;
	cmd_opt_reset();
	while ((c = cmd_next_opt("import", argc, argv, ":i:", lo)) != -1) {
		if (c == 'i')
			dir = optarg;
		else
			return 2;
	}
	if (argc - optind > 1)
		return cmd_usage_error("import", "one file at a time (or - for standard input)");
	if (optind < argc && strcmp(argv[optind], "-") != 0)
		path = argv[optind];
	if (path && !(f = fopen(path, "r"))) {
		int en = errno;
		char *p = cmd_clean(path);

		cmd_errf("import", "%s: %s", p, strerror(en));
		free(p);
		return 1;
	}
	if (!(st = cmd_open_store(cfg, "import"))) {
		if (f != stdin)
			fclose(f);
		return 1;
	}
	/* what this history has already */
	if (store_job_list(st, &q, &have, &nhave, &err) < 0) {
		cmd_errf_core("import", "reading the history", err);
		bad = 1;
		goto out;
	}
	for (size_t i = 0; i < nhave; i++) {
		char *k = job_key(have[i]);

		if (k && !keys_has(keys, nkeys, k))
			keys_add(&keys, &nkeys, &cap, k);
		else
			free(k);
	}
	store_jobs_free(have, nhave);

	while ((len = getline(&line, &linecap, f)) >= 0) {
		cJSON *o;
		struct job *j;
		const char *why = NULL;
		char *key;

		lineno++;
		if (len > EXPORT_LINE_MAX) {
			cmd_errf("import", "line %zu: longer than %d bytes: skipped", lineno,
			         EXPORT_LINE_MAX);
			bad++;
			continue;
		}
		if (strspn(line, " \t\r\n") == (size_t)len)
			continue;
		if (lineno == 1 && strncmp(line, "id,", 3) == 0) {
			cmd_errf("import",
			         "this is a CSV export (for spreadsheets): import what sdq "
			         "export --format jsonl writes");
			bad++;
			break;
		}
		if (!(o = cJSON_Parse(line)) || !cJSON_IsObject(o)) {
			cmd_errf("import",
			         "line %zu: not a JSON object (sdq import reads what sdq export "
			         "--format jsonl writes)",
			         lineno);
			cJSON_Delete(o);
			bad++;
			continue;
		}
		if (!(j = job_from_json(o, &why))) {
			cmd_errf("import", "line %zu: %s: skipped", lineno, why);
			cJSON_Delete(o);
			bad++;
			continue;
		}
		if (!job_state_is_terminal(j->state)) {
			/* a live job would be sent or polled again by this history's driver */
			live++;
		} else if (!(key = job_key(j))) {
			bad++;
		} else if (keys_has(keys, nkeys, key)) {
			dup++;
			free(key);
		} else if (store_job_add(st, j, &err) < 0) {
			cmd_errf_core("import", "adding a job", err);
			err = NULL;
			free(key);
			bad++;
		} else {
			added++;
			import_images(cfg, st, j, o, dir, &copied, &missing);
			keys_add(&keys, &nkeys, &cap, key); /* a line twice in the file */
		}
		job_free(j);
		cJSON_Delete(o);
	}
	fprintf(stderr, "sdq: import: %zu jobs added (%zu images copied), %zu already here", added,
	        copied, dup);
	if (live)
		fprintf(stderr, ", %zu still live skipped (import them once they are done)", live);
	if (missing)
		fprintf(stderr, ", %zu images not found%s", missing,
		        dir ? "" : " (--images DIR says where they are)");
	if (bad)
		fprintf(stderr, ", %zu lines refused", bad);
	fputc('\n', stderr);
	if (ferror(f)) {
		cmd_errf("import", "cannot read the export: %s", strerror(errno));
		bad++;
	}
out:
	for (size_t i = 0; i < nkeys; i++)
		free(keys[i]);
	free(keys);
	free(line);
	if (f != stdin)
		fclose(f);
	store_close(st);
	return bad ? 1 : 0;
}
