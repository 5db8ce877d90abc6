/*
 * Redis storage (storage.h; docs/SCALING.md, "Wiring it into the relay"):
 * how a relay with --storage redis keeps its view of each space in step
 * with Redis, without ever blocking on it. The Redis client itself is
 * storage_redis.c; the link (r->redis) is shared with the cross-relay
 * pub/sub (pubsub.c) and the shared rate limits (ratelimit_redis.c).
 *
 * One ingest path per space: everything the space holds comes from reading
 * Redis in relay-sequence order (XRANGE after what this relay holds) into
 * a memory mirror that reads are served from, and reaches the space
 * through record() and durable(). A change a client sends is committed to
 * the space's log at once (so the next change of the same turn can chain
 * on it) and queued in the space's batch for the turn; at the end of the
 * turn one append script per space carries the batch. Its answer fills in
 * the relay sequences; the batch counts as answered (and the held ACKs and
 * POST answers that wait for it go out) once the ingest has read up to
 * them, so a client acked by this relay finds its change on this relay too.
 *
 * When Redis does not confirm an append (an error, or Redis went away), the
 * space may hold changes Redis lacks: the backend says lost() (its
 * sessions fail with STORAGE, as after a flush error) and the next client
 * loads it again from Redis. Clients resend what was not acked; dedupe by
 * hash makes that safe. A duplicate answered while appends are in flight
 * goes through Redis too (append_dup), so it is never acked before the
 * original is confirmed.
 *
 * Per space, a handle holds: this turn's batch, the batches in flight
 * (oldest first: one connection answers in order) and those answered but
 * not read back yet, the ingest cursor's state (a head query and at most
 * one XRANGE in flight, plus "read again" when more was announced
 * meanwhile), the waiters (a load, or a fresh read), and the origins of
 * this relay's own appends by relay sequence (so the ingest indexes them
 * with the session that sent them, which is then not sent its own changes
 * back).
 *
 * Sealed snapshots live in Redis (weft:{hex}:snap: the newest and the one
 * before it, in their stored form) and in the mirror, which serves reads:
 * they are fetched when the space loads and again with every fresh wait
 * (a GET or a HELLO, so an upload through another relay is seen), and
 * waiters are answered only once the fetch in flight is back. An upload
 * goes to Redis (one script, atomic, refusing a lower base) and into the
 * mirror once Redis confirmed it; only then is it answered.
 *
 * History (--keep-history): a trim drops the prefix from the mirror at once
 * and sends one script that stores the checkpoint (weft:{hex}:trim) and
 * XTRIMs the stream (its failure only leaves Redis holding more). A space
 * loads its checkpoint before its first read (storage_events.trimmed), so
 * the log starts from the authors' heads at the cut. A relay that holds
 * the space while another trims it reads on from where it is; one behind
 * the cut finds a gap, gives the space up (lost) and loads it again.
 *
 * Lifetimes: Redis callbacks may outlive a handle (its space dropped,
 * deleted, or the relay stopping). A handle is reference-counted by its
 * callbacks in flight and by being open; a closed one only waits for those
 * to come back. A batch is counted by the backend until it is read back
 * and by every held ACK or POST waiting for it; closing the handle detaches
 * it (durable_at = NULL), which counts as failed.
 */
#include "hex.h"
#include "ingest.h"
#include "snapfile.h"
#include "trimfile.h"

#include "weft/change.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define READ_COUNT 1000 /* records per XRANGE */

/* Redis' answer per record is copied into the batch as it is. */
_Static_assert(REDIS_APPEND_DUP == STORAGE_DUP && REDIS_APPEND_FORK == STORAGE_FORK,
               "append answers and batch entries agree");

/* One space's appends of one turn. base first: held ACKs see only it. */
typedef struct redis_batch {
    storage_batch base;
    struct redis_space *h;    /* kept alive (a reference) while in flight */
    struct redis_batch *next; /* fly or done list */
    size_t xcap;
    uint8_t (*keys)[32]; /* freed once sent */
    uint8_t (*forks)[REDIS_FORK_KEY];
    uint8_t **recs;
    size_t *lens;
    uint64_t *origin; /* freed once answered */
} redis_batch;

/* A wait until the space has loaded (target 0), or until the ingest
 * reached the head Redis gave for it (TARGET_UNKNOWN until that answer
 * comes). */
#define TARGET_UNKNOWN UINT64_MAX
typedef struct wait_ent {
    waiter *w;
    uint64_t id, target;
} wait_ent;

typedef struct origin_ent {
    uint64_t rseq, origin;
} origin_ent;

typedef struct redis_space {
    storage_space base;
    struct redis_backend *be;
    uint8_t id[32];
    char hex[65];
    const storage_events *ev;
    void *ud;
    int closed; /* callbacks still in flight find nothing to do */
    int refs;   /* head queries and reads in flight, + 1 while open */
    relay_space_store *mirror;
    uint64_t n; /* records read back (all durable in Redis) */
    int loading;
    int snap_fetching; /* a snapshot fetch in flight: waiters wait for it */
    int trim_loading;  /* the trim checkpoint is being fetched: no read starts before */
    uint64_t trimmed;  /* records up to it are gone from Redis and the mirror */
    redis_batch *open, *fly_head, *fly_tail, *done_head, *done_tail;
    struct redis_space *batch_next; /* be->batching */
    int in_batching;
    /* Redis refused one of this relay's changes as a fork, which the
     * space's log has committed: 1 when the answer came, 2 once the turn
     * that sends the rejection has ended, 3 once nothing of the space
     * waits for Redis; at the next turn the space is dropped (and loaded
     * again from Redis by its next client). Ticks (100 ms) bound the wait
     * to a second. */
    int forked, forked_ticks;
    uint8_t (*fork_authors)[32]; /* whose refused change the log holds */
    size_t n_fork_authors;
    uint64_t inflight; /* records queued or in flight */
    int head_pending, head_known, reading, read_again, retry;
    int read_knows_head; /* the read in flight was sent after the head came */
    uint64_t load_target, known_head;
    wait_ent *waiters;
    size_t n_waiters, cap_waiters;
    uint64_t next_wait_id;
    origin_ent *orig;
    size_t o_head, o_tail, o_cap;
} redis_space;

