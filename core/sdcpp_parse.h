/*
 * sdcpp_parse.h: a pure parser of what stable-diffusion.cpp's `sd-cli`
 * prints, for the local backend (sdcpp.c) and its tests.
 *
 * It is fed the raw bytes of the child's stdout and stderr in chunks of any
 * size (frames and escape sequences may be split anywhere), splits them on
 * \r, \n and the erase-line sequence \033[K, drops every other escape
 * sequence, and reports what it recognised as events through one callback.
 * It also keeps the state it has worked out so far (phase, image i of B, step
 * k of N, speed, the overall fraction), readable at any time with
 * sdcpp_parse_state(). No I/O, no allocation after sdcpp_parse_new(), no
 * dependence on time.
 */
#ifndef SDQ_SDCPP_PARSE_H
#define SDQ_SDCPP_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* Where sd-cli is in its work. */
enum sdcpp_phase {
	SDCPP_PHASE_STARTING, /* nothing recognised yet */
	SDCPP_PHASE_LOADING,  /* loading the model (# bar, MB/s) */
	SDCPP_PHASE_SAMPLING, /* denoising (= bar, s/it or it/s) */
	SDCPP_PHASE_DECODING, /* VAE decode (a = bar here counts tiles) */
	SDCPP_PHASE_SAVING,   /* writing the images */
	SDCPP_PHASE_DONE,     /* "B/B images saved" seen */
};

/* The name of a phase: "starting", "loading", "sampling", "decoding",
 * "saving", "done". Never NULL. */
const char *sdcpp_parse_phase_name(enum sdcpp_phase ph);

enum sdcpp_stream { SDCPP_STDOUT = 0, SDCPP_STDERR = 1 };

enum sdcpp_event_type {
	SDCPP_EV_LINE,     /* any complete text line that is not a progress frame
	                      (log lines included): text, level ("" if not a log line),
	                      msg (the message after "file:line - ", or the whole line) */
	SDCPP_EV_ERROR,    /* additionally for every [ERROR] line: msg */
	SDCPP_EV_PROGRESS, /* a progress frame: phase, step, steps, speed, unit */
	SDCPP_EV_PHASE,    /* the phase changed: phase */
	SDCPP_EV_IMAGE,    /* "generating image: i/B - seed S": image, batch, seed */
	SDCPP_EV_SAVED,    /* "save result image K to 'PATH' (success)": index, path */
};

/* One event. Strings are borrowed: valid only during the callback. */
struct sdcpp_parse_event {
	enum sdcpp_event_type type;
	enum sdcpp_stream stream;
	enum sdcpp_phase phase; /* the phase after this event */
	const char *text;       /* the whole line, escape sequences removed */
	const char *level;      /* "DEBUG", "INFO", "WARN", "ERROR" or "" */
	const char *msg;
	int step, steps;  /* PROGRESS */
	double speed;     /* PROGRESS: the number before unit */
	const char *unit; /* PROGRESS: "s/it", "it/s", "MB/s", "GB/s", "KB/s", "B/s" */
	int image, batch; /* IMAGE (1-based image of batch) */
	int64_t seed;     /* IMAGE */
	int index;        /* SAVED: 0-based as printed */
	const char *path; /* SAVED: as printed (relative to the child's cwd) */
};

/* What the parser knows so far (a snapshot; see sdcpp_parse_state). */
struct sdcpp_parse_state {
	enum sdcpp_phase phase;
	int image, batch; /* current image (1-based; 0 before the first) of batch */
	int step, steps;  /* the last frame of the current phase; 0 if none */
	double speed;     /* of the last frame */
	char unit[8];     /* of the last frame, "" if none */
	double fraction;  /* overall 0..1: loading 0, sampling ((i-1)N+k)/(BN),
	                     decoding and later 1; < 0 before anything is known */
	int n_errors;     /* [ERROR] lines seen */
	int n_saved;      /* save lines seen */
	int64_t bytes;    /* bytes fed so far (both streams) */
};

struct sdcpp_parse;
typedef void (*sdcpp_parse_cb)(const struct sdcpp_parse_event *ev, void *udata);

/* A new parser. batch is the number of images asked for (used until a
 * "generating image: i/B" line says otherwise; <= 0 means 1). cb may be NULL
 * (then only the state is kept). NULL on ENOMEM. */
struct sdcpp_parse *sdcpp_parse_new(int batch, sdcpp_parse_cb cb, void *udata);
void sdcpp_parse_free(struct sdcpp_parse *p);

/* Feed len bytes read from stream. Events for every complete line or frame are
 * delivered before this returns; an incomplete one is kept for the next call.
 * Each stream has its own line buffer, capped at SDCPP_LINE_MAX bytes (longer
 * lines are cut there; the rest up to the next line end is dropped). */
#define SDCPP_LINE_MAX 4096
void sdcpp_parse_feed(struct sdcpp_parse *p, enum sdcpp_stream stream, const char *buf,
                       size_t len);
/* End of stream: deliver what is left in its buffer as a final line. */
void sdcpp_parse_finish(struct sdcpp_parse *p, enum sdcpp_stream stream);

/* The state so far (borrowed, valid until the next feed/finish/free). */
const struct sdcpp_parse_state *sdcpp_parse_state(const struct sdcpp_parse *p);

/* Format the state for job->progress_text into buf (always NUL-terminated):
 * "loading 120/1130 845.50MB/s", "sampling step 7/20 1.23s/it" or, for a
 * batch, "sampling 1/2 step 7/20 1.23s/it", "decoding", "saving", "done".
 * Returns buf. */
char *sdcpp_parse_state_text(const struct sdcpp_parse_state *s, char *buf, size_t len);

#endif
