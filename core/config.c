/*
 * config.c: paths (XDG), the git-config-style config file, environment
 * overrides, and reading the API key on demand.
 *
 * The parser is line based: sections "[name]" or "[name "sub"]", then
 * "key = value" lines; '#' and ';' start comments; values may be quoted with
 * \" \\ \n \t escapes. Every key is described once in the keys[] table (its
 * section, type and field), so parsing, validation and error messages that
 * list the valid keys all come from the same place.
 *
 * The API key is never kept: config_api_key() reads it from the environment,
 * a private file or a command each time, and config_key_free() wipes it.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "keyfp.h"
#include "params.h"
#include "text.h"
#include "util.h"

#define RUNPOD_API_BASE "https://api.runpod.ai/v2/"
#define DEFAULT_KEY_ENV "RUNPOD_API_KEY"
#define CONFIG_MAX_BYTES (1024 * 1024)
#define KEY_MAX CONFIG_KEY_MAX
#define KEY_CMD_TIMEOUT_MS 60000

/* Old endpoint arrays, kept until config_free so that pointers handed out by
 * config_endpoint() stay valid when a temporary endpoint grows the array. */
struct config_priv {
	struct config_endpoint **old;
	size_t n_old;
};

static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

static const char *home_dir(void)
{
	const char *h = env("HOME");
	struct passwd *pw;
	if (h)
		return h;
	pw = getpwuid(getuid());
	return pw && pw->pw_dir && *pw->pw_dir ? pw->pw_dir : NULL;
}

/* $VAR if it is an absolute path (the XDG spec ignores relative ones), else
 * ~/fallback. NULL without a home directory. */
static char *xdg_dir(const char *var, const char *fallback)
{
	const char *v = env(var), *h;
	if (v && v[0] == '/')
		return strdup(v);
	if (!(h = home_dir()))
		return NULL;
	return util_asprintf("%s/%s", h, fallback);
}

static char *config_path_from_env(void)
{
	const char *v = env("SDQ_CONFIG");
	char *d, *p;
	if (v)
		return strdup(v);
	if (!(d = xdg_dir("XDG_CONFIG_HOME", ".config")))
		return NULL;
	p = util_asprintf("%s/sdq/config", d);
	free(d);
	return p;
}

static void endpoint_clear(struct config_endpoint *ep)
{
	free(ep->name);
	free(ep->url);
	free(ep->template_name);
	free(ep->api);
	free(ep->api_key_env);
	free(ep->api_key_file);
	free(ep->api_key_cmd);
	free(ep->webhook);
	free(ep->exe);
	free(ep->model);
	free(ep->diffusion_model);
	free(ep->vae);
	free(ep->clip_l);
	free(ep->clip_g);
	free(ep->t5xxl);
	free(ep->llm);
	free(ep->extra_args);
	memset(ep, 0, sizeof *ep);
}

void config_free(struct config *cfg)
{
	struct config_priv *pv;
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n_endpoints; i++)
		endpoint_clear(&cfg->endpoints[i]);
	free(cfg->endpoints);
	if ((pv = cfg->priv)) {
		for (size_t i = 0; i < pv->n_old; i++)
			free(pv->old[i]);
		free(pv->old);
		free(pv);
	}
	free(cfg->config_path);
	free(cfg->config_dir);
	free(cfg->data_dir);
	free(cfg->db_path);
	free(cfg->images_dir);
	free(cfg->default_endpoint);
	free(cfg->graphics);
	free(cfg->notify);
	free(cfg);
}

struct config *config_new_defaults(char **err)
{
	struct config *cfg = calloc(1, sizeof *cfg);
	const char *dd;
	char *slash;

	if (!cfg) {
		util_set_err(err, "out of memory");
		return NULL;
	}
	cfg->background_driver = 1;
	cfg->sixel_colors = 256;
	if (!(cfg->graphics = strdup("auto")) || !(cfg->notify = strdup("off")))
		goto oom;
	if (!(cfg->config_path = config_path_from_env())) {
		util_set_err(
		    err, "cannot find the config file: set HOME, XDG_CONFIG_HOME or SDQ_CONFIG");
		goto fail;
	}
	if (!(cfg->config_dir = strdup(cfg->config_path)))
		goto oom;
	slash = strrchr(cfg->config_dir, '/');
	if (!slash)
		strcpy(cfg->config_dir, ".");
	else if (slash == cfg->config_dir)
		slash[1] = '\0';
	else
		*slash = '\0';

	if ((dd = env("SDQ_DATA_DIR"))) {
		cfg->data_dir = strdup(dd);
	} else {
		char *x = xdg_dir("XDG_DATA_HOME", ".local/share");
		if (!x) {
			util_set_err(err,
			             "cannot find the data directory: set HOME, XDG_DATA_HOME or "
			             "SDQ_DATA_DIR");
			goto fail;
		}
		cfg->data_dir = util_asprintf("%s/sdq", x);
		free(x);
	}
	if (!cfg->data_dir)
		goto oom;
	cfg->db_path = util_asprintf("%s/history.db", cfg->data_dir);
	cfg->images_dir = util_asprintf("%s/images", cfg->data_dir);
	if (!cfg->db_path || !cfg->images_dir)
		goto oom;
	return cfg;
oom:
	util_set_err(err, "out of memory");
fail:
	config_free(cfg);
	return NULL;
}

/* ---- the key table ---- */

enum sect { S_NONE, S_ENDPOINT, S_LOCAL, S_UI, S_CORE };

enum vtype {
	V_STR,      /* any text */
	V_PATH,     /* ~ expanded; relative to the config dir */
	V_EXE,      /* a path, or a bare name looked up on PATH */
	V_URL,      /* an endpoint id or http(s) URL, expanded */
	V_TEMPLATE, /* a template name */
	V_ENVNAME,  /* an environment variable name */
	V_BOOL,
	V_MS,       /* milliseconds, or with a unit: 500ms 30s 10m 2h */
	V_THREADS,  /* int >= 0 */
	V_COLORS,   /* 2..256 */
	V_GRAPHICS, /* auto sixel blocks none */
	V_API,      /* auto runpod runpod-local */
	V_NOTIFY,   /* off on bell osc9 osc777 */
	V_PRICE,    /* a price per second >= 0 (sets price_set) */
};

