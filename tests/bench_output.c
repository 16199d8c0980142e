/*
 * bench_output.c: how long the driver spends on a finished job's output:
 * output_extract on an sdxl-shaped output of four 1024x1024 noise PNGs as
 * data URIs (about 16 MB of JSON, the worst realistic case), base64 decoding
 * alone, and output_save (parameters chunk, write, fsync, rename) per image.
 */
#include <png.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "job.h"
#include "output.h"
#include "th_png.h"
#include "util.h"

/* A w x h PNG of noise (barely compressible, like a real render) at zlib
 * level 1. */
static unsigned char *noise_png(int w, int h, uint32_t seed, size_t *len)
{
	size_t n = (size_t)w * (size_t)h * 3;
	unsigned char *rgb = malloc(n), *png;
	if (!rgb)
		abort();
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		rgb[i] = (unsigned char)(seed >> 16);
	}
	png = th_png_write(w, h, rgb, NULL, NULL, 0, 1, len);
	free(rgb);
	return png;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(void)
{
	enum { N = 4, REPS = 5 };
	unsigned char *png[N];
	size_t plen[N];
	char *enc[N];
	size_t total = 0;
	for (int i = 0; i < N; i++) {
		png[i] = noise_png(1024, 1024, (uint32_t)i + 1, &plen[i]);
		enc[i] = th_base64(png[i], plen[i]);
		total += strlen(enc[i]) + 32;
	}
	total += strlen(enc[0]) + 32; /* image_url repeats the first */
	char *json = malloc(total + 256), *p = json;
	p += sprintf(p, "{\"images\":[");
	for (int i = 0; i < N; i++)
		p += sprintf(p, "%s\"data:image/png;base64,%s\"", i ? "," : "", enc[i]);
	p += sprintf(p, "],\"image_url\":\"data:image/png;base64,%s\",\"seed\":1}", enc[0]);
	size_t jlen = (size_t)(p - json);

	double t0 = now_s();
	size_t items = 0;
	for (int r = 0; r < REPS; r++) {
		struct output_result res;
		char *err = NULL;
		if (output_extract(json, 64u << 20, &res, &err) < 0) {
			fprintf(stderr, "extract failed: %s\n", err);
			return 1;
		}
		items = res.n_items;
		output_result_clear(&res);
	}
	double ex = (now_s() - t0) / REPS;
	printf("output_extract: %.1f MB JSON (%d images of 1024x1024, one repeated) -> %zu images "
	       "in %.1f ms (%.0f MB/s)\n",
	       jlen / 1e6, N, items, ex * 1e3, jlen / 1e6 / ex);

	size_t elen = strlen(enc[0]);
	t0 = now_s();
	for (int r = 0; r < REPS; r++) {
		unsigned char *out;
		size_t ol;
		if (output_base64_decode(enc[0], elen, 0, &out, &ol) < 0)
			return 1;
		free(out);
	}
	double dt = (now_s() - t0) / REPS;
	printf("output_base64_decode: %.1f MB in %.1f ms (%.0f MB/s)\n", elen / 1e6, dt * 1e3,
	       elen / 1e6 / dt);

	const char *tmp = getenv("TMPDIR");
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/bench_output.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		return 1;
	struct job *j = job_new();
	j->id = 1;
	j->created_at = job_now_ms();
	job_set_str(&j->params.prompt, "benchmark prompt");
	t0 = now_s();
	for (int i = 0; i < N; i++) {
		struct job_output o;
		char *err = NULL;
		if (output_save(dir, j, i, png[i], plen[i], 1, &o, &err) < 0) {
			fprintf(stderr, "save failed: %s\n", err);
			return 1;
		}
		free(o.path);
		free(o.format);
	}
	double sv = (now_s() - t0) / N;
	printf("output_save: %.1f MB PNG with parameters chunk, fsync, rename: %.1f ms per image\n",
	       plen[0] / 1e6, sv * 1e3);
	if (util_remove_tree(dir) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
	job_free(j);
	for (int i = 0; i < N; i++) {
		free(png[i]);
		free(enc[i]);
	}
	free(json);
	return 0;
}
