/*
 * ui_compose.c: the compose form as a screen of the dashboard (M_COMPOSE):
 * open it (prefilled from a job or the newest), draw, keys, submit, close.
 * The form itself is view_compose.c.
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
#include "view_compose.h"

/* Parameters to prefill a new job with: the newest job's, less its prompt
 * and seed. */
static int ui_newest_params(struct ui *u, struct job_params *p)
{
	struct store_query q;
	struct job **l = NULL;
	size_t n = 0;
	job_params_init(p);
	memset(&q, 0, sizeof q);
	q.limit = 1;
	if (store_job_list(u->st, &q, &l, &n, NULL) == 0 && n == 1) {
		job_params_copy(p, &l[0]->params);
		free(p->prompt);
		p->prompt = NULL;
		p->seed = -1;
	}
	store_jobs_free(l, n);
	if (u->default_ep) {
		free(p->endpoint);
		p->endpoint = strdup(u->default_ep);
	}
	return 0;
}

void ui_compose_open(struct ui *u, const struct job *from)
{
	struct job_params p;
	char **recent = NULL;
	size_t nrecent = 0;
	if (from) {
		job_params_init(&p);
		job_params_copy(&p, &from->params);
	} else {
		ui_newest_params(u, &p);
	}
	store_recent_prompts(u->st, UI_RECENT_PROMPTS, &recent, &nrecent, NULL);
	char title[64];
	if (from)
		snprintf(title, sizeof title, "New job from #%lld", (long long)from->id);
	view_compose_free(u->vc);
	u->vc = view_compose_new(&p, recent, nrecent, from ? title : "New job", u->cfg);
	store_strings_free(recent, nrecent);
	job_params_clear(&p);
	if (!u->vc) {
		ui_msg(u, 1, "compose: out of memory");
		return;
	}
	/* sdq -e ID: the user named it, not a typo in the form */
	view_compose_set_meant(u->vc, u->default_ep);
	ui_set_mode(u, M_COMPOSE);
}

void ui_compose_close(struct ui *u)
{
	view_compose_free(u->vc);
	u->vc = NULL;
	ui_set_mode(u, M_MAIN);
}

void ui_compose_submit(struct ui *u, int confirmed)
{
	char *msg = NULL;
	int64_t id = 0;
	/* one job, or a group ({a|b}, Seeds): core/jobset.h, as sdq submit */
	enum view_compose_sent r = view_compose_submit(u->vc, u->e, confirmed, &id, &msg);
	if (r == VIEW_COMPOSE_ASK) {
		ui_confirm(u, CF_COMPOSE, 0, "%s", msg);
		free(msg);
		return;
	}
	if (r == VIEW_COMPOSE_REFUSED) {
		/* the form says why on its own message line (once: not also on
		 * the status line) */
		free(msg);
		return; /* stay in the form: nothing typed is lost */
	}
	ui_compose_close(u);
	joblist_select_id(u->jl, id);
	u->dirty |= D_LIST;
	if (r == VIEW_COMPOSE_PARTIAL)
		ui_err(u, "submit", &msg);
	else
		ui_msg(u, 0, "%s", msg ? msg : "submitted");
	free(msg);
}

void ui_compose_draw(struct ui *u)
{
	int cy = 0, cx = 0;
	preview_hide(u->pv);
	view_compose_draw(u->vc, u->wover, &cy, &cx);
	if (u->mode == M_COMPOSE) {
		u->cur_win = u->wover;
		u->cur_y = cy;
		u->cur_x = cx;
	}
}

void ui_compose_key(struct ui *u, int code, int is_key)
{
	if (is_key && code == KEY_MOUSE) {
		MEVENT ev;
		getmouse(&ev);
		return;
	}
	enum view_compose_result r = view_compose_key(u->vc, code, is_key);
	u->dirty |= D_PAINT;
	if (r == VIEW_COMPOSE_SUBMIT) {
		ui_compose_submit(u, 0);
	} else if (r == VIEW_COMPOSE_CANCEL) {
		if (view_compose_changed(u->vc))
			ui_confirm(u, CF_DISCARD, 0, "Discard the text you typed?");
		else
			ui_compose_close(u);
	}
}

void ui_compose_free(struct ui *u)
{
	view_compose_free(u->vc);
	u->vc = NULL;
}
