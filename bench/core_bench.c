/*
 * core_bench: throughput, size and memory of the Weft core on one seeded
 * LWW workload, natively and (compiled with emcc) as WASM in Node.
 *
 * Workload: author A makes `changes` changes of `batch` puts each (default
 * 1,000 x 1,000 = 1,000,000 puts) on collection "items", document
 * "k<random 0..keys-1>" (default 100,000 keys), field "v"; each value is an
 * int or a short string, chosen by the same fixed-seed generator, so every
 * run and every platform sees byte-identical records. A fresh replica B then
 * applies A's records one call per record. On top of that: the state hash,
 * live memory per visible document (through a counting weft_allocator), and
 * a snapshot of B written and loaded into a fresh replica.
 *
 * Correctness comes first: the records of every run must be byte-identical,
 * B's state hash must equal A's, every key's visible value must be the last
 * value written to it (a plain-array oracle), and a replica loaded from the
 * snapshot must hash like B. Any mismatch exits with status 1 before a
 * figure is printed. Each timed figure is the median of --runs runs (3 by
 * default; snapshot loads use 5) in this process.
 *
 * Output: a human table on stdout and, with --json PATH, a JSON array of
 * {"workload", "impl", "metric", "value", "unit"} records.
 *
 * Built natively by bench/meson.build (with WEFT_BENCH_SODIUM: the same
 * workload with suite V1, i.e. encrypted and signed changes, is added) and
 * for WASM by tools/bench with emcc. See bench/README.md.
 */
#define _POSIX_C_SOURCE 200809L

#define BENCH_NAME "core_bench"

#include "bench_util.h"
#ifdef WEFT_BENCH_SODIUM
#include "weft/sodium.h"
#endif

#include <inttypes.h>

/* ---- the workload ---- */

typedef struct workload {
    uint32_t n_changes, batch, n_keys;
    size_t n_ops;
    char (*key)[12]; /* "k<n>" per key */
    uint8_t *key_len;
    uint32_t *op_key;   /* key index per op */
    uint8_t (*val)[16]; /* encoded value per op */
    uint8_t *val_len;
    int32_t *last_op; /* per key: index of the last op writing it, -1 none */
    size_t n_docs;    /* keys written at least once */
} workload;

static void workload_make(workload *w, uint64_t seed, uint32_t n_changes, uint32_t batch,
                          uint32_t n_keys) {
    w->n_changes = n_changes;
    w->batch = batch;
    w->n_keys = n_keys;
    w->n_ops = (size_t)n_changes * batch;
    w->key = xmalloc(n_keys * sizeof *w->key);
    w->key_len = xmalloc(n_keys);
    w->last_op = xmalloc(n_keys * sizeof *w->last_op);
    for (uint32_t k = 0; k < n_keys; k++) {
        w->key_len[k] = (uint8_t)snprintf(w->key[k], sizeof w->key[k], "k%" PRIu32, k);
        w->last_op[k] = -1;
    }
    w->op_key = xmalloc(w->n_ops * sizeof *w->op_key);
    w->val = xmalloc(w->n_ops * sizeof *w->val);
    w->val_len = xmalloc(w->n_ops);
    rng_state = seed;
    for (size_t i = 0; i < w->n_ops; i++) {
        uint32_t k = rng_below(n_keys);
        w->op_key[i] = k;
        w->last_op[k] = (int32_t)i;
        size_t len;
        if (rng_next() & 1) { /* an int: 0..2^31 */
            check(weft_value_write_int(w->val[i], sizeof w->val[i], &len,
                                       (int64_t)(rng_next() >> 33)),
                  "write int");
        } else { /* a string of 4..12 lowercase letters */
            char s[12];
            uint32_t n = 4 + rng_below(9);
            for (uint32_t j = 0; j < n; j++)
                s[j] = (char)('a' + rng_below(26));
            check(weft_value_write_string(w->val[i], sizeof w->val[i], &len, s, n), "write string");
        }
        w->val_len[i] = (uint8_t)len;
    }
    w->n_docs = 0;
    for (uint32_t k = 0; k < n_keys; k++)
        w->n_docs += w->last_op[k] >= 0;
}

