/*
 * route.c: a RunPod job's destination, fixed at submit (see route.h). Split
 * out of engine.c: engine_submit_opts calls route_fix, and the driver finds
 * the backend of a recorded route by route_name.
 */
#include "route.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "config.h"
#include "job.h"
#include "keyring.h"
#include "params.h"
#include "util.h"

/* The /run members besides "input" that ep asks for (webhook, policy), as
 * a JSON object's text, or NULL when there are none. Sets *oom on ENOMEM. */
static char *run_extra_of(const struct config_endpoint *ep, int *oom)
{
	cJSON *root, *pol;
	char *out;

	if (!(ep->webhook_set && ep->webhook && ep->webhook[0]) && ep->execution_timeout_ms <= 0 &&
	    ep->ttl_ms <= 0 && !ep->low_priority)
		return NULL;
	if (!(root = cJSON_CreateObject())) {
		*oom = 1;
		return NULL;
	}
	if (ep->webhook_set && ep->webhook && ep->webhook[0])
		cJSON_AddStringToObject(root, "webhook", ep->webhook);
	if (ep->execution_timeout_ms > 0 || ep->ttl_ms > 0 || ep->low_priority) {
		pol = cJSON_AddObjectToObject(root, "policy");
		if (pol && ep->execution_timeout_ms > 0)
			cJSON_AddNumberToObject(pol, "executionTimeout", (double)ep->execution_timeout_ms);
		if (pol && ep->ttl_ms > 0)
			cJSON_AddNumberToObject(pol, "ttl", (double)ep->ttl_ms);
		if (pol && ep->low_priority)
			cJSON_AddBoolToObject(pol, "lowPriority", 1);
	}
	out = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (!out)
		*oom = 1;
	return out;
}

int route_fix(struct job *j, const struct config_endpoint *ep, const char *config_dir,
              struct keyring *kr, char **err)
{
	const char *api = config_endpoint_api(ep);
	char *in, *kerr = NULL, fp[KEYFP_LEN];
	cJSON *chk;
	int oom = 0;

	in = params_build_input(&j->params, j->params.template_name, config_dir, err);
	if (!in)
		return -1;
	chk = cJSON_Parse(in);
	if (!cJSON_IsObject(chk)) {
		cJSON_Delete(chk);
		free(in);
		util_set_err(err, "the input template \"%s\" did not produce a JSON object",
		        j->params.template_name ? j->params.template_name : "");
		return -1;
	}
	cJSON_Delete(chk);
	j->input_json = in;
	j->run_extra = run_extra_of(ep, &oom);
	if (oom || job_set_str(&j->api, api) < 0) {
		util_set_err(err, "out of memory");
		return -1;
	}
	if (strcmp(api, "runpod-local") == 0)
		return 0; /* runpod-python's test API takes no key: none is sent */
	/* an api_key_cmd still running: not recorded (engine_key_pending
	 * says so; the submit is tried again once it answered) */
	if (keyring_endpoint(kr, ep, 1, fp, &kerr) != 1) {
		util_set_err(err, "%s", kerr ? kerr : "no API key");
		free(kerr);
		return -1;
	}
	return job_set_str(&j->key_fp, fp) < 0 ? (util_set_err(err, "out of memory"), -1) : 0;
}

char *route_name(const struct job *j)
{
	const char *api = j->api ? j->api : "runpod";
	size_t n = strlen(api) + strlen(j->endpoint_url) + 24;
	char *r = malloc(n);
	if (r)
		snprintf(r, n, "\x01%s %s %s", api, j->endpoint_url, j->key_fp ? j->key_fp : "-");
	return r;
}

