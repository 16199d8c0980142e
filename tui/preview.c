/*
 * preview.c: the image pane, the full-screen viewer, images in boxes for
 * the thumbnail gallery (tui/gallery.c) and the images `sdq preview` prints
 * (tui/cmd_preview.c).
 *
 * Two ways to draw. Sixel: curses owns every text cell and believes the image
 * area is blank; after doupdate() the queued images go to the tty in one
 * write (DECSC, CUP + DCS per image, DECRC). Curses cannot see those pixels,
 * so this module remembers where it drew (the slots) and, whenever that set
 * changes or the pane is covered, makes curses really rewrite those cells
 * (wredrawln on a scratch window zeroes curses' copy of them; on xterm a
 * written space erases the pixels under it). Images stay clear of the last
 * screen row so sixel scrolling can never scroll the screen, and a new image
 * is sent only once the selection has been still for PREVIEW_IDLE_MS.
 * Images are made off the loop (core/decoder.h: decoded, scaled and sixel
 * encoded on a worker thread); until every image of the wanted set is made,
 * each box says "decoding...", and the set goes out at once, so revealing
 * one image never erases (EL) the pixels of another.
 * Blocks: the image scaled to one pixel per half cell, drawn as U+2580 with
 * fg = top and bg = bottom pixel, as ordinary curses cells; colour pairs come
 * from a small cache above PREVIEW_PAIR_BASE.
 */
#include "preview.h"

#include <errno.h>
#include <fcntl.h>
#include <langinfo.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "damage.h"
#include "decoder.h"
#include "image.h"
#include "sixelenc.h"
#include "store.h"
#include "text.h"
#include "util.h"

#define PREVIEW_IDLE_MS 100         /* draw a sixel once the selection is still this long */
#define PREVIEW_MAX_GRID 16         /* images of one job shown in the pane */
#define PREVIEW_PAIR_BASE 64        /* colour pairs below this belong to the dashboard... */
#define PREVIEW_PAIR_BASE_SMALL 16  /* ...or below this when the terminal has few pairs */
#define PREVIEW_BLOCKS_BUDGET (8u * 1024 * 1024)
#define PREVIEW_MAX_ERRS 32

/* How an image fills its box: never larger than it is (thumbnails); scaled
 * up to the box (the pane: a small image is a picture, not a stamp); and
 * scaled up with error diffusion (the full-screen viewer, asked for: worth
 * the extra bytes). */
enum { PV_FIT, PV_FILL, PV_FILL_FINE };

/* One image placed on the screen (or wanted there). */
struct slot {
	char *path;
	int y, x, rows, cols; /* the box, in screen cells */
	int box_w, box_h;     /* the box in pixels (sixel) */
	int upscale; /* PV_FIT, PV_FILL or PV_FILL_FINE */
	int drawn;   /* the sixel is on the terminal now */
	int failed; /* could not be decoded: its error is in pv->errs */
	int waiting; /* its image is not made yet: a placeholder shows */
};

/* A decoded image scaled for blocks, kept for redraws. */
struct bentry {
	struct bentry *next;
	char *path;
	int64_t mtime_ns, size;
	int cols, rows; /* the box it was made for */
	struct image *im;
};

struct perr {
	char *path;
	int64_t mtime_ns, size;
	char *msg;
};

struct pair_ent {
	int64_t key; /* fg << 25 | bg, +1; 0 = empty */
	int pair;
};

struct preview {
	struct term_info ti;
	int fd, ncolors;
	int utf8;
	struct sixelenc_cache *cache;
	/* images are made on this worker (decoder.h); the loop watches its fd
	 * (preview_fd) and calls preview_collect */
	struct decoder *dec;
	struct decoder_result *big; /* the last sixel too big for the cache */

	struct slot *slots; /* the wanted/drawn sixel set */
	size_t nslots;
	long long changed_at; /* when the wanted set last changed (monotonic ms) */
	int pending;          /* slots wait to be drawn */
	int need_frame;       /* something needs a new frame from the UI (an error to show) */
	int hidden;
	int idc_off;       /* insert/delete character turned off (sixel) */
	int erase_repaint; /* erase images by repainting the screen (konsole) */

	struct bentry *bcache;
	size_t bbytes;

	struct perr errs[PREVIEW_MAX_ERRS];
	int nerrs, errnext;

	/* colour pairs for blocks */
	struct pair_ent *pairs;
	int pairs_cap, pairs_used, pair_next;
	int color_mode; /* 0 none, 8, 16, 256, 24 (direct) */
};

static int locale_utf8(void)
{
	const char *cs = nl_langinfo(CODESET);

	return cs && (strcmp(cs, "UTF-8") == 0 || strcmp(cs, "utf8") == 0);
}

struct preview *preview_new(const struct term_info *ti, int tty_fd, int ncolors)
{
	struct preview *pv = calloc(1, sizeof *pv);

	if (!pv)
		return NULL;
	pv->ti = *ti;
	if (pv->ti.cell_w < 1 || pv->ti.cell_h < 2) {
		pv->ti.cell_w = 8;
		pv->ti.cell_h = 16;
	}
	pv->fd = tty_fd;
	pv->ncolors = ncolors > 0 && ncolors <= 256 ? ncolors : 256;
	pv->utf8 = locale_utf8();
	/* SDQ_SIXEL_ERASE=repaint|spaces; by default repaint in konsole
	 * (it sets KONSOLE_VERSION), where written spaces leave images */
	{
		const char *e = getenv("SDQ_SIXEL_ERASE"), *k = getenv("KONSOLE_VERSION");

		if (e && strcmp(e, "repaint") == 0)
			pv->erase_repaint = 1;
		else if (e && strcmp(e, "spaces") == 0)
			pv->erase_repaint = 0;
		else
			pv->erase_repaint = k && *k;
	}
	pv->cache = sixelenc_cache_new(0);
	pv->dec = decoder_new(NULL);
	if (!pv->cache || !pv->dec) {
		sixelenc_cache_free(pv->cache);
		decoder_free(pv->dec);
		free(pv);
		return NULL;
	}
	return pv;
}

static void slots_free(struct slot *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(s[i].path);
	free(s);
}

static void bcache_clear(struct preview *pv)
{
	struct bentry *b, *nx;

	for (b = pv->bcache; b; b = nx) {
		nx = b->next;
		free(b->path);
		image_free(b->im);
		free(b);
	}
	pv->bcache = NULL;
	pv->bbytes = 0;
}

