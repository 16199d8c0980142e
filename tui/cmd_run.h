/*
 * cmd_run.h: a command's session with the engine (tui/cmd_*.c): the store,
 * an engine driving (or viewing) live jobs, what its callback reported, and
 * waiting for jobs to finish with a status line on stderr.
 *
 * Commands that wait (submit --wait, wait, retry/rerun --wait) ask to be the
 * driver so the job moves even when no other sdq runs; when they finish while
 * other jobs are still live they hand those over to a detached `sdq driver`
 * (spawn.c), so nothing is left unsaved (RunPod forgets results after 30
 * minutes).
 */
#ifndef SDQ_CMD_RUN_H
#define SDQ_CMD_RUN_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct engine;
struct job;
struct store;

/* What a command learns from the engine's callback. */
struct cmd_run {
	struct config *cfg;
	struct store *st;
	struct engine *e;
	const char *cmd;
	int dirty;              /* some job or the store changed */
	int signo;              /* a caught signal */
	int log;                /* driver: print every message with a time stamp */
	int quiet;              /* don't print messages */
	int status_shown;       /* a live status line is on stderr */
	char status_line[256];  /* what it shows */
	const char *health_for; /* waiting for this endpoint's health */
	int health_seen;
	int msg_seen; /* an ENGINE_EV_MESSAGE arrived */
	int msg_error;
	char *msg;    /* the last message (sanitised) */
	int retrying; /* 1: a FAILED job waits for its /retry to be carried out,
	                 then to finish; 2: only for the /retry */
	int64_t group; /* > 0: the jobs waited for are this group's (messages
	                  say sdq wait --group) */
};

/* Open the store and an engine for cmd (borrowed: a static string); drive = 1
 * asks to be the driver. Catches SIGINT, SIGTERM and SIGHUP into r->signo.
 * 0, or -1 after printing an error (nothing left open). */
int cmd_run_open(struct cmd_run *r, struct config *cfg, const char *cmd, int drive);
/* Free the engine (giving up the driver role), start a background driver if
 * handover and live jobs remain, close the store. */
void cmd_run_close(struct cmd_run *r, int handover);
/* Wipe the live status line from stderr, if one is shown. */
void cmd_run_status_clear(struct cmd_run *r);
/* The freshest copy of job id (the driver's own, else the store's); caller
 * frees with job_free. NULL when it cannot be read. */
struct job *cmd_run_current_job(struct cmd_run *r, int64_t id);
/* Run the engine until every job in ids[] has left the live states, a signal
 * arrives or timeout_ms passes (0: no limit); show: draw a status line. Fills
 * jobs[] with the last copies (caller frees). Returns 0 when all finished, 1
 * on timeout, 128 + signo on a signal, -1 on a fatal engine error. */
int cmd_run_until_done(struct cmd_run *r, const int64_t *ids, struct job **jobs, size_t n, int show,
                       int64_t timeout_ms);
/* Wait for ids as a driver (or a viewer when another process drives), report
 * (image paths or JSON on stdout, errors on stderr), hand over, close r.
 * Returns the exit status. */
int cmd_run_wait_and_report(struct cmd_run *r, const int64_t *ids, size_t n, int json,
                            int64_t timeout_ms);

#endif
