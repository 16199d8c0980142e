/*
 * notify.h: "tell me when it is done". A bell and a desktop notification
 * sent through the terminal (OSC 9 or OSC 777; through tmux or screen with
 * passthrough, osc52.h), once per batch of jobs: from `sdq wait --notify`,
 * and from the dashboard when the last live job of a batch finishes ([ui]
 * notify, toggled with N). A batch is every job seen live from the moment
 * one is live until none is, so a group or a sweep gives one notification,
 * never one per job.
 *
 * Text from outside (a prompt) goes through notify_clean before it is put in
 * a sequence: nothing in it can end the OSC early or start another one.
 */
#ifndef SDQ_NOTIFY_H
#define SDQ_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

struct store;

/* How a notification is shown: the [ui] notify config key's values. */
enum notify_mode {
	NOTIFY_OFF,    /* nothing ("off", the default) */
	NOTIFY_BELL,   /* the bell only ("bell") */
	NOTIFY_OSC9,   /* bell + OSC 9 ("osc9": iTerm2, kitty, Windows Terminal, ...) */
	NOTIFY_OSC777, /* bell + OSC 777 ("osc777": foot, urxvt, VTE terminals, WezTerm, ...) */
	NOTIFY_ON,     /* bell + the OSC this terminal takes ("on": notify_pick) */
};

/* Longest text of a notification (bytes, cut on a character). */
#define NOTIFY_TEXT_MAX 240

/* "off", "on", "bell", "osc9", "osc777" -> *out: 0, or -1 for any other s. */
int notify_mode_parse(const char *s, enum notify_mode *out);

/* NOTIFY_ON made concrete from the environment (TERM, TERM_PROGRAM,
 * VTE_VERSION; inside tmux the outer terminal's variables it kept):
 * NOTIFY_OSC777 for terminals known to take it, NOTIFY_BELL for those known
 * to take neither (Apple Terminal, the Linux console), else NOTIFY_OSC9.
 * Other modes are returned unchanged. */
enum notify_mode notify_pick(enum notify_mode m);

/* A copy of s safe inside an OSC string: controls (C0, DEL, C1, ESC) and
 * invalid UTF-8 shown as text.h shows them, newlines and tabs as spaces, ';'
 * as ',' (it separates OSC 777's fields), cut to max bytes on a character
 * boundary. Malloc'd; NULL on ENOMEM; NULL s gives "". */
char *notify_clean(const char *s, size_t max);

/* The bytes of one notification in mode m (ON is picked here): OFF none, BELL
 * a BEL, OSC9/OSC777 a BEL then the OSC (ST-terminated, through
 * osc52_passthrough; the bell goes to tmux or screen itself, which flag the
 * window). title and body are cleaned. Malloc'd, *len set; NULL on ENOMEM. */
char *notify_build(enum notify_mode m, const char *title, const char *body, size_t *len);

/* Write one notification to terminal fd. 0, or -1 on ENOMEM or a write error. */
int notify_send(int fd, enum notify_mode m, const char *title, const char *body);

/* One line on how jobs ids[0..n) ended, into buf: "job 12 COMPLETED: a red
 * fox" for one job, "5 jobs: 4 COMPLETED, 1 FAILED" for several (deleted
 * jobs not counted). Not cleaned: notify_build does that. */
void notify_summary(struct store *st, const int64_t *ids, size_t n, char *buf, size_t len);

/* The dashboard's watcher. mode is the config's (OFF: off until toggled, then
 * ON). NULL on ENOMEM; notify_free accepts NULL. */
struct notify;
struct notify *notify_new(enum notify_mode mode);
/* The same from the config's word ([ui] notify; anything else is off). */
struct notify *notify_new_config(const char *value);
void notify_free(struct notify *n);
/* Turn notifications on or off; a static sentence saying which. */
const char *notify_toggle(struct notify *n);
int notify_enabled(const struct notify *n);
/* Look at st's live jobs (call it whenever the store may have changed). When
 * a batch ends and notifications are on, write one notification to fd.
 * 1 when it notified, else 0 (a store error is tried again next time). */
int notify_step(struct notify *n, struct store *st, int fd);

#endif
