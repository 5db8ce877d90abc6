/*
 * Formatting marks of a text: Peritext's model (Litt, Lim, Kleppmann, van
 * Hardenberg, CSCW 2022) on the text's items. docs/TEXT.md, "Marks".
 *
 * Each op names a range by two gaps, each before or after a character (or
 * an edge of the text), so the range follows concurrent edits: whatever
 * lands between the gaps is in it. Ops are kept whole, sorted by id; the
 * marks of a character are decided at read time, per type, by the greatest
 * op whose range covers it (an add shows its value, a remove shows
 * nothing). Reading is one walk of the text with the ranges' boundaries
 * sorted: O(ops log ops + text).
 *
 * Invariants: m[] is strictly increasing in mark_cmp order (no op twice);
 * keys are distinct; every index into keys is below n_keys.
 */
#include "marks.h"
#include "sort.h"
#include "weft/value.h"

#include <stdlib.h>

#define NONE        UINT32_MAX
#define MAX_KEYS    4096
#define MAX_LAMPORT (((uint64_t)1 << 53) - 1)

enum {
    F_REMOVE = 1,
    F_START_AFTER = 2,
    F_END_AFTER = 4,
    F_HAS_START = 8,
    F_HAS_END = 16,
    F_SAME_KEY = 32 /* in the state: the end character has the start's key */
};

typedef struct wmark {
    uint64_t lamport;
    uint32_t author, start, end; /* indices into keys; start/end NONE: an edge */
    uint32_t start_seq, end_seq;
    uint32_t type_off, type_len, val_off, val_len; /* in bytes[] */
    uint8_t flags;                                 /* F_REMOVE, F_START_AFTER, F_END_AFTER */
} wmark;

struct wmarks {
    wmark *m;
    size_t n, cap;
    uint8_t *keys; /* n_keys × 32 */
    size_t n_keys, cap_keys;
    uint8_t *bytes; /* type names and values */
    size_t n_bytes, cap_bytes;
    uint64_t clock;
};

/* ---- ops ---- */

int weft__marks_check(const weft_text_op *o) {
    if ((o->kind != 3 && o->kind != 4) || !o->author) return WEFT_EMALFORMED;
    if (o->lamport == 0 || o->lamport > MAX_LAMPORT) return WEFT_EMALFORMED;
    if (!o->text || !o->nbytes || o->nbytes > WEFT_MARK_MAX_TYPE ||
        !weft_utf8_valid(o->text, o->nbytes))
        return WEFT_EMALFORMED;
    if (o->kind == 3 ? !o->value || !o->value_len || o->value_len > WEFT_MARK_MAX_VALUE
                     : o->value || o->value_len)
        return WEFT_EMALFORMED;
    if ((o->left && o->left_seq >= UINT32_MAX) || (o->right && o->right_seq >= UINT32_MAX))
        return WEFT_EMALFORMED;
    if (o->sides & ~3u) return WEFT_EMALFORMED;
    if ((!o->left && (o->sides & WEFT_MARK_START_AFTER)) ||
        (!o->right && (o->sides & WEFT_MARK_END_AFTER)))
        return WEFT_EMALFORMED; /* an edge has one side */
    return 0;
}

static const uint8_t *key_of(const wmarks *m, uint32_t i) {
    return i == NONE ? NULL : m->keys + 32 * (size_t)i;
}

static int cmp_bytes(const uint8_t *a, size_t an, const uint8_t *b, size_t bn) {
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : (an > bn) - (an < bn);
}

/* An anchor in order: the start edge, then characters by key and seq. */
static int cmp_anchor(const uint8_t *ka, uint32_t sa, const uint8_t *kb, uint32_t sb) {
    if (!ka || !kb) return (ka != NULL) - (kb != NULL);
    int c = memcmp(ka, kb, 32);
    return c ? c : (sa > sb) - (sa < sb);
}

/* The total order of ops: by id, then by everything else (two ops with
 * one id come only from a hostile author; they must still order alike). */
