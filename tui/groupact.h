/*
 * groupact.h: what acts on a whole group (vary.h: the jobs of one submit of
 * several) from the dashboard's group row and from `sdq rerun --group`:
 * what a confirmation names (how many jobs, live, with images, on which
 * endpoint), cancel its live jobs, run it again as a new group, delete its
 * finished jobs. No curses, nothing printed: errors are malloc'd in *err
 * (util.h's convention).
 */
#ifndef SDQ_GROUPACT_H
#define SDQ_GROUPACT_H

#include <stddef.h>
#include <stdint.h>

struct engine;
struct store;

/* A group as a confirmation names it. */
struct groupact_info {
	size_t n;          /* its jobs in the history */
	size_t live;       /* ... live (cancel acts on these) */
	size_t files;      /* image files of its finished jobs */
	char endpoint[96]; /* its endpoint's name, "2 endpoints" or "" */
};

/* Fill *out for group gid. 0, or -1 with *err. */
int groupact_info(struct store *st, int64_t gid, struct groupact_info *out, char **err);

/* Cancel every live job of group gid: *done of them were asked. 0, or -1
 * with *err (the first failure; the others are still tried). */
int groupact_cancel(struct engine *e, struct store *st, int64_t gid, size_t *done, char **err);

/* Run group gid again: a new group with the same prompts and axes, each of
 * its jobs still in the history submitted again with its parameters, seed
 * and variant, in the same order. Returns the new group's id (also when
 * only *nids of them were made, with *err saying why it stopped), 0 with
 * *err when nothing was made. *ids (malloc'd, may be NULL) gets the new
 * jobs' ids, *nids how many. */
int64_t groupact_rerun(struct engine *e, struct store *st, int64_t gid, int64_t **ids,
                       size_t *nids, char **err);

/* Delete group gid's jobs that are not live from the history, and with
 * files their image files: *deleted jobs, *gone files removed, *failed not.
 * 0, or -1 with *err. */
int groupact_delete(struct store *st, int64_t gid, int files, size_t *deleted, size_t *gone,
                    size_t *failed, char **err);

#endif
