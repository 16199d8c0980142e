/*
 * spawn.h: starting `sdq driver` detached, so live jobs keep moving (and
 * their results get saved) with no sdq open.
 */
#ifndef SDQ_SPAWN_H
#define SDQ_SPAWN_H

#include <stdint.h>

struct config;
struct store;

/* Start `sdq driver` detached from this process and its terminal (a new
 * session; its output goes to driver.log in the data dir), so live jobs keep
 * moving with no sdq open. Waits only for the intermediate child. 0, or -1. */
int spawn_driver(struct config *cfg);
/* Start a detached driver when none runs, the config allows it
 * (background_driver) and st has more live jobs than undrivable (jobs the
 * caller knows no driver of this config can take). Call it with the engine
 * closed, so the driver lock is free. Says on stderr when it cannot. */
void spawn_ensure_driver(struct config *cfg, struct store *st, int64_t undrivable);
/* A killed driver comes back: if cfg's history has live jobs a driver of cfg
 * can take and no driver holds the lock, start one (spawn_driver; unless
 * background_driver = false) and wait up to 3 s for it to take the lock.
 * say: tell so in one line on stderr ("sdq: CMD: N live jobs had no
 * driver..."), also when background_driver = false keeps it from starting.
 * 1 if one was started, 0 if none was needed (or allowed), -1 on failure
 * (said on stderr). */
int spawn_revive_driver(struct config *cfg, const char *cmd, int say);

#endif
