/*
 * backends.c: the table of one engine's backends (see backends.h): by
 * endpoint name, by a job's recorded route, by URL for a job whose endpoint
 * this config does not have. Split out of engine.c.
 */
#include "backends.h"

#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "config.h"
#include "job.h"
#include "route.h"
#include "util.h"

struct bent {
	char *name; /* the endpoint's name, or a route (route_name) */
	struct backend *b;
	struct config_endpoint *own_ep; /* a route's endpoint, owned here */
	char *key_fp;                   /* a route's key fingerprint, or NULL */
};

struct backends {
	struct engine *e;
	struct config *cfg;
	struct bent *v;
	size_t n;
};

struct backends *backends_new(struct engine *e, struct config *cfg)
{
	struct backends *t = calloc(1, sizeof *t);
	if (t) {
		t->e = e;
		t->cfg = cfg;
	}
	return t;
}

void backends_free(struct backends *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++) {
		struct config_endpoint *ep = t->v[i].own_ep;
		t->v[i].b->ops->free(t->v[i].b);
		free(t->v[i].name);
		free(t->v[i].key_fp);
		if (ep) {
			free(ep->name);
			free(ep->url);
			free(ep->api);
			free(ep);
		}
	}
	free(t->v);
	free(t);
}

size_t backends_count(const struct backends *t)
{
	return t ? t->n : 0;
}

struct backend *backends_at(const struct backends *t, size_t i)
{
	return t && i < t->n ? t->v[i].b : NULL;
}

struct backend *backends_get(struct backends *t, const char *name, char **err)
{
	const struct config_endpoint *ep;
	struct backend *b;
	struct bent *nb;

	for (size_t i = 0; i < t->n; i++)
		if (strcmp(t->v[i].name, name) == 0)
			return t->v[i].b;
	ep = config_endpoint_named(t->cfg, name);
	if (!ep) {
		util_set_err(err, "endpoint \"%s\" is not in the config", name);
		return NULL;
	}
	b = backend_kind_of(ep)->create(t->e, ep, err);
	if (!b)
		return NULL;
	nb = realloc(t->v, (t->n + 1) * sizeof *nb);
	if (!nb || !(nb[t->n].name = strdup(name))) {
		if (nb)
			t->v = nb;
		b->ops->free(b);
		util_set_err(err, "out of memory");
		return NULL;
	}
	t->v = nb;
	nb[t->n].b = b;
	nb[t->n].own_ep = NULL;
	nb[t->n].key_fp = NULL;
	t->n++;
	return b;
}

/* The backend of a job that recorded its destination at submit (j->api and
 * j->endpoint_url): it is sent to that URL, that way, with the key of
 * j->key_fp (engine_key), whatever an endpoint of the same name means in
 * this process's config. */
static struct backend *route_backend(struct backends *t, const struct job *j, char **err)
{
	char *name = route_name(j);
	struct config_endpoint *ep;
	struct backend *b;
	struct bent *nb;
	const char *shown = NULL;

	if (!name) {
		util_set_err(err, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < t->n; i++) {
		if (strcmp(t->v[i].name, name) == 0) {
			free(name);
			return t->v[i].b;
		}
	}
	/* named as this config names that URL, else by the URL itself */
	for (size_t i = 0; i < t->cfg->n_endpoints; i++)
		if (t->cfg->endpoints[i].url && t->cfg->endpoints[i].name &&
		    strcmp(t->cfg->endpoints[i].url, j->endpoint_url) == 0)
			shown = t->cfg->endpoints[i].name;
	ep = calloc(1, sizeof *ep);
	nb = realloc(t->v, (t->n + 1) * sizeof *nb);
	if (nb)
		t->v = nb;
	if (!ep || !nb || !(ep->name = strdup(shown ? shown : j->endpoint_url)) ||
	    !(ep->url = strdup(j->endpoint_url)) ||
	    !(ep->api = strdup(j->api ? j->api : "runpod"))) {
		if (ep) {
			free(ep->name);
			free(ep->url);
		}
		free(ep);
		free(name);
		util_set_err(err, "out of memory");
		return NULL;
	}
	ep->kind = CONFIG_RUNPOD;
	b = runpod_backend_new(t->e, ep, err);
	if (!b) {
		free(ep->name);
		free(ep->url);
		free(ep->api);
		free(ep);
		free(name);
		return NULL;
	}
	nb = &t->v[t->n];
	nb->name = name;
	nb->b = b;
	nb->own_ep = ep;
	nb->key_fp = j->key_fp ? strdup(j->key_fp) : NULL;
	b->key_fp = nb->key_fp;
	t->n++;
	return b;
}

/* j's endpoint is not in this config: the config's endpoint of its URL,
 * if any (said on the message line). */
static struct backend *backend_by_url(struct backends *t, struct job *j)
{
	const struct config_endpoint *ep;
	struct backend *b;
	char *err = NULL;

	if (!j->endpoint_url || !j->endpoint_url[0] ||
	    (j->backend && !(backend_kind_caps(j->backend) & BACKEND_FOLLOW_BY_URL)))
		return NULL;
	if (strncmp(j->endpoint_url, "http://", 7) != 0 &&
	    strncmp(j->endpoint_url, "https://", 8) != 0)
		return NULL;
	ep = config_endpoint(t->cfg, j->endpoint_url);
	if (!ep || ep->kind != CONFIG_RUNPOD || !ep->name)
		return NULL;
	b = backends_get(t, ep->name, &err);
	if (!b) {
		free(err);
		return NULL;
	}
	engine_message(t->e, 0,
	               "job %lld: endpoint \"%s\" is not in this config; following it through "
	               "its URL %s%s",
	               (long long)j->id, j->endpoint ? j->endpoint : "", ep->url,
	               ep->api_key_env || ep->api_key_file || ep->api_key_cmd
	                   ? ""
	                   : " (API key from RUNPOD_API_KEY)");
	return b;
}


/* The backend that drives j: its recorded route (route_backend), else (a
 * local job, or a job of an older history) its endpoint by name, else its
 * URL (backend_by_url). NULL with *err. */
struct backend *backends_for_job(struct backends *t, struct job *j, char **err)
{
	struct backend *b;

	if (j->api && j->endpoint_url && (!j->backend || strcmp(j->backend, "runpod") == 0))
		return route_backend(t, j, err);
	b = backends_get(t,
	                j->endpoint          ? j->endpoint
	                : j->params.endpoint ? j->params.endpoint
	                                     : "",
	                err);
	if (!b && (b = backend_by_url(t, j)) && err) {
		free(*err);
		*err = NULL;
	}
	return b;
}

