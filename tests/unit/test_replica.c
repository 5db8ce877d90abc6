/* Replica semantics: the merge rules, reads, notifications, bad input,
 * allocation failure, and the crypto seam. */
#include "check.h"
#include "weft/level.h"

#include <inttypes.h>

static uint8_t SPACE[32], KA[32], KB[32];

static void setup(void) {
    fill_key(SPACE, 0x11);
    fill_key(KA, 0xa0);
    fill_key(KB, 0xb0); /* B's key sorts after A's: B wins ties of Lamport */
}

typedef struct seen_docs {
    int n;
    char last[16];
} seen_docs;

static void on_touched(void *ud, const char *coll, size_t cl, const char *doc, size_t dl) {
    seen_docs *s = ud;
    s->n++;
    snprintf(s->last, sizeof s->last, "%.*s/%.*s", (int)cl, coll, (int)dl, doc);
}

static void change_callback(void) {
    setup();
    seen_docs seen = {0, ""};
    weft_replica_config cfg = {
        .space = SPACE, .author = KB, .keep_records = 1, .on_touched = on_touched, .ud = &seen};
    weft_replica *b, *a = new_replica(SPACE, KA);
    CHECK_OK(weft_replica_new(&b, &cfg));
    CHECK_OK(put_int(a, "c", "x", "f", 1));
    CHECK_OK(put_int(a, "c", "x", "g", 1));
    CHECK_OK(put_int(a, "c", "y", "f", 1));
    uint8_t *r;
    size_t l = commit_copy(a, &r);
    CHECK_OK(weft_replica_apply(b, r, l, NULL));
    CHECK(seen.n == 2 && strcmp(seen.last, "c/y") == 0); /* each document once */
    CHECK_OK(weft_replica_apply(b, r, l, NULL));         /* a duplicate touches nothing */
    CHECK(seen.n == 2);
    free(r);
    CHECK_OK(weft_replica_delete_doc(b, "c", 1, "x", 1));
    commit_copy(b, &r);
    CHECK(seen.n == 3 && strcmp(seen.last, "c/x") == 0);
    free(r);
    weft_replica_free(a);
    weft_replica_free(b);
}

static void put_get_commit(void) {
    setup();
    weft_replica *a = new_replica(SPACE, KA);
    CHECK_OK(put_int(a, "todos", "t1", "n", 5));
    CHECK_OK(put_str(a, "todos", "t1", "title", "milk"));
    CHECK(weft_replica_txn_ops(a) == 2);
    CHECK(get_int(a, "todos", "t1", "n") == INT64_MIN); /* not committed yet */
    uint8_t *rec;
    size_t len = commit_copy(a, &rec);
    weft_change c;
    CHECK_OK(weft_change_decode(&c, rec, len));
    CHECK(c.seq == 1 && c.lamport == 1 && c.n_ids == 2 && c.n_deps == 0 &&
          c.wall_ms == 1700000000000ULL);
    CHECK(get_int(a, "todos", "t1", "n") == 5);
    CHECK(weft_replica_touched_count(a) == 1);
    const char *coll, *doc;
    size_t cl, dl;
    CHECK_OK(weft_replica_touched(a, 0, &coll, &cl, &doc, &dl));
    CHECK(cl == 5 && memcmp(coll, "todos", 5) == 0 && dl == 2 && memcmp(doc, "t1", 2) == 0);
    /* Another replica gets the same state from the record. */
    weft_replica *b = new_replica(SPACE, KB);
    weft_apply_result res;
    CHECK_OK(weft_replica_apply(b, rec, len, &res));
    CHECK(res.applied == 1 && res.consumed == len);
    CHECK(get_int(b, "todos", "t1", "n") == 5 && same_hash(a, b));
    CHECK_OK(weft_replica_apply(b, rec, len, &res));
    CHECK(res.duplicates == 1 && res.applied == 0);
    free(rec);
    weft_replica_free(a);
    weft_replica_free(b);
}

static void last_writer_wins(void) {
    setup();
    weft_replica *a = new_replica(SPACE, KA), *b = new_replica(SPACE, KB);
    uint8_t *r1, *r2;
    CHECK_OK(put_int(a, "c", "d", "f", 1));
    size_t l1 = commit_copy(a, &r1);
    CHECK_OK(put_int(b, "c", "d", "f", 2)); /* concurrent, same Lamport: B's key wins */
    size_t l2 = commit_copy(b, &r2);
    CHECK_OK(weft_replica_apply(a, r2, l2, NULL));
    CHECK_OK(weft_replica_apply(b, r1, l1, NULL));
    CHECK(get_int(a, "c", "d", "f") == 2 && get_int(b, "c", "d", "f") == 2 && same_hash(a, b));
    free(r1);
    free(r2);
    /* A write that saw B's wins, though A's key is smaller. */
    CHECK_OK(put_int(a, "c", "d", "f", 3));
    l1 = commit_copy(a, &r1);
    CHECK_OK(weft_replica_apply(b, r1, l1, NULL));
    CHECK(get_int(b, "c", "d", "f") == 3);
    weft_change c;
    CHECK_OK(weft_change_decode(&c, r1, l1));
    CHECK(c.n_deps == 1 && c.lamport == 2); /* names B's change as a dependency */
    free(r1);
    weft_replica_free(a);
    weft_replica_free(b);
}

static void deletes(void) {
    setup();
    weft_replica *a = new_replica(SPACE, KA), *b = new_replica(SPACE, KB);
    CHECK_OK(put_int(a, "c", "d", "x", 1));
    CHECK_OK(put_int(a, "c", "d", "y", 2));
    uint8_t *r;
    size_t l = commit_copy(a, &r);
    CHECK_OK(weft_replica_apply(b, r, l, NULL));
    free(r);
    /* B deletes the document while A, concurrently, sets x again. */
    CHECK_OK(weft_replica_delete_doc(b, "c", 1, "d", 1));
    uint8_t *rb;
    size_t lb = commit_copy(b, &rb);
    CHECK_OK(put_int(a, "c", "d", "x", 10));
    uint8_t *ra;
    size_t la = commit_copy(a, &ra);
    CHECK_OK(weft_replica_apply(a, rb, lb, NULL));
    CHECK_OK(weft_replica_apply(b, ra, la, NULL));
    /* Both at Lamport 3: B's delete wins by key, so x is gone too. */
    CHECK(get_int(a, "c", "d", "x") == INT64_MIN && get_int(a, "c", "d", "y") == INT64_MIN);
    const uint8_t *v;
    size_t vl;
    CHECK_RC(weft_replica_get_doc(a, "c", 1, "d", 1, &v, &vl), WEFT_ENOTFOUND);
    CHECK(same_hash(a, b));
    free(ra);
    free(rb);
    /* A put after the delete brings the document back with that field only. */
    CHECK_OK(put_int(a, "c", "d", "z", 7));
    CHECK_OK(weft_replica_delete_field(a, "c", 1, "d", 1, "z", 1));
    CHECK_OK(put_int(a, "c", "d", "w", 8));
    la = commit_copy(a, &ra);
    CHECK(get_int(a, "c", "d", "w") == 8 && get_int(a, "c", "d", "z") == INT64_MIN);
    CHECK_OK(weft_replica_get_doc(a, "c", 1, "d", 1, &v, &vl));
    uint8_t want[] = {0x08, 0x01, 0x01, 'w', 0x03, 16};
    CHECK(vl == sizeof want && memcmp(v, want, vl) == 0);
    free(ra);
    weft_replica_free(a);
    weft_replica_free(b);
}

static void counters(void) {
    setup();
    weft_replica *a = new_replica(SPACE, KA), *b = new_replica(SPACE, KB);
    CHECK_OK(weft_replica_counter_add(a, "c", 1, "d", 1, "n", 1, 5));
    uint8_t *r;
    size_t l = commit_copy(a, &r);
    CHECK_OK(weft_replica_apply(b, r, l, NULL));
    free(r);
    /* Concurrent adds both count. */
    CHECK_OK(weft_replica_counter_add(a, "c", 1, "d", 1, "n", 1, 2));
    uint8_t *ra, *rb;
    size_t la = commit_copy(a, &ra);
    CHECK_OK(weft_replica_counter_add(b, "c", 1, "d", 1, "n", 1, -10));
    size_t lb = commit_copy(b, &rb);
    CHECK_OK(weft_replica_apply(a, rb, lb, NULL));
    CHECK_OK(weft_replica_apply(b, ra, la, NULL));
    CHECK(get_int(a, "c", "d", "n") == -3 && get_int(b, "c", "d", "n") == -3);
    free(ra);
    free(rb);
    /* A put resets; an add concurrent with the reset is dropped with the
     * counter it targeted, an add after it counts on the new base. */
    CHECK_OK(put_int(a, "c", "d", "n", 100));
    la = commit_copy(a, &ra);
    CHECK_OK(weft_replica_counter_add(b, "c", 1, "d", 1, "n", 1, 1));
    lb = commit_copy(b, &rb);
    CHECK_OK(weft_replica_apply(a, rb, lb, NULL));
    CHECK_OK(weft_replica_apply(b, ra, la, NULL));
    CHECK(get_int(a, "c", "d", "n") == 100 && same_hash(a, b));
    free(ra);
    free(rb);
    CHECK_OK(weft_replica_counter_add(b, "c", 1, "d", 1, "n", 1, 1));
    CHECK_OK(weft_replica_counter_add(b, "c", 1, "d", 1, "n", 1, 1));
    lb = commit_copy(b, &rb);
    CHECK_OK(weft_replica_apply(a, rb, lb, NULL));
    CHECK(get_int(a, "c", "d", "n") == 102);
    free(rb);
    /* Within one transaction, an add after a put counts on that put. */
    CHECK_OK(put_int(a, "c", "d", "m", 10));
    CHECK_OK(weft_replica_counter_add(a, "c", 1, "d", 1, "m", 1, 5));
    CHECK_OK(weft_replica_delete_doc(a, "c", 1, "e", 1));
    CHECK_OK(weft_replica_counter_add(a, "c", 1, "e", 1, "m", 1, 4));
    la = commit_copy(a, &ra);
    CHECK(get_int(a, "c", "d", "m") == 15 && get_int(a, "c", "e", "m") == 4);
    CHECK_OK(weft_replica_apply(b, ra, la, NULL));
    CHECK(same_hash(a, b));
    free(ra);
    weft_replica_free(a);
    weft_replica_free(b);
}

