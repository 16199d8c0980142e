/*
 * test_sdcpp.c: the local stable-diffusion.cpp backend.
 *
 * Part 1, the parser, on captured byte streams (tests/fixtures/sdcpp-*.txt):
 * what it recognises, and that feeding the same bytes split at every possible
 * boundary, one byte at a time, or in random chunks gives exactly the same
 * events. Part 2, the helpers: argv, PATH search, argument splitting. Part 3,
 * a real engine driving tests/fake-sd-cli: progress, batches, failures,
 * signals, cancel, the FIFO queue, resume, health.
 */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>

#include "th.h"
#include "backend.h"
#include "config.h"
#include "engine.h"
#include "job.h"
#include "sdcpp.h"
#include "store.h"
#include "util.h"

/* ------------------------------------------------------------------------ */
/* helpers */

static char tests_dir[4096];

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	size_t r;
	while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			char *nb = realloc(buf, cap *= 2);
			if (!nb) {
				free(buf);
				buf = NULL;
			}
			buf = nb;
		}
	}
	fclose(f);
	if (buf)
		buf[n < cap ? n : cap - 1] = 0;
	*len = n;
	return buf;
}

/* Does process pid's command line (its arguments, NUL-separated) hold s? */
static int cmdline_has(pid_t pid, const char *s)
{
	char path[64];
	size_t len = 0;
	char *b;
	int found;

	snprintf(path, sizeof path, "/proc/%ld/cmdline", (long)pid);
	if (!(b = slurp(path, &len)))
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!b[i])
			b[i] = ' ';
	found = strstr(b, s) != NULL;
	free(b);
	return found;
}

static char *fixture(const char *name, size_t *len)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/fixtures/%s", tests_dir, name);
	char *s = slurp(path, len);
	if (!s)
		fprintf(stderr, "  cannot read %s\n", path);
	return s;
}

/* Events serialised as text, one per line, so two runs compare with strcmp. */
struct rec {
	char *buf;
	size_t len, cap;
	int n_progress, n_lines, n_errors, n_images, n_saved, n_phase;
};

static void rec_add(struct rec *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void rec_add(struct rec *r, const char *fmt, ...)
{
	char line[SDCPP_LINE_MAX * 3];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof line)
		n = sizeof line - 1;
	if (r->len + (size_t)n + 2 > r->cap) {
		r->cap = (r->len + (size_t)n + 2) * 2;
		r->buf = realloc(r->buf, r->cap);
	}
	memcpy(r->buf + r->len, line, (size_t)n);
	r->len += (size_t)n;
	r->buf[r->len++] = '\n';
	r->buf[r->len] = 0;
}

static void rec_cb(const struct sdcpp_parse_event *ev, void *udata)
{
	struct rec *r = udata;
	const char *ph = sdcpp_parse_phase_name(ev->phase);
	switch (ev->type) {
	case SDCPP_EV_LINE:
		r->n_lines++;
		rec_add(r, "LINE %d %s [%s] {%s} <%s>", ev->stream, ph, ev->level, ev->msg,
		        ev->text);
		break;
	case SDCPP_EV_ERROR:
		r->n_errors++;
		rec_add(r, "ERROR %d {%s}", ev->stream, ev->msg);
		break;
	case SDCPP_EV_PROGRESS:
		r->n_progress++;
		rec_add(r, "PROGRESS %s %d/%d %.2f%s", ph, ev->step, ev->steps, ev->speed,
		        ev->unit);
		break;
	case SDCPP_EV_PHASE:
		r->n_phase++;
		rec_add(r, "PHASE %s", ph);
		break;
	case SDCPP_EV_IMAGE:
		r->n_images++;
		rec_add(r, "IMAGE %d/%d seed %" PRId64, ev->image, ev->batch, ev->seed);
		break;
	case SDCPP_EV_SAVED:
		r->n_saved++;
		rec_add(r, "SAVED %d '%s'", ev->index, ev->path);
		break;
	}
}

/* Feed data (stream s) to a new parser in chunks given by cuts (sorted
 * offsets, n_cuts of them), then finish; return the record (and the parser's
 * final state in *st). */
static struct rec run_parser(const char *data, size_t len, enum sdcpp_stream s, const size_t *cuts,
                             size_t n_cuts, int batch, struct sdcpp_parse_state *st)
{
	struct rec r;
	memset(&r, 0, sizeof r);
	struct sdcpp_parse *p = sdcpp_parse_new(batch, rec_cb, &r);
	size_t at = 0;
	for (size_t i = 0; i <= n_cuts; i++) {
		size_t end = i < n_cuts ? cuts[i] : len;
		sdcpp_parse_feed(p, s, data + at, end - at);
		at = end;
	}
	sdcpp_parse_finish(p, s);
	if (st)
		*st = *sdcpp_parse_state(p);
	sdcpp_parse_free(p);
	if (!r.buf)
		r.buf = calloc(1, 1);
	return r;
}

/* The same events whichever way data is cut. */
static void check_split_invariance(const char *name, int batch)
{
	size_t len;
	char *data = fixture(name, &len);
	if (!CHECK(data))
		return;
	struct rec whole = run_parser(data, len, SDCPP_STDOUT, NULL, 0, batch, NULL);
	CHECK(whole.len > 0);
	int bad = 0;
	/* every single cut point */
	for (size_t k = 1; k < len && bad < 3; k++) {
		struct rec r = run_parser(data, len, SDCPP_STDOUT, &k, 1, batch, NULL);
		if (strcmp(r.buf, whole.buf) != 0) {
			fprintf(stderr, "  %s: split at %zu differs\n", name, k);
			bad++;
		}
		free(r.buf);
	}
	CHECK_INT(bad, 0);
	/* one byte at a time */
	size_t *cuts = malloc(len * sizeof *cuts);
	for (size_t k = 0; k + 1 < len; k++)
		cuts[k] = k + 1;
	struct rec r1 = run_parser(data, len, SDCPP_STDOUT, cuts, len ? len - 1 : 0, batch, NULL);
	CHECK(strcmp(r1.buf, whole.buf) == 0);
	free(r1.buf);
	/* pseudo-random chunks (fixed seed: the same every run) */
	unsigned x = 12345;
	for (int round = 0; round < 50; round++) {
		size_t n = 0, at = 0;
		while (at < len) {
			x = x * 1103515245u + 12345u;
			at += 1 + (x >> 16) % 23;
			if (at < len)
				cuts[n++] = at;
		}
		struct rec r = run_parser(data, len, SDCPP_STDOUT, cuts, n, batch, NULL);
		if (strcmp(r.buf, whole.buf) != 0)
			bad++;
		free(r.buf);
	}
	CHECK_INT(bad, 0);
	free(cuts);
	free(whole.buf);
	free(data);
}

/* ------------------------------------------------------------------------ */
/* Part 1: the parser */

