/*
 * store.c: the durable history of sdq, one SQLite database shared by every
 * sdq process (a dashboard, CLI commands, the driver).
 *
 * - WAL journal, synchronous=NORMAL: a commit is durable across a crash of the
 *   process (the WAL is in the file system once COMMIT returns); only a crash
 *   of the whole machine may lose the last few commits, never corrupt the file.
 * - busy_timeout, and every write is one BEGIN IMMEDIATE transaction (or one
 *   autocommit statement), so writers queue instead of failing with BUSY.
 * - Schema migrations are steps in schema_migrations[] (schema.c), step i
 *   taking PRAGMA user_version from i to i + 1, each in its own transaction.
 * - jobs_fts is an external-content FTS5 index over jobs.prompt and
 *   jobs.negative_prompt, kept in sync by triggers.
 * - The driver lock is an flock on "<db>.lock", holding the holder's pid.
 *
 * Prepared statements for the fixed queries are cached per store; the list
 * and count queries are built per call from a store_query (query.c).
 *
 * This file opens, migrates and closes the store, writes and reads the rows
 * of single jobs (with their outputs and events) and holds the driver and
 * key locks. The lists (jobs by query and their count, groups, a job's
 * events, recent prompts) are in store_list.c; the two share the struct,
 * the statement cache, the transaction helpers and the row readers through
 * store_int.h. The schema (schema.c) and the query builder (query.c) live
 * apart too. The next cut, if this grows again: the driver and key locks
 * (the end of this file, which touch only the lock fields of the struct)
 * into a lock module of their own.
 */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "keyfp.h"
#include "schema.h"
#include "store_int.h"
#include "util.h"

#define FIND_MIN_PREFIX 4

/* The 30 columns written by bind_job(), parameters ?1..?30. */
#define JOB_WRITE_COLS                                                                             \
	"remote_id, backend, endpoint, endpoint_url, state, status_text, prompt, "                 \
	"negative_prompt, width, height, steps, cfg, seed, sampler, count, param_endpoint, "       \
	"template, extra_json, created_at, submitted_at, started_at, finished_at, delay_ms, "      \
	"exec_ms, worker_id, error, raw_output, log_tail, progress, progress_text"

/* The columns added in schema version 2 (a job's fixed destination) and 3
 * (its group), written by bind_job() as ?33..?38. */
#define JOB_WRITE_COLS2 "api, input_json, run_extra, key_fp, group_id, variant"

static const char *const stmt_sql[S_COUNT_STMTS] = {
    [S_INSERT_JOB] = "INSERT INTO jobs(" JOB_WRITE_COLS ", cancel_requested, retry_requested, "
                     JOB_WRITE_COLS2 ") "
                     "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,"
                     "?19,?20,?21,?22,?23,?24,?25,?26,?27,?28,?29,?30,?31,?32,?33,?34,?35,?36,?37,?38)",
    [S_STATE_OF] = "SELECT state, status_text, remote_id, group_id, prompt, negative_prompt "
                   "FROM jobs WHERE id=?1",
    /* the transactions, prepared once (not parsed at every save) */
    [S_BEGIN_WRITE] = "BEGIN IMMEDIATE",
    [S_BEGIN_READ] = "BEGIN",
    [S_COMMIT] = "COMMIT",
    [S_INSERT_EVENT] = "INSERT INTO events(job_id, at, state, detail) VALUES(?1,?2,?3,?4)",
    [S_INSERT_OUTPUT] = "INSERT INTO outputs(job_id, idx, path, width, height, seed, format, "
                        "bytes) VALUES(?1,?2,?3,?4,?5,?6,?7,?8) "
                        "ON CONFLICT(job_id, idx) DO NOTHING",
    [S_GET_JOB] = "SELECT " STORE_JOB_COLS " FROM jobs j WHERE j.id=?1",
    [S_GET_OUTPUTS] = "SELECT job_id, idx, path, width, height, seed, format, bytes "
                      "FROM outputs WHERE job_id=?1 ORDER BY idx",
    [S_SET_CANCEL] = "UPDATE jobs SET cancel_requested=1 WHERE id=?1",
    [S_SET_RETRY] = "UPDATE jobs SET retry_requested=1 WHERE id=?1",
    [S_CLEAR_REQ] = "UPDATE jobs SET cancel_requested=0, retry_requested=0 WHERE id=?1",
    [S_HAS_ID] = "SELECT 1 FROM jobs WHERE id=?1",
    [S_FIND_REMOTE_EXACT] = "SELECT id FROM jobs WHERE remote_id=?1 ORDER BY id DESC LIMIT 2",
    /* ?2 is ?1 with its last byte incremented, so the index gives a range. */
    [S_FIND_REMOTE_PREFIX] = "SELECT id, remote_id FROM jobs WHERE remote_id >= ?1 AND "
                             "remote_id < ?2 AND substr(remote_id, 1, length(?1)) = ?1",
    [S_DELETE] = "DELETE FROM jobs WHERE id=?1",
    [S_EVENTS] = "SELECT at, state, detail FROM events WHERE job_id=?1 ORDER BY id",
    [S_RECENT] = "SELECT prompt FROM jobs WHERE prompt IS NOT NULL AND prompt <> '' "
                 "ORDER BY id DESC",
    [S_DATA_VERSION] = "PRAGMA data_version",
    [S_USER_VERSION] = "PRAGMA user_version",
    [S_INSERT_GROUP] = "INSERT INTO job_groups(created_at, prompt, negative_prompt, axes, njobs) "
                       "VALUES(?1,?2,?3,?4,?5)",
    [S_GET_GROUP] = "SELECT " STORE_GROUP_COLS " FROM job_groups g WHERE g.id=?1",
    [S_GROUP_STATES] = "SELECT state, count(*) FROM jobs WHERE group_id=?1 GROUP BY state",
};

/* ---- errors ---- */

