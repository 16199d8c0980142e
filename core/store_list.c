/*
 * store_list.c: the lists the front ends read from the store (store.h), cut
 * out of store.c: jobs by a store_query (the SQL built by query.c, FTS5
 * search) with their outputs in one more query, their count, job groups
 * (added, read, listed with the count of their jobs by state), a job's
 * events and the recent distinct prompts.
 *
 * It shares the connection, the statement cache, the transaction helpers and
 * the row readers with store.c through store_int.h; store.c opens, migrates
 * and closes the store, writes and reads single jobs and holds the locks.
 * A list reads inside one read transaction (store_begin_read ...
 * store_rollback), so the jobs and their outputs are one snapshot.
 */
#include "store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"
#include "store_int.h"
#include "util.h"

/* ---- queries ---- */

/* Prepare sql (b->sql, or a query around it) and bind b's parameters. */
static int prepare_built(struct store *st, const char *sql, const struct query_sql *b,
                         sqlite3_stmt **out, char **err)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(st->db, sql, -1, &s, NULL), i = 1;

	*out = NULL;
	if (rc != SQLITE_OK) {
		store_db_err(st, err, rc, "store: preparing a query");
		return -1;
	}
	if (b->match)
		store_bind_text(s, i++, b->match);
	for (int k = 0; k < b->n_states; k++)
		store_bind_text(s, i++, b->states[k]);
	if (b->group_id)
		sqlite3_bind_int64(s, i++, b->group_id);
	if (b->before_id)
		sqlite3_bind_int64(s, i++, b->before_id);
	if (b->limit)
		sqlite3_bind_int64(s, i++, b->limit);
	*out = s;
	return 0;
}

void store_jobs_free(struct job **jobs, size_t n)
{
	if (!jobs)
		return;
	for (size_t i = 0; i < n; i++)
		job_free(jobs[i]);
	free(jobs);
}

struct id_slot {
	int64_t id;
	size_t at;
};

static int cmp_slot(const void *a, const void *b)
{
	int64_t x = ((const struct id_slot *)a)->id, y = ((const struct id_slot *)b)->id;
	return x < y ? -1 : x > y;
}

/* Attach the outputs of jobs[0..n) with one query: the ids go in as a JSON
 * array (json_each), so any number of jobs is one statement. */
static int attach_outputs(struct store *st, struct job **jobs, size_t n, char **err)
{
	struct id_slot *slots = NULL;
	char *ids = NULL, *o;
	sqlite3_stmt *s = NULL;
	int rc, ret = -1;

	if (!n)
		return 0;
	slots = malloc(n * sizeof *slots);
	ids = malloc(n * 21 + 3);
	if (!slots || !ids) {
		util_set_err(err, "store: out of memory");
		goto out;
	}
	o = ids;
	*o++ = '[';
	for (size_t i = 0; i < n; i++) {
		slots[i].id = jobs[i]->id;
		slots[i].at = i;
		o += sprintf(o, "%s%lld", i ? "," : "", (long long)jobs[i]->id);
	}
	*o++ = ']';
	*o = '\0';
	qsort(slots, n, sizeof *slots, cmp_slot);

	rc = sqlite3_prepare_v2(st->db,
	                        "SELECT job_id, idx, path, width, height, seed, format, bytes "
	                        "FROM outputs WHERE job_id IN (SELECT value FROM json_each(?1)) "
	                        "ORDER BY job_id, idx",
	                        -1, &s, NULL);
	if (rc != SQLITE_OK) {
		store_db_err(st, err, rc, "store: preparing a query");
		goto out;
	}
	store_bind_text(s, 1, ids);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct id_slot key = {sqlite3_column_int64(s, 0), 0}, *hit;
		hit = bsearch(&key, slots, n, sizeof *slots, cmp_slot);
		if (hit && store_row_add_output(s, jobs[hit->at]) < 0) {
			util_set_err(err, "store: out of memory");
			goto out;
		}
	}
	if (rc != SQLITE_DONE) {
		store_db_err(st, err, rc, "store: reading outputs");
		goto out;
	}
	ret = 0;
