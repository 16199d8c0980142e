/*
 * tui_gallery.c: the thumbnail gallery (t) of the real sdq binary under a
 * pty, checked through what a sixel terminal would show.
 *
 * ptyterm keeps a model of the terminal's sixel layer (ptyterm.h): an image
 * covers the cells under its pixels until text is written over them or they
 * are erased (EL, EL1, ED...). After every move (t, l, l, h, j, k), Ctrl-L
 * and a trip to the full-screen viewer, each visible tile is looked at: the
 * cell in the middle of its thumbnail box must show an image that is whole
 * (no cell of it written over), lies inside that box, and decodes to that
 * job's picture. Curses clearing the old selection box to the start of a
 * line (ESC [ 1 K) wipes the tiles to its left; sdq must send them again.
 * No timing assertions: waits are generous upper bounds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "th.h"
#include "th_png.h"
#include "th_sixel.h"
#include "ptyterm.h"
#include "image.h"
#include "job.h"
#include "store.h"

#define WAIT_MS 15000
#define COLS_ 140
#define ROWS_ 40
#define NJOBS 10
/* A thumbnail's box with 8 x 17 cells (gallery.c thumb_box: about 160 px
 * square): 20 x 9 cells, with the label on the second row below it. */
#define TW 20
#define TH 9

static const char *sdq_bin;
static char base[4096], data_env[4200], config_env[4200], home_env[4200];
static char paths[NJOBS + 1][4300];

static int setup(void)
{
	char dir[4400];
	struct store *st;
	char *err = NULL;

	snprintf(base, sizeof base, "%s", th_tmpdir());
	snprintf(data_env, sizeof data_env, "XDG_DATA_HOME=%s/data", base);
	snprintf(config_env, sizeof config_env, "XDG_CONFIG_HOME=%s/config", base);
	snprintf(home_env, sizeof home_env, "HOME=%s", base);
	static const char *const sub[] = {"data", "data/sdq", "data/sdq/images", "config"};
	for (size_t i = 0; i < sizeof sub / sizeof sub[0]; i++) {
		snprintf(dir, sizeof dir, "%s/%s", base, sub[i]);
		mkdir(dir, 0700);
	}
	snprintf(dir, sizeof dir, "%s/data/sdq/history.db", base);
	st = store_open(dir, &err);
	if (!st) {
		fprintf(stderr, "store_open: %s\n", err);
		free(err);
		return -1;
	}
	for (int id = 1; id <= NJOBS; id++) {
		struct job *j = job_new();
		struct job_output o = {0};
		struct image *im = th_plasma(120, 120, id * 2);

		snprintf(paths[id], sizeof paths[id], "%s/data/sdq/images/%d-0.png", base, id);
		if (!im || th_png_write_file(paths[id], im->w, im->h, im->rgb) != 0)
			return -1;
		image_free(im);
		job_set_str(&j->params.prompt, "a gallery test");
		job_set_str(&j->backend, "runpod");
		job_set_str(&j->endpoint, "default");
		j->state = JOB_PENDING;
		if (store_job_add(st, j, &err) != 0 || j->id != id) {
			fprintf(stderr, "store_job_add: %s\n", err ? err : "unexpected id");
			return -1;
		}
		j->state = JOB_COMPLETED;
		o.path = paths[id];
		o.width = o.height = 120;
		o.seed = 1;
		o.format = "png";
		o.bytes = 1;
		job_add_output(j, &o);
		if (store_job_save(st, j, &err) != 0) {
			fprintf(stderr, "store_job_save: %s\n", err);
			return -1;
		}
		job_free(j);
	}
	store_close(st);
	return 0;
}

static struct ptyterm *start(void)
{
	char *argv[] = {(char *)sdq_bin, NULL};
	char *env[] = {data_env,       config_env,       home_env,         "SDQ_GRAPHICS",
	               "SDQ_ENDPOINT", "RUNPOD_API_KEY", "SDQ_CONFIG",     "NO_COLOR",
	               "COLORTERM",    "LANG=C.UTF-8",   "LC_ALL=C.UTF-8", NULL};
	struct ptyterm_opts o = {PTYTERM_DA1_SIXEL, 8, 17, 0};

	return ptyterm_start(argv, env, COLS_, ROWS_, &o);
}

