/*
 * sixel.h: RGB888 pixels -> sixel bytes in memory (libsixel), and a small LRU
 * cache of encoded images so a preview shown again costs no CPU.
 *
 * The bytes are a complete DCS sequence (ESC P ... q ... ESC \), ready to be
 * written to a terminal after positioning the cursor. Public names use the
 * prefix sixel_enc_ / sixel_cache_ so they never clash with libsixel's own.
 *
 * Errors: 0 / -1 (or NULL) with *err a malloc'd message (err may be NULL).
 */
#ifndef SDQ_SIXEL_H
#define SDQ_SIXEL_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"

/* Encoded output larger than this is an error (a full-screen 4K sixel at 256
 * colours is well under it). */
#define SIXEL_ENC_MAX_BYTES (64u * 1024 * 1024)

/* Error diffusion: none gives about half the bytes (better over SSH). */
enum sixel_enc_diffuse { SIXEL_ENC_DIFFUSE_NONE, SIXEL_ENC_DIFFUSE_ATKINSON, SIXEL_ENC_DIFFUSE_FS };

/* Encode im (not modified: libsixel dithers a private copy) with a palette of
 * ncolors (2..256; 0: 256). On success *out is a malloc'd buffer of *len
 * bytes that the caller frees. */
int sixel_enc_image(const struct image *im, int ncolors, enum sixel_enc_diffuse diffuse,
                    unsigned char **out, size_t *len, char **err);

/* What identifies an encoded image: the file (path, mtime, size), the target
 * box in pixels, the palette size, whether it could be enlarged and the
 * diffusion. */
struct sixel_key {
	const char *path;
	int64_t mtime_ns;
	int64_t file_size;
	int box_w, box_h;
	int ncolors;
	int upscale; /* fitted with upscaling allowed */
	int diffuse; /* enum sixel_enc_diffuse */
};

/* One cached encoding. Borrowed from the cache: valid until the next
 * sixel_cache_put / sixel_cache_render / sixel_cache_free on that cache. */
struct sixel_entry {
	const unsigned char *data;
	size_t len;
	int w, h; /* the image's size in pixels */
};

struct sixel_cache;

/* A cache holding at most budget bytes of sixel data (0: 32 MiB). NULL on ENOMEM. */
struct sixel_cache *sixel_cache_new(size_t budget);
void sixel_cache_free(struct sixel_cache *c);

/* Look key up; on a hit fill *e (borrowed, see above), mark it recently used
 * and return 1; 0 on a miss. */
int sixel_cache_get(struct sixel_cache *c, const struct sixel_key *key, struct sixel_entry *e);

/* Store a copy of data under key, evicting least recently used entries to stay
 * within the budget (an entry larger than the budget is not kept, and 1 is
 * returned: the caller still has its own copy). 0 stored, -1 ENOMEM. */
int sixel_cache_put(struct sixel_cache *c, const struct sixel_key *key, const unsigned char *data,
                    size_t len, int w, int h);

/* The common path: stat path, look it up for (box_w x box_h, ncolors,
 * diffuse), and on a miss decode it (transparent parts over bg), fit it into
 * the box (upscale as in image_fit), round its height down to a multiple of 6
 * and encode it. *e is borrowed as above. 0, or -1 with *err. */
int sixel_cache_render(struct sixel_cache *c, const char *path, int box_w, int box_h, int upscale,
                       int ncolors, enum sixel_enc_diffuse diffuse, const unsigned char bg[3],
                       struct sixel_entry *e, char **err);

/* Counters since sixel_cache_new: lookups that hit, encodings done, bytes
 * and entries held now. Any pointer may be NULL. */
void sixel_cache_stats(const struct sixel_cache *c, unsigned long *hits, unsigned long *encodes,
                       size_t *bytes, size_t *entries);

#endif
