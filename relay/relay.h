/*
 * weft-relay's shared state: configuration, the relay object every module
 * hangs off, metrics and logging.
 *
 * The relay is one thread around one libwebsockets event loop. Nothing is
 * locked because nothing runs concurrently: callbacks run one at a time, and
 * the work that must see a whole loop turn (group commit, ACKs, fan-out) runs
 * between two turns in relay_after_turn(). Nothing lives outside the relay
 * object but main()'s own: every cache, buffer and flag belongs to the
 * relay, a session or a space.
 *
 * Modules, one line each; calls run one way only, down this list (main →
 * server → http/session → space → storage), and what goes back up goes
 * through callbacks the upper side set (space_events, storage_events,
 * waiters):
 *   main.c            flags and environment, picks the storage, runs the server
 *   server.c          the lws context, the protocol callback, frames, the turn
 *   http.c            REST log API, probes, metrics and static files
 *   pubsub.c          cross-relay SIGNAL/PRESENCE and deletes over Redis
 *   session.c         per-connection state: queue, held ACKs, subscriptions
 *   ratelimit.c       token buckets: per connection, (space, token id), address
 *   ratelimit_redis.c the per-token limit shared by every relay through Redis
 *   admit.c           operator admission: which spaces this relay hosts
 *   idem.c            a space's cache of POST answers by Idempotency-Key
 *   blobs.c           files: encrypted chunks on disk, leases, signed URLs
 *   space.c           per-space log, index and subscribers; checks changes
 *   storage.h/.c      the storage interface every backend implements; batches
 *   storage_local.c   that interface over a local log driver, inline
 *   storage_file.c    log driver: segment files, fdatasync (the default)
 *   storage_memory.c  log driver: the heap (tests, and Redis' local copy)
 *   ingest.c          that interface on Redis, asynchronous; the Redis link
 *   storage_redis.c   the Redis client (hiredis on the lws loop)
 *   ingest_none.c     stands in for the Redis files when built without hiredis
 *   admin.c           GET /admin/spaces: a bounded top-N of open spaces
 *   tls.c             TLS options, handshake counters, certificate reload
 *   metrics.c         Prometheus exposition, the log line, clocks
 *   waiter.h          cancellable references to whoever waits for an answer
 */
#ifndef WEFT_RELAY_H
#define WEFT_RELAY_H

#include "weft/weft.h"
#include "weft/sodium.h"

#include "idtable.h"
#include "waiter.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

struct lws_context;
struct storage;
struct redis_store;
struct space;
struct session;
struct server_state;
typedef struct proof_cache proof_cache;

/* How a space tells its owner (the server, which sets these at start)
 * about what concerns its sessions, without the space knowing them. */
typedef struct space_events {
    /* The space is going (deleted, or dropped after a storage failure):
     * fail its sessions with code and forget the space. */
    void (*closing)(void *ud, struct space *sp, uint32_t code);
    /* Fewer appends in flight than --redis-max-inflight again: sessions
     * paused for it may read again. */
    void (*unthrottle)(void *ud, struct space *sp);
    /* An ephemeral frame (stamped) from another relay for the space's
     * sessions: the one(s) with key peer, or all when broadcast. */
    void (*ephemeral)(void *ud, struct space *sp, const uint8_t peer[32], int broadcast,
                      const uint8_t *frame, size_t len);
    /* The space's format level rose to `level` (a level record was
     * stored): sessions whose client reads less must be told to update. */
    void (*level)(void *ud, struct space *sp, uint32_t level);
    /* The space's log was trimmed up to relay sequence `trimmed`: sessions
     * whose next record is at or below it must load the snapshot. */
    void (*trimmed)(void *ud, struct space *sp, uint64_t trimmed);
    /* A revocation was stored (weft/members.h): sessions whose key is now
     * removed must be refused and closed. */
    void (*revoked)(void *ud, struct space *sp, const uint8_t key[32]);
    void *ud;
} space_events;

