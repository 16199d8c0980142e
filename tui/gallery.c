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
#include <string.h>
#include <cjson/cJSON.h>

#include "draw.h"
#include "text.h"

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

/* --- a group's gallery by axes --- */

/* One axis of the group: its key and values, as JSON text (to match the
 * jobs' variants) and as shown. */
struct ga_axis {
	char *key;
	size_t n;
	char **json; /* each value printed as JSON: "\"red\"", "20" */
	char **text; /* ... as shown: red, 20 */
};

struct gallery_axes {
	int64_t group_id;
	struct ga_axis *ax;
	size_t nax;
	/* the layout: X across (the last axis), Y down (the one before),
	 * pages by the others (the first axes); each 1 when absent */
	size_t nx, ny, npages;
	struct job **cell; /* nx * ny * npages; owned copies; NULL: no job */
	size_t nplaced, nunplaced;
	size_t sx, sy, page; /* the selection */
	size_t top, left;    /* the first row and column shown */
	size_t shown_cols;   /* cells a row showed at the last draw */
};

static void ga_axis_free(struct ga_axis *a)
{
	for (size_t k = 0; k < a->n; k++) {
		free(a->json[k]);
		free(a->text[k]);
	}
	free(a->json);
	free(a->text);
	free(a->key);
}

void gallery_axes_free(struct gallery_axes *ga)
{
	if (!ga)
		return;
	for (size_t i = 0; i < ga->nax; i++)
		ga_axis_free(&ga->ax[i]);
	free(ga->ax);
	for (size_t i = 0; ga->cell && i < ga->nx * ga->ny * ga->npages; i++)
		job_free(ga->cell[i]);
	free(ga->cell);
	free(ga);
}

/* A JSON value as shown: a string without its quotes, else as printed. */
static char *ga_text(const cJSON *v)
{
	if (cJSON_IsString(v))
		return strdup(v->valuestring ? v->valuestring : "");
	return cJSON_PrintUnformatted(v);
}

/* Parse the group's axes ([{"key": K, "values": [...]}, ...]). 0 or -1. */
static int ga_parse(struct gallery_axes *ga, const char *axes_json)
{
	cJSON *root = axes_json ? cJSON_Parse(axes_json) : NULL;
	int rc = 0;
	size_t n = cJSON_IsArray(root) ? (size_t)cJSON_GetArraySize(root) : 0;
	ga->ax = calloc(n ? n : 1, sizeof *ga->ax);
	if (!ga->ax) {
		cJSON_Delete(root);
		return -1;
	}
	for (cJSON *it = n ? root->child : NULL; it && rc == 0; it = it->next) {
		const cJSON *k = cJSON_GetObjectItemCaseSensitive(it, "key");
		const cJSON *vs = cJSON_GetObjectItemCaseSensitive(it, "values");
		size_t nv = cJSON_IsArray(vs) ? (size_t)cJSON_GetArraySize(vs) : 0;
		if (!cJSON_IsString(k) || nv == 0)
			continue;
		struct ga_axis *a = &ga->ax[ga->nax++];
		a->key = strdup(k->valuestring);
		a->json = calloc(nv, sizeof *a->json);
		a->text = calloc(nv, sizeof *a->text);
		if (!a->key || !a->json || !a->text) {
			rc = -1;
			break;
		}
		for (const cJSON *v = vs->child; v && a->n < nv; v = v->next) {
			a->json[a->n] = cJSON_PrintUnformatted(v);
			a->text[a->n] = ga_text(v);
			if (!a->json[a->n] || !a->text[a->n]) {
				a->n++;
				rc = -1;
				break;
			}
			a->n++;
		}
	}
	cJSON_Delete(root);
	return rc;
}

