/*
 * vary.c: one submit that stands for several jobs, expanded (see vary.h).
 *
 * The prompt and the negative prompt are parsed once into segments: literal
 * text (escapes already removed) and groups, each group an axis whose values
 * are its alternatives. --vary and --seeds add axes of their own. Job i is
 * the mixed-radix number i over the axes' lengths, the last axis fastest.
 */
#include "vary.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "params.h"
#include "util.h"

/* The most decimals a range's numbers may have (kept exact as integers). */
#define RANGE_DECIMALS_MAX 6

enum axis_kind {
	AX_GROUP, /* an {a|b} group of the prompt or the negative prompt */
	AX_STEPS,
	AX_CFG,
	AX_WIDTH,
	AX_HEIGHT,
	AX_COUNT,
	AX_SEED,
	AX_SAMPLER,
	AX_TEMPLATE,
	AX_SET, /* any other key: a --set key */
};

struct axis {
	enum axis_kind kind;
	char *key;
	char **values;
	size_t n;
};

/* A piece of a parsed prompt: literal text, or group g (an index into its
 * text's axes) when text is NULL. */
struct seg {
	char *text;
	size_t g;
};

/* A parsed prompt: its segments and its groups' axes. */
struct ptext {
	int set; /* vary_set_* was called with a non-NULL text */
	struct seg *segs;
	size_t nsegs;
	struct axis *axes;
	size_t naxes;
};

struct vary {
	struct ptext prompt, negative;
	struct axis *vx; /* --vary axes, then --seeds last */
	size_t nvx;
	int seeds_last; /* vx[nvx - 1] comes from --seeds */
};

static const struct {
	const char *name;
	enum axis_kind kind;
} keys[] = {
    {"steps", AX_STEPS},   {"cfg", AX_CFG},         {"width", AX_WIDTH},
    {"height", AX_HEIGHT}, {"count", AX_COUNT},     {"seed", AX_SEED},
    {"sampler", AX_SAMPLER}, {"template", AX_TEMPLATE},
};

static void axis_clear(struct axis *a)
{
	for (size_t k = 0; k < a->n; k++)
		free(a->values[k]);
	free(a->values);
	free(a->key);
	memset(a, 0, sizeof *a);
}

static void ptext_clear(struct ptext *t)
{
	for (size_t i = 0; i < t->nsegs; i++)
		free(t->segs[i].text);
	free(t->segs);
	for (size_t i = 0; i < t->naxes; i++)
		axis_clear(&t->axes[i]);
	free(t->axes);
	memset(t, 0, sizeof *t);
}

struct vary *vary_new(void)
{
	return calloc(1, sizeof(struct vary));
}

void vary_free(struct vary *v)
{
	if (!v)
		return;
	ptext_clear(&v->prompt);
	ptext_clear(&v->negative);
	for (size_t i = 0; i < v->nvx; i++)
		axis_clear(&v->vx[i]);
	free(v->vx);
	free(v);
}

/* ---- the axes in order ---- */

size_t vary_naxes(const struct vary *v)
{
	return v->prompt.naxes + v->negative.naxes + v->nvx;
}

static const struct axis *axis_at(const struct vary *v, size_t a)
{
	if (a < v->prompt.naxes)
		return &v->prompt.axes[a];
	a -= v->prompt.naxes;
	if (a < v->negative.naxes)
		return &v->negative.axes[a];
	a -= v->negative.naxes;
	return a < v->nvx ? &v->vx[a] : NULL;
}

/* The product of the axes' lengths, with `extra` in place of the lengths of
 * the axes of `skip` (a text about to be replaced; NULL: none) times
 * `more`; VARY_MAX_JOBS + 1 once it passes the cap. */
static size_t product(const struct vary *v, const struct ptext *skip, size_t more)
{
	size_t n = more ? more : 1;
	for (size_t a = 0; a < vary_naxes(v); a++) {
		const struct axis *x = axis_at(v, a);
		if (skip && x >= skip->axes && x < skip->axes + skip->naxes)
			continue;
		if (x->n && n > VARY_MAX_JOBS / x->n)
			return VARY_MAX_JOBS + 1;
		n *= x->n ? x->n : 1;
	}
	return n > VARY_MAX_JOBS ? VARY_MAX_JOBS + 1 : n;
}

size_t vary_count(const struct vary *v)
{
	return product(v, NULL, 0);
}