#define EP(f) offsetof(struct config_endpoint, f)
#define CF(f) offsetof(struct config, f)

static const struct keydef {
	enum sect sect;
	const char *name;
	enum vtype type;
	size_t off;
	int key_source; /* one of api_key_env/file/cmd */
} keys[] = {
    {S_ENDPOINT, "url", V_URL, EP(url), 0},
    {S_ENDPOINT, "template", V_TEMPLATE, EP(template_name), 0},
    {S_ENDPOINT, "api_key_env", V_ENVNAME, EP(api_key_env), 1},
    {S_ENDPOINT, "api_key_file", V_PATH, EP(api_key_file), 1},
    {S_ENDPOINT, "api_key_cmd", V_STR, EP(api_key_cmd), 1},
    {S_ENDPOINT, "api_key_cmd_timeout", V_MS, EP(api_key_cmd_timeout_ms), 0},
    {S_ENDPOINT, "webhook", V_STR, EP(webhook), 0},
    {S_ENDPOINT, "execution_timeout", V_MS, EP(execution_timeout_ms), 0},
    {S_ENDPOINT, "ttl", V_MS, EP(ttl_ms), 0},
    {S_ENDPOINT, "low_priority", V_BOOL, EP(low_priority), 0},
    {S_ENDPOINT, "api", V_API, EP(api), 0},
    {S_LOCAL, "exe", V_EXE, EP(exe), 0},
    {S_LOCAL, "model", V_PATH, EP(model), 0},
    {S_LOCAL, "diffusion_model", V_PATH, EP(diffusion_model), 0},
    {S_LOCAL, "vae", V_PATH, EP(vae), 0},
    {S_LOCAL, "clip_l", V_PATH, EP(clip_l), 0},
    {S_LOCAL, "clip_g", V_PATH, EP(clip_g), 0},
    {S_LOCAL, "t5xxl", V_PATH, EP(t5xxl), 0},
    {S_LOCAL, "llm", V_PATH, EP(llm), 0},
    {S_LOCAL, "threads", V_THREADS, EP(threads), 0},
    {S_LOCAL, "extra_args", V_STR, EP(extra_args), 0},
    {S_ENDPOINT, "price_per_second", V_PRICE, EP(price_per_s), 0},
    {S_LOCAL, "price_per_second", V_PRICE, EP(price_per_s), 0},
    {S_UI, "graphics", V_GRAPHICS, CF(graphics), 0},
    {S_UI, "sixel_colors", V_COLORS, CF(sixel_colors), 0},
    {S_UI, "notify", V_NOTIFY, CF(notify), 0},
    {S_CORE, "default", V_STR, CF(default_endpoint), 0},
    {S_CORE, "background_driver", V_BOOL, CF(background_driver), 0},
};

static const char *sect_name(enum sect s)
{
	switch (s) {
	case S_ENDPOINT:
		return "endpoint";
	case S_LOCAL:
		return "local";
	case S_UI:
		return "ui";
	case S_CORE:
		return "core";
	default:
		return "";
	}
}

/* "url, template, ..." for the error message of an unknown key. */
static void valid_keys(enum sect s, char *buf, size_t len)
{
	size_t n = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		if (keys[i].sect != s)
			continue;
		int w = snprintf(buf + n, len - n, "%s%s", n ? ", " : "", keys[i].name);
		if (w < 0 || (size_t)w >= len - n)
			break;
		n += (size_t)w;
	}
}

static int parse_bool(const char *v, int *out)
{
	static const char *const t[] = {"true", "yes", "on", "1"};
	static const char *const f[] = {"false", "no", "off", "0", ""};
	for (size_t i = 0; i < 4; i++)
		if (strcasecmp(v, t[i]) == 0)
			return *out = 1, 0;
	for (size_t i = 0; i < 5; i++)
		if (strcasecmp(v, f[i]) == 0)
			return *out = 0, 0;
	return -1;
}

static int parse_ms(const char *v, long *out)
{
	char *end;
	long n, mul = 1;
	errno = 0;
	if (!isdigit((unsigned char)*v))
		return -1;
	n = strtol(v, &end, 10);
	if (errno)
		return -1;
	if (*end == '\0' || strcmp(end, "ms") == 0)
		mul = 1;
	else if (strcmp(end, "s") == 0)
		mul = 1000;
	else if (strcmp(end, "m") == 0)
		mul = 60000;
	else if (strcmp(end, "h") == 0)
		mul = 3600000;
	else
		return -1;
	if (n > LONG_MAX / mul)
		return -1;
	*out = n * mul;
	return 0;
}

static int parse_int(const char *v, long lo, long hi, int *out)
{
	long long n;
	if (util_parse_ll(v, lo, hi, &n) < 0)
		return -1;
	*out = (int)n;
	return 0;
}

static int env_name_ok(const char *v)
{
	if (!(isalpha((unsigned char)*v) || *v == '_'))
		return 0;
	for (; *v; v++)
		if (!isalnum((unsigned char)*v) && *v != '_')
			return 0;
	return 1;
}

/* An endpoint id as RunPod writes them (letters, digits, '-', '_'). */
static int endpoint_id_ok(const char *v)
{
	if (!*v)
		return 0;
	for (; *v; v++)
		if (!isalnum((unsigned char)*v) && *v != '-' && *v != '_')
			return 0;
	return 1;
}

static int is_http_url(const char *s)
{
	return strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0;
}

