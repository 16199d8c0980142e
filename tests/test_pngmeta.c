/*
 * test_pngmeta.c: PNG text chunks added by pngmeta must be read back by
 * libpng (tEXt for Latin-1, iTXt beyond), the pixels must stay the same, and
 * broken PNGs must be refused.
 */
#include <png.h>
#include <setjmp.h>
#include <stdint.h>
#include <zlib.h>

#include "th.h"
#include "pngmeta.h"
#include "th_png.h"

/* A PNG being read back from memory. */
struct membuf {
	unsigned char *data;
	size_t len, cap, pos;
};

static void mem_read(png_structp png, png_bytep data, png_size_t len)
{
	struct membuf *m = png_get_io_ptr(png);
	if (m->len - m->pos < len)
		png_error(png, "read past end");
	memcpy(data, m->data + m->pos, len);
	m->pos += len;
}

/* A w x h RGB PNG with a pattern from seed, optionally with one text chunk
 * (compression: PNG_TEXT_COMPRESSION_NONE / _zTXt / PNG_ITXT_COMPRESSION_NONE). */
static unsigned char *make_png(int w, int h, int seed, const char *key, const char *text,
                               int compression, size_t *len)
{
	unsigned char *rgb = th_png_pattern(w, h, 7, 13, seed), *png;
	png = th_png_write(w, h, rgb, key, text, compression, -1, len);
	free(rgb);
	return png;
}

struct decoded {
	int ok;
	int w, h;
	unsigned char *pixels;
	char *text;    /* the "parameters" text, malloc'd, or NULL */
	int text_comp; /* its png_text compression value */
};

static struct decoded decode(const unsigned char *data, size_t len)
{
	struct decoded d = {0};
	struct membuf m = {(unsigned char *)data, len, len, 0};
	png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = png_create_info_struct(png);
	png_bytep *rows = NULL;
	if (setjmp(png_jmpbuf(png))) {
		free(rows);
		png_destroy_read_struct(&png, &info, NULL);
		free(d.pixels);
		free(d.text);
		d.pixels = NULL;
		d.text = NULL;
		d.ok = 0;
		return d;
	}
	png_set_read_fn(png, &m, mem_read);
	png_read_info(png, info);
	d.w = (int)png_get_image_width(png, info);
	d.h = (int)png_get_image_height(png, info);
	png_textp texts;
	int nt = 0;
	png_get_text(png, info, &texts, &nt);
	for (int i = 0; i < nt; i++) {
		if (strcmp(texts[i].key, "parameters") == 0) {
			d.text = strdup(texts[i].text);
			d.text_comp = texts[i].compression;
		}
	}
	size_t rb = png_get_rowbytes(png, info);
	d.pixels = malloc(rb * (size_t)d.h);
	rows = malloc(sizeof *rows * (size_t)d.h);
	for (int y = 0; y < d.h; y++)
		rows[y] = d.pixels + rb * (size_t)y;
	png_read_image(png, rows);
	png_read_end(png, NULL);
	free(rows);
	png_destroy_read_struct(&png, &info, NULL);
	d.ok = 1;
	return d;
}

static void decoded_free(struct decoded *d)
{
	free(d->pixels);
	free(d->text);
}

/* The chunk CRCs are zlib's crc32 (PNG's CRC-32): the check value, and a
 * chunk written by pngmeta_add_text carries the CRC zlib computes. */
static void test_crc(void)
{
	CHECK_INT(crc32(0L, (const unsigned char *)"123456789", 9), 0xcbf43926UL);
	size_t len, outlen = 0;
	unsigned char *png = make_png(5, 5, 3, NULL, NULL, 0, &len), *out = NULL;
	CHECK(png && pngmeta_add_text(png, len, "parameters", "a cat", &out, &outlen) == 0);
	CHECK(out && pngmeta_valid(out, outlen) == 1);
	if (out) {
		unsigned char *copy = malloc(outlen);
		memcpy(copy, out, outlen);
		th_png_fix_crcs(copy, outlen); /* recomputing changes nothing */
		CHECK(memcmp(copy, out, outlen) == 0);
		copy[outlen - 13] ^= 1; /* the CRC of the chunk before IEND */
		CHECK(pngmeta_valid(copy, outlen) == 0);
		free(copy);
	}
	free(out);
	free(png);
}

