/*
 * http.c: the libcurl multi wrapper (see http.h).
 *
 * Each request is one easy handle with a private struct xfer (CURLOPT_PRIVATE)
 * holding its capped response buffer, its headers and its callback. Finished
 * transfers are first collected from curl_multi_info_read() into a list and
 * only then reported, so a callback may start or cancel any request (even one
 * that finished in the same pass) without disturbing the iteration.
 *
 * On Linux the sockets are watched with epoll through libcurl's socket API
 * (CURLMOPT_SOCKETFUNCTION, CURLMOPT_TIMERFUNCTION): a pass costs what the
 * sockets that are ready cost, not what every open connection costs (with
 * hundreds of held long-polls, curl_multi_poll + curl_multi_perform polled
 * and walked all of them on every pass). Elsewhere curl_multi_poll remains.
 *
 * TLS costs one certificate store and one session per process, not per
 * connection: every /run opens a fresh connection (see http_request), and
 * with libcurl's default CA directory as well as its CA file (Debian's build
 * has both) libcurl does not cache the store, so OpenSSL parsed the whole CA
 * bundle again for each one (~30 ms of CPU a connection here). When the build
 * has a readable CA file, the directory is left out (the file holds the same
 * system certificates) and the parsed store is cached; TLS sessions are
 * shared between requests so a new connection resumes one.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/epoll.h>
#include <sys/eventfd.h>
#define HTTP_EPOLL 1
#endif
#include "http.h"
#include "util.h"

#define HTTP_DEFAULT_MAX (1024 * 1024)
#define HTTP_DEFAULT_CONNECT_MS 10000
#define HTTP_DEFAULT_TIMEOUT_MS 30000

enum xfer_state { XFER_ACTIVE, XFER_DONE };

struct xfer {
	uint64_t id;
	enum xfer_state state;
	int cancelled;
	CURL *easy;
	struct curl_slist *headers;
	char *body;
	char *buf;
	size_t len, cap, max;
	int too_large;
	int prereq_seen; /* libcurl was about to write the request */
	int aborted;     /* before_send refused */
	int (*before_send)(void *udata);
	int64_t retry_after_ms;
	long timeout_ms;
	CURLcode result;
	http_cb cb;
	void *udata;
	struct xfer *prev, *next;
	char errbuf[CURL_ERROR_SIZE];
};

struct http {
	CURLM *multi;
	CURLSH *share;   /* TLS sessions shared by all requests */
	int ca_file_only; /* leave libcurl's default CA directory out */
	char *ca_file;    /* SSL_CERT_FILE / CURL_CA_BUNDLE, or NULL: libcurl's */
	uint64_t next_id;
	struct xfer *active; /* doubly linked list of XFER_ACTIVE */
	size_t n_active;
	int in_perform;
	struct xfer **done; /* finished, being reported by http_perform */
	size_t ndone;
#ifdef HTTP_EPOLL
	int epfd;          /* the sockets libcurl wants watched */
	int wakefd;        /* eventfd for http_wakeup */
	int64_t timer_due; /* libcurl's timer (util_now_ms clock), -1: none */
#endif
};

#ifdef HTTP_EPOLL
/* libcurl says which events socket s needs (CURLMOPT_SOCKETFUNCTION). */
static int sock_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct http *h = userp;
	struct epoll_event ev;
	(void)easy;

	if (what == CURL_POLL_REMOVE) {
		epoll_ctl(h->epfd, EPOLL_CTL_DEL, s, NULL);
		curl_multi_assign(h->multi, s, NULL);
		return 0;
	}
	memset(&ev, 0, sizeof ev);
	ev.data.fd = s;
	if (what & CURL_POLL_IN)
		ev.events |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		ev.events |= EPOLLOUT;
	if (socketp) {
		if (epoll_ctl(h->epfd, EPOLL_CTL_MOD, s, &ev) == 0 || errno != ENOENT)
			return 0;
	}
	if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, s, &ev) < 0 && errno == EEXIST)
		epoll_ctl(h->epfd, EPOLL_CTL_MOD, s, &ev);
	curl_multi_assign(h->multi, s, h);
	return 0;
}

