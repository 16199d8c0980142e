/*
 * ptyterm.h: run a real program under a pty and read its screen back, for the
 * TUI tests (tests/tui_*.c). No X needed.
 *
 * The child is started with forkpty() and a winsize that includes pixels. Its
 * output is read from the master and split: every DCS string (ESC P ... ESC \,
 * i.e. sixel images) goes to a capture list together with the cursor position
 * just before it; everything else goes to libvterm 0.1.4, which keeps the text
 * grid (libvterm itself drops DCS fragments, hence the split). The harness
 * answers the child's terminal queries itself: DA1 (CSI c / CSI 0 c) with a
 * configurable reply, and CSI 16 t with the cell size if configured. libvterm's
 * own replies are thrown away.
 *
 * The child's environment is the test's, plus/minus the entries given, with
 * TERM=screen-256color unless given (libvterm 0.1.4 mishandles ncurses' REP,
 * which xterm-256color uses) and LINES/COLUMNS removed.
 *
 * Nothing here waits without a timeout. Rows and columns are 0-based.
 */
#ifndef SDQ_PTYTERM_H
#define SDQ_PTYTERM_H

#include <stddef.h>

struct ptyterm;

/* DA1 replies: a VT220-ish terminal with sixel (attribute 4) and without. */
#define PTYTERM_DA1_SIXEL "\033[?62;4;22c"
#define PTYTERM_DA1_PLAIN "\033[?62;22c"

struct ptyterm_opts {
	const char *da1_reply; /* sent on CSI c / CSI 0 c; NULL: PTYTERM_DA1_PLAIN */
	int cell_w, cell_h;    /* pixels per cell in the winsize; 0: 8 x 17 */
	int answer_cell_size;  /* answer CSI 16 t with "CSI 6;cell_h;cell_w t" */
};

/* Start argv[0] (a path; argv NULL-terminated) under a new pty of cols x rows.
 * env: NULL or a NULL-terminated list of "NAME=VALUE" to set and "NAME" to
 * unset in the child. opts may be NULL (defaults above). NULL on failure (the
 * reason on stderr). */
struct ptyterm *ptyterm_start(char *const argv[], char *const env[], int cols, int rows,
                              const struct ptyterm_opts *opts);

/* Terminate the child (SIGTERM, then SIGKILL after 2 s), reap it, free pt.
 * Returns the child's exit status (see ptyterm_wait_exit). Accepts NULL. */
int ptyterm_stop(struct ptyterm *pt);

/* Read and process whatever the child writes for at most timeout_ms (returns
 * as soon as something was read). 1 if something was read, 0 if not, -1 once
 * the child has closed the pty. */
int ptyterm_pump(struct ptyterm *pt, int timeout_ms);
/* Pump until nothing arrives for quiet_ms (bounded by timeout_ms). */
void ptyterm_settle(struct ptyterm *pt, int quiet_ms, int timeout_ms);

/* Send raw bytes (typed text, control characters like "\x13" for Ctrl-S). */
int ptyterm_send(struct ptyterm *pt, const char *bytes);
/* Send a named key, encoded the way the terminal's current modes want it
 * (application cursor keys after ncurses' keypad()): "Up", "Down", "Left",
 * "Right", "Home", "End", "PgUp", "PgDn", "Enter", "Esc", "Tab", "Backspace",
 * "Delete", "Insert", "F1".."F12", or "C-x" for Ctrl-x. 0, or -1 if unknown. */
int ptyterm_key(struct ptyterm *pt, const char *name);
/* A mouse press+release (button 1..3, 4/5 = wheel up/down) at row, col, as
 * SGR (1006) or X10 reports depending on what the child asked for. */
int ptyterm_click(struct ptyterm *pt, int button, int row, int col);

/* Pump until text appears on the screen (anywhere, within one row) or
 * timeout_ms passes. 1 if found, 0 if not. */
int ptyterm_wait_for_text(struct ptyterm *pt, const char *text, int timeout_ms);
/* Pump until text is nowhere on the screen. 1 if gone, 0 on timeout. */
int ptyterm_wait_for_text_gone(struct ptyterm *pt, const char *text, int timeout_ms);
/* Where text is on the screen now: 1 and the position in *row and *col (either may be NULL), or 0.
 */
