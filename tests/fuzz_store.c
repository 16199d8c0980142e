/*
 * fuzz_store.c: the history search (store_query.text, typed by the user)
 * and job references (store_job_find) on any text.
 *
 * The input is stored as the prompt of a new job in a private database, then
 * used as the search text and as a job reference. store.h promises that any
 * text is a valid query ("punctuation is safe"), so listing and counting
 * never fail, agree with each other, and a search for a prompt's own text
 * always finds that prompt. The job is deleted
 * again so the database stays small.
 */
#include <string.h>

#include "fuzz_replay.h"
#include "job.h"
#include "store.h"

static struct store *st;

static void fuzz_init(void)
{
	static const char *const prompts[] = {"a red cat on a mat", "photo of a dog, 4k",
	                                      "caf\xc3\xa9 \xe7\x8c\xab", "x-y_z \"quoted\" it's"};
	char path[4200], *err = NULL;
	size_t i;

	snprintf(path, sizeof path, "%s/history.db", fuzz_tmpdir("store"));
	if (!(st = store_open(path, &err))) {
		fprintf(stderr, "store_open: %s\n", err ? err : "?");
		exit(2);
	}
	for (i = 0; i < sizeof prompts / sizeof *prompts; i++) {
		struct job *j = job_new();
		if (!j || !(j->params.prompt = strdup(prompts[i])) ||
		    store_job_add(st, j, &err) < 0) {
			fprintf(stderr, "store_job_add: %s\n", err ? err : "?");
			exit(2);
		}
		job_free(j);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_cstr(data, size), *err = NULL;
	struct store_query q;
	struct job *j = job_new(), **jobs = NULL;
	size_t n = 0, i;
	int64_t count, id;
	int rc, found = 0;

	if (!j)
		abort();
	j->params.prompt = strdup(text);
	j->params.negative_prompt = strdup("blurry");
	FUZZ_CHECK(store_job_add(st, j, &err) == 0);
	free(err);
	err = NULL;

	memset(&q, 0, sizeof q);
	q.text = text;
	rc = store_job_list(st, &q, &jobs, &n, &err);
	FUZZ_CHECK(rc == 0);
	if (rc != 0 && err)
		fprintf(stderr, "  list: %.300s\n", err);
	free(err);
	err = NULL;
	if (rc == 0) {
		for (i = 0; i < n; i++)
			found |= jobs[i]->id == j->id;
		count = store_job_count(st, &q, &err);
		FUZZ_CHECK(count == (int64_t)n);
		free(err);
		err = NULL;
		/* its own words find it (no word at all lists every job) */
		FUZZ_CHECK(found);
		store_jobs_free(jobs, n);
	}
	q.limit = 1;
	q.oldest_first = 1;
	q.state_mask = 1 << JOB_PENDING;
	rc = store_job_list(st, &q, &jobs, &n, &err);
	FUZZ_CHECK(rc == 0 && n <= 1);
	if (rc == 0)
		store_jobs_free(jobs, n);
	free(err);
	err = NULL;

	id = store_job_find(st, text, &err);
	FUZZ_CHECK(id >= 0);
	free(err);
	err = NULL;

	FUZZ_CHECK(store_job_delete(st, j->id, &err) == 0);
	free(err);
	job_free(j);
	free(text);
	return 0;
}

FUZZ_REPLAY_MAIN("store")
