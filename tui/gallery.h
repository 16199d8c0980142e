/*
 * gallery.h: the thumbnail gallery (t) of the dashboard: the jobs of the
 * table in a grid of thumbnails, the selected one marked. The images go
 * through preview.h (preview_tiles), so sixel placement, erasing and the
 * half-block fallback are the image pane's.
 */
#ifndef SDQ_GALLERY_H
#define SDQ_GALLERY_H

#include <stddef.h>
#include <stdint.h>

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

/* A group's gallery (t on a group's row, vary.h): its images laid out by
 * what varies. The last axis goes across and the one before it down, with
 * their values as labels on the top and left edges; the axes before those
 * make pages (gallery_axes_move's dpage: PgDn, PgUp), their values in the
 * title. One axis (a seed sweep): its values in a row, wrapped to the
 * width, each labelled above its cell. Each job is placed by its variant
 * (job.h), so a deleted job leaves its cell empty; a live job shows its
 * state or progress until its image comes. */
struct gallery_axes;
/* The layout of group group_id from its axes (store_group's axes_json: [{"key":
 * K, "values": [...]}, ...]) and its jobs[0..n) (copied). NULL on ENOMEM. */
struct gallery_axes *gallery_axes_new(int64_t group_id, const char *axes_json,
                                      struct job *const *jobs, size_t n);
void gallery_axes_free(struct gallery_axes *ga);
/* 1 if job id has a cell. */
int gallery_axes_has(const struct gallery_axes *ga, int64_t id);
/* Job j changed: its cell takes a copy. 1 if it has a cell. */
int gallery_axes_update(struct gallery_axes *ga, const struct job *j);
/* Move the selection by dx cells across, dy down, dpage pages (clamped). */
/* Where the selection is among the cells, in page, row, column order:
 * *at (from 0) of *n cells (nx * ny * pages). */
void gallery_axes_position(const struct gallery_axes *ga, size_t *at, size_t *n);
void gallery_axes_move(struct gallery_axes *ga, int dx, int dy, int dpage);
/* The selected cell's job (borrowed), or NULL for an empty cell. */
const struct job *gallery_axes_selected(const struct gallery_axes *ga);
/* Draw the selection's page into win, which the caller has erased. */
void gallery_axes_draw(struct gallery_axes *ga, struct preview *pv, WINDOW *win);

#endif
