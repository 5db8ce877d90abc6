/*
 * Lists with move: items with stable identities over a sequence CRDT of
 * positions (list.h, docs/LISTS.md).
 *
 * Invariants: every entry of the sequence (a weft_text, one character per
 * entry) made by an applied op belongs to exactly one item (agents[a].entry
 * maps its seq to 1 + the item); an entry is visible iff it is the winning
 * position of an item that is not deleted, so the sequence's visible
 * positions are the list's indices; an item's identity entry maps to it.
 */
#include "list.h"
#include "text_int.h"
#include "value_int.h"
#include "weft/value.h"

#include <assert.h>

#define MAX_AGENTS    4096
#define MAX_WAITING   ((size_t)16 << 20) /* bytes of ops waiting for their past */
#define STATE_VERSION 1
#define STATE_KIND    3 /* after the text's update (1) and state (2) kinds */

typedef struct lagent {
    uint8_t key[WEFT_KEY_BYTES];
    uint32_t *entry; /* per seq: 1 + the item the entry belongs to, 0 none */
    size_t cap;
} lagent;

typedef struct litem {
    uint64_t pos_lamport, val_lamport; /* ids of the winning move (or insert) and set */
    uint32_t id_agent, id_seq;         /* identity: the insert's entry */
    uint32_t pos_agent, pos_seq;       /* the winning entry; its author made the move */
    uint32_t val_agent;
    uint32_t vlen;
    uint8_t *val; /* NULL once deleted */
    uint8_t deleted;
} litem;

/* A waiting op: its keys and value copied in (the op's pointers are set
 * from these when it is tried). */
typedef struct lwait {
    wlist_op op;
    uint8_t keys[4][WEFT_KEY_BYTES]; /* author, item, left, right */
    uint8_t *val;
    size_t cost;
} lwait;

struct wlist {
    const weft_allocator *a;
    uint8_t self[WEFT_KEY_BYTES];
    weft_text *seq;
    lagent *agents;
    size_t n_agents, cap_agents;
    litem *items;
    size_t n_items, cap_items;
    lwait *wait;
    size_t n_wait, cap_wait, wait_bytes;
};

static int seq_new(wlist *l) {
    weft_text_config cfg = {.alloc = l->a, .author = l->self, .unit = WEFT_TEXT_CODEPOINTS};
    return weft_text_new(&l->seq, &cfg);
}

wlist *weft__list_new(const weft_allocator *a, const uint8_t *self) {
    wlist *l = weft__alloc(a, sizeof *l);
    if (!l) return NULL;
    memset(l, 0, sizeof *l);
    l->a = a;
    memcpy(l->self, self, WEFT_KEY_BYTES);
    if (seq_new(l)) {
        weft__free(a, l);
        return NULL;
    }
    return l;
}

/* Back to empty (a failed load). */
static void clear(wlist *l) {
    for (size_t i = 0; i < l->n_agents; i++)
        weft__free(l->a, l->agents[i].entry);
    for (size_t i = 0; i < l->n_items; i++)
        weft__free(l->a, l->items[i].val);
    for (size_t i = 0; i < l->n_wait; i++)
        weft__free(l->a, l->wait[i].val);
    l->n_agents = l->n_items = l->n_wait = l->wait_bytes = 0;
}

void weft__list_free(wlist *l) {
    if (!l) return;
    clear(l);
    weft_text_free(l->seq);
    weft__free(l->a, l->agents);
    weft__free(l->a, l->items);
    weft__free(l->a, l->wait);
    weft__free(l->a, l);
}

/* ---- agents and entries ---- */

static uint32_t find_agent(const wlist *l, const uint8_t *key) {
    for (size_t i = 0; i < l->n_agents; i++)
        if (memcmp(l->agents[i].key, key, WEFT_KEY_BYTES) == 0) return (uint32_t)i;
    return UINT32_MAX;
}