void preview_free(struct preview *pv)
{
	if (!pv)
		return;
	slots_free(pv->slots, pv->nslots);
	bcache_clear(pv);
	for (int i = 0; i < pv->nerrs; i++) {
		free(pv->errs[i].path);
		free(pv->errs[i].msg);
	}
	free(pv->pairs);
	decoder_free(pv->dec);
	decoder_result_free(pv->big);
	sixelenc_cache_free(pv->cache);
	free(pv);
}

const struct term_info *preview_term(struct preview *pv)
{
	return &pv->ti;
}

static int file_id(const char *path, int64_t *mtime, int64_t *size)
{
	struct stat st;

	if (!path || stat(path, &st) != 0)
		return -1;
	*mtime = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	*size = (int64_t)st.st_size;
	return 0;
}

/* The remembered decode error of path (unchanged since), or NULL. */
static const char *err_find(struct preview *pv, const char *path)
{
	int64_t mt, sz;

	if (file_id(path, &mt, &sz) != 0)
		return NULL; /* a missing file is reported by whoever reads it */
	for (int i = 0; i < pv->nerrs; i++)
		if (strcmp(pv->errs[i].path, path) == 0 && pv->errs[i].mtime_ns == mt &&
		    pv->errs[i].size == sz)
			return pv->errs[i].msg;
	return NULL;
}

static void err_add(struct preview *pv, const char *path, const char *msg)
{
	struct perr *e;
	int64_t mt = 0, sz = 0;

	file_id(path, &mt, &sz);
	if (pv->nerrs < PREVIEW_MAX_ERRS) {
		e = &pv->errs[pv->nerrs++];
	} else {
		e = &pv->errs[pv->errnext];
		pv->errnext = (pv->errnext + 1) % PREVIEW_MAX_ERRS;
		free(e->path);
		free(e->msg);
	}
	e->path = strdup(path);
	e->msg = strdup(msg ? msg : "cannot read the image");
	e->mtime_ns = mt;
	e->size = sz;
	if (!e->path || !e->msg) {
		free(e->path);
		free(e->msg);
		*e = pv->errs[--pv->nerrs];
	}
}

/* Make curses really rewrite the screen cells of a rectangle at the next
 * doupdate: zero its copy of them (wredrawln on a scratch window over the
 * area), so even cells it believes blank are sent again as spaces. */
static void redraw_rect(int y, int x, int rows, int cols)
{
	WINDOW *t;

	if (y < 0) {
		rows += y;
		y = 0;
	}
	if (x < 0) {
		cols += x;
		x = 0;
	}
	if (y + rows > LINES)
		rows = LINES - y;
	if (x + cols > COLS)
		cols = COLS - x;
	if (rows <= 0 || cols <= 0)
		return;
	t = newwin(rows, cols, y, x);
	if (!t) {
		clearok(curscr, TRUE);
		return;
	}
	wredrawln(t, 0, rows);
	delwin(t);
}

/* Erase the drawn images: spaces written to the tty now, and the same cells
 * rewritten by curses at the next doupdate. The direct write matters: in
 * that doupdate curses may scroll a region (DECSTBM + LF) before it rewrites
 * the cells, and xterm moves every image on a region scroll, even one
 * outside the region, repainting slices of it into the region; an image
 * already blanked has nothing left to move. */
static void erase_drawn(struct preview *pv)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;

	if (pv->erase_repaint) {
		/* konsole keeps an image under spaces, erased cells and other
		 * images; only a clear of the screen (ED 2) removes it. So the
		 * next doupdate repaints everything, and every image still
		 * wanted is sent again after it. */
		int any = 0;

		for (size_t i = 0; i < pv->nslots; i++) {
			any |= pv->slots[i].drawn;
			pv->slots[i].drawn = 0;
		}
		if (any)
			clearok(curscr, TRUE);
		return;
	}

	for (size_t i = 0; i < pv->nslots; i++) {
		struct slot *s = &pv->slots[i];

		if (!s->drawn)
			continue;
		redraw_rect(s->y, s->x, s->rows, s->cols);
		s->drawn = 0;
		for (int r = 0; r < s->rows && s->y + r < LINES; r++) {
			int w = s->x + s->cols > COLS ? COLS - s->x : s->cols;
			size_t need = len + 40 + (size_t)(w > 0 ? w : 0);

			if (w <= 0 || s->y + r < 0)
				break;
			if (need > cap) {
				char *nb = realloc(buf, need * 2);

				if (!nb)
					break;
				buf = nb;
				cap = need * 2;
			}
			if (len == 0)
				len += (size_t)snprintf(buf, cap, "\0337\033[0m");
			len += (size_t)snprintf(buf + len, cap - len, "\033[%d;%dH", s->y + r + 1,
			                        s->x + 1);
			memset(buf + len, ' ', (size_t)w);
			len += (size_t)w;
		}
	}
	if (len > 0 && len + 2 <= cap) {
		memcpy(buf + len, "\0338", 2);
		len += 2;
		util_write_all(pv->fd, (const unsigned char *)buf, len);
	}
	free(buf);
}

static int slots_equal(const struct slot *a, size_t na, const struct slot *b, size_t nb)
{
	if (na != nb)
		return 0;
	for (size_t i = 0; i < na; i++) {
		if (a[i].y != b[i].y || a[i].x != b[i].x || a[i].rows != b[i].rows ||
		    a[i].cols != b[i].cols || a[i].box_w != b[i].box_w ||
		    a[i].box_h != b[i].box_h || a[i].upscale != b[i].upscale ||
		    strcmp(a[i].path, b[i].path) != 0)
			return 0;
	}
	return 1;
}

/* Replace the wanted sixel set (takes ownership of ns). Unchanged: nothing
 * happens here and the images on screen stay (preview_update sends again
 * those the frame writes over). Changed: the old images are erased now and
 * the new ones drawn once the selection has been still a while. */
static void set_slots(struct preview *pv, struct slot *ns, size_t n)
{
	pv->hidden = 0;
	if (slots_equal(pv->slots, pv->nslots, ns, n)) {
		slots_free(ns, n);
		return; /* preview_update checks what the frame does to them */
	}
	erase_drawn(pv);
	slots_free(pv->slots, pv->nslots);
	pv->slots = ns;
	pv->nslots = n;
	pv->changed_at = util_now_ms();
	pv->pending = n > 0;
	decoder_ask(pv->dec, NULL, 0); /* what was asked for is not shown any more */
}

