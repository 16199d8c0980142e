/*
 * tui_dashboard.c: the dashboard (`sdq` with no command) driven through a
 * pty and read back with libvterm (ptyterm.h), against the endpoint emulator.
 *
 * Covers: opening with and without an endpoint; compose + submit and the job
 * moving IN_QUEUE -> IN_PROGRESS -> COMPLETED with no key pressed; the detail
 * pane; a job submitted by another process showing up; cancel (with its
 * confirmation); search as you type; the state filter; the image viewer
 * leaving jobs moving; help listing every
 * binding of the key table; resize; mouse selection; NO_COLOR; quitting (and
 * SIGTERM) restoring the terminal; state names, the filter popup and the
 * header's workers in full words. No timing assertions: waits are generous
 * upper bounds.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "th.h"
#include "th_net.h"
#include "ptyterm.h"
#include "store.h"
#include "job.h"
/* The real key table (keys.o from libsdqtui.a): help must list exactly these. */
#include "keys.h"

#define WAIT_MS 15000

static const char *sdq_bin;
static char base_dir[4096];
static char endpoint_env[256];
static int test_no;
static char data_env[4300];

static struct emu emu;

/* The emulator forgets every job (POST /_emu/reset): a test that counts the
 * endpoint's queue starts from nothing. 0 on success. */
static int emu_reset(void)
{
	return emu_call(&emu, "/_emu/reset", "POST", NULL) == 200 ? 0 : -1;
}

/* POST a JSON body to the emulator's path (its /_emu/set takes one; emu_call
 * sends none), at most 10 s; 0 on a 200. */
static int emu_post(const char *path, const char *body)
{
	struct http *h = http_new(NULL);
	struct http_request r;
	struct th_got g = {0, -1, NULL};
	char url[256];
	int64_t deadline = util_now_ms() + 10000;
	if (!h)
		return -1;
	snprintf(url, sizeof url, "%s%s", emu.root, path);
	memset(&r, 0, sizeof r);
	r.url = url;
	r.method = "POST";
	r.body = body;
	http_request(h, &r, th_got_cb, &g, NULL);
	while (!g.done && util_now_ms() < deadline) {
		http_poll(h, NULL, 0, 200);
		http_perform(h);
	}
	http_free(h);
	free(g.body);
	return g.done && g.status == 200 ? 0 : -1;
}

/* A fresh history for each test. */
static void new_data_dir(void)
{
	char d[4200];
	snprintf(d, sizeof d, "%s/data%d", base_dir, ++test_no);
	mkdir(d, 0700);
	snprintf(data_env, sizeof data_env, "XDG_DATA_HOME=%s", d);
	setenv("XDG_DATA_HOME", d, 1);
}

static struct ptyterm *start(int cols, int rows, int with_endpoint, const char *extra)
{
	char *argv[] = {(char *)sdq_bin, NULL};
	char *env[8];
	int n = 0;
	env[n++] = "SDQ_GRAPHICS=none";
	env[n++] = data_env;
	if (with_endpoint) {
		env[n++] = endpoint_env;
		env[n++] = "RUNPOD_API_KEY=test-key";
	} else {
		env[n++] = "SDQ_ENDPOINT";
		env[n++] = "RUNPOD_API_KEY";
	}
	if (extra)
		env[n++] = (char *)extra;
	env[n] = NULL;
	struct ptyterm *pt = ptyterm_start(argv, env, cols, rows, NULL);
	if (pt)
		ptyterm_wait_for_text(pt, " sdq ", WAIT_MS);
	return pt;
}

static void dump(struct ptyterm *pt, const char *why)
{
	char *s = ptyterm_screen(pt);
	fprintf(stderr, "--- screen (%s) ---\n%s---\n", why, s ? s : "");
	free(s);
}

/* Wait for text, then for the rest of that frame (output quiet for 60 ms), so
 * that what is checked next is not half drawn. */
#define WAIT_TEXT(pt, text)                                                                        \
	do {                                                                                       \
		if (!CHECK(ptyterm_wait_for_text(pt, text, WAIT_MS)))                              \
			dump(pt, text);                                                            \
		ptyterm_settle(pt, 60, 2000);                                                      \
	} while (0)

/* Make sure every key sent so far was handled and drawn: open the help
 * screen and close it again (keys are handled in order). */
static void barrier(struct ptyterm *pt)
{
	ptyterm_send(pt, "?");
	WAIT_TEXT(pt, "select the next");
	ptyterm_key(pt, "Esc");
	CHECK(ptyterm_wait_for_text_gone(pt, "select the next", WAIT_MS));
	WAIT_TEXT(pt, "PROGRESS");
}

/* Quit with q and check that the terminal was given back. */
static void quit_and_check(struct ptyterm *pt)
{
	ptyterm_send(pt, "q");
	int st = ptyterm_wait_exit(pt, WAIT_MS);
	CHECK_INT(st, 0);
	CHECK_INT(ptyterm_altscreen(pt), 0);
	CHECK(ptyterm_tty_sane(pt));
	ptyterm_stop(pt);
}

/* Run `sdq submit -p PROMPT` in another process; 0 on success. */
static int cli_submit(const char *prompt)
{
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);
		dup2(fd, 1);
		execl(sdq_bin, "sdq", "submit", "-p", prompt, (char *)NULL);
		_exit(127);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* Compose a job through the form and submit it with Ctrl-S. */
static void compose(struct ptyterm *pt, const char *prompt)
{
	ptyterm_send(pt, "n");
	WAIT_TEXT(pt, "New job");
	ptyterm_send(pt, prompt);
	ptyterm_key(pt, "C-s");
	/* the form closes once the job is recorded; "job N submitted" may
	 * already be replaced by the endpoint's answer (a 401, a 429) */
	if (!CHECK(ptyterm_wait_for_text_gone(pt, "New job", WAIT_MS)))
		dump(pt, "the form stays");
	ptyterm_settle(pt, 60, 2000);
}

static void test_no_endpoint(void)
{
	new_data_dir();
	struct ptyterm *pt = start(80, 24, 0, NULL);
	CHECK(pt != NULL);
	if (!pt)
		return;
	WAIT_TEXT(pt, "No jobs yet");
	/* the status line says how to configure one */
	WAIT_TEXT(pt, "SDQ_ENDPOINT");
	int row = -1;
	CHECK(ptyterm_find(pt, "SDQ_ENDPOINT", &row, NULL) && row == 23);
	CHECK(ptyterm_altscreen(pt));
	quit_and_check(pt);
}

static void test_submit_flow(void)
{
	new_data_dir();
	struct ptyterm *pt = start(80, 24, 1, NULL);
	if (!CHECK(pt != NULL))
		return;
	WAIT_TEXT(pt, "idle"); /* the header shows the endpoint's workers */
	compose(pt, "a red fox [[queue=1 run=2 steps=3]]");
	/* no key pressed from here on */
	WAIT_TEXT(pt, "IN_QUEUE");
	int row = -1, col = -1;
	if (ptyterm_find(pt, "IN_QUEUE", &row, &col)) {
		struct ptyterm_cell c;
		ptyterm_cell(pt, row, col, &c);
		/* coloured (or reverse when selected) and labelled */
		CHECK(c.fg != -1 || c.reverse);
	}
	WAIT_TEXT(pt, "IN_PROGRESS");
	WAIT_TEXT(pt, "COMPLETED");
	CHECK(ptyterm_find(pt, "a red fox", NULL, NULL));
	/* detail pane: parameters, seed, image path */
	ptyterm_key(pt, "Enter");
	WAIT_TEXT(pt, "seed");
	WAIT_TEXT(pt, "images");
	WAIT_TEXT(pt, ".png");
	quit_and_check(pt);
}

static void test_other_process_and_search(void)
{
	new_data_dir();
	struct ptyterm *pt = start(100, 30, 1, NULL);
	if (!CHECK(pt != NULL))
		return;
	WAIT_TEXT(pt, "No jobs yet");
	/* jobs submitted by `sdq submit` elsewhere appear by themselves */
	CHECK_INT(cli_submit("zebra crossing at dawn [[queue=0 run=0]]"), 0);
	CHECK_INT(cli_submit("lighthouse in fog [[queue=0 run=0]]"), 0);
	WAIT_TEXT(pt, "zebra crossing");
	WAIT_TEXT(pt, "lighthouse in fog");
	/* search narrows as you type */
	ptyterm_send(pt, "/");
	WAIT_TEXT(pt, "search:");
	ptyterm_send(pt, "zeb");
	if (!CHECK(ptyterm_wait_for_text_gone(pt, "lighthouse in fog", WAIT_MS)))
		dump(pt, "search");
	ptyterm_settle(pt, 60, 2000);
	CHECK(ptyterm_find(pt, "zebra crossing", NULL, NULL));
	/* Esc drops the search */
	ptyterm_key(pt, "Esc");
	WAIT_TEXT(pt, "lighthouse in fog");
	CHECK(ptyterm_find(pt, "zebra crossing", NULL, NULL));
	/* Enter keeps it, and the status line says so */
	ptyterm_send(pt, "/light");
	ptyterm_key(pt, "Enter");
	CHECK(ptyterm_wait_for_text_gone(pt, "zebra crossing", WAIT_MS));
	WAIT_TEXT(pt, "[/light]");
	quit_and_check(pt);
}

static void test_cancel_and_filter(void)
{
	new_data_dir();
	struct ptyterm *pt = start(80, 24, 1, NULL);
	if (!CHECK(pt != NULL))
		return;
	compose(pt, "slow one [[queue=60]]");
	WAIT_TEXT(pt, "IN_QUEUE");
	ptyterm_send(pt, "c");
	WAIT_TEXT(pt, "Cancel job");
	ptyterm_send(pt, "y");
	WAIT_TEXT(pt, "CANCELLED");
	CHECK(ptyterm_wait_for_text_gone(pt, "IN_QUEUE", WAIT_MS));
	/* a finished job cannot be cancelled; the error says so in words */
	ptyterm_send(pt, "c");
	WAIT_TEXT(pt, "error: cancel");
	/* the filter hides what does not match */
	ptyterm_send(pt, "f");
	WAIT_TEXT(pt, "Filter by state");
	ptyterm_send(pt, "c"); /* COMPLETED only */
	CHECK(ptyterm_wait_for_text_gone(pt, "CANCELLED", WAIT_MS));
	WAIT_TEXT(pt, "No job in this state");
	ptyterm_send(pt, "f");
	WAIT_TEXT(pt, "Filter by state");
	ptyterm_send(pt, "a");
	WAIT_TEXT(pt, "CANCELLED");
	quit_and_check(pt);
}

/* A queued job's detail pane says why it waits: with no history of the
 * endpoint, "no estimate" (waitwhy.h; the reasons are test_waitwhy's). */
static void test_detail_waiting(void)
{
	new_data_dir();
	struct ptyterm *pt = start(140, 30, 1, NULL);
	if (!CHECK(pt != NULL))
		return;
	WAIT_TEXT(pt, "idle"); /* the header has the endpoint's health */
	compose(pt, "waiting one [[queue=60]]");
	WAIT_TEXT(pt, "IN_QUEUE");
	WAIT_TEXT(pt, "params"); /* wide: the detail pane is beside the table */
	WAIT_TEXT(pt, "in the queue: 2 workers idle, starting"); /* may wrap here */
	int row = -1;
	CHECK(ptyterm_find(pt, "estimate", &row, NULL) && row > 0);
	CHECK(ptyterm_find(pt, "waiting   in the queue", NULL, NULL));
	ptyterm_send(pt, "c");
	WAIT_TEXT(pt, "Cancel job");
	ptyterm_send(pt, "y");
	WAIT_TEXT(pt, "CANCELLED");
	/* a job that does not wait has no such line */
	CHECK(ptyterm_wait_for_text_gone(pt, "estimate", WAIT_MS));
	quit_and_check(pt);
}

