/*
 * tui_preview.c: image previews of the real sdq binary under a pty
 * (ptyterm.h), with the sixel stream captured and decoded.
 *
 * The store is filled directly (store_job_add/save) with PNGs written here:
 * #1 a batch of three, #2 a running job, #3 a portrait, #4 a landscape.
 * With a terminal that lists sixel in DA1: the selected job's image is sent as
 * sixel, decodes to the source (mean error bound), fits the pane and never
 * reaches the last row; moving the selection sends the next image; a running
 * job shows its progress and no image; a batch is a grid of separate images;
 * a popup hides the image and closing it sends it again; a resize sends it
 * again within the new screen; the gallery sends thumbnails. Without sixel
 * in DA1: no DCS at all, half-block cells in colour. `sdq preview` prints a
 * sixel sized to -w and refuses a non-terminal stdout unless SDQ_GRAPHICS is
 * set. term_probe against a fake terminal on a pty: replies split byte by
 * byte, mixed with typed keys, missing; overrides; no query when forced.
 * No timing assertions: waits are generous upper bounds.
 */
#include <fcntl.h>
#include <png.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <pty.h>
#include <signal.h>
#include <sys/ioctl.h>

#include "th.h"
#include "util.h"
#include "ptyterm.h"
/* term.o (libsdqtui.a) uses no curses: its probe is tested here against a
 * fake terminal. */
#include "term.h"
#include "image.h"
#include "job.h"
#include "store.h"
#include "th_png.h"
#include "th_sixel.h"

#define WAIT_MS 15000
#define COLS_ 140
#define ROWS_ 40

static const char *sdq_bin;
static char base[4096], data_env[4200], config_env[4200], home_env[4200];
static char img_a[4300], img_b[4300], img_batch[3][4300];

static int add_job(struct store *st, enum job_state s, char paths[][4300], const int *wh, int n,
                   int seed0)
{
	struct job *j = job_new();
	char *err = NULL;
	int rc;

	job_set_str(&j->params.prompt, "a preview test");
	job_set_str(&j->backend, "runpod");
	job_set_str(&j->endpoint, "default");
	j->state = JOB_PENDING;
	if (store_job_add(st, j, &err) != 0) {
		fprintf(stderr, "store_job_add: %s\n", err);
		return -1;
	}
	j->state = s;
	if (s == JOB_IN_PROGRESS) {
		j->progress = 0.5;
		job_set_str(&j->progress_text, "step 5/10");
	}
	for (int k = 0; k < n; k++) {
		struct job_output o = {0};
		struct image *im = th_plasma(wh[2 * k], wh[2 * k + 1], seed0 + k);

		if (th_png_write_file(paths[k], im->w, im->h, im->rgb) != 0)
			return -1;
		image_free(im);
		o.index = k;
		o.path = paths[k];
		o.width = wh[2 * k];
		o.height = wh[2 * k + 1];
		o.seed = 1;
		o.format = "png";
		o.bytes = 1;
		job_add_output(j, &o);
	}
	rc = store_job_save(st, j, &err);
	if (rc)
		fprintf(stderr, "store_job_save: %s\n", err);
	free(err);
	job_free(j);
	return rc;
}

static int setup(void)
{
	char db[4400], dir[4400];
	struct store *st;
	char *err = NULL;
	static const int wh_batch[6] = {200, 200, 200, 200, 200, 200};
	static const int wh_b[2] = {180, 240}, wh_a[2] = {240, 180};
	int rc = 0;

	snprintf(base, sizeof base, "%s", th_tmpdir());
	snprintf(data_env, sizeof data_env, "XDG_DATA_HOME=%s/data", base);
	snprintf(config_env, sizeof config_env, "XDG_CONFIG_HOME=%s/config", base);
	snprintf(home_env, sizeof home_env, "HOME=%s", base);
	snprintf(dir, sizeof dir, "%s/data/sdq/images", base);
	snprintf(db, sizeof db, "%s/data/sdq/history.db", base);
	snprintf(dir, sizeof dir, "%s/data", base);
	mkdir(dir, 0700);
	snprintf(dir, sizeof dir, "%s/data/sdq", base);
	mkdir(dir, 0700);
	snprintf(dir, sizeof dir, "%s/data/sdq/images", base);
	mkdir(dir, 0700);
	snprintf(dir, sizeof dir, "%s/config", base);
	mkdir(dir, 0700);
	for (int k = 0; k < 3; k++)
		snprintf(img_batch[k], sizeof img_batch[k], "%s/data/sdq/images/1-%d.png", base, k);
	snprintf(img_b, sizeof img_b, "%s/data/sdq/images/3-0.png", base);
	snprintf(img_a, sizeof img_a, "%s/data/sdq/images/4-0.png", base);
	st = store_open(db, &err);
	if (!st) {
		fprintf(stderr, "store_open: %s\n", err);
		free(err);
		return -1;
	}
	rc |= add_job(st, JOB_COMPLETED, img_batch, wh_batch, 3, 10);
	rc |= add_job(st, JOB_IN_PROGRESS, NULL, NULL, 0, 0);
	rc |= add_job(st, JOB_COMPLETED, (char(*)[4300])img_b, wh_b, 1, 20);
	rc |= add_job(st, JOB_COMPLETED, (char(*)[4300])img_a, wh_a, 1, 30);
	store_close(st);
	return rc;
}

