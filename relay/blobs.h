/*
 * The relay's blob store (docs/RELAY.md, "Files"): encrypted file chunks
 * beside the log, in a directory several relays may share. The relay
 * never sees a blob's key: it stores and serves the ciphertext chunks the
 * members' replicas upload, counts their bytes in the space's quota, and
 * deletes blobs whose lease nobody renewed for the grace period.
 *
 * Layout under the store's directory (--blob-dir, default <data>/blobs):
 *   .secret                          32 random bytes: the signed URLs' HMAC key
 *                                    (created once; relays sharing the directory
 *                                    share it, so a URL one minted another serves)
 *   <space hex>/<blob hex>/c<index>  one chunk, as uploaded (index in decimal)
 *   <space hex>/<blob hex>/lease     empty; its mtime is the last renewal
 *
 * Invariant: a chunk file exists whole or not at all. It is written to a
 * temporary name, fsync'd, renamed, and the directory fsync'd before the
 * upload is answered, so a kill -9 keeps every acknowledged chunk and no
 * half-written one (a leftover temporary file, never counted, goes with
 * its blob).
 * Everything runs on the relay's loop thread; the writes block it for one
 * chunk's fsync, as a snapshot upload does.
 */
#ifndef WEFT_RELAY_BLOBS_H
#define WEFT_RELAY_BLOBS_H

#include "blobreq.h"

#include <stddef.h>
#include <stdint.h>

#define BLOB_ID_BYTES   WEFT__BLOB_ID_BYTES
#define BLOB_MAX_CHUNKS WEFT__BLOB_MAX_CHUNKS
/* Signatures of signed URLs: base64url of an HMAC-SHA-256, 43 characters. */
#define BLOB_SIG_CHARS 43

typedef struct blob_store blob_store;

/* Opens (creating) the store at dir and its URL secret. OUT: *out, freed
 * with blobs_close. Returns 0 or -1 (errno set). */
int blobs_open(blob_store **out, const char *dir);
/* Frees it; NULL is a no-op. */
void blobs_close(blob_store *bs);

/* Stores chunk idx of a blob durably (see the invariant above) and renews
 * its lease. OUT: *delta, the change in the space's stored bytes (0 when
 * the same chunk was stored before, negative when it replaced a longer
 * one). Returns 0 or -1. */
int blobs_put_chunk(blob_store *bs, const uint8_t space[32], const uint8_t blob[BLOB_ID_BYTES],
                    uint32_t idx, const uint8_t *data, size_t len, int64_t *delta);

/* The size of chunk idx now (0 when absent). */
uint64_t blobs_chunk_size(blob_store *bs, const uint8_t space[32],
                          const uint8_t blob[BLOB_ID_BYTES], uint32_t idx);

/* The chunks a blob holds: calls fn(ud, idx, size) for each, in no order.
 * Returns the number of chunks (0 when the blob does not exist). */
size_t blobs_list(blob_store *bs, const uint8_t space[32], const uint8_t blob[BLOB_ID_BYTES],
                  void (*fn)(void *ud, uint32_t idx, uint64_t size), void *ud);

/* Renews a blob's lease (now = its mtime). Returns 0, or -1 when the blob
 * does not exist. */
int blobs_renew(blob_store *bs, const uint8_t space[32], const uint8_t blob[BLOB_ID_BYTES]);

/* Bytes of every chunk the space's blobs hold (scans its directory). */
uint64_t blobs_space_bytes(blob_store *bs, const uint8_t space[32]);

/* Removes every blob of a space (the space was deleted). */
void blobs_delete_space(blob_store *bs, const uint8_t space[32]);

/* Reads chunk idx whole into a malloc'd buffer. OUT: *data, *len. Returns
 * 0, or -1 when it is absent or cannot be read. */
int blobs_read_chunk(blob_store *bs, const uint8_t space[32], const uint8_t blob[BLOB_ID_BYTES],
                     uint32_t idx, uint8_t **data, size_t *len);

/* The signature of a URL for every chunk of a blob until unix time exp:
 * base64url(HMAC-SHA-256(secret, space || blob || exp as 8 bytes LE)).
 * OUT: sig, BLOB_SIG_CHARS characters and a NUL. */
void blobs_url_sign(const blob_store *bs, const uint8_t space[32],
                    const uint8_t blob[BLOB_ID_BYTES], uint64_t exp, char sig[BLOB_SIG_CHARS + 1]);
/* 0 when sig (NUL-terminated) is that signature, compared in constant
 * time; -1 otherwise. */
int blobs_url_verify(const blob_store *bs, const uint8_t space[32],
                     const uint8_t blob[BLOB_ID_BYTES], uint64_t exp, const char *sig);

/* Deletes the blobs whose lease is older than grace_s, at most max_blobs
 * per call. fn(ud, space, bytes)
 * hears the bytes each deletion freed. Returns the blobs deleted. */
size_t blobs_sweep(blob_store *bs, uint64_t now_s, uint64_t grace_s, size_t max_blobs,
                   void (*fn)(void *ud, const uint8_t space[32], uint64_t bytes), void *ud);

#endif
