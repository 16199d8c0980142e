/*
 * store_int.h: what the two halves of the store share, store.c (open,
 * migrate, close; the rows of jobs, outputs and events written and read one
 * job at a time; the driver and key locks) and store_list.c (the lists:
 * jobs by query and their count, groups, a job's events, recent prompts).
 * Internal: included by those two files only; everyone else goes through
 * store.h.
 */
#ifndef SDQ_STORE_INT_H
#define SDQ_STORE_INT_H

#include <sqlite3.h>
#include <stddef.h>

#include "job.h"
#include "keyfp.h"
#include "store.h"

/* The cached prepared statements (store_stmt); their SQL is in store.c. */
enum store_stmt_id {
	S_INSERT_JOB,
	S_STATE_OF,
	S_INSERT_EVENT,
	S_INSERT_OUTPUT,
	S_GET_JOB,
	S_GET_OUTPUTS,
	S_SET_CANCEL,
	S_SET_RETRY,
	S_CLEAR_REQ,
	S_HAS_ID,
	S_FIND_REMOTE_EXACT,
	S_FIND_REMOTE_PREFIX,
	S_DELETE,
	S_EVENTS,
	S_RECENT,
	S_DATA_VERSION,
	S_USER_VERSION,
	S_INSERT_GROUP,
	S_GET_GROUP,
	S_GROUP_STATES,
	S_BEGIN_WRITE,
	S_BEGIN_READ,
	S_COMMIT,
	S_COUNT_STMTS
};

/* Every column of jobs, in the order store_row_to_job() reads them. */
#define STORE_JOB_COLS                                                                             \
	"j.id, j.remote_id, j.backend, j.endpoint, j.endpoint_url, j.state, j.status_text, "       \
	"j.prompt, j.negative_prompt, j.width, j.height, j.steps, j.cfg, j.seed, j.sampler, "      \
	"j.count, j.param_endpoint, j.template, j.extra_json, j.created_at, j.submitted_at, "      \
	"j.started_at, j.finished_at, j.delay_ms, j.exec_ms, j.worker_id, j.error, "               \
	"j.raw_output, j.log_tail, j.progress, j.progress_text, j.cancel_requested, "              \
	"j.retry_requested, j.api, j.input_json, j.run_extra, j.key_fp, j.group_id, j.variant"

/* The columns of job_groups, in the order row_to_group() (store_list.c) reads them. */
#define STORE_GROUP_COLS "g.id, g.created_at, g.prompt, g.negative_prompt, g.axes, g.njobs"

struct store {
	sqlite3 *db;
	char *path;
	char *lock_path;
	int lock_fd;  /* >= 0 while we hold the driver lock (opened read-only) */
	int lock_wfd; /* the same file opened for writing, while we hold it */
	struct store_keylock {
		char fp[KEYFP_LEN];
		int fd, wfd; /* as lock_fd, lock_wfd */
	} * keylocks;        /* the key driver locks we hold (store_lock_key) */
	size_t nkeylocks;
	sqlite3_stmt *stmts[S_COUNT_STMTS];
	/* The UPDATEs of a saved job, by which of the costly columns they set
	 * (STORE_UPD_*: indexed, or watched by the FTS trigger), prepared on
	 * first use (store.c update_stmt). */
	sqlite3_stmt *updates[16];
	int last_rc; /* SQLite's code of the last failure store_db_err saw */
};

/* ---- errors (store.c) ---- */

/* Fill *err with "<what>: <meaning> (<sqlite message>[: <errno text>])", what
 * formatted from fmt. Call it right after the failure, before anything else
 * touches the connection. */
void store_db_err(struct store *st, char **err, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* ---- statements and transactions (store.c) ---- */

/* The cached statement id, prepared on first use; NULL (and *err) on failure.
 * Hand it back with store_done() after use. */
sqlite3_stmt *store_stmt(struct store *st, enum store_stmt_id id, char **err);
/* Reset a cached statement and clear its bindings; NULL is ignored. */
void store_done(sqlite3_stmt *s);
/* A read transaction: one consistent snapshot for several statements. */
int store_begin_read(struct store *st, char **err, const char *what);
/* End the transaction open, if any, without writing (ends a read one too). */
void store_rollback(struct store *st);
/* Run a statement that returns no rows (after binding); 0 or -1. */
int store_step_done(struct store *st, sqlite3_stmt *s, char **err, const char *what);

/* ---- rows (store.c) ---- */

/* Bind text v (NULL: SQL NULL) to parameter i; SQLite's result code. */
int store_bind_text(sqlite3_stmt *s, int i, const char *v);
/* Copy text column i into *dst (NULL for SQL NULL). 0, or -1 on ENOMEM. */
int store_col_str(sqlite3_stmt *s, int i, char **dst);
/* A new job from the current row of a STORE_JOB_COLS query, or NULL on ENOMEM. */
struct job *store_row_to_job(sqlite3_stmt *s);
/* Append the output in the current row of an outputs query (columns job_id,
 * idx, path, width, height, seed, format, bytes) to j. 0 or -1 (ENOMEM). */
int store_row_add_output(sqlite3_stmt *s, struct job *j);

#endif
