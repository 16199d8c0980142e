/*
 * params.c: input templates, from generation parameters to a backend's
 * "input" JSON.
 *
 * Built-in templates are written as template JSON too, so built-ins and user
 * files go through one code path: parse, fill the placeholders in the tree,
 * merge extra_json over it, print. The JSON reader is our own
 * (params_json.c), not cJSON's parser: it keeps every number as the text it
 * was written with (a cJSON raw item), so a 64-bit seed or a long decimal in
 * a workflow goes out byte for byte instead of through a double. The rules
 * are in params.h.
 */
#include "params.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "params_json.h"
#include "text.h"
#include "util.h"

#define TEMPLATE_MAX_BYTES (10 * 1024 * 1024) /* RunPod refuses /run input above 10 MB */
#define TEMPLATE_NAME_MAX 64
/* Most parts in a --set key ("a.b.c"): nest() calls itself once per part. */
#define SET_KEY_PARTS_MAX 64
/* fill_tree() and merge() recurse once per level: params_json_parse takes
 * at most PARAMS_JSON_DEPTH_MAX. */

/* ---- sampler names ----
 * Each built-in template's table is the list of names its worker's current
 * code accepts (shared/reference/worker-inputs.md):
 *   sd15   worker-stable_diffusion_v1 src/rp_schema.py (scheduler constraint)
 *   sdxl   worker-sdxl handler.py make_scheduler()
 *   a1111  AUTOMATIC1111 v1.9 (worker-a1111 pins v1.9.3), plus an optional
 *          scheduler suffix ("DPM++ 2M Karras")
 *   comfyui ComfyUI comfy/samplers.py SAMPLER_NAMES */
static const char *const sd15_samplers[] = {
    "DDIM", "DDPM", "DPM-M", "DPM-S", "EULER-A", "EULER-D", "HEUN",
    "IPNDM", "KDPM2-A", "KDPM2-D", "PNDM", "K-LMS", "KLMS", NULL,
};
static const char *const sdxl_samplers[] = {
    "PNDM", "KLMS", "DDIM", "K_EULER", "K_EULER_ANCESTRAL", "DPMSolverMultistep",
    "DPMSolverSinglestep", NULL,
};
static const char *const a1111_samplers[] = {
    "DPM++ 2M", "DPM++ SDE", "DPM++ 2M SDE", "DPM++ 2M SDE Heun", "DPM++ 2S a",
    "DPM++ 3M SDE", "Euler a", "Euler", "LMS", "Heun", "DPM2", "DPM2 a", "DPM fast",
    "DPM adaptive", "Restart", "DDIM", "DDIM CFG++", "PLMS", "UniPC", "LCM", NULL,
};
/* Scheduler labels A1111 v1.9 splits off the end of an old-style name. */
static const char *const a1111_schedulers[] = {
    "Automatic", "Uniform", "Karras", "Exponential", "Polyexponential", "SGM Uniform", NULL,
};
static const char *const comfyui_samplers[] = {
    "euler", "euler_cfg_pp", "euler_ancestral", "euler_ancestral_cfg_pp", "heun", "heunpp2",
    "dpm_2", "dpm_2_ancestral", "lms", "dpm_fast", "dpm_adaptive", "dpmpp_2s_ancestral",
    "dpmpp_2s_ancestral_cfg_pp", "dpmpp_sde", "dpmpp_sde_gpu", "dpmpp_2m", "dpmpp_2m_cfg_pp",
    "dpmpp_2m_sde", "dpmpp_2m_sde_gpu", "dpmpp_2m_sde_heun", "dpmpp_2m_sde_heun_gpu",
    "dpmpp_3m_sde", "dpmpp_3m_sde_gpu", "ddpm", "lcm", "ipndm", "ipndm_v", "deis",
    "res_multistep", "res_multistep_cfg_pp", "res_multistep_ancestral",
    "res_multistep_ancestral_cfg_pp", "gradient_estimation", "gradient_estimation_cfg_pp",
    "er_sde", "seeds_2", "seeds_3", "sa_solver", "sa_solver_pece", "ddim", "uni_pc",
    "uni_pc_bh2", NULL,
};

struct builtin {
	const char *name;
	const char *json; /* NULL: the user's workflow file, wrapped */
	int column;       /* column in sampler_aliases */
	const char *const *samplers;
};

/* {{name}} must have a value, {{name?}} is left out when unset (params.h). The
 * workers' schemas give defaults for all but the prompt (sd15 marks it
 * required; sdxl has no default for it, which its validator refuses). */
