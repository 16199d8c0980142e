/*
 * params.c: input templates, from generation parameters to a backend's
 * "input" JSON.
 *
 * Built-in templates are written as template JSON too, so built-ins and user
 * files go through one code path: parse, fill the placeholders in the tree,
 * merge extra_json over it, print. Numbers are inserted as raw JSON text so a
 * 64-bit seed survives exactly (cJSON keeps numbers as doubles). The rules
 * are in params.h.
 */
#include "params.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "text.h"
#include "util.h"

#define TEMPLATE_MAX_BYTES (10 * 1024 * 1024) /* RunPod refuses /run input above 10 MB */
#define TEMPLATE_NAME_MAX 64
/* Most parts in a --set key ("a.b.c"): nest() calls itself once per part. */
#define SET_KEY_PARTS_MAX 64

struct builtin {
	const char *name;
	const char *json; /* NULL: the user's workflow file, wrapped */
	int column;       /* sampler translation column */
};

static const struct builtin builtins[] = {
    {"sd15",
     "{\"prompt\":\"{{prompt}}\",\"negative_prompt\":\"{{negative_prompt}}\","
     "\"width\":\"{{width}}\",\"height\":\"{{height}}\","
     "\"num_inference_steps\":\"{{steps}}\",\"guidance_scale\":\"{{cfg}}\","
     "\"num_outputs\":\"{{count}}\",\"seed\":\"{{seed}}\",\"scheduler\":\"{{sampler}}\"}",
     0},
    {"sdxl",
     "{\"prompt\":\"{{prompt}}\",\"negative_prompt\":\"{{negative_prompt}}\","
     "\"width\":\"{{width}}\",\"height\":\"{{height}}\","
     "\"num_inference_steps\":\"{{steps}}\",\"guidance_scale\":\"{{cfg}}\","
     "\"num_images\":\"{{count}}\",\"seed\":\"{{seed}}\",\"scheduler\":\"{{sampler}}\"}",
     1},
    {"a1111",
     "{\"prompt\":\"{{prompt}}\",\"negative_prompt\":\"{{negative_prompt}}\","
     "\"width\":\"{{width}}\",\"height\":\"{{height}}\",\"steps\":\"{{steps}}\","
     "\"cfg_scale\":\"{{cfg}}\",\"sampler_name\":\"{{sampler}}\","
     "\"batch_size\":\"{{count}}\",\"seed\":\"{{seed}}\"}",
     2},
    {"comfyui", NULL, 3},
};

/* Sampler names: every spelling in `keys` (normalised: lower case, without
 * spaces, '_', '-' and '.') maps to each template's own name, or NULL when the
 * template has no such sampler (then the user's text is sent as is).
 * Columns: sd15 (worker-stable_diffusion_v1), sdxl (worker-sdxl), a1111,
 * comfyui. */
static const struct {
	const char *keys;
	const char *out[4];
} samplers[] = {
    {" eulera eulerancestral keulerancestral ",
     {"EULER-A", "K_EULER_ANCESTRAL", "Euler a", "euler_ancestral"}},
    {" euler eulerd keuler ", {"EULER-D", "K_EULER", "Euler", "euler"}},
    {" lms klms ", {"K-LMS", "KLMS", "LMS", "lms"}},
    {" heun ", {"HEUN", NULL, "Heun", "heun"}},
    {" dpm2 kdpm2 kdpm2d ", {"KDPM2-D", NULL, "DPM2", "dpm_2"}},
    {" dpm2a dpm2ancestral kdpm2a ", {"KDPM2-A", NULL, "DPM2 a", "dpm_2_ancestral"}},
    {" dpm++2m dpmpp2m dpmm dpmsolvermultistep ",
     {"DPM-M", "DPMSolverMultistep", "DPM++ 2M", "dpmpp_2m"}},
    {" dpm++sde dpmppsde dpms dpmsolversinglestep ",
     {"DPM-S", "DPMSolverSinglestep", "DPM++ SDE", "dpmpp_sde"}},
    {" dpm++2sa dpmpp2sancestral ", {NULL, NULL, "DPM++ 2S a", "dpmpp_2s_ancestral"}},
    {" ddim ", {"DDIM", "DDIM", "DDIM", "ddim"}},
    {" ddpm ", {"DDPM", NULL, NULL, "ddpm"}},
    {" plms pndm ", {"PNDM", "PNDM", "PLMS", NULL}},
    {" ipndm ", {"IPNDM", NULL, NULL, "ipndm"}},
    {" unipc ", {NULL, NULL, "UniPC", "uni_pc"}},
    {" lcm ", {NULL, NULL, "LCM", "lcm"}},
};

