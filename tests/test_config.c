/* test_config.c: the config parser (values and errors with line numbers), XDG
 * paths, environment fallbacks, endpoint lookup by name/URL/id, and the API key
 * sources (env, private file, command), checking that no message holds a key. */
#include <errno.h>

#include "th.h"
#include "config.h"
#include "util.h"

#define KEY "test-key-123"

static char tmp[4096];

static void write_file(const char *path, const char *text, int mode)
{
	FILE *f = fopen(path, "w");
	if (!f) {
		perror(path);
		exit(2);
	}
	fputs(text, f);
	fclose(f);
	chmod(path, (mode_t)mode);
}

static void clean_env(void)
{
	static const char *const vars[] = {"SDQ_CONFIG",   "XDG_CONFIG_HOME", "XDG_DATA_HOME",
	                                   "SDQ_DATA_DIR", "SDQ_ENDPOINT",    "SDQ_TEMPLATE",
	                                   "SDQ_GRAPHICS", "RUNPOD_API_KEY",  "MY_KEY"};
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
		unsetenv(vars[i]);
	setenv("HOME", tmp, 1);
}

/* A fresh config with the config dir under tmp. */
static struct config *fresh(void)
{
	char *err = NULL;
	struct config *cfg;
	char p[4200];
	clean_env();
	snprintf(p, sizeof p, "%s/cfgdir/config", tmp);
	setenv("SDQ_CONFIG", p, 1);
	cfg = config_new_defaults(&err);
	if (!cfg) {
		fprintf(stderr, "config_new_defaults: %s\n", err ? err : "?");
		exit(2);
	}
	return cfg;
}

static void test_parse_example(void)
{
	struct config *cfg = fresh();
	char *err = NULL;
	const char *text = "# sdq config\n"
	                   "[endpoint \"sdxl\"]             # a RunPod serverless endpoint\n"
	                   "    url = abc123xyz\n"
	                   "    template = sdxl\n"
	                   "    api_key_env = RUNPOD_API_KEY\n"
	                   "    execution_timeout = 10m\n"
	                   "    ttl = 90000\n"
	                   "    low_priority\n"
	                   "    webhook = \"https://example.invalid/hook?a=1#frag\"\n"
	                   "[local \"gpu\"]\r\n"
	                   "    exe = sd-cli\n"
	                   "    model = /models/sd15.safetensors\n"
	                   "    vae = ~/models/vae.safetensors\n"
	                   "    t5xxl = rel/t5.gguf\n"
	                   "    threads = 8\n"
	                   "    extra_args = --vae-tiling  --fa ; comment\n"
	                   "[UI]\n"
	                   "    graphics = sixel\n"
	                   "    sixel-colors = 64\n"
	                   "[core]\n"
	                   "    default = gpu\n"
	                   "    background_driver = off\n";

	CHECK_INT(config_parse(cfg, text, "t", &err), 0);
	CHECK(err == NULL);
	CHECK_INT(cfg->n_endpoints, 2);
	if (cfg->n_endpoints == 2) {
		const struct config_endpoint *a = &cfg->endpoints[0], *b = &cfg->endpoints[1];
		char want[4300];
		CHECK_STR(a->name, "sdxl");
		CHECK_INT(a->kind, CONFIG_RUNPOD);
		CHECK_STR(a->url, "https://api.runpod.ai/v2/abc123xyz");
		CHECK_STR(a->template_name, "sdxl");
		CHECK_STR(a->api_key_env, "RUNPOD_API_KEY");
		CHECK_INT(a->execution_timeout_ms, 600000);
		CHECK_INT(a->ttl_ms, 90000);
		CHECK_INT(a->low_priority, 1);
		CHECK_INT(a->webhook_set, 1);
		CHECK_STR(a->webhook, "https://example.invalid/hook?a=1#frag");
		CHECK_STR(b->name, "gpu");
		CHECK_INT(b->kind, CONFIG_LOCAL);
		CHECK_STR(b->exe, "sd-cli");
		CHECK_STR(b->model, "/models/sd15.safetensors");
		snprintf(want, sizeof want, "%s/models/vae.safetensors", tmp);
		CHECK_STR(b->vae, want);
		snprintf(want, sizeof want, "%s/cfgdir/rel/t5.gguf", tmp);
		CHECK_STR(b->t5xxl, want);
		CHECK_INT(b->threads, 8);
		CHECK_STR(b->extra_args, "--vae-tiling  --fa");
		CHECK(b->url == NULL);
	}
	CHECK_STR(cfg->graphics, "sixel");
	CHECK_INT(cfg->sixel_colors, 64);
	CHECK_STR(cfg->default_endpoint, "gpu");
	CHECK_INT(cfg->background_driver, 0);
	config_free(cfg);
	config_free(NULL);
}

struct vrow {
	const char *line; /* under [endpoint "e"] with a url */
	const char *want; /* api_key_cmd's value */
};

