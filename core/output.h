/*
 * output.h: finding the images in a worker's output JSON, and saving them.
 *
 * RunPod workers return images in many shapes (see
 * shared/reference/runpod-api.md): a list of {"image": ..., "seed": n}, a
 * dict with "images", "image_url", ComfyUI's {"type", "data"}, A1111's raw
 * reply... output_extract() walks the whole JSON tree, at any depth, under any
 * key, and recognises an image by its value, not its key: a bare base64 string
 * whose decoded bytes are a PNG, JPEG, WebP or GIF; a data:image/...;base64,
 * URI; or an http(s) URL (to be fetched by the caller, see engine/runpod).
 * Metadata found beside an image in the same object (seed, filename) is kept.
 * Where extracting and saving sit in a job's trail: HACKING.md.
 */
#ifndef SDQ_OUTPUT_H
#define SDQ_OUTPUT_H

#include <stddef.h>
#include <stdint.h>
#include "job.h"

struct output_item {
	unsigned char *data; /* decoded image bytes (malloc'd), or NULL for a URL */
	size_t len;
	char *url;      /* http(s) URL to fetch, or NULL */
	char *format;   /* "png", "jpeg", "webp", "gif"; NULL for a URL until fetched */
	int64_t seed;   /* seed found beside it, or -1 */
	char *filename; /* filename found beside it, or NULL */
};

struct output_result {
	struct output_item *items;
	size_t n_items;
	/* An error the output reports although the job COMPLETED ("status":
	 * "error", an "error" key, ComfyUI "errors"): malloc'd text or NULL. */
	char *error;
	/* Seeds found at the top level when items have none (e.g. sdxl's "seed"). */
	int64_t seed;
};

/* Parse the output JSON text (the value of "output") and fill res. max_image
 * caps the decoded size of one image (0: no cap). 0 on success (even with no images:
 * check res->n_items), -1 if json is not valid JSON, with *err set. */
int output_extract(const char *json, size_t max_image, struct output_result *res, char **err);
/* The same on a parsed output (the "output" member of a reply), which is
 * changed: each base64 image is decoded over its own string, whose buffer
 * the item takes (the string becomes ""), so a big image is not held twice.
 * out stays the caller's, to free with cJSON_Delete. */
struct cJSON;
int output_extract_tree(struct cJSON *out, size_t max_image, struct output_result *res,
                        char **err);
/* Replace every string of the tree longer than max bytes by a note of its
 * length, freeing it: what is kept of a reply for the record has its shape,
 * not its megabytes. depth: 0. */
void output_tree_shorten(struct cJSON *node, size_t max, int depth);
void output_result_clear(struct output_result *res);

/* The message for a job whose worker failed it, or whose COMPLETED output
 * holds no image. error: the status's "error" (a string's text, or the JSON
 * text of any other value), or text already made; output_json: the status's
 * "output" JSON text; either may be NULL. A runpod-python handler exception
 * (a JSON object or string with error_type / error_message /
 * error_traceback) gives its message first, then the type, then the
 * traceback; a list (a validator's) one line per error; errors an output
 * reports (A1111's "detail" string or 422 list, "error"/"errors", ComfyUI's
 * "details") follow. When the text says an input was not accepted
 * ("... is not a valid input", "Required input is missing", ...) a line
 * after the first names the template tname and --template. Malloc'd; NULL
 * when there is nothing to say. */
char *output_failure_text(const char *error, const char *output_json, const char *tname);

/* The image format of bytes by their magic number: "png", "jpeg", "webp",
 * "gif", or NULL. */
const char *output_sniff(const unsigned char *data, size_t len);

/* Decode base64 (standard or URL-safe alphabet, white space and missing
 * padding tolerated). Malloc'd bytes in *out, *outlen; -1 if invalid or the
 * result would exceed max (0: no cap). */
int output_base64_decode(const char *s, size_t slen, size_t max, unsigned char **out,
                         size_t *outlen);

/* Can sdq decode saved image o (its size as declared by its header, filled
 * by output_save) within its limits, IMAGE_MAX_DIM pixels a side (image.h)?
 * 1 if so, or if the size is unknown; 0 for an image such as a PNG declaring
 * 100000x100000: it is saved as sent but cannot be shown, and a job whose
 * images are all like it counts as failed for `sdq wait` (see README). */
int output_decodable(const struct job_output *o);

/* Save one image of job j atomically: write to a temp file in
 * images_dir/YYYY-MM-DD/ (the day of j->created_at, local time), fsync, rename
 * to "<j->id>-<index>.<ext>", fsync the directory. A PNG without a
 * "parameters" text chunk gains one in the AUTOMATIC1111 format from j->params
 * and seed (pngmeta.h); other bytes are written as sent. Fills *out (path,
 * index, size when known, seed, format, bytes). 0, or -1 with *err (disk full,
 * permissions...) leaving no partial file behind. */
int output_save(const char *images_dir, const struct job *j, int index, const unsigned char *data,
                size_t len, int64_t seed, struct job_output *out, char **err);

/* Directories whose new entries are not synced yet (output_save_to). A
 * plain record: zero-initialise it. */
struct output_dirs {
	char **v;
	size_t n, cap;
};
/* output_save, except that the directory is not fsynced here: it is added
 * to *dirs, and output_dirs_sync(dirs) must run before anything durable
 * points at the image (the engine does it before its commit: one directory
 * fsync for every image of a pass). dirs NULL: as output_save. */
int output_save_to(const char *images_dir, const struct job *j, int index,
                   const unsigned char *data, size_t len, int64_t seed, struct output_dirs *dirs,
                   struct job_output *out, char **err);
/* One image on its way to disk, in two steps, so the second may run on
 * another thread (core/saver.c): output_prepare (on the loop: sniff, names,
 * the A1111 parameters chunk) and output_write (temp file, write, fsync,
 * rename; thread-safe; touches nothing but f and the file system). */
struct output_file {
	char *dir;             /* the day directory */
	char *tmp_base;        /* the temp file's name without its suffix */
	unsigned char *data;   /* the bytes to write (owned) */
	size_t len;
	struct job_output out; /* what the job records once it is written */
};
/* Fill *f for image index of job j (as output_save would write it). take:
 * data (malloc'd) becomes f's or is freed, even on failure; else it is
 * copied. 0, or -1 with *err (not an image, path too long, no memory). */
int output_prepare(const char *images_dir, const struct job *j, int index, unsigned char *data,
                   size_t len, int take, int64_t seed, struct output_file *f, char **err);
/* Write f: temp file, fsync, rename to f->out.path; sync_dir: fsync the
 * directory too. 0, or -1 with *err leaving no partial file. */
int output_write(struct output_file *f, int sync_dir, char **err);
/* Free what f holds (NULL allowed). */
void output_file_clear(struct output_file *f);
/* fsync one directory (best effort). */
void output_dir_sync(const char *dir);

/* fsync each directory of d once (best effort, like output_save's), then
 * forget them. */
void output_dirs_sync(struct output_dirs *d);
/* Forget the directories without syncing them and free d's memory. */
void output_dirs_clear(struct output_dirs *d);

#endif
