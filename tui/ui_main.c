/*
 * ui_main.c: the jobs table screen (M_MAIN): the table, the detail pane and
 * the preview, its keys and their actions (on a job, or on a whole group
 * from its row: groupact.h), the mouse; the gallery (M_GALLERY: every job,
 * or a group's by axes) and the image viewer (M_VIEW) opened from it.
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
#include <sys/stat.h>
#include "child.h"
#include "gallery.h"
#include "groupact.h"
#include "jobfiles.h"
#include "notify.h"
#include "osc52.h"
#include "view_detail.h"
#include "view_image.h"
#include "view_jobs.h"
#include "waitlist.h"
#include "waitwhy.h"

/* Why job j waits, with the endpoint's health this engine has: a line for
 * the detail pane, or NULL when it does not wait. Cached per job for 1 s. */
static const char *ui_waiting(struct ui *u, const struct job *j, int64_t now)
{
	if (!j || !job_state_is_live(j->state) || j->state == JOB_IN_PROGRESS)
		return NULL;
	if (j->id != u->why_id || now - u->why_at >= 1000 || now < u->why_at) {
		struct waitwhy w;
		const char *ep = j->endpoint ? j->endpoint : j->params.endpoint;
		u->why_id = j->id;
		u->why_at = now;
		u->why[0] = '\0';
		if (waitwhy_gather(u->st, j, ep ? engine_health(u->e, ep) : NULL, now, &w, NULL) ==
		        0 &&
		    w.waiting)
			waitwhy_format(&w, u->why, sizeof u->why);
	}
	return u->why[0] ? u->why : NULL;
}

/* The detail pane, drawn into a tall pad and shown from row dscroll (J/K). */
static void ui_paint_detail(struct ui *u, const struct job *j, int64_t now)
{
	int h, W;
	getmaxyx(u->wdetail, h, W);
	werase(u->wdetail);
	if (!j || j->id != u->dscroll_id) {
		u->dscroll = 0;
		u->dscroll_id = j ? j->id : 0;
	}
	/* One pad, kept while the width stays: a new pad of UI_DETAIL_MAX
	 * rows on every paint was most of a repaint's time (speed's
	 * bench_dashboard); only the rows the last job used are cleared. */
	if (u->dpad && getmaxx(u->dpad) != W) {
		delwin(u->dpad);
		u->dpad = NULL;
	}
	if (!u->dpad) {
		u->dpad = newpad(UI_DETAIL_MAX, W);
		u->dpad_used = 0;
	}
	WINDOW *pad = u->dpad;
	if (!pad) {
		view_detail_draw(u->wdetail, j, now, store_job_waits_for_key(u->st, j),
		                 ui_waiting(u, j, now));
		wnoutrefresh(u->wdetail);
		return;
	}
	for (int r = 0; r < u->dpad_used && r < UI_DETAIL_MAX; r++) {
		wmove(pad, r, 0);
		wclrtoeol(pad);
	}
	int used = view_detail_draw(pad, j, now, store_job_waits_for_key(u->st, j),
	                            ui_waiting(u, j, now));
	u->dpad_used = used + 1;
	if (u->dscroll > used - h)
		u->dscroll = used - h;
	if (u->dscroll < 0)
		u->dscroll = 0;
	copywin(pad, u->wdetail, u->dscroll, 0, 0, 0, h - 1, W - 1, FALSE);
	if (used > h) { /* say there is more, and where */
		char m[48];
		snprintf(m, sizeof m, " %s J/K ",
		         u->dscroll + h < used ? (u->dscroll ? "more" : "more below")
		                               : "more above");
		int mw = (int)strlen(m);
		draw_put(u->wdetail, h - 1, W - mw, mw, m, draw_attr(DRAW_HEADER));
	}
	wnoutrefresh(u->wdetail);
}

/* Why a row's job waits, in a few words (waitlist.h: the store is read at
 * most once a second for all the rows). */
