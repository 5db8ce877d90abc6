/*
 * Built without hiredis: weft-relay refuses --storage redis (main.c), so
 * r->redis is always NULL. These stand in for ingest.c, pubsub.c and
 * ratelimit_redis.c so that callers need no #ifs; none of them is reached
 * with Redis state.
 */
#include "ingest.h"
#include "pubsub.h"
#include "ratelimit.h"

int storage_redis_new(storage **out, relay *r) {
    (void)out, (void)r;
    return WEFT_EUNAVAILABLE;
}

int ingest_start(relay *r, redis_eph_fn on_eph) {
    (void)r, (void)on_eph;
    return WEFT_EUNAVAILABLE;
}

uint64_t ingest_reconnects(const relay *r) {
    (void)r;
    return 0;
}

const redis_store_stats *ingest_stats(const relay *r) {
    (void)r;
    return NULL;
}

int pubsub_active(const relay *r) {
    (void)r;
    return 0;
}

void pubsub_publish_eph(relay *r, const struct space *sp, const uint8_t peer[32], int broadcast,
                        const uint8_t *frame, size_t len) {
    (void)r, (void)sp, (void)peer, (void)broadcast, (void)frame, (void)len;
}

void pubsub_space_deleted(relay *r, const uint8_t id[32]) {
    (void)r, (void)id;
}

void pubsub_on_message(void *ud, const uint8_t id[32], const uint8_t *msg, size_t len) {
    (void)ud, (void)id, (void)msg, (void)len;
}

int token_rate_take_shared(relay *r, const uint8_t space[32], const uint8_t id[16], uint32_t n,
                           waiter **slot, relay_answer_fn fn, void *ud) {
    (void)r, (void)space, (void)id, (void)n, (void)slot, (void)fn, (void)ud;
    return 1;
}
