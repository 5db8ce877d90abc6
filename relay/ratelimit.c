/*
 * Token buckets and their tables (ratelimit.h). A table is a chained hash
 * map that grows with the keys seen recently; pruning keeps it proportional
 * to the keys in use, not to all keys ever seen. Entries are allocated one
 * by one, so a pointer to one stays valid until it is pruned (which an
 * entry holding connections never is).
 */
#include "ratelimit.h"
#include "relay.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

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

_Static_assert(RL_N <= sizeof(((relay_metrics *)0)->limited) / sizeof(uint64_t),
               "relay_metrics.limited holds every limit");

const char *rl_limit_label(rl_limit l) {
    static const char *const labels[] = {
#define RL_LABEL(name, label) label,
        RL_LIMITS(RL_LABEL)
#undef RL_LABEL
    };
    return l < RL_N ? labels[l] : "unknown";
}

struct rl_tab {
    rl_entry **slots;
    size_t cap, n;
    uint64_t k0, k1;
};

/* SipHash of the 48-byte key under the table's secret: the second half
 * hashed under a key that depends on the first, so neither half alone can
 * be aimed at a slot. */
static size_t rl_hash(const rl_tab *t, const uint8_t key[48], size_t cap) {
    uint8_t tail[32] = {0};
    memcpy(tail, key + 32, 16);
    uint64_t h = weft__idtab_hash(t->k0, t->k1, key);
    h = weft__idtab_hash(t->k0 ^ h, t->k1, tail);
    return (size_t)(h & (cap - 1));
}

rl_entry *rl_get(rl_tab **tabp, const uint8_t seed[16], const uint8_t key[48], uint64_t now_us) {
    rl_tab *t = *tabp;
    if (!t) {
        t = calloc(1, sizeof *t);
        if (!t) return NULL;
        t->cap = 256;
        t->slots = calloc(t->cap, sizeof *t->slots);
        if (!t->slots) {
            free(t);
            return NULL;
        }
        memcpy(&t->k0, seed, 8);
        memcpy(&t->k1, seed + 8, 8);
        t->k1 ^= 0x726174656c696d69ull; /* not the same key as the id tables */
        *tabp = t;
    }
    for (rl_entry *e = t->slots[rl_hash(t, key, t->cap)]; e; e = e->next) {
        if (memcmp(e->key, key, 48) == 0) {
            e->seen_us = now_us;
            return e;
        }
    }
    if (t->n >= t->cap) {
        size_t cap = t->cap * 2;
        rl_entry **slots = calloc(cap, sizeof *slots);
        if (slots) {
            for (size_t i = 0; i < t->cap; i++) {
                while (t->slots[i]) {
                    rl_entry *e = t->slots[i];
                    t->slots[i] = e->next;
                    size_t j = rl_hash(t, e->key, cap);
                    e->next = slots[j];
                    slots[j] = e;
                }
            }
            free(t->slots);
            t->slots = slots;
            t->cap = cap;
        }
    }
    rl_entry *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    memcpy(e->key, key, 48);
    e->seen_us = now_us;
    size_t j = rl_hash(t, key, t->cap);
    e->next = t->slots[j];
    t->slots[j] = e;
    t->n++;
    return e;
}

void rl_prune(rl_tab *t, uint64_t now_us, uint64_t idle_us) {
    if (!t) return;
    for (size_t i = 0; i < t->cap; i++) {
        rl_entry **pp = &t->slots[i];
        while (*pp) {
            rl_entry *e = *pp;
            if (e->conns == 0 && now_us - e->seen_us > idle_us) {
                *pp = e->next;
                free(e);
                t->n--;
            } else {
                pp = &e->next;
            }
        }
    }
}

size_t rl_count(const rl_tab *t) {
    return t ? t->n : 0;
}

void rl_tab_free(rl_tab *t) {
    if (!t) return;
    for (size_t i = 0; i < t->cap; i++) {
        while (t->slots[i]) {
            rl_entry *e = t->slots[i];
            t->slots[i] = e->next;
            free(e);
        }
    }
    free(t->slots);
    free(t);
}

bucket *token_bucket_get(relay *r, const uint8_t space[32], const uint8_t id[16]) {
    uint8_t key[48];
    memcpy(key, space, 32);
    memcpy(key + 32, id, 16);
    rl_entry *e = rl_get(&r->token_buckets, r->hash_seed, key, relay_now_us());
    return e ? &e->b[0] : NULL;
}

int rl_addr_of_fd(int fd, uint8_t key[48]) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    memset(key, 0, 48);
    if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &sl)) return -1;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        key[0] = 4;
        memcpy(key + 1, &a->sin_addr, 4);
        return 0;
    }
    if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
        const uint8_t *b = a->sin6_addr.s6_addr;
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(b, mapped, 12) == 0) { /* an IPv4 client on a dual-stack socket */
            key[0] = 4;
            memcpy(key + 1, b + 12, 4);
        } else { /* one host usually holds a whole /64 */
            key[0] = 6;
            memcpy(key + 1, b, 8);
        }
        return 0;
    }
    return -1;
}

rl_entry *ip_entry_of_fd(relay *r, int fd) {
    uint8_t key[48];
    if (rl_addr_of_fd(fd, key)) return NULL;
    return rl_get(&r->ip_limits, r->hash_seed, key, relay_now_us());
}

int ip_take(relay *r, rl_entry *e, int which, double n, rl_limit why) {
    if (!e) return 1;
    const relay_config *c = &r->cfg;
    double rate = 0, burst = 0;
    switch (which) {
    case IPB_ACCEPT:
        rate = c->ip_accept_rate, burst = c->ip_accept_burst;
        break;
    case IPB_HELLO:
        rate = c->ip_hello_rate, burst = c->ip_hello_burst;
        break;
    case IPB_SPACE:
        rate = c->ip_space_rate, burst = c->ip_space_burst;
        break;
    default:
        rate = c->ip_verify_rate, burst = c->ip_verify_burst;
        break;
    }
    if (bucket_take(&e->b[which], rate, burst, n, relay_now_us())) return 1;
    r->m.limited[why]++;
    return 0;
}

int token_rate_take(relay *r, const uint8_t space[32], const uint8_t id[16], uint32_t n,
                    waiter **slot, relay_answer_fn fn, void *ud) {
    if (r->redis && r->cfg.token_rate > 0)
        return token_rate_take_shared(r, space, id, n, slot, fn, ud);
    bucket *tb = token_bucket_get(r, space, id);
    if (!tb || bucket_take(tb, r->cfg.token_rate, r->cfg.token_burst, n, relay_now_us())) return 1;
    r->m.limited[RL_TOKEN]++;
    return 0;
}
