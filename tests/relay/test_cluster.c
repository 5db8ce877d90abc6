/*
 * weft-relay on a real Redis Cluster (docs/SCALING.md, "Redis Cluster"):
 * six redis-server nodes on loopback (three primaries, three replicas,
 * cluster-node-timeout 2000 ms, AOF appendfsync always), made a cluster
 * with redis-cli --cluster create; three relays on it with
 * --redis redis+cluster://... --redis-wait-replicas 1.
 *
 *   keyslot   relay/rcluster.c's slots equal the server's CLUSTER KEYSLOT;
 *   migrate   space 1's slot moves to another primary under traffic
 *             (CLUSTER SETSLOT, MIGRATE): the relays follow ASK and MOVED,
 *             and every acked change is on every relay;
 *   failover  writers of three spaces through the three relays, readers on
 *             other relays; the primary holding space 0's slot is killed
 *             with -9 mid-traffic; its replica takes over; writing goes on
 *             (clients reconnect and resend what was not acked); afterwards
 *             every acked change is on every relay and the live readers
 *             converge.
 *
 *   test_cluster PATH_TO_WEFT_RELAY [test]
 *
 * Skipped (exit 77) when redis-server or redis-cli is missing. Every wait
 * is bounded; the nodes die with the test (PDEATHSIG), the relays are
 * killed at exit.
 */
#include "harness.h"

#include "../../relay/rcluster.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define N_NODES  6
#define N_RELAYS 3
#define N_SPACES 3

static const char *exe;
static redis_proc nodes[N_NODES];
static relay_proc relays[N_RELAYS];
static ident owners[N_SPACES];
static uint8_t content_keys[N_SPACES][32];
static relay_proc data; /* its dir: the relays' --data (files), not the working directory */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void kill_all(void) {
    for (int i = 0; i < N_RELAYS; i++)
        relay_stop(&relays[i], SIGKILL, 2000);
    for (int i = 0; i < N_NODES; i++)
        redis_cleanup(&nodes[i]);
    relay_cleanup(&data);
}

/* The node (index) that serves a space's keys: the others answer MOVED. */
static int primary_of(int s) {
    char hex[65], cmd[128], b[256];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", owners[s].pk[i]);
    snprintf(cmd, sizeof cmd, "GET weft:{%s}:seq", hex);
    for (int i = 0; i < N_NODES; i++)
        if (nodes[i].pid > 0 && redis_query(nodes[i].port, cmd, b, sizeof b) > 0 &&
            strncmp(b, "-MOVED", 6) != 0 && b[0] != '-')
            return i;
    return -1;
}

static int spawn_relays(void) {
    static char url[256];
    int k = snprintf(url, sizeof url, "redis+cluster://");
    for (int i = 0; i < 2; i++) /* two seeds are enough: the rest is discovered */
        k += snprintf(url + k, sizeof url - (size_t)k, "%s127.0.0.1:%d", i ? "," : "",
                      nodes[i].port);
    const char *args[] = {
        "--redis", url, "--redis-wait-replicas", "1", "--redis-wait-ms", "1500", "--data",
        data.dir,  NULL};
    for (int i = 0; i < N_RELAYS; i++)
        if (relay_spawn(&relays[i], exe, "redis", 0, args) ||
            !relay_wait_ready(relays[i].port, 200, 10000)) {
            fprintf(stderr, "cannot start relay %d on the cluster\n", i);
            return -1;
        }
    return 0;
}

static void keyslot(void) {
    if (nodes[0].pid <= 0) return;
    const char *keys[] = {
        "foo",
        "bar",
        "hello",
        "{user1000}.following",
        "foo{}{bar}",
        "foo{{bar}}zap",
        "foo{bar}{zap}",
        "weft:{00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff}:log"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        char cmd[160], b[64];
        snprintf(cmd, sizeof cmd, "CLUSTER KEYSLOT %s", keys[i]);
        CHECK(redis_query(nodes[0].port, cmd, b, sizeof b) > 1 && b[0] == ':');
        unsigned want = (unsigned)strtoul(b + 1, NULL, 10);
        if (want != rcluster_key_slot(keys[i], strlen(keys[i])))
            fprintf(stderr, "%s: server %u, rcluster %u\n", keys[i], want,
                    rcluster_key_slot(keys[i], strlen(keys[i])));
        CHECK(want == rcluster_key_slot(keys[i], strlen(keys[i])));
    }
}

typedef struct writer {
    tclient c;
    int relay;
    double retry_at; /* when a failed reconnect is tried again */
} writer;

static void drain(tclient *c) {
    while (tc_pump(c, 0) == 0)
        ;
}

/* Connects again and resends what the relay lacks (its CHALLENGE vector
 * says what of ours is durable, acked or not). */
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

/* A client whose session ended (STORAGE while the primary was away)
 * reconnects to the same relay, at most every 200 ms. */
