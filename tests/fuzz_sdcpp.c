/*
 * fuzz_sdcpp.c: the sd-cli output parser (sdcpp_parser_*) on any bytes.
 *
 * The first byte picks the batch, the stream and how the rest is cut into
 * chunks. The same bytes are fed twice: in one piece, and in chunks of 1..64
 * bytes. The parser promises the same events whatever the chunking (frames
 * and escape sequences may be split anywhere), so the two event streams must
 * be equal, field by field. Also checked: borrowed strings are readable
 * during the callback (ASan), the state stays sane (fraction in [0,1] or
 * below 0 before anything, unit NUL-terminated) and sdcpp_parse_state_text() always
 * terminates its buffer, even a tiny one.
 */
#include <string.h>

#include "fuzz_replay.h"
#include "sdcpp.h"

static void fuzz_init(void)
{
}

struct log {
	uint64_t hash;
	size_t n;
};

static void mix(struct log *l, const void *p, size_t n)
{
	const unsigned char *u = p;
	size_t i;
	for (i = 0; i < n; i++) {
		l->hash ^= u[i];
		l->hash *= 0x100000001b3ULL;
	}
}

static void mix_str(struct log *l, const char *s)
{
	if (s)
		mix(l, s, strlen(s) + 1);
	else
		mix(l, "\xff", 1);
}

static void check_state(const struct sdcpp_parse_state *st)
{
	char small[12], big[160];
	FUZZ_CHECK(st->fraction < 0 || (st->fraction >= 0 && st->fraction <= 1));
	FUZZ_CHECK(memchr(st->unit, 0, sizeof st->unit) != NULL);
	FUZZ_CHECK((int)st->phase >= SDCPP_PHASE_STARTING && st->phase <= SDCPP_PHASE_DONE);
	FUZZ_CHECK(sdcpp_parse_phase_name(st->phase) != NULL);
	memset(small, 'x', sizeof small);
	sdcpp_parse_state_text(st, small, sizeof small);
	FUZZ_CHECK(memchr(small, 0, sizeof small) != NULL);
	sdcpp_parse_state_text(st, big, sizeof big);
	FUZZ_CHECK(memchr(big, 0, sizeof big) != NULL);
}

static void on_event(const struct sdcpp_parse_event *ev, void *udata)
{
	struct log *l = udata;
	int v[9] = {(int)ev->type, (int)ev->stream, (int)ev->phase, ev->step, ev->steps,
	            ev->image,     ev->batch,       ev->index,      0};

	l->n++;
	mix(l, v, sizeof v);
	mix(l, &ev->speed, sizeof ev->speed);
	mix(l, &ev->seed, sizeof ev->seed);
	/* every borrowed string must be a readable C string now */
	mix_str(l, ev->text);
	mix_str(l, ev->level);
	mix_str(l, ev->msg);
	mix_str(l, ev->unit);
	mix_str(l, ev->path);
	if (ev->text)
		FUZZ_CHECK(strlen(ev->text) <= SDCPP_LINE_MAX);
}

static struct sdcpp_parse_state run(const uint8_t *data, size_t size, int batch, enum sdcpp_stream s,
                              unsigned seed, struct log *l)
{
	struct sdcpp_parse *p = sdcpp_parse_new(batch, on_event, l);
	struct sdcpp_parse_state st;
	size_t i = 0;

	FUZZ_CHECK(p != NULL);
	if (!p)
		abort();
	memset(l, 0, sizeof *l);
	l->hash = 0xcbf29ce484222325ULL;
	if (!seed) {
		sdcpp_parse_feed(p, s, (const char *)data, size);
	} else {
		while (i < size) {
			size_t n;
			seed = seed * 1103515245u + 12345u;
			n = 1 + (seed >> 16) % 64;
			if (n > size - i)
				n = size - i;
			sdcpp_parse_feed(p, s, (const char *)data + i, n);
			check_state(sdcpp_parse_state(p));
			i += n;
		}
	}
	/* an empty feed and the other stream's finish change nothing */
	sdcpp_parse_feed(p, s, "", 0);
	sdcpp_parse_finish(p, s == SDCPP_STDOUT ? SDCPP_STDERR : SDCPP_STDOUT);
	sdcpp_parse_finish(p, s);
	check_state(sdcpp_parse_state(p));
	st = *sdcpp_parse_state(p);
	sdcpp_parse_free(p);
	return st;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct log a, b;
	struct sdcpp_parse_state sa, sb;
	int batch;
	enum sdcpp_stream s;

	if (size < 1)
		return 0;
	batch = (data[0] & 7) - 1; /* -1 .. 6 */
	s = (data[0] & 8) ? SDCPP_STDERR : SDCPP_STDOUT;
	sa = run(data + 1, size - 1, batch, s, 0, &a);
	sb = run(data + 1, size - 1, batch, s, 1u + data[0], &b);
	FUZZ_CHECK(a.n == b.n);
	FUZZ_CHECK(a.hash == b.hash);
	FUZZ_CHECK(sa.phase == sb.phase && sa.image == sb.image && sa.batch == sb.batch &&
	           sa.step == sb.step && sa.steps == sb.steps && sa.n_errors == sb.n_errors &&
	           sa.n_saved == sb.n_saved && sa.bytes == sb.bytes &&
	           strcmp(sa.unit, sb.unit) == 0);
	FUZZ_CHECK(sa.bytes == (int64_t)(size - 1));
	return 0;
}

FUZZ_REPLAY_MAIN("sdcpp")
