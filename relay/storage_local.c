/*
 * Local storage (storage.h) over a log driver: the file driver by default,
 * memory for tests. Everything completes inline: open replays the driver's
 * records through record() before it returns, append writes at once (so
 * the driver's relay sequence is known and record() runs inside), and
 * end_turn runs the group commit: one sync (fdatasync) per space written
 * this turn, then answers every batch of the turn and says durable() for
 * its space, all before it returns.
 *
 * A failed sync is fatal for its space (fsyncgate: after a failed
 * fdatasync, Linux may have dropped what it could not write and the next
 * fdatasync succeeds without it). Its batch fails (nothing in it is ever
 * acked), and the space is given up at once (lost(): its sessions get
 * STORAGE); the next client opens it again, and the driver's open scans
 * what the disk holds (CRCs, sync marks) after dropping the unsynced tail.
 * Clients resend what was not acked. An append the driver refuses does the
 * same at the end of the turn. Other spaces of the turn are not touched.
 *
 * Invariants: a handle is on the turn list exactly while the driver holds
 * appends of it that no sync covered, or it is broken; durable <= head,
 * equal outside a turn after a good sync.
 */
#include "storage.h"
#include "relay.h"

#include <stdlib.h>

typedef struct local_space {
    storage_space base;
    struct local_store *st;
    relay_space_store *drv;
    const storage_events *ev;
    void *ud;
    uint64_t head, durable;
    storage_batch *open; /* this turn's batch */
    struct local_space *turn_prev, *turn_next;
    int in_turn;
    int broken; /* the driver refused an append: given up at the end of the turn */
} local_space;

typedef struct local_store {
    storage base;
    relay *r;
    relay_store *drv;
    local_space *turn; /* written since the last good flush */
} local_store;

static void turn_add(local_space *h) {
    local_store *st = h->st;
    if (h->in_turn) return;
    h->in_turn = 1;
    h->turn_prev = NULL;
    h->turn_next = st->turn;
    if (st->turn) st->turn->turn_prev = h;
    st->turn = h;
}

static void turn_remove(local_space *h) {
    if (!h->in_turn) return;
    if (h->turn_prev)
        h->turn_prev->turn_next = h->turn_next;
    else
        h->st->turn = h->turn_next;
    if (h->turn_next) h->turn_next->turn_prev = h->turn_prev;
    h->in_turn = 0;
}

/* The open batch fails and is let go (its space is going). */
static void batch_detach(local_space *h) {
    if (!h->open) return;
    h->open->state = -1;
    h->open->durable_at = NULL;
    storage_batch_unref(h->open);
    h->open = NULL;
}

static int replay_one(void *ud, uint64_t rseq, const uint8_t *rec, size_t len) {
    local_space *h = ud;
    h->head = rseq;
    return h->ev->record(h->ud, rseq, rec, len, 0);
}

static int l_open(storage *st_, const uint8_t id[32], int create, const storage_events *ev,
                  void *ud, storage_space **out) {
    local_store *st = (local_store *)st_;
    local_space *h = calloc(1, sizeof *h);
    if (!h) return WEFT_ENOMEM;
    h->base.st = st_;
    h->st = st;
    h->ev = ev;
    h->ud = ud;
    int rc = st->drv->ops->open_space(st->drv, id, create, &h->drv, replay_one, h);
    if (rc) {
        free(h);
        return rc;
    }
    h->durable = h->head;
    *out = &h->base;
    return 0;
}

static int l_absent(const storage_space *h) {
    (void)h; /* a space this backend opened has its log, empty or not */
    return 0;
}

static int l_wait(storage_space *h, int fresh, waiter **slot, relay_answer_fn fn, void *ud) {
    (void)h, (void)fresh, (void)slot, (void)fn, (void)ud;
    return 0; /* loaded by open, and nobody else writes to it */
}

/* This turn's batch; its handle is on the turn list, so end_turn answers
 * it whatever happens to the appends. */
static storage_batch *open_batch(local_space *h) {
    if (!h->open) h->open = storage_batch_new(&h->durable);
    if (h->open) turn_add(h);
    return h->open;
}

static int l_append(storage_space *h_, const uint8_t *rec, size_t len, const uint8_t hash[32],
                    uint64_t origin, uint32_t *slot) {
    local_space *h = (local_space *)h_;
    (void)hash; /* the space's log dedupes; the driver needs no key */
    storage_batch *b = open_batch(h);
    if (!b) return WEFT_ENOMEM;
    const uint8_t *recs[1] = {rec};
    size_t lens[1] = {len};
    uint64_t rseq;
    int rc = h->st->drv->ops->append(h->drv, recs, lens, 1, &rseq);
    if (rc) {
        /* Nothing of this space is trusted any more (a failed seal sync,
         * a failed write): its batch fails at the end of the turn, and the
         * space goes, to be opened again from what the disk holds. The
         * space cannot be let go here: it is inside its own append. */
        h->broken = 1;
        turn_add(h);
        return rc;
    }
    h->head = rseq;
    turn_add(h);
    rc = h->ev->record(h->ud, rseq, rec, len, origin);
    if (!rc) rc = storage_batch_add(b, rseq, 0, slot);
    if (rc) return rc;
    h->st->r->m.changes_stored++;
    return 0;
}