/* libcurl's next timeout (CURLMOPT_TIMERFUNCTION): -1 none, 0 at once. */
static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct http *h = userp;
	(void)multi;
	h->timer_due = timeout_ms < 0 ? -1 : util_now_ms() + timeout_ms;
	return 0;
}
#endif

static int curl_global_done;

/* Whether libcurl was built with a CA file that can be read, next to a CA
 * directory: then the file alone verifies peers, and its parsed store is
 * cached (libcurl caches none while a directory is in use). */
static int ca_file_is_enough(void)
{
	const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);

	return v && v->age >= CURLVERSION_SEVENTH && v->capath && v->cainfo &&
	       access(v->cainfo, R_OK) == 0;
}

/* The CA bundle the user names, as the curl tool and OpenSSL read it:
 * SSL_CERT_FILE, else CURL_CA_BUNDLE (a proxy that re-signs TLS, a private
 * endpoint). NULL: libcurl's own. */
static const char *ca_file_from_env(void)
{
	const char *names[] = {"SSL_CERT_FILE", "CURL_CA_BUNDLE"};

	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		const char *v = getenv(names[i]);
		if (v && *v)
			return v;
	}
	return NULL;
}

struct http *http_new(char **err)
{
	struct http *h;
	const char *p;

	if (!curl_global_done) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
			util_set_err(err, "libcurl failed to initialise");
			return NULL;
		}
		curl_global_done = 1;
	}
	h = calloc(1, sizeof *h);
	if (!h) {
		util_set_err(err, "out of memory");
		return NULL;
	}
	h->multi = curl_multi_init();
	if (!h->multi) {
		free(h);
		util_set_err(err, "libcurl: cannot create a multi handle");
		return NULL;
	}
	h->next_id = 1;
#ifdef HTTP_EPOLL
	h->timer_due = -1;
	h->epfd = epoll_create1(EPOLL_CLOEXEC);
	h->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (h->epfd < 0 || h->wakefd < 0) {
		int e = errno;
		if (h->epfd >= 0)
			close(h->epfd);
		if (h->wakefd >= 0)
			close(h->wakefd);
		curl_multi_cleanup(h->multi);
		free(h);
		util_set_err(err, "cannot create an epoll or event fd: %s", strerror(e));
		return NULL;
	}
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
#endif
	curl_multi_setopt(h->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)HTTP_MAX_HOST_CONNECTIONS);
	curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, (long)HTTP_MAX_HOST_CONNECTIONS);
	/* One thread uses the share: no lock callbacks. Without it each request
	 * (its own easy handle) would start a full TLS handshake. */
	if ((h->share = curl_share_init()) &&
	    curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK) {
		curl_share_cleanup(h->share);
		h->share = NULL;
	}
	if ((p = ca_file_from_env())) {
		if (!(h->ca_file = strdup(p))) {
			http_free(h);
			util_set_err(err, "out of memory");
			return NULL;
		}
		h->ca_file_only = 1;
	} else {
		h->ca_file_only = ca_file_is_enough();
	}
	return h;
}

static void xfer_free(struct xfer *x)
{
	if (!x)
		return;
	if (x->easy)
		curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->headers);
	free(x->body);
	free(x->buf);
	free(x);
}

static void unlink_active(struct http *h, struct xfer *x)
{
	if (x->prev)
		x->prev->next = x->next;
	else
		h->active = x->next;
	if (x->next)
		x->next->prev = x->prev;
	x->prev = x->next = NULL;
	h->n_active--;
}

