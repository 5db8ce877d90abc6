/*
 * A replica: one author's copy of a space. It owns a change log and the
 * materialized state, turns local ops into signed, sealed changes, and
 * merges remote changes in any order, any number of times.
 *
 * Ownership: every const pointer a replica hands out (records, vectors,
 * values, keys) is borrowed and stays valid until the next call on the same
 * replica that can change it (any write, apply, load or read that says it
 * reuses a buffer); copy what you keep. Inputs are copied when kept.
 * Threading: none inside; one replica must not be used by two threads at
 * once. Time: passed in (wall_ms), never read.
 */
#ifndef WEFT_REPLICA_H
#define WEFT_REPLICA_H

#include "weft/alloc.h"
#include "weft/change.h"
#include "weft/crypto.h"
#include "weft/text.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct weft_replica weft_replica;

/* Called once per document a commit or apply call touched, after the call
 * merged everything (so reads inside see the new state). Must not call
 * writes, commit or apply on the same replica. */
typedef void (*weft_touched_fn)(void *ud, const char *coll, size_t coll_len, const char *doc,
                                size_t doc_len);

/* Called for every visible change of a text field that merging made, as a
 * splice in the replica's text unit (local edits are not reported: the
 * caller made them). d NULL: the field's text was replaced as a whole (a
 * write won over it, or a text appeared): read it again. Same rules as
 * weft_touched_fn. */
typedef void (*weft_text_changed_fn)(void *ud, const char *coll, size_t coll_len, const char *doc,
                                     size_t doc_len, const char *field, size_t field_len,
                                     const weft_text_delta *d);

typedef struct weft_replica_config {
    const weft_allocator *alloc;  /* NULL: the C library's */
    const uint8_t *space;         /* 32 bytes */
    const uint8_t *author;        /* 32 bytes: this replica's author key */
    const weft_crypto *crypto;    /* NULL: WEFT_SUITE_PLAIN */
    int keep_records;             /* keep change records so weft_replica_diff can serve
                                     them (set for anything that syncs) */
    size_t max_pending_bytes;     /* 0: 64 MiB */
    weft_touched_fn on_touched;   /* optional change callback */
    void *ud;                     /* passed to on_touched and on_text */
    weft_text_unit text_unit;     /* unit of text positions (0: code points) */
    weft_text_changed_fn on_text; /* optional text change callback */
    const uint8_t *hash_key;      /* optional: 16 secret random bytes for the log's
                                     author table (weft_log_config.hash_key) */
} weft_replica_config;

/* Creates a replica. OUT: *out. Returns 0, WEFT_EINVAL or WEFT_ENOMEM. */
WEFT_API int weft_replica_new(weft_replica **out, const weft_replica_config *cfg);
/* Frees it; NULL is a no-op. */
WEFT_API void weft_replica_free(weft_replica *r);

/* ---- local writes: ops gather in an open transaction until commit ---- */

/* Names (collection, field) are 1..255 bytes of UTF-8, document keys 1..1024
 * bytes of UTF-8; values are canonical encodings (weft/value.h). Each call
 * returns 0, WEFT_EINVAL (bad name, key or value), or WEFT_ENOMEM. */
WEFT_API int weft_replica_put(weft_replica *r, const char *coll, size_t coll_len, const char *doc,
                              size_t doc_len, const char *field, size_t field_len,
                              const uint8_t *value, size_t value_len);
WEFT_API int weft_replica_delete_field(weft_replica *r, const char *coll, size_t coll_len,
                                       const char *doc, size_t doc_len, const char *field,
                                       size_t field_len);
WEFT_API int weft_replica_delete_doc(weft_replica *r, const char *coll, size_t coll_len,
                                     const char *doc, size_t doc_len);
/* Adds delta to an integer counter field (a missing or deleted field counts
 * from 0). */
WEFT_API int weft_replica_counter_add(weft_replica *r, const char *coll, size_t coll_len,
                                      const char *doc, size_t doc_len, const char *field,
                                      size_t field_len, int64_t delta);

