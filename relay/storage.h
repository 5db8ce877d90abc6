/*
 * Storage: where a space's change records become durable, behind one
 * interface that every backend implements (storage_ops), chosen at
 * start-up: local storage (storage_local.c, over a log driver below: file
 * by default, memory for tests) or Redis for scale-out (ingest.c). Nothing
 * above this interface knows which backend it has.
 *
 * A backend stores opaque records per space, numbers them with the space's
 * relay sequence (1, 2, 3... in the order it holds them) and hands them
 * back in that order. It checks nothing about their content: the space
 * module has verified each change before it appends it.
 *
 * The interface is asynchronous, because Redis is, and because group commit
 * is "submit the turn's batch, get a completion", not "flush() returns
 * durable" (so the fdatasync runs on a writer thread):
 *
 *  - A space's records reach the space only through its storage_events:
 *    record() for each record the backend holds, in relay-sequence order
 *    (replayed at open, appended by this relay, or by another relay
 *    sharing the backend), durable() when records up to a relay sequence
 *    are durable (only those may be sent or acked), lost() when the backend
 *    can no longer vouch for the space's local view.
 *  - append() puts a change into the space's batch for this loop turn and
 *    says which entry it is; end_turn() submits every batch (one group
 *    commit); a batch is answered when its records are durable and the
 *    space has them, or failed. ACKs wait for the batch (storage_batch_*).
 *  - Local storage runs record() inside open() and append(); end_turn()
 *    starts one sync per space written and hands its fdatasync to a writer
 *    thread; a later end_turn() (the writer wakes the loop) says durable()
 *    and answers the batches, so the ACKs go out at the end of that turn,
 *    after their fdatasync (the memory driver has nothing to sync: inline).
 *    Redis completes later, from the event loop, when Redis answered and
 *    this relay has read the records back.
 *
 * Ownership: record bytes handed to a callback are borrowed for the call;
 * bytes passed in are copied when kept. A storage_space belongs to its
 * space; events for it stop when it is closed or deleted. Callbacks run on
 * the loop thread, never inside another callback of the same space except
 * where a call says so (record() inside open() and append()). A call that
 * fails never calls its callback; a call that returns STORAGE_LATER calls
 * it exactly once, later (never before it returns), unless the caller
 * cancelled its waiter.
 */
#ifndef WEFT_RELAY_STORAGE_H
#define WEFT_RELAY_STORAGE_H

#include "waiter.h"

#include <stddef.h>
#include <stdint.h>

struct relay;

/* One change's answer: a WEFT_ACK_ status and its value (the relay
 * sequence, or a WEFT_PROTO_E code). */
typedef struct ack_entry {
    uint8_t status;
    uint64_t value;
} ack_entry;

/* Internal ACK status of an entry waiting for its batch (never on the
 * wire). Its value is the entry's index in the batch. */
#define ACK_PENDING 0xff

/* Returned by calls whose answer comes later through a callback. */
#define STORAGE_LATER 1

typedef struct storage storage;
typedef struct storage_space storage_space;
typedef struct storage_batch storage_batch;

/* What a backend tells the space (ud: the space's, given to open). */
typedef struct storage_events {
    /* Record rseq (always the space's count + 1) is held; origin is the
     * session of this relay that sent it (0: none, or unknown). Not
     * durable until durable() says so. A non-zero return means the space
     * cannot take it: inside open(), open fails with it; later the backend
     * gives the space up (lost()). */
    int (*record)(void *ud, uint64_t rseq, const uint8_t *rec, size_t len, uint64_t origin);
    /* Every record up to rseq is durable. */
    void (*durable)(void *ud, uint64_t rseq);
    /* The backend can no longer vouch for the space (an append was not
     * confirmed, so the space may hold changes storage lacks; or it was
     * deleted through another relay): the space must go now (fail its
     * sessions with code, close this handle). Loaded again by the next
     * client, from storage. */
    void (*lost)(void *ud, uint32_t code, const char *why);
    /* Fewer appends in flight than the bound again (see throttled()). */
    void (*unthrottle)(void *ud);
    /* The space's log prefix up to relay sequence `trimmed` is gone
     * (--keep-history); ckpt is its trim checkpoint (common/trimfile.h,
     * borrowed for the call). Called before any record() when the
     * backend trimmed the space: inside open() (local), or while it loads
     * (Redis). Non-zero: open fails with it (Redis: the space is lost). */
    int (*trimmed)(void *ud, uint64_t trimmed, const uint8_t *ckpt, size_t len);
} storage_events;

