/*
 * Admission tokens (admission.h). The reader is bounded by hand: a cursor
 * that never passes the end, minimal LEB128 varints (at most 10 bytes, no
 * trailing zero groups, no overflow), and the whole input consumed.
 */
#include "admission.h"

#include "weft/error.h"

#include <string.h>

#define DOMAIN     "weft-admission-v1"
#define DOMAIN_LEN (sizeof DOMAIN - 1)
#define SIG_BYTES  64

static size_t put_varint(uint8_t *p, uint64_t v) {
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* Reads a minimal varint at *pos. Returns 0 or a WEFT_E code. */
static int get_varint(const uint8_t *src, size_t len, size_t *pos, uint64_t *out) {
    uint64_t v = 0;
    for (unsigned i = 0; i < 10; i++) {
        if (*pos >= len) return WEFT_ETRUNCATED;
        uint8_t b = src[(*pos)++];
        if (i == 9 && b > 1) return WEFT_EMALFORMED; /* past 64 bits */
        v |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) {
            if (i > 0 && b == 0) return WEFT_EMALFORMED; /* not minimal */
            *out = v;
            return 0;
        }
    }
    return WEFT_EMALFORMED;
}

int weft__admission_issue(const weft_crypto_backend *be, uint8_t *dst, size_t dst_cap, size_t *len,
                          const uint8_t space[32], const uint8_t *operator_sk, uint64_t bytes,
                          uint64_t not_before, uint64_t expires) {
    if (!be || !dst || !len || !space || !operator_sk) return WEFT_EINVAL;
    if (expires && expires <= not_before) return WEFT_EINVAL;
    if (dst_cap < WEFT__ADMISSION_MAX_BYTES) return WEFT_ENOSPACE;
    uint8_t msg[DOMAIN_LEN + WEFT__ADMISSION_MAX_BYTES];
    uint8_t *p = msg + DOMAIN_LEN;
    memcpy(msg, DOMAIN, DOMAIN_LEN);
    *p++ = 1;
    *p++ = WEFT__ADMISSION_KIND;
    memcpy(p, space, 32), p += 32;
    memcpy(p, operator_sk + 32, 32), p += 32; /* libsodium's sk is seed || pk */
    p += put_varint(p, bytes);
    p += put_varint(p, not_before);
    p += put_varint(p, expires);
    int rc = be->random(be->ctx, p, 16);
    if (rc) return rc;
    p += 16;
    size_t body = (size_t)(p - msg) - DOMAIN_LEN;
    rc = be->sign(be->ctx, dst + body, msg, DOMAIN_LEN + body, operator_sk);
    if (rc) return rc;
    memcpy(dst, msg + DOMAIN_LEN, body);
    *len = body + SIG_BYTES;
    return 0;
}

int weft__admission_decode(weft__admission *a, const uint8_t *src, size_t len) {
    if (!a || (!src && len)) return WEFT_EINVAL;
    memset(a, 0, sizeof *a);
    if (len < 2) return WEFT_ETRUNCATED;
    if (src[0] != 1) return WEFT_EVERSION;
    if (src[1] != WEFT__ADMISSION_KIND) return WEFT_EMALFORMED;
    size_t pos = 2;
    if (len - pos < 64) return WEFT_ETRUNCATED;
    memcpy(a->space, src + pos, 32);
    memcpy(a->operator_pk, src + pos + 32, 32);
    pos += 64;
    int rc;
    if ((rc = get_varint(src, len, &pos, &a->bytes)) ||
        (rc = get_varint(src, len, &pos, &a->not_before)) ||
        (rc = get_varint(src, len, &pos, &a->expires)))
        return rc;
    if (a->expires && a->expires <= a->not_before) return WEFT_EMALFORMED;
    if (len - pos < 16 + SIG_BYTES) return WEFT_ETRUNCATED;
    memcpy(a->id, src + pos, 16);
    pos += 16 + SIG_BYTES;
    return pos == len ? 0 : WEFT_EMALFORMED;
}

int weft__admission_verify(const weft_crypto_backend *be, const uint8_t *src, size_t len,
                           const uint8_t operator_pk[32], const uint8_t space[32], uint64_t now,
                           weft__admission *a) {
    if (!be || !operator_pk || !space || !a) return WEFT_EINVAL;
    int rc = weft__admission_decode(a, src, len);
    if (rc) return rc;
    if (memcmp(a->operator_pk, operator_pk, 32) != 0) return WEFT_ECRYPTO;
    if (memcmp(a->space, space, 32) != 0) return WEFT_ESPACE;
    uint8_t msg[DOMAIN_LEN + WEFT__ADMISSION_MAX_BYTES];
    size_t body = len - SIG_BYTES;
    memcpy(msg, DOMAIN, DOMAIN_LEN);
    memcpy(msg + DOMAIN_LEN, src, body);
    if (be->verify(be->ctx, src + body, msg, DOMAIN_LEN + body, operator_pk)) return WEFT_ECRYPTO;
    if (now < a->not_before) return WEFT_ENOTYET;
    if (a->expires && now >= a->expires) return WEFT_EEXPIRED;
    return 0;
}
