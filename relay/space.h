/*
 * Spaces as the relay sees them: one per space id that a client or a REST
 * call touched. A space holds the log half of the core (a weft_log keeping
 * hashes only: chains, dedupe, parking of changes whose dependencies are
 * missing, the version vector), its storage handle, a compact index of every
 * stored record by relay sequence, and the list of subscribed sessions.
 *
 * Records reach the space only from its storage (storage_events): replayed
 * at open, appended by it, or by another relay sharing the storage; the
 * space never learns which backend it has.
 *
 * History (--keep-history, docs/RELAY.md "History"): once the newest
 * snapshot covers a prefix of the log older than the window, storage
 * drops it (space_trim) and keeps a checkpoint of each author's chain head
 * at the cut, from which the log is restored when the space is opened
 * again; records up to `trimmed` are gone from storage and from the index.
 *
 * Invariants: idx[i] describes relay sequence trimmed + i + 1; head is the highest
 * relay sequence storage holds, durable the highest storage called durable
 * (durable <= head). Nothing past durable is ever sent to anyone.
 */
#ifndef WEFT_RELAY_SPACE_H
#define WEFT_RELAY_SPACE_H

#include "idem.h"
#include "ratelimit.h"
#include "relay.h"
#include "storage.h"

#define SPACE_NO_AUTHOR UINT32_MAX

typedef struct rec_info {
    uint64_t seq;    /* the author's seq */
    uint64_t cum;    /* bytes of records 1..this one */
    uint64_t origin; /* session that sent it (0: unknown, e.g. after restart) */
    uint32_t author; /* index into authors, or SPACE_NO_AUTHOR */
    uint8_t kind;    /* the record's kind byte (1 change, 4 level, 5-7 membership) */
    uint32_t len;
    uint32_t time_s; /* when stored (Unix seconds); replayed: the change's wall time, at most
                        the time of replay; 0 for records without one */
} rec_info;

typedef struct space {
    relay *r;
    uint8_t id[32];
    char hex[65];
    storage_space *st; /* its storage (storage.h) */
    weft_log *log;
    rec_info *idx;
    size_t n_idx, cap_idx;
    uint8_t (*authors)[32];
    size_t n_authors, cap_authors;
    weft__idtab author_tab; /* key -> author index + 1 */
    uint64_t head, durable;
    uint32_t level; /* the space's format level: the greatest of its level records, or 1 */
    struct weft_members *members; /* its membership records, folded (weft/members.h) */
    struct session *subs;         /* session.c links sessions through their own fields */
    size_t n_subs;
    struct space *woken_next; /* r->woken: durable moved this turn */
    int is_woken;
    const weft_change *appending; /* the change being appended now */
    idem_cache *idem;             /* POST answers by Idempotency-Key (http.c) */
    bucket changes;               /* --space-rate */
    uint64_t quota_bytes;         /* from an admission token; 0: --space-bytes */
    uint64_t blob_bytes;          /* bytes of its files' chunks (blobs.h), counted at open */
    bucket eph;                   /* SIGNAL/PRESENCE bytes sent here (--eph-rate) */
    size_t n_sessions;            /* WebSocket sessions whose s->sp this is */
    uint64_t used_us;             /* last opened, found or left (relay_now_us) */
    /* History: records up to trimmed are gone; ckpt holds each author's
     * chain head at that point (sorted by key). snap_base: the base of the
     * newest stored snapshot (valid when snap_known). */
    uint64_t trimmed;
    struct weft__trim_author *ckpt;
    size_t n_ckpt;
    uint64_t snap_base;
    int snap_known;
    uint64_t trim_tried_us; /* the last timer-driven trim attempt */
} space;

/* The index entry of relay sequence rseq (trimmed < rseq <= head). */
static inline rec_info *space_rec(const space *sp, uint64_t rseq) {
    return &sp->idx[rseq - sp->trimmed - 1];
}

/* Whether the space's membership records removed `key` (weft/members.h):
 * its HELLOs, writes and REST calls are refused from then on. */
int space_key_revoked(const space *sp, const uint8_t key[32]);

