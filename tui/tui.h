/*
 * tui.h: the one place tui/ includes curses (htop's ProvideCurses.h).
 */
#ifndef SDQ_TUI_H
#define SDQ_TUI_H

#ifndef _XOPEN_SOURCE_EXTENDED
#define _XOPEN_SOURCE_EXTENDED 1
#endif
#include <ncursesw/curses.h>
/* term.h defines a macro for every capability name (lines, columns, ...):
 * only terminfo.c asks for it */
#ifdef SDQ_TUI_TERMINFO
#include <ncursesw/term.h>
#endif

#endif
