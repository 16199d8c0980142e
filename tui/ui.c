/*
 * ui.c: the dashboard (`sdq` with no command).
 *
 * One thread, one wait: the engine's loop (engine_step) watches the tty too,
 * so keys, transfers, timers and signals all arrive in the same pass. Key
 * handlers and engine events only set dirty flags; the loop paints once per
 * pass (one doupdate), then lets the preview write its sixel image. The wait
 * has a UI deadline only while something on screen moves (a live job's timer
 * ticks every second, a message expires, a preview waits to be drawn);
 * otherwise the process sleeps until something happens.
 *
 * The job list (joblist.c, no curses) is a window over the history, paged
 * as the selection moves; live jobs outside the visible rows are announced
 * by a marker row in the table (view_jobs.c).
 *
 * Every screen (the jobs table, compose, help, the confirm, input and
 * filter popups, the gallery, the image viewer) is a row of ui_screens: its
 * draw, key, resize and free. Screens draw through draw.h; none includes
 * ui.h, so tui/ imports in one direction (ui -> views -> draw).
 *
 * The screens live in their own files, sharing struct ui through the
 * private ui_int.h and calling one way (ui_int.h's opening comment):
 * ui_popup.c (questions, prompts, the filter, help) -> ui_main.c (the jobs
 * table and its actions, the gallery, the viewer) -> ui_compose.c -> ui_core.c
 * (messages, modes, the list's reload). This file keeps the loop: curses,
 * the layout, painting, the table of screens, keys and paste, engine events.
 *
 * Layout: a header line (view_header.c: endpoints and their health), the
 * jobs table, the detail pane (Enter) with the preview, a status line. At >=
 * 120 columns the detail pane sits to the right (shown by default); below
 * that it is stacked under the table (hidden by default). The preview needs
 * at least UI_PREVIEW_MIN_COLS x UI_PREVIEW_MIN_ROWS cells or it is left out.
 */
#include <errno.h>
#include <fcntl.h>
#include <langinfo.h>
#include <limits.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "tui.h"
#include "backend.h"
#include "child.h"
#include "config.h"
#include "engine.h"
#include "job.h"
#include "store.h"
#include "text.h"
#include "util.h"
#include "term.h"
#include "preview.h"
#include "gallery.h"
#include "spawn.h"
#include "ui.h"
#include "draw.h"
#include "keys.h"
#include "notify.h"
#include "view_jobs.h"
#include "view_detail.h"
#include "waitwhy.h"
#include "view_compose.h"
#include "view_help.h"
#include "view_image.h"
#include "view_header.h"
#include "lineedit.h"
#include "joblist.h"
#include "jobfiles.h"
#include "groupact.h"
#include "waitlist.h"
#include "osc52.h"
#include "terminfo.h"
#include "ui_int.h"

static void ui_tty_write(const char *s);

static const struct ui_screen ui_screens[M_COUNT] = {
    [M_MAIN] = {ui_main_draw, ui_main_key, NULL, NULL},
    [M_COMPOSE] = {ui_compose_draw, ui_compose_key, NULL, ui_compose_free},
    [M_HELP] = {ui_help_draw, ui_help_key, NULL, NULL},
    [M_CONFIRM] = {ui_paint_confirm, ui_confirm_key, NULL, NULL},
    [M_INPUT] = {NULL, ui_input_key, NULL, ui_input_free}, /* in the status line */
    [M_FILTER] = {ui_paint_filter, ui_filter_key, NULL, NULL},
    [M_GALLERY] = {ui_gallery_draw, ui_gallery_key, NULL, ui_gallery_free},
    [M_VIEW] = {ui_view_draw, ui_view_key, NULL, ui_view_free},
};

/* --- messages --- */


/* --- layout --- */

static void ui_delwin(WINDOW **w)
{
	if (*w)
		delwin(*w);
	*w = NULL;
}