/* Called for each record in relay-sequence order; the bytes are borrowed
 * for the call. A non-zero return stops the walk and is returned by it. */
typedef int (*relay_record_fn)(void *ud, uint64_t rseq, const uint8_t *rec, size_t len);

typedef struct storage_ops {
    const char *name;
    /* Opens a space, creating it when create is set (else a space storage
     * does not hold is WEFT_ENOTFOUND, where the backend can tell at
     * once). Replays what is held through ev->record before returning
     * (local), or starts loading it (Redis: see wait). ev and ud stay with
     * the handle. OUT: *out. Returns 0 or a negative WEFT_E code (then no
     * handle, and records replayed so far are the caller's to forget). */
    int (*open)(storage *st, const uint8_t id[32], int create, const storage_events *ev, void *ud,
                storage_space **out);
    /* 1 when the backend holds nothing for an open space and counts an
     * empty space as absent (Redis keeps no key for an empty log; a space
     * a local backend created exists, empty or not). Only meaningful once
     * wait() said the space is loaded. */
    int (*absent)(const storage_space *h);
    /* Waits until the space is loaded; with fresh, also until it holds
     * what the backend held when asked (another relay may have appended
     * what no notification brought yet: a HELLO's CHALLENGE and a GET must
     * be as fresh as storage). Returns 0 when that is so now (fn is not
     * called), STORAGE_LATER when fn(ud, 0) comes later (fn(ud, 1): the
     * space could not be loaded or went away), or WEFT_ENOMEM. *slot holds
     * the waiter meanwhile (waiter_cancel). */
    int (*wait)(storage_space *h, int fresh, waiter **slot, relay_answer_fn fn, void *ud);
    /* Puts a change (the log committed it) into this turn's batch. hash is
     * its dedupe key (the change hash); origin the session that sent it (0:
     * none). OUT: *slot, its entry in the batch. Local backends append at
     * once (record() runs inside); nothing is durable before end_turn.
     * Returns 0 or a WEFT_E code (the change is not stored). */
    int (*append)(storage_space *h, const uint8_t *rec, size_t len, const uint8_t hash[32],
                  uint64_t origin, uint32_t *slot);
    /* A change the log already holds was sent again. When the original may
     * not be durable yet (appends of this space not answered), the answer
     * must wait: it joins this turn's batch (OUT: *slot) and 1 is
     * returned. 0: the original is durable, answer DUPLICATE now. Negative:
     * a WEFT_E code. */
    int (*append_dup)(storage_space *h, const uint8_t *rec, size_t len, const uint8_t hash[32],
                      uint64_t origin, uint32_t *slot);
    /* This turn's batch of the space, with a reference for the caller
     * (storage_batch_unref), or NULL when nothing was appended this turn. */
    storage_batch *(*batch)(storage_space *h);
    /* 1 when the space has so many appends in flight that its writers
     * should pause; unthrottle() says when they may go on. */
    int (*throttled)(const storage_space *h);
    /* Calls fn for records with relay sequence > after, in order, until fn
     * returns non-zero, about max_bytes of records were read, or the last
     * record held is reached. Completes before it returns: every backend
     * serves reads from local bytes (Redis from this relay's copy). Records
     * not durable yet may be returned. Returns 0, fn's non-zero value, or a
     * WEFT_E code (a corrupt record is never handed out: WEFT_EMALFORMED). */
    int (*read)(storage_space *h, uint64_t after, size_t max_bytes, relay_record_fn fn, void *ud);
    /* Deletes the space's records for good and closes h (in every case).
     * Returns 0 when done, STORAGE_LATER when done here and fn(ud, 0)
     * comes once the shared store confirmed (fn(ud, 1): it did not), or a
     * WEFT_E code (nothing, or not all, was deleted; fn is not called). */
    int (*remove)(storage_space *h, waiter **slot, relay_answer_fn fn, void *ud);
    /* Closes a space: its unanswered batch fails, its waiters get
     * fn(ud, 1). NULL is a no-op. */
    void (*close)(storage_space *h);
    /* Stores a sealed snapshot (checked by the caller) covering every
     * record up to relay sequence base, keeping the STORAGE_SNAPSHOTS_KEPT
     * newest by base. A snapshot whose base is below the newest held is
     * refused (WEFT_ESTATE; an equal base replaces it). Durable before it
     * counts as stored: a crash leaves the whole snapshot or none, and
     * never touches the log. Returns 0 when durable now, STORAGE_LATER
     * when fn(ud, 0) comes once durable (fn(ud, 1): it failed), or a
     * WEFT_E code (nothing stored; WEFT_EUNAVAILABLE: this backend keeps
     * no snapshots). */
    int (*snapshot_put)(storage_space *h, uint64_t base, const uint8_t *rec, size_t len,
                        waiter **slot, relay_answer_fn fn, void *ud);
    /* Calls fn(ud, base, rec, len) for each stored snapshot, newest first,
     * until fn returns non-zero; one whose stored bytes fail their check
     * (CRC, length) is skipped and counted in *damaged. Completes before
     * it returns. Returns fn's non-zero value, 0 when fn took none (or none
     * is held), or a WEFT_E code. */
    int (*snapshot_read)(storage_space *h, relay_record_fn fn, void *ud, size_t *damaged);
    /* History trimming (docs/RELAY.md, "History"); NULL in a backend that
     * does not trim (Redis). trim_point: the highest relay sequence <=
     * limit at which the backend can cut the log (file: a segment
     * boundary; never past the durable head), or the current trim point
     * when none is further. */
    uint64_t (*trim_point)(storage_space *h, uint64_t limit);
    /* Drops every record up to relay sequence upto (a trim_point answer),
     * keeping ckpt (common/trimfile.h) as the space's trim checkpoint.
     * Durable before it returns 0: a crash at any point leaves the log
     * trimmed at upto (checkpoint written) or as it was, never torn; the
     * records after upto are never touched. OUT: *bytes, record bytes
     * dropped. Returns 0 or a WEFT_E code (the log may then still hold
     * the records; nothing is lost). */
    int (*trim)(storage_space *h, uint64_t upto, const uint8_t *ckpt, size_t len, uint64_t *bytes);
    /* Ends the loop turn: submits every batch appended this turn (one
     * group commit). Local: finishes the syncs the writers are done with
     * (durable() and the answers for their spaces), then starts one per
     * space written (after the one in flight, for a space that has one); a
     * failed sync fails the space's batches (nothing in them may be acked)
     * and gives the space up (lost()), never to be retried. Redis: sends
     * one append per space; answers come later. */
    void (*end_turn)(storage *st);
    /* 1 while batches are submitted and not answered (the drain waits). */
    int (*busy)(const storage *st);
    /* 1 when the backend can serve (/readyz). */
    int (*ready)(const storage *st);
    /* Every 100 ms: retries what failed for a while. */
    void (*tick)(storage *st);
    /* Fails what waits for the backend and lets go of the event loop
     * (before the lws context is destroyed); spaces may still be closed
     * after. Local: the writers finish every sync queued, are joined, and
     * those syncs are answered. */
    void (*shutdown)(storage *st);
    /* Frees the backend; every space must be closed first. NULL: no-op. */
    void (*free)(storage *st);
} storage_ops;