int ptyterm_find(struct ptyterm *pt, const char *text, int *row, int *col);

/* Row's text as UTF-8 into buf (trailing blanks kept, NUL-terminated). Returns
 * buf ("" if row is out of range). */
char *ptyterm_row(struct ptyterm *pt, int row, char *buf, size_t len);
/* The whole screen as malloc'd UTF-8 text, rows separated by '\n' and
 * trailing blanks removed (for messages and debugging). */
char *ptyterm_screen(struct ptyterm *pt);
void ptyterm_size(struct ptyterm *pt, int *cols, int *rows);
void ptyterm_cursor(struct ptyterm *pt, int *row, int *col);

/* The look of one cell. Colours: 0..255 for an indexed colour, -1 default,
 * 0x1000000 | rgb for a direct colour. */
struct ptyterm_cell {
	unsigned ch; /* first code point, 0 for blank */
	int fg, bg;
	int bold, reverse, underline;
};
int ptyterm_cell(struct ptyterm *pt, int row, int col, struct ptyterm_cell *out);

/* Resize the pty (the child gets SIGWINCH) and the emulated screen. 0 or -1. */
int ptyterm_resize(struct ptyterm *pt, int cols, int rows);

/* The DCS strings seen so far, in order. data is the full string from ESC P to
 * ESC \ inclusive; row/col is the cursor just before it. Borrowed until
 * ptyterm_stop or ptyterm_clear_captures. */
struct ptyterm_capture {
	char *data;
	size_t len;
	int row, col;
};
size_t ptyterm_ncaptures(struct ptyterm *pt);
const struct ptyterm_capture *ptyterm_capture(struct ptyterm *pt, size_t i);
void ptyterm_clear_captures(struct ptyterm *pt);
/* Every OSC string the program sent (ESC ] ... BEL or ST: its text, one a
 * line), e.g. "52;c;BASE64"; "" for none. Not drawn. Valid until the next
 * pump or ptyterm_stop. */
const char *ptyterm_osc(struct ptyterm *pt);

/* The sixel layer: a model of what a sixel terminal such as xterm shows.
 * Each sixel image (a captured DCS with raster attributes) covers the cells
 * under its pixels, from the cursor cell, ceil(w / cell_w) x ceil(h / cell_h)
 * (clipped to the screen). A cell keeps showing the image until text is
 * written into it or it is erased (EL, EL1, ED, ECH: whatever libvterm reports
 * as damage) or another image covers it; a scroll moves it with the text; a
 * resize drops every image. Images are numbered from 0 in the order drawn
 * and kept (data included) until ptyterm_stop; ptyterm_clear_captures does
 * not touch them. */
struct ptyterm_image {
	const char *data; /* the DCS, ESC P ... ESC \ */
	size_t len;
	int row, col;   /* top-left cell */
	int rows, cols; /* cells covered */
	int w, h;       /* pixels */
};
/* The image showing in cell (row, col), or -1. */
int ptyterm_image_at(struct ptyterm *pt, int row, int col);
/* Image idx (borrowed until ptyterm_stop), or NULL. */
const struct ptyterm_image *ptyterm_image(struct ptyterm *pt, int idx);
/* 1 if every on-screen cell image idx covered still shows it. */
int ptyterm_image_intact(struct ptyterm *pt, int idx);
size_t ptyterm_nimages(struct ptyterm *pt);

/* 1 while the child has the alternate screen on (curses running). */
int ptyterm_altscreen(struct ptyterm *pt);
/* 1 if the pty's line discipline is in its normal cooked mode (ICANON, ECHO
 * and ISIG on, i.e. the child restored the terminal). */
int ptyterm_tty_sane(struct ptyterm *pt);

/* Wait up to timeout_ms for the child to exit, pumping its output. Returns
 * its exit code, 128 + signal if killed by one, or -1 if it still runs. */
int ptyterm_wait_exit(struct ptyterm *pt, int timeout_ms);
/* The child's pid (for sending it signals in tests). */
int ptyterm_pid(struct ptyterm *pt);

#endif
