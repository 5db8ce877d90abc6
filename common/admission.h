/*
 * Admission tokens: an operator's signed statement that its relay hosts a
 * space (`weft-relay --admit signed:KEY`, docs/RELAY.md "Admission"; issued
 * by `weft admission issue`). Shared by the relay (verify) and the CLI
 * (issue), so there is one codec.
 *
 *   u8 version (1) | u8 kind (0x41) | space[32] | operator[32]
 *   | varint bytes (0: the relay's --space-bytes) | varint not_before
 *   | varint expires (Unix s, 0: never) | id[16] | sig[64]
 *
 * sig is the operator key's Ed25519 signature of the ASCII domain string
 * "weft-admission-v1" followed by every byte before sig, so an admission
 * can never be mistaken for a change, a token or a proof (which sign other
 * domains or other kinds). The layout is the capability token's (FORMAT.md
 * §10) minus grantee, rights and parent, plus the byte quota: the same
 * reader rules (minimal varints, no trailing bytes, the exact length).
 */
#ifndef WEFT_COMMON_ADMISSION_H
#define WEFT_COMMON_ADMISSION_H

#include "weft/crypto.h"

#include <stddef.h>
#include <stdint.h>

#define WEFT__ADMISSION_KIND      0x41
#define WEFT__ADMISSION_MAX_BYTES (2 + 64 + 30 + 16 + 64)

typedef struct weft__admission {
    uint8_t space[32], operator_pk[32], id[16];
    uint64_t bytes, not_before, expires;
} weft__admission;

/* Issues an admission for `space`, signed with operator_sk (64 bytes; its
 * public half is the operator key). The id comes from be->random. OUT:
 * dst, *len (WEFT__ADMISSION_MAX_BYTES always suffice). Returns 0,
 * WEFT_EINVAL (expires <= not_before), WEFT_ENOSPACE or a backend error. */
int weft__admission_issue(const weft_crypto_backend *be, uint8_t *dst, size_t dst_cap, size_t *len,
                          const uint8_t space[32], const uint8_t *operator_sk, uint64_t bytes,
                          uint64_t not_before, uint64_t expires);

/* Decodes without checking the signature. OUT: *a. Returns 0,
 * WEFT_EVERSION, WEFT_EMALFORMED or WEFT_ETRUNCATED. */
int weft__admission_decode(weft__admission *a, const uint8_t *src, size_t len);

/* Decodes and checks: signed by operator_pk, for `space`, valid at `now`.
 * OUT: *a. Returns 0, a decode error, WEFT_ESPACE (another space),
 * WEFT_ECRYPTO (another operator, or a bad signature), WEFT_ENOTYET or
 * WEFT_EEXPIRED. */
int weft__admission_verify(const weft_crypto_backend *be, const uint8_t *src, size_t len,
                           const uint8_t operator_pk[32], const uint8_t space[32], uint64_t now,
                           weft__admission *a);

#endif
