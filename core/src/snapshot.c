/*
 * Snapshots: the replica's state and version vector in one record, with no
 * history, so a space loads in time proportional to its state. Layout in
 * docs/FORMAT.md ("Snapshot record"): every table sorted, every reference an
 * index into a table written before it, and a BLAKE2b-256 of the record at
 * its end so storage corruption is caught before anything is loaded.
 * Loading builds a fresh replica and swaps it in only when all of it
 * decoded, so a bad snapshot leaves the target untouched.
 */
#include "replica_int.h"
#include "sort.h"
#include "value_int.h"
#include "weft/hash.h"
#include "weft/value.h"

static int name_bytes_cmp(const void *ctx, uint32_t a, uint32_t b) {
    const weft_state *s = ctx;
    size_t la, lb;
    const uint8_t *pa = weft__state_name_bytes(s, a, &la);
    const uint8_t *pb = weft__state_name_bytes(s, b, &lb);
    int c = memcmp(pa, pb, la < lb ? la : lb);
    return c ? c : (la > lb) - (la < lb);
}

static void put_id(wbuf *b, const uint32_t *author_rank, uint64_t lamport, uint32_t author) {
    wbuf_varint(b, lamport);
    if (lamport) wbuf_varint(b, author_rank[author]);
}

typedef struct waiting_writer {
    wbuf *b;
    weft_state *s;
    const uint32_t *author_rank, *name_rank;
} waiting_writer;

/* A waiting add's or text's target: collection, key, field, observed write. */
static void put_waiting_target(waiting_writer *ww, uint32_t doc, uint32_t name, uint64_t lamport,
                               uint32_t author) {
    const wdoc *d = &ww->s->docs[doc];
    wbuf_varint(ww->b, ww->name_rank[d->coll]);
    wbuf_lbytes(ww->b, weft__doc_key(ww->s, d), d->key_len);
    wbuf_varint(ww->b, ww->name_rank[name]);
    put_id(ww->b, ww->author_rank, lamport, author);
}

static int put_waiting(void *ctx, const wwaiting *w) {
    waiting_writer *ww = ctx;
    put_waiting_target(ww, w->doc, w->name, w->obs_lamport, w->obs_author);
    put_id(ww->b, ww->author_rank, w->lamport, w->author);
    wbuf_varint(ww->b, zigzag_enc(w->delta));
    return WEFT_OK;
}

/* A text's encoded state as bytes. */
static int put_text(wbuf *b, weft_text *t) {
    const uint8_t *enc;
    size_t n;
    int rc = weft_text_encode(t, &enc, &n);
    if (!rc) wbuf_lbytes(b, enc, n);
    return rc;
}

/* A list's state as bytes. */
static int put_list(wbuf *b, wlist *l) {
    wbuf tmp;
    wbuf_init(&tmp, b->a);
    int rc = weft__list_encode(l, &tmp);
    if (!rc) wbuf_lbytes(b, tmp.p, tmp.len);
    wbuf_free(&tmp);
    return rc;
}

/* A waiting text record is written as a text entry (unless it holds only a
 * list), then a list entry if it holds one: the same target twice. */
static int waiting_has_text(const wtext *w) {
    return !w->l || weft_text_length(w->t) || weft_text_pending(w->t);
}

static int put_waiting_text(void *ctx, const wtext *w) {
    waiting_writer *ww = ctx;
    int rc = WEFT_OK;
    if (waiting_has_text(w)) {
        put_waiting_target(ww, w->doc, w->name, w->obs_lamport, w->obs_author);
        rc = put_text(ww->b, w->t);
    }
    if (!rc && w->l) {
        put_waiting_target(ww, w->doc, w->name, w->obs_lamport, w->obs_author);
        rc = put_list(ww->b, w->l);
    }
    return rc;
}

static int count_waiting_text(void *ctx, const wtext *w) {
    *(size_t *)ctx += (size_t)waiting_has_text(w) + (w->l != NULL);
    return WEFT_OK;
}