/* Where job id's label is ("#ID COMPLETED"): 1 and its cell, or 0. */
static int label_at(struct ptyterm *pt, int id, int *row, int *col)
{
	char l[32];

	snprintf(l, sizeof l, "#%d COMPLETED", id);
	return ptyterm_find(pt, l, row, col);
}

/* Does job id's tile show its own picture, whole and in its box? With
 * verbose, say what is wrong. */
static int tile_ok(struct ptyterm *pt, int id, int verbose)
{
	int r, c, idx;
	const struct ptyterm_image *im;
	struct th_decoded d;
	double e;

	if (!label_at(pt, id, &r, &c))
		return 1; /* not visible: nothing to show */
	/* the box: rows r-TH-1 .. r-2, columns c .. c+TW-1 */
	idx = ptyterm_image_at(pt, r - 2 - (TH - 1) / 2, c + TW / 2 - 1);
	im = ptyterm_image(pt, idx);
	if (!im) {
		if (verbose)
			fprintf(stderr, "  tile #%d (label at %d,%d): no image in its box\n", id, r,
			        c);
		return 0;
	}
	if (!ptyterm_image_intact(pt, idx)) {
		if (verbose)
			fprintf(stderr, "  tile #%d: its image (at %d,%d) is partly written over\n",
			        id, im->row, im->col);
		return 0;
	}
	if (im->row < r - TH - 1 || im->row + im->rows > r - 1 || im->col < c ||
	    im->col + im->cols > c + TW) {
		if (verbose)
			fprintf(stderr,
			        "  tile #%d: image at %d,%d (%dx%d cells) outside its box\n", id,
			        im->row, im->col, im->cols, im->rows);
		return 0;
	}
	if (th_sixel_decode(im->data, im->len, &d) != 0) {
		if (verbose)
			fprintf(stderr, "  tile #%d: its image does not decode\n", id);
		return 0;
	}
	e = th_sixel_err_vs(&d, paths[id]);
	free(d.rgb);
	if (e >= 10.0) {
		if (verbose)
			fprintf(stderr, "  tile #%d: shows another picture (mean error %.1f)\n", id,
			        e);
		return 0;
	}
	return 1;
}

/* Every visible tile right; *visible gets how many there are. */
static int tiles_ok(struct ptyterm *pt, int verbose, int *visible)
{
	int ok = 1, n = 0, r, c;

	for (int id = 1; id <= NJOBS; id++) {
		n += label_at(pt, id, &r, &c);
		if (!tile_ok(pt, id, verbose))
			ok = 0;
	}
	if (visible)
		*visible = n;
	return ok;
}

/* Wait (bounded) until every visible tile is right; on a timeout, say why. */
static int wait_tiles(struct ptyterm *pt, const char *after)
{
	int visible = 0;

	for (int waited = 0; waited < WAIT_MS; waited += 100) {
		if (tiles_ok(pt, 0, &visible) && visible == NJOBS)
			return 1;
		ptyterm_pump(pt, 100);
	}
	fprintf(stderr, "  after %s (%d tiles visible):\n", after, visible);
	tiles_ok(pt, 1, NULL);
	return 0;
}

/* Wait until job id's label is the selected one (drawn reversed). */
static int wait_selected(struct ptyterm *pt, int id)
{
	for (int waited = 0; waited < WAIT_MS; waited += 50) {
		int r, c;
		struct ptyterm_cell cell;

		if (label_at(pt, id, &r, &c) && ptyterm_cell(pt, r, c, &cell) == 0 && cell.reverse)
			return 1;
		ptyterm_pump(pt, 50);
	}
	return 0;
}

/* The status line's counter names job id's place in the list (the newest,
 * #NJOBS, is 1/NJOBS): it follows the gallery's selection. */
static int wait_counter(struct ptyterm *pt, int id)
{
	char want[32], row[1024];

	snprintf(want, sizeof want, " %d/%d", NJOBS - id + 1, NJOBS);
	for (int waited = 0; waited < WAIT_MS; waited += 50) {
		if (ptyterm_row(pt, ROWS_ - 1, row, sizeof row)) {
			size_t n = strlen(row);
			while (n && row[n - 1] == ' ')
				row[--n] = 0;
			if (n >= strlen(want) && strcmp(row + n - strlen(want), want) == 0)
				return 1;
		}
		ptyterm_pump(pt, 50);
	}
	fprintf(stderr, "  the counter is not%s: %s\n", want, row);
	return 0;
}

