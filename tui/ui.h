/*
 * ui.h: the dashboard (`sdq` with no command): curses lifecycle, layout, the
 * key table and the glue between the engine's loop and the redraws.
 */
#ifndef SDQ_UI_H
#define SDQ_UI_H

struct config;

/* Run the dashboard on the controlling terminal until the user quits.
 * cfg is borrowed (it must outlive the call); endpoint_override, if not NULL,
 * names the endpoint (or URL) new jobs go to by default. The terminal is
 * restored before returning. Returns an exit status: 0 on a normal quit, 1 when
 * the dashboard could not start (the reason is printed on stderr). */
int ui_run(struct config *cfg, const char *endpoint_override);

#endif
