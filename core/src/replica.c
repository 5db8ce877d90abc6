/*
 * The replica: local transactions become change records; records, local or
 * remote, go through one path (weft__replica_merge) into the state, so the
 * author's own edits merge by exactly the code that merges everyone else's.
 */
#include "replica_int.h"

#include <assert.h>

#include "value_int.h"
#include "marks.h"
#include "sort.h"
#include "weft/level.h"
#include "weft/value.h"

static void text_changed(void *ud, uint32_t doc, uint32_t name, const weft_text_delta *d);

/* The replica's growable buffers: one list for init and free alike. */
#define REPLICA_BUFS(r)                                                                        \
    {                                                                                          \
        &(r)->txn_ops, &(r)->plain, &(r)->out, &(r)->vv, &(r)->diff, &(r)->docbuf, &(r)->snap, \
            &(r)->sealed                                                                       \
    }

int weft_replica_new(weft_replica **out, const weft_replica_config *cfg) {
    validate_or_ret(out && cfg && cfg->space && cfg->author, WEFT_EINVAL);
    validate_or_ret(cfg->text_unit == WEFT_TEXT_CODEPOINTS || cfg->text_unit == WEFT_TEXT_UTF16,
                    WEFT_EINVAL);
    *out = NULL;
    if (cfg->crypto && (cfg->crypto->suite != WEFT_SUITE_V1 || !cfg->crypto->seal ||
                        !cfg->crypto->open || !cfg->crypto->sign || !cfg->crypto->verify))
        return WEFT_EINVAL;
    weft_replica *r = weft__alloc(cfg->alloc, sizeof *r);
    if (!r) return WEFT_ENOMEM;
    memset(r, 0, sizeof *r);
    r->a = cfg->alloc;
    r->format_level = 1;
    memcpy(r->space, cfg->space, 32);
    memcpy(r->author, cfg->author, 32);
    r->crypto = cfg->crypto;
    r->keep_records = cfg->keep_records;
    r->max_pending_bytes = cfg->max_pending_bytes;
    if (cfg->hash_key) {
        memcpy(r->hash_key_buf, cfg->hash_key, 16);
        r->hash_key = r->hash_key_buf;
    }
    r->on_touched = cfg->on_touched;
    r->on_text = cfg->on_text;
    r->ud = cfg->ud;
    weft_log_config lc = {.alloc = r->a,
                          .space = cfg->space,
                          .keep_records = cfg->keep_records,
                          .max_pending_bytes = cfg->max_pending_bytes,
                          .hash_key = r->hash_key};
    int rc = weft_log_new(&r->log, &lc);
    if (rc) {
        weft__free(r->a, r);
        return rc;
    }
    weft__state_init(&r->state, r->a, r->log);
    /* Names and document keys come only from members (they are inside
     * sealed bodies); a secret seed still keeps a hostile member from
     * precomputing collisions for the fast table hash. */
    if (r->hash_key) r->state.seed = weft__siphash(r->hash_key, "state", 5, 1, 3);
    weft__state_text_setup(&r->state, r->author, cfg->text_unit, text_changed, r);
    wbuf *bufs[] = REPLICA_BUFS(r);
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        wbuf_init(bufs[i], r->a);
    *out = r;
    return WEFT_OK;
}

void weft_replica_free(weft_replica *r) {
    if (!r) return;
    const weft_allocator *a = r->a;
    weft__state_free(&r->state);
    weft_log_free(r->log);
    wbuf *bufs[] = REPLICA_BUFS(r);
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        wbuf_free(bufs[i]);
    void *arrays[] = {r->txn_names, r->name_slot,  r->txn_authors, r->txn_recs,   r->dep_seen,
                      r->ops,       r->map_names,  r->map_authors, r->seen_names, r->seen_name_lens,
                      r->txn_slots, r->scr_fields, r->scr_seen,    r->scr_del};
    for (size_t i = 0; i < sizeof arrays / sizeof *arrays; i++)
        weft__free(a, arrays[i]);
    weft__free(a, r);
}

/* Tells the change callback what the last call touched. */
static void notify(weft_replica *r) {
    if (!r->on_touched) return;
    for (size_t i = 0; i < r->state.n_touched; i++) {
        const char *coll, *doc;
        size_t cl, dl;
        weft_replica_touched(r, i, &coll, &cl, &doc, &dl);
        r->on_touched(r->ud, coll, cl, doc, dl);
    }
}

static void text_changed(void *ud, uint32_t doc, uint32_t name, const weft_text_delta *d) {
    weft_replica *r = ud;
    if (!r->on_text) return;
    const wdoc *dd = &r->state.docs[doc];
    size_t cl, fl;
    const uint8_t *coll = weft__state_name_bytes(&r->state, dd->coll, &cl);
    const uint8_t *field = weft__state_name_bytes(&r->state, name, &fl);
    r->on_text(r->ud, (const char *)coll, cl, (const char *)weft__doc_key(&r->state, dd),
               dd->key_len, (const char *)field, fl, d);
}

/* ---- local transactions ---- */

static int valid_name(const char *s, size_t len, size_t max) {
    return s && len >= 1 && len <= max && weft_utf8_valid((const uint8_t *)s, len);
}

/* Validates and interns a name, or finds it in cache slot `which` (0 for
 * collections, 1 for fields). OUT: *state_name. */
static int intern_name(weft_replica *r, int which, const char *s, size_t len,
                       uint32_t *state_name) {
    struct name_cache *nc = &r->recent[which];
    if (len && nc->len == len &&
        weft__bytes_eq((const uint8_t *)nc->bytes, (const uint8_t *)s, len)) {
        *state_name = nc->name;
        return WEFT_OK;
    }
    if (!valid_name(s, len, WEFT_MAX_NAME_BYTES)) return WEFT_EINVAL;
    uint32_t n = weft__state_intern(&r->state, (const uint8_t *)s, len);
    if (n == UINT32_MAX) return WEFT_ENOMEM;
    if (len <= sizeof nc->bytes) {
        memcpy(nc->bytes, s, len);
        nc->len = (uint32_t)len;
        nc->name = n;
    }
    *state_name = n;
    return WEFT_OK;
}

/* The index of state name n in the transaction's name table (added if
 * new). */
static int txn_name_index(weft_replica *r, uint32_t n, uint32_t *index) {
    if (n >= r->cap_name_slot) {
        size_t old = r->cap_name_slot;
        if (weft__grow(r->a, (void **)&r->name_slot, &r->cap_name_slot, (size_t)n + 1,
                       sizeof(uint32_t)))
            return WEFT_ENOMEM;
        memset(r->name_slot + old, 0, (r->cap_name_slot - old) * sizeof(uint32_t));
    }
    if (!r->name_slot[n]) {
        if (weft__grow(r->a, (void **)&r->txn_names, &r->cap_txn_names, r->n_txn_names + 1,
                       sizeof(uint32_t)))
            return WEFT_ENOMEM;
        r->txn_names[r->n_txn_names++] = n;
        r->name_slot[n] = (uint32_t)r->n_txn_names;
    }
    *index = r->name_slot[n] - 1;
    return WEFT_OK;
}

static int txn_open(weft_replica *r) {
    if (r->broken) return WEFT_ENOMEM;
    if (!r->txn_lamport) {
        if (r->clock + 1 >= WEFT_MAX_LAMPORT) return WEFT_ELIMIT;
        r->txn_lamport = r->clock + 1;
    }
    if (r->txn_n >= UINT32_MAX / 2 || r->txn_lamport + r->txn_n + 1 >= WEFT_MAX_LAMPORT)
        return WEFT_ELIMIT;
    return WEFT_OK;
}

/* ---- the transaction's document index: tag -> newest op on it ---- */

static txn_slot *slot_get(weft_replica *r, uint32_t tag, int add) {
    if (!r->cap_txn_slots) return NULL;
    size_t mask = r->cap_txn_slots - 1;
    for (size_t i = (size_t)((tag ^ (tag >> 15)) * 0x2c1b3c6dU) & mask;; i = (i + 1) & mask) {
        txn_slot *sl = &r->txn_slots[i];
        if (sl->gen != r->txn_gen) {
            if (!add) return NULL;
            *sl = (txn_slot){tag, 0, r->txn_gen};
            r->n_txn_slots++;
            return sl;
        }
        if (sl->tag == tag) return sl;
    }
}

/* Makes room for one more tag in the index (rebuilt from the ops when it
 * grows). */
static int slots_reserve(weft_replica *r) {
    if ((r->n_txn_slots + 1) * 2 <= r->cap_txn_slots) return WEFT_OK;
    size_t cap = r->cap_txn_slots ? r->cap_txn_slots * 2 : 64;
    txn_slot *ns = weft__alloc(r->a, cap * sizeof *ns);
    if (!ns) return WEFT_ENOMEM;
    memset(ns, 0, cap * sizeof *ns);
    weft__free(r->a, r->txn_slots);
    r->txn_slots = ns;
    r->cap_txn_slots = cap;
    r->n_txn_slots = 0;
    r->txn_gen = 1;
    for (size_t i = 0; i < r->n_txn_recs; i++)
        slot_get(r, r->txn_recs[i].tag, 1)->last = (uint32_t)i + 1;
    return WEFT_OK;
}

/* Whether op p of the transaction targets document (coll, doc). */
static int rec_on_doc(const weft_replica *r, const txn_rec *p, uint32_t coll, const uint8_t *doc,
                      size_t doc_len) {
    return p->coll == coll && p->doc_len == doc_len &&
           weft__bytes_eq(r->txn_ops.p + p->doc_off, doc, doc_len);
}

/* Encodes an op's target (names interned already), links it into the
 * document index and counts it. The caller appends the op's payload. */
static int txn_emit(weft_replica *r, uint8_t code, uint32_t cname, const char *doc, size_t doc_len,
                    uint32_t tag, uint32_t fname) {
    int rc = txn_open(r);
    if (rc) return rc;
    uint32_t cidx, fidx = 0;
    if ((rc = txn_name_index(r, cname, &cidx))) return rc;
    if (fname != UINT32_MAX && (rc = txn_name_index(r, fname, &fidx))) return rc;
    if (weft__grow(r->a, (void **)&r->txn_recs, &r->cap_txn_recs, r->n_txn_recs + 1,
                   sizeof(txn_rec)) ||
        slots_reserve(r))
        return WEFT_ENOMEM;
    wbuf *b = &r->txn_ops;
    wbuf_u8(b, code);
    wbuf_varint(b, cidx);
    wbuf_varint(b, doc_len);
    size_t doc_off = b->len;
    wbuf_put(b, doc, doc_len);
    if (fname != UINT32_MAX) wbuf_varint(b, fidx);
    if (b->err) return WEFT_ENOMEM;
    txn_slot *sl = slot_get(r, tag, 1);
    r->txn_recs[r->n_txn_recs] =
        (txn_rec){code, 0, cname, fname, doc_off, (uint32_t)doc_len, tag, sl->last};
    sl->last = (uint32_t)++r->n_txn_recs;
    r->txn_n++;
    return WEFT_OK;
}

/* Validates and interns an op's names, then emits its target. */
static int txn_target(weft_replica *r, uint8_t code, const char *coll, size_t coll_len,
                      const char *doc, size_t doc_len, const char *field, size_t field_len) {
    validate_or_ret(coll && valid_name(doc, doc_len, WEFT_MAX_KEY_BYTES), WEFT_EINVAL);
    uint32_t cname, fname = UINT32_MAX;
    int rc = intern_name(r, 0, coll, coll_len, &cname);
    if (!rc && field) rc = intern_name(r, 1, field, field_len, &fname);
    if (rc) return rc;
    uint32_t tag = weft__state_doc_tag(&r->state, cname, (const uint8_t *)doc, doc_len);
    return txn_emit(r, code, cname, doc, doc_len, tag, fname);
}

/* Where a transaction stood before an op (or a batch of them), to undo it. */
typedef struct txn_mark {
    size_t ops, recs, names, authors;
} txn_mark;

static txn_mark txn_mark_now(const weft_replica *r) {
    return (txn_mark){r->txn_ops.len, r->n_txn_recs, r->n_txn_names, r->n_txn_authors};
}

/* Drops every op after the mark, so the transaction stays whole and its
 * change carries no name or author that no op uses. */