static const char *ui_row_reason(void *ctx, const struct job *j)
{
	struct ui *u = ctx;
	const char *ep = j->endpoint ? j->endpoint : j->params.endpoint;
	return u->wl ? waitlist_reason(u->wl, j, ep ? engine_health(u->e, ep) : NULL, job_now_ms())
	             : NULL;
}

/* A group's prompt as typed, for its row (read once per group). */
static const char *ui_group_prompt(void *ctx, int64_t gid)
{
	struct ui *u = ctx;
	const struct store_group *g = joblist_group_info(u->jl, gid);
	return g ? g->prompt : NULL;
}

/* The jobs table, the selected job's detail and its preview. */
void ui_main_draw(struct ui *u)
{
	int64_t now = job_now_ms();
	size_t n, nrows, nlive;
	struct job **jobs = joblist_jobs(u->jl, &n);
	const struct joblist_row *rows = joblist_rows(u->jl, &nrows);
	const int64_t *live = joblist_live(u->jl, &nlive);
	const char *search = joblist_search(u->jl);
	struct view_jobs_info info = {live, nlive, joblist_more(u->jl), now, ui_row_reason, u,
	                              ui_group_prompt};
	werase(u->wtable);
	view_jobs_draw(u->wtable, jobs, rows, nrows, joblist_sel_row(u->jl), joblist_top(u->jl),
	               &info,
	               search && *search ? "No job matches the search."
	               : joblist_state_mask(u->jl) || joblist_live_only(u->jl)
	                   ? "No job in this state (f: change the filter)."
	                   : "No jobs yet. Press n to compose one.");
	wnoutrefresh(u->wtable);
	struct job *j = joblist_selected(u->jl);
	if (u->wdetail)
		ui_paint_detail(u, j, now);
	int popup = u->mode == M_CONFIRM || u->mode == M_FILTER;
	if (u->wprev) {
		werase(u->wprev);
		if (popup)
			preview_hide(u->pv);
		else
			preview_place(u->pv, u->wprev, j);
		wnoutrefresh(u->wprev);
	} else {
		preview_hide(u->pv);
	}
}

/* Over SSH ($SSH_CONNECTION or $SSH_TTY) an image viewer would open on the
 * remote machine, where nobody sits. */
static int ui_remote(void)
{
	const char *c = getenv("SSH_CONNECTION"), *t = getenv("SSH_TTY");
	return (c && *c) || (t && *t);
}

/* o over SSH: put the path on the clipboard of the terminal the user sits
 * at (OSC 52, sent after the next frame), and say where it is either way;
 * when the terminal is known not to take OSC 52, say so and what to do. */
static void ui_copy_path(struct ui *u, const char *path)
{
	const char *why = NULL;
	int usable = osc52_usable(&why);
	if (usable == 0) {
		ui_msg(u, 1,
		       "over SSH, not opened (it would open on the remote machine), and this "
		       "terminal does not take clipboard copies (OSC 52)%s%s; the image is %s",
		       why ? ": " : "", why ? why : "", path);
		return;
	}
	size_t len = 0;
	char *seq = osc52_sequence(path, &len);
	if (!seq) {
		ui_msg(u, 1, "copy: the path is too long for the clipboard; the image is %s", path);
		return;
	}
	free(u->osc);
	u->osc = seq;
	u->dirty |= D_PAINT;
	if (usable > 0)
		ui_msg(u, 0, "over SSH: copied the path to your clipboard: %s", path);
	else if (why)
		ui_msg(u, 0,
		       "over SSH: sent the path to your clipboard, if your terminal allows OSC 52 "
		       "(%s): %s",
		       why, path);
	else
		ui_msg(
		    u, 0,
		    "over SSH: sent the path to your clipboard, if your terminal allows OSC 52: %s",
		    path);
}

/* Open path with $SDQ_OPEN (split on blanks, no shell) or xdg-open,
 * detached through core/child (a new session, output to /dev/null, not
 * waited for). */
