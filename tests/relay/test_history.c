/*
 * Bounded history on the relay (docs/RELAY.md, "History"): with
 * --keep-history none, storing a snapshot trims the log it covers (whole
 * segments for file storage, records for memory storage); REST GET below
 * the trim point answers 410 TRIMMED, and a joiner loads the snapshot and
 * reads the tail over REST or over the sync protocol (a HELLO whose vector
 * is below the trim point gets a non-fatal ERROR TRIMMED and then joins
 * with SNAPSHOT_GET); writers whose history was trimmed keep writing, also
 * after a restart that rebuilds the log from the trim checkpoint; a window
 * (--keep-history 1h) keeps recent history; kill -9 before and after the
 * checkpoint's rename leaves the log whole or trimmed, never torn, and
 * every acked change. With the argument "redis" (suite redis): the same
 * on Redis storage (XTRIM of the stream, the checkpoint in Redis, a
 * restarted relay loading it).
 *
 *   test_history PATH_TO_WEFT_RELAY [test]
 */
#include "harness.h"

#include <dirent.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *exe;
static ident owner;
static uint8_t content_key[32];
static char space_hex[65];

static const char *const NONE_SMALL[] = {"--keep-history", "none", "--segment-bytes", "4096", NULL};

static int start(relay_proc *p, const char *storage, const char *const *extra) {
    if (relay_spawn(p, exe, storage, 0, extra)) {
        fprintf(stderr, "cannot start %s\n", exe);
        check_failures++;
        return -1;
    }
    return 0;
}

/* "Authorization: Bearer <token>\r\n" and, for a GET of get_target, a
 * Weft-Proof (as tests/relay/test_snapshots.c). */
static void auth(char *dst, size_t cap, const tclient *c, const char *get_target) {
    char tok[1500];
    size_t n;
    weft_base64url_encode(tok, sizeof tok, &n, c->token, c->token_len);
    tok[n] = 0;
    int o = snprintf(dst, cap, "Authorization: Bearer %s\r\n", tok);
    if (!get_target) return;
    char stamp[40], sig64[100];
    uint32_t rnd;
    BE.random(BE.ctx, (uint8_t *)&rnd, sizeof rnd);
    snprintf(stamp, sizeof stamp, "%llu:%08x", (unsigned long long)time(NULL), rnd);
    uint8_t nonce[64], sig[64];
    int nl = snprintf((char *)nonce, 33, "%s GET ", stamp);
    weft_blake2b(nonce + nl, 32, get_target, strlen(get_target));
    if (weft_proof_sign(&BE, sig, c->me.sk, c->space, nonce, (size_t)nl + 32)) abort();
    weft_base64url_encode(sig64, sizeof sig64, &n, sig, 64);
    sig64[n] = 0;
    snprintf(dst + o, cap - (size_t)o, "Weft-Proof: %s.%s\r\n", stamp, sig64);
}

static uint8_t *publish(tclient *c, size_t *len) {
    const uint8_t *rec;
    if (weft_replica_publish_snapshot(c->rep, 0, 1700000000000ULL, &rec, len)) abort();
    uint8_t *copy = malloc(*len);
    memcpy(copy, rec, *len);
    return copy;
}

static int post_snap(int port, const tclient *c, const uint8_t *rec, size_t len, int timeout_ms) {
    char path[200], hdrs[3000];
    snprintf(path, sizeof path, "/v1/spaces/%s/snapshots", space_hex);
    auth(hdrs, sizeof hdrs, c, NULL);
    int st = -1;
    char *b = NULL;
    size_t bl;
    if (http_request(port, "POST", path, hdrs, rec, len, &st, &b, &bl, NULL, timeout_ms)) st = -1;
    free(b);
    return st;
}

/* GET path (a "/v1/spaces/<id>/..." target) as c: the status, *body,
 * *len, *hdrs (caller frees). */
static int get(int port, const tclient *c, const char *path, char **body, size_t *len,
               char **hdrs) {
    char h[3000];
    auth(h, sizeof h, c, path);
    *body = NULL;
    if (hdrs) *hdrs = NULL;
    int st = -1;
    if (http_request(port, "GET", path, h, NULL, 0, &st, body, len, hdrs, 10000)) st = -1;
    return st;
}

