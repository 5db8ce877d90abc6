/*
 * ingest.h without hiredis: weft-relay refuses --storage redis (main.c), so
 * r->redis is always NULL and none of these is reached with a space that
 * has Redis state; they only keep the callers free of #ifs.
 */
#include "ingest.h"

int ingest_start(relay *r) {
    (void)r;
    return WEFT_EUNAVAILABLE;
}
void ingest_stop(relay *r) {
    (void)r;
}
int ingest_busy(const relay *r) {
    (void)r;
    return 0;
}
int ingest_ready(const relay *r) {
    (void)r;
    return 1;
}
uint64_t ingest_reconnects(const relay *r) {
    (void)r;
    return 0;
}
void ingest_tick(relay *r) {
    (void)r;
}
int ingest_open(struct space *sp) {
    (void)sp;
    return WEFT_EUNAVAILABLE;
}
void ingest_close(struct space *sp) {
    (void)sp;
}
int ingest_wait(struct space *sp, waiter **slot, relay_answer_fn fn, void *ud) {
    (void)sp, (void)slot, (void)fn, (void)ud;
    return WEFT_EUNAVAILABLE;
}
int ingest_sync(struct space *sp, waiter **slot, relay_answer_fn fn, void *ud) {
    (void)sp, (void)slot, (void)fn, (void)ud;
    return WEFT_EUNAVAILABLE;
}
int ingest_queue(struct space *sp, const uint8_t *rec, size_t len, const uint8_t hash[32],
                 uint64_t origin, uint32_t *slot) {
    (void)sp, (void)rec, (void)len, (void)hash, (void)origin, (void)slot;
    return WEFT_EUNAVAILABLE;
}
int ingest_dup_needs_redis(const struct space *sp) {
    (void)sp;
    return 0;
}
append_batch *ingest_batch_ref(struct space *sp) {
    (void)sp;
    return NULL;
}
uint64_t ingest_inflight(const struct space *sp) {
    (void)sp;
    return 0;
}
void ingest_flush(relay *r) {
    (void)r;
}
int batch_state(const append_batch *b) {
    (void)b;
    return 1;
}
void batch_resolve(const append_batch *b, ack_entry *e, uint32_t n) {
    (void)b, (void)e, (void)n;
}
void batch_unref(append_batch *b) {
    (void)b;
}
int ingest_rate_spend(relay *r, const uint8_t id[16], uint32_t n) {
    (void)r, (void)id, (void)n;
    return 1;
}
int ingest_rate_take(relay *r, const uint8_t id[16], uint32_t n, waiter **slot, relay_answer_fn fn,
                     void *ud) {
    (void)r, (void)id, (void)n, (void)slot, (void)fn, (void)ud;
    return WEFT_EUNAVAILABLE;
}
void ingest_publish_eph(struct space *sp, const uint8_t peer[32], int broadcast,
                        const uint8_t *frame, size_t len) {
    (void)sp, (void)peer, (void)broadcast, (void)frame, (void)len;
}
int ingest_delete(struct space *sp, waiter **slot, relay_answer_fn fn, void *ud) {
    (void)sp, (void)slot, (void)fn, (void)ud;
    return WEFT_EUNAVAILABLE;
}
