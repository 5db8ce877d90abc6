/*
 * Lists: ordered sequences of values with insert, delete, move and set in
 * place (docs/LISTS.md).
 *
 * An item has a stable identity, the id of the insert that made it. Its
 * place is a *position*: an entry in a sequence CRDT (a weft_text of one
 * character per entry, so inserts never interleave and merge like text).
 * A move inserts a new entry and claims it for the item; the item's
 * position is a last-writer-wins register over those claims, ordered by op
 * id, so of concurrent moves exactly one wins and the item sits at exactly
 * one entry. Entries that are not some live item's winning position are
 * tombstones in the sequence, so a visible index of the text is an index of
 * the list. An item's value is a second LWW register (set); a delete is
 * final (it beats moves and sets).
 *
 * Ops arrive in causal order from honest writers. One whose past is not
 * here (an unknown item, an origin or an earlier entry of its author not
 * yet seen: only a hostile writer makes those) waits inside the list and
 * applies once it can, so every arrival order ends in the same list.
 */
#ifndef WEFT_LIST_H
#define WEFT_LIST_H

#include "mem.h"

typedef struct wlist wlist;

enum { WLIST_INSERT = 1, WLIST_DELETE = 2, WLIST_MOVE = 3, WLIST_SET = 4 };

/* One list op with its authors as keys (32 bytes each). Its id is
 * (lamport, author). Inserts and moves make the entry (author, seq). */
typedef struct wlist_op {
    uint8_t kind;
    const uint8_t *author;
    uint64_t lamport;
    uint32_t seq;
    const uint8_t *item; /* delete, move, set: the item, named by its insert's entry */
    uint32_t item_seq;
    const uint8_t *left, *right; /* insert, move: origins; NULL the start / the end */
    uint32_t left_seq, right_seq;
    const uint8_t *val; /* insert, set: a canonical value (checked by the caller) */
    uint32_t vlen;
} wlist_op;

/* A new empty list whose local entries are made by `self` (32 bytes,
 * copied). NULL when out of memory. */
wlist *weft__list_new(const weft_allocator *a, const uint8_t *self);
void weft__list_free(wlist *l);

/* Applies an op (or keeps it waiting). Returns 0 (applied, waiting, a
 * duplicate, or refused alike on every replica) or WEFT_ENOMEM. */
int weft__list_apply(wlist *l, const wlist_op *op);
/* Ops waiting for their past. */
size_t weft__list_pending(const wlist *l);

/* Visible items. */
size_t weft__list_length(const wlist *l);
/* The item at index i (< length): its identity. Keys are borrowed until
 * the next change to the list. */
void weft__list_item_at(const wlist *l, size_t i, const uint8_t **key, uint32_t *seq);

/* A local entry for an insert at `to` (after removing the item at `from`
 * first, for a move; from = SIZE_MAX for an insert): placed in the sequence
 * now, its origins handed out so the caller can write the op, which it then
 * applies with weft__list_apply. OUT: *seq and the origins (keys borrowed,
 * copy them before the next call). Returns 0, WEFT_EINVAL (an index past
 * the end), WEFT_ELIMIT or WEFT_ENOMEM (the list is unchanged). */
int weft__list_place(wlist *l, size_t from, size_t to, uint32_t *seq, const uint8_t **left,
                     uint32_t *left_seq, const uint8_t **right, uint32_t *right_seq);

/* The visible value: an array (FORMAT.md §2) of the items' values, in
 * order, appended to b. Returns 0 or WEFT_ENOMEM. */
int weft__list_value(const wlist *l, wbuf *b);
/* Calls fn per visible item in order with its identity and value. */
int weft__list_each(const wlist *l,
                    int (*fn)(void *ctx, const uint8_t *key, uint32_t seq, const uint8_t *val,
                              size_t vlen),
                    void *ctx);

/* The state (LISTS.md, "State format"), appended to b; waiting ops are not
 * kept. Returns 0 or WEFT_ENOMEM. */
int weft__list_encode(wlist *l, wbuf *b);
/* Loads a state into an empty list. Returns 0, WEFT_ESTATE (not empty),
 * WEFT_EMALFORMED / WEFT_ETRUNCATED / WEFT_ETOOBIG / WEFT_EVERSION (bad
 * state: the list is left empty), or WEFT_ENOMEM. */
int weft__list_load(wlist *l, const uint8_t *p, size_t len);

/* Bytes allocated, for measurements. */
size_t weft__list_memory(const wlist *l);

#endif
