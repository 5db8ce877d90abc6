/*
 * Redis Cluster slot routing helpers (rcluster.h). The slot rule is Redis'
 * own (cluster specification, "Keys distribution model"): CRC16 XMODEM of
 * the key, or of its hash tag, modulo 16384.
 */
#include "rcluster.h"

#include <string.h>

uint16_t rcluster_crc16(const uint8_t *p, size_t n) {
    uint16_t crc = 0;
    for (size_t i = 0; i < n; i++) {
        crc ^= (uint16_t)(p[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = (uint16_t)(crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1);
    }
    return crc;
}

unsigned rcluster_key_slot(const char *key, size_t len) {
    const char *open = memchr(key, '{', len);
    if (open) {
        size_t rest = len - (size_t)(open - key) - 1;
        const char *close = memchr(open + 1, '}', rest);
        if (close && close > open + 1)
            return rcluster_crc16((const uint8_t *)open + 1, (size_t)(close - open - 1)) &
                   (RCLUSTER_SLOTS - 1);
    }
    return rcluster_crc16((const uint8_t *)key, len) & (RCLUSTER_SLOTS - 1);
}

/* "<MOVED|ASK> <slot> <host>:<port>", host possibly an IPv6 address (the
 * last ':' splits). Nothing else may follow. */
int rcluster_parse_redirect(const char *err, size_t len, rcluster_redirect *out) {
    char buf[128];
    if (len >= sizeof buf) return 0;
    memcpy(buf, err, len);
    buf[len] = 0;
    const char *p;
    if (strncmp(buf, "MOVED ", 6) == 0) {
        out->ask = 0;
        p = buf + 6;
    } else if (strncmp(buf, "ASK ", 4) == 0) {
        out->ask = 1;
        p = buf + 4;
    } else {
        return 0;
    }
    unsigned slot = 0;
    const char *d = p;
    while (*d >= '0' && *d <= '9' && d - p < 5)
        slot = slot * 10 + (unsigned)(*d++ - '0');
    if (d == p || *d != ' ' || slot >= RCLUSTER_SLOTS) return 0;
    const char *host = d + 1, *colon = strrchr(host, ':');
    if (!colon || colon == host || (size_t)(colon - host) >= sizeof out->host) return 0;
    int port = 0;
    const char *q = colon + 1;
    while (*q >= '0' && *q <= '9' && port <= 65535)
        port = port * 10 + (*q++ - '0');
    if (q == colon + 1 || *q || port <= 0 || port > 65535) return 0;
    for (const char *h = host; h < colon; h++)
        if (*h == ' ') return 0;
    out->slot = slot;
    memcpy(out->host, host, (size_t)(colon - host));
    out->host[colon - host] = 0;
    out->port = port;
    return 1;
}