static void ui_layout(struct ui *u)
{
	preview_hide(u->pv); /* before its window goes */
	ui_delwin(&u->whdr);
	ui_delwin(&u->wtable);
	ui_delwin(&u->wdetail);
	ui_delwin(&u->wprev);
	ui_delwin(&u->wstatus);
	ui_delwin(&u->wover);
	werase(stdscr);
	int rows = LINES, cols = COLS;
	u->too_small = cols < UI_MIN_COLS || rows < UI_MIN_ROWS;
	if (u->too_small)
		return;
	u->whdr = newwin(1, cols, 0, 0);
	u->wstatus = newwin(1, cols, rows - 1, 0);
	int bh = rows - 2;
	u->wide = cols >= UI_WIDE_COLS;
	u->shown = u->detail < 0 ? u->wide : u->detail;
	if (ui_is_over(ui_base(u))) {
		u->wover = newwin(bh, cols, 1, 0);
		u->over_new = 1;
	}
	if (!u->shown) {
		u->wtable = newwin(bh, cols, 1, 0);
		return;
	}
	attr_t sep = draw_attr(DRAW_DIM);
	if (u->wide) {
		int dw = cols * 2 / 5;
		if (dw < 56)
			dw = 56;
		if (dw > 100)
			dw = 100;
		int tw = cols - dw - 1;
		u->wtable = newwin(bh, tw, 1, 0);
		wattr_on(stdscr, sep, NULL);
		mvwvline(stdscr, 1, tw, draw_utf8() ? ACS_VLINE : '|', bh);
		wattr_off(stdscr, sep, NULL);
		int th = bh >= 20 ? bh / 2 - 1 : bh;
		if (th < 12 && bh >= 20)
			th = 12;
		u->wdetail = newwin(th, dw, 1, tw + 1);
		int ph = bh - th - 1;
		if (ph >= UI_PREVIEW_MIN_ROWS) {
			draw_hline(stdscr, 1 + th, tw + 1, dw, sep);
			u->wprev = newwin(ph, dw, 2 + th, tw + 1);
		}
	} else {
		int dh = bh / 2;
		int tableh = bh - dh - 1;
		if (tableh < 3) {
			tableh = 3;
			dh = bh - tableh - 1;
		}
		u->wtable = newwin(tableh, cols, 1, 0);
		draw_hline(stdscr, 1 + tableh, 0, cols, sep);
		if (dh < 1)
			return;
		int pw = cols >= 70 && dh >= UI_PREVIEW_MIN_ROWS ? cols * 2 / 5 : 0;
		if (pw < UI_PREVIEW_MIN_COLS)
			pw = 0;
		u->wdetail = newwin(dh, cols - (pw ? pw + 1 : 0), 2 + tableh, 0);
		if (pw) {
			wattr_on(stdscr, sep, NULL);
			mvwvline(stdscr, 2 + tableh, cols - pw - 1, draw_utf8() ? ACS_VLINE : '|',
			         dh);
			wattr_off(stdscr, sep, NULL);
			u->wprev = newwin(dh, pw, 2 + tableh, cols - pw);
		}
	}
}

/* --- painting --- */

static void ui_paint_header(struct ui *u)
{
	view_header_draw(u->vh, u->whdr, u->e, u->jl, u->colors);
	wnoutrefresh(u->whdr);
}