static const struct builtin *builtin_find(const char *name)
{
	for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++)
		if (strcmp(builtins[i].name, name) == 0)
			return &builtins[i];
	return NULL;
}

const char *params_sampler_for(const char *tname, const char *sampler)
{
	const struct builtin *b;
	char key[40];
	size_t n = 0;

	if (!sampler)
		return NULL;
	if (!tname || !(b = builtin_find(tname)))
		return sampler;
	for (const char *s = sampler; *s; s++) {
		if (*s == ' ' || *s == '_' || *s == '-' || *s == '.')
			continue;
		if (n + 3 >= sizeof key)
			return sampler;
		key[++n] = (char)tolower((unsigned char)*s);
	}
	key[0] = ' ';
	key[n + 1] = ' ';
	key[n + 2] = '\0';
	if (n == 0)
		return sampler;
	for (size_t i = 0; i < sizeof samplers / sizeof samplers[0]; i++)
		if (strstr(samplers[i].keys, key))
			return samplers[i].out[b->column] ? samplers[i].out[b->column] : sampler;
	return sampler;
}

int params_template_name_ok(const char *name)
{
	size_t n = 0;
	if (!name)
		return 0;
	for (; name[n]; n++)
		if (!isalnum((unsigned char)name[n]) && name[n] != '_' && name[n] != '-')
			return 0;
	return n >= 1 && n <= TEMPLATE_NAME_MAX;
}

static char *template_path(const char *config_dir, const char *name)
{
	size_t n;
	char *p;

	if (!config_dir || !*config_dir)
		return NULL;
	n = strlen(config_dir) + strlen(name) + sizeof "/templates/.json";
	if (!(p = malloc(n)))
		return NULL;
	snprintf(p, n, "%s/templates/%s.json", config_dir, name);
	return p;
}

static int file_exists(const char *path)
{
	FILE *f = path ? fopen(path, "rb") : NULL;
	if (!f)
		return 0;
	fclose(f);
	return 1;
}

/* Parse JSON text; on failure the message names where (line:column). */
static cJSON *parse_json(const char *text, size_t len, const char *what, char **err)
{
	const char *end = NULL;
	cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	if (j) {
		/* Only white space may follow the value. */
		while (end && end < text + len && isspace((unsigned char)*end))
			end++;
		if (!end || end == text + len)
			return j;
		cJSON_Delete(j);
	} else {
		end = cJSON_GetErrorPtr();
	}
	if (end >= text && end <= text + len) {
		int line = 1, col = 1;
		for (const char *s = text; s < end; s++) {
			if (*s == '\n') {
				line++;
				col = 1;
			} else {
				col++;
			}
		}
		util_set_err(err, "%s:%d:%d: invalid JSON", what, line, col);
	} else {
		util_set_err(err, "%s: invalid JSON", what);
	}
	return NULL;
}

/* ---- placeholders ---- */

enum ph_kind { PH_TEXT, PH_INT, PH_CFG };

static const struct {
	const char *name;
	enum ph_kind kind;
} placeholders[] = {
    {"prompt", PH_TEXT}, {"negative_prompt", PH_TEXT},
    {"width", PH_INT},   {"height", PH_INT},
    {"steps", PH_INT},   {"cfg", PH_CFG},
    {"seed", PH_INT},    {"sampler", PH_TEXT},
    {"count", PH_INT},
};

struct fill {
	const struct job_params *p;
	const char *sampler; /* translated for the template */
	const char *what;    /* the template's name or path, for errors */
	char **err;
};

/* The value of placeholder name[0..n): -1 unknown (error set), 0 unset, 1 set
 * with *text pointing at the text (a string, or a JSON number in numbuf) and
 * *number telling which. */
