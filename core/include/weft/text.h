/*
 * Collaborative text: a sequence CRDT (docs/TEXT.md).
 *
 * A weft_text is one author's replica of one text. Local edits are made at
 * positions and gather as ops until weft_text_take_ops hands them out as one
 * self-contained update; remote updates are merged with weft_text_apply in
 * any order and any number of times, and every replica that has applied the
 * same updates holds the same text. Concurrent inserts at one place never
 * interleave: each author's run stays together (FugueMax / YjsMod order).
 *
 * Positions and lengths are in the unit chosen at creation: Unicode code
 * points (WEFT_TEXT_CODEPOINTS) or UTF-16 code units (WEFT_TEXT_UTF16, what
 * JavaScript strings count). A UTF-16 position inside a surrogate pair is
 * WEFT_EINVAL. Text in and out is UTF-8.
 *
 * Ownership: pointers the replica hands out (ops, encoded state) are
 * borrowed and stay valid until the next call on the same replica that can
 * change it; copy what you keep. Inputs are copied when kept. No threads,
 * no I/O, no globals; one replica must not be used by two threads at once.
 */
#ifndef WEFT_TEXT_H
#define WEFT_TEXT_H

#include "weft/alloc.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_text weft_text;

typedef enum weft_text_unit {
    WEFT_TEXT_CODEPOINTS = 0, /* Unicode scalar values */
    WEFT_TEXT_UTF16 = 1       /* UTF-16 code units (a non-BMP character counts 2) */
} weft_text_unit;

/* One change to the visible text, as a splice: at `pos`, `deleted` units were
 * removed, then `inserted` (UTF-8, `inserted_len` bytes, `inserted_units`
 * units) was inserted. Applying the deltas in the order they are reported
 * to the previous text gives the new text. */
typedef struct weft_text_delta {
    size_t pos;
    size_t deleted;
    const char *inserted; /* borrowed, valid during the callback only; NULL if none */
    size_t inserted_len;
    size_t inserted_units;
    /* A mark op (weft_text_format on another replica): the `formatted`
     * units from pos may have new marks (nothing was deleted or inserted;
     * read them with weft_text_spans). 0 for splices. */
    size_t formatted;
} weft_text_delta;

/* Called for every visible change weft_text_apply or weft_text_load makes
 * (not for local edits: the caller made those). Must not call into the same
 * replica. */
typedef void (*weft_text_delta_fn)(void *ud, const weft_text_delta *d);

typedef struct weft_text_config {
    const weft_allocator *alloc; /* NULL: the C library's */
    const uint8_t *author;       /* 32 bytes: this replica's author key */
    weft_text_unit unit;         /* position unit of every call */
    size_t max_pending_bytes;    /* updates waiting for missing ops; 0: 64 MiB */
    weft_text_delta_fn on_delta; /* optional */
    void *ud;                    /* passed to on_delta */
} weft_text_config;

/* Creates an empty text. OUT: *out. Returns 0, WEFT_EINVAL (NULL config or
 * author, unknown unit) or WEFT_ENOMEM. */
WEFT_API int weft_text_new(weft_text **out, const weft_text_config *cfg);
/* Frees it; NULL is a no-op. */
WEFT_API void weft_text_free(weft_text *t);

/* ---- local edits ---- */

/* Inserts `len` bytes of UTF-8 at `pos`. Returns 0; WEFT_EINVAL when pos is
 * past the end or inside a surrogate pair; WEFT_EMALFORMED when the text is
 * not valid UTF-8; WEFT_ELIMIT when the text would exceed 2^26 characters
 * ever inserted (deleted ones included) or 4 GiB of UTF-8; WEFT_ENOMEM. An
 * empty insert does nothing. On error the text is unchanged. */
WEFT_API int weft_text_insert(weft_text *t, size_t pos, const char *utf8, size_t len);

/* Deletes `count` units from `pos`. Returns 0; WEFT_EINVAL (range past the
 * end, or an end inside a surrogate pair: the text is unchanged); or
 * WEFT_ENOMEM (a first part of the range may be deleted, and its ops are
 * taken as usual). */
WEFT_API int weft_text_delete(weft_text *t, size_t pos, size_t count);