static struct ptyterm *start(char *const *argv, const char *da1, const char *graphics)
{
	char genv[64];
	char *env[] = {data_env,       config_env,       home_env,         genv,
	               "SDQ_ENDPOINT", "RUNPOD_API_KEY", "SDQ_CONFIG",     "NO_COLOR",
	               "COLORTERM",    "LANG=C.UTF-8",   "LC_ALL=C.UTF-8", NULL};
	struct ptyterm_opts o = {da1, 8, 17, 0};

	if (graphics)
		snprintf(genv, sizeof genv, "SDQ_GRAPHICS=%s", graphics);
	else
		snprintf(genv, sizeof genv, "SDQ_GRAPHICS");
	return ptyterm_start(argv, env, COLS_, ROWS_, &o);
}

/* Pump until at least n captures exist (bounded). */
static int wait_caps(struct ptyterm *pt, size_t n, int ms)
{
	for (int waited = 0; waited < ms; waited += 50) {
		if (ptyterm_ncaptures(pt) >= n)
			return 1;
		if (ptyterm_pump(pt, 50) < 0)
			break;
	}
	return ptyterm_ncaptures(pt) >= n;
}

static int decode_cap(const struct ptyterm_capture *c, struct th_decoded *d)
{
	return c ? th_sixel_decode(c->data, c->len, d) : -1;
}

/* The capture fits the screen (cols x rows cells of 8x17) and stays off the
 * last row. */
static int fits(const struct ptyterm_capture *c, const struct th_decoded *d, int cols, int rows)
{
	int ic = (d->w + 7) / 8, ir = (d->h + 16) / 17;

	return c->row >= 0 && c->col >= 0 && c->col + ic <= cols && c->row + ir <= rows - 1 &&
	       d->h % 6 == 0;
}

static int check_cap(struct ptyterm *pt, size_t i, const char *path, int cols, int rows,
                     struct th_decoded *out)
{
	const struct ptyterm_capture *c = ptyterm_capture(pt, i);
	struct th_decoded d;
	double e;
	int ok = 1;

	if (!CHECK(c != NULL) || !CHECK(decode_cap(c, &d) == 0))
		return 0;
	ok &= CHECK(fits(c, &d, cols, rows));
	e = th_sixel_err_vs(&d, path);
	if (!CHECK(e < 10.0)) {
		fprintf(stderr, "  capture %zu at %d,%d %dx%d: mean error %.2f vs %s\n", i, c->row,
		        c->col, d.w, d.h, e, path);
		ok = 0;
	}
	if (out)
		*out = d;
	else
		free(d.rgb);
	return ok;
}

