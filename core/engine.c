/*
 * engine.c: the single event loop and the driver (see engine.h).
 *
 * One wait per pass: http_poll() (one poll() on the sockets' epoll set) with the self-pipe and
 * the watched fds as extra fds, and a timeout computed from the timer heap
 * and the driver's periodic checks. Nothing wakes up while nothing is due.
 *
 * The driver holds the store's lock and keeps every live job of the store in
 * memory (the live set), each handed to the backend of its endpoint. Backends
 * change a job and call engine_job_update(), which commits it to the store
 * (at the end of the pass, with the pass's other changes: engine_save.c)
 * and then reports it; a job that reached a terminal state leaves the live set
 * and is freed at the end of the pass (a safe point: no backend code is on the
 * stack any more). Other processes (viewers) only add jobs and set request
 * flags. Every engine hears of other processes' writes through dbwatch
 * (inotify on the store's directory), then asks PRAGMA data_version whether
 * anything was committed: no timer, so an idle dashboard or driver sleeps.
 * Where inotify cannot be trusted (NFS...) a 1 s data_version timer remains.
 *
 * The API keys this process holds, their key commands and their driver
 * locks are core/keyring.c's; this file keeps the main lock and asks the
 * ring about the rest (claim, take_locks).
 *
 * The timer heap is core/timers.c's; a job's destination is fixed at
 * submit by core/route.c; the backends jobs go through are core/backends.c's
 * table.
 *
 * The driver role (the locks, taking live jobs over from the store, the
 * scan of the store, other processes' writes, giving the role up) is
 * core/engine_drive.c's; engine_int.h is what the two share.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include "backend.h"
#include "backends.h"
#include "child.h"
#include "dbwatch.h"
#include "engine.h"
#include "engine_int.h"
#include "http.h"
#include "keyfp.h"
#include "keyring.h"
#include "params.h"
#include "route.h"
#include "saver.h"
#include "timers.h"
#include "util.h"

/* ---------- small helpers ---------- */

static void emit(struct engine *e, const struct engine_event *ev)
{
	if (e->cb)
		e->cb(e, ev, e->udata);
}

void engine_emit_simple(struct engine *e, enum engine_event_type t, int64_t id, const char *ep)
{
	struct engine_event ev;
	memset(&ev, 0, sizeof ev);
	ev.type = t;
	ev.job_id = id;
	ev.endpoint = ep;
	emit(e, &ev);
}

void engine_message(struct engine *e, int is_error, const char *fmt, ...)
{
	struct engine_event ev;
	va_list ap;
	char buf[2048];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	memset(&ev, 0, sizeof ev);
	ev.type = ENGINE_EV_MESSAGE;
	ev.message = buf;
	ev.is_error = is_error;
	emit(e, &ev);
}

/* ---------- signals: one self-pipe per engine ---------- */

#define MAX_ENGINES 16
static volatile sig_atomic_t sig_pipes[MAX_ENGINES]; /* write ends + 1, 0 = free */
static unsigned char sig_installed[65];

static void sig_handler(int signo)
{
	int saved = errno;
	unsigned char b = (unsigned char)signo;
	for (int i = 0; i < MAX_ENGINES; i++) {
		int fd = (int)sig_pipes[i] - 1;
		if (fd >= 0) {
			ssize_t r = write(fd, &b, 1);
			(void)r;
		}
	}
	errno = saved;
}

static int install_signal(int signo)
{
	struct sigaction sa;

	if (signo <= 0 || signo > 64)
		return -1;
	if (sig_installed[signo])
		return 0;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = sig_handler;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART | (signo == SIGCHLD ? SA_NOCLDSTOP : 0);
	if (sigaction(signo, &sa, NULL) < 0)
		return -1;
	sig_installed[signo] = 1;
	return 0;
}

int engine_catch_signal(struct engine *e, int signo)
{
	if (install_signal(signo) < 0)
		return -1;
	e->caught[signo] = 1;
	return 0;
}

void engine_wakeup(struct engine *e)
{
	unsigned char b = 0;
	ssize_t r;
	if (!e)
		return;
	r = write(e->pipe_w, &b, 1);
	(void)r;
}

/* ---------- timers (timers.h) ---------- */

uint64_t engine_timer_add(struct engine *e, int64_t delay_ms, engine_timer_cb cb, void *udata)
{
	return timers_add(e->timers, util_now_ms() + (delay_ms < 0 ? 0 : delay_ms), cb, udata);
}

void engine_timer_cancel(struct engine *e, uint64_t id)
{
	if (e)
		timers_cancel(e->timers, id);
}

size_t engine_timer_count(const struct engine *e)
{
	return e ? timers_count(e->timers) : 0;
}

/* ---------- fd watches ---------- */