/* Two dashboards on one history: one drives, the other watches and can
 * still submit; the job moves on both screens. */
static void test_two_dashboards(void)
{
	new_data_dir();
	struct ptyterm *a = start(80, 24, 1, NULL);
	if (!CHECK(a != NULL))
		return;
	WAIT_TEXT(a, "No jobs yet");
	struct ptyterm *b = start(80, 24, 1, NULL);
	if (!CHECK(b != NULL)) {
		ptyterm_stop(a);
		return;
	}
	WAIT_TEXT(b, "(viewer)");
	CHECK(!ptyterm_find(a, "(viewer)", NULL, NULL));
	compose(b, "submitted by the viewer [[queue=1 run=1]]");
	WAIT_TEXT(a, "submitted by the viewer");
	WAIT_TEXT(a, "COMPLETED");
	WAIT_TEXT(b, "COMPLETED");
	/* when the driver quits, the viewer takes over */
	quit_and_check(a);
	CHECK(ptyterm_wait_for_text_gone(b, "(viewer)", WAIT_MS));
	quit_and_check(b);
}

/* Gather the help screen's text over all its pages. */
static void test_help_lists_every_key(void)
{
	new_data_dir();
	struct ptyterm *pt = start(80, 24, 0, NULL);
	if (!CHECK(pt != NULL))
		return;
	ptyterm_send(pt, "?");
	WAIT_TEXT(pt, "select the next");
	size_t cap = 1 << 16, len = 0;
	char *all = calloc(1, cap);
	for (int page = 0; page < 12 && all; page++) {
		ptyterm_settle(pt, 150, 2000);
		char *s = ptyterm_screen(pt);
		if (s && len + strlen(s) + 1 < cap) {
			memcpy(all + len, s, strlen(s) + 1);
			len += strlen(s);
		}
		free(s);
		ptyterm_key(pt, "PgDn");
	}
	size_t n;
	const struct keys_binding *k = keys_table(&n);
	int missing = 0;
	for (size_t i = 0; i < n && all; i++) {
		char line[256];
		snprintf(line, sizeof line, "%s", k[i].label);
		if (!strstr(all, line) || !strstr(all, k[i].help)) {
			fprintf(stderr, "  help lacks: %s  %s\n", k[i].label, k[i].help);
			missing++;
		}
	}
	CHECK_INT(missing, 0);
	free(all);
	ptyterm_key(pt, "Esc");
	WAIT_TEXT(pt, "No jobs yet");
	quit_and_check(pt);
}

/* README's and the man page's KEYS sections list the same table. */
static void test_docs_list_every_key(void)
{
	const char *files[] = {"README.md", "man/sdq.1"};
	const char *dir = getenv("SDQ_TESTS_DIR");
	size_t n;
	const struct keys_binding *k = keys_table(&n);
	for (size_t f = 0; f < 2; f++) {
		char path[4200];
		snprintf(path, sizeof path, "%s/../%s", dir && *dir ? dir : "tests", files[f]);
		FILE *fp = fopen(path, "r");
		if (!CHECK(fp != NULL)) {
			fprintf(stderr, "  cannot read %s\n", path);
			continue;
		}
		static char text[1 << 20];
		size_t len = fread(text, 1, sizeof text - 1, fp);
		text[len] = 0;
		fclose(fp);
		for (size_t i = 0; i < n; i++)
			if (!CHECK(strstr(text, k[i].help)))
				fprintf(stderr, "  %s lacks: %s\n", files[f], k[i].help);
	}
}

static void test_resize(void)
{
	new_data_dir();
	CHECK_INT(cli_submit("resize me please [[queue=0 run=0]]"), 0);
	struct ptyterm *pt = start(80, 24, 1, NULL);
	if (!CHECK(pt != NULL))
		return;
	WAIT_TEXT(pt, "resize me please");
	/* narrow: the detail pane is hidden until Enter */
	CHECK(!ptyterm_find(pt, "params", NULL, NULL));
	/* wide: side by side, the detail on the right */
	ptyterm_resize(pt, 160, 48);
	WAIT_TEXT(pt, "params");
	int row, col;
	CHECK(ptyterm_find(pt, "params", &row, &col) && col > 60);
	/* a resize in the compose form keeps what was typed */
	ptyterm_send(pt, "n");
	WAIT_TEXT(pt, "New job");
	ptyterm_send(pt, "typed before the resize");
	WAIT_TEXT(pt, "typed before the resize");
	ptyterm_resize(pt, 100, 30);
	WAIT_TEXT(pt, "Template");
	WAIT_TEXT(pt, "typed before the resize");
	ptyterm_key(pt, "Esc");
	WAIT_TEXT(pt, "Discard");
	ptyterm_send(pt, "y");
	CHECK(ptyterm_wait_for_text_gone(pt, "New job", WAIT_MS));
	/* too small: says so, and comes back */
	ptyterm_resize(pt, 30, 6);
	WAIT_TEXT(pt, "too small");
	ptyterm_resize(pt, 80, 24);
	WAIT_TEXT(pt, "resize me please");
	CHECK(ptyterm_wait_for_text_gone(pt, "too small", WAIT_MS));
	/* the status line is on the last row again */
	WAIT_TEXT(pt, "? help");
	CHECK(ptyterm_find(pt, "? help", &row, NULL) && row == 23);
	quit_and_check(pt);
}

static void test_mouse_and_keys(void)
{
	new_data_dir();
	CHECK_INT(cli_submit("first prompt [[queue=0 run=0]]"), 0);
	CHECK_INT(cli_submit("second prompt [[queue=0 run=0]]"), 0);
	CHECK_INT(cli_submit("third prompt [[queue=0 run=0]]"), 0);
	struct ptyterm *pt = start(80, 24, 1, NULL);
	if (!CHECK(pt != NULL))
		return;
	WAIT_TEXT(pt, "first prompt");
	int row, col;
	struct ptyterm_cell c;
	/* newest first, selected */
	CHECK(ptyterm_find(pt, "third prompt", &row, &col) && row == 2);
	ptyterm_cell(pt, row, col, &c);
	CHECK(c.reverse);
	/* j moves down */
	ptyterm_send(pt, "j");
	WAIT_TEXT(pt, "2/3");
	CHECK(ptyterm_find(pt, "second prompt", &row, &col));
	ptyterm_cell(pt, row, col, &c);
	CHECK(c.reverse);
	/* a click selects */
	CHECK(ptyterm_find(pt, "first prompt", &row, &col));
	ptyterm_click(pt, 1, row, col);
	WAIT_TEXT(pt, "3/3");
	ptyterm_cell(pt, row, col, &c);
	CHECK(c.reverse);
	/* a double click opens the detail pane */
	CHECK(!ptyterm_find(pt, "params", NULL, NULL));
	ptyterm_click(pt, 1, row, col);
	ptyterm_click(pt, 1, row, col);
	WAIT_TEXT(pt, "params");
	ptyterm_key(pt, "Enter");
	CHECK(ptyterm_wait_for_text_gone(pt, "params", WAIT_MS));
	/* e opens the form prefilled from the selected job */
	ptyterm_send(pt, "e");
	WAIT_TEXT(pt, "New job from");
	CHECK(ptyterm_find(pt, "first prompt", NULL, NULL));
	/* Esc with untouched text closes without asking */
	ptyterm_key(pt, "Esc");
	CHECK(ptyterm_wait_for_text_gone(pt, "New job from", WAIT_MS));
	/* typed text: Esc asks first */
	ptyterm_send(pt, "n");
	WAIT_TEXT(pt, "New job");
	ptyterm_send(pt, "something typed");
	ptyterm_key(pt, "Esc");
	WAIT_TEXT(pt, "Discard");
	ptyterm_send(pt, "n");
	WAIT_TEXT(pt, "something typed");
	/* Up on the prompt's first line recalls an earlier prompt */
	ptyterm_key(pt, "C-u");
	ptyterm_key(pt, "Up");
	WAIT_TEXT(pt, "earlier prompt 1 of");
	ptyterm_key(pt, "Esc");
	WAIT_TEXT(pt, "Discard");
	ptyterm_send(pt, "y");
	CHECK(ptyterm_wait_for_text_gone(pt, "New job", WAIT_MS));
	quit_and_check(pt);
}

static void test_no_color_and_sigterm(void)
{
	new_data_dir();
	CHECK_INT(cli_submit("plain text please [[queue=0 run=0]]"), 0);
	CHECK_INT(cli_submit("another plain one [[queue=0 run=0]]"), 0);
	struct ptyterm *pt = start(80, 24, 1, "NO_COLOR=1");
	if (!CHECK(pt != NULL))
		return;
	WAIT_TEXT(pt, "plain text please");
	WAIT_TEXT(pt, "COMPLETED");
	int row, col;
	/* the unselected row's state label has no colour, only its text */
	if (CHECK(ptyterm_find(pt, "plain text please", &row, NULL))) {
		char line[512];
		ptyterm_row(pt, row, line, sizeof line);
		char *st = strstr(line, "COMPLETED");
		if (!st)
			st = strstr(line, "IN_");
		CHECK(st != NULL);
		col = st ? (int)(st - line) : 0;
		struct ptyterm_cell c;
		ptyterm_cell(pt, row, col, &c);
		CHECK_INT(c.fg, -1);
	}
	/* Esc drops a filter */
	ptyterm_send(pt, "f");
	WAIT_TEXT(pt, "Filter by state");
	ptyterm_send(pt, "x");
	WAIT_TEXT(pt, "No job in this state");
	ptyterm_key(pt, "Esc");
	WAIT_TEXT(pt, "plain text please");
	/* SIGTERM quits and still restores the terminal */
	kill(ptyterm_pid(pt), SIGTERM);
	CHECK_INT(ptyterm_wait_exit(pt, WAIT_MS), 0);
	CHECK_INT(ptyterm_altscreen(pt), 0);
	CHECK(ptyterm_tty_sane(pt));
	ptyterm_stop(pt);
}

/* A long pasted prompt arrives whole in the job. */
static void test_long_paste_and_quit_message(void)
{
	new_data_dir();
	struct ptyterm *pt = start(80, 24, 1, NULL);
	if (!CHECK(pt != NULL))
		return;
	size_t n = 3000;
	char *text = malloc(n + 64);
	if (!CHECK(text != NULL))
		return;
	size_t o = 0;
	for (int i = 0; o + 16 < n; i++)
		o += (size_t)snprintf(text + o, n + 64 - o, "word%04d ", i);
	snprintf(text + o, n + 64 - o, "THE-END [[queue=60]]");
	ptyterm_send(pt, "n");
	WAIT_TEXT(pt, "New job");
	ptyterm_send(pt, text);
	ptyterm_key(pt, "C-s");
	WAIT_TEXT(pt, "submitted");
	WAIT_TEXT(pt, "IN_QUEUE");
	/* the whole text is in the history */
	char db[4400];
	snprintf(db, sizeof db, "%s/sdq/history.db", data_env + strlen("XDG_DATA_HOME="));
	struct store *st = store_open(db, NULL);
	if (CHECK(st != NULL)) {
		struct job *j = store_job_get(st, 1, NULL);
		if (CHECK(j != NULL))
			CHECK_STR(j->params.prompt, text);
		job_free(j);
		store_close(st);
	}
	free(text);
	/* quitting with a live job says so (on the normal screen) */
	ptyterm_send(pt, "q");
	CHECK_INT(ptyterm_wait_exit(pt, WAIT_MS), 0);
	CHECK_INT(ptyterm_altscreen(pt), 0);
	if (!CHECK(ptyterm_find(pt, "1 job is still running", NULL, NULL)))
		dump(pt, "quit message");
	ptyterm_stop(pt);
}