/* 1 if config_expand_url(u) would give a URL. */
static int url_ok(const char *u)
{
	if (is_http_url(u)) {
		const char *host = strstr(u, "//") + 2;
		if (!*host || *host == '/')
			return 0;
		for (const char *s = u; *s; s++)
			if ((unsigned char)*s <= 0x20 || *s == 0x7f)
				return 0; /* no spaces or controls in a URL */
		return 1;
	}
	return endpoint_id_ok(u);
}

char *config_expand_url(const char *u)
{
	size_t n;
	char *r;

	if (!u || !url_ok(u))
		return NULL;
	if (is_http_url(u)) {
		if (!(r = strdup(u)))
			return NULL;
		n = strlen(r);
		while (n > 8 && r[n - 1] == '/')
			r[--n] = '\0';
		return r;
	}
	return util_asprintf(RUNPOD_API_BASE "%s", u);
}

/* ~ expansion, and relative paths against the config dir (a bare name for
 * V_EXE stays a PATH lookup). */
static char *expand_path(const struct config *cfg, const char *v, int exe)
{
	const char *h;
	if (v[0] == '~' && (v[1] == '/' || v[1] == '\0')) {
		if (!(h = home_dir()))
			return NULL;
		return util_asprintf("%s%s", h, v + 1);
	}
	if (v[0] == '/' || (exe && !strchr(v, '/')) || !cfg->config_dir)
		return strdup(v);
	return util_asprintf("%s/%s", cfg->config_dir, v);
}

/* ---- the parser ---- */

struct parser {
	struct config *cfg;
	const char *name; /* file name for messages */
	int line;
	enum sect sect;
	size_t ep; /* index of the current endpoint */
	char **err;
};

__attribute__((format(printf, 2, 3))) static int perr(struct parser *ps, const char *fmt, ...)
{
	va_list ap;
	char msg[768];
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	util_set_err(ps->err, "%s:%d: %s", ps->name, ps->line, msg);
	return -1;
}

/* Grow the endpoint array by one zeroed entry; old arrays are kept when
 * keep_old (see struct config_priv). Returns the new entry or NULL. */
static struct config_endpoint *endpoint_append(struct config *cfg, int keep_old)
{
	struct config_endpoint *na = calloc(cfg->n_endpoints + 1, sizeof *na);
	struct config_priv *pv;

	if (!na)
		return NULL;
	if (cfg->n_endpoints)
		memcpy(na, cfg->endpoints, cfg->n_endpoints * sizeof *na);
	if (keep_old && cfg->endpoints) {
		struct config_endpoint **no;
		if (!(pv = cfg->priv) && !(pv = cfg->priv = calloc(1, sizeof *pv))) {
			free(na);
			return NULL;
		}
		if (!(no = realloc(pv->old, (pv->n_old + 1) * sizeof *no))) {
			free(na);
			return NULL;
		}
		pv->old = no;
		/* The old copy's strings belong to the new array now; the old
		 * block only keeps borrowed pointers readable. */
		pv->old[pv->n_old++] = cfg->endpoints;
	} else {
		free(cfg->endpoints);
	}
	cfg->endpoints = na;
	return &cfg->endpoints[cfg->n_endpoints++];
}

static struct config_endpoint *find_endpoint(struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_endpoints; i++)
		if (strcmp(cfg->endpoints[i].name, name) == 0)
			return &cfg->endpoints[i];
	return NULL;
}

/* Parse a value: leading/trailing blanks dropped, quotes, escapes, comments. */
static char *parse_value(struct parser *ps, const char *s)
{
	size_t len = strlen(s), n = 0, keep = 0;
	char *out = malloc(len + 1);
	int quoted = 0;

	if (!out) {
		perr(ps, "out of memory");
		return NULL;
	}
	while (*s == ' ' || *s == '\t')
		s++;
	for (; *s; s++) {
		if (*s == '"') {
			quoted = !quoted;
			keep = n;
			continue;
		}
		if (*s == '\\') {
			s++;
			switch (*s) {
			case '"':
			case '\\':
				out[n++] = *s;
				break;
			case 'n':
				out[n++] = '\n';
				break;
			case 't':
				out[n++] = '\t';
				break;
			case '\0':
				free(out);
				perr(ps,
				     "a backslash at the end of the line (continued lines are not "
				     "supported)");
				return NULL;
			default:
				free(out);
				perr(ps, "unknown escape \"\\%c\" (use \\\" \\\\ \\n or \\t)",
				     isprint((unsigned char)*s) ? *s : '?');
				return NULL;
			}
			keep = n;
			continue;
		}
		if (!quoted && (*s == '#' || *s == ';'))
			break;
		out[n++] = *s;
		if (quoted || (*s != ' ' && *s != '\t'))
			keep = n;
	}
	if (quoted) {
		free(out);
		perr(ps, "a quote is not closed");
		return NULL;
	}
	out[keep] = '\0';
	return out;
}