/* Before a doupdate: mark every drawn image whose cells that doupdate may
 * rewrite (damage.h) as no longer drawn, to be sent again right after it.
 * Returns how many. */
static int invalidate_touched(struct preview *pv)
{
	struct damage *d = damage_new();
	int count = 0;

	for (size_t i = 0; i < pv->nslots; i++) {
		struct slot *s = &pv->slots[i];

		if (s->drawn && (!d || damage_hits(d, s->y, s->x, s->rows, s->cols))) {
			s->drawn = 0;
			count++;
		}
	}
	damage_free(d);
	return count;
}

/* ---------------------------------------------------------------- text */

static void put_text(WINDOW *w, int y, int x, int maxw, const char *s, attr_t a)
{
	char *clean, *cut;

	if (maxw <= 0 || y < 0 || y >= getmaxy(w))
		return;
	clean = text_sanitize_str(s, TEXT_NEWLINE_SPACE);
	if (!clean)
		return;
	cut = text_truncate(clean, maxw);
	if (cut) {
		wattron(w, a);
		mvwaddstr(w, y, x, cut);
		wattroff(w, a);
	}
	free(cut);
	free(clean);
}

/* Outside text wrapped into a box; returns rows used. */
static int put_wrapped(WINDOW *w, int y, int x, int width, int maxrows, const char *s, attr_t a)
{
	char *clean = text_sanitize_str(s, TEXT_NEWLINE_SPACE);
	const char *p;
	int r = 0;

	if (!clean || width <= 0)
		goto out;
	p = clean;
	while (*p && r < maxrows) {
		size_t n = text_utf8_fit(p, width), brk = n;
		char *line;

		if (n == 0)
			break;
		if (p[n]) { /* break at the last space that fits */
			for (size_t k = n; k > 0; k--)
				if (p[k - 1] == ' ') {
					brk = k;
					break;
				}
		}
		line = strndup(p, brk);
		if (line) {
			wattron(w, a);
			mvwaddstr(w, y + r, x, line);
			wattroff(w, a);
			free(line);
		}
		p += brk;
		while (*p == ' ')
			p++;
		r++;
	}
out:
	free(clean);
	return r;
}

static void draw_bar(WINDOW *w, int y, int x, int width, double frac)
{
	int fill;

	if (width < 3)
		return;
	if (frac < 0)
		frac = 0;
	if (frac > 1)
		frac = 1;
	fill = (int)(frac * (width - 2) + 0.5);
	mvwaddch(w, y, x, '[');
	for (int i = 0; i < width - 2; i++)
		waddch(w, i < fill ? ('#' | A_BOLD) : '.');
	waddch(w, ']');
}

/* A running (or unfinished) job: its state, a bar and the progress text. */
static void draw_progress(WINDOW *w, int y, int x, int rows, int cols, const struct job *j)
{
	char buf[128];
	int r = y;

	snprintf(buf, sizeof buf, "#%lld %s", (long long)j->id, job_state_name(j->state));
	put_text(w, r++, x, cols, buf, A_BOLD);
	if (j->state == JOB_OTHER && j->status_text)
		put_text(w, r++, x, cols, j->status_text, 0);
	if (job_state_is_live(j->state)) {
		if (r < y + rows && cols >= 8) {
			if (j->progress >= 0) {
				int bw = cols - 6 > 40 ? 40 : cols - 6;

				draw_bar(w, r, x, bw, j->progress);
				snprintf(buf, sizeof buf, " %3d%%", (int)(j->progress * 100 + 0.5));
				put_text(w, r, x + bw, cols - bw, buf, 0);
			} else {
				put_text(w, r, x, cols,
				         j->state == JOB_IN_PROGRESS ? "working..." : "waiting...",
				         0);
			}
			r++;
		}
		if (j->progress_text && r < y + rows)
			r += put_wrapped(w, r, x, cols, y + rows - r, j->progress_text, 0);
	} else if (j->error && r < y + rows) {
		put_text(w, r++, x, cols, "error:", A_BOLD);
		put_wrapped(w, r, x, cols, y + rows - r, j->error, 0);
	} else if (r < y + rows) {
		put_text(w, r, x, cols, "no images", 0);
	}
}

/* -------------------------------------------------------------- layout */

/* Choose a grid for n images of aspect (aw, ah) in a box of W x H pixels. */
static void choose_grid(int n, int W, int H, int aw, int ah, int *gc, int *gr)
{
	double best = -1;

	*gc = 1;
	*gr = n;
	for (int c = 1; c <= n; c++) {
		int r = (n + c - 1) / c;
		double s = (double)W / c / aw;

		if ((double)H / r / ah < s)
			s = (double)H / r / ah;
		if (s > best + 1e-9) {
			best = s;
			*gc = c;
			*gr = r;
		}
	}
}

/* Lay out paths[0..n) in the screen rectangle (y, x, rows, cols) as a grid;
 * fills slots (each path strdup'd). Returns the number of slots. */
static size_t layout(struct preview *pv, int y, int x, int rows, int cols, const char **paths,
                     int n, int aw, int ah, int upscale, int keep_last_row_free, struct slot *out)
{
	int gc, gr, cw, ch;
	size_t k = 0;

	if (n <= 0 || rows <= 0 || cols <= 0)
		return 0;
	if (aw <= 0 || ah <= 0)
		aw = ah = 1;
	choose_grid(n, cols * pv->ti.cell_w, rows * pv->ti.cell_h, aw, ah, &gc, &gr);
	cw = cols / gc;
	ch = rows / gr;
	for (int i = 0; i < n; i++) {
		struct slot *s = &out[k];
		int gy = y + (i / gc) * ch, gx = x + (i % gc) * cw;
		int sr = ch - (gr > 1 ? 1 : 0), sc = cw - (gc > 1 ? 1 : 0);

		if (keep_last_row_free && gy + sr > LINES - 1)
			sr = LINES - 1 - gy;
		if (sr <= 0 || sc <= 0)
			continue;
		memset(s, 0, sizeof *s);
		s->path = strdup(paths[i]);
		if (!s->path)
			continue;
		s->y = gy;
		s->x = gx;
		s->rows = sr;
		s->cols = sc;
		s->box_w = sc * pv->ti.cell_w;
		s->box_h = sr * pv->ti.cell_h;
		if (pv->ti.sixel_max_w > 0 && s->box_w > pv->ti.sixel_max_w)
			s->box_w = pv->ti.sixel_max_w;
		if (pv->ti.sixel_max_h > 0 && s->box_h > pv->ti.sixel_max_h)
			s->box_h = pv->ti.sixel_max_h;
		s->box_h -= s->box_h % 6;
		s->upscale = upscale;
		k++;
	}
	return k;
}

