/*
 * keycmd.h: an endpoint's api_key_cmd run through the engine's loop
 * (core/child.c), so a password manager waiting for an unlock never stops
 * the loop: the dashboard draws and quits, other endpoints' jobs move.
 *
 * The command runs as `/bin/sh -c CMD` (the config documents a shell
 * command line) in its own process group, stdin and stderr on /dev/null,
 * within config_key_cmd_timeout(); its group is killed at the time limit,
 * by keycmd_free, at exit, and (PR_SET_PDEATHSIG) when sdq is killed. The
 * key is the first line of its output (config_key_from_cmd); the buffers
 * that held it are wiped.
 */
#ifndef SDQ_KEYCMD_H
#define SDQ_KEYCMD_H

#include <stdint.h>

struct engine;
struct config_endpoint;
struct keycmd;

/* The command ended: key (malloc'd, owned by the callback: wipe and free it
 * with config_key_free) or NULL with err (borrowed for the call; names the
 * endpoint). Called once, from engine_step; the owner still calls
 * keycmd_free (it may from inside the callback). */
typedef void (*keycmd_cb)(struct keycmd *k, char *key, const char *err, void *udata);

/* Start ep's api_key_cmd on e's loop. ep is borrowed and must outlive k (it
 * is the engine's config). Returns k, or NULL with *err (it could not be
 * started; the message names the endpoint). */
struct keycmd *keycmd_start(struct engine *e, const struct config_endpoint *ep, keycmd_cb cb,
                            void *udata, char **err);
/* 1 while the command runs. */
int keycmd_running(const struct keycmd *k);
/* When it was started (util_now_ms). */
int64_t keycmd_started(const struct keycmd *k);
/* Stop it (its group is killed) and free k; no callback follows. Accepts NULL. */
void keycmd_free(struct keycmd *k);

#endif
