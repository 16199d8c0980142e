/*
 * sdcpp_parse.c: what sd-cli prints, turned into events and a state (see
 * sdcpp_parse.h). Bytes are split into segments at \r, \n and \033[K; a
 * segment is a progress frame (possibly with a log line glued behind it) or
 * a text line, recognised by its message.
 */
#include "sdcpp_parse.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pstream {
	char line[SDCPP_LINE_MAX + 1];
	size_t len;
	int esc;        /* 0 text, 1 after ESC, 2 in CSI, 3 in OSC/DCS string */
	size_t esc_len; /* bytes of the current sequence, capped */
};

struct sdcpp_parse {
	struct sdcpp_parse_state st;
	int batch_hint;
	sdcpp_parse_cb cb;
	void *udata;
	struct pstream s[2];
	char path[SDCPP_LINE_MAX + 1]; /* scratch for SAVED events */
	int exc_pending;               /* "terminate called ..." seen, what() may follow */
};

static const char *const phase_names[] = {
    [SDCPP_PHASE_STARTING] = "starting",
    [SDCPP_PHASE_LOADING] = "loading",
    [SDCPP_PHASE_ENCODING] = "encoding the prompt",
    [SDCPP_PHASE_SAMPLING] = "sampling",
    [SDCPP_PHASE_DECODING] = "decoding",
    [SDCPP_PHASE_SAVING] = "saving",
    [SDCPP_PHASE_DONE] = "done",
};

const char *sdcpp_parse_phase_name(enum sdcpp_phase ph)
{
	if ((int)ph < 0 || ph > SDCPP_PHASE_DONE)
		return "unknown";
	return phase_names[ph];
}

struct sdcpp_parse *sdcpp_parse_new(int batch, sdcpp_parse_cb cb, void *udata)
{
	struct sdcpp_parse *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->batch_hint = batch > 0 ? batch : 1;
	p->st.batch = p->batch_hint;
	p->st.fraction = -1;
	p->cb = cb;
	p->udata = udata;
	return p;
}

void sdcpp_parse_free(struct sdcpp_parse *p)
{
	free(p);
}

const struct sdcpp_parse_state *sdcpp_parse_state(const struct sdcpp_parse *p)
{
	return &p->st;
}

/* The share of a loading bar done, 0..1 (0 when none is drawn). */
static double load_frac(const struct sdcpp_parse_state *st)
{
	if (!st->loading || st->load_steps <= 0)
		return 0;
	double f = (double)st->load_step / st->load_steps;
	return f < 0 ? 0 : f > 1 ? 1 : f;
}

/* The overall fraction: each phase owns a slice of 0..1 (see the header),
 * and the result never goes below what was reported before, so a lazy load
 * or a tile bar starting at 1/N never moves a progress bar back. */
static void update_fraction(struct sdcpp_parse_state *st)
{
	double f;
	switch (st->phase) {
	case SDCPP_PHASE_STARTING:
		return;
	case SDCPP_PHASE_LOADING:
		f = 0.03 * load_frac(st);
		break;
	case SDCPP_PHASE_ENCODING:
		f = 0.03 + 0.12 * 0.5 * load_frac(st);
		break;
	case SDCPP_PHASE_SAMPLING: {
		int b = st->batch > 0 ? st->batch : 1;
		int i = st->image > 0 ? st->image : 1;
		/* an image that loaded the diffusion model first gives the load
		 * the first 15 % of its share */
		double in = 0.15 * (st->loading ? load_frac(st) : st->img_loaded);
		if (st->steps > 0 && !st->loading) {
			double k = (double)st->step / st->steps;
			in = st->img_loaded ? 0.15 + 0.85 * k : k;
		}
		if (in > 1)
			in = 1;
		f = 0.15 + 0.75 * ((i - 1) + in) / b;
		break;
	}
	case SDCPP_PHASE_DECODING: {
		double sub = 0.5 * load_frac(st);
		if (st->steps > 0 && !st->loading)
			sub = 0.5 + 0.5 * (double)st->step / st->steps;
		if (st->latents > 0 && st->decoded > 0) {
			double d = 0.5 + 0.5 * (double)st->decoded / st->latents;
			if (d > sub)
				sub = d;
		}
		f = 0.90 + 0.07 * (sub > 1 ? 1 : sub);
		break;
	}
	case SDCPP_PHASE_SAVING: {
		int b = st->batch > 0 ? st->batch : 1;
		f = 0.97 + 0.03 * (st->n_saved < b ? (double)st->n_saved / b : 1);
		break;
	}
	default:
		f = 1;
		break;
	}
	if (f > 1)
		f = 1;
	if (f > st->fraction)
		st->fraction = f;
}

