/*
 * The file storage's group commit under a failing or slow disk, end to end
 * (docs/RELAY.md, "Durability"): weft-relay with file storage and one of
 * the file driver's test hooks (docs/TESTING.md), real clients.
 *
 *   fsync_fail  the 4th group-commit fdatasync fails (as Linux reports a
 *               writeback error: what was written since the last good sync
 *               is gone). The three changes before it are acked, the fourth
 *               never is, its writer gets ERROR STORAGE; the relay reloads
 *               the space from the disk, so its vector holds exactly the
 *               three; the writer resends and gets the fourth (and a fifth)
 *               stored and acked, and after a kill -9 and a restart every
 *               acked change is there.
 *   slow_fsync  every group-commit fdatasync of space A takes a second:
 *               while A's change waits for its sync, space B's writer is
 *               acked and /healthz answers (the sync runs on a writer
 *               thread, not on the event loop); then A's change is acked.
 *               A SIGTERM during A's next sync drains: the writer
 *               finishes, the change is acked, and it is there after a
 *               restart. Ordering and progress are asserted, not times.
 *
 *   test_storage_sync PATH_TO_WEFT_RELAY [test]
 *
 * Every wait is bounded; the relay is stopped at the end of each test.
 */
#include "harness.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

static const char *exe;
static uint8_t content_key[32];

/* The relay's sequence for author in c's last CHALLENGE vector. */
static uint64_t relay_seq_of(const tclient *c, const uint8_t *author) {
    size_t pos = 0;
    const uint8_t *a;
    uint64_t seq;
    while (weft_vv_next(c->relay_vv, c->relay_vv_len, &pos, &a, &seq))
        if (memcmp(a, author, 32) == 0) return seq;
    return 0;
}

/* Connects again (with the replica's vector) and sends what the relay's
 * vector lacks; the old connection's unanswered changes are forgotten. */
static long reconnect(tclient *c, int port) {
    wsc_close(&c->ws);
    c->in_head = c->in_tail = 0;
    if (tc_connect(c, port, 1, 0, 0)) return -1;
    return tc_push_missing(c);
}

static int until_seq_acked(tclient *c, uint64_t seq) {
    return c->acked_seq >= seq || c->closed;
}

static void fsync_fail(void) {
    ident owner;
    ident_new(&owner);
    relay_proc p;
    memset(&p, 0, sizeof p);
    relay_tmpdir(&p);
    setenv("WEFT_RELAY_TEST_FSYNC_FAIL", "4", 1);
    int rc = relay_spawn(&p, exe, "file", 0, NULL);
    unsetenv("WEFT_RELAY_TEST_FSYNC_FAIL");
    CHECK(rc == 0);
    if (rc) return;
    tclient w;
    CHECK(tc_init(&w, &owner, NULL, WEFT_RIGHT_WRITE, content_key) == 0);
    CHECK(tc_connect(&w, p.port, 1, 0, 0) == 0);
    CHECK(tc_wait(&w, until_synced, 0, 5000));
    /* One change per group commit: three good syncs. */
    for (uint64_t k = 1; k <= 3; k++) {
        CHECK(tc_write(&w, 1, 30, 1) == 0);
        CHECK(tc_wait(&w, until_seq_acked, k, 5000));
    }
    CHECK(w.acked_seq == 3 && w.n_stored == 3);
    /* The fourth sync fails: never acked, the writer is told. */
    CHECK(tc_write(&w, 1, 30, 1) == 0);
    CHECK(tc_wait(&w, until_closed, 0, 5000));
    CHECK(w.acked_seq == 3 && w.n_stored == 3);
    CHECK(w.err_code == WEFT_PROTO_ESTORAGE);
    CHECK(relay_metric(p.port, "weft_relay_storage_sync_failures_total") == 1);
    /* The relay holds what its disk holds: the three synced changes. */
    long sent = reconnect(&w, p.port);
    uint64_t have = relay_seq_of(&w, w.me.pk);
    if (have != 3)
        fprintf(stderr, "after the failed sync the relay's vector has seq %llu, its disk 3\n",
                (unsigned long long)have);
    CHECK(have == 3);
    CHECK(sent == 1);
    CHECK(tc_write(&w, 1, 30, 1) == 0);
    CHECK(tc_wait(&w, until_seq_acked, 5, 5000));
    CHECK(w.acked_seq == 5 && w.n_rejected == 0 && w.n_parked == 0);
    /* Every acked change survives a crash. */
    CHECK(relay_stop(&p, SIGKILL, 3000) == 128 + SIGKILL);
    CHECK(relay_spawn(&p, exe, "file", 0, NULL) == 0);
    tclient r;
    CHECK(tc_init(&r, &owner, NULL, WEFT_RIGHT_READ, content_key) == 0);
    CHECK(tc_connect(&r, p.port, 1, 0, 0) == 0);
    CHECK(tc_wait(&r, until_synced, 0, 5000));
    CHECK(tc_seq_of(&r, w.me.pk) == 5);
    CHECK(weft_replica_pending_count(r.rep) == 0);
    tc_free(&r);
    tc_free(&w);
    CHECK(relay_stop(&p, SIGTERM, 5000) == 0);
    relay_cleanup(&p);
}