static void workload_free(workload *w) {
    free(w->key);
    free(w->key_len);
    free(w->op_key);
    free(w->val);
    free(w->val_len);
    free(w->last_op);
}

/* The records A produced, one after another. */
typedef struct records {
    uint8_t *p;
    size_t len, cap;
    size_t *off; /* n_changes + 1 offsets */
} records;

static const uint8_t SPACE[32] = {0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e,
                                  0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e,
                                  0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e, 0x5e};
static uint8_t AUTHOR_A[32], AUTHOR_B[32];

static weft_replica *replica(const uint8_t *author, const weft_allocator *alloc,
                             const weft_crypto *crypto, int keep_records) {
    weft_replica_config cfg = {.alloc = alloc,
                               .space = SPACE,
                               .author = author,
                               .crypto = crypto,
                               .keep_records = keep_records};
    weft_replica *r;
    check(weft_replica_new(&r, &cfg), "replica_new");
    return r;
}

/* Writes and commits the whole workload on a fresh replica; returns the
 * seconds it took and the replica. The records are copied into *out. */
static double run_write(const workload *w, const weft_crypto *crypto, records *out,
                        weft_replica **keep) {
    weft_replica *a = replica(AUTHOR_A, NULL, crypto, 1);
    out->len = 0;
    size_t op = 0;
    double t0 = now_s();
    for (uint32_t c = 0; c < w->n_changes; c++) {
        for (uint32_t j = 0; j < w->batch; j++, op++) {
            uint32_t k = w->op_key[op];
            int rc = weft_replica_put(a, "items", 5, w->key[k], w->key_len[k], "v", 1, w->val[op],
                                      w->val_len[op]);
            if (rc) check(rc, "put");
        }
        const uint8_t *rec;
        size_t len;
        int rc = weft_replica_commit(a, 1700000000000ULL + c, &rec, &len);
        if (rc) check(rc, "commit");
        if (out->len + len > out->cap) die("record buffer too small");
        out->off[c] = out->len;
        memcpy(out->p + out->len, rec, len);
        out->len += len;
    }
    double t = now_s() - t0;
    out->off[w->n_changes] = out->len;
    if (keep)
        *keep = a;
    else
        weft_replica_free(a);
    return t;
}

/* Applies every record, one call each, to a fresh replica. */
static double run_apply(const workload *w, const records *recs, const weft_allocator *alloc,
                        const weft_crypto *crypto, int keep_records, weft_replica **keep) {
    weft_replica *b = replica(AUTHOR_B, alloc, crypto, keep_records);
    double t0 = now_s();
    for (uint32_t c = 0; c < w->n_changes; c++) {
        weft_apply_result res;
        int rc =
            weft_replica_apply(b, recs->p + recs->off[c], recs->off[c + 1] - recs->off[c], &res);
        if (rc || res.applied != 1)
            die("apply of change %u: %s (applied %u)", c, weft_strerror(rc), res.applied);
    }
    double t = now_s() - t0;
    if (keep)
        *keep = b;
    else
        weft_replica_free(b);
    return t;
}

static void hash_of(weft_replica *r, uint8_t h[32]) {
    check(weft_state_hash(r, h), "state_hash");
}

static size_t visible_docs(weft_replica *r) {
    size_t n = 0;
    const char *key = NULL;
    size_t kl = 0;
    while (weft_replica_next_doc(r, "items", 5, key, kl, &key, &kl) == 0)
        n++;
    return n;
}

