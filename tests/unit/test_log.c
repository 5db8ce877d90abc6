/* The change record decoder and the log: chains, dedupe, forks, causal
 * buffering, limits, version vectors and diffs. Records are built by hand
 * here, so every field can be set to a wrong value on purpose. */
#include "check.h"
#include "log_int.h"

static uint8_t SPACE[32], A[32], B[32];

typedef struct rec {
    uint8_t b[512];
    size_t len;
    uint8_t hash[32];
} rec;

static size_t put_varint(uint8_t *p, uint64_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* A PLAIN change record; deps given as (author, seq) pairs. */
static rec make(const uint8_t *space, const uint8_t *author, uint64_t seq, uint64_t lamport,
                uint64_t n_ids, const uint8_t *prev, int n_deps, const uint8_t *const *dep_authors,
                const uint64_t *dep_seqs, uint64_t wall) {
    rec r;
    memset(&r, 0, sizeof r);
    uint8_t *p = r.b;
    *p++ = WEFT_FORMAT_VERSION;
    *p++ = WEFT_RECORD_CHANGE;
    *p++ = WEFT_SUITE_PLAIN;
    memcpy(p, space, 32), p += 32;
    memcpy(p, author, 32), p += 32;
    p += put_varint(p, seq);
    p += put_varint(p, lamport);
    p += put_varint(p, n_ids);
    p += put_varint(p, wall);
    static const uint8_t zero[32];
    memcpy(p, prev ? prev : zero, 32), p += 32;
    p += put_varint(p, (uint64_t)n_deps);
    for (int i = 0; i < n_deps; i++) {
        memcpy(p, dep_authors[i], 32), p += 32;
        p += put_varint(p, dep_seqs[i]);
    }
    p += put_varint(p, 3); /* body: opaque to the log */
    *p++ = 'o', *p++ = 'p', *p++ = 's';
    r.len = (size_t)(p - r.b);
    weft_change c;
    if (weft_change_decode(&c, r.b, r.len) == 0) weft_change_hash(r.hash, &c);
    return r;
}

/* seq n of a simple chain: lamport n, one id each, prev = chain[n-2]. */
static void chain(rec *out, int n, const uint8_t *author) {
    for (int i = 0; i < n; i++)
        out[i] = make(SPACE, author, (uint64_t)i + 1, (uint64_t)i + 1, 1,
                      i ? out[i - 1].hash : NULL, 0, NULL, NULL, 1000);
}

/* A log whose one author may fill the whole pending pool. */
static weft_log *new_log(size_t max_pending) {
    weft_log *log;
    weft_log_config cfg = {.space = SPACE,
                           .keep_records = 1,
                           .max_pending_bytes = max_pending,
                           .max_pending_author = max_pending};
    if (weft_log_new(&log, &cfg)) abort();
    return log;
}

/* Checks, then commits or parks, then drains the ready queue. */
static int add(weft_log *log, const rec *r) {
    weft_change c;
    int rc = weft_change_decode(&c, r->b, r->len);
    if (rc) return rc;
    int st = weft_log_check(log, &c);
    if (st == WEFT_LOG_READY)
        rc = weft_log_commit(log, &c);
    else if (st == WEFT_LOG_WAITING)
        rc = weft_log_park(log, &c);
    else
        rc = st;
    const uint8_t *p;
    size_t len;
    while (rc >= 0 && weft_log_next_ready(log, &p, &len)) {
        weft_change pc;
        if (weft_change_decode(&pc, p, len) || weft_log_check(log, &pc) != WEFT_LOG_READY ||
            weft_log_commit(log, &pc))
            return -100;
    }
    return rc;
}

static void setup(void) {
    fill_key(SPACE, 0x11);
    fill_key(A, 0xa0);
    fill_key(B, 0xb0);
}

static void in_any_order(void) {
    setup();
    rec r[3];
    chain(r, 3, A);
    weft_log *log = new_log(0);
    CHECK_OK(add(log, &r[2]));
    CHECK_OK(add(log, &r[1]));
    CHECK(weft_log_pending_count(log) == 2 && weft_log_count(log) == 0);
    CHECK_OK(add(log, &r[0])); /* releases the other two */
    CHECK(weft_log_pending_count(log) == 0 && weft_log_count(log) == 3);
    CHECK(weft_log_seq(log, A) == 3 && weft_log_seq(log, B) == 0);
    weft_log_free(log);
    weft_log_free(NULL);
}

static void duplicates_and_forks(void) {
    setup();
    rec r[3];
    chain(r, 3, A);
    rec other1 = make(SPACE, A, 1, 1, 1, NULL, 0, NULL, NULL, 2000); /* same seq, other bytes */
    rec other3 = make(SPACE, A, 3, 3, 1, r[1].hash, 0, NULL, NULL, 2000);
    weft_log *log = new_log(0);
    CHECK_OK(add(log, &r[0]));
    CHECK_RC(add(log, &r[0]), WEFT_LOG_DUPLICATE);
    CHECK_RC(add(log, &other1), WEFT_EFORK);
    CHECK_OK(add(log, &r[2]));                     /* parked */
    CHECK_RC(add(log, &r[2]), WEFT_LOG_DUPLICATE); /* parked twice */
    CHECK_RC(add(log, &other3), WEFT_EFORK);       /* parked fork */
    CHECK(weft_log_pending_count(log) == 1);
    CHECK_OK(add(log, &r[1]));
    CHECK(weft_log_count(log) == 3);
    weft_log_free(log);
}

static void broken_chains_and_clocks(void) {
    setup();
    rec r[2];
    chain(r, 2, A);
    uint8_t wrong[32];
    memset(wrong, 0x77, 32);
    rec bad_prev = make(SPACE, A, 2, 2, 1, wrong, 0, NULL, NULL, 1000);
    rec old_clock = make(SPACE, A, 2, 1, 1, r[0].hash, 0, NULL, NULL, 1000);
    fill_key(wrong, 0x99);
    rec other_space = make(wrong, A, 1, 1, 1, NULL, 0, NULL, NULL, 1000);
    weft_log *log = new_log(0);
    CHECK_OK(add(log, &r[0]));
    CHECK_RC(add(log, &bad_prev), WEFT_ECHAIN);
    CHECK_RC(add(log, &old_clock), WEFT_ECLOCK);
    CHECK_RC(add(log, &other_space), WEFT_ESPACE);
    CHECK_OK(add(log, &r[1]));
    weft_log_free(log);
}

static void waits_for_deps(void) {
    setup();
    rec a[2];
    chain(a, 2, A);
    const uint8_t *deps[] = {A};
    uint64_t seqs[] = {2};
    rec b1 = make(SPACE, B, 1, 3, 1, NULL, 1, deps, seqs, 1000);
    weft_log *log = new_log(0);
    CHECK_OK(add(log, &b1));
    CHECK_OK(add(log, &a[0]));
    CHECK(weft_log_seq(log, B) == 0); /* still needs A2 */
    CHECK_OK(add(log, &a[1]));
    CHECK(weft_log_seq(log, B) == 1 && weft_log_pending_count(log) == 0);
    weft_log_free(log);
}

static void pending_limit(void) {
    setup();
    rec r[3];
    chain(r, 3, A);
    weft_log *log = new_log(r[2].len + r[1].len - 1);
    CHECK_OK(add(log, &r[2]));
    CHECK_RC(add(log, &r[1]), WEFT_EPENDING_FULL);
    CHECK_OK(add(log, &r[0]));
    CHECK_OK(add(log, &r[1])); /* fits now: it applies directly */
    CHECK(weft_log_count(log) == 3);
    weft_log_free(log);
}

typedef struct emitted {
    int n;
    uint64_t seqs[8];
    uint8_t first[32];
} emitted;

static int collect(void *ud, const uint8_t *record, size_t len, const uint8_t *author,
                   uint64_t seq) {
    emitted *e = ud;
    if (!record || !len || e->n >= 8) return -1;
    if (e->n == 0) memcpy(e->first, author, 32);
    e->seqs[e->n++] = seq;
    return 0;
}

static void vectors_and_diffs(void) {
    setup();
    rec a[3];
    chain(a, 3, A);
    rec b1 = make(SPACE, B, 1, 9, 1, NULL, 0, NULL, NULL, 1000);
    weft_log *log = new_log(0);
    CHECK_OK(add(log, &b1));
    for (int i = 0; i < 3; i++)
        CHECK_OK(add(log, &a[i]));
    uint8_t vv[128];
    size_t len;
    CHECK(weft_log_vv_bound(log) <= sizeof vv);
    CHECK_OK(weft_log_vv_encode(log, vv, sizeof vv, &len));
    CHECK(len == 2 * 33 && memcmp(vv, A, 32) == 0 && vv[32] == 3 && memcmp(vv + 33, B, 32) == 0);
    CHECK_OK(weft_vv_check(vv, len));
    CHECK_RC(weft_log_vv_encode(log, vv, 40, &len), WEFT_ENOSPACE);
    /* Someone holding A1 gets A2, A3 and B1, in commit order. */
    uint8_t theirs[33];
    memcpy(theirs, A, 32);
    theirs[32] = 1;
    emitted e = {0};
    CHECK_OK(weft_log_diff(log, theirs, sizeof theirs, collect, &e));
    CHECK(e.n == 3 && e.seqs[0] == 1 && memcmp(e.first, B, 32) == 0 && e.seqs[1] == 2 &&
          e.seqs[2] == 3);
    /* Malformed vectors are refused before anything is emitted. */
    uint8_t unsorted[66];
    memcpy(unsorted, B, 32);
    unsorted[32] = 1;
    memcpy(unsorted + 33, A, 32);
    unsorted[65] = 1;
    e.n = 0;
    CHECK_RC(weft_log_diff(log, unsorted, sizeof unsorted, collect, &e), WEFT_EMALFORMED);
    theirs[32] = 0;
    CHECK_RC(weft_vv_check(theirs, sizeof theirs), WEFT_EMALFORMED);
    CHECK_RC(weft_vv_check(theirs, 20), WEFT_ETRUNCATED);
    CHECK(e.n == 0);
    weft_log_free(log);
}

static void decoder_rejects(void) {
    setup();
    rec r[2];
    chain(r, 2, A);
    weft_change c;
    /* Every truncation of a valid record is an error, never a crash. */
    for (size_t n = 0; n < r[1].len; n++)
        CHECK(weft_change_decode(&c, r[1].b, n) < 0);
    CHECK_OK(weft_change_decode(&c, r[1].b, r[1].len));
    CHECK(c.total_len == r[1].len && c.seq == 2 && c.n_deps == 0 && c.body_len == 3);
    rec t = r[0];
    t.b[0] = 2;
    CHECK_RC(weft_change_decode(&c, t.b, t.len), WEFT_EVERSION);
    t = r[0];
    t.b[1] = WEFT_RECORD_SNAPSHOT;
    CHECK_RC(weft_change_decode(&c, t.b, t.len), WEFT_EMALFORMED);
    t = r[0];
    t.b[2] = 7;
    CHECK_RC(weft_change_decode(&c, t.b, t.len), WEFT_ESUITE);
    rec s0 = make(SPACE, A, 1, 1, 1, NULL, 0, NULL, NULL, 1000);
    s0.b[67] = 0; /* seq 0 */
    CHECK_RC(weft_change_decode(&c, s0.b, s0.len), WEFT_EMALFORMED);
    rec s2 = make(SPACE, A, 1, 1, 1, NULL, 0, NULL, NULL, 1000);
    s2.b[67] = 2; /* seq 2 with an all-zero prev */
    CHECK_RC(weft_change_decode(&c, s2.b, s2.len), WEFT_EMALFORMED);
    const uint8_t *self[] = {A};
    uint64_t one[] = {1};
    /* A dependency on the change's own author, or deps out of order. */
    uint8_t buf[512];
    rec d = make(SPACE, B, 1, 5, 1, NULL, 1, self, one, 1000);
    memcpy(buf, d.b, d.len);
    memcpy(buf + 3 + 32, A, 32); /* author := A, who is also the dep */
    CHECK_RC(weft_change_decode(&c, buf, d.len), WEFT_EMALFORMED);
    const uint8_t *two[] = {B, A};
    uint64_t seqs[] = {1, 1};
    uint8_t C[32];
    fill_key(C, 0xc0);
    rec unordered = make(SPACE, C, 1, 5, 1, NULL, 2, two, seqs, 1000);
    CHECK_RC(weft_change_decode(&c, unordered.b, unordered.len), WEFT_EMALFORMED);
    const uint8_t *sorted[] = {A, B};
    rec ordered = make(SPACE, C, 1, 5, 1, NULL, 2, sorted, seqs, 1000);
    CHECK_OK(weft_change_decode(&c, ordered.b, ordered.len));
    size_t pos = 0;
    weft_dep dep;
    CHECK(weft_change_dep_next(&c, &pos, &dep) && memcmp(dep.author, A, 32) == 0);
    CHECK(weft_change_dep_next(&c, &pos, &dep) && memcmp(dep.author, B, 32) == 0);
    CHECK(!weft_change_dep_next(&c, &pos, &dep));
    CHECK(weft_change_decode(&c, r[0].b, r[0].len) == 0 && c.sig == NULL);
}

/* Keys minted in a hostile order (a simple LCG: no structure the sort could
 * take advantage of). */
static void minted_key(uint8_t key[32], uint32_t i) {
    uint64_t x = 0x9e3779b97f4a7c15ULL * (i + 1);
    for (int k = 0; k < 32; k++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        key[k] = (uint8_t)(x >> 56);
    }
}

static int sorted_view_ok(weft_log *log) {
    uint32_t n;
    const uint32_t *s = weft__log_sorted_authors(log, &n);
    if (!s || n != weft__log_author_count(log)) return 0;
    for (uint32_t i = 1; i < n; i++)
        if (memcmp(weft__log_author_key(log, s[i - 1]), weft__log_author_key(log, s[i]), 32) >= 0)
            return 0;
    return 1;
}

/* Dependency keys mint authors and every HELLO encodes the version vector,
 * so the sorted view must cost O(n log n) once and O(n) per new author, not
 * a full insertion sort (n^2/4 comparisons: 4.2 M for 4,096 authors). */
static void sorting_authors_scales(void) {
    setup();
    weft_log *log = new_log(0);
    const uint32_t n = 4096;
    uint8_t key[32];
    for (uint32_t i = 0; i < n; i++) {
        minted_key(key, i);
        CHECK(weft__log_author(log, key, 1) == i);
    }
    CHECK(sorted_view_ok(log));
    uint64_t first = weft__log_sort_work(log);
    CHECK(first <= 2ull * n * 12); /* n log2 n = 49 k */
    /* Each HELLO after one more minted author: a merge, not a re-sort. */
    for (uint32_t i = 0; i < 64; i++) {
        uint64_t before = weft__log_sort_work(log);
        minted_key(key, n + i);
        CHECK(weft__log_author(log, key, 1) == n + i);
        CHECK(sorted_view_ok(log));
        CHECK(weft__log_sort_work(log) - before <= (uint64_t)n + i + 2);
    }
    weft_log_free(log);
}

/* One author's changes that wait on something that never comes cannot
 * take the whole pending pool: another author can still park. */
static void pending_share_per_author(void) {
    setup();
    rec a[9], b[3];
    chain(a, 9, A);
    chain(b, 3, B);
    weft_log *log; /* the default share, a quarter: two of A's records */
    weft_log_config cfg = {.space = SPACE, .keep_records = 1, .max_pending_bytes = 8 * a[8].len};
    CHECK_OK(weft_log_new(&log, &cfg));
    CHECK_OK(add(log, &a[2]));
    CHECK_OK(add(log, &a[3]));
    CHECK_RC(add(log, &a[4]), WEFT_EPENDING_FULL);
    CHECK_OK(add(log, &b[2]));
    CHECK_OK(add(log, &b[1]));
    CHECK(weft_log_pending_count(log) == 4);
    CHECK_OK(add(log, &a[0]));
    CHECK_OK(add(log, &a[1])); /* releases a[2], a[3]: A's share is free again */
    CHECK(weft_log_seq(log, A) == 4 && weft_log_pending_count(log) == 2);
    CHECK_OK(add(log, &a[5]));
    CHECK_OK(add(log, &a[4]));
    CHECK(weft_log_seq(log, A) == 6);
    weft_log_free(log);
}

/* A parked change lives between one and two expiry periods; dropping it
 * frees its space and leaves no trace in the wait queues, even when its
 * slot is reused by a change waiting on the same missing piece. */
static void parked_changes_expire(void) {
    setup();
    rec a[3], b[2];
    chain(a, 3, A);
    const uint8_t *deps[] = {A};
    uint64_t seqs[] = {1};
    b[0] = make(SPACE, B, 1, 5, 1, NULL, 1, deps, seqs, 1000);
    weft_log *log = new_log(0);
    CHECK(weft_log_expire_parked(NULL) == 0);
    CHECK_OK(add(log, &b[0])); /* waits on A1 */
    CHECK_OK(add(log, &a[2])); /* waits on A2 */
    CHECK(weft_log_expire_parked(log) == 0);
    CHECK(weft_log_pending_count(log) == 2);
    CHECK(weft_log_expire_parked(log) == 2);
    CHECK(weft_log_pending_count(log) == 0);
    /* Parked again (slots reused), then released exactly once each. */
    CHECK_OK(add(log, &a[2]));
    CHECK_OK(add(log, &a[0]));
    CHECK(weft_log_seq(log, B) == 0 && weft_log_seq(log, A) == 1);
    CHECK_OK(add(log, &b[0]));
    CHECK(weft_log_seq(log, B) == 1);
    CHECK_OK(add(log, &a[1]));
    CHECK(weft_log_seq(log, A) == 3 && weft_log_pending_count(log) == 0);
    CHECK(weft_log_count(log) == 4);
    /* A change parked after the last expiry survives the next one. */
    rec c[3];
    uint8_t C[32];
    fill_key(C, 0xc0);
    chain(c, 3, C);
    CHECK_OK(add(log, &c[2]));
    CHECK(weft_log_expire_parked(log) == 0);
    CHECK_OK(add(log, &c[1]));
    CHECK(weft_log_expire_parked(log) == 1); /* c[2]; c[1] is younger */
    CHECK_OK(add(log, &c[0]));
    CHECK(weft_log_seq(log, C) == 2 && weft_log_pending_count(log) == 0);
    weft_log_free(log);
}

/* The reference vectors of SipHash-2-4 (key 00..0f, messages 00..n-1)
 * check the one SipHash the log keys its author table with (1-3). */
static void siphash_vectors(void) {
    uint8_t key[16], msg[16];
    for (int i = 0; i < 16; i++)
        key[i] = msg[i] = (uint8_t)i;
    CHECK(weft__siphash(key, msg, 0, 2, 4) == 0x726fdb47dd0e0e31ULL);
    CHECK(weft__siphash(key, msg, 8, 2, 4) == 0x93f5f5799a932462ULL);
    CHECK(weft__siphash(key, msg, 15, 2, 4) == 0xa129ca6149be45e5ULL);
    /* A keyed log finds its authors as an unkeyed one does. */
    setup();
    rec r[3];
    chain(r, 3, A);
    weft_log *log;
    weft_log_config cfg = {.space = SPACE, .keep_records = 1, .hash_key = key};
    CHECK_OK(weft_log_new(&log, &cfg));
    CHECK_OK(add(log, &r[2]));
    CHECK_OK(add(log, &r[0]));
    CHECK_OK(add(log, &r[1]));
    CHECK(weft_log_seq(log, A) == 3 && weft_log_pending_count(log) == 0);
    weft_log_free(log);
}

RUN_TESTS(T(in_any_order), T(duplicates_and_forks), T(broken_chains_and_clocks), T(waits_for_deps),
          T(pending_limit), T(vectors_and_diffs), T(decoder_rejects), T(sorting_authors_scales),
          T(pending_share_per_author), T(parked_changes_expire), T(siphash_vectors))
