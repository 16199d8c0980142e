/*
 * cmd_driver.h: sdq driver: drive live jobs until none remain (what a background
 * driver runs), or say whether a driver runs (--status).
 *
 * Each command is `int NAME(struct config *cfg, int argc, char **argv)` as in
 * cli.h's table: argv[0] is the command name, cfg is borrowed, the result is
 * the exit status (0 success, 1 failure, 2 usage error).
 */
#ifndef SDQ_CMD_DRIVER_H
#define SDQ_CMD_DRIVER_H

struct config;

int cmd_driver_run(struct config *cfg, int argc, char **argv);

#endif