static void txn_unwind(weft_replica *r, txn_mark m) {
    r->conflict.upto = 0; /* the ops it vouched for may go */
    while (r->n_txn_recs > m.recs) {
        const txn_rec *t = &r->txn_recs[--r->n_txn_recs];
        txn_slot *sl = slot_get(r, t->tag, 0);
        assert(sl && sl->last == r->n_txn_recs + 1);
        sl->last = t->prev;
    }
    r->txn_n = (uint32_t)m.recs;
    r->txn_ops.err = 0;
    r->txn_ops.len = m.ops;
    while (r->n_txn_names > m.names)
        r->name_slot[r->txn_names[--r->n_txn_names]] = 0;
    r->n_txn_authors = m.authors;
    if (r->txn_n == 0) r->txn_lamport = 0;
}

/* Undoes a half-encoded op after a failure. */
static int txn_finish(weft_replica *r, txn_mark m, int rc) {
    if (rc || r->txn_ops.err) {
        txn_unwind(r, m);
        return rc ? rc : WEFT_ENOMEM;
    }
    return WEFT_OK;
}

int weft_replica_put(weft_replica *r, const char *coll, size_t coll_len, const char *doc,
                     size_t doc_len, const char *field, size_t field_len, const uint8_t *value,
                     size_t value_len) {
    validate_or_ret(r && field, WEFT_EINVAL);
    validate_or_ret(value && weft_value_check(value, value_len) == 0, WEFT_EINVAL);
    txn_mark mark = txn_mark_now(r);
    int rc = txn_target(r, OP_PUT, coll, coll_len, doc, doc_len, field, field_len);
    if (!rc) wbuf_put(&r->txn_ops, value, value_len);
    return txn_finish(r, mark, rc);
}

int weft_replica_delete_field(weft_replica *r, const char *coll, size_t coll_len, const char *doc,
                              size_t doc_len, const char *field, size_t field_len) {
    validate_or_ret(r && field, WEFT_EINVAL);
    txn_mark mark = txn_mark_now(r);
    int rc = txn_target(r, OP_DELETE_FIELD, coll, coll_len, doc, doc_len, field, field_len);
    return txn_finish(r, mark, rc);
}

int weft_replica_delete_doc(weft_replica *r, const char *coll, size_t coll_len, const char *doc,
                            size_t doc_len) {
    validate_or_ret(r, WEFT_EINVAL);
    txn_mark mark = txn_mark_now(r);
    int rc = txn_target(r, OP_DELETE_DOC, coll, coll_len, doc, doc_len, NULL, 0);
    return txn_finish(r, mark, rc);
}

/* The write a counter add on the target just encoded would observe: the
 * newest earlier op of this transaction on that field or document, else the
 * state's winning write. */
static wid txn_observed(weft_replica *r, const txn_rec *t) {
    const uint8_t *doc = r->txn_ops.p + t->doc_off;
    for (uint32_t k = t->prev; k; k = r->txn_recs[k - 1].prev) {
        const txn_rec *p = &r->txn_recs[k - 1];
        if (p->code <= OP_DELETE_FIELD && (p->field == t->field || p->field == UINT32_MAX) &&
            rec_on_doc(r, p, t->coll, doc, t->doc_len)) {
            uint32_t self = weft__log_author(r->log, r->author, 1);
            return (wid){r->txn_lamport + k - 1, self};
        }
    }
    uint32_t d = weft__state_doc_tagged(&r->state, t->coll, doc, t->doc_len, t->tag, 0);
    if (d == UINT32_MAX) return (wid){0, 0};
    return weft__state_observed(&r->state, d, t->field);
}

/* The body's reference to an author: 0 for ourselves, else 1 + its index in
 * the transaction's author table (added if new). UINT32_MAX: no memory. */
static uint32_t txn_author_ref(weft_replica *r, uint32_t author) {
    if (author == WEFT_NO_AUTHOR) return UINT32_MAX; /* registering it ran out of memory */
    if (memcmp(weft__log_author_key(r->log, author), r->author, 32) == 0) return 0;
    size_t k = 0;
    while (k < r->n_txn_authors && r->txn_authors[k] != author)
        k++;
    if (k == r->n_txn_authors) {
        if (weft__grow(r->a, (void **)&r->txn_authors, &r->cap_txn_authors, k + 1,
                       sizeof(uint32_t)))
            return UINT32_MAX;
        r->txn_authors[r->n_txn_authors++] = author;
    }
    return (uint32_t)k + 1;
}

/* Encodes an observed write: varint lamport, then its author's reference. */
static int txn_put_observed(weft_replica *r, wid obs) {
    wbuf_varint(&r->txn_ops, obs.lamport);
    if (!obs.lamport) return WEFT_OK;
    uint32_t ref = txn_author_ref(r, obs.author);
    if (ref == UINT32_MAX) return WEFT_ENOMEM;
    wbuf_varint(&r->txn_ops, ref);
    return WEFT_OK;
}

int weft_replica_counter_add(weft_replica *r, const char *coll, size_t coll_len, const char *doc,
                             size_t doc_len, const char *field, size_t field_len, int64_t delta) {
    validate_or_ret(r && field, WEFT_EINVAL);
    txn_mark mark = txn_mark_now(r);
    int rc = txn_target(r, OP_COUNTER_ADD, coll, coll_len, doc, doc_len, field, field_len);
    if (!rc) {
        wid obs = txn_observed(r, &r->txn_recs[r->n_txn_recs - 1]);
        wbuf_varint(&r->txn_ops, zigzag_enc(delta));
        rc = txn_put_observed(r, obs);
    }
    return txn_finish(r, mark, rc);
}

/* ---- a buffer of ops (weft_replica_write_ops) ---- */

/* Reads a length-prefixed name or key from the buffer; its contents are
 * checked by the caller (WEFT_EINVAL), the framing here. */
static const char *ops_name(wreader *rd, size_t *len) {
    uint64_t n = rd_varint(rd);
    if (rd->err) return NULL;
    if (n > rd_left(rd)) {
        rd_fail(rd, WEFT_ETRUNCATED);
        return NULL;
    }
    *len = (size_t)n;
    return (const char *)rd_take(rd, (size_t)n);
}

/* Reads one value (validated as weft_replica_put does). */
static int ops_value(wreader *rd, weft_value *v, const uint8_t **p, size_t *len) {
    size_t used;
    if (rd->err) return rd->err;
    int rc = weft_value_read(v, &used, rd->p, rd_left(rd));
    if (rc) return rc == WEFT_ETRUNCATED ? rc : WEFT_EINVAL; /* as weft_replica_put */
    *p = rd->p;
    *len = used;
    rd->p += used;
    return WEFT_OK;
}

/* Reads a document's fields (a map value, its field values nesting as deep
 * as a put's) into r->scr_fields. OUT: *n. */
static int ops_fields(weft_replica *r, wreader *rd, size_t *n) {
    if (rd_u8(rd) != WEFT_TYPE_MAP) return rd->err ? rd->err : WEFT_EINVAL;
    uint64_t count = rd_varint(rd);
    if (rd->err) return rd->err;
    if (count > rd_left(rd) / 2) return WEFT_ETRUNCATED; /* each field takes 2 bytes at least */
    if (weft__grow(r->a, (void **)&r->scr_fields, &r->cap_scr_fields, (size_t)count + 1,
                   sizeof *r->scr_fields))
        return WEFT_ENOMEM;
    const char *prev = NULL;
    size_t prev_len = 0;
    for (size_t i = 0; i < count; i++) {
        size_t kl, vl;
        const char *k = ops_name(rd, &kl);
        if (rd->err) return rd->err;
        /* Keys in strictly ascending byte order, as a canonical map's. */
        if (prev) {
            int c = memcmp(prev, k, prev_len < kl ? prev_len : kl);
            if (c > 0 || (c == 0 && prev_len >= kl)) return WEFT_EINVAL;
        }
        prev = k;
        prev_len = kl;
        weft_value v;
        const uint8_t *vp;
        struct ops_field *f = &r->scr_fields[i];
        int rc = intern_name(r, 1, k, kl, &f->name);
        if (!rc) rc = ops_value(rd, &v, &vp, &vl);
        if (rc) return rc;
        f->val = vp;
        f->vlen = (uint32_t)vl;
    }
    *n = (size_t)count;
    return WEFT_OK;
}

static int has_name(const uint32_t *names, size_t n, uint32_t name) {
    for (size_t i = 0; i < n; i++)
        if (names[i] == name) return 1;
    return 0;
}

static int in_fields(const struct ops_field *f, size_t n, uint32_t name) {
    for (size_t i = 0; i < n; i++)
        if (f[i].name == name) return 1;
    return 0;
}

static int add_name(weft_replica *r, uint32_t **arr, size_t *cap, size_t *n, uint32_t name) {
    if (weft__grow(r->a, (void **)arr, cap, *n + 1, sizeof(uint32_t))) return WEFT_ENOMEM;
    (*arr)[(*n)++] = name;
    return WEFT_OK;
}

/* The live fields of a document that a replace with fields f[0..nf) must
 * delete: those that earlier ops of the transaction set (back to the last
 * replace or delete of the document) and, when no such op ended the walk,
 * the state's visible fields. OUT: r->scr_del[0..*n). */
static int replace_deletes(weft_replica *r, uint32_t cname, const uint8_t *doc, size_t doc_len,
                           uint32_t tag, const struct ops_field *f, size_t nf, size_t *n) {
    size_t n_seen = 0;
    int ended = 0;
    *n = 0;
    txn_slot *sl = slot_get(r, tag, 0);
    for (uint32_t k = sl ? sl->last : 0; k && !ended; k = r->txn_recs[k - 1].prev) {
        const txn_rec *p = &r->txn_recs[k - 1];
        if (!rec_on_doc(r, p, cname, doc, doc_len)) continue;
        if (p->code == OP_DELETE_DOC) {
            ended = 1; /* nothing older is live */
            break;
        }
        ended = (p->flags & TXN_REC_REPLACE) != 0;             /* it dealt with everything older */
        if (has_name(r->scr_seen, n_seen, p->field)) continue; /* a newer op decides */
        if (add_name(r, &r->scr_seen, &r->cap_scr_seen, &n_seen, p->field)) return WEFT_ENOMEM;
        if (p->code != OP_DELETE_FIELD && !in_fields(f, nf, p->field) &&
            add_name(r, &r->scr_del, &r->cap_scr_del, n, p->field))
            return WEFT_ENOMEM;
    }
    if (ended) return WEFT_OK;
    weft_state *s = &r->state;
    uint32_t d = weft__state_doc_tagged(s, cname, doc, doc_len, tag, 0);
    if (d == UINT32_MAX) return WEFT_OK;
    const wdoc *dd = &s->docs[d];
    for (uint32_t i = 0; i < dd->n_fields; i++) {
        const wfield *fl = &WEFT_DOC_FIELDS(dd)[i];
        if (!has_name(r->scr_seen, n_seen, fl->name) && !in_fields(f, nf, fl->name) &&
            weft__state_visible(s, dd, fl) &&
            add_name(r, &r->scr_del, &r->cap_scr_del, n, fl->name))
            return WEFT_ENOMEM;
    }
    return WEFT_OK;
}

