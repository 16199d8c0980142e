/*
 * fuzz_image.c: decoding image bytes (image_load_png_mem, and image_load
 * on a file for the formats that go through libsixel), then fitting and
 * scaling what was decoded.
 *
 * A PNG is tried as sent and with every chunk's CRC recomputed (so that
 * mutations reach libpng's decoding, not just its CRC check). Other bytes
 * are written to a file in a private temp dir and loaded from there. Checked:
 * a decoded image has a size within 1..max_dim and pixels; image_fit gives
 * a size within the box (at least 1x1); image_scale gives that size, both
 * when shrinking and when enlarging. ASan watches every pixel access.
 */
#include <string.h>

#include "fuzz_replay.h"
#include "image.h"
#include "pngmeta.h"
#include "th_png.h"

#define MAX_DIM 512

static char path[4300];

static void fuzz_init(void)
{
	snprintf(path, sizeof path, "%s/img", fuzz_tmpdir("image"));
}

static void check_image(struct image *im, unsigned pick)
{
	int dw = 0, dh = 0, bw = 1 + (int)(pick % 61), bh = 1 + (int)(pick / 61 % 37);
	struct image *sc;

	if (!im)
		return;
	FUZZ_CHECK(im->w >= 1 && im->h >= 1 && im->w <= MAX_DIM && im->h <= MAX_DIM);
	FUZZ_CHECK(im->rgb != NULL);
	/* touch the last pixel */
	FUZZ_CHECK(im->rgb[(size_t)im->w * im->h * 3 - 1] <= 255);
	image_fit(im->w, im->h, bw, bh, (int)(pick & 1), &dw, &dh);
	FUZZ_CHECK(dw >= 1 && dh >= 1 && dw <= bw && dh <= bh);
	if (!(pick & 1))
		FUZZ_CHECK(dw <= im->w && dh <= im->h);
	sc = image_scale(im, dw, dh);
	FUZZ_CHECK(sc && sc->w == dw && sc->h == dh);
	image_free(sc);
	/* enlarging, and a different aspect */
	dw = im->w < 64 ? im->w * 2 + 1 : 67;
	dh = im->h < 64 ? im->h + 3 : 5;
	sc = image_scale(im, dw, dh);
	FUZZ_CHECK(sc && sc->w == dw && sc->h == dh);
	image_free(sc);
	image_free(im);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char white[3] = {255, 255, 255};
	unsigned pick = size ? data[size / 2] * 7u + (unsigned)size : 0;
	char *err = NULL;
	struct image *im;
	FILE *f;

	im = image_load_png_mem(data, size, (pick & 2) ? white : NULL, MAX_DIM, &err);
	FUZZ_CHECK(im || err);
	free(err);
	err = NULL;
	check_image(im, pick);

	if (size >= 8 && memcmp(data, "\x89PNG\r\n\x1a\n", 8) == 0) {
		unsigned char *copy = malloc(size);
		if (!copy)
			abort();
		memcpy(copy, data, size);
		th_png_fix_crcs(copy, size);
		im = image_load_png_mem(copy, size, white, MAX_DIM, &err);
		FUZZ_CHECK(im || err);
		free(err);
		err = NULL;
		check_image(im, pick >> 3);
		free(copy);
		return 0;
	}

	/* everything else as a file: JPEG, GIF, BMP, PNM through libsixel */
	f = fopen(path, "wb");
	if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
		perror(path);
		abort();
	}
	im = image_load(path, NULL, MAX_DIM, &err);
	FUZZ_CHECK(im || (err && strstr(err, path)));
	free(err);
	check_image(im, pick >> 2);
	return 0;
}

FUZZ_REPLAY_MAIN("image")