const char *vary_axis_key(const struct vary *v, size_t a)
{
	const struct axis *x = axis_at(v, a);
	return x ? x->key : NULL;
}

size_t vary_axis_len(const struct vary *v, size_t a)
{
	const struct axis *x = axis_at(v, a);
	return x ? x->n : 0;
}

const char *vary_axis_value(const struct vary *v, size_t a, size_t k)
{
	const struct axis *x = axis_at(v, a);
	return x && k < x->n ? x->values[k] : NULL;
}

size_t vary_index(const struct vary *v, size_t i, size_t a)
{
	size_t stride = 1, na = vary_naxes(v);
	const struct axis *x = axis_at(v, a);

	if (!x || !x->n)
		return 0;
	for (size_t b = a + 1; b < na; b++)
		stride *= axis_at(v, b)->n;
	return (i / stride) % x->n;
}

/* Append a copy of the n bytes at s to *vals (*n of them). 0 or -1. */
static int push_value(char ***vals, size_t *n, const char *s, size_t len)
{
	char **nv = realloc(*vals, (*n + 1) * sizeof *nv);
	if (!nv)
		return -1;
	*vals = nv;
	if (!(nv[*n] = strndup(s, len)))
		return -1;
	(*n)++;
	return 0;
}

/* ---- prompts ---- */

static int is_escape(const char *s)
{
	return s[0] == '\\' && (s[1] == '{' || s[1] == '|' || s[1] == '}');
}

/* Unescape s[0..len) (\{ \| \} -> the character) into b. */
static void put_unescaped(struct util_buf *b, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (i + 1 < len && is_escape(s + i))
			i++;
		util_buf_put(b, s + i, 1);
	}
}

static int push_seg(struct ptext *t, char *text, size_t g)
{
	struct seg *ns = realloc(t->segs, (t->nsegs + 1) * sizeof *ns);
	if (!ns)
		return -1;
	t->segs = ns;
	ns[t->nsegs].text = text;
	ns[t->nsegs].g = g;
	t->nsegs++;
	return 0;
}

/* End the literal run in *lit as a segment (nothing when empty). */
static int flush_lit(struct ptext *t, struct util_buf *lit)
{
	if (lit->oom)
		return -1;
	if (!lit->len)
		return 0;
	if (push_seg(t, lit->p, 0) < 0)
		return -1;
	memset(lit, 0, sizeof *lit);
	return 0;
}

/* Parse s into t (empty on entry). what names the text in messages; axes
 * are keyed "<keyname>{N}". 0, or -1 with *err. */
static int parse_text(const char *s, const char *what, const char *keyname, struct ptext *t,
                      char **err)
{
	struct util_buf lit = {0};
	size_t len = strlen(s);

	t->set = 1;
	for (size_t i = 0; i < len; i++) {
		size_t close, nbar = 0;
		if (i + 1 < len && is_escape(s + i)) {
			util_buf_put(&lit, s + i + 1, 1);
			i++;
			continue;
		}
		if (s[i] == '}') {
			util_set_err(err, "%s: the '}' at byte %zu closes no group (write \\} for a "
			                  "literal brace)", what, i);
			goto fail;
		}
		if (s[i] != '{') {
			util_buf_put(&lit, s + i, 1);
			continue;
		}
		for (close = i + 1; close < len; close++) {
			if (close + 1 < len && is_escape(s + close)) {
				close++;
				continue;
			}
			if (s[close] == '{') {
				util_set_err(err, "%s: a '{' at byte %zu inside the group that opens "
				                  "at byte %zu: groups cannot be nested (write \\{ for "
				                  "a literal brace)", what, close, i);
				goto fail;
			}
			if (s[close] == '}')
				break;
			nbar += s[close] == '|';
		}
		if (close >= len) {
			util_set_err(err, "%s: the '{' at byte %zu is never closed (write \\{ for a "
			                  "literal brace)", what, i);
			goto fail;
		}
		if (nbar == 0) { /* "{word}": not a group, kept as typed */
			util_buf_put(&lit, "{", 1);
			put_unescaped(&lit, s + i + 1, close - i - 1);
			util_buf_put(&lit, "}", 1);
			i = close;
			continue;
		}
		/* a group: one axis, its alternatives unescaped */
		struct axis *na = realloc(t->axes, (t->naxes + 1) * sizeof *na);
		if (!na || flush_lit(t, &lit) < 0)
			goto oom;
		t->axes = na;
		memset(&na[t->naxes], 0, sizeof *na);
		struct axis *x = &na[t->naxes++];
		x->kind = AX_GROUP;
		if (!(x->key = util_asprintf("%s{%zu}", keyname, t->naxes)))
			goto oom;
		size_t from = i + 1;
		for (size_t k = i + 1; k <= close; k++) {
			if (k < close && k + 1 < close && is_escape(s + k)) {
				k++;
				continue;
			}
			if (k == close || s[k] == '|') {
				struct util_buf alt = {0};
				put_unescaped(&alt, s + from, k - from);
				if (alt.oom || push_value(&x->values, &x->n, alt.p ? alt.p : "",
				                          alt.len) < 0) {
					free(alt.p);
					goto oom;
				}
				free(alt.p);
				from = k + 1;
			}
		}
		if (push_seg(t, NULL, t->naxes - 1) < 0)
			goto oom;
		i = close;
	}
	if (flush_lit(t, &lit) < 0)
		goto oom;
	return 0;
oom:
	util_set_err(err, "out of memory");
fail:
	free(lit.p);
	ptext_clear(t);
	return -1;
}