static void ui_paint_status(struct ui *u)
{
	WINDOW *w = u->wstatus;
	int W = getmaxx(w);
	werase(w);
	char right[160] = "";
	size_t o = 0;
	enum joblist_sort sort = joblist_sort(u->jl);
	const char *search = joblist_search(u->jl);
	size_t n;
	joblist_jobs(u->jl, &n);
	if (joblist_follow(u->jl))
		o += (size_t)snprintf(right + o, sizeof right - o, "[follow] ");
	if (sort != JOBLIST_NEWEST && o < sizeof right)
		o += (size_t)snprintf(right + o, sizeof right - o, "[by %s] ",
		                      joblist_sort_name(sort));
	if (u->filter_name && o < sizeof right)
		o += (size_t)snprintf(right + o, sizeof right - o, "[%s] ", u->filter_name);
	if (search && *search && o < sizeof right)
		o += (size_t)snprintf(right + o, sizeof right - o, "[/%.40s] ", search);
	/* the counter follows the gallery's selection there (and in the
	 * viewer opened from it) */
	enum ui_mode bm = ui_base(u);
	size_t at = bm == M_GALLERY || (bm == M_VIEW && u->view_back == M_GALLERY)
	                ? u->gal_sel
	                : joblist_sel(u->jl);
	int in_axes = u->gax && (bm == M_GALLERY || (bm == M_VIEW && u->view_back == M_GALLERY));
	if (in_axes && o < sizeof right) {
		/* a group's gallery counts its own cells */
		size_t gat, gn;
		gallery_axes_position(u->gax, &gat, &gn);
		snprintf(right + o, sizeof right - o, "%zu/%zu", gn ? gat + 1 : 0, gn);
	} else if (o < sizeof right)
		snprintf(right + o, sizeof right - o, "%lld/%lld",
		         n ? (long long)joblist_base(u->jl) + (long long)at + 1 : 0LL,
		         (long long)(joblist_total(u->jl) > 0 ? joblist_total(u->jl) : 0));
	char *rs = draw_clean(right, TEXT_NEWLINE_SPACE);
	int rw = rs ? (int)text_utf8_width(rs) : 0;
	if (rw > W / 2)
		rw = 0;
	int lw = W - (rw ? rw + 1 : 0);
	if (u->mode == M_INPUT && u->in_ed) {
		const char *p = u->in == IN_SEARCH ? "search: " : "save to: ";
		int x = draw_put(w, 0, 0, lw, p, A_BOLD);
		/* the field takes the rest of the left part; the counter stays */
		u->cur_win = w;
		u->cur_y = 0;
		u->cur_x = x;
		lineedit_draw(u->in_ed, w, 0, x, lw - x - 1, 1, 1, &u->cur_y, &u->cur_x);
	} else if (u->msg[0]) {
		int x = 0;
		if (u->msg_err)
			x = draw_put(w, 0, 0, lw, "error: ", draw_attr(DRAW_ERROR));
		draw_put(w, 0, x, lw - x, u->msg, u->msg_err ? draw_attr(DRAW_ERROR) : A_BOLD);
	} else if (!u->have_endpoint) {
		draw_put(
		    w, 0, 0, lw,
		    "no endpoint: set SDQ_ENDPOINT and RUNPOD_API_KEY, or add [endpoint \"name\"] "
		    "url = ... to the config file (man sdq); browsing works",
		    draw_attr(DRAW_WARN));
	} else {
		enum ui_mode b = ui_base(u);
		const char *hints =
		    u->mode == M_CONFIRM  ? "y: yes  n or Esc: no"
		    : u->mode == M_FILTER ? "a l q p c f x: choose  Esc: keep"
		    : b == M_COMPOSE ? "Ctrl-S submit  Tab next field  Enter new line  Esc cancel"
		    : b == M_GALLERY && u->gax
		        ? "arrows move  PgDn PgUp page  Enter view  Esc back"
		    : b == M_GALLERY ? "arrows move  Enter view  Esc back"
		    : b == M_VIEW    ? "h/Left l/Right: other image  any other key: back"
		    : b == M_HELP    ? "j/k PgUp/PgDn scroll  any other key closes"
		                     : "n new  Enter detail  / search  f filter  c cancel  "
		                       "r rerun  ? help  q quit";
		draw_put(w, 0, 0, lw, hints, draw_attr(DRAW_DIM));
	}
	if (rw && rs)
		draw_put(w, 0, W - rw, rw, rs, draw_attr(DRAW_DIM));
	free(rs);
	wnoutrefresh(w);
}



static void ui_paint(struct ui *u)
{
	int full = u->dirty & D_FULL;
	if (u->dirty & (D_LAYOUT | D_FULL))
		ui_layout(u);
	if (full) {
		clearok(curscr, TRUE);
		preview_invalidate(u->pv);
	}
	u->dirty &= (unsigned)D_LIVE; /* a pending live-id read stays pending */
	if (u->too_small) {
		werase(stdscr);
		mvwaddstr(stdscr, 0, 0, "sdq: the terminal is too small");
		char b[64];
		snprintf(b, sizeof b, "(need %dx%d; q quits)", UI_MIN_COLS, UI_MIN_ROWS);
		mvwaddstr(stdscr, 1, 0, b);
		wnoutrefresh(stdscr);
		doupdate();
		return;
	}
	touchwin(stdscr);
	wnoutrefresh(stdscr);
	ui_paint_header(u);
	u->cur_win = NULL; /* a screen that wants the cursor says where */
	enum ui_mode base = ui_base(u);
	if (!ui_is_over(base)) {
		ui_screens[base].draw(u);
	} else if (u->wover) {
		werase(u->wover);
		ui_screens[base].draw(u);
		if (u->over_new) {
			redrawwin(u->wover);
			u->over_new = 0;
		}
		wnoutrefresh(u->wover);
	}
	if (ui_is_popup(u->mode) && ui_screens[u->mode].draw) {
		preview_hide(u->pv);
		ui_screens[u->mode].draw(u);
	}
	ui_paint_status(u);
	if (u->cur_win) {
		curs_set(1);
		wmove(u->cur_win, u->cur_y, u->cur_x);
		wnoutrefresh(u->cur_win);
	} else {
		curs_set(0);
	}
	preview_update(u->pv);
	if (u->osc) { /* after doupdate, like a sixel: curses does not know it */
		ui_tty_write(u->osc);
		free(u->osc);
		u->osc = NULL;
	}
}