static int get_changes(int port, const tclient *c, uint64_t after, char **body, size_t *len) {
    char path[200];
    snprintf(path, sizeof path, "/v1/spaces/%s/changes?after=%llu", space_hex,
             (unsigned long long)after);
    return get(port, c, path, body, len, NULL);
}

/* n changes in acked rounds of 10: a segment is sealed by the first
 * append after its sync, so with --segment-bytes 4096 this spreads them
 * over many segments. */
static void write_acked(tclient *c, int n) {
    for (int k = 0; k < n; k += 10) {
        int m = n - k < 10 ? n - k : 10;
        uint64_t want = c->acked + (uint64_t)m;
        CHECK(tc_write(c, m, 64, 5) == 0);
        CHECK(tc_wait(c, until_acked, want, 20000));
    }
}

static int count_files(const char *dir, const char *suffix) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    size_t sl = strlen(suffix);
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l >= sl && strcmp(e->d_name + l - sl, suffix) == 0) n++;
    }
    closedir(d);
    return n;
}

static int file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* A joiner over REST: the newest snapshot, then every page of changes
 * after its base, applied to c's (empty) replica. Returns the base. */
static uint64_t rest_join(int port, tclient *c) {
    char path[200], *b = NULL, *h = NULL;
    size_t bl = 0;
    snprintf(path, sizeof path, "/v1/spaces/%s/snapshot", space_hex);
    CHECK(get(port, c, path, &b, &bl, &h) == 200);
    const char *rs = h ? strstr(h, "weft-snapshot-rseq: ") : NULL;
    uint64_t base = rs ? strtoull(rs + strlen("weft-snapshot-rseq: "), NULL, 10) : 0;
    CHECK(b && weft_replica_load_sealed_snapshot(c->rep, (const uint8_t *)b, bl) == 0);
    free(b);
    free(h);
    uint64_t after = base;
    for (int page = 0; page < 100; page++) {
        CHECK(get_changes(port, c, after, &b, &bl) == 200);
        weft_frame f;
        if (b && bl == 0) { /* nothing after `after` */
            free(b);
            break;
        }
        if (!b || weft_frame_decode(&f, (const uint8_t *)b, bl, 100000) ||
            f.type != WEFT_FRAME_CHANGES) {
            fprintf(stderr, "GET changes after %llu: not a CHANGES frame (%zu bytes)\n",
                    (unsigned long long)after, bl);
            check_failures++;
            free(b);
            break;
        }
        size_t pos = 0;
        uint64_t rseq;
        const uint8_t *rec;
        size_t rl;
        int n = 0;
        while (weft_frame_change_next(&f, &pos, &rseq, &rec, &rl)) {
            CHECK(weft_replica_apply(c->rep, rec, rl, NULL) == 0);
            after = rseq;
            n++;
        }
        free(b);
        if (!n) break;
    }
    return base;
}

/* The WS join of a client whose vector is below the trim point: a
 * non-fatal ERROR TRIMMED, nothing sent, then SNAPSHOT_GET, the snapshot
 * loaded and the tail. */
static void ws_join_trimmed(tclient *c, int port) {
    CHECK(tc_connect(c, port, 1, 0, 0) == 0);
    CHECK(tc_wait(c, until_error, 0, 5000));
    CHECK(c->err_code == WEFT_PROTO_ETRIMMED && !c->err_fatal && !c->closed);
    CHECK(c->received == 0 && !c->synced);
    size_t cap = weft_frame_snapshot_bound(0, 0), n;
    uint8_t f[64];
    CHECK(cap <= sizeof f && weft_frame_snapshot_get_encode(f, sizeof f, &n) == 0 &&
          wsc_send(&c->ws, f, n, 2, 1) == 0);
    CHECK(tc_wait(c, until_snapshots, c->n_snapshots + 1, 5000));
    CHECK(c->snap != NULL);
    if (c->snap) CHECK(weft_replica_load_sealed_snapshot(c->rep, c->snap, c->snap_len) == 0);
    CHECK(tc_wait(c, until_synced, 0, 10000));
}

