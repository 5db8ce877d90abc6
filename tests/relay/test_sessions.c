/*
 * weft-relay on the open internet (issue 23): what one session or a crowd of
 * them can make the relay hold, and for how long. Each scenario starts its
 * own relay on a free loopback port and stops it at the end.
 *
 *   presence_shared     one large PRESENCE frame to many idle readers costs
 *                       the relay one buffer, not one copy per reader
 *   presence_slow       a reader that does not read loses ephemeral frames,
 *                       not its connection, and still gets changes
 *   presence_space_rate ephemeral bytes per space and second are bounded
 *   hello_creates_nothing  HELLOs without PROOF create no space on disk
 *   idle_unload         an idle space is closed, and reloads with every record
 *   token_expiry        a live session whose token expires is closed
 *   client_fatal_error  a live session that says goodbye with a fatal ERROR
 *                       leaves its space's subscribers before it is freed
 *   idle_unload_redis   idle_unload on Redis (argument "redis"; suite redis)
 *
 *   test_sessions PATH_TO_WEFT_RELAY [test]
 */
#include "harness.h"

#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *exe;
static ident owner;
static uint8_t content_key[32];

static int start(relay_proc *p, const char *storage, const char *const *extra) {
    memset(p, 0, sizeof *p);
    if (strcmp(storage, "file") == 0) relay_tmpdir(p);
    if (relay_spawn(p, exe, storage, 0, extra)) {
        fprintf(stderr, "cannot start %s\n", exe);
        check_failures++;
        return -1;
    }
    return 0;
}

static void stop(relay_proc *p) {
    CHECK(relay_stop(p, SIGTERM, 5000) == 0);
    relay_cleanup(p);
}

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The relay's peak resident set (VmHWM), in KiB, or -1. */
static long peak_rss_kib(pid_t pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    long v = -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0) v = strtol(line + 6, NULL, 10);
    fclose(f);
    return v;
}

static int send_presence(tclient *c, size_t n) {
    static uint8_t data[WEFT_PROTO_MAX_DATA], frame[WEFT_PROTO_MAX_DATA + 128];
    static const uint8_t zero[32];
    size_t fl;
    memset(data, 'p', n);
    if (weft_frame_signal_encode(frame, sizeof frame, &fl, WEFT_FRAME_PRESENCE, zero, data, n))
        return -1;
    return wsc_send(&c->ws, frame, fl, 2, 1);
}

#define N_IDLE 32

/* 32 readers that never read, 100 presence frames of 60 KB: a copy per
 * reader is 192 MB (less what the kernel's socket buffers take); one shared
 * buffer per frame is 6 MB at most. */
static void presence_shared(void) {
    relay_proc p;
    /* Under ASan, freed memory waits in a quarantine (256 MB) and counts in
     * the RSS: this relay gets none, so its peak measures what it holds.
     * Natively the option is ignored. */
    const char *asan = getenv("ASAN_OPTIONS");
    char *saved = asan ? strdup(asan) : NULL, opts[512];
    snprintf(opts, sizeof opts, "%s%squarantine_size_mb=0", asan ? asan : "",
             asan && *asan ? ":" : "");
    setenv("ASAN_OPTIONS", opts, 1);
    int rc = start(&p, "memory", NULL);
    if (saved)
        setenv("ASAN_OPTIONS", saved, 1);
    else
        unsetenv("ASAN_OPTIONS");
    free(saved);
    if (rc) return;
    static tclient idle[N_IDLE];
    tclient w, h, s;
    CHECK(tc_init(&w, &owner, NULL, WEFT_RIGHT_WRITE, content_key) == 0);
    CHECK(tc_init(&h, &owner, NULL, WEFT_RIGHT_READ, content_key) == 0);
    CHECK(tc_init(&s, &owner, NULL, WEFT_RIGHT_READ, content_key) == 0);
    CHECK(tc_connect(&w, p.port, 1, 0, 0) == 0 && tc_wait(&w, until_synced, 0, 3000));
    CHECK(tc_connect(&h, p.port, 1, 0, 0) == 0 && tc_wait(&h, until_synced, 0, 3000));
    CHECK(tc_connect(&s, p.port, 1, 0, 0) == 0 && tc_wait(&s, until_synced, 0, 3000));
    for (int i = 0; i < N_IDLE; i++) {
        CHECK(tc_init(&idle[i], &owner, NULL, WEFT_RIGHT_READ, content_key) == 0);
        idle[i].rcvbuf = 4096;
        CHECK(tc_connect(&idle[i], p.port, 1, 0, 0) == 0);
    }
    sleep_ms(300); /* every PROOF handled */
    long before = peak_rss_kib(p.pid);
    for (int i = 0; i < 100; i++)
        CHECK(send_presence(&s, 60000) == 0);
    /* The honest reader drains its presence frames and still gets changes. */
    CHECK(tc_write(&w, 10, 100, 10) == 0);
    CHECK(tc_wait(&w, until_acked, 10, 5000));
    CHECK(tc_wait(&h, until_received, 10, 10000));
    sleep_ms(300);
    long after = peak_rss_kib(p.pid);
    printf("presence_shared: relay peak RSS %ld -> %ld KiB, %zu presence frames at the honest "
           "reader, ephemeral bytes held %.0f\n",
           before, after, h.n_signals, relay_metric(p.port, "weft_relay_ephemeral_bytes_held"));
    CHECK(before > 0 && after - before < 40 * 1024);
    CHECK(h.n_signals >= 1);
    CHECK(relay_metric(p.port, "weft_relay_ephemeral_bytes_held") >= 0);
    for (int i = 0; i < N_IDLE; i++)
        tc_free(&idle[i]);
    tc_free(&w);
    tc_free(&h);
    tc_free(&s);
    stop(&p);
}

