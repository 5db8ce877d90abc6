/*
 * The C ABI the weftdb JavaScript glue calls: a thin, flat layer over the
 * core's public API (weft/weft.h) that only uses what crosses a WASM
 * boundary cheaply: i32 pointers and lengths, doubles for 64-bit numbers
 * (every id, seq and time the core hands out is below 2^53), and int codes.
 *
 * Ownership (docs/API.md, "Memory"): JS allocates every input with malloc,
 * copies its bytes in, calls, and frees it (one allocator: the exported
 * malloc/free). Outputs the core hands out are borrowed views into the
 * handle's buffers, returned through an OUT slot pair (pointer, length)
 * that JS owns; they stay valid until the next call on the same handle, so
 * JS copies them (Uint8Array.slice) before calling again. A handle is freed
 * by wdb_free, which also wipes its keys; wdb_free(NULL) is a no-op.
 *
 * Every function returns 0 or a negative WEFT_E code unless it says
 * otherwise; weft_err_name/weft_strerror (exported too) name the codes.
 */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "weft/weft.h"
#include "weft/sodium.h"

#define WDB_API __attribute__((used, visibility("default")))

/* One space replica, with the crypto suite it seals and signs with. */
typedef struct wdb {
    weft_replica *r;
    weft_crypto_backend be;
    weft_crypto suite;
    weft_suite_v1 st;
    /* Text changes the last apply, commit, splice or load made (see
     * wdb_text_events); ev_lost when one could not be recorded. */
    uint8_t *ev;
    size_t ev_len, ev_cap;
    int ev_lost;
    /* The last wdb_touched_list (or wdb_apply_each's documents). */
    uint8_t *tl;
    size_t tl_len, tl_cap;
    /* The last wdb_apply_each's outcomes: 8 bytes per record. */
    uint8_t *oc;
    size_t oc_len, oc_cap;
    /* The last wdb_change_ops list; ops_err when it could not grow. */
    uint8_t *ops;
    size_t ops_len, ops_cap;
    int ops_err;
    /* The last wdb_text_spans. */
    uint8_t *sp;
    size_t sp_len, sp_cap;
} wdb;

/* Appends n bytes to a handle buffer (*buf, *len, *cap). Returns 0 or
 * WEFT_ENOMEM (the buffer as before). */
static int buf_put(uint8_t **buf, size_t *len, size_t *cap, const void *p, size_t n) {
    if (n > SIZE_MAX - *len) return WEFT_ENOMEM;
    if (*len + n > *cap) {
        size_t c = *cap ? *cap : 4096;
        while (c < *len + n)
            c = c > SIZE_MAX / 2 ? *len + n : c * 2;
        uint8_t *q = realloc(*buf, c);
        if (!q) return WEFT_ENOMEM;
        *buf = q;
        *cap = c;
    }
    memcpy(*buf + *len, p, n);
    *len += n;
    return WEFT_OK;
}

/* ---- text change events ---- */

static void ev_put(wdb *h, const void *p, size_t n) {
    if (h->ev_lost) return;
    if (h->ev_len + n > h->ev_cap) {
        size_t cap = h->ev_cap ? h->ev_cap * 2 : 256;
        while (cap < h->ev_len + n)
            cap *= 2;
        uint8_t *q = realloc(h->ev, cap);
        if (!q) {
            h->ev_lost = 1;
            return;
        }
        h->ev = q;
        h->ev_cap = cap;
    }
    memcpy(h->ev + h->ev_len, p, n);
    h->ev_len += n;
}

static void ev_bytes(wdb *h, const void *p, size_t n) {
    uint32_t l = (uint32_t)n;
    ev_put(h, &l, 4);
    ev_put(h, p, n);
}

static void on_text(void *ud, const char *coll, size_t cl, const char *doc, size_t dl,
                    const char *field, size_t fl, const weft_text_delta *d) {
    wdb *h = ud;
    uint32_t kind = !d ? 1 : d->formatted ? 2 : 0; /* 2: marks changed, del = units formatted */
    ev_put(h, &kind, 4);
    ev_bytes(h, coll, cl);
    ev_bytes(h, doc, dl);
    ev_bytes(h, field, fl);
    double pos = d ? (double)d->pos : 0, del = !d             ? 0
                                               : d->formatted ? (double)d->formatted
                                                              : (double)d->deleted;
    ev_put(h, &pos, 8);
    ev_put(h, &del, 8);
    ev_bytes(h, d && d->inserted ? d->inserted : "", d ? d->inserted_len : 0);
}

static void ev_clear(wdb *h) {
    h->ev_len = 0;
    h->ev_lost = 0;
}

/* A verified token, flattened for JS (offsets in docs/API.md: 0 space,
 * 32 issuer, 64 grantee, 96 id, 112 not_before, 120 expires, 128 rights,
 * 132 any_grantee, 136 delegated; 144 bytes). */
typedef struct wdb_token_info {
    uint8_t space[32];
    uint8_t issuer[32];
    uint8_t grantee[32];
    uint8_t id[16];
    double not_before, expires;
    int32_t rights, any_grantee, delegated, pad;
} wdb_token_info;

/* A decoded change header, flattened (0 author ptr, 4 total_len, 8 seq,
 * 16 lamport, 24 wall_ms; 32 bytes). */
typedef struct wdb_change_info {
    uint32_t author;
    uint32_t total_len;
    double seq, lamport, wall_ms;
} wdb_change_hdr;

/* A decoded sealed snapshot header, flattened (0 space ptr, 4 publisher
 * ptr, 8 vv ptr, 12 vv_len, 16 body_len, 20 total_len, 24 rseq, 32
 * wall_ms; 40 bytes). The pointers point into the record JS passed in. */
typedef struct wdb_snapshot_info {
    uint32_t space, publisher, vv, vv_len, body_len, total_len;
    double rseq, wall_ms;
} wdb_snapshot_info;

_Static_assert(sizeof(wdb_token_info) == 144, "token info layout is part of the JS ABI");
_Static_assert(sizeof(wdb_snapshot_info) == 40, "snapshot info layout is part of the JS ABI");
_Static_assert(sizeof(wdb_change_hdr) == 32, "change info layout is part of the JS ABI");

static int backend(weft_crypto_backend *be) {
    return weft_sodium_backend(be);
}

/* ---- handles ---- */

/* Creates a replica of `space` (32 bytes) written as `author` (32 bytes)
 * under suite V1. author_sk (64 bytes) may be NULL for a read-only replica.
 * Keys are copied (and wiped by wdb_free). OUT: *out. Returns 0,
 * WEFT_EINVAL, WEFT_ECRYPTO (libsodium.js not loaded) or WEFT_ENOMEM. */
WDB_API int wdb_new(wdb **out, const uint8_t *space, const uint8_t *author,
                    const uint8_t *author_sk, const uint8_t *content_key) {
    if (!out || !space || !author || !content_key) return WEFT_EINVAL;
    *out = NULL;
    wdb *h = calloc(1, sizeof *h);
    if (!h) return WEFT_ENOMEM;
    int rc = backend(&h->be);
    if (!rc) rc = weft_suite_v1_init(&h->suite, &h->st, &h->be, content_key, author_sk);
    /* A secret key for the replica's tables: keys in changes from the
     * relay or peers cannot be chosen to collide in them. */
    uint8_t hash_key[16];
    if (!rc) rc = h->be.random(h->be.ctx, hash_key, sizeof hash_key);
    if (!rc) {
        weft_replica_config cfg = {.space = space,
                                   .author = author,
                                   .crypto = &h->suite,
                                   .keep_records = 1,
                                   .ud = h,
                                   .text_unit = WEFT_TEXT_UTF16, /* what JS strings count */
                                   .on_text = on_text,
                                   .hash_key = hash_key};
        rc = weft_replica_new(&h->r, &cfg);
    }
    if (rc) {
        weft_suite_v1_wipe(&h->st);
        free(h);
        return rc;
    }
    *out = h;
    return WEFT_OK;
}

WDB_API void wdb_free(wdb *h) {
    if (!h) return;
    weft_replica_free(h->r);
    weft_suite_v1_wipe(&h->st);
    free(h->ev);
    free(h->tl);
    free(h->oc);
    free(h->ops);
    free(h->sp);
    free(h);
}

