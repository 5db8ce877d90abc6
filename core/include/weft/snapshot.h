/*
 * Sealed snapshots: a replica's state, encrypted with the space's content
 * key and signed by the member who published it, so that a relay can store
 * and serve it and a joining replica can load it instead of every change
 * (record kind 2, suite V1; layout in docs/FORMAT.md, "Sealed snapshot").
 *
 * The record has a plaintext header anyone can read (space, publisher,
 * the version vector the state covers, the relay sequence it was made at,
 * wall time), a body that is the PLAIN snapshot of weft_replica_snapshot
 * sealed with XChaCha20-Poly1305 under the header as associated data, and
 * the publisher's Ed25519 signature over everything before it. So:
 *
 *   a relay (no content key) runs weft_snapshot_verify, checks the
 *   publisher's rights itself (its token), and weft_log_covers;
 *   a replica runs weft_replica_load_sealed_snapshot, which verifies, opens,
 *   loads, and checks that the state inside covers exactly the header's
 *   vector; then the changes past that vector apply as usual.
 *
 * Who may publish is the caller's decision (docs/SECURITY.md, "Snapshots:
 * who may publish"): this module checks that the publisher signed, not that
 * the publisher was allowed to; read the publisher from the header and
 * check it against the rights you hold before loading or storing.
 *
 * Ownership: every input is borrowed for the call only. Output records are
 * borrowed from the replica until its next snapshot or publish call.
 */
#ifndef WEFT_SNAPSHOT_H
#define WEFT_SNAPSHOT_H

#include "weft/crypto.h"
#include "weft/log.h"
#include "weft/replica.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A sealed snapshot may be this long at most (the body is a whole state in
 * memory twice while it loads, and a WASM heap is 2-4 GiB). */
#define WEFT_MAX_SEALED_SNAPSHOT_BYTES (256u << 20)

/* A decoded sealed snapshot. Every pointer borrows from the buffer given to
 * weft_snapshot_header_decode. */
typedef struct weft_snapshot_header {
    const uint8_t *record; /* the whole record: total_len bytes */
    uint8_t version, kind, suite;
    const uint8_t *space;     /* 32 bytes */
    const uint8_t *publisher; /* 32 bytes: the author key that signed it */
    uint64_t rseq;            /* relay sequence it was made at, 0 when unknown */
    uint64_t wall_ms;         /* publisher's clock, informative only */
    const uint8_t *vv;        /* the version vector the state covers (FORMAT.md §6) */
    size_t vv_len;
    size_t header_len;   /* bytes [0, header_len): the AEAD associated data */
    const uint8_t *body; /* nonce[24] || ciphertext || tag[16] */
    size_t body_len;
    size_t signed_len;  /* bytes [0, signed_len) are covered by the signature */
    const uint8_t *sig; /* 64 bytes */
    size_t total_len;   /* always the whole input: nothing may follow */
} weft_snapshot_header;

/* Decodes the header of a sealed snapshot and checks its structure: the
 * version, kind 2, suite V1, a well-formed vector, a body long enough to
 * hold a nonce and a tag, a 64-byte signature, and nothing after it. Needs
 * no key; checks no signature. OUT: *h.
 *
 * Returns 0; WEFT_EINVAL (NULL arguments); WEFT_EVERSION; WEFT_EMALFORMED
 * (not kind 2, a bad vector, a body shorter than 40 bytes, trailing bytes);
 * WEFT_ESUITE (not V1: a PLAIN snapshot is local only); WEFT_ETRUNCATED;
 * WEFT_ETOOBIG (longer than WEFT_MAX_SEALED_SNAPSHOT_BYTES). */
WEFT_API int weft_snapshot_header_decode(weft_snapshot_header *h, const uint8_t *rec, size_t len);

/* What a relay checks without the content key: the header decodes (errors
 * as above), the record belongs to `space` (32 bytes; WEFT_ESPACE), and
 * the publisher's signature holds (WEFT_ESIGNATURE). OUT: *h (may be NULL),
 * filled when 0 is returned. Rights are not checked here. */
WEFT_API int weft_snapshot_verify(const weft_crypto_backend *be, const uint8_t *space,
                                  const uint8_t *rec, size_t len,
                                  weft_snapshot_header *h) WEFT_WARN_UNUSED;

/* Does `log` hold every change the vector names, i.e. for every entry
 * (author, seq) is weft_log_seq(log, author) >= seq? A relay refuses a
 * snapshot whose state it could not follow with the changes it holds.
 * Returns 0; WEFT_EUNCOVERED (an entry past what the log holds);
 * WEFT_ETRUNCATED or WEFT_EMALFORMED (a bad vector); WEFT_EINVAL. */
WEFT_API int weft_log_covers(const weft_log *log, const uint8_t *vv, size_t vv_len);

/* Makes a sealed snapshot of the replica's state: the PLAIN snapshot
 * (weft_replica_snapshot) sealed with the replica's content key, the
 * header binding it to the space, this replica's author key as publisher,
 * its version vector, `rseq` (the relay sequence the caller had reached, 0
 * when unknown) and `wall_ms`, signed with the replica's author key. The
 * nonce is fresh from the backend's randomness. OUT: *rec, *len: borrowed
 * until the next snapshot or publish call on r (the PLAIN snapshot buffer
 * is reused, so a borrowed weft_replica_snapshot result is gone).
 *
 * Returns 0; WEFT_ESUITE (a PLAIN replica: nothing to seal or sign with);
 * WEFT_ECRYPTO (a replica that cannot sign or seal: a reader, or a
 * verifier without the content key); WEFT_ESTATE (a transaction is open:
 * its ops show in the state already, so commit or roll back first);
 * WEFT_ETOOBIG (the state is past WEFT_MAX_SEALED_SNAPSHOT_BYTES);
 * WEFT_ENOMEM. On failure the replica is unchanged. */
WEFT_API int weft_replica_publish_snapshot(weft_replica *r, uint64_t rseq, uint64_t wall_ms,
                                           const uint8_t **rec, size_t *len);

/* Verifies, opens and loads a sealed snapshot into a replica that holds
 * nothing yet, in this order: header structure (errors of
 * weft_snapshot_header_decode), WEFT_ESUITE when r is a PLAIN replica,
 * WEFT_ESPACE (another space), WEFT_ESTATE (r is not empty), then the
 * signature (WEFT_ESIGNATURE), then the AEAD open (WEFT_ECRYPTO: the bytes
 * do not open with this replica's content key), then the PLAIN snapshot
 * inside (the errors of weft_replica_load_snapshot), then that the vector
 * inside equals the header's (WEFT_EUNCOVERED). On any failure the replica
 * is unchanged (still empty) and usable; decrypted bytes are wiped. On
 * success changes past the vector apply as usual and changes before it
 * count as duplicates. The publisher's rights are the caller's to check
 * first (decode the header). */
WEFT_API int weft_replica_load_sealed_snapshot(weft_replica *r, const uint8_t *rec,
                                               size_t len) WEFT_WARN_UNUSED;

/* The limit above, for bindings that cannot read macros. */
WEFT_API size_t weft_sealed_snapshot_max_bytes(void);

#ifdef __cplusplus
}
#endif
#endif
