/*
 * bench_limiter.c: 1000 jobs (BENCH_JOBS) through the engine and the RunPod
 * backend against tests/emulator.py, then the figures that matter: wall and
 * CPU time, requests per operation, the busiest 10 s window of /run and
 * /status (from the emulator's request log) against RunPod's limits
 * (1000 and 2000 per 10 s), 429s received, and jobs completed.
 */
#include <cjson/cJSON.h>
#include <sys/resource.h>
#include "engine.h"
#include "http.h"
#include "util.h"
#include "th.h"
#include "th_net.h"

static struct emu em;

static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

/* The most requests of path kind `what` in any 10 s window of the log. */
static long max_window(const char *log, const char *what)
{
	FILE *f = fopen(log, "r");
	double *t = NULL, ts;
	size_t n = 0, cap = 0, lo = 0;
	long best = 0;
	char method[16], path[512];
	int code, bytes;

	if (!f)
		return -1;
	while (fscanf(f, "%lf %15s %511s %d %d", &ts, method, path, &code, &bytes) == 5) {
		const char *p = strstr(path, "/v2/test/");
		if (!p || strncmp(p + 9, what, strlen(what)) != 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			t = realloc(t, cap * sizeof *t);
		}
		t[n++] = ts;
	}
	fclose(f);
	for (size_t hi = 0; hi < n; hi++) {
		while (t[hi] - t[lo] >= 10.0)
			lo++;
		if ((long)(hi - lo + 1) > best)
			best = (long)(hi - lo + 1);
	}
	free(t);
	return best;
}

int main(void)
{
	const char *d = th_tmpdir();
	char logp[4200], db[4200], img[4200], *err = NULL;
	const char *nj = getenv("BENCH_JOBS");
	int njobs = nj ? atoi(nj) : 1000;
	const char *args[] = {
	    "--queue-time", "6",   "--run-time", "3",  "--steps", "3", "--shape", "sd15",
	    "--image-size", "8x8", "--log",      logp, NULL};
	struct config cfg;
	struct config_endpoint ep;
	struct store *st;
	struct engine *e;
	int64_t *ids, t0, deadline;
	double c0;
	int done = 0, completed = 0, loops = 0;

	snprintf(logp, sizeof logp, "%s/emu.log", d);
	snprintf(db, sizeof db, "%s/history.db", d);
	snprintf(img, sizeof img, "%s/images", d);
	setenv("SDQ_TEST_KEY", "test-key-123", 1);
	if (emu_start(&em, args) < 0) {
		fprintf(stderr, "cannot start the emulator\n");
		return 1;
	}
	memset(&cfg, 0, sizeof cfg);
	memset(&ep, 0, sizeof ep);
	cfg.config_dir = (char *)d;
	cfg.data_dir = (char *)d;
	cfg.db_path = db;
	cfg.images_dir = img;
	ep.name = "emu";
	ep.kind = CONFIG_RUNPOD;
	ep.url = em.base;
	ep.api_key_env = "SDQ_TEST_KEY";
	ep.template_name = "sd15";
	cfg.endpoints = &ep;
	cfg.n_endpoints = 1;
	st = store_open(db, &err);
	e = st ? engine_new(&cfg, st, &err) : NULL;
	if (!e) {
		fprintf(stderr, "%s\n", err ? err : "?");
		emu_stop(&em);
		return 1;
	}
	engine_drive(e, 1);
	ids = calloc((size_t)njobs, sizeof *ids);
	t0 = util_now_ms();
	c0 = cpu_s();
	for (int i = 0; i < njobs; i++) {
		struct job_params p;
		char prompt[64];
		job_params_init(&p);
		snprintf(prompt, sizeof prompt, "bench job %d", i);
		p.prompt = prompt;
		p.endpoint = "emu";
		ids[i] = engine_submit(e, &p, NULL);
	}
	printf("submit %d jobs: %lld ms (store + first sends)\n", njobs,
	       (long long)(util_now_ms() - t0));
	deadline = util_now_ms() + 300000;
	while (done < njobs && util_now_ms() < deadline) {
		engine_step(e, 1000);
		loops++;
		if (loops % 20 == 0 && engine_live_count(e) == 0)
			done = njobs;
	}
	for (int i = 0; i < njobs; i++) {
		struct job *j = store_job_get(st, ids[i], NULL);
		completed += j && j->state == JOB_COMPLETED;
		job_free(j);
	}
	printf("jobs: %d completed of %d in %.1f s wall, %.1f s CPU, %d loop passes\n", completed,
	       njobs, (double)(util_now_ms() - t0) / 1000.0, cpu_s() - c0, loops);
	engine_free(e);
	store_close(st);
	emu_stop(&em);
	printf("busiest 10 s: /run %ld (RunPod limit 1000), /status %ld (limit 2000)\n",
	       max_window(logp, "run"), max_window(logp, "status"));
	{
		FILE *f = fopen(logp, "r");
		long n429 = 0, total = 0;
		char line[700];
		while (f && fgets(line, sizeof line, f)) {
			total++;
			if (strstr(line, " 429 "))
				n429++;
		}
		if (f)
			fclose(f);
		printf("requests: %ld total, %ld answered 429\n", total, n429);
	}
	free(ids);
	return completed == njobs ? 0 : 1;
}