/* ---- writes ---- */

WDB_API int wdb_put(wdb *h, const char *coll, size_t coll_len, const char *doc, size_t doc_len,
                    const char *field, size_t field_len, const uint8_t *value, size_t value_len) {
    return weft_replica_put(h->r, coll, coll_len, doc, doc_len, field, field_len, value, value_len);
}

WDB_API int wdb_delete_field(wdb *h, const char *coll, size_t coll_len, const char *doc,
                             size_t doc_len, const char *field, size_t field_len) {
    return weft_replica_delete_field(h->r, coll, coll_len, doc, doc_len, field, field_len);
}

WDB_API int wdb_delete_doc(wdb *h, const char *coll, size_t coll_len, const char *doc,
                           size_t doc_len) {
    return weft_replica_delete_doc(h->r, coll, coll_len, doc, doc_len);
}

/* delta must be an integer with |delta| <= 2^53 (WEFT_EINVAL otherwise). */
WDB_API int wdb_counter_add(wdb *h, const char *coll, size_t coll_len, const char *doc,
                            size_t doc_len, const char *field, size_t field_len, double delta) {
    if (!(delta >= -9007199254740992.0 && delta <= 9007199254740992.0) ||
        delta != (double)(int64_t)delta)
        return WEFT_EINVAL;
    return weft_replica_counter_add(h->r, coll, coll_len, doc, doc_len, field, field_len,
                                    (int64_t)delta);
}

/* The space's format level (weft_replica_set_format_level: raise only). */
WDB_API int wdb_set_format_level(wdb *h, int level) {
    return level < 1 ? WEFT_EINVAL : weft_replica_set_format_level(h->r, (uint32_t)level);
}

WDB_API int wdb_txn_ops(wdb *h) {
    return (int)weft_replica_txn_ops(h->r);
}

/* Returns 0, or WEFT_ESTATE when the transaction holds text edits (kept:
 * commit it). */
WDB_API int wdb_rollback(wdb *h) {
    return weft_replica_rollback(h->r);
}

/* A whole buffer of ops (format: weft_replica_write_ops in
 * weft/replica.h) into the open transaction, all or none. OUT: failed[0]
 * = the index of the op that failed, or the number of ops on success. */
WDB_API int wdb_write_ops(wdb *h, const uint8_t *ops, size_t len, uint32_t *failed) {
    size_t at = 0;
    int rc = weft_replica_write_ops(h->r, ops, len, &at);
    failed[0] = (uint32_t)at;
    return rc;
}

/* OUT: out[0] = record pointer, out[1] = length (borrowed until the next
 * commit). */
WDB_API int wdb_commit(wdb *h, double wall_ms, uint32_t *out) {
    const uint8_t *rec;
    size_t len;
    if (!(wall_ms >= 0 && wall_ms < 18446744073709551616.0)) return WEFT_EINVAL;
    ev_clear(h);
    int rc = weft_replica_commit(h->r, (uint64_t)wall_ms, &rec, &len);
    if (rc) return rc;
    out[0] = (uint32_t)(uintptr_t)rec;
    out[1] = (uint32_t)len;
    return WEFT_OK;
}

/* OUT: res = weft_apply_result (applied, duplicates, pending, rejected,
 * first_error, consumed: six 32-bit words). */
WDB_API int wdb_apply(wdb *h, const uint8_t *records, size_t len, weft_apply_result *res) {
    ev_clear(h);
    return weft_replica_apply(h->r, records, len, res);
}

static int touched_append(wdb *h);

/* What became of one record applied on its own: 0 merged, 1 already
 * held, 2 parked until its dependencies arrive, or the code it was
 * refused with. */
static int32_t outcome(const weft_apply_result *one) {
    if (one->rejected) return one->first_error;
    if (one->duplicates) return 1;
    return one->pending && !one->applied ? 2 : 0;
}

/* Merges concatenated change records in one call, each on its own so the
 * caller learns what became of each (which to store). OUT: res = the
 * totals, as wdb_apply's; out[0], out[1] = the outcomes, 8 bytes per record
 * read: u32 its length, i32 what became of it (0 merged, 1 already held, 2
 * parked, or the negative code it was refused with); out[2],
 * out[3] = the documents every record touched, listed as by
 * wdb_touched_list. Both borrowed until the next call of either. The text
 * events of every record are kept for wdb_text_events. Returns 0; a
 * framing error (input that is not whole records: nothing is merged);
 * WEFT_ESTATE (a transaction is open: nothing is merged); WEFT_ETOOBIG or
 * WEFT_ENOMEM (the records before it stand). */
WDB_API int wdb_apply_each(wdb *h, const uint8_t *records, size_t len, weft_apply_result *res,
                           uint32_t *out) {
    memset(res, 0, sizeof *res);
    h->oc_len = h->tl_len = 0;
    if (weft_replica_txn_ops(h->r)) return WEFT_ESTATE;
    weft_change c;
    /* Every record framed first: input that is not records is refused
     * whole, before anything is merged. */
    for (size_t off = 0; off < len; off += c.total_len) {
        int rc = weft_change_decode(&c, records + off, len - off);
        if (rc) return rc;
    }
    ev_clear(h);
    int rc = WEFT_OK;
    size_t off = 0;
    while (off < len && !rc) {
        weft_apply_result one = {0};
        int32_t o[2];
        (void)weft_change_decode(&c, records + off, len - off);
        rc = weft_replica_apply(h->r, records + off, c.total_len, &one);
        if (rc == WEFT_ESTATE || rc == WEFT_ENOMEM) break;
        rc = touched_append(h);
        o[0] = (int32_t)c.total_len;
        o[1] = outcome(&one);
        res->applied += one.applied;
        res->duplicates += one.duplicates;
        res->pending += one.pending;
        res->rejected += one.rejected;
        if (!res->first_error) res->first_error = one.first_error;
        off += (size_t)o[0];
        if (!rc) rc = buf_put(&h->oc, &h->oc_len, &h->oc_cap, o, sizeof o);
    }
    res->consumed = off;
    out[0] = (uint32_t)(uintptr_t)h->oc;
    out[1] = (uint32_t)h->oc_len;
    out[2] = (uint32_t)(uintptr_t)h->tl;
    out[3] = (uint32_t)h->tl_len;
    return rc;
}

/* ---- text fields ---- */

typedef int (*text_op_fn)(weft_replica *, const char *, size_t, const char *, size_t, const char *,
                          size_t, size_t, size_t, const char *, size_t, uint64_t, const uint8_t **,
                          size_t *);

/* The JS numbers checked, then one of the core's two text edits. */
static int text_op(text_op_fn op, wdb *h, const char *coll, size_t coll_len, const char *doc,
                   size_t doc_len, const char *field, size_t field_len, double pos, double deleted,
                   const char *text, size_t text_len, double wall_ms, uint32_t *out) {
    if (!(pos >= 0 && pos < 4294967296.0 && deleted >= 0 && deleted < 4294967296.0 &&
          wall_ms >= 0 && wall_ms < 18446744073709551616.0))
        return WEFT_EINVAL;
    ev_clear(h);
    const uint8_t *rec;
    size_t len;
    int rc = op(h->r, coll, coll_len, doc, doc_len, field, field_len, (size_t)pos, (size_t)deleted,
                text, text_len, (uint64_t)wall_ms, &rec, &len);
    if (rc) return rc;
    out[0] = (uint32_t)(uintptr_t)rec;
    out[1] = (uint32_t)len;
    return WEFT_OK;
}

/* A splice of a text field (UTF-16 positions), committed at once. OUT:
 * out[0], out[1] = the record (length 0: nothing changed). */
WDB_API int wdb_text_splice(wdb *h, const char *coll, size_t coll_len, const char *doc,
                            size_t doc_len, const char *field, size_t field_len, double pos,
                            double deleted, const char *text, size_t text_len, double wall_ms,
                            uint32_t *out) {
    return text_op(weft_replica_text_splice, h, coll, coll_len, doc, doc_len, field, field_len, pos,
                   deleted, text, text_len, wall_ms, out);
}

/* The same splice joining the open transaction (weft_replica_text_edit):
 * committed later by wdb_commit, unless it turned a string into a text,
 * which commits at once. OUT: out[0], out[1] = the record when it
 * committed, else length 0. */
