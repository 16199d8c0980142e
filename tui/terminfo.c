/*
 * terminfo.c: the terminfo check before curses starts. See terminfo.h. Kept
 * apart because term.h defines a macro for every capability name.
 */
#define SDQ_TUI_TERMINFO
#include "tui.h"
#include "terminfo.h"

int terminfo_check(const char *term, int fd)
{
	int err = 0, ok;
	const char *cup;

	if (setupterm(term, fd, &err) != OK)
		return -1;
	cup = tigetstr("cup");
	ok = cup && cup != (char *)-1;
	del_curterm(cur_term);
	return ok;
}