/* What a failure means for the user, by SQLite's (extended) result code. */
static const char *rc_meaning(int rc)
{
	/* The errno behind an I/O error is mostly lost by the time SQLite
	 * reports it (sqlite3_system_errno reads errno late), so say what the
	 * usual causes are. ENOSPC itself is SQLITE_FULL. */
	switch (rc) {
	case SQLITE_IOERR_WRITE:
	case SQLITE_IOERR_TRUNCATE:
		return "cannot write the database: disk quota or file size limit reached, or a "
		       "disk error";
	case SQLITE_IOERR_FSYNC:
	case SQLITE_IOERR_DIR_FSYNC:
		return "cannot flush the database to disk: a disk error";
	case SQLITE_IOERR_READ:
	case SQLITE_IOERR_SHORT_READ:
		return "cannot read the database: a disk error";
	case SQLITE_IOERR_LOCK:
	case SQLITE_IOERR_RDLOCK:
	case SQLITE_IOERR_SHMLOCK:
	case SQLITE_IOERR_SHMOPEN:
	case SQLITE_IOERR_SHMSIZE:
		return "cannot lock the database; is it on a network file system?";
	default:
		break;
	}
	switch (rc & 0xff) {
	case SQLITE_FULL:
		return "disk full";
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return "the database stayed busy (another sdq process kept it locked)";
	case SQLITE_READONLY:
		return "the database is read-only";
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return "the database file is damaged or not an sdq database";
	case SQLITE_CANTOPEN:
		return "cannot open the database file";
	case SQLITE_IOERR:
		return "I/O error";
	case SQLITE_NOMEM:
		return "out of memory";
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return "permission denied";
	case SQLITE_CONSTRAINT:
		return "constraint violated";
	default:
		return NULL;
	}
}

/* Fill *err with "<what>: <meaning> (<sqlite message>[: <errno text>])", what
 * formatted from fmt. Call it right after the failure, before anything else
 * touches the connection. */
void store_db_err(struct store *st, char **err, int rc, const char *fmt, ...)
{
	const char *msg = st && st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc);
	const char *mean = rc_meaning(rc);
	int sys = st && st->db ? sqlite3_system_errno(st->db) : 0;
	int prim = rc & 0xff;
	char what[512];
	va_list ap;

	if (st)
		st->last_rc = rc;
	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	if (sys && (prim == SQLITE_IOERR || prim == SQLITE_CANTOPEN || prim == SQLITE_FULL))
		util_set_err(err, "%s: %s%s(%s: %s)", what, mean ? mean : "", mean ? " " : "", msg,
		             strerror(sys));
	else
		util_set_err(err, "%s: %s%s(%s)", what, mean ? mean : "", mean ? " " : "", msg);
}

/* ---- statements and transactions ---- */

sqlite3_stmt *store_stmt(struct store *st, enum store_stmt_id id, char **err)
{
	int rc;

	if (st->stmts[id])
		return st->stmts[id];
	rc = sqlite3_prepare_v3(st->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &st->stmts[id],
	                        NULL);
	if (rc != SQLITE_OK) {
		store_db_err(st, err, rc, "store: preparing a query");
		st->stmts[id] = NULL;
		return NULL;
	}
	return st->stmts[id];
}

void store_done(sqlite3_stmt *s)
{
	if (s) {
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
	}
}

static int exec(struct store *st, const char *sql, char **err, const char *what)
{
	int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		store_db_err(st, err, rc, "%s", what);
		return -1;
	}
	return 0;
}

