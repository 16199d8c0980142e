/*
 * vary.h: one submit that stands for several jobs (a seed sweep, a prompt
 * matrix, an X/Y grid), as the CLI and the compose form write it, expanded
 * into the jobs of one group.
 *
 * What varies is a list of axes; the jobs are every combination, the first
 * axis slowest and the last fastest (nested loops), so the order is stable:
 *   1. each {a|b|c} group of the prompt, left to right ("prompt{1}", ...),
 *   2. each group of the negative prompt ("negative{1}", ...),
 *   3. each --vary KEY=V1,V2,... in the order given (KEY: steps, cfg,
 *      sampler, width, height, count, seed, template, or any --set key),
 *   4. --seeds N ("seed": the base seed, base + 1, ..., base + N - 1).
 * Every job of a group gets the same seed unless "seed" varies: the front
 * end picks one for them all when the user gave none.
 * Example: "a {red|blue} car" with --vary steps=20,30 is four jobs: red/20,
 * red/30, blue/20, blue/30.
 *
 * Prompt syntax: "{" opens a group, "|" separates its alternatives, "}"
 * closes it; an alternative may be empty. "\{", "\|" and "\}" are the
 * literal characters anywhere (every other backslash is kept as typed, so
 * A1111's "\(" still works). A pair of braces with no "|" inside is kept as
 * typed ("{masterpiece}"), a "|" outside braces too (A1111's "[a|b]").
 * Errors: a "{" inside a group (groups do not nest), a "{" never closed, a
 * "}" that closes nothing.
 *
 * --vary values: separated by ",", "\," is a literal comma; a value "A-B:S"
 * (three numbers >= 0, A <= B, S > 0) is the range A, A+S, ... up to B, for
 * every key but sampler and template (decimals are kept exact: "5-6:0.5" is
 * 5, 5.5, 6; "10,20-40:10" is 10, 20, 30, 40). Numeric keys are checked as submit checks them (steps 1..10000,
 * cfg 0..100, width and height 8..16384, count 1..100, seed >= 0).
 *
 * No curses, no store: the dashboard's compose form can call vary_new,
 * vary_set_prompt and vary_count on every key for a live "6 jobs".
 * Errors are malloc'd in *err (util.h's convention); nothing is printed.
 */
#ifndef SDQ_VARY_H
#define SDQ_VARY_H

#include <stddef.h>
#include <stdint.h>

#include "job.h"

/* The most jobs one submit may stand for (a hard cap: more is an error). */
#define VARY_MAX_JOBS 10000
/* The most jobs a front end submits without asking (the CLI's --yes). */
#define VARY_CONFIRM_JOBS 100

struct vary;

/* A new, empty set of variations (one job, no axis). NULL on ENOMEM. */
struct vary *vary_new(void);
/* Free v. Accepts NULL. */
void vary_free(struct vary *v);

/* Parse the {a|b} groups of the prompt / the negative prompt (NULL: none)
 * and replace any set before. 0, or -1 with *err naming the byte offset of
 * the problem; v is unchanged then. */
int vary_set_prompt(struct vary *v, const char *prompt, char **err);
int vary_set_negative(struct vary *v, const char *negative, char **err);

/* --seeds N (1..VARY_MAX_JOBS): the N consecutive seeds base, base + 1, ...,
 * base + N - 1 (base >= 0; the caller picks a random one when the user gave
 * none). 0, or -1 with *err (out of range, "seed" already varies, too many
 * jobs). */
int vary_set_seeds(struct vary *v, int64_t base, long n, char **err);

/* --vary KEY=V1,V2,... (see above). 0, or -1 with *err: no "=", an empty key
 * or value, "prompt"/"negative" (use {a|b}), a key given twice, a value out
 * of range, a bad range, not UTF-8, or more than VARY_MAX_JOBS jobs. */
int vary_add(struct vary *v, const char *key_eq_values, char **err);

/* The number of jobs v stands for: 1 with no axis, at most VARY_MAX_JOBS. */
size_t vary_count(const struct vary *v);

/* The axes, in the order above: their number, and for axis a its key
 * ("prompt{1}", "negative{2}", "steps", "seed", "style.strength"), its
 * number of values and value k as text. Borrowed, valid until v changes or
 * is freed; NULL when out of range. */
size_t vary_naxes(const struct vary *v);
const char *vary_axis_key(const struct vary *v, size_t a);
size_t vary_axis_len(const struct vary *v, size_t a);
const char *vary_axis_value(const struct vary *v, size_t a, size_t k);

/* The index (0..len-1) on axis a of job i (0 <= i < vary_count). */
size_t vary_index(const struct vary *v, size_t i, size_t a);

/* Make p job i of v: p holds the base parameters (the prompt and negative
 * prompt as typed, with their groups) and gets job i's prompt, negative
 * prompt, steps, ... and --set keys. 0, or -1 with *err (a --set value the
 * template input cannot take, ENOMEM); p may be partly changed then. */
int vary_apply(const struct vary *v, size_t i, struct job_params *p, char **err);

/* Job i's values as a JSON object, key -> value in axis order (numbers as
 * numbers, exactly as typed; --set values as their JSON): {"prompt{1}":
 * "red","steps":20}. "{}" with no axis. Malloc'd; NULL on ENOMEM. */
char *vary_variant_json(const struct vary *v, size_t i);

/* The axes as a JSON array: [{"key":"prompt{1}","values":["red","blue"]},
 * {"key":"steps","values":[20,30]}]. Malloc'd; NULL on ENOMEM. */
char *vary_axes_json(const struct vary *v);

/* The number of jobs prompt and negative (either may be NULL) expand to,
 * for a live count: 1 with no group; 0 with *err set when either is
 * malformed or the product passes VARY_MAX_JOBS. */
size_t vary_prompt_count(const char *prompt, const char *negative, char **err);

#endif
