/*
 * cmd_export.h: sdq export [--since DATE] [--format jsonl|csv] [-o FILE] and
 * sdq import [--images DIR] [FILE|-] (see cli.h for the calling convention),
 * and the pieces of them worth testing alone.
 */
#ifndef SDQ_CMD_EXPORT_H
#define SDQ_CMD_EXPORT_H

#include <stdint.h>
#include <stdio.h>

struct config;

/* Write the history as JSON Lines or CSV. */
int cmd_export_run(struct config *cfg, int argc, char **argv);
/* Read an export (JSON Lines) into this history without duplicates. */
int cmd_import_run(struct config *cfg, int argc, char **argv);

/* --since: "YYYY-MM-DD", "YYYY-MM-DDTHH:MM[:SS]" (or a space for the T), in
 * local time, or "Nd" / "Nh" before now_ms. ms since the epoch in *out: 0,
 * or -1 when s is none of these. */
int export_parse_since(const char *s, int64_t now_ms, int64_t *out);

/* Write s as one CSV cell (RFC 4180: quoted when it holds a comma, a quote or
 * a line break, quotes doubled). text: a cell starting with = + - or @ is
 * prefixed with ' inside quotes, so a spreadsheet shows it rather than
 * running it as a formula (numbers are written as they are). */
void export_csv_cell(FILE *f, const char *s, int text);

#endif