static void test_reference_stream(void)
{
	size_t len;
	char *data = fixture("sdcpp-reference-batch2.txt", &len);
	if (!CHECK(data))
		return;
	struct sdcpp_parse_state st;
	struct rec r = run_parser(data, len, SDCPP_STDOUT, NULL, 0, 2, &st);
	/* 4 load frames + 2 x 20 sampling frames */
	CHECK_INT(r.n_progress, 44);
	CHECK_INT(r.n_images, 2);
	CHECK_INT(r.n_saved, 2);
	CHECK_INT(r.n_errors, 0);
	CHECK_INT(r.n_lines, 20);
	CHECK(strstr(r.buf, "PROGRESS loading 120/1130 845.50MB/s\n") != NULL);
	CHECK(strstr(r.buf, "PROGRESS sampling 1/20 3.46s/it\n") != NULL);
	CHECK(strstr(r.buf, "PROGRESS sampling 10/20 4.00it/s\n") != NULL);
	CHECK(strstr(r.buf, "PROGRESS sampling 20/20 1.19s/it\n") != NULL);
	CHECK(strstr(r.buf, "IMAGE 1/2 seed 42\nIMAGE") == NULL); /* lines come in between */
	CHECK(strstr(r.buf, "IMAGE 2/2 seed 43\n") != NULL);
	CHECK(strstr(r.buf, "SAVED 0 'output_0.png'\n") != NULL);
	CHECK(strstr(r.buf, "SAVED 1 'output_1.png'\n") != NULL);
	CHECK(strstr(r.buf, "LINE 0 loading [INFO] {loading model from 'model.safetensors'} "
	                    "<[INFO ] stable-diffusion.cpp:713  - loading model from "
	                    "'model.safetensors'>\n") != NULL);
	/* phases in order */
	const char *a = strstr(r.buf, "PHASE loading");
	const char *a2 = strstr(r.buf, "PHASE encoding the prompt");
	const char *b = strstr(r.buf, "PHASE sampling");
	const char *c = strstr(r.buf, "PHASE decoding");
	const char *d = strstr(r.buf, "PHASE saving");
	const char *e = strstr(r.buf, "PHASE done");
	CHECK(a && a2 && b && c && d && e && a < a2 && a2 < b && b < c && c < d && d < e);
	CHECK_INT(r.n_phase, 6);
	CHECK_INT(st.phase, SDCPP_PHASE_DONE);
	CHECK_INT(st.n_saved, 2);
	CHECK(st.fraction == 1.0);
	/* no escape byte and no CR ever reaches an event */
	CHECK(strchr(r.buf, 0x1b) == NULL);
	CHECK(strchr(r.buf, '\r') == NULL);
	free(r.buf);
	free(data);
}

/* The state after each prefix: the fraction (sampling is 15-90 % of the job,
 * image i of B its share by steps: 0.15 + 0.75 ((i-1)N + k)/(BN)) and the text. */
static void test_batch_fraction_and_text(void)
{
	size_t len;
	char *data = fixture("sdcpp-reference-batch2.txt", &len);
	if (!CHECK(data))
		return;
	struct sdcpp_parse *p = sdcpp_parse_new(2, NULL, NULL);
	const char *img2 = strstr(data, "generating image: 2/2");
	CHECK(img2 != NULL);
	/* up to and including frame 10/20 of image 1 */
	const char *f10 = strstr(data, "| 10/20 - 4.00it/s\033[K");
	size_t upto = (size_t)(f10 - data) + strlen("| 10/20 - 4.00it/s\033[K");
	sdcpp_parse_feed(p, SDCPP_STDOUT, data, upto);
	const struct sdcpp_parse_state *st = sdcpp_parse_state(p);
	char text[128];
	CHECK_INT(st->phase, SDCPP_PHASE_SAMPLING);
	CHECK_INT(st->image, 1);
	CHECK_INT(st->batch, 2);
	CHECK_INT(st->step, 10);
	CHECK_INT(st->steps, 20);
	CHECK(st->fraction > 0.3374 && st->fraction < 0.3376);
	CHECK_STR(sdcpp_parse_state_text(st, text, sizeof text), "sampling 1/2 step 10/20 4.00it/s");
	/* then frame 7/20 of image 2: 0.15 + 0.75 (20 + 7) / 40 */
	const char *f7 = strstr(img2, "| 7/20 - 1.23s/it\033[K");
	size_t upto2 = (size_t)(f7 - data) + strlen("| 7/20 - 1.23s/it\033[K");
	sdcpp_parse_feed(p, SDCPP_STDOUT, data + upto, upto2 - upto);
	CHECK_INT(st->image, 2);
	CHECK(st->fraction > 0.6562 && st->fraction < 0.6563);
	CHECK_STR(sdcpp_parse_state_text(st, text, sizeof text), "sampling 2/2 step 7/20 1.23s/it");
	sdcpp_parse_free(p);

	/* a single image: no "1/1" */
	struct sdcpp_parse_state one;
	memset(&one, 0, sizeof one);
	one.phase = SDCPP_PHASE_SAMPLING;
	one.image = one.batch = 1;
	one.step = 7;
	one.steps = 20;
	one.speed = 1.234;
	strcpy(one.unit, "s/it");
	CHECK_STR(sdcpp_parse_state_text(&one, text, sizeof text), "sampling step 7/20 1.23s/it");
	one.phase = SDCPP_PHASE_LOADING;
	one.loading = 1;
	one.load_step = 120;
	one.load_steps = 1130;
	CHECK_STR(sdcpp_parse_state_text(&one, text, sizeof text), "loading weights 120/1130");
	/* a lazy load keeps the phase it happens in */
	one.phase = SDCPP_PHASE_ENCODING;
	CHECK_STR(sdcpp_parse_state_text(&one, text, sizeof text),
	          "encoding the prompt: loading weights 120/1130");
	one.phase = SDCPP_PHASE_SAMPLING;
	one.batch = 2;
	CHECK_STR(sdcpp_parse_state_text(&one, text, sizeof text),
	          "sampling 1/2: loading weights 120/1130");
	one.phase = SDCPP_PHASE_DECODING;
	CHECK_STR(sdcpp_parse_state_text(&one, text, sizeof text), "decoding: loading weights 120/1130");
	one.loading = 0;
	one.step = 3;
	one.steps = 16;
	CHECK_STR(sdcpp_parse_state_text(&one, text, sizeof text), "decoding tile 3/16");
	one.steps = 0;
	CHECK_STR(sdcpp_parse_state_text(&one, text, sizeof text), "decoding");
	/* a tiny buffer is still terminated */
	CHECK_STR(sdcpp_parse_state_text(&one, text, 4), "dec");
	free(data);
}

static void test_split_reference(void)
{
	check_split_invariance("sdcpp-reference-batch2.txt", 2);
}

static void test_split_fake(void)
{
	check_split_invariance("sdcpp-fake-batch2.txt", 2);
}

static void test_split_awkward(void)
{
	check_split_invariance("sdcpp-awkward.txt", 1);
}

static void test_awkward_stream(void)
{
	size_t len;
	char *data = fixture("sdcpp-awkward.txt", &len);
	if (!CHECK(data))
		return;
	struct sdcpp_parse_state st;
	struct rec r = run_parser(data, len, SDCPP_STDOUT, NULL, 0, 1, &st);
	/* the old "[INFO]  " tag */
	CHECK(strstr(r.buf, "[INFO] {loading model from 'it''s.gguf'}") != NULL);
	/* a log line right after \033[K, and one glued to a frame without it */
	CHECK(strstr(r.buf, "PROGRESS sampling 2/4 2.40s/it\nLINE 0 sampling [WARN] "
	                    "{glued to a frame}") != NULL);
	CHECK(strstr(r.buf, "PROGRESS sampling 3/4 2.30s/it\nLINE 0 sampling [INFO] "
	                    "{glued without erase} <[INFO ] util.cpp:13   - glued without "
	                    "erase>\n") != NULL);
	/* colour escapes are dropped */
	CHECK(strstr(r.buf, "[WARN] {colour} <[WARN ] util.cpp:12   - colour>") != NULL);
	/* a = bar after "decoding" counts VAE tiles, not sampling steps */
	CHECK(strstr(r.buf, "PROGRESS decoding 3/4 3.00it/s\n") != NULL);
	CHECK(strstr(r.buf, "PROGRESS sampling 1/4 3.00it/s") == NULL);
	/* a path holding "' (success)" */
	CHECK(strstr(r.buf, "SAVED 0 '/tmp/a dir/it' (success)'\n") != NULL);
	/* the last line had no newline: delivered at finish */
	CHECK(strstr(r.buf, "{1/1 images saved}") != NULL);
	CHECK_INT(st.phase, SDCPP_PHASE_DONE);
	CHECK_INT(r.n_progress, 9);
	free(r.buf);
	free(data);
}