/* Upload -> trim -> join over REST and WS, a restart, writers going on. */
static void trim_and_join_on(const char *storage) {
    relay_proc p = {0};
    if (strcmp(storage, "file") == 0) relay_tmpdir(&p);
    if (start(&p, storage, NONE_SMALL)) return;
    tclient admin, w, rd, fresh, ws_fresh;
    tc_init(&admin, &owner, NULL, WEFT_RIGHT_ADMIN, content_key);
    tc_init(&w, &owner, NULL, WEFT_RIGHT_WRITE, content_key);
    tc_init(&rd, &owner, NULL, WEFT_RIGHT_READ, content_key);
    tc_init(&fresh, &owner, NULL, WEFT_RIGHT_READ, content_key);
    tc_init(&ws_fresh, &owner, NULL, WEFT_RIGHT_READ, content_key);
    CHECK(tc_connect(&admin, p.port, 1, 0, 0) == 0);
    CHECK(tc_wait(&admin, until_synced, 0, 5000));
    CHECK(tc_connect(&w, p.port, 1, 0, 0) == 0);
    CHECK(tc_wait(&w, until_synced, 0, 5000));
    write_acked(&admin, 120);
    write_acked(&w, 80);
    CHECK(tc_wait(&admin, until_received, 80, 10000));
    char dir[400];
    snprintf(dir, sizeof dir, "%s/%s", p.dir, space_hex);
    int segs_before = p.dir[0] ? count_files(dir, ".seg") : 0;
    if (p.dir[0] && segs_before <= 3) fprintf(stderr, "%s: %d segments\n", dir, segs_before);
    if (p.dir[0]) CHECK(segs_before > 3);
    /* Before any snapshot nothing is trimmed. */
    char *b;
    size_t bl;
    CHECK(get_changes(p.port, &rd, 0, &b, &bl) == 200);
    free(b);
    size_t sl;
    uint8_t *snap = publish(&admin, &sl);
    CHECK(post_snap(p.port, &admin, snap, sl, 10000) == 200);
    free(snap);
    double trims = relay_metric(p.port, "weft_relay_trims_total");
    double recs = relay_metric(p.port, "weft_relay_trimmed_records_total");
    CHECK(trims == 1 && recs > 0 && recs <= 200);
    CHECK(relay_metric(p.port, "weft_relay_trimmed_bytes_total") > recs * 64);
    if (p.dir[0]) {
        CHECK(count_files(dir, ".seg") < segs_before);
        char trim[512];
        snprintf(trim, sizeof trim, "%s/trim", dir);
        CHECK(file_exists(trim));
    }
    if (strcmp(storage, "memory") == 0) CHECK(recs == 200); /* memory cuts exactly */
    /* REST below the trim point: 410 TRIMMED, with where to go. */
    CHECK(get_changes(p.port, &rd, 0, &b, &bl) == 410);
    CHECK(b && strstr(b, "\"error\":\"TRIMMED\"") && strstr(b, "\"code\":30") &&
          strstr(b, "/snapshot"));
    free(b);
    CHECK(relay_metric(p.port, "weft_relay_rejections_total{reason=\"TRIMMED\"}") == 1);
    /* New history after the trim. */
    write_acked(&w, 15);
    /* Joiners: over REST, and over WS from an empty vector. */
    uint64_t base = rest_join(p.port, &fresh);
    CHECK(base == 200);
    CHECK(same_state(&fresh, &w));
    ws_join_trimmed(&ws_fresh, p.port);
    CHECK(ws_fresh.received == 15 && same_state(&ws_fresh, &w));
    /* Restart (file storage keeps the trimmed log): the log rebuilds from
     * the checkpoint, writers chain on, and joiners still join. */
    if (p.dir[0]) {
        tc_free(&admin);
        tc_free(&w);
        CHECK(relay_stop(&p, SIGTERM, 5000) == 0);
        if (start(&p, storage, NONE_SMALL) == 0) {
            CHECK(get_changes(p.port, &rd, 0, &b, &bl) == 410);
            free(b);
            /* The WS joiner (its replica holds everything) writes on. */
            wsc_close(&ws_fresh.ws); /* the closed connection's buffers */
            ws_fresh.synced = 0;
            CHECK(tc_connect(&ws_fresh, p.port, 1, 0, 0) == 0);
            CHECK(tc_wait(&ws_fresh, until_synced, 0, 5000));
            CHECK(ws_fresh.err_code == 0);
            tclient again;
            tc_init(&again, &owner, NULL, WEFT_RIGHT_READ, content_key);
            CHECK(rest_join(p.port, &again) == 200);
            CHECK(same_state(&again, &fresh));
            tc_free(&again);
        }
    } else {
        /* The writer whose history was trimmed writes on. */
        write_acked(&admin, 5);
        CHECK(tc_wait(&w, until_received, 120 + 5, 10000));
        CHECK(same_state(&admin, &w));
        tc_free(&admin);
        tc_free(&w);
    }
    CHECK(relay_stop(&p, SIGTERM, 5000) == 0);
    tc_free(&rd);
    tc_free(&fresh);
    tc_free(&ws_fresh);
    relay_cleanup(&p);
}