/* --- actions --- */

/* Job id changed: the viewer's copy, the list's copy; health soon after one
 * of our live jobs moved, so the header's workers follow. */
static void ui_job_changed(struct ui *u, int64_t id)
{
	if (u->vi && view_image_job_id(u->vi) == id) {
		const struct job *ej = engine_job(u->e, id);
		struct job *vj = ej ? job_dup(ej) : store_job_get(u->st, id, NULL);
		if (vj)
			view_image_update(u->vi, vj);
		job_free(vj);
		u->dirty |= D_PAINT;
	}
	if (u->gax && gallery_axes_has(u->gax, id)) { /* its cell in a group's gallery */
		const struct job *ej = engine_job(u->e, id);
		struct job *gj = ej ? job_dup(ej) : store_job_get(u->st, id, NULL);
		if (gj)
			gallery_axes_update(u->gax, gj);
		job_free(gj);
		u->dirty |= D_PAINT;
	}
	int r = joblist_job_changed(u->jl, id);
	if (r & JOBLIST_MOVED && !u->health_due)
		u->health_due = job_now_ms() + UI_HEALTH_AFTER_MS;
	if (r & JOBLIST_PAINT)
		u->dirty |= D_PAINT;
	if (r & JOBLIST_RELOAD)
		u->dirty |= D_LIST;
	if (r & JOBLIST_LIVE) /* once per pass at most, not once per event */
		u->dirty |= D_LIVE | D_PAINT;
}

static void ui_resize(struct ui *u)
{
	struct winsize ws;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0 &&
	    (ws.ws_row != LINES || ws.ws_col != COLS))
		resizeterm(ws.ws_row, ws.ws_col);
	u->dirty |= D_LAYOUT | D_FULL;
	enum ui_mode b = ui_base(u);
	if (ui_screens[b].resize)
		ui_screens[b].resize(u);
}

/* A bracketed paste ended: hand the text to the field being edited, as text
 * (a newline in it never submits, never moves to the next field); with no
 * field open it is dropped, so pasted letters never run commands. */
static void ui_paste_done(struct ui *u)
{
	const char *t = u->paste ? u->paste : "";
	size_t n = u->paste_len;
	if (u->mode == M_COMPOSE && u->vc) {
		view_compose_paste(u->vc, t, n);
	} else if (u->mode == M_INPUT && u->in_ed) {
		if (lineedit_paste(u->in_ed, t, n) == LINEEDIT_CHANGED && u->in == IN_SEARCH)
			ui_apply_search(u, lineedit_text(u->in_ed));
	} else if (n) {
		ui_msg(u, 0, "pasted text is only taken in a text field (n composes)");
	}
	free(u->paste);
	u->paste = NULL;
	u->paste_len = 0;
	u->dirty |= D_PAINT;
}

/* Collect one key of a paste; 1 if it was taken. */
static int ui_paste_key(struct ui *u, int code, int is_key)
{
	if (is_key && code == UI_KEY_PASTE_BEGIN) {
		u->pasting = 1;
		u->paste_len = 0;
		return 1;
	}
	if (!u->pasting)
		return is_key && code == UI_KEY_PASTE_END; /* a stray end mark */
	if (is_key && code == UI_KEY_PASTE_END) {
		u->pasting = 0;
		ui_paste_done(u);
		return 1;
	}
	char b[4];
	size_t k = 0;
	if (is_key) {
		if (code == KEY_ENTER)
			b[k++] = '\n';
		/* other curses keys inside a paste are dropped */
	} else {
		k = text_utf8_encode((uint32_t)code, b);
	}
	if (k && u->paste_len + k <= UI_PASTE_MAX) {
		char *p = realloc(u->paste, u->paste_len + k + 1);
		if (p) {
			u->paste = p;
			memcpy(p + u->paste_len, b, k);
			u->paste_len += k;
			p[u->paste_len] = 0;
		}
	}
	return 1;
}

static void ui_key(struct ui *u, int code, int is_key)
{
	if (ui_paste_key(u, code, is_key))
		return;
	if (is_key && code == KEY_RESIZE) {
		ui_resize(u);
		return;
	}
	if (u->too_small) {
		if (!is_key && code == 'q')
			u->quit = 1;
		return;
	}
	/* Ctrl-L repaints everything, images included, in every view (the
	 * key table lists it under the jobs table) */
	if (!is_key && code == 0x0c && u->mode != M_INPUT) {
		u->dirty |= D_LAYOUT | D_FULL;
		return;
	}
	/* a key press ends an error message's stay soon after */
	if (u->msg[0] && u->msg_err && u->mode == M_MAIN)
		u->msg_until = job_now_ms() + 3000;
	if (ui_screens[u->mode].key)
		ui_screens[u->mode].key(u, code, is_key);
}

