/*
 * sdcpp.c: the local backend. It runs stable-diffusion.cpp's `sd-cli` (or the
 * older `sd`) as a child process per job, one job at a time per backend, and
 * turns what the child prints into job progress.
 *
 * Built from: the parser (sdcpp_parse.c: bytes in, events out), the child
 * process module (child.c: own process group, pipes through the loop) and
 * the command line (sdcpp_cmd.c: argv building, PATH search, argument
 * splitting, the model file check). Here:
 * - the backend: a FIFO of waiting jobs (by job id), the running job, cancel
 *   (SIGTERM to the group, SIGKILL after a grace period), collecting and saving
 *   the images, and health (`--version`, `--list-devices`, the model files).
 *
 * Resume: a local job found IN_PROGRESS when a driver starts belonged to a
 * driver that died. Its child may still be alive for a moment (it is in its own
 * process group, so it dies of SIGPIPE at its next write). sdq kills it if the
 * recorded process group (job->worker_id "pgid N") still runs a command line
 * naming the job's private directory, removes that directory, and runs the job
 * again from the start with the same seed, saying so in the job's log.
 *
 * What is left is one backend (queue, the run, images, errors named by
 * cause, health); the error wording and the health probe are the next
 * pieces that can stand alone.
 */
#include "sdcpp.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "child.h"
#include "output.h"
#include "util.h"


/* ------------------------------------------------------------------------ */
/* Limits */

#define SDCPP_GRACE_MS 3000 /* SIGTERM -> SIGKILL */
#define SDCPP_PROBE_TIMEOUT_MS 10000
#define SDCPP_PROBE_OUT_MAX 4096
#define SDCPP_LOG_LINES 50
#define SDCPP_LOG_LINE_MAX 400
#define SDCPP_ERR_LINES 5
#define SDCPP_KEEP_LINES 20 /* lines that explain (ERROR, WARN, stderr) kept apart */
#define SDCPP_IMAGE_MAX (256L << 20)
#define SDCPP_MAX_IMAGES 1024
#define SDCPP_PERSIST_MS 1000

/* ------------------------------------------------------------------------ */
/* The backend */

struct saved_file {
	int index;
	char *path;
};

/* A line of the run's log, numbered so two rings can be merged in order. */
struct logline {
	char *s;
	uint64_t seq;
};

/* The job being run: its child, parser, log and what it reported. */
struct run {
	struct sdcpp *sb;
	struct job *job; /* NULL once the engine forgot it */
	struct child *ch;
	pid_t pid;
	char *dir;      /* private output directory */
	char *exe_name; /* basename of the executable, for messages */
	struct sdcpp_parse *parser;
	struct logline log[SDCPP_LOG_LINES];   /* the last lines */
	size_t log_start, log_n;
	struct logline keep[SDCPP_KEEP_LINES]; /* the last ERROR/WARN/stderr lines */
	size_t keep_start, keep_n;
	uint64_t log_seq;
	char *errs[SDCPP_ERR_LINES];
	size_t err_start, err_n;
	char *last_stderr; /* the last stderr line that is not a log line */
	int64_t *seeds;    /* seeds[i - 1]: the seed of image i, -1 unknown */
	size_t n_seeds;
	struct saved_file *saved;
	size_t n_saved;
	int cancelling;
	int dirty, phase_changed;
	int64_t last_persist;
};

/* A health probe: `exe --version`, then `exe --list-devices`. */
struct probe {
	struct sdcpp *sb;
	struct child *ch;
	int step;
	char *exe;
	char out[SDCPP_PROBE_OUT_MAX + 1];
	size_t out_len;
	char *version, *devices, *error;
	uint64_t next_timer;
};

struct sdcpp {
	struct backend *b;
	struct engine *e;
	const struct config_endpoint *ep;
	struct job **queue; /* waiting jobs, by id */
	size_t n_queue, cap_queue;
	struct run *run;
	struct probe *probe;
	uint64_t kick_timer;
	long n_completed, n_failed;
};

static void kick_later(struct sdcpp *sb);

/* --- the queue --- */

static int queue_find(struct sdcpp *sb, const struct job *j)
{
	for (size_t i = 0; i < sb->n_queue; i++)
		if (sb->queue[i] == j)
			return (int)i;
	return -1;
}

static int queue_add(struct sdcpp *sb, struct job *j)
{
	if (queue_find(sb, j) >= 0)
		return 0;
	if (sb->n_queue == sb->cap_queue) {
		size_t nc = sb->cap_queue ? sb->cap_queue * 2 : 8;
		struct job **nq = realloc(sb->queue, nc * sizeof *nq);
		if (!nq)
			return -1;
		sb->queue = nq;
		sb->cap_queue = nc;
	}
	size_t i = sb->n_queue;
	while (i > 0 && sb->queue[i - 1]->id > j->id) {
		sb->queue[i] = sb->queue[i - 1];
		i--;
	}
	sb->queue[i] = j;
	sb->n_queue++;
	return 0;
}

static void queue_remove_at(struct sdcpp *sb, size_t i)
{
	memmove(sb->queue + i, sb->queue + i + 1, (sb->n_queue - i - 1) * sizeof *sb->queue);
	sb->n_queue--;
}

/* --- the run's log --- */