/* Op kinds of a weft_replica_write_ops buffer. Never renumbered. */
enum weft_ops_kind {
    WEFT_OPS_PUT = 1,     /* coll, doc, field, value: sets one field */
    WEFT_OPS_REPLACE = 2, /* coll, doc, map: sets the map's fields, deletes the other live ones */
    WEFT_OPS_UPDATE = 3,  /* coll, doc, map: sets the map's fields, keeps the others */
    WEFT_OPS_DELETE_FIELD = 4, /* coll, doc, field */
    WEFT_OPS_DELETE_DOC = 5,   /* coll, doc */
    WEFT_OPS_COUNTER_ADD = 6,  /* coll, doc, field, int value: the delta */
};

/* Adds a whole buffer of ops to the open transaction in one call: what a
 * binding uses to cross into the core once per batch. The buffer is ops
 * back to back, each:
 *
 *   u8 kind (enum weft_ops_kind)
 *   name coll, name doc            name = varint length (LEB128), bytes
 *   [name field]                   PUT, DELETE_FIELD, COUNTER_ADD
 *   [value]                        PUT: the field's value; COUNTER_ADD: an
 *                                  int value (tag 0x03), the delta
 *   [map]                          REPLACE, UPDATE: the document's fields as
 *                                  a map value: 0x08, varint count, then count
 *                                  x (name field, value), names in strictly
 *                                  ascending byte order
 *
 * Values are the canonical encoding (weft/value.h, docs/FORMAT.md
 * "Values"), so the map of a document is what a value encoder writes for
 * it; each field's value may nest as deep as a put's. Names, keys and
 * values obey the limits of weft_replica_put. REPLACE deletes, field by
 * field, the document's fields the map lacks that are live after the ops
 * before it (the state's visible fields and those this transaction set):
 * a concurrent write to another field still merges, and a new document
 * costs no deletes. A replace of an absent document with an empty map adds
 * no op.
 *
 * Atomic: the buffer's ops all join the transaction, or none does (the
 * transaction is then as before the call; interned names may stay, which
 * no reader sees). OUT: *failed_op (may be NULL): on failure the index of
 * the op that failed, 0-based; on success the number of ops read.
 *
 * Returns 0; WEFT_EINVAL (a bad name, key or value, keys out of order, a
 * map or counter delta of the wrong type); WEFT_EMALFORMED (an unknown
 * kind, a non-minimal varint); WEFT_ETRUNCATED (the buffer ends inside an
 * op, a value's included); WEFT_ELIMIT (too many ops for one change); WEFT_ENOMEM. */
WEFT_API int weft_replica_write_ops(weft_replica *r, const uint8_t *ops, size_t len,
                                    size_t *failed_op);

/* ---- text fields (docs/TEXT.md, "In a document") ---- */

/* Replaces `deleted` units at `pos` of a text field with `utf8` (`len`
 * bytes) and commits that edit as one change at once. A missing or deleted
 * field starts as empty text; a field holding a string becomes a text with
 * that string in the same change. Positions are in the replica's text
 * unit. OUT: the record, as weft_replica_commit; *len 0 (record NULL) when
 * the edit changes nothing.
 *
 * Returns 0; WEFT_EINVAL (bad names, a range past the end or inside a
 * surrogate pair, a field holding a value that is not a string);
 * WEFT_EMALFORMED (utf8 is not UTF-8); WEFT_ESTATE (a transaction is
 * open: use weft_replica_text_edit to join it); WEFT_ECRYPTO before any
 * change when the replica cannot sign (a reader); WEFT_ELIMIT; WEFT_ENOMEM
 * or WEFT_ECRYPTO from the commit: then the edit stays in an open
 * transaction (the text shows it already), which weft_replica_commit can
 * retry and weft_replica_rollback cannot drop. */
WEFT_API int weft_replica_text_splice(weft_replica *r, const char *coll, size_t coll_len,
                                      const char *doc, size_t doc_len, const char *field,
                                      size_t field_len, size_t pos, size_t deleted,
                                      const char *utf8, size_t len, uint64_t wall_ms,
                                      const uint8_t **record, size_t *rec_len);

/* The same edit, joining the open transaction instead of committing: a
 * binding gathers keystrokes (and other writes) into one change and seals
 * it later with weft_replica_commit. The text shows the edit at once (read
 * it with get_field or text_length); the edit is in the transaction, so
 * from now on weft_replica_rollback refuses (WEFT_ESTATE) and the
 * transaction must be committed, and weft_replica_apply is refused until
 * it is (commit, then apply).
 *
 * One case commits at once, as weft_replica_text_splice does: an edit that
 * turns a field holding a string into a text (the text takes the field
 * only when its change merges, so reads would not see the edit before),
 * which commits the whole open transaction with it. OUT: *record, *rec_len
 * as weft_replica_commit when it committed, else NULL and 0.
 *
 * Returns what weft_replica_text_splice returns, but WEFT_ESTATE when the
 * open transaction writes this field other than by text edits, or deletes
 * its document (the edit would apply to a text those ops replace): commit,
 * then edit. */
