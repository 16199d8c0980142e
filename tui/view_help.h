/*
 * view_help.h: the help screen (?), generated from the key table (keys.h) so
 * that it always lists exactly the bindings in force.
 */
#ifndef SDQ_VIEW_HELP_H
#define SDQ_VIEW_HELP_H

#include "tui.h"

/* Draw the help into w (erased by the caller, boxed by it or not) from line
 * *scroll on; *scroll is clamped. Returns the total number of lines. */
int view_help_draw(WINDOW *w, int *scroll);

#endif
