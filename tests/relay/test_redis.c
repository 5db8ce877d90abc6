/*
 * Redis storage (relay/storage_redis.c) against a real redis-server that the
 * test starts itself: loopback, a free port, a temporary directory, AOF with
 * appendfsync always. Three stores on one Redis stand for three relays (each
 * has its own two connections, as a relay process would):
 *
 *   1. appends from all three interleave; relay sequences are 1..N with no
 *      gap or repeat, every store is notified up to N and reads the same log;
 *   2. a change sent twice (through two relays) is stored once;
 *   3. a sliding-window rate limit per token id is shared by all three;
 *   4. Redis is killed (-9) with appends in flight, then restarted on the
 *      same AOF: every acked record is there under its acked sequence, the
 *      stores reconnect by themselves and appending continues after the head;
 *   5. unsubscribing stops notifications; deleting a space empties it;
 *   6. two records with one fork key (author, seq) and different dedupe
 *      keys, through two relays: the second is refused as a fork and not
 *      stored, whichever relay sends it; a delete by a relay older than the
 *      fork keys (DEL of three keys) leaves them behind, and they refuse
 *      nothing in the space created again; a delete removes them.
 *   7. sealed snapshots (weft:{hex}:snap): stored by one relay, read by
 *      another, the one before kept, a lower base refused whichever relay
 *      sends it, an equal base replacing the newest; they survive Redis
 *      killed (-9) and restarted on its AOF; a delete removes them.
 *
 * All waits are bounded; redis-server is killed and the directory removed on
 * every exit path (atexit).
 */
#include "../../relay/storage_redis.h"

#include "weft/error.h"

#include <libwebsockets.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define N_STORES  3
#define PER_STORE 300
#define BATCH     10
#define MAX_REC   (N_STORES * PER_STORE + 2000)

static pid_t redis_pid = -1;
static char redis_dir[64];
static int redis_port;
static struct lws_context *ctx;

static void cleanup(void) {
    if (redis_pid > 0) {
        kill(redis_pid, SIGKILL);
        waitpid(redis_pid, NULL, 0);
        redis_pid = -1;
    }
    if (redis_dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", redis_dir);
        if (system(cmd)) fprintf(stderr, "could not remove %s\n", redis_dir);
        redis_dir[0] = 0;
    }
}

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (!(cond)) {                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            exit(1);                                                                 \
        }                                                                            \
    } while (0)

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t l = sizeof a;
    CHECK(fd >= 0 && !bind(fd, (struct sockaddr *)&a, sizeof a) &&
          !getsockname(fd, (struct sockaddr *)&a, &l));
    close(fd);
    return ntohs(a.sin_port);
}

static int port_open(int port) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0) close(fd);
    return ok;
}

/* Starts redis-server on redis_port with its data in redis_dir and waits
 * (at most 5 s) until it accepts connections. */
static void redis_start(void) {
    char port[16];
    snprintf(port, sizeof port, "%d", redis_port);
    fflush(stdout); /* or the child's freopen writes our buffer out again */
    redis_pid = fork();
    CHECK(redis_pid >= 0);
    if (redis_pid == 0) {
        /* Dies with the test, however the test dies (a meson timeout too). */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (!getenv("WEFT_TEST_REDIS_LOG")) {
            FILE *f = freopen("/dev/null", "w", stdout);
            (void)f;
        }
        execlp("redis-server", "redis-server", "--port", port, "--bind", "127.0.0.1", "--dir",
               redis_dir, "--save", "", "--appendonly", "yes", "--appendfsync", "always",
               "--daemonize", "no", (char *)NULL);
        _exit(127);
    }
    uint64_t deadline = now_ms() + 5000;
    while (!port_open(redis_port)) {
        CHECK(now_ms() < deadline);
        int st;
        CHECK(waitpid(redis_pid, &st, WNOHANG) == 0); /* it died: not installed? */
        usleep(20000);
    }
}

static void redis_kill9(void) {
    kill(redis_pid, SIGKILL);
    waitpid(redis_pid, NULL, 0);
    redis_pid = -1;
}

