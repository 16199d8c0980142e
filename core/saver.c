/*
 * saver.c: images written to disk off the loop (saver.h).
 *
 * Requests go on a queue under a mutex; the writer thread takes the whole
 * queue as one batch, writes each image (output_write without the directory
 * sync), then syncs each directory of the batch once, moves the batch to
 * the done list and writes the eventfd. The loop (done_cb, watched with
 * engine_watch_fd) takes the done list and calls each callback. A cancelled
 * request stays where it is and is freed without its callback.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "engine.h"
#include "saver.h"
#include "util.h"

struct req {
	uint64_t id;
	struct output_file f;
	int rc;
	char *err;
	int cancelled;
	saver_cb cb;
	void *udata;
	struct req *next;
};

struct saver {
	struct engine *e;
	int efd;
	pthread_t th;
	int started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct req *todo, **todo_tail; /* waiting for the thread */
	struct req *busy;              /* the batch the thread writes */
	struct req *done, **done_tail; /* written, for the loop */
	int stop;
	uint64_t next_id;
};

static void req_free(struct req *r)
{
	output_file_clear(&r->f);
	free(r->err);
	free(r);
}

static void *writer(void *arg)
{
	struct saver *s = arg;
	uint64_t one = 1;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		struct req *batch, *r;
		while (!s->todo && !s->stop)
			pthread_cond_wait(&s->cv, &s->mu);
		if (!s->todo)
			break; /* stopping, nothing left */
		batch = s->todo;
		s->todo = NULL;
		s->todo_tail = &s->todo;
		s->busy = batch;
		pthread_mutex_unlock(&s->mu);

		for (r = batch; r; r = r->next)
			r->rc = output_write(&r->f, 0, &r->err);
		/* each directory once for the batch */
		for (r = batch; r; r = r->next) {
			struct req *q;
			int seen = 0;
			if (r->rc < 0)
				continue;
			for (q = batch; q != r && !seen; q = q->next)
				seen = q->rc == 0 && strcmp(q->f.dir, r->f.dir) == 0;
			if (!seen)
				output_dir_sync(r->f.dir);
		}

		pthread_mutex_lock(&s->mu);
		s->busy = NULL;
		*s->done_tail = batch;
		for (r = batch; r->next; r = r->next)
			;
		s->done_tail = &r->next;
		if (write(s->efd, &one, sizeof one) < 0) {
			/* the counter is already non-zero: the loop will look */
		}
		if (s->stop)
			break;
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* The loop: the eventfd says batches are done. One request at a time is
 * taken off the done list, so a callback may cancel the others. */
static void done_cb(struct engine *e, int fd, short revents, void *udata)
{
	struct saver *s = udata;
	struct req *r;
	uint64_t v;
	(void)e;
	(void)revents;

	if (read(fd, &v, sizeof v) < 0) {
		/* nothing to drain */
	}
	for (;;) {
		pthread_mutex_lock(&s->mu);
		if ((r = s->done)) {
			s->done = r->next;
			if (!s->done)
				s->done_tail = &s->done;
		}
		pthread_mutex_unlock(&s->mu);
		if (!r)
			break;
		if (!r->cancelled) {
			if (r->rc == 0) {
				struct job_output out = r->f.out;
				memset(&r->f.out, 0, sizeof r->f.out);
				r->cb(0, NULL, &out, r->udata);
			} else {
				struct job_output none;
				memset(&none, 0, sizeof none);
				r->cb(-1, r->err ? r->err : "cannot save the image", &none, r->udata);
			}
		}
		req_free(r);
	}
}

struct saver *saver_new(struct engine *e, char **err)
{
	struct saver *s = calloc(1, sizeof *s);

	if (!s) {
		util_set_err(err, "out of memory");
		return NULL;
	}
	s->e = e;
	s->todo_tail = &s->todo;
	s->done_tail = &s->done;
	s->next_id = 1;
	s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->efd < 0) {
		util_set_err(err, "cannot create an event fd: %s", strerror(errno));
		free(s);
		return NULL;
	}
	if (pthread_mutex_init(&s->mu, NULL) != 0 || pthread_cond_init(&s->cv, NULL) != 0 ||
	    engine_watch_fd(e, s->efd, POLLIN, done_cb, s) < 0) {
		util_set_err(err, "cannot set up the image writer");
		close(s->efd);
		free(s);
		return NULL;
	}
	return s;
}

static void free_list(struct req *r)
{
	while (r) {
		struct req *n = r->next;
		req_free(r);
		r = n;
	}
}

void saver_free(struct saver *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = 1;
	free_list(s->todo); /* not started: dropped */
	s->todo = NULL;
	s->todo_tail = &s->todo;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	if (s->started)
		pthread_join(s->th, NULL); /* the batch being written ends first */
	free_list(s->done);
	engine_unwatch_fd(s->e, s->efd);
	close(s->efd);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

uint64_t saver_save(struct saver *s, struct output_file *f, saver_cb cb, void *udata, char **err)
{
	struct req *r = calloc(1, sizeof *r);
	uint64_t id;

	if (!r) {
		output_file_clear(f);
		util_set_err(err, "out of memory");
		return 0;
	}
	r->f = *f;
	memset(f, 0, sizeof *f);
	r->cb = cb;
	r->udata = udata;
	pthread_mutex_lock(&s->mu);
	if (!s->started) {
		/* the thread takes no signal: they stay the loop's (its
		 * self-pipe, SIGCHLD, SIGWINCH), and its writes see no EINTR */
		sigset_t all, old;
		int rc;
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		rc = pthread_create(&s->th, NULL, writer, s);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (rc != 0) {
			pthread_mutex_unlock(&s->mu);
			req_free(r);
			util_set_err(err, "cannot start the image writer thread");
			return 0;
		}
		s->started = 1;
	}
	id = r->id = s->next_id++;
	*s->todo_tail = r;
	s->todo_tail = &r->next;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return id;
}

int saver_idle(struct saver *s)
{
	int idle;

	if (!s)
		return 1;
	pthread_mutex_lock(&s->mu);
	idle = !s->todo && !s->busy && !s->done;
	pthread_mutex_unlock(&s->mu);
	return idle;
}

void saver_cancel(struct saver *s, uint64_t id)
{
	struct req **p, *r;

	if (!s || !id)
		return;
	pthread_mutex_lock(&s->mu);
	for (p = &s->todo; (r = *p); p = &r->next) {
		if (r->id == id) {
			*p = r->next;
			if (s->todo_tail == &r->next)
				s->todo_tail = p;
			req_free(r);
			pthread_mutex_unlock(&s->mu);
			return;
		}
	}
	for (r = s->busy; r; r = r->next)
		if (r->id == id)
			r->cancelled = 1;
	for (r = s->done; r; r = r->next)
		if (r->id == id)
			r->cancelled = 1;
	pthread_mutex_unlock(&s->mu);
}