struct storage {
    const storage_ops *ops;
};

/* How many snapshots a space keeps: the newest, and one before it in case
 * the newest turns out damaged on read. */
#define STORAGE_SNAPSHOTS_KEPT 2

/* Every backend's per-space handle starts with this. */
struct storage_space {
    storage *st;
};

/* Local storage over a log driver (below), taken over (freed with it).
 * r: for the fsync metrics. OUT: *out. Returns 0 or WEFT_ENOMEM. */
struct relay_store;
int storage_local_new(storage **out, struct relay *r, struct relay_store *driver);

/* Redis storage (ingest.c): the connection (r->redis) is made later by
 * ingest_start, once the loop exists. Without hiredis: WEFT_EUNAVAILABLE.
 * OUT: *out. */
int storage_redis_new(storage **out, struct relay *r);

/* ---- batches: what held ACKs wait for ----
 *
 * A batch is one space's appends of one turn. It is counted by its backend
 * until answered and by every held ACK or POST that waits for it. Entry k
 * is the k-th append or append_dup of the turn. */

struct storage_batch {
    int refs;
    int state;                  /* 0 building, 1 submitted, 2 answered, -1 failed */
    const uint64_t *durable_at; /* the space's durable head; NULL once its handle closed */
    size_t n, cap;
    uint64_t *rseq; /* relay sequence of each entry, once answered */
    uint8_t *dup;   /* STORAGE_DUP: a duplicate of a stored record; STORAGE_FORK:
                     * refused, another change holds its author and seq */
    uint64_t max_rseq;
};

