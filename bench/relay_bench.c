/*
 * A quick relay load tool (C, single-threaded client; on a 2-core machine
 * the client shares the CPU with the relay, so figures are a lower bound):
 * one writer and N readers in one space through a memory-storage relay;
 * deliveries per second and the relay's RSS per idle connection.
 *
 *   relay_bench PATH_TO_WEFT_RELAY [readers=50] [changes=4000] [idle=500]
 */
#include "../tests/relay/harness.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_kb(pid_t pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) kb = strtol(line + 6, NULL, 10);
    if (f) fclose(f);
    return kb;
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    int n = argc > 2 ? atoi(argv[2]) : 50, k = argc > 3 ? atoi(argv[3]) : 4000;
    int idle = argc > 4 ? atoi(argv[4]) : 500;
    harness_init();
    ident owner;
    ident_new(&owner);
    uint8_t key[32];
    BE.random(BE.ctx, key, 32);
    relay_proc p = {0};
    /* Every client is on loopback: no rate limit, and none per address. */
    static const char *const extra[] = {RELAY_LOOPBACK_LOAD_FLAGS, "--token-rate", "0", NULL};
    if (relay_spawn(&p, argv[1], "memory", 0, extra)) return 1;
    tclient *r = calloc((size_t)n, sizeof *r), w;
    tc_init(&w, &owner, NULL, WEFT_RIGHT_WRITE, key);
    for (int i = 0; i < n; i++) {
        tc_init(&r[i], &owner, NULL, WEFT_RIGHT_READ, key);
        r[i].apply = 0;
        if (tc_connect(&r[i], p.port, 0, 0, 0) || !tc_wait(&r[i], until_synced, 0, 3000)) return 1;
    }
    tc_connect(&w, p.port, 1, 0, 0);
    double t0 = now_s();
    int sent = 0;
    uint64_t total = 0;
    while (total < (uint64_t)n * (uint64_t)k && now_s() - t0 < 60) {
        if (sent < k) {
            tc_write(&w, 20, 40, 20);
            sent += 20;
        }
        while (tc_pump(&w, 0) == 0)
            ;
        total = 0;
        for (int i = 0; i < n; i++) {
            while (tc_pump(&r[i], 0) == 0)
                ;
            total += r[i].received;
        }
    }
    double dt = now_s() - t0;
    printf("fan-out: 1 writer, %d readers, %d changes: %.0f deliveries/s (%.2f s)\n", n, k,
           (double)total / dt, dt);
    for (int i = 0; i < n; i++)
        tc_free(&r[i]);
    long before = rss_kb(p.pid);
    tclient *c = calloc((size_t)idle, sizeof *c);
    int ok = 0;
    for (int i = 0; i < idle; i++) {
        tc_init(&c[i], &owner, NULL, WEFT_RIGHT_READ, key);
        c[i].apply = 0;
        if (tc_connect(&c[i], p.port, 0, 0, 0) == 0 && tc_wait(&c[i], until_synced, 0, 3000)) ok++;
        /* Caught up: drop the catch-up data so the socket is idle. */
    }
    long after = rss_kb(p.pid);
    printf("idle: %d connections, relay RSS %+ld KB = %.1f KB per connection\n", ok, after - before,
           ok ? (double)(after - before) / ok : 0.0);
    for (int i = 0; i < idle; i++)
        tc_free(&c[i]);
    tc_free(&w);
    relay_stop(&p, SIGTERM, 5000);
    return 0;
}
