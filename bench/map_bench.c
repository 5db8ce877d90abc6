/*
 * map_bench: Weft on the peer workloads of issue 10, natively and (compiled
 * with emcc) as WASM in Node; bench/peers/ runs Yjs, Loro and Automerge on
 * the very same op sequences, so tools/bench can put them side by side.
 *
 * 1. Map LWW: `ops` sets (default 100,000) on `keys` random keys (10,000):
 *    key "k<random>", value an int (0..2^31) or a string of 4-12 lowercase
 *    letters, from the shared splitmix64 sequence (bench_util.h and
 *    peers/prng.mjs draw identically). In Weft a map key is a document of
 *    collection "m", its value the field "v". Once with one set per
 *    transaction (commit), once with 1,000. Figures: local writes, a fresh
 *    replica applying each transaction's change record (one call each), all
 *    records applied in one call ("sync all changes"), and the whole state
 *    encoded (snapshot) and decoded into a fresh replica.
 * 2. Concurrent merge: replicas A and B each make `merge-ops` sets (50,000)
 *    in 1,000-set transactions on the same key space, from two other seeds;
 *    then each sends the other what it lacks (version vector, diff) and
 *    applies what it receives.
 *
 * Correctness before any figure counts: in workload 1 every replica's
 * visible map equals the last write per key and nothing else; in workload
 * 2 A and B hash equal and every key holds A's or B's last write to it (the
 * only one if only one side wrote it). Each run's records must be
 * byte-identical. The program prints a digest of each final map
 * ("map-digest NAME HEX", BLAKE2b-512 of "k<n>=i<int>" or "k<n>=s<string>"
 * lines in key order); the peers print theirs the same way and tools/bench
 * checks that workload 1's agree across every implementation. Figures are
 * medians of --runs runs (default 3) in this process.
 */
#define _POSIX_C_SOURCE 200809L
#define BENCH_NAME      "map_bench"

#include "bench_util.h"

#include <inttypes.h>

/* ---- the op sequence ---- */

typedef struct opseq {
    uint32_t n, n_keys;
    uint32_t *key;      /* key index per op */
    uint8_t (*val)[16]; /* canonical value encoding per op */
    uint8_t *val_len;
    int32_t *last; /* per key: the last op writing it, -1 none */
} opseq;

/* Draws exactly as peers/prng.mjs makeOps: key, then a coin, then either
 * an int (one draw) or a length and that many letters. */
static void opseq_make(opseq *o, uint64_t seed, uint32_t n, uint32_t n_keys) {
    o->n = n;
    o->n_keys = n_keys;
    o->key = xmalloc(n * sizeof *o->key);
    o->val = xmalloc(n * sizeof *o->val);
    o->val_len = xmalloc(n);
    o->last = xmalloc(n_keys * sizeof *o->last);
    for (uint32_t k = 0; k < n_keys; k++)
        o->last[k] = -1;
    rng_state = seed;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t k = rng_below(n_keys);
        o->key[i] = k;
        o->last[k] = (int32_t)i;
        size_t len;
        if (rng_next() & 1) {
            check(weft_value_write_int(o->val[i], sizeof o->val[i], &len,
                                       (int64_t)(rng_next() >> 33)),
                  "write int");
        } else {
            char s[12];
            uint32_t sl = 4 + rng_below(9);
            for (uint32_t j = 0; j < sl; j++)
                s[j] = (char)('a' + rng_below(26));
            check(weft_value_write_string(o->val[i], sizeof o->val[i], &len, s, sl),
                  "write string");
        }
        o->val_len[i] = (uint8_t)len;
    }
}

static void opseq_free(opseq *o) {
    free(o->key);
    free(o->val);
    free(o->val_len);
    free(o->last);
}

/* "k<n>" for every key index. */
static char (*key_name)[12];
static uint8_t *key_len;

static void keys_make(uint32_t n_keys) {
    key_name = xmalloc(n_keys * sizeof *key_name);
    key_len = xmalloc(n_keys);
    for (uint32_t k = 0; k < n_keys; k++)
        key_len[k] = (uint8_t)snprintf(key_name[k], sizeof key_name[k], "k%" PRIu32, k);
}

/* Change records, one after another. */
typedef struct records {
    uint8_t *p;
    size_t len, cap;
    size_t *off; /* n + 1 offsets */
    uint32_t n;
} records;

