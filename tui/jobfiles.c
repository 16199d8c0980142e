/*
 * jobfiles.c: a job's images copied to a path the user typed (jobfiles.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "config.h"
#include "util.h"
#include "jobfiles.h"

static int jf_msg(char **msg, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* *msg = the formatted message; returns rc. */
static int jf_msg(char **msg, int rc, const char *fmt, ...)
{
	char buf[PATH_MAX * 2 + 128];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	*msg = strdup(buf);
	return rc;
}

/* Save job j's images to what the user typed: a directory (a name ending
 * in '/', or one that exists: each image by its own name) or a file name (the
 * first image; the others get -2, -3, ...). A directory that does not exist
 * yet is created, and the message says so. */
int jobfiles_save(const struct job *j, const char *typed, char **msg, char **dir_out)
{
	char dst[PATH_MAX];
	const char *home = getenv("HOME");
	int n;
	if (typed[0] == '~' && (typed[1] == '/' || !typed[1]) && home)
		n = snprintf(dst, sizeof dst, "%s/%s", home, typed[1] ? typed + 2 : "");
	else
		n = snprintf(dst, sizeof dst, "%s", typed);
	if (n < 0 || (size_t)n >= sizeof dst) {
		return jf_msg(msg, -1, "save: the path is too long");
	}
	size_t dl = strlen(dst);
	int want_dir = dl > 0 && dst[dl - 1] == '/';
	while (dl > 1 && dst[dl - 1] == '/') /* no double slash when joining */
		dst[--dl] = 0;
	struct stat sb;
	int isdir = stat(dst, &sb) == 0 && S_ISDIR(sb.st_mode);
	/* the directory to create, if any: dst itself, or the file's parent */
	char mk[PATH_MAX] = "";
	if (want_dir && !isdir) {
		snprintf(mk, sizeof mk, "%s", dst);
	} else if (!isdir) {
		const char *slash = strrchr(dst, '/');
		if (slash && slash > dst) {
			snprintf(mk, sizeof mk, "%.*s", (int)(slash - dst), dst);
			if (stat(mk, &sb) == 0) {
				if (!S_ISDIR(sb.st_mode)) {
					return jf_msg(msg, -1, "save: %s is not a directory", mk);
				}
				mk[0] = 0;
			}
		}
	}
	if (mk[0]) {
		if (config_mkdirs(mk, 0777) < 0) {
			return jf_msg(msg, -1, "save: cannot create the directory %s: %s", mk,
			              strerror(errno));
		}
		if (want_dir)
			isdir = 1;
	}
	size_t saved = 0;
	char last[PATH_MAX] = "";
	for (size_t i = 0; i < j->n_outputs; i++) {
		const char *src = j->outputs[i].path;
		if (!src)
			continue;
		char to[PATH_MAX];
		int len;
		if (isdir) {
			const char *base = strrchr(src, '/');
			len = snprintf(to, sizeof to, "%s%s%s", dst, strcmp(dst, "/") ? "/" : "",
			               base ? base + 1 : src);
		} else if (saved == 0) {
			len = snprintf(to, sizeof to, "%s", dst);
		} else {
			const char *dot = strrchr(dst, '.');
			const char *slash = strrchr(dst, '/');
			if (dot && (!slash || dot > slash))
				len = snprintf(to, sizeof to, "%.*s-%zu%s", (int)(dot - dst), dst,
				               saved + 1, dot);
			else
				len = snprintf(to, sizeof to, "%s-%zu", dst, saved + 1);
		}
		if (len < 0 || (size_t)len >= sizeof to) {
			return jf_msg(msg, -1, "save: the path is too long");
		}
		/* atomic, like sdq get; an existing file is never replaced */
		if (util_copy_file(src, to, 1) < 0) {
			int e = errno;
			return jf_msg(msg, -1, "save: %s: %s%s", access(src, R_OK) < 0 ? src : to,
			              strerror(e), e == EEXIST ? " (choose another name)" : "");
		}
		snprintf(last, sizeof last, "%s", to);
		saved++;
	}
	/* the next save starts in the same directory */
	char dir[PATH_MAX];
	if (isdir) {
		snprintf(dir, sizeof dir, "%s", dst);
	} else {
		const char *slash = strrchr(dst, '/');
		snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - dst) : 0, dst);
	}
	if (dir_out)
		*dir_out = dir[0] ? strdup(dir) : NULL;
	const char *made = mk[0] ? " (directory created)" : "";
	if (saved == 1)
		return jf_msg(msg, 0, "saved %s%s", last, made);
	return jf_msg(msg, 0, "saved %zu images to %s%s", saved, isdir ? dst : last, made);
}
