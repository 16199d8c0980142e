/*
 * image.c: decode saved image files to RGB888 and scale them for previews.
 *
 * PNG is read with libpng's simplified API from memory, which handles every
 * bit depth, palettes, grey and alpha (composited over a background colour)
 * and reports truncated or broken files. JPEG through libjpeg(-turbo). GIF
 * and BMP go through libsixel's built-in stb_image loader; their dimensions
 * are read from the header first so that a file claiming to be huge is
 * refused before anything is allocated (libjpeg's header read does the same
 * for JPEG). Scaling is our own separable filter: area averaging
 * when shrinking (a thumbnail of a 1024 px render must not alias), bilinear
 * when enlarging.
 */
#include "image.h"

#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jpeglib.h>
#include <png.h>
#include <sixel/sixel.h>

#include "util.h"

/* No image file we preview is larger than this. */
#define IMAGE_MAX_FILE (256u * 1024 * 1024)

struct image *image_new(int w, int h)
{
	struct image *im;

	if (w <= 0 || h <= 0 || (size_t)w > SIZE_MAX / 3 / (size_t)h)
		return NULL;
	im = calloc(1, sizeof *im);
	if (!im)
		return NULL;
	im->rgb = malloc((size_t)w * h * 3);
	if (!im->rgb) {
		free(im);
		return NULL;
	}
	im->w = w;
	im->h = h;
	return im;
}

void image_free(struct image *im)
{
	if (!im)
		return;
	free(im->rgb);
	free(im);
}

/* Walk the chunks of a PNG held in memory: 0, or -1 with *err when one
 * declares more bytes than are left in the buffer. libpng allocates a
 * chunk's declared length before it reads it, and its simplified API gives
 * no handle to set png_set_chunk_malloc_max on: a 132-byte file declaring a
 * 1 GB tEXt chunk made it ask for 1 GB (found by fuzz_image). With this
 * check no chunk allocation exceeds the file's own size (itself capped);
 * decompressed chunks (zTXt, iCCP) stay under libpng's built-in 8 MB
 * PNG_USER_CHUNK_MALLOC_MAX. */
static int png_chunks_fit(const unsigned char *p, size_t len, const char *name, char **err)
{
	size_t off = 8; /* the signature */

	while (off + 8 <= len) {
		uint32_t n = (uint32_t)p[off] << 24 | (uint32_t)p[off + 1] << 16 |
		             (uint32_t)p[off + 2] << 8 | p[off + 3];
		size_t left = len - off - 8;
		if (n > 0x7fffffffu || (size_t)n > left || left - n < 4) {
			char type[5];
			for (int i = 0; i < 4; i++)
				type[i] = p[off + 4 + i] >= 0x21 && p[off + 4 + i] < 0x7f
				              ? (char)p[off + 4 + i]
				              : '?';
			type[4] = '\0';
			util_set_err(err,
			             "%s: broken or truncated PNG (chunk %s declares %lu bytes, only "
			             "%zu are left in the file)",
			             name, type, (unsigned long)n, left < 4 ? 0 : left - 4);
			return -1;
		}
		if (memcmp(p + off + 4, "IEND", 4) == 0)
			break;
		off += 8 + (size_t)n + 4;
	}
	return 0;
}

