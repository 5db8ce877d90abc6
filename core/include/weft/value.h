/*
 * Typed values: null, bool, int64, float64, string, bytes, array, map.
 *
 * Values cross the API in their canonical binary encoding (docs/FORMAT.md,
 * "Values"): one tag byte, then the payload. Canonical means minimal varints,
 * map keys in strictly ascending byte order, UTF-8 strings; so values that
 * compare equal have equal bytes (floats compare by bit pattern: every NaN
 * payload is kept as written), and the state hash can hash the bytes.
 */
#ifndef WEFT_VALUE_H
#define WEFT_VALUE_H

#include "weft/api.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum weft_type {
    WEFT_TYPE_NULL = 0x00,
    WEFT_TYPE_FALSE = 0x01,
    WEFT_TYPE_TRUE = 0x02,
    WEFT_TYPE_INT = 0x03,    /* zigzag varint */
    WEFT_TYPE_FLOAT = 0x04,  /* 8 bytes, IEEE 754 binary64, little-endian */
    WEFT_TYPE_STRING = 0x05, /* varint length, UTF-8 */
    WEFT_TYPE_BYTES = 0x06,  /* varint length, bytes */
    WEFT_TYPE_ARRAY = 0x07,  /* varint count, values */
    WEFT_TYPE_MAP = 0x08,    /* varint count, (varint length, UTF-8 key, value)... */
} weft_type;

/* Deepest nesting of arrays and maps a decoder accepts. */
#define WEFT_VALUE_MAX_DEPTH 32

/* A decoded view of one value. Pointers borrow from the input buffer. */
typedef struct weft_value {
    weft_type type;
    int64_t i;          /* INT */
    double f;           /* FLOAT */
    const uint8_t *ptr; /* STRING/BYTES: the bytes; ARRAY/MAP: the first element */
    size_t len;         /* STRING/BYTES: byte length; ARRAY/MAP: bytes of all elements */
    uint64_t count;     /* ARRAY: elements; MAP: entries */
} weft_value;

/* Decodes and fully validates one value at the start of src (nested values
 * included). OUT: *value, and *consumed = its encoded length (may be NULL).
 * Returns 0, WEFT_ETRUNCATED, WEFT_EMALFORMED (bad tag, bad UTF-8, unsorted
 * or duplicate map keys, non-minimal varint) or WEFT_ETOOBIG (too deep). */
WEFT_API int weft_value_read(weft_value *value, size_t *consumed, const uint8_t *src,
                             size_t src_len);

/* Like weft_value_read but src must hold exactly one value. */
WEFT_API int weft_value_check(const uint8_t *src, size_t src_len);

/* Writers for scalars. Each writes the value's encoding to dst and its length
 * to *out_len; returns 0 or WEFT_ENOSPACE when dst_cap is too small (nothing
 * useful is written then). WEFT_VALUE_SCALAR_MAX bytes always suffice for
 * null, bool, int and float. Strings must be UTF-8 (WEFT_EMALFORMED if not). */
#define WEFT_VALUE_SCALAR_MAX 11
WEFT_API int weft_value_write_null(uint8_t *dst, size_t dst_cap, size_t *out_len);
WEFT_API int weft_value_write_bool(uint8_t *dst, size_t dst_cap, size_t *out_len, int b);
WEFT_API int weft_value_write_int(uint8_t *dst, size_t dst_cap, size_t *out_len, int64_t v);
WEFT_API int weft_value_write_float(uint8_t *dst, size_t dst_cap, size_t *out_len, double v);
WEFT_API int weft_value_write_string(uint8_t *dst, size_t dst_cap, size_t *out_len, const char *s,
                                     size_t len);
WEFT_API int weft_value_write_bytes(uint8_t *dst, size_t dst_cap, size_t *out_len, const uint8_t *b,
                                    size_t len);
/* Headers for containers; the caller appends `count` values (arrays) or
 * `count` (key, value) pairs written with weft_value_write_key (maps). */
WEFT_API int weft_value_write_array(uint8_t *dst, size_t dst_cap, size_t *out_len, uint64_t count);
WEFT_API int weft_value_write_map(uint8_t *dst, size_t dst_cap, size_t *out_len, uint64_t count);
WEFT_API int weft_value_write_key(uint8_t *dst, size_t dst_cap, size_t *out_len, const char *key,
                                  size_t len);

/* Non-zero when s[0..len) is valid UTF-8 (no overlongs, no surrogates). */
WEFT_API int weft_utf8_valid(const uint8_t *s, size_t len);

#ifdef __cplusplus
}
#endif
#endif