/* ------------------------------------------------------------- blocks */

static int quant256(const unsigned char *p)
{
	static const int lv[6] = {0, 95, 135, 175, 215, 255};
	int q[3], cube, grey, gl, d1 = 0, d2 = 0, avg;

	for (int i = 0; i < 3; i++)
		q[i] = p[i] < 48 ? 0 : p[i] < 115 ? 1 : (p[i] - 35) / 40;
	cube = 16 + 36 * q[0] + 6 * q[1] + q[2];
	avg = (p[0] + p[1] + p[2]) / 3;
	gl = avg > 238 ? 23 : avg < 8 ? 0 : (avg - 3) / 10;
	grey = 232 + gl;
	for (int i = 0; i < 3; i++) {
		int dc = p[i] - lv[q[i]], dg = p[i] - (8 + 10 * gl);

		d1 += dc * dc;
		d2 += dg * dg;
	}
	return d2 < d1 ? grey : cube;
}

/* The nearest of the 16 ANSI colours (xterm's default palette). */
static int quant16(const unsigned char *p)
{
	static const unsigned char pal[16][3] = {
	    {0, 0, 0},       {205, 0, 0},   {0, 205, 0},   {205, 205, 0},
	    {0, 0, 238},     {205, 0, 205}, {0, 205, 205}, {229, 229, 229},
	    {127, 127, 127}, {255, 0, 0},   {0, 255, 0},   {255, 255, 0},
	    {92, 92, 255},   {255, 0, 255}, {0, 255, 255}, {255, 255, 255},
	};
	int best = 0;
	long bd = -1;

	for (int i = 0; i < 16; i++) {
		long d = 0;

		for (int k = 0; k < 3; k++)
			d += (long)(p[k] - pal[i][k]) * (p[k] - pal[i][k]);
		if (bd < 0 || d < bd) {
			bd = d;
			best = i;
		}
	}
	return best;
}

static int quant_color(const struct preview *pv, const unsigned char *p)
{
	switch (pv->color_mode) {
	case 24:
		return p[0] << 16 | p[1] << 8 | p[2];
	case 256:
		return quant256(p);
	case 16:
		return quant16(p);
	default:
		return (p[0] > 127) | (p[1] > 127) << 1 | (p[2] > 127) << 2;
	}
}

static int pair_base(void)
{
	return COLOR_PAIRS >= 2 * PREVIEW_PAIR_BASE ? PREVIEW_PAIR_BASE : PREVIEW_PAIR_BASE_SMALL;
}

/* Pairs this module may use. */
static int pair_avail(void)
{
	int avail = COLOR_PAIRS - pair_base();

	return avail > 32768 ? 32768 : avail;
}

static void pairs_setup(struct preview *pv)
{
	int mode = 0;

	if (has_colors() && pair_avail() >= 8 && COLORS >= 8) {
		if (COLORS >= 0x1000000 && pv->ti.truecolor)
			mode = 24;
		else if (COLORS >= 256)
			mode = 256;
		else if (COLORS >= 16)
			mode = 16; /* xterm-16color: the bright eight too */
		else
			mode = 8;
	}
	if (mode != pv->color_mode) {
		free(pv->pairs);
		pv->pairs = NULL;
		pv->pairs_cap = pv->pairs_used = 0;
		pv->color_mode = mode;
	}
	if (mode && !pv->pairs) {
		int avail = pair_avail();

		pv->pairs_cap = 1;
		while (pv->pairs_cap < avail * 2)
			pv->pairs_cap <<= 1;
		pv->pairs = calloc((size_t)pv->pairs_cap, sizeof *pv->pairs);
		if (!pv->pairs)
			pv->color_mode = 0;
		pv->pairs_used = 0;
		pv->pair_next = pair_base();
	}
}

/* Forget every pair (only at the start of a frame: all block cells are
 * redrawn in the frame, so reusing numbers never recolours what stays). */
static void pairs_reset_if_full(struct preview *pv)
{
	if (pv->pairs && pv->pairs_used > pair_avail() * 3 / 4) {
		memset(pv->pairs, 0, sizeof *pv->pairs * (size_t)pv->pairs_cap);
		pv->pairs_used = 0;
		pv->pair_next = pair_base();
	}
}

/* The colour pair for fg on bg, or 0 when none is left. */
static int pair_for(struct preview *pv, int fg, int bg)
{
	int64_t key = ((int64_t)fg << 25 | bg) + 1;
	unsigned h = (unsigned)((uint64_t)key * 0x9E3779B97F4A7C15ull >> 40);
	int mask = pv->pairs_cap - 1;
	int avail = pair_avail();

	if (!pv->pairs)
		return 0;
	for (int i = 0; i < pv->pairs_cap; i++) {
		struct pair_ent *e = &pv->pairs[(h + (unsigned)i) & (unsigned)mask];

		if (e->key == key)
			return e->pair;
		if (e->key == 0) {
			if (pv->pairs_used >= avail)
				return 0;
			if (init_extended_pair(pv->pair_next, fg, bg) == ERR)
				return 0;
			e->key = key;
			e->pair = pv->pair_next++;
			pv->pairs_used++;
			return e->pair;
		}
	}
	return 0;
}

/* The half-block image of path for a box of cols x rows cells, made
 * earlier by the decoder (blocks_put), or NULL: not made yet, or the file
 * cannot be read (*err set). */
static struct image *blocks_find(struct preview *pv, const char *path, int cols, int rows,
                                 char **err)
{
	struct bentry *b, **pp;
	int64_t mt, sz;

	if (file_id(path, &mt, &sz) != 0) {
		util_set_err(err, "%s: %s", path, strerror(errno));
		return NULL;
	}
	for (pp = &pv->bcache; (b = *pp); pp = &b->next) {
		if (b->cols == cols && b->rows == rows && b->mtime_ns == mt && b->size == sz &&
		    strcmp(b->path, path) == 0) {
			*pp = b->next; /* move to front */
			b->next = pv->bcache;
			pv->bcache = b;
			return b->im;
		}
	}
	return NULL;
}

