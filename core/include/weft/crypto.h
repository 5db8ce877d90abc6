/*
 * Cryptography: the backend of primitives, and the cipher suites built on it.
 *
 * The core links no crypto library. A weft_crypto_backend supplies the
 * primitives — libsodium natively (weft/sodium.h), libsodium.js in WASM —
 * and the core builds everything else on top: sealing and signing changes
 * (suite V1), keys, capability tokens and invites (weft/auth.h). Randomness
 * comes from the backend too, so tests inject it and get byte-exact vectors.
 *
 * A weft_crypto is what a replica seals, opens, signs and verifies with. A
 * NULL table means WEFT_SUITE_PLAIN (bodies in clear, no signatures), for
 * tests and purely local data; weft_suite_v1_init makes a V1 table.
 */
#ifndef WEFT_CRYPTO_H
#define WEFT_CRYPTO_H

#include "weft/api.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WEFT_SIGN_PUBLICKEYBYTES 32
#define WEFT_SIGN_SECRETKEYBYTES 64 /* seed || public key, as libsodium */
#define WEFT_SIGN_SEEDBYTES      32
#define WEFT_SIGNBYTES           64
#define WEFT_AEAD_KEYBYTES       32
#define WEFT_AEAD_NPUBBYTES      24 /* XChaCha20-Poly1305-IETF nonce */
#define WEFT_AEAD_ABYTES         16
#define WEFT_PWHASH_SALTBYTES    16
#define WEFT_BOX_KEYBYTES        32 /* X25519 public or secret key */
#define WEFT_BOX_SEALBYTES       48 /* ephemeral public key + MAC of a sealed box */
/* A V1 body: nonce || ciphertext || tag. */
#define WEFT_SUITE_V1_OVERHEAD (WEFT_AEAD_NPUBBYTES + WEFT_AEAD_ABYTES)

/* The primitives. Every function returns 0 or a negative WEFT_E code. */
typedef struct weft_crypto_backend {
    /* Fills buf with unpredictable bytes. */
    int (*random)(void *ctx, uint8_t *buf, size_t len);
    /* Ed25519 key pair from a 32-byte seed. OUT: pk[32], sk[64]. */
    int (*sign_seed_keypair)(void *ctx, uint8_t *pk, uint8_t *sk, const uint8_t *seed);
    /* Ed25519 detached signature. OUT: sig[64]. */
    int (*sign)(void *ctx, uint8_t *sig, const uint8_t *msg, size_t len, const uint8_t *sk);
    /* 0 when sig is pk's signature of msg, else WEFT_ECRYPTO. */
    int (*verify)(void *ctx, const uint8_t *sig, const uint8_t *msg, size_t len, const uint8_t *pk);
    /* XChaCha20-Poly1305-IETF. OUT: c[mlen + 16]. */
    int (*aead_encrypt)(void *ctx, uint8_t *c, const uint8_t *m, size_t mlen, const uint8_t *ad,
                        size_t adlen, const uint8_t *nonce, const uint8_t *key);
    /* OUT: m[clen - 16]; WEFT_ECRYPTO when anything was altered or the key is wrong. */
    int (*aead_decrypt)(void *ctx, uint8_t *m, const uint8_t *c, size_t clen, const uint8_t *ad,
                        size_t adlen, const uint8_t *nonce, const uint8_t *key);
    /* Argon2id13. NULL when the backend lacks it (WEFT_EUNAVAILABLE then). */
    int (*pwhash)(void *ctx, uint8_t *out, size_t outlen, const char *pw, size_t pwlen,
                  const uint8_t *salt, uint64_t opslimit, size_t memlimit);
    /* An Ed25519 public key as an X25519 one (libsodium's
     * crypto_sign_ed25519_pk_to_curve25519), so that a member's signing
     * key can also receive sealed boxes. OUT: xpk[32]. WEFT_ECRYPTO when
     * pk is not a valid point. */
    int (*sign_pk_to_box)(void *ctx, uint8_t *xpk, const uint8_t *pk);
    /* The matching secret key (crypto_sign_ed25519_sk_to_curve25519).
     * OUT: xsk[32], a secret: the caller wipes it. */
    int (*sign_sk_to_box)(void *ctx, uint8_t *xsk, const uint8_t *sk);
    /* Anonymous sealed box to xpk (crypto_box_seal; its ephemeral key comes
     * from the library's own randomness). OUT: c[mlen + 48]. */
    int (*box_seal)(void *ctx, uint8_t *c, const uint8_t *m, size_t mlen, const uint8_t *xpk);
    /* OUT: m[clen - 48]; WEFT_ECRYPTO when the box is not for this key pair
     * or was altered. */
    int (*box_seal_open)(void *ctx, uint8_t *m, const uint8_t *c, size_t clen, const uint8_t *xpk,
                         const uint8_t *xsk);
    void *ctx;
} weft_crypto_backend;

/* What a replica seals, opens, signs and verifies with. */
typedef struct weft_crypto {
    uint8_t suite;        /* the suite these functions implement */
    size_t seal_overhead; /* ciphertext length - plaintext length */
    /* Writes pt_len + seal_overhead bytes to dst. */
    int (*seal)(void *ctx, uint8_t *dst, const uint8_t *pt, size_t pt_len, const uint8_t *ad,
                size_t ad_len);
    /* Writes ct_len - seal_overhead bytes to dst; WEFT_ECRYPTO when the
     * ciphertext or the associated data was altered, or the key is wrong. */
    int (*open)(void *ctx, uint8_t *dst, const uint8_t *ct, size_t ct_len, const uint8_t *ad,
                size_t ad_len);
    /* Signs msg with this replica's author key. */
    int (*sign)(void *ctx, uint8_t *sig, const uint8_t *msg, size_t len);
    /* 0 when sig is author_key's signature of msg, else WEFT_ECRYPTO. */
    int (*verify)(void *ctx, const uint8_t *author_key, const uint8_t *sig, const uint8_t *msg,
                  size_t len);
    void *ctx;
} weft_crypto;

