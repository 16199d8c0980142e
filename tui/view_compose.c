/*
 * view_compose.c: the compose form (see view_compose.h).
 *
 * Each field is a UTF-8 buffer with a byte cursor. Only printable characters
 * and (in the prompts) newlines are ever inserted, so the buffers can be drawn
 * as they are. Multi-line fields wrap by characters at the field's width (the
 * same layout is used for drawing and for moving up and down), so the cursor
 * position is exact.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "text.h"
#include "util.h"
#include "tui.h"
#include "ui.h"
#include "keys.h"
#include "view_compose.h"

#define VC_MAX_TEXT (256 * 1024) /* a pasted prompt larger than this is cut */
#define VC_LABEL 10

/* clang-format off */
enum vc_field {
	VC_PROMPT, VC_NEGATIVE, VC_SEED, VC_STEPS, VC_CFG, VC_WIDTH, VC_HEIGHT, VC_COUNT,
	VC_ENDPOINT, VC_TEMPLATE, VC_NFIELDS
};
/* clang-format on */

static const struct {
	const char *label;
	const char *hint;
	int multiline;
} vc_fields[VC_NFIELDS] = {
    {"Prompt", "Up/Down on the first/last line: earlier prompts", 1},
    {"Negative", NULL, 1},
    {"Seed", "empty or -1: random", 0},
    {"Steps", NULL, 0},
    {"CFG", NULL, 0},
    {"Width", NULL, 0},
    {"Height", NULL, 0},
    {"Count", "images per job", 0},
    {"Endpoint", "empty: the default", 0},
    {"Template", "sd15, sdxl, a1111, comfyui or a file; empty: the endpoint's", 0},
};

struct vc_edit {
	char *s;
	size_t len, cap, cur;
	int scroll; /* first visible row (multi-line) or column (single) */
	int width;  /* the width it was last drawn at */
	int rows;   /* visible rows at the last draw */
};

struct view_compose {
	struct vc_edit f[VC_NFIELDS];
	int cur;
	char *title;
	char *orig_prompt, *orig_negative;
	char **recent;
	size_t nrecent;
	long ridx; /* -1: the draft, else recent[ridx] shown */
	char *draft;
	char *sampler, *extra_json; /* carried over, not editable */
	char *ep_hint;
	int truncated;
};

/* --- the edit buffer --- */

static int vc_set(struct vc_edit *e, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n > VC_MAX_TEXT)
		n = VC_MAX_TEXT;
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
	return 0;
}

static int vc_insert(struct vc_edit *e, const char *b, size_t n)
{
	if (e->len + n > VC_MAX_TEXT)
		return -1;
	if (e->len + n + 1 > e->cap) {
		size_t cap = e->cap ? e->cap : 64;
		while (cap < e->len + n + 1)
			cap *= 2;
		char *p = realloc(e->s, cap);
		if (!p)
			return -1;
		e->s = p;
		e->cap = cap;
	}
	memmove(e->s + e->cur + n, e->s + e->cur, e->len - e->cur + 1);
	memcpy(e->s + e->cur, b, n);
	e->len += n;
	e->cur += n;
	return 0;
}

static void vc_delete(struct vc_edit *e, size_t from, size_t to)
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

static size_t vc_prev(const struct vc_edit *e, size_t i)
{
	if (i == 0)
		return 0;
	i--;
	while (i > 0 && ((unsigned char)e->s[i] & 0xc0) == 0x80)
		i--;
	return i;
}

static size_t vc_next(const struct vc_edit *e, size_t i)
{
	if (i >= e->len)
		return e->len;
	i++;
	while (i < e->len && ((unsigned char)e->s[i] & 0xc0) == 0x80)
		i++;
	return i;
}

/* The code point at byte i and its display width. */
static int vc_width_at(const struct vc_edit *e, size_t i)
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