out:
	sqlite3_finalize(s);
	free(slots);
	free(ids);
	return ret;
}

int store_job_list(struct store *st, const struct store_query *q, struct job ***out, size_t *n,
                   char **err)
{
	struct query_sql b;
	sqlite3_stmt *s = NULL;
	struct job **jobs = NULL;
	size_t cnt = 0, cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (query_build(st->db, q, STORE_JOB_COLS, 1, &b, err) < 0)
		return -1;
	if (b.empty) {
		free(b.match);
		return 0;
	}
	if (store_begin_read(st, err, "store: listing jobs") < 0) {
		free(b.match);
		return -1;
	}
	if (prepare_built(st, b.sql, &b, &s, err) < 0)
		goto fail;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct job **g = util_grow(jobs, cnt, &cap, 16, sizeof *jobs);
		if (g)
			jobs = g;
		if (!g || !(jobs[cnt] = store_row_to_job(s))) {
			util_set_err(err, "store: out of memory");
			goto fail;
		}
		cnt++;
	}
	if (rc != SQLITE_DONE) {
		store_db_err(st, err, rc, "store: listing jobs");
		goto fail;
	}
	sqlite3_finalize(s);
	s = NULL;
	if (attach_outputs(st, jobs, cnt, err) < 0)
		goto fail;
	store_rollback(st); /* ends the read transaction */
	free(b.match);
	*out = jobs;
	*n = cnt;
	return 0;
fail:
	sqlite3_finalize(s);
	store_rollback(st);
	free(b.match);
	store_jobs_free(jobs, cnt);
	return -1;
}

int store_job_walk(struct store *st, const struct store_query *q, int page, store_job_fn fn,
                   void *udata, char **err)
{
	struct store_query pq = *q;
	int more = 1;

	pq.limit = page;
	pq.before_id = 0;
	pq.oldest_first = 0;
	while (more) {
		struct job **jobs = NULL;
		size_t n = 0;

		if (store_job_list(st, &pq, &jobs, &n, err) < 0)
			return -1;
		more = page > 0 && n == (size_t)page;
		for (size_t i = 0; i < n; i++) {
			int r = fn(jobs[i], udata);
			if (r < 0) {
				more = 0;
				break;
			}
			if (r == 0)
				more = 0;
		}
		if (n)
			pq.before_id = jobs[n - 1]->id;
		store_jobs_free(jobs, n);
	}
	return 0;
}

int64_t store_job_count(struct store *st, const struct store_query *q, char **err)
{
	struct query_sql b;
	sqlite3_stmt *s;
	int64_t c = -1;
	int rc;

	if (query_build(st->db, q, "count(*)", 0, &b, err) < 0)
		return -1;
	if (b.empty) {
		free(b.match);
		return 0;
	}
	if (prepare_built(st, b.sql, &b, &s, err) < 0) {
		free(b.match);
		return -1;
	}
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		c = sqlite3_column_int64(s, 0);
	else
		store_db_err(st, err, rc, "store: counting jobs");
	sqlite3_finalize(s);
	free(b.match);
	return c;
}

/* ---- groups ---- */

int64_t store_group_add(struct store *st, const struct store_group *g, char **err)
{
	sqlite3_stmt *s = store_stmt(st, S_INSERT_GROUP, err);
	int64_t id;

	if (!s)
		return 0;
	if (sqlite3_bind_int64(s, 1, g->created_at ? g->created_at : job_now_ms()) ||
	    store_bind_text(s, 2, g->prompt) || store_bind_text(s, 3, g->negative_prompt) ||
	    store_bind_text(s, 4, g->axes_json) || sqlite3_bind_int(s, 5, g->njobs)) {
		store_db_err(st, err, sqlite3_errcode(st->db), "store: adding a group");
		store_done(s);
		return 0;
	}
	if (store_step_done(st, s, err, "store: adding a group") < 0)
		return 0;
	id = sqlite3_last_insert_rowid(st->db);
	return id;
}

