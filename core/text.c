/*
 * text.c: sanitising outside text for the terminal, and measuring it.
 *
 * The UTF-8 decoder here is strict (no overlong forms, no surrogates, nothing
 * above U+10FFFF) because a lenient one is how an escape sequence slips past a
 * filter. The rules of what is shown how are in text.h.
 */
#define _XOPEN_SOURCE 700 /* wcwidth */
#include "text.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "util.h"

size_t text_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t c;
	size_t len, i;

	if (n == 0)
		return 0;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xC2 && s[0] <= 0xDF) {
		len = 2;
		c = s[0] & 0x1F;
	} else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
		len = 3;
		c = s[0] & 0x0F;
	} else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
		len = 4;
		c = s[0] & 0x07;
	} else {
		return 0; /* continuation byte, 0xC0/0xC1 or 0xF5.. */
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3F);
	}
	if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) || c > 0x10FFFF ||
	    (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return len;
}

size_t text_utf8_encode(uint32_t cp, char out[4])
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Columns of one code point; unknown or non-printable counts 1. */
static int cp_width(uint32_t cp)
{
	int w = wcwidth((wchar_t)cp);
	return w < 0 ? 1 : w;
}

/* Code points above U+009F that must not reach the terminal raw: they
 * reorder or break lines (a "Trojan Source" prompt, a fake newline). */
static int cp_is_format_hazard(uint32_t cp)
{
	return cp == 0x200E || cp == 0x200F || (cp >= 0x2028 && cp <= 0x202E) ||
	       (cp >= 0x2066 && cp <= 0x2069);
}

static void buf_puts(struct util_buf *b, const char *s)
{
	util_buf_put(b, s, strlen(s));
}

char *text_sanitize(const char *s, size_t len, int flags)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *u = (const unsigned char *)s;
	struct util_buf b = {0};
	size_t i = 0, col = 0;

	util_buf_put(&b, "", 0);
	if (!s)
		len = 0;
	while (i < len && !b.oom) {
		unsigned char c = u[i];
		uint32_t cp;
		size_t n;

		if (c == '\n' || (c == '\r' && i + 1 < len && u[i + 1] == '\n')) {
			i += c == '\r' ? 2 : 1;
			if (flags & TEXT_KEEP_NEWLINES) {
				util_buf_put(&b, "\n", 1);
				col = 0;
			} else if (flags & TEXT_NEWLINE_SPACE) {
				util_buf_put(&b, " ", 1);
				col++;
			} else {
				buf_puts(&b, "\xe2\x8f\x8e"); /* U+23CE ⏎ */
				col++;
			}
			continue;
		}
		if (c == '\t' && (flags & TEXT_TABS_TO_SPACES)) {
			size_t to = (col / 8 + 1) * 8;
			for (; col < to; col++)
				util_buf_put(&b, " ", 1);
			i++;
			continue;
		}
		if (c < 0x20 || c == 0x7F) {
			char v[2] = {'^', c == 0x7F ? '?' : (char)(c + '@')};
			util_buf_put(&b, v, 2);
			col += 2;
			i++;
			continue;
		}
		n = text_utf8_decode(u + i, len - i, &cp);
		if (n == 0) {
			buf_puts(&b, "\xef\xbf\xbd"); /* U+FFFD */
			col++;
			i++;
			continue;
		}
		if (cp >= 0x80 && cp <= 0x9F) {
			char v[4] = {'\\', 'x', hex[cp >> 4], hex[cp & 15]};
			util_buf_put(&b, v, 4);
			col += 4;
		} else if (cp_is_format_hazard(cp)) {
			static const char hexu[] = "0123456789ABCDEF";
			char v[8] = {'<',
			             'U',
			             '+',
			             hexu[(cp >> 12) & 15],
			             hexu[(cp >> 8) & 15],
			             hexu[(cp >> 4) & 15],
			             hexu[cp & 15],
			             '>'};
			util_buf_put(&b, v, 8);
			col += 8;
		} else {
			util_buf_put(&b, u + i, n);
			col += (size_t)cp_width(cp);
		}
		i += n;
	}
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

char *text_sanitize_str(const char *s, int flags)
{
	return text_sanitize(s, s ? strlen(s) : 0, flags);
}

size_t text_utf8_width(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t w = 0, len, i = 0, n;
	uint32_t cp;

	if (!s)
		return 0;
	len = strlen(s);
	while (i < len) {
		n = text_utf8_decode(u + i, len - i, &cp);
		if (n == 0) {
			w++;
			i++;
			continue;
		}
		w += (size_t)cp_width(cp);
		i += n;
	}
	return w;
}

size_t text_utf8_fit(const char *s, int cols)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t used = 0, len, i = 0, n;
	uint32_t cp;

	if (!s || cols <= 0)
		return 0;
	len = strlen(s);
	while (i < len) {
		int w;
		n = text_utf8_decode(u + i, len - i, &cp);
		if (n == 0) {
			n = 1;
			w = 1;
		} else {
			w = cp_width(cp);
		}
		/* A zero-width mark after a character that fits still fits. */
		if (used + (size_t)w > (size_t)cols)
			break;
		used += (size_t)w;
		i += n;
	}
	return i;
}

char *text_truncate(const char *s, int cols)
{
	size_t fit;
	char *r;

	if (!s)
		s = "";
	if (cols <= 0)
		return strdup("");
	if (text_utf8_width(s) <= (size_t)cols)
		return strdup(s);
	fit = text_utf8_fit(s, cols - 1); /* room for the ellipsis */
	if (!(r = malloc(fit + 4)))
		return NULL;
	memcpy(r, s, fit);
	memcpy(r + fit, "\xe2\x80\xa6", 4); /* "…" and the NUL */
	return r;
}
