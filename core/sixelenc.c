/*
 * sixelenc.c: encode RGB888 images to sixel in memory through libsixel's
 * low-level API, and keep recent encodings in an LRU cache with a byte budget.
 *
 * libsixel dithers the pixel buffer it is given in place, so the encoder
 * always works on a private copy. Output arrives in chunks through a callback
 * and is collected into one capped buffer, so a caller can send an image with
 * a single write().
 */
#include "sixelenc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sixel/sixel.h>

#include "util.h"

#define SIXELENC_CACHE_DEFAULT_BUDGET (32u * 1024 * 1024)

struct sink {
	unsigned char *buf;
	size_t len, cap;
	int failed; /* over the cap or out of memory */
};

static int sink_write(char *data, int size, void *priv)
{
	struct sink *s = priv;

	if (s->failed || size <= 0)
		return 0;
	if (s->len + (size_t)size > SIXELENC_MAX_BYTES) {
		s->failed = 1;
		return 0;
	}
	if (s->len + (size_t)size > s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 65536;
		unsigned char *nb;

		while (ncap < s->len + (size_t)size)
			ncap *= 2;
		if (ncap > SIXELENC_MAX_BYTES)
			ncap = SIXELENC_MAX_BYTES;
		nb = realloc(s->buf, ncap);
		if (!nb) {
			s->failed = 1;
			return 0;
		}
		s->buf = nb;
		s->cap = ncap;
	}
	memcpy(s->buf + s->len, data, (size_t)size);
	s->len += (size_t)size;
	return 0;
}

int sixelenc_image(const struct image *im, int ncolors, enum sixelenc_diffuse diffuse,
                   unsigned char **out, size_t *len, char **err)
{
	sixel_output_t *so = NULL;
	sixel_dither_t *dit = NULL;
	struct sink s = {0};
	unsigned char *copy;
	size_t n;
	SIXELSTATUS st;
	int method;

	*out = NULL;
	*len = 0;
	if (!im || im->w <= 0 || im->h <= 0) {
		util_set_err(err, "sixel: empty image");
		return -1;
	}
	if (ncolors <= 0 || ncolors > 256)
		ncolors = 256;
	if (ncolors < 2)
		ncolors = 2;
	n = (size_t)im->w * im->h * 3;
	copy = malloc(n);
	if (!copy) {
		util_set_err(err, "sixel: out of memory");
		return -1;
	}
	memcpy(copy, im->rgb, n);

	st = sixel_output_new(&so, sink_write, &s, NULL);
	if (SIXEL_SUCCEEDED(st))
		st = sixel_dither_new(&dit, ncolors, NULL);
	if (SIXEL_SUCCEEDED(st))
		st = sixel_dither_initialize(dit, copy, im->w, im->h, SIXEL_PIXELFORMAT_RGB888,
		                             SIXEL_LARGE_AUTO, SIXEL_REP_AUTO, SIXEL_QUALITY_AUTO);
	if (SIXEL_SUCCEEDED(st)) {
		method = diffuse == SIXELENC_DIFFUSE_FS         ? SIXEL_DIFFUSE_FS
		         : diffuse == SIXELENC_DIFFUSE_ATKINSON ? SIXEL_DIFFUSE_ATKINSON
		                                                : SIXEL_DIFFUSE_NONE;
		sixel_dither_set_diffusion_type(dit, method);
		st = sixel_encode(copy, im->w, im->h, 3, dit, so);
	}
	if (dit)
		sixel_dither_unref(dit);
	if (so)
		sixel_output_unref(so);
	free(copy);
	if (SIXEL_FAILED(st) || s.failed || s.len == 0) {
		util_set_err(err, "sixel: encoding failed (%s)",
		             s.failed ? "output too large or out of memory"
		                      : sixel_helper_format_error(st));
		free(s.buf);
		return -1;
	}
	*out = s.buf;
	*len = s.len;
	return 0;
}

struct centry {
	struct centry *prev, *next; /* LRU list, most recent first */
	char *path;
	int64_t mtime_ns, file_size;
	int box_w, box_h, ncolors, upscale, diffuse;
	unsigned char *data;
	size_t len;
	int w, h;
};

struct sixelenc_cache {
	struct centry *head, *tail;
	size_t budget, bytes, entries;
	unsigned long hits, encodes;
	/* the latest encoding too large to keep, so render can still lend it */
	unsigned char *spill;
};

struct sixelenc_cache *sixelenc_cache_new(size_t budget)
{
	struct sixelenc_cache *c = calloc(1, sizeof *c);

	if (c)
		c->budget = budget ? budget : SIXELENC_CACHE_DEFAULT_BUDGET;
	return c;
}

static void centry_free(struct centry *e)
{
	free(e->path);
	free(e->data);
	free(e);
}

static void unlink_entry(struct sixelenc_cache *c, struct centry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void push_front(struct sixelenc_cache *c, struct centry *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head)
		c->head->prev = e;
	c->head = e;
	if (!c->tail)
		c->tail = e;
}

void sixelenc_cache_free(struct sixelenc_cache *c)
{
	struct centry *e, *nx;

	if (!c)
		return;
	for (e = c->head; e; e = nx) {
		nx = e->next;
		centry_free(e);
	}
	free(c->spill);
	free(c);
}

static int key_eq(const struct centry *e, const struct sixelenc_key *k)
{
	return e->mtime_ns == k->mtime_ns && e->file_size == k->file_size && e->box_w == k->box_w &&
	       e->box_h == k->box_h && e->ncolors == k->ncolors && e->upscale == k->upscale &&
	       e->diffuse == k->diffuse && strcmp(e->path, k->path) == 0;
}

