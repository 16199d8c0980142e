/*
 * test_limiter.c: the endpoint request limiter on an explicit clock: the
 * burst and the steady rate of a bucket (and the wait it announces), the
 * concurrency cap, FIFO order and front insertion, dropped entries, operations
 * independent of each other, and no window of 10 s above 90% of the budget.
 */
#include "th.h"
#include "limiter.h"

enum { OP_A, OP_B, OP_TINY, NOPS };

static const struct limiter_limit lims[NOPS] = {
    [OP_A] = {1000, 4}, /* burst 100, then 80 per 1000 ms */
    [OP_B] = {100, 1},  /* burst 10, then 8 per 1000 ms */
    [OP_TINY] = {2, 1}, /* burst 1 (the floor), then 0.8 per 10 s */
};

/* Take every request of op that may go at now, finishing each at once (so
 * the concurrency cap never binds). Returns how many went. */
static int drain(struct limiter *l, int op, int64_t now, int64_t *wait)
{
	struct limiter_entry *q;
	int n = 0;
	while ((q = limiter_take(l, op, now, wait))) {
		limiter_entry_free(q);
		n++;
	}
	return n;
}

static void test_burst_then_rate(void)
{
	struct limiter *l = limiter_new(lims, NOPS, 1000);
	static int tag[300];
	int64_t wait = -1;
	int n;

	CHECK(l != NULL);
	for (int i = 0; i < 300; i++)
		CHECK(limiter_enqueue(l, OP_A, &tag[i], 0) != NULL);
	CHECK_INT(drain(l, OP_A, 1000, &wait), 100); /* the burst: 10% of 1000 */
	/* no token: the wait for the next one is announced (1/0.08 per ms) */
	CHECK(wait >= 1 && wait <= 13);
	wait = -1;
	CHECK_INT(drain(l, OP_A, 1000, &wait), 0);
	CHECK(wait >= 1);
	/* one second later: 80 more (80% of 1000 per 10 s is 80 per second) */
	wait = -1;
	n = drain(l, OP_A, 2000, &wait);
	CHECK(n >= 79 && n <= 80); /* 80, give or take the float rounding */
	/* a shorter wait already known is kept */
	wait = 1;
	CHECK_INT(drain(l, OP_A, 2000, &wait), 0);
	CHECK_INT(wait, 1);
	/* the bucket never holds more than the burst */
	wait = -1;
	CHECK_INT(drain(l, OP_A, 1000000, &wait), 100);
	CHECK_INT(drain(l, OP_A, 1000000, &wait), 0);
	limiter_free(l);
}

/* Whatever the schedule, no 10 s window sends more than 90% of per10s. */
static void test_window_bound(void)
{
	struct limiter *l = limiter_new(lims, NOPS, 0);
	static int tag;
	int sent[200] = {0}; /* per 100 ms slot over 20 s */
	int64_t wait = -1;
	int worst = 0;

	for (int i = 0; i < 5000; i++)
		limiter_enqueue(l, OP_A, &tag, 0);
	for (int slot = 0; slot < 200; slot++)
		sent[slot] = drain(l, OP_A, (int64_t)slot * 100, &wait);
	for (int lo = 0; lo + 100 <= 200; lo++) {
		int n = 0;
		for (int k = lo; k < lo + 100; k++)
			n += sent[k];
		if (n > worst)
			worst = n;
	}
	CHECK(worst <= 900);
	CHECK(worst >= 800); /* and the budget is used, not starved */
	limiter_free(l);
}

