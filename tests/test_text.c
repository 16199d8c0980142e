/* test_text.c: text_sanitize() and the UTF-8 width helpers, as tables. */
#include <locale.h>

#include "th.h"
#include "text.h"

#define KN TEXT_KEEP_NEWLINES
#define TS TEXT_TABS_TO_SPACES
#define NS TEXT_NEWLINE_SPACE

struct srow {
	const char *in;
	size_t len; /* 0: strlen(in) */
	int flags;
	const char *want;
};

/* clang-format off */
static const struct srow srows[] = {
	/* plain text and valid UTF-8 pass through */
	{"hello", 0, 0, "hello"},
	{"", 0, 0, ""},
	{"caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80", 0, 0,
	 "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80"},
	/* escape sequences are shown, never sent */
	{"\033[2J", 0, 0, "^[[2J"},
	{"a\033]52;c;SGVsbG8=\007b", 0, 0, "a^[]52;c;SGVsbG8=^Gb"},
	{"\033P1;2q#0\033\\", 0, 0, "^[P1;2q#0^[\\"},
	{"\033[31mred\033[0m", 0, KN | TS, "^[[31mred^[[0m"},
	/* a raw C1 CSI byte is not UTF-8: U+FFFD */
	{"x\x9b" "2Jy", 0, 0, "x\xef\xbf\xbd" "2Jy"},
	/* C1 written as valid UTF-8 (U+009B, U+0085) */
	{"x\xc2\x9b" "2J", 0, 0, "x\\x9b2J"},
	{"\xc2\x85", 0, KN, "\\x85"},
	/* other C0 and DEL */
	{"\001\002\177", 0, 0, "^A^B^?"},
	{"bell\007", 0, 0, "bell^G"},
	{"a\0b", 3, 0, "a^@b"},
	{"\x1f", 0, 0, "^_"},
	/* CR: alone it would overwrite the line */
	{"100%\rdone", 0, 0, "100%^Mdone"},
	{"100%\rdone", 0, KN, "100%^Mdone"},
	{"a\r\nb", 0, KN, "a\nb"},
	{"a\r\nb", 0, 0, "a\xe2\x8f\x8e" "b"},
	{"a\r", 0, KN, "a^M"},
	/* newlines */
	{"a\nb", 0, 0, "a\xe2\x8f\x8e" "b"},
	{"a\nb", 0, NS, "a b"},
	{"a\nb\n", 0, KN, "a\nb\n"},
	{"a\nb", 0, KN | NS, "a\nb"},
	/* tabs */
	{"a\tb", 0, 0, "a^Ib"},
	{"a\tb", 0, TS, "a       b"},
	{"\tb", 0, TS, "        b"},
	{"12345678\tb", 0, TS, "12345678        b"},
	{"ab\ncd\te", 0, KN | TS, "ab\ncd      e"},
	{"\xe6\x97\xa5\tb", 0, TS, "\xe6\x97\xa5      b"}, /* a wide char takes 2 */
	/* invalid UTF-8, byte by byte */
	{"\xff", 0, 0, "\xef\xbf\xbd"},
	{"a\xc3", 0, 0, "a\xef\xbf\xbd"},                       /* cut at the end */
	{"\xc3(", 0, 0, "\xef\xbf\xbd("},                       /* bad continuation */
	{"\xc0\xaf", 0, 0, "\xef\xbf\xbd\xef\xbf\xbd"},         /* overlong "/" */
	{"\xe0\x80\xaf", 0, 0, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* overlong */
	{"\xed\xa0\x80", 0, 0, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}, /* surrogate */
	{"\xf4\x90\x80\x80", 0, 0,
	 "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},   /* > U+10FFFF */
	{"\xc0\x9b", 0, 0, "\xef\xbf\xbd\xef\xbf\xbd"},         /* overlong ESC-ish */
	{"\xe2\x82", 0, 0, "\xef\xbf\xbd\xef\xbf\xbd"},
	/* bidi overrides and line separators */
	{"a\xe2\x80\xae" "b", 0, 0, "a<U+202E>b"},
	{"\xe2\x81\xa6x", 0, 0, "<U+2066>x"},
	{"a\xe2\x80\xa8" "b", 0, KN, "a<U+2028>b"},
	/* len is honoured: a cut in the middle of a character */
	{"\xc3\xa9", 1, 0, "\xef\xbf\xbd"},
	{"abcdef", 3, 0, "abc"},
};
/* clang-format on */

static void test_sanitize_table(void)
{
	for (size_t i = 0; i < sizeof srows / sizeof srows[0]; i++) {
		const struct srow *r = &srows[i];
		size_t len = r->len ? r->len : strlen(r->in);
		char *got = text_sanitize(r->in, len, r->flags);
		if (!got || strcmp(got, r->want) != 0)
			fprintf(stderr, "  row %zu\n", i);
		CHECK_STR(got, r->want);
		free(got);
	}
}

static void test_sanitize_null(void)
{
	char *a = text_sanitize(NULL, 10, 0), *b = text_sanitize_str(NULL, KN);
	char *c = text_sanitize_str("x\033y", 0);
	CHECK_STR(a, "");
	CHECK_STR(b, "");
	CHECK_STR(c, "x^[y");
	free(a);
	free(b);
	free(c);
}

/* Whatever comes in, nothing below 0x20 (except a kept \n), no DEL, no raw C1
 * and only valid UTF-8 comes out. Every byte value, in every position. */
static void test_sanitize_never_leaks(void)
{
	unsigned char in[4096];
	unsigned int x = 12345;
	for (int round = 0; round < 64; round++) {
		for (size_t i = 0; i < sizeof in; i++) {
			x = x * 1103515245u + 12345u;
			in[i] = (unsigned char)(round == 0 ? i : x >> 16);
		}
		char *out = text_sanitize((const char *)in, sizeof in, round & 3);
		CHECK(out != NULL);
		if (!out)
			return;
		size_t n = strlen(out);
		int bad = 0;
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)out[i];
			if ((c < 0x20 && !(c == '\n' && (round & KN))) || c == 0x7F)
				bad = 1;
		}
		CHECK(!bad);
		/* valid UTF-8 out, checked through mbstowcs in the UTF-8 locale */
		CHECK(mbstowcs(NULL, out, 0) != (size_t)-1);
		/* no C1 code point either */
		CHECK(strstr(out, "\xc2\x9b") == NULL && strstr(out, "\xc2\x85") == NULL);
		free(out);
	}
}

