/*
 * jobset.c: the jobs of one submit, made, checked and recorded as one group
 * (see jobset.h).
 */
#include "jobset.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>

#include "config.h"
#include "engine.h"
#include "params.h"
#include "store.h"
#include "util.h"
#include "vary.h"

struct jobset {
	struct job_params *jobs;
	char **variants; /* NULL for a lone job */
	int64_t *ids;
	size_t n, made, done;
	char *prompt, *negative; /* as typed, for the group row */
	char *axes;              /* vary_axes_json */
	int64_t group;
};

int64_t jobset_random_seed(void)
{
	uint32_t v = 0;
	if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v)
		v = (uint32_t)util_now_ms() ^ (uint32_t)getpid() * 2654435761u;
	return (int64_t)v;
}

void jobset_free(struct jobset *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->made; i++)
		job_params_clear(&s->jobs[i]);
	for (size_t i = 0; s->variants && i < s->n; i++)
		free(s->variants[i]);
	free(s->variants);
	free(s->jobs);
	free(s->ids);
	free(s->prompt);
	free(s->negative);
	free(s->axes);
	free(s);
}

static int dup_or_null(char **to, const char *s)
{
	*to = s ? strdup(s) : NULL;
	return s && !*to ? -1 : 0;
}

struct jobset *jobset_new(const struct job_params *base, const struct vary *v, char **err)
{
	struct jobset *s = calloc(1, sizeof *s);
	size_t n = vary_count(v);
	char *e = NULL;

	if (!s || !(s->jobs = calloc(n, sizeof *s->jobs)) || !(s->ids = calloc(n, sizeof *s->ids)) ||
	    (n > 1 && !(s->variants = calloc(n, sizeof *s->variants))) ||
	    (n > 1 && !(s->axes = vary_axes_json(v))) || dup_or_null(&s->prompt, base->prompt) < 0 ||
	    dup_or_null(&s->negative, base->negative_prompt) < 0)
		goto oom;
	s->n = n;
	/* one seed for them all, unless it varies (vary_apply then sets it) */
	int64_t seed = n > 1 && base->seed < 0 ? jobset_random_seed() : base->seed;
	for (size_t i = 0; i < n; i++) {
		job_params_init(&s->jobs[i]);
		s->made = i + 1;
		if (job_params_copy(&s->jobs[i], base) < 0)
			goto oom;
		s->jobs[i].seed = seed;
		if (vary_apply(v, i, &s->jobs[i], &e) < 0) {
			char *vj = n > 1 ? vary_variant_json(v, i) : NULL;
			if (vj)
				util_set_err(err, "%s (job %zu of %zu: %s)", e ? e : "error", i + 1,
				             n, vj);
			else
				util_set_err(err, "%s", e ? e : "out of memory");
			free(vj);
			free(e);
			jobset_free(s);
			return NULL;
		}
		if (n > 1 && !(s->variants[i] = vary_variant_json(v, i)))
			goto oom;
	}
	return s;
oom:
	jobset_free(s);
	util_set_err(err, "out of memory");
	return NULL;
}

size_t jobset_count(const struct jobset *s)
{
	return s->n;
}

const struct job_params *jobset_job(const struct jobset *s, size_t i)
{
	return i < s->n ? &s->jobs[i] : NULL;
}

const char *jobset_variant(const struct jobset *s, size_t i)
{
	return s->variants && i < s->n ? s->variants[i] : NULL;
}

/* Job i's failure e (taken) as the message, naming the job among several. */
static int job_err(const struct jobset *s, size_t i, char *e, char **err)
{
	if (s->n > 1)
		util_set_err(err, "%s (job %zu of %zu: %s)", e ? e : "error", i + 1, s->n,
		             s->variants[i]);
	else
		util_set_err(err, "%s", e ? e : "error");
	free(e);
	return -1;
}

int jobset_check(const struct jobset *s, struct config *cfg, char **err)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct job_params *p = &s->jobs[i];
		const struct config_endpoint *ep = config_endpoint(cfg, p->endpoint);
		char *in, *e = NULL;

		if (!ep || ep->kind != CONFIG_RUNPOD)
			continue;
		const char *t = p->template_name && *p->template_name ? p->template_name
		                : ep->template_name                   ? ep->template_name
		                                                      : PARAMS_DEFAULT_TEMPLATE;
		if (!params_template_known(t, cfg->config_dir)) {
			char *list = params_template_list(cfg->config_dir);
			e = util_asprintf("no template \"%s\"; templates: %s", t, list ? list : "?");
			free(list);
			return job_err(s, i, e, err);
		}
		if (!(in = params_build_input(p, t, cfg->config_dir, &e))) {
			char *m = util_asprintf("template %s: %s", t, e ? e : "error");
			free(e);
			return job_err(s, i, m, err);
		}
		free(in);
	}
	return 0;
}

int jobset_submit(struct jobset *s, struct engine *e, int sync_wait_ms, char **err)
{
	if (s->n > 1 && !s->group) {
		struct store_group g;
		memset(&g, 0, sizeof g);
		g.prompt = s->prompt;
		g.negative_prompt = s->negative;
		g.axes_json = s->axes;
		g.njobs = (int)s->n;
		if (!(s->group = store_group_add(engine_store(e), &g, err)))
			return -1;
	}
	if (!sync_wait_ms && s->n - s->done > 1) {
		/* one commit for them all, and a key's driver lock tried once
		 * (engine_submit_many): a commit and a refused try per job took
		 * seconds for 1000+ jobs */
		size_t k = s->n - s->done, made = 0;
		const struct job_params **ps = calloc(k, sizeof *ps);
		const char **vs = calloc(k, sizeof *vs);
		int rc = -1;
		if (!ps || !vs) {
			util_set_err(err, "out of memory");
		} else {
			for (size_t i = 0; i < k; i++) {
				ps[i] = &s->jobs[s->done + i];
				vs[i] = jobset_variant(s, s->done + i);
			}
			rc = engine_submit_many(e, ps, vs, k, s->group, s->ids + s->done, &made, err);
			s->done += made;
		}
		free(ps);
		free(vs);
		if (rc < 0)
			return s->done < s->n && engine_key_pending(e, s->jobs[s->done].endpoint) ? 1 : -1;
		return 0;
	}
	while (s->done < s->n) {
		struct engine_submit_opts o;
		const struct job_params *p = &s->jobs[s->done];
		memset(&o, 0, sizeof o);
		o.sync_wait_ms = sync_wait_ms;
		o.group_id = s->group;
		o.variant = jobset_variant(s, s->done);
		int64_t id = engine_submit_opts(e, p, &o, err);
		if (!id)
			return engine_key_pending(e, p->endpoint) ? 1 : -1;
		s->ids[s->done++] = id;
	}
	return 0;
}

size_t jobset_submitted(const struct jobset *s)
{
	return s->done;
}

int64_t jobset_id(const struct jobset *s, size_t i)
{
	return i < s->done ? s->ids[i] : 0;
}

int64_t jobset_group(const struct jobset *s)
{
	return s->group;
}
