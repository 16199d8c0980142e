/*
 * ui_core.c: the dashboard's shared helpers (ui_int.h): messages on the
 * status line, modes, questions, the job list's reload and moves, the one-line
 * prompt and the image viewer opened. Calls nothing of the other ui files.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tui.h"
#include "backend.h"
#include "config.h"
#include "engine.h"
#include "job.h"
#include "store.h"
#include "text.h"
#include "util.h"
#include "preview.h"
#include "draw.h"
#include "keys.h"
#include "joblist.h"
#include "lineedit.h"
#include "ui_int.h"
#include "notify.h"
#include "view_image.h"

void ui_msg(struct ui *u, int is_err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(u->msg, sizeof u->msg, fmt, ap);
	va_end(ap);
	u->msg_err = is_err;
	u->msg_ep[0] = '\0';
	u->msg_until = job_now_ms() + (is_err ? UI_ERR_MS : UI_MSG_MS);
	u->dirty |= D_PAINT;
}

/* Show a core error (*err, freed here) with what failed. */
void ui_err(struct ui *u, const char *what, char **err)
{
	ui_msg(u, 1, "%s: %s", what, err && *err ? *err : "failed");
	if (err) {
		free(*err);
		*err = NULL;
	}
}

int ui_is_popup(enum ui_mode m)
{
	return m == M_CONFIRM || m == M_INPUT || m == M_FILTER;
}

/* Popups are drawn over a base mode: the one they were opened from. */
enum ui_mode ui_base(const struct ui *u)
{
	return ui_is_popup(u->mode) ? u->back_mode : u->mode;
}

int ui_is_over(enum ui_mode m)
{
	return m == M_COMPOSE || m == M_HELP || m == M_GALLERY || m == M_VIEW;
}

void ui_set_mode(struct ui *u, enum ui_mode m)
{
	enum ui_mode before = ui_base(u);
	if (ui_is_popup(m) && !ui_is_popup(u->mode))
		u->back_mode = u->mode;
	u->mode = m;
	enum ui_mode after = ui_base(u);
	if (before != after && (ui_is_over(before) || ui_is_over(after)))
		u->dirty |= D_LAYOUT;
	u->dirty |= D_PAINT;
}

void ui_confirm(struct ui *u, enum ui_confirm cf, int64_t id, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(u->cf_text, sizeof u->cf_text, fmt, ap);
	va_end(ap);
	u->cf = cf;
	u->cf_id = id;
	ui_set_mode(u, M_CONFIRM);
}

/* A store error of the job list goes on the status line. */
void ui_list_error(struct ui *u)
{
	char *err = joblist_error(u->jl);
	if (err)
		ui_msg(u, 1, "%s", err);
	free(err);
	u->dirty |= D_PAINT;
}

/* Re-read the list (the window's height sets the page size). */
void ui_reload(struct ui *u)
{
	joblist_set_rows(u->jl, u->wtable ? getmaxy(u->wtable) : LINES);
	joblist_reload(u->jl);
	notify_step(u->nt, u->st, STDOUT_FILENO); /* the last live job of a batch ended? */
	ui_list_error(u);
}

void ui_move(struct ui *u, long delta)
{
	joblist_move(u->jl, delta);
	ui_list_error(u);
}

void ui_apply_search(struct ui *u, const char *s)
{
	joblist_set_search(u->jl, s);
	u->dirty |= D_LIST;
}

/* Open a one-line prompt in the status line: the line editor of the compose
 * form, prefilled with init and that selected (typing replaces it). */
void ui_input_open(struct ui *u, enum ui_input in, const char *init)
{
	struct lineedit *e = lineedit_new(init, 0);
	if (!e) {
		ui_msg(u, 1, "out of memory");
		return;
	}
	lineedit_select_all(e);
	lineedit_free(u->in_ed);
	u->in_ed = e;
	u->in = in;
	ui_set_mode(u, M_INPUT);
}

/* Open the image viewer on job j: a mode of the loop like the others, so
 * jobs keep moving while it shows. */
void ui_view(struct ui *u, const struct job *j)
{
	if (!j || j->n_outputs == 0) {
		ui_msg(u, 1, "view: job %lld has no image", j ? (long long)j->id : 0LL);
		return;
	}
	struct view_image *v = view_image_new(j);
	if (!v) {
		ui_msg(u, 1, "view: out of memory");
		return;
	}
	view_image_free(u->vi);
	u->vi = v;
	u->view_back = ui_base(u) == M_GALLERY ? M_GALLERY : M_MAIN;
	ui_set_mode(u, M_VIEW);
}
