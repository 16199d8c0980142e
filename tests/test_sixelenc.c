/*
 * test_sixelenc.c: encode images to sixel and decode them back with libsixel's
 * decoder (size and colours must match the source), and the LRU cache (a hit
 * returns the same bytes without encoding again; file changes, other sizes
 * and palettes miss; the byte budget holds).
 */
#include "th.h"

#include <png.h>
#include <sixel/sixel.h>
#include <fcntl.h>
#include <time.h>

#include "sixelenc.h"
#include "th_png.h"

static char dir[4096];

/* A smooth, photo-like test image. */
static struct image *photo(int w, int h)
{
	struct image *im = image_new(w, h);

	for (int y = 0; im && y < h; y++)
		for (int x = 0; x < w; x++) {
			unsigned char *p = im->rgb + ((size_t)y * w + x) * 3;
			p[0] = (unsigned char)(x * 255 / (w - 1));
			p[1] = (unsigned char)(y * 255 / (h - 1));
			p[2] = (unsigned char)((p[0] + p[1]) / 3 + 40);
		}
	return im;
}

/* Decode sixel bytes to RGB888 (malloc'd); 0 or -1. */
static int decode(const unsigned char *s, size_t len, unsigned char **rgb, int *w, int *h,
                  int *ncolors)
{
	unsigned char *px = NULL, *pal = NULL, *copy = malloc(len);
	int nc = 0;
	SIXELSTATUS st;
	sixel_allocator_t *a = NULL;

	if (!copy)
		return -1;
	memcpy(copy, s, len);
	sixel_allocator_new(&a, NULL, NULL, NULL, NULL);
	st = sixel_decode_raw(copy, (int)len, &px, w, h, &pal, &nc, a);
	free(copy);
	if (SIXEL_FAILED(st)) {
		sixel_allocator_unref(a);
		return -1;
	}
	*rgb = malloc((size_t)*w * *h * 3);
	for (int i = 0; *rgb && i < *w * *h; i++)
		memcpy(*rgb + i * 3, pal + px[i] * 3, 3);
	*ncolors = nc;
	sixel_allocator_free(a, px);
	sixel_allocator_free(a, pal);
	sixel_allocator_unref(a);
	return *rgb ? 0 : -1;
}

static double mean_err(const unsigned char *a, const unsigned char *b, int w, int h)
{
	double s = 0;

	for (size_t i = 0; i < (size_t)w * h * 3; i++)
		s += abs(a[i] - b[i]);
	return s / ((double)w * h * 3);
}

static void test_roundtrip(void)
{
	struct image *im = photo(96, 60), *orig = photo(96, 60);
	unsigned char *buf = NULL, *rgb = NULL;
	size_t len = 0;
	char *err = NULL;
	int w = 0, h = 0, nc = 0;

	CHECK(sixelenc_image(im, 256, SIXELENC_DIFFUSE_NONE, &buf, &len, &err) == 0);
	CHECK(err == NULL);
	CHECK(len > 100);
	/* a complete DCS: ESC P ... q ... ESC \ */
	CHECK(buf && buf[0] == 0x1b && buf[1] == 'P');
	CHECK(buf && memchr(buf, 'q', 16) != NULL);
	CHECK(buf && buf[len - 2] == 0x1b && buf[len - 1] == '\\');
	/* the input is not touched (libsixel dithers in place) */
	CHECK(memcmp(im->rgb, orig->rgb, 96 * 60 * 3) == 0);
	CHECK(decode(buf, len, &rgb, &w, &h, &nc) == 0);
	CHECK_INT(w, 96);
	CHECK_INT(h, 60);
	CHECK(nc <= 256);
	if (rgb && w == 96 && h == 60) {
		double e = mean_err(rgb, orig->rgb, w, h);
		if (!CHECK(e < 5.0))
			fprintf(stderr, "  mean error %.2f\n", e);
	}
	free(rgb);
	free(buf);

	/* 16 colours: still close, and the palette is that small */
	rgb = NULL;
	CHECK(sixelenc_image(im, 16, SIXELENC_DIFFUSE_FS, &buf, &len, &err) == 0);
	CHECK(decode(buf, len, &rgb, &w, &h, &nc) == 0);
	CHECK(nc <= 16);
	if (rgb && w == 96 && h == 60) {
		double e = mean_err(rgb, orig->rgb, w, h);
		if (!CHECK(e < 20.0))
			fprintf(stderr, "  mean error %.2f\n", e);
	}
	free(rgb);
	free(buf);

	CHECK(sixelenc_image(NULL, 16, SIXELENC_DIFFUSE_NONE, &buf, &len, &err) == -1);
	CHECK(err != NULL);
	free(err);
	image_free(im);
	image_free(orig);
}