static int add_agent(wlist *l, const uint8_t *key, uint32_t *out) {
    if ((*out = find_agent(l, key)) != UINT32_MAX) return WEFT_OK;
    if (l->n_agents >= MAX_AGENTS) return WEFT_ELIMIT;
    if (weft__grow(l->a, (void **)&l->agents, &l->cap_agents, l->n_agents + 1, sizeof(lagent)))
        return WEFT_ENOMEM;
    lagent *g = &l->agents[l->n_agents];
    memset(g, 0, sizeof *g);
    memcpy(g->key, key, WEFT_KEY_BYTES);
    *out = (uint32_t)l->n_agents++;
    return WEFT_OK;
}

/* 1 + the item entry (agent, seq) belongs to, 0 none. */
static uint32_t entry_item(const wlist *l, uint32_t agent, uint32_t seq) {
    const lagent *g = &l->agents[agent];
    return seq < g->cap ? g->entry[seq] : 0;
}

static int set_entry(wlist *l, uint32_t agent, uint32_t seq, uint32_t item) {
    lagent *g = &l->agents[agent];
    if (seq >= g->cap) {
        size_t old = g->cap;
        if (weft__grow(l->a, (void **)&g->entry, &g->cap, (size_t)seq + 1, sizeof(uint32_t)))
            return WEFT_ENOMEM;
        memset(g->entry + old, 0, (g->cap - old) * sizeof(uint32_t));
    }
    g->entry[seq] = item + 1;
    return WEFT_OK;
}

/* The item whose identity is (key, seq), or NULL. */
static litem *find_item(const wlist *l, const uint8_t *key, uint32_t seq) {
    uint32_t a = find_agent(l, key);
    uint32_t i = a == UINT32_MAX ? 0 : entry_item(l, a, seq);
    if (!i) return NULL;
    litem *it = &l->items[i - 1];
    return it->id_agent == a && it->id_seq == seq ? it : NULL;
}

/* Whether op id (lamport, key) is greater than (lamport2, agent2). */
static int id_gt(const wlist *l, uint64_t lamport, const uint8_t *key, uint64_t lamport2,
                 uint32_t agent2) {
    if (lamport != lamport2) return lamport > lamport2;
    return memcmp(key, l->agents[agent2].key, WEFT_KEY_BYTES) > 0;
}

/* ---- the sequence ---- */

static int seq_insert(wlist *l, const wlist_op *o) {
    weft_text_op t = {.kind = 1,
                      .author = o->author,
                      .seq = o->seq,
                      .left = o->left,
                      .left_seq = o->left_seq,
                      .right = o->right,
                      .right_seq = o->right_seq,
                      .text = (const uint8_t *)"a",
                      .nbytes = 1};
    if (weft__text_op_check(&t)) return WEFT_EMALFORMED;
    return weft__text_apply_op(l->seq, &t);
}

/* Makes entry (agent, seq), present in the sequence, a tombstone. */
static int seq_hide(wlist *l, uint32_t agent, uint32_t seq) {
    weft_text_op t = {.kind = 2, .author = l->agents[agent].key, .seq = seq, .len = 1};
    return weft__text_apply_op(l->seq, &t);
}

static int origin_here(const wlist *l, const uint8_t *key, uint32_t seq) {
    return !key || weft__text_find(l->seq, key, seq, NULL) >= 0;
}

/* ---- applying ---- */

static int set_value(wlist *l, litem *it, const uint8_t *val, uint32_t vlen) {
    uint8_t *p = weft__realloc(l->a, it->val, vlen);
    if (!p) return WEFT_ENOMEM;
    memcpy(p, val, vlen);
    it->val = p;
    it->vlen = vlen;
    return WEFT_OK;
}

/* Applies o if its past is here: 1 done (applied, duplicate or refused),
 * 0 it must wait, or WEFT_ENOMEM. */
