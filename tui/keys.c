/*
 * keys.c: the key table. Every binding of the dashboard is one row here; the
 * help screen is generated from the same rows.
 */
#include "tui.h"
#include "keys.h"

#define CTRL(c) ((c)&0x1f)

/* One binding per line reads as a table. */
/* clang-format off */
static const struct keys_binding keys[] = {
	/* jobs table */
	{KEYS_MAIN, KA_DOWN, {'j', KEY_DOWN}, "j Down", "select the next (older) job"},
	{KEYS_MAIN, KA_UP, {'k', KEY_UP}, "k Up", "select the previous (newer) job"},
	{KEYS_MAIN, KA_PGDN, {KEY_NPAGE, ' ', CTRL('F')}, "PgDn Space", "one page down"},
	{KEYS_MAIN, KA_PGUP, {KEY_PPAGE, CTRL('B')}, "PgUp", "one page up"},
	{KEYS_MAIN, KA_TOP, {'g', KEY_HOME}, "g Home", "first (newest) job"},
	{KEYS_MAIN, KA_BOTTOM, {'G', KEY_END}, "G End", "last (oldest) job"},
	{KEYS_MAIN, KA_DETAIL, {'\r', '\n', KEY_ENTER}, "Enter", "show or hide the detail pane"},
	{KEYS_MAIN, KA_EXPAND, {'l', KEY_RIGHT, '+'}, "l Right +", "expand a group's row into its jobs"},
	{KEYS_MAIN, KA_COLLAPSE, {'h', KEY_LEFT, '-'}, "h Left -", "collapse the group (from any of its rows)"},
	{KEYS_MAIN, KA_DETAIL_DOWN, {'J'}, "J", "scroll the detail pane down"},
	{KEYS_MAIN, KA_DETAIL_UP, {'K'}, "K", "scroll the detail pane up"},
	{KEYS_MAIN, KA_COMPOSE, {'n'}, "n", "compose a new job (prefilled from the newest)"},
	{KEYS_MAIN, KA_EDIT, {'e'}, "e", "compose prefilled from the selected job"},
	{KEYS_MAIN, KA_RERUN, {'r'}, "r", "re-run the job or group, same seed (asks, naming the endpoint)"},
	{KEYS_MAIN, KA_RETRY, {'R'}, "R", "ask the endpoint to retry a FAILED/TIMED_OUT job"},
	{KEYS_MAIN, KA_CANCEL, {'c'}, "c", "cancel the job, or a group's live jobs (asks first)"},
	{KEYS_MAIN, KA_SEARCH, {'/'}, "/", "search prompts (results as you type; Enter keeps it)"},
	{KEYS_MAIN, KA_FILTER, {'f'}, "f", "filter by state"},
	{KEYS_MAIN, KA_CLEAR, {27}, "Esc", "drop the search and the filter"},
	{KEYS_MAIN, KA_SORT, {'S'}, "S", "sort: newest, state, run time, endpoint (cycles)"},
	{KEYS_MAIN, KA_FOLLOW, {'F'}, "F", "follow the newest job (on/off)"},
	{KEYS_MAIN, KA_SAVE, {'s'}, "s", "save the image(s) to a file or directory you type"},
	{KEYS_MAIN, KA_OPEN, {'o'}, "o", "open the image ($SDQ_OPEN); over SSH copy its path"},
	{KEYS_MAIN, KA_DELETE, {'d', KEY_DC}, "d Del", "delete the job or group (asks; asks again about files)"},
	{KEYS_MAIN, KA_GALLERY, {'t'}, "t", "thumbnail gallery; on a group's row, its grid by what varies"},
	{KEYS_MAIN, KA_VIEW, {'v'}, "v", "view the image full screen"},
	{KEYS_MAIN, KA_HEALTH, {'H'}, "H", "refresh the endpoints' health now"},
	{KEYS_MAIN, KA_NOTIFY, {'N'}, "N", "notify when jobs are done (on/off)"},
	{KEYS_MAIN, KA_REDRAW, {CTRL('L')}, "Ctrl-L", "redraw the screen and its images (in every view)"},
	{KEYS_MAIN, KA_HELP, {'?', KEY_F(1)}, "? F1", "this help"},
	{KEYS_MAIN, KA_QUIT, {'q'}, "q", "quit (running jobs go on in the background)"},
	/* compose form */
	{KEYS_COMPOSE, KA_NEXT_FIELD, {'\t'}, "Tab", "next field (Enter too, except in prompts)"},
	{KEYS_COMPOSE, KA_PREV_FIELD, {KEY_BTAB}, "Shift-Tab", "previous field"},
	{KEYS_COMPOSE, KA_SUBMIT, {CTRL('S')}, "Ctrl-S", "submit (a job per {a|b} choice x Seeds; asks above 10)"},
	{KEYS_COMPOSE, KA_ESCAPE, {27, CTRL('G')}, "Esc", "cancel (asks if text would be lost)"},
	{KEYS_COMPOSE, KA_LEFT, {KEY_LEFT, CTRL('B')}, "Left", "move left"},
	{KEYS_COMPOSE, KA_RIGHT, {KEY_RIGHT, CTRL('F')}, "Right", "move right"},
	{KEYS_COMPOSE, KA_LINE_UP, {KEY_UP, CTRL('P')}, "Up",
	 "line up; on the prompt's first line: an older prompt"},
	{KEYS_COMPOSE, KA_LINE_DOWN, {KEY_DOWN, CTRL('N')}, "Down",
	 "line down; on the prompt's last line: a newer prompt"},
	{KEYS_COMPOSE, KA_HOME, {KEY_HOME, CTRL('A')}, "Home Ctrl-A", "start of line"},
	{KEYS_COMPOSE, KA_END, {KEY_END, CTRL('E')}, "End Ctrl-E", "end of line"},
	{KEYS_COMPOSE, KA_BACKSPACE, {KEY_BACKSPACE, 127, CTRL('H')}, "Backspace",
	 "delete before the cursor"},
	{KEYS_COMPOSE, KA_DELETE_CHAR, {KEY_DC, CTRL('D')}, "Delete Ctrl-D", "delete at the cursor"},
	{KEYS_COMPOSE, KA_KILL_WORD, {CTRL('W')}, "Ctrl-W", "delete the word before the cursor"},
	{KEYS_COMPOSE, KA_KILL_BOL, {CTRL('U')}, "Ctrl-U", "delete to the start of the line"},
	{KEYS_COMPOSE, KA_KILL_EOL, {CTRL('K')}, "Ctrl-K", "delete to the end of the line"},
	{KEYS_COMPOSE, KA_NEWLINE, {'\r', '\n', KEY_ENTER}, "Enter",
	 "new line in prompts; else next field; submit on the last"},
	/* gallery */
	{KEYS_GALLERY, KA_GAL_LEFT, {KEY_LEFT, 'h'}, "h Left", "previous thumbnail"},
	{KEYS_GALLERY, KA_GAL_RIGHT, {KEY_RIGHT, 'l'}, "l Right", "next thumbnail"},
	{KEYS_GALLERY, KA_GAL_UP, {KEY_UP, 'k'}, "k Up", "row up"},
	{KEYS_GALLERY, KA_GAL_DOWN, {KEY_DOWN, 'j'}, "j Down", "row down"},
	{KEYS_GALLERY, KA_GAL_OPEN, {'\r', '\n', KEY_ENTER, 'v'}, "Enter v",
	 "view the selected image full screen"},
	{KEYS_GALLERY, KA_GAL_CLOSE, {27, 't', 'q'}, "Esc t q", "back to the jobs table"},
	{KEYS_GALLERY, KA_GAL_PAGE_NEXT, {KEY_NPAGE, ' '}, "PgDn Space", "a group's next page (its third axis)"},
	{KEYS_GALLERY, KA_GAL_PAGE_PREV, {KEY_PPAGE}, "PgUp", "a group's previous page"},
	/* image viewer */
	{KEYS_VIEW, KA_VIEW_PREV, {KEY_LEFT, 'h', KEY_PPAGE}, "h Left", "previous image of the job"},
	{KEYS_VIEW, KA_VIEW_NEXT, {KEY_RIGHT, 'l', KEY_NPAGE, ' '}, "l Right", "next image of the job"},
	{KEYS_VIEW, KA_VIEW_CLOSE, {27, 'q', 'v'}, "Esc q v", "back (any other key too); jobs go on meanwhile"},
};
/* clang-format on */

enum keys_action keys_lookup(enum keys_context ctx, int code)
{
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		if (keys[i].ctx != ctx)
			continue;
		for (int k = 0; k < KEYS_MAX_CODES && keys[i].codes[k]; k++)
			if (keys[i].codes[k] == code)
				return keys[i].action;
	}
	return KA_NONE;
}

const struct keys_binding *keys_table(size_t *n)
{
	*n = sizeof keys / sizeof keys[0];
	return keys;
}

const char *keys_context_name(enum keys_context ctx)
{
	switch (ctx) {
	case KEYS_MAIN:
		return "Jobs";
	case KEYS_COMPOSE:
		return "Compose and every text field";
	case KEYS_GALLERY:
		return "Gallery";
	case KEYS_VIEW:
		return "Image viewer";
	default:
		return "";
	}
}