int weft_replica_snapshot(weft_replica *r, const uint8_t **snap, size_t *len) {
    validate_or_ret(r && snap && len, WEFT_EINVAL);
    if (r->broken) return WEFT_ENOMEM;
    weft_state *s = &r->state;
    wbuf *b = &r->snap;
    b->len = 0;
    b->err = 0;
    uint32_t n_authors;
    const uint32_t *authors = weft__log_sorted_authors(r->log, &n_authors);
    uint32_t *author_rank = weft__alloc(r->a, ((size_t)n_authors + 1) * sizeof(uint32_t));
    uint32_t *names = weft__alloc(r->a, (s->n_names + 1) * sizeof(uint32_t));
    uint32_t *name_rank = weft__alloc(r->a, (s->n_names + 1) * sizeof(uint32_t));
    uint32_t *colls = weft__alloc(r->a, (s->n_colls + 1) * sizeof(uint32_t));
    int rc = (authors || !n_authors) && author_rank && names && name_rank && colls ? WEFT_OK
                                                                                   : WEFT_ENOMEM;
    if (!rc) {
        for (size_t i = 0; i < s->n_names; i++)
            names[i] = (uint32_t)i;
        rc = weft__sort_u32(names, s->n_names, name_bytes_cmp, s, r->a);
    }
    if (!rc) {
        for (size_t i = 0; i < s->n_names; i++)
            name_rank[names[i]] = (uint32_t)i;
        for (uint32_t i = 0; i < n_authors; i++)
            author_rank[authors[i]] = i;
        for (size_t i = 0; i < s->n_colls; i++)
            colls[i] = s->colls[i].name;
        rc = weft__sort_u32(colls, s->n_colls, name_bytes_cmp, s, r->a);
    }
    if (!rc) {
        uint8_t head[3] = {WEFT_FORMAT_VERSION, WEFT_RECORD_SNAPSHOT, WEFT_SUITE_PLAIN};
        wbuf_put(b, head, 3);
        wbuf_put(b, r->space, 32);
        wbuf_varint(b, r->clock);
        wbuf_varint(b, n_authors);
        for (uint32_t i = 0; i < n_authors; i++) {
            uint32_t a = authors[i];
            uint64_t seq = weft__log_author_seq(r->log, a);
            wbuf_put(b, weft__log_author_key(r->log, a), 32);
            wbuf_varint(b, seq);
            if (seq) wbuf_put(b, weft__log_author_hash(r->log, a), 32);
            wbuf_varint(b, weft__log_author_lamport_end(r->log, a));
        }
        wbuf_varint(b, s->n_names);
        for (size_t i = 0; i < s->n_names; i++) {
            size_t l;
            const uint8_t *p = weft__state_name_bytes(s, names[i], &l);
            wbuf_lbytes(b, p, l);
        }
        wbuf_varint(b, s->n_colls);
    }
    for (size_t ci = 0; ci < s->n_colls && !rc; ci++) {
        wcoll *c = weft__state_sorted_coll(s, colls[ci]);
        if (!c) {
            rc = WEFT_ENOMEM;
            break;
        }
        size_t n_docs = 0;
        for (size_t i = 0; i < c->n_docs; i++) {
            const wdoc *d = &s->docs[c->docs[i]];
            n_docs += d->n_fields || d->del_lamport;
        }
        wbuf_varint(b, name_rank[c->name]);
        wbuf_varint(b, n_docs);
        for (size_t i = 0; i < c->n_docs; i++) {
            wdoc *d = &s->docs[c->docs[i]];
            if (!d->n_fields && !d->del_lamport) continue;
            wbuf_lbytes(b, weft__doc_key(s, d), d->key_len);
            put_id(b, author_rank, d->del_lamport, d->del_author);
            /* Fields in name order: sort the document's array in place (its
             * order carries no meaning). */
            wfield *fs = WEFT_DOC_FIELDS(d);
            for (uint32_t x = 1; x < d->n_fields; x++) {
                wfield f = fs[x];
                uint32_t y = x;
                while (y > 0 && name_rank[fs[y - 1].name] > name_rank[f.name]) {
                    fs[y] = fs[y - 1];
                    y--;
                }
                fs[y] = f;
            }
            wbuf_varint(b, d->n_fields);
            for (uint32_t k = 0; k < d->n_fields && !rc; k++) {
                const wfield *f = &fs[k];
                wlist *fl = weft__state_field_list(s, f);
                weft_text *t = f->vlen || !f->v.text ? NULL : s->texts[f->v.text - 1]->t;
                if (t && fl && !weft_text_length(t)) t = NULL; /* only the list matters */
                wbuf_varint(b, name_rank[f->name]);
                wbuf_u8(b, (uint8_t)((f->vlen ? 1 : 0) | (f->counter ? 2 : 0) | (t ? 4 : 0) |
                                     (fl ? 8 : 0)));
                put_id(b, author_rank, f->lamport, f->author);
                if (f->vlen) wbuf_put(b, f->vlen > sizeof f->v.inl ? f->v.heap : f->v.inl, f->vlen);
                if (f->counter) {
                    const wcounter *ct = &s->counters[f->counter - 1];
                    wbuf_varint(b, zigzag_enc(ct->sum));
                    put_id(b, author_rank, ct->max_lamport, ct->max_author);
                }
                if (t) rc = put_text(b, t);
                if (fl && !rc) rc = put_list(b, fl);
            }
        }
    }
    if (!rc) {
        /* Counter adds still waiting for the write they observed. */
        waiting_writer ww = {b, s, author_rank, name_rank};
        wbuf_varint(b, s->live_waiting);
        rc = weft__state_each_waiting(s, put_waiting, &ww);
        /* Texts waiting for the write their ops observed. */
        size_t n_wt = 0;
        weft__state_each_waiting_text(s, count_waiting_text, &n_wt);
        wbuf_varint(b, n_wt);
        if (!rc) rc = weft__state_each_waiting_text(s, put_waiting_text, &ww);
    }
    weft__free(r->a, author_rank);
    weft__free(r->a, names);
    weft__free(r->a, name_rank);
    weft__free(r->a, colls);
    if (!rc && !b->err && !wbuf_reserve(b, 32)) {
        weft_blake2b(b->p + b->len, 32, b->p, b->len);
        b->len += 32;
    }
    if (!rc && b->err) rc = WEFT_ENOMEM;
    b->err = 0;
    if (rc) return rc;
    *snap = b->p;
    *len = b->len;
    return WEFT_OK;
}