/* Reads and adds one op of the buffer. */
static int ops_one(weft_replica *r, wreader *rd) {
    uint8_t kind = rd_u8(rd);
    if (kind < WEFT_OPS_PUT || kind > WEFT_OPS_COUNTER_ADD) return WEFT_EMALFORMED;
    size_t cl, dl, fl = 0;
    const char *coll = ops_name(rd, &cl);
    const char *doc = ops_name(rd, &dl);
    const char *field = NULL;
    if (rd->err) return rd->err;
    uint32_t cname, fname = UINT32_MAX;
    int rc = intern_name(r, 0, coll, cl, &cname);
    if (rc) return rc;
    if (!valid_name(doc, dl, WEFT_MAX_KEY_BYTES)) return WEFT_EINVAL;
    uint32_t tag = weft__state_doc_tag(&r->state, cname, (const uint8_t *)doc, dl);
    if (kind == WEFT_OPS_PUT || kind == WEFT_OPS_DELETE_FIELD || kind == WEFT_OPS_COUNTER_ADD) {
        field = ops_name(rd, &fl);
        if (rd->err) return rd->err;
        if ((rc = intern_name(r, 1, field, fl, &fname))) return rc;
    }
    weft_value v;
    const uint8_t *vp;
    size_t vl;
    switch (kind) {
    case WEFT_OPS_PUT:
        if ((rc = ops_value(rd, &v, &vp, &vl))) return rc;
        if ((rc = txn_emit(r, OP_PUT, cname, doc, dl, tag, fname))) return rc;
        wbuf_put(&r->txn_ops, vp, vl);
        return WEFT_OK;
    case WEFT_OPS_DELETE_FIELD:
        return txn_emit(r, OP_DELETE_FIELD, cname, doc, dl, tag, fname);
    case WEFT_OPS_DELETE_DOC:
        return txn_emit(r, OP_DELETE_DOC, cname, doc, dl, tag, UINT32_MAX);
    case WEFT_OPS_COUNTER_ADD:
        if ((rc = ops_value(rd, &v, &vp, &vl))) return rc;
        if (v.type != WEFT_TYPE_INT) return WEFT_EINVAL;
        if ((rc = txn_emit(r, OP_COUNTER_ADD, cname, doc, dl, tag, fname))) return rc;
        wbuf_varint(&r->txn_ops, zigzag_enc(v.i));
        return txn_put_observed(r, txn_observed(r, &r->txn_recs[r->n_txn_recs - 1]));
    default: { /* WEFT_OPS_REPLACE, WEFT_OPS_UPDATE */
        size_t nf, nd = 0;
        if ((rc = ops_fields(r, rd, &nf))) return rc;
        const struct ops_field *f = r->scr_fields;
        if (kind == WEFT_OPS_REPLACE &&
            (rc = replace_deletes(r, cname, (const uint8_t *)doc, dl, tag, f, nf, &nd)))
            return rc;
        size_t start = r->n_txn_recs;
        for (size_t i = 0; i < nd && !rc; i++)
            rc = txn_emit(r, OP_DELETE_FIELD, cname, doc, dl, tag, r->scr_del[i]);
        for (size_t i = 0; i < nf && !rc; i++) {
            rc = txn_emit(r, OP_PUT, cname, doc, dl, tag, f[i].name);
            if (!rc) wbuf_put(&r->txn_ops, f[i].val, f[i].vlen);
        }
        if (!rc && kind == WEFT_OPS_REPLACE && r->n_txn_recs > start)
            r->txn_recs[start].flags |= TXN_REC_REPLACE;
        return rc;
    }
    }
}

int weft_replica_write_ops(weft_replica *r, const uint8_t *ops, size_t len, size_t *failed_op) {
    size_t i = 0;
    if (failed_op) *failed_op = 0;
    validate_or_ret(r && (ops || len == 0), WEFT_EINVAL);
    if (r->broken) return WEFT_ENOMEM;
    txn_mark mark = txn_mark_now(r);
    wreader rd;
    rd_init(&rd, ops, len);
    int rc = WEFT_OK;
    for (; rd_left(&rd) && !rc; i++) {
        rc = ops_one(r, &rd);
        if (!rc && r->txn_ops.err) rc = WEFT_ENOMEM;
    }
    if (rc) {
        i--; /* the op that failed */
        txn_unwind(r, mark);
    }
    if (failed_op) *failed_op = i;
    return rc;
}

/* ---- text fields ---- */

/* An id inside a text op: varint 0 for none, else 1 + the author's
 * reference, then the seq. */
static int txn_put_text_id(weft_replica *r, const uint8_t *key, uint32_t seq) {
    if (!key) {
        wbuf_u8(&r->txn_ops, 0);
        return WEFT_OK;
    }
    uint32_t a = weft__log_author(r->log, key, 1);
    uint32_t ref = a == WEFT_NO_AUTHOR ? UINT32_MAX : txn_author_ref(r, a);
    if (ref == UINT32_MAX) return WEFT_ENOMEM;
    wbuf_varint(&r->txn_ops, (uint64_t)ref + 1);
    wbuf_varint(&r->txn_ops, seq);
    return WEFT_OK;
}

typedef struct text_target {
    const char *coll, *doc, *field;
    size_t coll_len, doc_len, field_len;
} text_target;

/* Moves the text's local edits into the transaction, one op each. */
static int txn_take_text(weft_replica *r, weft_text *t, const text_target *x, wid obs) {
    size_t n = weft__text_local_count(t);
    for (size_t i = 0; i < n; i++) {
        weft_text_op o;
        weft__text_local_op(t, i, &o);
        static const uint8_t codes[] = {0, OP_TEXT_INSERT, OP_TEXT_DELETE, OP_MARK_ADD,
                                        OP_MARK_REMOVE};
        uint8_t code = codes[o.kind];
        txn_mark mark = txn_mark_now(r);
        int rc =
            txn_target(r, code, x->coll, x->coll_len, x->doc, x->doc_len, x->field, x->field_len);
        if (!rc) r->txn_recs[r->n_txn_recs - 1].flags |= TXN_REC_TEXT;
        if (!rc) rc = txn_put_observed(r, obs);
        if (!rc && code == OP_TEXT_INSERT) {
            wbuf_varint(&r->txn_ops, o.seq); /* the ids are the change author's */
            rc = txn_put_text_id(r, o.left, o.left_seq);
            if (!rc) rc = txn_put_text_id(r, o.right, o.right_seq);
            wbuf_lbytes(&r->txn_ops, o.text, o.nbytes);
        } else if (!rc && code >= OP_MARK_ADD) {
            wbuf_varint(&r->txn_ops, o.lamport); /* the op's author is the change's */
            wbuf_u8(&r->txn_ops, o.sides);
            rc = txn_put_text_id(r, o.left, o.left_seq);
            if (!rc) rc = txn_put_text_id(r, o.right, o.right_seq);
            wbuf_lbytes(&r->txn_ops, o.text, o.nbytes);
            if (code == OP_MARK_ADD) wbuf_put(&r->txn_ops, o.value, o.value_len);
        } else if (!rc) {
            rc = txn_put_text_id(r, o.author, o.seq);
            wbuf_varint(&r->txn_ops, o.len);
        }
        if ((rc = txn_finish(r, mark, rc))) {
            r->broken = 1; /* the text holds edits no change will carry */
            return rc;
        }
        r->txn_text = 1;
    }
    weft__text_local_clear(t);
    return WEFT_OK;
}

/* Units of a string in the replica's unit, and whether `pos` falls on a
 * character boundary in it. */
static int unit_boundary(const uint8_t *s, size_t n, int utf16, size_t pos, size_t *units) {
    size_t u = 0, ok = pos == 0;
    for (size_t i = 0; i < n; i++) {
        if ((s[i] & 0xc0) == 0x80) continue;
        u += utf16 && s[i] >= 0xf0 ? 2 : 1;
        ok |= u == pos;
    }
    *units = u;
    return (int)ok;
}
/* Whether the open transaction already writes the field (other than by
 * text ops) or deletes its document: a text edit cannot join it then, as
 * the change would apply the edit to a text those ops replace. */
static int txn_conflicts(weft_replica *r, uint32_t cname, const char *doc, size_t doc_len,
                         uint32_t fname) {
    uint32_t tag = weft__state_doc_tag(&r->state, cname, (const uint8_t *)doc, doc_len);
    txn_slot *sl = slot_get(r, tag, 0);
    /* Edits in a row on one field (a list filled in one transaction) look
     * only at the ops added since the last check found none. */
    struct conflict_cache *cc = &r->conflict;
    uint32_t stop = cc->upto && cc->upto <= r->n_txn_recs && cc->coll == cname &&
                            cc->field == fname && cc->doc_len == doc_len &&
                            memcmp(cc->doc, doc, doc_len) == 0
                        ? cc->upto
                        : 0;
    for (uint32_t k = sl ? sl->last : 0; k > stop; k = r->txn_recs[k - 1].prev) {
        const txn_rec *p = &r->txn_recs[k - 1];
        if (rec_on_doc(r, p, cname, (const uint8_t *)doc, doc_len) &&
            (p->code == OP_DELETE_DOC || (p->field == fname && !(p->flags & TXN_REC_TEXT))))
            return 1;
    }
    if (doc_len <= sizeof cc->doc) {
        *cc = (struct conflict_cache){
            .coll = cname, .field = fname, .doc_len = doc_len, .upto = (uint32_t)r->n_txn_recs};
        memcpy(cc->doc, doc, doc_len);
    }
    return 0;
}

/* A text edit (weft_replica_text_splice with join 0, weft_replica_text_edit
 * with join 1). */
static int text_edit(weft_replica *r, const char *coll, size_t coll_len, const char *doc,
                     size_t doc_len, const char *field, size_t field_len, size_t pos,
                     size_t deleted, const char *utf8, size_t len, int join,
                     const weft_text_anchor *at, uint64_t wall_ms, const uint8_t **record,
                     size_t *rec_len) {
    validate_or_ret(r && record && rec_len && (utf8 || !len) && (!at || !deleted), WEFT_EINVAL);
    *record = NULL;
    *rec_len = 0;
    validate_or_ret(valid_name(coll, coll_len, WEFT_MAX_NAME_BYTES) &&
                        valid_name(doc, doc_len, WEFT_MAX_KEY_BYTES) &&
                        valid_name(field, field_len, WEFT_MAX_NAME_BYTES),
                    WEFT_EINVAL);
    if (r->broken) return WEFT_ENOMEM;
    if (!join && r->txn_n) return WEFT_ESTATE;
    if (!weft_utf8_valid((const uint8_t *)utf8, len)) return WEFT_EMALFORMED;
    if (r->crypto && !r->signs) {
        /* The text changes before its change is signed: a replica that
         * cannot sign (a reader) must refuse before that. Probed once. */
        uint8_t sig[WEFT_SIG_BYTES];
        if (r->crypto->sign(r->crypto->ctx, sig, (const uint8_t *)"", 0)) return WEFT_ECRYPTO;
        r->signs = 1;
    }
    weft_state *s = &r->state;
    uint32_t cn = weft__state_intern(s, (const uint8_t *)coll, coll_len);
    uint32_t fn = weft__state_intern(s, (const uint8_t *)field, field_len);
    if (cn == UINT32_MAX || fn == UINT32_MAX) return WEFT_ENOMEM;
    if (r->txn_n && txn_conflicts(r, cn, doc, doc_len, fn)) return WEFT_ESTATE;
    uint32_t d = weft__state_doc(s, cn, (const uint8_t *)doc, doc_len, 1);
    if (d == UINT32_MAX) return WEFT_ENOMEM;
    const wfield *f = weft__state_field(s, &s->docs[d], fn);
    weft_value old = {0};
    if (at && (!f || !weft__state_field_text(s, f))) return WEFT_ENOTFOUND; /* no text to hold it */
    if (f && f->vlen) { /* a put wins: a string becomes text, in this change */
        const uint8_t *val = f->vlen > sizeof f->v.inl ? f->v.heap : f->v.inl;
        if (weft_value_read(&old, NULL, val, f->vlen) || old.type != WEFT_TYPE_STRING)
            return WEFT_EINVAL;
        size_t units;
        int utf16 = s->unit == WEFT_TEXT_UTF16;
        validate_or_ret(unit_boundary(old.ptr, old.len, utf16, pos, &units) && pos <= units &&
                            deleted <= units - pos &&
                            unit_boundary(old.ptr, old.len, utf16, pos + deleted, &units),
                        WEFT_EINVAL);
    } else if (!deleted && !len) {
        return WEFT_OK; /* nothing to change */
    } else if (f && weft__state_field_list(s, f)) {
        return WEFT_EINVAL; /* a list: edit it with weft_replica_list_edit */
    } else if (!f || !weft__state_field_text(s, f)) {
        validate_or_ret(pos == 0 && deleted == 0, WEFT_EINVAL); /* empty so far */
    }
    text_target x = {coll, doc, field, coll_len, doc_len, field_len};
    wid obs = weft__state_observed(s, d, fn);
    txn_mark mark = txn_mark_now(r);
    int rc = WEFT_OK;
    if (old.type == WEFT_TYPE_STRING) {
        rc = txn_finish(
            r, mark,
            txn_target(r, OP_DELETE_FIELD, coll, coll_len, doc, doc_len, field, field_len));
        if (rc) return rc;
        r->txn_recs[r->n_txn_recs - 1].flags |= TXN_REC_TEXT;
        obs = (wid){r->txn_lamport + r->n_txn_recs - 1, weft__log_author(r->log, r->author, 1)};
    }
    weft_text *t;
    if (!rc) rc = weft__state_text_for(s, d, fn, obs, &t);
    if (!rc && old.type == WEFT_TYPE_STRING)
        rc = weft_text_insert(t, 0, (const char *)old.ptr, old.len);
    if (rc) { /* nothing was edited yet */
        txn_unwind(r, mark);
        return rc;
    }
    if (at) {
        rc = weft_text_insert_before(t, at, utf8, len);
    } else {
        rc = weft_text_delete(t, pos, deleted);
        if (!rc) rc = weft_text_insert(t, pos, utf8, len);
    }
    /* Whatever was edited must reach a change, errors or not. */
    int trc = txn_take_text(r, t, &x, obs);
    if (trc) return trc;
    /* A string turned into text is a text only once its change merged (it
     * waits for the delete in it): commit it at once so reads see it. */
    if (!r->txn_n || (join && old.type != WEFT_TYPE_STRING)) return rc;
    int crc = weft_replica_commit(r, wall_ms, record, rec_len);
    return crc ? crc : rc;
}