static int cmp_op(const weft_text_op *a, const weft_text_op *b) {
    if (a->lamport != b->lamport) return a->lamport < b->lamport ? -1 : 1;
    int c = memcmp(a->author, b->author, 32);
    if (c) return c;
    if (a->kind != b->kind) return a->kind < b->kind ? -1 : 1;
    if (a->sides != b->sides) return a->sides < b->sides ? -1 : 1;
    if ((c = cmp_anchor(a->left, a->left_seq, b->left, b->left_seq))) return c;
    if ((c = cmp_anchor(a->right, a->right_seq, b->right, b->right_seq))) return c;
    if ((c = cmp_bytes(a->text, a->nbytes, b->text, b->nbytes))) return c;
    return cmp_bytes(a->value ? a->value : (const uint8_t *)"", a->value_len,
                     b->value ? b->value : (const uint8_t *)"", b->value_len);
}

static void get_op(const wmarks *m, size_t i, weft_text_op *o) {
    const wmark *k = &m->m[i];
    *o = (weft_text_op){.kind = k->flags & F_REMOVE ? 4 : 3,
                        .author = key_of(m, k->author),
                        .lamport = k->lamport,
                        .left = key_of(m, k->start),
                        .left_seq = k->start_seq,
                        .right = key_of(m, k->end),
                        .right_seq = k->end_seq,
                        .sides = (uint8_t)((k->flags & F_START_AFTER ? WEFT_MARK_START_AFTER : 0) |
                                           (k->flags & F_END_AFTER ? WEFT_MARK_END_AFTER : 0)),
                        .text = m->bytes + k->type_off,
                        .nbytes = k->type_len,
                        .value = k->flags & F_REMOVE ? NULL : m->bytes + k->val_off,
                        .value_len = k->val_len};
}

/* Index of key (added if new, when add). NONE when absent or full. */
static uint32_t key_index(wmarks *m, const weft_allocator *a, const uint8_t *key, int add,
                          int *err) {
    for (size_t i = 0; i < m->n_keys; i++)
        if (memcmp(m->keys + 32 * i, key, 32) == 0) return (uint32_t)i;
    if (!add) return NONE;
    if (m->n_keys >= MAX_KEYS) {
        *err = WEFT_ELIMIT;
        return NONE;
    }
    if (weft__grow(a, (void **)&m->keys, &m->cap_keys, (m->n_keys + 1) * 32, 1)) {
        *err = WEFT_ENOMEM;
        return NONE;
    }
    memcpy(m->keys + 32 * m->n_keys, key, 32);
    return (uint32_t)m->n_keys++;
}

int weft__marks_add(wmarks **pm, const weft_allocator *a, const weft_text_op *o, int *added) {
    *added = 0;
    if (!*pm) {
        *pm = weft__alloc(a, sizeof **pm);
        if (!*pm) return WEFT_ENOMEM;
        memset(*pm, 0, sizeof **pm);
    }
    wmarks *m = *pm;
    /* Binary search for the first op not below o. */
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        weft_text_op x;
        get_op(m, mid, &x);
        if (cmp_op(&x, o) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < m->n) {
        weft_text_op x;
        get_op(m, lo, &x);
        if (cmp_op(&x, o) == 0) return 0; /* delivered again */
    }
    if (m->n >= WEFT_MARK_MAX_OPS) return WEFT_ELIMIT;
    size_t need = m->n_bytes + o->nbytes + o->value_len;
    if (need > UINT32_MAX) return WEFT_ELIMIT;
    int err = 0;
    uint32_t au = key_index(m, a, o->author, 1, &err);
    uint32_t st = o->left ? key_index(m, a, o->left, 1, &err) : NONE;
    uint32_t en = o->right ? key_index(m, a, o->right, 1, &err) : NONE;
    if (err) return err; /* keys added stay unused: harmless, never encoded */
    if (weft__grow(a, (void **)&m->m, &m->cap, m->n + 1, sizeof(wmark)) ||
        weft__grow(a, (void **)&m->bytes, &m->cap_bytes, need, 1))
        return WEFT_ENOMEM;
    wmark k = {.lamport = o->lamport,
               .author = au,
               .start = st,
               .end = en,
               .start_seq = o->left ? o->left_seq : 0,
               .end_seq = o->right ? o->right_seq : 0,
               .type_off = (uint32_t)m->n_bytes,
               .type_len = o->nbytes,
               .val_off = (uint32_t)(m->n_bytes + o->nbytes),
               .val_len = o->value_len,
               .flags = (uint8_t)((o->kind == 4 ? F_REMOVE : 0) |
                                  (o->sides & WEFT_MARK_START_AFTER ? F_START_AFTER : 0) |
                                  (o->sides & WEFT_MARK_END_AFTER ? F_END_AFTER : 0))};
    memcpy(m->bytes + m->n_bytes, o->text, o->nbytes);
    if (o->value_len) memcpy(m->bytes + m->n_bytes + o->nbytes, o->value, o->value_len);
    m->n_bytes = need;
    memmove(m->m + lo + 1, m->m + lo, (m->n - lo) * sizeof(wmark));
    m->m[lo] = k;
    m->n++;
    if (o->lamport > m->clock) m->clock = o->lamport;
    *added = 1;
    return 0;
}

