/*
 * output.c: finding the images in a worker's output JSON, and saving them.
 *
 * Workers disagree on where images go (shared/reference/runpod-api.md, part
 * 2), so the output tree is walked whole and every string is judged by its
 * value:
 *   - "data:<mime>;base64,<payload>": an image when the payload decodes to
 *     PNG/JPEG/WebP/GIF bytes. A data:image/... URI that does not decode is
 *     counted as a broken image and reported in res->error.
 *   - bare base64 (>= 64 characters, base64 alphabet, white space allowed)
 *     whose first bytes decode to one of those magic numbers.
 *   - an http(s) URL when either its path ends in .png/.jpg/.jpeg/.webp/.gif
 *     (presigned S3 URLs, image.runpod.ai), or it sits in an image-like place:
 *     the output itself is the URL; its key (or, in an array, the array's key)
 *     names an image (contains "image", "img", "picture", "photo", or is one
 *     of url, uri, src, href, message, data, output, file); or a sibling says
 *     "type": "s3_url" (ComfyUI). Other URLs (a model's homepage in
 *     "parameters") are ignored.
 * The same image is taken once: equal URLs, and equal decoded bytes (sdxl
 * sends images[0] and image_url with the same data URI).
 * "seed" and "filename" beside an image in its object go with it; A1111's
 * "info" JSON string gives all_seeds when the images carry none.
 * An output that is a string holding JSON (a handler that returned
 * json.dumps(result)) is read as that JSON.
 * Errors in a COMPLETED output (top level only): {"status": "error",
 * "message"}, an "error" string or object (plus "details"), ComfyUI's "errors"
 * list.
 */
#include "image.h"
#include "output.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "params.h"
#include "pngmeta.h"
#include "util.h"

#define DEPTH_MAX 64
#define ITEMS_MAX 1024
#define ERROR_MAX 4096
#define B64_MIN 64

static char *xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* ---------------------------------------------------------------- sniffing */

const char *output_sniff(const unsigned char *d, size_t len)
{
	if (!d)
		return NULL;
	if (len >= 8 && memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0)
		return "png";
	if (len >= 3 && d[0] == 0xff && d[1] == 0xd8 && d[2] == 0xff)
		return "jpeg";
	if (len >= 12 && memcmp(d, "RIFF", 4) == 0 && memcmp(d + 8, "WEBP", 4) == 0)
		return "webp";
	if (len >= 6 && (memcmp(d, "GIF87a", 6) == 0 || memcmp(d, "GIF89a", 6) == 0))
		return "gif";
	return NULL;
}

/* ---------------------------------------------------------------- base64 */

/* Value of each byte as a base64 character in either alphabet (standard and
 * URL-safe), -1 for others. Filled on first use; racing fills write the
 * same values. */
static signed char b64tab[256];
static int b64tab_ready;

static void b64tab_init(void)
{
	if (b64tab_ready)
		return;
	for (int c = 0; c < 256; c++) {
		int v = -1;
		if (c >= 'A' && c <= 'Z')
			v = c - 'A';
		else if (c >= 'a' && c <= 'z')
			v = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			v = c - '0' + 52;
		else if (c == '+' || c == '-')
			v = 62;
		else if (c == '/' || c == '_')
			v = 63;
		b64tab[c] = (signed char)v;
	}
	b64tab_ready = 1;
}

static int b64val(unsigned char c)
{
	return b64tab[c];
}