/* ERROR lines come on stderr; each stream has its own line buffer. */
static void test_two_streams(void)
{
	size_t lo, le;
	char *out = fixture("sdcpp-missing-model-stdout.txt", &lo);
	char *err = fixture("sdcpp-missing-model-stderr.txt", &le);
	if (!CHECK(out && err)) {
		free(out);
		free(err);
		return;
	}
	struct rec r;
	memset(&r, 0, sizeof r);
	struct sdcpp_parse *p = sdcpp_parse_new(1, rec_cb, &r);
	/* interleave: half a stdout line, half a stderr line, the rests */
	sdcpp_parse_feed(p, SDCPP_STDOUT, out, 20);
	sdcpp_parse_feed(p, SDCPP_STDERR, err, 30);
	sdcpp_parse_feed(p, SDCPP_STDOUT, out + 20, lo - 20);
	sdcpp_parse_feed(p, SDCPP_STDERR, err + 30, le - 30);
	sdcpp_parse_finish(p, SDCPP_STDOUT);
	sdcpp_parse_finish(p, SDCPP_STDERR);
	CHECK_INT(r.n_errors, 2);
	CHECK_INT(r.n_lines, 5);
	CHECK(strstr(r.buf, "ERROR 1 {init model loader from file failed: "
	                    "'/nonexistent.safetensors'}\n") != NULL);
	CHECK(strstr(r.buf, "ERROR 1 {get sd version from file failed: "
	                    "'/nonexistent.safetensors'}\n") != NULL);
	CHECK(strstr(r.buf, "LINE 0 loading [INFO] {new_sd_ctx_t failed}") != NULL);
	CHECK(strstr(r.buf, "LINE 0 loading [WARN] {file /nonexistent.safetensors not found}") !=
	      NULL);
	CHECK_INT(sdcpp_parse_state(p)->n_errors, 2);
	sdcpp_parse_free(p);
	free(r.buf);
	free(out);
	free(err);
}

/* Lines longer than the cap are cut, not grown; escapes split anywhere. */
static void test_caps_and_escapes(void)
{
	struct rec r;
	memset(&r, 0, sizeof r);
	struct sdcpp_parse *p = sdcpp_parse_new(1, rec_cb, &r);
	char *big = malloc(SDCPP_LINE_MAX * 3);
	memset(big, 'x', SDCPP_LINE_MAX * 3);
	sdcpp_parse_feed(p, SDCPP_STDOUT, big, SDCPP_LINE_MAX * 3);
	sdcpp_parse_feed(p, SDCPP_STDOUT, "\nshort\n", 7);
	CHECK_INT(r.n_lines, 2);
	const char *first = strstr(r.buf, "<");
	const char *end = first ? strchr(first, '>') : NULL;
	CHECK(end && end - first - 1 == SDCPP_LINE_MAX);
	CHECK(strstr(r.buf, "<short>") != NULL);
	free(big);
	/* an OSC title sequence, a two-byte escape, a lone ESC at the end of a
	 * chunk, a BEL and other control bytes */
	free(r.buf);
	memset(&r, 0, sizeof r);
	const char *s = "a\033]0;title\007b\033=c\033";
	sdcpp_parse_feed(p, SDCPP_STDOUT, s, strlen(s));
	sdcpp_parse_feed(p, SDCPP_STDOUT, "[1md\001e\n", 7);
	CHECK(r.buf && strstr(r.buf, "<abcde>") != NULL);
	/* \r\n and blank segments make no events */
	free(r.buf);
	memset(&r, 0, sizeof r);
	sdcpp_parse_feed(p, SDCPP_STDOUT, "\r\n\r\n   \r\033[K\n", 12);
	CHECK(r.buf == NULL);
	/* not a frame: text after the speed */
	sdcpp_parse_feed(p, SDCPP_STDOUT, "  |===| 1/2 - 1.00s/it and more\n", 32);
	CHECK_INT(r.n_progress, 0);
	CHECK_INT(r.n_lines, 1);
	/* bad stream numbers and NULL parsers are ignored */
	sdcpp_parse_feed(p, (enum sdcpp_stream)7, "x\n", 2);
	sdcpp_parse_feed(NULL, SDCPP_STDOUT, "x\n", 2);
	sdcpp_parse_finish(NULL, SDCPP_STDOUT);
	sdcpp_parse_free(NULL);
	CHECK_INT(r.n_lines, 1);
	sdcpp_parse_free(p);
	free(r.buf);
}

/* A sampling bar with no "generating image" line before it still counts. */
static void test_bare_sampling(void)
{
	struct sdcpp_parse *p = sdcpp_parse_new(0, NULL, NULL);
	const struct sdcpp_parse_state *st = sdcpp_parse_state(p);
	CHECK(st->fraction < 0);
	CHECK_INT(st->phase, SDCPP_PHASE_STARTING);
	const char *f = "\r  |=====>     | 5/10 - 2.00s/it\033[K";
	sdcpp_parse_feed(p, SDCPP_STDOUT, f, strlen(f));
	CHECK_INT(st->phase, SDCPP_PHASE_SAMPLING);
	CHECK_INT(st->image, 1);
	CHECK_INT(st->batch, 1);
	CHECK(st->fraction > 0.5249 && st->fraction < 0.5251); /* 0.15 + 0.75 * 5/10 */
	sdcpp_parse_free(p);
}

/* Random bytes biased towards what the parser looks at: no crash (the
 * sanitizer build checks memory), the state stays sane, and every event's
 * strings are terminated and free of escapes and line ends. */
static int garbage_bad, garbage_seen[8];
static void garbage_cb(const struct sdcpp_parse_event *ev, void *udata)
{
	(void)udata;
	garbage_seen[ev->type & 7]++;
	const char *strs[] = {ev->text, ev->msg, ev->level, ev->unit, ev->path};
	for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
		if (strs[i] && (strlen(strs[i]) > SDCPP_LINE_MAX || strchr(strs[i], '\r') ||
		                strchr(strs[i], '\n') || strchr(strs[i], 0x1b)))
			garbage_bad++;
}

static void test_parser_garbage(void)
{
	static const char alphabet[] = "\r\n\033[K|=>#  0123456789/.-s/it[INFO ]ERROR:' (success)";
	static const char *const words[] = {
	    "generating image: ",
	    " - seed ",
	    "save result image ",
	    " to '",
	    "' (success)",
	    "decoding ",
	    "images saved",
	    "MB/s",
	    "it/s",
	    "[ERROR] a.cpp:1 - ",
	    "\033]0;t\007",
	    "\r  |==>   | 3/20 - 1.23s/it\033[K",
	    "\r  |###  | 9/99 - 5.00MB/s",
	    "[INFO ] main.cpp:9 - save result image 1 to 'x.png' (success)\n"};
	unsigned x = 777;
	char buf[4096];
	garbage_bad = 0;
	for (int round = 0; round < 300; round++) {
		struct sdcpp_parse *p = sdcpp_parse_new(round % 4, garbage_cb, NULL);
		for (int chunk = 0; chunk < 8; chunk++) {
			size_t n = 0;
			while (n < sizeof buf - 80) {
				x = x * 1103515245u + 12345u;
				unsigned r = x >> 16;
				if (r % 7 == 0) {
					const char *w =
					    words[(r / 7) % (sizeof words / sizeof words[0])];
					size_t wl = strlen(w);
					memcpy(buf + n, w, wl);
					n += wl;
				} else if (r % 11 == 0) {
					buf[n++] = (char)(r & 0xff);
				} else {
					buf[n++] = alphabet[(r / 3) % (sizeof alphabet - 1)];
				}
			}
			sdcpp_parse_feed(p, (enum sdcpp_stream)(chunk & 1), buf, n);
		}
		sdcpp_parse_finish(p, SDCPP_STDOUT);
		sdcpp_parse_finish(p, SDCPP_STDERR);
		const struct sdcpp_parse_state *st = sdcpp_parse_state(p);
		char text[128];
		sdcpp_parse_state_text(st, text, sizeof text);
		if (st->fraction > 1.0 || (int)st->phase < 0 || st->phase > SDCPP_PHASE_DONE ||
		    strlen(text) >= sizeof text || st->unit[sizeof st->unit - 1] != 0)
			garbage_bad++;
		sdcpp_parse_free(p);
	}
	CHECK_INT(garbage_bad, 0);
	/* the generator does reach every kind of event */
	CHECK(garbage_seen[SDCPP_EV_LINE] > 0 && garbage_seen[SDCPP_EV_PROGRESS] > 0 &&
	      garbage_seen[SDCPP_EV_SAVED] > 0 && garbage_seen[SDCPP_EV_ERROR] > 0 &&
	      garbage_seen[SDCPP_EV_PHASE] > 0);
}

