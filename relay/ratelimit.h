/*
 * Token buckets and the tables that hold them: `rate` units per second,
 * holding at most `burst`; rate <= 0 means unlimited.
 *
 * Every limit a client could dodge by choosing an identifier is keyed by
 * something it cannot choose freely, or cannot get for free:
 *   - per connection (session.h): frames, and changes submitted (each may
 *     cost an Ed25519 verification: a frame of 1,024 changes is 1,024);
 *   - per (space, token id): changes. The token id alone is chosen by the
 *     token's issuer, so a stranger could mint a token carrying a victim's
 *     id in a space of their own and drain the victim's bucket; with the
 *     space in the key, only the space's own admins can, and they could
 *     revoke the victim anyway;
 *   - per client address (IPv4, or IPv6 /64 since one host gets a whole
 *     /64): new connections per second, open WebSockets, HELLOs, space
 *     opens and changes submitted per second. Fresh keys and tokens are
 *     free; addresses are not.
 * Every refusal counts in weft_relay_limited_total{limit=...} (rl_limit
 * below: a fixed label set, never per space or per address).
 *
 * Tables are chained hash maps keyed by a SipHash of the key under the
 * relay's secret seed (peers choose keys, so they must not choose slots),
 * pruned of entries idle for two minutes (a refilled bucket is a fresh
 * one). With Redis the per-token limit is shared by every relay instead
 * (ratelimit_redis.c); token_rate_take hides which one a relay has.
 */
#ifndef WEFT_RELAY_RATELIMIT_H
#define WEFT_RELAY_RATELIMIT_H

#include "waiter.h"

#include <stddef.h>
#include <stdint.h>

struct relay;
struct lws;

typedef struct bucket {
    double tokens;
    uint64_t last_us;
} bucket;

/* Takes n units at time now_us. Returns 1 when allowed, 0 when the bucket
 * is empty (nothing is taken then). A fresh (zeroed) bucket starts full. A
 * request larger than the burst passes on a full bucket only. */
int bucket_take(bucket *b, double rate, double burst, double n, uint64_t now_us);

/* What a refusal was refused by: the label of weft_relay_limited_total.
 * Appended only (the names are a metric's label values). */
#define RL_LIMITS(X)                                                            \
    X(CONN_FRAMES, "conn_frames")     /* --conn-rate: frames per connection */  \
    X(CONN_CHANGES, "conn_changes")   /* --conn-verify-rate */                  \
    X(TOKEN, "token")                 /* --token-rate: per (space, token id) */ \
    X(IP_ACCEPT, "ip_accept")         /* --ip-accept-rate: new TCP conns */     \
    X(IP_CONNS, "ip_conns")           /* --ip-conns: open WebSockets */         \
    X(IP_HELLO, "ip_hello")           /* --ip-hello-rate */                     \
    X(IP_SPACES, "ip_spaces")         /* --ip-space-rate: spaces opened */      \
    X(IP_CHANGES, "ip_changes")       /* --ip-verify-rate */                    \
    X(SPACE_CHANGES, "space_changes") /* --space-rate: changes per space */     \
    X(SPACE_CONNS, "space_conns")     /* --space-conns: QUOTA */                \
    X(SPACE_BYTES, "space_bytes")     /* --space-bytes: QUOTA */

typedef enum rl_limit {
#define RL_ENUM(name, label) RL_##name,
    RL_LIMITS(RL_ENUM)
#undef RL_ENUM
        RL_N
} rl_limit;

/* The metric label of a limit. */
const char *rl_limit_label(rl_limit l);

/* The buckets of one client address (ip_entry.b). */
enum { IPB_ACCEPT, IPB_HELLO, IPB_SPACE, IPB_CHANGES, IPB_N };

typedef struct rl_entry {
    struct rl_entry *next;
    uint8_t key[48];
    uint64_t seen_us; /* last use: pruning */
    uint32_t conns;   /* open WebSockets (address table): never pruned while > 0 */
    bucket b[IPB_N];  /* the token table uses b[0] */
} rl_entry;

typedef struct rl_tab rl_tab;

/* The entry of a 48-byte key in *tab (made on first use, with a SipHash
 * seed of 16 bytes), created with full buckets. Returns NULL when out of
 * memory (callers then allow the request). */
rl_entry *rl_get(rl_tab **tab, const uint8_t seed[16], const uint8_t key[48], uint64_t now_us);

/* Drops entries idle for longer than idle_us and holding no connection. */
void rl_prune(rl_tab *tab, uint64_t now_us, uint64_t idle_us);

/* Entries held (the weft_relay_limit_keys gauge). */
size_t rl_count(const rl_tab *tab);

void rl_tab_free(rl_tab *tab);

/* The per-token bucket of (space, token id) in r's table, or NULL. */
struct bucket *token_bucket_get(struct relay *r, const uint8_t space[32], const uint8_t id[16]);

/* The address a connection comes from, as a table key: IPv4 as itself,
 * IPv6 as its /64. fd: the socket. Returns 0, or -1 when unknown. */
int rl_addr_of_fd(int fd, uint8_t key[48]);

/* The address table entry of a connection's socket, or NULL. */
rl_entry *ip_entry_of_fd(struct relay *r, int fd);

/* Takes n units of the address's bucket `which` (IPB_...) at the rates of
 * r's config; on refusal counts `why`. NULL e allows. Returns 1 or 0. */
int ip_take(struct relay *r, rl_entry *e, int which, double n, rl_limit why);

/* Returned by token_rate_take when the verdict comes later. */
#define RATE_LATER 2

/* Takes n units of (space, token id)'s change limit (--token-rate,
 * --token-burst). Returns 1 (allowed, taken), 0 (refused, nothing taken;
 * counted), or RATE_LATER: the limit is shared and the verdict comes as
 * fn(ud, 1 or 0), never before this returns (*slot holds the waiter
 * meanwhile). Out of memory allows. */
int token_rate_take(struct relay *r, const uint8_t space[32], const uint8_t id[16], uint32_t n,
                    waiter **slot, relay_answer_fn fn, void *ud);

/* The limit shared through Redis (ratelimit_redis.c; docs/SCALING.md):
 * spends credit this relay took from Redis before, or asks for more. Same
 * returns as token_rate_take; a Redis error allows. */
int token_rate_take_shared(struct relay *r, const uint8_t space[32], const uint8_t id[16],
                           uint32_t n, waiter **slot, relay_answer_fn fn, void *ud);

#endif
