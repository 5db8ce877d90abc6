/*
 * The change log (see weft/log.h for the contract).
 *
 * Per author it keeps the contiguous head (seq, hash, last op id) and one
 * meta entry per held change (hash, last op id, where the record is), so a
 * re-sent change is told apart from a fork. Parked changes wait in a pool;
 * each waits on exactly one missing (author, seq): a min-heap per author,
 * keyed by the seq it needs, is popped when that author's head reaches it,
 * which moves the waiter to a ready queue. A woken change that still misses
 * something else simply waits again on the next missing piece.
 *
 * Invariants: authors[i].seq is contiguous (every seq <= it was committed
 * here or restored from a snapshot); metas[k] describes seq base_seq + k;
 * `order` lists commits in commit order, which is causal.
 */
#include "log_int.h"
#include "sort.h"
#include "table.h"
#include "weft/hash.h"

typedef struct chg_meta {
    uint8_t hash[32];
    uint64_t lamport_end;
    const uint8_t *rec; /* in a record chunk, or NULL when not kept */
    uint32_t rec_len;
} chg_meta;

typedef struct wait_item {
    uint64_t seq;   /* wake when the author's head reaches this */
    uint32_t entry; /* parked entry */
} wait_item;

typedef struct author {
    uint8_t key[32];
    uint64_t seq;      /* highest contiguous seq */
    uint64_t base_seq; /* seq described by metas[0] */
    uint8_t head_hash[32];
    uint64_t lamport_end;
    chg_meta *metas;
    size_t n_metas, cap_metas;
    uint32_t *parked; /* entries of this author's parked changes, by seq */
    size_t n_parked, cap_parked;
    size_t parked_bytes;
    wait_item *waits; /* min-heap on seq */
    size_t n_waits, cap_waits;
} author;

typedef struct parked_entry {
    uint8_t *rec; /* NULL: free slot */
    size_t len;
    uint32_t author;
    uint64_t seq;
    uint64_t epoch; /* weft_log_expire_parked calls before it was parked */
    uint8_t hash[32];
} parked_entry;

typedef struct order_item {
    uint32_t author;
    uint64_t seq;
} order_item;

struct weft_log {
    const weft_allocator *a; /* the caller's; outlives the log */
    uint8_t space[32];
    int keep_records;
    size_t max_pending_bytes;
    size_t max_pending_author; /* parked bytes of one author at most */
    uint64_t epoch;            /* weft_log_expire_parked calls so far */
    uint8_t hash_key[16];      /* SipHash key of the author table */

    author *authors;
    size_t n_authors, cap_authors;
    wtable author_index;
    uint32_t *sorted; /* author numbers by key: the first n_sorted authors */
    size_t n_sorted;
    uint64_t sort_work; /* key comparisons made sorting (white-box tests) */

    /* Kept records live in chunks that never move: appending never copies
     * what is already stored, and at most a chunk's tail is slack. */
    uint8_t **chunks;
    size_t n_chunks, cap_chunks;
    size_t chunk_used, chunk_cap; /* of the last chunk */
    order_item *order;
    size_t n_order, cap_order;

    parked_entry *pool;
    size_t n_pool, cap_pool;
    uint32_t *free_slots;
    size_t n_free, cap_free;
    size_t pending_bytes, pending_count;
    uint32_t *ready; /* FIFO of woken entries */
    size_t ready_head, n_ready, cap_ready;
    uint8_t *held; /* record handed out by next_ready */

    int checked_valid; /* memo of the last hash computed */
    const uint8_t *checked_rec;
    size_t checked_len;
    uint8_t checked_hash[32];
};

static const uint8_t zero_hash[32];

int weft_log_new(weft_log **out, const weft_log_config *cfg) {
    validate_or_ret(out && cfg && cfg->space, WEFT_EINVAL);
    *out = NULL;
    weft_log *log = weft__alloc(cfg->alloc, sizeof *log);
    if (!log) return WEFT_ENOMEM;
    memset(log, 0, sizeof *log);
    log->a = cfg->alloc;
    memcpy(log->space, cfg->space, 32);
    log->keep_records = cfg->keep_records != 0;
    log->max_pending_bytes = cfg->max_pending_bytes ? cfg->max_pending_bytes : (64u << 20);
    log->max_pending_author =
        cfg->max_pending_author ? cfg->max_pending_author : log->max_pending_bytes / 4;
    if (cfg->hash_key) {
        memcpy(log->hash_key, cfg->hash_key, 16);
    } else { /* predictable: fine for keys only members choose */
        memcpy(log->hash_key, cfg->space, 16);
    }
    wtable_init(&log->author_index);
    *out = log;
    return WEFT_OK;
}

