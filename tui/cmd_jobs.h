/*
 * cmd_jobs.h: the commands that read or edit the history: ls, show, get, rm.
 *
 * Each command is `int NAME(struct config *cfg, int argc, char **argv)` as in
 * cli.h's table: argv[0] is the command name, cfg is borrowed, the result is
 * the exit status (0 success, 1 failure, 2 usage error).
 */
#ifndef SDQ_CMD_JOBS_H
#define SDQ_CMD_JOBS_H

struct config;

int cmd_jobs_ls(struct config *cfg, int argc, char **argv);
int cmd_jobs_show(struct config *cfg, int argc, char **argv);
int cmd_jobs_get(struct config *cfg, int argc, char **argv);
int cmd_jobs_rm(struct config *cfg, int argc, char **argv);

#endif
