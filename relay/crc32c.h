/*
 * CRC32C (Castagnoli), the checksum of every stored record: the SSE4.2
 * instruction where the CPU has it (checked once at run time), a table
 * otherwise. Both give the same values (RFC 3720 test vectors).
 */
#ifndef WEFT_RELAY_CRC32C_H
#define WEFT_RELAY_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continues crc over p[0..n). Start with crc = 0. */
uint32_t crc32c(uint32_t crc, const void *p, size_t n);

#endif
