/*
 * Redis wiring of the relay (ingest.h; docs/SCALING.md).
 *
 * Per space, an ingest_state holds: this turn's batch of appends, the
 * batches in flight (oldest first: one connection answers in order), the
 * ingest cursor's state (a head query and at most one XRANGE in flight,
 * plus "read again" when more was announced meanwhile), the sessions
 * waiting for the space to load, and the origins of this relay's own
 * appends by relay sequence (so the ingest indexes them with the session
 * that sent them, which is then not sent its own changes back).
 *
 * Lifetimes: Redis callbacks may outlive a space (dropped, deleted, or the
 * relay stopping). An ingest_state is reference-counted by its callbacks in
 * flight and detached (sp = NULL) when its space goes; a batch is counted
 * by the pipeline and by every held ACK or POST that waits for it, and
 * detached the same way. A detached batch counts as failed.
 */
#include "ingest.h"
#include "ratelimit.h"
#include "space.h"
#include "storage_redis.h"

#include <stdlib.h>
#include <string.h>

#define READ_COUNT 1000 /* records per XRANGE */

struct append_batch {
    int refs;
    int state; /* 0 building, 1 sent, 2 confirmed, -1 failed */
    relay *r;
    space *sp;          /* NULL once the space is gone */
    append_batch *next; /* the space's batches in flight */
    size_t n, cap;
    uint8_t (*keys)[32];
    uint8_t **recs;
    size_t *lens;
    uint64_t *origin;
    uint64_t *rseq;
    uint8_t *dup;
    uint64_t max_rseq;
};

/* A session waiting for the space: until it has loaded (target 0), or
 * until the ingest reached the head Redis gave for it (TARGET_UNKNOWN until
 * that answer comes). */
#define TARGET_UNKNOWN UINT64_MAX
typedef struct wait_ent {
    waiter *w;
    uint64_t id, target;
} wait_ent;

typedef struct origin_ent {
    uint64_t rseq, origin;
} origin_ent;

typedef struct ingest_state {
    relay *r;
    space *sp; /* NULL once the space is gone */
    int refs;  /* head queries and reads in flight */
    append_batch *open, *fly_head, *fly_tail;
    space *batch_next; /* in r->batching */
    int in_batching;
    uint64_t inflight; /* records queued or in flight */
    int head_pending, head_known, reading, read_again, retry;
    int read_knows_head; /* the read in flight was sent after the head came */
    uint64_t load_target, known_head;
    wait_ent *waiters;
    size_t n_waiters, cap_waiters;
    uint64_t next_wait_id;
    origin_ent *orig;
    size_t o_head, o_tail, o_cap;
} ingest_state;

/* ---- batches ---- */

void batch_unref(append_batch *b) {
    if (!b || --b->refs > 0) return;
    for (size_t i = 0; i < b->n && b->recs; i++)
        free(b->recs[i]);
    free(b->keys);
    free(b->recs);
    free(b->lens);
    free(b->origin);
    free(b->rseq);
    free(b->dup);
    free(b);
}

int batch_state(const append_batch *b) {
    if (b->state < 0 || !b->sp) return -1;
    if (b->state != 2) return 0;
    return b->sp->durable >= b->max_rseq;
}

void batch_resolve(const append_batch *b, ack_entry *e, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
        if (e[i].status != ACK_PENDING) continue;
        size_t k = (size_t)e[i].value;
        if (b->dup[k]) {
            e[i].status = WEFT_ACK_DUPLICATE;
            e[i].value = 0;
        } else {
            e[i].status = WEFT_ACK_STORED;
            e[i].value = b->rseq[k];
        }
    }
}

static int batch_grow(append_batch *b) {
    size_t cap = b->cap ? b->cap * 2 : 16;
    void *k = realloc(b->keys, cap * 32);
    if (k) b->keys = k;
    void *r = realloc(b->recs, cap * sizeof *b->recs);
    if (r) b->recs = r;
    void *l = realloc(b->lens, cap * sizeof *b->lens);
    if (l) b->lens = l;
    void *o = realloc(b->origin, cap * sizeof *b->origin);
    if (o) b->origin = o;
    if (!k || !r || !l || !o) return WEFT_ENOMEM;
    b->cap = cap;
    return 0;
}

/* ---- loading and reading ---- */