int weft__marks_find(const wmarks *m, uint64_t lamport, const uint8_t *key, weft_text_op *out) {
    for (size_t i = m ? m->n : 0; i-- > 0;) {
        if (m->m[i].lamport < lamport) break;
        if (m->m[i].lamport == lamport && memcmp(key_of(m, m->m[i].author), key, 32) == 0) {
            get_op(m, i, out);
            return 0;
        }
    }
    return WEFT_ENOTFOUND;
}

uint64_t weft__marks_clock(const wmarks *m) {
    return m ? m->clock : 0;
}

size_t weft__marks_count(const wmarks *m) {
    return m ? m->n : 0;
}

size_t weft__marks_memory(const wmarks *m) {
    return m ? sizeof *m + m->cap * sizeof(wmark) + m->cap_keys + m->cap_bytes : 0;
}

void weft__marks_free(wmarks *m, const weft_allocator *a) {
    if (!m) return;
    weft__free(a, m->m);
    weft__free(a, m->keys);
    weft__free(a, m->bytes);
    weft__free(a, m);
}

/* ---- state section ---- */

/* Type names in order of bytes, then op index (stable): equal types end
 * up next to each other, so giving each type one number is a sort, not a
 * search per op (a hostile text may hold millions of types). */
static int type_order(const void *ctx, uint32_t x, uint32_t y) {
    const wmarks *m = ctx;
    const wmark *a = &m->m[x], *b = &m->m[y];
    return cmp_bytes(m->bytes + a->type_off, a->type_len, m->bytes + b->type_off, b->type_len);
}

/* Per op, its type's number in order of first use (OUT: num[n]), and per
 * type the first op that uses it (OUT: first[n]); returns how many types
 * there are, or 0 with b->err set when out of memory. */
static uint32_t number_types(const wmarks *m, uint32_t *num, uint32_t *first, wbuf *b) {
    uint32_t *idx = weft__alloc(b->a, m->n * sizeof *idx);
    if (!idx) {
        b->err = b->err ? b->err : WEFT_ENOMEM;
        return 0;
    }
    for (size_t i = 0; i < m->n; i++)
        idx[i] = (uint32_t)i;
    if (weft__sort_u32(idx, m->n, type_order, m, b->a)) {
        weft__free(b->a, idx);
        b->err = b->err ? b->err : WEFT_ENOMEM;
        return 0;
    }
    /* Group by type: num[] holds the group's leader (its first op, the
     * stable sort keeps op order inside a group) for now. */
    for (size_t i = 0; i < m->n; i++)
        num[idx[i]] = i && type_order(m, idx[i - 1], idx[i]) == 0 ? num[idx[i - 1]] : idx[i];
    weft__free(b->a, idx);
    /* Then number the groups as ops first use them: a group's leader is
     * its first op, so walking the ops meets each leader before the rest. */
    uint32_t used = 0;
    for (size_t i = 0; i < m->n; i++) {
        if (num[i] == i) {
            first[used] = (uint32_t)i;
            num[i] = used++;
        } else
            num[i] = num[num[i]];
    }
    return used;
}