/* ---- loading ---- */

typedef struct loader {
    weft_replica *r; /* the fresh replica being filled */
    wreader rd;
    uint32_t *authors; /* snapshot author index -> log author */
    uint64_t n_authors;
    uint32_t *names; /* snapshot name index -> state name */
    uint64_t n_names;
} loader;

static int read_id(loader *l, wid *id) {
    id->lamport = rd_varint(&l->rd);
    id->author = 0;
    if (id->lamport) {
        uint64_t a = rd_varint(&l->rd);
        if (!l->rd.err && a >= l->n_authors) return WEFT_EMALFORMED;
        if (!l->rd.err) id->author = l->authors[a];
    }
    /* Every id was issued at or before the snapshot's clock. */
    if (!l->rd.err && id->lamport > l->r->clock) return WEFT_EMALFORMED;
    return l->rd.err;
}

static int read_name_index(loader *l, uint64_t *prev, uint32_t *name) {
    uint64_t i = rd_varint(&l->rd);
    if (l->rd.err) return l->rd.err;
    if (i >= l->n_names || (*prev != UINT64_MAX && i <= *prev)) return WEFT_EMALFORMED;
    *prev = i;
    *name = l->names[i];
    return WEFT_OK;
}

static int load_docs(loader *l, uint32_t coll) {
    weft_state *s = &l->r->state;
    wreader *rd = &l->rd;
    uint64_t n_docs = rd_varint(rd);
    /* Each document takes at least three bytes, which bounds the count, and
     * so the reservation, by the input's size. */
    if (!rd->err && n_docs > rd_left(rd) / 3) return WEFT_ETRUNCATED;
    if (!rd->err && weft__state_reserve_docs(s, coll, (size_t)n_docs)) return WEFT_ENOMEM;
    const uint8_t *prev_key = NULL;
    size_t prev_len = 0;
    for (uint64_t i = 0; i < n_docs && !rd->err; i++) {
        size_t klen;
        const uint8_t *key = rd_lbytes(rd, &klen, WEFT_MAX_KEY_BYTES);
        if (rd->err) break;
        if (klen == 0 || !weft_utf8_valid(key, klen)) return WEFT_EMALFORMED;
        if (prev_key) { /* strictly ascending keys: also rules out duplicates */
            int c = memcmp(prev_key, key, prev_len < klen ? prev_len : klen);
            if (c > 0 || (c == 0 && prev_len >= klen)) return WEFT_EMALFORMED;
        }
        prev_key = key;
        prev_len = klen;
        uint32_t d = weft__state_doc(s, coll, key, klen, 1);
        if (d == UINT32_MAX) return WEFT_ENOMEM;
        wid del;
        int rc = read_id(l, &del);
        if (rc) return rc;
        s->docs[d].del_lamport = del.lamport;
        s->docs[d].del_author = del.author;
        uint64_t n_fields = rd_varint(rd);
        if (!rd->err && n_fields > rd_left(rd)) return WEFT_ETRUNCATED;
        uint64_t prev_name = UINT64_MAX;
        for (uint64_t k = 0; k < n_fields && !rd->err; k++) {
            uint32_t name;
            if ((rc = read_name_index(l, &prev_name, &name))) return rc;
            uint8_t flags = rd_u8(rd);
            wid id;
            if ((rc = read_id(l, &id))) return rc;
            if (flags > 15 || ((flags & 1) && (flags & 12)) || ((flags & 1) && !id.lamport))
                return WEFT_EMALFORMED;
            /* Stored fields are newer than the document's delete (older
             * ones are dropped when the delete lands), or counter-only. */
            if (id.lamport && weft__wid_cmp(s, id, del) <= 0) return WEFT_EMALFORMED;
            if (!id.lamport && !(flags & 14)) return WEFT_EMALFORMED;
            const uint8_t *val = rd->p;
            if (flags & 1) weft__value_skip(rd);
            size_t vlen = (size_t)(rd->p - val);
            int64_t sum = 0;
            wid max = {0, 0};
            if (flags & 2) {
                sum = zigzag_dec(rd_varint(rd));
                if ((rc = read_id(l, &max))) return rc;
            }
            if (rd->err) break;
            rc = weft__state_restore_field(s, d, name, id, val, vlen, flags & 2, sum, max);
            if (rc) return rc;
            if (flags & 4) {
                size_t tl;
                const uint8_t *tp = rd_lbytes(rd, &tl, SIZE_MAX);
                if (rd->err) break;
                rc = weft__state_restore_text(s, d, name, weft__state_observed(s, d, name), tp, tl);
                if (rc) return rc;
            }
            if (flags & 8) {
                size_t ll;
                const uint8_t *lp = rd_lbytes(rd, &ll, SIZE_MAX);
                if (rd->err) break;
                rc = weft__state_restore_list(s, d, name, weft__state_observed(s, d, name), lp, ll);
                if (rc) return rc;
            }
        }
    }
    return rd->err;
}

