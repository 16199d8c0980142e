/*
 * query.c: a store_query turned into SQL (see query.h): the state filter,
 * the paging, and free text as a safe FTS5 query over jobs_fts. Moved out of
 * store.c; store_list.c prepares and runs what it builds.
 */
#include "query.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/* The index's tokenizer (unicode61 remove_diacritics 2, as in the schema),
 * for asking whether a word holds any token. */
struct fts_tok {
	fts5_tokenizer api;
	Fts5Tokenizer *t;
};

static int fts_tok_open(sqlite3 *db, struct fts_tok *tk)
{
	static const char *const args[] = {"remove_diacritics", "2"};
	fts5_api *api = NULL;
	sqlite3_stmt *s = NULL;
	void *ud = NULL;

	tk->t = NULL;
	if (!db || sqlite3_prepare_v2(db, "SELECT fts5(?1)", -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_pointer(s, 1, (void *)&api, "fts5_api_ptr", NULL);
	sqlite3_step(s);
	sqlite3_finalize(s);
	if (!api || api->iVersion < 2 ||
	    api->xFindTokenizer(api, "unicode61", &ud, &tk->api) != SQLITE_OK ||
	    tk->api.xCreate(ud, (const char **)args, 2, &tk->t) != SQLITE_OK) {
		tk->t = NULL;
		return -1;
	}
	return 0;
}

static int fts_tok_count(void *ctx, int flags, const char *tok, int n, int start, int end)
{
	(void)flags, (void)tok, (void)n, (void)start, (void)end;
	++*(int *)ctx;
	return SQLITE_DONE; /* one is enough */
}

/* 1 if the tokenizer finds a token in w (or cannot be asked), 0 if not. */
static int fts_tok_any(struct fts_tok *tk, const char *w, size_t n)
{
	int count = 0;
	if (!tk->t || n > INT_MAX)
		return 1;
	tk->api.xTokenize(tk->t, &count, FTS5_TOKENIZE_QUERY, w, (int)n, fts_tok_count);
	return count > 0;
}

/* Turn user text into a safe FTS5 query: every whitespace-separated word that
 * holds a token (an ASCII letter or digit, or what the index's tokenizer
 * takes for one: "…" or an emoji alone is not) becomes a quoted prefix term
 * ("word"*, with quotes doubled), and the terms are AND-ed. So any input,
 * `cat's "dog` or `-` included, is valid syntax, and a word without a token
 * (which would be an empty phrase matching nothing) cannot hide every match.
 * Words after the first FTS_MAX_WORDS are ignored (FTS5 evaluates an AND
 * chain recursively). NULL with *none = 1 when no word is left. */
#define FTS_MAX_WORDS 64
static char *fts_query(sqlite3 *db, const char *text, int *none)
{
	int words = 0;
	size_t len = strlen(text);
	/* Worst case: every byte a quote (doubled), plus per word `"`, `"*`, ` AND `. */
	char *q = malloc(len * 10 + 1), *o = q;
	const char *p = text;
	struct fts_tok tk = {0};
	int tk_tried = 0;

	*none = 0;
	if (!q)
		return NULL;
	while (*p) {
		const char *w;
		size_t n;
		int wordy = 0;

		while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f' ||
		       *p == '\v')
			p++;
		w = p;
		while (*p && !(*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f' ||
		               *p == '\v'))
			p++;
		n = (size_t)(p - w);
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)w[i];
			if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
			    (c >= 'A' && c <= 'Z'))
				wordy = 1;
			else if (c >= 0x80 && !wordy)
				wordy = -1; /* non-ASCII: ask the tokenizer */
		}
		if (wordy < 0) {
			if (!tk_tried++)
				fts_tok_open(db, &tk);
			wordy = fts_tok_any(&tk, w, n);
		}
		if (!wordy || ++words > FTS_MAX_WORDS)
			continue;
		if (o != q) {
			memcpy(o, " AND ", 5);
			o += 5;
		}
		*o++ = '"';
		for (size_t i = 0; i < n; i++) {
			if (w[i] == '"')
				*o++ = '"';
			*o++ = w[i];
		}
		*o++ = '"';
		*o++ = '*';
	}
	if (tk.t)
		tk.api.xDelete(tk.t);
	*o = '\0';
	if (o == q) {
		free(q);
		*none = 1;
		return NULL;
	}
	return q;
}

/* The bits of every state job_state_is_live() accepts. */
static int live_mask(void)
{
	int m = 0;
	for (int s = 0; s < JOB_STATE_COUNT; s++)
		if (job_state_is_live((enum job_state)s))
			m |= 1 << s;
	return m;
}

static void add_sql(struct query_sql *b, const char *s)
{
	size_t n = strlen(s);
	if (b->len + n < sizeof b->sql) {
		memcpy(b->sql + b->len, s, n + 1);
		b->len += n;
	}
}

/* Build "SELECT <what> FROM ... WHERE ... [ORDER BY, LIMIT]" for q. With text,
 * the FTS index drives the scan in rowid order, so "newest 50 matching"
 * reads about 50 rows, not every match. */
int query_build(sqlite3 *db, const struct store_query *q, const char *what, int ordered,
                struct query_sql *b, char **err)
{
	static const struct store_query none;
	int mask, all = (1 << JOB_STATE_COUNT) - 1, where = 0;
	const char *idcol;

	memset(b, 0, sizeof *b);
	if (!q)
		q = &none;
	mask = q->state_mask ? (q->state_mask & all) : all;
	if (q->live_only)
		mask &= live_mask();
	if (!mask)
		b->empty = 1;
	if (q->text) {
		int no_words;
		b->match = fts_query(db, q->text, &no_words);
		if (!b->match && !no_words) {
			util_set_err(err, "store: out of memory");
			return -1;
		}
	}
	add_sql(b, "SELECT ");
	add_sql(b, what);
	if (b->match) {
		add_sql(b, " FROM jobs_fts CROSS JOIN jobs j ON j.id = jobs_fts.rowid "
		           "WHERE jobs_fts MATCH ?");
		idcol = "jobs_fts.rowid";
		where = 1;
	} else {
		add_sql(b, " FROM jobs j");
		idcol = "j.id";
	}
	if (mask != all) {
		add_sql(b, where ? " AND j.state IN (" : " WHERE j.state IN (");
		where = 1;
		for (int s = 0; s < JOB_STATE_COUNT; s++) {
			if (!(mask & (1 << s)))
				continue;
			add_sql(b, b->n_states ? ",?" : "?");
			b->states[b->n_states++] = job_state_name((enum job_state)s);
		}
		add_sql(b, ")");
	}
	if (q->group_id > 0) {
		add_sql(b, where ? " AND j.group_id = ?" : " WHERE j.group_id = ?");
		where = 1;
		b->group_id = q->group_id;
	}
	if (q->before_id > 0) {
		add_sql(b, where ? " AND " : " WHERE ");
		add_sql(b, idcol);
		add_sql(b, " < ?");
		b->before_id = q->before_id;
	}
	if (ordered) {
		add_sql(b, " ORDER BY ");
		add_sql(b, idcol);
		add_sql(b, q->oldest_first ? " ASC" : " DESC");
		if (q->limit > 0) {
			add_sql(b, " LIMIT ?");
			b->limit = q->limit;
		}
	}
	return 0;
}