/* State behind a V1 table; caller-allocated, holds secrets: end it with
 * weft_suite_v1_wipe. */
#define WEFT_SUITE_V1_MAX_OLD_KEYS 32 /* earlier content-key epochs a table opens with */
typedef struct weft_suite_v1 {
    const weft_crypto_backend *be;
    uint8_t content_key[WEFT_AEAD_KEYBYTES]; /* seals, and opens first */
    uint8_t author_sk[WEFT_SIGN_SECRETKEYBYTES];
    int can_open, can_sign;
    /* Keys of earlier epochs (weft/members.h), oldest first: open only. */
    uint8_t old_keys[WEFT_SUITE_V1_MAX_OLD_KEYS][WEFT_AEAD_KEYBYTES];
    size_t n_old;
} weft_suite_v1;

/* Fills *table with suite V1 over `be`. content_key (32 bytes) may be NULL
 * for a verifier that cannot read (a relay): open and seal then fail with
 * WEFT_ECRYPTO. author_sk (64 bytes) may be NULL for a reader that does not
 * write: sign then fails. Keys are copied into *st, which must outlive the
 * table. Returns 0 or WEFT_EINVAL. */
WEFT_API int weft_suite_v1_init(weft_crypto *table, weft_suite_v1 *st,
                                const weft_crypto_backend *be, const uint8_t *content_key,
                                const uint8_t *author_sk);
/* Wipes the secrets in *st. NULL is a no-op. */
WEFT_API void weft_suite_v1_wipe(weft_suite_v1 *st);

/* A key rotation (weft/members.h): new_key seals from now on; the key
 * that sealed until now still opens (changes do not name their epoch, so
 * open tries the keys newest first). Returns 0 (also when new_key is the
 * current key), WEFT_EINVAL (a table without a content key) or WEFT_ELIMIT
 * (WEFT_SUITE_V1_MAX_OLD_KEYS earlier keys held already). */
WEFT_API int weft_suite_v1_rekey(weft_suite_v1 *st, const uint8_t *new_key);
/* Adds a key of an earlier epoch (from weft_epoch_prev_key): it opens,
 * never seals, and is tried after every key held. Returns 0 (also when
 * held already), WEFT_EINVAL or WEFT_ELIMIT. */
WEFT_API int weft_suite_v1_add_key(weft_suite_v1 *st, const uint8_t *key);

/* A new Ed25519 key pair from the backend's randomness. OUT: pk[32], sk[64].
 * The seed is wiped. */
WEFT_API int weft_keypair_generate(const weft_crypto_backend *be, uint8_t *pk, uint8_t *sk);

/* Checks a V1 change's signature without any key but the author's public
 * one, which the header carries: what a relay can check. Returns 0,
 * WEFT_ESUITE (not V1) or WEFT_ECRYPTO. */
struct weft_change;
WEFT_API int weft_change_verify(const weft_crypto_backend *be,
                                const struct weft_change *c) WEFT_WARN_UNUSED;

/* Checks the signature, then opens the body with the content key. OUT:
 * dst gets c->body_len - WEFT_SUITE_V1_OVERHEAD bytes (*out_len). Returns 0,
 * WEFT_ESUITE, WEFT_ECRYPTO or WEFT_ENOSPACE. */
WEFT_API int weft_change_open(const weft_crypto_backend *be, const uint8_t *content_key,
                              const struct weft_change *c, uint8_t *dst, size_t dst_cap,
                              size_t *out_len) WEFT_WARN_UNUSED;

/* A 32-byte key from a passphrase with Argon2id (key backup). salt: 16
 * bytes. Returns 0, WEFT_EUNAVAILABLE or WEFT_ENOMEM. */
WEFT_API int weft_key_from_passphrase(const weft_crypto_backend *be, uint8_t *key, const char *pw,
                                      size_t pwlen, const uint8_t *salt);

/* Seals `m` to the holder of the Ed25519 public key `pk` (converted to
 * X25519): what key envelopes (weft/members.h) are made of. OUT:
 * c[mlen + WEFT_BOX_SEALBYTES]. Returns 0, WEFT_EINVAL, WEFT_EUNAVAILABLE
 * (a backend without sealed boxes) or WEFT_ECRYPTO (pk is not a point). */
WEFT_API int weft_box_seal_to(const weft_crypto_backend *be, uint8_t *c, const uint8_t *m,
                              size_t mlen, const uint8_t *pk);
/* Opens a box sealed to the Ed25519 key pair whose secret key is sk (64
 * bytes, public key in its last 32). The converted secret is wiped. OUT:
 * m[clen - WEFT_BOX_SEALBYTES]. Returns 0, WEFT_EINVAL (clen too short),
 * WEFT_EUNAVAILABLE or WEFT_ECRYPTO (not for this key, or altered). */
WEFT_API int weft_box_open_with(const weft_crypto_backend *be, uint8_t *m, const uint8_t *c,
                                size_t clen, const uint8_t *sk) WEFT_WARN_UNUSED;

/* Sizes for bindings that cannot read macros. */
WEFT_API size_t weft_sign_publickeybytes(void);
WEFT_API size_t weft_sign_secretkeybytes(void);
WEFT_API size_t weft_signbytes(void);
WEFT_API size_t weft_aead_keybytes(void);
WEFT_API size_t weft_suite_v1_overhead(void);
WEFT_API size_t weft_box_sealbytes(void);

#ifdef __cplusplus
}
#endif
#endif
