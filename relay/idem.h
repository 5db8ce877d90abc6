/*
 * Idempotency cache of one space: the answers to the last POSTs that
 * carried an Idempotency-Key, each remembered for IDEM_TTL_S seconds and
 * keyed by (token id, key) together with a hash of the request body, so a
 * repeated POST gets the first answer again, and the same key on another
 * body is told so instead of being answered for a request it did not make
 * (docs/RELAY.md, "HTTP").
 *
 * Invariants: at most IDEM_SLOTS entries and IDEM_BYTES_MAX bytes of
 * answers per cache; the oldest entries go first (a FIFO ring); the ring
 * grows on demand, so a space that never sees a key costs nothing. The
 * cache belongs to its space and goes with it (deleted or unloaded).
 */
#ifndef WEFT_RELAY_IDEM_H
#define WEFT_RELAY_IDEM_H

#include <stddef.h>
#include <stdint.h>

#define IDEM_SLOTS     4096
#define IDEM_BYTES_MAX (2u << 20) /* answer bytes per space */
#define IDEM_KEY_MAX   128
#define IDEM_TTL_S     86400

typedef struct idem_cache idem_cache;

/* What idem_find found. */
#define IDEM_MISS     0 /* nothing fresh for (tid, key) */
#define IDEM_HIT      1 /* the same request: *body is its answer */
#define IDEM_CONFLICT 2 /* the key was used for another request body */

/* Looks (tid, key) up at now (unix s); req_hash is the BLAKE2b-256 of the
 * request body. OUT: *body, *len on IDEM_HIT (borrowed until the next
 * idem_put). NULL cache: IDEM_MISS. */
int idem_find(const idem_cache *c, const uint8_t tid[16], const char *key,
              const uint8_t req_hash[32], uint64_t now, const char **body, size_t *len);

/* Remembers a copy of body for (tid, key, req_hash), creating the cache on
 * first use (*c may be NULL) and forgetting the oldest answers to stay in
 * bounds. An answer over IDEM_BYTES_MAX, or out of memory, is not
 * remembered. */
void idem_put(idem_cache **c, const uint8_t tid[16], const char *key, const uint8_t req_hash[32],
              const char *body, size_t len, uint64_t now);

/* Entries and answer bytes held (0 for NULL). */
size_t idem_count(const idem_cache *c);
size_t idem_bytes(const idem_cache *c);

/* NULL is a no-op. */
void idem_free(idem_cache *c);

#endif
