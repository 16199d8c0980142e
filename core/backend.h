/*
 * backend.h: the interface every backend implements (RunPod in runpod.c,
 * stable-diffusion.cpp in sdcpp.c). The engine creates one backend per
 * configured endpoint and calls these operations only while it is the driver.
 *
 * Jobs passed in are owned by the engine and stay valid until the engine
 * drops them (after engine_job_update() reported a terminal state) or calls
 * forget. A backend changes a job's fields and then calls
 * engine_job_update(), which commits and reports. Operations return 0 when
 * the work was started, -1 with *err on an immediate failure.
 */
#ifndef SDQ_BACKEND_H
#define SDQ_BACKEND_H

#include "config.h"
#include "engine.h"
#include "job.h"

struct backend;

struct backend_ops {
	const char *kind; /* "runpod" or "local": stored as job->backend */
	/* Start driving j. j is PENDING (send it) or IN_QUEUE / IN_PROGRESS /
	 * OTHER (resume: an earlier driver sent it). (The engine itself turns a
	 * job found in SUBMITTING at start into UNKNOWN; it never reaches here.) */
	int (*drive)(struct backend *b, struct job *j, char **err);
	/* Cancel live job j. The backend moves it to CANCELLED (or to a terminal
	 * state reached first) through engine_job_update. */
	int (*cancel)(struct backend *b, struct job *j, char **err);
	/* Retry a FAILED or TIMED_OUT job j (RunPod /retry); NULL if unsupported. */
	int (*retry)(struct backend *b, struct job *j, char **err);
	/* The engine stops tracking j now (deleted, or engine shutting down):
	 * drop every reference to it; j is freed right after. */
	void (*forget)(struct backend *b, struct job *j);
	/* Fetch health; report it through engine_health_set. */
	int (*health)(struct backend *b, char **err);
	/* Remove queued jobs (RunPod purge-queue); NULL if unsupported. */
	int (*purge)(struct backend *b, char **err);
	/* A SIGCHLD arrived (local children); NULL if not needed. */
	void (*sigchld)(struct backend *b);
	/* Free everything (kill children, cancel transfers). Accepts NULL b. */
	void (*free)(struct backend *b);
};

struct backend {
	const struct backend_ops *ops;
	struct engine *engine;            /* borrowed */
	const struct config_endpoint *ep; /* borrowed from the engine's config */
	void *priv;                       /* the backend's own state */
};

/* Constructors, one per backend kind. NULL with *err. */
struct backend *runpod_backend_new(struct engine *e, const struct config_endpoint *ep, char **err);
struct backend *sdcpp_backend_new(struct engine *e, const struct config_endpoint *ep, char **err);

#endif
