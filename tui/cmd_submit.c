/*
 * cmd_submit.c: sdq submit: build a job from the options, queue it in the
 * store and, with --wait (or --sync), drive it until it has an answer.
 */
#include "cmd_submit.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "cmd_run.h"
#include "config.h"
#include "engine.h"
#include "jobset.h"
#include "job.h"
#include "params.h"
#include "store.h"
#include "text.h"
#include "vary.h"
#include "util.h"

/* ---------------------------------------------------------------- submit */

/* The most a prompt read from a file or stdin may hold. */
#define SUBMIT_TEXT_MAX (1024 * 1024)

/* The text of -p / -n (opt names the option for messages): VAL as given,
 * "-" for standard input, "@FILE" for a file's contents, "@@..." for a
 * literal "@..."; text read from stdin or a file loses its trailing
 * newlines. Must be valid UTF-8. *out is malloc'd. 0, or 2 after printing a
 * usage error (1 for a file that cannot be read). *stdin_used guards against
 * two options reading stdin. */
static int text_arg(const char *opt, const char *val, int *stdin_used, char **out)
{
	char *t, *err = NULL;
	size_t len;
	long bad;
	const char *from = NULL;

	*out = NULL;
	if (strcmp(val, "-") == 0) {
		if ((*stdin_used)++)
			return cmd_usage_error("submit", "only one of -p and -n can read stdin");
		from = "stdin";
		t = util_read_file("/dev/stdin", SUBMIT_TEXT_MAX, &len, &err);
	} else if (val[0] == '@' && val[1] != '@') {
		from = val + 1;
		t = util_read_file(val + 1, SUBMIT_TEXT_MAX, &len, &err);
	} else {
		t = strdup(val[0] == '@' ? val + 1 : val);
		len = t ? strlen(t) : 0;
	}
	if (!t) {
		int e = errno;
		char *f = cmd_clean(from ? from : "");
		if (!err)
			cmd_errf("submit", "out of memory");
		else if (e == EFBIG)
			cmd_errf("submit", "%s %s: more than 1 MiB", opt, f);
		else
			cmd_errf_core("submit", opt, err), err = NULL;
		free(f);
		free(err);
		return 1;
	}
	if (from) {
		if (memchr(t, '\0', len)) {
			free(t);
			return cmd_usage_error("submit", "%s: the text read holds a NUL byte", opt);
		}
		while (len > 0 && (t[len - 1] == '\n' || t[len - 1] == '\r'))
			t[--len] = '\0';
	}
	if ((bad = params_utf8_invalid_at(t)) >= 0) {
		free(t);
		return cmd_usage_error("submit", "%s%s%s is not valid UTF-8 (byte %ld)", opt,
		                       from ? " " : "", from ? (from == val + 1 ? "@FILE" : "-") : "",
		                       bad);
	}
	*out = t;
	return 0;
}

/* The template a job to ep is rendered with: the --template name, the
 * endpoint's, or the default (as engine_submit_opts picks it). */
static const char *template_of(const struct job_params *p, const struct config_endpoint *ep,
                               const char **why)
{
	if (p->template_name) {
		*why = "--template";
		return p->template_name;
	}
	if (ep->template_name && strcmp(ep->template_name, PARAMS_DEFAULT_TEMPLATE) != 0) {
		const char *env = getenv("SDQ_TEMPLATE");
		*why = env && strcmp(env, ep->template_name) == 0 ? "SDQ_TEMPLATE"
		                                                  : "the endpoint's template =";
		return ep->template_name;
	}
	*why = "the default; --template NAME for another";
	return PARAMS_DEFAULT_TEMPLATE;
}

#define SUBMIT_SYNC_WAIT_MS 90000

/* submit --sync without --wait: stay until /runsync has answered (the job
 * left PENDING / SUBMITTING), so its outcome is not left unknown; the rest is
 * a background driver's work. Bounded by the runsync wait plus a margin. */
static void sync_answer_wait(struct cmd_run *r, int64_t id)
{
	int64_t end = util_now_ms() + SUBMIT_SYNC_WAIT_MS + 45000;

	while (!r->signo && util_now_ms() < end && engine_is_driver(r->e)) {
		const struct job *j = engine_job(r->e, id);
		if (!j || (j->state != JOB_PENDING && j->state != JOB_SUBMITTING))
			break;
		if (engine_step(r->e, 500) < 0)
			break;
	}
}