/* Layout (TEXT.md, "Marks", State): varint n_keys, n_keys × key[32] (the
 * keys the ops name, in order of first use), varint n_types, n_types ×
 * bytes type (distinct, in order of first use), varint n_ops, then per op
 * in order: u8 flags, varint author, varint lamport − the previous op's,
 * [varint key, varint seq] for a start character, for an end character
 * zigzag(seq − start seq) when it has the start's key (F_SAME_KEY) or
 * [varint key, varint seq], varint type, bytes value (adds only). */
void weft__marks_encode(const wmarks *m, wbuf *b) {
    if (!m || !m->n) return;
    /* Renumber the keys in order of first use, so that loading and
     * encoding again gives the same bytes whatever keys were added. */
    uint32_t map[MAX_KEYS], used = 0;
    uint32_t order[MAX_KEYS];
    for (size_t i = 0; i < m->n_keys; i++)
        map[i] = NONE;
    for (size_t i = 0; i < m->n; i++) {
        uint32_t ks[3] = {m->m[i].author, m->m[i].start, m->m[i].end};
        for (int j = 0; j < 3; j++)
            if (ks[j] != NONE && map[ks[j]] == NONE) {
                order[used] = ks[j];
                map[ks[j]] = used++;
            }
    }
    uint32_t *tnum = weft__alloc(b->a, 2 * m->n * sizeof *tnum);
    if (!tnum) {
        b->err = b->err ? b->err : WEFT_ENOMEM;
        return;
    }
    uint32_t *tfirst = tnum + m->n;
    uint32_t n_types = number_types(m, tnum, tfirst, b);
    if (!n_types) {
        weft__free(b->a, tnum);
        return;
    }
    wbuf_varint(b, used);
    for (uint32_t i = 0; i < used; i++)
        wbuf_put(b, key_of(m, order[i]), 32);
    wbuf_varint(b, n_types);
    for (uint32_t t = 0; t < n_types; t++)
        wbuf_lbytes(b, m->bytes + m->m[tfirst[t]].type_off, m->m[tfirst[t]].type_len);
    wbuf_varint(b, m->n);
    uint64_t lamport = 0;
    for (size_t i = 0; i < m->n; i++) {
        const wmark *k = &m->m[i];
        int same = k->start != NONE && k->end == k->start;
        wbuf_u8(b, (uint8_t)(k->flags | (k->start != NONE ? F_HAS_START : 0) |
                             (k->end != NONE ? F_HAS_END : 0) | (same ? F_SAME_KEY : 0)));
        wbuf_varint(b, map[k->author]);
        wbuf_varint(b, k->lamport - lamport);
        lamport = k->lamport;
        if (k->start != NONE) {
            wbuf_varint(b, map[k->start]);
            wbuf_varint(b, k->start_seq);
        }
        if (same)
            wbuf_varint(b, zigzag_enc((int64_t)k->end_seq - (int64_t)k->start_seq));
        else if (k->end != NONE) {
            wbuf_varint(b, map[k->end]);
            wbuf_varint(b, k->end_seq);
        }
        wbuf_varint(b, tnum[i]);
        if (!(k->flags & F_REMOVE)) wbuf_lbytes(b, m->bytes + k->val_off, k->val_len);
    }
    weft__free(b->a, tnum);
}

typedef struct type_table {
    const uint8_t **p;
    size_t *len;
} type_table;

static int table_order(const void *ctx, uint32_t x, uint32_t y) {
    const type_table *t = ctx;
    return cmp_bytes(t->p[x], t->len[x], t->p[y], t->len[y]);
}