static int ph_value(const struct fill *f, const char *name, size_t n, char *numbuf, size_t nb,
                    const char **text, int *number)
{
	const struct job_params *p = f->p;
	size_t i;

	for (i = 0; i < sizeof placeholders / sizeof placeholders[0]; i++)
		if (strlen(placeholders[i].name) == n && memcmp(placeholders[i].name, name, n) == 0)
			break;
	if (i == sizeof placeholders / sizeof placeholders[0]) {
		char *shown = text_sanitize(name, n, 0);
		util_set_err(f->err,
		             "%s: unknown placeholder {{%s}} (known: prompt, negative_prompt, "
		             "width, height, steps, cfg, seed, sampler, count)",
		             f->what, shown ? shown : "?");
		free(shown);
		return -1;
	}
	*number = placeholders[i].kind != PH_TEXT;
	switch (i) {
	case 0:
		*text = p->prompt;
		return p->prompt && *p->prompt;
	case 1:
		*text = p->negative_prompt;
		return p->negative_prompt && *p->negative_prompt;
	case 7:
		*text = f->sampler;
		return f->sampler && *f->sampler;
	case 5:
		if (!p->has_cfg)
			return 0;
		if (!isfinite(p->cfg)) {
			util_set_err(f->err, "cfg is not a finite number");
			return -1;
		}
		snprintf(numbuf, nb, "%.15g", p->cfg);
		/* Always a float in JSON: Python workers check the type. */
		if (!strpbrk(numbuf, ".eE"))
			strncat(numbuf, ".0", nb - strlen(numbuf) - 1);
		*text = numbuf;
		return 1;
	default: {
		int64_t v = i == 2   ? p->width
		            : i == 3 ? p->height
		            : i == 4 ? p->steps
		            : i == 6 ? p->seed
		                     : p->count;
		if (i == 6 ? v < 0 : v <= 0)
			return 0;
		snprintf(numbuf, nb, "%" PRId64, v);
		*text = numbuf;
		return 1;
	}
	}
}

