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
 * Layout: a header line (view_header.c: endpoints and their health), the
 * jobs table, the detail pane (Enter) with the preview, a status line. At >=
 * 120 columns the detail pane sits to the right (shown by default); below
 * that it is stacked under the table (hidden by default). The preview needs
 * at least UI_PREVIEW_MIN_COLS x UI_PREVIEW_MIN_ROWS cells or it is left out.
 *
 * Still over 1500 lines (about 1930): the main screen's actions
 * (ui_main_action and what it calls) and the curses lifecycle are the next
 * cut, into their own files with a private header for struct ui.
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

#define UI_WIDE_COLS 120 /* side by side from here on */
#define UI_MIN_COLS 40
#define UI_MIN_ROWS 8
#define UI_PREVIEW_MIN_COLS 16
#define UI_PREVIEW_MIN_ROWS 6
#define UI_PAGE_MIN 100  /* jobs loaded per page at least */
#define UI_LIVE_MAX 1000 /* live ids tracked for the markers */
#define UI_MSG_MS 8000   /* how long a message stays */
#define UI_ERR_MS 30000  /* ... an error */
#define UI_PROBE_MS 800  /* terminal probe budget */
#define UI_RECENT_PROMPTS 200
#define UI_DETAIL_MAX 500         /* rows of the detail pane's pad */
#define UI_HEALTH_AFTER_MS 500    /* health asked this long after a job moved */
#define UI_PASTE_MAX (256 * 1024) /* a paste longer than this is cut */
#define UI_STR_(x) #x
#define UI_STR(x) UI_STR_(x)
/* Bracketed paste (xterm's mode 2004): the terminal wraps pasted text in
 * these, which define_key turns into two key codes of our own. */
#define UI_KEY_PASTE_BEGIN (KEY_MAX + 1)
#define UI_KEY_PASTE_END (KEY_MAX + 2)

enum ui_dirty {
	D_PAINT = 1,  /* draw again */
	D_LIST = 2,   /* re-read the job list */
	D_LAYOUT = 4, /* windows change */
	D_FULL = 8,   /* repaint every cell (clearok), images too */
	D_LIVE = 16,  /* re-read the ids of live jobs (the markers) */
};

enum ui_mode {
	M_MAIN,
	M_COMPOSE,
	M_HELP,
	M_CONFIRM,
	M_INPUT,
	M_FILTER,
	M_GALLERY,
	M_VIEW,
	M_COUNT
};
enum ui_confirm {
	CF_CANCEL,
	CF_DELETE,
	CF_DELETE_FILES,
	CF_QUIT,
	CF_DISCARD,
	CF_RERUN,
	CF_GROUP_CANCEL, /* cf_id: a group's id */
	CF_GROUP_RERUN,
	CF_GROUP_DELETE,
	CF_GROUP_DELETE_FILES,
	CF_COMPOSE, /* more jobs than VIEW_COMPOSE_CONFIRM_JOBS from the form */
};
enum ui_input { IN_SEARCH, IN_SAVE };

struct ui {
	struct config *cfg;
	struct store *st;
	struct engine *e;
	struct preview *pv;
	struct term_info ti;
	char *default_ep; /* endpoint name new jobs go to (the -e override), or NULL */
	int have_endpoint;

	struct joblist *jl; /* the table's jobs (joblist.h) */
	struct notify *nt;  /* one notification per batch of jobs ([ui] notify, N) */
	const char *filter_name;
	int64_t health_due;     /* ask every endpoint's health then (0: no) */
	struct view_header *vh; /* the top line (view_header.h) */
	struct waitlist *wl;    /* the table's waiting reasons (waitlist.h) */

	int detail;         /* -1: by width, 0 hidden, 1 shown */
	int dscroll;        /* first row of the detail pane shown */
	int64_t dscroll_id; /* ... for this job (another job starts at the top) */
	enum ui_mode mode, back_mode;
	enum ui_confirm cf;
	int64_t cf_id;
	int cf_files;
	char cf_text[256];
	enum ui_input in;
	struct lineedit *in_ed; /* the prompt's text (M_INPUT) */
	char *save_dir;         /* the directory of the last save (s) */
	char *search_before;    /* the search when / was pressed (Esc restores it) */
	struct view_compose *vc;
	int help_scroll;
	size_t gal_sel, gal_top;
	struct gallery_axes *gax; /* a group's gallery (M_GALLERY from its row), or NULL */
	struct view_image *vi;  /* the image viewer (M_VIEW) */
	enum ui_mode view_back; /* the mode it was opened from */

