/*
 * view_compose.c: the compose form (see view_compose.h).
 *
 * Each field is a lineedit (lineedit.h: the dashboard's one text editor);
 * the form moves between them, recalls earlier prompts and reads the values.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include <cjson/cJSON.h>

#include "config.h"
#include "engine.h"
#include "jobset.h"
#include "text.h"
#include "util.h"
#include "vary.h"
#include "tui.h"
#include "draw.h"
#include "keys.h"
#include "lineedit.h"
#include "params.h"
#include "view_compose.h"

#define VC_LABEL 10

/* clang-format off */
enum vc_field {
	VC_PROMPT, VC_NEGATIVE, VC_SEED, VC_SEEDS, VC_STEPS, VC_CFG, VC_SAMPLER, VC_WIDTH, VC_HEIGHT,
	VC_COUNT, VC_ENDPOINT, VC_TEMPLATE, VC_NFIELDS
};
/* clang-format on */

static const struct {
	const char *label;
	const char *hint;
	int multiline;
} vc_fields[VC_NFIELDS] = {
    {"Prompt", "{a|b}: one job each; \\{ \\| \\}: the characters; Up/Down on the first/last line: earlier prompts", 1},
    {"Negative", NULL, 1},
    {"Seed", "empty or -1: random", 0},
    {"Seeds", "N: N jobs, seeds Seed, Seed+1, ...; empty: 1", 0},
    {"Steps", NULL, 0},
    {"CFG", NULL, 0},
    {"Sampler", "empty: the worker's default", 0},
    {"Width", NULL, 0},
    {"Height", NULL, 0},
    {"Count", "images per job", 0},
    {"Endpoint", "empty: the default", 0},
    {"Template", "sd15, sdxl, a1111, comfyui or a file; empty: the endpoint's", 0},
};

/* The placeholder each field fills ("seed" for Seeds too); NULL: always used. */
static const char *const vc_ph_of[VC_NFIELDS] = {
    "prompt", "negative_prompt", "seed", "seed", "steps", "cfg",
    "sampler", "width", "height", "count", NULL, NULL,
};

/* The most fields of a template's own placeholders the form shows. */
#define VC_MAX_CUSTOM 16

/* A field of a template's own placeholder {{name}} (`--set name=VALUE`).
 * Kept once made, so switching templates back keeps what was typed. */
struct vc_custom {
	char *name;
	struct lineedit *e;
	int used; /* the current template has it */
	char hint[200];
};

struct view_compose {
	struct lineedit *f[VC_NFIELDS];
	int cur;
	char *title;
	char *orig_prompt, *orig_negative;
	char **recent;
	size_t nrecent;
	long ridx; /* -1: the draft, else recent[ridx] shown */
	char *draft;
	char *extra_json; /* carried over, not editable */
	char sampler_hint[512];
	char *ep_hint;
	int truncated;
	/* the fields of the template the form would use now (vc_refresh) */
	struct config *cfg;
	char *tname;     /* its name; "" for a local endpoint (no template) */
	char *tmpl_err;  /* why its placeholders are not known, or NULL */
	char *tmpl_list; /* the templates there are, for the hint */
	char tmpl_hint[600];
	unsigned unused; /* bit i: standard field i is not in the template */
	struct vc_custom custom[VC_MAX_CUSTOM];
	size_t ncustom, nmore;
	/* the Endpoint field when it names no endpoint of the config */
	char *meant;        /* the endpoint named on the command line: as meant */
	char *ep_names;     /* the config's endpoints, "a, b" */
	char ep_warn[512];  /* beside the field */
	char ep_line[1024]; /* on the bottom line */
	char *refused;      /* why the last Ctrl-S sent nothing, until a field changes */
};

/* --- the form --- */

static void vc_setnum(struct lineedit *e, long long v, int unset_if_zero)
{
	char b[32] = "";
	if (!(unset_if_zero && v == 0))
		snprintf(b, sizeof b, "%lld", v);
	lineedit_set(e, b);
}

