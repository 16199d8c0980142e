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
 * The job list is a window over the history: the newest page first
 * (store_job_list with a limit), older pages appended as the selection moves
 * down (before_id), so a long history opens at once. Live jobs outside the
 * visible rows are announced by a marker row in the table (view_jobs.c).
 *
 * Layout: a header line (endpoints and their health), the jobs table, the
 * detail pane (Enter) with the preview, a status line. At >= 120 columns the
 * detail pane sits to the right (shown by default); below that it is stacked
 * under the table (hidden by default). The preview needs at least
 * UI_PREVIEW_MIN_COLS x UI_PREVIEW_MIN_ROWS cells or it is left out.
 *
 * Over 1500 lines (about 2430): the drawing helpers the views share and the
 * paged job list still live here; moving them out (and every screen onto the
 * table of screen operations the gallery and the viewer use) is issue 13's
 * ui.c split, not done yet.
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
#include "spawn.h"
#include "ui.h"
#include "keys.h"
#include "view_jobs.h"
#include "view_detail.h"
#include "view_compose.h"
#include "view_help.h"
#include "view_image.h"
#include "lineedit.h"
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
#define UI_DETAIL_MAX 500 /* rows of the detail pane's pad */
#define UI_HEALTH_AFTER_MS 500 /* health asked this long after a job moved */
#define UI_PASTE_MAX (256 * 1024) /* a paste longer than this is cut */
#define UI_SORT_MAX 2000 /* sorted other than by age: the newest this many */
#define UI_STR_(x) #x
#define UI_STR(x) UI_STR_(x)
/* Bracketed paste (xterm's mode 2004): the terminal wraps pasted text in
 * these, which define_key turns into two key codes of our own. */
#define UI_KEY_PASTE_BEGIN (KEY_MAX + 1)
#define UI_KEY_PASTE_END (KEY_MAX + 2)

/* The table's orders (S cycles them). Newest first pages through the whole
 * history; the others sort the newest UI_SORT_MAX matching jobs. */
enum { UI_SORT_NEWEST, UI_SORT_STATE, UI_SORT_RUN, UI_SORT_ENDPOINT, UI_SORT_COUNT };
static const char *const ui_sort_names[UI_SORT_COUNT] = {"newest", "state", "run time",
                                                         "endpoint"};

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
enum ui_confirm { CF_CANCEL, CF_DELETE, CF_DELETE_FILES, CF_QUIT, CF_DISCARD, CF_RERUN };
enum ui_input { IN_SEARCH, IN_SAVE };

struct ui {
	struct config *cfg;
	struct store *st;
	struct engine *e;
	struct preview *pv;
	struct term_info ti;
	char *default_ep; /* endpoint name new jobs go to (the -e override), or NULL */
	int have_endpoint;

	/* the list */
	struct job **jobs;
	size_t n;
	int more;     /* older jobs than jobs[n-1] exist, not loaded */
	int gap;      /* newer jobs than jobs[0] exist, not loaded (after G) */
	int64_t base; /* how many jobs of the whole list come before jobs[0] */
	size_t sel, top;
	int64_t sel_id;
	int64_t *live;
	size_t nlive;
	enum job_state *live_state; /* live[i]'s state, kept current by ui_job_changed */
	char **live_ep;             /* live[i]'s endpoint name (NULL: none) */
	int64_t health_due;         /* ask every endpoint's health then (0: no) */
	struct ui_hsnap {           /* per endpoint: its last report with counts,
	                               and our jobs on it when that came */
		long run, queued;
		int valid;
		struct engine_health counts; /* numbers only (no strings) */
	} *hsnap;
	size_t nwait_key; /* live jobs whose API key no running sdq holds */
	int64_t total;
	char *search;   /* as typed */
	int state_mask; /* 0: all */
	int live_only;
	const char *filter_name;
	int sort;           /* UI_SORT_*: the table's order */
	int follow;         /* select each new job as it appears (F) */
	int64_t newest_id;  /* the newest job id seen (follow) */

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
	int in_cy, in_cx;       /* where its cursor was drawn in wstatus */
	char *save_dir;         /* the directory of the last save (s) */
	char *search_before; /* the search when / was pressed (Esc restores it) */
	struct view_compose *vc;
	int help_scroll;
	size_t gal_sel, gal_top;
	struct view_image *vi;  /* the image viewer (M_VIEW) */
	enum ui_mode view_back; /* the mode it was opened from */

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
	int too_small, wide, shown;
	int colors;
};

/* A screen's operations (tmux's struct window_mode): draw into u->wover
 * (erased by the caller; a sixel is queued for preview_update), handle a
 * key, follow a resize (after the windows were made again), free what the
 * screen holds (when it closes or the dashboard quits). NULL: nothing to do.
 * The gallery and the image viewer go through this table; the other modes
 * are still dispatched by the switches in ui_paint and ui_key. */
struct ui_screen {
	void (*draw)(struct ui *u);
	void (*key)(struct ui *u, int code, int is_key);
	void (*resize)(struct ui *u);
	void (*free)(struct ui *u);
};

static void ui_gallery_draw(struct ui *u);
static void ui_gallery_key(struct ui *u, int code, int is_key);
static void ui_view_draw(struct ui *u);
static void ui_view_key(struct ui *u, int code, int is_key);
static void ui_view_free(struct ui *u);

static const struct ui_screen ui_screens[M_COUNT] = {
    [M_GALLERY] = {ui_gallery_draw, ui_gallery_key, NULL, NULL},
    [M_VIEW] = {ui_view_draw, ui_view_key, NULL, ui_view_free},
};

/* --- the drawing helpers shared by the views (ui.h) --- */

static int ui_is_utf8 = 1;
static attr_t ui_attrs[UI_COLOR_COUNT];

int ui_utf8(void)
{
	return ui_is_utf8;
}

attr_t ui_attr(enum ui_color c)
{
	return c < UI_COLOR_COUNT ? ui_attrs[c] : 0;
}

attr_t ui_state_attr(enum job_state s)
{
	switch (s) {
	case JOB_PENDING:
	case JOB_SUBMITTING:
		return ui_attr(UI_DIM);
	case JOB_IN_QUEUE:
		return ui_attr(UI_WARN);
	case JOB_IN_PROGRESS:
		return ui_attr(UI_RUN) | A_BOLD;
	case JOB_COMPLETED:
		return ui_attr(UI_OK);
	case JOB_CANCELLED:
		return ui_attr(UI_CANCEL);
	case JOB_UNKNOWN:
	case JOB_OTHER:
		return ui_attr(UI_WARN) | A_BOLD;
	default:
		return ui_attr(UI_ERROR);
	}
}

const char *ui_state_label(enum job_state s)
{
	return job_state_name(s);
}

/* Outside the UTF-8 locale every non-ASCII character becomes '?'. */
static void ui_asciify(char *s)
{
	char *o = s;
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		if (*p < 0x80) {
			*o++ = (char)*p++;
			continue;
		}
		*o++ = '?';
		p++;
		while ((*p & 0xc0) == 0x80)
			p++;
	}
	*o = 0;
}

static char *ui_clean(const char *s, int flags)
{
	char *t = text_sanitize_str(s, flags);
	if (t && !ui_is_utf8)
		ui_asciify(t);
	return t;
}

int ui_put(WINDOW *w, int y, int x, int maxw, const char *s, attr_t a)
{
	if (!w || maxw <= 0 || !s || !*s)
		return 0;
	char *t = ui_clean(s, TEXT_NEWLINE_SPACE | TEXT_TABS_TO_SPACES);
	if (!t)
		return 0;
	if (maxw > 8 && ui_is_utf8 && text_utf8_width(t) > (size_t)maxw) {
		char *cut = text_truncate(t, maxw); /* ends in an ellipsis */
		if (cut) {
			free(t);
			t = cut;
		}
	}
	size_t n = text_utf8_fit(t, maxw);
	t[n] = 0;
	int used = (int)text_utf8_width(t);
	wattr_on(w, a, NULL);
	mvwaddnstr(w, y, x, t, (int)n);
	wattr_off(w, a, NULL);
	free(t);
	return used;
}

