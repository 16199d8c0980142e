/*
 * view_compose.h: the compose form (n, e): the prompt and negative prompt as
 * multi-line editable fields, then seed, seeds, steps, CFG, sampler (its hint
 * lists the template's samplers; a name its worker lacks is refused), width,
 * height, count, endpoint and template. Up/Down on the first/last line of the
 * prompt recall earlier prompts.
 *
 * Variations as `sdq submit` takes them: {a|b|c} in the prompt or negative
 * makes one job per alternative (\{ \| \} are the characters), Seeds N makes
 * N jobs with consecutive seeds; the form shows the count as it is typed
 * ("6 jobs"), or why there is none (a nested or unclosed group, more than
 * VARY_MAX_JOBS). view_compose_submit makes the jobs and records them as one
 * group through core/jobset.h, the code `sdq submit` uses; ui.c asks the
 * question it returns before more than VIEW_COMPOSE_CONFIRM_JOBS.
 *
 * Fields per template: the form follows the template it would use (the
 * Template field, else the endpoint's, else the default; params.h's
 * params_placeholders): a field the template does not take is marked and
 * Tab passes it by; each of the template's own placeholders {{x}} gets a
 * field after Template, sent as `--set x=VALUE` is. Switching templates
 * keeps what was typed in every field.
 */
#ifndef SDQ_VIEW_COMPOSE_H
#define SDQ_VIEW_COMPOSE_H

#include <stddef.h>
#include "tui.h"
#include "job.h"

struct view_compose;
struct config;
struct engine;

/* More jobs than this from one Ctrl-S are asked about first. */
#define VIEW_COMPOSE_CONFIRM_JOBS 10

enum view_compose_result {
	VIEW_COMPOSE_CONTINUE, /* keep editing (redraw) */
	VIEW_COMPOSE_SUBMIT,   /* the user wants to submit: call view_compose_params */
	VIEW_COMPOSE_CANCEL,   /* the user cancelled (ask first if view_compose_changed) */
};

/* A new form prefilled from p (copied; NULL: empty). recent: earlier prompts,
 * newest first (copied). title: e.g. "New job" (copied). cfg (borrowed,
 * may be NULL): the endpoints for the field's hint, their templates and
 * the templates directory. NULL on ENOMEM. */
struct view_compose *view_compose_new(const struct job_params *p, char *const *recent,
                                      size_t nrecent, const char *title, struct config *cfg);
void view_compose_free(struct view_compose *vc);

/* Handle one key: code is a curses KEY_* code when is_key, else a character
 * (a Unicode code point). */
enum view_compose_result view_compose_key(struct view_compose *vc, int code, int is_key);

/* Insert pasted text (n bytes) into the current field: newlines stay in a
 * prompt and become spaces elsewhere; nothing submits or changes field. */
void view_compose_paste(struct view_compose *vc, const char *text, size_t n);

/* Draw the form into w (erased by the caller); the cursor position in w
 * goes to *cy and *cx. */
void view_compose_draw(struct view_compose *vc, WINDOW *w, int *cy, int *cx);

/* The parameters as typed, into *out (overwritten; the caller clears it with
 * job_params_clear). 0, or -1 with *err (malloc'd) naming the bad field, which
 * becomes the current one. */
int view_compose_params(struct view_compose *vc, struct job_params *out, char **err);

/* How many jobs the form stands for now ({a|b} groups x Seeds), for the
 * live count; 0 with *err (malloc'd) saying why there is none. */
size_t view_compose_count(const struct view_compose *vc, char **err);

enum view_compose_sent {
	VIEW_COMPOSE_SENT,     /* all recorded: *msg says so; close the form */
	VIEW_COMPOSE_ASK,      /* nothing recorded: *msg is the question (count and
	                          endpoint); call again with confirmed = 1 on yes */
	VIEW_COMPOSE_REFUSED,  /* nothing recorded: *msg is why (the bad field is
	                          the current one); the form stays and shows it
	                          on its message line until a field changes */
	VIEW_COMPOSE_PARTIAL,  /* some recorded, then *msg went wrong */
};
/* Make the jobs the form stands for (core/jobset.h: expanded, checked
 * against their template, then recorded through e as one group when there
 * are several). More than VIEW_COMPOSE_CONFIRM_JOBS and !confirmed: asks.
 * The Endpoint field is taken as `sdq submit -e` takes it: an endpoint of
 * the config, else a URL or RunPod endpoint id, else refused; a URL or id
 * that is not in the config (a typo: "default3") is asked about first,
 * naming where the jobs would go, whatever the count (the form warns while
 * it is typed), unless it is the one view_compose_set_meant named.
 * *first: the first job's id (0 if none); *msg: malloc'd, the caller frees
 * it. */
enum view_compose_sent view_compose_submit(struct view_compose *vc, struct engine *e,
                                           int confirmed, int64_t *first, char **msg);

/* endpoint (copied; NULL: none) was named on the command line (sdq -e):
 * the form takes it as meant, with no warning or question, though it is a
 * URL or id not in the config. */
void view_compose_set_meant(struct view_compose *vc, const char *endpoint);

/* 1 if the prompt or negative prompt differ from what the form opened with
 * (cancelling would lose typed text). */
int view_compose_changed(const struct view_compose *vc);

#endif
