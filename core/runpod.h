/*
 * runpod.h: what the RunPod backend exposes besides its constructor
 * (runpod_backend_new, in backend.h): its parser of IN_PROGRESS outputs, for
 * tests and fuzzing.
 */
#ifndef SDQ_RUNPOD_H
#define SDQ_RUNPOD_H

#include <stddef.h>

/* Read a worker's progress from the JSON text of an IN_PROGRESS "output" (of
 * len bytes): "4/10", "40%", "step 4 of 10", 0.4, {"progress": 0.4 or
 * "4/10"}, {"step": 4, "total": 10}, {"percent": 40}... *frac gets 0..1, or -1
 * when unknown (never NaN); text (tlen bytes, tlen > 0) gets a short
 * single-line description, possibly empty. 0, or -1 if json is not JSON. */
int runpod_progress_parse(const char *json, size_t len, double *frac, char *text, size_t tlen);

#endif
