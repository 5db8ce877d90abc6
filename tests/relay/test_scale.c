/*
 * weft-relay scale-out on Redis, end to end (docs/SCALING.md): the test
 * starts its own redis-server (loopback, a free port, a temporary
 * directory, AOF with appendfsync always) and weft-relay processes with
 * --storage redis on it, and talks to them with real WebSocket and HTTP
 * clients.
 *
 *   converge     three relays, writers and readers spread over them: every
 *                client gets every change, all states are equal, writers get
 *                none of their own changes back, and the three relays serve
 *                the same log (same records, same relay sequences);
 *   kill_relay   a relay is killed with -9 mid-traffic; its writers resend
 *                to another relay; every acked change is on both survivors;
 *   kill_redis   Redis is killed with -9 mid-traffic: the relays say not
 *                ready, ack nothing more, and reconnect by themselves when
 *                it restarts on its AOF, where every acked change still is;
 *   ephemeral    SIGNAL and PRESENCE reach peers on other relays, stamped;
 *   shared_rate  one token's rate limit holds across two relays;
 *   rest         POST answers after Redis confirmed, GET on another relay;
 *   bounded      --redis-max-inflight pauses a writer without losing acks;
 *   delete_space a DELETE through one relay closes the space on the others;
 *   redis_late   a HELLO that comes while Redis is away waits, and is
 *                answered once Redis is back;
 *   replicas     --redis-wait-replicas: an ACK means a replica holds the
 *                change; a failover to it loses nothing acked;
 *   forks        one author's two devices send different seq-1 changes to
 *                two relays at once: one is stored, the other refused
 *                (CHAIN) on either relay, and both relays serve one log.
 *
 *   test_scale PATH_TO_WEFT_RELAY [test]
 *
 * Every wait is bounded; redis-server dies with the test (PDEATHSIG), and
 * the relays are killed at exit.
 */
#include "harness.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define N_RELAYS 3

static const char *exe;
static ident owner;
static uint8_t content_key[32];
static redis_proc rds;
static relay_proc relays[N_RELAYS];
static char redis_url[64];

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The end of a test: every relay still up must drain and exit 0 (under
 * ASan that includes no leak). */
static void stop_all(void) {
    for (int i = 0; i < N_RELAYS; i++)
        if (relays[i].pid > 0) {
            int st = relay_stop(&relays[i], SIGTERM, 8000);
            if (st != 0) fprintf(stderr, "relay %d exited with %d\n", i, st);
            CHECK(st == 0);
        }
    redis_cleanup(&rds);
}

static void kill_all(void) {
    for (int i = 0; i < N_RELAYS; i++)
        relay_stop(&relays[i], SIGKILL, 2000);
    redis_cleanup(&rds);
}

static int spawn_relays(int n, int port, const char *const *extra);

/* A fresh Redis and n relays on it (extra: more relay flags). */
static int start_cluster(int n, const char *const *extra) {
    kill_all();
    memset(&rds, 0, sizeof rds);
    if (redis_spawn(&rds)) {
        fprintf(stderr, "cannot start redis-server (tools/setup installs it)\n");
        check_failures++;
        return -1;
    }
    return spawn_relays(n, rds.port, extra);
}

/* n relays on the Redis at port (extra: more relay flags). */
static int spawn_relays(int n, int port, const char *const *extra) {
    snprintf(redis_url, sizeof redis_url, "redis://127.0.0.1:%d", port);
    const char *args[32] = {"--redis", redis_url};
    int k = 2;
    for (int i = 0; extra && extra[i] && k < 30; i++)
        args[k++] = extra[i];
    args[k] = NULL;
    for (int i = 0; i < n; i++) {
        memset(&relays[i], 0, sizeof relays[i]);
        if (relay_spawn(&relays[i], exe, "redis", 0, args) ||
            !relay_wait_ready(relays[i].port, 200, 5000)) {
            fprintf(stderr, "cannot start relay %d on redis\n", i);
            check_failures++;
            return -1;
        }
    }
    return 0;
}

static void drain(tclient *c) {
    while (tc_pump(c, 0) == 0)
        ;
}

static int until_all_acked(tclient *c, uint64_t u) {
    (void)u;
    return c->acked_seq >= c->sent;
}

/* One round of traffic: each writer that has fewer than 60 changes unacked
 * (and has sent fewer than `cap`) sends 3 more; then every ack is read. A
 * round that sent nothing waits a millisecond. */
static void traffic(tclient *w, int n, uint64_t cap) {
    int wrote = 0;
    for (int i = 0; i < n; i++) {
        if (w[i].sent < cap && w[i].sent - w[i].acked_seq < 60) {
            tc_write(&w[i], 3, 40, 3);
            wrote = 1;
        }
        drain(&w[i]);
    }
    if (!wrote) usleep(1000);
}

static uint64_t acked_sum(const tclient *w, int n) {
    uint64_t a = 0;
    for (int i = 0; i < n; i++)
        a += w[i].acked_seq;
    return a;
}

