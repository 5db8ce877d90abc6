/*
 * The per-space idempotency cache (idem.h): a ring of at most IDEM_SLOTS
 * entries, grown on demand, searched linearly (a lookup happens once per
 * POST with a key, and the ring is bounded).
 */
#include "idem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct idem_entry {
    uint8_t token_id[16];
    char key[IDEM_KEY_MAX + 1];
    uint64_t at;
    char *body;
    size_t len;
} idem_entry;

struct idem_cache {
    idem_entry *e;
    size_t n, cap; /* n entries used; the ring wraps once n == IDEM_SLOTS */
    size_t next;   /* the slot the next answer goes to, once full */
};

const char *idem_find(const idem_cache *c, const uint8_t tid[16], const char *key, uint64_t now,
                      size_t *len) {
    for (size_t i = 0; c && i < c->n; i++) {
        const idem_entry *e = &c->e[i];
        if (e->body && e->at + IDEM_TTL_S > now && strcmp(e->key, key) == 0 &&
            memcmp(e->token_id, tid, 16) == 0) {
            *len = e->len;
            return e->body;
        }
    }
    return NULL;
}

void idem_put(idem_cache **cp, const uint8_t tid[16], const char *key, const char *body, size_t len,
              uint64_t now) {
    idem_cache *c = *cp;
    if (!c && !(c = *cp = calloc(1, sizeof *c))) return;
    idem_entry *e;
    if (c->n < IDEM_SLOTS) {
        if (c->n == c->cap) {
            size_t cap = c->cap ? c->cap * 2 : 16;
            if (cap > IDEM_SLOTS) cap = IDEM_SLOTS;
            idem_entry *p = realloc(c->e, cap * sizeof *p);
            if (!p) return;
            c->e = p;
            c->cap = cap;
        }
        e = &c->e[c->n++];
        e->body = NULL;
    } else {
        e = &c->e[c->next++ % IDEM_SLOTS];
    }
    free(e->body);
    e->body = malloc(len + 1);
    if (!e->body) return;
    memcpy(e->body, body, len);
    e->len = len;
    memcpy(e->token_id, tid, 16);
    snprintf(e->key, sizeof e->key, "%s", key);
    e->at = now;
}

void idem_free(idem_cache *c) {
    if (!c) return;
    for (size_t i = 0; i < c->n; i++)
        free(c->e[i].body);
    free(c->e);
    free(c);
}