WDB_API int wdb_text_edit(wdb *h, const char *coll, size_t coll_len, const char *doc,
                          size_t doc_len, const char *field, size_t field_len, double pos,
                          double deleted, const char *text, size_t text_len, double wall_ms,
                          uint32_t *out) {
    return text_op(weft_replica_text_edit, h, coll, coll_len, doc, doc_len, field, field_len, pos,
                   deleted, text, text_len, wall_ms, out);
}

/* An insert right before an anchored character (the 40 bytes of
 * wdb_text_anchor), joining the open transaction as wdb_text_edit does.
 * OUT: as wdb_text_edit. */
WDB_API int wdb_text_insert_before(wdb *h, const char *coll, size_t coll_len, const char *doc,
                                   size_t doc_len, const char *field, size_t field_len,
                                   const uint8_t *anchor, const char *text, size_t text_len,
                                   double wall_ms, uint32_t *out) {
    if (!(wall_ms >= 0 && wall_ms < 18446744073709551616.0)) return WEFT_EINVAL;
    weft_text_anchor a;
    memcpy(a.author, anchor, 32);
    memcpy(&a.seq, anchor + 32, 4);
    memcpy(&a.assoc, anchor + 36, 4);
    ev_clear(h);
    const uint8_t *rec;
    size_t len;
    int rc = weft_replica_text_insert_before(h->r, coll, coll_len, doc, doc_len, field, field_len,
                                             &a, text, text_len, (uint64_t)wall_ms, &rec, &len);
    if (rc) return rc;
    out[0] = (uint32_t)(uintptr_t)rec;
    out[1] = (uint32_t)len;
    return WEFT_OK;
}

/* A text field's length in UTF-16 units, or a negative WEFT_E code
 * (WEFT_ENOTFOUND: not a visible text). */
WDB_API double wdb_text_length(wdb *h, const char *coll, size_t coll_len, const char *doc,
                               size_t doc_len, const char *field, size_t field_len) {
    size_t n;
    int rc = weft_replica_text_length(h->r, coll, coll_len, doc, doc_len, field, field_len, &n);
    return rc ? rc : (double)n;
}

/* Formats `len` units from `pos` of a text field (weft_replica_text_format):
 * type (UTF-8), value (a canonical value) unless remove; join 0 commits
 * at once, 1 joins the open transaction. OUT: out[0], out[1] = the record
 * when it committed, else length 0. */
WDB_API int wdb_text_format(wdb *h, const char *coll, size_t coll_len, const char *doc,
                            size_t doc_len, const char *field, size_t field_len, double pos,
                            double len, const char *type, size_t type_len, const uint8_t *value,
                            size_t value_len, int remove, int join, double wall_ms, uint32_t *out) {
    if (!(pos >= 0 && pos < 4294967296.0 && len >= 0 && len < 4294967296.0 && wall_ms >= 0 &&
          wall_ms < 18446744073709551616.0))
        return WEFT_EINVAL;
    ev_clear(h);
    const uint8_t *rec;
    size_t rl;
    int rc = weft_replica_text_format(
        h->r, coll, coll_len, doc, doc_len, field, field_len, (size_t)pos, (size_t)len, type,
        type_len, remove ? NULL : value, value_len, join, (uint64_t)wall_ms, &rec, &rl);
    if (rc) return rc;
    out[0] = (uint32_t)(uintptr_t)rec;
    out[1] = (uint32_t)rl;
    return WEFT_OK;
}

static int put_span(void *ud, const char *utf8, size_t len, const weft_text_mark *m, size_t n) {
    wdb *h = ud;
    uint32_t l = (uint32_t)len, k = (uint32_t)n;
    int rc = buf_put(&h->sp, &h->sp_len, &h->sp_cap, &l, 4);
    if (!rc) rc = buf_put(&h->sp, &h->sp_len, &h->sp_cap, utf8, len);
    if (!rc) rc = buf_put(&h->sp, &h->sp_len, &h->sp_cap, &k, 4);
    for (size_t i = 0; i < n && !rc; i++) {
        uint32_t tl = (uint32_t)m[i].type_len, vl = (uint32_t)m[i].value_len;
        rc = buf_put(&h->sp, &h->sp_len, &h->sp_cap, &tl, 4);
        if (!rc) rc = buf_put(&h->sp, &h->sp_len, &h->sp_cap, m[i].type, tl);
        if (!rc) rc = buf_put(&h->sp, &h->sp_len, &h->sp_cap, &vl, 4);
        if (!rc) rc = buf_put(&h->sp, &h->sp_len, &h->sp_cap, m[i].value, vl);
    }
    return rc;
}

/* A text field's spans (weft_replica_text_spans): repeated u32 length +
 * UTF-8, u32 n_marks, then per mark u32 length + type, u32 length + value
 * (canonical). OUT: out[0], out[1], borrowed until the next call. Returns
 * 0, WEFT_ENOTFOUND (no visible text) or WEFT_ENOMEM. */
WDB_API int wdb_text_spans(wdb *h, const char *coll, size_t coll_len, const char *doc,
                           size_t doc_len, const char *field, size_t field_len, uint32_t *out) {
    h->sp_len = 0;
    int rc =
        weft_replica_text_spans(h->r, coll, coll_len, doc, doc_len, field, field_len, put_span, h);
    if (rc) return rc;
    out[0] = (uint32_t)(uintptr_t)h->sp;
    out[1] = (uint32_t)h->sp_len;
    return WEFT_OK;
}

/* ---- list fields ---- */

/* A list edit (weft_replica_list_edit): kind 1 insert, 2 delete, 3 move,
 * 4 set; join 0 commits it at once, 1 joins the open transaction. OUT:
 * out[0], out[1] = the record when it committed, else length 0. */
WDB_API int wdb_list_edit(wdb *h, const char *coll, size_t coll_len, const char *doc,
                          size_t doc_len, const char *field, size_t field_len, int kind,
                          double index, double to, const uint8_t *value, size_t value_len, int join,
                          double wall_ms, uint32_t *out) {
    if (!(index >= 0 && index < 4294967296.0 && to >= 0 && to < 4294967296.0 && wall_ms >= 0 &&
          wall_ms < 18446744073709551616.0))
        return WEFT_EINVAL;
    ev_clear(h);
    const uint8_t *rec;
    size_t len;
    int rc = weft_replica_list_edit(h->r, coll, coll_len, doc, doc_len, field, field_len,
                                    (weft_list_edit_kind)kind, (size_t)index, (size_t)to, value,
                                    value_len, join, (uint64_t)wall_ms, &rec, &len);
    if (rc) return rc;
    out[0] = (uint32_t)(uintptr_t)rec;
    out[1] = (uint32_t)len;
    return WEFT_OK;
}

/* A list field's length, or a negative WEFT_E code (WEFT_ENOTFOUND: no list). */
WDB_API double wdb_list_length(wdb *h, const char *coll, size_t coll_len, const char *doc,
                               size_t doc_len, const char *field, size_t field_len) {
    size_t n;
    int rc = weft_replica_list_length(h->r, coll, coll_len, doc, doc_len, field, field_len, &n);
    return rc ? rc : (double)n;
}

/* A list's items with their identities (weft_replica_list_items). OUT:
 * out[0], out[1] = the bytes, borrowed until the next call. */
WDB_API int wdb_list_items(wdb *h, const char *coll, size_t coll_len, const char *doc,
                           size_t doc_len, const char *field, size_t field_len, uint32_t *out) {
    const uint8_t *p;
    size_t len;
    int rc =
        weft_replica_list_items(h->r, coll, coll_len, doc, doc_len, field, field_len, &p, &len);
    if (rc) return rc;
    out[0] = (uint32_t)(uintptr_t)p;
    out[1] = (uint32_t)len;
    return WEFT_OK;
}

/* A stable position in a text field (weft_replica_text_anchor). OUT: out[0..39]:
 * the author key (32 bytes), then seq and assoc as little-endian u32/i32. */