/* One key in the gallery: the selection lands on job sel, and then every
 * tile shows its picture again. */
static void move(struct ptyterm *pt, const char *key, int sel)
{
	size_t n0 = ptyterm_nimages(pt);

	if (strlen(key) == 1)
		ptyterm_send(pt, key);
	else
		ptyterm_key(pt, key);
	CHECK(wait_selected(pt, sel));
	CHECK(wait_counter(pt, sel));
	ptyterm_settle(pt, 300, 3000);
	if (!CHECK(wait_tiles(pt, key))) {
		char *s = ptyterm_screen(pt);
		fprintf(stderr, "%s\n", s ? s : "");
		free(s);
	}
	/* right, and cheap: a move does not send the whole gallery again */
	if (!CHECK(ptyterm_nimages(pt) - n0 <= 2))
		fprintf(stderr, "  %s sent %zu images\n", key, ptyterm_nimages(pt) - n0);
}

/* The model itself: a picture is told from its neighbours' (so a tile
 * showing the wrong job fails), and text over an image removes it. */
static void test_pictures_differ(void)
{
	for (int id = 2; id <= NJOBS; id++) {
		struct image *a = image_load(paths[id], NULL, 0, NULL);
		struct th_decoded d = {0};

		if (!CHECK(a != NULL))
			continue;
		d.w = a->w;
		d.h = a->h;
		d.rgb = a->rgb;
		CHECK(th_sixel_err_vs(&d, paths[id]) < 1.0);
		CHECK(th_sixel_err_vs(&d, paths[id - 1]) > 20.0);
		image_free(a);
	}
}

static void test_gallery_moves(void)
{
	struct ptyterm *pt = start();
	size_t n0;

	if (!CHECK(pt != NULL))
		return;
	CHECK(ptyterm_wait_for_text(pt, "a gallery test", WAIT_MS));
	ptyterm_send(pt, "t");
	/* the gallery opens on the selected job, the newest (#10) */
	CHECK(wait_selected(pt, 10));
	CHECK(wait_tiles(pt, "t"));
	move(pt, "l", 9);
	move(pt, "l", 8);
	move(pt, "h", 9);
	move(pt, "j", 3); /* 6 tiles a row: #9 is 2nd in row 1, #3 2nd in row 2 */
	move(pt, "Right", 2);
	move(pt, "k", 8);
	move(pt, "Left", 9);

	/* Ctrl-L repaints every image: each tile's picture is sent again */
	ptyterm_settle(pt, 300, 3000);
	n0 = ptyterm_nimages(pt);
	ptyterm_key(pt, "C-l");
	for (int waited = 0; waited < WAIT_MS && ptyterm_nimages(pt) < n0 + NJOBS; waited += 50)
		ptyterm_pump(pt, 50);
	CHECK(ptyterm_nimages(pt) >= n0 + NJOBS);
	CHECK(wait_tiles(pt, "Ctrl-L"));

	/* the full-screen viewer and back */
	ptyterm_send(pt, "v");
	CHECK(ptyterm_wait_for_text(pt, "image 1/1", WAIT_MS));
	ptyterm_settle(pt, 300, 3000);
	ptyterm_key(pt, "Esc");
	CHECK(ptyterm_wait_for_text_gone(pt, "image 1/1", WAIT_MS));
	CHECK(wait_selected(pt, 9));
	CHECK(wait_tiles(pt, "the viewer"));

	ptyterm_send(pt, "q");
	ptyterm_send(pt, "q");
	CHECK_INT(ptyterm_wait_exit(pt, WAIT_MS), 0);
	CHECK(ptyterm_tty_sane(pt));
	ptyterm_stop(pt);
}

/* --- a group's gallery by axes --- */

/* A group of 8: steps 20|30 (pages), prompt{1} ruby|teal (down), sampler
 * euler|heun (across); each job its own picture. In a history of its own. */
#define GN 8
static char gbase[4096], gdata_env[4200], gconfig_env[4200], ghome_env[4200];
static char gpaths[GN][4300];
static const char *const g_steps[] = {"20", "30"}, *const g_word[] = {"ruby", "teal"},
                         *const g_samp[] = {"euler", "heun"};

