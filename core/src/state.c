/*
 * The document state and its merge rules; see state.h for the rules and
 * docs/FORMAT.md for why they converge. Everything here is order-independent:
 * each rule keeps the maximum of a total order (ids) or a sum of increments
 * filtered by such a maximum, which is what makes replicas agree whatever
 * order changes arrive in.
 */
#include "state.h"
#include "sort.h"
#include "weft/hash.h"
#include "weft/value.h"

int weft__state_init(weft_state *s, const weft_allocator *a, weft_log *log) {
    memset(s, 0, sizeof *s);
    s->a = a;
    s->log = log;
    s->seed = 0x9e3779b97f4a7c15ULL;
    wbuf_init(&s->name_bytes, a);
    wbuf_init(&s->keys, a);
    wtable_init(&s->name_index);
    wtable_init(&s->doc_index);
    wtable_init(&s->waiting_index);
    wbuf_init(&s->textval, a);
    return WEFT_OK;
}

static int wake_waiting(weft_state *s, uint32_t doc);
static void text_detach(weft_state *s, uint32_t doc, wfield *f);

static void field_release(weft_state *s, uint32_t doc, wfield *f) {
    text_detach(s, doc, f);
    if (f->vlen > sizeof f->v.inl) weft__free(s->a, f->v.heap);
    f->vlen = 0;
    if (f->counter) {
        s->counters[f->counter - 1].next_free = s->free_counter;
        s->free_counter = f->counter;
        f->counter = 0;
    }
}

void weft__state_free(weft_state *s) {
    for (size_t i = 0; i < s->n_docs; i++) {
        wdoc *d = &s->docs[i];
        wfield *fs = WEFT_DOC_FIELDS(d);
        for (uint32_t k = 0; k < d->n_fields; k++)
            if (fs[k].vlen > sizeof fs[k].v.inl) weft__free(s->a, fs[k].v.heap);
        if (d->cap_fields) weft__free(s->a, d->more);
    }
    for (size_t i = 0; i < s->n_colls; i++)
        weft__free(s->a, s->colls[i].docs);
    wbuf_free(&s->name_bytes);
    wbuf_free(&s->keys);
    weft__free(s->a, s->name_off);
    weft__free(s->a, s->name_len);
    wtable_free(&s->name_index, s->a);
    weft__free(s->a, s->coll_of_name);
    weft__free(s->a, s->colls);
    weft__free(s->a, s->docs);
    wtable_free(&s->doc_index, s->a);
    weft__free(s->a, s->counters);
    weft__free(s->a, s->waiting);
    wtable_free(&s->waiting_index, s->a);
    weft__free(s->a, s->waiting_doc);
    weft__free(s->a, s->waiting_head);
    weft__free(s->a, s->touched);
    for (size_t i = 0; i < s->n_texts; i++)
        if (s->texts[i]) {
            weft_text_free(s->texts[i]->t);
            weft__list_free(s->texts[i]->l);
            weft__free(s->a, s->texts[i]);
        }
    weft__free(s->a, s->texts);
    weft__free(s->a, s->free_texts);
    weft__free(s->a, s->waiting_texts);
    wbuf_free(&s->textval);
    memset(s, 0, sizeof *s);
}

/* ---- names ---- */

typedef struct bytes_ctx {
    const weft_state *s;
    const uint8_t *p;
    size_t len;
    uint32_t coll;
} bytes_ctx;

static int name_eq(const void *ctx, uint32_t item) {
    const bytes_ctx *b = ctx;
    return b->s->name_len[item] == b->len &&
           memcmp(b->s->name_bytes.p + b->s->name_off[item], b->p, b->len) == 0;
}

uint32_t weft__state_name(const weft_state *s, const uint8_t *name, size_t len) {
    bytes_ctx ctx = {s, name, len, 0};
    return wtable_find(&s->name_index, (uint32_t)weft__hash_bytes(name, len, s->seed), name_eq,
                       &ctx);
}

uint32_t weft__state_intern(weft_state *s, const uint8_t *name, size_t len) {
    uint32_t n = weft__state_name(s, name, len);
    if (n != UINT32_MAX) return n;
    if (len > UINT32_MAX || s->name_bytes.len > UINT32_MAX - len) return UINT32_MAX;
    if (weft__grow(s->a, (void **)&s->name_off, &s->cap_names, s->n_names + 1, sizeof(uint32_t)) ||
        weft__grow(s->a, (void **)&s->name_len, &s->cap_names2, s->n_names + 1, sizeof(uint32_t)))
        return UINT32_MAX;
    size_t off = s->name_bytes.len;
    wbuf_put(&s->name_bytes, name, len);
    if (s->name_bytes.err) {
        s->name_bytes.err = 0;
        return UINT32_MAX;
    }
    n = (uint32_t)s->n_names;
    if (wtable_insert(&s->name_index, s->a, (uint32_t)weft__hash_bytes(name, len, s->seed), n)) {
        s->name_bytes.len = off;
        return UINT32_MAX;
    }
    s->name_off[n] = (uint32_t)off;
    s->name_len[n] = (uint32_t)len;
    s->n_names++;
    return n;
}