struct view_compose *view_compose_new(const struct job_params *p, char *const *recent,
                                      size_t nrecent, const char *title, struct config *cfg)
{
	struct view_compose *vc = calloc(1, sizeof *vc);
	if (!vc)
		return NULL;
	vc->ridx = -1;
	vc->cfg = cfg;
	vc->title = strdup(title ? title : "New job");
	if (cfg && cfg->n_endpoints) {
		/* the config's endpoints (not those named by URL or id so far) */
		struct util_buf b = {0};
		for (size_t i = 0; i < cfg->n_endpoints && b.len < 400; i++) {
			if (cfg->endpoints[i].adhoc)
				continue;
			if (b.len)
				util_buf_put(&b, ", ", 2);
			util_buf_put(&b, cfg->endpoints[i].name, strlen(cfg->endpoints[i].name));
		}
		vc->ep_names = b.oom || !b.len ? NULL : strdup(b.p);
		util_buf_put(&b, "; empty: the default", 20);
		vc->ep_hint = b.oom ? NULL : b.p;
		if (b.oom)
			free(b.p);
	}
	vc->tmpl_list = cfg ? params_template_list(cfg->config_dir) : NULL;
	for (int i = 0; i < VC_NFIELDS; i++)
		if (!(vc->f[i] = lineedit_new("", vc_fields[i].multiline))) {
			view_compose_free(vc);
			return NULL;
		}
	if (p) {
		lineedit_set(vc->f[VC_PROMPT], p->prompt);
		lineedit_set(vc->f[VC_NEGATIVE], p->negative_prompt);
		if (p->seed >= 0)
			vc_setnum(vc->f[VC_SEED], p->seed, 0);
		vc_setnum(vc->f[VC_STEPS], p->steps, 1);
		if (p->has_cfg) {
			char b[32];
			snprintf(b, sizeof b, "%g", p->cfg);
			lineedit_set(vc->f[VC_CFG], b);
		}
		vc_setnum(vc->f[VC_WIDTH], p->width, 1);
		vc_setnum(vc->f[VC_HEIGHT], p->height, 1);
		vc_setnum(vc->f[VC_COUNT], p->count, 1);
		lineedit_set(vc->f[VC_ENDPOINT], p->endpoint);
		lineedit_set(vc->f[VC_TEMPLATE], p->template_name);
		lineedit_set(vc->f[VC_SAMPLER], p->sampler);
		vc->extra_json = p->extra_json ? strdup(p->extra_json) : NULL;
	}
	vc->orig_prompt = strdup(lineedit_text(vc->f[VC_PROMPT]));
	vc->orig_negative = strdup(lineedit_text(vc->f[VC_NEGATIVE]));
	if (nrecent) {
		vc->recent = calloc(nrecent, sizeof *vc->recent);
		for (size_t i = 0; vc->recent && i < nrecent; i++)
			if (recent[i] && (vc->recent[vc->nrecent] = strdup(recent[i])))
				vc->nrecent++;
	}
	if (!vc->title || !vc->orig_prompt || !vc->orig_negative) {
		view_compose_free(vc);
		return NULL;
	}
	return vc;
}

void view_compose_free(struct view_compose *vc)
{
	if (!vc)
		return;
	for (int i = 0; i < VC_NFIELDS; i++)
		lineedit_free(vc->f[i]);
	for (size_t i = 0; i < vc->nrecent; i++)
		free(vc->recent[i]);
	free(vc->recent);
	free(vc->title);
	free(vc->orig_prompt);
	free(vc->orig_negative);
	free(vc->draft);
	free(vc->extra_json);
	free(vc->ep_hint);
	free(vc->tname);
	free(vc->tmpl_err);
	free(vc->tmpl_list);
	free(vc->meant);
	free(vc->ep_names);
	free(vc->refused);
	for (size_t i = 0; i < vc->ncustom; i++) {
		free(vc->custom[i].name);
		lineedit_free(vc->custom[i].e);
	}
	free(vc);
}

/* --- the fields of the template --- */

/* Field i: the standard ones, then the template's own (VC_NFIELDS + k). */
static struct lineedit *vc_edit(const struct view_compose *vc, int i)
{
	return i < VC_NFIELDS ? vc->f[i] : vc->custom[i - VC_NFIELDS].e;
}

/* 1 if field i is shown (a standard one always is, marked when unused). */
static int vc_shown(const struct view_compose *vc, int i)
{
	return i < VC_NFIELDS || vc->custom[i - VC_NFIELDS].used;
}

/* 1 if Tab stops at field i: it is shown and the template takes it. */
static int vc_stop(const struct view_compose *vc, int i)
{
	return i < VC_NFIELDS ? !(vc->unused & 1u << i) : vc->custom[i - VC_NFIELDS].used;
}

/* The next field Tab stops at from the current one in direction dir (+1,
 * -1), wrapping around when wrap; the current one when there is none. */
static int vc_next(const struct view_compose *vc, int dir, int wrap)
{
	int n = VC_NFIELDS + (int)vc->ncustom;
	for (int k = 1, i = vc->cur + dir; k < n; k++, i += dir) {
		if (i < 0 || i >= n) {
			if (!wrap)
				return vc->cur;
			i = (i + n) % n;
		}
		if (vc_stop(vc, i))
			return i;
	}
	return vc->cur;
}

/* Field text without the blanks around it, in b (cut to len). */
static const char *vc_word(const struct view_compose *vc, int i, char *b, size_t len)
{
	const char *t = lineedit_text(vc_edit(vc, i));
	while (*t == ' ')
		t++;
	snprintf(b, len, "%s", t);
	size_t n = strlen(b);
	while (n > 0 && (b[n - 1] == ' ' || b[n - 1] == '\n'))
		b[--n] = 0;
	return b;
}

/* A custom field for name (made once; prefilled from the extra input the
 * form opened with, as `--set name=...` gave it). NULL when there are
 * VC_MAX_CUSTOM already or on ENOMEM. */