static int until_signals(tclient *c, uint64_t n) {
    return c->n_signals >= n;
}

/* Connects (with the replica's vector) and waits for the catch-up. */
static int join(tclient *c, int port) {
    wsc_close(&c->ws);
    if (tc_connect(c, port, 1, 0, 0)) return -1;
    return tc_wait(c, until_synced, 0, 10000) ? 0 : -1;
}

/* Connects again and resends what the relay lacks. What the CHALLENGE's
 * vector holds of the client's own changes is durable: acked, even if the
 * ACK was lost with the old connection. */
static int rejoin(tclient *c, int port) {
    wsc_close(&c->ws);
    if (tc_connect(c, port, 1, 0, 0)) return -1;
    size_t pos = 0;
    const uint8_t *author;
    uint64_t seq;
    while (weft_vv_next(c->relay_vv, c->relay_vv_len, &pos, &author, &seq))
        if (memcmp(author, c->me.pk, 32) == 0 && seq > c->acked_seq) c->acked_seq = seq;
    return tc_push_missing(c) < 0 ? -1 : 0;
}

/* A request with c's token and a proof for method and path (plus query).
 * OUT: *status; returns the body (malloc'd) or NULL when no answer. */
static char *http_call(const tclient *c, int port, const char *method, const char *what,
                       const char *query, int *status, size_t *len) {
    char path[160], tok[1500], hdrs[2000], sig64[100];
    int o = snprintf(path, sizeof path, "/v1/spaces/");
    for (int i = 0; i < 32; i++)
        o += snprintf(path + o, sizeof path - (size_t)o, "%02x", c->space[i]);
    snprintf(path + o, sizeof path - (size_t)o, "%s", what);
    size_t n;
    weft_base64url_encode(tok, sizeof tok, &n, c->token, c->token_len);
    tok[n] = 0;
    /* The proof covers the whole target, query included, and is accepted
     * once: its stamp carries a random nonce. */
    char full[200], stamp[40];
    snprintf(full, sizeof full, "%s%s", path, query);
    uint8_t nonce[64], sig[64];
    uint32_t rnd;
    BE.random(BE.ctx, (uint8_t *)&rnd, sizeof rnd);
    snprintf(stamp, sizeof stamp, "%llu:%08x", (unsigned long long)time(NULL), rnd);
    int nl = snprintf((char *)nonce, 33, "%s %s ", stamp, method);
    weft_blake2b(nonce + nl, 32, full, strlen(full));
    if (weft_proof_sign(&BE, sig, c->me.sk, c->space, nonce, (size_t)nl + 32)) return NULL;
    weft_base64url_encode(sig64, sizeof sig64, &n, sig, 64);
    sig64[n] = 0;
    snprintf(hdrs, sizeof hdrs, "Authorization: Bearer %s\r\nWeft-Proof: %s.%s\r\n", tok, stamp,
             sig64);
    char *body = NULL;
    if (http_request(port, method, full, hdrs, NULL, 0, status, &body, len, NULL, 5000)) {
        free(body);
        return NULL;
    }
    return body;
}

/* The relay's log as one binary GET page (a CHANGES frame with relay
 * sequences), read with c's token. NULL on failure. */
static char *get_log(const tclient *c, int port, size_t *len) {
    int status;
    char *body = http_call(c, port, "GET", "/changes", "?after=0&limit=1024", &status, len);
    if (body && status != 200) {
        free(body);
        body = NULL;
    }
    return body;
}

/* Counts the records of a CHANGES frame and checks their relay sequences
 * are 1, 2, 3... Returns the count, or -1. */
static long log_records(const char *body, size_t len) {
    weft_frame f;
    if (weft_frame_decode(&f, (const uint8_t *)body, len, 100000)) return -1;
    size_t pos = 0, rl;
    uint64_t rseq, want = 1;
    const uint8_t *rec;
    while (weft_frame_change_next(&f, &pos, &rseq, &rec, &rl))
        if (rseq != want++) return -1;
    return (long)(want - 1);
}

/* ---- the tests ---- */

#define C_WRITERS 6
#define C_PER     40

