/*
 * Local storage (storage.h) over a log driver: the file driver by default,
 * memory for tests. open replays the driver's records through record()
 * before it returns, and append writes at once (so the driver's relay
 * sequence is known and record() runs inside). end_turn is the group
 * commit: for each space written this turn it starts one sync (the
 * driver's sync_begin, on the loop) and hands the fdatasync (sync_run) to
 * a pool of writer threads; when one is done, the writer queues the space
 * and wakes the loop (lws_cancel_service), and the next end_turn finishes
 * the sync on the loop (sync_end), says durable() and answers the batches
 * it covers, so their ACKs go out at the end of that turn. A slow disk
 * thus stalls only the spaces whose sync it holds up; every other space,
 * and every connection, is served meanwhile. A driver with nothing to
 * sync (memory) completes inline, in the same end_turn.
 *
 * Ordering: a space has at most one sync in flight; what is appended
 * meanwhile waits for the next one, so a space's batches are answered in
 * order. A batch is answered when the space's durable head reaches its
 * last record (a duplicate's entry counts the head at the time: its
 * original is at or before it). Reads go to the driver, which serves
 * records appended and not yet synced (the page cache, or its own buffer).
 *
 * A failed sync is fatal for its space (fsyncgate: after a failed
 * fdatasync, Linux may have dropped what it could not write and the next
 * fdatasync succeeds without it). Its batches fail (nothing in them is
 * ever acked), and the space is given up at once (lost(): its sessions get
 * STORAGE); the next client opens it again, and the driver's open scans
 * what the disk holds (CRCs, sync marks) after dropping the unsynced tail.
 * Clients resend what was not acked. An append the driver refuses does the
 * same at the end of the turn. Other spaces are not touched.
 *
 * Threads: the writers touch only the jobs (a file descriptor, numbers) and
 * the two queues, under one mutex; everything else is the loop's. Closing
 * a space with a sync in flight waits for that sync (rare: a drop, a
 * delete, the end); shutdown lets the writers finish every queued sync and
 * joins them, then answers what they finished.
 *
 * Invariants: a handle is on the turn list exactly while it has appends
 * no sync started for (or a batch, or it is broken); durable <= head.
 */
#include "storage.h"
#include "relay.h"

#include <libwebsockets.h>
#include <pthread.h>
#include <stdlib.h>

#define WRITERS 4 /* syncs of different spaces that may run at once */

/* Where a space's sync is. */
enum { JOB_NONE, JOB_QUEUED, JOB_RUNNING, JOB_DONE };

typedef struct local_space {
    storage_space base;
    struct local_store *st;
    relay_space_store *drv;
    const storage_events *ev;
    void *ud;
    uint64_t head, durable;
    storage_batch *open;     /* this turn's batch */
    storage_batch **waiting; /* submitted batches not answered, oldest first */
    size_t n_waiting, cap_waiting;
    struct local_space *turn_prev, *turn_next;
    int in_turn;
    int broken; /* the driver refused an append: given up at the end of the turn */
    /* The sync in flight: job_state under the store's mutex; syncing is
     * the loop's own view (set when queued, cleared when finished). */
    relay_sync_job job;
    int job_state, syncing;
    uint64_t job_us;              /* how long sync_run took */
    struct local_space *job_next; /* the run or done queue */
} local_space;