typedef struct redis_backend {
    storage base;
    relay *r;
    relay_store *mirrors;   /* memory driver: this relay's copy of each space */
    redis_space **tab;      /* open handles by space id (open addressing) */
    size_t tab_cap, n_open; /* cap: a power of two, or 0 */
    redis_space *batching;  /* handles with a batch to send this turn */
    size_t n_forked;        /* open handles with forked set */
    int stopping;           /* shutdown: Redis callbacks fail, nothing is lost() */
} redis_backend;

/* ---- open handles by id ---- */

static size_t id_slot(const redis_backend *be, const uint8_t id[32]) {
    uint64_t h; /* space ids are public keys: their bytes are spread already */
    memcpy(&h, id, 8);
    return (size_t)h & (be->tab_cap - 1);
}

static redis_space *tab_find(const redis_backend *be, const uint8_t id[32]) {
    if (!be->tab_cap) return NULL;
    for (size_t i = id_slot(be, id);; i = (i + 1) & (be->tab_cap - 1)) {
        if (!be->tab[i]) return NULL;
        if (memcmp(be->tab[i]->id, id, 32) == 0) return be->tab[i];
    }
}

static void tab_place(redis_backend *be, redis_space *h) {
    size_t i = id_slot(be, h->id);
    while (be->tab[i])
        i = (i + 1) & (be->tab_cap - 1);
    be->tab[i] = h;
}

static int tab_insert(redis_backend *be, redis_space *h) {
    if ((be->n_open + 1) * 2 > be->tab_cap) {
        size_t old_cap = be->tab_cap, cap = old_cap ? old_cap * 2 : 64;
        redis_space **old = be->tab, **tab = calloc(cap, sizeof *tab);
        if (!tab) return WEFT_ENOMEM;
        be->tab = tab;
        be->tab_cap = cap;
        for (size_t i = 0; i < old_cap; i++)
            if (old[i]) tab_place(be, old[i]);
        free(old);
    }
    tab_place(be, h);
    be->n_open++;
    return 0;
}

static void tab_remove(redis_backend *be, redis_space *h) {
    size_t mask = be->tab_cap - 1, i = id_slot(be, h->id);
    while (be->tab[i] != h)
        i = (i + 1) & mask;
    be->tab[i] = NULL;
    for (size_t j = (i + 1) & mask; be->tab[j]; j = (j + 1) & mask) {
        redis_space *o = be->tab[j];
        be->tab[j] = NULL;
        tab_place(be, o);
    }
    be->n_open--;
}

/* ---- batches ---- */

static void batch_extras_free(redis_batch *b) {
    for (size_t i = 0; i < b->base.n && b->recs; i++)
        free(b->recs[i]);
    free(b->keys);
    free(b->forks);
    free(b->recs);
    free(b->lens);
    free(b->origin);
    b->keys = NULL;
    b->forks = NULL;
    b->recs = NULL;
    b->lens = NULL;
    b->origin = NULL;
}

/* The backend lets go of b (extras first: nobody else reads them). */
static void batch_drop(redis_batch *b) {
    batch_extras_free(b);
    storage_batch_unref(&b->base);
}

static int batch_grow(redis_batch *b) {
    size_t cap = b->xcap ? b->xcap * 2 : 16;
    void *k = realloc(b->keys, cap * 32);
    if (k) b->keys = k;
    void *f = realloc(b->forks, cap * sizeof *b->forks);
    if (f) b->forks = f;
    void *r = realloc(b->recs, cap * sizeof *b->recs);
    if (r) b->recs = r;
    void *l = realloc(b->lens, cap * sizeof *b->lens);
    if (l) b->lens = l;
    void *o = realloc(b->origin, cap * sizeof *b->origin);
    if (o) b->origin = o;
    if (!k || !f || !r || !l || !o) return WEFT_ENOMEM;
    b->xcap = cap;
    return 0;
}

/* ---- loading and reading ---- */

static void h_release(redis_space *h) {
    if (--h->refs == 0) free(h);
}

static void on_head(void *ud, int rc, uint64_t head);
static void on_read(void *ud, int rc, const uint64_t *rseq, const uint8_t *const *recs,
                    const size_t *lens, size_t n);

static void request_head(redis_space *h) {
    if (h->head_pending || h->be->stopping) return;
    if (redis_store_head(h->be->r->redis, h->id, on_head, h)) {
        h->retry = 1;
        return;
    }
    h->head_pending = 1;
    h->refs++;
}