WDB_API int wdb_text_anchor(wdb *h, const char *coll, size_t coll_len, const char *doc,
                            size_t doc_len, const char *field, size_t field_len, double pos,
                            int32_t assoc, uint8_t *out) {
    if (!(pos >= 0 && pos < 4294967296.0)) return WEFT_EINVAL;
    weft_text_anchor a;
    int rc = weft_replica_text_anchor(h->r, coll, coll_len, doc, doc_len, field, field_len,
                                      (size_t)pos, assoc, &a);
    if (rc) return rc;
    memcpy(out, a.author, 32);
    memcpy(out + 32, &a.seq, 4); /* WASM is little-endian */
    memcpy(out + 36, &a.assoc, 4);
    return WEFT_OK;
}

/* Where an anchor (the 40 bytes wdb_text_anchor wrote) is now, in UTF-16
 * units, or a negative WEFT_E code (WEFT_ENOTFOUND: the text does not hold
 * its character, or the field is no text). */
WDB_API double wdb_text_resolve(wdb *h, const char *coll, size_t coll_len, const char *doc,
                                size_t doc_len, const char *field, size_t field_len,
                                const uint8_t *anchor) {
    weft_text_anchor a;
    memcpy(a.author, anchor, 32);
    memcpy(&a.seq, anchor + 32, 4);
    memcpy(&a.assoc, anchor + 36, 4);
    size_t pos;
    int rc =
        weft_replica_text_resolve(h->r, coll, coll_len, doc, doc_len, field, field_len, &a, &pos);
    return rc ? rc : (double)pos;
}

/* The text changes the last apply, commit, splice or snapshot load made:
 * repeated u32 kind (0 splice, 1 replaced whole, 2 marks changed), u32
 * length + bytes of the collection, document and field, f64 position, f64
 * units deleted (kind 2: units whose marks may have changed), u32 length +
 * UTF-8 inserted. OUT: out[0], out[1] (borrowed until the next
 * such call). Returns 0, or WEFT_ENOMEM when some could not be recorded
 * (then treat every text as replaced). */
WDB_API int wdb_text_events(wdb *h, uint32_t *out) {
    out[0] = (uint32_t)(uintptr_t)h->ev;
    out[1] = (uint32_t)h->ev_len;
    return h->ev_lost ? WEFT_ENOMEM : WEFT_OK;
}

/* ---- sync ---- */

WDB_API int wdb_vv(wdb *h, uint32_t *out) {
    const uint8_t *p;
    size_t len;
    int rc = weft_replica_vv(h->r, &p, &len);
    if (rc) return rc;
    out[0] = (uint32_t)(uintptr_t)p;
    out[1] = (uint32_t)len;
    return WEFT_OK;
}

/* weft_replica_forget with WEFT_LOG_FORGET_KEEP (keep 0: that default):
 * drops the per-change entries and kept records below vv, once a snapshot
 * covering vv is stored where peers can get it. */
WDB_API int wdb_forget(wdb *h, const uint8_t *vv, size_t vv_len, uint32_t keep) {
    return weft_replica_forget(h->r, vv, vv_len, keep ? keep : WEFT_LOG_FORGET_KEEP);
}

WDB_API int wdb_diff(wdb *h, const uint8_t *vv, size_t vv_len, uint32_t *out) {
    const uint8_t *p;
    size_t len;
    int rc = weft_replica_diff_held(h->r, vv, vv_len, &p, &len);
    if (rc) return rc;
    out[0] = (uint32_t)(uintptr_t)p;
    out[1] = (uint32_t)len;
    return WEFT_OK;
}

WDB_API double wdb_change_count(wdb *h) {
    return (double)weft_replica_change_count(h->r);
}

WDB_API int wdb_pending_count(wdb *h) {
    return (int)weft_replica_pending_count(h->r);
}

/* Decodes the header of the record at the start of src (structure only).
 * OUT: *info; info->author points into src. */
WDB_API int wdb_change_info(const uint8_t *src, size_t len, wdb_change_hdr *info) {
    weft_change c;
    int rc = weft_change_decode(&c, src, len);
    if (rc) return rc;
    info->author = (uint32_t)(uintptr_t)c.author;
    info->total_len = (uint32_t)c.total_len;
    info->seq = (double)c.seq;
    info->lamport = (double)c.lamport;
    info->wall_ms = (double)c.wall_ms;
    return WEFT_OK;
}

/* ---- reads ---- */

WDB_API int wdb_get_field(wdb *h, const char *coll, size_t coll_len, const char *doc,
                          size_t doc_len, const char *field, size_t field_len, uint32_t *out) {
    const uint8_t *p;
    size_t len;
    int rc = weft_replica_get_field(h->r, coll, coll_len, doc, doc_len, field, field_len, &p, &len);
    if (rc) return rc;
    out[0] = (uint32_t)(uintptr_t)p;
    out[1] = (uint32_t)len;
    return WEFT_OK;
}

WDB_API int wdb_get_doc(wdb *h, const char *coll, size_t coll_len, const char *doc, size_t doc_len,
                        uint32_t *out) {
    const uint8_t *p;
    size_t len;
    int rc = weft_replica_get_doc(h->r, coll, coll_len, doc, doc_len, &p, &len);
    if (rc) return rc;
    out[0] = (uint32_t)(uintptr_t)p;
    out[1] = (uint32_t)len;
    return WEFT_OK;
}

/* after may be NULL (after_len 0) for the first key. */
WDB_API int wdb_next_doc(wdb *h, const char *coll, size_t coll_len, const char *after,
                         size_t after_len, uint32_t *out) {
    const char *k;
    size_t klen;
    int rc =
        weft_replica_next_doc(h->r, coll, coll_len, after_len ? after : NULL, after_len, &k, &klen);
    if (rc) return rc;
    out[0] = (uint32_t)(uintptr_t)k;
    out[1] = (uint32_t)klen;
    return WEFT_OK;
}

/* The name of collection number i (weft_replica_collection): out[0] its
 * address, out[1] its length. */
WDB_API int wdb_collection(wdb *h, uint32_t i, uint32_t *out) {
    const char *name;
    size_t len;
    int rc = weft_replica_collection(h->r, i, &name, &len);
    if (rc) return rc;
    out[0] = (uint32_t)(uintptr_t)name;
    out[1] = (uint32_t)len;
    return WEFT_OK;
}

/* Documents the last commit or apply touched, written to `out` as
 * repeated (varint-free) u32 collection length, bytes, u32 key length,
 * bytes. Returns the number of bytes needed: when it exceeds cap nothing is
 * written and the caller retries with a larger buffer. */
WDB_API int wdb_touched(wdb *h, uint8_t *out, size_t cap) {
    size_t n = weft_replica_touched_count(h->r), need = 0;
    for (size_t i = 0; i < n; i++) {
        const char *c, *d;
        size_t cl, dl;
        if (weft_replica_touched(h->r, i, &c, &cl, &d, &dl)) continue;
        need += 8 + cl + dl;
    }
    if (need > cap || need > INT32_MAX) return need > INT32_MAX ? WEFT_ETOOBIG : (int)need;
    uint8_t *p = out;
    for (size_t i = 0; i < n; i++) {
        const char *c, *d;
        size_t cl, dl;
        if (weft_replica_touched(h->r, i, &c, &cl, &d, &dl)) continue;
        uint32_t l32 = (uint32_t)cl;
        memcpy(p, &l32, 4);
        memcpy(p + 4, c, cl);
        p += 4 + cl;
        l32 = (uint32_t)dl;
        memcpy(p, &l32, 4);
        memcpy(p + 4, d, dl);
        p += 4 + dl;
    }
    return (int)need;
}

/* Appends the documents the last commit or apply touched to h->tl, as
 * wdb_touched lists them. Returns 0, WEFT_ETOOBIG or WEFT_ENOMEM. */
static int touched_append(wdb *h) {
    size_t n = weft_replica_touched_count(h->r);
    const char *c, *d;
    size_t cl, dl;
    for (size_t i = 0; i < n; i++) {
        if (weft_replica_touched(h->r, i, &c, &cl, &d, &dl)) continue;
        uint32_t l[2] = {(uint32_t)cl, (uint32_t)dl};
        if (buf_put(&h->tl, &h->tl_len, &h->tl_cap, &l[0], 4) ||
            buf_put(&h->tl, &h->tl_len, &h->tl_cap, c, cl) ||
            buf_put(&h->tl, &h->tl_len, &h->tl_cap, &l[1], 4) ||
            buf_put(&h->tl, &h->tl_len, &h->tl_cap, d, dl))
            return WEFT_ENOMEM;
    }
    return h->tl_len > INT32_MAX ? WEFT_ETOOBIG : WEFT_OK;
}