static int setup_group(void)
{
	char dir[4400], *err = NULL;
	struct store *st;
	struct store_group g;

	snprintf(gbase, sizeof gbase, "%s/group", th_tmpdir());
	snprintf(gdata_env, sizeof gdata_env, "XDG_DATA_HOME=%s/data", gbase);
	snprintf(gconfig_env, sizeof gconfig_env, "XDG_CONFIG_HOME=%s/config", gbase);
	snprintf(ghome_env, sizeof ghome_env, "HOME=%s", gbase);
	static const char *const sub[] = {"", "data", "data/sdq", "data/sdq/images", "config"};
	for (size_t i = 0; i < sizeof sub / sizeof sub[0]; i++) {
		snprintf(dir, sizeof dir, "%s/%s", gbase, sub[i]);
		mkdir(dir, 0700);
	}
	snprintf(dir, sizeof dir, "%s/data/sdq/history.db", gbase);
	if (!(st = store_open(dir, &err))) {
		fprintf(stderr, "store_open: %s\n", err);
		return -1;
	}
	memset(&g, 0, sizeof g);
	g.prompt = "a {ruby|teal} stone";
	g.axes_json = "[{\"key\":\"steps\",\"values\":[20,30]},"
	              "{\"key\":\"prompt{1}\",\"values\":[\"ruby\",\"teal\"]},"
	              "{\"key\":\"sampler\",\"values\":[\"euler\",\"heun\"]}]";
	g.njobs = GN;
	int64_t gid = store_group_add(st, &g, &err);
	if (!gid)
		return -1;
	/* recorded in a shuffled order: placed by variant, not by id */
	static const int order[GN] = {5, 2, 7, 0, 3, 6, 1, 4};
	for (int k = 0; k < GN; k++) {
		int i = order[k]; /* i = steps*4 + word*2 + sampler */
		struct job *j = job_new();
		struct job_output o = {0};
		struct image *im = th_plasma(120, 120, 40 + i * 3);
		char v[160];

		snprintf(gpaths[i], sizeof gpaths[i], "%s/data/sdq/images/g%d.png", gbase, i);
		if (!im || th_png_write_file(gpaths[i], im->w, im->h, im->rgb) != 0)
			return -1;
		image_free(im);
		snprintf(v, sizeof v, "{\"steps\":%s,\"prompt{1}\":\"%s\",\"sampler\":\"%s\"}",
		         g_steps[i / 4], g_word[(i / 2) % 2], g_samp[i % 2]);
		job_set_str(&j->params.prompt, "a stone");
		job_set_str(&j->backend, "runpod");
		job_set_str(&j->endpoint, "default");
		job_set_str(&j->variant, v);
		j->group_id = gid;
		j->state = JOB_PENDING;
		if (store_job_add(st, j, &err) != 0)
			return -1;
		j->state = JOB_COMPLETED;
		o.path = gpaths[i];
		o.width = o.height = 120;
		o.seed = 1;
		o.format = "png";
		o.bytes = 1;
		job_add_output(j, &o);
		if (store_job_save(st, j, &err) != 0)
			return -1;
		job_free(j);
	}
	store_close(st);
	return 0;
}

/* xterm's 256 colours as RGB. */
static void th_rgb256(int c, unsigned char rgb[3])
{
	static const unsigned char sys[16][3] = {
	    {0, 0, 0},       {205, 0, 0},   {0, 205, 0},   {205, 205, 0},
	    {0, 0, 238},     {205, 0, 205}, {0, 205, 205}, {229, 229, 229},
	    {127, 127, 127}, {255, 0, 0},   {0, 255, 0},   {255, 255, 0},
	    {92, 92, 255},   {255, 0, 255}, {0, 255, 255}, {255, 255, 255}};
	static const unsigned char lv[6] = {0, 95, 135, 175, 215, 255};
	if (c >= 0x1000000) {
		rgb[0] = (unsigned char)(c >> 16);
		rgb[1] = (unsigned char)(c >> 8);
		rgb[2] = (unsigned char)c;
	} else if (c < 0) {
		rgb[0] = rgb[1] = rgb[2] = 0;
	} else if (c < 16) {
		memcpy(rgb, sys[c], 3);
	} else if (c < 232) {
		c -= 16;
		rgb[0] = lv[c / 36];
		rgb[1] = lv[(c / 6) % 6];
		rgb[2] = lv[c % 6];
	} else {
		rgb[0] = rgb[1] = rgb[2] = (unsigned char)(8 + 10 * (c - 232));
	}
}