static int is_space(unsigned char c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

/* Count the data characters of s; -1 if anything but the alphabet, white
 * space and up to two trailing '=' appears. */
static long long b64_count(const char *s, size_t slen)
{
	b64tab_init();
	const unsigned char *u = (const unsigned char *)s;
	long long n = 0;
	int pad = 0;
	for (size_t i = 0; i < slen; i++) {
		if (b64tab[u[i]] >= 0 && !pad) {
			n++;
			continue;
		}
		unsigned char c = u[i];
		if (is_space(c))
			continue;
		if (c == '=') {
			if (++pad > 2)
				return -1;
			continue;
		}
		return -1;
	}
	if (n % 4 == 1)
		return -1;
	if (pad && (n + pad) % 4 != 0)
		return -1;
	return n;
}

/* Decode up to outmax bytes of s into out (no validation beyond the
 * alphabet: callers check with b64_count). Returns bytes written. */
static size_t b64_decode_into(const char *s, size_t slen, unsigned char *out, size_t outmax)
{
	b64tab_init();
	const unsigned char *u = (const unsigned char *)s;
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0, i = 0;
	while (i < slen && o < outmax) {
		/* Fast path: four data characters at a group boundary. */
		if (bits == 0 && slen - i >= 4 && outmax - o >= 3) {
			int a = b64tab[u[i]], b = b64tab[u[i + 1]], c = b64tab[u[i + 2]],
			    d = b64tab[u[i + 3]];
			if ((a | b | c | d) >= 0) {
				uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 |
				             (uint32_t)c << 6 | (uint32_t)d;
				out[o] = (unsigned char)(v >> 16);
				out[o + 1] = (unsigned char)(v >> 8);
				out[o + 2] = (unsigned char)v;
				o += 3;
				i += 4;
				continue;
			}
		}
		int v = b64val(u[i++]);
		if (v < 0)
			continue;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	return o;
}

int output_base64_decode(const char *s, size_t slen, size_t max, unsigned char **out,
                         size_t *outlen)
{
	if (!s)
		return -1;
	long long n = b64_count(s, slen);
	if (n < 0)
		return -1;
	size_t bytes = (size_t)n / 4 * 3 + ((size_t)n % 4 ? (size_t)n % 4 - 1 : 0);
	if (max && bytes > max)
		return -1;
	unsigned char *buf = malloc(bytes ? bytes : 1);
	if (!buf)
		return -1;
	size_t got = b64_decode_into(s, slen, buf, bytes);
	if (got != bytes) {
		free(buf);
		return -1;
	}
	*out = buf;
	*outlen = bytes;
	return 0;
}

/* Does s start like base64 of an image? Decodes only the first characters. */
static int b64_looks_like_image(const char *s, size_t slen)
{
	unsigned char head[12];
	size_t got = b64_decode_into(s, slen < 64 ? slen : 64, head, sizeof head);
	return got == sizeof head && output_sniff(head, got) != NULL;
}

/* ---------------------------------------------------------------- walking */

struct walker {
	struct output_result *res;
	size_t max_image;
	int bad;            /* image-like strings that did not decode */
	int too_big;        /* images over max_image */
	int not_b64;        /* image fields holding something that is not base64 */
	char not_b64_key[32];
	int take;           /* the tree is ours: decode base64 strings in place and take
	                       their buffers (no second copy of a big image) */
	int64_t *all_seeds; /* from A1111's info */
	size_t n_all_seeds;
	int oom;
};

static int ieq(const char *a, const char *b)
{
	return a && b && strcasecmp(a, b) == 0;
}

static int key_is_imageish(const char *k)
{
	static const char *exact[] = {"url",  "uri",    "src",  "href", "message",
	                              "data", "output", "file", NULL};
	static const char *part[] = {"image", "img", "picture", "photo", NULL};
	if (!k)
		return 0;
	for (int i = 0; exact[i]; i++)
		if (ieq(k, exact[i]))
			return 1;
	for (int i = 0; part[i]; i++) {
		size_t pl = strlen(part[i]);
		for (const char *p = k; *p; p++)
			if (strncasecmp(p, part[i], pl) == 0)
				return 1;
	}
	return 0;
}

static int url_has_image_ext(const char *u)
{
	size_t end = strcspn(u, "?#");
	static const char *exts[] = {".png", ".jpg", ".jpeg", ".webp", ".gif", NULL};
	for (int i = 0; exts[i]; i++) {
		size_t el = strlen(exts[i]);
		if (end >= el && strncasecmp(u + end - el, exts[i], el) == 0)
			return 1;
	}
	return 0;
}

/* Add an item; takes ownership of data (freed on failure or duplicate). */
static void add_item(struct walker *w, unsigned char *data, size_t len, const char *url,
                     const char *format, int64_t seed, const char *filename)
{
	struct output_result *r = w->res;
	for (size_t i = 0; i < r->n_items; i++) {
		struct output_item *it = &r->items[i];
		if ((url && it->url && strcmp(url, it->url) == 0) ||
		    (data && it->data && it->len == len && memcmp(it->data, data, len) == 0)) {
			/* Seeds are not merged: sdxl's image_url sits beside the
			 * batch seed, which res->seed carries. */
			if (!it->filename && filename)
				it->filename = xstrdup(filename);
			free(data);
			return;
		}
	}
	if (r->n_items >= ITEMS_MAX) {
		free(data);
		return;
	}
	struct output_item *items = realloc(r->items, (r->n_items + 1) * sizeof *items);
	if (!items) {
		free(data);
		w->oom = 1;
		return;
	}
	r->items = items;
	struct output_item *it = &items[r->n_items];
	memset(it, 0, sizeof *it);
	it->data = data;
	it->len = len;
	it->url = xstrdup(url);
	it->format = xstrdup(format);
	it->seed = seed;
	it->filename = xstrdup(filename);
	if ((url && !it->url) || (format && !it->format) || (filename && !it->filename)) {
		free(it->data);
		free(it->url);
		free(it->format);
		free(it->filename);
		w->oom = 1;
		return;
	}
	r->n_items++;
}

/* Decode base64 payload p (of an image-like string) and add it. strict: the
 * string claimed to be an image (data:image/...), so failure counts as bad. */
static void take_base64(struct walker *w, const char *p, size_t plen, int strict, int64_t seed,
                        const char *filename, cJSON *owner)
{
	if (!strict && !b64_looks_like_image(p, plen))
		return;
	long long n = b64_count(p, plen);
	if (n < 0) {
		w->bad += strict;
		return;
	}
	size_t bytes = (size_t)n / 4 * 3 + ((size_t)n % 4 ? (size_t)n % 4 - 1 : 0);
	if (w->max_image && bytes > w->max_image) {
		w->too_big++;
		return;
	}
	unsigned char *data;
	size_t len;
	/* (not when the filename found beside it is this very string: it is
	 * read after the decode) */
	if (w->take && owner && bytes >= 12 && filename != owner->valuestring) {
		/* In place: the bytes go over the string's own buffer (each 4
		 * characters read before their 3 bytes are written), which the
		 * item then owns; the node keeps an empty string it does not
		 * free. Only once its head sniffs as an image, so a string that
		 * is not one is left as it was. */
		unsigned char head[12];
		char *buf = owner->valuestring;
		if (b64_decode_into(p, plen, head, sizeof head) != sizeof head ||
		    !output_sniff(head, sizeof head)) {
			w->bad += strict;
			return;
		}
		len = b64_decode_into(p, plen, (unsigned char *)buf, bytes);
		owner->valuestring = (char *)"";
		owner->type |= cJSON_IsReference;
		data = realloc(buf, len ? len : 1);
		if (!data)
			data = (unsigned char *)buf;
	} else if (output_base64_decode(p, plen, w->max_image, &data, &len) < 0) {
		w->oom = 1;
		return;
	}
	const char *fmt = output_sniff(data, len);
	if (!fmt) {
		free(data);
		w->bad += strict;
		return;
	}
	add_item(w, data, len, NULL, fmt, seed, filename);
}

/* 1 if key (in parent) names a field whose string can only be an image:
 * "image", "images", "img", "imgs", or "data" beside "type": "base64". */
static int image_field(const char *key, const cJSON *parent)
{
	if (!key)
		return 0;
	if (ieq(key, "image") || ieq(key, "images") || ieq(key, "img") || ieq(key, "imgs"))
		return 1;
	if (ieq(key, "data") && parent && cJSON_IsObject(parent)) {
		const cJSON *ty = cJSON_GetObjectItemCaseSensitive(parent, "type");
		return cJSON_IsString(ty) && ieq(ty->valuestring, "base64");
	}
	return 0;
}

/* Judge one string; key is its key in the parent object (or the array's key),
 * parent the object it sits in (or NULL). */
static void visit_string(struct walker *w, cJSON *node, const char *key, const cJSON *parent,
                         int depth)
{
	const char *s = node->valuestring;
	int64_t seed = -1;
	const char *filename = NULL;
	int s3 = 0;
	if (parent && cJSON_IsObject(parent)) {
		const cJSON *sd = cJSON_GetObjectItemCaseSensitive(parent, "seed");
		if (cJSON_IsNumber(sd) && sd->valuedouble >= 0 && sd->valuedouble < 9.2e18)
			seed = (int64_t)sd->valuedouble;
		const cJSON *fn = cJSON_GetObjectItemCaseSensitive(parent, "filename");
		if (cJSON_IsString(fn))
			filename = fn->valuestring;
		const cJSON *ty = cJSON_GetObjectItemCaseSensitive(parent, "type");
		s3 = cJSON_IsString(ty) && ieq(ty->valuestring, "s3_url");
	}
	size_t len = strlen(s);
	if (strncasecmp(s, "data:", 5) == 0) {
		const char *comma = strchr(s, ',');
		if (!comma)
			return;
		size_t hl = (size_t)(comma - s);
		int is_b64 = hl >= 7 && strncasecmp(comma - 7, ";base64", 7) == 0;
		int is_img = strncasecmp(s + 5, "image/", 6) == 0;
		if (!is_b64) {
			w->bad += is_img;
			return;
		}
		take_base64(w, comma + 1, len - hl - 1, is_img, seed, filename, node);
		return;
	}
	if (strncasecmp(s, "http://", 7) == 0 || strncasecmp(s, "https://", 8) == 0) {
		if (strpbrk(s, " \t\r\n"))
			return;
		if (url_has_image_ext(s) || key_is_imageish(key) || s3 || (depth == 0 && !key))
			add_item(w, NULL, 0, s, NULL, seed, filename);
		return;
	}
	/* A field that can only hold an image (A1111's and sdxl's "images",
	 * ComfyUI's "data" beside "type": "base64") and holds no base64 at all. */
	if (image_field(key, parent) && b64_count(s, len) < 0) {
		if (!w->not_b64++)
			snprintf(w->not_b64_key, sizeof w->not_b64_key, "%s", key);
		return;
	}
	if (len >= B64_MIN || image_field(key, parent))
		take_base64(w, s, len, image_field(key, parent), seed, filename, node);
}

/* A1111's "info" is a JSON string; take its seeds. */

/* A seed from a JSON number: -1 unless it is a whole-ish value that fits in
 * int64_t (a server's 1e300 must not reach an undefined cast). */
static int64_t seed_of(const cJSON *n)
{
	if (!cJSON_IsNumber(n) || !(n->valuedouble >= 0 && n->valuedouble < 9.2e18))
		return -1;
	return (int64_t)n->valuedouble;
}

static void read_a1111_info(struct walker *w, const char *s)
{
	if (w->all_seeds)
		return;
	cJSON *info = cJSON_Parse(s);
	if (!info)
		return;
	const cJSON *all = cJSON_GetObjectItemCaseSensitive(info, "all_seeds");
	int n = cJSON_GetArraySize(all);
	if (cJSON_IsArray(all) && n > 0 && n <= ITEMS_MAX) {
		w->all_seeds = malloc((size_t)n * sizeof *w->all_seeds);
		if (w->all_seeds) {
			const cJSON *e;
			size_t i = 0;
			cJSON_ArrayForEach(e, all)
			{
				w->all_seeds[i++] = seed_of(e);
			}
			w->n_all_seeds = i;
		}
	}
	const cJSON *seed = cJSON_GetObjectItemCaseSensitive(info, "seed");
	if (w->res->seed < 0)
		w->res->seed = seed_of(seed);
	cJSON_Delete(info);
}

static void walk(struct walker *w, cJSON *node, const char *key, const cJSON *parent,
                 int depth)
{
	if (depth > DEPTH_MAX || w->oom)
		return;
	if (cJSON_IsString(node) && node->valuestring) {
		if (key && ieq(key, "info") && node->valuestring[0] == '{')
			read_a1111_info(w, node->valuestring);
		else
			visit_string(w, node, key, parent, depth);
	} else if (cJSON_IsArray(node)) {
		cJSON *e;
		cJSON_ArrayForEach(e, node)
		{
			walk(w, e, key, NULL, depth + 1);
		}
	} else if (cJSON_IsObject(node)) {
		cJSON *e;
		cJSON_ArrayForEach(e, node)
		{
			walk(w, e, e->string, node, depth + 1);
		}
	}
}

/* Append text to a growing error message (capped at ERROR_MAX). */
static void err_append(char **msg, const char *text)
{
	if (!text || !*text)
		return;
	size_t old = *msg ? strlen(*msg) : 0;
	size_t add = strlen(text);
	if (old + add + 2 > ERROR_MAX)
		add = ERROR_MAX > old + 2 ? ERROR_MAX - old - 2 : 0;
	if (!add)
		return;
	char *m = realloc(*msg, old + add + 2);
	if (!m)
		return;
	if (old)
		m[old++] = '\n';
	memcpy(m + old, text, add);
	m[old + add] = 0;
	*msg = m;
}

static void err_append_json(char **msg, const cJSON *v)
{
	if (cJSON_IsString(v)) {
		err_append(msg, v->valuestring);
	} else if (v && !cJSON_IsNull(v) && !cJSON_IsFalse(v)) {
		char *t = cJSON_PrintUnformatted(v);
		err_append(msg, t);
		free(t);
	}
}

/* The errors a COMPLETED output reports at its top level. */
static void find_errors(const cJSON *root, char **msg)
{
	if (!cJSON_IsObject(root))
		return;
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(root, "status");
	if (cJSON_IsString(st) && ieq(st->valuestring, "error")) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "message");
		if (cJSON_IsString(m) && *m->valuestring)
			err_append(msg, m->valuestring);
		else
			err_append(msg, "the worker reported status \"error\"");
	}
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(root, "error");
	if (cJSON_IsObject(e)) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "message");
		if (cJSON_IsString(m) && *m->valuestring)
			err_append(msg, m->valuestring);
		else
			err_append_json(msg, e);
	} else if (cJSON_IsString(e) && *e->valuestring) {
		err_append(msg, e->valuestring);
	} else if (cJSON_IsTrue(e)) {
		err_append(msg, "the worker reported an error");
	}
	if (*msg) {
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(root, "details");
		if (cJSON_IsArray(d)) {
			const cJSON *x;
			cJSON_ArrayForEach(x, d)
			{
				err_append_json(msg, x);
			}
		} else {
			err_append_json(msg, d);
		}
	}
	/* A1111 (worker-a1111 passes its replies through): {"detail": "Sampler
	 * not found"}, or FastAPI's 422 list [{"loc": [...], "msg", "type"}]. */
	const cJSON *dt = cJSON_GetObjectItemCaseSensitive(root, "detail");
	if (cJSON_IsString(dt)) {
		err_append(msg, dt->valuestring);
	} else if (cJSON_IsArray(dt)) {
		const cJSON *x;
		cJSON_ArrayForEach(x, dt)
		{
			const cJSON *m = cJSON_GetObjectItemCaseSensitive(x, "msg");
			const cJSON *loc = cJSON_GetObjectItemCaseSensitive(x, "loc"), *l;
			char line[512];
			size_t n = 0;
			if (!cJSON_IsString(m)) {
				err_append_json(msg, x);
				continue;
			}
			line[0] = '\0';
			cJSON_ArrayForEach(l, loc)
			{
				if (cJSON_IsString(l) && strcmp(l->valuestring, "body") == 0)
					continue;
				if (cJSON_IsString(l))
					n += (size_t)snprintf(line + n, sizeof line - n, "%s%s", n ? "." : "",
					                      l->valuestring);
				else if (cJSON_IsNumber(l))
					n += (size_t)snprintf(line + n, sizeof line - n, "%s%d", n ? "." : "",
					                      l->valueint);
				if (n >= sizeof line / 2)
					break;
			}
			snprintf(line + n, sizeof line - n, "%s%s", n ? ": " : "", m->valuestring);
			err_append(msg, line);
		}
	}
	const cJSON *es = cJSON_GetObjectItemCaseSensitive(root, "errors");
	if (cJSON_IsArray(es)) {
		const cJSON *x;
		cJSON_ArrayForEach(x, es)
		{
			err_append_json(msg, x);
		}
	} else if (cJSON_IsString(es)) {
		err_append(msg, es->valuestring);
	}
}

