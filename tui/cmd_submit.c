/*
 * cmd_submit.c: sdq submit: build a job from the options, queue it in the
 * store and, with --wait (or --sync), drive it until it has an answer.
 */
#include "cmd_submit.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "cmd_run.h"
#include "config.h"
#include "engine.h"
#include "job.h"
#include "store.h"
#include "util.h"

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
	    {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
	struct engine_submit_opts so;
	struct job_params p;
	const struct config_endpoint *ep;
	const char *epname = NULL;
	cJSON *extra = NULL;
	struct cmd_run r;
	char *err = NULL, *prompt = NULL;
	int c, wait = 0, json = 0, sync = 0, rc;
	long v;
	double timeout_s = 0;
	int64_t id;

	memset(&so, 0, sizeof so);
	if (cmd_help_opt("submit", argc, argv))
		return 0;
	job_params_init(&p);
	cmd_opt_reset();
	while ((c = cmd_next_opt("submit", argc, argv, ":e:p:n:W:H:wj", lo)) != -1) {
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
			if (add_set(&extra, optarg) < 0) {
				rc = cmd_usage_error("submit",
				                     "--set needs KEY=VALUE (VALUE is JSON or "
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
	if (!prompt && optind < argc)
		prompt = argv[optind++];
	if (optind < argc) {
		rc = cmd_usage_error("submit", "unexpected argument '%s' (quote the prompt)",
		                     argv[optind]);
		goto out;
	}
	if (!prompt || !*prompt) {
		rc = cmd_usage_error("submit", "give a prompt with -p PROMPT");
		goto out;
	}
	job_set_str(&p.prompt, prompt);
	if (extra) {
		p.extra_json = cJSON_PrintUnformatted(extra);
		cJSON_Delete(extra);
		extra = NULL;
	}
	rc = 1;
	if (!(ep = cmd_pick_endpoint(cfg, epname, "submit")))
		goto out;
	if (cmd_check_key(ep, "submit") < 0)
		goto out;
	job_set_str(&p.endpoint, ep->name);

	/* --sync: the answer of /runsync comes to the process that sent it,
	 * so this one drives (or, if another sdq does, the job goes by /run) */
	if (cmd_run_open(&r, cfg, "submit", wait || sync) < 0)
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
		char *e = cmd_clean(err ? err : "error");
		cmd_errf("submit", "%s", e);
		free(e);
		free(err);
		cmd_run_close(&r, 0);
		goto out;
	}
	if (!wait) {
		rc = 0;
		if (json && so.sync_wait_ms > 0)
			sync_answer_wait(&r, id); /* the JSON shows what it answered */
		if (json) {
			struct job *j = store_job_get(r.st, id, NULL);
			rc = j ? cmd_json_print(cmd_job_json(j, NULL, 0)) < 0 : 1;
			job_free(j);
		} else {
			printf("%lld\n", (long long)id);
		}
		fflush(stdout);
		if (so.sync_wait_ms > 0 && !json)
			sync_answer_wait(&r, id);
		cmd_run_close(&r, 1);
		goto out;
	}
	if (!json) {
		printf("%lld\n", (long long)id);
		fflush(stdout);
	}
	rc = cmd_run_wait_and_report(&r, &id, 1, json, (int64_t)(timeout_s * 1000));
out:
	cJSON_Delete(extra);
	job_params_clear(&p);
	return rc;
}
