/*
 * th_config.h: a struct config built by hand for the tests that run an engine
 * (test_engine, test_runpod), with every file inside one test directory.
 * Header only; free the result with config_free().
 */
#ifndef SDQ_TH_CONFIG_H
#define SDQ_TH_CONFIG_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

/* A config whose files all lie in dir (config, history.db, images/), graphics
 * "none", no endpoints. Out of memory aborts. */
static inline struct config *th_config_in(const char *dir)
{
	struct config *c = calloc(1, sizeof *c);
	char buf[4200];

	if (!c)
		abort();
	snprintf(buf, sizeof buf, "%s/config", dir);
	c->config_path = strdup(buf);
	c->config_dir = strdup(dir);
	c->data_dir = strdup(dir);
	snprintf(buf, sizeof buf, "%s/history.db", dir);
	c->db_path = strdup(buf);
	snprintf(buf, sizeof buf, "%s/images", dir);
	c->images_dir = strdup(buf);
	c->graphics = strdup("none");
	return c;
}

/* Append a RunPod endpoint to c: its key is read from the environment
 * variable key_env; tmpl is the template name or NULL. */
static inline void th_config_add_runpod(struct config *c, const char *name, const char *url,
                                        const char *key_env, const char *tmpl)
{
	struct config_endpoint *ep;
	c->endpoints = realloc(c->endpoints, (c->n_endpoints + 1) * sizeof *c->endpoints);
	if (!c->endpoints)
		abort();
	ep = &c->endpoints[c->n_endpoints++];
	memset(ep, 0, sizeof *ep);
	ep->name = strdup(name);
	ep->kind = CONFIG_RUNPOD;
	ep->url = strdup(url);
	ep->api_key_env = strdup(key_env);
	ep->template_name = tmpl ? strdup(tmpl) : NULL;
}

#endif
