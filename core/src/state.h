/*
 * The materialized document state: collections -> documents -> fields, and
 * the CRDT rules that merge ops into it. It keeps what merging needs and no
 * history: per field the winning write's id and value; per document the id of
 * its newest delete; per counter the running sum under its current reset.
 *
 * Ids are (lamport, author) pairs, ordered by lamport then by the author's
 * 32-byte key. The rules (docs/FORMAT.md, "Merge rules"):
 *  - put/field delete: the write with the greatest id wins; a document
 *    delete counts as a write of every field of the document;
 *  - counter add: counts iff the write it observed is the field's winning
 *    write, so a later reset drops concurrent increments, as in Automerge.
 *    An add can arrive before the write it observed (a member can omit that
 *    write from its change's deps): it waits, and counts if that write
 *    arrives and wins, so every arrival order gives the same sum;
 *  - a field is visible when its winning write is a put, or when adds count
 *    under a winning delete; a document is visible with one visible field.
 */
#ifndef WEFT_STATE_H
#define WEFT_STATE_H

#include "log_int.h"
#include "table.h"
#include "list.h"
#include "text_int.h"

typedef struct wid {
    uint64_t lamport; /* 0: no write */
    uint32_t author;
} wid;

typedef struct wfield {
    uint64_t lamport; /* id of the latest field write; 0: only a counter lives here */
    uint32_t author;
    uint32_t name;
    uint32_t vlen;    /* encoded value length; 0 for a delete */
    uint32_t counter; /* 1 + index into counters, 0 for none */
    union {
        uint8_t inl[8];
        uint8_t *heap;
        uint32_t text; /* vlen 0: 1 + index into texts of the field's text, 0 none */
    } v;
} wfield;

/* Short keys and the first field live inside the document record, so the
 * common lookup touches one hash slot and one record: merging is bound by
 * cache misses on random keys, not by instructions. */
#define WEFT_DOC_KEY_INLINE 20

typedef struct wdoc {
    uint32_t coll;
    uint32_t key_len;
    union {
        uint8_t inl[WEFT_DOC_KEY_INLINE];
        uint32_t off; /* into keys, when key_len > WEFT_DOC_KEY_INLINE */
    } key;
    uint32_t del_author;
    uint64_t del_lamport;
    uint32_t n_fields, cap_fields; /* cap_fields 0: fields live in `first` (n_fields <= 1) */
    wfield *more;                  /* the fields, when cap_fields > 0 */
    wfield first;
    uint32_t touched; /* batch epoch that last touched it */
} wdoc;

/* The document's field array (works on const and non-const documents). */
#define WEFT_DOC_FIELDS(d) ((d)->cap_fields ? (d)->more : &(d)->first)

typedef struct wcounter {
    int64_t sum;
    uint64_t max_lamport; /* greatest counted add */
    uint32_t max_author;
    uint32_t next_free;
} wcounter;

/* A counter add whose observed write has not arrived (see the rules above).
 * Honest writers never make one: the observed write is in the change's
 * causal past. Chained per document: 1 + index of the next, 0 for none. */
typedef struct wwaiting {
    uint64_t obs_lamport, lamport; /* the observed write and the add itself */
    uint32_t obs_author, author;
    uint32_t doc, name;
    int64_t delta;
    uint32_t next;
} wwaiting;

/* A text (docs/TEXT.md, "In a document"): the sequence CRDT that text ops
 * observing one write of a field build. Like a counter it lives under the
 * field's winning write: text ops observing that write (a delete, or none)
 * make the field's visible value; a newer write replaces the text as a
 * whole. Ops observing a write that has not arrived build a waiting text,
 * attached when that write arrives and wins. */
typedef struct wtext {
    weft_text *t;
    wlist *l; /* list ops observing the same write build this; once it
               * exists it is the field's value (docs/LISTS.md) */
    struct weft_state *s;
    uint64_t obs_lamport;
    uint32_t obs_author;
    uint32_t doc, name;
    int attached; /* the field's text (else waiting) */
} wtext;

/* Reports a visible change of a field's text: a splice, or NULL when the
 * text was replaced as a whole (read it again). */
typedef void (*wtext_fn)(void *ud, uint32_t doc, uint32_t name, const weft_text_delta *d);

typedef struct wcoll {
    uint32_t name;
    uint32_t *docs; /* doc numbers; sorted by key when `sorted` */
    size_t n_docs, cap_docs;
    int sorted;
} wcoll;

