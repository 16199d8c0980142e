/*
 * keycmd.c: api_key_cmd through the loop (see keycmd.h). A thin owner of
 * one struct child: collects its output into a capped buffer and turns the
 * end into a key or an error with config_key_from_cmd.
 */
#include "keycmd.h"

#include <stdlib.h>
#include <string.h>

#include "child.h"
#include "config.h"
#include "util.h"

struct keycmd {
	const struct config_endpoint *ep;
	struct child *c;
	char buf[CONFIG_KEY_MAX + 2];
	size_t n, total;
	int running;
	int64_t started;
	keycmd_cb cb;
	void *udata;
};

static void on_output(struct child *c, enum child_stream s, const char *buf, size_t n,
                      void *udata)
{
	struct keycmd *k = udata;

	if (s != CHILD_STDOUT || !buf)
		return;
	if (k->n < CONFIG_KEY_MAX + 1) {
		size_t take = CONFIG_KEY_MAX + 1 - k->n;
		if (take > n)
			take = n;
		memcpy(k->buf + k->n, buf, take);
		k->n += take;
	}
	k->total += n;
	if (k->total > CONFIG_KEY_CMD_OUTPUT_MAX)
		child_kill(c); /* config_key_from_cmd says why */
}

static void on_exit_cb(struct child *c, const struct child_exit *x, void *udata)
{
	struct keycmd *k = udata;
	char *err = NULL, *key;

	(void)c;
	k->running = 0;
	key = config_key_from_cmd(k->ep, k->buf, k->n, k->total, x, &err);
	explicit_bzero(k->buf, sizeof k->buf);
	k->cb(k, key, key ? NULL : err ? err : "api_key_cmd failed", k->udata);
	free(err);
}

struct keycmd *keycmd_start(struct engine *e, const struct config_endpoint *ep, keycmd_cb cb,
                            void *udata, char **err)
{
	struct keycmd *k;
	struct child_opts o;
	char *argv[4], *cerr = NULL;

	if (!ep || !ep->api_key_cmd || !cb) {
		util_set_err(err, "no api_key_cmd");
		return NULL;
	}
	if (!(k = calloc(1, sizeof *k))) {
		util_set_err(err, "out of memory");
		return NULL;
	}
	k->ep = ep;
	k->cb = cb;
	k->udata = udata;
	k->started = util_now_ms();
	config_key_cmd_opts(ep, argv, &o);
	o.on_output = on_output;
	o.on_exit = on_exit_cb;
	o.udata = k;
	k->running = 1;
	if (!(k->c = child_spawn(e, &o, &cerr))) {
		util_set_err(err, "api_key_cmd for endpoint \"%s\": %s", ep->name ? ep->name : "",
		             cerr ? cerr : "cannot run it");
		free(cerr);
		free(k);
		return NULL;
	}
	return k;
}

int keycmd_running(const struct keycmd *k)
{
	return k && k->running;
}

int64_t keycmd_started(const struct keycmd *k)
{
	return k ? k->started : 0;
}

void keycmd_free(struct keycmd *k)
{
	if (!k)
		return;
	child_free(k->c);
	explicit_bzero(k->buf, sizeof k->buf);
	free(k);
}