/* What a waiting add or text is for: collection, key, field and the write
 * it observed, which must be newer than the field's current winner (else
 * it would not wait). OUT: *doc (created), *name, *observed. */
static int read_waiting_target(loader *l, uint32_t *doc, uint32_t *name, wid *observed) {
    weft_state *s = &l->r->state;
    wreader *rd = &l->rd;
    uint64_t unordered = UINT64_MAX;
    uint32_t coll;
    int rc = read_name_index(l, &unordered, &coll);
    if (rc) return rc;
    size_t klen;
    const uint8_t *key = rd_lbytes(rd, &klen, WEFT_MAX_KEY_BYTES);
    if (rd->err) return rd->err;
    if (klen == 0 || !weft_utf8_valid(key, klen)) return WEFT_EMALFORMED;
    unordered = UINT64_MAX;
    if ((rc = read_name_index(l, &unordered, name)) || (rc = read_id(l, observed))) return rc;
    *doc = weft__state_doc(s, coll, key, klen, 1);
    if (*doc == UINT32_MAX) return WEFT_ENOMEM;
    if (weft__wid_cmp(s, *observed, weft__state_observed(s, *doc, *name)) <= 0)
        return WEFT_EMALFORMED;
    return WEFT_OK;
}

/* Waiting counter adds, after every document. */
static int load_waiting(loader *l) {
    wreader *rd = &l->rd;
    uint64_t n = rd_varint(rd);
    if (!rd->err && n > rd_left(rd) / 6) return WEFT_ETRUNCATED;
    for (uint64_t i = 0; i < n && !rd->err; i++) {
        uint32_t d, name;
        wid observed, id;
        int rc = read_waiting_target(l, &d, &name, &observed);
        if (!rc) rc = read_id(l, &id);
        if (rc) return rc;
        int64_t delta = zigzag_dec(rd_varint(rd));
        if (rd->err) break;
        if (!id.lamport) return WEFT_EMALFORMED;
        if ((rc = weft__state_counter_add(&l->r->state, d, name, id, delta, observed))) return rc;
    }
    return rd->err;
}