static size_t vc_line_start(const struct vc_edit *e, size_t i)
{
	while (i > 0 && e->s[i - 1] != '\n')
		i--;
	return i;
}

static size_t vc_line_end(const struct vc_edit *e, size_t i)
{
	while (i < e->len && e->s[i] != '\n')
		i++;
	return i;
}

/* Visual layout of a multi-line buffer at width: calls back for each row
 * with its byte range. Returns the number of rows. */
struct vc_row {
	size_t start, end;
};

static int vc_layout(const struct vc_edit *e, int width, struct vc_row *rows, int maxrows)
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
		int wd = vc_width_at(e, i);
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
		i = vc_next(e, i);
	}
	return n;
}

/* The row and column of the cursor in the layout. */
static void vc_cursor_rc(const struct vc_edit *e, const struct vc_row *rows, int n, int *r, int *c)
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
	for (size_t i = rows[row].start; i < e->cur && i < e->len; i = vc_next(e, i))
		col += vc_width_at(e, i);
	*r = row;
	*c = col;
}

static size_t vc_at_col(const struct vc_edit *e, const struct vc_row *row, int col)
{
	size_t i = row->start;
	int c = 0;
	while (i < row->end) {
		int wd = vc_width_at(e, i);
		if (c + wd > col)
			break;
		c += wd;
		i = vc_next(e, i);
	}
	return i;
}

/* Move the cursor up (dir -1) or down (+1) a visual row. 0 if it could not
 * (already on the first/last row). */
static int vc_move_row(struct vc_edit *e, int dir)
{
	int n = vc_layout(e, e->width, NULL, 0);
	struct vc_row *rows = malloc((size_t)(n > 0 ? n : 1) * sizeof *rows);
	if (!rows)
		return 0;
	vc_layout(e, e->width, rows, n);
	int r, c;
	vc_cursor_rc(e, rows, n, &r, &c);
	int ok = 0;
	if (r + dir >= 0 && r + dir < n) {
		e->cur = vc_at_col(e, &rows[r + dir], c);
		ok = 1;
	}
	free(rows);
	return ok;
}

/* --- the form --- */

static void vc_setnum(struct vc_edit *e, long long v, int unset_if_zero)
{
	char b[32] = "";
	if (!(unset_if_zero && v == 0))
		snprintf(b, sizeof b, "%lld", v);
	vc_set(e, b);
}

struct view_compose *view_compose_new(const struct job_params *p, char *const *recent,
                                      size_t nrecent, const char *title, const char *endpoints)
{
	struct view_compose *vc = calloc(1, sizeof *vc);
	if (!vc)
		return NULL;
	vc->ridx = -1;
	vc->title = strdup(title ? title : "New job");
	if (endpoints && *endpoints) {
		size_t n = strlen(endpoints) + 32;
		vc->ep_hint = malloc(n);
		if (vc->ep_hint)
			snprintf(vc->ep_hint, n, "%s; empty: the default", endpoints);
	}
	for (int i = 0; i < VC_NFIELDS; i++)
		vc_set(&vc->f[i], "");
	if (p) {
		vc_set(&vc->f[VC_PROMPT], p->prompt);
		vc_set(&vc->f[VC_NEGATIVE], p->negative_prompt);
		if (p->seed >= 0)
			vc_setnum(&vc->f[VC_SEED], p->seed, 0);
		vc_setnum(&vc->f[VC_STEPS], p->steps, 1);
		if (p->has_cfg) {
			char b[32];
			snprintf(b, sizeof b, "%g", p->cfg);
			vc_set(&vc->f[VC_CFG], b);
		}
		vc_setnum(&vc->f[VC_WIDTH], p->width, 1);
		vc_setnum(&vc->f[VC_HEIGHT], p->height, 1);
		vc_setnum(&vc->f[VC_COUNT], p->count, 1);
		vc_set(&vc->f[VC_ENDPOINT], p->endpoint);
		vc_set(&vc->f[VC_TEMPLATE], p->template_name);
		vc->sampler = p->sampler ? strdup(p->sampler) : NULL;
		vc->extra_json = p->extra_json ? strdup(p->extra_json) : NULL;
	}
	vc->orig_prompt = strdup(vc->f[VC_PROMPT].s);
	vc->orig_negative = strdup(vc->f[VC_NEGATIVE].s);
	if (nrecent) {
		vc->recent = calloc(nrecent, sizeof *vc->recent);
		for (size_t i = 0; vc->recent && i < nrecent; i++)
			if (recent[i] && (vc->recent[vc->nrecent] = strdup(recent[i])))
				vc->nrecent++;
	}
	if (!vc->title || !vc->orig_prompt || !vc->orig_negative || !vc->f[VC_TEMPLATE].s) {
		view_compose_free(vc);
		return NULL;
	}
	return vc;
}

