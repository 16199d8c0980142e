/*
 * test_decoder.c: core/decoder (images made on a worker thread). Linked with
 * the decoder built with SDQ_TEST_HOOKS (Makefile: HOOK_OBJ), so
 * SDQ_TEST_DECODE_HOLD holds the worker before each decode for as long as a
 * test keeps its file. Checks: a sixel and a half-block image come back
 * through the fd and decode to the source; a broken file comes back as an
 * error naming it; an ask replaces what is not started (the selection moved
 * on), never the decode in progress, and asking again for what is running
 * or waiting to be taken does not queue it twice; freeing while a decode is
 * held returns. No timing assertions: waits are bounded conditions.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "th.h"
#include "decoder.h"
#include "image.h"
#include "sixelenc.h"
#include "th_png.h"
#include "th_sixel.h"

#define WAIT_MS 20000

static char dir[4096];

static void path_of(char *buf, size_t n, const char *name)
{
	snprintf(buf, n, "%s/%s", dir, name);
}

static int write_plasma(const char *path, int w, int h, int seed)
{
	struct image *im = th_plasma(w, h, seed);
	int rc = im ? th_png_write_file(path, w, h, im->rgb) : -1;

	image_free(im);
	return rc;
}

static struct decoder_req sixel_req(const char *path, int bw, int bh)
{
	struct decoder_req q;
	struct stat st;

	memset(&q, 0, sizeof q);
	q.kind = DECODER_SIXEL;
	q.path = path;
	if (stat(path, &st) == 0) {
		q.mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
		q.file_size = st.st_size;
	}
	q.box_w = bw;
	q.box_h = bh;
	q.ncolors = 256;
	q.diffuse = SIXELENC_DIFFUSE_NONE;
	return q;
}

/* Take results until n have come (appended to *all), or ms passed. */
static size_t wait_results(struct decoder *d, struct decoder_result **all, size_t n, int ms)
{
	size_t got = 0;
	struct decoder_result **tail = all;

	for (struct decoder_result *r = *all; r; r = r->next) {
		got++;
		tail = &r->next;
	}
	for (int waited = 0; got < n && waited < ms; waited += 50) {
		struct pollfd p = {decoder_fd(d), POLLIN, 0};
		struct decoder_result *r;

		if (poll(&p, 1, 50) <= 0)
			continue;
		*tail = r = decoder_take(d);
		for (; r; r = r->next) {
			got++;
			tail = &r->next;
		}
	}
	return got;
}

static int wait_state(struct decoder *d, const struct decoder_req *q, int want)
{
	for (int waited = 0; waited < WAIT_MS; waited += 10) {
		if (decoder_busy_with(d, q) == want)
			return 1;
		usleep(10000);
	}
	return 0;
}

static void test_sixel_and_blocks(void)
{
	char p[4200];
	struct decoder *d = decoder_new(NULL);
	struct decoder_result *all = NULL;
	struct decoder_req q[2];
	struct th_decoded dec;

	path_of(p, sizeof p, "a.png");
	if (!CHECK(d != NULL) || !CHECK(write_plasma(p, 300, 200, 7) == 0))
		return;
	q[0] = sixel_req(p, 160, 120);
	q[1] = q[0];
	q[1].kind = DECODER_HALFBLOCKS;
	q[1].cols = 20;
	q[1].rows = 10;
	q[1].cell_w = 8;
	q[1].cell_h = 16;
	CHECK(decoder_ask(d, q, 2) == 0);
	CHECK_INT(wait_results(d, &all, 2, WAIT_MS), 2);
	if (all && all->next) {
		struct decoder_result *s = all, *b = all->next;

		CHECK_INT(s->req.kind, DECODER_SIXEL);
		CHECK_STR(s->req.path, p);
		CHECK(s->err == NULL);
		CHECK(decoder_req_equal(&s->req, &q[0]));
		if (CHECK(s->sixel != NULL) &&
		    CHECK(th_sixel_decode((const char *)s->sixel, s->sixel_len, &dec) == 0)) {
			/* fitted into 160 x 120, never enlarged, height a multiple of 6 */
			CHECK(dec.w <= 160 && dec.h <= 120 && dec.h % 6 == 0);
			CHECK(dec.w >= 150 || dec.h >= 96);
			CHECK_INT(dec.w, s->w);
			CHECK(th_sixel_err_vs(&dec, p) < 10.0);
			free(dec.rgb);
		}
		CHECK_INT(b->req.kind, DECODER_HALFBLOCKS);
		CHECK(b->err == NULL);
		if (CHECK(b->im != NULL)) {
			/* 300x200 into 20 x 10 cells of 8x16: 20 columns, 2 pixels a row */
			CHECK_INT(b->im->w, 20);
			CHECK(b->im->h > 0 && b->im->h <= 20 && b->im->h % 2 == 0);
		}
	}
	decoder_result_free(all);
	decoder_free(d);
}