static void kick(redis_space *h) {
    if (h->be->stopping || h->trim_loading) return;
    if (h->reading) {
        h->read_again = 1;
        return;
    }
    if (redis_store_read(h->be->r->redis, h->id, h->n, READ_COUNT, on_read, h)) {
        h->retry = 1;
        return;
    }
    h->reading = 1;
    h->read_again = 0;
    h->read_knows_head = h->head_known;
    h->refs++;
}

/* Answers the waits that are over (the space loaded, and the ingest at
 * their target). */
static void check_waiters(redis_space *h) {
    if (h->closed || h->loading || h->snap_fetching) return;
    /* Answering may touch this space again (a HELLO goes live, a new wait
     * comes): take the ready ones out first. */
    size_t n = 0, k = 0;
    waiter **ready = malloc((h->n_waiters + 1) * sizeof *ready);
    if (!ready) return;
    for (size_t i = 0; i < h->n_waiters; i++) {
        if (h->waiters[i].target <= h->n)
            ready[n++] = h->waiters[i].w;
        else
            h->waiters[k++] = h->waiters[i];
    }
    h->n_waiters = k;
    for (size_t i = 0; i < n; i++)
        waiter_answer(ready[i], 0);
    free(ready);
}

static void check_loaded(redis_space *h) {
    if (!h->loading || !h->head_known || h->n < h->load_target || h->snap_fetching ||
        h->trim_loading)
        return;
    h->loading = 0;
    relay_log("space=%s loaded from redis records=%llu", h->hex, (unsigned long long)h->n);
    check_waiters(h);
}

static void on_head(void *ud, int rc, uint64_t head) {
    redis_space *h = ud;
    h->head_pending = 0;
    if (!h->closed && rc) h->retry = 1;
    if (!h->closed && !rc) {
        h->head_known = 1;
        h->load_target = head;
        if (head > h->known_head) h->known_head = head;
        if (h->n < head) kick(h);
        check_loaded(h);
    }
    h_release(h);
}

/* The origin of this relay's own record rseq (0: another relay's). */
static uint64_t take_origin(redis_space *h, uint64_t rseq) {
    while (h->o_head < h->o_tail && h->orig[h->o_head].rseq < rseq)
        h->o_head++;
    if (h->o_head < h->o_tail && h->orig[h->o_head].rseq == rseq)
        return h->orig[h->o_head++].origin;
    return 0;
}

/* Answered batches the ingest has read past are done. */
static void release_done(redis_space *h) {
    while (h->done_head && h->done_head->base.max_rseq <= h->n) {
        redis_batch *b = h->done_head;
        h->done_head = b->next;
        if (!h->done_head) h->done_tail = NULL;
        /* Answered for good: a held ACK that reads it later must not
         * depend on h, which may be closed (a lost space) before then. */
        b->base.durable_at = &b->base.max_rseq;
        batch_drop(b);
    }
}

/* Takes record rseq (the next one) into the mirror and the space. */
static int ingest_one(redis_space *h, uint64_t rseq, const uint8_t *rec, size_t len) {
    if (rseq != h->n + 1) return WEFT_EMALFORMED;
    const uint8_t *recs[1] = {rec};
    size_t lens[1] = {len};
    uint64_t first;
    int rc = h->be->mirrors->ops->append(h->mirror, recs, lens, 1, &first);
    if (rc) return rc;
    h->n = rseq;
    return h->ev->record(h->ud, rseq, rec, len, take_origin(h, rseq));
}

static void on_read(void *ud, int rc, const uint64_t *rseq, const uint8_t *const *recs,
                    const size_t *lens, size_t n) {
    redis_space *h = ud;
    h->reading = 0;
    if (h->closed || rc) {
        if (!h->closed) h->retry = 1;
        h_release(h);
        return;
    }
    uint64_t before = h->n;
    for (size_t i = 0; i < n; i++) {
        if (rseq[i] <= h->n) continue;
        int err = ingest_one(h, rseq[i], recs[i], lens[i]);
        if (err) {
            relay_log("space=%s ingest at rseq=%llu failed: %s", h->hex,
                      (unsigned long long)rseq[i], weft_err_name(err));
            h->ev->lost(h->ud, WEFT_PROTO_ESTORAGE, "ingest from redis failed"); /* closes h */
            h_release(h);
            return;
        }
    }
    /* Read from Redis: durable there. */
    if (h->n > before) h->ev->durable(h->ud, h->n);
    release_done(h);
    /* Nothing more in Redis than we hold, asked after its head came: what
     * was announced past it is gone (a delete, or a Redis that lost its
     * tail). An earlier read may just have been sent too soon. */
    if (n == 0 && h->read_knows_head && !h->read_again) {
        if (h->known_head > h->n) h->known_head = h->n;
        if (h->load_target > h->n) h->load_target = h->n;
    }
    if (n == READ_COUNT || h->read_again || h->n < h->known_head) kick(h);
    if (h->loading)
        check_loaded(h);
    else if (n)
        check_waiters(h);
    h_release(h);
}

/* Some relay appended to a subscribed space (redis_store_config.on_new). */
static void on_new(void *ud, const uint8_t id[32], uint64_t head) {
    relay *r = ud;
    redis_space *h = tab_find((redis_backend *)r->storage, id);
    if (!h) return;
    if (head == 0) { /* (re)subscribed: notifications may have been lost */
        if (!h->head_known) request_head(h);
        kick(h);
    } else if (head > h->n) {
        if (head > h->known_head) h->known_head = head;
        kick(h);
    }
}

/* ---- snapshots ---- */