void view_compose_free(struct view_compose *vc)
{
	if (!vc)
		return;
	for (int i = 0; i < VC_NFIELDS; i++)
		free(vc->f[i].s);
	for (size_t i = 0; i < vc->nrecent; i++)
		free(vc->recent[i]);
	free(vc->recent);
	free(vc->title);
	free(vc->orig_prompt);
	free(vc->orig_negative);
	free(vc->draft);
	free(vc->sampler);
	free(vc->extra_json);
	free(vc->ep_hint);
	free(vc);
}

int view_compose_changed(const struct view_compose *vc)
{
	return strcmp(vc->f[VC_PROMPT].s, vc->orig_prompt) != 0 ||
	       strcmp(vc->f[VC_NEGATIVE].s, vc->orig_negative) != 0;
}

/* Recall an older (dir +1) or newer (dir -1) prompt into the prompt field. */
static void vc_recall(struct view_compose *vc, int dir)
{
	long to = vc->ridx + dir;
	if (to < -1 || to >= (long)vc->nrecent)
		return;
	struct vc_edit *e = &vc->f[VC_PROMPT];
	if (vc->ridx == -1) {
		free(vc->draft);
		vc->draft = strdup(e->s);
	}
	vc->ridx = to;
	vc_set(e, to == -1 ? (vc->draft ? vc->draft : "") : vc->recent[to]);
}

static void vc_put_utf8(struct view_compose *vc, struct vc_edit *e, unsigned cp)
{
	char b[4];
	size_t n = text_utf8_encode(cp, b);
	if (vc_insert(e, b, n) < 0)
		vc->truncated = 1;
}

enum view_compose_result view_compose_key(struct view_compose *vc, int code, int is_key)
{
	struct vc_edit *e = &vc->f[vc->cur];
	int multi = vc_fields[vc->cur].multiline;
	int ctl = is_key || code < 32 || code == 127;
	enum keys_action a = ctl ? keys_lookup(KEYS_COMPOSE, code) : KA_NONE;