WEFT_API int weft_replica_text_edit(weft_replica *r, const char *coll, size_t coll_len,
                                    const char *doc, size_t doc_len, const char *field,
                                    size_t field_len, size_t pos, size_t deleted, const char *utf8,
                                    size_t len, uint64_t wall_ms, const uint8_t **record,
                                    size_t *rec_len);

/* A text field's visible length in the replica's text unit. Returns 0 or
 * WEFT_ENOTFOUND (not a visible text: read other values with get_field). */
WEFT_API int weft_replica_text_length(weft_replica *r, const char *coll, size_t coll_len,
                                      const char *doc, size_t doc_len, const char *field,
                                      size_t field_len, size_t *length);

/* Formats `len` units of a text field from `pos` (weft_text_format;
 * docs/TEXT.md, "Marks"): `type` names the mark (bold, italic, link, ...),
 * `value` is a canonical value (FORMAT.md §2: true for bold, the URL string
 * for a link), NULL removes the type's mark from the range. join 0 commits
 * at once, join 1 joins the open transaction (as weft_replica_text_edit).
 * OUT: *record, *rec_len as weft_replica_commit when it committed, else
 * NULL and 0.
 *
 * Returns 0; WEFT_ENOTFOUND (the field is no visible text: a string
 * becomes one with its first edit); WEFT_EINVAL (bad names, len 0, a
 * range past the end or inside a surrogate pair, type not 1..64 bytes of
 * UTF-8, value not one canonical value of at most 65536 bytes);
 * WEFT_EVERSION (the space's format level is below WEFT_LEVEL_MARKS:
 * weft_replica_set_format_level); WEFT_ESTATE, WEFT_ECRYPTO, WEFT_ELIMIT,
 * WEFT_ENOMEM as weft_replica_text_edit. */
WEFT_API int weft_replica_text_format(weft_replica *r, const char *coll, size_t coll_len,
                                      const char *doc, size_t doc_len, const char *field,
                                      size_t field_len, size_t pos, size_t len, const char *type,
                                      size_t type_len, const uint8_t *value, size_t value_len,
                                      int join, uint64_t wall_ms, const uint8_t **record,
                                      size_t *rec_len);

/* Walks a text field's visible text once as spans with their marks
 * (weft_text_spans; values are canonical values). Returns 0,
 * WEFT_ENOTFOUND (not a visible text), fn's non-zero return, or
 * WEFT_ENOMEM. */
WEFT_API int weft_replica_text_spans(weft_replica *r, const char *coll, size_t coll_len,
                                     const char *doc, size_t doc_len, const char *field,
                                     size_t field_len, weft_text_span_fn fn, void *ud);

/* ---- list fields (docs/LISTS.md) ---- */

/* What weft_replica_list_edit does. Indices are visible positions. */
typedef enum weft_list_edit_kind {
    WEFT_LIST_INSERT = 1, /* value at `index` (0..length) */
    WEFT_LIST_DELETE = 2, /* the item at `index` */
    WEFT_LIST_MOVE = 3,   /* the item at `index` so that it ends at `to` */
    WEFT_LIST_SET = 4     /* the item at `index` gets `value`, in place */
} weft_list_edit_kind;

/* Edits a list field. A missing or deleted field starts as an empty list;
 * a field holding an array becomes a list of its elements in the same
 * change (committed at once, as a string turning into a text is). Items
 * keep their identity through moves and sets: concurrent moves of one item
 * leave it at exactly one place (the newest move wins), a delete beats
 * concurrent moves and sets. `value` (inserts and sets) is one canonical
 * value nested at most WEFT_VALUE_MAX_DEPTH - 1 deep (the list reads as an
 * array of them).
 *
 * join 0: commits the edit as one change at once (WEFT_ESTATE when a
 * transaction is open); join 1: joins the open transaction like
 * weft_replica_text_edit, and the list shows the edit at once. OUT:
 * *record, *rec_len as weft_replica_commit when it committed, else NULL
 * and 0.
 *
 * Returns 0; WEFT_EINVAL (bad names, kind or value); WEFT_ENOTLIST (the
 * field holds a value other than an array, or a text); WEFT_ENOITEM (an
 * index past the end); WEFT_EVERSION (the space's format level is below
 * WEFT_LEVEL_LISTS: weft_replica_set_format_level); WEFT_ESTATE (see join,
 * and as weft_replica_text_edit); WEFT_ECRYPTO (a reader); WEFT_ELIMIT;
 * WEFT_ENOMEM. On an error before the edit nothing changed; errors of the
 * commit leave the edit in the open transaction, as for text. */