/* A reader that does not read, with a small --max-queue: its presence frames
 * are dropped (counted), its connection is not; once it reads it gets the
 * changes written meanwhile. */
static void presence_slow(void) {
    relay_proc p;
    const char *extra[] = {"--max-queue", "262144", NULL};
    if (start(&p, "memory", extra)) return;
    tclient w, slow, s;
    CHECK(tc_init(&w, &owner, NULL, WEFT_RIGHT_WRITE, content_key) == 0);
    CHECK(tc_init(&slow, &owner, NULL, WEFT_RIGHT_READ, content_key) == 0);
    CHECK(tc_init(&s, &owner, NULL, WEFT_RIGHT_READ, content_key) == 0);
    slow.rcvbuf = 4096;
    CHECK(tc_connect(&w, p.port, 1, 0, 0) == 0 && tc_wait(&w, until_synced, 0, 3000));
    CHECK(tc_connect(&slow, p.port, 1, 0, 0) == 0 && tc_wait(&slow, until_synced, 0, 3000));
    CHECK(tc_connect(&s, p.port, 1, 0, 0) == 0 && tc_wait(&s, until_synced, 0, 3000));
    /* 3 MB: more than the kernel's socket buffers take on loopback. */
    for (int i = 0; i < 100; i++)
        CHECK(send_presence(&s, 30000) == 0);
    sleep_ms(500);
    CHECK(tc_write(&w, 5, 100, 5) == 0);
    CHECK(tc_wait(&w, until_acked, 5, 5000));
    sleep_ms(200);
    double dropped =
        relay_metric(p.port, "weft_relay_ephemeral_dropped_total{reason=\"slow_reader\"}");
    printf("presence_slow: %.0f ephemeral frames dropped for the slow reader\n", dropped);
    CHECK(dropped >= 1);
    CHECK(relay_metric(p.port, "weft_relay_slow_consumers_total") == 0);
    CHECK(tc_wait(&slow, until_received, 5, 10000));
    CHECK(!slow.closed && slow.err_code == 0);
    CHECK(slow.n_signals < 100);
    tc_free(&w);
    tc_free(&slow);
    tc_free(&s);
    stop(&p);
}

/* --eph-rate/--eph-burst: a sender over the space's budget loses frames. */
static void presence_space_rate(void) {
    relay_proc p;
    const char *extra[] = {"--eph-rate", "100000", "--eph-burst", "200000", NULL};
    if (start(&p, "memory", extra)) return;
    tclient a, s;
    CHECK(tc_init(&a, &owner, NULL, WEFT_RIGHT_READ, content_key) == 0);
    CHECK(tc_init(&s, &owner, NULL, WEFT_RIGHT_READ, content_key) == 0);
    CHECK(tc_connect(&a, p.port, 1, 0, 0) == 0 && tc_wait(&a, until_synced, 0, 3000));
    CHECK(tc_connect(&s, p.port, 1, 0, 0) == 0 && tc_wait(&s, until_synced, 0, 3000));
    for (int i = 0; i < 20; i++)
        CHECK(send_presence(&s, 50000) == 0);
    while (tc_pump(&a, 500) == 0) {
    }
    double dropped =
        relay_metric(p.port, "weft_relay_ephemeral_dropped_total{reason=\"space_rate\"}");
    printf("presence_space_rate: %zu of 20 frames delivered, %.0f dropped\n", a.n_signals, dropped);
    CHECK(a.n_signals >= 3 && a.n_signals <= 8);
    CHECK(dropped + (double)a.n_signals == 20);
    tc_free(&a);
    tc_free(&s);
    stop(&p);
}

