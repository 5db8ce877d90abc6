/*
 * A hash table from 32-byte ids (space ids, author keys: chosen by whoever
 * is on the other end of the wire) to non-NULL pointers, for the relay's
 * space and author lookups. Open addressing with linear probing and
 * backward-shift deletion, at most half full. Slots are placed by
 * SipHash-2-4 of the id under a per-table secret seed, so a peer who picks
 * ids cannot aim them at one probe run: the caller seeds each table with
 * fresh random bytes (randombytes_buf in the relay).
 *
 * The table copies ids; values are borrowed (never freed by the table). An
 * index fits too, stored as (void *)(uintptr_t)(i + 1). Not thread-safe.
 */
#ifndef WEFT_COMMON_IDTABLE_H
#define WEFT_COMMON_IDTABLE_H

#include <stddef.h>
#include <stdint.h>

typedef struct weft__idtab_slot {
    uint8_t id[32];
    void *val; /* NULL: empty */
} weft__idtab_slot;

typedef struct weft__idtab {
    weft__idtab_slot *slots;
    size_t cap; /* 0 or a power of two */
    size_t n;
    uint64_t k0, k1; /* the SipHash key */
} weft__idtab;

/* Prepares an empty table (allocates nothing yet) keyed by seed, which the
 * caller should take from a CSPRNG. */
void weft__idtab_init(weft__idtab *t, const uint8_t seed[16]);

/* Frees the slots (not the values); t is then empty. NULL is a no-op. */
void weft__idtab_free(weft__idtab *t);

/* The value stored for id, or NULL. */
void *weft__idtab_get(const weft__idtab *t, const uint8_t id[32]);

/* Stores val (non-NULL) for id, replacing any value it had. OUT: *old (may
 * be NULL): the replaced value or NULL. Returns 0, WEFT_EINVAL for a NULL
 * val, or WEFT_ENOMEM (then the table is unchanged). */
int weft__idtab_put(weft__idtab *t, const uint8_t id[32], void *val, void **old);

/* Removes id. Returns its value, or NULL when it was absent. Never
 * allocates and never fails. */
void *weft__idtab_del(weft__idtab *t, const uint8_t id[32]);

/* Number of ids held. */
size_t weft__idtab_count(const weft__idtab *t);

/* SipHash-2-4 of the 32 bytes at id under (k0, k1): the table's hash,
 * exposed for its golden test. */
uint64_t weft__idtab_hash(uint64_t k0, uint64_t k1, const uint8_t id[32]);

#endif
