/*
 * Format levels: what a space's members may write (docs/FORMAT.md §10).
 *
 * A format level counts the record kinds, op codes and value tags a replica
 * reads. Level 1 is format version 1 as first released (changes, snapshots,
 * tokens; op codes 1..6; value tags 0x00..0x08). Every later level only adds
 * codes, so a replica of level n reads every record of a level <= n.
 *
 * A space starts at level 1. Its owner, or an admin, raises it with a level
 * record (kind 4), which travels through the space's log like a change and
 * which a relay can check without the content key:
 *
 *   u8 version=1 | u8 kind=4 | space[32] | issuer[32] | varint level (>= 2)
 *   | varint wall_ms | varint parent_len | parent (issuer's admin token, or
 *   for an admin admitted by grant its grant chain, weft/members.h; empty
 *   iff the issuer is the owner) | sig[64] by the issuer over all before it
 *
 * Writers never emit a code above the space's level, so a member that has
 * not updated is never stalled by a change it cannot read: it is told to
 * update once, when the level rises above what it reads.
 *
 * Pure functions: no state, no I/O, no clock (an admin's parent token is
 * checked at the record's own wall_ms, so every replica decides the same).
 */
#ifndef WEFT_LEVEL_H
#define WEFT_LEVEL_H

#include "weft/auth.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The highest format level this build reads and may write. Level 2 adds
 * the level record itself (kind 4); later issues add op codes at level 3
 * and up, each with a line in docs/FORMAT.md §10. */
#define WEFT_FORMAT_LEVEL 5

/* The level that adds list ops (op codes 7-10, docs/LISTS.md). */
#define WEFT_LEVEL_LISTS 3

/* The level that adds formatting marks on text (op codes 11-12,
 * docs/TEXT.md "Marks"). */
#define WEFT_LEVEL_MARKS 5

#define WEFT_RECORD_LEVEL 4 /* record kind byte of a level record */

/* A level record is at most this long (with the longest parent token). */
#define WEFT_LEVEL_MAX_BYTES (2 + 64 + 5 + 10 + 2 + WEFT_TOKEN_MAX_BYTES + 64)

/* The same numbers, for bindings that cannot read macros. */
WEFT_API int weft_format_level(void);
WEFT_API size_t weft_level_max_bytes(void);

/* A decoded level record. */
typedef struct weft_level {
    uint8_t space[32];
    uint8_t issuer[32]; /* the owner (== space) or an admin */
    uint32_t level;     /* >= 2 */
    uint64_t wall_ms; /* when the issuer signed it (informative, and the time its parent is checked
                         at) */
    int delegated;    /* signed by an admin, not the owner */
} weft_level;

/* Signs a level record raising `space` to `level` (2..WEFT_FORMAT_LEVEL).
 * issuer_sk is the issuer's 64-byte secret key; parent is the issuer's
 * admin token or grant chain (weft_grant_chain_verify; NULL, 0 for the
 * owner). OUT: dst (WEFT_LEVEL_MAX_BYTES
 * always suffice), *len. Returns 0, WEFT_EINVAL (bad level, a parent given
 * to the owner or missing for an admin, a parent above
 * WEFT_TOKEN_MAX_BYTES), WEFT_ENOSPACE or a backend error. */
WEFT_API int weft_level_sign(const weft_crypto_backend *be, uint8_t *dst, size_t dst_cap,
                             size_t *len, const uint8_t *space, const uint8_t *issuer_sk,
                             const uint8_t *parent, size_t parent_len, uint32_t level,
                             uint64_t wall_ms);

/* Reads a level record's structure only (what a relay does on replay, for
 * records it checked before storing them). The record must fill
 * [rec, rec + len) exactly. OUT: *out. Returns 0, WEFT_ETRUNCATED,
 * WEFT_EVERSION (another format version) or WEFT_EMALFORMED (another kind,
 * level below 2 or above 2^32 - 1, a parent present iff the issuer is the
 * owner, trailing bytes). A level above WEFT_FORMAT_LEVEL decodes: the
 * caller decides what it does with a level it does not read. */
WEFT_API int weft_level_decode(weft_level *out, const uint8_t *rec, size_t len);

/* The same for a level record at the start of a buffer that may hold more
 * records after it (a relay's log read back, as weft_change_decode takes
 * changes). OUT: *out, *rec_len (its length). Returns what
 * weft_level_decode returns, without the trailing-bytes case. */
WEFT_API int weft_level_decode_prefix(weft_level *out, const uint8_t *rec, size_t len,
                                      size_t *rec_len);

/* Decodes and checks a level record for `space`: the issuer's signature
 * and, for an admin, that its parent (a token, or a grant chain: its kind
 * byte says) verifies for the space at wall_ms / 1000 and grants the
 * issuer admin rights. OUT: *out. Returns 0,
 * a weft_level_decode error, WEFT_ESPACE (another space), WEFT_ECRYPTO
 * (bad signature), or WEFT_EDELEGATION, WEFT_ERIGHTS, WEFT_ENOTYET,
 * WEFT_EEXPIRED (the parent does not make the issuer an admin then). */
WEFT_API int weft_level_verify(const weft_crypto_backend *be, const uint8_t *rec, size_t len,
                               const uint8_t *space, weft_level *out) WEFT_WARN_UNUSED;

#ifdef __cplusplus
}
#endif
#endif