/* The cell of job j by its variant: 0 and *at, or -1 (a value no axis has). */
static int ga_place(const struct gallery_axes *ga, const struct job *j, size_t *at)
{
	cJSON *v = j->variant ? cJSON_Parse(j->variant) : NULL;
	size_t idx = 0;
	int rc = 0;
	for (size_t a = 0; a < ga->nax && rc == 0; a++) {
		const struct ga_axis *x = &ga->ax[a];
		const cJSON *jv = cJSON_GetObjectItemCaseSensitive(v, x->key);
		char *p = jv ? cJSON_PrintUnformatted(jv) : NULL;
		size_t k = 0;
		while (p && k < x->n && strcmp(p, x->json[k]) != 0)
			k++;
		free(p);
		if (!jv || k == x->n)
			rc = -1;
		idx = idx * x->n + k;
	}
	cJSON_Delete(v);
	/* axes in order, the first slowest: pages, then Y, then X */
	*at = idx;
	return rc;
}

struct gallery_axes *gallery_axes_new(int64_t group_id, const char *axes_json,
                                      struct job *const *jobs, size_t n)
{
	struct gallery_axes *ga = calloc(1, sizeof *ga);
	if (!ga)
		return NULL;
	ga->group_id = group_id;
	if (ga_parse(ga, axes_json) < 0) {
		gallery_axes_free(ga);
		return NULL;
	}
	ga->nx = ga->ny = ga->npages = 1;
	if (ga->nax >= 1)
		ga->nx = ga->ax[ga->nax - 1].n;
	if (ga->nax >= 2)
		ga->ny = ga->ax[ga->nax - 2].n;
	for (size_t a = 0; a + 2 < ga->nax; a++)
		ga->npages *= ga->ax[a].n;
	if (ga->nax == 0) /* no axes known: the jobs in their order */
		ga->nx = n ? n : 1;
	size_t cells = ga->nx * ga->ny * ga->npages;
	ga->cell = calloc(cells, sizeof *ga->cell);
	if (!ga->cell) {
		gallery_axes_free(ga);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		size_t at = i;
		if ((ga->nax && ga_place(ga, jobs[i], &at) < 0) || at >= cells || ga->cell[at]) {
			ga->nunplaced++;
			continue;
		}
		ga->cell[at] = job_dup(jobs[i]);
		ga->nplaced++;
	}
	return ga;
}

int gallery_axes_update(struct gallery_axes *ga, const struct job *j)
{
	size_t cells = ga->nx * ga->ny * ga->npages;
	for (size_t i = 0; i < cells; i++) {
		if (!ga->cell[i] || ga->cell[i]->id != j->id)
			continue;
		struct job *c = job_dup(j);
		if (!c)
			return 0;
		job_free(ga->cell[i]);
		ga->cell[i] = c;
		return 1;
	}
	return 0;
}

static struct job *ga_at(const struct gallery_axes *ga, size_t page, size_t y, size_t x)
{
	return ga->cell[(page * ga->ny + y) * ga->nx + x];
}

const struct job *gallery_axes_selected(const struct gallery_axes *ga)
{
	return ga_at(ga, ga->page, ga->sy, ga->sx);
}

void gallery_axes_position(const struct gallery_axes *ga, size_t *at, size_t *n)
{
	*n = ga->nx * ga->ny * ga->npages;
	*at = (ga->page * ga->ny + ga->sy) * ga->nx + ga->sx;
}

void gallery_axes_move(struct gallery_axes *ga, int dx, int dy, int dpage)
{
	long x = (long)ga->sx + dx, y = (long)ga->sy + dy, p = (long)ga->page + dpage;
	/* one axis wraps over rows: Down and Up move by the cells a row shows */
	if (ga->nax < 2 && dy) {
		long step = ga->shown_cols ? (long)ga->shown_cols : 1;
		if (x + dy * step >= 0 && x + dy * step < (long)ga->nx)
			x += dy * step;
		y = 0;
	}
	ga->sx = x < 0 ? 0 : (size_t)x >= ga->nx ? ga->nx - 1 : (size_t)x;
	ga->sy = y < 0 ? 0 : (size_t)y >= ga->ny ? ga->ny - 1 : (size_t)y;
	ga->page = p < 0 ? 0 : (size_t)p >= ga->npages ? ga->npages - 1 : (size_t)p;
}

