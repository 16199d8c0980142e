/*
 * cli.h: the scriptable subcommands (sdq ls, show, submit, wait, ...).
 *
 * Each subcommand is `int NAME(struct config *cfg, int argc, char **argv)`
 * (in tui/cmd_*.c, demo.c, preview.c) with argv[0] the command name; it
 * returns the process exit status: 0 success, 1 failure, 2 usage error. cfg is borrowed (owned by main). Errors
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
	cli_fn run;
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

/* sdq help [COMMAND]: the general usage, or one command's. */
int cli_help(struct config *cfg, int argc, char **argv);

#endif
