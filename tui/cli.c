/*
 * cli.c: the command table of sdq's scriptable subcommands (the commands
 * themselves are in cmd_*.c and demo.c), the usage texts and
 * `sdq help`.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "cmd_driver.h"
#include "cmd_jobs.h"
#include "cmd_remote.h"
#include "cmd_submit.h"
#include "cmd_wait.h"
#include "cmd_export.h"
#include "complete.h"
#include "demo.h"
#include "cmd_preview.h"

int cli_help(struct config *cfg, int argc, char **argv)
{
	(void)cfg;
	if (argc < 2) {
		cli_usage(stdout);
		return 0;
	}
	if (argc > 2)
		return cmd_usage_error("help", "give one command name");
	if (cli_command_usage(argv[1], stdout) < 0) {
		char *c = cmd_clean(argv[1]);
		fprintf(stderr, "sdq: help: no command '%s': see sdq --help\n", c);
		free(c);
		return 2;
	}
	return 0;
}

/* ------------------------------------------------------------ the table */

/* Each command's options: what --help prints and shell completion offers.
 * A command's getopt tables must agree (cli_check_opts, tests/it_complete.sh). */
static const struct cli_opt global_opts[] = {
    {'e', "endpoint", "E", CLI_V_ENDPOINT, "endpoint name, URL or RunPod id (also SDQ_ENDPOINT)"},
    {0, "config", "FILE", CLI_V_FILE, "config file (also SDQ_CONFIG)"},
    {0, "no-color", NULL, CLI_V_NONE, "no colour (also NO_COLOR)"},
    {'h', "help", NULL, CLI_V_NONE, "this help"},
    {'V', "version", NULL, CLI_V_NONE, "the version"},
    {0},
};

static const struct cli_opt ls_opts[] = {
    {'j', "json", NULL, CLI_V_NONE, "print a JSON array of jobs"},
    {'s', "state", "S,...", CLI_V_STATE,
     "only jobs in these states (IN_QUEUE, COMPLETED, ..., or live, done)"},
    {'l', "limit", "N", CLI_V_NUMBER, "at most N jobs (default 20)"},
    {'a', "all", NULL, CLI_V_NONE, "no limit"},
    {0, "group", "G", CLI_V_GROUP, "the jobs of group G, in the order they were made"},
    {0, "groups", NULL, CLI_V_NONE,
     "the groups instead of the jobs: one line each, with\n"
     "their jobs' states (TEXT finds groups by their jobs)"},
    {0, NULL, "TEXT...", CLI_V_NONE, "full-text search over prompts"},
    {0},
};

static const struct cli_opt show_opts[] = {
    {'j', "json", NULL, CLI_V_NONE, "print the job as JSON (with its events)"},
    {0},
};

static const struct cli_opt submit_opts[] = {
    {'e', "endpoint", "E", CLI_V_ENDPOINT,
     "endpoint name from the config, a URL or a RunPod endpoint id"},
    {'p', "prompt", "P", CLI_V_NONE,
     "the prompt (or give it as the only argument); @FILE reads\n"
     "it from FILE, - from stdin, @@ starts it with a literal @"},
    {'n', "negative", "N", CLI_V_NONE, "the negative prompt (@FILE, - and @@ as for -p)"},
    {0, "seed", "N", CLI_V_NUMBER, "seed (default: random, recorded)"},
    {0, "steps", "N", CLI_V_NUMBER, "sampling steps"},
    {0, "cfg", "X", CLI_V_NUMBER, "guidance scale (CFG)"},
    {'W', "width", "N", CLI_V_NUMBER, "image width in pixels"},
    {'H', "height", "N", CLI_V_NUMBER, "image height in pixels"},
    {0, "count", "N", CLI_V_NUMBER, "images per job"},
    {0, "sampler", "S", CLI_V_SAMPLER,
     "sampler (the template's worker's names; unset parameters are left\n"
     "to the worker)"},
    {0, "template", "NAME", CLI_V_TEMPLATE,
     "input template (sdxl, the default; sd15, a1111, comfyui\n"
     "or a file); --sampler raw:NAME sends NAME unchecked"},
    {0, "set", "KEY=JSON", CLI_V_NONE, "add KEY to the worker input (VALUE is JSON, or else text)"},
    {'w', "wait", NULL, CLI_V_NONE,
     "wait for the job; print its image paths; exit 1 unless it\n"
     "COMPLETED with images"},
    {0, "timeout", "SECS", CLI_V_NUMBER,
     "with --wait: give up waiting after SECS (the job goes on)"},
    {0, "sync", NULL, CLI_V_NONE,
     "send it through RunPod's /runsync (answer within 90 s; a job\n"
     "not done by then is polled as usual); needs no other sdq\n"
     "driving, else it goes by /run"},
    {'j', "json", NULL, CLI_V_NONE, "print the job as JSON instead of its id (several: a list)"},
    {0, "seeds", "N", CLI_V_NUMBER, "N jobs with the seeds from --seed on (random when unset)"},
    {0, "vary", "KEY=V,...", CLI_V_NONE,
     "one job per value (KEY: steps, cfg, sampler, width,\n"
     "height, count, seed, template or a --set key; FROM-TO:STEP\n"
     "is a range); several --vary make a grid. {a|b} in -p/-n\n"
     "makes one job per alternative (\\{ \\| \\} are literal)"},
    {'y', "yes", NULL, CLI_V_NONE, "submit more than 100 jobs at once"},
    {0},
};