/* The same list as wdb_touched in one call, into the handle's buffer.
 * OUT: out[0], out[1] = the list (borrowed until the next
 * wdb_touched_list or wdb_apply_each). Returns 0, WEFT_ETOOBIG or
 * WEFT_ENOMEM. */
WDB_API int wdb_touched_list(wdb *h, uint32_t *out) {
    h->tl_len = 0;
    int rc = touched_append(h);
    if (rc) return rc;
    out[0] = (uint32_t)(uintptr_t)h->tl;
    out[1] = (uint32_t)h->tl_len;
    return WEFT_OK;
}

/* ---- what a change did (history) ---- */

static void ops_put(wdb *h, const void *p, size_t n) {
    if (h->ops_err) return;
    if (h->ops_len + n > h->ops_cap) {
        size_t cap = h->ops_cap ? h->ops_cap * 2 : 256;
        while (cap < h->ops_len + n)
            cap *= 2;
        uint8_t *q = realloc(h->ops, cap);
        if (!q) {
            h->ops_err = 1;
            return;
        }
        h->ops = q;
        h->ops_cap = cap;
    }
    memcpy(h->ops + h->ops_len, p, n);
    h->ops_len += n;
}

static void ops_bytes(wdb *h, const void *p, size_t n) {
    uint32_t l = (uint32_t)n;
    ops_put(h, &l, 4);
    ops_put(h, p, n);
}

static void on_change_op(void *ud, int code, const char *coll, size_t cl, const char *doc,
                         size_t dl, const char *field, size_t fl) {
    wdb *h = ud;
    uint8_t c = (uint8_t)code;
    ops_put(h, &c, 1);
    ops_bytes(h, coll, cl);
    ops_bytes(h, doc, dl);
    ops_bytes(h, field, fl);
}

/* The ops of one change record, opened but not merged
 * (weft_replica_change_ops): per op u8 code, then collection, document and
 * field, each u32 length + bytes. OUT: out[0], out[1] = the list (borrowed
 * until the next wdb_change_ops). Returns 0 or the error of
 * weft_replica_change_ops; WEFT_ENOMEM. */
WDB_API int wdb_change_ops(wdb *h, const uint8_t *rec, size_t len, uint32_t *out) {
    h->ops_len = 0;
    h->ops_err = 0;
    int rc = weft_replica_change_ops(h->r, rec, len, on_change_op, h);
    if (!rc && h->ops_err) rc = WEFT_ENOMEM;
    out[0] = (uint32_t)(uintptr_t)h->ops;
    out[1] = rc ? 0 : (uint32_t)h->ops_len;
    return rc;
}

WDB_API int wdb_state_hash(wdb *h, uint8_t *hash) {
    return weft_state_hash(h->r, hash);
}

WDB_API int wdb_snapshot(wdb *h, uint32_t *out) {
    const uint8_t *p;
    size_t len;
    int rc = weft_replica_snapshot(h->r, &p, &len);
    if (rc) return rc;
    out[0] = (uint32_t)(uintptr_t)p;
    out[1] = (uint32_t)len;
    return WEFT_OK;
}

WDB_API int wdb_load_snapshot(wdb *h, const uint8_t *snap, size_t len) {
    ev_clear(h);
    return weft_replica_load_snapshot(h->r, snap, len);
}

/* ---- sealed snapshots (weft/snapshot.h) ---- */

static void snapshot_info(wdb_snapshot_info *info, const weft_snapshot_header *h) {
    info->space = (uint32_t)(uintptr_t)h->space;
    info->publisher = (uint32_t)(uintptr_t)h->publisher;
    info->vv = (uint32_t)(uintptr_t)h->vv;
    info->vv_len = (uint32_t)h->vv_len;
    info->body_len = (uint32_t)h->body_len;
    info->total_len = (uint32_t)h->total_len;
    info->rseq = (double)h->rseq;
    info->wall_ms = (double)h->wall_ms;
}

/* Seals and signs a snapshot of the replica's state for the relay
 * (weft_replica_publish_snapshot): rseq is the relay sequence reached (0
 * when unknown), both below 2^53. OUT: out[0], out[1] = the record's
 * pointer and length, borrowed until the next call on h. Returns 0,
 * WEFT_ECRYPTO (a read-only replica), WEFT_ESTATE (a transaction is open:
 * commit first), WEFT_ETOOBIG or WEFT_ENOMEM. */
WDB_API int wdb_publish_snapshot(wdb *h, double rseq, double wall_ms, uint32_t *out) {
    if (!h || !out || !(rseq >= 0) || !(wall_ms >= 0)) return WEFT_EINVAL;
    const uint8_t *p;
    size_t len;
    int rc = weft_replica_publish_snapshot(h->r, (uint64_t)rseq, (uint64_t)wall_ms, &p, &len);
    if (rc) return rc;
    out[0] = (uint32_t)(uintptr_t)p;
    out[1] = (uint32_t)len;
    return WEFT_OK;
}

/* Verifies, opens and loads a sealed snapshot into an empty replica
 * (weft_replica_load_sealed_snapshot; its codes: WEFT_ESIGNATURE,
 * WEFT_ECRYPTO when it does not open, WEFT_EUNCOVERED, WEFT_ESTATE when h
 * is not empty...). Check the publisher's rights from the header first.
 * Text events are cleared: after a load, read texts again. */
WDB_API int wdb_load_sealed_snapshot(wdb *h, const uint8_t *rec, size_t len) {
    if (!h) return WEFT_EINVAL;
    ev_clear(h);
    return weft_replica_load_sealed_snapshot(h->r, rec, len);
}

/* Decodes a sealed snapshot's header, structure only, no key needed
 * (weft_snapshot_header_decode). OUT: *info, whose pointers point into
 * rec. */
WDB_API int wdb_snapshot_header(const uint8_t *rec, size_t len, wdb_snapshot_info *info) {
    if (!info) return WEFT_EINVAL;
    weft_snapshot_header h;
    int rc = weft_snapshot_header_decode(&h, rec, len);
    if (!rc) snapshot_info(info, &h);
    return rc;
}

/* The header decode plus the space (32 bytes) and the publisher's
 * signature: what a relay checks, for a peer that serves snapshots
 * (weft_snapshot_verify). OUT: *info as wdb_snapshot_header. */
WDB_API int wdb_snapshot_verify(const uint8_t *space, const uint8_t *rec, size_t len,
                                wdb_snapshot_info *info) {
    if (!info || !space) return WEFT_EINVAL;
    weft_crypto_backend be;
    weft_snapshot_header h;
    int rc = backend(&be);
    if (!rc) rc = weft_snapshot_verify(&be, space, rec, len, &h);
    if (!rc) snapshot_info(info, &h);
    return rc;
}

/* Bytes of the heap in use by malloc: what the leak tests watch. */
WDB_API double wdb_heap_used(void) {
    struct mallinfo mi = mallinfo();
    return (double)mi.uordblks;
}

/* ---- keys, tokens, invites (no handle) ---- */

/* OUT: pk[32], sk[64]. */
WDB_API int wdb_keypair(uint8_t *pk, uint8_t *sk) {
    weft_crypto_backend be;
    int rc = backend(&be);
    return rc ? rc : weft_keypair_generate(&be, pk, sk);
}

/* OUT: buf[len] random bytes. */
WDB_API int wdb_random(uint8_t *buf, size_t len) {
    weft_crypto_backend be;
    int rc = backend(&be);
    return rc ? rc : be.random(be.ctx, buf, len);
}

/* Times in Unix seconds; expires 0 = never. grantee NULL: any holder.
 * OUT: dst (WEFT_TOKEN_MAX_BYTES), out_len[0]. */
