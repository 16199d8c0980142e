/*
 * config.h: paths, the config file, environment overrides and secrets.
 *
 * The config file ($SDQ_CONFIG, else $XDG_CONFIG_HOME/sdq/config, else
 * ~/.config/sdq/config) is git-config style:
 *
 *   [endpoint "sdxl"]             # a RunPod serverless endpoint
 *       url = abc123xyz           # an endpoint id, or a full base URL
 *       template = sdxl
 *       api_key_env = RUNPOD_API_KEY   # or api_key_file = PATH, api_key_cmd = CMD
 *       price_per_second = 0.00044     # optional: what a second of execution costs
 *   [local "gpu"]                 # stable-diffusion.cpp on this machine
 *       exe = sd-cli
 *       model = /models/sd15.safetensors
 *   [ui]
 *       graphics = auto           # auto | sixel | blocks | none
 *       notify = off              # off | on | bell | osc9 | osc777 (tui/notify.h)
 *   [core]
 *       default = sdxl
 *       background_driver = true
 *
 * With no endpoint in the file, SDQ_ENDPOINT (and RUNPOD_API_KEY) define one
 * called "default". The API key itself is never stored in struct config: it is
 * read on demand by config_api_key() and the caller wipes it after use.
 *
 * Errors: 0 / -1 (or NULL) with *err a malloc'd message naming the file and
 * line; the caller frees it.
 */
#ifndef SDQ_CONFIG_H
#define SDQ_CONFIG_H

#include <stddef.h>

enum config_kind { CONFIG_RUNPOD, CONFIG_LOCAL };

struct config_endpoint {
	char *name;
	enum config_kind kind;
	/* RunPod */
	char *url;           /* full base URL, an id already expanded */
	char *template_name; /* input template; NULL: PARAMS_DEFAULT_TEMPLATE (sdxl) */
	char *api_key_env;   /* name of an environment variable */
	char *api_key_file;  /* path of a file holding the key (mode 0600) */
	char *api_key_cmd;   /* a command whose first output line is the key */
	long api_key_cmd_timeout_ms; /* its time limit; 0: config_key_cmd_timeout() */
	int webhook_set;
	char *webhook;
	long execution_timeout_ms, ttl_ms; /* policy; 0 = unset */
	int low_priority;
	char *api; /* "auto" (or NULL), "runpod" or "runpod-local": see config_endpoint_api */
	/* local (stable-diffusion.cpp) */
	char *exe;           /* NULL: "sd-cli", falling back to "sd" on PATH */
	char *model, *diffusion_model, *vae, *clip_l, *clip_g, *t5xxl, *llm;
	int threads;         /* 0: sd-cli's default */
	char *extra_args;    /* split on white space (no shell), appended to argv */
	/* price_per_second: what a second of execution costs (any currency); a
	 * job's cost is exec_ms / 1000 * price_per_s (core/cost.h). price_set 0:
	 * no price set. */
	double price_per_s;
	int price_set;
	/* 1: added by config_endpoint for a URL or id it was given, not an
	 * endpoint of the file or SDQ_ENDPOINT (config_endpoint_lookup) */
	int adhoc;
};

struct config {
	char *config_path; /* the file read (or that would be read) */
	char *config_dir;  /* its directory: templates/ lives here */
	char *data_dir;    /* $XDG_DATA_HOME/sdq */
	char *db_path;     /* data_dir/history.db */
	char *images_dir;  /* data_dir/images */
	char *default_endpoint; /* name; NULL: the first endpoint */
	int background_driver;  /* start a detached driver when needed (default 1) */
	char *graphics;    /* "auto", "sixel", "blocks", "none" */
	int sixel_colors;  /* palette size for previews (default 256) */
	char *notify;      /* [ui] notify: "off" (default), "on", "bell", "osc9", "osc777" */
	struct config_endpoint *endpoints;
	size_t n_endpoints;
	void *priv; /* config.c's own: keeps borrowed endpoint pointers valid */
};

/* Load the configuration: paths from the environment, then the config file if
 * it exists (a missing file is not an error), then environment overrides
 * (SDQ_ENDPOINT, SDQ_GRAPHICS, SDQ_DATA_DIR). NULL on error with *err set. */
struct config *config_load(char **err);
/* Parse config text as if read from file `name` into cfg (for tests and
 * config_load). 0 or -1. */
int config_parse(struct config *cfg, const char *text, const char *name, char **err);
/* An empty config with paths from the environment, no file read. */
struct config *config_new_defaults(char **err);
void config_free(struct config *cfg);

/* The endpoint called name, or the default one when name is NULL; NULL when
 * there is none. If name looks like a URL or an endpoint id and no endpoint
 * has that name, a temporary RunPod endpoint for it is added to cfg (so
 * `sdq --endpoint http://...` works). Borrowed: valid until config_free. */