WEFT_API int weft_replica_list_edit(weft_replica *r, const char *coll, size_t coll_len,
                                    const char *doc, size_t doc_len, const char *field,
                                    size_t field_len, weft_list_edit_kind kind, size_t index,
                                    size_t to, const uint8_t *value, size_t value_len, int join,
                                    uint64_t wall_ms, const uint8_t **record, size_t *rec_len);

/* A list field's visible length. Returns 0 or WEFT_ENOTFOUND (no list). */
WEFT_API int weft_replica_list_length(weft_replica *r, const char *coll, size_t coll_len,
                                      const char *doc, size_t doc_len, const char *field,
                                      size_t field_len, size_t *length);

/* A list field's items with their identities, for bindings that report
 * moves: varint count, then per item key[32] and varint seq (the insert
 * that made it: stable for its life) and its value. OUT: *items, borrowed
 * until the next call on r. Returns 0, WEFT_ENOTFOUND or WEFT_ENOMEM. (Its
 * value as an array comes from weft_replica_get_field.) */
WEFT_API int weft_replica_list_items(weft_replica *r, const char *coll, size_t coll_len,
                                     const char *doc, size_t doc_len, const char *field,
                                     size_t field_len, const uint8_t **items, size_t *len);

/* A stable position in a text field (weft_text_anchor_at): it follows the
 * text through concurrent edits. OUT: *out. Returns 0, WEFT_ENOTFOUND (not
 * a visible text) or WEFT_EINVAL (pos past the end or inside a surrogate
 * pair). */
WEFT_API int weft_replica_text_anchor(weft_replica *r, const char *coll, size_t coll_len,
                                      const char *doc, size_t doc_len, const char *field,
                                      size_t field_len, size_t pos, int32_t assoc,
                                      weft_text_anchor *out);

/* Where an anchor of this field is now (weft_text_anchor_resolve). OUT:
 * *pos. Returns 0 or WEFT_ENOTFOUND: the field is no visible text, or its
 * text does not hold the anchor's character (not arrived yet, or a write
 * replaced the text the anchor was made in). */
WEFT_API int weft_replica_text_resolve(weft_replica *r, const char *coll, size_t coll_len,
                                       const char *doc, size_t doc_len, const char *field,
                                       size_t field_len, const weft_text_anchor *a, size_t *pos);

/* weft_replica_text_edit's insert, made right before the character of an
 * anchor with assoc >= 0, deleted or not (weft_text_insert_before): how an
 * undo puts deleted text back in its old place. Joins the open
 * transaction; OUT and returns as weft_replica_text_edit, and
 * WEFT_ENOTFOUND when the field is no text or does not hold the character
 * (nothing changed). */
WEFT_API int weft_replica_text_insert_before(weft_replica *r, const char *coll, size_t coll_len,
                                             const char *doc, size_t doc_len, const char *field,
                                             size_t field_len, const weft_text_anchor *at,
                                             const char *utf8, size_t len, uint64_t wall_ms,
                                             const uint8_t **record, size_t *rec_len);

/* The space's format level (weft/level.h, docs/FORMAT.md §10) as this
 * replica knows it: 1 until set. The binding sets it from the level records
 * it verified (weft_level_verify); it is not part of snapshots, so set it
 * again after a load. Raises only: a level at or below the current one is a
 * no-op. Returns 0, WEFT_EINVAL (level 0) or WEFT_EVERSION (above
 * WEFT_FORMAT_LEVEL: this build cannot read the space). */
WEFT_API int weft_replica_set_format_level(weft_replica *r, uint32_t level);
/* The level set above (1 for NULL). */
WEFT_API uint32_t weft_replica_format_level(const weft_replica *r);