/* Reads n types (1..64 bytes of UTF-8 each, distinct) into t. */
static int load_types(wreader *rd, const weft_allocator *a, uint64_t n, type_table *t) {
    for (uint64_t i = 0; i < n; i++) {
        t->p[i] = rd_lbytes(rd, &t->len[i], WEFT_MARK_MAX_TYPE);
        if (rd->err) return rd->err;
        if (!t->len[i] || !weft_utf8_valid(t->p[i], t->len[i])) return WEFT_EMALFORMED;
    }
    uint32_t *idx = weft__alloc(a, n * sizeof *idx);
    if (!idx) return WEFT_ENOMEM;
    for (uint64_t i = 0; i < n; i++)
        idx[i] = (uint32_t)i;
    int rc = weft__sort_u32(idx, n, table_order, t, a);
    for (uint64_t i = 1; i < n && !rc; i++)
        if (table_order(t, idx[i - 1], idx[i]) == 0) rc = WEFT_EMALFORMED;
    weft__free(a, idx);
    return rc;
}

int weft__marks_load(wmarks **out, const weft_allocator *a, wreader *rd) {
    uint64_t nk = rd_varint(rd);
    if (rd->err) return rd->err;
    if (nk == 0) return WEFT_EMALFORMED;
    if (nk > MAX_KEYS) return WEFT_ETOOBIG;
    const uint8_t *keys = rd_take(rd, (size_t)nk * 32);
    uint64_t nt = rd_varint(rd);
    if (rd->err) return rd->err;
    if (nt == 0) return WEFT_EMALFORMED;
    if (nt > rd_left(rd) / 2) return WEFT_ETRUNCATED; /* a type takes 2 bytes at least */
    if (nt > WEFT_MARK_MAX_OPS) return WEFT_ETOOBIG;
    for (uint64_t i = 0; i < nk; i++)
        for (uint64_t j = 0; j < i; j++)
            if (memcmp(keys + 32 * i, keys + 32 * j, 32) == 0) return WEFT_EMALFORMED;
    type_table types = {weft__alloc(a, nt * sizeof *types.p),
                        weft__alloc(a, nt * sizeof *types.len)};
    int rc = types.p && types.len ? load_types(rd, a, nt, &types) : WEFT_ENOMEM;
    uint64_t n = rc ? 0 : rd_varint(rd);
    if (!rc && rd->err) rc = rd->err;
    if (!rc && n == 0) rc = WEFT_EMALFORMED;
    if (!rc && n > rd_left(rd) / 4) rc = WEFT_ETRUNCATED; /* an op takes 4 bytes at least */
    if (!rc && n > WEFT_MARK_MAX_OPS) rc = WEFT_ETOOBIG;
    wmarks *m = NULL;
    uint32_t seen = 0, seen_types = 0; /* keys and types appear in order of first use */
    uint64_t lamport = 0;
    weft_text_op prev = {0};
    for (uint64_t i = 0; i < n && !rc; i++) {
        uint8_t f = rd_u8(rd);
        uint64_t au = rd_varint(rd), dl = rd_varint(rd), sk = 0, ss = 0, ek = 0, es = 0;
        int has_start = f & F_HAS_START, has_end = f & F_HAS_END, same = f & F_SAME_KEY;
        if (has_start) {
            sk = rd_varint(rd);
            ss = rd_varint(rd);
        }
        if (same) {
            ek = sk;
            int64_t d = zigzag_dec(rd_varint(rd));
            /* ss < 2^64 from the reader, d within ±2^63: range-check in
             * 64 bits before adding (no overflow): the result must be a seq. */
            if (ss >= UINT32_MAX || d <= -(int64_t)UINT32_MAX || d >= (int64_t)UINT32_MAX ||
                (int64_t)ss + d < 0 || (int64_t)ss + d >= (int64_t)UINT32_MAX)
                rc = WEFT_EMALFORMED;
            else
                es = (uint64_t)((int64_t)ss + d);
        } else if (has_end) {
            ek = rd_varint(rd);
            es = rd_varint(rd);
        }
        uint64_t ti = rd_varint(rd);
        size_t vl = 0;
        const uint8_t *val = f & F_REMOVE ? NULL : rd_lbytes(rd, &vl, WEFT_MARK_MAX_VALUE);
        if (!rc && (rc = rd->err)) break;
        /* F_SAME_KEY needs both characters; without it they differ in key
         * (one encoding only). */
        if (rc || f > 63 || (same && !(has_start && has_end)) ||
            (!same && has_start && has_end && sk == ek) || dl > MAX_LAMPORT - lamport || ti >= nt ||
            ti > seen_types) {
            rc = WEFT_EMALFORMED;
            break;
        }
        if (ti == seen_types) seen_types++;
        lamport += dl;
        uint64_t ks[3] = {au, sk, ek};
        int present[3] = {1, has_start, has_end && !same};
        for (int j = 0; j < 3 && !rc; j++) {
            if (!present[j]) continue;
            if (ks[j] > seen || ks[j] >= nk)
                rc = WEFT_EMALFORMED;
            else if (ks[j] == seen)
                seen++;
        }
        if (rc || ss >= UINT32_MAX || es >= UINT32_MAX) {
            rc = WEFT_EMALFORMED;
            break;
        }
        weft_text_op o = {.kind = f & F_REMOVE ? 4 : 3,
                          .author = keys + 32 * au,
                          .lamport = lamport,
                          .left = has_start ? keys + 32 * sk : NULL,
                          .left_seq = (uint32_t)ss,
                          .right = has_end ? keys + 32 * ek : NULL,
                          .right_seq = (uint32_t)es,
                          .sides = (uint8_t)((f & F_START_AFTER ? WEFT_MARK_START_AFTER : 0) |
                                             (f & F_END_AFTER ? WEFT_MARK_END_AFTER : 0)),
                          .text = types.p[ti],
                          .nbytes = (uint32_t)types.len[ti],
                          .value = val,
                          .value_len = (uint32_t)vl};
        /* Strictly increasing: the one encoding of a set of ops. */
        if (weft__marks_check(&o) || (i && cmp_op(&prev, &o) >= 0)) {
            rc = WEFT_EMALFORMED;
            break;
        }
        int added;
        if ((rc = weft__marks_add(&m, a, &o, &added))) break;
        get_op(m, m->n - 1, &prev); /* the greatest so far: the last */
    }
    if (!rc && (seen != nk || seen_types != nt || rd_left(rd))) rc = WEFT_EMALFORMED;
    weft__free(a, types.p);
    weft__free(a, types.len);
    if (rc) {
        weft__marks_free(m, a);
        return rc;
    }
    *out = m;
    return 0;
}

