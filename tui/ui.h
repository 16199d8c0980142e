/*
 * ui.h: the dashboard (`sdq` with no command): curses lifecycle, layout, the
 * key table glue and the engine loop (ui.c). main.c needs only ui_run(); the
 * drawing helpers the screens share are in draw.h.
 */
#ifndef SDQ_UI_H
#define SDQ_UI_H

#include <stddef.h>
#include <stdint.h>

struct config;

/* Run the dashboard on the controlling terminal until the user quits.
 * cfg is borrowed (it must outlive the call); endpoint_override, if not NULL,
 * names the endpoint (or URL) new jobs go to by default. The terminal is
 * restored before returning. Returns an exit status: 0 on a normal quit, 1 when
 * the dashboard could not start (the reason is printed on stderr), 2 when the
 * terminal cannot host it (TERM unset, dumb or unknown, no cursor addressing,
 * smaller than 40x8: the reason and the commands to use instead on stderr). */
int ui_run(struct config *cfg, const char *endpoint_override);

#endif
