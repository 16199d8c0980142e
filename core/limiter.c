/*
 * limiter.c: per-operation token buckets, concurrency caps and FIFOs of
 * waiting requests for one endpoint (see limiter.h). Moved out of runpod.c,
 * which decides the budgets (RunPod's documented limits) and when to pause.
 */
#include "limiter.h"

#include <math.h>
#include <stdlib.h>

struct limiter_entry {
	struct limiter_entry *next;
	void *udata;
	int dead;
};

struct bucket {
	double tokens, cap, rate; /* rate in tokens per ms */
	int64_t last;
	int inflight, max_inflight;
	int tok; /* the operation whose tokens this one spends (itself by default) */
	struct limiter_entry *head, *tail;
};

struct limiter {
	int nops;
	struct bucket bk[];
};

struct limiter *limiter_new(const struct limiter_limit *limits, int nops, int64_t now)
{
	struct limiter *l;

	if (nops < 0)
		return NULL;
	l = calloc(1, sizeof *l + (size_t)nops * sizeof l->bk[0]);
	if (!l)
		return NULL;
	l->nops = nops;
	for (int op = 0; op < nops; op++) {
		struct bucket *bk = &l->bk[op];
		bk->cap = limits[op].per10s * 0.1;
		if (bk->cap < 1)
			bk->cap = 1;
		/* steady rate: 80% of the budget, minus the burst for tiny budgets */
		bk->rate = (limits[op].per10s * 0.9 - bk->cap) / 10000.0;
		if (bk->rate <= 0)
			bk->rate = limits[op].per10s * 0.45 / 10000.0;
		bk->tokens = bk->cap;
		bk->last = now;
		bk->max_inflight = limits[op].concurrent;
		bk->tok = op;
	}
	return l;
}

void limiter_free(struct limiter *l)
{
	if (!l)
		return;
	for (int op = 0; op < l->nops; op++) {
		struct limiter_entry *q = l->bk[op].head;
		while (q) {
			struct limiter_entry *n = q->next;
			free(q);
			q = n;
		}
	}
	free(l);
}

struct limiter_entry *limiter_enqueue(struct limiter *l, int op, void *udata, int front)
{
	struct bucket *bk = &l->bk[op];
	struct limiter_entry *q = calloc(1, sizeof *q);
	if (!q)
		return NULL;
	q->udata = udata;
	if (front) {
		q->next = bk->head;
		bk->head = q;
		if (!bk->tail)
			bk->tail = q;
	} else {
		if (bk->tail)
			bk->tail->next = q;
		else
			bk->head = q;
		bk->tail = q;
	}
	return q;
}

void limiter_drop(struct limiter_entry *q)
{
	q->dead = 1;
}

static void refill(struct bucket *bk, int64_t now)
{
	if (now > bk->last) {
		bk->tokens += (double)(now - bk->last) * bk->rate;
		if (bk->tokens > bk->cap)
			bk->tokens = bk->cap;
		bk->last = now;
	}
}

struct limiter_entry *limiter_take(struct limiter *l, int op, int64_t now, int64_t *wait_ms)
{
	struct bucket *bk = &l->bk[op], *tb = &l->bk[bk->tok];

	refill(tb, now);
	while (bk->head) {
		struct limiter_entry *q = bk->head;
		if (!q->dead) {
			if (bk->inflight >= bk->max_inflight)
				return NULL;
			if (tb->tokens < 1.0) {
				int64_t w = (int64_t)ceil((1.0 - tb->tokens) / tb->rate);
				if (w < 1)
					w = 1;
				if (*wait_ms < 0 || w < *wait_ms)
					*wait_ms = w;
				return NULL;
			}
		}
		bk->head = q->next;
		if (!bk->head)
			bk->tail = NULL;
		if (q->dead) {
			free(q);
			continue;
		}
		tb->tokens -= 1.0;
		q->next = NULL;
		return q;
	}
	return NULL;
}

void *limiter_entry_udata(const struct limiter_entry *q)
{
	return q->udata;
}

void limiter_entry_free(struct limiter_entry *q)
{
	free(q);
}

void limiter_started(struct limiter *l, int op)
{
	l->bk[op].inflight++;
}

void limiter_finished(struct limiter *l, int op)
{
	l->bk[op].inflight--;
}

void limiter_share_tokens(struct limiter *l, int op, int with)
{
	l->bk[op].tok = l->bk[with].tok;
}

int limiter_busy(const struct limiter *l, int op)
{
	const struct bucket *bk = &l->bk[op];
	int n = bk->inflight;
	for (const struct limiter_entry *q = bk->head; q && n < bk->max_inflight; q = q->next)
		n += !q->dead;
	return n >= bk->max_inflight;
}
