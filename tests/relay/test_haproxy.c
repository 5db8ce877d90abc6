/*
 * weft-relay behind HAProxy (deploy/haproxy.cfg, docs/SCALING.md): one
 * redis-server, three relays on it, the shipped HAProxy config (its
 * addresses rewritten to this test's free loopback ports) in front, and
 * every client connecting through HAProxy only.
 *
 *   failover  writers spread by round robin; the relay the first writer is
 *             on is killed with -9 mid-traffic; that writer reconnects
 *             through HAProxy (to another relay: the dead one fails its
 *             /readyz checks), resumes from its version vector and resends
 *             what the relay lacks; every acked change of every writer is
 *             then served through HAProxy, and all states converge.
 *
 *   test_haproxy PATH_TO_WEFT_RELAY PATH_TO_HAPROXY_CFG [test]
 *
 * Skips (exit 77) when haproxy is not installed. Every wait is bounded;
 * redis-server and haproxy die with the test (PDEATHSIG).
 */
#include "harness.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define N_RELAYS  3
#define N_WRITERS 3

static const char *exe, *cfg_path;
static ident owner;
static uint8_t content_key[32];
static redis_proc rds;
static relay_proc relays[N_RELAYS];
static haproxy_proc lb; /* its frontend is the only port clients use */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void kill_all(void) {
    haproxy_stop(&lb);
    for (int i = 0; i < N_RELAYS; i++)
        relay_stop(&relays[i], SIGKILL, 2000);
    redis_cleanup(&rds);
}

static int start_all(void) {
    memset(&rds, 0, sizeof rds);
    if (redis_spawn(&rds)) return -1;
    char url[64];
    snprintf(url, sizeof url, "redis://127.0.0.1:%d", rds.port);
    /* Every client comes from HAProxy's address: no per-address limits. */
    const char *args[32] = {"--redis", url, RELAY_LOOPBACK_LOAD_FLAGS, NULL};
    for (int i = 0; i < N_RELAYS; i++)
        if (relay_spawn(&relays[i], exe, "redis", 0, args) ||
            !relay_wait_ready(relays[i].port, 200, 5000))
            return -1;
    int ports[N_RELAYS];
    for (int i = 0; i < N_RELAYS; i++)
        ports[i] = relays[i].port;
    return haproxy_spawn(&lb, cfg_path, ports, N_RELAYS);
}

static void drain(tclient *c) {
    while (tc_pump(c, 0) == 0)
        ;
}

/* Which relay holds exactly `want` open WebSockets (-1: none or several). */
static int relay_with(int want) {
    int found = -1;
    for (int i = 0; i < N_RELAYS; i++) {
        if (relays[i].pid <= 0) continue;
        if (relay_metric(relays[i].port, "weft_relay_connections") == want) {
            if (found >= 0) return -1;
            found = i;
        }
    }
    return found;
}

/* Connects through HAProxy again (a refused or dropped attempt is tried
 * again, bounded) and resends what the relay's vector lacks; what it holds
 * of the client's own changes is durable, so acked. */
static int rejoin(tclient *c) {
    for (int attempt = 0; attempt < 50; attempt++) {
        wsc_close(&c->ws);
        c->closed = 0;
        if (tc_connect(c, lb.port, 1, 0, 0) == 0) {
            size_t pos = 0;
            const uint8_t *author;
            uint64_t seq;
            while (weft_vv_next(c->relay_vv, c->relay_vv_len, &pos, &author, &seq))
                if (memcmp(author, c->me.pk, 32) == 0 && seq > c->acked_seq) c->acked_seq = seq;
            if (tc_push_missing(c) >= 0) return 0;
        }
        usleep(100000);
    }
    return -1;
}

