/*
 * test_http.c: the libcurl multi wrapper against tests/emulator.py on
 * 127.0.0.1: plain requests, the API key header, the body cap, Retry-After,
 * cancel, a refused connection, a reset after sending, the before_send hook
 * (holds a request back: the server never sees it), many at once.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include "http.h"
#include "th.h"
#include "th_net.h"

static struct emu em;
static int emu_ok;

struct got {
	int done;
	long status;
	char body[4096];
	char error[512];
	int too_large, timed_out, sent;
	int64_t retry_after;
};

static void on_done(struct http *h, const struct http_response *r, void *udata)
{
	struct got *g = udata;
	(void)h;
	g->done++;
	g->status = r->status;
	snprintf(g->body, sizeof g->body, "%s", r->body);
	snprintf(g->error, sizeof g->error, "%s", r->error ? r->error : "");
	g->too_large = r->too_large;
	g->timed_out = r->timed_out;
	g->sent = r->sent;
	g->retry_after = r->retry_after_ms;
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Run h until *flag >= want or 15 s pass. */
static void run_until(struct http *h, int *flag, int want)
{
	int64_t deadline = now_ms() + 15000;
	while (*flag < want && now_ms() < deadline) {
		http_poll(h, NULL, 0, 200);
		http_perform(h);
	}
}

static int once;

static uint64_t req(struct http *h, const char *method, const char *url, const char *key,
                    const char *body, size_t max, struct got *g)
{
	struct http_request r;
	memset(&r, 0, sizeof r);
	r.once = once;
	r.method = method;
	r.url = url;
	r.api_key = key;
	r.body = body;
	r.max_response = max;
	r.timeout_ms = 10000;
	return http_request(h, &r, on_done, g, NULL);
}

static void test_retry_after_parse(void)
{
	/* Sun, 06 Nov 1994 08:49:37 GMT = 784111777 */
	CHECK_INT(http_parse_retry_after("5", 0), 5000);
	CHECK_INT(http_parse_retry_after(" 0 ", 0), 0);
	CHECK_INT(http_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111770), 7000);
	CHECK_INT(http_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111800), 0);
	CHECK_INT(http_parse_retry_after("soon", 0), -1);
	CHECK_INT(http_parse_retry_after("5x", 0), -1);
	CHECK_INT(http_parse_retry_after("", 0), -1);
	CHECK_INT(http_parse_retry_after(NULL, 0), -1);
}

static void test_scheme_refused(void)
{
	struct http *h = http_new(NULL);
	struct got g;
	char *err = NULL;
	struct http_request r;

	memset(&g, 0, sizeof g);
	memset(&r, 0, sizeof r);
	r.url = "file:///etc/passwd";
	CHECK_INT(http_request(h, &r, on_done, &g, &err), 0);
	CHECK(err && strstr(err, "http"));
	free(err);
	err = NULL;
	r.url = "ftp://127.0.0.1/x";
	CHECK_INT(http_request(h, &r, on_done, &g, &err), 0);
	free(err);
	CHECK_INT(http_active(h), 0);
	http_free(h);
}

static void test_get_and_key(void)
{
	struct http *h = http_new(NULL);
	struct got g1, g2;
	char url[256];

	memset(&g1, 0, sizeof g1);
	memset(&g2, 0, sizeof g2);
	snprintf(url, sizeof url, "%s/health", em.base);
	CHECK(req(h, NULL, url, "test-key-123", NULL, 0, &g1) > 0);
	CHECK(req(h, NULL, url, "wrong-key-456", NULL, 0, &g2) > 0);
	CHECK_INT(http_active(h), 2);
	run_until(h, &g1.done, 1);
	run_until(h, &g2.done, 1);
	CHECK_INT(g1.status, 200);
	CHECK(strstr(g1.body, "workers") != NULL);
	CHECK_STR(g1.error, "");
	CHECK_INT(g2.status, 401);
	CHECK(!strstr(g2.body, "wrong-key-456") && !strstr(g2.error, "wrong-key-456"));
	CHECK_INT(http_active(h), 0);
	http_free(h);
}

static void test_post_json(void)
{
	struct http *h = http_new(NULL);
	struct got g;
	char url[256];

	memset(&g, 0, sizeof g);
	snprintf(url, sizeof url, "%s/run", em.base);
	req(h, "POST", url, "test-key-123", "{\"input\":{\"prompt\":\"http test [[queue=5]]\"}}", 0,
	    &g);
	run_until(h, &g.done, 1);
	CHECK_INT(g.status, 200);
	CHECK(strstr(g.body, "\"id\"") && strstr(g.body, "IN_QUEUE"));
	http_free(h);
}