static void ui_open(struct ui *u, const char *path)
{
	const char *spec = getenv("SDQ_OPEN");
	if (!spec || !*spec)
		spec = "xdg-open";
	char *copy = strdup(spec);
	char *argv[34];
	int argc = 0;
	for (char *t = copy ? strtok(copy, " \t") : NULL; t && argc < 32; t = strtok(NULL, " \t"))
		argv[argc++] = t;
	char *exe = argc ? util_find_exe(argv[0], NULL) : NULL;
	if (!exe) {
		ui_msg(u, 1, "open: %s not found: set SDQ_OPEN to an image viewer",
		       argc ? argv[0] : spec);
		free(copy);
		return;
	}
	free(exe);
	argv[argc++] = (char *)path;
	argv[argc] = NULL;
	struct child_opts o;
	char *err = NULL;
	memset(&o, 0, sizeof o);
	o.argv = argv;
	o.out = o.err = CHILD_IO_NULL;
	if (child_spawn_detached(&o, &err) == 0)
		ui_msg(u, 0, "opening %s with %s", path, argv[0]);
	else
		ui_msg(u, 1, "open: %s", err ? err : "cannot start the viewer");
	free(err);
	free(copy);
}

/* Save job j's images to what the user typed (jobfiles_save); the message
 * says what happened, and the next save starts in the same directory. */
void ui_save(struct ui *u, const struct job *j, const char *typed)
{
	char *msg = NULL, *dir = NULL;
	int rc = jobfiles_save(j, typed, &msg, &dir);
	ui_msg(u, rc < 0, "%s", msg ? msg : "save: out of memory");
	if (dir) {
		free(u->save_dir);
		u->save_dir = dir;
	}
	free(msg);
}

void ui_delete(struct ui *u, int64_t id, int files)
{
	char *err = NULL;
	struct job *j = store_job_get(u->st, id, &err);
	if (!j) {
		ui_err(u, "delete", &err);
		return;
	}
	if (store_job_delete(u->st, id, &err) < 0) {
		ui_err(u, "delete", &err);
		job_free(j);
		return;
	}
	size_t gone = 0, failed = 0;
	for (size_t i = 0; files && i < j->n_outputs; i++) {
		if (j->outputs[i].path && unlink(j->outputs[i].path) == 0)
			gone++;
		else
			failed++;
	}
	if (failed)
		ui_msg(u, 1, "job %lld deleted; %zu of its files could not be removed",
		       (long long)id, failed);
	else if (files)
		ui_msg(u, 0, "job %lld and %zu file%s deleted", (long long)id, gone,
		       gone == 1 ? "" : "s");
	else
		ui_msg(u, 0, "job %lld deleted (its files are kept)", (long long)id);
	job_free(j);
	u->dirty |= D_LIST;
}

/* Local sd jobs this process would stop by quitting. */
static int ui_local_running(struct ui *u)
{
	if (!engine_is_driver(u->e))
		return 0;
	struct store_query q;
	struct job **l = NULL;
	size_t n = 0;
	int local = 0;
	memset(&q, 0, sizeof q);
	q.live_only = 1;
	q.limit = UI_LIVE_MAX;
	if (store_job_list(u->st, &q, &l, &n, NULL) == 0)
		for (size_t i = 0; i < n; i++)
			if (l[i]->backend &&
			    !(backend_kind_caps(l[i]->backend) & BACKEND_SURVIVES_DRIVER))
				local++;
	store_jobs_free(l, n);
	return local;
}

static void ui_quit_request(struct ui *u)
{
	int local = ui_local_running(u);
	if (local > 0)
		ui_confirm(u, CF_QUIT, 0,
		           "%d local sd job%s run%s in this process and would be stopped "
		           "(the next driver starts %s again). Quit anyway?",
		           local, local == 1 ? "" : "s", local == 1 ? "s" : "",
		           local == 1 ? "it" : "them");
	else
		u->quit = 1;
}

/* Where job j would run again, for a question ("endpoint NAME (URL)", "the
 * local sd-cli NAME"): a job goes to the destination it recorded at submit
 * (its URL), whatever its endpoint's name means in the config now. Returns
 * 1 for a local backend (not billed). */
