/*
 * fuzz_replay.h: what every tests/fuzz_NAME.c shares.
 *
 * A fuzz target defines LLVMFuzzerTestOneInput() (and may define
 * fuzz_init(), called once before the first input). Built by `make fuzz` with
 * clang -fsanitize=fuzzer -DSDQ_LIBFUZZER, libFuzzer drives it. Built as
 * build/tests/test_fuzz_NAME by `make test`, the main() below replays every
 * file of tests/fuzz/corpus/NAME/ (argv[1], else $SDQ_TESTS_DIR/fuzz/corpus/NAME,
 * else tests/fuzz/corpus/NAME) and prints "fuzz_NAME: N passed, N failed":
 * the seeds and every input that once crashed stay regression tests, and
 * `make check` replays them under ASan+UBSan.
 *
 * FUZZ_CHECK(cond) states an invariant of the code under test. Under
 * libFuzzer a false one aborts (a finding); in a replay it fails the input.
 */
#ifndef SDQ_FUZZ_REPLAY_H
#define SDQ_FUZZ_REPLAY_H

#include <stddef.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static int fuzz_failed_now;

#define FUZZ_CHECK(c) fuzz_check(!!(c), #c, __FILE__, __LINE__)

static inline void fuzz_check(int ok, const char *what, const char *file, int line)
{
	if (ok)
		return;
	fprintf(stderr, "  FAIL %s:%d: %s\n", file, line, what);
	fuzz_failed_now = 1;
#ifdef SDQ_LIBFUZZER
	abort();
#endif
}

/* A NUL-terminated copy of data (the parsers under test take C strings);
 * the caller frees it. Exits on ENOMEM: nothing can be tested then. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		abort();
	if (size)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

static char fuzz_tmp[4096];

static inline void fuzz_tmp_cleanup(void)
{
	if (fuzz_tmp[0])
		util_remove_tree(fuzz_tmp);
}

/* A private directory under $TMPDIR (or /tmp) for a target's files, removed
 * at exit. One per process; exits if it cannot be made. */
static inline const char *fuzz_tmpdir(const char *tag)
{
	const char *t = getenv("TMPDIR");
	if (fuzz_tmp[0])
		return fuzz_tmp;
	snprintf(fuzz_tmp, sizeof fuzz_tmp, "%s/sdq-fuzz-%s.XXXXXX", t && *t ? t : "/tmp", tag);
	if (!mkdtemp(fuzz_tmp)) {
		perror("mkdtemp");
		exit(2);
	}
	atexit(fuzz_tmp_cleanup);
	return fuzz_tmp;
}

static void fuzz_init(void);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_init();
	return 0;
}

#ifndef SDQ_LIBFUZZER
static int fuzz_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int fuzz_replay_main(const char *name, int argc, char **argv)
{
	char dir[4096], path[8192];
	const char *td = getenv("SDQ_TESTS_DIR");
	char **names = NULL;
	size_t n = 0, cap = 0, i;
	int passed = 0, failed = 0;
	struct dirent *de;
	DIR *d;

	if (argc > 1)
		snprintf(dir, sizeof dir, "%s", argv[1]);
	else
		snprintf(dir, sizeof dir, "%s/fuzz/corpus/%s", td && *td ? td : "tests", name);
	d = opendir(dir);
	if (!d) {
		fprintf(stderr, "fuzz_%s: cannot open corpus %s\n", name, dir);
		printf("fuzz_%s: 0 passed, 1 failed\n", name);
		return 1;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **nn = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof *names);
			if (!nn)
				abort();
			names = nn;
		}
		if (!(names[n++] = strdup(de->d_name)))
			abort();
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof *names, fuzz_name_cmp);
	LLVMFuzzerInitialize(&argc, &argv);
	for (i = 0; i < n; i++) {
		FILE *f;
		uint8_t *buf = NULL;
		size_t len = 0, bcap = 0, r;

		snprintf(path, sizeof path, "%s/%s", dir, names[i]);
		f = fopen(path, "rb");
		if (!f) {
			fprintf(stderr, "  cannot read %s\n", path);
			failed++;
			continue;
		}
		do {
			if (len == bcap) {
				uint8_t *nb = realloc(buf, (bcap = bcap ? bcap * 2 : 4096));
				if (!nb)
					abort();
				buf = nb;
			}
			r = fread(buf + len, 1, bcap - len, f);
			len += r;
		} while (r > 0);
		fclose(f);
		fuzz_failed_now = 0;
		LLVMFuzzerTestOneInput(buf, len);
		if (fuzz_failed_now) {
			fprintf(stderr, "not ok - %s\n", path);
			failed++;
		} else {
			passed++;
		}
		free(buf);
		free(names[i]);
	}
	free(names);
	if (n == 0) {
		fprintf(stderr, "fuzz_%s: the corpus %s is empty\n", name, dir);
		failed++;
	}
	printf("fuzz_%s: %d passed, %d failed\n", name, passed, failed);
	fflush(stdout);
	return failed ? 1 : 0;
}

#define FUZZ_REPLAY_MAIN(name)                                                                     \
	int main(int argc, char **argv)                                                            \
	{                                                                                          \
		return fuzz_replay_main(name, argc, argv);                                         \
	}
#else
#define FUZZ_REPLAY_MAIN(name)
#endif

#endif