static void ring_push(char **ring, size_t cap, size_t *start, size_t *n, const char *s)
{
	size_t len = strlen(s);
	if (len > SDCPP_LOG_LINE_MAX)
		len = SDCPP_LOG_LINE_MAX;
	char *c = malloc(len + 1);
	if (!c)
		return;
	memcpy(c, s, len);
	c[len] = 0;
	if (*n == cap) {
		free(ring[*start]);
		ring[*start] = c;
		*start = (*start + 1) % cap;
	} else {
		ring[(*start + *n) % cap] = c;
		(*n)++;
	}
}

static char *ring_join(char *const *ring, size_t cap, size_t start, size_t n, const char *sep)
{
	size_t total = 1;
	for (size_t i = 0; i < n; i++)
		total += strlen(ring[(start + i) % cap]) + strlen(sep);
	char *out = malloc(total);
	if (!out)
		return NULL;
	out[0] = 0;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		const char *s = ring[(start + i) % cap];
		size_t l = strlen(s);
		if (i) {
			memcpy(out + o, sep, strlen(sep));
			o += strlen(sep);
		}
		memcpy(out + o, s, l);
		o += l;
	}
	out[o] = 0;
	return out;
}

static void lines_push(struct logline *ring, size_t cap, size_t *start, size_t *n,
                       const char *s, uint64_t seq)
{
	char *c = strndup(s, SDCPP_LOG_LINE_MAX);
	if (!c)
		return;
	if (*n == cap) {
		free(ring[*start].s);
		ring[*start].s = c;
		ring[*start].seq = seq;
		*start = (*start + 1) % cap;
	} else {
		ring[(*start + *n) % cap].s = c;
		ring[(*start + *n) % cap].seq = seq;
		(*n)++;
	}
}

static void lines_free(struct logline *ring, size_t cap, size_t start, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(ring[(start + i) % cap].s);
}

/* Add a line to the log; keep says it explains a failure (an ERROR or WARN
 * line, a stderr line that is not a log line), so it is kept even after
 * SDCPP_LOG_LINES later lines (e.g. sd-cli's 261 lines of usage) pushed it
 * out of the tail. */
static void run_log_line(struct run *r, const char *line, int keep)
{
	uint64_t seq = ++r->log_seq;
	lines_push(r->log, SDCPP_LOG_LINES, &r->log_start, &r->log_n, line, seq);
	if (keep)
		lines_push(r->keep, SDCPP_KEEP_LINES, &r->keep_start, &r->keep_n, line, seq);
}

static void run_log(struct run *r, const char *line)
{
	run_log_line(r, line, 0);
}

/* The job's log: the kept lines that scrolled out of the tail, a line
 * saying how many others were left out, then the tail; one line each. */
static void run_set_log_tail(struct run *r, struct job *j)
{
	struct util_buf b = {0};
	uint64_t first = r->log_n ? r->log[r->log_start].seq : r->log_seq + 1;
	uint64_t shown = 0, prev = 0;
	for (size_t i = 0; i < r->keep_n; i++) {
		const struct logline *l = &r->keep[(r->keep_start + i) % SDCPP_KEEP_LINES];
		if (l->seq >= first)
			break;
		if (b.len)
			util_buf_put(&b, "\n", 1);
		util_buf_put(&b, l->s, strlen(l->s));
		shown++;
		prev = l->seq;
	}
	if (shown && first > prev + 1) {
		char note[96];
		snprintf(note, sizeof note, "\nsdq: ... %" PRIu64 " more lines ...",
		         first - 1 - shown);
		util_buf_put(&b, note, strlen(note));
	}
	for (size_t i = 0; i < r->log_n; i++) {
		const char *s = r->log[(r->log_start + i) % SDCPP_LOG_LINES].s;
		if (b.len)
			util_buf_put(&b, "\n", 1);
		util_buf_put(&b, s, strlen(s));
	}
	if (b.oom || !b.p) {
		free(b.p);
		return;
	}
	free(j->log_tail);
	j->log_tail = b.p;
}

static void run_free(struct run *r)
{
	if (!r)
		return;
	child_free(r->ch); /* first: nothing of the group writes into dir any more */
	if (r->dir) {
		util_remove_tree(r->dir);
		free(r->dir);
	}
	free(r->exe_name);
	sdcpp_parse_free(r->parser);
	lines_free(r->log, SDCPP_LOG_LINES, r->log_start, r->log_n);
	lines_free(r->keep, SDCPP_KEEP_LINES, r->keep_start, r->keep_n);
	for (size_t i = 0; i < r->err_n; i++)
		free(r->errs[(r->err_start + i) % SDCPP_ERR_LINES]);
	free(r->seeds);
	free(r->last_stderr);
	for (size_t i = 0; i < r->n_saved; i++)
		free(r->saved[i].path);
	free(r->saved);
	free(r);
}

/* --- parser events of the running job --- */