typedef struct relay_config {
    char listen_host[64];
    int port;
    const char *data_dir;           /* file storage root */
    const char *storage;            /* "file", "memory" or "redis" */
    const char *redis_url;          /* redis://host:port (storage redis) */
    uint32_t redis_max_inflight;    /* records per space sent to Redis, not yet confirmed */
    uint32_t redis_wait_replicas;   /* replicas that must hold an append before its ACK */
    uint32_t redis_wait_ms;         /* ... within this long (else not acked) */
    size_t segment_bytes;           /* file storage segment size (0: 64 MiB) */
    const char *static_dir;         /* NULL: no static files */
    const char *tls_cert, *tls_key; /* PEM files: serve wss:// and https:// (tls.h) */
    const char *admin_token;        /* GET /admin/spaces needs it as a bearer (admin.h) */
    size_t max_frame;               /* bytes of one incoming WebSocket message */
    size_t max_snapshot;            /* bytes of one sealed snapshot (REST upload) */
    uint32_t max_changes;           /* records per CHANGES frame or POST */
    size_t max_queue;               /* unsent bytes per connection before it is dropped */
    uint32_t max_conns;             /* open connections (WebSocket and HTTP) */
    double conn_rate, conn_burst;   /* frames per second per connection */
    double token_rate, token_burst; /* changes per second per (space, token id) */
    /* Per connection: changes submitted (each may need a signature check). */
    double conn_verify_rate, conn_verify_burst;
    /* Per client address (ratelimit.h): new TCP connections, HELLOs, spaces
     * opened (not in memory yet) and changes submitted, per second; open
     * WebSockets. */
    double ip_accept_rate, ip_accept_burst;
    double ip_hello_rate, ip_hello_burst;
    double ip_space_rate, ip_space_burst;
    double ip_verify_rate, ip_verify_burst;
    uint32_t ip_conns;
    /* Admission and per-space quotas (admit.h, docs/RELAY.md). */
    const char *admit;              /* "any" or "owners:FILE" */
    uint64_t space_bytes;           /* bytes of records a space may store (0: no quota) */
    double space_rate, space_burst; /* changes per second per space */
    uint32_t space_conns;           /* live connections per space (0: no limit) */
    int handshake_secs;             /* HELLO + PROOF must arrive within */
    double eph_rate, eph_burst;     /* SIGNAL/PRESENCE bytes per second per space */
    int idle_unload_secs;           /* an unused space is closed after (0: never) */
    uint32_t format_level;          /* highest format level accepted and announced */
    /* --keep-history (docs/RELAY.md, "History"): "all", "none" or a
     * duration; parsed into keep_history_s: -1 keeps everything, else
     * records covered by the newest snapshot and older than this many
     * seconds are trimmed. */
    const char *keep_history;
    int64_t keep_history_s;
    /* --snapshot-wanted: admin sessions are told (non-fatal ERROR
     * SNAPSHOT_WANTED) once the durable log is this many records past the
     * newest snapshot, and again after as many more (0: never). */
    uint32_t snapshot_wanted;
    /* Files (blobs.h, docs/RELAY.md "Files"). */
    const char *blob_dir; /* the blob store (default <data_dir>/blobs) */
    int blob_grace_secs;  /* a blob whose lease is not renewed for this long is deleted */
    int blob_url_secs;    /* how long a signed URL minted now stays valid */
    int verbose;
} relay_config;

/* Rejection reasons are the protocol's error codes (weft/protocol.h). */
#define RELAY_N_REASONS     64
#define RELAY_FSYNC_BUCKETS 12

/* Why a snapshot upload was refused: the label of
 * weft_relay_snapshots_refused_total (bounded, one per reason). */
#define RELAY_SNAP_REASONS(X)                                                   \
    X(SIGNATURE, "signature") /* the publisher's signature does not hold */     \
    X(SPACE, "space")         /* a snapshot of another space */                 \
    X(UNCOVERED, "uncovered") /* names changes the relay does not hold (yet) */ \
    X(RIGHTS, "rights")       /* the publisher is not a proven admin */         \
    X(TOO_BIG, "too_big")     /* over --max-snapshot (or --max-frame on WS) */  \
    X(MALFORMED, "malformed") /* not a sealed snapshot */                       \
    X(STALE, "stale")         /* older than the newest held */

/* Why a file request was refused: the label of
 * weft_relay_blob_refused_total (bounded, one per reason). */
#define RELAY_BLOB_REASONS(X)                                                \
    X(HASH, "hash")       /* a chunk's bytes do not match Weft-Chunk-Hash */ \
    X(QUOTA, "quota")     /* the space's bytes would pass its quota */       \
    X(TOO_BIG, "too_big") /* a chunk over --max-frame */                     \
    X(RIGHTS, "rights")   /* token, proof or rights refused */               \
    X(URL, "url")         /* a signed URL forged or malformed */             \
    X(EXPIRED, "expired") /* a signed URL past its expiry */                 \
    X(RANGE, "range")     /* a Range outside the chunk */                    \
    X(MISSING, "missing") /* a chunk that is not stored */                   \
    X(BAD, "bad")         /* a malformed request */

enum {
#define RELAY_X_BLOB(name, label) RELAY_BLOB_##name,
    RELAY_BLOB_REASONS(RELAY_X_BLOB)
#undef RELAY_X_BLOB
        RELAY_BLOB_N
};

enum {
#define RELAY_X_SNAP(name, label) RELAY_SNAP_##name,
    RELAY_SNAP_REASONS(RELAY_X_SNAP)
#undef RELAY_X_SNAP
        RELAY_SNAP_N
};

