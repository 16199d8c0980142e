/*
 * keyring.h: the API keys a driving process holds and the driver locks of
 * those keys (DESIGN.md "One driver, many viewers"; issue 10's one driver
 * per key). Split out of engine.c, which owns one ring.
 *
 * A job records only its key's fingerprint (keyfp.h); a process may send it
 * only with the key of that fingerprint, and drives it only while it holds
 * that key's lock (store_lock_key). The ring keeps a copy of each key it
 * learned (wiped when freed, never written anywhere) and whether it holds
 * its lock. Keys come from the config's endpoints: the environment and key
 * files are read at once; an api_key_cmd runs through the engine's loop
 * (keycmd.h), so a command that hangs holds up nothing but its own
 * endpoint: its key joins the ring when it answers, and the owner hears it
 * through keyring_cb.
 *
 * Ownership: the engine owns the ring (keyring_new .. keyring_free). Keys
 * returned are borrowed, valid until keyring_free; never copy them anywhere
 * lasting. The config and the store passed in must outlive the ring.
 */
#ifndef SDQ_KEYRING_H
#define SDQ_KEYRING_H

#include "keyfp.h"

struct config;
struct config_endpoint;
struct engine;
struct keyring;
struct store;

/* A key command of endpoint ep ended: ok 1, its key is in the ring (fp);
 * ok 0, err says why (borrowed for the call). Called from engine_step. */
typedef void (*keyring_cb)(const struct config_endpoint *ep, int ok, const char *fp,
                           const char *err, void *udata);

/* A ring for e's loop, cfg's endpoints and st's locks. NULL on ENOMEM. */
struct keyring *keyring_new(struct engine *e, struct config *cfg, struct store *st, keyring_cb cb,
                            void *udata);
/* Wipe and free every key, kill every key command still running, release
 * nothing (keyring_unlock_all first). Accepts NULL. */
void keyring_free(struct keyring *kr);

/* Keep a copy of key; its fingerprint into fp (may be NULL). 0, or -1 on
 * ENOMEM. */
int keyring_add(struct keyring *kr, const char *key, char fp[KEYFP_LEN]);
/* The key of fingerprint fp if the ring has it (borrowed), else NULL. */
const char *keyring_key(const struct keyring *kr, const char *fp);

/* ep's key: 1 with it in the ring and its fingerprint in fp. An api_key_cmd
 * runs through the loop: 0 while it runs (started here if it never ran;
 * after a failure, again when retry is set and a caller with retry was told
 * why once), *err saying "waiting for the key command of endpoint X". -1
 * with *err: no key (the message names the endpoint). */
int keyring_endpoint(struct keyring *kr, const struct config_endpoint *ep, int retry,
                     char fp[KEYFP_LEN], char **err);
/* The key of every RunPod endpoint of the config, and RUNPOD_API_KEY, into
 * the ring (once; key commands are started and join later). */
void keyring_learn(struct keyring *kr);
/* 1 while ep's key command runs; the number running. */
int keyring_pending(const struct keyring *kr, const struct config_endpoint *ep);
int keyring_pending_count(const struct keyring *kr);

/* Take the lock of every key in the ring not held yet; how many were taken. */
int keyring_lock_all(struct keyring *kr);
/* Release every key lock held. */
void keyring_unlock_all(struct keyring *kr);
/* 1 if the ring has fp's key and holds its lock. */
int keyring_holds(const struct keyring *kr, const char *fp);
/* fp's lock for a key the ring has (learning the config's keys first if it
 * lacks it): 1 held, 0 another process holds it or the key is not (yet)
 * known. A key refused during an engine pass is not tried again in it. */
int keyring_claim(struct keyring *kr, const char *fp);

#endif
