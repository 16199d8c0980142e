/*
 * draw.h: the drawing helpers every screen of the dashboard shares: the
 * colour of each role, text from outside drawn sanitised and cut to fit,
 * wrapping, lines, progress bars, durations and popups. Only valid while
 * curses runs (draw_init after the screen is set up). The views (view_*.c),
 * the line editor and ui.c include this; it includes no other screen, so
 * tui/ imports in one direction: ui -> views -> draw.
 */
#ifndef SDQ_DRAW_H
#define SDQ_DRAW_H

#include <stddef.h>
#include <stdint.h>
#include "tui.h"
#include "job.h"

enum draw_color {
	DRAW_NORMAL,
	DRAW_HEADER,   /* the top line */
	DRAW_TITLE,    /* column headings, field labels */
	DRAW_SELECTED, /* the selected row */
	DRAW_DIM,      /* secondary text */
	DRAW_ERROR,    /* errors: always with a text mark too ("error:") */
	DRAW_OK,       /* COMPLETED, healthy */
	DRAW_WARN,     /* IN_QUEUE, rate limited */
	DRAW_RUN,      /* IN_PROGRESS, progress bars */
	DRAW_CANCEL,   /* CANCELLED */
	DRAW_FIELD,    /* an input field */
	DRAW_COLOR_COUNT
};

/* Set up the colour pairs (after curses started); utf8: the locale is
 * UTF-8 (else ASCII bars and borders, '?' for other characters). Returns 1
 * when colours are used, 0 with NO_COLOR or a monochrome terminal (roles
 * are then bold, reverse, underline). */
int draw_init(int utf8);

/* The attribute for a role: a colour pair, or with NO_COLOR / a monochrome
 * terminal a plain attribute (bold, reverse, underline). */
attr_t draw_attr(enum draw_color c);
/* The attribute of a job state's label. */
attr_t draw_state_attr(enum job_state s);
/* A short, fixed text label for a state; the label, not only the colour,
 * tells states apart. */
const char *draw_state_label(enum job_state s);
/* 1 when the locale is UTF-8 (else ASCII bars and borders). */
int draw_utf8(void);

/* Outside text s sanitised for the terminal (text_sanitize flags), and
 * outside UTF-8 made ASCII. Malloc'd; NULL on ENOMEM. */
char *draw_clean(const char *s, int flags);
/* Draw outside text s at (y, x) in w, sanitised (text_sanitize: newlines as
 * spaces), cut to maxw columns. Returns the columns used. */
int draw_put(WINDOW *w, int y, int x, int maxw, const char *s, attr_t a);
/* Draw s wrapped to width columns from row y, at most maxrows rows (newlines
 * kept, tabs expanded; a word that fits a row is kept whole, a longer one
 * such as a path breaks after a '/' or another separator). Returns rows
 * used. */
int draw_wrap(WINDOW *w, int y, int x, int width, int maxrows, const char *s, attr_t a);
/* Rows draw_wrap would use for s at width (no limit). */
int draw_wrap_rows(const char *s, int width);
/* A horizontal line of width cells (ASCII '-' outside UTF-8). */
void draw_hline(WINDOW *w, int y, int x, int width, attr_t a);
/* A progress bar of width cells for frac 0..1 (UTF-8 eighth blocks or '#'). */
void draw_bar(WINDOW *w, int y, int x, int width, double frac, attr_t a);
/* A duration as "850ms", "12s", "3m04s", "2h05m" into buf. */
char *draw_duration(int64_t ms, char *buf, size_t len);

/* A centred popup window of h x wd (cut to the screen) with a border and a
 * title (may be NULL); NULL if curses cannot make it. Show it with
 * draw_popup_show, which frees it. */
WINDOW *draw_popup(int h, int wd, const char *title);
/* Put popup p on the screen in full (redrawn, so no image shows through its
 * blank cells) at the next doupdate, and free it. */
void draw_popup_show(WINDOW *p);

#endif