static struct image *load_png(const void *data, size_t len, const unsigned char bg[3], int max_dim,
                              const char *name, char **err)
{
	png_image pi;
	png_color back;
	struct image *im;

	if (len > 8 && png_chunks_fit(data, len, name, err) < 0)
		return NULL;
	memset(&pi, 0, sizeof pi);
	pi.version = PNG_IMAGE_VERSION;
	if (!png_image_begin_read_from_memory(&pi, data, len)) {
		util_set_err(err, "%s: broken PNG (%s)", name, pi.message);
		png_image_free(&pi);
		return NULL;
	}
	if (pi.width == 0 || pi.height == 0 || pi.width > (png_uint_32)max_dim ||
	    pi.height > (png_uint_32)max_dim) {
		util_set_err(err, "%s: image too large (%ux%u, limit %d)", name, (unsigned)pi.width,
		             (unsigned)pi.height, max_dim);
		png_image_free(&pi);
		return NULL;
	}
	im = image_new((int)pi.width, (int)pi.height);
	if (!im) {
		util_set_err(err, "%s: out of memory", name);
		png_image_free(&pi);
		return NULL;
	}
	if (pi.format & PNG_FORMAT_FLAG_LINEAR) {
		/* 16-bit: the simplified API takes untagged 16-bit samples as linear
		 * light and would gamma-encode them on the way to 8 bits (too
		 * bright). Read them as they are (premultiplied RGBA) and do the
		 * 16 -> 8 and the compositing here. */
		uint16_t *px;
		size_t n = (size_t)pi.width * pi.height;

		pi.format = PNG_FORMAT_LINEAR_RGB_ALPHA;
		px = malloc(PNG_IMAGE_SIZE(pi));
		if (!px) {
			util_set_err(err, "%s: out of memory", name);
			png_image_free(&pi);
			image_free(im);
			return NULL;
		}
		if (!png_image_finish_read(&pi, NULL, px, 0, NULL)) {
			util_set_err(err, "%s: broken or truncated PNG (%s)", name, pi.message);
			png_image_free(&pi);
			image_free(im);
			free(px);
			return NULL;
		}
		for (size_t i = 0; i < n; i++) {
			uint32_t a = px[i * 4 + 3];

			for (int k = 0; k < 3; k++) {
				uint32_t b = bg ? bg[k] * 257u : 0;
				uint32_t v = px[i * 4 + k] + (b * (65535 - a) + 32767) / 65535;

				im->rgb[i * 3 + k] = (unsigned char)((v * 255 + 32767) / 65535);
			}
		}
		free(px);
		png_image_free(&pi);
		return im;
	}
	pi.format = PNG_FORMAT_RGB;
	back.red = bg ? bg[0] : 0;
	back.green = bg ? bg[1] : 0;
	back.blue = bg ? bg[2] : 0;
	if (!png_image_finish_read(&pi, &back, im->rgb, 0, NULL)) {
		util_set_err(err, "%s: broken or truncated PNG (%s)", name, pi.message);
		png_image_free(&pi);
		image_free(im);
		return NULL;
	}
	png_image_free(&pi);
	return im;
}

struct image *image_load_png_mem(const void *data, size_t len, const unsigned char bg[3],
                                 int max_dim, char **err)
{
	if (max_dim <= 0)
		max_dim = IMAGE_MAX_DIM;
	return load_png(data, len, bg, max_dim, "PNG", err);
}

static unsigned rd16le(const unsigned char *p)
{
	return (unsigned)p[1] << 8 | p[0];
}