WDB_API int wdb_token_issue(uint8_t *dst, size_t cap, uint32_t *out_len, const uint8_t *space,
                            const uint8_t *issuer_sk, const uint8_t *parent, size_t parent_len,
                            const uint8_t *grantee, int rights, double not_before, double expires) {
    weft_crypto_backend be;
    size_t len = 0;
    if (!(not_before >= 0 && expires >= 0 && not_before < 9007199254740992.0 &&
          expires < 9007199254740992.0))
        return WEFT_EINVAL;
    int rc = backend(&be);
    if (!rc)
        rc = weft_token_issue(&be, dst, cap, &len, space, issuer_sk, parent_len ? parent : NULL,
                              parent_len, grantee, (uint8_t)rights, (uint64_t)not_before,
                              (uint64_t)expires);
    out_len[0] = (uint32_t)len;
    return rc;
}

WDB_API int wdb_token_verify(const uint8_t *tok, size_t len, const uint8_t *space, double now,
                             wdb_token_info *info) {
    weft_crypto_backend be;
    weft_token t;
    int rc = backend(&be);
    if (rc) return rc;
    if (!(now >= 0 && now < 9007199254740992.0)) return WEFT_EINVAL;
    rc = weft_token_verify(&be, tok, len, space, (uint64_t)now, &t);
    if (rc) return rc;
    memcpy(info->space, t.space, 32);
    memcpy(info->issuer, t.issuer, 32);
    memcpy(info->grantee, t.grantee, 32);
    memcpy(info->id, t.id, 16);
    info->not_before = (double)t.not_before;
    info->expires = (double)t.expires;
    info->rights = t.rights;
    info->any_grantee = t.any_grantee;
    info->delegated = t.delegated;
    info->pad = 0;
    return WEFT_OK;
}

/* Signs the relay's nonce for `space` with sk (64 bytes). OUT: sig[64]. */
WDB_API int wdb_proof_sign(uint8_t *sig, const uint8_t *sk, const uint8_t *space,
                           const uint8_t *nonce, size_t nonce_len) {
    weft_crypto_backend be;
    int rc = backend(&be);
    return rc ? rc : weft_proof_sign(&be, sig, sk, space, nonce, nonce_len);
}

/* A level record (weft/level.h); parent NULL for the owner. OUT: dst
 * (WEFT_LEVEL_MAX_BYTES), out_len[0]. */
WDB_API int wdb_level_sign(uint8_t *dst, size_t cap, uint32_t *out_len, const uint8_t *space,
                           const uint8_t *issuer_sk, const uint8_t *parent, size_t parent_len,
                           int level, double wall_ms) {
    weft_crypto_backend be;
    size_t len = 0;
    if (!(wall_ms >= 0 && wall_ms < 9007199254740992.0) || level < 0) return WEFT_EINVAL;
    int rc = backend(&be);
    if (!rc)
        rc = weft_level_sign(&be, dst, cap, &len, space, issuer_sk, parent_len ? parent : NULL,
                             parent_len, (uint32_t)level, (uint64_t)wall_ms);
    out_len[0] = (uint32_t)len;
    return rc;
}

/* Verifies a level record for `space`. OUT: out[0] its level. */
WDB_API int wdb_level_verify(const uint8_t *rec, size_t len, const uint8_t *space, uint32_t *out) {
    weft_crypto_backend be;
    weft_level l;
    int rc = backend(&be);
    if (!rc) rc = weft_level_verify(&be, rec, len, space, &l);
    out[0] = rc ? 0 : l.level;
    return rc;
}

/* Verifies a grant chain (weft/members.h) for `key` at at_s. OUT: out[0]
 * the rights it gives. */
WDB_API int wdb_grant_chain_verify(const uint8_t *chain, size_t len, const uint8_t *space,
                                   const uint8_t *key, double at_s, uint32_t *out) {
    weft_crypto_backend be;
    uint8_t rights = 0;
    if (!(at_s >= 0 && at_s < 9007199254740992.0)) return WEFT_EINVAL;
    int rc = backend(&be);
    if (!rc) rc = weft_grant_chain_verify(&be, chain, len, space, key, (uint64_t)at_s, &rights);
    out[0] = rc ? 0 : rights;
    return rc;
}

/* ---- key backups (weft/backup.h) ---- */

/* Secrets on the stack are overwritten in a way the compiler keeps. */
static void wipe_secret(void *p, size_t n) {
    volatile uint8_t *v = p;
    while (n--)
        *v++ = 0;
}

/* Seals a backup under pw. owner_sk may be NULL; keys: n_keys x 32, oldest
 * first; records: membership records back to back. OUT: dst, out_len[0]
 * (with WEFT_ENOSPACE: the size needed). Argon2id needs Module.sodiumSumo
 * (WEFT_EUNAVAILABLE until the JS side loaded it). */
WDB_API int wdb_backup_seal(uint8_t *dst, size_t cap, uint32_t *out_len, const uint8_t *space,
                            const uint8_t *author_sk, const uint8_t *owner_sk, double key_epoch,
                            const uint8_t *keys, size_t n_keys, const uint8_t *token,
                            size_t token_len, const uint8_t *records, size_t records_len,
                            const uint8_t *level, size_t level_len, const uint8_t *relay,
                            size_t relay_len, const char *pw, size_t pwlen) {
    if (!out_len || !space || !author_sk || !(key_epoch >= 0 && key_epoch < 9007199254740992.0))
        return WEFT_EINVAL;
    weft_backup b = {.has_owner = owner_sk != NULL,
                     .key_epoch = (uint64_t)key_epoch,
                     .keys = keys,
                     .n_keys = n_keys,
                     .token = token,
                     .token_len = token_len,
                     .records = records,
                     .records_len = records_len,
                     .level = level,
                     .level_len = level_len,
                     .relay = (const char *)relay,
                     .relay_len = relay_len};
    memcpy(b.space, space, 32);
    memcpy(b.author_sk, author_sk, 64);
    if (owner_sk) memcpy(b.owner_sk, owner_sk, 64);
    size_t need = weft_backup_bound(&b), len = 0;
    out_len[0] = (uint32_t)need;
    weft_crypto_backend be;
    int rc = backend(&be);
    if (!rc)
        rc = need && cap < need ? WEFT_ENOSPACE
                                : weft_backup_seal(&be, dst, cap, &len, &b, pw, pwlen);
    if (!rc) out_len[0] = (uint32_t)len;
    wipe_secret(&b, sizeof b);
    return rc;
}

/* Opens a backup into payload (cap >= len; a secret: the caller wipes it).
 * OUT: out[0..12] = has_owner, key_epoch (low, high 32 bits), then the
 * offset in payload and length of: keys (length = n_keys), token, records,
 * level, relay. space, author_sk and owner_sk sit at payload + 0, 32 and
 * 97. */
WDB_API int wdb_backup_open(uint8_t *payload, size_t cap, uint32_t *out, const uint8_t *blob,
                            size_t len, const char *pw, size_t pwlen) {
    if (!out) return WEFT_EINVAL;
    weft_crypto_backend be;
    weft_backup b;
    int rc = backend(&be);
    if (!rc) rc = weft_backup_open(&be, payload, cap, &b, blob, len, pw, pwlen);
    if (rc) return rc;
#define OFF(p) (uint32_t)((const uint8_t *)(p) ? (const uint8_t *)(p)-payload : 0)
    uint32_t v[13] = {(uint32_t)b.has_owner, (uint32_t)b.key_epoch, (uint32_t)(b.key_epoch >> 32),
                      OFF(b.keys),           (uint32_t)b.n_keys,    OFF(b.token),
                      (uint32_t)b.token_len, OFF(b.records),        (uint32_t)b.records_len,
                      OFF(b.level),          (uint32_t)b.level_len, OFF(b.relay),
                      (uint32_t)b.relay_len};
#undef OFF
    memcpy(out, v, sizeof v);
    wipe_secret(&b, sizeof b);
    return WEFT_OK;
}

/* A device's half of a link to `person` (weft_link_sign_device). OUT:
 * sig[64]. */
WDB_API int wdb_link_device_sig(uint8_t *sig, const uint8_t *space, const uint8_t *person,
                                const uint8_t *device_sk, double wall_ms) {
    weft_crypto_backend be;
    if (!(wall_ms >= 0 && wall_ms < 9007199254740992.0)) return WEFT_EINVAL;
    int rc = backend(&be);
    return rc ? rc : weft_link_sign_device(&be, sig, space, person, device_sk, (uint64_t)wall_ms);
}