static void test_body_cap(void)
{
	struct http *h = http_new(NULL);
	struct got g;
	char url[256];

	memset(&g, 0, sizeof g);
	snprintf(url, sizeof url, "%s/health", em.base);
	req(h, NULL, url, "test-key-123", NULL, 16, &g);
	run_until(h, &g.done, 1);
	CHECK_INT(g.done, 1);
	CHECK(g.too_large);
	CHECK(strstr(g.error, "response too large") != NULL);
	http_free(h);
}

static void test_cancel(void)
{
	struct http *h = http_new(NULL);
	struct got g1, g2;
	char url[256];
	uint64_t a;

	memset(&g1, 0, sizeof g1);
	memset(&g2, 0, sizeof g2);
	snprintf(url, sizeof url, "%s/health", em.base);
	a = req(h, NULL, url, "test-key-123", NULL, 0, &g1);
	req(h, NULL, url, "test-key-123", NULL, 0, &g2);
	http_cancel(h, a);
	http_cancel(h, a);     /* twice: harmless */
	http_cancel(h, 99999); /* unknown: harmless */
	CHECK_INT(http_active(h), 1);
	run_until(h, &g2.done, 1);
	CHECK_INT(g2.done, 1);
	CHECK_INT(g1.done, 0);
	http_free(h);
}

/* A callback that cancels the other request finished in the same pass. */
struct pair {
	struct http *h;
	uint64_t other;
	int ran;
};

static void cancel_other(struct http *h, const struct http_response *r, void *udata)
{
	struct pair *p = udata;
	(void)r;
	p->ran++;
	http_cancel(h, p->other);
}

static void test_cancel_from_callback(void)
{
	struct http *h = http_new(NULL);
	struct pair a, b;
	struct http_request r;
	char url[256];
	int64_t deadline = now_ms() + 15000;

	memset(&a, 0, sizeof a);
	memset(&b, 0, sizeof b);
	memset(&r, 0, sizeof r);
	snprintf(url, sizeof url, "%s/health", em.base);
	r.url = url;
	r.api_key = "test-key-123";
	a.other = 0;
	uint64_t ia = http_request(h, &r, cancel_other, &a, NULL);
	uint64_t ib = http_request(h, &r, cancel_other, &b, NULL);
	a.other = ib;
	b.other = ia;
	while (a.ran + b.ran < 1 && now_ms() < deadline) {
		http_poll(h, NULL, 0, 200);
		http_perform(h);
	}
	/* drain anything left */
	for (int i = 0; i < 10 && http_active(h); i++) {
		http_poll(h, NULL, 0, 100);
		http_perform(h);
	}
	CHECK_INT(a.ran + b.ran, 1); /* whoever ran first cancelled the other */
	CHECK_INT(http_active(h), 0);
	http_free(h);
}

static void test_refused(void)
{
	struct http *h = http_new(NULL);
	struct got g;
	char url[256];

	memset(&g, 0, sizeof g);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/v2/test/run", th_dead_port());
	req(h, "POST", url, "test-key-123", "{}", 0, &g);
	run_until(h, &g.done, 1);
	CHECK_INT(g.done, 1);
	CHECK_INT(g.status, 0);
	CHECK(g.error[0] != '\0');
	CHECK_INT(g.sent, 0);
	CHECK(!strstr(g.error, "test-key-123"));
	http_free(h);
}

/* Make a job with a script and return its id in idbuf. */
static int make_job(struct http *h, const char *prompt, char *idbuf, size_t len)
{
	struct got g;
	char url[256], body[512];
	char *p, *q;

	memset(&g, 0, sizeof g);
	snprintf(url, sizeof url, "%s/run", em.base);
	snprintf(body, sizeof body, "{\"input\":{\"prompt\":\"%s\"}}", prompt);
	req(h, "POST", url, "test-key-123", body, 0, &g);
	run_until(h, &g.done, 1);
	p = strstr(g.body, "\"id\"");
	if (!p || !(p = strchr(p + 4, '"')) || !(q = strchr(p + 1, '"')))
		return -1;
	snprintf(idbuf, len, "%.*s", (int)(q - p - 1), p + 1);
	return 0;
}