static void test_values(void)
{
	static const struct vrow rows[] = {
	    {"api_key_cmd = pass show runpod", "pass show runpod"},
	    {"api_key_cmd=pass show runpod   ", "pass show runpod"},
	    {"api_key_cmd = pass # comment", "pass"},
	    {"api_key_cmd = pass ; comment", "pass"},
	    {"api_key_cmd = \"a # not a comment ; \"", "a # not a comment ; "},
	    {"api_key_cmd = \"say \\\"hi\\\"\" and \\\\ more", "say \"hi\" and \\ more"},
	    {"api_key_cmd = a\\tb\\nc", "a\tb\nc"},
	    {"api_key_cmd = \"\"", ""},
	    {"api_key_cmd = x\"y z\"w", "xy zw"},
	    {"API_KEY_CMD = upper", "upper"},
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct config *cfg = fresh();
		char *err = NULL, text[512];
		snprintf(text, sizeof text, "[endpoint \"e\"]\nurl = abcdefgh12\n%s\n",
		         rows[i].line);
		CHECK_INT(config_parse(cfg, text, "t", &err), 0);
		if (err)
			fprintf(stderr, "  row %zu: %s\n", i, err);
		if (cfg->n_endpoints == 1)
			CHECK_STR(cfg->endpoints[0].api_key_cmd, rows[i].want);
		free(err);
		config_free(cfg);
	}
}

static void test_booleans_and_numbers(void)
{
	static const struct {
		const char *line;
		int want; /* background_driver, or -1: error */
	} rows[] = {
	    {"background_driver = true", 1}, {"background_driver = yes", 1},
	    {"background_driver = On", 1},   {"background_driver = 1", 1},
	    {"background_driver", 1},        {"background_driver = false", 0},
	    {"background_driver = NO", 0},   {"background_driver = off", 0},
	    {"background_driver = 0", 0},    {"background_driver =", 0},
	    {"background_driver = 2", -1},   {"background_driver = maybe", -1},
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct config *cfg = fresh();
		char *err = NULL, text[256];
		snprintf(text, sizeof text, "[core]\n%s\n", rows[i].line);
		cfg->background_driver = 7;
		int rc = config_parse(cfg, text, "t", &err);
		if (rows[i].want < 0) {
			CHECK_INT(rc, -1);
			CHECK(err && strstr(err, "t:2: background_driver: expected true/false"));
		} else {
			CHECK_INT(rc, 0);
			CHECK_INT(cfg->background_driver, rows[i].want);
		}
		free(err);
		config_free(cfg);
	}

	static const struct {
		const char *v;
		long ms; /* -1: error */
	} ms[] = {
	    {"0", 0},
	    {"1500", 1500},
	    {"1500ms", 1500},
	    {"30s", 30000},
	    {"10m", 600000},
	    {"2h", 7200000},
	    {"-5", -1},
	    {"5d", -1},
	    {"", -1},
	    {"1.5s", -1},
	    {"99999999999999999999", -1},
	};
	for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
		struct config *cfg = fresh();
		char *err = NULL, text[256];
		snprintf(text, sizeof text, "[endpoint \"e\"]\nurl = abcdefgh12\nttl = %s\n",
		         ms[i].v);
		int rc = config_parse(cfg, text, "t", &err);
		if (ms[i].ms < 0) {
			CHECK_INT(rc, -1);
			CHECK(err && strstr(err, "t:3: ttl:"));
		} else {
			CHECK_INT(rc, 0);
			if (cfg->n_endpoints)
				CHECK_INT(cfg->endpoints[0].ttl_ms, ms[i].ms);
		}
		free(err);
		config_free(cfg);
	}
}

struct erow {
	const char *text;
	const char *want; /* a part of the error message */
};