const uint8_t *weft__state_name_bytes(const weft_state *s, uint32_t name, size_t *len) {
    *len = s->name_len[name];
    return s->name_bytes.p + s->name_off[name];
}

static int name_cmp(const void *ctx, uint32_t a, uint32_t b) {
    const weft_state *s = ctx;
    size_t la = s->name_len[a], lb = s->name_len[b];
    int c = memcmp(s->name_bytes.p + s->name_off[a], s->name_bytes.p + s->name_off[b],
                   la < lb ? la : lb);
    return c ? c : (la > lb) - (la < lb);
}

/* ---- documents ---- */

static uint32_t doc_tag(const weft_state *s, uint32_t coll, const uint8_t *key, size_t len) {
    return (uint32_t)weft__hash_bytes(key, len, s->seed ^ ((uint64_t)coll * 0x100000001b3ULL));
}

static int doc_eq(const void *ctx, uint32_t item) {
    const bytes_ctx *b = ctx;
    const wdoc *d = &b->s->docs[item];
    return d->coll == b->coll && d->key_len == b->len &&
           weft__bytes_eq(weft__doc_key(b->s, d), b->p, b->len);
}

static wcoll *coll_for(weft_state *s, uint32_t name, int create) {
    if (name < s->cap_coll_of_name && s->coll_of_name[name])
        return &s->colls[s->coll_of_name[name] - 1];
    if (!create) return NULL;
    size_t old = s->cap_coll_of_name;
    if (weft__grow(s->a, (void **)&s->coll_of_name, &s->cap_coll_of_name, (size_t)name + 1,
                   sizeof(uint32_t)))
        return NULL;
    memset(s->coll_of_name + old, 0, (s->cap_coll_of_name - old) * sizeof(uint32_t));
    if (weft__grow(s->a, (void **)&s->colls, &s->cap_colls, s->n_colls + 1, sizeof(wcoll)))
        return NULL;
    wcoll *c = &s->colls[s->n_colls++];
    memset(c, 0, sizeof *c);
    c->name = name;
    c->sorted = 1;
    s->coll_of_name[name] = (uint32_t)s->n_colls;
    return c;
}

uint32_t weft__state_doc_tag(const weft_state *s, uint32_t coll, const uint8_t *key, size_t len) {
    return doc_tag(s, coll, key, len);
}

int weft__state_reserve_docs(weft_state *s, uint32_t coll, size_t n) {
    wcoll *c = coll_for(s, coll, 1);
    if (!c || weft__grow(s->a, (void **)&c->docs, &c->cap_docs, c->n_docs + n, sizeof(uint32_t)) ||
        weft__grow(s->a, (void **)&s->docs, &s->cap_docs, s->n_docs + n, sizeof(wdoc)) ||
        wtable_reserve(&s->doc_index, s->a, n))
        return WEFT_ENOMEM;
    return WEFT_OK;
}

uint32_t weft__state_doc(weft_state *s, uint32_t coll, const uint8_t *key, size_t len, int create) {
    return weft__state_doc_tagged(s, coll, key, len, doc_tag(s, coll, key, len), create);
}

uint32_t weft__state_doc_tagged(weft_state *s, uint32_t coll, const uint8_t *key, size_t len,
                                uint32_t tag, int create) {
    bytes_ctx ctx = {s, key, len, coll};
    uint32_t i = wtable_find(&s->doc_index, tag, doc_eq, &ctx);
    if (i != UINT32_MAX || !create) return i;
    if (len > UINT32_MAX || s->keys.len > UINT32_MAX - len) return UINT32_MAX;
    wcoll *c = coll_for(s, coll, 1);
    if (!c || weft__grow(s->a, (void **)&c->docs, &c->cap_docs, c->n_docs + 1, sizeof(uint32_t)) ||
        weft__grow(s->a, (void **)&s->docs, &s->cap_docs, s->n_docs + 1, sizeof(wdoc)))
        return UINT32_MAX;
    size_t off = s->keys.len;
    if (len > WEFT_DOC_KEY_INLINE) {
        wbuf_put(&s->keys, key, len);
        if (s->keys.err) {
            s->keys.err = 0;
            return UINT32_MAX;
        }
    }
    i = (uint32_t)s->n_docs;
    if (wtable_insert(&s->doc_index, s->a, tag, i)) {
        s->keys.len = off;
        return UINT32_MAX;
    }
    wdoc *d = &s->docs[i];
    memset(d, 0, sizeof *d);
    d->coll = coll;
    d->key_len = (uint32_t)len;
    if (len > WEFT_DOC_KEY_INLINE)
        d->key.off = (uint32_t)off;
    else
        memcpy(d->key.inl, key, len);
    s->n_docs++;
    /* A key past the current last one keeps the collection sorted: the
     * common case of ascending ids costs no re-sort. */
    if (c->sorted && c->n_docs) {
        const wdoc *last = &s->docs[c->docs[c->n_docs - 1]];
        size_t m = last->key_len < len ? last->key_len : len;
        int cmp = memcmp(weft__doc_key(s, last), key, m);
        if (cmp > 0 || (cmp == 0 && last->key_len >= len)) c->sorted = 0;
    }
    c->docs[c->n_docs++] = i;
    return i;
}

