/*
 * damage.c: which cells the next doupdate() may write over. See damage.h.
 */
#include <stdlib.h>
#include <string.h>

#include "damage.h"

/* What the next doupdate may rewrite on one screen row: up to three column
 * ranges, [a, b] inclusive (a > b: none). */
struct row_span {
	int a[3], b[3];
};

/* A cell curses may clear with an erase (a space, no attribute but maybe a
 * colour: the terminal's background colour erase), and one it surely treats
 * as blank (a space, no attribute, no colour). */
static int cell_blank_loose(const cchar_t *c)
{
	return c->chars[0] == L' ' && c->chars[1] == 0 && (c->attr & A_ATTRIBUTES & ~A_COLOR) == 0;
}

static int cell_blank_strict(const cchar_t *c)
{
	return cell_blank_loose(c) && (c->attr & A_COLOR) == 0 && c->ext_color == 0;
}

/* Row r of w (curscr or newscr) into buf (n cells), its cursor left where
 * it was: curscr's is curses' idea of where the real cursor is. */
static void row_cells(WINDOW *w, int r, cchar_t *buf, int n)
{
	int cy, cx;

	getyx(w, cy, cx);
	memset(buf, 0, sizeof *buf * (size_t)n);
	mvwin_wchnstr(w, r, 0, buf, n);
	wmove(w, cy, cx);
}

/* The cells of row r that ncurses' TransformLine may write or erase, given
 * the old (curscr) and new (newscr) row: every cell from the first to the
 * last that differ (it rewrites equal cells in between rather than move the
 * cursor), from the start of the line when the new line starts later (clear
 * to the beginning, EL1), to the end when it ends sooner (EL). Insert and
 * delete character are off (preview_update), so nothing else moves. 0 when
 * the row does not change at all. */
static int row_touched(const cchar_t *o, const cchar_t *nw, int n, struct row_span *sp)
{
	int fd = -1, ld = -1, of = n, nf = n, ol = -1, nl = -1;

	for (int i = 0; i < n; i++) {
		if (memcmp(&o[i], &nw[i], sizeof o[i]) != 0) {
			if (fd < 0)
				fd = i;
			ld = i;
		}
		if (!cell_blank_strict(&o[i])) {
			if (of == n)
				of = i;
			ol = i;
		}
		if (!cell_blank_loose(&nw[i])) {
			if (nf == n)
				nf = i;
			nl = i;
		}
	}
	for (int k = 0; k < 3; k++) {
		sp->a[k] = 1;
		sp->b[k] = 0;
	}
	if (fd < 0)
		return 0;
	sp->a[0] = fd;
	sp->b[0] = ld;
	if (nf > of) {
		sp->a[1] = 0;
		sp->b[1] = nf - 1;
	}
	if (ol > nl) {
		sp->a[2] = nl + 1;
		sp->b[2] = n - 1;
	}
	return 1;
}

struct damage {
	int all;           /* a full repaint: everything */
	int L;             /* rows */
	unsigned char *ch; /* per row: does it change */
	struct row_span *sp;
};

struct damage *damage_new(void)
{
	int L = LINES, n = COLS, bottom, any = 0;
	struct damage *d = calloc(1, sizeof *d);
	cchar_t *o, *nw;

