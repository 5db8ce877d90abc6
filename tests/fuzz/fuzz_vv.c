/*
 * fuzz_vv: the version vector decoder (weft_vv_check, weft_vv_next in
 * weft/log.h) and the diff that reads one.
 *
 * Any input: check must not crash. An accepted vector walks with
 * weft_vv_next into entries with seq >= 1 and strictly ascending authors,
 * and re-encoding those entries gives back the input bytes (one encoding
 * per vector). A replica holding the preloaded history must agree with the
 * check (diff fails iff check does, with the same code) and send exactly
 * the changes past the vector: every one has a seq above the vector's
 * entry for its author, and their number is what the heads say is missing.
 */
#include "fuzz_common.h"

static weft_replica *holder; /* the preloaded history; built once, never changes */

static void setup(void) {
    if (holder) return;
    weft_replica *b;
    fuzz_buf records = {0};
    fuzz_preload(&holder, &b, &records);
    weft_replica_free(b);
    free(records.p);
    FUZZ_ASSERT(weft_replica_change_count(holder) == 4);
}

/* The vector's seq for `author`, 0 when absent. */
static uint64_t vv_seq(const uint8_t *vv, size_t len, const uint8_t *author) {
    size_t pos = 0;
    const uint8_t *a;
    uint64_t seq;
    while (weft_vv_next(vv, len, &pos, &a, &seq))
        if (memcmp(a, author, 32) == 0) return seq;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    setup();
    int rc = weft_vv_check(data, size);
    const uint8_t *recs;
    size_t recs_len;
    int drc = weft_replica_diff(holder, data, size, &recs, &recs_len);
    if (rc) {
        FUZZ_ASSERT(rc == WEFT_ETRUNCATED || rc == WEFT_EMALFORMED);
        FUZZ_ASSERT(drc == rc);
        return 0;
    }
    FUZZ_ASSERT(drc == 0);

    /* Walk and re-encode. */
    fuzz_buf b = {0};
    size_t pos = 0;
    const uint8_t *author, *prev = NULL;
    uint64_t seq;
    while (weft_vv_next(data, size, &pos, &author, &seq)) {
        FUZZ_ASSERT(seq >= 1);
        FUZZ_ASSERT(author >= data && author + 32 <= data + size);
        FUZZ_ASSERT(!prev || memcmp(prev, author, 32) < 0);
        prev = author;
        uint8_t v[10];
        fuzz_buf_put(&b, author, 32);
        fuzz_buf_put(&b, v, fuzz_varint(v, seq));
    }
    FUZZ_ASSERT(pos == size);
    FUZZ_ASSERT(b.len == size && (size == 0 || memcmp(b.p, data, size) == 0));
    free(b.p);

    /* The diff: the changes past the vector, and only those. */
    uint64_t sent = 0;
    for (size_t off = 0; off < recs_len; sent++) {
        weft_change c;
        FUZZ_ASSERT(weft_change_decode(&c, recs + off, recs_len - off) == 0);
        FUZZ_ASSERT(c.seq > vv_seq(data, size, c.author));
        off += c.total_len;
    }
    uint64_t missing = 0;
    uint8_t key[32];
    const uint8_t authors[] = {FUZZ_PRELOAD_A, FUZZ_PRELOAD_B};
    for (size_t i = 0; i < sizeof authors; i++) {
        fuzz_key(key, authors[i]);
        uint64_t have = 2; /* each preloaded author wrote two changes */
        uint64_t theirs = vv_seq(data, size, key);
        missing += theirs < have ? have - theirs : 0;
    }
    FUZZ_ASSERT(sent == missing);
    return 0;
}