static void converge(void) {
    if (start_cluster(N_RELAYS, NULL)) return;
    double t0 = now_s();
    tclient w[C_WRITERS], rd[N_RELAYS];
    for (int i = 0; i < N_RELAYS; i++) {
        CHECK(tc_init(&rd[i], &owner, NULL, WEFT_RIGHT_READ, content_key) == 0);
        CHECK(join(&rd[i], relays[i].port) == 0);
    }
    for (int i = 0; i < C_WRITERS; i++) {
        CHECK(tc_init(&w[i], &owner, NULL, WEFT_RIGHT_WRITE, content_key) == 0);
        CHECK(join(&w[i], relays[i % N_RELAYS].port) == 0);
    }
    /* Interleaved writes from all six, five changes per frame. */
    for (int round = 0; round < C_PER / 5; round++)
        for (int i = 0; i < C_WRITERS; i++) {
            CHECK(tc_write(&w[i], 5, 40, 5) == 0);
            drain(&w[i]);
        }
    const uint64_t total = C_WRITERS * C_PER;
    for (int i = 0; i < C_WRITERS; i++) {
        if (!tc_wait(&w[i], until_all_acked, 0, 10000))
            fprintf(stderr, "writer %d: acked %llu of %llu, error %u, closed %d\n", i,
                    (unsigned long long)w[i].acked_seq, (unsigned long long)w[i].sent,
                    w[i].err_code, w[i].closed);
        CHECK(until_all_acked(&w[i], 0));
        CHECK(tc_wait(&w[i], until_received, total - C_PER, 10000));
        CHECK(w[i].n_stored == C_PER && w[i].n_rejected == 0 && w[i].n_parked == 0);
    }
    for (int i = 0; i < N_RELAYS; i++)
        CHECK(tc_wait(&rd[i], until_received, total, 10000));
    /* Nothing more arrives: no echo of a writer's own change, no repeat. */
    for (int i = 0; i < C_WRITERS; i++) {
        tc_pump(&w[i], 100);
        drain(&w[i]);
        if (w[i].received != total - C_PER)
            fprintf(stderr, "writer %d received %llu, want %llu\n", i,
                    (unsigned long long)w[i].received, (unsigned long long)(total - C_PER));
        CHECK(w[i].received == total - C_PER);
    }
    for (int i = 0; i < N_RELAYS; i++) {
        CHECK(rd[i].received == total);
        CHECK(same_state(&rd[i], &rd[0]));
    }
    for (int i = 0; i < C_WRITERS; i++)
        CHECK(same_state(&w[i], &rd[0]));
    /* The same log, byte for byte, on every relay: one order. */
    size_t l0 = 0, li;
    char *log0 = get_log(&rd[0], relays[0].port, &l0);
    CHECK(log0 && log_records(log0, l0) == (long)total);
    for (int i = 1; i < N_RELAYS && log0; i++) {
        char *logi = get_log(&rd[0], relays[i].port, &li);
        CHECK(logi && li == l0 && memcmp(logi, log0, l0) == 0);
        free(logi);
    }
    free(log0);
    printf("converge: %d writers and %d readers on %d relays, %llu changes, %.2f s\n", C_WRITERS,
           N_RELAYS, N_RELAYS, (unsigned long long)total, now_s() - t0);
    for (int i = 0; i < C_WRITERS; i++)
        tc_free(&w[i]);
    for (int i = 0; i < N_RELAYS; i++)
        tc_free(&rd[i]);
    stop_all();
}

#define K_WRITERS 6

/* Every writer's acked changes are on the relay at `port`. */
static void check_acked_on(int port, tclient *w, int n, const uint64_t *acked) {
    tclient r;
    CHECK(tc_init(&r, &owner, NULL, WEFT_RIGHT_READ, content_key) == 0);
    CHECK(join(&r, port) == 0);
    for (int i = 0; i < n; i++) {
        uint64_t have = tc_seq_of(&r, w[i].me.pk);
        if (have < acked[i])
            fprintf(stderr, "writer %d: acked up to seq %llu, relay on port %d has %llu\n", i,
                    (unsigned long long)acked[i], port, (unsigned long long)have);
        CHECK(have >= acked[i]);
    }
    CHECK(weft_replica_pending_count(r.rep) == 0);
    tc_free(&r);
}

static void kill_relay(void) {
    if (start_cluster(N_RELAYS, NULL)) return;
    tclient w[K_WRITERS];
    int on[K_WRITERS];
    for (int i = 0; i < K_WRITERS; i++) {
        on[i] = i % N_RELAYS;
        CHECK(tc_init(&w[i], &owner, NULL, WEFT_RIGHT_WRITE, content_key) == 0);
        CHECK(join(&w[i], relays[on[i]].port) == 0);
    }
    /* Traffic until a good part is acked, then kill -9 with changes in
     * flight (each writer keeps up to 60 unacked), then more traffic. */
    double t0 = now_s();
    int killed = 0;
    uint64_t acked_at_kill = 0;
    while (now_s() - t0 < 5 && !(killed && acked_sum(w, K_WRITERS) >= 2 * acked_at_kill)) {
        if (!killed && (acked_sum(w, K_WRITERS) >= 600 || now_s() - t0 > 2.5)) {
            for (int i = 0; i < K_WRITERS; i++)
                if (on[i] == 0) CHECK(tc_write(&w[i], 3, 40, 3) == 0);
            CHECK(relay_stop(&relays[0], SIGKILL, 3000) == 128 + SIGKILL);
            killed = 1;
            acked_at_kill = acked_sum(w, K_WRITERS);
            /* Its clients go to the next relay and resend what it lacks. */
            for (int i = 0; i < K_WRITERS; i++)
                if (on[i] == 0) {
                    on[i] = 1;
                    CHECK(rejoin(&w[i], relays[1].port) == 0);
                }
        }
        traffic(w, K_WRITERS, 2000);
    }
    uint64_t acked[K_WRITERS], sent = 0;
    for (int i = 0; i < K_WRITERS; i++) {
        if (!tc_wait(&w[i], until_all_acked, 0, 10000))
            fprintf(stderr,
                    "writer %d (first on relay %d): acked %llu of %llu, error %u, closed %d\n", i,
                    i % N_RELAYS, (unsigned long long)w[i].acked_seq, (unsigned long long)w[i].sent,
                    w[i].err_code, w[i].closed);
        CHECK(until_all_acked(&w[i], 0));
        CHECK(w[i].n_parked == 0 && w[i].n_rejected == 0);
        acked[i] = w[i].acked_seq;
        sent += w[i].sent;
    }
    printf("kill_relay: %llu changes acked before the kill -9, %llu sent in all\n",
           (unsigned long long)acked_at_kill, (unsigned long long)sent);
    CHECK(acked_at_kill > 0);
    check_acked_on(relays[1].port, w, K_WRITERS, acked);
    check_acked_on(relays[2].port, w, K_WRITERS, acked);
    for (int i = 0; i < K_WRITERS; i++)
        tc_free(&w[i]);
    stop_all();
}

