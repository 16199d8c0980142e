/*
 * tui_osc.c: the escape sequences sdq writes to the terminal itself: OSC 52
 * copies (base64 round trip, the cap, tmux and screen wrapping, what the
 * environment says about support) and notifications (the modes, the
 * terminal picked from the environment, the bytes of OSC 9 and OSC 777 with
 * hostile text that must not break out of the sequence, tmux passthrough),
 * and the dashboard's watcher: one notification per batch of jobs, read back
 * from a pipe, over a real store.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "job.h"
#include "notify.h"
#include "osc52.h"
#include "output.h"
#include "store.h"
#include "text.h"
#include "th.h"

static void env_clear(void)
{
	static const char *const vars[] = {"TMUX",         "STY",           "TERM",
	                                   "TERM_PROGRAM", "VTE_VERSION",   "KITTY_WINDOW_ID",
	                                   "WT_SESSION",   "XTERM_VERSION", NULL};
	for (int i = 0; vars[i]; i++)
		unsetenv(vars[i]);
	setenv("TERM", "xterm-256color", 1);
}

/* The count of byte c in the n bytes at s. */
static size_t count(const char *s, size_t n, char c)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += s[i] == c;
	return k;
}

/* s is valid UTF-8 with no control character (C0, DEL, C1) and no ';'. */
static int inert(const char *s)
{
	size_t n = strlen(s);
	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t k = text_utf8_decode((const unsigned char *)s + i, n - i, &cp);
		if (k == 0 || cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || cp == ';')
			return 0;
		i += k;
	}
	return 1;
}

static void test_osc52_plain(void)
{
	static const char *const texts[] = {"",
	                                    "a",
	                                    "ab",
	                                    "abc",
	                                    "abcd",
	                                    "/tmp/x y/1-0.png",
	                                    "caf\xc3\xa9 \xe2\x9c\x93",
	                                    "\x1b]0;evil\x07",
	                                    NULL};
	env_clear();
	for (int i = 0; texts[i]; i++) {
		size_t n = 0, dn = 0;
		char *s = osc52_sequence(texts[i], &n);
		unsigned char *dec = NULL;

		if (!CHECK(s))
			continue;
		CHECK(n >= 9 && memcmp(s, "\033]52;c;", 7) == 0);
		CHECK(memcmp(s + n - 2, "\033\\", 2) == 0);
		CHECK_INT(count(s, n, '\033'), 2); /* the introducer and ST only */
		CHECK_INT(count(s, n, '\007'), 0);
		CHECK_INT((n - 9) % 4, 0);
		if (strlen(texts[i]) == 0) {
			CHECK_INT(n, 9);
		} else if (CHECK(output_base64_decode(s + 7, n - 9, 1000, &dec, &dn) == 0)) {
			CHECK_INT(dn, strlen(texts[i]));
			CHECK(memcmp(dec, texts[i], dn) == 0);
		}
		free(dec);
		free(s);
	}
	{
		size_t n = 0;
		char *s = osc52_sequence("hi", &n);
		CHECK(s && n == 13 && memcmp(s, "\033]52;c;aGk=\033\\", 13) == 0);
		free(s);
	}
}

static void test_osc52_cap(void)
{
	char *big = malloc(OSC52_MAX + 2);
	size_t n = 0;
	char *s;

	env_clear();
	memset(big, 'x', OSC52_MAX + 1);
	big[OSC52_MAX + 1] = 0;
	CHECK(osc52_sequence(big, &n) == NULL);
	big[OSC52_MAX] = 0;
	s = osc52_sequence(big, &n);
	CHECK(s && n == 9 + (OSC52_MAX + 2) / 3 * 4);
	free(s);
	free(big);
}