/* Keep the half-block image the decoder made for r (taking r->im). */
static void blocks_put(struct preview *pv, struct decoder_result *r)
{
	struct bentry *b = calloc(1, sizeof *b);

	if (!b || !(b->path = strdup(r->req.path))) {
		free(b);
		return;
	}
	b->mtime_ns = r->req.mtime_ns;
	b->size = r->req.file_size;
	b->cols = r->req.cols;
	b->rows = r->req.rows;
	b->im = r->im;
	r->im = NULL;
	b->next = pv->bcache;
	pv->bcache = b;
	pv->bbytes += (size_t)b->im->w * b->im->h * 3;
	/* trim the tail beyond the budget (never the entry just made) */
	while (pv->bbytes > PREVIEW_BLOCKS_BUDGET) {
		struct bentry **tp = &pv->bcache->next;

		if (!*tp)
			break;
		while ((*tp)->next)
			tp = &(*tp)->next;
		pv->bbytes -= (size_t)(*tp)->im->w * (*tp)->im->h * 3;
		free((*tp)->path);
		image_free((*tp)->im);
		free(*tp);
		*tp = NULL;
	}
}

/* The decoder's request for slot s (0), or -1 when its file is gone. */
static int slot_req(const struct preview *pv, const struct slot *s, struct decoder_req *q)
{
	memset(q, 0, sizeof *q);
	if (file_id(s->path, &q->mtime_ns, &q->file_size) != 0)
		return -1;
	q->path = s->path;
	if (pv->ti.graphics == TERM_GFX_SIXEL) {
		q->kind = DECODER_SIXEL;
		q->box_w = s->box_w;
		q->box_h = s->box_h;
		/* the full-screen view is asked for: worth the diffusion's extra
		 * bytes; thumbnails and the pane go without */
		q->upscale = s->upscale != PV_FIT;
		q->ncolors = pv->ncolors;
		q->diffuse = s->upscale == PV_FILL_FINE ? SIXELENC_DIFFUSE_ATKINSON
		                                        : SIXELENC_DIFFUSE_NONE;
	} else {
		q->kind = DECODER_HALFBLOCKS;
		q->cols = s->cols;
		q->rows = s->rows;
		q->cell_w = pv->ti.cell_w;
		q->cell_h = pv->ti.cell_h;
	}
	return 0;
}

/* The encoded sixel of slot s if the decoder made it (1), else 0. */
static int sixel_find(struct preview *pv, const struct slot *s, struct sixelenc_entry *e)
{
	struct decoder_req q;
	struct sixelenc_key k;

	if (slot_req(pv, s, &q) != 0)
		return 0;
	k.path = q.path;
	k.mtime_ns = q.mtime_ns;
	k.file_size = q.file_size;
	k.box_w = q.box_w;
	k.box_h = q.box_h;
	k.ncolors = q.ncolors;
	k.upscale = q.upscale;
	k.diffuse = q.diffuse;
	if (sixelenc_cache_get(pv->cache, &k, e))
		return 1;
	if (pv->big && decoder_req_equal(&pv->big->req, &q)) {
		e->data = pv->big->sixel;
		e->len = pv->big->sixel_len;
		e->w = pv->big->w;
		e->h = pv->big->h;
		return 1;
	}
	return 0;
}

/* "decoding..." in the middle of a box whose image is being made. */
static void put_placeholder(WINDOW *w, const struct slot *s)
{
	static const char txt[] = "decoding...";
	int wy, wx, n = (int)sizeof txt - 1, y, x;

	getbegyx(w, wy, wx);
	y = s->y - wy + (s->rows - 1) / 2;
	x = s->x - wx + (s->cols > n ? (s->cols - n) / 2 : 0);
	put_text(w, y, x, s->cols, txt, A_DIM);
}

static const char ramp[] = " .:-=+*#%@";

/* Draw im as half blocks (or coloured spaces / ASCII) at (y, x) of w. */
static void draw_blocks(struct preview *pv, WINDOW *w, int y, int x, const struct image *im)
{
	int rows = im->h / 2;

	for (int r = 0; r < rows; r++) {
		for (int c = 0; c < im->w; c++) {
			const unsigned char *t = im->rgb + ((size_t)(2 * r) * im->w + c) * 3;
			const unsigned char *b = t + (size_t)im->w * 3;

			if (pv->color_mode) {
				int fg = quant_color(pv, t), bg = quant_color(pv, b), pair;
				cchar_t cc;
				wchar_t wc[2] = {L' ', 0};

				/* few colours: every fg/bg pair fits in a few pairs */
				int halves =
				    pv->utf8 && (pv->color_mode > 16 || pair_avail() >= 16);

				if (halves && fg != bg) {
					wc[0] = 0x2580;
					pair = pair_for(pv, fg, bg);
					if (!pair) { /* out of pairs: the lower half's colour */
						wc[0] = L' ';
						pair = pair_for(pv, bg, bg);
					}
				} else if (halves) {
					pair = pair_for(pv, bg, bg);
				} else {
					unsigned char avg[3];

					for (int k = 0; k < 3; k++)
						avg[k] = (unsigned char)((t[k] + b[k] + 1) / 2);
					bg = quant_color(pv, avg);
					pair = pair_for(pv, bg, bg);
				}
				setcchar(&cc, wc, A_NORMAL, 0, &pair);
				mvwadd_wch(w, y + r, x + c, &cc);
			} else {
				int lum =
				    (t[0] * 3 + t[1] * 6 + t[2] + b[0] * 3 + b[1] * 6 + b[2]) / 20;

				mvwaddch(w, y + r, x + c, (chtype)ramp[lum * 9 / 255]);
			}
		}
	}
}

/* Draw every slot as blocks now: those made already, a placeholder for the
 * rest, asked of the decoder once the selection has been still (ask). */