/* The stored snapshots as Redis has them now, into the mirror (the older
 * first, so the mirror keeps both in order). One that fails its check is
 * counted and left out; a reply error keeps what the mirror had. */
static void on_snaps(void *ud, int rc, const uint8_t *const blob[2], const size_t len[2]) {
    redis_space *h = ud;
    h->snap_fetching = 0;
    if (!h->closed && rc)
        relay_log("space=%s snapshot fetch from redis failed: %s", h->hex, weft_err_name(rc));
    for (int i = 1; !h->closed && !rc && i >= 0; i--) {
        uint64_t base;
        const uint8_t *body;
        size_t bl;
        if (!blob[i]) continue;
        if (weft__snap_parse(&base, &body, &bl, blob[i], len[i])) {
            h->be->r->m.snapshots_damaged++;
            continue;
        }
        h->be->mirrors->ops->snapshot_put(h->mirror, base, body, bl); /* older: refused */
    }
    if (!h->closed) {
        if (h->loading)
            check_loaded(h);
        else
            check_waiters(h);
    }
    h_release(h);
}

static void fetch_snaps(redis_space *h) {
    if (h->snap_fetching || h->be->stopping) return;
    if (redis_store_snap_get(h->be->r->redis, h->id, on_snaps, h))
        return; /* what is here will do */
    h->snap_fetching = 1;
    h->refs++;
}

typedef struct snap_put_req {
    redis_space *h;
    waiter *w;
    uint64_t base;
    size_t len;
    uint8_t body[]; /* the mirror's copy once Redis has it */
} snap_put_req;

static void on_snap_put(void *ud, int rc, uint64_t stored) {
    snap_put_req *q = ud;
    redis_space *h = q->h;
    int ok = !rc && stored;
    if (!rc && !stored)
        relay_log("space=%s snapshot refused by redis: a newer one is held", h->hex);
    if (rc) relay_log("space=%s snapshot not confirmed by redis: %s", h->hex, weft_err_name(rc));
    if (ok && !h->closed) h->be->mirrors->ops->snapshot_put(h->mirror, q->base, q->body, q->len);
    waiter_answer(q->w, !ok);
    free(q);
    h_release(h);
}

static int newest_base(void *ud, uint64_t base, const uint8_t *rec, size_t len) {
    (void)rec, (void)len;
    *(uint64_t *)ud = base;
    return 1;
}

/* Stored in Redis first, then in the mirror; answered once Redis said so.
 * A base below the mirror's newest is refused at once (ESTATE); one below
 * a newer that another relay stored meanwhile is refused by the script
 * (answered as failed). */
static int r_snapshot_put(storage_space *h_, uint64_t base, const uint8_t *body, size_t len,
                          waiter **slot, relay_answer_fn fn, void *ud) {
    redis_space *h = (redis_space *)h_;
    redis_backend *be = h->be;
    uint64_t newest = 0;
    size_t damaged = 0;
    if (be->mirrors->ops->snapshot_read(h->mirror, newest_base, &newest, &damaged) > 0 &&
        base < newest)
        return WEFT_ESTATE;
    if (be->stopping || !be->r->redis) return WEFT_EUNAVAILABLE;
    uint8_t *blob = malloc(WEFT__SNAP_HDR + len);
    snap_put_req *q = malloc(sizeof *q + len);
    waiter *w = malloc(sizeof *w);
    if (!blob || !q || !w) {
        free(blob);
        free(q);
        free(w);
        return WEFT_ENOMEM;
    }
    weft__snap_header(blob, base, body, len);
    memcpy(blob + WEFT__SNAP_HDR, body, len);
    *q = (snap_put_req){.h = h, .w = w, .base = base, .len = len};
    memcpy(q->body, body, len);
    int rc =
        redis_store_snap_put(be->r->redis, h->id, base, blob, WEFT__SNAP_HDR + len, on_snap_put, q);
    free(blob); /* hiredis copied it */
    if (rc) {
        free(q);
        free(w);
        return rc;
    }
    waiter_init(w, slot, fn, ud);
    h->refs++;
    return STORAGE_LATER;
}

static int r_snapshot_read(storage_space *h_, relay_record_fn fn, void *ud, size_t *damaged) {
    redis_space *h = (redis_space *)h_;
    return h->be->mirrors->ops->snapshot_read(h->mirror, fn, ud, damaged);
}

/* ---- history ---- */

/* The checkpoint as Redis has it (blob[0]; NULL: never trimmed), before
 * the first read: the space restores its authors' heads and the ingest
 * starts after the cut. */
static void on_trim_loaded(void *ud, int rc, const uint8_t *const blob[2], const size_t len[2]) {
    redis_space *h = ud;
    h->trim_loading = 0;
    if (h->closed) {
        h_release(h);
        return;
    }
    uint64_t t = 0;
    size_t n;
    if (!rc && blob[0] && weft__trim_parse(&t, &n, blob[0], len[0])) rc = WEFT_EMALFORMED;
    uint64_t bytes;
    if (!rc && blob[0] && t > h->n) {
        rc = h->ev->trimmed(h->ud, t, blob[0], len[0]);
        if (!rc) rc = h->be->mirrors->ops->trim(h->mirror, t, blob[0], len[0], &bytes);
        if (!rc) h->n = h->trimmed = t;
    }
    if (rc) {
        relay_log("space=%s trim checkpoint from redis: %s", h->hex, weft_err_name(rc));
        h->ev->lost(h->ud, WEFT_PROTO_ESTORAGE, "trim checkpoint unreadable"); /* closes h */
        h_release(h);
        return;
    }
    kick(h);
    check_loaded(h);
    h_release(h);
}

