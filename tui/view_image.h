/*
 * view_image.h: the full-screen image viewer (v), one screen of the
 * dashboard's loop like the others: ui.c draws it, hands it keys and frees
 * it, so jobs keep moving (polled, saved, children read) while an image is
 * open. It shows one image of a job at a time, with Left/Right stepping
 * through a batch; the image itself is drawn by the preview (preview.h).
 */
#ifndef SDQ_VIEW_IMAGE_H
#define SDQ_VIEW_IMAGE_H

#include <stdint.h>
#include "tui.h"
#include "job.h"
#include "preview.h"

struct view_image;

/* A viewer of job j's images (j is copied), starting at the first. NULL
 * on ENOMEM. */
struct view_image *view_image_new(const struct job *j);
void view_image_free(struct view_image *v);

/* The job shown. */
int64_t view_image_job_id(const struct view_image *v);
/* The job changed elsewhere (a fresh copy of it; j is copied): show what it
 * has now. */
void view_image_update(struct view_image *v, const struct job *j);

/* Draw into w (the caller erased it): a title line, the image under it
 * through pv (a sixel is queued for preview_update). */
void view_image_draw(struct view_image *v, struct preview *pv, WINDOW *w);

/* Handle a key (a curses KEY_* code when is_key, else a character): 1 the
 * viewer stays (redraw), 0 the user closed it. */
int view_image_key(struct view_image *v, int code, int is_key);

#endif