/* "3 jobs: prompt{1} x3, steps x2" on stderr, before anything is recorded. */
static void say_total(const struct vary *v, size_t n)
{
	fprintf(stderr, "sdq: submit: %zu jobs:", n);
	for (size_t a = 0; a < vary_naxes(v); a++) {
		char *k = cmd_clean(vary_axis_key(v, a));
		fprintf(stderr, "%s %s x%zu", a ? "," : "", k, vary_axis_len(v, a));
		free(k);
	}
	fputc('\n', stderr);
}

/* Name on stderr the template(s) the jobs were rendered with. */
static void say_templates(const struct config_endpoint *ep, const struct jobset *set)
{
	size_t n = jobset_count(set);
	const char *why, *first = template_of(jobset_job(set, 0), ep, &why);
	size_t i;

	for (i = 1; i < n; i++) {
		const char *w2;
		if (strcmp(template_of(jobset_job(set, i), ep, &w2), first) != 0)
			break;
	}
	if (i == n) {
		fprintf(stderr, "sdq: submit: input template %s (%s)\n", first, why);
		return;
	}
	fprintf(stderr, "sdq: submit: input templates");
	for (i = 0; i < n; i++) {
		const char *w2, *t = template_of(jobset_job(set, i), ep, &w2);
		size_t k;
		for (k = 0; k < i && strcmp(template_of(jobset_job(set, k), ep, &w2), t) != 0; k++)
			;
		if (k == i)
			fprintf(stderr, "%s %s", i ? "," : "", t);
	}
	fprintf(stderr, " (--vary template)\n");
}

