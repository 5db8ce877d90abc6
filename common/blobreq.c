/* Parsers of files requests (blobreq.h). Every read is bounded by n. */
#include "blobreq.h"
#include "hex.h"

#include <string.h>

int weft__blob_id_parse(uint8_t id[WEFT__BLOB_ID_BYTES], const char *p, size_t n) {
    if (n != 2 * WEFT__BLOB_ID_BYTES) return -1;
    return weft__hex_decode(id, WEFT__BLOB_ID_BYTES, NULL, p, n) ? -1 : 0;
}

/* Up to max decimal digits; at least one. Returns the digits read or 0. */
static size_t digits(uint64_t *out, const char *p, size_t n, size_t max) {
    uint64_t v = 0;
    size_t i = 0;
    while (i < n && i < max && p[i] >= '0' && p[i] <= '9')
        v = v * 10 + (uint64_t)(p[i++] - '0');
    *out = v;
    return i;
}

int weft__blob_chunk_parse(uint32_t *out, const char *p, size_t n) {
    uint64_t v;
    if (n == 0 || n > 7 || digits(&v, p, n, 7) != n || v >= WEFT__BLOB_MAX_CHUNKS) return -1;
    *out = (uint32_t)v;
    return 0;
}

int weft__blob_tail_parse(uint8_t id[WEFT__BLOB_ID_BYTES], uint32_t *chunk, const char *p,
                          size_t n) {
    const char *slash = memchr(p, '/', n);
    size_t idn = slash ? (size_t)(slash - p) : n;
    if (weft__blob_id_parse(id, p, idn)) return 0;
    if (!slash) return 1;
    return weft__blob_chunk_parse(chunk, slash + 1, n - idn - 1) ? 0 : 2;
}

int weft__blob_url_path_parse(uint8_t space[32], uint8_t id[WEFT__BLOB_ID_BYTES], uint32_t *chunk,
                              const char *p, size_t n) {
    static const char pre[] = "/v1/blobs/";
    size_t pl = sizeof pre - 1;
    if (n < pl + 65 || memcmp(p, pre, pl) != 0 || p[pl + 64] != '/') return -1;
    if (weft__hex_decode(space, 32, NULL, p + pl, 64)) return -1;
    return weft__blob_tail_parse(id, chunk, p + pl + 65, n - pl - 65) == 2 ? 0 : -1;
}

/* 20 digits hold any u64 below 10^19; longer numbers are refused. */
#define NUM_MAX 19

int weft__blob_range_parse(uint64_t *from, uint64_t *to, const char *v, size_t n, uint64_t len) {
    if (n < 6 || memcmp(v, "bytes=", 6) != 0 || memchr(v, ',', n)) return 0;
    v += 6;
    n -= 6;
    uint64_t a, b;
    if (n && v[0] == '-') { /* the last b bytes */
        size_t k = digits(&b, v + 1, n - 1, NUM_MAX);
        if (k == 0 || k != n - 1) return 0;
        if (b == 0 || len == 0) return -1;
        *from = b >= len ? 0 : len - b;
        *to = len - 1;
        return 1;
    }
    size_t k = digits(&a, v, n, NUM_MAX);
    if (k == 0 || k >= n || v[k] != '-') return 0;
    size_t rest = n - k - 1;
    b = UINT64_MAX;
    if (rest) {
        size_t kb = digits(&b, v + k + 1, rest, NUM_MAX);
        if (kb != rest || b < a) return 0;
    }
    if (a >= len) return -1;
    *from = a;
    *to = b >= len ? len - 1 : b;
    return 1;
}
