/*
 * The per-token change limit shared by every relay on one Redis
 * (ratelimit.h, token_rate_take_shared; docs/SCALING.md).
 *
 * A relay takes a token's units from Redis in chunks (a tenth of the
 * burst, or what one frame needs if more) and spends them locally, so most
 * frames need no round trip; a frame that finds too little credit waits for
 * one. What a relay holds unspent is already counted in Redis: the shared
 * limit is never exceeded, it only gets tighter by up to a chunk per relay.
 * Credit left after one window is dropped (it was counted in that window).
 * The table is the per-(space, token) one of ratelimit.h: tokens = credit,
 * last_us = when it was granted. The Redis key names the space too, so a
 * token id minted in another space never shares a limit (issue 23).
 */
#include "ratelimit.h"
#include "relay.h"
#include "storage_redis.h"

#include <stdlib.h>
#include <string.h>

typedef struct rate_req {
    waiter w; /* first: the waiting party's slot points here */
    relay *r;
    uint8_t space[32], id[16];
    uint32_t n, asked;
} rate_req;

static uint32_t rate_window_ms(const relay *r) {
    /* The per-relay bucket's terms as a sliding window: `burst` changes per
     * burst/rate seconds, the same average rate and the same burst. */
    double win = r->cfg.token_burst / r->cfg.token_rate * 1000.0;
    return win < 1 ? 1 : win > 3.6e6 ? 3600000u : (uint32_t)win;
}

/* Spends n units of the credit this relay holds. 1: it had them. */
static int spend(relay *r, const uint8_t space[32], const uint8_t id[16], uint32_t n) {
    bucket *b = token_bucket_get(r, space, id);
    if (!b) return 0;
    uint64_t now = relay_now_us();
    if (now - b->last_us > (uint64_t)rate_window_ms(r) * 1000u) b->tokens = 0;
    if (b->tokens < n) return 0;
    b->tokens -= n;
    return 1;
}

static void on_rate(void *ud, int rc, int allowed);

static int send_rate(rate_req *q) {
    relay *r = q->r;
    if (!r->redis) return WEFT_EUNAVAILABLE; /* shut down */
    return redis_store_rate_take(r->redis, q->space, q->id, q->asked, (uint64_t)r->cfg.token_burst,
                                 rate_window_ms(r), on_rate, q);
}

static void on_rate(void *ud, int rc, int allowed) {
    rate_req *q = ud;
    if (!rc && !allowed && q->asked > q->n && q->w.fn) {
        q->asked = q->n; /* no whole chunk left: maybe what this frame needs */
        if (send_rate(q) == 0) return;
    }
    if (!rc && allowed && q->asked > q->n) {
        bucket *b = token_bucket_get(q->r, q->space, q->id);
        if (b) {
            b->tokens += q->asked - q->n;
            b->last_us = relay_now_us();
        }
    }
    /* A Redis error allows: an unreachable Redis fails the append anyway,
     * so nothing gets stored unlimited; a slow one should not stop writers. */
    if (!rc && !allowed) q->r->m.limited[RL_TOKEN]++;
    waiter_answer(&q->w, rc ? 1 : allowed);
}

int token_rate_take_shared(relay *r, const uint8_t space[32], const uint8_t id[16], uint32_t n,
                           waiter **slot, relay_answer_fn fn, void *ud) {
    if (spend(r, space, id, n)) return 1;
    rate_req *q = malloc(sizeof *q);
    if (!q) return 1;
    uint32_t chunk = (uint32_t)(r->cfg.token_burst / 10);
    *q = (rate_req){.r = r, .n = n, .asked = n > chunk ? n : chunk};
    memcpy(q->space, space, 32);
    memcpy(q->id, id, 16);
    if (send_rate(q)) { /* Redis unreachable: allowed, see on_rate */
        free(q);
        return 1;
    }
    waiter_init(&q->w, slot, fn, ud);
    return RATE_LATER;
}