static void iteration_in_key_order(void) {
    setup();
    weft_replica *a = new_replica(SPACE, KA);
    const char *keys[] = {"m", "b", "zz", "a", "k"};
    for (int i = 0; i < 5; i++)
        CHECK_OK(put_int(a, "c", keys[i], "v", i));
    CHECK_OK(put_int(a, "other", "x", "v", 1));
    uint8_t *r;
    free((commit_copy(a, &r), r));
    CHECK_OK(weft_replica_delete_doc(a, "c", 1, "k", 1));
    free((commit_copy(a, &r), r));
    const char *want[] = {"a", "b", "m", "zz"};
    const char *key = NULL;
    size_t kl = 0;
    int n = 0;
    while (weft_replica_next_doc(a, "c", 1, key, kl, &key, &kl) == 0) {
        CHECK(n < 4 && kl == strlen(want[n]) && memcmp(key, want[n], kl) == 0);
        n++;
    }
    CHECK(n == 4);
    CHECK_RC(weft_replica_next_doc(a, "nope", 4, NULL, 0, &key, &kl), WEFT_ENOTFOUND);
    CHECK_RC(weft_replica_next_doc(a, "v", 1, NULL, 0, &key, &kl), WEFT_ENOTFOUND);
    /* Collections in the order first seen; then WEFT_ENOTFOUND. */
    CHECK_OK(weft_replica_collection(a, 0, &key, &kl));
    CHECK(kl == 1 && memcmp(key, "c", 1) == 0);
    CHECK_OK(weft_replica_collection(a, 1, &key, &kl));
    CHECK(kl == 5 && memcmp(key, "other", 5) == 0);
    CHECK_RC(weft_replica_collection(a, 2, &key, &kl), WEFT_ENOTFOUND);
    CHECK_RC(weft_replica_collection(NULL, 0, &key, &kl), WEFT_EINVAL);
    weft_replica_free(a);
}

static void bad_input(void) {
    setup();
    weft_replica *a = new_replica(SPACE, KA);
    uint8_t v[] = {0x03, 0x02}, bad[] = {0x03, 0x80};
    char long_name[300];
    memset(long_name, 'x', sizeof long_name);
    CHECK_RC(weft_replica_put(a, "", 0, "d", 1, "f", 1, v, 2), WEFT_EINVAL);
    CHECK_RC(weft_replica_put(a, long_name, 256, "d", 1, "f", 1, v, 2), WEFT_EINVAL);
    CHECK_OK(weft_replica_put(a, long_name, 255, "d", 1, "f", 1, v, 2));
    CHECK_RC(weft_replica_put(a, "c", 1, "\xff", 1, "f", 1, v, 2), WEFT_EINVAL);
    CHECK_RC(weft_replica_put(a, "c", 1, "d", 1, "f", 1, bad, 2), WEFT_EINVAL);
    CHECK_RC(weft_replica_put(a, "c", 1, "d", 1, NULL, 0, v, 2), WEFT_EINVAL);
    CHECK(weft_replica_txn_ops(a) == 1);
    uint8_t rec[8] = {WEFT_FORMAT_VERSION, WEFT_RECORD_CHANGE, WEFT_SUITE_PLAIN};
    CHECK_RC(weft_replica_apply(a, rec, sizeof rec, NULL), WEFT_ESTATE); /* txn open */
    weft_replica_rollback(a);
    const uint8_t *out;
    size_t len;
    CHECK_RC(weft_replica_commit(a, 0, &out, &len), WEFT_ESTATE);
    /* A rejected op leaves nothing behind: its collection name is not in
     * the next change. */
    CHECK_RC(weft_replica_put(a, "junk", 4, "d", 1, "", 0, v, 2), WEFT_EINVAL);
    CHECK_OK(weft_replica_put(a, "c", 1, "d", 1, "f", 1, v, 2));
    CHECK_OK(weft_replica_commit(a, 0, &out, &len));
    for (size_t i = 0; i + 4 <= len; i++)
        CHECK(memcmp(out + i, "junk", 4) != 0);
    weft_apply_result res;
    CHECK_RC(weft_replica_apply(a, rec, sizeof rec, &res), WEFT_ETRUNCATED);
    CHECK(res.rejected == 1 && res.consumed == 0);
    weft_replica_config cfg = {.author = KA};
    weft_replica *none;
    CHECK_RC(weft_replica_new(&none, &cfg), WEFT_EINVAL);
    weft_replica_free(NULL);
    weft_replica_free(a);
}

/* A change whose body lies is refused whole: nothing of it is applied. */
static void bad_body_is_refused_whole(void) {
    setup();
    weft_replica *a = new_replica(SPACE, KA), *b = new_replica(SPACE, KB);
    CHECK_OK(put_int(a, "c", "d", "f", 1));
    CHECK_OK(put_int(a, "c", "e", "f", 2));
    uint8_t *r;
    size_t l = commit_copy(a, &r);
    r[l - 1] ^= 0x80; /* the last op's value: no longer a valid varint */
    weft_apply_result res;
    CHECK(weft_replica_apply(b, r, l, &res) < 0);
    CHECK(res.rejected == 1 && res.applied == 0);
    CHECK(get_int(b, "c", "d", "f") == INT64_MIN && weft_replica_change_count(b) == 0);
    free(r);
    weft_replica_free(a);
    weft_replica_free(b);
}

/* ---- allocation failure ---- */

typedef struct budget {
    long left; /* allocations allowed before failing; < 0: unlimited */
    long live;
} budget;

static void *budget_realloc(void *ud, void *p, size_t n) {
    budget *bg = ud;
    if (n == 0) {
        if (p) bg->live--;
        free(p);
        return NULL;
    }
    if (bg->left == 0) return NULL;
    if (bg->left > 0) bg->left--;
    void *q = realloc(p, n);
    if (q && !p) bg->live++;
    return q;
}

static void survives_allocation_failure(void) {
    setup();
    /* A record to apply, made by an unconstrained replica. */
    weft_replica *src = new_replica(SPACE, KB);
    for (int i = 0; i < 20; i++) {
        char doc[8];
        snprintf(doc, sizeof doc, "d%d", i);
        CHECK_OK(put_int(src, "c", doc, "f", i));
    }
    uint8_t *rec;
    size_t rlen = commit_copy(src, &rec);
    int completed = 0;
    for (long limit = 0; limit < 400 && !completed; limit++) {
        budget bg = {limit, 0};
        weft_allocator al = {budget_realloc, &bg};
        weft_replica_config cfg = {.alloc = &al, .space = SPACE, .author = KA, .keep_records = 1};
        weft_replica *r = NULL;
        if (weft_replica_new(&r, &cfg) == 0) {
            int rc = weft_replica_apply(r, rec, rlen, NULL);
            if (rc == 0) rc = put_int(r, "c", "x", "f", 1);
            const uint8_t *out;
            size_t olen;
            if (rc == 0) rc = weft_replica_commit(r, 0, &out, &olen);
            uint8_t h[32];
            if (rc == 0) rc = weft_state_hash(r, h);
            CHECK(rc == 0 || rc == WEFT_ENOMEM);
            completed = rc == 0;
            weft_replica_free(r);
        }
        CHECK(bg.live == 0); /* nothing leaks on any failure path */
    }
    CHECK(completed);
    free(rec);
    weft_replica_free(src);
}

/* ---- the crypto seam, with a toy suite (not cryptography) ---- */

static int toy_seal(void *ctx, uint8_t *dst, const uint8_t *pt, size_t n, const uint8_t *ad,
                    size_t ad_len) {
    (void)ctx;
    uint8_t mac[16];
    for (size_t i = 0; i < n; i++)
        dst[i] = pt[i] ^ 0x5a;
    weft_blake2b_state s;
    weft_blake2b_init(&s, 16, NULL, 0);
    weft_blake2b_update(&s, ad, ad_len);
    weft_blake2b_update(&s, dst, n);
    weft_blake2b_final(&s, mac);
    memcpy(dst + n, mac, 16);
    return 0;
}

static int toy_open(void *ctx, uint8_t *dst, const uint8_t *ct, size_t n, const uint8_t *ad,
                    size_t ad_len) {
    (void)ctx;
    uint8_t mac[16];
    weft_blake2b_state s;
    weft_blake2b_init(&s, 16, NULL, 0);
    weft_blake2b_update(&s, ad, ad_len);
    weft_blake2b_update(&s, ct, n - 16);
    weft_blake2b_final(&s, mac);
    if (memcmp(mac, ct + n - 16, 16)) return WEFT_ECRYPTO;
    for (size_t i = 0; i < n - 16; i++)
        dst[i] = ct[i] ^ 0x5a;
    return 0;
}

