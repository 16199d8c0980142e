/*
 * lineedit.c: the dashboard's text editor (see lineedit.h).
 *
 * The buffer is UTF-8 with a byte cursor. Only printable characters and (in
 * a multi-line editor) newlines are ever inserted, so it can be drawn as it
 * is. A multi-line editor wraps by characters at the width it was drawn at;
 * the same layout serves drawing and moving up and down, so the cursor
 * position is exact.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "text.h"
#include "tui.h"
#include "draw.h"
#include "keys.h"
#include "lineedit.h"

#define LE_MAX_TEXT (256 * 1024) /* a pasted prompt larger than this is cut */

struct lineedit {
	char *s;
	size_t len, cap, cur;
	int multiline;
	int selected;  /* the whole text is selected: typing replaces it */
	int truncated; /* an insertion was cut */
	int scroll;    /* first visible row (multi-line) or column (one line) */
	int width;     /* the width it was last drawn at */
};

struct le_row {
	size_t start, end;
};

int lineedit_set(struct lineedit *e, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n > LE_MAX_TEXT)
		n = LE_MAX_TEXT;
	if (n + 1 > e->cap) {
		char *p = realloc(e->s, n + 1);
		if (!p)
			return -1;
		e->s = p;
		e->cap = n + 1;
	}
	if (n)
		memcpy(e->s, s, n);
	e->s[n] = 0;
	e->len = n;
	e->cur = n;
	e->scroll = 0;
	e->selected = 0;
	return 0;
}

struct lineedit *lineedit_new(const char *init, int multiline)
{
	struct lineedit *e = calloc(1, sizeof *e);
	if (!e)
		return NULL;
	e->multiline = multiline;
	e->width = 1;
	if (lineedit_set(e, init ? init : "") < 0) {
		free(e);
		return NULL;
	}
	return e;
}

void lineedit_free(struct lineedit *e)
{
	if (!e)
		return;
	free(e->s);
	free(e);
}

void lineedit_select_all(struct lineedit *e)
{
	e->selected = e->len > 0;
	e->cur = e->len;
}

const char *lineedit_text(const struct lineedit *e)
{
	return e->s ? e->s : "";
}

int lineedit_truncated(const struct lineedit *e)
{
	return e->truncated;
}

static int le_insert(struct lineedit *e, const char *b, size_t n)
{
	if (e->len + n > LE_MAX_TEXT) {
		e->truncated = 1;
		return -1;
	}
	if (e->len + n + 1 > e->cap) {
		size_t cap = e->cap ? e->cap : 64;
		while (cap < e->len + n + 1)
			cap *= 2;
		char *p = realloc(e->s, cap);
		if (!p) {
			e->truncated = 1;
			return -1;
		}
		e->s = p;
		e->cap = cap;
	}
	memmove(e->s + e->cur + n, e->s + e->cur, e->len - e->cur + 1);
	memcpy(e->s + e->cur, b, n);
	e->len += n;
	e->cur += n;
	return 0;
}

static void le_delete(struct lineedit *e, size_t from, size_t to)
{
	if (to <= from || to > e->len)
		return;
	memmove(e->s + from, e->s + to, e->len - to + 1);
	e->len -= to - from;
	if (e->cur >= to)
		e->cur -= to - from;
	else if (e->cur > from)
		e->cur = from;
}

static size_t le_prev(const struct lineedit *e, size_t i)
{
	if (i == 0)
		return 0;
	i--;
	while (i > 0 && ((unsigned char)e->s[i] & 0xc0) == 0x80)
		i--;
	return i;
}

static size_t le_next(const struct lineedit *e, size_t i)
{
	if (i >= e->len)
		return e->len;
	i++;
	while (i < e->len && ((unsigned char)e->s[i] & 0xc0) == 0x80)
		i++;
	return i;
}