static struct vc_custom *vc_custom_get(struct view_compose *vc, const char *name)
{
	for (size_t k = 0; k < vc->ncustom; k++)
		if (strcmp(vc->custom[k].name, name) == 0)
			return &vc->custom[k];
	if (vc->ncustom == VC_MAX_CUSTOM)
		return NULL;
	struct vc_custom *c = &vc->custom[vc->ncustom];
	memset(c, 0, sizeof *c);
	if (!(c->name = strdup(name)) || !(c->e = lineedit_new("", 0))) {
		free(c->name);
		return NULL;
	}
	cJSON *x = vc->extra_json ? cJSON_Parse(vc->extra_json) : NULL;
	cJSON *m = cJSON_GetObjectItemCaseSensitive(x, name);
	if (cJSON_IsString(m)) {
		lineedit_set(c->e, m->valuestring);
	} else if (m && !cJSON_IsNull(m)) {
		char *t = cJSON_PrintUnformatted(m);
		lineedit_set(c->e, t ? t : "");
		free(t);
	}
	cJSON_Delete(x);
	vc->ncustom++;
	return c;
}

/* Follow the template the form would use now (the Template field, else the
 * endpoint's, else the default; none for a local endpoint): mark the
 * standard fields it does not take and show a field for each of its own
 * placeholders. Cheap when the template is the same as last time. */
static void vc_refresh(struct view_compose *vc)
{
	char typed[80], epn[256];
	const char *name = vc_word(vc, VC_TEMPLATE, typed, sizeof typed);
	if (!*name) {
		const struct config_endpoint *ep =
		    !vc->cfg ? NULL
		    : *vc_word(vc, VC_ENDPOINT, epn, sizeof epn)
		        ? config_endpoint_named(vc->cfg, epn)
		        : config_endpoint(vc->cfg, NULL);
		name = ep && ep->kind == CONFIG_LOCAL ? ""
		       : ep && ep->template_name      ? ep->template_name
		                                      : PARAMS_DEFAULT_TEMPLATE;
	}
	if (vc->tname && strcmp(vc->tname, name) == 0)
		return;
	free(vc->tname);
	vc->tname = strdup(name);
	free(vc->tmpl_err);
	vc->tmpl_err = NULL;
	vc->unused = 0;
	vc->nmore = 0;
	for (size_t k = 0; k < vc->ncustom; k++)
		vc->custom[k].used = 0;
	if (!*name || !vc->tname)
		goto out; /* a local endpoint: no template, every field counts */
	struct params_placeholder *ph = NULL;
	size_t n = 0;
	if (params_placeholders(name, vc->cfg ? vc->cfg->config_dir : NULL, &ph, &n,
	                        &vc->tmpl_err) < 0)
		goto out; /* unknown for now: every field shown, the error in the hint */
	for (int i = 0; i < VC_NFIELDS; i++) {
		size_t k = 0;
		while (vc_ph_of[i] && k < n && strcmp(ph[k].name, vc_ph_of[i]) != 0)
			k++;
		if (vc_ph_of[i] && k == n)
			vc->unused |= 1u << i;
	}
	for (size_t k = 0; k < n; k++) {
		if (!ph[k].custom)
			continue;
		struct vc_custom *c = vc_custom_get(vc, ph[k].name);
		if (!c) {
			vc->nmore++;
			continue;
		}
		c->used = 1;
		char *def = ph[k].def ? text_sanitize_str(ph[k].def, 0) : NULL;
		snprintf(c->hint, sizeof c->hint, "{{%.40s}} of %.40s: %s%.60s%s", c->name, name,
		         ph[k].mode == PARAMS_PH_NEEDED    ? "needed"
		         : ph[k].mode == PARAMS_PH_OPTIONAL ? "optional"
		                                            : "empty: ",
		         def ? def : "", "; JSON or text (--set)");
		free(def);
	}
	params_placeholders_free(ph, n);
out:
	/* a field that went away is left for the template's */
	if (!vc_shown(vc, vc->cur))
		vc->cur = VC_TEMPLATE;
}

int view_compose_changed(const struct view_compose *vc)
{
	return strcmp(lineedit_text(vc->f[VC_PROMPT]), vc->orig_prompt) != 0 ||
	       strcmp(lineedit_text(vc->f[VC_NEGATIVE]), vc->orig_negative) != 0;
}

/* Recall an older (dir +1) or newer (dir -1) prompt into the prompt field. */
static void vc_recall(struct view_compose *vc, int dir)
{
	long to = vc->ridx + dir;
	if (to < -1 || to >= (long)vc->nrecent)
		return;
	struct lineedit *e = vc->f[VC_PROMPT];
	if (vc->ridx == -1) {
		free(vc->draft);
		vc->draft = strdup(lineedit_text(e));
	}
	vc->ridx = to;
	lineedit_set(e, to == -1 ? (vc->draft ? vc->draft : "") : vc->recent[to]);
}

