/*
 * runpod_done.h: a COMPLETED RunPod reply to images on disk.
 *
 * The RunPod backend (runpod.c) hands a job's COMPLETED reply here. This
 * finds the images in its output (output.h), downloads the ones given as URLs
 * through the engine's curl multi (no API key: image URLs are often on other
 * hosts), saves every one (on the engine's writer thread, saver.h: temp
 * file, fsync, rename, directory fsync; on the loop, output_save_to, if
 * there is no such thread) and then says what became of the job. It never commits anything: the caller commits
 * the job once, COMPLETED with all its outputs (or FAILED), so a crash never
 * leaves a COMPLETED job without its images.
 */
#ifndef SDQ_RUNPOD_DONE_H
#define SDQ_RUNPOD_DONE_H

#include <cjson/cJSON.h>
#include "engine.h"
#include "job.h"

enum runpod_done_result {
	RUNPOD_DONE_SAVED,   /* every image saved: the job is COMPLETED with its outputs */
	RUNPOD_DONE_FAILED,  /* the job failed (no image, an unreadable output, downloads
	                        that kept failing): msg says why, raw_output is set */
	RUNPOD_DONE_LATER,   /* nothing saved (a save or a download failed): msg says
	                        why (NULL: out of memory); the outputs are cleared; ask
	                        the endpoint again later (RunPod keeps results 30 min) */
	RUNPOD_DONE_PENDING, /* downloads or the images' writes (saver.h) are under way:
	                        the callback says the rest */
};

struct runpod_done;

/* The end of a PENDING completion: r is SAVED, FAILED or LATER, msg (borrowed
 * for the call) as above. d may be freed (runpod_done_free) inside. */
typedef void (*runpod_done_cb)(struct runpod_done *d, enum runpod_done_result r, const char *msg,
                               void *udata);

/* Take job j's COMPLETED reply root (freed here, whatever happens; j is
 * borrowed until the result is known). *download_fails counts the attempts of
 * this job that ended with a failed download (owned by the caller, kept
 * across attempts: the FETCH_TRIES-th fails the job). Returns the result at
 * once, with *msg malloc'd (or NULL); or RUNPOD_DONE_PENDING with *out set:
 * cb(*out, result, msg, udata) runs later from the loop, exactly once unless
 * runpod_done_free comes first. */
enum runpod_done_result runpod_done_start(struct engine *e, struct job *j, cJSON *root,
                                          int *download_fails, runpod_done_cb cb, void *udata,
                                          struct runpod_done **out, char **msg);
/* Cancel the downloads of d and free it. Accepts NULL. */
void runpod_done_free(struct runpod_done *d);

#endif