static const struct builtin builtins[] = {
    {"sd15",
     "{\"prompt\":\"{{prompt}}\",\"negative_prompt\":\"{{negative_prompt?}}\","
     "\"width\":\"{{width?}}\",\"height\":\"{{height?}}\","
     "\"num_inference_steps\":\"{{steps?}}\",\"guidance_scale\":\"{{cfg?}}\","
     "\"num_outputs\":\"{{count?}}\",\"seed\":\"{{seed?}}\",\"scheduler\":\"{{sampler?}}\"}",
     0, sd15_samplers},
    {"sdxl",
     "{\"prompt\":\"{{prompt}}\",\"negative_prompt\":\"{{negative_prompt?}}\","
     "\"width\":\"{{width?}}\",\"height\":\"{{height?}}\","
     "\"num_inference_steps\":\"{{steps?}}\",\"guidance_scale\":\"{{cfg?}}\","
     "\"num_images\":\"{{count?}}\",\"seed\":\"{{seed?}}\",\"scheduler\":\"{{sampler?}}\"}",
     1, sdxl_samplers},
    {"a1111",
     "{\"prompt\":\"{{prompt?}}\",\"negative_prompt\":\"{{negative_prompt?}}\","
     "\"width\":\"{{width?}}\",\"height\":\"{{height?}}\",\"steps\":\"{{steps?}}\","
     "\"cfg_scale\":\"{{cfg?}}\",\"sampler_name\":\"{{sampler?}}\","
     "\"batch_size\":\"{{count?}}\",\"seed\":\"{{seed?}}\"}",
     2, a1111_samplers},
    {"comfyui", NULL, 3, comfyui_samplers},
};

/* Other spellings: every key in `keys` (normalised: lower case, without
 * spaces, '_', '-' and '.') is that sampler in each template's own words, or
 * NULL where the template's worker has no such sampler. Columns: sd15, sdxl,
 * a1111, comfyui. A name found in no row is looked up in the table itself. */
static const struct {
	const char *keys;
	const char *out[4];
} sampler_aliases[] = {
    {" eulera eulerancestral keulerancestral keulera ",
     {"EULER-A", "K_EULER_ANCESTRAL", "Euler a", "euler_ancestral"}},
    {" euler eulerd keuler ", {"EULER-D", "K_EULER", "Euler", "euler"}},
    {" lms klms ", {"K-LMS", "KLMS", "LMS", "lms"}},
    {" heun kheun ", {"HEUN", NULL, "Heun", "heun"}},
    {" dpm2 kdpm2 kdpm2d ", {"KDPM2-D", NULL, "DPM2", "dpm_2"}},
    {" dpm2a dpm2ancestral kdpm2a ", {"KDPM2-A", NULL, "DPM2 a", "dpm_2_ancestral"}},
    {" dpm++2m dpmpp2m dpmm dpmsolvermultistep ",
     {"DPM-M", "DPMSolverMultistep", "DPM++ 2M", "dpmpp_2m"}},
    {" dpms dpmsolversinglestep ", {"DPM-S", "DPMSolverSinglestep", NULL, NULL}},
    {" dpm++sde dpmppsde ", {NULL, NULL, "DPM++ SDE", "dpmpp_sde"}},
    {" dpm++2msde dpmpp2msde ", {NULL, NULL, "DPM++ 2M SDE", "dpmpp_2m_sde"}},
    {" dpm++2msdeheun dpmpp2msdeheun ", {NULL, NULL, "DPM++ 2M SDE Heun", "dpmpp_2m_sde_heun"}},
    {" dpm++3msde dpmpp3msde ", {NULL, NULL, "DPM++ 3M SDE", "dpmpp_3m_sde"}},
    {" dpm++2sa dpmpp2sancestral dpmpp2sa ", {NULL, NULL, "DPM++ 2S a", "dpmpp_2s_ancestral"}},
    {" dpmfast ", {NULL, NULL, "DPM fast", "dpm_fast"}},
    {" dpmadaptive ", {NULL, NULL, "DPM adaptive", "dpm_adaptive"}},
    {" ddim ", {"DDIM", "DDIM", "DDIM", "ddim"}},
    {" ddpm ", {"DDPM", NULL, NULL, "ddpm"}},
    {" plms pndm ", {"PNDM", "PNDM", "PLMS", NULL}},
    {" ipndm ", {"IPNDM", NULL, NULL, "ipndm"}},
    {" unipc ", {NULL, NULL, "UniPC", "uni_pc"}},
    {" lcm ", {NULL, NULL, "LCM", "lcm"}},
    {" restart ", {NULL, NULL, "Restart", NULL}},
};

static const struct builtin *builtin_find(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++)
		if (strcmp(builtins[i].name, name) == 0)
			return &builtins[i];
	return NULL;
}

/* " key " for name into key (normalised as above); 0 if it does not fit or is
 * empty. */
static int sampler_key(const char *name, size_t n, char *key, size_t cap)
{
	size_t k = 0;

	key[k++] = ' ';
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (c == ' ' || c == '_' || c == '-' || c == '.')
			continue;
		if (k + 3 >= cap)
			return 0;
		key[k++] = (char)tolower((unsigned char)c);
	}
	if (k == 1)
		return 0;
	key[k++] = ' ';
	key[k] = '\0';
	return 1;
}

