/* The change record decoder and the log: chains, dedupe, forks, causal
 * buffering, limits, version vectors and diffs. Records are built by hand
 * here, so every field can be set to a wrong value on purpose. */
#include "check.h"

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

static weft_log *new_log(size_t max_pending) {
    weft_log *log;
    weft_log_config cfg = {NULL, SPACE, 1, max_pending};
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

RUN_TESTS(T(in_any_order), T(duplicates_and_forks), T(broken_chains_and_clocks), T(waits_for_deps),
          T(pending_limit), T(vectors_and_diffs), T(decoder_rejects))