static int ui_where(struct ui *u, const struct job *j, char *where, size_t size)
{
	const char *name = j->endpoint ? j->endpoint : j->params.endpoint;
	const char *url = j->endpoint_url;
	const struct config_endpoint *ep = name ? config_endpoint(u->cfg, name) : NULL;
	if (!url && ep)
		url = ep->url;
	int local = j->backend && !(backend_kind_caps(j->backend) & BACKEND_REMOTE_HEALTH);
	if (local)
		snprintf(where, size, "the local sd-cli %s", name ? name : "");
	else if (url && name && strcmp(name, url) != 0)
		snprintf(where, size, "endpoint %s (%s)", name, url);
	else
		snprintf(where, size, "endpoint %s", url ? url : name ? name : "(default)");
	return local;
}

/* r starts a new (paid) job: ask first, naming where it goes. */
static void ui_rerun_ask(struct ui *u, const struct job *j)
{
	char where[600];
	int local = ui_where(u, j, where, sizeof where);
	int n = j->params.count > 0 ? j->params.count : 1;
	ui_confirm(u, CF_RERUN, j->id,
	           "Re-run job %lld on %s? It starts a new job of %d image%s%s.", (long long)j->id,
	           where, n, n == 1 ? "" : "s", local ? "" : " (billed by the endpoint)");
}

/* c, r, d on a group's row: ask about the whole group, naming how many jobs
 * and where (the store's count, not only the jobs the window holds). */
static void ui_group_ask(struct ui *u, const struct joblist_group *g, const struct job *j,
                         enum keys_action a)
{
	struct groupact_info gi;
	char *err = NULL, where[600];
	long long id = (long long)g->id;
	if (groupact_info(u->st, g->id, &gi, &err) < 0) {
		ui_err(u, "group", &err);
		return;
	}
	int local = 0;
	if (strchr(gi.endpoint, ' ')) /* "2 endpoints" */
		snprintf(where, sizeof where, "%s", gi.endpoint);
	else
		local = ui_where(u, j, where, sizeof where);
	if (a == KA_CANCEL && gi.live == 0)
		ui_msg(u, 1, "cancel: group %lld has no live jobs", id);
	else if (a == KA_CANCEL)
		ui_confirm(u, CF_GROUP_CANCEL, g->id,
		           "Cancel the %zu live job%s of group %lld (%zu jobs) on %s?", gi.live,
		           gi.live == 1 ? "" : "s", id, gi.n, where);
	else if (a == KA_RERUN)
		ui_confirm(u, CF_GROUP_RERUN, g->id,
		           "Re-run group %lld on %s? It starts %zu new job%s as a new group%s.", id,
		           where, gi.n, gi.n == 1 ? "" : "s", local ? "" : " (billed by the endpoint)");
	else if (gi.live == gi.n)
		ui_msg(u, 1, "delete: the jobs of group %lld are live; cancel them first (c)", id);
	else {
		u->cf_files = (int)gi.files;
		ui_confirm(u, CF_GROUP_DELETE, g->id,
		           "Delete the %zu finished job%s of group %lld (%s) from the history?%s",
		           gi.n - gi.live, gi.n - gi.live == 1 ? "" : "s", id, where,
		           gi.live ? " Its live jobs stay." : "");
	}
}

static void ui_group_delete(struct ui *u, int64_t gid, int files)
{
	size_t deleted, gone, failed;
	char *err = NULL;
	int rc = groupact_delete(u->st, gid, files, &deleted, &gone, &failed, &err);
	if (rc < 0)
		ui_err(u, "delete", &err);
	else if (failed)
		ui_msg(u, 1, "group %lld: %zu jobs deleted; %zu of their files could not be removed",
		       (long long)gid, deleted, failed);
	else if (files)
		ui_msg(u, 0, "group %lld: %zu jobs and %zu files deleted", (long long)gid, deleted,
		       gone);
	else
		ui_msg(u, 0, "group %lld: %zu jobs deleted (their files are kept)", (long long)gid,
		       deleted);
	u->dirty |= D_LIST;
}