int weft_replica_text_splice(weft_replica *r, const char *coll, size_t coll_len, const char *doc,
                             size_t doc_len, const char *field, size_t field_len, size_t pos,
                             size_t deleted, const char *utf8, size_t len, uint64_t wall_ms,
                             const uint8_t **record, size_t *rec_len) {
    return text_edit(r, coll, coll_len, doc, doc_len, field, field_len, pos, deleted, utf8, len, 0,
                     NULL, wall_ms, record, rec_len);
}

int weft_replica_text_edit(weft_replica *r, const char *coll, size_t coll_len, const char *doc,
                           size_t doc_len, const char *field, size_t field_len, size_t pos,
                           size_t deleted, const char *utf8, size_t len, uint64_t wall_ms,
                           const uint8_t **record, size_t *rec_len) {
    return text_edit(r, coll, coll_len, doc, doc_len, field, field_len, pos, deleted, utf8, len, 1,
                     NULL, wall_ms, record, rec_len);
}

int weft_replica_text_insert_before(weft_replica *r, const char *coll, size_t coll_len,
                                    const char *doc, size_t doc_len, const char *field,
                                    size_t field_len, const weft_text_anchor *at, const char *utf8,
                                    size_t len, uint64_t wall_ms, const uint8_t **record,
                                    size_t *rec_len) {
    validate_or_ret(at, WEFT_EINVAL);
    return text_edit(r, coll, coll_len, doc, doc_len, field, field_len, 0, 0, utf8, len, 1, at,
                     wall_ms, record, rec_len);
}

int weft_replica_text_format(weft_replica *r, const char *coll, size_t coll_len, const char *doc,
                             size_t doc_len, const char *field, size_t field_len, size_t pos,
                             size_t len, const char *type, size_t type_len, const uint8_t *value,
                             size_t value_len, int join, uint64_t wall_ms, const uint8_t **record,
                             size_t *rec_len) {
    validate_or_ret(r && record && rec_len && type, WEFT_EINVAL);
    *record = NULL;
    *rec_len = 0;
    validate_or_ret(valid_name(coll, coll_len, WEFT_MAX_NAME_BYTES) &&
                        valid_name(doc, doc_len, WEFT_MAX_KEY_BYTES) &&
                        valid_name(field, field_len, WEFT_MAX_NAME_BYTES),
                    WEFT_EINVAL);
    if (value) { /* one canonical value, nothing after it */
        wreader rd;
        rd_init(&rd, value, value_len);
        weft__value_skip_nested(&rd);
        validate_or_ret(!rd.err && !rd_left(&rd) && value_len <= WEFT_MARK_MAX_VALUE, WEFT_EINVAL);
    }
    if (r->broken) return WEFT_ENOMEM;
    if (weft__op_level(OP_MARK_ADD) > r->format_level) return WEFT_EVERSION;
    if (!join && r->txn_n) return WEFT_ESTATE;
    if (r->crypto && !r->signs) { /* as text_edit: refuse before the text changes */
        uint8_t sig[WEFT_SIG_BYTES];
        if (r->crypto->sign(r->crypto->ctx, sig, (const uint8_t *)"", 0)) return WEFT_ECRYPTO;
        r->signs = 1;
    }
    weft_state *s = &r->state;
    uint32_t cn = weft__state_name(s, (const uint8_t *)coll, coll_len);
    uint32_t fn = weft__state_name(s, (const uint8_t *)field, field_len);
    uint32_t d = cn == UINT32_MAX || fn == UINT32_MAX
                     ? UINT32_MAX
                     : weft__state_doc(s, cn, (const uint8_t *)doc, doc_len, 0);
    const wfield *f = d == UINT32_MAX ? NULL : weft__state_field(s, &s->docs[d], fn);
    if (!f || !weft__state_field_text(s, f)) return WEFT_ENOTFOUND;
    if (r->txn_n && txn_conflicts(r, cn, doc, doc_len, fn)) return WEFT_ESTATE;
    wid obs = weft__state_observed(s, d, fn);
    weft_text *t;
    int rc = weft__state_text_for(s, d, fn, obs, &t);
    if (rc) return rc;
    rc = weft_text_format(t, pos, len, type, type_len, value, value_len);
    if (rc) return rc;
    text_target x = {coll, doc, field, coll_len, doc_len, field_len};
    rc = txn_take_text(r, t, &x, obs);
    if (rc || join) return rc;
    return weft_replica_commit(r, wall_ms, record, rec_len);
}

/* A field of a document for reading, or NULL (no such name, document or
 * field). */
static const wfield *read_field(weft_replica *r, const char *coll, size_t coll_len, const char *doc,
                                size_t doc_len, const char *field, size_t field_len) {
    weft_state *s = &r->state;
    uint32_t cn = weft__state_name(s, (const uint8_t *)coll, coll_len);
    uint32_t fn = weft__state_name(s, (const uint8_t *)field, field_len);
    uint32_t d = cn == UINT32_MAX || fn == UINT32_MAX
                     ? UINT32_MAX
                     : weft__state_doc(s, cn, (const uint8_t *)doc, doc_len, 0);
    return d == UINT32_MAX ? NULL : weft__state_field(s, &s->docs[d], fn);
}

/* The visible text of a field, or NULL (not a text, or no such field). */
static const weft_text *field_text(weft_replica *r, const char *coll, size_t coll_len,
                                   const char *doc, size_t doc_len, const char *field,
                                   size_t field_len) {
    const wfield *f = read_field(r, coll, coll_len, doc, doc_len, field, field_len);
    return f ? weft__state_field_text(&r->state, f) : NULL;
}

int weft_replica_text_length(weft_replica *r, const char *coll, size_t coll_len, const char *doc,
                             size_t doc_len, const char *field, size_t field_len, size_t *length) {
    validate_or_ret(r && coll && doc && field && length, WEFT_EINVAL);
    const weft_text *t = field_text(r, coll, coll_len, doc, doc_len, field, field_len);
    if (!t) return WEFT_ENOTFOUND;
    *length = weft_text_length(t);
    return WEFT_OK;
}

/* ---- list fields ---- */

/* Writes a list op into the transaction and applies it to the list (the
 * list shows it at once, as a text shows its edits). `item` NULL for an
 * insert; `left`/`right` for inserts and moves; `val` for inserts and sets. */
static int list_emit(weft_replica *r, wlist *l, const text_target *x, wid obs, uint8_t code,
                     const uint8_t *item, uint32_t item_seq, uint32_t seq, const uint8_t *left,
                     uint32_t left_seq, const uint8_t *right, uint32_t right_seq,
                     const uint8_t *val, size_t vlen) {
    txn_mark mark = txn_mark_now(r);
    int rc = txn_target(r, code, x->coll, x->coll_len, x->doc, x->doc_len, x->field, x->field_len);
    if (!rc) r->txn_recs[r->n_txn_recs - 1].flags |= TXN_REC_TEXT;
    if (!rc) rc = txn_put_observed(r, obs);
    if (!rc && item) rc = txn_put_text_id(r, item, item_seq);
    if (!rc && (code == OP_LIST_INSERT || code == OP_LIST_MOVE)) {
        wbuf_varint(&r->txn_ops, seq);
        rc = txn_put_text_id(r, left, left_seq);
        if (!rc) rc = txn_put_text_id(r, right, right_seq);
    }
    if (!rc && val) wbuf_put(&r->txn_ops, val, vlen);
    if ((rc = txn_finish(r, mark, rc))) return rc;
    static const uint8_t kinds[] = {[OP_LIST_INSERT] = WLIST_INSERT,
                                    [OP_LIST_DELETE] = WLIST_DELETE,
                                    [OP_LIST_MOVE] = WLIST_MOVE,
                                    [OP_LIST_SET] = WLIST_SET};
    wlist_op o = {.kind = kinds[code],
                  .author = r->author,
                  .lamport = r->txn_lamport + r->n_txn_recs - 1,
                  .seq = seq,
                  .item = item,
                  .item_seq = item_seq,
                  .left = left,
                  .left_seq = left_seq,
                  .right = right,
                  .right_seq = right_seq,
                  .val = val,
                  .vlen = (uint32_t)vlen};
    r->txn_text = 1; /* in the list now: the transaction must be committed */
    rc = weft__list_apply(l, &o);
    if (rc) r->broken = 1;
    return rc;
}

/* Places an entry (an insert at `to`, or a move of `from` to `to`) and
 * writes its op. The origins' keys are copied: the list may move them. */
static int list_place_emit(weft_replica *r, wlist *l, const text_target *x, wid obs, uint8_t code,
                           const uint8_t *item, uint32_t item_seq, size_t from, size_t to,
                           const uint8_t *val, size_t vlen) {
    uint32_t seq, lseq, rseq;
    const uint8_t *lk, *rk;
    uint8_t left[32], right[32];
    int rc = weft__list_place(l, from, to, &seq, &lk, &lseq, &rk, &rseq);
    if (rc) return rc;
    if (lk) memcpy(left, lk, 32);
    if (rk) memcpy(right, rk, 32);
    rc = list_emit(r, l, x, obs, code, item, item_seq, seq, lk ? left : NULL, lseq,
                   rk ? right : NULL, rseq, val, vlen);
    if (rc) r->broken = 1; /* the entry is placed: no change will carry it */
    return rc;
}

/* Inserts each element of an array value (an array field turning into a
 * list) at the list's end. */
static int list_fill(weft_replica *r, wlist *l, const text_target *x, wid obs,
                     const weft_value *arr) {
    wreader rd;
    rd_init(&rd, arr->ptr, arr->len);
    for (uint64_t i = 0; i < arr->count; i++) {
        const uint8_t *v = rd.p;
        weft__value_skip(&rd);
        if (rd.err) return WEFT_EINVAL;
        int rc = list_place_emit(r, l, x, obs, OP_LIST_INSERT, NULL, 0, SIZE_MAX, (size_t)i, v,
                                 (size_t)(rd.p - v));
        if (rc) return rc;
    }
    return WEFT_OK;
}