/* ---- reading ---- */

typedef struct event {
    uint64_t pos; /* item index of the gap */
    uint32_t mark;
    int32_t delta; /* +1 the range starts, -1 it ends */
} event;

typedef struct span_ctx {
    const wmarks *m;
    weft_text_span_fn fn;
    void *ud;
    const uint32_t *type_of; /* per op: its type's index */
    const uint32_t *by_type; /* op indices grouped by type, ascending within */
    const uint32_t *type_at; /* per type: where its ops start in by_type (n_types + 1) */
    size_t n_types;
    uint32_t *heap;   /* per type, in its by_type region: a max-heap of started ops */
    uint32_t *heap_n; /* per type: ops in its heap */
    event *ev;
    size_t n_ev, next_ev;
    uint8_t *active; /* per op: how many of its boundaries were passed */
    uint32_t *win;   /* per type: the winning active op, or NONE */
    uint32_t *shown; /* per type: the op whose value the open span shows, or NONE */
    weft_text_mark *out;
    wbuf text; /* the open span's UTF-8 */
    int err;
} span_ctx;

static int ev_cmp(const void *x, const void *y) {
    const event *a = x, *b = y;
    return (a->pos > b->pos) - (a->pos < b->pos);
}

static int type_cmp(const void *ctx, uint32_t x, uint32_t y) {
    const wmarks *m = ctx;
    const wmark *a = &m->m[x], *b = &m->m[y];
    int c = cmp_bytes(m->bytes + a->type_off, a->type_len, m->bytes + b->type_off, b->type_len);
    return c ? c : (x > y) - (x < y);
}