static int set_text(struct vary *v, struct ptext *slot, const char *s, const char *what,
                    const char *keyname, char **err)
{
	struct ptext t;
	struct ptext old = *slot;

	memset(&t, 0, sizeof t);
	if (s && parse_text(s, what, keyname, &t, err) < 0)
		return -1;
	/* the count with t in place of the old text */
	*slot = t;
	size_t n = product(v, NULL, 0);
	if (n > VARY_MAX_JOBS) {
		*slot = old;
		ptext_clear(&t);
		util_set_err(err, "%s: more than %d jobs in one submit", what, VARY_MAX_JOBS);
		return -1;
	}
	ptext_clear(&old);
	return 0;
}

int vary_set_prompt(struct vary *v, const char *prompt, char **err)
{
	return set_text(v, &v->prompt, prompt, "the prompt", "prompt", err);
}

int vary_set_negative(struct vary *v, const char *negative, char **err)
{
	return set_text(v, &v->negative, negative, "the negative prompt", "negative", err);
}

size_t vary_prompt_count(const char *prompt, const char *negative, char **err)
{
	struct vary *v = vary_new();
	size_t n = 0;

	if (!v) {
		util_set_err(err, "out of memory");
		return 0;
	}
	if (vary_set_prompt(v, prompt, err) == 0 && vary_set_negative(v, negative, err) == 0)
		n = vary_count(v);
	vary_free(v);
	return n;
}

/* ---- --vary and --seeds ---- */

/* A decimal number >= 0 with at most RANGE_DECIMALS_MAX decimals in s[0..len)
 * as an integer scaled by 10^*dec. 0 or -1. */
static int parse_dec(const char *s, size_t len, unsigned long long *m, int *dec)
{
	unsigned long long v = 0;
	int d = -1, digits = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '.' && d < 0 && digits > 0) {
			d = 0;
			continue;
		}
		if (s[i] < '0' || s[i] > '9' || ++digits > 15)
			return -1;
		v = v * 10 + (unsigned long long)(s[i] - '0');
		if (d >= 0 && ++d > RANGE_DECIMALS_MAX)
			return -1;
	}
	if (!digits || d == 0)
		return -1;
	*m = v;
	*dec = d < 0 ? 0 : d;
	return 0;
}

static unsigned long long pow10u(int d)
{
	unsigned long long p = 1;
	while (d-- > 0)
		p *= 10;
	return p;
}

/* s is "A-B:S": 1 when it is (values pushed onto x), 0 when it does not have
 * that shape, -1 with *err for a bad range. */