static void kill_redis(void) {
    if (start_cluster(2, NULL)) return;
    enum { N = 4 };
    tclient w[N];
    for (int i = 0; i < N; i++) {
        CHECK(tc_init(&w[i], &owner, NULL, WEFT_RIGHT_WRITE, content_key) == 0);
        CHECK(join(&w[i], relays[i % 2].port) == 0);
    }
    double t0 = now_s();
    while (now_s() - t0 < 5 && acked_sum(w, N) < 200)
        traffic(w, N, 1000);
    CHECK(acked_sum(w, N) >= 200);
    /* kill -9 with appends in flight; the writers write a little more
     * (their sessions fail, nothing more is acked). */
    for (int i = 0; i < N; i++)
        tc_write(&w[i], 3, 40, 3);
    redis_kill(&rds);
    uint64_t acked[N], acked_sum = 0;
    for (int k = 0; k < 5; k++)
        for (int i = 0; i < N; i++) {
            tc_write(&w[i], 3, 40, 3);
            tc_pump(&w[i], 10);
            drain(&w[i]);
        }
    for (int i = 0; i < 2; i++)
        CHECK(relay_wait_ready(relays[i].port, 503, 3000));
    for (int i = 0; i < N; i++) {
        tc_pump(&w[i], 200);
        drain(&w[i]);
        acked[i] = w[i].acked_seq;
        acked_sum += acked[i];
        CHECK(acked[i] < w[i].sent); /* the writes during the outage were not acked */
    }
    CHECK(redis_spawn(&rds) == 0); /* same port and directory: on its AOF */
    for (int i = 0; i < 2; i++) {
        CHECK(relay_wait_ready(relays[i].port, 200, 10000));
        CHECK(relay_metric(relays[i].port, "weft_relay_redis_reconnects_total") >= 1);
    }
    /* Before anyone resends: every acked change is there, on both. */
    check_acked_on(relays[0].port, w, N, acked);
    check_acked_on(relays[1].port, w, N, acked);
    /* The writers come back and finish; the log is whole again. */
    for (int i = 0; i < N; i++) {
        CHECK(rejoin(&w[i], relays[i % 2].port) == 0);
        CHECK(tc_write(&w[i], 5, 40, 5) == 0);
    }
    uint64_t all[N];
    for (int i = 0; i < N; i++) {
        CHECK(tc_wait(&w[i], until_all_acked, 0, 10000));
        CHECK(w[i].n_parked == 0 && w[i].n_rejected == 0);
        all[i] = w[i].sent;
    }
    check_acked_on(relays[0].port, w, N, all);
    check_acked_on(relays[1].port, w, N, all);
    printf("kill_redis: %llu changes acked before redis-server was killed\n",
           (unsigned long long)acked_sum);
    for (int i = 0; i < N; i++)
        tc_free(&w[i]);
    stop_all();
}

