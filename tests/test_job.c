/* test_job.c: the job state machine as a table, state names, and job memory. */
#include "th.h"
#include "job.h"

#define P JOB_PENDING
#define S JOB_SUBMITTING
#define Q JOB_IN_QUEUE
#define R JOB_IN_PROGRESS
#define C JOB_COMPLETED
#define F JOB_FAILED
#define X JOB_CANCELLED
#define T JOB_TIMED_OUT
#define SF JOB_SUBMIT_FAILED
#define E JOB_EXPIRED
#define U JOB_UNKNOWN
#define O JOB_OTHER

struct trow {
	enum job_state from, to;
	int ok;
};

/* One row per transition we care about, grouped by class. */
/* clang-format off */
static const struct trow trows[] = {
	/* the normal remote path */
	{P, S, 1}, {S, Q, 1}, {Q, R, 1}, {R, C, 1},
	/* local backends skip SUBMITTING */
	{P, Q, 1}, {P, R, 1},
	/* before sending */
	{P, X, 1}, {P, SF, 1}, {P, U, 1}, {P, C, 0}, {P, F, 0}, {P, T, 0}, {P, E, 0}, {P, O, 0},
	/* the submit in flight */
	{S, R, 1}, {S, C, 1}, {S, F, 1}, {S, SF, 1}, {S, U, 1}, {S, X, 1}, {S, T, 1}, {S, O, 1},
	{S, P, 1}, {S, E, 0},
	/* accepted: any remote state, EXPIRED, never back to the client-side states */
	{Q, C, 1}, {Q, F, 1}, {Q, X, 1}, {Q, T, 1}, {Q, E, 1}, {Q, O, 1},
	{Q, P, 0}, {Q, S, 0}, {Q, SF, 0}, {Q, U, 0},
	{R, Q, 1}, {R, F, 1}, {R, X, 1}, {R, T, 1}, {R, E, 1}, {R, O, 1},
	{R, P, 0}, {R, S, 0}, {R, SF, 0}, {R, U, 0},
	/* an unknown remote status goes on to any remote state */
	{O, Q, 1}, {O, R, 1}, {O, C, 1}, {O, F, 1}, {O, X, 1}, {O, T, 1}, {O, E, 1},
	{O, P, 0}, {O, S, 0}, {O, SF, 0}, {O, U, 0},
	/* retry */
	{F, Q, 1}, {T, Q, 1}, {F, R, 0}, {T, R, 0}, {F, P, 0}, {F, S, 0}, {X, Q, 0},
	{C, Q, 0}, {E, Q, 0}, {SF, Q, 0}, {U, Q, 0},
	/* terminal states are never left otherwise */
	{C, F, 0}, {C, R, 0}, {C, O, 0}, {F, C, 0}, {X, C, 0}, {X, R, 0}, {T, C, 0},
	{SF, S, 0}, {SF, P, 0}, {E, C, 0}, {E, R, 0}, {U, C, 0}, {U, R, 0}, {U, S, 0},
	{U, P, 0}, {U, O, 0},
	/* same -> same */
	{P, P, 1}, {S, S, 1}, {Q, Q, 1}, {R, R, 1}, {C, C, 1}, {F, F, 1}, {X, X, 1},
	{T, T, 1}, {SF, SF, 1}, {E, E, 1}, {U, U, 1}, {O, O, 1},
	/* out of range */
	{JOB_STATE_COUNT, P, 0}, {P, JOB_STATE_COUNT, 0},
};
/* clang-format on */

static void test_transition_table(void)
{
	for (size_t i = 0; i < sizeof trows / sizeof trows[0]; i++) {
		const struct trow *r = &trows[i];
		int got = job_transition_ok(r->from, r->to);
		if (got != r->ok)
			fprintf(stderr, "  row %zu: %s -> %s\n", i, job_state_name(r->from),
			        job_state_name(r->to));
		CHECK_INT(got, r->ok);
	}
}

/* Properties over all 144 pairs, so a row missing above cannot hide a mistake. */
static void test_transition_properties(void)
{
	for (int a = 0; a < JOB_STATE_COUNT; a++) {
		for (int b = 0; b < JOB_STATE_COUNT; b++) {
			int ok = job_transition_ok(a, b);
			if (a == b)
				CHECK_INT(ok, 1);
			/* terminal: only itself, or the retry into IN_QUEUE */
			if (job_state_is_terminal(a) && a != b) {
				int retry = (a == F || a == T) && b == Q;
				CHECK_INT(ok, retry);
			}
			/* only PENDING sends; only a failed send returns to PENDING */
			if (b == S && a != S)
				CHECK_INT(ok, a == P);
			if (b == P && a != P)
				CHECK_INT(ok, a == S);
			/* SUBMIT_FAILED and UNKNOWN only come from before acceptance */
			if ((b == SF || b == U) && a != b)
				CHECK_INT(ok, a == P || a == S);
		}
	}
}

