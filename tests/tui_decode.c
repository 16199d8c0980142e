/*
 * tui_decode.c: the dashboard stays live while an image decodes (issue 11).
 * Runs build/tests/sdq-hooks (sdq with SDQ_TEST_HOOKS, Makefile), whose
 * decoder waits before each decode while the file SDQ_TEST_DECODE_HOLD
 * exists, under a pty with a sixel terminal (ptyterm.h).
 *
 * The store holds one finished job with an image. With the decode held:
 * the pane says "decoding..." and no sixel is sent; keys are answered (the
 * filter popup opens and closes, compose takes a new job); that new local
 * job (tests/fake-sd-cli) is driven by this dashboard to COMPLETED. Once the
 * hold file goes, the image is sent and decodes to the source, and the
 * placeholder is gone. The same with half blocks (no sixel in DA1). No
 * timing assertions: every wait is a bounded condition.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "th.h"
#include "ptyterm.h"
#include "image.h"
#include "job.h"
#include "store.h"
#include "th_png.h"
#include "th_sixel.h"

#define WAIT_MS 20000
#define COLS_ 120
#define ROWS_ 36

static char sdq_hooks[4200];
static char base[4096], data_env[4200], config_env[4200], home_env[4200], sdqcfg_env[4500],
    hold_env[4300], hold[4200], img[4300];

static int setup(void)
{
	char db[4400], d[4400], cfg[4400], model[4400];
	const char *tests = getenv("SDQ_TESTS_DIR");
	struct store *st;
	struct job *j;
	struct job_output o = {0};
	struct image *im;
	char *err = NULL;
	FILE *f;
	int rc;

	snprintf(base, sizeof base, "%s", th_tmpdir());
	snprintf(data_env, sizeof data_env, "XDG_DATA_HOME=%s/data", base);
	snprintf(config_env, sizeof config_env, "XDG_CONFIG_HOME=%s/config", base);
	snprintf(home_env, sizeof home_env, "HOME=%s", base);
	snprintf(hold, sizeof hold, "%s/hold", base);
	snprintf(hold_env, sizeof hold_env, "SDQ_TEST_DECODE_HOLD=%s", hold);
	const char *sub[] = {"data", "data/sdq", "data/sdq/images", "config"};
	for (size_t i = 0; i < 4; i++) {
		snprintf(d, sizeof d, "%s/%s", base, sub[i]);
		mkdir(d, 0700);
	}
	snprintf(model, sizeof model, "%s/model.safetensors", base);
	if (th_write_model(model) != 0)
		return -1;
	snprintf(cfg, sizeof cfg, "%s/sdq.conf", base);
	f = fopen(cfg, "w");
	if (!f)
		return -1;
	fprintf(f,
	        "[core]\n\tbackground_driver = false\n[local \"gpu\"]\n\texe = %s/fake-sd-cli\n"
	        "\tmodel = %s\n",
	        tests && *tests ? tests : "tests", model);
	fclose(f);
	snprintf(sdqcfg_env, sizeof sdqcfg_env, "SDQ_CONFIG=%s", cfg);

	snprintf(img, sizeof img, "%s/data/sdq/images/1-0.png", base);
	im = th_plasma(400, 300, 11);
	if (!im || th_png_write_file(img, im->w, im->h, im->rgb) != 0)
		return -1;
	image_free(im);
	snprintf(db, sizeof db, "%s/data/sdq/history.db", base);
	st = store_open(db, &err);
	if (!st) {
		fprintf(stderr, "store_open: %s\n", err);
		free(err);
		return -1;
	}
	j = job_new();
	job_set_str(&j->params.prompt, "a held image");
	job_set_str(&j->backend, "local");
	job_set_str(&j->endpoint, "gpu");
	j->state = JOB_PENDING;
	rc = store_job_add(st, j, &err);
	if (rc == 0) {
		j->state = JOB_COMPLETED;
		o.path = img;
		o.width = 400;
		o.height = 300;
		o.seed = 1;
		o.format = "png";
		o.bytes = 1;
		job_add_output(j, &o);
		rc = store_job_save(st, j, &err);
	}
	if (rc)
		fprintf(stderr, "store: %s\n", err);
	free(err);
	job_free(j);
	store_close(st);
	return rc;
}

static struct ptyterm *start(const char *da1)
{
	char *argv[] = {sdq_hooks, NULL};
	char *env[] = {data_env,     config_env,     home_env,       sdqcfg_env, hold_env,
	               "SDQ_GRAPHICS", "SDQ_ENDPOINT", "RUNPOD_API_KEY", "NO_COLOR", "LANG=C.UTF-8",
	               "LC_ALL=C.UTF-8", NULL};
	struct ptyterm_opts o = {da1, 8, 17, 0};

	return ptyterm_start(argv, env, COLS_, ROWS_, &o);
}

static int make_hold(void)
{
	int fd = open(hold, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static int count_text(struct ptyterm *pt, const char *s)
{
	char *scr = ptyterm_screen(pt);
	int n = 0;

	for (const char *p = scr; p && (p = strstr(p, s)); p += strlen(s))
		n++;
	free(scr);
	return n;
}

/* Keys are answered and a job runs to the end while the decode is held. */
static void live_while_held(struct ptyterm *pt)
{
	int waited;

	/* a popup opens and closes */
	ptyterm_send(pt, "f");
	CHECK(ptyterm_wait_for_text(pt, "Filter by state", WAIT_MS));
	ptyterm_key(pt, "Esc");
	CHECK(ptyterm_wait_for_text_gone(pt, "Filter by state", WAIT_MS));
	/* a new local job, driven by this dashboard, to the end */
	ptyterm_send(pt, "n");
	CHECK(ptyterm_wait_for_text(pt, "New job", WAIT_MS));
	ptyterm_send(pt, "a second job");
	ptyterm_key(pt, "C-s");
	CHECK(ptyterm_wait_for_text_gone(pt, "New job", WAIT_MS));
	for (waited = 0; waited < WAIT_MS && count_text(pt, "COMPLETED") < 2; waited += 100)
		ptyterm_pump(pt, 100);
	if (!CHECK(count_text(pt, "COMPLETED") >= 2)) {
		char *scr = ptyterm_screen(pt);

		fprintf(stderr, "--- screen ---\n%s\n---\n", scr ? scr : "");
		free(scr);
	}
	CHECK(access(hold, F_OK) == 0); /* still held all along */
	/* back to the held job (the oldest) */
	ptyterm_send(pt, "G");
	CHECK(ptyterm_wait_for_text(pt, "Job 1 ", WAIT_MS));
}