/* Run cached transaction statement id; 0, or -1 with *err "<what>: ...". */
static int tx_step(struct store *st, enum store_stmt_id id, char **err, const char *what)
{
	sqlite3_stmt *s = store_stmt(st, id, err);
	int rc;

	if (!s)
		return -1;
	rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		store_db_err(st, err, rc, "%s", what);
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* A write transaction takes the write lock up front (waiting busy_timeout), so
 * it can never fail half-way with SQLITE_BUSY_SNAPSHOT. */
static int begin_write(struct store *st, char **err, const char *what)
{
	return tx_step(st, S_BEGIN_WRITE, err, what);
}

/* A read transaction: one consistent snapshot for several statements. */
int store_begin_read(struct store *st, char **err, const char *what)
{
	return tx_step(st, S_BEGIN_READ, err, what);
}

void store_rollback(struct store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

static int commit(struct store *st, char **err, const char *what)
{
	if (tx_step(st, S_COMMIT, err, what) < 0) {
		store_rollback(st);
		return -1;
	}
	return 0;
}

/* Run a statement that returns no rows (after binding); 0 or -1. */
int store_step_done(struct store *st, sqlite3_stmt *s, char **err, const char *what)
{
	int rc = sqlite3_step(s);
	if (rc != SQLITE_DONE) {
		store_db_err(st, err, rc, "%s", what);
		store_done(s);
		return -1;
	}
	store_done(s);
	return 0;
}

/* ---- open, migrate, close ---- */

/* mkdir -p of the directory part of path, new directories mode 0700. */
static int make_parent_dirs(const char *path, char **err)
{
	char *p = strdup(path), *slash;
	int rc = 0;

	if (!p) {
		util_set_err(err, "store: out of memory");
		return -1;
	}
	slash = strrchr(p, '/');
	if (slash && slash != p) {
		*slash = '\0';
		for (char *c = p + 1;; c++) {
			if (*c != '/' && *c != '\0')
				continue;
			char save = *c;
			*c = '\0';
			if (mkdir(p, 0700) < 0 && errno != EEXIST) {
				util_set_err(err, "store: cannot create directory %s: %s", p,
				             strerror(errno));
				rc = -1;
				break;
			}
			*c = save;
			if (!save)
				break;
		}
	}
	free(p);
	return rc;
}

static int user_version(struct store *st, int *v, char **err)
{
	sqlite3_stmt *s = store_stmt(st, S_USER_VERSION, err);
	int rc;

	if (!s)
		return -1;
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW) {
		store_db_err(st, err, rc, "store: reading the schema version");
		store_done(s);
		return -1;
	}
	*v = sqlite3_column_int(s, 0);
	store_done(s);
	return 0;
}

/* Apply the missing migration steps, each in one transaction. Another process
 * may migrate at the same time: the version is read again under the lock. */
static int migrate(struct store *st, char **err)
{
	for (;;) {
		int v;
		char sql[64];

		if (user_version(st, &v, err) < 0)
			return -1;
		if (v < 0) {
			util_set_err(err, "store: %s has schema version %d, which sdq never wrote",
			             st->path, v);
			return -1;
		}
		if (v > schema_version) {
			util_set_err(
			    err,
			    "store: %s has schema version %d, newer than this sdq knows (%d); "
			    "use a newer sdq",
			    st->path, v, schema_version);
			return -1;
		}
		if (v == schema_version)
			return 0;
		if (begin_write(st, err, "store: starting a schema migration") < 0)
			return -1;
		if (user_version(st, &v, err) < 0) {
			store_rollback(st);
			return -1;
		}
		if (v >= 0 && v < schema_version) {
			char what[80];
			snprintf(what, sizeof what, "store: migrating the schema to version %d",
			         v + 1);
			snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
			if (exec(st, schema_migrations[v], err, what) < 0 ||
			    exec(st, sql, err, what) < 0) {
				store_rollback(st);
				return -1;
			}
		}
		if (commit(st, err, "store: committing a schema migration") < 0)
			return -1;
	}
}

/* journal_mode=WAL needs a moment of exclusive access; with several processes
 * opening a new database at once it can report busy, so it is retried. */
static int set_wal(struct store *st, char **err)
{
	for (int tries = 0;; tries++) {
		sqlite3_stmt *s = NULL;
		int rc = sqlite3_prepare_v2(st->db, "PRAGMA journal_mode=WAL", -1, &s, NULL);
		if (rc == SQLITE_OK) {
			rc = sqlite3_step(s);
			if (rc == SQLITE_ROW) {
				const char *mode = (const char *)sqlite3_column_text(s, 0);
				int ok = mode && strcmp(mode, "wal") == 0;
				sqlite3_finalize(s);
				if (ok)
					return 0;
				util_set_err(err,
				             "store: %s: cannot switch to WAL mode (mode is %s)",
				             st->path, mode ? mode : "?");
				return -1;
			}
		}
		if ((rc & 0xff) == SQLITE_BUSY && tries < 50) {
			sqlite3_finalize(s);
			struct timespec ts = {0, 100 * 1000 * 1000};
			nanosleep(&ts, NULL);
			continue;
		}
		store_db_err(st, err, rc, "store: cannot open %s", st->path);
		sqlite3_finalize(s);
		return -1;
	}
}

struct store *store_open(const char *path, char **err)
{
	struct store *st;
	int rc;
	char what[64];

	if (!path || !*path) {
		util_set_err(err, "store: no database path");
		return NULL;
	}
	if (make_parent_dirs(path, err) < 0)
		return NULL;
	if (!(st = calloc(1, sizeof *st))) {
		util_set_err(err, "store: out of memory");
		return NULL;
	}
	st->lock_fd = -1;
	st->lock_wfd = -1;
	st->path = strdup(path);
	st->lock_path = malloc(strlen(path) + 6);
	if (!st->path || !st->lock_path) {
		util_set_err(err, "store: out of memory");
		store_close(st);
		return NULL;
	}
	sprintf(st->lock_path, "%s.lock", path);

	/* Prompts are private: create the file 0600 (SQLite gives the -wal and
	 * -shm files the same mode); an existing file keeps its mode. */
	{
		int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd >= 0)
			close(fd);
	}
	rc = sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (rc != SQLITE_OK) {
		store_db_err(st, err, rc, "store: cannot open %s", path);
		store_close(st);
		return NULL;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, STORE_BUSY_DEFAULT_MS);
	snprintf(what, sizeof what, "store: setting up the database");
	if (set_wal(st, err) < 0 || exec(st, "PRAGMA synchronous=NORMAL", err, what) < 0 ||
	    exec(st, "PRAGMA foreign_keys=ON", err, what) < 0 || migrate(st, err) < 0) {
		store_close(st);
		return NULL;
	}
	return st;
}

void store_close(struct store *st)
{
	if (!st)
		return;
	store_unlock_driver(st);
	while (st->nkeylocks)
		store_unlock_key(st, st->keylocks[0].fp);
	free(st->keylocks);
	for (int i = 0; i < S_COUNT_STMTS; i++)
		sqlite3_finalize(st->stmts[i]);
	for (size_t i = 0; i < sizeof st->updates / sizeof *st->updates; i++)
		sqlite3_finalize(st->updates[i]);
	sqlite3_close(st->db);
	free(st->path);
	free(st->lock_path);
	free(st);
}

void store_set_busy_wait(struct store *st, int ms)
{
	sqlite3_busy_timeout(st->db, ms > 0 ? ms : 0);
}

int store_was_busy(const struct store *st)
{
	int p = st->last_rc & 0xff;
	return p == SQLITE_BUSY || p == SQLITE_LOCKED;
}

const char *store_path(const struct store *st)
{
	return st->path;
}

/* ---- rows <-> jobs ---- */

int store_bind_text(sqlite3_stmt *s, int i, const char *v)
{
	return sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
}

/* Bind the written columns of j to ?1..?30 (JOB_WRITE_COLS) and ?33..?38
 * (JOB_WRITE_COLS2); ?31 and ?32 are the caller's. */
