/*
 * Stateless capabilities: tokens, proofs of possession and invite links.
 *
 * A space's id is its owner's Ed25519 public key. The owner signs capability
 * tokens {space, grantee key or any, rights, not-before, expires, id}; a
 * holder of an admin token may sign tokens too, by embedding its own token
 * as the parent (a chain of at most two links). Anyone can check a token
 * with the space id and the current time alone: no user database, no
 * sessions, any relay can serve any request. Layouts: docs/FORMAT.md.
 */
#ifndef WEFT_AUTH_H
#define WEFT_AUTH_H

#include "weft/crypto.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WEFT_RECORD_TOKEN 3 /* record kind byte of a token */

/* Rights are ordered: each includes the ones below it. */
#define WEFT_RIGHT_READ  1
#define WEFT_RIGHT_WRITE 2
#define WEFT_RIGHT_ADMIN 3

#define WEFT_TOKEN_IDBYTES   16
#define WEFT_TOKEN_MAX_BYTES 512 /* a delegated token with its parent fits */

/* A verified token. */
typedef struct weft_token {
    uint8_t space[32];
    uint8_t issuer[32];  /* who signed it: the owner (== space) or an admin */
    uint8_t grantee[32]; /* all zeros when any_grantee */
    int any_grantee;     /* whoever holds the token */
    uint8_t rights;
    uint64_t not_before, expires; /* Unix seconds; expires 0 = never */
    uint8_t id[WEFT_TOKEN_IDBYTES];
    int delegated; /* signed by an admin, not the owner */
} weft_token;

/* Issues a token for `space`, signed with issuer_sk (64 bytes). When the
 * issuer is not the owner, `parent` must be the issuer's own admin token
 * (owner-signed, granted to the issuer's key). grantee: 32 bytes, or NULL for
 * any holder. The id comes from the backend's randomness. OUT: dst, *len
 * (WEFT_TOKEN_MAX_BYTES always suffice). Returns 0, WEFT_EINVAL (bad rights,
 * expires <= not_before, a parent given to the owner or missing for an
 * admin), WEFT_EDELEGATION (parent not an admin token of this issuer), a
 * backend error, or WEFT_ENOSPACE. */
WEFT_API int weft_token_issue(const weft_crypto_backend *be, uint8_t *dst, size_t dst_cap,
                              size_t *len, const uint8_t *space, const uint8_t *issuer_sk,
                              const uint8_t *parent, size_t parent_len, const uint8_t *grantee,
                              uint8_t rights, uint64_t not_before, uint64_t expires);

/* Checks a token against the space id and the time `now` (Unix seconds).
 * OUT: *t. Returns 0, WEFT_ETRUNCATED/WEFT_EMALFORMED/WEFT_EVERSION (bad
 * bytes), WEFT_ESPACE (another space), WEFT_ECRYPTO (forged or altered),
 * WEFT_EDELEGATION (issuer neither owner nor a valid admin of the space, or
 * a chain longer than two), WEFT_ENOTYET or WEFT_EEXPIRED (this token or its
 * parent). */
WEFT_API int weft_token_verify(const weft_crypto_backend *be, const uint8_t *tok, size_t len,
                               const uint8_t *space, uint64_t now, weft_token *t) WEFT_WARN_UNUSED;

/* Whether a verified token lets `key` (32 bytes) act with `right`. Returns
 * 0 or WEFT_ERIGHTS (too few rights, or granted to another key). */
WEFT_API int weft_token_allows(const weft_token *t, const uint8_t *key,
                               uint8_t right) WEFT_WARN_UNUSED;

/* Proof of possession: the client signs the relay's nonce (with the space
 * id, under a fixed domain string) with the grantee key its token names.
 * OUT: sig[64]. */
WEFT_API int weft_proof_sign(const weft_crypto_backend *be, uint8_t *sig, const uint8_t *sk,
                             const uint8_t *space, const uint8_t *nonce, size_t nonce_len);
WEFT_API int weft_proof_verify(const weft_crypto_backend *be, const uint8_t *sig, const uint8_t *pk,
                               const uint8_t *space, const uint8_t *nonce,
                               size_t nonce_len) WEFT_WARN_UNUSED;

/* Invite links: `<base>#<space>.<token>.<content key>`, each part base64url
 * without padding. The fragment never reaches a server. `base` is the app's
 * URL without a fragment (may be empty: then the result is "#..."). OUT:
 * dst (NUL-terminated), *len without the NUL. Returns 0, WEFT_EINVAL or
 * WEFT_ENOSPACE; weft_invite_bound() bytes always suffice. */
WEFT_API size_t weft_invite_bound(size_t base_len, size_t token_len);
WEFT_API int weft_invite_encode(char *dst, size_t dst_cap, size_t *len, const char *base,
                                size_t base_len, const uint8_t *space, const uint8_t *token,
                                size_t token_len, const uint8_t *content_key);
/* Parses a link (or just its fragment). OUT: space[32], token (*token_len),
 * content_key[32]. Checks the shape only; verify the token separately.
 * Returns 0, WEFT_EMALFORMED or WEFT_ENOSPACE. */
WEFT_API int weft_invite_decode(const char *link, size_t len, uint8_t *space, uint8_t *token,
                                size_t token_cap, size_t *token_len, uint8_t *content_key);

/* base64url without padding, strict on decode (no padding, no whitespace,
 * canonical last character). Returns 0, WEFT_ENOSPACE or WEFT_EMALFORMED. */
WEFT_API size_t weft_base64url_len(size_t bin_len);
WEFT_API int weft_base64url_encode(char *dst, size_t dst_cap, size_t *len, const uint8_t *src,
                                   size_t src_len);
WEFT_API int weft_base64url_decode(uint8_t *dst, size_t dst_cap, size_t *len, const char *src,
                                   size_t src_len);

#ifdef __cplusplus
}
#endif
#endif