/* Where to end a wrapped row of q when n bytes fit in width: after the last
 * space, unless the word after it is too long for a row of its own and the
 * space is early (a URL, a path); such a word breaks after its last '/' in
 * the row, else its last other separator (? & = - _ . , :), else where the
 * row ends. */
static size_t ui_wrap_break(char *q, size_t n, int width)
{
	size_t sp = n;
	while (sp > 0 && q[sp] != ' ')
		sp--;
	if (q[sp] == ' ' && sp > 0) {
		if (sp > n / 2)
			return sp + 1;
		size_t e = sp + 1;
		while (q[e] && q[e] != ' ')
			e++;
		char c = q[e];
		q[e] = 0;
		int fits = text_utf8_width(q + sp + 1) <= (size_t)width;
		q[e] = c;
		if (fits)
			return sp + 1;
	}
	/* a '/' first (a path's directory ends there), then the others */
	for (const char *seps = "/\0?&=-_.,:"; *seps; seps += strlen(seps) + 1)
		for (size_t k = n; k > n / 3; k--)
			if (strchr(seps, q[k - 1]) && ((unsigned char)q[k] & 0xc0) != 0x80)
				return k;
	return n;
}

/* Wrap (draw when w is set) s at width; returns rows. */
static int ui_wrap_do(WINDOW *w, int y, int x, int width, int maxrows, const char *s, attr_t a)
{
	if (!s || width < 1)
		return 0;
	char *t = ui_clean(s, TEXT_KEEP_NEWLINES | TEXT_TABS_TO_SPACES);
	if (!t)
		return 0;
	int rows = 0;
	char *p = t;
	for (;;) {
		char *nl = strchr(p, '\n');
		if (nl)
			*nl = 0;
		char *q = p;
		do {
			if (maxrows >= 0 && rows >= maxrows)
				goto done;
			size_t len = strlen(q);
			size_t n = text_utf8_fit(q, width);
			if (n == 0 && len > 0)
				n = 1;
			if (n < len)
				n = ui_wrap_break(q, n, width);
			if (w) {
				int last = maxrows >= 0 && rows == maxrows - 1 && (n < len || nl);
				wattr_on(w, a, NULL);
				size_t dn = n; /* a space that ends the row is not drawn */
				while (dn > 0 && q[dn - 1] == ' ')
					dn--;
				mvwaddnstr(w, y + rows, x, q, (int)dn);
				if (last) { /* more is cut: say so */
					int cw = (int)text_utf8_fit(q, width - 1);
					mvwaddstr(w, y + rows, x + (cw < (int)n ? cw : (int)n),
					          ui_is_utf8 ? "\u2026" : "~");
				}
				wattr_off(w, a, NULL);
			}
			rows++;
			q += n;
		} while (*q);
		if (!nl)
			break;
		p = nl + 1;
	}
done:
	free(t);
	return rows;
}

int ui_wrap(WINDOW *w, int y, int x, int width, int maxrows, const char *s, attr_t a)
{
	if (maxrows <= 0)
		return 0;
	return ui_wrap_do(w, y, x, width, maxrows, s, a);
}

int ui_wrap_rows(const char *s, int width)
{
	return ui_wrap_do(NULL, 0, 0, width, -1, s, 0);
}

void ui_hline(WINDOW *w, int y, int x, int width, attr_t a)
{
	if (width <= 0)
		return;
	wattr_on(w, a, NULL);
	mvwhline(w, y, x, ui_is_utf8 ? ACS_HLINE : '-', width);
	wattr_off(w, a, NULL);
}

void ui_bar(WINDOW *w, int y, int x, int width, double frac, attr_t a)
{
	static const char *eighths[] = {"",       "\u258f", "\u258e", "\u258d",
	                                "\u258c", "\u258b", "\u258a", "\u2589"};
	if (width <= 0)
		return;
	if (frac < 0)
		frac = 0;
	if (frac > 1)
		frac = 1;
	int units = (int)(frac * width * 8 + 0.5);
	int full = units / 8, part = units % 8;
	wmove(w, y, x);
	wattr_on(w, a, NULL);
	for (int i = 0; i < full; i++)
		waddstr(w, ui_is_utf8 ? "\u2588" : "#");
	if (part && full < width)
		waddstr(w, ui_is_utf8 ? eighths[part] : (part >= 4 ? "#" : ""));
	wattr_off(w, a, NULL);
	int used = full + (part && full < width && (ui_is_utf8 || part >= 4) ? 1 : 0);
	wattr_on(w, ui_attr(UI_DIM), NULL);
	for (int i = used; i < width; i++)
		waddstr(w, ui_is_utf8 ? "\u00b7" : ".");
	wattr_off(w, ui_attr(UI_DIM), NULL);
}

char *ui_duration(int64_t ms, char *buf, size_t len)
{
	if (ms < 0)
		ms = 0;
	long long s = ms / 1000;
	if (ms > 0 && ms < 1000)
		snprintf(buf, len, "%lldms", (long long)ms);
	else if (s < 60)
		snprintf(buf, len, "%llds", s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm%02llds", s / 60, s % 60);
	else
		snprintf(buf, len, "%lldh%02lldm", s / 3600, (s / 60) % 60);
	return buf;
}

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

/* --- colours --- */

static void ui_colors_init(struct ui *u)
{
	const char *nc = getenv("NO_COLOR");
	u->colors = has_colors() && !(nc && *nc);
	if (u->colors) {
		start_color();
		use_default_colors();
		int grey = COLORS >= 16 ? 8 : COLOR_WHITE;
		static const short fgbg[][2] = {
		    [UI_HEADER] = {COLOR_WHITE, COLOR_BLUE},
		    [UI_TITLE] = {COLOR_CYAN, -1},
		    [UI_ERROR] = {COLOR_RED, -1},
		    [UI_OK] = {COLOR_GREEN, -1},
		    [UI_WARN] = {COLOR_YELLOW, -1},
		    [UI_RUN] = {COLOR_CYAN, -1},
		    [UI_CANCEL] = {COLOR_MAGENTA, -1},
		    [UI_FIELD] = {COLOR_WHITE, COLOR_BLUE},
		};
		for (int c = 1; c < UI_COLOR_COUNT; c++) {
			if (c == UI_SELECTED || c == UI_DIM)
				continue;
			init_pair((short)c, fgbg[c][0], fgbg[c][1]);
			ui_attrs[c] = COLOR_PAIR(c);
		}
		init_pair(UI_DIM, (short)grey, -1);
		ui_attrs[UI_DIM] = COLORS >= 16 ? COLOR_PAIR(UI_DIM) : A_DIM;
		ui_attrs[UI_SELECTED] = A_REVERSE;
		ui_attrs[UI_ERROR] |= A_BOLD;
		ui_attrs[UI_TITLE] |= A_BOLD;
	} else {
		ui_attrs[UI_HEADER] = A_REVERSE;
		ui_attrs[UI_TITLE] = A_BOLD;
		ui_attrs[UI_SELECTED] = A_REVERSE;
		ui_attrs[UI_DIM] = A_DIM;
		ui_attrs[UI_ERROR] = A_BOLD;
		ui_attrs[UI_WARN] = A_BOLD;
		ui_attrs[UI_RUN] = A_BOLD;
		ui_attrs[UI_FIELD] = A_UNDERLINE;
	}
}

/* --- the job list --- */

static int ui_page(void)
{
	int p = LINES * 2;
	return p > UI_PAGE_MIN ? p : UI_PAGE_MIN;
}

/* FTS5 query from what the user typed: every word as a quoted prefix. */
static char *ui_fts_query(const char *in)
{
	if (!in)
		return NULL;
	size_t cap = strlen(in) * 2 + 16, o = 0;
	char *q = malloc(cap);
	if (!q)
		return NULL;
	const char *p = in;
	while (*p) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		if (o)
			q[o++] = ' ';
		q[o++] = '"';
		while (*p && *p != ' ') {
			if (*p == '"')
				q[o++] = '"';
			q[o++] = *p++;
		}
		q[o++] = '"';
		q[o++] = '*';
	}
	q[o] = 0;
	if (!o) {
		free(q);
		return NULL;
	}
	return q;
}