static void ephemeral(void) {
    if (start_cluster(N_RELAYS, NULL)) return;
    tclient a, b, c;
    tclient *all[3] = {&a, &b, &c};
    for (int i = 0; i < 3; i++) {
        CHECK(tc_init(all[i], &owner, NULL, WEFT_RIGHT_READ, content_key) == 0);
        CHECK(join(all[i], relays[i].port) == 0);
    }
    uint8_t frame[128], zero[32] = {0};
    size_t fl;
    /* a (relay 0) signals b (relay 1); c (relay 2) hears nothing. */
    weft_frame_signal_encode(frame, sizeof frame, &fl, WEFT_FRAME_SIGNAL, b.me.pk,
                             (const uint8_t *)"offer", 5);
    CHECK(wsc_send(&a.ws, frame, fl, 2, 1) == 0);
    CHECK(tc_wait(&b, until_signals, 1, 3000));
    CHECK(memcmp(b.last_peer, a.me.pk, 32) == 0);
    /* c broadcasts presence: a and b hear it, stamped with c's key. */
    weft_frame_signal_encode(frame, sizeof frame, &fl, WEFT_FRAME_PRESENCE, zero,
                             (const uint8_t *)"here", 4);
    CHECK(wsc_send(&c.ws, frame, fl, 2, 1) == 0);
    CHECK(tc_wait(&a, until_signals, 1, 3000) && tc_wait(&b, until_signals, 2, 3000));
    CHECK(memcmp(a.last_peer, c.me.pk, 32) == 0 && memcmp(b.last_peer, c.me.pk, 32) == 0);
    tc_pump(&c, 200);
    CHECK(c.n_signals == 0);
    /* A peer on no relay: no NO_PEER with Redis (it may be elsewhere). */
    ident ghost;
    ident_new(&ghost);
    weft_frame_signal_encode(frame, sizeof frame, &fl, WEFT_FRAME_SIGNAL, ghost.pk,
                             (const uint8_t *)"x", 1);
    CHECK(wsc_send(&a.ws, frame, fl, 2, 1) == 0);
    tc_pump(&a, 200);
    CHECK(a.err_code == 0 && a.n_signals == 1 && b.n_signals == 2);
    printf("ephemeral: SIGNAL and PRESENCE crossed relays\n");
    for (int i = 0; i < 3; i++)
        tc_free(all[i]);
    stop_all();
}

/* --token-burst 100 over a 100 s window (relays take credit from Redis
 * in chunks of 10): 60 changes through one relay, then 60 through another
 * with the same token, in frames of 5: only 40 more pass; the last four
 * frames are refused (a chunk, then the frame's own 5, were not left). */
static void shared_rate(void) {
    static const char *const extra[] = {"--token-rate", "1", "--token-burst", "100", NULL};
    if (start_cluster(2, extra)) return;
    tclient w;
    CHECK(tc_init(&w, &owner, NULL, WEFT_RIGHT_WRITE, content_key) == 0);
    CHECK(join(&w, relays[0].port) == 0);
    CHECK(tc_write(&w, 60, 20, 5) == 0);
    CHECK(tc_wait(&w, until_all_acked, 0, 5000));
    CHECK(w.n_stored == 60);
    CHECK(join(&w, relays[1].port) == 0);
    CHECK(tc_write(&w, 60, 20, 5) == 0);
    CHECK(tc_wait(&w, until_acked, 100, 5000));
    tc_pump(&w, 300);
    drain(&w);
    if (w.n_stored != 100)
        fprintf(stderr, "stored %llu, want 100\n", (unsigned long long)w.n_stored);
    CHECK(w.n_stored == 100);
    CHECK(w.err_code == WEFT_PROTO_ERATE_LIMITED && !w.err_fatal);
    /* Each refusal takes two round trips (a chunk, then the frame's own). */
    double rl = 0;
    for (int i = 0; i < 250 && rl < 4; i++) {
        tc_pump(&w, 20);
        rl = relay_metric(relays[1].port, "weft_relay_rejections_total{reason=\"RATE_LIMITED\"}");
    }
    CHECK(rl == 4);
    printf("shared_rate: %llu of 120 changes passed across two relays (limit 100)\n",
           (unsigned long long)w.n_stored);
    tc_free(&w);
    stop_all();
}

/* A POST through one relay is answered once Redis has it; another relay
 * serves it by GET at once. */
static void rest(void) {
    if (start_cluster(2, NULL)) return;
    tclient w, rd;
    CHECK(tc_init(&w, &owner, NULL, WEFT_RIGHT_WRITE, content_key) == 0);
    CHECK(tc_init(&rd, &owner, NULL, WEFT_RIGHT_READ, content_key) == 0);
    uint8_t val[16];
    size_t vl, body_len = 0;
    uint8_t *body = malloc(64 * 1024);
    for (int i = 0; i < 10; i++) {
        const uint8_t *rec;
        size_t rl;
        weft_value_write_string(val, sizeof val, &vl, "hello", 5);
        char doc[8];
        snprintf(doc, sizeof doc, "d%d", i);
        CHECK(weft_replica_put(w.rep, "notes", 5, doc, strlen(doc), "body", 4, val, vl) == 0);
        CHECK(weft_replica_commit(w.rep, 1700000000000ULL + (uint64_t)i, &rec, &rl) == 0);
        memcpy(body + body_len, rec, rl);
        body_len += rl;
    }
    char path[160], tok[1500], hdrs[1600];
    int o = snprintf(path, sizeof path, "/v1/spaces/");
    for (int i = 0; i < 32; i++)
        o += snprintf(path + o, sizeof path - (size_t)o, "%02x", w.space[i]);
    snprintf(path + o, sizeof path - (size_t)o, "/changes");
    size_t n;
    weft_base64url_encode(tok, sizeof tok, &n, w.token, w.token_len);
    tok[n] = 0;
    snprintf(hdrs, sizeof hdrs, "Authorization: Bearer %s\r\n", tok);
    int status;
    char *resp = NULL;
    size_t rl;
    CHECK(http_request(relays[0].port, "POST", path, hdrs, body, body_len, &status, &resp, &rl,
                       NULL, 5000) == 0);
    CHECK(status == 200 && resp && strstr(resp, "\"rseq\":10"));
    free(resp);
    size_t ll;
    char *log = get_log(&rd, relays[1].port, &ll);
    CHECK(log && log_records(log, ll) == 10);
    free(log);
    free(body);
    tc_free(&w);
    tc_free(&rd);
    stop_all();
}