int engine_watch_fd(struct engine *e, int fd, short events, engine_fd_cb cb, void *udata)
{
	struct watch *nw;

	for (size_t i = 0; i < e->nwatch; i++) {
		if (e->watches[i].fd == fd) {
			e->watches[i].events = events;
			e->watches[i].cb = cb;
			e->watches[i].udata = udata;
			return 0;
		}
	}
	nw = realloc(e->watches, (e->nwatch + 1) * sizeof *nw);
	if (!nw)
		return -1;
	e->watches = nw;
	nw[e->nwatch].fd = fd;
	nw[e->nwatch].events = events;
	nw[e->nwatch].cb = cb;
	nw[e->nwatch].udata = udata;
	e->nwatch++;
	return 0;
}

void engine_unwatch_fd(struct engine *e, int fd)
{
	for (size_t i = 0; i < e->nwatch; i++) {
		if (e->watches[i].fd == fd) {
			memmove(&e->watches[i], &e->watches[i + 1],
			        (e->nwatch - i - 1) * sizeof *e->watches);
			e->nwatch--;
			return;
		}
	}
}

/* ---------- the live set, backends, health ---------- */

struct live *engine_live_find(struct engine *e, int64_t id)
{
	for (size_t i = 0; i < e->nlive; i++)
		if (e->live[i].j->id == id)
			return &e->live[i];
	return NULL;
}

struct live *engine_live_add(struct engine *e, struct job *j, struct backend *b)
{
	if (e->nlive == e->caplive) {
		size_t nc = e->caplive ? e->caplive * 2 : 32;
		struct live *nl = realloc(e->live, nc * sizeof *nl);
		if (!nl)
			return NULL;
		e->live = nl;
		e->caplive = nc;
	}
	e->live[e->nlive].j = j;
	e->live[e->nlive].b = b;
	e->live[e->nlive].sent = 0;
	return &e->live[e->nlive++];
}

/* Remove l from the live set; the job goes to the grave (freed at the end of
 * the pass). */
static void sync_forget(struct engine *e, int64_t id)
{
	for (size_t i = 0; i < e->nsyncs; i++) {
		if (e->syncs[i].id == id) {
			e->syncs[i] = e->syncs[--e->nsyncs];
			return;
		}
	}
}

int engine_job_sync_wait(struct engine *e, int64_t id)
{
	for (size_t i = 0; e && i < e->nsyncs; i++)
		if (e->syncs[i].id == id)
			return e->syncs[i].wait_ms;
	return 0;
}

void engine_live_drop(struct engine *e, struct live *l)
{
	size_t i = (size_t)(l - e->live);
	struct job *j = l->j;

	sync_forget(e, j->id);
	engine_dirty_forget(e, j); /* engine_give_up flushed what it could first */

	e->live[i] = e->live[--e->nlive];
	if (e->ngrave == e->capgrave) {
		size_t nc = e->capgrave ? e->capgrave * 2 : 16;
		struct job **ng = realloc(e->grave, nc * sizeof *ng);
		if (!ng) {
			/* cannot defer: leak rather than free under a caller */
			return;
		}
		e->grave = ng;
		e->capgrave = nc;
	}
	e->grave[e->ngrave++] = j;
}

void engine_grave_empty(struct engine *e)
{
	for (size_t i = 0; i < e->ngrave; i++)
		job_free(e->grave[i]);
	e->ngrave = 0;
}

/* ---------- keys (keyring.h) ---------- */

const char *engine_key(struct engine *e, const char *fp)
{
	return keyring_key(e->kr, fp);
}

/* A key command ended: with its key, take that key's lock at once
 * (periodic), so its jobs are claimed by the next scan. */
static void on_key(const struct config_endpoint *ep, int ok, const char *fp, const char *err,
                   void *udata)
{
	struct engine *e = udata;
	(void)fp;
	if (ok) {
		e->want_key_lock = 1;
		e->next_lock_try = 0;
		engine_message(e, 0, "endpoint %s: the key command answered",
		               ep->name ? ep->name : "default");
	} else {
		engine_message(e, 1, "%s", err);
	}
	engine_emit_simple(e, ENGINE_EV_STORE, 0, NULL); /* what waits for it may show it */
}

int engine_key_pending(struct engine *e, const char *endpoint)
{
	return e && keyring_pending(e->kr, config_endpoint(e->cfg, endpoint));
}

int engine_keys_pending(struct engine *e)
{
	return e ? keyring_pending_count(e->kr) : 0;
}

const char *engine_endpoint_key(struct engine *e, const struct config_endpoint *ep, char **err)
{
	char fp[KEYFP_LEN];
	return keyring_endpoint(e->kr, ep, 0, fp, err) == 1 ? keyring_key(e->kr, fp) : NULL;
}

static struct hent *health_find(struct engine *e, const char *name)
{
	for (size_t i = 0; i < e->nhealth; i++)
		if (strcmp(e->health[i].name, name) == 0)
			return &e->health[i];
	return NULL;
}

void engine_health_clear(struct engine_health *h)
{
	if (!h)
		return;
	free(h->text);
	free(h->error);
	h->text = h->error = NULL;
}

