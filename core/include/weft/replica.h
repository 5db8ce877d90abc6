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
 * level above the space's: see weft_replica_set_format_level), WEFT_ELIMIT
 * (clock or seq exhausted), WEFT_ECRYPTO or WEFT_ENOMEM; on error the
 * transaction stays open. */
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
 * Returns 0, a vector decoding error, WEFT_ESTATE (records not kept) or
 * WEFT_ENOMEM. */
WEFT_API int weft_replica_diff(weft_replica *r, const uint8_t *vv, size_t vv_len,
                               const uint8_t **records, size_t *len);

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

#ifdef __cplusplus
}
#endif
#endif