static void test_errors(void)
{
	static const struct erow rows[] = {
	    {"[ui]\ngraphics = auto\n[foo]\n", "t:3: unknown section [foo]"},
	    {"[endpoint \"a\"]\nurll = x\n",
	     "t:2: unknown key \"urll\" in [endpoint \"a\"] (valid: url, template, api_key_env"},
	    {"[ui]\nsixel_colours = 3\n", "t:2: unknown key \"sixel_colours\" in [ui] (valid: "
	                                  "graphics, sixel_colors, notify)"},
	    {"[local \"g\"]\nurl = abc\n", "t:2: unknown key \"url\" in [local \"g\"]"},
	    {"url = abc\n", "t:1: \"url\" is outside any section"},
	    {"\n\n[endpoint \"a\"]\nurl = \"abc\n", "t:4: a quote is not closed"},
	    {"[endpoint \"a\"]\nurl = a\\qb\n", "t:2: unknown escape \"\\q\""},
	    {"[endpoint \"a\"]\nurl = ab\\\n", "t:2: a backslash at the end of the line"},
	    {"[endpoint]\n", "t:1: [endpoint] needs a name"},
	    {"[endpoint \"\"]\n", "t:1: [endpoint] needs a name"},
	    {"[ui \"x\"]\n", "t:1: [ui] takes no name"},
	    {"[endpoint \"a]\n", "t:1: a quote is not closed in the section header"},
	    {"[ui] graphics = none\n", "t:1: text after the section header"},
	    {"[ui\n", "t:1: a section header must look like"},
	    {"[ui]\ngraphics = kitty\n", "t:2: graphics = \"kitty\": expected auto, sixel, blocks "
	                                 "or none"},
	    {"[ui]\nsixel_colors = 1000\n", "t:2: sixel_colors: expected a number from 2 to 256"},
	    {"[local \"g\"]\nmodel = /m\nthreads = -1\n", "t:3: threads: expected a number"},
	    {"[endpoint \"a\"]\nurl = abc\ntemplate = ../x\n", "t:3: template = \"../x\": "
	                                                       "expected a template name"},
	    {"[endpoint \"a\"]\nurl = not an id\n", "t:2: url = \"not an id\": expected an "
	                                            "endpoint id"},
	    {"[endpoint \"a\"]\nurl = http://\n", "t:2: url = \"http://\""},
	    {"[endpoint \"a\"]\napi_key_env = 1BAD\n", "t:2: api_key_env = \"1BAD\""},
	    {"[endpoint \"a\"]\nurl = abc\napi_key_env = K\napi_key_cmd = echo\n",
	     "t:4: api_key_cmd: this endpoint already has api_key_env"},
	    {"[endpoint \"a\"]\nurl = abc\napi_key_file = /k\n[endpoint \"a\"]\napi_key_cmd = x\n",
	     "t:5: api_key_cmd: this endpoint already has api_key_file"},
	    {"[endpoint \"a\"]\ntemplate = sd15\n", "t: [endpoint \"a\"] has no url"},
	    {"[local \"g\"]\nvae = /v\n", "t: [local \"g\"] needs model or diffusion_model"},
	    {"[endpoint \"a\"]\nurl = abc\n[local \"a\"]\n", "t:3: the name \"a\" is used by an "
	                                                     "[endpoint] and a [local]"},
	    {"[ui]\n= x\n", "t:2: expected \"key = value\" or a [section]"},
	    {"[ui]\ngraphics auto\n", "t:2: expected \"=\" after \"graphics\""},
	    {"[ui]\ngraphics\n", "t:2: graphics needs a value"},
	    {"[endpoint \"a\"]\nmodel = /m\n", "t:2: unknown key \"model\" in [endpoint \"a\"]"},
	    {"[endpoint \"x\033[2J\"]\nbad = 1\n", "t:1: a control character in a section name"},
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct config *cfg = fresh();
		char *err = NULL;
		CHECK_INT(config_parse(cfg, rows[i].text, "t", &err), -1);
		CHECK(err != NULL);
		if (err && !strstr(err, rows[i].want))
			fprintf(stderr, "  row %zu: \"%s\" lacks \"%s\"\n", i, err, rows[i].want);
		CHECK(err && strstr(err, rows[i].want));
		CHECK(err && !strchr(err, '\033'));
		free(err);
		config_free(cfg);
	}
}

static void test_api_key_in_config_refused(void)
{
	struct config *cfg = fresh();
	char *err = NULL;
	CHECK_INT(config_parse(cfg, "[endpoint \"a\"]\nurl = abc\napi_key = " KEY "\n", "t", &err),
	          -1);
	CHECK(err && strstr(err, "t:3: api_key: sdq never keeps the API key"));
	CHECK(err && !strstr(err, KEY));
	free(err);
	config_free(cfg);
}