static void ui_query(struct ui *u, struct store_query *q, char **fts)
{
	memset(q, 0, sizeof *q);
	*fts = ui_fts_query(u->search);
	q->text = *fts;
	q->state_mask = u->state_mask;
	q->live_only = u->live_only;
}

static void ui_select_id(struct ui *u)
{
	for (size_t i = 0; i < u->n; i++)
		if (u->jobs[i]->id == u->sel_id) {
			u->sel = i;
			return;
		}
	if (u->sel >= u->n)
		u->sel = u->n ? u->n - 1 : 0;
	u->sel_id = u->n ? u->jobs[u->sel]->id : 0;
}

static void ui_free_live(struct ui *u)
{
	for (size_t i = 0; u->live_ep && i < u->nlive; i++)
		free(u->live_ep[i]);
	free(u->live_ep);
	free(u->live_state);
	free(u->live);
	u->live_ep = NULL;
	u->live_state = NULL;
	u->live = NULL;
	u->nlive = 0;
}

/* Jobs of endpoint ep (NULL: every endpoint) among the live ones in state s. */
static long ui_live_in(const struct ui *u, const char *ep, enum job_state s)
{
	long n = 0;
	for (size_t i = 0; i < u->nlive; i++)
		if (u->live_state[i] == s &&
		    (!ep || (u->live_ep[i] && strcmp(u->live_ep[i], ep) == 0)))
			n++;
	return n;
}

static void ui_load_live(struct ui *u)
{
	struct store_query q;
	char *fts, *err = NULL;
	struct job **l = NULL;
	size_t n = 0;
	ui_query(u, &q, &fts);
	q.live_only = 1;
	q.limit = UI_LIVE_MAX;
	if (store_job_list(u->st, &q, &l, &n, &err) == 0) {
		int64_t *ids = malloc((n ? n : 1) * sizeof *ids);
		enum job_state *sts = malloc((n ? n : 1) * sizeof *sts);
		char **eps = calloc(n ? n : 1, sizeof *eps);
		if (ids && sts && eps) {
			for (size_t i = 0; i < n; i++) {
				ids[i] = l[i]->id;
				sts[i] = l[i]->state;
				eps[i] = l[i]->endpoint ? strdup(l[i]->endpoint) : NULL;
			}
			ui_free_live(u);
			u->live = ids;
			u->live_state = sts;
			u->live_ep = eps;
			ids = NULL;
			sts = NULL;
			eps = NULL;
			u->nlive = n;
			u->nwait_key = 0;
			for (size_t i = 0; i < n; i++)
				u->nwait_key += store_job_waits_for_key(u->st, l[i]) != 0;
		}
		free(ids);
		free(sts);
		free(eps);
		store_jobs_free(l, n);
	} else {
		free(err);
	}
	free(fts);
}

static int ui_state_rank(enum job_state s)
{
	static const enum job_state order[] = {
	    JOB_IN_PROGRESS, JOB_IN_QUEUE, JOB_SUBMITTING, JOB_PENDING,   JOB_OTHER,
	    JOB_UNKNOWN,     JOB_FAILED,   JOB_TIMED_OUT,  JOB_SUBMIT_FAILED, JOB_EXPIRED,
	    JOB_CANCELLED,   JOB_COMPLETED};
	for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
		if (order[i] == s)
			return (int)i;
	return (int)(sizeof order / sizeof order[0]);
}

/* How long a job ran (or runs: now), -1 if it never started. */
static int64_t ui_run_ms(const struct job *j, int64_t now)
{
	if (j->started_at)
		return (j->finished_at ? j->finished_at : now) - j->started_at;
	return j->exec_ms >= 0 ? j->exec_ms : -1;
}

static int ui_sort_key;
static int64_t ui_sort_now;

/* Live first, then failures, cancelled, finished; the longest run first; by
 * endpoint name; ties newest first. */
static int ui_sort_cmp(const void *pa, const void *pb)
{
	const struct job *a = *(struct job *const *)pa, *b = *(struct job *const *)pb;
	int c = 0;
	if (ui_sort_key == UI_SORT_STATE) {
		c = ui_state_rank(a->state) - ui_state_rank(b->state);
	} else if (ui_sort_key == UI_SORT_RUN) {
		int64_t x = ui_run_ms(a, ui_sort_now), y = ui_run_ms(b, ui_sort_now);
		c = x > y ? -1 : x < y;
	} else if (ui_sort_key == UI_SORT_ENDPOINT) {
		const char *x = a->endpoint ? a->endpoint : a->params.endpoint;
		const char *y = b->endpoint ? b->endpoint : b->params.endpoint;
		c = strcmp(x ? x : "", y ? y : "");
	}
	return c ? c : a->id > b->id ? -1 : a->id < b->id;
}

static void ui_sort(struct ui *u)
{
	ui_sort_key = u->sort;
	ui_sort_now = job_now_ms();
	if (u->n > 1)
		qsort(u->jobs, u->n, sizeof *u->jobs, ui_sort_cmp);
}

/* Follow (F): a job newer than any seen before is selected. */
static void ui_follow(struct ui *u)
{
	int64_t newest = 0;
	size_t at = 0;
	for (size_t i = 0; i < u->n; i++)
		if (u->jobs[i]->id > newest) {
			newest = u->jobs[i]->id;
			at = i;
		}
	if (u->follow && newest > u->newest_id) {
		u->sel = at;
		u->sel_id = newest;
	}
	if (newest > u->newest_id)
		u->newest_id = newest;
}

/* Re-read the list: from the newest job, as many as are loaded now; or, with
 * a gap above (after G), the same window from its first job down. */
static void ui_reload(struct ui *u)
{
	struct store_query q;
	char *fts, *err = NULL;
	struct job **l = NULL;
	size_t n = 0, want = u->n > (size_t)ui_page() ? u->n : (size_t)ui_page();
	if (u->sort != UI_SORT_NEWEST) { /* one window, sorted here */
		want = UI_SORT_MAX;
		u->gap = 0;
	}
	ui_query(u, &q, &fts);
	q.limit = (int)want;
	if (u->gap && u->n)
		q.before_id = u->jobs[0]->id + 1;
	if (store_job_list(u->st, &q, &l, &n, &err) < 0) {
		ui_err(u, u->search && *u->search ? "search" : "history", &err);
		free(fts);
		return;
	}
	if (u->gap && n == 0) { /* the window is gone: start from the top */
		free(l);
		free(fts);
		u->gap = 0;
		u->base = 0;
		store_jobs_free(u->jobs, u->n);
		u->jobs = NULL;
		u->n = 0;
		ui_reload(u);
		return;
	}
	store_jobs_free(u->jobs, u->n);
	u->jobs = l;
	u->n = n;
	u->more = n == want && u->sort == UI_SORT_NEWEST;
	if (u->sort != UI_SORT_NEWEST)
		ui_sort(u);
	ui_follow(u);
	int64_t bound = q.before_id;
	q.before_id = 0;
	u->total = store_job_count(u->st, &q, NULL);
	if (u->gap) {
		q.before_id = bound;
		u->base = u->total - store_job_count(u->st, &q, NULL);
		u->gap = u->base > 0;
	} else {
		u->base = 0;
	}
	free(fts);
	ui_select_id(u);
	ui_load_live(u);
	u->dirty |= D_PAINT;
}