	if (!d)
		return NULL;
	d->L = L;
	if (!curscr || !newscr || L <= 0 || n <= 0)
		return d;
	d->all = is_cleared(curscr) || is_cleared(newscr);
	if (d->all)
		return d;
	o = malloc(sizeof *o * ((size_t)n + 1));
	nw = malloc(sizeof *nw * ((size_t)n + 1));
	d->sp = malloc(sizeof *d->sp * (size_t)L);
	d->ch = calloc((size_t)L, 1);
	if (!o || !nw || !d->sp || !d->ch) {
		free(o);
		free(nw);
		damage_free(d);
		return NULL;
	}
	/* a clear to the end of the screen (ClrBottom) from the first of the
	 * bottom rows that are blank in newscr, if any of them changes */
	bottom = L;
	for (int r = 0; r < L; r++) {
		int blank = 1;

		row_cells(curscr, r, o, n);
		row_cells(newscr, r, nw, n);
		d->ch[r] = (unsigned char)row_touched(o, nw, n, &d->sp[r]);
		for (int i = 0; i < n && blank; i++)
			blank = cell_blank_loose(&nw[i]);
		if (!blank)
			bottom = r + 1;
	}
	for (int r = bottom; r < L; r++)
		any |= d->ch[r];
	for (int r = bottom; any && r < L; r++) {
		d->ch[r] = 1;
		d->sp[r].a[0] = 0;
		d->sp[r].b[0] = n - 1;
	}
	free(o);
	free(nw);
	return d;
}

void damage_free(struct damage *d)
{
	if (!d)
		return;
	free(d->ch);
	free(d->sp);
	free(d);
}

int damage_hits(const struct damage *d, int y, int x, int rows, int cols)
{
	if (!d || d->all)
		return 1;
	if (!d->ch)
		return 0; /* curses has no screens yet */
	for (int r = y < 0 ? 0 : y; r < y + rows && r < d->L; r++) {
		if (!d->ch[r])
			continue;
		for (int k = 0; k < 3; k++)
			if (d->sp[r].a[k] <= d->sp[r].b[k] && d->sp[r].a[k] < x + cols &&
			    d->sp[r].b[k] >= x)
				return 1;
	}
	return 0;
}

/* A hash of screen row r of w (curscr or newscr), from every cell's
 * characters, attributes and colour. The window's cursor is left where it
 * was: curscr's is curses' idea of the real cursor. */
static unsigned long row_hash(WINDOW *w, int r, cchar_t *buf, int n)
{
	unsigned long h = 1469598103u;
	int cy, cx;

	getyx(w, cy, cx);
	memset(buf, 0, sizeof *buf * (size_t)n);
	mvwin_wchnstr(w, r, 0, buf, n);
	wmove(w, cy, cx);
	for (int i = 0; i < n; i++) {
		const unsigned char *p = (const unsigned char *)&buf[i];

		for (size_t k = 0; k < sizeof buf[i]; k++)
			h = (h ^ p[k]) * 1099511628211u;
	}
	return h;
}

/* How many of h[0..L) equal v. */
static int hash_count(const unsigned long *h, int L, unsigned long v)
{
	int c = 0;

	for (int i = 0; i < L; i++)
		c += h[i] == v;
	return c;
}

/* Will the next doupdate move lines (a scroll region, insert/delete line)?
 * ncurses (hashmap.c) pairs a changed new line with an old line at another
 * row when that content occurs exactly once on each screen, grows such
 * pairs into runs over the lines around them and scrolls the runs that are
 * long enough. Any pair may grow, so any pair counts here: the jobs table
 * growing at the top does it; a gallery never makes one (see
 * gallery_draw). */
int damage_will_shift(void)
{
	int n = COLS, L = LINES, shift = 0;
	unsigned long *ho, *hn;
	cchar_t *buf;

	if (!curscr || !newscr || n <= 0 || L <= 1)
		return 0;
	ho = malloc(sizeof *ho * (size_t)L);
	hn = malloc(sizeof *hn * (size_t)L);
	buf = malloc(sizeof *buf * ((size_t)n + 1));
	if (ho && hn && buf) {
		for (int r = 0; r < L; r++) {
			ho[r] = row_hash(curscr, r, buf, n);
			hn[r] = row_hash(newscr, r, buf, n);
		}
		for (int r = 0; r < L && !shift; r++)
			shift = hn[r] != ho[r] && hash_count(hn, L, hn[r]) == 1 &&
			        hash_count(ho, L, hn[r]) == 1;
	} else {
		shift = 1;
	}
	free(ho);
	free(hn);
	free(buf);
	return shift;
}
