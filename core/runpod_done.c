/*
 * runpod_done.c: a COMPLETED RunPod reply to images on disk (runpod_done.h).
 *
 * The trail: runpod_done_start finds the images in the reply's own cJSON tree
 * (output_extract_tree decodes base64 over its strings: no printed copy, no
 * second parse), keeps a shortened print of the output for the record, starts
 * a download per image given as a URL (fetch_done collects them), and once
 * nothing is pending done_save hands every image to the engine's writer
 * thread (saver.h; save_cb collects them, back on the loop) and sets the
 * job COMPLETED with its outputs once all are on disk. The caller
 * (runpod.c) commits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "backend.h"
#include "config.h"
#include "http.h"
#include "image.h"
#include "output.h"
#include "runpod_done.h"
#include "saver.h"
#include "util.h"

#define IMAGE_MAX ((size_t)64 << 20)
#define FETCH_TRIES 5
#define FETCH_TIMEOUT_MS 300000
/* A reply's strings longer than this are left out of the output kept for
 * the record (raw_output) once its images were taken. */
#define RAW_STRING_MAX (64 * 1024)

struct fetch_slot {
	struct runpod_done *d;
	size_t idx;
	uint64_t req;          /* its download */
	uint64_t save;         /* its write on the saver's thread */
	struct job_output out; /* what the write gave */
};

struct runpod_done {
	struct engine *e;
	struct job *j;
	struct output_result res;
	struct fetch_slot *slots;
	size_t pending;
	char *fetch_err;
	char *raw; /* the output as printed for the record */
	int *download_fails;
	runpod_done_cb cb;
	void *udata;
	struct saver *saver; /* writing the images, or NULL */
	size_t saving;       /* writes not back yet */
	char *save_err;      /* the first write that failed */
};

void runpod_done_free(struct runpod_done *d)
{
	if (!d)
		return;
	for (size_t i = 0; d->slots && i < d->res.n_items; i++) {
		if (d->slots[i].req)
			http_cancel(engine_http(d->e), d->slots[i].req);
		if (d->slots[i].save)
			saver_cancel(d->saver, d->slots[i].save);
		free(d->slots[i].out.path);
		free(d->slots[i].out.format);
	}
	output_result_clear(&d->res);
	free(d->slots);
	free(d->fetch_err);
	free(d->save_err);
	free(d->raw);
	free(d);
}

/* Images saved as sent whose header declares more pixels than sdq decodes
 * (output_decodable) are named in the job's error, kept as a warning beside
 * the COMPLETED state: `sdq wait` fails a job with no decodable image. */
static void oversize_warning(struct job *j)
{
	char msg[1024];
	int len = 0, n = 0;

	for (size_t i = 0; i < j->n_outputs; i++) {
		const struct job_output *o = &j->outputs[i];
		if (output_decodable(o))
			continue;
		if (n++ < 3 && len >= 0 && (size_t)len < sizeof msg)
			len += snprintf(msg + len, sizeof msg - (size_t)len,
			                "%simage %d declares %dx%d pixels", n > 1 ? ", " : "",
			                o->index + 1, o->width, o->height);
	}
	if (!n || len < 0 || (size_t)len >= sizeof msg)
		return;
	snprintf(msg + len, sizeof msg - (size_t)len,
	         "%s: more than sdq decodes (%d a side), saved as sent but not shown%s%s",
	         n > 3 ? ", ..." : "", IMAGE_MAX_DIM, j->error ? "; " : "",
	         j->error ? j->error : "");
	job_set_str(&j->error, msg);
}

/* The job is COMPLETED with the outputs it holds now. */
static enum runpod_done_result done_completed(struct runpod_done *d)
{
	struct job *j = d->j;

	j->state = JOB_COMPLETED;
	j->finished_at = job_now_ms();
	j->progress = 1.0;
	/* An error reported beside images is kept as a warning; an earlier
	 * "cannot save" is over. */
	job_set_str(&j->error, d->res.error);
	oversize_warning(j);
	return RUNPOD_DONE_SAVED;
}

/* A download failed: fail the job after FETCH_TRIES, else later. 1 if so
 * (*res, *msg set), 0 if every image is here. */
static int fetch_failed(struct runpod_done *d, enum runpod_done_result *res, char **msg)
{
	char buf[1024];

	if (!d->fetch_err)
		return 0;
	if (++*d->download_fails >= FETCH_TRIES) {
		snprintf(buf, sizeof buf,
		         "the job completed but its image could not be downloaded: %s",
		         d->fetch_err);
		*msg = strdup(buf);
		job_set_str(&d->j->raw_output, d->raw);
		*res = RUNPOD_DONE_FAILED;
		return 1;
	}
	*msg = strdup(d->fetch_err);
	job_clear_outputs(d->j);
	*res = RUNPOD_DONE_LATER;
	return 1;
}

/* Every image is here: save them all on the loop, or none (when there is
 * no saver thread). */