/* Every key holds the last value written to it, and nothing else is visible. */
static void check_oracle(const workload *w, weft_replica *r, const char *who) {
    for (uint32_t k = 0; k < w->n_keys; k++) {
        const uint8_t *v;
        size_t len;
        int rc = weft_replica_get_field(r, "items", 5, w->key[k], w->key_len[k], "v", 1, &v, &len);
        int32_t last = w->last_op[k];
        if (last < 0) {
            if (rc != WEFT_ENOTFOUND) die("%s: key %s should be absent", who, w->key[k]);
            continue;
        }
        if (rc) die("%s: key %s: %s", who, w->key[k], weft_strerror(rc));
        if (len != w->val_len[last] || memcmp(v, w->val[last], len) != 0)
            die("%s: key %s holds the wrong value", who, w->key[k]);
    }
    size_t n = visible_docs(r);
    if (n != w->n_docs) die("%s: %zu visible documents, expected %zu", who, n, w->n_docs);
}

/* Write + apply with one crypto table pair (NULL: suite PLAIN). Fills the
 * records and returns A and B of the last runs. */
static void bench_write_apply(const workload *w, int runs, const weft_crypto *ca,
                              const weft_crypto *cb, records *recs, weft_replica **a_out,
                              weft_replica **b_out, double *t_write, double *t_apply) {
    double tw[16], ta[16];
    records again = {xmalloc(recs->cap), 0, recs->cap,
                     xmalloc((w->n_changes + 1) * sizeof(size_t))};
    for (int i = 0; i < runs; i++) {
        records *into = i == 0 ? recs : &again;
        tw[i] = run_write(w, ca, into, i == runs - 1 ? a_out : NULL);
        /* Suite V1 seals with random nonces, so only PLAIN records repeat. */
        if (i > 0 && !ca && (again.len != recs->len || memcmp(again.p, recs->p, recs->len) != 0))
            die("run %d produced different records", i);
    }
    free(again.p);
    free(again.off);
    for (int i = 0; i < runs; i++)
        ta[i] = run_apply(w, recs, NULL, cb, 1, i == runs - 1 ? b_out : NULL);
    *t_write = median(tw, runs);
    *t_apply = median(ta, runs);
}

#ifdef WEFT_BENCH_SODIUM
/* Suite V1 envelopes alone, at three body sizes: seal + sign as a writer
 * does per change, verify + open as a reading member does (a relay only
 * verifies). The header stands in as associated data, as in a change. */
static void bench_envelopes(const weft_crypto *writer, const weft_crypto *reader,
                            const uint8_t *author_pk, int runs) {
    static const size_t sizes[] = {64, 1024, 16384};
    uint8_t header[120];
    memset(header, 0x48, sizeof header);
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k], ct_len = n + writer->seal_overhead;
        uint8_t *pt = xmalloc(n), *ct = xmalloc(ct_len), *back = xmalloc(n), sig[64];
        for (size_t i = 0; i < n; i++)
            pt[i] = (uint8_t)(i * 31u);
        /* Enough rounds for ~20 ms at 16 KB on this machine kind. */
        int rounds = n <= 1024 ? 4000 : 600;
        double ts[16], to[16];
        for (int r = 0; r < runs; r++) {
            double t0 = now_s();
            for (int i = 0; i < rounds; i++) {
                check(writer->seal(writer->ctx, ct, pt, n, header, sizeof header), "seal");
                check(writer->sign(writer->ctx, sig, ct, ct_len), "sign");
            }
            ts[r] = (now_s() - t0) / rounds;
            t0 = now_s();
            for (int i = 0; i < rounds; i++) {
                check(reader->verify(reader->ctx, author_pk, sig, ct, ct_len), "verify");
                check(reader->open(reader->ctx, back, ct, ct_len, header, sizeof header), "open");
            }
            to[r] = (now_s() - t0) / rounds;
        }
        if (memcmp(back, pt, n) != 0) die("V1 envelope: opened body differs");
        ct[ct_len / 2] ^= 1;
        if (reader->verify(reader->ctx, author_pk, sig, ct, ct_len) == 0)
            die("V1 envelope: a flipped bit verified");
        static char wl[3][64];
        snprintf(wl[k], sizeof wl[k], "suite V1 envelope, %s B body", human(n));
        add(wl[k], "seal+sign", 1 / median(ts, runs), "changes/s");
        add(wl[k], "verify+open", 1 / median(to, runs), "changes/s");
        free(pt);
        free(ct);
        free(back);
    }
}
#endif