static uint64_t r_trim_point(storage_space *h_, uint64_t limit) {
    redis_space *h = (redis_space *)h_;
    uint64_t p = limit < h->n ? limit : h->n; /* what was read back is durable in Redis */
    return p > h->trimmed ? p : h->trimmed;
}

static void on_trimmed_in_redis(void *ud, int rc, uint64_t done) {
    redis_space *h = ud;
    if (rc) relay_log("space=%s trim not confirmed by redis: %s", h->hex, weft_err_name(rc));
    (void)done; /* 0: another relay cut as far already */
    h_release(h);
}

static int r_trim(storage_space *h_, uint64_t upto, const uint8_t *ckpt, size_t len,
                  uint64_t *bytes) {
    redis_space *h = (redis_space *)h_;
    *bytes = 0;
    if (upto <= h->trimmed || upto > h->n || h->be->stopping) return WEFT_EINVAL;
    int rc = redis_store_trim(h->be->r->redis, h->id, upto, ckpt, len, on_trimmed_in_redis, h);
    if (rc) return rc;
    h->refs++;
    rc = h->be->mirrors->ops->trim(h->mirror, upto, ckpt, len, bytes);
    if (!rc) h->trimmed = upto;
    return rc;
}

/* ---- waiting ---- */

static wait_ent *add_waiter(redis_space *h, waiter **slot, relay_answer_fn fn, void *ud,
                            uint64_t target) {
    if (h->n_waiters == h->cap_waiters) {
        size_t cap = h->cap_waiters ? h->cap_waiters * 2 : 8;
        wait_ent *p = realloc(h->waiters, cap * sizeof *p);
        if (!p) return NULL;
        h->waiters = p;
        h->cap_waiters = cap;
    }
    waiter *w = malloc(sizeof *w);
    if (!w) return NULL;
    waiter_init(w, slot, fn, ud);
    wait_ent *e = &h->waiters[h->n_waiters++];
    *e = (wait_ent){.w = w, .id = ++h->next_wait_id, .target = target};
    return e;
}

typedef struct sync_req {
    redis_space *h;
    uint64_t id;
} sync_req;

static void on_sync_head(void *ud, int rc, uint64_t head) {
    sync_req *q = ud;
    redis_space *h = q->h;
    uint64_t id = q->id;
    free(q);
    if (!h->closed) {
        /* An error does not hold the session: it goes on with what is here. */
        if (rc) head = 0;
        for (size_t i = 0; i < h->n_waiters; i++)
            if (h->waiters[i].id == id) h->waiters[i].target = head;
        if (head > h->known_head) h->known_head = head;
        if (head > h->n) kick(h);
        check_waiters(h);
    }
    h_release(h);
}

static int r_wait(storage_space *h_, int fresh, waiter **slot, relay_answer_fn fn, void *ud) {
    redis_space *h = (redis_space *)h_;
    if (!fresh) {
        if (!h->loading) return 0;
        return add_waiter(h, slot, fn, ud, 0) ? STORAGE_LATER : WEFT_ENOMEM;
    }
    /* As fresh as Redis: the head it has now, then the ingest up to it. */
    sync_req *q = malloc(sizeof *q);
    wait_ent *e = q ? add_waiter(h, slot, fn, ud, TARGET_UNKNOWN) : NULL;
    if (!e) {
        free(q);
        return WEFT_ENOMEM;
    }
    *q = (sync_req){h, e->id};
    fetch_snaps(h);
    if (h->be->stopping || redis_store_head(h->be->r->redis, h->id, on_sync_head, q)) {
        free(q);
        e->target = 0; /* Redis unreachable: what is here will do */
        if (h->loading) return STORAGE_LATER;
        /* Loaded: that is now. Take the wait back. */
        h->n_waiters--;
        waiter_cancel(e->w);
        free(e->w);
        *slot = NULL;
        return 0;
    }
    h->refs++;
    return STORAGE_LATER;
}

/* ---- appends ---- */

static int queue(redis_space *h, const uint8_t *rec, size_t len, const uint8_t hash[32],
                 uint64_t origin, uint32_t *slot) {
    redis_backend *be = h->be;
    /* The fork key, from the record the space has checked already. */
    weft_change c;
    if (weft_change_decode(&c, rec, len) || c.total_len != len) return WEFT_EMALFORMED;
    /* The space holds a change of this author that Redis refused as a
     * fork: nothing of the author may chain on it until the space is
     * loaded again from Redis (drop_forked). Other authors go on. */
    for (size_t i = 0; i < h->n_fork_authors; i++)
        if (memcmp(h->fork_authors[i], c.author, 32) == 0) return WEFT_EUNAVAILABLE;
    redis_batch *b = h->open;
    if (!b) {
        b = calloc(1, sizeof *b);
        if (!b) return WEFT_ENOMEM;
        b->base.refs = 1; /* the backend's: dropped once read back */
        b->base.durable_at = &h->n;
        b->h = h;
        h->open = b;
        h->batch_next = be->batching;
        be->batching = h;
        h->in_batching = 1;
    }
    if (b->base.n == b->xcap && batch_grow(b)) return WEFT_ENOMEM;
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) return WEFT_ENOMEM;
    size_t k = b->base.n;
    uint32_t s;
    if (storage_batch_add(&b->base, 0, 0, &s)) {
        free(copy);
        return WEFT_ENOMEM;
    }
    memcpy(copy, rec, len);
    memcpy(b->keys[k], hash, 32);
    memcpy(b->forks[k], c.author, 32);
    for (int i = 0; i < 8; i++)
        b->forks[k][32 + i] = (uint8_t)(c.seq >> (56 - 8 * i));
    b->recs[k] = copy;
    b->lens[k] = len;
    b->origin[k] = origin;
    *slot = s;
    h->inflight++;
    be->r->m.redis_inflight++;
    return 0;
}

