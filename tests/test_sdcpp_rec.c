/*
 * test_sdcpp_rec.c: the local backend against what the real sd-cli printed.
 *
 * tests/fixtures/sdcpp-real-*.rec are runs of the real stable-diffusion.cpp
 * sd-cli (snapshot 97d2990, CPU) with the zero-weight SDXS model of
 * shared/tools/sd-zero-model, recorded by tests/record-sd-cli: every chunk
 * as it came, on which stream, when. One table below says, for each, what
 * the parser must make of it; every case is checked three ways:
 *
 * 1. the recording itself, fed chunk by chunk as the loop would: the phases
 *    in order, the progress texts, a fraction that never goes back, the
 *    cause of a failure in a user's words;
 * 2. tests/fake-sd-cli run with the recorded argv: the same lines in the
 *    same order on the same streams (numbers with a decimal point, which
 *    are timings, and how often a bar was redrawn aside), and the same
 *    checks as 1 on its output;
 * 3. with SDQ_TEST_SD_CLI and SDQ_TEST_SD_MODEL set, the real binary itself
 *    through a real engine (a job, its progress, its errors); skipped, and
 *    saying so, otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "th.h"
#include "child.h"
#include "config.h"
#include "engine.h"
#include "job.h"
#include "sdcpp.h"
#include "store.h"
#include "util.h"

static char tests_dir[4096];

/* ------------------------------------------------------------------------ */
/* recordings */

struct chunk {
	int64_t ms;
	enum sdcpp_stream stream;
	char *data;
	size_t len;
};

struct recording {
	char argv_line[4096]; /* "# argv: ..." without the prefix */
	char end[32];         /* "exit N" or "signal N" */
	struct chunk *c;
	size_t n;
};

static void recording_free(struct recording *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->c[i].data);
	free(r->c);
	memset(r, 0, sizeof *r);
}

static int hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Undo record-sd-cli's escapes in place; returns the length. */
static size_t unescape(char *s)
{
	size_t o = 0;
	for (size_t i = 0; s[i]; i++) {
		if (s[i] != '\\' || !s[i + 1]) {
			s[o++] = s[i];
			continue;
		}
		char n = s[++i];
		if (n == 'r')
			s[o++] = '\r';
		else if (n == 'n')
			s[o++] = '\n';
		else if (n == 't')
			s[o++] = '\t';
		else if (n == 'e')
			s[o++] = 0x1b;
		else if (n == 'x' && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			s[o++] = (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
		} else
			s[o++] = n;
	}
	return o;
}

static int recording_load(const char *name, struct recording *r)
{
	char path[4300];
	memset(r, 0, sizeof *r);
	snprintf(path, sizeof path, "%s/fixtures/sdcpp-real-%s.rec", tests_dir, name);
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "  cannot read %s\n", path);
		return -1;
	}
	static char line[1 << 16];
	size_t cap = 0;
	while (fgets(line, sizeof line, f)) {
		size_t l = strlen(line);
		if (l && line[l - 1] == '\n')
			line[--l] = 0;
		if (strncmp(line, "# argv: ", 8) == 0) {
			snprintf(r->argv_line, sizeof r->argv_line, "%.4095s", line + 8);
			continue;
		}
		if (line[0] == '#') {
			snprintf(r->end, sizeof r->end, "%.31s", line + 2);
			continue;
		}
		/* "<ms> <fd> <data>": exactly one space before the data, which may
		 * itself start with spaces */
		char *sp1 = strchr(line, ' ');
		char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
		if (!sp2)
			continue;
		long long ms = strtoll(line, NULL, 10);
		int fd = atoi(sp1 + 1);
		int off = (int)(sp2 + 1 - line);
		if (r->n == cap) {
			cap = cap ? cap * 2 : 64;
			r->c = realloc(r->c, cap * sizeof *r->c);
		}
		struct chunk *c = &r->c[r->n++];
		c->ms = ms;
		c->stream = fd == 2 ? SDCPP_STDERR : SDCPP_STDOUT;
		c->data = strdup(line + off);
		c->len = unescape(c->data);
	}
	fclose(f);
	return 0;
}

