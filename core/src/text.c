/*
 * Collaborative text: a FugueMax/YjsMod sequence CRDT over a B-tree of runs.
 *
 * Every character ever inserted is an item with an id (author, seq), seq
 * dense per author from 0, and two origins: the item left of it and the
 * item right of it when it was inserted. Items are never removed; a delete
 * marks them as tombstones and drops their text. Remote inserts are placed
 * by the YjsMod integration rule (equal to FugueMax), which never
 * interleaves concurrent runs. docs/TEXT.md has the reasoning.
 *
 * Representation: items live in document order as runs (consecutive ids of
 * one author, typed left to right, sharing the right origin, all visible or
 * all deleted) in the leaves of a B-tree whose inner nodes cache, per
 * child, the number of items and the visible width (in the replica's
 * unit). So the item at a position or at an index is found in O(log n),
 * and so is the index of an item. Per author, `leaf_of[seq]` names the leaf holding
 * that id (kept up to date when leaves split), which finds an item by id.
 * Visible text sits in one append-only arena; each run points at its bytes.
 *
 * Invariants: agents[0] is this replica's author; a run has len >= 1; w == 0 iff it is deleted
 * (then nbytes == 0); leaves are never empty except the root of an empty text; every id (a, s) with
 * s < agents[a].next is in exactly one run, in the leaf leaf_of[s]; inner counts equal the sums
 * below them.
 */
#include "weft/text.h"
#include "weft/error.h"
#include "mem.h"
#include "text_int.h"
#include "marks.h"
#include "weft/value.h"

#include <assert.h>
#include <stdlib.h>

#define LCAP        32 /* runs per leaf */
#define NCAP        16 /* children per inner node */
#define NONE        UINT32_MAX
#define MAX_AUTHORS 4096
/* Characters ever inserted into one text (tombstones included): the id
 * index takes 4 bytes each, so this bounds what a hostile state or update
 * can make a replica allocate (256 MiB), far above any human text. */
#define MAX_IDS     ((uint32_t)1 << 26)
#define VERSION     1
#define KIND_UPDATE 1
#define KIND_STATE  2

enum { OP_INSERT = 1, OP_DELETE = 2, OP_MARK = 3, OP_UNMARK = 4 };

typedef struct tid {
    uint32_t agent, seq; /* agent NONE: the start or end of the text */
} tid;

typedef struct run {
    uint32_t agent, seq, len; /* ids (agent, seq .. seq + len - 1) */
    uint32_t w;               /* visible width in units; 0: deleted */
    uint32_t off, nbytes;     /* text in the arena (visible runs only) */
    tid left, right;          /* origins: left of the first item; right of all */
} run;

typedef struct node node;
typedef struct leaf {
    node *parent;
    struct leaf *prev, *next;
    uint32_t id, n;
    run r[LCAP];
} leaf;

struct node {
    node *parent;
    uint32_t n;
    int leaves; /* children are leaves */
    uint32_t items[NCAP], width[NCAP];
    void *kid[NCAP];
};

typedef struct agent {
    uint8_t key[WEFT_KEY_BYTES];
    uint32_t next;     /* ids [0, next) are present */
    uint32_t *leaf_of; /* per seq: leaf id */
    size_t cap;
} agent;

/* A decoded op (remote, waiting, or local not yet taken). */
typedef struct op {
    uint8_t kind;
    uint32_t agent, seq, len; /* inserted ids, or deleted ids */
    tid left, right;          /* inserts */
    const uint8_t *text;      /* remote inserts: UTF-8 of len code points */
    uint32_t nbytes;
    uint32_t off;     /* local inserts: their text in the arena */
    uint8_t *owned;   /* waiting ops own a copy of the text */
    size_t cost;      /* waiting ops: bytes counted against max_pending */
    uint64_t lamport; /* local marks: the op's id is (lamport, this author) */
} op;

typedef struct cur {
    leaf *l;
    uint32_t k, o; /* run k, item o within it; k == l->n: the end */
} cur;

struct weft_text {
    const weft_allocator *a;
    int utf16;
    size_t max_pending;
    weft_text_delta_fn on_delta;
    void *ud;
    agent *agents;
    size_t n_agents, cap_agents;
    void *root;
    int height;
    leaf **leaves;
    size_t n_leaves, cap_leaves;
    node **nodes; /* every inner node, for freeing */
    size_t n_nodes, cap_nodes;
    uint64_t items, width, bytes; /* totals: items, visible units, visible bytes */
    uint8_t *arena;
    size_t arena_len, arena_cap;
    op *lops; /* local ops since the last take */
    size_t n_lops, cap_lops;
    op *pend; /* remote ops waiting for their causal past */
    size_t n_pend, cap_pend, pend_bytes;
    int pend_unsorted;
    uint32_t *pset; /* hash set of waiting ops (indices into pend) */
    size_t cap_pset;
    int pset_stale;
    op *scratch; /* decoded ops of the update being applied */
    size_t cap_scratch;
    uint32_t *map; /* update author index <-> agent index */
    size_t cap_map;
    wbuf out;
    wmarks *marks; /* formatting ops (marks.c); NULL until the first */
};

static int tid_eq(tid x, tid y) {
    return x.agent == y.agent && x.seq == y.seq;
}
static const tid NO_ID = {NONE, 0};

/* ---- UTF-8 ---- */

static uint32_t cp_bytes(uint8_t c) {
    return c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
}

/* Counts the code points of valid UTF-8 and the UTF-16 units they take. */
static void utf8_count(const uint8_t *s, size_t n, uint64_t *cps, uint64_t *u16) {
    uint64_t c = 0, astral = 0;
    for (size_t i = 0; i < n; i++) {
        c += (s[i] & 0xc0) != 0x80;
        astral += s[i] >= 0xf0;
    }
    *cps = c;
    *u16 = c + astral;
}

/* Width in units of the code points of s[0..n). */
static uint32_t units_of(const weft_text *t, const uint8_t *s, uint32_t n, uint32_t cps) {
    if (!t->utf16 || n == cps) return cps;
    uint64_t c, u;
    utf8_count(s, n, &c, &u);
    return (uint32_t)u;
}

/* Bytes and units of the first `o` items of visible run r. */
static void run_prefix(const weft_text *t, const run *r, uint32_t o, uint32_t *bytes,
                       uint32_t *units) {
    if (r->nbytes == r->len) { /* ASCII */
        *bytes = *units = o;
        return;
    }
    const uint8_t *p = t->arena + r->off;
    uint32_t b = 0, u = 0;
    for (uint32_t i = 0; i < o; i++) {
        uint32_t l = cp_bytes(p[b]);
        b += l;
        u += l == 4 ? 2 : 1;
    }
    *bytes = b;
    *units = t->utf16 ? u : o;
}

/* Item offset in visible run r of unit offset u; *inside set when u falls
 * between the two halves of a surrogate pair. */
static uint32_t run_item_at(const weft_text *t, const run *r, uint32_t u, int *inside) {
    *inside = 0;
    if (!t->utf16 || r->nbytes == r->len) return u;
    const uint8_t *p = t->arena + r->off;
    uint32_t b = 0, i = 0, acc = 0;
    while (acc < u) {
        uint32_t l = cp_bytes(p[b]);
        acc += l == 4 ? 2 : 1;
        b += l;
        i++;
    }
    if (acc > u) *inside = 1;
    return i;
}

/* ---- agents ---- */

static agent *find_agent(weft_text *t, const uint8_t *key, uint32_t *idx) {
    for (size_t i = 0; i < t->n_agents; i++)
        if (memcmp(t->agents[i].key, key, WEFT_KEY_BYTES) == 0) {
            *idx = (uint32_t)i;
            return &t->agents[i];
        }
    return NULL;
}

static int add_agent(weft_text *t, const uint8_t *key, uint32_t *idx) {
    if (find_agent(t, key, idx)) return 0;
    if (weft__grow(t->a, (void **)&t->agents, &t->cap_agents, t->n_agents + 1, sizeof(agent)))
        return WEFT_ENOMEM;
    agent *g = &t->agents[t->n_agents];
    memset(g, 0, sizeof *g);
    memcpy(g->key, key, WEFT_KEY_BYTES);
    *idx = (uint32_t)t->n_agents++;
    return 0;
}

/* Makes room for ids up to `end` in the agent's id index. */
static int reserve_ids(weft_text *t, agent *g, uint64_t end) {
    return weft__grow(t->a, (void **)&g->leaf_of, &g->cap, (size_t)end, sizeof(uint32_t));
}

static void set_leaf(weft_text *t, const run *r, uint32_t leaf_id) {
    uint32_t *lo = t->agents[r->agent].leaf_of + r->seq;
    for (uint32_t i = 0; i < r->len; i++)
        lo[i] = leaf_id;
}

/* ---- tree ---- */

static leaf *new_leaf(weft_text *t) {
    if (weft__grow(t->a, (void **)&t->leaves, &t->cap_leaves, t->n_leaves + 1, sizeof(leaf *)))
        return NULL;
    leaf *l = weft__alloc(t->a, sizeof *l);
    if (!l) return NULL;
    memset(l, 0, offsetof(leaf, r));
    l->id = (uint32_t)t->n_leaves;
    t->leaves[t->n_leaves++] = l;
    return l;
}

static node *new_node(weft_text *t, int leaves) {
    if (weft__grow(t->a, (void **)&t->nodes, &t->cap_nodes, t->n_nodes + 1, sizeof(node *)))
        return NULL;
    node *p = weft__alloc(t->a, sizeof *p);
    if (p) {
        p->parent = NULL;
        p->n = 0;
        p->leaves = leaves;
        t->nodes[t->n_nodes++] = p;
    }
    return p;
}

static node **parent_slot(void *c, int is_leaf) {
    return is_leaf ? &((leaf *)c)->parent : &((node *)c)->parent;
}

static uint32_t kid_index(const node *p, const void *c) {
    uint32_t i = 0;
    while (p->kid[i] != c)
        i++;
    assert(i < p->n);
    return i;
}

static void leaf_sums(const leaf *l, uint32_t from, uint32_t to, uint32_t *items, uint32_t *w) {
    uint32_t n = 0, v = 0;
    for (uint32_t k = from; k < to; k++) {
        n += l->r[k].len;
        v += l->r[k].w;
    }
    *items = n;
    *w = v;
}