enum view_compose_result view_compose_key(struct view_compose *vc, int code, int is_key)
{
	struct lineedit *e = vc_edit(vc, vc->cur);
	enum lineedit_result lr = lineedit_key(e, code, is_key);
	if (lr == LINEEDIT_CHANGED) {
		free(vc->refused); /* it was about what the fields held */
		vc->refused = NULL;
	}
	if (lr != LINEEDIT_IGNORED) {
		if (lineedit_truncated(e))
			vc->truncated = 1;
		vc_refresh(vc); /* the Template or Endpoint field may have changed */
		return VIEW_COMPOSE_CONTINUE;
	}
	int ctl = is_key || code < 32 || code == 127;
	switch (ctl ? keys_lookup(KEYS_COMPOSE, code) : KA_NONE) {
	case KA_SUBMIT:
		return VIEW_COMPOSE_SUBMIT;
	case KA_ESCAPE:
		return VIEW_COMPOSE_CANCEL;
	case KA_NEXT_FIELD:
		vc->cur = vc_next(vc, +1, 1);
		break;
	case KA_PREV_FIELD:
		vc->cur = vc_next(vc, -1, 1);
		break;
	case KA_NEWLINE: /* in a one-line field: the last one submits */
		if (vc_next(vc, +1, 0) == vc->cur)
			return VIEW_COMPOSE_SUBMIT;
		vc->cur = vc_next(vc, +1, 0);
		break;
	case KA_LINE_UP: /* on the first row */
		if (vc->cur == VC_PROMPT)
			vc_recall(vc, +1);
		else
			vc->cur = vc_next(vc, -1, 0);
		break;
	case KA_LINE_DOWN: /* on the last row */
		if (vc->cur == VC_PROMPT && vc->ridx >= 0)
			vc_recall(vc, -1);
		else
			vc->cur = vc_next(vc, +1, 0);
		break;
	default:
		if (!is_key && code == '\t')
			vc->cur = vc_next(vc, +1, 1);
		break;
	}
	return VIEW_COMPOSE_CONTINUE;
}

void view_compose_paste(struct view_compose *vc, const char *text, size_t n)
{
	struct lineedit *e = vc_edit(vc, vc->cur);
	lineedit_paste(e, text, n);
	free(vc->refused);
	vc->refused = NULL;
	if (lineedit_truncated(e))
		vc->truncated = 1;
	vc_refresh(vc);
}

/* --- how many jobs --- */

/* The Seeds field: 1 when empty (or the template sends no seed), else
 * 1..VARY_MAX_JOBS; 0 when it is not. */
static long vc_seeds(const struct view_compose *vc)
{
	const char *t = lineedit_text(vc->f[VC_SEEDS]);
	long long n = 0;
	while (*t == ' ')
		t++;
	if (!*t || (vc->unused & 1u << VC_SEEDS))
		return 1;
	char b[32];
	size_t len = strcspn(t, " ");
	if (len >= sizeof b || t[len + strspn(t + len, " ")])
		return 0;
	memcpy(b, t, len);
	b[len] = 0;
	return util_parse_ll(b, 1, VARY_MAX_JOBS, &n) < 0 ? 0 : (long)n;
}

size_t view_compose_count(const struct view_compose *vc, char **err)
{
	/* a negative prompt the template does not send makes no jobs */
	size_t n = vary_prompt_count(lineedit_text(vc->f[VC_PROMPT]),
	                             vc->unused & 1u << VC_NEGATIVE
	                                 ? NULL
	                                 : lineedit_text(vc->f[VC_NEGATIVE]),
	                             err);
	long seeds = vc_seeds(vc);
	if (!n)
		return 0;
	if (!seeds) {
		util_set_err(err, "Seeds: not a number from 1 to %d", VARY_MAX_JOBS);
		return 0;
	}
	if (n * (size_t)seeds > VARY_MAX_JOBS) {
		util_set_err(err, "%zu jobs: more than %d in one submit", n * (size_t)seeds,
		             VARY_MAX_JOBS);
		return 0;
	}
	return n * (size_t)seeds;
}

/* --- where the jobs go --- */

void view_compose_set_meant(struct view_compose *vc, const char *endpoint)
{
	free(vc->meant);
	vc->meant = endpoint ? strdup(endpoint) : NULL;
}

/* How the Endpoint field's word is taken (config_endpoint_lookup, as
 * `sdq submit -e` takes it): fills ep_warn (beside the field) and ep_line
 * (the bottom line) when it is not an endpoint of the config, and *url (if
 * url) with where an ADHOC one goes (malloc'd). An empty field is the
 * default, as before: KNOWN here (the engine says if there is none). */
static enum config_ep_lookup vc_endpoint(struct view_compose *vc, char **url)
{
	char b[1024], *u = NULL;
	const char *w = vc_word(vc, VC_ENDPOINT, b, sizeof b);
	enum config_ep_lookup k;
	vc->ep_warn[0] = vc->ep_line[0] = 0;
	if (url)
		*url = NULL;
	if (!vc->cfg || !*w || (vc->meant && strcmp(w, vc->meant) == 0))
		return CONFIG_EP_KNOWN;
	k = config_endpoint_lookup(vc->cfg, w, &u);
	if (k == CONFIG_EP_KNOWN)
		return k;
	char *sw = text_sanitize_str(w, 0), *su = u ? text_sanitize_str(u, 0) : NULL;
	int is_url = strncmp(w, "http://", 7) == 0 || strncmp(w, "https://", 8) == 0;
	if (k == CONFIG_EP_ADHOC) {
		snprintf(vc->ep_warn, sizeof vc->ep_warn,
		         is_url ? "not in the config: will be sent to the URL '%.200s'"
		                : "not in the config: will be sent to RunPod endpoint id '%.200s'",
		         sw ? sw : "?");
		snprintf(vc->ep_line, sizeof vc->ep_line,
		         "Endpoint %.200s is not in the config (%.200s): Ctrl-S asks before sending "
		         "to %.250s",
		         sw ? sw : "?", vc->ep_names ? vc->ep_names : "none", su ? su : "?");
	} else {
		snprintf(vc->ep_warn, sizeof vc->ep_warn,
		         "error: no endpoint '%.200s' in the config (%.200s)", sw ? sw : "?",
		         vc->ep_names ? vc->ep_names : "none");
	}
	free(sw);
	free(su);
	if (url)
		*url = u;
	else
		free(u);
	return k;
}

