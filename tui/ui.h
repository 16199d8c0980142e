/*
 * ui.h: the dashboard (`sdq` with no command): curses lifecycle, layout, the
 * key table glue and the engine loop (ui.c). The second half holds the small
 * drawing helpers that the views (view_*.c) share; main.c needs only ui_run().
 */
#ifndef SDQ_UI_H
#define SDQ_UI_H

#include <stddef.h>
#include <stdint.h>

struct config;

/* Run the dashboard on the controlling terminal until the user quits.
 * cfg is borrowed (it must outlive the call); endpoint_override, if not NULL,
 * names the endpoint (or URL) new jobs go to by default. The terminal is
 * restored before returning. Returns an exit status: 0 on a normal quit, 1 when
 * the dashboard could not start (the reason is printed on stderr), 2 when the
 * terminal cannot host it (TERM unset, dumb or unknown, no cursor addressing,
 * smaller than 40x8: the reason and the commands to use instead on stderr). */
int ui_run(struct config *cfg, const char *endpoint_override);

/* --- For the views (only valid while ui_run runs curses) --- */
#ifdef SDQ_TUI_H
#include "job.h"

enum ui_color {
	UI_NORMAL,
	UI_HEADER,   /* the top line */
	UI_TITLE,    /* column headings, field labels */
	UI_SELECTED, /* the selected row */
	UI_DIM,      /* secondary text */
	UI_ERROR,    /* errors: always with a text mark too ("error:") */
	UI_OK,       /* COMPLETED, healthy */
	UI_WARN,     /* IN_QUEUE, rate limited */
	UI_RUN,      /* IN_PROGRESS, progress bars */
	UI_CANCEL,   /* CANCELLED */
	UI_FIELD,    /* an input field */
	UI_COLOR_COUNT
};

/* The attribute for a role: a colour pair, or with NO_COLOR / a monochrome
 * terminal a plain attribute (bold, reverse, underline). */
attr_t ui_attr(enum ui_color c);
/* The attribute of a job state's label. */
attr_t ui_state_attr(enum job_state s);
/* A short, fixed text label for a state ("queued", "running", ...); the
 * label, not only the colour, tells states apart. */
const char *ui_state_label(enum job_state s);
/* 1 when the locale is UTF-8 (else ASCII bars and borders). */
int ui_utf8(void);

/* Draw outside text s at (y, x) in w, sanitised (text_sanitize: newlines as
 * spaces), cut to maxw columns. Returns the columns used. */
int ui_put(WINDOW *w, int y, int x, int maxw, const char *s, attr_t a);
/* Draw s wrapped to width columns from row y, at most maxrows rows (newlines
 * kept, tabs expanded, words kept whole where possible). Returns rows used. */
int ui_wrap(WINDOW *w, int y, int x, int width, int maxrows, const char *s, attr_t a);
/* Rows ui_wrap would use for s at width (no limit). */
int ui_wrap_rows(const char *s, int width);
/* A horizontal line of width cells (ASCII '-' outside UTF-8). */
void ui_hline(WINDOW *w, int y, int x, int width, attr_t a);
/* A progress bar of width cells for frac 0..1 (UTF-8 eighth blocks or '#'). */
void ui_bar(WINDOW *w, int y, int x, int width, double frac, attr_t a);
/* A duration as "850ms", "12s", "3m04s", "2h05m" into buf. */
char *ui_duration(int64_t ms, char *buf, size_t len);
#endif

#endif
