/*
 * params.h: generation parameters -> a backend's "input" JSON, through an
 * input template.
 *
 * Built-in templates (for the RunPod workers of the same name):
 *   sd15    worker-stable_diffusion_v1: prompt, negative_prompt, width, height,
 *           num_inference_steps, guidance_scale, num_outputs, seed, scheduler
 *   sdxl    worker-sdxl: prompt, negative_prompt, width, height,
 *           num_inference_steps, guidance_scale, num_images, seed, scheduler
 *   a1111   AUTOMATIC1111 txt2img (worker-a1111): prompt, negative_prompt,
 *           width, height, steps, cfg_scale, sampler_name, batch_size, seed
 *   comfyui the user's workflow <config_dir>/templates/comfyui.json, with its
 *           placeholders filled in, sent as {"workflow": <it>}
 * The sampler is translated for each built-in: "Euler a", "euler_a" and
 * "EULER-A" all become sd15 "EULER-A", sdxl "K_EULER_ANCESTRAL", a1111
 * "Euler a"; a name sdq does not know is passed on verbatim.
 *
 * User templates: <config_dir>/templates/<name>.json, any JSON object (a file
 * named like a built-in replaces it). These placeholders are filled in:
 *   {{prompt}} {{negative_prompt}} {{width}} {{height}} {{steps}} {{cfg}}
 *   {{seed}} {{sampler}} {{count}}
 * A string that is exactly one placeholder ("{{seed}}", spaces inside the
 * braces allowed) becomes the typed value: numbers stay numbers (cfg always
 * with a decimal point, seeds exact to 64 bits). An object member whose value
 * is exactly an unset placeholder is removed (in an array it becomes null).
 * Placeholders inside longer strings are replaced by their text (unset: empty).
 * An unknown placeholder is an error naming it. Unset means NULL or "" for
 * text, <= 0 for sizes, steps and count, has_cfg == 0, seed < 0.
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

#include <stdint.h>

#include "job.h"

/* The built-in template used when neither the job nor the endpoint names one. */
#define PARAMS_DEFAULT_TEMPLATE "sd15"

/* The backend "input" object for p as compact JSON text (malloc'd; the caller
 * frees it). tname NULL means p->template_name, then PARAMS_DEFAULT_TEMPLATE.
 * config_dir may be NULL (then only built-ins other than comfyui work). NULL
 * with *err set on a bad or unknown template, a missing or invalid template
 * file, an unknown placeholder, or extra_json that is not a JSON object. */
char *params_build_input(const struct job_params *p, const char *tname, const char *config_dir,
                         char **err);

/* 1 if params_build_input() would find template tname: a built-in (comfyui
 * only when its workflow file exists) or an existing user file; else 0. */
int params_template_known(const char *tname, const char *config_dir);

/* 1 if name is a well-formed template name ([A-Za-z0-9_-]{1,64}). */
int params_template_name_ok(const char *name);

/* The AUTOMATIC1111 "parameters" text for a PNG text chunk:
 *   "<prompt>\nNegative prompt: <neg>\nSteps: 20, Sampler: Euler a,
 *    CFG scale: 7, Seed: 42, Size: 512x512"
 * seed, width and height are the image's own (seed < 0 or a size <= 0: p's
 * value is used). Unset parts are left out, and the Negative prompt line when
 * there is none. Malloc'd; NULL only on ENOMEM. */
char *params_a1111_text(const struct job_params *p, int64_t seed, int width, int height);

/* `--set KEY=JSON`: set KEY to the JSON value in p->extra_json (created when
 * NULL). A value that is not valid JSON is taken as a string (`--set
 * style=vivid`); null is kept, so the merge removes KEY from the input. Dots
 * in KEY make nested objects: "a.b=1" sets {"a":{"b":1}}. 0, or -1 with *err
 * set (no "=", an empty key or key part, extra_json not an object). */
int params_parse_set(struct job_params *p, const char *key_eq_json, char **err);

/* The sampler name as a built-in template sends it ("sd15", "sdxl", "a1111"),
 * or sampler itself when there is no translation. Borrowed: a static string
 * or sampler. NULL for NULL. */
const char *params_sampler_for(const char *tname, const char *sampler);

#endif