/* Hands out the local edits made since the last call as one update (empty
 * if none: *len = 0). OUT: *ops, borrowed until the next call on t. Returns
 * 0 or WEFT_ENOMEM. */
WEFT_API int weft_text_take_ops(weft_text *t, const uint8_t **ops, size_t *len);

/* ---- remote edits ---- */

/* Merges an update from weft_text_take_ops of any replica of this text
 * (including this one: that is a no-op). Ops already applied are skipped;
 * an op whose causal past has not arrived yet (an insert whose origins or
 * earlier ids of its author are missing, a delete of ids not seen yet)
 * waits inside the replica and is applied as soon as it can be.
 *
 * Returns 0; WEFT_EVERSION, WEFT_ETRUNCATED, WEFT_EMALFORMED or
 * WEFT_ETOOBIG when the update is malformed (then nothing of it is
 * applied); WEFT_ENOMEM. The following stop at one op; the ops of the
 * update before it stay applied, it and the rest are not taken:
 * WEFT_EPENDING_FULL when it would have to wait but waiting ops would
 * exceed max_pending_bytes; WEFT_EMALFORMED when it contradicts the text
 * (origins in the wrong order, which no honest writer produces);
 * WEFT_ELIMIT when it would take the text past its limit (see
 * weft_text_insert). A waiting op found to contradict the text when it
 * wakes is dropped. */
WEFT_API int weft_text_apply(weft_text *t, const uint8_t *ops, size_t len);

/* Ops waiting for their causal past. */
WEFT_API size_t weft_text_pending(const weft_text *t);

/* ---- reading ---- */

/* Visible length in the replica's unit, and in UTF-8 bytes. */
WEFT_API size_t weft_text_length(const weft_text *t);
WEFT_API size_t weft_text_utf8_length(const weft_text *t);

/* Copies the text as UTF-8 into dst (no terminating NUL). OUT: *out_len.
 * Returns 0 or WEFT_ENOSPACE (dst_cap < weft_text_utf8_length; *out_len is
 * then the length needed). */
WEFT_API int weft_text_read(const weft_text *t, char *dst, size_t dst_cap, size_t *out_len);

/* ---- stable positions ---- */

/* A position that follows its text through concurrent edits: it names the
 * item (character) it sticks to rather than an index. assoc >= 0 sticks to
 * the character after the position (text inserted there goes before the
 * anchor, like a caret that stays left of what others type at it); assoc <
 * 0 to the character before it (inserted text goes after). seq ==
 * WEFT_TEXT_ANCHOR_EDGE names no character: the start of the text when
 * assoc < 0, its end otherwise (author is then all zero). Anchors are not
 * ops: nothing is sent, and resolving one reads the text as it is now. */
#define WEFT_TEXT_ANCHOR_EDGE UINT32_MAX
typedef struct weft_text_anchor {
    uint8_t author[WEFT_KEY_BYTES]; /* the character's author key */
    uint32_t seq;  /* its id within the author's inserts, or WEFT_TEXT_ANCHOR_EDGE */
    int32_t assoc; /* < 0: sticks to the character before; >= 0: after */
} weft_text_anchor;

/* The anchor for position `pos` (in the replica's unit) with `assoc`: the
 * first visible character at or after pos (assoc >= 0) or the last one
 * before it (assoc < 0), or the edge when there is none. OUT: *out.
 * Returns 0, or WEFT_EINVAL (pos past the end or inside a surrogate pair). */
WEFT_API int weft_text_anchor_at(const weft_text *t, size_t pos, int32_t assoc,
                                 weft_text_anchor *out);

/* The position of an anchor now: before its character (assoc >= 0) or
 * after it (assoc < 0); a deleted character stands where its tombstone
 * is, so the anchor lands where the deleted text was. OUT: *pos. Returns 0,
 * or WEFT_ENOTFOUND when the character is not in this text (not arrived
 * yet). An anchor belongs to the text it was made in: ids are per text, so
 * in another text it names some other character or none. */
WEFT_API int weft_text_anchor_resolve(const weft_text *t, const weft_text_anchor *a, size_t *pos);

/* Inserts `len` bytes of UTF-8 right before the character an anchor with
 * assoc >= 0 names, even when that character is deleted: text put back
 * where it was deleted lands in its old place, not after other deleted
 * text there (as an insert at the position would). The edge anchor
 * inserts at the end. Returns what weft_text_insert returns, and
 * WEFT_ENOTFOUND when the text does not hold the character, WEFT_EINVAL
 * for an anchor with assoc < 0. */