static int expand_range(const char *s, struct axis *x, const char *key, char **err)
{
	const char *dash = strchr(s, '-'), *colon = strchr(s, ':');
	unsigned long long a, b, st, scale;
	int da, db, ds, d;

	if (!dash || !colon || colon < dash || dash == s)
		return 0;
	if (parse_dec(s, (size_t)(dash - s), &a, &da) < 0 ||
	    parse_dec(dash + 1, (size_t)(colon - dash - 1), &b, &db) < 0 ||
	    parse_dec(colon + 1, strlen(colon + 1), &st, &ds) < 0)
		return 0;
	d = da > db ? da : db;
	d = d > ds ? d : ds;
	a *= pow10u(d - da);
	b *= pow10u(d - db);
	st *= pow10u(d - ds);
	scale = pow10u(d);
	if (st == 0 || a > b) {
		util_set_err(err, "--vary %s: the range %s needs FROM <= TO and a STEP above 0",
		             key, s);
		return -1;
	}
	if ((b - a) / st + 1 > VARY_MAX_JOBS) {
		util_set_err(err, "--vary %s: the range %s has more than %d values", key, s,
		             VARY_MAX_JOBS);
		return -1;
	}
	for (unsigned long long v = a; v <= b; v += st) {
		char buf[64];
		int n = snprintf(buf, sizeof buf, "%llu", v / scale);
		if (d > 0 && v % scale) {
			n += snprintf(buf + n, sizeof buf - (size_t)n, ".%0*llu", d, v % scale);
			while (buf[n - 1] == '0')
				buf[--n] = '\0';
		}
		if (push_value(&x->values, &x->n, buf, (size_t)n) < 0) {
			util_set_err(err, "out of memory");
			return -1;
		}
	}
	return 1;
}

/* Check one value of a numeric key as submit checks the option. 0 or -1. */
static int check_value(enum axis_kind k, const char *key, const char *s, char **err)
{
	long long v;
	double d;
	char *end;

	switch (k) {
	case AX_STEPS:
		if (util_parse_ll(s, 1, 10000, &v) == 0)
			return 0;
		util_set_err(err, "--vary steps: \"%s\" is not a number from 1 to 10000", s);
		return -1;
	case AX_WIDTH:
	case AX_HEIGHT:
		if (util_parse_ll(s, 8, 16384, &v) == 0)
			return 0;
		util_set_err(err, "--vary %s: \"%s\" is not a size from 8 to 16384", key, s);
		return -1;
	case AX_COUNT:
		if (util_parse_ll(s, 1, 100, &v) == 0)
			return 0;
		util_set_err(err, "--vary count: \"%s\" is not a number from 1 to 100", s);
		return -1;
	case AX_SEED:
		if (util_parse_ll(s, 0, INT64_MAX, &v) == 0)
			return 0;
		util_set_err(err, "--vary seed: \"%s\" is not a seed (a number >= 0)", s);
		return -1;
	case AX_CFG:
		errno = 0;
		d = strtod(s, &end);
		if (*s && *s != ' ' && !*end && !errno && isfinite(d) && d >= 0 && d <= 100)
			return 0;
		util_set_err(err, "--vary cfg: \"%s\" is not a number from 0 to 100", s);
		return -1;
	case AX_TEMPLATE:
		if (params_template_name_ok(s))
			return 0;
		util_set_err(err, "--vary template: \"%s\" is not a template name", s);
		return -1;
	case AX_SAMPLER:
		if (*s)
			return 0;
		util_set_err(err, "--vary sampler: an empty name");
		return -1;
	default:
		return 0;
	}
}

/* Append axis x (taken) to v->vx before a --seeds axis, if any. */
static int push_vx(struct vary *v, struct axis *x, int is_seeds)
{
	struct axis *nv = realloc(v->vx, (v->nvx + 1) * sizeof *nv);
	if (!nv)
		return -1;
	v->vx = nv;
	if (v->seeds_last && !is_seeds) {
		nv[v->nvx] = nv[v->nvx - 1];
		nv[v->nvx - 1] = *x;
	} else {
		nv[v->nvx] = *x;
	}
	v->nvx++;
	if (is_seeds)
		v->seeds_last = 1;
	return 0;
}

static int key_varies(const struct vary *v, const char *key)
{
	for (size_t i = 0; i < v->nvx; i++)
		if (strcmp(v->vx[i].key, key) == 0)
			return 1;
	return 0;
}