static char *db_path(char *buf, size_t len)
{
	snprintf(buf, len, "%s/sdq/history.db", data_env + strlen("XDG_DATA_HOME="));
	return buf;
}

/* Words a newcomer reads at once: the full state names in the table
 * (SUBMIT_FAILED, not SUBMIT_FAIL), every state in the filter popup
 * (UNKNOWN was cut), the header's workers in words. */
static void test_labels_in_full(void)
{
	new_data_dir();
	char db[4400], dir[4400];
	snprintf(dir, sizeof dir, "%s/sdq", data_env + strlen("XDG_DATA_HOME="));
	mkdir(dir, 0700);
	struct store *st = store_open(db_path(db, sizeof db), NULL);
	if (!CHECK(st != NULL))
		return;
	struct job *j = job_new();
	job_set_str(&j->params.prompt, "never sent");
	job_set_str(&j->params.endpoint, "default");
	job_set_str(&j->endpoint, "default");
	job_set_str(&j->backend, "runpod");
	j->state = JOB_SUBMIT_FAILED;
	j->created_at = job_now_ms() - 5000;
	j->finished_at = j->created_at + 1000;
	CHECK_INT(store_job_add(st, j, NULL), 0);
	job_free(j);
	store_close(st);
	struct ptyterm *pt = start(80, 24, 1, NULL);
	if (!CHECK(pt != NULL))
		return;
	WAIT_TEXT(pt, "never sent");
	CHECK(ptyterm_find(pt, "SUBMIT_FAILED", NULL, NULL));
	WAIT_TEXT(pt, "workers: ");
	if (!CHECK(ptyterm_find(pt, " idle, ", NULL, NULL) &&
	           ptyterm_find(pt, " running", NULL, NULL) &&
	           ptyterm_find(pt, " in queue", NULL, NULL)))
		dump(pt, "workers in words");
	ptyterm_send(pt, "f");
	WAIT_TEXT(pt, "Filter by state");
	if (!CHECK(ptyterm_find(pt, "EXPIRED UNKNOWN", NULL, NULL)))
		dump(pt, "UNKNOWN in the filter popup");
	ptyterm_send(pt, "\033");
	CHECK(ptyterm_wait_for_text_gone(pt, "Filter by state", WAIT_MS));
	quit_and_check(pt);
}

/* Paging over a longer history, and the marker for live jobs scrolled away. */
static void test_paging_and_live_marker(void)
{
	new_data_dir();
	char db[4400], dir[4400];
	snprintf(dir, sizeof dir, "%s/sdq", data_env + strlen("XDG_DATA_HOME="));
	mkdir(dir, 0700);
	struct store *st = store_open(db_path(db, sizeof db), NULL);
	if (!CHECK(st != NULL))
		return;
	for (int i = 0; i < 300; i++) {
		struct job *j = job_new();
		char p[64];
		snprintf(p, sizeof p, "old job number %03d", i);
		job_set_str(&j->params.prompt, p);
		job_set_str(&j->params.endpoint, "default");
		job_set_str(&j->endpoint, "default");
		job_set_str(&j->backend, "runpod");
		j->state = JOB_COMPLETED;
		j->created_at = job_now_ms() - 1000000 + i;
		j->finished_at = j->created_at + 1000;
		CHECK_INT(store_job_add(st, j, NULL), 0);
		job_free(j);
	}
	store_close(st);
	struct ptyterm *pt = start(80, 24, 1, NULL);
	if (!CHECK(pt != NULL))
		return;
	WAIT_TEXT(pt, "old job number 299");
	compose(pt, "a live one [[queue=60]]");
	WAIT_TEXT(pt, "IN_QUEUE");
	WAIT_TEXT(pt, "1/301");
	/* G loads the older pages and goes to the oldest */
	ptyterm_send(pt, "G");
	WAIT_TEXT(pt, "old job number 000");
	WAIT_TEXT(pt, "301/301");
	/* the live job is out of view: a marker says so, in words */
	WAIT_TEXT(pt, "1 live job above");
	CHECK(!ptyterm_find(pt, "IN_QUEUE", NULL, NULL));
	/* moving up from the end fills the list in; position and row agree */
	for (int i = 0; i < 5; i++)
		ptyterm_key(pt, "PgUp");
	barrier(pt);
	int idx = -1, total = -1, found = 0;
	char line[512];
	ptyterm_row(pt, 23, line, sizeof line);
	char *slash = strrchr(line, '/');
	while (slash && slash > line && slash[-1] >= '0' && slash[-1] <= '9')
		slash--;
	if (CHECK(slash && sscanf(slash, "%d/%d", &idx, &total) == 2)) {
		CHECK_INT(total, 301);
		CHECK(idx > 1 && idx < 200);
		/* the selected (reverse) row is old job number 301 - idx */
		char want[64];
		snprintf(want, sizeof want, "old job number %03d", 301 - idx);
		int r, c;
		if (CHECK(ptyterm_find(pt, want, &r, &c))) {
			struct ptyterm_cell cell;
			ptyterm_cell(pt, r, c, &cell);
			found = cell.reverse;
		}
	}
	if (!CHECK(found))
		dump(pt, "after PgUp from the end");
	ptyterm_send(pt, "g");
	WAIT_TEXT(pt, "IN_QUEUE");
	CHECK(!ptyterm_find(pt, "live job above", NULL, NULL));
	/* cancel it so nothing stays live */
	ptyterm_send(pt, "c");
	WAIT_TEXT(pt, "Cancel job");
	ptyterm_send(pt, "y");
	WAIT_TEXT(pt, "CANCELLED");
	quit_and_check(pt);
}

/* A terminal the dashboard cannot draw on: it says why, names the commands
 * to use instead and exits 2, leaving the terminal as it was. */