int weft_replica_list_edit(weft_replica *r, const char *coll, size_t coll_len, const char *doc,
                           size_t doc_len, const char *field, size_t field_len,
                           weft_list_edit_kind kind, size_t index, size_t to, const uint8_t *value,
                           size_t value_len, int join, uint64_t wall_ms, const uint8_t **record,
                           size_t *rec_len) {
    validate_or_ret(r && record && rec_len, WEFT_EINVAL);
    *record = NULL;
    *rec_len = 0;
    validate_or_ret(kind >= WEFT_LIST_INSERT && kind <= WEFT_LIST_SET, WEFT_EINVAL);
    int has_value = kind == WEFT_LIST_INSERT || kind == WEFT_LIST_SET;
    validate_or_ret(!has_value || (value && weft_value_check(value, value_len) == 0), WEFT_EINVAL);
    if (has_value) { /* one level less than a field: the list is an array of them */
        wreader vr;
        rd_init(&vr, value, value_len);
        weft__value_skip_nested(&vr);
        validate_or_ret(!vr.err, WEFT_EINVAL);
    }
    validate_or_ret(valid_name(coll, coll_len, WEFT_MAX_NAME_BYTES) &&
                        valid_name(doc, doc_len, WEFT_MAX_KEY_BYTES) &&
                        valid_name(field, field_len, WEFT_MAX_NAME_BYTES),
                    WEFT_EINVAL);
    if (r->broken) return WEFT_ENOMEM;
    if (!join && r->txn_n) return WEFT_ESTATE;
    if (weft__op_level(OP_LIST_INSERT) > r->format_level) return WEFT_EVERSION;
    if (r->crypto && !r->signs) { /* as text_edit: refuse before the list changes */
        uint8_t sig[WEFT_SIG_BYTES];
        if (r->crypto->sign(r->crypto->ctx, sig, (const uint8_t *)"", 0)) return WEFT_ECRYPTO;
        r->signs = 1;
    }
    weft_state *s = &r->state;
    uint32_t cn = weft__state_intern(s, (const uint8_t *)coll, coll_len);
    uint32_t fn = weft__state_intern(s, (const uint8_t *)field, field_len);
    if (cn == UINT32_MAX || fn == UINT32_MAX) return WEFT_ENOMEM;
    if (r->txn_n && txn_conflicts(r, cn, doc, doc_len, fn)) return WEFT_ESTATE;
    uint32_t d = weft__state_doc(s, cn, (const uint8_t *)doc, doc_len, 1);
    if (d == UINT32_MAX) return WEFT_ENOMEM;
    const wfield *f = weft__state_field(s, &s->docs[d], fn);
    weft_value old = {0};
    wlist *l = f ? weft__state_field_list(s, f) : NULL;
    size_t n = l ? weft__list_length(l) : 0;
    if (f && f->vlen) { /* an array put: it becomes a list, in this change */
        const uint8_t *val = f->vlen > sizeof f->v.inl ? f->v.heap : f->v.inl;
        if (weft_value_read(&old, NULL, val, f->vlen) || old.type != WEFT_TYPE_ARRAY)
            return WEFT_ENOTLIST;
        n = (size_t)old.count;
    } else if (!l && f && weft__state_field_text(s, f)) {
        return WEFT_ENOTLIST; /* a text */
    }
    if (kind == WEFT_LIST_INSERT ? index > n : index >= n) return WEFT_ENOITEM;
    if (kind == WEFT_LIST_MOVE && to >= n) return WEFT_ENOITEM;
    text_target x = {coll, doc, field, coll_len, doc_len, field_len};
    wid obs = weft__state_observed(s, d, fn);
    txn_mark mark = txn_mark_now(r);
    int rc = WEFT_OK;
    if (old.type == WEFT_TYPE_ARRAY) {
        rc = txn_finish(
            r, mark,
            txn_target(r, OP_DELETE_FIELD, coll, coll_len, doc, doc_len, field, field_len));
        if (rc) return rc;
        r->txn_recs[r->n_txn_recs - 1].flags |= TXN_REC_TEXT;
        obs = (wid){r->txn_lamport + r->n_txn_recs - 1, weft__log_author(r->log, r->author, 1)};
        rc = weft__state_list_for(s, d, fn, obs, &l);
        if (!rc && !l) rc = WEFT_ENOTLIST;
        if (rc) {
            txn_unwind(r, mark);
            return rc;
        }
        if ((rc = list_fill(r, l, &x, obs, &old))) return rc;
    } else if (!l) {
        rc = weft__state_list_for(s, d, fn, obs, &l);
        if (!rc && !l) rc = WEFT_ENOTLIST;
        if (rc) return rc;
    }
    const uint8_t *ik = NULL;
    uint32_t iseq = 0;
    uint8_t item[32];
    if (kind != WEFT_LIST_INSERT) {
        weft__list_item_at(l, index, &ik, &iseq);
        memcpy(item, ik, 32);
    }
    switch (kind) {
    case WEFT_LIST_INSERT:
        rc = list_place_emit(r, l, &x, obs, OP_LIST_INSERT, NULL, 0, SIZE_MAX, index, value,
                             value_len);
        break;
    case WEFT_LIST_MOVE:
        if (index == to) break; /* nothing moves */
        rc = list_place_emit(r, l, &x, obs, OP_LIST_MOVE, item, iseq, index, to, NULL, 0);
        break;
    case WEFT_LIST_DELETE:
        rc = list_emit(r, l, &x, obs, OP_LIST_DELETE, item, iseq, 0, NULL, 0, NULL, 0, NULL, 0);
        break;
    case WEFT_LIST_SET:
        rc = list_emit(r, l, &x, obs, OP_LIST_SET, item, iseq, 0, NULL, 0, NULL, 0, value,
                       value_len);
        break;
    }
    if (rc) return rc;
    /* An array turned into a list is a list only once its change merged
     * (it waits for the delete in it): commit at once so reads see it. */
    if (!r->txn_n || (join && old.type != WEFT_TYPE_ARRAY)) return WEFT_OK;
    return weft_replica_commit(r, wall_ms, record, rec_len);
}

/* The field's list for reading, or NULL. */
static wlist *read_list(weft_replica *r, const char *coll, size_t coll_len, const char *doc,
                        size_t doc_len, const char *field, size_t field_len) {
    const wfield *f = read_field(r, coll, coll_len, doc, doc_len, field, field_len);
    return f ? weft__state_field_list(&r->state, f) : NULL;
}

int weft_replica_list_length(weft_replica *r, const char *coll, size_t coll_len, const char *doc,
                             size_t doc_len, const char *field, size_t field_len, size_t *length) {
    validate_or_ret(r && coll && doc && field && length, WEFT_EINVAL);
    const wlist *l = read_list(r, coll, coll_len, doc, doc_len, field, field_len);
    if (!l) return WEFT_ENOTFOUND;
    *length = weft__list_length(l);
    return WEFT_OK;
}

static int put_item(void *ctx, const uint8_t *key, uint32_t seq, const uint8_t *val, size_t vlen) {
    wbuf *b = ctx;
    wbuf_put(b, key, 32);
    wbuf_varint(b, seq);
    wbuf_put(b, val, vlen);
    return 0;
}

int weft_replica_list_items(weft_replica *r, const char *coll, size_t coll_len, const char *doc,
                            size_t doc_len, const char *field, size_t field_len,
                            const uint8_t **items, size_t *len) {
    validate_or_ret(r && coll && doc && field && items && len, WEFT_EINVAL);
    const wlist *l = read_list(r, coll, coll_len, doc, doc_len, field, field_len);
    if (!l) return WEFT_ENOTFOUND;
    wbuf *b = &r->state.textval;
    b->len = 0;
    wbuf_varint(b, weft__list_length(l));
    weft__list_each(l, put_item, b);
    if (b->err) {
        b->err = 0;
        return WEFT_ENOMEM;
    }
    *items = b->p;
    *len = b->len;
    return WEFT_OK;
}

int weft_replica_text_anchor(weft_replica *r, const char *coll, size_t coll_len, const char *doc,
                             size_t doc_len, const char *field, size_t field_len, size_t pos,
                             int32_t assoc, weft_text_anchor *out) {
    validate_or_ret(r && coll && doc && field && out, WEFT_EINVAL);
    const weft_text *t = field_text(r, coll, coll_len, doc, doc_len, field, field_len);
    if (!t) return WEFT_ENOTFOUND;
    return weft_text_anchor_at(t, pos, assoc, out);
}

int weft_replica_text_spans(weft_replica *r, const char *coll, size_t coll_len, const char *doc,
                            size_t doc_len, const char *field, size_t field_len,
                            weft_text_span_fn fn, void *ud) {
    validate_or_ret(r && coll && doc && field && fn, WEFT_EINVAL);
    const weft_text *t = field_text(r, coll, coll_len, doc, doc_len, field, field_len);
    if (!t) return WEFT_ENOTFOUND;
    return weft_text_spans(t, fn, ud);
}

int weft_replica_text_resolve(weft_replica *r, const char *coll, size_t coll_len, const char *doc,
                              size_t doc_len, const char *field, size_t field_len,
                              const weft_text_anchor *a, size_t *pos) {
    validate_or_ret(r && coll && doc && field && a && pos, WEFT_EINVAL);
    const weft_text *t = field_text(r, coll, coll_len, doc, doc_len, field, field_len);
    if (!t) return WEFT_ENOTFOUND;
    return weft_text_anchor_resolve(t, a, pos);
}

size_t weft_replica_txn_ops(const weft_replica *r) {
    return r ? r->txn_n : 0;
}

static void txn_clear(weft_replica *r) {
    r->conflict.upto = 0;
    for (size_t i = 0; i < r->n_txn_names; i++)
        r->name_slot[r->txn_names[i]] = 0;
    r->n_txn_names = 0;
    r->n_txn_authors = 0;
    r->n_txn_recs = 0;
    r->txn_ops.len = 0;
    r->txn_n = 0;
    r->txn_lamport = 0;
    r->txn_text = 0;
    r->n_txn_slots = 0;
    if (++r->txn_gen == 0 && r->txn_slots) { /* wrapped: old slots could look current */
        memset(r->txn_slots, 0, r->cap_txn_slots * sizeof *r->txn_slots);
        r->txn_gen = 1;
    }
}

int weft_replica_rollback(weft_replica *r) {
    if (!r) return WEFT_OK;
    if (r->txn_text) return WEFT_ESTATE; /* the text shows the edits already */
    txn_clear(r);
    return WEFT_OK;
}

/* Appends the body (name table, author table, ops) to b. */
static void encode_body(weft_replica *r, wbuf *b) {
    wbuf_varint(b, r->n_txn_names);
    for (size_t i = 0; i < r->n_txn_names; i++) {
        size_t len;
        const uint8_t *p = weft__state_name_bytes(&r->state, r->txn_names[i], &len);
        wbuf_lbytes(b, p, len);
    }
    wbuf_varint(b, r->n_txn_authors);
    for (size_t i = 0; i < r->n_txn_authors; i++)
        wbuf_put(b, weft__log_author_key(r->log, r->txn_authors[i]), 32);
    wbuf_varint(b, r->txn_n);
    wbuf_put(b, r->txn_ops.p, r->txn_ops.len);
}

/* The format level that introduced each op code (docs/FORMAT.md §10). A
 * new code gets the level it is allocated at, so that no replica writes
 * it into a space whose members may not all read it. */
static const uint8_t op_level[] = {
    [OP_PUT] = 1,
    [OP_DELETE_DOC] = 1,
    [OP_DELETE_FIELD] = 1,
    [OP_COUNTER_ADD] = 1,
    [OP_TEXT_INSERT] = 1,
    [OP_TEXT_DELETE] = 1,
    [OP_LIST_INSERT] = WEFT_LEVEL_LISTS,
    [OP_LIST_DELETE] = WEFT_LEVEL_LISTS,
    [OP_LIST_MOVE] = WEFT_LEVEL_LISTS,
    [OP_LIST_SET] = WEFT_LEVEL_LISTS,
    [OP_MARK_ADD] = WEFT_LEVEL_MARKS,
    [OP_MARK_REMOVE] = WEFT_LEVEL_MARKS,
};

uint32_t weft__op_level(uint8_t code) {
    return code < sizeof op_level && op_level[code] ? op_level[code] : UINT32_MAX;
}

int weft_replica_set_format_level(weft_replica *r, uint32_t level) {
    validate_or_ret(r && level >= 1, WEFT_EINVAL);
    if (level > WEFT_FORMAT_LEVEL) return WEFT_EVERSION;
    if (level > r->format_level) r->format_level = level;
    return 0;
}

uint32_t weft_replica_format_level(const weft_replica *r) {
    return r ? r->format_level : 1;
}

/* Encodes the open transaction's body into r->plain (the commit seals it
 * from there) and says whether the
 * record it makes (header_len bytes of header, then the body, its length,
 * the seal and the signature) would exceed WEFT_MAX_COMMIT_BYTES. */
static int too_big_to_commit(weft_replica *r, size_t header_len) {
    wbuf *body = &r->plain;
    body->len = 0;
    encode_body(r, body);
    size_t overhead = 10 + (r->crypto ? r->crypto->seal_overhead + WEFT_SIG_BYTES : 0);
    return !body->err && header_len + body->len + overhead > WEFT_MAX_COMMIT_BYTES;
}