static int try_op(wlist *l, const wlist_op *o) {
    litem *it = NULL;
    if (o->kind != WLIST_INSERT) {
        it = find_item(l, o->item, o->item_seq);
        if (!it) return 0;
    }
    if (o->kind == WLIST_DELETE) {
        if (it->deleted) return 1;
        int rc = seq_hide(l, it->pos_agent, it->pos_seq);
        if (rc) return rc;
        it->deleted = 1;
        weft__free(l->a, it->val);
        it->val = NULL;
        it->vlen = 0;
        return 1;
    }
    if (o->kind == WLIST_SET) {
        if (it->deleted || !id_gt(l, o->lamport, o->author, it->val_lamport, it->val_agent))
            return 1;
        uint32_t a;
        int rc = add_agent(l, o->author, &a);
        if (rc == WEFT_ELIMIT) return 1;
        if (!rc) rc = set_value(l, it, o->val, o->vlen);
        if (rc) return rc;
        it->val_lamport = o->lamport;
        it->val_agent = a;
        return 1;
    }
    /* An insert or a move: first its entry. */
    size_t item = it ? (size_t)(it - l->items) : l->n_items;
    uint32_t a;
    int rc = add_agent(l, o->author, &a);
    if (rc == WEFT_ELIMIT) return 1; /* past the limit: refused alike everywhere */
    if (rc) return rc;
    int have = weft__text_find(l->seq, o->author, o->seq, NULL);
    if (have >= 0 && entry_item(l, a, o->seq)) return 1; /* applied before */
    if (have < 0) {
        if (o->seq != weft__text_next_seq(l->seq, o->author) ||
            !origin_here(l, o->left, o->left_seq) || !origin_here(l, o->right, o->right_seq))
            return 0;
        rc = seq_insert(l, o);
        if (rc == WEFT_ENOMEM) return rc;
        if (weft__text_find(l->seq, o->author, o->seq, NULL) < 0) return 1; /* refused */
    } /* else placed already by weft__list_place */
    if (o->kind == WLIST_INSERT) {
        if (l->n_items >= UINT32_MAX - 1 ||
            weft__grow(l->a, (void **)&l->items, &l->cap_items, l->n_items + 1, sizeof(litem)))
            return WEFT_ENOMEM;
        litem *n = &l->items[l->n_items];
        *n = (litem){.pos_lamport = o->lamport,
                     .val_lamport = o->lamport,
                     .id_agent = a,
                     .id_seq = o->seq,
                     .pos_agent = a,
                     .pos_seq = o->seq,
                     .val_agent = a};
        if ((rc = set_value(l, n, o->val, o->vlen))) return rc;
        if ((rc = set_entry(l, a, o->seq, (uint32_t)item))) {
            weft__free(l->a, n->val);
            return rc;
        }
        l->n_items++;
        return 1;
    }
    if ((rc = set_entry(l, a, o->seq, (uint32_t)item))) return rc;
    it = &l->items[item];
    if (!it->deleted && id_gt(l, o->lamport, o->author, it->pos_lamport, it->pos_agent)) {
        /* This move wins: the item leaves its old place. */
        if ((rc = seq_hide(l, it->pos_agent, it->pos_seq))) return rc;
        it->pos_agent = a;
        it->pos_seq = o->seq;
        it->pos_lamport = o->lamport;
        return 1;
    }
    rc = seq_hide(l, a, o->seq); /* a newer move (or the delete) won */
    return rc ? rc : 1;
}

static size_t wait_cost(const wlist_op *o) {
    return sizeof(lwait) + o->vlen;
}

static int park(wlist *l, const wlist_op *o) {
    size_t cost = wait_cost(o);
    if (l->wait_bytes + cost > MAX_WAITING) return WEFT_OK; /* dropped: a hostile author's */
    if (weft__grow(l->a, (void **)&l->wait, &l->cap_wait, l->n_wait + 1, sizeof(lwait)))
        return WEFT_ENOMEM;
    lwait *w = &l->wait[l->n_wait];
    memset(w, 0, sizeof *w);
    w->op = *o;
    const uint8_t *k[4] = {o->author, o->item, o->left, o->right};
    for (int i = 0; i < 4; i++)
        if (k[i]) memcpy(w->keys[i], k[i], WEFT_KEY_BYTES);
    if (o->vlen) {
        if (!(w->val = weft__alloc(l->a, o->vlen))) return WEFT_ENOMEM;
        memcpy(w->val, o->val, o->vlen);
    }
    w->cost = cost;
    l->wait_bytes += cost;
    l->n_wait++;
    return WEFT_OK;
}