/* Whether op x (or NONE) shows the same mark as op y (or NONE). */
static int same_mark(const wmarks *m, uint32_t x, uint32_t y) {
    int sx = x != NONE && !(m->m[x].flags & F_REMOVE),
        sy = y != NONE && !(m->m[y].flags & F_REMOVE);
    if (!sx || !sy) return sx == sy;
    return cmp_bytes(m->bytes + m->m[x].val_off, m->m[x].val_len, m->bytes + m->m[y].val_off,
                     m->m[y].val_len) == 0;
}

static int flush(span_ctx *c) {
    if (!c->text.len) return 0;
    size_t n = 0;
    for (size_t t = 0; t < c->n_types; t++) {
        uint32_t k = c->shown[t];
        if (k == NONE || (c->m->m[k].flags & F_REMOVE)) continue;
        const wmark *w = &c->m->m[k];
        c->out[n++] = (weft_text_mark){(const char *)c->m->bytes + w->type_off, w->type_len,
                                       c->m->bytes + w->val_off, w->val_len};
    }
    int rc = c->fn(c->ud, (const char *)c->text.p, c->text.len, c->out, n);
    c->text.len = 0;
    return rc;
}

/* Each type's started ops sit in a max-heap (ops are numbered in id
 * order, so the greatest number wins); ended ones leave it lazily, when
 * they reach the top. So each op enters and leaves once: O(m log m). */
