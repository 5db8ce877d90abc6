/*
 * Spaces as the relay sees them: one per space id that a client or a REST
 * call touched. A space holds the log half of the core (a weft_log keeping
 * hashes only: chains, dedupe, parking of changes whose dependencies are
 * missing, the version vector), its storage handle, a compact index of every
 * stored record by relay sequence, and the list of subscribed sessions.
 *
 * Invariants: idx[i] describes relay sequence i + 1; head is the highest
 * relay sequence appended, durable the highest flushed (durable <= head;
 * they differ only inside one event-loop turn). Nothing past durable is ever
 * sent to anyone.
 */
#ifndef WEFT_RELAY_SPACE_H
#define WEFT_RELAY_SPACE_H

#include "idem.h"
#include "relay.h"
#include "storage.h"

#define SPACE_NO_AUTHOR UINT32_MAX

struct append_batch;

/* One change's answer: a WEFT_ACK_ status and its value (the relay
 * sequence, or a WEFT_PROTO_E code). */
typedef struct ack_entry {
    uint8_t status;
    uint64_t value;
} ack_entry;

typedef struct rec_info {
    uint64_t seq;    /* the author's seq */
    uint64_t cum;    /* bytes of records 1..this one */
    uint64_t origin; /* session that sent it (0: unknown, e.g. after restart) */
    uint32_t author; /* index into authors, or SPACE_NO_AUTHOR */
    uint32_t len;
} rec_info;

typedef struct space {
    relay *r;
    uint8_t id[32];
    char hex[65];
    relay_space_store *store;
    weft_log *log;
    rec_info *idx;
    size_t n_idx, cap_idx;
    uint8_t (*authors)[32];
    size_t n_authors, cap_authors;
    uint32_t *author_tab; /* open addressing: author index + 1, 0 = empty */
    size_t author_tab_cap;
    uint64_t head, durable;
    struct session *subs; /* server.c links sessions through their own fields */
    size_t n_subs;
    struct space *dirty_next;
    int is_dirty;
    int loading;              /* redis: not read up to Redis' head yet */
    struct ingest_state *ing; /* redis state (ingest.c), else NULL */
    idem_cache *idem;         /* POST answers by Idempotency-Key (http.c) */
} space;

/* Finds or opens a space (replaying its storage). create = 0: a space that
 * storage does not hold is WEFT_ENOTFOUND. OUT: *out, owned by the relay.
 * Returns 0 or a WEFT_E code. */
int space_open(relay *r, const uint8_t id[32], int create, space **out);

/* Finds an open space, or NULL. */
space *space_find(relay *r, const uint8_t id[32]);

/* Checks and stores one change record sent by session `origin` under token
 * `tok` (NULL: no rights check, for tests). OUT: *status (WEFT_ACK_...) and
 * *value (relay sequence or WEFT_PROTO_E code). Returns 0, or a WEFT_E code
 * when storage failed (nothing was acked; the caller closes the session). */
int space_submit(space *sp, const uint8_t *rec, size_t len, const weft_token *tok, uint64_t now,
                 uint64_t origin, uint8_t *status, uint64_t *value);

/* Redis ingest: takes record rseq (the next one: n_idx + 1) read from Redis
 * into the mirror, the log and the index, and marks the space so that the
 * end of the turn wakes its subscribers. origin: the session of this relay
 * that sent it, 0 if none. Returns 0 or a WEFT_E code. */
int space_ingest(space *sp, uint64_t rseq, const uint8_t *rec, size_t len, uint64_t origin);

/* Redis: forgets a space whose local view can no longer be trusted (an
 * append was not confirmed, so the log may hold changes Redis lacks; or
 * another relay deleted it): fails its sessions with `code` and removes
 * it without touching Redis; the next client loads it again. */
void space_drop(relay *r, space *sp, uint32_t code, const char *why);

/* The author index of a key, or SPACE_NO_AUTHOR. */
uint32_t space_author_find(const space *sp, const uint8_t key[32]);

/* Ends the turn for every dirty space: flushes storage once, then moves
 * durable up to head. OUT: the list of spaces whose durable moved (linked by
 * dirty_next), for the server to wake their subscribers. Returns 0 or the
 * flush's WEFT_E code (durable then stays where it was). */
int space_flush_all(relay *r, space **woken);

/* Tells the space's owner (space_events.closing) to fail its sessions
 * with code. */
void space_closing(space *sp, uint32_t code);

/* Removes a space from the relay and deletes its records (with Redis: its
 * local copy; the caller deletes it in Redis with ingest_delete). Its
 * sessions are told first (space_events.closing, NOT_FOUND). */
int space_delete(relay *r, space *sp);

/* Drops a reference to an append batch a held answer waited for. NULL is
 * a no-op. */
void space_batch_unref(struct append_batch *b);

/* Closes every space (after a final flush). */
void space_close_all(relay *r);

#endif