/* Number of ops in the open transaction. */
WEFT_API size_t weft_replica_txn_ops(const weft_replica *r);

/* Seals the open transaction into one change and applies it. OUT: *record,
 * *len: the encoded change to store and send (borrowed until the next
 * commit). Returns 0, WEFT_ESTATE (no ops), WEFT_EVERSION (an op of a format
 * level above the space's: see weft_replica_set_format_level),
 * WEFT_ECHANGE_TOO_BIG (the record would exceed WEFT_MAX_COMMIT_BYTES, which
 * no relay with the default --max-frame takes), WEFT_ELIMIT (clock or seq
 * exhausted), WEFT_ECRYPTO or WEFT_ENOMEM; on error the transaction stays
 * open. */
WEFT_API int weft_replica_commit(weft_replica *r, uint64_t wall_ms, const uint8_t **record,
                                 size_t *len);
/* Drops the open transaction's ops. Returns 0 (also for r NULL or no open
 * transaction), or WEFT_ESTATE when the transaction holds text edits: the
 * text shows them already, so nothing is dropped and the transaction stays
 * open, to be committed. */
WEFT_API int weft_replica_rollback(weft_replica *r);

/* ---- remote changes ---- */

typedef struct weft_apply_result {
    uint32_t applied;    /* changes merged (released pending ones included) */
    uint32_t duplicates; /* already held */
    uint32_t pending;    /* parked until their dependencies arrive */
    uint32_t rejected;   /* refused: fork, broken chain, bad body, bad signature... */
    int first_error;     /* the first rejection's code, 0 if none */
    size_t consumed;     /* bytes of input read */
} weft_apply_result;

/* Merges one or more concatenated change records. Records that can be
 * applied are, in any order given; one that lacks a dependency waits inside
 * the replica and is applied when the dependency arrives (that counts as
 * `applied` in the call that delivered it). A record that is refused is
 * counted and skipped; a record that cannot be framed (truncated, garbled
 * header) ends the call. OUT: *res (may be NULL). Returns 0 when every
 * record was applied, held or parked; otherwise the first error (res says
 * what happened to the rest). WEFT_ESTATE while a transaction is open
 * (nothing is read then): commit it first, then apply. */
WEFT_API int weft_replica_apply(weft_replica *r, const uint8_t *records, size_t len,
                                weft_apply_result *res);

/* ---- sync ---- */

/* The version vector (docs/FORMAT.md). OUT: borrowed bytes. */
WEFT_API int weft_replica_vv(weft_replica *r, const uint8_t **vv, size_t *len);

/* Every change held that the holder of `vv` lacks, concatenated in causal
 * order, ready for weft_replica_apply on the other side. OUT: borrowed bytes.
 * Returns 0, a vector decoding error, WEFT_ESTATE (records not kept),
 * WEFT_ETRIMMED (the holder of vv lacks changes this replica no longer has:
 * below its snapshot, or forgotten; send a sealed snapshot and the diff
 * from its vector instead) or WEFT_ENOMEM. */
WEFT_API int weft_replica_diff(weft_replica *r, const uint8_t *vv, size_t vv_len,
                               const uint8_t **records, size_t *len);

/* weft_replica_diff that leaves out what the replica no longer holds,
 * without an error (weft_log_diff_held): for callers that send that prefix
 * another way (an outbox of unacknowledged changes). */
WEFT_API int weft_replica_diff_held(weft_replica *r, const uint8_t *vv, size_t vv_len,
                                    const uint8_t **records, size_t *len);

/* Drops the per-change metadata and kept records of the changes vv covers
 * (weft_log_forget: each author keeps its head and its last `keep`
 * changes; pass WEFT_LOG_FORGET_KEEP), so that a long-lived replica holds what
 * sync needs, not one entry per change. Call it once a snapshot covering
 * vv is stored where a peer can get it (published and acknowledged, or
 * saved locally). State is untouched. Returns 0, a vector decoding error,
 * WEFT_ESTATE (a transaction is open) or WEFT_ENOMEM (nothing changed). */
WEFT_API int weft_replica_forget(weft_replica *r, const uint8_t *vv, size_t vv_len, uint64_t keep);

/* Changes committed, and changes waiting for dependencies. */
WEFT_API uint64_t weft_replica_change_count(const weft_replica *r);
WEFT_API size_t weft_replica_pending_count(const weft_replica *r);