static void test_broken_file(void)
{
	char p[4200];
	struct decoder *d = decoder_new(NULL);
	struct decoder_result *all = NULL;
	struct decoder_req q;

	path_of(p, sizeof p, "cut.png");
	if (!CHECK(d != NULL) || !CHECK(write_plasma(p, 64, 64, 3) == 0) ||
	    !CHECK(truncate(p, 60) == 0))
		return;
	q = sixel_req(p, 100, 100);
	CHECK(decoder_ask(d, &q, 1) == 0);
	CHECK_INT(wait_results(d, &all, 1, WAIT_MS), 1);
	if (all) {
		CHECK(all->sixel == NULL && all->im == NULL);
		if (CHECK(all->err != NULL))
			CHECK(strstr(all->err, "cut.png") != NULL);
	}
	decoder_result_free(all);
	decoder_free(d);
}

/* The selection moves on while a decode is held: what was asked and not
 * started is dropped, the one in progress comes back. */
static void test_stale_dropped(void)
{
	char hold[4200], pa[4200], pb[4200], pc[4200], pd[4200];
	struct decoder *d;
	struct decoder_result *all = NULL;
	struct decoder_req a, b, c, dd, bc[2];
	FILE *f;
	int seen_a = 0, seen_d = 0, others = 0;

	path_of(hold, sizeof hold, "hold");
	path_of(pa, sizeof pa, "sa.png");
	path_of(pb, sizeof pb, "sb.png");
	path_of(pc, sizeof pc, "sc.png");
	path_of(pd, sizeof pd, "sd.png");
	CHECK(write_plasma(pa, 80, 60, 1) == 0 && write_plasma(pb, 80, 60, 2) == 0 &&
	      write_plasma(pc, 80, 60, 3) == 0 && write_plasma(pd, 80, 60, 4) == 0);
	f = fopen(hold, "w");
	if (!CHECK(f != NULL))
		return;
	fclose(f);
	setenv("SDQ_TEST_DECODE_HOLD", hold, 1);
	d = decoder_new(NULL);
	unsetenv("SDQ_TEST_DECODE_HOLD");
	if (!CHECK(d != NULL))
		return;
	a = sixel_req(pa, 60, 60);
	b = sixel_req(pb, 60, 60);
	c = sixel_req(pc, 60, 60);
	dd = sixel_req(pd, 60, 60);
	CHECK(decoder_ask(d, &a, 1) == 0);
	CHECK(wait_state(d, &a, 2)); /* taken by the worker, held */
	bc[0] = b;
	bc[1] = c;
	CHECK(decoder_ask(d, bc, 2) == 0);
	CHECK_INT(decoder_busy_with(d, &b), 1);
	CHECK_INT(decoder_busy_with(d, &c), 1);
	CHECK_INT(decoder_busy_with(d, &a), 2);
	/* the selection moves on to D (and back over A, which is running) */
	bc[0] = a;
	bc[1] = dd;
	CHECK(decoder_ask(d, bc, 2) == 0);
	CHECK_INT(decoder_busy_with(d, &b), 0);
	CHECK_INT(decoder_busy_with(d, &c), 0);
	CHECK_INT(decoder_busy_with(d, &dd), 1);
	CHECK_INT(decoder_busy_with(d, &a), 2);
	CHECK(decoder_take(d) == NULL); /* nothing done while held */
	unlink(hold);
	CHECK_INT(wait_results(d, &all, 2, WAIT_MS), 2);
	/* and nothing more comes: B and C were never decoded */
	CHECK(wait_state(d, &dd, 0));
	wait_results(d, &all, 3, 200);
	for (struct decoder_result *r = all; r; r = r->next) {
		CHECK(r->err == NULL);
		if (decoder_req_equal(&r->req, &a))
			seen_a++;
		else if (decoder_req_equal(&r->req, &dd))
			seen_d++;
		else
			others++;
	}
	CHECK_INT(seen_a, 1);
	CHECK_INT(seen_d, 1);
	CHECK_INT(others, 0);
	decoder_result_free(all);
	decoder_free(d);
}

/* Quitting while a decode is held does not wait for the hold. */
static void test_free_while_held(void)
{
	char hold[4200], pa[4200];
	struct decoder *d;
	struct decoder_req a;
	FILE *f;

	path_of(hold, sizeof hold, "hold2");
	path_of(pa, sizeof pa, "fa.png");
	CHECK(write_plasma(pa, 40, 40, 9) == 0);
	f = fopen(hold, "w");
	if (!CHECK(f != NULL))
		return;
	fclose(f);
	setenv("SDQ_TEST_DECODE_HOLD", hold, 1);
	d = decoder_new(NULL);
	unsetenv("SDQ_TEST_DECODE_HOLD");
	if (!CHECK(d != NULL))
		return;
	a = sixel_req(pa, 40, 40);
	CHECK(decoder_ask(d, &a, 1) == 0);
	CHECK(wait_state(d, &a, 2));
	decoder_free(d); /* returns: the hold gives way to quit */
	CHECK(access(hold, F_OK) == 0);
	unlink(hold);
}

int main(void)
{
	snprintf(dir, sizeof dir, "%s", th_tmpdir());
	TH_RUN(test_sixel_and_blocks);
	TH_RUN(test_broken_file);
	TH_RUN(test_stale_dropped);
	TH_RUN(test_free_while_held);
	return th_done("test_decoder");
}
