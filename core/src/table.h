/*
 * An open-addressing hash index: it maps a 32-bit hash tag to item numbers
 * that the caller stores elsewhere (in its own arrays), and asks the caller
 * to compare candidates. Each slot is one uint64_t: tag << 32 | (item + 1),
 * zero meaning empty. Linear probing, load factor at most 1/2, no deletion
 * (the core never forgets an author, a name or a document).
 */
#ifndef WEFT_TABLE_H
#define WEFT_TABLE_H

#include "mem.h"

typedef struct wtable {
    uint64_t *slots;
    uint32_t mask; /* capacity - 1; capacity is a power of two */
    uint32_t count;
} wtable;

typedef int (*wtable_eq_fn)(const void *ctx, uint32_t item);

static inline void wtable_init(wtable *t) {
    t->slots = NULL;
    t->mask = 0;
    t->count = 0;
}

void wtable_free(wtable *t, const weft_allocator *a);

/* Returns the item with this tag for which eq() holds, or UINT32_MAX. */
static inline uint32_t wtable_find(const wtable *t, uint32_t tag, wtable_eq_fn eq,
                                   const void *ctx) {
    if (!t->slots) return UINT32_MAX;
    for (uint32_t i = tag & t->mask;; i = (i + 1) & t->mask) {
        uint64_t s = t->slots[i];
        if (!s) return UINT32_MAX;
        if ((uint32_t)(s >> 32) == tag && eq(ctx, (uint32_t)s - 1)) return (uint32_t)s - 1;
    }
}

/* Makes room for `n` more items without growing again. 0 or ENOMEM. */
int wtable_reserve(wtable *t, const weft_allocator *a, size_t n);

/* Adds item under tag (the caller has checked it is absent). 0 or ENOMEM. */
int wtable_insert(wtable *t, const weft_allocator *a, uint32_t tag, uint32_t item);

#endif