/* Waiting texts, after the waiting adds. */
static int load_waiting_texts(loader *l) {
    wreader *rd = &l->rd;
    uint64_t n = rd_varint(rd);
    if (!rd->err && n > rd_left(rd) / 5) return WEFT_ETRUNCATED;
    for (uint64_t i = 0; i < n && !rd->err; i++) {
        uint32_t d, name;
        wid observed;
        int rc = read_waiting_target(l, &d, &name, &observed);
        if (rc) return rc;
        size_t tl;
        const uint8_t *tp = rd_lbytes(rd, &tl, SIZE_MAX);
        if (rd->err) break;
        /* A list's state says so in its kind byte (LISTS.md); else a text's. */
        rc = tl >= 2 && tp[1] == 3
                 ? weft__state_restore_list(&l->r->state, d, name, observed, tp, tl)
                 : weft__state_restore_text(&l->r->state, d, name, observed, tp, tl);
        if (rc) return rc;
    }
    return rd->err;
}

static int load_into(loader *l, const uint8_t *snap, size_t len) {
    weft_replica *r = l->r;
    wreader *rd = &l->rd;
    if (len < 3 + 32 + 32) return WEFT_ETRUNCATED;
    /* Version, kind and suite first, so a snapshot from a newer format says
     * so; then the checksum, before anything else is believed. */
    if (snap[0] != WEFT_FORMAT_VERSION) return WEFT_EVERSION;
    if (snap[1] != WEFT_RECORD_SNAPSHOT) return WEFT_EMALFORMED;
    if (snap[2] != WEFT_SUITE_PLAIN) return WEFT_ESUITE;
    uint8_t sum[32];
    weft_blake2b(sum, 32, snap, len - 32);
    if (memcmp(sum, snap + len - 32, 32) != 0) return WEFT_EMALFORMED;
    rd_init(rd, snap + 3, len - 32 - 3);
    const uint8_t *space = rd_take(rd, 32);
    if (rd->err) return rd->err;
    if (memcmp(space, r->space, 32) != 0) return WEFT_ESPACE;
    r->clock = rd_varint(rd);
    l->n_authors = rd_varint(rd);
    if (rd->err) return rd->err;
    if (r->clock >= WEFT_MAX_LAMPORT) return WEFT_EMALFORMED;
    if (l->n_authors > rd_left(rd) / 33) return WEFT_ETRUNCATED;
    l->authors = weft__alloc(r->a, ((size_t)l->n_authors + 1) * sizeof(uint32_t));
    if (!l->authors) return WEFT_ENOMEM;
    const uint8_t *prev = NULL;
    for (uint64_t i = 0; i < l->n_authors; i++) {
        const uint8_t *key = rd_take(rd, 32);
        uint64_t seq = rd_varint(rd);
        const uint8_t *hash = seq ? rd_take(rd, 32) : NULL;
        uint64_t lamport_end = rd_varint(rd);
        if (rd->err) return rd->err;
        if ((prev && memcmp(prev, key, 32) >= 0) || lamport_end > r->clock) return WEFT_EMALFORMED;
        prev = key;
        uint32_t a = weft__log_author(r->log, key, 1);
        if (a == WEFT_NO_AUTHOR) return WEFT_ENOMEM;
        l->authors[i] = a;
        static const uint8_t zero[32];
        int rc = weft__log_restore_author(r->log, a, seq, hash ? hash : zero, lamport_end);
        if (rc) return rc;
    }
    l->n_names = rd_varint(rd);
    if (!rd->err && l->n_names > rd_left(rd)) return WEFT_ETRUNCATED;
    if (rd->err) return rd->err;
    l->names = weft__alloc(r->a, ((size_t)l->n_names + 1) * sizeof(uint32_t));
    if (!l->names) return WEFT_ENOMEM;
    for (uint64_t i = 0; i < l->n_names; i++) {
        size_t nl;
        const uint8_t *p = rd_lbytes(rd, &nl, WEFT_MAX_NAME_BYTES);
        if (rd->err) return rd->err;
        if (nl == 0 || !weft_utf8_valid(p, nl)) return WEFT_EMALFORMED;
        uint32_t before = (uint32_t)r->state.n_names;
        uint32_t n = weft__state_intern(&r->state, p, nl);
        if (n == UINT32_MAX) return WEFT_ENOMEM;
        if (n != before) return WEFT_EMALFORMED; /* duplicate name */
        l->names[i] = n;
    }
    uint64_t n_colls = rd_varint(rd);
    if (!rd->err && n_colls > rd_left(rd)) return WEFT_ETRUNCATED;
    uint64_t prev_coll = UINT64_MAX;
    for (uint64_t i = 0; i < n_colls && !rd->err; i++) {
        uint32_t coll;
        int rc = read_name_index(l, &prev_coll, &coll);
        if (!rc) rc = load_docs(l, coll);
        if (rc) return rc;
    }
    if (!rd->err) {
        int rc = load_waiting(l);
        if (!rc) rc = load_waiting_texts(l);
        if (rc) return rc;
    }
    if (rd->err) return rd->err;
    return rd_left(rd) ? WEFT_EMALFORMED : WEFT_OK;
}

