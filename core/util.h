/*
 * util.h: small helpers every core module needs, kept in one place.
 */
#ifndef SDQ_UTIL_H
#define SDQ_UTIL_H

/* Set *err to a malloc'd message formatted like printf (the caller frees it),
 * freeing what *err held before, so *err must be NULL or a malloc'd string.
 * err == NULL: nothing is done. Out of memory: *err becomes NULL. */
void util_set_err(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