/* ------------------------------------------------------------------------ */
/* Part 2: helpers */

static int argv_has_pair(char **v, const char *a, const char *b)
{
	for (size_t i = 0; v[i] && v[i + 1]; i++)
		if (strcmp(v[i], a) == 0 && strcmp(v[i + 1], b) == 0)
			return 1;
	return 0;
}

static int argv_has(char **v, const char *a)
{
	for (size_t i = 0; v[i]; i++)
		if (strcmp(v[i], a) == 0)
			return 1;
	return 0;
}

static void test_split_args(void)
{
	size_t n = 99;
	char **v = sdcpp_split_args("  --vae-tiling\t--rng  cuda \n--fa ", &n);
	CHECK_INT(n, 4);
	CHECK_STR(v[0], "--vae-tiling");
	CHECK_STR(v[1], "--rng");
	CHECK_STR(v[2], "cuda");
	CHECK_STR(v[3], "--fa");
	CHECK(v[4] == NULL);
	sdcpp_strv_free(v);
	v = sdcpp_split_args(NULL, &n);
	CHECK(v && v[0] == NULL && n == 0);
	sdcpp_strv_free(v);
	/* quotes are not special: no shell */
	v = sdcpp_split_args("'a b' $(x)", &n);
	CHECK_INT(n, 3);
	CHECK_STR(v[0], "'a");
	CHECK_STR(v[2], "$(x)");
	sdcpp_strv_free(v);
	sdcpp_strv_free(NULL);
}

static void test_build_argv(void)
{
	struct config_endpoint ep;
	memset(&ep, 0, sizeof ep);
	ep.name = "gpu";
	ep.kind = CONFIG_LOCAL;
	ep.model = "/m/sd.safetensors";
	ep.vae = "/m/vae.safetensors";
	ep.t5xxl = "/m/t5.gguf";
	ep.threads = 6;
	ep.extra_args = " --vae-tiling  --scheduler karras";
	struct job_params p;
	job_params_init(&p);
	p.prompt = "a cat; rm -rf / $(reboot)";
	p.negative_prompt = "blurry";
	p.seed = 1234567890123LL;
	p.steps = 25;
	p.cfg = 7.5;
	p.has_cfg = 1;
	p.width = 768;
	p.height = 512;
	p.sampler = "dpm++2m";
	p.count = 3;
	char **v = sdcpp_build_argv("/opt/sd-cli", &ep, &p, "/d/job-1.x/img.png");
	if (!CHECK(v))
		return;
	CHECK_STR(v[0], "/opt/sd-cli");
	CHECK(argv_has_pair(v, "-m", "/m/sd.safetensors"));
	CHECK(argv_has_pair(v, "--vae", "/m/vae.safetensors"));
	CHECK(argv_has_pair(v, "--t5xxl", "/m/t5.gguf"));
	CHECK(!argv_has(v, "--clip_l"));
	CHECK(!argv_has(v, "--diffusion-model"));
	CHECK(argv_has_pair(v, "-p", "a cat; rm -rf / $(reboot)"));
	CHECK(argv_has_pair(v, "-n", "blurry"));
	CHECK(argv_has_pair(v, "-s", "1234567890123"));
	CHECK(argv_has_pair(v, "--steps", "25"));
	CHECK(argv_has_pair(v, "--cfg-scale", "7.5"));
	CHECK(argv_has_pair(v, "-W", "768"));
	CHECK(argv_has_pair(v, "-H", "512"));
	CHECK(argv_has_pair(v, "--sampling-method", "dpm++2m"));
	CHECK(argv_has_pair(v, "-b", "3"));
	CHECK(argv_has_pair(v, "-t", "6"));
	CHECK(argv_has_pair(v, "-o", "/d/job-1.x/img.png"));
	CHECK(argv_has_pair(v, "--scheduler", "karras"));
	CHECK(!argv_has(v, "--color"));
	size_t n = 0;
	while (v[n])
		n++;
	CHECK_STR(v[n - 1], "karras"); /* extra args come last */
	sdcpp_strv_free(v);

	/* the minimum: unset values are left out, but the seed always goes */
	struct job_params q;
	job_params_init(&q);
	ep.model = NULL;
	ep.vae = ep.t5xxl = NULL;
	ep.diffusion_model = "/m/flux.gguf";
	ep.threads = 0;
	ep.extra_args = NULL;
	v = sdcpp_build_argv("sd", &ep, &q, "/o.png");
	if (!CHECK(v))
		return;
	CHECK(argv_has_pair(v, "--diffusion-model", "/m/flux.gguf"));
	CHECK(argv_has_pair(v, "-p", ""));
	CHECK(argv_has_pair(v, "-s", "-1"));
	CHECK(!argv_has(v, "-m") && !argv_has(v, "-n") && !argv_has(v, "--steps"));
	CHECK(!argv_has(v, "-b") && !argv_has(v, "-t") && !argv_has(v, "--cfg-scale"));
	n = 0;
	while (v[n])
		n++;
	CHECK_INT(n, 9); /* sd --diffusion-model F -p "" -s -1 -o /o.png */
	sdcpp_strv_free(v);
}

static void touch_exec(const char *dir, const char *name, int mode)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (f) {
		fputs("#!/bin/sh\nexit 0\n", f);
		fclose(f);
	}
	chmod(path, (mode_t)mode);
}