int weft_replica_commit(weft_replica *r, uint64_t wall_ms, const uint8_t **record, size_t *len) {
    validate_or_ret(r && record && len, WEFT_EINVAL);
    if (r->broken) return WEFT_ENOMEM;
    if (!r->txn_n) return WEFT_ESTATE;
    /* Members at the space's level must read every change: an op above it
     * would stall them behind this author's chain for good. */
    for (size_t i = 0; i < r->n_txn_recs; i++)
        if (weft__op_level(r->txn_recs[i].code) > r->format_level) return WEFT_EVERSION;
    uint32_t self = weft__log_author(r->log, r->author, 1);
    if (self == WEFT_NO_AUTHOR) return WEFT_ENOMEM;
    uint64_t seq = weft__log_author_seq(r->log, self) + 1;
    uint32_t n_authors;
    const uint32_t *sorted = weft__log_sorted_authors(r->log, &n_authors);
    size_t old = r->cap_dep_seen;
    if (!sorted ||
        weft__grow(r->a, (void **)&r->dep_seen, &r->cap_dep_seen, n_authors + 1, sizeof(uint64_t)))
        return WEFT_ENOMEM;
    memset(r->dep_seen + old, 0, (r->cap_dep_seen - old) * sizeof(uint64_t));

    wbuf *b = &r->out;
    b->len = 0;
    b->err = 0;
    uint8_t head[3] = {WEFT_FORMAT_VERSION, WEFT_RECORD_CHANGE,
                       r->crypto ? WEFT_SUITE_V1 : WEFT_SUITE_PLAIN};
    wbuf_put(b, head, 3);
    wbuf_put(b, r->space, 32);
    wbuf_put(b, r->author, 32);
    wbuf_varint(b, seq);
    wbuf_varint(b, r->txn_lamport);
    wbuf_varint(b, r->txn_n);
    wbuf_varint(b, wall_ms);
    wbuf_put(b, weft__log_author_hash(r->log, self), 32);
    /* Deps: each other author whose head moved since our last change. Our
     * own previous change is implied by seq - 1. */
    uint32_t n_deps = 0;
    for (uint32_t k = 0; k < n_authors; k++) {
        uint32_t ai = sorted[k];
        if (ai != self && weft__log_author_seq(r->log, ai) > r->dep_seen[ai]) n_deps++;
    }
    wbuf_varint(b, n_deps);
    for (uint32_t k = 0; k < n_authors; k++) {
        uint32_t ai = sorted[k];
        uint64_t s = weft__log_author_seq(r->log, ai);
        if (ai == self || s <= r->dep_seen[ai]) continue;
        wbuf_put(b, weft__log_author_key(r->log, ai), 32);
        wbuf_varint(b, s);
    }
    size_t header_len = b->len;
    int rc = WEFT_OK;
    /* A change no relay would take stalls its author's chain for good:
     * refuse it before it exists (the transaction stays open). */
    if (too_big_to_commit(r, header_len)) {
        if (r->crypto) weft__wipe(r->plain.p, r->plain.len);
        b->len = 0;
        return WEFT_ECHANGE_TOO_BIG;
    }
    wbuf *body = &r->plain; /* encoded by too_big_to_commit */
    if (!r->crypto) {
        if (body->err) rc = WEFT_ENOMEM;
        wbuf_lbytes(b, body->p, body->len);
    } else {
        size_t ct_len = body->len + r->crypto->seal_overhead;
        wbuf_varint(b, ct_len);
        if (!body->err && !wbuf_reserve(b, ct_len + WEFT_SIG_BYTES)) {
            rc = r->crypto->seal(r->crypto->ctx, b->p + b->len, body->p, body->len, b->p,
                                 header_len);
            b->len += ct_len;
            if (!rc) rc = r->crypto->sign(r->crypto->ctx, b->p + b->len, b->p, b->len);
            b->len += WEFT_SIG_BYTES;
        }
    }
    if (!rc && (b->err || r->plain.err)) rc = WEFT_ENOMEM;
    r->plain.err = 0;
    if (rc) {
        if (r->crypto) weft__wipe(r->plain.p, r->plain.len);
        b->err = 0;
        return rc;
    }
    weft_change c;
    rc = weft_change_decode(&c, b->p, b->len);
    if (!rc) {
        int st = weft_log_check(r->log, &c);
        rc = st == WEFT_LOG_READY ? WEFT_OK : (st < 0 ? st : WEFT_ESTATE);
    }
    weft__state_begin_batch(&r->state);
    /* Our own change merges from the body we just encoded: verifying our
     * own signature and opening our own seal would only double the crypto
     * cost of a commit (most of it for one-op changes). */
    if (!rc) rc = weft__replica_merge(r, &c, r->plain.p, r->plain.len);
    if (r->crypto) weft__wipe(r->plain.p, r->plain.len);
    if (rc) return rc;
    for (uint32_t k = 0; k < n_authors; k++)
        r->dep_seen[sorted[k]] = weft__log_author_seq(r->log, sorted[k]);
    txn_clear(r);
    *record = b->p;
    *len = b->len;
    notify(r);
    return WEFT_OK;
}

/* ---- merging ---- */

/* The key an author reference in a body names. */
static const uint8_t *ref_key(const weft_change *c, const uint8_t *authors, uint32_t ref) {
    return ref ? authors + 32 * (size_t)(ref - 1) : c->author;
}

/* A decoded text op with its authors as keys. */
static void wop_text(const wop *o, const weft_change *c, const uint8_t *authors, weft_text_op *t) {
    *t = (weft_text_op){.kind = o->code == OP_TEXT_INSERT ? 1 : 2,
                        .author = ref_key(c, authors, o->t_author),
                        .seq = o->t_seq,
                        .len = o->t_len};
    if (o->code != OP_TEXT_INSERT) return;
    t->left = o->t_left ? ref_key(c, authors, o->t_left - 1) : NULL;
    t->left_seq = o->t_lseq;
    t->right = o->t_right ? ref_key(c, authors, o->t_right - 1) : NULL;
    t->right_seq = o->t_rseq;
    t->text = o->val;
    t->nbytes = o->vlen;
}

/* A decoded mark op with its authors as keys. */
static void wop_mark(const wop *o, const weft_change *c, const uint8_t *authors, weft_text_op *t) {
    *t = (weft_text_op){.kind = o->code == OP_MARK_ADD ? 3 : 4,
                        .author = c->author,
                        .lamport = o->m_lamport,
                        .sides = o->m_sides,
                        .left = o->t_left ? ref_key(c, authors, o->t_left - 1) : NULL,
                        .left_seq = o->t_lseq,
                        .right = o->t_right ? ref_key(c, authors, o->t_right - 1) : NULL,
                        .right_seq = o->t_rseq,
                        .text = o->m_type,
                        .nbytes = o->m_type_len,
                        .value = o->code == OP_MARK_ADD ? o->val : NULL,
                        .value_len = o->code == OP_MARK_ADD ? o->vlen : 0};
}

static void read_text_id(wreader *rd, uint64_t na, uint32_t *ref1, uint32_t *seq);

/* Reads the rest of a mark op (after its observed write) and checks it:
 * lamport, sides, the range's two ends, the type, the value of an add. */
static int read_mark_op(wreader *rd, wop *o, uint64_t na, const weft_change *c,
                        const uint8_t *authors) {
    o->m_lamport = rd_varint(rd);
    o->m_sides = rd_u8(rd);
    read_text_id(rd, na, &o->t_left, &o->t_lseq);
    read_text_id(rd, na, &o->t_right, &o->t_rseq);
    size_t l = 0;
    o->m_type = rd_lbytes(rd, &l, WEFT_MARK_MAX_TYPE);
    o->m_type_len = (uint32_t)l;
    o->val = NULL;
    o->vlen = 0;
    if (o->code == OP_MARK_ADD) {
        o->val = rd->p;
        weft__value_skip_nested(rd);
        o->vlen = (uint32_t)(rd->p - o->val);
    }
    if (rd->err) return rd->err;
    weft_text_op t;
    wop_mark(o, c, authors, &t);
    return weft__text_op_check(&t) ? WEFT_EMALFORMED : WEFT_OK;
}

/* The write a decoded counter add or text op observed, as a state id. */
static wid op_observed(const weft_replica *r, const wop *o) {
    return (wid){o->obs_lamport, o->obs_lamport ? r->map_authors[o->obs_ref] : 0};
}

/* Reads the observed write of a counter add or text op (op i). */
static int read_observed(wreader *rd, wop *o, uint64_t na, const weft_change *c, uint64_t i) {
    o->obs_lamport = rd_varint(rd);
    o->obs_ref = 0;
    if (o->obs_lamport) {
        uint64_t ref = rd_varint(rd);
        if (!rd->err && ref > na) return WEFT_EMALFORMED;
        o->obs_ref = (uint32_t)ref;
    }
    /* An op observes something in its own past. */
    if (!rd->err && o->obs_lamport >= c->lamport + i) return WEFT_EMALFORMED;
    return rd->err;
}

/* Reads a text op's id: 0 for none, else 1 + an author reference. */
static void read_text_id(wreader *rd, uint64_t na, uint32_t *ref1, uint32_t *seq) {
    uint64_t a = rd_varint(rd), q = 0;
    if (a) q = rd_varint(rd);
    if (a > na + 1 || q >= UINT32_MAX) rd_fail(rd, WEFT_EMALFORMED);
    *ref1 = (uint32_t)a;
    *seq = (uint32_t)q;
}

/* Reads the rest of a text op (after its observed write) and checks it. */
static int read_text_op(wreader *rd, wop *o, uint64_t na, const weft_change *c,
                        const uint8_t *authors) {
    if (o->code == OP_TEXT_INSERT) {
        uint64_t q = rd_varint(rd);
        if (q >= UINT32_MAX) rd_fail(rd, WEFT_EMALFORMED);
        o->t_author = 0; /* a change inserts only its own author's ids */
        o->t_seq = (uint32_t)q;
        read_text_id(rd, na, &o->t_left, &o->t_lseq);
        read_text_id(rd, na, &o->t_right, &o->t_rseq);
        size_t l = 0;
        o->val = rd_lbytes(rd, &l, UINT32_MAX);
        o->vlen = (uint32_t)l;
    } else {
        uint32_t ref1;
        read_text_id(rd, na, &ref1, &o->t_seq);
        uint64_t len = rd_varint(rd);
        if (!ref1 || len > UINT32_MAX) rd_fail(rd, WEFT_EMALFORMED);
        o->t_author = ref1 - 1;
        o->t_len = (uint32_t)len;
    }
    if (rd->err) return rd->err;
    weft_text_op t;
    wop_text(o, c, authors, &t);
    if (weft__text_op_check(&t)) return WEFT_EMALFORMED;
    o->t_len = t.len;
    return WEFT_OK;
}

/* Reads the rest of a list op (after its observed write) and checks it:
 * the item (never none), the new entry's seq and origins, the value. */
static int read_list_op(wreader *rd, wop *o, uint64_t na, const weft_change *c,
                        const uint8_t *authors) {
    o->l_item = 0;
    o->t_seq = 0;
    o->val = NULL;
    o->vlen = 0;
    if (o->code != OP_LIST_INSERT) {
        read_text_id(rd, na, &o->l_item, &o->l_iseq);
        if (!rd->err && !o->l_item) return WEFT_EMALFORMED;
    }
    if (o->code == OP_LIST_INSERT || o->code == OP_LIST_MOVE) {
        uint64_t q = rd_varint(rd);
        if (q >= UINT32_MAX - 1) rd_fail(rd, WEFT_EMALFORMED);
        o->t_seq = (uint32_t)q;
        read_text_id(rd, na, &o->t_left, &o->t_lseq);
        read_text_id(rd, na, &o->t_right, &o->t_rseq);
        if (rd->err) return rd->err;
        /* The entry is one item of a sequence: the text rules on ids and
         * origins hold (not its own id, ids below 2^32 - 1). */
        weft_text_op t = {.kind = 1,
                          .author = c->author,
                          .seq = o->t_seq,
                          .left = o->t_left ? ref_key(c, authors, o->t_left - 1) : NULL,
                          .left_seq = o->t_lseq,
                          .right = o->t_right ? ref_key(c, authors, o->t_right - 1) : NULL,
                          .right_seq = o->t_rseq,
                          .text = (const uint8_t *)"a",
                          .nbytes = 1};
        if (weft__text_op_check(&t)) return WEFT_EMALFORMED;
    }
    if (o->code == OP_LIST_INSERT || o->code == OP_LIST_SET) {
        o->val = rd->p;
        weft__value_skip_nested(rd); /* the list reads as an array of them */
        o->vlen = (uint32_t)(rd->p - o->val);
    }
    return rd->err;
}

