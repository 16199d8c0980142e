/*
 * test_output.c: output_extract over every worker output shape (JSON
 * literals, and the live replies of tests/emulator.py for each of its shapes),
 * base64 edge cases, dedupe, depth and size caps, error detection; output_save
 * writes atomically to images/YYYY-MM-DD/<id>-<n>.<ext>, adds the parameters
 * chunk to PNGs and leaves no temp file behind on failure.
 */
#include <curl/curl.h>
#include <cjson/cJSON.h>
#include <dirent.h>
#include <png.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>

#include "th.h"
#include "job.h"
#include "output.h"
#include "pngmeta.h"
#include "th_png.h"

/* ---------------------------------------------------------------- fixtures */

/* A w x h RGB PNG with a pattern from seed and, given text, a "parameters"
 * text chunk. */
static unsigned char *make_png(int w, int h, int seed, const char *text, size_t *len)
{
	unsigned char *rgb = th_png_pattern(w, h, 5, 11, seed * 31), *png;
	png = th_png_write(w, h, rgb, text ? "parameters" : NULL, text, PNG_TEXT_COMPRESSION_NONE,
	                   -1, len);
	free(rgb);
	return png;
}

/* Small images of each format (only headers matter for sniffing and sizes). */
static const unsigned char jpeg_bytes[] = {
    0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 'J',  'F',  'I',  'F',  0x00, 0x01, 0x01, 0x00,
    0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0xff, 0xc0, 0x00, 0x11, 0x08, 0x00, 0x28, 0x00,
    0x30, 0x03, 0x01, 0x11, 0x00, 0x02, 0x11, 0x00, 0x03, 0x11, 0x00, 0xff, 0xd9};
static const unsigned char gif_bytes[] = {'G',  'I',  'F',  '8',  '9',  'a',  0x10,
                                          0x00, 0x08, 0x00, 0x80, 0x00, 0x00, 0x00,
                                          0x00, 0x00, 0xff, 0xff, 0xff, 0x3b};
static const unsigned char webp_bytes[] = {'R',  'I', 'F', 'F',  0x16, 0, 0, 0, 'W', 'E', 'B', 'P',
                                           'V',  'P', '8', 'X',  10,   0, 0, 0, 0,   0,   0,   0,
                                           0x1f, 0,   0,   0x0f, 0,    0, 0, 0, 0,   0};

static unsigned char *png_a, *png_b;
static size_t png_a_len, png_b_len;
static char *b64_a, *b64_b, *b64_j, *b64_g, *b64_w;

static void fixtures(void)
{
	png_a = make_png(20, 10, 1, NULL, &png_a_len);
	png_b = make_png(20, 10, 2, NULL, &png_b_len);
	b64_a = th_base64(png_a, png_a_len);
	b64_b = th_base64(png_b, png_b_len);
	/* Padded: bare base64 counts only from 64 characters on (real images are
	 * never that small). */
	unsigned char pad[sizeof jpeg_bytes + 64] = {0};
	memcpy(pad, jpeg_bytes, sizeof jpeg_bytes);
	b64_j = th_base64(pad, sizeof pad);
	memset(pad, 0, sizeof pad);
	memcpy(pad, gif_bytes, sizeof gif_bytes);
	b64_g = th_base64(pad, sizeof pad);
	memset(pad, 0, sizeof pad);
	memcpy(pad, webp_bytes, sizeof webp_bytes);
	b64_w = th_base64(pad, sizeof pad);
}

/* Expand {A} {B} (PNG base64), {J} {G} {W} (JPEG, GIF, WebP base64). */
static char *expand(const char *tpl)
{
	size_t cap = strlen(tpl) + 1;
	const char *subs[] = {b64_a, b64_b, b64_j, b64_g, b64_w};
	for (const char *p = tpl; *p; p++)
		if (*p == '{')
			cap += strlen(b64_a) + strlen(b64_b) + 64;
	char *o = malloc(cap), *q = o;
	for (const char *p = tpl; *p;) {
		const char *which = NULL;
		if (p[0] == '{' && p[2] == '}' && p[1] && strchr("ABJGW", p[1]))
			which = subs[strchr("ABJGW", p[1]) - "ABJGW"];
		if (which) {
			strcpy(q, which);
			q += strlen(which);
			p += 3;
		} else {
			*q++ = *p++;
		}
	}
	*q = 0;
	return o;
}

/* ---------------------------------------------------------------- extract table */

struct shape_case {
	const char *name;
	const char *json;
	int n;               /* expected items */
	const char *formats; /* one letter per item: p png, j jpeg, g gif, w webp, u url */
	int64_t seeds[3];    /* expected item seeds */
	int64_t top_seed;
	const char *error;     /* substring expected in res.error, or NULL for none */
	const char *filename0; /* expected filename of item 0 */
	const char *url0;      /* expected URL of item 0 */
};