static void test_refuses_dumb_and_small(void)
{
	new_data_dir();
	char *argv[] = {(char *)sdq_bin, NULL};
	static const struct {
		const char *term;
		int cols, rows;
		const char *why;
	} cases[] = {
	    {"TERM=dumb", 80, 24, "TERM=dumb cannot"},
	    {"TERM", 80, 24, "TERM is not set"},
	    {"TERM=screen-256color", 36, 20, "needs at least 40x8"},
	    {"TERM=screen-256color", 80, 6, "needs at least 40x8"},
	    {"TERM=no-such-terminal-type", 80, 24, "no terminfo entry"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *env[] = {"SDQ_GRAPHICS=none", data_env, (char *)cases[i].term, NULL};
		struct ptyterm *pt = ptyterm_start(argv, env, cases[i].cols, cases[i].rows, NULL);
		if (!CHECK(pt != NULL))
			continue;
		CHECK_INT(ptyterm_wait_exit(pt, WAIT_MS), 2);
		char *scr = ptyterm_screen(pt);
		/* the message wraps on a small screen: look for it unwrapped */
		char flat[8192] = "";
		size_t o = 0;
		for (const char *p = scr ? scr : ""; *p && o + 1 < sizeof flat; p++)
			if (*p != '\n')
				flat[o++] = *p;
		flat[o] = 0;
		if (!CHECK(strstr(flat, cases[i].why) && strstr(flat, "sdq ls")))
			fprintf(stderr, "  %s %dx%d: %s\n", cases[i].term, cases[i].cols,
			        cases[i].rows, scr ? scr : "");
		free(scr);
		CHECK_INT(ptyterm_altscreen(pt), 0);
		CHECK(ptyterm_tty_sane(pt));
		ptyterm_stop(pt);
	}
}

/* The image viewer (v) is a mode of the loop: a job submitted meanwhile is
 * sent, polled and its image saved while the viewer stays open. */
static void test_viewer_keeps_jobs_moving(void)
{
	new_data_dir();
	struct ptyterm *pt = start(100, 30, 1, NULL);
	if (!CHECK(pt != NULL))
		return;
	compose(pt, "first picture [[queue=0 run=0]]");
	WAIT_TEXT(pt, "COMPLETED");
	ptyterm_send(pt, "v");
	WAIT_TEXT(pt, "image 1/1");
	/* another shell submits; this dashboard is the driver */
	CHECK_INT(cli_submit("finishes behind the viewer [[queue=1 run=1 steps=2]]"), 0);
	char db[4400];
	struct store *st = store_open(db_path(db, sizeof db), NULL);
	int done = 0;
	for (int waited = 0; st && !done && waited < 3 * WAIT_MS; waited += 100) {
		struct job *j = store_job_get(st, 2, NULL);
		struct stat sb;
		done = j && j->state == JOB_COMPLETED && j->n_outputs > 0 && j->outputs[0].path &&
		       stat(j->outputs[0].path, &sb) == 0 && sb.st_size > 0;
		job_free(j);
		ptyterm_pump(pt, 100);
	}
	store_close(st);
	if (!CHECK(done))
		dump(pt, "job 2 never completed behind the viewer");
	/* ... and the viewer was open all along */
	CHECK(ptyterm_find(pt, "image 1/1", NULL, NULL));
	ptyterm_key(pt, "Esc");
	WAIT_TEXT(pt, "finishes behind");
	CHECK(!ptyterm_find(pt, "image 1/1", NULL, NULL));
	quit_and_check(pt);
}

/* s saves, o opens through $SDQ_OPEN, d deletes (asking about the files), R retries. */
static void test_save_open_delete_retry(void)
{
	new_data_dir();
	char out[4400], opened[4400], env_open[4500];
	snprintf(out, sizeof out, "%s/saved.png", base_dir);
	snprintf(opened, sizeof opened, "%s/opened%d", base_dir, test_no);
	mkdir(opened, 0700);
	snprintf(env_open, sizeof env_open, "SDQ_OPEN=/bin/cp -t %s", opened);
	CHECK_INT(cli_submit("to be saved [[queue=0 run=0]]"), 0);
	struct ptyterm *pt = start(80, 24, 1, env_open);
	if (!CHECK(pt != NULL))
		return;
	WAIT_TEXT(pt, "COMPLETED");
	/* save: the prompt is prefilled; replace it */
	ptyterm_send(pt, "s");
	WAIT_TEXT(pt, "save to:");
	ptyterm_key(pt, "C-u");
	ptyterm_send(pt, out);
	ptyterm_key(pt, "Enter");
	WAIT_TEXT(pt, "saved");
	struct stat sb;
	CHECK(stat(out, &sb) == 0 && sb.st_size > 0);
	/* open: the opener gets the image path as its last argument */
	ptyterm_send(pt, "o");
	WAIT_TEXT(pt, "opening");
	char copied[4500];
	snprintf(copied, sizeof copied, "%s/1-0.png", opened);
	int found = 0;
	for (int i = 0; i < 100 && !found; i++) {
		found = stat(copied, &sb) == 0;
		if (!found)
			ptyterm_pump(pt, 50);
	}
	CHECK(found);
	/* delete, with the files */
	char db[4400];
	struct store *st = store_open(db_path(db, sizeof db), NULL);
	struct job *j = st ? store_job_get(st, 1, NULL) : NULL;
	char img[4400] = "";
	if (CHECK(j != NULL) && CHECK(j->n_outputs > 0))
		snprintf(img, sizeof img, "%s", j->outputs[0].path);
	job_free(j);
	store_close(st);
	ptyterm_send(pt, "d");
	WAIT_TEXT(pt, "Delete job 1");
	ptyterm_send(pt, "y");
	WAIT_TEXT(pt, "Also delete its 1 image file");
	ptyterm_send(pt, "y");
	WAIT_TEXT(pt, "No jobs yet");
	CHECK(img[0] && stat(img, &sb) < 0);
	/* R on a FAILED job asks the endpoint to retry; it then completes */
	compose(pt, "fails once [[queue=0 run=0 fail=boom]]");
	WAIT_TEXT(pt, "FAILED");
	ptyterm_send(pt, "R");
	WAIT_TEXT(pt, "retry");
	WAIT_TEXT(pt, "COMPLETED");
	quit_and_check(pt);
}

/* The text prompts (s, /) are the compose form's line editor: the cursor
 * sits in the field, the prefill is selected (typing replaces it), the
 * editing keys move inside it; save creates missing directories and never
 * writes a double slash. */
static void test_text_prompts(void)
{
	new_data_dir();
	CHECK_INT(cli_submit("four at once [[queue=0 run=0 count=4]]"), 0);
	struct ptyterm *pt = start(120, 30, 1, NULL);
	if (!CHECK(pt != NULL))
		return;
	WAIT_TEXT(pt, "COMPLETED");
	/* four images: the prefill is a directory, selected */
	ptyterm_send(pt, "s");
	WAIT_TEXT(pt, "save to:");
	int crow = -1, ccol = -1, nrow = -1, ncol = -1;
	ptyterm_cursor(pt, &crow, &ccol);
	CHECK(ptyterm_find(pt, "1/1", &nrow, &ncol));
	CHECK_INT(crow, 29);
	CHECK(ccol > 9 && ccol < ncol - 1); /* in the field, not on the counter */
	char dir[4400], typed[4500], f[4600];
	snprintf(dir, sizeof dir, "%s/prompts%d/new/dir", base_dir, test_no);
	snprintf(typed, sizeof typed, "%s/", dir);
	ptyterm_send(pt, typed); /* replaces the prefill */
	ptyterm_key(pt, "Enter");
	WAIT_TEXT(pt, "saved 4 images");
	CHECK(ptyterm_find(pt, "directory created", NULL, NULL));
	char msg[512];
	CHECK(ptyterm_row(pt, 29, msg, sizeof msg) && !strstr(msg, "//"));
	struct stat sb;
	for (int i = 0; i < 4; i++) {
		snprintf(f, sizeof f, "%s/1-%d.png", dir, i);
		if (!CHECK(stat(f, &sb) == 0 && sb.st_size > 0))
			fprintf(stderr, "  missing %s\n", f);
	}
	/* one image, into a file whose directory does not exist yet */
	compose(pt, "one only [[queue=0 run=0]]");
	WAIT_TEXT(pt, "2-0.png"); /* its image is in */
	ptyterm_send(pt, "s");
	WAIT_TEXT(pt, "save to:");
	/* the prefill starts where the last save went */
	WAIT_TEXT(pt, "new/dir/2-0.png");
	/* editing keys as in compose: Left moves inside it (the selection
	 * goes), typing inserts there */
	for (int i = 0; i < 4; i++)
		ptyterm_key(pt, "Left");
	ptyterm_send(pt, "-b");
	ptyterm_key(pt, "Enter");
	WAIT_TEXT(pt, "saved");
	snprintf(f, sizeof f, "%s/2-0-b.png", dir);
	CHECK(stat(f, &sb) == 0 && sb.st_size > 0);
	ptyterm_send(pt, "s");
	WAIT_TEXT(pt, "save to:");
	snprintf(typed, sizeof typed, "%s/prompts%d/other/x.png", base_dir, test_no);
	ptyterm_send(pt, typed);
	ptyterm_key(pt, "Enter");
	WAIT_TEXT(pt, "saved");
	CHECK(stat(typed, &sb) == 0 && sb.st_size > 0);
	/* search: prefilled with the current search, selected; typing replaces */
	ptyterm_send(pt, "/four");
	ptyterm_key(pt, "Enter");
	CHECK(ptyterm_wait_for_text_gone(pt, "one only", WAIT_MS));
	WAIT_TEXT(pt, "[/four]");
	ptyterm_send(pt, "/");
	WAIT_TEXT(pt, "search: four");
	ptyterm_send(pt, "one");
	WAIT_TEXT(pt, "one only");
	CHECK(ptyterm_wait_for_text_gone(pt, "four at once", WAIT_MS));
	ptyterm_cursor(pt, &crow, &ccol);
	CHECK_INT(crow, 29);
	CHECK_INT(ccol, 11);    /* "search: one" and the cursor after it */
	ptyterm_key(pt, "C-a"); /* Home, like compose */
	ptyterm_send(pt, "x");
	WAIT_TEXT(pt, "search: xone");
	ptyterm_key(pt, "C-u"); /* to the start of the line: "one" is left */
	WAIT_TEXT(pt, "search: one");
	ptyterm_key(pt, "C-k"); /* to the end: nothing left */
	ptyterm_key(pt, "Enter");
	WAIT_TEXT(pt, "four at once");
	quit_and_check(pt);
}

/* An error line about an endpoint goes once the endpoint is healthy again,
 * not after its 30 s; an error about something else stays. */
static void test_endpoint_error_goes(void)
{
	new_data_dir();
	struct ptyterm *pt = start(100, 24, 1, NULL);
	if (!CHECK(pt != NULL))
		return;
	WAIT_TEXT(pt, "No jobs yet");
	compose(pt, "limited once [[queue=0 run=0 http429=1]]");
	WAIT_TEXT(pt, "rate limited");
	int row = -1;
	CHECK(ptyterm_find(pt, "error: endpoint default: rate limited", &row, NULL) && row == 23);
	/* no key is pressed: only the endpoint's recovery can take it away
	 * within the wait (errors otherwise stay 30 s) */
	WAIT_TEXT(pt, "COMPLETED");
	if (!CHECK(ptyterm_wait_for_text_gone(pt, "rate limited", WAIT_MS)))
		dump(pt, "rate limited stays");
	quit_and_check(pt);
}

/* The header's counts agree with the table in the same frame: the health
 * report is seconds old, the table is not. */
static void header_has(struct ptyterm *pt, const char *want, const char *when)
{
	char row[1024];
	if (!CHECK(ptyterm_row(pt, 0, row, sizeof row) && strstr(row, want)))
		fprintf(stderr, "  %s: the header lacks \"%s\": %s\n", when, want, row);
}

static void test_header_follows_jobs(void)
{
	new_data_dir();
	CHECK_INT(emu_reset(), 0); /* no job of an earlier test in its queue */
	struct ptyterm *pt = start(120, 30, 1, NULL);
	if (!CHECK(pt != NULL))
		return;
	WAIT_TEXT(pt, "workers: 2 idle, 0 running; 0 in queue");
	compose(pt, "queued then running [[queue=3 run=3]]");
	WAIT_TEXT(pt, "IN_QUEUE");
	header_has(pt, "0 running; 1 in queue", "IN_QUEUE");
	WAIT_TEXT(pt, "IN_PROGRESS");
	header_has(pt, "1 idle, 1 running; 0 in queue", "IN_PROGRESS");
	WAIT_TEXT(pt, "COMPLETED");
	header_has(pt, "2 idle, 0 running; 0 in queue", "COMPLETED");
	quit_and_check(pt);
}

/* r starts a new paid job: it asks first, naming the endpoint and its URL;
 * n sends nothing, y re-runs. */
static void test_rerun_asks(void)
{
	new_data_dir();
	CHECK_INT(cli_submit("run me again [[queue=0 run=0]]"), 0);
	struct ptyterm *pt = start(120, 30, 1, NULL);
	if (!CHECK(pt != NULL))
		return;
	WAIT_TEXT(pt, "COMPLETED");
	ptyterm_send(pt, "r");
	WAIT_TEXT(pt, "Re-run job 1 on endpoint default (http://127.0.0.1:");
	ptyterm_send(pt, "n");
	CHECK(ptyterm_wait_for_text_gone(pt, "Re-run job 1", WAIT_MS));
	barrier(pt);
	CHECK(!ptyterm_find(pt, "   2 ", NULL, NULL)); /* no job 2 */
	ptyterm_send(pt, "r");
	WAIT_TEXT(pt, "Re-run job 1 on");
	ptyterm_send(pt, "y");
	WAIT_TEXT(pt, "re-run as job 2");
	quit_and_check(pt);
}

/* The detail pane shows the whole prompt (scrolling with J), and wraps a URL
 * or a path at its separators, not in the middle of a name. */
static void test_detail_full_prompt_and_wrap(void)
{
	new_data_dir();
	char prompt[2048];
	size_t o = (size_t)snprintf(prompt, sizeof prompt, "thebeginning");
	for (int i = 0; i < 70; i++)
		o += (size_t)snprintf(prompt + o, sizeof prompt - o, " word%02d", i);
	snprintf(prompt + o, sizeof prompt - o, " THEEND [[queue=0 run=0]]");
	CHECK_INT(cli_submit(prompt), 0);
	CHECK_INT(cli_submit("short [[queue=0 run=0]]"), 0);
	struct ptyterm *pt = start(120, 30, 1, NULL);
	if (!CHECK(pt != NULL))
		return;
	WAIT_TEXT(pt, "Job 2  COMPLETED");
	WAIT_TEXT(pt, "2-0.png");
	/* the URL whole on one row; the image path broken after a '/' */
	char url[300];
	snprintf(url, sizeof url, "%s", endpoint_env + strlen("SDQ_ENDPOINT="));
	int url_rows = 0, png_rows = 0;
	for (int r = 1; r < 30; r++) { /* below the header, which shows the URL too */
		char row[1024];
		if (ptyterm_row(pt, r, row, sizeof row)) {
			url_rows += strstr(row, url) != NULL;
			png_rows += strstr(row, "2-0.png") != NULL;
		}
	}
	CHECK_INT(url_rows, 1);
	CHECK_INT(png_rows, 2); /* the images row and the preview's label */
	if (url_rows != 1 || png_rows != 2)
		dump(pt, "wrapped");
	/* the long prompt in full */
	ptyterm_send(pt, "j");
	WAIT_TEXT(pt, "thebeginning word00");
	int found = ptyterm_find(pt, "THEEND", NULL, NULL);
	for (int i = 0; i < 20 && !found; i++) {
		ptyterm_send(pt, "J");
		ptyterm_settle(pt, 60, 2000);
		found = ptyterm_find(pt, "THEEND", NULL, NULL);
	}
	if (!CHECK(found))
		dump(pt, "THEEND");
	quit_and_check(pt);
}

/* Bracketed paste: a pasted newline is text. In the prompt it stays a new
 * line; in the last field it neither submits nor moves; in the jobs table
 * pasted letters run no command. */
static void test_bracketed_paste(void)
{
	new_data_dir();
	struct ptyterm *pt = start(100, 30, 1, NULL);
	if (!CHECK(pt != NULL))
		return;
	WAIT_TEXT(pt, "No jobs yet");
	ptyterm_send(pt, "\033[200~dq\r\033[201~"); /* would delete and quit */
	WAIT_TEXT(pt, "pasted text is only taken in a text field");
	ptyterm_send(pt, "n");
	WAIT_TEXT(pt, "New job");
	ptyterm_send(pt, "\033[200~first line\rsecond line\r\033[201~");
	WAIT_TEXT(pt, "second line"); /* the form is still open, the text in it */
	ptyterm_key(pt, "Backspace"); /* the pasted newline at the end, "n", "e" */
	ptyterm_key(pt, "Backspace");
	ptyterm_key(pt, "Backspace");
	/* the last field (Template): a pasted Enter does not submit */
	ptyterm_send(pt, "\033[Z"); /* Shift-Tab from the prompt: the last field */
	ptyterm_send(pt, "\033[200~sdxl\r\033[201~");
	ptyterm_settle(pt, 300, 3000);
	CHECK(!ptyterm_find(pt, "submitted", NULL, NULL));
	CHECK(ptyterm_find(pt, "New job", NULL, NULL));
	ptyterm_key(pt, "C-s");
	WAIT_TEXT(pt, "submitted");
	char db[4400];
	struct store *st = store_open(db_path(db, sizeof db), NULL);
	struct job *j = st ? store_job_get(st, 1, NULL) : NULL;
	if (CHECK(j != NULL)) {
		CHECK_STR(j->params.prompt, "first line\nsecond li");
		CHECK_STR(j->params.template_name, "sdxl");
	}
	job_free(j);
	store_close(st);
	quit_and_check(pt);
}

/* Compose has a sampler field: its hint lists the template's samplers, a
 * name the template's worker does not take is refused with the list, a
 * valid one (any spelling sdq translates) is submitted. */
static void test_compose_sampler(void)
{
	new_data_dir();
	struct ptyterm *pt = start(120, 30, 1, NULL);
	if (!CHECK(pt != NULL))
		return;
	WAIT_TEXT(pt, "No jobs yet");
	ptyterm_send(pt, "n");
	WAIT_TEXT(pt, "New job");
	ptyterm_send(pt, "a sampled fox");
	WAIT_TEXT(pt, "Sampler");
	WAIT_TEXT(pt, "default template sdxl: PNDM, KLMS, DDIM");
	ptyterm_send(pt, "\033[Z"); /* Shift-Tab: Template */
	ptyterm_send(pt, "sdxl");
	for (int i = 0; i < 5; i++) /* back up to Sampler */
		ptyterm_send(pt, "\033[Z");
	ptyterm_send(pt, "nosuch");
	ptyterm_key(pt, "C-s");
	WAIT_TEXT(pt, "Sampler:");
	WAIT_TEXT(pt, "K_EULER_ANCESTRAL");             /* the error lists the valid names */
	CHECK(ptyterm_find(pt, "New job", NULL, NULL)); /* the form stays */
	ptyterm_key(pt, "C-u");
	ptyterm_send(pt, "Euler a"); /* A1111's spelling of K_EULER_ANCESTRAL */
	ptyterm_key(pt, "C-s");
	WAIT_TEXT(pt, "submitted");
	char db[4400];
	struct store *st = store_open(db_path(db, sizeof db), NULL);
	struct job *j = st ? store_job_get(st, 1, NULL) : NULL;
	if (CHECK(j != NULL))
		CHECK_STR(j->params.sampler, "Euler a");
	job_free(j);
	store_close(st);
	quit_and_check(pt);
}

/* The row of the table where text is, or -1. */
static int row_of(struct ptyterm *pt, const char *text)
{
	int row = -1;
	return ptyterm_find(pt, text, &row, NULL) ? row : -1;
}

/* S cycles the order (newest, state, run time, endpoint); F follows the
 * newest job: each new one is selected as it appears. */
static void test_sort_and_follow(void)
{
	new_data_dir();
	CHECK_INT(cli_submit("alpha done [[queue=0 run=0]]"), 0);
	cli_submit("bravo fails [[queue=0 run=0 fail=boom]]");
	CHECK_INT(cli_submit("charlie waits [[queue=60]]"), 0);
	CHECK_INT(cli_submit("delta ran long [[queue=0 run=2]]"), 0);
	struct ptyterm *pt = start(120, 30, 1, NULL);
	if (!CHECK(pt != NULL))
		return;
	WAIT_TEXT(pt, "IN_QUEUE");
	WAIT_TEXT(pt, "FAILED");
	/* wait for delta to finish: two COMPLETED rows */
	for (int i = 0; i < 100; i++) {
		char *scr = ptyterm_screen(pt);
		const char *a = scr ? strstr(scr, "COMPLETED") : NULL;
		int two = a && strstr(a + 1, "COMPLETED");
		free(scr);
		if (two)
			break;
		ptyterm_pump(pt, 100);
	}
	ptyterm_settle(pt, 100, 2000);
	/* newest first */
	CHECK(row_of(pt, "   4 COMPLETED") < row_of(pt, "   3 IN_QUEUE"));
	CHECK(row_of(pt, "   3 IN_QUEUE") < row_of(pt, "   2 FAILED"));
	CHECK(row_of(pt, "   2 FAILED") < row_of(pt, "   1 COMPLETED"));
	ptyterm_send(pt, "S"); /* by state: live, failed, finished */
	WAIT_TEXT(pt, "[by state]");
	int live = row_of(pt, "   3 IN_QUEUE"), failed = row_of(pt, "   2 FAILED"),
	    done_d = row_of(pt, "   4 COMPLETED"), done_a = row_of(pt, "   1 COMPLETED");
	CHECK(live > 0 && done_a > 0);
	if (!CHECK(live < failed && failed < done_d && done_d < done_a))
		dump(pt, "by state");
	ptyterm_send(pt, "S"); /* by run time: delta ran 2 s */
	WAIT_TEXT(pt, "[by run time]");
	CHECK(row_of(pt, "   4 COMPLETED") < row_of(pt, "   1 COMPLETED"));
	ptyterm_send(pt, "SS"); /* endpoint, then newest again */
	CHECK(ptyterm_wait_for_text_gone(pt, "[by ", WAIT_MS));
	/* follow: a new job is selected as it appears */
	ptyterm_send(pt, "G"); /* select the oldest */
	WAIT_TEXT(pt, "Job 1 ");
	ptyterm_send(pt, "F");
	WAIT_TEXT(pt, "[follow]");
	WAIT_TEXT(pt, "Job 4 "); /* F selects the newest at once */
	ptyterm_send(pt, "G");
	WAIT_TEXT(pt, "Job 1 ");
	CHECK_INT(cli_submit("echo newest [[queue=0 run=0]]"), 0);
	WAIT_TEXT(pt, "Job 5 ");
	ptyterm_send(pt, "F");
	CHECK(ptyterm_wait_for_text_gone(pt, "[follow]", WAIT_MS));
	quit_and_check(pt);
}

/* Run `sdq submit -p PROMPT` with more arguments (NULL-terminated, at most
 * 8) in another process; 0 on success. */
static int cli_submit_args(const char *prompt, ...)
{
	char *argv[16];
	int n = 0;
	va_list ap;
	argv[n++] = "sdq";
	argv[n++] = "submit";
	argv[n++] = "-p";
	argv[n++] = (char *)prompt;
	va_start(ap, prompt);
	for (char *a; n < 14 && (a = va_arg(ap, char *));)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open("/dev/null", O_WRONLY);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(sdq_bin, argv);
		_exit(127);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

/* How many rows of the screen hold text. */
static int rows_with(struct ptyterm *pt, const char *text)
{
	int c = 0, cols, rows;
	char buf[1024];
	ptyterm_size(pt, &cols, &rows);
	for (int r = 0; r < rows; r++)
		c += strstr(ptyterm_row(pt, r, buf, sizeof buf), text) != NULL;
	return c;
}

/* Wait until exactly want rows hold text. */
static int wait_rows_with(struct ptyterm *pt, const char *text, int want)
{
	for (int waited = 0; waited < WAIT_MS; waited += 50) {
		if (rows_with(pt, text) == want)
			return 1;
		ptyterm_pump(pt, 50);
	}
	fprintf(stderr, "  %d rows with '%s', want %d\n", rows_with(pt, text), text, want);
	dump(pt, text);
	return 0;
}

/* A job that waits says why in its row, before its prompt (waitlist.h): a
 * cold start while the endpoint's only worker initializes. */
static void test_table_waiting(void)
{
	new_data_dir();
	CHECK_INT(emu_post("/_emu/set", "{\"workers\": 0, \"initializing\": 1}"), 0);
	CHECK_INT(cli_submit("cold one [[queue=60]]"), 0);
	CHECK_INT(cli_submit("warm one [[queue=0 run=0]]"), 0);
	struct ptyterm *pt = start(140, 30, 1, NULL);
	if (CHECK(pt != NULL)) {
		WAIT_TEXT(pt, "(cold start) cold one");
		WAIT_TEXT(pt, "COMPLETED");
		CHECK(!ptyterm_find(pt, ") warm one", NULL, NULL)); /* a finished job: none */
		ptyterm_send(pt, "G");
		ptyterm_send(pt, "c");
		WAIT_TEXT(pt, "Cancel job");
		ptyterm_send(pt, "y");
		WAIT_TEXT(pt, "CANCELLED");
		CHECK(ptyterm_wait_for_text_gone(pt, "(cold start)", WAIT_MS));
		quit_and_check(pt);
	}
	CHECK_INT(emu_post("/_emu/set", "{\"workers\": 2, \"initializing\": 0}"), 0);
}

/* A group (one submit of {a|b|c|d}) is one row whose counts follow its jobs;
 * l expands it into its jobs (each with what varies for it), h collapses
 * it; c, r and d on its row act on the whole group after a question naming
 * the count and the endpoint, and nothing happens when the answer is no. */
static void test_group_rows(void)
{
	new_data_dir();
	CHECK_INT(cli_submit_args("grp{ [[queue=0 run=0]]| [[queue=0 run=0 seed=7]]| [[queue=60]]"
	                          "| [[queue=0 run=0 fail=boom]]}",
	                          (char *)NULL),
	          0);
	CHECK_INT(cli_submit("alone [[queue=0 run=0]]"), 0);
	struct ptyterm *pt = start(140, 30, 1, NULL);
	if (!CHECK(pt != NULL))
		return;
	WAIT_TEXT(pt, "2/4 done, 1 queued, 1 failed: grp{");
	CHECK(wait_rows_with(pt, "grp", 1)); /* one row for the four */
	CHECK(ptyterm_find(pt, "IN_QUEUE", NULL, NULL)); /* the group still waits */
	CHECK(ptyterm_find(pt, "2/4", NULL, NULL));      /* its progress: ended of all */
	CHECK(ptyterm_find(pt, "alone", NULL, NULL));    /* a job alone stays a row */
	ptyterm_send(pt, "j"); /* the group's row, below job 5: its newest job's detail */
	WAIT_TEXT(pt, "Job 4 ");
	ptyterm_send(pt, "l");
	CHECK(wait_rows_with(pt, "grp", 5)); /* its row and its four jobs */
	CHECK(ptyterm_find(pt, "\u2514  [[queue=60]]: ", NULL, NULL)); /* the variant first */
	ptyterm_send(pt, "jj");
	WAIT_TEXT(pt, "Job 3 "); /* the second job's row */
	ptyterm_send(pt, "h");   /* collapses from a job's row, the group's row selected */
	CHECK(wait_rows_with(pt, "grp", 1));
	/* cancel: asked with the count and the endpoint; no does nothing */
	ptyterm_send(pt, "c");
	WAIT_TEXT(pt, "Cancel the 1 live job of group 1 (4 jobs) on endpoint default");
	ptyterm_send(pt, "n");
	CHECK(ptyterm_wait_for_text_gone(pt, "Cancel the", WAIT_MS));
	barrier(pt);
	CHECK(ptyterm_find(pt, "2/4 done, 1 queued, 1 failed", NULL, NULL));
	ptyterm_send(pt, "c");
	WAIT_TEXT(pt, "Cancel the 1 live job");
	ptyterm_send(pt, "y");
	WAIT_TEXT(pt, "2/4 done, 1 failed, 1 cancelled");
	/* rerun: asked; no starts nothing, yes a new group of four */
	ptyterm_send(pt, "r");
	WAIT_TEXT(pt, "Re-run group 1 on endpoint default (http://127.0.0.1:");
	WAIT_TEXT(pt, "4 new jobs");
	ptyterm_send(pt, "n");
	CHECK(ptyterm_wait_for_text_gone(pt, "Re-run group", WAIT_MS));
	barrier(pt);
	CHECK(rows_with(pt, "grp") == 1);
	ptyterm_send(pt, "r");
	WAIT_TEXT(pt, "Re-run group 1");
	ptyterm_send(pt, "y");
	WAIT_TEXT(pt, "re-run as group 2 (4 jobs)");
	CHECK(wait_rows_with(pt, "grp", 2)); /* two groups, one row each */
	WAIT_TEXT(pt, "2/4 done, 1 queued, 1 failed");
	/* delete: the first group's finished jobs, asked twice (files) */
	ptyterm_send(pt, "G");
	ptyterm_send(pt, "d");
	WAIT_TEXT(pt, "Delete the 4 finished jobs of group 1");
	ptyterm_send(pt, "y");
	WAIT_TEXT(pt, "Also delete their");
	ptyterm_send(pt, "n");
	WAIT_TEXT(pt, "group 1: 4 jobs deleted");
	CHECK(wait_rows_with(pt, "grp", 1));
	quit_and_check(pt);
}

static void b64(const unsigned char *in, size_t n, char *out)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) |
		             (i + 2 < n ? in[i + 2] : 0);
		out[o++] = t[v >> 18 & 63];
		out[o++] = t[v >> 12 & 63];
		out[o++] = i + 1 < n ? t[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? t[v & 63] : '=';
	}
	out[o] = 0;
}