static int keep_up(writer *w) {
    if (!w->c.closed && !w->c.err_fatal) return 1;
    if (now_s() < w->retry_at) return 0;
    w->c.err_fatal = 0;
    if (rejoin(&w->c, relays[w->relay].port) == 0) return 1;
    w->c.closed = 1;
    w->retry_at = now_s() + 0.2;
    return 0;
}

static void traffic(writer *w, int n, int write) {
    for (int i = 0; i < n; i++) {
        if (!keep_up(&w[i])) continue;
        if (write && w[i].c.sent - w[i].c.acked_seq < 60) tc_write(&w[i].c, 3, 40, 3);
        drain(&w[i].c);
    }
    usleep(2000);
}

static uint64_t acked_sum(const writer *w, int n) {
    uint64_t a = 0;
    for (int i = 0; i < n; i++)
        a += w[i].c.acked_seq;
    return a;
}

/* A fresh reader on `port` has every acked change of the space's writers. */
static void check_acked_on(int s, int port, writer *w) {
    tclient r;
    CHECK(tc_init(&r, &owners[s], NULL, WEFT_RIGHT_READ, content_keys[s]) == 0);
    CHECK(tc_connect(&r, port, 1, 0, 0) == 0);
    CHECK(tc_wait(&r, until_synced, 0, 10000));
    for (int i = 0; i < 2; i++) {
        uint64_t have = tc_seq_of(&r, w[i].c.me.pk);
        if (have < w[i].c.acked_seq)
            fprintf(stderr, "space %d writer %d: acked %llu, relay on port %d has %llu\n", s, i,
                    (unsigned long long)w[i].c.acked_seq, port, (unsigned long long)have);
        CHECK(have >= w[i].c.acked_seq);
    }
    tc_free(&r);
}

/* A node's id (CLUSTER MYID: "$40\r\n<id>\r\n"). */
static int node_id(int port, char id[41]) {
    char b[128];
    if (redis_query(port, "CLUSTER MYID", b, sizeof b) < 46 || strncmp(b, "$40\r\n", 5) != 0)
        return -1;
    memcpy(id, b + 5, 40);
    id[40] = 0;
    return 0;
}

/* Moves one key of `slot` from port src to port dst (MIGRATE); 0 when the
 * slot has none left on src, 1 when one moved, -1 on error. */
static int migrate_one(int src, int dst, unsigned slot) {
    char cmd[256], b[512];
    snprintf(cmd, sizeof cmd, "CLUSTER GETKEYSINSLOT %u 1", slot);
    if (redis_query(src, cmd, b, sizeof b) < 4) return -1;
    if (strncmp(b, "*0", 2) == 0) return 0;
    char *key = strstr(b, "\r\n$");
    key = key ? strstr(key + 3, "\r\n") : NULL;
    if (!key) return -1;
    key += 2;
    char *end = strstr(key, "\r\n");
    if (!end) return -1;
    *end = 0;
    snprintf(cmd, sizeof cmd, "MIGRATE 127.0.0.1 %d %s 0 5000", dst, key);
    return redis_inline(src, cmd, "+OK") ? 1 : -1;
}

static void failover(void);

/* Resharding under traffic: space 1's slot moves from its primary to
 * another one, key by key (the relays meet ASK meanwhile, MOVED after);
 * writing goes on, and every acked change is on every relay. */