void engine_health_set(struct engine *e, const char *name, const struct engine_health *h)
{
	struct hent *he = health_find(e, name);

	if (!he) {
		struct hent *nh = realloc(e->health, (e->nhealth + 1) * sizeof *nh);
		if (!nh)
			return;
		e->health = nh;
		he = &nh[e->nhealth];
		memset(he, 0, sizeof *he);
		he->name = strdup(name);
		if (!he->name)
			return;
		e->nhealth++;
	}
	struct engine_health old = he->h;
	he->h = *h;
	he->h.text = h->text ? strdup(h->text) : NULL;
	he->h.error = h->error ? strdup(h->error) : NULL;
	/* A report with no counts (a job's route backend, named like the
	 * endpoint, says only that a request went through) keeps the counts of
	 * the last /health, so the dashboard does not fall back to "?". */
	if (!h->valid && old.valid && h->reachable && !h->auth_failed && !h->not_found) {
		he->h.valid = 1;
		he->h.jobs_completed = old.jobs_completed;
		he->h.jobs_failed = old.jobs_failed;
		he->h.jobs_in_progress = old.jobs_in_progress;
		he->h.jobs_in_queue = old.jobs_in_queue;
		he->h.jobs_retried = old.jobs_retried;
		he->h.workers_idle = old.workers_idle;
		he->h.workers_running = old.workers_running;
		he->h.workers_initializing = old.workers_initializing;
		he->h.workers_ready = old.workers_ready;
		he->h.workers_throttled = old.workers_throttled;
		he->h.workers_unhealthy = old.workers_unhealthy;
	}
	engine_health_clear(&old);
	engine_emit_simple(e, ENGINE_EV_HEALTH, 0, he->name);
}

const struct engine_health *engine_health(struct engine *e, const char *name)
{
	struct hent *he = name ? health_find(e, name) : NULL;
	return he ? &he->h : NULL;
}

int engine_health_refresh(struct engine *e, const char *name, char **err)
{
	const struct config_endpoint *ep = name ? config_endpoint_named(e->cfg, name) : NULL;
	struct backend *b;

	if (!name) {
		ep = config_endpoint(e->cfg, NULL);
		if (!ep) {
			util_set_err(err, "no endpoint is configured");
			return -1;
		}
		name = ep->name;
	}
	b = backends_get(e->bt, name, err);
	if (!b)
		return -1;
	if (!b->ops->health) {
		util_set_err(err, "endpoint \"%s\" has no health report", name);
		return -1;
	}
	return b->ops->health(b, err);
}

static void health_tick(struct engine *e, void *udata)
{
	(void)udata;
	e->health_timer = 0;
	for (size_t i = 0; i < e->cfg->n_endpoints; i++) {
		char *err = NULL;
		if (engine_health_refresh(e, e->cfg->endpoints[i].name, &err) < 0) {
			engine_message(e, 1, "health of %s: %s", e->cfg->endpoints[i].name,
			               err ? err : "failed");
		}
		free(err);
	}
	if (e->health_interval > 0)
		e->health_timer = engine_timer_add(e, e->health_interval, health_tick, NULL);
}

void engine_health_auto(struct engine *e, int64_t interval_ms)
{
	engine_timer_cancel(e, e->health_timer);
	e->health_timer = 0;
	e->health_interval = interval_ms > 0 ? interval_ms : 0;
	if (e->health_interval)
		e->health_timer = engine_timer_add(e, 0, health_tick, NULL);
}

int engine_purge_queue(struct engine *e, const char *name, char **err)
{
	struct backend *b;
	const struct config_endpoint *ep =
	    name ? config_endpoint_named(e->cfg, name) : config_endpoint(e->cfg, NULL);

	if (!ep) {
		util_set_err(err,
		             name ? "endpoint \"%s\" is not in the config"
		                  : "no endpoint is configured%s",
		             name ? name : "");
		return -1;
	}
	b = backends_get(e->bt, ep->name, err);
	if (!b)
		return -1;
	if (!b->ops->purge) {
		util_set_err(err, "endpoint \"%s\" has no queue to purge", ep->name);
		return -1;
	}
	return b->ops->purge(b, err);
}

/* ---------- notifications and watchers ---------- */

/* now + ms for a fallback timer; never when dbwatch notifies. */
int64_t engine_later(struct engine *e, int64_t ms)
{
	if (e->dbw && dbwatch_fd(e->dbw) >= 0)
		return INT64_MAX;
	return util_now_ms() + ms;
}

/* The driver's view of "someone watches": tell the backends when it moves. */
void engine_watch_update(struct engine *e)
{
	int w;
	if (!e->driving)
		return;
	w = e->self_watch || dbwatch_others_watching(e->dbw);
	if (w == e->watched)
		return;
	e->watched = w;
	for (size_t i = 0; i < backends_count(e->bt); i++)
		if (backends_at(e->bt, i)->ops->watch)
			backends_at(e->bt, i)->ops->watch(backends_at(e->bt, i), w);
}

int engine_set_watching(struct engine *e, int on)
{
	int r;
	on = !!on;
	if (e->self_watch == on)
		return 0;
	e->self_watch = on;
	r = dbwatch_set_watching(e->dbw, on);
	engine_watch_update(e);
	return r;
}

