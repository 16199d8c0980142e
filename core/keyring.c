/*
 * keyring.c: the keys a driving process holds and their locks (see
 * keyring.h). Two small tables: the keys (fingerprint, key, lock held) and
 * the key commands, one per endpoint that has an api_key_cmd, each with its
 * state: running, ready (its fingerprint) or failed (why).
 */
#include "keyring.h"

#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "config.h"
#include "engine.h"
#include "keycmd.h"
#include "store.h"
#include "util.h"

struct kent {
	char fp[KEYFP_LEN];
	char *key;
	int locked;
	int refused;                /* another process held its lock ... */
	unsigned long refused_pass; /* ... at this engine pass */
};

enum { KW_RUNNING, KW_READY, KW_FAILED };

struct kwait {
	struct keyring *kr;
	const struct config_endpoint *ep; /* the config's */
	struct keycmd *kc;                /* while KW_RUNNING */
	int state;
	char fp[KEYFP_LEN]; /* KW_READY */
	char *err;          /* KW_FAILED: why */
	int told;           /* KW_FAILED: a submit was told why */
};

struct keyring {
	struct engine *e;
	struct config *cfg;
	struct store *st;
	keyring_cb cb;
	void *udata;
	struct kent *keys;
	size_t nkeys;
	struct kwait **kwaits;
	size_t nkwaits;
	int learned;
};

struct keyring *keyring_new(struct engine *e, struct config *cfg, struct store *st, keyring_cb cb,
                            void *udata)
{
	struct keyring *kr = calloc(1, sizeof *kr);
	if (!kr)
		return NULL;
	kr->e = e;
	kr->cfg = cfg;
	kr->st = st;
	kr->cb = cb;
	kr->udata = udata;
	return kr;
}

void keyring_free(struct keyring *kr)
{
	if (!kr)
		return;
	for (size_t i = 0; i < kr->nkwaits; i++) {
		keycmd_free(kr->kwaits[i]->kc); /* its process group is killed */
		free(kr->kwaits[i]->err);
		free(kr->kwaits[i]);
	}
	free(kr->kwaits);
	for (size_t i = 0; i < kr->nkeys; i++)
		config_key_free(kr->keys[i].key);
	free(kr->keys);
	free(kr);
}

static struct kent *key_find(const struct keyring *kr, const char *fp)
{
	for (size_t i = 0; fp && i < kr->nkeys; i++)
		if (strcmp(kr->keys[i].fp, fp) == 0)
			return &kr->keys[i];
	return NULL;
}

int keyring_add(struct keyring *kr, const char *key, char fp_out[KEYFP_LEN])
{
	char fp[KEYFP_LEN];
	struct kent *k, *nk;

	keyfp_of(key, fp);
	if (fp_out)
		memcpy(fp_out, fp, KEYFP_LEN);
	if (key_find(kr, fp))
		return 0;
	nk = realloc(kr->keys, (kr->nkeys + 1) * sizeof *nk);
	if (!nk)
		return -1;
	kr->keys = nk;
	k = &nk[kr->nkeys];
	memset(k, 0, sizeof *k);
	memcpy(k->fp, fp, KEYFP_LEN);
	if (!(k->key = strdup(key)))
		return -1;
	kr->nkeys++;
	return 0;
}

const char *keyring_key(const struct keyring *kr, const char *fp)
{
	struct kent *k = kr ? key_find(kr, fp) : NULL;
	return k ? k->key : NULL;
}

/* ---------- key commands ---------- */

static struct kwait *kwait_find(const struct keyring *kr, const struct config_endpoint *ep)
{
	for (size_t i = 0; i < kr->nkwaits; i++)
		if (kr->kwaits[i]->ep == ep)
			return kr->kwaits[i];
	return NULL;
}

static const char *ep_shown(const struct config_endpoint *ep)
{
	return ep->name ? ep->name : "default";
}

/* A key command ended: its key joins the ring, and the owner hears it (the
 * engine then tries that key's lock at once, so its jobs are claimed). */
static void kwait_done(struct keycmd *k, char *key, const char *err, void *udata)
{
	struct kwait *kw = udata;
	struct keyring *kr = kw->kr;

	keycmd_free(k);
	kw->kc = NULL;
	if (key && keyring_add(kr, key, kw->fp) == 0) {
		kw->state = KW_READY;
	} else {
		kw->state = KW_FAILED;
		kw->told = 0;
		free(kw->err);
		kw->err = strdup(key ? "out of memory" : err);
	}
	config_key_free(key);
	if (kr->cb)
		kr->cb(kw->ep, kw->state == KW_READY, kw->fp,
		       kw->err ? kw->err : "out of memory", kr->udata);
}