static void test_paths(void)
{
	char *err = NULL, want[4300];
	struct config *cfg;

	clean_env();
	cfg = config_new_defaults(&err);
	CHECK(cfg != NULL);
	if (cfg) {
		snprintf(want, sizeof want, "%s/.config/sdq/config", tmp);
		CHECK_STR(cfg->config_path, want);
		snprintf(want, sizeof want, "%s/.config/sdq", tmp);
		CHECK_STR(cfg->config_dir, want);
		snprintf(want, sizeof want, "%s/.local/share/sdq", tmp);
		CHECK_STR(cfg->data_dir, want);
		snprintf(want, sizeof want, "%s/.local/share/sdq/history.db", tmp);
		CHECK_STR(cfg->db_path, want);
		snprintf(want, sizeof want, "%s/.local/share/sdq/images", tmp);
		CHECK_STR(cfg->images_dir, want);
		CHECK_STR(cfg->graphics, "auto");
		CHECK_INT(cfg->sixel_colors, 256);
		CHECK_INT(cfg->background_driver, 1);
		CHECK(cfg->default_endpoint == NULL);
		CHECK_INT(cfg->n_endpoints, 0);
	}
	config_free(cfg);

	setenv("XDG_CONFIG_HOME", "/xc", 1);
	setenv("XDG_DATA_HOME", "/xd", 1);
	cfg = config_new_defaults(&err);
	CHECK(cfg && !strcmp(cfg->config_path, "/xc/sdq/config"));
	CHECK(cfg && !strcmp(cfg->config_dir, "/xc/sdq"));
	CHECK(cfg && !strcmp(cfg->db_path, "/xd/sdq/history.db"));
	config_free(cfg);

	/* relative XDG paths are ignored (XDG spec); overrides win */
	setenv("XDG_CONFIG_HOME", "rel", 1);
	setenv("SDQ_DATA_DIR", "/data", 1);
	cfg = config_new_defaults(&err);
	snprintf(want, sizeof want, "%s/.config/sdq/config", tmp);
	CHECK(cfg && !strcmp(cfg->config_path, want));
	CHECK(cfg && !strcmp(cfg->data_dir, "/data"));
	CHECK(cfg && !strcmp(cfg->images_dir, "/data/images"));
	config_free(cfg);

	setenv("SDQ_CONFIG", "/etc/sdq.conf", 1);
	cfg = config_new_defaults(&err);
	CHECK(cfg && !strcmp(cfg->config_path, "/etc/sdq.conf"));
	CHECK(cfg && !strcmp(cfg->config_dir, "/etc"));
	config_free(cfg);
	free(err);
}

/* config_load with SDQ_CONFIG at tmp/load.conf holding text (NULL: none). */
static struct config *load(const char *text, char **err)
{
	char p[4200];
	snprintf(p, sizeof p, "%s/load.conf", tmp);
	unlink(p);
	if (text)
		write_file(p, text, 0600);
	setenv("SDQ_CONFIG", p, 1);
	return config_load(err);
}