static void run_event(const struct sdcpp_parse_event *ev, void *udata)
{
	struct run *r = udata;
	switch (ev->type) {
	case SDCPP_EV_LINE:
		run_log_line(r, ev->text,
		             ev->stream == SDCPP_STDERR || !strcmp(ev->level, "ERROR") ||
		                 !strcmp(ev->level, "WARN"));
		if (ev->stream == SDCPP_STDERR && !ev->level[0]) {
			char *c = strndup(ev->text, SDCPP_LOG_LINE_MAX);
			if (c) {
				free(r->last_stderr);
				r->last_stderr = c;
			}
		}
		break;
	case SDCPP_EV_ERROR:
		ring_push(r->errs, SDCPP_ERR_LINES, &r->err_start, &r->err_n, ev->msg);
		break;
	case SDCPP_EV_PHASE:
		r->phase_changed = 1;
		r->dirty = 1;
		break;
	case SDCPP_EV_PROGRESS:
		r->dirty = 1;
		break;
	case SDCPP_EV_IMAGE:
		r->dirty = 1;
		if (ev->image >= 1 && ev->image <= SDCPP_MAX_IMAGES) {
			size_t need = (size_t)ev->image;
			if (need > r->n_seeds) {
				int64_t *ns = realloc(r->seeds, need * sizeof *ns);
				if (!ns)
					break;
				for (size_t i = r->n_seeds; i < need; i++)
					ns[i] = -1;
				r->seeds = ns;
				r->n_seeds = need;
			}
			r->seeds[ev->image - 1] = ev->seed;
		}
		break;
	case SDCPP_EV_SAVED:
		if (r->n_saved < SDCPP_MAX_IMAGES) {
			struct saved_file *ns = realloc(r->saved, (r->n_saved + 1) * sizeof *ns);
			if (!ns)
				break;
			r->saved = ns;
			ns[r->n_saved].index = ev->index;
			ns[r->n_saved].path = strdup(ev->path);
			if (ns[r->n_saved].path)
				r->n_saved++;
		}
		break;
	}
}

/* Child output arrived (buf NULL: end of that stream). */
static void run_data(struct child *c, enum child_stream stream, const char *buf, size_t n,
                     void *udata)
{
	struct run *r = udata;
	if (buf)
		sdcpp_parse_feed(r->parser, (enum sdcpp_stream)stream, buf, n);
	else
		sdcpp_parse_finish(r->parser, (enum sdcpp_stream)stream);
	struct job *j = r->job;
	if (!j || !r->dirty || r->cancelling)
		return;
	const struct sdcpp_parse_state *st = sdcpp_parse_state(r->parser);
	char text[128];
	sdcpp_parse_state_text(st, text, sizeof text);
	if (st->fraction >= 0)
		j->progress = st->fraction;
	if (!j->progress_text || strcmp(j->progress_text, text) != 0)
		job_set_str(&j->progress_text, text);
	int64_t now = util_now_ms();
	if (r->phase_changed || now - r->last_persist >= SDCPP_PERSIST_MS) {
		r->last_persist = now;
		run_set_log_tail(r, j);
		engine_job_update(r->sb->e, j);
	} else {
		engine_job_notify(r->sb->e, j);
	}
	r->dirty = r->phase_changed = 0;
}

/* --- finishing a run --- */

static int cmp_saved(const void *a, const void *b)
{
	const struct saved_file *x = a, *y = b;
	return (x->index > y->index) - (x->index < y->index);
}

/* The index a file name in the private dir stands for: "img.png" is the
 * single image (-1 sorts it first); "img_N.png" (and old builds' "img_N.png"
 * from 2) is N. Other names (e.g. preview.png) are not images of ours: -2. */
static int file_order(const char *name)
{
	static const char *const exts[] = {".png", ".jpg", ".jpeg", ".webp"};
	const char *dot = strrchr(name, '.');
	int ok = 0;
	if (strncmp(name, "img", 3) != 0 || !dot)
		return -2;
	for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++)
		if (strcmp(dot, exts[i]) == 0)
			ok = 1;
	if (!ok)
		return -2;
	if (name + 3 == dot)
		return -1;
	if (name[3] != '_')
		return -2;
	const char *s = name + 4;
	long v = 0;
	if (!isdigit((unsigned char)*s))
		return -2;
	while (isdigit((unsigned char)*s) && v < 100000000)
		v = v * 10 + (*s++ - '0');
	if (s != dot)
		return -2;
	return (int)v;
}

/* Find the images the run wrote: the paths of the save lines that lie in the
 * private directory, else every image file found there. Sorted by index. */
static size_t run_find_files(struct run *r, struct saved_file **out)
{
	struct saved_file *files = NULL;
	size_t n = 0;
	size_t dl = strlen(r->dir);
	for (size_t i = 0; i < r->n_saved; i++) {
		const char *p = r->saved[i].path;
		char *full = p[0] == '/' ? strdup(p) : util_asprintf("%s/%s", r->dir, p);
		if (!full)
			continue;
		struct stat sb;
		if (strncmp(full, r->dir, dl) != 0 || full[dl] != '/' ||
		    strchr(full + dl + 1, '/') || stat(full, &sb) < 0 || !S_ISREG(sb.st_mode)) {
			free(full);
			continue;
		}
		struct saved_file *nf = realloc(files, (n + 1) * sizeof *nf);
		if (!nf) {
			free(full);
			break;
		}
		files = nf;
		files[n].index = r->saved[i].index;
		files[n++].path = full;
	}
	if (n == 0) {
		DIR *d = opendir(r->dir);
		struct dirent *de;
		while (d && (de = readdir(d)) && n < SDCPP_MAX_IMAGES) {
			int ord = file_order(de->d_name);
			if (ord < -1)
				continue;
			char *full = util_asprintf("%s/%s", r->dir, de->d_name);
			struct saved_file *nf = full ? realloc(files, (n + 1) * sizeof *nf) : NULL;
			if (!nf) {
				free(full);
				break;
			}
			files = nf;
			files[n].index = ord;
			files[n++].path = full;
		}
		if (d)
			closedir(d);
	}
	if (n > 1)
		qsort(files, n, sizeof *files, cmp_saved);
	*out = files;
	return n;
}

/* Save the run's images into the store's images dir as outputs of j. Returns
 * the number saved; *err set when one could not be saved. */
