/*
 * The change log: per-author hash chains, dedupe, causal buffering,
 * version vectors and the sync diff.
 *
 * A log needs no content key and no state: it is the half of the core a
 * relay runs. A replica (weft/replica.h) runs one inside it. Adding a change
 * is two-phase so that the caller can do its own work (apply the ops, verify
 * a signature, make it durable) between the decision and the record:
 *
 *   weft_log_check()  says READY, DUPLICATE or WAITING (or an error);
 *   READY    -> the caller applies it, then weft_log_commit();
 *   WAITING  -> weft_log_park() keeps a copy until what it needs arrives;
 *   after commits, weft_log_next_ready() hands back parked changes that
 *   became ready, to be checked and committed in turn.
 *
 * A version vector maps author -> highest seq held with no gap before it.
 */
#ifndef WEFT_LOG_H
#define WEFT_LOG_H

#include "weft/alloc.h"
#include "weft/change.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_log weft_log;

typedef struct weft_log_config {
    const weft_allocator *alloc; /* NULL: the C library's */
    const uint8_t *space;        /* 32 bytes: changes of other spaces are refused */
    int keep_records;            /* non-zero: keep each record's bytes, so diffs can
                                    hand them out; zero: keep hashes only */
    size_t max_pending_bytes;    /* parked bytes at most; 0 means 64 MiB */
    size_t max_pending_author;   /* parked bytes of one author at most; 0 means
                                    a quarter of max_pending_bytes, so one
                                    author cannot fill the pool for all */
    const uint8_t *hash_key;     /* 16 secret random bytes keying the author
                                    table's hash (copied), so keys chosen on
                                    the wire cannot flood it; NULL: derived
                                    from the space id, which anyone knows —
                                    only for logs fed by trusted members */
} weft_log_config;

typedef enum weft_log_status {
    WEFT_LOG_READY = 1,     /* next in its chain with every dep held */
    WEFT_LOG_DUPLICATE = 2, /* held already (same hash): nothing to do */
    WEFT_LOG_WAITING = 3,   /* its predecessor or a dep is missing */
} weft_log_status;

/* Creates a log. OUT: *out (free with weft_log_free). Returns 0, WEFT_EINVAL
 * or WEFT_ENOMEM. */
WEFT_API int weft_log_new(weft_log **out, const weft_log_config *cfg);

/* Frees the log and everything parked in it. NULL is a no-op. */
WEFT_API void weft_log_free(weft_log *log);

/* Classifies a decoded change. Returns a weft_log_status (> 0) or:
 * WEFT_ESPACE (another space), WEFT_EFORK (same author and seq as a held
 * change, different bytes), WEFT_ECHAIN (prev hash does not match the held
 * predecessor), WEFT_ECLOCK (ids do not start after the predecessor's). */
WEFT_API int weft_log_check(weft_log *log, const weft_change *c);

/* Records a change that weft_log_check called READY and that the caller has
 * applied. Copies the record when keep_records is set. Returns 0,
 * WEFT_ESTATE (not READY) or WEFT_ENOMEM. */
WEFT_API int weft_log_commit(weft_log *log, const weft_change *c);

/* Keeps a copy of a WAITING change. Returns 0, WEFT_LOG_DUPLICATE (already
 * parked with the same hash), WEFT_EFORK (parked with another hash),
 * WEFT_EPENDING_FULL (the pool, or this author's share of it, is full) or
 * WEFT_ENOMEM. */
WEFT_API int weft_log_park(weft_log *log, const weft_change *c);

/* Ages parked changes: each call starts a new epoch and drops every change
 * parked before the previous call, so a change whose missing piece never
 * comes cannot hold pending space for ever. Called every T, a parked change
 * lives between T and 2T (the log has no clock; the caller's timer is it).
 * A dropped change is simply not held: its author may send it again.
 * Returns how many were dropped (0 for a NULL log). */
WEFT_API size_t weft_log_expire_parked(weft_log *log);

/* Hands out a parked change whose predecessor and deps have all been
 * committed since it was parked. OUT: *record, *len: owned by the log and
 * valid until the next weft_log_next_ready or weft_log_free. Returns 1 when
 * one was handed out, 0 when none is ready. The change is no longer parked:
 * check it and commit it (or drop it). */
WEFT_API int weft_log_next_ready(weft_log *log, const uint8_t **record, size_t *len);

/* Number of changes committed, and of parked changes. */
WEFT_API uint64_t weft_log_count(const weft_log *log);
WEFT_API size_t weft_log_pending_count(const weft_log *log);

/* Highest contiguous seq held from `author` (32 bytes), 0 if none. */
WEFT_API uint64_t weft_log_seq(const weft_log *log, const uint8_t *author);