/* The template's own spelling of the sampler name[0..n), or NULL. */
static const char *sampler_lookup(const struct builtin *b, const char *name, size_t n)
{
	char key[64], other[64];

	if (!sampler_key(name, n, key, sizeof key))
		return NULL;
	for (size_t i = 0; i < sizeof sampler_aliases / sizeof sampler_aliases[0]; i++)
		if (strstr(sampler_aliases[i].keys, key))
			return sampler_aliases[i].out[b->column];
	for (const char *const *s = b->samplers; *s; s++)
		if (sampler_key(*s, strlen(*s), other, sizeof other) && strcmp(key, other) == 0)
			return *s;
	return NULL;
}

const char *params_sampler_for(const char *tname, const char *sampler, char *buf, size_t len)
{
	const struct builtin *b;
	const char *hit;
	size_t n;

	if (!sampler)
		return NULL;
	if (strncmp(sampler, PARAMS_SAMPLER_RAW, sizeof PARAMS_SAMPLER_RAW - 1) == 0)
		return sampler + sizeof PARAMS_SAMPLER_RAW - 1;
	if (!(b = builtin_find(tname)) || !*sampler)
		return sampler;
	n = strlen(sampler);
	if ((hit = sampler_lookup(b, sampler, n)))
		return hit;
	/* A1111: "<sampler> <scheduler>", as its API splits it. */
	if (b->samplers == a1111_samplers) {
		for (const char *const *s = a1111_schedulers; *s; s++) {
			size_t sl = strlen(*s);
			if (n > sl + 1 && sampler[n - sl - 1] == ' ' &&
			    strcasecmp(sampler + n - sl, *s) == 0 &&
			    (hit = sampler_lookup(b, sampler, n - sl - 1))) {
				if (strlen(hit) + 1 + sl + 1 > len)
					return NULL;
				snprintf(buf, len, "%s %s", hit, *s);
				return buf;
			}
		}
	}
	return NULL;
}

const char *params_builtin_name(size_t i)
{
	return i < sizeof builtins / sizeof builtins[0] ? builtins[i].name : NULL;
}

const char *const *params_sampler_names(const char *tname)
{
	const struct builtin *b = builtin_find(tname);
	return b ? b->samplers : NULL;
}

/* The valid names of b, comma-separated, for an error message (malloc'd). */
static char *sampler_list(const struct builtin *b)
{
	struct util_buf l = {0};

	util_buf_put(&l, "", 0);
	for (const char *const *s = b->samplers; *s; s++) {
		if (s != b->samplers)
			util_buf_put(&l, ", ", 2);
		util_buf_put(&l, *s, strlen(*s));
	}
	if (b->samplers == a1111_samplers)
		util_buf_put(&l, " (each may end in a scheduler: Karras, Exponential, ...)", 56);
	if (l.oom) {
		free(l.p);
		return NULL;
	}
	return l.p;
}