int keyring_endpoint(struct keyring *kr, const struct config_endpoint *ep, int retry,
                     char fp[KEYFP_LEN], char **err)
{
	struct kwait *kw, **nk;
	char *key, *kerr = NULL;

	if (!ep->api_key_cmd) {
		if (!(key = config_api_key(ep, err)))
			return -1;
		if (keyring_add(kr, key, fp) < 0) {
			config_key_free(key);
			util_set_err(err, "out of memory");
			return -1;
		}
		config_key_free(key);
		return 1;
	}
	if (!(kw = kwait_find(kr, ep))) {
		if (!(kw = calloc(1, sizeof *kw)) ||
		    !(nk = realloc(kr->kwaits, (kr->nkwaits + 1) * sizeof *nk))) {
			free(kw);
			util_set_err(err, "out of memory");
			return -1;
		}
		kr->kwaits = nk;
		nk[kr->nkwaits++] = kw;
		kw->kr = kr;
		kw->ep = ep;
		kw->state = KW_FAILED; /* not started yet (no err) */
		kw->told = 1;
	}
	if (kw->state == KW_READY) {
		memcpy(fp, kw->fp, KEYFP_LEN);
		return 1;
	}
	/* a failure is said once to a submit (retry); the next one runs the
	 * command again (the user may have unlocked their password store) */
	if (kw->state == KW_FAILED && (!retry || !kw->told) && kw->err) {
		util_set_err(err, "%s", kw->err);
		kw->told |= retry;
		return -1;
	}
	if (kw->state == KW_FAILED) {
		if (!(kw->kc = keycmd_start(kr->e, ep, kwait_done, kw, &kerr))) {
			free(kw->err);
			kw->err = kerr;
			util_set_err(err, "%s", kerr ? kerr : "api_key_cmd failed");
			return -1;
		}
		kw->state = KW_RUNNING;
		engine_message(kr->e, 0, "waiting for the key command of endpoint %s",
		               ep_shown(ep));
	}
	util_set_err(err,
	             "waiting for the key command of endpoint %s (api_key_cmd, running for %lld "
	             "s; its time limit is %d s)",
	             ep_shown(ep), (long long)((util_now_ms() - keycmd_started(kw->kc)) / 1000),
	             config_key_cmd_timeout(ep) / 1000);
	return 0;
}

int keyring_pending(const struct keyring *kr, const struct config_endpoint *ep)
{
	struct kwait *kw = kr && ep ? kwait_find(kr, ep) : NULL;
	return kw && kw->state == KW_RUNNING;
}

int keyring_pending_count(const struct keyring *kr)
{
	int n = 0;
	for (size_t i = 0; kr && i < kr->nkwaits; i++)
		n += kr->kwaits[i]->state == KW_RUNNING;
	return n;
}

void keyring_learn(struct keyring *kr)
{
	struct config_endpoint dflt;
	char fp[KEYFP_LEN], *key;

	if (kr->learned)
		return;
	kr->learned = 1;
	for (size_t i = 0; i < kr->cfg->n_endpoints; i++) {
		const struct config_endpoint *ep = &kr->cfg->endpoints[i];
		if (ep->kind != CONFIG_RUNPOD ||
		    strcmp(config_endpoint_api(ep), "runpod-local") == 0)
			continue;
		keyring_endpoint(kr, ep, 0, fp, NULL);
	}
	memset(&dflt, 0, sizeof dflt);
	dflt.kind = CONFIG_RUNPOD;
	if ((key = config_api_key(&dflt, NULL))) {
		keyring_add(kr, key, NULL);
		config_key_free(key);
	}
}

/* ---------- the locks ---------- */

int keyring_lock_all(struct keyring *kr)
{
	int n = 0;
	for (size_t i = 0; i < kr->nkeys; i++) {
		if (kr->keys[i].locked)
			continue;
		if (store_lock_key(kr->st, kr->keys[i].fp, NULL) == 1) {
			kr->keys[i].locked = 1;
			n++;
		}
	}
	return n;
}

void keyring_unlock_all(struct keyring *kr)
{
	for (size_t i = 0; kr && i < kr->nkeys; i++) {
		if (kr->keys[i].locked)
			store_unlock_key(kr->st, kr->keys[i].fp);
		kr->keys[i].locked = 0;
	}
}

int keyring_holds(const struct keyring *kr, const char *fp)
{
	struct kent *k = kr ? key_find(kr, fp) : NULL;
	return k && k->locked;
}

int keyring_claim(struct keyring *kr, const char *fp)
{
	struct kent *k;

	if (!fp)
		return 0;
	if (!key_find(kr, fp))
		keyring_learn(kr);
	if (!(k = key_find(kr, fp)))
		return 0;
	if (k->locked)
		return 1;
	/* a refused try costs a few ms (the lock's retries): within a pass the
	 * answer is the same, so many jobs of one key (a scan of the store, a
	 * group's submit) pay it once */
	if (k->refused && kr->e && k->refused_pass == engine_passes(kr->e))
		return 0;
	if (store_lock_key(kr->st, k->fp, NULL) == 1) {
		k->locked = 1;
		k->refused = 0;
	} else {
		k->refused = 1;
		k->refused_pass = kr->e ? engine_passes(kr->e) : 0;
	}
	return k->locked;
}