static int bind_job(sqlite3_stmt *s, const struct job *j)
{
	const struct job_params *p = &j->params;
	int rc = 0;

	rc |= store_bind_text(s, 1, j->remote_id);
	rc |= store_bind_text(s, 2, j->backend);
	rc |= store_bind_text(s, 3, j->endpoint);
	rc |= store_bind_text(s, 4, j->endpoint_url);
	rc |= store_bind_text(s, 5, job_state_name(j->state));
	rc |= store_bind_text(s, 6, j->status_text);
	rc |= store_bind_text(s, 7, p->prompt);
	rc |= store_bind_text(s, 8, p->negative_prompt);
	rc |= sqlite3_bind_int(s, 9, p->width);
	rc |= sqlite3_bind_int(s, 10, p->height);
	rc |= sqlite3_bind_int(s, 11, p->steps);
	if (p->has_cfg)
		rc |= sqlite3_bind_double(s, 12, p->cfg);
	else
		rc |= sqlite3_bind_null(s, 12);
	rc |= sqlite3_bind_int64(s, 13, p->seed);
	rc |= store_bind_text(s, 14, p->sampler);
	rc |= sqlite3_bind_int(s, 15, p->count);
	rc |= store_bind_text(s, 16, p->endpoint);
	rc |= store_bind_text(s, 17, p->template_name);
	rc |= store_bind_text(s, 18, p->extra_json);
	rc |= sqlite3_bind_int64(s, 19, j->created_at);
	rc |= sqlite3_bind_int64(s, 20, j->submitted_at);
	rc |= sqlite3_bind_int64(s, 21, j->started_at);
	rc |= sqlite3_bind_int64(s, 22, j->finished_at);
	rc |= sqlite3_bind_int64(s, 23, j->delay_ms);
	rc |= sqlite3_bind_int64(s, 24, j->exec_ms);
	rc |= store_bind_text(s, 25, j->worker_id);
	rc |= store_bind_text(s, 26, j->error);
	rc |= store_bind_text(s, 27, j->raw_output);
	rc |= store_bind_text(s, 28, j->log_tail);
	rc |= sqlite3_bind_double(s, 29, isnan(j->progress) ? -1.0 : j->progress);
	rc |= store_bind_text(s, 30, j->progress_text);
	rc |= store_bind_text(s, 33, j->api);
	rc |= store_bind_text(s, 34, j->input_json);
	rc |= store_bind_text(s, 35, j->run_extra);
	rc |= store_bind_text(s, 36, j->key_fp);
	if (j->group_id > 0)
		rc |= sqlite3_bind_int64(s, 37, j->group_id);
	else
		rc |= sqlite3_bind_null(s, 37);
	rc |= store_bind_text(s, 38, j->variant);
	return rc;
}

/* Copy text column i into *dst (NULL for SQL NULL). 0, or -1 on ENOMEM. */
int store_col_str(sqlite3_stmt *s, int i, char **dst)
{
	const unsigned char *t;
	int len;
	char *c;

	free(*dst);
	*dst = NULL;
	if (sqlite3_column_type(s, i) == SQLITE_NULL)
		return 0;
	t = sqlite3_column_text(s, i);
	if (!t)
		return -1;
	len = sqlite3_column_bytes(s, i);
	if (!(c = malloc((size_t)len + 1)))
		return -1;
	memcpy(c, t, (size_t)len);
	c[len] = '\0';
	*dst = c;
	return 0;
}

/* A new job from the current row of a STORE_JOB_COLS query, or NULL on ENOMEM. */
struct job *store_row_to_job(sqlite3_stmt *s)
{
	struct job *j = job_new();
	struct job_params *p;
	char *state = NULL;
	int bad = 0;

	if (!j)
		return NULL;
	p = &j->params;
	j->id = sqlite3_column_int64(s, 0);
	bad |= store_col_str(s, 1, &j->remote_id);
	bad |= store_col_str(s, 2, &j->backend);
	bad |= store_col_str(s, 3, &j->endpoint);
	bad |= store_col_str(s, 4, &j->endpoint_url);
	bad |= store_col_str(s, 5, &state);
	j->state = job_state_parse(state);
	free(state);
	bad |= store_col_str(s, 6, &j->status_text);
	bad |= store_col_str(s, 7, &p->prompt);
	bad |= store_col_str(s, 8, &p->negative_prompt);
	p->width = sqlite3_column_int(s, 9);
	p->height = sqlite3_column_int(s, 10);
	p->steps = sqlite3_column_int(s, 11);
	p->has_cfg = sqlite3_column_type(s, 12) != SQLITE_NULL;
	p->cfg = p->has_cfg ? sqlite3_column_double(s, 12) : 0.0;
	p->seed = sqlite3_column_int64(s, 13);
	bad |= store_col_str(s, 14, &p->sampler);
	p->count = sqlite3_column_int(s, 15);
	bad |= store_col_str(s, 16, &p->endpoint);
	bad |= store_col_str(s, 17, &p->template_name);
	bad |= store_col_str(s, 18, &p->extra_json);
	j->created_at = sqlite3_column_int64(s, 19);
	j->submitted_at = sqlite3_column_int64(s, 20);
	j->started_at = sqlite3_column_int64(s, 21);
	j->finished_at = sqlite3_column_int64(s, 22);
	j->delay_ms = sqlite3_column_int64(s, 23);
	j->exec_ms = sqlite3_column_int64(s, 24);
	bad |= store_col_str(s, 25, &j->worker_id);
	bad |= store_col_str(s, 26, &j->error);
	bad |= store_col_str(s, 27, &j->raw_output);
	bad |= store_col_str(s, 28, &j->log_tail);
	j->progress =
	    sqlite3_column_type(s, 29) == SQLITE_NULL ? -1.0 : sqlite3_column_double(s, 29);
	bad |= store_col_str(s, 30, &j->progress_text);
	j->cancel_requested = sqlite3_column_int(s, 31);
	j->retry_requested = sqlite3_column_int(s, 32);
	bad |= store_col_str(s, 33, &j->api);
	bad |= store_col_str(s, 34, &j->input_json);
	bad |= store_col_str(s, 35, &j->run_extra);
	bad |= store_col_str(s, 36, &j->key_fp);
	j->group_id = sqlite3_column_int64(s, 37); /* NULL reads 0 */
	bad |= store_col_str(s, 38, &j->variant);
	if (bad) {
		job_free(j);
		return NULL;
	}
	return j;
}

/* Append the output in the current row of an outputs query (columns job_id,
 * idx, path, width, height, seed, format, bytes) to j. 0 or -1 (ENOMEM). */
