/*
 * notify.c: notifications through the terminal (a bell, OSC 9 or OSC 777),
 * at most one per batch of jobs. The dashboard calls notify_step whenever
 * the store changed; the watcher keeps the ids of every job seen live since
 * the batch began and, once none is live, sends one notification summing up
 * how they ended. `sdq wait --notify` sends one for the jobs it waited for.
 */
#include "notify.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "osc52.h"
#include "store.h"
#include "text.h"
#include "util.h"

#define ESC "\033"
#define BEL "\007"

/* How many live jobs one look reads, and how many ids a batch remembers (a
 * bigger batch is still one notification; its summary counts these). */
#define NOTIFY_LIVE_MAX 1000
#define NOTIFY_BATCH_MAX 10000

static const char *const mode_names[] = {
    [NOTIFY_OFF] = "off",       [NOTIFY_BELL] = "bell", [NOTIFY_OSC9] = "osc9",
    [NOTIFY_OSC777] = "osc777", [NOTIFY_ON] = "on",
};

int notify_mode_parse(const char *s, enum notify_mode *out)
{
	for (size_t i = 0; s && i < sizeof mode_names / sizeof mode_names[0]; i++)
		if (strcmp(s, mode_names[i]) == 0) {
			*out = (enum notify_mode)i;
			return 0;
		}
	return -1;
}

static int env_is(const char *name, const char *value)
{
	const char *v = getenv(name);
	return v && strcmp(v, value) == 0;
}

static int env_starts(const char *name, const char *prefix)
{
	const char *v = getenv(name);
	return v && *v && strncmp(v, prefix, strlen(prefix)) == 0;
}

enum notify_mode notify_pick(enum notify_mode m)
{
	if (m != NOTIFY_ON)
		return m;
	/* OSC 777 ("notify;title;body") where it is known to work */
	if (env_is("TERM_PROGRAM", "WezTerm") || env_is("TERM_PROGRAM", "ghostty") ||
	    env_starts("TERM", "foot") || env_starts("TERM", "rxvt-unicode") ||
	    env_starts("VTE_VERSION", ""))
		return NOTIFY_OSC777;
	if (env_is("TERM_PROGRAM", "Apple_Terminal") || env_is("TERM", "linux"))
		return NOTIFY_BELL;
	/* iTerm2, kitty, Windows Terminal, ConEmu and most others */
	return NOTIFY_OSC9;
}

char *notify_clean(const char *s, size_t max)
{
	char *c = text_sanitize_str(s, TEXT_NEWLINE_SPACE | TEXT_TABS_TO_SPACES);
	size_t n = 0, len;

	if (!c)
		return NULL;
	for (char *p = c; *p; p++)
		if (*p == ';')
			*p = ',';
	len = strlen(c);
	while (n < len) {
		uint32_t cp;
		size_t k = text_utf8_decode((const unsigned char *)c + n, len - n, &cp);

		if (k == 0 || n + k > max)
			break;
		n += k;
	}
	c[n] = 0;
	return c;
}

char *notify_build(enum notify_mode m, const char *title, const char *body, size_t *len)
{
	struct util_buf b = {0};
	char *t = NULL, *d = NULL, *seq = NULL, *w = NULL;
	size_t wl = 0;

	m = notify_pick(m);
	util_buf_put(&b, "", 0);
	if (m != NOTIFY_OFF)
		util_buf_put(&b, BEL, 1);
	if (m == NOTIFY_OSC9 || m == NOTIFY_OSC777) {
		t = notify_clean(title, NOTIFY_TEXT_MAX / 4);
		d = notify_clean(body, NOTIFY_TEXT_MAX);
		if (t && d && m == NOTIFY_OSC9)
			/* "9;N;..." is a ConEmu command when the text starts with a
			 * digit: a title, never empty, goes first */
			seq = util_asprintf(ESC "]9;%s: %s" ESC "\\", *t ? t : "sdq", d);
		else if (t && d)
			seq = util_asprintf(ESC "]777;notify;%s;%s" ESC "\\", *t ? t : "sdq", d);
		if (seq && (w = osc52_passthrough(seq, strlen(seq), &wl)))
			util_buf_put(&b, w, wl);
		else
			b.oom = 1;
	}
	free(t);
	free(d);
	free(seq);
	free(w);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	*len = b.len;
	return b.p;
}

int notify_send(int fd, enum notify_mode m, const char *title, const char *body)
{
	size_t n = 0;
	char *seq = notify_build(m, title, body, &n);
	int rc;

	if (!seq)
		return -1;
	rc = n ? util_write_all(fd, seq, n) : 0;
	free(seq);
	return rc < 0 ? -1 : 0;
}

struct notify {
	enum notify_mode mode; /* what "on" sends */
	int on;
	int64_t *ids; /* the batch: every job seen live since it began */
	size_t n, cap;
	int64_t *told; /* the last batch told (its jobs are not the next one's) */
	size_t ntold;
	int64_t start_ms; /* when the batch began (the look before it was seen) */
	int64_t prev_ms;  /* the last look (wall clock, as job times); 0: none yet */
	int64_t origin_ms; /* the first look: what ended by then is never told */
};

struct notify *notify_new(enum notify_mode mode)

{
	struct notify *n = calloc(1, sizeof *n);

