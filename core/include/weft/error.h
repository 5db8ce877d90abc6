/*
 * Weft error codes.
 *
 * Every fallible function returns an int: 0 (WEFT_OK) on success or one of
 * the negative codes below. The list is an X-macro so that the enum, the
 * names and the messages can never drift apart. Codes are part of the ABI:
 * they are never renumbered, new ones are appended.
 */
#ifndef WEFT_ERROR_H
#define WEFT_ERROR_H

#include "weft/api.h"

#ifdef __cplusplus
extern "C" {
#endif

/* X(name, value, message) */
#define WEFT_ERRORS(X)                                                                          \
    X(OK, 0, "success")                                                                         \
    X(NOMEM, -1, "out of memory")                                                               \
    X(INVAL, -2, "invalid argument")                                                            \
    X(TRUNCATED, -3, "input ends before the record does")                                       \
    X(MALFORMED, -4, "malformed input")                                                         \
    X(VERSION, -5, "unsupported format version")                                                \
    X(TOOBIG, -6, "input exceeds a size limit")                                                 \
    X(NOSPACE, -7, "output buffer too small")                                                   \
    X(FORK, -8, "a different change with the same author and seq exists (fork)")                \
    X(CHAIN, -9, "previous-change hash does not match the author's chain")                      \
    X(CLOCK, -10, "Lamport clock does not advance past the author's previous change")           \
    X(SPACE, -11, "change belongs to another space")                                            \
    X(PENDING_FULL, -12, "too many changes waiting for missing dependencies")                   \
    X(NOTFOUND, -13, "not found")                                                               \
    X(STATE, -14, "call not valid in the current state")                                        \
    X(CRYPTO, -15, "cryptographic check failed")                                                \
    X(SUITE, -16, "unsupported cipher suite")                                                   \
    X(LIMIT, -17, "a counter or clock would overflow")                                          \
    X(EXPIRED, -18, "token has expired")                                                        \
    X(NOTYET, -19, "token is not valid yet")                                                    \
    X(RIGHTS, -20, "token does not grant this right")                                           \
    X(DELEGATION, -21, "token delegation chain is broken")                                      \
    X(UNAVAILABLE, -22, "not available in this crypto backend")                                 \
    X(SIGNATURE, -23, "signature does not verify")                                              \
    X(UNCOVERED, -24, "version vector names changes that are not held")                         \
    X(NOTLIST, -25, "the field holds a value that is not a list")                               \
    X(NOITEM, -26, "no list item at that index")                                                \
    X(NOTADMIN, -27, "the issuer has no right to sign this membership record")                  \
    X(FORGED, -28, "key rotation does not open to the key it commits to")                       \
    X(OUTLIVES, -29, "grant outlives its issuer's own grant")                                   \
    X(REPLAY, -30, "invite already claimed by another key")                                     \
    X(WRONGMEMBER, -31, "key envelope for a key that is not a member")                          \
    X(REVOKED, -32, "key was removed from the space")                                           \
    X(CHANGE_TOO_BIG, -33, "change exceeds WEFT_MAX_COMMIT_BYTES: store large values as files") \
    X(FILE_PENDING, -34, "file not uploaded yet: retry later")                                  \
    X(TRIMMED, -35, "the changes asked for are older than a snapshot and not held")             \
    X(PASSPHRASE, -36, "wrong passphrase, or the backup was altered")                           \
    X(NOTMEMBER, -38, "this key holds no grant in the space: ask an admin")

typedef enum weft_error {
#define WEFT_X_ENUM(name, value, msg) WEFT_E##name = value,
    WEFT_ERRORS(WEFT_X_ENUM)
#undef WEFT_X_ENUM
} weft_error;

#define WEFT_OK WEFT_EOK

/* Returns a static, human-readable message for `code` ("unknown error" for
 * codes this build does not know). Never NULL. */
WEFT_API const char *weft_strerror(int code);

/* Returns the code's symbolic name without prefix, e.g. "TRUNCATED", or
 * "UNKNOWN". Never NULL. */
WEFT_API const char *weft_err_name(int code);

/* Non-zero when `code` is an error (negative). */
static inline int weft_is_error(int code) {
    return code < 0;
}

#ifdef __cplusplus
}
#endif
#endif
