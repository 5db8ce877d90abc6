/*
 * Growth and insertion for the hash index of table.h.
 */
#include "table.h"

void wtable_free(wtable *t, const weft_allocator *a) {
    weft__free(a, t->slots);
    wtable_init(t);
}

static void place(uint64_t *slots, uint32_t mask, uint64_t s) {
    uint32_t i = (uint32_t)(s >> 32) & mask;
    while (slots[i])
        i = (i + 1) & mask;
    slots[i] = s;
}

int wtable_reserve(wtable *t, const weft_allocator *a, size_t n) {
    uint64_t cap = t->slots ? (uint64_t)t->mask + 1 : 0;
    if (((uint64_t)t->count + n) * 2 <= cap) return WEFT_OK;
    uint64_t ncap = cap ? cap * 2 : 16;
    while (ncap < ((uint64_t)t->count + n) * 2)
        ncap *= 2;
    if (ncap > ((uint64_t)1 << 31)) return WEFT_ENOMEM;
    {
        uint64_t *ns = weft__alloc(a, (size_t)ncap * sizeof *ns);
        if (!ns) return WEFT_ENOMEM;
        memset(ns, 0, (size_t)ncap * sizeof *ns);
        for (uint64_t i = 0; i < cap; i++)
            if (t->slots[i]) place(ns, (uint32_t)(ncap - 1), t->slots[i]);
        weft__free(a, t->slots);
        t->slots = ns;
        t->mask = (uint32_t)(ncap - 1);
    }
    return WEFT_OK;
}

int wtable_insert(wtable *t, const weft_allocator *a, uint32_t tag, uint32_t item) {
    if (item >= UINT32_MAX - 1) return WEFT_ENOMEM;
    int rc = wtable_reserve(t, a, 1);
    if (rc) return rc;
    place(t->slots, t->mask, (uint64_t)tag << 32 | (uint64_t)(item + 1));
    t->count++;
    return WEFT_OK;
}
