/*
 * Relay test harness: starts weft-relay as a child process on a free
 * loopback port (bounded waits; always stopped, even when a check fails),
 * and a sync client built on the core (a V1 replica, a token, the
 * HELLO/CHALLENGE/PROOF handshake, CHANGES and ACK bookkeeping).
 */
#ifndef WEFT_TEST_RELAY_HARNESS_H
#define WEFT_TEST_RELAY_HARNESS_H

#include "wsclient.h"

#include "weft/weft.h"
#include "weft/sodium.h"

#include <stdio.h>
#include <sys/types.h>

extern int check_failures;
#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            check_failures++;                                                        \
        }                                                                            \
    } while (0)

extern weft_crypto_backend BE;
void harness_init(void);

/* A named test; run_relay_tests runs them all (or only argv's `only`, when
 * not NULL), prints "N passed, M failed" and returns the exit status. */
typedef struct relay_test {
    const char *name;
    void (*fn)(void);
} relay_test;
int run_relay_tests(const relay_test *tests, size_t n, const char *only);

typedef struct relay_proc {
    pid_t pid;
    int port;
    char dir[256]; /* data directory (file storage), removed by relay_cleanup */
} relay_proc;

/* Starts `exe` with --listen 127.0.0.1:<free port> --storage <storage>
 * [--data dir] and extra args (NULL-terminated), and waits (<= 5 s) until
 * /healthz answers. port 0 picks a free port. Returns 0 or -1. */
int relay_spawn(relay_proc *p, const char *exe, const char *storage, int port,
                const char *const *extra);
/* Sends sig and waits up to timeout_ms for the exit (then SIGKILL). Returns
 * the exit status (128 + signal for a signal), or -1. */
int relay_stop(relay_proc *p, int sig, int timeout_ms);
/* HAProxy (deploy/haproxy.cfg) in front of relays, for tests and benches. */
typedef struct haproxy_proc {
    pid_t pid;
    int port;     /* its frontend, on 127.0.0.1 */
    char cfg[64]; /* the rewritten config, removed by haproxy_stop */
} haproxy_proc;
/* Starts haproxy on cfg_template (deploy/haproxy.cfg) with its frontend on
 * a free port, its servers on ports[0..n) and a small maxconn, and waits
 * (<= 5 s) until /readyz answers 200 through it. WEFT_TEST_HAPROXY_LOG=1
 * keeps its output. Returns 0 or -1. */
int haproxy_spawn(haproxy_proc *p, const char *cfg_template, const int *ports, int n);
void haproxy_stop(haproxy_proc *p);

/* A throwaway CA and a certificate for localhost and 127.0.0.1, made with
 * the openssl CLI in a new directory dir: dir/ca.pem, dir/relay.pem,
 * dir/relay.key. Returns 0 or -1 (no openssl). */
int tls_make_cert(char dir[256]);

/* A free loopback port below the ephemeral range, or -1. */
int free_port(void);
/* A fresh temporary directory for file storage. */
void relay_tmpdir(relay_proc *p);
void relay_cleanup(relay_proc *p);

/* A relay's metric value from GET /metrics (-1 when absent). `name` is the
 * whole series, e.g. "weft_relay_rejections_total{reason=\"RIGHTS\"}". */
double relay_metric(int port, const char *name);

/* redis-server for the scale-out tests: 127.0.0.1, its own temporary
 * directory, AOF with appendfsync always; it dies with the test process. */
typedef struct redis_proc {
    pid_t pid;
    int port;                /* 0 before the first start: a free port is picked */
    char dir[256];           /* made by the first start, removed by redis_cleanup */
    const char *appendfsync; /* NULL: "always" */
    int replicaof;           /* 0, or the port of the primary this one replicates */
    int cluster_timeout_ms;  /* > 0: a Redis Cluster node with this cluster-node-timeout */
} redis_proc;
/* Sends one inline command on a fresh connection and reads its reply (up to
 * cap - 1 bytes, NUL-terminated). Returns the bytes read, or -1. */
int redis_query(int port, const char *cmd, char *out, size_t cap);
/* Sends one inline command (e.g. "REPLICAOF NO ONE") on a fresh
 * connection; 1 when the answer starts with `want`. */
int redis_inline(int port, const char *cmd, const char *want);
/* Starts (or restarts, same port and directory: on its AOF) and waits
 * (<= 10 s) until it answers PING with PONG. Returns 0 or -1. */
int redis_spawn(redis_proc *p);
/* kill -9 and wait. */
void redis_kill(redis_proc *p);
void redis_cleanup(redis_proc *p);
/* A Redis Cluster of n nodes (n / 2 primaries, each with a replica:
 * redis-cli --cluster create) with cluster-node-timeout timeout_ms; waits
 * (<= 20 s) until every node says cluster_state:ok and every primary's
 * replica is attached. Returns 0 or -1 (the caller cleans the nodes up). */
int redis_cluster_spawn(redis_proc *nodes, int n, int timeout_ms);
int redis_cluster_ok(int port);
int redis_is_primary(int port); /* ROLE says master */

/* Waits until GET /readyz answers `status` (200 or 503). Returns 1 when it
 * did within timeout_ms. */
int relay_wait_ready(int port, int status, int timeout_ms);

typedef struct ident {
    uint8_t pk[32], sk[64];
} ident;
void ident_new(ident *id);

/* Relay flags that lift the per-connection and per-address limits, for
 * loads whose clients all share one loopback address (benches). */
