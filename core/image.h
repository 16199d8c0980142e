/*
 * image.h: decoding saved image files to packed RGB888 pixels, and scaling
 * them to fit a box. PNG goes through libpng's simplified API (any bit depth,
 * palette, grey, alpha composited on a background colour); JPEG, GIF (first
 * frame) and BMP through libsixel's built-in loader. WebP is not
 * supported. Pure C, no terminal code.
 *
 * Errors: functions return NULL / -1 and set *err to a malloc'd message that
 * the caller frees (err may be NULL).
 */
#ifndef SDQ_IMAGE_H
#define SDQ_IMAGE_H

#include <stddef.h>

/* The largest width or height image_load accepts by default. */
#define IMAGE_MAX_DIM 8192

/* A decoded image: w*h pixels, 3 bytes each (R, G, B), rows packed. Owns rgb. */
struct image {
	int w, h;
	unsigned char *rgb;
};

/* A new w x h image with uninitialised pixels, or NULL (ENOMEM, bad size). */
struct image *image_new(int w, int h);
void image_free(struct image *im);

/* Decode the file at path. Transparent pixels are composited over bg (R, G,
 * B; NULL: black). Images wider or taller than max_dim (0: IMAGE_MAX_DIM) are
 * refused before their pixels are allocated. NULL with *err set (naming the
 * file) for a missing, truncated, broken or unsupported file. */
struct image *image_load(const char *path, const unsigned char bg[3], int max_dim, char **err);

/* Decode a PNG held in memory (same rules as image_load). */
struct image *image_load_png_mem(const void *data, size_t len, const unsigned char bg[3],
                                 int max_dim, char **err);

/* The size (*dw x *dh, each >= 1) of an sw x sh image fitted into a box_w x
 * box_h box keeping its aspect ratio. upscale 0: never larger than the source. */
void image_fit(int sw, int sh, int box_w, int box_h, int upscale, int *dw, int *dh);

/* A copy of src resized to dw x dh: an area-averaging box filter when
 * shrinking (no aliasing), bilinear when enlarging. NULL on ENOMEM. */
struct image *image_scale(const struct image *src, int dw, int dh);

/* Decode path and fit it into box_w x box_h (image_fit, then image_scale):
 * the common case for previews. */
struct image *image_load_fit(const char *path, const unsigned char bg[3], int box_w, int box_h,
                             int upscale, char **err);

#endif