static int r_append(storage_space *h, const uint8_t *rec, size_t len, const uint8_t hash[32],
                    uint64_t origin, uint32_t *slot) {
    return queue((redis_space *)h, rec, len, hash, origin, slot);
}

static int r_append_dup(storage_space *h_, const uint8_t *rec, size_t len, const uint8_t hash[32],
                        uint64_t origin, uint32_t *slot) {
    redis_space *h = (redis_space *)h_;
    /* Held locally, but maybe not confirmed by Redis yet: let Redis answer
     * (it dedupes by hash). */
    if (!h->open && !h->fly_head) return 0;
    int rc = queue(h, rec, len, hash, origin, slot);
    return rc ? rc : 1;
}

static storage_batch *r_batch(storage_space *h_) {
    redis_space *h = (redis_space *)h_;
    if (!h->open) return NULL;
    h->open->base.refs++;
    return &h->open->base;
}

static int r_throttled(const storage_space *h_) {
    const redis_space *h = (const redis_space *)h_;
    return h->inflight >= h->be->r->cfg.redis_max_inflight;
}

/* Redis did not confirm b: nothing in it may be acked, and the space may
 * hold changes Redis lacks, so it is lost. */
static void batch_failed(redis_batch *b, redis_space *h, int rc) {
    relay *r = h->be->r;
    b->base.state = -1;
    b->base.durable_at = NULL;
    r->m.redis_append_failures++;
    relay_log("space=%s redis append of %zu records not confirmed: %s", h->hex, b->base.n,
              weft_err_name(rc));
    batch_drop(b);
    if (!h->be->stopping)
        h->ev->lost(h->ud, WEFT_PROTO_ESTORAGE, "redis did not confirm an append");
}

/* Notes where this relay's own records landed, so the ingest knows them. */
static void note_origins(redis_space *h, const redis_batch *b, const uint64_t *rseq,
                         const uint8_t *dup, size_t n) {
    relay *r = h->be->r;
    for (size_t i = 0; i < n; i++) {
        if (dup[i] == REDIS_APPEND_FORK) {
            r->m.redis_forks_refused++;
            relay_reject(r, WEFT_PROTO_ECHAIN);
            relay_log("space=%s a change was refused as a fork of one another relay stored",
                      h->hex);
            if (!h->forked) h->be->n_forked++;
            h->forked = 1;
            uint8_t(*fa)[32] = realloc(h->fork_authors, (h->n_fork_authors + 1) * 32);
            if (fa) { /* without it, only the drop keeps the author out */
                h->fork_authors = fa;
                memcpy(fa[h->n_fork_authors++], b->forks[i], 32);
            }
            continue;
        }
        if (dup[i]) {
            r->m.changes_dup++;
            continue;
        }
        r->m.changes_stored++;
        if (!b->origin[i]) continue;
        if (h->o_tail == h->o_cap && h->o_head > 0) { /* compact */
            memmove(h->orig, h->orig + h->o_head, (h->o_tail - h->o_head) * sizeof *h->orig);
            h->o_tail -= h->o_head;
            h->o_head = 0;
        }
        if (h->o_tail == h->o_cap) {
            size_t cap = h->o_cap ? h->o_cap * 2 : 64;
            origin_ent *p = realloc(h->orig, cap * sizeof *p);
            if (!p) continue; /* only costs an echo of the change to its sender */
            h->orig = p;
            h->o_cap = cap;
        }
        h->orig[h->o_tail++] = (origin_ent){rseq[i], b->origin[i]};
    }
}

static void on_append(void *ud, int rc, const uint64_t *rseq, const uint8_t *dup, size_t n) {
    redis_batch *b = ud;
    redis_space *h = b->h;
    relay *r = h->be->r;
    r->m.redis_inflight -= b->base.n;
    if (h->closed) { /* the space went while the append was in flight */
        b->base.state = -1;
        b->base.durable_at = NULL;
        batch_drop(b);
        h_release(h);
        return;
    }
    h->inflight -= b->base.n;
    h->fly_head = b->next; /* one connection: answers come in order */
    if (!h->fly_head) h->fly_tail = NULL;
    b->next = NULL;
    if (!rc && n != b->base.n) rc = WEFT_EMALFORMED;
    if (rc) {
        batch_failed(b, h, rc);
        h_release(h);
        return;
    }
    memcpy(b->base.rseq, rseq, n * sizeof *rseq);
    memcpy(b->base.dup, dup, n);
    b->base.max_rseq = 0;
    for (size_t i = 0; i < n; i++)
        if (rseq[i] > b->base.max_rseq) b->base.max_rseq = rseq[i];
    note_origins(h, b, rseq, dup, n);
    free(b->origin);
    b->origin = NULL;
    b->base.state = 2;
    if (b->base.max_rseq > h->known_head) h->known_head = b->base.max_rseq;
    /* Done once read back (release_done); kept until then. */
    if (h->done_tail)
        h->done_tail->next = b;
    else
        h->done_head = b;
    h->done_tail = b;
    release_done(h);
    if (b->base.max_rseq > h->n) kick(h);
    if (h->inflight < r->cfg.redis_max_inflight) h->ev->unthrottle(h->ud);
    h_release(h);
}

