/*
 * gallery.h: the thumbnail gallery (t) of the dashboard: the jobs of the
 * table in a grid of thumbnails, the selected one marked. The images go
 * through preview.h (preview_tiles), so sixel placement, erasing and the
 * half-block fallback are the image pane's.
 */
#ifndef SDQ_GALLERY_H
#define SDQ_GALLERY_H

#include <stddef.h>

#include "tui.h"
#include "job.h"
#include "preview.h"

/* Draw jobs[0..n) (borrowed) in a grid in win, which the caller has
 * erased; sel is the selected index, *top the first visible index
 * (adjusted to keep sel visible; may be NULL). Only visible thumbnails are
 * decoded. */
void gallery_draw(struct preview *pv, WINDOW *win, struct job **jobs, size_t n, size_t sel,
                  size_t *top);
/* Columns and rows of thumbnails the gallery fits into win (at least 1). */
void gallery_grid(struct preview *pv, WINDOW *win, int *cols, int *rows);

#endif