/* The confirmed group actions (ui_group_ask). */
void ui_group_confirmed(struct ui *u, enum ui_confirm cf, int64_t gid, int yes)
{
	char *err = NULL;
	size_t n = 0;
	int64_t *ids = NULL, ng;
	switch (cf) {
	case CF_GROUP_CANCEL:
		if (!yes)
			break;
		if (groupact_cancel(u->e, u->st, gid, &n, &err) < 0)
			ui_err(u, "cancel", &err);
		else
			ui_msg(u, 0, "cancelling %zu job%s of group %lld", n, n == 1 ? "" : "s",
			       (long long)gid);
		break;
	case CF_GROUP_RERUN:
		if (!yes)
			break;
		ng = groupact_rerun(u->e, u->st, gid, &ids, &n, &err);
		if (!ng || err)
			ui_err(u, "re-run", &err);
		if (ng) {
			if (!u->msg_err || !u->msg[0])
				ui_msg(u, 0, "group %lld re-run as group %lld (%zu jobs)",
				       (long long)gid, (long long)ng, n);
			joblist_select_id(u->jl, ids[0]);
			u->dirty |= D_LIST;
		}
		free(ids);
		break;
	case CF_GROUP_DELETE:
		if (yes && u->cf_files > 0)
			ui_confirm(u, CF_GROUP_DELETE_FILES, gid, "Also delete their %d image file%s?",
			           u->cf_files, u->cf_files == 1 ? "" : "s");
		else if (yes)
			ui_group_delete(u, gid, 0);
		break;
	case CF_GROUP_DELETE_FILES:
		ui_group_delete(u, gid, yes);
		break;
	default:
		break;
	}
}

/* t on a group's row: its gallery by axes, from the store (all its jobs,
 * whatever the window holds). 0, or -1 with a message. */
static int ui_group_gallery(struct ui *u, const struct joblist_group *g)
{
	struct store_query q;
	struct job **l = NULL;
	size_t n = 0;
	char *err = NULL;
	const struct store_group *info = joblist_group_info(u->jl, g->id);
	memset(&q, 0, sizeof q);
	q.group_id = g->id;
	q.oldest_first = 1;
	if (store_job_list(u->st, &q, &l, &n, &err) < 0) {
		ui_err(u, "gallery", &err);
		return -1;
	}
	gallery_axes_free(u->gax);
	u->gax = gallery_axes_new(g->id, info ? info->axes_json : NULL, l, n);
	store_jobs_free(l, n);
	if (!u->gax) {
		ui_msg(u, 1, "gallery: out of memory");
		return -1;
	}
	return 0;
}