/* Drops the spaces whose log holds a change Redis refused as a fork, once
 * the rejection went out (a turn ended since the answer) and what else
 * they wait for from Redis is in (or, with force, after a second of
 * waiting). Until then they take no appends of the forked authors
 * (queue). */
static void drop_forked(redis_backend *be, int tick) {
    if (!be->n_forked) return;
    redis_space *list[16];
    size_t n = 0;
    for (size_t i = 0; i < be->tab_cap && n < sizeof list / sizeof *list; i++) {
        redis_space *h = be->tab[i];
        if (!h || !h->forked) continue;
        if (h->forked == 1) {
            if (!tick) h->forked = 2;
            continue;
        }
        if (tick) h->forked_ticks++;
        /* Pending appends first, then one more turn for their ACKs. */
        if ((h->fly_head || h->done_head || h->open) && h->forked_ticks < 10) continue;
        if (h->forked == 2 && h->forked_ticks < 10) {
            if (!tick) h->forked = 3;
            continue;
        }
        list[n++] = h;
    }
    for (size_t i = 0; i < n; i++) {
        be->n_forked--;
        list[i]->forked = 0;
        list[i]->ev->lost(list[i]->ud, WEFT_PROTO_ESTORAGE,
                          "a change was refused as a fork: loading the space again");
    }
}

static void r_end_turn(storage *st) {
    redis_backend *be = (redis_backend *)st;
    relay *r = be->r;
    drop_forked(be, 0);
    while (be->batching) {
        redis_space *h = be->batching;
        be->batching = h->batch_next;
        h->in_batching = 0;
        redis_batch *b = h->open;
        h->open = NULL;
        b->base.state = 1;
        int rc = be->stopping ? WEFT_EUNAVAILABLE
                              : redis_store_append(r->redis, h->id, (const uint8_t(*)[32])b->keys,
                                                   (const uint8_t(*)[REDIS_FORK_KEY])b->forks,
                                                   (const uint8_t *const *)b->recs, b->lens,
                                                   b->base.n, on_append, b);
        /* hiredis copied the records into its buffer. */
        for (size_t i = 0; i < b->base.n; i++) {
            free(b->recs[i]);
            b->recs[i] = NULL;
        }
        if (rc) { /* Redis is not connected: as if it had answered an error */
            h->inflight -= b->base.n;
            r->m.redis_inflight -= b->base.n;
            batch_failed(b, h, rc);
            continue;
        }
        h->refs++; /* until on_append */
        if (h->fly_tail)
            h->fly_tail->next = b;
        else
            h->fly_head = b;
        h->fly_tail = b;
    }
}

/* ---- reads, deletes, closing ---- */

static int r_read(storage_space *h_, uint64_t after, size_t max_bytes, relay_record_fn fn,
                  void *ud) {
    redis_space *h = (redis_space *)h_;
    return h->be->mirrors->ops->read(h->mirror, after, max_bytes, fn, ud);
}

static int r_absent(const storage_space *h_) {
    const redis_space *h = (const redis_space *)h_;
    /* Redis keeps no key for a space nobody wrote to. */
    return !h->loading && h->n == 0;
}

/* Detaches everything in flight and closes: batches fail, waiters get
 * fn(ud, 1), the mirror goes (the next load fills a fresh one). */
static void r_close(storage_space *h_) {
    redis_space *h = (redis_space *)h_;
    if (!h) return;
    redis_backend *be = h->be;
    relay *r = be->r;
    if (h->in_batching) {
        redis_space **pp = &be->batching;
        while (*pp != h)
            pp = &(*pp)->batch_next;
        *pp = h->batch_next;
        h->in_batching = 0;
    }
    if (h->open) {
        r->m.redis_inflight -= h->open->base.n;
        h->open->base.state = -1;
        h->open->base.durable_at = NULL;
        batch_drop(h->open);
        h->open = NULL;
    }
    for (redis_batch *b = h->fly_head; b; b = b->next)
        b->base.durable_at = NULL; /* on_append drops them */
    while (h->done_head) {
        redis_batch *b = h->done_head;
        h->done_head = b->next;
        b->base.durable_at = NULL;
        batch_drop(b);
    }
    h->done_tail = NULL;
    if (h->forked) be->n_forked--;
    h->forked = 0;
    h->closed = 1;
    tab_remove(be, h);
    wait_ent *w = h->waiters;
    size_t n = h->n_waiters;
    h->waiters = NULL;
    h->n_waiters = 0;
    for (size_t i = 0; i < n; i++)
        waiter_answer(w[i].w, 1);
    free(w);
    if (r->redis) redis_store_unsubscribe(r->redis, h->id);
    be->mirrors->ops->delete_space(h->mirror);
    h->mirror = NULL;
    free(h->orig);
    h->orig = NULL;
    free(h->fork_authors);
    h->fork_authors = NULL;
    h->n_fork_authors = 0;
    h_release(h);
}

