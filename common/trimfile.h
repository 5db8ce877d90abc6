/*
 * A space's trim checkpoint (docs/RELAY.md, "History"): what a relay that
 * trimmed the prefix of a space's log keeps of it, so that the log rebuilt
 * from the records after it still chains, dedupes and reports the right
 * version vector. One per space, replaced whole (written to a temporary
 * name and renamed into place): its presence says "every record up to
 * `trimmed` is gone", whether or not the files that held them are.
 *
 *   file   = "weftrim1" | u64 trimmed | u32 n | n x author | u32 crc32c
 *   author = key[32] | u64 seq | hash[32] | u64 lamport_end
 *   crc32c covers every byte before it; authors strictly ascending by key,
 *   seq >= 1; nothing follows the CRC.
 *
 * Each author's entry is its chain head among the records 1..trimmed: the
 * highest seq, that change's hash and last op id (weft_log_restore). The
 * codec is the only reader of those bytes (fuzzed: tests/fuzz/fuzz_trimfile.c).
 */
#ifndef WEFT_COMMON_TRIMFILE_H
#define WEFT_COMMON_TRIMFILE_H

#include <stddef.h>
#include <stdint.h>

#define WEFT__TRIM_HDR    20u        /* magic, trimmed, n */
#define WEFT__TRIM_AUTHOR 80u        /* key, seq, hash, lamport_end */
#define WEFT__TRIM_MAX    (1u << 24) /* authors at most: bounds what a file may ask for */

typedef struct weft__trim_author {
    uint8_t key[32];
    uint64_t seq;
    uint8_t hash[32];
    uint64_t lamport_end;
} weft__trim_author;

/* The size of a checkpoint of n authors. */
size_t weft__trim_size(size_t n);

/* Encodes a checkpoint into dst (weft__trim_size(n) bytes, sized by the
 * caller). The authors must be sorted by key, strictly, with seq >= 1
 * (asserted). */
void weft__trim_encode(uint8_t *dst, uint64_t trimmed, const weft__trim_author *a, size_t n);

/* Checks a whole checkpoint (magic, length, CRC, order, seq >= 1). OUT:
 * *trimmed, *n. Returns 0, or -1 when the bytes are not a whole, intact
 * checkpoint. */
int weft__trim_parse(uint64_t *trimmed, size_t *n, const uint8_t *src, size_t src_len);

/* Author i of a checkpoint weft__trim_parse accepted. OUT: *a. */
void weft__trim_author_get(weft__trim_author *a, const uint8_t *src, size_t i);

#endif