/* Tries the waiting ops until none can go (each success may free others). */
static int drain(wlist *l) {
    for (int progress = 1; progress;) {
        progress = 0;
        for (size_t i = 0; i < l->n_wait;) {
            lwait *w = &l->wait[i];
            wlist_op o = w->op;
            o.author = w->keys[0];
            o.item = o.item ? w->keys[1] : NULL;
            o.left = o.left ? w->keys[2] : NULL;
            o.right = o.right ? w->keys[3] : NULL;
            o.val = w->val;
            int rc = try_op(l, &o);
            if (rc < 0) return rc;
            if (!rc) {
                i++;
                continue;
            }
            weft__free(l->a, w->val);
            l->wait_bytes -= w->cost;
            l->wait[i] = l->wait[--l->n_wait];
            progress = 1;
        }
    }
    return WEFT_OK;
}

int weft__list_apply(wlist *l, const wlist_op *o) {
    int rc = try_op(l, o);
    if (rc < 0) return rc;
    if (rc == 0) return park(l, o);
    return l->n_wait ? drain(l) : WEFT_OK;
}

size_t weft__list_pending(const wlist *l) {
    return l->n_wait;
}

/* ---- reading ---- */

size_t weft__list_length(const wlist *l) {
    return weft_text_length(l->seq);
}

/* The item a visible entry holds (NULL only for an entry placed but not
 * yet applied, which a failed local write leaves behind). */
static const litem *visible_item(const wlist *l, const uint8_t *key, uint32_t seq) {
    uint32_t a = find_agent(l, key);
    uint32_t i = a == UINT32_MAX ? 0 : entry_item(l, a, seq);
    return i ? &l->items[i - 1] : NULL;
}

void weft__list_item_at(const wlist *l, size_t i, const uint8_t **key, uint32_t *seq) {
    const uint8_t *k;
    uint32_t s;
    weft__text_id_at(l->seq, i, &k, &s);
    const litem *it = visible_item(l, k, s);
    assert(it);
    *key = l->agents[it->id_agent].key;
    *seq = it->id_seq;
}

int weft__list_place(wlist *l, size_t from, size_t to, uint32_t *seq, const uint8_t **left,
                     uint32_t *left_seq, const uint8_t **right, uint32_t *right_seq) {
    size_t n = weft__list_length(l);
    int move = from != SIZE_MAX;
    if (move ? from >= n || to >= n : to > n) return WEFT_EINVAL;
    /* The new entry goes where the item ends up once it left `from`. */
    size_t at = move && to >= from ? to + 1 : to;
    int rc = weft_text_insert(l->seq, at, "a", 1);
    if (rc) return rc;
    weft_text_op o;
    weft__text_local_op(l->seq, weft__text_local_count(l->seq) - 1, &o);
    weft__text_local_clear(l->seq);
    *seq = o.seq;
    *left = o.left;
    *left_seq = o.left_seq;
    *right = o.right;
    *right_seq = o.right_seq;
    return WEFT_OK;
}

typedef struct each_ctx {
    const wlist *l;
    int (*fn)(void *ctx, const uint8_t *key, uint32_t seq, const uint8_t *val, size_t vlen);
    void *ctx;
    uint32_t last_agent; /* cache: runs of one author are common */
} each_ctx;

static int each_entry(void *ctx, const uint8_t *key, uint32_t seq) {
    each_ctx *e = ctx;
    const wlist *l = e->l;
    uint32_t a = e->last_agent < l->n_agents &&
                         memcmp(l->agents[e->last_agent].key, key, WEFT_KEY_BYTES) == 0
                     ? e->last_agent
                     : find_agent(l, key);
    uint32_t i = a == UINT32_MAX ? 0 : entry_item(l, a, seq);
    if (!i) return 0;
    e->last_agent = a;
    const litem *it = &l->items[i - 1];
    return e->fn(e->ctx, l->agents[it->id_agent].key, it->id_seq, it->val, it->vlen);
}