/* Split the recorded argv line into words (single quotes group). */
static int split_argv(const char *s, char **av, int max)
{
	int n = 0;
	while (*s && n < max - 1) {
		while (*s == ' ')
			s++;
		if (!*s)
			break;
		char buf[1024];
		size_t k = 0;
		if (*s == '\'') {
			s++;
			while (*s && *s != '\'' && k < sizeof buf - 1)
				buf[k++] = *s++;
			if (*s == '\'')
				s++;
		} else {
			while (*s && *s != ' ' && k < sizeof buf - 1)
				buf[k++] = *s++;
		}
		buf[k] = 0;
		av[n++] = strdup(buf);
	}
	av[n] = NULL;
	return n;
}

/* ------------------------------------------------------------------------ */
/* what the parser makes of a stream of chunks */

struct tokens {
	char *s[2]; /* per stream: normalised lines and bars, one per line */
	size_t len[2];
	char last[2][256];
};

static void tok_add(struct tokens *t, int s, const char *tok)
{
	if (strcmp(t->last[s], tok) == 0)
		return; /* a bar redrawn: how often differs from run to run */
	snprintf(t->last[s], sizeof t->last[s], "%s", tok);
	size_t l = strlen(tok);
	t->s[s] = realloc(t->s[s], t->len[s] + l + 2);
	memcpy(t->s[s] + t->len[s], tok, l);
	t->len[s] += l;
	t->s[s][t->len[s]++] = '\n';
	t->s[s][t->len[s]] = 0;
}

/* A line with every number holding a '.' (timings, sizes) made "#", and
 * sd-cli's own path in its usage made "SD". */
static void normalise(const char *in, char *out, size_t cap)
{
	size_t o = 0;
	if (strncmp(in, "Usage: ", 7) == 0 && strstr(in, " [options]")) {
		snprintf(out, cap, "Usage: SD%s", strstr(in, " [options]"));
		return;
	}
	for (size_t i = 0; in[i] && o + 2 < cap;) {
		if (in[i] >= '0' && in[i] <= '9') {
			size_t j = i;
			int dot = 0;
			while ((in[j] >= '0' && in[j] <= '9') || (in[j] == '.' && in[j + 1] >= '0' &&
			                                            in[j + 1] <= '9' && (dot = 1)))
				j++;
			if (dot) {
				out[o++] = '#';
			} else {
				for (size_t k = i; k < j && o + 2 < cap; k++)
					out[o++] = in[k];
			}
			i = j;
			continue;
		}
		out[o++] = in[i++];
	}
	out[o] = 0;
}

struct outcome {
	struct tokens tok;
	char phases[256];    /* "loading>encoding the prompt>..." */
	char texts[8192];    /* every distinct state text, '|'-separated */
	int backwards;       /* the fraction went down */
	int out_of_range;    /* a fraction above 1 */
	int loading_after;   /* a bare "loading" text once the prompt was being encoded */
	int sampling_after;  /* a "sampling" text once decoding had started */
	struct sdcpp_parse_state st;
};

static void outcome_cb(const struct sdcpp_parse_event *ev, void *udata)
{
	struct outcome *o = udata;
	char tok[SDCPP_LINE_MAX + 64], norm[SDCPP_LINE_MAX + 64];
	if (ev->type == SDCPP_EV_LINE) {
		normalise(ev->text, norm, sizeof norm);
		snprintf(tok, sizeof tok, "%s", norm);
		tok_add(&o->tok, ev->stream, tok);
	} else if (ev->type == SDCPP_EV_PROGRESS) {
		snprintf(tok, sizeof tok, "BAR%s /%d", ev->load ? "#" : "=", ev->steps);
		tok_add(&o->tok, ev->stream, tok);
	}
}