void output_result_clear(struct output_result *res)
{
	if (!res)
		return;
	for (size_t i = 0; i < res->n_items; i++) {
		free(res->items[i].data);
		free(res->items[i].url);
		free(res->items[i].format);
		free(res->items[i].filename);
	}
	free(res->items);
	free(res->error);
	memset(res, 0, sizeof *res);
	res->seed = -1;
}

int output_extract(const char *json, size_t max_image, struct output_result *res, char **err)
{
	memset(res, 0, sizeof *res);
	res->seed = -1;
	if (!json) {
		util_set_err(err, "no output");
		return -1;
	}
	cJSON *root = cJSON_ParseWithLength(json, strlen(json));
	if (!root) {
		util_set_err(err, "the output is not valid JSON");
		return -1;
	}
	int rc = output_extract_tree(root, max_image, res, err);
	cJSON_Delete(root);
	return rc;
}

void output_tree_shorten(cJSON *node, size_t max, int depth)
{
	cJSON *e;
	if (!node || depth > DEPTH_MAX)
		return;
	if (cJSON_IsString(node) && node->valuestring && !(node->type & cJSON_IsReference)) {
		size_t n = strlen(node->valuestring);
		char note[64];
		if (n <= max)
			return;
		snprintf(note, sizeof note, "(%zu bytes left out)", n);
		char *s = strdup(note);
		if (!s)
			return;
		free(node->valuestring);
		node->valuestring = s;
		return;
	}
	cJSON_ArrayForEach(e, node)
	{
		output_tree_shorten(e, max, depth + 1);
	}
}

