/*
 * fuzz_runpod_reply.c: the RunPod backend's readers of /status and /health
 * replies (runpod_status_parse, runpod_health_parse: the code on_status and
 * on_health go through) on any bytes.
 *
 * Checked (runpod.h's promises): the status parse succeeds exactly when the
 * bytes are a JSON object with a string "status" (judged by cJSON itself);
 * then the state is job_state_parse of that string, the times are -1 or
 * more, the progress is -1 or within 0..1 (never NaN) and its text a
 * terminated single line, the error only set for FAILED / TIMED_OUT /
 * CANCELLED; on failure everything is empty. The health parse succeeds
 * exactly for a JSON object, every counter then -1 or more; on failure the
 * counters are untouched.
 */
#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

#include "fuzz_replay.h"
#include "runpod.h"

static void fuzz_init(void)
{
}

static void check_status(const uint8_t *data, size_t size)
{
	struct runpod_status st;
	cJSON *j = cJSON_ParseWithLength((const char *)data, size);
	const cJSON *s = cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, "status") : NULL;
	int want = cJSON_IsString(s) ? 0 : -1, rc;
	char *want_status = want == 0 ? strdup(s->valuestring) : NULL;

	cJSON_Delete(j);
	memset(&st, 0x5a, sizeof st); /* parse must not read what was there */
	rc = runpod_status_parse((const char *)data, size, &st);
	FUZZ_CHECK(rc == want);
	if (rc < 0) {
		FUZZ_CHECK(!st.status && !st.worker_id && !st.error);
		FUZZ_CHECK(st.delay_ms == -1 && st.exec_ms == -1 && st.progress == -1);
	} else {
		FUZZ_CHECK(st.status && want_status && strcmp(st.status, want_status) == 0);
		FUZZ_CHECK(st.state == job_state_parse(st.status));
		FUZZ_CHECK(st.delay_ms >= -1 && st.exec_ms >= -1);
		FUZZ_CHECK(!isnan(st.progress));
		FUZZ_CHECK(st.progress == -1 || (st.progress >= 0 && st.progress <= 1));
		FUZZ_CHECK(memchr(st.progress_text, 0, sizeof st.progress_text) != NULL);
		for (size_t k = 0; k < sizeof st.progress_text && st.progress_text[k]; k++)
			FUZZ_CHECK((unsigned char)st.progress_text[k] >= 0x20 &&
			           st.progress_text[k] != 0x7f);
		if (st.state != JOB_IN_PROGRESS)
			FUZZ_CHECK(st.progress == -1 && st.progress_text[0] == '\0');
		if (st.error)
			FUZZ_CHECK(st.state == JOB_FAILED || st.state == JOB_TIMED_OUT ||
			           st.state == JOB_CANCELLED);
	}
	runpod_status_clear(&st);
	runpod_status_clear(&st); /* twice: harmless */
	free(want_status);
}

static void check_health(const uint8_t *data, size_t size)
{
	struct engine_health h;
	cJSON *j = cJSON_ParseWithLength((const char *)data, size);
	int want = cJSON_IsObject(j) ? 0 : -1, rc;
	long *c[] = {&h.jobs_completed,    &h.jobs_failed,          &h.jobs_in_progress,
	             &h.jobs_in_queue,     &h.jobs_retried,         &h.workers_idle,
	             &h.workers_running,   &h.workers_initializing, &h.workers_ready,
	             &h.workers_throttled, &h.workers_unhealthy};

	cJSON_Delete(j);
	memset(&h, 0, sizeof h);
	for (size_t i = 0; i < sizeof c / sizeof *c; i++)
		*c[i] = 12345;
	rc = runpod_health_parse((const char *)data, size, &h);
	FUZZ_CHECK(rc == want);
	for (size_t i = 0; i < sizeof c / sizeof *c; i++)
		FUZZ_CHECK(rc < 0 ? *c[i] == 12345 : *c[i] >= -1);
	FUZZ_CHECK(!h.text && !h.error);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_status(data, size);
	check_health(data, size);
	return 0;
}

FUZZ_REPLAY_MAIN("runpod_reply")