static void outcome_free(struct outcome *o)
{
	free(o->tok.s[0]);
	free(o->tok.s[1]);
}

/* After each chunk: the state as the job would show it. */
static void observe(struct outcome *o, const struct sdcpp_parse_state *st, double *last_f,
                    int *last_phase)
{
	char text[160];
	sdcpp_parse_state_text(st, text, sizeof text);
	if (st->fraction < *last_f)
		o->backwards = 1;
	if (st->fraction > 1)
		o->out_of_range = 1;
	*last_f = st->fraction;
	if ((int)st->phase != *last_phase && st->phase != SDCPP_PHASE_STARTING) {
		size_t l = strlen(o->phases);
		snprintf(o->phases + l, sizeof o->phases - l, "%s%s", l ? ">" : "",
		         sdcpp_parse_phase_name(st->phase));
		*last_phase = (int)st->phase;
	}
	if (st->phase >= SDCPP_PHASE_ENCODING && strncmp(text, "loading", 7) == 0)
		o->loading_after = 1;
	if (st->phase >= SDCPP_PHASE_DECODING && strncmp(text, "sampling", 8) == 0)
		o->sampling_after = 1;
	const char *prev = strrchr(o->texts, '|');
	prev = prev ? prev + 1 : o->texts;
	if (strcmp(prev, text) != 0) {
		size_t l = strlen(o->texts);
		snprintf(o->texts + l, sizeof o->texts - l, "%s%s", l ? "|" : "", text);
	}
}

/* The chunks cut into single bytes (pointing into c): what is seen after
 * each byte does not depend on how the bytes happened to be read. */
static struct chunk *to_bytes(const struct chunk *c, size_t n, size_t *nb)
{
	size_t total = 0;
	for (size_t k = 0; k < n; k++)
		total += c[k].len;
	struct chunk *bytes = calloc(total ? total : 1, sizeof *bytes);
	*nb = 0;
	for (size_t k = 0; k < n; k++)
		for (size_t b = 0; b < c[k].len; b++) {
			bytes[*nb].stream = c[k].stream;
			bytes[*nb].data = c[k].data + b;
			bytes[(*nb)++].len = 1;
		}
	return bytes;
}

static void parse_chunks(const struct chunk *c, size_t n, int batch, struct outcome *o)
{
	memset(o, 0, sizeof *o);
	struct sdcpp_parse *p = sdcpp_parse_new(batch, outcome_cb, o);
	double last_f = -1;
	int last_phase = SDCPP_PHASE_STARTING;
	for (size_t i = 0; i < n; i++) {
		sdcpp_parse_feed(p, c[i].stream, c[i].data, c[i].len);
		observe(o, sdcpp_parse_state(p), &last_f, &last_phase);
	}
	sdcpp_parse_finish(p, SDCPP_STDOUT);
	sdcpp_parse_finish(p, SDCPP_STDERR);
	observe(o, sdcpp_parse_state(p), &last_f, &last_phase);
	o->st = *sdcpp_parse_state(p);
	sdcpp_parse_free(p);
}

/* ------------------------------------------------------------------------ */
/* the table */

