/*
 * ui_int.h: what the dashboard's files share, private to them: struct ui
 * (the dashboard's state), its modes and dirty flags, and the functions one
 * file gives the next. The files call one way only:
 *
 *   ui.c (the loop, curses, layout, painting, the table of screens)
 *     -> ui_popup.c (the confirm, input and filter popups, help)
 *     -> ui_main.c (the jobs table screen and its actions, the gallery and
 *                   viewer screens)
 *     -> ui_compose.c (the compose form's screen)
 *     -> ui_core.c (messages, modes, questions, the list's reload and moves)
 *
 * Every screen draws through draw.h and the views (view_*.h); none of them
 * includes ui.h.
 */
#ifndef SDQ_UI_INT_H
#define SDQ_UI_INT_H

#include <stddef.h>
#include <stdint.h>

#include "tui.h"
#include "job.h"
#include "term.h"

struct config;
struct store;
struct engine;
struct preview;
struct joblist;
struct joblist_group;
struct notify;
struct view_header;
struct waitlist;
struct lineedit;
struct view_compose;
struct gallery_axes;
struct view_image;

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


/* --- ui_core.c --- */
/* A message on the status line (an error stays longer). */
void ui_msg(struct ui *u, int is_err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A core error (*err, freed here) with what failed. */
void ui_err(struct ui *u, const char *what, char **err);
int ui_is_popup(enum ui_mode m);
/* Popups are drawn over a base mode: the one they were opened from. */
enum ui_mode ui_base(const struct ui *u);
/* The full-screen modes (drawn into u->wover). */
int ui_is_over(enum ui_mode m);
void ui_set_mode(struct ui *u, enum ui_mode m);
/* Ask a yes/no question (M_CONFIRM); ui_confirmed acts on the answer. */
void ui_confirm(struct ui *u, enum ui_confirm cf, int64_t id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void ui_list_error(struct ui *u);
void ui_reload(struct ui *u);
void ui_move(struct ui *u, long delta);
void ui_apply_search(struct ui *u, const char *s);
void ui_input_open(struct ui *u, enum ui_input in, const char *init);
void ui_view(struct ui *u, const struct job *j);

/* --- ui_compose.c: the compose form (M_COMPOSE) --- */
void ui_compose_open(struct ui *u, const struct job *from);
void ui_compose_close(struct ui *u);
/* Submit the form (confirmed: the question above VIEW_COMPOSE_CONFIRM_JOBS
 * was answered yes). */
void ui_compose_submit(struct ui *u, int confirmed);
void ui_compose_draw(struct ui *u);
void ui_compose_key(struct ui *u, int code, int is_key);
void ui_compose_free(struct ui *u);

/* --- ui_main.c: the jobs table (M_MAIN), the gallery (M_GALLERY), the
 * image viewer (M_VIEW) --- */
void ui_main_draw(struct ui *u);
void ui_main_key(struct ui *u, int code, int is_key);
void ui_save(struct ui *u, const struct job *j, const char *typed);
void ui_delete(struct ui *u, int64_t id, int files);
void ui_group_confirmed(struct ui *u, enum ui_confirm cf, int64_t gid, int yes);
void ui_gallery_draw(struct ui *u);
void ui_gallery_key(struct ui *u, int code, int is_key);
void ui_gallery_free(struct ui *u);
void ui_view_draw(struct ui *u);
void ui_view_key(struct ui *u, int code, int is_key);
void ui_view_free(struct ui *u);

/* --- ui_popup.c: the confirm (M_CONFIRM), input (M_INPUT) and filter
 * (M_FILTER) popups, the help (M_HELP) --- */
void ui_paint_confirm(struct ui *u);
void ui_confirm_key(struct ui *u, int code, int is_key);
void ui_input_key(struct ui *u, int code, int is_key);
void ui_input_free(struct ui *u);
void ui_paint_filter(struct ui *u);
void ui_filter_key(struct ui *u, int code, int is_key);
void ui_help_draw(struct ui *u);
void ui_help_key(struct ui *u, int code, int is_key);

#endif
