/*
 * ops_bench: the cost of local writes through the core's two entry points,
 * weft_replica_put (one call per field) and weft_replica_write_ops (one
 * call per buffer of ops, issue 21), with PLAIN changes and with suite V1
 * (sealed and signed, libsodium).
 *
 * Workload: 100,000 sets of field "v" (an int) on documents "k<0..9,999>"
 * of collection "items", committed in changes of 1,000 ops; and the same
 * as REPLACE ops of three fields on existing documents (replace semantics
 * in the core: the fields the map lacks are looked up and deleted). The
 * cases:
 *   put/1000       weft_replica_put per set, a commit every 1,000
 *   buf1000/1000   one write_ops buffer of 1,000 sets per commit
 *   buf1/1000      one write_ops call per set, a commit every 1,000
 *   buf1/100000    one write_ops call per set, one commit for all (what a
 *                  binding that coalesces a task's writes does)
 *   put/1          weft_replica_put + commit per set (today's write outside
 *                  transact), 10,000 sets
 *   replace1000    REPLACE of 3 fields, 1,000 per buffer and commit
 * Each figure is sets (or replaces) per second, the best of --runs (3).
 * Every case must end with the same state hash as put/1000 (replace has
 * its own): a mismatch exits with status 1.
 */
#define _POSIX_C_SOURCE 200809L

#define BENCH_NAME "ops_bench"

#include "bench_util.h"
#include "weft/sodium.h"

#include <inttypes.h>

enum { N_SETS = 100000, N_KEYS = 10000, BATCH = 1000, N_SINGLE = 10000 };

static const uint8_t SPACE[32] = {0x0b};
static uint8_t AUTHOR[32];
static const weft_crypto *suite; /* NULL: PLAIN */

static weft_replica *fresh(void) {
    weft_replica_config cfg = {
        .space = SPACE, .author = AUTHOR, .crypto = suite, .keep_records = 1};
    weft_replica *r;
    check(weft_replica_new(&r, &cfg), "replica_new");
    return r;
}

static void commit(weft_replica *r, uint64_t t) {
    const uint8_t *rec;
    size_t len;
    int rc = weft_replica_commit(r, 1700000000000ULL + t, &rec, &len);
    if (rc) check(rc, "commit");
}

static size_t key_of(uint32_t i, char *k) {
    return (size_t)snprintf(k, 12, "k%u", (unsigned)((i * 7919u) % N_KEYS));
}