/* The display width of the code point at byte i. */
static int le_width_at(const struct lineedit *e, size_t i)
{
	if (e->s[i] == '\n')
		return 0;
	wchar_t wc;
	mbstate_t ms;
	memset(&ms, 0, sizeof ms);
	size_t r = mbrtowc(&wc, e->s + i, e->len - i, &ms);
	if (r == (size_t)-1 || r == (size_t)-2)
		return 1;
	int wd = wcwidth(wc);
	return wd < 0 ? 1 : wd;
}

static size_t le_line_start(const struct lineedit *e, size_t i)
{
	while (i > 0 && e->s[i - 1] != '\n')
		i--;
	return i;
}

static size_t le_line_end(const struct lineedit *e, size_t i)
{
	while (i < e->len && e->s[i] != '\n')
		i++;
	return i;
}

/* The visual rows of the buffer at width into rows (up to maxrows); returns
 * how many there are. */
static int le_layout(const struct lineedit *e, int width, struct le_row *rows, int maxrows)
{
	int n = 0;
	size_t i = 0, start = 0;
	int col = 0;
	if (width < 1)
		width = 1;
	for (;;) {
		if (i >= e->len || e->s[i] == '\n') {
			if (n < maxrows) {
				rows[n].start = start;
				rows[n].end = i;
			}
			n++;
			if (i >= e->len)
				break;
			i++;
			start = i;
			col = 0;
			continue;
		}
		int wd = le_width_at(e, i);
		if (col + wd > width && col > 0) {
			if (n < maxrows) {
				rows[n].start = start;
				rows[n].end = i;
			}
			n++;
			start = i;
			col = 0;
		}
		col += wd;
		i = le_next(e, i);
	}
	return n;
}

/* The row and column of the cursor in the layout. */
static void le_cursor_rc(const struct lineedit *e, const struct le_row *rows, int n, int *r, int *c)
{
	int row = 0;
	for (int k = 0; k < n; k++) {
		if (e->cur >= rows[k].start && e->cur <= rows[k].end) {
			row = k;
			/* the end of a wrapped row is the start of the next */
			if (e->cur == rows[k].end && k + 1 < n && rows[k + 1].start == e->cur)
				continue;
			break;
		}
	}
	int col = 0;
	for (size_t i = rows[row].start; i < e->cur && i < e->len; i = le_next(e, i))
		col += le_width_at(e, i);
	*r = row;
	*c = col;
}

static size_t le_at_col(const struct lineedit *e, const struct le_row *row, int col)
{
	size_t i = row->start;
	int c = 0;
	while (i < row->end) {
		int wd = le_width_at(e, i);
		if (c + wd > col)
			break;
		c += wd;
		i = le_next(e, i);
	}
	return i;
}

/* Move the cursor up (dir -1) or down (+1) a visual row. 0 if it could not
 * (already on the first/last row). */
static int le_move_row(struct lineedit *e, int dir)
{
	int n = le_layout(e, e->width, NULL, 0);
	struct le_row *rows = malloc((size_t)(n > 0 ? n : 1) * sizeof *rows);
	if (!rows)
		return 0;
	le_layout(e, e->width, rows, n);
	int r, c;
	le_cursor_rc(e, rows, n, &r, &c);
	int ok = 0;
	if (r + dir >= 0 && r + dir < n) {
		e->cur = le_at_col(e, &rows[r + dir], c);
		ok = 1;
	}
	free(rows);
	return ok;
}

/* A code point that may be inserted: no C0/C1 controls, no bidi overrides or
 * line/paragraph separators, no surrogates. */
static int le_printable(int code)
{
	return code >= 32 && code != 127 && !(code >= 0x80 && code <= 0x9f) && code != 0x200e &&
	       code != 0x200f && !(code >= 0x2028 && code <= 0x202e) &&
	       !(code >= 0x2066 && code <= 0x2069) && code <= 0x10ffff &&
	       !(code >= 0xd800 && code <= 0xdfff);
}

/* A selected prefill goes when the user types over it. */
static void le_replace_selection(struct lineedit *e)
{
	if (e->selected) {
		e->selected = 0;
		le_delete(e, 0, e->len);
		e->cur = 0;
		e->scroll = 0;
	}
}