static void records_init(records *r, size_t cap, uint32_t max_n) {
    *r = (records){xmalloc(cap), 0, cap, xmalloc((max_n + 1) * sizeof(size_t)), 0};
}

static void records_free(records *r) {
    free(r->p);
    free(r->off);
}

static void records_push(records *r, const uint8_t *p, size_t len) {
    if (r->len + len > r->cap) die("record buffer too small");
    r->off[r->n++] = r->len;
    memcpy(r->p + r->len, p, len);
    r->len += len;
    r->off[r->n] = r->len;
}

/* ---- replicas ---- */

static const uint8_t SPACE[32] = {0x6d, 0x6d, 0x6d, 0x6d, 0x6d, 0x6d, 0x6d, 0x6d, 0x6d, 0x6d, 0x6d,
                                  0x6d, 0x6d, 0x6d, 0x6d, 0x6d, 0x6d, 0x6d, 0x6d, 0x6d, 0x6d, 0x6d,
                                  0x6d, 0x6d, 0x6d, 0x6d, 0x6d, 0x6d, 0x6d, 0x6d, 0x6d, 0x6d};
/* The peers use the same identities: Automerge actors a1.. and b2.., Loro
 * peers and Yjs clients 1 and 2 (see peers/README in bench/README.md). */
static uint8_t AUTHOR_A[32], AUTHOR_B[32], AUTHOR_C[32];
#define COLL    "m"
#define WALL_MS 1700000000000ULL

static weft_replica *replica(const uint8_t *author) {
    weft_replica_config cfg = {.space = SPACE, .author = author, .keep_records = 1};
    weft_replica *r;
    check(weft_replica_new(&r, &cfg), "replica_new");
    return r;
}

/* Sets ops [from, to) of o on r in transactions of `batch`, copying each
 * change record into out (may be NULL). */
static void write_ops(weft_replica *r, const opseq *o, uint32_t from, uint32_t to, uint32_t batch,
                      records *out) {
    uint32_t txn = 0;
    for (uint32_t i = from; i < to; txn++) {
        uint32_t end = to - i < batch ? to : i + batch;
        for (; i < end; i++) {
            uint32_t k = o->key[i];
            int rc = weft_replica_put(r, COLL, 1, key_name[k], key_len[k], "v", 1, o->val[i],
                                      o->val_len[i]);
            if (rc) check(rc, "put");
        }
        const uint8_t *rec;
        size_t len;
        int rc = weft_replica_commit(r, WALL_MS + txn, &rec, &len);
        if (rc) check(rc, "commit");
        if (out) records_push(out, rec, len);
    }
}

static void apply_one(weft_replica *r, const uint8_t *p, size_t len, uint32_t expect) {
    weft_apply_result res;
    int rc = weft_replica_apply(r, p, len, &res);
    if (rc || res.applied != expect)
        die("apply: %s (applied %u of %u)", weft_strerror(rc), res.applied, expect);
}

/* ---- checks ---- */

static size_t visible_docs(weft_replica *r) {
    size_t n = 0;
    const char *key = NULL;
    size_t kl = 0;
    while (weft_replica_next_doc(r, COLL, 1, key, kl, &key, &kl) == 0)
        n++;
    return n;
}

/* Key k holds op a's value or op b's (-1: none); both -1: absent. */
static int holds(weft_replica *r, uint32_t k, const opseq *oa, int32_t a, const opseq *ob,
                 int32_t b) {
    const uint8_t *v;
    size_t len;
    int rc = weft_replica_get_field(r, COLL, 1, key_name[k], key_len[k], "v", 1, &v, &len);
    if (a < 0 && b < 0) return rc == WEFT_ENOTFOUND;
    if (rc) return 0;
    if (a >= 0 && len == oa->val_len[a] && memcmp(v, oa->val[a], len) == 0) return 1;
    if (b >= 0 && len == ob->val_len[b] && memcmp(v, ob->val[b], len) == 0) return 1;
    return 0;
}

/* Workload 1: every key holds the last write to it, nothing else visible. */
static void check_lww(weft_replica *r, const opseq *o, const char *who) {
    size_t n = 0;
    for (uint32_t k = 0; k < o->n_keys; k++) {
        if (!holds(r, k, o, o->last[k], NULL, -1))
            die("%s: key %s does not hold its last write", who, key_name[k]);
        n += o->last[k] >= 0;
    }
    if (visible_docs(r) != n) die("%s: %zu keys visible, expected %zu", who, visible_docs(r), n);
}