void weft_log_free(weft_log *log) {
    if (!log) return;
    const weft_allocator *a = log->a;
    for (size_t i = 0; i < log->n_authors; i++) {
        weft__free(a, log->authors[i].metas);
        weft__free(a, log->authors[i].parked);
        weft__free(a, log->authors[i].waits);
    }
    for (size_t i = 0; i < log->n_pool; i++)
        weft__free(a, log->pool[i].rec);
    weft__free(a, log->authors);
    wtable_free(&log->author_index, a);
    weft__free(a, log->sorted);
    for (size_t i = 0; i < log->n_chunks; i++)
        weft__free(a, log->chunks[i]);
    weft__free(a, log->chunks);
    weft__free(a, log->order);
    weft__free(a, log->pool);
    weft__free(a, log->free_slots);
    weft__free(a, log->ready);
    weft__free(a, log->held);
    weft__free(a, log);
}

/* ---- authors ---- */

typedef struct key_ctx {
    const weft_log *log;
    const uint8_t *key;
} key_ctx;

static int author_eq(const void *ctx, uint32_t item) {
    const key_ctx *k = ctx;
    return memcmp(k->log->authors[item].key, k->key, 32) == 0;
}

uint32_t weft__log_author(weft_log *log, const uint8_t *key, int create) {
    /* Author keys and dependency keys are chosen by whoever sends a change:
     * a keyed hash keeps them from being ground into one probe chain. */
    uint32_t tag = (uint32_t)weft__siphash(log->hash_key, key, 32, 1, 3);
    key_ctx ctx = {log, key};
    uint32_t idx = wtable_find(&log->author_index, tag, author_eq, &ctx);
    if (idx != UINT32_MAX || !create) return idx == UINT32_MAX ? WEFT_NO_AUTHOR : idx;
    if (weft__grow(log->a, (void **)&log->authors, &log->cap_authors, log->n_authors + 1,
                   sizeof(author)))
        return WEFT_NO_AUTHOR;
    idx = (uint32_t)log->n_authors;
    if (wtable_insert(&log->author_index, log->a, tag, idx)) return WEFT_NO_AUTHOR;
    author *au = &log->authors[idx];
    memset(au, 0, sizeof *au);
    memcpy(au->key, key, 32);
    au->base_seq = 1;
    log->n_authors++; /* the sorted view misses it until the next call */
    return idx;
}

uint32_t weft__log_author_count(const weft_log *log) {
    return (uint32_t)log->n_authors;
}
const uint8_t *weft__log_author_key(const weft_log *log, uint32_t i) {
    return log->authors[i].key;
}
uint64_t weft__log_author_seq(const weft_log *log, uint32_t i) {
    return log->authors[i].seq;
}
const uint8_t *weft__log_author_hash(const weft_log *log, uint32_t i) {
    return log->authors[i].head_hash;
}
uint64_t weft__log_author_lamport_end(const weft_log *log, uint32_t i) {
    return log->authors[i].lamport_end;
}
const weft_allocator *weft__log_allocator(const weft_log *log) {
    return log->a;
}

static int author_key_cmp(const void *ctx, uint32_t a, uint32_t b) {
    weft_log *log = (weft_log *)ctx;
    log->sort_work++;
    return memcmp(log->authors[a].key, log->authors[b].key, 32);
}

/* Authors minted since the last call (n_sorted .. n_authors) are sorted
 * among themselves and merged into the sorted prefix: O(k log k + n) once
 * per change of the set, never a full re-sort. Dependency keys mint authors,
 * so a hostile writer controls how often the set changes; the version
 * vector every HELLO encodes walks this view. */