/* ---- reads ---- */

/* A field's visible value (canonical encoding, borrowed). Returns 0 or
 * WEFT_ENOTFOUND. */
WEFT_API int weft_replica_get_field(weft_replica *r, const char *coll, size_t coll_len,
                                    const char *doc, size_t doc_len, const char *field,
                                    size_t field_len, const uint8_t **value, size_t *len);

/* A document's visible fields as one canonical map value (borrowed, reused
 * by the next get_doc). Returns 0, WEFT_ENOTFOUND or WEFT_ENOMEM. */
WEFT_API int weft_replica_get_doc(weft_replica *r, const char *coll, size_t coll_len,
                                  const char *doc, size_t doc_len, const uint8_t **value,
                                  size_t *len);

/* The first visible document key of the collection greater than `after`
 * (after NULL: the first), in byte order. OUT: borrowed key. Returns 0 or
 * WEFT_ENOTFOUND at the end. */
WEFT_API int weft_replica_next_doc(weft_replica *r, const char *coll, size_t coll_len,
                                   const char *after, size_t after_len, const char **key,
                                   size_t *key_len);

/* The name of the replica's collection number `i` (0, 1, 2... in the order
 * the replica first saw them), whether or not it has visible documents:
 * what an export walks. OUT: borrowed name. Returns 0, or WEFT_ENOTFOUND
 * when i is past the last. */
WEFT_API int weft_replica_collection(weft_replica *r, size_t i, const char **name,
                                     size_t *name_len);

/* Documents the last commit or apply call touched (their visible content
 * may or may not have changed): count, then each as (collection, key). */
WEFT_API size_t weft_replica_touched_count(const weft_replica *r);
WEFT_API int weft_replica_touched(const weft_replica *r, size_t i, const char **coll,
                                  size_t *coll_len, const char **doc, size_t *doc_len);

/* weft_state_hash: BLAKE2b-256 of the visible state in canonical order;
 * equal on every replica holding the same changes, natively and in WASM.
 * OUT: hash. Returns 0 or WEFT_ENOMEM. */
WEFT_API int weft_state_hash(weft_replica *r, uint8_t hash[WEFT_HASH_BYTES]);

/* ---- snapshots ---- */

/* Serializes state + version vector (docs/FORMAT.md, "Snapshot"). OUT:
 * borrowed bytes. Returns 0 or WEFT_ENOMEM. */
WEFT_API int weft_replica_snapshot(weft_replica *r, const uint8_t **snap, size_t *len);

/* Loads a snapshot into a replica that holds nothing yet. Changes after it
 * can then be applied as usual; changes before it count as duplicates.
 * Returns 0, WEFT_ESTATE (not empty), WEFT_ESPACE, or a decoding error (the
 * replica is then still empty). */
WEFT_API int weft_replica_load_snapshot(weft_replica *r, const uint8_t *snap, size_t len);

/* Called once per op of a change, in order: its code (1 put, 2 delete
 * document, 3 delete field, 4 counter add, 5 text insert, 6 text delete;
 * FORMAT.md §5), its collection, document and field (field_len 0 for a
 * document delete). Every pointer is borrowed for the call only. */
typedef void (*weft_change_op_fn)(void *ud, int code, const char *coll, size_t coll_len,
                                  const char *doc, size_t doc_len, const char *field,
                                  size_t field_len);

/* Reads what one change record did, without merging it (history views over
 * the records a replica holds): decodes the record (exactly one: trailing
 * bytes are WEFT_EMALFORMED), checks it is of this
 * replica's space and suite, verifies its author's signature, opens the
 * body with the content key, decodes every op and only then calls fn per
 * op. The state, the log and any open transaction are unchanged; decrypted
 * bytes are wiped. Returns 0; the errors of weft_change_decode;
 * WEFT_ESPACE; WEFT_ESUITE; WEFT_ECRYPTO (signature or seal); the body's
 * decoding errors (WEFT_EMALFORMED, WEFT_ETRUNCATED, WEFT_ETOOBIG);
 * WEFT_ENOMEM; WEFT_EINVAL (NULL arguments). */
WEFT_API int weft_replica_change_ops(weft_replica *r, const uint8_t *rec, size_t len,
                                     weft_change_op_fn fn, void *ud);

#ifdef __cplusplus
}
#endif
#endif