typedef struct weft_state {
    const weft_allocator *a;
    weft_log *log; /* for author keys */
    uint64_t seed;
    /* interned names: collections and fields */
    wbuf name_bytes;
    uint32_t *name_off, *name_len;
    size_t n_names, cap_names, cap_names2;
    wtable name_index;
    uint32_t *coll_of_name; /* name -> 1 + collection index, 0 none */
    size_t cap_coll_of_name;
    wcoll *colls;
    size_t n_colls, cap_colls;
    /* documents */
    wbuf keys;
    wdoc *docs;
    size_t n_docs, cap_docs;
    wtable doc_index;
    wcounter *counters;
    size_t n_counters, cap_counters;
    uint32_t free_counter; /* 1 + index, 0 none */
    /* waiting counter adds: entries (with a free list) and, per document
     * that has any, the head of its chain */
    wwaiting *waiting;
    size_t n_waiting, cap_waiting, live_waiting;
    uint32_t free_waiting;
    wtable waiting_index; /* doc tag -> item of waiting_doc/waiting_head */
    uint32_t *waiting_doc, *waiting_head;
    size_t n_waiting_docs, cap_waiting_docs, cap_waiting_docs2;
    /* documents touched since the epoch began */
    uint32_t epoch;
    uint32_t *touched;
    size_t n_touched, cap_touched;
    uint8_t scratch[16]; /* a counter's materialized value */
    /* texts: slots (NULL when free), free slots, waiting ones */
    wtext **texts;
    size_t n_texts, cap_texts;
    uint32_t *free_texts, *waiting_texts;
    size_t n_free_texts, cap_free_texts, n_waiting_texts, cap_waiting_texts;
    const uint8_t *self; /* author key of the texts' local edits */
    weft_text_unit unit;
    wtext_fn on_text;
    void *text_ud;
    wbuf textval; /* a text's visible value */
} weft_state;

int weft__state_init(weft_state *s, const weft_allocator *a, weft_log *log);
void weft__state_free(weft_state *s);

/* Interns a name; UINT32_MAX when out of memory. */
uint32_t weft__state_intern(weft_state *s, const uint8_t *name, size_t len);
/* The number of a name if interned, else UINT32_MAX. */
uint32_t weft__state_name(const weft_state *s, const uint8_t *name, size_t len);
const uint8_t *weft__state_name_bytes(const weft_state *s, uint32_t name, size_t *len);

/* Finds (create=0) or creates a document. UINT32_MAX when absent/no memory. */
uint32_t weft__state_doc(weft_state *s, uint32_t coll_name, const uint8_t *key, size_t len,
                         int create);
/* Makes room for n more documents in collection `coll` (snapshot loads
 * know the count: one allocation instead of a doubling series). */
int weft__state_reserve_docs(weft_state *s, uint32_t coll, size_t n);
/* The same in two steps, so a batch can compute tags and prefetch ahead. */
uint32_t weft__state_doc_tag(const weft_state *s, uint32_t coll, const uint8_t *key, size_t len);
uint32_t weft__state_doc_tagged(weft_state *s, uint32_t coll, const uint8_t *key, size_t len,
                                uint32_t tag, int create);

int weft__state_write(weft_state *s, uint32_t doc, uint32_t field, wid id, const uint8_t *val,
                      size_t vlen); /* vlen 0: field delete */
int weft__state_delete_doc(weft_state *s, uint32_t doc, wid id);
int weft__state_counter_add(weft_state *s, uint32_t doc, uint32_t field, wid id, int64_t delta,
                            wid observed);

/* Calls fn for every waiting add (snapshot writer); stops at its first
 * non-zero return and returns it. */
int weft__state_each_waiting(const weft_state *s, int (*fn)(void *ctx, const wwaiting *w),
                             void *ctx);

/* The id a counter add on (doc, field) would observe now. */
wid weft__state_observed(const weft_state *s, uint32_t doc, uint32_t field);

/* Visible value of a field, or NULL. Borrowed until the next state call. */
const uint8_t *weft__state_value(weft_state *s, const wdoc *d, const wfield *f, size_t *len);
wfield *weft__state_field(const weft_state *s, const wdoc *d, uint32_t field);
/* Whether the field is visible (without materializing a text). */
int weft__state_visible(weft_state *s, const wdoc *d, const wfield *f);

/* Starts a new touched-set epoch. */
void weft__state_begin_batch(weft_state *s);

