/*
 * Join-from-snapshot property test.
 *
 * Each seeded case runs 3 writers of one V1 space (every change signed and
 * sealed) that put, delete, add to counters and splice texts, and pass the
 * changes around in random order, late and twice, so replicas often hold
 * changes parked for a missing dependency. At random points a random
 * writer publishes a sealed snapshot (weft_replica_publish_snapshot). At
 * the end everything is delivered everywhere, and for every snapshot:
 *
 *   1. a fresh replica that loads it and then applies exactly the changes
 *      past its vector (a full replica's diff against the header's vector)
 *      has the state hash of a full replay, with no duplicate and nothing
 *      parked;
 *   2. a fresh replica that loads it and then takes every change of the
 *      case in a random order (those before the vector as duplicates) has
 *      the same hash;
 *   3. the lean replica: a full replay that then forgets what the vector
 *      covers (weft_replica_forget, keeping 0..3 changes per author) keeps
 *      its hash, answers a diff from below what it forgot with
 *      WEFT_ETRIMMED, serves the tail past the vector (snapshot + that
 *      tail has the hash of a full replay), takes every change again as
 *      duplicates, and goes on taking new history.
 *
 * Randomness (keys and nonces) comes from a counter per case, so the
 * sealed records are the same bytes natively and in WASM: the digest
 * covers the final state hashes and every sealed snapshot, and
 * tools/test-wasm.sh compares it with tests/vectors/sealed_join.txt.
 *
 *   sealed_join [cases [first_seed]]
 */
#include "weft/sodium.h"
#include "weft/weft.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_WRITERS 3
#define MAX_MSGS  4096
#define MAX_SNAPS 4

typedef struct msg {
    int to;
    size_t off, len;
} msg;

typedef struct snap {
    uint8_t *rec;
    size_t len;
} snap;

typedef struct world {
    uint64_t rng;     /* the case's choices */
    uint64_t counter; /* the crypto backend's randomness */
    weft_crypto_backend be;
    uint8_t space[32], space_sk[64], content_key[32];
    uint8_t pk[N_WRITERS][32], sk[N_WRITERS][64];
    weft_suite_v1 st[N_WRITERS + 2];
    weft_crypto table[N_WRITERS + 2];
    weft_replica *r[N_WRITERS];
    uint8_t *pool;
    size_t pool_len, pool_cap;
    size_t *rec_off, *rec_len; /* every record once, in commit order */
    size_t n_recs, cap_recs;
    msg msgs[MAX_MSGS];
    int n_msgs;
    snap snaps[MAX_SNAPS];
    int n_snaps;
} world;

static world *current;                       /* the backend's randomness reads the case's counter */
static long n_published, n_published_parked; /* what the run covered, printed */
static long n_lean_forgot;                   /* lean replicas that forgot something */

