/*
 * Export and attribute macros shared by every public header, and the
 * library-wide constants.
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

#define WEFT_VERSION_STRING "0.1.0"

/* Format version written into every change and snapshot (docs/FORMAT.md). */
#define WEFT_FORMAT_VERSION 1

/* Sizes of fixed-width fields. */
#define WEFT_KEY_BYTES  32 /* space ids, author ids: Ed25519 public keys */
#define WEFT_HASH_BYTES 32 /* BLAKE2b-256 */

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version, the format version it writes, and the fixed sizes
 * above, for bindings that cannot read macros. */
WEFT_API const char *weft_version_string(void);
WEFT_API int weft_format_version(void);
WEFT_API size_t weft_key_bytes(void);
WEFT_API size_t weft_hash_bytes(void);

#ifdef __cplusplus
}
#endif
#endif
