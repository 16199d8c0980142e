/*
 * saver.h: images written to disk off the loop (issue 11, "Nothing blocks
 * the loop").
 *
 * Writing an image durably means an fsync of the file and of its directory:
 * 10-25 ms each on an ordinary disk, more on a slow one, during which a
 * loop would answer nothing. A saver hands the writes (output_write, after
 * output_prepare on the loop) to one writer thread; the thread does nothing
 * but file system calls on what it was handed, syncs each directory once
 * per batch, and tells the loop through an eventfd the loop watches. The
 * completion callbacks run on the loop (from engine_step), never on the
 * thread, and only after the image and its directory entry are on disk: a
 * caller that commits in the callback commits after the image is durable.
 *
 * The thread is started on the first save. A process that saves nothing has
 * one thread.
 */
#ifndef SDQ_SAVER_H
#define SDQ_SAVER_H

#include <stdint.h>
#include "output.h"

struct engine;
struct saver;

/* An image was written (rc 0: out is what the job records, owned by the
 * callee now: free its strings or hand them on) or not (rc -1: err says
 * why; out is empty). Called from the loop. */
typedef void (*saver_cb)(int rc, const char *err, struct job_output *out, void *udata);

/* A saver whose completions arrive through e's loop. NULL with *err. */
struct saver *saver_new(struct engine *e, char **err);
/* Stop the thread: what it is writing is finished, what waits is dropped
 * (no callback is made for either). Accepts NULL. */
void saver_free(struct saver *s);
/* Write *f (taken: f is left empty) on the thread; cb(rc, err, out,
 * udata) follows on the loop unless saver_cancel comes first. Returns an id
 * (> 0), or 0 with *err (f is cleared then too). */
uint64_t saver_save(struct saver *s, struct output_file *f, saver_cb cb, void *udata,
                    char **err);
/* No callback for save id; if it was not started, it is not written. */
void saver_cancel(struct saver *s, uint64_t id);
/* 1 if no save is waiting, being written, or waiting for its callback
 * (NULL: 1). */
int saver_idle(struct saver *s);

#endif