int store_row_add_output(sqlite3_stmt *s, struct job *j)
{
	struct job_output o;

	o.index = sqlite3_column_int(s, 1);
	o.path = (char *)sqlite3_column_text(s, 2);
	o.width = sqlite3_column_int(s, 3);
	o.height = sqlite3_column_int(s, 4);
	o.seed = sqlite3_column_int64(s, 5);
	o.format = (char *)sqlite3_column_text(s, 6);
	o.bytes = sqlite3_column_int64(s, 7);
	return job_add_output(j, &o);
}

/* Insert the outputs of j whose index is not stored yet (inside a write
 * transaction). */
static int insert_outputs(struct store *st, const struct job *j, char **err)
{
	sqlite3_stmt *s;

	if (!j->n_outputs)
		return 0;
	if (!(s = store_stmt(st, S_INSERT_OUTPUT, err)))
		return -1;
	for (size_t i = 0; i < j->n_outputs; i++) {
		const struct job_output *o = &j->outputs[i];
		sqlite3_bind_int64(s, 1, j->id);
		sqlite3_bind_int(s, 2, o->index);
		store_bind_text(s, 3, o->path);
		sqlite3_bind_int(s, 4, o->width);
		sqlite3_bind_int(s, 5, o->height);
		sqlite3_bind_int64(s, 6, o->seed);
		store_bind_text(s, 7, o->format);
		sqlite3_bind_int64(s, 8, o->bytes);
		if (store_step_done(st, s, err, "store: saving an output") < 0)
			return -1;
	}
	return 0;
}

static int insert_event(struct store *st, int64_t id, enum job_state state, const char *detail,
                        char **err)
{
	sqlite3_stmt *s = store_stmt(st, S_INSERT_EVENT, err);

	if (!s)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	sqlite3_bind_int64(s, 2, job_now_ms());
	store_bind_text(s, 3, job_state_name(state));
	store_bind_text(s, 4, detail);
	return store_step_done(st, s, err, "store: recording a state change");
}

/* The detail recorded with a state change: what the user would ask "why?". */
static const char *event_detail(const struct job *j)
{
	if (j->state == JOB_OTHER)
		return j->status_text;
	if (j->state == JOB_FAILED || j->state == JOB_SUBMIT_FAILED || j->state == JOB_TIMED_OUT ||
	    j->state == JOB_EXPIRED || j->state == JOB_UNKNOWN)
		return j->error;
	return NULL;
}

/* ---- jobs ---- */

int store_job_add(struct store *st, struct job *j, char **err)
{
	sqlite3_stmt *s;
	int64_t created = j->created_at ? j->created_at : job_now_ms();
	int64_t saved_created = j->created_at;

	if (begin_write(st, err, "store: adding a job") < 0)
		return -1;
	if (!(s = store_stmt(st, S_INSERT_JOB, err)))
		goto fail;
	j->created_at = created;
	if (bind_job(s, j) != SQLITE_OK) {
		store_db_err(st, err, sqlite3_errcode(st->db), "store: adding a job");
		store_done(s);
		goto fail;
	}
	sqlite3_bind_int(s, 31, j->cancel_requested ? 1 : 0);
	sqlite3_bind_int(s, 32, j->retry_requested ? 1 : 0);
	if (store_step_done(st, s, err, "store: adding a job") < 0)
		goto fail;
	j->id = sqlite3_last_insert_rowid(st->db);
	if (insert_event(st, j->id, j->state, "created", err) < 0 || insert_outputs(st, j, err) < 0)
		goto fail;
	if (commit(st, err, "store: adding a job") < 0)
		goto fail_undo;
	return 0;
fail:
	store_rollback(st);
fail_undo:
	j->id = 0;
	j->created_at = saved_created;
	return -1;
}

/* The costly columns of a job's UPDATE: SQLite rewrites the entries of
 * every index whose column is in SET, equal or not, and runs the FTS
 * trigger when a prompt column is; a save sets only those that changed. */
enum {
	STORE_UPD_STATE = 1,    /* state (index jobs_state) */
	STORE_UPD_REMOTE = 2,   /* remote_id (index jobs_remote_id) */
	STORE_UPD_GROUP = 4,    /* group_id (index jobs_group) */
	STORE_UPD_PROMPTS = 8,  /* prompt, negative_prompt (the FTS trigger) */
};

/* The UPDATE of every written column but the costly ones not in mask
 * (parameters as bind_job's, ?31 the id), prepared on first use. */
static sqlite3_stmt *update_stmt(struct store *st, unsigned mask, char **err)
{
	char sql[1024];
	int rc;

	if (st->updates[mask])
		return st->updates[mask];
	snprintf(sql, sizeof sql,
	         "UPDATE jobs SET backend=?2, endpoint=?3, endpoint_url=?4, status_text=?6, "
	         "width=?9, height=?10, steps=?11, cfg=?12, seed=?13, sampler=?14, count=?15, "
	         "param_endpoint=?16, template=?17, extra_json=?18, created_at=?19, "
	         "submitted_at=?20, started_at=?21, finished_at=?22, delay_ms=?23, exec_ms=?24, "
	         "worker_id=?25, error=?26, raw_output=?27, log_tail=?28, progress=?29, "
	         "progress_text=?30, api=?33, input_json=?34, run_extra=?35, key_fp=?36, "
	         "variant=?38%s%s%s%s WHERE id=?31",
	         mask & STORE_UPD_STATE ? ", state=?5" : "",
	         mask & STORE_UPD_REMOTE ? ", remote_id=?1" : "",
	         mask & STORE_UPD_GROUP ? ", group_id=?37" : "",
	         mask & STORE_UPD_PROMPTS ? ", prompt=?7, negative_prompt=?8" : "");
	rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st->updates[mask],
	                        NULL);
	if (rc != SQLITE_OK) {
		store_db_err(st, err, rc, "store: preparing a query");
		st->updates[mask] = NULL;
	}
	return st->updates[mask];
}

