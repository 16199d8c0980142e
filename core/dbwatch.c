/*
 * dbwatch.c: inotify on the store's directory, and the watchers file (see
 * dbwatch.h).
 *
 * The directory is watched rather than the files: SQLite creates and
 * deletes the WAL, and the lock file may not exist yet. Events name the
 * file; only ours count. Driver lock attempts that fail open the lock file
 * read-only (store.c), so only a driver's own close (exit, crash: the kernel
 * closes its fds) is a "close after write" on it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include "dbwatch.h"
#include "util.h"

struct dbwatch {
	int ifd;      /* inotify, or -1 */
	int watch_fd; /* our shared lock on <db>.watch, or -1 */
	char *watch_path;
	char *base; /* the database's file name */
	size_t blen;
};

/* File systems where another host's writes never reach inotify. */
static int remote_fs(const char *dir)
{
	static const unsigned long remote[] = {
	    0x6969UL,     /* NFS */
	    0x517BUL,     /* SMB */
	    0xFF534D42UL, /* CIFS */
	    0xFE534D42UL, /* SMB2 */
	    0x65735546UL, /* FUSE */
	    0x01021997UL, /* 9p (WSL, VMs) */
	    0x00C36400UL, /* Ceph */
	    0x47504653UL, /* GPFS */
	    0x0BD00BD0UL, /* Lustre */
	};
	struct statfs sf;
	if (statfs(dir, &sf) < 0)
		return 1;
	for (size_t i = 0; i < sizeof remote / sizeof *remote; i++)
		if ((unsigned long)(uint32_t)sf.f_type == remote[i])
			return 1;
	return 0;
}

struct dbwatch *dbwatch_new(const char *db_path, char **err)
{
	struct dbwatch *w = calloc(1, sizeof *w);
	const char *slash = strrchr(db_path, '/');
	char *dir;

	if (!w) {
		util_set_err(err, "out of memory");
		return NULL;
	}
	w->ifd = w->watch_fd = -1;
	w->base = strdup(slash ? slash + 1 : db_path);
	dir = slash ? strndup(db_path, (size_t)(slash - db_path)) : strdup(".");
	w->watch_path = util_asprintf("%s.watch", db_path);
	if (!w->base || !dir || !w->watch_path) {
		free(dir);
		dbwatch_free(w);
		util_set_err(err, "out of memory");
		return NULL;
	}
	if (!dir[0]) {
		free(dir);
		dir = strdup("/");
	}
	w->blen = strlen(w->base);
	if (dir && getenv("SDQ_NO_INOTIFY") == NULL && !remote_fs(dir)) {
		w->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (w->ifd >= 0 &&
		    inotify_add_watch(w->ifd, dir,
		                      IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE |
		                          IN_ATTRIB | IN_DELETE | IN_MOVED_FROM) < 0) {
			close(w->ifd);
			w->ifd = -1;
		}
	}
	free(dir);
	return w;
}

void dbwatch_free(struct dbwatch *w)
{
	if (!w)
		return;
	if (w->watch_fd >= 0)
		dbwatch_set_watching(w, 0);
	if (w->ifd >= 0)
		close(w->ifd);
	free(w->watch_path);
	free(w->base);
	free(w);
}

int dbwatch_fd(const struct dbwatch *w)
{
	return w ? w->ifd : -1;
}

/* What a change to file name means (0: not one of ours). */
static int classify(const struct dbwatch *w, const char *name, uint32_t mask)
{
	const char *rest;
	if (strncmp(name, w->base, w->blen) != 0)
		return 0;
	rest = name + w->blen;
	if (!rest[0] || strcmp(rest, "-wal") == 0)
		return DBWATCH_DATA;
	/* the main driver lock, or a key's (".lock-<fingerprint>") */
	if (strcmp(rest, ".lock") == 0 || strncmp(rest, ".lock-", 6) == 0)
		return (mask & (IN_CLOSE_WRITE | IN_MODIFY)) ? DBWATCH_LOCK : 0;
	if (strcmp(rest, ".watch") == 0)
		return DBWATCH_WATCHERS;
	return 0;
}

int dbwatch_read(struct dbwatch *w)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	int what = 0;
	ssize_t n;

	if (!w || w->ifd < 0)
		return 0;
	while ((n = read(w->ifd, buf, sizeof buf)) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			/* lost events, or the directory itself went away */
			if (ev->mask & (IN_Q_OVERFLOW | IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF))
				what |= DBWATCH_ALL;
			else if (ev->len)
				what |= classify(w, ev->name, ev->mask);
			p += sizeof *ev + ev->len;
		}
	}
	return what;
}

/* Touch the watchers file so every driver's inotify hears of us. */
static void touch(int fd)
{
	if (futimens(fd, NULL) < 0) {
		/* a read-only file system: the driver sees us at its next look */
	}
}

int dbwatch_set_watching(struct dbwatch *w, int on)
{
	if (!w)
		return -1;
	if (on && w->watch_fd < 0) {
		int fd = open(w->watch_path, O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0)
			return -1;
		if (flock(fd, LOCK_SH) < 0) {
			close(fd);
			return -1;
		}
		w->watch_fd = fd;
		touch(fd);
	} else if (!on && w->watch_fd >= 0) {
		flock(w->watch_fd, LOCK_UN);
		touch(w->watch_fd);
		close(w->watch_fd);
		w->watch_fd = -1;
	}
	return 0;
}

int dbwatch_others_watching(struct dbwatch *w)
{
	int fd, busy = 0;
	if (!w)
		return 0;
	if (w->watch_fd >= 0)
		return 1;
	fd = open(w->watch_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	/* a shared lock held by anyone makes the exclusive one fail */
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		flock(fd, LOCK_UN);
	else
		busy = errno == EWOULDBLOCK;
	close(fd);
	return busy;
}
