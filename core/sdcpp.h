/*
 * sdcpp.h: the local stable-diffusion.cpp backend's testable parts.
 *
 * The backend itself (sdcpp_backend_new) is declared in backend.h. This header
 * holds the pieces it is built from, public so the tests can drive them alone:
 *
 * - struct sdcpp_parser: a pure parser of what `sd-cli` prints. It is fed the
 *   raw bytes of the child's stdout and stderr in chunks of any size (frames
 *   and escape sequences may be split anywhere), splits them on \r, \n and the
 *   erase-line sequence \033[K, drops every other escape sequence, and reports
 *   what it recognised as events through one callback. It also keeps the state
 *   it has worked out so far (phase, image i of B, step k of N, speed, the
 *   overall fraction), readable at any time with sdcpp_parser_state().
 *   No I/O, no allocation after sdcpp_parser_new(), no dependence on time.
 *
 * - sdcpp_build_argv: the argv of one run, built directly (never a shell).
 * - sdcpp_find_exe: where the executable is (`sd-cli`, then `sd`, on PATH).
 * - sdcpp_split_args: white-space splitting of extra_args.
 */
#ifndef SDQ_SDCPP_H
#define SDQ_SDCPP_H

#include <stddef.h>
#include <stdint.h>
#include "config.h"
#include "job.h"

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
const char *sdcpp_phase_name(enum sdcpp_phase ph);

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
struct sdcpp_event {
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

/* What the parser knows so far (a snapshot; see sdcpp_parser_state). */
struct sdcpp_state {
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

struct sdcpp_parser;
typedef void (*sdcpp_event_cb)(const struct sdcpp_event *ev, void *udata);

/* A new parser. batch is the number of images asked for (used until a
 * "generating image: i/B" line says otherwise; <= 0 means 1). cb may be NULL
 * (then only the state is kept). NULL on ENOMEM. */
struct sdcpp_parser *sdcpp_parser_new(int batch, sdcpp_event_cb cb, void *udata);
void sdcpp_parser_free(struct sdcpp_parser *p);

/* Feed len bytes read from stream. Events for every complete line or frame are
 * delivered before this returns; an incomplete one is kept for the next call.
 * Each stream has its own line buffer, capped at SDCPP_LINE_MAX bytes (longer
 * lines are cut there; the rest up to the next line end is dropped). */
#define SDCPP_LINE_MAX 4096
void sdcpp_parser_feed(struct sdcpp_parser *p, enum sdcpp_stream stream, const char *buf,
                       size_t len);
/* End of stream: deliver what is left in its buffer as a final line. */
void sdcpp_parser_finish(struct sdcpp_parser *p, enum sdcpp_stream stream);

/* The state so far (borrowed, valid until the next feed/finish/free). */
const struct sdcpp_state *sdcpp_parser_state(const struct sdcpp_parser *p);

/* Format the state for job->progress_text into buf (always NUL-terminated):
 * "loading 120/1130 845.50MB/s", "sampling step 7/20 1.23s/it" or, for a
 * batch, "sampling 1/2 step 7/20 1.23s/it", "decoding", "saving", "done".
 * Returns buf. */
char *sdcpp_state_text(const struct sdcpp_state *s, char *buf, size_t len);

/* Split s on spaces, tabs and newlines (no quoting, no shell) into a malloc'd
 * NULL-terminated array of malloc'd words, count in *n. NULL s gives an empty
 * array. NULL on ENOMEM. Free with sdcpp_strv_free. */
char **sdcpp_split_args(const char *s, size_t *n);
void sdcpp_strv_free(char **v);

/* Find the executable: ep->exe if set (a name with a '/' is used as is, a bare
 * name is searched on path), else "sd-cli", then "sd", on path (the PATH
 * value; NULL: "/usr/local/bin:/usr/bin:/bin"). Returns a malloc'd path of an
 * executable file, or NULL with *err naming what was tried and the config key
 * to set. */
char *sdcpp_find_exe(const struct config_endpoint *ep, const char *path, char **err);

/* The argv for one job: exe, the model files of ep, then -p, -n, -s SEED,
 * --steps, --cfg-scale, -W, -H, --sampling-method, -b, -t, -o out_path for
 * the parameters that are set, then ep->extra_args split on white space. The
 * seed is always passed (p->seed, -1 if unset). Never --color. Malloc'd
 * NULL-terminated array (free with sdcpp_strv_free), or NULL on ENOMEM. */
char **sdcpp_build_argv(const char *exe, const struct config_endpoint *ep,
                        const struct job_params *p, const char *out_path);

#endif
