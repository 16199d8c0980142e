/*
 * terminfo.h: ask the terminfo database about a terminal type before curses
 * starts (newterm on an unknown type fails after allocating, and reports
 * nothing useful).
 */
#ifndef SDQ_TERMINFO_H
#define SDQ_TERMINFO_H

/* 1 if the terminal type term (NULL: $TERM) is known and can move the
 * cursor (cup), 0 if it is known and cannot (dumb), -1 if it is unknown. fd:
 * the terminal. Leaves no terminal set up. */
int terminfo_check(const char *term, int fd);

#endif
