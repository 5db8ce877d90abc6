/*
 * Suite V1 on top of a crypto backend: a body is sealed as
 * nonce(24) || XChaCha20-Poly1305-IETF(ops, ad = header) and the record up
 * to the signature is signed with Ed25519. A fresh random nonce per change
 * is safe with XChaCha's 192-bit nonces. Secrets live in weft_suite_v1 and
 * are wiped by weft_suite_v1_wipe; temporaries are wiped on every path.
 */
#include "weft/crypto.h"
#include "weft/change.h"
#include "mem.h"

static int v1_seal(void *ctx, uint8_t *dst, const uint8_t *pt, size_t pt_len, const uint8_t *ad,
                   size_t ad_len) {
    weft_suite_v1 *st = ctx;
    if (!st->can_open) return WEFT_ECRYPTO;
    int rc = st->be->random(st->be->ctx, dst, WEFT_AEAD_NPUBBYTES);
    if (rc) return rc;
    return st->be->aead_encrypt(st->be->ctx, dst + WEFT_AEAD_NPUBBYTES, pt, pt_len, ad, ad_len, dst,
                                st->content_key);
}

static int v1_open(void *ctx, uint8_t *dst, const uint8_t *ct, size_t ct_len, const uint8_t *ad,
                   size_t ad_len) {
    weft_suite_v1 *st = ctx;
    if (!st->can_open || ct_len < WEFT_SUITE_V1_OVERHEAD) return WEFT_ECRYPTO;
    int rc = st->be->aead_decrypt(st->be->ctx, dst, ct + WEFT_AEAD_NPUBBYTES,
                                  ct_len - WEFT_AEAD_NPUBBYTES, ad, ad_len, ct, st->content_key);
    /* Changes do not name their key epoch: one sealed before a rotation
     * (or by a member who had not seen it yet) opens with an older key,
     * newest first. A failed try costs one Poly1305 tag. */
    for (size_t i = st->n_old; rc == WEFT_ECRYPTO && i > 0; i--)
        rc =
            st->be->aead_decrypt(st->be->ctx, dst, ct + WEFT_AEAD_NPUBBYTES,
                                 ct_len - WEFT_AEAD_NPUBBYTES, ad, ad_len, ct, st->old_keys[i - 1]);
    return rc;
}

static int v1_sign(void *ctx, uint8_t *sig, const uint8_t *msg, size_t len) {
    weft_suite_v1 *st = ctx;
    if (!st->can_sign) return WEFT_ECRYPTO;
    return st->be->sign(st->be->ctx, sig, msg, len, st->author_sk);
}

static int v1_verify(void *ctx, const uint8_t *author_key, const uint8_t *sig, const uint8_t *msg,
                     size_t len) {
    weft_suite_v1 *st = ctx;
    return st->be->verify(st->be->ctx, sig, msg, len, author_key) ? WEFT_ECRYPTO : WEFT_OK;
}

static int backend_complete(const weft_crypto_backend *be) {
    return be && be->random && be->sign_seed_keypair && be->sign && be->verify &&
           be->aead_encrypt && be->aead_decrypt;
}

int weft_suite_v1_init(weft_crypto *table, weft_suite_v1 *st, const weft_crypto_backend *be,
                       const uint8_t *content_key, const uint8_t *author_sk) {
    validate_or_ret(table && st && backend_complete(be), WEFT_EINVAL);
    memset(st, 0, sizeof *st);
    st->be = be;
    if (content_key) {
        memcpy(st->content_key, content_key, WEFT_AEAD_KEYBYTES);
        st->can_open = 1;
    }
    if (author_sk) {
        memcpy(st->author_sk, author_sk, WEFT_SIGN_SECRETKEYBYTES);
        st->can_sign = 1;
    }
    *table = (weft_crypto){
        WEFT_SUITE_V1, WEFT_SUITE_V1_OVERHEAD, v1_seal, v1_open, v1_sign, v1_verify, st};
    return WEFT_OK;
}

static int holds_key(const weft_suite_v1 *st, const uint8_t *key) {
    if (st->can_open && memcmp(st->content_key, key, WEFT_AEAD_KEYBYTES) == 0) return 1;
    for (size_t i = 0; i < st->n_old; i++)
        if (memcmp(st->old_keys[i], key, WEFT_AEAD_KEYBYTES) == 0) return 1;
    return 0;
}

int weft_suite_v1_rekey(weft_suite_v1 *st, const uint8_t *new_key) {
    validate_or_ret(st && new_key && st->can_open, WEFT_EINVAL);
    if (memcmp(st->content_key, new_key, WEFT_AEAD_KEYBYTES) == 0) return WEFT_OK;
    if (st->n_old == WEFT_SUITE_V1_MAX_OLD_KEYS) return WEFT_ELIMIT;
    /* The new key may have been held as an old one (added before it was
     * known to be the newest): it moves, so each key is held once. */
    size_t n = 0;
    for (size_t i = 0; i < st->n_old; i++)
        if (memcmp(st->old_keys[i], new_key, WEFT_AEAD_KEYBYTES) != 0)
            memcpy(st->old_keys[n++], st->old_keys[i], WEFT_AEAD_KEYBYTES);
    memcpy(st->old_keys[n++], st->content_key, WEFT_AEAD_KEYBYTES);
    for (size_t i = n; i < st->n_old + 1 && i < WEFT_SUITE_V1_MAX_OLD_KEYS; i++)
        weft__wipe(st->old_keys[i], WEFT_AEAD_KEYBYTES);
    st->n_old = n;
    memcpy(st->content_key, new_key, WEFT_AEAD_KEYBYTES);
    return WEFT_OK;
}