/* --- drawing --- */

/* The sampler field's hint: the names the template's worker takes (the
 * template typed, else the default one's), or that it takes any name. */
static const char *vc_sampler_hint(struct view_compose *vc)
{
	const char *t = lineedit_text(vc->f[VC_TEMPLATE]);
	while (*t == ' ')
		t++;
	const char *tname = *t ? t : PARAMS_DEFAULT_TEMPLATE;
	const char *const *names = params_sampler_names(tname);
	if (!names) {
		snprintf(vc->sampler_hint, sizeof vc->sampler_hint,
		         "any name (template %.64s has no list); empty: its default", tname);
		return vc->sampler_hint;
	}
	size_t o = (size_t)snprintf(vc->sampler_hint, sizeof vc->sampler_hint,
	                            "%s%.64s: ", *t ? "" : "default template ", tname);
	for (size_t i = 0; names[i] && o < sizeof vc->sampler_hint; i++)
		o += (size_t)snprintf(vc->sampler_hint + o, sizeof vc->sampler_hint - o, "%s%s",
		                      i ? ", " : "", names[i]);
	return vc->sampler_hint;
}

/* The template field's hint: the templates there are and which one an
 * empty field means, or why the one named cannot be read. */
static const char *vc_template_hint(struct view_compose *vc)
{
	if (vc->tmpl_err) {
		char *e = text_sanitize_str(vc->tmpl_err, 0);
		snprintf(vc->tmpl_hint, sizeof vc->tmpl_hint, "error: %s", e ? e : "?");
		free(e);
	} else {
		char b[8];
		int typed = *vc_word(vc, VC_TEMPLATE, b, sizeof b) != 0;
		snprintf(vc->tmpl_hint, sizeof vc->tmpl_hint, "%s%s%s%.64s%s",
		         vc->tmpl_list ? vc->tmpl_list : "sd15, sdxl, a1111, comfyui",
		         vc->nmore ? " (more own fields than the form shows: --set)" : "",
		         typed || !vc->tname ? "" : "; empty: the endpoint's (",
		         typed || !vc->tname ? "" : (*vc->tname ? vc->tname : "none: local"),
		         typed || !vc->tname ? "" : ")");
	}
	return vc->tmpl_hint;
}