/* Add text, read it back with libpng; pixels must be unchanged. */
static void roundtrip(const char *text, const char *expect_read, int expect_comp)
{
	size_t len;
	unsigned char *png = make_png(13, 7, 3, NULL, NULL, 0, &len);
	CHECK_INT(pngmeta_valid(png, len), 1);
	CHECK_INT(pngmeta_has_text(png, len, "parameters"), 0);
	unsigned char *out = NULL;
	size_t outlen = 0;
	CHECK_INT(pngmeta_add_text(png, len, "parameters", text, &out, &outlen), 0);
	if (!out) {
		free(png);
		return;
	}
	CHECK_INT(pngmeta_valid(out, outlen), 1);
	CHECK_INT(pngmeta_has_text(out, outlen, "parameters"), 1);
	CHECK_INT(pngmeta_has_text(out, outlen, "parameter"), 0);
	CHECK_INT(pngmeta_has_text(out, outlen, "Parameters"), 0);
	struct decoded a = decode(png, len), b = decode(out, outlen);
	CHECK(a.ok && b.ok);
	CHECK_INT(b.w, 13);
	CHECK_INT(b.h, 7);
	CHECK(a.pixels && b.pixels && memcmp(a.pixels, b.pixels, 13 * 3 * 7) == 0);
	CHECK_STR(b.text, expect_read);
	CHECK_INT(b.text_comp, expect_comp);
	CHECK(a.text == NULL);
	/* The chunk sits right after IHDR. */
	CHECK(memcmp(out + 33 + 4, expect_comp == PNG_TEXT_COMPRESSION_NONE ? "tEXt" : "iTXt", 4) ==
	      0);
	decoded_free(&a);
	decoded_free(&b);
	free(png);
	free(out);
}

static void test_roundtrip_ascii(void)
{
	roundtrip(
	    "a cat\nNegative prompt: dog\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 42, "
	    "Size: 13x7",
	    "a cat\nNegative prompt: dog\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 42, "
	    "Size: 13x7",
	    PNG_TEXT_COMPRESSION_NONE);
	roundtrip("", "", PNG_TEXT_COMPRESSION_NONE);
}

static void test_roundtrip_latin1(void)
{
	/* UTF-8 "café crème" fits Latin-1: stored as tEXt with bytes e9, e8.
	 * libpng hands tEXt bytes back as they are (Latin-1). */
	roundtrip("caf\xc3\xa9 cr\xc3\xa8me", "caf\xe9 cr\xe8me", PNG_TEXT_COMPRESSION_NONE);
}

static void test_roundtrip_utf8(void)
{
	/* Beyond Latin-1: iTXt, UTF-8 kept. */
	roundtrip("\xe7\x8c\xab a cat \xf0\x9f\x90\x88", "\xe7\x8c\xab a cat \xf0\x9f\x90\x88",
	          PNG_ITXT_COMPRESSION_NONE);
}

static void test_invalid_utf8_as_latin1(void)
{
	/* Not UTF-8: taken as Latin-1 bytes, tEXt. */
	roundtrip("na\xefve \xff", "na\xefve \xff", PNG_TEXT_COMPRESSION_NONE);
}

static void test_existing_text(void)
{
	static const int comps[] = {PNG_TEXT_COMPRESSION_NONE, PNG_TEXT_COMPRESSION_zTXt,
	                            PNG_ITXT_COMPRESSION_NONE, PNG_ITXT_COMPRESSION_zTXt};
	for (size_t i = 0; i < sizeof comps / sizeof comps[0]; i++) {
		size_t len;
		unsigned char *png =
		    make_png(4, 4, (int)i, "parameters", "old text", comps[i], &len);
		CHECK_INT(pngmeta_has_text(png, len, "parameters"), 1);
		CHECK_INT(pngmeta_has_text(png, len, "Comment"), 0);
		free(png);
	}
	size_t len;
	unsigned char *png = make_png(4, 4, 1, "Comment", "x", PNG_TEXT_COMPRESSION_NONE, &len);
	CHECK_INT(pngmeta_has_text(png, len, "parameters"), 0);
	CHECK_INT(pngmeta_has_text(png, len, "Comment"), 1);
	free(png);
}

static void test_size(void)
{
	size_t len;
	unsigned char *png = make_png(300, 17, 0, NULL, NULL, 0, &len);
	int w = 0, h = 0;
	CHECK_INT(pngmeta_size(png, len, &w, &h), 0);
	CHECK_INT(w, 300);
	CHECK_INT(h, 17);
	free(png);
}