const uint32_t *weft__log_sorted_authors(weft_log *log, uint32_t *n) {
    if (log->n_sorted != log->n_authors) {
        size_t old = log->n_sorted, k = log->n_authors - old;
        uint32_t *s = weft__alloc(log->a, (log->n_authors + 1) * sizeof *s);
        uint32_t *fresh = weft__alloc(log->a, k * sizeof *fresh);
        if (fresh)
            for (size_t i = 0; i < k; i++)
                fresh[i] = (uint32_t)(old + i);
        if (!s || !fresh || weft__sort_u32(fresh, k, author_key_cmp, log, log->a)) {
            weft__free(log->a, s);
            weft__free(log->a, fresh);
            *n = 0;
            return NULL;
        }
        size_t i = 0, j = 0, o = 0;
        while (i < old && j < k)
            s[o++] =
                author_key_cmp(log, log->sorted[i], fresh[j]) < 0 ? log->sorted[i++] : fresh[j++];
        while (i < old)
            s[o++] = log->sorted[i++];
        while (j < k)
            s[o++] = fresh[j++];
        weft__free(log->a, fresh);
        weft__free(log->a, log->sorted);
        log->sorted = s;
        log->n_sorted = log->n_authors;
    }
    *n = (uint32_t)log->n_sorted;
    return log->sorted;
}

uint64_t weft__log_sort_work(const weft_log *log) {
    return log->sort_work;
}

int weft__log_restore_author(weft_log *log, uint32_t i, uint64_t seq, const uint8_t *hash,
                             uint64_t lamport_end) {
    author *au = &log->authors[i];
    if (au->seq != 0 || au->n_metas != 0) return WEFT_ESTATE;
    au->seq = seq;
    au->base_seq = seq + 1;
    memcpy(au->head_hash, hash, 32);
    au->lamport_end = lamport_end;
    return WEFT_OK;
}

/* ---- check / commit ---- */

/* The memo only saves hashing twice between weft_log_check and the
 * commit or park of the same record: buffers get reused, so a pointer match
 * alone proves nothing, and every check starts afresh. */
const uint8_t *weft__log_hash_of(weft_log *log, const weft_change *c) {
    if (!log->checked_valid || log->checked_rec != c->record || log->checked_len != c->total_len) {
        weft_change_hash(log->checked_hash, c);
        log->checked_rec = c->record;
        log->checked_len = c->total_len;
        log->checked_valid = 1;
    }
    return log->checked_hash;
}

static uint64_t author_seq_by_key(weft_log *log, const uint8_t *key) {
    uint32_t i = weft__log_author(log, key, 0);
    return i == WEFT_NO_AUTHOR ? 0 : log->authors[i].seq;
}

/* The first thing c still needs, as (author key, seq); NULL key if none. */
static const uint8_t *missing_dep(weft_log *log, const weft_change *c, uint64_t *need_seq) {
    uint64_t own = author_seq_by_key(log, c->author);
    if (c->seq > own + 1) {
        *need_seq = c->seq - 1;
        return c->author;
    }
    size_t pos = 0;
    weft_dep d;
    while (weft_change_dep_next(c, &pos, &d)) {
        if (author_seq_by_key(log, d.author) < d.seq) {
            *need_seq = d.seq;
            return d.author;
        }
    }
    return NULL;
}

int weft_log_check(weft_log *log, const weft_change *c) {
    validate_or_ret(log && c && c->record, WEFT_EINVAL);
    if (memcmp(c->space, log->space, 32) != 0) return WEFT_ESPACE;
    log->checked_valid = 0;
    uint32_t ai = weft__log_author(log, c->author, 0);
    author *au = ai == WEFT_NO_AUTHOR ? NULL : &log->authors[ai];
    uint64_t held = au ? au->seq : 0;
    if (c->seq <= held) {
        if (c->seq < au->base_seq) return WEFT_LOG_DUPLICATE; /* before a snapshot: unknown */
        const chg_meta *m = &au->metas[c->seq - au->base_seq];
        return memcmp(m->hash, weft__log_hash_of(log, c), 32) == 0 ? WEFT_LOG_DUPLICATE
                                                                   : WEFT_EFORK;
    }
    uint64_t need;
    if (c->seq == held + 1) {
        const uint8_t *head = au ? au->head_hash : zero_hash;
        if (memcmp(c->prev, head, 32) != 0) return WEFT_ECHAIN;
        if (au && c->lamport <= au->lamport_end) return WEFT_ECLOCK;
    }
    return missing_dep(log, c, &need) ? WEFT_LOG_WAITING : WEFT_LOG_READY;
}

static void heap_push(author *au, wait_item w);
static void wake_waiters(weft_log *log, author *au);

#define RECORD_CHUNK ((size_t)1 << 20)