/* Entries of the data directory that are space directories (64 hex). */
static int count_spaces(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strlen(e->d_name) == 64) n++;
    closedir(d);
    return n;
}

/* Sends HELLO and reads the CHALLENGE, without PROOF. OUT: nonce (may be
 * NULL). Returns the CHALLENGE's head plus its vector's length, or -1. */
static long hello_nonce(tclient *c, int port, uint8_t nonce[32]) {
    if (wsc_connect(&c->ws, port, 0, 3000)) return -1;
    uint8_t buf[4096];
    size_t len;
    if (weft_frame_hello_encode(buf, sizeof buf, &len, c->space, c->me.pk, NULL, 0, c->token,
                                c->token_len, 0, 0) ||
        wsc_send(&c->ws, buf, len, 2, 1))
        return -1;
    const uint8_t *msg;
    weft_frame f;
    if (wsc_recv(&c->ws, &msg, &len, 3000) || weft_frame_decode(&f, msg, len, 0) ||
        f.type != WEFT_FRAME_CHALLENGE)
        return -1;
    if (nonce) memcpy(nonce, f.nonce, 32);
    return (long)f.head + (long)f.vv_len; /* both 0 for a space not yet created */
}

static long hello_only(tclient *c, int port) {
    return hello_nonce(c, port, NULL);
}

static void hello_creates_nothing(void) {
    relay_proc p;
    if (start(&p, "file", NULL)) return;
    for (int i = 0; i < 20; i++) {
        ident o;
        ident_new(&o);
        tclient c;
        CHECK(tc_init(&c, &o, NULL, WEFT_RIGHT_WRITE, content_key) == 0);
        CHECK(hello_only(&c, p.port) == 0);
        tc_free(&c);
    }
    sleep_ms(200);
    int n = count_spaces(p.dir);
    printf("hello_creates_nothing: %d space directories after 20 HELLOs without PROOF\n", n);
    CHECK(n == 0);
    CHECK(relay_metric(p.port, "weft_relay_spaces") == 0);
    /* With PROOF, the space is created and takes writes. */
    ident o;
    ident_new(&o);
    tclient c, d;
    CHECK(tc_init(&c, &o, NULL, WEFT_RIGHT_WRITE, content_key) == 0);
    CHECK(tc_connect(&c, p.port, 1, 0, 0) == 0 && tc_wait(&c, until_synced, 0, 3000));
    CHECK(tc_write(&c, 3, 50, 3) == 0 && tc_wait(&c, until_acked, 3, 3000));
    CHECK(c.n_stored == 3);
    CHECK(count_spaces(p.dir) == 1);
    /* A client that said HELLO before the space existed and PROOF after
     * gets everything. */
    CHECK(tc_init(&d, &o, NULL, WEFT_RIGHT_READ, content_key) == 0);
    CHECK(tc_connect(&d, p.port, 1, 0, 0) == 0 && tc_wait(&d, until_received, 3, 3000));
    tc_free(&c);
    tc_free(&d);
    stop(&p);
}

static int metric_at_least(int port, const char *name, double v, int timeout_ms) {
    for (int t = 0; t < timeout_ms; t += 100) {
        if (relay_metric(port, name) >= v) return 1;
        sleep_ms(100);
    }
    return 0;
}