/* If s is exactly one placeholder ("{{ name }}"), its name span; else 0. */
static int exact_placeholder(const char *s, const char **name, size_t *n)
{
	size_t len = strlen(s), a = 2, b;

	if (len < 5 || memcmp(s, "{{", 2) != 0 || memcmp(s + len - 2, "}}", 2) != 0)
		return 0;
	b = len - 2;
	while (a < b && s[a] == ' ')
		a++;
	while (b > a && s[b - 1] == ' ')
		b--;
	if (a == b)
		return 0;
	for (size_t i = a; i < b; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return 0;
	*name = s + a;
	*n = b - a;
	return 1;
}

/* Replace the placeholders inside a longer string with their text. Returns
 * the new string (malloc'd) or NULL with the error set. Substituted text is
 * never scanned again, so a prompt holding "{{seed}}" stays as written. */
static char *fill_text(const struct fill *f, const char *s)
{
	struct util_buf b = {0};
	const char *at = s, *open, *close;
	char numbuf[64];

	util_buf_put(&b, "", 0);
	while ((open = strstr(at, "{{")) && (close = strstr(open + 2, "}}"))) {
		const char *name, *text = NULL;
		size_t n;
		int number, r;
		char *one;

		/* Is the part between the braces a placeholder name? */
		if (!(one = malloc((size_t)(close - open) + 3))) {
			b.oom = 1;
			break;
		}
		memcpy(one, open, (size_t)(close - open) + 2);
		one[close - open + 2] = '\0';
		if (!exact_placeholder(one, &name, &n)) {
			free(one);
			util_buf_put(&b, at, (size_t)(open - at) + 2);
			at = open + 2;
			continue;
		}
		r = ph_value(f, name, n, numbuf, sizeof numbuf, &text, &number);
		free(one);
		if (r < 0) {
			free(b.p);
			return NULL;
		}
		util_buf_put(&b, at, (size_t)(open - at));
		if (r > 0)
			util_buf_put(&b, text, strlen(text));
		at = close + 2;
	}
	util_buf_put(&b, at, strlen(at));
	if (b.oom) {
		free(b.p);
		util_set_err(f->err, "out of memory");
		return NULL;
	}
	return b.p;
}

/* Swap item for replacement inside parent, keeping the member name. */
static void replace_item(cJSON *parent, cJSON *item, cJSON *replacement)
{
	if (item->string && !(item->type & cJSON_StringIsConst)) {
		replacement->string = item->string;
		item->string = NULL;
	}
	cJSON_ReplaceItemViaPointer(parent, item, replacement);
}

/* Fill every placeholder under node (an object or array). 0 or -1. */
static int fill_tree(const struct fill *f, cJSON *node)
{
	cJSON *it, *next;
	char numbuf[64];

	for (it = node->child; it; it = next) {
		next = it->next;
		if (cJSON_IsObject(it) || cJSON_IsArray(it)) {
			if (fill_tree(f, it) < 0)
				return -1;
		} else if (cJSON_IsString(it) && it->valuestring && strstr(it->valuestring, "{{")) {
			const char *name, *text = NULL;
			size_t n;
			int number, r;
			cJSON *nv;

			if (exact_placeholder(it->valuestring, &name, &n)) {
				r = ph_value(f, name, n, numbuf, sizeof numbuf, &text, &number);
				if (r < 0)
					return -1;
				if (r == 0 && cJSON_IsObject(node)) {
					cJSON_Delete(cJSON_DetachItemViaPointer(node, it));
					continue;
				}
				nv = r == 0   ? cJSON_CreateNull()
				     : number ? cJSON_CreateRaw(text)
				              : cJSON_CreateString(text);
			} else {
				char *s = fill_text(f, it->valuestring);
				if (!s)
					return -1;
				nv = cJSON_CreateString(s);
				free(s);
			}
			if (!nv) {
				util_set_err(f->err, "out of memory");
				return -1;
			}
			replace_item(node, it, nv);
		}
	}
	return 0;
}

/* Merge patch over target (both objects). null_removes: RFC 7386 (a null in
 * the patch deletes); else nulls are stored like any value. 0 or -1 (ENOMEM). */
static int merge(cJSON *target, const cJSON *patch, int null_removes)
{
	const cJSON *m;

	cJSON_ArrayForEach(m, patch)
	{
		cJSON *t = cJSON_GetObjectItemCaseSensitive(target, m->string), *dup;

		if (!m->string)
			continue;
		if (null_removes && cJSON_IsNull(m)) {
			cJSON_DeleteItemFromObjectCaseSensitive(target, m->string);
			continue;
		}
		if (cJSON_IsObject(m) && t && cJSON_IsObject(t)) {
			if (merge(t, m, null_removes) < 0)
				return -1;
			continue;
		}
		if (cJSON_IsObject(m) && null_removes) {
			if (!(dup = cJSON_CreateObject()))
				return -1;
			if (merge(dup, m, 1) < 0) {
				cJSON_Delete(dup);
				return -1;
			}
		} else if (!(dup = cJSON_Duplicate(m, 1))) {
			return -1;
		}
		if (t) {
			if (!cJSON_ReplaceItemInObjectCaseSensitive(target, m->string, dup)) {
				cJSON_Delete(dup);
				return -1;
			}
		} else if (!cJSON_AddItemToObject(target, m->string, dup)) {
			cJSON_Delete(dup);
			return -1;
		}
	}
	return 0;
}

char *params_build_input(const struct job_params *p, const char *tname, const char *config_dir,
                         char **err)
{
	const struct builtin *b;
	struct fill f = {p, NULL, NULL, err};
	char *path = NULL, *text = NULL, *out = NULL, *shown;
	size_t len = 0;
	cJSON *root = NULL;

	if (!tname)
		tname = p->template_name && *p->template_name ? p->template_name
		                                              : PARAMS_DEFAULT_TEMPLATE;
	if (!params_template_name_ok(tname)) {
		shown = text_sanitize_str(tname, 0);
		util_set_err(err, "bad template name \"%s\": use only letters, digits, '-' and '_'",
		             shown ? shown : "?");
		free(shown);
		return NULL;
	}
	b = builtin_find(tname);
	path = template_path(config_dir, tname);
	if (b && !b->json) {
		/* comfyui: the user's workflow is required. */
		if (!path) {
			util_set_err(err,
			             "template \"%s\" needs a workflow file in "
			             "<config dir>/templates/%s.json",
			             tname, tname);
			goto out;
		}
		if (!file_exists(path)) {
			util_set_err(err,
			             "template \"%s\": no workflow file %s (export the workflow "
			             "from ComfyUI with \"Save (API Format)\" and put it there)",
			             tname, path);
			goto out;
		}
	}
	if (path && file_exists(path)) {
		if (!(text = util_read_file(path, TEMPLATE_MAX_BYTES, &len, err)))
			goto out;
		if (!(root = parse_json(text, len, path, err)))
			goto out;
		f.what = path;
	} else if (b) {
		if (!(root = cJSON_Parse(b->json))) {
			util_set_err(err, "out of memory");
			goto out;
		}
		f.what = tname;
	} else {
		util_set_err(
		    err, "unknown template \"%s\": not built in (sd15, sdxl, a1111, comfyui)%s%s",
		    tname, path ? " and no file " : "", path ? path : "");
		goto out;
	}
	if (!cJSON_IsObject(root)) {
		util_set_err(err, "%s: the template must be a JSON object", f.what);
		goto out;
	}
	f.sampler = b ? params_sampler_for(tname, p->sampler) : p->sampler;
	if (fill_tree(&f, root) < 0)
		goto out;
	if (b && !b->json) {
		cJSON *wrap = cJSON_CreateObject();
		if (!wrap || !cJSON_AddItemToObject(wrap, "workflow", root)) {
			cJSON_Delete(wrap);
			util_set_err(err, "out of memory");
			goto out;
		}
		root = wrap;
	}
	if (p->extra_json && *p->extra_json) {
		cJSON *extra = parse_json(p->extra_json, strlen(p->extra_json), "extra input", err);
		if (!extra)
			goto out;
		if (!cJSON_IsObject(extra)) {
			cJSON_Delete(extra);
			util_set_err(err, "extra input must be a JSON object");
			goto out;
		}
		if (merge(root, extra, 1) < 0) {
			cJSON_Delete(extra);
			util_set_err(err, "out of memory");
			goto out;
		}
		cJSON_Delete(extra);
	}
	if (!(out = cJSON_PrintUnformatted(root)))
		util_set_err(err, "out of memory");
out:
	cJSON_Delete(root);
	free(text);
	free(path);
	return out;
}

int params_template_known(const char *tname, const char *config_dir)
{
	const struct builtin *b;
	char *path;
	int ok;

	if (!params_template_name_ok(tname))
		return 0;
	b = builtin_find(tname);
	if (b && b->json)
		return 1;
	path = template_path(config_dir, tname);
	ok = file_exists(path);
	free(path);
	return ok;
}

/* One "Key: value" of the settings line, with its separator. */
static void a1111_part(struct util_buf *b, int *nparts, const char *a, const char *c)
{
	if ((*nparts)++)
		util_buf_put(b, ", ", 2);
	else
		util_buf_put(b, "\n", 1);
	util_buf_put(b, a, strlen(a));
	if (c)
		util_buf_put(b, c, strlen(c));
}

char *params_a1111_text(const struct job_params *p, int64_t seed, int width, int height)
{
	struct util_buf b = {0};
	char part[96];
	int nparts = 0;
	const char *sampler = params_sampler_for("a1111", p->sampler);

	if (seed < 0)
		seed = p->seed;
	if (width <= 0 || height <= 0) {
		width = p->width;
		height = p->height;
	}
	util_buf_put(&b, "", 0);
	if (p->prompt)
		util_buf_put(&b, p->prompt, strlen(p->prompt));
	if (p->negative_prompt && *p->negative_prompt) {
		util_buf_put(&b, "\nNegative prompt: ", 18);
		util_buf_put(&b, p->negative_prompt, strlen(p->negative_prompt));
	}
	if (p->steps > 0) {
		snprintf(part, sizeof part, "Steps: %d", p->steps);
		a1111_part(&b, &nparts, part, NULL);
	}
	if (sampler && *sampler)
		a1111_part(&b, &nparts, "Sampler: ", sampler);
	if (p->has_cfg && isfinite(p->cfg)) {
		snprintf(part, sizeof part, "CFG scale: %g", p->cfg);
		a1111_part(&b, &nparts, part, NULL);
	}
	if (seed >= 0) {
		snprintf(part, sizeof part, "Seed: %" PRId64, seed);
		a1111_part(&b, &nparts, part, NULL);
	}
	if (width > 0 && height > 0) {
		snprintf(part, sizeof part, "Size: %dx%d", width, height);
		a1111_part(&b, &nparts, part, NULL);
	}
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

/* Build {"a":{"b":value}} for key "a.b"; takes value. NULL with *err set. */
static cJSON *nest(const char *key, size_t klen, cJSON *value, char **err)
{
	const char *dot = memchr(key, '.', klen);
	size_t n = dot ? (size_t)(dot - key) : klen;
	cJSON *obj, *inner;
	char *name;

	if (n == 0) {
		cJSON_Delete(value);
		util_set_err(err, "--set: empty key part in \"%.*s\"", (int)klen, key);
		return NULL;
	}
	if (!dot) {
		inner = value;
	} else if (!(inner = nest(dot + 1, klen - n - 1, value, err))) {
		return NULL;
	}
	obj = cJSON_CreateObject();
	name = strndup(key, n);
	if (!obj || !name || !cJSON_AddItemToObject(obj, name, inner)) {
		free(name);
		cJSON_Delete(obj);
		cJSON_Delete(inner);
		util_set_err(err, "out of memory");
		return NULL;
	}
	free(name);
	return obj;
}

int params_parse_set(struct job_params *p, const char *key_eq_json, char **err)
{
	const char *eq = key_eq_json ? strchr(key_eq_json, '=') : NULL;
	cJSON *value, *patch = NULL, *extra = NULL, *check;
	char *out, *shown;
	int rc = -1;

	if (!eq || eq == key_eq_json) {
		shown = text_sanitize_str(key_eq_json, 0);
		util_set_err(err, "--set wants KEY=VALUE, got \"%s\"", shown ? shown : "");
		free(shown);
		return -1;
	}
	value = cJSON_ParseWithOpts(eq + 1, NULL, 1);
	if (!value)
		value = cJSON_CreateString(eq + 1); /* a bare word is a string */
	if (!value) {
		util_set_err(err, "out of memory");
		return -1;
	}
	int parts = 1;
	for (const char *s = key_eq_json; s < eq; s++) {
		if ((unsigned char)*s < 0x20) {
			cJSON_Delete(value);
			util_set_err(err, "--set: control character in the key");
			return -1;
		}
		parts += *s == '.';
	}
	if (parts > SET_KEY_PARTS_MAX) {
		cJSON_Delete(value);
		util_set_err(err, "--set: more than %d levels in the key", SET_KEY_PARTS_MAX);
		return -1;
	}
	if (!(patch = nest(key_eq_json, (size_t)(eq - key_eq_json), value, err)))
		return -1;
	if (p->extra_json && *p->extra_json) {
		if (!(extra = parse_json(p->extra_json, strlen(p->extra_json), "extra input", err)))
			goto out;
		if (!cJSON_IsObject(extra)) {
			util_set_err(err, "extra input must be a JSON object");
			goto out;
		}
	} else if (!(extra = cJSON_CreateObject())) {
		util_set_err(err, "out of memory");
		goto out;
	}
	if (merge(extra, patch, 0) < 0 || !(out = cJSON_PrintUnformatted(extra))) {
		util_set_err(err, "out of memory");
		goto out;
	}
	/* The value may be nested deeper than cJSON parses back (its limit is
	 * CJSON_NESTING_LIMIT): refuse it now, not at submit time. */
	if (!(check = cJSON_Parse(out))) {
		free(out);
		util_set_err(err, "--set: the extra input would be nested too deeply");
		goto out;
	}
	cJSON_Delete(check);
	free(p->extra_json);
	p->extra_json = out;
	rc = 0;
out:
	cJSON_Delete(patch);
	cJSON_Delete(extra);
	return rc;
}
