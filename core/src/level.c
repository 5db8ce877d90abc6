/*
 * Level records (contract and layout in weft/level.h, rules in
 * docs/FORMAT.md §10).
 *
 * The kind byte (4) sits where a change's and a token's do, so a signature
 * over one can never be passed off as another. Decoding reads through the
 * bounded reader only; signing computes the exact size before writing.
 */
#include "weft/level.h"
#include "weft/error.h"
#include "weft/members.h"
#include "mem.h"

#include <assert.h>

int weft_format_level(void) {
    return WEFT_FORMAT_LEVEL;
}

size_t weft_level_max_bytes(void) {
    return WEFT_LEVEL_MAX_BYTES;
}

typedef struct level_view {
    weft_level l;
    const uint8_t *parent;
    size_t parent_len;
    const uint8_t *sig;
    size_t signed_len;
} level_view;

static int level_read(level_view *v, const uint8_t *p, size_t len, size_t *used) {
    memset(v, 0, sizeof *v);
    wreader r;
    rd_init(&r, p, len);
    uint8_t version = rd_u8(&r), kind = rd_u8(&r);
    if (r.err) return r.err;
    if (version != WEFT_FORMAT_VERSION) return WEFT_EVERSION;
    if (kind != WEFT_RECORD_LEVEL) return WEFT_EMALFORMED;
    const uint8_t *space = rd_take(&r, 32), *issuer = rd_take(&r, 32);
    uint64_t level = rd_varint(&r);
    v->l.wall_ms = rd_varint(&r);
    v->parent = rd_lbytes(&r, &v->parent_len, WEFT_TOKEN_MAX_BYTES);
    v->signed_len = (size_t)(r.p - p);
    v->sig = rd_take(&r, WEFT_SIGNBYTES);
    if (r.err) return r.err;
    if (used)
        *used = (size_t)(r.p - p);
    else if (rd_left(&r))
        return WEFT_EMALFORMED;
    /* Level 1 is every space's level without a record; a record for it
     * would say nothing. */
    if (level < 2 || level > UINT32_MAX) return WEFT_EMALFORMED;
    v->l.level = (uint32_t)level;
    memcpy(v->l.space, space, 32);
    memcpy(v->l.issuer, issuer, 32);
    v->l.delegated = memcmp(space, issuer, 32) != 0;
    /* The owner needs no parent; an admin cannot do without one. */
    if (v->l.delegated != (v->parent_len != 0)) return WEFT_EMALFORMED;
    return 0;
}

int weft_level_decode(weft_level *out, const uint8_t *rec, size_t len) {
    validate_or_ret(out && (rec || !len), WEFT_EINVAL);
    level_view v;
    int rc = level_read(&v, rec, len, NULL);
    if (!rc) *out = v.l;
    return rc;
}

int weft_level_decode_prefix(weft_level *out, const uint8_t *rec, size_t len, size_t *rec_len) {
    validate_or_ret(out && rec_len && (rec || !len), WEFT_EINVAL);
    level_view v;
    int rc = level_read(&v, rec, len, rec_len);
    if (!rc) *out = v.l;
    return rc;
}

int weft_level_verify(const weft_crypto_backend *be, const uint8_t *rec, size_t len,
                      const uint8_t *space, weft_level *out) {
    validate_or_ret(be && out && space && (rec || !len), WEFT_EINVAL);
    level_view v;
    int rc = level_read(&v, rec, len, NULL);
    if (rc) return rc;
    if (memcmp(v.l.space, space, 32) != 0) return WEFT_ESPACE;
    if (be->verify(be->ctx, v.sig, rec, v.signed_len, v.l.issuer)) return WEFT_ECRYPTO;
    if (v.l.delegated) {
        /* Checked at the record's own time, not the reader's clock, so that
         * every replica, today or in a year, comes to the same level. */
        if (v.parent_len >= 2 && v.parent[1] == WEFT_RECORD_GRANT) {
            /* An admin admitted by grant holds no token: its grant chain. */
            uint8_t rights;
            rc = weft_grant_chain_verify(be, v.parent, v.parent_len, space, v.l.issuer,
                                         v.l.wall_ms / 1000, &rights);
            if (rc) return rc == WEFT_ESPACE ? WEFT_EDELEGATION : rc;
            if (rights < WEFT_RIGHT_ADMIN) return WEFT_ERIGHTS;
        } else {
            weft_token t;
            rc = weft_token_verify(be, v.parent, v.parent_len, space, v.l.wall_ms / 1000, &t);
            if (rc) return rc == WEFT_ESPACE ? WEFT_EDELEGATION : rc;
            rc = weft_token_allows(&t, v.l.issuer, WEFT_RIGHT_ADMIN);
            if (rc) return rc;
        }
    }
    *out = v.l;
    return 0;
}

int weft_level_sign(const weft_crypto_backend *be, uint8_t *dst, size_t dst_cap, size_t *len,
                    const uint8_t *space, const uint8_t *issuer_sk, const uint8_t *parent,
                    size_t parent_len, uint32_t level, uint64_t wall_ms) {
    validate_or_ret(be && len && space && issuer_sk && (parent || !parent_len), WEFT_EINVAL);
    validate_or_ret(level >= 2 && level <= WEFT_FORMAT_LEVEL, WEFT_EINVAL);
    validate_or_ret(parent_len <= WEFT_TOKEN_MAX_BYTES, WEFT_EINVAL);
    /* An Ed25519 secret key holds its public key in its last 32 bytes. */
    const uint8_t *issuer = issuer_sk + 32;
    int owner = memcmp(issuer, space, 32) == 0;
    validate_or_ret(owner == (parent_len == 0), WEFT_EINVAL);
    size_t need = 2 + 64 + varint_len(level) + varint_len(wall_ms) + varint_len(parent_len) +
                  parent_len + WEFT_SIGNBYTES;
    if (!dst || dst_cap < need) return WEFT_ENOSPACE;
    uint8_t *p = dst;
    *p++ = WEFT_FORMAT_VERSION;
    *p++ = WEFT_RECORD_LEVEL;
    memcpy(p, space, 32);
    memcpy(p + 32, issuer, 32);
    p += 64;
    p += varint_put(p, level);
    p += varint_put(p, wall_ms);
    p += varint_put(p, parent_len);
    if (parent_len) memcpy(p, parent, parent_len);
    p += parent_len;
    int rc = be->sign(be->ctx, p, dst, (size_t)(p - dst), issuer_sk);
    if (rc) return rc;
    p += WEFT_SIGNBYTES;
    assert((size_t)(p - dst) == need);
    *len = need;
    return 0;
}