int sixelenc_cache_get(struct sixelenc_cache *c, const struct sixelenc_key *key,
                       struct sixelenc_entry *out)
{
	struct centry *e;

	if (!c || !key || !key->path)
		return 0;
	for (e = c->head; e; e = e->next) {
		if (key_eq(e, key)) {
			unlink_entry(c, e);
			push_front(c, e);
			out->data = e->data;
			out->len = e->len;
			out->w = e->w;
			out->h = e->h;
			c->hits++;
			return 1;
		}
	}
	return 0;
}

int sixelenc_cache_put(struct sixelenc_cache *c, const struct sixelenc_key *key,
                       const unsigned char *data, size_t len, int w, int h)
{
	struct centry *e;

	if (!c || !key || !key->path)
		return -1;
	if (len > c->budget)
		return 1;
	/* drop an older copy under the same key */
	for (e = c->head; e; e = e->next) {
		if (key_eq(e, key)) {
			unlink_entry(c, e);
			c->bytes -= e->len;
			c->entries--;
			centry_free(e);
			break;
		}
	}
	while (c->tail && c->bytes + len > c->budget) {
		e = c->tail;
		unlink_entry(c, e);
		c->bytes -= e->len;
		c->entries--;
		centry_free(e);
	}
	e = calloc(1, sizeof *e);
	if (!e)
		return -1;
	e->path = strdup(key->path);
	e->data = malloc(len ? len : 1);
	if (!e->path || !e->data) {
		centry_free(e);
		return -1;
	}
	memcpy(e->data, data, len);
	e->len = len;
	e->mtime_ns = key->mtime_ns;
	e->file_size = key->file_size;
	e->box_w = key->box_w;
	e->box_h = key->box_h;
	e->ncolors = key->ncolors;
	e->upscale = key->upscale;
	e->diffuse = key->diffuse;
	e->w = w;
	e->h = h;
	push_front(c, e);
	c->bytes += len;
	c->entries++;
	return 0;
}

int sixelenc_file(const char *path, int box_w, int box_h, int upscale, int ncolors,
                  enum sixelenc_diffuse diffuse, const unsigned char bg[3], unsigned char **out,
                  size_t *len, int *w, int *h, char **err)
{
	struct image *im;
	int dw, dh, rc;

	if (!path) {
		util_set_err(err, "sixel: no image");
		return -1;
	}
	if (box_w < 1 || box_h < 6) {
		util_set_err(err, "sixel: no room for an image");
		return -1;
	}
	im = image_load(path, bg, 0, err);
	if (!im)
		return -1;
	image_fit(im->w, im->h, box_w, box_h - box_h % 6, upscale, &dw, &dh);
	dh -= dh % 6;
	if (dh < 6)
		dh = 6;
	if (dw != im->w || dh != im->h) {
		struct image *sc = image_scale(im, dw, dh);

		image_free(im);
		im = sc;
		if (!im) {
			util_set_err(err, "%s: out of memory while scaling", path);
			return -1;
		}
	}
	rc = sixelenc_image(im, ncolors, diffuse, out, len, err);
	if (rc == 0) {
		*w = im->w;
		*h = im->h;
	}
	image_free(im);
	return rc;
}

int sixelenc_cache_render(struct sixelenc_cache *c, const char *path, int box_w, int box_h,
                          int upscale, int ncolors, enum sixelenc_diffuse diffuse,
                          const unsigned char bg[3], struct sixelenc_entry *e, char **err)
{
	struct stat st;
	struct sixelenc_key k;
	unsigned char *buf;
	size_t len;
	int rc, w = 0, h = 0;

	if (!c || !path) {
		util_set_err(err, "sixel: no image");
		return -1;
	}
	if (box_w < 1 || box_h < 6) {
		util_set_err(err, "sixel: no room for an image");
		return -1;
	}
	if (stat(path, &st) != 0) {
		util_set_err(err, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (ncolors <= 0 || ncolors > 256)
		ncolors = 256;
	k.path = path;
	k.mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	k.file_size = (int64_t)st.st_size;
	k.box_w = box_w;
	k.box_h = box_h;
	k.ncolors = ncolors;
	k.upscale = upscale != 0;
	k.diffuse = (int)diffuse;
	if (sixelenc_cache_get(c, &k, e))
		return 0;

	if (sixelenc_file(path, box_w, box_h, upscale, ncolors, diffuse, bg, &buf, &len, &w, &h,
	                  err) != 0)
		return -1;
	c->encodes++;
	rc = sixelenc_cache_put(c, &k, buf, len, w, h);
	if (rc == 0) {
		free(buf);
		if (sixelenc_cache_get(c, &k, e)) {
			c->hits--; /* that lookup was not a hit */
			rc = 0;
		} else {
			rc = -1;
			util_set_err(err, "sixel: cache lost the entry");
		}
	} else if (rc == 1) {
		free(c->spill);
		c->spill = buf;
		e->data = buf;
		e->len = len;
		e->w = w;
		e->h = h;
		rc = 0;
	} else {
		free(buf);
		util_set_err(err, "sixel: out of memory");
	}
	return rc;
}

void sixelenc_cache_stats(const struct sixelenc_cache *c, unsigned long *hits,
                          unsigned long *encodes, size_t *bytes, size_t *entries)
{
	if (hits)
		*hits = c ? c->hits : 0;
	if (encodes)
		*encodes = c ? c->encodes : 0;
	if (bytes)
		*bytes = c ? c->bytes : 0;
	if (entries)
		*entries = c ? c->entries : 0;
}
