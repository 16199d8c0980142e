/*
 * lineedit.h: the one text editor of the dashboard. Every text field (the
 * compose form's prompts and numbers, the save-as and search prompts) is a
 * lineedit: a UTF-8 buffer with a cursor, edited with the keys of the key
 * table's Compose section, drawn with the terminal cursor inside it. A
 * prefilled value can be selected: the first character typed replaces it,
 * Backspace clears it, a movement key keeps it.
 */
#ifndef SDQ_LINEEDIT_H
#define SDQ_LINEEDIT_H

#include <stddef.h>
#include "tui.h"

struct lineedit;

/* What lineedit_key did with a key. */
enum lineedit_result {
	LINEEDIT_IGNORED, /* not an editing key here: the caller's */
	LINEEDIT_MOVED,   /* the cursor moved (or the selection went) */
	LINEEDIT_CHANGED, /* the text changed */
};

/* A new editor holding init (copied; NULL: empty), the cursor at its end.
 * multiline: Enter inserts a newline and Up/Down move between rows. NULL on
 * ENOMEM. */
struct lineedit *lineedit_new(const char *init, int multiline);
void lineedit_free(struct lineedit *e);

/* Replace the text (copied; cut at the editor's cap), cursor at the end, no
 * selection. 0, or -1 on ENOMEM. */
int lineedit_set(struct lineedit *e, const char *s);
/* Select the whole text: typing replaces it (a prefilled value). */
void lineedit_select_all(struct lineedit *e);
/* The text; borrowed, valid until the next change. Never NULL. */
const char *lineedit_text(const struct lineedit *e);
/* 1 once some insertion was cut at the cap (VC_MAX_TEXT). */
int lineedit_truncated(const struct lineedit *e);

/* Handle one key: code is a curses KEY_* code when is_key, else a character
 * (a Unicode code point). Printable text is inserted (never C0/C1 controls
 * or bidi marks); the editing keys are those of KEYS_COMPOSE. */
enum lineedit_result lineedit_key(struct lineedit *e, int code, int is_key);
/* Insert pasted text as it is (newlines kept in a multi-line editor, else
 * spaces; other controls dropped). */
enum lineedit_result lineedit_paste(struct lineedit *e, const char *s, size_t n);

/* Draw into w at (y, x), width cells by rows rows (1 for a one-line editor)
 * in the field colour, the view scrolled to show the cursor; a multi-line
 * editor longer than rows says "row/rows" in its last cell. When focused, the
 * cursor's position in w goes to *cy, *cx. */
void lineedit_draw(struct lineedit *e, WINDOW *w, int y, int x, int width, int rows, int focused,
                   int *cy, int *cx);

#endif