int weft_replica_load_snapshot(weft_replica *r, const uint8_t *snap, size_t len) {
    return weft__replica_load_snapshot(r, snap, len, NULL, 0);
}

/* The fresh replica's vector equals want (want_len bytes)? */
static int same_vv(weft_replica *fresh, const uint8_t *want, size_t want_len) {
    size_t cap = weft_log_vv_bound(fresh->log), n;
    uint8_t *vv = weft__alloc(fresh->a, cap + 1);
    if (!vv) return WEFT_ENOMEM;
    int rc = weft_log_vv_encode(fresh->log, vv, cap, &n);
    if (!rc && (n != want_len || memcmp(vv, want, n) != 0)) rc = WEFT_EUNCOVERED;
    weft__free(fresh->a, vv);
    return rc;
}

int weft__replica_load_snapshot(weft_replica *r, const uint8_t *snap, size_t len,
                                const uint8_t *want_vv, size_t want_vv_len) {
    validate_or_ret(r && (snap || len == 0), WEFT_EINVAL);
    if (r->broken) return WEFT_ENOMEM;
    if (weft_log_count(r->log) || weft_log_pending_count(r->log) || r->state.n_docs || r->txn_n)
        return WEFT_ESTATE;
    weft_replica_config cfg = {.alloc = r->a,
                               .space = r->space,
                               .author = r->author,
                               .crypto = r->crypto,
                               .keep_records = r->keep_records,
                               .max_pending_bytes = r->max_pending_bytes,
                               .hash_key = r->hash_key,
                               .text_unit = r->state.unit};
    weft_replica *fresh;
    int rc = weft_replica_new(&fresh, &cfg);
    if (rc) return rc;
    loader l = {fresh, {0}, NULL, 0, NULL, 0};
    rc = load_into(&l, snap, len);
    if (!rc && want_vv) rc = same_vv(fresh, want_vv, want_vv_len);
    weft__free(r->a, l.authors);
    weft__free(r->a, l.names);
    if (rc) {
        weft_replica_free(fresh);
        return rc;
    }
    /* Swap the loaded log and state in; the empty ones go with `fresh`. */
    weft_log *log = r->log;
    r->log = fresh->log;
    fresh->log = log;
    weft_state st = r->state;
    r->state = fresh->state;
    fresh->state = st;
    r->state.log = r->log;
    fresh->state.log = fresh->log;
    weft__state_moved(&r->state, r->author, r);
    weft__state_moved(&fresh->state, fresh->author, fresh);
    r->clock = fresh->clock;
    weft_replica_free(fresh);
    return WEFT_OK;
}