static void migrate(void) {
    if (nodes[0].pid <= 0 || spawn_relays()) {
        check_failures++;
        return;
    }
    writer w[2];
    memset(w, 0, sizeof w);
    for (int j = 0; j < 2; j++) {
        w[j].relay = j;
        CHECK(tc_init(&w[j].c, &owners[1], NULL, WEFT_RIGHT_WRITE, content_keys[1]) == 0);
        CHECK(tc_connect(&w[j].c, relays[j].port, 1, 0, 0) == 0);
    }
    double t0 = now_s();
    while (now_s() - t0 < 8 && acked_sum(w, 2) < 200)
        traffic(w, 2, 1);
    int src = primary_of(1), dst = -1;
    for (int i = 0; i < N_NODES && src >= 0; i++)
        if (i != src && redis_is_primary(nodes[i].port)) dst = i;
    char src_id[41], dst_id[41], cmd[256];
    CHECK(src >= 0 && dst >= 0);
    if (src < 0 || dst < 0 || node_id(nodes[src].port, src_id) ||
        node_id(nodes[dst].port, dst_id)) {
        check_failures++;
        return;
    }
    char hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", owners[1].pk[i]);
    unsigned slot = rcluster_key_slot(hex, 64);
    snprintf(cmd, sizeof cmd, "CLUSTER SETSLOT %u IMPORTING %s", slot, src_id);
    CHECK(redis_inline(nodes[dst].port, cmd, "+OK"));
    snprintf(cmd, sizeof cmd, "CLUSTER SETSLOT %u MIGRATING %s", slot, dst_id);
    CHECK(redis_inline(nodes[src].port, cmd, "+OK"));
    int moved, n_moved = 0;
    while ((moved = migrate_one(nodes[src].port, nodes[dst].port, slot)) == 1 && n_moved < 100) {
        n_moved++;
        for (int k = 0; k < 20; k++) /* traffic while the slot is half moved */
            traffic(w, 2, 1);
    }
    CHECK(moved == 0 && n_moved >= 3);
    snprintf(cmd, sizeof cmd, "CLUSTER SETSLOT %u NODE %s", slot, dst_id);
    for (int i = 0; i < N_NODES; i++)
        if (redis_is_primary(nodes[i].port)) CHECK(redis_inline(nodes[i].port, cmd, "+OK"));
    CHECK(primary_of(1) == dst);
    uint64_t before = acked_sum(w, 2);
    double t1 = now_s();
    while (now_s() - t1 < 15 && acked_sum(w, 2) < before + 300)
        traffic(w, 2, 1);
    int done = 0;
    while (!done && now_s() - t1 < 25) {
        traffic(w, 2, 0);
        done = 1;
        for (int j = 0; j < 2; j++)
            done &= !w[j].c.closed && w[j].c.acked_seq >= w[j].c.sent;
    }
    CHECK(done);
    for (int i = 0; i < N_RELAYS; i++)
        check_acked_on(1, relays[i].port, w);
    double redirects = 0;
    for (int i = 0; i < N_RELAYS; i++)
        redirects += relay_metric(relays[i].port, "weft_relay_redis_redirects_total");
    CHECK(redirects >= 1);
    printf("migrate: slot %u (%d keys) moved from node %d to node %d under traffic; %llu acked "
           "before, %llu after; %.0f MOVED/ASK\n",
           slot, n_moved, src, dst, (unsigned long long)before, (unsigned long long)acked_sum(w, 2),
           redirects);
    for (int j = 0; j < 2; j++)
        tc_free(&w[j].c);
    for (int i = 0; i < N_RELAYS; i++)
        CHECK(relay_stop(&relays[i], SIGTERM, 8000) == 0);
}