static int toy_sign_with(const uint8_t *key, uint8_t *sig, const uint8_t *msg, size_t len) {
    weft_blake2b_state s;
    weft_blake2b_init(&s, 64, key, 32);
    weft_blake2b_update(&s, msg, len);
    weft_blake2b_final(&s, sig);
    return 0;
}

static int toy_sign(void *ctx, uint8_t *sig, const uint8_t *msg, size_t len) {
    return toy_sign_with(ctx, sig, msg, len);
}

static int no_sign(void *ctx, uint8_t *sig, const uint8_t *msg, size_t len) {
    (void)ctx, (void)sig, (void)msg, (void)len;
    return WEFT_ECRYPTO;
}

static int toy_verify(void *ctx, const uint8_t *key, const uint8_t *sig, const uint8_t *msg,
                      size_t len) {
    (void)ctx;
    uint8_t want[64];
    toy_sign_with(key, want, msg, len);
    return memcmp(want, sig, 64) ? WEFT_ECRYPTO : 0;
}

static void crypto_seam(void) {
    setup();
    weft_crypto ca = {WEFT_SUITE_V1, 16, toy_seal, toy_open, toy_sign, toy_verify, KA};
    weft_crypto cb = {WEFT_SUITE_V1, 16, toy_seal, toy_open, toy_sign, toy_verify, KB};
    weft_replica_config cfa = {.space = SPACE, .author = KA, .crypto = &ca, .keep_records = 1};
    weft_replica_config cfb = {.space = SPACE, .author = KB, .crypto = &cb, .keep_records = 1};
    weft_replica *a, *b;
    CHECK_OK(weft_replica_new(&a, &cfa));
    CHECK_OK(weft_replica_new(&b, &cfb));
    CHECK_OK(put_str(a, "notes", "n1", "body", "secret words"));
    uint8_t *r;
    size_t l = commit_copy(a, &r);
    weft_change c;
    CHECK_OK(weft_change_decode(&c, r, l));
    CHECK(c.suite == WEFT_SUITE_V1 && c.sig_len == 64 && c.total_len == l);
    for (size_t i = 0; i + 6 <= l; i++)
        CHECK(memcmp(r + i, "secret", 6) != 0); /* sealed */
    /* A flipped bit anywhere is refused: header, body or signature. */
    size_t spots[] = {10, c.header_len - 1, c.signed_len - 3, l - 1};
    for (size_t k = 0; k < 4; k++) {
        r[spots[k]] ^= 1;
        weft_apply_result res;
        int rc = weft_replica_apply(b, r, l, &res);
        CHECK(rc < 0 && res.applied == 0);
        r[spots[k]] ^= 1;
    }
    CHECK_OK(weft_replica_apply(b, r, l, NULL));
    CHECK(same_hash(a, b));
    /* A reader (its table cannot sign) refuses a text edit before the text
     * changes: nothing local that no change carries. */
    weft_crypto cr = {WEFT_SUITE_V1, 16, toy_seal, toy_open, no_sign, toy_verify, KB};
    weft_replica_config cfr = {.space = SPACE, .author = KB, .crypto = &cr, .keep_records = 1};
    weft_replica *reader;
    CHECK_OK(weft_replica_new(&reader, &cfr));
    CHECK_OK(weft_replica_apply(reader, r, l, NULL));
    const uint8_t *out;
    size_t ol;
    CHECK_RC(weft_replica_text_splice(reader, "notes", 5, "n1", 2, "body", 4, 0, 0, "x", 1, 0, &out,
                                      &ol),
             WEFT_ECRYPTO);
    CHECK(same_hash(a, reader) && weft_replica_txn_ops(reader) == 0);
    weft_replica_free(reader);
    /* A replica of the PLAIN suite refuses V1 changes (and vice versa). */
    weft_replica *plain = new_replica(SPACE, KB);
    CHECK_RC(weft_replica_apply(plain, r, l, NULL), WEFT_ESUITE);
    free(r);
    weft_replica_free(plain);
    weft_replica_free(a);
    weft_replica_free(b);
}

/* The record without its deps: what a member who hides its causal past
 * sends (PLAIN suite, so nothing signed breaks; fewer than 128 deps). */
static size_t strip_deps(uint8_t *rec, size_t len) {
    weft_change c;
    if (weft_change_decode(&c, rec, len) || c.n_deps == 0 || c.n_deps > 127) abort();
    size_t at = (size_t)(c.deps - rec), rest = len - at - c.deps_len;
    rec[at - 1] = 0; /* n_deps */
    memmove(rec + at, rec + at + c.deps_len, rest);
    return at + rest;
}

typedef struct rec {
    uint8_t *p;
    size_t len;
} rec;

/* Applies recs[order[i]] in turn to a fresh replica; with snap_at >= 0,
 * snapshots after that many records and goes on in a replica loaded from
 * the snapshot (unless changes are pending then: a snapshot holds applied
 * state only, pending changes come again through sync). */
static weft_replica *replay(const rec *recs, const int *order, int n, int snap_at) {
    weft_replica *r = new_replica(SPACE, KA);
    for (int i = 0; i < n; i++) {
        if (i == snap_at && weft_replica_pending_count(r) == 0) {
            const uint8_t *snap;
            size_t len;
            CHECK_OK(weft_replica_snapshot(r, &snap, &len));
            weft_replica *l = new_replica(SPACE, KA);
            CHECK_OK(weft_replica_load_snapshot(l, snap, len));
            weft_replica_free(r);
            r = l;
        }
        CHECK_OK(weft_replica_apply(r, recs[order[i]].p, recs[order[i]].len, NULL));
    }
    CHECK(weft_replica_pending_count(r) == 0);
    return r;
}

/* Replays the records in several orders, each with a snapshot at every
 * point (replay): each result must pass ok() and all must have one state
 * hash. */
static void every_order(const rec *r, int n, int variant, int (*ok)(weft_replica *, const void *),
                        const void *want) {
    static const int orders[][4] = {{0, 1, 2, 3}, {0, 2, 1, 3}, {2, 0, 1, 3}, {0, 2, 3, 1},
                                    {2, 3, 0, 1}, {3, 2, 1, 0}, {1, 2, 3, 0}};
    weft_replica *first = NULL;
    for (size_t o = 0; o < sizeof orders / sizeof orders[0]; o++) {
        int order[4], k = 0;
        for (int i = 0; i < 4; i++)
            if (orders[o][i] < n) order[k++] = orders[o][i];
        for (int snap_at = -1; snap_at < n; snap_at++) {
            weft_replica *x = replay(r, order, n, snap_at);
            if (!ok(x, want)) {
                fprintf(stderr, "variant %d order %zu snapshot at %d\n", variant, o, snap_at);
                check_failures++;
            }
            if (!first) {
                first = x;
            } else {
                CHECK(same_hash(first, x));
                weft_replica_free(x);
            }
        }
    }
    weft_replica_free(first);
}

static int counter_is(weft_replica *x, const void *want) {
    return get_int(x, "c", "d", "n") == *(const int64_t *)want;
}

/* A member can omit from its change's deps the write its counter add
 * observed, so the add may arrive first. Every arrival order, with or
 * without a snapshot in between, must give the same state: the add waits,
 * and counts iff the write it observed ends up winning. */
static void add_before_observed_write(void) {
    setup();
    uint8_t KC[32];
    fill_key(KC, 0xc0);
    for (int variant = 0; variant < 3; variant++) {
        /* 0: A puts n=5, H adds 3 -> 8. 1: A deletes the document, H adds
         * 3 -> 3. 2: as 0, then C overwrites n=100 having seen A's put but
         * not H's add: the add observed a losing write -> 100. */
        weft_replica *a = new_replica(SPACE, KA), *h = new_replica(SPACE, KB),
                     *c = new_replica(SPACE, KC);
        rec r[4];
        int n = 0;
        CHECK_OK(put_int(a, "c", "d", "other", 1));
        r[n].len = commit_copy(a, &r[n].p);
        n++;
        if (variant == 1)
            CHECK_OK(weft_replica_delete_doc(a, "c", 1, "d", 1));
        else
            CHECK_OK(put_int(a, "c", "d", "n", 5));
        r[n].len = commit_copy(a, &r[n].p);
        n++;
        CHECK_OK(sync_to(a, h));
        CHECK_OK(weft_replica_counter_add(h, "c", 1, "d", 1, "n", 1, 3));
        r[n].len = commit_copy(h, &r[n].p);
        r[n].len = strip_deps(r[n].p, r[n].len);
        n++;
        int64_t want = variant == 0 ? 8 : 3;
        if (variant == 2) {
            CHECK_OK(sync_to(a, c));
            CHECK_OK(put_int(c, "c", "d", "n", 100));
            r[n].len = commit_copy(c, &r[n].p);
            n++;
            want = 100;
        }
        every_order(r, n, variant, counter_is, &want);
        for (int i = 0; i < n; i++)
            free(r[i].p);
        weft_replica_free(a);
        weft_replica_free(h);
        weft_replica_free(c);
    }
}

/* ---- text fields ---- */

/* The field's visible string into buf ("" + return 0 when absent or not a
 * string). */
static int get_text(weft_replica *r, const char *coll, const char *doc, const char *field,
                    char *buf, size_t cap) {
    const uint8_t *v;
    size_t len;
    weft_value val;
    buf[0] = 0;
    if (weft_replica_get_field(r, coll, strlen(coll), doc, strlen(doc), field, strlen(field), &v,
                               &len) ||
        weft_value_read(&val, NULL, v, len) || val.type != WEFT_TYPE_STRING || val.len >= cap)
        return 0;
    memcpy(buf, val.ptr, val.len);
    buf[val.len] = 0;
    return 1;
}