void store_group_free(struct store_group *g)
{
	if (!g)
		return;
	free(g->prompt);
	free(g->negative_prompt);
	free(g->axes_json);
	free(g);
}

void store_groups_free(struct store_group **g, size_t n)
{
	for (size_t i = 0; g && i < n; i++)
		store_group_free(g[i]);
	free(g);
}

/* A new group from the current row of a STORE_GROUP_COLS query; NULL on ENOMEM. */
static struct store_group *row_to_group(sqlite3_stmt *s)
{
	struct store_group *g = calloc(1, sizeof *g);
	int bad = 0;

	if (!g)
		return NULL;
	g->id = sqlite3_column_int64(s, 0);
	g->created_at = sqlite3_column_int64(s, 1);
	bad |= store_col_str(s, 2, &g->prompt);
	bad |= store_col_str(s, 3, &g->negative_prompt);
	bad |= store_col_str(s, 4, &g->axes_json);
	g->njobs = sqlite3_column_int(s, 5);
	if (bad) {
		store_group_free(g);
		return NULL;
	}
	return g;
}

/* Fill g->nstate[] and g->nhistory from the jobs of g in the history. */
static int group_states(struct store *st, struct store_group *g, char **err)
{
	sqlite3_stmt *s = store_stmt(st, S_GROUP_STATES, err);
	int rc;

	if (!s)
		return -1;
	memset(g->nstate, 0, sizeof g->nstate);
	g->nhistory = 0;
	sqlite3_bind_int64(s, 1, g->id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int c = sqlite3_column_int(s, 1);
		g->nstate[job_state_parse((const char *)sqlite3_column_text(s, 0))] += c;
		g->nhistory += c;
	}
	store_done(s);
	if (rc != SQLITE_DONE) {
		store_db_err(st, err, rc, "store: reading group %lld", (long long)g->id);
		return -1;
	}
	return 0;
}

struct store_group *store_group_get(struct store *st, int64_t id, char **err)
{
	sqlite3_stmt *s;
	struct store_group *g = NULL;
	int rc;

	if (store_begin_read(st, err, "store: reading a group") < 0)
		return NULL;
	if (!(s = store_stmt(st, S_GET_GROUP, err)))
		goto out;
	sqlite3_bind_int64(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		if (!(g = row_to_group(s)))
			util_set_err(err, "store: out of memory");
	} else if (rc != SQLITE_DONE) {
		store_db_err(st, err, rc, "store: reading group %lld", (long long)id);
	}
	store_done(s);
	if (g && group_states(st, g, err) < 0) {
		store_group_free(g);
		g = NULL;
	}
out:
	store_rollback(st); /* ends the read transaction */
	return g;
}

int store_group_list(struct store *st, const struct store_query *q, struct store_group ***out,
                     size_t *n, char **err)
{
	struct query_sql b;
	struct store_query qq = q ? *q : (struct store_query){0};
	sqlite3_stmt *s = NULL;
	struct store_group **gs = NULL;
	size_t cnt = 0, cap = 0;
	char *sql = NULL;
	int rc;

	*out = NULL;
	*n = 0;
	qq.limit = 0;
	if (query_build(st->db, &qq, "j.group_id", 0, &b, err) < 0)
		return -1;
	if (b.empty) {
		free(b.match);
		return 0;
	}
	sql = util_asprintf(
	    "SELECT " STORE_GROUP_COLS " FROM job_groups g WHERE g.id IN (%s) ORDER BY "
	    "g.id %s%s",
	    b.sql, qq.oldest_first ? "ASC" : "DESC", q && q->limit > 0 ? " LIMIT ?" : "");
	if (!sql) {
		free(b.match);
		util_set_err(err, "store: out of memory");
		return -1;
	}
	if (store_begin_read(st, err, "store: listing groups") < 0)
		goto fail_nobegin;
	b.limit = q && q->limit > 0 ? q->limit : 0; /* the groups' LIMIT ?, last */
	if (prepare_built(st, sql, &b, &s, err) < 0)
		goto fail;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_group **ng = util_grow(gs, cnt, &cap, 16, sizeof *gs);
		if (ng)
			gs = ng;
		if (!ng || !(gs[cnt] = row_to_group(s))) {
			util_set_err(err, "store: out of memory");
			goto fail;
		}
		cnt++;
	}
	if (rc != SQLITE_DONE) {
		store_db_err(st, err, rc, "store: listing groups");
		goto fail;
	}
	sqlite3_finalize(s);
	s = NULL;
	for (size_t k = 0; k < cnt; k++)
		if (group_states(st, gs[k], err) < 0)
			goto fail;
	store_rollback(st);
	free(sql);
	free(b.match);
	*out = gs;
	*n = cnt;
	return 0;