void http_free(struct http *h)
{
	if (!h)
		return;
	while (h->active) {
		struct xfer *x = h->active;
		unlink_active(h, x);
		curl_multi_remove_handle(h->multi, x->easy);
		xfer_free(x);
	}
	curl_multi_cleanup(h->multi);
	if (h->share)
		curl_share_cleanup(h->share);
	free(h->ca_file);
#ifdef HTTP_EPOLL
	close(h->epfd);
	close(h->wakefd);
#endif
	free(h);
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *udata)
{
	struct xfer *x = udata;
	size_t n = size * nmemb;

	if (n > x->max - x->len) {
		x->too_large = 1;
		return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
	}
	if (x->len + n + 1 > x->cap) {
		size_t cap = x->cap ? x->cap : 4096;
		curl_off_t cl = -1;
		char *nb;
		/* A body that says its length gets exactly that (a 40 MB status
		 * reply is not doubled to 64 MB on the way in). */
		if (!x->cap &&
		    curl_easy_getinfo(x->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) ==
		        CURLE_OK &&
		    cl > 0 && (uint64_t)cl <= (uint64_t)x->max && (size_t)cl + 1 > cap)
			cap = (size_t)cl + 1;
		while (cap < x->len + n + 1)
			cap *= 2;
		if (cap > x->max + 1)
			cap = x->max + 1;
		nb = realloc(x->buf, cap);
		if (!nb)
			return 0;
		x->buf = nb;
		x->cap = cap;
	}
	memcpy(x->buf + x->len, data, n);
	x->len += n;
	x->buf[x->len] = '\0';
	return n;
}

int64_t http_parse_retry_after(const char *v, int64_t now_s)
{
	const char *p;
	char *end;
	long long secs;
	time_t t;

	if (!v)
		return -1;
	while (*v == ' ' || *v == '\t')
		v++;
	if (*v >= '0' && *v <= '9') {
		errno = 0;
		secs = strtoll(v, &end, 10);
		for (p = end; *p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'; p++)
			;
		if (errno || *p)
			return -1;
		if (secs > 7 * 24 * 3600)
			secs = 7 * 24 * 3600;
		return (int64_t)secs * 1000;
	}
	if (!*v)
		return -1;
	t = curl_getdate(v, NULL);
	if (t == (time_t)-1)
		return -1;
	if ((int64_t)t <= now_s)
		return 0;
	if ((int64_t)t - now_s > 7 * 24 * 3600)
		return (int64_t)7 * 24 * 3600 * 1000;
	return ((int64_t)t - now_s) * 1000;
}

static size_t header_cb(char *data, size_t size, size_t nmemb, void *udata)
{
	struct xfer *x = udata;
	size_t n = size * nmemb;
	static const char name[] = "retry-after:";
	char val[128];
	size_t vl;

	if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) {
		x->retry_after_ms = -1; /* a new response (redirect, 1xx) starts */
		return n;
	}
	if (n > sizeof name - 1 && strncasecmp(data, name, sizeof name - 1) == 0) {
		vl = n - (sizeof name - 1);
		if (vl >= sizeof val)
			vl = sizeof val - 1;
		memcpy(val, data + sizeof name - 1, vl);
		val[vl] = '\0';
		while (vl && (val[vl - 1] == '\r' || val[vl - 1] == '\n' || val[vl - 1] == ' '))
			val[--vl] = '\0';
		x->retry_after_ms = http_parse_retry_after(val, (int64_t)time(NULL));
	}
	return n;
}

/* libcurl calls this when the connection is ready and the request is about
 * to be written: from here on, the server may see it. */
static int prereq_cb(void *udata, char *conn_primary_ip, char *conn_local_ip, int conn_primary_port,
                     int conn_local_port)
{
	struct xfer *x = udata;
	(void)conn_primary_ip;
	(void)conn_local_ip;
	(void)conn_primary_port;
	(void)conn_local_port;
	if (x->before_send && !x->prereq_seen && x->before_send(x->udata) < 0) {
		x->aborted = 1;
		return CURL_PREREQFUNC_ABORT;
	}
	x->prereq_seen = 1;
	return CURL_PREREQFUNC_OK;
}

static int url_allowed(const char *url)
{
	return url && (strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0);
}

