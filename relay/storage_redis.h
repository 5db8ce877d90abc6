/*
 * Redis storage for scale-out: N stateless relays share one Redis, which
 * numbers every space's changes and tells every relay about new ones
 * (docs/SCALING.md has the key scheme and what an ACK means).
 *
 * Unlike file and memory storage this backend is asynchronous: every call
 * queues Redis commands and returns at once; its callback runs later, from
 * the libwebsockets event loop, when Redis has answered. Nothing here ever
 * blocks the loop: the two Redis sockets (commands, and pub/sub) are adopted
 * into the lws context as raw file descriptors and hiredis reads or writes
 * them only when lws says they are ready.
 *
 * Invariants: a call that returns non-zero never calls its callback; a call
 * that returns 0 calls it exactly once (with a negative rc when Redis went
 * away first: then nothing can be assumed about the write, as after a
 * crash, and nothing may be acked). Relay sequences in a space are 1, 2, 3...
 * in the order Redis applied the appends, whichever relay sent them.
 */
#ifndef WEFT_RELAY_STORAGE_REDIS_H
#define WEFT_RELAY_STORAGE_REDIS_H

#include <stddef.h>
#include <stdint.h>

struct lws_context;

typedef struct redis_store redis_store;

/* Appends: rseq[i] is record i's relay sequence; dup[i] is 0 when record i
 * was stored now, REDIS_APPEND_DUP when a record with the same dedupe key
 * was stored before (rseq[i] is then that one's), REDIS_APPEND_FORK when
 * a record with another dedupe key holds its fork key (rseq[i] is 0; the
 * record was not stored). rc < 0: the appends may or may not have
 * happened; rseq/dup are NULL. */
#define REDIS_APPEND_DUP  1
#define REDIS_APPEND_FORK 2
/* A fork key: the change's author (32 bytes) and seq (u64 big-endian). */
#define REDIS_FORK_KEY 40
typedef void (*redis_append_fn)(void *ud, int rc, const uint64_t *rseq, const uint8_t *dup,
                                size_t n);
/* Reads: n records in relay-sequence order, bytes borrowed for the call. */
typedef void (*redis_read_fn)(void *ud, int rc, const uint64_t *rseq, const uint8_t *const *recs,
                              const size_t *lens, size_t n);
/* A space's head (highest relay sequence, 0: empty). */
typedef void (*redis_head_fn)(void *ud, int rc, uint64_t head);
/* Some relay appended to a subscribed space up to head. head 0 means "may
 * have missed some": the pub/sub link was re-established, re-read. */
typedef void (*redis_new_fn)(void *ud, const uint8_t space[32], uint64_t head);
/* A message some relay published on a subscribed space's ephemeral channel
 * (redis_store_publish); the bytes are borrowed for the call. */
typedef void (*redis_eph_fn)(void *ud, const uint8_t space[32], const uint8_t *msg, size_t len);

typedef struct redis_store_config {
    struct lws_context *ctx; /* the loop that drives hiredis */
    /* redis://host:port (IPv4 or a name; default port 6379), or a Redis
     * Cluster's seed nodes: redis+cluster://host:port[,host:port...] (every
     * command goes to the primary of its space's slot; docs/SCALING.md). */
    const char *url;
    redis_new_fn on_new; /* may be NULL */
    redis_eph_fn on_eph; /* may be NULL */
    void *ud;
    int reconnect_ms; /* delay before reconnecting after Redis went away (0: 200) */
    /* Durability of appends: with wait_replicas > 0, each append is
     * followed by WAIT wait_replicas wait_ms, its callback gets rc 0 only
     * when that many replicas acknowledged it, and the new head is
     * PUBLISHed only then (so no relay reads a sequence a failover could
     * give to another change). 0: the reply of the script is enough. */
    int wait_replicas;
    int wait_ms; /* 0: 2000 */
} redis_store_config;

/* Round trips of appends (sent until answered, the WAIT included) and the
 * appends whose WAIT saw too few replicas (answered with rc < 0). */
#define REDIS_LATENCY_BUCKETS 10
/* The buckets' upper bounds in seconds, as an initializer. */
#define REDIS_LATENCY_BOUNDS \
    { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0 }
typedef struct redis_store_stats {
    uint64_t buckets[REDIS_LATENCY_BUCKETS + 1]; /* last: +Inf */
    uint64_t count;
    double sum_s;
    uint64_t wait_short;
    uint64_t redirects; /* Redis Cluster MOVED and ASK answers */
} redis_store_stats;

/* The store's counters (borrowed; they live as long as the store). */
const redis_store_stats *redis_store_stats_of(const redis_store *st);

/* Parses redis://host[:port][/]. OUT: host (NUL-terminated), *port.
 * Returns 0 or WEFT_EINVAL. */
