/*
 * A replica directory: what `weft space create` and `weft join` make and
 * every data command opens. It holds
 *   space.json    the space id, content key, this replica's author key pair,
 *                 its capability token, and the owner's secret key when this
 *                 replica created the space (mode 0600: it holds secrets);
 *                 a replica restored from a key backup also keeps the keys
 *                 of earlier epochs (old_keys) and the epoch of its content
 *                 key (key_epoch): its own key opens none of the epochs
 *                 sealed before it existed; and the key it was restored
 *                 from (restored_from), which signed its device link;
 *   changes.weft  every change this replica holds, as the encoded records
 *                 back to back (each is self-delimiting, chained and signed);
 *   members.weft  the space's membership records this replica holds
 *                 (weft/members.h: grants, removals, key epochs), back to
 *                 back; the key epochs it can open give the content keys;
 *   snapshot.weft (only in a replica that joined from a relay's snapshot)
 *                 the sealed snapshot it started from (FORMAT.md §8): its
 *                 state covers the changes before changes.weft's.
 * Opening loads the snapshot (when there is one: verified and opened with
 * the content key), then replays the changes into the replica; a torn last
 * record (a crash mid-append) is reported and cut off on the next write.
 */
#ifndef WEFT_CLI_SPACEDIR_H
#define WEFT_CLI_SPACEDIR_H

#include "weft/weft.h"

#include <stdio.h>

typedef struct spacedir {
    char path[1024];
    uint8_t space[32], content_key[32];
    uint8_t author_pk[32], author_sk[64];
    uint8_t owner_sk[64];
    int has_owner;
    uint8_t token[WEFT_TOKEN_MAX_BYTES];
    size_t token_len;
    char relay[512];
    /* From a key backup: keys of epochs before content_key's (open only). */
    uint8_t old_keys[WEFT_SUITE_V1_MAX_OLD_KEYS][32];
    size_t n_old_keys;
    uint64_t key_epoch;        /* the epoch of the key that seals now */
    uint8_t restored_from[32]; /* the backed-up key (its records are pushed as ours) */
    int has_restored_from;
    weft_crypto_backend be;
    weft_crypto crypto;
    weft_suite_v1 suite;
    weft_replica *replica;
    weft_members *members; /* members.weft, folded */
    int has_snapshot;      /* snapshot.weft was loaded */
    size_t good_bytes;     /* changes.weft bytes that hold whole records */
    size_t torn_bytes;     /* bytes after them: a torn tail */
} spacedir;

/* Whether this replica is admitted by its grant: it joined by claiming an
 * invite, and its "token" is that claim (a grant record, kind 5), or it was
 * restored from a member admitted by grant, and its "token" is its own key
 * (32 bytes; no token is that short); either is sent to the relay as
 * "Authorization: Grant" (docs/RELAY.md, "Authorization"). */
static inline int spacedir_by_grant(const spacedir *sd) {
    return sd->token_len == 32 || (sd->token_len >= 2 && sd->token[1] == WEFT_RECORD_GRANT);
}

/* Prepares a new directory (which must not hold a space.json yet) with a
 * fresh author key pair; the caller may then set the token (which names
 * that key) and calls spacedir_save. */
int spacedir_create(spacedir *sd, const char *path, const uint8_t *space,
                    const uint8_t *content_key, const uint8_t *owner_sk, const uint8_t *token,
                    size_t token_len, const char *relay, char *err, size_t err_cap);

/* Writes space.json and an empty change file, and opens the replica. */
int spacedir_save(spacedir *sd, char *err, size_t err_cap);

/* Opens a directory and replays its changes. Returns 0 or -1 with err. */
int spacedir_open(spacedir *sd, const char *path, char *err, size_t err_cap);

/* Commits the replica's open transaction and appends the change durably. */
int spacedir_commit(spacedir *sd, char *err, size_t err_cap);

/* Applies records to the replica and appends durably those that were new
 * here (applied now, or released from waiting). OUT: *res. Returns 0, a
 * negative WEFT_E code from apply (nothing stored), or 1 with err when
 * storing failed. */
int spacedir_take(spacedir *sd, const uint8_t *recs, size_t len, weft_apply_result *res, char *err,
                  size_t err_cap);

/* Bytes of recs that hold whole change records, from the start. OUT:
 * *framing: 0, or the decode error that stopped the scan before the end
 * (a truncated last record stops it with 0: a torn tail). */
size_t whole_records(const uint8_t *recs, size_t len, int *framing);

/* Appends records (already applied to the replica) durably. */
int spacedir_append(spacedir *sd, const uint8_t *recs, size_t len, char *err, size_t err_cap);

/* Takes membership records (from the relay, or signed here): those new
 * here are folded and appended durably to members.weft, then the content
 * keys are derived again (every key epoch this replica's key can open:
 * the newest seals, all open). With admit set, each new record must pass
 * weft_members_admit (what the relay will check), else nothing is kept.
 * OUT: *added (may be NULL). Returns 0, a negative WEFT_E code (a refused
 * record), or 1 with err when storing failed. */
int spacedir_take_members(spacedir *sd, const uint8_t *recs, size_t len, int admit, size_t *added,
                          char *err, size_t err_cap);

/* The membership records held, back to back (for a push); with own set,
 * only those this replica signed (with its key, or the owner's when it
 * holds it). OUT: *out (malloc'd, NULL when none), *len. Returns 0 or
 * WEFT_ENOMEM. */
int spacedir_member_records(const spacedir *sd, int own, uint8_t **out, size_t *len);

/* Starts an empty replica (no snapshot, no changes) from a sealed
 * snapshot whose publisher's rights the caller checked: writes
 * snapshot.weft durably (temporary file, fsync, rename), then loads it.
 * Returns 0, or -1 with err (nothing kept). */
int spacedir_start_from_snapshot(spacedir *sd, const uint8_t *rec, size_t len, char *err,
                                 size_t err_cap);

/* The vector of DIR/snapshot.weft, when DIR has one. OUT: *data (the whole
 * file; the caller frees), *vv and *vv_len inside it. Returns 1 when there
 * is a snapshot, 0 when not, -1 when it does not decode. */
int spacedir_snapshot_vv(const char *dir, uint8_t **data, const uint8_t **vv, size_t *vv_len);

/* This replica's grant chain (weft_grant_chain_verify) giving at least
 * `rights` now, from the records held: the owner's grant to its key, or the
 * owner's invite and its claim; the one that lasts longest. What a replica
 * admitted by grant shows where a token would go (a snapshot it
 * publishes). OUT: dst (WEFT_GRANT_CHAIN_MAX_BYTES), *len. Returns 0 or
 * WEFT_ENOTFOUND (none: an admin made by another admin's grant has none). */
int spacedir_grant_chain(const spacedir *sd, uint8_t rights, uint8_t *dst, size_t *len);

void spacedir_close(spacedir *sd);

/* Reads a whole file. OUT: *data (caller frees), *len. 0 or -1 (errno). */
int read_file(const char *path, uint8_t **data, size_t *len);

/* Writes "dir/name" into dst. Returns 0, or -1 with errno ENAMETOOLONG when
 * it does not fit in cap bytes (dst then holds a truncated string). */
int path_join(char *dst, size_t cap, const char *dir, const char *name);

#endif