/* Workload 2: every key holds A's or B's last write to it. */
static void check_merged(weft_replica *r, const opseq *oa, const opseq *ob, const char *who) {
    size_t n = 0;
    for (uint32_t k = 0; k < oa->n_keys; k++) {
        int32_t a = oa->last[k], b = ob->last[k];
        if (!holds(r, k, oa, a, ob, b))
            die("%s: key %s holds neither last write", who, key_name[k]);
        n += a >= 0 || b >= 0;
    }
    if (visible_docs(r) != n) die("%s: %zu keys visible, expected %zu", who, visible_docs(r), n);
}

/* BLAKE2b-512 over "k<n>=i<int>\n" / "k<n>=s<string>\n" in key order, as
 * hex (peers/prng.mjs mapDigest computes the same over a JS Map). */
static void map_digest(weft_replica *r, uint32_t n_keys, char hex[129]) {
    weft_blake2b_state s;
    check(weft_blake2b_init(&s, 64, NULL, 0), "blake2b");
    for (uint32_t k = 0; k < n_keys; k++) {
        const uint8_t *v;
        size_t len;
        if (weft_replica_get_field(r, COLL, 1, key_name[k], key_len[k], "v", 1, &v, &len)) continue;
        weft_value val;
        check(weft_value_read(&val, NULL, v, len), "value_read");
        char line[64];
        int n;
        if (val.type == WEFT_TYPE_INT)
            n = snprintf(line, sizeof line, "%s=i%" PRId64 "\n", key_name[k], val.i);
        else if (val.type == WEFT_TYPE_STRING && val.len < 32)
            n = snprintf(line, sizeof line, "%s=s%.*s\n", key_name[k], (int)val.len,
                         (const char *)val.ptr);
        else
            die("key %s: unexpected value type %d", key_name[k], (int)val.type);
        weft_blake2b_update(&s, line, (size_t)n);
    }
    uint8_t h[64];
    weft_blake2b_final(&s, h);
    for (int i = 0; i < 64; i++)
        snprintf(hex + 2 * i, 3, "%02x", h[i]);
}

static void print_digest(const char *name, weft_replica *r, uint32_t n_keys) {
    char hex[129];
    map_digest(r, n_keys, hex);
    printf("map-digest %s %s\n", name, hex);
}

static void hash_of(weft_replica *r, uint8_t h[32]) {
    check(weft_state_hash(r, h), "state_hash");
}

/* ---- workload 1 ---- */

