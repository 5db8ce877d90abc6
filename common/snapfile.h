/*
 * The stored form of a sealed snapshot on a relay's disk (docs/RELAY.md,
 * "Storage layout"): one file per snapshot, written whole to a temporary
 * name and renamed into place, so a file either holds a whole snapshot or
 * is not there. The codec here is the only reader of those bytes; the file
 * driver does the I/O.
 *
 *   <space dir>/<base rseq, 20 digits>.snap
 *   file = "weftsnp1" | u64 base | u32 len | u32 crc32c | len bytes
 *   crc32c covers base (8 bytes, little-endian) and the body bytes
 *   body = u16 token_len | token | sealed snapshot record
 *
 * base is the relay sequence the relay computed at upload: every record
 * with a relay sequence <= base is covered by the snapshot's vector (so a
 * joiner asks for the changes after it). The token is the one that admitted
 * the upload (it grants the publisher admin), kept so that a joiner can
 * check the publisher's rights itself (docs/SECURITY.md); the record is the
 * sealed snapshot (FORMAT.md, "Sealed snapshot"), as the publisher sent it.
 * Storage drivers keep the body opaque; only the space splits it.
 */
#ifndef WEFT_COMMON_SNAPFILE_H
#define WEFT_COMMON_SNAPFILE_H

#include <stddef.h>
#include <stdint.h>

#define WEFT__SNAP_HDR      24u /* magic, base, len, crc */
#define WEFT__SNAP_NAME_CAP 26u /* "<20 digits>.snap" and its NUL */

/* Writes the 24-byte header for a record of len bytes at base. */
void weft__snap_header(uint8_t dst[WEFT__SNAP_HDR], uint64_t base, const uint8_t *rec, size_t len);

/* Checks a whole stored file: magic, a length that is exactly the rest of
 * the file, and the CRC. OUT: *base, *rec (borrowed from src), *len.
 * Returns 0, or -1 when the bytes are not a whole, intact snapshot file. */
int weft__snap_parse(uint64_t *base, const uint8_t **rec, size_t *len, const uint8_t *src,
                     size_t src_len);

/* The body for a token and a record: writes 2 + tok_len + rec_len bytes
 * to dst (the caller sized it). tok_len < 65536. */
void weft__snap_body(uint8_t *dst, const uint8_t *tok, size_t tok_len, const uint8_t *rec,
                     size_t rec_len);
/* Splits a body. OUT: borrowed *tok, *tok_len, *rec, *rec_len. Returns 0
 * or -1 (too short for its token length). */
int weft__snap_body_split(const uint8_t **tok, size_t *tok_len, const uint8_t **rec,
                          size_t *rec_len, const uint8_t *body, size_t len);

/* The file name for base ("00000000000000000042.snap"). Returns 0, or -1
 * when dst_cap < WEFT__SNAP_NAME_CAP. */
int weft__snap_name(char *dst, size_t dst_cap, uint64_t base);
/* Parses a name as weft__snap_name writes it. OUT: *base. Returns 0 or -1. */
int weft__snap_name_parse(uint64_t *base, const char *name);

#endif
