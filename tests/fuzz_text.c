/*
 * fuzz_text.c: text_sanitize / text_utf8_fit / text_truncate on any bytes.
 *
 * The first byte picks the flags and a column count; the rest is the text.
 * Checked on every input (text.h's promises): the sanitised text is valid
 * UTF-8 holding no C0 control (but "\n" with TEXT_KEEP_NEWLINES), no DEL, no
 * C1 control and no bidi/line-separator code point; fitting never cuts a
 * character and never exceeds the columns; truncation fits the columns.
 */
#define _XOPEN_SOURCE 700
#include <locale.h>
#include <string.h>

#include "fuzz_replay.h"
#include "text.h"

static void fuzz_init(void)
{
	if (!setlocale(LC_CTYPE, "C.UTF-8") && !setlocale(LC_CTYPE, "C.utf8"))
		setlocale(LC_CTYPE, "en_US.UTF-8");
}

/* Strict UTF-8 length of the character at s, or 0 if invalid (an
 * independent decoder, so text.c's own is not checked against itself). */
static size_t u8len(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t len, i;
	uint32_t c;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xE0) == 0xC0)
		len = 2, c = s[0] & 0x1F;
	else if ((s[0] & 0xF0) == 0xE0)
		len = 3, c = s[0] & 0x0F;
	else if ((s[0] & 0xF8) == 0xF0)
		len = 4, c = s[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3F);
	}
	if ((len == 2 && c < 0x80) || (len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
	    c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return len;
}

static void check_safe(const char *out, int flags)
{
	const unsigned char *u = (const unsigned char *)out;
	size_t n = strlen(out), i = 0, l;
	uint32_t cp;

	while (i < n) {
		l = u8len(u + i, n - i, &cp);
		FUZZ_CHECK(l > 0); /* valid UTF-8 */
		if (l == 0)
			return;
		if (cp == '\n')
			FUZZ_CHECK(flags & TEXT_KEEP_NEWLINES);
		else
			FUZZ_CHECK(cp >= 0x20 && cp != 0x7F);
		FUZZ_CHECK(!(cp >= 0x80 && cp <= 0x9F));
		FUZZ_CHECK(cp != 0x200E && cp != 0x200F && !(cp >= 0x2028 && cp <= 0x202E) &&
		           !(cp >= 0x2066 && cp <= 0x2069));
		i += l;
	}
}

static void check_fit(const char *s, int cols)
{
	size_t fit = text_utf8_fit(s, cols), len = strlen(s);
	char *pre;

	FUZZ_CHECK(fit <= len);
	if (cols <= 0)
		FUZZ_CHECK(fit == 0);
	/* never in the middle of a character of (sanitised, valid) s */
	if (fit < len)
		FUZZ_CHECK(((unsigned char)s[fit] & 0xC0) != 0x80);
	pre = fuzz_cstr((const uint8_t *)s, fit);
	FUZZ_CHECK(text_utf8_width(pre) <= (size_t)(cols > 0 ? cols : 0));
	free(pre);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int flags, cols;
	const char *s;
	char *out, *cs, *tr;
	size_t len;

	if (size < 1)
		return 0;
	flags = data[0] & 7;
	cols = (data[0] >> 3) - 4; /* -4 .. 27: some <= 0 */
	s = (const char *)data + 1;
	len = size - 1;

	out = text_sanitize(s, len, flags);
	FUZZ_CHECK(out != NULL);
	if (!out)
		return 0;
	check_safe(out, flags);
	/* NUL bytes inside are shown, so the result is never shorter than the input's
	 * characters: at least one output byte per input byte that is not a newline */
	check_fit(out, cols);
	tr = text_truncate(out, cols);
	FUZZ_CHECK(tr != NULL);
	if (tr) {
		FUZZ_CHECK(text_utf8_width(tr) <= (size_t)(cols > 0 ? cols : 0));
		if (cols > 0 && text_utf8_width(out) <= (size_t)cols)
			FUZZ_CHECK(strcmp(tr, out) == 0);
		free(tr);
	}
	/* sanitising twice changes nothing more without newlines/tabs to map */
	if (!(flags & TEXT_KEEP_NEWLINES)) {
		char *again = text_sanitize_str(out, flags);
		FUZZ_CHECK(again && strcmp(again, out) == 0);
		free(again);
	}
	free(out);

	/* the unsanitised measures must not read past the end either */
	cs = fuzz_cstr((const uint8_t *)s, len);
	(void)text_utf8_width(cs);
	(void)text_utf8_fit(cs, cols);
	tr = text_truncate(cs, cols);
	free(tr);
	out = text_sanitize_str(cs, flags);
	check_safe(out ? out : "", flags);
	free(out);
	free(cs);
	return 0;
}

FUZZ_REPLAY_MAIN("text")