static void test_osc52_wrapped(void)
{
	size_t n = 0;
	char *s;
	const char plain[] = "\033]52;c;aGk=\033\\";
	const char tmux[] = "\033Ptmux;\033\033]52;c;aGk=\033\033\\\033\\";
	const char screen[] = "\033P\033]52;c;aGk=\007\033\\";

	env_clear();
	setenv("TMUX", "/tmp/tmux-0/default,1,0", 1);
	s = osc52_sequence("hi", &n);
	/* plain (set-clipboard on), then passthrough (allow-passthrough on) */
	CHECK(s && n == strlen(plain) + strlen(tmux));
	CHECK(s && memcmp(s, plain, strlen(plain)) == 0);
	CHECK(s && memcmp(s + strlen(plain), tmux, strlen(tmux)) == 0);
	free(s);
	env_clear();
	setenv("STY", "123.pts-0.host", 1);
	setenv("TERM", "screen-256color", 1);
	s = osc52_sequence("hi", &n);
	/* screen ends its DCS at the first ST: the OSC inside ends with BEL */
	CHECK(s && n == strlen(screen) && memcmp(s, screen, n) == 0);
	free(s);
}

static void test_osc52_usable(void)
{
	const char *why = NULL;

	env_clear();
	setenv("TERM", "linux", 1);
	CHECK_INT(osc52_usable(&why), 0);
	CHECK(why && strstr(why, "console"));
	env_clear();
	setenv("VTE_VERSION", "7006", 1);
	CHECK_INT(osc52_usable(&why), 0);
	env_clear();
	setenv("TERM_PROGRAM", "Apple_Terminal", 1);
	CHECK_INT(osc52_usable(&why), 0);
	env_clear();
	setenv("KITTY_WINDOW_ID", "1", 1);
	CHECK_INT(osc52_usable(&why), 1);
	env_clear();
	setenv("TMUX", "x", 1);
	CHECK_INT(osc52_usable(&why), -1);
	CHECK(why && strstr(why, "set-clipboard"));
	env_clear();
	CHECK_INT(osc52_usable(NULL), -1);
}

static void test_notify_modes(void)
{
	enum notify_mode m = NOTIFY_BELL;

	CHECK(notify_mode_parse("off", &m) == 0 && m == NOTIFY_OFF);
	CHECK(notify_mode_parse("on", &m) == 0 && m == NOTIFY_ON);
	CHECK(notify_mode_parse("osc777", &m) == 0 && m == NOTIFY_OSC777);
	CHECK(notify_mode_parse("osc9", &m) == 0 && m == NOTIFY_OSC9);
	CHECK(notify_mode_parse("bell", &m) == 0 && m == NOTIFY_BELL);
	CHECK_INT(notify_mode_parse("yes please", &m), -1);
	CHECK_INT(notify_mode_parse(NULL, &m), -1);

	env_clear();
	CHECK_INT(notify_pick(NOTIFY_ON), NOTIFY_OSC9);
	CHECK_INT(notify_pick(NOTIFY_OSC777), NOTIFY_OSC777);
	setenv("TERM", "foot", 1);
	CHECK_INT(notify_pick(NOTIFY_ON), NOTIFY_OSC777);
	env_clear();
	setenv("VTE_VERSION", "7006", 1);
	CHECK_INT(notify_pick(NOTIFY_ON), NOTIFY_OSC777);
	env_clear();
	setenv("TERM_PROGRAM", "iTerm.app", 1);
	CHECK_INT(notify_pick(NOTIFY_ON), NOTIFY_OSC9);
	env_clear();
	setenv("TERM_PROGRAM", "Apple_Terminal", 1);
	CHECK_INT(notify_pick(NOTIFY_ON), NOTIFY_BELL);
}

static void test_notify_clean(void)
{
	/* ESC, BEL, ST, C1 ST (U+009C) as UTF-8 and as a raw byte, CSI, NUL-free
	 * controls, ';', newlines and tabs */
	const char *evil = "a\033]0;x\007b\033\\c\xc2\x9c"
	                   "d\x9c"
	                   "e\x9b"
	                   "31m;f\ng\th\x7f\x01";
	char *c = notify_clean(evil, 1000);

	CHECK(c && inert(c));
	CHECK(c && strchr(c, 'a') && strchr(c, 'h'));
	free(c);
	c = notify_clean("\xc3\xa9\xc3\xa9\xc3\xa9", 3); /* cut on a character */
	CHECK_STR(c, "\xc3\xa9");
	free(c);
	c = notify_clean(NULL, 10);
	CHECK_STR(c, "");
	free(c);
}

