/*
 * sdcpp_cmd.c: the command line of a local run (part of the local backend,
 * sdcpp.h): argument splitting, the argv of one run (never a shell),
 * finding the executable on PATH, and checking a model file's format before
 * a run is started. No state, no children: sdcpp.c runs what this builds.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "sdcpp.h"
#include "util.h"

/* ------------------------------------------------------------------------ */
/* Helpers: argv, PATH search */

void sdcpp_strv_free(char **v)
{
	if (!v)
		return;
	for (char **q = v; *q; q++)
		free(*q);
	free(v);
}

/* A growable NULL-terminated string vector. */
struct strv {
	char **v;
	size_t n, cap;
	int oom;
};

static void strv_addn(struct strv *sv, const char *s, size_t len)
{
	if (sv->oom)
		return;
	if (sv->n + 2 > sv->cap) {
		size_t nc = sv->cap ? sv->cap * 2 : 16;
		char **nv = realloc(sv->v, nc * sizeof *nv);
		if (!nv) {
			sv->oom = 1;
			return;
		}
		sv->v = nv;
		sv->cap = nc;
	}
	char *c = malloc(len + 1);
	if (!c) {
		sv->oom = 1;
		return;
	}
	memcpy(c, s, len);
	c[len] = 0;
	sv->v[sv->n++] = c;
	sv->v[sv->n] = NULL;
}

static void strv_add(struct strv *sv, const char *s)
{
	strv_addn(sv, s, strlen(s));
}