/* A decoded list op with its authors as keys; op i of change c. */
static void wop_list(const wop *o, const weft_change *c, const uint8_t *authors, uint64_t i,
                     wlist_op *l) {
    static const uint8_t kinds[] = {[OP_LIST_INSERT] = WLIST_INSERT,
                                    [OP_LIST_DELETE] = WLIST_DELETE,
                                    [OP_LIST_MOVE] = WLIST_MOVE,
                                    [OP_LIST_SET] = WLIST_SET};
    *l = (wlist_op){.kind = kinds[o->code],
                    .author = c->author,
                    .lamport = c->lamport + i,
                    .seq = o->t_seq,
                    .item = o->l_item ? ref_key(c, authors, o->l_item - 1) : NULL,
                    .item_seq = o->l_iseq,
                    .left = o->t_left ? ref_key(c, authors, o->t_left - 1) : NULL,
                    .left_seq = o->t_lseq,
                    .right = o->t_right ? ref_key(c, authors, o->t_right - 1) : NULL,
                    .right_seq = o->t_rseq,
                    .val = o->val,
                    .vlen = o->vlen};
}

/* Decodes and validates a body into r->ops. OUT: table sizes. */
static int decode_body(weft_replica *r, const weft_change *c, const uint8_t *body, size_t len,
                       size_t *n_names, const uint8_t **authors, size_t *n_authors) {
    wreader rd;
    rd_init(&rd, body, len);
    uint64_t nn = rd_varint(&rd);
    if (rd.err) return rd.err;
    if (nn > rd_left(&rd)) return WEFT_ETRUNCATED;
    if (weft__grow(r->a, (void **)&r->seen_names, &r->cap_seen_names, (size_t)nn + 1,
                   sizeof(void *)) ||
        weft__grow(r->a, (void **)&r->seen_name_lens, &r->cap_seen_lens, (size_t)nn + 1,
                   sizeof(size_t)))
        return WEFT_ENOMEM;
    for (uint64_t i = 0; i < nn; i++) {
        size_t l;
        const uint8_t *p = rd_lbytes(&rd, &l, WEFT_MAX_NAME_BYTES);
        if (rd.err) return rd.err;
        if (!valid_name((const char *)p, l, WEFT_MAX_NAME_BYTES)) return WEFT_EMALFORMED;
        r->seen_names[i] = p;
        r->seen_name_lens[i] = l;
    }
    uint64_t na = rd_varint(&rd);
    if (rd.err) return rd.err;
    if (na > WEFT_MAX_DEPS) return WEFT_ETOOBIG;
    *authors = rd_take(&rd, (size_t)na * 32);
    uint64_t n_ops = rd_varint(&rd);
    if (rd.err) return rd.err;
    if (n_ops != c->n_ids) return WEFT_EMALFORMED;
    if (n_ops > rd_left(&rd)) return WEFT_ETRUNCATED; /* each op takes bytes */
    if (weft__grow(r->a, (void **)&r->ops, &r->cap_ops, (size_t)n_ops, sizeof(wop)))
        return WEFT_ENOMEM;
    for (uint64_t i = 0; i < n_ops; i++) {
        wop *o = &r->ops[i];
        o->code = rd_u8(&rd);
        if (o->code < OP_PUT || o->code > OP_MARK_REMOVE) return rd.err ? rd.err : WEFT_EMALFORMED;
        uint64_t coll = rd_varint(&rd);
        size_t dl;
        o->doc = rd_lbytes(&rd, &dl, WEFT_MAX_KEY_BYTES);
        if (rd.err) return rd.err;
        if (coll >= nn || !valid_name((const char *)o->doc, dl, WEFT_MAX_KEY_BYTES))
            return WEFT_EMALFORMED;
        o->coll = (uint32_t)coll;
        o->doc_len = (uint32_t)dl;
        if (o->code != OP_DELETE_DOC) {
            uint64_t f = rd_varint(&rd);
            if (!rd.err && f >= nn) return WEFT_EMALFORMED;
            o->field = (uint32_t)f;
        }
        if (o->code == OP_PUT) {
            o->val = rd.p;
            weft__value_skip(&rd);
            o->vlen = (uint32_t)(rd.p - o->val);
        } else if (o->code == OP_COUNTER_ADD) {
            o->delta = zigzag_dec(rd_varint(&rd));
            int rc = read_observed(&rd, o, na, c, i);
            if (rc) return rc;
        } else if (o->code >= OP_MARK_ADD) {
            o->t_left = o->t_right = 0;
            int rc = read_observed(&rd, o, na, c, i);
            if (!rc) rc = read_mark_op(&rd, o, na, c, *authors);
            if (rc) return rc;
        } else if (o->code >= OP_LIST_INSERT) {
            o->t_left = o->t_right = 0;
            int rc = read_observed(&rd, o, na, c, i);
            if (!rc) rc = read_list_op(&rd, o, na, c, *authors);
            if (rc) return rc;
        } else if (o->code >= OP_TEXT_INSERT) {
            int rc = read_observed(&rd, o, na, c, i);
            if (!rc) rc = read_text_op(&rd, o, na, c, *authors);
            if (rc) return rc;
        }
        if (rd.err) return rd.err;
    }
    if (rd_left(&rd)) return WEFT_EMALFORMED;
    *n_names = (size_t)nn;
    *n_authors = (size_t)na;
    return WEFT_OK;
}

int weft__replica_merge(weft_replica *r, const weft_change *c, const uint8_t *plain,
                        size_t plain_len) {
    const uint8_t *body = c->body;
    size_t body_len = c->body_len;
    if (c->suite != (r->crypto ? WEFT_SUITE_V1 : WEFT_SUITE_PLAIN)) return WEFT_ESUITE;
    if (plain) {
        body = plain;
        body_len = plain_len;
    } else if (r->crypto) {
        int rc = r->crypto->verify(r->crypto->ctx, c->author, c->sig, c->record, c->signed_len);
        if (rc) return WEFT_ECRYPTO;
        if (body_len < r->crypto->seal_overhead) return WEFT_ECRYPTO;
        r->plain.len = 0;
        if (wbuf_reserve(&r->plain, body_len)) {
            r->plain.err = 0;
            return WEFT_ENOMEM;
        }
        rc = r->crypto->open(r->crypto->ctx, r->plain.p, body, body_len, c->record, c->header_len);
        if (rc) return WEFT_ECRYPTO;
        body = r->plain.p;
        body_len -= r->crypto->seal_overhead;
    }
    size_t n_names, n_authors;
    const uint8_t *authors;
    int rc = decode_body(r, c, body, body_len, &n_names, &authors, &n_authors);
    if (rc) return rc;
    /* From here on the change is valid: failures are out-of-memory only. */
    if (weft__grow(r->a, (void **)&r->map_names, &r->cap_map_names, n_names + 1,
                   sizeof(uint32_t)) ||
        weft__grow(r->a, (void **)&r->map_authors, &r->cap_map_authors, n_authors + 1,
                   sizeof(uint32_t)))
        return WEFT_ENOMEM;
    uint32_t self = weft__log_author(r->log, c->author, 1);
    if (self == WEFT_NO_AUTHOR) return WEFT_ENOMEM;
    r->map_authors[0] = self;
    for (size_t i = 0; i < n_authors; i++)
        if ((r->map_authors[i + 1] = weft__log_author(r->log, authors + 32 * i, 1)) ==
            WEFT_NO_AUTHOR)
            return WEFT_ENOMEM;
    for (size_t i = 0; i < n_names; i++)
        if ((r->map_names[i] = weft__state_intern(&r->state, r->seen_names[i],
                                                  r->seen_name_lens[i])) == UINT32_MAX)
            return WEFT_ENOMEM;
    weft_state *s = &r->state;
    /* Merging a batch is bound by cache misses on the documents it touches,
     * so compute every op's hash tag first, then run ahead of the merge:
     * prefetch the hash slot AHEAD ops early and the record it points to
     * half as early, so both have arrived when the op gets there. */
    enum { AHEAD = 8 };
    size_t n = (size_t)c->n_ids;
    for (size_t i = 0; i < n; i++) {
        wop *o = &r->ops[i];
        o->tag = weft__state_doc_tag(s, r->map_names[o->coll], o->doc, o->doc_len);
    }
    for (size_t i = 0; i < n && !rc; i++) {
        const wop *o = &r->ops[i];
        if (i + AHEAD < n) weft__state_prefetch_slot(s, r->ops[i + AHEAD].tag);
        if (i + AHEAD / 2 < n) weft__state_prefetch_doc(s, r->ops[i + AHEAD / 2].tag);
        wid id = {c->lamport + i, self};
        uint32_t d =
            weft__state_doc_tagged(s, r->map_names[o->coll], o->doc, o->doc_len, o->tag, 1);
        if (d == UINT32_MAX) {
            rc = WEFT_ENOMEM;
            break;
        }
        switch (o->code) {
        case OP_PUT:
            rc = weft__state_write(s, d, r->map_names[o->field], id, o->val, o->vlen);
            break;
        case OP_DELETE_FIELD:
            rc = weft__state_write(s, d, r->map_names[o->field], id, NULL, 0);
            break;
        case OP_DELETE_DOC:
            rc = weft__state_delete_doc(s, d, id);
            break;
        case OP_COUNTER_ADD:
            rc = weft__state_counter_add(s, d, r->map_names[o->field], id, o->delta,
                                         op_observed(r, o));
            break;
        case OP_TEXT_INSERT:
        case OP_TEXT_DELETE: {
            weft_text_op t;
            wop_text(o, c, authors, &t);
            rc = weft__state_text_op(s, d, r->map_names[o->field], op_observed(r, o), &t);
            break;
        }
        case OP_MARK_ADD:
        case OP_MARK_REMOVE: {
            weft_text_op t;
            wop_mark(o, c, authors, &t);
            rc = weft__state_text_op(s, d, r->map_names[o->field], op_observed(r, o), &t);
            break;
        }
        default: { /* list ops */
            wlist_op l;
            wop_list(o, c, authors, i, &l);
            rc = weft__state_list_op(s, d, r->map_names[o->field], op_observed(r, o), &l);
            break;
        }
        }
    }
    if (!rc) rc = weft_log_commit(r->log, c);
    if (rc) {
        r->broken = 1; /* the state took part of a change: it cannot be trusted */
        return rc;
    }
    uint64_t end = c->lamport + c->n_ids - 1;
    if (end > r->clock) r->clock = end;
    return WEFT_OK;
}

int weft_replica_change_ops(weft_replica *r, const uint8_t *rec, size_t len, weft_change_op_fn fn,
                            void *ud) {
    validate_or_ret(r && rec && fn, WEFT_EINVAL);
    weft_change c;
    int rc = weft_change_decode(&c, rec, len);
    if (rc) return rc;
    if (c.total_len != len) return WEFT_EMALFORMED; /* one record, nothing after it */
    if (memcmp(c.space, r->space, 32) != 0) return WEFT_ESPACE;
    if (c.suite != (r->crypto ? WEFT_SUITE_V1 : WEFT_SUITE_PLAIN)) return WEFT_ESUITE;
    const uint8_t *body = c.body;
    size_t body_len = c.body_len;
    if (r->crypto) {
        if (r->crypto->verify(r->crypto->ctx, c.author, c.sig, c.record, c.signed_len))
            return WEFT_ECRYPTO;
        if (body_len < r->crypto->seal_overhead) return WEFT_ECRYPTO;
        r->plain.len = 0;
        if (wbuf_reserve(&r->plain, body_len)) {
            r->plain.err = 0;
            return WEFT_ENOMEM;
        }
        if (r->crypto->open(r->crypto->ctx, r->plain.p, body, body_len, c.record, c.header_len))
            return WEFT_ECRYPTO;
        body = r->plain.p;
        body_len -= r->crypto->seal_overhead;
    }
    size_t n_names, n_authors;
    const uint8_t *authors;
    rc = decode_body(r, &c, body, body_len, &n_names, &authors, &n_authors);
    /* All ops decode before the first call: a caller never sees half a change. */
    for (size_t i = 0; !rc && i < (size_t)c.n_ids; i++) {
        const wop *o = &r->ops[i];
        const char *field = o->code == OP_DELETE_DOC ? "" : (const char *)r->seen_names[o->field];
        size_t field_len = o->code == OP_DELETE_DOC ? 0 : r->seen_name_lens[o->field];
        fn(ud, o->code, (const char *)r->seen_names[o->coll], r->seen_name_lens[o->coll],
           (const char *)o->doc, o->doc_len, field, field_len);
    }
    if (r->crypto) weft__wipe(r->plain.p, body_len);
    return rc;
}