/* The window at the end of the list (G on a long history): the oldest page,
 * with a gap above it that ui_load_newer fills as the selection moves up. */
static void ui_load_tail(struct ui *u)
{
	struct store_query q;
	char *fts, *err = NULL;
	struct job **l = NULL;
	size_t n = 0;
	ui_query(u, &q, &fts);
	q.oldest_first = 1;
	q.limit = ui_page();
	int rc = store_job_list(u->st, &q, &l, &n, &err);
	q.oldest_first = 0;
	int64_t total = rc == 0 ? store_job_count(u->st, &q, NULL) : -1;
	free(fts);
	if (rc < 0) {
		ui_err(u, "history", &err);
		return;
	}
	if (n == 0) {
		free(l);
		return;
	}
	for (size_t i = 0; i < n / 2; i++) { /* newest first, like the rest */
		struct job *t = l[i];
		l[i] = l[n - 1 - i];
		l[n - 1 - i] = t;
	}
	store_jobs_free(u->jobs, u->n);
	u->jobs = l;
	u->n = n;
	u->more = 0;
	u->total = total;
	u->base = total > (int64_t)n ? total - (int64_t)n : 0;
	u->gap = u->base > 0;
	u->sel = n - 1;
	u->top = 0;
	u->sel_id = l[n - 1]->id;
	ui_load_live(u);
	u->dirty |= D_PAINT;
}

/* Fill the gap above jobs[0] with the page of jobs just newer than it. The
 * store pages only downwards (before_id), so find the bound B with exactly a
 * page of matching jobs between jobs[0] and B by bisection over counts, then
 * list downwards from B. 0, or -1 if nothing came. */
static int ui_load_newer(struct ui *u)
{
	if (!u->gap || u->n == 0)
		return -1;
	struct store_query q;
	char *fts, *err = NULL;
	struct job **l = NULL;
	size_t n = 0;
	int64_t top = u->jobs[0]->id, page = ui_page();
	ui_query(u, &q, &fts);
	q.limit = 1;
	if (store_job_list(u->st, &q, &l, &n, &err) < 0 || n == 0) {
		free(err);
		store_jobs_free(l, n);
		free(fts);
		u->gap = 0;
		return -1;
	}
	int64_t hi = l[0]->id + 1, lo = top + 1;
	store_jobs_free(l, n);
	l = NULL;
	q.before_id = top + 1;
	int64_t c0 = store_job_count(u->st, &q, NULL);
	q.before_id = hi;
	int head = store_job_count(u->st, &q, NULL) - c0 <= page;
	if (!head) {
		while (lo < hi) {
			int64_t mid = lo + (hi - lo) / 2;
			q.before_id = mid;
			if (store_job_count(u->st, &q, NULL) - c0 >= page)
				hi = mid;
			else
				lo = mid + 1;
		}
	}
	q.before_id = hi;
	q.limit = (int)page;
	int rc = store_job_list(u->st, &q, &l, &n, &err);
	free(fts);
	if (rc < 0) {
		ui_err(u, "history", &err);
		return -1;
	}
	size_t k = 0; /* keep only jobs newer than the window (a race may add others) */
	for (size_t i = 0; i < n; i++) {
		if (l[i]->id > top)
			l[k++] = l[i];
		else
			job_free(l[i]);
	}
	if (k == 0) {
		free(l);
		u->gap = 0;
		return -1;
	}
	struct job **nj = realloc(l, (k + u->n) * sizeof *nj);
	if (!nj) {
		store_jobs_free(l, k);
		return -1;
	}
	memcpy(nj + k, u->jobs, u->n * sizeof *nj);
	free(u->jobs);
	u->jobs = nj;
	u->n += k;
	u->sel += k;
	u->top += k;
	u->base = u->base > (int64_t)k ? u->base - (int64_t)k : 0;
	if (head)
		u->gap = 0;
	if (!u->gap)
		u->base = 0;
	return 0;
}

/* Append the next page of older jobs. 0, or -1 if none came. */
static int ui_load_more(struct ui *u)
{
	if (!u->more || u->n == 0)
		return -1;
	struct store_query q;
	char *fts, *err = NULL;
	struct job **l = NULL;
	size_t n = 0;
	ui_query(u, &q, &fts);
	q.limit = ui_page();
	q.before_id = u->jobs[u->n - 1]->id;
	int rc = store_job_list(u->st, &q, &l, &n, &err);
	free(fts);
	if (rc < 0) {
		ui_err(u, "history", &err);
		return -1;
	}
	u->more = n == (size_t)q.limit;
	if (n == 0) {
		free(l);
		return -1;
	}
	struct job **nj = realloc(u->jobs, (u->n + n) * sizeof *nj);
	if (!nj) {
		store_jobs_free(l, n);
		return -1;
	}
	memcpy(nj + u->n, l, n * sizeof *l);
	free(l);
	u->jobs = nj;
	u->n += n;
	return 0;
}

/* Job id changed: refresh our copy in place, or re-read the list. */
static void ui_job_changed(struct ui *u, int64_t id)
{
	/* the header counts the live jobs by state (ui_paint_header): keep
	 * the state current in the same pass as the table's copy, and ask the
	 * endpoints' health soon after a job moves, so the workers follow */
	for (size_t i = 0; i < u->nlive; i++) {
		if (u->live[i] != id)
			continue;
		const struct job *ej = engine_job(u->e, id);
		struct job *sj = ej ? NULL : store_job_get(u->st, id, NULL);
		const struct job *cj = ej ? ej : sj;
		if (cj && cj->state != u->live_state[i]) {
			u->live_state[i] = cj->state;
			if (!u->health_due)
				u->health_due = job_now_ms() + UI_HEALTH_AFTER_MS;
		}
		job_free(sj);
		break;
	}
	if (u->vi && view_image_job_id(u->vi) == id) {
		const struct job *ej = engine_job(u->e, id);
		struct job *vj = ej ? job_dup(ej) : store_job_get(u->st, id, NULL);
		if (vj)
			view_image_update(u->vi, vj);
		job_free(vj);
		u->dirty |= D_PAINT;
	}
	for (size_t i = 0; i < u->n; i++) {
		if (u->jobs[i]->id != id)
			continue;
		const struct job *ej = engine_job(u->e, id);
		struct job *nj = ej ? job_dup(ej) : store_job_get(u->st, id, NULL);
		if (!nj) {
			u->dirty |= D_LIST;
			return;
		}
		if (job_state_is_live(nj->state) != job_state_is_live(u->jobs[i]->state) ||
		    (u->state_mask && !(u->state_mask & (1 << nj->state))) ||
		    (u->sort != UI_SORT_NEWEST && nj->state != u->jobs[i]->state))
			u->dirty |= D_LIST;
		job_free(u->jobs[i]);
		u->jobs[i] = nj;
		u->dirty |= D_PAINT;
		return;
	}
	/* Not loaded. Without a search or filter, a job older than the loaded
	 * window (or newer, with the window at the end after G) only matters
	 * for the live markers; anything else means the list changed. */
	int narrowed = (u->search && *u->search) || u->state_mask || u->live_only;
	if (!narrowed && u->n && (id < u->jobs[u->n - 1]->id || (u->gap && id > u->jobs[0]->id))) {
		/* once per pass, not per event: with 1000 live jobs a pass
		 * brings hundreds of events, and each read is a query */
		u->dirty |= D_LIVE | D_PAINT;
		return;
	}
	u->dirty |= D_LIST;
}

static struct job *ui_selected(struct ui *u)
{
	return u->n && u->sel < u->n ? u->jobs[u->sel] : NULL;
}