int engine_watched(const struct engine *e)
{
	return e->self_watch || e->watched;
}

unsigned long engine_passes(const struct engine *e)
{
	return e->passes;
}

/* ---------- engine lifetime ---------- */

struct engine *engine_new(struct config *cfg, struct store *st, char **err)
{
	struct engine *e;
	int fds[2];
	int slot = -1;

	if (!cfg || !st) {
		util_set_err(err, "engine_new: no config or store");
		return NULL;
	}
	e = calloc(1, sizeof *e);
	if (!e) {
		util_set_err(err, "out of memory");
		return NULL;
	}
	e->cfg = cfg;
	e->st = st;
	e->pipe_r = e->pipe_w = -1;
	e->last_dv = store_data_version(st);
	e->http = http_new(err);
	if (!e->http || !(e->kr = keyring_new(e, cfg, st, on_key, e)) ||
	    !(e->timers = timers_new()) || !(e->bt = backends_new(e, cfg))) {
		if (e->http)
			util_set_err(err, "out of memory");
		goto fail;
	}
	if (pipe(fds) < 0) {
		util_set_err(err, "pipe: %s", strerror(errno));
		goto fail;
	}
	for (int i = 0; i < 2; i++) {
		fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
		fcntl(fds[i], F_SETFD, FD_CLOEXEC);
	}
	e->pipe_r = fds[0];
	e->pipe_w = fds[1];
	for (int i = 0; i < MAX_ENGINES; i++) {
		if (sig_pipes[i] == 0) {
			sig_pipes[i] = e->pipe_w + 1;
			slot = i;
			break;
		}
	}
	if (slot < 0 || install_signal(SIGCHLD) < 0) {
		util_set_err(err, "cannot catch SIGCHLD (too many engines?)");
		goto fail;
	}
	e->dbw = dbwatch_new(store_path(st), err);
	if (!e->dbw)
		goto fail;
	e->next_dv_check = engine_later(e, DV_CHECK_FALLBACK_MS);
	return e;
fail:
	/* one way out: what was made is unmade (a failed dbwatch_new left the
	 * ring, the backends and the timers behind before) */
	if (slot >= 0)
		sig_pipes[slot] = 0;
	if (e->pipe_r >= 0) {
		close(e->pipe_r);
		close(e->pipe_w);
	}
	keyring_free(e->kr);
	backends_free(e->bt);
	timers_free(e->timers);
	http_free(e->http);
	free(e);
	return NULL;
}

void engine_set_callback(struct engine *e, engine_cb cb, void *udata)
{
	e->cb = cb;
	e->udata = udata;
}

struct config *engine_config(struct engine *e)
{
	return e->cfg;
}

struct store *engine_store(struct engine *e)
{
	return e->st;
}

struct http *engine_http(struct engine *e)
{
	return e->http;
}

int engine_is_driver(const struct engine *e)
{
	return e && e->driving;
}

void engine_free(struct engine *e)
{
	if (!e)
		return;
	e->cb = NULL;
	if (e->driving)
		engine_give_up(e);
	backends_free(e->bt); /* cancels their saves */
	saver_free(e->saver);
	e->saver = NULL;
	keyring_free(e->kr); /* key commands still running: their groups are killed */
	free(e->syncs);
	free(e->later);
	free(e->dirty);
	output_dirs_sync(&e->dirs);
	output_dirs_clear(&e->dirs);
	engine_grave_empty(e);
	free(e->grave);
	free(e->live);
	http_free(e->http);
	for (size_t i = 0; i < e->nhealth; i++) {
		engine_health_clear(&e->health[i].h);
		free(e->health[i].name);
	}
	free(e->health);
	timers_free(e->timers);
	free(e->watches);
	for (int i = 0; i < MAX_ENGINES; i++)
		if (sig_pipes[i] == e->pipe_w + 1)
			sig_pipes[i] = 0;
	close(e->pipe_r);
	close(e->pipe_w);
	dbwatch_free(e->dbw);
	free(e);
}

/* ---------- driving jobs ---------- */

/* Clear job id's request flags in the store after acting on them. */
void engine_clear_requests(struct engine *e, struct job *j)
{
	char *err = NULL;
	j->cancel_requested = 0;
	j->retry_requested = 0;
	if (store_job_clear_requests(e->st, j->id, &err) < 0) {
		engine_message(e, 1, "job %lld: %s", (long long)j->id, err ? err : "store error");
		free(err);
	}
}

/* engine_job_update and engine_job_commit: engine_save.c */

/* Report the jobs engine_job_commit saved during the pass. */
static void report_later(struct engine *e)
{
	for (size_t i = 0; i < e->nlater; i++) {
		struct live *l = engine_live_find(e, e->later[i]);
		engine_emit_simple(e, ENGINE_EV_JOB, e->later[i], l ? l->j->endpoint : NULL);
	}
	e->nlater = 0;
}

void engine_job_notify(struct engine *e, const struct job *j)
{
	engine_emit_simple(e, ENGINE_EV_JOB, j->id, j->endpoint);
}