/* Encodes the version vector (docs/FORMAT.md, "Version vector") into dst.
 * OUT: *out_len. Returns 0 or WEFT_ENOSPACE; weft_log_vv_bound() bytes
 * always suffice. */
WEFT_API size_t weft_log_vv_bound(const weft_log *log);
WEFT_API int weft_log_vv_encode(const weft_log *log, uint8_t *dst, size_t dst_cap, size_t *out_len);

/* Called by weft_log_diff for each change the other side lacks, in the order
 * they were committed (a causal order). `record` is NULL when the log does
 * not keep records: the caller then loads (author, seq) from its storage.
 * A non-zero return stops the diff and is returned by it. */
typedef int (*weft_log_emit_fn)(void *ud, const uint8_t *record, size_t len, const uint8_t *author,
                                uint64_t seq);

/* Emits every committed change past the encoded version vector `vv` (an
 * empty vector, vv_len 0, means everything). Returns 0, a vector decoding
 * error, WEFT_ETRIMMED when the holder of vv lacks changes of some author
 * that this log no longer holds (below a loaded snapshot, or forgotten:
 * weft_log_forget; nothing is emitted then: send a snapshot and the diff
 * from its vector instead), or the first non-zero value emit returned. */
WEFT_API int weft_log_diff(const weft_log *log, const uint8_t *vv, size_t vv_len,
                           weft_log_emit_fn emit, void *ud);

/* weft_log_diff that leaves out, without an error, what the log no longer
 * holds: for a caller that sends that prefix some other way (its outbox of
 * unacknowledged changes, a snapshot). */
WEFT_API int weft_log_diff_held(const weft_log *log, const uint8_t *vv, size_t vv_len,
                                weft_log_emit_fn emit, void *ud);

/* ---- bounded history (docs/FORMAT.md §7, "Forgetting below a snapshot") ----
 *
 * A log can drop what it keeps per change (hash, clock, record) below a
 * version vector that a snapshot covers, keeping per author its head and
 * its last few changes, so memory follows the number of
 * authors, not the history. A change below an author's base (the highest
 * seq forgotten) is then a DUPLICATE without comparison (§7 rule 2), and a
 * diff from a vector below it is WEFT_ETRIMMED. */
#define WEFT_LOG_FORGET_KEEP 64

/* Forgets, for each author of vv, the changes with seq <= min(vv's seq,
 * head - keep); parked changes stay. keep: WEFT_LOG_FORGET_KEEP unless a
 * test wants less (the last hashes let a fork just below the head still
 * be told from a duplicate). Kept records move to one fresh allocation.
 * Returns 0, a vector decoding error or WEFT_ENOMEM (then the log is
 * unchanged). */
WEFT_API int weft_log_forget(weft_log *log, const uint8_t *vv, size_t vv_len, uint64_t keep);

/* Starts an author's chain at seq (its change seq has `hash` and last op id
 * lamport_end; everything before it counts as held), as a snapshot load
 * does: for a relay reopening a log whose prefix it trimmed. Returns 0,
 * WEFT_EINVAL (seq 0), WEFT_ESTATE (the author has changes already) or
 * WEFT_ENOMEM. */
WEFT_API int weft_log_restore(weft_log *log, const uint8_t *author, uint64_t seq,
                              const uint8_t *hash, uint64_t lamport_end);

/* The hash and last op id of the author's change seq. OUT: hash (32
 * bytes), *lamport_end. Returns 0, WEFT_ENOTFOUND (not held, or not yet)
 * or WEFT_ETRIMMED (below the author's base; the head itself is always
 * known). */
WEFT_API int weft_log_entry(const weft_log *log, const uint8_t *author, uint64_t seq,
                            uint8_t hash[32], uint64_t *lamport_end);

/* The highest seq of the author this log holds no entry for (0: it holds
 * the whole chain, or does not know the author). */
WEFT_API uint64_t weft_log_base(const weft_log *log, const uint8_t *author);

/* Checks an encoded version vector: entries (author[32], varint seq >= 1)
 * with authors strictly ascending. Returns 0, WEFT_ETRUNCATED or
 * WEFT_EMALFORMED. */
WEFT_API int weft_vv_check(const uint8_t *vv, size_t vv_len);

/* Walks a vector that weft_vv_check accepted. *pos starts at 0. Returns 1
 * with *author (32 bytes, borrowed from vv) and *seq filled, 0 at the end. */
WEFT_API int weft_vv_next(const uint8_t *vv, size_t vv_len, size_t *pos, const uint8_t **author,
                          uint64_t *seq);

#ifdef __cplusplus
}
#endif
#endif
