/*
 * keys.h: the dashboard's key table. One table drives both the bindings (ui.c,
 * view_compose.c look keys up here) and the help screen (view_help.c prints
 * it), so the two cannot drift apart (nnn's bindings[]).
 */
#ifndef SDQ_KEYS_H
#define SDQ_KEYS_H

#include <stddef.h>

/* Where a binding applies. */
enum keys_context {
	KEYS_MAIN,    /* the jobs table */
	KEYS_COMPOSE, /* the compose form */
	KEYS_GALLERY, /* the thumbnail gallery */
	KEYS_VIEW,    /* the full-screen image viewer */
	KEYS_CONTEXT_COUNT
};

/* clang-format off */
enum keys_action {
	KA_NONE,
	/* main */
	KA_DOWN, KA_UP, KA_PGDN, KA_PGUP, KA_TOP, KA_BOTTOM,
	KA_DETAIL, KA_COMPOSE, KA_EDIT, KA_RERUN, KA_RETRY, KA_CANCEL,
	KA_SEARCH, KA_FILTER, KA_SAVE, KA_OPEN, KA_DELETE, KA_GALLERY, KA_VIEW,
	KA_HELP, KA_QUIT, KA_REDRAW, KA_HEALTH, KA_NOTIFY, KA_CLEAR, KA_DETAIL_DOWN, KA_DETAIL_UP,
	KA_SORT, KA_FOLLOW, KA_EXPAND, KA_COLLAPSE,
	/* compose */
	KA_NEXT_FIELD, KA_PREV_FIELD, KA_SUBMIT, KA_ESCAPE,
	KA_LEFT, KA_RIGHT, KA_LINE_UP, KA_LINE_DOWN, KA_HOME, KA_END,
	KA_BACKSPACE, KA_DELETE_CHAR, KA_KILL_WORD, KA_KILL_BOL, KA_KILL_EOL, KA_NEWLINE,
	/* gallery */
	KA_GAL_LEFT, KA_GAL_RIGHT, KA_GAL_UP, KA_GAL_DOWN, KA_GAL_OPEN, KA_GAL_CLOSE,
	KA_GAL_PAGE_NEXT, KA_GAL_PAGE_PREV,
	/* image viewer */
	KA_VIEW_PREV, KA_VIEW_NEXT, KA_VIEW_CLOSE,
};
/* clang-format on */

#define KEYS_MAX_CODES 4

struct keys_binding {
	enum keys_context ctx;
	enum keys_action action;
	int codes[KEYS_MAX_CODES]; /* curses key codes / characters; 0 ends */
	const char *label;         /* how the help shows the keys: "j Down" */
	const char *help;          /* what it does, one line */
};

/* The action bound to key code in ctx, or KA_NONE. */
enum keys_action keys_lookup(enum keys_context ctx, int code);

/* The whole table (static), in help order; *n gets its length. */
const struct keys_binding *keys_table(size_t *n);

/* A context's title for the help screen ("Jobs", "Compose", ...). */
const char *keys_context_name(enum keys_context ctx);

#endif
