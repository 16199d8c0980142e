/*
 * keyfp.h: the fingerprint of an API key.
 *
 * A job records which key its submitter's configuration gave for it, so that
 * it is only ever sent with that key (DESIGN.md "One driver, many viewers"),
 * but the key itself is never stored. What is stored is a fingerprint: the
 * first 64 bits of SHA-256 over a fixed label and the key, in hex. It names
 * the key (to pick a driver that holds it, and to tell the user which key a
 * job waits for) and cannot be turned back into it.
 */
#ifndef SDQ_KEYFP_H
#define SDQ_KEYFP_H

#include <stddef.h>
#include <stdint.h>

/* A fingerprint: 16 lowercase hex digits and a NUL. */
#define KEYFP_LEN 17

/* Write the fingerprint of key into out (KEYFP_LEN bytes). key may not be
 * NULL. Returns out. */
char *keyfp_of(const char *key, char out[KEYFP_LEN]);

/* 1 if s has the form of a fingerprint (16 hex digits, lowercase). */
int keyfp_ok(const char *s);

/* SHA-256 of len bytes at data into out (32 bytes). */
void keyfp_sha256(const void *data, size_t len, unsigned char out[32]);

#endif