void view_compose_draw(struct view_compose *vc, WINDOW *w, int *cy, int *cx)
{
	int h, W;
	getmaxyx(w, h, W);
	*cy = 0;
	*cx = 0;
	if (h < 4 || W < VC_LABEL + 10)
		return;
	vc_refresh(vc);
	vc_endpoint(vc, NULL);
	draw_put(w, 0, 0, W, vc->title, A_BOLD);
	int hx = (int)strlen(vc->title) + 3;
	/* the live count: how many jobs Ctrl-S makes ({a|b} groups x Seeds) */
	char *cerr = NULL, count[64];
	size_t njobs = view_compose_count(vc, &cerr);
	if (!njobs)
		snprintf(count, sizeof count, "error: no job (see below)");
	else if (njobs > VIEW_COMPOSE_CONFIRM_JOBS)
		snprintf(count, sizeof count, "%zu jobs (asks first)", njobs);
	else
		snprintf(count, sizeof count, "%zu job%s", njobs, njobs == 1 ? "" : "s");
	draw_put(w, 0, hx, W - hx, count,
	         njobs ? (njobs > 1 ? A_BOLD : draw_attr(DRAW_DIM)) : draw_attr(DRAW_ERROR) | A_BOLD);
	hx += (int)strlen(count) + 3;
	if (hx < W)
		draw_put(w, 0, hx, W - hx, "Ctrl-S submit  Tab/Shift-Tab field  Esc cancel",
		         draw_attr(DRAW_DIM));

	/* rows: 1 title, 1 blank, prompt, 1 gap, negative, 1 gap, the single
	 * ones (the template's own too), 1 gap, hint */
	int singles = VC_NFIELDS - 2;
	for (size_t k = 0; k < vc->ncustom; k++)
		singles += vc->custom[k].used;
	int spare = h - 1 - 1 - 1 - singles - 1 - 1;
	int prows = spare * 2 / 3, nrows = spare - prows;
	if (prows > 10) /* a big screen gets roomy fields, not walls of colour */
		prows = 10;
	if (nrows > 4)
		nrows = 4;
	if (prows < 1)
		prows = 1;
	if (nrows < 1)
		nrows = 1;
	int fx = VC_LABEL + 1, fw = W - fx - 1;
	int y = 2;
	for (int i = 0; i < VC_NFIELDS + (int)vc->ncustom && y < h; i++) {
		if (!vc_shown(vc, i))
			continue;
		int focused = i == vc->cur, unused = !vc_stop(vc, i);
		attr_t la = unused ? draw_attr(DRAW_DIM)
		                   : draw_attr(DRAW_TITLE) | (focused ? A_BOLD : 0);
		char label[32], uhint[160];
		snprintf(label, sizeof label, "%s%s", focused ? ">" : " ",
		         i < VC_NFIELDS ? vc_fields[i].label : vc->custom[i - VC_NFIELDS].name);
		draw_put(w, y, 0, VC_LABEL, label, la);
		if (i < VC_NFIELDS && vc_fields[i].multiline) {
			int rows = i == VC_PROMPT ? prows : nrows;
			if (y + rows > h)
				rows = h - y;
			lineedit_draw(vc->f[i], w, y, fx, fw, rows, focused, cy, cx);
			y += rows + 1;
		} else {
			int sw = fw > 24 ? 24 : fw;
			lineedit_draw(vc_edit(vc, i), w, y, fx, sw, 1, focused, cy, cx);
			const char *hint = i >= VC_NFIELDS ? vc->custom[i - VC_NFIELDS].hint
			                   : unused        ? uhint
			                   : i == VC_ENDPOINT && vc->ep_warn[0] ? vc->ep_warn
			                   : i == VC_ENDPOINT && vc->ep_hint    ? vc->ep_hint
			                   : i == VC_SAMPLER                 ? vc_sampler_hint(vc)
			                   : i == VC_TEMPLATE                ? vc_template_hint(vc)
			                                                     : vc_fields[i].hint;
			if (unused)
				snprintf(uhint, sizeof uhint, "not used: template %.64s has no {{%s}}",
				         vc->tname ? vc->tname : "?", vc_ph_of[i]);
			attr_t ha = (i == VC_TEMPLATE && vc->tmpl_err) || (i == VC_ENDPOINT && vc->ep_warn[0])
			                ? draw_attr(DRAW_ERROR)
			                : draw_attr(DRAW_DIM);
			if (hint && fx + sw + 2 < W)
				draw_put(w, y, fx + sw + 2, W - fx - sw - 3, hint, ha);
			y++;
		}
	}
	if (y < h) {
		int ml = vc->cur < VC_NFIELDS && vc_fields[vc->cur].multiline;
		const char *hint = vc->truncated     ? "error: the text is too long; it was cut"
		                   : vc->cur < VC_NFIELDS ? vc_fields[vc->cur].hint
		                                          : NULL;
		/* one message line: why Ctrl-S sent nothing, else why there is
		 * no job, else where an endpoint not in the config sends */
		if (vc->refused) {
			char b[1024];
			snprintf(b, sizeof b, "not submitted: %s", vc->refused);
			draw_put(w, h - 1, 0, W, b, draw_attr(DRAW_ERROR) | A_BOLD);
		} else if (!njobs) {
			char b[512];
			snprintf(b, sizeof b, "error: %s", cerr ? cerr : "out of memory");
			draw_put(w, h - 1, 0, W, b, draw_attr(DRAW_ERROR));
		} else if (vc->ep_line[0]) {
			draw_put(w, h - 1, 0, W, vc->ep_line, draw_attr(DRAW_ERROR));
		} else if (vc->cur == VC_PROMPT && vc->nrecent && vc->ridx >= 0) {
			char b[80];
			snprintf(b, sizeof b, "earlier prompt %ld of %zu (Down: newer)",
			         vc->ridx + 1, vc->nrecent);
			draw_put(w, h - 1, 0, W, b, draw_attr(DRAW_DIM));
		} else if (hint && ml) {
			draw_put(w, h - 1, 0, W, hint,
			         vc->truncated ? draw_attr(DRAW_ERROR) : draw_attr(DRAW_DIM));
		}
	}
	free(cerr);
}

/* --- reading the form --- */

static char *vc_trimmed(const char *s)
{
	while (*s == ' ')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\n'))
		n--;
	char *r = malloc(n + 1);
	if (r) {
		memcpy(r, s, n);
		r[n] = 0;
	}
	return r;
}

static int vc_fail(struct view_compose *vc, int field, char **err, const char *what)
{
	vc->cur = field;
	if (err) {
		size_t n = strlen(what) + strlen(vc_fields[field].label) + 8;
		*err = malloc(n);
		if (*err)
			snprintf(*err, n, "%s: %s", vc_fields[field].label, what);
	}
	return -1;
}

/* Parse field i as an integer in [lo, hi]; empty gives *v = unset. */
static int vc_int(struct view_compose *vc, int i, long long lo, long long hi, long long unset,
                  long long *v, char **err)
{
	char *t = vc_trimmed(lineedit_text(vc->f[i]));
	if (!t)
		return -1;
	if (!*t) {
		*v = unset;
		free(t);
		return 0;
	}
	long long x = 0;
	int bad = util_parse_ll(t, lo, hi, &x) < 0;
	free(t);
	if (bad)
		return vc_fail(vc, i, err, "not a number in range");
	*v = x;
	return 0;
}

