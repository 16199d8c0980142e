/*
 * view_header.c: the dashboard's top line (see view_header.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "config.h"
#include "engine.h"
#include "tui.h"
#include "draw.h"
#include "joblist.h"
#include "view_header.h"

struct view_header {
	const struct config *cfg;
	struct vh_snap {          /* per endpoint: its last report with counts, and */
		long run, queued; /* our jobs on it when that came */
		int valid;
		struct engine_health counts; /* numbers only (no strings) */
	} * snap;
	size_t nsnap; /* config_endpoint adds endpoints later (a URL or id named) */
};

/* snap for every endpoint cfg has now; 0, or -1 (then only the first
 * nsnap have one). */
static int vh_grow(struct view_header *vh)
{
	size_t n = vh->cfg->n_endpoints;
	if (n <= vh->nsnap)
		return 0;
	struct vh_snap *ns = realloc(vh->snap, n * sizeof *ns);
	if (!ns)
		return -1;
	memset(ns + vh->nsnap, 0, (n - vh->nsnap) * sizeof *ns);
	vh->snap = ns;
	vh->nsnap = n;
	return 0;
}

struct view_header *view_header_new(const struct config *cfg)
{
	struct view_header *vh = calloc(1, sizeof *vh);
	if (!vh)
		return NULL;
	vh->cfg = cfg;
	vh->snap = calloc(cfg->n_endpoints ? cfg->n_endpoints : 1, sizeof *vh->snap);
	if (!vh->snap) {
		free(vh);
		return NULL;
	}
	vh->nsnap = cfg->n_endpoints ? cfg->n_endpoints : 1;
	return vh;
}

void view_header_free(struct view_header *vh)
{
	if (!vh)
		return;
	free(vh->snap);
	free(vh);
}

void view_header_health(struct view_header *vh, struct engine *e, const struct joblist *jl,
                        const char *name)
{
	if (!name)
		return;
	const struct engine_health *h = engine_health(e, name);
	vh_grow(vh);
	for (size_t i = 0; vh->snap && h && h->valid && i < vh->nsnap && i < vh->cfg->n_endpoints;
	     i++) {
		if (strcmp(vh->cfg->endpoints[i].name, name) != 0)
			continue;
		vh->snap[i].counts = *h;
		vh->snap[i].counts.text = NULL;
		vh->snap[i].counts.error = NULL;
		vh->snap[i].run = joblist_live_in(jl, name, JOB_IN_PROGRESS);
		vh->snap[i].queued = joblist_live_in(jl, name, JOB_IN_QUEUE);
		vh->snap[i].valid = 1;
	}
}

static int vh_put(WINDOW *w, int x, const char *s, attr_t a)
{
	int W = getmaxx(w);
	if (x >= W)
		return x;
	return x + draw_put(w, 0, x, W - x, s, a);
}

