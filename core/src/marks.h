/*
 * Formatting marks of a text (docs/TEXT.md, "Marks"): the store of every
 * add-mark and remove-mark op a text has seen, kept sorted by the op's id
 * (lamport, author key; then its content, so that even two hostile ops
 * with one id order the same everywhere). Nothing is ever dropped: which
 * op wins a character is decided when the text is read, so the order ops
 * arrive in cannot matter. An op naming a character the text does not
 * hold (yet) is kept and covers nothing until it arrives.
 */
#ifndef WEFT_MARKS_H
#define WEFT_MARKS_H

#include "mem.h"
#include "text_int.h"

typedef struct wmarks wmarks;

/* Limits of one mark op: its type name and its value, in bytes. */
#define WEFT_MARK_MAX_TYPE  64
#define WEFT_MARK_MAX_VALUE 65536
/* Mark ops one text holds; more is WEFT_ELIMIT. */
#define WEFT_MARK_MAX_OPS ((size_t)1 << 22)

/* Checks a mark op as the decoders do (kind 3 or 4, lamport 1..2^53 - 1,
 * type 1..64 bytes of UTF-8, a value of 1..65536 bytes on adds and none on
 * removes, seqs below 2^32 - 1, side bits only on present anchors).
 * Returns 0 or WEFT_EMALFORMED. */
int weft__marks_check(const weft_text_op *o);
/* Adds a checked op to *m (created on first use). OUT: *added 1 if it was
 * new, 0 if the same op was there. Returns 0, WEFT_ENOMEM or WEFT_ELIMIT. */
int weft__marks_add(wmarks **m, const weft_allocator *a, const weft_text_op *o, int *added);
/* The op with id (lamport, key) as a weft_text_op (borrowed): 0 or
 * WEFT_ENOTFOUND. */
int weft__marks_find(const wmarks *m, uint64_t lamport, const uint8_t *key, weft_text_op *out);
/* The greatest lamport of any op held (0 when none). */
uint64_t weft__marks_clock(const wmarks *m);
size_t weft__marks_count(const wmarks *m);
size_t weft__marks_memory(const wmarks *m);
void weft__marks_free(wmarks *m, const weft_allocator *a);

/* Appends the marks section of a text state (TEXT.md, "State format"),
 * nothing when m holds no op. */
void weft__marks_encode(const wmarks *m, wbuf *b);
/* Reads a marks section up to the end of rd into a new *m. Returns 0 or
 * WEFT_ETRUNCATED, WEFT_EMALFORMED, WEFT_ETOOBIG, WEFT_ENOMEM. */
int weft__marks_load(wmarks **m, const weft_allocator *a, wreader *rd);

/* The visible text as maximal spans of characters with the same marks
 * (see weft_text_spans). */
int weft__marks_spans(const wmarks *m, const weft_text *t, const weft_allocator *a,
                      weft_text_span_fn fn, void *ud);

#endif
