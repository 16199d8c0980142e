/*
 * decoder.c: the image worker thread (see decoder.h). One mutex guards the
 * queue, the request in progress and the finished list; the worker holds it
 * only to take a request and to hand back a result, never while it decodes.
 * A byte on a non-blocking pipe wakes the loop per result; a full pipe
 * already means "look", so a failed write is harmless.
 *
 * Built with SDQ_TEST_HOOKS (the tests' own objects, never the installed
 * sdq): SDQ_TEST_DECODE_HOLD=FILE makes the worker wait before each decode
 * while FILE exists, so a test can hold a decode pending as long as it
 * likes and release it by removing the file.
 */
#include "decoder.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif

#include "sixelenc.h"
#include "util.h"

struct qreq {
	struct qreq *next;
	struct decoder_req req; /* path owned */
};

struct decoder {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t th;
	int started;
	int quit;
	int rfd, wfd;
	struct qreq *queue;           /* not started, in order */
	struct qreq *cur;             /* in progress (owned by the worker until done) */
	struct decoder_result *done;  /* finished, oldest first */
	struct decoder_result **tail; /* where the next result goes */
#ifdef SDQ_TEST_HOOKS
	char *hold;
#endif
};

int decoder_req_equal(const struct decoder_req *a, const struct decoder_req *b)
{
	if (a->kind != b->kind || a->mtime_ns != b->mtime_ns || a->file_size != b->file_size ||
	    !a->path || !b->path || strcmp(a->path, b->path) != 0)
		return 0;
	if (a->kind == DECODER_SIXEL)
		return a->box_w == b->box_w && a->box_h == b->box_h && a->upscale == b->upscale &&
		       a->ncolors == b->ncolors && a->diffuse == b->diffuse;
	return a->cols == b->cols && a->rows == b->rows && a->cell_w == b->cell_w &&
	       a->cell_h == b->cell_h;
}

static void qreq_free(struct qreq *q)
{
	while (q) {
		struct qreq *nx = q->next;

		free((char *)q->req.path);
		free(q);
		q = nx;
	}
}

void decoder_result_free(struct decoder_result *r)
{
	while (r) {
		struct decoder_result *nx = r->next;

		free((char *)r->req.path);
		free(r->err);
		free(r->sixel);
		image_free(r->im);
		free(r);
		r = nx;
	}
}

/* Half blocks: the image fitted to the cells' pixels, then one pixel per
 * column and half row (the size the pane draws). */
static struct image *halfblocks(const struct decoder_req *q, char **err)
{
	struct image *im = image_load(q->path, NULL, 0, err), *sc;
	int pw, ph, bc, bh, cw = q->cell_w > 0 ? q->cell_w : 8, ch = q->cell_h > 1 ? q->cell_h : 16;

	if (!im)
		return NULL;
	image_fit(im->w, im->h, q->cols * cw, q->rows * ch, 1, &pw, &ph);
	bc = (pw + cw / 2) / cw;
	bh = (ph * 2 + ch / 2) / ch;
	bc = bc < 1 ? 1 : bc > q->cols ? q->cols : bc;
	bh = bh < 2 ? 2 : bh > q->rows * 2 ? q->rows * 2 : bh;
	bh -= bh % 2;
	sc = image_scale(im, bc, bh);
	image_free(im);
	if (!sc)
		util_set_err(err, "%s: out of memory while scaling", q->path);
	return sc;
}

static void work(const struct decoder_req *q, struct decoder_result *r)
{
	if (q->kind == DECODER_SIXEL) {
		sixelenc_file(q->path, q->box_w, q->box_h, q->upscale, q->ncolors,
		              (enum sixelenc_diffuse)q->diffuse, NULL, &r->sixel, &r->sixel_len, &r->w,
		              &r->h, &r->err);
	} else if (q->cols < 1 || q->rows < 1) {
		util_set_err(&r->err, "no room for an image");
	} else {
		r->im = halfblocks(q, &r->err);
	}
	if (!r->err && !r->sixel && !r->im)
		util_set_err(&r->err, "%s: cannot make the image", q->path);
}

#ifdef SDQ_TEST_HOOKS
/* Wait while the hold file exists (or until the decoder quits). */
static void test_hold(struct decoder *d)
{
	struct timespec ts = {0, 10 * 1000 * 1000};

	while (d->hold && access(d->hold, F_OK) == 0) {
		int quit;

		pthread_mutex_lock(&d->mu);
		quit = d->quit;
		pthread_mutex_unlock(&d->mu);
		if (quit)
			return;
		nanosleep(&ts, NULL);
	}
}
#endif

static void *worker(void *arg)
{
	struct decoder *d = arg;

#ifdef __linux__
	/* below the loop on a busy machine: keys first, pixels after (a
	 * thread's nice value is its own on Linux) */
	if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 10) != 0) {
		/* not allowed: decode at the loop's priority */
	}