static void on_deleted(void *ud, int rc, uint64_t head) {
    waiter *w = ud;
    (void)head;
    if (rc) relay_log("redis: a space delete was not confirmed: %s", weft_err_name(rc));
    waiter_answer(w, rc != 0);
}

static int r_remove(storage_space *h_, waiter **slot, relay_answer_fn fn, void *ud) {
    redis_space *h = (redis_space *)h_;
    redis_backend *be = h->be;
    waiter *w = malloc(sizeof *w);
    int rc = !w             ? WEFT_ENOMEM
             : be->stopping ? WEFT_EUNAVAILABLE
                            : redis_store_delete(be->r->redis, h->id, on_deleted, w);
    if (rc)
        free(w);
    else
        waiter_init(w, slot, fn, ud);
    r_close(h_);
    return rc ? rc : STORAGE_LATER;
}

/* ---- opening ---- */

static int r_open(storage *st, const uint8_t id[32], int create, const storage_events *ev, void *ud,
                  storage_space **out) {
    redis_backend *be = (redis_backend *)st;
    (void)create; /* whether Redis holds it is known once loaded (absent) */
    redis_space *h = calloc(1, sizeof *h);
    if (!h) return WEFT_ENOMEM;
    h->base.st = st;
    h->be = be;
    memcpy(h->id, id, 32);
    weft__hex_encode(h->hex, sizeof h->hex, id, 32);
    h->ev = ev;
    h->ud = ud;
    h->refs = 1;
    h->loading = 1;
    int rc = be->mirrors->ops->open_space(be->mirrors, id, 1, &h->mirror, NULL, NULL);
    if (!rc) rc = tab_insert(be, h);
    if (rc) {
        if (h->mirror) be->mirrors->ops->delete_space(h->mirror);
        free(h);
        return rc;
    }
    rc = be->r->redis ? redis_store_subscribe(be->r->redis, id) : WEFT_EUNAVAILABLE;
    if (rc) {
        tab_remove(be, h);
        be->mirrors->ops->delete_space(h->mirror);
        free(h);
        return rc;
    }
    /* The checkpoint before the first read (kick waits for it). */
    if (redis_store_trim_get(be->r->redis, h->id, on_trim_loaded, h) == 0) {
        h->trim_loading = 1;
        h->refs++;
    }
    request_head(h);
    fetch_snaps(h);
    *out = &h->base;
    return 0;
}

/* ---- the backend ---- */

static int r_busy(const storage *st) {
    const redis_backend *be = (const redis_backend *)st;
    return be->batching || be->r->m.redis_inflight > 0;
}

static int r_ready(const storage *st) {
    const redis_backend *be = (const redis_backend *)st;
    return be->r->redis && redis_store_connected(be->r->redis);
}

static void r_tick(storage *st) {
    redis_backend *be = (redis_backend *)st;
    drop_forked(be, 1);
    if (!be->r->redis || !redis_store_connected(be->r->redis)) return;
    for (size_t i = 0; i < be->tab_cap; i++) {
        redis_space *h = be->tab[i];
        if (!h || !h->retry) continue;
        h->retry = 0;
        if (!h->head_known) request_head(h);
        kick(h);
    }
}

static void r_shutdown(storage *st) {
    redis_backend *be = (redis_backend *)st;
    redis_store *link = be->r->redis;
    be->stopping = 1;
    be->r->redis = NULL; /* the pub/sub and rate limits see it gone */
    redis_store_free(link);
}

static void r_free(storage *st) {
    redis_backend *be = (redis_backend *)st;
    if (!be) return;
    be->mirrors->ops->close(be->mirrors);
    free(be->tab);
    free(be);
}

static const storage_ops redis_ops = {
    .name = "redis",
    .open = r_open,
    .absent = r_absent,
    .wait = r_wait,
    .append = r_append,
    .append_dup = r_append_dup,
    .batch = r_batch,
    .throttled = r_throttled,
    .read = r_read,
    .remove = r_remove,
    .close = r_close,
    .snapshot_put = r_snapshot_put,
    .snapshot_read = r_snapshot_read,
    .trim_point = r_trim_point,
    .trim = r_trim,
    .end_turn = r_end_turn,
    .busy = r_busy,
    .ready = r_ready,
    .tick = r_tick,
    .shutdown = r_shutdown,
    .free = r_free,
};

int storage_redis_new(storage **out, relay *r) {
    redis_backend *be = calloc(1, sizeof *be);
    if (!be) return WEFT_ENOMEM;
    int rc = relay_store_memory_new(&be->mirrors);
    if (rc) {
        free(be);
        return rc;
    }
    be->base.ops = &redis_ops;
    be->r = r;
    *out = &be->base;
    return 0;
}

int ingest_start(relay *r, redis_eph_fn on_eph) {
    if (r->be.random(r->be.ctx, r->instance, sizeof r->instance)) return WEFT_ECRYPTO;
    redis_store_config cfg = {.ctx = r->ctx,
                              .url = r->cfg.redis_url,
                              .on_new = on_new,
                              .on_eph = on_eph,
                              .ud = r,
                              .wait_replicas = (int)r->cfg.redis_wait_replicas,
                              .wait_ms = (int)r->cfg.redis_wait_ms};
    return redis_store_new(&r->redis, &cfg);
}

uint64_t ingest_reconnects(const relay *r) {
    return r->redis ? redis_store_reconnects(r->redis) : 0;
}

const redis_store_stats *ingest_stats(const relay *r) {
    return r->redis ? redis_store_stats_of(r->redis) : NULL;
}
