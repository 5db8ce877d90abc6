/*
 * The per-space idempotency cache (idem.h): a FIFO ring of at most
 * IDEM_SLOTS entries and IDEM_BYTES_MAX answer bytes, grown on demand,
 * searched linearly (a lookup happens once per POST with a key, and the
 * ring is bounded).
 */
#include "idem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct idem_entry {
    uint8_t token_id[16];
    uint8_t req_hash[32];
    char key[IDEM_KEY_MAX + 1];
    uint64_t at;
    char *body;
    size_t len;
} idem_entry;

struct idem_cache {
    idem_entry *e;
    size_t cap;   /* slots allocated (<= IDEM_SLOTS) */
    size_t first; /* the oldest entry */
    size_t n;     /* entries, from first on, wrapping at cap */
    size_t bytes; /* sum of their answers' lengths */
};

int idem_find(const idem_cache *c, const uint8_t tid[16], const char *key,
              const uint8_t req_hash[32], uint64_t now, const char **body, size_t *len) {
    for (size_t i = 0; c && i < c->n; i++) {
        const idem_entry *e = &c->e[(c->first + i) % c->cap];
        if (e->at + IDEM_TTL_S <= now || strcmp(e->key, key) != 0 ||
            memcmp(e->token_id, tid, 16) != 0)
            continue;
        if (memcmp(e->req_hash, req_hash, 32) != 0) return IDEM_CONFLICT;
        *body = e->body;
        *len = e->len;
        return IDEM_HIT;
    }
    return IDEM_MISS;
}

static void drop_oldest(idem_cache *c) {
    idem_entry *e = &c->e[c->first];
    free(e->body);
    e->body = NULL;
    c->bytes -= e->len;
    c->first = (c->first + 1) % c->cap;
    c->n--;
}

/* Room for one more entry: the ring doubles (in order) until IDEM_SLOTS. */
static int make_room(idem_cache *c) {
    if (c->n < c->cap) return 0;
    if (c->cap == IDEM_SLOTS) {
        drop_oldest(c);
        return 0;
    }
    size_t cap = c->cap ? c->cap * 2 : 16;
    if (cap > IDEM_SLOTS) cap = IDEM_SLOTS;
    idem_entry *p = malloc(cap * sizeof *p);
    if (!p) return -1;
    for (size_t i = 0; i < c->n; i++)
        p[i] = c->e[(c->first + i) % c->cap];
    free(c->e);
    c->e = p;
    c->cap = cap;
    c->first = 0;
    return 0;
}

void idem_put(idem_cache **cp, const uint8_t tid[16], const char *key, const uint8_t req_hash[32],
              const char *body, size_t len, uint64_t now) {
    if (len > IDEM_BYTES_MAX) return;
    idem_cache *c = *cp;
    if (!c && !(c = *cp = calloc(1, sizeof *c))) return;
    while (c->n && c->bytes + len > IDEM_BYTES_MAX)
        drop_oldest(c);
    char *copy = malloc(len + 1);
    if (!copy || make_room(c)) {
        free(copy);
        return;
    }
    memcpy(copy, body, len);
    idem_entry *e = &c->e[(c->first + c->n) % c->cap];
    e->body = copy;
    e->len = len;
    memcpy(e->token_id, tid, 16);
    memcpy(e->req_hash, req_hash, 32);
    snprintf(e->key, sizeof e->key, "%s", key);
    e->at = now;
    c->n++;
    c->bytes += len;
}

size_t idem_count(const idem_cache *c) {
    return c ? c->n : 0;
}

size_t idem_bytes(const idem_cache *c) {
    return c ? c->bytes : 0;
}

void idem_free(idem_cache *c) {
    if (!c) return;
    for (size_t i = 0; i < c->n; i++)
        free(c->e[(c->first + i) % c->cap].body);
    free(c->e);
    free(c);
}
