/*
 * What every storage backend shares (storage.h): the append batch that
 * held ACKs wait for. A batch never outlives its meaning: when its space's
 * handle closes, the backend clears durable_at, and the batch counts as
 * failed from then on.
 */
#include "storage.h"

#include "weft/error.h"
#include "weft/protocol.h"

#include <stdlib.h>

storage_batch *storage_batch_new(const uint64_t *durable_at) {
    storage_batch *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->refs = 1;
    b->durable_at = durable_at;
    return b;
}

int storage_batch_add(storage_batch *b, uint64_t rseq, int dup, uint32_t *slot) {
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        uint64_t *r = realloc(b->rseq, cap * sizeof *r);
        if (r) b->rseq = r;
        uint8_t *d = realloc(b->dup, cap);
        if (d) b->dup = d;
        if (!r || !d) return WEFT_ENOMEM;
        b->cap = cap;
    }
    b->rseq[b->n] = rseq;
    b->dup[b->n] = (uint8_t)dup;
    if (rseq > b->max_rseq) b->max_rseq = rseq;
    *slot = (uint32_t)b->n++;
    return 0;
}

int storage_batch_state(const storage_batch *b) {
    if (b->state < 0 || !b->durable_at) return -1;
    if (b->state != 2) return 0;
    return *b->durable_at >= b->max_rseq;
}

void storage_batch_resolve(const storage_batch *b, ack_entry *e, uint32_t n) {
    for (uint32_t i = 0; i < n; i++) {
        if (e[i].status != ACK_PENDING) continue;
        size_t k = (size_t)e[i].value;
        if (b->dup[k] == STORAGE_FORK) {
            e[i].status = WEFT_ACK_REJECTED;
            e[i].value = WEFT_PROTO_ECHAIN;
        } else if (b->dup[k]) {
            e[i].status = WEFT_ACK_DUPLICATE;
            e[i].value = 0;
        } else {
            e[i].status = WEFT_ACK_STORED;
            e[i].value = b->rseq[k];
        }
    }
}

void storage_batch_unref(storage_batch *b) {
    if (!b || --b->refs > 0) return;
    free(b->rseq);
    free(b->dup);
    free(b);
}