/* Routes one decoded change: merge, park or count it. */
static int route(weft_replica *r, const weft_change *c, weft_apply_result *res) {
    int st = weft_log_check(r->log, c);
    if (st == WEFT_LOG_DUPLICATE) {
        res->duplicates++;
        return WEFT_OK;
    }
    if (st == WEFT_LOG_WAITING) {
        if (c->suite != (r->crypto ? WEFT_SUITE_V1 : WEFT_SUITE_PLAIN)) return WEFT_ESUITE;
        int rc = weft_log_park(r->log, c);
        if (rc == WEFT_LOG_DUPLICATE) {
            res->duplicates++;
            return WEFT_OK;
        }
        if (rc == 0) res->pending++;
        return rc;
    }
    if (st < 0) return st;
    int rc = weft__replica_merge(r, c, NULL, 0);
    if (!rc) res->applied++;
    return rc;
}

static void reject(weft_apply_result *res, int rc) {
    res->rejected++;
    if (!res->first_error) res->first_error = rc;
}

int weft_replica_apply(weft_replica *r, const uint8_t *records, size_t len,
                       weft_apply_result *res) {
    weft_apply_result local;
    if (!res) res = &local;
    memset(res, 0, sizeof *res);
    validate_or_ret(r && (records || len == 0), WEFT_EINVAL);
    if (r->broken) return WEFT_ENOMEM;
    if (r->txn_n) return WEFT_ESTATE;
    weft__state_begin_batch(&r->state);
    size_t off = 0;
    while (off < len) {
        weft_change c;
        int rc = weft_change_decode(&c, records + off, len - off);
        if (rc) { /* cannot find where the next record starts */
            reject(res, rc);
            break;
        }
        off += c.total_len;
        rc = route(r, &c, res);
        if (rc) reject(res, rc);
        if (r->broken) break;
        const uint8_t *rec;
        size_t rlen;
        while (!r->broken && weft_log_next_ready(r->log, &rec, &rlen)) {
            weft_change pc;
            rc = weft_change_decode(&pc, rec, rlen);
            if (!rc) rc = route(r, &pc, res);
            if (rc) reject(res, rc);
        }
    }
    res->consumed = off;
    if (r->broken) return WEFT_ENOMEM;
    notify(r);
    return res->first_error;
}

/* ---- sync ---- */

int weft_replica_vv(weft_replica *r, const uint8_t **vv, size_t *len) {
    validate_or_ret(r && vv && len, WEFT_EINVAL);
    r->vv.len = 0;
    if (wbuf_reserve(&r->vv, weft_log_vv_bound(r->log) + 1)) {
        r->vv.err = 0;
        return WEFT_ENOMEM;
    }
    int rc = weft_log_vv_encode(r->log, r->vv.p, r->vv.cap, &r->vv.len);
    *vv = r->vv.p;
    *len = r->vv.len;
    return rc;
}

static int diff_emit(void *ud, const uint8_t *record, size_t len, const uint8_t *author,
                     uint64_t seq) {
    (void)author;
    (void)seq;
    wbuf *b = ud;
    if (!record) return WEFT_ESTATE;
    wbuf_put(b, record, len);
    return b->err;
}

int weft_replica_diff(weft_replica *r, const uint8_t *vv, size_t vv_len, const uint8_t **records,
                      size_t *len) {
    validate_or_ret(r && records && len, WEFT_EINVAL);
    r->diff.len = 0;
    r->diff.err = 0;
    int rc = weft_log_diff(r->log, vv, vv_len, diff_emit, &r->diff);
    r->diff.err = 0;
    *records = r->diff.p;
    *len = rc ? 0 : r->diff.len;
    return rc;
}

int weft_replica_diff_held(weft_replica *r, const uint8_t *vv, size_t vv_len,
                           const uint8_t **records, size_t *len) {
    validate_or_ret(r && records && len, WEFT_EINVAL);
    r->diff.len = 0;
    r->diff.err = 0;
    int rc = weft_log_diff_held(r->log, vv, vv_len, diff_emit, &r->diff);
    r->diff.err = 0;
    *records = r->diff.p;
    *len = rc ? 0 : r->diff.len;
    return rc;
}

int weft_replica_forget(weft_replica *r, const uint8_t *vv, size_t vv_len, uint64_t keep) {
    validate_or_ret(r, WEFT_EINVAL);
    if (r->txn_n) return WEFT_ESTATE;
    return weft_log_forget(r->log, vv, vv_len, keep);
}

uint64_t weft_replica_change_count(const weft_replica *r) {
    return r ? weft_log_count(r->log) : 0;
}
size_t weft_replica_pending_count(const weft_replica *r) {
    return r ? weft_log_pending_count(r->log) : 0;
}

/* ---- reads ---- */

static const wdoc *find_doc(weft_replica *r, const char *coll, size_t coll_len, const char *doc,
                            size_t doc_len) {
    uint32_t cn = weft__state_name(&r->state, (const uint8_t *)coll, coll_len);
    if (cn == UINT32_MAX) return NULL;
    uint32_t d = weft__state_doc(&r->state, cn, (const uint8_t *)doc, doc_len, 0);
    return d == UINT32_MAX ? NULL : &r->state.docs[d];
}

int weft_replica_get_field(weft_replica *r, const char *coll, size_t coll_len, const char *doc,
                           size_t doc_len, const char *field, size_t field_len,
                           const uint8_t **value, size_t *len) {
    validate_or_ret(r && coll && doc && field && value && len, WEFT_EINVAL);
    const wdoc *d = find_doc(r, coll, coll_len, doc, doc_len);
    uint32_t fn = weft__state_name(&r->state, (const uint8_t *)field, field_len);
    const wfield *f = d && fn != UINT32_MAX ? weft__state_field(&r->state, d, fn) : NULL;
    const uint8_t *v = f ? weft__state_value(&r->state, d, f, len) : NULL;
    if (!v) return f && !f->vlen && f->v.text ? WEFT_ENOMEM : WEFT_ENOTFOUND;
    *value = v;
    return WEFT_OK;
}

typedef struct fsort_ctx {
    const weft_state *s;
    const wdoc *d;
} fsort_ctx;

static int fname_cmp(const void *ctx, uint32_t a, uint32_t b) {
    const fsort_ctx *c = ctx;
    size_t la, lb;
    const wfield *fs = WEFT_DOC_FIELDS(c->d);
    const uint8_t *pa = weft__state_name_bytes(c->s, fs[a].name, &la);
    const uint8_t *pb = weft__state_name_bytes(c->s, fs[b].name, &lb);
    int k = memcmp(pa, pb, la < lb ? la : lb);
    return k ? k : (la > lb) - (la < lb);
}

static int doc_visible(weft_replica *r, const wdoc *d) {
    for (uint32_t k = 0; k < d->n_fields; k++) {
        if (weft__state_visible(&r->state, d, &WEFT_DOC_FIELDS(d)[k])) return 1;
    }
    return 0;
}

int weft_replica_get_doc(weft_replica *r, const char *coll, size_t coll_len, const char *doc,
                         size_t doc_len, const uint8_t **value, size_t *len) {
    validate_or_ret(r && coll && doc && value && len, WEFT_EINVAL);
    const wdoc *d = find_doc(r, coll, coll_len, doc, doc_len);
    if (!d || !doc_visible(r, d)) return WEFT_ENOTFOUND;
    /* Fields sorted by name make the map canonical. The order array lives
     * at the front of docbuf, the value is written after it. */
    wbuf *b = &r->docbuf;
    b->len = 0;
    size_t order_bytes = (size_t)d->n_fields * sizeof(uint32_t);
    if (wbuf_reserve(b, order_bytes + 16)) {
        b->err = 0;
        return WEFT_ENOMEM;
    }
    uint32_t *order = weft__alloc(r->a, order_bytes + 4);
    if (!order) return WEFT_ENOMEM;
    uint32_t n = 0;
    for (uint32_t k = 0; k < d->n_fields; k++) {
        if (weft__state_visible(&r->state, d, &WEFT_DOC_FIELDS(d)[k])) order[n++] = k;
    }
    fsort_ctx fc = {&r->state, d};
    int rc = weft__sort_u32(order, n, fname_cmp, &fc, r->a);
    wbuf_u8(b, WEFT_TYPE_MAP);
    wbuf_varint(b, n);
    for (uint32_t k = 0; k < n && !rc; k++) {
        const wfield *f = &WEFT_DOC_FIELDS(d)[order[k]];
        size_t nl, vl;
        const uint8_t *name = weft__state_name_bytes(&r->state, f->name, &nl);
        wbuf_lbytes(b, name, nl);
        const uint8_t *v = weft__state_value(&r->state, d, f, &vl);
        if (!v) rc = WEFT_ENOMEM; /* a text's value could not be made */
        if (v) wbuf_put(b, v, vl);
    }
    weft__free(r->a, order);
    if (!rc && b->err) rc = WEFT_ENOMEM;
    b->err = 0;
    if (rc) return rc;
    *value = b->p;
    *len = b->len;
    return WEFT_OK;
}

int weft_replica_next_doc(weft_replica *r, const char *coll, size_t coll_len, const char *after,
                          size_t after_len, const char **key, size_t *key_len) {
    validate_or_ret(r && coll && key && key_len && (after || after_len == 0), WEFT_EINVAL);
    uint32_t cn = weft__state_name(&r->state, (const uint8_t *)coll, coll_len);
    if (cn == UINT32_MAX) return WEFT_ENOTFOUND;
    wcoll *c = weft__state_sorted_coll(&r->state, cn);
    if (!c) return WEFT_ENOTFOUND; /* a name, but no collection of that name */
    size_t lo = 0, hi = c->n_docs;
    if (after) { /* first key > after */
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            const wdoc *d = &r->state.docs[c->docs[mid]];
            size_t m = d->key_len < after_len ? d->key_len : after_len;
            int k = memcmp(weft__doc_key(&r->state, d), after, m);
            if (k < 0 || (k == 0 && d->key_len <= after_len))
                lo = mid + 1;
            else
                hi = mid;
        }
    }
    for (size_t i = lo; i < c->n_docs; i++) {
        const wdoc *d = &r->state.docs[c->docs[i]];
        if (!doc_visible(r, d)) continue;
        *key = (const char *)weft__doc_key(&r->state, d);
        *key_len = d->key_len;
        return WEFT_OK;
    }
    return WEFT_ENOTFOUND;
}

int weft_replica_collection(weft_replica *r, size_t i, const char **name, size_t *name_len) {
    validate_or_ret(r && name && name_len, WEFT_EINVAL);
    if (i >= r->state.n_colls) return WEFT_ENOTFOUND;
    *name = (const char *)weft__state_name_bytes(&r->state, r->state.colls[i].name, name_len);
    return WEFT_OK;
}

size_t weft_replica_touched_count(const weft_replica *r) {
    return r ? r->state.n_touched : 0;
}

int weft_replica_touched(const weft_replica *r, size_t i, const char **coll, size_t *coll_len,
                         const char **doc, size_t *doc_len) {
    validate_or_ret(r && coll && coll_len && doc && doc_len, WEFT_EINVAL);
    if (i >= r->state.n_touched) return WEFT_ENOTFOUND;
    const wdoc *d = &r->state.docs[r->state.touched[i]];
    *coll = (const char *)weft__state_name_bytes(&r->state, d->coll, coll_len);
    *doc = (const char *)weft__doc_key(&r->state, d);
    *doc_len = d->key_len;
    return WEFT_OK;
}

int weft_state_hash(weft_replica *r, uint8_t hash[WEFT_HASH_BYTES]) {
    validate_or_ret(r && hash, WEFT_EINVAL);
    return weft__state_hash(&r->state, hash);
}