/* 1 if text column i of s is NULL and v is, or both hold the same text. */
static int col_text_is(sqlite3_stmt *s, int i, const char *v)
{
	const char *t = (const char *)sqlite3_column_text(s, i);
	return (t == NULL) == (v == NULL) && (!t || strcmp(t, v) == 0);
}

/* Write job j inside the open write transaction: its row, an event if its
 * state changed, its new outputs. 0 or -1 (the caller rolls back). The row
 * as stored says whether the state changed and which costly columns the
 * UPDATE must set (update_stmt). */
static int save_one(struct store *st, const struct job *j, char **err)
{
	sqlite3_stmt *s;
	char what[64];
	enum job_state old;
	unsigned mask;
	int rc, changed;

	snprintf(what, sizeof what, "store: saving job %lld", (long long)j->id);
	if (j->id <= 0) {
		util_set_err(err, "store: saving a job that was never added");
		return -1;
	}
	if (!(s = store_stmt(st, S_STATE_OF, err)))
		return -1;
	sqlite3_bind_int64(s, 1, j->id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		store_done(s);
		util_set_err(err, "store: no job %lld", (long long)j->id);
		return -1;
	}
	if (rc != SQLITE_ROW) {
		store_db_err(st, err, rc, "%s", what);
		store_done(s);
		return -1;
	}
	old = job_state_parse((const char *)sqlite3_column_text(s, 0));
	/* A status sdq does not know is recorded verbatim, so a new one of
	 * those (WARMING_UP -> THROTTLED) is a change too. */
	changed = old != j->state || (old == JOB_OTHER && !col_text_is(s, 1, j->status_text));
	mask = 0;
	if (!col_text_is(s, 0, job_state_name(j->state)))
		mask |= STORE_UPD_STATE;
	if (!col_text_is(s, 2, j->remote_id))
		mask |= STORE_UPD_REMOTE;
	if ((sqlite3_column_type(s, 3) == SQLITE_NULL) != (j->group_id <= 0) ||
	    (j->group_id > 0 && sqlite3_column_int64(s, 3) != j->group_id))
		mask |= STORE_UPD_GROUP;
	if (!col_text_is(s, 4, j->params.prompt) || !col_text_is(s, 5, j->params.negative_prompt))
		mask |= STORE_UPD_PROMPTS;
	store_done(s);

	if (!(s = update_stmt(st, mask, err)))
		return -1;
	if (bind_job(s, j) != SQLITE_OK) {
		store_db_err(st, err, sqlite3_errcode(st->db), "%s", what);
		store_done(s);
		return -1;
	}
	sqlite3_bind_int64(s, 31, j->id);
	if (store_step_done(st, s, err, what) < 0)
		return -1;
	if (changed && insert_event(st, j->id, j->state, event_detail(j), err) < 0)
		return -1;
	return insert_outputs(st, j, err);
}

int store_job_save(struct store *st, const struct job *j, char **err)
{
	return store_jobs_save(st, &j, 1, err);
}

int store_jobs_save(struct store *st, const struct job *const *jobs, size_t n, char **err)
{
	char what[64];

	if (!n)
		return 0;
	if (n == 1)
		snprintf(what, sizeof what, "store: saving job %lld", (long long)jobs[0]->id);
	else
		snprintf(what, sizeof what, "store: saving %zu jobs", n);
	for (size_t i = 0; i < n; i++) {
		if (jobs[i]->id <= 0) {
			util_set_err(err, "store: saving a job that was never added");
			return -1;
		}
	}
	st->last_rc = 0;
	if (begin_write(st, err, what) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (save_one(st, jobs[i], err) < 0) {
			store_rollback(st);
			return -1;
		}
	}
	return commit(st, err, what);
}

/* Run one of the single-row flag updates; -1 with a message when no such job. */
static int set_flags(struct store *st, enum store_stmt_id which, int64_t id, const char *what,
                     char **err)
{
	sqlite3_stmt *s = store_stmt(st, which, err);
	char buf[64];

	if (!s)
		return -1;
	snprintf(buf, sizeof buf, "store: %s of job %lld", what, (long long)id);
	sqlite3_bind_int64(s, 1, id);
	if (store_step_done(st, s, err, buf) < 0)
		return -1;
	if (sqlite3_changes(st->db) == 0) {
		util_set_err(err, "store: no job %lld", (long long)id);
		return -1;
	}
	return 0;
}

int store_job_request_cancel(struct store *st, int64_t id, char **err)
{
	return set_flags(st, S_SET_CANCEL, id, "requesting cancellation", err);
}

int store_job_request_retry(struct store *st, int64_t id, char **err)
{
	return set_flags(st, S_SET_RETRY, id, "requesting a retry", err);
}

int store_job_clear_requests(struct store *st, int64_t id, char **err)
{
	return set_flags(st, S_CLEAR_REQ, id, "clearing the requests", err);
}

/* Load job id and its outputs (inside a read transaction). *out NULL if absent. */
static int load_job(struct store *st, int64_t id, struct job **out, char **err)
{
	sqlite3_stmt *s = store_stmt(st, S_GET_JOB, err);
	struct job *j;
	int rc;

	*out = NULL;
	if (!s)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		store_done(s);
		return 0;
	}
	if (rc != SQLITE_ROW) {
		store_db_err(st, err, rc, "store: reading a job");
		store_done(s);
		return -1;
	}
	j = store_row_to_job(s);
	store_done(s);
	if (!j) {
		util_set_err(err, "store: out of memory");
		return -1;
	}
	if (!(s = store_stmt(st, S_GET_OUTPUTS, err))) {
		job_free(j);
		return -1;
	}
	sqlite3_bind_int64(s, 1, id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (store_row_add_output(s, j) < 0) {
			rc = SQLITE_NOMEM;
			break;
		}
	}
	if (rc != SQLITE_DONE) {
		if (rc == SQLITE_NOMEM)
			util_set_err(err, "store: out of memory");
		else
			store_db_err(st, err, rc, "store: reading the outputs of a job");
		store_done(s);
		job_free(j);
		return -1;
	}
	store_done(s);
	*out = j;
	return 0;
}