static void idle_unload_in(const char *storage, const char *redis_url) {
    relay_proc p;
    const char *extra[] = {"--idle-unload", "1", redis_url ? "--redis" : NULL, redis_url, NULL};
    if (start(&p, storage, extra)) return;
    tclient c, d;
    CHECK(tc_init(&c, &owner, NULL, WEFT_RIGHT_WRITE, content_key) == 0);
    CHECK(tc_connect(&c, p.port, 1, 0, 0) == 0 && tc_wait(&c, until_synced, 0, 3000));
    CHECK(tc_write(&c, 10, 50, 4) == 0 && tc_wait(&c, until_acked, 10, 3000));
    /* Not idle while a session is in it. */
    sleep_ms(2500);
    CHECK(relay_metric(p.port, "weft_relay_spaces") == 1);
    wsc_close(&c.ws);
    CHECK(metric_at_least(p.port, "weft_relay_spaces_unloaded_total", 1, 5000));
    CHECK(relay_metric(p.port, "weft_relay_spaces") == 0);
    /* Reloaded with every record. */
    CHECK(tc_init(&d, &owner, NULL, WEFT_RIGHT_READ, content_key) == 0);
    CHECK(tc_connect(&d, p.port, 1, 0, 0) == 0);
    CHECK(d.head == 10);
    CHECK(tc_wait(&d, until_received, 10, 3000));
    CHECK(same_state(&c, &d));
    printf("idle_unload (%s): unloaded after 1 s idle, reloaded with %llu records\n", storage,
           (unsigned long long)d.received);
    tc_free(&c);
    tc_free(&d);
    stop(&p);
}

static void idle_unload(void) {
    idle_unload_in("file", NULL);
}

/* Redis keeps no key for an empty space, so a HELLO for a new space loads
 * an empty in-memory one: it is let go at once (not after --idle-unload),
 * and a PROOF that comes after it went creates it again. */
static void hello_redis(int redis_port) {
    relay_proc p;
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", redis_port);
    const char *extra[] = {"--redis", url, NULL};
    if (start(&p, "redis", extra)) return;
    for (int i = 0; i < 20; i++) {
        ident o;
        ident_new(&o);
        tclient c;
        CHECK(tc_init(&c, &o, NULL, WEFT_RIGHT_WRITE, content_key) == 0);
        CHECK(hello_only(&c, p.port) == 0);
        tc_free(&c);
    }
    CHECK(metric_at_least(p.port, "weft_relay_spaces_unloaded_total", 20, 3000));
    CHECK(relay_metric(p.port, "weft_relay_spaces") == 0);
    /* HELLO, the space goes, then PROOF. */
    ident o;
    ident_new(&o);
    tclient c;
    uint8_t nonce[32], sig[64], proof[80];
    size_t len;
    CHECK(tc_init(&c, &o, NULL, WEFT_RIGHT_WRITE, content_key) == 0);
    CHECK(hello_nonce(&c, p.port, nonce) == 0);
    CHECK(metric_at_least(p.port, "weft_relay_spaces_unloaded_total", 21, 3000));
    CHECK(weft_proof_sign(&BE, sig, c.me.sk, c.space, nonce, 32) == 0 &&
          weft_frame_proof_encode(proof, sizeof proof, &len, sig) == 0 &&
          wsc_send(&c.ws, proof, len, 2, 1) == 0);
    CHECK(tc_wait(&c, until_synced, 0, 3000));
    CHECK(tc_write(&c, 3, 50, 3) == 0 && tc_wait(&c, until_acked, 3, 3000) && c.n_stored == 3);
    printf("hello_redis: 20 HELLO-only spaces let go at once; a PROOF after its space went "
           "stored %llu changes\n",
           (unsigned long long)c.n_stored);
    tc_free(&c);
    stop(&p);
}

/* The same on Redis (suite redis): the space's local copy goes through the
 * storage interface's close, and comes back from Redis. */
static void idle_unload_redis(void) {
    redis_proc rds = {0};
    if (redis_spawn(&rds)) {
        fprintf(stderr, "cannot start redis-server\n");
        check_failures++;
        return;
    }
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", rds.port);
    idle_unload_in("redis", url);
    hello_redis(rds.port);
    redis_kill(&rds);
    redis_cleanup(&rds);
}

/* A session whose token expires while it is live: EXPIRED and closed
 * within about a second, with or without something to deliver. */