static void failover(void) {
    if (start_all()) {
        fprintf(stderr, "cannot start redis, the relays or haproxy\n");
        check_failures++;
        return;
    }
    tclient w[N_WRITERS];
    int victim = -1;
    for (int i = 0; i < N_WRITERS; i++) {
        CHECK(tc_init(&w[i], &owner, NULL, WEFT_RIGHT_WRITE, content_key) == 0);
        CHECK(tc_connect(&w[i], lb.port, 1, 0, 0) == 0);
        CHECK(tc_wait(&w[i], until_synced, 0, 5000));
        if (i == 0) victim = relay_with(1); /* the first writer's relay */
    }
    CHECK(victim >= 0);
    /* Round robin without stickiness: the writers are on three relays. */
    for (int i = 0; i < N_RELAYS; i++)
        CHECK(relay_metric(relays[i].port, "weft_relay_connections") == 1);
    double t0 = now_s();
    int killed = 0, reconnected = 0;
    uint64_t target = 600;
    while (now_s() - t0 < 20) {
        int all = 1;
        for (int i = 0; i < N_WRITERS; i++) {
            if (w[i].sent < target && w[i].sent - w[i].acked_seq < 60)
                CHECK(tc_write(&w[i], 3, 40, 3) == 0);
            drain(&w[i]);
            if (w[i].acked_seq < target) all = 0;
        }
        if (!killed && w[0].acked_seq >= 150 && victim >= 0) {
            CHECK(tc_write(&w[0], 3, 40, 3) == 0); /* in flight at the kill */
            CHECK(relay_stop(&relays[victim], SIGKILL, 3000) == 128 + SIGKILL);
            killed = 1;
        }
        for (int i = 0; i < N_WRITERS; i++)
            if (w[i].closed) {
                CHECK(i == 0);
                CHECK(rejoin(&w[i]) == 0);
                reconnected++;
            }
        if (all) break;
        usleep(500);
    }
    CHECK(killed && reconnected >= 1);
    for (int i = 0; i < N_WRITERS; i++) {
        if (w[i].acked_seq < target)
            fprintf(stderr, "writer %d: acked %llu of %llu (sent %llu)\n", i,
                    (unsigned long long)w[i].acked_seq, (unsigned long long)target,
                    (unsigned long long)w[i].sent);
        CHECK(w[i].acked_seq >= target);
    }
    /* Every acked change, through HAProxy, to a fresh reader. */
    tclient r;
    CHECK(tc_init(&r, &owner, NULL, WEFT_RIGHT_READ, content_key) == 0);
    CHECK(tc_connect(&r, lb.port, 1, 0, 0) == 0);
    CHECK(tc_wait(&r, until_synced, 0, 10000));
    for (int i = 0; i < N_WRITERS; i++)
        CHECK(tc_seq_of(&r, w[i].me.pk) >= w[i].acked_seq);
    CHECK(weft_replica_pending_count(r.rep) == 0);
    for (int i = 0; i < N_WRITERS; i++) {
        CHECK(tc_wait(&w[i], until_received, (N_WRITERS - 1) * target, 10000));
        CHECK(same_state(&w[i], &r));
    }
    printf("failover: %d writers through haproxy, relay %d killed with -9, writer 0 reconnected "
           "%d time(s); %llu changes each acked and served, %.2f s\n",
           N_WRITERS, victim + 1, reconnected, (unsigned long long)target, now_s() - t0);
    tc_free(&r);
    for (int i = 0; i < N_WRITERS; i++)
        tc_free(&w[i]);
    kill_all();
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: test_haproxy PATH_TO_WEFT_RELAY PATH_TO_HAPROXY_CFG [test]\n");
        return 2;
    }
    if (system("haproxy -v >/dev/null 2>&1") != 0) {
        printf("test_haproxy: SKIP: haproxy is not installed (tools/setup installs it)\n");
        return 77;
    }
    exe = argv[1];
    cfg_path = argv[2];
    harness_init();
    atexit(kill_all);
    ident_new(&owner);
    BE.random(BE.ctx, content_key, 32);
    static const relay_test tests[] = {{"failover", failover}};
    return run_relay_tests(tests, sizeof tests / sizeof *tests, argc > 3 ? argv[3] : NULL);
}
