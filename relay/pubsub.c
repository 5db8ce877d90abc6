/*
 * Cross-relay pub/sub over the Redis link (pubsub.h). Incoming ephemeral
 * frames go to the space's sessions through the owner's space_events; a
 * delete drops the space here (space_drop), as if storage had lost it.
 */
#include "pubsub.h"
#include "space.h"
#include "storage_redis.h"

#include <stdlib.h>
#include <string.h>

#define EPH_HDR 9 /* instance (8) | kind (1) */

int pubsub_active(const relay *r) {
    return r->redis != NULL;
}

void pubsub_publish_eph(relay *r, const space *sp, const uint8_t peer[32], int broadcast,
                        const uint8_t *frame, size_t len) {
    if (!r->redis) return;
    uint8_t *m = malloc(EPH_HDR + 33 + len);
    if (!m) return;
    memcpy(m, r->instance, 8);
    m[8] = 'E';
    m[EPH_HDR] = (uint8_t)(broadcast != 0);
    memcpy(m + EPH_HDR + 1, peer, 32);
    memcpy(m + EPH_HDR + 33, frame, len);
    redis_store_publish(r->redis, sp->id, m, EPH_HDR + 33 + len);
    free(m);
}

void pubsub_space_deleted(relay *r, const uint8_t id[32]) {
    if (!r->redis) return;
    uint8_t m[EPH_HDR];
    memcpy(m, r->instance, 8);
    m[8] = 'D';
    redis_store_publish(r->redis, id, m, sizeof m);
}

void pubsub_on_message(void *ud, const uint8_t id[32], const uint8_t *msg, size_t len) {
    relay *r = ud;
    if (len < EPH_HDR || memcmp(msg, r->instance, 8) == 0) return;
    space *sp = space_find(r, id);
    if (!sp) return;
    if (msg[8] == 'D') {
        space_drop(sp, WEFT_PROTO_ENOT_FOUND, "deleted through another relay");
    } else if (msg[8] == 'E' && len > EPH_HDR + 33) {
        r->space_ev.ephemeral(r->space_ev.ud, sp, msg + EPH_HDR + 1, msg[EPH_HDR],
                              msg + EPH_HDR + 33, len - EPH_HDR - 33);
    }
}