static void test_load_env(void)
{
	char *err = NULL;
	struct config *cfg;
	const struct config_endpoint *ep;

	/* no file, no SDQ_ENDPOINT: fine, no endpoint */
	clean_env();
	cfg = load(NULL, &err);
	CHECK(cfg != NULL);
	CHECK(cfg && cfg->n_endpoints == 0);
	CHECK(cfg && config_endpoint(cfg, NULL) == NULL);
	config_free(cfg);

	/* SDQ_ENDPOINT with no endpoint in the file: "default" */
	setenv("SDQ_ENDPOINT", "abcdefgh12", 1);
	cfg = load("[ui]\ngraphics = none\n", &err);
	CHECK(cfg != NULL);
	ep = cfg ? config_endpoint(cfg, NULL) : NULL;
	CHECK(ep != NULL);
	if (ep) {
		CHECK_STR(ep->name, "default");
		CHECK_STR(ep->url, "https://api.runpod.ai/v2/abcdefgh12");
		CHECK_STR(ep->template_name, "sdxl"); /* PARAMS_DEFAULT_TEMPLATE */
		CHECK_STR(ep->api_key_env, "RUNPOD_API_KEY");
		CHECK_INT(ep->kind, CONFIG_RUNPOD);
	}
	CHECK(cfg && !strcmp(cfg->graphics, "none"));
	config_free(cfg);

	setenv("SDQ_ENDPOINT", "http://127.0.0.1:9999/v2/test/", 1);
	setenv("SDQ_TEMPLATE", "sdxl", 1);
	setenv("SDQ_GRAPHICS", "blocks", 1);
	cfg = load(NULL, &err);
	ep = cfg ? config_endpoint(cfg, NULL) : NULL;
	CHECK(ep && !strcmp(ep->url, "http://127.0.0.1:9999/v2/test"));
	CHECK(ep && !strcmp(ep->template_name, "sdxl"));
	CHECK(cfg && !strcmp(cfg->graphics, "blocks"));
	config_free(cfg);

	/* with endpoints in the file, SDQ_ENDPOINT picks one by name */
	unsetenv("SDQ_TEMPLATE");
	setenv("SDQ_ENDPOINT", "two", 1);
	cfg = load("[endpoint \"one\"]\nurl = aaaaaaaa1\n[endpoint \"two\"]\nurl = bbbbbbbb2\n",
	           &err);
	ep = cfg ? config_endpoint(cfg, NULL) : NULL;
	CHECK(ep && !strcmp(ep->name, "two"));
	config_free(cfg);
	unsetenv("SDQ_ENDPOINT");
	cfg = load("[endpoint \"one\"]\nurl = aaaaaaaa1\n[endpoint \"two\"]\nurl = bbbbbbbb2\n",
	           &err);
	ep = cfg ? config_endpoint(cfg, NULL) : NULL;
	CHECK(ep && !strcmp(ep->name, "one")); /* the first when no default */
	config_free(cfg);

	/* errors */
	static const struct {
		const char *sdq_endpoint, *graphics, *text, *want;
	} bad[] = {
	    {"no such", NULL, NULL, "SDQ_ENDPOINT=\"no such\" is neither"},
	    {"nosuch", NULL, "[endpoint \"a\"]\nurl = aaaaaaaa1\n", "SDQ_ENDPOINT=\"nosuch\""},
	    {NULL, "kitty", NULL, "SDQ_GRAPHICS=\"kitty\""},
	    {NULL, NULL, "[endpoint \"a\"]\nurl = aaaaaaaa1\n[core]\ndefault = b\n",
	     "default = \"b\" names no endpoint"},
	    {NULL, NULL, "[ui]\nbogus = 1\n", "load.conf:2: unknown key"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		clean_env();
		if (bad[i].sdq_endpoint)
			setenv("SDQ_ENDPOINT", bad[i].sdq_endpoint, 1);
		if (bad[i].graphics)
			setenv("SDQ_GRAPHICS", bad[i].graphics, 1);
		free(err);
		err = NULL;
		cfg = load(bad[i].text, &err);
		CHECK(cfg == NULL);
		if (err && !strstr(err, bad[i].want))
			fprintf(stderr, "  row %zu: \"%s\"\n", i, err);
		CHECK(err && strstr(err, bad[i].want));
		config_free(cfg);
	}
	free(err);
	clean_env();
}

static void test_expand_url(void)
{
	static const struct {
		const char *in, *want;
	} rows[] = {
	    {"abc123xyz", "https://api.runpod.ai/v2/abc123xyz"},
	    {"https://api.runpod.ai/v2/abc", "https://api.runpod.ai/v2/abc"},
	    {"https://api.runpod.ai/v2/abc/", "https://api.runpod.ai/v2/abc"},
	    {"http://127.0.0.1:8080//", "http://127.0.0.1:8080"},
	    {"HTTP://host/x", "HTTP://host/x"},
	    {"my-endpoint_1", "https://api.runpod.ai/v2/my-endpoint_1"},
	    {"", NULL},
	    {"has space", NULL},
	    {"../etc", NULL},
	    {"a/b", NULL},
	    {"http://", NULL},
	    {"https:///path", NULL},
	    {"http://host/a b", NULL},
	    {NULL, NULL},
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		char *got = config_expand_url(rows[i].in);
		CHECK_STR(got, rows[i].want);
		free(got);
	}
}

static void test_endpoint_lookup(void)
{
	struct config *cfg = fresh();
	char *err = NULL;
	const struct config_endpoint *a, *b, *t, *t2;

	CHECK_INT(config_parse(cfg,
	                       "[endpoint \"a\"]\nurl = aaaaaaaa1\ntemplate = sdxl\n"
	                       "[local \"gpu\"]\nmodel = /m\n",
	                       "t", &err),
	          0);
	a = config_endpoint(cfg, "a");
	CHECK(a && a->kind == CONFIG_RUNPOD && !strcmp(a->template_name, "sdxl"));
	b = config_endpoint(cfg, "gpu");
	CHECK(b && b->kind == CONFIG_LOCAL);
	CHECK(config_endpoint(cfg, NULL) == a);
	cfg->default_endpoint = strdup("gpu");
	CHECK(config_endpoint(cfg, NULL) == b);
	CHECK(config_endpoint(cfg, "nope") == NULL);
	CHECK(config_endpoint(cfg, "short12") == NULL);    /* 7 chars: not an id */
	CHECK(config_endpoint(cfg, "ABCDEFGHIJ") == NULL); /* ids are lower case */
	CHECK_INT(cfg->n_endpoints, 2);

	/* the URL or id of a configured endpoint is that endpoint */
	CHECK(config_endpoint(cfg, "aaaaaaaa1") == a);
	CHECK(config_endpoint(cfg, "https://api.runpod.ai/v2/aaaaaaaa1/") == a);
	CHECK_INT(cfg->n_endpoints, 2);

	/* others become temporary endpoints, once each */
	t = config_endpoint(cfg, "zzzzzzzz9");
	CHECK(t && !strcmp(t->url, "https://api.runpod.ai/v2/zzzzzzzz9"));
	CHECK(t && !strcmp(t->name, "zzzzzzzz9") && t->template_name == NULL);
	CHECK(t && t->kind == CONFIG_RUNPOD && t->api_key_env == NULL);
	CHECK_INT(cfg->n_endpoints, 3);
	t2 = config_endpoint(cfg, "http://127.0.0.1:1/v2/x");
	CHECK(t2 && !strcmp(t2->url, "http://127.0.0.1:1/v2/x"));
	CHECK_INT(cfg->n_endpoints, 4);
	CHECK(config_endpoint(cfg, "http://127.0.0.1:1/v2/x") != NULL);
	CHECK_INT(cfg->n_endpoints, 4);

	/* earlier pointers stay readable after the array grew (ASan checks) */
	for (int i = 0; i < 20; i++) {
		char id[32];
		snprintf(id, sizeof id, "tmpid%04d", i);
		CHECK(config_endpoint(cfg, id) != NULL);
	}
	CHECK_STR(a->name, "a");
	CHECK_STR(b->model, "/m");
	CHECK_STR(t->url, "https://api.runpod.ai/v2/zzzzzzzz9");
	CHECK_STR(t2->name, "http://127.0.0.1:1/v2/x");
	free(err);
	config_free(cfg);
}

/* config_api_key for one endpoint built from text; checks no message has KEY. */
static char *key_for(const char *section_body, char **err)
{
	struct config *cfg;
	char text[8192];
	char *key;
	const struct config_endpoint *ep;
	char p[4200];

	snprintf(p, sizeof p, "%s/cfgdir/config", tmp);
	setenv("SDQ_CONFIG", p, 1); /* the environment is the test's: not cleaned here */
	if (!(cfg = config_new_defaults(err)))
		return NULL;
	snprintf(text, sizeof text, "[endpoint \"e\"]\nurl = abcdefgh1\n%s\n", section_body);
	if (config_parse(cfg, text, "t", err) < 0) {
		config_free(cfg);
		return NULL;
	}
	ep = config_endpoint(cfg, "e");
	key = config_api_key(ep, err);
	config_free(cfg);
	if (*err && strstr(*err, KEY)) {
		fprintf(stderr, "  the key leaked into: %s\n", *err);
		th_cur_failed++;
	}
	return key;
}

static void test_api_key_sources(void)
{
	char *err = NULL, *k, path[4300], body[4500], want[4500];

	/* env: default variable, custom variable, missing */
	clean_env();
	setenv("RUNPOD_API_KEY", KEY "\n", 1);
	k = key_for("", &err);
	CHECK_STR(k, KEY);
	config_key_free(k);
	setenv("MY_KEY", "other-key", 1);
	k = key_for("api_key_env = MY_KEY", &err);
	CHECK_STR(k, "other-key");
	config_key_free(k);
	unsetenv("RUNPOD_API_KEY");
	k = key_for("", &err);
	CHECK(k == NULL);
	snprintf(want, sizeof want,
	         "no API key for endpoint \"e\": set RUNPOD_API_KEY, or api_key_file or "
	         "api_key_cmd in %s/cfgdir/config",
	         tmp);
	CHECK_STR(err, want);
	free(err);
	err = NULL;
	unsetenv("MY_KEY");
	k = key_for("api_key_env = MY_KEY", &err);
	CHECK(k == NULL && err && strstr(err, "set MY_KEY,"));
	free(err);
	err = NULL;
	setenv("RUNPOD_API_KEY", "bad key " KEY, 1);
	k = key_for("", &err);
	CHECK(k == NULL && err && strstr(err, "blanks or control characters"));
	free(err);
	err = NULL;
	unsetenv("RUNPOD_API_KEY");

	/* file: 0600 read with its newline stripped; 0644 refused */
	snprintf(path, sizeof path, "%s/key", tmp);
	write_file(path, KEY "\n", 0600);
	snprintf(body, sizeof body, "api_key_file = %s", path);
	k = key_for(body, &err);
	CHECK_STR(k, KEY);
	config_key_free(k);
	chmod(path, 0644);
	k = key_for(body, &err);
	CHECK(k == NULL);
	CHECK(err && strstr(err, "is readable by others (mode 0644)"));
	CHECK(err && strstr(err, "chmod 600"));
	free(err);
	err = NULL;
	chmod(path, 0640);
	k = key_for(body, &err);
	CHECK(k == NULL && err && strstr(err, "mode 0640"));
	free(err);
	err = NULL;
	write_file(path, "\n\n", 0600);
	k = key_for(body, &err);
	CHECK(k == NULL && err && strstr(err, "is empty"));
	free(err);
	err = NULL;
	unlink(path);
	k = key_for(body, &err);
	CHECK(k == NULL && err && strstr(err, "cannot open"));
	free(err);
	err = NULL;
	snprintf(body, sizeof body, "api_key_file = %s", tmp); /* a directory */
	k = key_for(body, &err);
	CHECK(k == NULL && err && strstr(err, "not a regular file"));
	free(err);
	err = NULL;

	/* cmd: first line of stdout */
	k = key_for("api_key_cmd = printf '" KEY "\\nsecond line\\n'", &err);
	CHECK_STR(k, KEY);
	config_key_free(k);
	k = key_for("api_key_cmd = \"echo " KEY " ; echo noise >&2\"", &err);
	CHECK_STR(k, KEY);
	config_key_free(k);
	k = key_for("api_key_cmd = \"echo " KEY "; exit 3\"", &err);
	CHECK(k == NULL);
	CHECK(err && strstr(err, "failed (exit status 3)"));
	free(err);
	err = NULL;
	k = key_for("api_key_cmd = true", &err);
	CHECK(k == NULL && err && strstr(err, "printed no key"));
	free(err);
	err = NULL;
	k = key_for("api_key_cmd = head -c 100000 /dev/zero | tr '\\\\0' x", &err);
	CHECK(k == NULL && err && strstr(err, "more than 64 KiB"));
	free(err);
	err = NULL;
	k = key_for("api_key_cmd = head -c 5000 /dev/zero | tr '\\\\0' x", &err);
	CHECK(k == NULL && err && strstr(err, "longer than 4096"));
	free(err);
	err = NULL;
	k = key_for("api_key_cmd = printf 'a\\\\033[2Jb\\n'", &err);
	CHECK(k == NULL && err && strstr(err, "control characters"));
	free(err);
	err = NULL;
	k = key_for("api_key_cmd = \"echo " KEY "; kill -9 $$\"", &err);
	CHECK(k == NULL && err && strstr(err, "killed by a signal"));
	free(err);
	err = NULL;
	k = key_for("api_key_cmd = /nonexistent/cmd", &err);
	CHECK(k == NULL && err && strstr(err, "exit status 127"));
	free(err);
	err = NULL;

	/* the command sees none of the caller's descriptors */
	{
		int fd = dup2(1, 57);
		k = key_for(
		    "api_key_cmd = \"if [ -e /dev/fd/57 ]; then echo leaked-fd; else echo " KEY
		    "; fi\"",
		    &err);
		CHECK_STR(k, KEY);
		config_key_free(k);
		if (fd >= 0)
			close(fd);
	}

	CHECK(config_api_key(NULL, &err) == NULL);
	free(err);
	config_key_free(NULL);
}

/* Process pid exists and is not a zombie. */
static int running(long pid)
{
	char path[64], buf[512];
	FILE *f;
	char *p;
	int alive = 0;

	snprintf(path, sizeof path, "/proc/%ld/stat", pid);
	if (!(f = fopen(path, "r")))
		return 0;
	if (fgets(buf, sizeof buf, f) && (p = strrchr(buf, ')')) && p[1] == ' ')
		alive = p[2] != 'Z' && p[2] != 'X';
	fclose(f);
	return alive;
}

/* An api_key_cmd that never answers ends at the time limit (here 400 ms),
 * with its process group killed: one that keeps its output open, and one
 * that closes it and goes on (it used to hang in a blocking read or wait). */
static void test_key_cmd_hangs(void)
{
	/* the pid file's path goes between a head and a tail */
	static const char *const heads[] = {
	    "api_key_cmd = \"echo $$ >",
	    "api_key_cmd = \"echo $$ >",
	    "api_key_cmd = \"sh -c 'echo $$ >",
	};
	static const char *const tails[] = {
	    "; exec sleep 1000\"",
	    "; exec 1>&-; exec sleep 1000\"",
	    "; exec sleep 1000' & wait\"",
	};
	char *err = NULL, *k, body[4600], pidf[4300];

	clean_env();
	config_set_key_cmd_timeout(400);
	for (size_t i = 0; i < sizeof heads / sizeof *heads; i++) {
		int64_t t0 = util_now_ms(), took;
		long pid = 0;
		FILE *f;

		snprintf(pidf, sizeof pidf, "%s/keycmd.pid", tmp);
		unlink(pidf);
		snprintf(body, sizeof body, "%s%s%s", heads[i], pidf, tails[i]);
		k = key_for(body, &err);
		took = util_now_ms() - t0;
		CHECK(k == NULL && err && strstr(err, "within the time limit"));
		CHECK(took < 30000); /* bounded (the limit is 0.4 s; the machine may be slow) */
		f = fopen(pidf, "r");
		CHECK(f && fscanf(f, "%ld", &pid) == 1 && pid > 1);
		if (f)
			fclose(f);
		/* killed (gone, or a zombie its new parent has not reaped yet) */
		for (int w = 0; w < 500 && pid > 1 && running(pid); w++)
			usleep(10000);
		CHECK(pid > 1 && !running(pid));
		config_key_free(k);
		free(err);
		err = NULL;
	}
	config_set_key_cmd_timeout(0);
}

/* Mutated config texts: parse never crashes (ASan watches), and fails
 * exactly when it says why, with the file name and no raw control byte. */
static void test_parse_mutations(void)
{
	static const char base[] =
	    "[endpoint \"a\"]\nurl = abcdefgh1 # c\ntemplate = sdxl\n"
	    "api_key_cmd = \"pass show \\\"x\\\"\"\nttl = 10s\n"
	    "[local \"g\"]\nmodel = ~/m\nthreads = 4\n[ui]\ngraphics = auto\n"
	    "[core]\ndefault = a\nbackground_driver\n";
	static const char junk[] = "[]\"\\=#;\n \t\r\033\x9b\xff~/.aZ09_-";
	unsigned int x = 2024;
	char text[sizeof base + 64];
	int ok = 0, failed = 0;

	for (int round = 0; round < 3000; round++) {
		memcpy(text, base, sizeof base);
		th_mutate(text, sizeof base - 1, sizeof text, junk, 1 + round % 4, &x);
		struct config *cfg = fresh();
		char *err = NULL;
		int rc = config_parse(cfg, text, "m", &err);
		if (rc == 0) {
			ok++;
			CHECK(err == NULL);
		} else {
			failed++;
			CHECK_INT(rc, -1);
			CHECK(err && strncmp(err, "m:", 2) == 0);
			CHECK(err && !strchr(err, '\033'));
		}
		free(err);
		config_free(cfg);
	}
	/* both outcomes happen, or the mutations test nothing */
	CHECK(ok > 0 && failed > 0);
}

/* api = ...: the value table, and what auto picks for each URL. */
static void test_endpoint_api(void)
{
	static const struct {
		const char *lines, *want; /* want NULL: a parse error */
	} rows[] = {
	    {"url = abcdefgh12", "runpod"},
	    {"url = http://localhost:8000", "runpod-local"},
	    {"url = http://localhost:8000/", "runpod-local"},
	    {"url = http://LOCALHOST", "runpod-local"},
	    {"url = http://127.0.0.1:8000", "runpod-local"},
	    {"url = http://127.1.2.3:9", "runpod-local"},
	    {"url = http://[::1]:8000", "runpod-local"},
	    {"url = http://localhost:8000/v2/abc", "runpod"},  /* a RunPod-style path */
	    {"url = https://localhost:8000", "runpod"},        /* not the plain test server */
	    {"url = http://gpubox:8000", "runpod"},            /* another machine: say so */
	    {"url = http://localhost.example.com", "runpod"},
	    {"url = http://127.0.0.1.example.com:8000", "runpod"},
	    {"url = http://gpubox:8000\napi = runpod-local", "runpod-local"},
	    {"url = http://localhost:8000\napi = runpod", "runpod"},
	    {"url = http://localhost:8000\napi = auto", "runpod-local"},
	    {"url = abcdefgh12\napi = local", NULL},
	    {"url = abcdefgh12\napi =", NULL},
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct config *cfg = fresh();
		char *err = NULL, text[512];
		int rc;
		snprintf(text, sizeof text, "[endpoint \"e\"]\n%s\n", rows[i].lines);
		rc = config_parse(cfg, text, "t", &err);
		if (!rows[i].want) {
			CHECK_INT(rc, -1);
			CHECK(err && strstr(err, "auto, runpod or runpod-local"));
		} else {
			CHECK_INT(rc, 0);
			if (cfg->n_endpoints == 1 &&
			    !CHECK_STR(config_endpoint_api(&cfg->endpoints[0]), rows[i].want))
				fprintf(stderr, "  row %zu: %s\n", i, rows[i].lines);
		}
		free(err);
		config_free(cfg);
	}
}

static void test_mkdirs(void)
{
	char p[4300], f[4300];
	struct stat st;

	snprintf(p, sizeof p, "%s/a/b/c", tmp);
	CHECK_INT(config_mkdirs(p, 0700), 0);
	CHECK(stat(p, &st) == 0 && S_ISDIR(st.st_mode));
	CHECK_INT(config_mkdirs(p, 0700), 0); /* exists: fine */
	snprintf(f, sizeof f, "%s/a/file", tmp);
	write_file(f, "x", 0600);
	CHECK_INT(config_mkdirs(f, 0700), -1);
	CHECK_INT(errno, ENOTDIR);
	snprintf(p, sizeof p, "%s/a/file/sub", tmp);
	CHECK_INT(config_mkdirs(p, 0700), -1);
	CHECK_INT(config_mkdirs("", 0700), -1);
}

int main(void)
{
	snprintf(tmp, sizeof tmp, "%s", th_tmpdir());
	TH_RUN(test_parse_example);
	TH_RUN(test_values);
	TH_RUN(test_booleans_and_numbers);
	TH_RUN(test_errors);
	TH_RUN(test_api_key_in_config_refused);
	TH_RUN(test_paths);
	TH_RUN(test_load_env);
	TH_RUN(test_expand_url);
	TH_RUN(test_endpoint_lookup);
	TH_RUN(test_api_key_sources);
	TH_RUN(test_key_cmd_hangs);
	TH_RUN(test_parse_mutations);
	TH_RUN(test_mkdirs);
	TH_RUN(test_endpoint_api);
	if (util_remove_tree(tmp) != 0)
		fprintf(stderr, "could not remove %s\n", tmp);
	return th_done("test_config");
}