/* What the box at rows r0..r1, columns c0..c1 shows, as a picture: the
 * image sixel covering its middle, decoded; or its half blocks (U+2580:
 * the foreground the upper pixel, the background the lower), read back.
 * 0 and *d (free d->rgb), or -1 when it shows none. */
static int box_picture(struct ptyterm *pt, int r0, int r1, int c0, int c1, struct th_decoded *d)
{
	int idx = ptyterm_image_at(pt, (r0 + r1) / 2, (c0 + c1) / 2);
	const struct ptyterm_image *im = ptyterm_image(pt, idx);
	memset(d, 0, sizeof *d);
	if (im) {
		if (!ptyterm_image_intact(pt, idx) || im->row < r0 || im->row + im->rows > r1 + 1 ||
		    im->col < c0 || im->col + im->cols > c1 + 1)
			return -1;
		return th_sixel_decode(im->data, im->len, d);
	}
	/* half blocks: their bounding box in the box */
	int br0 = -1, br1 = -1, bc0 = -1, bc1 = -1;
	for (int r = r0; r <= r1; r++)
		for (int c = c0; c <= c1; c++) {
			struct ptyterm_cell cell;
			if (ptyterm_cell(pt, r, c, &cell) != 0 || cell.ch != 0x2580)
				continue;
			if (br0 < 0 || r < br0)
				br0 = r;
			if (r > br1)
				br1 = r;
			if (bc0 < 0 || c < bc0)
				bc0 = c;
			if (c > bc1)
				bc1 = c;
		}
	if (br0 < 0 || (br1 - br0 + 1) * (bc1 - bc0 + 1) < 16)
		return -1;
	d->w = bc1 - bc0 + 1;
	d->h = (br1 - br0 + 1) * 2;
	d->rgb = malloc((size_t)d->w * d->h * 3);
	for (int r = br0; d->rgb && r <= br1; r++)
		for (int c = bc0; c <= bc1; c++) {
			struct ptyterm_cell cell;
			ptyterm_cell(pt, r, c, &cell);
			unsigned char *up = d->rgb + ((size_t)(r - br0) * 2 * d->w + (c - bc0)) * 3;
			th_rgb256(cell.fg, up);
			th_rgb256(cell.bg, up + (size_t)d->w * 3);
		}
	return d->rgb ? 0 : -1;
}

/* The cell at Y value row label wy and X value column label wx shows job
 * want's picture: of the group's pictures it is the nearest, and near. */
static int cell_shows(struct ptyterm *pt, const char *wy, const char *wx, int want, int verbose)
{
	int ry, cy, rx, cx;
	struct th_decoded d;
	if (!ptyterm_find(pt, wy, &ry, &cy) || !ptyterm_find(pt, wx, &rx, &cx)) {
		if (verbose)
			fprintf(stderr, "  no label %s or %s\n", wy, wx);
		return 0;
	}
	/* the box: under the X value's column, on the Y value's rows (the label
	 * is at the box's middle row), about TW x TH */
	if (box_picture(pt, ry - TH / 2, ry + TH / 2, cx, cx + TW - 2, &d) != 0) {
		if (verbose)
			fprintf(stderr, "  cell %s/%s (row %d, col %d): no picture\n", wy, wx, ry, cx);
		return 0;
	}
	int best = -1;
	double be = 1e9, ew = 1e9;
	for (int i = 0; i < GN; i++) {
		double e = th_sixel_err_vs(&d, gpaths[i]);
		if (i == want)
			ew = e;
		if (e < be) {
			be = e;
			best = i;
		}
	}
	free(d.rgb);
	if (best != want || ew > 40.0) {
		if (verbose)
			fprintf(stderr, "  cell %s/%s shows picture %d (error %.1f), not %d (%.1f)\n",
			        wy, wx, best, be, want, ew);
		return 0;
	}
	return 1;
}

