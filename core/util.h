/*
 * util.h: small helpers every core module needs, kept in one place.
 */
#ifndef SDQ_UTIL_H
#define SDQ_UTIL_H

#include <stddef.h>

/* Set *err to a malloc'd message formatted like printf (the caller frees it),
 * freeing what *err held before, so *err must be NULL or a malloc'd string.
 * err == NULL: nothing is done. Out of memory: *err becomes NULL. */
void util_set_err(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A growing NUL-terminated string: start from {0}; p is malloc'd (the caller
 * frees it), oom is set once a realloc failed and every later put is ignored.
 * There is no cap: only for text of a bounded size (prompts, parameters). */
struct util_buf {
	char *p;
	size_t len, cap;
	int oom;
};

/* Append the n bytes at src to b, keeping b->p NUL-terminated. */
void util_buf_put(struct util_buf *b, const void *src, size_t n);

#endif
