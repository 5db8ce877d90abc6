/*
 * BLAKE2b (RFC 7693), the hash behind change ids, the per-author hash chain
 * and weft_state_hash.
 *
 * The core carries its own portable implementation so that native and WASM
 * builds need no import to hash and are byte-for-byte identical; output
 * equals libsodium's crypto_generichash for the same key and length.
 */
#ifndef WEFT_HASH_H
#define WEFT_HASH_H

#include "weft/api.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WEFT_BLAKE2B_OUTBYTES_MAX 64
#define WEFT_BLAKE2B_KEYBYTES_MAX 64

/* Streaming state; caller-allocated, no heap use, no cleanup needed beyond
 * what weft_blake2b_final does (it wipes the state). */
typedef struct weft_blake2b {
    uint64_t h[8];
    uint64_t t[2];
    uint8_t buf[128];
    size_t buflen;
    size_t outlen;
} weft_blake2b_state;

/* Starts a hash of `outlen` bytes (1..64), keyed when keylen > 0 (key up to
 * 64 bytes, may be NULL when keylen is 0). Returns 0 or WEFT_EINVAL. */
WEFT_API int weft_blake2b_init(weft_blake2b_state *s, size_t outlen, const uint8_t *key,
                               size_t keylen);

/* Absorbs `len` bytes of `in` (NULL allowed when len is 0). */
WEFT_API void weft_blake2b_update(weft_blake2b_state *s, const void *in, size_t len);

/* Writes s->outlen bytes to `out` and wipes the state. */
WEFT_API void weft_blake2b_final(weft_blake2b_state *s, uint8_t *out);

/* One-shot unkeyed BLAKE2b of `outlen` bytes (1..64). Returns 0 or WEFT_EINVAL. */
WEFT_API int weft_blake2b(uint8_t *out, size_t outlen, const void *in, size_t inlen);

#ifdef __cplusplus
}
#endif
#endif
