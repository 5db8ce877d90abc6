/*
 * Canonical value encoding: decoding with full validation, and writers.
 * The decoder is recursive with an explicit depth limit, so hostile nesting
 * fails with WEFT_ETOOBIG instead of exhausting the stack.
 */
#include "weft/value.h"
#include "mem.h"
#include "value_int.h"

int weft_utf8_valid(const uint8_t *s, size_t len) {
    /* Most names, keys and strings are ASCII: one OR over the bytes (which
     * compilers vectorize) settles those before the full check. */
    uint8_t any = 0;
    for (size_t k = 0; k < len; k++)
        any |= s[k];
    if (any < 0x80) return 1;
    size_t i = 0;
    while (i < len) {
        /* Skip ASCII eight bytes at a time: most text is ASCII. */
        while (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ULL) break;
            i += 8;
        }
        if (i >= len) break;
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp;
        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (len - i <= n) return 0;
        for (size_t k = 1; k <= n; k++) {
            uint8_t cc = s[i + k];
            if ((cc & 0xc0) != 0x80) return 0;
            cp = (cp << 6) | (cc & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += n + 1;
    }
    return 1;
}

static int key_less(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen) {
    size_t m = alen < blen ? alen : blen;
    int c = memcmp(a, b, m);
    return c < 0 || (c == 0 && alen < blen);
}

static void read_value(wreader *r, weft_value *v, int depth);

/* Validates `count` elements (maps: key + value pairs) in r. */
static void read_elements(wreader *r, uint64_t count, int is_map, int depth) {
    const uint8_t *prev_key = NULL;
    size_t prev_len = 0;
    for (uint64_t k = 0; k < count && !r->err; k++) {
        if (is_map) {
            size_t klen;
            const uint8_t *key = rd_lbytes(r, &klen, rd_left(r));
            if (r->err) return;
            if (!weft_utf8_valid(key, klen) ||
                (prev_key && !key_less(prev_key, prev_len, key, klen))) {
                rd_fail(r, WEFT_EMALFORMED);
                return;
            }
            prev_key = key;
            prev_len = klen;
        }
        weft_value child;
        read_value(r, &child, depth + 1);
    }
}

static void read_value(wreader *r, weft_value *v, int depth) {
    if (depth > WEFT_VALUE_MAX_DEPTH) {
        rd_fail(r, WEFT_ETOOBIG);
        return;
    }
    v->type = (weft_type)rd_u8(r);
    switch (v->type) {
    case WEFT_TYPE_NULL:
    case WEFT_TYPE_FALSE:
    case WEFT_TYPE_TRUE:
        return;
    case WEFT_TYPE_INT:
        v->i = zigzag_dec(rd_varint(r));
        return;
    case WEFT_TYPE_FLOAT: {
        const uint8_t *p = rd_take(r, 8);
        if (!p) return;
        uint64_t bits = 0;
        for (int k = 7; k >= 0; k--)
            bits = (bits << 8) | p[k];
        memcpy(&v->f, &bits, 8);
        return;
    }
    case WEFT_TYPE_STRING:
    case WEFT_TYPE_BYTES:
        v->ptr = rd_lbytes(r, &v->len, rd_left(r));
        if (!r->err && v->type == WEFT_TYPE_STRING && !weft_utf8_valid(v->ptr, v->len))
            rd_fail(r, WEFT_EMALFORMED);
        return;
    case WEFT_TYPE_ARRAY:
    case WEFT_TYPE_MAP: {
        v->count = rd_varint(r);
        /* Every element takes at least one byte (maps: two), which bounds
         * the count by the input before any work is done. */
        if (!r->err && v->count > rd_left(r)) rd_fail(r, WEFT_ETRUNCATED);
        v->ptr = r->p;
        read_elements(r, v->count, v->type == WEFT_TYPE_MAP, depth);
        v->len = (size_t)(r->p - v->ptr);
        return;
    }
    default:
        rd_fail(r, WEFT_EMALFORMED);
    }
}

int weft_value_read(weft_value *value, size_t *consumed, const uint8_t *src, size_t src_len) {
    validate_or_ret(value && (src || src_len == 0), WEFT_EINVAL);
    wreader r;
    rd_init(&r, src, src_len);
    memset(value, 0, sizeof *value);
    read_value(&r, value, 0);
    if (r.err) return r.err;
    if (consumed) *consumed = (size_t)(r.p - src);
    return WEFT_OK;
}

int weft_value_check(const uint8_t *src, size_t src_len) {
    weft_value v;
    size_t used;
    int rc = weft_value_read(&v, &used, src, src_len);
    if (rc) return rc;
    return used == src_len ? WEFT_OK : WEFT_EMALFORMED;
}

/* Validates one value inside a larger record: used by the op decoder.
 * Scalars, by far the most common, skip the general decoder. */
void weft__value_skip(wreader *r) {
    if (r->p < r->end) {
        uint8_t tag = *r->p;
        if (tag <= WEFT_TYPE_TRUE) {
            r->p++;
            return;
        }
        if (tag == WEFT_TYPE_INT) {
            r->p++;
            rd_varint(r);
            return;
        }
    }
    weft_value v;
    read_value(r, &v, 0);
}

void weft__value_skip_nested(wreader *r) {
    weft_value v;
    read_value(r, &v, 1);
}

static int write_head(uint8_t *dst, size_t cap, size_t *out_len, uint8_t tag, uint64_t n,
                      size_t extra) {
    validate_or_ret(dst || cap == 0, WEFT_EINVAL);
    validate_or_ret(out_len, WEFT_EINVAL);
    size_t need = 1 + varint_len(n) + extra;
    if (need < extra || cap < need) return WEFT_ENOSPACE;
    dst[0] = tag;
    varint_put(dst + 1, n);
    *out_len = need;
    return WEFT_OK;
}

int weft_value_write_null(uint8_t *dst, size_t dst_cap, size_t *out_len) {
    validate_or_ret(dst && out_len, WEFT_EINVAL);
    if (dst_cap < 1) return WEFT_ENOSPACE;
    dst[0] = WEFT_TYPE_NULL;
    *out_len = 1;
    return WEFT_OK;
}

int weft_value_write_bool(uint8_t *dst, size_t dst_cap, size_t *out_len, int b) {
    validate_or_ret(dst && out_len, WEFT_EINVAL);
    if (dst_cap < 1) return WEFT_ENOSPACE;
    dst[0] = b ? WEFT_TYPE_TRUE : WEFT_TYPE_FALSE;
    *out_len = 1;
    return WEFT_OK;
}

int weft_value_write_int(uint8_t *dst, size_t dst_cap, size_t *out_len, int64_t v) {
    return write_head(dst, dst_cap, out_len, WEFT_TYPE_INT, zigzag_enc(v), 0);
}

int weft_value_write_float(uint8_t *dst, size_t dst_cap, size_t *out_len, double v) {
    validate_or_ret(dst && out_len, WEFT_EINVAL);
    if (dst_cap < 9) return WEFT_ENOSPACE;
    uint64_t bits;
    memcpy(&bits, &v, 8);
    dst[0] = WEFT_TYPE_FLOAT;
    for (int k = 0; k < 8; k++)
        dst[1 + k] = (uint8_t)(bits >> (8 * k));
    *out_len = 9;
    return WEFT_OK;
}

int weft_value_write_string(uint8_t *dst, size_t dst_cap, size_t *out_len, const char *s,
                            size_t len) {
    validate_or_ret(s || len == 0, WEFT_EINVAL);
    if (!weft_utf8_valid((const uint8_t *)s, len)) return WEFT_EMALFORMED;
    int rc = write_head(dst, dst_cap, out_len, WEFT_TYPE_STRING, len, len);
    if (!rc && len) memcpy(dst + *out_len - len, s, len);
    return rc;
}

int weft_value_write_bytes(uint8_t *dst, size_t dst_cap, size_t *out_len, const uint8_t *b,
                           size_t len) {
    validate_or_ret(b || len == 0, WEFT_EINVAL);
    int rc = write_head(dst, dst_cap, out_len, WEFT_TYPE_BYTES, len, len);
    if (!rc && len) memcpy(dst + *out_len - len, b, len);
    return rc;
}

int weft_value_write_array(uint8_t *dst, size_t dst_cap, size_t *out_len, uint64_t count) {
    return write_head(dst, dst_cap, out_len, WEFT_TYPE_ARRAY, count, 0);
}

int weft_value_write_map(uint8_t *dst, size_t dst_cap, size_t *out_len, uint64_t count) {
    return write_head(dst, dst_cap, out_len, WEFT_TYPE_MAP, count, 0);
}

int weft_value_write_key(uint8_t *dst, size_t dst_cap, size_t *out_len, const char *key,
                         size_t len) {
    validate_or_ret(dst && out_len && (key || len == 0), WEFT_EINVAL);
    if (!weft_utf8_valid((const uint8_t *)key, len)) return WEFT_EMALFORMED;
    size_t need = varint_len(len) + len;
    if (dst_cap < need) return WEFT_ENOSPACE;
    size_t n = varint_put(dst, len);
    if (len) memcpy(dst + n, key, len);
    *out_len = need;
    return WEFT_OK;
}