/* clang-format off */
static const struct shape_case cases[] = {
	{"sd15", "[{\"image\":\"{A}\",\"seed\":11},{\"image\":\"{B}\",\"seed\":12}]", 2, "pp",
	 {11, 12}, -1, NULL, NULL, NULL},
	{"sd15 url", "[{\"image\":\"https://b.s3.amazonaws.com/k/1?X-Amz-Sig=z\",\"seed\":3}]", 1,
	 "u", {3}, -1, NULL, NULL, "https://b.s3.amazonaws.com/k/1?X-Amz-Sig=z"},
	{"sdxl",
	 "{\"images\":[\"data:image/png;base64,{A}\",\"data:image/png;base64,{B}\"],"
	 "\"image_url\":\"data:image/png;base64,{A}\",\"seed\":77}",
	 2, "pp", {-1, -1}, 77, NULL, NULL, NULL},
	{"sdxl_turbo",
	 "{\"images\":[{\"image\":\"{A}\",\"seed\":5}],\"generation_time\":1.5,"
	 "\"parameters\":{\"prompt\":\"x\",\"width\":20,\"height\":10,\"seed\":5}}",
	 1, "p", {5}, -1, NULL, NULL, NULL},
	{"sdxl_turbo data uri", "{\"images\":[{\"image\":\"data:image/png;base64,{A}\",\"seed\":6}]}",
	 1, "p", {6}, -1, NULL, NULL, NULL},
	{"a1111",
	 "{\"images\":[\"{A}\",\"{B}\"],\"parameters\":{\"prompt\":\"p\",\"seed\":-1},"
	 "\"info\":\"{\\\"seed\\\": 9, \\\"all_seeds\\\": [9, 10], \\\"prompt\\\": \\\"p\\\"}\"}",
	 2, "pp", {9, 10}, 9, NULL, NULL, NULL},
	{"comfyui",
	 "{\"images\":[{\"filename\":\"ComfyUI_00001_.png\",\"type\":\"base64\",\"data\":\"{A}\"},"
	 "{\"filename\":\"ComfyUI_00002_.png\",\"type\":\"base64\",\"data\":\"{B}\"}]}",
	 2, "pp", {-1, -1}, -1, NULL, "ComfyUI_00001_.png", NULL},
	{"comfyui s3_url",
	 "{\"images\":[{\"filename\":\"c.png\",\"type\":\"s3_url\","
	 "\"data\":\"https://x.r2.dev/abc123?sig=1\"}]}",
	 1, "u", {-1}, -1, NULL, "c.png", "https://x.r2.dev/abc123?sig=1"},
	{"comfyui errors",
	 "{\"images\":[{\"filename\":\"a.png\",\"type\":\"base64\",\"data\":\"{A}\"}],"
	 "\"errors\":[\"Node 9 failed\",\"upload failed\"]}",
	 1, "p", {-1}, -1, "Node 9 failed\nupload failed", "a.png", NULL},
	{"comfyui no images", "{\"status\":\"success_no_images\",\"images\":[]}", 0, "", {0}, -1,
	 NULL, NULL, NULL},
	{"comfy_old", "{\"status\":\"success\",\"message\":\"{A}\"}", 1, "p", {-1}, -1, NULL, NULL,
	 NULL},
	{"comfy_old url", "{\"status\":\"success\",\"message\":\"https://bucket/x/y\"}", 1, "u", {-1},
	 -1, NULL, NULL, "https://bucket/x/y"},
	{"comfy_old_error",
	 "{\"status\":\"error\",\"message\":\"the image does not exist in the specified output "
	 "folder\"}",
	 0, "", {0}, -1, "the image does not exist", NULL, NULL},
	{"flux url", "{\"image_url\":\"https://image.runpod.ai/a/b/out.png\",\"cost\":0.02}", 1, "u",
	 {-1}, -1, NULL, NULL, "https://image.runpod.ai/a/b/out.png"},
	{"nested",
	 "{\"result\":{\"meta\":{\"w\":\"emu\"},\"artifacts\":[{\"kind\":\"picture\","
	 "\"payload\":{\"blob\":\"{A}\",\"seed\":41}},{\"payload\":{\"blob\":\"{B}\",\"seed\":42}}]}}",
	 2, "pp", {41, 42}, -1, NULL, NULL, NULL},
	{"string data uri", "\"data:image/png;base64,{A}\"", 1, "p", {-1}, -1, NULL, NULL, NULL},
	{"string url", "\"https://example.com/result?id=3\"", 1, "u", {-1}, -1, NULL, NULL,
	 "https://example.com/result?id=3"},
	{"json in a string", "\"{\\\"images\\\":[\\\"{A}\\\"],\\\"seed\\\":4}\"", 1, "p", {-1}, 4,
	 NULL, NULL, NULL},
	{"list of base64", "[\"{A}\",\"{B}\"]", 2, "pp", {-1, -1}, -1, NULL, NULL, NULL},
	{"noimage", "{\"text\":\"hello\"}", 0, "", {0}, -1, NULL, NULL, NULL},
	{"null", "null", 0, "", {0}, -1, NULL, NULL, NULL},
	{"number", "42", 0, "", {0}, -1, NULL, NULL, NULL},
	{"badb64",
	 "{\"images\":[\"data:image/png;base64,@@@not*base64!!%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%%"
	 "%%%%%%%%%%%%%%%%%%%%%%%%%%\"],\"seed\":1}",
	 0, "", {0}, 1, "1 image in the output could not be decoded", NULL, NULL},
	{"data uri not an image", "{\"images\":[\"data:image/png;base64,aGVsbG8gd29ybGQ=\"]}", 0, "",
	 {0}, -1, "could not be decoded", NULL, NULL},
	{"jpeg gif webp", "[{\"image\":\"{J}\",\"seed\":1},\"{G}\",{\"x\":{\"y\":\"{W}\"}}]", 3,
	 "jgw", {1, -1, -1}, -1, NULL, NULL, NULL},
	{"jpeg data uri", "{\"images\":[\"data:image/jpeg;base64,{J}\"]}", 1, "j", {-1}, -1, NULL,
	 NULL, NULL},
	{"error string", "{\"error\":\"CUDA out of memory\",\"refresh_worker\":true}", 0, "", {0}, -1,
	 "CUDA out of memory", NULL, NULL},
	{"error object", "{\"error\":{\"message\":\"boom\",\"code\":3}}", 0, "", {0}, -1, "boom",
	 NULL, NULL},
	{"error object no message", "{\"error\":{\"code\":3}}", 0, "", {0}, -1, "{\"code\":3}", NULL,
	 NULL},
	{"error details", "{\"error\":\"Workflow failed\",\"details\":[\"node 4: bad ckpt\"]}", 0, "",
	 {0}, -1, "Workflow failed\nnode 4: bad ckpt", NULL, NULL},
	{"error null is no error", "{\"error\":null,\"images\":[\"{A}\"]}", 1, "p", {-1}, -1, NULL,
	 NULL, NULL},
	{"non-image url ignored",
	 "{\"images\":[\"{A}\"],\"parameters\":{\"homepage\":\"https://civitai.com/models/1\","
	 "\"note\":\"see https://x.y/z.png for details\"}}",
	 1, "p", {-1}, -1, NULL, NULL, NULL},
	{"url with image ext anywhere", "{\"r\":{\"foo\":\"https://cdn.example/x/y.WEBP?t=1\"}}", 1, "u",
	 {-1}, -1, NULL, NULL, "https://cdn.example/x/y.WEBP?t=1"},
	{"same url twice", "{\"image_url\":\"https://a/b.png\",\"images\":[\"https://a/b.png\"]}", 1,
	 "u", {-1}, -1, NULL, NULL, "https://a/b.png"},
	{"same image bare and data uri", "{\"image\":\"{A}\",\"images\":[\"data:image/png;base64,{A}\"]}",
	 1, "p", {-1}, -1, NULL, NULL, NULL},
	{"long text is not an image",
	 "{\"text\":\"Thisisalongsentencewithoutspacesthatlooksabitlikebase64butdecodestonoimage"
	 "atallreallyno\"}",
	 0, "", {0}, -1, NULL, NULL, NULL},
	/* worker-a1111 passes A1111's errors through as COMPLETED output */
	{"a1111 detail", "{\"detail\":\"Sampler not found\"}", 0, "", {0}, -1,
	 "Sampler not found", NULL, NULL},
	{"a1111 422", "{\"detail\":[{\"loc\":[\"body\",\"steps\"],\"msg\":\"value is not a valid "
	 "integer\",\"type\":\"type_error.integer\"},{\"loc\":[\"body\",\"x\",0],\"msg\":\"extra "
	 "fields not permitted\",\"type\":\"value_error.extra\"}]}", 0, "", {0}, -1,
	 "steps: value is not a valid integer\nx.0: extra fields not permitted", NULL, NULL},
	{"a1111 oom", "{\"error\":\"OutOfMemoryError\",\"detail\":\"\",\"body\":\"\",\"errors\":"
	 "\"CUDA out of memory. Tried to allocate 20.00 GiB\"}", 0, "", {0}, -1,
	 "OutOfMemoryError\nCUDA out of memory. Tried to allocate 20.00 GiB", NULL, NULL},
	/* an image field that is not base64 says so */
	{"images not base64", "{\"images\":[\"not an image at all!\"],\"seed\":3}", 0, "", {0}, 3,
	 "1 value of the output's \"images\" field is not valid base64", NULL, NULL},
	{"comfy data not base64", "{\"images\":[{\"filename\":\"a.png\",\"type\":\"base64\","
	 "\"data\":\"<html>502 Bad Gateway</html>\"}]}", 0, "", {0}, -1,
	 "output's \"data\" field is not valid base64", NULL, NULL},
	{"short base64 in images", "{\"images\":[\"aGVsbG8=\"]}", 0, "", {0}, -1,
	 "1 image in the output could not be decoded", NULL, NULL},
	{"base64 of text", "{\"x\":\"VGhpcyBpcyBub3QgYW4gaW1hZ2UgYXQgYWxsLCBqdXN0IHNvbWUgdGV4dCB0aGF0"
			  "IGlzIGxvbmcgZW5vdWdoLg==\"}",
	 0, "", {0}, -1, NULL, NULL, NULL},
};
/* clang-format on */

