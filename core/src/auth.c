/*
 * Capability tokens, proofs and invite links (contract in weft/auth.h).
 *
 * Token layout: u8 version | u8 kind=3 | space[32] | issuer[32] |
 * grantee[32] (zeros: any) | u8 rights | varint not_before | varint expires |
 * id[16] | varint parent_len | parent | sig[64] over everything before it.
 * The kind byte sits where a change's does, so no signed change can be
 * passed off as a token or the other way round; proofs sign under their own
 * domain string.
 */
#include "weft/auth.h"
#include "mem.h"

static const uint8_t zero32[32];

typedef struct token_view {
    weft_token t;
    const uint8_t *parent;
    size_t parent_len;
    const uint8_t *sig;
    size_t signed_len;
} token_view;

static int token_decode(token_view *v, const uint8_t *p, size_t len) {
    wreader r;
    rd_init(&r, p, len);
    memset(v, 0, sizeof *v);
    uint8_t version = rd_u8(&r), kind = rd_u8(&r);
    if (r.err) return r.err;
    if (version != WEFT_FORMAT_VERSION) return WEFT_EVERSION;
    if (kind != WEFT_RECORD_TOKEN) return WEFT_EMALFORMED;
    const uint8_t *space = rd_take(&r, 32), *issuer = rd_take(&r, 32), *grantee = rd_take(&r, 32);
    v->t.rights = rd_u8(&r);
    v->t.not_before = rd_varint(&r);
    v->t.expires = rd_varint(&r);
    const uint8_t *id = rd_take(&r, WEFT_TOKEN_IDBYTES);
    v->parent = rd_lbytes(&r, &v->parent_len, WEFT_TOKEN_MAX_BYTES);
    v->signed_len = (size_t)(r.p - p);
    v->sig = rd_take(&r, WEFT_SIGNBYTES);
    if (r.err) return r.err;
    if (rd_left(&r)) return WEFT_EMALFORMED;
    if (v->t.rights < WEFT_RIGHT_READ || v->t.rights > WEFT_RIGHT_ADMIN ||
        (v->t.expires && v->t.expires <= v->t.not_before))
        return WEFT_EMALFORMED;
    memcpy(v->t.space, space, 32);
    memcpy(v->t.issuer, issuer, 32);
    memcpy(v->t.grantee, grantee, 32);
    v->t.any_grantee = memcmp(grantee, zero32, 32) == 0;
    memcpy(v->t.id, id, WEFT_TOKEN_IDBYTES);
    v->t.delegated = memcmp(issuer, space, 32) != 0;
    return WEFT_OK;
}

static int time_ok(const weft_token *t, uint64_t now) {
    if (now < t->not_before) return WEFT_ENOTYET;
    if (t->expires && now >= t->expires) return WEFT_EEXPIRED;
    return WEFT_OK;
}

/* Checks one link: shape, space, signature by its issuer, time. */
static int verify_link(const weft_crypto_backend *be, const token_view *v, const uint8_t *tok,
                       const uint8_t *space, uint64_t now) {
    if (memcmp(v->t.space, space, 32) != 0) return WEFT_ESPACE;
    if (be->verify(be->ctx, v->sig, tok, v->signed_len, v->t.issuer)) return WEFT_ECRYPTO;
    return time_ok(&v->t, now);
}

int weft_token_verify(const weft_crypto_backend *be, const uint8_t *tok, size_t len,
                      const uint8_t *space, uint64_t now, weft_token *t) {
    validate_or_ret(be && be->verify && tok && space && t, WEFT_EINVAL);
    memset(t, 0, sizeof *t);
    token_view v;
    int rc = token_decode(&v, tok, len);
    if (rc) return rc;
    if (!v.t.delegated) {
        if (v.parent_len) return WEFT_EDELEGATION; /* the owner needs no parent */
        rc = verify_link(be, &v, tok, space, now);
    } else {
        /* An admin's token: the parent must be an owner-signed admin token
         * granted to exactly this issuer, valid now, and not outlived. */
        token_view p;
        if (!v.parent_len) return WEFT_EDELEGATION;
        rc = token_decode(&p, v.parent, v.parent_len);
        if (rc) return rc == WEFT_ETRUNCATED ? WEFT_EMALFORMED : rc;
        if (p.t.delegated || p.parent_len || p.t.rights != WEFT_RIGHT_ADMIN || p.t.any_grantee ||
            memcmp(p.t.grantee, v.t.issuer, 32) != 0 ||
            (p.t.expires && (!v.t.expires || v.t.expires > p.t.expires)))
            return WEFT_EDELEGATION;
        rc = verify_link(be, &v, tok, space, now);
        if (!rc) rc = verify_link(be, &p, v.parent, space, now);
    }
    if (!rc) *t = v.t;
    return rc;
}

int weft_token_allows(const weft_token *t, const uint8_t *key, uint8_t right) {
    validate_or_ret(t && key, WEFT_EINVAL);
    if (t->rights < right) return WEFT_ERIGHTS;
    if (!t->any_grantee && memcmp(t->grantee, key, 32) != 0) return WEFT_ERIGHTS;
    return WEFT_OK;
}

