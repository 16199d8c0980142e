/*
 * gallery.c: the thumbnail gallery (t): one thumbnail per job of the table,
 * about 160 px square, in as many columns and rows as the window holds; the
 * selection is a line above its thumbnail and its label reversed. The
 * images are placed through preview_tiles (tui/preview.c), which owns what
 * is on the terminal.
 */
#include "gallery.h"

#include <stdio.h>
#include <stdlib.h>

#include "draw.h"

/* The size of one thumbnail's image box in cells, about 160 px square. */
static void thumb_box(struct preview *pv, int *tw, int *th)
{
	const struct term_info *ti = preview_term(pv);
	int w = 160 / ti->cell_w;

	if (w < 10)
		w = 10;
	*tw = w;
	*th = (w * ti->cell_w + ti->cell_h / 2) / ti->cell_h;
	if (*th < 3)
		*th = 3;
}

void gallery_grid(struct preview *pv, WINDOW *win, int *cols, int *rows)
{
	int tw, th, wr, wc;

	thumb_box(pv, &tw, &th);
	getmaxyx(win, wr, wc);
	*cols = wc / (tw + 2);
	*rows = wr / (th + 3);
	if (*cols < 1)
		*cols = 1;
	if (*rows < 1)
		*rows = 1;
}

void gallery_draw(struct preview *pv, WINDOW *win, struct job **jobs, size_t n, size_t sel,
                  size_t *top)
{
	int gc, gr, tw, th, wy, wx;
	size_t per, first, k = 0;
	struct preview_tile *t;

	if (!pv || !win)
		return;
	gallery_grid(pv, win, &gc, &gr);
	thumb_box(pv, &tw, &th);
	getbegyx(win, wy, wx);
	per = (size_t)gc * gr;
	if (n == 0) {
		draw_put(win, 0, 0, getmaxx(win), "no jobs", 0);
		preview_tiles(pv, win, NULL, 0);
		return;
	}
	if (sel >= n)
		sel = n - 1;
	first = top ? *top : 0;
	if (sel < first)
		first = sel - sel % (size_t)gc;
	if (sel >= first + per)
		first = (sel / (size_t)gc - (size_t)gr + 1) * (size_t)gc;
	if (first >= n)
		first = 0;
	if (top)
		*top = first;
	t = calloc(per, sizeof *t);
	if (!t)
		return;
	for (size_t i = first; i < n && i < first + per; i++) {
		const struct job *j = jobs[i];
		int cy = (int)((i - first) / (size_t)gc) * (th + 3);
		int cx = (int)((i - first) % (size_t)gc) * (tw + 2);
		char label[96];
		const char *path = NULL;

		if (i == sel) {
			/* the selection: a line with the job's number above the
			 * thumbnail and its label reversed below; no sides. A
			 * side would change rows the thumbnails are on, and
			 * curses clears such rows to their start or end, wiping
			 * the sixel pixels of a whole row of tiles. The number
			 * keeps the line unlike any other, so curses never
			 * scrolls the screen to move it (scrolling moves the
			 * pixels too). */
			char num[32];

			snprintf(num, sizeof num, " #%lld ", j ? (long long)j->id : 0LL);
			wattron(win, A_BOLD);
			mvwaddch(win, cy, cx, ACS_ULCORNER);
			whline(win, ACS_HLINE, tw);
			mvwaddch(win, cy, cx + tw + 1, ACS_URCORNER);
			draw_put(win, cy, cx + 2, tw - 2, num, A_BOLD);
			wattroff(win, A_BOLD);
		}
		if (!j)
			continue;
		snprintf(label, sizeof label, "#%lld %s", (long long)j->id,
		         job_state_name(j->state));
		draw_put(win, cy + th + 2, cx + 1, tw, label, i == sel ? A_REVERSE : 0);
		for (size_t o = 0; o < j->n_outputs && !path; o++)
			path = j->outputs[o].path;
		if (!path || job_state_is_live(j->state)) {
			if (job_state_is_live(j->state) && j->progress >= 0)
				draw_bar(win, cy + 1 + th / 2, cx + 1, tw, j->progress,
				         draw_attr(DRAW_RUN));
			else
				draw_put(win, cy + 1 + th / 2, cx + 1, tw,
				         job_state_is_live(j->state) ? "..." : "(no image)", 0);
			continue;
		}
		t[k].path = path;
		t[k].y = wy + cy + 1;
		t[k].x = wx + cx + 1;
		t[k].rows = th;
		t[k].cols = tw;
		t[k].aw = j->outputs[0].width;
		t[k].ah = j->outputs[0].height;
		k++;
	}
	preview_tiles(pv, win, t, k);
	free(t);
}