static void trim_file(void) {
    trim_and_join_on("file");
}

static void trim_memory(void) {
    trim_and_join_on("memory");
}

/* With the default segment size every record sits in the active segment:
 * a snapshot covering all of them seals it and cuts it whole, leaving one
 * empty segment; writing goes on in it. */
static void trim_rolls_active(void) {
    relay_proc p = {0};
    relay_tmpdir(&p);
    const char *extra[] = {"--keep-history", "none", NULL};
    if (start(&p, "file", extra)) return;
    tclient admin, fresh;
    tc_init(&admin, &owner, NULL, WEFT_RIGHT_ADMIN, content_key);
    tc_init(&fresh, &owner, NULL, WEFT_RIGHT_READ, content_key);
    CHECK(tc_connect(&admin, p.port, 1, 0, 0) == 0);
    CHECK(tc_wait(&admin, until_synced, 0, 5000));
    write_acked(&admin, 30);
    char dir[400];
    snprintf(dir, sizeof dir, "%s/%s", p.dir, space_hex);
    CHECK(count_files(dir, ".seg") == 1);
    size_t sl;
    uint8_t *snap = publish(&admin, &sl);
    CHECK(post_snap(p.port, &admin, snap, sl, 10000) == 200);
    free(snap);
    CHECK(relay_metric(p.port, "weft_relay_trimmed_records_total") == 30);
    CHECK(count_files(dir, ".seg") == 1); /* the new, empty one */
    write_acked(&admin, 4);
    CHECK(rest_join(p.port, &fresh) == 30 && same_state(&fresh, &admin));
    CHECK(relay_stop(&p, SIGTERM, 5000) == 0);
    if (start(&p, "file", extra) == 0) {
        tclient again;
        tc_init(&again, &owner, NULL, WEFT_RIGHT_READ, content_key);
        CHECK(rest_join(p.port, &again) == 30 && same_state(&again, &admin));
        tc_free(&again);
        CHECK(relay_stop(&p, SIGTERM, 5000) == 0);
    }
    tc_free(&admin);
    tc_free(&fresh);
    relay_cleanup(&p);
}

/* --keep-history 1h: a snapshot of fresh history trims nothing;
 * --keep-history all (the relay's own choice made explicit) neither. */
static void window_keeps(void) {
    const char *modes[] = {"1h", "all"};
    for (int m = 0; m < 2; m++) {
        relay_proc p = {0};
        const char *extra[] = {"--keep-history", modes[m], NULL};
        if (start(&p, "memory", extra)) return;
        tclient admin, rd;
        tc_init(&admin, &owner, NULL, WEFT_RIGHT_ADMIN, content_key);
        tc_init(&rd, &owner, NULL, WEFT_RIGHT_READ, content_key);
        CHECK(tc_connect(&admin, p.port, 1, 0, 0) == 0);
        CHECK(tc_wait(&admin, until_synced, 0, 5000));
        write_acked(&admin, 30);
        size_t sl;
        uint8_t *snap = publish(&admin, &sl);
        CHECK(post_snap(p.port, &admin, snap, sl, 10000) == 200);
        free(snap);
        CHECK(relay_metric(p.port, "weft_relay_trims_total") == 0);
        char *b;
        size_t bl;
        CHECK(get_changes(p.port, &rd, 0, &b, &bl) == 200);
        free(b);
        CHECK(relay_stop(&p, SIGTERM, 5000) == 0);
        tc_free(&admin);
        tc_free(&rd);
    }
    /* A bad value is refused at start. */
    relay_proc p = {0};
    const char *bad[] = {"--keep-history", "soon", NULL};
    CHECK(relay_spawn(&p, exe, "memory", 0, bad) != 0);
}

