/*
 * Convergence property test.
 *
 * Each seeded case runs 3-5 replicas that make random puts, field and
 * document deletes and counter adds on a small set of overlapping keys, and
 * passes the resulting changes around in random order, late, and more than
 * once. At the end every replica must (1) have the same weft_state_hash and
 * (2) hold, for every field, exactly the value an independent oracle computes
 * from the full list of ops with the merge rules of docs/FORMAT.md (a naive
 * model: no incremental state, just "the greatest id wins" over all ops).
 * A snapshot of the result must load back to the same hash.
 *
 *   convergence [cases [first_seed]]
 *
 * Prints a digest of all final hashes so a native and a WASM run of the same
 * seeds can be compared, and "N passed, M failed". A failure prints its seed.
 */
#include "weft/weft.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REPLICAS 5
#define N_COLLS      2
#define N_DOCS       4
#define N_FIELDS     3
#define MAX_OPS      4096
#define MAX_MSGS     8192

enum { K_PUT_INT, K_PUT_STR, K_PUT_NULL, K_DEL_FIELD, K_DEL_DOC, K_ADD };

typedef struct op_rec {
    int author;
    uint64_t lamport; /* its id: (lamport, author key) */
    int kind, coll, doc, field;
    int64_t val;          /* put value or add delta */
    int obs_txn;          /* >= 0: observed op `obs_txn` of the same txn */
    uint64_t obs_lamport; /* else the observed id (0: none) */
    int obs_author;
    uint64_t seq; /* the change it is in */
} op_rec;

typedef struct msg {
    int to;
    size_t off, len; /* into the record pool */
} msg;

typedef struct world {
    uint64_t rng;
    int n;
    uint8_t space[32];
    uint8_t keys[MAX_REPLICAS][32];
    weft_replica *r[MAX_REPLICAS];
    op_rec ops[MAX_OPS];
    int n_ops;
    uint8_t *pool;
    size_t pool_len, pool_cap;
    msg msgs[MAX_MSGS];
    int n_msgs;
} world;