	char *osc;        /* an OSC 52 copy to send after the next doupdate, or NULL */
	char *paste;      /* pasted text so far (between the paste marks), or NULL */
	size_t paste_len; /* ... its length */
	int pasting;

	unsigned dirty;
	char msg[1024];
	int msg_err;
	int64_t msg_until; /* 0: stays */
	char msg_ep[128];  /* the endpoint an engine error is about ("health of X:",
	                      "endpoint X:"): it goes when X is healthy again */
	int64_t next_tick;
	int64_t live_due; /* D_LIVE waits until then: at most one read a second */
	int quit;

	/* windows */
	WINDOW *whdr, *wtable, *wdetail, *wprev, *wstatus, *wover;
	int over_new;
	WINDOW *cur_win; /* where the terminal cursor goes this frame (NULL: hidden) */
	WINDOW *dpad;    /* the detail pane's pad (ui_paint_detail), or NULL */
	int dpad_used;   /* its rows the last paint drew on */
	/* Why the selected job waits (waitwhy.h), for the detail pane: worked
	 * out for why_id at why_at (it reads the store: at most once a second). */
	int64_t why_id, why_at;
	char why[200];
	int cur_y, cur_x;
	int too_small, wide, shown;
	int colors;
};

/* A screen's operations (tmux's struct window_mode): draw (a full screen
 * into u->wover, erased by the caller; the jobs table into its windows; a
 * popup over the screen it was opened from; a sixel is queued for
 * preview_update), handle a key, follow a resize (after the windows were
 * made again), free what the screen holds (when it closes or the dashboard
 * quits). NULL: nothing to do. Every mode goes through this table. */
struct ui_screen {
	void (*draw)(struct ui *u);
	void (*key)(struct ui *u, int code, int is_key);
	void (*resize)(struct ui *u);
	void (*free)(struct ui *u);
};

static void ui_tty_write(const char *s);
static void ui_main_draw(struct ui *u);
static void ui_main_key(struct ui *u, int code, int is_key);
static void ui_compose_draw(struct ui *u);
static void ui_compose_key(struct ui *u, int code, int is_key);
static void ui_compose_free(struct ui *u);
static void ui_help_draw(struct ui *u);
static void ui_help_key(struct ui *u, int code, int is_key);
static void ui_paint_confirm(struct ui *u);
static void ui_confirm_key(struct ui *u, int code, int is_key);
static void ui_input_key(struct ui *u, int code, int is_key);
static void ui_input_free(struct ui *u);
static void ui_paint_filter(struct ui *u);
static void ui_filter_key(struct ui *u, int code, int is_key);
static void ui_gallery_draw(struct ui *u);
static void ui_gallery_key(struct ui *u, int code, int is_key);
static void ui_gallery_free(struct ui *u);
static void ui_view_draw(struct ui *u);
static void ui_view_key(struct ui *u, int code, int is_key);
static void ui_view_free(struct ui *u);

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