static void node_sums(const node *p, uint32_t from, uint32_t to, uint32_t *items, uint32_t *w) {
    uint32_t n = 0, v = 0;
    for (uint32_t k = from; k < to; k++) {
        n += p->items[k];
        v += p->width[k];
    }
    *items = n;
    *w = v;
}

/* Adds (di, dw) to every count above leaf l and to the totals. Counts are
 * unsigned; a negative delta wraps, which modular arithmetic undoes. */
static void propagate(weft_text *t, leaf *l, int64_t di, int64_t dw) {
    void *c = l;
    for (node *p = l->parent; p; c = p, p = p->parent) {
        uint32_t i = kid_index(p, c);
        p->items[i] += (uint32_t)di;
        p->width[i] += (uint32_t)dw;
    }
    t->items += (uint64_t)di;
    t->width += (uint64_t)dw;
}

/* Makes the node above c (a leaf or a node) able to take one more child:
 * creates a root above c if it has none, splits its parent if full.
 * Counts are consistent before and after. */
static node *split_node(weft_text *t, node *p);

static node *room_above(weft_text *t, void *c, int is_leaf) {
    node *p = *parent_slot(c, is_leaf);
    if (!p) {
        /* The whole text is under c. */
        p = new_node(t, is_leaf);
        if (!p) return NULL;
        p->kid[0] = c;
        p->items[0] = (uint32_t)t->items;
        p->width[0] = (uint32_t)t->width;
        p->n = 1;
        *parent_slot(c, is_leaf) = p;
        t->root = p;
        t->height++;
        return p;
    }
    if (p->n == NCAP && !split_node(t, p)) return NULL;
    return *parent_slot(c, is_leaf);
}

/* Inserts child c with counts (items, w) at index `at` of p (not full). */
static void insert_kid(node *p, uint32_t at, void *c, uint32_t items, uint32_t w) {
    assert(p->n < NCAP);
    memmove(&p->kid[at + 1], &p->kid[at], (p->n - at) * sizeof(void *));
    memmove(&p->items[at + 1], &p->items[at], (p->n - at) * sizeof(uint32_t));
    memmove(&p->width[at + 1], &p->width[at], (p->n - at) * sizeof(uint32_t));
    p->kid[at] = c;
    p->items[at] = items;
    p->width[at] = w;
    p->n++;
    *parent_slot(c, p->leaves) = p;
}

/* Gives node p (full) a new sibling right after it holding its upper
 * half. Returns that sibling, or NULL (out of memory; p unchanged). */
static node *split_node(weft_text *t, node *p) {
    node *g = room_above(t, p, 0);
    node *q = g ? new_node(t, p->leaves) : NULL;
    if (!q) return NULL;
    uint32_t h = p->n / 2, moved = p->n - h;
    memcpy(q->kid, &p->kid[h], moved * sizeof(void *));
    memcpy(q->items, &p->items[h], moved * sizeof(uint32_t));
    memcpy(q->width, &p->width[h], moved * sizeof(uint32_t));
    q->n = moved;
    p->n = h;
    for (uint32_t i = 0; i < moved; i++)
        *parent_slot(q->kid[i], q->leaves) = q;
    uint32_t items, w;
    node_sums(q, 0, q->n, &items, &w);
    uint32_t pi = kid_index(g, p);
    g->items[pi] -= items;
    g->width[pi] -= w;
    insert_kid(g, pi + 1, q, items, w);
    return q;
}

/* Splits the full leaf c->l in two so that both halves have room, moving
 * the half with fewer items (their ids must be re-indexed), and moves the
 * cursor to where its run went. */
static int split_leaf(weft_text *t, cur *c) {
    leaf *l = c->l;
    node *p = room_above(t, l, 1);
    leaf *nl = p ? new_leaf(t) : NULL;
    if (!nl) return WEFT_ENOMEM;
    uint32_t h = l->n / 2, lo_i, lo_w, hi_i, hi_w;
    leaf_sums(l, 0, h, &lo_i, &lo_w);
    leaf_sums(l, h, l->n, &hi_i, &hi_w);
    int upper = hi_i <= lo_i; /* move the upper half into a leaf after l */
    uint32_t li = kid_index(p, l);
    uint32_t mi = upper ? hi_i : lo_i, mw = upper ? hi_w : lo_w;
    p->items[li] -= mi;
    p->width[li] -= mw;
    insert_kid(p, upper ? li + 1 : li, nl, mi, mw);
    if (upper) {
        nl->n = l->n - h;
        memcpy(nl->r, &l->r[h], nl->n * sizeof(run));
        l->n = h;
        nl->prev = l;
        nl->next = l->next;
        if (l->next) l->next->prev = nl;
        l->next = nl;
        if (c->k >= h) {
            c->l = nl;
            c->k -= h;
        }
    } else {
        nl->n = h;
        memcpy(nl->r, l->r, h * sizeof(run));
        l->n -= h;
        memmove(l->r, &l->r[h], l->n * sizeof(run));
        nl->next = l;
        nl->prev = l->prev;
        if (l->prev) l->prev->next = nl;
        l->prev = nl;
        if (c->k < h)
            c->l = nl;
        else
            c->k -= h;
    }
    for (uint32_t k = 0; k < nl->n; k++)
        set_leaf(t, &nl->r[k], nl->id);
    return 0;
}

static int make_room(weft_text *t, cur *c, uint32_t need) {
    return c->l->n + need <= LCAP ? 0 : split_leaf(t, c);
}

/* The cursor at visible unit `pos` (the first visible item at or after it,
 * past any tombstones); *u = unit offset within that run. */
static cur seek_width(const weft_text *t, uint64_t pos, uint32_t *u) {
    void *c = t->root;
    for (int h = t->height; h > 0; h--) {
        const node *p = c;
        uint32_t i = 0;
        while (i + 1 < p->n && pos >= p->width[i])
            pos -= p->width[i++];
        c = p->kid[i];
    }
    leaf *l = c;
    uint32_t k = 0;
    while (k < l->n && pos >= l->r[k].w)
        pos -= l->r[k++].w;
    *u = (uint32_t)pos;
    return (cur){l, k, 0};
}

/* The cursor at item index `idx` (t->items: the end). */
static cur seek_item(const weft_text *t, uint64_t idx) {
    void *c = t->root;
    for (int h = t->height; h > 0; h--) {
        const node *p = c;
        uint32_t i = 0;
        while (i + 1 < p->n && idx >= p->items[i])
            idx -= p->items[i++];
        c = p->kid[i];
    }
    leaf *l = c;
    uint32_t k = 0;
    while (k < l->n && idx >= l->r[k].len)
        idx -= l->r[k++].len;
    return (cur){l, k, (uint32_t)idx};
}

/* Item index and visible unit position of the cursor. */
static void cur_pos(const weft_text *t, cur c, uint64_t *items, uint64_t *width) {
    uint64_t n = c.o, v = 0;
    if (c.k < c.l->n && c.l->r[c.k].w && c.o) {
        uint32_t b, u;
        run_prefix(t, &c.l->r[c.k], c.o, &b, &u);
        v = u;
    }
    for (uint32_t k = 0; k < c.k; k++) {
        n += c.l->r[k].len;
        v += c.l->r[k].w;
    }
    const void *ch = c.l;
    for (const node *p = c.l->parent; p; ch = p, p = p->parent)
        for (uint32_t i = 0; p->kid[i] != ch; i++) {
            n += p->items[i];
            v += p->width[i];
        }
    if (items) *items = n;
    if (width) *width = v;
}

static cur find_id(const weft_text *t, tid x) {
    leaf *l = t->leaves[t->agents[x.agent].leaf_of[x.seq]];
    uint32_t k = 0;
    while (l->r[k].agent != x.agent || x.seq - l->r[k].seq >= l->r[k].len)
        k++;
    assert(k < l->n);
    return (cur){l, k, x.seq - l->r[k].seq};
}

static uint64_t id_index(const weft_text *t, tid x) {
    uint64_t n;
    cur_pos(t, find_id(t, x), &n, NULL);
    return n;
}

/* The run before the cursor's run (o == 0), or NULL at the start. */
static run *run_before(cur c, leaf **in) {
    if (c.k > 0) {
        *in = c.l;
        return &c.l->r[c.k - 1];
    }
    if (c.l->prev) {
        *in = c.l->prev;
        return &c.l->prev->r[c.l->prev->n - 1];
    }
    return NULL;
}

static tid id_before(cur c) {
    if (c.o) return (tid){c.l->r[c.k].agent, c.l->r[c.k].seq + c.o - 1};
    leaf *l;
    const run *p = run_before(c, &l);
    return p ? (tid){p->agent, p->seq + p->len - 1} : NO_ID;
}

static tid id_at(cur c) {
    if (c.k == c.l->n) {
        if (!c.l->next) return NO_ID;
        c = (cur){c.l->next, 0, 0};
    }
    return (tid){c.l->r[c.k].agent, c.l->r[c.k].seq + c.o};
}

/* Splits run k of l (which has room) at item o, 0 < o < len. */
static void split_run(weft_text *t, leaf *l, uint32_t k, uint32_t o) {
    run *r = &l->r[k], b = *r;
    b.seq += o;
    b.len -= o;
    b.left = (tid){r->agent, r->seq + o - 1};
    if (r->w) {
        uint32_t bytes, units;
        run_prefix(t, r, o, &bytes, &units);
        b.off += bytes;
        b.nbytes -= bytes;
        b.w -= units;
        r->nbytes = bytes;
        r->w = units;
    }
    r->len = o;
    memmove(&l->r[k + 2], &l->r[k + 1], (l->n - k - 1) * sizeof(run));
    l->r[k + 1] = b;
    l->n++;
}

/* Whether b directly continues a: one insert's items, the same state. */
static int mergeable(const run *a, const run *b) {
    return a->agent == b->agent && a->seq + a->len == b->seq && tid_eq(a->right, b->right) &&
           b->left.agent == a->agent && b->left.seq == b->seq - 1 && !a->w == !b->w &&
           (!a->w || a->off + a->nbytes == b->off);
}

/* Merges runs k and k + 1 of l when they continue each other. */
static void try_merge(leaf *l, uint32_t k) {
    if (k + 1 >= l->n || !mergeable(&l->r[k], &l->r[k + 1])) return;
    run *a = &l->r[k];
    a->len += a[1].len;
    a->w += a[1].w;
    a->nbytes += a[1].nbytes;
    memmove(&l->r[k + 1], &l->r[k + 2], (l->n - k - 2) * sizeof(run));
    l->n--;
}