static uint64_t next_rand(world *w) { /* splitmix64 */
    uint64_t z = (w->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static int rnd(world *w, int n) {
    return (int)(next_rand(w) % (uint64_t)n);
}

static const char *coll_name(int c) {
    return c ? "todos" : "notes";
}
static const char *field_name(int f) {
    return f == 0 ? "title" : f == 1 ? "done" : "n";
}
static void doc_name(char *buf, int d) {
    snprintf(buf, 8, "d%d", d);
}

static int id_cmp(const world *w, uint64_t la, int aa, uint64_t lb, int ab) {
    if (la != lb) return la < lb ? -1 : 1;
    if (la == 0 || aa == ab) return 0;
    return memcmp(w->keys[aa], w->keys[ab], 32);
}

/* Replica i's contiguous seq of author a (from its version vector). */
static uint64_t seen_seq(world *w, int i, int a) {
    const uint8_t *vv;
    size_t len, pos = 0;
    const uint8_t *key;
    uint64_t seq;
    if (weft_replica_vv(w->r[i], &vv, &len)) abort();
    while (weft_vv_next(vv, len, &pos, &key, &seq))
        if (memcmp(key, w->keys[a], 32) == 0) return seq;
    return 0;
}

/* The oracle: the winning write on (c, d, f) among ops `in` accepts. */
typedef int (*op_filter)(const world *w, const op_rec *o, const void *ctx);

static const op_rec *winner(const world *w, int c, int d, int f, op_filter in, const void *ctx) {
    const op_rec *best = NULL;
    for (int k = 0; k < w->n_ops; k++) {
        const op_rec *o = &w->ops[k];
        if (!o->lamport || o->coll != c || o->doc != d || !in(w, o, ctx)) continue;
        int writes = o->kind == K_DEL_DOC || (o->kind != K_ADD && o->field == f);
        if (writes && (!best || id_cmp(w, o->lamport, o->author, best->lamport, best->author) > 0))
            best = o;
    }
    return best;
}

static int all_ops(const world *w, const op_rec *o, const void *ctx) {
    (void)w;
    (void)o;
    (void)ctx;
    return 1;
}

typedef struct seen_ctx {
    uint64_t seq[MAX_REPLICAS];
} seen_ctx;

static int seen_ops(const world *w, const op_rec *o, const void *ctx) {
    (void)w;
    return o->seq <= ((const seen_ctx *)ctx)->seq[o->author];
}

/* Expected encoded value of (c, d, f) over all ops; 0 when invisible. */
static size_t expected(const world *w, int c, int d, int f, uint8_t *dst) {
    const op_rec *win = winner(w, c, d, f, all_ops, NULL);
    uint64_t wl = win ? win->lamport : 0;
    int wa = win ? win->author : 0;
    int64_t sum = 0;
    int adds = 0;
    for (int k = 0; k < w->n_ops; k++) {
        const op_rec *o = &w->ops[k];
        if (o->kind == K_ADD && o->coll == c && o->doc == d && o->field == f &&
            id_cmp(w, o->obs_lamport, o->obs_author, wl, wa) == 0) {
            sum = (int64_t)((uint64_t)sum + (uint64_t)o->val);
            adds++;
        }
    }
    size_t len = 0;
    int kind = win ? win->kind : K_DEL_FIELD;
    if (kind == K_PUT_INT) {
        weft_value_write_int(dst, 32, &len, (int64_t)((uint64_t)win->val + (uint64_t)sum));
    } else if (kind == K_PUT_STR) {
        char s[24];
        int n = snprintf(s, sizeof s, "s%" PRId64, win->val);
        weft_value_write_string(dst, 32, &len, s, (size_t)n);
    } else if (kind == K_PUT_NULL) {
        weft_value_write_null(dst, 32, &len);
    } else if (adds) {
        weft_value_write_int(dst, 32, &len, sum);
    }
    return len;
}

static void send_all(world *w, int from, const uint8_t *rec, size_t len) {
    if (w->pool_len + len > w->pool_cap) {
        w->pool_cap = (w->pool_len + len) * 2;
        w->pool = realloc(w->pool, w->pool_cap);
        if (!w->pool) abort();
    }
    memcpy(w->pool + w->pool_len, rec, len);
    for (int i = 0; i < w->n; i++) {
        if (i == from) continue;
        int copies = rnd(w, 8) == 0 ? 2 : 1; /* sometimes delivered twice */
        for (int k = 0; k < copies && w->n_msgs < MAX_MSGS; k++)
            w->msgs[w->n_msgs++] = (msg){i, w->pool_len, len};
    }
    w->pool_len += len;
}

static int deliver(world *w, int m) {
    msg x = w->msgs[m];
    w->msgs[m] = w->msgs[--w->n_msgs];
    weft_apply_result res;
    int rc = weft_replica_apply(w->r[x.to], w->pool + x.off, x.len, &res);
    if (rc) fprintf(stderr, "apply failed: %s\n", weft_strerror(rc));
    return rc;
}

/* One transaction of 1-4 ops on replica i. */
static int local_txn(world *w, int i) {
    int first = w->n_ops, n = 1 + rnd(w, 4);
    seen_ctx seen;
    for (int a = 0; a < w->n; a++)
        seen.seq[a] = seen_seq(w, i, a);
    for (int k = 0; k < n && w->n_ops < MAX_OPS; k++) {
        op_rec *o = &w->ops[w->n_ops];
        memset(o, 0, sizeof *o);
        o->author = i;
        o->obs_txn = -1;
        o->coll = rnd(w, N_COLLS);
        o->doc = rnd(w, N_DOCS);
        o->field = rnd(w, N_FIELDS);
        int p = rnd(w, 100);
        o->kind = p < 35   ? K_PUT_INT
                  : p < 50 ? K_PUT_STR
                  : p < 55 ? K_PUT_NULL
                  : p < 65 ? K_DEL_FIELD
                  : p < 72 ? K_DEL_DOC
                           : K_ADD;
        o->val = rnd(w, 1000) - 300;
        char doc[8];
        doc_name(doc, o->doc);
        const char *cn = coll_name(o->coll), *fn = field_name(o->field);
        uint8_t v[32];
        size_t vlen = 0;
        int rc = 0;
        switch (o->kind) {
        case K_PUT_INT:
            weft_value_write_int(v, sizeof v, &vlen, o->val);
            rc = weft_replica_put(w->r[i], cn, strlen(cn), doc, strlen(doc), fn, strlen(fn), v,
                                  vlen);
            break;
        case K_PUT_STR: {
            char s[24];
            int sl = snprintf(s, sizeof s, "s%" PRId64, o->val);
            weft_value_write_string(v, sizeof v, &vlen, s, (size_t)sl);
            rc = weft_replica_put(w->r[i], cn, strlen(cn), doc, strlen(doc), fn, strlen(fn), v,
                                  vlen);
            break;
        }
        case K_PUT_NULL:
            weft_value_write_null(v, sizeof v, &vlen);
            rc = weft_replica_put(w->r[i], cn, strlen(cn), doc, strlen(doc), fn, strlen(fn), v,
                                  vlen);
            break;
        case K_DEL_FIELD:
            rc = weft_replica_delete_field(w->r[i], cn, strlen(cn), doc, strlen(doc), fn,
                                           strlen(fn));
            break;
        case K_DEL_DOC:
            rc = weft_replica_delete_doc(w->r[i], cn, strlen(cn), doc, strlen(doc));
            break;
        case K_ADD: {
            /* The model of what the replica observes: the newest earlier
             * write of this transaction, else the winner among what it holds. */
            for (int t = w->n_ops - 1; t >= first; t--) {
                const op_rec *q = &w->ops[t];
                if (q->coll == o->coll && q->doc == o->doc && q->kind != K_ADD &&
                    (q->kind == K_DEL_DOC || q->field == o->field)) {
                    o->obs_txn = t - first;
                    break;
                }
            }
            if (o->obs_txn < 0) {
                const op_rec *win = winner(w, o->coll, o->doc, o->field, seen_ops, &seen);
                o->obs_lamport = win ? win->lamport : 0;
                o->obs_author = win ? win->author : 0;
            }
            rc = weft_replica_counter_add(w->r[i], cn, strlen(cn), doc, strlen(doc), fn, strlen(fn),
                                          o->val);
            break;
        }
        }
        if (rc) {
            fprintf(stderr, "local op failed: %s\n", weft_strerror(rc));
            return rc;
        }
        w->n_ops++;
    }
    const uint8_t *rec;
    size_t len;
    int rc = weft_replica_commit(w->r[i], 1700000000000ULL + (uint64_t)w->n_ops, &rec, &len);
    if (rc) {
        fprintf(stderr, "commit failed: %s\n", weft_strerror(rc));
        return rc;
    }
    weft_change c;
    if (weft_change_decode(&c, rec, len)) abort();
    for (int k = first; k < w->n_ops; k++) {
        op_rec *o = &w->ops[k];
        o->lamport = c.lamport + (uint64_t)(k - first);
        o->seq = c.seq;
        if (o->obs_txn >= 0) {
            o->obs_lamport = c.lamport + (uint64_t)o->obs_txn;
            o->obs_author = i;
        }
    }
    send_all(w, i, rec, len);
    return 0;
}

/* Pairwise sync through version vectors and diffs, until quiet. */
static int sync_by_diff(world *w) {
    for (int round = 0; round < 2; round++)
        for (int a = 0; a < w->n; a++)
            for (int b = 0; b < w->n; b++) {
                if (a == b) continue;
                const uint8_t *vv, *recs;
                size_t vlen, rlen;
                if (weft_replica_vv(w->r[b], &vv, &vlen)) return -1;
                uint8_t *copy = malloc(vlen + 1);
                memcpy(copy, vv, vlen);
                int rc = weft_replica_diff(w->r[a], copy, vlen, &recs, &rlen);
                free(copy);
                if (rc) return rc;
                if ((rc = weft_replica_apply(w->r[b], recs, rlen, NULL))) return rc;
            }
    return 0;
}

static int check_case(world *w, uint64_t seed, uint8_t digest_in[32]) {
    uint8_t h0[32], h[32];
    if (weft_state_hash(w->r[0], h0)) return -1;
    for (int i = 0; i < w->n; i++) {
        if (weft_replica_pending_count(w->r[i])) {
            fprintf(stderr, "seed %" PRIu64 ": replica %d still has pending changes\n", seed, i);
            return -1;
        }
        if (weft_state_hash(w->r[i], h)) return -1;
        if (memcmp(h, h0, 32)) {
            fprintf(stderr, "seed %" PRIu64 ": replica %d hash differs\n", seed, i);
            return -1;
        }
        for (int c = 0; c < N_COLLS; c++)
            for (int d = 0; d < N_DOCS; d++)
                for (int f = 0; f < N_FIELDS; f++) {
                    uint8_t want[32];
                    size_t wl = expected(w, c, d, f, want), gl = 0;
                    const uint8_t *got = NULL;
                    char doc[8];
                    doc_name(doc, d);
                    const char *cn = coll_name(c), *fn = field_name(f);
                    int rc = weft_replica_get_field(w->r[i], cn, strlen(cn), doc, strlen(doc), fn,
                                                    strlen(fn), &got, &gl);
                    if ((rc == WEFT_ENOTFOUND ? 0 : gl) != wl || (wl && memcmp(got, want, wl))) {
                        fprintf(stderr,
                                "seed %" PRIu64 ": replica %d %s/%s.%s differs from the oracle\n",
                                seed, i, cn, doc, fn);
                        return -1;
                    }
                }
    }
    /* Snapshot round trip keeps the hash, and the loaded replica takes the
     * history after it as duplicates. */
    const uint8_t *snap, *recs;
    size_t slen, rlen;
    weft_replica *loaded;
    weft_replica_config cfg = {.space = w->space, .author = w->keys[0], .keep_records = 1};
    if (weft_replica_snapshot(w->r[1 % w->n], &snap, &slen) || weft_replica_new(&loaded, &cfg))
        return -1;
    int rc = weft_replica_load_snapshot(loaded, snap, slen);
    if (!rc) rc = weft_state_hash(loaded, h);
    if (!rc && memcmp(h, h0, 32)) rc = -1;
    if (!rc) rc = weft_replica_diff(w->r[0], NULL, 0, &recs, &rlen);
    weft_apply_result res;
    if (!rc) rc = weft_replica_apply(loaded, recs, rlen, &res);
    if (!rc && res.applied) rc = -1;
    weft_replica_free(loaded);
    if (rc) {
        fprintf(stderr, "seed %" PRIu64 ": snapshot round trip failed (%d)\n", seed, rc);
        return -1;
    }
    memcpy(digest_in, h0, 32);
    return 0;
}

static int run_case(uint64_t seed, uint8_t hash_out[32]) {
    world *w = calloc(1, sizeof *w);
    if (!w) return -1;
    w->rng = seed;
    w->n = 3 + rnd(w, 3);
    for (int k = 0; k < 32; k++)
        w->space[k] = (uint8_t)next_rand(w);
    int rc = 0;
    for (int i = 0; i < w->n && !rc; i++) {
        for (int k = 0; k < 32; k++)
            w->keys[i][k] = (uint8_t)next_rand(w);
        weft_replica_config cfg = {.space = w->space, .author = w->keys[i], .keep_records = 1};
        rc = weft_replica_new(&w->r[i], &cfg);
    }
    int steps = 5 + rnd(w, 40);
    for (int s = 0; s < steps && !rc; s++) {
        if (rnd(w, 3)) rc = local_txn(w, rnd(w, w->n));
        /* Deliver a random few of the messages in flight, in random order;
         * the rest stay delayed. */
        int k = w->n_msgs ? rnd(w, w->n_msgs + 1) : 0;
        while (k-- > 0 && !rc && w->n_msgs)
            rc = deliver(w, rnd(w, w->n_msgs));
    }
    if (!rc && rnd(w, 2)) {
        while (w->n_msgs && !rc)
            rc = deliver(w, rnd(w, w->n_msgs));
    } else if (!rc) {
        rc = sync_by_diff(w);
    }
    if (!rc)
        rc = check_case(w, seed, hash_out);
    else
        fprintf(stderr, "seed %" PRIu64 ": failed during the run\n", seed);
    for (int i = 0; i < w->n; i++)
        weft_replica_free(w->r[i]);
    free(w->pool);
    free(w);
    return rc;
}

int main(int argc, char **argv) {
    long cases = argc > 1 ? atol(argv[1]) : 10000;
    uint64_t first = argc > 2 ? strtoull(argv[2], NULL, 10) : 1;
    weft_blake2b_state digest;
    weft_blake2b_init(&digest, 32, NULL, 0);
    long passed = 0, failed = 0;
    for (long k = 0; k < cases; k++) {
        uint8_t h[32];
        if (run_case(first + (uint64_t)k, h) == 0) {
            passed++;
            weft_blake2b_update(&digest, h, 32);
        } else {
            failed++;
            fprintf(stderr, "FAILED seed %" PRIu64 " (rerun: convergence 1 %" PRIu64 ")\n",
                    first + (uint64_t)k, first + (uint64_t)k);
        }
    }
    uint8_t d[32];
    weft_blake2b_final(&digest, d);
    printf("digest of %ld cases from seed %" PRIu64 ": ", cases, first);
    for (int k = 0; k < 32; k++)
        printf("%02x", d[k]);
    printf("\n%ld passed, %ld failed\n", passed, failed);
    return failed ? 1 : 0;
}