uint64_t http_request(struct http *h, const struct http_request *req, http_cb cb, void *udata,
                      char **err)
{
	struct xfer *x;
	const char *method = req->method ? req->method : "GET";
	CURL *e;
	CURLMcode mc;

	if (!url_allowed(req->url)) {
		util_set_err(err, "only http:// and https:// URLs are allowed");
		return 0;
	}
	x = calloc(1, sizeof *x);
	if (!x || !(x->easy = curl_easy_init())) {
		free(x);
		util_set_err(err, "out of memory");
		return 0;
	}
	e = x->easy;
	x->max = req->max_response ? req->max_response : HTTP_DEFAULT_MAX;
	x->retry_after_ms = -1;
	x->cb = cb;
	x->udata = udata;
	x->timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : HTTP_DEFAULT_TIMEOUT_MS;

	curl_easy_setopt(e, CURLOPT_URL, req->url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	if (h->ca_file)
		curl_easy_setopt(e, CURLOPT_CAINFO, h->ca_file);
	if (h->ca_file_only)
		curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
	if (h->share)
		curl_easy_setopt(e, CURLOPT_SHARE, h->share);
	/* Wait for a connection that may multiplex (HTTP/2 is only offered
	 * over TLS here): over plain http:// it would queue every request
	 * behind a busy HTTP/1.1 connection, a held long-poll included. */
	curl_easy_setopt(e, CURLOPT_PIPEWAIT, strncmp(req->url, "https://", 8) == 0 ? 1L : 0L);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(e, CURLOPT_USERAGENT, "sdq/" SDQ_VERSION);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
	                 req->connect_timeout_ms > 0 ? req->connect_timeout_ms
	                                             : (long)HTTP_DEFAULT_CONNECT_MS);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, x->timeout_ms);
	curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->max);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	x->before_send = req->before_send;
	curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, prereq_cb);
	curl_easy_setopt(e, CURLOPT_PREREQDATA, x);
	if (req->once) {
		curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
	}
	if (req->follow_redirects) {
		curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
		/* The Authorization header is never sent to another host. */
		curl_easy_setopt(e, CURLOPT_UNRESTRICTED_AUTH, 0L);
	}

	x->headers = curl_slist_append(NULL, "Accept: application/json");
	x->headers = x->headers ? curl_slist_append(x->headers, "Expect:") : NULL;
	if (x->headers && req->api_key) {
		size_t kl = strlen(req->api_key);
		char *hdr = malloc(kl + 32);
		struct curl_slist *nh = NULL;
		if (hdr) {
			snprintf(hdr, kl + 32, "Authorization: Bearer %s", req->api_key);
			nh = curl_slist_append(x->headers, hdr);
			/* curl copied it: wipe ours */
			memset(hdr, 0, kl + 32);
			free(hdr);
		}
		if (!nh) {
			curl_slist_free_all(x->headers);
			x->headers = NULL;
		} else {
			x->headers = nh;
		}
	}
	if (x->headers && req->body) {
		struct curl_slist *nh =
		    curl_slist_append(x->headers, "Content-Type: application/json");
		if (!nh) {
			curl_slist_free_all(x->headers);
			x->headers = NULL;
		} else {
			x->headers = nh;
		}
	}
	if (!x->headers) {
		xfer_free(x);
		util_set_err(err, "out of memory");
		return 0;
	}
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);

	if (req->body) {
		size_t bl = req->body_len ? req->body_len : strlen(req->body);
		x->body = malloc(bl + 1);
		if (!x->body) {
			xfer_free(x);
			util_set_err(err, "out of memory");
			return 0;
		}
		memcpy(x->body, req->body, bl);
		x->body[bl] = '\0';
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)bl);
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body);
	}
	if (strcmp(method, "GET") == 0) {
		curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
	} else if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		if (!req->body) {
			curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, 0L);
			curl_easy_setopt(e, CURLOPT_POSTFIELDS, "");
		}
	} else {
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	}

	mc = curl_multi_add_handle(h->multi, e);
	if (mc != CURLM_OK) {
		xfer_free(x);
		util_set_err(err, "%s", curl_multi_strerror(mc));
		return 0;
	}
	x->id = h->next_id++;
	x->state = XFER_ACTIVE;
	x->next = h->active;
	if (h->active)
		h->active->prev = x;
	h->active = x;
	h->n_active++;
	return x->id;
}

void http_cancel(struct http *h, uint64_t id)
{
	struct xfer *x;
	size_t i;

	if (!h || !id)
		return;
	for (x = h->active; x; x = x->next) {
		if (x->id == id) {
			unlink_active(h, x);
			curl_multi_remove_handle(h->multi, x->easy);
			xfer_free(x);
			return;
		}
	}
	for (i = 0; h->in_perform && i < h->ndone; i++)
		if (h->done[i] && h->done[i]->id == id)
			h->done[i]->cancelled = 1;
}

