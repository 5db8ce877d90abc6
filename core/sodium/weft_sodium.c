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

int weft_sodium_backend(weft_crypto_backend *be) {
    if (!be) return WEFT_EINVAL;
    if (sodium_init() < 0) return WEFT_ECRYPTO;
    *be = (weft_crypto_backend){sd_random,  sd_seed_keypair, sd_sign,   sd_verify,
                                sd_encrypt, sd_decrypt,      sd_pwhash, NULL};
    return WEFT_OK;
}
