/* `weft bench` (see bench.h). */
#define _POSIX_C_SOURCE 200809L
#include "bench.h"

#include "weft/sodium.h"
#include "weft/weft.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ops puts in changes of 1,000 over 10% as many keys; returns 0 or -1. */
static int run(const char *label, long ops, const weft_crypto *wc, const weft_crypto *rc,
               const uint8_t *author) {
    uint8_t space[32];
    memset(space, 0x5e, 32);
    weft_replica *a, *b;
    weft_replica_config ca = {.space = space, .author = author, .crypto = wc, .keep_records = 1};
    weft_replica_config cb = ca;
    cb.crypto = rc;
    if (weft_replica_new(&a, &ca) || weft_replica_new(&b, &cb)) return -1;
    size_t cap = (size_t)ops * 48 + 4096, len = 0;
    uint8_t *recs = malloc(cap);
    if (!recs) return -1;
    uint64_t x = 88172645463325252ULL;
    long keys = ops / 10 ? ops / 10 : 1;
    double t0 = now();
    for (long i = 0; i < ops; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        char key[24];
        int kl = snprintf(key, sizeof key, "k%ld", (long)(x % (uint64_t)keys));
        uint8_t v[16];
        size_t vl;
        weft_value_write_int(v, sizeof v, &vl, (int64_t)i);
        if (weft_replica_put(a, "items", 5, key, (size_t)kl, "v", 1, v, vl)) return -1;
        if ((i + 1) % 1000 == 0 || i + 1 == ops) {
            const uint8_t *r;
            size_t rl;
            if (weft_replica_commit(a, 1700000000000ULL, &r, &rl) || len + rl > cap) return -1;
            memcpy(recs + len, r, rl);
            len += rl;
        }
    }
    double t1 = now();
    if (weft_replica_apply(b, recs, len, NULL)) return -1;
    double t2 = now();
    uint8_t ha[32], hb[32];
    weft_state_hash(a, ha);
    weft_state_hash(b, hb);
    int same = memcmp(ha, hb, 32) == 0;
    printf("{\"workload\":\"%s\",\"ops\":%ld,\"write_ops_per_s\":%.0f,\"apply_ops_per_s\":%.0f,"
           "\"bytes\":%zu,\"converged\":%s}\n",
           label, ops, (double)ops / (t1 - t0), (double)ops / (t2 - t1), len,
           same ? "true" : "false");
    free(recs);
    weft_replica_free(a);
    weft_replica_free(b);
    return same ? 0 : -1;
}

int cmd_bench(int argc, char **argv) {
    long ops = 200000;
    for (int i = 2; i + 1 < argc; i++)
        if (strcmp(argv[i], "--ops") == 0) ops = strtol(argv[i + 1], NULL, 10);
    if (ops <= 0 || ops > 100000000) {
        fprintf(stderr, "weft: --ops must be 1..100000000\n");
        return 2;
    }
    uint8_t author[32];
    memset(author, 0xa1, 32);
    if (run("lww put, plain", ops, NULL, NULL, author)) return 1;
    weft_crypto_backend be;
    uint8_t pk[32], sk[64], key[32];
    if (weft_sodium_backend(&be) || weft_keypair_generate(&be, pk, sk) ||
        be.random(be.ctx, key, 32))
        return 3;
    weft_crypto w, r;
    weft_suite_v1 sw, sr;
    if (weft_suite_v1_init(&w, &sw, &be, key, sk) || weft_suite_v1_init(&r, &sr, &be, key, NULL))
        return 3;
    int rc = run("lww put, suite V1", ops, &w, &r, pk);
    weft_suite_v1_wipe(&sw);
    weft_suite_v1_wipe(&sr);
    return rc ? 1 : 0;
}