static void ui_main_action(struct ui *u, enum keys_action a)
{
	struct job *j = joblist_selected(u->jl);
	const struct joblist_group *g = joblist_selected_group(u->jl);
	char *err = NULL;
	int page = view_jobs_page(u->wtable ? getmaxy(u->wtable) : LINES - 3);
	if (g && (a == KA_CANCEL || a == KA_RERUN || a == KA_DELETE)) {
		ui_group_ask(u, g, j, a);
		return;
	}
	if (g && a == KA_RETRY) {
		ui_msg(u, 1, "retry: one job at a time (l shows the group's jobs)");
		return;
	}
	switch (a) {
	case KA_EXPAND:
		if (g)
			joblist_expand(u->jl, g->id, 1);
		u->dirty |= D_PAINT;
		break;
	case KA_COLLAPSE: {
		size_t nr;
		const struct joblist_row *r = joblist_rows(u->jl, &nr);
		size_t at = joblist_sel_row(u->jl);
		if (at < nr && r[at].group)
			joblist_expand(u->jl, r[at].group->id, 0);
		u->dirty |= D_PAINT;
	} break;
	case KA_DOWN:
		ui_move(u, 1);
		break;
	case KA_UP:
		ui_move(u, -1);
		break;
	case KA_PGDN:
		ui_move(u, page);
		break;
	case KA_PGUP:
		ui_move(u, -page);
		break;
	case KA_TOP:
		joblist_first(u->jl);
		ui_list_error(u);
		break;
	case KA_BOTTOM:
		joblist_last(u->jl);
		ui_list_error(u);
		break;
	case KA_DETAIL:
		u->detail = !u->shown;
		u->dirty |= D_LAYOUT;
		break;
	case KA_DETAIL_DOWN:
	case KA_DETAIL_UP:
		if (!u->shown) {
			u->detail = 1;
			u->dirty |= D_LAYOUT;
		} else {
			int step = u->wdetail ? getmaxy(u->wdetail) / 2 : 5;
			u->dscroll +=
			    a == KA_DETAIL_DOWN ? (step > 0 ? step : 1) : -(step > 0 ? step : 1);
			if (u->dscroll < 0)
				u->dscroll = 0;
			u->dirty |= D_PAINT;
		}
		break;
	case KA_COMPOSE:
		ui_compose_open(u, NULL);
		break;
	case KA_EDIT:
		if (j)
			ui_compose_open(u, j);
		break;
	case KA_RERUN:
		if (j)
			ui_rerun_ask(u, j);
		break;
	case KA_RETRY:
		if (j && (j->state == JOB_FAILED || j->state == JOB_TIMED_OUT)) {
			if (engine_retry(u->e, j->id, &err) < 0)
				ui_err(u, "retry", &err);
			else
				ui_msg(u, 0, "asked the endpoint to retry job %lld",
				       (long long)j->id);
		} else if (j) {
			ui_msg(u, 1,
			       "retry: only FAILED or TIMED_OUT jobs can be retried (r re-runs)");
		}
		break;
	case KA_CANCEL:
		if (j && job_state_is_live(j->state))
			ui_confirm(u, CF_CANCEL, j->id, "Cancel job %lld (%s)?", (long long)j->id,
			           job_state_name(j->state));
		else if (j)
			ui_msg(u, 1, "cancel: job %lld is %s, not running", (long long)j->id,
			       job_state_name(j->state));
		break;
	case KA_SEARCH:
		free(u->search_before);
		u->search_before = joblist_search(u->jl) ? strdup(joblist_search(u->jl)) : NULL;
		ui_input_open(u, IN_SEARCH, u->search_before);
		break;
	case KA_FILTER:
		ui_set_mode(u, M_FILTER);
		break;
	case KA_SORT: {
		enum joblist_sort so = (joblist_sort(u->jl) + 1) % JOBLIST_SORT_COUNT;
		joblist_set_sort(u->jl, so);
		u->dirty |= D_LIST;
		ui_msg(u, 0, "sorted by %s%s", joblist_sort_name(so),
		       so == JOBLIST_NEWEST
		           ? ""
		           : " (the newest " UI_STR(JOBLIST_SORT_MAX) " jobs; S again: "
		                                                      "next order)");
	} break;
	case KA_FOLLOW:
		joblist_set_follow(u->jl, !joblist_follow(u->jl));
		u->dirty |= D_LIST; /* following: the newest is selected now */
		ui_msg(u, 0, "%s",
		       joblist_follow(u->jl) ? "following the newest job: each new job is selected"
		                             : "not following new jobs");
		break;
	case KA_CLEAR:
		if (joblist_narrowed(u->jl)) {
			joblist_set_filter(u->jl, 0, 0);
			u->filter_name = NULL;
			ui_apply_search(u, NULL);
		}
		break;
	case KA_SAVE:
		if (!j || j->n_outputs == 0 || !j->outputs[0].path) {
			ui_msg(u, 1, "save: this job has no image");
		} else {
			/* the last directory saved to (else the current one), and
			 * for one image its name: all selected, so typing replaces
			 * it; a job of several images goes into a directory */
			char cwd[PATH_MAX], init[PATH_MAX + 256];
			const char *base = strrchr(j->outputs[0].path, '/');
			if (u->save_dir)
				snprintf(cwd, sizeof cwd, "%s", u->save_dir);
			else if (!getcwd(cwd, sizeof cwd))
				snprintf(cwd, sizeof cwd, ".");
			snprintf(init, sizeof init, "%s%s%s", cwd, strcmp(cwd, "/") ? "/" : "",
			         j->n_outputs > 1 ? ""
			         : base           ? base + 1
			                          : j->outputs[0].path);
			ui_input_open(u, IN_SAVE, init);
		}
		break;
	case KA_OPEN:
		if (!j || j->n_outputs == 0 || !j->outputs[0].path)
			ui_msg(u, 1, "open: this job has no image");
		else if (ui_remote() && !getenv("SDQ_OPEN"))
			ui_copy_path(u, j->outputs[0].path);
		else
			ui_open(u, j->outputs[0].path);
		break;
	case KA_DELETE:
		if (j && job_state_is_live(j->state)) {
			ui_msg(u, 1, "delete: job %lld is live; cancel it first (c)",
			       (long long)j->id);
		} else if (j) {
			u->cf_files = (int)j->n_outputs;
			ui_confirm(u, CF_DELETE, j->id, "Delete job %lld from the history?",
			           (long long)j->id);
		}
		break;
	case KA_GALLERY:
		if (g && ui_group_gallery(u, g) < 0)
			break;
		u->gal_sel = joblist_sel(u->jl);
		u->gal_top = 0;
		preview_hide(u->pv);
		ui_set_mode(u, M_GALLERY);
		u->dirty |= D_FULL;
		break;
	case KA_VIEW:
		ui_view(u, j);
		break;
	case KA_NOTIFY:
		ui_msg(u, 0, "%s", notify_toggle(u->nt));
		break;
	case KA_HEALTH:
		for (size_t i = 0; i < u->cfg->n_endpoints; i++)
			if (engine_health_refresh(u->e, u->cfg->endpoints[i].name, &err) < 0)
				ui_err(u, "health", &err);
		ui_msg(u, 0, "asking for health");
		break;
	case KA_REDRAW:
		u->dirty |= D_FULL;
		break;
	case KA_HELP:
		u->help_scroll = 0;
		ui_set_mode(u, M_HELP);
		break;
	case KA_QUIT:
		ui_quit_request(u);
		break;
	default:
		break;
	}
}