int weft__list_each(const wlist *l,
                    int (*fn)(void *ctx, const uint8_t *key, uint32_t seq, const uint8_t *val,
                              size_t vlen),
                    void *ctx) {
    each_ctx e = {l, fn, ctx, UINT32_MAX};
    return weft__text_each_visible(l->seq, each_entry, &e);
}

static int put_value(void *ctx, const uint8_t *key, uint32_t seq, const uint8_t *val, size_t vlen) {
    (void)key;
    (void)seq;
    wbuf_put(ctx, val, vlen);
    return 0;
}

int weft__list_value(const wlist *l, wbuf *b) {
    size_t count = 0;
    for (size_t i = 0; i < l->n_items; i++)
        count += !l->items[i].deleted;
    wbuf_u8(b, WEFT_TYPE_ARRAY);
    wbuf_varint(b, count);
    weft__list_each(l, put_value, b);
    return b->err ? WEFT_ENOMEM : WEFT_OK;
}

/* ---- state ----
 *
 * u8 version 1, u8 kind 3, bytes: the sequence's state (TEXT.md), varint
 * n_agents, n_agents x key[32], varint n_items, then per item: varint
 * id_agent, varint id_seq, varint pos_agent, varint pos_seq, varint
 * pos_lamport, u8 deleted (0 or 1), and if not deleted: varint val_agent,
 * varint val_lamport, value. */

int weft__list_encode(wlist *l, wbuf *b) {
    const uint8_t *st;
    size_t st_len;
    int rc = weft_text_encode(l->seq, &st, &st_len);
    if (rc) return rc;
    wbuf_u8(b, STATE_VERSION);
    wbuf_u8(b, STATE_KIND);
    wbuf_lbytes(b, st, st_len);
    wbuf_varint(b, l->n_agents);
    for (size_t i = 0; i < l->n_agents; i++)
        wbuf_put(b, l->agents[i].key, WEFT_KEY_BYTES);
    wbuf_varint(b, l->n_items);
    for (size_t i = 0; i < l->n_items; i++) {
        const litem *it = &l->items[i];
        wbuf_varint(b, it->id_agent);
        wbuf_varint(b, it->id_seq);
        wbuf_varint(b, it->pos_agent);
        wbuf_varint(b, it->pos_seq);
        wbuf_varint(b, it->pos_lamport);
        wbuf_u8(b, it->deleted);
        if (it->deleted) continue;
        wbuf_varint(b, it->val_agent);
        wbuf_varint(b, it->val_lamport);
        wbuf_put(b, it->val, it->vlen);
    }
    return b->err ? WEFT_ENOMEM : WEFT_OK;
}

/* An entry of the loaded sequence: agent < n, seq below its next. */
static int read_entry(wlist *l, wreader *rd, uint32_t *agent, uint32_t *seq) {
    uint64_t a = rd_varint(rd), s = rd_varint(rd);
    if (rd->err) return rd->err;
    if (a >= l->n_agents || s >= weft__text_next_seq(l->seq, l->agents[a].key))
        return WEFT_EMALFORMED;
    *agent = (uint32_t)a;
    *seq = (uint32_t)s;
    return WEFT_OK;
}