/* What an entry turned out to be, besides stored (0). A fork is answered
 * REJECTED with WEFT_PROTO_ECHAIN, as the log refuses a fork it sees
 * itself. */
#define STORAGE_DUP  1
#define STORAGE_FORK 2

/* A new batch (one reference, the backend's). NULL when out of memory. */
storage_batch *storage_batch_new(const uint64_t *durable_at);
/* Adds an entry (dup: 0, STORAGE_DUP or STORAGE_FORK). OUT: *slot.
 * Returns 0 or WEFT_ENOMEM. */
int storage_batch_add(storage_batch *b, uint64_t rseq, int dup, uint32_t *slot);
/* 1: answered and durable (every entry can be acked); 0: not yet; -1:
 * failed (nothing in it may be acked). */
int storage_batch_state(const storage_batch *b);
/* Turns ACK_PENDING entries into STORED (rseq), DUPLICATE or REJECTED
 * (a fork: WEFT_PROTO_ECHAIN), once the batch state is 1. */
void storage_batch_resolve(const storage_batch *b, ack_entry *e, uint32_t n);
/* NULL is a no-op. */
void storage_batch_unref(storage_batch *b);

/* ---- log drivers: local, synchronous ----
 *
 * What storage_local.c runs on (tests/relay/test_storage.c tests them
 * directly). Durability is explicit: append may buffer, and only after
 * flush returns 0 is every record appended before it durable. */

typedef struct relay_store relay_store;
typedef struct relay_space_store relay_space_store;

/* One space's group-commit sync, in three steps, so that the slow one
 * (sync_run: the fdatasync) can run away from the loop while the other two
 * stay on it. The driver fills the first block in sync_begin and reads it
 * in sync_run and sync_end; the caller owns the struct and the last block. */
typedef struct relay_sync_job {
    relay_space_store *s;
    uint64_t upto; /* records up to this relay sequence become durable */
    int fd;
    uint64_t end, marked; /* the active segment's size now, at its last mark */
    unsigned delay_ms;    /* test hooks (storage_file.c) */
    int fail;
    int rc;                      /* sync_run's result */
    void *ud;                    /* the caller's */
    struct relay_sync_job *next; /* the caller's */
} relay_sync_job;