static const struct cli_opt wait_opts[] = {
    {'j', "json", NULL, CLI_V_NONE, "print the finished jobs as JSON"},
    {0, "timeout", "SECS", CLI_V_NUMBER, "give up after SECS (exit 1; the jobs go on)"},
    {0, "group", "G", CLI_V_GROUP, "every job of group G"},
    {0, "notify", NULL, CLI_V_NONE,
     "when they are done, ring the bell and send one desktop\n"
     "notification through the terminal ([ui] notify says how)"},
    {0},
};

static const struct cli_opt retry_opts[] = {
    {'w', "wait", NULL, CLI_V_NONE, "wait for it as with submit --wait"},
    {'j', "json", NULL, CLI_V_NONE, "print the job as JSON"},
    {0},
};

static const struct cli_opt rerun_opts[] = {
    {'w', "wait", NULL, CLI_V_NONE, "wait for it as with submit --wait"},
    {'j', "json", NULL, CLI_V_NONE, "print the job as JSON"},
    {0, "group", "G", CLI_V_GROUP, "every job of group G again, as a new group"},
    {0},
};

static const struct cli_opt cancel_opts[] = {
    {0, "group", "G", CLI_V_GROUP, "the live jobs of group G"},
    {0},
};

static const struct cli_opt get_opts[] = {
    {'o', "output", "DIR", CLI_V_DIR, "where to copy (created if needed)"},
    {0},
};

static const struct cli_opt rm_opts[] = {
    {'f', "files", NULL, CLI_V_NONE, "also delete their image files"},
    {0},
};

static const struct cli_opt health_opts[] = {
    {'e', "endpoint", "E", CLI_V_ENDPOINT, "the endpoint (default: the default one)"},
    {'j', "json", NULL, CLI_V_NONE, "print it as JSON"},
    {0},
};

static const struct cli_opt purge_opts[] = {
    {'e', "endpoint", "E", CLI_V_ENDPOINT, "the endpoint (default: the default one)"},
    {0},
};

static const struct cli_opt driver_opts[] = {
    {0, "status", NULL, CLI_V_NONE, "say whether a driver runs (exit 0) or not (exit 1)"},
    {0, "linger", "SECS", CLI_V_NUMBER, "exit after SECS with no live jobs (default 3)"},
    {0, "service", NULL, CLI_V_NONE,
     "never exit by itself: wait for the lock and for jobs (a\n"
     "systemd user service; exit 0 on SIGTERM, 1 on failure)"},
    {0},
};

static const struct cli_opt preview_opts[] = {
    {'w', "width", "COLS", CLI_V_NUMBER, "width in terminal columns (default: the terminal's)"},
    {0, NULL, "ID|FILE...", CLI_V_NONE,
     "a job (all its images) or any PNG or JPEG file, drawn as\n"
     "the dashboard would: sixel where the terminal has it, else\n"
     "half blocks (SDQ_GRAPHICS or [ui] graphics to force one)"},
    {0},
};

static const struct cli_opt demo_opts[] = {
    {0, "keep", NULL, CLI_V_NONE, "keep the demo's data directory"},
    {0, NULL, "COMMAND", CLI_V_NONE,
     "run this sdq command instead of the dashboard,\n"
     "e.g. sdq demo submit -p cat --wait; while a demo\n"
     "runs (in another shell), COMMAND joins that demo"},
    {0, NULL, "env", CLI_V_NONE,
     "print the shell lines that point this shell at\n"
     "the running demo: eval \"$(sdq demo env)\""},
    {0},
};

static const struct cli_opt export_opts[] = {
    {0, "since", "DATE", CLI_V_NONE,
     "only jobs created since DATE: YYYY-MM-DD[THH:MM[:SS]] (local\n"
     "time), or Nd / Nh for N days / hours ago"},
    {0, "group", "G", CLI_V_GROUP, "only the jobs of group G (sdq ls --groups)"},
    {'f', "format", "F", CLI_V_FORMAT,
     "jsonl (default: one job a line, as --json gives it) or csv\n"
     "(RFC 4180, for spreadsheets; formula cells made text)"},
    {'o', "output", "FILE", CLI_V_FILE, "write to FILE instead of standard output"},
    {0},
};

