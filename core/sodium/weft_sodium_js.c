/*
 * libsodium.js as a weft_crypto_backend: the WASM build's twin of
 * weft_sodium.c, so both builds expose the same weft_sodium_backend().
 *
 * libsodium.js runs in its own WASM instance with its own memory, so every
 * call copies its inputs over and its outputs back (wasm/sodium_imports.js).
 * The suites call the backend once per change (one seal, one signature),
 * never per op, so the copies are batched per change by construction.
 * The JS side answers 0 (done), 1 (crypto failure) or 2 (not loaded): the
 * mapping to error codes stays here, in one place.
 */
#include "weft/error.h"
#include "weft/sodium.h"

/* Implemented in wasm/sodium_imports.js (--js-library). */
extern int weft_js_sodium_ready(void);
extern int weft_js_random(uint8_t *buf, size_t len);
extern int weft_js_sign_seed_keypair(uint8_t *pk, uint8_t *sk, const uint8_t *seed);
extern int weft_js_sign(uint8_t *sig, const uint8_t *msg, size_t len, const uint8_t *sk);
extern int weft_js_verify(const uint8_t *sig, const uint8_t *msg, size_t len, const uint8_t *pk);
extern int weft_js_aead_encrypt(uint8_t *c, const uint8_t *m, size_t mlen, const uint8_t *ad,
                                size_t adlen, const uint8_t *nonce, const uint8_t *key);
extern int weft_js_aead_decrypt(uint8_t *m, const uint8_t *c, size_t clen, const uint8_t *ad,
                                size_t adlen, const uint8_t *nonce, const uint8_t *key);
/* Limits travel as doubles: a uint64_t would need BigInt across the boundary. */
extern int weft_js_pwhash(uint8_t *out, size_t outlen, const char *pw, size_t pwlen,
                          const uint8_t *salt, double opslimit, double memlimit);
extern int weft_js_sign_pk_to_box(uint8_t *xpk, const uint8_t *pk);
extern int weft_js_sign_sk_to_box(uint8_t *xsk, const uint8_t *sk);
extern int weft_js_box_seal(uint8_t *c, const uint8_t *m, size_t mlen, const uint8_t *xpk);
extern int weft_js_box_seal_open(uint8_t *m, const uint8_t *c, size_t clen, const uint8_t *xpk,
                                 const uint8_t *xsk);

static int code(int js) {
    return js == 0 ? WEFT_OK : js == 2 ? WEFT_EUNAVAILABLE : WEFT_ECRYPTO;
}

static int js_random(void *ctx, uint8_t *buf, size_t len) {
    (void)ctx;
    return code(weft_js_random(buf, len));
}

static int js_seed_keypair(void *ctx, uint8_t *pk, uint8_t *sk, const uint8_t *seed) {
    (void)ctx;
    return code(weft_js_sign_seed_keypair(pk, sk, seed));
}

static int js_sign(void *ctx, uint8_t *sig, const uint8_t *msg, size_t len, const uint8_t *sk) {
    (void)ctx;
    return code(weft_js_sign(sig, msg, len, sk));
}

static int js_verify(void *ctx, const uint8_t *sig, const uint8_t *msg, size_t len,
                     const uint8_t *pk) {
    (void)ctx;
    return code(weft_js_verify(sig, msg, len, pk));
}

static int js_encrypt(void *ctx, uint8_t *c, const uint8_t *m, size_t mlen, const uint8_t *ad,
                      size_t adlen, const uint8_t *nonce, const uint8_t *key) {
    (void)ctx;
    return code(weft_js_aead_encrypt(c, m, mlen, ad, adlen, nonce, key));
}

static int js_decrypt(void *ctx, uint8_t *m, const uint8_t *c, size_t clen, const uint8_t *ad,
                      size_t adlen, const uint8_t *nonce, const uint8_t *key) {
    (void)ctx;
    return code(weft_js_aead_decrypt(m, c, clen, ad, adlen, nonce, key));
}

static int js_pwhash(void *ctx, uint8_t *out, size_t outlen, const char *pw, size_t pwlen,
                     const uint8_t *salt, uint64_t opslimit, size_t memlimit) {
    (void)ctx;
    return code(weft_js_pwhash(out, outlen, pw, pwlen, salt, (double)opslimit, (double)memlimit));
}

static int js_pk_to_box(void *ctx, uint8_t *xpk, const uint8_t *pk) {
    (void)ctx;
    return code(weft_js_sign_pk_to_box(xpk, pk));
}

static int js_sk_to_box(void *ctx, uint8_t *xsk, const uint8_t *sk) {
    (void)ctx;
    return code(weft_js_sign_sk_to_box(xsk, sk));
}

static int js_box_seal(void *ctx, uint8_t *c, const uint8_t *m, size_t mlen, const uint8_t *xpk) {
    (void)ctx;
    return code(weft_js_box_seal(c, m, mlen, xpk));
}

static int js_box_seal_open(void *ctx, uint8_t *m, const uint8_t *c, size_t clen,
                            const uint8_t *xpk, const uint8_t *xsk) {
    (void)ctx;
    return code(weft_js_box_seal_open(m, c, clen, xpk, xsk));
}

int weft_sodium_backend(weft_crypto_backend *be) {
    if (!be) return WEFT_EINVAL;
    /* The JS side must have awaited libsodium's `ready` before this call. */
    if (weft_js_sodium_ready() != 0) return WEFT_ECRYPTO;
    *be = (weft_crypto_backend){
        .random = js_random,
        .sign_seed_keypair = js_seed_keypair,
        .sign = js_sign,
        .verify = js_verify,
        .aead_encrypt = js_encrypt,
        .aead_decrypt = js_decrypt,
        /* Argon2id lives only in the larger sumo build, which the JS side
         * loads on first use: until then this answers WEFT_EUNAVAILABLE. */
        .pwhash = js_pwhash,
        .sign_pk_to_box = js_pk_to_box,
        .sign_sk_to_box = js_sk_to_box,
        .box_seal = js_box_seal,
        .box_seal_open = js_box_seal_open,
    };
    return WEFT_OK;
}