	if (!ctl) {
		/* printable text; no C1 controls or bidi/line-separator marks */
		if ((code >= 0x80 && code <= 0x9f) || code == 0x200e || code == 0x200f ||
		    (code >= 0x2028 && code <= 0x202e) || (code >= 0x2066 && code <= 0x2069) ||
		    code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff))
			return VIEW_COMPOSE_CONTINUE;
		vc_put_utf8(vc, e, (unsigned)code);
		return VIEW_COMPOSE_CONTINUE;
	}
	switch (a) {
	case KA_SUBMIT:
		return VIEW_COMPOSE_SUBMIT;
	case KA_ESCAPE:
		return VIEW_COMPOSE_CANCEL;
	case KA_NEXT_FIELD:
		vc->cur = (vc->cur + 1) % VC_NFIELDS;
		break;
	case KA_PREV_FIELD:
		vc->cur = (vc->cur + VC_NFIELDS - 1) % VC_NFIELDS;
		break;
	case KA_NEWLINE:
		if (multi) {
			if (vc_insert(e, "\n", 1) < 0)
				vc->truncated = 1;
		} else if (vc->cur == VC_NFIELDS - 1) {
			return VIEW_COMPOSE_SUBMIT;
		} else {
			vc->cur++;
		}
		break;
	case KA_LEFT:
		e->cur = vc_prev(e, e->cur);
		break;
	case KA_RIGHT:
		e->cur = vc_next(e, e->cur);
		break;
	case KA_LINE_UP:
		if (multi && vc_move_row(e, -1))
			break;
		if (vc->cur == VC_PROMPT)
			vc_recall(vc, +1);
		else
			vc->cur--;
		break;
	case KA_LINE_DOWN:
		if (multi && vc_move_row(e, +1))
			break;
		if (vc->cur == VC_PROMPT && vc->ridx >= 0)
			vc_recall(vc, -1);
		else if (vc->cur < VC_NFIELDS - 1)
			vc->cur++;
		break;
	case KA_HOME:
		e->cur = vc_line_start(e, e->cur);
		break;
	case KA_END:
		e->cur = vc_line_end(e, e->cur);
		break;
	case KA_BACKSPACE:
		vc_delete(e, vc_prev(e, e->cur), e->cur);
		break;
	case KA_DELETE_CHAR:
		vc_delete(e, e->cur, vc_next(e, e->cur));
		break;
	case KA_KILL_WORD: {
		size_t i = e->cur;
		while (i > 0 && (e->s[i - 1] == ' ' || e->s[i - 1] == '\n'))
			i--;
		while (i > 0 && e->s[i - 1] != ' ' && e->s[i - 1] != '\n')
			i--;
		vc_delete(e, i, e->cur);
		break;
	}
	case KA_KILL_BOL:
		vc_delete(e, vc_line_start(e, e->cur), e->cur);
		break;
	case KA_KILL_EOL:
		vc_delete(e, e->cur, vc_line_end(e, e->cur));
		break;
	default:
		if (!is_key && code == '\t')
			vc->cur = (vc->cur + 1) % VC_NFIELDS;
		break;
	}
	return VIEW_COMPOSE_CONTINUE;
}

/* --- drawing --- */

static void vc_draw_multi(struct vc_edit *e, WINDOW *w, int y, int x, int width, int rows,
                          int focused, int *cy, int *cx)
{
	e->width = width;
	e->rows = rows;
	int n = vc_layout(e, width, NULL, 0);
	struct vc_row *lay = malloc((size_t)(n > 0 ? n : 1) * sizeof *lay);
	if (!lay)
		return;
	vc_layout(e, width, lay, n);
	int r, c;
	vc_cursor_rc(e, lay, n, &r, &c);
	if (r < e->scroll)
		e->scroll = r;
	if (r >= e->scroll + rows)
		e->scroll = r - rows + 1;
	attr_t a = ui_attr(UI_FIELD);
	for (int k = 0; k < rows; k++) {
		wattr_on(w, a, NULL);
		mvwhline(w, y + k, x, ' ', width);
		int idx = e->scroll + k;
		if (idx < n && lay[idx].end > lay[idx].start)
			mvwaddnstr(w, y + k, x, e->s + lay[idx].start,
			           (int)(lay[idx].end - lay[idx].start));
		wattr_off(w, a, NULL);
	}
	if (n > rows) {
		char m[32];
		snprintf(m, sizeof m, "%d/%d", r + 1, n);
		ui_put(w, y + rows - 1, x + width - (int)strlen(m), (int)strlen(m), m,
		       ui_attr(UI_DIM) | a);
	}
	if (focused) {
		*cy = y + r - e->scroll;
		*cx = x + (c < width ? c : width - 1);
	}
	free(lay);
}