/* output_failure_text: what a FAILED job or an imageless COMPLETED one says. */
static void test_failure_text(void)
{
	static const struct {
		const char *error, *output, *tname;
		const char *want;  /* the whole text, or NULL: see has */
		const char *has;   /* a substring, or NULL */
		const char *first; /* what the first line is, or NULL */
	} rows[] = {
	    {"plain words", NULL, "sdxl", "plain words", NULL, NULL},
	    /* runpod-python's handler exception: the message first */
	    {"{\"error_type\": \"<class 'KeyError'>\", \"error_message\": \"'heun'\", "
	     "\"error_traceback\": \"Traceback (most recent call last):\\n  File x\\nKeyError: 'heun'\", "
	     "\"hostname\": \"h\", \"worker_id\": \"w\", \"runpod_version\": \"1.7.9\"}",
	     NULL, "sdxl", NULL, "Traceback (most recent call last):", "'heun' (KeyError)"},
	    /* worker-sdxl's validator errors, as a list */
	    {"[\"Unexpected input. num_outputs is not a valid input option.\"]", NULL, "sd15", NULL,
	     "template \"sd15\"", "Unexpected input. num_outputs is not a valid input option."},
	    {"[\"a\",\"b\"]", NULL, "x", "a\nb", NULL, NULL},
	    /* FAILED with the rest of A1111's OOM reply in the output */
	    {"OutOfMemoryError", "{\"detail\":\"\",\"body\":\"\",\"errors\":\"CUDA out of memory\"}",
	     "a1111", "OutOfMemoryError\nCUDA out of memory", NULL, NULL},
	    /* COMPLETED-without-image text already made by output_extract */
	    {"Sampler not found", NULL, "a1111", "Sampler not found", NULL, NULL},
	    /* ComfyUI's refusal names --template */
	    {"Workflow validation failed: Required input is missing: steps", NULL, "comfyui", NULL,
	     "--template NAME", NULL},
	    {"x.0: extra fields not permitted", NULL, "a1111", NULL, "template \"a1111\"", NULL},
	    {NULL, NULL, "sdxl", NULL, NULL, NULL},
	    {NULL, "{\"error\":\"boom\"}", "sdxl", "boom", NULL, NULL},
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		char *t = output_failure_text(rows[i].error, rows[i].output, rows[i].tname);
		int ok = 1;
		if (rows[i].want || (!rows[i].has && !rows[i].first))
			ok &= CHECK_STR(t, rows[i].want);
		if (rows[i].has)
			ok &= CHECK(t && strstr(t, rows[i].has));
		if (rows[i].first)
			ok &= CHECK(t && strncmp(t, rows[i].first, strlen(rows[i].first)) == 0 &&
			            t[strlen(rows[i].first)] == '\n');
		if (!ok)
			fprintf(stderr, "    row %zu: %s\n", i, t ? t : "(null)");
		free(t);
	}
	/* the hint comes right after the first line, before a long traceback */
	char big[8000], tb[6001], *t;
	memset(tb, 'x', sizeof tb - 1);
	tb[sizeof tb - 1] = '\0';
	snprintf(big, sizeof big,
	         "{\"error_type\": \"<class 'ValueError'>\", \"error_message\": \"seed is not a "
	         "valid input\", \"error_traceback\": \"%s\"}",
	         tb);
	t = output_failure_text(big, NULL, "sd15");
	CHECK(t && strncmp(t, "seed is not a valid input (ValueError)\n(the input was made with "
	                      "template \"sd15\"", 70) == 0);
	free(t);
}

