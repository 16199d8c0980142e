/*
 * util.h: the helper layer every module uses (core and tui alike): format a
 * string, set an error message, read a whole file with a cap, write all of a
 * buffer, a monotonic clock, copy a file atomically, remove a tree, find a
 * program on PATH, close descriptors in a child. Before writing a helper like
 * these in another file, look here; if it is missing, add it here.
 *
 * The error-out convention (every core module follows it):
 *   A function that can fail returns 0 / -1 (or a pointer / NULL) and takes
 *   `char **err` last. On failure it sets *err with util_set_err(); on
 *   success it leaves *err alone. err may be NULL (the caller does not want
 *   the message). *err must be NULL or a malloc'd string: util_set_err frees
 *   what it held, so a message set by an inner call can be replaced by a
 *   better one without a leak. The caller owns *err and frees it.
 */
#ifndef SDQ_UTIL_H
#define SDQ_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Set *err to a malloc'd message formatted like printf (the caller frees it),
 * freeing what *err held before, so *err must be NULL or a malloc'd string.
 * err == NULL: nothing is done. Out of memory: *err becomes NULL. */
void util_set_err(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A malloc'd string formatted like printf (the caller frees it); NULL when
 * out of memory. */
char *util_asprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

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

/* Room for element n of the array p of *cap elements of elem bytes each: p
 * itself while n < *cap, else p reallocated to twice as many (at least min)
 * with *cap updated. NULL when out of memory: p is then as it was, and still
 * the caller's to free. */
void *util_grow(void *p, size_t n, size_t *cap, size_t min, size_t elem);

/* Parse s as a whole decimal integer (strtoll's syntax: leading blanks and a
 * sign allowed, nothing after the digits) within [min, max] into *out.
 * 0, or -1 leaving *out alone. */
int util_parse_ll(const char *s, long long min, long long max, long long *out);

/* Milliseconds on CLOCK_MONOTONIC (not wall time: for deadlines and
 * durations). */
int64_t util_now_ms(void);

/* Read the whole file at path (any kind that read() can read to its end),
 * at most max bytes. Returns a malloc'd buffer (the caller frees it) with a
 * NUL byte after the *len bytes read, so text can be used as a string.
 * NULL with *err and errno set (EFBIG when the file holds more than max). */
char *util_read_file(const char *path, size_t max, size_t *len, char **err);

/* write() all n bytes at p to fd, riding out EINTR and partial writes; on a
 * non-blocking fd, EAGAIN waits (poll) up to about 10 s in all. 0, or -1
 * with errno. */
int util_write_all(int fd, const void *p, size_t n);

/* Copy the file src to dst atomically: a temp file beside dst, written,
 * fsynced, then renamed over dst (or, with noreplace, linked to dst, failing
 * with EEXIST when dst exists), so dst is never seen half written. The new
 * file's mode is 0644 less the umask. 0, or -1 with errno (no temp file is
 * left behind). */
int util_copy_file(const char *src, const char *dst, int noreplace);

/* Remove path and, if it is a directory, everything below it (symbolic links
 * are removed, never followed). A missing path is not an error. 0, or -1
 * with errno of the first failure (it goes on removing what it can). */
int util_remove_tree(const char *path);

/* The full path of the executable called name: name itself when it holds a
 * '/', else the first directory of path (colon-separated; an empty element
 * is the current directory) holding an executable regular file of that
 * name. path NULL: $PATH, or "/usr/bin:/bin" when unset. Returns a malloc'd
 * string (the caller frees it), NULL when not found or out of memory. */
char *util_find_exe(const char *name, const char *path);

/* In a child between fork() and exec(): close every descriptor from lowfd
 * up, except keep (-1: none). Async-signal-safe. */
void util_close_fds(int lowfd, int keep);

#endif