#define RELAY_LOOPBACK_LOAD_FLAGS                                                              \
    "--conn-rate", "0", "--conn-verify-rate", "0", "--ip-accept-rate", "0", "--ip-hello-rate", \
        "0", "--ip-space-rate", "0", "--ip-verify-rate", "0", "--ip-conns", "0"

typedef struct tclient {
    wsc ws;
    ident me;
    uint8_t space[32];
    uint8_t token[WEFT_TOKEN_MAX_BYTES];
    size_t token_len;
    weft_replica *rep;
    weft_crypto crypto;
    weft_suite_v1 st;
    int apply;         /* apply received changes to rep (default 1) */
    int rcvbuf;        /* > 0: SO_RCVBUF of the connection (a small one makes a slow reader) */
    uint64_t head;     /* the CHALLENGE's head */
    uint64_t cursor;   /* highest relay sequence seen (ACK cursor or CHANGES) */
    int synced;        /* an ACK with cursor >= head arrived */
    uint64_t received; /* change records received */
    uint64_t sent;     /* own changes sent */
    uint64_t acked;    /* own changes acked STORED or DUPLICATE, in order */
    uint64_t n_stored, n_dup, n_parked, n_rejected;
    uint64_t last_rseq;   /* value of the last STORED entry */
    uint32_t last_reject; /* code of the last REJECTED entry */
    uint32_t err_code;    /* last ERROR frame */
    int err_fatal, closed;
    uint8_t last_peer[32]; /* last SIGNAL/PRESENCE sender */
    size_t n_signals;
    uint8_t *relay_vv;        /* the CHALLENGE's vector */
    const uint8_t *admission; /* sent in HELLO when set (--admit signed:KEY) */
    size_t admission_len;
    size_t relay_vv_len;
    /* Own seqs of the changes sent and not yet acked, in order (0 for
     * others' changes forwarded), and the highest own seq acked durable. */
    uint64_t *inflight;
    size_t in_head, in_tail, in_cap;
    uint64_t acked_seq;
    /* Versions (PROTOCOL.md §6): level 0 sends a plain HELLO, as a client
     * that predates negotiation; otherwise a versions block with it. */
    uint32_t level;
    int got_versions; /* the CHALLENGE answered with a block: relay_versions */
    weft_versions relay_versions;
    uint64_t level_records;  /* level records received (verified, not applied) */
    int members;             /* HELLO sets WEFT_HELLO_MEMBERS: membership records come */
    int by_grant;            /* HELLO sets WEFT_HELLO_GRANT: token holds a claim, or nothing */
    uint64_t member_records; /* membership records received (verified, not applied) */
    uint32_t space_level;    /* the highest level record received */
    /* Snapshot frames from the relay: the last SNAPSHOT (its record
     * copied, malloc'd; NULL when it had none) and the last SNAPSHOT_ACK. */
    uint8_t *snap, *snap_token;
    size_t snap_len, snap_token_len;
    uint64_t snap_rseq;
    uint8_t snap_flags;
    size_t n_snapshots;
    uint8_t snap_ack_status;
    uint64_t snap_ack_value;
    size_t n_snap_acks;
} tclient;

/* A client of space owner->pk with a token of `rights` for a new key
 * (token_owner: who signs the token; normally the owner). */
int tc_init(tclient *c, const ident *owner, const ident *token_signer, uint8_t rights,
            const uint8_t *content_key);
/* Connects and runs the handshake; with_vv sends the replica's vector.
 * Returns 0 once the CHALLENGE was answered (not yet synced), else -1. */
int tc_connect(tclient *c, int port, int with_vv, int has_cursor, uint64_t cursor);
/* Connects and sends raw bytes as the first message (no handshake). */
int tc_connect_raw(tclient *c, int port);
/* Handles one incoming message. Returns 0, WSC_TIMEOUT or WSC_CLOSED. */
int tc_pump(tclient *c, int timeout_ms);
/* Pumps until pred(c, arg) or the timeout. Returns 1 when pred held. */
int tc_wait(tclient *c, int (*pred)(tclient *, uint64_t), uint64_t arg, int timeout_ms);
int until_synced(tclient *c, uint64_t unused);
int until_received(tclient *c, uint64_t n);
int until_acked(tclient *c, uint64_t n);
int until_error(tclient *c, uint64_t unused);
int until_closed(tclient *c, uint64_t unused);
int until_snapshots(tclient *c, uint64_t n);     /* n SNAPSHOT frames received */
int until_snapshot_acks(tclient *c, uint64_t n); /* n SNAPSHOT_ACK frames received */
/* Makes n changes (one put each, a value of value_bytes) and sends them in
 * frames of at most per_frame changes. Returns 0 or -1. */
int tc_write(tclient *c, int n, size_t value_bytes, int per_frame);
void tc_free(tclient *c);
/* Sends one record (a level record, say) in a CHANGES frame of its own,
 * counted as sent: its ACK entry is matched in order. Returns 0 or -1. */
int tc_send_record(tclient *c, const uint8_t *rec, size_t len);
/* Sends every change the replica holds past the relay's CHALLENGE vector
 * (after a reconnect). Returns the number of changes sent, or -1. */
long tc_push_missing(tclient *c);
/* The replica's contiguous seq of `author`. */
uint64_t tc_seq_of(tclient *c, const uint8_t *author);

int same_state(tclient *a, tclient *b);

#endif