static void usage(void) {
    fprintf(stderr, "usage: core_bench [--json PATH] [--impl NAME] [--runs N] [--changes N]\n"
                    "                  [--batch N] [--keys N] [--seed N] [--no-v1]\n"
                    "                  [--profile write|apply|apply-state|hash|snapshot|load]\n");
    exit(2);
}

/* --profile: runs one phase `runs` times and nothing else, for perf or
 * callgrind (see bench/README.md). */
static void profile(const workload *w, const records *recs, const char *phase, int runs) {
    weft_replica *b;
    run_apply(w, recs, NULL, NULL, 1, &b);
    const uint8_t *snap;
    size_t snap_len;
    check(weft_replica_snapshot(b, &snap, &snap_len), "snapshot");
    uint8_t *copy = xmalloc(snap_len);
    memcpy(copy, snap, snap_len);
    records again = {xmalloc(recs->cap), 0, recs->cap,
                     xmalloc((w->n_changes + 1) * sizeof(size_t))};
    double t0 = now_s();
    for (int i = 0; i < runs; i++) {
        if (strcmp(phase, "write") == 0) {
            run_write(w, NULL, &again, NULL);
        } else if (strcmp(phase, "apply") == 0) {
            run_apply(w, recs, NULL, NULL, 1, NULL);
        } else if (strcmp(phase, "apply-state") == 0) {
            run_apply(w, recs, NULL, NULL, 0, NULL);
        } else if (strcmp(phase, "hash") == 0) {
            uint8_t h[32];
            hash_of(b, h);
        } else if (strcmp(phase, "snapshot") == 0) {
            check(weft_replica_snapshot(b, &snap, &snap_len), "snapshot");
        } else if (strcmp(phase, "load") == 0) {
            weft_replica *l = replica(AUTHOR_B, NULL, NULL, 1);
            check(weft_replica_load_snapshot(l, copy, snap_len), "load_snapshot");
            weft_replica_free(l);
        } else {
            usage();
        }
    }
    printf("profile %s: %d runs, %.2f ms each\n", phase, runs, (now_s() - t0) * 1e3 / runs);
    free(again.p);
    free(again.off);
    free(copy);
    weft_replica_free(b);
}

