/*
 * cmd.h: what the scriptable subcommands (tui/cmd_*.c) share: the global
 * options, error and usage lines, option parsing, number parsing, time and
 * width formatting, opening the store, resolving job references and
 * endpoints, and the public JSON form of a job.
 *
 * Every error is printed as one line "sdq: CMD: what happened: what to do" on
 * stderr; text from outside is sanitised (cmd_clean) before it reaches a
 * terminal. Borrowed pointers stay the caller's.
 */
#ifndef SDQ_CMD_H
#define SDQ_CMD_H

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "cost.h"
#include "job.h"

struct config;
struct config_endpoint;
struct store;
struct store_event;

/* Global options, set by main before dispatch. endpoint: the -e value
 * (borrowed, must outlive the command) or NULL; color: 0 disables colour. */
void cmd_set_endpoint(const char *endpoint);
void cmd_set_color(int color);
/* The loaded config (borrowed; NULL for commands run without one): the
 * prices cmd_job_cost and cmd_job_json's "cost" use. */
void cmd_set_config(const struct config *cfg);
/* Job j's cost at the config's price (cost.h), rounded to a millionth. */
enum cost_status cmd_job_cost(const struct job *j, double *out);
/* Group gid's cost as one line (cost_sum_format) into buf; 0, or -1 when the
 * history cannot be read. */
int cmd_group_cost(struct store *st, int64_t gid, char *buf, size_t len);

/* One error line: "sdq: CMD: message" on stderr (stdout flushed first). */
void cmd_errf(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The error line for a core call that failed: "what: err" (just "err" when
 * what is NULL), err sanitised and "error" when NULL. Takes err and frees it. */
void cmd_errf_core(const char *cmd, const char *what, char *err);
/* Print a usage error as one line, pointing at `sdq help CMD`; returns 2. */
int cmd_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Sanitised copy of s for a terminal (never NULL; "" for NULL; exits on
 * ENOMEM). Caller frees. */
char *cmd_clean(const char *s);
/* Print s sanitised to f. */
void cmd_put_clean(FILE *f, const char *s);

/* Print "label     value" and a newline to stdout, value sanitised. */
void cmd_show_line(const char *label, const char *value);
/* The same for a value of several lines (a job's log): one per line, not
 * joined, the later ones indented under the first. */
void cmd_show_lines(const char *label, const char *value);

/* Whether stdout gets colour (the --no-color option, NO_COLOR, a tty). */
int cmd_use_color(void);
/* The ANSI colour of a state ("" for none); static string. */
const char *cmd_state_color(enum job_state s);
/* Terminal width of stdout, or 0 when stdout is not a terminal. */
int cmd_term_cols(void);
/* Print s, already sanitised, to stdout cut to cols columns (<= 0: all). */
void cmd_put_fit(const char *s, int cols);
/* "12s", "5m", "3h", "2d" for a duration in ms, into buf. */
void cmd_fmt_age(int64_t ms, char *buf, size_t len);
/* "4.2s", "1m05s" for a duration in ms ("-" when negative), into buf. */
void cmd_fmt_dur(int64_t ms, char *buf, size_t len);
/* Local time "2026-11-27 15:02:54" for ms since the epoch; "-" for 0. */
void cmd_fmt_time(int64_t ms, char *buf, size_t len);

/* Whole-string number parsers: 0, or -1 (nothing stored) when s is not a
 * number (or, for parse_long, outside [min, max]; parse_double refuses NaN). */
int cmd_parse_long(const char *s, long min, long max, long *out);
int cmd_parse_i64(const char *s, int64_t *out);
int cmd_parse_double(const char *s, double *out);

/* getopt_long over argv (argv[0] = the command) with our own error lines.
 * Returns the option, -1 at the end, or '?' after printing a usage error.
 * Call cmd_opt_reset() before the first call of each command. */
int cmd_next_opt(const char *cmd, int argc, char **argv, const char *shortopts,
                 const struct option *longopts);
void cmd_opt_reset(void);
/* 1 (after printing the usage of command name to stdout) when argv asks for
 * --help or -h before any "--", else 0. */
int cmd_help_opt(const char *name, int argc, char **argv);

/* Open the store of cfg. NULL after printing an error. */
struct store *cmd_open_store(struct config *cfg, const char *cmd);
/* Resolve a user's job reference; 0 after printing an error. */
int64_t cmd_find_job(struct store *st, const char *ref, const char *cmd);
/* Resolve the references argv[from..argc) into a malloc'd array of *n ids
 * (caller frees). NULL after printing an error. */
int64_t *cmd_find_jobs(struct store *st, int argc, char **argv, int from, const char *cmd,
                       size_t *n);
/* A group reference ("12" or "g12", as ls --groups shows it) as a number,
 * or 0 when ref is not one (check it with the options: a usage error). */
int64_t cmd_parse_group(const char *ref);
/* Resolve a group reference that exists in st; 0 after printing an error. */
int64_t cmd_find_group(struct store *st, const char *ref, const char *cmd);
/* The ids of group gid's jobs in the history, oldest first, only the live
 * ones with live_only: a malloc'd array of *n (caller frees; *n may be 0).
 * NULL after printing an error. */
int64_t *cmd_group_jobs(struct store *st, int64_t gid, int live_only, const char *cmd, size_t *n);
/* Job id from the store (caller frees with job_free), or NULL after printing
 * an error. */
struct job *cmd_read_job(struct store *st, int64_t id, const char *cmd);
/* The endpoint to use: name (the command's -e), else the global one, else the
 * default. Owned by cfg. NULL after printing an error. */
const struct config_endpoint *cmd_pick_endpoint(struct config *cfg, const char *name,
                                                const char *cmd);
/* A RunPod endpoint needs an API key: 0 when it has one (or needs none), -1
 * after printing why not. The key itself is wiped at once. */
int cmd_check_key(const struct config_endpoint *ep, const char *cmd);

/* Add name: an ISO 8601 time (null for 0) / a string (null for NULL) to o. */
void cmd_json_time(cJSON *o, const char *name, int64_t ms);
void cmd_json_str(cJSON *o, const char *name, const char *s);
/* The public JSON form of a job (see the man page, JSON OUTPUT); caller
 * deletes it. ev may be NULL (then no "events" member). NULL on ENOMEM. */
cJSON *cmd_job_json(const struct job *j, const struct store_event *ev, size_t nev);
/* Print a JSON tree (formatted) to stdout and delete it. -1 on ENOMEM. */
int cmd_json_print(cJSON *o);

#endif