static void test_sixel_dashboard(void)
{
	char *argv[] = {(char *)sdq_bin, NULL};
	struct ptyterm *pt = start(argv, PTYTERM_DA1_SIXEL, NULL);
	struct th_decoded a, b;
	size_t n;

	if (!CHECK(pt != NULL))
		return;
	/* #4 (landscape) is the newest, selected at start */
	CHECK(wait_caps(pt, 1, WAIT_MS));
	CHECK(check_cap(pt, 0, img_a, COLS_, ROWS_, &a));
	CHECK(a.w > a.h);
	/* the pane is on the right: the image starts past the table */
	CHECK(ptyterm_capture(pt, 0) && ptyterm_capture(pt, 0)->col > COLS_ / 3);
	free(a.rgb);

	/* the selection moves to #3 (portrait): its image is sent */
	ptyterm_key(pt, "Down");
	CHECK(wait_caps(pt, 2, WAIT_MS));
	CHECK(check_cap(pt, 1, img_b, COLS_, ROWS_, &b));
	CHECK(b.h > b.w);
	free(b.rgb);

	/* #2 runs: its progress, no image */
	ptyterm_key(pt, "Down");
	CHECK(ptyterm_wait_for_text(pt, "step 5/10", WAIT_MS));
	ptyterm_settle(pt, 500, 3000);
	CHECK_INT(ptyterm_ncaptures(pt), 2);

	/* #1, a batch of three: three separate images side by side, not overlapping */
	ptyterm_key(pt, "Down");
	CHECK(wait_caps(pt, 5, WAIT_MS));
	ptyterm_settle(pt, 400, 3000);
	n = ptyterm_ncaptures(pt);
	CHECK_INT(n, 5);
	for (size_t i = 2; i < 5 && i < n; i++)
		CHECK(check_cap(pt, i, img_batch[i - 2], COLS_, ROWS_, NULL));
	if (n >= 5) {
		const struct ptyterm_capture *c2 = ptyterm_capture(pt, 2),
		                             *c3 = ptyterm_capture(pt, 3),
		                             *c4 = ptyterm_capture(pt, 4);
		CHECK(!(c2->row == c3->row && c2->col == c3->col));
		CHECK(!(c3->row == c4->row && c3->col == c4->col));
	}

	/* a popup over the pane: nothing is sent while it shows; closing it sends
	 * the images again (they were erased under it) */
	ptyterm_send(pt, "f");
	CHECK(ptyterm_wait_for_text(pt, "Filter by state", WAIT_MS));
	ptyterm_settle(pt, 500, 3000);
	CHECK_INT(ptyterm_ncaptures(pt), 5);
	ptyterm_key(pt, "Esc");
	CHECK(ptyterm_wait_for_text_gone(pt, "Filter by state", WAIT_MS));
	CHECK(wait_caps(pt, 8, WAIT_MS));
	for (size_t i = 5; i < 8; i++)
		CHECK(check_cap(pt, i, img_batch[i - 5], COLS_, ROWS_, NULL));

	/* a resize: the images are sent again, inside the new screen */
	ptyterm_clear_captures(pt);
	ptyterm_resize(pt, 150, 30);
	CHECK(wait_caps(pt, 3, WAIT_MS));
	ptyterm_settle(pt, 400, 3000);
	for (size_t i = 0; i < 3 && i < ptyterm_ncaptures(pt); i++)
		CHECK(check_cap(pt, i, img_batch[i], 150, 30, NULL));

	/* the gallery: one thumbnail per job with an image (#4, #3, #1) */
	ptyterm_clear_captures(pt);
	ptyterm_send(pt, "t");
	CHECK(ptyterm_wait_for_text(pt, "#2 IN_PROGRESS", WAIT_MS));
	CHECK(wait_caps(pt, 3, WAIT_MS));
	ptyterm_settle(pt, 400, 3000);
	CHECK_INT(ptyterm_ncaptures(pt), 3);
	if (ptyterm_ncaptures(pt) >= 3) {
		CHECK(check_cap(pt, 0, img_a, 150, 30, NULL));
		CHECK(check_cap(pt, 1, img_b, 150, 30, NULL));
		CHECK(check_cap(pt, 2, img_batch[0], 150, 30, NULL));
	}
	ptyterm_send(pt, "t");
	ptyterm_send(pt, "q");
	CHECK_INT(ptyterm_wait_exit(pt, WAIT_MS), 0);
	CHECK(ptyterm_tty_sane(pt));
	ptyterm_stop(pt);
}

static void test_blocks_dashboard(void)
{
	char *argv[] = {(char *)sdq_bin, NULL};
	struct ptyterm *pt = start(argv, PTYTERM_DA1_PLAIN, NULL);
	int halves = 0, coloured = 0, left = 0;

	if (!CHECK(pt != NULL))
		return;
	CHECK(ptyterm_wait_for_text(pt, "COMPLETED", WAIT_MS));
	/* wait for the half blocks to appear (after the idle delay) */
	for (int t = 0; t < WAIT_MS / 100 && halves < 50; t += 1) {
		ptyterm_pump(pt, 100);
		halves = coloured = left = 0;
		for (int r = 0; r < ROWS_; r++)
			for (int c = 0; c < COLS_; c++) {
				struct ptyterm_cell cell;

				if (ptyterm_cell(pt, r, c, &cell) != 0 || cell.ch != 0x2580)
					continue;
				halves++;
				coloured += cell.fg >= 16 && cell.bg >= 16 && cell.fg != cell.bg;
				left += c < COLS_ / 3;
			}
	}
	ptyterm_settle(pt, 500, 3000);
	CHECK(halves >= 50);
	CHECK(coloured > halves / 2);
	CHECK_INT(left, 0); /* all in the pane on the right */
	CHECK_INT(ptyterm_ncaptures(pt), 0);
	ptyterm_key(pt, "Down");
	ptyterm_settle(pt, 600, 5000);
	CHECK_INT(ptyterm_ncaptures(pt), 0); /* never a DCS without sixel in DA1 */
	ptyterm_send(pt, "q");
	CHECK_INT(ptyterm_wait_exit(pt, WAIT_MS), 0);
	ptyterm_stop(pt);
}

/* Half blocks with the colours the terminal has: 16 (screen-16color,
 * xterm-16color: the bright eight too), 8 (GNU screen's default TERM:
 * still two colours per cell). */