static int key_cmp(const void *ctx, uint32_t a, uint32_t b) {
    const weft_state *s = ctx;
    const wdoc *x = &s->docs[a], *y = &s->docs[b];
    int c = memcmp(weft__doc_key(s, x), weft__doc_key(s, y),
                   x->key_len < y->key_len ? x->key_len : y->key_len);
    return c ? c : (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

wcoll *weft__state_sorted_coll(weft_state *s, uint32_t coll_name) {
    wcoll *c = coll_for(s, coll_name, 0);
    if (!c) return NULL;
    if (!c->sorted) {
        if (weft__sort_u32(c->docs, c->n_docs, key_cmp, s, s->a)) return NULL;
        c->sorted = 1;
    }
    return c;
}

/* ---- ids ---- */

int weft__wid_cmp(const weft_state *s, wid a, wid b) {
    if (a.lamport != b.lamport) return a.lamport < b.lamport ? -1 : 1;
    if (a.author == b.author || a.lamport == 0) return 0;
    return memcmp(weft__log_author_key(s->log, a.author), weft__log_author_key(s->log, b.author),
                  32);
}

static wid field_id(const wfield *f) {
    return (wid){f->lamport, f->author};
}
static wid doc_del_id(const wdoc *d) {
    return (wid){d->del_lamport, d->del_author};
}

wfield *weft__state_field(const weft_state *s, const wdoc *cd, uint32_t name) {
    wdoc *d = (wdoc *)cd; /* fields are reached through the record either way */
    (void)s;
    wfield *fs = WEFT_DOC_FIELDS(d);
    for (uint32_t k = 0; k < d->n_fields; k++)
        if (fs[k].name == name) return &fs[k];
    return NULL;
}

static void touch(weft_state *s, uint32_t doc) {
    wdoc *d = &s->docs[doc];
    if (d->touched == s->epoch) return;
    if (weft__grow(s->a, (void **)&s->touched, &s->cap_touched, s->n_touched + 1, sizeof(uint32_t)))
        return; /* the notification is best effort; the state is still right */
    d->touched = s->epoch;
    s->touched[s->n_touched++] = doc;
}

void weft__state_begin_batch(weft_state *s) {
    s->epoch++;
    if (s->epoch == 0) { /* wrapped: clear stale marks so none looks current */
        for (size_t i = 0; i < s->n_docs; i++)
            s->docs[i].touched = 0;
        s->epoch = 1;
    }
    s->n_touched = 0;
}

static wfield *add_field(weft_state *s, wdoc *d, uint32_t name) {
    if (d->cap_fields == 0 && d->n_fields == 1) {
        /* The second field moves both out of the record. */
        wfield *nf = weft__alloc(s->a, 2 * sizeof *nf);
        if (!nf) return NULL;
        nf[0] = d->first;
        d->more = nf;
        d->cap_fields = 2;
    } else if (d->cap_fields && d->n_fields == d->cap_fields) {
        size_t cap = d->cap_fields;
        /* Grow by small steps: most documents have a handful of fields. */
        size_t ncap = cap < 4 ? cap + 1 : cap * 2;
        if (ncap > UINT32_MAX) return NULL;
        wfield *nf = weft__realloc(s->a, d->more, ncap * sizeof *nf);
        if (!nf) return NULL;
        d->more = nf;
        d->cap_fields = (uint32_t)ncap;
    }
    wfield *f = &WEFT_DOC_FIELDS(d)[d->n_fields++];
    memset(f, 0, sizeof *f);
    f->name = name;
    return f;
}

/* Heap values are allocated in 16-byte classes, so overwriting a value with
 * one of similar size (the usual edit) reuses its block. */
static size_t value_class(size_t vlen) {
    return (vlen + 15) & ~(size_t)15;
}

static int set_value(weft_state *s, wfield *f, const uint8_t *val, size_t vlen) {
    if (vlen > UINT32_MAX - 16) return WEFT_ETOOBIG;
    uint8_t *dst;
    if (vlen <= sizeof f->v.inl) {
        if (f->vlen > sizeof f->v.inl) weft__free(s->a, f->v.heap);
        dst = f->v.inl;
    } else if (f->vlen > sizeof f->v.inl && value_class(f->vlen) == value_class(vlen)) {
        dst = f->v.heap;
    } else {
        uint8_t *p =
            weft__realloc(s->a, f->vlen > sizeof f->v.inl ? f->v.heap : NULL, value_class(vlen));
        if (!p) return WEFT_ENOMEM;
        f->v.heap = dst = p;
    }
    if (vlen) memcpy(dst, val, vlen);
    f->vlen = (uint32_t)vlen;
    return WEFT_OK;
}

int weft__state_write(weft_state *s, uint32_t doc, uint32_t name, wid id, const uint8_t *val,
                      size_t vlen) {
    wdoc *d = &s->docs[doc];
    if (weft__wid_cmp(s, id, doc_del_id(d)) <= 0) return WEFT_OK; /* under a delete */
    wfield *f = weft__state_field(s, d, name);
    if (f && weft__wid_cmp(s, id, field_id(f)) <= 0) return WEFT_OK; /* older write */
    if (!f && !(f = add_field(s, d, name))) return WEFT_ENOMEM;
    if (f->counter) {
        /* A new winning write resets the counter: its adds observed the
         * write this one supersedes. */
        s->counters[f->counter - 1].next_free = s->free_counter;
        s->free_counter = f->counter;
        f->counter = 0;
    }
    text_detach(s, doc, f); /* the text lived under the write this one supersedes */
    int rc = set_value(s, f, val, vlen);
    if (rc) return rc;
    if (!vlen) f->v.text = 0;
    f->lamport = id.lamport;
    f->author = id.author;
    touch(s, doc);
    return wake_waiting(s, doc);
}

int weft__state_delete_doc(weft_state *s, uint32_t doc, wid id) {
    wdoc *d = &s->docs[doc];
    if (weft__wid_cmp(s, id, doc_del_id(d)) <= 0) return WEFT_OK;
    d->del_lamport = id.lamport;
    d->del_author = id.author;
    /* Fields written before the delete can never be visible again, nor can
     * their counters count again: drop them now (the delete keeps the
     * order they were in, so nothing later needs them). */
    uint32_t kept = 0;
    wfield *fs = WEFT_DOC_FIELDS(d);
    for (uint32_t k = 0; k < d->n_fields; k++) {
        wfield *f = &fs[k];
        if (weft__wid_cmp(s, field_id(f), id) < 0)
            field_release(s, doc, f);
        else
            fs[kept++] = *f;
    }
    d->n_fields = kept;
    touch(s, doc);
    return wake_waiting(s, doc);
}

wid weft__state_observed(const weft_state *s, uint32_t doc, uint32_t name) {
    const wdoc *d = &s->docs[doc];
    const wfield *f = weft__state_field(s, d, name);
    wid del = doc_del_id(d);
    if (f && weft__wid_cmp(s, field_id(f), del) > 0) return field_id(f);
    return del;
}

/* Counts an add under the field's current winning write. */
static int count_add(weft_state *s, uint32_t doc, uint32_t name, wid id, int64_t delta) {
    wdoc *d = &s->docs[doc];
    wfield *f = weft__state_field(s, d, name);
    if (!f && !(f = add_field(s, d, name))) return WEFT_ENOMEM;
    if (!f->counter) {
        uint32_t c = s->free_counter;
        if (c) {
            s->free_counter = s->counters[c - 1].next_free;
        } else {
            if (s->n_counters >= UINT32_MAX - 1 ||
                weft__grow(s->a, (void **)&s->counters, &s->cap_counters, s->n_counters + 1,
                           sizeof(wcounter)))
                return WEFT_ENOMEM;
            c = (uint32_t)++s->n_counters;
        }
        memset(&s->counters[c - 1], 0, sizeof(wcounter));
        f->counter = c;
    }
    wcounter *ct = &s->counters[f->counter - 1];
    ct->sum = (int64_t)((uint64_t)ct->sum + (uint64_t)delta); /* wraps, never UB */
    wid m = {ct->max_lamport, ct->max_author};
    if (weft__wid_cmp(s, id, m) > 0) {
        ct->max_lamport = id.lamport;
        ct->max_author = id.author;
    }
    touch(s, doc);
    return WEFT_OK;
}

/* ---- waiting adds ---- */

typedef struct waiting_key {
    const weft_state *s;
    uint32_t doc;
} waiting_key;

static int waiting_doc_eq(const void *ctx, uint32_t item) {
    const waiting_key *k = ctx;
    return k->s->waiting_doc[item] == k->doc;
}

static uint32_t waiting_tag(uint32_t doc) {
    return doc * 0x9e3779b1u; /* documents are numbered densely: spread them */
}

/* The head of doc's chain of waiting adds; NULL when it has none (create=0)
 * or out of memory (create=1). */
static uint32_t *waiting_head(weft_state *s, uint32_t doc, int create) {
    waiting_key k = {s, doc};
    uint32_t item = wtable_find(&s->waiting_index, waiting_tag(doc), waiting_doc_eq, &k);
    if (item != UINT32_MAX) return &s->waiting_head[item];
    if (!create) return NULL;
    size_t n = s->n_waiting_docs;
    if (n >= UINT32_MAX - 1 ||
        weft__grow(s->a, (void **)&s->waiting_doc, &s->cap_waiting_docs, n + 1, sizeof(uint32_t)) ||
        weft__grow(s->a, (void **)&s->waiting_head, &s->cap_waiting_docs2, n + 1,
                   sizeof(uint32_t)) ||
        wtable_insert(&s->waiting_index, s->a, waiting_tag(doc), (uint32_t)n))
        return NULL;
    s->waiting_doc[n] = doc;
    s->waiting_head[n] = 0;
    s->n_waiting_docs = n + 1;
    return &s->waiting_head[n];
}

static int park_add(weft_state *s, uint32_t doc, uint32_t name, wid id, int64_t delta,
                    wid observed) {
    uint32_t *head = waiting_head(s, doc, 1);
    if (!head) return WEFT_ENOMEM;
    uint32_t i = s->free_waiting;
    if (i) {
        s->free_waiting = s->waiting[i - 1].next;
    } else {
        size_t item = (size_t)(head - s->waiting_head); /* survive the grow */
        if (s->n_waiting >= UINT32_MAX - 1 ||
            weft__grow(s->a, (void **)&s->waiting, &s->cap_waiting, s->n_waiting + 1,
                       sizeof(wwaiting)))
            return WEFT_ENOMEM;
        head = &s->waiting_head[item];
        i = (uint32_t)++s->n_waiting;
    }
    s->waiting[i - 1] = (wwaiting){.obs_lamport = observed.lamport,
                                   .lamport = id.lamport,
                                   .obs_author = observed.author,
                                   .author = id.author,
                                   .doc = doc,
                                   .name = name,
                                   .delta = delta,
                                   .next = *head};
    *head = i;
    s->live_waiting++;
    return WEFT_OK;
}

/* After doc's winning writes changed: an add whose observed write now wins
 * counts, one whose observed write can no longer win (something newer won)
 * is dropped, the rest keep waiting. */
static int wake_texts(weft_state *s, uint32_t doc);

static int wake_waiting(weft_state *s, uint32_t doc) {
    if (s->n_waiting_texts) {
        int rc = wake_texts(s, doc);
        if (rc) return rc;
    }
    if (!s->live_waiting) return WEFT_OK;
    uint32_t *link = waiting_head(s, doc, 0);
    while (link && *link) {
        uint32_t i = *link - 1;
        wwaiting w = s->waiting[i];
        int c = weft__wid_cmp(s, (wid){w.obs_lamport, w.obs_author},
                              weft__state_observed(s, doc, w.name));
        if (c > 0) {
            link = &s->waiting[i].next;
            continue;
        }
        *link = w.next;
        s->waiting[i].next = s->free_waiting;
        s->free_waiting = i + 1;
        s->live_waiting--;
        if (c == 0) {
            int rc = count_add(s, doc, w.name, (wid){w.lamport, w.author}, w.delta);
            if (rc) return rc;
        }
    }
    return WEFT_OK;
}

int weft__state_each_waiting(const weft_state *s, int (*fn)(void *ctx, const wwaiting *w),
                             void *ctx) {
    for (size_t i = 0; i < s->n_waiting_docs; i++)
        for (uint32_t j = s->waiting_head[i]; j; j = s->waiting[j - 1].next) {
            int rc = fn(ctx, &s->waiting[j - 1]);
            if (rc) return rc;
        }
    return WEFT_OK;
}

int weft__state_counter_add(weft_state *s, uint32_t doc, uint32_t name, wid id, int64_t delta,
                            wid observed) {
    int c = weft__wid_cmp(s, observed, weft__state_observed(s, doc, name));
    if (c < 0) return WEFT_OK; /* targets a superseded write: never counts */
    if (c > 0) return park_add(s, doc, name, id, delta, observed);
    return count_add(s, doc, name, id, delta);
}

/* A text's visible value: the string's head, then its UTF-8 read straight
 * in after it (a text holds valid UTF-8 by construction). */
static const uint8_t *text_value(weft_state *s, const weft_text *t, size_t *len) {
    size_t n = weft_text_utf8_length(t), got;
    s->textval.len = 0;
    if (wbuf_reserve(&s->textval, n + 11)) {
        s->textval.err = 0;
        return NULL; /* out of memory: reads say so, hashes fail below */
    }
    uint8_t *p = s->textval.p;
    p[0] = WEFT_TYPE_STRING;
    size_t head = 1 + varint_put(p + 1, n);
    weft_text_read(t, (char *)p + head, n, &got);
    *len = head + got;
    return p;
}

const uint8_t *weft__state_value(weft_state *s, const wdoc *d, const wfield *f, size_t *len) {
    (void)d;
    const wlist *l = weft__state_field_list(s, f);
    if (l) {
        s->textval.len = 0;
        if (weft__list_value(l, &s->textval)) {
            s->textval.err = 0;
            return NULL; /* out of memory: reads say so, hashes fail below */
        }
        *len = s->textval.len;
        return s->textval.p;
    }
    const weft_text *t = weft__state_field_text(s, f);
    if (t) return text_value(s, t, len);
    const uint8_t *val = f->vlen > sizeof f->v.inl ? f->v.heap : f->v.inl;
    if (!f->counter) {
        *len = f->vlen;
        return f->vlen ? val : NULL;
    }
    const wcounter *ct = &s->counters[f->counter - 1];
    int64_t base = 0;
    if (f->vlen) { /* a put: adds apply to an int base, and leave others be */
        weft_value v;
        if (weft_value_read(&v, NULL, val, f->vlen) || v.type != WEFT_TYPE_INT) {
            *len = f->vlen;
            return val;
        }
        base = v.i;
    } else if (ct->max_lamport == 0) {
        return NULL;
    }
    int64_t sum = (int64_t)((uint64_t)base + (uint64_t)ct->sum);
    weft_value_write_int(s->scratch, sizeof s->scratch, len, sum);
    return s->scratch;
}

/* ---- texts ---- */

void weft__state_text_setup(weft_state *s, const uint8_t *self, weft_text_unit unit, wtext_fn fn,
                            void *ud) {
    s->self = self;
    s->unit = unit;
    s->on_text = fn;
    s->text_ud = ud;
}

void weft__state_moved(weft_state *s, const uint8_t *self, void *ud) {
    s->self = self;
    s->text_ud = ud;
    for (size_t i = 0; i < s->n_texts; i++)
        if (s->texts[i]) s->texts[i]->s = s;
}

static void text_delta(void *ud, const weft_text_delta *d) {
    wtext *w = ud;
    if (w->attached && w->s->on_text) w->s->on_text(w->s->text_ud, w->doc, w->name, d);
}

/* A new, empty text for ops observing obs; 1 + its slot, 0 when out of
 * memory. */
static uint32_t text_new(weft_state *s, uint32_t doc, uint32_t name, wid obs) {
    if (weft__grow(s->a, (void **)&s->texts, &s->cap_texts, s->n_texts + 1, sizeof(wtext *)) ||
        weft__grow(s->a, (void **)&s->free_texts, &s->cap_free_texts, s->n_texts + 1,
                   sizeof(uint32_t)))
        return 0;
    wtext *w = weft__alloc(s->a, sizeof *w);
    if (!w) return 0;
    *w = (wtext){
        .s = s, .obs_lamport = obs.lamport, .obs_author = obs.author, .doc = doc, .name = name};
    weft_text_config cfg = {
        .alloc = s->a, .author = s->self, .unit = s->unit, .on_delta = text_delta, .ud = w};
    if (weft_text_new(&w->t, &cfg)) {
        weft__free(s->a, w);
        return 0;
    }
    uint32_t slot = s->n_free_texts ? s->free_texts[--s->n_free_texts] : (uint32_t)s->n_texts++;
    s->texts[slot] = w;
    return slot + 1;
}

static void text_free(weft_state *s, uint32_t slot) {
    wtext *w = s->texts[slot];
    weft_text_free(w->t);
    weft__list_free(w->l);
    weft__free(s->a, w);
    s->texts[slot] = NULL;
    s->free_texts[s->n_free_texts++] = slot; /* room was made when it was taken */
}

/* Drops the field's text: a newer write won (or the field goes). */
static void text_detach(weft_state *s, uint32_t doc, wfield *f) {
    if (f->vlen || !f->v.text) return;
    text_free(s, f->v.text - 1);
    f->v.text = 0;
    if (s->on_text) s->on_text(s->text_ud, doc, f->name, NULL);
}

/* Makes waiting text `slot` the field's text. */
static int text_attach(weft_state *s, uint32_t slot) {
    wtext *w = s->texts[slot];
    wdoc *d = &s->docs[w->doc];
    wfield *f = weft__state_field(s, d, w->name);
    if (!f && !(f = add_field(s, d, w->name))) return WEFT_ENOMEM;
    if (f->vlen) { /* a put won: the text can never be seen */
        text_free(s, slot);
        return WEFT_OK;
    }
    text_detach(s, w->doc, f); /* (none: it lived under an older write) */
    f->v.text = slot + 1;
    w->attached = 1;
    touch(s, w->doc);
    if (s->on_text) s->on_text(s->text_ud, w->doc, w->name, NULL);
    return WEFT_OK;
}

/* After doc's winning writes changed: a waiting text whose write now wins
 * is attached, one whose write can no longer win is dropped. */
static int wake_texts(weft_state *s, uint32_t doc) {
    size_t keep = 0;
    int rc = WEFT_OK;
    for (size_t i = 0; i < s->n_waiting_texts; i++) {
        uint32_t slot = s->waiting_texts[i];
        wtext *w = s->texts[slot];
        int c = rc || w->doc != doc ? 1
                                    : weft__wid_cmp(s, (wid){w->obs_lamport, w->obs_author},
                                                    weft__state_observed(s, doc, w->name));
        if (c > 0)
            s->waiting_texts[keep++] = slot;
        else if (c < 0)
            text_free(s, slot);
        else
            rc = text_attach(s, slot);
    }
    s->n_waiting_texts = keep;
    return rc;
}

/* The text record (slot) ops observing obs build; NULL: dropped. */
static int wtext_for(weft_state *s, uint32_t doc, uint32_t name, wid obs, wtext **out);

int weft__state_text_for(weft_state *s, uint32_t doc, uint32_t name, wid obs, weft_text **out) {
    wtext *w;
    int rc = wtext_for(s, doc, name, obs, &w);
    *out = w ? w->t : NULL;
    return rc;
}

int weft__state_list_for(weft_state *s, uint32_t doc, uint32_t name, wid obs, wlist **out) {
    wtext *w;
    int rc = wtext_for(s, doc, name, obs, &w);
    *out = NULL;
    if (rc || !w) return rc;
    if (!w->l) {
        if (!(w->l = weft__list_new(s->a, s->self))) return WEFT_ENOMEM;
        /* The field's value turns from the text to the list. */
        if (w->attached && s->on_text) s->on_text(s->text_ud, doc, name, NULL);
    }
    *out = w->l;
    return WEFT_OK;
}

int weft__state_list_op(weft_state *s, uint32_t doc, uint32_t name, wid obs, const wlist_op *op) {
    wlist *l;
    int rc = weft__state_list_for(s, doc, name, obs, &l);
    if (rc || !l) return rc;
    rc = weft__list_apply(l, op);
    touch(s, doc);
    return rc;
}

int weft__state_restore_list(weft_state *s, uint32_t doc, uint32_t name, wid obs,
                             const uint8_t *state, size_t len) {
    if (weft__wid_cmp(s, obs, weft__state_observed(s, doc, name)) < 0) return WEFT_EMALFORMED;
    wlist *l;
    int rc = weft__state_list_for(s, doc, name, obs, &l);
    if (rc) return rc;
    if (!l) return WEFT_EMALFORMED; /* under a put */
    rc = weft__list_load(l, state, len);
    return rc == WEFT_ESTATE ? WEFT_EMALFORMED : rc; /* ESTATE: the same list twice */
}

static int wtext_for(weft_state *s, uint32_t doc, uint32_t name, wid obs, wtext **out) {
    *out = NULL;
    int c = weft__wid_cmp(s, obs, weft__state_observed(s, doc, name));
    if (c < 0) return WEFT_OK; /* the write it observed lost: never seen */
    wdoc *d = &s->docs[doc];
    if (c == 0) {
        wfield *f = weft__state_field(s, d, name);
        if (f && f->vlen) return WEFT_OK; /* under a put, which stays visible */
        if (f && f->v.text) {
            *out = s->texts[f->v.text - 1];
            return WEFT_OK;
        }
        uint32_t slot = text_new(s, doc, name, obs);
        if (!slot) return WEFT_ENOMEM;
        if (!f && !(f = add_field(s, d, name))) {
            text_free(s, slot - 1);
            return WEFT_ENOMEM;
        }
        f->v.text = slot;
        s->texts[slot - 1]->attached = 1;
        *out = s->texts[slot - 1];
        return WEFT_OK;
    }
    for (size_t i = 0; i < s->n_waiting_texts; i++) {
        wtext *w = s->texts[s->waiting_texts[i]];
        if (w->doc == doc && w->name == name && w->obs_lamport == obs.lamport &&
            w->obs_author == obs.author) {
            *out = w;
            return WEFT_OK;
        }
    }
    if (weft__grow(s->a, (void **)&s->waiting_texts, &s->cap_waiting_texts, s->n_waiting_texts + 1,
                   sizeof(uint32_t)))
        return WEFT_ENOMEM;
    uint32_t slot = text_new(s, doc, name, obs);
    if (!slot) return WEFT_ENOMEM;
    s->waiting_texts[s->n_waiting_texts++] = slot - 1;
    *out = s->texts[slot - 1];
    return WEFT_OK;
}

int weft__state_text_op(weft_state *s, uint32_t doc, uint32_t name, wid obs,
                        const weft_text_op *op) {
    weft_text *t;
    int rc = weft__state_text_for(s, doc, name, obs, &t);
    if (rc || !t) return rc;
    rc = weft__text_apply_op(t, op);
    touch(s, doc);
    /* Refusals are the same on every replica (the op contradicts the text
     * or passes its limits; a full waiting area needs a hostile author):
     * the op is dropped and the change still counts. */
    return rc == WEFT_ENOMEM ? rc : WEFT_OK;
}

int weft__state_each_waiting_text(const weft_state *s, int (*fn)(void *ctx, const wtext *w),
                                  void *ctx) {
    for (size_t i = 0; i < s->n_waiting_texts; i++) {
        int rc = fn(ctx, s->texts[s->waiting_texts[i]]);
        if (rc) return rc;
    }
    return WEFT_OK;
}

int weft__state_restore_text(weft_state *s, uint32_t doc, uint32_t name, wid obs,
                             const uint8_t *state, size_t len) {
    if (weft__wid_cmp(s, obs, weft__state_observed(s, doc, name)) < 0) return WEFT_EMALFORMED;
    weft_text *t;
    int rc = weft__state_text_for(s, doc, name, obs, &t);
    if (rc) return rc;
    if (!t) return WEFT_EMALFORMED; /* under a put */
    rc = weft_text_load(t, state, len);
    return rc == WEFT_ESTATE ? WEFT_EMALFORMED : rc; /* ESTATE: the same text twice */
}

int weft__state_visible(weft_state *s, const wdoc *d, const wfield *f) {
    size_t len;
    return (!f->vlen && f->v.text) || weft__state_value(s, d, f, &len);
}

/* ---- state hash ---- */

static void hash_lbytes(weft_blake2b_state *h, const uint8_t *p, size_t n) {
    uint8_t v[10];
    weft_blake2b_update(h, v, varint_put(v, n));
    weft_blake2b_update(h, p, n);
}

typedef struct field_sort_ctx {
    const weft_state *s;
    const wfield *fields;
} field_sort_ctx;

static int field_name_cmp(const void *ctx, uint32_t a, uint32_t b) {
    const field_sort_ctx *c = ctx;
    return name_cmp(c->s, c->fields[a].name, c->fields[b].name);
}

/* A text's marks in the state hash (FORMAT.md §9): its spans (maximal, so
 * the bytes are a function of what weft_text_spans returns), each as its
 * UTF-8 length, its number of marks and each mark's type and value. */
typedef struct span_hash {
    wbuf b;
    uint64_t n;
    int any;
} span_hash;

static int hash_span(void *ud, const char *utf8, size_t len, const weft_text_mark *m, size_t n) {
    (void)utf8;
    span_hash *x = ud;
    x->n++;
    x->any |= n != 0;
    wbuf_varint(&x->b, len);
    wbuf_varint(&x->b, n);
    for (size_t i = 0; i < n; i++) {
        wbuf_lbytes(&x->b, m[i].type, m[i].type_len);
        wbuf_put(&x->b, m[i].value, m[i].value_len);
    }
    return x->b.err;
}

/* Hashes the marks of text t after its string, iff a visible character
 * has one: 0xff (no value tag), varint n_spans, the spans. A text without
 * marks hashes as the string alone, as before marks existed. */
static int hash_marks(weft_state *s, weft_blake2b_state *h, const weft_text *t) {
    if (!weft__text_mark_ops(t)) return WEFT_OK; /* the common case: plain text */
    span_hash x = {.n = 0};
    wbuf_init(&x.b, s->a);
    int rc = weft_text_spans(t, hash_span, &x);
    if (!rc && x.any) {
        uint8_t v[11] = {0xff};
        weft_blake2b_update(h, v, 1 + varint_put(v + 1, x.n));
        weft_blake2b_update(h, x.b.p, x.b.len);
    }
    wbuf_free(&x.b);
    return rc;
}

int weft__state_hash(weft_state *s, uint8_t out[32]) {
    weft_blake2b_state h;
    weft_blake2b_init(&h, 32, NULL, 0);
    static const uint8_t domain[] = "weft-state-v1";
    weft_blake2b_update(&h, domain, sizeof domain - 1);
    uint32_t *colls = weft__alloc(s->a, (s->n_colls + 1) * sizeof *colls);
    uint32_t *order = NULL;
    size_t cap_order = 0;
    int rc = colls ? WEFT_OK : WEFT_ENOMEM;
    for (size_t i = 0; i < s->n_colls && !rc; i++)
        colls[i] = s->colls[i].name;
    if (!rc) rc = weft__sort_u32(colls, s->n_colls, name_cmp, s, s->a);
    for (size_t ci = 0; ci < s->n_colls && !rc; ci++) {
        wcoll *c = weft__state_sorted_coll(s, colls[ci]);
        if (!c) {
            rc = WEFT_ENOMEM;
            break;
        }
        size_t cname_len;
        const uint8_t *cname = weft__state_name_bytes(s, c->name, &cname_len);
        for (size_t di = 0; di < c->n_docs && !rc; di++) {
            const wdoc *d = &s->docs[c->docs[di]];
            if (weft__grow(s->a, (void **)&order, &cap_order, d->n_fields + 1, sizeof(uint32_t))) {
                rc = WEFT_ENOMEM;
                break;
            }
            for (uint32_t k = 0; k < d->n_fields; k++)
                order[k] = k;
            field_sort_ctx fc = {s, WEFT_DOC_FIELDS(d)};
            rc = weft__sort_u32(order, d->n_fields, field_name_cmp, &fc, s->a);
            for (uint32_t k = 0; k < d->n_fields && !rc; k++) {
                const wfield *f = &WEFT_DOC_FIELDS(d)[order[k]];
                size_t vlen;
                const uint8_t *val = weft__state_value(s, d, f, &vlen);
                if (!val) {
                    if (!f->vlen && f->v.text) rc = WEFT_ENOMEM;
                    continue;
                }
                size_t fname_len;
                const uint8_t *fname = weft__state_name_bytes(s, f->name, &fname_len);
                hash_lbytes(&h, cname, cname_len);
                hash_lbytes(&h, weft__doc_key(s, d), d->key_len);
                hash_lbytes(&h, fname, fname_len);
                weft_blake2b_update(&h, val, vlen);
                const weft_text *t =
                    weft__state_field_list(s, f) ? NULL : weft__state_field_text(s, f);
                if (t) rc = hash_marks(s, &h, t);
            }
        }
    }
    weft__free(s->a, colls);
    weft__free(s->a, order);
    weft_blake2b_final(&h, out);
    return rc;
}

int weft__state_restore_field(weft_state *s, uint32_t doc, uint32_t name, wid id,
                              const uint8_t *val, size_t vlen, int has_counter, int64_t sum,
                              wid max_add) {
    wdoc *d = &s->docs[doc];
    wfield *f = add_field(s, d, name);
    if (!f) return WEFT_ENOMEM;
    int rc = set_value(s, f, val, vlen);
    if (rc) {
        d->n_fields--;
        return rc;
    }
    f->lamport = id.lamport;
    f->author = id.author;
    if (has_counter) {
        if (weft__grow(s->a, (void **)&s->counters, &s->cap_counters, s->n_counters + 1,
                       sizeof(wcounter)))
            return WEFT_ENOMEM;
        wcounter *ct = &s->counters[s->n_counters++];
        memset(ct, 0, sizeof *ct);
        ct->sum = sum;
        ct->max_lamport = max_add.lamport;
        ct->max_author = max_add.author;
        f->counter = (uint32_t)s->n_counters;
    }
    return WEFT_OK;
}
