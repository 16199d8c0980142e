/*
 * fuzz_config.c: config_parse() on any config text, then what is built from
 * a parsed config (config_endpoint, the sd-cli argv).
 *
 * Checked on success: every endpoint has a unique, non-empty name without
 * control characters; a RunPod endpoint's url is an http(s) URL without
 * blanks or controls (it goes into requests); a local one has a model; at
 * most one API key source; numbers within their documented ranges; graphics
 * one of its four words; the sd-cli argv is NULL-terminated. On failure the
 * message names the file. The API key is never read (no command is run).
 */
#include <string.h>
#include <strings.h>

#include "config.h"
#include "fuzz_replay.h"
#include "job.h"
#include "sdcpp.h"

static void fuzz_init(void)
{
}

static int clean(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

static void check_argv(const struct config_endpoint *ep)
{
	struct job_params p;
	char **argv;
	size_t i;

	job_params_init(&p);
	p.prompt = "a cat";
	p.width = 64;
	p.steps = 2;
	argv = sdcpp_build_argv("/bin/true", ep, &p, "/tmp/out.png");
	FUZZ_CHECK(argv != NULL);
	if (!argv)
		return;
	FUZZ_CHECK(argv[0] && strcmp(argv[0], "/bin/true") == 0);
	for (i = 0; argv[i]; i++)
		FUZZ_CHECK(i < 4096);
	sdcpp_strv_free(argv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_cstr(data, size), *err = NULL;
	struct config *cfg = config_new_defaults(&err);
	size_t i, j;
	int rc;

	FUZZ_CHECK(cfg != NULL);
	if (!cfg) {
		free(err);
		free(text);
		return 0;
	}
	rc = config_parse(cfg, text, "fz.conf", &err);
	FUZZ_CHECK(rc == 0 || rc == -1);
	if (rc < 0) {
		FUZZ_CHECK(err && strncmp(err, "fz.conf", 7) == 0);
	} else {
		FUZZ_CHECK(cfg->n_endpoints == 0 || cfg->endpoints);
		for (i = 0; i < cfg->n_endpoints; i++) {
			const struct config_endpoint *ep = &cfg->endpoints[i];
			int sources = !!ep->api_key_env + !!ep->api_key_file + !!ep->api_key_cmd;
			FUZZ_CHECK(ep->name && *ep->name && clean(ep->name));
			for (j = 0; j < i; j++)
				FUZZ_CHECK(strcmp(cfg->endpoints[j].name, ep->name) != 0);
			FUZZ_CHECK(sources <= 1);
			FUZZ_CHECK(ep->threads >= 0 && ep->threads <= 4096);
			FUZZ_CHECK(ep->execution_timeout_ms >= 0 && ep->ttl_ms >= 0);
			if (ep->kind == CONFIG_RUNPOD) {
				FUZZ_CHECK(ep->url && clean(ep->url) && !strchr(ep->url, ' '));
				FUZZ_CHECK(ep->url && (strncasecmp(ep->url, "http://", 7) == 0 ||
				                       strncasecmp(ep->url, "https://", 8) == 0));
			} else {
				FUZZ_CHECK(ep->kind == CONFIG_LOCAL);
				FUZZ_CHECK(ep->model || ep->diffusion_model);
				check_argv(ep);
			}
			FUZZ_CHECK(config_endpoint(cfg, ep->name) == ep);
		}
		FUZZ_CHECK(cfg->sixel_colors >= 2 && cfg->sixel_colors <= 256);
		FUZZ_CHECK(cfg->graphics &&
		           (!strcmp(cfg->graphics, "auto") || !strcmp(cfg->graphics, "sixel") ||
		            !strcmp(cfg->graphics, "blocks") || !strcmp(cfg->graphics, "none")));
		/* the default (possibly a URL that adds an endpoint) stays usable */
		(void)config_endpoint(cfg, NULL);
		(void)config_endpoint(cfg, "https://example.com/v2/x");
		(void)config_endpoint(cfg, "abc123");
	}
	free(err);
	config_free(cfg);
	free(text);
	return 0;
}

FUZZ_REPLAY_MAIN("config")
