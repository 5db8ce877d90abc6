/*
 * Export and attribute macros shared by every public header.
 *
 * The core is built with -fvisibility=hidden; only WEFT_API symbols are
 * exported from the shared library (and listed for the WASM build).
 */
#ifndef WEFT_API_H
#define WEFT_API_H

#include <stddef.h>
#include <stdint.h>

#if defined(WEFT_BUILDING) && defined(__GNUC__)
#define WEFT_API __attribute__((visibility("default")))
#else
#define WEFT_API
#endif

#if defined(__GNUC__)
#define WEFT_WARN_UNUSED __attribute__((warn_unused_result))
#else
#define WEFT_WARN_UNUSED
#endif

/* Format version written into every change and snapshot (docs/FORMAT.md). */
#define WEFT_FORMAT_VERSION 1

/* Sizes of fixed-width fields, also as functions for bindings. */
#define WEFT_KEY_BYTES  32 /* space ids, author ids: Ed25519 public keys */
#define WEFT_HASH_BYTES 32 /* BLAKE2b-256 */

#endif
