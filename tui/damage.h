/*
 * damage.h: what the next doupdate() may write over, worked out from
 * curses' two screens (curscr: what the terminal shows; newscr: what it
 * will show) before the doupdate. Sixel images live outside curses: a cell
 * curses rewrites loses its pixels in most terminals, and a scroll moves
 * them, so the preview (preview.c) asks here which of its images to send
 * again. The answers follow ncurses' own update (tty_update.c, hashmap.c)
 * and err on the side of "yes": a wrong yes costs a re-sent image, a wrong
 * no a hole in the picture. Insert/delete character must be off
 * (idcok(stdscr, FALSE)), or a changed row could slide any cell.
 */
#ifndef SDQ_DAMAGE_H
#define SDQ_DAMAGE_H

#include "tui.h"

struct damage;

/* Compare curscr with newscr now (call it after the last wnoutrefresh,
 * right before doupdate). NULL on ENOMEM (treat everything as hit). */
struct damage *damage_new(void);
void damage_free(struct damage *d);

/* 1 if the next doupdate may write over any cell of the screen rectangle
 * (y, x, rows, cols): a changed row's span from its first to its last
 * changed cell, a clear to its start (EL1) or end (EL), a clear to the end
 * of the screen, a full repaint (clearok). */
int damage_hits(const struct damage *d, int y, int x, int rows, int cols);

/* 1 if the next doupdate may move lines (a scroll region, insert or delete
 * line), which moves sixel pixels with them in xterm. */
int damage_will_shift(void);

#endif