WEFT_API int weft_text_insert_before(weft_text *t, const weft_text_anchor *a, const char *utf8,
                                     size_t len);

/* ---- formatting marks (docs/TEXT.md, "Marks") ---- */

/* One mark of a span: its type name (bold, italic, link, ...) and value
 * (bytes the caller gave weft_text_format; in a document, a canonical
 * value, FORMAT.md §2). Borrowed, valid during the callback only. */
typedef struct weft_text_mark {
    const char *type;
    size_t type_len;
    const uint8_t *value;
    size_t value_len;
} weft_text_mark;

/* Called for each span by weft_text_spans: `len` bytes of UTF-8 whose
 * characters all carry the same marks (n_marks of them, sorted by type
 * name bytes; none for plain text). A non-zero return stops the walk and
 * is returned. Must not call into the same replica. */
typedef int (*weft_text_span_fn)(void *ud, const char *utf8, size_t len,
                                 const weft_text_mark *marks, size_t n_marks);

/* Whether a mark of this type grows when text is typed right after its
 * end: 1 for every type but "link", "comment" (Peritext's rule) and
 * "block" (block markers, docs/TEXT.md "Blocks"); no type grows at its
 * start. Fixed by the name, so every replica decides alike. */
WEFT_API int weft_text_mark_expands(const char *type, size_t type_len);

/* Marks `len` units from `pos` with `type` (1..64 bytes of UTF-8) and
 * `value` (1..65536 bytes), or removes that type's mark from them when
 * value is NULL. For one type, the op with the greatest id (a Lamport
 * clock of the text's mark ops, then the author key) wins each character;
 * marks of different types coexist. The range is pinned to characters, so
 * it follows concurrent edits: text typed inside it gets the mark, text
 * typed at its start does not, text typed at its end does iff the type
 * expands. The op is taken like edits (weft__text_local_op; the standalone
 * update format of weft_text_take_ops carries no marks: marks travel in
 * document changes, FORMAT.md op codes 11 and 12).
 * Returns 0; WEFT_EINVAL (len 0, range past the end or inside a surrogate
 * pair, bad type or value length, type not UTF-8); WEFT_ELIMIT (2^22
 * mark ops); WEFT_ENOMEM. On error the text is unchanged. */
WEFT_API int weft_text_format(weft_text *t, size_t pos, size_t len, const char *type,
                              size_t type_len, const uint8_t *value, size_t value_len);

/* Walks the visible text once, calling fn with each maximal span of
 * characters carrying the same marks (what winning ops of every type
 * give; a winning remove shows no mark). An empty text has no span.
 * Returns 0, fn's non-zero return, or WEFT_ENOMEM. */
WEFT_API int weft_text_spans(const weft_text *t, weft_text_span_fn fn, void *ud);

/* ---- whole state ---- */

/* Encodes the whole state (visible text, tombstones as run lengths, the
 * ids and origins merging needs; no history, no deleted text, no waiting
 * ops). OUT: *out, borrowed until the next call on t. Returns 0 or
 * WEFT_ENOMEM. */
WEFT_API int weft_text_encode(weft_text *t, const uint8_t **out, size_t *len);

/* Loads an encoded state into a replica that has no content yet (made by
 * weft_text_new with the same author, no edits or applies). The author's
 * ids continue after those in the state, so load the latest state this
 * author made: an older one would reuse ids already sent.
 *
 * Returns 0; WEFT_ESTATE when t is not empty; WEFT_EVERSION,
 * WEFT_ETRUNCATED, WEFT_EMALFORMED, WEFT_ETOOBIG when the state is
 * malformed or past the limits (t stays as it was); WEFT_ENOMEM. The delta
 * callback then reports the whole text as one insert at 0. */
WEFT_API int weft_text_load(weft_text *t, const uint8_t *state, size_t len);

/* Bytes the replica has allocated (tree, id index, text, buffers, counted
 * by capacity), for measurements. */
WEFT_API size_t weft_text_memory(const weft_text *t);

#ifdef __cplusplus
}
#endif
#endif