static size_t varint(uint8_t *p, uint64_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* A PUT op of items/k.v = i into p; returns its length. */
static size_t put_op(uint8_t *p, uint32_t i) {
    char k[12];
    size_t kl = key_of(i, k), n = 0;
    p[n++] = WEFT_OPS_PUT;
    p[n++] = 5;
    memcpy(p + n, "items", 5), n += 5;
    p[n++] = (uint8_t)kl;
    memcpy(p + n, k, kl), n += kl;
    p[n++] = 1;
    p[n++] = 'v';
    p[n++] = WEFT_TYPE_INT;
    n += varint(p + n, (uint64_t)i << 1);
    return n;
}

/* A REPLACE of items/k with {a: i, b: "x", c|d: i} (alternating c and d,
 * so each replace deletes the other). */
static size_t replace_op(uint8_t *p, uint32_t i) {
    char k[12];
    size_t kl = key_of(i, k), n = 0;
    p[n++] = WEFT_OPS_REPLACE;
    p[n++] = 5;
    memcpy(p + n, "items", 5), n += 5;
    p[n++] = (uint8_t)kl;
    memcpy(p + n, k, kl), n += kl;
    p[n++] = WEFT_TYPE_MAP;
    p[n++] = 3;
    p[n++] = 1, p[n++] = 'a', p[n++] = WEFT_TYPE_INT;
    n += varint(p + n, (uint64_t)i << 1);
    p[n++] = 1, p[n++] = 'b', p[n++] = WEFT_TYPE_STRING, p[n++] = 1, p[n++] = 'x';
    p[n++] = 1, p[n++] = (uint8_t)(i / N_KEYS % 2 ? 'c' : 'd'), p[n++] = WEFT_TYPE_INT;
    n += varint(p + n, (uint64_t)i << 1);
    return n;
}

typedef enum { PUT_1000, BUF_1000, BUF1_1000, BUF1_ALL, PUT_1, REPLACE_1000 } kind;

static double run(kind k, uint8_t hash[32]) {
    weft_replica *r = fresh();
    uint8_t *buf = xmalloc(64 * BATCH);
    double t0 = now_s();
    uint32_t n = k == PUT_1 ? N_SINGLE : N_SETS;
    if (k == REPLACE_1000) { /* the documents exist first (not timed) */
        for (uint32_t i = 0; i < N_KEYS; i++) {
            size_t l = put_op(buf, i);
            check(weft_replica_write_ops(r, buf, l, NULL), "write_ops");
        }
        commit(r, 0);
        t0 = now_s();
    }
    for (uint32_t i = 0; i < n; i += BATCH) {
        size_t len = 0;
        for (uint32_t j = i; j < i + BATCH && j < n; j++) {
            if (k == PUT_1000 || k == PUT_1) {
                char key[12];
                uint8_t v[12];
                size_t kl = key_of(j, key), vl;
                weft_value_write_int(v, sizeof v, &vl, j);
                int rc = weft_replica_put(r, "items", 5, key, kl, "v", 1, v, vl);
                if (rc) check(rc, "put");
                if (k == PUT_1) commit(r, j);
            } else if (k == BUF1_1000 || k == BUF1_ALL) {
                size_t l = put_op(buf, j);
                int rc = weft_replica_write_ops(r, buf, l, NULL);
                if (rc) check(rc, "write_ops");
            } else {
                len += k == BUF_1000 ? put_op(buf + len, j) : replace_op(buf + len, j);
            }
        }
        if (len) check(weft_replica_write_ops(r, buf, len, NULL), "write_ops");
        if (k != PUT_1 && k != BUF1_ALL) commit(r, i);
    }
    if (k == BUF1_ALL) commit(r, 0);
    double t = now_s() - t0;
    check(weft_state_hash(r, hash), "hash");
    free(buf);
    weft_replica_free(r);
    return t;
}

int main(int argc, char **argv) {
    int runs = 3;
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) runs = atoi(argv[++i]);
    memset(AUTHOR, 0xa1, 32);
    weft_crypto_backend be;
    check(weft_sodium_backend(&be), "sodium backend");
    uint8_t pk[32], sk[64], key[32];
    check(weft_keypair_generate(&be, pk, sk), "keypair");
    check(be.random(be.ctx, key, sizeof key), "random");
    weft_crypto v1;
    weft_suite_v1 st;
    check(weft_suite_v1_init(&v1, &st, &be, key, sk), "suite");
    static const char *const names[] = {"put/1000",    "buf1000/1000", "buf1/1000",
                                        "buf1/100000", "put/1",        "replace1000"};
    printf("%-14s %14s %14s   (sets per second, best of %d)\n", "case", "PLAIN", "V1 signed", runs);
    for (kind k = PUT_1000; k <= REPLACE_1000; k++) {
        double best[2] = {1e9, 1e9};
        for (int s = 0; s < 2; s++) {
            suite = s ? &v1 : NULL;
            if (s)
                memcpy(AUTHOR, pk, 32);
            else
                memset(AUTHOR, 0xa1, 32);
            static uint8_t ref[2][32];
            for (int i = 0; i < runs; i++) {
                uint8_t h[32];
                double t = run(k, h);
                if (t < best[s]) best[s] = t;
                if (k == PUT_1000 && i == 0) memcpy(ref[s], h, 32);
                if ((k == BUF_1000 || k == BUF1_1000 || k == BUF1_ALL) && memcmp(h, ref[s], 32))
                    die("a buffered case ended in another state than put/1000");
            }
        }
        double n = k == PUT_1 ? N_SINGLE : N_SETS;
        printf("%-14s %14.0f %14.0f\n", names[k], n / best[0], n / best[1]);
        fflush(stdout);
    }
    weft_suite_v1_wipe(&st);
    return 0;
}