static const struct cli_opt import_opts[] = {
    {'i', "images", "DIR", CLI_V_DIR,
     "look for images the export names but that are not at their\n"
     "path in DIR (by file name)"},
    {0, NULL, "FILE", CLI_V_NONE,
     "what sdq export --format jsonl wrote (- or nothing: standard\n"
     "input); jobs the history has already (same remote id, or same\n"
     "creation time, seed and prompt) and live jobs are skipped"},
    {0},
};

static const struct cli_opt completion_opts[] = {
    {0, "complete", "CWORD WORD...", CLI_V_NONE,
     "print what to offer for word CWORD of the command line\n"
     "WORD... (what the scripts run at each Tab)"},
    {0},
};

static const struct cli_command commands[] = {
    {"ls", cmd_jobs_ls,
     "[--json] [--state S[,S...]] [--limit N] [--all] [--group G | --groups] [TEXT...]",
     "list jobs, newest first", ls_opts, CLI_V_NONE, 0},
    {"show", cmd_jobs_show, "ID... [--json]",
     "show a job: parameters, timings, error, images, events", show_opts, CLI_V_JOB, 0},
    {"submit", cmd_submit_run,
     "[-e ENDPOINT] -p PROMPT|@FILE|- [-n NEG] [--seed N] [--steps N] [--cfg X] [-W N] [-H N]\n"
     "        [--count N] [--sampler S] [--template NAME] [--set KEY=JSON]... [--wait]\n"
     "        [--timeout SECS] [--sync] [--json] [--seeds N] [--vary KEY=V1,V2,...]...\n"
     "        [--yes]",
     "submit a job; print its id", submit_opts, CLI_V_NONE, 0},
    {"wait", cmd_wait_run, "[--json] [--timeout SECS] [--notify] ID... | --group G",
     "wait for jobs to finish; print their image paths", wait_opts, CLI_V_JOB, 0},
    {"cancel", cmd_remote_cancel, "ID... | --group G", "cancel live jobs", cancel_opts, CLI_V_JOB,
     0},
    {"retry", cmd_remote_retry, "[--wait] [--json] ID",
     "ask the endpoint to retry a FAILED or TIMED_OUT job (same remote id)", retry_opts, CLI_V_JOB,
     0},
    {"rerun", cmd_remote_rerun, "[--wait] [--json] ID | --group G",
     "submit a new job with the same parameters and seed; print its id", rerun_opts, CLI_V_JOB, 0},
    {"get", cmd_jobs_get, "[-o DIR] ID",
     "copy a job's images to DIR (default .); print their paths", get_opts, CLI_V_JOB, 0},
    {"rm", cmd_jobs_rm, "[--files] ID...", "delete finished jobs from the history", rm_opts,
     CLI_V_JOB, 0},
    {"health", cmd_remote_health, "[-e ENDPOINT] [--json]",
     "show an endpoint's health: queue, workers (exit 1 if unreachable)", health_opts, CLI_V_NONE,
     0},
    {"purge-queue", cmd_remote_purge_queue, "[-e ENDPOINT]",
     "remove every queued job of an endpoint (running ones go on)", purge_opts, CLI_V_NONE, 0},
    {"driver", cmd_driver_run, "[--status] [--linger SECS] [--service]",
     "drive live jobs until none remain (what a background driver runs)", driver_opts, CLI_V_NONE,
     0},
    {"preview", cmd_preview_run, "[-w COLS] ID|FILE...",
     "print jobs' images or image files in the terminal (sixel or blocks)", preview_opts,
     CLI_V_JOB_FILE, 0},
    {"demo", demo_run, "[--keep] [COMMAND [ARGS...]] | env",
     "try sdq against a local endpoint emulator (no account needed)", demo_opts, CLI_V_NONE, 1},
    {"export", cmd_export_run, "[--since DATE] [--group G] [--format jsonl|csv] [-o FILE]",
     "write the history (parameters, timings, states, images, cost) as JSON Lines or CSV",
     export_opts, CLI_V_NONE, 0},
    {"import", cmd_import_run, "[--images DIR] [FILE|-]",
     "read an export into this history (no duplicates; images copied)", import_opts,
     CLI_V_FILE, 0},
    {"completion", complete_run, "bash|zsh|fish",
     "print the shell completion script for bash, zsh or fish", completion_opts, CLI_V_SHELL, 1},
    {"help", cli_help, "[COMMAND]", "show help for sdq or a command", NULL, CLI_V_COMMAND, 1},
    {NULL, NULL, NULL, NULL, NULL, CLI_V_NONE, 0},
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

const struct cli_opt *cli_global_opts(void)
{
	return global_opts;
}

/* The "-e, --endpoint E" part of an option's help line, into buf. */
static void opt_label(const struct cli_opt *o, char *buf, size_t len)
{
	if (!o->lng)
		snprintf(buf, len, "%s", o->arg);
	else if (o->shrt)
		snprintf(buf, len, "-%c, --%s%s%s", o->shrt, o->lng, o->arg ? " " : "",
		         o->arg ? o->arg : "");
	else
		snprintf(buf, len, "--%s%s%s", o->lng, o->arg ? " " : "", o->arg ? o->arg : "");
}

void cli_print_opts(FILE *f, const struct cli_opt *opts)
{
	for (const struct cli_opt *o = opts; o && (o->lng || o->arg); o++) {
		char label[64];
		const char *h = o->help;

		opt_label(o, label, sizeof label);
		if (strlen(label) > 16)
			fprintf(f, "  %s\n%19s", label, "");
		else
			fprintf(f, "  %-16s ", label);
		for (const char *nl; (nl = strchr(h, '\n')); h = nl + 1)
			fprintf(f, "%.*s\n%19s", (int)(nl - h), h, "");
		fprintf(f, "%s\n", h);
	}
}

void cli_usage(FILE *f)
{
	fprintf(f, "usage: sdq [-e ENDPOINT] [--config FILE] [--no-color] [COMMAND [ARGS]]\n"
	           "\n"
	           "sdq is a terminal job manager for Stable Diffusion: with no command it opens\n"
	           "the dashboard; the commands below script the same job queue and history.\n"
	           "\n"
	           "Options:\n");
	cli_print_opts(f, global_opts);
	fprintf(f, "\nCommands:\n");
	for (const struct cli_command *c = commands; c->name; c++)
		fprintf(f, "  %-12s %s\n", c->name, c->summary);
	fprintf(f, "\nsdq help COMMAND shows a command's options; man sdq has the rest.\n");
}

/* Does opts have a row for long option name (1: with has_arg as given)? */
static const struct cli_opt *find_long(const struct cli_opt *opts, const char *name)
{
	for (const struct cli_opt *o = opts; o && (o->lng || o->arg); o++)
		if (o->lng && strcmp(o->lng, name) == 0)
			return o;
	return NULL;
}

char *cli_check_opts(const char *name, const char *shortopts, const struct option *longopts)
{
	const struct cli_command *c = cli_command_find(name);
	const struct cli_opt *opts = c ? c->opts : global_opts;
	char buf[256];

	if (!c && strcmp(name, "sdq") != 0)
		snprintf(buf, sizeof buf, "%s: not in the command table", name);
	else
		buf[0] = 0;
	for (const struct option *l = longopts; !buf[0] && l && l->name; l++) {
		const struct cli_opt *o = find_long(opts, l->name);

		if (strcmp(l->name, "help") == 0 && opts != global_opts)
			continue;
		if (!o)
			snprintf(buf, sizeof buf, "%s: --%s is not in the table", name, l->name);
		else if ((l->has_arg != no_argument) != (o->arg != NULL))
			snprintf(buf, sizeof buf, "%s: --%s: the table says it %s a value", name,
			         l->name, o->arg ? "takes" : "takes no");
	}
	for (const char *s = shortopts; !buf[0] && s && *s; s++) {
		int found = 0;

		if (*s == ':' || *s == '+' || *s == '-' || (opts != global_opts && *s == 'h'))
			continue;
		for (const struct cli_opt *o = opts; o && (o->lng || o->arg); o++)
			if (o->shrt == *s && (o->arg != NULL) == (s[1] == ':'))
				found = 1;
		if (!found)
			snprintf(buf, sizeof buf,
			         "%s: -%c is not in the table (or differs in its value)", name, *s);
	}
	for (const struct cli_opt *o = opts; !buf[0] && o && (o->lng || o->arg); o++) {
		int found = 0;

		if (!o->lng)
			continue;
		for (const struct option *l = longopts; l && l->name; l++)
			if (strcmp(l->name, o->lng) == 0)
				found = 1;
		if (!found)
			snprintf(buf, sizeof buf, "%s: the table's --%s is not parsed", name,
			         o->lng);
		else if (o->shrt && (!shortopts || !strchr(shortopts, o->shrt)))
			snprintf(buf, sizeof buf, "%s: the table's -%c is not parsed", name,
			         o->shrt);
	}
	return buf[0] ? strdup(buf) : NULL;
}

int cli_command_usage(const char *name, FILE *f)
{
	const struct cli_command *c = cli_command_find(name);
	if (!c)
		return -1;
	fprintf(f, "usage: sdq %s %s\n\n%s.\n", c->name, c->args, c->summary);
	if (c->opts && (c->opts->lng || c->opts->arg)) {
		fputc('\n', f);
		cli_print_opts(f, c->opts);
	}
	return 0;
}