typedef struct relay_store_ops {
    const char *name;
    /* Opens a space's log, creating it when create is set (else a missing
     * space is WEFT_ENOTFOUND), and replays every stored record through fn
     * (may be NULL): those after its trim point, when trimmed. OUT: *out.
     * Returns 0 or a negative WEFT_E code. */
    int (*open_space)(relay_store *st, const uint8_t space[32], int create, relay_space_store **out,
                      relay_record_fn fn, void *ud);
    /* Appends n records; they take relay sequences head+1 .. head+n. OUT:
     * *first (head+1). Not durable until flush. Returns 0 or a WEFT_E code
     * (then the records before the failing one stay appended, the failing
     * one and the rest are not). */
    int (*append)(relay_space_store *s, const uint8_t *const *recs, const size_t *lens, size_t n,
                  uint64_t *first);
    /* Calls fn for records with relay sequence > after, in order, until fn
     * returns non-zero, about max_bytes of records were read, or the head
     * is reached. Records appended but not yet flushed may be returned.
     * Returns 0, fn's non-zero value, or a WEFT_E code (a corrupt record is
     * never handed out: WEFT_EMALFORMED). */
    int (*read)(relay_space_store *s, uint64_t after, size_t max_bytes, relay_record_fn fn,
                void *ud);
    /* The highest relay sequence appended (0: none). */
    uint64_t (*head)(const relay_space_store *s);
    /* Makes every record appended so far, in every space, durable (the
     * three sync steps below for each space written). Returns 0 or a
     * WEFT_E code (then some space failed, as sync_end says). */
    int (*flush)(relay_store *st);
    /* Starts a sync of what s holds: OUT: *job. Returns 0 (run sync_run,
     * then sync_end; no other sync of s starts meanwhile, appends go on),
     * 1 when none may start (every record is durable already, or a sync
     * of s is in flight: what was appended since waits for the next), or
     * a WEFT_E code (s has failed). Appends while a sync is in flight are
     * held and readable, and written once it ends. Loop thread. */
    int (*sync_begin)(relay_space_store *s, relay_sync_job *job);
    /* The fdatasync itself: touches only job (and the file), so it may run
     * on any thread. Sets job->rc to 0 or a WEFT_E code. */
    void (*sync_run)(relay_sync_job *job);
    /* Finishes a sync on the loop thread. Returns 0 when every record up
     * to job->upto is durable, else a WEFT_E code: s has failed for good,
     * because after a failed fdatasync nothing written since the last good
     * one can be trusted, even if a later fdatasync succeeds (Linux drops
     * the dirty pages and reports the error once). Then every append, read
     * and sync of s fails; close it, and open it again to serve what the
     * disk holds (its unsynced tail is dropped first). */
    int (*sync_end)(relay_space_store *s, relay_sync_job *job);
    /* Deletes the space's records (and snapshots) for good and closes s. */
    int (*delete_space)(relay_space_store *s);
    /* storage_ops.snapshot_put, synchronously: durable when it returns 0
     * (file: a temporary file, fdatasync, rename, fsync of the directory). */
    int (*snapshot_put)(relay_space_store *s, uint64_t base, const uint8_t *rec, size_t len);
    /* storage_ops.snapshot_read. */
    int (*snapshot_read)(relay_space_store *s, relay_record_fn fn, void *ud, size_t *damaged);
    /* The space's trim checkpoint, before it is opened: OUT: *trimmed and
     * *ckpt (malloc'd, the caller frees; NULL and 0 when the space was
     * never trimmed), *len. Returns 0 or a WEFT_E code (a checkpoint that
     * fails its check is WEFT_EMALFORMED: the space is refused, as for a
     * damaged segment). May be NULL (never trims). */
    int (*trim_read)(relay_store *st, const uint8_t space[32], uint64_t *trimmed, uint8_t **ckpt,
                     size_t *len);
    /* storage_ops.trim_point and trim, synchronously. May be NULL. */
    uint64_t (*trim_point)(relay_space_store *s, uint64_t limit);
    int (*trim)(relay_space_store *s, uint64_t upto, const uint8_t *ckpt, size_t len,
                uint64_t *bytes);
    /* Closes a space (after a flush). NULL is a no-op. */
    void (*close_space)(relay_space_store *s);
    /* Closes the backend; every space must be closed first. NULL is a no-op. */
    void (*close)(relay_store *st);
} relay_store_ops;

struct relay_store {
    const relay_store_ops *ops;
};

/* Every backend's per-space handle starts with this. */
struct relay_space_store {
    relay_store *store;
};

/* Constructors. OUT: *out. Return 0 or a WEFT_E code. */
int relay_store_memory_new(relay_store **out);
/* root: the data directory (created if missing); one subdirectory per
 * space, named by the space id in hex. segment_bytes: size at which a new
 * segment file starts (0: 64 MiB). */
int relay_store_file_new(relay_store **out, const char *root, size_t segment_bytes);

#endif