int main(int argc, char **argv) {
    const char *json = NULL, *impl = "weft-native", *prof = NULL;
    int runs = 3, v1 = 1;
    uint32_t n_changes = 1000, batch = 1000, n_keys = 100000;
    uint64_t seed = 0x57656674u; /* "Weft" */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--no-v1") == 0) {
            v1 = 0;
            continue;
        }
        if (!v) usage();
        i++;
        if (strcmp(a, "--json") == 0)
            json = v;
        else if (strcmp(a, "--impl") == 0)
            impl = v;
        else if (strcmp(a, "--runs") == 0)
            runs = atoi(v);
        else if (strcmp(a, "--changes") == 0)
            n_changes = (uint32_t)strtoul(v, NULL, 10);
        else if (strcmp(a, "--batch") == 0)
            batch = (uint32_t)strtoul(v, NULL, 10);
        else if (strcmp(a, "--keys") == 0)
            n_keys = (uint32_t)strtoul(v, NULL, 10);
        else if (strcmp(a, "--seed") == 0)
            seed = strtoull(v, NULL, 10);
        else if (strcmp(a, "--profile") == 0)
            prof = v;
        else
            usage();
    }
    if (runs < 1 || runs > 15 || !n_changes || !batch || !n_keys) usage();
    memset(AUTHOR_A, 0xa1, 32);
    memset(AUTHOR_B, 0xb2, 32);

    workload w;
    workload_make(&w, seed, n_changes, batch, n_keys);
    static char wl[96], ws[64];
    snprintf(wl, sizeof wl, "lww put %s ops, %s keys, %s ops/change", human(w.n_ops), human(n_keys),
             human(batch));
    snprintf(ws, sizeof ws, "snapshot of %zuk docs", (w.n_docs + 500) / 1000);
    const double ops = (double)w.n_ops;

    /* Generous: an op encodes to < 32 bytes, a header to < 256 (+ V1 overhead). */
    records recs = {NULL, 0, w.n_ops * 32 + (size_t)n_changes * 512, NULL};
    recs.p = xmalloc(recs.cap);
    recs.off = xmalloc((n_changes + 1) * sizeof(size_t));

    if (prof) {
        run_write(&w, NULL, &recs, NULL);
        profile(&w, &recs, prof, runs);
        free(recs.p);
        free(recs.off);
        workload_free(&w);
        return 0;
    }

    /* 1. Local writes, then apply on a fresh replica. */
    weft_replica *a, *b;
    double t_write, t_apply;
    bench_write_apply(&w, runs, NULL, NULL, &recs, &a, &b, &t_write, &t_apply);

    /* Correctness before any figure counts. */
    uint8_t ha[32], hb[32];
    hash_of(a, ha);
    hash_of(b, hb);
    if (memcmp(ha, hb, 32) != 0) die("state hashes of A and B differ");
    check_oracle(&w, a, "A");
    check_oracle(&w, b, "B");

    add(wl, "local write+commit", ops / t_write, "ops/s");
    add(wl, "encode (change bytes / write time)", (double)recs.len / t_write / 1e6, "MB/s");
    add(wl, "apply", ops / t_apply, "ops/s");
    add(wl, "decode (change bytes / apply time)", (double)recs.len / t_apply / 1e6, "MB/s");
    {
        double t[16];
        for (int i = 0; i < runs; i++)
            t[i] = run_apply(&w, &recs, NULL, NULL, 0, NULL);
        add(wl, "apply, records not kept", ops / median(t, runs), "ops/s");
    }
    add(wl, "change bytes", (double)recs.len, "B");
    add(wl, "change bytes per op", (double)recs.len / ops, "B/op");

    /* 2. The state hash. */
    {
        double t[16];
        for (int i = 0; i < runs; i++) {
            uint8_t h[32];
            double t0 = now_s();
            hash_of(b, h);
            t[i] = now_s() - t0;
            if (memcmp(h, hb, 32) != 0) die("state hash is not stable");
        }
        add(wl, "state hash", median(t, runs) * 1e3, "ms");
    }

    /* 3. Memory: live bytes after applying everything, per visible document. */
    size_t mem_keep, mem_state;
    {
        counter c1 = {0, 0}, c2 = {0, 0};
        weft_allocator al1 = {count_realloc, &c1}, al2 = {count_realloc, &c2};
        weft_replica *m;
        run_apply(&w, &recs, &al1, NULL, 1, &m);
        uint8_t h[32];
        hash_of(m, h);
        if (memcmp(h, hb, 32) != 0) die("counting-allocator replica differs");
        mem_keep = c1.live;
        weft_replica_free(m);
        if (c1.live != 0) die("%zu bytes still live after weft_replica_free", c1.live);
        run_apply(&w, &recs, &al2, NULL, 0, &m);
        hash_of(m, h);
        if (memcmp(h, hb, 32) != 0) die("keep_records=0 replica differs");
        mem_state = c2.live;
        weft_replica_free(m);
        if (c2.live != 0) die("%zu bytes still live after weft_replica_free", c2.live);
        add(wl, "memory per doc, records kept", (double)mem_keep / (double)w.n_docs, "B/doc");
        add(wl, "memory per doc, state only", (double)mem_state / (double)w.n_docs, "B/doc");
    }

    /* 4. Snapshot of B: write, size, load into a fresh replica. */
    {
        double t[16];
        const uint8_t *snap;
        size_t snap_len = 0;
        for (int i = 0; i < runs; i++) {
            double t0 = now_s();
            check(weft_replica_snapshot(b, &snap, &snap_len), "snapshot");
            t[i] = now_s() - t0;
        }
        double t_snap = median(t, runs);
        uint8_t *copy = xmalloc(snap_len);
        memcpy(copy, snap, snap_len);
        double tl[5];
        for (int i = 0; i < 5; i++) {
            weft_replica *l = replica(AUTHOR_B, NULL, NULL, 1);
            double t0 = now_s();
            check(weft_replica_load_snapshot(l, copy, snap_len), "load_snapshot");
            tl[i] = now_s() - t0;
            uint8_t h[32];
            hash_of(l, h);
            if (memcmp(h, hb, 32) != 0) die("the loaded snapshot hashes differently");
            if (i == 0) check_oracle(&w, l, "snapshot");
            weft_replica_free(l);
        }
        counter c = {0, 0};
        weft_allocator al = {count_realloc, &c};
        weft_replica *l = replica(AUTHOR_B, &al, NULL, 1);
        check(weft_replica_load_snapshot(l, copy, snap_len), "load_snapshot");
        size_t mem_loaded = c.live;
        weft_replica_free(l);
        add(ws, "documents", (double)w.n_docs, "docs");
        add(ws, "snapshot size", (double)snap_len, "B");
        add(ws, "write snapshot", t_snap * 1e3, "ms");
        add(ws, "load snapshot", median(tl, 5) * 1e3, "ms");
        add(ws, "memory per doc after load", (double)mem_loaded / (double)w.n_docs, "B/doc");
        free(copy);
    }
    weft_replica_free(a);
    weft_replica_free(b);