static uint64_t next_rand(world *w) { /* splitmix64 */
    uint64_t z = (w->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static int rnd(world *w, int n) {
    return (int)(next_rand(w) % (uint64_t)n);
}

static int det_random(void *ctx, uint8_t *buf, size_t len) {
    (void)ctx;
    while (len) {
        uint8_t block[64], in[20] = "weft-join-rng";
        for (int i = 0; i < 8; i++)
            in[12 + i] = (uint8_t)(current->counter >> (8 * i));
        current->counter++;
        weft_blake2b(block, 64, in, sizeof in);
        size_t n = len < 64 ? len : 64;
        memcpy(buf, block, n);
        buf += n;
        len -= n;
    }
    return 0;
}

static void pool_add(world *w, int from, const uint8_t *rec, size_t len) {
    if (w->pool_len + len > w->pool_cap) {
        w->pool_cap = (w->pool_len + len) * 2;
        w->pool = realloc(w->pool, w->pool_cap);
        if (!w->pool) abort();
    }
    if (w->n_recs == w->cap_recs) {
        w->cap_recs = w->cap_recs ? w->cap_recs * 2 : 64;
        w->rec_off = realloc(w->rec_off, w->cap_recs * sizeof(size_t));
        w->rec_len = realloc(w->rec_len, w->cap_recs * sizeof(size_t));
        if (!w->rec_off || !w->rec_len) abort();
    }
    memcpy(w->pool + w->pool_len, rec, len);
    w->rec_off[w->n_recs] = w->pool_len;
    w->rec_len[w->n_recs++] = len;
    for (int i = 0; i < N_WRITERS; i++) {
        if (i == from) continue;
        int copies = rnd(w, 8) == 0 ? 2 : 1;
        for (int k = 0; k < copies && w->n_msgs < MAX_MSGS; k++)
            w->msgs[w->n_msgs++] = (msg){i, w->pool_len, len};
    }
    w->pool_len += len;
}

static int deliver(world *w, int m) {
    msg x = w->msgs[m];
    w->msgs[m] = w->msgs[--w->n_msgs];
    int rc = weft_replica_apply(w->r[x.to], w->pool + x.off, x.len, NULL);
    if (rc) fprintf(stderr, "apply failed: %s\n", weft_err_name(rc));
    return rc;
}

static const char *const COLLS[] = {"notes", "todos"};
static const char *const FIELDS[] = {"title", "n", "body"};

/* One local step of writer i: a transaction of map writes and counter
 * adds, or a text splice (committed at once). */
static int local_step(world *w, int i) {
    weft_replica *r = w->r[i];
    char doc[8];
    snprintf(doc, sizeof doc, "d%d", rnd(w, 4));
    const char *coll = COLLS[rnd(w, 2)];
    const uint8_t *rec;
    size_t len;
    int rc = 0;
    if (rnd(w, 3) == 0) {
        size_t tl = 0, pos, del;
        weft_replica_text_length(r, coll, strlen(coll), doc, strlen(doc), "body", 4, &tl);
        pos = tl ? (size_t)rnd(w, (int)tl + 1) : 0;
        del = pos < tl && rnd(w, 3) == 0 ? 1 + (size_t)rnd(w, (int)(tl - pos)) : 0;
        static const char *const words[] = {"a", "hé", "text ", "ü€", "xy"};
        const char *s = words[rnd(w, 5)];
        rc = weft_replica_text_splice(r, coll, strlen(coll), doc, strlen(doc), "body", 4, pos, del,
                                      s, strlen(s), 1700000000000ULL, &rec, &len);
        /* A field holding a value that is not a string takes no edit. */
        if (rc == WEFT_EINVAL) return 0;
        if (!rc && len) pool_add(w, i, rec, len);
        return rc;
    }
    int n = 1 + rnd(w, 4);
    for (int k = 0; k < n && !rc; k++) {
        const char *f = FIELDS[rnd(w, 2)];
        uint8_t v[32];
        size_t vl;
        int p = rnd(w, 10);
        if (p < 4) {
            weft_value_write_int(v, sizeof v, &vl, rnd(w, 1000) - 300);
            rc = weft_replica_put(r, coll, strlen(coll), doc, strlen(doc), f, strlen(f), v, vl);
        } else if (p < 6) {
            weft_value_write_string(v, sizeof v, &vl, "str", 3);
            rc = weft_replica_put(r, coll, strlen(coll), doc, strlen(doc), f, strlen(f), v, vl);
        } else if (p < 7) {
            rc = weft_replica_delete_field(r, coll, strlen(coll), doc, strlen(doc), f, strlen(f));
        } else if (p < 8) {
            rc = weft_replica_delete_doc(r, coll, strlen(coll), doc, strlen(doc));
        } else {
            rc = weft_replica_counter_add(r, coll, strlen(coll), doc, strlen(doc), "n", 1,
                                          rnd(w, 20) - 5);
        }
    }
    if (!rc) rc = weft_replica_commit(r, 1700000000000ULL, &rec, &len);
    if (!rc) pool_add(w, i, rec, len);
    return rc;
}

static int publish(world *w, int i) {
    const uint8_t *rec;
    size_t len;
    int rc =
        weft_replica_publish_snapshot(w->r[i], (uint64_t)w->n_recs, 1700000000000ULL, &rec, &len);
    if (rc) return rc;
    n_published++;
    n_published_parked += weft_replica_pending_count(w->r[i]) > 0;
    snap *s = &w->snaps[w->n_snaps++];
    s->rec = malloc(len);
    if (!s->rec) abort();
    memcpy(s->rec, rec, len);
    s->len = len;
    return 0;
}

/* A fresh member of the space (its own random author key): a reader, or a
 * writer when writes is set. */
static weft_replica *member(world *w, int slot, int writes) {
    uint8_t pk[32], sk[64];
    weft_replica *r = NULL;
    if (weft_keypair_generate(&w->be, pk, sk) ||
        weft_suite_v1_init(&w->table[slot], &w->st[slot], &w->be, w->content_key,
                           writes ? sk : NULL))
        abort();
    weft_replica_config cfg = {
        .space = w->space, .author = pk, .crypto = &w->table[slot], .keep_records = 1};
    if (weft_replica_new(&r, &cfg)) abort();
    return r;
}

static weft_replica *joiner(world *w, int slot) {
    return member(w, slot, 0);
}

/* Check 3 (the top). Returns 0, -1 (a property failed) or a WEFT_E code. */
static int check_lean(world *w, const weft_snapshot_header *hd, const snap *s,
                      const uint8_t want[32]) {
    weft_replica *lean = member(w, N_WRITERS, 1);
    int rc = 0;
    for (size_t i = 0; i < w->n_recs && !rc; i++)
        rc = weft_replica_apply(lean, w->pool + w->rec_off[i], w->rec_len[i], NULL);
    uint64_t before = weft_replica_change_count(lean);
    if (!rc) rc = weft_replica_forget(lean, hd->vv, hd->vv_len, (uint64_t)rnd(w, 4));
    uint8_t h[32];
    if (!rc) rc = weft_state_hash(lean, h);
    if (!rc && memcmp(h, want, 32)) rc = -1;
    const uint8_t *recs;
    size_t len;
    /* Below the vector: trimmed when something was forgotten, and the
     * lenient diff still answers what is held. */
    if (!rc) {
        int d = weft_replica_diff(lean, NULL, 0, &recs, &len);
        int forgot = weft_replica_change_count(lean) < before;
        n_lean_forgot += forgot;
        if (forgot ? d != WEFT_ETRIMMED : d != 0) rc = -1;
    }
    if (!rc) rc = weft_replica_diff_held(lean, NULL, 0, &recs, &len);
    /* Snapshot + the lean replica's tail = the full state. */
    weft_replica *j = joiner(w, N_WRITERS + 1);
    weft_apply_result res = {0};
    if (!rc) rc = weft_replica_load_sealed_snapshot(j, s->rec, s->len);
    if (!rc) rc = weft_replica_diff(lean, hd->vv, hd->vv_len, &recs, &len);
    if (!rc) rc = weft_replica_apply(j, recs, len, &res);
    if (!rc) rc = weft_state_hash(j, h);
    if (!rc && (memcmp(h, want, 32) || weft_replica_pending_count(j))) rc = -1;
    /* Everything again: duplicates, never a fork or a chain error. */
    for (size_t i = 0; i < w->n_recs && !rc; i++) {
        rc = weft_replica_apply(lean, w->pool + w->rec_off[i], w->rec_len[i], &res);
        if (!rc && res.applied + res.rejected) rc = -1;
    }
    if (!rc) rc = weft_state_hash(lean, h);
    if (!rc && memcmp(h, want, 32)) rc = -1;
    /* New history on top of the lean replica reaches a joiner. */
    uint8_t v[16];
    size_t vl;
    const uint8_t *rec;
    size_t rl;
    weft_value_write_int(v, sizeof v, &vl, 7);
    if (!rc) rc = weft_replica_put(lean, "notes", 5, "lean", 4, "n", 1, v, vl);
    if (!rc) rc = weft_replica_commit(lean, 1700000000000ULL, &rec, &rl);
    if (!rc) rc = weft_replica_diff(lean, hd->vv, hd->vv_len, &recs, &len);
    if (!rc) rc = weft_replica_apply(j, recs, len, &res);
    uint8_t hl[32];
    if (!rc) rc = weft_state_hash(lean, hl);
    if (!rc) rc = weft_state_hash(j, h);
    if (!rc && memcmp(h, hl, 32)) rc = -1;
    weft_replica_free(j);
    weft_replica_free(lean);
    weft_suite_v1_wipe(&w->st[N_WRITERS]);
    weft_suite_v1_wipe(&w->st[N_WRITERS + 1]);
    return rc;
}

static int check_snapshot(world *w, const snap *s, const uint8_t want[32], uint64_t seed) {
    uint8_t h[32];
    weft_snapshot_header hd;
    int rc = weft_snapshot_verify(&w->be, w->space, s->rec, s->len, &hd);
    /* 1: snapshot + exactly the tail past its vector. */
    weft_replica *j = joiner(w, N_WRITERS);
    if (!rc) rc = weft_replica_load_sealed_snapshot(j, s->rec, s->len);
    const uint8_t *tail;
    size_t tail_len;
    weft_apply_result res = {0};
    if (!rc) rc = weft_replica_diff(w->r[0], hd.vv, hd.vv_len, &tail, &tail_len);
    if (!rc) rc = weft_replica_apply(j, tail, tail_len, &res);
    if (!rc) rc = weft_state_hash(j, h);
    if (!rc && (memcmp(h, want, 32) || res.duplicates || weft_replica_pending_count(j))) rc = -1;
    weft_replica_free(j);
    weft_suite_v1_wipe(&w->st[N_WRITERS]);
    /* 2: snapshot + every change, in a random order. */
    weft_replica *k = joiner(w, N_WRITERS + 1);
    if (!rc) rc = weft_replica_load_sealed_snapshot(k, s->rec, s->len);
    size_t *order = malloc(w->n_recs * sizeof(size_t) + 1);
    for (size_t i = 0; i < w->n_recs; i++)
        order[i] = i;
    for (size_t i = w->n_recs; i > 1; i--) {
        size_t x = (size_t)rnd(w, (int)i), t = order[i - 1];
        order[i - 1] = order[x];
        order[x] = t;
    }
    for (size_t i = 0; i < w->n_recs && !rc; i++)
        rc = weft_replica_apply(k, w->pool + w->rec_off[order[i]], w->rec_len[order[i]], NULL);
    free(order);
    if (!rc) rc = weft_state_hash(k, h);
    if (!rc && (memcmp(h, want, 32) || weft_replica_pending_count(k))) rc = -1;
    weft_replica_free(k);
    weft_suite_v1_wipe(&w->st[N_WRITERS + 1]);
    if (!rc) rc = check_lean(w, &hd, s, want);
    if (rc)
        fprintf(stderr, "seed %" PRIu64 ": joining from a snapshot failed (%s)\n", seed,
                rc == -1 ? "state differs" : weft_err_name(rc));
    return rc;
}

static int run_case(uint64_t seed, weft_blake2b_state *digest) {
    world *w = calloc(1, sizeof *w);
    if (!w) return -1;
    current = w;
    w->rng = seed;
    if (weft_sodium_backend(&w->be)) abort();
    w->be.random = det_random;
    int rc = weft_keypair_generate(&w->be, w->space, w->space_sk);
    det_random(NULL, w->content_key, 32);
    for (int i = 0; i < N_WRITERS && !rc; i++) {
        rc = weft_keypair_generate(&w->be, w->pk[i], w->sk[i]);
        if (!rc) rc = weft_suite_v1_init(&w->table[i], &w->st[i], &w->be, w->content_key, w->sk[i]);
        weft_replica_config cfg = {
            .space = w->space, .author = w->pk[i], .crypto = &w->table[i], .keep_records = 1};
        if (!rc) rc = weft_replica_new(&w->r[i], &cfg);
    }
    int steps = 5 + rnd(w, 40);
    for (int s = 0; s < steps && !rc; s++) {
        if (rnd(w, 3)) rc = local_step(w, rnd(w, N_WRITERS));
        int k = w->n_msgs ? rnd(w, w->n_msgs + 1) : 0;
        while (k-- > 0 && !rc && w->n_msgs)
            rc = deliver(w, rnd(w, w->n_msgs));
        if (!rc && w->n_snaps < MAX_SNAPS && rnd(w, 8) == 0) rc = publish(w, rnd(w, N_WRITERS));
    }
    if (!rc && w->n_snaps < MAX_SNAPS) rc = publish(w, rnd(w, N_WRITERS));
    while (w->n_msgs && !rc)
        rc = deliver(w, rnd(w, w->n_msgs));
    uint8_t want[32], h[32];
    if (!rc) rc = weft_state_hash(w->r[0], want);
    for (int i = 1; i < N_WRITERS && !rc; i++) {
        rc = weft_state_hash(w->r[i], h);
        if (!rc && (memcmp(h, want, 32) || weft_replica_pending_count(w->r[i]))) rc = -1;
    }
    if (rc) fprintf(stderr, "seed %" PRIu64 ": the writers do not agree (%d)\n", seed, rc);
    for (int s = 0; s < w->n_snaps && !rc; s++)
        rc = check_snapshot(w, &w->snaps[s], want, seed);
    if (!rc) {
        weft_blake2b_update(digest, want, 32);
        for (int s = 0; s < w->n_snaps; s++)
            weft_blake2b_update(digest, w->snaps[s].rec, w->snaps[s].len);
    }
    for (int i = 0; i < N_WRITERS; i++) {
        weft_replica_free(w->r[i]);
        weft_suite_v1_wipe(&w->st[i]);
    }
    for (int s = 0; s < w->n_snaps; s++)
        free(w->snaps[s].rec);
    free(w->pool);
    free(w->rec_off);
    free(w->rec_len);
    free(w);
    current = NULL;
    return rc;
}

int main(int argc, char **argv) {
    long cases = argc > 1 ? atol(argv[1]) : 300;
    uint64_t first = argc > 2 ? strtoull(argv[2], NULL, 10) : 1;
    weft_blake2b_state digest;
    weft_blake2b_init(&digest, 32, NULL, 0);
    long passed = 0, failed = 0;
    for (long k = 0; k < cases; k++) {
        uint64_t seed = first + (uint64_t)k;
        if (run_case(seed, &digest) == 0) {
            passed++;
        } else {
            failed++;
            fprintf(stderr, "FAILED seed %" PRIu64 " (rerun: sealed_join 1 %" PRIu64 ")\n", seed,
                    seed);
        }
    }
    uint8_t d[32];
    weft_blake2b_final(&digest, d);
    printf("digest of %ld cases from seed %" PRIu64 ": ", cases, first);
    for (int k = 0; k < 32; k++)
        printf("%02x", d[k]);
    printf("\n%ld snapshots joined from, %ld of them made with changes parked\n", n_published,
           n_published_parked);
    printf("%ld lean replicas forgot history below a snapshot\n", n_lean_forgot);
    printf("%ld passed, %ld failed\n", passed, failed);
    return failed ? 1 : 0;
}
