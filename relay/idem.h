/*
 * Idempotency cache of one space: the answers to the last IDEM_SLOTS POSTs
 * that carried an Idempotency-Key, each remembered for IDEM_TTL_S seconds
 * and keyed by (token id, key), so a repeated POST gets the first answer
 * again (docs/RELAY.md, "HTTP").
 *
 * Invariants: at most IDEM_SLOTS entries per cache (the oldest is replaced
 * first); the array grows on demand, so a space that never sees a key
 * costs nothing. The cache belongs to its space and goes with it.
 */
#ifndef WEFT_RELAY_IDEM_H
#define WEFT_RELAY_IDEM_H

#include <stddef.h>
#include <stdint.h>

#define IDEM_SLOTS   4096
#define IDEM_KEY_MAX 128
#define IDEM_TTL_S   86400

typedef struct idem_cache idem_cache;

/* The body remembered for (tid, key) and still fresh at now (unix s), or
 * NULL. OUT: *len. The bytes are borrowed until the next idem_put. NULL
 * cache: nothing remembered. */
const char *idem_find(const idem_cache *c, const uint8_t tid[16], const char *key, uint64_t now,
                      size_t *len);

/* Remembers a copy of body for (tid, key), creating the cache on first use
 * (*c may be NULL). Out of memory only forgets the answer. */
void idem_put(idem_cache **c, const uint8_t tid[16], const char *key, const char *body, size_t len,
              uint64_t now);

/* NULL is a no-op. */
void idem_free(idem_cache *c);

#endif