static void ui_mouse(struct ui *u)
{
	MEVENT ev;
	if (getmouse(&ev) != OK)
		return;
	if (ev.bstate & BUTTON4_PRESSED) {
		ui_move(u, -3);
		return;
	}
#ifdef BUTTON5_PRESSED
	if (ev.bstate & BUTTON5_PRESSED) {
		ui_move(u, 3);
		return;
	}
#endif
	if (!(ev.bstate &
	      (BUTTON1_PRESSED | BUTTON1_CLICKED | BUTTON1_RELEASED | BUTTON1_DOUBLE_CLICKED)))
		return;
	if (u->wtable && wenclose(u->wtable, ev.y, ev.x)) {
		int y = ev.y, x = ev.x;
		wmouse_trafo(u->wtable, &y, &x, FALSE);
		long i = view_jobs_hit(y);
		size_t n;
		joblist_rows(u->jl, &n);
		if (i >= 0 && (size_t)i < n) {
			/* a double click (curses', or two presses on the same job
			 * within 400 ms) opens the detail */
			static int64_t last_at;
			static long last_i = -1;
			int64_t now = util_now_ms();
			int pressed = (ev.bstate & (BUTTON1_PRESSED | BUTTON1_CLICKED)) != 0;
			int dbl = (ev.bstate & BUTTON1_DOUBLE_CLICKED) ||
			          (pressed && i == last_i && now - last_at < 400);
			if (dbl && !u->shown) {
				u->detail = 1;
				u->dirty |= D_LAYOUT;
			}
			if (pressed) {
				last_at = now;
				last_i = i;
			}
			ui_move(u, i - (long)joblist_sel_row(u->jl));
		}
	}
}

void ui_main_key(struct ui *u, int code, int is_key)
{
	if (is_key && code == KEY_MOUSE) {
		ui_mouse(u);
		return;
	}
	if (u->msg[0] && !u->msg_err) {
		u->msg[0] = 0;
		u->dirty |= D_PAINT;
	}
	ui_main_action(u, keys_lookup(KEYS_MAIN, code));
}