static void set_phase(struct sdcpp_parse_state *st, enum sdcpp_phase ph)
{
	if (st->phase == ph)
		return;
	st->phase = ph;
	st->step = st->steps = 0;
	st->speed = 0;
	st->unit[0] = 0;
}

/* Record a cause: a specific one replaces nothing or a generic [ERROR]; the
 * first specific one stays (it is the root, later lines are consequences). */
static void set_cause(struct sdcpp_parse_state *st, enum sdcpp_cause c, const char *arg,
                      size_t n)
{
	if (st->cause != SDCPP_CAUSE_NONE &&
	    !(st->cause == SDCPP_CAUSE_ERROR && c != SDCPP_CAUSE_ERROR))
		return;
	st->cause = c;
	if (n >= sizeof st->cause_arg)
		n = sizeof st->cause_arg - 1;
	memcpy(st->cause_arg, arg, n);
	st->cause_arg[n] = 0;
}

static void emit(struct sdcpp_parse *p, struct sdcpp_parse_event *ev)
{
	ev->phase = p->st.phase;
	if (p->cb)
		p->cb(ev, p->udata);
}

static const char *skip_ws(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

static int parse_uint(const char **sp, int *out)
{
	const char *s = *sp;
	long v = 0;
	if (!isdigit((unsigned char)*s))
		return -1;
	while (isdigit((unsigned char)*s)) {
		if (v < 100000000)
			v = v * 10 + (*s - '0');
		s++;
	}
	*out = (int)v;
	*sp = s;
	return 0;
}

/* A progress frame: "  |cells| k/N - 1.23s/it". Returns 1 and fills the
 * out-parameters, with *rest pointing past the frame (a log line glued to it,
 * or ""); 0 if line is not a frame. */
static int parse_bar(const char *line, int *step, int *steps, double *speed, char *unit,
                     int *hashes, const char **rest)
{
	static const char *const units[] = {"s/it", "it/s", "GB/s", "MB/s", "KB/s", "kB/s", "B/s"};
	const char *s = skip_ws(line);
	int h = 0;
	if (*s++ != '|')
		return 0;
	while (*s == '=' || *s == '>' || *s == '#' || *s == ' ' || *s == '-') {
		if (*s == '#')
			h++;
		s++;
	}
	if (*s++ != '|')
		return 0;
	s = skip_ws(s);
	if (parse_uint(&s, step) < 0 || *s++ != '/' || parse_uint(&s, steps) < 0)
		return 0;
	s = skip_ws(s);
	if (*s++ != '-')
		return 0;
	s = skip_ws(s);
	const char *num = s;
	while (isdigit((unsigned char)*s) || *s == '.')
		s++;
	if (s == num)
		return 0;
	char nbuf[32];
	size_t nl = (size_t)(s - num) < sizeof nbuf - 1 ? (size_t)(s - num) : sizeof nbuf - 1;
	memcpy(nbuf, num, nl);
	nbuf[nl] = 0;
	size_t i;
	for (i = 0; i < sizeof units / sizeof units[0]; i++)
		if (strncmp(s, units[i], strlen(units[i])) == 0)
			break;
	if (i == sizeof units / sizeof units[0])
		return 0;
	strcpy(unit, units[i]);
	s += strlen(units[i]);
	s = skip_ws(s);
	if (*s && *s != '[')
		return 0;
	*speed = strtod(nbuf, NULL);
	*hashes = h;
	*rest = s;
	return 1;
}

/* "[LEVEL] file:line - msg" (also the older "[INFO]  file:line - msg").
 * Returns the level name (static) and sets *msg, or NULL. */
static const char *parse_log(const char *line, const char **msg)
{
	static const char *const levels[] = {"DEBUG", "INFO", "WARN", "ERROR"};
	const char *s = line;
	if (*s++ != '[')
		return NULL;
	const char *lv = s;
	while (isupper((unsigned char)*s))
		s++;
	size_t n = (size_t)(s - lv);
	const char *level = NULL;
	for (size_t i = 0; i < 4; i++)
		if (n == strlen(levels[i]) && strncmp(lv, levels[i], n) == 0)
			level = levels[i];
	if (n == 7 && strncmp(lv, "WARNING", 7) == 0)
		level = "WARN";
	if (!level)
		return NULL;
	s = skip_ws(s);
	if (*s++ != ']')
		return NULL;
	s = skip_ws(s);
	/* file:line - ; if absent, the message is the rest */
	const char *f = s;
	while (*f && *f != ' ' && *f != ':')
		f++;
	if (*f == ':' && isdigit((unsigned char)f[1])) {
		f++;
		while (isdigit((unsigned char)*f))
			f++;
		f = skip_ws(f);
		if (*f == '-' && (f[1] == ' ' || f[1] == 0)) {
			*msg = f[1] ? f + 2 : f + 1;
			return level;
		}
	}
	*msg = s;
	return level;
}

/* Act on a progress frame. A loading bar (# cells, bytes/s) belongs to the
 * phase it appears in (weights load lazily); an = bar counts sampling steps,
 * or tiles once decoding has started. */
static void process_bar(struct sdcpp_parse *p, enum sdcpp_stream stream, int step, int steps,
                        double speed, const char *unit, int hashes)
{
	struct sdcpp_parse_state *st = &p->st;
	int load = strstr(unit, "B/s") != NULL || hashes > 0;
	if (load) {
		if (st->phase == SDCPP_PHASE_STARTING)
			set_phase(st, SDCPP_PHASE_LOADING);
		st->loading = 1;
		st->load_step = step;
		st->load_steps = steps;
		if (st->phase == SDCPP_PHASE_SAMPLING)
			st->img_loaded = 1;
	} else {
		if (st->phase != SDCPP_PHASE_DECODING && st->phase != SDCPP_PHASE_SAMPLING) {
			/* a build that says nothing before sampling */
			set_phase(st, SDCPP_PHASE_SAMPLING);
			if (st->image < 1)
				st->image = 1;
		}
		st->loading = 0;
		st->step = step;
		st->steps = steps;
		st->speed = speed;
		snprintf(st->unit, sizeof st->unit, "%s", unit);
	}
	update_fraction(st);
	struct sdcpp_parse_event ev = {.type = SDCPP_EV_PROGRESS,
	                               .stream = stream,
	                               .level = "",
	                               .step = step,
	                               .steps = steps,
	                               .speed = speed,
	                               .load = load,
	                               .unit = load ? unit : st->unit};
	emit(p, &ev);
}

/* Causes told by a line (see enum sdcpp_cause). */
static void find_cause(struct sdcpp_parse *p, enum sdcpp_stream stream, const char *level,
                       const char *line, const char *msg)
{
	struct sdcpp_parse_state *st = &p->st;
	const char *q, *e;
	size_t ml = strlen(msg);
	if (level && strcmp(level, "WARN") == 0) {
		if (strncmp(msg, "file ", 5) == 0 && ml > 15 &&
		    strcmp(msg + ml - 10, " not found") == 0)
			set_cause(st, SDCPP_CAUSE_MODEL_MISSING, msg + 5, ml - 15);
		else if (strncmp(msg, "unknown format ", 15) == 0)
			set_cause(st, SDCPP_CAUSE_MODEL_FORMAT, msg + 15, ml - 15);
		return;
	}
	if (level && strcmp(level, "ERROR") == 0) {
		const char *m = strncmp(msg, "error: ", 7) == 0 ? msg + 7 : msg;
		if (strncmp(m, "unknown argument: ", 18) == 0)
			set_cause(st, SDCPP_CAUSE_UNKNOWN_ARG, m + 18, strlen(m + 18));
		else if (m != msg)
			set_cause(st, SDCPP_CAUSE_BAD_ARGS, m, strlen(m));
		else
			set_cause(st, SDCPP_CAUSE_ERROR, msg, ml);
		return;
	}
	if (level && *level)
		return;
	/* not a log line: what the C++ runtime and ggml print as they abort */
	if ((q = strstr(line, "GGML_ASSERT")) || (q = strstr(line, "GGML_ABORT"))) {
		set_cause(st, SDCPP_CAUSE_ASSERT, q, strlen(q));
		return;
	}
	if (stream != SDCPP_STDERR)
		return;
	if ((q = strstr(line, "terminate called after throwing an instance of '")) &&
	    (e = strchr(q + 48, '\''))) {
		set_cause(st, SDCPP_CAUSE_EXCEPTION, q + 48, (size_t)(e - (q + 48)));
		p->exc_pending = st->cause == SDCPP_CAUSE_EXCEPTION;
		return;
	}
	if (strstr(line, "terminate called without an active exception")) {
		set_cause(st, SDCPP_CAUSE_EXCEPTION, "std::terminate", 14);
		return;
	}
	const char *w = line;
	while (*w == ' ' || *w == '\t')
		w++;
	if (p->exc_pending && strncmp(w, "what():", 7) == 0) {
		w += 7;
		while (*w == ' ' || *w == '\t')
			w++;
		size_t have = strlen(st->cause_arg);
		snprintf(st->cause_arg + have, sizeof st->cause_arg - have, ": %s", w);
		p->exc_pending = 0;
	}
}

static void process_line(struct sdcpp_parse *p, enum sdcpp_stream stream, const char *line)
{
	struct sdcpp_parse_state *st = &p->st;
	int step, steps, hashes;
	double speed;
	char unit[8];
	const char *rest;
	enum sdcpp_phase old = st->phase;

	/* frames, possibly with more frames or a log line glued behind */
	while (parse_bar(line, &step, &steps, &speed, unit, &hashes, &rest)) {
		process_bar(p, stream, step, steps, speed, unit, hashes);
		if (st->phase != old) {
			struct sdcpp_parse_event pe = {
			    .type = SDCPP_EV_PHASE, .stream = stream, .level = ""};
			emit(p, &pe);
			old = st->phase;
		}
		if (!*rest)
			return;
		line = rest;
	}

	const char *msg = line;
	const char *level = parse_log(line, &msg);
	struct sdcpp_parse_event ev = {.type = SDCPP_EV_LINE,
	                         .stream = stream,
	                         .text = line,
	                         .level = level ? level : "",
	                         .msg = msg};
	struct sdcpp_parse_event sp = {.stream = stream, .text = line, .level = ev.level, .msg = msg};
	int special = 0;
	int a, b;
	long long seed;
	const char *q;
	char *path = p->path;

	if (strncmp(msg, "loading model from", 18) == 0 ||
	    strncmp(msg, "loading diffusion model from", 28) == 0) {
		if (st->phase == SDCPP_PHASE_STARTING)
			set_phase(st, SDCPP_PHASE_LOADING);
	} else if (strncmp(msg, "loading tensors completed", 25) == 0) {
		if (st->phase == SDCPP_PHASE_STARTING)
			set_phase(st, SDCPP_PHASE_LOADING);
		if (st->loading && st->load_steps > 0)
			st->load_step = st->load_steps;
		update_fraction(st); /* the whole slice of the load */
		st->loading = 0;
		st->load_step = st->load_steps = 0;
	} else if (strncmp(msg, "sampling using ", 15) == 0 ||
	           (strncmp(msg, "generate_image ", 15) == 0 &&
	            strncmp(msg + 15, "completed", 9) != 0) ||
	           strncmp(msg, "get_learned_condition", 21) == 0) {
		if (st->phase < SDCPP_PHASE_ENCODING)
			set_phase(st, SDCPP_PHASE_ENCODING);
	} else if (sscanf(msg, "generating image: %d/%d - seed %lld", &a, &b, &seed) == 3) {
		set_phase(st, SDCPP_PHASE_SAMPLING);
		if (b > 0)
			st->batch = b;
		st->image = a;
		if (st->image > st->batch)
			st->batch = st->image;
		st->step = st->steps = 0; /* no frame of this image yet */
		st->speed = 0;
		st->unit[0] = 0;
		st->loading = 0;
		st->img_loaded = 0;
		sp.type = SDCPP_EV_IMAGE;
		sp.image = a;
		sp.batch = st->batch;
		sp.seed = seed;
		special = 1;
	} else if (sscanf(msg, "decoding %d latent", &a) == 1) {
		set_phase(st, SDCPP_PHASE_DECODING);
		st->latents = a;
		st->loading = 0;
	} else if (strncmp(msg, "decoding ", 9) == 0 ||
	           strncmp(msg, "decode_first_stage", 18) == 0) {
		if (st->phase < SDCPP_PHASE_DECODING)
			set_phase(st, SDCPP_PHASE_DECODING);
	} else if (sscanf(msg, "latent %d decoded", &a) == 1) {
		if (st->phase < SDCPP_PHASE_DECODING)
			set_phase(st, SDCPP_PHASE_DECODING);
		st->decoded = a;
	} else if (strncmp(msg, "generate_image completed", 24) == 0) {
		set_phase(st, SDCPP_PHASE_SAVING);
	} else if (sscanf(msg, "save result image %d to '", &a) == 1 &&
	           (q = strstr(msg, " to '"))) {
		/* the path may itself hold "' (success)": the line must end with it */
		size_t ml = strlen(msg);
		set_phase(st, SDCPP_PHASE_SAVING);
		if (ml >= 11 && strcmp(msg + ml - 11, "' (success)") == 0 &&
		    msg + ml - 11 >= q + 5) {
			size_t n = (size_t)(msg + ml - 11 - (q + 5));
			memcpy(path, q + 5, n);
			path[n] = 0;
			st->n_saved++;
			sp.type = SDCPP_EV_SAVED;
			sp.index = a;
			sp.path = path;
			special = 1;
		}
	} else if (sscanf(msg, "%d/%d images saved", &a, &b) == 2) {
		set_phase(st, SDCPP_PHASE_DONE);
	}
	if (level && strcmp(level, "ERROR") == 0)
		st->n_errors++;
	find_cause(p, stream, level, line, msg);
	update_fraction(st);
	emit(p, &ev);
	if (level && strcmp(level, "ERROR") == 0) {
		struct sdcpp_parse_event ee = {.type = SDCPP_EV_ERROR,
		                         .stream = stream,
		                         .text = line,
		                         .level = level,
		                         .msg = msg};
		emit(p, &ee);
	}
	if (st->phase != old) {
		struct sdcpp_parse_event pe = {.type = SDCPP_EV_PHASE, .stream = stream, .level = ""};
		emit(p, &pe);
	}
	if (special)
		emit(p, &sp);
}

static void end_segment(struct sdcpp_parse *p, enum sdcpp_stream stream)
{
	struct pstream *ps = &p->s[stream];
	if (ps->len == 0)
		return;
	ps->line[ps->len < SDCPP_LINE_MAX ? ps->len : SDCPP_LINE_MAX] = 0;
	ps->len = 0;
	/* all blank: nothing to report */
	const char *t = skip_ws(ps->line);
	if (*t)
		process_line(p, stream, ps->line);
}

void sdcpp_parse_feed(struct sdcpp_parse *p, enum sdcpp_stream stream, const char *buf,
                       size_t len)
{
	if (!p || (stream != SDCPP_STDOUT && stream != SDCPP_STDERR))
		return;
	struct pstream *ps = &p->s[stream];
	p->st.bytes += (int64_t)len;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (ps->esc == 1) {
			ps->esc_len = 0;
			if (c == '[')
				ps->esc = 2;
			else if (c == ']' || c == 'P' || c == '_' || c == '^' || c == 'X')
				ps->esc = 3;
			else
				ps->esc = 0; /* a two-byte escape: dropped */
			continue;
		}
		if (ps->esc == 2) {
			if (c >= 0x40 && c <= 0x7e) {
				ps->esc = 0;
				if (c == 'K') /* erase line: the end of a frame */
					end_segment(p, stream);
			} else if (++ps->esc_len > 64 || c == '\n' || c == '\r' || c == 0x1b) {
				ps->esc = 0; /* malformed: give up on it */
				i--;         /* and look at this byte again as text */
			}
			continue;
		}
		if (ps->esc == 3) {
			if (c == 0x07 || ++ps->esc_len > 4096)
				ps->esc = 0;
			else if (c == 0x1b)
				ps->esc = 1; /* ST is ESC \ : the \ is dropped as a 2-byte escape */
			continue;
		}
		if (c == 0x1b) {
			ps->esc = 1;
			continue;
		}
		if (c == '\r' || c == '\n') {
			end_segment(p, stream);
			continue;
		}
		if (c < 0x20 && c != '\t')
			continue;
		if (c == 0x7f)
			continue;
		if (ps->len < SDCPP_LINE_MAX)
			ps->line[ps->len] = (char)c;
		if (ps->len <= SDCPP_LINE_MAX)
			ps->len++;
	}
}

