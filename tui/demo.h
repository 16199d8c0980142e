/*
 * demo.h: sdq demo: try sdq against a local endpoint emulator.
 *
 * Each command is `int NAME(struct config *cfg, int argc, char **argv)` as in
 * cli.h's table: argv[0] is the command name, cfg is borrowed, the result is
 * the exit status (0 success, 1 failure, 2 usage error).
 */
#ifndef SDQ_DEMO_H
#define SDQ_DEMO_H

struct config;

/* cfg is NULL: demo sets up its own environment and runs `sdq` again. */
int demo_run(struct config *cfg, int argc, char **argv);
/* When $SDQ_DEMO names a demo (a shell that ran eval "$(sdq demo env)") that
 * has ended: says so on stderr and returns 1, so that no command works on
 * (or starts a driver for) a removed demo. Else 0. */
int demo_joined_gone(void);

#endif