/* Completes a link as the person (weft_link_sign). OUT: dst, out_len[0]. */
WDB_API int wdb_link_sign(uint8_t *dst, size_t cap, uint32_t *out_len, const uint8_t *space,
                          const uint8_t *person_sk, const uint8_t *device, double wall_ms,
                          const uint8_t *device_sig) {
    weft_crypto_backend be;
    size_t len = 0;
    if (!(wall_ms >= 0 && wall_ms < 9007199254740992.0)) return WEFT_EINVAL;
    int rc = backend(&be);
    if (!rc)
        rc = weft_link_sign(&be, dst, cap, &len, space, person_sk, device, (uint64_t)wall_ms,
                            device_sig);
    out_len[0] = (uint32_t)len;
    return rc;
}

/* The length of the membership record at the start of rec (records kept
 * back to back). OUT: out_len[0]. */
WDB_API int wdb_member_record_len(const uint8_t *rec, size_t len, uint32_t *out_len) {
    weft_member_record r;
    size_t used = 0;
    int rc = out_len ? weft_member_record_decode_prefix(&r, rec, len, &used) : WEFT_EINVAL;
    if (!rc) out_len[0] = (uint32_t)used;
    return rc;
}

/* ---- membership (weft/members.h) ---- */

/* The content keys of a new epoch: key seals from now on, prev (the key
 * before it) still opens. */
WDB_API int wdb_rekey(wdb *h, const uint8_t *key, const uint8_t *prev) {
    if (!h || !key) return WEFT_EINVAL;
    int rc = prev ? weft_suite_v1_add_key(&h->st, prev) : WEFT_OK;
    return rc ? rc : weft_suite_v1_rekey(&h->st, key);
}

/* Rights changed while open (a grant, a lapse, a removal): author_sk (64
 * bytes) signs from now on, or NULL: nothing signs (a reader). */
WDB_API int wdb_set_signer(wdb *h, const uint8_t *author_sk) {
    if (!h) return WEFT_EINVAL;
    if (author_sk)
        memcpy(h->st.author_sk, author_sk, WEFT_SIGN_SECRETKEYBYTES);
    else
        wipe_secret(h->st.author_sk, WEFT_SIGN_SECRETKEYBYTES);
    h->st.can_sign = author_sk != NULL;
    return WEFT_OK;
}

/* An older key (from the key material at load): opens, never seals. */
WDB_API int wdb_add_key(wdb *h, const uint8_t *key) {
    return h && key ? weft_suite_v1_add_key(&h->st, key) : WEFT_EINVAL;
}

/* Opens the envelope an epoch record holds for member_sk (64 bytes).
 * OUT: key[32] and prev[32] (the key before it). */
WDB_API int wdb_epoch_open(const uint8_t *rec, size_t len, const uint8_t *member_sk, uint8_t *key,
                           uint8_t *prev) {
    weft_crypto_backend be;
    int rc = backend(&be);
    if (!rc) rc = weft_epoch_open(&be, rec, len, member_sk, key);
    if (!rc) rc = weft_epoch_prev_key(&be, rec, len, key, prev);
    return rc;
}

/* The previous key an epoch record holds, opened with that epoch's key
 * (from a link made after the rotation). OUT: prev[32]. */
WDB_API int wdb_epoch_prev(const uint8_t *rec, size_t len, const uint8_t *key, uint8_t *prev) {
    weft_crypto_backend be;
    int rc = backend(&be);
    return rc ? rc : weft_epoch_prev_key(&be, rec, len, key, prev);
}

WDB_API int wdb_members_new(weft_members **out, const uint8_t *space) {
    return weft_members_new(out, space, NULL);
}

WDB_API void wdb_members_free(weft_members *m) {
    weft_members_free(m);
}

/* Verifies and folds a record. OUT: out[0] its status (0 counts), out[1]
 * 1 when it was new here, out[2] its kind, out[3] its epoch (kind 7). */
WDB_API int wdb_members_add(weft_members *m, const uint8_t *rec, size_t len, int32_t *out) {
    weft_crypto_backend be;
    uint8_t hash[32];
    weft_member_record r;
    int rc = backend(&be);
    if (rc) return rc;
    weft_blake2b(hash, 32, rec, len);
    int fresh = weft_members_status(m, hash) == WEFT_ENOTFOUND, st = 0;
    rc = weft_members_add(m, &be, rec, len, &st);
    if (!rc) rc = weft_member_record_decode(&r, rec, len);
    if (rc) return rc;
    out[0] = st;
    out[1] = fresh;
    out[2] = r.kind;
    out[3] = (int32_t)(r.epoch > INT32_MAX ? INT32_MAX : r.epoch);
    return WEFT_OK;
}

static int ms_ok(double v) {
    return v >= 0 && v < 9007199254740992.0;
}

/* A grant (weft/members.h). OUT: dst (WEFT_GRANT_MAX_BYTES), out_len[0]. */
WDB_API int wdb_grant_sign(uint8_t *dst, size_t cap, uint32_t *out_len, const uint8_t *space,
                           const uint8_t *issuer_sk, const uint8_t *member, int rights, int flags,
                           double until, double wall_ms) {
    weft_crypto_backend be;
    size_t len = 0;
    if (!ms_ok(until) || !ms_ok(wall_ms) || rights < 0 || rights > 255 || flags < 0 || flags > 255)
        return WEFT_EINVAL;
    int rc = backend(&be);
    if (!rc)
        rc = weft_grant_sign(&be, dst, cap, &len, space, issuer_sk, member, (uint8_t)rights,
                             (uint8_t)flags, (uint64_t)until, (uint64_t)wall_ms);
    out_len[0] = (uint32_t)len;
    return rc;
}

/* An invite claimed by the newcomer's key (weft/members.h): the grant to
 * a fresh invite key and the link's ticket. OUT: grant (WEFT_GRANT_MAX_BYTES),
 * ticket (WEFT_TICKET_MAX_BYTES), out_len[0] grant, out_len[1] ticket. */
WDB_API int wdb_invite_issue(uint8_t *grant, size_t cap, uint32_t *out_len, uint8_t *ticket,
                             const uint8_t *space, const uint8_t *issuer_sk, int rights,
                             double until, double wall_ms) {
    weft_crypto_backend be;
    size_t gl = 0, tl = 0;
    if (!ms_ok(until) || !ms_ok(wall_ms) || rights < 0 || rights > 255) return WEFT_EINVAL;
    int rc = backend(&be);
    if (!rc)
        rc = weft_invite_issue(&be, grant, cap, &gl, ticket, &tl, space, issuer_sk, (uint8_t)rights,
                               (uint64_t)until, (uint64_t)wall_ms);
    out_len[0] = (uint32_t)gl;
    out_len[1] = (uint32_t)tl;
    return rc;
}

/* The newcomer's claim of a ticket. OUT: dst (WEFT_GRANT_MAX_BYTES),
 * out_len[0], invite_key[32]. */
WDB_API int wdb_invite_claim(uint8_t *dst, size_t cap, uint32_t *out_len, const uint8_t *space,
                             const uint8_t *ticket, size_t ticket_len, const uint8_t *member,
                             double wall_ms, uint8_t *invite_key) {
    weft_crypto_backend be;
    size_t len = 0;
    if (!ms_ok(wall_ms)) return WEFT_EINVAL;
    int rc = backend(&be);
    if (!rc)
        rc = weft_invite_claim(&be, dst, cap, &len, space, ticket, ticket_len, member,
                               (uint64_t)wall_ms, invite_key);
    out_len[0] = (uint32_t)len;
    return rc;
}

/* A ticket's rights and end. OUT: out[0] rights, out[1] until (Unix s). */
WDB_API int wdb_ticket_decode(const uint8_t *ticket, size_t len, double *out) {
    uint8_t seed[32], rights;
    uint64_t until;
    int rc = weft_ticket_decode(ticket, len, seed, &rights, &until);
    if (!rc) {
        out[0] = rights;
        out[1] = (double)until;
    }
    return rc;
}