enum lineedit_result lineedit_key(struct lineedit *e, int code, int is_key)
{
	int ctl = is_key || code < 32 || code == 127;
	if (!ctl) {
		if (!le_printable(code))
			return LINEEDIT_IGNORED;
		le_replace_selection(e);
		char b[4];
		size_t n = text_utf8_encode((unsigned)code, b);
		le_insert(e, b, n);
		return LINEEDIT_CHANGED;
	}
	enum keys_action a = keys_lookup(KEYS_COMPOSE, code);
	switch (a) {
	case KA_BACKSPACE:
	case KA_DELETE_CHAR:
	case KA_KILL_WORD:
	case KA_KILL_BOL:
	case KA_KILL_EOL:
		if (e->selected) { /* any deleting key on a selection clears it */
			le_replace_selection(e);
			return LINEEDIT_CHANGED;
		}
		break;
	case KA_NEWLINE:
		if (!e->multiline)
			return LINEEDIT_IGNORED;
		le_replace_selection(e);
		break;
	case KA_LEFT:
	case KA_RIGHT:
	case KA_HOME:
	case KA_END:
		e->selected = 0;
		break;
	case KA_LINE_UP:
	case KA_LINE_DOWN:
		if (!e->multiline)
			return LINEEDIT_IGNORED;
		break;
	default:
		return LINEEDIT_IGNORED;
	}
	size_t before = e->len;
	switch (a) {
	case KA_LEFT:
		e->cur = le_prev(e, e->cur);
		return LINEEDIT_MOVED;
	case KA_RIGHT:
		e->cur = le_next(e, e->cur);
		return LINEEDIT_MOVED;
	case KA_HOME:
		e->cur = le_line_start(e, e->cur);
		return LINEEDIT_MOVED;
	case KA_END:
		e->cur = le_line_end(e, e->cur);
		return LINEEDIT_MOVED;
	case KA_LINE_UP:
		if (!le_move_row(e, -1))
			return LINEEDIT_IGNORED;
		e->selected = 0;
		return LINEEDIT_MOVED;
	case KA_LINE_DOWN:
		if (!le_move_row(e, +1))
			return LINEEDIT_IGNORED;
		e->selected = 0;
		return LINEEDIT_MOVED;
	case KA_NEWLINE:
		le_insert(e, "\n", 1);
		break;
	case KA_BACKSPACE:
		le_delete(e, le_prev(e, e->cur), e->cur);
		break;
	case KA_DELETE_CHAR:
		le_delete(e, e->cur, le_next(e, e->cur));
		break;
	case KA_KILL_WORD: {
		size_t i = e->cur;
		while (i > 0 && (e->s[i - 1] == ' ' || e->s[i - 1] == '\n'))
			i--;
		while (i > 0 && e->s[i - 1] != ' ' && e->s[i - 1] != '\n')
			i--;
		le_delete(e, i, e->cur);
		break;
	}
	case KA_KILL_BOL:
		le_delete(e, le_line_start(e, e->cur), e->cur);
		break;
	case KA_KILL_EOL:
		le_delete(e, e->cur, le_line_end(e, e->cur));
		break;
	default:
		break;
	}
	return e->len != before || a == KA_NEWLINE ? LINEEDIT_CHANGED : LINEEDIT_MOVED;
}

enum lineedit_result lineedit_paste(struct lineedit *e, const char *s, size_t n)
{
	if (!n)
		return LINEEDIT_IGNORED;
	le_replace_selection(e);
	size_t i = 0;
	while (i < n) {
		uint32_t cp = 0;
		size_t k = text_utf8_decode((const unsigned char *)s + i, n - i, &cp);
		if (k == 0)
			k = 1;
		if (cp == '\r' && i + 1 < n && s[i + 1] == '\n') { /* CR LF: one newline */
			i++;
			continue;
		}
		if (cp == '\r' || cp == '\n') {
			if (le_insert(e, e->multiline ? "\n" : " ", 1) < 0)
				break;
		} else if (cp == '\t') {
			if (le_insert(e, " ", 1) < 0)
				break;
		} else if (le_printable((int)cp)) {
			if (le_insert(e, s + i, k) < 0)
				break;
		}
		i += k;
	}
	return LINEEDIT_CHANGED;
}