int vary_add(struct vary *v, const char *kv, char **err)
{
	const char *eq = kv ? strchr(kv, '=') : NULL;
	struct axis x;
	long bad;

	memset(&x, 0, sizeof x);
	if (!eq || eq == kv || !eq[1]) {
		util_set_err(err, "--vary wants KEY=V1,V2,... (or KEY=FROM-TO:STEP)");
		return -1;
	}
	if ((bad = params_utf8_invalid_at(kv)) >= 0) {
		util_set_err(err, "--vary: not valid UTF-8 (byte %ld)", bad);
		return -1;
	}
	if (!(x.key = strndup(kv, (size_t)(eq - kv))))
		goto oom;
	for (const char *c = x.key; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == ',') {
			util_set_err(err, "--vary: a control character or ',' in the key");
			goto fail;
		}
	if (strcmp(x.key, "prompt") == 0 || strcmp(x.key, "negative") == 0 ||
	    strcmp(x.key, "negative_prompt") == 0) {
		util_set_err(err, "--vary %s: write the alternatives into the text: "
		                  "\"a {red|blue} car\"", x.key);
		goto fail;
	}
	if (key_varies(v, x.key)) {
		util_set_err(err, "--vary %s: given twice (one --vary per key%s)", x.key,
		             strcmp(x.key, "seed") == 0 ? ", and not with --seeds" : "");
		goto fail;
	}
	x.kind = AX_SET;
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (strcmp(keys[i].name, x.key) == 0)
			x.kind = keys[i].kind;
	/* the values: V1,V2 with \, for a literal comma; each may be a range
	 * A-B:S (not for names) */
	const char *s = eq + 1;
	while (s) {
		struct util_buf b = {0};
		const char *p = s;
		for (; *p && *p != ','; p++) {
			if (p[0] == '\\' && p[1] == ',')
				p++;
			util_buf_put(&b, p, 1);
		}
		if (b.oom) {
			free(b.p);
			goto oom;
		}
		if (!b.len) {
			util_set_err(err, "--vary %s: an empty value in \"%s\"", x.key, eq + 1);
			goto fail;
		}
		size_t from = x.n;
		int r = x.kind != AX_SAMPLER && x.kind != AX_TEMPLATE
		            ? expand_range(b.p, &x, x.key, err)
		            : 0;
		if (r == 0 && push_value(&x.values, &x.n, b.p, b.len) < 0) {
			free(b.p);
			goto oom;
		}
		free(b.p);
		if (r < 0)
			goto fail;
		for (size_t k = from; k < x.n; k++)
			if (check_value(x.kind, x.key, x.values[k], err) < 0)
				goto fail;
		if (x.n > VARY_MAX_JOBS) {
			util_set_err(err, "--vary %s: more than %d values", x.key, VARY_MAX_JOBS);
			goto fail;
		}
		s = *p ? p + 1 : NULL;
	}
	if (product(v, NULL, x.n) > VARY_MAX_JOBS) {
		util_set_err(err, "--vary %s: more than %d jobs in one submit", x.key,
		             VARY_MAX_JOBS);
		goto fail;
	}
	if (push_vx(v, &x, 0) < 0)
		goto oom;
	return 0;
oom:
	util_set_err(err, "out of memory");
fail:
	axis_clear(&x);
	return -1;
}

int vary_set_seeds(struct vary *v, int64_t base, long n, char **err)
{
	struct axis x;

	memset(&x, 0, sizeof x);
	if (n < 1 || n > VARY_MAX_JOBS) {
		util_set_err(err, "--seeds needs a number from 1 to %d", VARY_MAX_JOBS);
		return -1;
	}
	if (base < 0 || base > INT64_MAX - n) {
		util_set_err(err, "--seeds: the seeds from %lld on do not fit in 64 bits",
		             (long long)base);
		return -1;
	}
	if (key_varies(v, "seed")) {
		util_set_err(err, "--seeds: the seed already varies (--vary seed=...)");
		return -1;
	}
	if (product(v, NULL, (size_t)n) > VARY_MAX_JOBS) {
		util_set_err(err, "--seeds %ld: more than %d jobs in one submit", n,
		             VARY_MAX_JOBS);
		return -1;
	}
	x.kind = AX_SEED;
	if (!(x.key = strdup("seed")))
		goto oom;
	for (long k = 0; k < n; k++) {
		char buf[32];
		int len = snprintf(buf, sizeof buf, "%lld", (long long)(base + k));
		if (push_value(&x.values, &x.n, buf, (size_t)len) < 0)
			goto oom;
	}
	if (push_vx(v, &x, 1) < 0)
		goto oom;
	return 0;
oom:
	axis_clear(&x);
	util_set_err(err, "out of memory");
	return -1;
}

/* ---- one job ---- */

/* The text of t for job i (t's groups are axes first..). Malloc'd or NULL. */
static char *build_text(const struct vary *v, const struct ptext *t, size_t first, size_t i)
{
	struct util_buf b = {0};

	for (size_t s = 0; s < t->nsegs; s++) {
		const char *piece = t->segs[s].text;
		if (!piece)
			piece = t->axes[t->segs[s].g].values[vary_index(v, i, first + t->segs[s].g)];
		util_buf_put(&b, piece, strlen(piece));
	}
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p ? b.p : strdup("");
}