void sdcpp_parse_finish(struct sdcpp_parse *p, enum sdcpp_stream stream)
{
	if (!p || (stream != SDCPP_STDOUT && stream != SDCPP_STDERR))
		return;
	p->s[stream].esc = 0;
	end_segment(p, stream);
}

char *sdcpp_parse_state_text(const struct sdcpp_parse_state *s, char *buf, size_t len)
{
	char where[48] = "", load[48] = "";
	if (!len)
		return buf;
	if (s->loading && s->load_steps > 0)
		snprintf(load, sizeof load, "loading weights %d/%d", s->load_step, s->load_steps);
	else if (s->loading)
		snprintf(load, sizeof load, "loading weights");
	switch (s->phase) {
	case SDCPP_PHASE_LOADING:
		snprintf(buf, len, "%s", *load ? load : "loading");
		break;
	case SDCPP_PHASE_ENCODING:
		snprintf(buf, len, "encoding the prompt%s%s", *load ? ": " : "", load);
		break;
	case SDCPP_PHASE_SAMPLING:
		if (s->batch > 1)
			snprintf(where, sizeof where, " %d/%d", s->image > 0 ? s->image : 1, s->batch);
		if (*load)
			snprintf(buf, len, "sampling%s: %s", where, load);
		else if (s->steps > 0)
			snprintf(buf, len, "sampling%s step %d/%d %.2f%s", where, s->step, s->steps,
			         s->speed, s->unit);
		else
			snprintf(buf, len, "sampling%s", where);
		break;
	case SDCPP_PHASE_DECODING:
		if (*load)
			snprintf(buf, len, "decoding: %s", load);
		else if (s->steps > 0)
			snprintf(buf, len, "decoding tile %d/%d", s->step, s->steps);
		else if (s->latents > 1 && s->decoded > 0)
			snprintf(buf, len, "decoding %d/%d", s->decoded, s->latents);
		else
			snprintf(buf, len, "decoding");
		break;
	default:
		snprintf(buf, len, "%s", sdcpp_parse_phase_name(s->phase));
		break;
	}
	return buf;
}