/* A removal (weft/members.h). OUT: dst (WEFT_REVOKE_MAX_BYTES), out_len[0]. */
WDB_API int wdb_revoke_sign(uint8_t *dst, size_t cap, uint32_t *out_len, const uint8_t *space,
                            const uint8_t *issuer_sk, const uint8_t *member, double last_seq,
                            double epoch, double wall_ms) {
    weft_crypto_backend be;
    size_t len = 0;
    if (!ms_ok(last_seq) || !ms_ok(epoch) || !ms_ok(wall_ms)) return WEFT_EINVAL;
    int rc = backend(&be);
    if (!rc)
        rc = weft_revoke_sign(&be, dst, cap, &len, space, issuer_sk, member, (uint64_t)last_seq,
                              (uint64_t)epoch, (uint64_t)wall_ms);
    out_len[0] = (uint32_t)len;
    return rc;
}

/* A key epoch sealed to n members (32 bytes each). OUT: dst
 * (WEFT_EPOCH_BYTES_BOUND(n)), out_len[0]. */
WDB_API int wdb_epoch_sign(uint8_t *dst, size_t cap, uint32_t *out_len, const uint8_t *space,
                           const uint8_t *issuer_sk, double epoch, const uint8_t *new_key,
                           const uint8_t *prev_key, const uint8_t *members, size_t n,
                           double wall_ms) {
    weft_crypto_backend be;
    size_t len = 0;
    if (!ms_ok(epoch) || !ms_ok(wall_ms)) return WEFT_EINVAL;
    int rc = backend(&be);
    if (!rc)
        rc = weft_epoch_sign(&be, dst, cap, &len, space, issuer_sk, (uint64_t)epoch, new_key,
                             prev_key, members, n, (uint64_t)wall_ms);
    out_len[0] = (uint32_t)len;
    return rc;
}

/* What the relay will check, before a record signed here is kept. */
WDB_API int wdb_members_admit(weft_members *m, const uint8_t *rec, size_t len) {
    weft_crypto_backend be;
    int rc = backend(&be);
    return rc ? rc : weft_members_admit(m, &be, rec, len);
}

/* What a replica decides from the membership records alone about the
 * change (author, seq) written at `at` (Unix s), before taking it from a
 * peer (SECURITY.md "What peers check"). OUT: out[0] 1 when the records
 * decide (the owner, a key with grants, a removed key), 0 when they name
 * no grant of the author (a token the relay checked admitted it). Returns
 * 0 (it counts), WEFT_EREVOKED (past its removal's last change),
 * WEFT_EEXPIRED (every grant ended by `at`) or WEFT_ERIGHTS (read only). */
WDB_API int wdb_members_author(weft_members *m, const uint8_t *author, double seq, double at,
                               int32_t *out) {
    uint8_t rights = 0;
    out[0] = 1;
    if (!ms_ok(seq) || !ms_ok(at)) return WEFT_EINVAL;
    int rc = weft_members_change_counts(m, author, (uint64_t)seq);
    if (rc) return rc;
    rc = weft_members_rights(m, author, (uint64_t)at, &rights, NULL);
    /* Removed later: this change is within its last one, so it counts. */
    if (rc == WEFT_EREVOKED) return WEFT_OK;
    if (rc) return rc;
    if (!rights) {
        out[0] = 0;
        return WEFT_OK;
    }
    return rights >= WEFT_RIGHT_WRITE ? WEFT_OK : WEFT_ERIGHTS;
}

/* Rights of `key` at `now` (Unix s), for a peer's HELLO: out[0] the rights
 * (0: none). Returns 0, WEFT_EREVOKED or WEFT_EEXPIRED. */
WDB_API int wdb_members_rights(weft_members *m, const uint8_t *key, double now, int32_t *out) {
    uint8_t rights = 0;
    if (!ms_ok(now)) return WEFT_EINVAL;
    int rc = weft_members_rights(m, key, (uint64_t)now, &rights, NULL);
    out[0] = rights;
    return rc;
}

/* A claim a peer presents in its HELLO (flag 0x10) when this replica holds
 * no grant of its key yet, checked as a relay checks it before the
 * CHALLENGE: it verifies for `space`, is a grant naming `key`, and, unless
 * it counts here already, claims an invite still open at `now` (Unix s).
 * Returns 0, a verify error, WEFT_ENOTMEMBER (not a claim for key, or no
 * such invite here), WEFT_EREPLAY, WEFT_EEXPIRED or WEFT_EREVOKED. */
WDB_API int wdb_members_claim_open(weft_members *m, const uint8_t *space, const uint8_t *rec,
                                   size_t len, const uint8_t *key, double now) {
    weft_crypto_backend be;
    weft_member_record c;
    uint8_t hash[32];
    int rc = backend(&be);
    if (rc) return rc;
    if (!ms_ok(now)) return WEFT_EINVAL;
    rc = weft_member_record_verify(&be, rec, len, space, &c);
    if (rc) return rc;
    if (c.kind != WEFT_RECORD_GRANT || c.flags || memcmp(c.member, key, 32) != 0)
        return WEFT_ENOTMEMBER;
    weft_blake2b(hash, 32, rec, len);
    if (weft_members_status(m, hash) == 0) return WEFT_OK;
    rc = weft_members_invite_open(m, c.issuer, (uint64_t)now);
    return rc == WEFT_ENOTFOUND ? WEFT_ENOTMEMBER : rc;
}

#define WDB_MEMBER_BYTES 96

WDB_API int wdb_member_bytes(void) {
    return WDB_MEMBER_BYTES;
}

/* The members at `now` (Unix s), WDB_MEMBER_BYTES each: key[32], rights,
 * admin, state (0 member, 1 expired, 2 removed, 3 no rights), pad to 40,
 * until (f64, Unix s, 0 = never), last_seq (f64: removed, its last change
 * that counts), linked (u8, pad to 64), person[32] (linked: whose device).
 * OUT: dst, out[0] count, out[1] the current epoch. */
WDB_API int wdb_members_list(weft_members *m, double now, uint8_t *dst, size_t cap, uint32_t *out) {
    size_t n = weft_members_count(m);
    uint64_t epoch = 0;
    if (n * WDB_MEMBER_BYTES > cap) return WEFT_ENOSPACE;
    weft_members_epoch(m, &epoch, NULL, NULL);
    for (size_t i = 0; i < n; i++) {
        weft_member w;
        uint8_t r = 0, *e = dst + i * WDB_MEMBER_BYTES;
        weft_members_get(m, i, &w);
        int rc = weft_members_rights(m, w.key, now > 0 ? (uint64_t)now : 0, &r, NULL);
        memset(e, 0, WDB_MEMBER_BYTES);
        memcpy(e, w.key, 32);
        e[32] = w.rights;
        e[33] = (uint8_t)w.admin;
        e[34] = rc == WEFT_EREVOKED ? 2 : rc == WEFT_EEXPIRED ? 1 : r ? 0 : 3;
        double until = (double)w.until;
        memcpy(e + 40, &until, 8);
        double last = (double)w.last_seq;
        memcpy(e + 48, &last, 8);
        e[56] = (uint8_t)w.linked;
        if (w.linked) memcpy(e + 64, w.person, 32);
    }
    out[0] = (uint32_t)n;
    out[1] = (uint32_t)(epoch > UINT32_MAX ? UINT32_MAX : epoch);
    return WEFT_OK;
}

WDB_API int wdb_invite_bound(size_t base_len, size_t token_len) {
    return (int)weft_invite_bound(base_len, token_len);
}

/* OUT: dst (NUL-terminated), out_len[0] without the NUL. */
WDB_API int wdb_invite_encode(char *dst, size_t cap, uint32_t *out_len, const char *base,
                              size_t base_len, const uint8_t *space, const uint8_t *token,
                              size_t token_len, const uint8_t *content_key) {
    size_t len = 0;
    int rc =
        weft_invite_encode(dst, cap, &len, base, base_len, space, token, token_len, content_key);
    out_len[0] = (uint32_t)len;
    return rc;
}

/* OUT: space[32], token (cap WEFT_TOKEN_MAX_BYTES, length out_len[0]),
 * content_key[32]. */
WDB_API int wdb_invite_decode(const char *link, size_t len, uint8_t *space, uint8_t *token,
                              size_t token_cap, uint32_t *out_len, uint8_t *content_key) {
    size_t tl = 0;
    int rc = weft_invite_decode(link, len, space, token, token_cap, &tl, content_key);
    out_len[0] = (uint32_t)tl;
    return rc;
}