static void test_find_exe(void)
{
	char a[4096], b[4096], path[9000];
	snprintf(a, sizeof a, "%s", th_tmpdir());
	snprintf(b, sizeof b, "%s", th_tmpdir());
	snprintf(path, sizeof path, "%s:%s", a, b);
	struct config_endpoint ep;
	memset(&ep, 0, sizeof ep);
	ep.name = "gpu";
	ep.kind = CONFIG_LOCAL;
	char *err = NULL;

	/* nothing there: the message names what was tried and the key to set */
	char *f = sdcpp_find_exe(&ep, path, &err);
	CHECK(f == NULL);
	CHECK(err && strstr(err, "'sd-cli'") && strstr(err, "'sd'") && strstr(err, "exe =") &&
	      strstr(err, "[local \"gpu\"]") && strstr(err, a));
	free(err);
	err = NULL;

	/* the old name alone is found; a non-executable sd-cli is skipped */
	touch_exec(b, "sd", 0755);
	touch_exec(a, "sd-cli", 0644);
	f = sdcpp_find_exe(&ep, path, &err);
	char want[9000];
	snprintf(want, sizeof want, "%s/sd", b);
	CHECK_STR(f, want);
	free(f);
	/* sd-cli wins over sd */
	touch_exec(b, "sd-cli", 0755);
	f = sdcpp_find_exe(&ep, path, &err);
	snprintf(want, sizeof want, "%s/sd-cli", b);
	CHECK_STR(f, want);
	free(f);

	/* an explicit bare name is searched; an explicit path is used as is */
	touch_exec(a, "my-sd", 0755);
	ep.exe = "my-sd";
	f = sdcpp_find_exe(&ep, path, &err);
	snprintf(want, sizeof want, "%s/my-sd", a);
	CHECK_STR(f, want);
	free(f);
	ep.exe = want;
	f = sdcpp_find_exe(&ep, "/nonexistent", &err);
	CHECK_STR(f, want);
	free(f);
	ep.exe = "/nonexistent/sd-cli";
	f = sdcpp_find_exe(&ep, path, &err);
	CHECK(f == NULL && err && strstr(err, "/nonexistent/sd-cli") && strstr(err, "exe"));
	free(err);
	err = NULL;
	ep.exe = "not-there";
	f = sdcpp_find_exe(&ep, path, &err);
	CHECK(f == NULL && err && strstr(err, "not-there"));
	free(err);
}

/* ------------------------------------------------------------------------ */
/* Part 3: an engine driving tests/fake-sd-cli */

struct env {
	char dir[4096];
	char model[4200];
	char argv_log[4200];
	struct config *cfg;
	struct store *st;
	struct engine *e;
	/* what the callback saw */
	int64_t watch_id;
	double progress_seen[512];
	char texts[256][96];
	int n_progress, n_texts, n_health;
	int64_t other_id;
	enum job_state other_state_while_running[64];
	int n_other;
};

static void env_cb(struct engine *e, const struct engine_event *ev, void *udata)
{
	struct env *v = udata;
	if (ev->type == ENGINE_EV_HEALTH)
		v->n_health++;
	if (ev->type != ENGINE_EV_JOB || ev->job_id != v->watch_id)
		return;
	const struct job *j = engine_job(e, ev->job_id);
	if (!j)
		return;
	if (j->state == JOB_IN_PROGRESS && j->progress >= 0 && v->n_progress < 512)
		v->progress_seen[v->n_progress++] = j->progress;
	if (j->progress_text && v->n_texts < 256 &&
	    (v->n_texts == 0 || strcmp(v->texts[v->n_texts - 1], j->progress_text) != 0))
		snprintf(v->texts[v->n_texts++], sizeof v->texts[0], "%s", j->progress_text);
	if (v->other_id && j->state == JOB_IN_PROGRESS && v->n_other < 64) {
		struct job *o = store_job_get(v->st, v->other_id, NULL);
		if (o) {
			v->other_state_while_running[v->n_other++] = o->state;
			job_free(o);
		}
	}
}

static int env_open(struct env *v, const char *extra_cfg)
{
	memset(v, 0, sizeof *v);
	snprintf(v->dir, sizeof v->dir, "%s", th_tmpdir());
	char sub[4300];
	snprintf(sub, sizeof sub, "%s/data", v->dir);
	setenv("XDG_DATA_HOME", sub, 1);
	snprintf(sub, sizeof sub, "%s/config", v->dir);
	setenv("XDG_CONFIG_HOME", sub, 1);
	unsetenv("SDQ_DATA_DIR");
	unsetenv("SDQ_ENDPOINT");
	snprintf(v->model, sizeof v->model, "%s/model.safetensors", v->dir);
	th_write_model(v->model);
	snprintf(v->argv_log, sizeof v->argv_log, "%s/argv.log", v->dir);
	setenv("FAKE_SD_ARGV_LOG", v->argv_log, 1);
	setenv("FAKE_SD_STEP_DELAY", "0.002", 1);
	char *err = NULL;
	v->cfg = config_new_defaults(&err);
	if (!CHECK(v->cfg)) {
		fprintf(stderr, "  config: %s\n", err ? err : "?");
		free(err);
		return -1;
	}
	char text[10000];
	snprintf(text, sizeof text,
	         "[local \"gpu\"]\n"
	         "\texe = %s/fake-sd-cli\n"
	         "\tmodel = %s\n"
	         "\tthreads = 2\n"
	         "\textra_args = --vae-tiling   --rng cuda\n"
	         "%s",
	         tests_dir, v->model, extra_cfg ? extra_cfg : "");
	if (!CHECK(config_parse(v->cfg, text, "test-config", &err) == 0)) {
		fprintf(stderr, "  config: %s\n", err ? err : "?");
		free(err);
		return -1;
	}
	char db[4300];
	snprintf(db, sizeof db, "%s/history.db", v->dir);
	v->st = store_open(db, &err);
	if (!CHECK(v->st)) {
		fprintf(stderr, "  store: %s\n", err ? err : "?");
		free(err);
		return -1;
	}
	v->e = engine_new(v->cfg, v->st, &err);
	if (!CHECK(v->e)) {
		fprintf(stderr, "  engine: %s\n", err ? err : "?");
		free(err);
		return -1;
	}
	engine_set_callback(v->e, env_cb, v);
	CHECK_INT(engine_drive(v->e, 1), 1);
	return 0;
}

static void env_close(struct env *v)
{
	engine_free(v->e);
	store_close(v->st);
	config_free(v->cfg);
	v->e = NULL;
	v->st = NULL;
	v->cfg = NULL;
}

static int64_t submit(struct env *v, const char *prompt, int count, int steps, int64_t seed)
{
	struct job_params p;
	job_params_init(&p);
	p.prompt = (char *)prompt;
	p.endpoint = "gpu";
	p.count = count;
	p.steps = steps;
	p.width = 64;
	p.height = 48;
	p.seed = seed;
	char *err = NULL;
	int64_t id = engine_submit(v->e, &p, &err);
	if (!id)
		fprintf(stderr, "  submit: %s\n", err ? err : "?");
	free(err);
	return id;
}

/* Step the engine until job id is terminal (or until_state is reached when
 * >= 0), at most max_ms of wall time. Returns the job from the store. */
static struct job *wait_job(struct env *v, int64_t id, int until_state, int max_ms)
{
	int64_t end = util_now_ms() + max_ms;
	while (util_now_ms() < end) {
		engine_step(v->e, 50);
		struct job *j = store_job_get(v->st, id, NULL);
		if (j && (job_state_is_terminal(j->state) ||
		          (until_state >= 0 && (int)j->state == until_state)))
			return j;
		job_free(j);
	}
	fprintf(stderr, "  job %" PRId64 " did not get there in %d ms\n", id, max_ms);
	return store_job_get(v->st, id, NULL);
}

static int is_png(const char *path)
{
	size_t len = 0;
	char *d = slurp(path, &len);
	int ok = d && len > 8 && memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0;
	free(d);
	return ok;
}

static char *last_argv(struct env *v)
{
	size_t len;
	char *s = slurp(v->argv_log, &len);
	if (!s)
		return NULL;
	while (len && s[len - 1] == '\n')
		s[--len] = 0;
	char *nl = strrchr(s, '\n');
	char *r = strdup(nl ? nl + 1 : s);
	free(s);
	return r;
}