int output_extract_tree(cJSON *out, size_t max_image, struct output_result *res, char **err)
{
	cJSON *root = out, *inner = NULL;
	memset(res, 0, sizeof *res);
	res->seed = -1;
	if (!out) {
		util_set_err(err, "no output");
		return -1;
	}
	/* Some handlers return json.dumps(result): an output that is a string
	 * holding a JSON object or list is read as that object or list. */
	if (cJSON_IsString(root) && root->valuestring &&
	    (root->valuestring[0] == '{' || root->valuestring[0] == '[')) {
		inner = cJSON_Parse(root->valuestring);
		if (cJSON_IsObject(inner) || cJSON_IsArray(inner)) {
			root = inner;
		} else {
			cJSON_Delete(inner);
			inner = NULL;
		}
	}
	struct walker w = {.res = res, .max_image = max_image, .take = 1};
	if (cJSON_IsObject(root)) {
		const cJSON *sd = cJSON_GetObjectItemCaseSensitive(root, "seed");
		if (cJSON_IsNumber(sd) && sd->valuedouble >= 0 && sd->valuedouble < 9.2e18)
			res->seed = (int64_t)sd->valuedouble;
	}
	walk(&w, root, NULL, NULL, 0);
	find_errors(root, &res->error);
	cJSON_Delete(inner);
	if (w.oom) {
		free(w.all_seeds);
		output_result_clear(res);
		util_set_err(err, "out of memory while reading the output");
		return -1;
	}
	/* A1111: seeds from info, in image order, when the images carry none. */
	if (w.all_seeds) {
		for (size_t i = 0; i < res->n_items && i < w.n_all_seeds; i++)
			if (res->items[i].seed < 0)
				res->items[i].seed = w.all_seeds[i];
		free(w.all_seeds);
	}
	char note[160];
	if (w.bad) {
		snprintf(note, sizeof note, "%d image%s in the output could not be decoded", w.bad,
		         w.bad == 1 ? "" : "s");
		err_append(&res->error, note);
	}
	if (w.not_b64) {
		snprintf(note, sizeof note, "%d value%s of the output's \"%s\" field %s not valid base64",
		         w.not_b64, w.not_b64 == 1 ? "" : "s", w.not_b64_key,
		         w.not_b64 == 1 ? "is" : "are");
		err_append(&res->error, note);
	}
	if (w.too_big) {
		snprintf(note, sizeof note, "%d image%s larger than the %zu-byte limit skipped",
		         w.too_big, w.too_big == 1 ? "" : "s", max_image);
		err_append(&res->error, note);
	}
	return 0;
}

