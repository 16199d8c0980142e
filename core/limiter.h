/*
 * limiter.h: the request limiter of one endpoint (runpod.c): per operation
 * (a small integer the caller defines), a token bucket (a burst, then a
 * steady rate) and a cap on requests in flight, with a FIFO of the requests
 * waiting for either.
 *
 * Pure bookkeeping: the limiter has no clock and no timers of its own. The
 * caller passes the time (ms on a monotonic clock), takes requests with
 * limiter_take() until it says none may go, and wakes up again after the wait
 * it was told (or when a request in flight ends). Pausing an endpoint after a
 * 429/503 is the caller's decision: it simply stops taking.
 */
#ifndef SDQ_LIMITER_H
#define SDQ_LIMITER_H

#include <stdint.h>

/* One operation's budget: requests per 10 s and requests in flight. */
struct limiter_limit {
	double per10s;
	int concurrent;
};

struct limiter;
/* A waiting request, owned by the limiter (freed by limiter_entry_free after
 * limiter_take, or by limiter_free). */
struct limiter_entry;

/* A limiter for nops operations, limits[op] each (copied), every bucket full
 * at now. The buckets allow 90% of per10s in any 10 s window: a burst of 10%,
 * then 80% as a steady rate. NULL on ENOMEM. */
struct limiter *limiter_new(const struct limiter_limit *limits, int nops, int64_t now);
/* Frees l and every entry still waiting. NULL is fine. */
void limiter_free(struct limiter *l);

/* Queue a request of op carrying udata (borrowed, given back by
 * limiter_entry_udata), at the back of op's FIFO, or at the front when front
 * is set. The entry, or NULL on ENOMEM. */
struct limiter_entry *limiter_enqueue(struct limiter *l, int op, void *udata, int front);
/* The request will never be sent: limiter_take skips it (and frees it). The
 * caller must not use q afterwards. */
void limiter_drop(struct limiter_entry *q);

/* The next request of op that may go at now (the head of op's FIFO, when a
 * request may start and a token is there): taken out of the queue, with its
 * token spent. Its entry is returned, still allocated so the caller can match
 * it against its own pointers; the caller frees it with limiter_entry_free.
 * NULL when none may go; if a token is what is missing, *wait_ms is lowered
 * (when it is < 0 or larger) to the ms until there is one. */
struct limiter_entry *limiter_take(struct limiter *l, int op, int64_t now, int64_t *wait_ms);
void *limiter_entry_udata(const struct limiter_entry *q);
void limiter_entry_free(struct limiter_entry *q);

/* op spends the tokens of operation with (its own bucket is then unused;
 * its FIFO and concurrency cap stay its own): two kinds of request that
 * count against one documented limit. */
void limiter_share_tokens(struct limiter *l, int op, int with);
/* 1 when op's requests in flight and waiting fill its concurrency cap. */
int limiter_busy(const struct limiter *l, int op);

/* A request of op started / ended (counts against its concurrency cap). */
void limiter_started(struct limiter *l, int op);
void limiter_finished(struct limiter *l, int op);

#endif