static void check_case(const struct shape_case *c, const char *json, size_t max)
{
	struct output_result r;
	char *err = NULL;
	int rc = output_extract(json, max, &r, &err);
	if (!CHECK_INT(rc, 0)) {
		fprintf(stderr, "    case %s: %s\n", c->name, err ? err : "?");
		free(err);
		return;
	}
	int ok = CHECK_INT(r.n_items, c->n);
	for (size_t i = 0; ok && i < r.n_items; i++) {
		struct output_item *it = &r.items[i];
		char f = c->formats[i];
		if (f == 'u') {
			ok &= CHECK(it->url && !it->data && !it->format);
		} else {
			const char *want = f == 'p'   ? "png"
			                   : f == 'j' ? "jpeg"
			                   : f == 'g' ? "gif"
			                              : "webp";
			ok &= CHECK(it->data && !it->url);
			ok &= CHECK_STR(it->format, want);
			ok &= CHECK_STR(output_sniff(it->data, it->len), want);
		}
		if (i < 3)
			ok &= CHECK_INT(it->seed, c->seeds[i]);
	}
	if (c->n >= 1 && r.n_items >= 1) {
		ok &= CHECK_STR(r.items[0].filename, c->filename0);
		ok &= CHECK_STR(r.items[0].url, c->url0);
		if (c->formats[0] == 'p' && strstr(c->json, "{A}") &&
		    strstr(c->json, "{A}") <
		        (strstr(c->json, "{B}") ? strstr(c->json, "{B}") : "\xff"))
			ok &= CHECK(r.items[0].len == png_a_len &&
			            memcmp(r.items[0].data, png_a, png_a_len) == 0);
	}
	ok &= CHECK_INT(r.seed, c->top_seed);
	if (c->error)
		ok &= CHECK(r.error && strstr(r.error, c->error));
	else
		ok &= CHECK(r.error == NULL);
	if (!ok)
		fprintf(stderr, "    in case \"%s\" (error: %s)\n", c->name,
		        r.error ? r.error : "-");
	output_result_clear(&r);
	free(err);
}

static void test_shapes(void)
{
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *json = expand(cases[i].json);
		check_case(&cases[i], json, 0);
		check_case(&cases[i], json, 1 << 20);
		free(json);
	}
}

static void test_invalid_json(void)
{
	struct output_result r;
	char *err = NULL;
	CHECK_INT(output_extract("{\"images\": [", 0, &r, &err), -1);
	CHECK(err && strstr(err, "JSON"));
	CHECK_INT(r.n_items, 0);
	output_result_clear(&r);
	free(err);
	err = NULL;
	CHECK_INT(output_extract("<html>", 0, &r, &err), -1);
	output_result_clear(&r);
	free(err);
}

static void test_cap(void)
{
	char *json = expand("{\"images\":[\"data:image/png;base64,{A}\",\"{B}\"]}");
	struct output_result r;
	char *err = NULL;
	CHECK_INT(output_extract(json, png_a_len - 1, &r, &err), 0);
	CHECK_INT(r.n_items, 0);
	CHECK(r.error && strstr(r.error, "2 images larger than"));
	output_result_clear(&r);
	CHECK_INT(output_extract(json, png_a_len, &r, &err), 0);
	CHECK_INT(r.n_items, 2);
	CHECK(r.error == NULL);
	output_result_clear(&r);
	free(json);
	free(err);
}

/* An image nested n arrays deep. */
static char *deep(int n)
{
	size_t bl = strlen(b64_a);
	char *s = malloc((size_t)n * 2 + bl + 3), *p = s;
	for (int i = 0; i < n; i++)
		*p++ = '[';
	*p++ = '"';
	memcpy(p, b64_a, bl);
	p += bl;
	*p++ = '"';
	for (int i = 0; i < n; i++)
		*p++ = ']';
	*p = 0;
	return s;
}

static void test_depth(void)
{
	struct output_result r;
	char *err = NULL;
	char *s = deep(60);
	CHECK_INT(output_extract(s, 0, &r, &err), 0);
	CHECK_INT(r.n_items, 1);
	output_result_clear(&r);
	free(s);
	s = deep(200);
	CHECK_INT(output_extract(s, 0, &r, &err), 0);
	CHECK_INT(r.n_items, 0); /* below the depth cap: ignored, not a crash */
	output_result_clear(&r);
	free(s);
	free(err);
}

static void test_many_items_capped(void)
{
	/* 1100 distinct URLs: the item count is capped. */
	size_t cap = 1100 * 40 + 16;
	char *s = malloc(cap), *p = s;
	p += sprintf(p, "[");
	for (int i = 0; i < 1100; i++)
		p += sprintf(p, "%s\"https://h/%d.png\"", i ? "," : "", i);
	sprintf(p, "]");
	struct output_result r;
	char *err = NULL;
	CHECK_INT(output_extract(s, 0, &r, &err), 0);
	CHECK(r.n_items > 0 && r.n_items <= 1024);
	output_result_clear(&r);
	free(s);
	free(err);
}