static void strv_addf(struct strv *sv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void strv_addf(struct strv *sv, const char *fmt, ...)
{
	char buf[64];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	strv_add(sv, buf);
}

static char **strv_finish(struct strv *sv)
{
	if (!sv->oom && !sv->v) {
		sv->v = calloc(1, sizeof *sv->v);
		if (!sv->v)
			sv->oom = 1;
	}
	if (sv->oom) {
		if (sv->v) {
			sv->v[sv->n] = NULL;
			sdcpp_strv_free(sv->v);
		}
		return NULL;
	}
	return sv->v;
}

static void split_into(struct strv *sv, const char *s)
{
	while (s && *s) {
		while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
			s++;
		const char *w = s;
		while (*s && *s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
			s++;
		if (s > w)
			strv_addn(sv, w, (size_t)(s - w));
	}
}

char **sdcpp_split_args(const char *s, size_t *n)
{
	struct strv sv = {0};
	split_into(&sv, s);
	char **v = strv_finish(&sv);
	if (n)
		*n = v ? sv.n : 0;
	return v;
}

char **sdcpp_build_argv(const char *exe, const struct config_endpoint *ep,
                        const struct job_params *p, const char *out_path)
{
	struct strv sv = {0};
	strv_add(&sv, exe);
	if (ep->model) {
		strv_add(&sv, "-m");
		strv_add(&sv, ep->model);
	}
	static const struct {
		const char *flag;
		size_t off;
	} files[] = {
	    {"--diffusion-model", offsetof(struct config_endpoint, diffusion_model)},
	    {"--vae", offsetof(struct config_endpoint, vae)},
	    {"--clip_l", offsetof(struct config_endpoint, clip_l)},
	    {"--clip_g", offsetof(struct config_endpoint, clip_g)},
	    {"--t5xxl", offsetof(struct config_endpoint, t5xxl)},
	    {"--llm", offsetof(struct config_endpoint, llm)},
	};
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		const char *v = *(char *const *)((const char *)ep + files[i].off);
		if (v && *v) {
			strv_add(&sv, files[i].flag);
			strv_add(&sv, v);
		}
	}
	strv_add(&sv, "-p");
	strv_add(&sv, p->prompt ? p->prompt : "");
	if (p->negative_prompt && *p->negative_prompt) {
		strv_add(&sv, "-n");
		strv_add(&sv, p->negative_prompt);
	}
	strv_add(&sv, "-s");
	strv_addf(&sv, "%" PRId64, p->seed >= 0 ? p->seed : (int64_t)-1);
	if (p->steps > 0) {
		strv_add(&sv, "--steps");
		strv_addf(&sv, "%d", p->steps);
	}
	if (p->has_cfg) {
		strv_add(&sv, "--cfg-scale");
		strv_addf(&sv, "%g", p->cfg);
	}
	if (p->width > 0) {
		strv_add(&sv, "-W");
		strv_addf(&sv, "%d", p->width);
	}
	if (p->height > 0) {
		strv_add(&sv, "-H");
		strv_addf(&sv, "%d", p->height);
	}
	if (p->sampler && *p->sampler) {
		strv_add(&sv, "--sampling-method");
		strv_add(&sv, p->sampler);
	}
	if (p->count > 1) {
		strv_add(&sv, "-b");
		strv_addf(&sv, "%d", p->count);
	}
	if (ep->threads > 0) {
		strv_add(&sv, "-t");
		strv_addf(&sv, "%d", ep->threads);
	}
	strv_add(&sv, "-o");
	strv_add(&sv, out_path);
	split_into(&sv, ep->extra_args);
	return strv_finish(&sv);
}

char *sdcpp_find_exe(const struct config_endpoint *ep, const char *path, char **err)
{
	const char *name = ep && ep->name ? ep->name : "local";
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	if (ep && ep->exe && *ep->exe) {
		if (strchr(ep->exe, '/')) {
			char *f = util_find_exe(ep->exe, NULL);
			if (f)
				return f;
			util_set_err(
			    err,
			    "stable-diffusion.cpp executable '%s' (exe in [local \"%s\"]) is "
			    "not an executable file: %s",
			    ep->exe, name,
			    access(ep->exe, F_OK) ? strerror(errno) : "not executable");
			return NULL;
		}
		char *f = util_find_exe(ep->exe, path);
		if (f)
			return f;
		util_set_err(
		    err,
		    "stable-diffusion.cpp executable '%s' (exe in [local \"%s\"]) not found on "
		    "PATH (%s); set exe to its full path",
		    ep->exe, name, path);
		return NULL;
	}
	char *f = util_find_exe("sd-cli", path);
	if (!f)
		f = util_find_exe("sd", path);
	if (f)
		return f;
	util_set_err(
	    err,
	    "stable-diffusion.cpp executable not found: tried 'sd-cli' and 'sd' on PATH (%s); "
	    "install it or set exe = /path/to/sd-cli in [local \"%s\"] of the config",
	    path, name);
	return NULL;
}

/* ------------------------------------------------------------------------ */
/* Model files */

/* pread exactly n bytes at off; 0 or -1. */
static int read_at(int fd, void *buf, size_t n, off_t off)
{
	size_t got = 0;
	while (got < n) {
		ssize_t k = pread(fd, (char *)buf + got, n - got, off + (off_t)got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		got += (size_t)k;
	}
	return 0;
}

const char *sdcpp_model_check(const char *path, char **why)
{
	struct stat sb;
	unsigned char h[16];
	const char *fmt = NULL;
	if (!path || !*path) {
		util_set_err(why, "no model file given");
		return NULL;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			util_set_err(why, "model file not found");
		else
			util_set_err(why, "cannot open the model file: %s", strerror(errno));
		return NULL;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		util_set_err(why, "the model path is not a regular file");
		goto out;
	}
	if (sb.st_size == 0) {
		util_set_err(why, "model file is empty");
		goto out;
	}
	memset(h, 0, sizeof h);
	if (read_at(fd, h, sb.st_size < 16 ? (size_t)sb.st_size : 16, 0) < 0) {
		util_set_err(why, "cannot read the model file: %s", strerror(errno));
		goto out;
	}
	if (memcmp(h, "GGUF", 4) == 0) {
		fmt = "gguf";
	} else if (memcmp(h, "PK\x03\x04", 4) == 0) {
		fmt = "checkpoint (zip)";
	} else if (h[0] == 0x80 && h[1] >= 2 && h[1] <= 5) {
		fmt = "checkpoint (pickle)";
	} else if (sb.st_size >= 10 && h[8] == '{') {
		uint64_t n = 0;
		for (int i = 7; i >= 0; i--)
			n = n << 8 | h[i];
		char last = 0;
		if (n < 2 || n > (100u << 20)) {
			util_set_err(why, "not a model file (safetensors header length %" PRIu64
			             " is not plausible)", n);
		} else if (n > (uint64_t)sb.st_size - 8) {
			util_set_err(why, "model file is cut short (its header says %" PRIu64
			             " bytes, the file has %lld)", n + 8, (long long)sb.st_size);
		} else {
			/* the JSON ends with '}' (padding spaces allowed) */
			char tail[64];
			size_t tn = n < sizeof tail ? (size_t)n : sizeof tail;
			if (read_at(fd, tail, tn, (off_t)(8 + n - tn)) == 0)
				for (size_t i = tn; i > 0 && !last; i--)
					if (tail[i - 1] != ' ')
						last = tail[i - 1];
			if (last == '}')
				fmt = "safetensors";
			else
				util_set_err(why, "not a model file (a broken safetensors header)");
		}
	} else {
		util_set_err(why, "not a model file (unknown format)");
	}
out:
	close(fd);
	return fmt;
}
