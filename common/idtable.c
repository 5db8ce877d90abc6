/*
 * The id table (idtable.h). Capacity doubles when an insert would make the
 * table more than half full, so every probe run ends at an empty slot.
 * Deletion shifts the rest of the run back instead of leaving tombstones:
 * a slot is moved into the hole when its home lies cyclically at or before
 * the hole, so lookups that start at its home still reach it.
 */
#include "idtable.h"

#include "weft/error.h"

#include <stdlib.h>
#include <string.h>

static uint64_t rd64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND           \
    do {                   \
        v0 += v1;          \
        v1 = ROTL(v1, 13); \
        v1 ^= v0;          \
        v0 = ROTL(v0, 32); \
        v2 += v3;          \
        v3 = ROTL(v3, 16); \
        v3 ^= v2;          \
        v0 += v3;          \
        v3 = ROTL(v3, 21); \
        v3 ^= v0;          \
        v2 += v1;          \
        v1 = ROTL(v1, 17); \
        v1 ^= v2;          \
        v2 = ROTL(v2, 32); \
    } while (0)

uint64_t weft__idtab_hash(uint64_t k0, uint64_t k1, const uint8_t id[32]) {
    uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1,
             v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
    for (int i = 0; i < 4; i++) {
        uint64_t m = rd64(id + 8 * i);
        v3 ^= m;
        SIPROUND;
        SIPROUND;
        v0 ^= m;
    }
    uint64_t b = (uint64_t)32 << 56; /* the length; no tail bytes */
    v3 ^= b;
    SIPROUND;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

void weft__idtab_init(weft__idtab *t, const uint8_t seed[16]) {
    memset(t, 0, sizeof *t);
    t->k0 = rd64(seed);
    t->k1 = rd64(seed + 8);
}

void weft__idtab_free(weft__idtab *t) {
    if (!t) return;
    free(t->slots);
    t->slots = NULL;
    t->cap = t->n = 0;
}

static size_t home(const weft__idtab *t, const uint8_t id[32]) {
    return (size_t)weft__idtab_hash(t->k0, t->k1, id) & (t->cap - 1);
}

/* The slot holding id, or the empty slot ending its probe run. */
static weft__idtab_slot *find(const weft__idtab *t, const uint8_t id[32]) {
    size_t mask = t->cap - 1;
    for (size_t i = home(t, id);; i = (i + 1) & mask) {
        weft__idtab_slot *s = &t->slots[i];
        if (!s->val || memcmp(s->id, id, 32) == 0) return s;
    }
}

void *weft__idtab_get(const weft__idtab *t, const uint8_t id[32]) {
    if (!t->n) return NULL;
    return find(t, id)->val;
}

static int resize(weft__idtab *t, size_t cap) {
    weft__idtab_slot *slots = calloc(cap, sizeof *slots);
    if (!slots) return WEFT_ENOMEM;
    weft__idtab old = *t;
    t->slots = slots;
    t->cap = cap;
    for (size_t i = 0; i < old.cap; i++)
        if (old.slots[i].val) *find(t, old.slots[i].id) = old.slots[i];
    free(old.slots);
    return 0;
}

int weft__idtab_put(weft__idtab *t, const uint8_t id[32], void *val, void **old) {
    if (old) *old = NULL;
    if (!val) return WEFT_EINVAL;
    if (t->n) {
        weft__idtab_slot *s = find(t, id);
        if (s->val) {
            if (old) *old = s->val;
            s->val = val;
            return 0;
        }
    }
    if ((t->n + 1) * 2 > t->cap) {
        if (t->cap > SIZE_MAX / 2 / sizeof *t->slots) return WEFT_ENOMEM;
        int rc = resize(t, t->cap ? t->cap * 2 : 16);
        if (rc) return rc;
    }
    weft__idtab_slot *s = find(t, id);
    memcpy(s->id, id, 32);
    s->val = val;
    t->n++;
    return 0;
}

void *weft__idtab_del(weft__idtab *t, const uint8_t id[32]) {
    if (!t->n) return NULL;
    weft__idtab_slot *hole = find(t, id);
    void *val = hole->val;
    if (!val) return NULL;
    size_t mask = t->cap - 1, h = (size_t)(hole - t->slots);
    for (size_t j = (h + 1) & mask; t->slots[j].val; j = (j + 1) & mask) {
        size_t k = home(t, t->slots[j].id);
        /* Move j into the hole unless its home lies cyclically in (h, j]. */
        int stays = h <= j ? (h < k && k <= j) : (h < k || k <= j);
        if (stays) continue;
        t->slots[h] = t->slots[j];
        h = j;
    }
    t->slots[h].val = NULL;
    t->n--;
    return val;
}

size_t weft__idtab_count(const weft__idtab *t) {
    return t->n;
}