void view_header_draw(struct view_header *vh, WINDOW *w, struct engine *e, const struct joblist *jl,
                      int colors)
{
	const struct config *cfg = vh->cfg;
	attr_t base = draw_attr(DRAW_HEADER);
	wbkgdset(w, ' ' | base);
	werase(w);
	int x = vh_put(w, 0, " sdq ", base | A_BOLD);
	vh_grow(vh);
	if (cfg->n_endpoints == 0) {
		x = vh_put(w, x, " no endpoint configured ", base | A_BOLD);
	}
	for (size_t i = 0; i < cfg->n_endpoints; i++) {
		const struct config_endpoint *ep = &cfg->endpoints[i];
		const struct engine_health *h = engine_health(e, ep->name);
		/* A report without counts (a job's own route to this endpoint
		 * says only that it is reachable) keeps the last counts. */
		struct engine_health hv;
		if (h && !h->valid && i < vh->nsnap && vh->snap[i].valid && !h->error &&
		    !h->auth_failed && !h->not_found) {
			hv = vh->snap[i].counts;
			hv.rate_limited = h->rate_limited;
			hv.reachable = h->reachable;
			h = &hv;
		}
		char b[256];
		x = vh_put(w, x, " ", base);
		x = vh_put(w, x, ep->name, base | A_BOLD);
		if (cfg->n_endpoints == 1 && ep->url && COLS >= 100) {
			snprintf(b, sizeof b, " %s", ep->url);
			x = vh_put(w, x, b, base);
		}
		x = vh_put(w, x, ": ", base);
		attr_t bad = (colors ? draw_attr(DRAW_ERROR) : 0) | A_BOLD | A_REVERSE;
		if (h && h->auth_failed) {
			x = vh_put(w, x, "AUTH FAILED", bad);
		} else if (h && h->not_found) {
			x = vh_put(w, x, "NOT FOUND (HTTP 404): check the id", bad);
		} else if (h && h->no_health && h->reachable) {
			/* runpod-python's local test API: up, but no counts */
			x = vh_put(w, x, "local test API: no health, cancel, retry, purge", base);
		} else if (h && h->rate_limited && !h->valid) {
			x = vh_put(w, x, "RATE LIMITED", bad);
		} else if (!h || !h->valid) {
			x = vh_put(w, x, h && h->error ? "UNREACHABLE" : "health ?",
			           h && h->error ? bad : base);
		} else if (!h->reachable) {
			x = vh_put(w, x, "UNREACHABLE", bad);
		} else {
			if (h->rate_limited)
				x = vh_put(w, x, "RATE LIMITED ", bad);
			/* The health report is seconds old; the table is current.
			 * Others' jobs come from the report, ours from the table:
			 * the report less our jobs as they were when it came, plus
			 * our jobs now. So the header and the table agree in every
			 * frame (a job the table shows running has a running
			 * worker; one that finished gives its worker back). */
			long run = joblist_live_in(jl, ep->name, JOB_IN_PROGRESS);
			long queued = joblist_live_in(jl, ep->name, JOB_IN_QUEUE);
			long run0 = run, queued0 = queued;
			if (i < vh->nsnap && vh->snap[i].valid) {
				run0 = vh->snap[i].run;
				queued0 = vh->snap[i].queued;
			}
			long in_prog = h->jobs_in_progress - run0 + run;
			long in_queue = h->jobs_in_queue - queued0 + queued;
			long wrun = h->workers_running - run0 + run;
			long wall = h->workers_idle + h->workers_running;
			in_prog = in_prog > run ? in_prog : run;
			in_queue = in_queue > queued ? in_queue : queued;
			wrun = wrun > run ? wrun : run;
			if (wrun > wall && wall >= run) /* no more workers than there are */
				wrun = wall;
			long widle = wall > wrun ? wall - wrun : 0;
			if (!(backend_kind_of(ep)->caps & BACKEND_REMOTE_HEALTH))
				snprintf(b, sizeof b, "local, %ld running, %ld queued", in_prog,
				         in_queue);
			else {
				/* In words a newcomer reads at once; starting and
				 * throttled workers only when there are some. */
				int k = snprintf(b, sizeof b, "workers: %ld idle, %ld running",
				                 widle, wrun);
				if (h->workers_initializing && k > 0 && k < (int)sizeof b)
					k += snprintf(b + k, sizeof b - (size_t)k, ", %ld starting",
					              h->workers_initializing);
				if (h->workers_throttled && k > 0 && k < (int)sizeof b)
					k += snprintf(b + k, sizeof b - (size_t)k,
					              ", %ld throttled", h->workers_throttled);
				if (k > 0 && k < (int)sizeof b)
					snprintf(b + k, sizeof b - (size_t)k, "; %ld in queue",
					         in_queue);
			}
			x = vh_put(w, x, b, base);
		}
		if (i + 1 < cfg->n_endpoints)
			x = vh_put(w, x, " |", base);
	}
	/* right: live count and role */
	char r[128];
	size_t nlive;
	joblist_live(jl, &nlive);
	if (joblist_wait_key(jl))
		snprintf(r, sizeof r, " %zu live, %zu wait for a driver with their API key%s ",
		         nlive, joblist_wait_key(jl), engine_is_driver(e) ? "" : " (viewer)");
	else
		snprintf(r, sizeof r, " %zu live%s ", nlive,
		         engine_is_driver(e) ? "" : " (viewer)");
	int rw = (int)strlen(r), W = getmaxx(w);
	if (x + rw < W)
		draw_put(w, 0, W - rw, rw, r, base | A_BOLD);
}
