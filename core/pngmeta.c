/*
 * pngmeta.c: PNG text chunks at the byte level (see pngmeta.h).
 *
 * sdq saves a worker's PNG as sent and only adds an AUTOMATIC1111
 * "parameters" chunk, so tools that read A1111 metadata see the settings.
 * Decoding and re-encoding through libpng would change the bytes and cost
 * time; walking the chunk list is enough.
 */
#include "pngmeta.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "text.h"

static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

/* The PNG chunk length limit (2^31 - 1). */
#define CHUNK_MAX 0x7fffffffUL

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

struct chunk {
	size_t off; /* offset of the length field */
	uint32_t len;
	const unsigned char *type;
	const unsigned char *data;
};

/* Step to the chunk at *pos; 1 and *c filled if it is whole and its CRC is
 * right, 0 otherwise. */
static int next_chunk(const unsigned char *png, size_t len, size_t *pos, struct chunk *c)
{
	size_t p = *pos;
	if (len - p < 12)
		return 0;
	uint32_t n = get32(png + p);
	if (n > CHUNK_MAX || len - p - 12 < n)
		return 0;
	for (int i = 0; i < 4; i++) {
		unsigned char t = png[p + 4 + i];
		if (!((t >= 'A' && t <= 'Z') || (t >= 'a' && t <= 'z')))
			return 0;
	}
	if (crc32(0L, png + p + 4, (uInt)n + 4) != get32(png + p + 8 + n))
		return 0;
	c->off = p;
	c->len = n;
	c->type = png + p + 4;
	c->data = png + p + 8;
	*pos = p + 12 + n;
	return 1;
}

/* Walk every chunk; calls fn for each (stop early when it returns non-zero,
 * its value is returned). -1 if the structure is broken. */
static int walk(const unsigned char *png, size_t len, int (*fn)(const struct chunk *c, void *udata),
                void *udata)
{
	if (!png || len < 8 + 25 || memcmp(png, png_sig, 8) != 0)
		return -1;
	size_t pos = 8;
	struct chunk c;
	int first = 1;
	while (next_chunk(png, len, &pos, &c)) {
		if (first && (memcmp(c.type, "IHDR", 4) != 0 || c.len != 13))
			return -1;
		first = 0;
		if (memcmp(c.type, "IEND", 4) == 0)
			return 0;
		if (fn) {
			int r = fn(&c, udata);
			if (r)
				return r;
		}
	}
	return -1; /* ran out before IEND */
}

int pngmeta_valid(const unsigned char *png, size_t len)
{
	return walk(png, len, NULL, NULL) == 0;
}

static int match_keyword(const struct chunk *c, void *udata)
{
	const char *kw = udata;
	if (memcmp(c->type, "tEXt", 4) && memcmp(c->type, "zTXt", 4) && memcmp(c->type, "iTXt", 4))
		return 0;
	size_t kl = strlen(kw);
	return c->len > kl && memcmp(c->data, kw, kl) == 0 && c->data[kl] == 0 ? 1 : 0;
}

int pngmeta_has_text(const unsigned char *png, size_t len, const char *keyword)
{
	if (!keyword || !*keyword)
		return -1;
	/* the whole structure is checked first: a broken PNG is -1 even when an
	 * early chunk holds the keyword (as documented) */
	if (walk(png, len, NULL, NULL) != 0)
		return -1;
	return walk(png, len, match_keyword, (void *)keyword) == 1;
}

int pngmeta_size(const unsigned char *png, size_t len, int *width, int *height)
{
	if (walk(png, len, NULL, NULL) != 0)
		return -1;
	uint32_t w = get32(png + 16), h = get32(png + 20);
	if (w == 0 || h == 0 || w > CHUNK_MAX || h > CHUNK_MAX)
		return -1;
	*width = (int)w;
	*height = (int)h;
	return 0;
}

/* Classify text: 0 = plain ASCII/Latin-1 bytes to copy as they are (no byte
 * >= 0x80, or not valid UTF-8: taken as Latin-1), 1 = UTF-8 that fits
 * Latin-1 (convert), 2 = UTF-8 beyond Latin-1 (iTXt). */
static int text_kind(const char *text)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t left = strlen(text);
	int high = 0, wide = 0;
	while (left) {
		uint32_t cp;
		size_t n = text_utf8_decode(s, left, &cp);
		if (!n)
			return 0;
		if (cp >= 0x80)
			high = 1;
		if (cp >= 0x100)
			wide = 1;
		s += n;
		left -= n;
	}
	return wide ? 2 : high ? 1 : 0;
}

int pngmeta_add_text(const unsigned char *png, size_t len, const char *keyword, const char *text,
                     unsigned char **out, size_t *outlen)
{
	if (!keyword || !text || walk(png, len, NULL, NULL) != 0)
		return -1;
	size_t kl = strlen(keyword);
	if (kl < 1 || kl > 79 || keyword[0] == ' ' || keyword[kl - 1] == ' ')
		return -1;
	for (size_t i = 0; i < kl; i++) {
		unsigned char ch = (unsigned char)keyword[i];
		if (ch < 32 || (ch > 126 && ch < 161))
			return -1;
	}
	int kind = text_kind(text);
	size_t tl = strlen(text);
	/* Chunk data: keyword NUL text (tEXt) or keyword NUL 0 0 "" NUL "" NUL
	 * text (iTXt: uncompressed, no language, no translated keyword). */
	size_t dlen = kl + 1 + (kind == 2 ? 4 : 0) + tl;
	if (dlen > CHUNK_MAX || len > SIZE_MAX - dlen - 12)
		return -1;
	unsigned char *buf = malloc(len + dlen + 12);
	if (!buf)
		return -1;
	size_t ihdr_end = 8 + 12 + 13;
	memcpy(buf, png, ihdr_end);
	unsigned char *c = buf + ihdr_end;
	memcpy(c + 4, kind == 2 ? "iTXt" : "tEXt", 4);
	unsigned char *d = c + 8;
	memcpy(d, keyword, kl);
	d += kl;
	*d++ = 0;
	if (kind == 2) {
		*d++ = 0; /* compression flag */
		*d++ = 0; /* compression method */
		*d++ = 0; /* language tag "" */
		*d++ = 0; /* translated keyword "" */
		memcpy(d, text, tl);
		d += tl;
	} else if (kind == 1) {
		const unsigned char *s = (const unsigned char *)text;
		size_t left = tl;
		while (left) {
			uint32_t cp;
			size_t n = text_utf8_decode(s, left, &cp);
			*d++ = (unsigned char)cp;
			s += n;
			left -= n;
		}
	} else {
		memcpy(d, text, tl);
		d += tl;
	}
	uint32_t n = (uint32_t)(d - (c + 8));
	put32(c, n);
	put32(d, (uint32_t)crc32(0L, c + 4, (uInt)n + 4));
	d += 4;
	memcpy(d, png + ihdr_end, len - ihdr_end);
	d += len - ihdr_end;
	*out = buf;
	*outlen = (size_t)(d - buf);
	return 0;
}
