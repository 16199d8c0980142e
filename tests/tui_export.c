/*
 * tui_export.c: the pieces of sdq export that are pure: CSV cells (RFC 4180
 * quoting, formula injection guarded in text cells only) and --since dates.
 * The commands themselves are tested end to end by tests/it_export.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd_export.h"
#include "th.h"

static char *cell(const char *s, int text)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	export_csv_cell(f, s, text);
	fclose(f);
	return buf;
}

static void test_csv_cells(void)
{
	static const struct {
		const char *in;
		int text;
		const char *out;
	} rows[] = {
	    {"plain", 1, "plain"},
	    {"", 1, ""},
	    {"a, b", 1, "\"a, b\""},
	    {"say \"hi\"", 1, "\"say \"\"hi\"\"\""},
	    {"two\nlines", 1, "\"two\nlines\""},
	    {"cr\r", 1, "\"cr\r\""},
	    {"=HYPERLINK(\"http://x\")", 1, "\"'=HYPERLINK(\"\"http://x\"\")\""},
	    {"+1+2", 1, "\"'+1+2\""},
	    {"-2+3", 1, "\"'-2+3\""},
	    {"@SUM(A1)", 1, "\"'@SUM(A1)\""},
	    {"-1", 0, "-1"}, /* a number stays a number */
	    {"0.0055", 0, "0.0055"},
	    {"a=b", 1, "a=b"}, /* only at the start */
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		char *c = cell(rows[i].in, rows[i].text);
		if (!CHECK_STR(c, rows[i].out))
			fprintf(stderr, "  row %zu\n", i);
		free(c);
	}
}

static void test_since(void)
{
	int64_t now = 1795000000000, t = 0;
	struct tm tm = {0};

	CHECK_INT(export_parse_since("7d", now, &t), 0);
	CHECK_INT(t, now - 7 * 86400000LL);
	CHECK_INT(export_parse_since("36h", now, &t), 0);
	CHECK_INT(t, now - 36 * 3600000LL);
	tm.tm_year = 2026 - 1900;
	tm.tm_mon = 10;
	tm.tm_mday = 27;
	tm.tm_isdst = -1;
	CHECK_INT(export_parse_since("2026-11-27", now, &t), 0);
	CHECK_INT(t, (int64_t)mktime(&tm) * 1000);
	tm.tm_hour = 15;
	tm.tm_min = 2;
	tm.tm_isdst = -1;
	CHECK_INT(export_parse_since("2026-11-27T15:02", now, &t), 0);
	CHECK_INT(t, (int64_t)mktime(&tm) * 1000);
	tm.tm_sec = 54;
	tm.tm_isdst = -1;
	CHECK_INT(export_parse_since("2026-11-27 15:02:54", now, &t), 0);
	CHECK_INT(t, (int64_t)mktime(&tm) * 1000);
	static const char *const bad[] = {"",   "yesterday", "2026-11",       "2026-11-27x", "7",
	                                  "7w", "-3d",       "2026-11-27T15", NULL};
	for (int i = 0; bad[i]; i++)
		if (!CHECK_INT(export_parse_since(bad[i], now, &t), -1))
			fprintf(stderr, "  accepted \"%s\"\n", bad[i]);
}

int main(void)
{
	TH_RUN(test_csv_cells);
	TH_RUN(test_since);
	return th_done("tui_export");
}