static void blocks_slots(struct preview *pv, WINDOW *w, struct slot *s, size_t n, int ask)
{
	struct decoder_req *reqs = calloc(n + 1, sizeof *reqs);
	size_t nr = 0;
	int wy, wx;

	getbegyx(w, wy, wx);
	pairs_setup(pv);
	for (size_t i = 0; i < n; i++) {
		char *err = NULL;
		const char *known = err_find(pv, s[i].path);
		struct image *im;
		int ly = s[i].y - wy, lx = s[i].x - wx;

		if (known) {
			put_wrapped(w, ly, lx, s[i].cols, s[i].rows, known, 0);
			continue;
		}
		im = blocks_find(pv, s[i].path, s[i].cols, s[i].rows, &err);
		if (!im) {
			if (err) {
				put_wrapped(w, ly, lx, s[i].cols, s[i].rows, err, 0);
			} else {
				put_placeholder(w, &s[i]);
				if (!ask)
					pv->pending = 1; /* a frame when the selection is still */
				else if (reqs && slot_req(pv, &s[i], &reqs[nr]) == 0)
					nr++;
			}
			free(err);
			continue;
		}
		draw_blocks(pv, w, ly + (s[i].rows - im->h / 2) / 2, lx + (s[i].cols - im->w) / 2,
		            im);
	}
	decoder_ask(pv->dec, reqs, nr); /* and forget any other */
	free(reqs);
}

/* Show slots (taking ownership) in window w: blocks are drawn now, sixels
 * queued; slots whose file is known broken show their error instead, and
 * those whose image is not made yet a placeholder. */
static void show_slots(struct preview *pv, WINDOW *w, struct slot *s, size_t n)
{
	int wy, wx;

	if (pv->ti.graphics == TERM_GFX_SIXEL) {
		/* the same set as on screen: what is drawn stays drawn */
		const struct slot *old =
		    slots_equal(pv->slots, pv->nslots, s, n) ? pv->slots : NULL;
		int missing = 0;

		getbegyx(w, wy, wx);
		for (size_t i = 0; i < n; i++) {
			const char *known = err_find(pv, s[i].path);
			struct sixelenc_entry e;
			int64_t mt, sz;

			if (!known && file_id(s[i].path, &mt, &sz) != 0) {
				char msg[600];

				snprintf(msg, sizeof msg, "%s: %s", s[i].path, strerror(errno));
				put_wrapped(w, s[i].y - wy, s[i].x - wx, s[i].cols, s[i].rows, msg,
				            0);
				s[i].failed = 1;
			} else if (known) {
				put_wrapped(w, s[i].y - wy, s[i].x - wx, s[i].cols, s[i].rows,
				            known, 0);
				s[i].failed = 1;
			} else if (!(old && old[i].drawn) && !sixel_find(pv, &s[i], &e)) {
				missing = 1;
			}
		}
		/* The set shows at once: until every image of it is made, each
		 * not on screen has a placeholder. Images revealed one by one
		 * would each erase a placeholder, and curses erases to the end
		 * of the line (EL) over images it believes blank, which then
		 * go out again. */
		for (size_t i = 0; i < n; i++) {
			s[i].waiting = missing && !s[i].failed && !(old && old[i].drawn);
			if (s[i].waiting)
				put_placeholder(w, &s[i]);
			if (old) { /* the kept slots learn what this frame found */
				pv->slots[i].failed = s[i].failed;
				pv->slots[i].waiting = s[i].waiting;
			}
		}
		set_slots(pv, s, n);
		return;
	}
	if (pv->ti.graphics == TERM_GFX_BLOCKS) {
		long long now = util_now_ms();

		/* the same bookkeeping as sixel, for the idle delay */
		if (!slots_equal(pv->slots, pv->nslots, s, n)) {
			slots_free(pv->slots, pv->nslots);
			pv->slots = s;
			pv->nslots = n;
			pv->changed_at = now;
		} else {
			slots_free(s, n);
		}
		pv->pending = 0;
		pv->hidden = 0;
		pairs_reset_if_full(pv);
		blocks_slots(pv, w, pv->slots, pv->nslots, now - pv->changed_at >= PREVIEW_IDLE_MS);
		return;
	}
	/* no graphics: name the files */
	getbegyx(w, wy, wx);
	for (size_t i = 0; i < n; i++) {
		const char *base = strrchr(s[i].path, '/');

		put_wrapped(w, s[i].y - wy, s[i].x - wx, s[i].cols, s[i].rows,
		            base ? base + 1 : s[i].path, 0);
	}
	slots_free(s, n);
	set_slots(pv, NULL, 0);
}

/* ------------------------------------------------------------- public */

void preview_place(struct preview *pv, WINDOW *win, const struct job *j)
{
	int wy, wx, rows, cols, n;
	const char *paths[PREVIEW_MAX_GRID];
	struct slot *s;
	size_t ns;

	if (!pv || !win)
		return;
	getbegyx(win, wy, wx);
	getmaxyx(win, rows, cols);
	if (!j || rows <= 0 || cols <= 0) {
		set_slots(pv, NULL, 0);
		return;
	}
	if (job_state_is_live(j->state)) {
		set_slots(pv, NULL, 0);
		draw_progress(win, 0, 0, rows, cols, j);
		return;
	}
	n = 0;
	for (size_t i = 0; i < j->n_outputs && n < PREVIEW_MAX_GRID; i++)
		if (j->outputs[i].path)
			paths[n++] = j->outputs[i].path;
	if (n == 0) {
		set_slots(pv, NULL, 0);
		draw_progress(win, 0, 0, rows, cols, j);
		return;
	}
	s = calloc((size_t)n + 1, sizeof *s);
	if (!s)
		return;
	if (pv->ti.graphics == TERM_GFX_SIXEL && pv->ti.sixel_unlisted && rows > 6) {
		/* forced: say why the pane may stay empty (tmux 3.3a) */
		int note = put_wrapped(win, 0, 0, cols, 3,
		                       "SDQ_GRAPHICS=sixel, but this terminal does not list sixel: "
		                       "the image may not show (tmux 3.3a drops it; "
		                       "SDQ_GRAPHICS=blocks works there)",
		                       A_BOLD);
		wy += note;
		rows -= note;
	}
	ns = layout(pv, wy, wx, rows, cols, paths, n, j->outputs[0].width, j->outputs[0].height,
	            PV_FILL, pv->ti.graphics == TERM_GFX_SIXEL, s);
	if (n > 0 && ns == 0 && rows > 0)
		put_text(win, 0, 0, cols, "(pane too small)", 0);
	show_slots(pv, win, s, ns);
}

void preview_hide(struct preview *pv)
{
	if (!pv)
		return;
	erase_drawn(pv);
	slots_free(pv->slots, pv->nslots);
	pv->slots = NULL;
	pv->nslots = 0;
	pv->pending = 0;
	pv->hidden = 1;
}

