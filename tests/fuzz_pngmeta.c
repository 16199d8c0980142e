/*
 * fuzz_pngmeta.c: the PNG chunk walker (pngmeta_*) on any bytes.
 *
 * Each input is tried as sent and, so that mutations get past the CRCs, with
 * every chunk's CRC recomputed by the harness. Checked: pngmeta_valid,
 * pngmeta_size and pngmeta_has_text agree with each other; on a valid PNG,
 * pngmeta_add_text gives a valid PNG of the expected length that has the new
 * keyword, the same size, and every original byte after IHDR unchanged; on an
 * invalid one (or a bad keyword, checked here independently) it fails and
 * leaves *out alone.
 */
#include <string.h>

#include "fuzz_replay.h"
#include "pngmeta.h"
#include "th_png.h"

static void fuzz_init(void)
{
}

static const char *const texts[] = {
    "a cat\nNegative prompt: dog\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1",
    "caf\xc3\xa9 \xc2\xa0 \xc3\xbf", /* UTF-8 within Latin-1: converted, tEXt */
    "\xe7\x8c\xab \xf0\x9f\x98\x80", /* beyond Latin-1: iTXt */
    "caf\xe9 \xff latin-1 bytes",    /* not UTF-8: copied as Latin-1 */
    "\xed\xa0\x80 surrogate \xc0\xaf overlong",
    "",
};

static const char *const keywords[] = {
    "parameters",
    "Comment",
    "k",
    "\xe9t\xe9",
    " lead",
    "trail ",
    "ctl\x01",
    "del\x7f",
    "c1\x85",
    "",
    "0123456789012345678901234567890123456789012345678901234567890123456789012345678",  /* 79 */
    "01234567890123456789012345678901234567890123456789012345678901234567890123456789", /* 80 */
};

static int keyword_ok(const char *k)
{
	size_t n = strlen(k), i;
	if (n < 1 || n > 79 || k[0] == ' ' || k[n - 1] == ' ')
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)k[i];
		if (c < 32 || (c > 126 && c < 161))
			return 0;
	}
	return 1;
}

static void check(const unsigned char *png, size_t len, unsigned pick)
{
	int valid = pngmeta_valid(png, len), w = 0, h = 0, r;
	const char *kw = keywords[pick % (sizeof keywords / sizeof *keywords)];
	const char *tx = texts[(pick / 16) % (sizeof texts / sizeof *texts)];
	unsigned char *out = (unsigned char *)"untouched";
	size_t outlen = 12345;

	FUZZ_CHECK(valid == 0 || valid == 1);
	r = pngmeta_has_text(png, len, "parameters");
	FUZZ_CHECK(valid ? (r == 0 || r == 1) : r == -1);
	r = pngmeta_size(png, len, &w, &h);
	if (!valid)
		FUZZ_CHECK(r == -1);
	if (r == 0)
		FUZZ_CHECK(w > 0 && h > 0);

	r = pngmeta_add_text(png, len, kw, tx, &out, &outlen);
	if (!valid || !keyword_ok(kw)) {
		FUZZ_CHECK(r == -1);
		FUZZ_CHECK(outlen == 12345 && memcmp(out, "untouched", 9) == 0);
		return;
	}
	FUZZ_CHECK(r == 0);
	if (r != 0)
		return;
	{
		size_t kl = strlen(kw), tl = strlen(tx), ihdr_end = 8 + 12 + 13;
		int w2 = 0, h2 = 0;
		/* tEXt: kw NUL text (converted text is no longer); iTXt: 4 more */
		FUZZ_CHECK(outlen >= len + 12 + kl + 1 && outlen <= len + 12 + kl + 1 + 4 + tl);
		FUZZ_CHECK(pngmeta_valid(out, outlen) == 1);
		FUZZ_CHECK(pngmeta_has_text(out, outlen, kw) == 1);
		if (pngmeta_size(png, len, &w, &h) == 0) {
			FUZZ_CHECK(pngmeta_size(out, outlen, &w2, &h2) == 0 && w == w2 && h == h2);
		}
		FUZZ_CHECK(memcmp(out, png, ihdr_end) == 0);
		FUZZ_CHECK(
		    memcmp(out + outlen - (len - ihdr_end), png + ihdr_end, len - ihdr_end) == 0);
		free(out);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *copy;
	unsigned pick = size ? data[size - 1] : 0;

	check(data, size, pick);
	if (size < 8)
		return 0;
	copy = malloc(size);
	if (!copy)
		abort();
	memcpy(copy, data, size);
	th_png_fix_crcs(copy, size);
	check(copy, size, pick >> 4 | pick << 4);
	free(copy);
	return 0;
}

FUZZ_REPLAY_MAIN("pngmeta")
