/*
 * fuzz_output.c: output_extract() on any worker output JSON, and
 * output_base64_decode() on any text.
 *
 * The input is the JSON text (the value of "output"). Checked: extract
 * returns 0 or -1 (then with a message); every item is either decoded bytes
 * whose magic number output_sniff() recognises as its format, within the
 * max_image cap, or an http(s) URL with no bytes; clearing twice is safe.
 * The same bytes are then (a) decoded as base64 with and without a cap and
 * (b) encoded as base64 by an independent encoder (alphabet, padding and
 * white space picked by the first byte) and decoded back, which must give
 * them exactly.
 */
#include <string.h>
#include <strings.h>

#include "fuzz_replay.h"
#include "output.h"

#define MAX_IMAGE (1 << 16)

static void fuzz_init(void)
{
}

static void check_extract(const char *json)
{
	struct output_result res;
	char *err = NULL;
	size_t i;
	int rc;

	memset(&res, 0, sizeof res);
	rc = output_extract(json, MAX_IMAGE, &res, &err);
	FUZZ_CHECK(rc == 0 || rc == -1);
	if (rc < 0) {
		FUZZ_CHECK(err != NULL && res.n_items == 0);
	} else {
		FUZZ_CHECK(res.n_items == 0 || res.items != NULL);
		for (i = 0; i < res.n_items; i++) {
			const struct output_item *it = &res.items[i];
			if (it->data) {
				const char *f = output_sniff(it->data, it->len);
				FUZZ_CHECK(it->len <= MAX_IMAGE);
				FUZZ_CHECK(f && it->format && strcmp(f, it->format) == 0);
			} else {
				FUZZ_CHECK(it->url != NULL && it->len == 0);
			}
			if (it->url)
				FUZZ_CHECK(strncasecmp(it->url, "http://", 7) == 0 ||
				           strncasecmp(it->url, "https://", 8) == 0);
			FUZZ_CHECK(it->seed >= -1);
			if (it->filename)
				(void)strlen(it->filename);
		}
		FUZZ_CHECK(res.seed >= -1);
		if (res.error)
			(void)strlen(res.error);
	}
	free(err);
	output_result_clear(&res);
	output_result_clear(&res);
	FUZZ_CHECK(res.n_items == 0 && res.items == NULL && res.error == NULL);
	/* the same text as a FAILED job's error and output: a message or NULL */
	{
		char *t = output_failure_text(json, json, "sdxl");
		FUZZ_CHECK(!t || *t || !*json);
		free(t);
	}
}

static void check_decode(const uint8_t *data, size_t size)
{
	unsigned char *out = NULL;
	size_t outlen = 0, capped = size / 3;

	if (output_base64_decode((const char *)data, size, 0, &out, &outlen) == 0) {
		/* at most 3 bytes for every 4 characters */
		FUZZ_CHECK(outlen <= size / 4 * 3 + 2);
		free(out);
		out = NULL;
		if (capped &&
		    output_base64_decode((const char *)data, size, capped, &out, &outlen) == 0) {
			FUZZ_CHECK(outlen <= capped);
			free(out);
			out = NULL;
		}
	}
}

static void check_roundtrip(const uint8_t *data, size_t size, unsigned mode)
{
	static const char std[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	static const char url[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	const char *al = (mode & 1) ? url : std;
	int pad = !(mode & 2), ws = (mode >> 2) & 3; /* 0 none, 1 "\n" every 76, 2 "\r\n", 3 " " */
	size_t cap = (size + 2) / 3 * 4 * 2 + 8, o = 0, i, col = 0;
	char *enc = malloc(cap);
	unsigned char *out = NULL;
	size_t outlen = 0;

	if (!enc)
		abort();
#define PUT(c)                                                                                     \
	do {                                                                                       \
		enc[o++] = (c);                                                                    \
		if (ws && ++col == 76) {                                                           \
			if (ws == 2)                                                               \
				enc[o++] = '\r';                                                   \
			enc[o++] = ws == 3 ? ' ' : '\n';                                           \
			col = 0;                                                                   \
		}                                                                                  \
	} while (0)
	for (i = 0; i + 2 < size; i += 3) {
		uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8 | data[i + 2];
		PUT(al[v >> 18]);
		PUT(al[(v >> 12) & 63]);
		PUT(al[(v >> 6) & 63]);
		PUT(al[v & 63]);
	}
	if (size - i == 1) {
		uint32_t v = (uint32_t)data[i] << 16;
		PUT(al[v >> 18]);
		PUT(al[(v >> 12) & 63]);
		if (pad) {
			PUT('=');
			PUT('=');
		}
	} else if (size - i == 2) {
		uint32_t v = (uint32_t)data[i] << 16 | (uint32_t)data[i + 1] << 8;
		PUT(al[v >> 18]);
		PUT(al[(v >> 12) & 63]);
		PUT(al[(v >> 6) & 63]);
		if (pad)
			PUT('=');
	}
#undef PUT
	FUZZ_CHECK(output_base64_decode(enc, o, 0, &out, &outlen) == 0);
	if (out) {
		FUZZ_CHECK(outlen == size && (size == 0 || memcmp(out, data, size) == 0));
		free(out);
		out = NULL;
	}
	/* a cap one byte too small refuses it */
	if (size > 1)
		FUZZ_CHECK(output_base64_decode(enc, o, size - 1, &out, &outlen) == -1);
	free(out);
	free(enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *json = fuzz_cstr(data, size);

	check_extract(json);
	free(json);
	check_decode(data, size);
	check_roundtrip(data, size, size ? data[0] : 0);
	return 0;
}

FUZZ_REPLAY_MAIN("output")
