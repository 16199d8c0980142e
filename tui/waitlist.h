/*
 * waitlist.h: why each waiting job of the jobs table waits, in a few words
 * ("4 ahead ~40s", "cold start", "throttled", "waiting for job 12 on gpu"),
 * from core/waitwhy with the health the dashboard keeps.
 *
 * waitwhy_gather reads the store for one job (every live job, the recent
 * finished ones); the table asks for each visible row on every frame. So
 * the store is read here at most once a second, whatever the number of rows
 * asking (the live jobs in queue order, the recent finished jobs), and each
 * answer is kept until the next read. No curses.
 */
#ifndef SDQ_WAITLIST_H
#define SDQ_WAITLIST_H

#include <stddef.h>
#include <stdint.h>

#include "job.h"

struct store;
struct engine_health;
struct waitwhy;

struct waitlist;

/* A list reading st (borrowed). NULL on ENOMEM. */
struct waitlist *waitlist_new(struct store *st);
void waitlist_free(struct waitlist *wl);

/* Why job j waits, short, or NULL when it does not (not live, running).
 * h: its endpoint's health (NULL: unknown). Borrowed until the next call. */
const char *waitlist_reason(struct waitlist *wl, const struct job *j,
                            const struct engine_health *h, int64_t now_ms);

/* The short form of a waitwhy answer: its reason up to the first ':', '('
 * or ',' ("cold start", "throttled", "4 ahead", "waiting for job 12 on
 * gpu"), and "~40s" when there is an estimate. Returns buf. */
char *waitlist_short(const struct waitwhy *w, char *buf, size_t size);

/* How many times the store was read (tests). */
unsigned long waitlist_reads(const struct waitlist *wl);

#endif