static void test_engine_one_image(void)
{
	struct env v;
	if (env_open(&v, NULL) < 0)
		return;
	int64_t id = submit(&v, "a red fox [[slow=0.02]]", 1, 12, 4242);
	v.watch_id = id;
	struct job *j = wait_job(&v, id, -1, 30000);
	if (CHECK(j)) {
		CHECK_STR(job_state_name(j->state), "COMPLETED");
		CHECK_STR(j->backend, "local");
		CHECK_INT(j->n_outputs, 1);
		if (j->n_outputs == 1) {
			CHECK(is_png(j->outputs[0].path));
			CHECK_INT(j->outputs[0].seed, 4242);
			CHECK(strstr(j->outputs[0].path, v.dir) != NULL);
		}
		CHECK(j->error == NULL);
		CHECK(j->log_tail && strstr(j->log_tail, "generating image: 1/1 - seed 4242"));
		CHECK(j->started_at > 0 && j->finished_at >= j->started_at);
	}
	/* progress moved forward through the sampling steps */
	int moves = 0;
	for (int i = 1; i < v.n_progress; i++) {
		CHECK(v.progress_seen[i] >= v.progress_seen[i - 1]);
		if (v.progress_seen[i] > v.progress_seen[i - 1])
			moves++;
	}
	CHECK(moves >= 3);
	int sampling_texts = 0;
	for (int i = 0; i < v.n_texts; i++)
		if (strncmp(v.texts[i], "sampling step ", 14) == 0 && strstr(v.texts[i], "/12 "))
			sampling_texts++;
	CHECK(sampling_texts >= 3);
	/* argv: the seed, threads, extra args, a private -o, never --color */
	char *a = last_argv(&v);
	CHECK(a && strstr(a, "\"-s\", \"4242\""));
	CHECK(a && strstr(a, "\"-t\", \"2\""));
	CHECK(a && strstr(a, "\"--vae-tiling\", \"--rng\", \"cuda\""));
	CHECK(a && strstr(a, "/job-") && strstr(a, "/img.png\""));
	CHECK(a && !strstr(a, "--color"));
	free(a);
	/* the private directory is gone */
	char tmp[4300];
	snprintf(tmp, sizeof tmp, "%s/data/sdq/tmp", v.dir);
	DIR *d = opendir(tmp);
	int left = 0;
	struct dirent *de;
	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.')
			left++;
	if (d)
		closedir(d);
	CHECK_INT(left, 0);
	job_free(j);
	env_close(&v);
}

/* A driver started detached may have its standard fds closed: the child's
 * pipes must still end up on its stdout and stderr. */
static void test_engine_closed_stdio(void)
{
	struct env v;
	if (env_open(&v, NULL) < 0)
		return;
	int save0 = dup(0), save1 = dup(1), save2 = dup(2);
	fflush(stdout);
	close(0);
	close(1);
	close(2);
	int64_t id = submit(&v, "no stdio", 1, 3, 5);
	struct job *j = wait_job(&v, id, -1, 30000);
	dup2(save0, 0);
	dup2(save1, 1);
	dup2(save2, 2);
	close(save0);
	close(save1);
	close(save2);
	if (CHECK(j)) {
		CHECK_STR(job_state_name(j->state), "COMPLETED");
		CHECK(j->log_tail && strstr(j->log_tail, "generating image: 1/1 - seed 5"));
		CHECK(j->log_tail && strstr(j->log_tail, "1/1 images saved"));
	}
	job_free(j);
	env_close(&v);
}

static void test_engine_batch(void)
{
	struct env v;
	if (env_open(&v, NULL) < 0)
		return;
	int64_t id = submit(&v, "three owls", 3, 6, 100);
	v.watch_id = id;
	struct job *j = wait_job(&v, id, -1, 30000);
	if (CHECK(j)) {
		CHECK_STR(job_state_name(j->state), "COMPLETED");
		CHECK_INT(j->n_outputs, 3);
		for (size_t i = 0; i < j->n_outputs && i < 3; i++) {
			CHECK_INT(j->outputs[i].index, (long long)i);
			CHECK_INT(j->outputs[i].seed, 100 + (long long)i);
			CHECK(is_png(j->outputs[i].path));
		}
	}
	int batch_text = 0;
	for (int i = 0; i < v.n_texts; i++)
		if (strncmp(v.texts[i], "sampling 2/3 step ", 18) == 0)
			batch_text++;
	CHECK(batch_text >= 1);
	job_free(j);
	/* old builds' names and no save lines: the files are listed instead */
	id = submit(&v, "two [[oldnames]] [[nosave]]", 2, 3, 7);
	j = wait_job(&v, id, -1, 30000);
	if (CHECK(j)) {
		CHECK_STR(job_state_name(j->state), "COMPLETED");
		CHECK_INT(j->n_outputs, 2);
		if (j->n_outputs == 2)
			CHECK_INT(j->outputs[1].seed, 8);
	}
	job_free(j);
	env_close(&v);
}

static void test_engine_failures(void)
{
	struct env v;
	if (env_open(&v, NULL) < 0)
		return;
	int64_t a = submit(&v, "[[fail]]", 1, 4, 1);
	int64_t b = submit(&v, "[[signal=9]]", 1, 4, 1);
	int64_t c = submit(&v, "[[nofile]]", 1, 4, 1);
	int64_t d = submit(&v, "[[abort]]", 1, 4, 1);
	struct job *j = wait_job(&v, a, -1, 30000);
	if (CHECK(j)) {
		CHECK_STR(job_state_name(j->state), "FAILED");
		/* the cause, from the [WARN] line, not the two ERROR lines after it */
		CHECK(j->error && strstr(j->error, "model file not found: ") &&
		      strstr(j->error, v.model));
		CHECK(j->log_tail && strstr(j->log_tail, "new_sd_ctx_t failed"));
		CHECK(j->log_tail && strstr(j->log_tail, "init model loader from file failed"));
	}
	job_free(j);
	j = wait_job(&v, b, -1, 30000);
	if (CHECK(j)) {
		CHECK_STR(job_state_name(j->state), "FAILED");
		CHECK(j->error && strstr(j->error, "killed by signal 9 (SIGKILL)"));
	}
	job_free(j);
	j = wait_job(&v, c, -1, 30000);
	if (CHECK(j)) {
		CHECK_STR(job_state_name(j->state), "FAILED");
		CHECK(j->error && strstr(j->error, "exited with status 0 but wrote no image"));
		CHECK_INT(j->n_outputs, 0);
	}
	job_free(j);
	j = wait_job(&v, d, -1, 30000);
	if (CHECK(j)) {
		CHECK_STR(job_state_name(j->state), "FAILED");
		CHECK_STR(j->error, "fake-sd-cli crashed: GGML_ASSERT(ggml_can_mul_mat(a, b)) failed");
		CHECK(j->log_tail && strstr(j->log_tail, "/src/ggml/src/ggml.c:1715: GGML_ASSERT("));
	}
	job_free(j);
	env_close(&v);
}

/* Failures told by what sd-cli prints, each with its cause in a user's
 * words; the lines that explain stay in the log however long the rest is. */