/* Copies a record into the chunk store; returns its stable address. */
static const uint8_t *keep_record(weft_log *log, const uint8_t *rec, size_t len) {
    if (log->n_chunks == 0 || log->chunk_cap - log->chunk_used < len) {
        size_t cap = len > RECORD_CHUNK ? len : RECORD_CHUNK;
        if (weft__grow(log->a, (void **)&log->chunks, &log->cap_chunks, log->n_chunks + 1,
                       sizeof(uint8_t *)))
            return NULL;
        uint8_t *chunk = weft__alloc(log->a, cap);
        if (!chunk) return NULL;
        log->chunks[log->n_chunks++] = chunk;
        log->chunk_used = 0;
        log->chunk_cap = cap;
    }
    uint8_t *dst = log->chunks[log->n_chunks - 1] + log->chunk_used;
    memcpy(dst, rec, len);
    log->chunk_used += len;
    return dst;
}

int weft_log_commit(weft_log *log, const weft_change *c) {
    validate_or_ret(log && c && c->record, WEFT_EINVAL);
    uint32_t ai = weft__log_author(log, c->author, 1);
    if (ai == WEFT_NO_AUTHOR) return WEFT_ENOMEM;
    author *au = &log->authors[ai];
    if (c->seq != au->seq + 1) return WEFT_ESTATE;
    if (c->total_len > UINT32_MAX) return WEFT_ETOOBIG;
    const uint8_t *hash = weft__log_hash_of(log, c);
    if (weft__grow(log->a, (void **)&au->metas, &au->cap_metas, au->n_metas + 1,
                   sizeof(chg_meta)) ||
        weft__grow(log->a, (void **)&log->order, &log->cap_order, log->n_order + 1,
                   sizeof(order_item)))
        return WEFT_ENOMEM;
    chg_meta *m = &au->metas[au->n_metas];
    memcpy(m->hash, hash, 32);
    m->lamport_end = c->lamport + c->n_ids - 1;
    m->rec_len = (uint32_t)c->total_len;
    m->rec = NULL;
    if (log->keep_records && !(m->rec = keep_record(log, c->record, c->total_len)))
        return WEFT_ENOMEM;
    au->n_metas++;
    au->seq = c->seq;
    memcpy(au->head_hash, hash, 32);
    au->lamport_end = m->lamport_end;
    log->order[log->n_order++] = (order_item){ai, c->seq};
    log->checked_valid = 0;
    wake_waiters(log, au);
    return WEFT_OK;
}

/* ---- parking ---- */

static void heap_push(author *au, wait_item w) {
    size_t i = au->n_waits++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (au->waits[parent].seq <= w.seq) break;
        au->waits[i] = au->waits[parent];
        i = parent;
    }
    au->waits[i] = w;
}

static wait_item heap_pop(author *au) {
    wait_item top = au->waits[0];
    wait_item last = au->waits[--au->n_waits];
    size_t i = 0, n = au->n_waits;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        wait_item mv = last;
        if (l < n && au->waits[l].seq < mv.seq) {
            m = l;
            mv = au->waits[l];
        }
        if (r < n && au->waits[r].seq < mv.seq) m = r;
        if (m == i) break;
        au->waits[i] = au->waits[m];
        i = m;
    }
    if (n) au->waits[i] = last;
    return top;
}

static void wake_waiters(weft_log *log, author *au) {
    while (au->n_waits && au->waits[0].seq <= au->seq) {
        wait_item w = heap_pop(au);
        /* The ready queue was sized when the entry was parked. */
        log->ready[(log->ready_head + log->n_ready++) % log->cap_ready] = w.entry;
    }
}

/* Makes entry e wait on (key, seq). Space was reserved by the caller. */
static int wait_on(weft_log *log, uint32_t e, const uint8_t *key, uint64_t seq) {
    uint32_t bi = weft__log_author(log, key, 1);
    if (bi == WEFT_NO_AUTHOR) return WEFT_ENOMEM;
    author *b = &log->authors[bi];
    if (weft__grow(log->a, (void **)&b->waits, &b->cap_waits, b->n_waits + 1, sizeof(wait_item)))
        return WEFT_ENOMEM;
    heap_push(b, (wait_item){seq, e});
    return WEFT_OK;
}