static void heap_push(uint32_t *h, uint32_t *n, uint32_t k) {
    uint32_t i = (*n)++;
    while (i && h[(i - 1) / 2] < k) {
        h[i] = h[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h[i] = k;
}

static void heap_pop(uint32_t *h, uint32_t *n) {
    uint32_t k = h[--*n], i = 0;
    for (;;) {
        uint32_t l = 2 * i + 1, r = l + 1, m = i;
        uint32_t best = k;
        if (l < *n && h[l] > best) m = l, best = h[l];
        if (r < *n && h[r] > best) m = r;
        if (m == i) break;
        h[i] = h[m];
        i = m;
    }
    h[i] = k;
}

/* Passes every boundary at or before item `at`, then settles the winners
 * of the types they touched; returns the next boundary's item index. */
static uint64_t advance(span_ctx *c, uint64_t at) {
    size_t from = c->next_ev;
    while (c->next_ev < c->n_ev && c->ev[c->next_ev].pos <= at) {
        const event *e = &c->ev[c->next_ev++];
        uint32_t t = c->type_of[e->mark];
        c->active[e->mark] = e->delta > 0;
        if (e->delta > 0) heap_push(c->heap + c->type_at[t], &c->heap_n[t], e->mark);
    }
    for (size_t i = from; i < c->next_ev; i++) {
        uint32_t t = c->type_of[c->ev[i].mark], *h = c->heap + c->type_at[t];
        while (c->heap_n[t] && !c->active[h[0]])
            heap_pop(h, &c->heap_n[t]);
        c->win[t] = c->heap_n[t] ? h[0] : NONE;
    }
    return c->next_ev < c->n_ev ? c->ev[c->next_ev].pos : UINT64_MAX;
}

static int span_run(void *ctx, uint64_t first, uint32_t len, const uint8_t *utf8, uint32_t nbytes) {
    span_ctx *c = ctx;
    uint32_t i = 0, b = 0;
    while (i < len) {
        uint64_t next = advance(c, first + i);
        int changed = 0;
        for (size_t t = 0; t < c->n_types && !changed; t++)
            changed = !same_mark(c->m, c->win[t], c->shown[t]);
        if (changed) {
            int rc = flush(c);
            if (rc) return rc;
        }
        memcpy(c->shown, c->win, c->n_types * sizeof *c->shown);
        uint32_t upto = next - first < len ? (uint32_t)(next - first) : len, b0 = b;
        for (; i < upto; i++) {
            uint8_t l = utf8[b];
            b += l < 0x80 ? 1 : l < 0xe0 ? 2 : l < 0xf0 ? 3 : 4;
        }
        wbuf_put(&c->text, utf8 + b0, b - b0);
        if (c->text.err) return WEFT_ENOMEM;
    }
    (void)nbytes;
    return 0;
}

int weft__marks_spans(const wmarks *m, const weft_text *t, const weft_allocator *a,
                      weft_text_span_fn fn, void *ud) {
    size_t n = m ? m->n : 0;
    span_ctx c = {.m = m, .fn = fn, .ud = ud};
    wbuf_init(&c.text, a);
    uint32_t *type_of = weft__alloc(a, (n + 1) * sizeof *type_of);
    uint32_t *by_type = weft__alloc(a, (n + 1) * sizeof *by_type);
    uint32_t *type_at = weft__alloc(a, (n + 2) * sizeof *type_at);
    uint32_t *win = weft__alloc(a, (2 * n + 1) * sizeof *win);
    uint32_t *heap = weft__alloc(a, (2 * n + 1) * sizeof *heap); /* then heap_n */
    event *ev = weft__alloc(a, (2 * n + 1) * sizeof *ev);
    uint8_t *active = weft__alloc(a, n + 1);
    weft_text_mark *out = weft__alloc(a, (n + 1) * sizeof *out);
    int rc = type_of && by_type && type_at && win && heap && ev && active && out ? 0 : WEFT_ENOMEM;
    /* Group the ops by type name (ascending, so spans list marks sorted),
     * each group in id order. */
    for (size_t i = 0; i < n && !rc; i++)
        by_type[i] = (uint32_t)i;
    if (!rc) rc = weft__sort_u32(by_type, n, type_cmp, m, a);
    size_t nt = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        const wmark *x = &m->m[by_type[i]];
        if (i == 0 ||
            cmp_bytes(m->bytes + x->type_off, x->type_len, m->bytes + m->m[by_type[i - 1]].type_off,
                      m->m[by_type[i - 1]].type_len) != 0)
            type_at[nt++] = (uint32_t)i;
        type_of[by_type[i]] = (uint32_t)(nt - 1);
    }
    if (!rc) type_at[nt] = (uint32_t)n;
    /* Each range's gaps as item indices; a range naming a character the
     * text does not hold covers nothing (yet). */
    size_t ne = 0;
    uint64_t items = weft__text_items(t);
    for (size_t i = 0; i < n && !rc; i++) {
        const wmark *k = &m->m[i];
        uint64_t s = 0, e = items;
        if (k->start != NONE &&
            weft__text_gap(t, key_of(m, k->start), k->start_seq, k->flags & F_START_AFTER, &s))
            continue;
        if (k->end != NONE &&
            weft__text_gap(t, key_of(m, k->end), k->end_seq, (k->flags & F_END_AFTER) != 0, &e))
            continue;
        if (s >= e) continue;
        ev[ne++] = (event){s, (uint32_t)i, 1};
        ev[ne++] = (event){e, (uint32_t)i, -1};
    }
    if (!rc) {
        qsort(ev, ne, sizeof *ev, ev_cmp);
        memset(active, 0, n + 1);
        for (size_t i = 0; i < 2 * nt; i++)
            win[i] = NONE;
        c.type_of = type_of;
        c.by_type = by_type;
        c.type_at = type_at;
        c.n_types = nt;
        c.ev = ev;
        c.n_ev = ne;
        c.active = active;
        c.heap = heap;
        c.heap_n = heap + n;
        memset(c.heap_n, 0, nt * sizeof *c.heap_n);
        c.win = win;
        c.shown = win + nt;
        c.out = out;
        rc = weft__text_each_run(t, span_run, &c);
        if (!rc) rc = flush(&c);
    }
    weft__free(a, type_of);
    weft__free(a, by_type);
    weft__free(a, type_at);
    weft__free(a, win);
    weft__free(a, heap);
    weft__free(a, ev);
    weft__free(a, active);
    weft__free(a, out);
    wbuf_free(&c.text);
    return rc;
}