const struct job *engine_job(struct engine *e, int64_t id)
{
	struct live *l = engine_live_find(e, id);
	return l ? l->j : NULL;
}

/* ---------- requests ---------- */

static uint32_t random_u32(void)
{
	uint32_t v = 0;
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t r = read(fd, &v, sizeof v);
		close(fd);
		if (r == (ssize_t)sizeof v)
			return v;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint32_t)(ts.tv_nsec ^ (ts.tv_sec << 7) ^ ((long)getpid() << 16));
}

int64_t engine_submit(struct engine *e, const struct job_params *p, char **err)
{
	return engine_submit_opts(e, p, NULL, err);
}

/* A new PENDING job for p as engine_submit_opts records it (endpoint,
 * backend, route fixed, group and variant), not stored yet; *epo: its
 * endpoint. NULL with *err. */
static struct job *submit_make(struct engine *e, const struct job_params *p,
                               const struct engine_submit_opts *o,
                               const struct config_endpoint **epo, char **err)
{
	const struct config_endpoint *ep = config_endpoint(e->cfg, p->endpoint);
	struct job *j;

	if (!ep) {
		if (p->endpoint)
			util_set_err(err, "no endpoint called \"%s\" in the config", p->endpoint);
		else
			util_set_err(err, "no endpoint is configured: set SDQ_ENDPOINT or add an "
			                  "[endpoint \"name\"] section to the config");
		return NULL;
	}
	j = job_new();
	if (!j || job_params_copy(&j->params, p) < 0) {
		job_free(j);
		util_set_err(err, "out of memory");
		return NULL;
	}
	if (j->params.seed < 0)
		j->params.seed = (int64_t)random_u32();
	if (job_set_str(&j->params.endpoint, ep->name) < 0 ||
	    job_set_str(&j->endpoint, ep->name) < 0 ||
	    job_set_str(&j->backend, backend_kind_of(ep)->name) < 0 ||
	    (ep->kind == CONFIG_RUNPOD && job_set_str(&j->endpoint_url, ep->url) < 0) ||
	    (!j->params.template_name && ep->kind == CONFIG_RUNPOD &&
	     job_set_str(&j->params.template_name,
	                 ep->template_name ? ep->template_name : PARAMS_DEFAULT_TEMPLATE) <
	         0)) {
		job_free(j);
		util_set_err(err, "out of memory");
		return NULL;
	}
	if (ep->kind == CONFIG_RUNPOD && route_fix(j, ep, e->cfg->config_dir, e->kr, err) < 0) {
		job_free(j);
		return NULL;
	}
	if (o && o->group_id > 0) {
		j->group_id = o->group_id;
		if (job_set_str(&j->variant, o->variant) < 0) {
			job_free(j);
			util_set_err(err, "out of memory");
			return NULL;
		}
	}
	j->state = JOB_PENDING;
	j->created_at = job_now_ms();
	*epo = ep;
	return j;
}

/* Stored job j (owned here now): drive it when this engine may, trying its
 * key's driver lock if this engine does not hold it (a key another driver
 * holds is tried once per pass: keyring_claim). */
static void submit_take(struct engine *e, struct job *j, const struct config_endpoint *ep,
                        const struct engine_submit_opts *o)
{
	int64_t id = j->id;

	if (e->driving && engine_live_find(e, id)) {
		job_free(j); /* a scan of the store (engine_become_driver) took it */
		return;
	}
	/* a new key: its driver may be this process */
	if (e->want_drive && !e->closing && !engine_can_drive(e, j))
		engine_claim(e, j);
	if (engine_can_drive(e, j)) {
		if (o && o->sync_wait_ms > 0 && ep->kind == CONFIG_RUNPOD) {
			struct sync_ent *ns = realloc(e->syncs, (e->nsyncs + 1) * sizeof *ns);
			if (ns) {
				e->syncs = ns;
				ns[e->nsyncs].id = id;
				int w = o->sync_wait_ms;
				if (w < 1000)
					w = 1000;
				if (w > 300000)
					w = 300000;
				ns[e->nsyncs].wait_ms = w;
				e->nsyncs++;
			}
		}
		if (!e->driving) {
			job_free(j);
			engine_become_driver(e); /* its scan of the store takes the job */
		} else {
			engine_emit_simple(e, ENGINE_EV_JOB, id, j->endpoint);
			engine_track(e, j);
		}
	} else {
		job_free(j);
	}
}

int64_t engine_submit_opts(struct engine *e, const struct job_params *p,
                           const struct engine_submit_opts *o, char **err)
{
	const struct config_endpoint *ep = NULL;
	struct job *j = submit_make(e, p, o, &ep, err);
	int64_t id;

	if (!j)
		return 0;
	/* next: the store hands the job to the driver (scan_store, in any
	 * process; track below when this one drives). HACKING.md has the trail. */
	if (store_job_add(e->st, j, err) < 0) {
		job_free(j);
		return 0;
	}
	id = j->id;
	submit_take(e, j, ep, o);
	return id;
}