static int l_append_dup(storage_space *h_, const uint8_t *rec, size_t len, const uint8_t hash[32],
                        uint64_t origin, uint32_t *slot) {
    local_space *h = (local_space *)h_;
    (void)rec, (void)len, (void)hash, (void)origin;
    /* The original may be one of this turn's appends: then the answer
     * waits for the same flush. */
    if (!h->open) return 0;
    int rc = storage_batch_add(h->open, 0, 1, slot);
    if (rc) return rc;
    h->st->r->m.changes_dup++;
    return 1;
}

static storage_batch *l_batch(storage_space *h_) {
    local_space *h = (local_space *)h_;
    if (h->open) h->open->refs++;
    return h->open;
}

static int l_throttled(const storage_space *h) {
    (void)h; /* appends are never in flight across turns */
    return 0;
}

static int l_read(storage_space *h_, uint64_t after, size_t max_bytes, relay_record_fn fn,
                  void *ud) {
    local_space *h = (local_space *)h_;
    return h->st->drv->ops->read(h->drv, after, max_bytes, fn, ud);
}

static int l_remove(storage_space *h_, waiter **slot, relay_answer_fn fn, void *ud) {
    local_space *h = (local_space *)h_;
    (void)slot, (void)fn, (void)ud;
    batch_detach(h);
    turn_remove(h);
    int rc = h->st->drv->ops->delete_space(h->drv);
    free(h);
    return rc;
}

static void l_close(storage_space *h_) {
    local_space *h = (local_space *)h_;
    if (!h) return;
    batch_detach(h);
    turn_remove(h);
    h->st->drv->ops->close_space(h->drv);
    free(h);
}

/* The space's storage failed: its batch fails and the space goes (lost()
 * closes h: nothing of it may be touched after). */
static void give_up(local_space *h, int rc) {
    relay *r = h->st->r;
    r->m.storage_sync_failures++;
    relay_log("storage sync failed: %s; the space is reopened from the disk", weft_err_name(rc));
    batch_detach(h);
    h->ev->lost(h->ud, WEFT_PROTO_ESTORAGE, "storage sync failed");
}

static void l_end_turn(storage *st_) {
    local_store *st = (local_store *)st_;
    const relay_store_ops *ops = st->drv->ops;
    while (st->turn) {
        local_space *h = st->turn;
        turn_remove(h);
        relay_sync_job job;
        int rc = h->broken ? WEFT_EUNAVAILABLE : ops->sync_begin(h->drv, &job);
        if (rc == 0) {
            uint64_t t0 = relay_now_us();
            ops->sync_run(&job);
            relay_metrics_fsync(st->r, (double)(relay_now_us() - t0) / 1e6);
            rc = ops->sync_end(h->drv, &job);
        }
        if (rc < 0) {
            give_up(h, rc);
            continue;
        }
        h->durable = h->head;
        if (h->open) {
            h->open->state = 2;
            storage_batch_unref(h->open);
            h->open = NULL;
        }
        h->ev->durable(h->ud, h->durable);
    }
}

static int l_busy(const storage *st) {
    (void)st;
    return 0;
}

static int l_ready(const storage *st) {
    (void)st;
    return 1;
}

static void l_tick(storage *st) {
    (void)st;
}

static void l_shutdown(storage *st) {
    (void)st;
}

static void l_free(storage *st_) {
    local_store *st = (local_store *)st_;
    if (!st) return;
    st->drv->ops->close(st->drv);
    free(st);
}

static const storage_ops local_ops = {
    .name = "local",
    .open = l_open,
    .absent = l_absent,
    .wait = l_wait,
    .append = l_append,
    .append_dup = l_append_dup,
    .batch = l_batch,
    .throttled = l_throttled,
    .read = l_read,
    .remove = l_remove,
    .close = l_close,
    .end_turn = l_end_turn,
    .busy = l_busy,
    .ready = l_ready,
    .tick = l_tick,
    .shutdown = l_shutdown,
    .free = l_free,
};

int storage_local_new(storage **out, relay *r, relay_store *driver) {
    local_store *st = calloc(1, sizeof *st);
    if (!st) return WEFT_ENOMEM;
    st->base.ops = &local_ops;
    st->r = r;
    st->drv = driver;
    *out = &st->base;
    return 0;
}