static enum runpod_done_result done_save_sync(struct runpod_done *d, char **msg)
{
	struct job *j = d->j;
	struct config *cfg = engine_config(d->e);
	char buf[1024];

	*msg = NULL;
	job_clear_outputs(j);
	for (size_t i = 0; i < d->res.n_items; i++) {
		struct output_item *it = &d->res.items[i];
		struct job_output out;
		char *err = NULL;
		int64_t seed = it->seed >= 0 ? it->seed : d->res.seed;
		memset(&out, 0, sizeof out);
		/* the directory is synced by the engine before its commit */
		if (output_save_to(cfg->images_dir, j, (int)i, it->data, it->len, seed,
		                   engine_output_dirs(d->e), &out, &err) < 0) {
			snprintf(buf, sizeof buf, "cannot save: image %zu: %s", i + 1,
			         err ? err : "error");
			*msg = strdup(buf);
			free(err);
			job_clear_outputs(j);
			return RUNPOD_DONE_LATER;
		}
		if (job_add_output(j, &out) < 0) {
			free(out.path);
			free(out.format);
			*msg = strdup("out of memory");
			job_clear_outputs(j);
			return RUNPOD_DONE_LATER;
		}
		free(out.path);
		free(out.format);
	}
	return done_completed(d);
}

/* Every write is back: the job is COMPLETED with all its outputs, or, if
 * one failed, it stays as it was (later). */
static enum runpod_done_result saves_done(struct runpod_done *d, char **msg)
{
	struct job *j = d->j;

	*msg = NULL;
	job_clear_outputs(j);
	if (d->save_err) {
		*msg = strdup(d->save_err);
		return RUNPOD_DONE_LATER;
	}
	for (size_t i = 0; i < d->res.n_items; i++) {
		if (job_add_output(j, &d->slots[i].out) < 0) {
			*msg = strdup("out of memory");
			job_clear_outputs(j);
			return RUNPOD_DONE_LATER;
		}
	}
	return done_completed(d);
}

static void save_cb(int rc, const char *err, struct job_output *out, void *udata)
{
	struct fetch_slot *fs = udata;
	struct runpod_done *d = fs->d;
	enum runpod_done_result res;
	char buf[1024], *m = NULL;

	fs->save = 0;
	d->saving--;
	if (rc < 0) {
		if (!d->save_err) {
			snprintf(buf, sizeof buf, "cannot save: image %zu: %s", fs->idx + 1, err);
			d->save_err = strdup(buf);
		}
	} else {
		fs->out = *out; /* taken */
	}
	if (d->saving)
		return;
	res = saves_done(d, &m);
	d->cb(d, res, m, d->udata); /* may free d */
	free(m);
}

/* Every image is here (or a download failed): hand them all to the saver's
 * thread (PENDING: save_cb says the rest), or save them on the loop
 * without one. */
static enum runpod_done_result done_save(struct runpod_done *d, char **msg)
{
	struct config *cfg = engine_config(d->e);
	enum runpod_done_result res;
	char buf[1024];

	*msg = NULL;
	if (fetch_failed(d, &res, msg))
		return res;
	if (!(d->saver = engine_saver(d->e)))
		return done_save_sync(d, msg);
	for (size_t i = 0; i < d->res.n_items; i++) {
		struct output_item *it = &d->res.items[i];
		struct output_file f;
		char *err = NULL;
		int64_t seed = it->seed >= 0 ? it->seed : d->res.seed;
		unsigned char *data = it->data;
		it->data = NULL; /* taken by output_prepare */
		if (output_prepare(cfg->images_dir, d->j, (int)i, data, it->len, 1, seed, &f,
		                   &err) < 0 ||
		    !(d->slots[i].save = saver_save(d->saver, &f, save_cb, &d->slots[i], &err))) {
			snprintf(buf, sizeof buf, "cannot save: image %zu: %s", i + 1,
			         err ? err : "error");
			free(err);
			/* none is kept: the writes started are cancelled */
			for (size_t k = 0; k < i; k++) {
				saver_cancel(d->saver, d->slots[k].save);
				d->slots[k].save = 0;
			}
			d->saving = 0;
			*msg = strdup(buf);
			job_clear_outputs(d->j);
			return RUNPOD_DONE_LATER;
		}
		d->saving++;
	}
	return RUNPOD_DONE_PENDING;
}

