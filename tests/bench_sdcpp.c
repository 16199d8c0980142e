/*
 * bench_sdcpp.c: figures for the local backend (printed, never asserted).
 *  - the sd-cli output parser: MB/s over a captured stream fed in 64 KiB
 *    reads, in 16-byte reads, and one byte at a time;
 *  - the cost of one local job end to end with tests/fake-sd-cli (1 step,
 *    32x32): submit to COMPLETED through a real engine, which is mostly the
 *    fork/exec of python3, so it bounds sdq's own overhead per job from above.
 */
#include "th.h"
#include "config.h"
#include "engine.h"
#include "sdcpp.h"
#include "store.h"

#include <stdint.h>
#include <time.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long n_events;
static void count_cb(const struct sdcpp_parse_event *ev, void *udata)
{
	(void)ev;
	(void)udata;
	n_events++;
}

static void bench_parser(const char *data, size_t len, size_t chunk, int rounds)
{
	double t0 = now_s();
	n_events = 0;
	for (int r = 0; r < rounds; r++) {
		struct sdcpp_parse *p = sdcpp_parse_new(2, count_cb, NULL);
		for (size_t at = 0; at < len; at += chunk)
			sdcpp_parse_feed(p, SDCPP_STDOUT, data + at,
			                  at + chunk <= len ? chunk : len - at);
		sdcpp_parse_finish(p, SDCPP_STDOUT);
		sdcpp_parse_free(p);
	}
	double dt = now_s() - t0;
	printf("parser, %6zu-byte reads: %8.1f MB/s (%d x %zu bytes, %ld events, %.3f s)\n", chunk,
	       (double)len * rounds / dt / 1e6, rounds, len, n_events, dt);
}

static void bench_jobs(const char *tests_dir, int n)
{
	char dir[4096], path[4300], text[9000];
	char *err = NULL;
	snprintf(dir, sizeof dir, "%s", th_tmpdir());
	snprintf(path, sizeof path, "%s/model.safetensors", dir);
	th_write_model(path);
	snprintf(path, sizeof path, "%s/data", dir);
	setenv("XDG_DATA_HOME", path, 1);
	setenv("FAKE_SD_STEP_DELAY", "0", 1);
	struct config *cfg = config_new_defaults(&err);
	snprintf(text, sizeof text,
	         "[local \"gpu\"]\n\texe = %s/fake-sd-cli\n\tmodel = %s/model.safetensors\n",
	         tests_dir, dir);
	snprintf(path, sizeof path, "%s/history.db", dir);
	struct store *st =
	    cfg && config_parse(cfg, text, "bench", &err) == 0 ? store_open(path, &err) : NULL;
	struct engine *e = st ? engine_new(cfg, st, &err) : NULL;
	if (!e || engine_drive(e, 1) != 1) {
		printf("jobs: cannot set up: %s\n", err ? err : "?");
		free(err);
		engine_free(e);
		store_close(st);
		config_free(cfg);
		return;
	}
	double t0 = now_s();
	int64_t last = 0;
	for (int i = 0; i < n; i++) {
		struct job_params p;
		job_params_init(&p);
		p.prompt = "bench";
		p.endpoint = "gpu";
		p.steps = 1;
		p.width = p.height = 32;
		p.seed = i;
		last = engine_submit(e, &p, NULL);
	}
	int done = 0;
	double deadline = now_s() + 120;
	while (!done && now_s() < deadline) {
		engine_step(e, 50);
		struct job *j = store_job_get(st, last, NULL);
		done = j && job_state_is_terminal(j->state);
		job_free(j);
	}
	double dt = now_s() - t0;
	printf("jobs: %d one-step 32x32 jobs through the fake sd-cli in %.2f s: %.0f ms per job "
	       "(mostly starting python3)\n",
	       n, dt, dt * 1000 / n);
	engine_free(e);
	store_close(st);
	config_free(cfg);
}

int main(void)
{
	char tests_dir[4096];
	const char *td = getenv("SDQ_TESTS_DIR");
	if (!realpath(td && *td ? td : "tests", tests_dir))
		snprintf(tests_dir, sizeof tests_dir, "tests");
	char path[4200];
	snprintf(path, sizeof path, "%s/fixtures/sdcpp-reference-batch2.txt", tests_dir);
	FILE *f = fopen(path, "rb");
	if (!f) {
		printf("cannot read %s\n", path);
		return 1;
	}
	static char data[1 << 16];
	size_t len = fread(data, 1, sizeof data, f);
	fclose(f);
	bench_parser(data, len, 65536, 5000);
	bench_parser(data, len, 16, 2000);
	bench_parser(data, len, 1, 500);
	bench_jobs(tests_dir, 20);
	return 0;
}
