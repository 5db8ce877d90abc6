/*
 * The crypto seam: how a replica seals, opens, signs and verifies changes.
 *
 * The core never links a crypto library; callers hand it a table. A NULL
 * table means WEFT_SUITE_PLAIN (bodies in clear, no signatures), for tests
 * and purely local data. The WEFT_SUITE_V1 table (XChaCha20-Poly1305-IETF
 * and Ed25519) is built from libsodium natively and libsodium.js in WASM.
 */
#ifndef WEFT_CRYPTO_H
#define WEFT_CRYPTO_H

#include "weft/api.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_crypto {
    uint8_t suite;        /* the suite these functions implement */
    size_t seal_overhead; /* ciphertext length - plaintext length */
    /* Writes pt_len + seal_overhead bytes to dst. Returns 0 or an error. */
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

#ifdef __cplusplus
}
#endif
#endif
