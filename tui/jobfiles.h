/*
 * jobfiles.h: a job's image files copied where the user asks (the
 * dashboard's s). No curses: the caller shows the message.
 */
#ifndef SDQ_JOBFILES_H
#define SDQ_JOBFILES_H

#include "job.h"

/* Copy job j's images to typed: a directory (a name ending in '/', or one
 * that exists: each image by its own name) or a file name (the first image;
 * the others get -2, -3, ... before the extension). "~/" is $HOME. A
 * directory that does not exist yet is created; an existing file is never
 * replaced; each copy is atomic (util_copy_file). Returns 0 or -1; *msg
 * (malloc'd, the caller frees it; NULL on ENOMEM) says what was saved or why
 * not. *dir (may be NULL; malloc'd or NULL) gets the directory saved to, for
 * the next prefill. */
int jobfiles_save(const struct job *j, const char *typed, char **msg, char **dir);

#endif