int params_sampler_check(const char *tname, const char *sampler, char **err)
{
	const struct builtin *b = builtin_find(tname);
	char buf[PARAMS_SAMPLER_MAX];
	char *list, *shown;

	if (!b || !sampler || !*sampler || params_sampler_for(tname, sampler, buf, sizeof buf))
		return 0;
	list = sampler_list(b);
	shown = text_sanitize_str(sampler, 0);
	util_set_err(err,
	             "sampler \"%s\" is not one the %s template's worker accepts; valid: %s "
	             "(other spellings such as \"Euler a\" or \"dpmpp_2m\" are translated; "
	             "--sampler " PARAMS_SAMPLER_RAW "NAME sends NAME unchanged)",
	             shown ? shown : "?", tname, list ? list : "?");
	free(list);
	free(shown);
	return -1;
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

/* ---- placeholders ---- */

enum ph_kind { PH_TEXT, PH_INT, PH_CFG };

static const struct {
	const char *name;
	enum ph_kind kind;
	const char *option; /* how the submitter gives it, for messages */
} placeholders[] = {
    {"prompt", PH_TEXT, "-p"},     {"negative_prompt", PH_TEXT, "-n"},
    {"width", PH_INT, "--width"},  {"height", PH_INT, "--height"},
    {"steps", PH_INT, "--steps"},  {"cfg", PH_CFG, "--cfg"},
    {"seed", PH_INT, "--seed"},    {"sampler", PH_TEXT, "--sampler"},
    {"count", PH_INT, "--count"},
};

enum ph_mode { PH_REQUIRED, PH_OPTIONAL, PH_DEFAULT };

/* One placeholder as written: {{name}}, {{name?}} or {{name|default}}. */
struct ph {
	const char *name;
	size_t n;
	enum ph_mode mode;
	const char *def; /* the default's text, exactly as between '|' and "}}" */
	size_t defn;
};

/* Parse the text between "{{" and "}}" (len bytes). 1 if it is a
 * placeholder, else 0 (then the braces are plain text). */
static int ph_parse(const char *in, size_t len, struct ph *ph)
{
	size_t i = 0, a;

	while (i < len && in[i] == ' ')
		i++;
	a = i;
	while (i < len && (isalnum((unsigned char)in[i]) || in[i] == '_'))
		i++;
	if (i == a)
		return 0;
	ph->name = in + a;
	ph->n = i - a;
	ph->mode = PH_REQUIRED;
	ph->def = NULL;
	ph->defn = 0;
	while (i < len && in[i] == ' ')
		i++;
	if (i < len && in[i] == '|') {
		ph->mode = PH_DEFAULT;
		ph->def = in + i + 1;
		ph->defn = len - i - 1;
		for (size_t k = 0; k + 1 < ph->defn; k++)
			if ((ph->def[k] == '{' && ph->def[k + 1] == '{') ||
			    (ph->def[k] == '}' && ph->def[k + 1] == '}'))
				return 0;
		return 1;
	}
	if (i < len && in[i] == '?') {
		ph->mode = PH_OPTIONAL;
		i++;
		while (i < len && in[i] == ' ')
			i++;
	}
	return i == len;
}

struct fill {
	const struct job_params *p;
	const char *sampler; /* translated for the template */
	const char *what;    /* the template's name or path, for errors */
	char **err;
	/* custom placeholders: p->extra_json parsed (NULL: none), the names
	 * of its members a placeholder took (not merged again), and the text
	 * of the last custom value (freed at the next one) */
	cJSON *extra;
	cJSON *used;
	char **scratch;
};

/* A default for a number placeholder, checked and written as JSON into
 * numbuf. 0, or -1 with the error set. */
static int ph_number_default(const struct fill *f, const struct ph *ph, enum ph_kind kind,
                             char *numbuf, size_t nb)
{
	const char *s = ph->def, *e = ph->def + ph->defn;
	size_t n;
	int ok = 1;

	while (s < e && *s == ' ')
		s++;
	while (e > s && e[-1] == ' ')
		e--;
	n = (size_t)(e - s);
	if (n == 0 || n + 3 > nb) {
		ok = 0;
	} else {
		ok = params_json_is_number(s, n);
		if (ok && kind == PH_INT) {
			for (size_t i = *s == '-'; i < n; i++)
				ok &= s[i] >= '0' && s[i] <= '9';
			if (ok) {
				errno = 0;
				memcpy(numbuf, s, n);
				numbuf[n] = '\0';
				(void)strtoll(numbuf, NULL, 10);
				ok = errno == 0;
			}
		}
	}
	if (!ok) {
		char *shown = text_sanitize(ph->def, ph->defn, 0);
		util_set_err(f->err, "%s: the default of {{%.*s|%s}} is not %s", f->what, (int)ph->n,
		             ph->name, shown ? shown : "?",
		             kind == PH_INT ? "a whole number" : "a number");
		free(shown);
		return -1;
	}
	memcpy(numbuf, s, n);
	numbuf[n] = '\0';
	/* cfg is always a float in JSON: Python workers check the type. */
	if (kind == PH_CFG && !strpbrk(numbuf, ".eE"))
		strcat(numbuf, ".0");
	return 0;
}

/* The index of ph in placeholders[], or -1 for a custom one. */
static int ph_known(const char *name, size_t n)
{
	for (size_t i = 0; i < sizeof placeholders / sizeof placeholders[0]; i++)
		if (strlen(placeholders[i].name) == n && memcmp(placeholders[i].name, name, n) == 0)
			return (int)i;
	return -1;
}

/* The value of a custom placeholder {{x}}: the member x of extra_json
 * (`--set x=VALUE`), taken out of what is merged afterwards. As ph_value. */
static int ph_custom(const struct fill *f, const struct ph *ph, char *numbuf, size_t nb,
                     const char **text, size_t *len, int *number)
{
	char name[128];
	cJSON *m = NULL;

	if (ph->n < sizeof name) {
		memcpy(name, ph->name, ph->n);
		name[ph->n] = '\0';
		m = f->extra ? cJSON_GetObjectItemCaseSensitive(f->extra, name) : NULL;
	}
	/* taken, not merged again; null (--set x=null) is unset */
	if (m && f->used && !cJSON_GetObjectItemCaseSensitive(f->used, name) &&
	    !cJSON_AddTrueToObject(f->used, name))
		goto oom;
	if (m && !cJSON_IsNull(m)) {
		free(*f->scratch);
		*f->scratch = NULL;
		if (cJSON_IsString(m)) {
			*text = m->valuestring;
			*number = 0;
		} else {
			if (!(*f->scratch = cJSON_PrintUnformatted(m)))
				goto oom;
			*text = *f->scratch;
			*number = 1; /* sent as the JSON it is: numbers exact */
		}
		*len = strlen(*text);
		return 1;
	}
	switch (ph->mode) {
	case PH_OPTIONAL:
		return 0;
	case PH_DEFAULT: {
		/* a default that is a JSON number is sent as one, else as text */
		const char *a = ph->def, *e = ph->def + ph->defn;
		while (a < e && *a == ' ')
			a++;
		while (e > a && e[-1] == ' ')
			e--;
		*number = e > a && (size_t)(e - a) < nb && params_json_is_number(a, (size_t)(e - a));
		*text = ph->def;
		*len = ph->defn;
		if (*number) {
			memcpy(numbuf, a, (size_t)(e - a));
			numbuf[e - a] = '\0';
			*text = numbuf;
			*len = (size_t)(e - a);
		}
		return 1;
	}
	default: {
		char *shown = text_sanitize(ph->name, ph->n, 0);
		util_set_err(f->err,
		             "%s needs a value for {{%s}}: give --set %s=VALUE (its own field in "
		             "the compose form), or write a default ({{%s|VALUE}}) or mark it "
		             "optional ({{%s?}}) in the template",
		             f->what, shown ? shown : "?", shown ? shown : "?", shown ? shown : "?",
		             shown ? shown : "?");
		free(shown);
		return -1;
	}
	}
oom:
	util_set_err(f->err, "out of memory");
	return -1;
}

/* The value of placeholder ph: -1 required and unset (error set), 0 unset
 * and optional, 1 with *text (*len bytes: a string, or a JSON number in
 * numbuf) and *number telling which. */
static int ph_value(const struct fill *f, const struct ph *ph, char *numbuf, size_t nb,
                    const char **text, size_t *len, int *number)
{
	const struct job_params *p = f->p;
	int k = ph_known(ph->name, ph->n);
	size_t i;
	int r;

	if (k < 0)
		return ph_custom(f, ph, numbuf, nb, text, len, number);
	i = (size_t)k;
	*number = placeholders[i].kind != PH_TEXT;
	switch (i) {
	case 0:
		*text = p->prompt;
		r = p->prompt && *p->prompt;
		break;
	case 1:
		*text = p->negative_prompt;
		r = p->negative_prompt && *p->negative_prompt;
		break;
	case 7:
		*text = f->sampler;
		r = f->sampler && *f->sampler;
		break;
	case 5:
		r = p->has_cfg;
		if (!r)
			break;
		if (!isfinite(p->cfg)) {
			util_set_err(f->err, "cfg is not a finite number");
			return -1;
		}
		snprintf(numbuf, nb, "%.15g", p->cfg);
		/* Always a float in JSON: Python workers check the type. */
		if (!strpbrk(numbuf, ".eE"))
			strncat(numbuf, ".0", nb - strlen(numbuf) - 1);
		*text = numbuf;
		break;
	default: {
		int64_t v = i == 2   ? p->width
		            : i == 3 ? p->height
		            : i == 4 ? p->steps
		            : i == 6 ? p->seed
		                     : p->count;
		r = i == 6 ? v >= 0 : v > 0;
		if (r) {
			snprintf(numbuf, nb, "%" PRId64, v);
			*text = numbuf;
		}
		break;
	}
	}
	if (r) {
		*len = strlen(*text);
		return 1;
	}
	switch (ph->mode) {
	case PH_OPTIONAL:
		return 0;
	case PH_DEFAULT:
		if (!*number) {
			*text = ph->def;
			*len = ph->defn;
			return 1;
		}
		if (ph_number_default(f, ph, placeholders[i].kind, numbuf, nb) < 0)
			return -1;
		*text = numbuf;
		*len = strlen(numbuf);
		return 1;
	default:
		util_set_err(f->err,
		             "%s needs a value for {{%s}}: give %s, or write a default "
		             "({{%s|VALUE}}) or mark it optional ({{%s?}}) in the template",
		             f->what, placeholders[i].name, placeholders[i].option,
		             placeholders[i].name, placeholders[i].name);
		return -1;
	}
}

/* If s is exactly one placeholder, parse it into ph and return 1; else 0. */
static int exact_placeholder(const char *s, struct ph *ph)
{
	size_t len = strlen(s);

	if (len < 5 || memcmp(s, "{{", 2) != 0 || memcmp(s + len - 2, "}}", 2) != 0)
		return 0;
	return ph_parse(s + 2, len - 4, ph);
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
		const char *text = NULL;
		size_t len = 0;
		int number, r;
		struct ph ph;

		if (!ph_parse(open + 2, (size_t)(close - open - 2), &ph)) {
			util_buf_put(&b, at, (size_t)(open - at) + 2);
			at = open + 2;
			continue;
		}
		r = ph_value(f, &ph, numbuf, sizeof numbuf, &text, &len, &number);
		if (r < 0) {
			free(b.p);
			return NULL;
		}
		util_buf_put(&b, at, (size_t)(open - at));
		if (r > 0)
			util_buf_put(&b, text, len);
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
			const char *text = NULL;
			size_t len = 0;
			int number, r;
			struct ph ph;
			cJSON *nv;

			if (exact_placeholder(it->valuestring, &ph)) {
				r = ph_value(f, &ph, numbuf, sizeof numbuf, &text, &len, &number);
				if (r < 0)
					return -1;
				if (r == 0 && cJSON_IsObject(node)) {
					cJSON_Delete(cJSON_DetachItemViaPointer(node, it));
					continue;
				}
				if (r == 0) {
					nv = cJSON_CreateNull();
				} else {
					char *t = strndup(text, len);
					nv = !t ? NULL : number ? cJSON_CreateRaw(t) : cJSON_CreateString(t);
					free(t);
				}
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

long params_utf8_invalid_at(const char *s)
{
	size_t n, i = 0;
	uint32_t cp;

	if (!s)
		return -1;
	n = strlen(s);
	while (i < n) {
		size_t k = text_utf8_decode((const unsigned char *)s + i, n - i, &cp);
		if (!k)
			return (long)i;
		i += k;
	}
	return -1;
}

/* Text parameters must be valid UTF-8, or the JSON would not be. */
static int check_text(const struct job_params *p, char **err)
{
	static const struct {
		const char *what;
		size_t off;
	} fields[] = {
	    {"the prompt", offsetof(struct job_params, prompt)},
	    {"the negative prompt", offsetof(struct job_params, negative_prompt)},
	    {"the sampler", offsetof(struct job_params, sampler)},
	};
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
		const char *s = *(char *const *)((const char *)p + fields[i].off);
		long at = params_utf8_invalid_at(s);
		if (at >= 0) {
			util_set_err(err, "%s is not valid UTF-8 (byte %ld)", fields[i].what, at);
			return -1;
		}
	}
	return 0;
}

/* Template tname read and parsed: its tree (an object), *bp its built-in
 * (NULL for a user's file), *what its file's path or its name (malloc'd,
 * for messages). NULL with *err: a bad name, comfyui without its workflow
 * file, an unknown template, a file that cannot be read, not a JSON
 * object. */
static cJSON *template_load(const char *tname, const char *config_dir,
                            const struct builtin **bp, char **what, char **err)
{
	const struct builtin *b;
	char *path = NULL, *text = NULL, *shown;
	size_t len = 0;
	cJSON *root = NULL;

	*what = NULL;
	*bp = NULL;
	if (!params_template_name_ok(tname)) {
		shown = text_sanitize_str(tname, 0);
		util_set_err(err, "bad template name \"%s\": use only letters, digits, '-' and '_'",
		             shown ? shown : "?");
		free(shown);
		return NULL;
	}
	*bp = b = builtin_find(tname);
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
			             "from ComfyUI with \"Save (API Format)\" and put it there; "
			             "examples/comfyui-sdxl.json is one to start from)",
			             tname, path);
			goto out;
		}
	}
	if (path && file_exists(path)) {
		if (!(text = util_read_file(path, TEMPLATE_MAX_BYTES, &len, err)))
			goto out;
		if (!(root = params_json_parse(text, len, path, err)))
			goto out;
		*what = path;
		path = NULL;
	} else if (b) {
		if (!(root = params_json_parse(b->json, strlen(b->json), tname, err)))
			goto out;
		if (!(*what = strdup(tname))) {
			util_set_err(err, "out of memory");
			goto out;
		}
	} else {
		util_set_err(
		    err, "unknown template \"%s\": not built in (sd15, sdxl, a1111, comfyui)%s%s",
		    tname, path ? " and no file " : "", path ? path : "");
		goto out;
	}
	if (!cJSON_IsObject(root)) {
		util_set_err(err, "%s: the template must be a JSON object", *what);
		cJSON_Delete(root);
		root = NULL;
	}
