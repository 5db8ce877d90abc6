/*
 * Stored sealed snapshots (snapfile.h): header, parse, file names. Pure
 * byte work, no I/O; every read of a stored snapshot goes through
 * weft__snap_parse, so a damaged file is never handed out.
 */
#include "snapfile.h"

#include "crc32c.h"

#include <stdio.h>
#include <string.h>

static const uint8_t magic[8] = {'w', 'e', 'f', 't', 's', 'n', 'p', '1'};

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

static uint32_t get_u32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t snap_crc(uint64_t base, const uint8_t *rec, size_t len) {
    uint8_t b[8];
    put_u64(b, base);
    return weft__crc32c(weft__crc32c(0, b, 8), rec, len);
}

void weft__snap_header(uint8_t dst[WEFT__SNAP_HDR], uint64_t base, const uint8_t *rec, size_t len) {
    memcpy(dst, magic, 8);
    put_u64(dst + 8, base);
    put_u32(dst + 16, (uint32_t)len);
    put_u32(dst + 20, snap_crc(base, rec, len));
}

int weft__snap_parse(uint64_t *base, const uint8_t **rec, size_t *len, const uint8_t *src,
                     size_t src_len) {
    if (src_len < WEFT__SNAP_HDR || memcmp(src, magic, 8) != 0) return -1;
    uint64_t b = get_u64(src + 8);
    size_t n = get_u32(src + 16);
    /* The length must be exactly what follows: a short file is a torn
     * write that was never renamed into place, or damage. */
    if (n != src_len - WEFT__SNAP_HDR) return -1;
    if (snap_crc(b, src + WEFT__SNAP_HDR, n) != get_u32(src + 20)) return -1;
    *base = b;
    *rec = src + WEFT__SNAP_HDR;
    *len = n;
    return 0;
}

void weft__snap_body(uint8_t *dst, const uint8_t *tok, size_t tok_len, const uint8_t *rec,
                     size_t rec_len) {
    dst[0] = (uint8_t)tok_len;
    dst[1] = (uint8_t)(tok_len >> 8);
    if (tok_len) memcpy(dst + 2, tok, tok_len);
    if (rec_len) memcpy(dst + 2 + tok_len, rec, rec_len);
}

int weft__snap_body_split(const uint8_t **tok, size_t *tok_len, const uint8_t **rec,
                          size_t *rec_len, const uint8_t *body, size_t len) {
    if (len < 2) return -1;
    size_t tl = (size_t)body[0] | (size_t)body[1] << 8;
    if (tl > len - 2) return -1;
    *tok = body + 2;
    *tok_len = tl;
    *rec = body + 2 + tl;
    *rec_len = len - 2 - tl;
    return 0;
}

int weft__snap_name(char *dst, size_t dst_cap, uint64_t base) {
    if (dst_cap < WEFT__SNAP_NAME_CAP) return -1;
    snprintf(dst, dst_cap, "%020llu.snap", (unsigned long long)base);
    return 0;
}

int weft__snap_name_parse(uint64_t *base, const char *name) {
    if (strlen(name) != 25 || strcmp(name + 20, ".snap") != 0) return -1;
    uint64_t v = 0;
    for (int i = 0; i < 20; i++) {
        if (name[i] < '0' || name[i] > '9') return -1;
        uint64_t d = (uint64_t)(name[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    *base = v;
    return 0;
}