/* Puts run nr (ids reserved, text in the arena) at cursor c, extending the
 * run before it when nr continues it. */
static int insert_run(weft_text *t, cur c, const run *nr) {
    if (c.o == 0) {
        leaf *pl;
        run *p = run_before(c, &pl);
        if (p && mergeable(p, nr)) {
            p->len += nr->len;
            p->w += nr->w;
            p->nbytes += nr->nbytes;
            set_leaf(t, nr, pl->id);
            propagate(t, pl, nr->len, nr->w);
            return 0;
        }
    }
    int rc = make_room(t, &c, 2);
    if (rc) return rc;
    leaf *l = c.l;
    uint32_t k = c.k;
    if (c.o) split_run(t, l, k++, c.o);
    memmove(&l->r[k + 1], &l->r[k], (l->n - k) * sizeof(run));
    l->r[k] = *nr;
    l->n++;
    set_leaf(t, nr, l->id);
    propagate(t, l, nr->len, nr->w);
    return 0;
}

/* Deletes items [c.o, c.o + m) of run c.k (visible). Returns the units
 * deleted, or a negative error. */
static int64_t delete_items(weft_text *t, cur c, uint32_t m) {
    int rc = make_room(t, &c, 2);
    if (rc) return rc;
    leaf *l = c.l;
    uint32_t k = c.k;
    if (c.o) split_run(t, l, k++, c.o);
    if (m < l->r[k].len) split_run(t, l, k, m);
    run *r = &l->r[k];
    uint32_t w = r->w;
    t->bytes -= r->nbytes;
    r->w = r->nbytes = r->off = 0;
    propagate(t, l, 0, -(int64_t)w);
    try_merge(l, k);
    if (k > 0) try_merge(l, k - 1);
    return w;
}

/* ---- content arena ---- */

static int arena_add(weft_text *t, const uint8_t *s, size_t n, uint32_t *off) {
    if (t->arena_len + n > UINT32_MAX) return WEFT_ELIMIT;
    if (weft__grow(t->a, (void **)&t->arena, &t->arena_cap, t->arena_len + n, 1))
        return WEFT_ENOMEM;
    *off = (uint32_t)t->arena_len;
    if (!n) return 0;
    memcpy(t->arena + t->arena_len, s, n);
    t->arena_len += n;
    return 0;
}

/* ---- local edits ---- */

static int add_lop(weft_text *t, const op *o) {
    if (t->n_lops && o->kind <= OP_DELETE) {
        op *p = &t->lops[t->n_lops - 1];
        /* Typing and deleting forwards continue the previous op. */
        if (p->kind == o->kind && p->kind <= OP_DELETE && p->agent == o->agent &&
            p->seq + p->len == o->seq &&
            (o->kind == OP_DELETE || (tid_eq(p->right, o->right) && o->left.agent == o->agent &&
                                      o->left.seq == o->seq - 1 && p->off + p->nbytes == o->off))) {
            p->len += o->len;
            p->nbytes += o->nbytes;
            return 0;
        }
        /* Backspacing: the new range ends where the previous began. */
        if (p->kind == OP_DELETE && o->kind == OP_DELETE && p->agent == o->agent &&
            o->seq + o->len == p->seq) {
            p->seq = o->seq;
            p->len += o->len;
            return 0;
        }
    }
    if (weft__grow(t->a, (void **)&t->lops, &t->cap_lops, t->n_lops + 1, sizeof(op)))
        return WEFT_ENOMEM;
    t->lops[t->n_lops++] = *o;
    return 0;
}

static int insert_at(weft_text *t, cur c, const char *utf8, size_t len);

int weft_text_insert(weft_text *t, size_t pos, const char *utf8, size_t len) {
    validate_or_ret(t && (utf8 || !len), WEFT_EINVAL);
    validate_or_ret(pos <= t->width, WEFT_EINVAL);
    if (!len) return 0;
    uint32_t u;
    cur c = seek_width(t, pos, &u);
    int inside = 0;
    if (c.k < c.l->n) c.o = run_item_at(t, &c.l->r[c.k], u, &inside);
    validate_or_ret(!inside, WEFT_EINVAL);
    return insert_at(t, c, utf8, len);
}

/* Inserts at cursor c: before the item there (or at the end). */
static int insert_at(weft_text *t, cur c, const char *utf8, size_t len) {
    const uint8_t *s = (const uint8_t *)utf8;
    if (!weft_utf8_valid(s, len)) return WEFT_EMALFORMED;
    uint64_t cps, u16;
    utf8_count(s, len, &cps, &u16);
    agent *g = &t->agents[0];
    if (cps > MAX_IDS - g->next || t->items + cps > MAX_IDS || t->arena_len + len > UINT32_MAX)
        return WEFT_ELIMIT;
    if (reserve_ids(t, g, g->next + cps) ||
        weft__grow(t->a, (void **)&t->lops, &t->cap_lops, t->n_lops + 1, sizeof(op)))
        return WEFT_ENOMEM;
    run nr = {.agent = 0,
              .seq = g->next,
              .len = (uint32_t)cps,
              .w = (uint32_t)(t->utf16 ? u16 : cps),
              .nbytes = (uint32_t)len,
              .left = id_before(c),
              .right = id_at(c)};
    size_t mark = t->arena_len;
    int rc = arena_add(t, s, len, &nr.off);
    if (!rc) rc = insert_run(t, c, &nr);
    if (rc) {
        t->arena_len = mark;
        return rc;
    }
    g->next += nr.len;
    t->bytes += len;
    op o = {.kind = OP_INSERT,
            .seq = nr.seq,
            .len = nr.len,
            .left = nr.left,
            .right = nr.right,
            .nbytes = nr.nbytes,
            .off = nr.off};
    o.off = nr.off;
    return add_lop(t, &o);
}

/* Whether visible unit position pos is not inside a surrogate pair. */
static int unit_boundary(const weft_text *t, uint64_t pos) {
    if (!t->utf16 || pos == 0 || pos >= t->width) return 1;
    uint32_t u;
    cur c = seek_width(t, pos, &u);
    int inside;
    run_item_at(t, &c.l->r[c.k], u, &inside);
    return !inside;
}

int weft_text_delete(weft_text *t, size_t pos, size_t count) {
    validate_or_ret(t && pos <= t->width && count <= t->width - pos, WEFT_EINVAL);
    validate_or_ret(unit_boundary(t, pos) && unit_boundary(t, pos + count), WEFT_EINVAL);
    while (count) {
        if (weft__grow(t->a, (void **)&t->lops, &t->cap_lops, t->n_lops + 1, sizeof(op)))
            return WEFT_ENOMEM;
        uint32_t u;
        int inside;
        cur c = seek_width(t, pos, &u);
        const run *r = &c.l->r[c.k];
        c.o = run_item_at(t, r, u, &inside);
        uint32_t m = r->len - c.o, take = r->w - u;
        if (count < take) {
            take = (uint32_t)count;
            m = run_item_at(t, r, u + take, &inside) - c.o;
        }
        op o = {.kind = OP_DELETE, .agent = r->agent, .seq = r->seq + c.o, .len = m};
        int64_t w = delete_items(t, c, m);
        if (w < 0) return (int)w; /* only ENOMEM; what was deleted stays */
        add_lop(t, &o);           /* cannot fail: room was made above */
        count -= take;
    }
    return 0;
}

/* ---- stable positions ---- */

int weft_text_anchor_at(const weft_text *t, size_t pos, int32_t assoc, weft_text_anchor *out) {
    validate_or_ret(t && out && pos <= t->width && unit_boundary(t, pos), WEFT_EINVAL);
    memset(out, 0, sizeof *out);
    out->assoc = assoc;
    out->seq = WEFT_TEXT_ANCHOR_EDGE;
    if (assoc >= 0 ? pos == t->width : pos == 0) return 0;
    /* The visible item holding unit pos (after) or unit pos - 1 (before). */
    uint32_t u;
    int inside;
    cur c = seek_width(t, assoc >= 0 ? pos : pos - 1, &u);
    const run *r = &c.l->r[c.k];
    c.o = run_item_at(t, r, u, &inside);
    if (inside) c.o--; /* pos - 1 is the low half of a pair: the pair's item */
    memcpy(out->author, t->agents[r->agent].key, WEFT_KEY_BYTES);
    out->seq = r->seq + c.o;
    return 0;
}

int weft_text_insert_before(weft_text *t, const weft_text_anchor *a, const char *utf8, size_t len) {
    validate_or_ret(t && a && (utf8 || !len) && a->assoc >= 0, WEFT_EINVAL);
    if (a->seq == WEFT_TEXT_ANCHOR_EDGE) return weft_text_insert(t, t->width, utf8, len);
    uint32_t g;
    if (!find_agent(t, a->author, &g) || a->seq >= t->agents[g].next) return WEFT_ENOTFOUND;
    if (!len) return 0;
    return insert_at(t, find_id(t, (tid){g, a->seq}), utf8, len);
}

int weft_text_anchor_resolve(const weft_text *t, const weft_text_anchor *a, size_t *pos) {
    validate_or_ret(t && a && pos, WEFT_EINVAL);
    if (a->seq == WEFT_TEXT_ANCHOR_EDGE) {
        *pos = a->assoc < 0 ? 0 : (size_t)t->width;
        return 0;
    }
    size_t g = 0;
    while (g < t->n_agents && memcmp(t->agents[g].key, a->author, WEFT_KEY_BYTES) != 0)
        g++;
    if (g == t->n_agents || a->seq >= t->agents[g].next) return WEFT_ENOTFOUND;
    cur c = find_id(t, (tid){(uint32_t)g, a->seq});
    if (a->assoc < 0 && c.l->r[c.k].w) c.o++; /* after a visible item */
    uint64_t w;
    cur_pos(t, c, NULL, &w);
    *pos = (size_t)w;
    return 0;
}

/* ---- update encoding ---- */

static void put_id(wbuf *b, const uint32_t *map, tid x) {
    if (x.agent == NONE) {
        wbuf_u8(b, 0);
        return;
    }
    wbuf_varint(b, map[x.agent] + 1);
    wbuf_varint(b, x.seq);
}

