/*
 * view_header.h: the dashboard's top line: each endpoint's health in words
 * ("workers: 2 idle, 1 running; 0 in queue", AUTH FAILED, UNREACHABLE...),
 * the live count and the process's role on the right. The counts agree with
 * the jobs table in the same frame: others' jobs come from the endpoint's
 * last health report, ours from the table (the report less our jobs as they
 * were when it came, plus our jobs now).
 */
#ifndef SDQ_VIEW_HEADER_H
#define SDQ_VIEW_HEADER_H

#include "tui.h"

struct config;
struct engine;
struct joblist;
struct view_header;

/* A header for cfg's endpoints (cfg borrowed: it must outlive it). NULL on
 * ENOMEM. */
struct view_header *view_header_new(const struct config *cfg);
void view_header_free(struct view_header *vh);

/* A health report of endpoint name came (ENGINE_EV_HEALTH): remember its
 * counts (a report without counts keeps the last ones) and our jobs on it
 * now. */
void view_header_health(struct view_header *vh, struct engine *e, const struct joblist *jl,
                        const char *name);

/* Draw the line into w (one row, erased here); colors: colour pairs are in
 * use (draw_init). */
void view_header_draw(struct view_header *vh, WINDOW *w, struct engine *e, const struct joblist *jl,
                      int colors);

#endif
