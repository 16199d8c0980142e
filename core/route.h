/*
 * route.h: where a RunPod job goes, fixed when it is submitted (DESIGN.md
 * "One driver, many viewers", issue 10): the API kind, the rendered input,
 * the other /run members and the fingerprint of the key its submitter's
 * configuration gives. The driver sends exactly that and never re-resolves
 * an endpoint name through its own configuration (backends.c route_backend).
 */
#ifndef SDQ_ROUTE_H
#define SDQ_ROUTE_H

struct config_endpoint;
struct job;
struct keyring;

/* Fix where j (a RunPod job of endpoint ep) goes: j->input_json (ep's
 * template rendered with j's parameters, templates of config_dir), j->run_extra,
 * j->api and j->key_fp (the key goes into kr, so this process can drive the
 * job itself). 0, or -1 with *err: a template that renders no JSON object,
 * no API key, or "waiting for the key command of endpoint X" (its
 * api_key_cmd runs through the loop: keyring_endpoint). */
int route_fix(struct job *j, const struct config_endpoint *ep, const char *config_dir,
              struct keyring *kr, char **err);

/* "\x01<api> <url> <fp>": the name of the backend that sends j exactly where
 * it was meant to go, with the key it was meant to use (malloc'd; NULL on
 * ENOMEM). j has its endpoint_url. */
char *route_name(const struct job *j);

#endif