int engine_cancel(struct engine *e, int64_t id, char **err)
{
	struct live *l;
	struct job *j;
	int r;

	if (e->driving && (l = engine_live_find(e, id)))
		return engine_cancel_tracked(e, l, err);
	j = store_job_get(e->st, id, err);
	if (!j) {
		if (err && !*err)
			util_set_err(err, "no job %lld", (long long)id);
		return -1;
	}
	if (!job_state_is_live(j->state)) {
		util_set_err(err, "job %lld is already %s", (long long)id,
		             job_state_name(j->state));
		job_free(j);
		return -1;
	}
	if (e->driving && engine_can_drive(e, j)) {
		/* live in the store but not seen yet: take it now */
		j->cancel_requested = 1;
		engine_track(e, j);
		return 0;
	}
	if (j->state == JOB_PENDING) {
		/* Not sent yet. With its driver lock held for a moment, no driver
		 * can be sending it while we mark it cancelled. */
		r = j->key_fp ? store_lock_key(e->st, j->key_fp, NULL) : store_lock_driver(e->st, NULL);
		if (r == 1) {
			struct job *cur = store_job_get(e->st, id, NULL);
			int ok = -1;
			if (cur && cur->state == JOB_PENDING) {
				cur->state = JOB_CANCELLED;
				cur->finished_at = job_now_ms();
				cur->cancel_requested = 0;
				ok = store_job_save(e->st, cur, err);
			}
			if (j->key_fp)
				store_unlock_key(e->st, j->key_fp);
			else
				store_unlock_driver(e->st);
			if (cur && cur->state == JOB_CANCELLED && ok == 0) {
				job_free(cur);
				job_free(j);
				return 0;
			}
			job_free(cur);
		}
	}
	job_free(j);
	return store_job_request_cancel(e->st, id, err);
}

int engine_retry(struct engine *e, int64_t id, char **err)
{
	struct job *j;

	if (e->driving && engine_live_find(e, id)) {
		util_set_err(err, "job %lld is still running", (long long)id);
		return -1;
	}
	j = store_job_get(e->st, id, err);
	if (!j) {
		if (err && !*err)
			util_set_err(err, "no job %lld", (long long)id);
		return -1;
	}
	if (j->state != JOB_FAILED && j->state != JOB_TIMED_OUT) {
		util_set_err(err, "job %lld is %s: only a FAILED or TIMED_OUT job can be retried",
		             (long long)id, job_state_name(j->state));
		job_free(j);
		return -1;
	}
	if (!j->remote_id || (j->backend && !(backend_kind_caps(j->backend) & BACKEND_CAN_RETRY))) {
		util_set_err(err, "job %lld cannot be retried on its endpoint: re-run it instead",
		             (long long)id);
		job_free(j);
		return -1;
	}
	if (e->driving && engine_can_drive(e, j)) {
		if (engine_retry_job(e, j, err) < 0) {
			job_free(j);
			return -1;
		}
		return 0;
	}
	job_free(j);
	return store_job_request_retry(e->st, id, err);
}

int64_t engine_rerun(struct engine *e, int64_t id, char **err)
{
	struct job *j = store_job_get(e->st, id, err);
	int64_t nid;

	if (!j) {
		if (err && !*err)
			util_set_err(err, "no job %lld", (long long)id);
		return 0;
	}
	if (!j->params.endpoint && j->endpoint)
		job_set_str(&j->params.endpoint, j->endpoint);
	nid = engine_submit(e, &j->params, err);
	job_free(j);
	return nid;
}

int engine_driving_count(struct engine *e)
{
	int n = 0;
	if (!e || !e->driving)
		return 0;
	for (size_t i = 0; i < e->nlive; i++)
		if (e->live[i].b)
			n++;
	return n;
}

int engine_driver_needed(struct config *cfg, struct store *st, int64_t undrivable)
{
	struct store_query q;
	struct job **jobs = NULL;
	size_t n = 0;
	int64_t main_jobs = 0;
	int need = 0;

	memset(&q, 0, sizeof q);
	q.live_only = 1;
	if (store_job_list(st, &q, &jobs, &n, NULL) < 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!jobs[i]->key_fp)
			main_jobs++;
	if (main_jobs > undrivable && store_driver_pid(st) == 0)
		need = 1;
	for (size_t i = 0; i < n && !need; i++) {
		const char *fp = jobs[i]->key_fp;
		int seen = 0;
		if (!fp || store_key_driver_pid(st, fp) != 0)
			continue;
		for (size_t k = 0; k < i && !seen; k++)
			seen = jobs[k]->key_fp && strcmp(jobs[k]->key_fp, fp) == 0;
		/* a driver that could not take its jobs (undrivable) does not
		 * guess again: no driver is started over and over */
		if (!seen && config_gives_key(cfg, fp, undrivable == 0))
			need = 1;
	}
	store_jobs_free(jobs, n);
	return need;
}

int engine_live_count(struct engine *e)
{
	struct store_query q;
	memset(&q, 0, sizeof q);
	q.live_only = 1;
	return (int)store_job_count(e->st, &q, NULL);
}