static int load_items(wlist *l, wreader *rd) {
    uint64_t n = rd_varint(rd);
    if (!rd->err && n > rd_left(rd) / 6) return WEFT_ETRUNCATED;
    if (rd->err) return rd->err;
    if (weft__grow(l->a, (void **)&l->items, &l->cap_items, (size_t)n + 1, sizeof(litem)))
        return WEFT_ENOMEM;
    size_t live = 0;
    for (uint64_t i = 0; i < n; i++) {
        litem it = {0};
        int rc = read_entry(l, rd, &it.id_agent, &it.id_seq);
        if (!rc) rc = read_entry(l, rd, &it.pos_agent, &it.pos_seq);
        if (rc) return rc;
        it.pos_lamport = rd_varint(rd);
        it.deleted = rd_u8(rd);
        if (!it.deleted) {
            uint64_t va = rd_varint(rd);
            it.val_lamport = rd_varint(rd);
            const uint8_t *v = rd->p;
            weft__value_skip_nested(rd);
            if (rd->err) return rd->err;
            if (va >= l->n_agents || !it.val_lamport || it.val_lamport >= (1ULL << 53))
                return WEFT_EMALFORMED;
            it.val_agent = (uint32_t)va;
            it.vlen = (uint32_t)(rd->p - v);
            if (!(it.val = weft__alloc(l->a, it.vlen))) return WEFT_ENOMEM;
            memcpy(it.val, v, it.vlen);
        }
        l->items[l->n_items++] = it; /* owned from here (freed by clear) */
        if (rd->err) return rd->err;
        if (it.deleted > 1 || !it.pos_lamport || it.pos_lamport >= (1ULL << 53))
            return WEFT_EMALFORMED;
        /* The identity and the position belong to this item only; a live
         * item's position is visible, a deleted one's is not. */
        if (entry_item(l, it.id_agent, it.id_seq)) return WEFT_EMALFORMED;
        if ((rc = set_entry(l, it.id_agent, it.id_seq, (uint32_t)i))) return rc;
        uint32_t p = entry_item(l, it.pos_agent, it.pos_seq);
        if (p && p != i + 1) return WEFT_EMALFORMED;
        if ((rc = set_entry(l, it.pos_agent, it.pos_seq, (uint32_t)i))) return rc;
        int vis = weft__text_find(l->seq, l->agents[it.pos_agent].key, it.pos_seq, NULL);
        if (vis != !it.deleted) return WEFT_EMALFORMED;
        live += !it.deleted;
    }
    /* Every visible entry is some live item's position. */
    return live == weft__list_length(l) ? WEFT_OK : WEFT_EMALFORMED;
}

int weft__list_load(wlist *l, const uint8_t *p, size_t len) {
    if (l->n_items || l->n_wait || weft__list_length(l) || weft__text_next_seq(l->seq, l->self))
        return WEFT_ESTATE;
    wreader rd;
    rd_init(&rd, p, len);
    uint8_t version = rd_u8(&rd), kind = rd_u8(&rd);
    if (rd.err) return rd.err;
    if (version != STATE_VERSION) return WEFT_EVERSION;
    if (kind != STATE_KIND) return WEFT_EMALFORMED;
    size_t st_len;
    const uint8_t *st = rd_lbytes(&rd, &st_len, SIZE_MAX);
    if (rd.err) return rd.err;
    int rc = weft_text_load(l->seq, st, st_len);
    if (!rc) {
        uint64_t na = rd_varint(&rd);
        if (!rd.err && na > MAX_AGENTS) rc = WEFT_ETOOBIG;
        for (uint64_t i = 0; i < na && !rc && !rd.err; i++) {
            const uint8_t *k = rd_take(&rd, WEFT_KEY_BYTES);
            uint32_t a;
            if (k && find_agent(l, k) != UINT32_MAX) rc = WEFT_EMALFORMED; /* twice */
            if (k && !rc) rc = add_agent(l, k, &a);
        }
        if (!rc) rc = rd.err;
        if (!rc) rc = load_items(l, &rd);
        if (!rc && rd_left(&rd)) rc = WEFT_EMALFORMED;
    }
    if (rc) { /* back to empty */
        clear(l);
        weft_text_free(l->seq);
        l->seq = NULL;
        if (seq_new(l)) return WEFT_ENOMEM;
    }
    return rc;
}

size_t weft__list_memory(const wlist *l) {
    size_t n = sizeof *l + weft_text_memory(l->seq) + l->cap_agents * sizeof(lagent) +
               l->cap_items * sizeof(litem) + l->cap_wait * sizeof(lwait) + l->wait_bytes;
    for (size_t i = 0; i < l->n_agents; i++)
        n += l->agents[i].cap * sizeof(uint32_t);
    for (size_t i = 0; i < l->n_items; i++)
        n += l->items[i].vlen;
    return n;
}