/* Gives each agent the ops use an index in the update's author table. */
static int map_agents(weft_text *t, const op *ops, size_t n, uint32_t *n_used) {
    if (weft__grow(t->a, (void **)&t->map, &t->cap_map, t->n_agents, sizeof(uint32_t)))
        return WEFT_ENOMEM;
    for (size_t i = 0; i < t->n_agents; i++)
        t->map[i] = NONE;
    uint32_t used = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t as[3] = {ops[i].agent, ops[i].left.agent, ops[i].right.agent};
        if (ops[i].kind > OP_DELETE) continue;
        for (int j = 0; j < (ops[i].kind == OP_INSERT ? 3 : 1); j++)
            if (as[j] != NONE && t->map[as[j]] == NONE) t->map[as[j]] = used++;
    }
    *n_used = used;
    return 0;
}

/* Writes id x at p (room for 20 bytes). Returns the bytes written. */
static size_t write_id(uint8_t *p, const uint32_t *map, tid x) {
    if (x.agent == NONE) {
        *p = 0;
        return 1;
    }
    size_t n = varint_put(p, map[x.agent] + 1);
    return n + varint_put(p + n, x.seq);
}

int weft_text_take_ops(weft_text *t, const uint8_t **ops, size_t *len) {
    validate_or_ret(t && ops && len, WEFT_EINVAL);
    wbuf *b = &t->out;
    b->len = 0;
    b->err = 0;
    *ops = NULL;
    *len = 0;
    size_t n_edits = 0; /* marks travel in changes only (weft_text_format) */
    for (size_t i = 0; i < t->n_lops; i++)
        n_edits += t->lops[i].kind <= OP_DELETE;
    if (!n_edits) {
        t->n_lops = 0;
        return 0;
    }
    uint32_t used;
    if (map_agents(t, t->lops, t->n_lops, &used)) return WEFT_ENOMEM;
    /* One reservation for the whole update (this runs once per keystroke
     * in a live session), then plain stores. */
    size_t bound = 2 + 10 + (size_t)used * WEFT_KEY_BYTES + 10;
    for (size_t i = 0; i < t->n_lops; i++)
        bound += 1 + 10 + 10 + 2 * 20 + 10 + t->lops[i].nbytes;
    if (wbuf_reserve(b, bound)) return WEFT_ENOMEM;
    uint8_t *p = b->p;
    *p++ = VERSION;
    *p++ = KIND_UPDATE;
    p += varint_put(p, used);
    for (uint32_t u = 0; u < used; u++)
        for (size_t i = 0; i < t->n_agents; i++)
            if (t->map[i] == u) {
                memcpy(p, t->agents[i].key, WEFT_KEY_BYTES);
                p += WEFT_KEY_BYTES;
            }
    p += varint_put(p, n_edits);
    for (size_t i = 0; i < t->n_lops; i++) {
        const op *o = &t->lops[i];
        if (o->kind > OP_DELETE) continue;
        *p++ = o->kind;
        p += varint_put(p, t->map[o->agent]);
        p += varint_put(p, o->seq);
        if (o->kind == OP_DELETE) {
            p += varint_put(p, o->len);
            continue;
        }
        p += write_id(p, t->map, o->left);
        p += write_id(p, t->map, o->right);
        p += varint_put(p, o->nbytes);
        memcpy(p, t->arena + o->off, o->nbytes);
        p += o->nbytes;
    }
    b->len = (size_t)(p - b->p);
    t->n_lops = 0;
    *ops = b->p;
    *len = b->len;
    return 0;
}

/* ---- remote edits ---- */

static void emit(weft_text *t, uint64_t pos, uint64_t del, const uint8_t *ins, size_t ins_len,
                 uint64_t ins_units) {
    if (!t->on_delta) return;
    weft_text_delta d = {(size_t)pos, (size_t)del,       (const char *)ins,
                         ins_len,     (size_t)ins_units, 0};
    t->on_delta(t->ud, &d);
}

static int present(const weft_text *t, tid x) {
    return x.agent == NONE || x.seq < t->agents[x.agent].next;
}

/* Places the insert o (ready: its ids are next, its origins present) by
 * the YjsMod rule: scan right from the left origin up to the right origin;
 * an item whose left origin is further left ends the scan; one with the
 * same left origin is skipped if its right origin lies beyond ours or, on
 * the same right origin, if its author's key sorts first; one whose right
 * origin lies before ours may still be skipped, so it is remembered as a
 * possible spot (`scanning`) until that is settled. */
static int integrate(weft_text *t, const op *o) {
    int64_t left = o->left.agent == NONE ? -1 : (int64_t)id_index(t, o->left);
    uint64_t right = o->right.agent == NONE ? t->items : id_index(t, o->right);
    if ((int64_t)right <= left) return WEFT_EMALFORMED;
    uint64_t i = (uint64_t)(left + 1), dest = i;
    int scanning = 0;
    cur c = seek_item(t, i);
    const uint8_t *key = t->agents[o->agent].key;
    for (;;) {
        if (!scanning) dest = i;
        if (i == t->items || i == right) break;
        if (c.k == c.l->n) c = (cur){c.l->next, 0, 0};
        const run *r = &c.l->r[c.k];
        int64_t oleft = c.o                     ? (int64_t)i - 1
                        : r->left.agent == NONE ? -1
                                                : (int64_t)id_index(t, r->left);
        if (oleft < left) break;
        if (oleft == left) {
            uint64_t oright = r->right.agent == NONE ? t->items : id_index(t, r->right);
            if (oright < right) {
                scanning = 1;
            } else if (oright == right &&
                       memcmp(key, t->agents[r->agent].key, WEFT_KEY_BYTES) < 0) {
                break;
            } else {
                scanning = 0;
            }
        }
        /* The rest of this run has its left origin inside the scan, so
         * it is skipped as a whole (but never past the right origin). */
        uint64_t step = r->len - c.o;
        if (right - i < step) {
            step = right - i;
            c.o += (uint32_t)step;
        } else {
            c.k++;
            c.o = 0;
        }
        i += step;
    }
    uint32_t off;
    int rc = arena_add(t, o->text, o->nbytes, &off);
    if (rc) return rc;
    run nr = {o->agent, o->seq,    o->len,  units_of(t, o->text, o->nbytes, o->len),
              off,      o->nbytes, o->left, o->right};
    c = seek_item(t, dest);
    uint64_t vis = 0;
    if (t->on_delta) cur_pos(t, c, NULL, &vis);
    rc = insert_run(t, c, &nr);
    if (rc) {
        t->arena_len = off;
        return rc;
    }
    t->agents[o->agent].next += o->len;
    t->bytes += o->nbytes;
    emit(t, vis, 0, o->text, o->nbytes, nr.w);
    return 0;
}

static int delete_ids(weft_text *t, uint32_t a, uint32_t seq, uint32_t len) {
    while (len) {
        cur c = find_id(t, (tid){a, seq});
        const run *r = &c.l->r[c.k];
        uint32_t m = r->len - c.o < len ? r->len - c.o : len;
        if (r->w) {
            uint64_t vis = 0;
            if (t->on_delta) cur_pos(t, c, NULL, &vis);
            int64_t w = delete_items(t, c, m);
            if (w < 0) return (int)w;
            emit(t, vis, (uint64_t)w, NULL, 0, 0);
        }
        seq += m;
        len -= m;
    }
    return 0;
}

/* Applies op o if its causal past is here. Returns 1 when done (applied or
 * already there), 0 when it must wait, or a negative error. */
static int try_op(weft_text *t, op *o) {
    agent *g = &t->agents[o->agent];
    if (o->kind == OP_DELETE) {
        if ((uint64_t)o->seq + o->len > g->next) return 0;
        int rc = delete_ids(t, o->agent, o->seq, o->len);
        return rc ? rc : 1;
    }
    if (o->seq > g->next) return 0;
    if ((uint64_t)o->seq + o->len <= g->next) return 1;
    if (o->seq < g->next) { /* partly applied: keep the new tail */
        uint32_t skip = g->next - o->seq, b = 0;
        for (uint32_t i = 0; i < skip; i++)
            b += cp_bytes(o->text[b]);
        o->text += b;
        o->nbytes -= b;
        o->seq += skip;
        o->len -= skip;
        o->left = (tid){o->agent, o->seq - 1};
    }
    if (!present(t, o->left) || !present(t, o->right)) return 0;
    if (t->items + o->len > MAX_IDS) return WEFT_ELIMIT;
    if (reserve_ids(t, g, (uint64_t)g->next + o->len)) return WEFT_ENOMEM;
    int rc = integrate(t, o);
    return rc ? rc : 1;
}

/* The set of waiting ops, as a hash table of indices into t->pend, so
 * that an update delivered again while it waits is not parked twice. */
static uint64_t op_hash(const op *o) {
    return weft__hash_u64(((uint64_t)o->agent << 32 | o->seq) ^ (uint64_t)o->kind << 62);
}

static int same_op(const op *a, const op *b) {
    return a->kind == b->kind && a->agent == b->agent && a->seq == b->seq && a->len == b->len;
}

static void pset_add(weft_text *t, uint32_t i) {
    size_t mask = t->cap_pset - 1, h = (size_t)op_hash(&t->pend[i]) & mask;
    while (t->pset[h] != NONE)
        h = (h + 1) & mask;
    t->pset[h] = i;
}

/* Rebuilds the table for n_pend + 1 ops (after drain moved them). */
static int pset_rebuild(weft_text *t) {
    size_t cap = 16;
    while (cap < 2 * (t->n_pend + 1))
        cap *= 2;
    if (cap != t->cap_pset) {
        uint32_t *p = weft__realloc(t->a, t->pset, cap * sizeof(uint32_t));
        if (!p) return WEFT_ENOMEM;
        t->pset = p;
        t->cap_pset = cap;
    }
    for (size_t h = 0; h < cap; h++)
        t->pset[h] = NONE;
    for (size_t i = 0; i < t->n_pend; i++)
        pset_add(t, (uint32_t)i);
    t->pset_stale = 0;
    return 0;
}

static int pset_has(const weft_text *t, const op *o) {
    size_t mask = t->cap_pset - 1;
    for (size_t h = (size_t)op_hash(o) & mask; t->pset[h] != NONE; h = (h + 1) & mask)
        if (same_op(&t->pend[t->pset[h]], o)) return 1;
    return 0;
}