/* lws_service() sleeps until the next socket event or lws timer, however
 * long: a ticking timer bounds every wait of the test. */
static lws_sorted_usec_list_t tick_sul;

static void tick(lws_sorted_usec_list_t *sul) {
    lws_sul_schedule(ctx, 0, sul, tick, 20 * LWS_US_PER_MS);
}

/* Runs the loop until done(arg) or timeout. Returns 1 when done. */
static int pump(int (*done)(void *), void *arg, int timeout_ms) {
    uint64_t deadline = now_ms() + (uint64_t)timeout_ms;
    while (!done(arg)) {
        if (now_ms() > deadline) return 0;
        lws_service(ctx, 0);
    }
    return 1;
}

static void idle_ms(int ms) {
    uint64_t until = now_ms() + (uint64_t)ms;
    while (now_ms() < until)
        lws_service(ctx, 0);
}

/* ---- what the test remembers ---- */

static const uint8_t SPACE[32] = {0x5e, 0xed, 1, 2, 3};

typedef struct store_t {
    redis_store *st;
    uint64_t notified; /* highest head on_new reported */
    int resubscribed;  /* on_new(head 0) seen */
} store_t;

static store_t stores[N_STORES];

typedef struct rec {
    char body[48];
    uint8_t key[32];
    size_t len;
} rec;

/* acked[rseq] = index into recs of the record acked under it (-1: none). */
static rec recs[MAX_REC];
static int n_recs;
static int acked_at[MAX_REC + 1];
static int pending, failed, dups;

static void make_rec(int idx, int store, int i) {
    rec *r = &recs[idx];
    r->len = (size_t)snprintf(r->body, sizeof r->body, "record from relay %d, #%d", store, i);
    memset(r->key, 0, 32);
    memcpy(r->key, r->body, r->len < 32 ? r->len : 32);
    r->key[31] = (uint8_t)i;
    r->key[30] = (uint8_t)(i >> 8);
    r->key[29] = (uint8_t)store;
}

static void on_new(void *ud, const uint8_t space[32], uint64_t head) {
    store_t *s = ud;
    CHECK(memcmp(space, SPACE, 32) == 0);
    if (head == 0) s->resubscribed++;
    if (head > s->notified) s->notified = head;
}

typedef struct batch {
    int first, n;
} batch;

static void on_append(void *ud, int rc, const uint64_t *rseq, const uint8_t *dup, size_t n) {
    batch *b = ud;
    pending--;
    if (rc) {
        failed += b->n;
    } else {
        CHECK((int)n == b->n);
        for (size_t i = 0; i < n; i++) {
            CHECK(rseq[i] >= 1 && rseq[i] <= MAX_REC);
            if (dup[i]) {
                dups++;
                CHECK(acked_at[rseq[i]] >= 0);
                CHECK(memcmp(recs[acked_at[rseq[i]]].key, recs[b->first + (int)i].key, 32) == 0);
                continue;
            }
            CHECK(acked_at[rseq[i]] == -1); /* no sequence handed out twice */
            acked_at[rseq[i]] = b->first + (int)i;
        }
    }
    free(b);
}

static void append_batch(store_t *s, int first, int n) {
    const uint8_t *rp[BATCH];
    size_t lens[BATCH];
    uint8_t keys[BATCH][32];
    for (int i = 0; i < n; i++) {
        rp[i] = (const uint8_t *)recs[first + i].body;
        lens[i] = recs[first + i].len;
        memcpy(keys[i], recs[first + i].key, 32);
    }
    batch *b = malloc(sizeof *b);
    CHECK(b);
    *b = (batch){first, n};
    pending++;
    CHECK(redis_store_append(s->st, SPACE, (const uint8_t(*)[32])keys, NULL, rp, lens, (size_t)n,
                             on_append, b) == 0);
}

static int no_pending(void *arg) {
    (void)arg;
    return pending == 0;
}

static int all_connected(void *arg) {
    (void)arg;
    for (int i = 0; i < N_STORES; i++)
        if (!redis_store_connected(stores[i].st)) return 0;
    return 1;
}