int vary_apply(const struct vary *v, size_t i, struct job_params *p, char **err)
{
	size_t na = vary_naxes(v), first = v->prompt.naxes + v->negative.naxes;
	char *t;

	if (v->prompt.set) {
		if (!(t = build_text(v, &v->prompt, 0, i)))
			goto oom;
		free(p->prompt);
		p->prompt = t;
	}
	if (v->negative.set) {
		if (!(t = build_text(v, &v->negative, v->prompt.naxes, i)))
			goto oom;
		free(p->negative_prompt);
		p->negative_prompt = t;
	}
	for (size_t a = first; a < na; a++) {
		const struct axis *x = axis_at(v, a);
		const char *val = x->values[vary_index(v, i, a)];
		long long n = 0;
		char *kv;
		int rc;

		if (x->kind != AX_CFG && x->kind != AX_SAMPLER && x->kind != AX_TEMPLATE &&
		    x->kind != AX_SET)
			util_parse_ll(val, 0, INT64_MAX, &n);
		switch (x->kind) {
		case AX_STEPS:
			p->steps = (int)n;
			break;
		case AX_WIDTH:
			p->width = (int)n;
			break;
		case AX_HEIGHT:
			p->height = (int)n;
			break;
		case AX_COUNT:
			p->count = (int)n;
			break;
		case AX_SEED:
			p->seed = (int64_t)n;
			break;
		case AX_CFG:
			p->cfg = strtod(val, NULL);
			p->has_cfg = 1;
			break;
		case AX_SAMPLER:
			if (job_set_str(&p->sampler, val) < 0)
				goto oom;
			break;
		case AX_TEMPLATE:
			if (job_set_str(&p->template_name, val) < 0)
				goto oom;
			break;
		default:
			if (!(kv = util_asprintf("%s=%s", x->key, val)))
				goto oom;
			rc = params_parse_set(p, kv, err);
			free(kv);
			if (rc < 0)
				return -1;
			break;
		}
	}
	return 0;
oom:
	util_set_err(err, "out of memory");
	return -1;
}

/* Value k of axis x as a JSON item: numbers raw (exactly as typed), a --set
 * value as its JSON when it is JSON, the rest strings. */
static cJSON *value_item(const struct axis *x, const char *val)
{
	cJSON *chk;

	switch (x->kind) {
	case AX_STEPS:
	case AX_CFG:
	case AX_WIDTH:
	case AX_HEIGHT:
	case AX_COUNT:
	case AX_SEED:
		return cJSON_CreateRaw(val);
	case AX_SET:
		if ((chk = cJSON_Parse(val))) {
			cJSON_Delete(chk);
			return cJSON_CreateRaw(val);
		}
		return cJSON_CreateString(val);
	default:
		return cJSON_CreateString(val);
	}
}

static char *print_free(cJSON *o, int oom)
{
	char *s = oom ? NULL : cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

char *vary_variant_json(const struct vary *v, size_t i)
{
	cJSON *o = cJSON_CreateObject();
	int oom = !o;

	for (size_t a = 0; !oom && a < vary_naxes(v); a++) {
		const struct axis *x = axis_at(v, a);
		cJSON *it = value_item(x, x->values[vary_index(v, i, a)]);
		oom = !it || !cJSON_AddItemToObject(o, x->key, it);
		if (oom)
			cJSON_Delete(it);
	}
	return print_free(o, oom);
}

char *vary_axes_json(const struct vary *v)
{
	cJSON *arr = cJSON_CreateArray();
	int oom = !arr;

	for (size_t a = 0; !oom && a < vary_naxes(v); a++) {
		const struct axis *x = axis_at(v, a);
		cJSON *o = cJSON_CreateObject(), *vals = cJSON_CreateArray();
		oom = !o || !vals || !cJSON_AddStringToObject(o, "key", x->key);
		for (size_t k = 0; !oom && k < x->n; k++) {
			cJSON *it = value_item(x, x->values[k]);
			oom = !it || !cJSON_AddItemToArray(vals, it);
			if (oom)
				cJSON_Delete(it);
		}
		if (!oom && cJSON_AddItemToObject(o, "values", vals))
			vals = NULL;
		else
			oom = 1;
		cJSON_Delete(vals);
		if (!oom && !cJSON_AddItemToArray(arr, o))
			oom = 1;
		if (oom)
			cJSON_Delete(o);
	}
	return print_free(arr, oom);
}