/* Random mutations of every shape must neither crash (run under ASan in make
 * check) nor return items that are not what they claim to be. */
static void test_mutations(void)
{
	uint32_t rnd = 12345;
	int bad = 0, runs = 0;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *json = expand(cases[i].json);
		size_t len = strlen(json);
		for (int m = 0; m < 60 && len > 0; m++) {
			char *mut = strdup(json);
			int edits = 1 + m % 4;
			for (int e = 0; e < edits; e++) {
				rnd = rnd * 1103515245u + 12345u;
				size_t pos = (rnd >> 8) % len;
				static const char alphabet[] = "{}[]\",:\\0aZ+/=- \x01";
				mut[pos] = alphabet[(rnd >> 20) % (sizeof alphabet - 1)];
			}
			if (m % 7 == 0)
				mut[(rnd >> 4) % len] = 0; /* truncation */
			struct output_result r;
			char *err = NULL;
			if (output_extract(mut, 1 << 20, &r, &err) == 0) {
				for (size_t k = 0; k < r.n_items; k++) {
					struct output_item *it = &r.items[k];
					if (it->data &&
					    (!it->format || it->len > (1 << 20) ||
					     strcmp(output_sniff(it->data, it->len)
					                ? output_sniff(it->data, it->len)
					                : "",
					            it->format) != 0))
						bad++;
					if (!it->data && !it->url)
						bad++;
				}
			}
			runs++;
			output_result_clear(&r);
			free(err);
			free(mut);
		}
		free(json);
	}
	CHECK_INT(bad, 0);
	CHECK(runs > 1000);
}

/* ---------------------------------------------------------------- base64, sniff */

static void test_base64(void)
{
	static const struct {
		const char *in;
		const char *out; /* NULL: invalid */
		size_t outlen;
	} t[] = {
	    {"", "", 0},
	    {"QQ", "A", 1},
	    {"QQ==", "A", 1},
	    {"QUI", "AB", 2},
	    {"QUI=", "AB", 2},
	    {"QUJD", "ABC", 3},
	    {"QU JD\n", "ABC", 3},
	    {"Q\r\nU\tJ D", "ABC", 3},
	    {"-_-_", "\xfb\xff\xbf", 3},
	    {"+/+/", "\xfb\xff\xbf", 3},
	    {"Q", NULL, 0},
	    {"QQ=", NULL, 0},
	    {"QQ===", NULL, 0},
	    {"QQ==QQ==", NULL, 0},
	    {"QU!D", NULL, 0},
	    {"QUJD\x01", NULL, 0},
	    {"data:image/png;base64,QQ==", NULL, 0},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		unsigned char *o = NULL;
		size_t ol = 99;
		int rc = output_base64_decode(t[i].in, strlen(t[i].in), 0, &o, &ol);
		if (t[i].out) {
			if (CHECK_INT(rc, 0)) {
				CHECK_INT(ol, t[i].outlen);
				CHECK(memcmp(o, t[i].out, ol) == 0);
			}
		} else {
			if (!CHECK_INT(rc, -1))
				fprintf(stderr, "    input \"%s\"\n", t[i].in);
		}
		free(o);
	}
	unsigned char *o = NULL;
	size_t ol;
	CHECK_INT(output_base64_decode("QUJD", 4, 2, &o, &ol), -1);
	CHECK_INT(output_base64_decode("QUJD", 4, 3, &o, &ol), 0);
	free(o);
	/* Round trip of a PNG. */
	CHECK_INT(output_base64_decode(b64_a, strlen(b64_a), 0, &o, &ol), 0);
	CHECK(ol == png_a_len && memcmp(o, png_a, ol) == 0);
	free(o);
}

static void test_sniff(void)
{
	CHECK_STR(output_sniff(png_a, png_a_len), "png");
	CHECK_STR(output_sniff(jpeg_bytes, sizeof jpeg_bytes), "jpeg");
	CHECK_STR(output_sniff(gif_bytes, sizeof gif_bytes), "gif");
	CHECK_STR(output_sniff(webp_bytes, sizeof webp_bytes), "webp");
	CHECK_STR(output_sniff((const unsigned char *)"RIFF....WAVE", 12), NULL);
	CHECK_STR(output_sniff(png_a, 7), NULL);
	CHECK_STR(output_sniff(NULL, 0), NULL);
}

/* ---------------------------------------------------------------- emulator shapes */

struct curlbuf {
	char *d;
	size_t n;
};

static size_t curl_cb(char *p, size_t s, size_t n, void *u)
{
	struct curlbuf *b = u;
	size_t k = s * n;
	if (b->n + k > (64u << 20))
		return 0;
	char *d = realloc(b->d, b->n + k + 1);
	if (!d)
		return 0;
	memcpy(d + b->n, p, k);
	b->n += k;
	d[b->n] = 0;
	b->d = d;
	return k;
}

static char *http(const char *method, const char *url, const char *body, long *code)
{
	CURL *c = curl_easy_init();
	struct curlbuf b = {0};
	struct curl_slist *h = curl_slist_append(NULL, "Authorization: Bearer test-key-123");
	h = curl_slist_append(h, "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, curl_cb);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
	if (body)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	if (strcmp(method, "POST") == 0)
		curl_easy_setopt(c, CURLOPT_POST, 1L);
	*code = 0;
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, code);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return b.d;
}

