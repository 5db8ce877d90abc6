/*
 * Cross-relay pub/sub (docs/SCALING.md): with --storage redis, the relays
 * sharing one Redis pass each other what is not stored: ephemeral frames
 * (SIGNAL, PRESENCE) for sessions on other relays, and "this space was
 * deleted". New-change notifications ride the same link but belong to the
 * storage (ingest.c).
 *
 * Messages go on a space's ephemeral channel weft:{hex}:eph, to which the
 * storage subscribes every space it has open: instance (8) | kind (1) |
 * for 'E': broadcast (1) | peer (32) | the stamped frame; for 'D' (space
 * deleted) nothing. A relay ignores its own (r->instance). Delivery is at
 * most once, to the relays subscribed at the time.
 *
 * Without Redis (r->redis NULL) pubsub_active is 0 and the rest are no-ops.
 */
#ifndef WEFT_RELAY_PUBSUB_H
#define WEFT_RELAY_PUBSUB_H

#include "relay.h"

struct space;

/* 1 when other relays may hold sessions of the same spaces. */
int pubsub_active(const relay *r);

/* Sends an ephemeral frame (already stamped with the sender's key) to the
 * other relays' sessions of the space: to the one holding `peer`, or all
 * when broadcast. Fire and forget. */
void pubsub_publish_eph(relay *r, const struct space *sp, const uint8_t peer[32], int broadcast,
                        const uint8_t *frame, size_t len);

/* Tells the other relays that the space was deleted (they drop it). */
void pubsub_space_deleted(relay *r, const uint8_t id[32]);

/* A message from the link (redis_store_config.on_eph; ud: the relay). */
void pubsub_on_message(void *ud, const uint8_t id[32], const uint8_t *msg, size_t len);

#endif