/* Bytes the space holds against its --space-bytes quota: the one place
 * that counts them (records and files' chunks; snapshots when they are
 * counted). */
uint64_t space_bytes_used(const space *sp);

/* Finds or opens a space (a local backend replays its records now).
 * create = 0: a space that storage does not hold is WEFT_ENOTFOUND (with
 * a backend that can tell only once loaded, the caller learns it from a
 * later call, after space_wait). OUT: *out, owned by the relay. Returns 0
 * or a WEFT_E code. */
int space_open(relay *r, const uint8_t id[32], int create, space **out);

/* Finds an open space, or NULL. Opening or finding a space counts as a use
 * (space_unload_idle). */
space *space_find(relay *r, const uint8_t id[32]);

/* Waits until the space is loaded (fresh: and as fresh as storage now; see
 * storage_ops.wait). Returns 0 when it is now (fn not called),
 * STORAGE_LATER when fn(ud, failed) comes later, or WEFT_ENOMEM. */
int space_wait(space *sp, int fresh, waiter **slot, relay_answer_fn fn, void *ud);

/* Checks and stores one change record, or level record (FORMAT.md §10),
 * sent by session `origin` under token `tok` (NULL: no rights check, for
 * tests) from a client that reads up to format level client_level (a level
 * record above it, or above --format-level, is REJECTED with VERSION; one
 * at or below the space's level is a DUPLICATE). OUT: *status (WEFT_ACK_..., or
 * ACK_PENDING: the answer is entry *value of the space's batch of this
 * turn, space_batch) and *value (relay sequence, batch entry or
 * WEFT_PROTO_E code). Returns 0, or a WEFT_E code when storage failed
 * (nothing was acked; the caller closes the session). */
int space_submit(space *sp, const uint8_t *rec, size_t len, const weft_token *tok, uint64_t now,
                 uint64_t origin, uint32_t client_level, uint8_t *status, uint64_t *value);

/* This turn's batch of the space with a reference for the caller, or NULL
 * (storage_ops.batch). */
storage_batch *space_batch(space *sp);

/* 1 when the space's writers should pause (storage_ops.throttled). */
int space_throttled(const space *sp);

/* Reads records after `after` (storage_ops.read). */
int space_read(space *sp, uint64_t after, size_t max_bytes, relay_record_fn fn, void *ud);

/* ---- sealed snapshots (docs/RELAY.md, "Snapshots") ---- */

/* Checks an uploaded sealed snapshot, in this order: size (max, TOO_BIG),
 * structure (BAD_SNAPSHOT), space (WRONG_SPACE), signature
 * (BAD_SIGNATURE), the publisher's rights: tok (verified by the caller)
 * must grant the publisher admin, and when prover is given (a WebSocket
 * session's proven key) the publisher must be that key (RIGHTS); then the
 * vector: every change it names must be in the log and durable
 * (UNCOVERED). OUT: *base, the highest relay sequence such that every
 * record up to it is covered by the vector (the joiner's cursor for the
 * tail), and *reason (RELAY_SNAP_..., on a refusal). Counts the refusal.
 * Returns 0 or a WEFT_PROTO_E code. */
uint32_t space_snapshot_check(space *sp, const uint8_t *rec, size_t len, size_t max,
                              const weft_token *tok, const uint8_t *prover, uint64_t *base);

/* Stores a checked snapshot with the token that admitted it (tok,
 * tok_len <= WEFT_PROTO_MAX_TOKEN; served with it, for the joiner's own
 * rights check) (storage_ops.snapshot_put: 0, STORAGE_LATER with fn to
 * come, or a WEFT_E code; WEFT_ESTATE: older than the newest held). */
int space_snapshot_put(space *sp, uint64_t base, const uint8_t *tok, size_t tok_len,
                       const uint8_t *rec, size_t len, waiter **slot, relay_answer_fn fn, void *ud);

/* The newest stored snapshot that passes its stored check and
 * weft_snapshot_verify again (a damaged one is skipped, counted, and the
 * next older one tried). OUT: *body (malloc'd, the caller frees; NULL when
 * none is held), *rec and *len (the record, inside body), *tok and
 * *tok_len (the token that admitted it, inside body), *base. Returns 0 or
 * a WEFT_E code. */