#ifdef WEFT_BENCH_SODIUM
    /* 5. The same workload with suite V1: sealed and signed changes. */
    if (v1) {
        double t_write_plain = t_write, t_apply_plain = t_apply;
        weft_crypto_backend be;
        check(weft_sodium_backend(&be), "sodium backend");
        uint8_t pk[32], sk[64], key[32];
        check(weft_keypair_generate(&be, pk, sk), "keypair");
        memcpy(AUTHOR_A, pk, 32); /* A's author id is its signing key */
        check(be.random(be.ctx, key, sizeof key), "random");
        weft_crypto ta, tb;
        weft_suite_v1 sa, sb;
        check(weft_suite_v1_init(&ta, &sa, &be, key, sk), "suite A");
        check(weft_suite_v1_init(&tb, &sb, &be, key, NULL), "suite B");
        records vrecs = {xmalloc(recs.cap), 0, recs.cap, xmalloc((n_changes + 1) * sizeof(size_t))};
        bench_write_apply(&w, runs, &ta, &tb, &vrecs, &a, &b, &t_write, &t_apply);
        uint8_t h1[32], h2[32];
        hash_of(a, h1);
        hash_of(b, h2);
        if (memcmp(h1, h2, 32) != 0) die("V1: state hashes of A and B differ");
        check_oracle(&w, b, "V1 B");
        static char wv[128];
        snprintf(wv, sizeof wv, "%s, suite V1", wl);
        add(wv, "local write+commit", ops / t_write, "ops/s");
        add(wv, "apply", ops / t_apply, "ops/s");
        add(wv, "change bytes", (double)vrecs.len, "B");
        /* What sealing and signing add to each op of a change this size. */
        add(wv, "V1 cost per op, write", (t_write - t_write_plain) / ops * 1e9, "ns/op");
        add(wv, "V1 cost per op, apply", (t_apply - t_apply_plain) / ops * 1e9, "ns/op");
        bench_envelopes(&ta, &tb, pk, runs);
        weft_replica_free(a);
        weft_replica_free(b);
        weft_suite_v1_wipe(&sa);
        weft_suite_v1_wipe(&sb);
        free(vrecs.p);
        free(vrecs.off);
    }
#else
    (void)v1;
#endif

    print_table(impl);
    /* tools/bench checks that native and WASM agree on this line. */
    printf("state-hash ");
    for (int i = 0; i < 32; i++)
        printf("%02x", hb[i]);
    printf("\n");
    if (json) write_json(json, impl);
    free(recs.p);
    free(recs.off);
    workload_free(&w);
    return 0;
}