int cmd_submit_run(struct config *cfg, int argc, char **argv)
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
	    {"seeds", required_argument, 0, 'E'},    {"vary", required_argument, 0, 'V'},
	    {"yes", no_argument, 0, 'y'},            {"help", no_argument, 0, 'h'},
	    {0, 0, 0, 0}};
	struct job_params p;
	struct jobset *set = NULL;
	const struct config_endpoint *ep;
	const char *epname = NULL, *prompt_opt = NULL, *neg_opt = NULL;
	const char **varies = NULL;
	struct vary *vy = NULL;
	struct cmd_run r;
	char *err = NULL, *prompt = NULL, *neg = NULL, *t;
	int c, wait = 0, json = 0, sync = 0, rc, stdin_used = 0, yes = 0, k = 0, sync_ms = 0;
	long v, seeds = 0;
	size_t nvaries = 0, njobs = 0;
	double timeout_s = 0;
	int64_t *ids = NULL, group = 0;

	if (cmd_help_opt("submit", argc, argv))
		return 0;
	job_params_init(&p);
	if (!(varies = calloc((size_t)argc + 1, sizeof *varies)) || !(vy = vary_new())) {
		free(varies);
		cmd_errf("submit", "out of memory");
		return 1;
	}
	cmd_opt_reset();
	while ((c = cmd_next_opt("submit", argc, argv, ":e:p:n:W:H:wjy", lo)) != -1) {
		switch (c) {
		case 'e':
			epname = optarg;
			break;
		case 'p':
			prompt_opt = optarg;
			break;
		case 'n':
			neg_opt = optarg;
			break;
		case 'S':
			if (cmd_parse_i64(optarg, &p.seed) < 0 || p.seed < -1) {
				rc = cmd_usage_error("submit",
				                     "--seed needs a number >= 0 (-1: random)");
				goto out;
			}
			break;
		case 's':
			if (cmd_parse_long(optarg, 1, 10000, &v) < 0) {
				rc = cmd_usage_error("submit",
				                     "--steps needs a number from 1 to 10000");
				goto out;
			}
			p.steps = (int)v;
			break;
		case 'c':
			if (cmd_parse_double(optarg, &p.cfg) < 0 || p.cfg < 0 || p.cfg > 100) {
				rc =
				    cmd_usage_error("submit", "--cfg needs a number from 0 to 100");
				goto out;
			}
			p.has_cfg = 1;
			break;
		case 'W':
		case 'H':
			if (cmd_parse_long(optarg, 8, 16384, &v) < 0) {
				rc = cmd_usage_error("submit",
				                     "-%c needs a size from 8 to 16384 pixels", c);
				goto out;
			}
			if (c == 'W')
				p.width = (int)v;
			else
				p.height = (int)v;
			break;
		case 'N':
			if (cmd_parse_long(optarg, 1, 100, &v) < 0) {
				rc = cmd_usage_error("submit",
				                     "--count needs a number from 1 to 100");
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
			/* the core's reader: numbers keep their text */
			if (params_parse_set(&p, optarg, &err) < 0) {
				t = cmd_clean(err ? err : "--set needs KEY=VALUE");
				rc = cmd_usage_error("submit", "%s", t);
				free(t);
				free(err);
				err = NULL;
				goto out;
			}
			break;
		case 'E':
			if (cmd_parse_long(optarg, 1, VARY_MAX_JOBS, &seeds) < 0) {
				rc = cmd_usage_error("submit", "--seeds needs a number from 1 to %d",
				                     VARY_MAX_JOBS);
				goto out;
			}
			break;
		case 'V':
			varies[nvaries++] = optarg;
			break;
		case 'y':
			yes = 1;
			break;
		case 'w':
			wait = 1;
			break;
		case 'Y':
			sync = 1;
			break;
		case 'T':
			if (cmd_parse_double(optarg, &timeout_s) < 0 || timeout_s < 0) {
				rc = cmd_usage_error("submit", "--timeout needs seconds");
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
	if (!prompt_opt && optind < argc)
		prompt_opt = argv[optind++];
	if (optind < argc) {
		t = cmd_clean(argv[optind]);
		rc = cmd_usage_error("submit", "unexpected argument '%s' (quote the prompt)", t);
		free(t);
		goto out;
	}
	if (!prompt_opt) {
		rc = cmd_usage_error("submit", "give a prompt with -p PROMPT");
		goto out;
	}
	if ((rc = text_arg("-p", prompt_opt, &stdin_used, &prompt)) != 0)
		goto out;
	if (!*prompt) {
		rc = cmd_usage_error("submit", "give a prompt with -p PROMPT");
		goto out;
	}
	if (neg_opt && (rc = text_arg("-n", neg_opt, &stdin_used, &neg)) != 0)
		goto out;

	/* the variations: {a|b} groups, --vary, --seeds (vary.h) */
	rc = 2;
	if (vary_set_prompt(vy, prompt, &err) < 0 || vary_set_negative(vy, neg, &err) < 0)
		goto usage_err;
	for (size_t i = 0; i < nvaries; i++)
		if (vary_add(vy, varies[i], &err) < 0)
			goto usage_err;
	if (seeds > 0) {
		if (p.seed < 0)
			p.seed = jobset_random_seed();
		if (vary_set_seeds(vy, p.seed, seeds, &err) < 0)
			goto usage_err;
	}
	njobs = vary_count(vy);
	if (njobs > VARY_CONFIRM_JOBS && !yes) {
		rc = cmd_usage_error("submit",
		                     "this makes %zu jobs; more than %d need --yes (nothing was "
		                     "submitted)",
		                     njobs, VARY_CONFIRM_JOBS);
		goto out;
	}
	if (njobs > 1 && sync) {
		rc = cmd_usage_error("submit", "--sync sends one job; this makes %zu", njobs);
		goto out;
	}
	rc = 1;
	if (!(ep = cmd_pick_endpoint(cfg, epname, "submit")))
		goto out;
	/* the base: the prompts as typed, with their groups (the group's row) */
	if (job_set_str(&p.endpoint, ep->name) < 0 || job_set_str(&p.prompt, prompt) < 0 ||
	    job_set_str(&p.negative_prompt, neg) < 0) {
		cmd_errf("submit", "out of memory");
		goto out;
	}
	/* every job is made and rendered before any is recorded (jobset.h:
	 * the dashboard's compose form makes its groups the same way) */
	rc = 2;
	if (!(set = jobset_new(&p, vy, &err)) || jobset_check(set, cfg, &err) < 0)
		goto usage_err;
	rc = 1;
	if (cmd_check_key(ep, "submit") < 0)
		goto out;
	if (njobs > 1)
		say_total(vy, njobs);

	/* --sync: the answer of /runsync comes to the process that sent it,
	 * so this one drives (or, if another sdq does, the job goes by /run) */
	if (cmd_run_open(&r, cfg, "submit", wait || sync) < 0)
		goto out;
	if (sync && ep->kind == CONFIG_RUNPOD) {
		if (engine_is_driver(r.e))
			sync_ms = SUBMIT_SYNC_WAIT_MS;
		else
			fprintf(stderr,
			        "sdq: submit: another sdq drives the jobs (pid %ld): "
			        "sent through /run, not /runsync\n",
			        store_driver_pid(r.st));
	}
	/* the endpoint's api_key_cmd runs through the loop: wait for it */
	while ((k = jobset_submit(set, r.e, sync_ms, &err)) == 1) {
		char *e = cmd_clean(err ? err : "waiting for the key command");
		fprintf(stderr, "sdq: submit: %s\n", e);
		free(e);
		free(err);
		err = NULL;
		while (engine_key_pending(r.e, ep->name) && !r.signo)
			if (engine_step(r.e, 1000) < 0)
				break;
		if (r.signo)
			break;
	}
	group = jobset_group(set);
	r.group = group;
	if (k != 0) {
		size_t i = jobset_submitted(set);
		char *e = cmd_clean(err ? err : "interrupted");
		if (i > 0)
			cmd_errf("submit", "job %zu of %zu: %s (the %zu before it were "
			                   "submitted, group %lld)",
			         i + 1, njobs, e, i, (long long)group);
		else
			cmd_errf("submit", "%s", e);
		free(e);
		free(err);
		err = NULL;
		for (size_t q = 0; q < i; q++)
			printf("%lld\n", (long long)jobset_id(set, q));
		fflush(stdout);
		cmd_run_close(&r, i > 0);
		goto out;
	}
	if (!(ids = calloc(njobs, sizeof *ids))) {
		cmd_errf("submit", "out of memory");
		cmd_run_close(&r, 1);
		goto out;
	}
	for (size_t i = 0; i < njobs; i++)
		ids[i] = jobset_id(set, i);
	/* off a terminal stderr stays quiet (scripts); --json has "template" */
	if (ep->kind == CONFIG_RUNPOD && !json && isatty(STDERR_FILENO))
		say_templates(ep, set);
	if (group && !json)
		fprintf(stderr, "sdq: submit: group %lld (sdq ls --group %lld)\n", (long long)group,
		        (long long)group);
	if (!wait) {
		rc = 0;
		if (json && sync_ms > 0)
			sync_answer_wait(&r, ids[0]); /* the JSON shows what it answered */
		if (json) {
			cJSON *arr = njobs > 1 ? cJSON_CreateArray() : NULL;
			for (size_t i = 0; i < njobs && !rc; i++) {
				struct job *j = store_job_get(r.st, ids[i], NULL);
				cJSON *o = j ? cmd_job_json(j, NULL, 0) : NULL;
				job_free(j);
				if (!o)
					rc = 1;
				else if (arr)
					cJSON_AddItemToArray(arr, o);
				else
					rc = cmd_json_print(o) < 0;
			}
			if (arr && !rc)
				rc = cmd_json_print(arr) < 0;
			else
				cJSON_Delete(arr);
		} else {
			for (size_t i = 0; i < njobs; i++)
				printf("%lld\n", (long long)ids[i]);
		}
		fflush(stdout);
		if (sync_ms > 0 && !json)
			sync_answer_wait(&r, ids[0]);
		cmd_run_close(&r, 1);
		goto out;
	}
	if (!json) {
		for (size_t i = 0; i < njobs; i++)
			printf("%lld\n", (long long)ids[i]);
		fflush(stdout);
	}
	rc = cmd_run_wait_and_report(&r, ids, njobs, json, (int64_t)(timeout_s * 1000));
	goto out;
usage_err:
	t = cmd_clean(err ? err : "error");
	rc = cmd_usage_error("submit", "%s", t);
	free(t);
	free(err);
	err = NULL;
out:
	jobset_free(set);
	free(ids);
	free(varies);
	vary_free(vy);
	free(prompt);
	free(neg);
	job_params_clear(&p);
	return rc;
}