static void fetch_done(struct http *h, const struct http_response *r, void *udata)
{
	struct fetch_slot *fs = udata;
	struct runpod_done *d = fs->d;
	struct output_item *it = &d->res.items[fs->idx];
	enum runpod_done_result res;
	char msg[512], *m = NULL;
	(void)h;

	fs->req = 0;
	d->pending--;
	if (r->error || r->status != 200) {
		if (r->error)
			snprintf(msg, sizeof msg, "downloading image %zu: %s", fs->idx + 1,
			         r->error);
		else
			snprintf(msg, sizeof msg, "downloading image %zu: HTTP %ld", fs->idx + 1,
			         r->status);
		if (!d->fetch_err)
			d->fetch_err = strdup(msg);
	} else {
		const char *fmt = output_sniff((const unsigned char *)r->body, r->len);
		if (!fmt) {
			if (!d->fetch_err) {
				snprintf(msg, sizeof msg,
				         "downloading image %zu: the server sent something that is "
				         "not a PNG, JPEG, WebP or GIF image",
				         fs->idx + 1);
				d->fetch_err = strdup(msg);
			}
		} else {
			it->data = malloc(r->len ? r->len : 1);
			if (it->data) {
				memcpy(it->data, r->body, r->len);
				it->len = r->len;
				free(it->format);
				it->format = strdup(fmt);
			} else if (!d->fetch_err) {
				d->fetch_err = strdup("out of memory");
			}
		}
	}
	if (d->pending)
		return;
	res = done_save(d, &m);
	if (res == RUNPOD_DONE_PENDING)
		return; /* the writes are under way: save_cb ends it */
	d->cb(d, res, m, d->udata); /* may free d */
	free(m);
}

enum runpod_done_result runpod_done_start(struct engine *e, struct job *j, cJSON *root,
                                          int *download_fails, runpod_done_cb cb, void *udata,
                                          struct runpod_done **out, char **msg)
{
	cJSON *o = cJSON_GetObjectItemCaseSensitive(root, "output");
	struct runpod_done *d;
	char *json = NULL, *err = NULL;
	enum runpod_done_result res;
	int rc;

	*out = NULL;
	*msg = NULL;
	if (!(d = calloc(1, sizeof *d))) {
		cJSON_Delete(root);
		return RUNPOD_DONE_LATER;
	}
	d->e = e;
	d->j = j;
	d->download_fails = download_fails;
	d->cb = cb;
	d->udata = udata;
	if (!o || cJSON_IsNull(o)) {
		job_set_str(&j->raw_output, o ? "null" : "(no output)");
		cJSON_Delete(root);
		runpod_done_free(d);
		*msg = strdup("completed without an image: the endpoint returned no output (the "
		              "worker's result may have been too large; consider an S3 bucket)");
		return RUNPOD_DONE_FAILED;
	}
	/* The images are decoded over the reply's own strings (no printed
	 * copy, no second parse); what is printed for the record after that
	 * holds no image bytes. Peak: the body and its tree, about 2x. */
	rc = output_extract_tree(o, IMAGE_MAX, &d->res, &err);
	output_tree_shorten(o, RAW_STRING_MAX, 0);
	json = cJSON_PrintUnformatted(o);
	cJSON_Delete(root);
	if (rc < 0 || !json) {
		if (json)
			job_set_str(&j->raw_output, json);
		free(json);
		runpod_done_free(d);
		if (rc < 0) {
			*msg = err ? err : strdup("completed with an unreadable output");
			return RUNPOD_DONE_FAILED;
		}
		free(err);
		return RUNPOD_DONE_LATER;
	}
	free(err);
	d->raw = json;
	if (d->res.n_items == 0) {
		/* what the worker said instead (A1111's "detail", an "error"...) */
		char *m = output_failure_text(d->res.error, NULL, j->params.template_name);
		job_set_str(&j->raw_output, d->raw);
		runpod_done_free(d);
		*msg = m ? m : strdup("completed without an image");
		return RUNPOD_DONE_FAILED;
	}
	if (!(d->slots = calloc(d->res.n_items, sizeof *d->slots))) {
		runpod_done_free(d);
		job_clear_outputs(j);
		*msg = strdup("out of memory");
		return RUNPOD_DONE_LATER;
	}
	for (size_t i = 0; i < d->res.n_items; i++) {
		struct output_item *it = &d->res.items[i];
		struct http_request req;
		char *rerr = NULL;
		d->slots[i].d = d;
		d->slots[i].idx = i;
		if (it->data || !it->url)
			continue;
		memset(&req, 0, sizeof req);
		req.url = it->url;
		req.max_response = IMAGE_MAX;
		req.timeout_ms = FETCH_TIMEOUT_MS;
		req.follow_redirects = 1;
		/* no API key: image URLs are often on other hosts (S3) */
		d->slots[i].req =
		    http_request(engine_http(e), &req, fetch_done, &d->slots[i], &rerr);
		if (!d->slots[i].req) {
			if (!d->fetch_err)
				d->fetch_err = rerr ? rerr : strdup("cannot start the download");
			else
				free(rerr);
			continue;
		}
		d->pending++;
	}
	if (d->pending) {
		*out = d;
		return RUNPOD_DONE_PENDING;
	}
	res = done_save(d, msg);
	if (res == RUNPOD_DONE_PENDING) {
		*out = d; /* the images are being written: save_cb ends it */
		return res;
	}
	runpod_done_free(d);
	return res;
}