/* o over SSH opens nothing on the remote machine: the path goes to the
 * clipboard of the terminal the user sits at (OSC 52) and the status line
 * says so; a terminal known not to take OSC 52 gets the path and why. */
static void test_open_over_ssh(void)
{
	new_data_dir();
	CHECK_INT(cli_submit("over ssh [[queue=0 run=0]]"), 0);
	char *argv[] = {(char *)sdq_bin, NULL};
	char *env[] = {"SDQ_GRAPHICS=none",
	               data_env,
	               endpoint_env,
	               "RUNPOD_API_KEY=test-key",
	               "SSH_CONNECTION=10.0.0.1 50000 10.0.0.2 22",
	               "SDQ_OPEN",
	               "VTE_VERSION",
	               NULL};
	struct ptyterm *pt = ptyterm_start(argv, env, 120, 30, NULL);
	if (!CHECK(pt != NULL))
		return;
	WAIT_TEXT(pt, "COMPLETED");
	WAIT_TEXT(pt, "1-0.png");
	char db[4400], want[8192] = "52;c;";
	struct store *st = store_open(db_path(db, sizeof db), NULL);
	struct job *j = st ? store_job_get(st, 1, NULL) : NULL;
	if (CHECK(j != NULL) && CHECK(j->n_outputs > 0))
		b64((const unsigned char *)j->outputs[0].path, strlen(j->outputs[0].path),
		    want + strlen(want));
	job_free(j);
	store_close(st);
	ptyterm_send(pt, "o");
	WAIT_TEXT(pt, "sent the path to your clipboard");
	int found = 0;
	for (int i = 0; i < 100 && !found; i++) {
		found = strstr(ptyterm_osc(pt), want) != NULL;
		if (!found)
			ptyterm_pump(pt, 50);
	}
	if (!CHECK(found))
		fprintf(stderr, "  OSC seen: %s\n  wanted: %s\n", ptyterm_osc(pt), want);
	CHECK(!ptyterm_find(pt, "opening", NULL, NULL));
	quit_and_check(pt);

	/* a VTE terminal (GNOME Terminal) does not take OSC 52: say so */
	char *env2[] = {"SDQ_GRAPHICS=none",
	                data_env,
	                endpoint_env,
	                "RUNPOD_API_KEY=test-key",
	                "SSH_TTY=/dev/pts/9",
	                "SSH_CONNECTION",
	                "SDQ_OPEN",
	                "VTE_VERSION=7200",
	                NULL};
	pt = ptyterm_start(argv, env2, 120, 30, NULL);
	if (!CHECK(pt != NULL))
		return;
	WAIT_TEXT(pt, "COMPLETED");
	ptyterm_send(pt, "o");
	WAIT_TEXT(pt, "does not take clipboard copies");
	CHECK(ptyterm_find(pt, "not opened", NULL, NULL));
	CHECK(strstr(ptyterm_osc(pt), "52;") == NULL);
	quit_and_check(pt);
}