static void test_sanitize_long(void)
{
	size_t n = 1 << 20;
	char *big = malloc(n), *out;
	CHECK(big != NULL);
	if (!big)
		return;
	for (size_t i = 0; i < n; i++)
		big[i] = (i % 100 == 99) ? '\033' : 'a';
	out = text_sanitize(big, n, 0);
	CHECK(out != NULL);
	if (out) {
		CHECK_INT(strlen(out), n + n / 100);
		CHECK(strchr(out, '\033') == NULL);
		CHECK(memcmp(out + 99, "^[", 2) == 0);
	}
	free(out);
	free(big);
}

struct wrow {
	const char *s;
	size_t width;
};

static void test_width(void)
{
	static const struct wrow rows[] = {
	    {"", 0},
	    {"abc", 3},
	    {"caf\xc3\xa9", 4},
	    {"e\xcc\x81", 1},                /* e + combining acute */
	    {"\xe6\x97\xa5\xe6\x9c\xac", 4}, /* two wide CJK */
	    {"\xf0\x9f\x98\x80", 2},         /* emoji */
	    {"\xef\xbf\xbd", 1},             /* U+FFFD */
	    {"\xe2\x8f\x8e", 1},             /* the newline mark */
	    {"\xff"
	     "a",
	     2}, /* invalid byte counts 1 */
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
		CHECK_INT(text_utf8_width(rows[i].s), rows[i].width);
	CHECK_INT(text_utf8_width(NULL), 0);
}

struct frow {
	const char *s;
	int cols;
	size_t bytes;
};

static void test_fit(void)
{
	static const struct frow rows[] = {
	    {"hello", 10, 5},
	    {"hello", 5, 5},
	    {"hello", 3, 3},
	    {"hello", 0, 0},
	    {"hello", -1, 0},
	    {"", 4, 0},
	    {"caf\xc3\xa9!", 4, 5}, /* é is 2 bytes, 1 column */
	    {"caf\xc3\xa9!", 3, 3},
	    {"\xe6\x97\xa5\xe6\x9c\xac", 3, 3}, /* a wide char never half-drawn */
	    {"\xe6\x97\xa5\xe6\x9c\xac", 1, 0},
	    {"\xe6\x97\xa5\xe6\x9c\xac", 4, 6},
	    {"e\xcc\x81x", 1, 3}, /* the mark stays with its e */
	    {"ab\xf0\x9f\x98\x80"
	     "c",
	     3, 2},
	    {"ab\xf0\x9f\x98\x80"
	     "c",
	     4, 6},
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
		CHECK_INT(text_utf8_fit(rows[i].s, rows[i].cols), rows[i].bytes);
	CHECK_INT(text_utf8_fit(NULL, 5), 0);
}

static void test_truncate(void)
{
	static const struct {
		const char *s;
		int cols;
		const char *want;
	} rows[] = {
	    {"hello", 10, "hello"},
	    {"hello", 5, "hello"},
	    {"hello world", 5, "hell\xe2\x80\xa6"},
	    {"hello", 1, "\xe2\x80\xa6"},
	    {"hello", 0, ""},
	    {NULL, 3, ""},
	    {"\xe6\x97\xa5\xe6\x9c\xac\xe6\x97\xa5", 4, "\xe6\x97\xa5\xe2\x80\xa6"},
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		char *got = text_truncate(rows[i].s, rows[i].cols);
		CHECK_STR(got, rows[i].want);
		if (got && rows[i].cols > 0)
			CHECK(text_utf8_width(got) <= (size_t)rows[i].cols);
		free(got);
	}
}

/* text_utf8_encode writes what text_utf8_decode reads back, at each length
 * boundary; the decoder refuses overlong forms, surrogates and cut input. */
static void test_utf8_codec(void)
{
	static const struct {
		uint32_t cp;
		const char *utf8;
	} t[] = {
	    {0x41, "A"},
	    {0x7f, "\x7f"},
	    {0x80, "\xc2\x80"},
	    {0xe9, "\xc3\xa9"},
	    {0x7ff, "\xdf\xbf"},
	    {0x800, "\xe0\xa0\x80"},
	    {0x23ce, "\xe2\x8f\x8e"},
	    {0xffff, "\xef\xbf\xbf"},
	    {0x10000, "\xf0\x90\x80\x80"},
	    {0x1f600, "\xf0\x9f\x98\x80"},
	    {0x10ffff, "\xf4\x8f\xbf\xbf"},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		char b[4];
		uint32_t cp = 0;
		size_t n = text_utf8_encode(t[i].cp, b);
		CHECK_INT(n, strlen(t[i].utf8));
		CHECK(memcmp(b, t[i].utf8, n) == 0);
		CHECK_INT(text_utf8_decode((const unsigned char *)b, n, &cp), n);
		CHECK_INT(cp, t[i].cp);
		if (n > 1) /* one byte short */
			CHECK_INT(text_utf8_decode((const unsigned char *)b, n - 1, &cp), 0);
	}
	uint32_t cp;
	CHECK_INT(text_utf8_decode((const unsigned char *)"\xc0\xaf", 2, &cp), 0);
	CHECK_INT(text_utf8_decode((const unsigned char *)"\xe0\x80\xaf", 3, &cp), 0);
	CHECK_INT(text_utf8_decode((const unsigned char *)"\xed\xa0\x80", 3, &cp), 0);
	CHECK_INT(text_utf8_decode((const unsigned char *)"\xf4\x90\x80\x80", 4, &cp), 0);
	CHECK_INT(text_utf8_decode((const unsigned char *)"\x80", 1, &cp), 0);
}

int main(void)
{
	if (!setlocale(LC_CTYPE, "C.UTF-8") && !setlocale(LC_CTYPE, "C.utf8") &&
	    !setlocale(LC_CTYPE, "en_US.UTF-8")) {
		fprintf(stderr, "no UTF-8 locale\n");
		return 1;
	}
	TH_RUN(test_sanitize_table);
	TH_RUN(test_sanitize_null);
	TH_RUN(test_sanitize_never_leaks);
	TH_RUN(test_sanitize_long);
	TH_RUN(test_width);
	TH_RUN(test_fit);
	TH_RUN(test_truncate);
	TH_RUN(test_utf8_codec);
	return th_done("test_text");
}