size_t http_active(const struct http *h)
{
	return h ? h->n_active : 0;
}

#ifdef HTTP_EPOLL
int http_poll(struct http *h, struct curl_waitfd *extra, unsigned n, int timeout_ms)
{
	struct pollfd stackp[34], *p = stackp;
	unsigned i;
	int r;

	if (timeout_ms < 0 || timeout_ms > 3600 * 1000)
		timeout_ms = 3600 * 1000;
	if (h->timer_due >= 0) {
		int64_t left = h->timer_due - util_now_ms();
		if (left < timeout_ms)
			timeout_ms = left < 0 ? 0 : (int)left;
	}
	if (n + 2 > sizeof stackp / sizeof *stackp && !(p = calloc(n + 2, sizeof *p)))
		return -1;
	for (i = 0; i < n; i++) {
		p[i].fd = extra[i].fd;
		p[i].events = (short)((extra[i].events & CURL_WAIT_POLLIN ? POLLIN : 0) |
		                      (extra[i].events & CURL_WAIT_POLLPRI ? POLLPRI : 0) |
		                      (extra[i].events & CURL_WAIT_POLLOUT ? POLLOUT : 0));
		p[i].revents = 0;
	}
	p[n].fd = h->epfd;
	p[n].events = POLLIN;
	p[n + 1].fd = h->wakefd;
	p[n + 1].events = POLLIN;
	p[n].revents = p[n + 1].revents = 0;
	r = poll(p, n + 2, timeout_ms);
	if (r < 0 && errno != EINTR) {
		if (p != stackp)
			free(p);
		return -1;
	}
	for (i = 0; i < n; i++) {
		short re = r > 0 ? p[i].revents : 0;
		extra[i].revents =
		    (short)((re & (POLLIN | POLLHUP | POLLERR) ? CURL_WAIT_POLLIN : 0) |
		            (re & POLLPRI ? CURL_WAIT_POLLPRI : 0) |
		            (re & POLLOUT ? CURL_WAIT_POLLOUT : 0));
	}
	if (r > 0 && p[n + 1].revents) {
		uint64_t v;
		if (read(h->wakefd, &v, sizeof v) < 0) {
			/* nothing to drain */
		}
	}
	if (p != stackp)
		free(p);
	return 0;
}

void http_wakeup(struct http *h)
{
	uint64_t one = 1;
	if (h && write(h->wakefd, &one, sizeof one) < 0) {
		/* already pending */
	}
}

long http_timeout_ms(struct http *h)
{
	int64_t left;
	if (h->timer_due < 0)
		return -1;
	left = h->timer_due - util_now_ms();
	return left < 0 ? 0 : (long)left;
}

/* Let libcurl act on the sockets that are ready, then on its timer. */
static int drive(struct http *h)
{
	struct epoll_event ev[64];
	int running = 0, n, rounds = 0;

	do {
		n = epoll_wait(h->epfd, ev, (int)(sizeof ev / sizeof *ev), 0);
		for (int i = 0; i < n; i++) {
			int what = 0;
			if (ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
				what |= CURL_CSELECT_IN;
			if (ev[i].events & EPOLLOUT)
				what |= CURL_CSELECT_OUT;
			if (ev[i].events & EPOLLERR)
				what |= CURL_CSELECT_ERR;
			if (curl_multi_socket_action(h->multi, ev[i].data.fd, what, &running) !=
			    CURLM_OK)
				return -1;
		}
		/* a full batch: more may be ready; bounded so a pass ends */
	} while (n == (int)(sizeof ev / sizeof *ev) && ++rounds < 64);
	if (h->timer_due >= 0 && util_now_ms() >= h->timer_due) {
		h->timer_due = -1;
		if (curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running) !=
		    CURLM_OK)
			return -1;
	}
	return 0;
}
#else
int http_poll(struct http *h, struct curl_waitfd *extra, unsigned n, int timeout_ms)
{
	CURLMcode mc;

	if (timeout_ms < 0 || timeout_ms > 3600 * 1000)
		timeout_ms = 3600 * 1000;
	mc = curl_multi_poll(h->multi, extra, n, timeout_ms, NULL);
	return mc == CURLM_OK ? 0 : -1;
}

