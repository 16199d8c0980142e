/*
 * draw.c: the drawing helpers every screen shares (see draw.h): colours by
 * role, sanitised and cut text, wrapping that keeps words and paths whole,
 * lines, bars, durations, popups.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"
#include "tui.h"
#include "draw.h"

static int draw_is_utf8 = 1;
static attr_t draw_attrs[DRAW_COLOR_COUNT];

int draw_utf8(void)
{
	return draw_is_utf8;
}

attr_t draw_attr(enum draw_color c)
{
	return c < DRAW_COLOR_COUNT ? draw_attrs[c] : 0;
}

attr_t draw_state_attr(enum job_state s)
{
	switch (s) {
	case JOB_PENDING:
	case JOB_SUBMITTING:
		return draw_attr(DRAW_DIM);
	case JOB_IN_QUEUE:
		return draw_attr(DRAW_WARN);
	case JOB_IN_PROGRESS:
		return draw_attr(DRAW_RUN) | A_BOLD;
	case JOB_COMPLETED:
		return draw_attr(DRAW_OK);
	case JOB_CANCELLED:
		return draw_attr(DRAW_CANCEL);
	case JOB_UNKNOWN:
	case JOB_OTHER:
		return draw_attr(DRAW_WARN) | A_BOLD;
	default:
		return draw_attr(DRAW_ERROR);
	}
}

const char *draw_state_label(enum job_state s)
{
	return job_state_name(s);
}

/* Outside the UTF-8 locale every non-ASCII character becomes '?'. */
static void draw_asciify(char *s)
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

char *draw_clean(const char *s, int flags)
{
	char *t = text_sanitize_str(s, flags);
	if (t && !draw_is_utf8)
		draw_asciify(t);
	return t;
}

int draw_put(WINDOW *w, int y, int x, int maxw, const char *s, attr_t a)
{
	if (!w || maxw <= 0 || !s || !*s)
		return 0;
	char *t = draw_clean(s, TEXT_NEWLINE_SPACE | TEXT_TABS_TO_SPACES);
	if (!t)
		return 0;
	if (maxw > 8 && draw_is_utf8 && text_utf8_width(t) > (size_t)maxw) {
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
static size_t draw_wrap_break(char *q, size_t n, int width)
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
static int draw_wrap_do(WINDOW *w, int y, int x, int width, int maxrows, const char *s, attr_t a)
{
	if (!s || width < 1)
		return 0;
	char *t = draw_clean(s, TEXT_KEEP_NEWLINES | TEXT_TABS_TO_SPACES);
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
				n = draw_wrap_break(q, n, width);
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
					          draw_is_utf8 ? "\u2026" : "~");
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

int draw_wrap(WINDOW *w, int y, int x, int width, int maxrows, const char *s, attr_t a)
{
	if (maxrows <= 0)
		return 0;
	return draw_wrap_do(w, y, x, width, maxrows, s, a);
}

int draw_wrap_rows(const char *s, int width)
{
	return draw_wrap_do(NULL, 0, 0, width, -1, s, 0);
}

void draw_hline(WINDOW *w, int y, int x, int width, attr_t a)
{
	if (width <= 0)
		return;
	wattr_on(w, a, NULL);
	mvwhline(w, y, x, draw_is_utf8 ? ACS_HLINE : '-', width);
	wattr_off(w, a, NULL);
}

void draw_bar(WINDOW *w, int y, int x, int width, double frac, attr_t a)
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
		waddstr(w, draw_is_utf8 ? "\u2588" : "#");
	if (part && full < width)
		waddstr(w, draw_is_utf8 ? eighths[part] : (part >= 4 ? "#" : ""));
	wattr_off(w, a, NULL);
	int used = full + (part && full < width && (draw_is_utf8 || part >= 4) ? 1 : 0);
	wattr_on(w, draw_attr(DRAW_DIM), NULL);
	for (int i = used; i < width; i++)
		waddstr(w, draw_is_utf8 ? "\u00b7" : ".");
	wattr_off(w, draw_attr(DRAW_DIM), NULL);
}

char *draw_duration(int64_t ms, char *buf, size_t len)
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

int draw_init(int utf8)
{
	const char *nc = getenv("NO_COLOR");
	int colors = has_colors() && !(nc && *nc);
	draw_is_utf8 = utf8;
	if (colors) {
		start_color();
		use_default_colors();
		int grey = COLORS >= 16 ? 8 : COLOR_WHITE;
		static const short fgbg[][2] = {
		    [DRAW_HEADER] = {COLOR_WHITE, COLOR_BLUE},
		    [DRAW_TITLE] = {COLOR_CYAN, -1},
		    [DRAW_ERROR] = {COLOR_RED, -1},
		    [DRAW_OK] = {COLOR_GREEN, -1},
		    [DRAW_WARN] = {COLOR_YELLOW, -1},
		    [DRAW_RUN] = {COLOR_CYAN, -1},
		    [DRAW_CANCEL] = {COLOR_MAGENTA, -1},
		    [DRAW_FIELD] = {COLOR_WHITE, COLOR_BLUE},
		};
		for (int c = 1; c < DRAW_COLOR_COUNT; c++) {
			if (c == DRAW_SELECTED || c == DRAW_DIM)
				continue;
			init_pair((short)c, fgbg[c][0], fgbg[c][1]);
			draw_attrs[c] = COLOR_PAIR(c);
		}
		init_pair(DRAW_DIM, (short)grey, -1);
		draw_attrs[DRAW_DIM] = COLORS >= 16 ? COLOR_PAIR(DRAW_DIM) : A_DIM;
		draw_attrs[DRAW_SELECTED] = A_REVERSE;
		draw_attrs[DRAW_ERROR] |= A_BOLD;
		draw_attrs[DRAW_TITLE] |= A_BOLD;
	} else {
		draw_attrs[DRAW_HEADER] = A_REVERSE;
		draw_attrs[DRAW_TITLE] = A_BOLD;
		draw_attrs[DRAW_SELECTED] = A_REVERSE;
		draw_attrs[DRAW_DIM] = A_DIM;
		draw_attrs[DRAW_ERROR] = A_BOLD;
		draw_attrs[DRAW_WARN] = A_BOLD;
		draw_attrs[DRAW_RUN] = A_BOLD;
		draw_attrs[DRAW_FIELD] = A_UNDERLINE;
	}
	return colors;
}

/* A centred popup of h x wd with a border and a title; redrawn in full so
 * no image shows through its blank cells. */
WINDOW *draw_popup(int h, int wd, const char *title)
{
	if (wd > COLS - 2)
		wd = COLS - 2;
	if (h > LINES - 2)
		h = LINES - 2;
	WINDOW *p = newwin(h, wd, (LINES - h) / 2, (COLS - wd) / 2);
	if (!p)
		return NULL;
	werase(p);
	if (draw_is_utf8)
		box(p, 0, 0);
	else
		wborder(p, '|', '|', '-', '-', '+', '+', '+', '+');
	if (title)
		draw_put(p, 0, 2, wd - 4, title, A_BOLD);
	return p;
}

void draw_popup_show(WINDOW *p)
{
	redrawwin(p);
	wnoutrefresh(p);
	delwin(p);
}