static const struct rcase {
	const char *name; /* tests/fixtures/sdcpp-real-NAME.rec */
	int batch;
	const char *phases; /* the phases the state went through, in order */
	const char *texts;  /* texts that must be seen in this order ('|'), each a prefix;
	                       only states that last (a pause follows), since what is
	                       seen depends on how the bytes were chunked */
	const char *cause;  /* sdcpp_parse_cause_text for exe "sd-cli" ("" none) */
	int saved;
	const char *end;
} cases[] = {
    {"one", 1, "loading>encoding the prompt>sampling>decoding>saving>done",
     "loading|encoding the prompt: loading weights|encoding the prompt|sampling: loading "
     "weights|sampling step 1/2|decoding|saving|done",
     "", 1, "exit 0"},
    {"batch2", 2, "loading>encoding the prompt>sampling>decoding>saving>done",
     "loading|encoding the prompt: loading weights|encoding the prompt|sampling 1/2: loading "
     "weights|sampling 1/2 step 1/2|sampling 2/2|sampling 2/2 step 1/2|decoding|saving|done",
     "", 2, "exit 0"},
    {"tiling", 1, "loading>encoding the prompt>sampling>decoding>saving>done",
     "loading|encoding the prompt: loading weights|sampling: loading weights|decoding|"
     "decoding tile|saving|done",
     "", 1, "exit 0"},
    {"missing", 1, "loading", "loading", "model file not found: missing.safetensors", 0,
     "exit 1"},
    {"empty", 1, "loading", "loading", "not a model file (unknown format): empty.safetensors", 0,
     "exit 1"},
    {"garbage", 1, "loading", "loading",
     "not a model file (unknown format): garbage.safetensors", 0, "exit 1"},
    {"badarg", 1, "", "", "sd-cli does not know --bogus (check extra_args)", 0, "exit 1"},
    {"stepsabc", 1, "", "", "sd-cli crashed: std::invalid_argument: stoi (check extra_args)", 0,
     "signal 6"},
};

/* Each text of want ('|'-separated) is a prefix of a text in seen, in order. */
static int texts_in_order(const char *want, const char *seen)
{
	char w[4096];
	snprintf(w, sizeof w, "%s", want);
	const char *at = seen;
	for (char *t = strtok(w, "|"); t; t = strtok(NULL, "|")) {
		const char *hit = NULL;
		for (const char *s = at; s && *s;) {
			if (strncmp(s, t, strlen(t)) == 0) {
				hit = s;
				break;
			}
			s = strchr(s, '|');
			s = s ? s + 1 : NULL;
		}
		if (!hit) {
			fprintf(stderr, "  text \"%s\" not seen (in order) in: %s\n", t, seen);
			return 0;
		}
		at = strchr(hit, '|');
		at = at ? at + 1 : "";
	}
	return 1;
}

static void check_outcome(const struct rcase *k, const struct outcome *o, const char *what)
{
	char cause[512];
	sdcpp_parse_cause_text(&o->st, "sd-cli", cause, sizeof cause);
	int ok = 1;
	ok &= CHECK_STR(o->phases, k->phases);
	ok &= CHECK(texts_in_order(k->texts, o->texts));
	ok &= CHECK_INT(o->backwards, 0);
	ok &= CHECK_INT(o->out_of_range, 0);
	ok &= CHECK_INT(o->loading_after, 0);
	ok &= CHECK_INT(o->sampling_after, 0);
	ok &= CHECK_STR(cause, k->cause);
	ok &= CHECK_INT(o->st.n_saved, k->saved);
	if (k->saved)
		ok &= CHECK(o->st.fraction == 1.0);
	if (!ok)
		fprintf(stderr, "  (%s %s)\n", what, k->name);
}

static void test_recordings(void)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct recording r;
		if (!CHECK(recording_load(cases[i].name, &r) == 0))
			continue;
		CHECK_STR(r.end, cases[i].end);
		struct outcome o;
		parse_chunks(r.c, r.n, cases[i].batch, &o);
		check_outcome(&cases[i], &o, "recording");
		/* the same chunks fed one byte at a time give the same lines */
		size_t nb = 0;
		struct chunk *bytes = to_bytes(r.c, r.n, &nb);
		struct outcome o1;
		parse_chunks(bytes, nb, cases[i].batch, &o1);
		CHECK_STR(o1.tok.s[0] ? o1.tok.s[0] : "", o.tok.s[0] ? o.tok.s[0] : "");
		CHECK_STR(o1.tok.s[1] ? o1.tok.s[1] : "", o.tok.s[1] ? o.tok.s[1] : "");
		CHECK_STR(o1.phases, o.phases);
		free(bytes);
		outcome_free(&o1);
		outcome_free(&o);
		recording_free(&r);
	}
}