/* A long JSON error is pretty-printed in the detail pane, which scrolls. */
static void test_detail_scroll(void)
{
	new_data_dir();
	cli_submit("json error [[queue=0 run=0 fail=json]]"); /* fails: exit status 1 */
	struct ptyterm *pt = start(80, 24, 1, NULL);
	if (!CHECK(pt != NULL))
		return;
	WAIT_TEXT(pt, "FAILED");
	ptyterm_key(pt, "Enter");
	WAIT_TEXT(pt, "(RuntimeError)"); /* the message first, then the traceback */
	WAIT_TEXT(pt, "more below J/K");
	CHECK(!ptyterm_find(pt, "worker    emuworker", NULL, NULL));
	for (int i = 0; i < 10; i++)
		ptyterm_send(pt, "J");
	WAIT_TEXT(pt, "more above J/K");
	WAIT_TEXT(pt, "worker    emuworker");
	for (int i = 0; i < 10; i++)
		ptyterm_send(pt, "K");
	WAIT_TEXT(pt, "more below J/K");
	CHECK(ptyterm_find(pt, "Job 1", NULL, NULL));
	quit_and_check(pt);
}

/* Outside a UTF-8 locale everything drawn is ASCII (bars, lines, markers). */
static void test_ascii_locale(void)
{
	new_data_dir();
	CHECK_INT(
	    cli_submit("caf\xc3\xa9 au lait, \xe2\x80\x9cquoted\xe2\x80\x9d [[queue=0 run=0]]"), 0);
	struct ptyterm *pt = start(80, 24, 1, "LC_ALL=C");
	if (!CHECK(pt != NULL))
		return;
	WAIT_TEXT(pt, "au lait");
	ptyterm_key(pt, "Enter");
	WAIT_TEXT(pt, "params");
	WAIT_TEXT(pt, "--------");
	int bad = 0;
	for (int r = 0; r < 24; r++)
		for (int c = 0; c < 80; c++) {
			struct ptyterm_cell cell;
			if (ptyterm_cell(pt, r, c, &cell) == 0 && cell.ch >= 128)
				bad++;
		}
	CHECK_INT(bad, 0);
	quit_and_check(pt);
}

/* A refused key is marked in the header; no key ever shows on screen. */
static void test_auth_failed(void)
{
	new_data_dir();
	char *argv[] = {(char *)sdq_bin, NULL};
	char *env[] = {"SDQ_GRAPHICS=none", data_env, endpoint_env, "RUNPOD_API_KEY=wrong-key-4711",
	               NULL};
	struct ptyterm *pt = ptyterm_start(argv, env, 120, 30, NULL);
	if (!CHECK(pt != NULL))
		return;
	WAIT_TEXT(pt, "AUTH FAILED");
	/* not compose(): under load the 401's message can replace "submitted"
	 * before it is seen; the job's state is what counts */
	ptyterm_send(pt, "n");
	WAIT_TEXT(pt, "New job");
	ptyterm_send(pt, "never accepted");
	ptyterm_key(pt, "C-s");
	WAIT_TEXT(pt, "SUBMIT_FAILED");
	ptyterm_settle(pt, 300, 3000);
	CHECK(!ptyterm_find(pt, "wrong-key", NULL, NULL));
	CHECK(!ptyterm_find(pt, "4711", NULL, NULL));
	quit_and_check(pt);
}

/* A crash signal still gives the terminal back, then kills the process. */
static void test_crash_restores(void)
{
	new_data_dir();
	struct ptyterm *pt = start(80, 24, 0, NULL);
	if (!CHECK(pt != NULL))
		return;
	WAIT_TEXT(pt, "No jobs yet");
	CHECK(ptyterm_altscreen(pt));
	kill(ptyterm_pid(pt), SIGABRT);
	CHECK_INT(ptyterm_wait_exit(pt, WAIT_MS), 128 + SIGABRT);
	CHECK_INT(ptyterm_altscreen(pt), 0);
	CHECK(ptyterm_tty_sane(pt));
	ptyterm_stop(pt);
}

/* Quitting while a local sd job runs in this process asks first. */
static void test_quit_asks_about_local_jobs(void)
{
	new_data_dir();
	const char *dir = getenv("SDQ_TESTS_DIR");
	char cfg[4400], model[4400], env_cfg[4500];
	snprintf(model, sizeof model, "%s/model%d.safetensors", base_dir, test_no);
	th_write_model(model);
	snprintf(cfg, sizeof cfg, "%s/local%d.conf", base_dir, test_no);
	FILE *f = fopen(cfg, "w");
	if (!CHECK(f != NULL))
		return;
	fprintf(f,
	        "[core]\n\tbackground_driver = false\n[local \"gpu\"]\n\texe = %s/fake-sd-cli\n"
	        "\tmodel = %s\n",
	        dir && *dir ? dir : "tests", model);
	fclose(f);
	snprintf(env_cfg, sizeof env_cfg, "SDQ_CONFIG=%s", cfg);
	struct ptyterm *pt = start(80, 24, 0, env_cfg);
	if (!CHECK(pt != NULL))
		return;
	WAIT_TEXT(pt, "gpu");
	compose(pt, "a slow local job [[slow=1]]");
	WAIT_TEXT(pt, "IN_PROGRESS");
	ptyterm_send(pt, "q");
	WAIT_TEXT(pt, "would be stopped");
	ptyterm_send(pt, "n");
	CHECK(ptyterm_wait_for_text_gone(pt, "would be stopped", WAIT_MS));
	CHECK(ptyterm_find(pt, "IN_PROGRESS", NULL, NULL));
	ptyterm_send(pt, "q");
	WAIT_TEXT(pt, "would be stopped");
	ptyterm_send(pt, "y");
	CHECK_INT(ptyterm_wait_exit(pt, WAIT_MS), 0);
	CHECK_INT(ptyterm_altscreen(pt), 0);
	CHECK(ptyterm_tty_sane(pt));
	CHECK(ptyterm_find(pt, "still running", NULL, NULL));
	ptyterm_stop(pt);
}

/* An endpoint that does not answer is marked in words, not only colour. */
static void test_unreachable(void)
{
	new_data_dir();
	char *argv[] = {(char *)sdq_bin, NULL};
	char *env[] = {"SDQ_GRAPHICS=none", data_env, "SDQ_ENDPOINT=http://127.0.0.1:9/v2/test",
	               "RUNPOD_API_KEY=test-key", NULL};
	struct ptyterm *pt = ptyterm_start(argv, env, 80, 24, NULL);
	if (!CHECK(pt != NULL))
		return;
	WAIT_TEXT(pt, "UNREACHABLE");
	int row = -1;
	CHECK(ptyterm_find(pt, "UNREACHABLE", &row, NULL) && row == 0);
	quit_and_check(pt);
}

/* --- compose: variations ({a|b}, Seeds) as sdq submit makes them --- */

/* The inputs of the /run bodies the emulator received whose prompt starts
 * with prefix, as a cJSON array (the caller deletes it); NULL on error. */
static cJSON *emu_inputs(const char *prefix)
{
	cJSON *all = emu_get(&emu, "/_emu/jobs", NULL), *j;
	cJSON *out = all ? cJSON_CreateArray() : NULL;
	cJSON_ArrayForEach(j, all)
	{
		cJSON *in = cJSON_GetObjectItem(j, "input");
		cJSON *pr = cJSON_GetObjectItem(in, "prompt");
		if (out && cJSON_IsString(pr) && strncmp(pr->valuestring, prefix, strlen(prefix)) == 0)
			cJSON_AddItemToArray(out, cJSON_Duplicate(in, 1));
	}
	cJSON_Delete(all);
	return out;
}

/* Wait (bounded) until the emulator has n /run inputs starting with prefix;
 * returns them (the caller deletes them). */
static cJSON *emu_wait_inputs(const char *prefix, int n)
{
	cJSON *in = NULL;
	for (int i = 0; i < 300; i++) {
		cJSON_Delete(in);
		in = emu_inputs(prefix);
		if (in && cJSON_GetArraySize(in) >= n)
			break;
		usleep(50000);
	}
	return in;
}