/* --- the loop --- */

/* Images the preview's worker finished: the next pass paints them. */
static void ui_on_decoded(struct engine *e, int fd, short revents, void *udata)
{
	struct ui *u = udata;
	if (preview_collect(u->pv))
		u->dirty |= D_PAINT;
}

static void ui_on_tty(struct engine *e, int fd, short revents, void *udata)
{
	struct ui *u = udata;
	wint_t wc;
	int r;
	while (!u->quit && (r = wget_wch(stdscr, &wc)) != ERR)
		ui_key(u, (int)wc, r == KEY_CODE_YES);
	if (revents & (POLLHUP | POLLERR | POLLNVAL))
		u->quit = 1; /* the terminal is gone */
}

/* Remember which endpoint an engine error message is about (the core writes
 * "health of NAME: ..." and "endpoint NAME: ..."), so that it goes once that
 * endpoint is healthy again rather than staying its 30 s. */
static void ui_msg_endpoint(struct ui *u, const char *m)
{
	static const char *const pre[] = {"health of ", "endpoint "};
	u->msg_ep[0] = '\0';
	for (size_t i = 0; m && i < sizeof pre / sizeof pre[0]; i++) {
		size_t n = strlen(pre[i]);
		const char *colon;
		if (strncmp(m, pre[i], n) == 0 && (colon = strstr(m + n, ": ")) &&
		    (size_t)(colon - (m + n)) < sizeof u->msg_ep) {
			memcpy(u->msg_ep, m + n, (size_t)(colon - (m + n)));
			u->msg_ep[colon - (m + n)] = '\0';
			return;
		}
	}
}

/* A health report of endpoint name came: remember our jobs on it as they
 * are now (the header's counts are the report's, moved by what our jobs
 * did since). */
static void ui_on_event(struct engine *e, const struct engine_event *ev, void *udata)
{
	struct ui *u = udata;
	switch (ev->type) {
	case ENGINE_EV_JOB:
		ui_job_changed(u, ev->job_id);
		break;
	case ENGINE_EV_STORE:
		u->dirty |= D_LIST;
		break;
	case ENGINE_EV_HEALTH:
		view_header_health(u->vh, u->e, u->jl, ev->endpoint);
		/* An error about this endpoint whose cause is gone goes too. */
		if (u->msg[0] && u->msg_err && u->msg_ep[0] && ev->endpoint &&
		    strcmp(u->msg_ep, ev->endpoint) == 0) {
			const struct engine_health *h = engine_health(u->e, ev->endpoint);
			if (h && h->valid && h->reachable && !h->auth_failed && !h->rate_limited &&
			    !h->error) {
				u->msg[0] = '\0';
				u->msg_ep[0] = '\0';
			}
		}
		u->dirty |= D_PAINT;
		break;
	case ENGINE_EV_ROLE:
		u->dirty |= D_PAINT;
		break;
	case ENGINE_EV_MESSAGE:
		if (ev->message) {
			ui_msg(u, ev->is_error, "%s", ev->message);
			ui_msg_endpoint(u, ev->is_error ? ev->message : NULL);
		}
		break;
	case ENGINE_EV_SIGNAL:
		if (ev->signo == SIGWINCH)
			ui_resize(u);
		else if (ev->signo == SIGCONT)
			u->dirty |= D_LAYOUT | D_FULL;
		else
			u->quit = 1;
		break;
	}
}

/* The UI's next deadline: -1 when nothing on screen moves by itself. */
static int ui_wait_ms(struct ui *u)
{
	int64_t now = job_now_ms();
	int64_t wait = -1;
	int moving = 0;
	if (u->mode == M_MAIN || u->mode == M_CONFIRM || u->mode == M_INPUT ||
	    u->mode == M_FILTER) {
		int rows = u->wtable ? getmaxy(u->wtable) : LINES;
		size_t n, nj, top = *joblist_top(u->jl);
		const struct joblist_row *r = joblist_rows(u->jl, &n);
		struct job **jobs = joblist_jobs(u->jl, &nj);
		for (size_t i = top; i < n && i < top + (size_t)rows; i++)
			if (r[i].kind == JOBLIST_ROW_GROUP ? r[i].group->nlive != 0
			                                    : job_state_is_live(jobs[r[i].job]->state))
				moving = 1;
	}
	if (moving) {
		u->next_tick = now - now % 1000 + 1000;
		wait = u->next_tick - now + 2;
	} else {
		u->next_tick = 0;
	}
	if (u->msg[0] && u->msg_until) {
		int64_t m = u->msg_until - now;
		if (m < 0)
			m = 0;
		if (wait < 0 || m < wait)
			wait = m;
	}
	int pw = preview_wants_redraw_in_ms(u->pv);
	if (pw >= 0 && (wait < 0 || pw < wait))
		wait = pw;
	if (u->dirty & D_LIVE) {
		int64_t l = u->live_due > now ? u->live_due - now : 0;
		if (wait < 0 || l < wait)
			wait = l;
	}
	if (u->health_due) {
		int64_t h = u->health_due > now ? u->health_due - now : 0;
		if (wait < 0 || h < wait)
			wait = h;
	}
	return wait > INT_MAX ? INT_MAX : (int)wait;
}

