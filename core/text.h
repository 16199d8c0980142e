/*
 * text.h: making outside text safe and measurable for a terminal.
 *
 * Everything that came from outside (server JSON, error strings, prompts, file
 * names, a child's output) goes through text_sanitize() before it is drawn or
 * printed, so an escape sequence inside it is shown, never executed.
 *
 * What text_sanitize() does, byte by byte:
 *   - valid, printable UTF-8 is copied as is;
 *   - ESC is shown as "^[", other C0 controls as "^X" (NUL "^@", BEL "^G",
 *     CR "^M", ...), DEL as "^?";
 *   - C1 controls (U+0080..U+009F, written as valid UTF-8) as "\xNN";
 *   - bidirectional overrides/isolates and line/paragraph separators
 *     (U+200E, U+200F, U+2028..U+202E, U+2066..U+2069) as "<U+XXXX>";
 *   - each byte that is not part of valid UTF-8 (a stray 0x9b, an overlong
 *     form, a surrogate, a cut sequence) as U+FFFD;
 *   - "\n" (and "\r\n") is shown as U+23CE "⏎" (so one line stays one line),
 *     or as a space with TEXT_NEWLINE_SPACE, or kept with TEXT_KEEP_NEWLINES
 *     (a lone CR is always "^M": it would overwrite the line);
 *   - a tab is "^I", or with TEXT_TABS_TO_SPACES spaces up to the next multiple
 *     of 8 columns (counted from the last kept newline).
 *
 * Widths use wcwidth(3): the caller has called setlocale(LC_CTYPE, "") with a
 * UTF-8 locale. A code point wcwidth() does not know counts as 1 column.
 */
#ifndef SDQ_TEXT_H
#define SDQ_TEXT_H

#include <stddef.h>
#include <stdint.h>

enum {
	TEXT_KEEP_NEWLINES = 1 << 0,  /* keep "\n" (a "\r\n" becomes "\n") */
	TEXT_TABS_TO_SPACES = 1 << 1, /* expand tabs to 8-column stops */
	TEXT_NEWLINE_SPACE = 1 << 2,  /* without KEEP_NEWLINES: "\n" as " ", not "⏎" */
};

/* Decode one UTF-8 character from s (n bytes available; nothing past them is
 * read). Returns its length (1..4) with *cp set, or 0 when s does not start a
 * valid sequence: strict, no overlong form, surrogate or code point above
 * U+10FFFF. */
size_t text_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);

/* Write code point cp (at most U+10FFFF; the caller checks) as UTF-8 into
 * out, not NUL-terminated. Returns the number of bytes, 1..4. */
size_t text_utf8_encode(uint32_t cp, char out[4]);

/* A malloc'd, NUL-terminated copy of the len bytes at s, safe to draw (see
 * above); NUL bytes inside are shown as "^@". s == NULL gives "". NULL only on
 * ENOMEM. The caller frees it. */
char *text_sanitize(const char *s, size_t len, int flags);

/* text_sanitize(s, strlen(s), flags), with NULL giving "". */
char *text_sanitize_str(const char *s, int flags);

/* Display width in columns of the UTF-8 string s (NULL: 0). Meant for text
 * that went through text_sanitize(); a control or an invalid byte counts 1. */
size_t text_utf8_width(const char *s);

/* The byte length of the longest prefix of s that fits in cols columns,
 * never cutting a character in two and keeping zero-width marks with the
 * character before them. 0 for NULL or cols <= 0. */
size_t text_utf8_fit(const char *s, int cols);

/* A malloc'd copy of s cut to fit cols columns, ending in "…" when it was cut;
 * s is expected to be sanitised already. NULL s gives "". NULL on ENOMEM. */
char *text_truncate(const char *s, int cols);

#endif