static void bench_lww(const opseq *o, uint32_t batch, int runs) {
    static char names[2][96];
    static int slot;
    char *wl = names[slot++ & 1];
    snprintf(wl, sizeof names[0], "map LWW: %s sets on %s keys, %s op%s/txn", human(o->n),
             human(o->n_keys), human(batch), batch == 1 ? "" : "s");
    uint32_t n_txn = (o->n + batch - 1) / batch;
    /* Generous: a record's header is < 256 bytes, an op < 48. */
    size_t cap = (size_t)o->n * 48 + (size_t)n_txn * 256;
    records recs, again;
    records_init(&recs, cap, n_txn);
    records_init(&again, cap, n_txn);
    double t[16];

    /* Local writes: each set, then commit, the record copied out. */
    weft_replica *a = NULL;
    for (int i = 0; i < runs; i++) {
        records *into = i == 0 ? &recs : &again;
        into->len = into->n = 0;
        weft_replica_free(a);
        a = replica(AUTHOR_A);
        double t0 = now_s();
        write_ops(a, o, 0, o->n, batch, into);
        t[i] = now_s() - t0;
        if (i > 0 && (again.len != recs.len || memcmp(again.p, recs.p, recs.len) != 0))
            die("%s: run %d produced different records", wl, i);
    }
    add(wl, "write", o->n / median(t, runs), "ops/s");
    check_lww(a, o, "writer");

    /* A fresh replica applies each transaction's record, one call each. */
    weft_replica *b = NULL;
    for (int i = 0; i < runs; i++) {
        weft_replica_free(b);
        b = replica(AUTHOR_B);
        double t0 = now_s();
        for (uint32_t c = 0; c < recs.n; c++)
            apply_one(b, recs.p + recs.off[c], recs.off[c + 1] - recs.off[c], 1);
        t[i] = now_s() - t0;
    }
    add(wl, "apply updates", o->n / median(t, runs), "ops/s");
    add(wl, "update bytes", (double)recs.len, "B");
    check_lww(b, o, "applier");
    uint8_t ha[32], hb[32];
    hash_of(a, ha);
    hash_of(b, hb);
    if (memcmp(ha, hb, 32) != 0) die("%s: writer and applier hash differently", wl);

    /* Sync all changes: every record in one apply call, as a diff hands them over. */
    for (int i = 0; i < runs; i++) {
        weft_replica *c = replica(AUTHOR_C);
        double t0 = now_s();
        apply_one(c, recs.p, recs.len, recs.n);
        t[i] = now_s() - t0;
        uint8_t hc[32];
        hash_of(c, hc);
        if (memcmp(hc, hb, 32) != 0) die("%s: one-call sync hashes differently", wl);
        weft_replica_free(c);
    }
    add(wl, "sync all changes (one apply call)", median(t, runs) * 1e3, "ms");

    /* The whole state: snapshot of the applier, loaded into a fresh replica. */
    const uint8_t *snap;
    size_t snap_len = 0;
    for (int i = 0; i < runs; i++) {
        double t0 = now_s();
        check(weft_replica_snapshot(b, &snap, &snap_len), "snapshot");
        t[i] = now_s() - t0;
    }
    add(wl, "encode state", median(t, runs) * 1e3, "ms");
    add(wl, "state bytes", (double)snap_len, "B");
    uint8_t *copy = xmalloc(snap_len);
    memcpy(copy, snap, snap_len);
    double tr[16];
    for (int i = 0; i < runs; i++) {
        weft_replica *l = replica(AUTHOR_C);
        double t0 = now_s();
        check(weft_replica_load_snapshot(l, copy, snap_len), "load_snapshot");
        t[i] = now_s() - t0;
        /* Then read every key, as the peers do (some of them decode lazily). */
        size_t sum = 0;
        for (uint32_t k = 0; k < o->n_keys; k++) {
            const uint8_t *v;
            size_t len;
            if (weft_replica_get_field(l, COLL, 1, key_name[k], key_len[k], "v", 1, &v, &len) == 0)
                sum += len;
        }
        tr[i] = now_s() - t0;
        if (sum == 0) die("nothing read");
        if (i == 0) check_lww(l, o, "snapshot");
        weft_replica_free(l);
    }
    add(wl, "decode state", median(t, runs) * 1e3, "ms");
    add(wl, "decode state + read every key", median(tr, runs) * 1e3, "ms");

    /* Memory: live bytes through a counting allocator of a replica that
     * applied every record (keeping them, as the applier above) and of one
     * loaded from the snapshot, each after every key was checked. The
     * batched workload only, where the peers measure it too. */
    if (batch > 1) {
        counter cm;
        weft_allocator al = {count_realloc, &cm};
        weft_replica_config mcfg = {
            .alloc = &al, .space = SPACE, .author = AUTHOR_C, .keep_records = 1};
        weft_replica *m;
        cm = (counter){0, 0};
        check(weft_replica_new(&m, &mcfg), "replica_new");
        for (uint32_t c = 0; c < recs.n; c++)
            apply_one(m, recs.p + recs.off[c], recs.off[c + 1] - recs.off[c], 1);
        check_lww(m, o, "counted applier");
        add(wl, "memory after apply", (double)cm.live, "B");
        weft_replica_free(m);
        cm = (counter){0, 0};
        check(weft_replica_new(&m, &mcfg), "replica_new");
        check(weft_replica_load_snapshot(m, copy, snap_len), "load_snapshot");
        check_lww(m, o, "counted snapshot");
        add(wl, "memory after load", (double)cm.live, "B");
        weft_replica_free(m);
    }

    print_digest(batch == 1 ? "lww-1" : "lww-batch", b, o->n_keys);
    free(copy);
    weft_replica_free(a);
    weft_replica_free(b);
    records_free(&recs);
    records_free(&again);
}

/* ---- workload 2 ---- */

/* Copies a borrowed buffer (the next call on its replica may reuse it). */
static uint8_t *dup(const uint8_t *p, size_t len) {
    uint8_t *c = xmalloc(len);
    memcpy(c, p, len);
    return c;
}