static void test_blocks_few_colors(void)
{
	static const struct {
		const char *term;
		int ncolors;
	} cases[] = {{"TERM=screen-16color", 16}, {"TERM=screen", 8}};

	for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		char *argv[] = {(char *)sdq_bin, NULL};
		char *env[] = {data_env,
		               config_env,
		               home_env,
		               "SDQ_GRAPHICS",
		               "SDQ_ENDPOINT",
		               "RUNPOD_API_KEY",
		               "NO_COLOR",
		               "COLORTERM",
		               "LANG=C.UTF-8",
		               "LC_ALL=C.UTF-8",
		               (char *)cases[k].term,
		               NULL};
		struct ptyterm_opts o = {PTYTERM_DA1_PLAIN, 8, 17, 0};
		struct ptyterm *pt = ptyterm_start(argv, env, COLS_, ROWS_, &o);
		int halves = 0, bright = 0, beyond = 0, real = 0;

		if (!CHECK(pt != NULL))
			continue;
		CHECK(ptyterm_wait_for_text(pt, "COMPLETED", WAIT_MS));
		for (int t = 0, settled = 0; t < WAIT_MS / 100 && !settled; t++) {
			if (halves >= 50) { /* the whole frame, then count again */
				ptyterm_settle(pt, 500, 3000);
				settled = 1;
			}
			ptyterm_pump(pt, 100);
			halves = bright = beyond = real = 0;
			for (int r = 0; r < ROWS_; r++)
				for (int c = COLS_ / 3; c < COLS_; c++) {
					struct ptyterm_cell cell;

					if (ptyterm_cell(pt, r, c, &cell) != 0 ||
					    (cell.ch != 0x2580 && cell.bg < 0))
						continue;
					halves++; /* a half block, or a cell in one colour */
					real += cell.ch == 0x2580;
					bright += (cell.fg >= 8 && cell.fg < 16) ||
					          (cell.bg >= 8 && cell.bg < 16);
					beyond += cell.fg >= cases[k].ncolors ||
					          cell.bg >= cases[k].ncolors;
				}
		}
		if (!CHECK(halves >= 50))
			fprintf(stderr, "  %s: %d image cells\n", cases[k].term, halves);
		CHECK_INT(beyond, 0);
		/* two colours per cell (U+2580), not one; with 16 colours the
		 * 48 colour pairs left cannot hold every pair of colours, so
		 * some cells fall back to one colour */
		if (!CHECK(real >= (cases[k].ncolors == 8 ? 50 : 10)))
			fprintf(stderr, "  %s: %d half blocks\n", cases[k].term, real);
		if (cases[k].ncolors == 16 && !CHECK(bright > 0))
			fprintf(stderr, "  %s: no bright colour used\n", cases[k].term);
		ptyterm_send(pt, "q");
		CHECK_INT(ptyterm_wait_exit(pt, WAIT_MS), 0);
		ptyterm_stop(pt);
	}
}

static void test_cli(void)
{
	char *argv[] = {(char *)sdq_bin, "preview", "4", "-w", "40", NULL};
	struct ptyterm *pt = start(argv, PTYTERM_DA1_SIXEL, NULL);
	struct th_decoded d;

	if (!CHECK(pt != NULL))
		return;
	CHECK_INT(ptyterm_wait_exit(pt, WAIT_MS), 0);
	CHECK_INT(ptyterm_ncaptures(pt), 1);
	if (ptyterm_ncaptures(pt) == 1 && CHECK(decode_cap(ptyterm_capture(pt, 0), &d) == 0)) {
		CHECK_INT(d.w, 320); /* 40 columns of 8 px */
		CHECK_INT(d.h, 240);
		CHECK(th_sixel_err_vs(&d, img_a) < 10.0);
		free(d.rgb);
	}
	ptyterm_stop(pt);

	/* the batch: three images */
	char *argv3[] = {(char *)sdq_bin, "preview", "1", "-w", "20", NULL};
	pt = start(argv3, PTYTERM_DA1_SIXEL, NULL);
	CHECK_INT(ptyterm_wait_exit(pt, WAIT_MS), 0);
	CHECK_INT(ptyterm_ncaptures(pt), 3);
	ptyterm_stop(pt);

	/* no sixel in DA1: coloured half blocks, no DCS */
	pt = start(argv, PTYTERM_DA1_PLAIN, NULL);
	CHECK_INT(ptyterm_wait_exit(pt, WAIT_MS), 0);
	CHECK_INT(ptyterm_ncaptures(pt), 0);
	{
		int halves = 0;
		for (int r = 0; r < ROWS_; r++)
			for (int c = 0; c < COLS_; c++) {
				struct ptyterm_cell cell;
				if (ptyterm_cell(pt, r, c, &cell) == 0 && cell.ch == 0x2580)
					halves++;
			}
		CHECK(halves >= 40 * 10);
	}
	ptyterm_stop(pt);
}

/* sdq preview FILE...: any image file, not a job's, as the dashboard would
 * draw it (sixel, or blocks without sixel in DA1); several files and a job
 * together; a broken file and a missing one are errors that name them while
 * the others are still drawn. */