fail:
	sqlite3_finalize(s);
	store_rollback(st);
fail_nobegin:
	free(sql);
	free(b.match);
	store_groups_free(gs, cnt);
	return -1;
}

/* ---- events, prompts ---- */

void store_events_free(struct store_event *ev, size_t n)
{
	if (!ev)
		return;
	for (size_t i = 0; i < n; i++) {
		free(ev[i].state);
		free(ev[i].detail);
	}
	free(ev);
}

int store_job_events(struct store *st, int64_t id, struct store_event **out, size_t *n, char **err)
{
	sqlite3_stmt *s = store_stmt(st, S_EVENTS, err);
	struct store_event *ev = NULL;
	size_t cnt = 0, cap = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (!s)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct store_event *g = util_grow(ev, cnt, &cap, 8, sizeof *ev);
		if (!g)
			goto nomem;
		ev = g;
		ev[cnt].at = sqlite3_column_int64(s, 0);
		ev[cnt].state = ev[cnt].detail = NULL;
		cnt++;
		if (store_col_str(s, 1, &ev[cnt - 1].state) < 0 ||
		    store_col_str(s, 2, &ev[cnt - 1].detail) < 0)
			goto nomem;
	}
	if (rc != SQLITE_DONE) {
		store_db_err(st, err, rc, "store: reading the events of a job");
		store_done(s);
		store_events_free(ev, cnt);
		return -1;
	}
	store_done(s);
	*out = ev;
	*n = cnt;
	return 0;
nomem:
	util_set_err(err, "store: out of memory");
	store_done(s);
	store_events_free(ev, cnt);
	return -1;
}

void store_strings_free(char **s, size_t n)
{
	if (!s)
		return;
	for (size_t i = 0; i < n; i++)
		free(s[i]);
	free(s);
}

/* Walks jobs newest first and stops at limit distinct prompts, so the usual
 * case reads a handful of rows rather than grouping the whole table. */
int store_recent_prompts(struct store *st, int limit, char ***out, size_t *n, char **err)
{
	sqlite3_stmt *s = store_stmt(st, S_RECENT, err);
	char **v = NULL;
	size_t cnt = 0, cap = 0;
	int rc = SQLITE_DONE;

	*out = NULL;
	*n = 0;
	if (!s)
		return -1;
	while ((limit <= 0 || cnt < (size_t)limit) && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *p = (const char *)sqlite3_column_text(s, 0);
		size_t k;
		if (!p)
			goto nomem;
		for (k = 0; k < cnt && strcmp(v[k], p) != 0; k++)
			;
		if (k < cnt)
			continue;
		char **g = util_grow(v, cnt, &cap, 16, sizeof *v);
		if (!g)
			goto nomem;
		v = g;
		if (!(v[cnt] = strdup(p)))
			goto nomem;
		cnt++;
	}
	if (limit <= 0 || cnt < (size_t)limit) {
		if (rc != SQLITE_DONE) {
			store_db_err(st, err, rc, "store: reading recent prompts");
			store_done(s);
			store_strings_free(v, cnt);
			return -1;
		}
	}
	store_done(s);
	*out = v;
	*n = cnt;
	return 0;
nomem:
	util_set_err(err, "store: out of memory");
	store_done(s);
	store_strings_free(v, cnt);
	return -1;
}