out:
	if (!root) {
		free(*what);
		*what = NULL;
	}
	free(text);
	free(path);
	return root;
}

char *params_build_input(const struct job_params *p, const char *tname, const char *config_dir,
                         char **err)
{
	const struct builtin *b;
	char *scratch = NULL, *what = NULL;
	struct fill f = {p, NULL, NULL, err, NULL, NULL, &scratch};
	char *out = NULL;
	cJSON *extra = NULL;
	char sbuf[PARAMS_SAMPLER_MAX];
	cJSON *root = NULL;

	if (!tname)
		tname = p->template_name && *p->template_name ? p->template_name
		                                              : PARAMS_DEFAULT_TEMPLATE;
	if (check_text(p, err) < 0)
		return NULL;
	if (!(root = template_load(tname, config_dir, &b, &what, err)))
		goto out;
	if (b && params_sampler_check(tname, p->sampler, err) < 0)
		goto out;
	f.what = what;
	f.sampler = b ? params_sampler_for(tname, p->sampler, sbuf, sizeof sbuf)
	              : params_sampler_for(NULL, p->sampler, sbuf, sizeof sbuf);
	if (p->extra_json && *p->extra_json) {
		extra = params_json_parse(p->extra_json, strlen(p->extra_json), "extra input", err);
		if (!extra)
			goto out;
		if (!cJSON_IsObject(extra)) {
			util_set_err(err, "extra input must be a JSON object");
			goto out;
		}
		f.extra = extra;
		if (!(f.used = cJSON_CreateObject())) {
			util_set_err(err, "out of memory");
			goto out;
		}
	}
	if (fill_tree(&f, root) < 0)
		goto out;
	/* a member a custom placeholder took is not merged again */
	for (cJSON *u = f.used ? f.used->child : NULL; u; u = u->next)
		cJSON_DeleteItemFromObjectCaseSensitive(extra, u->string);
	if (b && !b->json) {
		cJSON *wrap = cJSON_CreateObject();
		if (!wrap || !cJSON_AddItemToObject(wrap, "workflow", root)) {
			cJSON_Delete(wrap);
			util_set_err(err, "out of memory");
			goto out;
		}
		root = wrap;
	}
	if (extra && merge(root, extra, 1) < 0) {
		util_set_err(err, "out of memory");
		goto out;
	}
	if (!(out = cJSON_PrintUnformatted(root)))
		util_set_err(err, "out of memory");
out:
	cJSON_Delete(f.used);
	cJSON_Delete(extra);
	free(scratch);
	free(what);
	cJSON_Delete(root);
	return out;
}