static int splice(weft_replica *r, const char *doc, size_t pos, size_t del, const char *ins) {
    const uint8_t *out;
    size_t len;
    return weft_replica_text_splice(r, "notes", 5, doc, strlen(doc), "body", 4, pos, del, ins,
                                    strlen(ins), 1700000000000ULL, &out, &len);
}

static int text_eq(weft_replica *r, const char *doc, const char *want) {
    char buf[256];
    return get_text(r, "notes", doc, "body", buf, sizeof buf) && strcmp(buf, want) == 0;
}

static int text_is(weft_replica *r, const char *doc, const char *want) {
    if (text_eq(r, doc, want)) return 1;
    char buf[256];
    get_text(r, "notes", doc, "body", buf, sizeof buf);
    fprintf(stderr, "text of %s is \"%s\", want \"%s\"\n", doc, buf, want);
    return 0;
}

static int note_is(weft_replica *x, const void *want) {
    return text_is(x, "d", want);
}

/* What the text callback saw, replayed on a string. */
typedef struct text_log {
    char text[256];
    int resets, deltas;
} text_log;

static void on_text(void *ud, const char *coll, size_t cl, const char *doc, size_t dl,
                    const char *field, size_t fl, const weft_text_delta *d) {
    (void)coll, (void)cl, (void)doc, (void)dl, (void)field, (void)fl;
    text_log *t = ud;
    if (!d) {
        t->resets++;
        return;
    }
    t->deltas++;
    size_t n = strlen(t->text); /* ASCII in these tests: units are bytes */
    if (d->pos + d->deleted > n || n - d->deleted + d->inserted_len >= sizeof t->text) abort();
    memmove(t->text + d->pos + d->inserted_len, t->text + d->pos + d->deleted,
            n - d->pos - d->deleted + 1);
    if (d->inserted_len) memcpy(t->text + d->pos, d->inserted, d->inserted_len);
}

static void text_edits_merge(void) {
    setup();
    text_log seen = {"", 0, 0};
    weft_replica_config cfg = {
        .space = SPACE, .author = KB, .keep_records = 1, .on_text = on_text, .ud = &seen};
    weft_replica *a = new_replica(SPACE, KA), *b;
    CHECK_OK(weft_replica_new(&b, &cfg));
    CHECK_OK(splice(a, "n1", 0, 0, "hello"));
    CHECK(weft_replica_change_count(a) == 1 && text_is(a, "n1", "hello"));
    size_t len = 0;
    CHECK_OK(weft_replica_text_length(a, "notes", 5, "n1", 2, "body", 4, &len));
    CHECK(len == 5);
    CHECK_OK(sync_to(a, b));
    CHECK(text_is(b, "n1", "hello") && strcmp(seen.text, "hello") == 0);
    /* Concurrent edits at one place: each author's run stays whole. */
    CHECK_OK(splice(a, "n1", 5, 0, " alpha"));
    CHECK_OK(splice(b, "n1", 5, 0, " BRAVO"));
    CHECK_OK(splice(b, "n1", 0, 1, "J")); /* replace the h */
    CHECK_OK(sync_to(a, b));
    CHECK_OK(sync_to(b, a));
    CHECK(same_hash(a, b));
    CHECK(text_eq(a, "n1", "Jello alpha BRAVO") || text_eq(a, "n1", "Jello BRAVO alpha"));
    /* Stable positions: an anchor made on a follows b's edit on both. */
    weft_text_anchor an;
    size_t at = 0;
    CHECK_OK(weft_replica_text_anchor(a, "notes", 5, "n1", 2, "body", 4, 1, 0, &an)); /* "e" */
    CHECK_OK(splice(b, "n1", 0, 1, "Hi, J"));
    CHECK_OK(sync_to(b, a));
    CHECK_OK(weft_replica_text_resolve(a, "notes", 5, "n1", 2, "body", 4, &an, &at));
    CHECK(at == 5);
    CHECK_OK(weft_replica_text_resolve(b, "notes", 5, "n1", 2, "body", 4, &an, &at));
    CHECK(at == 5);
    CHECK_RC(weft_replica_text_resolve(b, "notes", 5, "n9", 2, "body", 4, &an, &at),
             WEFT_ENOTFOUND);
    CHECK_RC(weft_replica_text_anchor(a, "notes", 5, "n1", 2, "body", 4, 99, 0, &an), WEFT_EINVAL);
    /* The callback's splices rebuild what a third replica reads. */
    text_log seen_c = {"", 0, 0};
    uint8_t KC[32];
    fill_key(KC, 0xc0);
    cfg.author = KC;
    cfg.ud = &seen_c;
    weft_replica *c;
    CHECK_OK(weft_replica_new(&c, &cfg));
    CHECK_OK(sync_to(b, c));
    char buf[256];
    get_text(c, "notes", "n1", "body", buf, sizeof buf);
    CHECK(strcmp(seen_c.text, buf) == 0 && seen_c.resets == 0 && seen_c.deltas >= 3);
    CHECK(strcmp(seen.text, "hello alpha") == 0); /* B saw only A's edits */
    weft_replica_free(c);
    /* Nothing to change: no change. */
    const uint8_t *out;
    size_t rl;
    CHECK_OK(
        weft_replica_text_splice(a, "notes", 5, "n1", 2, "body", 4, 3, 0, "", 0, 0, &out, &rl));
    CHECK(rl == 0 && out == NULL);
    /* Deleted text put back before its own tombstone, joining the open change. */
    weft_text_anchor j;
    CHECK_OK(weft_replica_text_anchor(a, "notes", 5, "n1", 2, "body", 4, 4, 0, &j)); /* "J" */
    CHECK_OK(splice(a, "n1", 4, 1, ""));
    CHECK_OK(weft_replica_text_insert_before(a, "notes", 5, "n1", 2, "body", 4, &j, "j", 1, 0, &out,
                                             &rl));
    CHECK(out == NULL && weft_replica_txn_ops(a) > 0);
    uint8_t *sealed;
    free((commit_copy(a, &sealed), sealed));
    CHECK_OK(sync_to(a, b));
    CHECK(same_hash(a, b));
    char got[256];
    get_text(a, "notes", "n1", "body", got, sizeof got);
    CHECK(strncmp(got, "Hi, jello", 9) == 0);
    CHECK_RC(weft_replica_text_insert_before(a, "notes", 5, "n9", 2, "body", 4, &j, "j", 1, 0, &out,
                                             &rl),
             WEFT_ENOTFOUND);
    weft_replica_free(a);
    weft_replica_free(b);
}

/* A write over a text replaces it as a whole (last writer wins between the
 * text and other values); a later edit of a string field makes it a text
 * again, keeping the string. */
static void text_and_writes(void) {
    setup();
    text_log seen = {"", 0, 0};
    weft_replica_config cfg = {
        .space = SPACE, .author = KB, .keep_records = 1, .on_text = on_text, .ud = &seen};
    weft_replica *a = new_replica(SPACE, KA), *b;
    CHECK_OK(weft_replica_new(&b, &cfg));
    CHECK_OK(splice(a, "n1", 0, 0, "draft"));
    CHECK_OK(sync_to(a, b));
    /* B overwrites with a plain string while A, not knowing, edits. */
    CHECK_OK(put_str(b, "notes", "n1", "body", "final"));
    uint8_t *r;
    free((commit_copy(b, &r), r));
    CHECK(seen.resets == 1);
    CHECK_OK(splice(a, "n1", 5, 0, "!"));
    CHECK_OK(sync_to(a, b));
    CHECK_OK(sync_to(b, a));
    CHECK(same_hash(a, b) && text_is(a, "n1", "final") && text_is(b, "n1", "final"));
    /* Editing the string converts it, in the same change. */
    CHECK_OK(splice(a, "n1", 0, 1, "F"));
    CHECK(text_is(a, "n1", "Final"));
    CHECK_OK(sync_to(a, b));
    CHECK(text_is(b, "n1", "Final") && same_hash(a, b));
    /* Both convert the same string at once: one conversion wins whole. */
    CHECK_OK(put_str(a, "notes", "n2", "body", "abc"));
    free((commit_copy(a, &r), r));
    CHECK_OK(sync_to(a, b));
    CHECK_OK(splice(a, "n2", 3, 0, "A"));
    CHECK_OK(splice(b, "n2", 0, 0, "B"));
    CHECK_OK(sync_to(a, b));
    CHECK_OK(sync_to(b, a));
    CHECK(same_hash(a, b) && (text_eq(a, "n2", "abcA") || text_eq(a, "n2", "Babc")));
    /* A document delete drops the text; edits after it start a new one. */
    CHECK_OK(weft_replica_delete_doc(b, "notes", 5, "n1", 2));
    free((commit_copy(b, &r), r));
    CHECK_OK(sync_to(b, a));
    CHECK(!text_eq(a, "n1", "Final"));
    CHECK_OK(splice(a, "n1", 0, 0, "new"));
    CHECK_OK(sync_to(a, b));
    CHECK(text_is(b, "n1", "new") && same_hash(a, b));
    weft_replica_free(a);
    weft_replica_free(b);
}