/* "[name]" or "[name "sub"]". */
static int parse_section(struct parser *ps, const char *s)
{
	const char *p = s + 1, *q;
	char name[32], *sub = NULL, *shown;
	size_t n = 0;
	enum sect sect;
	struct config_endpoint *ep;

	while (*p == ' ' || *p == '\t')
		p++;
	while (isalnum((unsigned char)*p) || *p == '_' || *p == '-') {
		if (n + 1 >= sizeof name)
			return perr(ps, "section name too long");
		name[n++] = (char)tolower((unsigned char)*p++);
	}
	name[n] = '\0';
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '"') {
		size_t m = 0;
		if (!(sub = malloc(strlen(p) + 1)))
			return perr(ps, "out of memory");
		for (p++; *p && *p != '"'; p++) {
			if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
				p++;
			if ((unsigned char)*p < 0x20 || *p == 0x7f) {
				free(sub);
				return perr(ps, "a control character in a section name");
			}
			sub[m++] = *p;
		}
		sub[m] = '\0';
		if (*p != '"') {
			free(sub);
			return perr(ps, "a quote is not closed in the section header");
		}
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
	}
	if (*p != ']') {
		free(sub);
		return perr(ps, "a section header must look like [ui] or [endpoint \"name\"]");
	}
	for (q = p + 1; *q == ' ' || *q == '\t'; q++)
		;
	if (*q && *q != '#' && *q != ';') {
		free(sub);
		return perr(ps, "text after the section header; put each key on its own line");
	}

	if (strcmp(name, "endpoint") == 0)
		sect = S_ENDPOINT;
	else if (strcmp(name, "local") == 0)
		sect = S_LOCAL;
	else if (strcmp(name, "ui") == 0)
		sect = S_UI;
	else if (strcmp(name, "core") == 0)
		sect = S_CORE;
	else {
		free(sub);
		return perr(ps,
		            "unknown section [%s] (valid: [endpoint \"NAME\"], [local \"NAME\"], "
		            "[ui], [core])",
		            name);
	}
	if (sect == S_UI || sect == S_CORE) {
		if (sub) {
			free(sub);
			return perr(ps, "[%s] takes no name", name);
		}
		ps->sect = sect;
		return 0;
	}
	if (!sub || !*sub) {
		free(sub);
		return perr(ps, "[%s] needs a name: [%s \"NAME\"]", name, name);
	}
	ep = find_endpoint(ps->cfg, sub);
	if (ep) {
		/* A repeated section continues the same endpoint (as git does). */
		if ((ep->kind == CONFIG_LOCAL) != (sect == S_LOCAL)) {
			shown = text_sanitize_str(sub, 0);
			perr(ps, "the name \"%s\" is used by an [endpoint] and a [local] section",
			     shown ? shown : "");
			free(shown);
			free(sub);
			return -1;
		}
		free(sub);
	} else {
		if (!(ep = endpoint_append(ps->cfg, 0))) {
			free(sub);
			return perr(ps, "out of memory");
		}
		ep->name = sub;
		ep->kind = sect == S_LOCAL ? CONFIG_LOCAL : CONFIG_RUNPOD;
	}
	ps->sect = sect;
	ps->ep = (size_t)(ep - ps->cfg->endpoints);
	return 0;
}

static int set_key(struct parser *ps, const struct keydef *k, const char *v)
{
	struct config *cfg = ps->cfg;
	struct config_endpoint *ep =
	    ps->sect == S_ENDPOINT || ps->sect == S_LOCAL ? &cfg->endpoints[ps->ep] : NULL;
	char *base = ep ? (char *)ep : (char *)cfg;
	char **sp = (char **)(void *)(base + k->off);
	int *ip = (int *)(void *)(base + k->off);
	long *lp = (long *)(void *)(base + k->off);
	char *nv = NULL, *shown;
	int bad = 0;

	if (k->key_source && ep) {
		const char *srcs[3] = {"api_key_env", "api_key_file", "api_key_cmd"};
		char *vals[3] = {ep->api_key_env, ep->api_key_file, ep->api_key_cmd};
		for (int i = 0; i < 3; i++)
			if (vals[i] && strcmp(srcs[i], k->name) != 0)
				return perr(ps,
				            "%s: this endpoint already has %s; set only one of "
				            "api_key_env, api_key_file, api_key_cmd",
				            k->name, srcs[i]);
	}
	switch (k->type) {
	case V_STR:
		nv = strdup(v);
		break;
	case V_PATH:
	case V_EXE:
		if (!*v)
			return perr(ps, "%s: empty path", k->name);
		if (!(nv = expand_path(cfg, v, k->type == V_EXE)))
			return perr(ps, "%s: cannot expand ~ without HOME", k->name);
		break;
	case V_URL:
		if (!(nv = config_expand_url(v)))
			bad = 1;
		break;
	case V_TEMPLATE:
		if (!params_template_name_ok(v))
			bad = 1;
		else
			nv = strdup(v);
		break;
	case V_ENVNAME:
		if (!env_name_ok(v))
			bad = 1;
		else
			nv = strdup(v);
		break;
	case V_GRAPHICS:
		if (strcmp(v, "auto") && strcmp(v, "sixel") && strcmp(v, "blocks") &&
		    strcmp(v, "none"))
			bad = 1;
		else
			nv = strdup(v);
		break;
	case V_API:
		if (strcmp(v, "auto") && strcmp(v, "runpod") && strcmp(v, "runpod-local"))
			bad = 1;
		else
			nv = strdup(v);
		break;
	case V_NOTIFY:
		if (strcmp(v, "off") && strcmp(v, "on") && strcmp(v, "bell") && strcmp(v, "osc9") &&
		    strcmp(v, "osc777"))
			bad = 1;
		else
			nv = strdup(v);
		break;
	case V_PRICE: {
		char *end;
		double d;

		errno = 0;
		d = strtod(v, &end);
		if (!ep || end == v || *end || errno || !(d >= 0 && d < 1e6))
			return perr(ps,
			            "%s: expected a price per second of execution, such as 0.00044",
			            k->name);
		ep->price_per_s = d;
		ep->price_set = 1;
		return 0;
	}
	case V_BOOL:
		return parse_bool(v, ip) == 0
		           ? 0
		           : perr(ps, "%s: expected true/false, yes/no, on/off or 1/0", k->name);
	case V_MS:
		return parse_ms(v, lp) == 0
		           ? 0
		           : perr(ps,
		                  "%s: expected milliseconds, or a number with ms, s, m or "
		                  "h",
		                  k->name);
	case V_THREADS:
		return parse_int(v, 0, 4096, ip) == 0
		           ? 0
		           : perr(ps, "%s: expected a number from 0 (sd-cli's default) to 4096",
		                  k->name);
	case V_COLORS:
		return parse_int(v, 2, 256, ip) == 0
		           ? 0
		           : perr(ps, "%s: expected a number from 2 to 256", k->name);
	}
	if (bad) {
		static const char *const why[] = {
		    [V_URL] = "an endpoint id or an http:// or https:// URL",
		    [V_TEMPLATE] = "a template name (letters, digits, - and _)",
		    [V_ENVNAME] = "an environment variable name",
		    [V_GRAPHICS] = "auto, sixel, blocks or none",
		    [V_API] = "auto, runpod or runpod-local",
		    [V_NOTIFY] = "off, on, bell, osc9 or osc777",
		};
		shown = text_sanitize_str(v, 0);
		perr(ps, "%s = \"%s\": expected %s", k->name, shown ? shown : "", why[k->type]);
		free(shown);
		return -1;
	}
	if (!nv)
		return perr(ps, "out of memory");
	free(*sp);
	*sp = nv;
	if (ep && k->off == EP(webhook))
		ep->webhook_set = 1;
	return 0;
}

