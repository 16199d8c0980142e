/*
 * osc52.h: copy text to the clipboard of the terminal the user sits at, even
 * over SSH: the OSC 52 escape sequence, written to the tty by the caller
 * (curses does not know it; write it right after doupdate, like a sixel).
 * Also the passthrough wrapping that gets any such sequence through tmux or
 * GNU screen to the real terminal (notify.c uses it for OSC 9/777).
 *
 * A terminal says nothing back to OSC 52: the sequence is sent, and the
 * terminal takes it or not. osc52_usable tells what the environment shows.
 */
#ifndef SDQ_OSC52_H
#define SDQ_OSC52_H

#include <stddef.h>

/* Longest text osc52_sequence accepts (bytes, before base64): xterm drops
 * longer ones, many terminals cap lower. */
#define OSC52_MAX 100000

/* The OSC 52 sequence putting text on the clipboard ("c"), base64, ended by
 * ST. Inside tmux ($TMUX) it is there twice: plain (tmux takes it with
 * `set -g set-clipboard on`) and wrapped for passthrough (`allow-passthrough
 * on`); inside GNU screen ($STY) wrapped for screen. Malloc'd, *len set (the
 * caller frees it); NULL if text is over OSC52_MAX or on ENOMEM. */
char *osc52_sequence(const char *text, size_t *len);

/* 1: this terminal is known to take OSC 52; 0: known not to (the Linux
 * console, VTE terminals such as GNOME Terminal, Apple Terminal); -1: cannot
 * tell (tmux, screen, an unknown terminal). *why (a static sentence, or
 * NULL) says what the user can do. */
int osc52_usable(const char **why);

/* seq (n bytes: an escape sequence) wrapped for the multiplexer the
 * environment names: inside tmux ESC P tmux; seq ESC \ with each ESC of seq
 * doubled, inside screen ESC P seq ESC \, else seq itself. Malloc'd, *len
 * set; NULL on ENOMEM. */
char *osc52_passthrough(const char *seq, size_t n, size_t *len);

#endif