/* ------------------------------------------------------------------------ */
/* the fake, run with each recorded argv */

struct env {
	struct config *cfg;
	struct store *st;
	struct engine *e;
	char dir[4096];
};

static int env_open(struct env *v)
{
	char *err = NULL;
	char db[4200];
	memset(v, 0, sizeof *v);
	snprintf(v->dir, sizeof v->dir, "%s", th_tmpdir());
	v->cfg = config_new_defaults(&err);
	snprintf(db, sizeof db, "%s/history.db", v->dir);
	v->st = v->cfg ? store_open(db, &err) : NULL;
	v->e = v->st ? engine_new(v->cfg, v->st, &err) : NULL;
	if (!v->e) {
		fprintf(stderr, "  env: %s\n", err ? err : "?");
		free(err);
		return -1;
	}
	return 0;
}

static void env_close(struct env *v)
{
	engine_free(v->e);
	store_close(v->st);
	config_free(v->cfg);
}

struct capture {
	struct chunk *c;
	size_t n, cap;
	int done;
	struct child_exit x;
	int64_t t0;
};

static void cap_output(struct child *ch, enum child_stream s, const char *buf, size_t n,
                       void *udata)
{
	struct capture *cp = udata;
	if (!buf)
		return;
	if (cp->n == cp->cap) {
		cp->cap = cp->cap ? cp->cap * 2 : 64;
		cp->c = realloc(cp->c, cp->cap * sizeof *cp->c);
	}
	struct chunk *c = &cp->c[cp->n++];
	c->ms = util_now_ms() - cp->t0;
	c->stream = s == CHILD_STDERR ? SDCPP_STDERR : SDCPP_STDOUT;
	c->data = malloc(n);
	memcpy(c->data, buf, n);
	c->len = n;
}

static void cap_exit(struct child *ch, const struct child_exit *x, void *udata)
{
	struct capture *cp = udata;
	cp->x = *x;
	cp->done = 1;
}

static void write_text(const char *path, const char *s)
{
	FILE *f = fopen(path, "wb");
	if (f) {
		fputs(s, f);
		fclose(f);
	}
}

static void test_fake_matches_recordings(void)
{
	struct env v;
	if (env_open(&v) < 0)
		return;
	char path[4300], fake[4300];
	snprintf(path, sizeof path, "%s/model.safetensors", v.dir);
	th_write_model(path);
	snprintf(path, sizeof path, "%s/empty.safetensors", v.dir);
	write_text(path, "");
	snprintf(path, sizeof path, "%s/garbage.safetensors", v.dir);
	write_text(path, "this is not a model\n");
	snprintf(fake, sizeof fake, "%s/fake-sd-cli", tests_dir);
	setenv("FAKE_SD_TIME_SCALE", "0.001", 1);
	unsetenv("FAKE_SD_STEP_DELAY");
	unsetenv("FAKE_SD_FLAGS");
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const struct rcase *k = &cases[i];
		struct recording r;
		if (!CHECK(recording_load(k->name, &r) == 0))
			continue;
		char *av[64];
		int ac = split_argv(r.argv_line, av, 64);
		if (!CHECK(ac > 1)) {
			recording_free(&r);
			continue;
		}
		free(av[0]);
		av[0] = strdup(fake);
		struct capture cp;
		memset(&cp, 0, sizeof cp);
		cp.t0 = util_now_ms();
		struct child_opts co;
		memset(&co, 0, sizeof co);
		co.argv = av;
		co.dir = v.dir;
		co.timeout_ms = 60000;
		co.on_output = cap_output;
		co.on_exit = cap_exit;
		co.udata = &cp;
		char *err = NULL;
		struct child *ch = child_spawn(v.e, &co, &err);
		if (!CHECK(ch))
			fprintf(stderr, "  spawn: %s\n", err ? err : "?");
		free(err);
		for (int t = 0; ch && t < 1200 && !cp.done; t++)
			engine_step(v.e, 50);
		CHECK(cp.done);
		char end[32];
		snprintf(end, sizeof end, cp.x.signo ? "signal %d" : "exit %d",
		         cp.x.signo ? cp.x.signo : cp.x.code);
		CHECK_STR(end, k->end);
		/* byte by byte: how the fake's output was chunked on a loaded
		 * machine must not matter */
		struct outcome real, fk;
		size_t nb = 0;
		struct chunk *bytes = to_bytes(cp.c, cp.n, &nb);
		parse_chunks(r.c, r.n, k->batch, &real);
		parse_chunks(bytes, nb, k->batch, &fk);
		free(bytes);
		check_outcome(k, &fk, "fake");
		for (int s = 0; s < 2; s++) {
			const char *a = real.tok.s[s] ? real.tok.s[s] : "";
			const char *b = fk.tok.s[s] ? fk.tok.s[s] : "";
			if (!CHECK(strcmp(a, b) == 0)) {
				/* show the first line that differs */
				size_t at = 0;
				while (a[at] && a[at] == b[at])
					at++;
				while (at > 0 && a[at - 1] != '\n')
					at--;
				fprintf(stderr, "  %s, %s: real | fake differ at\n    real: %.200s\n    fake: %.200s\n",
				        k->name, s ? "stderr" : "stdout", a + at, b + at);
			}
		}
		outcome_free(&real);
		outcome_free(&fk);
		child_free(ch);
		for (size_t c = 0; c < cp.n; c++)
			free(cp.c[c].data);
		free(cp.c);
		for (int a = 0; a < ac; a++)
			free(av[a]);
		recording_free(&r);
	}
	env_close(&v);
}

