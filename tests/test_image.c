/*
 * test_image.c: decoding PNG (8/16-bit, alpha, palette, grey), BMP and GIF
 * through image_load; broken, truncated, empty, missing and oversized files;
 * aspect-preserving fit and the scaling filters.
 */
#include "th.h"

#include <png.h>
#include <math.h>
#include <stdint.h>

#include "image.h"

static char dir[4096];

static const char *tpath(const char *name)
{
	static char buf[4352];
	snprintf(buf, sizeof buf, "%s/%s", dir, name);
	return buf;
}

/* Write a PNG with the low-level API. rows: packed samples of the given
 * colour type and depth (16-bit samples big-endian). */
static int write_png(const char *path, int w, int h, int color_type, int depth,
                     const unsigned char *data, const png_color *pal, int npal,
                     const unsigned char *trans, int ntrans)
{
	FILE *f = fopen(path, "wb");
	png_structp p;
	png_infop info;
	int channels = color_type == PNG_COLOR_TYPE_RGB          ? 3
	               : color_type == PNG_COLOR_TYPE_RGBA       ? 4
	               : color_type == PNG_COLOR_TYPE_GRAY_ALPHA ? 2
	                                                         : 1;
	size_t rowbytes = (size_t)w * channels * (depth / 8);

	if (!f)
		return -1;
	p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	info = png_create_info_struct(p);
	if (setjmp(png_jmpbuf(p))) {
		png_destroy_write_struct(&p, &info);
		fclose(f);
		return -1;
	}
	png_init_io(p, f);
	png_set_IHDR(p, info, (png_uint_32)w, (png_uint_32)h, depth, color_type, PNG_INTERLACE_NONE,
	             PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	if (pal)
		png_set_PLTE(p, info, pal, npal);
	if (trans)
		png_set_tRNS(p, info, trans, ntrans, NULL);
	png_write_info(p, info);
	for (int y = 0; y < h; y++)
		png_write_row(p, data + rowbytes * y);
	png_write_end(p, info);
	png_destroy_write_struct(&p, &info);
	fclose(f);
	return 0;
}

static int px_eq(const struct image *im, int x, int y, int r, int g, int b, int tol)
{
	const unsigned char *p = im->rgb + ((size_t)y * im->w + x) * 3;
	return abs(p[0] - r) <= tol && abs(p[1] - g) <= tol && abs(p[2] - b) <= tol;
}

static void test_rgb8(void)
{
	unsigned char d[16 * 8 * 3];
	struct image *im;
	char *err = NULL;

	for (int y = 0; y < 8; y++)
		for (int x = 0; x < 16; x++) {
			d[(y * 16 + x) * 3] = (unsigned char)(x * 16);
			d[(y * 16 + x) * 3 + 1] = (unsigned char)(y * 32);
			d[(y * 16 + x) * 3 + 2] = (unsigned char)(255 - x * 8);
		}
	CHECK(write_png(tpath("rgb8.png"), 16, 8, PNG_COLOR_TYPE_RGB, 8, d, NULL, 0, NULL, 0) == 0);
	im = image_load(tpath("rgb8.png"), NULL, 0, &err);
	CHECK(im != NULL);
	if (im) {
		CHECK_INT(im->w, 16);
		CHECK_INT(im->h, 8);
		CHECK(memcmp(im->rgb, d, sizeof d) == 0);
	}
	CHECK(err == NULL);
	image_free(im);
}

static void test_rgb16(void)
{
	unsigned char d[4 * 2 * 6];
	static const int vals[8][3] = {{0, 0, 0},       {255, 255, 255}, {200, 10, 30},
	                               {7, 250, 128},   {64, 64, 64},    {1, 2, 3},
	                               {128, 129, 130}, {90, 180, 45}};
	struct image *im;
	char *err = NULL;

	for (int i = 0; i < 8; i++)
		for (int c = 0; c < 3; c++) {
			unsigned v = (unsigned)vals[i][c] * 257;
			d[i * 6 + c * 2] = (unsigned char)(v >> 8);
			d[i * 6 + c * 2 + 1] = (unsigned char)(v & 0xff);
		}
	CHECK(write_png(tpath("rgb16.png"), 4, 2, PNG_COLOR_TYPE_RGB, 16, d, NULL, 0, NULL, 0) ==
	      0);
	im = image_load(tpath("rgb16.png"), NULL, 0, &err);
	CHECK(im != NULL);
	if (im) {
		CHECK_INT(im->w, 4);
		CHECK_INT(im->h, 2);
		/* 16-bit samples come back as 8-bit; allow libpng's gamma rounding */
		for (int i = 0; i < 8; i++)
			CHECK(px_eq(im, i % 4, i / 4, vals[i][0], vals[i][1], vals[i][2], 3));
	}
	free(err);
	image_free(im);

	/* 16-bit RGBA: transparent -> background, opaque -> itself */
	unsigned char a16[2 * 8] = {0xff, 0xff, 0,    0,    0,    0,    0,    0,
	                            0x80, 0x80, 0x40, 0x40, 0x20, 0x20, 0xff, 0xff};
	const unsigned char bg[3] = {50, 60, 70};
	CHECK(write_png(tpath("rgba16.png"), 2, 1, PNG_COLOR_TYPE_RGBA, 16, a16, NULL, 0, NULL,
	                0) == 0);
	im = image_load(tpath("rgba16.png"), bg, 0, NULL);
	CHECK(im != NULL);
	if (im) {
		CHECK(px_eq(im, 0, 0, 50, 60, 70, 1));
		CHECK(px_eq(im, 1, 0, 0x80, 0x40, 0x20, 1));
	}
	image_free(im);
}

static void test_alpha(void)
{
	/* RGBA: transparent, opaque, half */
	unsigned char d[3 * 4] = {255, 0, 0, 0, 0, 255, 0, 255, 255, 255, 255, 128};
	const unsigned char bg[3] = {10, 20, 200};
	struct image *im;
	char *err = NULL;

	CHECK(write_png(tpath("rgba.png"), 3, 1, PNG_COLOR_TYPE_RGBA, 8, d, NULL, 0, NULL, 0) == 0);
	im = image_load(tpath("rgba.png"), bg, 0, &err);
	CHECK(im != NULL);
	if (im) {
		CHECK(px_eq(im, 0, 0, 10, 20, 200, 1)); /* fully transparent: the background */
		CHECK(px_eq(im, 1, 0, 0, 255, 0, 0));   /* opaque: itself */
		/* half: strictly between white and the background in every channel */
		const unsigned char *p = im->rgb + 6;
		CHECK(p[0] > 10 && p[0] < 255 && p[1] > 20 && p[1] < 255 && p[2] > 200);
	}
	free(err);
	image_free(im);

	/* grey + alpha, default background black */
	unsigned char ga[2 * 2] = {200, 255, 200, 0};
	CHECK(write_png(tpath("ga.png"), 2, 1, PNG_COLOR_TYPE_GRAY_ALPHA, 8, ga, NULL, 0, NULL,
	                0) == 0);
	im = image_load(tpath("ga.png"), NULL, 0, &err);
	CHECK(im != NULL);
	if (im) {
		CHECK(px_eq(im, 0, 0, 200, 200, 200, 0));
		CHECK(px_eq(im, 1, 0, 0, 0, 0, 0));
	}
	image_free(im);
}

static void test_palette(void)
{
	png_color pal[3] = {{255, 0, 0}, {0, 0, 255}, {12, 34, 56}};
	unsigned char trans[3] = {255, 255, 0}; /* index 2 transparent */
	unsigned char d[4] = {0, 1, 2, 1};
	const unsigned char bg[3] = {99, 98, 97};
	struct image *im;
	char *err = NULL;

	CHECK(write_png(tpath("pal.png"), 4, 1, PNG_COLOR_TYPE_PALETTE, 8, d, pal, 3, trans, 3) ==
	      0);
	im = image_load(tpath("pal.png"), bg, 0, &err);
	CHECK(im != NULL);
	if (im) {
		CHECK(px_eq(im, 0, 0, 255, 0, 0, 0));
		CHECK(px_eq(im, 1, 0, 0, 0, 255, 0));
		CHECK(px_eq(im, 2, 0, 99, 98, 97, 1));
		CHECK(px_eq(im, 3, 0, 0, 0, 255, 0));
	}
	free(err);
	image_free(im);
}

static void test_broken(void)
{
	unsigned char d[64 * 64 * 3];
	char *err = NULL;
	FILE *f;
	long len;

	for (size_t i = 0; i < sizeof d; i++)
		d[i] = (unsigned char)(i * 7 + i / 191);
	CHECK(write_png(tpath("full.png"), 64, 64, PNG_COLOR_TYPE_RGB, 8, d, NULL, 0, NULL, 0) ==
	      0);
	f = fopen(tpath("full.png"), "rb");
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fclose(f);
	CHECK(len > 200);
	CHECK(truncate(tpath("full.png"), len / 2) == 0);
	CHECK(image_load(tpath("full.png"), NULL, 0, &err) == NULL);
	CHECK(err != NULL && strstr(err, "full.png") != NULL);
	CHECK(err != NULL && strstr(err, "truncated") != NULL);
	free(err);
	err = NULL;

	/* header only */
	CHECK(truncate(tpath("full.png"), 20) == 0);
	CHECK(image_load(tpath("full.png"), NULL, 0, &err) == NULL);
	CHECK(err != NULL);
	free(err);
	err = NULL;

	f = fopen(tpath("junk.png"), "wb");
	fputs("this is not an image at all", f);
	fclose(f);
	CHECK(image_load(tpath("junk.png"), NULL, 0, &err) == NULL);
	CHECK(err != NULL && strstr(err, "not an image") != NULL);
	free(err);
	err = NULL;

	f = fopen(tpath("empty.png"), "wb");
	fclose(f);
	CHECK(image_load(tpath("empty.png"), NULL, 0, &err) == NULL);
	CHECK(err != NULL && strstr(err, "empty") != NULL);
	free(err);
	err = NULL;

	CHECK(image_load(tpath("missing.png"), NULL, 0, &err) == NULL);
	CHECK(err != NULL && strstr(err, "No such file") != NULL);
	free(err);
	err = NULL;

	f = fopen(tpath("x.webp"), "wb");
	fwrite("RIFF\x10\0\0\0WEBPVP8 ", 1, 16, f);
	fclose(f);
	CHECK(image_load(tpath("x.webp"), NULL, 0, &err) == NULL);
	CHECK(err != NULL && strstr(err, "WebP") != NULL);
	free(err);
	err = NULL;

	/* a PNG over the dimension cap is refused */
	CHECK(write_png(tpath("wide.png"), 64, 8, PNG_COLOR_TYPE_RGB, 8, d, NULL, 0, NULL, 0) == 0);
	CHECK(image_load(tpath("wide.png"), NULL, 32, &err) == NULL);
	CHECK(err != NULL && strstr(err, "too large") != NULL);
	free(err);
	err = NULL;
	struct image *im = image_load(tpath("wide.png"), NULL, 64, &err);
	CHECK(im != NULL);
	image_free(im);
	free(err);
}

static void test_gif_bmp(void)
{
	/* the classic 1x1 GIF: palette {red, black}, one pixel of index 0 */
	static const unsigned char gif[] = "GIF89a\x01\x00\x01\x00\x80\x00\x00\xff\x00\x00\x00\x00"
	                                   "\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02"
	                                   "D\x01\x00;";
	/* a 2x2 24-bit BMP, rows bottom-up, padded to 4 bytes */
	unsigned char bmp[54 + 16] = {'B', 'M'};
	struct image *im;
	char *err = NULL;
	FILE *f;

	f = fopen(tpath("one.gif"), "wb");
	fwrite(gif, 1, sizeof gif - 1, f);
	fclose(f);
	im = image_load(tpath("one.gif"), NULL, 0, &err);
	CHECK(im != NULL);
	if (im) {
		CHECK_INT(im->w, 1);
		CHECK_INT(im->h, 1);
		CHECK(px_eq(im, 0, 0, 255, 0, 0, 0));
	}
	image_free(im);
	free(err);
	err = NULL;

	bmp[2] = sizeof bmp;
	bmp[10] = 54;
	bmp[14] = 40;
	bmp[18] = 2;
	bmp[22] = 2;
	bmp[26] = 1;
	bmp[28] = 24;
	bmp[34] = 16;
	/* bottom row: blue, green (BGR); top row: red, white */
	unsigned char px[16] = {255, 0, 0, 0, 255, 0, 0, 0, 0, 0, 255, 255, 255, 255, 0, 0};
	memcpy(bmp + 54, px, 16);
	f = fopen(tpath("two.bmp"), "wb");
	fwrite(bmp, 1, sizeof bmp, f);
	fclose(f);
	im = image_load(tpath("two.bmp"), NULL, 0, &err);
	CHECK(im != NULL);
	if (im) {
		CHECK_INT(im->w, 2);
		CHECK_INT(im->h, 2);
		CHECK(px_eq(im, 0, 0, 255, 0, 0, 0));
		CHECK(px_eq(im, 1, 0, 255, 255, 255, 0));
		CHECK(px_eq(im, 0, 1, 0, 0, 255, 0));
		CHECK(px_eq(im, 1, 1, 0, 255, 0, 0));
	} else {
		fprintf(stderr, "  bmp: %s\n", err ? err : "?");
	}
	image_free(im);
	free(err);
	err = NULL;

	/* a BMP claiming 100000 px is refused before decoding */
	bmp[18] = 0xa0;
	bmp[19] = 0x86;
	bmp[20] = 0x01;
	f = fopen(tpath("huge.bmp"), "wb");
	fwrite(bmp, 1, sizeof bmp, f);
	fclose(f);
	CHECK(image_load(tpath("huge.bmp"), NULL, 0, &err) == NULL);
	CHECK(err != NULL && strstr(err, "too large") != NULL);
	free(err);
}

/* A 16x8 JPEG (left half red, right half blue), made with ImageMagick. */
static const unsigned char small_jpg[] = {
    0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01,
    0x00, 0x01, 0x00, 0x00, 0xff, 0xdb, 0x00, 0x43, 0x00, 0x02, 0x01, 0x01, 0x01, 0x01, 0x01, 0x02,
    0x01, 0x01, 0x01, 0x02, 0x02, 0x02, 0x02, 0x02, 0x04, 0x03, 0x02, 0x02, 0x02, 0x02, 0x05, 0x04,
    0x04, 0x03, 0x04, 0x06, 0x05, 0x06, 0x06, 0x06, 0x05, 0x06, 0x06, 0x06, 0x07, 0x09, 0x08, 0x06,
    0x07, 0x09, 0x07, 0x06, 0x06, 0x08, 0x0b, 0x08, 0x09, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x06, 0x08,
    0x0b, 0x0c, 0x0b, 0x0a, 0x0c, 0x09, 0x0a, 0x0a, 0x0a, 0xff, 0xdb, 0x00, 0x43, 0x01, 0x02, 0x02,
    0x02, 0x02, 0x02, 0x02, 0x05, 0x03, 0x03, 0x05, 0x0a, 0x07, 0x06, 0x07, 0x0a, 0x0a, 0x0a, 0x0a,
    0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a,
    0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a,
    0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0x0a, 0xff, 0xc0,
    0x00, 0x11, 0x08, 0x00, 0x08, 0x00, 0x10, 0x03, 0x01, 0x11, 0x00, 0x02, 0x11, 0x01, 0x03, 0x11,
    0x01, 0xff, 0xc4, 0x00, 0x14, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0xff, 0xc4, 0x00, 0x14, 0x10, 0x01, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xc4, 0x00,
    0x16, 0x01, 0x01, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x0a, 0x08, 0x09, 0xff, 0xc4, 0x00, 0x14, 0x11, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xda, 0x00, 0x0c, 0x03,
    0x01, 0x00, 0x02, 0x11, 0x03, 0x11, 0x00, 0x3f, 0x00, 0x17, 0xa5, 0x36, 0xfe, 0x08, 0x65, 0x50,
    0x35, 0xef, 0xff, 0xd9};

static void test_jpeg(void)
{
	struct image *im;
	char *err = NULL;
	FILE *f = fopen(tpath("small.jpg"), "wb");

	fwrite(small_jpg, 1, sizeof small_jpg, f);
	fclose(f);
	im = image_load(tpath("small.jpg"), NULL, 0, &err);
	CHECK(im != NULL);
	if (im) {
		CHECK_INT(im->w, 16);
		CHECK_INT(im->h, 8);
		CHECK(px_eq(im, 2, 4, 255, 0, 0, 24));
		CHECK(px_eq(im, 13, 4, 0, 0, 255, 24));
	} else {
		fprintf(stderr, "  jpeg: %s\n", err ? err : "?");
	}
	image_free(im);
	free(err);
	err = NULL;
	/* over the cap: refused from the frame header */
	CHECK(image_load(tpath("small.jpg"), NULL, 8, &err) == NULL);
	CHECK(err != NULL && strstr(err, "too large") != NULL);
	free(err);
	err = NULL;
	/* cut in the middle of the scan */
	CHECK(truncate(tpath("small.jpg"), sizeof small_jpg - 40) == 0);
	CHECK(image_load(tpath("small.jpg"), NULL, 0, &err) == NULL);
	CHECK(err != NULL && strstr(err, "truncated") != NULL);
	free(err);
	err = NULL;
	/* cut before its frame header */
	CHECK(truncate(tpath("small.jpg"), 30) == 0);
	CHECK(image_load(tpath("small.jpg"), NULL, 0, &err) == NULL);
	CHECK(err != NULL);
	free(err);
}

static void test_fit(void)
{
	int w, h;

	image_fit(1024, 512, 300, 300, 0, &w, &h);
	CHECK_INT(w, 300);
	CHECK_INT(h, 150);
	image_fit(512, 1024, 300, 300, 0, &w, &h);
	CHECK_INT(w, 150);
	CHECK_INT(h, 300);
	image_fit(100, 50, 300, 300, 0, &w, &h);
	CHECK_INT(w, 100);
	CHECK_INT(h, 50);
	image_fit(100, 50, 300, 300, 1, &w, &h);
	CHECK_INT(w, 300);
	CHECK_INT(h, 150);
	image_fit(1000, 1, 10, 10, 0, &w, &h);
	CHECK_INT(w, 10);
	CHECK_INT(h, 1); /* never 0 */
	image_fit(832, 1216, 640, 480, 0, &w, &h);
	CHECK(h == 480 && abs(w - 328) <= 1);
}

static void test_scale(void)
{
	struct image *src = image_new(4, 4), *d;
	double sum_s = 0, sum_d = 0;

	/* checkerboard of 0/255 shrunk to 1x1 and 2x2: the mean, no aliasing */
	for (int i = 0; i < 16; i++)
		memset(src->rgb + i * 3, ((i % 4) + (i / 4)) % 2 ? 255 : 0, 3);
	d = image_scale(src, 1, 1);
	CHECK(d && abs(d->rgb[0] - 128) <= 1);
	image_free(d);
	d = image_scale(src, 2, 2);
	CHECK(d != NULL);
	for (int i = 0; d && i < 12; i++)
		CHECK(abs(d->rgb[i] - 128) <= 1);
	image_free(d);
	image_free(src);

	/* a gradient keeps its mean when shrunk by a non-integer factor */
	src = image_new(301, 157);
	for (int y = 0; y < 157; y++)
		for (int x = 0; x < 301; x++) {
			unsigned char *p = src->rgb + ((size_t)y * 301 + x) * 3;
			p[0] = (unsigned char)(x * 255 / 300);
			p[1] = (unsigned char)(y * 255 / 156);
			p[2] = 77;
			sum_s += p[0] + p[1];
		}
	d = image_scale(src, 97, 50);
	CHECK(d && d->w == 97 && d->h == 50);
	for (int i = 0; d && i < 97 * 50; i++) {
		sum_d += d->rgb[i * 3] + d->rgb[i * 3 + 1];
		CHECK(d->rgb[i * 3 + 2] == 77);
	}
	if (d)
		CHECK(fabs(sum_s / (301 * 157) - sum_d / (97 * 50)) < 1.0);
	/* monotonic along x */
	for (int x = 1; d && x < 97; x++)
		CHECK(d->rgb[(10 * 97 + x) * 3] >= d->rgb[(10 * 97 + x - 1) * 3]);
	image_free(d);

	/* enlarging a constant image stays constant; corners keep their values */
	d = image_scale(src, 700, 400);
	CHECK(d && d->w == 700 && d->h == 400);
	if (d) {
		CHECK(d->rgb[2] == 77 && d->rgb[(700 * 400 - 1) * 3 + 2] == 77);
		CHECK(d->rgb[0] == 0);
		CHECK(d->rgb[(700 * 400 - 1) * 3] == 255);
	}
	image_free(d);
	image_free(src);
	CHECK(image_scale(NULL, 3, 3) == NULL);
	CHECK(image_new(0, 5) == NULL);
}

static void test_load_fit(void)
{
	unsigned char d[40 * 20 * 3];
	char *err = NULL;
	struct image *im;

	memset(d, 200, sizeof d);
	CHECK(write_png(tpath("fit.png"), 40, 20, PNG_COLOR_TYPE_RGB, 8, d, NULL, 0, NULL, 0) == 0);
	im = image_load_fit(tpath("fit.png"), NULL, 10, 10, 0, &err);
	CHECK(im && im->w == 10 && im->h == 5);
	CHECK(im && im->rgb[0] == 200);
	image_free(im);
	free(err);
}

/* A chunk that declares more bytes than the file holds is refused before
 * libpng sees it: fuzz_image found a 132-byte PNG whose tEXt chunk declares
 * 1 GB, and libpng asked for 1 GB before reading it (libpng's simplified API
 * has no png_set_chunk_malloc_max). */
static void test_chunk_claims(void)
{
	static const unsigned char png[] = {
	    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d,
	    0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x03,
	    0x08, 0x02, 0x00, 0x00, 0x00, 0x3b, 0x96, 0x39, 0x91, 0x40, 0x00, 0x00,
	    0x10, 0x74, 0x45, 0x58, 0x74, 0x70, 0x61, 0x72, 0x61, 0x6d, 0x65, 0x74,
	    0x65, 0x72, 0x73, 0x00, 0x61, 0x20, 0x63, 0x61, 0x74, 0xbd, 0xde, 0xf9,
	    0x20, 0x00, 0x00, 0x00, 0x2f, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63,
	    0x60, 0x60, 0x64, 0x52, 0x55, 0x53, 0xf7, 0xf2, 0xf6, 0xc9, 0x2f, 0x28,
	    0x64, 0xe0, 0xe6, 0xe1, 0x35, 0x30, 0x34, 0x0a, 0x0d, 0x0b, 0xaf, 0xaa,
	    0xae, 0x61, 0x10, 0x13, 0x97, 0xb0, 0xb6, 0xb1, 0x4d, 0x48, 0x4c, 0x6a,
	    0x6d, 0x6b, 0x07, 0x00, 0x98, 0x3d, 0x09, 0x7f, 0x45, 0x8e, 0x4d, 0x96,
	    0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
	};
	char *err = NULL;
	struct image *im = image_load_png_mem(png, sizeof png, NULL, 0, &err);
	CHECK(im == NULL);
	CHECK(err && strstr(err, "chunk tEXt declares 1073741840 bytes"));
	free(err);
	image_free(im);
}

int main(void)
{
	snprintf(dir, sizeof dir, "%s", th_tmpdir());
	TH_RUN(test_rgb8);
	TH_RUN(test_rgb16);
	TH_RUN(test_alpha);
	TH_RUN(test_palette);
	TH_RUN(test_broken);
	TH_RUN(test_chunk_claims);
	TH_RUN(test_gif_bmp);
	TH_RUN(test_jpeg);
	TH_RUN(test_fit);
	TH_RUN(test_scale);
	TH_RUN(test_load_fit);
	return th_done("test_image");
}