static size_t run_save_images(struct run *r, struct job *j, size_t *found, char **err)
{
	struct saved_file *files = NULL;
	size_t n = run_find_files(r, &files);
	size_t saved = 0;
	const char *images_dir = engine_config(r->sb->e)->images_dir;
	*found = n;
	job_clear_outputs(j);
	for (size_t k = 0; k < n && !*err; k++) {
		unsigned char *data = NULL;
		size_t len = 0;
		data = (unsigned char *)util_read_file(files[k].path, SDCPP_IMAGE_MAX, &len, err);
		if (!data)
			break;
		int64_t seed = -1;
		if (k < r->n_seeds && r->seeds[k] >= 0)
			seed = r->seeds[k];
		else if (j->params.seed >= 0)
			seed = j->params.seed + (int64_t)k;
		struct job_output o;
		memset(&o, 0, sizeof o);
		char *e2 = NULL;
		if (output_save(images_dir, j, (int)k, data, len, seed, &o, &e2) < 0) {
			util_set_err(err, "cannot save image %zu: %s", k + 1, e2 ? e2 : "error");
			free(e2);
		} else {
			if (job_add_output(j, &o) == 0)
				saved++;
			free(o.path);
			free(o.format);
		}
		free(data);
	}
	for (size_t k = 0; k < n; k++)
		free(files[k].path);
	free(files);
	return saved;
}

/* "<ERROR lines>" joined, or "(last output: ...)", or "". Malloc'd. */
static char *run_error_detail(struct run *r)
{
	if (r->err_n)
		return ring_join(r->errs, SDCPP_ERR_LINES, r->err_start, r->err_n, "; ");
	if (r->last_stderr) /* e.g. GGML_ASSERT text before an abort */
		return strdup(r->last_stderr);
	if (r->log_n)
		return util_asprintf("last output: %s",
		                     r->log[(r->log_start + r->log_n - 1) % SDCPP_LOG_LINES].s);
	return strdup("no output");
}

/* The cause of a failure in a user's words, or NULL when the output told
 * none (or only a generic [ERROR]). Malloc'd. */