static int park(weft_text *t, const op *o) {
    if ((t->pset_stale || t->cap_pset < 2 * (t->n_pend + 1)) && pset_rebuild(t)) return WEFT_ENOMEM;
    if (pset_has(t, o)) return 0;
    size_t cost = sizeof(op) + o->nbytes;
    if (t->pend_bytes + cost > t->max_pending) return WEFT_EPENDING_FULL;
    if (t->n_pend >= UINT32_MAX - 1 ||
        weft__grow(t->a, (void **)&t->pend, &t->cap_pend, t->n_pend + 1, sizeof(op)))
        return WEFT_ENOMEM;
    op p = *o;
    p.owned = NULL;
    p.cost = cost;
    if (o->nbytes) {
        p.owned = weft__alloc(t->a, o->nbytes);
        if (!p.owned) return WEFT_ENOMEM;
        memcpy(p.owned, o->text, o->nbytes);
        p.text = p.owned;
    }
    t->pend[t->n_pend] = p;
    pset_add(t, (uint32_t)t->n_pend++);
    t->pend_unsorted = 1;
    t->pend_bytes += cost;
    return 0;
}

/* Inserts first, then by author and seq: the order in which an author's
 * waiting ops can apply, so one pass wakes a whole chain. */
static int op_order(const void *x, const void *y) {
    const op *a = x, *b = y;
    if (a->kind != b->kind) return a->kind < b->kind ? -1 : 1;
    if (a->agent != b->agent) return a->agent < b->agent ? -1 : 1;
    return (a->seq > b->seq) - (a->seq < b->seq);
}

/* Retries waiting ops until none makes progress. Ops that turn out to
 * contradict the text are dropped: they cannot be reported any more. */
static int drain(weft_text *t) {
    if (t->pend_unsorted) qsort(t->pend, t->n_pend, sizeof(op), op_order);
    t->pend_unsorted = 0;
    t->pset_stale = 1; /* ops move and change below */
    int progress = 1, rc = 0;
    while (progress && t->n_pend && !rc) {
        progress = 0;
        size_t keep = 0;
        for (size_t i = 0; i < t->n_pend; i++) {
            op *p = &t->pend[i];
            int r = rc ? 0 : try_op(t, p);
            if (r == WEFT_ENOMEM || r == WEFT_ELIMIT) {
                rc = r;
                r = 0;
            }
            if (r == 0) {
                t->pend[keep++] = *p;
                continue;
            }
            t->pend_bytes -= p->cost;
            weft__free(t->a, p->owned);
            progress = 1;
        }
        t->n_pend = keep;
    }
    return rc;
}

static tid get_id(wreader *rd, uint32_t n_authors) {
    uint64_t a = rd_varint(rd);
    if (a == 0) return NO_ID;
    uint64_t s = rd_varint(rd);
    if (a > n_authors || s >= UINT32_MAX) rd_fail(rd, WEFT_EMALFORMED);
    return (tid){(uint32_t)(a - 1), (uint32_t)s};
}

/* Decodes and checks a whole update into t->scratch (author indices still
 * the update's own). */
static int decode_update(weft_text *t, wreader *rd, const uint8_t **keys, uint32_t *n_authors,
                         size_t *n_ops) {
    uint8_t v = rd_u8(rd);
    if (rd->err) return rd->err;
    if (v != VERSION) return WEFT_EVERSION;
    if (rd_u8(rd) != KIND_UPDATE) rd_fail(rd, WEFT_EMALFORMED);
    uint64_t na = rd_varint(rd);
    if (!rd->err && na > MAX_AUTHORS) return WEFT_ETOOBIG;
    *keys = rd_take(rd, (size_t)na * WEFT_KEY_BYTES);
    uint64_t n = rd_varint(rd);
    if (rd->err) return rd->err;
    if (n > rd_left(rd) / 4) return WEFT_ETRUNCATED; /* an op takes 4 bytes at least */
    if (weft__grow(t->a, (void **)&t->scratch, &t->cap_scratch, (size_t)n, sizeof(op)))
        return WEFT_ENOMEM;
    for (size_t i = 0; i < n && !rd->err; i++) {
        op *o = &t->scratch[i];
        memset(o, 0, sizeof *o);
        o->kind = rd_u8(rd);
        uint64_t a = rd_varint(rd), s = rd_varint(rd);
        if (a >= na || s >= UINT32_MAX) rd_fail(rd, WEFT_EMALFORMED);
        o->agent = (uint32_t)a;
        o->seq = (uint32_t)s;
        if (o->kind == OP_DELETE) {
            uint64_t len = rd_varint(rd);
            if (len == 0 || len > UINT32_MAX - s) rd_fail(rd, WEFT_EMALFORMED);
            o->len = (uint32_t)len;
        } else if (o->kind == OP_INSERT) {
            o->left = get_id(rd, (uint32_t)na);
            o->right = get_id(rd, (uint32_t)na);
            size_t nb;
            o->text = rd_lbytes(rd, &nb, UINT32_MAX);
            if (rd->err) break;
            uint64_t cps, u16;
            if (nb == 0 || !weft_utf8_valid(o->text, nb)) {
                rd_fail(rd, WEFT_EMALFORMED);
                break;
            }
            utf8_count(o->text, nb, &cps, &u16);
            if (cps > UINT32_MAX - s) rd_fail(rd, WEFT_EMALFORMED);
            o->len = (uint32_t)cps;
            o->nbytes = (uint32_t)nb;
            /* An insert's left origin is never one of its own ids. */
            if (o->left.agent == o->agent && o->left.seq >= s) rd_fail(rd, WEFT_EMALFORMED);
            if (o->right.agent == o->agent && o->right.seq >= s) rd_fail(rd, WEFT_EMALFORMED);
        } else {
            rd_fail(rd, WEFT_EMALFORMED);
        }
    }
    if (!rd->err && rd_left(rd)) rd_fail(rd, WEFT_EMALFORMED);
    *n_authors = (uint32_t)na;
    *n_ops = (size_t)n;
    return rd->err;
}

int weft_text_apply(weft_text *t, const uint8_t *ops, size_t len) {
    validate_or_ret(t && (ops || !len), WEFT_EINVAL);
    if (!len) return 0;
    wreader rd;
    rd_init(&rd, ops, len);
    const uint8_t *keys;
    uint32_t na;
    size_t n;
    int rc = decode_update(t, &rd, &keys, &na, &n);
    if (rc) return rc;
    if (weft__grow(t->a, (void **)&t->map, &t->cap_map, na, sizeof(uint32_t))) return WEFT_ENOMEM;
    for (uint32_t i = 0; i < na; i++)
        if ((rc = add_agent(t, keys + (size_t)i * WEFT_KEY_BYTES, &t->map[i]))) return rc;
    int applied = 0;
    for (size_t i = 0; i < n; i++) {
        op *o = &t->scratch[i];
        o->agent = t->map[o->agent];
        if (o->kind == OP_INSERT) {
            if (o->left.agent != NONE) o->left.agent = t->map[o->left.agent];
            if (o->right.agent != NONE) o->right.agent = t->map[o->right.agent];
        }
        rc = try_op(t, o);
        if (rc < 0) return rc;
        if (rc == 0 && (rc = park(t, o))) return rc;
        applied |= rc == 1;
    }
    return applied && t->n_pend ? drain(t) : 0;
}

/* ---- single ops with keys (text ops inside changes) ---- */

int weft__text_op_check(weft_text_op *o) {
    if (o->kind == OP_MARK || o->kind == OP_UNMARK) return weft__marks_check(o);
    if (!o->author || o->seq >= UINT32_MAX) return WEFT_EMALFORMED;
    if (o->kind == OP_DELETE)
        return o->len == 0 || o->len > UINT32_MAX - o->seq ? WEFT_EMALFORMED : 0;
    if (o->kind != OP_INSERT || !o->text || !o->nbytes || !weft_utf8_valid(o->text, o->nbytes))
        return WEFT_EMALFORMED;
    if ((o->left && o->left_seq >= UINT32_MAX) || (o->right && o->right_seq >= UINT32_MAX))
        return WEFT_EMALFORMED;
    uint64_t cps, u16;
    utf8_count(o->text, o->nbytes, &cps, &u16);
    if (cps > UINT32_MAX - o->seq) return WEFT_EMALFORMED;
    o->len = (uint32_t)cps;
    /* An insert's origins are never its own ids. */
    if (o->left && o->left_seq >= o->seq && memcmp(o->left, o->author, WEFT_KEY_BYTES) == 0)
        return WEFT_EMALFORMED;
    if (o->right && o->right_seq >= o->seq && memcmp(o->right, o->author, WEFT_KEY_BYTES) == 0)
        return WEFT_EMALFORMED;
    return 0;
}

static int agent_id(weft_text *t, const uint8_t *key, uint32_t seq, tid *out) {
    if (!key) {
        *out = NO_ID;
        return 0;
    }
    out->seq = seq;
    return add_agent(t, key, &out->agent);
}

static int apply_mark(weft_text *t, const weft_text_op *x);

int weft__text_apply_op(weft_text *t, const weft_text_op *x) {
    if (x->kind == OP_MARK || x->kind == OP_UNMARK) return apply_mark(t, x);
    op o = {.kind = x->kind, .seq = x->seq, .len = x->len, .text = x->text, .nbytes = x->nbytes};
    tid a;
    int rc = agent_id(t, x->author, 0, &a);
    if (!rc && x->kind == OP_INSERT) rc = agent_id(t, x->left, x->left_seq, &o.left);
    if (!rc && x->kind == OP_INSERT) rc = agent_id(t, x->right, x->right_seq, &o.right);
    if (rc) return rc;
    o.agent = a.agent;
    rc = try_op(t, &o);
    if (rc < 0) return rc;
    if (rc == 0) return park(t, &o);
    return t->n_pend ? drain(t) : 0;
}

size_t weft__text_local_count(const weft_text *t) {
    return t->n_lops;
}

void weft__text_local_op(const weft_text *t, size_t i, weft_text_op *out) {
    const op *o = &t->lops[i];
    if (o->kind == OP_MARK || o->kind == OP_UNMARK) {
        int rc = weft__marks_find(t->marks, o->lamport, t->agents[0].key, out);
        assert(rc == 0); /* local marks are in the store since they were made */
        (void)rc;
        return;
    }
    *out = (weft_text_op){
        .kind = o->kind, .author = t->agents[o->agent].key, .seq = o->seq, .len = o->len};
    if (o->kind != OP_INSERT) return;
    out->left = o->left.agent == NONE ? NULL : t->agents[o->left.agent].key;
    out->left_seq = o->left.seq;
    out->right = o->right.agent == NONE ? NULL : t->agents[o->right.agent].key;
    out->right_seq = o->right.seq;
    out->text = t->arena + o->off;
    out->nbytes = o->nbytes;
}