static void ing_release(ingest_state *ing) {
    if (--ing->refs == 0 && !ing->sp) free(ing);
}

static void on_head(void *ud, int rc, uint64_t head);
static void on_read(void *ud, int rc, const uint64_t *rseq, const uint8_t *const *recs,
                    const size_t *lens, size_t n);

static void request_head(ingest_state *ing) {
    if (ing->head_pending || ing->r->ingest_stopping) return;
    if (redis_store_head(ing->r->redis, ing->sp->id, on_head, ing)) {
        ing->retry = 1;
        return;
    }
    ing->head_pending = 1;
    ing->refs++;
}

static void kick(ingest_state *ing) {
    if (ing->r->ingest_stopping) return;
    if (ing->reading) {
        ing->read_again = 1;
        return;
    }
    if (redis_store_read(ing->r->redis, ing->sp->id, ing->sp->n_idx, READ_COUNT, on_read, ing)) {
        ing->retry = 1;
        return;
    }
    ing->reading = 1;
    ing->read_again = 0;
    ing->read_knows_head = ing->head_known;
    ing->refs++;
}

/* Resumes the sessions whose wait is over (the space loaded, and the
 * ingest at their target). */
static void check_waiters(ingest_state *ing) {
    space *sp = ing->sp;
    if (!sp || sp->loading) return;
    /* Resuming may touch this space again (a HELLO goes live, a new wait
     * comes): take the ready ones out first. */
    size_t n = 0, k = 0;
    waiter **ready = malloc((ing->n_waiters + 1) * sizeof *ready);
    if (!ready) return;
    for (size_t i = 0; i < ing->n_waiters; i++) {
        if (ing->waiters[i].target <= sp->n_idx)
            ready[n++] = ing->waiters[i].w;
        else
            ing->waiters[k++] = ing->waiters[i];
    }
    ing->n_waiters = k;
    for (size_t i = 0; i < n; i++)
        waiter_answer(ready[i], 0);
    free(ready);
}

static void check_loaded(ingest_state *ing) {
    space *sp = ing->sp;
    if (!sp->loading || !ing->head_known || sp->n_idx < ing->load_target) return;
    sp->loading = 0;
    relay_log("space=%s loaded from redis records=%zu authors=%zu", sp->hex, sp->n_idx,
              sp->n_authors);
    check_waiters(ing);
}

static void on_head(void *ud, int rc, uint64_t head) {
    ingest_state *ing = ud;
    ing->head_pending = 0;
    if (ing->sp && rc) ing->retry = 1;
    if (ing->sp && !rc) {
        ing->head_known = 1;
        ing->load_target = head;
        if (head > ing->known_head) ing->known_head = head;
        if (ing->sp->n_idx < head) kick(ing);
        check_loaded(ing);
    }
    ing_release(ing);
}

/* The origin of this relay's own record rseq (0: another relay's). */
static uint64_t take_origin(ingest_state *ing, uint64_t rseq) {
    while (ing->o_head < ing->o_tail && ing->orig[ing->o_head].rseq < rseq)
        ing->o_head++;
    if (ing->o_head < ing->o_tail && ing->orig[ing->o_head].rseq == rseq)
        return ing->orig[ing->o_head++].origin;
    return 0;
}

static void on_read(void *ud, int rc, const uint64_t *rseq, const uint8_t *const *recs,
                    const size_t *lens, size_t n) {
    ingest_state *ing = ud;
    ing->reading = 0;
    space *sp = ing->sp;
    if (!sp || rc) {
        if (sp) ing->retry = 1;
        ing_release(ing);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (rseq[i] <= sp->n_idx) continue;
        int err = rseq[i] != sp->n_idx + 1 ? WEFT_EMALFORMED : 0;
        if (!err) err = space_ingest(sp, rseq[i], recs[i], lens[i], take_origin(ing, rseq[i]));
        if (err) {
            ing_release(ing); /* sp still holds ing: not freed here */
            relay_log("space=%s ingest at rseq=%llu failed: %s", sp->hex,
                      (unsigned long long)rseq[i], weft_err_name(err));
            space_drop(sp->r, sp, WEFT_PROTO_ESTORAGE, "ingest from redis failed");
            return;
        }
    }
    /* Nothing more in Redis than we hold, asked after its head came: what
     * was announced past it is gone (a delete, or a Redis that lost its
     * tail). An earlier read may just have been sent too soon. */
    if (n == 0 && ing->read_knows_head && !ing->read_again) {
        if (ing->known_head > sp->n_idx) ing->known_head = sp->n_idx;
        if (ing->load_target > sp->n_idx) ing->load_target = sp->n_idx;
    }
    if (n == READ_COUNT || ing->read_again || sp->n_idx < ing->known_head) kick(ing);
    if (sp->loading)
        check_loaded(ing);
    else if (n)
        check_waiters(ing);
    ing_release(ing);
}

