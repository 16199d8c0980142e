/*
 * util.c: the helper layer shared by core and tui (see util.h for the
 * contract and the error-out convention).
 */
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char *vasprintf_alloc(const char *fmt, va_list ap)
{
	va_list ap2;
	char *m;
	int n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0 || !(m = malloc((size_t)n + 1)))
		return NULL;
	vsnprintf(m, (size_t)n + 1, fmt, ap);
	return m;
}

void util_set_err(char **err, const char *fmt, ...)
{
	va_list ap;
	char *m;

	if (!err)
		return;
	va_start(ap, fmt);
	m = vasprintf_alloc(fmt, ap);
	va_end(ap);
	free(*err);
	*err = m;
}

char *util_asprintf(const char *fmt, ...)
{
	va_list ap;
	char *m;

	va_start(ap, fmt);
	m = vasprintf_alloc(fmt, ap);
	va_end(ap);
	return m;
}

void util_buf_put(struct util_buf *b, const void *src, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		char *np;
		while (b->len + n + 1 > cap)
			cap *= 2;
		if (!(np = realloc(b->p, cap))) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
	memcpy(b->p + b->len, src, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void *util_grow(void *p, size_t n, size_t *cap, size_t min, size_t elem)
{
	size_t nc;
	void *np;

	if (n < *cap)
		return p;
	nc = *cap ? *cap * 2 : min;
	if (nc <= n || elem == 0 || nc > SIZE_MAX / elem)
		return NULL;
	if (!(np = realloc(p, nc * elem)))
		return NULL;
	*cap = nc;
	return np;
}

int util_parse_ll(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	if (!s)
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int64_t util_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "10 MiB" or "1000 bytes", for the too-large message. */
static void size_text(size_t n, char *buf, size_t len)
{
	if (n >= (1u << 20) && n % (1u << 20) == 0)
		snprintf(buf, len, "%zu MiB", n >> 20);
	else
		snprintf(buf, len, "%zu bytes", n);
}

char *util_read_file(const char *path, size_t max, size_t *len, char **err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *buf = NULL, *nb, lim[32];
	size_t n = 0, cap = 0, hint = 8192;
	int e;

	if (fd < 0) {
		e = errno;
		util_set_err(err, "cannot read %s: %s", path, strerror(e));
		errno = e;
		return NULL;
	}
	if (max > SIZE_MAX / 4)
		max = SIZE_MAX / 4;
	/* The size is a hint (a regular file can still grow or shrink). */
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
		hint = (uintmax_t)st.st_size < max ? (size_t)st.st_size + 1 : max + 1;
	for (;;) {
		if (n == cap) {
			size_t nc = cap ? cap * 2 : hint;
			if (nc > max + 1)
				nc = max + 1;
			if (cap && nc <= cap) { /* n == max + 1: more than max */
				size_text(max, lim, sizeof lim);
				util_set_err(err, "%s: file too large (larger than %s)", path, lim);
				e = EFBIG;
				goto fail;
			}
			if (!(nb = realloc(buf, nc + 1))) {
				util_set_err(err, "%s: out of memory", path);
				e = ENOMEM;
				goto fail;
			}
			buf = nb;
			cap = nc;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			e = errno;
			util_set_err(err, "cannot read %s: %s", path, strerror(e));
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (!buf && !(buf = malloc(1))) {
		util_set_err(err, "%s: out of memory", path);
		errno = ENOMEM;
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
fail:
	close(fd);
	free(buf);
	errno = e;
	return NULL;
}

int util_write_all(int fd, const void *p, size_t n)
{
	const unsigned char *b = p;
	int stalls = 0;

	while (n > 0) {
		ssize_t k = write(fd, b, n > (1u << 30) ? (1u << 30) : n);
		if (k > 0) {
			b += k;
			n -= (size_t)k;
			stalls = 0;
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && stalls < 100) {
			struct pollfd pf = {fd, POLLOUT, 0};
			poll(&pf, 1, 100);
			stalls++;
			continue;
		}
		if (k == 0)
			errno = EIO;
		return -1;
	}
	return 0;
}

int util_copy_file(const char *src, const char *dst, int noreplace)
{
	static unsigned counter;
	char tmp[PATH_MAX], buf[65536];
	const char *slash = strrchr(dst, '/');
	int dl = slash ? (int)(slash - dst + 1) : 0;
	int in, out = -1, e, n;

	if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	/* A temp name of our own beside dst (same file system: rename works). */
	for (int tries = 0; tries < 100 && out < 0; tries++) {
		n = snprintf(tmp, sizeof tmp, "%.*s.%s.%ld.%u.tmp", dl, dst, dst + dl,
		             (long)getpid(), counter++);
		if (n < 0 || (size_t)n >= sizeof tmp) {
			close(in);
			errno = ENAMETOOLONG;
			return -1;
		}
		out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (out < 0 && errno != EEXIST)
			break;
	}
	if (out < 0) {
		e = errno;
		close(in);
		errno = e;
		return -1;
	}
	for (;;) {
		ssize_t r = read(in, buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto fail;
		if (r == 0)
			break;
		if (util_write_all(out, buf, (size_t)r) < 0)
			goto fail;
	}
	if (fsync(out) < 0)
		goto fail;
	e = close(out);
	out = -1;
	if (e < 0)
		goto fail;
	close(in);
	in = -1;
	if (noreplace) {
		/* link() refuses an existing dst; a file system without hard
		 * links gets a check then rename (a narrow race, never a
		 * half-written dst). */
		if (link(tmp, dst) < 0) {
			struct stat sb;
			if (errno != EPERM && errno != ENOTSUP && errno != EOPNOTSUPP &&
			    errno != EMLINK)
				goto fail;
			if (lstat(dst, &sb) == 0) {
				errno = EEXIST;
				goto fail;
			}
			if (rename(tmp, dst) < 0)
				goto fail;
		}
		unlink(tmp);
	} else if (rename(tmp, dst) < 0) {
		goto fail;
	}
	/* Best effort: the directory entry reaches the disk too. */
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%.*s", dl ? dl : 1, dl ? dst : ".");
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
fail:
	e = errno;
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	unlink(tmp);
	errno = e;
	return -1;
}

int util_remove_tree(const char *path)
{
	struct stat sb;
	int rc = 0, e = 0;

	if (lstat(path, &sb) < 0)
		return errno == ENOENT ? 0 : -1;
	if (S_ISDIR(sb.st_mode)) {
		DIR *d = opendir(path);
		struct dirent *de;
		if (!d) {
			e = errno;
			rc = -1;
		}
		while (d && (de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			char *sub = util_asprintf("%s/%s", path, de->d_name);
			if (!sub || util_remove_tree(sub) < 0) {
				if (!e)
					e = sub ? errno : ENOMEM;
				rc = -1;
			}
			free(sub);
		}
		if (d)
			closedir(d);
		if (rmdir(path) < 0 && errno != ENOENT) {
			if (!e)
				e = errno;
			rc = -1;
		}
	} else if (unlink(path) < 0 && errno != ENOENT) {
		e = errno;
		rc = -1;
	}
	if (rc < 0)
		errno = e;
	return rc;
}

static int is_exec_file(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && access(path, X_OK) == 0;
}

char *util_find_exe(const char *name, const char *path)
{
	if (!name || !*name)
		return NULL;
	if (strchr(name, '/'))
		return is_exec_file(name) ? strdup(name) : NULL;
	if (!path)
		path = getenv("PATH");
	if (!path)
		path = "/usr/bin:/bin";
	for (const char *s = path; s;) {
		const char *colon = strchr(s, ':');
		int dl = colon ? (int)(colon - s) : (int)strlen(s);
		char *full =
		    dl ? util_asprintf("%.*s/%s", dl, s, name) : util_asprintf("./%s", name);
		if (!full)
			return NULL;
		if (is_exec_file(full))
			return full;
		free(full);
		s = colon ? colon + 1 : NULL;
	}
	return NULL;
}

void util_close_fds(int lowfd, int keep)
{
	if (keep >= lowfd)
		for (int fd = lowfd; fd < keep; fd++)
			close(fd);
	int from = keep >= lowfd ? keep + 1 : lowfd;
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
	closefrom(from);
#else
	long max = sysconf(_SC_OPEN_MAX);
	if (max < 0 || max > 65536)
		max = 65536;
	for (int fd = from; fd < max; fd++)
		close(fd);
#endif
}