/* ---------- the loop ---------- */

static void drain_pipe(struct engine *e)
{
	unsigned char buf[64];
	ssize_t n;
	int chld = 0;

	while ((n = read(e->pipe_r, buf, sizeof buf)) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			int s = buf[i];
			if (s == 0)
				continue; /* engine_wakeup */
			if (s == SIGCHLD)
				chld = 1;
			if (s <= 64 && e->caught[s]) {
				struct engine_event ev;
				memset(&ev, 0, sizeof ev);
				ev.type = ENGINE_EV_SIGNAL;
				ev.signo = s;
				emit(e, &ev);
			}
		}
	}
	if (chld) {
		child_sigchld(); /* every child sdq runs (core/child) */
		for (size_t i = 0; i < backends_count(e->bt); i++)
			if (backends_at(e->bt, i)->ops->sigchld)
				backends_at(e->bt, i)->ops->sigchld(backends_at(e->bt, i));
	}
}

int engine_step(struct engine *e, int max_wait_ms)
{
	int64_t now = util_now_ms(), due;
	int64_t timeout = max_wait_ms < 0 ? INT64_MAX : max_wait_ms;
	struct curl_waitfd stackfds[32], *fds = stackfds;
	struct watch *ws = NULL;
	unsigned nfds, nw = (unsigned)e->nwatch;
	int rc = 0;

	if (timers_count(e->timers)) {
		due = timers_next_due(e->timers) - now;
		if (due < timeout)
			timeout = due < 0 ? 0 : due;
	}
	due = e->next_dv_check;
	if (e->want_drive && (!e->main_lock || e->want_key_lock) && e->next_lock_try < due)
		due = e->next_lock_try;
	if (due - now < timeout)
		timeout = due - now < 0 ? 0 : due - now;
	if (timeout > 3600 * 1000)
		timeout = 3600 * 1000;

	e->passes++;
	nfds = 2 + nw;
	if (nfds > sizeof stackfds / sizeof *stackfds) {
		fds = calloc(nfds, sizeof *fds);
		if (!fds)
			return -1;
	}
	/* a copy of the watches: callbacks may change the table */
	if (nw) {
		ws = malloc(nw * sizeof *ws);
		if (!ws) {
			if (fds != stackfds)
				free(fds);
			return -1;
		}
		memcpy(ws, e->watches, nw * sizeof *ws);
	}
	fds[0].fd = e->pipe_r;
	fds[0].events = CURL_WAIT_POLLIN;
	fds[0].revents = 0;
	for (unsigned i = 0; i < nw; i++) {
		fds[1 + i].fd = ws[i].fd;
		fds[1 + i].events = ws[i].events;
		fds[1 + i].revents = 0;
	}
	/* last, and only when there is one (-1 would make poll fail) */
	fds[1 + nw].fd = dbwatch_fd(e->dbw);
	fds[1 + nw].events = CURL_WAIT_POLLIN;
	fds[1 + nw].revents = 0;
	if (fds[1 + nw].fd < 0)
		nfds--;
	e->in_step++;
	if (http_poll(e->http, fds, nfds, (int)timeout) < 0)
		rc = -1;
	if (http_perform(e->http) < 0)
		rc = -1;
	report_later(e);
	if (fds[0].revents)
		drain_pipe(e);
	for (unsigned i = 0; i < nw; i++) {
		if (!fds[1 + i].revents)
			continue;
		/* still watched with the same callback? */
		for (size_t k = 0; k < e->nwatch; k++) {
			if (e->watches[k].fd == ws[i].fd && e->watches[k].cb == ws[i].cb) {
				ws[i].cb(e, ws[i].fd, (short)fds[1 + i].revents, ws[i].udata);
				break;
			}
		}
	}
	if (nfds == 2 + nw && fds[1 + nw].revents)
		engine_store_event(e, dbwatch_read(e->dbw));
	timers_fire(e->timers, util_now_ms(), e);
	engine_periodic(e, util_now_ms());
	/* what the pass changed, in one commit, then reported */
	engine_flush_pass(e);
	/* finished jobs are freed only by the outermost pass: an inner one
	 * (engine_step called from a callback) may have callers using them */
	if (--e->in_step == 0)
		engine_grave_empty(e);
	free(ws);
	if (fds != stackfds)
		free(fds);
	return rc;
}

/* ---------- many jobs at once (a group's re-run and cancel) ---------- */

