/*
 * th.h: the tiny test harness shared by every test program (after redis'
 * testhelp.h). A test is a function; TH_RUN runs it and counts it as passed
 * when none of its CHECKs failed. th_done() prints the closing line
 * "NAME: N passed, N failed" that tests/run-tests.sh adds up.
 */
#ifndef SDQ_TH_H
#define SDQ_TH_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

static int th_passed, th_failed, th_cur_failed;

#define CHECK(c) th_check(!!(c), #c, __FILE__, __LINE__)
#define CHECK_INT(a, b) th_check_int((long long)(a), (long long)(b), #a, __FILE__, __LINE__)
#define CHECK_STR(a, b) th_check_str((a), (b), #a, __FILE__, __LINE__)
#define TH_RUN(fn) th_run(fn, #fn)

static inline int th_check(int ok, const char *what, const char *file, int line)
{
	if (!ok) {
		fprintf(stderr, "  FAIL %s:%d: %s\n", file, line, what);
		th_cur_failed++;
	}
	return ok;
}

static inline int th_check_int(long long a, long long b, const char *what, const char *file,
			       int line)
{
	if (a != b) {
		fprintf(stderr, "  FAIL %s:%d: %s == %lld, expected %lld\n", file, line, what, a, b);
		th_cur_failed++;
		return 0;
	}
	return 1;
}

static inline int th_check_str(const char *a, const char *b, const char *what, const char *file,
			       int line)
{
	if (a == b || (a && b && strcmp(a, b) == 0))
		return 1;
	fprintf(stderr, "  FAIL %s:%d: %s == \"%s\", expected \"%s\"\n", file, line, what,
		a ? a : "(null)", b ? b : "(null)");
	th_cur_failed++;
	return 0;
}

/* TH_ONLY=NAME[,NAME...] runs only those tests (while iterating). */
static inline void th_run(void (*fn)(void), const char *name)
{
	const char *only = getenv("TH_ONLY");
	if (only && *only) {
		size_t n = strlen(name);
		const char *p = strstr(only, name);
		while (p && ((p != only && p[-1] != ',') || (p[n] && p[n] != ',')))
			p = strstr(p + 1, name);
		if (!p)
			return;
	}
	th_cur_failed = 0;
	fn();
	if (th_cur_failed) {
		th_failed++;
		fprintf(stderr, "not ok - %s\n", name);
	} else {
		th_passed++;
		if (getenv("TH_VERBOSE"))
			fprintf(stderr, "ok - %s\n", name);
	}
}

/* Make a fresh private directory under $TMPDIR (or /tmp); returns a static
 * buffer that stays valid until the next call. */
static inline const char *th_tmpdir(void)
{
	static char buf[4096];
	const char *t = getenv("TMPDIR");
	snprintf(buf, sizeof buf, "%s/sdqtest.XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(buf)) {
		perror("mkdtemp");
		exit(2);
	}
	return buf;
}

/* Mutate the n-byte text in place (buffer of cap bytes, kept NUL-terminated)
 * with `edits` random edits drawn from the generator state *x: each replaces a byte
 * with one from junk or inserts one before it (while there is room). Returns
 * the new length. Same *x, same edits: a failure can be replayed. */
static inline size_t th_mutate(char *text, size_t n, size_t cap, const char *junk, int edits,
                               unsigned int *x)
{
	size_t nj = strlen(junk);
	for (int m = 0; m < edits; m++) {
		*x = *x * 1103515245u + 12345u;
		size_t at = (*x >> 8) % n;
		char c = junk[(*x >> 20) % nj];
		if ((*x >> 4) & 1) {
			text[at] = c; /* replace */
		} else if (n + 1 < cap) {
			memmove(text + at + 1, text + at, n - at + 1); /* insert */
			text[at] = c;
			n++;
		}
	}
	return n;
}

/* Write a file the fake (and the real) sd-cli takes as a model: a
 * safetensors header (an 8-byte little-endian length, then that much JSON)
 * and no tensors. 0 or -1. */
static inline int th_write_model(const char *path)
{
	static const char json[] = "{\"__metadata__\":{\"format\":\"pt\"}}";
	unsigned char len[8] = {sizeof json - 1, 0, 0, 0, 0, 0, 0, 0};
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	int ok = fwrite(len, 1, 8, f) == 8 && fwrite(json, 1, sizeof json - 1, f) == sizeof json - 1;
	return fclose(f) == 0 && ok ? 0 : -1;
}

static inline int th_done(const char *name)
{
	printf("%s: %d passed, %d failed\n", name, th_passed, th_failed);
	fflush(stdout);
	return th_failed ? 1 : 0;
}

#endif