/* Every cell of page steps (0 or 1) right, waited for. */
static int page_right(struct ptyterm *pt, int steps)
{
	for (int waited = 0; waited < WAIT_MS; waited += 100) {
		int ok = 1;
		for (int i = 0; i < 4 && ok; i++)
			ok = cell_shows(pt, g_word[i / 2], g_samp[i % 2], steps * 4 + i, 0);
		if (ok)
			return 1;
		ptyterm_pump(pt, 100);
	}
	for (int i = 0; i < 4; i++)
		cell_shows(pt, g_word[i / 2], g_samp[i % 2], steps * 4 + i, 1);
	char *s = ptyterm_screen(pt);
	fprintf(stderr, "%s\n", s ? s : "");
	free(s);
	return 0;
}

/* t on a group's row: the images by their axes, in sixel and in half
 * blocks: sampler across, the prompt's word down, a page per steps value. */
static void test_group_by_axes(void)
{
	for (int blocks = 0; blocks < 2; blocks++) {
		char *argv[] = {(char *)sdq_bin, NULL};
		char *env[] = {gdata_env,        gconfig_env,    ghome_env,
		               blocks ? "SDQ_GRAPHICS=blocks" : "SDQ_GRAPHICS",
		               "SDQ_ENDPOINT",   "RUNPOD_API_KEY", "SDQ_CONFIG",
		               "NO_COLOR",       "COLORTERM",      "LANG=C.UTF-8",
		               "LC_ALL=C.UTF-8", NULL};
		struct ptyterm_opts o = {PTYTERM_DA1_SIXEL, 8, 17, 0};
		struct ptyterm *pt = ptyterm_start(argv, env, COLS_, ROWS_, &o);

		if (!CHECK(pt != NULL))
			return;
		CHECK(ptyterm_wait_for_text(pt, "8/8 done", WAIT_MS));
		ptyterm_send(pt, "t");
		CHECK(ptyterm_wait_for_text(pt, "page 1/2: steps=20", WAIT_MS));
		CHECK(ptyterm_find(pt, "down: prompt{1}", NULL, NULL));
		CHECK(ptyterm_find(pt, "across: sampler", NULL, NULL));
		if (!CHECK(page_right(pt, 0)))
			fprintf(stderr, "  (%s, page 1)\n", blocks ? "blocks" : "sixel");
		if (!blocks)
			CHECK(ptyterm_ncaptures(pt) > 0);
		else
			CHECK_INT(ptyterm_ncaptures(pt), 0);
		/* the status line counts the group's cells (page, row, column
		 * order), not the table's rows, and follows the selection */
		CHECK(ptyterm_wait_for_text(pt, "1/8", WAIT_MS));
		ptyterm_send(pt, "l");
		CHECK(ptyterm_wait_for_text(pt, "2/8", WAIT_MS));
		ptyterm_send(pt, "h");
		CHECK(ptyterm_wait_for_text(pt, "1/8", WAIT_MS));
		ptyterm_key(pt, "PgDn");
		CHECK(ptyterm_wait_for_text(pt, "page 2/2: steps=30", WAIT_MS));
		CHECK(ptyterm_wait_for_text(pt, "5/8", WAIT_MS));
		if (!CHECK(page_right(pt, 1)))
			fprintf(stderr, "  (%s, page 2)\n", blocks ? "blocks" : "sixel");
		ptyterm_send(pt, "q");
		CHECK(ptyterm_wait_for_text_gone(pt, "across: sampler", WAIT_MS));
		ptyterm_send(pt, "q");
		CHECK_INT(ptyterm_wait_exit(pt, WAIT_MS), 0);
		ptyterm_stop(pt);
	}
}

int main(void)
{
	sdq_bin = getenv("SDQ_BIN");
	if (!sdq_bin)
		sdq_bin = "build/sdq";
	if (setup() != 0) {
		fprintf(stderr, "setup failed\n");
		th_failed++;
		return th_done("tui_gallery");
	}
	TH_RUN(test_pictures_differ);
	TH_RUN(test_gallery_moves);
	if (setup_group() != 0) {
		fprintf(stderr, "setup_group failed\n");
		th_failed++;
	} else {
		TH_RUN(test_group_by_axes);
	}
	return th_done("tui_gallery");
}