/* ------------------------------------------------------- failure text */

/* Words of a worker saying its input was not what it takes: runpod-python's
 * validator, ComfyUI, FastAPI/A1111. */
static const char *const input_errors[] = {
    "is not a valid input",   "unexpected input",          "is a required input",
    "required input is missing", "extra fields not permitted", "field required",
    "does not meet the constraints", "should be <class",
};

/* A runpod-python handler exception: {"error_type": "<class 'KeyError'>",
 * "error_message", "error_traceback", ...}, as an object or a string of it.
 * Appends the message first, then the type, then the traceback. 1 if it was
 * one. */
static int rp_exception(char **msg, const cJSON *v)
{
	cJSON *inner = NULL;
	const cJSON *m, *t, *tb;
	int done = 0;

	if (cJSON_IsString(v) && v->valuestring[0] == '{')
		v = inner = cJSON_Parse(v->valuestring);
	m = cJSON_GetObjectItemCaseSensitive(v, "error_message");
	t = cJSON_GetObjectItemCaseSensitive(v, "error_type");
	tb = cJSON_GetObjectItemCaseSensitive(v, "error_traceback");
	if (cJSON_IsObject(v) && (cJSON_IsString(m) || cJSON_IsString(t))) {
		char line[ERROR_MAX];
		const char *type = cJSON_IsString(t) ? t->valuestring : "";
		const char *q1 = strchr(type, '\''), *q2 = q1 ? strchr(q1 + 1, '\'') : NULL;
		int tl = q2 ? (int)(q2 - q1 - 1) : (int)strlen(type);
		if (q2)
			type = q1 + 1;
		snprintf(line, sizeof line, "%s%s%.*s%s", cJSON_IsString(m) ? m->valuestring : "",
		         tl ? " (" : "", tl, type, tl ? ")" : "");
		err_append(msg, line);
		if (cJSON_IsString(tb))
			err_append(msg, tb->valuestring);
		done = 1;
	}
	cJSON_Delete(inner);
	return done;
}