/* The page's values in words: "steps=20, cfg=5". */
static void ga_page_text(const struct gallery_axes *ga, char *buf, size_t size)
{
	size_t p = ga->page, o = 0;
	size_t idx[16];
	size_t na = ga->nax >= 2 ? ga->nax - 2 : 0;
	if (na > 16)
		na = 16;
	for (size_t a = na; a-- > 0;) {
		idx[a] = p % ga->ax[a].n;
		p /= ga->ax[a].n;
	}
	buf[0] = '\0';
	for (size_t a = 0; a < na && o + 1 < size; a++) {
		int k = snprintf(buf + o, size - o, "%s%s=%s", a ? ", " : "", ga->ax[a].key,
		                 ga->ax[a].text[idx[a]]);
		if (k < 0)
			break;
		o += (size_t)k;
	}
}

void gallery_axes_draw(struct gallery_axes *ga, struct preview *pv, WINDOW *win)
{
	int H, W, wy, wx, tw, th;
	if (!ga || !pv || !win)
		return;
	getmaxyx(win, H, W);
	getbegyx(win, wy, wx);
	thumb_box(pv, &tw, &th);
	const struct ga_axis *X = ga->nax >= 1 ? &ga->ax[ga->nax - 1] : NULL;
	const struct ga_axis *Y = ga->nax >= 2 ? &ga->ax[ga->nax - 2] : NULL;
	/* the left edge: the widest Y value (cut at 16 columns) */
	int lw = 0;
	for (size_t k = 0; Y && k < Y->n; k++) {
		int w = (int)text_utf8_width(Y->text[k]);
		if (w > lw)
			lw = w;
	}
	if (lw > 16)
		lw = 16;
	if (lw)
		lw += 1;
	/* cells narrower (down to 10 columns) until every column fits */
	const struct term_info *ti = preview_term(pv);
	while (tw > 10 && (size_t)((W - lw) / (tw + 1)) < ga->nx) {
		tw--;
		th = (tw * ti->cell_w + ti->cell_h / 2) / ti->cell_h;
		if (th < 3)
			th = 3;
	}
	size_t cols = (size_t)((W - lw) / (tw + 1)), rows;
	if (cols < 1)
		cols = 1;
	ga->shown_cols = cols;
	/* one axis: its values wrap over rows, each labelled above its cell */
	int one = ga->nax < 2;
	size_t nrow = one ? (ga->nx + cols - 1) / cols : ga->ny;
	int head = one ? 1 : 2; /* the title (and the X values) */
	rows = (size_t)((H - head) / (th + 1));
	if (rows < 1)
		rows = 1;
	size_t srow = one ? ga->sx / cols : ga->sy, scol = one ? ga->sx % cols : ga->sx;
	if (srow < ga->top)
		ga->top = srow;
	if (srow >= ga->top + rows)
		ga->top = srow - rows + 1;
	if (!one) {
		if (scol < ga->left)
			ga->left = scol;
		if (scol >= ga->left + cols)
			ga->left = scol - cols + 1;
	} else {
		ga->left = 0;
	}

	/* the title: the axes, the page */
	char title[512], pg[256];
	size_t o = (size_t)snprintf(title, sizeof title, "group %lld", (long long)ga->group_id);
	if (Y && o < sizeof title)
		o += (size_t)snprintf(title + o, sizeof title - o, "   down: %s", Y->key);
	if (X && o < sizeof title)
		o += (size_t)snprintf(title + o, sizeof title - o, "   across: %s", X->key);
	if (ga->npages > 1 && o < sizeof title) {
		ga_page_text(ga, pg, sizeof pg);
		o += (size_t)snprintf(title + o, sizeof title - o, "   page %zu/%zu: %s (PgDn PgUp)",
		                      ga->page + 1, ga->npages, pg);
	}
	if (ga->nunplaced && o < sizeof title)
		snprintf(title + o, sizeof title - o, "   (%zu jobs not placed)", ga->nunplaced);
	draw_put(win, 0, 0, W, title, A_BOLD);
	/* the X values on the top edge */
	for (size_t c = 0; !one && X && c < cols && ga->left + c < ga->nx; c++)
		draw_put(win, 1, lw + (int)c * (tw + 1), tw, X->text[ga->left + c],
		         ga->left + c == ga->sx ? A_BOLD | A_UNDERLINE : A_BOLD);

	struct preview_tile *t = calloc(rows * cols, sizeof *t);
	size_t k = 0;
	if (!t)
		return;
	for (size_t r = 0; r < rows && ga->top + r < nrow; r++) {
		int y0 = head + (int)r * (th + 1); /* its mark or label line, then the box */
		size_t gy = ga->top + r;
		if (Y)
			draw_put(win, y0 + 1 + th / 2, 0, lw - 1, Y->text[gy],
			         gy == ga->sy ? A_BOLD | A_UNDERLINE : A_BOLD);
		for (size_t c = 0; c < cols; c++) {
			size_t gx = one ? gy * cols + c : ga->left + c;
			if (gx >= ga->nx)
				break;
			const struct job *j = ga_at(ga, ga->page, one ? 0 : gy, gx);
			int x0 = lw + (int)c * (tw + 1);
			int sel = gx == ga->sx && (one || gy == ga->sy);
			if (one && X) /* the value above its cell */
				draw_put(win, y0, x0 + 1, tw - 1, X->text[gx], sel ? A_REVERSE : A_BOLD);
			else if (!X && j) {
				char num[32];
				snprintf(num, sizeof num, "#%lld", (long long)j->id);
				draw_put(win, y0, x0 + 1, tw - 1, num, sel ? A_REVERSE : 0);
			} else if (sel) { /* the selection: a line above the box */
				char num[32];
				snprintf(num, sizeof num, " #%lld ", j ? (long long)j->id : 0LL);
				wattron(win, A_BOLD);
				mvwaddch(win, y0, x0, ACS_ULCORNER);
				whline(win, ACS_HLINE, tw - 1);
				mvwaddch(win, y0, x0 + tw - 1, ACS_URCORNER);
				draw_put(win, y0, x0 + 2, tw - 4, j ? num : " none ", A_BOLD);
				wattroff(win, A_BOLD);
			}
			const char *path = NULL;
			for (size_t i = 0; j && i < j->n_outputs && !path; i++)
				path = j->outputs[i].path;
			if (!j || !path || job_state_is_live(j->state)) {
				const char *what = !j                        ? "(none)"
				                   : job_state_is_live(j->state) ? job_state_name(j->state)
				                                             : "(no image)";
				if (j && job_state_is_live(j->state) && j->progress >= 0)
					draw_bar(win, y0 + 1 + th / 2, x0, tw - 1, j->progress,
					         draw_attr(DRAW_RUN));
				else
					draw_put(win, y0 + 1 + th / 2, x0, tw - 1, what,
					         draw_attr(DRAW_DIM));
				continue;
			}
			t[k].path = path;
			t[k].y = wy + y0 + 1;
			t[k].x = wx + x0;
			t[k].rows = th;
			t[k].cols = tw - 1;
			t[k].aw = j->outputs[0].width;
			t[k].ah = j->outputs[0].height;
			k++;
		}
	}
	preview_tiles(pv, win, t, k);
	free(t);
}


int gallery_axes_has(const struct gallery_axes *ga, int64_t id)
{
	for (size_t i = 0; i < ga->nx * ga->ny * ga->npages; i++)
		if (ga->cell[i] && ga->cell[i]->id == id)
			return 1;
	return 0;
}
