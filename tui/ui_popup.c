/*
 * ui_popup.c: the dashboard's popups, drawn over the screen they were
 * opened from: the yes/no question (M_CONFIRM) and what a yes does, the
 * one-line prompt of / and s (M_INPUT), the state filter (M_FILTER); and
 * the help screen (M_HELP).
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
#include "view_help.h"

static const struct {
	int key;
	const char *name;
	int mask;
	int live;
} ui_filters[] = {
    {'a', "all", 0, 0},
    {'l', "live", 0, 1},
    {'q', "IN_QUEUE", 1 << JOB_IN_QUEUE, 0},
    {'p', "IN_PROGRESS", 1 << JOB_IN_PROGRESS, 0},
    {'c', "COMPLETED", 1 << JOB_COMPLETED, 0},
    {'f', "failed",
     (1 << JOB_FAILED) | (1 << JOB_TIMED_OUT) | (1 << JOB_SUBMIT_FAILED) | (1 << JOB_EXPIRED) |
         (1 << JOB_UNKNOWN),
     0},
    {'x', "CANCELLED", 1 << JOB_CANCELLED, 0},
};
#define UI_NFILTERS (sizeof ui_filters / sizeof ui_filters[0])

void ui_paint_confirm(struct ui *u)
{
	int wd = (int)text_utf8_width(u->cf_text) + 6;
	if (wd < 40)
		wd = 40;
	int rows = draw_wrap_rows(u->cf_text, wd - 4);
	WINDOW *p = draw_popup(rows + 4, wd, "Confirm");
	if (!p)
		return;
	int pw = getmaxx(p);
	draw_wrap(p, 1, 2, pw - 4, getmaxy(p) - 3, u->cf_text, A_BOLD);
	draw_put(p, getmaxy(p) - 2, 2, pw - 4, "y: yes   n/Esc: no", draw_attr(DRAW_DIM));
	draw_popup_show(p);
}

void ui_paint_filter(struct ui *u)
{
	WINDOW *p = draw_popup((int)UI_NFILTERS + 3, 68, "Filter by state");
	if (!p)
		return;
	static const char *what[] = {"every job",
	                             "pending, queued, running",
	                             "waiting for a worker",
	                             "running",
	                             "finished with images",
	                             "FAILED TIMED_OUT SUBMIT_FAILED EXPIRED UNKNOWN",
	                             "cancelled"};
	for (size_t i = 0; i < UI_NFILTERS; i++) {
		char b[96];
		snprintf(b, sizeof b, "%c  %-12s %s", ui_filters[i].key, ui_filters[i].name,
		         what[i]);
		draw_put(p, 1 + (int)i, 2, getmaxx(p) - 4, b,
		         u->filter_name == ui_filters[i].name ? A_BOLD : 0);
	}
	draw_put(p, getmaxy(p) - 1, 2, getmaxx(p) - 4, " Esc: keep ", draw_attr(DRAW_DIM));
	draw_popup_show(p);
}

static void ui_confirmed(struct ui *u, int yes)
{
	enum ui_confirm cf = u->cf;
	int64_t id = u->cf_id;
	char *err = NULL;
	ui_set_mode(u, u->back_mode);
	switch (cf) {
	case CF_CANCEL:
		if (yes) {
			if (engine_cancel(u->e, id, &err) < 0)
				ui_err(u, "cancel", &err);
			else
				ui_msg(u, 0, "cancelling job %lld", (long long)id);
		}
		break;
	case CF_DELETE:
		if (yes && u->cf_files > 0)
			ui_confirm(u, CF_DELETE_FILES, id, "Also delete its %d image file%s?",
			           u->cf_files, u->cf_files == 1 ? "" : "s");
		else if (yes)
			ui_delete(u, id, 0);
		break;
	case CF_DELETE_FILES:
		ui_delete(u, id, yes);
		break;
	case CF_QUIT:
		if (yes)
			u->quit = 1;
		break;
	case CF_DISCARD:
		if (yes)
			ui_compose_close(u);
		break;
	case CF_GROUP_CANCEL:
	case CF_GROUP_RERUN:
	case CF_GROUP_DELETE:
	case CF_GROUP_DELETE_FILES:
		ui_group_confirmed(u, cf, id, yes);
		break;
	case CF_COMPOSE: /* back in the form: yes submits the group, no edits on */
		if (yes)
			ui_compose_submit(u, 1);
		break;
	case CF_RERUN:
		if (yes) {
			int64_t nid = engine_rerun(u->e, id, &err);
			if (!nid) {
				ui_err(u, "re-run", &err);
			} else {
				ui_msg(u, 0, "job %lld re-run as job %lld", (long long)id,
				       (long long)nid);
				joblist_select_id(u->jl, nid);
				u->dirty |= D_LIST;
			}
		}
		break;
	}
}

