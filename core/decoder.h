/*
 * decoder.h: images decoded, scaled and encoded on a worker thread, so the
 * one loop never waits for libpng, libjpeg or libsixel (a 2.8 MB PNG takes
 * 25-48 ms; over SSH every key waited for it).
 *
 * The front end asks for the images its screen lacks (decoder_ask), drawing
 * a placeholder meanwhile; the worker takes them one at a time, the latest
 * ask first in its order, and writes a byte to decoder_fd() after each; the
 * loop watches that fd (engine_watch_fd) and takes the results
 * (decoder_take) into its own caches. An ask replaces every request not
 * started yet, so when the selection moves on, the images it no longer
 * shows are never decoded; the one being decoded finishes and is returned
 * anyway (it may be wanted again). At most one image is in the worker.
 *
 * Threads: the worker touches only its request, the files and the queue
 * under the decoder's lock; everything here is called from the one loop.
 * Errors: 0 / -1 (or NULL) with *err a malloc'd message (err may be NULL).
 */
#ifndef SDQ_DECODER_H
#define SDQ_DECODER_H

#include <stddef.h>
#include <stdint.h>

#include "image.h"

enum decoder_kind {
	/* fitted into box_w x box_h pixels (upscale as in image_fit), height a
	 * multiple of 6, encoded as sixel (sixelenc_file) */
	DECODER_SIXEL,
	/* fitted into cols x rows cells of cell_w x cell_h pixels and scaled to
	 * one pixel per column and half row (half blocks): at most cols x
	 * 2*rows pixels, the height even */
	DECODER_HALFBLOCKS
};

/* What to make of one file. The path is copied by decoder_ask; mtime_ns and
 * file_size are the file's identity when asked, returned unchanged so the
 * result is filed under what the asker saw. */
struct decoder_req {
	int kind; /* enum decoder_kind */
	const char *path;
	int64_t mtime_ns, file_size;
	/* DECODER_SIXEL */
	int box_w, box_h, upscale, ncolors, diffuse; /* diffuse: enum sixelenc_diffuse */
	/* DECODER_HALFBLOCKS */
	int cols, rows, cell_w, cell_h;
};

/* One finished request (a list, linked through next). */
struct decoder_result {
	struct decoder_result *next;
	struct decoder_req req; /* req.path owned by the result */
	char *err;              /* set: the image could not be made (the reason) */
	unsigned char *sixel;   /* DECODER_SIXEL: the DCS sequence, sixel_len bytes */
	size_t sixel_len;
	int w, h;          /* DECODER_SIXEL: the image's size in pixels */
	struct image *im; /* DECODER_HALFBLOCKS: the scaled pixels */
};

struct decoder;

/* A decoder with its worker thread and completion pipe. NULL with *err. */
struct decoder *decoder_new(char **err);
/* Stops the worker (an image in progress is finished first) and frees every
 * request and result. Accepts NULL. */
void decoder_free(struct decoder *d);
/* Readable when results wait (non-blocking, close-on-exec); watch it for
 * POLLIN and call decoder_take. */
int decoder_fd(const struct decoder *d);
/* Replace the requests not started yet by reqs[0..n) (copied; n may be 0),
 * skipping any equal to the one in progress or to a result not taken yet.
 * 0, or -1 on ENOMEM (then nothing is queued). */
int decoder_ask(struct decoder *d, const struct decoder_req *reqs, size_t n);
/* The finished results, oldest first (the caller frees them with
 * decoder_result_free), or NULL; drains decoder_fd. */
struct decoder_result *decoder_take(struct decoder *d);
/* 2: req is being decoded now; 1: it is queued; 0: neither. */
int decoder_busy_with(struct decoder *d, const struct decoder_req *req);
/* Two requests ask for the same thing. */
int decoder_req_equal(const struct decoder_req *a, const struct decoder_req *b);
/* Free a list of results. Accepts NULL. */
void decoder_result_free(struct decoder_result *r);

#endif