static int contains_nocase(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	for (; *hay; hay++)
		if (strncasecmp(hay, needle, n) == 0)
			return 1;
	return 0;
}

char *output_failure_text(const char *error, const char *output_json, const char *tname)
{
	char *msg = NULL;
	cJSON *e = NULL, *out = NULL;

	if (error && *error) {
		e = cJSON_Parse(error);
		if (!e || !rp_exception(&msg, e)) {
			if (cJSON_IsArray(e)) { /* a validator's list of errors */
				const cJSON *x;
				cJSON_ArrayForEach(x, e)
				{
					err_append_json(&msg, x);
				}
			} else if (cJSON_IsString(e)) {
				err_append(&msg, e->valuestring);
			} else {
				err_append(&msg, error);
			}
		}
	}
	if (output_json && *output_json && (out = cJSON_Parse(output_json))) {
		char *more = NULL;
		if (!rp_exception(&more, out))
			find_errors(out, &more);
		if (more && (!msg || !strstr(msg, more)))
			err_append(&msg, more);
		free(more);
	}
	cJSON_Delete(e);
	cJSON_Delete(out);
	if (!msg)
		return NULL;
	for (size_t i = 0; i < sizeof input_errors / sizeof input_errors[0]; i++) {
		if (contains_nocase(msg, input_errors[i])) {
			/* after the first line: a traceback must not push it out */
			char hint[256], *nl = strchr(msg, '\n'), *with;
			size_t first = nl ? (size_t)(nl - msg) : strlen(msg);
			int hl = snprintf(hint, sizeof hint,
			                  "\n(the input was made with template \"%s\"; if the endpoint "
			                  "runs another worker, pick its template with --template NAME "
			                  "or \"template =\" in the endpoint's config)",
			                  tname && *tname ? tname : "?");
			if ((with = malloc(strlen(msg) + (size_t)hl + 1))) {
				memcpy(with, msg, first);
				memcpy(with + first, hint, (size_t)hl);
				strcpy(with + first + hl, msg + first);
				free(msg);
				msg = with;
			}
			break;
		}
	}
	return msg;
}

/* ---------------------------------------------------------------- saving */

