/*
 * view_detail.h: the detail pane of the selected job: every parameter, the
 * seed, timings, worker, the error in full (JSON pretty-printed), the image
 * paths. The image itself is the preview's (preview.h), in its own window.
 */
#ifndef SDQ_VIEW_DETAIL_H
#define SDQ_VIEW_DETAIL_H

#include <stdint.h>
#include "tui.h"
#include "job.h"

/* Draw job j (borrowed; NULL: a hint) into w, which the caller has erased,
 * with timers computed at now (wall clock ms). w may be taller than the
 * visible pane (a pad the caller scrolls): the prompts are drawn in full.
 * waits_key: the job waits for a driver holding its API key; waiting: why
 * it waits and for how long (waitwhy_format), or NULL. Returns the rows
 * used. */
int view_detail_draw(WINDOW *w, const struct job *j, int64_t now, int waits_key,
                     const char *waiting);

#endif
