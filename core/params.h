/*
 * params.h: generation parameters -> a backend's "input" JSON, through an
 * input template.
 *
 * Built-in templates (for the RunPod workers of the same name):
 *   sdxl    worker-sdxl (the default): prompt, negative_prompt, width, height,
 *           num_inference_steps, guidance_scale, num_images, seed, scheduler
 *   sd15    worker-stable_diffusion_v1 (deprecated by RunPod): prompt,
 *           negative_prompt, width, height, num_inference_steps,
 *           guidance_scale, num_outputs, seed, scheduler
 *   a1111   AUTOMATIC1111 txt2img (worker-a1111): prompt, negative_prompt,
 *           width, height, steps, cfg_scale, sampler_name, batch_size, seed
 *   comfyui the user's workflow <config_dir>/templates/comfyui.json, with its
 *           placeholders filled in, sent as {"workflow": <it>}
 * sd15 and sdxl need a prompt; every other input is left out when unset, so
 * the worker's own default applies.
 *
 * Samplers: each built-in has the table of names its worker accepts
 * (params_sampler_names). Other spellings are translated ("Euler a",
 * "euler_a", "EULER-A" and "K_EULER_ANCESTRAL" are the same sampler); a name
 * the template's worker does not have is an error listing the valid ones.
 * "raw:NAME" sends NAME unchanged, unchecked. User templates get the text as
 * typed.
 *
 * User templates: <config_dir>/templates/<name>.json, any JSON object (a file
 * named like a built-in replaces it). These placeholders are filled in:
 *   {{prompt}} {{negative_prompt}} {{width}} {{height}} {{steps}} {{cfg}}
 *   {{seed}} {{sampler}} {{count}}
 * and the template's own, any other name {{x}} ([A-Za-z0-9_]): the member x
 * of p->extra_json (`--set x=VALUE`), which is then not merged again (a
 * string as its text, any other JSON value as itself; a default that is a
 * JSON number is sent as a number, any other as text)
 * each written one of three ways:
 *   {{name}}          the value is needed: unset is an error naming it
 *   {{name|default}}  unset: the default (the text between '|' and "}}",
 *                     a number for the number placeholders)
 *   {{name?}}         optional: unset leaves the input out (an object member
 *                     is removed, an array element becomes null, inside a
 *                     longer string it is empty)
 * Spaces around the name are allowed. A string that is exactly one
 * placeholder ("{{seed}}") becomes the typed value: numbers stay numbers (cfg
 * always with a decimal point). Placeholders inside longer strings are
 * replaced by their text. A needed placeholder without a value is an error
 * naming it (a misspelt name too: it has no value). Unset
 * means NULL or "" for text, <= 0 for sizes, steps and count, has_cfg == 0,
 * seed < 0.
 *
 * Numbers are sent exactly as written: those in the template, in extra_json
 * and the filled-in ones never go through a double, so any 64-bit seed
 * arrives exact. Text parameters must be valid UTF-8.
 *
 * Finally p->extra_json (a JSON object) is merged over the result: objects
 * merge member by member, any other value replaces, and null removes the
 * member (RFC 7386 merge patch).
 *
 * Template names are [A-Za-z0-9_-]{1,64}: nothing that could walk out of the
 * templates directory. Errors are malloc'd in *err; the caller frees them.
 */
#ifndef SDQ_PARAMS_H
#define SDQ_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "job.h"

/* The built-in template used when neither the job nor the endpoint names one. */
#define PARAMS_DEFAULT_TEMPLATE "sdxl"

/* The prefix that sends a sampler name unchanged: --sampler raw:NAME. */
#define PARAMS_SAMPLER_RAW "raw:"

/* Room for any translated sampler name (params_sampler_for's buf). */
#define PARAMS_SAMPLER_MAX 96

/* The backend "input" object for p as compact JSON text (malloc'd; the caller
 * frees it): these bytes are what is sent. tname NULL means p->template_name,
 * then PARAMS_DEFAULT_TEMPLATE. config_dir may be NULL (then only built-ins
 * other than comfyui work). NULL with *err set on a bad or unknown template,
 * a missing or invalid template file, a needed placeholder
 * with no value, a sampler the template's worker does not accept, text that
 * is not UTF-8, or extra_json that is not a JSON object. */
char *params_build_input(const struct job_params *p, const char *tname, const char *config_dir,
                         char **err);