/* kill -9 while trimming, before the checkpoint is renamed into place
 * (the log stays whole) and after (trimmed, the leftover segments go at
 * open); every acked change survives either way. */
static void kill_mid_trim(void) {
    for (int after_rename = 0; after_rename < 2; after_rename++) {
        relay_proc p = {0};
        relay_tmpdir(&p);
        setenv("WEFT_RELAY_TEST_TRIM_DELAY_MS", "2000", 1);
        int rc = start(&p, "file", NONE_SMALL);
        unsetenv("WEFT_RELAY_TEST_TRIM_DELAY_MS");
        if (rc) return;
        tclient admin, rd, joiner;
        tc_init(&admin, &owner, NULL, WEFT_RIGHT_ADMIN, content_key);
        tc_init(&rd, &owner, NULL, WEFT_RIGHT_READ, content_key);
        tc_init(&joiner, &owner, NULL, WEFT_RIGHT_READ, content_key);
        CHECK(tc_connect(&admin, p.port, 1, 0, 0) == 0);
        CHECK(tc_wait(&admin, until_synced, 0, 5000));
        write_acked(&admin, 150);
        uint64_t acked_seq = admin.acked_seq;
        size_t sl;
        uint8_t *snap = publish(&admin, &sl);
        /* The upload is stored, then the trim sleeps: 1 s in, before the
         * rename; 3 s in, after it with segments left. */
        CHECK(post_snap(p.port, &admin, snap, sl, after_rename ? 3000 : 1000) == -1);
        free(snap);
        CHECK(relay_stop(&p, SIGKILL, 3000) == 128 + SIGKILL);
        char tmp[512], trim[512];
        snprintf(tmp, sizeof tmp, "%s/%s/trim.tmp", p.dir, space_hex);
        snprintf(trim, sizeof trim, "%s/%s/trim", p.dir, space_hex);
        CHECK(file_exists(trim) == after_rename);
        if (start(&p, "file", NULL) == 0) {
            char *b;
            size_t bl;
            CHECK(get_changes(p.port, &rd, 0, &b, &bl) == (after_rename ? 410 : 200));
            free(b);
            CHECK(!file_exists(tmp)); /* removed when the space opened */
            if (after_rename) {
                CHECK(rest_join(p.port, &joiner) == 150);
            } else {
                CHECK(tc_connect(&joiner, p.port, 1, 0, 0) == 0);
                CHECK(tc_wait(&joiner, until_synced, 0, 10000));
                CHECK(joiner.received == 150);
            }
            CHECK(tc_seq_of(&joiner, admin.me.pk) == acked_seq && acked_seq == 150);
            CHECK(same_state(&joiner, &admin));
            CHECK(relay_stop(&p, SIGTERM, 5000) == 0);
        }
        tc_free(&admin);
        tc_free(&rd);
        tc_free(&joiner);
        relay_cleanup(&p);
    }
}

/* XLEN of the space's stream in Redis (redis-cli), or -1. */
static long stream_len(int redis_port) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "redis-cli -p %d XLEN 'weft:{%s}:log' 2>/dev/null", redis_port,
             space_hex);
    FILE *f = popen(cmd, "r");
    long n = -1;
    if (f) {
        if (fscanf(f, "%ld", &n) != 1) n = -1;
        pclose(f);
    }
    return n;
}

