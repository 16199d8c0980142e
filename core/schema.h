/*
 * schema.h: the store's schema (store.c) as migration steps. Step i is the
 * SQL that takes a database from PRAGMA user_version i to i + 1; store.c runs
 * each in its own transaction. Steps are never edited once released: a change
 * is a new step at the end.
 */
#ifndef SDQ_SCHEMA_H
#define SDQ_SCHEMA_H

/* schema_migrations[0 .. schema_version - 1]: static SQL text. */
extern const char *const schema_migrations[];
/* The number of steps: the user_version of an up-to-date database. */
extern const int schema_version;

#endif