static void ui_move(struct ui *u, long delta)
{
	if (!u->n)
		return;
	long s = (long)u->sel + delta;
	while (s >= (long)u->n && u->more && ui_load_more(u) == 0)
		;
	while (s < 0 && u->gap) {
		size_t before = u->n;
		if (ui_load_newer(u) < 0)
			break;
		s += (long)(u->n - before);
	}
	if (s >= (long)u->n)
		s = (long)u->n - 1;
	if (s < 0)
		s = 0;
	u->sel = (size_t)s;
	/* keep a page loaded below the selection */
	if (u->more && u->sel + (size_t)LINES >= u->n)
		ui_load_more(u);
	if (u->gap && u->sel < (size_t)LINES)
		ui_load_newer(u);
	u->sel_id = u->jobs[u->sel]->id;
	u->dirty |= D_PAINT;
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
	attr_t sep = ui_attr(UI_DIM);
	if (u->wide) {
		int dw = cols * 2 / 5;
		if (dw < 56)
			dw = 56;
		if (dw > 100)
			dw = 100;
		int tw = cols - dw - 1;
		u->wtable = newwin(bh, tw, 1, 0);
		wattr_on(stdscr, sep, NULL);
		mvwvline(stdscr, 1, tw, ui_is_utf8 ? ACS_VLINE : '|', bh);
		wattr_off(stdscr, sep, NULL);
		int th = bh >= 20 ? bh / 2 - 1 : bh;
		if (th < 12 && bh >= 20)
			th = 12;
		u->wdetail = newwin(th, dw, 1, tw + 1);
		int ph = bh - th - 1;
		if (ph >= UI_PREVIEW_MIN_ROWS) {
			ui_hline(stdscr, 1 + th, tw + 1, dw, sep);
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
		ui_hline(stdscr, 1 + tableh, 0, cols, sep);
		if (dh < 1)
			return;
		int pw = cols >= 70 && dh >= UI_PREVIEW_MIN_ROWS ? cols * 2 / 5 : 0;
		if (pw < UI_PREVIEW_MIN_COLS)
			pw = 0;
		u->wdetail = newwin(dh, cols - (pw ? pw + 1 : 0), 2 + tableh, 0);
		if (pw) {
			wattr_on(stdscr, sep, NULL);
			mvwvline(stdscr, 2 + tableh, cols - pw - 1, ui_is_utf8 ? ACS_VLINE : '|',
			         dh);
			wattr_off(stdscr, sep, NULL);
			u->wprev = newwin(dh, pw, 2 + tableh, cols - pw);
		}
	}
}

/* --- painting --- */

static int ui_hdr_put(WINDOW *w, int x, const char *s, attr_t a)
{
	int W = getmaxx(w);
	if (x >= W)
		return x;
	return x + ui_put(w, 0, x, W - x, s, a);
}

static void ui_paint_header(struct ui *u)
{
	WINDOW *w = u->whdr;
	attr_t base = ui_attr(UI_HEADER);
	wbkgdset(w, ' ' | base);
	werase(w);
	int x = ui_hdr_put(w, 0, " sdq ", base | A_BOLD);
	if (u->cfg->n_endpoints == 0) {
		x = ui_hdr_put(w, x, " no endpoint configured ", base | A_BOLD);
	}
	for (size_t i = 0; i < u->cfg->n_endpoints; i++) {
		const struct config_endpoint *ep = &u->cfg->endpoints[i];
		const struct engine_health *h = engine_health(u->e, ep->name);
		/* A report without counts (a job's own route to this endpoint
		 * says only that it is reachable) keeps the last counts. */
		struct engine_health hv;
		if (h && !h->valid && u->hsnap && u->hsnap[i].valid && !h->error &&
		    !h->auth_failed && !h->not_found) {
			hv = u->hsnap[i].counts;
			hv.rate_limited = h->rate_limited;
			hv.reachable = h->reachable;
			h = &hv;
		}
		char b[256];
		x = ui_hdr_put(w, x, " ", base);
		x = ui_hdr_put(w, x, ep->name, base | A_BOLD);
		if (u->cfg->n_endpoints == 1 && ep->url && COLS >= 100) {
			snprintf(b, sizeof b, " %s", ep->url);
			x = ui_hdr_put(w, x, b, base);
		}
		x = ui_hdr_put(w, x, ": ", base);
		attr_t bad = (u->colors ? ui_attr(UI_ERROR) : 0) | A_BOLD | A_REVERSE;
		if (h && h->auth_failed) {
			x = ui_hdr_put(w, x, "AUTH FAILED", bad);
		} else if (h && h->not_found) {
			x = ui_hdr_put(w, x, "NOT FOUND (HTTP 404): check the id", bad);
		} else if (h && h->no_health && h->reachable) {
			/* runpod-python's local test API: up, but no counts */
			x = ui_hdr_put(w, x, "local test API: no health, cancel, retry, purge", base);
		} else if (h && h->rate_limited && !h->valid) {
			x = ui_hdr_put(w, x, "RATE LIMITED", bad);
		} else if (!h || !h->valid) {
			x = ui_hdr_put(w, x, h && h->error ? "UNREACHABLE" : "health ?",
			               h && h->error ? bad : base);
		} else if (!h->reachable) {
			x = ui_hdr_put(w, x, "UNREACHABLE", bad);
		} else {
			if (h->rate_limited)
				x = ui_hdr_put(w, x, "RATE LIMITED ", bad);
			/* The health report is seconds old; the table is current.
			 * Others' jobs come from the report, ours from the table:
			 * the report less our jobs as they were when it came, plus
			 * our jobs now. So the header and the table agree in every
			 * frame (a job the table shows running has a running
			 * worker; one that finished gives its worker back). */
			long run = ui_live_in(u, ep->name, JOB_IN_PROGRESS);
			long queued = ui_live_in(u, ep->name, JOB_IN_QUEUE);
			long run0 = run, queued0 = queued;
			if (u->hsnap && u->hsnap[i].valid) {
				run0 = u->hsnap[i].run;
				queued0 = u->hsnap[i].queued;
			}
			long in_prog = h->jobs_in_progress - run0 + run;
			long in_queue = h->jobs_in_queue - queued0 + queued;
			long wrun = h->workers_running - run0 + run;
			long wall = h->workers_idle + h->workers_running;
			in_prog = in_prog > run ? in_prog : run;
			in_queue = in_queue > queued ? in_queue : queued;
			wrun = wrun > run ? wrun : run;
			if (wrun > wall && wall >= run) /* no more workers than there are */
				wrun = wall;
			long widle = wall > wrun ? wall - wrun : 0;
			if (!(backend_kind_of(ep)->caps & BACKEND_REMOTE_HEALTH))
				snprintf(b, sizeof b, "local, %ld running, %ld queued", in_prog,
				         in_queue);
			else {
				/* In words a newcomer reads at once; starting and
				 * throttled workers only when there are some. */
				int k = snprintf(b, sizeof b, "workers: %ld idle, %ld running",
				                 widle, wrun);
				if (h->workers_initializing && k > 0 && k < (int)sizeof b)
					k += snprintf(b + k, sizeof b - (size_t)k, ", %ld starting",
					              h->workers_initializing);
				if (h->workers_throttled && k > 0 && k < (int)sizeof b)
					k += snprintf(b + k, sizeof b - (size_t)k,
					              ", %ld throttled", h->workers_throttled);
				if (k > 0 && k < (int)sizeof b)
					snprintf(b + k, sizeof b - (size_t)k, "; %ld in queue",
					         in_queue);
			}
			x = ui_hdr_put(w, x, b, base);
		}
		if (i + 1 < u->cfg->n_endpoints)
			x = ui_hdr_put(w, x, " |", base);
	}
	/* right: live count and role */
	char r[128];
	if (u->nwait_key)
		snprintf(r, sizeof r, " %zu live, %zu wait for a driver with their API key%s ",
		         u->nlive, u->nwait_key, engine_is_driver(u->e) ? "" : " (viewer)");
	else
		snprintf(r, sizeof r, " %zu live%s ", u->nlive,
		         engine_is_driver(u->e) ? "" : " (viewer)");
	int rw = (int)strlen(r), W = getmaxx(w);
	if (x + rw < W)
		ui_put(w, 0, W - rw, rw, r, base | A_BOLD);
	wnoutrefresh(w);
}

static void ui_paint_status(struct ui *u)
{
	WINDOW *w = u->wstatus;
	int W = getmaxx(w);
	werase(w);
	char right[160] = "";
	size_t o = 0;
	if (u->follow)
		o += (size_t)snprintf(right + o, sizeof right - o, "[follow] ");
	if (u->sort != UI_SORT_NEWEST && o < sizeof right)
		o += (size_t)snprintf(right + o, sizeof right - o, "[by %s] ", ui_sort_names[u->sort]);
	if (u->filter_name && o < sizeof right)
		o += (size_t)snprintf(right + o, sizeof right - o, "[%s] ", u->filter_name);
	if (u->search && *u->search && o < sizeof right)
		o += (size_t)snprintf(right + o, sizeof right - o, "[/%.40s] ", u->search);
	/* the counter follows the gallery's selection there (and in the
	 * viewer opened from it) */
	enum ui_mode bm = ui_base(u);
	size_t at = bm == M_GALLERY || (bm == M_VIEW && u->view_back == M_GALLERY) ? u->gal_sel
	                                                                          : u->sel;
	if (o < sizeof right)
		snprintf(right + o, sizeof right - o, "%lld/%lld",
		         u->n ? (long long)u->base + (long long)at + 1 : 0LL,
		         (long long)(u->total > 0 ? u->total : 0));
	char *rs = ui_clean(right, TEXT_NEWLINE_SPACE);
	int rw = rs ? (int)text_utf8_width(rs) : 0;
	if (rw > W / 2)
		rw = 0;
	int lw = W - (rw ? rw + 1 : 0);
	if (u->mode == M_INPUT && u->in_ed) {
		const char *p = u->in == IN_SEARCH ? "search: " : "save to: ";
		int x = ui_put(w, 0, 0, lw, p, A_BOLD);
		/* the field takes the rest of the left part; the counter stays */
		u->in_cy = 0;
		u->in_cx = x;
		lineedit_draw(u->in_ed, w, 0, x, lw - x - 1, 1, 1, &u->in_cy, &u->in_cx);
	} else if (u->msg[0]) {
		int x = 0;
		if (u->msg_err)
			x = ui_put(w, 0, 0, lw, "error: ", ui_attr(UI_ERROR));
		ui_put(w, 0, x, lw - x, u->msg, u->msg_err ? ui_attr(UI_ERROR) : A_BOLD);
	} else if (!u->have_endpoint) {
		ui_put(
		    w, 0, 0, lw,
		    "no endpoint: set SDQ_ENDPOINT and RUNPOD_API_KEY, or add [endpoint \"name\"] "
		    "url = ... to the config file (man sdq); browsing works",
		    ui_attr(UI_WARN));
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
		ui_put(w, 0, 0, lw, hints, ui_attr(UI_DIM));
	}
	if (rw && rs)
		ui_put(w, 0, W - rw, rw, rs, ui_attr(UI_DIM));
	free(rs);
	wnoutrefresh(w);
}

/* A centred popup of h x wd with a border and a title; redrawn in full so
 * no image shows through its blank cells. */
static WINDOW *ui_popup(int h, int wd, const char *title)
{
	if (wd > COLS - 2)
		wd = COLS - 2;
	if (h > LINES - 2)
		h = LINES - 2;
	WINDOW *p = newwin(h, wd, (LINES - h) / 2, (COLS - wd) / 2);
	if (!p)
		return NULL;
	werase(p);
	if (ui_is_utf8)
		box(p, 0, 0);
	else
		wborder(p, '|', '|', '-', '-', '+', '+', '+', '+');
	if (title)
		ui_put(p, 0, 2, wd - 4, title, A_BOLD);
	return p;
}

static void ui_popup_show(WINDOW *p)
{
	redrawwin(p);
	wnoutrefresh(p);
	delwin(p);
}

static void ui_paint_confirm(struct ui *u)
{
	int wd = (int)text_utf8_width(u->cf_text) + 6;
	if (wd < 40)
		wd = 40;
	int rows = ui_wrap_rows(u->cf_text, wd - 4);
	WINDOW *p = ui_popup(rows + 4, wd, "Confirm");
	if (!p)
		return;
	int pw = getmaxx(p);
	ui_wrap(p, 1, 2, pw - 4, getmaxy(p) - 3, u->cf_text, A_BOLD);
	ui_put(p, getmaxy(p) - 2, 2, pw - 4, "y: yes   n/Esc: no", ui_attr(UI_DIM));
	ui_popup_show(p);
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
	WINDOW *p = ui_popup((int)UI_NFILTERS + 3, 68, "Filter by state");
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
		ui_put(p, 1 + (int)i, 2, getmaxx(p) - 4, b,
		       u->filter_name == ui_filters[i].name ? A_BOLD : 0);
	}
	ui_put(p, getmaxy(p) - 1, 2, getmaxx(p) - 4, " Esc: keep ", ui_attr(UI_DIM));
	ui_popup_show(p);
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
	WINDOW *pad = newpad(UI_DETAIL_MAX, W);
	if (!pad) {
		view_detail_draw(u->wdetail, j, now, store_job_waits_for_key(u->st, j));
		wnoutrefresh(u->wdetail);
		return;
	}
	int used = view_detail_draw(pad, j, now, store_job_waits_for_key(u->st, j));
	if (u->dscroll > used - h)
		u->dscroll = used - h;
	if (u->dscroll < 0)
		u->dscroll = 0;
	copywin(pad, u->wdetail, u->dscroll, 0, 0, 0, h - 1, W - 1, FALSE);
	delwin(pad);
	if (used > h) { /* say there is more, and where */
		char m[48];
		snprintf(m, sizeof m, " %s J/K ",
		         u->dscroll + h < used ? (u->dscroll ? "more" : "more below")
		                               : "more above");
		int mw = (int)strlen(m);
		ui_put(u->wdetail, h - 1, W - mw, mw, m, ui_attr(UI_HEADER));
	}
	wnoutrefresh(u->wdetail);
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
	int64_t now = job_now_ms();
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
	int cursor = 0, cy = 0, cx = 0;
	WINDOW *cw = NULL;

	enum ui_mode base = ui_base(u);
	if ((base == M_COMPOSE || base == M_HELP) && u->wover) {
		preview_hide(u->pv);
		werase(u->wover);
		if (base == M_COMPOSE) {
			view_compose_draw(u->vc, u->wover, &cy, &cx);
			cursor = u->mode == M_COMPOSE;
			cw = u->wover;
		} else {
			view_help_draw(u->wover, &u->help_scroll);
		}
		if (u->over_new) {
			redrawwin(u->wover);
			u->over_new = 0;
		}
		wnoutrefresh(u->wover);
	} else if (ui_screens[base].draw && u->wover) {
		werase(u->wover);
		ui_screens[base].draw(u);
		if (u->over_new) {
			redrawwin(u->wover);
			u->over_new = 0;
		}
		wnoutrefresh(u->wover);
	} else {
		struct view_jobs_info info = {u->live, u->nlive, u->more, now};
		werase(u->wtable);
		view_jobs_draw(u->wtable, u->jobs, u->n, u->sel, &u->top, &info,
		               u->search && *u->search ? "No job matches the search."
		               : u->state_mask || u->live_only
		                   ? "No job in this state (f: change the filter)."
		                   : "No jobs yet. Press n to compose one.");
		wnoutrefresh(u->wtable);
		struct job *j = ui_selected(u);
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
	if (u->mode == M_CONFIRM) {
		preview_hide(u->pv);
		ui_paint_confirm(u);
	} else if (u->mode == M_FILTER) {
		preview_hide(u->pv);
		ui_paint_filter(u);
	}
	ui_paint_status(u);
	if (u->mode == M_INPUT) {
		cursor = 1;
		cw = u->wstatus;
		cy = u->in_cy;
		cx = u->in_cx;
	}
	if (cursor && cw) {
		curs_set(1);
		wmove(cw, cy, cx);
		wnoutrefresh(cw);
	} else {
		curs_set(0);
	}
	preview_update(u->pv);
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
	char eps[512] = "";
	size_t o = 0;
	for (size_t i = 0; i < u->cfg->n_endpoints && o + 2 < sizeof eps; i++) {
		int k = snprintf(eps + o, sizeof eps - o, "%s%s", i ? ", " : "",
		                 u->cfg->endpoints[i].name);
		if (k < 0 || (size_t)k >= sizeof eps - o)
			break;
		o += (size_t)k;
	}
	view_compose_free(u->vc);
	u->vc = view_compose_new(&p, recent, nrecent, from ? title : "New job", eps);
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

static void ui_compose_submit(struct ui *u)
{
	struct job_params p;
	char *err = NULL;
	if (view_compose_params(u->vc, &p, &err) < 0) {
		ui_err(u, "compose", &err);
		return;
	}
	int64_t id = engine_submit(u->e, &p, &err);
	job_params_clear(&p);
	if (!id) {
		ui_err(u, "submit", &err);
		return; /* stay in the form: nothing typed is lost */
	}
	ui_compose_close(u);
	u->sel_id = id;
	u->dirty |= D_LIST;
	ui_msg(u, 0, "job %lld submitted", (long long)id);
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

/* Save job j's images to what the user typed: a directory (a name ending
 * in '/', or one that exists: each image by its own name) or a file name (the
 * first image; the others get -2, -3, ...). A directory that does not exist
 * yet is created, and the message says so. */
static void ui_save(struct ui *u, const struct job *j, const char *typed)
{
	char dst[PATH_MAX];
	const char *home = getenv("HOME");
	int n;
	if (typed[0] == '~' && (typed[1] == '/' || !typed[1]) && home)
		n = snprintf(dst, sizeof dst, "%s/%s", home, typed[1] ? typed + 2 : "");
	else
		n = snprintf(dst, sizeof dst, "%s", typed);
	if (n < 0 || (size_t)n >= sizeof dst) {
		ui_msg(u, 1, "save: the path is too long");
		return;
	}
	size_t dl = strlen(dst);
	int want_dir = dl > 0 && dst[dl - 1] == '/';
	while (dl > 1 && dst[dl - 1] == '/') /* no double slash when joining */
		dst[--dl] = 0;
	struct stat sb;
	int isdir = stat(dst, &sb) == 0 && S_ISDIR(sb.st_mode);
	/* the directory to create, if any: dst itself, or the file's parent */
	char mk[PATH_MAX] = "";
	if (want_dir && !isdir) {
		snprintf(mk, sizeof mk, "%s", dst);
	} else if (!isdir) {
		const char *slash = strrchr(dst, '/');
		if (slash && slash > dst) {
			snprintf(mk, sizeof mk, "%.*s", (int)(slash - dst), dst);
			if (stat(mk, &sb) == 0) {
				if (!S_ISDIR(sb.st_mode)) {
					ui_msg(u, 1, "save: %s is not a directory", mk);
					return;
				}
				mk[0] = 0;
			}
		}
	}
	if (mk[0]) {
		if (config_mkdirs(mk, 0777) < 0) {
			ui_msg(u, 1, "save: cannot create the directory %s: %s", mk,
			       strerror(errno));
			return;
		}
		if (want_dir)
			isdir = 1;
	}
	size_t saved = 0;
	char last[PATH_MAX] = "";
	for (size_t i = 0; i < j->n_outputs; i++) {
		const char *src = j->outputs[i].path;
		if (!src)
			continue;
		char to[PATH_MAX];
		int len;
		if (isdir) {
			const char *base = strrchr(src, '/');
			len = snprintf(to, sizeof to, "%s%s%s", dst, strcmp(dst, "/") ? "/" : "",
			               base ? base + 1 : src);
		} else if (saved == 0) {
			len = snprintf(to, sizeof to, "%s", dst);
		} else {
			const char *dot = strrchr(dst, '.');
			const char *slash = strrchr(dst, '/');
			if (dot && (!slash || dot > slash))
				len = snprintf(to, sizeof to, "%.*s-%zu%s", (int)(dot - dst), dst,
				               saved + 1, dot);
			else
				len = snprintf(to, sizeof to, "%s-%zu", dst, saved + 1);
		}
		if (len < 0 || (size_t)len >= sizeof to) {
			ui_msg(u, 1, "save: the path is too long");
			return;
		}
		/* atomic, like sdq get; an existing file is never replaced */
		if (util_copy_file(src, to, 1) < 0) {
			int e = errno;
			ui_msg(u, 1, "save: %s: %s%s", access(src, R_OK) < 0 ? src : to,
			       strerror(e), e == EEXIST ? " (choose another name)" : "");
			return;
		}
		snprintf(last, sizeof last, "%s", to);
		saved++;
	}
	/* the next save starts in the same directory */
	char dir[PATH_MAX];
	if (isdir) {
		snprintf(dir, sizeof dir, "%s", dst);
	} else {
		const char *slash = strrchr(dst, '/');
		snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - dst) : 0, dst);
	}
	if (dir[0]) {
		free(u->save_dir);
		u->save_dir = strdup(dir);
	}
	const char *made = mk[0] ? " (directory created)" : "";
	if (saved == 1)
		ui_msg(u, 0, "saved %s%s", last, made);
	else
		ui_msg(u, 0, "saved %zu images to %s%s", saved, isdir ? dst : last, made);
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

/* r starts a new (paid) job: ask first, naming where it goes. A job goes to
 * the destination it recorded at submit (its URL), whatever its endpoint's
 * name means in the config now. */
static void ui_rerun_ask(struct ui *u, const struct job *j)
{
	const char *name = j->endpoint ? j->endpoint : j->params.endpoint;
	const char *url = j->endpoint_url;
	const struct config_endpoint *ep = name ? config_endpoint(u->cfg, name) : NULL;
	if (!url && ep)
		url = ep->url;
	int local = j->backend && !(backend_kind_caps(j->backend) & BACKEND_REMOTE_HEALTH);
	char where[600];
	if (local)
		snprintf(where, sizeof where, "the local sd-cli %s", name ? name : "");
	else if (url && name && strcmp(name, url) != 0)
		snprintf(where, sizeof where, "endpoint %s (%s)", name, url);
	else
		snprintf(where, sizeof where, "endpoint %s", url ? url : name ? name : "(default)");
	int n = j->params.count > 0 ? j->params.count : 1;
	ui_confirm(u, CF_RERUN, j->id, "Re-run job %lld on %s? It starts a new job of %d image%s%s.",
	           (long long)j->id, where, n, n == 1 ? "" : "s",
	           local ? "" : " (billed by the endpoint)");
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
	case CF_RERUN:
		if (yes) {
			int64_t nid = engine_rerun(u->e, id, &err);
			if (!nid) {
				ui_err(u, "re-run", &err);
			} else {
				ui_msg(u, 0, "job %lld re-run as job %lld", (long long)id,
				       (long long)nid);
				u->sel_id = nid;
				u->dirty |= D_LIST;
			}
		}
		break;
	}
}

static void ui_apply_search(struct ui *u, const char *s)
{
	free(u->search);
	u->search = s && *s ? strdup(s) : NULL;
	u->sel = 0;
	u->top = 0;
	u->sel_id = 0;
	u->gap = 0;
	u->base = 0;
	store_jobs_free(u->jobs, u->n);
	u->jobs = NULL;
	u->n = 0;
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
		struct job *j = ui_selected(u);
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

static void ui_main_action(struct ui *u, enum keys_action a)
{
	struct job *j = ui_selected(u);
	char *err = NULL;
	int page = view_jobs_page(u->wtable ? getmaxy(u->wtable) : LINES - 3);
	switch (a) {
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
		if (u->gap) { /* start again from the newest */
			u->gap = 0;
			u->base = 0;
			store_jobs_free(u->jobs, u->n);
			u->jobs = NULL;
			u->n = 0;
			u->sel = u->top = 0;
			u->sel_id = 0;
			ui_reload(u);
		}
		ui_move(u, -(long)u->sel);
		break;
	case KA_BOTTOM:
		if (u->more)
			ui_load_tail(u);
		ui_move(u, (long)u->n);
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
		u->search_before = u->search ? strdup(u->search) : NULL;
		ui_input_open(u, IN_SEARCH, u->search);
		break;
	case KA_FILTER:
		ui_set_mode(u, M_FILTER);
		break;
	case KA_SORT:
		u->sort = (u->sort + 1) % UI_SORT_COUNT;
		u->gap = 0;
		u->base = 0;
		u->dirty |= D_LIST;
		ui_msg(u, 0, "sorted by %s%s", ui_sort_names[u->sort],
		       u->sort == UI_SORT_NEWEST ? ""
		                                 : " (the newest " UI_STR(UI_SORT_MAX) " jobs; S again: "
		                                   "next order)");
		break;
	case KA_FOLLOW:
		u->follow = !u->follow;
		if (u->follow) { /* select the newest now */
			u->newest_id = 0;
			u->dirty |= D_LIST;
		}
		ui_msg(u, 0, "%s", u->follow ? "following the newest job: each new job is selected"
		                             : "not following new jobs");
		break;
	case KA_CLEAR:
		if ((u->search && *u->search) || u->state_mask || u->live_only) {
			u->state_mask = 0;
			u->live_only = 0;
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
			         j->n_outputs > 1 ? "" : base ? base + 1 : j->outputs[0].path);
			ui_input_open(u, IN_SAVE, init);
		}
		break;
	case KA_OPEN:
		if (!j || j->n_outputs == 0 || !j->outputs[0].path)
			ui_msg(u, 1, "open: this job has no image");
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
		u->gal_sel = u->sel;
		u->gal_top = 0;
		preview_hide(u->pv);
		ui_set_mode(u, M_GALLERY);
		u->dirty |= D_FULL;
		break;
	case KA_VIEW:
		ui_view(u, j);
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
		if (i >= 0 && (size_t)i < u->n) {
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
			ui_move(u, i - (long)u->sel);
		}
	}
}

static void ui_gallery_draw(struct ui *u)
{
	preview_gallery(u->pv, u->wover, u->jobs, u->n, u->gal_sel, &u->gal_top);
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
	int gc = 1, gr = 1;
	if (u->wover)
		preview_gallery_grid(u->pv, u->wover, &gc, &gr);
	if (gc < 1)
		gc = 1;
	long s = (long)u->gal_sel;
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
		if (u->gal_sel < u->n)
			ui_view(u, u->jobs[u->gal_sel]);
		return;
	case KA_GAL_CLOSE:
		u->sel = u->gal_sel < u->n ? u->gal_sel : u->sel;
		if (u->n)
			u->sel_id = u->jobs[u->sel]->id;
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
	while (s >= (long)u->n && u->more && ui_load_more(u) == 0)
		;
	if (s >= (long)u->n)
		s = (long)u->n - 1;
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
	switch (u->mode) {
	case M_MAIN:
		if (is_key && code == KEY_MOUSE) {
			ui_mouse(u);
			return;
		}
		if (u->msg[0] && !u->msg_err) {
			u->msg[0] = 0;
			u->dirty |= D_PAINT;
		}
		ui_main_action(u, keys_lookup(KEYS_MAIN, code));
		break;
	case M_COMPOSE: {
		if (is_key && code == KEY_MOUSE) {
			MEVENT ev;
			getmouse(&ev);
			return;
		}
		enum view_compose_result r = view_compose_key(u->vc, code, is_key);
		u->dirty |= D_PAINT;
		if (r == VIEW_COMPOSE_SUBMIT) {
			ui_compose_submit(u);
		} else if (r == VIEW_COMPOSE_CANCEL) {
			if (view_compose_changed(u->vc))
				ui_confirm(u, CF_DISCARD, 0, "Discard the text you typed?");
			else
				ui_compose_close(u);
		}
		break;
	}
	case M_HELP:
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
		break;
	case M_CONFIRM:
		if (code == 'y' || code == 'Y')
			ui_confirmed(u, 1);
		else if (code == 'n' || code == 'N' || code == 27 || code == 'q' || code == 7)
			ui_confirmed(u, 0);
		break;
	case M_INPUT:
		ui_input_key(u, code, is_key);
		break;
	case M_FILTER:
		ui_set_mode(u, u->back_mode);
		for (size_t i = 0; i < UI_NFILTERS; i++) {
			if (!is_key && code == ui_filters[i].key) {
				u->state_mask = ui_filters[i].mask;
				u->live_only = ui_filters[i].live;
				u->filter_name = i == 0 ? NULL : ui_filters[i].name;
				ui_apply_search(u, u->search ? u->search : "");
				break;
			}
		}
		break;
	default:
		if (u->mode < M_COUNT && ui_screens[u->mode].key)
			ui_screens[u->mode].key(u, code, is_key);
		break;
	}
}

/* --- the loop --- */

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
static void ui_health_snap(struct ui *u, const char *name)
{
	if (!name)
		return;
	if (!u->hsnap && u->cfg->n_endpoints)
		u->hsnap = calloc(u->cfg->n_endpoints, sizeof *u->hsnap);
	const struct engine_health *h = engine_health(u->e, name);
	for (size_t i = 0; u->hsnap && h && h->valid && i < u->cfg->n_endpoints; i++) {
		if (strcmp(u->cfg->endpoints[i].name, name) != 0)
			continue;
		u->hsnap[i].counts = *h;
		u->hsnap[i].counts.text = NULL;
		u->hsnap[i].counts.error = NULL;
		u->hsnap[i].run = ui_live_in(u, name, JOB_IN_PROGRESS);
		u->hsnap[i].queued = ui_live_in(u, name, JOB_IN_QUEUE);
		u->hsnap[i].valid = 1;
	}
}

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
		ui_health_snap(u, ev->endpoint);
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
		for (size_t i = u->top; i < u->n && i < u->top + (size_t)rows; i++)
			if (job_state_is_live(u->jobs[i]->state))
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
	ui_is_utf8 = cs && (strcasecmp(cs, "UTF-8") == 0 || strcasecmp(cs, "utf8") == 0);
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
	ui_colors_init(u);
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
		engine_free(u->e);
		store_close(u->st);
		free(u->default_ep);
		return 2;
	}
	u->pv = preview_new(&u->ti, STDOUT_FILENO, cfg->sixel_colors);

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
			ui_load_live(u);
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
	preview_free(u->pv);
	ui_delwin(&u->whdr);
	ui_delwin(&u->wtable);
	ui_delwin(&u->wdetail);
	ui_delwin(&u->wprev);
	ui_delwin(&u->wstatus);
	ui_delwin(&u->wover);
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
	store_close(u->st);
	view_compose_free(u->vc);
	store_jobs_free(u->jobs, u->n);
	ui_free_live(u);
	free(u->hsnap);
	free(u->search);
	free(u->search_before);
	free(u->default_ep);
	free(u->save_dir);
	free(u->paste);
	lineedit_free(u->in_ed);
	return rc;
}
