/*
 * Hexadecimal (hex.h). Decoding checks the whole input before writing, so
 * a failed decode leaves the destination as it was.
 */
#include "hex.h"

#include "weft/error.h"

static int digit(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int weft__hex_encode(char *dst, size_t dst_cap, const uint8_t *src, size_t n) {
    static const char digits[] = "0123456789abcdef";
    if (n > (SIZE_MAX - 1) / 2 || dst_cap < 2 * n + 1) return WEFT_ENOSPACE;
    for (size_t i = 0; i < n; i++) {
        dst[2 * i] = digits[src[i] >> 4];
        dst[2 * i + 1] = digits[src[i] & 15];
    }
    dst[2 * n] = 0;
    return 0;
}

int weft__hex_decode(uint8_t *dst, size_t dst_cap, size_t *out_len, const char *src,
                     size_t src_len) {
    if (src_len % 2) return WEFT_EMALFORMED;
    for (size_t i = 0; i < src_len; i++)
        if (digit(src[i]) < 0) return WEFT_EMALFORMED;
    if (dst_cap < src_len / 2) return WEFT_ENOSPACE;
    for (size_t i = 0; i < src_len; i += 2)
        dst[i / 2] = (uint8_t)(digit(src[i]) << 4 | digit(src[i + 1]));
    if (out_len) *out_len = src_len / 2;
    return 0;
}
