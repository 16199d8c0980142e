/*
 * cmd_remote.h: the commands that ask the endpoint for something: cancel, retry,
 * rerun, health, purge-queue.
 *
 * Each command is `int NAME(struct config *cfg, int argc, char **argv)` as in
 * cli.h's table: argv[0] is the command name, cfg is borrowed, the result is
 * the exit status (0 success, 1 failure, 2 usage error).
 */
#ifndef SDQ_CMD_REMOTE_H
#define SDQ_CMD_REMOTE_H

struct config;

int cmd_remote_cancel(struct config *cfg, int argc, char **argv);
int cmd_remote_retry(struct config *cfg, int argc, char **argv);
int cmd_remote_rerun(struct config *cfg, int argc, char **argv);
int cmd_remote_health(struct config *cfg, int argc, char **argv);
int cmd_remote_purge_queue(struct config *cfg, int argc, char **argv);

#endif