int space_snapshot_newest(space *sp, uint8_t **body, const uint8_t **rec, size_t *len,
                          const uint8_t **tok, size_t *tok_len, uint64_t *base);

/* ---- history (docs/RELAY.md, "History") ---- */

/* Trims the space's log under --keep-history: the records the newest
 * snapshot (verified again now) covers, older than the window, up to the
 * first record that is not a change (a level record: it stays, and what
 * follows it with it), cut where storage can (a segment boundary). Storage
 * keeps the checkpoint; the index, the author heads and the log's
 * per-change entries below the cut go (weft_log_forget); sessions whose
 * position is below it are told (space_events.trimmed). Returns 0
 * (trimmed, or nothing to trim) or a WEFT_E code (counted; nothing lost). */
int space_trim(space *sp, uint64_t now_us);
/* The base of the newest stored snapshot (0: none), read from storage once
 * per stored snapshot. OUT: *base. Returns 0 or a storage error. */
int space_snapshot_base(space *sp, uint64_t *base);

/* A snapshot upload that storage confirmed later (Redis) is stored: the
 * newest snapshot is read again, and the log trimmed behind it. */
void space_snapshot_stored(space *sp);
/* Runs space_trim for open spaces not tried for SPACE_TRIM_PERIOD_S;
 * called every second. */
#define SPACE_TRIM_PERIOD_S 60
void space_trim_due(relay *r, uint64_t now_us);
/* 1 when a client whose vector is `have` (its seq per space author index,
 * n_have entries; authors past it hold 0) lacks changes the space trimmed:
 * it must load the newest snapshot first. O(authors at the cut). */
int space_below_trim(const space *sp, const uint64_t *have, size_t n_have);

/* Forgets a space whose local view can no longer be trusted (storage said
 * lost: an append was not confirmed, or another relay deleted it): fails
 * its sessions with `code` and removes it without touching storage; the
 * next client loads it again. */
void space_drop(space *sp, uint32_t code, const char *why);

/* The author index of a key, or SPACE_NO_AUTHOR. */
uint32_t space_author_find(const space *sp, const uint8_t key[32]);

/* Takes the list of spaces whose durable head moved since the last call
 * (linked by woken_next), for the server to wake their subscribers. */
space *space_take_woken(relay *r);

/* Tells the space's owner (space_events.closing) to fail its sessions
 * with code. */
void space_closing(space *sp, uint32_t code);

/* Removes a space from the relay and deletes its records for good
 * (storage_ops.remove: returns 0, STORAGE_LATER with fn to come, or a
 * WEFT_E code). Its sessions are told first (closing, NOT_FOUND). The
 * space is gone in every case. */
int space_delete(space *sp, waiter **slot, relay_answer_fn fn, void *ud);

/* Ages every space's parked changes (weft_log_expire_parked): called every
 * SPACE_PARK_PERIOD_S, a change waiting for something that never comes is
 * dropped after one to two periods, and counted in parked_expired. */
#define SPACE_PARK_PERIOD_S 60
void space_expire_parked(relay *r);

/* Closes the spaces nobody has used for --idle-unload seconds (its file
 * descriptors, log, index and memory mirror go; storage keeps every
 * record, and the next client loads it again). A space is never idle while
 * a session points at it, while its durable head lags its head, while it
 * holds parked changes, or while storage has batches in flight. Memory
 * storage keeps nothing once closed, so with it nothing is unloaded. At
 * most SPACE_UNLOAD_MAX per call. Called every second. */
#define SPACE_UNLOAD_MAX 256
void space_unload_idle(relay *r, uint64_t now_us);

/* Marks a space as unused for long already: the next space_unload_idle
 * closes it if it is idle otherwise (no session, nothing in flight). For a
 * space storage does not hold, opened only to answer a HELLO. */
void space_forget_soon(space *sp);

/* Closes every space (after the storage's last turn). */
void space_close_all(relay *r);

#endif
