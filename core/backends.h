/*
 * backends.h: the backends one engine drives jobs through (split out of
 * engine.c). A backend is made on first use and kept until the engine
 * goes: one per endpoint of the config, by name, and one per route a job
 * recorded at submit (route.h: the URL, the API kind and the key it must be
 * sent with), whatever an endpoint of that name means in this process's
 * config.
 *
 * Ownership: the engine owns the table (backends_new .. backends_free);
 * the backends returned are borrowed, valid until backends_free, which
 * frees them all. The config must outlive the table.
 */
#ifndef SDQ_BACKENDS_H
#define SDQ_BACKENDS_H

#include <stddef.h>

struct backend;
struct backends;
struct config;
struct engine;
struct job;

/* A table for e's backends of cfg's endpoints. NULL on ENOMEM. */
struct backends *backends_new(struct engine *e, struct config *cfg);
/* Free every backend (their own free) and the table. Accepts NULL. */
void backends_free(struct backends *t);

/* The backend of the config's endpoint called name, made now if it has
 * none yet. NULL with *err ("endpoint X is not in the config", or the
 * backend's own error). */
struct backend *backends_get(struct backends *t, const char *name, char **err);
/* The backend that drives j: its recorded route (the URL, API and key it
 * was submitted with); else, for a local job or one of an older history,
 * its endpoint by name; else the config's endpoint of its URL (said on the
 * message line). NULL with *err. */
struct backend *backends_for_job(struct backends *t, struct job *j, char **err);

/* The backends made so far, for the engine's calls to each (watch,
 * sigchld): i < backends_count. */
size_t backends_count(const struct backends *t);
struct backend *backends_at(const struct backends *t, size_t i);

#endif