/* ---- the placeholders a template uses ---- */

struct ph_list {
	struct params_placeholder *v;
	size_t n, cap;
	int oom;
};

static void ph_list_add(struct ph_list *l, const struct ph *ph)
{
	for (size_t i = 0; i < l->n; i++)
		if (strlen(l->v[i].name) == ph->n && memcmp(l->v[i].name, ph->name, ph->n) == 0)
			return; /* the first way it is written counts */
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 16;
		struct params_placeholder *nv = realloc(l->v, nc * sizeof *nv);
		if (!nv) {
			l->oom = 1;
			return;
		}
		l->v = nv;
		l->cap = nc;
	}
	struct params_placeholder *e = &l->v[l->n];
	memset(e, 0, sizeof *e);
	e->name = strndup(ph->name, ph->n);
	e->custom = ph_known(ph->name, ph->n) < 0;
	e->mode = ph->mode == PH_REQUIRED   ? PARAMS_PH_NEEDED
	          : ph->mode == PH_OPTIONAL ? PARAMS_PH_OPTIONAL
	                                    : PARAMS_PH_DEFAULT;
	if (ph->mode == PH_DEFAULT)
		e->def = strndup(ph->def, ph->defn);
	if (!e->name || (ph->mode == PH_DEFAULT && !e->def)) {
		free(e->name);
		free(e->def);
		l->oom = 1;
		return;
	}
	l->n++;
}