static void text_bad_input(void) {
    setup();
    weft_replica *a = new_replica(SPACE, KA);
    const uint8_t *out;
    size_t rl;
    CHECK_RC(splice(a, "n1", 1, 0, "x"), WEFT_EINVAL); /* past the end of no text */
    CHECK_RC(splice(a, "n1", 0, 1, ""), WEFT_EINVAL);
    CHECK_OK(splice(a, "n1", 0, 0, "abc"));
    CHECK_RC(splice(a, "n1", 4, 0, "x"), WEFT_EINVAL);
    CHECK_RC(splice(a, "n1", 2, 2, "x"), WEFT_EINVAL);
    CHECK_RC(splice(a, "n1", 0, 0, "\xff"), WEFT_EMALFORMED);
    CHECK_RC(weft_replica_text_splice(a, "notes", 5, "n1", 2, "", 0, 0, 0, "x", 1, 0, &out, &rl),
             WEFT_EINVAL);
    CHECK_OK(put_int(a, "notes", "n2", "body", 7));
    CHECK_RC(splice(a, "n1", 0, 0, "x"), WEFT_ESTATE); /* a transaction is open */
    uint8_t *r;
    free((commit_copy(a, &r), r));
    CHECK_RC(splice(a, "n2", 0, 0, "x"), WEFT_EINVAL); /* an int is not text */
    size_t len;
    CHECK_RC(weft_replica_text_length(a, "notes", 5, "n2", 2, "body", 4, &len), WEFT_ENOTFOUND);
    CHECK(text_is(a, "n1", "abc") && weft_replica_change_count(a) == 2);
    /* UTF-16 positions: an emoji counts 2, its middle is no position. */
    weft_replica_config cfg = {
        .space = SPACE, .author = KB, .keep_records = 1, .text_unit = WEFT_TEXT_UTF16};
    weft_replica *u;
    CHECK_OK(weft_replica_new(&u, &cfg));
    CHECK_OK(splice(u, "n1", 0, 0,
                    "a\xf0\x9f\x98\x80"
                    "b"));
    CHECK_OK(weft_replica_text_length(u, "notes", 5, "n1", 2, "body", 4, &len));
    CHECK(len == 4);
    CHECK_RC(splice(u, "n1", 2, 0, "x"), WEFT_EINVAL);
    CHECK_OK(splice(u, "n1", 3, 1, "c"));
    CHECK(text_is(u, "n1",
                  "a\xf0\x9f\x98\x80"
                  "c"));
    /* A string converted at a UTF-16 position. */
    CHECK_OK(put_str(u, "notes", "n3", "body", "\xf0\x9f\x98\x80"));
    free((commit_copy(u, &r), r));
    CHECK_RC(splice(u, "n3", 1, 0, "x"), WEFT_EINVAL);
    CHECK_OK(splice(u, "n3", 2, 0, "x"));
    CHECK(text_is(u, "n3", "\xf0\x9f\x98\x80x"));
    weft_replica_free(u);
    weft_replica_free(a);
}

/* Snapshots keep texts; the author's ids go on after a load. */
static void text_snapshot(void) {
    setup();
    weft_replica *a = new_replica(SPACE, KA), *b = new_replica(SPACE, KB);
    CHECK_OK(splice(a, "n1", 0, 0, "one two"));
    CHECK_OK(splice(a, "n1", 3, 1, "-"));
    CHECK_OK(sync_to(a, b));
    CHECK_OK(splice(b, "n1", 7, 0, " three"));
    CHECK_OK(sync_to(b, a));
    const uint8_t *snap;
    size_t sl;
    CHECK_OK(weft_replica_snapshot(a, &snap, &sl));
    uint8_t *copy = malloc(sl);
    memcpy(copy, snap, sl);
    weft_replica *a2 = new_replica(SPACE, KA);
    CHECK_OK(weft_replica_load_snapshot(a2, copy, sl));
    CHECK(same_hash(a, a2) && text_is(a2, "n1", "one-two three"));
    CHECK_OK(splice(a2, "n1", 0, 0, ">"));
    CHECK_OK(splice(b, "n1", 13, 0, "."));
    CHECK_OK(sync_to(a2, b));
    CHECK_OK(sync_to(b, a2));
    CHECK(same_hash(a2, b) && text_is(b, "n1", ">one-two three."));
    free(copy);
    weft_replica_free(a);
    weft_replica_free(a2);
    weft_replica_free(b);
}

/* A member can omit the write its text ops observed from their change's
 * deps. As for counter adds, every arrival order (and snapshots between)
 * gives the same state: the ops build a waiting text that takes the field
 * iff that write wins. */
static void text_before_observed_write(void) {
    setup();
    for (int variant = 0; variant < 2; variant++) {
        /* 0: A deletes the field, H edits on top -> H's text. 1: A puts a
         * string, H converts it; then A puts again having seen nothing of
         * H -> A's last string. */
        weft_replica *a = new_replica(SPACE, KA), *h = new_replica(SPACE, KB);
        rec r[4];
        int n = 0;
        CHECK_OK(put_str(a, "notes", "d", "body", "old"));
        r[n].len = commit_copy(a, &r[n].p);
        n++;
        CHECK_OK(weft_replica_delete_field(a, "notes", 5, "d", 1, "body", 4));
        r[n].len = commit_copy(a, &r[n].p);
        n++;
        CHECK_OK(sync_to(a, h));
        const uint8_t *hrec;
        size_t hl;
        CHECK_OK(weft_replica_text_splice(h, "notes", 5, "d", 1, "body", 4, 0, 0, "mine", 4, 0,
                                          &hrec, &hl));
        r[n].p = malloc(hl);
        memcpy(r[n].p, hrec, hl);
        r[n].len = strip_deps(r[n].p, hl);
        n++;
        const char *want = "mine";
        if (variant == 1) {
            CHECK_OK(put_str(a, "notes", "d", "body", "later"));
            r[n].len = commit_copy(a, &r[n].p);
            n++;
            want = "later";
        }
        every_order(r, n, variant, note_is, want);
        for (int i = 0; i < n; i++)
            free(r[i].p);
        weft_replica_free(a);
        weft_replica_free(h);
    }
}

static void text_survives_allocation_failure(void) {
    setup();
    weft_replica *src = new_replica(SPACE, KB);
    const uint8_t *out;
    size_t olen;
    CHECK_OK(
        weft_replica_text_splice(src, "n", 1, "d", 1, "t", 1, 0, 0, "hello", 5, 0, &out, &olen));
    CHECK_OK(weft_replica_text_splice(src, "n", 1, "d", 1, "t", 1, 1, 3, "ipp", 3, 0, &out, &olen));
    const uint8_t *all;
    size_t alen;
    CHECK_OK(weft_replica_diff(src, NULL, 0, &all, &alen));
    uint8_t *recs = malloc(alen);
    memcpy(recs, all, alen);
    int completed = 0;
    for (long limit = 0; limit < 600 && !completed; limit++) {
        budget bg = {limit, 0};
        weft_allocator al = {budget_realloc, &bg};
        weft_replica_config cfg = {.alloc = &al, .space = SPACE, .author = KA, .keep_records = 1};
        weft_replica *r = NULL, *l = NULL;
        if (weft_replica_new(&r, &cfg) == 0) {
            int rc = weft_replica_apply(r, recs, alen, NULL);
            if (rc == 0)
                rc = weft_replica_text_splice(r, "n", 1, "d", 1, "t", 1, 5, 0, "!", 1, 0, &out,
                                              &olen);
            const uint8_t *snap;
            size_t sl;
            if (rc == 0) rc = weft_replica_snapshot(r, &snap, &sl);
            if (rc == 0) rc = weft_replica_new(&l, &cfg);
            if (rc == 0) rc = weft_replica_load_snapshot(l, snap, sl);
            const uint8_t *v;
            size_t vl;
            if (rc == 0) rc = weft_replica_get_field(l, "n", 1, "d", 1, "t", 1, &v, &vl);
            if (rc == 0) CHECK(vl == 8 && memcmp(v + 2, "hippo!", 6) == 0); /* tag, length */
            CHECK(rc == 0 || rc == WEFT_ENOMEM);
            completed = rc == 0;
            weft_replica_free(l);
            weft_replica_free(r);
        }
        CHECK(bg.live == 0);
    }
    CHECK(completed);
    free(recs);
    weft_replica_free(src);
}

/* ---- a buffer of ops (weft_replica_write_ops) ---- */

typedef struct obuf {
    uint8_t b[8192];
    size_t n;
} obuf;

