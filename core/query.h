/*
 * query.h: a store_query (store.h) turned into one SQL statement and its
 * parameters, for store_list.c's job list, count and group list. Free text becomes a safe
 * FTS5 query (every word a quoted prefix term, AND-ed), so no user input is
 * ever a syntax error. Nothing here touches the database but the FTS5
 * tokenizer it asks about non-ASCII words.
 */
#ifndef SDQ_QUERY_H
#define SDQ_QUERY_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>

#include "job.h"
#include "store.h"

/* A query built from a store_query: SQL text and its parameters. */
struct query_sql {
	char sql[2048];
	size_t len;
	char *match; /* the FTS5 query (owned), bound first if set */
	const char *states[JOB_STATE_COUNT];
	int n_states;
	int64_t group_id;
	int64_t before_id;
	int64_t limit;
	int empty; /* the query cannot match anything */
};

/* Fill b with "SELECT <what> FROM ... WHERE ... [ORDER BY id, LIMIT]" for q
 * (NULL: every job); ordered adds the order (q->oldest_first) and q->limit.
 * Parameters, in order: b->match if set, b->states[], b->group_id if set,
 * b->before_id if set, b->limit if set. b->empty: q can match nothing.
 * With text, the FTS index drives the scan in rowid order. db (borrowed) is only asked for its
 * tokenizer. 0, or -1 with *err on ENOMEM; the caller frees b->match. */
int query_build(sqlite3 *db, const struct store_query *q, const char *what, int ordered,
                struct query_sql *b, char **err);

#endif
