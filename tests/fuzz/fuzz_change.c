/*
 * fuzz_change: the change record decoder (weft/change.h).
 *
 * Any input: weft_change_decode must not crash. An accepted record must be
 * self-consistent: its parts lie inside it in order (header, body,
 * signature), the dep iterator yields exactly n_deps canonical deps, and
 * the record, copied out on its own and decoded again, decodes the same and
 * hashes the same (the change id depends on the record's bytes only). The
 * input may hold several records back to back, as sync frames do: every one
 * is decoded in turn.
 */
#include "fuzz_common.h"

static void check_record(const weft_change *c, const uint8_t *src, size_t src_len) {
    FUZZ_ASSERT(c->record == src && c->total_len <= src_len);
    FUZZ_ASSERT(c->version == WEFT_FORMAT_VERSION && c->kind == WEFT_RECORD_CHANGE);
    FUZZ_ASSERT(c->suite == WEFT_SUITE_PLAIN || c->suite == WEFT_SUITE_V1);
    FUZZ_ASSERT(c->seq >= 1 && c->lamport >= 1 && c->n_ids >= 1);
    FUZZ_ASSERT(c->lamport + c->n_ids <= WEFT_MAX_LAMPORT);
    FUZZ_ASSERT(c->header_len <= c->signed_len && c->signed_len <= c->total_len);
    FUZZ_ASSERT(c->body >= src + c->header_len && c->body + c->body_len == src + c->signed_len);
    FUZZ_ASSERT(c->signed_len + c->sig_len == c->total_len);
    FUZZ_ASSERT(c->sig_len == (c->suite == WEFT_SUITE_V1 ? WEFT_SIG_BYTES : 0));
    FUZZ_ASSERT(c->deps >= src && c->deps + c->deps_len == src + c->header_len);

    /* Deps: exactly n_deps, authors strictly ascending, never the record's
     * own author, seq >= 1, and the iterator ends where the header does. */
    size_t pos = 0;
    uint32_t n = 0;
    weft_dep dep;
    const uint8_t *prev = NULL;
    while (weft_change_dep_next(c, &pos, &dep)) {
        FUZZ_ASSERT(n < c->n_deps);
        FUZZ_ASSERT(dep.seq >= 1 && memcmp(dep.author, c->author, 32) != 0);
        FUZZ_ASSERT(!prev || memcmp(prev, dep.author, 32) < 0);
        prev = dep.author;
        n++;
    }
    FUZZ_ASSERT(n == c->n_deps && pos == c->deps_len);

    /* The record alone, in a buffer of exactly its size. */
    uint8_t *copy = malloc(c->total_len);
    FUZZ_ASSERT(copy);
    memcpy(copy, src, c->total_len);
    weft_change c2;
    FUZZ_ASSERT(weft_change_decode(&c2, copy, c->total_len) == 0);
    FUZZ_ASSERT(c2.total_len == c->total_len && c2.header_len == c->header_len);
    FUZZ_ASSERT(c2.seq == c->seq && c2.lamport == c->lamport && c2.n_deps == c->n_deps);
    uint8_t h1[WEFT_HASH_BYTES], h2[WEFT_HASH_BYTES], h3[WEFT_HASH_BYTES];
    weft_change_hash(h1, c);
    weft_change_hash(h2, &c2);
    FUZZ_ASSERT(weft_blake2b(h3, sizeof h3, copy, c->total_len) == 0);
    FUZZ_ASSERT(memcmp(h1, h2, 32) == 0 && memcmp(h1, h3, 32) == 0);
    free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t off = 0;
    while (off < size) {
        weft_change c;
        int rc = weft_change_decode(&c, data + off, size - off);
        if (rc) {
            FUZZ_ASSERT(rc < 0);
            break;
        }
        check_record(&c, data + off, size - off);
        FUZZ_ASSERT(c.total_len > 0);
        off += c.total_len;
    }
    /* The empty input is truncated, not a record. */
    weft_change c;
    if (size == 0) FUZZ_ASSERT(weft_change_decode(&c, data, 0) == WEFT_ETRUNCATED);
    return 0;
}
