/*
 * Lowercase hexadecimal, as the relay names space directories and Redis
 * keys and the CLI prints hashes and stores version vectors. Encoding
 * cannot fail given room; decoding validates every digit (either case) and
 * the length, and writes nothing on bad input.
 */
#ifndef WEFT_COMMON_HEX_H
#define WEFT_COMMON_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Characters weft__hex_encode writes for n bytes, with the NUL. */
#define WEFT__HEX_LEN(n) (2 * (n) + 1)

/* Writes src[0..n) as 2n lowercase digits and a NUL into dst. Returns 0, or
 * WEFT_ENOSPACE when dst_cap < 2n + 1 (dst untouched). */
int weft__hex_encode(char *dst, size_t dst_cap, const uint8_t *src, size_t n);

/* Decodes src_len hex digits (0-9, a-f, A-F; no NUL needed) into dst.
 * OUT: *out_len = src_len / 2 (may be NULL). Returns 0, WEFT_EMALFORMED
 * for an odd length or a non-digit, WEFT_ENOSPACE when dst_cap is too
 * small; on any error dst is untouched. */
int weft__hex_decode(uint8_t *dst, size_t dst_cap, size_t *out_len, const char *src,
                     size_t src_len);

#endif