static int parse_line(struct parser *ps, char *s)
{
	char key[64], *v, *shown;
	size_t n = 0;
	const struct keydef *k = NULL;
	int rc;

	while (*s == ' ' || *s == '\t')
		s++;
	if (!*s || *s == '#' || *s == ';')
		return 0;
	if (*s == '[')
		return parse_section(ps, s);
	if (!isalpha((unsigned char)*s))
		return perr(ps, "expected \"key = value\" or a [section]");
	while (isalnum((unsigned char)*s) || *s == '_' || *s == '-') {
		if (n + 1 >= sizeof key)
			return perr(ps, "key name too long");
		key[n++] = *s == '-' ? '_' : (char)tolower((unsigned char)*s);
		s++;
	}
	key[n] = '\0';
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s && *s != '=' && *s != '#' && *s != ';')
		return perr(ps, "expected \"=\" after \"%s\"", key);
	if (ps->sect == S_NONE)
		return perr(ps,
		            "\"%s\" is outside any section; put it under [endpoint \"NAME\"], "
		            "[local \"NAME\"], [ui] or [core]",
		            key);
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (keys[i].sect == ps->sect && strcmp(keys[i].name, key) == 0)
			k = &keys[i];
	if (!k) {
		char valid[512];
		if (strcmp(key, "api_key") == 0 || strcmp(key, "key") == 0)
			return perr(ps,
			            "%s: sdq never keeps the API key in its config; use "
			            "api_key_env, api_key_file or api_key_cmd",
			            key);
		valid_keys(ps->sect, valid, sizeof valid);
		if (ps->sect == S_ENDPOINT || ps->sect == S_LOCAL) {
			shown = text_sanitize_str(ps->cfg->endpoints[ps->ep].name, 0);
			perr(ps, "unknown key \"%s\" in [%s \"%s\"] (valid: %s)", key,
			     sect_name(ps->sect), shown ? shown : "", valid);
			free(shown);
			return -1;
		}
		return perr(ps, "unknown key \"%s\" in [%s] (valid: %s)", key, sect_name(ps->sect),
		            valid);
	}
	if (*s != '=') {
		/* "key" alone is true, for booleans only (as in git). */
		if (k->type != V_BOOL)
			return perr(ps, "%s needs a value: %s = ...", key, key);
		return set_key(ps, k, "true");
	}
	if (!(v = parse_value(ps, s + 1)))
		return -1;
	rc = set_key(ps, k, v);
	free(v);
	return rc;
}

/* Checks that need the whole file: every endpoint is usable. */
static int check_endpoints(struct config *cfg, const char *name, char **err)
{
	for (size_t i = 0; i < cfg->n_endpoints; i++) {
		struct config_endpoint *ep = &cfg->endpoints[i];
		char *shown = text_sanitize_str(ep->name, 0);
		int bad = 0;
		if (ep->kind == CONFIG_RUNPOD && !ep->url) {
			util_set_err(err,
			             "%s: [endpoint \"%s\"] has no url (an endpoint id or a URL)",
			             name, shown ? shown : "");
			bad = 1;
		} else if (ep->kind == CONFIG_LOCAL && !ep->model && !ep->diffusion_model) {
			util_set_err(err, "%s: [local \"%s\"] needs model or diffusion_model", name,
			             shown ? shown : "");
			bad = 1;
		}
		free(shown);
		if (bad)
			return -1;
	}
	return 0;
}

int config_parse(struct config *cfg, const char *text, const char *name, char **err)
{
	struct parser ps = {cfg, name ? name : "config", 0, S_NONE, 0, err};
	const char *p = text ? text : "";
	char *line;

	if (strncmp(p, "\xef\xbb\xbf", 3) == 0) /* a UTF-8 byte order mark */
		p += 3;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		ps.line++;
		if (!(line = strndup(p, len))) {
			util_set_err(err, "out of memory");
			return -1;
		}
		if (len && line[len - 1] == '\r')
			line[len - 1] = '\0';
		if (parse_line(&ps, line) < 0) {
			free(line);
			return -1;
		}
		free(line);
		p += len + (nl ? 1 : 0);
	}
	return check_endpoints(cfg, ps.name, err);
}

static char *read_config_file(const char *path, int *missing, char **err)
{
	char *e2 = NULL, *buf;
	size_t n;

	*missing = 0;
	if (!(buf = util_read_file(path, CONFIG_MAX_BYTES, &n, &e2))) {
		if (errno == ENOENT)
			*missing = 1;
		else
			util_set_err(err, "%s", e2);
		free(e2);
		return NULL;
	}
	if (memchr(buf, '\0', n)) {
		util_set_err(err, "%s: not a text file (it holds NUL bytes)", path);
		free(buf);
		return NULL;
	}
	return buf;
}

/* An endpoint for a URL or id given where a name was expected. */
static struct config_endpoint *add_url_endpoint(struct config *cfg, const char *name,
                                                const char *url_or_id, int keep_old)
{
	struct config_endpoint *ep;
	char *url = config_expand_url(url_or_id), *nm = strdup(name);
	const char *t = env("SDQ_TEMPLATE");
	char *tn = t ? strdup(t) : NULL;

	if (!url || !nm || (t && !tn) || !(ep = endpoint_append(cfg, keep_old))) {
		free(url);
		free(nm);
		free(tn);
		return NULL;
	}
	ep->name = nm;
	ep->kind = CONFIG_RUNPOD;
	ep->url = url;
	ep->template_name = tn;
	return ep;
}