/* Whether an exception is about parsing a number (std::stoi and friends on an
 * option's value): then the arguments are to blame. */
static int is_arg_exception(const char *arg)
{
	static const char *const words[] = {"std::invalid_argument", "std::out_of_range",
	                                    ": sto"};
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		if (strstr(arg, words[i]))
			return 1;
	return 0;
}

char *sdcpp_parse_cause_text(const struct sdcpp_parse_state *s, const char *exe, char *buf,
                             size_t len)
{
	if (!len)
		return buf;
	const char *a = s->cause_arg;
	if (!exe || !*exe)
		exe = "sd-cli";
	switch (s->cause) {
	case SDCPP_CAUSE_MODEL_MISSING:
		snprintf(buf, len, "model file not found: %s", a);
		break;
	case SDCPP_CAUSE_MODEL_FORMAT:
		snprintf(buf, len, "not a model file (unknown format): %s", a);
		break;
	case SDCPP_CAUSE_UNKNOWN_ARG:
		snprintf(buf, len, "%s does not know %s (check extra_args)", exe, a);
		break;
	case SDCPP_CAUSE_BAD_ARGS:
		snprintf(buf, len, "%s rejected its arguments: %s (check extra_args)", exe, a);
		break;
	case SDCPP_CAUSE_EXCEPTION:
		snprintf(buf, len, "%s crashed: %s%s", exe, a,
		         is_arg_exception(a) ? " (check extra_args)" : "");
		break;
	case SDCPP_CAUSE_ASSERT:
		snprintf(buf, len, "%s crashed: %s", exe, a);
		break;
	case SDCPP_CAUSE_ERROR:
		snprintf(buf, len, "%s", a);
		break;
	default:
		buf[0] = 0;
		break;
	}
	return buf;
}