static char *run_cause(struct run *r)
{
	const struct sdcpp_parse_state *st = sdcpp_parse_state(r->parser);
	char buf[SDCPP_CAUSE_ARG_MAX + 128];
	if (st->cause == SDCPP_CAUSE_NONE || st->cause == SDCPP_CAUSE_ERROR)
		return NULL;
	if (st->cause == SDCPP_CAUSE_MODEL_FORMAT) {
		/* sd-cli says "unknown format" for an empty file too: tell them apart */
		const char *p = st->cause_arg;
		char *full = p[0] == '/' ? strdup(p) : util_asprintf("%s/%s", r->dir, p);
		struct stat sb;
		int empty = full && stat(full, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size == 0;
		int isdir = full && stat(full, &sb) == 0 && S_ISDIR(sb.st_mode);
		free(full);
		if (empty)
			return util_asprintf("model file is empty: %s", p);
		if (isdir)
			return util_asprintf("the model path is a directory: %s", p);
	}
	return strdup(sdcpp_parse_cause_text(st, r->exe_name, buf, sizeof buf));
}

static void run_done(struct child *c, const struct child_exit *x, void *udata)
{
	struct run *r = udata;
	struct sdcpp *sb = r->sb;
	struct job *j = r->job;
	sb->run = NULL;
	if (!j) {
		run_free(r);
		kick_later(sb);
		return;
	}
	int64_t now = job_now_ms();
	char *msg = NULL;
	enum job_state state = JOB_FAILED;
	if (r->cancelling) {
		state = JOB_CANCELLED;
		run_log(r, "sdq: cancelled");
	} else if (!x->lost && (x->signo || x->code != 0) && (msg = run_cause(r))) {
		/* the output said why: that is the message */
	} else if (!x->lost && x->signo) {
		char *d = run_error_detail(r);
		int detail = (r->err_n || r->last_stderr) && d;
		msg =
		    util_asprintf("%s killed by signal %d (%s)%s%s", r->exe_name, x->signo,
		                   child_signal_name(x->signo), detail ? ": " : "", detail ? d : "");
		free(d);
	} else if (!x->lost && x->code != 0) {
		char *d = run_error_detail(r);
		msg = util_asprintf("%s exited with status %d: %s", r->exe_name, x->code,
		                     d ? d : "");
		free(d);
	} else {
		size_t found = 0, want = j->params.count > 0 ? (size_t)j->params.count : 1;
		char *err = NULL;
		size_t n = run_save_images(r, j, &found, &err);
		if (err) {
			msg = err;
		} else if (found == 0) {
			msg = util_asprintf("%s exited with status 0 but wrote no image",
			                    r->exe_name);
		} else if (n < want) {
			msg = util_asprintf("%s exited with status 0 but wrote %zu of %zu images",
			                    r->exe_name, n, want);
		} else {
			state = JOB_COMPLETED;
		}
	}
	if (state == JOB_FAILED && !msg)
		msg = strdup("the local run failed");
	/* run_free -> child_free kills whatever of the group stays behind */
	if (msg) {
		char *l = util_asprintf("sdq: %s", msg);
		if (l)
			run_log(r, l);
		free(l);
	}
	run_set_log_tail(r, j);
	j->state = state;
	j->finished_at = now;
	if (j->started_at)
		j->exec_ms = now - j->started_at;
	free(j->error);
	j->error = msg;
	if (state == JOB_COMPLETED) {
		j->progress = 1;
		sb->n_completed++;
	} else if (state == JOB_FAILED) {
		sb->n_failed++;
	}
	free(j->progress_text);
	j->progress_text = NULL;
	run_free(r);
	engine_job_update(sb->e, j);
	kick_later(sb);
}

/* --- starting --- */

/* Fail j before it ran (it is in no list any more). */
static void fail_job(struct sdcpp *sb, struct job *j, const char *msg)
{
	j->state = JOB_FAILED;
	j->finished_at = job_now_ms();
	job_set_str(&j->error, msg);
	free(j->progress_text);
	j->progress_text = NULL;
	sb->n_failed++;
	engine_job_update(sb->e, j);
}

/* mkdtemp "<data_dir>/tmp/job-<id>.XXXXXX", else under $TMPDIR. */
static char *make_private_dir(struct sdcpp *sb, const struct job *j, char **err)
{
	const struct config *cfg = engine_config(sb->e);
	const char *bases[2] = {NULL, NULL};
	char *tmpbase = cfg && cfg->data_dir ? util_asprintf("%s/tmp", cfg->data_dir) : NULL;
	if (tmpbase && config_mkdirs(tmpbase, 0700) == 0)
		bases[0] = tmpbase;
	const char *t = getenv("TMPDIR");
	bases[1] = t && *t ? t : "/tmp";
	int saved_errno = 0;
	for (int i = 0; i < 2; i++) {
		if (!bases[i])
			continue;
		char *tpl = util_asprintf("%s/job-%" PRId64 ".XXXXXX", bases[i], j->id);
		if (tpl && mkdtemp(tpl)) {
			free(tmpbase);
			return tpl;
		}
		saved_errno = errno;
		free(tpl);
	}
	util_set_err(err, "cannot create a private output directory under %s: %s",
	             bases[0] ? bases[0] : bases[1], strerror(saved_errno));
	free(tmpbase);
	return NULL;
}

/* Start j's child. 0, or -1 after j was failed. */
static int run_start(struct sdcpp *sb, struct job *j)
{
	char *err = NULL;
	char *exe = sdcpp_find_exe(sb->ep, getenv("PATH"), &err);
	if (!exe) {
		const struct config *cfg = engine_config(sb->e);
		char *m = NULL;
		if (err && cfg && cfg->config_path)
			m = util_asprintf("%s (config file: %s)", err, cfg->config_path);
		fail_job(sb, j, m ? m : err ? err : "executable not found");
		free(m);
		free(err);
		return -1;
	}
	char *dir = make_private_dir(sb, j, &err);
	if (!dir) {
		fail_job(sb, j, err ? err : "cannot create a directory");
		free(err);
		free(exe);
		return -1;
	}
	char *out = util_asprintf("%s/img.png", dir);
	char **argv = out ? sdcpp_build_argv(exe, sb->ep, &j->params, out) : NULL;
	struct run *r = calloc(1, sizeof *r);
	int batch = j->params.count > 0 ? j->params.count : 1;
	if (r)
		r->parser = sdcpp_parse_new(batch, run_event, r);
	if (!out || !argv || !r || !r->parser) {
		fail_job(sb, j, "out of memory");
		util_remove_tree(dir);
		free(dir);
		free(out);
		sdcpp_strv_free(argv);
		run_free(r);
		free(exe);
		return -1;
	}
	const char *slash = strrchr(exe, '/');
	r->exe_name = strdup(slash ? slash + 1 : exe);
	r->sb = sb;
	r->job = j;
	r->dir = dir;
	if (j->log_tail && *j->log_tail) {
		/* keep the last word of an earlier attempt (e.g. the resume note) */
		const char *nl = strrchr(j->log_tail, '\n');
		run_log(r, nl ? nl + 1 : j->log_tail);
	}
	struct child_opts co;
	memset(&co, 0, sizeof co);
	co.argv = argv;
	co.dir = dir;
	co.grace_ms = SDCPP_GRACE_MS;
	co.on_output = run_data;
	co.on_exit = run_done;
	co.udata = r;
	r->ch = child_spawn(sb->e, &co, &err);
	if (!r->ch) {
		fail_job(sb, j, err ? err : "cannot start the process");
		free(err);
		free(out);
		sdcpp_strv_free(argv);
		run_free(r);
		free(exe);
		return -1;
	}
	r->pid = child_pid(r->ch);
	sb->run = r;

	/* the command line, for the log (the prompt is in the job already) */
	char *l = util_asprintf("sdq: started %s (pgid %ld), seed %" PRId64 ", output in %s", exe,
	                         (long)r->pid, j->params.seed, dir);
	if (l)
		run_log(r, l);
	free(l);
	free(out);
	sdcpp_strv_free(argv);
	free(exe);

	int64_t now = job_now_ms();
	j->state = JOB_IN_PROGRESS;
	j->started_at = now;
	if (j->submitted_at)
		j->delay_ms = now - j->submitted_at;
	char wid[48];
	snprintf(wid, sizeof wid, "pgid %ld", (long)r->pid);
	job_set_str(&j->worker_id, wid);
	free(j->error);
	j->error = NULL;
	j->progress = 0;
	job_set_str(&j->progress_text, "starting");
	run_set_log_tail(r, j);
	r->last_persist = util_now_ms();
	engine_job_update(sb->e, j);
	return 0;
}

static void kick(struct sdcpp *sb)
{
	while (!sb->run && sb->n_queue > 0) {
		struct job *j = sb->queue[0];
		queue_remove_at(sb, 0);
		if (run_start(sb, j) == 0)
			break;
	}
}

static void kick_cb(struct engine *e, void *udata)
{
	struct sdcpp *sb = udata;
	sb->kick_timer = 0;
	kick(sb);
}

/* Start the next job from the loop, not from inside the caller. */
static void kick_later(struct sdcpp *sb)
{
	if (sb->kick_timer || sb->run || sb->n_queue == 0)
		return;
	sb->kick_timer = engine_timer_add(sb->e, 0, kick_cb, sb);
	if (!sb->kick_timer)
		kick(sb);
}

/* --- resume --- */

/* Kill what is left of the run of job j by a driver that died: the process
 * group in j->worker_id, if its leader's command line still names j's private
 * directory (so a reused pid is never hit); then remove that directory. */
static void kill_leftover(struct sdcpp *sb, const struct job *j)
{
	char marker[64];
	snprintf(marker, sizeof marker, "/job-%" PRId64 ".", j->id);
	long pgid = 0;
	if (j->worker_id && sscanf(j->worker_id, "pgid %ld", &pgid) == 1 && pgid > 1) {
		char path[64];
		snprintf(path, sizeof path, "/proc/%ld/cmdline", pgid);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			char buf[8192];
			ssize_t n = read(fd, buf, sizeof buf - 1);
			close(fd);
			if (n > 0) {
				for (ssize_t i = 0; i < n; i++)
					if (!buf[i])
						buf[i] = ' ';
				buf[n] = 0;
				if (strstr(buf, marker) && getpgid((pid_t)pgid) == (pid_t)pgid)
					kill(-(pid_t)pgid, SIGKILL);
			}
		}
	}
	const struct config *cfg = engine_config(sb->e);
	char *base = cfg && cfg->data_dir ? util_asprintf("%s/tmp", cfg->data_dir) : NULL;
	DIR *d = base ? opendir(base) : NULL;
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (strncmp(de->d_name, marker + 1, strlen(marker + 1)) != 0)
			continue;
		char *p = util_asprintf("%s/%s", base, de->d_name);
		if (p)
			util_remove_tree(p);
		free(p);
	}
	if (d)
		closedir(d);
	free(base);
}

