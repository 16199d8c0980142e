/*
 * cli.h: the scriptable subcommands (sdq ls, show, submit, wait, ...).
 *
 * Each subcommand is `int cli_NAME(struct config *cfg, int argc, char **argv)`
 * with argv[0] the command name; it returns the process exit status: 0
 * success, 1 failure, 2 usage error. cfg is borrowed (owned by main). Errors
 * are printed as one line "sdq: CMD: what happened: what to do" on stderr.
 * The command table also carries the help text, so `sdq help CMD`, `CMD
 * --help` and the command list cannot drift apart.
 */
#ifndef SDQ_CLI_H
#define SDQ_CLI_H

#include <stdio.h>

struct config;

typedef int (*cli_fn)(struct config *cfg, int argc, char **argv);

struct cli_command {
	const char *name;
	cli_fn run;          /* NULL: dispatched by main (preview) */
	const char *args;    /* the synopsis after "sdq NAME" */
	const char *summary; /* one line for the command list */
	const char *help;    /* option descriptions, one per line, or NULL */
	int no_config;       /* 1: main does not load the config first */
};

/* The command called name, or NULL. The table is static (never freed). */
const struct cli_command *cli_command_find(const char *name);
/* The whole table, terminated by an entry with name NULL. */
const struct cli_command *cli_commands(void);

/* Print the general usage (global options and the command list) to f. */
void cli_usage(FILE *f);
/* Print command name's usage and options to f. 0, or -1 if unknown. */
int cli_command_usage(const char *name, FILE *f);

/* Global options, set by main before dispatch. endpoint: the -e value
 * (borrowed, must outlive the command) or NULL; color: 0 disables colour. */
void cli_set_endpoint(const char *endpoint);
void cli_set_color(int color);

/* Start `sdq driver` detached from this process and its terminal (a new
 * session; its output goes to driver.log in the data dir), so live jobs keep
 * moving with no sdq open. Waits only for the intermediate child. 0, or -1. */
int cli_spawn_driver(struct config *cfg);

int cli_help(struct config *cfg, int argc, char **argv);
int cli_ls(struct config *cfg, int argc, char **argv);
int cli_show(struct config *cfg, int argc, char **argv);
int cli_submit(struct config *cfg, int argc, char **argv);
int cli_wait(struct config *cfg, int argc, char **argv);
int cli_cancel(struct config *cfg, int argc, char **argv);
int cli_retry(struct config *cfg, int argc, char **argv);
int cli_rerun(struct config *cfg, int argc, char **argv);
int cli_get(struct config *cfg, int argc, char **argv);
int cli_rm(struct config *cfg, int argc, char **argv);
int cli_health(struct config *cfg, int argc, char **argv);
int cli_purge_queue(struct config *cfg, int argc, char **argv);
int cli_driver(struct config *cfg, int argc, char **argv);
/* cfg is NULL for demo: it sets up its own environment and runs `sdq` again. */
int cli_demo(struct config *cfg, int argc, char **argv);

#endif
