/*
 * th_png.h: fixtures the PNG-handling tests, benchmarks and fuzz targets
 * share: an RGB PNG encoded in memory (with an optional text chunk) or written
 * to a file, base64, and rewriting chunk CRCs after a fuzzer changed the bytes.
 *
 * Header only (every test is a single .c file); everything is static inline.
 * Out of memory or a libpng error in the in-memory writer aborts: these are
 * test fixtures.
 */
#ifndef SDQ_TH_PNG_H
#define SDQ_TH_PNG_H

#include <png.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "pngmeta.h"

struct th_png_buf {
	unsigned char *data;
	size_t len, cap;
};

static inline void th_png_mem_write(png_structp png, png_bytep data, png_size_t len)
{
	struct th_png_buf *m = png_get_io_ptr(png);
	if (m->len + len > m->cap) {
		m->cap = (m->len + len) * 2;
		m->data = realloc(m->data, m->cap);
		if (!m->data)
			abort();
	}
	memcpy(m->data + m->len, data, len);
	m->len += len;
}

static inline void th_png_mem_flush(png_structp png)
{
	(void)png;
}

/* A malloc'd 8-bit RGB PNG of the w x h pixels at rgb (w * 3 bytes a row),
 * its size in *len. key != NULL adds one text chunk key=text with the given
 * png_text compression (PNG_TEXT_COMPRESSION_NONE, _zTXt,
 * PNG_ITXT_COMPRESSION_NONE); level >= 0 sets the zlib level. */
static inline unsigned char *th_png_write(int w, int h, const unsigned char *rgb, const char *key,
                                          const char *text, int compression, int level, size_t *len)
{
	struct th_png_buf m = {0};
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = png_create_info_struct(png);
	if (setjmp(png_jmpbuf(png)))
		abort();
	png_set_write_fn(png, &m, th_png_mem_write, th_png_mem_flush);
	if (level >= 0)
		png_set_compression_level(png, level);
	png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB,
	             PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	if (key) {
		png_text t;
		memset(&t, 0, sizeof t);
		t.compression = compression;
		t.key = (char *)key;
		t.text = (char *)text;
		png_set_text(png, info, &t, 1);
	}
	png_write_info(png, info);
	for (int y = 0; y < h; y++)
		png_write_row(png, (png_const_bytep)(rgb + (size_t)y * (size_t)w * 3));
	png_write_end(png, info);
	png_destroy_write_struct(&png, &info);
	*len = m.len;
	return m.data;
}

/* A malloc'd w x h RGB pattern, byte x of row y (x counts bytes, 0 to
 * w * 3 - 1) being x * xmul + y * ymul + add, cut to 8 bits. */
static inline unsigned char *th_png_pattern(int w, int h, int xmul, int ymul, int add)
{
	unsigned char *rgb = malloc((size_t)w * (size_t)h * 3);
	if (!rgb)
		abort();
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w * 3; x++)
			rgb[(size_t)y * (size_t)w * 3 + (size_t)x] =
			    (unsigned char)(x * xmul + y * ymul + add);
	return rgb;
}

/* Write the w x h RGB pixels at rgb (w * 3 bytes a row) to path as a PNG.
 * 0 or -1. */
static inline int th_png_write_file(const char *path, int w, int h, const unsigned char *rgb)
{
	png_image pi;

	memset(&pi, 0, sizeof pi);
	pi.version = PNG_IMAGE_VERSION;
	pi.width = (png_uint_32)w;
	pi.height = (png_uint_32)h;
	pi.format = PNG_FORMAT_RGB;
	return png_image_write_to_file(&pi, path, 0, rgb, 0, NULL) ? 0 : -1;
}

/* A malloc'd base64 (with padding) of the n bytes at d. */
static inline char *th_base64(const unsigned char *d, size_t n)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *o = malloc((n + 2) / 3 * 4 + 1), *p = o;
	if (!o)
		abort();
	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)d[i] << 16 | (i + 1 < n ? (uint32_t)d[i + 1] << 8 : 0) |
		             (i + 2 < n ? d[i + 2] : 0);
		*p++ = t[v >> 18 & 63];
		*p++ = t[v >> 12 & 63];
		*p++ = i + 1 < n ? t[v >> 6 & 63] : '=';
		*p++ = i + 2 < n ? t[v & 63] : '=';
	}
	*p = 0;
	return o;
}

static inline uint32_t th_png_get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Rewrite the CRC of every chunk that fits in buf (after the 8-byte
 * signature), so that a mutated PNG reaches the chunk parsers. */
static inline void th_png_fix_crcs(unsigned char *buf, size_t len)
{
	size_t p = 8;
	while (len >= 12 && p <= len - 12) {
		uint32_t n = th_png_get32(buf + p);
		unsigned long c;
		if (n > len - 12 - p)
			break;
		c = crc32(0L, buf + p + 4, (uInt)n + 4);
		buf[p + 8 + n] = (unsigned char)(c >> 24);
		buf[p + 9 + n] = (unsigned char)(c >> 16);
		buf[p + 10 + n] = (unsigned char)(c >> 8);
		buf[p + 11 + n] = (unsigned char)c;
		p += 12 + (size_t)n;
	}
}

#endif