struct job *store_job_get(struct store *st, int64_t id, char **err)
{
	struct job *j = NULL;

	if (err)
		*err = NULL;
	if (store_begin_read(st, err, "store: reading a job") < 0)
		return NULL;
	if (load_job(st, id, &j, err) < 0) {
		store_rollback(st);
		return NULL;
	}
	store_rollback(st); /* ends the read transaction; nothing was written */
	return j;
}

/* 1 if s is a decimal number that fits int64_t > 0 (stored in *v). */
static int parse_id(const char *s, int64_t *v)
{
	char *end;
	long long n;

	if (!*s || strspn(s, "0123456789") != strlen(s))
		return 0;
	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno || *end || n <= 0)
		return 0;
	*v = n;
	return 1;
}

int64_t store_job_find(struct store *st, const char *ref, char **err)
{
	sqlite3_stmt *s;
	int64_t id = 0, found = 0;
	size_t len, matches = 0;
	char *upper = NULL;
	int rc;

	if (err)
		*err = NULL;
	if (!ref || !*ref) {
		util_set_err(err, "no job given (give a local id or a remote id)");
		return 0;
	}
	/* A local id first: "42". */
	if (parse_id(ref, &id)) {
		if (!(s = store_stmt(st, S_HAS_ID, err)))
			return 0;
		sqlite3_bind_int64(s, 1, id);
		rc = sqlite3_step(s);
		store_done(s);
		if (rc == SQLITE_ROW)
			return id;
		if (rc != SQLITE_DONE) {
			store_db_err(st, err, rc, "store: finding a job");
			return 0;
		}
	}
	/* Then an exact remote id. */
	if (!(s = store_stmt(st, S_FIND_REMOTE_EXACT, err)))
		return 0;
	store_bind_text(s, 1, ref);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (!matches++)
			found = sqlite3_column_int64(s, 0);
	}
	store_done(s);
	if (rc != SQLITE_DONE) {
		store_db_err(st, err, rc, "store: finding a job");
		return 0;
	}
	/* The same remote id twice (two endpoints) can only mean the newest. */
	if (matches)
		return found;

	/* Then a unique prefix of one. */
	len = strlen(ref);
	if (len < FIND_MIN_PREFIX) {
		util_set_err(err,
		             "no job %s (give a local id, a remote id or at least %d of its "
		             "first characters)",
		             ref, FIND_MIN_PREFIX);
		return 0;
	}
	if (!(upper = strdup(ref))) {
		util_set_err(err, "store: out of memory");
		return 0;
	}
	/* The smallest string greater than every string starting with ref. */
	while (len > 0 && (unsigned char)upper[len - 1] == 0xff)
		upper[--len] = '\0';
	if (len == 0) {
		free(upper);
		util_set_err(err, "no job %s", ref);
		return 0;
	}
	upper[len - 1] = (char)((unsigned char)upper[len - 1] + 1);
	if (!(s = store_stmt(st, S_FIND_REMOTE_PREFIX, err))) {
		free(upper);
		return 0;
	}
	store_bind_text(s, 1, ref);
	store_bind_text(s, 2, upper);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (!matches++)
			found = sqlite3_column_int64(s, 0);
	}
	store_done(s);
	free(upper);
	if (rc != SQLITE_DONE) {
		store_db_err(st, err, rc, "store: finding a job");
		return 0;
	}
	if (matches == 1)
		return found;
	if (matches == 0)
		util_set_err(err, "no job %s", ref);
	else
		util_set_err(err, "%s is ambiguous: %zu jobs have a remote id starting with it",
		             ref, matches);
	return 0;
}

int store_job_delete(struct store *st, int64_t id, char **err)
{
	return set_flags(st, S_DELETE, id, "deleting", err);
}

/* ---- change detection ---- */

int64_t store_data_version(struct store *st)
{
	sqlite3_stmt *s = store_stmt(st, S_DATA_VERSION, NULL);
	int64_t v = -1;

	if (!s)
		return -1;
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	store_done(s);
	return v;
}

/* ---- the driver lock ---- */

/* Take the exclusive flock on path into *fd_out (see store_lock_driver).
 * The flock is taken on a read-only fd: a failed try then closes without
 * writing, and only a holder's own close (release, exit or crash) of its
 * write fd *wfd_out is a close-after-write, which other processes' dbwatch
 * takes as "try the lock now" (no ping-pong between processes trying). */
static int lock_path_take(const char *path, int *fd_out, int *wfd_out, char **err)
{
	char buf[32];
	int fd, wfd, n;

	fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		util_set_err(err, "store: cannot open the lock file %s: %s", path, strerror(errno));
		return -1;
	}
	/* store_driver_pid() in another process takes a shared lock for an
	 * instant to probe; a few quick retries keep that from looking like a
	 * driver. */
	for (int tries = 0;; tries++) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK || tries >= 3) {
			int e = errno;
			close(fd);
			if (e == EWOULDBLOCK)
				return 0;
			util_set_err(err, "store: cannot lock %s: %s", path, strerror(e));
			return -1;
		}
		struct timespec ts = {0, 2 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	/* Fixed width, so a reader never sees a half-written number. */
	n = snprintf(buf, sizeof buf, "%-20ld\n", (long)getpid());
	wfd = open(path, O_WRONLY | O_CLOEXEC);
	if (wfd < 0 || pwrite(wfd, buf, (size_t)n, 0) != n) {
		int e = errno;
		if (wfd >= 0)
			close(wfd);
		flock(fd, LOCK_UN);
		close(fd);
		util_set_err(err, "store: cannot write %s: %s", path, strerror(e));
		return -1;
	}
	*fd_out = fd;
	*wfd_out = wfd;
	return 1;
}

