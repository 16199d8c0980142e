/*
 * th_sixel.h: what the image tests share: a smooth test picture (plasma) and
 * a captured sixel decoded back to RGB and compared with a source file.
 *
 * Header only (every test is a single .c file); everything is static inline.
 */
#ifndef SDQ_TH_SIXEL_H
#define SDQ_TH_SIXEL_H

#include <math.h>
#include <sixel/sixel.h>
#include <stdlib.h>
#include <string.h>

#include "image.h"

/* A w x h picture of smooth colour waves, different for each seed. */
static inline struct image *th_plasma(int w, int h, int seed)
{
	struct image *im = image_new(w, h);

	for (int y = 0; im && y < h; y++)
		for (int x = 0; x < w; x++) {
			double u = (double)x / w, v = (double)y / h;
			unsigned char *p = im->rgb + ((size_t)y * w + x) * 3;
			p[0] = (unsigned char)(127 + 120 * sin(u * 3 + seed));
			p[1] = (unsigned char)(127 + 120 * sin(v * 2.5 + seed * 0.7));
			p[2] = (unsigned char)(127 + 120 * cos((u + v) * 2 + seed * 1.3));
		}
	return im;
}

struct th_decoded {
	int w, h;
	unsigned char *rgb; /* malloc'd, w * h * 3 */
};

/* Decode a sixel DCS (len bytes) to RGB. 0 or -1. */
static inline int th_sixel_decode(const char *data, size_t len, struct th_decoded *d)
{
	unsigned char *px = NULL, *pal = NULL, *copy;
	int nc = 0;
	sixel_allocator_t *a = NULL;
	SIXELSTATUS st;

	memset(d, 0, sizeof *d);
	if (!data || len < 4 || !(copy = malloc(len)))
		return -1;
	memcpy(copy, data, len);
	sixel_allocator_new(&a, NULL, NULL, NULL, NULL);
	st = sixel_decode_raw(copy, (int)len, &px, &d->w, &d->h, &pal, &nc, a);
	free(copy);
	if (SIXEL_FAILED(st)) {
		sixel_allocator_unref(a);
		return -1;
	}
	d->rgb = malloc((size_t)d->w * d->h * 3);
	for (int i = 0; d->rgb && i < d->w * d->h; i++)
		memcpy(d->rgb + i * 3, pal + px[i] * 3, 3);
	sixel_allocator_free(a, px);
	sixel_allocator_free(a, pal);
	sixel_allocator_unref(a);
	return d->rgb ? 0 : -1;
}

/* Mean absolute error (0..255) between a decoded image and the file at path
 * scaled to the same size; 1e9 on failure. */
static inline double th_sixel_err_vs(const struct th_decoded *d, const char *path)
{
	struct image *src = image_load(path, NULL, 0, NULL), *sc;
	double e = 0;

	if (!src || !d->rgb)
		return 1e9;
	sc = image_scale(src, d->w, d->h);
	image_free(src);
	if (!sc)
		return 1e9;
	for (size_t i = 0; i < (size_t)d->w * d->h * 3; i++)
		e += abs(sc->rgb[i] - d->rgb[i]);
	image_free(sc);
	return e / ((double)d->w * d->h * 3);
}

#endif
