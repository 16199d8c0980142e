/*
 * timers.c: a binary min-heap of timers on (due, id) (see timers.h). Split
 * out of engine.c; the loop asks it for the next due time and fires it.
 */
#include "timers.h"

#include <stdlib.h>

struct timer {
	int64_t due;
	uint64_t id;
	engine_timer_cb cb;
	void *udata;
};

struct timers {
	struct timer *heap;
	size_t n, cap;
	uint64_t next_id;
};

struct timers *timers_new(void)
{
	struct timers *t = calloc(1, sizeof *t);
	if (t)
		t->next_id = 1;
	return t;
}

void timers_free(struct timers *t)
{
	if (!t)
		return;
	free(t->heap);
	free(t);
}

static int timer_less(const struct timer *a, const struct timer *b)
{
	return a->due < b->due || (a->due == b->due && a->id < b->id);
}

static void heap_up(struct timers *t, size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;
		struct timer x;
		if (!timer_less(&t->heap[i], &t->heap[p]))
			break;
		x = t->heap[i];
		t->heap[i] = t->heap[p];
		t->heap[p] = x;
		i = p;
	}
}

static void heap_down(struct timers *t, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		struct timer x;
		if (l < t->n && timer_less(&t->heap[l], &t->heap[m]))
			m = l;
		if (r < t->n && timer_less(&t->heap[r], &t->heap[m]))
			m = r;
		if (m == i)
			break;
		x = t->heap[i];
		t->heap[i] = t->heap[m];
		t->heap[m] = x;
		i = m;
	}
}

static void heap_remove_at(struct timers *t, size_t i)
{
	t->n--;
	if (i == t->n)
		return;
	t->heap[i] = t->heap[t->n];
	heap_up(t, i);
	heap_down(t, i);
}

uint64_t timers_add(struct timers *t, int64_t due, engine_timer_cb cb, void *udata)
{
	struct timer *x;

	if (t->n == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 64;
		struct timer *nh = realloc(t->heap, nc * sizeof *nh);
		if (!nh)
			return 0;
		t->heap = nh;
		t->cap = nc;
	}
	uint64_t id = t->next_id++;
	x = &t->heap[t->n++];
	x->due = due;
	x->id = id;
	x->cb = cb;
	x->udata = udata;
	/* heap_up moves entries: x may name another timer afterwards */
	heap_up(t, t->n - 1);
	return id;
}

void timers_cancel(struct timers *t, uint64_t id)
{
	if (!t || !id)
		return;
	for (size_t i = 0; i < t->n; i++) {
		if (t->heap[i].id == id) {
			heap_remove_at(t, i);
			return;
		}
	}
}

size_t timers_count(const struct timers *t)
{
	return t ? t->n : 0;
}

int64_t timers_next_due(const struct timers *t)
{
	return t && t->n ? t->heap[0].due : INT64_MAX;
}

void timers_fire(struct timers *t, int64_t now, struct engine *e)
{
	uint64_t limit = t->next_id;

	while (t->n && t->heap[0].due <= now) {
		struct timer x = t->heap[0];
		if (x.id >= limit) {
			/* added during this pass: keep; find an older due one */
			size_t i, found = (size_t)-1;
			for (i = 0; i < t->n; i++)
				if (t->heap[i].due <= now && t->heap[i].id < limit) {
					found = i;
					break;
				}
			if (found == (size_t)-1)
				break;
			x = t->heap[found];
			heap_remove_at(t, found);
		} else {
			heap_remove_at(t, 0);
		}
		x.cb(e, x.udata);
	}
}