int weft_suite_v1_add_key(weft_suite_v1 *st, const uint8_t *key) {
    validate_or_ret(st && key && st->can_open, WEFT_EINVAL);
    if (holds_key(st, key)) return WEFT_OK;
    if (st->n_old == WEFT_SUITE_V1_MAX_OLD_KEYS) return WEFT_ELIMIT;
    /* Older keys go first: the newest are tried first. */
    memmove(st->old_keys[1], st->old_keys[0], st->n_old * WEFT_AEAD_KEYBYTES);
    memcpy(st->old_keys[0], key, WEFT_AEAD_KEYBYTES);
    st->n_old++;
    return WEFT_OK;
}

void weft_suite_v1_wipe(weft_suite_v1 *st) {
    if (st) weft__wipe(st, sizeof *st);
}

int weft_keypair_generate(const weft_crypto_backend *be, uint8_t *pk, uint8_t *sk) {
    validate_or_ret(backend_complete(be) && pk && sk, WEFT_EINVAL);
    uint8_t seed[WEFT_SIGN_SEEDBYTES];
    int rc = be->random(be->ctx, seed, sizeof seed);
    if (!rc) rc = be->sign_seed_keypair(be->ctx, pk, sk, seed);
    weft__wipe(seed, sizeof seed);
    return rc;
}

int weft_change_verify(const weft_crypto_backend *be, const weft_change *c) {
    validate_or_ret(backend_complete(be) && c && c->record, WEFT_EINVAL);
    if (c->suite != WEFT_SUITE_V1 || c->sig_len != WEFT_SIGNBYTES) return WEFT_ESUITE;
    return be->verify(be->ctx, c->sig, c->record, c->signed_len, c->author) ? WEFT_ECRYPTO
                                                                            : WEFT_OK;
}

int weft_change_open(const weft_crypto_backend *be, const uint8_t *content_key,
                     const weft_change *c, uint8_t *dst, size_t dst_cap, size_t *out_len) {
    validate_or_ret(content_key && out_len && (dst || dst_cap == 0), WEFT_EINVAL);
    int rc = weft_change_verify(be, c);
    if (rc) return rc;
    if (c->body_len < WEFT_SUITE_V1_OVERHEAD) return WEFT_ECRYPTO;
    size_t n = c->body_len - WEFT_SUITE_V1_OVERHEAD;
    if (dst_cap < n) return WEFT_ENOSPACE;
    rc = be->aead_decrypt(be->ctx, dst, c->body + WEFT_AEAD_NPUBBYTES,
                          c->body_len - WEFT_AEAD_NPUBBYTES, c->record, c->header_len, c->body,
                          content_key);
    if (rc) {
        weft__wipe(dst, n);
        return WEFT_ECRYPTO;
    }
    *out_len = n;
    return WEFT_OK;
}

int weft_key_from_passphrase(const weft_crypto_backend *be, uint8_t *key, const char *pw,
                             size_t pwlen, const uint8_t *salt) {
    validate_or_ret(be && key && (pw || pwlen == 0) && salt, WEFT_EINVAL);
    if (!be->pwhash) return WEFT_EUNAVAILABLE;
    /* libsodium's INTERACTIVE limits: about 0.1 s and 64 MiB, fine for an
     * occasional backup or restore in a browser. */
    return be->pwhash(be->ctx, key, 32, pw, pwlen, salt, 2, (size_t)64 << 20);
}

int weft_box_seal_to(const weft_crypto_backend *be, uint8_t *c, const uint8_t *m, size_t mlen,
                     const uint8_t *pk) {
    validate_or_ret(be && c && (m || !mlen) && pk, WEFT_EINVAL);
    if (!be->sign_pk_to_box || !be->box_seal) return WEFT_EUNAVAILABLE;
    uint8_t xpk[WEFT_BOX_KEYBYTES];
    int rc = be->sign_pk_to_box(be->ctx, xpk, pk);
    if (!rc) rc = be->box_seal(be->ctx, c, m, mlen, xpk);
    return rc;
}

int weft_box_open_with(const weft_crypto_backend *be, uint8_t *m, const uint8_t *c, size_t clen,
                       const uint8_t *sk) {
    validate_or_ret(be && m && c && sk && clen >= WEFT_BOX_SEALBYTES, WEFT_EINVAL);
    if (!be->sign_pk_to_box || !be->sign_sk_to_box || !be->box_seal_open) return WEFT_EUNAVAILABLE;
    uint8_t xpk[WEFT_BOX_KEYBYTES], xsk[WEFT_BOX_KEYBYTES];
    /* An Ed25519 secret key holds its public key in its last 32 bytes. */
    int rc = be->sign_pk_to_box(be->ctx, xpk, sk + 32);
    if (!rc) rc = be->sign_sk_to_box(be->ctx, xsk, sk);
    if (!rc) rc = be->box_seal_open(be->ctx, m, c, clen, xpk, xsk);
    weft__wipe(xsk, sizeof xsk);
    return rc;
}

size_t weft_box_sealbytes(void) {
    return WEFT_BOX_SEALBYTES;
}

size_t weft_sign_publickeybytes(void) {
    return WEFT_SIGN_PUBLICKEYBYTES;
}
size_t weft_sign_secretkeybytes(void) {
    return WEFT_SIGN_SECRETKEYBYTES;
}
size_t weft_signbytes(void) {
    return WEFT_SIGNBYTES;
}
size_t weft_aead_keybytes(void) {
    return WEFT_AEAD_KEYBYTES;
}
size_t weft_suite_v1_overhead(void) {
    return WEFT_SUITE_V1_OVERHEAD;
}
