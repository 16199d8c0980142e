/*
 * cli.c: the command table of sdq's scriptable subcommands (the commands
 * themselves are in cmd_*.c, demo.c and preview.c), the usage texts and
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
#include "demo.h"
#include "preview.h"

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
/* sdq preview: preview.c loads the config itself (it needs no endpoint). */
static int run_preview(struct config *cfg, int argc, char **argv)
{
	(void)cfg;
	return preview_cli(argc, argv);
}

/* ------------------------------------------------------------ the table */

static const struct cli_command commands[] = {
    {"ls", cmd_jobs_ls,
     "[--json] [--state S[,S...]] [--limit N] [--all] [--group G | --groups] [TEXT...]",
     "list jobs, newest first",
     "  --json           print a JSON array of jobs\n"
     "  --state S,...    only jobs in these states (IN_QUEUE, COMPLETED, ..., or live, done)\n"
     "  --limit N        at most N jobs (default 20)\n"
     "  --all            no limit\n"
     "  --group G        the jobs of group G, in the order they were made\n"
     "  --groups         the groups instead of the jobs: one line each, with\n"
     "                   their jobs' states (TEXT finds groups by their jobs)\n"
     "  TEXT...          full-text search over prompts\n",
     0},
    {"show", cmd_jobs_show, "ID... [--json]",
     "show a job: parameters, timings, error, images, events",
     "  --json           print the job as JSON (with its events)\n", 0},
    {"submit", cmd_submit_run,
     "[-e ENDPOINT] -p PROMPT|@FILE|- [-n NEG] [--seed N] [--steps N] [--cfg X] [-W N] [-H N]\n"
     "        [--count N] [--sampler S] [--template NAME] [--set KEY=JSON]... [--wait]\n"
     "        [--timeout SECS] [--sync] [--json] [--seeds N] [--vary KEY=V1,V2,...]...\n"
     "        [--yes]",
     "submit a job; print its id",
     "  -e, --endpoint E endpoint name from the config, a URL or a RunPod endpoint id\n"
     "  -p, --prompt P   the prompt (or give it as the only argument); @FILE reads\n"
     "                   it from FILE, - from stdin, @@ starts it with a literal @\n"
     "  -n, --negative N the negative prompt (@FILE, - and @@ as for -p)\n"
     "  --seed N         seed (default: random, recorded)\n"
     "  --steps N, --cfg X, -W/--width N, -H/--height N, --count N, --sampler S\n"
     "                   generation parameters (unset ones are left to the worker)\n"
     "  --template NAME  input template (sdxl, the default; sd15, a1111, comfyui\n"
     "                   or a file); --sampler raw:NAME sends NAME unchecked\n"
     "  --set KEY=JSON   add KEY to the worker input (VALUE is JSON, or else text)\n"
     "  --wait           wait for the job; print its image paths; exit 1 unless it\n"
     "                   COMPLETED with images\n"
     "  --timeout SECS   with --wait: give up waiting after SECS (the job goes on)\n"
     "  --sync           send it through RunPod's /runsync (answer within 90 s; a job\n"
     "                   not done by then is polled as usual); needs no other sdq\n"
     "                   driving, else it goes by /run\n"
     "  --json           print the job as JSON instead of its id (several: a list)\n"
     "  --seeds N        N jobs with the seeds from --seed on (random when unset)\n"
     "  --vary KEY=V,... one job per value (KEY: steps, cfg, sampler, width,\n"
     "                   height, count, seed, template or a --set key; FROM-TO:STEP\n"
     "                   is a range); several --vary make a grid. {a|b} in -p/-n\n"
     "                   makes one job per alternative (\\{ \\| \\} are literal)\n"
     "  --yes            submit more than 100 jobs at once\n",
     0},
    {"wait", cmd_wait_run, "[--json] [--timeout SECS] ID... | --group G",
     "wait for jobs to finish; print their image paths",
     "  --json           print the finished jobs as JSON\n"
     "  --timeout SECS   give up after SECS (exit 1; the jobs go on)\n"
     "  --group G        every job of group G\n",
     0},
    {"cancel", cmd_remote_cancel, "ID... | --group G", "cancel live jobs",
     "  --group G        the live jobs of group G\n", 0},
    {"retry", cmd_remote_retry, "[--wait] [--json] ID",
     "ask the endpoint to retry a FAILED or TIMED_OUT job (same remote id)",
     "  --wait           wait for it as with submit --wait\n", 0},
    {"rerun", cmd_remote_rerun, "[--wait] [--json] ID | --group G",
     "submit a new job with the same parameters and seed; print its id",
     "  --wait           wait for it as with submit --wait\n"
     "  --group G        every job of group G again, as a new group\n",
     0},
    {"get", cmd_jobs_get, "[-o DIR] ID",
     "copy a job's images to DIR (default .); print their paths",
     "  -o, --output DIR where to copy (created if needed)\n", 0},
    {"rm", cmd_jobs_rm, "[--files] ID...", "delete finished jobs from the history",
     "  --files          also delete their image files\n", 0},
    {"health", cmd_remote_health, "[-e ENDPOINT] [--json]",
     "show an endpoint's health: queue, workers (exit 1 if unreachable)",
     "  -e, --endpoint E the endpoint (default: the default one)\n"
     "  --json           print it as JSON\n",
     0},
    {"purge-queue", cmd_remote_purge_queue, "[-e ENDPOINT]",
     "remove every queued job of an endpoint (running ones go on)",
     "  -e, --endpoint E the endpoint (default: the default one)\n", 0},
    {"driver", cmd_driver_run, "[--status] [--linger SECS] [--service]",
     "drive live jobs until none remain (what a background driver runs)",
     "  --status         say whether a driver runs (exit 0) or not (exit 1)\n"
     "  --linger SECS    exit after SECS with no live jobs (default 3)\n"
     "  --service        never exit by itself: wait for the lock and for jobs (a\n"
     "                   systemd user service; exit 0 on SIGTERM, 1 on failure)\n",
     0},
    {"preview", run_preview, "ID [-w COLS]",
     "print a job's images in the terminal (sixel or blocks)",
     "  -w COLS          width in terminal columns\n", 1},
    {"demo", demo_run, "[--keep] [COMMAND [ARGS...]] | env",
     "try sdq against a local endpoint emulator (no account needed)",
     "  --keep           keep the demo's data directory\n"
     "  COMMAND          run this sdq command instead of the dashboard,\n"
     "                   e.g. sdq demo submit -p cat --wait; while a demo\n"
     "                   runs (in another shell), COMMAND joins that demo\n"
     "  env              print the shell lines that point this shell at\n"
     "                   the running demo: eval \"$(sdq demo env)\"\n",
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