static void lock_fd_release(int *fd, int *wfd)
{
	if (*fd < 0)
		return;
	/* Leave no stale pid behind; the file itself stays (unlinking a lock
	 * file races with the next locker). The write fd is closed last: its
	 * close is what wakes the others, and the lock is free by then. */
	if (*wfd >= 0 && ftruncate(*wfd, 0) < 0) {
		/* the flock below is what matters */
	}
	flock(*fd, LOCK_UN);
	close(*fd);
	*fd = -1;
	if (*wfd >= 0)
		close(*wfd);
	*wfd = -1;
}

/* The pid in lock file path if another process holds it, else 0. */
static long lock_path_pid(const char *path)
{
	char buf[32];
	ssize_t n;
	long pid;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	/* If a shared lock can be had, nobody holds the exclusive one. */
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		flock(fd, LOCK_UN);
		close(fd);
		return 0;
	}
	n = pread(fd, buf, sizeof buf - 1, 0);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	pid = strtol(buf, NULL, 10);
	return pid > 0 ? pid : 0;
}

int store_lock_driver(struct store *st, char **err)
{
	if (st->lock_fd >= 0)
		return 1;
	return lock_path_take(st->lock_path, &st->lock_fd, &st->lock_wfd, err);
}

void store_unlock_driver(struct store *st)
{
	if (!st)
		return;
	lock_fd_release(&st->lock_fd, &st->lock_wfd);
}

long store_driver_pid(struct store *st)
{
	if (st->lock_fd >= 0)
		return (long)getpid();
	return lock_path_pid(st->lock_path);
}

/* "<db path>.lock-<fp>" into buf; -1 if fp is not a fingerprint. */
static int key_lock_path(const struct store *st, const char *fp, char *buf, size_t len)
{
	if (!keyfp_ok(fp))
		return -1;
	return snprintf(buf, len, "%s-%s", st->lock_path, fp) < (int)len ? 0 : -1;
}

static struct store_keylock *keylock_find(struct store *st, const char *fp)
{
	for (size_t i = 0; i < st->nkeylocks; i++)
		if (strcmp(st->keylocks[i].fp, fp) == 0)
			return &st->keylocks[i];
	return NULL;
}

int store_lock_key(struct store *st, const char *fp, char **err)
{
	char path[4200];
	struct store_keylock *kl;
	int fd = -1, wfd = -1, r;

	if (key_lock_path(st, fp, path, sizeof path) < 0) {
		util_set_err(err, "store: not a key fingerprint");
		return -1;
	}
	if (keylock_find(st, fp))
		return 1;
	kl = realloc(st->keylocks, (st->nkeylocks + 1) * sizeof *kl);
	if (!kl) {
		util_set_err(err, "out of memory");
		return -1;
	}
	st->keylocks = kl;
	r = lock_path_take(path, &fd, &wfd, err);
	if (r == 1) {
		kl = &st->keylocks[st->nkeylocks++];
		memcpy(kl->fp, fp, sizeof kl->fp);
		kl->fd = fd;
		kl->wfd = wfd;
	}
	return r;
}

void store_unlock_key(struct store *st, const char *fp)
{
	struct store_keylock *kl;

	if (!st || !fp || !(kl = keylock_find(st, fp)))
		return;
	lock_fd_release(&kl->fd, &kl->wfd);
	*kl = st->keylocks[--st->nkeylocks];
}

long store_key_driver_pid(struct store *st, const char *fp)
{
	char path[4200];

	if (key_lock_path(st, fp, path, sizeof path) < 0)
		return 0;
	if (keylock_find(st, fp))
		return (long)getpid();
	return lock_path_pid(path);
}

int store_job_waits_for_key(struct store *st, const struct job *j)
{
	return j && j->key_fp && job_state_is_live(j->state) &&
	       store_key_driver_pid(st, j->key_fp) == 0;
}

/* ---------- many jobs in one transaction (tuifix: a group's re-run and
 * cancel from the dashboard; store_job_add and set_flags, n at a time) ---------- */

int store_jobs_add(struct store *st, struct job *const *jobs, size_t n, char **err)
{
	size_t i = 0;

	if (!n)
		return 0;
	if (begin_write(st, err, "store: adding jobs") < 0)
		return -1;
	for (; i < n; i++) {
		struct job *j = jobs[i];
		sqlite3_stmt *s = store_stmt(st, S_INSERT_JOB, err);
		if (!s)
			goto fail;
		if (!j->created_at)
			j->created_at = job_now_ms();
		if (bind_job(s, j) != SQLITE_OK) {
			store_db_err(st, err, sqlite3_errcode(st->db), "store: adding jobs");
			store_done(s);
			goto fail;
		}
		sqlite3_bind_int(s, 31, j->cancel_requested ? 1 : 0);
		sqlite3_bind_int(s, 32, j->retry_requested ? 1 : 0);
		if (store_step_done(st, s, err, "store: adding jobs") < 0)
			goto fail;
		j->id = sqlite3_last_insert_rowid(st->db);
		if (insert_event(st, j->id, j->state, "created", err) < 0 ||
		    insert_outputs(st, j, err) < 0)
			goto fail;
	}
	if (commit(st, err, "store: adding jobs") == 0)
		return 0;
	i = n;
	goto undo;
fail:
	store_rollback(st);
	i++;
undo:
	while (i-- > 0)
		jobs[i]->id = 0;
	return -1;
}

int store_jobs_request_cancel(struct store *st, const int64_t *ids, size_t n, size_t *done,
                              char **err)
{
	*done = 0;
	if (!n)
		return 0;
	if (begin_write(st, err, "store: requesting cancellation") < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		sqlite3_stmt *s = store_stmt(st, S_SET_CANCEL, err);
		if (!s) {
			store_rollback(st);
			*done = 0;
			return -1;
		}
		sqlite3_bind_int64(s, 1, ids[i]);
		if (store_step_done(st, s, err, "store: requesting cancellation") < 0) {
			store_rollback(st);
			*done = 0;
			return -1;
		}
		*done += (size_t)sqlite3_changes(st->db);
	}
	if (commit(st, err, "store: requesting cancellation") < 0) {
		*done = 0;
		return -1;
	}
	return 0;
}