/* A name that is a URL, or looks like a RunPod endpoint id ([a-z0-9]{8,}). */
static int looks_like_endpoint(const char *s)
{
	size_t n = 0;
	if (is_http_url(s))
		return 1;
	for (; s[n]; n++)
		if (!islower((unsigned char)s[n]) && !isdigit((unsigned char)s[n]))
			return 0;
	return n >= 8;
}

struct config *config_load(char **err)
{
	struct config *cfg = config_new_defaults(err);
	const char *e, *t;
	char *text;
	int missing;

	if (!cfg)
		return NULL;
	text = read_config_file(cfg->config_path, &missing, err);
	if (!text && !missing)
		goto fail;
	if (text) {
		int rc = config_parse(cfg, text, cfg->config_path, err);
		free(text);
		if (rc < 0)
			goto fail;
	}
	if ((t = env("SDQ_TEMPLATE")) && !params_template_name_ok(t)) {
		char *shown = text_sanitize_str(t, 0);
		util_set_err(err, "SDQ_TEMPLATE=\"%s\" is not a template name", shown ? shown : "");
		free(shown);
		goto fail;
	}
	if ((e = env("SDQ_ENDPOINT"))) {
		/* With no endpoint in the file, SDQ_ENDPOINT defines "default";
		 * otherwise it picks one by name, or names a URL/id the way
		 * --endpoint does. */
		const char *pick = e;
		if (cfg->n_endpoints == 0) {
			struct config_endpoint *ep;
			if (!url_ok(e))
				goto bad_env;
			if (!(ep = add_url_endpoint(cfg, "default", e, 0)))
				goto oom;
			if (!ep->template_name && !(ep->template_name = strdup(PARAMS_DEFAULT_TEMPLATE)))
				goto oom;
			if (!(ep->api_key_env = strdup(DEFAULT_KEY_ENV)))
				goto oom;
			pick = "default";
		} else if (!find_endpoint(cfg, e) && !(looks_like_endpoint(e) && url_ok(e))) {
			goto bad_env;
		}
		free(cfg->default_endpoint);
		if (!(cfg->default_endpoint = strdup(pick)))
			goto oom;
	}
	if ((e = env("SDQ_GRAPHICS"))) {
		if (strcmp(e, "auto") && strcmp(e, "sixel") && strcmp(e, "blocks") &&
		    strcmp(e, "none")) {
			char *shown = text_sanitize_str(e, 0);
			util_set_err(err,
			             "SDQ_GRAPHICS=\"%s\": expected auto, sixel, blocks or none",
			             shown ? shown : "");
			free(shown);
			goto fail;
		}
		free(cfg->graphics);
		if (!(cfg->graphics = strdup(e)))
			goto oom;
	}
	if (cfg->default_endpoint && !find_endpoint(cfg, cfg->default_endpoint) &&
	    !looks_like_endpoint(cfg->default_endpoint)) {
		char *shown = text_sanitize_str(cfg->default_endpoint, 0);
		util_set_err(err, "%s: [core] default = \"%s\" names no endpoint", cfg->config_path,
		             shown ? shown : "");
		free(shown);
		goto fail;
	}
	return cfg;
bad_env : {
	char *shown = text_sanitize_str(e, 0);
	util_set_err(err,
	             "SDQ_ENDPOINT=\"%s\" is neither an endpoint in %s nor an endpoint id or URL",
	             shown ? shown : "", cfg->config_path);
	free(shown);
	goto fail;
}
oom:
	util_set_err(err, "out of memory");
fail:
	config_free(cfg);
	return NULL;
}

const struct config_endpoint *config_endpoint(struct config *cfg, const char *name)
{
	struct config_endpoint *ep;
	char *url;

	if (!cfg)
		return NULL;
	if (!name) {
		if (!cfg->default_endpoint)
			return cfg->n_endpoints ? &cfg->endpoints[0] : NULL;
		name = cfg->default_endpoint;
	}
	if ((ep = find_endpoint(cfg, name)))
		return ep;
	if (!looks_like_endpoint(name) || !(url = config_expand_url(name)))
		return NULL;
	/* A URL or id of an endpoint in the file means that endpoint. */
	for (size_t i = 0; i < cfg->n_endpoints; i++) {
		if (cfg->endpoints[i].url && strcmp(cfg->endpoints[i].url, url) == 0) {
			free(url);
			return &cfg->endpoints[i];
		}
	}
	free(url);
	if ((ep = add_url_endpoint(cfg, name, name, 1)))
		ep->adhoc = 1;
	return ep;
}

enum config_ep_lookup config_endpoint_lookup(const struct config *cfg, const char *name,
                                             char **url)
{
	const struct config_endpoint *ep = NULL;
	char *u;

	if (url)
		*url = NULL;
	if (!cfg)
		return CONFIG_EP_UNKNOWN;
	if (!name || !*name) {
		name = cfg->default_endpoint;
		if (!name)
			return cfg->n_endpoints && !cfg->endpoints[0].adhoc ? CONFIG_EP_KNOWN
			                                                    : CONFIG_EP_UNKNOWN;
	}
	ep = config_endpoint_named(cfg, name);
	if (ep && !ep->adhoc)
		return CONFIG_EP_KNOWN;
	if (!looks_like_endpoint(name) || !(u = config_expand_url(name)))
		return CONFIG_EP_UNKNOWN;
	for (size_t i = 0; i < cfg->n_endpoints; i++) {
		if (!cfg->endpoints[i].adhoc && cfg->endpoints[i].url &&
		    strcmp(cfg->endpoints[i].url, u) == 0) {
			free(u);
			return CONFIG_EP_KNOWN;
		}
	}
	if (url)
		*url = u;
	else
		free(u);
	return CONFIG_EP_ADHOC;
}