int view_compose_params(struct view_compose *vc, struct job_params *out, char **err)
{
	job_params_init(out);
	long long v;
	char *prompt = vc_trimmed(lineedit_text(vc->f[VC_PROMPT]));
	if (!prompt || !*prompt) {
		free(prompt);
		return vc_fail(vc, VC_PROMPT, err, "empty; type what to generate");
	}
	out->prompt = prompt;
	char *neg = vc_trimmed(lineedit_text(vc->f[VC_NEGATIVE]));
	if (neg && *neg)
		out->negative_prompt = neg;
	else
		free(neg);
	if (vc_int(vc, VC_SEED, -1, INT64_MAX, -1, &v, err) < 0)
		goto fail;
	out->seed = v;
	if (vc_int(vc, VC_STEPS, 1, 10000, 0, &v, err) < 0)
		goto fail;
	out->steps = (int)v;
	if (vc_int(vc, VC_WIDTH, 8, 16384, 0, &v, err) < 0)
		goto fail;
	out->width = (int)v;
	if (vc_int(vc, VC_HEIGHT, 8, 16384, 0, &v, err) < 0)
		goto fail;
	out->height = (int)v;
	if (vc_int(vc, VC_COUNT, 1, 100, 0, &v, err) < 0)
		goto fail;
	out->count = (int)v;
	char *c = vc_trimmed(lineedit_text(vc->f[VC_CFG]));
	if (c && *c) {
		char *end;
		double d = strtod(c, &end);
		if (*end || d < 0 || d > 100) {
			free(c);
			vc_fail(vc, VC_CFG, err, "not a number from 0 to 100");
			goto fail;
		}
		out->cfg = d;
		out->has_cfg = 1;
	}
	free(c);
	char *ep = vc_trimmed(lineedit_text(vc->f[VC_ENDPOINT]));
	if (ep && *ep)
		out->endpoint = ep;
	else
		free(ep);
	char *tp = vc_trimmed(lineedit_text(vc->f[VC_TEMPLATE]));
	if (tp && *tp)
		out->template_name = tp;
	else
		free(tp);
	char *sm = vc_trimmed(lineedit_text(vc->f[VC_SAMPLER]));
	if (sm && *sm) {
		/* a name the template's worker does not have: say which it has */
		char *serr = NULL;
		if (out->template_name && params_sampler_check(out->template_name, sm, &serr) < 0) {
			free(sm);
			vc_fail(vc, VC_SAMPLER, err, serr ? serr : "unknown");
			free(serr);
			goto fail;
		}
		out->sampler = sm;
	} else {
		free(sm);
	}
	if (vc->extra_json)
		out->extra_json = strdup(vc->extra_json);
	/* the template's own placeholders: --set NAME=VALUE, as the CLI takes
	 * it (JSON, else text); an emptied field unsets what the form opened with */
	vc_refresh(vc);
	cJSON *x = vc->extra_json ? cJSON_Parse(vc->extra_json) : NULL;
	for (size_t k = 0; k < vc->ncustom; k++) {
		struct vc_custom *cu = &vc->custom[k];
		char *val = cu->used ? vc_trimmed(lineedit_text(cu->e)) : NULL;
		char *kv = NULL, *serr = NULL;
		if (val && (*val || cJSON_GetObjectItemCaseSensitive(x, cu->name)))
			kv = util_asprintf("%s=%s", cu->name, *val ? val : "null");
		int bad = kv && params_parse_set(out, kv, &serr) < 0;
		free(kv);
		free(val);
		if (bad) {
			vc->cur = VC_NFIELDS + (int)k;
			if (err)
				*err = util_asprintf("%s: %s", cu->name, serr ? serr : "bad value");
			free(serr);
			cJSON_Delete(x);
			goto fail;
		}
	}
	cJSON_Delete(x);
	return 0;
fail:
	job_params_clear(out);
	return -1;
}

/* --- submitting --- */

/* Where the jobs go, for the question: "endpoint gpu (https://...)". */
static void vc_where(struct config *cfg, const char *name, char *b, size_t len)
{
	const struct config_endpoint *ep = config_endpoint(cfg, name);
	if (!ep)
		snprintf(b, len, "endpoint %s", name ? name : "(default)");
	else if (ep->kind == CONFIG_LOCAL)
		snprintf(b, len, "the local sd-cli %s", ep->name);
	else if (ep->url && strcmp(ep->name, ep->url) != 0)
		snprintf(b, len, "endpoint %s (%s)", ep->name, ep->url);
	else
		snprintf(b, len, "endpoint %s", ep->url ? ep->url : ep->name);
}

