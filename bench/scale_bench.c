/*
 * Relay scale-out on Redis (docs/SCALING.md): the same clients, one writer
 * and N readers of one space, through one weft-relay and through three,
 * all with --storage redis on one redis-server (AOF with appendfsync
 * always, then everysec) that the bench starts itself on loopback; and
 * through one relay with file storage, for reference. Readers are spread
 * over the relays round-robin; the writer talks to the first.
 *
 *   throughput  the writer sends `changes` changes in frames of 20 with at
 *               most 8 frames unacked; deliveries/s = readers x changes /
 *               the time until every reader has every change;
 *   latency     then 1 change every 2 ms (500/s); fan-out latency = from
 *               the writer's send to a reader's receipt, every reader and
 *               change; p50 and p99.
 *
 * One single-threaded client process drives every socket with poll(); on
 * a 2-core machine it shares the CPU with the relays and Redis, so the
 * figures are what this machine does, not what the relay can.
 *
 *   scale_bench PATH_TO_WEFT_RELAY [--readers N] [--changes N] [--json FILE]
 */
#include "../tests/relay/harness.h"

#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_RELAYS 3
#define LAT_N      1000

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* CPU seconds (user + system) a process has used, from /proc. */
static double cpu_s(pid_t pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Send time of the writer's change by its seq. */
static double *sent_at;
static size_t sent_cap;
static double *lat;
static size_t n_lat, lat_cap;
static uint64_t lat_from_seq; /* latencies of seqs >= this are kept */

/* Reads every whole message a reader has; counts changes and records the
 * latency of those in the latency phase. */
static void pump_reader(tclient *c) {
    const uint8_t *msg;
    size_t len;
    while (wsc_recv(&c->ws, &msg, &len, 0) == 0) {
        weft_frame f;
        if (weft_frame_decode(&f, msg, len, 100000) || f.type != WEFT_FRAME_CHANGES) continue;
        double t = now_s();
        size_t pos = 0, rl;
        uint64_t rseq;
        const uint8_t *rec;
        while (weft_frame_change_next(&f, &pos, &rseq, &rec, &rl)) {
            c->received++;
            weft_change ch;
            if (weft_change_decode(&ch, rec, rl) || ch.seq >= sent_cap) continue;
            if (ch.seq >= lat_from_seq && n_lat < lat_cap) lat[n_lat++] = t - sent_at[ch.seq];
        }
    }
}

/* Waits up to ms for any socket, then pumps the readers and the writer. */
static void service(tclient *w, tclient *r, int n, int ms) {
    struct pollfd pf[512];
    int k = 0;
    pf[k++] = (struct pollfd){.fd = w->ws.fd, .events = POLLIN};
    for (int i = 0; i < n && k < 512; i++)
        pf[k++] = (struct pollfd){.fd = r[i].ws.fd, .events = POLLIN};
    poll(pf, (nfds_t)k, ms);
    while (tc_pump(w, 0) == 0)
        ;
    for (int i = 0; i < n; i++)
        if (pf[i + 1].revents || wsc_buffered(&r[i].ws)) pump_reader(&r[i]);
}

/* Writes one change per entry of `count`, recording send times. */
static int write_changes(tclient *w, int count, int per_frame) {
    uint64_t first = w->sent + 1;
    double t = now_s();
    for (int i = 0; i < count; i++)
        if (first + (uint64_t)i < sent_cap) sent_at[first + (uint64_t)i] = t;
    return tc_write(w, count, 40, per_frame);
}

static uint64_t min_received(const tclient *r, int n) {
    uint64_t m = UINT64_MAX;
    for (int i = 0; i < n; i++)
        if (r[i].received < m) m = r[i].received;
    return m;
}

typedef struct result {
    double deliveries_s, p50_ms, p99_ms;
    double busiest_cpu_ms; /* the busiest relay's CPU per 1,000 deliveries */
    int ok;
} result;

/* How the clients reach the relays (issue 28): TLS (--tls-cert on every
 * relay, a CA made for the run), or through HAProxy (deploy/haproxy.cfg). */
typedef struct path_opts {
    const char *tls_dir;     /* NULL: plain; else tls_make_cert's directory */
    const char *haproxy_cfg; /* NULL: straight to the relays */
} path_opts;

/* url NULL: one relay with file storage. wait: --redis-wait-replicas 1. */
static result run(const char *exe, const char *url, int n_relays, int n_readers, int changes,
                  int wait_replica, path_opts via) {
    result res = {0};
    /* Default token limits: with Redis they are shared, so the bench pays
     * for that (a credit round trip now and then). Every client is on
     * loopback: no limit per connection or per address. */
    const char *args[26] = {RELAY_LOOPBACK_LOAD_FLAGS, "--redis", url, NULL, NULL, NULL};
    static const char *const lifted0[] = {RELAY_LOOPBACK_LOAD_FLAGS};
    /* File storage: no --redis; what follows takes its place. */
    size_t k = sizeof lifted0 / sizeof *lifted0 + (url ? 2 : 0);
    if (wait_replica) {
        args[k++] = "--redis-wait-replicas";
        args[k++] = "1";
    }
    char cert[300], tls_key[300], ca[300];
    if (via.tls_dir) {
        snprintf(cert, sizeof cert, "%s/relay.pem", via.tls_dir);
        snprintf(tls_key, sizeof tls_key, "%s/relay.key", via.tls_dir);
        snprintf(ca, sizeof ca, "%s/ca.pem", via.tls_dir);
        args[k++] = "--tls-cert";
        args[k++] = cert;
        args[k++] = "--tls-key";
        args[k++] = tls_key;
        if (wsc_use_tls(ca)) return res;
    }
    args[k] = NULL;
    relay_proc rp[MAX_RELAYS];
    memset(rp, 0, sizeof rp);
    if (!url) relay_tmpdir(&rp[0]);
    for (int i = 0; i < n_relays; i++)
        if (relay_spawn(&rp[i], exe, url ? "redis" : "file", 0, args) ||
            !relay_wait_ready(rp[i].port, 200, 5000)) {
            for (int j = 0; j <= i; j++)
                relay_stop(&rp[j], SIGKILL, 1000);
            relay_cleanup(&rp[0]);
            wsc_use_tls(NULL);
            return res;
        }
    haproxy_proc lb;
    memset(&lb, 0, sizeof lb);
    int ports[MAX_RELAYS];
    for (int i = 0; i < n_relays; i++)
        ports[i] = rp[i].port;
    if (via.haproxy_cfg && haproxy_spawn(&lb, via.haproxy_cfg, ports, n_relays)) {
        fprintf(stderr, "scale_bench: cannot start haproxy\n");
        haproxy_stop(&lb);
        for (int i = 0; i < n_relays; i++)
            relay_stop(&rp[i], SIGTERM, 5000);
        relay_cleanup(&rp[0]);
        return res;
    }
    ident owner;
    ident_new(&owner); /* a fresh space per run */
    uint8_t key[32];
    BE.random(BE.ctx, key, 32);
    tclient w, *r = calloc((size_t)n_readers, sizeof *r);
    tc_init(&w, &owner, NULL, WEFT_RIGHT_WRITE, key);
    w.apply = 0;
    for (int i = 0; i < n_readers; i++) {
        tc_init(&r[i], &owner, NULL, WEFT_RIGHT_READ, key);
        r[i].apply = 0;
        if (tc_connect(&r[i], lb.pid > 0 ? lb.port : rp[i % n_relays].port, 0, 0, 0) ||
            !tc_wait(&r[i], until_synced, 0, 5000))
            goto out;
        r[i].received = 0;
    }
    if (tc_connect(&w, lb.pid > 0 ? lb.port : rp[0].port, 1, 0, 0) ||
        !tc_wait(&w, until_synced, 0, 5000))
        goto out;
    sent_cap = (size_t)changes + LAT_N + 2;
    sent_at = calloc(sent_cap, sizeof *sent_at);
    lat_cap = (size_t)n_readers * LAT_N;
    lat = malloc(lat_cap * sizeof *lat);
    n_lat = 0;
    lat_from_seq = UINT64_MAX;
    /* Throughput. */
    double cpu0[MAX_RELAYS];
    for (int i = 0; i < n_relays; i++)
        cpu0[i] = cpu_s(rp[i].pid);
    double t0 = now_s();
    while (min_received(r, n_readers) < (uint64_t)changes && now_s() - t0 < 60) {
        while (w.sent < (uint64_t)changes && w.sent - w.acked < 160)
            if (write_changes(&w, 20, 20)) goto out;
        service(&w, r, n_readers, 5);
    }
    double dt = now_s() - t0;
    if (min_received(r, n_readers) < (uint64_t)changes) goto out;
    res.deliveries_s = (double)n_readers * changes / dt;
    for (int i = 0; i < n_relays; i++) {
        double ms = (cpu_s(rp[i].pid) - cpu0[i]) * 1e3 / ((double)n_readers * changes / 1e3);
        if (ms > res.busiest_cpu_ms) res.busiest_cpu_ms = ms;
    }
    /* Latency: 500 changes/s, one per frame. */
    lat_from_seq = w.sent + 1;
    double next = now_s();
    uint64_t want = (uint64_t)changes + LAT_N;
    t0 = now_s();
    while (min_received(r, n_readers) < want && now_s() - t0 < 60) {
        if (w.sent < want && now_s() >= next) {
            if (write_changes(&w, 1, 1)) goto out;
            next += 0.002;
        }
        double wait = next - now_s();
        service(&w, r, n_readers, w.sent < want ? (wait > 0 ? (int)(wait * 1000) : 0) : 5);
    }
    if (n_lat < lat_cap / 2) goto out;
    qsort(lat, n_lat, sizeof *lat, cmp_double);
    res.p50_ms = lat[n_lat / 2] * 1e3;
    res.p99_ms = lat[(size_t)((double)n_lat * 0.99)] * 1e3;
    res.ok = 1;
out:
    for (int i = 0; i < n_readers; i++)
        tc_free(&r[i]);
    free(r);
    tc_free(&w);
    haproxy_stop(&lb);
    for (int i = 0; i < n_relays; i++)
        relay_stop(&rp[i], SIGTERM, 5000);
    relay_cleanup(&rp[0]);
    wsc_use_tls(NULL);
    free(sent_at);
    free(lat);
    sent_at = lat = NULL;
    return res;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: scale_bench PATH_TO_WEFT_RELAY [--readers N] [--changes N] "
                        "[--json FILE]\n");
        return 2;
    }
    int readers = 60, changes = 3000;
    const char *json = NULL;
    for (int i = 2; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--readers") == 0) readers = atoi(argv[i + 1]);
        if (strcmp(argv[i], "--changes") == 0) changes = atoi(argv[i + 1]);
        if (strcmp(argv[i], "--json") == 0) json = argv[i + 1];
    }
    if (readers < 1 || readers > 500 || changes < 20) return 2;
    harness_init();
    FILE *out = json ? fopen(json, "w") : NULL;
    if (out) fprintf(out, "[\n");
    int status = 0, written = 0;
    /* replica: a second redis-server replicating the first; wait: the
     * relays ack only after it holds the change (--redis-wait-replicas 1);
     * tls: wss:// to the relays; lb: through HAProxy. Each row sits next to
     * the one it compares with. */
    static const struct {
        const char *fsync; /* NULL: file storage */
        int relays, replica, wait, tls, lb;
        const char *group; /* SCALE_BENCH_ONLY=group picks rows for a brief run */
        int cluster;       /* a 6-node Redis Cluster (replica: each primary has one) */
    } configs[] = {
        {NULL, 1, 0, 0, 0, 0, "base", 0},
        {NULL, 1, 0, 0, 1, 0, "tls", 0},
        {"always", 1, 0, 0, 0, 0, "base", 0},
        {"always", 3, 0, 0, 0, 0, "base", 0},
        {"always", 3, 0, 0, 0, 1, "haproxy", 0},
        {"everysec", 1, 0, 0, 0, 0, "base", 0},
        {"everysec", 3, 0, 0, 0, 0, "base", 0},
        {"always", 1, 1, 0, 0, 0, "replica", 0},
        {"always", 1, 1, 1, 0, 0, "replica", 0},
        {"always", 3, 1, 1, 0, 0, "replica", 0},
        /* Redis Cluster (3 primaries, 3 replicas) beside one Redis with a
         * replica (its WAIT row is the one above: SCALE_BENCH_ONLY=
         * replica,cluster), three relays each, the ACK's WAIT off and on. */
        {"always", 3, 1, 0, 0, 0, "cluster", 0},
        {"always", 3, 1, 0, 0, 0, "cluster", 1},
        {"always", 3, 1, 1, 0, 0, "cluster", 1},
    };
    const char *only = getenv("SCALE_BENCH_ONLY");
    char tls_dir[256] = "";
    const char *lb_cfg = getenv("SCALE_BENCH_HAPROXY_CFG");
    if (!lb_cfg) lb_cfg = "deploy/haproxy.cfg";
    redis_proc rd = {0}, rep = {0}, cl[6];
    memset(cl, 0, sizeof cl);
    for (size_t c = 0; c < sizeof configs / sizeof *configs; c++) {
        char url[128], what[128];
        if (only && !strstr(only, configs[c].group)) continue;
        if (configs[c].tls && !tls_dir[0] && tls_make_cert(tls_dir)) {
            fprintf(stderr, "scale_bench: no openssl for the TLS rows\n");
            status = 1;
            continue;
        }
        if (configs[c].lb && system("haproxy -v >/dev/null 2>&1") != 0) {
            fprintf(stderr, "scale_bench: no haproxy: its row is left out\n");
            continue;
        }
        for (int i = 0; i < 6; i++)
            redis_cleanup(&cl[i]);
        memset(cl, 0, sizeof cl);
        if (configs[c].cluster) {
            redis_cleanup(&rep);
            redis_cleanup(&rd);
            for (int i = 0; i < 6; i++)
                cl[i].appendfsync = configs[c].fsync;
            if (redis_cluster_spawn(cl, 6, 5000)) {
                fprintf(stderr,
                        "scale_bench: cannot start a Redis Cluster: its rows are left out\n");
                continue;
            }
            snprintf(url, sizeof url, "redis+cluster://127.0.0.1:%d,127.0.0.1:%d", cl[0].port,
                     cl[1].port);
            snprintf(what, sizeof what,
                     "redis cluster (3 primaries + 3 replicas, appendfsync %s%s)", configs[c].fsync,
                     configs[c].wait ? ", ACK after WAIT 1" : ", no WAIT");
        } else if (configs[c].fsync) {
            redis_cleanup(&rep);
            redis_cleanup(&rd);
            memset(&rd, 0, sizeof rd);
            memset(&rep, 0, sizeof rep);
            rd.appendfsync = configs[c].fsync;
            if (redis_spawn(&rd)) {
                fprintf(stderr, "scale_bench: cannot start redis-server\n");
                return 1;
            }
            if (configs[c].replica) {
                rep.appendfsync = configs[c].fsync;
                rep.replicaof = rd.port;
                int linked = redis_spawn(&rep) == 0 ? 0 : -1;
                for (int i = 0; i < 100 && !linked; i++) /* WAIT, no write: replicas attached */
                    linked = redis_inline(rd.port, "WAIT 1 100", ":1");
                if (linked != 1) {
                    fprintf(stderr, "scale_bench: the replica did not attach\n");
                    return 1;
                }
            }
            snprintf(url, sizeof url, "redis://127.0.0.1:%d", rd.port);
            snprintf(what, sizeof what, "redis (appendfsync %s%s)", configs[c].fsync,
                     !configs[c].replica ? ""
                     : configs[c].wait   ? ", a replica, ACK after WAIT 1"
                                         : ", a replica, no WAIT");
        } else {
            snprintf(what, sizeof what, "file");
        }
        int n = configs[c].relays;
        path_opts via = {configs[c].tls ? tls_dir : NULL, configs[c].lb ? lb_cfg : NULL};
        result res =
            run(argv[1], configs[c].fsync ? url : NULL, n, readers, changes, configs[c].wait, via);
        const char *how = configs[c].tls  ? ", over wss://"
                          : configs[c].lb ? ", clients through HAProxy"
                                          : "";
        if (!res.ok) {
            fprintf(stderr, "scale_bench: the run on %s%s with %d relay(s) failed\n", what, how, n);
            status = 1;
            continue;
        }
        printf("%s storage, %d relay%s%s, 1 writer + %d readers: %.0f deliveries/s (busiest "
               "relay %.2f ms CPU per 1k); fan-out latency at 500 changes/s p50 %.2f ms, p99 "
               "%.2f ms\n",
               what, n, n > 1 ? "s" : "", how, readers, res.deliveries_s, res.busiest_cpu_ms,
               res.p50_ms, res.p99_ms);
        if (out) {
            char wl[224], impl[32];
            snprintf(wl, sizeof wl, "relay scale-out on Redis, 1 writer + %d readers, %s storage%s",
                     readers, what, how);
            snprintf(impl, sizeof impl, "weft-relay x%d", n);
            fprintf(out,
                    "%s  {\"workload\": \"%s\", \"impl\": \"%s\", \"metric\": \"deliveries\", "
                    "\"value\": %.1f, \"unit\": \"deliveries/s\"},\n"
                    "  {\"workload\": \"%s\", \"impl\": \"%s\", \"metric\": \"fan-out latency p50 "
                    "(500 changes/s)\", \"value\": %.3f, \"unit\": \"ms\"},\n"
                    "  {\"workload\": \"%s\", \"impl\": \"%s\", \"metric\": \"fan-out latency p99 "
                    "(500 changes/s)\", \"value\": %.3f, \"unit\": \"ms\"},\n"
                    "  {\"workload\": \"%s\", \"impl\": \"%s\", \"metric\": \"busiest relay CPU "
                    "per 1k deliveries\", \"value\": %.3f, \"unit\": \"ms\"}",
                    written++ ? ",\n" : "", wl, impl, res.deliveries_s, wl, impl, res.p50_ms, wl,
                    impl, res.p99_ms, wl, impl, res.busiest_cpu_ms);
        }
    }
    if (out) {
        fprintf(out, "\n]\n");
        fclose(out);
    }
    redis_cleanup(&rep);
    redis_cleanup(&rd);
    for (int i = 0; i < 6; i++)
        redis_cleanup(&cl[i]);
    if (tls_dir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf %s", tls_dir);
        if (system(cmd)) status = status ? status : 0;
    }
    return status;
}