static void test_cli_files(void)
{
	char any[4400], broken[4400];
	FILE *f;
	struct ptyterm *pt;
	struct th_decoded d;

	snprintf(any, sizeof any, "%s/any image.png", base);
	snprintf(broken, sizeof broken, "%s/broken.png", base);
	if (!CHECK(util_copy_file(img_b, any, 0) == 0))
		return;
	if ((f = fopen(broken, "w"))) {
		fputs("\x89PNG\r\n\x1a\nnot really\n", f);
		fclose(f);
	}

	char *argv[] = {(char *)sdq_bin, "preview", "-w", "40", any, "4", NULL};
	pt = start(argv, PTYTERM_DA1_SIXEL, NULL);
	if (!CHECK(pt != NULL))
		return;
	CHECK_INT(ptyterm_wait_exit(pt, WAIT_MS), 0);
	CHECK_INT(ptyterm_ncaptures(pt), 2);
	if (ptyterm_ncaptures(pt) == 2 && CHECK(decode_cap(ptyterm_capture(pt, 0), &d) == 0)) {
		CHECK_INT(d.w, 320); /* 180x240 at 40 columns of 8 px */
		CHECK_INT(d.h, 426);
		CHECK(th_sixel_err_vs(&d, any) < 10.0);
		free(d.rgb);
	}
	if (ptyterm_ncaptures(pt) == 2 && CHECK(decode_cap(ptyterm_capture(pt, 1), &d) == 0)) {
		CHECK(th_sixel_err_vs(&d, img_a) < 10.0); /* job 4 */
		free(d.rgb);
	}
	ptyterm_stop(pt);

	char *argv2[] = {(char *)sdq_bin,      "preview", "-w", "20", broken,
	                 "/nonexistent/x.png", any,       NULL};
	pt = start(argv2, PTYTERM_DA1_SIXEL, NULL);
	if (!CHECK(pt != NULL))
		return;
	CHECK_INT(ptyterm_wait_exit(pt, WAIT_MS), 1);
	CHECK_INT(ptyterm_ncaptures(pt), 1); /* the good one */
	CHECK(ptyterm_find(pt, "sdq: preview: ", NULL, NULL));
	CHECK(ptyterm_find(pt, "broken.png: ", NULL, NULL));
	CHECK(ptyterm_find(pt, "/nonexistent/x.png: no such job or image file", NULL, NULL));
	ptyterm_stop(pt);

	/* no sixel: half blocks, 40 wide */
	pt = start(argv, PTYTERM_DA1_PLAIN, NULL);
	if (!CHECK(pt != NULL))
		return;
	CHECK_INT(ptyterm_wait_exit(pt, WAIT_MS), 0);
	CHECK_INT(ptyterm_ncaptures(pt), 0);
	{
		int halves = 0;
		for (int r = 0; r < ROWS_; r++)
			for (int c = 0; c < COLS_; c++) {
				struct ptyterm_cell cell;
				if (ptyterm_cell(pt, r, c, &cell) == 0 && cell.ch == 0x2580)
					halves++;
			}
		CHECK(halves >= 40 * 10);
	}
	ptyterm_stop(pt);
}