static int none_connected(void *arg) {
    (void)arg;
    for (int i = 0; i < N_STORES; i++)
        if (redis_store_connected(stores[i].st)) return 0;
    return 1;
}

static int one_notified(void *arg) {
    const uint64_t *want = arg; /* {store, head} */
    return stores[want[0]].notified >= want[1];
}

static int all_notified(void *arg) {
    uint64_t head = *(uint64_t *)arg;
    for (int i = 0; i < N_STORES; i++)
        if (stores[i].notified < head) return 0;
    return 1;
}

/* Reads a store's whole log into seen[] and checks it against the acks:
 * every acked record is there under its sequence, byte for byte. */
typedef struct reader {
    uint64_t after;
    int done, rc;
    uint64_t n;
} reader;

static void on_read(void *ud, int rc, const uint64_t *rseq, const uint8_t *const *r,
                    const size_t *lens, size_t n) {
    reader *rd = ud;
    rd->rc = rc;
    for (size_t i = 0; !rc && i < n; i++) {
        CHECK(rseq[i] == rd->after + 1); /* gap-free, in order */
        rd->after = rseq[i];
        rd->n++;
        int idx = acked_at[rseq[i]];
        if (idx >= 0) {
            CHECK(lens[i] == recs[idx].len);
            CHECK(memcmp(r[i], recs[idx].body, lens[i]) == 0);
        }
    }
    rd->done = rc || n == 0 ? 2 : 1;
}

static int read_done(void *arg) {
    return ((reader *)arg)->done != 0;
}

static uint64_t read_all(store_t *s) {
    reader rd = {0};
    for (;;) {
        rd.done = 0;
        CHECK(redis_store_read(s->st, SPACE, rd.after, 128, on_read, &rd) == 0);
        CHECK(pump(read_done, &rd, 5000));
        CHECK(rd.rc == 0);
        if (rd.done == 2) break;
    }
    return rd.n;
}

static int count_acked(void) {
    int n = 0;
    for (int i = 1; i <= MAX_REC; i++)
        n += acked_at[i] >= 0;
    return n;
}

typedef struct head_t {
    int done, rc;
    uint64_t head;
} head_t;

static void on_head(void *ud, int rc, uint64_t head) {
    head_t *h = ud;
    h->done = 1;
    h->rc = rc;
    h->head = head;
}

static int head_done(void *arg) {
    return ((head_t *)arg)->done;
}

typedef struct rate_t {
    int done, rc, allowed;
} rate_t;

static void on_rate(void *ud, int rc, int allowed) {
    rate_t *r = ud;
    r->done = 1;
    r->rc = rc;
    r->allowed = allowed;
}

static int rate_done(void *arg) {
    return ((rate_t *)arg)->done;
}

typedef struct snap_t {
    int done, rc;
    uint8_t blob[2][64];
    size_t len[2];
    int has[2];
} snap_t;

static void on_snaps(void *ud, int rc, const uint8_t *const blob[2], const size_t len[2]) {
    snap_t *t = ud;
    t->done = 1;
    t->rc = rc;
    for (int i = 0; i < 2; i++) {
        t->has[i] = blob[i] != NULL;
        t->len[i] = len[i] < sizeof t->blob[i] ? len[i] : sizeof t->blob[i];
        if (blob[i]) memcpy(t->blob[i], blob[i], t->len[i]);
    }
}

static int snaps_done(void *arg) {
    return ((snap_t *)arg)->done;
}

/* Stores blob "snap-<tag>" at base through store s; returns what the script
 * said (1 stored, 0 refused) or -1 on an error. */
static int snap_put(int s, uint64_t base, const char *tag) {
    char blob[32];
    int n = snprintf(blob, sizeof blob, "snap-%s", tag);
    head_t h = {0};
    if (redis_store_snap_put(stores[s].st, SPACE, base, (const uint8_t *)blob, (size_t)n, on_head,
                             &h) ||
        !pump(head_done, &h, 5000) || h.rc)
        return -1;
    return (int)h.head;
}

/* The two stored blobs, through store s, equal to "snap-<newest>" and
 * "snap-<older>" (NULL: absent). */