static void ob_varint(obuf *o, uint64_t v) {
    while (v >= 0x80) {
        o->b[o->n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    o->b[o->n++] = (uint8_t)v;
}

static void ob_name(obuf *o, const char *s) {
    ob_varint(o, strlen(s));
    memcpy(o->b + o->n, s, strlen(s));
    o->n += strlen(s);
}

static void ob_int(obuf *o, int64_t v) {
    o->b[o->n++] = WEFT_TYPE_INT;
    ob_varint(o, ((uint64_t)v << 1) ^ (uint64_t)(v < 0 ? -1 : 0));
}

static void ob_target(obuf *o, uint8_t kind, const char *coll, const char *doc) {
    o->b[o->n++] = kind;
    ob_name(o, coll);
    ob_name(o, doc);
}

static void ob_put(obuf *o, const char *doc, const char *field, int64_t v) {
    ob_target(o, WEFT_OPS_PUT, "c", doc);
    ob_name(o, field);
    ob_int(o, v);
}

/* A REPLACE or UPDATE of doc with fields "a=1,b=2" (names in order). */
static void ob_doc(obuf *o, uint8_t kind, const char *doc, const char *fields) {
    ob_target(o, kind, "c", doc);
    o->b[o->n++] = WEFT_TYPE_MAP;
    size_t n = 0;
    for (const char *p = fields; *p; p++)
        n += *p == '=';
    ob_varint(o, n);
    char name[64];
    long v;
    int used;
    for (const char *p = fields; sscanf(p, "%63[^=]=%ld%n", name, &v, &used) == 2;) {
        ob_name(o, name);
        ob_int(o, v);
        p += used;
        if (*p == ',') p++;
    }
}

static int write_ops(weft_replica *r, const obuf *o, size_t *failed) {
    return weft_replica_write_ops(r, o->b, o->n, failed);
}

/* The document's visible fields as "a=1,b=2" (ints only), "" when none. */
static const char *doc_is(weft_replica *r, const char *doc) {
    static char out[256];
    out[0] = 0;
    const uint8_t *v;
    size_t len;
    if (weft_replica_get_doc(r, "c", 1, doc, strlen(doc), &v, &len)) return out;
    weft_value m, x;
    if (weft_value_read(&m, NULL, v, len) || m.type != WEFT_TYPE_MAP) return "?";
    const uint8_t *p = m.ptr;
    for (uint64_t i = 0; i < m.count; i++) {
        size_t kl = *p++, used;
        if (weft_value_read(&x, &used, p + kl, len) || x.type != WEFT_TYPE_INT) return "?";
        snprintf(out + strlen(out), sizeof out - strlen(out), "%s%.*s=%" PRId64, i ? "," : "",
                 (int)kl, (const char *)p, x.i);
        p += kl + used;
    }
    return out;
}

static int doc_eq(weft_replica *r, const char *doc, const char *want) {
    const char *got = doc_is(r, doc);
    if (strcmp(got, want) == 0) return 1;
    fprintf(stderr, "doc %s is \"%s\", want \"%s\"\n", doc, got, want);
    return 0;
}

/* Every kind, against the same ops made one call each: the same change. */
static void ops_buffer_format(void) {
    setup();
    weft_replica *a = new_replica(SPACE, KA), *b = new_replica(SPACE, KA);
    obuf o = {.n = 0};
    ob_put(&o, "d1", "n", 5);
    ob_doc(&o, WEFT_OPS_UPDATE, "d2", "a=1,b=2");
    ob_target(&o, WEFT_OPS_DELETE_FIELD, "c", "d1");
    ob_name(&o, "n");
    ob_target(&o, WEFT_OPS_COUNTER_ADD, "c", "d3");
    ob_name(&o, "k");
    ob_int(&o, -7);
    ob_target(&o, WEFT_OPS_DELETE_DOC, "c", "d4");
    ob_doc(&o, WEFT_OPS_REPLACE, "d5", "x=9"); /* a new document: no deletes */
    size_t failed;
    CHECK_OK(write_ops(a, &o, &failed));
    CHECK(failed == 6 && weft_replica_txn_ops(a) == 7);
    CHECK_OK(put_int(b, "c", "d1", "n", 5));
    CHECK_OK(put_int(b, "c", "d2", "a", 1));
    CHECK_OK(put_int(b, "c", "d2", "b", 2));
    CHECK_OK(weft_replica_delete_field(b, "c", 1, "d1", 2, "n", 1));
    CHECK_OK(weft_replica_counter_add(b, "c", 1, "d3", 2, "k", 1, -7));
    CHECK_OK(weft_replica_delete_doc(b, "c", 1, "d4", 2));
    CHECK_OK(put_int(b, "c", "d5", "x", 9));
    uint8_t *ra, *rb;
    size_t la = commit_copy(a, &ra), lb = commit_copy(b, &rb);
    CHECK(la == lb && memcmp(ra, rb, la) == 0);
    CHECK(doc_eq(a, "d2", "a=1,b=2") && doc_eq(a, "d3", "k=-7") && doc_eq(a, "d5", "x=9"));
    /* An empty buffer adds nothing; an empty map on a new document neither. */
    CHECK_OK(weft_replica_write_ops(a, NULL, 0, &failed));
    o.n = 0;
    ob_doc(&o, WEFT_OPS_REPLACE, "d9", "");
    CHECK_OK(write_ops(a, &o, &failed));
    CHECK(failed == 1 && weft_replica_txn_ops(a) == 0);
    free(ra);
    free(rb);
    weft_replica_free(a);
    weft_replica_free(b);
}

static void ops_replace(void) {
    setup();
    weft_replica *a = new_replica(SPACE, KA), *b = new_replica(SPACE, KB);
    obuf o = {.n = 0};
    ob_doc(&o, WEFT_OPS_UPDATE, "d", "a=1,b=2,c=3");
    CHECK_OK(write_ops(a, &o, NULL));
    uint8_t *r;
    free((commit_copy(a, &r), r));
    /* The state's fields the map lacks go, field by field. */
    o.n = 0;
    ob_doc(&o, WEFT_OPS_REPLACE, "d", "b=20,d=4");
    CHECK_OK(write_ops(a, &o, NULL));
    CHECK(weft_replica_txn_ops(a) == 4); /* delete a, c; put b, d */
    free((commit_copy(a, &r), r));
    CHECK(doc_eq(a, "d", "b=20,d=4"));
    /* Inside one transaction: fields set by earlier ops count too, and a
     * replace after a replace sees only the later one's fields. */
    o.n = 0;
    ob_doc(&o, WEFT_OPS_UPDATE, "d", "x=1");
    ob_put(&o, "d", "y", 2);
    ob_doc(&o, WEFT_OPS_REPLACE, "d", "z=3");
    ob_doc(&o, WEFT_OPS_REPLACE, "d", "z=4");
    ob_doc(&o, WEFT_OPS_REPLACE, "d", "w=5");
    CHECK_OK(write_ops(a, &o, NULL));
    free((commit_copy(a, &r), r));
    CHECK(doc_eq(a, "d", "w=5"));
    /* After a document delete in the transaction nothing is live. */
    o.n = 0;
    ob_target(&o, WEFT_OPS_DELETE_DOC, "c", "d");
    ob_doc(&o, WEFT_OPS_REPLACE, "d", "v=6");
    CHECK_OK(write_ops(a, &o, NULL));
    CHECK(weft_replica_txn_ops(a) == 2);
    free((commit_copy(a, &r), r));
    CHECK(doc_eq(a, "d", "v=6"));
    /* A counter is live; a deleted field is not deleted again. */
    o.n = 0;
    ob_target(&o, WEFT_OPS_COUNTER_ADD, "c", "d");
    ob_name(&o, "k");
    ob_int(&o, 3);
    ob_target(&o, WEFT_OPS_DELETE_FIELD, "c", "d");
    ob_name(&o, "v");
    ob_doc(&o, WEFT_OPS_REPLACE, "d", "u=7");
    CHECK_OK(write_ops(a, &o, NULL));
    CHECK(weft_replica_txn_ops(a) == 4); /* add k, delete v, delete k, put u */
    free((commit_copy(a, &r), r));
    CHECK(doc_eq(a, "d", "u=7"));
    /* Concurrent writes to other fields still merge. */
    CHECK_OK(sync_to(a, b));
    CHECK_OK(put_int(b, "c", "d", "other", 8));
    free((commit_copy(b, &r), r));
    o.n = 0;
    ob_doc(&o, WEFT_OPS_REPLACE, "d", "u=70");
    CHECK_OK(write_ops(a, &o, NULL));
    free((commit_copy(a, &r), r));
    CHECK_OK(sync_to(a, b));
    CHECK_OK(sync_to(b, a));
    CHECK(doc_eq(a, "d", "other=8,u=70") && same_hash(a, b));
    /* A text field is live: a replace without it deletes it. */
    CHECK_OK(weft_replica_text_splice(a, "c", 1, "d", 1, "t", 1, 0, 0, "hi", 2, 0,
                                      (const uint8_t **)&r, &(size_t){0}));
    o.n = 0;
    ob_doc(&o, WEFT_OPS_REPLACE, "d", "u=1");
    CHECK_OK(write_ops(a, &o, NULL));
    free((commit_copy(a, &r), r));
    CHECK(doc_eq(a, "d", "u=1"));
    weft_replica_free(a);
    weft_replica_free(b);
}

/* A bad op anywhere leaves the transaction as it was. */
static void ops_atomic(void) {
    setup();
    enum { N = 6 };
    for (int bad = 0; bad < N; bad++) {
        for (int how = 0; how < 7; how++) {
            weft_replica *a = new_replica(SPACE, KA);
            CHECK_OK(put_int(a, "c", "before", "f", 1));
            obuf o = {.n = 0};
            for (int i = 0; i < N; i++) {
                char doc[8];
                snprintf(doc, sizeof doc, "d%d", i);
                if (i != bad) {
                    ob_doc(&o, i % 2 ? WEFT_OPS_REPLACE : WEFT_OPS_UPDATE, doc, "a=1,b=2");
                    continue;
                }
                int want = WEFT_EINVAL;
                switch (how) {
                case 0:
                    ob_put(&o, doc, "", 1);
                    break; /* empty field name */
                case 1:
                    ob_put(&o, "", "f", 1);
                    break; /* empty key */
                case 2:
                    ob_doc(&o, WEFT_OPS_UPDATE, doc, "b=1,a=2");
                    break; /* keys unsorted */
                case 3:    /* a counter delta that is no int */
                    ob_target(&o, WEFT_OPS_COUNTER_ADD, "c", doc);
                    ob_name(&o, "k");
                    o.b[o.n++] = WEFT_TYPE_NULL;
                    break;
                case 4: /* a bad value */
                    ob_target(&o, WEFT_OPS_PUT, "c", doc);
                    ob_name(&o, "f");
                    o.b[o.n++] = 0x09;
                    break;
                case 5:
                    o.b[o.n++] = 7;
                    break; /* an unknown kind */
                case 6:
                    ob_put(&o, doc, "f", 1);
                    o.n--;
                    break; /* truncated */
                }
                (void)want;
                if (how >= 5) break; /* framing lost: nothing follows */
            }
            size_t failed = 99;
            int rc = write_ops(a, &o, &failed);
            int want = how == 5 ? WEFT_EMALFORMED : how == 6 ? WEFT_ETRUNCATED : WEFT_EINVAL;
            CHECK_RC(rc, want);
            CHECK(failed == (size_t)bad);
            CHECK(weft_replica_txn_ops(a) == 1);
            uint8_t *r;
            size_t len = commit_copy(a, &r);
            weft_change c;
            CHECK_OK(weft_change_decode(&c, r, len));
            CHECK(c.n_ids == 1 && doc_eq(a, "before", "f=1") && doc_eq(a, "d0", ""));
            free(r);
            weft_replica_free(a);
        }
    }
}

static void ops_survive_allocation_failure(void) {
    setup();
    int completed = 0;
    for (long limit = 0; limit < 600 && !completed; limit++) {
        budget bg = {-1, 0};
        weft_allocator al = {budget_realloc, &bg};
        weft_replica_config cfg = {.alloc = &al, .space = SPACE, .author = KA, .keep_records = 1};
        weft_replica *r = NULL;
        CHECK_OK(weft_replica_new(&r, &cfg));
        obuf o = {.n = 0};
        for (int i = 0; i < 40; i++) {
            char doc[8];
            snprintf(doc, sizeof doc, "d%d", i % 7);
            ob_doc(&o, i % 3 ? WEFT_OPS_REPLACE : WEFT_OPS_UPDATE, doc,
                   i % 2 ? "a=1,b=2" : "b=3,c=4");
            ob_target(&o, WEFT_OPS_COUNTER_ADD, "c", doc);
            ob_name(&o, "k");
            ob_int(&o, i);
        }
        CHECK_OK(put_int(r, "c", "d0", "z", 1));
        bg.left = limit;
        size_t failed;
        int rc = write_ops(r, &o, &failed);
        CHECK(rc == 0 || rc == WEFT_ENOMEM);
        if (rc) CHECK(weft_replica_txn_ops(r) == 1);
        const uint8_t *out;
        size_t olen;
        bg.left = -1;
        CHECK_OK(weft_replica_commit(r, 0, &out, &olen));
        if (rc == 0) {
            CHECK(doc_eq(r, "d0", "a=1,b=2,k=35")); /* the last replace (i = 35), then its add */
            completed = 1;
        }
        weft_replica_free(r);
        CHECK(bg.live == 0);
    }
    CHECK(completed);
}

/* ---- text edits in an open change ---- */

static int edit(weft_replica *r, const char *doc, size_t pos, size_t del, const char *ins,
                size_t *rec_len) {
    const uint8_t *out;
    size_t len;
    int rc = weft_replica_text_edit(r, "notes", 5, doc, strlen(doc), "body", 4, pos, del, ins,
                                    strlen(ins), 1700000000000ULL, &out, &len);
    if (rec_len) *rec_len = len;
    return rc;
}

static void text_in_open_change(void) {
    setup();
    weft_replica *a = new_replica(SPACE, KA), *b = new_replica(SPACE, KB);
    /* Keystrokes and a write gather in one change. */
    CHECK_OK(put_int(a, "notes", "n1", "n", 1));
    size_t rl = 9;
    CHECK_OK(edit(a, "n1", 0, 0, "hel", &rl));
    CHECK(rl == 0 && text_is(a, "n1", "hel")); /* visible before the commit */
    CHECK_OK(edit(a, "n1", 3, 0, "lo", NULL));
    CHECK_OK(edit(a, "n1", 0, 1, "H", NULL));
    CHECK_OK(edit(a, "n2", 0, 0, "x", NULL));
    CHECK(text_is(a, "n1", "Hello") && weft_replica_change_count(a) == 0);
    /* It can no longer be rolled back, nor can remote changes come in. */
    CHECK_RC(weft_replica_rollback(a), WEFT_ESTATE);
    CHECK(weft_replica_txn_ops(a) > 1);
    CHECK_OK(splice(b, "n9", 0, 0, "remote"));
    const uint8_t *recs;
    size_t rlen;
    CHECK_OK(weft_replica_diff(b, NULL, 0, &recs, &rlen));
    weft_apply_result res;
    CHECK_RC(weft_replica_apply(a, recs, rlen, &res), WEFT_ESTATE);
    CHECK(res.applied == 0 && res.consumed == 0);
    CHECK_RC(splice(a, "n1", 0, 0, "x"), WEFT_ESTATE); /* the committing splice refuses */
    /* Commit, then apply. */
    uint8_t *r;
    free((commit_copy(a, &r), r));
    CHECK(weft_replica_change_count(a) == 1 && weft_replica_touched_count(a) == 2);
    CHECK_OK(sync_to(b, a));
    CHECK_OK(sync_to(a, b));
    CHECK(text_is(b, "n1", "Hello") && text_is(b, "n2", "x") &&
          get_int(b, "notes", "n1", "n") == 1);
    CHECK(same_hash(a, b));
    /* The same history made one change per edit gives the same state. */
    weft_replica *c = new_replica(SPACE, KA);
    CHECK_OK(put_int(c, "notes", "n1", "n", 1));
    free((commit_copy(c, &r), r));
    CHECK_OK(splice(c, "n1", 0, 0, "hel"));
    CHECK_OK(splice(c, "n1", 3, 0, "lo"));
    CHECK_OK(splice(c, "n1", 0, 1, "H"));
    CHECK_OK(splice(c, "n2", 0, 0, "x"));
    CHECK_OK(sync_to(b, c));
    CHECK(same_hash(b, c));
    /* A write of the field, or a delete of its document, in the open change
     * comes first: commit, then edit. Other fields are fine. */
    CHECK_OK(put_int(a, "notes", "n1", "other", 2));
    CHECK_OK(edit(a, "n1", 5, 0, "!", NULL));
    CHECK_OK(put_str(a, "notes", "n1", "body", "new"));
    CHECK_RC(edit(a, "n1", 0, 0, "x", NULL), WEFT_ESTATE);
    free((commit_copy(a, &r), r));
    CHECK(text_eq(a, "n1", "new") || get_int(a, "notes", "n1", "other") == 2);
    CHECK_OK(weft_replica_delete_doc(a, "notes", 5, "n2", 2));
    CHECK_RC(edit(a, "n2", 0, 0, "x", NULL), WEFT_ESTATE);
    free((commit_copy(a, &r), r));
    /* A string becomes a text only when its change merges: that edit
     * commits the open change at once. */
    CHECK_OK(put_int(a, "notes", "n3", "n", 3));
    CHECK_OK(edit(a, "n1", 3, 0, "er", &rl));
    CHECK(rl > 0 && weft_replica_txn_ops(a) == 0 && text_is(a, "n1", "newer"));
    CHECK(get_int(a, "notes", "n3", "n") == 3);
    CHECK_OK(sync_to(a, b));
    CHECK(same_hash(a, b));
    weft_replica_free(a);
    weft_replica_free(b);
    weft_replica_free(c);
}

/* Text edits joining a transaction, every allocation failing in turn: a
 * failure leaves ENOMEM (the replica may refuse further writes), never a
 * crash or a leak, and a run that completes has the text. */
static void text_edit_survives_allocation_failure(void) {
    setup();
    int completed = 0;
    for (long limit = 0; limit < 600 && !completed; limit++) {
        budget bg = {-1, 0};
        weft_allocator al = {budget_realloc, &bg};
        weft_replica_config cfg = {.alloc = &al, .space = SPACE, .author = KA, .keep_records = 1};
        weft_replica *r = NULL;
        CHECK_OK(weft_replica_new(&r, &cfg));
        CHECK_OK(put_str(r, "notes", "n1", "body", "ab"));
        const uint8_t *out;
        size_t olen;
        CHECK_OK(weft_replica_commit(r, 0, &out, &olen));
        bg.left = limit;
        int rc = put_int(r, "notes", "n2", "n", 1);
        if (rc == 0) rc = edit(r, "n2", 0, 0, "hi", NULL);
        if (rc == 0) rc = edit(r, "n2", 2, 0, "!", NULL);
        if (rc == 0) rc = edit(r, "n1", 2, 0, "c", NULL); /* a conversion: commits */
        if (rc == 0) rc = edit(r, "n1", 3, 0, "d", NULL);
        if (rc == 0) rc = weft_replica_commit(r, 0, &out, &olen);
        CHECK(rc == 0 || rc == WEFT_ENOMEM);
        bg.left = -1; /* reads make the text's string */
        if (rc == 0) {
            CHECK(text_is(r, "n2", "hi!") && text_is(r, "n1", "abcd"));
            completed = 1;
        }
        weft_replica_free(r);
        CHECK(bg.live == 0);
    }
    CHECK(completed);
}

/* The space's format level: starts at 1, only rises, never past what this
 * build reads; every op this build writes belongs to level 1, so a replica
 * of a level-1 space commits all of them (FORMAT.md §10: an op above the
 * space's level would be WEFT_EVERSION, with the transaction kept open). */
static void format_level(void) {
    uint8_t space[32], author[32];
    fill_key(space, 0x11);
    fill_key(author, 0x22);
    weft_replica *r = new_replica(space, author);
    CHECK(weft_replica_format_level(r) == 1 && weft_replica_format_level(NULL) == 1);
    CHECK_RC(weft_replica_set_format_level(r, 0), WEFT_EINVAL);
    CHECK_RC(weft_replica_set_format_level(r, WEFT_FORMAT_LEVEL + 1), WEFT_EVERSION);
    CHECK(weft_replica_format_level(r) == 1);
    CHECK_OK(weft_replica_put(r, "c", 1, "d", 1, "f", 1, (const uint8_t *)"\x03\x02", 2));
    CHECK_OK(weft_replica_counter_add(r, "c", 1, "d", 1, "n", 1, 3));
    const uint8_t *r_rec;
    size_t r_len;
    CHECK_OK(weft_replica_text_edit(r, "c", 1, "d", 1, "t", 1, 0, 0, "hi", 2, 1, &r_rec, &r_len));
    CHECK_OK(weft_replica_text_edit(r, "c", 1, "d", 1, "t", 1, 0, 1, "", 0, 1, &r_rec, &r_len));
    CHECK_OK(weft_replica_delete_field(r, "c", 1, "d", 1, "f", 1));
    CHECK_OK(weft_replica_delete_doc(r, "c", 1, "e", 1));
    CHECK_OK(weft_replica_commit(r, 1, &r_rec, &r_len));
    CHECK_OK(weft_replica_set_format_level(r, WEFT_FORMAT_LEVEL));
    CHECK_OK(weft_replica_set_format_level(r, 1)); /* never goes down */
    CHECK(weft_replica_format_level(r) == WEFT_FORMAT_LEVEL);
    weft_replica_free(r);
}

static int unhex(uint8_t *dst, const char *hex) {
    size_t n = 0;
    for (; hex[0] && hex[1]; hex += 2) {
        unsigned b;
        if (sscanf(hex, "%2x", &b) != 1) return -1;
        dst[n++] = (uint8_t)b;
    }
    return (int)n;
}

/* The worked example of docs/FORMAT.md, byte for byte: a one-op PLAIN
 * change and the snapshot after it. Format evolution must keep both. */
static void format_worked_example(void) {
    uint8_t space[32], author[32], want[256];
    fill_key(space, 0x11);
    fill_key(author, 0x22);
    weft_replica *r = new_replica(space, author);
    CHECK_OK(
        weft_replica_put(r, "notes", 5, "n1", 2, "title", 5, (const uint8_t *)"\x05\x02hi", 4));
    const uint8_t *w_rec;
    size_t len;
    CHECK_OK(weft_replica_commit(r, 1700000000000ULL, &w_rec, &len));
    int n = unhex(want, "0101001111111111111111111111111111111111111111111111111111111111"
                        "1111112222222222222222222222222222222222222222222222222222222222"
                        "22222201010180d095ffbc310000000000000000000000000000000000000000"
                        "000000000000000000000000001902056e6f746573057469746c650001010002"
                        "6e310105026869");
    CHECK(n == 135 && len == 135 && memcmp(w_rec, want, len) == 0);
    const uint8_t *snap;
    CHECK_OK(weft_replica_snapshot(r, &snap, &len));
    n = unhex(want, "010200"
                    "1111111111111111111111111111111111111111111111111111111111111111"
                    "01"
                    "01"
                    "2222222222222222222222222222222222222222222222222222222222222222"
                    "01a5c1d96c60295892da89a84774e095f7de5edc8e9771c32c37ca60b3777d837d01"
                    "02056e6f746573057469746c65"
                    "010001"
                    "026e31000101010100050268690000"
                    "5771a84e3434f51c4ebe59d5ef21fc15f8d0ac9ca01c0e4a90de11ca3444f8bb");
    CHECK(n == 166 && len == 166 && memcmp(snap, want, len) == 0);
    weft_replica_free(r);
}

/* weft_replica_change_ops's callback: "code coll/doc.field;" per op. */
static void list_op(void *ud, int code, const char *coll, size_t cl, const char *doc, size_t dl,
                    const char *field, size_t fl) {
    char *s = ud;
    size_t n = strlen(s);
    snprintf(s + n, 256 - n, "%d %.*s/%.*s.%.*s;", code, (int)cl, coll, (int)dl, doc, (int)fl,
             field);
}

static void change_ops(void) {
    setup();
    weft_crypto ca = {WEFT_SUITE_V1, 16, toy_seal, toy_open, toy_sign, toy_verify, KA};
    weft_crypto cb = {WEFT_SUITE_V1, 16, toy_seal, toy_open, toy_sign, toy_verify, KB};
    weft_replica_config cfa = {.space = SPACE, .author = KA, .crypto = &ca, .keep_records = 1};
    weft_replica_config cfb = {.space = SPACE, .author = KB, .crypto = &cb, .keep_records = 1};
    weft_replica *a, *b;
    CHECK_OK(weft_replica_new(&a, &cfa));
    CHECK_OK(weft_replica_new(&b, &cfb));
    CHECK_OK(put_str(a, "notes", "n1", "title", "hi"));
    CHECK_OK(put_int(a, "notes", "n2", "n", 1));
    CHECK_OK(weft_replica_delete_doc(a, "notes", 5, "n0", 2));
    uint8_t *r;
    size_t l = commit_copy(a, &r);
    uint8_t h0[32], h1[32];
    CHECK_OK(weft_state_hash(b, h0));
    char got[256] = "";
    /* b has not merged it: reading it changes nothing there. */
    CHECK_OK(weft_replica_change_ops(b, r, l, list_op, got));
    CHECK(strcmp(got, "1 notes/n1.title;1 notes/n2.n;2 notes/n0.;") == 0);
    CHECK_OK(weft_state_hash(b, h1));
    CHECK(memcmp(h0, h1, 32) == 0 && weft_replica_change_count(b) == 0);
    /* Bad input: a flipped bit (signature or seal), trailing bytes, another
     * suite, NULLs; the callback is never called. */
    got[0] = 0;
    r[l - 1] ^= 1;
    CHECK_RC(weft_replica_change_ops(b, r, l, list_op, got), WEFT_ECRYPTO);
    r[l - 1] ^= 1;
    uint8_t *longer = malloc(l + 1);
    memcpy(longer, r, l);
    longer[l] = 0;
    CHECK_RC(weft_replica_change_ops(b, longer, l + 1, list_op, got), WEFT_EMALFORMED);
    free(longer);
    CHECK_RC(weft_replica_change_ops(b, r, l - 1, list_op, got), WEFT_ETRUNCATED);
    weft_replica *plain = new_replica(SPACE, KB);
    CHECK_RC(weft_replica_change_ops(plain, r, l, list_op, got), WEFT_ESUITE);
    CHECK_RC(weft_replica_change_ops(NULL, r, l, list_op, got), WEFT_EINVAL);
    CHECK_RC(weft_replica_change_ops(b, r, l, NULL, got), WEFT_EINVAL);
    CHECK(got[0] == 0);
    free(r);
    weft_replica_free(plain);
    weft_replica_free(a);
    weft_replica_free(b);
}

/* A change larger than WEFT_MAX_COMMIT_BYTES is refused before it exists
 * (no relay with the default --max-frame would store it, and every later
 * change of its author would depend on it); the transaction stays open, and
 * after a rollback the next change commits as seq 1. */
static void too_big_to_commit(void) {
    setup();
    weft_replica *a = new_replica(SPACE, KA);
    size_t n = WEFT_MAX_COMMIT_BYTES, cap = n + 16, vlen = 0;
    uint8_t *raw = calloc(1, n), *val = malloc(cap);
    CHECK(raw && val);
    CHECK_OK(weft_value_write_bytes(val, cap, &vlen, raw, n));
    CHECK_OK(weft_replica_put(a, "files", 5, "f", 1, "data", 4, val, vlen));
    const uint8_t *out;
    size_t len;
    CHECK_RC(weft_replica_commit(a, 1, &out, &len), WEFT_ECHANGE_TOO_BIG);
    CHECK(weft_replica_txn_ops(a) == 1);
    CHECK(strcmp(weft_err_name(WEFT_ECHANGE_TOO_BIG), "CHANGE_TOO_BIG") == 0);
    CHECK_OK(weft_replica_rollback(a));
    /* Just under the limit commits. */
    CHECK_OK(weft_value_write_bytes(val, cap, &vlen, raw, n - 1024));
    CHECK_OK(weft_replica_put(a, "files", 5, "f", 1, "data", 4, val, vlen));
    CHECK_OK(weft_replica_commit(a, 1, &out, &len));
    CHECK(len <= WEFT_MAX_COMMIT_BYTES);
    weft_change c;
    CHECK_OK(weft_change_decode(&c, out, len));
    CHECK(c.seq == 1);
    free(raw);
    free(val);
    weft_replica_free(a);
}

RUN_TESTS(T(change_ops), T(format_worked_example), T(too_big_to_commit), T(format_level),
          T(text_edits_merge), T(text_and_writes), T(text_bad_input), T(text_snapshot),
          T(text_before_observed_write), T(add_before_observed_write), T(put_get_commit),
          T(change_callback), T(last_writer_wins), T(deletes), T(counters),
          T(iteration_in_key_order), T(bad_input), T(bad_body_is_refused_whole),
          T(survives_allocation_failure), T(text_survives_allocation_failure), T(crypto_seam),
          T(ops_buffer_format), T(ops_replace), T(ops_atomic), T(ops_survive_allocation_failure),
          T(text_in_open_change), T(text_edit_survives_allocation_failure))