/* 1 if the host of URL u is this machine (localhost, 127.x.x.x, [::1]). */
static int loopback_host(const char *u, const char **rest)
{
	const char *h = strstr(u, "//"), *end;
	size_t n;

	if (!h)
		return 0;
	h += 2;
	if (*h == '[') {
		end = strchr(h, ']');
		if (!end)
			return 0;
		*rest = end + 1;
		return (size_t)(end - h) == 4 && strncmp(h, "[::1", 4) == 0;
	}
	n = strcspn(h, ":/?#");
	*rest = h + n;
	if (n == 9 && strncasecmp(h, "localhost", 9) == 0)
		return 1;
	if (n >= 9 && strncmp(h, "127.", 4) == 0) {
		for (size_t i = 4; i < n; i++)
			if (!isdigit((unsigned char)h[i]) && h[i] != '.')
				return 0;
		return 1;
	}
	return 0;
}

const char *config_endpoint_api(const struct config_endpoint *ep)
{
	const char *rest = NULL;

	if (!ep || ep->kind != CONFIG_RUNPOD)
		return NULL;
	if (ep->api && strcmp(ep->api, "auto") != 0)
		return ep->api;
	/* runpod-python's `--rp_serve_api` listens on localhost:8000 and has no
	 * /v2/<id> path: a plain http URL of this machine with no path is it */
	if (ep->url && strncasecmp(ep->url, "http://", 7) == 0 && loopback_host(ep->url, &rest)) {
		if (*rest == ':')
			rest += strspn(rest + 1, "0123456789") + 1;
		if (!*rest || strcmp(rest, "/") == 0)
			return "runpod-local";
	}
	return "runpod";
}

/* ---- the API key ---- */

/* Trim trailing white space; refuse keys with blanks or control characters
 * inside (they would end up in an HTTP header). */
static int key_clean(char *k)
{
	size_t n = strlen(k);
	while (n && isspace((unsigned char)k[n - 1]))
		k[--n] = '\0';
	if (!n)
		return -1;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)k[i] <= 0x20 || k[i] == 0x7f)
			return -2;
	return 0;
}