typedef struct relay_metrics {
    uint64_t conns_open; /* accepted connections, WebSocket and HTTP, not closed yet */
    uint64_t conns_total, ws_open, http_requests;
    uint64_t spaces_open;
    uint64_t spaces_unloaded; /* idle spaces closed (--idle-unload) */
    uint64_t parked_expired;  /* parked changes dropped after waiting too long */
    uint64_t changes_in, changes_stored, changes_dup, changes_out;
    uint64_t bytes_in, bytes_out, frames_in, frames_out;
    uint64_t rejections[RELAY_N_REASONS];
    uint64_t fsync_buckets[RELAY_FSYNC_BUCKETS + 1]; /* last = +Inf */
    uint64_t fsync_count;
    double fsync_sum_s;
    uint64_t slow_dropped;
    uint64_t redis_inflight;        /* records sent to Redis, not yet confirmed */
    uint64_t redis_append_failures; /* batches Redis did not confirm */
    uint64_t redis_forks_refused;   /* changes Redis refused: (author, seq) held */
    uint64_t storage_sync_failures; /* group-commit syncs that failed (space reopened) */
    uint64_t redis_spaces_dropped;  /* spaces reloaded after a failure */
    uint64_t redis_pauses;          /* sessions paused by --redis-max-inflight */
    uint64_t limited[16];           /* refusals by limit (rl_limit, ratelimit.h) */
    uint64_t proofs_replayed;       /* REST proofs refused: already used */
    uint64_t idem_conflicts;        /* POSTs refused 422: a key reused for another body */
    uint64_t eph_bytes_held;        /* bytes of shared ephemeral frames alive (gauge) */
    uint64_t eph_frames;            /* ephemeral frames accepted for fan-out */
    uint64_t eph_dropped_rate;      /* ... dropped: over the space's --eph-rate */
    uint64_t eph_dropped_slow;      /* ... not queued for a reader, or dropped from its queue */
    uint64_t snapshots_stored;      /* sealed snapshots stored (durable) */
    uint64_t snapshots_served;      /* ... sent to a client (REST or SNAPSHOT frame) */
    uint64_t snapshots_damaged;     /* ... skipped on read: CRC, length or verify failed */
    uint64_t snapshots_refused[RELAY_SNAP_N];          /* uploads refused, by reason */
    uint64_t tls_handshakes_ok, tls_handshakes_failed; /* tls.c */
    uint64_t tls_reloads, tls_reload_failures;         /* certificate reloads on SIGHUP */
    uint64_t trims;                                    /* log prefixes trimmed (--keep-history) */
    uint64_t snapshots_wanted; /* admin sessions told SNAPSHOT_WANTED (--snapshot-wanted) */
    uint64_t trimmed_records, trimmed_bytes; /* ... records and their bytes dropped */
    uint64_t trim_failures;                  /* trims that failed (nothing lost; retried) */
    uint64_t blob_chunks_stored;             /* file chunks stored durably */
    uint64_t blob_bytes_in, blob_bytes_out;  /* file chunk bytes received, served */
    uint64_t blob_chunks_served;             /* file chunks (or ranges of them) served */
    uint64_t blobs_deleted;                  /* blobs deleted for want of a renewed lease */
    uint64_t blob_refused[RELAY_BLOB_N];     /* file requests refused, by reason */
} relay_metrics;

/* Upper bounds of the fsync histogram buckets, in seconds. */
extern const double relay_fsync_bounds[RELAY_FSYNC_BUCKETS];

typedef struct relay {
    relay_config cfg;
    struct lws_context *ctx;
    struct storage *storage;   /* where records become durable (storage.h) */
    struct redis_store *redis; /* the Redis link: NULL unless --storage redis */
    uint8_t instance[8];       /* random: tells this relay's pub/sub messages apart */
    weft_crypto_backend be;
    relay_metrics m;
    /* Spaces by id (space.c). */
    weft__idtab spaces;    /* id -> struct space * */
    uint8_t hash_seed[16]; /* random at start: keys every table of wire-chosen ids */
    /* Every WebSocket session (session.c). */
    struct session *sessions;
    space_events space_ev; /* set by the server */
    /* Sessions holding ACKs until the end-of-turn flush (session.c). */
    struct session *held;
    /* Spaces whose durable head moved this turn (space.c). */
    struct space *woken;
    uint64_t next_session_id;
    struct server_state *srv;     /* the server's timer and scratch (server.c) */
    volatile int stop;            /* set by SIGTERM/SIGINT */
    int draining;                 /* shutting down: refuse new connections */
    struct rl_tab *token_buckets; /* per (space, token id) (ratelimit.h) */
    struct rl_tab *ip_limits;     /* per client address (ratelimit.h) */
    struct admit *admit;          /* which spaces are hosted: NULL = any (admit.h) */
    volatile int reload;          /* set by SIGHUP: re-read the admission list */
    proof_cache *proofs;          /* REST proofs accepted lately (http.c) */
    int tls_pending_idx;          /* OpenSSL ex_data slot of handshakes in progress (tls.c) */
    struct blob_store *blobs;     /* files (blobs.h) */
} relay;

/* One line per event worth logging, to stderr, with a UTC timestamp. */
void relay_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Monotonic and wall clocks. */
uint64_t relay_now_us(void);
uint64_t relay_unix_s(void);

/* Counts a rejection by protocol error code. */
static inline void relay_reject(relay *r, uint32_t code) {
    r->m.rejections[code < RELAY_N_REASONS ? code : 0]++;
}

/* Records one fsync's latency. */
void relay_metrics_fsync(relay *r, double seconds);

/* Renders the Prometheus text exposition into a malloc'd buffer. OUT: *len.
 * Returns NULL when out of memory. */
char *relay_metrics_render(const relay *r, size_t *len);

#endif