void weft__text_local_clear(weft_text *t) {
    t->n_lops = 0;
}

static leaf *first_leaf(const weft_text *t);

uint32_t weft__text_next_seq(const weft_text *t, const uint8_t *key) {
    uint32_t a;
    const agent *g = find_agent((weft_text *)t, key, &a);
    return g ? g->next : 0;
}

int weft__text_find(const weft_text *t, const uint8_t *key, uint32_t seq, uint64_t *pos) {
    uint32_t a;
    const agent *g = find_agent((weft_text *)t, key, &a);
    if (!g || seq >= g->next) return -1;
    cur c = find_id(t, (tid){a, seq});
    if (!c.l->r[c.k].w) return 0;
    if (pos) cur_pos(t, c, NULL, pos);
    return 1;
}

void weft__text_id_at(const weft_text *t, uint64_t pos, const uint8_t **key, uint32_t *seq) {
    uint32_t u;
    cur c = seek_width(t, pos, &u);
    assert(c.k < c.l->n);
    int inside;
    const run *r = &c.l->r[c.k];
    uint32_t o = run_item_at(t, r, u, &inside);
    *key = t->agents[r->agent].key;
    *seq = r->seq + o;
}

int weft__text_each_visible(const weft_text *t,
                            int (*fn)(void *ctx, const uint8_t *key, uint32_t seq), void *ctx) {
    for (const leaf *l = first_leaf(t); l; l = l->next)
        for (uint32_t k = 0; k < l->n; k++) {
            const run *r = &l->r[k];
            if (!r->w) continue;
            for (uint32_t o = 0; o < r->len; o++) {
                int rc = fn(ctx, t->agents[r->agent].key, r->seq + o);
                if (rc) return rc;
            }
        }
    return 0;
}

/* ---- marks (marks.c keeps the ops; here they meet the items) ---- */

int weft__text_gap(const weft_text *t, const uint8_t *key, uint32_t seq, int after, uint64_t *gap) {
    uint32_t a;
    const agent *g = find_agent((weft_text *)t, key, &a);
    if (!g || seq >= g->next) return -1;
    *gap = id_index(t, (tid){a, seq}) + (after ? 1 : 0);
    return 0;
}

size_t weft__text_mark_ops(const weft_text *t) {
    return weft__marks_count(t->marks);
}

uint64_t weft__text_items(const weft_text *t) {
    return t->items;
}

int weft__text_each_run(const weft_text *t,
                        int (*fn)(void *ctx, uint64_t first, uint32_t len, const uint8_t *utf8,
                                  uint32_t nbytes),
                        void *ctx) {
    uint64_t first = 0;
    for (const leaf *l = first_leaf(t); l; l = l->next)
        for (uint32_t k = 0; k < l->n; k++) {
            const run *r = &l->r[k];
            if (r->w) {
                int rc = fn(ctx, first, r->len, t->arena + r->off, r->nbytes);
                if (rc) return rc;
            }
            first += r->len;
        }
    return 0;
}

/* The visible position (units) of the gap before item index idx. */
static uint64_t gap_width(const weft_text *t, uint64_t idx) {
    if (idx >= t->items) return t->width;
    uint64_t w;
    cur c = seek_item(t, idx);
    cur_pos(t, c, NULL, &w);
    return w;
}

/* Tells the delta callback which units a new mark op may have changed. */
static void emit_format(weft_text *t, const weft_text_op *x) {
    if (!t->on_delta) return;
    uint64_t s = 0, e = t->items;
    if (x->left && weft__text_gap(t, x->left, x->left_seq, x->sides & WEFT_MARK_START_AFTER, &s))
        return;
    if (x->right &&
        weft__text_gap(t, x->right, x->right_seq, (x->sides & WEFT_MARK_END_AFTER) != 0, &e))
        return;
    if (s >= e) return;
    uint64_t ws = gap_width(t, s), we = gap_width(t, e);
    if (we <= ws) return;
    weft_text_delta d = {(size_t)ws, 0, NULL, 0, 0, (size_t)(we - ws)};
    t->on_delta(t->ud, &d);
}

static int apply_mark(weft_text *t, const weft_text_op *x) {
    int added;
    int rc = weft__marks_add(&t->marks, t->a, x, &added);
    if (!rc && added) emit_format(t, x);
    return rc;
}

int weft_text_mark_expands(const char *type, size_t type_len) {
    /* Fixed by name for every replica and build (FORMAT.md §10, level 5):
     * a block marker's `block` mark covers its one character, never text
     * typed after it (TEXT.md, "Blocks"). */
    static const char *const fixed[] = {"link", "comment", "block"};
    for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
        if (type && type_len == strlen(fixed[i]) && memcmp(type, fixed[i], type_len) == 0) return 0;
    return 1;
}

int weft_text_format(weft_text *t, size_t pos, size_t len, const char *type, size_t type_len,
                     const uint8_t *value, size_t value_len) {
    validate_or_ret(t && type && len && pos <= t->width && len <= t->width - pos, WEFT_EINVAL);
    validate_or_ret(unit_boundary(t, pos) && unit_boundary(t, pos + len), WEFT_EINVAL);
    validate_or_ret(type_len && type_len <= WEFT_MARK_MAX_TYPE &&
                        weft_utf8_valid((const uint8_t *)type, type_len),
                    WEFT_EINVAL);
    validate_or_ret(!value || (value_len && value_len <= WEFT_MARK_MAX_VALUE), WEFT_EINVAL);
    /* Peritext's anchors: the range starts before its first character (text
     * typed at the start stays out) and ends before the next character when
     * the type expands (text typed at the end joins it) or else after its
     * last character. */
    weft_text_anchor s, e;
    int expands = weft_text_mark_expands(type, type_len);
    weft_text_anchor_at(t, pos, 0, &s);
    weft_text_anchor_at(t, pos + len, expands ? 0 : -1, &e);
    uint64_t clock = weft__marks_clock(t->marks);
    weft_text_op x = {.kind = value ? OP_MARK : OP_UNMARK,
                      .author = t->agents[0].key,
                      .lamport = clock + 1,
                      .left = s.author,
                      .left_seq = s.seq,
                      .right = e.seq == WEFT_TEXT_ANCHOR_EDGE ? NULL : e.author,
                      .right_seq = e.seq == WEFT_TEXT_ANCHOR_EDGE ? 0 : e.seq,
                      .sides = expands ? 0 : WEFT_MARK_END_AFTER,
                      .text = (const uint8_t *)type,
                      .nbytes = (uint32_t)type_len,
                      .value = value,
                      .value_len = (uint32_t)(value ? value_len : 0)};
    if (x.lamport > ((uint64_t)1 << 53) - 1) return WEFT_ELIMIT;
    if (weft__grow(t->a, (void **)&t->lops, &t->cap_lops, t->n_lops + 1, sizeof(op)))
        return WEFT_ENOMEM;
    int added;
    int rc = weft__marks_add(&t->marks, t->a, &x, &added);
    if (rc) return rc;
    op o = {.kind = x.kind, .agent = 0, .lamport = x.lamport};
    add_lop(t, &o); /* cannot fail: room was made above */
    return 0;
}

int weft_text_spans(const weft_text *t, weft_text_span_fn fn, void *ud) {
    validate_or_ret(t && fn, WEFT_EINVAL);
    return weft__marks_spans(t->marks, t, t->a, fn, ud);
}

size_t weft_text_pending(const weft_text *t) {
    return t ? t->n_pend : 0;
}

/* ---- reading ---- */

size_t weft_text_length(const weft_text *t) {
    return t ? (size_t)t->width : 0;
}

size_t weft_text_utf8_length(const weft_text *t) {
    return t ? (size_t)t->bytes : 0;
}

static leaf *first_leaf(const weft_text *t) {
    void *c = t->root;
    for (int h = t->height; h > 0; h--)
        c = ((node *)c)->kid[0];
    return c;
}

int weft_text_read(const weft_text *t, char *dst, size_t dst_cap, size_t *out_len) {
    validate_or_ret(t && out_len && (dst || !dst_cap), WEFT_EINVAL);
    *out_len = (size_t)t->bytes;
    if (dst_cap < t->bytes) return WEFT_ENOSPACE;
    size_t n = 0;
    for (const leaf *l = first_leaf(t); l; l = l->next)
        for (uint32_t k = 0; k < l->n; k++) {
            const run *r = &l->r[k];
            if (r->nbytes) memcpy(dst + n, t->arena + r->off, r->nbytes);
            n += r->nbytes;
        }
    return 0;
}

/* ---- whole state ----
 *
 * version, kind 2, varint n_authors, n x (key[32], varint next), varint
 * n_runs, the runs in document order, then `bytes`: the visible text.
 *
 * A run starts with varint h: bit 0 deleted, bits 1-2 left kind, bits 3-4
 * right kind, bit 5 author differs from the previous run's, bits 6+ len - 1.
 * Then, if the left kind is PREV (the run continues the one holding
 * (author, seq - 1), split off by a later insert: the commonest case), a
 * varint: how many runs back that run is; author and seq follow from it.
 * Otherwise [varint author index] if bit 5, and zigzag(seq - the end of
 * the author's previous run). Then the explicit origins: left is an id
 * (varint author index + 1, varint seq); right is zigzag(index of the run
 * holding it - this run's index) and varint offset in that run.
 * Left kinds: 0 none, 1 ADJ the item just before, 2 PREV (author, seq - 1),
 * 3 explicit. Right kinds: 0 none, 1 ADJ the item just after, 2 PREV the
 * right origin of the run holding (author, seq - 1), 3 explicit. */

enum { O_NONE, O_ADJ, O_PREV, O_EXPL };

static int run_at(const weft_text *t, cur c, tid *first) {
    if (c.k == c.l->n) {
        if (!c.l->next) return 0;
        c = (cur){c.l->next, 0, 0};
    }
    *first = (tid){c.l->r[c.k].agent, c.l->r[c.k].seq};
    return 1;
}