static char *key_from_file(const struct config_endpoint *ep, const char *ename, char **err)
{
	int fd = open(ep->api_key_file, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char buf[KEY_MAX + 2], *nl, *key;
	size_t n = 0;
	ssize_t r;
	int c;

	if (fd < 0) {
		util_set_err(err, "api_key_file for endpoint \"%s\": cannot open %s: %s", ename,
		             ep->api_key_file, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		util_set_err(err, "api_key_file for endpoint \"%s\": %s is not a regular file",
		             ename, ep->api_key_file);
		return NULL;
	}
	if (st.st_mode & 077) {
		close(fd);
		util_set_err(err,
		             "api_key_file for endpoint \"%s\": %s is readable by others (mode "
		             "%04o); run: chmod 600 %s",
		             ename, ep->api_key_file, (unsigned)(st.st_mode & 07777),
		             ep->api_key_file);
		return NULL;
	}
	while (n < sizeof buf - 1 && (r = read(fd, buf + n, sizeof buf - 1 - n)) > 0)
		n += (size_t)r;
	close(fd);
	buf[n] = '\0';
	if ((nl = strchr(buf, '\n')))
		*nl = '\0';
	else if (n > KEY_MAX) {
		explicit_bzero(buf, sizeof buf);
		util_set_err(err,
		             "api_key_file for endpoint \"%s\": the first line of %s is longer "
		             "than %d bytes",
		             ename, ep->api_key_file, KEY_MAX);
		return NULL;
	}
	c = key_clean(buf);
	if (c < 0) {
		explicit_bzero(buf, sizeof buf);
		util_set_err(
		    err, "api_key_file for endpoint \"%s\": %s %s", ename, ep->api_key_file,
		    c == -1 ? "is empty" : "holds blanks or control characters in the key");
		return NULL;
	}
	key = strdup(buf);
	explicit_bzero(buf, sizeof buf);
	if (!key)
		util_set_err(err, "out of memory");
	return key;
}

static int key_cmd_timeout_ms = KEY_CMD_TIMEOUT_MS;

void config_set_key_cmd_timeout(int ms)
{
	key_cmd_timeout_ms = ms > 0 ? ms : KEY_CMD_TIMEOUT_MS;
}

int config_key_cmd_timeout(const struct config_endpoint *ep)
{
	if (ep && ep->api_key_cmd_timeout_ms > 0)
		return ep->api_key_cmd_timeout_ms > INT_MAX ? INT_MAX : (int)ep->api_key_cmd_timeout_ms;
	return key_cmd_timeout_ms;
}

void config_key_cmd_opts(const struct config_endpoint *ep, char *argv[4], struct child_opts *o)
{
	argv[0] = "/bin/sh";
	argv[1] = "-c";
	argv[2] = ep->api_key_cmd;
	argv[3] = NULL;
	memset(o, 0, sizeof *o);
	o->argv = argv;
	o->out = CHILD_IO_PIPE;
	o->err = CHILD_IO_NULL;
	o->timeout_ms = config_key_cmd_timeout(ep);
	o->grace_ms = 1000;
	o->secret = 1;
	o->die_with_parent = 1;
}

char *config_key_from_cmd(const struct config_endpoint *ep, char *out, size_t n, size_t total,
                          const struct child_exit *x, char **err)
{
	char *name = text_sanitize_str(ep && ep->name ? ep->name : "", 0), *nl, *key = NULL;
	int c;

	if (!name) {
		util_set_err(err, "out of memory");
		return NULL;
	}
	if (x->timed_out) {
		int t = config_key_cmd_timeout(ep);
		util_set_err(err,
		             "api_key_cmd for endpoint \"%s\" did not answer within the time "
		             "limit (%d %s; api_key_cmd_timeout): it was stopped",
		             name, t % 1000 ? t : t / 1000, t % 1000 ? "ms" : "s");
	}
	else if (total > CONFIG_KEY_CMD_OUTPUT_MAX)
		util_set_err(err, "api_key_cmd for endpoint \"%s\" printed more than 64 KiB", name);
	else if (x->signo)
		util_set_err(err, "api_key_cmd for endpoint \"%s\" was killed by a signal (%s)", name,
		             child_signal_name(x->signo));
	else if (!x->lost && x->code != 0)
		util_set_err(err,
		             "api_key_cmd for endpoint \"%s\" failed (exit status %d); run it by "
		             "hand to see why",
		             name, x->code);
	else {
		out[n < CONFIG_KEY_MAX + 1 ? n : CONFIG_KEY_MAX + 1] = '\0';
		if ((nl = strchr(out, '\n')))
			*nl = '\0';
		if (!nl && n > CONFIG_KEY_MAX)
			util_set_err(err,
			             "api_key_cmd for endpoint \"%s\": the first line is longer than "
			             "%d bytes",
			             name, CONFIG_KEY_MAX);
		else if ((c = key_clean(out)) < 0)
			util_set_err(err, "api_key_cmd for endpoint \"%s\" %s", name,
			             c == -1 ? "printed no key"
			                     : "printed blanks or control characters in the key");
		else if (!(key = strdup(out)))
			util_set_err(err, "out of memory");
	}
	free(name);
	return key;
}

/* api_key_cmd with no loop (a command's own checks): bounded by the time
 * limit, its process group killed at the end (core/child.c:child_capture). */
static char *key_from_cmd(const struct config_endpoint *ep, const char *ename, char **err)
{
	char *argv[4], *buf, *key = NULL, *cerr = NULL;
	struct child_opts o;
	struct child_exit x;
	size_t n = 0, total = 0;

	if (!(buf = malloc(CONFIG_KEY_MAX + 2))) {
		util_set_err(err, "out of memory");
		return NULL;
	}
	config_key_cmd_opts(ep, argv, &o);
	if (child_capture(&o, buf, CONFIG_KEY_MAX + 1, &n, CONFIG_KEY_CMD_OUTPUT_MAX, &total, &x,
	                  &cerr) < 0)
		util_set_err(err, "api_key_cmd for endpoint \"%s\": %s", ename,
		             cerr ? cerr : "cannot run it");
	else
		key = config_key_from_cmd(ep, buf, n, total, &x, err);
	free(cerr);
	explicit_bzero(buf, CONFIG_KEY_MAX + 2);
	free(buf);
	return key;
}

char *config_api_key(const struct config_endpoint *ep, char **err)
{
	const char *var, *v;
	char *name, *key, *path;
	int c;

	if (!ep) {
		util_set_err(err, "no endpoint");
		return NULL;
	}
	name = text_sanitize_str(ep->name, 0);
	if (!name) {
		util_set_err(err, "out of memory");
		return NULL;
	}
	if (ep->api_key_cmd)
		key = key_from_cmd(ep, name, err);
	else if (ep->api_key_file)
		key = key_from_file(ep, name, err);
	else {
		var = ep->api_key_env ? ep->api_key_env : DEFAULT_KEY_ENV;
		v = getenv(var);
		key = NULL;
		if (!v || !*v) {
			path = config_path_from_env();
			util_set_err(err,
			             "no API key for endpoint \"%s\": set %s, or api_key_file or "
			             "api_key_cmd in %s",
			             name, var, path ? path : "the config file");
			free(path);
		} else if (!(key = strdup(v))) {
			util_set_err(err, "out of memory");
		} else if ((c = key_clean(key)) < 0) {
			config_key_free(key);
			key = NULL;
			util_set_err(err, "the API key in %s %s", var,
			             c == -1 ? "is empty" : "holds blanks or control characters");
		}
	}
	free(name);
	return key;
}

const struct config_endpoint *config_endpoint_named(const struct config *cfg, const char *name)
{
	for (size_t i = 0; cfg && name && i < cfg->n_endpoints; i++)
		if (cfg->endpoints[i].name && strcmp(cfg->endpoints[i].name, name) == 0)
			return &cfg->endpoints[i];
	return NULL;
}

int config_gives_key(const struct config *cfg, const char *fp, int guess_cmd)
{
	struct config_endpoint dflt;
	char got[KEYFP_LEN];
	int found = 0;

	memset(&dflt, 0, sizeof dflt);
	dflt.kind = CONFIG_RUNPOD;
	for (size_t i = 0; i <= cfg->n_endpoints && !found; i++) {
		const struct config_endpoint *ep = i < cfg->n_endpoints ? &cfg->endpoints[i] : &dflt;
		char *key;
		if (ep->kind != CONFIG_RUNPOD ||
		    (ep != &dflt && strcmp(config_endpoint_api(ep), "runpod-local") == 0))
			continue;
		if (ep->api_key_cmd) {
			found = guess_cmd;
			continue;
		}
		if ((key = config_api_key(ep, NULL))) {
			found = strcmp(keyfp_of(key, got), fp) == 0;
			config_key_free(key);
		}
	}
	return found;
}

void config_key_free(char *key)
{
	if (!key)
		return;
	explicit_bzero(key, strlen(key));
	free(key);
}

int config_mkdirs(const char *path, int mode)
{
	char *p, *s;
	struct stat st;

	if (!path || !*path) {
		errno = ENOENT;
		return -1;
	}
	if (!(p = strdup(path)))
		return -1;
	for (s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(p, (mode_t)mode) < 0 && errno != EEXIST) {
			int e = errno;
			free(p);
			errno = e;
			return -1;
		}
		*s = c;
		if (!c)
			break;
	}
	free(p);
	if (stat(path, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}
