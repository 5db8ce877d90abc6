/*
 * Redis storage (ingest.c): the storage backend behind --storage redis
 * (storage_redis_new in storage.h), and the Redis link it shares with the
 * cross-relay pub/sub (pubsub.c) and the shared rate limits
 * (ratelimit_redis.c). docs/SCALING.md has the key scheme and what an ACK
 * means.
 *
 * Without hiredis at build time (WEFT_RELAY_REDIS 0) ingest_none.c stands
 * in: storage_redis_new and ingest_start fail with WEFT_EUNAVAILABLE, and
 * main.c refuses --storage redis.
 */
#ifndef WEFT_RELAY_INGEST_H
#define WEFT_RELAY_INGEST_H

#include "relay.h"
#include "storage.h"
#include "storage_redis.h"

#ifndef WEFT_RELAY_REDIS
#define WEFT_RELAY_REDIS 0
#endif

/* Connects to cfg.redis_url on the relay's loop (after server_start) and
 * makes r->redis: new-change notifications go to the Redis backend (which
 * must be r->storage), messages on the spaces' ephemeral channels to
 * on_eph (ud: r). Returns 0 or a WEFT_E code. */
int ingest_start(relay *r, redis_eph_fn on_eph);

/* Connections to Redis re-established after a loss (0 without Redis). */
uint64_t ingest_reconnects(const relay *r);

/* Append round trips and short WAITs (NULL without Redis). */
const redis_store_stats *ingest_stats(const relay *r);

#endif