#endif
	pthread_mutex_lock(&d->mu);
	for (;;) {
		struct qreq *q;
		struct decoder_result *r;

		while (!d->quit && !d->queue)
			pthread_cond_wait(&d->cv, &d->mu);
		if (d->quit)
			break;
		q = d->queue;
		d->queue = q->next;
		q->next = NULL;
		d->cur = q;
		pthread_mutex_unlock(&d->mu);

#ifdef SDQ_TEST_HOOKS
		test_hold(d);
#endif
		r = calloc(1, sizeof *r);
		if (r) {
			r->req = q->req;
			work(&q->req, r);
			q->req.path = NULL; /* now the result's */
		}

		pthread_mutex_lock(&d->mu);
		d->cur = NULL;
		qreq_free(q);
		if (r) {
			*d->tail = r;
			d->tail = &r->next;
		}
		pthread_mutex_unlock(&d->mu);
		if (write(d->wfd, "x", 1) < 0) {
			/* full: the loop has a wake-up waiting already */
		}
		pthread_mutex_lock(&d->mu);
	}
	pthread_mutex_unlock(&d->mu);
	return NULL;
}

struct decoder *decoder_new(char **err)
{
	struct decoder *d = calloc(1, sizeof *d);
	int p[2];

	if (!d) {
		util_set_err(err, "out of memory");
		return NULL;
	}
	d->rfd = d->wfd = -1;
	d->tail = &d->done;
	if (pipe(p) != 0) {
		util_set_err(err, "decoder: pipe: %s", strerror(errno));
		free(d);
		return NULL;
	}
	d->rfd = p[0];
	d->wfd = p[1];
	for (int i = 0; i < 2; i++) {
		fcntl(p[i], F_SETFD, FD_CLOEXEC);
		fcntl(p[i], F_SETFL, fcntl(p[i], F_GETFL) | O_NONBLOCK);
	}
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cv, NULL);
#ifdef SDQ_TEST_HOOKS
	{
		const char *h = getenv("SDQ_TEST_DECODE_HOLD");

		if (h && *h)
			d->hold = strdup(h);
	}
#endif
	if (pthread_create(&d->th, NULL, worker, d) != 0) {
		util_set_err(err, "decoder: cannot start its thread");
		decoder_free(d);
		return NULL;
	}
	d->started = 1;
	return d;
}

void decoder_free(struct decoder *d)
{
	if (!d)
		return;
	if (d->started) {
		pthread_mutex_lock(&d->mu);
		d->quit = 1;
		pthread_cond_signal(&d->cv);
		pthread_mutex_unlock(&d->mu);
		pthread_join(d->th, NULL);
	}
	pthread_cond_destroy(&d->cv);
	pthread_mutex_destroy(&d->mu);
	qreq_free(d->queue);
	qreq_free(d->cur);
	decoder_result_free(d->done);
	if (d->rfd >= 0)
		close(d->rfd);
	if (d->wfd >= 0)
		close(d->wfd);
#ifdef SDQ_TEST_HOOKS
	free(d->hold);
#endif
	free(d);
}

int decoder_fd(const struct decoder *d)
{
	return d ? d->rfd : -1;
}

/* Under the lock: req is in progress (2), queued (1), or a result waits
 * for it (3). */
static int known_locked(struct decoder *d, const struct decoder_req *req)
{
	if (d->cur && decoder_req_equal(&d->cur->req, req))
		return 2;
	for (struct qreq *q = d->queue; q; q = q->next)
		if (decoder_req_equal(&q->req, req))
			return 1;
	for (struct decoder_result *r = d->done; r; r = r->next)
		if (decoder_req_equal(&r->req, req))
			return 3;
	return 0;
}

int decoder_ask(struct decoder *d, const struct decoder_req *reqs, size_t n)
{
	struct qreq *head = NULL, **tp = &head, *old;

	if (!d)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct qreq *q = calloc(1, sizeof *q);

		if (!q || !reqs[i].path || !(q->req.path = strdup(reqs[i].path))) {
			free(q);
			qreq_free(head);
			return -1;
		}
		{
			const char *path = q->req.path;

			q->req = reqs[i];
			q->req.path = path;
		}
		*tp = q;
		tp = &q->next;
	}
	pthread_mutex_lock(&d->mu);
	old = d->queue;
	d->queue = NULL;
	tp = &d->queue;
	while (head) {
		struct qreq *q = head;

		head = q->next;
		q->next = NULL;
		if (known_locked(d, &q->req)) { /* running, a result waiting, or twice */
			qreq_free(q);
			continue;
		}
		*tp = q;
		tp = &q->next;
	}
	if (d->queue)
		pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->mu);
	qreq_free(old);
	return 0;
}

struct decoder_result *decoder_take(struct decoder *d)
{
	struct decoder_result *r;
	char buf[64];

	if (!d)
		return NULL;
	while (read(d->rfd, buf, sizeof buf) > 0)
		;
	pthread_mutex_lock(&d->mu);
	r = d->done;
	d->done = NULL;
	d->tail = &d->done;
	pthread_mutex_unlock(&d->mu);
	return r;
}

int decoder_busy_with(struct decoder *d, const struct decoder_req *req)
{
	int k;

	if (!d || !req)
		return 0;
	pthread_mutex_lock(&d->mu);
	k = known_locked(d, req);
	pthread_mutex_unlock(&d->mu);
	return k == 3 ? 0 : k;
}
