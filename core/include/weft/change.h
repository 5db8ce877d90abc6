/*
 * Changes: the unit of storage, sync, encryption and signing.
 *
 * A change is a batch of ops made by one author. Its header is plaintext
 * and lets anyone (a relay included) check where it belongs in the author's
 * hash chain and in causal order; its body holds the ops, sealed by the
 * cipher suite named in the header. The byte layout is in docs/FORMAT.md.
 *
 * This module only decodes and hashes records; building them is
 * weft_replica_commit's job, checking them against a history is weft_log's.
 */
#ifndef WEFT_CHANGE_H
#define WEFT_CHANGE_H

#include "weft/api.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Record kinds (byte 1 of every record). */
#define WEFT_RECORD_CHANGE   1
#define WEFT_RECORD_SNAPSHOT 2 /* reserved for signed, encrypted state snapshots */

/* Cipher suites (byte 2). PLAIN: body in clear, no signature (tests, local
 * data). V1: body = XChaCha20-Poly1305-IETF(nonce || ct || tag) with the
 * header as associated data, then an Ed25519 signature over everything
 * before it. */
#define WEFT_SUITE_PLAIN 0
#define WEFT_SUITE_V1    1
#define WEFT_SIG_BYTES   64

/* Limits every decoder enforces. */
#define WEFT_MAX_CHANGE_BYTES (64u << 20)
#define WEFT_MAX_DEPS         4096
/* The largest change a replica commits (weft_replica_commit refuses a
 * bigger one with WEFT_ECHANGE_TOO_BIG). Decoders take up to
 * WEFT_MAX_CHANGE_BYTES, but weft-relay takes a WebSocket message of at
 * most --max-frame (4 MiB by default): a change above that could never be
 * stored, and every later change of its author depends on it. 3 MiB leaves
 * the frame's own bytes room; large values belong in files (docs/API.md). */
#define WEFT_MAX_COMMIT_BYTES (3u << 20)
/* Lamport ids stay below 2^53 so JavaScript numbers hold them exactly. */
#define WEFT_MAX_LAMPORT ((uint64_t)1 << 53)

/* One causal dependency: the author's change `seq` must be applied first. */
typedef struct weft_dep {
    const uint8_t *author; /* 32 bytes, borrowed */
    uint64_t seq;
} weft_dep;

/* A decoded change. Every pointer borrows from the buffer given to
 * weft_change_decode and is valid as long as that buffer is. */
typedef struct weft_change {
    const uint8_t *record; /* the whole record: total_len bytes */
    uint8_t version, kind, suite;
    const uint8_t *space;  /* 32 bytes */
    const uint8_t *author; /* 32 bytes */
    uint64_t seq;          /* 1, 2, 3... per author */
    uint64_t lamport;      /* id of the first op; op i has id lamport + i */
    uint64_t n_ids;        /* ids the ops use: [lamport, lamport + n_ids) */
    uint64_t wall_ms;      /* author's clock, informative only */
    const uint8_t *prev;   /* 32 bytes: hash of change seq-1, zeros for seq 1 */
    uint32_t n_deps;
    const uint8_t *deps; /* encoded deps; read them with weft_change_dep_next */
    size_t deps_len;
    size_t header_len; /* bytes [0, header_len) are the header (AEAD associated data) */
    const uint8_t *body;
    size_t body_len;
    size_t signed_len; /* bytes [0, signed_len) are covered by the signature */
    const uint8_t *sig;
    size_t sig_len;
    size_t total_len;
} weft_change;

/* Decodes the record at the start of src. OUT: *c. The record may be
 * followed by other bytes; c->total_len says where it ends. Checks the
 * structure only (lengths, ranges, canonical dep order), not the hash chain,
 * signature or body. Returns 0, WEFT_ETRUNCATED, WEFT_EMALFORMED,
 * WEFT_EVERSION, WEFT_ESUITE or WEFT_ETOOBIG. */
WEFT_API int weft_change_decode(weft_change *c, const uint8_t *src, size_t src_len);

/* Iterates c's deps: *pos starts at 0. Returns 1 and fills *dep, or 0 at the
 * end. The deps were validated by weft_change_decode. */
WEFT_API int weft_change_dep_next(const weft_change *c, size_t *pos, weft_dep *dep);

/* The change's id hash: BLAKE2b-256 of its whole record. OUT: hash. */
WEFT_API void weft_change_hash(uint8_t hash[WEFT_HASH_BYTES], const weft_change *c);

#ifdef __cplusplus
}
#endif
#endif