static int snaps_are(int s, const char *newest, const char *older) {
    snap_t t = {0};
    if (redis_store_snap_get(stores[s].st, SPACE, on_snaps, &t) || !pump(snaps_done, &t, 5000) ||
        t.rc)
        return 0;
    const char *want[2] = {newest, older};
    for (int i = 0; i < 2; i++) {
        char w[32];
        int n = want[i] ? snprintf(w, sizeof w, "snap-%s", want[i]) : 0;
        if (t.has[i] != (want[i] != NULL)) return 0;
        if (want[i] && (t.len[i] != (size_t)n || memcmp(t.blob[i], w, (size_t)n))) return 0;
    }
    return 1;
}

static void snapshots(void) {
    CHECK(snaps_are(0, NULL, NULL));
    CHECK(snap_put(0, 10, "a") == 1);
    CHECK(snaps_are(1, "a", NULL)); /* another relay reads it */
    CHECK(snap_put(1, 20, "b") == 1);
    CHECK(snaps_are(2, "b", "a"));
    CHECK(snap_put(2, 15, "stale") == 0); /* below the newest: refused */
    CHECK(snap_put(0, 20, "b2") == 1);    /* the same base replaces the newest */
    CHECK(snaps_are(0, "b2", "a"));
    CHECK(snap_put(1, 30, "c") == 1); /* the oldest goes */
    CHECK(snaps_are(1, "c", "b2"));
    redis_kill9();
    CHECK(pump(none_connected, NULL, 5000));
    redis_start();
    CHECK(pump(all_connected, NULL, 10000));
    CHECK(snaps_are(2, "c", "b2")); /* on the AOF, appendfsync always */
    head_t h = {0};
    CHECK(redis_store_delete(stores[0].st, SPACE, on_head, &h) == 0);
    CHECK(pump(head_done, &h, 5000) && h.rc == 0);
    CHECK(snaps_are(1, NULL, NULL));
    printf("ok 7 - snapshots: newest two, stale refused, equal base replaces, durable, deleted\n");
}

/* Figures: the same 900 appends (batches of 10, all pipelined) from one
 * relay, then spread over three, each run into a fresh space. */
static int bench_pending;

static void on_bench(void *ud, int rc, const uint64_t *rseq, const uint8_t *dup, size_t n) {
    (void)ud;
    (void)rseq;
    (void)dup;
    (void)n;
    CHECK(rc == 0);
    bench_pending--;
}

static int bench_done(void *arg) {
    (void)arg;
    return bench_pending == 0;
}