/* --- backend operations --- */

static int sdcpp_drive(struct backend *b, struct job *j, char **err)
{
	struct sdcpp *sb = b->priv;
	if ((sb->run && sb->run->job == j) || queue_find(sb, j) >= 0)
		return 0;
	if (!j->backend)
		job_set_str(&j->backend, "local");
	switch (j->state) {
	case JOB_PENDING:
		j->submitted_at = job_now_ms();
		j->state = JOB_IN_QUEUE;
		break;
	case JOB_IN_QUEUE:
		break;
	case JOB_IN_PROGRESS:
	case JOB_OTHER: {
		kill_leftover(sb, j);
		char *note = util_asprintf(
		    "sdq: the driver running this job stopped; running it again from the start "
		    "(seed %" PRId64 ")",
		    j->params.seed);
		if (note) {
			char *t = j->log_tail && *j->log_tail
			              ? util_asprintf("%s\n%s", j->log_tail, note)
			              : strdup(note);
			if (t) {
				free(j->log_tail);
				j->log_tail = t;
			}
		}
		free(note);
		j->state = JOB_IN_QUEUE;
		j->started_at = 0;
		j->progress = -1;
		free(j->progress_text);
		j->progress_text = NULL;
		break;
	}
	default:
		util_set_err(err, "job %" PRId64 " is %s: nothing to run", j->id,
		             job_state_name(j->state));
		return -1;
	}
	if (queue_add(sb, j) < 0) {
		util_set_err(err, "out of memory");
		return -1;
	}
	/* commit IN_QUEUE first: it is what a viewer sees while the job waits */
	engine_job_update(sb->e, j);
	kick_later(sb);
	return 0;
}

static int sdcpp_cancel(struct backend *b, struct job *j, char **err)
{
	struct sdcpp *sb = b->priv;
	int i = queue_find(sb, j);
	struct run *r = sb->run;
	if (r && r->job == j) {
		if (!child_running(r->ch) || r->cancelling)
			return 0; /* already ending: its outcome follows */
		r->cancelling = 1;
		child_terminate(r->ch);
		job_set_str(&j->progress_text, "cancelling");
		engine_job_notify(sb->e, j);
		return 0;
	}
	if (i >= 0)
		queue_remove_at(sb, (size_t)i);
	if (!job_state_is_live(j->state))
		return 0;
	j->state = JOB_CANCELLED;
	j->finished_at = job_now_ms();
	free(j->progress_text);
	j->progress_text = NULL;
	engine_job_update(sb->e, j);
	return 0;
}

/* A FAILED local job runs again from the start, with the same seed. */
static int sdcpp_retry(struct backend *b, struct job *j, char **err)
{
	struct sdcpp *sb = b->priv;
	if (j->state != JOB_FAILED && j->state != JOB_TIMED_OUT) {
		util_set_err(err, "job %" PRId64 " is %s, not FAILED", j->id,
		             job_state_name(j->state));
		return -1;
	}
	if (queue_add(sb, j) < 0) {
		util_set_err(err, "out of memory");
		return -1;
	}
	j->state = JOB_IN_QUEUE;
	j->retry_requested = 0;
	j->submitted_at = job_now_ms();
	j->started_at = j->finished_at = 0;
	j->progress = -1;
	free(j->error);
	j->error = NULL;
	free(j->progress_text);
	j->progress_text = NULL;
	engine_job_update(sb->e, j);
	kick_later(sb);
	return 0;
}