static void test_cache(void)
{
	char path[4200], path2[4200];
	struct image *im = photo(200, 120);
	struct sixelenc_cache *c = sixelenc_cache_new(0);
	struct sixelenc_entry e;
	unsigned char *first;
	size_t flen;
	unsigned long hits, enc;
	char *err = NULL;
	struct timespec ts[2];

	snprintf(path, sizeof path, "%s/a.png", dir);
	snprintf(path2, sizeof path2, "%s/b.png", dir);
	CHECK(th_png_write_file(path, im->w, im->h, im->rgb) == 0);
	CHECK(th_png_write_file(path2, im->w, im->h, im->rgb) == 0);

	CHECK(sixelenc_cache_render(c, path, 100, 100, 0, 64, SIXELENC_DIFFUSE_NONE, NULL, &e,
	                            &err) == 0);
	CHECK(err == NULL);
	/* fitted into 100x100 keeping 5:3, height a multiple of 6 */
	CHECK_INT(e.w, 100);
	CHECK_INT(e.h, 60);
	first = malloc(e.len);
	memcpy(first, e.data, e.len);
	flen = e.len;
	sixelenc_cache_stats(c, &hits, &enc, NULL, NULL);
	CHECK_INT(enc, 1);
	CHECK_INT(hits, 0);

	/* a hit: identical bytes, no new encoding */
	CHECK(sixelenc_cache_render(c, path, 100, 100, 0, 64, SIXELENC_DIFFUSE_NONE, NULL, &e,
	                            &err) == 0);
	CHECK(e.len == flen && memcmp(e.data, first, flen) == 0);
	sixelenc_cache_stats(c, &hits, &enc, NULL, NULL);
	CHECK_INT(enc, 1);
	CHECK_INT(hits, 1);

	/* another box, palette or file: misses */
	CHECK(sixelenc_cache_render(c, path, 50, 50, 0, 64, SIXELENC_DIFFUSE_NONE, NULL, &e,
	                            &err) == 0);
	CHECK(e.w == 50 && e.h == 30);
	CHECK(sixelenc_cache_render(c, path, 100, 100, 0, 16, SIXELENC_DIFFUSE_NONE, NULL, &e,
	                            &err) == 0);
	CHECK(sixelenc_cache_render(c, path2, 100, 100, 0, 64, SIXELENC_DIFFUSE_NONE, NULL, &e,
	                            &err) == 0);
	CHECK(sixelenc_cache_render(c, path2, 100, 100, 0, 64, SIXELENC_DIFFUSE_ATKINSON, NULL, &e,
	                            &err) == 0);
	sixelenc_cache_stats(c, &hits, &enc, NULL, NULL);
	CHECK_INT(enc, 5);

	/* the file changes (new mtime): encoded again */
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec += 5;
	ts[1] = ts[0];
	CHECK(utimensat(AT_FDCWD, path, ts, 0) == 0);
	CHECK(sixelenc_cache_render(c, path, 100, 100, 0, 64, SIXELENC_DIFFUSE_NONE, NULL, &e,
	                            &err) == 0);
	sixelenc_cache_stats(c, &hits, &enc, NULL, NULL);
	CHECK_INT(enc, 6);

	/* a height that is not a multiple of 6 is rounded down; a small box too */
	CHECK(sixelenc_cache_render(c, path, 200, 100, 0, 64, SIXELENC_DIFFUSE_NONE, NULL, &e,
	                            &err) == 0);
	CHECK(e.h % 6 == 0 && e.h <= 100 && e.w <= 200);
	/* no upscale unless asked */
	CHECK(sixelenc_cache_render(c, path, 400, 400, 0, 64, SIXELENC_DIFFUSE_NONE, NULL, &e,
	                            &err) == 0);
	CHECK(e.w == 200 && e.h == 120);
	CHECK(sixelenc_cache_render(c, path, 400, 400, 1, 64, SIXELENC_DIFFUSE_NONE, NULL, &e,
	                            &err) == 0);
	CHECK(e.w == 400 && e.h == 240);

	/* errors */
	CHECK(sixelenc_cache_render(c, "/nonexistent/x.png", 100, 100, 0, 64, SIXELENC_DIFFUSE_NONE,
	                            NULL, &e, &err) == -1);
	CHECK(err != NULL);
	free(err);
	err = NULL;
	sixelenc_cache_free(c);
	free(first);
	image_free(im);
}

static void test_budget(void)
{
	struct sixelenc_cache *c = sixelenc_cache_new(1000);
	struct sixelenc_key k = {"p", 1, 2, 10, 10, 64, 0, 0};
	struct sixelenc_entry e;
	unsigned char data[400];
	size_t bytes, entries;

	memset(data, 'x', sizeof data);
	CHECK(sixelenc_cache_put(c, &k, data, 400, 1, 1) == 0);
	k.box_w = 11;
	CHECK(sixelenc_cache_put(c, &k, data, 400, 2, 2) == 0);
	k.box_w = 10;
	CHECK(sixelenc_cache_get(c, &k, &e) == 1); /* now the most recent */
	k.box_w = 12;
	CHECK(sixelenc_cache_put(c, &k, data, 400, 3, 3) == 0);
	sixelenc_cache_stats(c, NULL, NULL, &bytes, &entries);
	CHECK(bytes <= 1000);
	CHECK_INT(entries, 2);
	k.box_w = 11; /* the least recently used went */
	CHECK(sixelenc_cache_get(c, &k, &e) == 0);
	k.box_w = 10;
	CHECK(sixelenc_cache_get(c, &k, &e) == 1 && e.w == 1);
	/* bigger than the whole budget: not kept */
	k.box_w = 13;
	CHECK(sixelenc_cache_put(c, &k, data, 2000 > sizeof data ? sizeof data : 2000, 1, 1) == 0);
	sixelenc_cache_free(c);
	c = sixelenc_cache_new(100);
	CHECK(sixelenc_cache_put(c, &k, data, 400, 1, 1) == 1);
	CHECK(sixelenc_cache_get(c, &k, &e) == 0);
	sixelenc_cache_free(c);
	sixelenc_cache_free(NULL);
}

int main(void)
{
	snprintf(dir, sizeof dir, "%s", th_tmpdir());
	TH_RUN(test_roundtrip);
	TH_RUN(test_cache);
	TH_RUN(test_budget);
	return th_done("test_sixelenc");
}