/* --redis-max-inflight 5: the writer is paused and resumed many times, and
 * still every change is acked; the gauges are on /metrics. */
static void bounded(void) {
    static const char *const extra[] = {"--redis-max-inflight", "5", NULL};
    if (start_cluster(1, extra)) return;
    tclient w;
    CHECK(tc_init(&w, &owner, NULL, WEFT_RIGHT_WRITE, content_key) == 0);
    CHECK(join(&w, relays[0].port) == 0);
    for (int i = 0; i < 10; i++)
        CHECK(tc_write(&w, 30, 20, 10) == 0);
    CHECK(tc_wait(&w, until_all_acked, 0, 10000));
    CHECK(w.n_stored == 300 && w.err_code == 0);
    CHECK(relay_metric(relays[0].port, "weft_relay_redis_up") == 1);
    CHECK(relay_metric(relays[0].port, "weft_relay_redis_inflight_appends") == 0);
    CHECK(relay_metric(relays[0].port, "weft_relay_changes_stored_total") == 300);
    CHECK(relay_metric(relays[0].port, "weft_relay_redis_pauses_total") >= 1);
    tc_free(&w);
    stop_all();
}

/* A DELETE through one relay: the space is gone on the others too, and
 * their live sessions are closed with NOT_FOUND. */
static void delete_space(void) {
    if (start_cluster(2, NULL)) return;
    tclient w, rd, admin;
    CHECK(tc_init(&w, &owner, NULL, WEFT_RIGHT_WRITE, content_key) == 0);
    CHECK(tc_init(&rd, &owner, NULL, WEFT_RIGHT_READ, content_key) == 0);
    CHECK(tc_init(&admin, &owner, NULL, WEFT_RIGHT_ADMIN, content_key) == 0);
    CHECK(join(&w, relays[0].port) == 0);
    CHECK(join(&rd, relays[1].port) == 0);
    CHECK(tc_write(&w, 10, 20, 10) == 0);
    CHECK(tc_wait(&w, until_all_acked, 0, 5000));
    CHECK(tc_wait(&rd, until_received, 10, 5000));
    int status;
    size_t len;
    char *b = http_call(&admin, relays[0].port, "DELETE", "", "", &status, &len);
    CHECK(b && status == 200);
    free(b);
    CHECK(tc_wait(&rd, until_closed, 0, 5000));
    CHECK(rd.err_code == WEFT_PROTO_ENOT_FOUND);
    b = http_call(&rd, relays[1].port, "GET", "/changes", "", &status, &len);
    CHECK(b && status == 404);
    free(b);
    tc_free(&w);
    tc_free(&rd);
    tc_free(&admin);
    stop_all();
}

/* Redis goes away, a HELLO for a space the relay has not loaded comes
 * meanwhile: it waits, and gets its CHALLENGE once Redis is back; then the
 * space works as usual. */
static void redis_late(void) {
    if (start_cluster(1, NULL)) return;
    redis_kill(&rds);
    CHECK(relay_wait_ready(relays[0].port, 503, 3000));
    ident owner2;
    ident_new(&owner2); /* a space the relay has not seen */
    tclient c;
    CHECK(tc_init(&c, &owner2, NULL, WEFT_RIGHT_WRITE, content_key) == 0);
    CHECK(wsc_connect(&c.ws, relays[0].port, 0, 3000) == 0);
    uint8_t hello[2048];
    size_t len;
    CHECK(weft_frame_hello_encode(hello, sizeof hello, &len, c.space, c.me.pk, NULL, 0, c.token,
                                  c.token_len, 0, 0) == 0);
    CHECK(wsc_send(&c.ws, hello, len, 2, 1) == 0);
    const uint8_t *msg;
    CHECK(wsc_recv(&c.ws, &msg, &len, 300) == WSC_TIMEOUT); /* no CHALLENGE yet */
    CHECK(redis_spawn(&rds) == 0);
    weft_frame f;
    CHECK(wsc_recv(&c.ws, &msg, &len, 8000) == 0 && weft_frame_decode(&f, msg, len, 0) == 0 &&
          f.type == WEFT_FRAME_CHALLENGE && f.head == 0);
    CHECK(relay_wait_ready(relays[0].port, 200, 5000));
    CHECK(join(&c, relays[0].port) == 0);
    CHECK(tc_write(&c, 10, 20, 10) == 0);
    CHECK(tc_wait(&c, until_all_acked, 0, 5000) && c.n_stored == 10);
    tc_free(&c);
    stop_all();
}