/* Every placeholder in the strings under node, in document order. */
static void ph_collect(struct ph_list *l, const cJSON *node)
{
	for (const cJSON *it = node->child; it && !l->oom; it = it->next) {
		if (cJSON_IsObject(it) || cJSON_IsArray(it)) {
			ph_collect(l, it);
		} else if (cJSON_IsString(it) && it->valuestring) {
			const char *at = it->valuestring, *open, *close;
			struct ph ph;
			while ((open = strstr(at, "{{")) && (close = strstr(open + 2, "}}"))) {
				if (!ph_parse(open + 2, (size_t)(close - open - 2), &ph)) {
					at = open + 2;
					continue;
				}
				ph_list_add(l, &ph);
				at = close + 2;
			}
		}
	}
}

int params_placeholders(const char *tname, const char *config_dir,
                        struct params_placeholder **out, size_t *n, char **err)
{
	const struct builtin *b;
	char *what = NULL;
	struct ph_list l = {NULL, 0, 0, 0};
	cJSON *root;

	*out = NULL;
	*n = 0;
	if (!(root = template_load(tname, config_dir, &b, &what, err)))
		return -1;
	ph_collect(&l, root);
	cJSON_Delete(root);
	free(what);
	if (l.oom) {
		params_placeholders_free(l.v, l.n);
		util_set_err(err, "out of memory");
		return -1;
	}
	*out = l.v;
	*n = l.n;
	return 0;
}