static void test_sixel_held(void)
{
	struct ptyterm *pt;
	const struct ptyterm_capture *c;
	struct th_decoded d;
	size_t n;

	if (!CHECK(make_hold() == 0))
		return;
	pt = start(PTYTERM_DA1_SIXEL);
	if (!CHECK(pt != NULL))
		return;
	CHECK(ptyterm_wait_for_text(pt, "a held image", WAIT_MS));
	CHECK(ptyterm_wait_for_text(pt, "decoding...", WAIT_MS));
	live_while_held(pt);
	CHECK(ptyterm_wait_for_text(pt, "decoding...", WAIT_MS));
	CHECK_INT(ptyterm_ncaptures(pt), 0); /* nothing could be decoded */

	unlink(hold);
	for (int waited = 0; waited < WAIT_MS && ptyterm_ncaptures(pt) == 0; waited += 50)
		ptyterm_pump(pt, 50);
	ptyterm_settle(pt, 300, 3000);
	n = ptyterm_ncaptures(pt);
	CHECK(n >= 1);
	c = n ? ptyterm_capture(pt, n - 1) : NULL;
	if (CHECK(c != NULL) && CHECK(th_sixel_decode(c->data, c->len, &d) == 0)) {
		double e = th_sixel_err_vs(&d, img);

		if (!CHECK(e < 10.0))
			fprintf(stderr, "  the image sent differs from %s: mean error %.2f\n", img, e);
		CHECK(d.w > d.h); /* 400x300 */
		free(d.rgb);
	}
	CHECK(!ptyterm_find(pt, "decoding...", NULL, NULL));
	ptyterm_send(pt, "q");
	CHECK_INT(ptyterm_wait_exit(pt, WAIT_MS), 0);
	CHECK(ptyterm_tty_sane(pt));
	ptyterm_stop(pt);
}

static int half_blocks(struct ptyterm *pt)
{
	int n = 0;

	for (int r = 0; r < ROWS_; r++)
		for (int c = 0; c < COLS_; c++) {
			struct ptyterm_cell cell;

			if (ptyterm_cell(pt, r, c, &cell) == 0 && cell.ch == 0x2580)
				n++;
		}
	return n;
}

static void test_blocks_held(void)
{
	struct ptyterm *pt;

	if (!CHECK(make_hold() == 0))
		return;
	pt = start(PTYTERM_DA1_PLAIN);
	if (!CHECK(pt != NULL))
		return;
	CHECK(ptyterm_wait_for_text(pt, "a held image", WAIT_MS));
	ptyterm_send(pt, "G"); /* from #2, the newest, to #1 */
	CHECK(ptyterm_wait_for_text(pt, "Job 1 ", WAIT_MS));
	CHECK(ptyterm_wait_for_text(pt, "decoding...", WAIT_MS));
	ptyterm_send(pt, "f");
	CHECK(ptyterm_wait_for_text(pt, "Filter by state", WAIT_MS));
	ptyterm_key(pt, "Esc");
	CHECK(ptyterm_wait_for_text_gone(pt, "Filter by state", WAIT_MS));
	CHECK(ptyterm_wait_for_text(pt, "decoding...", WAIT_MS));
	CHECK_INT(half_blocks(pt), 0);
	unlink(hold);
	for (int waited = 0; waited < WAIT_MS && half_blocks(pt) < 50; waited += 50)
		ptyterm_pump(pt, 50);
	ptyterm_settle(pt, 300, 3000); /* the rest of that frame */
	CHECK(half_blocks(pt) >= 50);
	if (!CHECK(!ptyterm_find(pt, "decoding...", NULL, NULL))) {
		char *scr = ptyterm_screen(pt);

		fprintf(stderr, "--- screen ---\n%s\n---\n", scr ? scr : "");
		free(scr);
	}
	CHECK_INT(ptyterm_ncaptures(pt), 0);
	ptyterm_send(pt, "q");
	CHECK_INT(ptyterm_wait_exit(pt, WAIT_MS), 0);
	ptyterm_stop(pt);
}

int main(void)
{
	const char *bin = getenv("SDQ_BIN");
	const char *slash;

	/* sdq-hooks sits in BUILD/tests next to this program's sdq in BUILD */
	if (!bin)
		bin = "build/sdq";
	slash = strrchr(bin, '/');
	snprintf(sdq_hooks, sizeof sdq_hooks, "%.*stests/sdq-hooks",
	         slash ? (int)(slash - bin + 1) : 0, bin);
	if (access(sdq_hooks, X_OK) != 0) {
		fprintf(stderr, "no %s (make tests builds it)\n", sdq_hooks);
		th_failed++;
		return th_done("tui_decode");
	}
	if (setup() != 0) {
		fprintf(stderr, "setup failed\n");
		th_failed++;
		return th_done("tui_decode");
	}
	TH_RUN(test_sixel_held);
	TH_RUN(test_blocks_held);
	unlink(hold);
	return th_done("tui_decode");
}