static void sdcpp_forget(struct backend *b, struct job *j)
{
	struct sdcpp *sb = b->priv;
	int i = queue_find(sb, j);
	if (i >= 0)
		queue_remove_at(sb, (size_t)i);
	struct run *r = sb->run;
	if (r && r->job == j) {
		/* the run ends without a job: kill it; run_done cleans up */
		r->job = NULL;
		child_terminate(r->ch);
	}
}

/* --- health --- */

static void probe_free(struct probe *pb)
{
	if (!pb)
		return;
	engine_timer_cancel(pb->sb->e, pb->next_timer);
	child_free(pb->ch);
	free(pb->exe);
	free(pb->version);
	free(pb->devices);
	free(pb->error);
	free(pb);
}

/* Text from a child, made safe to show: tabs become " ", other control bytes
 * are dropped, trailing white space is cut. Malloc'd. */
static char *clean_text(const char *s, size_t n)
{
	char *o = malloc(n + 1);
	size_t k = 0;
	if (!o)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\t')
			o[k++] = ' ';
		else if (c == '\n' || c >= 0x20)
			o[k++] = (char)c;
	}
	while (k && (o[k - 1] == '\n' || o[k - 1] == ' '))
		k--;
	o[k] = 0;
	return o;
}

/* Append "<key>: <path> (<size> or missing)" for a configured model file;
 * the first missing one becomes the error. */
static void health_file(char **text, char **error, const struct sdcpp *sb, const char *key,
                        const char *path)
{
	if (!path || !*path)
		return;
	struct stat st;
	char *line, *why = NULL;
	const char *fmt = sdcpp_model_check(path, &why);
	if (fmt && stat(path, &st) == 0) {
		line = util_asprintf("%s%s: %s (%s, %.1f MB)\n", *text ? *text : "", key, path, fmt,
		                     (double)st.st_size / 1e6);
	} else {
		line = util_asprintf("%s%s: %s (%s)\n", *text ? *text : "", key, path,
		                     why ? why : "unreadable");
		if (!*error)
			*error = util_asprintf("%s: %s (set %s in [local \"%s\"])",
			                       why ? why : "unreadable", path, key, sb->ep->name);
	}
	free(why);
	if (line) {
		free(*text);
		*text = line;
	}
}

static void health_report(struct sdcpp *sb, const char *exe, const char *version,
                          const char *devices, const char *exe_error)
{
	struct engine_health h;
	memset(&h, 0, sizeof h);
	char *text = NULL, *error = exe_error ? strdup(exe_error) : NULL;
	const struct config_endpoint *ep = sb->ep;
	text = util_asprintf("executable: %s\nversion: %s\ndevices: %s\n",
	                     exe ? exe : "(not found)", version ? version : "(unknown)",
	                     devices && *devices ? devices : "(unknown)");
	if (text) {
		/* devices may span lines: indent the continuation */
		char *t2 = NULL;
		size_t n = 0;
		for (const char *c = text; *c; c++)
			n += *c == '\n' ? 3 : 1;
		t2 = malloc(n + 1);
		if (t2) {
			size_t k = 0;
			int lines = 0;
			for (const char *c = text; *c; c++) {
				t2[k++] = *c;
				if (*c == '\n' && ++lines >= 3 && c[1]) {
					t2[k++] = ' ';
					t2[k++] = ' ';
				}
			}
			t2[k] = 0;
			free(text);
			text = t2;
		}
	}
	if (!ep->model && !ep->diffusion_model && !error)
		error = util_asprintf("no model configured: set model (or diffusion_model) in "
		                      "[local \"%s\"]",
		                      ep->name);
	health_file(&text, &error, sb, "model", ep->model);
	health_file(&text, &error, sb, "diffusion_model", ep->diffusion_model);
	health_file(&text, &error, sb, "vae", ep->vae);
	health_file(&text, &error, sb, "clip_l", ep->clip_l);
	health_file(&text, &error, sb, "clip_g", ep->clip_g);
	health_file(&text, &error, sb, "t5xxl", ep->t5xxl);
	health_file(&text, &error, sb, "llm", ep->llm);
	char *q = util_asprintf("%squeue: %d running, %zu waiting", text ? text : "",
	                        sb->run ? 1 : 0, sb->n_queue);
	if (q) {
		free(text);
		text = q;
	}
	h.valid = 1;
	h.reachable = exe && version && !exe_error;
	h.updated_at = job_now_ms();
	h.jobs_completed = sb->n_completed;
	h.jobs_failed = sb->n_failed;
	h.jobs_in_progress = sb->run ? 1 : 0;
	h.jobs_in_queue = (long)sb->n_queue;
	h.workers_running = sb->run ? 1 : 0;
	h.workers_idle = sb->run ? 0 : 1;
	h.workers_ready = h.reachable;
	h.text = text;
	h.error = error;
	engine_health_set(sb->e, sb->ep->name, &h);
	free(text);
	free(error);
}

static void probe_data(struct child *c, enum child_stream stream, const char *buf, size_t n,
                       void *udata)
{
	struct probe *pb = udata;
	if (!buf)
		return;
	size_t room = SDCPP_PROBE_OUT_MAX - pb->out_len;
	if (n > room)
		n = room;
	memcpy(pb->out + pb->out_len, buf, n);
	pb->out_len += n;
}

