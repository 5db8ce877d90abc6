/*
 * The operator's per-space view: GET /admin/spaces, a bounded top-N of the
 * spaces open in memory, for what /metrics must not carry (a label per
 * space would grow without bound: anyone can make spaces).
 *
 * Off unless --admin-token is set; then the request needs
 * `Authorization: Bearer <that token>` (compared in constant time).
 */
#ifndef WEFT_RELAY_ADMIN_H
#define WEFT_RELAY_ADMIN_H

#include "relay.h"

/* The most a request may ask for (?limit=). */
#define ADMIN_TOP_MAX 100

/* 1 when authorization (the header's value, NULL when absent) carries
 * the relay's admin token; 0 otherwise, and always without --admin-token. */
int admin_allowed(const relay *r, const char *authorization);

/* The top `limit` open spaces by `by` ("conns", "bytes" or "changes"), as
 * JSON: {"by":…,"spaces_open":N,"spaces":[{"space":hex,"connections":…,
 * "bytes":…,"changes":…,"level":…},…]}. OUT: *json (malloc'd), *len.
 * Returns 0, WEFT_EINVAL (by unknown) or WEFT_ENOMEM. */
int admin_top_spaces(const relay *r, const char *by, size_t limit, char **json, size_t *len);

#endif