enum view_compose_sent view_compose_submit(struct view_compose *vc, struct engine *e,
                                           int confirmed, int64_t *first, char **msg)
{
	struct config *cfg = engine_config(e);
	struct job_params p;
	struct vary *v = NULL;
	struct jobset *set = NULL;
	char *err = NULL;
	enum view_compose_sent r = VIEW_COMPOSE_REFUSED;
	long seeds;

	vc_refresh(vc);
	seeds = vc_seeds(vc);

	*first = 0;
	*msg = NULL;
	free(vc->refused);
	vc->refused = NULL;
	if (view_compose_params(vc, &p, msg) < 0) {
		vc->refused = *msg ? text_sanitize_str(*msg, 0) : NULL;
		return VIEW_COMPOSE_REFUSED;
	}
	/* an endpoint name not in the config is refused as sdq submit -e
	 * refuses it; a URL or RunPod id not in it is asked about below */
	char *adhoc_url = NULL;
	enum config_ep_lookup where_k = vc_endpoint(vc, &adhoc_url);
	if (where_k == CONFIG_EP_UNKNOWN) {
		char *sw = text_sanitize_str(p.endpoint ? p.endpoint : "", 0);
		char *m = util_asprintf("unknown endpoint '%s': name one from the config (%s), or "
		                        "give a URL or a RunPod endpoint id (config file: %s)",
		                        sw ? sw : "?", vc->ep_names ? vc->ep_names : "none",
		                        cfg && cfg->config_path ? cfg->config_path : "none");
		vc_fail(vc, VC_ENDPOINT, msg, m ? m : "unknown endpoint");
		free(m);
		free(sw);
		goto out;
	}
	if (vc->unused & 1u << VC_NEGATIVE) { /* kept in the field, not sent */
		free(p.negative_prompt);
		p.negative_prompt = NULL;
	}
	/* the variations, as sdq submit takes them: {a|b} groups, --seeds */
	if (!(v = vary_new())) {
		util_set_err(msg, "out of memory");
		goto out;
	}
	if (vary_set_prompt(v, p.prompt, &err) < 0) {
		vc_fail(vc, VC_PROMPT, msg, err ? err : "error");
		goto out;
	}
	if (vary_set_negative(v, p.negative_prompt, &err) < 0) {
		vc_fail(vc, VC_NEGATIVE, msg, err ? err : "error");
		goto out;
	}
	if (!seeds) {
		vc_fail(vc, VC_SEEDS, msg, "not a number from 1 to 10000");
		goto out;
	}
	if (seeds > 1) {
		if (p.seed < 0)
			p.seed = jobset_random_seed();
		if (vary_set_seeds(v, p.seed, seeds, &err) < 0) {
			vc_fail(vc, VC_SEEDS, msg, err ? err : "error");
			goto out;
		}
	}
	/* every job made and rendered before anything is recorded */
	if (!(set = jobset_new(&p, v, msg)))
		goto out;
	size_t n = jobset_count(set);
	if (where_k == CONFIG_EP_ADHOC && !confirmed) {
		/* a typo in a prefilled field must not send paid jobs elsewhere;
		 * asked before anything looks the endpoint up (config_endpoint
		 * would add it, and the header would start asking its /health) */
		char *sw = text_sanitize_str(p.endpoint, 0), *su = text_sanitize_str(adhoc_url, 0);
		int same = sw && su && strcmp(sw, su) == 0; /* a URL: named once */
		*msg = util_asprintf("Endpoint %s is not in the config (%s). Send %zu job%s to %s "
		                     "anyway? %s billed by whoever owns that endpoint.",
		                     sw ? sw : "?", vc->ep_names ? vc->ep_names : "none", n,
		                     n == 1 ? "" : "s", same ? "that URL" : su ? su : "?",
		                     n == 1 ? "It is" : "Each is a job of its own,");
		free(sw);
		free(su);
		r = *msg ? VIEW_COMPOSE_ASK : VIEW_COMPOSE_REFUSED;
		goto out;
	}
	if (jobset_check(set, cfg, msg) < 0)
		goto out;
	char where[600];
	vc_where(cfg, p.endpoint, where, sizeof where);
	if (n > VIEW_COMPOSE_CONFIRM_JOBS && !confirmed) {
		*msg = util_asprintf("Submit %zu jobs to %s? Each is a job of its own%s.", n, where,
		                     strncmp(where, "the local", 9) == 0
		                         ? ""
		                         : ", billed by the endpoint");
		r = *msg ? VIEW_COMPOSE_ASK : VIEW_COMPOSE_REFUSED;
		goto out;
	}
	int k = jobset_submit(set, e, 0, msg);
	size_t done = jobset_submitted(set);
	*first = jobset_id(set, 0);
	if (k != 0 && !done)
		goto out; /* nothing recorded: the form stays */
	if (k != 0) {
		char *m = util_asprintf("job %zu of %zu: %s (the %zu before it were submitted, "
		                        "group %lld)",
		                        done + 1, n, *msg ? *msg : "error", done,
		                        (long long)jobset_group(set));
		free(*msg);
		*msg = m;
		r = VIEW_COMPOSE_PARTIAL;
		goto out;
	}
	free(*msg);
	if (n == 1)
		*msg = util_asprintf("job %lld submitted", (long long)*first);
	else
		*msg = util_asprintf("%zu jobs submitted (jobs %lld-%lld, group %lld)", n,
		                     (long long)*first, (long long)jobset_id(set, n - 1),
		                     (long long)jobset_group(set));
	r = VIEW_COMPOSE_SENT;
out:
	if (r == VIEW_COMPOSE_REFUSED && *msg)
		vc->refused = text_sanitize_str(*msg, 0); /* the form shows it */
	free(adhoc_url);
	free(err);
	jobset_free(set);
	vary_free(v);
	job_params_clear(&p);
	return r;
}