static void test_concurrency_cap(void)
{
	struct limiter *l = limiter_new(lims, NOPS, 0);
	static int tag[3];
	struct limiter_entry *q;
	int64_t wait = -1;

	for (int i = 0; i < 3; i++)
		limiter_enqueue(l, OP_B, &tag[i], 0);
	q = limiter_take(l, OP_B, 0, &wait);
	CHECK(q != NULL);
	CHECK(q && limiter_entry_udata(q) == &tag[0]);
	limiter_entry_free(q);
	limiter_started(l, OP_B);
	/* one in flight of one allowed: none may go, and no token wait is said */
	CHECK(limiter_take(l, OP_B, 0, &wait) == NULL);
	CHECK_INT(wait, -1);
	limiter_finished(l, OP_B);
	q = limiter_take(l, OP_B, 0, &wait);
	CHECK(q && limiter_entry_udata(q) == &tag[1]);
	limiter_entry_free(q);
	limiter_free(l); /* frees tag[2]'s entry */
}

static void test_fifo_front_drop(void)
{
	struct limiter *l = limiter_new(lims, NOPS, 0);
	static int tag[4];
	struct limiter_entry *q, *e1;
	int64_t wait = -1;

	limiter_enqueue(l, OP_A, &tag[0], 0);
	e1 = limiter_enqueue(l, OP_A, &tag[1], 0);
	limiter_enqueue(l, OP_A, &tag[2], 0);
	limiter_enqueue(l, OP_A, &tag[3], 1); /* front */
	limiter_drop(e1);
	q = limiter_take(l, OP_A, 0, &wait);
	CHECK(q && limiter_entry_udata(q) == &tag[3]);
	limiter_entry_free(q);
	q = limiter_take(l, OP_A, 0, &wait);
	CHECK(q && limiter_entry_udata(q) == &tag[0]);
	limiter_entry_free(q);
	q = limiter_take(l, OP_A, 0, &wait); /* tag[1] was dropped */
	CHECK(q && limiter_entry_udata(q) == &tag[2]);
	limiter_entry_free(q);
	CHECK(limiter_take(l, OP_A, 0, &wait) == NULL);
	CHECK_INT(wait, -1); /* an empty queue waits for nothing */
	/* a dropped entry costs no token: 100 - 3 taken remain */
	for (int i = 0; i < 200; i++)
		limiter_enqueue(l, OP_A, &tag[0], 0);
	CHECK_INT(drain(l, OP_A, 0, &wait), 97);
	/* front on an empty queue, then a back one after it */
	limiter_free(l);
	l = limiter_new(lims, NOPS, 0);
	limiter_enqueue(l, OP_B, &tag[0], 1);
	limiter_enqueue(l, OP_B, &tag[1], 0);
	q = limiter_take(l, OP_B, 0, &wait);
	CHECK(q && limiter_entry_udata(q) == &tag[0]);
	limiter_entry_free(q);
	q = limiter_take(l, OP_B, 0, &wait);
	CHECK(q && limiter_entry_udata(q) == &tag[1]);
	limiter_entry_free(q);
	limiter_free(l);
}

static void test_ops_independent(void)
{
	struct limiter *l = limiter_new(lims, NOPS, 0);
	static int tag;
	int64_t wait = -1;

	for (int i = 0; i < 20; i++) {
		limiter_enqueue(l, OP_B, &tag, 0);
		limiter_enqueue(l, OP_TINY, &tag, 0);
	}
	CHECK_INT(drain(l, OP_B, 0, &wait), 10);
	/* OP_TINY: a budget under 10 still gets one token of burst */
	CHECK_INT(drain(l, OP_TINY, 0, &wait), 1);
	/* its steady rate is 0.9 * 2 - 1 per 10 s: the next token in 12.5 s */
	wait = -1;
	CHECK_INT(drain(l, OP_TINY, 0, &wait), 0);
	CHECK(wait >= 12500 && wait <= 12501);
	CHECK_INT(drain(l, OP_TINY, wait + 1, &wait), 1);
	limiter_free(l);
	limiter_free(NULL);
}

int main(void)
{
	TH_RUN(test_burst_then_rate);
	TH_RUN(test_window_bound);
	TH_RUN(test_concurrency_cap);
	TH_RUN(test_fifo_front_drop);
	TH_RUN(test_ops_independent);
	return th_done("test_limiter");
}
