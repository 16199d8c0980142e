/*
 * params_json.h: the JSON reader of the input templates (params.c): text to
 * a cJSON tree whose numbers are raw items holding the text they were
 * written with, so a 64-bit seed or a long decimal goes out byte for byte
 * instead of through a double. Strict JSON (RFC 8259), valid UTF-8 only, no
 * "\u0000", at most PARAMS_JSON_DEPTH_MAX levels deep. Internal to params.
 */
#ifndef SDQ_PARAMS_JSON_H
#define SDQ_PARAMS_JSON_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* Deepest nesting taken (what reads the tree may recurse once per level). */
#define PARAMS_JSON_DEPTH_MAX 256

/* Parse len bytes of text (what names it in messages: a path, "--set").
 * NULL with *err set ("what:line:col: invalid JSON (why)"). */
cJSON *params_json_parse(const char *text, size_t len, const char *what, char **err);

/* 1 if the len bytes at s are exactly one JSON number. */
int params_json_is_number(const char *s, size_t len);

#endif