/* ---- pub/sub ---- */

static void on_new(void *ud, const uint8_t id[32], uint64_t head) {
    relay *r = ud;
    space *sp = space_find(r, id);
    if (!sp || !sp->ing) return;
    ingest_state *ing = sp->ing;
    if (head == 0) { /* (re)subscribed: notifications may have been lost */
        if (!ing->head_known) request_head(ing);
        kick(ing);
    } else if (head > sp->n_idx) {
        if (head > ing->known_head) ing->known_head = head;
        kick(ing);
    }
}

/* Ephemeral messages: instance (8) | kind (1) | then for 'E': broadcast (1)
 * | peer (32) | the stamped frame; for 'D' (space deleted) nothing. */
#define EPH_HDR 9

static void on_eph(void *ud, const uint8_t id[32], const uint8_t *msg, size_t len) {
    relay *r = ud;
    if (len < EPH_HDR || memcmp(msg, r->instance, 8) == 0) return;
    space *sp = space_find(r, id);
    if (!sp) return;
    if (msg[8] == 'D') {
        space_drop(r, sp, WEFT_PROTO_ENOT_FOUND, "deleted through another relay");
    } else if (msg[8] == 'E' && len > EPH_HDR + 33) {
        r->space_ev.ephemeral(r->space_ev.ud, sp, msg + EPH_HDR + 1, msg[EPH_HDR],
                              msg + EPH_HDR + 33, len - EPH_HDR - 33);
    }
}