static void test_retry_after_and_reset(void)
{
	struct http *h = http_new(NULL);
	struct got g;
	char id[128], url[512];

	CHECK_INT(make_job(h, "[[http429=1 queue=5]]", id, sizeof id), 0);
	memset(&g, 0, sizeof g);
	snprintf(url, sizeof url, "%s/status/%s", em.base, id);
	req(h, NULL, url, "test-key-123", NULL, 0, &g);
	run_until(h, &g.done, 1);
	CHECK_INT(g.status, 429);
	CHECK_INT(g.retry_after, 1000);

	/* A reset on a fresh connection is an error with sent = 1 (libcurl
	 * itself would re-send it on a reused connection: "once" stops that). */
	CHECK_INT(make_job(h, "[[reset=1 queue=5]]", id, sizeof id), 0);
	memset(&g, 0, sizeof g);
	snprintf(url, sizeof url, "%s/status/%s", em.base, id);
	once = 1;
	req(h, NULL, url, "test-key-123", NULL, 0, &g);
	once = 0;
	run_until(h, &g.done, 1);
	CHECK_INT(g.done, 1);
	CHECK_INT(g.status, 0);
	CHECK(g.error[0] != '\0');
	CHECK_INT(g.sent, 1);
	http_free(h);
}

/* before_send runs once, when the request is about to leave: -1 holds it
 * back (an error with sent = 0, aborted = 1; the server never sees it), 0
 * lets it go (sent = 1). */
static int hook_calls, hook_refuse;

static int hook(void *udata)
{
	(void)udata;
	hook_calls++;
	return hook_refuse ? -1 : 0;
}

static void test_before_send(void)
{
	struct http *h = http_new(NULL);
	struct http_request r;
	struct got g, s;
	char url[256];

	for (int refuse = 1; refuse >= 0; refuse--) {
		memset(&r, 0, sizeof r);
		memset(&g, 0, sizeof g);
		snprintf(url, sizeof url, "%s/run", em.base);
		r.method = "POST";
		r.url = url;
		r.api_key = "test-key-123";
		r.body = refuse ? "{\"input\":{\"prompt\":\"held back\"}}"
		                : "{\"input\":{\"prompt\":\"let go\"}}";
		r.once = 1;
		r.before_send = hook;
		hook_calls = 0;
		hook_refuse = refuse;
		CHECK(http_request(h, &r, on_done, &g, NULL) > 0);
		run_until(h, &g.done, 1);
		CHECK_INT(g.done, 1);
		CHECK_INT(hook_calls, 1);
		CHECK_INT(g.sent, !refuse);
		CHECK_INT(g.status, refuse ? 0 : 200);
		CHECK(refuse ? g.error[0] != '\0' : g.error[0] == '\0');
	}
	memset(&s, 0, sizeof s);
	snprintf(url, sizeof url, "%s/_emu/stats", em.root);
	req(h, NULL, url, NULL, NULL, 1 << 20, &s);
	run_until(h, &s.done, 1);
	CHECK(strstr(s.body, "\"let go\"") != NULL);
	CHECK(strstr(s.body, "\"held back\"") == NULL);
	http_free(h);
}

static void test_many(void)
{
	struct http *h = http_new(NULL);
	struct got g[40];
	char url[256];
	int done = 0, ok = 0;
	int64_t deadline = now_ms() + 20000;

	memset(g, 0, sizeof g);
	snprintf(url, sizeof url, "%s/health", em.base);
	for (int i = 0; i < 40; i++)
		req(h, NULL, url, "test-key-123", NULL, 0, &g[i]);
	while (done < 40 && now_ms() < deadline) {
		http_poll(h, NULL, 0, 200);
		http_perform(h);
		done = 0;
		for (int i = 0; i < 40; i++)
			done += g[i].done;
	}
	for (int i = 0; i < 40; i++)
		ok += g[i].status == 200;
	CHECK_INT(ok, 40);
	http_free(h);
}

int main(void)
{
	TH_RUN(test_retry_after_parse);
	TH_RUN(test_scheme_refused);
	emu_ok = emu_start(&em, NULL) == 0;
	if (!emu_ok) {
		fprintf(stderr, "cannot start the emulator\n");
		th_failed++;
	} else {
		TH_RUN(test_get_and_key);
		TH_RUN(test_post_json);
		TH_RUN(test_body_cap);
		TH_RUN(test_cancel);
		TH_RUN(test_cancel_from_callback);
		TH_RUN(test_refused);
		TH_RUN(test_retry_after_and_reset);
		TH_RUN(test_before_send);
		TH_RUN(test_many);
		emu_stop(&em);
	}
	return th_done("test_http");
}