/* Upload -> trim -> join on Redis storage, and after a restart. */
static void trim_redis(void) {
    redis_proc rds = {0};
    if (redis_spawn(&rds)) {
        fprintf(stderr, "cannot start redis-server\n");
        check_failures++;
        return;
    }
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", rds.port);
    relay_proc p = {0};
    const char *extra[] = {"--redis", url, "--keep-history", "none", NULL};
    if (start(&p, "redis", extra) == 0) {
        tclient admin, w, fresh, ws_fresh, again;
        tc_init(&admin, &owner, NULL, WEFT_RIGHT_ADMIN, content_key);
        tc_init(&w, &owner, NULL, WEFT_RIGHT_WRITE, content_key);
        tc_init(&fresh, &owner, NULL, WEFT_RIGHT_READ, content_key);
        tc_init(&ws_fresh, &owner, NULL, WEFT_RIGHT_READ, content_key);
        tc_init(&again, &owner, NULL, WEFT_RIGHT_READ, content_key);
        CHECK(tc_connect(&admin, p.port, 1, 0, 0) == 0);
        CHECK(tc_wait(&admin, until_synced, 0, 5000));
        CHECK(tc_connect(&w, p.port, 1, 0, 0) == 0);
        CHECK(tc_wait(&w, until_synced, 0, 5000));
        write_acked(&admin, 40);
        write_acked(&w, 20);
        CHECK(tc_wait(&admin, until_received, 20, 10000));
        CHECK(stream_len(rds.port) == 60);
        size_t sl;
        uint8_t *snap = publish(&admin, &sl);
        CHECK(post_snap(p.port, &admin, snap, sl, 10000) == 200);
        free(snap);
        CHECK(relay_metric(p.port, "weft_relay_trims_total") == 1);
        CHECK(relay_metric(p.port, "weft_relay_trimmed_records_total") == 60);
        char *b;
        size_t bl;
        CHECK(get_changes(p.port, &fresh, 0, &b, &bl) == 410);
        free(b);
        write_acked(&w, 5);
        CHECK(stream_len(rds.port) == 5); /* XTRIM MINID ran before these */
        CHECK(rest_join(p.port, &fresh) == 60);
        CHECK(same_state(&fresh, &w));
        ws_join_trimmed(&ws_fresh, p.port);
        CHECK(ws_fresh.received == 5 && same_state(&ws_fresh, &w));
        /* A restarted relay loads the checkpoint from Redis: writers chain
         * on, joiners join. */
        CHECK(relay_stop(&p, SIGTERM, 5000) == 0);
        if (start(&p, "redis", extra) == 0) {
            CHECK(get_changes(p.port, &fresh, 0, &b, &bl) == 410);
            free(b);
            wsc_close(&w.ws); /* the closed connection's buffers */
            w.synced = 0;
            CHECK(tc_connect(&w, p.port, 1, 0, 0) == 0);
            CHECK(tc_wait(&w, until_synced, 0, 5000));
            CHECK(w.err_code == 0);
            write_acked(&w, 3);
            CHECK(rest_join(p.port, &again) == 60);
            CHECK(same_state(&again, &w));
            CHECK(relay_stop(&p, SIGTERM, 5000) == 0);
        }
        tc_free(&admin);
        tc_free(&w);
        tc_free(&fresh);
        tc_free(&ws_fresh);
        tc_free(&again);
    }
    redis_kill(&rds);
    redis_cleanup(&rds);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: test_history PATH_TO_WEFT_RELAY [test]\n");
        return 2;
    }
    exe = argv[1];
    harness_init();
    ident_new(&owner);
    for (int i = 0; i < 32; i++)
        snprintf(space_hex + 2 * i, 3, "%02x", owner.pk[i]);
    BE.random(BE.ctx, content_key, 32);
    static const relay_test tests[] = {
        {"trim_file", trim_file},
        {"trim_memory", trim_memory},
        {"trim_rolls_active", trim_rolls_active},
        {"window_keeps", window_keeps},
        {"kill_mid_trim", kill_mid_trim},
    };
    static const relay_test redis_tests[] = {
        {"trim_redis", trim_redis},
    };
    if (argc > 2 && strcmp(argv[2], "redis") == 0) return run_relay_tests(redis_tests, 1, NULL);
    return run_relay_tests(tests, sizeof tests / sizeof *tests, argc > 2 ? argv[2] : NULL);
}