/* b becomes a second device of a's author: the same key and token, its own
 * replica, so it can sign a different change with the same seq (a fork). */
static int twin(tclient *b, const tclient *a) {
    if (tc_init(b, &owner, NULL, WEFT_RIGHT_WRITE, content_key)) return -1;
    weft_replica_free(b->rep);
    weft_suite_v1_wipe(&b->st);
    b->rep = NULL;
    b->me = a->me;
    memcpy(b->token, a->token, a->token_len);
    b->token_len = a->token_len;
    if (weft_suite_v1_init(&b->crypto, &b->st, &BE, content_key, b->me.sk)) return -1;
    weft_replica_config cfg = {
        .space = b->space, .author = b->me.pk, .crypto = &b->crypto, .keep_records = 1};
    return weft_replica_new(&b->rep, &cfg);
}

/* Connects again and sends every change c's replica holds. */
static int resend(tclient *c, int port) {
    wsc_close(&c->ws);
    if (tc_connect(c, port, 0, 0, 0)) return -1;
    free(c->relay_vv);
    c->relay_vv = NULL;
    c->relay_vv_len = 0;
    return tc_push_missing(c) < 0 ? -1 : 0;
}

static int until_answered(tclient *c, uint64_t u) {
    (void)u;
    return c->acked_seq >= 1 || c->n_rejected || c->closed;
}

#define F_PAIRS 6

/* Two relays, and per pair one author whose two devices send a different
 * seq-1 change each, at once, one to each relay: exactly one of the two is
 * stored, the other's sender gets REJECTED CHAIN, and both relays serve
 * the same log of one change per pair. */
static void forks(void) {
    if (start_cluster(2, NULL)) return;
    tclient a[F_PAIRS], b[F_PAIRS], rd;
    CHECK(tc_init(&rd, &owner, NULL, WEFT_RIGHT_READ, content_key) == 0);
    for (int k = 0; k < F_PAIRS; k++) {
        CHECK(tc_init(&a[k], &owner, NULL, WEFT_RIGHT_WRITE, content_key) == 0);
        CHECK(twin(&b[k], &a[k]) == 0);
        /* Each device's replica holds its own seq 1: the other's is a fork
         * to it, which a real replica refuses too. */
        a[k].apply = b[k].apply = 0;
        CHECK(join(&a[k], relays[0].port) == 0);
        CHECK(join(&b[k], relays[1].port) == 0);
    }
    /* Both halves of every pair before any answer is read: the relays each
     * accept theirs locally, and only Redis sees both. */
    for (int k = 0; k < F_PAIRS; k++) {
        CHECK(tc_write(&a[k], 1, 20, 1) == 0);
        CHECK(tc_write(&b[k], 1, 21, 1) == 0);
    }
    /* A relay that refused a fork loads the space again from Redis, and
     * its sessions get ERROR STORAGE: one whose change was still waiting
     * then connects again and resends it, as a client does (the vector
     * cannot tell: the twin's change has the same author and seq). */
    for (int k = 0; k < F_PAIRS; k++) {
        for (int side = 0; side < 2; side++) {
            tclient *c = side ? &b[k] : &a[k];
            int port = relays[side].port;
            for (int tries = 0; tries < 5; tries++) {
                CHECK(tc_wait(c, until_answered, 0, 5000));
                if (c->n_rejected || c->acked_seq >= 1) break;
                CHECK(resend(c, port) == 0);
            }
        }
        int ra = a[k].n_rejected > 0, rb = b[k].n_rejected > 0;
        if (ra == rb)
            fprintf(stderr, "pair %d: %s refused (stored %llu/%llu, acked %llu/%llu)\n", k,
                    ra ? "both" : "neither", (unsigned long long)a[k].n_stored,
                    (unsigned long long)b[k].n_stored, (unsigned long long)a[k].acked_seq,
                    (unsigned long long)b[k].acked_seq);
        CHECK(ra != rb);
        tclient *win = ra ? &b[k] : &a[k], *lose = ra ? &a[k] : &b[k];
        if (lose->n_stored || lose->n_rejected != 1 || lose->last_reject != WEFT_PROTO_ECHAIN)
            fprintf(stderr, "pair %d loser: stored %llu rejected %llu (last %u) error %u\n", k,
                    (unsigned long long)lose->n_stored, (unsigned long long)lose->n_rejected,
                    lose->last_reject, lose->err_code);
        CHECK(win->acked_seq == 1 && win->n_rejected == 0);
        CHECK(lose->n_stored == 0 && lose->n_rejected == 1 &&
              lose->last_reject == WEFT_PROTO_ECHAIN);
    }
    /* Both relays serve the same log: one change per pair. */
    size_t l0 = 0, l1 = 0;
    char *log0 = NULL, *log1 = NULL;
    for (int tries = 0; tries < 50; tries++) {
        free(log0);
        free(log1);
        log0 = get_log(&rd, relays[0].port, &l0);
        log1 = get_log(&rd, relays[1].port, &l1);
        if (log0 && log1 && l0 == l1 && memcmp(log0, log1, l0) == 0) break;
        usleep(100 * 1000);
    }
    CHECK(log0 && log_records(log0, l0) == F_PAIRS);
    CHECK(log1 && l1 == l0 && memcmp(log0, log1, l0) == 0);
    free(log0);
    free(log1);
    double refused = relay_metric(relays[0].port, "weft_relay_redis_forks_refused_total") +
                     relay_metric(relays[1].port, "weft_relay_redis_forks_refused_total");
    printf("forks: %d pairs, %.0f refused by Redis, the rest by a relay's log\n", F_PAIRS, refused);
    for (int k = 0; k < F_PAIRS; k++) {
        tc_free(&a[k]);
        tc_free(&b[k]);
    }
    tc_free(&rd);
    stop_all();
}

