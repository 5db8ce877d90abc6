/*
 * fuzz_apply: merging untrusted change records (weft_replica_apply) into a
 * replica that already holds a history (fuzz_preload: two authors, four
 * PLAIN changes).
 *
 * Any input: no crash, and the result adds up (rc is the first rejection,
 * change count grows by `applied`, nothing past the input is read). Bad
 * input loses nothing: a call that merged no change leaves the state hash
 * unchanged, and the preloaded history is always still held. A call that
 * succeeded is idempotent: applying the same bytes again merges nothing and
 * changes nothing. Applying the records one call each must end in the same
 * state as one call for all of them. Whatever was merged, a snapshot of the
 * result loads into a fresh replica with the same state hash. Reading the
 * input's ops first (weft_replica_change_ops) changes nothing, and a
 * refused record reports no op.
 */
#include "fuzz_common.h"

static fuzz_buf preload; /* the records of fuzz_preload, built once */

static void setup(void) {
    if (preload.len) return;
    weft_replica *a, *b;
    fuzz_preload(&a, &b, &preload);
    weft_replica_free(a);
    weft_replica_free(b);
}

static weft_replica *preloaded(void) {
    weft_replica *r = fuzz_replica(FUZZ_TARGET_AUTHOR);
    FUZZ_ASSERT(weft_replica_apply(r, preload.p, preload.len, NULL) == 0);
    FUZZ_ASSERT(weft_replica_change_count(r) == 4);
    return r;
}

/* The preloaded heads are still held: both authors at seq 2 or more. */
static void check_history(weft_replica *r) {
    const uint8_t *vv, *author;
    size_t len, pos = 0;
    uint64_t seq;
    int seen = 0;
    FUZZ_ASSERT(weft_replica_vv(r, &vv, &len) == 0);
    while (weft_vv_next(vv, len, &pos, &author, &seq)) {
        if (author[0] == FUZZ_PRELOAD_A || author[0] == FUZZ_PRELOAD_B) {
            uint8_t key[32];
            fuzz_key(key, author[0]);
            if (memcmp(author, key, 32) == 0 && seq >= 2) seen++;
        }
    }
    FUZZ_ASSERT(seen == 2);
}

/* weft_replica_change_ops's callback: counts ops, checks what it is given. */
static void count_op(void *ud, int code, const char *coll, size_t cl, const char *doc, size_t dl,
                     const char *field, size_t fl) {
    FUZZ_ASSERT(code >= 1 && code <= 6 && coll && cl > 0 && doc && field);
    FUZZ_ASSERT((code == 2) == (fl == 0));
    (void)dl;
    ++*(size_t *)ud;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    setup();
    weft_replica *r = preloaded();
    uint8_t h0[32], h1[32], h2[32];
    fuzz_hash(r, h0);
    uint64_t count0 = weft_replica_change_count(r);

    /* Reading what a record does (history views) merges nothing. */
    size_t n_ops = 0;
    if (weft_replica_change_ops(r, data, size, count_op, &n_ops)) FUZZ_ASSERT(n_ops == 0);
    fuzz_hash(r, h1);
    FUZZ_ASSERT(memcmp(h0, h1, 32) == 0 && weft_replica_change_count(r) == count0);

    weft_apply_result res;
    int rc = weft_replica_apply(r, data, size, &res);
    fuzz_hash(r, h1);
    FUZZ_ASSERT(rc == res.first_error && rc <= 0);
    FUZZ_ASSERT((rc != 0) == (res.rejected != 0));
    FUZZ_ASSERT(res.consumed <= size);
    FUZZ_ASSERT(weft_replica_change_count(r) == count0 + res.applied);
    if (res.applied == 0) FUZZ_ASSERT(memcmp(h0, h1, 32) == 0);
    check_history(r);

    if (rc == 0) {
        FUZZ_ASSERT(res.consumed == size);
        size_t pending = weft_replica_pending_count(r);
        uint64_t count1 = weft_replica_change_count(r);
        weft_apply_result again;
        FUZZ_ASSERT(weft_replica_apply(r, data, size, &again) == 0);
        FUZZ_ASSERT(again.applied == 0 && again.rejected == 0);
        fuzz_hash(r, h2);
        FUZZ_ASSERT(memcmp(h1, h2, 32) == 0);
        FUZZ_ASSERT(weft_replica_change_count(r) == count1 &&
                    weft_replica_pending_count(r) == pending);
    }

    /* One record per call: same end state, and a call that merges
     * nothing (a rejected, parked or duplicate record) changes nothing. */
    weft_replica *q = preloaded();
    size_t off = 0;
    while (off < size) {
        weft_change c;
        size_t n = size - off;
        if (weft_change_decode(&c, data + off, n) == 0) n = c.total_len;
        uint8_t before[32], after[32];
        fuzz_hash(q, before);
        weft_apply_result one;
        weft_replica_apply(q, data + off, n, &one);
        fuzz_hash(q, after);
        if (one.applied == 0) FUZZ_ASSERT(memcmp(before, after, 32) == 0);
        off += n;
    }
    fuzz_hash(q, h2);
    FUZZ_ASSERT(memcmp(h1, h2, 32) == 0);
    FUZZ_ASSERT(weft_replica_change_count(q) == weft_replica_change_count(r));
    weft_replica_free(q);

    /* Whatever state the input built, it survives a snapshot. */
    const uint8_t *snap;
    size_t snap_len;
    FUZZ_ASSERT(weft_replica_snapshot(r, &snap, &snap_len) == 0);
    weft_replica *s = fuzz_replica(FUZZ_TARGET_AUTHOR);
    int lrc = weft_replica_load_snapshot(s, snap, snap_len);
    if (lrc) fprintf(stderr, "loading the snapshot of a merged state: %s\n", weft_err_name(lrc));
    FUZZ_ASSERT(lrc == 0);
    fuzz_hash(s, h2);
    FUZZ_ASSERT(memcmp(h1, h2, 32) == 0);
    weft_replica_free(s);
    weft_replica_free(r);
    return 0;
}