static void test_notify_bytes(void)
{
	const char *evil = "x\033]0;pwned\007\033\\\xc2\x9c;y";
	size_t n = 0;
	char *s;

	env_clear();
	s = notify_build(NOTIFY_OFF, "t", "b", &n);
	CHECK(s && n == 0);
	free(s);
	s = notify_build(NOTIFY_BELL, "t", "b", &n);
	CHECK(s && n == 1 && s[0] == '\a');
	free(s);

	s = notify_build(NOTIFY_OSC9, "sdq", "3 jobs: 3 COMPLETED", &n);
	CHECK(s && n == strlen("\a\033]9;sdq: 3 jobs: 3 COMPLETED\033\\") &&
	      memcmp(s, "\a\033]9;sdq: 3 jobs: 3 COMPLETED\033\\", n) == 0);
	free(s);
	s = notify_build(NOTIFY_OSC777, "sd;q", "done", &n);
	CHECK(s && n == strlen("\a\033]777;notify;sd,q;done\033\\") &&
	      memcmp(s, "\a\033]777;notify;sd,q;done\033\\", n) == 0);
	free(s);

	/* hostile text: one BEL (the bell), two ESCs (introducer, ST), and
	 * nothing between them a terminal would act on */
	for (int m = NOTIFY_OSC9; m <= NOTIFY_OSC777; m++) {
		s = notify_build((enum notify_mode)m, evil, evil, &n);
		if (!CHECK(s))
			continue;
		CHECK_INT(count(s, n, '\007'), 1);
		CHECK_INT(count(s, n, '\033'), 2);
		CHECK(n > 4 && memcmp(s + n - 2, "\033\\", 2) == 0);
		{
			char *inner = strndup(s + 3, n - 5); /* after BEL ESC ], before ST */
			char *p = inner ? strchr(inner, ';') : NULL;
			/* OSC 9: "9;" then text; OSC 777: "777;notify;T;B" */
			if (m == NOTIFY_OSC777)
				p = p && (p = strchr(p + 1, ';')) ? strchr(p + 1, ';') : NULL;
			CHECK(p && inert(p + 1));
			free(inner);
		}
		free(s);
	}

	/* tmux: the bell to tmux, the OSC through passthrough */
	setenv("TMUX", "x", 1);
	s = notify_build(NOTIFY_OSC9, "sdq", "done", &n);
	CHECK(s && n == strlen("\a\033Ptmux;\033\033]9;sdq: done\033\033\\\033\\") &&
	      memcmp(s, "\a\033Ptmux;\033\033]9;sdq: done\033\033\\\033\\", n) == 0);
	free(s);
	env_clear();
}

static int64_t add_job(struct store *st, const char *prompt, enum job_state state)
{
	struct job *j = job_new();
	int64_t id = 0;

	job_set_str(&j->params.prompt, prompt);
	job_set_str(&j->backend, "runpod");
	j->state = state;
	if (store_job_add(st, j, NULL) == 0)
		id = j->id;
	job_free(j);
	return id;
}

static void set_state(struct store *st, int64_t id, enum job_state state)
{
	struct job *j = store_job_get(st, id, NULL);
	if (!j)
		return;
	j->state = state;
	if (job_state_is_terminal(state))
		j->finished_at = job_now_ms();
	store_job_save(st, j, NULL);
	job_free(j);
}

/* What the watcher wrote to the pipe so far. */
static size_t drain(int fd, char *buf, size_t len)
{
	ssize_t r = read(fd, buf, len - 1);
	buf[r > 0 ? r : 0] = 0;
	return r > 0 ? (size_t)r : 0;
}

/* One look of the watcher, then wait for the millisecond clock to move on,
 * so what the test does next happens after the look (job times are ms). */
static int step(struct notify *nt, struct store *st, int fd)
{
	int r = notify_step(nt, st, fd);
	int64_t t = job_now_ms();

	for (int i = 0; i < 1000000 && job_now_ms() <= t; i++)
		;
	return r;
}