static void ui_after_step(struct ui *u)
{
	int64_t now = job_now_ms();
	if (u->next_tick && now >= u->next_tick)
		u->dirty |= D_PAINT;
	if (u->msg[0] && u->msg_until && now >= u->msg_until) {
		u->msg[0] = 0;
		u->dirty |= D_PAINT;
	}
	if (preview_wants_redraw_in_ms(u->pv) == 0)
		u->dirty |= D_PAINT;
	if (u->health_due && now >= u->health_due) {
		u->health_due = 0;
		/* remote endpoints only: a local one's health runs a probe */
		for (size_t i = 0; i < u->cfg->n_endpoints; i++)
			if (backend_kind_of(&u->cfg->endpoints[i])->caps & BACKEND_REMOTE_HEALTH)
				engine_health_refresh(u->e, u->cfg->endpoints[i].name, NULL);
	}
}

/* --- terminal restore on a crash --- */

static volatile sig_atomic_t ui_curses_on;

/* Write a control sequence straight to the terminal (curses does not know
 * the modes it sets). Async-signal-safe. */
static void ui_tty_write(const char *s)
{
	size_t n = strlen(s);
	while (n > 0) {
		ssize_t w = write(STDOUT_FILENO, s, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

static void ui_crash(int sig)
{
	if (ui_curses_on) {
		ui_tty_write("\033[?2004l");
		endwin();
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static void ui_crash_handlers(int on)
{
	static const int sigs[] = {SIGSEGV, SIGABRT, SIGBUS, SIGFPE, SIGILL};
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on ? ui_crash : SIG_DFL;
		sa.sa_flags = SA_RESETHAND;
		sigemptyset(&sa.sa_mask);
		sigaction(sigs[i], &sa, NULL);
	}
}

/* Hand live jobs to a detached `sdq driver` when the config allows it and no
 * driver runs. 1 if one was started. */
static int ui_spawn_driver(struct config *cfg, struct store *st)
{
	if (!cfg->background_driver || !engine_driver_needed(cfg, st, 0))
		return 0;
	return spawn_driver(cfg) == 0;
}

static int ui_start_curses(struct ui *u)
{
	const char *cs = nl_langinfo(CODESET);
	int utf8 = cs && (strcasecmp(cs, "UTF-8") == 0 || strcasecmp(cs, "utf8") == 0);
	if (!newterm(NULL, stdout, stdin))
		return -1;
	ui_curses_on = 1;
	ui_crash_handlers(1);
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	/* Esc alone vs. the start of a key's sequence: short enough to feel
	 * instant, long enough for SSH; the user's ESCDELAY wins */
	if (!getenv("ESCDELAY"))
		set_escdelay(100);
	curs_set(0);
	/* Ctrl-S submits: take it back from XON/XOFF flow control */
	struct termios t;
	if (tcgetattr(STDIN_FILENO, &t) == 0) {
		t.c_iflag &= ~(tcflag_t)(IXON | IXOFF);
		tcsetattr(STDIN_FILENO, TCSANOW, &t);
		def_prog_mode();
	}
	mousemask(BUTTON1_PRESSED | BUTTON1_CLICKED | BUTTON1_DOUBLE_CLICKED | BUTTON4_PRESSED
#ifdef BUTTON5_PRESSED
	              | BUTTON5_PRESSED
#endif
	          ,
	          NULL);
	mouseinterval(0);
	u->colors = draw_init(utf8);
	/* bracketed paste: pasted text arrives marked, so a newline in it is
	 * text, not Enter (turned off again in ui_end_curses) */
	define_key("\033[200~", UI_KEY_PASTE_BEGIN);
	define_key("\033[201~", UI_KEY_PASTE_END);
	ui_tty_write("\033[?2004h");
	return 0;
}

#define UI_USE_COMMANDS                                                                            \
	"use the commands instead: sdq submit -p TEXT --wait, sdq ls, sdq show ID, sdq get ID, "   \
	"sdq wait (sdq --help)"

/* The dashboard refuses a terminal it cannot draw on: say why and what to
 * use instead (exit 2). term: $TERM; can_address: the terminal moves the
 * cursor (-1: not known yet); cols/rows: its size (0: unknown). */
static int ui_refuse(const char *term, int can_address, int cols, int rows)
{
	char *t = text_sanitize_str(term && *term ? term : "", 0);
	int bad = 0;
	if (!term || !*term) {
		fprintf(stderr,
		        "sdq: TERM is not set, so the dashboard cannot know how to draw; set it "
		        "to your terminal's type (e.g. TERM=xterm-256color), or " UI_USE_COMMANDS
		        "\n");
		bad = 1;
	} else if (can_address == 0) {
		fprintf(stderr,
		        "sdq: the dashboard needs a terminal that can move the cursor, and "
		        "TERM=%s cannot; set TERM to your terminal's type (e.g. xterm-256color), "
		        "or " UI_USE_COMMANDS "\n",
		        t ? t : "?");
		bad = 1;
	} else if (cols > 0 && rows > 0 && (cols < UI_MIN_COLS || rows < UI_MIN_ROWS)) {
		fprintf(stderr,
		        "sdq: the terminal is %dx%d; the dashboard needs at least %dx%d: make it "
		        "larger, or " UI_USE_COMMANDS "\n",
		        cols, rows, UI_MIN_COLS, UI_MIN_ROWS);
		bad = 1;
	}
	free(t);
	return bad;
}

int ui_run(struct config *cfg, const char *endpoint_override)
{
	struct ui uu, *u = &uu;
	char *err = NULL;
	memset(u, 0, sizeof *u);
	u->cfg = cfg;
	u->detail = -1;

	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		fprintf(stderr, "sdq: the dashboard needs a terminal; for scripts use the "
		                "commands (sdq --help)\n");
		return 1;
	}
	/* before anything is sent to the terminal (the probe's queries) */
	const char *term = getenv("TERM");
	struct winsize ws0;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws0) != 0)
		memset(&ws0, 0, sizeof ws0);
	int known = term && *term ? terminfo_check(term, STDOUT_FILENO) : 1;
	if (known < 0) {
		char *t = text_sanitize_str(term, 0);
		fprintf(stderr,
		        "sdq: cannot start the dashboard on this terminal (TERM=%s: no terminfo "
		        "entry); set TERM to your terminal's type, or " UI_USE_COMMANDS "\n",
		        t ? t : "?");
		free(t);
		return 2;
	}
	if (ui_refuse(term, known, ws0.ws_col, ws0.ws_row))
		return 2;
	setlocale(LC_ALL, "");
	if (cfg->data_dir)
		config_mkdirs(cfg->data_dir, 0700);
	u->st = store_open(cfg->db_path, &err);
	if (!u->st) {
		fprintf(stderr, "sdq: %s: check that %s is writable\n",
		        err ? err : "cannot open the history",
		        cfg->db_path ? cfg->db_path : "the data directory");
		free(err);
		return 1;
	}
	u->e = engine_new(cfg, u->st, &err);
	if (!u->e) {
		fprintf(stderr, "sdq: %s\n", err ? err : "cannot start the engine");
		free(err);
		store_close(u->st);
		return 1;
	}
	u->jl = joblist_new(u->st, u->e);
	u->vh = view_header_new(cfg);
	u->wl = waitlist_new(u->st);
	if (!u->jl || !u->vh || !u->wl) {
		joblist_free(u->jl);
		view_header_free(u->vh);
		waitlist_free(u->wl);
		fprintf(stderr, "sdq: out of memory\n");
		engine_free(u->e);
		store_close(u->st);
		return 1;
	}
	const struct config_endpoint *ep = config_endpoint(cfg, endpoint_override);
	if (endpoint_override && ep)
		u->default_ep = strdup(ep->name);
	u->have_endpoint = ep != NULL;

	term_probe(STDIN_FILENO, cfg->graphics, UI_PROBE_MS, &u->ti);
	int started = ui_start_curses(u) == 0;
	/* no cursor addressing (a terminfo entry without cup) */
	const char *cup = started ? tigetstr("cup") : NULL;
	if (!started || !cup || cup == (char *)-1) {
		if (started) {
			ui_tty_write("\033[?2004l");
			endwin();
			ui_curses_on = 0;
			ui_crash_handlers(0);
		}
		if (!started) {
			char *t = text_sanitize_str(term ? term : "", 0);
			fprintf(stderr,
			        "sdq: cannot start the dashboard on this terminal (TERM=%s: no "
			        "terminfo entry?); set TERM to your terminal's type, "
			        "or " UI_USE_COMMANDS "\n",
			        t ? t : "?");
			free(t);
		} else {
			ui_refuse(term, 0, 0, 0);
		}
		joblist_free(u->jl);
		view_header_free(u->vh);
		waitlist_free(u->wl);
		engine_free(u->e);
		store_close(u->st);
		free(u->default_ep);
		return 2;
	}
	u->pv = preview_new(&u->ti, STDOUT_FILENO, cfg->sixel_colors);
	u->nt = notify_new_config(cfg->notify);

	engine_set_callback(u->e, ui_on_event, u);
	engine_drive(u->e, 1);
	/* progress on screen: the driver (here or elsewhere) polls closely */
	engine_set_watching(u->e, 1);
	engine_catch_signal(u->e, SIGWINCH);
	engine_catch_signal(u->e, SIGTERM);
	engine_catch_signal(u->e, SIGINT);
	engine_catch_signal(u->e, SIGHUP);
	engine_catch_signal(u->e, SIGCONT);
	engine_watch_fd(u->e, STDIN_FILENO, POLLIN, ui_on_tty, u);
	if (u->pv)
		engine_watch_fd(u->e, preview_fd(u->pv), POLLIN, ui_on_decoded, u);
	for (size_t i = 0; i < cfg->n_endpoints; i++)
		engine_health_refresh(u->e, cfg->endpoints[i].name, NULL);
	engine_health_auto(u->e, 10000);
	if (endpoint_override && !ep)
		ui_msg(u, 1, "unknown endpoint %s: see the config file (man sdq)",
		       endpoint_override);

	int rc = 0;
	u->dirty = D_LIST | D_LAYOUT | D_FULL | D_PAINT;
	while (!u->quit) {
		if (u->dirty & D_LIST) {
			u->dirty &= ~(unsigned)(D_LIST | D_LIVE);
			ui_reload(u);
		}
		if ((u->dirty & D_LIVE) && job_now_ms() >= u->live_due) {
			u->dirty &= ~(unsigned)D_LIVE;
			u->live_due = job_now_ms() + 1000;
			joblist_load_live(u->jl);
			notify_step(u->nt, u->st, STDOUT_FILENO);
			u->dirty |= D_PAINT;
		}
		if (u->dirty & ~(unsigned)D_LIVE)
			ui_paint(u);
		if (engine_step(u->e, ui_wait_ms(u)) < 0) {
			rc = 1;
			break;
		}
		ui_after_step(u);
	}

	int live = engine_live_count(u->e);
	for (int m = 0; m < M_COUNT; m++)
		if (ui_screens[m].free)
			ui_screens[m].free(u);
	if (u->pv)
		engine_unwatch_fd(u->e, preview_fd(u->pv));
	preview_free(u->pv);
	notify_free(u->nt);
	ui_delwin(&u->whdr);
	ui_delwin(&u->wtable);
	ui_delwin(&u->wdetail);
	ui_delwin(&u->wprev);
	ui_delwin(&u->wstatus);
	ui_delwin(&u->wover);
	ui_delwin(&u->dpad);
	ui_tty_write("\033[?2004l");
	endwin();
	ui_curses_on = 0;
	ui_crash_handlers(0);
	engine_free(u->e);
	if (rc)
		fprintf(stderr, "sdq: the event loop failed; live jobs are kept in the history\n");
	/* In a demo (sdq demo) the demo itself says what becomes of them. */
	if (live > 0 && !getenv("SDQ_DEMO")) {
		int bg = ui_spawn_driver(cfg, u->st);
		fprintf(stderr,
		        "sdq: %d job%s still running; %s will be picked up at the next start%s.\n",
		        live, live == 1 ? " is" : "s are", live == 1 ? "it" : "they",
		        bg ? " (meanwhile a background driver, sdq driver, keeps polling)" : "");
	}
	waitlist_free(u->wl);
	store_close(u->st);
	view_compose_free(u->vc);
	joblist_free(u->jl);
	view_header_free(u->vh);
	free(u->search_before);
	free(u->default_ep);
	free(u->save_dir);
	free(u->paste);
	free(u->osc);
	lineedit_free(u->in_ed);
	return rc;
}
