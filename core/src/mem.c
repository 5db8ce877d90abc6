/*
 * Allocation indirection, growable buffers and the table hash. See mem.h.
 */
#include "mem.h"

#include <stdlib.h>

void *weft__realloc(const weft_allocator *a, void *p, size_t n) {
    if (a && a->realloc) return a->realloc(a->ud, p, n);
    if (n == 0) {
        free(p);
        return NULL;
    }
    return realloc(p, n);
}

int weft__grow(const weft_allocator *a, void **pp, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return WEFT_OK;
    size_t ncap = *cap ? *cap : 8;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2 / elem) return WEFT_ENOMEM;
        ncap *= 2;
    }
    void *np = weft__realloc(a, *pp, ncap * elem);
    if (!np) return WEFT_ENOMEM;
    *pp = np;
    *cap = ncap;
    return WEFT_OK;
}

void weft__wipe(void *p, size_t n) {
    volatile uint8_t *v = p;
    while (n--)
        *v++ = 0;
}

void wbuf_init(wbuf *b, const weft_allocator *a) {
    b->p = NULL;
    b->len = b->cap = 0;
    b->a = a;
    b->err = 0;
}

void wbuf_free(wbuf *b) {
    weft__free(b->a, b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

int wbuf_reserve(wbuf *b, size_t extra) {
    if (b->err) return b->err;
    if (extra > SIZE_MAX - b->len) return b->err = WEFT_ENOMEM;
    int rc = weft__grow(b->a, (void **)&b->p, &b->cap, b->len + extra, 1);
    if (rc) b->err = rc;
    return rc;
}

void wbuf_put(wbuf *b, const void *src, size_t n) {
    if (n == 0 || wbuf_reserve(b, n)) return;
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

void wbuf_u8(wbuf *b, uint8_t v) {
    if (b->len < b->cap && !b->err) {
        b->p[b->len++] = v;
        return;
    }
    wbuf_put(b, &v, 1);
}

void wbuf_varint(wbuf *b, uint64_t v) {
    if (wbuf_reserve(b, 10)) return;
    b->len += varint_put(b->p + b->len, v);
}

void wbuf_lbytes(wbuf *b, const void *src, size_t n) {
    wbuf_varint(b, n);
    wbuf_put(b, src, n);
}

static uint64_t le64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static void sip_rounds(uint64_t v[4], int n) {
    for (int i = 0; i < n; i++) {
        v[0] += v[1], v[1] = ROTL(v[1], 13), v[1] ^= v[0], v[0] = ROTL(v[0], 32);
        v[2] += v[3], v[3] = ROTL(v[3], 16), v[3] ^= v[2];
        v[0] += v[3], v[3] = ROTL(v[3], 21), v[3] ^= v[0];
        v[2] += v[1], v[1] = ROTL(v[1], 17), v[1] ^= v[2], v[2] = ROTL(v[2], 32);
    }
}

uint64_t weft__siphash(const uint8_t key[16], const void *p, size_t n, int c, int d) {
    const uint8_t *s = p;
    uint64_t k0 = le64(key), k1 = le64(key + 8);
    uint64_t v[4] = {k0 ^ 0x736f6d6570736575ULL, k1 ^ 0x646f72616e646f6dULL,
                     k0 ^ 0x6c7967656e657261ULL, k1 ^ 0x7465646279746573ULL};
    size_t len = n;
    for (; n >= 8; s += 8, n -= 8) {
        uint64_t m = le64(s);
        v[3] ^= m;
        sip_rounds(v, c);
        v[0] ^= m;
    }
    uint64_t b = (uint64_t)len << 56;
    for (size_t i = 0; i < n; i++)
        b |= (uint64_t)s[i] << (8 * i);
    v[3] ^= b;
    sip_rounds(v, c);
    v[0] ^= b;
    v[2] ^= 0xff;
    sip_rounds(v, d);
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}

uint64_t weft__hash_bytes(const void *p, size_t n, uint64_t seed) {
    const uint8_t *s = p;
    if (n <= 16) {
        /* Short keys (most document keys and names): two overlapping loads
         * cover every byte, then two rounds of mixing. */
        uint64_t a = 0, b = 0;
        if (n >= 8) {
            memcpy(&a, s, 8);
            memcpy(&b, s + n - 8, 8);
        } else if (n >= 4) {
            uint32_t x, y;
            memcpy(&x, s, 4);
            memcpy(&y, s + n - 4, 4);
            a = x;
            b = y;
        } else if (n > 0) {
            a = (uint64_t)s[0] | (uint64_t)s[n / 2] << 8 | (uint64_t)s[n - 1] << 16;
        }
        return weft__hash_u64(weft__hash_u64(a ^ seed) ^ b ^ ((uint64_t)n << 56));
    }
    uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ULL);
    while (n >= 8) {
        uint64_t k;
        memcpy(&k, s, 8);
        h = (h ^ weft__hash_u64(k)) * 0x9e3779b97f4a7c15ULL;
        s += 8;
        n -= 8;
    }
    uint64_t k = 0;
    for (size_t i = 0; i < n; i++)
        k |= (uint64_t)s[i] << (8 * i);
    h = (h ^ weft__hash_u64(k ^ n)) * 0x9e3779b97f4a7c15ULL;
    return weft__hash_u64(h);
}
