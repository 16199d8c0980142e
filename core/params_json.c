/*
 * params_json.c: params.c's JSON reader (see params_json.h). Moved out of
 * params.c as it was, when the template placeholders' listing took params.c
 * over 1500 lines (issue 9).
 */
#include "params_json.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"
#include "util.h"

struct jp {
	const char *s, *p, *end;
	const char *what; /* for messages: a path or "extra input" */
	char **err;
	int depth;
	int failed;
};

/* Fail with "what:line:col: invalid JSON (why)", once. */
static void jp_fail(struct jp *j, const char *why)
{
	int line = 1, col = 1;

	if (j->failed)
		return;
	j->failed = 1;
	for (const char *s = j->s; s < j->p && s < j->end; s++) {
		if (*s == '\n') {
			line++;
			col = 1;
		} else {
			col++;
		}
	}
	util_set_err(j->err, "%s:%d:%d: invalid JSON (%s)", j->what, line, col, why);
}

static void jp_ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static int jp_hex4(struct jp *j, uint32_t *v)
{
	*v = 0;
	if (j->end - j->p < 4) {
		jp_fail(j, "short \\u escape");
		return -1;
	}
	for (int i = 0; i < 4; i++) {
		int c = (unsigned char)j->p[i], d;
		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else {
			jp_fail(j, "bad \\u escape");
			return -1;
		}
		*v = *v << 4 | (uint32_t)d;
	}
	j->p += 4;
	return 0;
}

/* The string at j->p (on its opening quote), unescaped, malloc'd; NULL on
 * failure. Raw bytes must be valid UTF-8; \u0000 is refused (our strings are
 * NUL-terminated). */
static char *jp_string(struct jp *j)
{
	struct util_buf b = {0};

	j->p++;
	util_buf_put(&b, "", 0);
	for (;;) {
		const char *run = j->p;
		while (j->p < j->end && (unsigned char)*j->p >= 0x20 && (unsigned char)*j->p < 0x80 &&
		       *j->p != '"' && *j->p != '\\')
			j->p++;
		util_buf_put(&b, run, (size_t)(j->p - run));
		if (j->p >= j->end) {
			jp_fail(j, "unterminated string");
			goto fail;
		}
		unsigned char c = (unsigned char)*j->p;
		if (c == '"') {
			j->p++;
			break;
		}
		if (c < 0x20) {
			jp_fail(j, "control character in a string");
			goto fail;
		}
		if (c >= 0x80) {
			uint32_t cp;
			size_t n = text_utf8_decode((const unsigned char *)j->p, (size_t)(j->end - j->p), &cp);
			if (!n) {
				jp_fail(j, "not valid UTF-8");
				goto fail;
			}
			util_buf_put(&b, j->p, n);
			j->p += n;
			continue;
		}
		/* a backslash */
		if (++j->p >= j->end) {
			jp_fail(j, "unterminated string");
			goto fail;
		}
		c = (unsigned char)*j->p++;
		switch (c) {
		case '"':
		case '\\':
		case '/':
			util_buf_put(&b, &c, 1);
			break;
		case 'b':
			util_buf_put(&b, "\b", 1);
			break;
		case 'f':
			util_buf_put(&b, "\f", 1);
			break;
		case 'n':
			util_buf_put(&b, "\n", 1);
			break;
		case 'r':
			util_buf_put(&b, "\r", 1);
			break;
		case 't':
			util_buf_put(&b, "\t", 1);
			break;
		case 'u': {
			uint32_t cp, lo;
			char enc[4];
			if (jp_hex4(j, &cp) < 0)
				goto fail;
			if (cp >= 0xdc00 && cp <= 0xdfff) {
				jp_fail(j, "lone low surrogate");
				goto fail;
			}
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (j->end - j->p < 6 || j->p[0] != '\\' || j->p[1] != 'u') {
					jp_fail(j, "lone high surrogate");
					goto fail;
				}
				j->p += 2;
				if (jp_hex4(j, &lo) < 0)
					goto fail;
				if (lo < 0xdc00 || lo > 0xdfff) {
					jp_fail(j, "lone high surrogate");
					goto fail;
				}
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			}
			if (cp == 0) {
				jp_fail(j, "\\u0000 is not supported");
				goto fail;
			}
			util_buf_put(&b, enc, text_utf8_encode(cp, enc));
			break;
		}
		default:
			j->p--;
			jp_fail(j, "bad escape");
			goto fail;
		}
	}
	if (b.oom) {
		jp_fail(j, "out of memory");
		goto fail;
	}
	return b.p;
