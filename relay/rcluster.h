/*
 * Redis Cluster slot routing helpers (docs/SCALING.md, "Redis Cluster"):
 * which of the 16384 slots a key lives in, and what a MOVED or ASK
 * redirection says. Pure functions, no I/O: storage_redis.c keeps the slot
 * map and the connections. Debian 12's hiredis (0.14) has no cluster
 * client, hence this.
 */
#ifndef WEFT_RELAY_RCLUSTER_H
#define WEFT_RELAY_RCLUSTER_H

#include <stddef.h>
#include <stdint.h>

#define RCLUSTER_SLOTS 16384

/* CRC16-CCITT (XMODEM: polynomial 0x1021, initial 0), Redis' key hash. */
uint16_t rcluster_crc16(const uint8_t *p, size_t n);

/* The slot of a key: CRC16 of its hash tag (the bytes between the first
 * '{' and the next '}', when that is not empty), else of the whole key,
 * modulo 16384. */
unsigned rcluster_key_slot(const char *key, size_t len);

/* A redirection error ("MOVED 3999 127.0.0.1:6381" or "ASK ..."). */
typedef struct rcluster_redirect {
    int ask; /* 1: ASK (this command only, after ASKING); 0: MOVED */
    unsigned slot;
    char host[64];
    int port;
} rcluster_redirect;

/* Parses an error reply's text. Returns 1 for a well-formed redirection,
 * 0 for anything else (another error, or a malformed one). */
int rcluster_parse_redirect(const char *err, size_t len, rcluster_redirect *out);

#endif