static double bench(int n_relays, uint8_t tag) {
    uint8_t space[32] = {0xbe, 0x4c, tag};
    int total = N_STORES * PER_STORE;
    uint64_t t0 = now_ms();
    for (int i = 0; i < total; i += BATCH) {
        const uint8_t *rp[BATCH];
        size_t lens[BATCH];
        uint8_t keys[BATCH][32];
        for (int j = 0; j < BATCH; j++) {
            rp[j] = (const uint8_t *)recs[i + j].body;
            lens[j] = recs[i + j].len;
            memcpy(keys[j], recs[i + j].key, 32);
        }
        bench_pending++;
        CHECK(redis_store_append(stores[(i / BATCH) % n_relays].st, space,
                                 (const uint8_t(*)[32])keys, NULL, rp, lens, BATCH, on_bench,
                                 NULL) == 0);
    }
    CHECK(pump(bench_done, NULL, 20000));
    return total * 1000.0 / (double)(now_ms() - t0 + 1);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static const struct lws_protocols protocols[] = {
    {"test", lws_callback_http_dummy, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

typedef struct one_t {
    int done, rc;
    uint64_t rseq;
    uint8_t dup;
} one_t;

static void on_one(void *ud, int rc, const uint64_t *rseq, const uint8_t *dup, size_t n) {
    one_t *o = ud;
    o->done = 1;
    o->rc = rc;
    if (!rc && n == 1) {
        o->rseq = rseq[0];
        o->dup = dup[0];
    }
}

static int one_done(void *arg) {
    return ((one_t *)arg)->done;
}

/* Appends one record (key byte k, fork key byte f) through store s. */
static one_t append_one(int s, const uint8_t space[32], uint8_t k, uint8_t f) {
    uint8_t key[32] = {k}, fork[REDIS_FORK_KEY] = {f}, body[8] = {k, f, 1};
    const uint8_t *rp[1] = {body};
    size_t len = sizeof body;
    one_t o = {0};
    CHECK(redis_store_append(stores[s].st, space, (const uint8_t(*)[32])key,
                             (const uint8_t(*)[REDIS_FORK_KEY])fork, rp, &len, 1, on_one, &o) == 0);
    CHECK(pump(one_done, &o, 5000) && o.rc == 0);
    return o;
}

/* redis-cli against the test's Redis; returns its first output line. */
static int redis_cli(char *out, size_t cap, const char *args) {
    char cmd[700];
    snprintf(cmd, sizeof cmd, "redis-cli -p %d %s", redis_port, args);
    FILE *f = popen(cmd, "r");
    if (!f) return -1;
    out[0] = 0;
    if (!fgets(out, (int)cap, f)) out[0] = 0;
    out[strcspn(out, "\n")] = 0;
    return pclose(f);
}

static void forks(void) {
    static const uint8_t SPACE2[32] = {0x5e, 0xed};
    char k[512], line[64];
    const char *tag = "weft:{5eed000000000000000000000000000000000000000000000000000000000000}";
    one_t o = append_one(0, SPACE2, 1, 9);
    CHECK(o.rseq == 1 && o.dup == 0);
    o = append_one(1, SPACE2, 2, 9); /* another change, same author and seq */
    CHECK(o.rseq == 0 && o.dup == REDIS_APPEND_FORK);
    o = append_one(2, SPACE2, 2, 9);
    CHECK(o.rseq == 0 && o.dup == REDIS_APPEND_FORK);
    o = append_one(2, SPACE2, 1, 9); /* the stored one again: a duplicate */
    CHECK(o.rseq == 1 && o.dup == REDIS_APPEND_DUP);
    o = append_one(1, SPACE2, 3, 10); /* the next seq */
    CHECK(o.rseq == 2 && o.dup == 0);
    head_t h = {0};
    CHECK(redis_store_head(stores[1].st, SPACE2, on_head, &h) == 0);
    CHECK(pump(head_done, &h, 5000) && h.rc == 0 && h.head == 2);
    /* An older relay deletes the space: its three keys go, seqs stays. */
    snprintf(k, sizeof k, "DEL %s:seq %s:log %s:hashes", tag, tag, tag);
    int cli = redis_cli(line, sizeof line, k);
    if (cli || strcmp(line, "3") != 0) fprintf(stderr, "redis-cli %s: %d, \"%s\"\n", k, cli, line);
    CHECK(cli == 0 && strcmp(line, "3") == 0);
    o = append_one(1, SPACE2, 2, 9); /* refused before; the space is new */
    CHECK(o.rseq == 1 && o.dup == 0);
    h = (head_t){0};
    CHECK(redis_store_delete(stores[0].st, SPACE2, on_head, &h) == 0);
    CHECK(pump(head_done, &h, 5000) && h.rc == 0);
    snprintf(k, sizeof k, "EXISTS %s:seqs", tag);
    CHECK(redis_cli(line, sizeof line, k) == 0 && strcmp(line, "0") == 0);
    printf("ok 6 - a fork is refused through every relay; stale fork keys refuse nothing\n");
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    if (system("command -v redis-server >/dev/null 2>&1") != 0) {
        printf("skipped: no redis-server on PATH (tools/setup installs it)\n");
        return 77; /* meson's "skipped" */
    }
    lws_set_log_level(getenv("WEFT_TEST_REDIS_LOG") ? LLL_ERR | LLL_WARN | LLL_NOTICE : LLL_ERR,
                      NULL);
    snprintf(redis_dir, sizeof redis_dir, "/tmp/weft-redis-test-XXXXXX");
    CHECK(mkdtemp(redis_dir));
    atexit(cleanup);
    redis_port = free_port();
    redis_start();
    for (int i = 0; i <= MAX_REC; i++)
        acked_at[i] = -1;

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = protocols;
    ctx = lws_create_context(&info);
    CHECK(ctx);
    tick(&tick_sul);
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", redis_port);
    for (int i = 0; i < N_STORES; i++) {
        redis_store_config cfg = {.ctx = ctx, .url = url, .on_new = on_new, .ud = &stores[i]};
        CHECK(redis_store_new(&stores[i].st, &cfg) == 0);
        CHECK(redis_store_subscribe(stores[i].st, SPACE) == 0);
    }
    CHECK(pump(all_connected, NULL, 5000));

    /* 0. A Redis that is not there: the store keeps retrying, harmlessly,
     * and frees cleanly with commands still queued. */
    {
        char nowhere[64];
        snprintf(nowhere, sizeof nowhere, "redis://127.0.0.1:%d", free_port());
        redis_store *st;
        redis_store_config cfg = {.ctx = ctx, .url = nowhere, .reconnect_ms = 20};
        CHECK(redis_store_new(&st, &cfg) == 0);
        make_rec(0, 9, 0);
        store_t tmp = {.st = st};
        append_batch(&tmp, 0, 1);
        idle_ms(300);
        CHECK(!redis_store_connected(st));
        CHECK(pending == 0 && failed == 1); /* the connect failure failed the append */
        redis_store_free(st);
        failed = 0;
        char host[16];
        int port;
        CHECK(redis_url_parse("redis://127.0.0.1:6380", host, sizeof host, &port) == 0);
        CHECK(strcmp(host, "127.0.0.1") == 0 && port == 6380);
        CHECK(redis_url_parse("redis://localhost/", host, sizeof host, &port) == 0 && port == 6379);
        CHECK(redis_url_parse("http://x:1", host, sizeof host, &port) != 0);
        CHECK(redis_url_parse("redis://x:99999", host, sizeof host, &port) != 0);
        CHECK(redis_url_parse("redis://:1", host, sizeof host, &port) != 0);
        /* Cluster seeds: a list of host:port, nothing empty. */
        static const char *const bad[] = {"redis+cluster://",     "redis+cluster://a:1,",
                                          "redis+cluster://,a:1", "redis+cluster://a:1,,b:2",
                                          "redis+cluster://a:0",  "redis+cluster://a:1/x"};
        for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
            redis_store_config bc = {.ctx = ctx, .url = bad[i]};
            CHECK(redis_store_new(&st, &bc) == WEFT_EINVAL);
        }
        /* A cluster that is not there: retried, appends fail, frees cleanly. */
        snprintf(nowhere, sizeof nowhere, "redis+cluster://127.0.0.1:%d,127.0.0.1:%d", free_port(),
                 free_port());
        cfg.url = nowhere;
        CHECK(redis_store_new(&st, &cfg) == 0);
        tmp.st = st;
        append_batch(&tmp, 0, 1);
        idle_ms(300);
        CHECK(!redis_store_connected(st));
        CHECK(pending == 0 && failed == 1);
        redis_store_free(st);
        failed = 0;
        printf("ok 0 - an absent Redis fails appends and is retried; URLs parse\n");
    }

    /* 1. Interleaved appends from three relays. */
    uint64_t t0 = now_ms();
    for (int i = 0; i < PER_STORE; i += BATCH)
        for (int s = 0; s < N_STORES; s++) {
            for (int j = 0; j < BATCH; j++)
                make_rec(n_recs + j, s, i + j);
            append_batch(&stores[s], n_recs, BATCH);
            n_recs += BATCH;
        }
    CHECK(pump(no_pending, NULL, 20000));
    uint64_t t1 = now_ms();
    CHECK(failed == 0 && dups == 0);
    int total = N_STORES * PER_STORE;
    CHECK(count_acked() == total);
    for (int i = 1; i <= total; i++)
        CHECK(acked_at[i] >= 0); /* 1..N, no gap */
    uint64_t head = (uint64_t)total;
    CHECK(pump(all_notified, &head, 5000));
    for (int s = 0; s < N_STORES; s++)
        CHECK(read_all(&stores[s]) == head);
    printf("ok 1 - %d records from 3 relays: sequences 1..%d, all notified, same log "
           "(%.0f appends/s, appendfsync always)\n",
           total, total, total * 1000.0 / (double)(t1 - t0 + 1));

    /* 2. The same change through another relay is stored once. */
    int again = n_recs;
    recs[n_recs++] = recs[5];
    append_batch(&stores[2], again, 1);
    CHECK(pump(no_pending, NULL, 5000));
    CHECK(failed == 0 && dups == 1);
    CHECK(read_all(&stores[1]) == head);
    head_t h = {0};
    CHECK(redis_store_head(stores[0].st, SPACE, on_head, &h) == 0);
    CHECK(pump(head_done, &h, 5000) && h.rc == 0 && h.head == head);
    printf("ok 2 - a duplicate is answered with the first copy's sequence\n");

    /* Figures: one relay's append reaching another relay's notification,
     * one at a time (ACK round trip + fsync + pub/sub hop). */
    {
        enum { N_LAT = 300 };
        static double lat[N_LAT];
        for (int i = 0; i < N_LAT; i++) {
            make_rec(n_recs, 0, 3000 + i);
            uint64_t want = head + 1;
            struct timespec a, b;
            clock_gettime(CLOCK_MONOTONIC, &a);
            append_batch(&stores[0], n_recs++, 1);
            CHECK(pump(all_notified, &want, 5000));
            clock_gettime(CLOCK_MONOTONIC, &b);
            lat[i] = (double)(b.tv_sec - a.tv_sec) * 1e6 + (double)(b.tv_nsec - a.tv_nsec) / 1e3;
            head = want;
        }
        CHECK(pump(no_pending, NULL, 5000) && failed == 0);
        qsort(lat, N_LAT, sizeof lat[0], cmp_double);
        printf("# append -> every relay notified: p50 %.0f us, p99 %.0f us (%d sequential)\n",
               lat[N_LAT / 2], lat[N_LAT * 99 / 100], N_LAT);
    }

    /* 3. One rate limit across relays: 100 per window per token. A 60 s
     * window makes the first checks independent of how slow the machine is;
     * a short one shows the counts sliding out. */
    {
        static const uint8_t tok[16] = {7, 7, 7}, tok2[16] = {8, 8, 8};
        static const uint8_t sp1[32] = {1}, sp2[32] = {2};
        static const uint32_t takes[] = {60, 30, 20, 10};
        static const int expect[] = {1, 1, 0, 1}; /* 60+30 fit, +20 not, +10 does */
        for (int i = 0; i < 4; i++) {
            rate_t rt = {0};
            CHECK(redis_store_rate_take(stores[i % N_STORES].st, sp1, tok, takes[i], 100, 60000,
                                        on_rate, &rt) == 0);
            CHECK(pump(rate_done, &rt, 5000) && rt.rc == 0);
            CHECK(rt.allowed == expect[i]);
        }
        rate_t rt = {0};
        CHECK(redis_store_rate_take(stores[0].st, sp1, tok2, 100, 100, 200, on_rate, &rt) == 0);
        CHECK(pump(rate_done, &rt, 5000) && rt.rc == 0 && rt.allowed == 1);
        idle_ms(450); /* two windows later the old count has slid out */
        rt = (rate_t){0};
        CHECK(redis_store_rate_take(stores[1].st, sp1, tok2, 90, 100, 200, on_rate, &rt) == 0);
        CHECK(pump(rate_done, &rt, 5000) && rt.rc == 0 && rt.allowed == 1);
        /* The same token id in another space is another limit (issue 23:
         * a stranger minting a victim's id must not drain its window). */
        rt = (rate_t){0};
        CHECK(redis_store_rate_take(stores[2 % N_STORES].st, sp2, tok, 100, 100, 60000, on_rate,
                                    &rt) == 0);
        CHECK(pump(rate_done, &rt, 5000) && rt.rc == 0 && rt.allowed == 1);
        printf("ok 3 - a sliding-window rate limit per (space, token id) holds across relays\n");
    }

    double one = bench(1, 1), three = bench(3, 3);
    printf("# 900 appends, batches of 10: %.0f/s from one relay, %.0f/s from three\n", one, three);

    /* 4. kill -9 with appends in flight, restart on the same AOF. */
    for (int i = 0; i < 60; i++) {
        int s = i % N_STORES;
        for (int j = 0; j < BATCH; j++)
            make_rec(n_recs + j, s, 1000 + i * BATCH + j);
        append_batch(&stores[s], n_recs, BATCH);
        n_recs += BATCH;
    }
    int before = count_acked();
    uint64_t deadline = now_ms() + 5000;
    while (count_acked() == before && now_ms() < deadline)
        lws_service(ctx, 0);
    redis_kill9();
    /* Wait until every store has noticed, or the restarted Redis could look
     * like the old connections still being up. */
    CHECK(pump(none_connected, NULL, 5000));
    CHECK(pump(no_pending, NULL, 10000)); /* every callback answered: acked or failed */
    int acked = count_acked();
    printf("# killed redis with %d records acked, %d failed in flight\n", acked - before, failed);
    redis_start();
    CHECK(pump(all_connected, NULL, 10000));
    uint64_t got = read_all(&stores[0]);
    CHECK(got >= (uint64_t)acked); /* unacked ones may or may not have made it */
    /* read_all compared every acked record it met; none may lie past the
     * head. (Acked sequences can have gaps here: a script Redis ran whose
     * reply the kill swallowed is stored but was never acked.) */
    for (uint64_t i = got + 1; i <= MAX_REC; i++)
        CHECK(acked_at[i] == -1);
    int resub = 0;
    for (int s = 0; s < N_STORES; s++)
        resub += stores[s].resubscribed >= 2; /* first subscribe + after the restart */
    CHECK(resub == N_STORES);
    /* Appending continues after the head, and everyone hears of it. */
    for (int j = 0; j < BATCH; j++)
        make_rec(n_recs + j, 1, 5000 + j);
    append_batch(&stores[1], n_recs, BATCH);
    n_recs += BATCH;
    int failed_before = failed;
    CHECK(pump(no_pending, NULL, 5000));
    CHECK(failed == failed_before);
    head = got + BATCH;
    CHECK(acked_at[head] >= 0 && acked_at[head + 1] == -1);
    CHECK(pump(all_notified, &head, 5000));
    for (int s = 0; s < N_STORES; s++)
        CHECK(read_all(&stores[s]) == head);
    printf("ok 4 - after kill -9 and restart: %llu records, every acked one intact, "
           "relays reconnected and resubscribed\n",
           (unsigned long long)got);

    /* 5. Unsubscribed relays hear nothing more; a deleted space is empty. */
    redis_store_unsubscribe(stores[0].st, SPACE);
    idle_ms(200); /* UNSUBSCRIBE travels on another connection than the append */
    uint64_t heard = stores[0].notified;
    make_rec(n_recs, 2, 6000);
    append_batch(&stores[2], n_recs++, 1);
    head++;
    CHECK(pump(no_pending, NULL, 5000) && failed == failed_before);
    uint64_t want[2] = {1, head};
    CHECK(pump(one_notified, want, 5000));
    idle_ms(200);
    CHECK(stores[0].notified == heard);
    h = (head_t){0};
    CHECK(redis_store_delete(stores[1].st, SPACE, on_head, &h) == 0);
    CHECK(pump(head_done, &h, 5000) && h.rc == 0);
    h = (head_t){0};
    CHECK(redis_store_head(stores[2].st, SPACE, on_head, &h) == 0);
    CHECK(pump(head_done, &h, 5000) && h.rc == 0 && h.head == 0);
    memset(acked_at, 0xff, sizeof acked_at);
    CHECK(read_all(&stores[2]) == 0);
    printf("ok 5 - unsubscribe stops notifications; delete empties the space\n");
    forks();
    snapshots();

    for (int s = 0; s < N_STORES; s++)
        redis_store_free(stores[s].st);
    lws_sul_cancel(&tick_sul);
    lws_context_destroy(ctx);
    return 0;
}