/* Start the emulator; its port, or 0. */
static int emu_start(pid_t *pid)
{
	const char *dir = getenv("SDQ_TESTS_DIR");
	char script[4096];
	snprintf(script, sizeof script, "%s/emulator.py", dir && *dir ? dir : "tests");
	int fds[2];
	if (pipe(fds) < 0)
		return 0;
	*pid = fork();
	if (*pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		execl("/usr/bin/python3", "python3", script, "--port", "0", "--key", "test-key-123",
		      "--queue-time", "0", "--run-time", "0", "--idle-exit", "30", "--max-lifetime",
		      "300", "--quiet", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	char line[64] = "";
	size_t n = 0;
	while (n < sizeof line - 1) {
		ssize_t k = read(fds[0], line + n, 1);
		if (k <= 0 || line[n] == '\n')
			break;
		n++;
	}
	line[n] = 0;
	close(fds[0]);
	int port = 0;
	if (sscanf(line, "PORT %d", &port) != 1)
		return 0;
	return port;
}

struct emu_case {
	const char *shape;
	int n;
	const char *format; /* of item 0: "png", "jpeg", NULL for a URL */
	const char *error;  /* substring, or NULL for none */
};

static const struct emu_case emu_cases[] = {
    {"sd15", 2, "png", NULL},
    {"sdxl", 2, "png", NULL},
    {"sdxl_turbo", 2, "png", NULL},
    {"a1111", 2, "png", NULL},
    {"comfyui", 2, "png", NULL},
    {"comfyui_url", 2, NULL, NULL},
    {"comfyui_errors", 2, "png", "could not upload"},
    {"comfy_old", 1, "png", NULL},
    {"comfy_old_error", 0, NULL, "does not exist"},
    {"url", 1, NULL, NULL},
    {"nested", 2, "png", NULL},
    {"string", 1, "png", NULL},
    {"list", 2, "png", NULL},
    {"noimage", 0, NULL, NULL},
    {"badb64", 0, NULL, "could not be decoded"},
    {"jpeg", 2, "jpeg", NULL},
};

static void test_emulator_shapes(void)
{
	pid_t pid;
	int port = emu_start(&pid);
	if (!CHECK(port > 0))
		return;
	char base[128], url[512];
	snprintf(base, sizeof base, "http://127.0.0.1:%d/v2/test", port);
	for (size_t i = 0; i < sizeof emu_cases / sizeof emu_cases[0]; i++) {
		const struct emu_case *c = &emu_cases[i];
		char body[256];
		snprintf(body, sizeof body, "{\"input\":{\"prompt\":\"[[shape=%s count=2]]\"}}",
		         c->shape);
		long code;
		snprintf(url, sizeof url, "%s/run", base);
		char *reply = http("POST", url, body, &code);
		cJSON *rj = cJSON_Parse(reply ? reply : "");
		free(reply);
		const cJSON *id = cJSON_GetObjectItem(rj, "id");
		if (!CHECK(cJSON_IsString(id))) {
			cJSON_Delete(rj);
			continue;
		}
		snprintf(url, sizeof url, "%s/status/%s", base, id->valuestring);
		cJSON_Delete(rj);
		cJSON *st = NULL;
		for (int tries = 0; tries < 200; tries++) {
			reply = http("GET", url, NULL, &code);
			st = cJSON_Parse(reply ? reply : "");
			free(reply);
			const cJSON *s = cJSON_GetObjectItem(st, "status");
			if (cJSON_IsString(s) && strcmp(s->valuestring, "COMPLETED") == 0)
				break;
			cJSON_Delete(st);
			st = NULL;
			usleep(20000);
		}
		if (!CHECK(st != NULL))
			continue;
		char *out = cJSON_PrintUnformatted(cJSON_GetObjectItem(st, "output"));
		cJSON_Delete(st);
		struct output_result r;
		char *err = NULL;
		int ok = CHECK_INT(output_extract(out, 16 << 20, &r, &err), 0);
		ok &= CHECK_INT(r.n_items, c->n);
		if (c->n > 0 && r.n_items > 0) {
			ok &= CHECK_STR(r.items[0].format, c->format);
			if (!c->format)
				ok &= CHECK(r.items[0].url && strstr(r.items[0].url, "/_emu/img/"));
		}
		if (c->error)
			ok &= CHECK(r.error && strstr(r.error, c->error));
		else
			ok &= CHECK(r.error == NULL);
		if (!ok)
			fprintf(stderr, "    emulator shape %s (error: %s)\n", c->shape,
			        r.error ? r.error : "-");
		output_result_clear(&r);
		free(out);
		free(err);
	}
	snprintf(url, sizeof url, "http://127.0.0.1:%d/_emu/shutdown", port);
	long code;
	free(http("POST", url, "", &code));
	int status;
	waitpid(pid, &status, 0);
}

/* ---------------------------------------------------------------- saving */

/* Entries of dir other than . and ..; with contains, only names holding it. */
static int count_entries(const char *dir, const char *contains)
{
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		n += !contains || strstr(e->d_name, contains) != NULL;
	}
	closedir(d);
	return n;
}

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	unsigned char *buf = malloc(1 << 20);
	*len = fread(buf, 1, 1 << 20, f);
	fclose(f);
	return buf;
}

static const void *find_bytes(const unsigned char *h, size_t hl, const char *n, size_t nl)
{
	for (size_t i = 0; i + nl <= hl; i++)
		if (memcmp(h + i, n, nl) == 0)
			return h + i;
	return NULL;
}

static struct job *test_job(int64_t id, int64_t created_ms)
{
	struct job *j = job_new();
	j->id = id;
	j->created_at = created_ms;
	job_set_str(&j->params.prompt, "a lighthouse at dusk");
	job_set_str(&j->params.negative_prompt, "blurry");
	j->params.steps = 25;
	j->params.cfg = 6.5;
	j->params.has_cfg = 1;
	return j;
}

static void day_dir(char *buf, size_t n, const char *root, int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	localtime_r(&t, &tm);
	char day[16];
	strftime(day, sizeof day, "%Y-%m-%d", &tm);
	snprintf(buf, n, "%s/%s", root, day);
}

