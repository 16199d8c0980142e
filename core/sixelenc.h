/*
 * sixelenc.h: RGB888 pixels -> sixel bytes in memory (libsixel), and a small LRU
 * cache of encoded images so a preview shown again costs no CPU.
 *
 * The bytes are a complete DCS sequence (ESC P ... q ... ESC \), ready to be
 * written to a terminal after positioning the cursor. Public names use the
 * prefix sixelenc_ / sixelenc_cache_ so they never clash with libsixel's own.
 *
 * Errors: 0 / -1 (or NULL) with *err a malloc'd message (err may be NULL).
 */
#ifndef SDQ_SIXELENC_H
#define SDQ_SIXELENC_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"

/* Encoded output larger than this is an error (a full-screen 4K sixel at 256
 * colours is well under it). */
#define SIXELENC_MAX_BYTES (64u * 1024 * 1024)

/* Error diffusion: none gives about half the bytes (better over SSH). */
enum sixelenc_diffuse { SIXELENC_DIFFUSE_NONE, SIXELENC_DIFFUSE_ATKINSON, SIXELENC_DIFFUSE_FS };

/* Encode im (not modified: libsixel dithers a private copy) with a palette of
 * ncolors (2..256; 0: 256). On success *out is a malloc'd buffer of *len
 * bytes that the caller frees. */
int sixelenc_image(const struct image *im, int ncolors, enum sixelenc_diffuse diffuse,
                   unsigned char **out, size_t *len, char **err);

/* Decode the file at path (transparent parts over bg), fit it into box_w x
 * box_h (upscale as in image_fit), round its height down to a multiple of 6
 * and encode it: *out (malloc'd, the caller frees) of *len bytes, the
 * image's size *w x *h. No cache and no shared state: safe on any thread.
 * 0, or -1 with *err. */
int sixelenc_file(const char *path, int box_w, int box_h, int upscale, int ncolors,
                  enum sixelenc_diffuse diffuse, const unsigned char bg[3], unsigned char **out,
                  size_t *len, int *w, int *h, char **err);

/* What identifies an encoded image: the file (path, mtime, size), the target
 * box in pixels, the palette size, whether it could be enlarged and the
 * diffusion. */
struct sixelenc_key {
	const char *path;
	int64_t mtime_ns;
	int64_t file_size;
	int box_w, box_h;
	int ncolors;
	int upscale; /* fitted with upscaling allowed */
	int diffuse; /* enum sixelenc_diffuse */
};

/* One cached encoding. Borrowed from the cache: valid until the next
 * sixelenc_cache_put / sixelenc_cache_render / sixelenc_cache_free on that cache. */
struct sixelenc_entry {
	const unsigned char *data;
	size_t len;
	int w, h; /* the image's size in pixels */
};

struct sixelenc_cache;

/* A cache holding at most budget bytes of sixel data (0: 32 MiB). NULL on ENOMEM. */
struct sixelenc_cache *sixelenc_cache_new(size_t budget);
void sixelenc_cache_free(struct sixelenc_cache *c);

/* Look key up; on a hit fill *e (borrowed, see above), mark it recently used
 * and return 1; 0 on a miss. */
int sixelenc_cache_get(struct sixelenc_cache *c, const struct sixelenc_key *key,
                       struct sixelenc_entry *e);

/* Store a copy of data under key, evicting least recently used entries to stay
 * within the budget (an entry larger than the budget is not kept, and 1 is
 * returned: the caller still has its own copy). 0 stored, -1 ENOMEM. */
int sixelenc_cache_put(struct sixelenc_cache *c, const struct sixelenc_key *key,
                       const unsigned char *data, size_t len, int w, int h);

/* The common path: stat path, look it up for (box_w x box_h, ncolors,
 * diffuse), and on a miss decode it (transparent parts over bg), fit it into
 * the box (upscale as in image_fit), round its height down to a multiple of 6
 * and encode it. *e is borrowed as above. 0, or -1 with *err. */
int sixelenc_cache_render(struct sixelenc_cache *c, const char *path, int box_w, int box_h,
                          int upscale, int ncolors, enum sixelenc_diffuse diffuse,
                          const unsigned char bg[3], struct sixelenc_entry *e, char **err);

/* Counters since sixelenc_cache_new: lookups that hit, encodings done, bytes
 * and entries held now. Any pointer may be NULL. */
void sixelenc_cache_stats(const struct sixelenc_cache *c, unsigned long *hits,
                          unsigned long *encodes, size_t *bytes, size_t *entries);

#endif
