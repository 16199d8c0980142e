/*
 * fuzz_params.c: params_build_input() with a user template, extra JSON and
 * --set values from outside.
 *
 * The input is up to five parts separated by NUL bytes: the template file's
 * text (written to <tmp>/templates/fz.json), extra_json, the prompt, one
 * `--set KEY=VALUE` argument and the sampler. The numbers of the job come
 * from one of four sets (unset, typical, extremes, negative) picked by the
 * input's length. Checked: a result is a JSON object, a failure has a
 * message; the built-ins, given the same extra_json, succeed when there is no
 * extra_json, the text is UTF-8, the sampler is one of theirs and sd15/sdxl
 * have a prompt, and never succeed with an extra_json cJSON refuses; a --set
 * that succeeded leaves an extra_json a1111 accepts; the A1111 text is
 * always made; the template's placeholders are listed (each once, a default
 * exactly for {{x|d}}) whenever it builds.
 */
#include <cjson/cJSON.h>
#include <ctype.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_replay.h"
#include "params.h"

static char dir[4096], tpl[4300];

static void fuzz_init(void)
{
	char sub[4150];
	snprintf(dir, sizeof dir, "%s", fuzz_tmpdir("params"));
	snprintf(sub, sizeof sub, "%s/templates", dir);
	if (mkdir(sub, 0700) < 0) {
		perror(sub);
		exit(2);
	}
	snprintf(tpl, sizeof tpl, "%s/fz.json", sub);
}

/* Part i of the NUL-separated input (a malloc'd C string), or NULL. */
static char *part(const uint8_t *data, size_t size, int i)
{
	size_t s = 0, e;
	for (; i > 0; i--) {
		const uint8_t *z = memchr(data + s, 0, size - s);
		if (!z)
			return NULL;
		s = (size_t)(z - data) + 1;
	}
	const uint8_t *z = memchr(data + s, 0, size - s);
	e = z ? (size_t)(z - data) : size;
	return fuzz_cstr(data + s, e - s);
}

/* Whole text one JSON object, nothing but isspace() after it (as params.c
 * wants; cJSON alone would also skip other control characters there). */
static int is_object(const char *json)
{
	const char *end = NULL;
	cJSON *j = cJSON_ParseWithOpts(json, &end, 0);
	int ok = cJSON_IsObject(j);
	while (ok && end && isspace((unsigned char)*end))
		end++;
	ok = ok && end && !*end;
	cJSON_Delete(j);
	return ok;
}

static void set_numbers(struct job_params *p, int which)
{
	switch (which) {
	case 0: /* all unset */
		break;
	case 1:
		p->width = 512, p->height = 768, p->steps = 20, p->cfg = 7.5, p->has_cfg = 1;
		p->seed = 42, p->count = 2;
		break;
	case 2:
		p->width = INT_MAX, p->height = 1, p->steps = INT_MAX, p->cfg = 1e308;
		p->has_cfg = 1, p->seed = INT64_MAX, p->count = INT_MAX;
		break;
	default:
		p->width = -1, p->height = 0, p->steps = INT_MIN, p->cfg = -0.0, p->has_cfg = 1;
		p->seed = INT64_MIN, p->count = -5;
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const builtins[] = {"sd15", "sdxl", "a1111"};
	char *text = part(data, size, 0), *extra = part(data, size, 1);
	char *prompt = part(data, size, 2), *set = part(data, size, 3);
	char *sampler = part(data, size, 4);
	struct job_params p;
	char *err = NULL, *out, *a;
	int extra_ok, rc;
	size_t i;
	FILE *f;

	job_params_init(&p);
	set_numbers(&p, (int)(size % 4));
	p.prompt = prompt;
	p.negative_prompt = prompt ? strdup(prompt) : NULL;
	p.sampler = sampler;
	p.extra_json = extra;

	f = fopen(tpl, "wb");
	if (!f || fwrite(text, 1, strlen(text), f) != strlen(text) || fclose(f) != 0) {
		perror(tpl);
		abort();
	}
	extra_ok = !extra || !*extra || is_object(extra);

	out = params_build_input(&p, "fz", dir, &err);
	if (out) {
		FUZZ_CHECK(is_object(out));
		FUZZ_CHECK(extra_ok);
	} else {
		FUZZ_CHECK(err != NULL);
	}
	free(err);
	err = NULL;
	/* the placeholders the compose form lists: read whenever it builds */
	struct params_placeholder *ph = NULL;
	size_t nph = 0;
	rc = params_placeholders("fz", dir, &ph, &nph, &err);
	FUZZ_CHECK(rc == 0 || (rc == -1 && err && !ph && !nph));
	if (out)
		FUZZ_CHECK(rc == 0);
	for (i = 0; i < nph; i++) {
		FUZZ_CHECK(ph[i].name && *ph[i].name);
		FUZZ_CHECK((ph[i].mode == PARAMS_PH_DEFAULT) == (ph[i].def != NULL));
		for (size_t k = 0; k < i; k++)
			FUZZ_CHECK(strcmp(ph[i].name, ph[k].name) != 0);
	}
	params_placeholders_free(ph, nph);
	free(out);
	free(err);
	err = NULL;
	FUZZ_CHECK(params_template_known("fz", dir) == 1);

	for (i = 0; i < sizeof builtins / sizeof *builtins; i++) {
		int text_ok = params_utf8_invalid_at(prompt) < 0 && params_utf8_invalid_at(sampler) < 0;
		int sampler_ok = params_sampler_check(builtins[i], sampler, NULL) == 0;
		int prompt_ok = i == 2 || (prompt && *prompt);
		char buf[PARAMS_SAMPLER_MAX];
		out = params_build_input(&p, builtins[i], NULL, &err);
		if ((!extra || !*extra) && text_ok && sampler_ok && prompt_ok)
			FUZZ_CHECK(out != NULL);
		if (out) {
			FUZZ_CHECK(extra_ok);
			FUZZ_CHECK(is_object(out));
		} else {
			FUZZ_CHECK(err != NULL);
		}
		free(out);
		free(err);
		err = NULL;
		FUZZ_CHECK(!params_sampler_for(builtins[i], sampler, buf, sizeof buf) == !(sampler && sampler_ok));
	}

	if (set) {
		rc = params_parse_set(&p, set, &err);
		FUZZ_CHECK(rc == 0 || (rc == -1 && err));
		free(err);
		err = NULL;
		if (rc == 0) {
			FUZZ_CHECK(p.extra_json && is_object(p.extra_json));
			free(p.sampler);
			p.sampler = NULL;
			free(p.prompt);
			p.prompt = NULL;
			free(p.negative_prompt);
			p.negative_prompt = NULL;
			out = params_build_input(&p, "a1111", NULL, &err);
			FUZZ_CHECK(out != NULL);
			if (!out && err)
				fprintf(stderr, "  after --set: %.200s\n", err);
			free(out);
			free(err);
			err = NULL;
		}
	}

	a = params_a1111_text(&p, size % 3 ? -1 : 7, (int)(size % 5) - 1, 64);
	FUZZ_CHECK(a != NULL);
	free(a);

	free(text);
	free(set);
	job_params_clear(&p);
	return 0;
}

FUZZ_REPLAY_MAIN("params")
