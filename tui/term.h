/*
 * term.h: what the terminal can do, probed once before curses starts.
 *
 * term_probe() asks the tty (DA1 last as the sentinel, CSI 16 t, XTSMGRAPHICS)
 * with a short bounded timeout, reads the cell size from TIOCGWINSZ, and
 * applies the overrides (SDQ_GRAPHICS, the config's ui.graphics). A terminal
 * that answers nothing costs at most the timeout, once.
 */
#ifndef SDQ_TERM_H
#define SDQ_TERM_H

enum term_graphics { TERM_GFX_NONE, TERM_GFX_BLOCKS, TERM_GFX_SIXEL };

struct term_info {
	enum term_graphics graphics; /* what previews use */
	int sixel_in_da1;            /* the terminal listed attribute 4 */
	int cell_w, cell_h;          /* cell size in pixels (a sane default if unknown) */
	int sixel_max_w, sixel_max_h; /* 0: unknown */
	int color_registers;         /* 0: unknown */
	int truecolor;               /* COLORTERM says truecolor/24bit */
	int in_multiplexer;          /* TMUX or STY set, or TERM screen* or tmux* */
	int sixel_unlisted;          /* sixel forced, but DA1 came back without 4 */
};

/* Probe the terminal on fd (a tty; nothing is sent if it is not one) and fill
 * ti. override: NULL/"auto", "sixel", "blocks" or "none" (the config's value;
 * SDQ_GRAPHICS in the environment wins over it); forced to blocks or none,
 * nothing is sent; forced to sixel, the terminal is still asked, so that
 * sixel_unlisted can say it does not list sixel. Never fails: unknowns get
 * defaults. timeout_ms bounds the whole exchange. */
void term_probe(int fd, const char *override, int timeout_ms, struct term_info *ti);

/* Re-read the cell size after a resize (TIOCGWINSZ only; no query sent). */
void term_update_cell_size(int fd, struct term_info *ti);

#endif