/* How a template writes a placeholder (the three ways above). */
enum params_ph_mode { PARAMS_PH_NEEDED, PARAMS_PH_DEFAULT, PARAMS_PH_OPTIONAL };

/* One placeholder a template uses (params_placeholders). */
struct params_placeholder {
	char *name;             /* "prompt", "steps", ... or the template's own "style" */
	int custom;             /* 1: not one of the parameters above: --set NAME=VALUE */
	enum params_ph_mode mode;
	char *def;              /* PARAMS_PH_DEFAULT: the default as written; else NULL */
};

/* The placeholders template tname uses (a built-in's, the comfyui workflow's
 * or a user file's, found as params_build_input finds them), each once, in
 * the order they first appear (the first way one is written counts), into
 * *out (freed with params_placeholders_free) and *n. 0, or -1 with *err (a
 * bad or unknown template, a missing or invalid file). For a front end
 * that shows only the fields a template takes. */
int params_placeholders(const char *tname, const char *config_dir,
                        struct params_placeholder **out, size_t *n, char **err);
void params_placeholders_free(struct params_placeholder *v, size_t n);

/* 1 if params_build_input() would find template tname: a built-in (comfyui
 * only when its workflow file exists) or an existing user file; else 0. */
int params_template_known(const char *tname, const char *config_dir);

/* The names of the templates params_template_known() finds, for a message:
 * the built-ins (comfyui only when its workflow file exists), then the user's
 * files in <config_dir>/templates, sorted, as "sdxl, sd15, a1111, mine".
 * Malloc'd (the caller frees it); NULL on ENOMEM. */
char *params_template_list(const char *config_dir);

/* 1 if name is a well-formed template name ([A-Za-z0-9_-]{1,64}). */
int params_template_name_ok(const char *name);

/* The AUTOMATIC1111 "parameters" text for a PNG text chunk:
 *   "<prompt>\nNegative prompt: <neg>\nSteps: 20, Sampler: Euler a,
 *    CFG scale: 7, Seed: 42, Size: 512x512"
 * seed, width and height are the image's own (seed < 0 or a size <= 0: p's
 * value is used). Unset parts are left out, and the Negative prompt line when
 * there is none; an unknown seed is written -1 (A1111's "random"). The last
 * line always holds at least 3 pairs, which A1111 needs to read it as
 * settings ("Generator: sdq" and then "Template: NAME" fill it up). A value
 * holding ',', ':' or a newline is quoted as A1111 quotes it (a JSON string).
 * Malloc'd; NULL only on ENOMEM. */
char *params_a1111_text(const struct job_params *p, int64_t seed, int width, int height);

/* `--set KEY=JSON`: set KEY to the JSON value in p->extra_json (created when
 * NULL). A value that is not valid JSON is taken as a string (`--set
 * style=vivid`); null is kept, so the merge removes KEY from the input. Dots
 * in KEY make nested objects: "a.b=1" sets {"a":{"b":1}}. 0, or -1 with *err
 * set (no "=", an empty key or key part, extra_json not an object, not UTF-8).
 * Numbers keep their text. */
int params_parse_set(struct job_params *p, const char *key_eq_json, char **err);

/* The sampler name as template tname sends it: its worker's spelling for a
 * built-in ("sd15", "sdxl", "a1111", "comfyui"), sampler itself for other
 * templates, the rest of a "raw:" name. NULL for NULL, or when tname's worker
 * has no such sampler. Borrowed: a static string, part of sampler, or buf
 * (len bytes, PARAMS_SAMPLER_MAX is enough). */
const char *params_sampler_for(const char *tname, const char *sampler, char *buf, size_t len);

/* The name of built-in template i (0, 1, ...), NULL past the last. Static. */
const char *params_builtin_name(size_t i);

/* The names template tname's worker accepts (a static NULL-terminated list),
 * or NULL when sdq has no table for it (a user template). */
const char *const *params_sampler_names(const char *tname);

/* 0 if tname's worker accepts sampler (any spelling sdq translates, a
 * "raw:" name, no sampler, or a template without a table); else -1 with *err
 * listing the valid names. */
int params_sampler_check(const char *tname, const char *sampler, char **err);

/* The byte offset of the first byte of s that is not part of valid UTF-8, or
 * -1 when all of s is (NULL too). */
long params_utf8_invalid_at(const char *s);

#endif