static void ui_input_done(struct ui *u, int accept)
{
	struct lineedit *e = u->in_ed;
	u->in_ed = NULL;
	ui_set_mode(u, u->back_mode);
	if (u->in == IN_SEARCH) {
		if (!accept)
			ui_apply_search(u, u->search_before);
		free(u->search_before);
		u->search_before = NULL;
	} else {
		struct job *j = joblist_selected(u->jl);
		const char *t = e ? lineedit_text(e) : "";
		if (accept && j && *t)
			ui_save(u, j, t);
	}
	lineedit_free(e);
}

void ui_input_key(struct ui *u, int code, int is_key)
{
	if (!is_key && (code == 27 || code == 7)) {
		ui_input_done(u, 0);
		return;
	}
	if ((!is_key && (code == '\r' || code == '\n')) || (is_key && code == KEY_ENTER)) {
		ui_input_done(u, 1);
		return;
	}
	if (is_key && code == KEY_MOUSE) {
		MEVENT ev;
		getmouse(&ev);
		return;
	}
	u->dirty |= D_PAINT;
	if (lineedit_key(u->in_ed, code, is_key) == LINEEDIT_CHANGED && u->in == IN_SEARCH)
		ui_apply_search(u, lineedit_text(u->in_ed)); /* results as you type */
}

void ui_input_free(struct ui *u)
{
	lineedit_free(u->in_ed);
	u->in_ed = NULL;
}

void ui_confirm_key(struct ui *u, int code, int is_key)
{
	if (code == 'y' || code == 'Y')
		ui_confirmed(u, 1);
	else if (code == 'n' || code == 'N' || code == 27 || code == 'q' || code == 7)
		ui_confirmed(u, 0);
}

void ui_filter_key(struct ui *u, int code, int is_key)
{
	ui_set_mode(u, u->back_mode);
	for (size_t i = 0; i < UI_NFILTERS; i++) {
		if (!is_key && code == ui_filters[i].key) {
			joblist_set_filter(u->jl, ui_filters[i].mask, ui_filters[i].live);
			u->filter_name = i == 0 ? NULL : ui_filters[i].name;
			u->dirty |= D_LIST;
			break;
		}
	}
}

void ui_help_draw(struct ui *u)
{
	preview_hide(u->pv);
	view_help_draw(u->wover, &u->help_scroll);
}

void ui_help_key(struct ui *u, int code, int is_key)
{
	if (code == 'j' || (is_key && code == KEY_DOWN))
		u->help_scroll++;
	else if (code == 'k' || (is_key && code == KEY_UP))
		u->help_scroll--;
	else if (code == ' ' || (is_key && code == KEY_NPAGE))
		u->help_scroll += LINES - 4;
	else if (is_key && code == KEY_PPAGE)
		u->help_scroll -= LINES - 4;
	else if (!(is_key && code == KEY_MOUSE))
		ui_set_mode(u, M_MAIN);
	u->dirty |= D_PAINT;
}