typedef struct local_store {
    storage base;
    relay *r;
    relay_store *drv;
    local_space *turn; /* written since the last sync started */
    size_t in_flight;  /* syncs started and not finished (loop's count) */
    pthread_mutex_t mu;
    pthread_cond_t work, done_cv;
    local_space *run_head, *run_tail, *done_head, *done_tail;
    pthread_t threads[WRITERS];
    int n_threads, stop;
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

/* ---- the writer threads ---- */

static void *writer_main(void *arg) {
    local_store *st = arg;
    pthread_mutex_lock(&st->mu);
    for (;;) {
        while (!st->run_head && !st->stop)
            pthread_cond_wait(&st->work, &st->mu);
        local_space *h = st->run_head;
        if (!h) break; /* stopping, and every queued sync is done */
        st->run_head = h->job_next;
        if (!st->run_head) st->run_tail = NULL;
        h->job_state = JOB_RUNNING;
        pthread_mutex_unlock(&st->mu);
        uint64_t t0 = relay_now_us();
        st->drv->ops->sync_run(&h->job);
        uint64_t us = relay_now_us() - t0;
        pthread_mutex_lock(&st->mu);
        h->job_us = us;
        h->job_state = JOB_DONE;
        h->job_next = NULL;
        if (st->done_tail)
            st->done_tail->job_next = h;
        else
            st->done_head = h;
        st->done_tail = h;
        pthread_cond_broadcast(&st->done_cv);
        /* The loop finishes it at its next end_turn: wake it now. */
        if (st->r->ctx && !st->stop) lws_cancel_service(st->r->ctx);
    }
    pthread_mutex_unlock(&st->mu);
    return NULL;
}

/* Queues h's started sync for a writer (starting the writers the first
 * time). Returns 0, or a WEFT_E code when no writer can run it. */
static int job_queue(local_space *h) {
    local_store *st = h->st;
    pthread_mutex_lock(&st->mu);
    int rc = 0;
    if (!st->n_threads) {
        for (int i = 0; i < WRITERS; i++) {
            if (pthread_create(&st->threads[i], NULL, writer_main, st)) break;
            st->n_threads++;
        }
        if (!st->n_threads) rc = WEFT_ENOMEM;
    }
    if (!rc) {
        h->job_state = JOB_QUEUED;
        h->syncing = 1;
        h->job_next = NULL;
        if (st->run_tail)
            st->run_tail->job_next = h;
        else
            st->run_head = h;
        st->run_tail = h;
        st->in_flight++;
        pthread_cond_signal(&st->work);
    }
    pthread_mutex_unlock(&st->mu);
    return rc;
}

/* Takes h's finished sync off the done queue (waiting for it to finish
 * first). For closing: the writer must be done with its descriptor. */
static void job_wait(local_space *h) {
    local_store *st = h->st;
    pthread_mutex_lock(&st->mu);
    while (h->job_state != JOB_DONE)
        pthread_cond_wait(&st->done_cv, &st->mu);
    local_space **pp = &st->done_head, *prev = NULL;
    while (*pp != h) {
        prev = *pp;
        pp = &(*pp)->job_next;
    }
    *pp = h->job_next;
    if (st->done_tail == h) st->done_tail = prev;
    h->job_state = JOB_NONE;
    h->syncing = 0;
    st->in_flight--;
    pthread_mutex_unlock(&st->mu);
}

/* ---- batches ---- */

/* The open batch fails and is let go (its space is going). */
static void batch_detach(local_space *h) {
    if (!h->open) return;
    h->open->state = -1;
    h->open->durable_at = NULL;
    storage_batch_unref(h->open);
    h->open = NULL;
}

/* Every batch of h fails (nothing in them may be acked). */
static void batches_fail(local_space *h) {
    batch_detach(h);
    for (size_t i = 0; i < h->n_waiting; i++) {
        h->waiting[i]->state = -1;
        h->waiting[i]->durable_at = NULL;
        storage_batch_unref(h->waiting[i]);
    }
    h->n_waiting = 0;
}

/* The turn's batch is submitted: answered once durable covers it. */
static int batch_submit(local_space *h) {
    storage_batch *b = h->open;
    if (!b) return 0;
    if (h->n_waiting == h->cap_waiting) {
        size_t cap = h->cap_waiting ? h->cap_waiting * 2 : 4;
        storage_batch **p = realloc(h->waiting, cap * sizeof *p);
        if (!p) return WEFT_ENOMEM;
        h->waiting = p;
        h->cap_waiting = cap;
    }
    b->state = 2;
    h->waiting[h->n_waiting++] = b;
    h->open = NULL;
    return 0;
}

/* durable moved to rseq: the batches it covers are answered. */
static void set_durable(local_space *h, uint64_t rseq) {
    if (rseq > h->durable) h->durable = rseq;
    size_t k = 0;
    while (k < h->n_waiting && h->waiting[k]->max_rseq <= h->durable)
        storage_batch_unref(h->waiting[k++]);
    for (size_t i = k; i < h->n_waiting; i++)
        h->waiting[i - k] = h->waiting[i];
    h->n_waiting -= k;
    h->ev->durable(h->ud, h->durable);
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
    int rc = 0;
    if (st->drv->ops->trim_read) {
        uint64_t trimmed = 0;
        uint8_t *ckpt = NULL;
        size_t len = 0;
        rc = st->drv->ops->trim_read(st->drv, id, &trimmed, &ckpt, &len);
        if (!rc && ckpt) {
            rc = ev->trimmed ? ev->trimmed(ud, trimmed, ckpt, len) : WEFT_EUNAVAILABLE;
            h->head = trimmed;
        }
        free(ckpt);
    }
    if (!rc) rc = st->drv->ops->open_space(st->drv, id, create, &h->drv, replay_one, h);
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

/* This turn's batch; its handle is on the turn list, so end_turn submits
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
         * a failed write): its batches fail at the end of the turn, and
         * the space goes, to be opened again from what the disk holds. The
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
    /* The original is at or before the head: when that is not durable yet
     * (this turn's appends, or a sync in flight), the answer waits for it. */
    if (h->durable >= h->head && !h->open) return 0;
    storage_batch *b = open_batch(h);
    if (!b) return WEFT_ENOMEM;
    int rc = storage_batch_add(b, h->head, STORAGE_DUP, slot);
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
    (void)h; /* a space's appends wait for at most two syncs */
    return 0;
}

static int l_read(storage_space *h_, uint64_t after, size_t max_bytes, relay_record_fn fn,
                  void *ud) {
    local_space *h = (local_space *)h_;
    return h->st->drv->ops->read(h->drv, after, max_bytes, fn, ud);
}

/* A snapshot is written and synced on the loop, at once: uploads are rare
 * and bounded (--max-snapshot), and it shares no file with the log. */
static int l_snapshot_put(storage_space *h_, uint64_t base, const uint8_t *rec, size_t len,
                          waiter **slot, relay_answer_fn fn, void *ud) {
    local_space *h = (local_space *)h_;
    (void)slot, (void)fn, (void)ud;
    return h->st->drv->ops->snapshot_put(h->drv, base, rec, len);
}

static int l_snapshot_read(storage_space *h_, relay_record_fn fn, void *ud, size_t *damaged) {
    local_space *h = (local_space *)h_;
    return h->st->drv->ops->snapshot_read(h->drv, fn, ud, damaged);
}

static uint64_t l_trim_point(storage_space *h_, uint64_t limit) {
    local_space *h = (local_space *)h_;
    if (limit > h->durable) limit = h->durable;
    return h->st->drv->ops->trim_point ? h->st->drv->ops->trim_point(h->drv, limit) : 0;
}

/* Trimming writes one small checkpoint and deletes whole files, on the
 * loop: it runs after a snapshot is stored and on the history timer, never
 * on the path of a change. */
static int l_trim(storage_space *h_, uint64_t upto, const uint8_t *ckpt, size_t len,
                  uint64_t *bytes) {
    local_space *h = (local_space *)h_;
    if (!h->st->drv->ops->trim || upto > h->durable) return WEFT_EINVAL;
    return h->st->drv->ops->trim(h->drv, upto, ckpt, len, bytes);
}

/* Lets go of h: its sync in flight is waited for and finished (the writer
 * must be done with the descriptor, and the driver with the sync), its
 * batches fail. */
static void space_release(local_space *h) {
    if (h->syncing) {
        job_wait(h);
        if (!h->st->drv->ops->sync_end(h->drv, &h->job)) h->durable = h->job.upto;
    }
    batches_fail(h);
    turn_remove(h);
    free(h->waiting);
}

static int l_remove(storage_space *h_, waiter **slot, relay_answer_fn fn, void *ud) {
    local_space *h = (local_space *)h_;
    (void)slot, (void)fn, (void)ud;
    space_release(h);
    int rc = h->st->drv->ops->delete_space(h->drv);
    free(h);
    return rc;
}

static void l_close(storage_space *h_) {
    local_space *h = (local_space *)h_;
    if (!h) return;
    space_release(h);
    h->st->drv->ops->close_space(h->drv);
    free(h);
}

/* The space's storage failed: its batches fail and the space goes (lost()
 * closes h: nothing of it may be touched after). */
static void give_up(local_space *h, int rc) {
    relay *r = h->st->r;
    r->m.storage_sync_failures++;
    relay_log("storage sync failed: %s; the space is reopened from the disk", weft_err_name(rc));
    batches_fail(h);
    h->ev->lost(h->ud, WEFT_PROTO_ESTORAGE, "storage sync failed");
}

/* Finishes h's sync (taken off the done queue) on the loop. */
static void finish(local_space *h) {
    relay_metrics_fsync(h->st->r, (double)h->job_us / 1e6);
    int rc = h->st->drv->ops->sync_end(h->drv, &h->job);
    if (rc) {
        give_up(h, rc);
        return;
    }
    set_durable(h, h->job.upto);
}

/* Finishes every sync the writers are done with. */
static void finish_done(local_store *st) {
    pthread_mutex_lock(&st->mu);
    local_space *list = st->done_head;
    st->done_head = st->done_tail = NULL;
    for (local_space *h = list; h; h = h->job_next) {
        h->job_state = JOB_NONE;
        h->syncing = 0;
        st->in_flight--;
    }
    pthread_mutex_unlock(&st->mu);
    while (list) {
        local_space *h = list;
        list = h->job_next;
        finish(h); /* may close h */
    }
}

/* Starts the sync of what h appended (its turn's batch waits for it):
 * inline when the driver has nothing to sync, else on a writer. */
static void start_sync(local_space *h) {
    const relay_store_ops *ops = h->st->drv->ops;
    int rc = h->broken ? WEFT_EUNAVAILABLE : batch_submit(h);
    if (!rc) rc = ops->sync_begin(h->drv, &h->job);
    if (rc < 0) {
        give_up(h, rc);
        return;
    }
    if (rc == 1) {
        set_durable(h, h->head);
        return;
    }
    if (job_queue(h)) { /* no writer thread: on the loop, as before them */
        uint64_t t0 = relay_now_us();
        ops->sync_run(&h->job);
        h->job_us = relay_now_us() - t0;
        finish(h);
    }
}

static void l_end_turn(storage *st_) {
    local_store *st = (local_store *)st_;
    if (st->in_flight) finish_done(st);
    /* A space whose sync is still running keeps its appends (and submits
     * its batch) for the next one. */
    local_space *later = NULL;
    while (st->turn) {
        local_space *h = st->turn;
        turn_remove(h);
        if (h->syncing && !h->broken) {
            if (batch_submit(h)) {
                give_up(h, WEFT_ENOMEM);
                continue;
            }
            h->turn_next = later;
            later = h;
            continue;
        }
        start_sync(h); /* may close h */
    }
    while (later) {
        local_space *h = later;
        later = h->turn_next;
        turn_add(h);
    }
}

static int l_busy(const storage *st_) {
    const local_store *st = (const local_store *)st_;
    return st->in_flight > 0 || st->turn != NULL;
}

static int l_ready(const storage *st) {
    (void)st;
    return 1;
}

static void l_tick(storage *st) {
    (void)st;
}

/* Lets the writers finish every queued sync, joins them, and finishes
 * those syncs on this (the loop) thread. */
static void writers_stop(local_store *st) {
    pthread_mutex_lock(&st->mu);
    st->stop = 1;
    pthread_cond_broadcast(&st->work);
    pthread_mutex_unlock(&st->mu);
    for (int i = 0; i < st->n_threads; i++)
        pthread_join(st->threads[i], NULL);
    st->n_threads = 0;
    finish_done(st);
}

static void l_shutdown(storage *st) {
    writers_stop((local_store *)st);
}

static void l_free(storage *st_) {
    local_store *st = (local_store *)st_;
    if (!st) return;
    writers_stop(st);
    st->drv->ops->close(st->drv);
    pthread_mutex_destroy(&st->mu);
    pthread_cond_destroy(&st->work);
    pthread_cond_destroy(&st->done_cv);
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
    .snapshot_put = l_snapshot_put,
    .snapshot_read = l_snapshot_read,
    .trim_point = l_trim_point,
    .trim = l_trim,
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
    if (pthread_mutex_init(&st->mu, NULL)) {
        free(st);
        return WEFT_ENOMEM;
    }
    pthread_cond_init(&st->work, NULL);
    pthread_cond_init(&st->done_cv, NULL);
    *out = &st->base;
    return 0;
}