void preview_invalidate(struct preview *pv)
{
	int had = 0;

	if (!pv)
		return;
	term_update_cell_size(pv->fd, &pv->ti);
	for (size_t i = 0; i < pv->nslots; i++)
		had |= pv->slots[i].drawn;
	if (had && pv->ti.graphics == TERM_GFX_SIXEL)
		clearok(curscr, TRUE); /* ED 2 clears the pixels everywhere */
	slots_free(pv->slots, pv->nslots);
	pv->slots = NULL;
	pv->nslots = 0;
	pv->pending = 0;
	bcache_clear(pv);
}

int preview_wants_redraw_in_ms(struct preview *pv)
{
	long long left;

	if (!pv)
		return -1;
	if (pv->need_frame)
		return 0;
	if (!pv->pending || pv->hidden)
		return -1;
	left = pv->changed_at + PREVIEW_IDLE_MS - util_now_ms();
	return left > 0 ? (int)left : 0;
}

struct obuf {
	unsigned char *b;
	size_t len, cap;
};

static int ob_add(struct obuf *o, const void *p, size_t n)
{
	if (o->len + n > o->cap) {
		size_t nc = o->cap ? o->cap : 65536;
		unsigned char *nb;

		while (nc < o->len + n)
			nc *= 2;
		nb = realloc(o->b, nc);
		if (!nb)
			return -1;
		o->b = nb;
		o->cap = nc;
	}
	memcpy(o->b + o->len, p, n);
	o->len += n;
	return 0;
}

/* After doupdate: write every wanted sixel the decoder has made (cursor
 * saved and restored, one write), and ask it for the others once the
 * selection has been still for PREVIEW_IDLE_MS. */
static void preview_flush(struct preview *pv)
{
	struct obuf o = {0};
	struct decoder_req *reqs;
	size_t nr = 0;
	int wrote = 0;

	if (!pv)
		return;
	pv->need_frame = 0;
	if (pv->ti.graphics != TERM_GFX_SIXEL || !pv->pending || pv->hidden)
		return;
	if (util_now_ms() - pv->changed_at < PREVIEW_IDLE_MS)
		return;
	reqs = calloc(pv->nslots + 1, sizeof *reqs);
	pv->pending = 0;
	/* every image of the set made, or ask for the rest (show_slots) */
	for (size_t i = 0; i < pv->nslots; i++) {
		struct slot *s = &pv->slots[i];
		struct sixelenc_entry e;

		if (s->drawn || s->failed)
			continue;
		if (err_find(pv, s->path)) {
			s->failed = 1;
			pv->need_frame = 1; /* the next frame shows the error */
		} else if (!sixel_find(pv, s, &e)) {
			if (reqs && slot_req(pv, s, &reqs[nr]) == 0)
				nr++;
		} else if (s->waiting) {
			/* placeholders are in the cells: the next frame erases
			 * them, then draws the images */
			pv->need_frame = 1;
			pv->pending = 1;
		}
	}
	decoder_ask(pv->dec, reqs, nr);
	free(reqs);
	if (nr > 0 || pv->pending)
		return;
	ob_add(&o, "\0337", 2);
	for (size_t i = 0; i < pv->nslots; i++) {
		struct slot *s = &pv->slots[i];
		struct sixelenc_entry e;
		char cup[32];
		int ic, ir, oy, ox;

		if (s->drawn || s->failed || !sixel_find(pv, s, &e))
			continue;
		ic = (e.w + pv->ti.cell_w - 1) / pv->ti.cell_w;
		ir = (e.h + pv->ti.cell_h - 1) / pv->ti.cell_h;
		ox = s->cols > ic ? (s->cols - ic) / 2 : 0;
		oy = s->rows > ir ? (s->rows - ir) / 2 : 0;
		snprintf(cup, sizeof cup, "\033[%d;%dH", s->y + oy + 1, s->x + ox + 1);
		if (ob_add(&o, cup, strlen(cup)) || ob_add(&o, e.data, e.len))
			break;
		s->drawn = 1;
		wrote = 1;
	}
	if (wrote && ob_add(&o, "\0338", 2) == 0)
		util_write_all(pv->fd, o.b, o.len);
	free(o.b);
}

int preview_fd(struct preview *pv)
{
	return pv ? decoder_fd(pv->dec) : -1;
}

int preview_collect(struct preview *pv)
{
	struct decoder_result *r, *list;
	int got = 0;

	if (!pv)
		return 0;
	list = decoder_take(pv->dec);
	for (r = list; r; r = r->next) {
		/* a frame only for what is wanted now; the rest is kept for when
		 * the selection comes back */
		for (size_t i = 0; i < pv->nslots && !got; i++)
			got = strcmp(pv->slots[i].path, r->req.path) == 0;
		if (r->err) {
			err_add(pv, r->req.path, r->err);
			for (size_t i = 0; i < pv->nslots; i++)
				if (strcmp(pv->slots[i].path, r->req.path) == 0)
					pv->slots[i].failed = 1;
		} else if (r->req.kind == DECODER_SIXEL) {
			struct sixelenc_key k = {r->req.path, r->req.mtime_ns, r->req.file_size,
			                         r->req.box_w, r->req.box_h, r->req.ncolors,
			                         r->req.upscale, r->req.diffuse};
			int rc = sixelenc_cache_put(pv->cache, &k, r->sixel, r->sixel_len, r->w,
			                            r->h);

			if (rc == 1) { /* larger than the cache: keep the last one here */
				decoder_result_free(pv->big);
				pv->big = calloc(1, sizeof *pv->big);
				if (pv->big) {
					*pv->big = *r;
					pv->big->next = NULL;
					r->req.path = NULL;
					r->sixel = NULL;
					r->im = NULL;
					r->err = NULL;
				}
			}
		} else if (r->im) {
			blocks_put(pv, r);
		}
	}
	decoder_result_free(list);
	if (got) {
		/* a frame: placeholders go, images or errors come */
		pv->need_frame = 1;
		pv->pending = pv->nslots > 0;
	}
	return got;
}

