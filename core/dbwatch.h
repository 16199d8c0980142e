/*
 * dbwatch.h: hear about changes other sdq processes make to the store
 * without polling it (HACKING.md, "One loop": changes made by other
 * processes arrive as a notification).
 *
 * An inotify watch on the database's directory reports writes to the
 * database and its WAL, the driver lock file being closed by a writer (the
 * driver exited or crashed: a viewer may take over), and the watchers file
 * being touched. On a file system whose changes need not reach inotify
 * (NFS, SMB, FUSE, 9p, ...) or without inotify, dbwatch_fd() is -1 and the
 * caller falls back to a slow timer.
 *
 * Watchers: a process that shows live jobs to someone (a dashboard, `sdq
 * wait`) holds a shared flock on "<db>.watch" and touches the file when it
 * starts or stops; the driver asks dbwatch_others_watching() to pick short
 * or long status windows.
 */
#ifndef SDQ_DBWATCH_H
#define SDQ_DBWATCH_H

#define DBWATCH_DATA 1     /* the database or its WAL was written */
#define DBWATCH_LOCK 2     /* a driver lock (main, a key's) written or closed by a writer */
#define DBWATCH_WATCHERS 4 /* someone started or stopped watching */
#define DBWATCH_ALL 7      /* events were lost: assume everything changed */

struct dbwatch;

/* A watcher for the store at db_path (copied). Never fails for want of
 * inotify (then dbwatch_fd is -1); NULL only on ENOMEM, with *err. */
struct dbwatch *dbwatch_new(const char *db_path, char **err);
/* Close everything (releases this process's watch). Accepts NULL. */
void dbwatch_free(struct dbwatch *w);
/* The fd to poll for POLLIN, or -1 when there is no notification. */
int dbwatch_fd(const struct dbwatch *w);
/* Read every pending event (non-blocking): an OR of DBWATCH_* (0: nothing
 * that matters). */
int dbwatch_read(struct dbwatch *w);
/* This process starts (on = 1) or stops watching live jobs; other processes
 * hear of it through DBWATCH_WATCHERS. 0, or -1 if the file cannot be used. */
int dbwatch_set_watching(struct dbwatch *w, int on);
/* 1 if another process (or this one) watches live jobs, else 0. */
int dbwatch_others_watching(struct dbwatch *w);

#endif