static void test_broken(void)
{
	size_t len;
	unsigned char *png = make_png(16, 16, 5, NULL, NULL, 0, &len);
	unsigned char *out = (unsigned char *)"sentinel";
	size_t outlen = 0;
	int w, h;
	/* Every truncation is refused. */
	int refused = 1;
	for (size_t cut = 0; cut < len; cut++) {
		if (pngmeta_valid(png, cut) || pngmeta_has_text(png, cut, "parameters") != -1 ||
		    pngmeta_size(png, cut, &w, &h) != -1 ||
		    pngmeta_add_text(png, cut, "parameters", "x", &out, &outlen) != -1)
			refused = 0;
	}
	CHECK(refused);
	CHECK_STR((char *)out, "sentinel");
	/* A flipped bit anywhere after the signature breaks a CRC or a length. */
	int caught = 0, total = 0;
	for (size_t i = 8; i < len; i += 3) {
		png[i] ^= 0x10;
		total++;
		caught += !pngmeta_valid(png, len);
		png[i] ^= 0x10;
	}
	CHECK_INT(caught, total);
	CHECK_INT(pngmeta_valid(png, len), 1);
	/* Not a PNG at all. */
	CHECK_INT(pngmeta_has_text((const unsigned char *)"GIF89a....", 10, "parameters"), -1);
	CHECK_INT(pngmeta_valid(NULL, 0), 0);
	/* Bytes after IEND are tolerated. */
	unsigned char *more = malloc(len + 5);
	memcpy(more, png, len);
	memcpy(more + len, "junk!", 5);
	CHECK_INT(pngmeta_valid(more, len + 5), 1);
	free(more);
	free(png);
}

static void test_bad_keyword(void)
{
	size_t len;
	unsigned char *png = make_png(4, 4, 0, NULL, NULL, 0, &len);
	unsigned char *out = NULL;
	size_t outlen;
	char long_kw[81];
	memset(long_kw, 'k', 80);
	long_kw[80] = 0;
	CHECK_INT(pngmeta_add_text(png, len, "", "x", &out, &outlen), -1);
	CHECK_INT(pngmeta_add_text(png, len, long_kw, "x", &out, &outlen), -1);
	CHECK_INT(pngmeta_add_text(png, len, " lead", "x", &out, &outlen), -1);
	CHECK_INT(pngmeta_add_text(png, len, "ctl\x01", "x", &out, &outlen), -1);
	CHECK(out == NULL);
	long_kw[79] = 0;
	CHECK_INT(pngmeta_add_text(png, len, long_kw, "x", &out, &outlen), 0);
	CHECK_INT(pngmeta_has_text(out, outlen, long_kw), 1);
	free(out);
	free(png);
}

/* Random byte edits and truncations: no crash, and whatever is accepted as
 * valid can take a text chunk that libpng then reads. */
static void test_mutations(void)
{
	size_t len;
	unsigned char *png = make_png(9, 5, 7, "Comment", "hi", PNG_TEXT_COMPRESSION_NONE, &len);
	uint32_t rnd = 99;
	int valid = 0, bad = 0;
	for (int m = 0; m < 3000; m++) {
		unsigned char *mut = malloc(len);
		memcpy(mut, png, len);
		size_t mlen = len;
		rnd = rnd * 1103515245u + 12345u;
		if (m % 3 == 0) {
			mlen = (rnd >> 8) % len;
		} else {
			for (int e = 0; e < 1 + m % 3; e++) {
				rnd = rnd * 1103515245u + 12345u;
				mut[(rnd >> 8) % len] = (unsigned char)(rnd >> 24);
			}
		}
		int w, h;
		pngmeta_size(mut, mlen, &w, &h);
		pngmeta_has_text(mut, mlen, "parameters");
		unsigned char *out = NULL;
		size_t outlen;
		if (pngmeta_valid(mut, mlen)) {
			valid++;
			if (pngmeta_add_text(mut, mlen, "parameters", "x", &out, &outlen) != 0 ||
			    pngmeta_has_text(out, outlen, "parameters") != 1)
				bad++;
		} else if (pngmeta_add_text(mut, mlen, "parameters", "x", &out, &outlen) != -1) {
			bad++;
		}
		free(out);
		free(mut);
	}
	CHECK_INT(bad, 0);
	CHECK(valid > 0); /* the unchanged ones (edits that rewrite the same byte) */
	free(png);
}

int main(void)
{
	TH_RUN(test_crc);
	TH_RUN(test_roundtrip_ascii);
	TH_RUN(test_roundtrip_latin1);
	TH_RUN(test_roundtrip_utf8);
	TH_RUN(test_invalid_utf8_as_latin1);
	TH_RUN(test_existing_text);
	TH_RUN(test_size);
	TH_RUN(test_broken);
	TH_RUN(test_bad_keyword);
	TH_RUN(test_mutations);
	return th_done("test_pngmeta");
}
