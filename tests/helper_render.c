/*
 * helper_render.c: renders generation parameters the way sdq sends them, for
 * tests/receivers.py (which applies the real receivers' rules to the result).
 *
 *   helper_render input TEMPLATE CONFIG_DIR [KEY=VALUE...]
 *       prints params_build_input()'s JSON, or the error on stderr (exit 2)
 *   helper_render a1111 [KEY=VALUE...]
 *       prints params_a1111_text() (seed, width and height from the keys)
 *
 * Keys: prompt negative width height steps cfg seed sampler count template
 * set (a --set KEY=JSON argument). Values are taken as bytes; numbers by
 * strtoll/strtod.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "params.h"

static int apply(struct job_params *p, const char *kv)
{
	const char *eq = strchr(kv, '=');
	char *err = NULL;
	size_t k;

	if (!eq)
		return -1;
	k = (size_t)(eq - kv);
#define IS(name) (k == sizeof name - 1 && memcmp(kv, name, k) == 0)
	if (IS("prompt"))
		p->prompt = strdup(eq + 1);
	else if (IS("negative"))
		p->negative_prompt = strdup(eq + 1);
	else if (IS("sampler"))
		p->sampler = strdup(eq + 1);
	else if (IS("template"))
		p->template_name = strdup(eq + 1);
	else if (IS("width"))
		p->width = atoi(eq + 1);
	else if (IS("height"))
		p->height = atoi(eq + 1);
	else if (IS("steps"))
		p->steps = atoi(eq + 1);
	else if (IS("count"))
		p->count = atoi(eq + 1);
	else if (IS("seed"))
		p->seed = strtoll(eq + 1, NULL, 10);
	else if (IS("cfg")) {
		p->cfg = strtod(eq + 1, NULL);
		p->has_cfg = 1;
	} else if (IS("set")) {
		if (params_parse_set(p, eq + 1, &err) < 0) {
			fprintf(stderr, "%s\n", err ? err : "--set failed");
			free(err);
			return -1;
		}
	} else
		return -1;
#undef IS
	return 0;
}

int main(int argc, char **argv)
{
	struct job_params p;
	char *out, *err = NULL;
	int first;

	if (argc < 2 || (strcmp(argv[1], "input") == 0 && argc < 4)) {
		fprintf(stderr, "usage: helper_render input TEMPLATE CONFIG_DIR [KEY=VALUE...]\n"
		                "       helper_render a1111 [KEY=VALUE...]\n");
		return 64;
	}
	first = strcmp(argv[1], "input") == 0 ? 4 : 2;
	job_params_init(&p);
	for (int i = first; i < argc; i++) {
		if (apply(&p, argv[i]) < 0) {
			fprintf(stderr, "helper_render: bad argument %s\n", argv[i]);
			return 64;
		}
	}
	if (strcmp(argv[1], "a1111") == 0) {
		out = params_a1111_text(&p, p.seed, p.width, p.height);
	} else {
		out = params_build_input(&p, argv[2], argv[3][0] ? argv[3] : NULL, &err);
		if (!out) {
			fprintf(stderr, "%s\n", err ? err : "?");
			free(err);
			job_params_clear(&p);
			return 2;
		}
	}
	fputs(out ? out : "", stdout);
	free(out);
	job_params_clear(&p);
	return 0;
}