static void vc_draw_single(struct vc_edit *e, WINDOW *w, int y, int x, int width, int focused,
                           int *cy, int *cx)
{
	e->width = width;
	/* horizontal scroll in characters, keeping the cursor visible */
	int col = 0;
	size_t start = 0;
	for (size_t i = 0; i < e->cur; i = vc_next(e, i))
		col += vc_width_at(e, i);
	while (col - e->scroll >= width)
		e->scroll += width / 2 > 0 ? width / 2 : 1;
	if (col < e->scroll)
		e->scroll = col;
	int skip = 0;
	while (start < e->len && skip < e->scroll) {
		skip += vc_width_at(e, start);
		start = vc_next(e, start);
	}
	size_t end = start;
	int wsum = 0;
	while (end < e->len && wsum + vc_width_at(e, end) <= width) {
		wsum += vc_width_at(e, end);
		end = vc_next(e, end);
	}
	attr_t a = ui_attr(UI_FIELD);
	wattr_on(w, a, NULL);
	mvwhline(w, y, x, ' ', width);
	if (end > start)
		mvwaddnstr(w, y, x, e->s + start, (int)(end - start));
	wattr_off(w, a, NULL);
	if (focused) {
		*cy = y;
		*cx = x + col - e->scroll;
	}
}

void view_compose_draw(struct view_compose *vc, WINDOW *w, int *cy, int *cx)
{
	int h, W;
	getmaxyx(w, h, W);
	*cy = 0;
	*cx = 0;
	if (h < 4 || W < VC_LABEL + 10)
		return;
	ui_put(w, 0, 0, W, vc->title, A_BOLD);
	int hx = (int)strlen(vc->title) + 3;
	ui_put(w, 0, hx, W - hx, "Ctrl-S submit  Tab/Shift-Tab field  Esc cancel", ui_attr(UI_DIM));

	/* rows: 1 title, 1 blank, prompt, 1 gap, negative, 1 gap, 8 single, 1 gap, hint */
	int singles = VC_NFIELDS - 2;
	int spare = h - 1 - 1 - 1 - singles - 1 - 1;
	int prows = spare * 2 / 3, nrows = spare - prows;
	if (prows > 10) /* a big screen gets roomy fields, not walls of colour */
		prows = 10;
	if (nrows > 4)
		nrows = 4;
	if (prows < 1)
		prows = 1;
	if (nrows < 1)
		nrows = 1;
	int fx = VC_LABEL + 1, fw = W - fx - 1;
	int y = 2;
	for (int i = 0; i < VC_NFIELDS && y < h; i++) {
		int focused = i == vc->cur;
		attr_t la = ui_attr(UI_TITLE) | (focused ? A_BOLD : 0);
		char label[32];
		snprintf(label, sizeof label, "%s%s", focused ? ">" : " ", vc_fields[i].label);
		ui_put(w, y, 0, VC_LABEL, label, la);
		if (vc_fields[i].multiline) {
			int rows = i == VC_PROMPT ? prows : nrows;
			if (y + rows > h)
				rows = h - y;
			vc_draw_multi(&vc->f[i], w, y, fx, fw, rows, focused, cy, cx);
			y += rows + 1;
		} else {
			int sw = fw > 24 ? 24 : fw;
			vc_draw_single(&vc->f[i], w, y, fx, sw, focused, cy, cx);
			const char *hint =
			    i == VC_ENDPOINT && vc->ep_hint ? vc->ep_hint : vc_fields[i].hint;
			if (hint && fx + sw + 2 < W)
				ui_put(w, y, fx + sw + 2, W - fx - sw - 3, hint, ui_attr(UI_DIM));
			y++;
		}
	}
	if (y < h) {
		const char *hint = vc->truncated ? "error: the text is too long; it was cut"
		                                 : vc_fields[vc->cur].hint;
		if (vc->cur == VC_PROMPT && vc->nrecent && vc->ridx >= 0) {
			char b[80];
			snprintf(b, sizeof b, "earlier prompt %ld of %zu (Down: newer)",
			         vc->ridx + 1, vc->nrecent);
			ui_put(w, h - 1, 0, W, b, ui_attr(UI_DIM));
		} else if (hint && vc_fields[vc->cur].multiline) {
			ui_put(w, h - 1, 0, W, hint,
			       vc->truncated ? ui_attr(UI_ERROR) : ui_attr(UI_DIM));
		}
	}
}