/* 1 if the inputs hold exactly the prompts want (NULL-terminated), in any
 * order, each once. */
static int inputs_are(cJSON *in, const char *const *want)
{
	int n = 0;
	for (; want[n]; n++) {
		int found = 0;
		cJSON *j;
		cJSON_ArrayForEach(j, in)
		{
			cJSON *pr = cJSON_GetObjectItem(j, "prompt");
			found += cJSON_IsString(pr) && strcmp(pr->valuestring, want[n]) == 0;
		}
		if (found != 1)
			return 0;
	}
	return cJSON_GetArraySize(in) == n;
}

/* The jobs of the history whose prompt starts with prefix (oldest first). */
static size_t db_jobs(const char *prefix, struct job **out, size_t max)
{
	char db[4400];
	struct store *st = store_open(db_path(db, sizeof db), NULL);
	struct store_query q;
	struct job **l = NULL;
	size_t n = 0, k = 0;
	memset(&q, 0, sizeof q);
	q.oldest_first = 1;
	if (st && store_job_list(st, &q, &l, &n, NULL) == 0) {
		for (size_t i = 0; i < n; i++) {
			if (k < max && l[i]->params.prompt &&
			    strncmp(l[i]->params.prompt, prefix, strlen(prefix)) == 0) {
				out[k++] = l[i];
				l[i] = NULL;
			}
		}
	}
	for (size_t i = 0; i < n; i++)
		job_free(l ? l[i] : NULL);
	free(l);
	store_close(st);
	return k;
}

/* Open the compose form on dashboard pt (just started, no jobs yet). */
static struct ptyterm *compose_in(struct ptyterm *pt)
{
	if (!CHECK(pt != NULL))
		return NULL;
	WAIT_TEXT(pt, "No jobs yet");
	ptyterm_send(pt, "n");
	WAIT_TEXT(pt, "New job");
	return pt;
}

/* A dashboard on a fresh history with the compose form open. */
static struct ptyterm *compose_open(int cols, int rows)
{
	new_data_dir();
	return compose_in(start(cols, rows, 1, NULL));
}

/* {a|b} groups in the prompt and Seeds N: the live count on screen, then
 * one job per combination sent to the endpoint, recorded as one group as
 * sdq submit records it; escapes are the characters, one job, no group. */
static void test_compose_variations(void)
{
	struct ptyterm *pt = compose_open(120, 32);
	if (!pt)
		return;
	WAIT_TEXT(pt, "1 job ");
	ptyterm_send(pt, "cv {red|blue} {car|bike}");
	WAIT_TEXT(pt, "4 jobs");
	ptyterm_key(pt, "Tab");
	ptyterm_send(pt, "{sharp|}"); /* the negative prompt: x2 */
	WAIT_TEXT(pt, "8 jobs");
	ptyterm_key(pt, "C-u");
	WAIT_TEXT(pt, "4 jobs");
	ptyterm_key(pt, "Tab");
	ptyterm_send(pt, "1000"); /* Seed */
	ptyterm_key(pt, "Tab");
	ptyterm_send(pt, "3"); /* Seeds: x3 */
	WAIT_TEXT(pt, "12 jobs (asks first)");
	ptyterm_key(pt, "Backspace");
	WAIT_TEXT(pt, "4 jobs");
	ptyterm_send(pt, "2");
	WAIT_TEXT(pt, "8 jobs");
	ptyterm_key(pt, "C-s");
	WAIT_TEXT(pt, "8 jobs submitted");
	CHECK(!ptyterm_find(pt, "New job", NULL, NULL));
	cJSON *in = emu_wait_inputs("cv ", 8);
	CHECK_INT(in ? cJSON_GetArraySize(in) : -1, 8);
	/* every combination of prompt and seed once: seeds 1000 and 1001 */
	const char *prompts[] = {"cv red car", "cv red bike", "cv blue car", "cv blue bike"};
	for (int k = 0; k < 4; k++)
		for (int sd = 1000; sd <= 1001; sd++) {
			int found = 0;
			cJSON *j;
			cJSON_ArrayForEach(j, in)
			{
				cJSON *pr = cJSON_GetObjectItem(j, "prompt");
				cJSON *se = cJSON_GetObjectItem(j, "seed");
				found += cJSON_IsString(pr) && strcmp(pr->valuestring, prompts[k]) == 0 &&
				         cJSON_IsNumber(se) && se->valueint == sd &&
				         !cJSON_GetObjectItem(j, "negative_prompt");
			}
			if (!CHECK_INT(found, 1))
				fprintf(stderr, "  %s seed %d\n", prompts[k], sd);
		}
	cJSON_Delete(in);
	/* one group, in the order sdq submit makes it, variants named */
	struct job *jobs[16];
	size_t n = db_jobs("cv ", jobs, 16);
	CHECK_INT(n, 8);
	if (n == 8) {
		CHECK(jobs[0]->group_id > 0);
		for (size_t i = 1; i < n; i++)
			CHECK(jobs[i]->group_id == jobs[0]->group_id);
		CHECK_STR(jobs[0]->params.prompt, "cv red car");
		CHECK_STR(jobs[1]->params.prompt, "cv red car");
		CHECK(jobs[1]->params.seed == 1001);
		CHECK_STR(jobs[7]->params.prompt, "cv blue bike");
		CHECK_STR(jobs[3]->variant, "{\"prompt{1}\":\"red\",\"prompt{2}\":\"bike\",\"seed\":1001}");
		char db[4400];
		struct store *st = store_open(db_path(db, sizeof db), NULL);
		struct store_group *g = st ? store_group_get(st, jobs[0]->group_id, NULL) : NULL;
		if (CHECK(g != NULL)) {
			CHECK_STR(g->prompt, "cv {red|blue} {car|bike}");
			CHECK_INT(g->njobs, 8);
		}
		store_group_free(g);
		store_close(st);
	}
	for (size_t i = 0; i < n; i++)
		job_free(jobs[i]);

	/* escapes: the characters, one job, no group */
	ptyterm_send(pt, "n");
	WAIT_TEXT(pt, "New job");
	ptyterm_send(pt, "cw \\{x\\|y\\}");
	WAIT_TEXT(pt, "1 job ");
	ptyterm_key(pt, "C-s");
	WAIT_TEXT(pt, "submitted");
	in = emu_wait_inputs("cw ", 1);
	static const char *const esc[] = {"cw {x|y}", NULL};
	CHECK(in && inputs_are(in, esc));
	cJSON_Delete(in);
	n = db_jobs("cw ", jobs, 16);
	CHECK_INT(n, 1);
	if (n == 1)
		CHECK(jobs[0]->group_id == 0 && jobs[0]->variant == NULL);
	for (size_t i = 0; i < n; i++)
		job_free(jobs[i]);
	quit_and_check(pt);
}

/* More than 10 jobs: the form asks first, naming the count and endpoint;
 * no sends nothing and keeps the form; yes sends them all. A nested group
 * is an error on screen and sends nothing. */
static void test_compose_confirm_and_errors(void)
{
	struct ptyterm *pt = compose_open(120, 32);
	if (!pt)
		return;
	ptyterm_send(pt, "cn {a|{b|c}}");
	WAIT_TEXT(pt, "error: no job");
	WAIT_TEXT(pt, "nested");
	ptyterm_key(pt, "C-s");
	WAIT_TEXT(pt, "not submitted: Prompt:");
	CHECK(ptyterm_find(pt, "New job", NULL, NULL)); /* the form stays */
	/* said once: not on the form's line and again on the status line */
	CHECK(wait_rows_with(pt, "groups cannot be nested", 1));
	ptyterm_key(pt, "C-u");
	CHECK(ptyterm_wait_for_text_gone(pt, "not submitted", WAIT_MS));
	ptyterm_send(pt, "cn {a|b");
	WAIT_TEXT(pt, "error: no job");
	ptyterm_key(pt, "C-s");
	WAIT_TEXT(pt, "not submitted: Prompt:");
	CHECK(wait_rows_with(pt, "is never closed", 1));
	ptyterm_key(pt, "C-u");
	ptyterm_send(pt, "cc {1|2|3|4|5|6} {x|y}");
	WAIT_TEXT(pt, "12 jobs (asks first)");
	ptyterm_key(pt, "C-s");
	WAIT_TEXT(pt, "Submit 12 jobs to endpoint");
	CHECK(ptyterm_find(pt, "/v2/test", NULL, NULL)); /* where they go */
	ptyterm_send(pt, "n");
	CHECK(ptyterm_wait_for_text_gone(pt, "Submit 12 jobs", WAIT_MS));
	WAIT_TEXT(pt, "12 jobs (asks first)"); /* still in the form */
	struct job *jobs[16];
	CHECK_INT(db_jobs("c", jobs, 16), 0);
	cJSON *in = emu_inputs("cc ");
	CHECK_INT(in ? cJSON_GetArraySize(in) : -1, 0);
	cJSON_Delete(in);
	in = emu_inputs("cn ");
	CHECK_INT(in ? cJSON_GetArraySize(in) : -1, 0);
	cJSON_Delete(in);
	ptyterm_key(pt, "C-s");
	WAIT_TEXT(pt, "Submit 12 jobs to endpoint");
	ptyterm_send(pt, "y");
	WAIT_TEXT(pt, "12 jobs submitted");
	in = emu_wait_inputs("cc ", 12);
	CHECK_INT(in ? cJSON_GetArraySize(in) : -1, 12);
	cJSON_Delete(in);
	size_t n = db_jobs("c", jobs, 16);
	CHECK_INT(n, 12);
	for (size_t i = 0; i < n; i++)
		job_free(jobs[i]);
	quit_and_check(pt);
}

/* The emulator's count of operation op (GET /_emu/stats "ops"); -1 if unknown. */
static int emu_op(const char *op)
{
	cJSON *st = emu_get(&emu, "/_emu/stats", NULL);
	cJSON *n = cJSON_GetObjectItem(cJSON_GetObjectItem(st, "ops"), op);
	int v = cJSON_IsNumber(n) ? n->valueint : -1;
	cJSON_Delete(st);
	return v;
}

/* The history holds exactly one job whose prompt starts with prefix, and
 * it was sent to url. */
static void only_job_went_to(const char *prefix, const char *url)
{
	struct job *jobs[4];
	size_t n = db_jobs(prefix, jobs, 4);
	if (CHECK_INT(n, 1))
		CHECK_STR(jobs[0]->endpoint_url, url);
	for (size_t i = 0; i < n; i++)
		job_free(jobs[i]);
}

/* The Endpoint field (prefilled, easy to type into by mistake) takes what
 * sdq submit -e takes, and says where a name not in the config would send:
 * a RunPod id or URL not in the config is warned about while typed and
 * asked about on Ctrl-S, naming the URL (n: nothing recorded, nothing
 * sent); a name that is neither is refused. Ids are only typed, never
 * submitted: a test talks to 127.0.0.1 only (the URL case points at the
 * emulator, whose /v2/test3 answers 404). */