int weft_token_issue(const weft_crypto_backend *be, uint8_t *dst, size_t dst_cap, size_t *len,
                     const uint8_t *space, const uint8_t *issuer_sk, const uint8_t *parent,
                     size_t parent_len, const uint8_t *grantee, uint8_t rights, uint64_t not_before,
                     uint64_t expires) {
    validate_or_ret(be && be->random && be->sign && dst && len && space && issuer_sk, WEFT_EINVAL);
    validate_or_ret(rights >= WEFT_RIGHT_READ && rights <= WEFT_RIGHT_ADMIN, WEFT_EINVAL);
    validate_or_ret(!expires || expires > not_before, WEFT_EINVAL);
    validate_or_ret(!grantee || memcmp(grantee, zero32, 32) != 0, WEFT_EINVAL);
    const uint8_t *issuer = issuer_sk + 32; /* libsodium's sk is seed || pk */
    int owner = memcmp(issuer, space, 32) == 0;
    validate_or_ret(owner == (parent == NULL || parent_len == 0), WEFT_EINVAL);
    if (!owner) {
        /* Only an owner-signed admin token of this issuer may be a parent,
         * which also keeps chains at two links and tokens within
         * WEFT_TOKEN_MAX_BYTES. */
        token_view p;
        if (token_decode(&p, parent, parent_len) || p.t.delegated || p.parent_len ||
            p.t.rights != WEFT_RIGHT_ADMIN || memcmp(p.t.grantee, issuer, 32) != 0)
            return WEFT_EDELEGATION;
    }
    size_t need = 2 + 96 + 1 + 10 + 10 + WEFT_TOKEN_IDBYTES + 10 + parent_len + WEFT_SIGNBYTES;
    if (dst_cap < need) return WEFT_ENOSPACE;
    uint8_t *p = dst;
    *p++ = WEFT_FORMAT_VERSION;
    *p++ = WEFT_RECORD_TOKEN;
    memcpy(p, space, 32), p += 32;
    memcpy(p, issuer, 32), p += 32;
    memcpy(p, grantee ? grantee : zero32, 32), p += 32;
    *p++ = rights;
    p += varint_put(p, not_before);
    p += varint_put(p, expires);
    int rc = be->random(be->ctx, p, WEFT_TOKEN_IDBYTES);
    if (rc) return rc;
    p += WEFT_TOKEN_IDBYTES;
    p += varint_put(p, parent_len);
    if (parent_len) memcpy(p, parent, parent_len), p += parent_len;
    rc = be->sign(be->ctx, p, dst, (size_t)(p - dst), issuer_sk);
    if (rc) return rc;
    *len = (size_t)(p - dst) + WEFT_SIGNBYTES;
    return WEFT_OK;
}

/* ---- proofs ---- */

#define PROOF_DOMAIN     "weft-proof-v1"
#define PROOF_MAX_NONCE  64
#define PROOF_DOMAIN_LEN (sizeof PROOF_DOMAIN - 1)

static int proof_message(uint8_t *msg, const uint8_t *space, const uint8_t *nonce, size_t n) {
    if (n == 0 || n > PROOF_MAX_NONCE) return WEFT_EINVAL;
    memcpy(msg, PROOF_DOMAIN, PROOF_DOMAIN_LEN);
    memcpy(msg + PROOF_DOMAIN_LEN, space, 32);
    memcpy(msg + PROOF_DOMAIN_LEN + 32, nonce, n);
    return WEFT_OK;
}

int weft_proof_sign(const weft_crypto_backend *be, uint8_t *sig, const uint8_t *sk,
                    const uint8_t *space, const uint8_t *nonce, size_t nonce_len) {
    validate_or_ret(be && be->sign && sig && sk && space && nonce, WEFT_EINVAL);
    uint8_t msg[PROOF_DOMAIN_LEN + 32 + PROOF_MAX_NONCE];
    int rc = proof_message(msg, space, nonce, nonce_len);
    return rc ? rc : be->sign(be->ctx, sig, msg, PROOF_DOMAIN_LEN + 32 + nonce_len, sk);
}

int weft_proof_verify(const weft_crypto_backend *be, const uint8_t *sig, const uint8_t *pk,
                      const uint8_t *space, const uint8_t *nonce, size_t nonce_len) {
    validate_or_ret(be && be->verify && sig && pk && space && nonce, WEFT_EINVAL);
    uint8_t msg[PROOF_DOMAIN_LEN + 32 + PROOF_MAX_NONCE];
    int rc = proof_message(msg, space, nonce, nonce_len);
    if (rc) return rc;
    return be->verify(be->ctx, sig, msg, PROOF_DOMAIN_LEN + 32 + nonce_len, pk) ? WEFT_ECRYPTO
                                                                                : WEFT_OK;
}