/* --- drawing --- */

static void le_draw_multi(struct lineedit *e, WINDOW *w, int y, int x, int width, int rows,
                          int focused, int *cy, int *cx)
{
	int n = le_layout(e, width, NULL, 0);
	struct le_row *lay = malloc((size_t)(n > 0 ? n : 1) * sizeof *lay);
	if (!lay)
		return;
	le_layout(e, width, lay, n);
	int r, c;
	le_cursor_rc(e, lay, n, &r, &c);
	if (r < e->scroll)
		e->scroll = r;
	if (r >= e->scroll + rows)
		e->scroll = r - rows + 1;
	attr_t a = draw_attr(DRAW_FIELD);
	attr_t ta = a | (e->selected ? A_REVERSE : 0);
	for (int k = 0; k < rows; k++) {
		wattr_on(w, a, NULL);
		mvwhline(w, y + k, x, ' ', width);
		wattr_off(w, a, NULL);
		int idx = e->scroll + k;
		if (idx < n && lay[idx].end > lay[idx].start) {
			wattr_on(w, ta, NULL);
			mvwaddnstr(w, y + k, x, e->s + lay[idx].start,
			           (int)(lay[idx].end - lay[idx].start));
			wattr_off(w, ta, NULL);
		}
	}
	if (n > rows) {
		char m[32];
		snprintf(m, sizeof m, "%d/%d", r + 1, n);
		draw_put(w, y + rows - 1, x + width - (int)strlen(m), (int)strlen(m), m,
		         draw_attr(DRAW_DIM) | a);
	}
	if (focused) {
		*cy = y + r - e->scroll;
		*cx = x + (c < width ? c : width - 1);
	}
	free(lay);
}

static void le_draw_single(struct lineedit *e, WINDOW *w, int y, int x, int width, int focused,
                           int *cy, int *cx)
{
	/* horizontal scroll in characters, keeping the cursor (and, at the end,
	 * the cell after the text) visible */
	int col = 0;
	size_t start = 0;
	for (size_t i = 0; i < e->cur; i = le_next(e, i))
		col += le_width_at(e, i);
	while (col - e->scroll >= width)
		e->scroll += width / 2 > 0 ? width / 2 : 1;
	if (col < e->scroll)
		e->scroll = col;
	int skip = 0;
	while (start < e->len && skip < e->scroll) {
		skip += le_width_at(e, start);
		start = le_next(e, start);
	}
	size_t end = start;
	int wsum = 0;
	while (end < e->len && wsum + le_width_at(e, end) <= width) {
		wsum += le_width_at(e, end);
		end = le_next(e, end);
	}
	attr_t a = draw_attr(DRAW_FIELD);
	wattr_on(w, a, NULL);
	mvwhline(w, y, x, ' ', width);
	wattr_off(w, a, NULL);
	if (end > start) {
		attr_t ta = a | (e->selected ? A_REVERSE : 0);
		wattr_on(w, ta, NULL);
		mvwaddnstr(w, y, x, e->s + start, (int)(end - start));
		wattr_off(w, ta, NULL);
	}
	if (focused) {
		*cy = y;
		*cx = x + col - e->scroll;
	}
}

void lineedit_draw(struct lineedit *e, WINDOW *w, int y, int x, int width, int rows, int focused,
                   int *cy, int *cx)
{
	if (width < 1 || rows < 1)
		return;
	e->width = width;
	if (e->multiline)
		le_draw_multi(e, w, y, x, width, rows, focused, cy, cx);
	else
		le_draw_single(e, w, y, x, width, focused, cy, cx);
}