fail:
	free(b.p);
	return NULL;
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* A number, kept as its text (a raw item). */
static cJSON *jp_number(struct jp *j)
{
	const char *a = j->p;
	char *text;
	cJSON *v;

	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p < j->end && *j->p == '0') {
		j->p++;
	} else if (j->p < j->end && is_digit(*j->p)) {
		while (j->p < j->end && is_digit(*j->p))
			j->p++;
	} else {
		jp_fail(j, "bad number");
		return NULL;
	}
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (j->p >= j->end || !is_digit(*j->p)) {
			jp_fail(j, "bad number");
			return NULL;
		}
		while (j->p < j->end && is_digit(*j->p))
			j->p++;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (j->p >= j->end || !is_digit(*j->p)) {
			jp_fail(j, "bad number");
			return NULL;
		}
		while (j->p < j->end && is_digit(*j->p))
			j->p++;
	}
	if (!(text = strndup(a, (size_t)(j->p - a))) || !(v = cJSON_CreateRaw(text))) {
		free(text);
		jp_fail(j, "out of memory");
		return NULL;
	}
	free(text);
	return v;
}

static cJSON *jp_value(struct jp *j);

/* An object or an array, at its opening bracket. */
static cJSON *jp_container(struct jp *j)
{
	int obj = *j->p == '{';
	char close = obj ? '}' : ']';
	cJSON *c, *v;
	char *key = NULL;

	if (++j->depth > PARAMS_JSON_DEPTH_MAX) {
		jp_fail(j, "nested too deeply");
		return NULL;
	}
	j->p++;
	if (!(c = obj ? cJSON_CreateObject() : cJSON_CreateArray())) {
		jp_fail(j, "out of memory");
		return NULL;
	}
	jp_ws(j);
	if (j->p < j->end && *j->p == close) {
		j->p++;
		j->depth--;
		return c;
	}
	for (;;) {
		jp_ws(j);
		if (obj) {
			if (j->p >= j->end || *j->p != '"') {
				jp_fail(j, "expected a member name");
				goto fail;
			}
			if (!(key = jp_string(j)))
				goto fail;
			jp_ws(j);
			if (j->p >= j->end || *j->p != ':') {
				jp_fail(j, "expected ':'");
				goto fail;
			}
			j->p++;
		}
		if (!(v = jp_value(j)))
			goto fail;
		if (obj ? !cJSON_AddItemToObject(c, key, v) : !cJSON_AddItemToArray(c, v)) {
			cJSON_Delete(v);
			jp_fail(j, "out of memory");
			goto fail;
		}
		free(key);
		key = NULL;
		jp_ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == close) {
			j->p++;
			break;
		}
		jp_fail(j, obj ? "expected ',' or '}'" : "expected ',' or ']'");
		goto fail;
	}
	j->depth--;
	return c;
fail:
	free(key);
	cJSON_Delete(c);
	return NULL;
}

static cJSON *jp_literal(struct jp *j, const char *word, cJSON *(*make)(void))
{
	size_t n = strlen(word);
	cJSON *v;

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n) != 0) {
		jp_fail(j, "unexpected character");
		return NULL;
	}
	j->p += n;
	if (!(v = make()))
		jp_fail(j, "out of memory");
	return v;
}

static cJSON *jp_value(struct jp *j)
{
	jp_ws(j);
	if (j->p >= j->end) {
		jp_fail(j, "unexpected end");
		return NULL;
	}
	switch (*j->p) {
	case '{':
	case '[':
		return jp_container(j);
	case '"': {
		char *s = jp_string(j);
		cJSON *v;
		if (!s)
			return NULL;
		if (!(v = cJSON_CreateString(s)))
			jp_fail(j, "out of memory");
		free(s);
		return v;
	}
	case 't':
		return jp_literal(j, "true", cJSON_CreateTrue);
	case 'f':
		return jp_literal(j, "false", cJSON_CreateFalse);
	case 'n':
		return jp_literal(j, "null", cJSON_CreateNull);
	default:
		if (*j->p == '-' || is_digit(*j->p))
			return jp_number(j);
		jp_fail(j, "unexpected character");
		return NULL;
	}
}

cJSON *params_json_parse(const char *text, size_t len, const char *what, char **err)
{
	struct jp j = {text, text, text + len, what, err, 0, 0};
	cJSON *v = jp_value(&j);

	if (!v)
		return NULL;
	jp_ws(&j);
	if (j.p != j.end) {
		jp_fail(&j, "text after the value");
		cJSON_Delete(v);
		return NULL;
	}
	return v;
}

int params_json_is_number(const char *s, size_t len)
{
	struct jp j = {s, s, s + len, "", NULL, 0, 0};
	cJSON *v = len ? jp_number(&j) : NULL;
	int ok = v && j.p == s + len;
	cJSON_Delete(v);
	return ok;
}
