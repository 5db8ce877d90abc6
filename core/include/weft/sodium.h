/*
 * The native crypto backend: libsodium behind weft_crypto_backend.
 * Built as its own library (weft_sodium) so the core itself links nothing.
 */
#ifndef WEFT_SODIUM_H
#define WEFT_SODIUM_H

#include "weft/crypto.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Fills *be with libsodium's functions (initializing libsodium once; safe
 * to call again). Randomness is randombytes_buf. Returns 0 or WEFT_ECRYPTO
 * when libsodium cannot start. */
WEFT_API int weft_sodium_backend(weft_crypto_backend *be);

#ifdef __cplusplus
}
#endif
#endif
