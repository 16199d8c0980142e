/*
 * http.h: a small libcurl multi wrapper for the engine and the backends.
 *
 * One struct http owns one CURLM: every request of the process goes through
 * it, so connections are kept alive and reused (HTTP/2 multiplexing where the
 * server offers it, at most HTTP_MAX_HOST_CONNECTIONS per host). Requests are
 * asynchronous: http_request() starts one and returns at once; the owner of
 * the loop calls http_poll() (the one wait of the process, with extra fds)
 * and http_perform(), which runs the transfers and calls each finished
 * request's callback exactly once (unless it was cancelled first).
 *
 * Safety: only http:// and https:// are allowed (also on redirects), TLS is
 * verified, every response body has a hard cap (passing it aborts the
 * transfer with "response too large"), and the API key given per request is
 * sent only as "Authorization: Bearer <key>" and never appears in an error
 * text. Nothing here prints or retries: the caller decides (see
 * http_retry_after_ms and the classification fields of struct http_response).
 */
#ifndef SDQ_HTTP_H
#define SDQ_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <curl/curl.h>

/* High on purpose: the callers' own limiters cap concurrency per operation
 * (runpod.c), and over HTTP/1.1 every held long-poll needs a connection of
 * its own; a cap here would queue a cancel behind held requests. Over
 * HTTP/2 they all share one connection (multiplexed). */
#define HTTP_MAX_HOST_CONNECTIONS 400

struct http;

/* One request. Every pointer is borrowed only for the duration of the
 * http_request() call: the strings and the body are copied. */
struct http_request {
	const char *method;  /* "GET" (default when NULL), "POST", ... */
	const char *url;     /* http:// or https:// only */
	const char *api_key; /* sent as "Authorization: Bearer <key>"; NULL: no auth */
	const char *body;    /* request body (sent with Content-Type: application/json), or NULL */
	size_t body_len;     /* 0 with a body: strlen(body) */
	size_t max_response; /* cap on the response body in bytes; 0: 1 MiB */
	long connect_timeout_ms; /* 0: 10 s */
	long timeout_ms;         /* whole transfer; 0: 30 s */
	int follow_redirects;    /* follow up to 5 redirects (image downloads) */
	/* A request that must never be sent twice (POST /run). libcurl re-sends
	 * a request by itself when a reused connection turns out dead before
	 * any answer; this request gets a fresh connection of its own instead,
	 * so a reset is reported as an error with sent = 1. (Once it has been
	 * answered, the connection is healthy and others may reuse it.) */
	int once;
	/* Called once the connection is ready and the request is about to be
	 * written (libcurl's CURLOPT_PREREQFUNCTION), with this request's
	 * udata, from inside http_perform(): it may only touch its own data and
	 * the store, never start, cancel or wait for requests or report to a
	 * front end. Return 0 to send, -1 to abort: the request then ends with
	 * an error, sent = 0 and aborted = 1, and nothing reached the server.
	 * NULL: no hook. */
	int (*before_send)(void *udata);
};

/* What a finished request got. Everything is borrowed and valid only during
 * the callback. */
struct http_response {
	uint64_t id;      /* the id http_request returned */
	long status;      /* HTTP status code, 0 if no HTTP answer was received */
	const char *body; /* the response body, NUL-terminated (never NULL) */
	size_t len;
	/* NULL on success; otherwise what went wrong in words ("Couldn't connect
	 * to server: ...", "response too large (more than N bytes)", "timeout
	 * after N ms"). Never contains the API key. An HTTP error status alone is
	 * not an error here: check status. */
	const char *error;
	CURLcode code; /* libcurl's result (CURLE_OK with any status) */
	int too_large; /* the body passed max_response: transfer aborted */
	int timed_out; /* connect or total timeout */
	/* 1 if the request may have reached the server (a connection was
	 * established and bytes of the request were written): a non-idempotent
	 * request with an error is then of unknown outcome. 0 means it was never
	 * sent (no connection, DNS failure, TLS handshake failure): libcurl never
	 * said the request was about to leave (CURLOPT_PREREQFUNCTION). */
	int sent;
	int aborted; /* before_send returned -1: not sent */
	/* Retry-After of the answer in milliseconds (seconds or an HTTP date,
	 * converted relative to now), or -1 when absent or unparseable. */
	int64_t retry_after_ms;
	double total_s; /* duration of the transfer in seconds */
};

typedef void (*http_cb)(struct http *h, const struct http_response *r, void *udata);

/* A new client with its own CURLM. NULL with *err. */
struct http *http_new(char **err);
/* Abort every transfer (no callbacks) and free. Accepts NULL. */
void http_free(struct http *h);

/* Start a request; cb(h, response, udata) runs later from http_perform().
 * Returns an id > 0, or 0 with *err (bad URL scheme, ENOMEM). */
uint64_t http_request(struct http *h, const struct http_request *req, http_cb cb, void *udata,
                      char **err);
/* Abort request id; its callback will not run. Harmless for finished or
 * unknown ids (and may be called from inside any callback). */
void http_cancel(struct http *h, uint64_t id);
/* Number of requests started and not yet finished or cancelled. */
size_t http_active(const struct http *h);

/* Wait up to timeout_ms (-1: no limit; internally capped so libcurl can keep
 * its own timers) for network activity or one of extra[0..n) (their revents
 * are filled in). Does not run transfers. On Linux one poll() covers the
 * extra fds and an epoll set of libcurl's sockets, so its cost does not grow
 * with the number of open connections. 0, or -1 on a fatal error. */
int http_poll(struct http *h, struct curl_waitfd *extra, unsigned n, int timeout_ms);
/* Run every transfer that can make progress and call the callbacks of the
 * finished ones. Returns the number of callbacks run, or -1 on a fatal error. */
int http_perform(struct http *h);
/* Make a running http_poll return at once (safe from any thread; not
 * async-signal-safe: use a self-pipe for signals). */
void http_wakeup(struct http *h);
/* libcurl's wish for the next call (ms until its next timeout, -1 none). */
long http_timeout_ms(struct http *h);

/* Parse a Retry-After value: delta-seconds or an HTTP date (relative to
 * now_s, seconds since the epoch). Milliseconds >= 0, or -1 if unparseable. */
int64_t http_parse_retry_after(const char *value, int64_t now_s);

#endif
