/*
 * view_help.c: the help screen, one section per key context, laid out from
 * keys_table(). Scrolls when the window is shorter than the text.
 */
#include <stdio.h>
#include <stdlib.h>

#include "tui.h"
#include "draw.h"
#include "keys.h"
#include "view_help.h"

#define VH_KEYW 14

int view_help_draw(WINDOW *w, int *scroll)
{
	int h, W;
	getmaxyx(w, h, W);
	size_t n;
	const struct keys_binding *k = keys_table(&n);

	/* the lines: section titles, bindings, blank lines between sections */
	int total = 0;
	for (int pass = 0; pass < 2; pass++) {
		int line = 0;
		/* In a demo: how a second shell joins it. */
		if (getenv("SDQ_DEMO")) {
			static const char *const demo[] = {
			    "Demo",
			    "from another shell: eval \"$(sdq demo env)\", then any sdq command",
			    "or: sdq demo submit -p PROMPT (joins this demo); q ends the demo"};
			for (int i = 0; i < 3; i++, line++) {
				int y = line - *scroll;
				if (pass == 1 && y >= 0 && y < h)
					draw_put(w, y, i ? 3 : 1, W - (i ? 4 : 2), demo[i],
					         i ? 0 : draw_attr(DRAW_TITLE) | A_BOLD);
			}
			line++;
		}
		for (int ctx = 0; ctx < KEYS_CONTEXT_COUNT; ctx++) {
			if (pass == 1) {
				int y = line - *scroll;
				if (y >= 0 && y < h) {
					char t[64];
					snprintf(t, sizeof t, "%s", keys_context_name(ctx));
					draw_put(w, y, 1, W - 2, t, draw_attr(DRAW_TITLE) | A_BOLD);
				}
			}
			line++;
			for (size_t i = 0; i < n; i++) {
				if ((int)k[i].ctx != ctx)
					continue;
				int y = line - *scroll;
				if (pass == 1 && y >= 0 && y < h) {
					draw_put(w, y, 3, VH_KEYW, k[i].label, A_BOLD);
					draw_put(w, y, 3 + VH_KEYW, W - 4 - VH_KEYW, k[i].help, 0);
				}
				line++;
			}
			line++;
		}
		total = line;
		if (pass == 0) {
			if (*scroll > total - h)
				*scroll = total - h;
			if (*scroll < 0)
				*scroll = 0;
		}
	}
	return total;
}