static int probe_start(struct probe *pb, const char *arg, char **err);

static void probe_finish(struct probe *pb)
{
	struct sdcpp *sb = pb->sb;
	sb->probe = NULL;
	health_report(sb, pb->exe, pb->version, pb->devices, pb->error);
	probe_free(pb);
}

static void probe_next(struct engine *e, void *udata)
{
	struct probe *pb = udata;
	char *err = NULL;
	pb->next_timer = 0;
	if (probe_start(pb, "--list-devices", &err) == 0)
		return;
	if (!pb->error)
		pb->error = err;
	else
		free(err);
	probe_finish(pb);
}

static void probe_done(struct child *c, const struct child_exit *x, void *udata)
{
	struct probe *pb = udata;
	struct sdcpp *sb = pb->sb;
	child_free(pb->ch); /* done after this callback */
	pb->ch = NULL;
	int ok = !x->lost && !x->timed_out && x->code == 0;
	char *out = clean_text(pb->out, pb->out_len);
	const char *what = pb->step == 0 ? "--version" : "--list-devices";
	if (!ok && !pb->error) {
		if (x->timed_out)
			pb->error = util_asprintf("%s %s did not answer within %d s", pb->exe,
			                           what, SDCPP_PROBE_TIMEOUT_MS / 1000);
		else if (x->signo)
			pb->error = util_asprintf("%s %s was killed by signal %d", pb->exe, what,
			                           x->signo);
		else
			pb->error = util_asprintf("%s %s exited with status %d%s%s", pb->exe, what,
			                           x->code, out && *out ? ": " : "",
			                           out ? out : "");
	}
	if (pb->step == 0) {
		if (ok && out) {
			char *nl = strchr(out, '\n');
			if (nl) /* the version is the last line (logs may come first) */
				pb->version = strdup(strrchr(out, '\n') + 1);
			else
				pb->version = strdup(out);
		}
		free(out);
		pb->step = 1;
		pb->out_len = 0;
		/* the next step starts from the loop, not from inside this callback */
		if (ok && (pb->next_timer = engine_timer_add(sb->e, 0, probe_next, pb)))
			return;
	} else {
		if (ok)
			pb->devices = out;
		else
			free(out);
	}
	probe_finish(pb);
}

static int probe_start(struct probe *pb, const char *arg, char **err)
{
	char *argv[3] = {pb->exe, (char *)arg, NULL};
	struct child_opts co;
	memset(&co, 0, sizeof co);
	co.argv = argv;
	co.timeout_ms = SDCPP_PROBE_TIMEOUT_MS;
	co.grace_ms = 1; /* it only prints: no need to be gentle */
	co.on_output = probe_data;
	co.on_exit = probe_done;
	co.udata = pb;
	pb->ch = child_spawn(pb->sb->e, &co, err);
	return pb->ch ? 0 : -1;
}

static int sdcpp_health(struct backend *b, char **err)
{
	struct sdcpp *sb = b->priv;
	if (sb->probe)
		return 0; /* one is on its way */
	char *e2 = NULL;
	char *exe = sdcpp_find_exe(sb->ep, getenv("PATH"), &e2);
	if (!exe) {
		health_report(sb, NULL, NULL, NULL, e2 ? e2 : "executable not found");
		free(e2);
		return 0;
	}
	struct probe *pb = calloc(1, sizeof *pb);
	if (!pb) {
		free(exe);
		util_set_err(err, "out of memory");
		return -1;
	}
	pb->sb = sb;
	pb->exe = exe;
	if (probe_start(pb, "--version", &e2) < 0) {
		health_report(sb, exe, NULL, NULL, e2 ? e2 : "cannot run it");
		free(e2);
		probe_free(pb);
		return 0;
	}
	sb->probe = pb;
	return 0;
}

/* --- lifetime --- */

static void sdcpp_free(struct backend *b)
{
	if (!b)
		return;
	struct sdcpp *sb = b->priv;
	if (sb) {
		if (sb->run) {
			/* the job stays live in the store; the next driver runs it again */
			run_free(sb->run); /* child_free: SIGTERM, the grace, SIGKILL */
		}
		if (sb->probe) {
			probe_free(sb->probe);
		}
		engine_timer_cancel(sb->e, sb->kick_timer);
		free(sb->queue);
		free(sb);
	}
	free(b);
}

static const struct backend_ops sdcpp_ops = {
    .drive = sdcpp_drive,
    .cancel = sdcpp_cancel,
    .retry = sdcpp_retry,
    .forget = sdcpp_forget,
    .health = sdcpp_health,
    .purge = NULL,
    .sigchld = NULL, /* the engine calls child_sigchld() */
    .free = sdcpp_free,
};

struct backend *sdcpp_backend_new(struct engine *e, const struct config_endpoint *ep, char **err)
{
	if (!ep || ep->kind != CONFIG_LOCAL) {
		util_set_err(err, "endpoint '%s' is not a [local] section",
		             ep && ep->name ? ep->name : "?");
		return NULL;
	}
	struct backend *b = calloc(1, sizeof *b);
	struct sdcpp *sb = calloc(1, sizeof *sb);
	if (!b || !sb) {
		free(b);
		free(sb);
		util_set_err(err, "out of memory");
		return NULL;
	}
	b->ops = &sdcpp_ops;
	b->engine = e;
	b->ep = ep;
	b->priv = sb;
	sb->b = b;
	sb->e = e;
	sb->ep = ep;
	return b;
}