void params_placeholders_free(struct params_placeholder *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].name);
		free(v[i].def);
	}
	free(v);
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

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char *params_template_list(const char *config_dir)
{
	struct util_buf b = {0};
	char *dir = NULL, **names = NULL;
	size_t n = 0, cap = 0;
	DIR *d;
	struct dirent *de;

	for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++) {
		if (!params_template_known(builtins[i].name, config_dir))
			continue;
		if (b.len)
			util_buf_put(&b, ", ", 2);
		util_buf_put(&b, builtins[i].name, strlen(builtins[i].name));
	}
	if (config_dir && *config_dir && (dir = util_asprintf("%s/templates", config_dir)) &&
	    (d = opendir(dir))) {
		while ((de = readdir(d)) && n < 200) {
			size_t len = strlen(de->d_name);
			char *name;
			if (len <= 5 || strcmp(de->d_name + len - 5, ".json") != 0)
				continue;
			if (!(name = strndup(de->d_name, len - 5)))
				break;
			if (!params_template_name_ok(name) ||
			    (builtin_find(name) && builtin_find(name)->json)) {
				free(name);
				continue;
			}
			if (n == cap) {
				char **nn = realloc(names, (cap = cap ? cap * 2 : 16) * sizeof *nn);
				if (!nn) {
					free(name);
					break;
				}
				names = nn;
			}
			names[n++] = name;
		}
		closedir(d);
	}
	free(dir);
	if (n)
		qsort(names, n, sizeof *names, cmp_str);
	for (size_t i = 0; i < n; i++) {
		/* comfyui's workflow file is listed once, as the built-in */
		if (strcmp(names[i], "comfyui") != 0) {
			if (b.len)
				util_buf_put(&b, ", ", 2);
			util_buf_put(&b, names[i], strlen(names[i]));
		}
		free(names[i]);
	}
	free(names);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p ? b.p : strdup("");
}

/* A value as A1111's quote() writes it: as is, or, when it holds ',', ':' or
 * a newline, as a JSON string (non-ASCII kept). cJSON's string printer is
 * that format: the short escapes, \u00XX for other C0 controls, UTF-8 raw. */
static void a1111_value(struct util_buf *b, const char *v)
{
	cJSON *str;
	char *q;

	if (!strpbrk(v, ",:\n")) {
		util_buf_put(b, v, strlen(v));
		return;
	}
	str = cJSON_CreateString(v);
	q = str ? cJSON_PrintUnformatted(str) : NULL;
	cJSON_Delete(str);
	if (!q) {
		b->oom = 1;
		return;
	}
	util_buf_put(b, q, strlen(q));
	free(q);
}

/* One "Key: value" of the settings line, with its separator. */
static void a1111_part(struct util_buf *b, int *nparts, const char *key, const char *value)
{
	util_buf_put(b, *nparts ? ", " : "\n", *nparts ? 2 : 1);
	(*nparts)++;
	util_buf_put(b, key, strlen(key));
	util_buf_put(b, ": ", 2);
	a1111_value(b, value);
}

char *params_a1111_text(const struct job_params *p, int64_t seed, int width, int height)
{
	struct util_buf b = {0};
	char part[96], sbuf[PARAMS_SAMPLER_MAX];
	int nparts = 0;
	const char *sampler = params_sampler_for("a1111", p->sampler, sbuf, sizeof sbuf);

	if (!sampler && p->sampler) /* a name A1111 does not know: as the job had it */
		sampler = params_sampler_for(NULL, p->sampler, sbuf, sizeof sbuf);
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
		snprintf(part, sizeof part, "%d", p->steps);
		a1111_part(&b, &nparts, "Steps", part);
	}
	if (sampler && *sampler)
		a1111_part(&b, &nparts, "Sampler", sampler);
	if (p->has_cfg && isfinite(p->cfg)) {
		snprintf(part, sizeof part, "%g", p->cfg);
		a1111_part(&b, &nparts, "CFG scale", part);
	}
	/* -1 is A1111's own "random": what an unknown seed amounts to. */
	snprintf(part, sizeof part, "%" PRId64, seed >= 0 ? seed : -1);
	a1111_part(&b, &nparts, "Seed", part);
	if (width > 0 && height > 0) {
		snprintf(part, sizeof part, "%dx%d", width, height);
		a1111_part(&b, &nparts, "Size", part);
	}
	/* A1111 reads the last line as settings only with 3 pairs or more. */
	if (nparts < 3)
		a1111_part(&b, &nparts, "Generator", "sdq");
	if (nparts < 3)
		a1111_part(&b, &nparts, "Template",
		           p->template_name && *p->template_name ? p->template_name : "none");
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
	char *out, *shown, *ignored = NULL;
	int rc = -1;

	if (!eq || eq == key_eq_json) {
		shown = text_sanitize_str(key_eq_json, 0);
		util_set_err(err, "--set wants KEY=VALUE, got \"%s\"", shown ? shown : "");
		free(shown);
		return -1;
	}
	if (params_utf8_invalid_at(key_eq_json) >= 0) {
		util_set_err(err, "--set: not valid UTF-8 (byte %ld)",
		             params_utf8_invalid_at(key_eq_json));
		return -1;
	}
	/* Numbers keep their text, so --set seed=9007199254740993 is exact. */
	value = params_json_parse(eq + 1, strlen(eq + 1), "--set", &ignored);
	free(ignored);
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
		if (!(extra = params_json_parse(p->extra_json, strlen(p->extra_json), "extra input", err)))
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
	/* The value may be nested deeper than the reader takes back: refuse it
	 * now, not at submit time. */
	if (!(check = params_json_parse(out, strlen(out), "--set", &ignored))) {
		free(ignored);
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
