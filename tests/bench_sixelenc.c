/*
 * bench_sixelenc.c: sixel encoding cost and size for photo-like images, beside
 * img2sixel (libsixel-bin) on the same PNG files in the same run.
 *
 * For 512x512 and 1024x1024 at 256 and 64 colours, without diffusion (what
 * previews use): sdq's encode alone, sdq's decode+encode of the PNG (the same
 * work img2sixel does), and img2sixel -p N -d none (process start included),
 * as the median of a few runs; then the ratios. Figures only; nothing is
 * asserted.
 */
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sixelenc.h"
#include "th_png.h"

#define RUNS 5

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_d);
	return v[n / 2];
}

/* A blurred plasma: smooth colour fields like a render, with some detail. */
static struct image *plasma(int w, int h)
{
	struct image *im = image_new(w, h);
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			double u = (double)x / w, v = (double)y / h;
			double a = sin(u * 9.1 + sin(v * 4.3) * 2) + cos(v * 7.7 - u * 3.1);
			double b = sin((u + v) * 11.3) * 0.6 + cos(u * 23.0) * 0.15;
			double c = cos(hypot(u - 0.4, v - 0.6) * 18.0);
			unsigned char *p = im->rgb + ((size_t)y * w + x) * 3;
			p[0] = (unsigned char)(127.5 + 60 * a + 30 * c);
			p[1] = (unsigned char)(127.5 + 70 * b + 40 * a * 0.5);
			p[2] = (unsigned char)(127.5 + 80 * c - 20 * b);
		}
	return im;
}

/* Run img2sixel on path; its stdout size in *bytes; wall ms, or -1. */
static double run_img2sixel(const char *path, int colors, size_t *bytes)
{
	int fd[2];
	pid_t pid;
	char cbuf[16], buf[65536];
	double t0 = now_ms();
	ssize_t n;
	int st;

	snprintf(cbuf, sizeof cbuf, "%d", colors);
	if (pipe(fd) != 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(fd[1], 1);
		close(fd[0]);
		close(fd[1]);
		execlp("img2sixel", "img2sixel", "-p", cbuf, "-d", "none", path, (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	*bytes = 0;
	while ((n = read(fd[0], buf, sizeof buf)) > 0)
		*bytes += (size_t)n;
	close(fd[0]);
	waitpid(pid, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		return -1;
	return now_ms() - t0;
}

int main(void)
{
	static const int sizes[] = {512, 1024}, colors[] = {256, 64};
	const char *tmp = getenv("TMPDIR");
	int have_img2sixel = system("command -v img2sixel >/dev/null 2>&1") == 0;

	printf("%-10s %6s %10s %10s %12s %10s %12s %8s %8s\n", "image", "colors", "enc ms",
	       "file+enc", "bytes", "img2sixel", "i2s bytes", "t ratio", "b ratio");
	for (size_t si = 0; si < 2; si++) {
		int s = sizes[si];
		struct image *im = plasma(s, s);
		char path[4096];

		snprintf(path, sizeof path, "%s/bench_%d.png", tmp && *tmp ? tmp : "/tmp", s);
		if (th_png_write_file(path, s, s, im->rgb) < 0) {
			fprintf(stderr, "cannot write %s\n", path);
			return 1;
		}
		for (size_t ci = 0; ci < 2; ci++) {
			double te[RUNS], tf[RUNS], ti[RUNS];
			size_t bytes = 0, ibytes = 0;
			char *err = NULL;

			for (int r = 0; r < RUNS; r++) {
				unsigned char *buf;
				size_t len;
				double t0 = now_ms();
				struct image *l;

				if (sixelenc_image(im, colors[ci], SIXELENC_DIFFUSE_NONE, &buf,
				                   &len, &err) != 0) {
					fprintf(stderr, "encode failed: %s\n", err);
					return 1;
				}
				te[r] = now_ms() - t0;
				bytes = len;
				free(buf);

				t0 = now_ms();
				l = image_load(path, NULL, 0, &err);
				if (!l || sixelenc_image(l, colors[ci], SIXELENC_DIFFUSE_NONE, &buf,
				                         &len, &err) != 0) {
					fprintf(stderr, "load+encode failed: %s\n", err);
					return 1;
				}
				tf[r] = now_ms() - t0;
				free(buf);
				image_free(l);
				ti[r] =
				    have_img2sixel ? run_img2sixel(path, colors[ci], &ibytes) : -1;
			}
			double me = median(te, RUNS), mf = median(tf, RUNS), mi = median(ti, RUNS);
			char name[32];
			snprintf(name, sizeof name, "%dx%d", s, s);
			if (mi > 0)
				printf("%-10s %6d %10.1f %10.1f %12zu %10.1f %12zu %8.2f %8.2f\n",
				       name, colors[ci], me, mf, bytes, mi, ibytes, mf / mi,
				       (double)bytes / (double)ibytes);
			else
				printf("%-10s %6d %10.1f %10.1f %12zu %10s %12s %8s %8s\n", name,
				       colors[ci], me, mf, bytes, "n/a", "n/a", "-", "-");
		}
		unlink(path);
		image_free(im);
	}
	printf(
	    "(medians of %d runs; 'file+enc' = PNG decode + encode, the same work as img2sixel;\n"
	    " t ratio = sdq file+enc / img2sixel wall time, b ratio = sdq bytes / img2sixel "
	    "bytes;\n both without diffusion)\n",
	    RUNS);
	return 0;
}
