/*
 * cmd_preview.h: sdq preview ID|FILE... [-w COLS] (see cli.h for the
 * calling convention).
 */
#ifndef SDQ_CMD_PREVIEW_H
#define SDQ_CMD_PREVIEW_H

struct config;

/* Print the images of jobs and image files to the terminal. */
int cmd_preview_run(struct config *cfg, int argc, char **argv);

#endif