static void bench_merge(const opseq *oa, const opseq *ob, uint32_t batch, int runs) {
    static char wl[96];
    snprintf(wl, sizeof wl, "concurrent merge: 2 x %s sets on %s keys, %s sets/txn", human(oa->n),
             human(oa->n_keys), human(batch));
    double t[16];
    size_t bytes = 0;
    uint8_t ha[32], hb[32];
    weft_replica *a = NULL, *b = NULL;
    for (int i = 0; i < runs; i++) {
        weft_replica_free(a);
        weft_replica_free(b);
        a = replica(AUTHOR_A);
        b = replica(AUTHOR_B);
        write_ops(a, oa, 0, oa->n, batch, NULL);
        write_ops(b, ob, 0, ob->n, batch, NULL);
        const uint8_t *p;
        size_t len_vb, len_va, len_da, len_db;
        double t0 = now_s();
        check(weft_replica_vv(b, &p, &len_vb), "vv B");
        uint8_t *vb = dup(p, len_vb);
        check(weft_replica_vv(a, &p, &len_va), "vv A");
        uint8_t *va = dup(p, len_va);
        check(weft_replica_diff(a, vb, len_vb, &p, &len_da), "diff A");
        uint8_t *da = dup(p, len_da);
        check(weft_replica_diff(b, va, len_va, &p, &len_db), "diff B");
        uint8_t *db = dup(p, len_db);
        apply_one(b, da, len_da, (oa->n + batch - 1) / batch);
        apply_one(a, db, len_db, (ob->n + batch - 1) / batch);
        t[i] = now_s() - t0;
        bytes = len_va + len_vb + len_da + len_db;
        free(va);
        free(vb);
        free(da);
        free(db);
        hash_of(a, ha);
        hash_of(b, hb);
        if (memcmp(ha, hb, 32) != 0) die("%s: A and B differ after the exchange", wl);
    }
    check_merged(a, oa, ob, "merged A");
    check_merged(b, oa, ob, "merged B");
    add(wl, "exchange + merge", median(t, runs) * 1e3, "ms");
    add(wl, "exchange bytes", (double)bytes, "B");
    print_digest("merge", a, oa->n_keys);
    weft_replica_free(a);
    weft_replica_free(b);
}

static void usage(void) {
    fprintf(stderr, "usage: map_bench [--json PATH] [--impl NAME] [--runs N] [--ops N]\n"
                    "                 [--keys N] [--merge-ops N] [--seed N]\n");
    exit(2);
}

int main(int argc, char **argv) {
    const char *json = NULL, *impl = "weft-native";
    int runs = 3;
    uint32_t n_ops = 100000, n_keys = 10000, merge_ops = 50000;
    uint64_t seed = 0x57656674u; /* "Weft"; peers/run.mjs uses the same */
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (strcmp(a, "--json") == 0)
            json = v;
        else if (strcmp(a, "--impl") == 0)
            impl = v;
        else if (strcmp(a, "--runs") == 0)
            runs = atoi(v);
        else if (strcmp(a, "--ops") == 0)
            n_ops = (uint32_t)strtoul(v, NULL, 10);
        else if (strcmp(a, "--keys") == 0)
            n_keys = (uint32_t)strtoul(v, NULL, 10);
        else if (strcmp(a, "--merge-ops") == 0)
            merge_ops = (uint32_t)strtoul(v, NULL, 10);
        else if (strcmp(a, "--seed") == 0)
            seed = strtoull(v, NULL, 10);
        else
            usage();
    }
    if (argc % 2 == 0 || runs < 1 || runs > 15 || !n_ops || !n_keys || !merge_ops) usage();
    memset(AUTHOR_A, 0xa1, 32);
    memset(AUTHOR_B, 0xb2, 32);
    memset(AUTHOR_C, 0xc3, 32);
    keys_make(n_keys);

    opseq o, oa, ob;
    opseq_make(&o, seed, n_ops, n_keys);
    bench_lww(&o, 1, runs);
    bench_lww(&o, 1000, runs);
    opseq_free(&o);

    opseq_make(&oa, seed + 1, merge_ops, n_keys);
    opseq_make(&ob, seed + 2, merge_ops, n_keys);
    bench_merge(&oa, &ob, 1000, runs);
    opseq_free(&oa);
    opseq_free(&ob);

    print_table(impl);
    if (json) write_json(json, impl);
    free(key_name);
    free(key_len);
    return 0;
}