static void test_sets(void)
{
	static const struct {
		enum job_state s;
		int terminal, live;
	} rows[] = {
	    {P, 0, 1}, {S, 0, 1}, {Q, 0, 1},  {R, 0, 1}, {C, 1, 0}, {F, 1, 0},
	    {X, 1, 0}, {T, 1, 0}, {SF, 1, 0}, {E, 1, 0}, {U, 1, 0}, {O, 0, 1},
	};
	CHECK_INT(sizeof rows / sizeof rows[0], JOB_STATE_COUNT);
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		CHECK_INT(job_state_is_terminal(rows[i].s), rows[i].terminal);
		CHECK_INT(job_state_is_live(rows[i].s), rows[i].live);
	}
}

static void test_parse(void)
{
	static const struct {
		const char *in;
		enum job_state want;
	} rows[] = {
	    {"PENDING", P},     {"SUBMITTING", S}, {"IN_QUEUE", Q},
	    {"IN_PROGRESS", R}, {"COMPLETED", C},  {"FAILED", F},
	    {"CANCELLED", X},   {"TIMED_OUT", T},  {"SUBMIT_FAILED", SF},
	    {"EXPIRED", E},     {"UNKNOWN", U},    {"OTHER", O},
	    {"completed", C},   {"In_Queue", Q},   {"RUNNING", R},
	    {"running", R},     {"", O},           {NULL, O},
	    {"THROTTLED", O},   {"IN_QUEUE ", O},  {"IN", O},
	    {"COMPLETEDX", O},
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
		CHECK_INT(job_state_parse(rows[i].in), rows[i].want);
}

static void test_names_round_trip(void)
{
	for (int s = 0; s < JOB_STATE_COUNT; s++) {
		const char *n = job_state_name(s);
		CHECK(n && *n);
		CHECK_INT(job_state_parse(n), s);
		for (int t = 0; t < s; t++)
			CHECK(strcmp(n, job_state_name(t)) != 0);
	}
	CHECK_STR(job_state_name(JOB_IN_PROGRESS), "IN_PROGRESS");
	CHECK(job_state_name(JOB_STATE_COUNT) != NULL);
	CHECK(job_state_name((enum job_state) - 1) != NULL);
}

static void fill_params(struct job_params *p)
{
	job_params_init(p);
	p->prompt = strdup("a cat");
	p->negative_prompt = strdup("blurry");
	p->sampler = strdup("Euler a");
	p->endpoint = strdup("sdxl");
	p->template_name = strdup("sdxl");
	p->extra_json = strdup("{\"a\":1}");
	p->width = 1024;
	p->height = 768;
	p->steps = 30;
	p->cfg = 7.5;
	p->has_cfg = 1;
	p->seed = 42;
	p->count = 2;
}

static void test_params(void)
{
	struct job_params a, b;

	job_params_init(&a);
	CHECK(a.prompt == NULL);
	CHECK_INT(a.seed, -1);
	CHECK_INT(a.width, 0);
	CHECK_INT(a.has_cfg, 0);
	CHECK_INT(a.count, 0);

	fill_params(&a);
	CHECK_INT(job_params_copy(&b, &a), 0);
	CHECK_STR(b.prompt, "a cat");
	CHECK(b.prompt != a.prompt);
	CHECK_STR(b.negative_prompt, "blurry");
	CHECK_STR(b.sampler, "Euler a");
	CHECK_STR(b.endpoint, "sdxl");
	CHECK_STR(b.template_name, "sdxl");
	CHECK_STR(b.extra_json, "{\"a\":1}");
	CHECK(b.extra_json != a.extra_json);
	CHECK_INT(b.width, 1024);
	CHECK_INT(b.height, 768);
	CHECK_INT(b.steps, 30);
	CHECK(b.cfg == 7.5);
	CHECK_INT(b.seed, 42);
	CHECK_INT(b.count, 2);
	job_params_clear(&a);
	CHECK(a.prompt == NULL);
	CHECK_INT(a.seed, -1);
	/* b still valid after a is cleared */
	CHECK_STR(b.prompt, "a cat");
	job_params_clear(&b);
	job_params_clear(NULL);

	/* copying unset params keeps NULLs */
	job_params_init(&a);
	CHECK_INT(job_params_copy(&b, &a), 0);
	CHECK(b.prompt == NULL && b.extra_json == NULL);
	job_params_clear(&b);
}

static void test_job_new_dup_free(void)
{
	struct job *j = job_new(), *d;
	struct job_output o = {0};

	CHECK(j != NULL);
	if (!j)
		return;
	CHECK_INT(j->state, JOB_PENDING);
	CHECK_INT(j->delay_ms, -1);
	CHECK_INT(j->exec_ms, -1);
	CHECK(j->progress < 0);
	CHECK_INT(j->created_at, 0);
	CHECK_INT(j->params.seed, -1);
	CHECK_INT(j->n_outputs, 0);

	fill_params(&j->params);
	CHECK_INT(job_set_str(&j->remote_id, "abc-123"), 0);
	CHECK_INT(job_set_str(&j->backend, "runpod"), 0);
	CHECK_INT(job_set_str(&j->error, "boom"), 0);
	CHECK_INT(job_set_str(&j->error, "boom2"), 0); /* replace frees the old one */
	CHECK_STR(j->error, "boom2");
	CHECK_INT(job_set_str(&j->status_text, NULL), 0);
	CHECK(j->status_text == NULL);
	CHECK_INT(job_set_str(&j->progress_text, "4/10"), 0);
	j->state = JOB_COMPLETED;
	j->finished_at = 1234;

	for (int i = 0; i < 5; i++) {
		char path[64];
		snprintf(path, sizeof path, "/tmp/x-%d.png", i);
		o.index = i;
		o.path = path;
		o.format = "png";
		o.width = 512;
		o.height = 512;
		o.seed = 100 + i;
		o.bytes = 1000 * i;
		CHECK_INT(job_add_output(j, &o), 0);
	}
	CHECK_INT(j->n_outputs, 5);
	CHECK_STR(j->outputs[3].path, "/tmp/x-3.png");
	CHECK(j->outputs[3].path != o.path);

	d = job_dup(j);
	CHECK(d != NULL);
	if (d) {
		CHECK_STR(d->remote_id, "abc-123");
		CHECK(d->remote_id != j->remote_id);
		CHECK_STR(d->backend, "runpod");
		CHECK_STR(d->error, "boom2");
		CHECK_STR(d->progress_text, "4/10");
		CHECK(d->status_text == NULL);
		CHECK(d->worker_id == NULL);
		CHECK_INT(d->state, JOB_COMPLETED);
		CHECK_INT(d->finished_at, 1234);
		CHECK_STR(d->params.prompt, "a cat");
		CHECK(d->params.prompt != j->params.prompt);
		CHECK_INT(d->params.seed, 42);
		CHECK_INT(d->n_outputs, 5);
		CHECK(d->outputs != j->outputs);
		CHECK_STR(d->outputs[4].path, "/tmp/x-4.png");
		CHECK(d->outputs[4].path != j->outputs[4].path);
		CHECK_STR(d->outputs[4].format, "png");
		CHECK_INT(d->outputs[4].seed, 104);
		CHECK_INT(d->outputs[4].bytes, 4000);
	}
	job_clear_outputs(j);
	CHECK_INT(j->n_outputs, 0);
	CHECK(j->outputs == NULL);
	/* the copy survives the original */
	job_free(j);
	if (d)
		CHECK_STR(d->outputs[0].path, "/tmp/x-0.png");
	job_free(d);
	job_free(NULL);
	CHECK(job_dup(NULL) == NULL);
	job_clear_outputs(NULL);
}

static void test_iso8601(void)
{
	static const struct {
		int64_t ms;
		const char *want;
	} rows[] = {
	    {0, ""},
	    {1, "1970-01-01T00:00:00Z"},
	    {1000, "1970-01-01T00:00:01Z"},
	    {1795791774000LL, "2026-11-27T15:02:54Z"},
	    {1795791774999LL, "2026-11-27T15:02:54Z"},
	    {951782400000LL, "2000-02-29T00:00:00Z"},
	    {-1, "1969-12-31T23:59:59Z"},
	};
	char buf[32];
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
		CHECK_STR(job_iso8601(rows[i].ms, buf, sizeof buf), rows[i].want);
	/* too small a buffer gives an empty string, never a cut one */
	CHECK_STR(job_iso8601(1000, buf, 10), "");
	CHECK(job_iso8601(1000, NULL, 0) == NULL);
}

static void test_now(void)
{
	int64_t a = job_now_ms(), b = job_now_ms();
	CHECK(a > 1700000000000LL); /* after 2023 */
	CHECK(b >= a);
}

int main(void)
{
	TH_RUN(test_transition_table);
	TH_RUN(test_transition_properties);
	TH_RUN(test_sets);
	TH_RUN(test_parse);
	TH_RUN(test_names_round_trip);
	TH_RUN(test_params);
	TH_RUN(test_job_new_dup_free);
	TH_RUN(test_iso8601);
	TH_RUN(test_now);
	return th_done("test_job");
}
