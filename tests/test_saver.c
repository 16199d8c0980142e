/*
 * test_saver.c: images written off the loop (core/saver.c). saver_save
 * returns at once and never calls back from inside itself; the callbacks
 * come from engine_step, after the file is complete at its name; a batch
 * of saves all arrive; a cancelled save makes no callback (and one not
 * started is not written); saver_idle says whether any is under way; a
 * write that fails reports why; saver_free with
 * saves in flight makes no callback and leaves no temp file.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include "engine.h"
#include "job.h"
#include "output.h"
#include "saver.h"
#include "th.h"
#include "th_config.h"
#include "th_png.h"
#include "util.h"

static char dir[4096];

struct got {
	int calls, ok, failed;
	char path[4096];
	char err[512];
};

static void on_saved(int rc, const char *err, struct job_output *out, void *udata)
{
	struct got *g = udata;
	g->calls++;
	if (rc == 0) {
		g->ok++;
		snprintf(g->path, sizeof g->path, "%s", out->path ? out->path : "");
	} else {
		g->failed++;
		snprintf(g->err, sizeof g->err, "%s", err ? err : "");
	}
	free(out->path);
	free(out->format);
}

static int count_tmp(const char *d)
{
	DIR *dp = opendir(d);
	struct dirent *de;
	int n = 0;
	if (!dp)
		return 0;
	while ((de = readdir(dp)))
		if (strstr(de->d_name, ".tmp"))
			n++;
	closedir(dp);
	return n;
}

static struct job *mkjob(int64_t id)
{
	struct job *j = job_new();
	j->id = id;
	j->created_at = job_now_ms();
	job_set_str(&j->params.prompt, "a saver test");
	return j;
}

/* output_prepare of a 32x32 PNG for job j, image idx, into root. */
static int prep(const char *root, struct job *j, int idx, struct output_file *f)
{
	unsigned char *rgb = th_png_pattern(32, 32, 3, 5, idx);
	size_t len = 0;
	unsigned char *png = th_png_write(32, 32, rgb, NULL, NULL, 0, -1, &len);
	char *err = NULL;
	int r;
	free(rgb);
	r = output_prepare(root, j, idx, png, len, 1, 7, f, &err);
	if (r < 0)
		fprintf(stderr, "  output_prepare: %s\n", err ? err : "?");
	free(err);
	return r;
}

static void step_until(struct engine *e, const int *v, int want)
{
	for (int i = 0; i < 1000 && *v < want; i++)
		engine_step(e, 50);
}

static void test_saves_come_back_on_the_loop(void)
{
	struct config *cfg = th_config_in(dir);
	char *err = NULL, root[4200];
	struct store *st = store_open(cfg->db_path, &err);
	struct engine *e = st ? engine_new(cfg, st, &err) : NULL;
	struct saver *s = e ? saver_new(e, &err) : NULL;
	struct got g[5], gc, gs;
	struct job *j = mkjob(7);
	uint64_t id[5], idc;
	struct stat sb;

	if (!CHECK(s != NULL)) {
		fprintf(stderr, "  %s\n", err ? err : "?");
		free(err);
		goto out;
	}
	snprintf(root, sizeof root, "%s/images", dir);
	memset(g, 0, sizeof g);
	for (int i = 0; i < 5; i++) {
		struct output_file f;
		id[i] = 0;
		if (!CHECK_INT(prep(root, j, i, &f), 0))
			continue;
		id[i] = saver_save(s, &f, on_saved, &g[i], &err);
		CHECK(id[i] > 0);
		CHECK(f.data == NULL); /* taken */
		/* never from inside saver_save */
		CHECK_INT(g[i].calls, 0);
	}
	CHECK(!saver_idle(s)); /* five saves under way */
	for (int i = 0; i < 5; i++) {
		step_until(e, &g[i].calls, 1);
		CHECK_INT(g[i].calls, 1);
		CHECK_INT(g[i].ok, 1);
		/* complete at its name when the loop hears of it */
		CHECK(g[i].path[0] && stat(g[i].path, &sb) == 0 && sb.st_size > 0);
		CHECK(strstr(g[i].path, "/7-") != NULL);
	}
	CHECK(saver_idle(s)); /* every callback made */
	if (g[0].path[0]) {
		char d[4096];
		snprintf(d, sizeof d, "%s", g[0].path);
		*strrchr(d, '/') = '\0';
		CHECK_INT(count_tmp(d), 0);
	}

	/* cancelled: no callback, ever */
	memset(&gc, 0, sizeof gc);
	{
		struct output_file f;
		if (CHECK_INT(prep(root, j, 9, &f), 0)) {
			idc = saver_save(s, &f, on_saved, &gc, &err);
			saver_cancel(s, idc);
		}
	}
	/* a later save still comes back, and the cancelled one did not */
	memset(&gs, 0, sizeof gs);
	{
		struct output_file f;
		if (CHECK_INT(prep(root, j, 10, &f), 0))
			saver_save(s, &f, on_saved, &gs, &err);
	}
	step_until(e, &gs.calls, 1);
	CHECK_INT(gs.ok, 1);
	CHECK_INT(gc.calls, 0);

	/* a write that cannot be done says why, through the loop */
	memset(&gs, 0, sizeof gs);
	{
		struct output_file f;
		char bad[4300];
		int fd;
		snprintf(bad, sizeof bad, "%s/afile", dir);
		fd = open(bad, O_WRONLY | O_CREAT, 0600);
		if (fd >= 0)
			close(fd);
		/* its "day directory" would be inside a regular file */
		if (CHECK_INT(prep(bad, j, 0, &f), 0))
			saver_save(s, &f, on_saved, &gs, &err);
	}
	step_until(e, &gs.calls, 1);
	CHECK_INT(gs.failed, 1);
	CHECK(strstr(gs.err, "cannot") != NULL);
	fprintf(stderr, "  (failure: %s)\n", gs.err);

	/* freed with saves queued: no callback afterwards, nothing half-written */
	memset(&gc, 0, sizeof gc);
	for (int i = 20; i < 25; i++) {
		struct output_file f;
		if (CHECK_INT(prep(root, j, i, &f), 0))
			saver_save(s, &f, on_saved, &gc, &err);
	}
	saver_free(s);
	s = NULL;
	for (int i = 0; i < 5; i++)
		engine_step(e, 10);
	CHECK_INT(gc.calls, 0);
	if (g[0].path[0]) {
		char d[4096];
		snprintf(d, sizeof d, "%s", g[0].path);
		*strrchr(d, '/') = '\0';
		CHECK_INT(count_tmp(d), 0);
	}
out:
	free(err);
	job_free(j);
	saver_free(s);
	engine_free(e);
	store_close(st);
	config_free(cfg);
}

int main(void)
{
	snprintf(dir, sizeof dir, "%s", th_tmpdir());
	TH_RUN(test_saves_come_back_on_the_loop);
	return th_done("test_saver");
}