static void ui_msg(struct ui *u, int is_err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void ui_msg(struct ui *u, int is_err, const char *fmt, ...)
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
static void ui_err(struct ui *u, const char *what, char **err)
{
	ui_msg(u, 1, "%s: %s", what, err && *err ? *err : "failed");
	if (err) {
		free(*err);
		*err = NULL;
	}
}

static int ui_is_popup(enum ui_mode m)
{
	return m == M_CONFIRM || m == M_INPUT || m == M_FILTER;
}

/* Popups are drawn over a base mode: the one they were opened from. */
static enum ui_mode ui_base(const struct ui *u)
{
	return ui_is_popup(u->mode) ? u->back_mode : u->mode;
}

static int ui_is_over(enum ui_mode m)
{
	return m == M_COMPOSE || m == M_HELP || m == M_GALLERY || m == M_VIEW;
}

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
	if (o < sizeof right)
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

static void ui_paint_confirm(struct ui *u)
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

static void ui_paint_filter(struct ui *u)
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
static void ui_main_draw(struct ui *u)
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

static void ui_compose_draw(struct ui *u)
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

static void ui_help_draw(struct ui *u)
{
	preview_hide(u->pv);
	view_help_draw(u->wover, &u->help_scroll);
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

static void ui_set_mode(struct ui *u, enum ui_mode m)
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

static void ui_confirm(struct ui *u, enum ui_confirm cf, int64_t id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void ui_confirm(struct ui *u, enum ui_confirm cf, int64_t id, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(u->cf_text, sizeof u->cf_text, fmt, ap);
	va_end(ap);
	u->cf = cf;
	u->cf_id = id;
	ui_set_mode(u, M_CONFIRM);
}

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

static void ui_compose_open(struct ui *u, const struct job *from)
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
	ui_set_mode(u, M_COMPOSE);
}

static void ui_compose_close(struct ui *u)
{
	view_compose_free(u->vc);
	u->vc = NULL;
	ui_set_mode(u, M_MAIN);
}

static void ui_compose_submit(struct ui *u, int confirmed)
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
		ui_err(u, "compose", &msg);
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
static void ui_save(struct ui *u, const struct job *j, const char *typed)
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

static void ui_delete(struct ui *u, int64_t id, int files)
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
static void ui_group_confirmed(struct ui *u, enum ui_confirm cf, int64_t gid, int yes)
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

/* A store error of the job list goes on the status line. */
static void ui_list_error(struct ui *u)
{
	char *err = joblist_error(u->jl);
	if (err)
		ui_msg(u, 1, "%s", err);
	free(err);
	u->dirty |= D_PAINT;
}

/* Re-read the list (the window's height sets the page size). */
static void ui_reload(struct ui *u)
{
	joblist_set_rows(u->jl, u->wtable ? getmaxy(u->wtable) : LINES);
	joblist_reload(u->jl);
	notify_step(u->nt, u->st, STDOUT_FILENO); /* the last live job of a batch ended? */
	ui_list_error(u);
}

static void ui_move(struct ui *u, long delta)
{
	joblist_move(u->jl, delta);
	ui_list_error(u);
}

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

static void ui_apply_search(struct ui *u, const char *s)
{
	joblist_set_search(u->jl, s);
	u->dirty |= D_LIST;
}

/* Open a one-line prompt in the status line: the line editor of the compose
 * form, prefilled with init and that selected (typing replaces it). */
static void ui_input_open(struct ui *u, enum ui_input in, const char *init)
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

static void ui_input_key(struct ui *u, int code, int is_key)
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

static void ui_input_free(struct ui *u)
{
	lineedit_free(u->in_ed);
	u->in_ed = NULL;
}

/* Open the image viewer on job j: a mode of the loop like the others, so
 * jobs keep moving while it shows. */
static void ui_view(struct ui *u, const struct job *j)
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

static void ui_gallery_free(struct ui *u)
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

static void ui_gallery_draw(struct ui *u)
{
	if (u->gax) {
		gallery_axes_draw(u->gax, u->pv, u->wover);
		return;
	}
	size_t n;
	struct job **jobs = joblist_jobs(u->jl, &n);
	gallery_draw(u->pv, u->wover, jobs, n, u->gal_sel, &u->gal_top);
}

static void ui_view_draw(struct ui *u)
{
	view_image_draw(u->vi, u->pv, u->wover);
}

static void ui_view_free(struct ui *u)
{
	view_image_free(u->vi);
	u->vi = NULL;
}

static void ui_view_key(struct ui *u, int code, int is_key)
{
	u->dirty |= D_PAINT;
	if (view_image_key(u->vi, code, is_key))
		return;
	ui_view_free(u);
	ui_set_mode(u, u->view_back);
}

static void ui_gallery_key(struct ui *u, int code, int is_key)
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

static void ui_main_key(struct ui *u, int code, int is_key)
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

static void ui_compose_key(struct ui *u, int code, int is_key)
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

static void ui_compose_free(struct ui *u)
{
	view_compose_free(u->vc);
	u->vc = NULL;
}

static void ui_help_key(struct ui *u, int code, int is_key)
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

static void ui_confirm_key(struct ui *u, int code, int is_key)
{
	if (code == 'y' || code == 'Y')
		ui_confirmed(u, 1);
	else if (code == 'n' || code == 'N' || code == 27 || code == 'q' || code == 7)
		ui_confirmed(u, 0);
}

static void ui_filter_key(struct ui *u, int code, int is_key)
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