static void token_expiry(void) {
    relay_proc p;
    if (start(&p, "memory", NULL)) return;
    tclient w, e;
    CHECK(tc_init(&w, &owner, NULL, WEFT_RIGHT_WRITE, content_key) == 0);
    CHECK(tc_init(&e, &owner, NULL, WEFT_RIGHT_READ, content_key) == 0);
    uint64_t now = (uint64_t)time(NULL);
    CHECK(weft_token_issue(&BE, e.token, sizeof e.token, &e.token_len, owner.pk, owner.sk, NULL, 0,
                           e.me.pk, WEFT_RIGHT_READ, now - 60, now + 2) == 0);
    CHECK(tc_connect(&w, p.port, 1, 0, 0) == 0 && tc_wait(&w, until_synced, 0, 3000));
    CHECK(tc_connect(&e, p.port, 1, 0, 0) == 0 && tc_wait(&e, until_synced, 0, 3000));
    CHECK(tc_write(&w, 2, 50, 2) == 0 && tc_wait(&w, until_acked, 2, 3000));
    CHECK(tc_wait(&e, until_received, 2, 3000));
    /* Closed even with nothing to deliver (the relay's once-a-second
     * sweep), and nothing written after reaches it. */
    CHECK(tc_wait(&e, until_closed, 0, 5000));
    CHECK(tc_write(&w, 3, 50, 3) == 0 && tc_wait(&w, until_acked, 5, 3000));
    printf("token_expiry: error %u fatal %d, %llu changes received\n", e.err_code, e.err_fatal,
           (unsigned long long)e.received);
    CHECK(e.err_code == WEFT_PROTO_EEXPIRED && e.err_fatal);
    CHECK(e.received == 2);
    tc_free(&w);
    tc_free(&e);
    stop(&p);
}

/* A client's fatal ERROR closes its session; the space's fan-out must not
 * find it afterwards (it used to stay on the subscriber list, freed: ASan
 * sees the next write to the space read it). */
static void client_fatal_error(void) {
    relay_proc p;
    if (start(&p, "memory", NULL)) return;
    tclient w, q, rd;
    CHECK(tc_init(&w, &owner, NULL, WEFT_RIGHT_WRITE, content_key) == 0);
    CHECK(tc_init(&q, &owner, NULL, WEFT_RIGHT_READ, content_key) == 0);
    CHECK(tc_init(&rd, &owner, NULL, WEFT_RIGHT_READ, content_key) == 0);
    CHECK(tc_connect(&w, p.port, 1, 0, 0) == 0 && tc_wait(&w, until_synced, 0, 3000));
    CHECK(tc_connect(&q, p.port, 1, 0, 0) == 0 && tc_wait(&q, until_synced, 0, 3000));
    CHECK(tc_connect(&rd, p.port, 1, 0, 0) == 0 && tc_wait(&rd, until_synced, 0, 3000));
    uint8_t frame[128];
    size_t len;
    static const char msg[] = "bye";
    CHECK(weft_frame_error_encode(frame, sizeof frame, &len, WEFT_PROTO_EINTERNAL, 1, msg,
                                  sizeof msg - 1) == 0);
    CHECK(wsc_send(&q.ws, frame, len, 2, 1) == 0);
    CHECK(tc_wait(&q, until_closed, 0, 5000));
    /* Its session is freed by now; a write wakes the space's subscribers. */
    CHECK(tc_write(&w, 4, 50, 2) == 0 && tc_wait(&w, until_acked, 4, 3000));
    CHECK(tc_wait(&rd, until_received, 4, 3000));
    CHECK(relay_metric(p.port, "weft_relay_connections") == 2);
    tc_free(&w);
    tc_free(&q);
    tc_free(&rd);
    stop(&p);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: test_sessions PATH_TO_WEFT_RELAY [test]\n");
        return 2;
    }
    exe = argv[1];
    harness_init();
    ident_new(&owner);
    BE.random(BE.ctx, content_key, 32);
    static const relay_test tests[] = {
        {"presence_shared", presence_shared},
        {"presence_slow", presence_slow},
        {"presence_space_rate", presence_space_rate},
        {"hello_creates_nothing", hello_creates_nothing},
        {"idle_unload", idle_unload},
        {"token_expiry", token_expiry},
        {"client_fatal_error", client_fatal_error},
    };
    /* "redis": the scenarios that need redis-server (suite redis). */
    static const relay_test redis_tests[] = {
        {"idle_unload_redis", idle_unload_redis},
    };
    if (argc > 2 && strcmp(argv[2], "redis") == 0)
        return run_relay_tests(redis_tests, sizeof redis_tests / sizeof *redis_tests, NULL);
    return run_relay_tests(tests, sizeof tests / sizeof *tests, argc > 2 ? argv[2] : NULL);
}