/* ------------------------------------------------------------------------ */
/* the real binary, when there is one */

struct jobwatch {
	int64_t id;
	double last;
	int backwards;
	char texts[4096];
};

static void watch_cb(struct engine *e, const struct engine_event *ev, void *udata)
{
	struct jobwatch *w = udata;
	if (ev->type != ENGINE_EV_JOB || ev->job_id != w->id)
		return;
	const struct job *j = engine_job(e, ev->job_id);
	if (!j || j->state != JOB_IN_PROGRESS)
		return;
	if (j->progress >= 0 && j->progress < w->last)
		w->backwards = 1;
	if (j->progress >= 0)
		w->last = j->progress;
	if (j->progress_text) {
		const char *prev = strrchr(w->texts, '|');
		prev = prev ? prev + 1 : w->texts;
		if (strcmp(prev, j->progress_text) != 0) {
			size_t l = strlen(w->texts);
			snprintf(w->texts + l, sizeof w->texts - l, "%s%s", l ? "|" : "",
			         j->progress_text);
		}
	}
}

/* One job through a real engine with [local "real"]; the job from the store. */
static struct job *real_job(const char *exe, const char *model, const char *extra, int count,
                            struct jobwatch *w)
{
	struct env v;
	if (env_open(&v) < 0)
		return NULL;
	char text[9000], *err = NULL;
	snprintf(text, sizeof text,
	         "[core]\n\tbackground_driver = false\n[local \"real\"]\n\texe = %s\n\tmodel = "
	         "%s\n\tthreads = 2\n%s%s%s",
	         exe, model, extra ? "\textra_args = " : "", extra ? extra : "", extra ? "\n" : "");
	if (!CHECK(config_parse(v.cfg, text, "test", &err) == 0)) {
		fprintf(stderr, "  config: %s\n", err ? err : "?");
		free(err);
		env_close(&v);
		return NULL;
	}
	memset(w, 0, sizeof *w);
	engine_set_callback(v.e, watch_cb, w);
	CHECK_INT(engine_drive(v.e, 1), 1);
	struct job_params p;
	job_params_init(&p);
	p.prompt = "a red fox";
	p.endpoint = "real";
	p.count = count;
	p.steps = 1;
	p.width = p.height = 64;
	p.seed = 42;
	w->id = engine_submit(v.e, &p, &err);
	if (!CHECK(w->id > 0))
		fprintf(stderr, "  submit: %s\n", err ? err : "?");
	free(err);
	struct job *j = NULL;
	int64_t end = util_now_ms() + 15 * 60 * 1000; /* a bound, for a loaded machine */
	while (w->id > 0 && util_now_ms() < end) {
		engine_step(v.e, 200);
		j = store_job_get(v.st, w->id, NULL);
		if (j && job_state_is_terminal(j->state))
			break;
		job_free(j);
		j = NULL;
	}
	if (!j && w->id > 0)
		j = store_job_get(v.st, w->id, NULL);
	env_close(&v);
	return j;
}