/* --- reading the form --- */

static char *vc_trimmed(const char *s)
{
	while (*s == ' ')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\n'))
		n--;
	char *r = malloc(n + 1);
	if (r) {
		memcpy(r, s, n);
		r[n] = 0;
	}
	return r;
}

static int vc_fail(struct view_compose *vc, int field, char **err, const char *what)
{
	vc->cur = field;
	if (err) {
		size_t n = strlen(what) + strlen(vc_fields[field].label) + 8;
		*err = malloc(n);
		if (*err)
			snprintf(*err, n, "%s: %s", vc_fields[field].label, what);
	}
	return -1;
}

/* Parse field i as an integer in [lo, hi]; empty gives *v = unset. */
static int vc_int(struct view_compose *vc, int i, long long lo, long long hi, long long unset,
                  long long *v, char **err)
{
	char *t = vc_trimmed(vc->f[i].s);
	if (!t)
		return -1;
	if (!*t) {
		*v = unset;
		free(t);
		return 0;
	}
	long long x = 0;
	int bad = util_parse_ll(t, lo, hi, &x) < 0;
	free(t);
	if (bad)
		return vc_fail(vc, i, err, "not a number in range");
	*v = x;
	return 0;
}

int view_compose_params(struct view_compose *vc, struct job_params *out, char **err)
{
	job_params_init(out);
	long long v;
	char *prompt = vc_trimmed(vc->f[VC_PROMPT].s);
	if (!prompt || !*prompt) {
		free(prompt);
		return vc_fail(vc, VC_PROMPT, err, "empty; type what to generate");
	}
	out->prompt = prompt;
	char *neg = vc_trimmed(vc->f[VC_NEGATIVE].s);
	if (neg && *neg)
		out->negative_prompt = neg;
	else
		free(neg);
	if (vc_int(vc, VC_SEED, -1, INT64_MAX, -1, &v, err) < 0)
		goto fail;
	out->seed = v;
	if (vc_int(vc, VC_STEPS, 1, 10000, 0, &v, err) < 0)
		goto fail;
	out->steps = (int)v;
	if (vc_int(vc, VC_WIDTH, 8, 16384, 0, &v, err) < 0)
		goto fail;
	out->width = (int)v;
	if (vc_int(vc, VC_HEIGHT, 8, 16384, 0, &v, err) < 0)
		goto fail;
	out->height = (int)v;
	if (vc_int(vc, VC_COUNT, 1, 100, 0, &v, err) < 0)
		goto fail;
	out->count = (int)v;
	char *c = vc_trimmed(vc->f[VC_CFG].s);
	if (c && *c) {
		char *end;
		double d = strtod(c, &end);
		if (*end || d < 0 || d > 100) {
			free(c);
			vc_fail(vc, VC_CFG, err, "not a number from 0 to 100");
			goto fail;
		}
		out->cfg = d;
		out->has_cfg = 1;
	}
	free(c);
	char *ep = vc_trimmed(vc->f[VC_ENDPOINT].s);
	if (ep && *ep)
		out->endpoint = ep;
	else
		free(ep);
	char *tp = vc_trimmed(vc->f[VC_TEMPLATE].s);
	if (tp && *tp)
		out->template_name = tp;
	else
		free(tp);
	if (vc->sampler)
		out->sampler = strdup(vc->sampler);
	if (vc->extra_json)
		out->extra_json = strdup(vc->extra_json);
	return 0;
fail:
	job_params_clear(out);
	return -1;
}