static int until_healthz(int port) {
    int status = 0;
    char *body = NULL;
    size_t bl;
    int rc = http_request(port, "GET", "/healthz", NULL, NULL, 0, &status, &body, &bl, NULL, 5000);
    free(body);
    return rc == 0 && status == 200;
}

static void slow_fsync(void) {
    ident owner_a, owner_b;
    ident_new(&owner_a);
    ident_new(&owner_b);
    char hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", owner_a.pk[i]);
    relay_proc p;
    memset(&p, 0, sizeof p);
    relay_tmpdir(&p);
    setenv("WEFT_RELAY_TEST_FSYNC_DELAY_MS", "1000", 1);
    setenv("WEFT_RELAY_TEST_SLOW_SPACE", hex, 1);
    int rc = relay_spawn(&p, exe, "file", 0, NULL);
    unsetenv("WEFT_RELAY_TEST_FSYNC_DELAY_MS");
    unsetenv("WEFT_RELAY_TEST_SLOW_SPACE");
    CHECK(rc == 0);
    if (rc) return;
    tclient a, b;
    CHECK(tc_init(&a, &owner_a, NULL, WEFT_RIGHT_WRITE, content_key) == 0);
    CHECK(tc_init(&b, &owner_b, NULL, WEFT_RIGHT_WRITE, content_key) == 0);
    CHECK(tc_connect(&a, p.port, 1, 0, 0) == 0 && tc_wait(&a, until_synced, 0, 5000));
    CHECK(tc_connect(&b, p.port, 1, 0, 0) == 0 && tc_wait(&b, until_synced, 0, 5000));
    /* A's change goes first; its turn ends and its slow sync starts. */
    CHECK(tc_write(&a, 1, 30, 1) == 0);
    CHECK(tc_wait(&a, until_seq_acked, 1, 50) == 0);
    /* Meanwhile B is served, and so is /healthz. */
    CHECK(tc_write(&b, 1, 30, 1) == 0);
    CHECK(tc_wait(&b, until_seq_acked, 1, 5000) && b.acked_seq == 1);
    CHECK(until_healthz(p.port));
    while (tc_pump(&a, 0) == 0)
        ;
    if (a.acked_seq != 0)
        fprintf(stderr, "space A's change was acked before space B's: the loop waited for its "
                        "sync\n");
    CHECK(a.acked_seq == 0);
    /* A's sync ends: its change is acked (durable), the metric counts it. */
    CHECK(tc_wait(&a, until_seq_acked, 1, 5000) && a.acked_seq == 1 && a.n_stored == 1);
    CHECK(relay_metric(p.port, "weft_relay_fsync_seconds_count") >= 2);
    /* SIGTERM with A's next sync in flight: the drain waits for the writer
     * and acks the change before going away; it is on disk after. */
    CHECK(tc_write(&a, 1, 30, 1) == 0);
    CHECK(tc_wait(&a, until_seq_acked, 2, 50) == 0);
    CHECK(kill(p.pid, SIGTERM) == 0);
    CHECK(tc_wait(&a, until_seq_acked, 2, 5000) && a.acked_seq == 2);
    CHECK(relay_stop(&p, SIGTERM, 5000) == 0);
    CHECK(relay_spawn(&p, exe, "file", 0, NULL) == 0);
    tclient r;
    CHECK(tc_init(&r, &owner_a, NULL, WEFT_RIGHT_READ, content_key) == 0);
    CHECK(tc_connect(&r, p.port, 1, 0, 0) == 0 && tc_wait(&r, until_synced, 0, 5000));
    CHECK(tc_seq_of(&r, a.me.pk) == 2);
    tc_free(&r);
    tc_free(&a);
    tc_free(&b);
    CHECK(relay_stop(&p, SIGTERM, 5000) == 0);
    relay_cleanup(&p);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: test_storage_sync PATH_TO_WEFT_RELAY [test]\n");
        return 2;
    }
    exe = argv[1];
    harness_init();
    BE.random(BE.ctx, content_key, 32);
    static const relay_test tests[] = {
        {"fsync_fail", fsync_fail},
        {"slow_fsync", slow_fsync},
    };
    return run_relay_tests(tests, sizeof tests / sizeof *tests, argc > 2 ? argv[2] : NULL);
}