static void test_real_sd_cli(void)
{
	const char *exe = getenv("SDQ_TEST_SD_CLI"), *model = getenv("SDQ_TEST_SD_MODEL");
	if (!exe || !*exe || !model || !*model) {
		printf("test_real_sd_cli: skipped (set SDQ_TEST_SD_CLI to a real sd-cli and "
		       "SDQ_TEST_SD_MODEL to a model it runs, e.g. the zero model of "
		       "shared/tools/sd-zero-model)\n");
		return;
	}
	struct jobwatch w;
	int64_t t0 = util_now_ms();
	/* a batch of 2 with a tiled VAE: progress only forward, phases right */
	struct job *j = real_job(exe, model, "--vae-tiling --vae-tile-size 4x4", 2, &w);
	if (CHECK(j)) {
		printf("real: COMPLETED? %s in %.1f s; error: %s\nreal: texts: %s\n",
		       job_state_name(j->state), (util_now_ms() - t0) / 1000.0,
		       j->error ? j->error : "-", w.texts);
		CHECK_STR(job_state_name(j->state), "COMPLETED");
		CHECK_INT(j->n_outputs, 2);
		CHECK_INT(w.backwards, 0);
		CHECK(texts_in_order("encoding the prompt|sampling 1/2|sampling 2/2|decoding", w.texts));
		/* no bare "loading" once the prompt was being encoded (a lazy load
		 * shows inside its phase) */
		const char *enc = strstr(w.texts, "encoding the prompt");
		CHECK(enc && strstr(enc, "|loading") == NULL);
		job_free(j);
	}
	/* the failures, each with its cause */
	char empty[4200];
	snprintf(empty, sizeof empty, "%s/empty.safetensors", th_tmpdir());
	write_text(empty, "");
	static const struct {
		const char *model, *extra, *error;
	} fails[] = {
	    {NULL, "--bogus", "does not know --bogus"},
	    {NULL, "--steps abc", "crashed: std::invalid_argument: stoi (check extra_args)"},
	    {"/nonexistent/model.safetensors", NULL, "model file not found"},
	    {"", NULL, "model file is empty"},
	};
	for (size_t i = 0; i < sizeof fails / sizeof fails[0]; i++) {
		const char *m = fails[i].model ? (*fails[i].model ? fails[i].model : empty) : model;
		j = real_job(exe, m, fails[i].extra, 1, &w);
		if (!CHECK(j))
			continue;
		printf("real: %s -> %s: %s\n", fails[i].extra ? fails[i].extra : m,
		       job_state_name(j->state), j->error ? j->error : "-");
		CHECK_STR(job_state_name(j->state), "FAILED");
		CHECK(j->error && strstr(j->error, fails[i].error));
		job_free(j);
	}
}

int main(void)
{
	const char *td = getenv("SDQ_TESTS_DIR");
	if (!td || !*td)
		td = "tests";
	if (!realpath(td, tests_dir))
		snprintf(tests_dir, sizeof tests_dir, "%s", td);
	signal(SIGPIPE, SIG_IGN);
	TH_RUN(test_recordings);
	TH_RUN(test_fake_matches_recordings);
	TH_RUN(test_real_sd_cli);
	return th_done("test_sdcpp_rec");
}