void ui_gallery_free(struct ui *u)
{
	gallery_axes_free(u->gax);
	u->gax = NULL;
}

/* A key in a group's gallery. */
static void ui_gallery_axes_key(struct ui *u, int code)
{
	switch (keys_lookup(KEYS_GALLERY, code)) {
	case KA_GAL_LEFT:
		gallery_axes_move(u->gax, -1, 0, 0);
		break;
	case KA_GAL_RIGHT:
		gallery_axes_move(u->gax, 1, 0, 0);
		break;
	case KA_GAL_UP:
		gallery_axes_move(u->gax, 0, -1, 0);
		break;
	case KA_GAL_DOWN:
		gallery_axes_move(u->gax, 0, 1, 0);
		break;
	case KA_GAL_PAGE_NEXT:
		gallery_axes_move(u->gax, 0, 0, 1);
		u->dirty |= D_FULL; /* another page: every image anew */
		break;
	case KA_GAL_PAGE_PREV:
		gallery_axes_move(u->gax, 0, 0, -1);
		u->dirty |= D_FULL;
		break;
	case KA_GAL_OPEN:
		if (gallery_axes_selected(u->gax))
			ui_view(u, gallery_axes_selected(u->gax));
		return;
	case KA_GAL_CLOSE:
		ui_gallery_free(u);
		preview_hide(u->pv);
		ui_set_mode(u, M_MAIN);
		u->dirty |= D_FULL;
		return;
	default:
		if (code == KEY_MOUSE) {
			MEVENT ev;
			getmouse(&ev);
		}
		return;
	}
	u->dirty |= D_PAINT;
}

void ui_gallery_draw(struct ui *u)
{
	if (u->gax) {
		gallery_axes_draw(u->gax, u->pv, u->wover);
		return;
	}
	size_t n;
	struct job **jobs = joblist_jobs(u->jl, &n);
	gallery_draw(u->pv, u->wover, jobs, n, u->gal_sel, &u->gal_top);
}

void ui_gallery_key(struct ui *u, int code, int is_key)
{
	if (u->gax) {
		ui_gallery_axes_key(u, code);
		return;
	}
	int gc = 1, gr = 1;
	if (u->wover)
		gallery_grid(u->pv, u->wover, &gc, &gr);
	if (gc < 1)
		gc = 1;
	long s = (long)u->gal_sel;
	size_t n;
	struct job **jobs = joblist_jobs(u->jl, &n);
	switch (keys_lookup(KEYS_GALLERY, code)) {
	case KA_GAL_LEFT:
		s--;
		break;
	case KA_GAL_RIGHT:
		s++;
		break;
	case KA_GAL_UP:
		s -= gc;
		break;
	case KA_GAL_DOWN:
		s += gc;
		break;
	case KA_GAL_OPEN:
		if (u->gal_sel < n)
			ui_view(u, jobs[u->gal_sel]);
		return;
	case KA_GAL_CLOSE:
		joblist_select_index(u->jl, u->gal_sel);
		preview_hide(u->pv);
		ui_set_mode(u, M_MAIN);
		u->dirty |= D_FULL;
		return;
	default:
		if (code == KEY_MOUSE) {
			MEVENT ev;
			getmouse(&ev);
		}
		return;
	}
	while (s >= (long)n && joblist_more(u->jl) && joblist_load_more(u->jl) == 0)
		joblist_jobs(u->jl, &n);
	if (s >= (long)n)
		s = (long)n - 1;
	if (s < 0)
		s = 0;
	u->gal_sel = (size_t)s;
	u->dirty |= D_PAINT;
}

void ui_view_draw(struct ui *u)
{
	view_image_draw(u->vi, u->pv, u->wover);
}

void ui_view_free(struct ui *u)
{
	view_image_free(u->vi);
	u->vi = NULL;
}

void ui_view_key(struct ui *u, int code, int is_key)
{
	u->dirty |= D_PAINT;
	if (view_image_key(u->vi, code, is_key))
		return;
	ui_view_free(u);
	ui_set_mode(u, u->view_back);
}