/* ---- base64url and invites ---- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t weft_base64url_len(size_t n) {
    return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

int weft_base64url_encode(char *dst, size_t dst_cap, size_t *len, const uint8_t *src,
                          size_t src_len) {
    validate_or_ret(dst && len && (src || src_len == 0), WEFT_EINVAL);
    size_t need = weft_base64url_len(src_len);
    if (dst_cap < need) return WEFT_ENOSPACE;
    size_t o = 0, i = 0;
    for (; i + 3 <= src_len; i += 3) {
        uint32_t v = (uint32_t)src[i] << 16 | (uint32_t)src[i + 1] << 8 | src[i + 2];
        dst[o++] = b64[v >> 18];
        dst[o++] = b64[(v >> 12) & 63];
        dst[o++] = b64[(v >> 6) & 63];
        dst[o++] = b64[v & 63];
    }
    if (src_len - i == 1) {
        dst[o++] = b64[src[i] >> 2];
        dst[o++] = b64[(src[i] & 3) << 4];
    } else if (src_len - i == 2) {
        uint32_t v = (uint32_t)src[i] << 8 | src[i + 1];
        dst[o++] = b64[v >> 10];
        dst[o++] = b64[(v >> 4) & 63];
        dst[o++] = b64[(v & 15) << 2];
    }
    *len = o;
    return WEFT_OK;
}

static int b64_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

int weft_base64url_decode(uint8_t *dst, size_t dst_cap, size_t *len, const char *src,
                          size_t src_len) {
    validate_or_ret(len && (src || src_len == 0) && (dst || dst_cap == 0), WEFT_EINVAL);
    if (src_len % 4 == 1) return WEFT_EMALFORMED;
    size_t need = src_len / 4 * 3 + (src_len % 4 ? src_len % 4 - 1 : 0);
    if (dst_cap < need) return WEFT_ENOSPACE;
    uint32_t acc = 0;
    size_t bits = 0, o = 0;
    for (size_t i = 0; i < src_len; i++) {
        int v = b64_value(src[i]);
        if (v < 0) return WEFT_EMALFORMED;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            dst[o++] = (uint8_t)(acc >> bits);
        }
    }
    if (acc & ((1u << bits) - 1)) return WEFT_EMALFORMED; /* non-zero padding bits */
    *len = o;
    return WEFT_OK;
}

size_t weft_invite_bound(size_t base_len, size_t token_len) {
    return base_len + 1 + 2 * weft_base64url_len(32) + weft_base64url_len(token_len) + 2 + 1;
}

int weft_invite_encode(char *dst, size_t dst_cap, size_t *len, const char *base, size_t base_len,
                       const uint8_t *space, const uint8_t *token, size_t token_len,
                       const uint8_t *content_key) {
    validate_or_ret(dst && len && (base || base_len == 0) && space && token && content_key,
                    WEFT_EINVAL);
    for (size_t i = 0; i < base_len; i++)
        validate_or_ret(base[i] != '#', WEFT_EINVAL);
    if (dst_cap < weft_invite_bound(base_len, token_len)) return WEFT_ENOSPACE;
    size_t o = base_len, n;
    if (base_len) memcpy(dst, base, base_len);
    dst[o++] = '#';
    weft_base64url_encode(dst + o, dst_cap - o, &n, space, 32);
    o += n;
    dst[o++] = '.';
    weft_base64url_encode(dst + o, dst_cap - o, &n, token, token_len);
    o += n;
    dst[o++] = '.';
    weft_base64url_encode(dst + o, dst_cap - o, &n, content_key, 32);
    o += n;
    dst[o] = '\0';
    *len = o;
    return WEFT_OK;
}

int weft_invite_decode(const char *link, size_t len, uint8_t *space, uint8_t *token,
                       size_t token_cap, size_t *token_len, uint8_t *content_key) {
    validate_or_ret(link && space && token && token_len && content_key, WEFT_EINVAL);
    const char *frag = memchr(link, '#', len);
    const char *p = frag ? frag + 1 : link, *end = link + len;
    const char *dot1 = memchr(p, '.', (size_t)(end - p));
    const char *dot2 = dot1 ? memchr(dot1 + 1, '.', (size_t)(end - dot1 - 1)) : NULL;
    if (!dot2 || memchr(dot2 + 1, '.', (size_t)(end - dot2 - 1))) return WEFT_EMALFORMED;
    size_t n;
    uint8_t key[33];
    if (weft_base64url_decode(space, 32, &n, p, (size_t)(dot1 - p)) || n != 32)
        return WEFT_EMALFORMED;
    int rc =
        weft_base64url_decode(token, token_cap, token_len, dot1 + 1, (size_t)(dot2 - dot1 - 1));
    if (rc) return rc;
    if (weft_base64url_decode(key, sizeof key, &n, dot2 + 1, (size_t)(end - dot2 - 1)) || n != 32) {
        weft__wipe(key, sizeof key);
        return WEFT_EMALFORMED;
    }
    memcpy(content_key, key, 32);
    weft__wipe(key, sizeof key);
    return WEFT_OK;
}