static void test_notify_batches(void)
{
	char path[4200], buf[4096];
	struct store *st;
	struct notify *nt;
	int p[2];
	int64_t a, b, c;

	env_clear();
	snprintf(path, sizeof path, "%s/history.db", th_tmpdir());
	st = store_open(path, NULL);
	if (!CHECK(st) || !CHECK(pipe(p) == 0))
		return;
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	nt = notify_new(NOTIFY_OSC9);
	CHECK(notify_enabled(nt));
	CHECK_INT(step(nt, st, p[1]), 0); /* nothing live, no batch */

	a = add_job(st, "a red fox", JOB_IN_QUEUE);
	b = add_job(st, "a blue owl", JOB_IN_PROGRESS);
	CHECK_INT(step(nt, st, p[1]), 0);
	set_state(st, a, JOB_COMPLETED);
	CHECK_INT(step(nt, st, p[1]), 0);      /* b still live */
	c = add_job(st, "a green frog", JOB_PENDING); /* joins the batch */
	CHECK_INT(step(nt, st, p[1]), 0);
	set_state(st, b, JOB_FAILED);
	set_state(st, c, JOB_COMPLETED);
	CHECK_INT(drain(p[0], buf, sizeof buf), 0);
	CHECK_INT(step(nt, st, p[1]), 1);
	drain(p[0], buf, sizeof buf);
	CHECK_STR(buf, "\a\033]9;sdq: 3 jobs: 2 COMPLETED, 1 FAILED\033\\");
	CHECK_INT(step(nt, st, p[1]), 0); /* once per batch */
	CHECK_INT(drain(p[0], buf, sizeof buf), 0);

	/* a batch of one names its job */
	a = add_job(st, "a\033]0;t\007 cat", JOB_IN_QUEUE);
	CHECK_INT(step(nt, st, p[1]), 0);
	set_state(st, a, JOB_CANCELLED);
	CHECK_INT(step(nt, st, p[1]), 1);
	drain(p[0], buf, sizeof buf);
	CHECK(strncmp(buf, "\a\033]9;sdq: job ", 13) == 0 &&
	      strstr(buf, "CANCELLED: a^[]0,t^G cat"));

	/* off: the batch ends silently; on again: the next one is told */
	CHECK(strstr(notify_toggle(nt), "off") != NULL);
	a = add_job(st, "x", JOB_IN_QUEUE);
	CHECK_INT(step(nt, st, p[1]), 0);
	set_state(st, a, JOB_COMPLETED);
	CHECK_INT(step(nt, st, p[1]), 0);
	CHECK_INT(drain(p[0], buf, sizeof buf), 0);
	CHECK(strstr(notify_toggle(nt), "on") != NULL);
	a = add_job(st, "y", JOB_IN_QUEUE);
	CHECK_INT(step(nt, st, p[1]), 0);
	set_state(st, a, JOB_COMPLETED);
	CHECK_INT(step(nt, st, p[1]), 1);

	/* jobs quicker than the looks (never seen live) still count: alone, or
	 * with a batch that was seen */
	a = add_job(st, "quick", JOB_IN_QUEUE);
	set_state(st, a, JOB_COMPLETED);
	drain(p[0], buf, sizeof buf);
	CHECK_INT(step(nt, st, p[1]), 1);
	drain(p[0], buf, sizeof buf);
	CHECK(strstr(buf, "COMPLETED: quick") != NULL);
	a = add_job(st, "slow", JOB_IN_PROGRESS);
	CHECK_INT(step(nt, st, p[1]), 0);
	b = add_job(st, "quick too", JOB_IN_QUEUE);
	set_state(st, b, JOB_FAILED);
	set_state(st, a, JOB_COMPLETED);
	CHECK_INT(step(nt, st, p[1]), 1);
	drain(p[0], buf, sizeof buf);
	CHECK_STR(buf, "\a\033]9;sdq: 2 jobs: 1 COMPLETED, 1 FAILED\033\\");
	CHECK_INT(step(nt, st, p[1]), 0);

	/* what ended before the first look is not told */
	notify_free(nt);
	nt = notify_new(NOTIFY_OSC9);
	CHECK_INT(step(nt, st, p[1]), 0);

	notify_free(nt);
	notify_free(NULL);
	close(p[0]);
	close(p[1]);
	store_close(st);
}

int main(void)
{
	TH_RUN(test_osc52_plain);
	TH_RUN(test_osc52_cap);
	TH_RUN(test_osc52_wrapped);
	TH_RUN(test_osc52_usable);
	TH_RUN(test_notify_modes);
	TH_RUN(test_notify_clean);
	TH_RUN(test_notify_bytes);
	TH_RUN(test_notify_batches);
	return th_done("tui_osc");
}
