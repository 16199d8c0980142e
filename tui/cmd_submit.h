/*
 * cmd_submit.h: sdq submit: queue a job (and with --wait, wait for it).
 *
 * Each command is `int NAME(struct config *cfg, int argc, char **argv)` as in
 * cli.h's table: argv[0] is the command name, cfg is borrowed, the result is
 * the exit status (0 success, 1 failure, 2 usage error).
 */
#ifndef SDQ_CMD_SUBMIT_H
#define SDQ_CMD_SUBMIT_H

struct config;

int cmd_submit_run(struct config *cfg, int argc, char **argv);

#endif