void ingest_publish_eph(space *sp, const uint8_t peer[32], int broadcast, const uint8_t *frame,
                        size_t len) {
    relay *r = sp->r;
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

static void on_deleted(void *ud, int rc, uint64_t head) {
    waiter *w = ud;
    (void)head;
    if (rc) relay_log("redis: a space delete was not confirmed: %s", weft_err_name(rc));
    waiter_answer(w, rc != 0);
}

int ingest_delete(space *sp, waiter **slot, relay_answer_fn fn, void *ud) {
    relay *r = sp->r;
    waiter *w = malloc(sizeof *w);
    if (!w) return WEFT_ENOMEM;
    int rc = r->ingest_stopping ? WEFT_EUNAVAILABLE
                                : redis_store_delete(r->redis, sp->id, on_deleted, w);
    if (rc) {
        free(w);
        return rc;
    }
    waiter_init(w, slot, fn, ud);
    uint8_t m[EPH_HDR];
    memcpy(m, r->instance, 8);
    m[8] = 'D';
    redis_store_publish(r->redis, sp->id, m, sizeof m);
    return 0;
}

/* ---- spaces ---- */

int ingest_open(space *sp) {
    ingest_state *ing = calloc(1, sizeof *ing);
    if (!ing) return WEFT_ENOMEM;
    ing->r = sp->r;
    ing->sp = sp;
    sp->ing = ing;
    sp->loading = 1;
    int rc = redis_store_subscribe(sp->r->redis, sp->id);
    if (rc) {
        sp->ing = NULL;
        free(ing);
        return rc;
    }
    request_head(ing);
    return 0;
}

void ingest_close(space *sp) {
    ingest_state *ing = sp->ing;
    relay *r = ing->r;
    if (ing->in_batching) {
        space **pp = &r->batching;
        while (*pp != sp)
            pp = &(*pp)->ing->batch_next;
        *pp = ing->batch_next;
        ing->in_batching = 0;
    }
    if (ing->open) {
        r->m.redis_inflight -= ing->open->n;
        ing->open->state = -1;
        ing->open->sp = NULL;
        batch_unref(ing->open);
        ing->open = NULL;
    }
    for (append_batch *b = ing->fly_head; b; b = b->next)
        b->sp = NULL;
    wait_ent *w = ing->waiters;
    size_t n = ing->n_waiters;
    ing->waiters = NULL;
    ing->n_waiters = 0;
    for (size_t i = 0; i < n; i++)
        waiter_answer(w[i].w, 1);
    free(w);
    if (r->redis) redis_store_unsubscribe(r->redis, sp->id);
    free(ing->orig);
    ing->orig = NULL;
    ing->sp = NULL;
    sp->ing = NULL;
    if (ing->refs == 0) free(ing);
}

static wait_ent *add_waiter(ingest_state *ing, waiter **slot, relay_answer_fn fn, void *ud,
                            uint64_t target) {
    if (ing->n_waiters == ing->cap_waiters) {
        size_t cap = ing->cap_waiters ? ing->cap_waiters * 2 : 8;
        wait_ent *p = realloc(ing->waiters, cap * sizeof *p);
        if (!p) return NULL;
        ing->waiters = p;
        ing->cap_waiters = cap;
    }
    waiter *w = malloc(sizeof *w);
    if (!w) return NULL;
    waiter_init(w, slot, fn, ud);
    wait_ent *e = &ing->waiters[ing->n_waiters++];
    *e = (wait_ent){.w = w, .id = ++ing->next_wait_id, .target = target};
    return e;
}

int ingest_wait(space *sp, waiter **slot, relay_answer_fn fn, void *ud) {
    return add_waiter(sp->ing, slot, fn, ud, 0) ? 0 : WEFT_ENOMEM;
}

typedef struct sync_req {
    ingest_state *ing;
    uint64_t id;
} sync_req;

static void on_sync_head(void *ud, int rc, uint64_t head) {
    sync_req *q = ud;
    ingest_state *ing = q->ing;
    uint64_t id = q->id;
    free(q);
    if (ing->sp) {
        /* An error does not hold the session: it goes on with what is here. */
        if (rc) head = 0;
        for (size_t i = 0; i < ing->n_waiters; i++)
            if (ing->waiters[i].id == id) ing->waiters[i].target = head;
        if (head > ing->known_head) ing->known_head = head;
        if (head > ing->sp->n_idx) kick(ing);
        check_waiters(ing);
    }
    ing_release(ing);
}

int ingest_sync(space *sp, waiter **slot, relay_answer_fn fn, void *ud) {
    ingest_state *ing = sp->ing;
    sync_req *q = malloc(sizeof *q);
    wait_ent *e = q ? add_waiter(ing, slot, fn, ud, TARGET_UNKNOWN) : NULL;
    if (!e) {
        free(q);
        return WEFT_ENOMEM;
    }
    *q = (sync_req){ing, e->id};
    if (ing->r->ingest_stopping || redis_store_head(ing->r->redis, sp->id, on_sync_head, q)) {
        free(q);
        e->target = 0; /* Redis unreachable: what is here will do */
        check_waiters(ing);
        return 0;
    }
    ing->refs++;
    return 0;
}

/* ---- appends ---- */

int ingest_queue(space *sp, const uint8_t *rec, size_t len, const uint8_t hash[32], uint64_t origin,
                 uint32_t *slot) {
    ingest_state *ing = sp->ing;
    relay *r = sp->r;
    append_batch *b = ing->open;
    if (!b) {
        b = calloc(1, sizeof *b);
        if (!b) return WEFT_ENOMEM;
        b->refs = 1; /* the pipeline's: dropped when Redis answered */
        b->r = r;
        b->sp = sp;
        ing->open = b;
        ing->batch_next = r->batching;
        r->batching = sp;
        ing->in_batching = 1;
    }
    if (b->n == b->cap && batch_grow(b)) return WEFT_ENOMEM;
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) return WEFT_ENOMEM;
    memcpy(copy, rec, len);
    memcpy(b->keys[b->n], hash, 32);
    b->recs[b->n] = copy;
    b->lens[b->n] = len;
    b->origin[b->n] = origin;
    *slot = (uint32_t)b->n++;
    ing->inflight++;
    r->m.redis_inflight++;
    return 0;
}

int ingest_dup_needs_redis(const space *sp) {
    return sp->ing && (sp->ing->open || sp->ing->fly_head);
}