/* --redis-wait-replicas (SCALING.md "What an ACK waits for"): a primary and
 * a replica. Every ACK means the replica holds the change; while the
 * replica is stopped nothing is acked and no other relay hears of the
 * unacked changes; then the primary dies, the replica is promoted, and a
 * relay on it serves every change that was ever acked. */
static void replicas(void) {
    kill_all();
    memset(&rds, 0, sizeof rds);
    redis_proc rep;
    memset(&rep, 0, sizeof rep);
    CHECK(redis_spawn(&rds) == 0);
    rep.replicaof = rds.port;
    CHECK(redis_spawn(&rep) == 0);
    int linked = 0;
    for (int i = 0; i < 100 && !linked; i++) /* WAIT with no write: replicas attached */
        linked = redis_inline(rds.port, "WAIT 1 100", ":1");
    CHECK(linked);
    static const char *const wait_args[] = {"--redis-wait-replicas", "1", "--redis-wait-ms", "1500",
                                            NULL};
    if (!linked || spawn_relays(2, rds.port, wait_args)) {
        redis_cleanup(&rep);
        return;
    }
    tclient w, rd;
    CHECK(tc_init(&w, &owner, NULL, WEFT_RIGHT_WRITE, content_key) == 0);
    CHECK(tc_init(&rd, &owner, NULL, WEFT_RIGHT_READ, content_key) == 0);
    CHECK(join(&w, relays[0].port) == 0);
    CHECK(join(&rd, relays[1].port) == 0);
    double t0 = now_s();
    while (now_s() - t0 < 10 && w.acked_seq < 300)
        traffic(&w, 1, 300);
    CHECK(w.acked_seq == 300);
    CHECK(tc_wait(&rd, until_received, 300, 10000));
    CHECK(relay_metric(relays[0].port, "weft_relay_redis_wait_short_total") == 0);
    CHECK(relay_metric(relays[0].port, "weft_relay_redis_append_seconds_count") >= 1);
    /* The replica stops answering: the primary stores, WAIT times out,
     * nothing is acked and the reader on the other relay hears nothing. */
    kill(rep.pid, SIGSTOP);
    uint64_t acked = w.acked_seq;
    CHECK(tc_write(&w, 3, 40, 3) == 0);
    for (int i = 0; i < 30; i++) { /* 3 s: twice the WAIT's timeout */
        tc_pump(&w, 100);
        tc_pump(&rd, 0);
    }
    CHECK(w.acked_seq == acked);
    CHECK(relay_metric(relays[0].port, "weft_relay_redis_wait_short_total") >= 1);
    CHECK(rd.received == 300);
    kill(rep.pid, SIGCONT);
    /* Failover: the primary dies, the replica becomes the primary, and a
     * relay on it has every acked change. */
    for (int i = 0; i < 2; i++)
        relay_stop(&relays[i], SIGKILL, 2000);
    redis_kill(&rds);
    CHECK(redis_inline(rep.port, "REPLICAOF NO ONE", "+OK"));
    if (spawn_relays(1, rep.port, NULL) == 0) check_acked_on(relays[0].port, &w, 1, &acked);
    printf("replicas: %llu changes acked with WAIT 1, none while the replica was stopped, all "
           "on it after failover\n",
           (unsigned long long)acked);
    tc_free(&w);
    tc_free(&rd);
    CHECK(relay_stop(&relays[0], SIGTERM, 8000) == 0); /* under ASan: no leak */
    redis_cleanup(&rep);
    redis_cleanup(&rds);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: test_scale PATH_TO_WEFT_RELAY [test]\n");
        return 2;
    }
    exe = argv[1];
    harness_init();
    atexit(kill_all);
    ident_new(&owner);
    BE.random(BE.ctx, content_key, 32);
    static const relay_test tests[] = {
        {"converge", converge},   {"kill_relay", kill_relay},     {"kill_redis", kill_redis},
        {"ephemeral", ephemeral}, {"shared_rate", shared_rate},   {"rest", rest},
        {"bounded", bounded},     {"delete_space", delete_space}, {"redis_late", redis_late},
        {"forks", forks},         {"replicas", replicas},
    };
    return run_relay_tests(tests, sizeof tests / sizeof *tests, argc > 2 ? argv[2] : NULL);
}