/* Run sdq preview with stdout to a pipe; returns the exit status, output in buf. */
static int run_piped(const char *graphics, char *out, size_t outlen, char *errbuf, size_t errlen)
{
	int po[2], pe[2], st;
	pid_t pid;
	size_t no = 0, ne = 0;

	if (pipe(po) || pipe(pe))
		return -1;
	pid = fork();
	if (pid == 0) {
		int dn = open("/dev/null", O_RDONLY);
		dup2(dn, 0);
		dup2(po[1], 1);
		dup2(pe[1], 2);
		close(po[0]);
		close(pe[0]);
		setsid(); /* no controlling terminal */
		putenv(data_env);
		putenv(config_env);
		if (graphics)
			setenv("SDQ_GRAPHICS", graphics, 1);
		else
			unsetenv("SDQ_GRAPHICS");
		execl(sdq_bin, sdq_bin, "preview", "4", "-w", "10", (char *)NULL);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	for (;;) {
		struct pollfd p[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
		int open_fds = 0;
		if (poll(p, 2, WAIT_MS) <= 0)
			break;
		for (int k = 0; k < 2; k++) {
			char tmp[4096];
			ssize_t n;
			if (!(p[k].revents & (POLLIN | POLLHUP)))
				continue;
			n = read(p[k].fd, tmp, sizeof tmp);
			if (n <= 0) {
				p[k].fd = -1;
				continue;
			}
			if (k == 0 && no + (size_t)n < outlen) {
				memcpy(out + no, tmp, (size_t)n);
				no += (size_t)n;
			} else if (k == 1 && ne + (size_t)n < errlen) {
				memcpy(errbuf + ne, tmp, (size_t)n);
				ne += (size_t)n;
			}
			open_fds++;
		}
		if (!open_fds)
			break;
	}
	out[no] = 0;
	errbuf[ne] = 0;
	close(po[0]);
	close(pe[0]);
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* A fake terminal on the master side of a pty: waits for the DA1 query (or
 * 1.5 s), then writes reply in chunks of `split` bytes. Reports through its
 * exit status whether any query arrived (0 none, 1 some, 2 DA1 seen). */
static pid_t fake_term(int master, const char *reply, int split)
{
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	char buf[512];
	size_t got = 0;
	int seen = 0;

	for (int t = 0; t < 15; t++) {
		struct pollfd p = {master, POLLIN, 0};
		ssize_t n;

		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(master, buf + got, sizeof buf - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
		buf[got] = 0;
		seen = 1;
		if (strstr(buf, "\033[c")) {
			seen = 2;
			break;
		}
	}
	if (seen == 2 && reply) {
		size_t len = strlen(reply);

		for (size_t off = 0; off < len; off += (size_t)split) {
			size_t n = len - off < (size_t)split ? len - off : (size_t)split;

			if (write(master, reply + off, n) < 0)
				break;
			usleep(2000);
		}
	}
	_exit(seen);
}

static int probe(const char *reply, int split, int xpixel, const char *override,
                 struct term_info *ti)
{
	int master, slave, st;
	struct winsize ws = {24, 80, (unsigned short)(xpixel ? 80 * xpixel : 0),
	                     (unsigned short)(xpixel ? 24 * 2 * xpixel : 0)};
	pid_t pid;

	if (openpty(&master, &slave, NULL, NULL, &ws) != 0)
		return -1;
	pid = fake_term(master, reply, split);
	term_probe(slave, override, 1500, ti);
	/* nothing was sent (graphics forced): the fake terminal gives up by itself */
	waitpid(pid, &st, 0);
	close(master);
	close(slave);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_probe(void)
{
	struct term_info ti;
	/* everything a VT340-mode xterm with window ops answers, one byte at a time */
	const char *full = "\033[6;20;10t\033[?2;0;640;510S\033[?1;0;256S\033[?63;1;2;4;6;9;15;22c";

	unsetenv("SDQ_GRAPHICS");
	unsetenv("TMUX");
	unsetenv("STY");
	setenv("TERM", "xterm-256color", 1);
	setenv("COLORTERM", "truecolor", 1);
	CHECK_INT(probe(full, 1, 0, NULL, &ti), 2);
	CHECK_INT(ti.graphics, TERM_GFX_SIXEL);
	CHECK_INT(ti.sixel_in_da1, 1);
	CHECK_INT(ti.cell_w, 10); /* no pixels in the winsize: CSI 16 t's answer */
	CHECK_INT(ti.cell_h, 20);
	CHECK_INT(ti.sixel_max_w, 640);
	CHECK_INT(ti.sixel_max_h, 510);
	CHECK_INT(ti.color_registers, 256);
	CHECK_INT(ti.truecolor, 1);
	CHECK_INT(ti.in_multiplexer, 0);

	/* pixels in the winsize win over CSI 16 t; chunks of 5 bytes */
	CHECK_INT(probe(full, 5, 9, NULL, &ti), 2);
	CHECK_INT(ti.cell_w, 9);
	CHECK_INT(ti.cell_h, 18);

	/* typed keys before the replies; a DA1 without 4: blocks, default cell */
	unsetenv("COLORTERM");
	CHECK_INT(probe("jk\033[A\033[?64;1;2;6;9;15;16;17;18;21;22;28c", 3, 0, NULL, &ti), 2);
	CHECK_INT(ti.graphics, TERM_GFX_BLOCKS);
	CHECK_INT(ti.sixel_in_da1, 0);
	CHECK_INT(ti.cell_w, 8);
	CHECK_INT(ti.cell_h, 16);
	CHECK_INT(ti.truecolor, 0);
	/* "4" inside another number is not attribute 4 */
	CHECK_INT(probe("\033[?62;14;24;40c", 2, 0, NULL, &ti), 2);
	CHECK_INT(ti.sixel_in_da1, 0);

	/* tmux 3.3a answers ?1;2c itself: blocks, and it is a multiplexer */
	setenv("TMUX", "/tmp/tmux-0/default,1,0", 1);
	CHECK_INT(probe("\033[?1;2c", 1, 0, NULL, &ti), 2);
	CHECK_INT(ti.graphics, TERM_GFX_BLOCKS);
	CHECK_INT(ti.in_multiplexer, 1);
	unsetenv("TMUX");

	/* no answer at all: blocks after the timeout */
	CHECK_INT(probe(NULL, 1, 0, NULL, &ti), 2);
	CHECK_INT(ti.graphics, TERM_GFX_BLOCKS);

	/* forced to none or blocks: no query is sent, nothing is waited for */
	setenv("SDQ_GRAPHICS", "none", 1);
	CHECK_INT(probe(full, 1, 0, "sixel", &ti), 0);
	CHECK_INT(ti.graphics, TERM_GFX_NONE); /* the environment wins over the config */
	unsetenv("SDQ_GRAPHICS");
	CHECK_INT(probe(full, 1, 0, "blocks", &ti), 0);
	CHECK_INT(ti.graphics, TERM_GFX_BLOCKS);
	/* forced to sixel: asked anyway; a terminal that lists sixel is fine,
	 * one that does not (tmux 3.3a) gets sixel but is marked, so the pane
	 * can say why it may stay empty */
	CHECK_INT(probe(full, 1, 0, "sixel", &ti), 2);
	CHECK_INT(ti.graphics, TERM_GFX_SIXEL);
	CHECK_INT(ti.sixel_unlisted, 0);
	CHECK_INT(probe("\033[?1;2c", 1, 0, "sixel", &ti), 2);
	CHECK_INT(ti.graphics, TERM_GFX_SIXEL);
	CHECK_INT(ti.sixel_unlisted, 1);
	/* "auto" and junk values probe as usual */
	CHECK_INT(probe(full, 1, 0, "auto", &ti), 2);
	CHECK_INT(ti.graphics, TERM_GFX_SIXEL);

	/* not a tty: none, unless forced */
	int p[2];
	CHECK(pipe(p) == 0);
	term_probe(p[1], NULL, 200, &ti);
	CHECK_INT(ti.graphics, TERM_GFX_NONE);
	term_probe(p[1], "sixel", 200, &ti);
	CHECK_INT(ti.graphics, TERM_GFX_SIXEL);
	close(p[0]);
	close(p[1]);
}

static void test_cli_not_tty(void)
{
	static char out[1 << 20], err[4096];

	CHECK_INT(run_piped(NULL, out, sizeof out, err, sizeof err), 1);
	CHECK(strstr(err, "SDQ_GRAPHICS=sixel") != NULL);
	CHECK(out[0] == 0);
	CHECK_INT(run_piped("sixel", out, sizeof out, err, sizeof err), 0);
	CHECK(out[0] == 0x1b && out[1] == 'P');
}

/* Jobs added by another process grow the table at the top: beside the
 * image, curses shifts whole rows with a scroll region, which would move the
 * sixel pixels in xterm; so the image is blanked and sent again in place.
 * (With a short table the rows beside the image are blank and nothing is
 * re-sent; 30 jobs make the table reach them.) */
static void test_table_shift(void)
{
	char *argv[] = {(char *)sdq_bin, NULL};
	struct ptyterm *pt = start(argv, PTYTERM_DA1_SIXEL, NULL);
	char db[4400], *err = NULL;
	struct store *st;
	struct ptyterm_capture c0 = {0};

	if (!CHECK(pt != NULL))
		return;
	CHECK(wait_caps(pt, 1, WAIT_MS));
	snprintf(db, sizeof db, "%s/data/sdq/history.db", base);
	st = store_open(db, &err);
	CHECK(st != NULL);
	for (int i = 0; st && i < 30; i++)
		add_job(st, JOB_FAILED, NULL, NULL, 0, 0);
	CHECK(ptyterm_wait_for_text(pt, "34 FAILED", WAIT_MS));
	ptyterm_settle(pt, 800, 5000);
	CHECK(ptyterm_ncaptures(pt) >= 1);
	if (ptyterm_ncaptures(pt) >= 1)
		c0 = *ptyterm_capture(pt, ptyterm_ncaptures(pt) - 1);
	ptyterm_clear_captures(pt);
	if (st)
		CHECK(add_job(st, JOB_FAILED, NULL, NULL, 0, 0) == 0);
	store_close(st);
	free(err);
	CHECK(ptyterm_wait_for_text(pt, "35 FAILED", WAIT_MS));
	if (!CHECK(wait_caps(pt, 1, WAIT_MS))) {
		char *scr = ptyterm_screen(pt);
		fprintf(stderr, "%s\n", scr);
		free(scr);
	}
	if (ptyterm_ncaptures(pt) >= 1) {
		CHECK_INT(ptyterm_capture(pt, 0)->row, c0.row);
		CHECK_INT(ptyterm_capture(pt, 0)->col, c0.col);
		CHECK(check_cap(pt, 0, img_a, COLS_, ROWS_, NULL));
	}
	ptyterm_send(pt, "q");
	CHECK_INT(ptyterm_wait_exit(pt, WAIT_MS), 0);
	ptyterm_stop(pt);
}

/* SDQ_GRAPHICS=sixel in a terminal that does not list sixel (tmux 3.3a):
 * the image is sent as asked, and the pane says why it may not show. */
static void test_sixel_unlisted(void)
{
	char *argv[] = {(char *)sdq_bin, NULL};
	struct ptyterm *pt = start(argv, PTYTERM_DA1_PLAIN, "sixel");

	if (!CHECK(pt != NULL))
		return;
	if (!CHECK(ptyterm_wait_for_text(pt, "SDQ_GRAPHICS=sixel, but", WAIT_MS))) {
		char *scr = ptyterm_screen(pt);
		fprintf(stderr, "%s\n", scr ? scr : "");
		free(scr);
	}
	CHECK(wait_caps(pt, 1, WAIT_MS));
	ptyterm_send(pt, "q");
	CHECK_INT(ptyterm_wait_exit(pt, WAIT_MS), 0);
	ptyterm_stop(pt);
	/* a terminal that lists sixel: no such note */
	pt = start(argv, PTYTERM_DA1_SIXEL, "sixel");
	if (!CHECK(pt != NULL))
		return;
	CHECK(wait_caps(pt, 1, WAIT_MS));
	CHECK(!ptyterm_find(pt, "SDQ_GRAPHICS=sixel, but", NULL, NULL));
	ptyterm_send(pt, "q");
	CHECK_INT(ptyterm_wait_exit(pt, WAIT_MS), 0);
	ptyterm_stop(pt);
}

/* A saved image that is cut short: its error in the pane instead of an
 * image (no sixel), and sdq preview fails with the reason. */
static void test_broken_image(void)
{
	char *argv[] = {(char *)sdq_bin, NULL};
	char db[4400], bad[1][4300], *err = NULL;
	static const int wh[2] = {120, 90};
	struct ptyterm *pt;
	struct store *st;
	int64_t id = 0;

	snprintf(db, sizeof db, "%s/data/sdq/history.db", base);
	snprintf(bad[0], sizeof bad[0], "%s/data/sdq/images/bad.png", base);
	st = store_open(db, &err);
	if (!CHECK(st != NULL))
		return;
	CHECK(add_job(st, JOB_COMPLETED, bad, wh, 1, 40) == 0);
	id = store_job_find(st, "36", &err);
	store_close(st);
	free(err);
	CHECK_INT(id, 36);
	CHECK(truncate(bad[0], 60) == 0);

	pt = start(argv, PTYTERM_DA1_SIXEL, NULL);
	if (!CHECK(pt != NULL))
		return;
	ptyterm_send(pt, "g"); /* the newest job: the broken one */
	CHECK(ptyterm_wait_for_text(pt, "truncated", WAIT_MS));
	ptyterm_settle(pt, 500, 3000);
	CHECK_INT(ptyterm_ncaptures(pt), 0);
	ptyterm_send(pt, "q");
	CHECK_INT(ptyterm_wait_exit(pt, WAIT_MS), 0);
	ptyterm_stop(pt);

	char *argv2[] = {(char *)sdq_bin, "preview", "36", NULL};
	pt = start(argv2, PTYTERM_DA1_SIXEL, NULL);
	if (!CHECK(pt != NULL))
		return;
	CHECK_INT(ptyterm_wait_exit(pt, WAIT_MS), 1);
	CHECK(ptyterm_find(pt, "truncated", NULL, NULL));
	CHECK_INT(ptyterm_ncaptures(pt), 0);
	ptyterm_stop(pt);
}

/* A small image fills the pane (scaled up), so it reads as a picture, not a
 * stamp; its colours are still the picture's. */
static void test_small_image_scales_up(void)
{
	char *argv[] = {(char *)sdq_bin, NULL};
	char db[4400], small[1][4300], *err = NULL;
	static const int wh[2] = {48, 48};
	struct ptyterm *pt;
	struct store *st;
	struct th_decoded d;

	snprintf(db, sizeof db, "%s/data/sdq/history.db", base);
	snprintf(small[0], sizeof small[0], "%s/data/sdq/images/small.png", base);
	st = store_open(db, &err);
	if (!CHECK(st != NULL))
		return;
	CHECK(add_job(st, JOB_COMPLETED, small, wh, 1, 50) == 0);
	store_close(st);
	free(err);

	pt = start(argv, PTYTERM_DA1_SIXEL, NULL);
	if (!CHECK(pt != NULL))
		return;
	ptyterm_send(pt, "g"); /* the newest job: the small one */
	CHECK(wait_caps(pt, 1, WAIT_MS));
	ptyterm_settle(pt, 500, 3000);
	size_t n = ptyterm_ncaptures(pt);
	if (CHECK(n >= 1) && CHECK(check_cap(pt, n - 1, small[0], COLS_, ROWS_, &d))) {
		if (!CHECK(d.w >= 4 * 48 && d.h >= 4 * 48))
			fprintf(stderr, "  the 48x48 image was sent at %dx%d\n", d.w, d.h);
		free(d.rgb);
	}
	ptyterm_send(pt, "q");
	CHECK_INT(ptyterm_wait_exit(pt, WAIT_MS), 0);
	ptyterm_stop(pt);
}

int main(void)
{
	sdq_bin = getenv("SDQ_BIN");
	if (!sdq_bin)
		sdq_bin = "build/sdq";
	if (setup() != 0) {
		fprintf(stderr, "setup failed\n");
		th_failed++;
		return th_done("tui_preview");
	}
	TH_RUN(test_probe);
	TH_RUN(test_sixel_dashboard);
	TH_RUN(test_blocks_dashboard);
	TH_RUN(test_blocks_few_colors);
	TH_RUN(test_cli);
	TH_RUN(test_cli_files);
	TH_RUN(test_cli_not_tty);
	TH_RUN(test_sixel_unlisted);
	TH_RUN(test_table_shift); /* these two add jobs: last */
	TH_RUN(test_broken_image);
	TH_RUN(test_small_image_scales_up);
	return th_done("tui_preview");
}