int weft_text_encode(weft_text *t, const uint8_t **out, size_t *len) {
    validate_or_ret(t && out && len, WEFT_EINVAL);
    wbuf *b = &t->out;
    b->len = 0;
    b->err = 0;
    size_t na = t->n_agents;
    if (weft__grow(t->a, (void **)&t->map, &t->cap_map, na * 2 + t->n_leaves, sizeof(uint32_t)))
        return WEFT_ENOMEM;
    /* Authors with no ids (known from waiting ops, or a loader's own key)
     * are left out, so a loaded state encodes to the same bytes. */
    uint32_t *last_end = t->map, *idx = t->map + na, *before = t->map + 2 * na, used = 0;
    for (size_t i = 0; i < na; i++) {
        last_end[i] = 0;
        idx[i] = t->agents[i].next ? used++ : NONE;
    }
    uint32_t n_runs = 0; /* runs before each leaf, to name runs by index */
    for (const leaf *l = first_leaf(t); l; l = l->next) {
        before[l->id] = n_runs;
        n_runs += l->n;
    }
    wbuf_u8(b, VERSION);
    wbuf_u8(b, KIND_STATE);
    wbuf_varint(b, used);
    for (size_t i = 0; i < na; i++) {
        if (!t->agents[i].next) continue;
        wbuf_put(b, t->agents[i].key, WEFT_KEY_BYTES);
        wbuf_varint(b, t->agents[i].next);
    }
    wbuf_varint(b, n_runs);
    tid prev_last = NO_ID;
    uint32_t prev_agent = 0;
    for (leaf *l = first_leaf(t); l; l = l->next)
        for (uint32_t k = 0; k < l->n; k++) {
            const run *r = &l->r[k];
            uint32_t g = before[l->id] + k, a = idx[r->agent];
            tid self_prev = {r->agent, r->seq - 1};
            int lk = r->left.agent == NONE                  ? O_NONE
                     : tid_eq(r->left, prev_last)           ? O_ADJ
                     : r->seq && tid_eq(r->left, self_prev) ? O_PREV
                                                            : O_EXPL;
            tid next = NO_ID;
            int has_next = run_at(t, (cur){l, k + 1, 0}, &next);
            int rk = r->right.agent == NONE               ? O_NONE
                     : has_next && tid_eq(r->right, next) ? O_ADJ
                                                          : O_EXPL;
            cur pc = {0};
            if (lk == O_PREV) {
                pc = find_id(t, self_prev);
                if (rk == O_EXPL && tid_eq(pc.l->r[pc.k].right, r->right)) rk = O_PREV;
            }
            int other = lk != O_PREV && a != prev_agent;
            wbuf_varint(b, (uint64_t)(r->w == 0) | (uint64_t)lk << 1 | (uint64_t)rk << 3 |
                               (uint64_t)other << 5 | (uint64_t)(r->len - 1) << 6);
            if (lk == O_PREV) {
                wbuf_varint(b, g - (before[pc.l->id] + pc.k));
            } else {
                if (other) wbuf_varint(b, a);
                wbuf_varint(b, zigzag_enc((int64_t)r->seq - last_end[r->agent]));
            }
            if (lk == O_EXPL) put_id(b, idx, r->left);
            if (rk == O_EXPL) {
                cur rc = find_id(t, r->right);
                wbuf_varint(b, zigzag_enc((int64_t)(before[rc.l->id] + rc.k) - g));
                wbuf_varint(b, rc.o);
            }
            last_end[r->agent] = r->seq + r->len;
            prev_agent = a;
            prev_last = (tid){r->agent, r->seq + r->len - 1};
        }
    wbuf_varint(b, t->bytes);
    for (const leaf *l = first_leaf(t); l; l = l->next)
        for (uint32_t k = 0; k < l->n; k++)
            wbuf_put(b, t->arena + l->r[k].off, l->r[k].nbytes);
    weft__marks_encode(t->marks, b);
    if (b->err) return b->err;
    *out = b->p;
    *len = b->len;
    return 0;
}

#define FILL    (LCAP * 3 / 4) /* runs per leaf after a load */
#define PENDING (NONE - 1)     /* a right origin not resolved yet */

/* Appends run r to the leaves being built by load (fill them to 3/4 so
 * that later edits do not split every leaf at once). */
static int load_append(weft_text *t, leaf **l, const run *r) {
    if ((*l)->n == FILL) {
        leaf *nl = new_leaf(t);
        if (!nl) return WEFT_ENOMEM;
        nl->prev = *l;
        (*l)->next = nl;
        *l = nl;
    }
    (*l)->r[(*l)->n++] = *r;
    set_leaf(t, r, (*l)->id);
    return 0;
}

/* Builds the inner nodes above the leaves (t->leaves, in order). */
static int load_build(weft_text *t) {
    size_t n = t->n_leaves;
    void **level = weft__alloc(t->a, n * sizeof(void *));
    if (!level) return WEFT_ENOMEM;
    for (size_t i = 0; i < n; i++)
        level[i] = t->leaves[i];
    int is_leaf = 1, rc = 0;
    while (n > 1) {
        size_t m = 0;
        for (size_t i = 0; i < n; i += NCAP * 3 / 4) {
            node *p = new_node(t, is_leaf);
            if (!p) {
                rc = WEFT_ENOMEM;
                break;
            }
            for (size_t j = i; j < n && j < i + NCAP * 3 / 4; j++) {
                uint32_t items, w;
                if (is_leaf)
                    leaf_sums(level[j], 0, ((leaf *)level[j])->n, &items, &w);
                else
                    node_sums(level[j], 0, ((node *)level[j])->n, &items, &w);
                p->kid[p->n] = level[j];
                p->items[p->n] = items;
                p->width[p->n++] = w;
                *parent_slot(level[j], is_leaf) = p;
            }
            level[m++] = p;
        }
        if (rc) break;
        n = m;
        is_leaf = 0;
        t->height++;
    }
    if (!rc) t->root = level[0];
    weft__free(t->a, level);
    return rc;
}

/* Run g of a replica being loaded: the leaves fill in order. */
static run *load_run(const weft_text *t, uint64_t g) {
    return &t->leaves[g / FILL]->r[g % FILL];
}

/* Loads into the fresh replica t (weft_text_load swaps it in). */
static int load_into(weft_text *t, wreader *rd) {
    uint8_t v = rd_u8(rd);
    if (rd->err) return rd->err;
    if (v != VERSION) return WEFT_EVERSION;
    if (rd_u8(rd) != KIND_STATE) return rd->err ? rd->err : WEFT_EMALFORMED;
    uint64_t na = rd_varint(rd);
    if (rd->err) return rd->err;
    if (na > MAX_AUTHORS) return WEFT_ETOOBIG;
    if (weft__grow(t->a, (void **)&t->map, &t->cap_map, (size_t)na * 3 + 2, sizeof(uint32_t)))
        return WEFT_ENOMEM;
    /* map: state author index -> agent; per agent: last_end, and filled:
     * how much of leaf_of is set up (lazily, so that a state claiming many
     * ids costs memory only as its runs show them). */
    uint32_t *map = t->map, *last_end = t->map + na, *filled = t->map + 2 * na + 1;
    uint64_t total = 0;
    for (uint64_t i = 0; i <= na; i++)
        last_end[i] = filled[i] = 0;
    for (uint64_t i = 0; i < na; i++) {
        const uint8_t *key = rd_take(rd, WEFT_KEY_BYTES);
        uint64_t next = rd_varint(rd);
        if (rd->err) return rd->err;
        uint32_t idx;
        if (find_agent(t, key, &idx))
            for (uint64_t j = 0; j < i; j++)
                if (map[j] == idx) return WEFT_EMALFORMED; /* listed twice */
        if (next == 0) return WEFT_EMALFORMED;
        if (next > MAX_IDS || (total += next) > MAX_IDS) return WEFT_ETOOBIG;
        int rc = add_agent(t, key, &idx);
        if (rc) return rc;
        agent *g = &t->agents[idx];
        g->next = (uint32_t)next;
        map[i] = idx;
    }
    uint64_t n_runs = rd_varint(rd);
    if (rd->err) return rd->err;
    if (n_runs > rd_left(rd)) return WEFT_ETRUNCATED;
    if (n_runs > total || (total && !n_runs)) return WEFT_EMALFORMED;
    leaf *l = t->root;
    run *prev = NULL;
    int prev_adj = 0; /* prev's right origin is this run's first id */
    uint64_t vis_items = 0, items = 0;
    uint32_t pa = na ? map[0] : 0; /* agent of the previous run */
    for (uint64_t i = 0; i < n_runs; i++) {
        uint64_t h = rd_varint(rd);
        if (rd->err) return rd->err;
        int lk = (int)(h >> 1) & 3, rk = (int)(h >> 3) & 3, other = (h & 32) != 0;
        if ((h >> 6) >= UINT32_MAX) return WEFT_EMALFORMED;
        run r = {.len = (uint32_t)(h >> 6) + 1, .w = !(h & 1), .left = NO_ID, .right = NO_ID};
        const run *p = NULL; /* the run r continues (left kind PREV) */
        if (lk == O_PREV) {
            uint64_t d = rd_varint(rd);
            if (rd->err) return rd->err;
            if (other || d == 0 || d > i) return WEFT_EMALFORMED;
            p = load_run(t, i - d);
            r.agent = p->agent;
            r.seq = p->seq + p->len;
            r.left = (tid){p->agent, p->seq + p->len - 1};
        } else {
            if (other) {
                uint64_t a = rd_varint(rd);
                if (rd->err) return rd->err;
                if (a >= na || map[a] == pa) return WEFT_EMALFORMED;
                pa = map[a];
            }
            int64_t seq = zigzag_dec(rd_varint(rd)) + (int64_t)last_end[pa];
            if (rd->err) return rd->err;
            if (seq < 0 || seq >= UINT32_MAX) return WEFT_EMALFORMED;
            r.agent = pa;
            r.seq = (uint32_t)seq;
        }
        agent *g = &t->agents[r.agent];
        if ((uint64_t)r.seq + r.len > g->next) return WEFT_EMALFORMED;
        if (r.seq + r.len > filled[r.agent]) {
            if (reserve_ids(t, g, r.seq + r.len)) return WEFT_ENOMEM;
            for (uint32_t s = filled[r.agent]; s < r.seq + r.len; s++)
                g->leaf_of[s] = NONE;
            filled[r.agent] = r.seq + r.len;
        }
        for (uint32_t s = 0; s < r.len; s++)
            if (g->leaf_of[r.seq + s] != NONE) return WEFT_EMALFORMED;
        pa = r.agent;
        if (prev_adj) prev->right = (tid){r.agent, r.seq};
        prev_adj = 0;
        if (lk == O_ADJ) {
            if (!prev) return WEFT_EMALFORMED;
            r.left = (tid){prev->agent, prev->seq + prev->len - 1};
        } else if (lk == O_EXPL) {
            r.left = get_id(rd, (uint32_t)na);
            if (rd->err) return rd->err;
            if (r.left.agent == NONE) return WEFT_EMALFORMED;
            r.left.agent = map[r.left.agent];
            /* A left origin always comes earlier in the text. */
            if (r.left.seq >= filled[r.left.agent] ||
                t->agents[r.left.agent].leaf_of[r.left.seq] == NONE)
                return WEFT_EMALFORMED;
        }
        if (rk == O_ADJ) {
            prev_adj = 1;
        } else if (rk == O_PREV) {
            if (!p) return WEFT_EMALFORMED;
            r.right = p->right; /* may be PENDING: then p->off holds the offset */
            r.off = p->off;
        } else if (rk == O_EXPL) {
            int64_t target = (int64_t)i + zigzag_dec(rd_varint(rd));
            uint64_t off = rd_varint(rd);
            if (rd->err) return rd->err;
            /* A right origin always comes later in the text. */
            if (target <= (int64_t)i || (uint64_t)target >= n_runs || off >= UINT32_MAX)
                return WEFT_EMALFORMED;
            r.right = (tid){PENDING, (uint32_t)target};
            r.off = (uint32_t)off;
        }
        if (r.w) vis_items += r.len;
        items += r.len;
        int rc = load_append(t, &l, &r);
        if (rc) return rc;
        prev = &l->r[l->n - 1];
        last_end[pa] = r.seq + r.len;
    }
    if (prev_adj || items != total) return WEFT_EMALFORMED;
    for (uint64_t i = 0; i < n_runs; i++) {
        run *r = load_run(t, i);
        if (r->right.agent != PENDING) continue;
        const run *x = load_run(t, r->right.seq);
        if (r->off >= x->len) return WEFT_EMALFORMED;
        r->right = (tid){x->agent, x->seq + r->off};
        r->off = 0;
    }
    size_t nb;
    const uint8_t *text = rd_lbytes(rd, &nb, UINT32_MAX);
    if (rd->err) return rd->err;
    if (!weft_utf8_valid(text, nb)) return WEFT_EMALFORMED;
    uint64_t cps, u16;
    utf8_count(text, nb, &cps, &u16);
    if (cps != vis_items) return WEFT_EMALFORMED;
    uint32_t off = 0;
    int rc = arena_add(t, text, nb, &off);
    if (rc) return rc;
    /* Every id is in one run (items == total, none twice), so every origin
     * names an item. Now the text of the visible runs. */
    for (uint64_t i = 0; i < n_runs; i++) {
        run *r = load_run(t, i);
        if (!r->w) continue;
        uint32_t b = 0;
        for (uint32_t j = 0; j < r->len; j++)
            b += cp_bytes(text[off + b]);
        r->off = off;
        r->nbytes = b;
        r->w = units_of(t, text + off, b, r->len);
        off += b;
    }
    t->bytes = nb;
    t->items = items;
    t->width = t->utf16 ? u16 : cps;
    /* What follows the text: the marks section, if any. */
    if (rd_left(rd) && (rc = weft__marks_load(&t->marks, t->a, rd))) return rc;
    return load_build(t);
}