const struct config_endpoint *config_endpoint(struct config *cfg, const char *name);

/* The API a RunPod endpoint speaks: "runpod-local" for runpod-python's local
 * test API (`python handler.py --rp_serve_api`: no /v2/<id> prefix, POST-only
 * /status that runs the handler, no /health, /cancel, /retry, /purge-queue,
 * no auth), "runpod" otherwise. `api = auto` (the default) picks
 * runpod-local for a plain http:// URL of this machine (localhost, 127.x,
 * [::1]) with no path, such as http://localhost:8000. NULL for a local
 * (stable-diffusion.cpp) endpoint. Borrowed, static. */
const char *config_endpoint_api(const struct config_endpoint *ep);

/* Expand a RunPod endpoint id to "https://api.runpod.ai/v2/<id>"; a string
 * that starts with http:// or https:// is returned as is, less a trailing /.
 * Malloc'd, or NULL. */
char *config_expand_url(const char *url_or_id);

/* Read ep's API key: from api_key_env (default RUNPOD_API_KEY), api_key_file
 * (refused if group- or world-readable) or api_key_cmd (run to its end
 * here, up to its time limit: only for a process with no loop to keep
 * going; the engine runs it through its loop, keycmd.h). Malloc'd; the caller
 * wipes and frees it with config_key_free. NULL with *err set when there is
 * none; the message says how to provide one and never contains a key. */
char *config_api_key(const struct config_endpoint *ep, char **err);
/* The time limit of api_key_cmd when its endpoint sets no
 * api_key_cmd_timeout (default 60 s; ms <= 0 restores it), for tests. The
 * command's process group is killed when it passes. */
void config_set_key_cmd_timeout(int ms);
/* ep's api_key_cmd time limit in ms (its api_key_cmd_timeout, else the
 * default above). ep may be NULL. */
int config_key_cmd_timeout(const struct config_endpoint *ep);

#define CONFIG_KEY_MAX 4096                   /* longest API key line accepted */
#define CONFIG_KEY_CMD_OUTPUT_MAX (64 * 1024) /* what api_key_cmd may print in all */

struct child_opts;
struct child_exit;
/* How ep's api_key_cmd is run (core/child.h): `/bin/sh -c CMD` (argv, 4
 * slots, filled here; ep->api_key_cmd is borrowed), stdout a pipe, stderr
 * and stdin /dev/null, the time limit above, secret output, killed with
 * sdq. Every field of *o not named is zero. */
void config_key_cmd_opts(const struct config_endpoint *ep, char *argv[4], struct child_opts *o);
/* The key in what ep's api_key_cmd printed (out: its first n bytes, n <=
 * CONFIG_KEY_MAX + 1, writable; total: all it printed) and how it ended:
 * the first line, trimmed (malloc'd; free with config_key_free), or NULL
 * with *err naming the endpoint and what went wrong (time limit, exit
 * status, signal, too long, no key, control characters). Wipe out after. */
char *config_key_from_cmd(const struct config_endpoint *ep, char *out, size_t n, size_t total,
                          const struct child_exit *x, char **err);
void config_key_free(char *key);
/* 1 if an endpoint key source of cfg, or RUNPOD_API_KEY, gives the key of
 * fingerprint fp (keyfp.h). An api_key_cmd is never run here (this runs
 * with no loop, e.g. as a dashboard quits): it counts as giving fp when
 * guess_cmd is set (a driver started on that guess runs it through its
 * loop, keyring.h). */
int config_gives_key(const struct config *cfg, const char *fp, int guess_cmd);
/* The endpoint of cfg called exactly name (no SDQ_ENDPOINT, URL or default
 * lookup as config_endpoint does), or NULL. Borrowed from cfg. */
const struct config_endpoint *config_endpoint_named(const struct config *cfg, const char *name);

/* How config_endpoint would take name, without adding anything to cfg:
 * CONFIG_EP_KNOWN: an endpoint of the configuration (the file, SDQ_ENDPOINT),
 * by its name, URL or id (NULL or "": the default, when there is one);
 * CONFIG_EP_ADHOC: none of them, but a URL or a RunPod endpoint id: jobs
 * would go there as is (also when config_endpoint already added it);
 * CONFIG_EP_UNKNOWN: neither (config_endpoint gives NULL for it).
 * *url (if url; NULL unless ADHOC): where an ADHOC name goes, malloc'd. */
enum config_ep_lookup { CONFIG_EP_KNOWN, CONFIG_EP_ADHOC, CONFIG_EP_UNKNOWN };
enum config_ep_lookup config_endpoint_lookup(const struct config *cfg, const char *name,
                                             char **url);

/* mkdir -p. 0 or -1 with errno. */
int config_mkdirs(const char *path, int mode);

#endif