void http_wakeup(struct http *h)
{
	if (h)
		curl_multi_wakeup(h->multi);
}

long http_timeout_ms(struct http *h)
{
	long t = -1;
	curl_multi_timeout(h->multi, &t);
	return t;
}

static int drive(struct http *h)
{
	int running = 0;
	return curl_multi_perform(h->multi, &running) == CURLM_OK ? 0 : -1;
}
#endif

static void report(struct http *h, struct xfer *x)
{
	struct http_response r;
	char msg[CURL_ERROR_SIZE + 160];
	curl_off_t tt = 0;

	memset(&r, 0, sizeof r);
	r.id = x->id;
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &r.status);
	curl_easy_getinfo(x->easy, CURLINFO_TOTAL_TIME_T, &tt);
	r.total_s = (double)tt / 1e6;
	r.body = x->buf ? x->buf : "";
	r.len = x->len;
	r.code = x->result;
	r.retry_after_ms = x->retry_after_ms;
	/* PREREQFUNCTION fires before each request is written; a request
	 * that got an answer was surely sent */
	r.sent = !x->aborted && (x->prereq_seen || r.status > 0);
	r.aborted = x->aborted;
	if (x->result == CURLE_FILESIZE_EXCEEDED)
		x->too_large = 1;
	r.too_large = x->too_large;
	r.timed_out = x->result == CURLE_OPERATION_TIMEDOUT;
	if (x->too_large) {
		snprintf(msg, sizeof msg, "response too large (more than %zu bytes)", x->max);
		r.error = msg;
	} else if (x->result == CURLE_OPERATION_TIMEDOUT) {
		snprintf(msg, sizeof msg, "timeout: %s",
		         x->errbuf[0] ? x->errbuf : curl_easy_strerror(x->result));
		r.error = msg;
	} else if (x->aborted) {
		snprintf(msg, sizeof msg, "not sent (held back before it left)");
		r.error = msg;
	} else if (x->result == CURLE_PEER_FAILED_VERIFICATION || x->result == CURLE_SSL_CACERT_BADFILE) {
		/* what to do about it: a proxy or endpoint with its own CA */
		snprintf(msg, sizeof msg, "%s (if the endpoint's certificate comes from a private CA, "
		         "set SSL_CERT_FILE to a bundle holding it)",
		         x->errbuf[0] ? x->errbuf : curl_easy_strerror(x->result));
		r.error = msg;
	} else if (x->result != CURLE_OK) {
		snprintf(msg, sizeof msg, "%s",
		         x->errbuf[0] ? x->errbuf : curl_easy_strerror(x->result));
		r.error = msg;
	}
	if (x->cb)
		x->cb(h, &r, x->udata);
}

int http_perform(struct http *h)
{
	int nmsg = 0, ran = 0;
	CURLMsg *m;
	struct xfer **done = NULL;
	size_t ndone = 0, cap = 0, i;

	if (h->in_perform)
		return 0; /* not from inside a callback */
	if (drive(h) < 0)
		return -1;
	while ((m = curl_multi_info_read(h->multi, &nmsg))) {
		struct xfer *x = NULL;
		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		if (!x)
			continue;
		x->result = m->data.result;
		if (ndone == cap) {
			size_t nc = cap ? cap * 2 : 16;
			struct xfer **nd = realloc(done, nc * sizeof *nd);
			if (!nd)
				break; /* the rest is reported on the next pass */
			done = nd;
			cap = nc;
		}
		unlink_active(h, x);
		curl_multi_remove_handle(h->multi, x->easy);
		x->state = XFER_DONE;
		done[ndone++] = x;
	}
	h->done = done;
	h->ndone = ndone;
	h->in_perform = 1;
	for (i = 0; i < ndone; i++) {
		struct xfer *x = done[i];
		if (!x->cancelled) {
			report(h, x);
			ran++;
		}
		done[i] = NULL;
		xfer_free(x);
	}
	h->in_perform = 0;
	h->done = NULL;
	h->ndone = 0;
	free(done);
	return ran;
}