static void test_engine_causes(void)
{
	static const struct {
		const char *extra; /* extra_args */
		int empty_model;
		const char *error; /* the job's error, exactly */
		const char *kept;  /* a line the log must still hold */
	} cases[] = {
	    {"--bogus", 0, "fake-sd-cli does not know --bogus (check extra_args)",
	     "[ERROR] common.cpp:325  - error: unknown argument: --bogus"},
	    {"--steps abc", 0, "fake-sd-cli crashed: std::invalid_argument: stoi (check extra_args)",
	     "terminate called after throwing an instance of 'std::invalid_argument'"},
	    {"", 1, NULL, "unknown format"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char model[4300], empty[4300], extra[9000], want[4500];
		const char *mdir = th_tmpdir();
		snprintf(model, sizeof model, "%s/model.safetensors", mdir);
		th_write_model(model);
		snprintf(empty, sizeof empty, "%s/empty.safetensors", mdir);
		FILE *f = fopen(empty, "w");
		if (f)
			fclose(f);
		snprintf(extra, sizeof extra,
		         "[local \"odd\"]\n\texe = %s/fake-sd-cli\n\tmodel = %s\n"
		         "\textra_args = %s\n",
		         tests_dir, cases[i].empty_model ? empty : model, cases[i].extra);
		struct env v;
		if (env_open(&v, extra) < 0)
			return;
		struct job_params p;
		job_params_init(&p);
		p.prompt = "x";
		p.endpoint = "odd";
		p.steps = 2;
		p.seed = 3;
		int64_t id = engine_submit(v.e, &p, NULL);
		struct job *j = wait_job(&v, id, -1, 30000);
		snprintf(want, sizeof want, "model file is empty: %s", empty);
		if (CHECK(j)) {
			CHECK_STR(job_state_name(j->state), "FAILED");
			CHECK_STR(j->error, cases[i].error ? cases[i].error : want);
			CHECK(j->log_tail && strstr(j->log_tail, cases[i].kept));
			/* the usage (261 lines) is cut to the tail; the ERROR stays */
			int lines = 0;
			for (const char *c = j->log_tail; c && *c; c++)
				lines += *c == '\n';
			CHECK(lines < 50 + 20 + 2);
			if (i == 0)
				CHECK(lines > 40);
		}
		job_free(j);
		env_close(&v);
	}
}

static int group_alive(pid_t pgid)
{
	return kill(-pgid, 0) == 0 || errno != ESRCH;
}

/* The child exits but leaves a grandchild holding its pipes: the job still
 * completes (after a short drain period) and the group is killed. */
static void test_engine_grandchild(void)
{
	struct env v;
	if (env_open(&v, NULL) < 0)
		return;
	int64_t id = submit(&v, "[[grandchild]]", 1, 2, 9);
	struct job *j = wait_job(&v, id, -1, 30000);
	long pgid = 0;
	if (CHECK(j)) {
		CHECK_STR(job_state_name(j->state), "COMPLETED");
		CHECK_INT(j->n_outputs, 1);
		CHECK(j->worker_id && sscanf(j->worker_id, "pgid %ld", &pgid) == 1 && pgid > 1);
	}
	job_free(j);
	if (pgid > 1) {
		for (int i = 0; i < 100 && group_alive((pid_t)pgid); i++)
			engine_step(v.e, 20);
		CHECK(!group_alive((pid_t)pgid));
	}
	env_close(&v);
}

/* Freeing the engine (the driver quits) stops a running child; the job stays
 * IN_PROGRESS in the store for the next driver. */
static void test_engine_free_while_running(void)
{
	struct env v;
	if (env_open(&v, NULL) < 0)
		return;
	int64_t id = submit(&v, "[[hang]]", 1, 10, 1);
	v.watch_id = id;
	struct job *j = wait_job(&v, id, JOB_IN_PROGRESS, 20000);
	long pgid = 0;
	CHECK(j && j->worker_id && sscanf(j->worker_id, "pgid %ld", &pgid) == 1 && pgid > 1);
	job_free(j);
	for (int i = 0; i < 200 && v.n_texts < 2; i++)
		engine_step(v.e, 20);
	struct store *st = v.st;
	engine_free(v.e);
	v.e = NULL;
	if (pgid > 1)
		CHECK(!group_alive((pid_t)pgid));
	j = store_job_get(st, id, NULL);
	if (CHECK(j))
		CHECK_STR(job_state_name(j->state), "IN_PROGRESS");
	job_free(j);
	env_close(&v);
}

static void test_engine_exe_missing(void)
{
	struct env v;
	/* a second local endpoint whose executable does not exist */
	if (env_open(&v, "[local \"nope\"]\n\texe = /nonexistent/sd-cli\n\tmodel = /m\n") < 0)
		return;
	struct job_params p;
	job_params_init(&p);
	p.prompt = "x";
	p.endpoint = "nope";
	int64_t id = engine_submit(v.e, &p, NULL);
	struct job *j = wait_job(&v, id, -1, 10000);
	if (CHECK(j)) {
		CHECK_STR(job_state_name(j->state), "FAILED");
		CHECK(j->error && strstr(j->error, "/nonexistent/sd-cli") &&
		      strstr(j->error, "exe"));
		CHECK(j->error && strstr(j->error, "(config file: "));
	}
	job_free(j);
	env_close(&v);
}

static void test_engine_cancel_and_queue(void)
{
	struct env v;
	if (env_open(&v, NULL) < 0)
		return;
	/* a hangs; b waits behind it; cancelling a lets b run */
	int64_t a = submit(&v, "[[hang]]", 1, 10, 1);
	int64_t b = submit(&v, "after the hang", 1, 3, 2);
	v.watch_id = a;
	v.other_id = b;
	struct job *j = wait_job(&v, a, JOB_IN_PROGRESS, 20000);
	CHECK(j && j->state == JOB_IN_PROGRESS);
	long pgid = 0;
	CHECK(j && j->worker_id && sscanf(j->worker_id, "pgid %ld", &pgid) == 1 && pgid > 1);
	job_free(j);
	/* let it reach the hang: step until a sampling frame was seen */
	for (int i = 0; i < 200 && v.n_texts < 2; i++)
		engine_step(v.e, 20);
	j = store_job_get(v.st, b, NULL);
	CHECK(j && j->state == JOB_IN_QUEUE);
	job_free(j);
	CHECK(v.n_other > 0);
	for (int i = 0; i < v.n_other; i++)
		CHECK_INT(v.other_state_while_running[i], JOB_IN_QUEUE);
	CHECK(engine_cancel(v.e, a, NULL) == 0);
	j = wait_job(&v, a, -1, 15000);
	if (CHECK(j))
		CHECK_STR(job_state_name(j->state), "CANCELLED");
	job_free(j);
	if (pgid > 1)
		CHECK(!group_alive((pid_t)pgid));
	struct job *jb = wait_job(&v, b, -1, 30000);
	if (CHECK(jb)) {
		CHECK_STR(job_state_name(jb->state), "COMPLETED");
		j = store_job_get(v.st, a, NULL);
		CHECK(j && jb->started_at >= j->finished_at);
		job_free(j);
	}
	job_free(jb);

	/* a child that ignores SIGTERM is killed after the grace period */
	int64_t c = submit(&v, "[[hang]] [[ignore-term]]", 1, 10, 3);
	v.watch_id = c;
	v.n_texts = 0;
	j = wait_job(&v, c, JOB_IN_PROGRESS, 20000);
	pgid = 0;
	CHECK(j && j->worker_id && sscanf(j->worker_id, "pgid %ld", &pgid) == 1);
	job_free(j);
	for (int i = 0; i < 200 && v.n_texts < 2; i++)
		engine_step(v.e, 20);
	CHECK(engine_cancel(v.e, c, NULL) == 0);
	j = wait_job(&v, c, -1, 20000);
	if (CHECK(j))
		CHECK_STR(job_state_name(j->state), "CANCELLED");
	job_free(j);
	if (pgid > 1)
		CHECK(!group_alive((pid_t)pgid));

	/* a queued job is cancelled at once, without running */
	int64_t d = submit(&v, "[[hang]]", 1, 10, 4);
	int64_t e2 = submit(&v, "never runs", 1, 3, 5);
	j = wait_job(&v, d, JOB_IN_PROGRESS, 20000);
	job_free(j);
	CHECK(engine_cancel(v.e, e2, NULL) == 0);
	j = wait_job(&v, e2, -1, 5000);
	if (CHECK(j)) {
		CHECK_STR(job_state_name(j->state), "CANCELLED");
		CHECK_INT(j->started_at, 0);
	}
	job_free(j);
	CHECK(engine_cancel(v.e, d, NULL) == 0);
	j = wait_job(&v, d, -1, 15000);
	if (CHECK(j))
		CHECK_STR(job_state_name(j->state), "CANCELLED");
	job_free(j);
	env_close(&v);
}

/* Jobs run one at a time, in id order. */
static void test_engine_fifo(void)
{
	struct env v;
	if (env_open(&v, NULL) < 0)
		return;
	int64_t ids[3];
	for (int i = 0; i < 3; i++)
		ids[i] = submit(&v, "in order", 1, 3, 10 + i);
	struct job *js[3];
	for (int i = 0; i < 3; i++)
		js[i] = wait_job(&v, ids[i], -1, 30000);
	for (int i = 0; i < 3; i++)
		CHECK(js[i] && js[i]->state == JOB_COMPLETED);
	for (int i = 1; i < 3; i++)
		CHECK(js[i] && js[i - 1] && js[i]->started_at >= js[i - 1]->finished_at);
	for (int i = 0; i < 3; i++)
		job_free(js[i]);
	env_close(&v);
}

/* A job left IN_PROGRESS by a dead driver: its leftover process group is
 * killed and the job runs again from the start with the same seed. */
static void test_engine_resume(void)
{
	struct env v;
	if (env_open(&v, NULL) < 0)
		return;
	engine_drive(v.e, 0);
	env_close(&v);

	/* reopen the same store; pretend a driver died while running job j */
	char db[4300], *err = NULL;
	snprintf(db, sizeof db, "%s/history.db", v.dir);
	struct store *st = store_open(db, &err);
	if (!CHECK(st))
		return;
	struct job *j = job_new();
	job_params_init(&j->params);
	j->params.prompt = strdup("resumed");
	j->params.endpoint = strdup("gpu");
	j->params.seed = 77;
	j->params.steps = 3;
	j->params.width = 32;
	j->params.height = 32;
	j->endpoint = strdup("gpu");
	j->backend = strdup("local");
	j->state = JOB_PENDING;
	CHECK(store_job_add(st, j, &err) == 0);
	/* the "leftover child": a process group whose command line names the
	 * job's private directory, as a real run's -o does */
	char marker[4400];
	snprintf(marker, sizeof marker, "%s/data/sdq/tmp/job-%" PRId64 ".abcdef/img.png", v.dir,
	         j->id);
	pid_t pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		execl("/bin/sh", "sh", "-c", "sleep 300; :", marker, (char *)NULL);
		_exit(127);
	}
	setpgid(pid, pid);
	struct timespec ts = {0, 100 * 1000 * 1000};
	/* until the child runs sh with the marker in its command line (at most 10 s) */
	for (int i = 0; i < 1000 && !cmdline_has(pid, marker); i++) {
		struct timespec tick = {0, 10 * 1000 * 1000};
		nanosleep(&tick, NULL);
	}
	char wid[64];
	snprintf(wid, sizeof wid, "pgid %ld", (long)pid);
	j->state = JOB_IN_PROGRESS;
	j->started_at = job_now_ms();
	free(j->worker_id);
	j->worker_id = strdup(wid);
	j->log_tail = strdup("earlier output");
	CHECK(store_job_save(st, j, &err) == 0);
	int64_t id = j->id;
	job_free(j);
	store_close(st);

	/* a new driver */
	v.cfg = config_new_defaults(&err);
	char text[9000];
	snprintf(text, sizeof text, "[local \"gpu\"]\n\texe = %s/fake-sd-cli\n\tmodel = %s\n",
	         tests_dir, v.model);
	CHECK(v.cfg && config_parse(v.cfg, text, "test-config", &err) == 0);
	v.st = store_open(db, &err);
	v.e = v.st ? engine_new(v.cfg, v.st, &err) : NULL;
	if (!CHECK(v.e)) {
		free(err);
		kill(-pid, SIGKILL);
		waitpid(pid, NULL, 0);
		env_close(&v);
		return;
	}
	engine_set_callback(v.e, env_cb, &v);
	CHECK_INT(engine_drive(v.e, 1), 1);
	j = wait_job(&v, id, -1, 30000);
	if (CHECK(j)) {
		CHECK_STR(job_state_name(j->state), "COMPLETED");
		CHECK_INT(j->n_outputs, 1);
		if (j->n_outputs)
			CHECK_INT(j->outputs[0].seed, 77);
		CHECK(j->log_tail && strstr(j->log_tail, "running it again from the start"));
	}
	job_free(j);
	/* the leftover was killed */
	int status = 0;
	pid_t r = 0;
	for (int i = 0; i < 100 && r == 0; i++) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == 0)
			nanosleep(&ts, NULL);
	}
	CHECK(r == pid && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	if (r != pid) {
		kill(-pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	env_close(&v);
}

static void test_engine_health(void)
{
	struct env v;
	if (env_open(&v, "[local \"nomodel\"]\n\texe = /bin/true\n\tmodel = /nonexistent.gguf\n") <
	    0)
		return;
	char *err = NULL;
	CHECK(engine_health_refresh(v.e, "gpu", &err) == 0);
	free(err);
	const struct engine_health *h = NULL;
	for (int i = 0; i < 400 && !(h && h->valid); i++) {
		engine_step(v.e, 20);
		h = engine_health(v.e, "gpu");
	}
	if (CHECK(h && h->valid)) {
		CHECK(h->reachable);
		CHECK(h->error == NULL);
		CHECK(h->text &&
		      strstr(h->text, "version: stable-diffusion.cpp version master-827"));
		CHECK(h->text && strstr(h->text, "Fake CPU"));
		CHECK(h->text && strstr(h->text, "model: ") && strstr(h->text, " MB)"));
		CHECK(h->text && strstr(h->text, "queue: 0 running, 0 waiting"));
	}
	CHECK(engine_health_refresh(v.e, "nomodel", &err) == 0);
	free(err);
	h = NULL;
	for (int i = 0; i < 400 && !(h && h->valid); i++) {
		engine_step(v.e, 20);
		h = engine_health(v.e, "nomodel");
	}
	if (CHECK(h && h->valid)) {
		CHECK(h->error && strstr(h->error, "/nonexistent.gguf"));
		CHECK(h->text && strstr(h->text, "(model file not found)"));
	}
	env_close(&v);
}

int main(void)
{
	const char *td = getenv("SDQ_TESTS_DIR");
	if (!td || !*td)
		td = "tests";
	if (!realpath(td, tests_dir))
		snprintf(tests_dir, sizeof tests_dir, "%s", td);
	signal(SIGPIPE, SIG_IGN);

	TH_RUN(test_reference_stream);
	TH_RUN(test_batch_fraction_and_text);
	TH_RUN(test_split_reference);
	TH_RUN(test_split_fake);
	TH_RUN(test_split_awkward);
	TH_RUN(test_awkward_stream);
	TH_RUN(test_two_streams);
	TH_RUN(test_caps_and_escapes);
	TH_RUN(test_bare_sampling);
	TH_RUN(test_parser_garbage);
	TH_RUN(test_split_args);
	TH_RUN(test_build_argv);
	TH_RUN(test_find_exe);
	TH_RUN(test_engine_one_image);
	TH_RUN(test_engine_closed_stdio);
	TH_RUN(test_engine_batch);
	TH_RUN(test_engine_failures);
	TH_RUN(test_engine_causes);
	TH_RUN(test_engine_grandchild);
	TH_RUN(test_engine_free_while_running);
	TH_RUN(test_engine_exe_missing);
	TH_RUN(test_engine_cancel_and_queue);
	TH_RUN(test_engine_fifo);
	TH_RUN(test_engine_resume);
	TH_RUN(test_engine_health);
	return th_done("test_sdcpp");
}
