/*
 * CRC32C (Castagnoli), the checksum of every stored segment record
 * (segment.h): the SSE4.2 instruction where the CPU has it (checked once,
 * on the first call), a table otherwise. Both give the same values (RFC
 * 3720 test vectors, tests/unit/test_common.c).
 */
#ifndef WEFT_COMMON_CRC32C_H
#define WEFT_COMMON_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continues crc over p[0..n). Start with crc = 0. Never fails. */
uint32_t weft__crc32c(uint32_t crc, const void *p, size_t n);

#endif