int weft_text_new(weft_text **out, const weft_text_config *cfg) {
    validate_or_ret(out && cfg && cfg->author, WEFT_EINVAL);
    validate_or_ret(cfg->unit == WEFT_TEXT_CODEPOINTS || cfg->unit == WEFT_TEXT_UTF16, WEFT_EINVAL);
    *out = NULL;
    weft_text *t = weft__alloc(cfg->alloc, sizeof *t);
    if (!t) return WEFT_ENOMEM;
    memset(t, 0, sizeof *t);
    t->a = cfg->alloc;
    t->utf16 = cfg->unit == WEFT_TEXT_UTF16;
    t->max_pending = cfg->max_pending_bytes ? cfg->max_pending_bytes : (size_t)64 << 20;
    t->on_delta = cfg->on_delta;
    t->ud = cfg->ud;
    wbuf_init(&t->out, t->a);
    uint32_t self;
    if (add_agent(t, cfg->author, &self) || !(t->root = new_leaf(t))) {
        weft_text_free(t);
        return WEFT_ENOMEM;
    }
    *out = t;
    return 0;
}

void weft_text_free(weft_text *t) {
    if (!t) return;
    const weft_allocator *a = t->a;
    for (size_t i = 0; i < t->n_leaves; i++)
        weft__free(a, t->leaves[i]);
    for (size_t i = 0; i < t->n_nodes; i++)
        weft__free(a, t->nodes[i]);
    for (size_t i = 0; i < t->n_agents; i++)
        weft__free(a, t->agents[i].leaf_of);
    for (size_t i = 0; i < t->n_pend; i++)
        weft__free(a, t->pend[i].owned);
    weft__free(a, t->leaves);
    weft__free(a, t->nodes);
    weft__free(a, t->agents);
    weft__free(a, t->arena);
    weft__free(a, t->lops);
    weft__free(a, t->pend);
    weft__free(a, t->pset);
    weft__free(a, t->scratch);
    weft__free(a, t->map);
    weft__marks_free(t->marks, a);
    wbuf_free(&t->out);
    weft__free(a, t);
}

int weft_text_load(weft_text *t, const uint8_t *state, size_t len) {
    validate_or_ret(t && (state || !len), WEFT_EINVAL);
    validate_or_ret(t->items == 0 && t->n_agents == 1 && !t->n_pend && !t->n_lops &&
                        !weft__marks_count(t->marks),
                    WEFT_ESTATE);
    /* Build a new replica and swap it in only when all of it checked out,
     * so a failed load leaves t exactly as it was. */
    weft_text_config cfg = {.alloc = t->a,
                            .author = t->agents[0].key,
                            .unit = t->utf16 ? WEFT_TEXT_UTF16 : WEFT_TEXT_CODEPOINTS,
                            .max_pending_bytes = t->max_pending,
                            .on_delta = t->on_delta,
                            .ud = t->ud};
    weft_text *n;
    int rc = weft_text_new(&n, &cfg);
    if (rc) return rc;
    wreader rd;
    rd_init(&rd, state, len);
    rc = load_into(n, &rd);
    if (rc) {
        weft_text_free(n);
        return rc;
    }
    weft_text tmp = *t;
    *t = *n;
    *n = tmp;
    weft_text_free(n);
    if (t->bytes) emit(t, 0, 0, t->arena, (size_t)t->bytes, t->width);
    return 0;
}

size_t weft_text_memory(const weft_text *t) {
    if (!t) return 0;
    size_t n = sizeof *t + t->n_leaves * sizeof(leaf) + t->n_nodes * sizeof(node) +
               t->cap_leaves * sizeof(leaf *) + t->cap_nodes * sizeof(node *) +
               t->cap_agents * sizeof(agent) + t->arena_cap + t->cap_lops * sizeof(op) +
               t->cap_pend * sizeof(op) + t->pend_bytes + t->cap_scratch * sizeof(op) +
               t->cap_map * sizeof(uint32_t) + t->cap_pset * sizeof(uint32_t) + t->out.cap +
               weft__marks_memory(t->marks);
    for (size_t i = 0; i < t->n_agents; i++)
        n += t->agents[i].cap * sizeof(uint32_t);
    return n;
}

#define CHECK_OR_LINE(cond)           \
    do {                              \
        if (!(cond)) return __LINE__; \
    } while (0)

static int check_sub(const weft_text *t, const void *c, int h, const node *parent, uint64_t *items,
                     uint64_t *width) {
    uint64_t n = 0, v = 0;
    if (h == 0) {
        const leaf *l = c;
        CHECK_OR_LINE(l->parent == parent && l->n <= LCAP && (l->n || t->items == 0));
        for (uint32_t k = 0; k < l->n; k++) {
            const run *r = &l->r[k];
            CHECK_OR_LINE(r->len >= 1 && r->agent < t->n_agents);
            CHECK_OR_LINE((uint64_t)r->seq + r->len <= t->agents[r->agent].next);
            CHECK_OR_LINE(r->w ? r->nbytes >= r->len : r->nbytes == 0);
            CHECK_OR_LINE((uint64_t)r->off + r->nbytes <= t->arena_len);
            if (r->w) {
                uint64_t cps, u16;
                utf8_count(t->arena + r->off, r->nbytes, &cps, &u16);
                CHECK_OR_LINE(cps == r->len && r->w == (t->utf16 ? u16 : cps));
            }
            for (uint32_t s = 0; s < r->len; s++)
                CHECK_OR_LINE(t->agents[r->agent].leaf_of[r->seq + s] == l->id);
            n += r->len;
            v += r->w;
        }
        CHECK_OR_LINE(t->leaves[l->id] == l);
    } else {
        const node *p = c;
        CHECK_OR_LINE(p->parent == parent && p->n >= 1 && p->n <= NCAP && p->leaves == (h == 1));
        for (uint32_t i = 0; i < p->n; i++) {
            uint64_t ki, kw;
            int rc = check_sub(t, p->kid[i], h - 1, p, &ki, &kw);
            if (rc) return rc;
            CHECK_OR_LINE(ki == p->items[i] && kw == p->width[i]);
            n += ki;
            v += kw;
        }
    }
    *items = n;
    *width = v;
    return 0;
}

int weft__text_check(const weft_text *t) {
    uint64_t n, v;
    int rc = check_sub(t, t->root, t->height, NULL, &n, &v);
    if (rc) return rc;
    CHECK_OR_LINE(n == t->items && v == t->width);
    uint64_t bytes = 0, runs = 0;
    const leaf *prev = NULL;
    for (const leaf *l = first_leaf(t); l; prev = l, l = l->next) {
        CHECK_OR_LINE(l->prev == prev);
        for (uint32_t k = 0; k < l->n; k++)
            bytes += l->r[k].nbytes;
        runs += l->n;
    }
    CHECK_OR_LINE(bytes == t->bytes);
    uint64_t ids = 0;
    for (size_t i = 0; i < t->n_agents; i++)
        ids += t->agents[i].next;
    CHECK_OR_LINE(ids == t->items);
    (void)runs;
    return 0;
}