static long rd32le(const unsigned char *p)
{
	return (long)(int32_t)((uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 |
	                       p[0]);
}

/* 1 if the last `within` bytes of p contain the n bytes of m. */
static int tail_has(const unsigned char *p, size_t len, const char *m, size_t n, size_t within)
{
	size_t from = len > within ? len - within : 0;

	for (size_t i = from; i + n <= len; i++)
		if (memcmp(p + i, m, n) == 0)
			return 1;
	return 0;
}

enum fmt { FMT_UNKNOWN, FMT_PNG, FMT_JPEG, FMT_GIF, FMT_BMP, FMT_PNM, FMT_WEBP };

static enum fmt sniff(const unsigned char *p, size_t len)
{
	if (len >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0)
		return FMT_PNG;
	if (len >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff)
		return FMT_JPEG;
	if (len >= 6 && (memcmp(p, "GIF87a", 6) == 0 || memcmp(p, "GIF89a", 6) == 0))
		return FMT_GIF;
	if (len >= 2 && p[0] == 'B' && p[1] == 'M')
		return FMT_BMP;
	if (len >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0)
		return FMT_WEBP;
	if (len >= 3 && p[0] == 'P' && p[1] >= '1' && p[1] <= '6' &&
	    (p[2] == ' ' || p[2] == '\n' || p[2] == '\r' || p[2] == '\t'))
		return FMT_PNM;
	return FMT_UNKNOWN;
}

struct sixel_load_ctx {
	struct image *im;
	const unsigned char *bg;
	int max_dim;
	char *err;
};

/* Convert one libsixel frame to our RGB888 image. */
static SIXELSTATUS on_frame(sixel_frame_t *frame, void *priv)
{
	struct sixel_load_ctx *c = priv;
	int w = sixel_frame_get_width(frame), h = sixel_frame_get_height(frame);
	int fmt = sixel_frame_get_pixelformat(frame);
	const unsigned char *px = sixel_frame_get_pixels(frame);
	const unsigned char *pal = sixel_frame_get_palette(frame);
	int ncol = sixel_frame_get_ncolors(frame);
	unsigned char bg[3] = {0, 0, 0};
	size_t i, n;

	if (c->im)
		return SIXEL_OK; /* first frame only */
	if (c->bg)
		memcpy(bg, c->bg, 3);
	if (w <= 0 || h <= 0 || w > c->max_dim || h > c->max_dim || !px) {
		c->err = strdup("image too large or empty");
		return SIXEL_RUNTIME_ERROR;
	}
	c->im = image_new(w, h);
	if (!c->im) {
		c->err = strdup("out of memory");
		return SIXEL_BAD_ALLOCATION;
	}
	n = (size_t)w * h;
	for (i = 0; i < n; i++) {
		unsigned char *d = c->im->rgb + i * 3;
		unsigned a;
		const unsigned char *s;

		switch (fmt) {
		case SIXEL_PIXELFORMAT_RGB888:
			memcpy(d, px + i * 3, 3);
			break;
		case SIXEL_PIXELFORMAT_RGBA8888:
		case SIXEL_PIXELFORMAT_ARGB8888:
			s = px + i * 4;
			if (fmt == SIXEL_PIXELFORMAT_ARGB8888) {
				a = s[0];
				s++;
			} else {
				a = s[3];
			}
			for (int k = 0; k < 3; k++)
				d[k] = (unsigned char)((s[k] * a + bg[k] * (255 - a) + 127) / 255);
			break;
		case SIXEL_PIXELFORMAT_G8:
			d[0] = d[1] = d[2] = px[i];
			break;
		case SIXEL_PIXELFORMAT_PAL8:
			if (!pal || px[i] >= ncol) {
				d[0] = d[1] = d[2] = 0;
			} else {
				memcpy(d, pal + px[i] * 3, 3);
			}
			break;
		default:
			image_free(c->im);
			c->im = NULL;
			c->err = strdup("unsupported pixel format");
			return SIXEL_RUNTIME_ERROR;
		}
	}
	return SIXEL_OK;
}

/* libjpeg reports a fatal error here: back to load_jpeg's setjmp. */
struct jerr {
	struct jpeg_error_mgr pub;
	jmp_buf env;
	char msg[JMSG_LENGTH_MAX];
};

static void jpeg_fail(j_common_ptr cinfo)
{
	struct jerr *je = (struct jerr *)cinfo->err;
	(*cinfo->err->format_message)(cinfo, je->msg);
	longjmp(je->env, 1);
}

static void jpeg_quiet(j_common_ptr cinfo, int level)
{
	(void)cinfo;
	(void)level; /* warnings (corrupt data recovered) are not printed */
}

/* A JPEG through libjpeg(-turbo), which is hardened against hostile files;
 * libsixel's built-in stb_image crashed on a corrupt progressive JPEG
 * (fuzz_image: a read far out of bounds in its progressive AC decoding).
 * The size is checked before any pixel is allocated; CMYK and grey come out
 * as RGB. */
static struct image *load_jpeg(const char *path, const unsigned char *p, size_t len, int max_dim,
                               char **err)
{
	struct jpeg_decompress_struct ci;
	struct jerr je;
	struct image *volatile im = NULL;
	unsigned char *volatile row = NULL;

	memset(&ci, 0, sizeof ci);
	ci.err = jpeg_std_error(&je.pub);
	je.pub.error_exit = jpeg_fail;
	je.pub.emit_message = jpeg_quiet;
	je.msg[0] = '\0';
	if (setjmp(je.env)) {
		util_set_err(err, "%s: broken JPEG (%s)", path, je.msg[0] ? je.msg : "error");
		jpeg_destroy_decompress(&ci);
		image_free(im);
		free(row);
		return NULL;
	}
	jpeg_create_decompress(&ci);
	jpeg_mem_src(&ci, p, (unsigned long)len);
	jpeg_read_header(&ci, TRUE);
	if (ci.image_width == 0 || ci.image_height == 0 || ci.image_width > (unsigned)max_dim ||
	    ci.image_height > (unsigned)max_dim) {
		util_set_err(err, "%s: image too large or empty (%ux%u, limit %d)", path,
		             (unsigned)ci.image_width, (unsigned)ci.image_height, max_dim);
		jpeg_destroy_decompress(&ci);
		return NULL;
	}
	if (ci.jpeg_color_space == JCS_CMYK || ci.jpeg_color_space == JCS_YCCK)
		ci.out_color_space = JCS_CMYK;
	else
		ci.out_color_space = JCS_RGB;
	jpeg_start_decompress(&ci);
	im = image_new((int)ci.output_width, (int)ci.output_height);
	row = malloc((size_t)ci.output_width * (size_t)ci.output_components);
	if (!im || !row) {
		util_set_err(err, "%s: out of memory", path);
		jpeg_destroy_decompress(&ci);
		image_free(im);
		free(row);
		return NULL;
	}
	while (ci.output_scanline < ci.output_height) {
		unsigned y = ci.output_scanline;
		JSAMPROW rp = row;
		unsigned char *dst = im->rgb + (size_t)y * (size_t)im->w * 3;
		jpeg_read_scanlines(&ci, &rp, 1);
		for (unsigned x = 0; x < ci.output_width; x++) {
			if (ci.out_color_space == JCS_CMYK) {
				/* Adobe's inverted CMYK, as libjpeg hands it over */
				unsigned k = row[x * 4 + 3];
				for (int c = 0; c < 3; c++)
					dst[x * 3 + c] = (unsigned char)(row[x * 4 + c] * k / 255);
			} else {
				memcpy(dst + x * 3, row + x * 3, 3);
			}
		}
	}
	jpeg_finish_decompress(&ci);
	jpeg_destroy_decompress(&ci);
	free(row);
	return im;
}

static struct image *load_other(const char *path, const unsigned char *p, size_t len, enum fmt f,
                                const unsigned char bg[3], int max_dim, char **err)
{
	long w = 0, h = 0;
	struct sixel_load_ctx c = {NULL, bg, max_dim, NULL};
	unsigned char bgc[3] = {0, 0, 0};
	sixel_allocator_t *alloc = NULL;
	SIXELSTATUS st;

	switch (f) {
	case FMT_GIF:
		if (len < 10) {
			util_set_err(err, "%s: truncated GIF", path);
			return NULL;
		}
		w = rd16le(p + 6);
		h = rd16le(p + 8);
		if (!tail_has(p, len, ";", 1, 16)) { /* the GIF trailer */
			util_set_err(err, "%s: truncated GIF (no trailer)", path);
			return NULL;
		}
		break;
	case FMT_BMP:
		if (len < 26) {
			util_set_err(err, "%s: truncated BMP", path);
			return NULL;
		}
		w = rd32le(p + 18);
		h = labs(rd32le(p + 22));
		break;
	default:
		util_set_err(err, "%s: unsupported image format", path);
		return NULL;
	}
	if (w <= 0 || h <= 0 || w > max_dim || h > max_dim) {
		util_set_err(err, "%s: image too large or empty (%ldx%ld, limit %d)", path, w, h,
		             max_dim);
		return NULL;
	}
	if (bg)
		memcpy(bgc, bg, 3);
	/* the loader refuses a NULL allocator ("bad argument") */
	st = sixel_allocator_new(&alloc, NULL, NULL, NULL, NULL);
	if (SIXEL_SUCCEEDED(st)) {
		st = sixel_helper_load_image_file(path, 1, 0, 256, bgc, SIXEL_LOOP_DISABLE,
		                                  on_frame, 0, NULL, &c, alloc);
		sixel_allocator_unref(alloc);
	}
	if (SIXEL_FAILED(st) || !c.im) {
		util_set_err(err, "%s: cannot decode image (%s)", path,
		             c.err ? c.err : sixel_helper_format_error(st));
		free(c.err);
		image_free(c.im);
		return NULL;
	}
	free(c.err);
	return c.im;
}

struct image *image_load(const char *path, const unsigned char bg[3], int max_dim, char **err)
{
	unsigned char *data;
	size_t len = 0;
	struct image *im = NULL;
	enum fmt f;

	if (max_dim <= 0)
		max_dim = IMAGE_MAX_DIM;
	if (!path || !*path || strcmp(path, "-") == 0) {
		util_set_err(err, "no image file");
		return NULL;
	}
	data = (unsigned char *)util_read_file(path, IMAGE_MAX_FILE, &len, err);
	if (!data)
		return NULL;
	f = sniff(data, len);
	switch (f) {
	case FMT_PNG:
		im = load_png(data, len, bg, max_dim, path, err);
		break;
	case FMT_JPEG:
		/* a cut file: libjpeg pads it with grey; refuse it as before */
		if (!tail_has(data, len, "\xff\xd9", 2, 64))
			util_set_err(err, "%s: truncated JPEG (no end marker)", path);
		else
			im = load_jpeg(path, data, len, max_dim, err);
		break;
	case FMT_GIF:
	case FMT_BMP:
		im = load_other(path, data, len, f, bg, max_dim, err);
		break;
	case FMT_WEBP:
		util_set_err(err, "%s: WebP images cannot be previewed", path);
		break;
	case FMT_PNM: /* no worker writes these; not worth an unchecked decoder */
	default:
		util_set_err(err, len ? "%s: not an image sdq can read" : "%s: empty file", path);
		break;
	}
	free(data);
	return im;
}

void image_fit(int sw, int sh, int box_w, int box_h, int upscale, int *dw, int *dh)
{
	double s;
	int w, h;

	if (sw < 1)
		sw = 1;
	if (sh < 1)
		sh = 1;
	if (box_w < 1)
		box_w = 1;
	if (box_h < 1)
		box_h = 1;
	s = (double)box_w / sw;
	if ((double)box_h / sh < s)
		s = (double)box_h / sh;
	if (!upscale && s > 1.0)
		s = 1.0;
	w = (int)floor(sw * s + 1e-9);
	h = (int)floor(sh * s + 1e-9);
	if (w > box_w)
		w = box_w;
	if (h > box_h)
		h = box_h;
	*dw = w < 1 ? 1 : w;
	*dh = h < 1 ? 1 : h;
}

/* Filter taps for one axis: output i reads src[first[i] .. first[i]+count[i])
 * with weights w[off[i] ..]. */
struct taps {
	int *first, *count, *off;
	float *w;
};

static void taps_free(struct taps *t)
{
	free(t->first);
	free(t->count);
	free(t->off);
	free(t->w);
}

static int taps_make(struct taps *t, int sn, int dn)
{
	double scale = (double)sn / dn;
	int maxtaps = (scale > 1 ? (int)ceil(scale) + 2 : 2);
	int k = 0;

	t->first = malloc(sizeof(int) * dn);
	t->count = malloc(sizeof(int) * dn);
	t->off = malloc(sizeof(int) * dn);
	t->w = malloc(sizeof(float) * (size_t)dn * maxtaps);
	if (!t->first || !t->count || !t->off || !t->w) {
		taps_free(t);
		return -1;
	}
	for (int i = 0; i < dn; i++) {
		t->off[i] = k;
		if (scale >= 1.0) {
			/* area average over [i*scale, (i+1)*scale) */
			double a = i * scale, b = (i + 1) * scale;
			int s0 = (int)floor(a), s1 = (int)ceil(b);
			double sum = 0;

			if (s1 > sn)
				s1 = sn;
			if (s1 <= s0)
				s1 = s0 + 1;
			t->first[i] = s0;
			t->count[i] = s1 - s0;
			for (int s = s0; s < s1; s++) {
				double lo = a > s ? a : s, hi = b < s + 1 ? b : s + 1;
				double wt = hi > lo ? hi - lo : 0;
				t->w[k + s - s0] = (float)wt;
				sum += wt;
			}
			for (int s = 0; s < t->count[i]; s++)
				t->w[k + s] =
				    sum > 0 ? (float)(t->w[k + s] / sum) : 1.0f / t->count[i];
		} else {
			/* bilinear between the two nearest source centres */
			double c = (i + 0.5) * scale - 0.5;
			int s0 = (int)floor(c);
			double f = c - s0;

			if (s0 < 0) {
				s0 = 0;
				f = 0;
			}
			if (s0 >= sn - 1) {
				s0 = sn - 1;
				f = 0;
			}
			t->first[i] = s0;
			t->count[i] = f > 0 ? 2 : 1;
			t->w[k] = (float)(1 - f);
			if (f > 0)
				t->w[k + 1] = (float)f;
		}
		k += t->count[i];
	}
	return 0;
}

struct image *image_scale(const struct image *src, int dw, int dh)
{
	struct taps tx = {0}, ty = {0};
	struct image *dst;
	float *mid;

	if (!src || dw <= 0 || dh <= 0)
		return NULL;
	if (dw == src->w && dh == src->h) {
		dst = image_new(dw, dh);
		if (dst)
			memcpy(dst->rgb, src->rgb, (size_t)dw * dh * 3);
		return dst;
	}
	dst = image_new(dw, dh);
	mid = malloc(sizeof(float) * (size_t)dw * src->h * 3);
	if (!dst || !mid || taps_make(&tx, src->w, dw) || taps_make(&ty, src->h, dh)) {
		image_free(dst);
		free(mid);
		taps_free(&tx);
		taps_free(&ty);
		return NULL;
	}
	/* horizontal pass: src->h rows of dw pixels, in float */
	for (int y = 0; y < src->h; y++) {
		const unsigned char *row = src->rgb + (size_t)y * src->w * 3;
		float *out = mid + (size_t)y * dw * 3;

		for (int x = 0; x < dw; x++) {
			float r = 0, g = 0, b = 0;
			const float *w = tx.w + tx.off[x];
			const unsigned char *p = row + (size_t)tx.first[x] * 3;

			for (int k = 0; k < tx.count[x]; k++, p += 3) {
				r += w[k] * p[0];
				g += w[k] * p[1];
				b += w[k] * p[2];
			}
			out[x * 3] = r;
			out[x * 3 + 1] = g;
			out[x * 3 + 2] = b;
		}
	}
	/* vertical pass */
	for (int y = 0; y < dh; y++) {
		const float *w = ty.w + ty.off[y];
		unsigned char *out = dst->rgb + (size_t)y * dw * 3;

		for (int x = 0; x < dw * 3; x++) {
			float v = 0;
			const float *p = mid + (size_t)ty.first[y] * dw * 3 + x;

			for (int k = 0; k < ty.count[y]; k++, p += (size_t)dw * 3)
				v += w[k] * *p;
			v += 0.5f;
			out[x] = v <= 0 ? 0 : v >= 255 ? 255 : (unsigned char)v;
		}
	}
	free(mid);
	taps_free(&tx);
	taps_free(&ty);
	return dst;
}

struct image *image_load_fit(const char *path, const unsigned char bg[3], int box_w, int box_h,
                             int upscale, char **err)
{
	struct image *im = image_load(path, bg, 0, err), *sc;
	int dw, dh;

	if (!im)
		return NULL;
	image_fit(im->w, im->h, box_w, box_h, upscale, &dw, &dh);
	if (dw == im->w && dh == im->h)
		return im;
	sc = image_scale(im, dw, dh);
	image_free(im);
	if (!sc)
		util_set_err(err, "%s: out of memory while scaling", path);
	return sc;
}
