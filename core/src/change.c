/*
 * Change record decoding. Layout (docs/FORMAT.md, "Change record"):
 *
 *   u8 version | u8 kind | u8 suite | space[32] | author[32]
 *   varint seq | varint lamport | varint n_ids | varint wall_ms | prev[32]
 *   varint n_deps | n_deps * (author[32] varint seq)       <- header ends
 *   varint body_len | body | signature (suite-defined length)
 */
#include "weft/change.h"
#include "weft/hash.h"
#include "mem.h"

static const uint8_t zero32[32];

static size_t suite_sig_len(uint8_t suite) {
    return suite == WEFT_SUITE_V1 ? WEFT_SIG_BYTES : 0;
}

int weft_change_decode(weft_change *c, const uint8_t *src, size_t src_len) {
    validate_or_ret(c && (src || src_len == 0), WEFT_EINVAL);
    memset(c, 0, sizeof *c);
    if (src_len > WEFT_MAX_CHANGE_BYTES) src_len = WEFT_MAX_CHANGE_BYTES;
    wreader r;
    rd_init(&r, src, src_len);
    c->record = src;
    c->version = rd_u8(&r);
    c->kind = rd_u8(&r);
    c->suite = rd_u8(&r);
    if (r.err) return r.err;
    if (c->version != WEFT_FORMAT_VERSION) return WEFT_EVERSION;
    if (c->kind != WEFT_RECORD_CHANGE) return WEFT_EMALFORMED;
    if (c->suite != WEFT_SUITE_PLAIN && c->suite != WEFT_SUITE_V1) return WEFT_ESUITE;
    c->space = rd_take(&r, 32);
    c->author = rd_take(&r, 32);
    c->seq = rd_varint(&r);
    c->lamport = rd_varint(&r);
    c->n_ids = rd_varint(&r);
    c->wall_ms = rd_varint(&r);
    c->prev = rd_take(&r, 32);
    uint64_t n_deps = rd_varint(&r);
    if (r.err) return r.err;
    if (c->seq == 0 || c->lamport == 0 || c->n_ids == 0 || c->lamport >= WEFT_MAX_LAMPORT ||
        c->n_ids > WEFT_MAX_LAMPORT - c->lamport)
        return WEFT_EMALFORMED;
    /* The first change of a chain has no predecessor; later ones must name
     * one (an all-zero hash is not a hash anything has). */
    if ((c->seq == 1) != (memcmp(c->prev, zero32, 32) == 0)) return WEFT_EMALFORMED;
    if (n_deps > WEFT_MAX_DEPS) return WEFT_ETOOBIG;
    c->n_deps = (uint32_t)n_deps;
    c->deps = r.p;
    const uint8_t *prev_author = NULL;
    for (uint32_t i = 0; i < c->n_deps; i++) {
        const uint8_t *a = rd_take(&r, 32);
        uint64_t seq = rd_varint(&r);
        if (r.err) return r.err;
        /* Canonical: strictly ascending authors, never the change's own
         * author (its own past is seq - 1), seq at least 1. */
        if (seq == 0 || memcmp(a, c->author, 32) == 0 ||
            (prev_author && memcmp(prev_author, a, 32) >= 0))
            return WEFT_EMALFORMED;
        prev_author = a;
    }
    c->deps_len = (size_t)(r.p - c->deps);
    c->header_len = (size_t)(r.p - src);
    c->body = rd_lbytes(&r, &c->body_len, WEFT_MAX_CHANGE_BYTES);
    c->signed_len = (size_t)(r.p - src);
    c->sig_len = suite_sig_len(c->suite);
    c->sig = rd_take(&r, c->sig_len);
    if (r.err) return r.err;
    if (c->sig_len == 0) c->sig = NULL;
    c->total_len = (size_t)(r.p - src);
    return WEFT_OK;
}

int weft_change_dep_next(const weft_change *c, size_t *pos, weft_dep *dep) {
    if (!c || !pos || !dep || *pos >= c->deps_len) return 0;
    wreader r;
    rd_init(&r, c->deps + *pos, c->deps_len - *pos);
    dep->author = rd_take(&r, 32);
    dep->seq = rd_varint(&r);
    if (r.err) return 0;
    *pos = (size_t)(r.p - c->deps);
    return 1;
}

void weft_change_hash(uint8_t hash[WEFT_HASH_BYTES], const weft_change *c) {
    weft_blake2b(hash, WEFT_HASH_BYTES, c->record, c->total_len);
}
