/*
 * sdcpp.h: the local stable-diffusion.cpp backend's testable parts.
 *
 * The backend itself (sdcpp_backend_new) is declared in backend.h. This header
 * holds the pieces it is built from, public so the tests can drive them alone:
 *
 * - the parser of what `sd-cli` prints is its own module, sdcpp_parse.h;
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
#include "sdcpp_parse.h"

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

/* Look at the start of the model file at path, as sd-cli will: safetensors
 * (an 8-byte little-endian header length, then that much JSON, within the
 * file), GGUF (magic "GGUF"), a checkpoint (a zip archive, or a pickle).
 * Returns the format's name ("safetensors", "gguf", "checkpoint (zip)",
 * "checkpoint (pickle)"), or NULL with *why (malloc'd) saying what is wrong
 * in a user's words: "model file not found", "model file is empty", "not a
 * model file (unknown format)", "model file is cut short (...)", ... Reads
 * at most a few bytes; never the whole file. */
const char *sdcpp_model_check(const char *path, char **why);

#endif
