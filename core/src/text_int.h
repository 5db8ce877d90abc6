/* Internal entry points of text.c for white-box tests. */
#ifndef WEFT_TEXT_INT_H
#define WEFT_TEXT_INT_H

#include "weft/text.h"

/* Checks every invariant of the tree, the id index and the totals (see
 * text.c). Returns 0, or the line in text.c of the first check that
 * failed. Slow: O(n). */
int weft__text_check(const weft_text *t);

/* One op of the update format with its authors as keys: how replica.c
 * carries text ops inside changes (docs/TEXT.md, "In a document"), where
 * the keys come from the change's header and author table. */
typedef struct weft_text_op {
    uint8_t kind;                /* 1 insert, 2 delete, 3 add mark, 4 remove mark */
    const uint8_t *author;       /* the ids' author (32 bytes) */
    uint32_t seq, len;           /* ids seq .. seq + len - 1; inserts: set by the check */
    const uint8_t *left, *right; /* inserts: the origins' authors; NULL: start / end */
    uint32_t left_seq, right_seq;
    const uint8_t *text; /* inserts: UTF-8 */
    uint32_t nbytes;
    /* Marks (kinds 3, 4; docs/TEXT.md, "Marks"): the op's id is (lamport,
     * author); its range runs from the gap at left (NULL: the start of the
     * text) to the gap at right (NULL: the end), each gap before its
     * character or after it (sides); text/nbytes hold the type name;
     * value/value_len the value of an add (NULL for a remove). */
    uint64_t lamport;
    uint8_t sides; /* WEFT_MARK_START_AFTER | WEFT_MARK_END_AFTER */
    const uint8_t *value;
    uint32_t value_len;
} weft_text_op;

#define WEFT_MARK_START_AFTER 1 /* the range starts after its start character */
#define WEFT_MARK_END_AFTER   2 /* the range ends after its end character */

/* Checks what the update decoder checks of one op (kind, non-empty valid
 * UTF-8, ids below 2^32 - 1, an insert's origins not its own ids) and sets
 * an insert's len. Returns 0 or WEFT_EMALFORMED. */
int weft__text_op_check(weft_text_op *o);
/* Applies one checked op exactly as weft_text_apply would apply an update
 * holding only it (waiting included). */
int weft__text_apply_op(weft_text *t, const weft_text_op *o);
/* The local edits not taken yet, one op at a time (borrowed until the next
 * call on t), then forgotten as weft_text_take_ops would. */
size_t weft__text_local_count(const weft_text *t);
void weft__text_local_op(const weft_text *t, size_t i, weft_text_op *out);
void weft__text_local_clear(weft_text *t);

/* For lists (list.c), which keep their order as a text of one item per
 * position: where ids are and what sits where. */
/* The next seq of the author's ids here (how many it has inserted). */
uint32_t weft__text_next_seq(const weft_text *t, const uint8_t *key);
/* Finds id (key, seq): -1 absent, 0 present but deleted, 1 visible (then
 * *pos is its position in units, if pos is not NULL). */
int weft__text_find(const weft_text *t, const uint8_t *key, uint32_t seq, uint64_t *pos);
/* The id of the visible item at unit position pos (< the length). */
void weft__text_id_at(const weft_text *t, uint64_t pos, const uint8_t **key, uint32_t *seq);
/* Calls fn with every visible item's id in order; stops at the first
 * non-zero return and returns it. */
int weft__text_each_visible(const weft_text *t,
                            int (*fn)(void *ctx, const uint8_t *key, uint32_t seq), void *ctx);

/* For marks (marks.c). The gap before (after = 0) or after (after = 1)
 * item (key, seq), as an item index (tombstones counted). OUT: *gap.
 * Returns 0, or -1 when the text does not hold the item. */
int weft__text_gap(const weft_text *t, const uint8_t *key, uint32_t seq, int after, uint64_t *gap);
/* Mark ops the text holds (0: it has no formatting at all). */
size_t weft__text_mark_ops(const weft_text *t);
/* Items (tombstones included). */
uint64_t weft__text_items(const weft_text *t);
/* Calls fn with each visible run in document order: the item index of its
 * first item, its item count and its UTF-8; stops at the first non-zero
 * return and returns it. */
int weft__text_each_run(const weft_text *t,
                        int (*fn)(void *ctx, uint64_t first, uint32_t len, const uint8_t *utf8,
                                  uint32_t nbytes),
                        void *ctx);

#endif