int redis_url_parse(const char *url, char *host, size_t host_cap, int *port);

/* Starts connecting (returns before the connection is up; commands issued
 * meanwhile wait in hiredis' buffer). OUT: *out. Returns 0 or a WEFT_E code. */
int redis_store_new(redis_store **out, const redis_store_config *cfg);

/* Fails every pending callback (rc < 0) and frees. NULL is a no-op. */
void redis_store_free(redis_store *st);

/* 1 when both connections are up (commands and pub/sub); on a cluster,
 * when the slot map is known, the pub/sub link is up and some primary
 * answers (one failed primary's spaces fail until its replica takes over,
 * the others carry on). */
int redis_store_connected(const redis_store *st);

/* Connections that came up again after having been up once (either link). */
uint64_t redis_store_reconnects(const redis_store *st);

/* Appends n records to a space atomically (one script: no other append
 * interleaves; with cfg.wait_replicas, acknowledged by that many replicas
 * before fn gets rc 0), deduplicated by keys[i] (the change hash) and refused as
 * forks by forks[i] (author and seq: at most one change per pair is ever
 * stored, whichever relay sent it). forks may be NULL (records that are
 * not changes: no fork check). */
int redis_store_append(redis_store *st, const uint8_t space[32], const uint8_t (*keys)[32],
                       const uint8_t (*forks)[REDIS_FORK_KEY], const uint8_t *const *recs,
                       const size_t *lens, size_t n, redis_append_fn fn, void *ud);

/* Reads up to max_n records with relay sequence > after. */
int redis_store_read(redis_store *st, const uint8_t space[32], uint64_t after, size_t max_n,
                     redis_read_fn fn, void *ud);

int redis_store_head(redis_store *st, const uint8_t space[32], redis_head_fn fn, void *ud);

/* Deletes a space's records (and snapshots) for good; fn gets head 0 on
 * success. */
int redis_store_delete(redis_store *st, const uint8_t space[32], redis_head_fn fn, void *ud);

/* Sealed snapshots (docs/SCALING.md, "Key scheme": weft:{hex}:snap, a hash
 * of the newest's base, the newest and the one before it, each in its
 * stored form, common/snapfile.h). snap_put stores blob as the newest
 * with one script (atomic): fn gets head 1 when stored, 0 when refused
 * (its base is below the newest held; an equal base replaces it). */
int redis_store_snap_put(redis_store *st, const uint8_t space[32], uint64_t base,
                         const uint8_t *blob, size_t len, redis_head_fn fn, void *ud);
/* The stored snapshots: blob[0] the newest, blob[1] the one before (NULL
 * when absent), borrowed for the call. */
typedef void (*redis_snap_fn)(void *ud, int rc, const uint8_t *const blob[2], const size_t len[2]);
int redis_store_snap_get(redis_store *st, const uint8_t space[32], redis_snap_fn fn, void *ud);

/* History (--keep-history): stores ckpt (common/trimfile.h) as the
 * space's trim checkpoint (weft:{hex}:trim) and drops the log's records up
 * to upto (XTRIM MINID), in one script; fn gets head 1 when done, 0 when
 * a cut at or past upto was made already. trim_get answers blob[0] = the
 * checkpoint (NULL: never trimmed), blob[1] = its trim point in decimal. */
int redis_store_trim(redis_store *st, const uint8_t space[32], uint64_t upto, const uint8_t *ckpt,
                     size_t len, redis_head_fn fn, void *ud);
int redis_store_trim_get(redis_store *st, const uint8_t space[32], redis_snap_fn fn, void *ud);

/* Rate limits shared by every relay: a sliding window per capability
 * token id (16 bytes), at most `limit` units in any window_ms, counted in
 * Redis by Redis' clock. fn gets allowed 1 (the n units were taken) or 0
 * (nothing taken). Callers decide what an error means (allowing is the
 * choice that keeps a Redis hiccup from stopping every writer). */
typedef void (*redis_rate_fn)(void *ud, int rc, int allowed);
int redis_store_rate_take(redis_store *st, const uint8_t space[32], const uint8_t id[16],
                          uint32_t n, uint64_t limit, uint32_t window_ms, redis_rate_fn fn,
                          void *ud);

/* Publishes msg on the space's ephemeral channel weft:{hex}:eph, fire and
 * forget (pub/sub delivers at most once, to the relays subscribed now).
 * Returns 0 when queued, else a WEFT_E code. */
int redis_store_publish(redis_store *st, const uint8_t space[32], const uint8_t *msg, size_t len);

/* Counted subscriptions to a space's channels: new-change notifications
 * (on_new) and ephemeral messages (on_eph). */
int redis_store_subscribe(redis_store *st, const uint8_t space[32]);
void redis_store_unsubscribe(redis_store *st, const uint8_t space[32]);

#endif