	if (!n)
		return NULL;
	n->on = mode != NOTIFY_OFF;
	n->mode = mode != NOTIFY_OFF ? mode : NOTIFY_ON;
	return n;
}

struct notify *notify_new_config(const char *value)
{
	enum notify_mode m = NOTIFY_OFF;

	if (notify_mode_parse(value, &m) < 0)
		m = NOTIFY_OFF;
	return notify_new(m);
}

void notify_free(struct notify *n)
{
	if (!n)
		return;
	free(n->ids);
	free(n->told);
	free(n);
}

const char *notify_toggle(struct notify *n)
{
	if (!n)
		return "notifications are not available (out of memory)";
	n->on = !n->on;
	return n->on ? "notifications on: a bell and a desktop notification when the jobs are done"
	             : "notifications off";
}

int notify_enabled(const struct notify *n)
{
	return n && n->on;
}

/* Add id to the batch unless it is there (or the batch is full). */
static void batch_add(struct notify *n, int64_t id)
{
	for (size_t i = 0; i < n->n; i++)
		if (n->ids[i] == id)
			return;
	if (n->n == n->cap) {
		size_t cap = n->cap ? n->cap * 2 : 16;
		int64_t *p;

		if (cap > NOTIFY_BATCH_MAX || !(p = realloc(n->ids, cap * sizeof *p)))
			return;
		n->ids = p;
		n->cap = cap;
	}
	n->ids[n->n++] = id;
}

/* Was job id in the batch told last (it may have ended in the same
 * millisecond as the look that told it)? */
static int was_told(const struct notify *n, int64_t id)
{
	for (size_t i = 0; i < n->ntold; i++)
		if (n->told[i] == id)
			return 1;
	return 0;
}

/* Add to the batch the jobs that finished since from_ms without ever being
 * seen live (quicker than the looks): they were created after from_ms, so
 * the newest jobs are read until one is older. */
struct unseen {
	struct notify *n;
	int64_t from_ms;
};

/* store_job_walk: the first job created before from_ms ends the walk */
static int unseen_job(const struct job *j, void *udata)
{
	struct unseen *u = udata;

	if (j->created_at < u->from_ms)
		return -1;
	if (job_state_is_terminal(j->state) && j->finished_at >= u->from_ms &&
	    j->finished_at > u->n->origin_ms && !was_told(u->n, j->id))
		batch_add(u->n, j->id);
	return 1;
}

static void add_unseen(struct notify *n, struct store *st, int64_t from_ms)
{
	struct store_query q = {0};
	struct unseen u = {n, from_ms};

	store_job_walk(st, &q, NOTIFY_LIVE_MAX, unseen_job, &u, NULL);
}

int notify_step(struct notify *n, struct store *st, int fd)
{
	struct store_query q = {0};
	struct job **live = NULL;
	size_t nl = 0;
	char body[512];
	int sent = 0;
	int64_t now = job_now_ms();

	if (!n || !st)
		return 0;
	if (!n->on) { /* off costs nothing; on again, the next look starts afresh */
		n->n = 0;
		n->prev_ms = 0;
		return 0;
	}
	if (!n->prev_ms) /* the first look: what ended by now is not told */
		n->prev_ms = n->origin_ms = now;
	q.live_only = 1;
	q.limit = NOTIFY_LIVE_MAX;
	if (store_job_list(st, &q, &live, &nl, NULL) < 0)
		return 0;
	if (nl && !n->n)
		n->start_ms = n->prev_ms;
	for (size_t i = 0; i < nl; i++)
		batch_add(n, live[i]->id);
	store_jobs_free(live, nl);
	if (nl == 0) {
		/* the batch ended, or jobs came and went between two looks */
		add_unseen(n, st, n->n ? n->start_ms : n->prev_ms);
		if (n->n) {
			int64_t *t = realloc(n->told, n->n * sizeof *t);

			notify_summary(st, n->ids, n->n, body, sizeof body);
			sent = notify_send(fd, n->mode, "sdq", body) == 0;
			if (t) { /* the batch becomes the told list */
				memcpy(t, n->ids, n->n * sizeof *t);
				n->told = t;
				n->ntold = n->n;
			}
		}
		n->n = 0;
	}
	n->prev_ms = now;
	return sent;
}

void notify_summary(struct store *st, const int64_t *ids, size_t n, char *buf, size_t len)
{
	size_t count[JOB_STATE_COUNT] = {0}, total = 0, w;
	struct job *one = NULL;

	for (size_t i = 0; i < n; i++) {
		struct job *j = store_job_get(st, ids[i], NULL);

		if (!j)
			continue;
		count[j->state]++;
		total++;
		if (total == 1 && n == 1)
			one = j;
		else
			job_free(j);
	}
	if (one) {
		snprintf(buf, len, "job %lld %s: %s", (long long)one->id,
		         job_state_name(one->state), one->params.prompt ? one->params.prompt : "");
		job_free(one);
		return;
	}
	w = (size_t)snprintf(buf, len, "%zu job%s:", total, total == 1 ? "" : "s");
	for (int s = 0, first = 1; s < JOB_STATE_COUNT && w < len; s++) {
		if (!count[s])
			continue;
		w += (size_t)snprintf(buf + w, len - w, "%s %zu %s", first ? "" : ",", count[s],
		                      job_state_name((enum job_state)s));
		first = 0;
	}
	if (total == 0)
		snprintf(buf, len, "jobs finished");
}
