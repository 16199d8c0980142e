/*
 * cmd_wait.h: sdq wait: wait for jobs to finish and print their image paths.
 *
 * Each command is `int NAME(struct config *cfg, int argc, char **argv)` as in
 * cli.h's table: argv[0] is the command name, cfg is borrowed, the result is
 * the exit status (0 success, 1 failure, 2 usage error).
 */
#ifndef SDQ_CMD_WAIT_H
#define SDQ_CMD_WAIT_H

struct config;

int cmd_wait_run(struct config *cfg, int argc, char **argv);

#endif