static void test_save_png(void)
{
	char root[8192];
	snprintf(root, sizeof root, "%s/images", th_tmpdir());
	int64_t created = 1709208000000LL; /* 2024-02-29 12:00 UTC */
	struct job *j = test_job(42, created);
	struct job_output o;
	char *err = NULL;
	if (!CHECK_INT(output_save(root, j, 1, png_a, png_a_len, 777, &o, &err), 0)) {
		fprintf(stderr, "    %s\n", err);
		free(err);
		job_free(j);
		return;
	}
	char dir[8400], want[8500];
	day_dir(dir, sizeof dir, root, created);
	snprintf(want, sizeof want, "%s/42-1.png", dir);
	CHECK_STR(o.path, want);
	CHECK_STR(o.format, "png");
	CHECK_INT(o.index, 1);
	CHECK_INT(o.width, 20);
	CHECK_INT(o.height, 10);
	CHECK_INT(o.seed, 777);
	size_t len = 0;
	unsigned char *data = slurp(want, &len);
	CHECK(data != NULL);
	CHECK_INT(o.bytes, (int64_t)len);
	CHECK(len > png_a_len);
	CHECK_INT(pngmeta_has_text(data, len, "parameters"), 1);
	/* The text holds the prompt and the image's own seed and size. */
	CHECK(data && find_bytes(data, len, "a lighthouse at dusk", 20) != NULL);
	CHECK(data && find_bytes(data, len, "Seed: 777", 9) != NULL);
	CHECK(data && find_bytes(data, len, "20x10", 5) != NULL);
	free(data);
	CHECK_INT(count_entries(dir, ".tmp"), 0);
	CHECK_INT(count_entries(dir, NULL), 1);
	free(o.path);
	free(o.format);

	/* Saving again (a re-save after a crash) replaces the file. */
	CHECK_INT(output_save(root, j, 1, png_a, png_a_len, 777, &o, &err), 0);
	CHECK_INT(count_entries(dir, NULL), 1);
	free(o.path);
	free(o.format);
	free(err);
	job_free(j);
}

static void test_save_keeps_worker_text(void)
{
	char root[8192];
	snprintf(root, sizeof root, "%s/img", th_tmpdir());
	size_t len;
	unsigned char *png = make_png(8, 8, 3, "worker's own parameters", &len);
	struct job *j = test_job(7, job_now_ms());
	struct job_output o;
	char *err = NULL;
	CHECK_INT(output_save(root, j, 0, png, len, -1, &o, &err), 0);
	size_t got;
	unsigned char *data = o.path ? slurp(o.path, &got) : NULL;
	CHECK(data && got == len && memcmp(data, png, len) == 0);
	CHECK_INT(o.seed, -1);
	free(data);
	free(o.path);
	free(o.format);
	/* A corrupt PNG (bad CRC) is saved as sent. */
	png[40] ^= 1;
	CHECK_INT(output_save(root, j, 1, png, len, 5, &o, &err), 0);
	data = o.path ? slurp(o.path, &got) : NULL;
	CHECK(data && got == len && memcmp(data, png, len) == 0);
	CHECK_INT(o.width, 0);
	free(data);
	free(o.path);
	free(o.format);
	free(png);
	free(err);
	job_free(j);
}

static void test_save_other_formats(void)
{
	char root[8192];
	snprintf(root, sizeof root, "%s/img", th_tmpdir());
	struct job *j = test_job(9, job_now_ms());
	struct job_output o;
	char *err = NULL;
	static const struct {
		const unsigned char *d;
		size_t n;
		const char *ext, *fmt;
		int w, h;
	} t[] = {
	    {jpeg_bytes, sizeof jpeg_bytes, "jpg", "jpeg", 48, 40},
	    {gif_bytes, sizeof gif_bytes, "gif", "gif", 16, 8},
	    {webp_bytes, sizeof webp_bytes, "webp", "webp", 32, 16},
	};
	for (int i = 0; i < 3; i++) {
		if (!CHECK_INT(output_save(root, j, i, t[i].d, t[i].n, 3, &o, &err), 0))
			continue;
		char suffix[32];
		snprintf(suffix, sizeof suffix, "/9-%d.%s", i, t[i].ext);
		CHECK(strlen(o.path) > strlen(suffix) &&
		      strcmp(o.path + strlen(o.path) - strlen(suffix), suffix) == 0);
		CHECK_STR(o.format, t[i].fmt);
		CHECK_INT(o.width, t[i].w);
		CHECK_INT(o.height, t[i].h);
		size_t got;
		unsigned char *data = slurp(o.path, &got);
		CHECK(data && got == t[i].n && memcmp(data, t[i].d, got) == 0);
		free(data);
		free(o.path);
		free(o.format);
	}
	/* Not an image. */
	CHECK_INT(output_save(root, j, 5, (const unsigned char *)"hello world", 11, 3, &o, &err),
	          -1);
	CHECK(err && strstr(err, "not a PNG"));
	free(err);
	job_free(j);
}

