/*
 * Internal allocation and byte-buffer helpers: the allocator indirection,
 * a growable output buffer with a sticky error, a bounds-checked reader with
 * a sticky error, and LEB128 varints. Decoders read through `wreader` only,
 * which is what keeps every decoder in bounds.
 */
#ifndef WEFT_MEM_H
#define WEFT_MEM_H

#include "weft/alloc.h"
#include "weft/error.h"

#include <string.h>

void *weft__realloc(const weft_allocator *a, void *p, size_t n);
static inline void *weft__alloc(const weft_allocator *a, size_t n) {
    return weft__realloc(a, NULL, n);
}
static inline void weft__free(const weft_allocator *a, void *p) {
    if (p) weft__realloc(a, p, 0);
}
/* Grows *pp (an array of `elem` bytes each) to hold at least `need`
 * elements, doubling. Returns 0 or WEFT_ENOMEM (then *pp is unchanged). */
int weft__grow(const weft_allocator *a, void **pp, size_t *cap, size_t need, size_t elem);

/* Overwrites `n` bytes in a way the compiler may not elide. */
void weft__wipe(void *p, size_t n);

/* ---- output buffer ---- */

typedef struct wbuf {
    uint8_t *p;
    size_t len, cap;
    const weft_allocator *a;
    int err; /* first error; later writes are no-ops */
} wbuf;

void wbuf_init(wbuf *b, const weft_allocator *a);
void wbuf_free(wbuf *b);
int wbuf_reserve(wbuf *b, size_t extra);
void wbuf_put(wbuf *b, const void *src, size_t n);
void wbuf_u8(wbuf *b, uint8_t v);
void wbuf_varint(wbuf *b, uint64_t v);
/* varint length followed by the bytes */
void wbuf_lbytes(wbuf *b, const void *src, size_t n);

/* Writes a varint into dst (at least 10 bytes), returns its length. */
static inline size_t varint_put(uint8_t *dst, uint64_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        dst[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    dst[n++] = (uint8_t)v;
    return n;
}

static inline size_t varint_len(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static inline uint64_t zigzag_enc(int64_t v) {
    return ((uint64_t)v << 1) ^ (uint64_t)(v < 0 ? -1 : 0);
}
static inline int64_t zigzag_dec(uint64_t v) {
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* ---- input reader ---- */

typedef struct wreader {
    const uint8_t *p, *end;
    int err; /* first error; later reads return zeros */
} wreader;

static inline void rd_init(wreader *r, const uint8_t *p, size_t n) {
    r->p = p;
    r->end = p + n;
    r->err = 0;
}
static inline size_t rd_left(const wreader *r) {
    return (size_t)(r->end - r->p);
}
static inline void rd_fail(wreader *r, int err) {
    if (!r->err) r->err = err;
    r->p = r->end;
}

static inline uint8_t rd_u8(wreader *r) {
    if (r->p >= r->end) {
        rd_fail(r, WEFT_ETRUNCATED);
        return 0;
    }
    return *r->p++;
}

/* LEB128, at most 10 bytes, minimal form only (so every value has exactly
 * one encoding and hashes of re-encoded records match). */
static inline uint64_t rd_varint(wreader *r) {
    const uint8_t *p = r->p;
    if (p < r->end && *p < 0x80) { /* fast path: one byte */
        r->p = p + 1;
        return *p;
    }
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        if (p >= r->end) {
            rd_fail(r, WEFT_ETRUNCATED);
            return 0;
        }
        uint8_t b = *p++;
        if (shift == 63 && b > 1) break; /* more than 64 bits */
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            if (b == 0 && shift) break; /* non-minimal: trailing zero group */
            r->p = p;
            return v;
        }
    }
    rd_fail(r, WEFT_EMALFORMED);
    return 0;
}

/* Returns a pointer to the next n bytes, or NULL (and sets err). */
static inline const uint8_t *rd_take(wreader *r, size_t n) {
    if (rd_left(r) < n) {
        rd_fail(r, WEFT_ETRUNCATED);
        return NULL;
    }
    const uint8_t *p = r->p;
    r->p += n;
    return p;
}

/* A varint length (at most `max`) and that many bytes. */
static inline const uint8_t *rd_lbytes(wreader *r, size_t *len, size_t max) {
    uint64_t n = rd_varint(r);
    if (r->err) return NULL;
    if (n > max && max < rd_left(r)) { /* else it is a truncation, said by rd_take */
        rd_fail(r, WEFT_ETOOBIG);
        return NULL;
    }
    *len = (size_t)n;
    return rd_take(r, (size_t)n);
}

/* SipHash with c compression and d finalization rounds (SipHash-1-3 for
 * tables whose keys come from the wire: with a secret key nobody can
 * choose keys that collide). key: 16 bytes. */
uint64_t weft__siphash(const uint8_t key[16], const void *p, size_t n, int c, int d);

/* 64-bit hash for in-memory tables (not cryptographic, not stored). */
uint64_t weft__hash_bytes(const void *p, size_t n, uint64_t seed);
static inline uint64_t weft__hash_u64(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

/* Byte equality for short runs without a libc call: overlapping loads. */
static inline int weft__bytes_eq(const uint8_t *a, const uint8_t *b, size_t n) {
    if (n >= 8) {
        uint64_t x, y;
        for (size_t i = 0; i + 8 < n; i += 8) {
            memcpy(&x, a + i, 8);
            memcpy(&y, b + i, 8);
            if (x != y) return 0;
        }
        memcpy(&x, a + n - 8, 8);
        memcpy(&y, b + n - 8, 8);
        return x == y;
    }
    if (n >= 4) {
        uint32_t x1, y1, x2, y2;
        memcpy(&x1, a, 4);
        memcpy(&y1, b, 4);
        memcpy(&x2, a + n - 4, 4);
        memcpy(&y2, b + n - 4, 4);
        return x1 == y1 && x2 == y2;
    }
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i]) return 0;
    return 1;
}

#define validate_or_ret(cond, err) \
    do {                           \
        if (!(cond)) return (err); \
    } while (0)

#endif
