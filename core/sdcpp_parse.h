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

/* Where sd-cli is in its work. Recent builds load weights lazily, each part
 * when first used (the text encoder while encoding the prompt, the diffusion
 * model before the first image, the VAE while decoding): such a load is
 * shown inside the phase it belongs to (sdcpp_parse_state.load_*), it does
 * not make a phase of its own. */
enum sdcpp_phase {
	SDCPP_PHASE_STARTING, /* nothing recognised yet */
	SDCPP_PHASE_LOADING,  /* opening the model (and, in older builds, every weight) */
	SDCPP_PHASE_ENCODING, /* encoding the prompt */
	SDCPP_PHASE_SAMPLING, /* denoising image i of B (= bar, s/it or it/s) */
	SDCPP_PHASE_DECODING, /* VAE decode (with --vae-tiling, a = bar counts tiles) */
	SDCPP_PHASE_SAVING,   /* writing the images */
	SDCPP_PHASE_DONE,     /* "B/B images saved" seen */
};

/* The name of a phase: "starting", "loading", "encoding the prompt",
 * "sampling", "decoding", "saving", "done". Never NULL. */
const char *sdcpp_parse_phase_name(enum sdcpp_phase ph);

enum sdcpp_stream { SDCPP_STDOUT = 0, SDCPP_STDERR = 1 };

enum sdcpp_event_type {
	SDCPP_EV_LINE,     /* any complete text line that is not a progress frame
	                      (log lines included): text, level ("" if not a log line),
	                      msg (the message after "file:line - ", or the whole line) */
	SDCPP_EV_ERROR,    /* additionally for every [ERROR] line: msg */
	SDCPP_EV_PROGRESS, /* a progress frame: phase, step, steps, speed, unit, load */
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
	int load;         /* PROGRESS: a weight-loading bar (# cells or bytes/s) */
	int image, batch; /* IMAGE (1-based image of batch) */
	int64_t seed;     /* IMAGE */
	int index;        /* SAVED: 0-based as printed */
	const char *path; /* SAVED: as printed (relative to the child's cwd) */
};

/* Why a run failed, as far as the output tells (see sdcpp_parse_cause_text). */
enum sdcpp_cause {
	SDCPP_CAUSE_NONE,
	SDCPP_CAUSE_MODEL_MISSING, /* "file P not found": arg P */
	SDCPP_CAUSE_MODEL_FORMAT,  /* "unknown format P" (empty or not a model): arg P */
	SDCPP_CAUSE_UNKNOWN_ARG,   /* "unknown argument: --bogus": arg --bogus */
	SDCPP_CAUSE_BAD_ARGS,      /* another argument error: arg the message */
	SDCPP_CAUSE_EXCEPTION,     /* an uncaught C++ exception: arg "TYPE: WHAT" */
	SDCPP_CAUSE_ASSERT,        /* GGML_ASSERT / GGML_ABORT: arg the line */
	SDCPP_CAUSE_ERROR,         /* other [ERROR] lines: arg the first one's message */
};

#define SDCPP_CAUSE_ARG_MAX 300

/* What the parser knows so far (a snapshot; see sdcpp_parse_state). */
struct sdcpp_parse_state {
	enum sdcpp_phase phase;
	int image, batch; /* current image (1-based; 0 before the first) of batch */
	int step, steps;  /* the last = frame of the current phase (sampling steps,
	                     or tiles while decoding); 0 if none */
	double speed;     /* of that frame */
	char unit[8];     /* of that frame, "" if none */
	int loading;      /* weights are loading now (a # bar is drawn, its
	                     "loading tensors completed" not seen yet) */
	int load_step, load_steps; /* the last loading frame, while loading */
	int img_loaded;            /* weights were loaded for the current image */
	int latents, decoded;      /* "decoding N latents", "latent K decoded" */
	double fraction;  /* overall 0..1 over the whole job, never going back:
	                     loading 0-3 %, encoding 3-15 %, sampling 15-90 %
	                     (image i of B gets its share: a weight load 15 % of
	                     it, then the steps), decoding 90-97 %, saving to
	                     100 % (roughly the real binary's time shares);
	                     < 0 before anything */
	int n_errors;     /* [ERROR] lines seen */
	int n_saved;      /* save lines seen */
	int64_t bytes;    /* bytes fed so far (both streams) */
	enum sdcpp_cause cause;         /* the first cause seen (the most telling) */
	char cause_arg[SDCPP_CAUSE_ARG_MAX];
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
 * "loading", "loading weights 120/1130", "encoding the prompt: loading
 * weights 14/196", "sampling step 7/20 1.23s/it" or, for a batch,
 * "sampling 1/2 step 7/20 1.23s/it", "sampling 1/2: loading weights 3/280",
 * "decoding: loading weights 5/67", "decoding tile 3/16", "decoding",
 * "saving", "done". Returns buf. */
char *sdcpp_parse_state_text(const struct sdcpp_parse_state *s, char *buf, size_t len);

/* The cause of a failure in words a user acts on, into buf (always
 * NUL-terminated), e.g. "model file not found: P", "not a model file
 * (unknown format): P", "sd-cli does not know --bogus", "sd-cli crashed:
 * std::invalid_argument: stoi (check extra_args)". exe is the program's
 * name for the message. "" when the state has no cause. Returns buf. */
char *sdcpp_parse_cause_text(const struct sdcpp_parse_state *s, const char *exe, char *buf,
                             size_t len);

#endif
