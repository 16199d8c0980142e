/*
 * schema.c: the store's SQL schema, as the migration steps store.c applies
 * (see schema.h). Moved out of store.c: a new step is added here.
 */
#include "schema.h"

/* Migration step i brings the schema from user_version i to i + 1. */
const char *const schema_migrations[] = {
    /* 0 -> 1: the initial schema. */
    "CREATE TABLE jobs (\n"
    "	id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "	remote_id TEXT,\n"
    "	backend TEXT,\n"
    "	endpoint TEXT,\n"
    "	endpoint_url TEXT,\n"
    "	state TEXT NOT NULL,\n"
    "	status_text TEXT,\n"
    "	prompt TEXT,\n"
    "	negative_prompt TEXT,\n"
    "	width INTEGER NOT NULL DEFAULT 0,\n"
    "	height INTEGER NOT NULL DEFAULT 0,\n"
    "	steps INTEGER NOT NULL DEFAULT 0,\n"
    "	cfg REAL,\n"
    "	seed INTEGER NOT NULL DEFAULT -1,\n"
    "	sampler TEXT,\n"
    "	count INTEGER NOT NULL DEFAULT 0,\n"
    "	param_endpoint TEXT,\n"
    "	template TEXT,\n"
    "	extra_json TEXT,\n"
    "	created_at INTEGER NOT NULL DEFAULT 0,\n"
    "	submitted_at INTEGER NOT NULL DEFAULT 0,\n"
    "	started_at INTEGER NOT NULL DEFAULT 0,\n"
    "	finished_at INTEGER NOT NULL DEFAULT 0,\n"
    "	delay_ms INTEGER NOT NULL DEFAULT -1,\n"
    "	exec_ms INTEGER NOT NULL DEFAULT -1,\n"
    "	worker_id TEXT,\n"
    "	error TEXT,\n"
    "	raw_output TEXT,\n"
    "	log_tail TEXT,\n"
    "	progress REAL,\n"
    "	progress_text TEXT,\n"
    "	cancel_requested INTEGER NOT NULL DEFAULT 0,\n"
    "	retry_requested INTEGER NOT NULL DEFAULT 0\n"
    ");\n"
    "CREATE INDEX jobs_state ON jobs(state);\n"
    "CREATE INDEX jobs_remote_id ON jobs(remote_id);\n"
    "CREATE TABLE outputs (\n"
    "	id INTEGER PRIMARY KEY,\n"
    "	job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,\n"
    "	idx INTEGER NOT NULL,\n"
    "	path TEXT,\n"
    "	width INTEGER NOT NULL DEFAULT 0,\n"
    "	height INTEGER NOT NULL DEFAULT 0,\n"
    "	seed INTEGER NOT NULL DEFAULT -1,\n"
    "	format TEXT,\n"
    "	bytes INTEGER NOT NULL DEFAULT 0,\n"
    "	UNIQUE(job_id, idx)\n"
    ");\n"
    "CREATE TABLE events (\n"
    "	id INTEGER PRIMARY KEY,\n"
    "	job_id INTEGER NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,\n"
    "	at INTEGER NOT NULL,\n"
    "	state TEXT NOT NULL,\n"
    "	detail TEXT\n"
    ");\n"
    "CREATE INDEX events_job ON events(job_id);\n"
    "CREATE VIRTUAL TABLE jobs_fts USING fts5(prompt, negative_prompt, content='jobs',\n"
    "	content_rowid='id', tokenize='unicode61 remove_diacritics 2');\n"
    "CREATE TRIGGER jobs_fts_ai AFTER INSERT ON jobs BEGIN\n"
    "	INSERT INTO jobs_fts(rowid, prompt, negative_prompt)\n"
    "		VALUES (new.id, new.prompt, new.negative_prompt);\n"
    "END;\n"
    "CREATE TRIGGER jobs_fts_ad AFTER DELETE ON jobs BEGIN\n"
    "	INSERT INTO jobs_fts(jobs_fts, rowid, prompt, negative_prompt)\n"
    "		VALUES ('delete', old.id, old.prompt, old.negative_prompt);\n"
    "END;\n"
    /* Saves rewrite every column; only a changed prompt touches the index. */
    "CREATE TRIGGER jobs_fts_au AFTER UPDATE OF prompt, negative_prompt ON jobs\n"
    "WHEN old.prompt IS NOT new.prompt OR old.negative_prompt IS NOT new.negative_prompt\n"
    "BEGIN\n"
    "	INSERT INTO jobs_fts(jobs_fts, rowid, prompt, negative_prompt)\n"
    "		VALUES ('delete', old.id, old.prompt, old.negative_prompt);\n"
    "	INSERT INTO jobs_fts(rowid, prompt, negative_prompt)\n"
    "		VALUES (new.id, new.prompt, new.negative_prompt);\n"
    "END;\n",
    /* 1 -> 2: a job's destination is fixed when it is submitted: the API
     * kind, the rendered input and /run members, and the fingerprint of the
     * key to send it with (never the key). NULL in older jobs. */
    "ALTER TABLE jobs ADD COLUMN api TEXT;\n"
    "ALTER TABLE jobs ADD COLUMN input_json TEXT;\n"
    "ALTER TABLE jobs ADD COLUMN run_extra TEXT;\n"
    "ALTER TABLE jobs ADD COLUMN key_fp TEXT;\n",
    /* 2 -> 3: one submit of several jobs is a group (vary.h): the group as
     * typed (prompts with their {a|b} groups, the axes that vary), and on
     * each job its group and the values that vary for it. NULL in older
     * jobs, which belong to no group. */
    "CREATE TABLE job_groups (\n"
    "	id INTEGER PRIMARY KEY AUTOINCREMENT,\n"
    "	created_at INTEGER NOT NULL DEFAULT 0,\n"
    "	prompt TEXT,\n"
    "	negative_prompt TEXT,\n"
    "	axes TEXT,\n"
    "	njobs INTEGER NOT NULL DEFAULT 0\n"
    ");\n"
    "ALTER TABLE jobs ADD COLUMN group_id INTEGER;\n"
    "ALTER TABLE jobs ADD COLUMN variant TEXT;\n"
    "CREATE INDEX jobs_group ON jobs(group_id) WHERE group_id IS NOT NULL;\n",
};
const int schema_version = (int)(sizeof schema_migrations / sizeof schema_migrations[0]);