static void test_save_failure_leaves_nothing(void)
{
	const char *top = th_tmpdir();
	char root[8192];
	snprintf(root, sizeof root, "%s/images", top);
	int64_t created = job_now_ms();
	char dir[8400], target[8500];
	day_dir(dir, sizeof dir, root, created);
	struct job *j = test_job(3, created);
	struct job_output o;
	char *err = NULL;

	/* The target name is taken by a directory: rename fails after the temp
	 * file was written; the temp file must be gone. */
	snprintf(target, sizeof target, "%s/3-0.png", dir);
	char cmd[20000];
	snprintf(cmd, sizeof cmd, "mkdir -p '%s/keep'", target);
	CHECK_INT(system(cmd), 0);
	memset(&o, 0, sizeof o);
	CHECK_INT(output_save(root, j, 0, png_a, png_a_len, 1, &o, &err), -1);
	CHECK(err && strstr(err, target));
	CHECK(o.path == NULL);
	CHECK_INT(count_entries(dir, ".tmp"), 0);
	CHECK_INT(count_entries(dir, NULL), 1); /* only the blocking directory */
	free(err);
	err = NULL;

	/* The images directory is a file: mkdir fails with a message. */
	char file_root[8192];
	snprintf(file_root, sizeof file_root, "%s/afile", top);
	FILE *f = fopen(file_root, "w");
	fclose(f);
	CHECK_INT(output_save(file_root, j, 0, png_a, png_a_len, 1, &o, &err), -1);
	CHECK(err && strstr(err, "cannot create directory"));
	free(err);
	err = NULL;

	/* A read-only directory (meaningful only without root's override). */
	if (geteuid() != 0) {
		char ro[8192];
		snprintf(ro, sizeof ro, "%s/ro", top);
		char rodir[8400];
		day_dir(rodir, sizeof rodir, ro, created);
		snprintf(cmd, sizeof cmd, "mkdir -p '%s' && chmod 555 '%s'", rodir, rodir);
		CHECK_INT(system(cmd), 0);
		CHECK_INT(output_save(ro, j, 0, png_a, png_a_len, 1, &o, &err), -1);
		CHECK(err && strstr(err, "Permission denied"));
		CHECK_INT(count_entries(rodir, NULL), 0);
		snprintf(cmd, sizeof cmd, "chmod 755 '%s'", rodir);
		CHECK_INT(system(cmd), 0);
		free(err);
		err = NULL;
	}
	job_free(j);
}

/* output_extract_tree decodes each image over its own string and takes
 * the buffer (the node keeps ""); a string that is not an image is left as
 * it was; output_tree_shorten then leaves long strings out of the record. */
static void test_extract_tree_in_place(void)
{
	struct output_result res;
	char *json, *err = NULL, *big;
	cJSON *out;
	size_t n = 200000;

	big = malloc(n + 1);
	memset(big, 'A', n); /* base64 of zeros: not an image */
	big[n] = 0;
	json = malloc(strlen(b64_a) + n + 100);
	sprintf(json, "{\"images\": [\"data:image/png;base64,%s\"], \"noise\": \"%s\"}", b64_a,
	        big);
	out = cJSON_Parse(json);
	CHECK(out != NULL);
	CHECK(output_extract_tree(out, 0, &res, &err) == 0);
	CHECK(res.n_items == 1);
	CHECK(res.n_items == 1 && res.items[0].len == png_a_len &&
	      memcmp(res.items[0].data, png_a, png_a_len) == 0);
	const cJSON *im = cJSON_GetArrayItem(cJSON_GetObjectItem(out, "images"), 0);
	CHECK(cJSON_IsString(im) && strcmp(im->valuestring, "") == 0);
	const cJSON *no = cJSON_GetObjectItem(out, "noise");
	CHECK(cJSON_IsString(no) && strlen(no->valuestring) == n);
	output_tree_shorten(out, 1000, 0);
	no = cJSON_GetObjectItem(out, "noise");
	CHECK(cJSON_IsString(no) && strcmp(no->valuestring, "(200000 bytes left out)") == 0);
	output_result_clear(&res);
	cJSON_Delete(out); /* ASan: the taken buffer is not freed twice */
	free(json);
	free(big);
	free(err);
}

/* output_save_to: the image is complete at its name at once, its directory
 * is remembered (once for several images) instead of synced, and
 * output_dirs_sync syncs and forgets them. */
static void test_save_to_dirs(void)
{
	char root[8192], dir[8400], want[8500];
	int64_t created = 1709208000000LL;
	struct job *j = test_job(43, created);
	struct output_dirs dirs;
	struct job_output o;
	char *err = NULL;

	memset(&dirs, 0, sizeof dirs);
	snprintf(root, sizeof root, "%s/images-to", th_tmpdir());
	day_dir(dir, sizeof dir, root, created);
	for (int i = 0; i < 3; i++) {
		if (!CHECK_INT(output_save_to(root, j, i, png_a, png_a_len, 5, &dirs, &o, &err), 0)) {
			fprintf(stderr, "    %s\n", err);
			free(err);
			break;
		}
		snprintf(want, sizeof want, "%s/43-%d.png", dir, i);
		CHECK_STR(o.path, want);
		free(o.path);
		free(o.format);
	}
	CHECK_INT(count_entries(dir, NULL), 3);
	CHECK_INT(count_entries(dir, ".tmp"), 0);
	CHECK_INT(dirs.n, 1);
	CHECK(dirs.n == 1 && strcmp(dirs.v[0], dir) == 0);
	output_dirs_sync(&dirs);
	CHECK_INT(dirs.n, 0);
	output_dirs_clear(&dirs);
	CHECK(dirs.v == NULL);
	job_free(j);
}

int main(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	signal(SIGPIPE, SIG_IGN);
	fixtures();
	TH_RUN(test_sniff);
	TH_RUN(test_base64);
	TH_RUN(test_shapes);
	TH_RUN(test_extract_tree_in_place);
	TH_RUN(test_failure_text);
	TH_RUN(test_invalid_json);
	TH_RUN(test_cap);
	TH_RUN(test_depth);
	TH_RUN(test_many_items_capped);
	TH_RUN(test_mutations);
	TH_RUN(test_emulator_shapes);
	TH_RUN(test_save_png);
	TH_RUN(test_save_keeps_worker_text);
	TH_RUN(test_save_other_formats);
	TH_RUN(test_save_failure_leaves_nothing);
	TH_RUN(test_save_to_dirs);
	free(png_a);
	free(png_b);
	free(b64_a);
	free(b64_b);
	free(b64_j);
	free(b64_g);
	free(b64_w);
	curl_global_cleanup();
	return th_done("test_output");
}
