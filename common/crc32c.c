/*
 * CRC32C (crc32c.h). The table path is the reflected polynomial 0x82F63B78
 * one byte at a time; the hardware path feeds 8 bytes per crc32q. Records
 * are checked on every read, so the hardware path matters for fan-out.
 */
#include "crc32c.h"

#include <string.h>

static uint32_t table[256];
static int hw = -1; /* -1: not probed yet */

static void init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        table[i] = c;
    }
#if defined(__x86_64__) && defined(__GNUC__)
    hw = __builtin_cpu_supports("sse4.2") ? 1 : 0;
#else
    hw = 0;
#endif
}

static uint32_t sw(uint32_t crc, const uint8_t *p, size_t n) {
    while (n--)
        crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("sse4.2"))) static uint32_t hw_crc(uint32_t crc, const uint8_t *p, size_t n) {
    uint64_t c = crc;
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = __builtin_ia32_crc32di(c, v);
        p += 8;
        n -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (n--)
        c32 = __builtin_ia32_crc32qi(c32, *p++);
    return c32;
}
#endif

uint32_t weft__crc32c(uint32_t crc, const void *p, size_t n) {
    if (hw < 0) init();
    crc = ~crc;
#if defined(__x86_64__) && defined(__GNUC__)
    if (hw) return ~hw_crc(crc, p, n);
#endif
    return ~sw(crc, p, n);
}