int engine_submit_many(struct engine *e, const struct job_params *const *ps,
                       const char *const *variants, size_t n, int64_t group_id, int64_t *ids,
                       size_t *made, char **err)
{
	struct job **jobs = n ? calloc(n, sizeof *jobs) : NULL;
	const struct config_endpoint **eps = n ? calloc(n, sizeof *eps) : NULL;
	struct engine_submit_opts o;
	size_t k = 0;
	int rc = 0;

	*made = 0;
	if (n && (!jobs || !eps)) {
		free(jobs);
		free(eps);
		util_set_err(err, "out of memory");
		return -1;
	}
	memset(&o, 0, sizeof o);
	o.group_id = group_id;
	/* every job made (template rendered, route fixed) before any is stored */
	for (; k < n; k++) {
		o.variant = variants ? variants[k] : NULL;
		if (!(jobs[k] = submit_make(e, ps[k], &o, &eps[k], err))) {
			rc = -1; /* the k before it are stored, as one by one would */
			break;
		}
	}
	if (k && store_jobs_add(e->st, jobs, k, err) < 0) {
		rc = -1; /* none recorded: the store's error says why */
		for (size_t i = 0; i < k; i++)
			job_free(jobs[i]);
		k = 0;
	}
	/* a key another driver holds is tried at its first job only
	 * (keyring_claim: once per pass): 12 s for 1430 jobs per job */
	for (size_t i = 0; i < k; i++) {
		ids[i] = jobs[i]->id;
		submit_take(e, jobs[i], eps[i], &o);
	}
	*made = k;
	free(jobs);
	free(eps);
	return rc;
}

/* Cancel the PENDING jobs pend[0..n) that no driver of this engine holds:
 * per key (or the main lock), with that driver lock held for a moment, the
 * ones still PENDING become CANCELLED in one commit (engine_cancel's
 * PENDING path, for many); those sent meanwhile, or whose lock another
 * driver holds, go to req[*nreq] for a cancel request. Frees pend's jobs. */
static size_t cancel_pending_many(struct engine *e, struct job **pend, size_t n, int64_t *req,
                                  size_t *nreq)
{
	struct job **save = calloc(n ? n : 1, sizeof *save);
	size_t done = 0;

	for (size_t k = 0; k < n; k++) {
		struct job *first = pend[k];
		if (!first)
			continue;
		const char *fp = first->key_fp;
		int r = !save ? 0 : fp ? store_lock_key(e->st, fp, NULL) : store_lock_driver(e->st, NULL);
		size_t nsave = 0;
		for (size_t i = k; i < n; i++) {
			struct job *j = pend[i], *cur;
			if (!j || (fp ? !j->key_fp || strcmp(j->key_fp, fp) != 0 : j->key_fp != NULL))
				continue;
			pend[i] = NULL;
			cur = r == 1 ? store_job_get(e->st, j->id, NULL) : NULL;
			if (cur && cur->state == JOB_PENDING) {
				cur->state = JOB_CANCELLED;
				cur->finished_at = job_now_ms();
				cur->cancel_requested = 0;
				save[nsave++] = cur;
			} else {
				job_free(cur);
				req[(*nreq)++] = j->id;
			}
			if (j != first)
				job_free(j);
		}
		if (nsave && store_jobs_save(e->st, (const struct job *const *)save, nsave, NULL) == 0)
			done += nsave;
		else
			for (size_t i = 0; i < nsave; i++)
				req[(*nreq)++] = save[i]->id;
		for (size_t i = 0; i < nsave; i++)
			job_free(save[i]);
		if (r == 1 && fp)
			store_unlock_key(e->st, fp);
		else if (r == 1)
			store_unlock_driver(e->st);
		job_free(first);
	}
	free(save);
	return done;
}

int engine_cancel_many(struct engine *e, const int64_t *ids, size_t n, size_t *done, char **err)
{
	int64_t *req = calloc(n ? n : 1, sizeof *req);
	struct job **pend = calloc(n ? n : 1, sizeof *pend);
	size_t nreq = 0, npend = 0, d = 0;
	int rc = 0;

	*done = 0;
	if (!req || !pend) {
		free(req);
		free(pend);
		util_set_err(err, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		char *e1 = NULL;
		struct live *l;
		struct job *j;
		int ok = -1;
		if (e->driving && (l = engine_live_find(e, ids[i]))) {
			ok = engine_cancel_tracked(e, l, &e1);
		} else if (!(j = store_job_get(e->st, ids[i], &e1))) {
			if (!e1)
				e1 = util_asprintf("no job %lld", (long long)ids[i]);
		} else if (!job_state_is_live(j->state)) {
			e1 = util_asprintf("job %lld is already %s", (long long)ids[i],
			                   job_state_name(j->state));
			job_free(j);
		} else if (e->driving && engine_can_drive(e, j)) {
			j->cancel_requested = 1; /* live in the store, not seen yet */
			engine_track(e, j);
			ok = 0;
		} else if (j->state == JOB_PENDING) {
			pend[npend++] = j; /* below, per driver lock */
			continue;
		} else {
			job_free(j);
			req[nreq++] = ids[i]; /* below, one commit */
			continue;
		}
		if (ok == 0) {
			(*done)++;
		} else if (!rc) {
			rc = -1;
			util_set_err(err, "job %lld: %s", (long long)ids[i], e1 ? e1 : "cannot cancel");
		}
		free(e1);
	}
	*done += cancel_pending_many(e, pend, npend, req, &nreq);
	if (nreq && store_jobs_request_cancel(e->st, req, nreq, &d, rc ? NULL : err) < 0 && !rc)
		rc = -1;
	*done += d;
	free(req);
	free(pend);
	return rc;
}