/* Image size from JPEG SOFn, GIF screen descriptor or WebP headers. */
static void other_size(const unsigned char *d, size_t len, const char *fmt, int *w, int *h)
{
	*w = *h = 0;
	if (strcmp(fmt, "jpeg") == 0) {
		size_t p = 2;
		while (p + 4 <= len) {
			if (d[p] != 0xff) {
				p++;
				continue;
			}
			unsigned char m = d[p + 1];
			if (m == 0xff) {
				p++;
				continue;
			}
			if (m == 0xd8 || m == 0x01 || (m >= 0xd0 && m <= 0xd7)) {
				p += 2;
				continue;
			}
			if (m == 0xd9 || m == 0xda)
				return;
			size_t sl = (size_t)d[p + 2] << 8 | d[p + 3];
			if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc) {
				if (p + 9 > len || sl < 7)
					return;
				*h = d[p + 5] << 8 | d[p + 6];
				*w = d[p + 7] << 8 | d[p + 8];
				return;
			}
			p += 2 + sl;
		}
	} else if (strcmp(fmt, "gif") == 0 && len >= 10) {
		*w = d[6] | d[7] << 8;
		*h = d[8] | d[9] << 8;
	} else if (strcmp(fmt, "webp") == 0 && len >= 30) {
		if (memcmp(d + 12, "VP8X", 4) == 0) {
			*w = 1 + (d[24] | d[25] << 8 | d[26] << 16);
			*h = 1 + (d[27] | d[28] << 8 | d[29] << 16);
		} else if (memcmp(d + 12, "VP8L", 4) == 0 && d[20] == 0x2f) {
			uint32_t b = (uint32_t)d[21] | (uint32_t)d[22] << 8 |
			             (uint32_t)d[23] << 16 | (uint32_t)d[24] << 24;
			*w = 1 + (int)(b & 0x3fff);
			*h = 1 + (int)((b >> 14) & 0x3fff);
		} else if (memcmp(d + 12, "VP8 ", 4) == 0 && d[23] == 0x9d && d[24] == 0x01 &&
		           d[25] == 0x2a) {
			*w = (d[26] | d[27] << 8) & 0x3fff;
			*h = (d[28] | d[29] << 8) & 0x3fff;
		}
	}
}

void output_dir_sync(const char *dir)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd); /* best effort: the file is complete either way */
		close(dfd);
	}
}

void output_dirs_sync(struct output_dirs *d)
{
	for (size_t i = 0; i < d->n; i++) {
		output_dir_sync(d->v[i]);
		free(d->v[i]);
	}
	d->n = 0;
}

void output_dirs_clear(struct output_dirs *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->v[i]);
	free(d->v);
	memset(d, 0, sizeof *d);
}

/* Remember dir in d (once); synced at once when that cannot be done. */
static void dirs_add(struct output_dirs *d, const char *dir)
{
	char *c;

	for (size_t i = 0; i < d->n; i++)
		if (strcmp(d->v[i], dir) == 0)
			return;
	if (d->n == d->cap) {
		size_t nc = d->cap ? d->cap * 2 : 4;
		char **nv = realloc(d->v, nc * sizeof *nv);
		if (!nv) {
			output_dir_sync(dir);
			return;
		}
		d->v = nv;
		d->cap = nc;
	}
	if (!(c = strdup(dir))) {
		output_dir_sync(dir);
		return;
	}
	d->v[d->n++] = c;
}

int output_save(const char *images_dir, const struct job *j, int index, const unsigned char *data,
                size_t len, int64_t seed, struct job_output *out, char **err)
{
	return output_save_to(images_dir, j, index, data, len, seed, NULL, out, err);
}

int output_save_to(const char *images_dir, const struct job *j, int index,
                   const unsigned char *data, size_t len, int64_t seed, struct output_dirs *dirs,
                   struct job_output *out, char **err)
{
	struct output_file f;

	if (!out) {
		util_set_err(err, "output_save: bad arguments");
		return -1;
	}
	if (output_prepare(images_dir, j, index, (unsigned char *)data, len, 0, seed, &f, err) < 0)
		return -1;
	if (output_write(&f, !dirs, err) < 0) {
		output_file_clear(&f);
		return -1;
	}
	if (dirs)
		dirs_add(dirs, f.dir);
	*out = f.out;
	memset(&f.out, 0, sizeof f.out);
	output_file_clear(&f);
	return 0;
}

void output_file_clear(struct output_file *f)
{
	if (!f)
		return;
	free(f->dir);
	free(f->tmp_base);
	free(f->data);
	free(f->out.path);
	free(f->out.format);
	memset(f, 0, sizeof *f);
}

