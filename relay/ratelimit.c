/*
 * Token buckets (ratelimit.h). The per-token table is a chained hash map
 * that grows with the number of distinct tokens seen recently; pruning keeps
 * it proportional to the tokens in use, not to all tokens ever seen.
 */
#include "ratelimit.h"
#include "relay.h"

#include <stdlib.h>
#include <string.h>

int bucket_take(bucket *b, double rate, double burst, double n, uint64_t now_us) {
    if (rate <= 0) return 1;
    if (burst < n) burst = n; /* a request larger than the burst could never pass */
    if (b->last_us == 0) {
        b->tokens = burst;
    } else if (now_us > b->last_us) {
        b->tokens += rate * (double)(now_us - b->last_us) / 1e6;
        if (b->tokens > burst) b->tokens = burst;
    }
    b->last_us = now_us;
    if (b->tokens < n) return 0;
    b->tokens -= n;
    return 1;
}

typedef struct tb_entry {
    struct tb_entry *next;
    uint8_t id[16];
    bucket b;
} tb_entry;

struct token_bucket_tab {
    tb_entry **slots;
    size_t cap, n;
};

static size_t tb_hash(const uint8_t id[16], size_t cap) {
    uint64_t h;
    memcpy(&h, id, 8); /* token ids are random bytes */
    return (size_t)(h & (cap - 1));
}

bucket *token_bucket_get(token_bucket_tab **tabp, const uint8_t id[16]) {
    token_bucket_tab *t = *tabp;
    if (!t) {
        t = calloc(1, sizeof *t);
        if (!t) return NULL;
        t->cap = 256;
        t->slots = calloc(t->cap, sizeof *t->slots);
        if (!t->slots) {
            free(t);
            return NULL;
        }
        *tabp = t;
    }
    for (tb_entry *e = t->slots[tb_hash(id, t->cap)]; e; e = e->next)
        if (memcmp(e->id, id, 16) == 0) return &e->b;
    if (t->n >= t->cap) {
        size_t cap = t->cap * 2;
        tb_entry **slots = calloc(cap, sizeof *slots);
        if (slots) {
            for (size_t i = 0; i < t->cap; i++) {
                while (t->slots[i]) {
                    tb_entry *e = t->slots[i];
                    t->slots[i] = e->next;
                    size_t j = tb_hash(e->id, cap);
                    e->next = slots[j];
                    slots[j] = e;
                }
            }
            free(t->slots);
            t->slots = slots;
            t->cap = cap;
        }
    }
    tb_entry *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    memcpy(e->id, id, 16);
    size_t j = tb_hash(id, t->cap);
    e->next = t->slots[j];
    t->slots[j] = e;
    t->n++;
    return &e->b;
}

void token_bucket_prune(token_bucket_tab *t, uint64_t now_us, uint64_t idle_us) {
    if (!t) return;
    for (size_t i = 0; i < t->cap; i++) {
        tb_entry **pp = &t->slots[i];
        while (*pp) {
            tb_entry *e = *pp;
            if (now_us - e->b.last_us > idle_us) {
                *pp = e->next;
                free(e);
                t->n--;
            } else {
                pp = &e->next;
            }
        }
    }
}

void token_bucket_free(token_bucket_tab *t) {
    if (!t) return;
    for (size_t i = 0; i < t->cap; i++) {
        while (t->slots[i]) {
            tb_entry *e = t->slots[i];
            t->slots[i] = e->next;
            free(e);
        }
    }
    free(t->slots);
    free(t);
}

int token_rate_take(relay *r, const uint8_t id[16], uint32_t n, waiter **slot, relay_answer_fn fn,
                    void *ud) {
    if (r->redis && r->cfg.token_rate > 0) return token_rate_take_shared(r, id, n, slot, fn, ud);
    bucket *tb = token_bucket_get(&r->token_buckets, id);
    return !tb || bucket_take(tb, r->cfg.token_rate, r->cfg.token_burst, n, relay_now_us());
}