static void failover(void) {
    if (nodes[0].pid <= 0 || spawn_relays()) {
        check_failures++;
        return;
    }
    enum { NW = 2 * N_SPACES };
    writer w[NW];
    writer rd[N_SPACES];
    memset(w, 0, sizeof w);
    memset(rd, 0, sizeof rd);
    for (int s = 0; s < N_SPACES; s++) {
        for (int j = 0; j < 2; j++) {
            writer *x = &w[2 * s + j];
            x->relay = (s + j) % N_RELAYS;
            CHECK(tc_init(&x->c, &owners[s], NULL, WEFT_RIGHT_WRITE, content_keys[s]) == 0);
            CHECK(tc_connect(&x->c, relays[x->relay].port, 1, 0, 0) == 0);
        }
        rd[s].relay = (s + 2) % N_RELAYS;
        CHECK(tc_init(&rd[s].c, &owners[s], NULL, WEFT_RIGHT_READ, content_keys[s]) == 0);
        CHECK(tc_connect(&rd[s].c, relays[rd[s].relay].port, 1, 0, 0) == 0);
    }
    double t0 = now_s();
    while (now_s() - t0 < 8 && acked_sum(w, NW) < 600) {
        traffic(w, NW, 1);
        traffic(rd, N_SPACES, 0);
    }
    CHECK(acked_sum(w, NW) >= 600);
    int victim = primary_of(0);
    CHECK(victim >= 0);
    if (victim < 0) return;
    /* kill -9 with appends in flight, and keep writing through the
     * failover until well past it. */
    for (int i = 0; i < NW; i++)
        if (!w[i].c.closed) tc_write(&w[i].c, 3, 40, 3);
    int elsewhere[N_SPACES]; /* the space's slot is on another primary */
    for (int s = 0; s < N_SPACES; s++)
        elsewhere[s] = primary_of(s) != victim;
    uint64_t at_kill = acked_sum(w, NW), acked_at_kill[NW];
    for (int i = 0; i < NW; i++)
        acked_at_kill[i] = w[i].c.acked_seq;
    redis_kill(&nodes[victim]);
    double t_kill = now_s(), t_ok = 0;
    while (now_s() - t_kill < 20 && !t_ok) {
        traffic(w, NW, 1);
        traffic(rd, N_SPACES, 0);
        int p = primary_of(0);
        if (p >= 0 && p != victim) t_ok = now_s();
    }
    /* The spaces on the other primaries were written meanwhile. */
    for (int i = 0; i < NW; i++)
        if (elsewhere[i / 2]) CHECK(w[i].c.acked_seq > acked_at_kill[i]);
    /* Its replica is the primary now, alone: with --redis-wait-replicas 1
     * space 0 gets no ACK until a replica is back (the trade SCALING.md
     * describes). The operator restarts the dead node: it rejoins as the
     * new primary's replica, and space 0's writers are acked again. */
    CHECK(redis_spawn(&nodes[victim]) == 0);
    int more = 0;
    while (now_s() - t_kill < 40 && !more) {
        traffic(w, NW, 1);
        traffic(rd, N_SPACES, 0);
        more = 1;
        for (int i = 0; i < NW; i++)
            more &= w[i].c.acked_seq >= acked_at_kill[i] + 100;
    }
    CHECK(more);
    CHECK(t_ok > 0);
    int promoted = primary_of(0);
    CHECK(promoted >= 0 && promoted != victim);
    for (int i = 0; i < N_RELAYS; i++)
        CHECK(relay_wait_ready(relays[i].port, 200, 10000));
    /* Stop writing; every writer gets every change acked. */
    double t1 = now_s();
    int done = 0;
    while (!done && now_s() - t1 < 15) {
        traffic(w, NW, 0);
        done = 1;
        for (int i = 0; i < NW; i++)
            done &= !w[i].c.closed && w[i].c.acked_seq >= w[i].c.sent;
    }
    CHECK(done);
    uint64_t sent = 0;
    for (int i = 0; i < NW; i++) {
        if (w[i].c.acked_seq < w[i].c.sent)
            fprintf(stderr, "writer %d: acked %llu of %llu, error %u\n", i,
                    (unsigned long long)w[i].c.acked_seq, (unsigned long long)w[i].c.sent,
                    w[i].c.err_code);
        CHECK(w[i].c.n_parked == 0 && w[i].c.n_rejected == 0);
        sent += w[i].c.sent;
    }
    /* Every acked change is on every relay... */
    for (int s = 0; s < N_SPACES; s++)
        for (int i = 0; i < N_RELAYS; i++)
            check_acked_on(s, relays[i].port, &w[2 * s]);
    /* ...and the live readers (reconnected when their session ended)
     * converge on it. */
    double t2 = now_s();
    int conv = 0;
    while (!conv && now_s() - t2 < 10) {
        traffic(rd, N_SPACES, 0);
        conv = 1;
        for (int s = 0; s < N_SPACES; s++)
            for (int j = 0; j < 2; j++)
                conv &= tc_seq_of(&rd[s].c, w[2 * s + j].c.me.pk) >= w[2 * s + j].c.acked_seq;
    }
    CHECK(conv);
    double redirects = 0, short_wait = 0;
    for (int i = 0; i < N_RELAYS; i++) {
        redirects += relay_metric(relays[i].port, "weft_relay_redis_redirects_total");
        short_wait += relay_metric(relays[i].port, "weft_relay_redis_wait_short_total");
    }
    printf("failover: %llu changes acked before kill -9 of node %d (port %d), node %d serves "
           "space 0 %.1f s later (%.0f appends unacked: WAIT 1 short); %llu acked of %llu "
           "sent in all; %.0f MOVED/ASK; %d other space(s) acked during the failover\n",
           (unsigned long long)at_kill, victim, nodes[victim].port, promoted, t_ok - t_kill,
           short_wait, (unsigned long long)acked_sum(w, NW), (unsigned long long)sent, redirects,
           elsewhere[1] + elsewhere[2]);
    for (int i = 0; i < NW; i++)
        tc_free(&w[i].c);
    for (int s = 0; s < N_SPACES; s++)
        tc_free(&rd[s].c);
    for (int i = 0; i < N_RELAYS; i++)
        CHECK(relay_stop(&relays[i], SIGTERM, 8000) == 0); /* under ASan: no leak */
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: test_cluster PATH_TO_WEFT_RELAY [test]\n");
        return 2;
    }
    if (system("command -v redis-server >/dev/null && command -v redis-cli >/dev/null") != 0) {
        printf("SKIP: redis-server or redis-cli missing (tools/setup installs redis-server)\n");
        return 77;
    }
    exe = argv[1];
    harness_init();
    atexit(kill_all);
    relay_tmpdir(&data);
    for (int s = 0; s < N_SPACES; s++) {
        ident_new(&owners[s]);
        BE.random(BE.ctx, content_keys[s], 32);
    }
    if (redis_cluster_spawn(nodes, N_NODES, 2000)) {
        fprintf(stderr, "cannot start a 6-node Redis Cluster\n");
        return 1;
    }
    static const relay_test tests[] = {
        {"keyslot", keyslot}, {"migrate", migrate}, {"failover", failover}};
    return run_relay_tests(tests, sizeof tests / sizeof *tests, argc > 2 ? argv[2] : NULL);
}
