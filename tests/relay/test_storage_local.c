/*
 * The storage interface (relay/storage.h) as local storage implements it,
 * over the memory log driver: records reach the space through record()
 * inline (replayed at open, and inside append), a batch is answered only
 * at end_turn, which also says durable(); a duplicate waits for the turn's
 * batch when there is one; a sync that fails fails the space's batch
 * (nothing in it may be acked) and gives the space up (lost()), never to
 * be retried into "durable"; closing a space fails its open batch. The interface's contract is that
 * no call that fails calls its callback, and local storage never answers later.
 */
#include "../../relay/relay.h"
#include "../../relay/storage.h"

#include "weft/error.h"
#include "weft/protocol.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures;
#define CHECK(cond)                                                         \
    do {                                                                    \
        if (!(cond)) {                                                      \
            printf("%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                     \
        }                                                                   \
    } while (0)

static const uint8_t SPACE[32] = {0x5a, 0x17};
static const uint8_t HASH[32];

/* What a space would see. */
typedef struct seen {
    uint64_t records, last_rseq, last_origin, durable;
    int durable_calls, lost, unthrottled;
    size_t bytes;
} seen;

static int ev_record(void *ud, uint64_t rseq, const uint8_t *rec, size_t len, uint64_t origin) {
    seen *s = ud;
    (void)rec;
    CHECK(rseq == s->last_rseq + 1);
    s->records++;
    s->last_rseq = rseq;
    s->last_origin = origin;
    s->bytes += len;
    return 0;
}

static void ev_durable(void *ud, uint64_t rseq) {
    seen *s = ud;
    s->durable = rseq;
    s->durable_calls++;
}

static void ev_lost(void *ud, uint32_t code, const char *why) {
    (void)code, (void)why;
    ((seen *)ud)->lost++;
}

static void ev_unthrottle(void *ud) {
    ((seen *)ud)->unthrottled++;
}

static const storage_events EV = {ev_record, ev_durable, ev_lost, ev_unthrottle, NULL};

/* A driver whose syncs fail while fail_flush is set: the memory driver
 * otherwise (whose records need no sync). */
static relay_store_ops failing_ops;
static const relay_store_ops *mem_ops;
static int fail_flush;

static int failing_begin(relay_space_store *s, relay_sync_job *job) {
    if (!fail_flush) return mem_ops->sync_begin(s, job);
    *job = (relay_sync_job){.s = s};
    return 0;
}

static void failing_run(relay_sync_job *job) {
    job->rc = WEFT_EUNAVAILABLE;
}

static relay r; /* the relay the backend reports metrics to */

static storage *local_over_memory(int failing) {
    relay_store *drv;
    CHECK(relay_store_memory_new(&drv) == 0);
    if (failing) {
        mem_ops = drv->ops;
        failing_ops = *drv->ops;
        failing_ops.sync_begin = failing_begin;
        failing_ops.sync_run = failing_run;
        drv->ops = &failing_ops;
    }
    storage *st;
    CHECK(storage_local_new(&st, &r, drv) == 0);
    return st;
}

static void never_called(void *ud, int result) {
    (void)ud, (void)result;
    CHECK(!"local storage answered later");
}

static int count_rec(void *ud, uint64_t rseq, const uint8_t *rec, size_t len) {
    (void)rseq, (void)rec;
    CHECK(len == 20);
    ++*(size_t *)ud;
    return 0;
}

static void basics(void) {
    storage *st = local_over_memory(0);
    const storage_ops *ops = st->ops;
    seen a = {0};
    storage_space *h;
    CHECK(ops->open(st, SPACE, 0, &EV, &a, &h) == WEFT_ENOTFOUND);
    CHECK(ops->open(st, SPACE, 1, &EV, &a, &h) == 0);
    CHECK(a.records == 0 && !ops->absent(h));
    waiter *w = NULL;
    CHECK(ops->wait(h, 1, &w, never_called, NULL) == 0 && w == NULL);
    CHECK(ops->batch(h) == NULL);

    /* Appended records reach the space at once; the batch waits for the
     * end of the turn. */
    uint8_t rec[40];
    memset(rec, 7, sizeof rec);
    uint32_t k0, k1, k2;
    CHECK(ops->append_dup(h, rec, 10, HASH, 9, &k0) == 0); /* nothing in flight */
    CHECK(ops->append(h, rec, 10, HASH, 9, &k0) == 0);
    CHECK(a.records == 1 && a.last_rseq == 1 && a.last_origin == 9 && a.durable == 0);
    CHECK(ops->append(h, rec, 20, HASH, 0, &k1) == 0);
    CHECK(ops->append_dup(h, rec, 10, HASH, 9, &k2) == 1); /* waits for the same flush */
    CHECK(k0 == 0 && k1 == 1 && k2 == 2);
    storage_batch *b = ops->batch(h);
    CHECK(b != NULL && storage_batch_state(b) == 0);
    CHECK(ops->throttled(h) == 0);
    ops->end_turn(st);
    CHECK(a.durable == 2 && a.durable_calls == 1);
    CHECK(storage_batch_state(b) == 1);
    ack_entry e[3] = {{ACK_PENDING, 0}, {ACK_PENDING, 1}, {ACK_PENDING, 2}};
    storage_batch_resolve(b, e, 3);
    CHECK(e[0].status == WEFT_ACK_STORED && e[0].value == 1);
    CHECK(e[1].status == WEFT_ACK_STORED && e[1].value == 2);
    CHECK(e[2].status == WEFT_ACK_DUPLICATE);
    storage_batch_unref(b);
    ops->end_turn(st); /* nothing appended: nothing said */
    CHECK(a.durable_calls == 1 && ops->batch(h) == NULL);

    /* Reads come from the driver; a reopen replays through record(). */
    size_t n = 0;
    CHECK(ops->read(h, 1, SIZE_MAX, count_rec, &n) == 0 && n == 1);
    ops->close(h);
    seen a2 = {0};
    CHECK(ops->open(st, SPACE, 0, &EV, &a2, &h) == 0);
    CHECK(a2.records == 2 && a2.bytes == 30 && a2.last_origin == 0 && a2.durable_calls == 0);

    /* Closing fails the open batch; removing deletes for good. */
    CHECK(ops->append(h, rec, 5, HASH, 0, &k0) == 0);
    b = ops->batch(h);
    ops->close(h);
    CHECK(storage_batch_state(b) == -1);
    storage_batch_unref(b);
    ops->end_turn(st);
    seen a3 = {0};
    CHECK(ops->open(st, SPACE, 0, &EV, &a3, &h) == 0 && a3.records == 3);
    CHECK(ops->remove(h, &w, never_called, NULL) == 0);
    seen a4 = {0};
    CHECK(ops->open(st, SPACE, 0, &EV, &a4, &h) == WEFT_ENOTFOUND);
    ops->free(st);
}

static void failed_flush(void) {
    storage *st = local_over_memory(1);
    const storage_ops *ops = st->ops;
    seen a = {0};
    storage_space *h;
    CHECK(ops->open(st, SPACE, 1, &EV, &a, &h) == 0);
    uint8_t rec[8] = {1};
    uint32_t k;
    CHECK(ops->append(h, rec, sizeof rec, HASH, 3, &k) == 0);
    storage_batch *b = ops->batch(h);
    fail_flush = 1;
    ops->end_turn(st); /* the sync runs on a writer thread */
    for (int i = 0; i < 2000 && !a.lost; i++) {
        usleep(1000);
        ops->end_turn(st);
    }
    /* A failed sync is never retried into "durable" (fsyncgate): the batch
     * fails and the space is given up (its owner closes it), to be opened
     * again from what the driver holds. */
    CHECK(storage_batch_state(b) == -1 && a.durable == 0 && a.durable_calls == 0);
    CHECK(a.lost == 1 && a.unthrottled == 0);
    CHECK(r.m.storage_sync_failures == 1);
    storage_batch_unref(b);
    ops->close(h);
    fail_flush = 0;
    ops->end_turn(st);
    CHECK(a.durable_calls == 0);
    seen a2 = {0};
    CHECK(ops->open(st, SPACE, 0, &EV, &a2, &h) == 0 && a2.records == 1);
    ops->close(h);
    ops->free(st);
}

int main(void) {
    basics();
    failed_flush();
    printf("%s (%d failures)\n", failures ? "FAILED" : "passed", failures);
    return failures ? 1 : 0;
}
