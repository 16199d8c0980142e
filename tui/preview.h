/*
 * preview.h: the image pane of the dashboard, full-screen viewing and the
 * images of the thumbnail gallery (tui/gallery.h); sixel where the
 * terminal has it, Unicode half-blocks otherwise (term.h decides).
 *
 * Protocol with the dashboard (ui.c): every frame, the dashboard lays out its
 * windows and calls preview_place() for the pane (or preview_hide()), draws
 * everything with curses (wnoutrefresh), and calls preview_update() instead
 * of doupdate(): it finds the images whose cells that doupdate may write
 * over (curses clears lines to their start or end, ESC [ 1 K / ESC [ K, and
 * on a sixel terminal that wipes the pixels under them), runs doupdate(),
 * then writes every sixel image that is new or was written over to the tty
 * in one write(). When something covers
 * the pane (a popup, the help screen) the dashboard calls preview_hide() before
 * drawing the popup; after a resize or a full repaint it calls
 * preview_invalidate(). Half-block previews are ordinary curses cells drawn
 * in preview_place(); their colour pairs are numbers 64 and up (16 and up
 * when COLOR_PAIRS < 128), which the dashboard leaves alone.
 */
#ifndef SDQ_PREVIEW_H
#define SDQ_PREVIEW_H

#include "tui.h"
#include "term.h"
#include "job.h"

struct preview;

/* A new preview over the probed terminal ti (copied). tty_fd is where sixel
 * bytes go. ncolors: sixel palette size (0: 256). NULL on ENOMEM. */
struct preview *preview_new(const struct term_info *ti, int tty_fd, int ncolors);
void preview_free(struct preview *pv);
/* The terminal info in use (borrowed). */
const struct term_info *preview_term(struct preview *pv);

/* Show job j (copied: its images, or its progress while it runs; NULL: show
 * nothing) in the screen rectangle of win, which the caller has erased. Draws
 * half-blocks/progress/text into win now; a sixel image is queued for
 * preview_update(). Cheap when nothing changed (cached by image and size). */
void preview_place(struct preview *pv, WINDOW *win, const struct job *j);
/* The pane is gone or covered: the next flush draws nothing, and the cells
 * where an image was are really rewritten by curses (redrawwin). */
void preview_hide(struct preview *pv);
/* After a resize or a full repaint: re-read the cell size, forget what is on
 * screen, draw again at the next flush. */
void preview_invalidate(struct preview *pv);
/* Call instead of doupdate() once every window is wnoutrefresh'ed: images
 * that this doupdate writes over (compared row by row, curscr against
 * newscr) are marked to be sent again, doupdate() runs, and then the queued
 * sixel images go out, cursor saved and restored, as one write. */
void preview_update(struct preview *pv);
/* Images are decoded, scaled and encoded off the loop, on a worker thread
 * (core/decoder.h); meanwhile their box says "decoding...". The worker's
 * fd is readable when images are ready: the loop watches preview_fd() for
 * POLLIN and calls preview_collect(), which keeps them and, when one is on
 * the screen now, asks for a frame (preview_wants_redraw_in_ms returns 0)
 * and returns 1; 0 when nothing shown changed. */
int preview_fd(struct preview *pv);
int preview_collect(struct preview *pv);
/* A new image waits until the selection has been still for ~100 ms (no
 * sixel streaming while the user scrolls). Milliseconds until the UI should
 * run a frame (place, preview_update) again for it; 0: now; -1: nothing
 * pending. Use it in the loop's wait timeout. */
int preview_wants_redraw_in_ms(struct preview *pv);

/* The full-screen viewer (v, view_image.c): image k of job j (borrowed)
 * in win, which the caller has erased: a title line, the image scaled up
 * to fill the rest (sixel queued for preview_update, or blocks drawn now). */
void preview_view(struct preview *pv, WINDOW *win, const struct job *j, int k);

/* One image in a box of the screen (cells, screen coordinates), for
 * screens that lay out their own images (the gallery, tui/gallery.c). */
struct preview_tile {
	const char *path; /* borrowed for the call */
	int y, x, rows, cols;
	int aw, ah; /* the image's size as recorded (0: unknown) */
};

/* Show t[0..n) in win, which the caller has erased, each image fitted to
 * its box and never scaled up: half blocks drawn now, sixel images queued
 * for preview_update (as preview_place). n == 0: no images. Cheap when
 * nothing changed. */
void preview_tiles(struct preview *pv, WINDOW *win, const struct preview_tile *t, size_t n);

/* Print the image file at path to stdout (a terminal, or forced by the
 * config) the way ti says: sixel with ncolors colours, or half blocks with
 * ANSI colours; cols columns wide. 0, or -1
 * with *err set (the file cannot be read or decoded, a write failed). For
 * `sdq preview` (tui/cmd_preview.c). */
int preview_print(const struct term_info *ti, const char *path, int cols, int ncolors, char **err);

#endif