int output_prepare(const char *images_dir, const struct job *j, int index, unsigned char *data,
                   size_t len, int take, int64_t seed, struct output_file *f, char **err)
{
	memset(f, 0, sizeof *f);
	if (!images_dir || !*images_dir || !j || !data || index < 0) {
		util_set_err(err, "output_save: bad arguments");
		goto fail;
	}
	const char *fmt = output_sniff(data, len);
	if (!fmt) {
		util_set_err(err, "not a PNG, JPEG, WebP or GIF image (%zu bytes)", len);
		goto fail;
	}
	const char *ext = strcmp(fmt, "jpeg") == 0 ? "jpg" : fmt;

	/* The day directory, from the job's creation time (local time). */
	time_t t = j->created_at > 0 ? (time_t)(j->created_at / 1000) : time(NULL);
	struct tm tm;
	if (!localtime_r(&t, &tm)) {
		util_set_err(err, "cannot convert the job's date");
		goto fail;
	}
	char cwd[PATH_MAX] = "";
	if (images_dir[0] != '/' && !getcwd(cwd, sizeof cwd)) {
		util_set_err(err, "cannot find the current directory: %s", strerror(errno));
		goto fail;
	}
	char dir[PATH_MAX], path[PATH_MAX], tmp[PATH_MAX];
	int n = snprintf(dir, sizeof dir, "%s%s%s/%04d-%02d-%02d", cwd, *cwd ? "/" : "", images_dir,
	                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
	if (n < 0 || (size_t)n >= sizeof dir) {
		util_set_err(err, "image path too long");
		goto fail;
	}
	n = snprintf(path, sizeof path, "%s/%lld-%d.%s", dir, (long long)j->id, index, ext);
	if (n < 0 || (size_t)n >= sizeof path) {
		util_set_err(err, "image path too long");
		goto fail;
	}
	/* room for output_write's ".<counter>.tmp" */
	n = snprintf(tmp, sizeof tmp, "%s/.%lld-%d.%ld", dir, (long long)j->id, index,
	             (long)getpid());
	if (n < 0 || (size_t)n + 16 >= sizeof tmp) {
		util_set_err(err, "image path too long");
		goto fail;
	}
	/* PNG: add the A1111 parameters unless the worker wrote its own. */
	int width = 0, height = 0;
	unsigned char *meta = NULL;
	size_t metalen = 0;
	if (strcmp(fmt, "png") == 0) {
		if (pngmeta_size(data, len, &width, &height) < 0)
			width = height = 0;
		if (width > 0 && pngmeta_has_text(data, len, "parameters") == 0) {
			char *text = params_a1111_text(&j->params, seed, width, height);
			if (text &&
			    pngmeta_add_text(data, len, "parameters", text, &meta, &metalen) < 0)
				meta = NULL;
			free(text);
		}
	} else {
		other_size(data, len, fmt, &width, &height);
	}
	f->dir = strdup(dir);
	f->tmp_base = strdup(tmp);
	f->out.path = strdup(path);
	f->out.format = strdup(fmt);
	if (meta) {
		f->data = meta;
		f->len = metalen;
		if (take)
			free(data);
	} else if (take) {
		f->data = data;
		f->len = len;
	} else if ((f->data = malloc(len ? len : 1))) {
		memcpy(f->data, data, len);
		f->len = len;
	}
	take = 0; /* data is f's now (or freed) */
	if (!f->dir || !f->tmp_base || !f->out.path || !f->out.format || !f->data) {
		util_set_err(err, "out of memory");
		goto fail;
	}
	f->out.index = index;
	f->out.width = width;
	f->out.height = height;
	f->out.seed = seed;
	f->out.bytes = (int64_t)f->len;
	return 0;
fail:
	if (take)
		free(data);
	output_file_clear(f);
	return -1;
}

/* save_error for any thread (strerror_r instead of strerror). */
static void write_error(char **err, int e, const char *what, const char *path)
{
	char buf[256];

	if (e == ENOSPC || e == EDQUOT) {
		util_set_err(err, "disk full while saving %s", path);
		return;
	}
	buf[0] = '\0';
	/* the XSI strerror_r (_POSIX_C_SOURCE 200809L without _GNU_SOURCE) */
	if (strerror_r(e, buf, sizeof buf) != 0)
		snprintf(buf, sizeof buf, "error %d", e);
	util_set_err(err, "cannot %s %s: %s", what, path, buf);
}

int output_write(struct output_file *f, int sync_dir, char **err)
{
	static unsigned counter; /* atomic: the saver's thread writes too */
	char tmp[PATH_MAX];
	int fd = -1, made = 0, n;

	/* Temp file beside the target: O_EXCL on a name of our own. */
	for (int tries = 0; tries < 100 && fd < 0; tries++) {
		n = snprintf(tmp, sizeof tmp, "%s.%u.tmp", f->tmp_base,
		             __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
		if (n < 0 || (size_t)n >= sizeof tmp)
			break;
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		/* the day's directory is made when it is missing, not checked
		 * (six mkdir calls) for every image */
		if (fd < 0 && (errno == ENOENT || errno == ENOTDIR) && !made) {
			made = 1;
			if (config_mkdirs(f->dir, 0777) < 0) {
				write_error(err, errno, "create directory", f->dir);
				return -1;
			}
			continue;
		}
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0) {
		write_error(err, errno, "create a file in", f->dir);
		return -1;
	}
	int e = 0;
	const char *what = "write";
	if (util_write_all(fd, f->data, f->len) < 0) {
		e = errno;
	} else if (fsync(fd) < 0) {
		e = errno;
		what = "sync";
	}
	if (close(fd) < 0 && !e) {
		e = errno;
		what = "write";
	}
	if (!e && rename(tmp, f->out.path) < 0) {
		e = errno;
		what = "rename to";
	}
	if (e) {
		unlink(tmp);
		write_error(err, e, what, f->out.path);
		return -1;
	}
	if (sync_dir)
		output_dir_sync(f->dir);
	return 0;
}

int output_decodable(const struct job_output *o)
{
	return o && o->width <= IMAGE_MAX_DIM && o->height <= IMAGE_MAX_DIM;
}
