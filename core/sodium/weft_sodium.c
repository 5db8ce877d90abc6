/*
 * libsodium as a weft_crypto_backend. Thin by design: each function maps to
 * one libsodium call and turns its -1 into a weft error code.
 */
#include "weft/sodium.h"
#include "weft/error.h"

#include <sodium.h>

static int sd_random(void *ctx, uint8_t *buf, size_t len) {
    (void)ctx;
    randombytes_buf(buf, len);
    return WEFT_OK;
}

static int sd_seed_keypair(void *ctx, uint8_t *pk, uint8_t *sk, const uint8_t *seed) {
    (void)ctx;
    return crypto_sign_seed_keypair(pk, sk, seed) ? WEFT_ECRYPTO : WEFT_OK;
}

static int sd_sign(void *ctx, uint8_t *sig, const uint8_t *msg, size_t len, const uint8_t *sk) {
    (void)ctx;
    return crypto_sign_detached(sig, NULL, msg, len, sk) ? WEFT_ECRYPTO : WEFT_OK;
}

static int sd_verify(void *ctx, const uint8_t *sig, const uint8_t *msg, size_t len,
                     const uint8_t *pk) {
    (void)ctx;
    return crypto_sign_verify_detached(sig, msg, len, pk) ? WEFT_ECRYPTO : WEFT_OK;
}

static int sd_encrypt(void *ctx, uint8_t *c, const uint8_t *m, size_t mlen, const uint8_t *ad,
                      size_t adlen, const uint8_t *nonce, const uint8_t *key) {
    (void)ctx;
    return crypto_aead_xchacha20poly1305_ietf_encrypt(c, NULL, m, mlen, ad, adlen, NULL, nonce, key)
               ? WEFT_ECRYPTO
               : WEFT_OK;
}

static int sd_decrypt(void *ctx, uint8_t *m, const uint8_t *c, size_t clen, const uint8_t *ad,
                      size_t adlen, const uint8_t *nonce, const uint8_t *key) {
    (void)ctx;
    return crypto_aead_xchacha20poly1305_ietf_decrypt(m, NULL, NULL, c, clen, ad, adlen, nonce, key)
               ? WEFT_ECRYPTO
               : WEFT_OK;
}

static int sd_pwhash(void *ctx, uint8_t *out, size_t outlen, const char *pw, size_t pwlen,
                     const uint8_t *salt, uint64_t opslimit, size_t memlimit) {
    (void)ctx;
    return crypto_pwhash(out, outlen, pw, pwlen, salt, opslimit, memlimit,
                         crypto_pwhash_ALG_ARGON2ID13)
               ? WEFT_ENOMEM /* libsodium fails here only for lack of memory */
               : WEFT_OK;
}

static int sd_pk_to_box(void *ctx, uint8_t *xpk, const uint8_t *pk) {
    (void)ctx;
    return crypto_sign_ed25519_pk_to_curve25519(xpk, pk) ? WEFT_ECRYPTO : WEFT_OK;
}

static int sd_sk_to_box(void *ctx, uint8_t *xsk, const uint8_t *sk) {
    (void)ctx;
    return crypto_sign_ed25519_sk_to_curve25519(xsk, sk) ? WEFT_ECRYPTO : WEFT_OK;
}

static int sd_box_seal(void *ctx, uint8_t *c, const uint8_t *m, size_t mlen, const uint8_t *xpk) {
    (void)ctx;
    return crypto_box_seal(c, m, mlen, xpk) ? WEFT_ECRYPTO : WEFT_OK;
}

static int sd_box_seal_open(void *ctx, uint8_t *m, const uint8_t *c, size_t clen,
                            const uint8_t *xpk, const uint8_t *xsk) {
    (void)ctx;
    return crypto_box_seal_open(m, c, clen, xpk, xsk) ? WEFT_ECRYPTO : WEFT_OK;
}

int weft_sodium_backend(weft_crypto_backend *be) {
    if (!be) return WEFT_EINVAL;
    if (sodium_init() < 0) return WEFT_ECRYPTO;
    *be = (weft_crypto_backend){
        .random = sd_random,
        .sign_seed_keypair = sd_seed_keypair,
        .sign = sd_sign,
        .verify = sd_verify,
        .aead_encrypt = sd_encrypt,
        .aead_decrypt = sd_decrypt,
        .pwhash = sd_pwhash,
        .sign_pk_to_box = sd_pk_to_box,
        .sign_sk_to_box = sd_sk_to_box,
        .box_seal = sd_box_seal,
        .box_seal_open = sd_box_seal_open,
    };
    return WEFT_OK;
}
