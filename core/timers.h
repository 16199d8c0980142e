/*
 * timers.h: the engine's timers (engine_timer_add and friends, engine.h),
 * a binary min-heap on (due, id) kept apart from the loop that fires them.
 * Times are util_now_ms() (monotonic) milliseconds; ids start at 1 and are
 * never reused, so a stale id cancels nothing. One owner, one thread.
 */
#ifndef SDQ_TIMERS_H
#define SDQ_TIMERS_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"

struct timers;

/* An empty heap, or NULL on ENOMEM. */
struct timers *timers_new(void);
/* Free it (no callback is made). Accepts NULL. */
void timers_free(struct timers *t);
/* cb(e, udata) at due (or at the first timers_fire after it). The timer's
 * id, or 0 on ENOMEM. */
uint64_t timers_add(struct timers *t, int64_t due, engine_timer_cb cb, void *udata);
/* Forget timer id if it has not fired (0 and unknown ids are ignored). */
void timers_cancel(struct timers *t, uint64_t id);
size_t timers_count(const struct timers *t);
/* When the soonest timer is due, or INT64_MAX with none. */
int64_t timers_next_due(const struct timers *t);
/* Call every timer due by now, passing e, but none added while firing (a
 * 0 ms timer added by a callback fires at the next call), so a call always
 * ends. Callbacks may add and cancel timers. */
void timers_fire(struct timers *t, int64_t now, struct engine *e);

#endif
