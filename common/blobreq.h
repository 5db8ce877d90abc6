/*
 * The parts of a files request the relay reads from the wire (docs/RELAY.md,
 * "Files"): a file id, a chunk index, the path of a signed URL and a Range
 * header. Pure parsers over (pointer, length), no I/O, no allocation; the
 * relay's http.c and blobs.c use them, fuzz_blobreq checks them.
 */
#ifndef WEFT_COMMON_BLOBREQ_H
#define WEFT_COMMON_BLOBREQ_H

#include <stddef.h>
#include <stdint.h>

#define WEFT__BLOB_ID_BYTES   16
#define WEFT__BLOB_MAX_CHUNKS (1u << 20)

/* A file id: exactly 32 hex digits (either case). Returns 0 or -1. */
int weft__blob_id_parse(uint8_t id[WEFT__BLOB_ID_BYTES], const char *p, size_t n);

/* A chunk index: 1 to 7 decimal digits, below WEFT__BLOB_MAX_CHUNKS.
 * Returns 0 or -1. */
int weft__blob_chunk_parse(uint32_t *out, const char *p, size_t n);

/* "{file}" or "{file}/{chunk}" (what follows ".../blobs/"). OUT: id, and
 * *chunk for the second form. Returns 1 (a file), 2 (a chunk) or 0. */
int weft__blob_tail_parse(uint8_t id[WEFT__BLOB_ID_BYTES], uint32_t *chunk, const char *p,
                          size_t n);

/* "/v1/blobs/{space, 64 hex digits}/{file}/{chunk}": a signed URL's path.
 * Returns 0 or -1. */
int weft__blob_url_path_parse(uint8_t space[32], uint8_t id[WEFT__BLOB_ID_BYTES], uint32_t *chunk,
                              const char *p, size_t n);

/* A Range header against a chunk of len bytes: "bytes=a-b", "bytes=a-" or
 * "bytes=-n". Returns 1 with [*from, *to] (inclusive, inside the chunk),
 * 0 when there is no usable range (another unit, several ranges, a
 * malformed one: the whole chunk is served, as RFC 9110 allows), or -1
 * when it is well formed but lies outside the chunk (416). */
int weft__blob_range_parse(uint64_t *from, uint64_t *to, const char *v, size_t n, uint64_t len);

#endif