void preview_update(struct preview *pv)
{
	int drawn = 0;

	if (pv && pv->ti.graphics == TERM_GFX_SIXEL) {
		if (!pv->idc_off) {
			/* insert/delete character would slide images sideways in
			 * some terminals and make the rewritten cells unknowable */
			idcok(stdscr, FALSE);
			pv->idc_off = 1;
		}
		for (size_t i = 0; i < pv->nslots; i++)
			drawn |= pv->slots[i].drawn;
		if (drawn && !pv->hidden && damage_will_shift()) {
			/* blank the images before curses scrolls (see erase_drawn)
			 * and send them again right after this frame */
			erase_drawn(pv);
			drawn = 0;
			pv->pending = 1;
			pv->changed_at = util_now_ms() - PREVIEW_IDLE_MS;
		}
		if (drawn && !pv->hidden && invalidate_touched(pv) > 0) {
			/* these were on screen: no idle wait to send them again */
			pv->pending = 1;
			pv->changed_at = util_now_ms() - PREVIEW_IDLE_MS;
		}
	}
	doupdate();
	preview_flush(pv);
}

/* ---------------------------------------------------------- fullscreen */

void preview_view(struct preview *pv, WINDOW *win, const struct job *j, int k)
{
	int wy, wx, rows, cols, n;
	char head[256];

	if (!pv || !win)
		return;
	getbegyx(win, wy, wx);
	getmaxyx(win, rows, cols);
	n = j ? (int)j->n_outputs : 0;
	if (n > 0 && k >= 0 && k < n) {
		const struct job_output *o = &j->outputs[k];
		struct slot *s = calloc(1, sizeof *s);
		size_t ns = 0;

		snprintf(head, sizeof head, "#%lld  image %d/%d  %dx%d   %s", (long long)j->id,
		         k + 1, n, o->width, o->height,
		         n > 1 ? "Left/Right: step  other key: back" : "any key: back");
		put_text(win, 0, 0, cols, head, A_REVERSE);
		if (s && o->path)
			ns = layout(pv, wy + 1, wx, rows - 1, cols, (const char **)&o->path, 1,
			            o->width, o->height, PV_FILL_FINE, pv->ti.graphics == TERM_GFX_SIXEL,
			            s);
		if (s)
			show_slots(pv, win, s, ns);
	} else {
		put_text(win, 0, 0, cols, "no images  (any key: back)", A_REVERSE);
		set_slots(pv, NULL, 0);
		if (j)
			draw_progress(win, 2, 1, rows - 3, cols - 2, j);
	}
}

/* --------------------------------------------------------------- tiles */

void preview_tiles(struct preview *pv, WINDOW *win, const struct preview_tile *t, size_t n)
{
	struct slot *s;
	size_t k = 0;

	if (!pv || !win)
		return;
	s = calloc(n + 1, sizeof *s);
	if (!s)
		return;
	for (size_t i = 0; i < n; i++) {
		const char *path = t[i].path;

		if (path && layout(pv, t[i].y, t[i].x, t[i].rows, t[i].cols, &path, 1, t[i].aw,
		                   t[i].ah, PV_FIT, pv->ti.graphics == TERM_GFX_SIXEL, &s[k]))
			k++;
	}
	show_slots(pv, win, s, k);
}

/* ----------------------------------------------------------------- cli */

/* Print im as half blocks with ANSI colours, sending a colour only when it
 * changes. */
static void cli_blocks(const struct term_info *ti, const struct image *im, int utf8)
{
	char buf[64];

	for (int r = 0; r + 1 < im->h; r += 2) {
		long lf = -1, lb = -1;

		for (int c = 0; c < im->w; c++) {
			const unsigned char *t = im->rgb + ((size_t)r * im->w + c) * 3;
			const unsigned char *b = t + (size_t)im->w * 3;
			unsigned char a[3];
			long f, g;

			if (!utf8) { /* one colour per cell: the average, as a background */
				for (int k = 0; k < 3; k++)
					a[k] = (unsigned char)((t[k] + b[k] + 1) / 2);
				t = b = a;
			}
			f = ti->truecolor ? (long)(t[0] << 16 | t[1] << 8 | t[2]) : quant256(t);
			g = ti->truecolor ? (long)(b[0] << 16 | b[1] << 8 | b[2]) : quant256(b);
			buf[0] = 0;
			if (utf8 && f != lf) {
				if (ti->truecolor)
					snprintf(buf, sizeof buf, "\033[38;2;%d;%d;%dm", t[0], t[1],
					         t[2]);
				else
					snprintf(buf, sizeof buf, "\033[38;5;%ldm", f);
				fputs(buf, stdout);
				lf = f;
			}
			if (g != lb) {
				if (ti->truecolor)
					snprintf(buf, sizeof buf, "\033[48;2;%d;%d;%dm", b[0], b[1],
					         b[2]);
				else
					snprintf(buf, sizeof buf, "\033[48;5;%ldm", g);
				fputs(buf, stdout);
				lb = g;
			}
			fputs(utf8 ? "\xe2\x96\x80" : " ", stdout);
		}
		fputs("\033[0m\n", stdout);
	}
}

int preview_print(const struct term_info *ti, const char *path, int cols, int ncolors, char **err)
{
	struct image *im = image_load(path, NULL, 0, err);
	int rc = -1;

	if (!im)
		return -1;
	if (ti->graphics == TERM_GFX_SIXEL) {
		unsigned char *buf = NULL;
		size_t len = 0;
		int dw, dh;

		image_fit(im->w, im->h, cols * ti->cell_w, IMAGE_MAX_DIM * 4, 1, &dw, &dh);
		if (dw != im->w || dh != im->h) {
			struct image *sc = image_scale(im, dw, dh);

			image_free(im);
			if (!(im = sc)) {
				util_set_err(err, "out of memory");
				return -1;
			}
		}
		if (sixelenc_image(im, ncolors, SIXELENC_DIFFUSE_NONE, &buf, &len, err) == 0) {
			fflush(stdout);
			rc = util_write_all(STDOUT_FILENO, buf, len);
			if (rc == 0)
				rc = util_write_all(STDOUT_FILENO, "\n", 1);
			if (rc < 0)
				util_set_err(err, "cannot write to the terminal");
			free(buf);
		}
	} else {
		int bw = cols, bh;
		struct image *sc;

		bh = (int)((double)im->h / im->w * bw * ti->cell_w * 2 / ti->cell_h + 0.5);
		bh += bh % 2;
		if (bh < 2)
			bh = 2;
		if ((sc = image_scale(im, bw, bh))) {
			cli_blocks(ti, sc, locale_utf8());
			rc = fflush(stdout) == 0 ? 0 : -1;
			if (rc < 0)
				util_set_err(err, "cannot write to the terminal");
		} else {
			util_set_err(err, "out of memory");
		}
		image_free(sc);
	}
	image_free(im);
	return rc;
}
