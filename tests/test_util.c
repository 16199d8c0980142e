/*
 * test_util.c: the helper layer (core/util): each helper against the cases
 * its callers rely on.
 */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <limits.h>
#include <signal.h>
#include <sys/wait.h>

#include "th.h"

static const char *dir;

static const char *tp(const char *name)
{
	static char buf[8][PATH_MAX];
	static int k;
	k = (k + 1) % 8;
	snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
	return buf[k];
}

static void put_file(const char *path, const void *data, size_t n, int mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0 || write(fd, data, n) != (ssize_t)n) {
		perror(path);
		exit(2);
	}
	close(fd);
}

/* How many entries dir holds besides . and .. */
static int count_entries(const char *d)
{
	int n = 0;
	DIR *dd = opendir(d);
	struct dirent *de;
	while (dd && (de = readdir(dd)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	if (dd)
		closedir(dd);
	return n;
}

static void test_format(void)
{
	char *s = util_asprintf("%s-%d-%05.1f", "ab", 42, 3.14159);
	CHECK_STR(s, "ab-42-003.1");
	free(s);
	char big[10000];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	s = util_asprintf("<%s>", big);
	CHECK(s && strlen(s) == sizeof big + 1 && s[0] == '<' && s[sizeof big] == '>');
	free(s);
	s = util_asprintf("%s", "");
	CHECK_STR(s, "");
	free(s);
}

static void test_parse_ll(void)
{
	long long v = 77;
	CHECK(util_parse_ll("42", 0, 100, &v) == 0 && v == 42);
	CHECK(util_parse_ll("-5", -10, 10, &v) == 0 && v == -5);
	CHECK(util_parse_ll(" 7", 0, 10, &v) == 0 && v == 7); /* strtoll's blanks */
	CHECK(util_parse_ll("9223372036854775807", 0, INT64_MAX, &v) == 0 && v == INT64_MAX);
	v = 77;
	CHECK(util_parse_ll("101", 0, 100, &v) == -1 && v == 77); /* out of range */
	CHECK(util_parse_ll("-1", 0, 100, &v) == -1 && v == 77);
	CHECK(util_parse_ll("", 0, 100, &v) == -1);
	CHECK(util_parse_ll("12x", 0, 100, &v) == -1);
	CHECK(util_parse_ll("x", 0, 100, &v) == -1);
	CHECK(util_parse_ll("1 ", 0, 100, &v) == -1);
	CHECK(util_parse_ll("99999999999999999999", 0, INT64_MAX, &v) == -1); /* ERANGE */
	CHECK(util_parse_ll(NULL, 0, 100, &v) == -1);
	CHECK(v == 77);
}

static void test_set_err(void)
{
	char *err = NULL;
	util_set_err(NULL, "ignored %d", 1); /* NULL err: nothing happens */
	util_set_err(&err, "first %d", 1);
	CHECK_STR(err, "first 1");
	util_set_err(&err, "second %s", "message"); /* frees the first (ASan sees a leak) */
	CHECK_STR(err, "second message");
	free(err);
}

static void test_now_ms(void)
{
	int64_t a = util_now_ms(), b;
	CHECK(a >= 0);
	for (int i = 0; i < 1000; i++) {
		b = util_now_ms();
		CHECK(b >= a);
		a = b;
	}
}

static void test_read_file(void)
{
	char *err = NULL, *t;
	size_t len = 99;
	unsigned char bin[300];
	for (size_t i = 0; i < sizeof bin; i++)
		bin[i] = (unsigned char)i;

	put_file(tp("bin"), bin, sizeof bin, 0644);
	t = util_read_file(tp("bin"), sizeof bin, &len, &err);
	CHECK(t && len == sizeof bin && memcmp(t, bin, sizeof bin) == 0 && t[len] == '\0');
	CHECK(err == NULL);
	free(t);

	/* one byte over the cap: refused, errno EFBIG, the message names the file */
	errno = 0;
	t = util_read_file(tp("bin"), sizeof bin - 1, &len, &err);
	CHECK(t == NULL && errno == EFBIG);
	CHECK(err && strstr(err, "too large") && strstr(err, "/bin"));
	free(err);
	err = NULL;
	t = util_read_file(tp("bin"), 2u << 20, &len, &err);
	CHECK(t && len == sizeof bin);
	free(t);

	/* empty file: an empty string */
	put_file(tp("empty"), "", 0, 0644);
	t = util_read_file(tp("empty"), 10, &len, &err);
	CHECK(t && len == 0 && t[0] == '\0');
	free(t);
	t = util_read_file("/dev/null", 10, &len, &err);
	CHECK(t && len == 0);
	free(t);

	/* a missing file and a directory: NULL with errno and a message */
	errno = 0;
	t = util_read_file(tp("missing"), 10, &len, &err);
	CHECK(t == NULL && errno == ENOENT && err && strstr(err, "cannot read"));
	free(err);
	err = NULL;
	t = util_read_file(dir, 10, &len, &err);
	CHECK(t == NULL && err != NULL);
	free(err);
	err = NULL;
	/* NULL err is allowed */
	CHECK(util_read_file(tp("missing"), 10, &len, NULL) == NULL);

	/* a file larger than the first guess (not a regular file: no size hint) */
	int pfd[2];
	CHECK(pipe(pfd) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		char blk[1000];
		memset(blk, 'z', sizeof blk);
		for (int i = 0; i < 50; i++)
			if (util_write_all(pfd[1], blk, sizeof blk) < 0)
				_exit(1);
		_exit(0);
	}
	close(pfd[1]);
	char fdpath[64];
	snprintf(fdpath, sizeof fdpath, "/dev/fd/%d", pfd[0]);
	t = util_read_file(fdpath, 1u << 20, &len, &err);
	CHECK(t && len == 50000 && t[0] == 'z' && t[49999] == 'z' && t[50000] == '\0');
	free(t);
	close(pfd[0]);
	waitpid(pid, NULL, 0);
}

static void test_write_all(void)
{
	/* a non-blocking pipe smaller than the data: EAGAIN is waited out */
	size_t n = 1u << 20;
	unsigned char *data = malloc(n);
	for (size_t i = 0; i < n; i++)
		data[i] = (unsigned char)(i * 7 + i / 251);
	int pfd[2], back[2];
	CHECK(pipe(pfd) == 0 && pipe(back) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(pfd[1]);
		close(back[0]);
		unsigned long sum = 0, got = 0;
		unsigned char buf[4096];
		ssize_t r;
		while ((r = read(pfd[0], buf, sizeof buf)) > 0)
			for (ssize_t i = 0; i < r; i++)
				sum = sum * 31 + buf[i], got++;
		unsigned long res[2] = {got, sum};
		_exit(write(back[1], res, sizeof res) == sizeof res ? 0 : 1);
	}
	close(pfd[0]);
	close(back[1]);
	fcntl(pfd[1], F_SETFL, fcntl(pfd[1], F_GETFL) | O_NONBLOCK);
	CHECK_INT(util_write_all(pfd[1], data, n), 0);
	close(pfd[1]);
	unsigned long res[2] = {0, 0}, sum = 0;
	CHECK(read(back[0], res, sizeof res) == sizeof res);
	close(back[0]);
	waitpid(pid, NULL, 0);
	for (size_t i = 0; i < n; i++)
		sum = sum * 31 + data[i];
	CHECK(res[0] == n && res[1] == sum);

	/* a closed reader: -1 with EPIPE (SIGPIPE ignored here) */
	signal(SIGPIPE, SIG_IGN);
	CHECK(pipe(pfd) == 0);
	close(pfd[0]);
	errno = 0;
	CHECK(util_write_all(pfd[1], data, 10) == -1 && errno == EPIPE);
	close(pfd[1]);
	signal(SIGPIPE, SIG_DFL);
	free(data);
}

static void test_copy_file(void)
{
	char *t;
	size_t len;
	mkdir(tp("cp"), 0755);
	put_file(tp("cp/src"), "new bytes", 9, 0644);
	put_file(tp("cp/dst"), "old", 3, 0644);

	/* replace: dst gets src's bytes, no temp file is left */
	CHECK_INT(util_copy_file(tp("cp/src"), tp("cp/dst"), 0), 0);
	t = util_read_file(tp("cp/dst"), 100, &len, NULL);
	CHECK(t && len == 9 && memcmp(t, "new bytes", 9) == 0);
	free(t);
	CHECK_INT(count_entries(tp("cp")), 2);

	/* noreplace: an existing dst is refused and left as it was */
	put_file(tp("cp/keep"), "keep me", 7, 0644);
	errno = 0;
	CHECK(util_copy_file(tp("cp/src"), tp("cp/keep"), 1) == -1 && errno == EEXIST);
	t = util_read_file(tp("cp/keep"), 100, &len, NULL);
	CHECK(t && len == 7 && memcmp(t, "keep me", 7) == 0);
	free(t);
	CHECK_INT(count_entries(tp("cp")), 3);
	/* ... and a new name is written */
	CHECK_INT(util_copy_file(tp("cp/src"), tp("cp/fresh"), 1), 0);
	t = util_read_file(tp("cp/fresh"), 100, &len, NULL);
	CHECK(t && len == 9 && memcmp(t, "new bytes", 9) == 0);
	free(t);
	CHECK_INT(count_entries(tp("cp")), 4);

	/* a missing source or target directory: -1 with errno, nothing made */
	errno = 0;
	CHECK(util_copy_file(tp("cp/nope"), tp("cp/x"), 0) == -1 && errno == ENOENT);
	errno = 0;
	CHECK(util_copy_file(tp("cp/src"), tp("cp/nodir/x"), 0) == -1 && errno == ENOENT);
	CHECK_INT(count_entries(tp("cp")), 4);

	/* a relative dst (no directory part) */
	char cwd[PATH_MAX];
	CHECK(getcwd(cwd, sizeof cwd) != NULL);
	CHECK(chdir(tp("cp")) == 0);
	CHECK_INT(util_copy_file("src", "rel", 0), 0);
	CHECK(access("rel", F_OK) == 0);
	CHECK(chdir(cwd) == 0);

	/* a big file, in several reads */
	size_t n = 200000;
	char *big = malloc(n);
	for (size_t i = 0; i < n; i++)
		big[i] = (char)(i % 253);
	put_file(tp("cp/big"), big, n, 0644);
	CHECK_INT(util_copy_file(tp("cp/big"), tp("cp/big2"), 0), 0);
	t = util_read_file(tp("cp/big2"), n, &len, NULL);
	CHECK(t && len == n && memcmp(t, big, n) == 0);
	free(t);
	free(big);
}

static void test_remove_tree(void)
{
	/* a tree with files, empty and full subdirectories, and a link that
	 * points out of it: the tree goes, the link's target stays */
	mkdir(tp("outside"), 0755);
	put_file(tp("outside/precious"), "x", 1, 0644);
	mkdir(tp("t"), 0755);
	mkdir(tp("t/a"), 0755);
	mkdir(tp("t/a/b"), 0755);
	mkdir(tp("t/empty"), 0755);
	put_file(tp("t/f"), "1", 1, 0644);
	put_file(tp("t/a/b/g"), "2", 1, 0644);
	CHECK(symlink(tp("outside"), tp("t/a/link")) == 0);
	CHECK_INT(util_remove_tree(tp("t")), 0);
	CHECK(access(tp("t"), F_OK) < 0 && errno == ENOENT);
	CHECK(access(tp("outside/precious"), F_OK) == 0);
	/* a missing path is not an error; a single file goes too */
	CHECK_INT(util_remove_tree(tp("t")), 0);
	CHECK_INT(util_remove_tree(tp("outside/precious")), 0);
	CHECK(access(tp("outside/precious"), F_OK) < 0);
}

static void test_find_exe(void)
{
	char path[3 * PATH_MAX], *f;
	mkdir(tp("bin1"), 0755);
	mkdir(tp("bin2"), 0755);
	put_file(tp("bin1/tool"), "#!/bin/sh\n", 10, 0644); /* not executable */
	mkdir(tp("bin1/dirtool"), 0755);                    /* a directory */
	put_file(tp("bin2/tool"), "#!/bin/sh\n", 10, 0755);
	put_file(tp("bin2/dirtool"), "#!/bin/sh\n", 10, 0755);
	snprintf(path, sizeof path, "%s:%s", tp("bin1"), tp("bin2"));

	f = util_find_exe("tool", path);
	CHECK_STR(f, tp("bin2/tool"));
	free(f);
	f = util_find_exe("dirtool", path);
	CHECK_STR(f, tp("bin2/dirtool"));
	free(f);
	CHECK(util_find_exe("nothere", path) == NULL);
	CHECK(util_find_exe("", path) == NULL);
	/* a name with a slash is checked itself, not searched */
	f = util_find_exe(tp("bin2/tool"), "/nonexistent");
	CHECK_STR(f, tp("bin2/tool"));
	free(f);
	CHECK(util_find_exe(tp("bin1/tool"), path) == NULL);
	/* an empty element is the current directory */
	char cwd[PATH_MAX];
	CHECK(getcwd(cwd, sizeof cwd) != NULL);
	CHECK(chdir(tp("bin2")) == 0);
	f = util_find_exe("tool", "/nonexistent::/also-not");
	CHECK_STR(f, "./tool");
	free(f);
	CHECK(chdir(cwd) == 0);
	/* NULL path: $PATH */
	setenv("PATH", tp("bin2"), 1);
	f = util_find_exe("tool", NULL);
	CHECK_STR(f, tp("bin2/tool"));
	free(f);
}

/* util_grow: doubling from min, the contents kept, room left is no
 * realloc, and a size that would overflow is refused with the array kept. */
static void test_grow(void)
{
	int *a = NULL, *g;
	size_t cap = 0, big;

	for (size_t n = 0; n < 100; n++) {
		g = util_grow(a, n, &cap, 4, sizeof *a);
		CHECK(g != NULL);
		if (!g)
			break;
		a = g;
		a[n] = (int)n;
		CHECK(cap > n);
	}
	CHECK_INT(cap, 128);
	for (int n = 0; n < 100; n++)
		if (!CHECK_INT(a[n], n))
			break;
	CHECK(util_grow(a, 100, &cap, 4, sizeof *a) == a);
	CHECK_INT(cap, 128);
	big = SIZE_MAX / 2 + 1;
	cap = big;
	CHECK(util_grow(a, big, &cap, 4, sizeof *a) == NULL);
	CHECK(cap == big);
	free(a);
}

static void test_close_fds(void)
{
	int fds[6];
	for (int i = 0; i < 6; i++)
		fds[i] = open("/dev/null", O_RDONLY);
	int keep = fds[2];
	pid_t pid = fork();
	if (pid == 0) {
		util_close_fds(3, keep);
		int bad = 0;
		for (int fd = 3; fd < 64; fd++)
			if ((fcntl(fd, F_GETFD) >= 0) != (fd == keep))
				bad++;
		if (fcntl(0, F_GETFD) < 0 || fcntl(1, F_GETFD) < 0 || fcntl(2, F_GETFD) < 0)
			bad++;
		_exit(bad ? 1 : 0);
	}
	int st = -1;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	/* keep -1: every one from lowfd */
	pid = fork();
	if (pid == 0) {
		util_close_fds(fds[1], -1);
		int bad = fcntl(fds[0], F_GETFD) < 0;
		for (int fd = fds[1]; fd < 64; fd++)
			if (fcntl(fd, F_GETFD) >= 0)
				bad++;
		_exit(bad ? 1 : 0);
	}
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	for (int i = 0; i < 6; i++)
		close(fds[i]);
}

int main(void)
{
	dir = th_tmpdir();
	TH_RUN(test_format);
	TH_RUN(test_parse_ll);
	TH_RUN(test_set_err);
	TH_RUN(test_now_ms);
	TH_RUN(test_read_file);
	TH_RUN(test_write_all);
	TH_RUN(test_copy_file);
	TH_RUN(test_remove_tree);
	TH_RUN(test_find_exe);
	TH_RUN(test_close_fds);
	TH_RUN(test_grow);
	CHECK_INT(util_remove_tree(dir), 0);
	return th_done("test_util");
}