append_batch *ingest_batch_ref(space *sp) {
    append_batch *b = sp->ing ? sp->ing->open : NULL;
    if (b) b->refs++;
    return b;
}

uint64_t ingest_inflight(const space *sp) {
    return sp->ing ? sp->ing->inflight : 0;
}

/* Redis did not confirm b: nothing in it may be acked, and the space's log
 * may hold changes Redis lacks, so the space is dropped. */
static void batch_failed(append_batch *b, space *sp, int rc) {
    relay *r = b->r;
    b->state = -1;
    b->sp = NULL;
    r->m.redis_append_failures++;
    relay_log("space=%s redis append of %zu records not confirmed: %s", sp->hex, b->n,
              weft_err_name(rc));
    batch_unref(b);
    if (!r->ingest_stopping)
        space_drop(r, sp, WEFT_PROTO_ESTORAGE, "redis did not confirm an append");
}

static void on_append(void *ud, int rc, const uint64_t *rseq, const uint8_t *dup, size_t n) {
    append_batch *b = ud;
    relay *r = b->r;
    space *sp = b->sp;
    r->m.redis_inflight -= b->n;
    if (!sp) { /* the space went while the append was in flight */
        b->state = -1;
        batch_unref(b);
        return;
    }
    ingest_state *ing = sp->ing;
    ing->inflight -= b->n;
    ing->fly_head = b->next; /* one connection: answers come in order */
    if (!ing->fly_head) ing->fly_tail = NULL;
    b->next = NULL;
    if (!rc && n != b->n) rc = WEFT_EMALFORMED;
    if (!rc && (!(b->rseq = malloc(n * sizeof *b->rseq)) || !(b->dup = malloc(n))))
        rc = WEFT_ENOMEM;
    if (rc) {
        batch_failed(b, sp, rc);
        return;
    }
    memcpy(b->rseq, rseq, n * sizeof *rseq);
    memcpy(b->dup, dup, n);
    for (size_t i = 0; i < n; i++) {
        if (rseq[i] > b->max_rseq) b->max_rseq = rseq[i];
        if (dup[i]) {
            r->m.changes_dup++;
            continue;
        }
        r->m.changes_stored++;
        if (!b->origin[i]) continue;
        if (ing->o_tail == ing->o_cap && ing->o_head > 0) { /* compact */
            memmove(ing->orig, ing->orig + ing->o_head,
                    (ing->o_tail - ing->o_head) * sizeof *ing->orig);
            ing->o_tail -= ing->o_head;
            ing->o_head = 0;
        }
        if (ing->o_tail == ing->o_cap) {
            size_t cap = ing->o_cap ? ing->o_cap * 2 : 64;
            origin_ent *p = realloc(ing->orig, cap * sizeof *p);
            if (!p) continue; /* only costs an echo of the change to its sender */
            ing->orig = p;
            ing->o_cap = cap;
        }
        ing->orig[ing->o_tail++] = (origin_ent){rseq[i], b->origin[i]};
    }
    b->state = 2;
    if (b->max_rseq > ing->known_head) ing->known_head = b->max_rseq;
    if (b->max_rseq > sp->n_idx) kick(ing);
    if (ing->inflight < r->cfg.redis_max_inflight) r->space_ev.unthrottle(r->space_ev.ud, sp);
    batch_unref(b);
}

void ingest_flush(relay *r) {
    while (r->batching) {
        space *sp = r->batching;
        ingest_state *ing = sp->ing;
        r->batching = ing->batch_next;
        ing->in_batching = 0;
        append_batch *b = ing->open;
        ing->open = NULL;
        b->state = 1;
        int rc = redis_store_append(r->redis, sp->id, (const uint8_t(*)[32])b->keys,
                                    (const uint8_t *const *)b->recs, b->lens, b->n, on_append, b);
        /* hiredis copied the records into its buffer. */
        for (size_t i = 0; i < b->n; i++) {
            free(b->recs[i]);
            b->recs[i] = NULL;
        }
        if (rc) { /* Redis is not connected: as if it had answered an error */
            ing->inflight -= b->n;
            r->m.redis_inflight -= b->n;
            batch_failed(b, sp, rc);
            continue;
        }
        if (ing->fly_tail)
            ing->fly_tail->next = b;
        else
            ing->fly_head = b;
        ing->fly_tail = b;
    }
}

