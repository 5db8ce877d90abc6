/*
 * Trim checkpoints (trimfile.h): encode and parse. Pure byte work, no I/O;
 * every read of a checkpoint goes through weft__trim_parse.
 */
#include "trimfile.h"

#include "crc32c.h"

#include <assert.h>
#include <string.h>

static const uint8_t magic[8] = {'w', 'e', 'f', 't', 'r', 'i', 'm', '1'};

static void put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

size_t weft__trim_size(size_t n) {
    return WEFT__TRIM_HDR + n * WEFT__TRIM_AUTHOR + 4;
}

void weft__trim_encode(uint8_t *dst, uint64_t trimmed, const weft__trim_author *a, size_t n) {
    assert(n <= WEFT__TRIM_MAX);
    memcpy(dst, magic, 8);
    put_u64(dst + 8, trimmed);
    put_u32(dst + 16, (uint32_t)n);
    uint8_t *p = dst + WEFT__TRIM_HDR;
    for (size_t i = 0; i < n; i++) {
        assert(a[i].seq >= 1 && (i == 0 || memcmp(a[i - 1].key, a[i].key, 32) < 0));
        memcpy(p, a[i].key, 32);
        put_u64(p + 32, a[i].seq);
        memcpy(p + 40, a[i].hash, 32);
        put_u64(p + 72, a[i].lamport_end);
        p += WEFT__TRIM_AUTHOR;
    }
    put_u32(p, weft__crc32c(0, dst, (size_t)(p - dst)));
}

int weft__trim_parse(uint64_t *trimmed, size_t *n, const uint8_t *src, size_t src_len) {
    if (src_len < weft__trim_size(0) || memcmp(src, magic, 8) != 0) return -1;
    uint32_t count = get_u32(src + 16);
    if (count > WEFT__TRIM_MAX || src_len != weft__trim_size(count)) return -1;
    size_t body = src_len - 4;
    if (weft__crc32c(0, src, body) != get_u32(src + body)) return -1;
    for (uint32_t i = 0; i < count; i++) {
        const uint8_t *p = src + WEFT__TRIM_HDR + (size_t)i * WEFT__TRIM_AUTHOR;
        if (get_u64(p + 32) == 0) return -1;
        if (i && memcmp(p - WEFT__TRIM_AUTHOR, p, 32) >= 0) return -1;
    }
    *trimmed = get_u64(src + 8);
    *n = count;
    return 0;
}

void weft__trim_author_get(weft__trim_author *a, const uint8_t *src, size_t i) {
    const uint8_t *p = src + WEFT__TRIM_HDR + i * WEFT__TRIM_AUTHOR;
    memcpy(a->key, p, 32);
    a->seq = get_u64(p + 32);
    memcpy(a->hash, p + 40, 32);
    a->lamport_end = get_u64(p + 72);
}
