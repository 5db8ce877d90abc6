/*
 * Token buckets: `rate` units per second, holding at most `burst`. One per
 * connection (frames), one per capability token id (changes), the latter in
 * a small table keyed by token id so that opening more connections with the
 * same token does not buy more throughput. rate <= 0 means unlimited.
 *
 * With Redis the per-token limit is shared by every relay instead
 * (ratelimit_redis.c); token_rate_take hides which one a relay has.
 */
#ifndef WEFT_RELAY_RATELIMIT_H
#define WEFT_RELAY_RATELIMIT_H

#include "waiter.h"

#include <stddef.h>
#include <stdint.h>

struct relay;

typedef struct bucket {
    double tokens;
    uint64_t last_us;
} bucket;

/* Takes n units at time now_us. Returns 1 when allowed, 0 when the bucket
 * is empty (nothing is taken then). A fresh (zeroed) bucket starts full. */
int bucket_take(bucket *b, double rate, double burst, double n, uint64_t now_us);

typedef struct token_bucket_tab token_bucket_tab;

/* The bucket of a token id (16 bytes), created full on first use. Returns
 * NULL when out of memory (callers then allow the request). */
bucket *token_bucket_get(token_bucket_tab **tab, const uint8_t id[16]);

/* Drops buckets idle for longer than idle_us (they would be full again). */
void token_bucket_prune(token_bucket_tab *tab, uint64_t now_us, uint64_t idle_us);

void token_bucket_free(token_bucket_tab *tab);

/* Returned by token_rate_take when the verdict comes later. */
#define RATE_LATER 2

/* Takes n units of a token id's change limit (--token-rate, --token-burst).
 * Returns 1 (allowed, taken), 0 (refused, nothing taken), or RATE_LATER:
 * the limit is shared and the verdict comes as fn(ud, 1 or 0), never
 * before this returns (*slot holds the waiter meanwhile). Out of memory
 * allows. */
int token_rate_take(struct relay *r, const uint8_t id[16], uint32_t n, waiter **slot,
                    relay_answer_fn fn, void *ud);

/* The limit shared through Redis (ratelimit_redis.c; docs/SCALING.md):
 * spends credit this relay took from Redis before, or asks for more. Same
 * returns as token_rate_take; a Redis error allows. */
int token_rate_take_shared(struct relay *r, const uint8_t id[16], uint32_t n, waiter **slot,
                           relay_answer_fn fn, void *ud);

#endif