/* Sorts a collection's documents by key if needed; returns it or NULL. */
wcoll *weft__state_sorted_coll(weft_state *s, uint32_t coll_name);
static inline const uint8_t *weft__doc_key(const weft_state *s, const wdoc *d) {
    return d->key_len <= WEFT_DOC_KEY_INLINE ? d->key.inl : s->keys.p + d->key.off;
}

/* Compares two ids: <0, 0, >0. */
int weft__wid_cmp(const weft_state *s, wid a, wid b);

/* BLAKE2b-256 over the visible state in canonical order (docs/FORMAT.md). */
int weft__state_hash(weft_state *s, uint8_t out[32]);

/* Hints the cache: the hash slot for a tag, then the record it points to
 * (whose slot the first hint should have brought in by then). */
static inline void weft__state_prefetch_slot(const weft_state *s, uint32_t tag) {
    if (s->doc_index.slots) __builtin_prefetch(&s->doc_index.slots[tag & s->doc_index.mask]);
}

static inline void weft__state_prefetch_doc(const weft_state *s, uint32_t tag) {
    if (!s->doc_index.slots) return;
    uint64_t slot = s->doc_index.slots[tag & s->doc_index.mask];
    if (slot && (uint32_t)(slot >> 32) == tag) {
        const char *d = (const char *)&s->docs[(uint32_t)slot - 1];
        __builtin_prefetch(d);
        __builtin_prefetch(d + sizeof(wdoc) - 1); /* a record can straddle two lines */
    }
}

/* Texts: the key local edits are made with, the unit, the change callback. */
void weft__state_text_setup(weft_state *s, const uint8_t *self, weft_text_unit unit, wtext_fn fn,
                            void *ud);
/* Re-points what refers to the state after its struct was moved (a
 * snapshot load swaps states between replicas): texts, key, callback ud. */
void weft__state_moved(weft_state *s, const uint8_t *self, void *ud);
/* The field's text (attached: visible unless a put wins or a list lives
 * there too), or NULL. */
static inline weft_text *weft__state_field_text(const weft_state *s, const wfield *f) {
    return !f->vlen && f->v.text && !s->texts[f->v.text - 1]->l ? s->texts[f->v.text - 1]->t : NULL;
}
/* The field's list, or NULL. */
static inline wlist *weft__state_field_list(const weft_state *s, const wfield *f) {
    return !f->vlen && f->v.text ? s->texts[f->v.text - 1]->l : NULL;
}
/* The text that ops observing `obs` on (doc, name) build: the field's own
 * when obs is its winning write and that write is no put, a waiting one
 * when obs is newer. *out NULL: such ops can never be seen (dropped). */
int weft__state_text_for(weft_state *s, uint32_t doc, uint32_t name, wid obs, weft_text **out);
/* Applies one text op from a change. Ops the text refuses (contradicting
 * it, past its limits) are dropped alike on every replica. */
int weft__state_text_op(weft_state *s, uint32_t doc, uint32_t name, wid obs,
                        const weft_text_op *op);
/* The list that list ops observing `obs` on (doc, name) build, made if
 * needed (as weft__state_text_for). *out NULL: such ops are dropped. */
int weft__state_list_for(weft_state *s, uint32_t doc, uint32_t name, wid obs, wlist **out);
/* Applies one list op from a change (as weft__state_text_op). */
int weft__state_list_op(weft_state *s, uint32_t doc, uint32_t name, wid obs, const wlist_op *op);
/* Restores a list from its state (snapshot.c), as weft__state_restore_text. */
int weft__state_restore_list(weft_state *s, uint32_t doc, uint32_t name, wid obs,
                             const uint8_t *state, size_t len);
/* Calls fn for every waiting text (snapshot writer). */
int weft__state_each_waiting_text(const weft_state *s, int (*fn)(void *ctx, const wtext *w),
                                  void *ctx);
/* Restores a text from its encoded state (snapshot.c): the field's own when
 * obs is its winning write, else a waiting one (obs must be newer). */
int weft__state_restore_text(weft_state *s, uint32_t doc, uint32_t name, wid obs,
                             const uint8_t *state, size_t len);

/* Restores one field as a snapshot recorded it (snapshot.c). */
int weft__state_restore_field(weft_state *s, uint32_t doc, uint32_t name, wid id,
                              const uint8_t *val, size_t vlen, int has_counter, int64_t sum,
                              wid max_add);

#endif