/* ---- rate limits ----
 *
 * A relay takes a token's units from Redis in chunks (a tenth of the
 * burst, or what one frame needs if more) and spends them locally, so most
 * frames need no round trip; a frame that finds too little credit waits for
 * one. What a relay holds unspent is already counted in Redis: the shared
 * limit is never exceeded, it only gets tighter by up to a chunk per relay.
 * Credit left after one window is dropped (it was counted in that window).
 * The table is the per-token one of ratelimit.h: tokens = credit, last_us =
 * when it was granted. */

typedef struct rate_req {
    waiter w; /* first: the waiting party's slot points here */
    relay *r;
    uint8_t id[16];
    uint32_t n, asked;
} rate_req;

static uint32_t rate_window_ms(const relay *r) {
    /* The per-relay bucket's terms as a sliding window: `burst` changes per
     * burst/rate seconds, the same average rate and the same burst. */
    double win = r->cfg.token_burst / r->cfg.token_rate * 1000.0;
    return win < 1 ? 1 : win > 3.6e6 ? 3600000u : (uint32_t)win;
}

int ingest_rate_spend(relay *r, const uint8_t id[16], uint32_t n) {
    bucket *b = token_bucket_get(&r->token_buckets, id);
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
    if (r->ingest_stopping) return WEFT_EUNAVAILABLE;
    return redis_store_rate_take(r->redis, q->id, q->asked, (uint64_t)r->cfg.token_burst,
                                 rate_window_ms(r), on_rate, q);
}

static void on_rate(void *ud, int rc, int allowed) {
    rate_req *q = ud;
    if (!rc && !allowed && q->asked > q->n && q->w.fn) {
        q->asked = q->n; /* no whole chunk left: maybe what this frame needs */
        if (send_rate(q) == 0) return;
    }
    if (!rc && allowed && q->asked > q->n) {
        bucket *b = token_bucket_get(&q->r->token_buckets, q->id);
        if (b) {
            b->tokens += q->asked - q->n;
            b->last_us = relay_now_us();
        }
    }
    /* A Redis error allows: an unreachable Redis fails the append anyway,
     * so nothing gets stored unlimited; a slow one should not stop writers. */
    waiter_answer(&q->w, rc ? 1 : allowed);
}

int ingest_rate_take(relay *r, const uint8_t id[16], uint32_t n, waiter **slot, relay_answer_fn fn,
                     void *ud) {
    rate_req *q = malloc(sizeof *q);
    if (!q) return WEFT_ENOMEM;
    uint32_t chunk = (uint32_t)(r->cfg.token_burst / 10);
    *q = (rate_req){.r = r, .n = n, .asked = n > chunk ? n : chunk};
    memcpy(q->id, id, 16);
    int rc = send_rate(q);
    if (rc) {
        free(q);
        return rc;
    }
    waiter_init(&q->w, slot, fn, ud);
    return 0;
}

/* ---- the relay ---- */

int ingest_start(relay *r) {
    if (r->be.random(r->be.ctx, r->instance, sizeof r->instance)) return WEFT_ECRYPTO;
    redis_store_config cfg = {
        .ctx = r->ctx, .url = r->cfg.redis_url, .on_new = on_new, .on_eph = on_eph, .ud = r};
    return redis_store_new(&r->redis, &cfg);
}

void ingest_stop(relay *r) {
    r->ingest_stopping = 1;
    redis_store_free(r->redis);
    r->redis = NULL;
}

int ingest_busy(const relay *r) {
    return r->batching || r->m.redis_inflight > 0;
}

int ingest_ready(const relay *r) {
    return !r->redis || redis_store_connected(r->redis);
}

uint64_t ingest_reconnects(const relay *r) {
    return r->redis ? redis_store_reconnects(r->redis) : 0;
}

void ingest_tick(relay *r) {
    if (!redis_store_connected(r->redis)) return;
    for (size_t i = 0; i < r->space_cap; i++) {
        space *sp = r->space_tab[i];
        if (!sp || !sp->ing || !sp->ing->retry) continue;
        sp->ing->retry = 0;
        if (!sp->ing->head_known) request_head(sp->ing);
        kick(sp->ing);
    }
}