static size_t parked_find(const weft_log *log, const author *au, uint64_t seq, int *found) {
    size_t lo = 0, hi = au->n_parked;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (log->pool[au->parked[mid]].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < au->n_parked && log->pool[au->parked[lo]].seq == seq;
    return lo;
}

/* Grows the ready ring so it can hold every parked entry at once. */
static int reserve_ready(weft_log *log, size_t need) {
    if (need <= log->cap_ready) return WEFT_OK;
    size_t ncap = log->cap_ready ? log->cap_ready * 2 : 16;
    while (ncap < need)
        ncap *= 2;
    uint32_t *nr = weft__alloc(log->a, ncap * sizeof *nr);
    if (!nr) return WEFT_ENOMEM;
    for (size_t i = 0; i < log->n_ready; i++)
        nr[i] = log->ready[(log->ready_head + i) % log->cap_ready];
    weft__free(log->a, log->ready);
    log->ready = nr;
    log->ready_head = 0;
    log->cap_ready = ncap;
    return WEFT_OK;
}

int weft_log_park(weft_log *log, const weft_change *c) {
    validate_or_ret(log && c && c->record, WEFT_EINVAL);
    uint64_t need;
    const uint8_t *blocker = missing_dep(log, c, &need);
    if (!blocker) return WEFT_ESTATE; /* not WAITING: nothing to wait for */
    uint32_t ai = weft__log_author(log, c->author, 1);
    if (ai == WEFT_NO_AUTHOR) return WEFT_ENOMEM;
    int found;
    size_t at = parked_find(log, &log->authors[ai], c->seq, &found);
    const uint8_t *hash = weft__log_hash_of(log, c);
    if (found) {
        const parked_entry *p = &log->pool[log->authors[ai].parked[at]];
        return memcmp(p->hash, hash, 32) == 0 ? WEFT_LOG_DUPLICATE : WEFT_EFORK;
    }
    if (c->total_len > log->max_pending_bytes - log->pending_bytes ||
        c->total_len > log->max_pending_author - log->authors[ai].parked_bytes ||
        log->pending_count >= UINT32_MAX / 2)
        return WEFT_EPENDING_FULL;
    /* Reserve everything first so that no failure leaves half a parking. */
    author *au = &log->authors[ai];
    if (weft__grow(log->a, (void **)&au->parked, &au->cap_parked, au->n_parked + 1,
                   sizeof(uint32_t)) ||
        reserve_ready(log, log->pending_count + 1) ||
        weft__grow(log->a, (void **)&log->pool, &log->cap_pool, log->n_pool + 1,
                   sizeof(parked_entry)))
        return WEFT_ENOMEM;
    uint8_t *copy = weft__alloc(log->a, c->total_len);
    if (!copy) return WEFT_ENOMEM;
    memcpy(copy, c->record, c->total_len);
    uint32_t e = log->n_free ? log->free_slots[--log->n_free] : (uint32_t)log->n_pool++;
    parked_entry *p = &log->pool[e];
    p->rec = copy;
    p->len = c->total_len;
    p->author = ai;
    p->seq = c->seq;
    p->epoch = log->epoch;
    memcpy(p->hash, hash, 32);
    int rc = wait_on(log, e, blocker, need);
    if (rc) {
        weft__free(log->a, copy);
        p->rec = NULL;
        if (weft__grow(log->a, (void **)&log->free_slots, &log->cap_free, log->n_free + 1,
                       sizeof(uint32_t)) == 0)
            log->free_slots[log->n_free++] = e;
        return rc;
    }
    au = &log->authors[ai]; /* wait_on may have grown the author array */
    memmove(au->parked + at + 1, au->parked + at, (au->n_parked - at) * sizeof(uint32_t));
    au->parked[at] = e;
    au->n_parked++;
    au->parked_bytes += c->total_len;
    log->pending_bytes += c->total_len;
    log->pending_count++;
    log->checked_valid = 0;
    return WEFT_OK;
}

/* Takes entry e out of its author's parked list and the pool's accounts;
 * its record now belongs to the caller (p->rec is cleared). */
static void unpark(weft_log *log, uint32_t e) {
    parked_entry *p = &log->pool[e];
    author *au = &log->authors[p->author];
    int found;
    size_t at = parked_find(log, au, p->seq, &found);
    if (found) {
        memmove(au->parked + at, au->parked + at + 1, (au->n_parked - at - 1) * sizeof(uint32_t));
        au->n_parked--;
    }
    au->parked_bytes -= p->len;
    log->pending_bytes -= p->len;
    log->pending_count--;
    p->rec = NULL;
    /* A slot that cannot be listed as free is only lost, not reused. */
    if (weft__grow(log->a, (void **)&log->free_slots, &log->cap_free, log->n_free + 1,
                   sizeof(uint32_t)) == 0)
        log->free_slots[log->n_free++] = e;
}

int weft_log_next_ready(weft_log *log, const uint8_t **record, size_t *len) {
    if (!log || !record || !len) return 0;
    weft__free(log->a, log->held);
    log->held = NULL;
    while (log->n_ready) {
        uint32_t e = log->ready[log->ready_head];
        log->ready_head = (log->ready_head + 1) % log->cap_ready;
        log->n_ready--;
        parked_entry *p = &log->pool[e];
        weft_change c;
        uint64_t need;
        const uint8_t *blocker = NULL;
        if (weft_change_decode(&c, p->rec, p->len) == 0) blocker = missing_dep(log, &c, &need);
        if (blocker && wait_on(log, e, blocker, need) == 0) continue;
        /* Ready (or undecodable, or out of memory to re-wait: the caller's
         * check will then say what it is). Unpark and hand it out. */
        log->held = p->rec;
        *record = p->rec;
        *len = p->len;
        unpark(log, e);
        return 1;
    }
    return 0;
}

/* Keeps the wait heaps and the ready ring free of entries that were just
 * dropped, so a freed slot is never woken under its next owner. */
static void purge_dropped(weft_log *log) {
    for (size_t i = 0; i < log->n_authors; i++) {
        author *au = &log->authors[i];
        size_t n = au->n_waits;
        au->n_waits = 0;
        for (size_t k = 0; k < n; k++) {
            wait_item w = au->waits[k];
            if (log->pool[w.entry].rec) heap_push(au, w);
        }
    }
    size_t n = log->n_ready, kept = 0;
    for (size_t k = 0; k < n; k++) {
        uint32_t e = log->ready[(log->ready_head + k) % log->cap_ready];
        if (log->pool[e].rec) log->ready[(log->ready_head + kept++) % log->cap_ready] = e;
    }
    log->n_ready = kept;
}

size_t weft_log_expire_parked(weft_log *log) {
    if (!log) return 0;
    log->epoch++;
    size_t dropped = 0;
    for (uint32_t e = 0; e < log->n_pool; e++) {
        parked_entry *p = &log->pool[e];
        if (!p->rec || p->epoch + 2 > log->epoch) continue;
        weft__free(log->a, p->rec);
        unpark(log, e);
        dropped++;
    }
    if (dropped) purge_dropped(log);
    return dropped;
}

uint64_t weft_log_count(const weft_log *log) {
    return log ? log->n_order : 0;
}
size_t weft_log_pending_count(const weft_log *log) {
    return log ? log->pending_count : 0;
}

uint64_t weft_log_seq(const weft_log *log, const uint8_t *key) {
    if (!log || !key) return 0;
    return author_seq_by_key((weft_log *)log, key);
}

/* ---- version vectors ---- */

size_t weft_log_vv_bound(const weft_log *log) {
    return log ? log->n_authors * (32 + 10) : 0;
}

int weft_log_vv_encode(const weft_log *log, uint8_t *dst, size_t dst_cap, size_t *out_len) {
    validate_or_ret(log && out_len && (dst || dst_cap == 0), WEFT_EINVAL);
    uint32_t n;
    const uint32_t *sorted = weft__log_sorted_authors((weft_log *)log, &n);
    if (!sorted && log->n_authors) return WEFT_ENOMEM;
    size_t len = 0;
    for (uint32_t k = 0; k < n; k++) {
        const author *au = &log->authors[sorted[k]];
        if (au->seq == 0) continue; /* known only as something awaited */
        if (dst_cap - len < 32 + varint_len(au->seq)) return WEFT_ENOSPACE;
        memcpy(dst + len, au->key, 32);
        len += 32;
        len += varint_put(dst + len, au->seq);
    }
    *out_len = len;
    return WEFT_OK;
}

int weft_vv_check(const uint8_t *vv, size_t vv_len) {
    validate_or_ret(vv || vv_len == 0, WEFT_EINVAL);
    /* The empty vector may be NULL, and NULL + 0 is undefined in C. */
    if (vv_len == 0) return WEFT_OK;
    wreader r;
    rd_init(&r, vv, vv_len);
    const uint8_t *prev = NULL;
    while (rd_left(&r) && !r.err) {
        const uint8_t *a = rd_take(&r, 32);
        uint64_t seq = rd_varint(&r);
        if (r.err) break;
        if (seq == 0 || (prev && memcmp(prev, a, 32) >= 0)) return WEFT_EMALFORMED;
        prev = a;
    }
    return r.err;
}

int weft_vv_next(const uint8_t *vv, size_t vv_len, size_t *pos, const uint8_t **author_key,
                 uint64_t *seq) {
    if (!vv || !pos || *pos >= vv_len) return 0;
    wreader r;
    rd_init(&r, vv + *pos, vv_len - *pos);
    *author_key = rd_take(&r, 32);
    *seq = rd_varint(&r);
    if (r.err) return 0;
    *pos = (size_t)(r.p - vv);
    return 1;
}

/* strict: a vector below what the log still holds of some author (it
 * forgot that prefix, or loaded a snapshot past it) is WEFT_ETRIMMED, and
 * nothing is emitted; otherwise that prefix is left out. */
static int log_diff(const weft_log *log, const uint8_t *vv, size_t vv_len, int strict,
                    weft_log_emit_fn emit, void *ud) {
    validate_or_ret(log && emit, WEFT_EINVAL);
    int rc = weft_vv_check(vv, vv_len);
    if (rc) return rc;
    uint64_t *theirs = NULL;
    if (log->n_authors) {
        theirs = weft__alloc(log->a, log->n_authors * sizeof *theirs);
        if (!theirs) return WEFT_ENOMEM;
        memset(theirs, 0, log->n_authors * sizeof *theirs);
    }
    size_t pos = 0;
    const uint8_t *key;
    uint64_t seq;
    while (weft_vv_next(vv, vv_len, &pos, &key, &seq)) {
        uint32_t ai = weft__log_author((weft_log *)log, key, 0);
        if (ai != WEFT_NO_AUTHOR) theirs[ai] = seq;
    }
    for (size_t i = 0; strict && i < log->n_authors; i++) {
        const author *au = &log->authors[i];
        if (au->seq > theirs[i] && theirs[i] + 1 < au->base_seq) {
            weft__free(log->a, theirs);
            return WEFT_ETRIMMED;
        }
    }
    for (size_t i = 0; i < log->n_order && rc == 0; i++) {
        const order_item *o = &log->order[i];
        if (o->seq <= theirs[o->author]) continue;
        const author *au = &log->authors[o->author];
        const chg_meta *m = &au->metas[o->seq - au->base_seq];
        rc = emit(ud, m->rec, m->rec ? m->rec_len : 0, au->key, o->seq);
    }
    weft__free(log->a, theirs);
    return rc;
}

int weft_log_diff(const weft_log *log, const uint8_t *vv, size_t vv_len, weft_log_emit_fn emit,
                  void *ud) {
    return log_diff(log, vv, vv_len, 1, emit, ud);
}

int weft_log_diff_held(const weft_log *log, const uint8_t *vv, size_t vv_len, weft_log_emit_fn emit,
                       void *ud) {
    return log_diff(log, vv, vv_len, 0, emit, ud);
}

/* ---- restoring and forgetting history ---- */

int weft_log_restore(weft_log *log, const uint8_t *key, uint64_t seq, const uint8_t *hash,
                     uint64_t lamport_end) {
    validate_or_ret(log && key && hash && seq > 0, WEFT_EINVAL);
    uint32_t i = weft__log_author(log, key, 1);
    if (i == WEFT_NO_AUTHOR) return WEFT_ENOMEM;
    return weft__log_restore_author(log, i, seq, hash, lamport_end);
}

int weft_log_entry(const weft_log *log, const uint8_t *key, uint64_t seq, uint8_t hash[32],
                   uint64_t *lamport_end) {
    validate_or_ret(log && key && hash && lamport_end, WEFT_EINVAL);
    uint32_t i = weft__log_author((weft_log *)log, key, 0);
    if (i == WEFT_NO_AUTHOR || seq == 0) return WEFT_ENOTFOUND;
    const author *au = &log->authors[i];
    if (seq == au->seq) { /* the head: known even when its meta was forgotten */
        memcpy(hash, au->head_hash, 32);
        *lamport_end = au->lamport_end;
        return WEFT_OK;
    }
    if (seq > au->seq) return WEFT_ENOTFOUND;
    if (seq < au->base_seq) return WEFT_ETRIMMED;
    const chg_meta *m = &au->metas[seq - au->base_seq];
    memcpy(hash, m->hash, 32);
    *lamport_end = m->lamport_end;
    return WEFT_OK;
}

uint64_t weft_log_base(const weft_log *log, const uint8_t *key) {
    if (!log || !key) return 0;
    uint32_t i = weft__log_author((weft_log *)log, key, 0);
    return i == WEFT_NO_AUTHOR ? 0 : log->authors[i].base_seq - 1;
}

/* Shrinks an array to exactly n elements (n may be 0); on failure it keeps
 * its size, which loses nothing. */
static void shrink(const weft_allocator *a, void **pp, size_t *cap, size_t n, size_t elem) {
    if (*cap == n) return;
    if (n == 0) {
        weft__free(a, *pp);
        *pp = NULL;
        *cap = 0;
        return;
    }
    void *p = weft__realloc(a, *pp, n * elem);
    if (!p) return;
    *pp = p;
    *cap = n;
}

int weft_log_forget(weft_log *log, const uint8_t *vv, size_t vv_len, uint64_t keep) {
    validate_or_ret(log, WEFT_EINVAL);
    int rc = weft_vv_check(vv, vv_len);
    if (rc) return rc;
    if (!log->n_authors) return WEFT_OK;
    /* cut[a]: the highest seq of author a to forget. Everything that can
     * fail is allocated before the log changes, so a failure leaves it as
     * it was. */
    uint64_t *cut = weft__alloc(log->a, log->n_authors * sizeof *cut);
    if (!cut) return WEFT_ENOMEM;
    for (size_t i = 0; i < log->n_authors; i++)
        cut[i] = log->authors[i].base_seq - 1;
    size_t pos = 0;
    const uint8_t *key;
    uint64_t seq;
    while (weft_vv_next(vv, vv_len, &pos, &key, &seq)) {
        uint32_t ai = weft__log_author(log, key, 0);
        if (ai == WEFT_NO_AUTHOR) continue;
        const author *au = &log->authors[ai];
        uint64_t keep_from = au->seq > keep ? au->seq - keep : 0;
        uint64_t c = seq < keep_from ? seq : keep_from;
        if (c > cut[ai]) cut[ai] = c;
    }
    size_t kept_bytes = 0;
    for (size_t k = 0; k < log->n_order; k++) {
        const order_item *o = &log->order[k];
        if (o->seq <= cut[o->author]) continue;
        const author *au = &log->authors[o->author];
        kept_bytes += au->metas[o->seq - au->base_seq].rec_len;
    }
    uint8_t *chunk = NULL;
    if (log->keep_records && kept_bytes && !(chunk = weft__alloc(log->a, kept_bytes))) {
        weft__free(log->a, cut);
        return WEFT_ENOMEM;
    }
    /* Kept records move to the fresh chunk (their metas are still where
     * they were), the order keeps what stays, then each author's metas. */
    size_t used = 0, n_order = 0;
    for (size_t k = 0; k < log->n_order; k++) {
        order_item o = log->order[k];
        if (o.seq <= cut[o.author]) continue;
        author *au = &log->authors[o.author];
        chg_meta *m = &au->metas[o.seq - au->base_seq];
        if (chunk && m->rec) {
            memcpy(chunk + used, m->rec, m->rec_len);
            m->rec = chunk + used;
            used += m->rec_len;
        }
        log->order[n_order++] = o;
    }
    log->n_order = n_order;
    if (log->keep_records) {
        for (size_t i = 0; i < log->n_chunks; i++)
            weft__free(log->a, log->chunks[i]);
        log->n_chunks = 0;
        log->chunk_used = log->chunk_cap = 0;
        if (chunk) { /* cap_chunks >= 1: kept bytes came from some chunk */
            log->chunks[log->n_chunks++] = chunk;
            log->chunk_used = log->chunk_cap = kept_bytes;
        }
        shrink(log->a, (void **)&log->chunks, &log->cap_chunks, log->n_chunks, sizeof(uint8_t *));
    }
    for (size_t i = 0; i < log->n_authors; i++) {
        author *au = &log->authors[i];
        if (cut[i] < au->base_seq) continue;
        size_t drop = (size_t)(cut[i] - au->base_seq + 1);
        memmove(au->metas, au->metas + drop, (au->n_metas - drop) * sizeof *au->metas);
        au->n_metas -= drop;
        au->base_seq = cut[i] + 1;
        shrink(log->a, (void **)&au->metas, &au->cap_metas, au->n_metas, sizeof *au->metas);
    }
    shrink(log->a, (void **)&log->order, &log->cap_order, log->n_order, sizeof *log->order);
    log->checked_valid = 0;
    weft__free(log->a, cut);
    return WEFT_OK;
}
