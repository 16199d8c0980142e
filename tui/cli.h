/*
 * cli.h: the scriptable subcommands (sdq ls, show, submit, wait, ...).
 *
 * Each subcommand is `int NAME(struct config *cfg, int argc, char **argv)`
 * (in tui/cmd_*.c, demo.c) with argv[0] the command name; it
 * returns the process exit status: 0 success, 1 failure, 2 usage error. cfg is borrowed (owned by
 * main). Errors are printed as one line "sdq: CMD: what happened: what to do" on stderr. The
 * command table also carries the help text, so `sdq help CMD`, `CMD
 * --help` and the command list cannot drift apart.
 */
#ifndef SDQ_CLI_H
#define SDQ_CLI_H

#include <getopt.h>
#include <stdio.h>

struct config;

typedef int (*cli_fn)(struct config *cfg, int argc, char **argv);

/* What a value (of an option, or a command's operands) is: shell completion
 * offers the matching names. */
enum cli_value {
	CLI_V_NONE,     /* no value (a flag), or free text */
	CLI_V_NUMBER,   /* a number: nothing to offer */
	CLI_V_ENDPOINT, /* an endpoint name from the config */
	CLI_V_JOB,      /* a job id from the history */
	CLI_V_TEMPLATE, /* an input template name */
	CLI_V_SAMPLER,  /* a sampler name of the template in use */
	CLI_V_STATE,    /* job state names, live, done */
	CLI_V_FILE,     /* a file name */
	CLI_V_DIR,      /* a directory name */
	CLI_V_COMMAND,  /* an sdq command */
	CLI_V_SHELL,    /* bash, zsh, fish */
	CLI_V_JOB_FILE, /* a job id or an image file */
	CLI_V_FORMAT,   /* an export format: jsonl, csv */
	CLI_V_GROUP,    /* a group id from the history */
};

/* One option of a command (or of sdq itself). The table is what --help
 * prints and what shell completion offers; a command's getopt table must
 * match it (cli_check_opts). */
struct cli_opt {
	char shrt;       /* the short letter, or 0 */
	const char *lng; /* the long name without "--", or NULL (then an
	                    operand line: arg is printed as is) */
	const char *arg; /* the value's name in the help ("N"), NULL: a flag */
	enum cli_value value;
	const char *help; /* the description; "\n" starts an indented line */
};

struct cli_command {
	const char *name;
	cli_fn run;
	const char *args;           /* the synopsis after "sdq NAME" */
	const char *summary;        /* one line for the command list */
	const struct cli_opt *opts; /* ended by a row with lng and arg NULL; or NULL */
	enum cli_value operand;     /* what its operands are */
	int no_config;              /* 1: main does not load the config first */
};

/* The command called name, or NULL. The table is static (never freed). */
const struct cli_command *cli_command_find(const char *name);
/* The whole table, terminated by an entry with name NULL. */
const struct cli_command *cli_commands(void);

/* sdq's own options (before the command), ended like a command's. */
const struct cli_opt *cli_global_opts(void);

/* Print one option table the way --help shows it. */
void cli_print_opts(FILE *f, const struct cli_opt *opts);

/* The drift check run when SDQ_TEST_OPTS is set: compare command name's
 * getopt tables (shortopts, longopts; --help and -h are implied) with its
 * row in the command table. NULL when they agree, else a malloc'd sentence
 * naming the first difference (the caller frees it). */
char *cli_check_opts(const char *name, const char *shortopts, const struct option *longopts);

/* Print the general usage (global options and the command list) to f. */
void cli_usage(FILE *f);
/* Print command name's usage and options to f. 0, or -1 if unknown. */
int cli_command_usage(const char *name, FILE *f);

/* sdq help [COMMAND]: the general usage, or one command's. */
int cli_help(struct config *cfg, int argc, char **argv);

#endif