static void test_compose_endpoint_typo(void)
{
	struct ptyterm *pt = compose_open(120, 34);
	if (!pt)
		return;
	ptyterm_send(pt, "ce typo");
	for (int i = 0; i < 10; i++) /* Prompt ... Count: Endpoint */
		ptyterm_key(pt, "Tab");
	ptyterm_send(pt, "default");
	WAIT_TEXT(pt, ">Endpoint  default ");
	CHECK(!ptyterm_find(pt, "not in the config", NULL, NULL)); /* the config's own */
	ptyterm_send(pt, "3");
	WAIT_TEXT(pt, "not in the config: will be sent to RunPod endpoint id 'default3'");
	WAIT_TEXT(pt, "Endpoint default3 is not in the config (default)");
	ptyterm_key(pt, "C-u");
	char typo[256];
	snprintf(typo, sizeof typo, "%s3", emu.base); /* http://127.0.0.1:P/v2/test3 */
	ptyterm_send(pt, typo);
	WAIT_TEXT(pt, "not in the config: will be sent to the URL");
	int runs = emu_op("run"), notfound = emu_op("notfound");
	ptyterm_key(pt, "C-s");
	char ask[300];
	snprintf(ask, sizeof ask, "Endpoint %s is not in the config (default)", typo);
	WAIT_TEXT(pt, "Send 1 job to that URL anyway?");
	CHECK(ptyterm_find(pt, ask, NULL, NULL)); /* the URL it would go to */
	ptyterm_send(pt, "n");
	CHECK(ptyterm_wait_for_text_gone(pt, "Send 1 job", WAIT_MS));
	ptyterm_settle(pt, 60, 2000);
	CHECK(ptyterm_find(pt, "New job", NULL, NULL)); /* the form stays */
	struct job *jobs[4];
	size_t n = db_jobs("ce ", jobs, 4);
	CHECK_INT(n, 0); /* nothing recorded */
	for (size_t i = 0; i < n; i++)
		job_free(jobs[i]);
	CHECK_INT(emu_op("run"), runs); /* nothing sent */
	CHECK_INT(emu_op("notfound"), notfound);
	/* a name that is neither: refused, as sdq submit -e refuses it, with
	 * the error shown once (in the form, not again on the status line) */
	ptyterm_key(pt, "C-u");
	ptyterm_send(pt, "defaul");
	WAIT_TEXT(pt, "error: no endpoint 'defaul' in the config (default)");
	ptyterm_key(pt, "C-s");
	WAIT_TEXT(pt, "not submitted: Endpoint: unknown endpoint 'defaul'");
	CHECK(wait_rows_with(pt, "unknown endpoint 'defaul'", 1));
	n = db_jobs("ce ", jobs, 4);
	CHECK_INT(n, 0);
	for (size_t i = 0; i < n; i++)
		job_free(jobs[i]);
	/* typing clears the refusal; yes to the question sends it there */
	ptyterm_key(pt, "C-u");
	CHECK(ptyterm_wait_for_text_gone(pt, "not submitted", WAIT_MS));
	ptyterm_send(pt, typo);
	ptyterm_key(pt, "C-s");
	WAIT_TEXT(pt, "Send 1 job to that URL anyway?");
	ptyterm_send(pt, "y");
	WAIT_TEXT(pt, "job 1 submitted");
	only_job_went_to("ce ", typo);
	int got = notfound;
	for (int i = 0; i < 300 && got == notfound; i++) {
		usleep(50000);
		got = emu_op("notfound");
	}
	CHECK(got > notfound); /* it went where the user said */
	quit_and_check(pt);

	/* sdq -e URL: named on the command line, so meant: no warning, no
	 * question (the form is prefilled with it) */
	new_data_dir();
	char *argv[] = {(char *)sdq_bin, "-e", typo, NULL};
	char *env[] = {"SDQ_GRAPHICS=none", data_env, endpoint_env, "RUNPOD_API_KEY=test-key", NULL};
	if (!(pt = compose_in(ptyterm_start(argv, env, 120, 34, NULL))))
		return;
	ptyterm_send(pt, "ce meant");
	WAIT_TEXT(pt, "ce meant");
	CHECK(ptyterm_find(pt, ">Prompt", NULL, NULL));
	CHECK(ptyterm_find(pt, typo + 7, NULL, NULL) || ptyterm_find(pt, "/v2/test3", NULL, NULL));
	CHECK(!ptyterm_find(pt, "not in the config", NULL, NULL));
	ptyterm_key(pt, "C-s");
	WAIT_TEXT(pt, "job 1 submitted");
	only_job_went_to("ce ", typo);
	quit_and_check(pt);
}

/* Fields per template: a user template's own placeholders get fields of
 * their own (after Template), fields it does not take are marked, a needed
 * one left empty is refused before anything is sent, switching templates
 * keeps what was typed, and the value reaches the /run body. */
static void test_compose_template_fields(void)
{
	char path[4300];
	snprintf(path, sizeof path, "%s/config/sdq/templates", base_dir);
	mkdir(path, 0700);
	snprintf(path, sizeof path, "%s/config/sdq/templates/own.json", base_dir);
	FILE *f = fopen(path, "w");
	if (!CHECK(f != NULL))
		return;
	fputs("{\"prompt\": \"{{prompt}}\", \"style\": \"{{style}}\","
	      " \"strength\": \"{{strength|0.5}}\", \"seed\": \"{{seed?}}\"}\n",
	      f);
	fclose(f);
	struct ptyterm *pt = compose_open(130, 34);
	if (!pt)
		goto out;
	ptyterm_send(pt, "ct one");
	CHECK(!ptyterm_find(pt, " style", NULL, NULL)); /* sdxl has no {{style}} */
	ptyterm_key(pt, "Tab");
	ptyterm_send(pt, "{x|y}"); /* a negative prompt: 2 jobs with sdxl */
	WAIT_TEXT(pt, "2 jobs");
	ptyterm_send(pt, "\033[Z"); /* Shift-Tab: Prompt */
	ptyterm_send(pt, "\033[Z"); /* Shift-Tab: Template */
	ptyterm_send(pt, "own");
	WAIT_TEXT(pt, "{{style}} of own: needed");
	WAIT_TEXT(pt, "1 job "); /* own sends no negative prompt: no jobs from it */
	WAIT_TEXT(pt, "{{strength}} of own: empty: 0.5");
	WAIT_TEXT(pt, "not used: template own has no {{steps}}");
	ptyterm_key(pt, "C-s"); /* style is needed: refused, nothing sent */
	/* "not submitted: template own: PATH needs a value for {{style}}: ..." (the
	 * line may be cut after the path) */
	WAIT_TEXT(pt, "not submitted: template own: ");
	CHECK(ptyterm_find(pt, "New job", NULL, NULL));
	cJSON *none = emu_inputs("ct one");
	CHECK_INT(none ? cJSON_GetArraySize(none) : -1, 0);
	cJSON_Delete(none);
	ptyterm_key(pt, "Tab"); /* from Template to style */
	ptyterm_send(pt, "vivid");
	WAIT_TEXT(pt, "vivid");
	/* another template hides it, and coming back keeps it */
	ptyterm_send(pt, "\033[Z"); /* Shift-Tab: Template */
	ptyterm_key(pt, "C-u");
	ptyterm_send(pt, "sdxl");
	CHECK(ptyterm_wait_for_text_gone(pt, "vivid", WAIT_MS));
	CHECK(!ptyterm_find(pt, "not used", NULL, NULL));
	ptyterm_key(pt, "C-u");
	ptyterm_send(pt, "own");
	WAIT_TEXT(pt, "vivid");
	/* Tab passes the fields own does not take: Prompt, Seed, Seeds, then
	 * Endpoint (Negative and Steps ... Count are not in own) */
	ptyterm_key(pt, "Tab"); /* style */
	ptyterm_key(pt, "Tab"); /* strength */
	ptyterm_key(pt, "Tab"); /* wraps: Prompt */
	ptyterm_key(pt, "Tab"); /* Seed */
	ptyterm_key(pt, "Tab"); /* Seeds */
	ptyterm_key(pt, "Tab"); /* Endpoint */
	ptyterm_send(pt, "default");
	ptyterm_key(pt, "C-s");
	WAIT_TEXT(pt, "submitted");
	cJSON *in = emu_wait_inputs("ct one", 1);
	if (CHECK_INT(in ? cJSON_GetArraySize(in) : -1, 1)) {
		char *t = cJSON_PrintUnformatted(cJSON_GetArrayItem(in, 0));
		/* seed is the one the engine picked; no steps or other member */
		cJSON *j = cJSON_GetArrayItem(in, 0);
		cJSON_DeleteItemFromObject(j, "seed");
		free(t);
		t = cJSON_PrintUnformatted(j);
		CHECK_STR(t, "{\"prompt\":\"ct one\",\"style\":\"vivid\",\"strength\":0.5}");
		free(t);
	}
	cJSON_Delete(in);
	quit_and_check(pt);
out:
	unlink(path);
}

int main(void)
{
	sdq_bin = getenv("SDQ_BIN");
	if (!sdq_bin || !*sdq_bin)
		sdq_bin = "build/sdq";
	snprintf(base_dir, sizeof base_dir, "%s", th_tmpdir());
	char d[4200];
	/* nothing of the user's: a private home, config and history */
	snprintf(d, sizeof d, "%s/home", base_dir);
	mkdir(d, 0700);
	setenv("HOME", d, 1);
	snprintf(d, sizeof d, "%s/config", base_dir);
	mkdir(d, 0700);
	setenv("XDG_CONFIG_HOME", d, 1);
	/* no background driver left behind by a test */
	snprintf(d, sizeof d, "%s/config/sdq", base_dir);
	mkdir(d, 0700);
	snprintf(d, sizeof d, "%s/config/sdq/config", base_dir);
	FILE *f = fopen(d, "w");
	if (f) {
		fputs("[core]\n\tbackground_driver = false\n", f);
		fclose(f);
	}
	unsetenv("SDQ_CONFIG");
	signal(SIGPIPE, SIG_IGN);

	static const char *const emu_args[] = {"--endpoint", "test", NULL};
	int port = emu_start_key(&emu, "test-key", emu_args) < 0 ? -1 : emu.port;
	if (port <= 0) {
		fprintf(stderr, "tui_dashboard: the emulator did not start\n");
		printf("tui_dashboard: 0 passed, 1 failed\n");
		return 1;
	}
	snprintf(endpoint_env, sizeof endpoint_env, "SDQ_ENDPOINT=http://127.0.0.1:%d/v2/test",
	         port);
	/* for `sdq submit` run by the tests themselves */
	setenv("SDQ_ENDPOINT", endpoint_env + strlen("SDQ_ENDPOINT="), 1);
	setenv("RUNPOD_API_KEY", "test-key", 1);

	TH_RUN(test_no_endpoint);
	TH_RUN(test_submit_flow);
	TH_RUN(test_other_process_and_search);
	TH_RUN(test_cancel_and_filter);
	TH_RUN(test_two_dashboards);
	TH_RUN(test_help_lists_every_key);
	TH_RUN(test_docs_list_every_key);
	TH_RUN(test_resize);
	TH_RUN(test_mouse_and_keys);
	TH_RUN(test_no_color_and_sigterm);
	TH_RUN(test_long_paste_and_quit_message);
	TH_RUN(test_unreachable);
	TH_RUN(test_crash_restores);
	TH_RUN(test_auth_failed);
	TH_RUN(test_ascii_locale);
	TH_RUN(test_detail_scroll);
	TH_RUN(test_detail_waiting);
	TH_RUN(test_quit_asks_about_local_jobs);
	TH_RUN(test_paging_and_live_marker);
	TH_RUN(test_labels_in_full);
	TH_RUN(test_save_open_delete_retry);
	TH_RUN(test_text_prompts);
	TH_RUN(test_endpoint_error_goes);
	TH_RUN(test_header_follows_jobs);
	TH_RUN(test_rerun_asks);
	TH_RUN(test_group_rows);
	TH_RUN(test_table_waiting);
	TH_RUN(test_detail_full_prompt_and_wrap);
	TH_RUN(test_bracketed_paste);
	TH_RUN(test_compose_sampler);
	TH_RUN(test_compose_variations);
	TH_RUN(test_compose_confirm_and_errors);
	TH_RUN(test_compose_template_fields);
	TH_RUN(test_compose_endpoint_typo);
	TH_RUN(test_sort_and_follow);
	TH_RUN(test_open_over_ssh);
	TH_RUN(test_viewer_keeps_jobs_moving);
	TH_RUN(test_refuses_dumb_and_small);
	emu_stop(&emu);
	return th_done("tui_dashboard");
}
