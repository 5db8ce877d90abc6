/*
 * weft-relay end to end over real WebSockets: each scenario starts its own
 * relay (memory storage) on a free loopback port and stops it at the end.
 *
 *   test_relay PATH_TO_WEFT_RELAY
 */
#include "harness.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *exe;
static ident owner;
static uint8_t content_key[32];

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int start(relay_proc *p, const char *const *extra) {
    memset(p, 0, sizeof *p);
    if (relay_spawn(p, exe, "memory", 0, extra)) {
        fprintf(stderr, "cannot start %s\n", exe);
        check_failures++;
        return -1;
    }
    return 0;
}

static void stop(relay_proc *p) {
    CHECK(relay_stop(p, SIGTERM, 5000) == 0);
}

/* Two clients sync both ways through the relay; ACKs carry relay seqs. */
static void two_clients_sync(void) {
    relay_proc p;
    if (start(&p, NULL)) return;
    tclient a, b;
    CHECK(tc_init(&a, &owner, NULL, WEFT_RIGHT_WRITE, content_key) == 0);
    CHECK(tc_init(&b, &owner, NULL, WEFT_RIGHT_WRITE, content_key) == 0);
    CHECK(tc_connect(&a, p.port, 1, 0, 0) == 0);
    CHECK(tc_connect(&b, p.port, 1, 0, 0) == 0);
    CHECK(tc_wait(&a, until_synced, 0, 3000));
    CHECK(tc_wait(&b, until_synced, 0, 3000));
    CHECK(tc_write(&a, 10, 20, 4) == 0);
    CHECK(tc_wait(&a, until_acked, 10, 3000));
    CHECK(a.n_stored == 10 && a.last_rseq == 10);
    CHECK(tc_wait(&b, until_received, 10, 3000));
    CHECK(same_state(&a, &b));
    CHECK(tc_write(&b, 5, 20, 5) == 0);
    CHECK(tc_wait(&b, until_acked, 5, 3000));
    CHECK(tc_wait(&a, until_received, 5, 3000));
    CHECK(same_state(&a, &b));
    CHECK(b.last_rseq == 15);
    /* Sending the same changes again: acked as duplicates, not fanned out. */
    const uint8_t *vv, *recs;
    size_t vl, rl;
    CHECK(weft_replica_diff(a.rep, NULL, 0, &recs, &rl) == 0);
    (void)vv;
    (void)vl;
    uint8_t *frame = malloc(rl + 4096);
    size_t fl, pos = 0;
    weft_frame_changes_begin(frame, rl + 4096, &fl, 0);
    while (pos < rl) {
        weft_change c;
        CHECK(weft_change_decode(&c, recs + pos, rl - pos) == 0);
        weft_frame_changes_add(frame, rl + 4096, &fl, 0, recs + pos, c.total_len);
        pos += c.total_len;
    }
    CHECK(wsc_send(&a.ws, frame, fl, 2, 3) == 0); /* fragmented on purpose */
    free(frame);
    CHECK(tc_wait(&a, until_acked, 25, 3000));
    CHECK(a.n_dup == 15);
    tc_pump(&b, 300);
    CHECK(b.received == 10);
    CHECK(relay_metric(p.port, "weft_relay_changes_stored_total") == 15);
    tc_free(&a);
    tc_free(&b);
    stop(&p);
}

/* A late joiner catches up from nothing, from a vector, from a cursor. */
static void late_joiner(void) {
    relay_proc p;
    if (start(&p, NULL)) return;
    tclient a, c, d, e;
    tc_init(&a, &owner, NULL, WEFT_RIGHT_WRITE, content_key);
    CHECK(tc_connect(&a, p.port, 1, 0, 0) == 0);
    CHECK(tc_write(&a, 50, 100, 7) == 0);
    CHECK(tc_wait(&a, until_acked, 50, 3000));

    tc_init(&c, &owner, NULL, WEFT_RIGHT_READ, content_key);
    CHECK(tc_connect(&c, p.port, 1, 0, 0) == 0);
    CHECK(c.head == 50);
    CHECK(tc_wait(&c, until_synced, 0, 3000));
    CHECK(c.received == 50 && c.cursor == 50);
    CHECK(same_state(&a, &c));

    /* d holds the first 20 changes already: it gets only the other 30. */
    tc_init(&d, &owner, NULL, WEFT_RIGHT_READ, content_key);
    const uint8_t *recs;
    size_t rl;
    CHECK(weft_replica_diff(a.rep, NULL, 0, &recs, &rl) == 0);
    size_t pos = 0;
    for (int i = 0; i < 20; i++) {
        weft_change ch;
        weft_change_decode(&ch, recs + pos, rl - pos);
        CHECK(weft_replica_apply(d.rep, recs + pos, ch.total_len, NULL) == 0);
        pos += ch.total_len;
    }
    CHECK(tc_connect(&d, p.port, 1, 0, 0) == 0);
    CHECK(tc_wait(&d, until_synced, 0, 3000));
    CHECK(d.received == 30);
    CHECK(same_state(&a, &d));

    /* e resumes after relay sequence 40. */
    tc_init(&e, &owner, NULL, WEFT_RIGHT_READ, content_key);
    e.apply = 0;
    CHECK(tc_connect(&e, p.port, 0, 1, 40) == 0);
    CHECK(tc_wait(&e, until_synced, 0, 3000));
    CHECK(e.received == 10);

    /* Live changes reach every reader after catch-up. */
    CHECK(tc_write(&a, 3, 10, 3) == 0);
    CHECK(tc_wait(&c, until_received, 53, 3000));
    CHECK(tc_wait(&d, until_received, 33, 3000));
    CHECK(tc_wait(&e, until_received, 13, 3000));
    CHECK(same_state(&a, &c) && same_state(&a, &d));
    tc_free(&a);
    tc_free(&c);
    tc_free(&d);
    tc_free(&e);
    stop(&p);
}

/* Rights: read-only tokens cannot write; foreign and forged tokens, wrong
 * proofs and wrong keys cannot connect. */
static void rights(void) {
    relay_proc p;
    if (start(&p, NULL)) return;
    tclient w, ro;
    tc_init(&w, &owner, NULL, WEFT_RIGHT_WRITE, content_key);
    tc_init(&ro, &owner, NULL, WEFT_RIGHT_READ, content_key);
    CHECK(tc_connect(&w, p.port, 1, 0, 0) == 0);
    CHECK(tc_connect(&ro, p.port, 1, 0, 0) == 0);
    CHECK(tc_wait(&w, until_synced, 0, 3000));
    CHECK(tc_write(&ro, 2, 10, 2) == 0);
    CHECK(tc_wait(&ro, until_acked, 2, 3000));
    CHECK(ro.n_rejected == 2 && ro.last_reject == WEFT_PROTO_ERIGHTS && !ro.closed);
    tc_pump(&w, 300);
    CHECK(w.received == 0);
    CHECK(relay_metric(p.port, "weft_relay_rejections_total{reason=\"RIGHTS\"}") == 2);

    /* A forged token (its signature altered). */
    tclient bad;
    tc_init(&bad, &owner, NULL, WEFT_RIGHT_WRITE, content_key);
    bad.token[bad.token_len - 1] ^= 1;
    CHECK(tc_connect(&bad, p.port, 1, 0, 0) == -1);
    CHECK(bad.err_code == WEFT_PROTO_EAUTH && bad.err_fatal);
    tc_free(&bad);

    /* A proof made with another key than the token's grantee. */
    tclient thief;
    tc_init(&thief, &owner, NULL, WEFT_RIGHT_WRITE, content_key);
    ident other;
    ident_new(&other);
    memcpy(thief.me.sk, other.sk, 64);
    CHECK(tc_connect(&thief, p.port, 1, 0, 0) == 0);
    CHECK(tc_wait(&thief, until_error, 0, 3000));
    CHECK(thief.err_code == WEFT_PROTO_EPROOF);
    CHECK(tc_wait(&thief, until_closed, 0, 3000));
    tc_free(&thief);

    /* Frames before the proof. */
    tclient early;
    tc_init(&early, &owner, NULL, WEFT_RIGHT_WRITE, content_key);
    CHECK(tc_connect_raw(&early, p.port) == 0);
    CHECK(tc_write(&early, 1, 10, 1) == 0);
    CHECK(tc_wait(&early, until_error, 0, 3000));
    CHECK(early.err_code == WEFT_PROTO_EUNEXPECTED && early.err_fatal);
    tc_free(&early);

    /* The writer still works. */
    CHECK(tc_write(&w, 1, 10, 1) == 0);
    CHECK(tc_wait(&w, until_acked, 1, 3000));
    CHECK(w.n_stored == 1);
    CHECK(tc_wait(&ro, until_received, 1, 3000));
    tc_free(&w);
    tc_free(&ro);
    stop(&p);
}

/* Malformed, unknown, oversized and text frames each get an ERROR and a
 * close, while two other clients keep syncing. */
static void bad_frames(void) {
    static const char *const extra[] = {"--max-frame", "65536", "--max-changes", "8", NULL};
    relay_proc p;
    if (start(&p, extra)) return;
    tclient a, b;
    tc_init(&a, &owner, NULL, WEFT_RIGHT_WRITE, content_key);
    tc_init(&b, &owner, NULL, WEFT_RIGHT_WRITE, content_key);
    CHECK(tc_connect(&a, p.port, 1, 0, 0) == 0);
    CHECK(tc_connect(&b, p.port, 1, 0, 0) == 0);
    CHECK(tc_wait(&b, until_synced, 0, 3000));

    typedef struct bad_case {
        const uint8_t *bytes;
        size_t len;
        int opcode;
        uint32_t want;
    } bad_case;
    bad_case cases[6];
    static const uint8_t garbage[] = {0xde, 0xad, 0xbe, 0xef};
    static const uint8_t bad_flags[] = {1, 4, 0xff, 0xff};
    static const uint8_t unknown[] = {1, 77, 0};
    static const uint8_t v9[] = {9, 1};
    static const uint8_t ack[] = {1, 5, 0};
    uint8_t *big = calloc(1, 70000);
    big[0] = 1;
    big[1] = 4;
    cases[0] = (bad_case){bad_flags, sizeof bad_flags, 2, WEFT_PROTO_EBAD_FRAME};
    cases[1] = (bad_case){unknown, sizeof unknown, 2, WEFT_PROTO_EBAD_FRAME};
    cases[2] = (bad_case){v9, sizeof v9, 2, WEFT_PROTO_EVERSION};
    cases[3] = (bad_case){big, 70000, 2, WEFT_PROTO_ETOO_BIG};
    cases[4] = (bad_case){garbage, sizeof garbage, 1, WEFT_PROTO_EBAD_FRAME};
    cases[5] = (bad_case){ack, sizeof ack, 2, WEFT_PROTO_EUNEXPECTED};
    for (int i = 0; i < 6; i++) {
        tclient x;
        tc_init(&x, &owner, NULL, WEFT_RIGHT_WRITE, content_key);
        /* Live clients for the cases that are only wrong after the proof. */
        if (i == 5) {
            CHECK(tc_connect(&x, p.port, 1, 0, 0) == 0);
            CHECK(tc_wait(&x, until_synced, 0, 3000));
        } else {
            CHECK(tc_connect_raw(&x, p.port) == 0);
        }
        CHECK(wsc_send(&x.ws, cases[i].bytes, cases[i].len, cases[i].opcode, i == 3 ? 4 : 1) == 0);
        CHECK(tc_wait(&x, until_error, 0, 3000));
        if (x.err_code != cases[i].want)
            fprintf(stderr, "case %d: error %u, want %u\n", i, x.err_code, cases[i].want);
        CHECK(x.err_code == cases[i].want && x.err_fatal);
        CHECK(tc_wait(&x, until_closed, 0, 3000));
        tc_free(&x);
        /* Meanwhile the others keep working. */
        CHECK(tc_write(&a, 2, 10, 2) == 0);
        CHECK(tc_wait(&b, until_received, (uint64_t)(2 * (i + 1)), 3000));
    }
    free(big);
    /* Too many changes in one frame (limit 8). */
    tclient x;
    tc_init(&x, &owner, NULL, WEFT_RIGHT_WRITE, content_key);
    CHECK(tc_connect(&x, p.port, 1, 0, 0) == 0);
    CHECK(tc_write(&x, 9, 10, 9) == 0);
    CHECK(tc_wait(&x, until_error, 0, 3000));
    CHECK(x.err_code == WEFT_PROTO_ETOO_MANY_CHANGES);
    tc_free(&x);
    /* A garbled change inside a well-formed frame is rejected alone. */
    uint8_t frame[64];
    size_t fl;
    weft_frame_changes_begin(frame, sizeof frame, &fl, 0);
    weft_frame_changes_add(frame, sizeof frame, &fl, 0, garbage, sizeof garbage);
    CHECK(wsc_send(&a.ws, frame, fl, 2, 1) == 0);
    CHECK(tc_wait(&a, until_acked, 13, 3000));
    CHECK(a.n_rejected == 1 && a.last_reject == WEFT_PROTO_EBAD_CHANGE && !a.closed);
    CHECK(same_state(&a, &b));
    CHECK(relay_metric(p.port, "weft_relay_rejections_total{reason=\"TOO_BIG\"}") == 1);
    tc_free(&a);
    tc_free(&b);
    stop(&p);
}

/* A reader that never reads is dropped; a fast reader keeps full speed. */
static void slow_consumer(void) {
    static const char *const extra[] = {"--max-queue", "1048576", NULL};
    relay_proc p;
    if (start(&p, extra)) return;
    tclient w, fast, slow;
    tc_init(&w, &owner, NULL, WEFT_RIGHT_WRITE, content_key);
    tc_init(&fast, &owner, NULL, WEFT_RIGHT_READ, content_key);
    tc_init(&slow, &owner, NULL, WEFT_RIGHT_READ, content_key);
    fast.apply = 0;
    CHECK(tc_connect(&w, p.port, 1, 0, 0) == 0);
    CHECK(tc_connect(&fast, p.port, 1, 0, 0) == 0);
    CHECK(tc_connect(&slow, p.port, 1, 0, 0) == 0);
    CHECK(tc_wait(&slow, until_synced, 0, 3000));
    CHECK(tc_wait(&fast, until_synced, 0, 3000));
    /* 40 MB of changes: far more than socket buffers and the 1 MiB bound. */
    int n = 2400;
    double t0 = now_s();
    for (int i = 0; i < n; i += 40) {
        CHECK(tc_write(&w, 40, 16000, 40) == 0);
        while (fast.received < (uint64_t)i && tc_pump(&fast, 10) == 0)
            ;
        while (tc_pump(&w, 0) == 0)
            ;
    }
    CHECK(tc_wait(&fast, until_received, (uint64_t)n, 20000));
    double dt = now_s() - t0;
    printf("slow_consumer: fast reader got %d changes (%.1f MB) in %.2f s while a reader stalled\n",
           n, n * 16000.0 / 1e6, dt);
    CHECK(relay_metric(p.port, "weft_relay_slow_consumers_total") >= 1);
    /* The stalled client finds an ERROR SLOW_CONSUMER (or the close) when
     * it finally reads. */
    slow.apply = 0;
    CHECK(tc_wait(&slow, until_closed, 0, 10000));
    CHECK(slow.received < (uint64_t)n);
    tc_free(&w);
    tc_free(&fast);
    tc_free(&slow);
    stop(&p);
}

/* SIGNAL goes to one peer, PRESENCE to all; the sender's key is stamped. */
static void signal_presence(void) {
    relay_proc p;
    if (start(&p, NULL)) return;
    tclient a, b, c;
    tc_init(&a, &owner, NULL, WEFT_RIGHT_READ, content_key);
    tc_init(&b, &owner, NULL, WEFT_RIGHT_READ, content_key);
    tc_init(&c, &owner, NULL, WEFT_RIGHT_READ, content_key);
    CHECK(tc_connect(&a, p.port, 1, 0, 0) == 0);
    CHECK(tc_connect(&b, p.port, 1, 0, 0) == 0);
    CHECK(tc_connect(&c, p.port, 1, 0, 0) == 0);
    CHECK(tc_wait(&a, until_synced, 0, 3000) && tc_wait(&b, until_synced, 0, 3000) &&
          tc_wait(&c, until_synced, 0, 3000));
    uint8_t frame[128], zero[32] = {0};
    size_t fl;
    weft_frame_signal_encode(frame, sizeof frame, &fl, WEFT_FRAME_SIGNAL, b.me.pk,
                             (const uint8_t *)"offer", 5);
    CHECK(wsc_send(&a.ws, frame, fl, 2, 1) == 0);
    CHECK(tc_pump(&b, 3000) == 0);
    CHECK(b.n_signals == 1 && memcmp(b.last_peer, a.me.pk, 32) == 0);
    weft_frame_signal_encode(frame, sizeof frame, &fl, WEFT_FRAME_PRESENCE, zero,
                             (const uint8_t *)"here", 4);
    CHECK(wsc_send(&c.ws, frame, fl, 2, 1) == 0);
    CHECK(tc_pump(&a, 3000) == 0 && tc_pump(&b, 3000) == 0);
    CHECK(a.n_signals == 1 && b.n_signals == 2 && memcmp(a.last_peer, c.me.pk, 32) == 0);
    CHECK(c.n_signals == 0);
    /* A signal to nobody. */
    ident ghost;
    ident_new(&ghost);
    weft_frame_signal_encode(frame, sizeof frame, &fl, WEFT_FRAME_SIGNAL, ghost.pk,
                             (const uint8_t *)"x", 1);
    CHECK(wsc_send(&a.ws, frame, fl, 2, 1) == 0);
    CHECK(tc_wait(&a, until_error, 0, 3000));
    CHECK(a.err_code == WEFT_PROTO_ENO_PEER && !a.err_fatal);
    tc_free(&a);
    tc_free(&b);
    tc_free(&c);
    stop(&p);
}

static int until_stored(tclient *c, uint64_t n) {
    return c->n_stored + c->n_dup + c->n_rejected >= n;
}

/* Format levels (PROTOCOL.md §6, FORMAT.md §10): a client that predates
 * negotiation (plain HELLO, level 1) and a level-2 client share a space;
 * the owner raises it to level 2; the old client is refused with a fatal
 * VERSION (then and on every reconnect) and never gets the level record;
 * a late level-2 joiner gets everything. Bad raises are refused. The space
 * lives in file storage, and the level survives a restart. */
static void format_levels(void) {
    relay_proc p;
    memset(&p, 0, sizeof p);
    relay_tmpdir(&p);
    if (relay_spawn(&p, exe, "file", 0, NULL)) {
        check_failures++;
        return;
    }
    tclient old, neu;
    tc_init(&old, &owner, NULL, WEFT_RIGHT_WRITE, content_key);
    tc_init(&neu, &owner, NULL, WEFT_RIGHT_WRITE, content_key);
    neu.level = 2;
    CHECK(tc_connect(&old, p.port, 1, 0, 0) == 0);
    CHECK(!old.got_versions); /* a plain HELLO gets a version-1 CHALLENGE */
    CHECK(tc_connect(&neu, p.port, 1, 0, 0) == 0);
    CHECK(neu.got_versions && neu.relay_versions.format_level == WEFT_FORMAT_LEVEL &&
          neu.relay_versions.space_level == 1);
    CHECK(tc_wait(&old, until_synced, 0, 3000) && tc_wait(&neu, until_synced, 0, 3000));
    /* Writes both ways. */
    CHECK(tc_write(&old, 3, 10, 3) == 0);
    CHECK(tc_write(&neu, 2, 10, 2) == 0);
    CHECK(tc_wait(&old, until_acked, 3, 3000) && tc_wait(&neu, until_acked, 2, 3000));
    CHECK(tc_wait(&old, until_received, 2, 3000) && tc_wait(&neu, until_received, 3, 3000));
    CHECK(same_state(&old, &neu));

    /* A writer is not an admin; a level above what the sender reads, or
     * what this build knows, is refused. */
    uint8_t rec[WEFT_LEVEL_MAX_BYTES];
    size_t len;
    CHECK(0 == weft_level_sign(&BE, rec, sizeof rec, &len, owner.pk, neu.me.sk, neu.token,
                               neu.token_len, 2, (uint64_t)time(NULL) * 1000));
    CHECK(tc_send_record(&neu, rec, len) == 0);
    CHECK(tc_wait(&neu, until_stored, 3, 3000));
    CHECK(neu.n_rejected == 1 && neu.last_reject == WEFT_PROTO_ERIGHTS);

    /* The owner's raise, sent by the level-2 client. */
    CHECK(0 == weft_level_sign(&BE, rec, sizeof rec, &len, owner.pk, owner.sk, NULL, 0, 2,
                               (uint64_t)time(NULL) * 1000));
    CHECK(tc_send_record(&neu, rec, len) == 0);
    CHECK(tc_wait(&neu, until_stored, 4, 3000));
    CHECK(neu.n_stored == 3 && !neu.closed);
    /* The old client is told to update and closed; it got no level record
     * (tc_pump would have failed the test), and kept everything it had. */
    CHECK(tc_wait(&old, until_error, 0, 3000));
    CHECK(old.err_code == WEFT_PROTO_EVERSION && old.err_fatal);
    CHECK(tc_wait(&old, until_closed, 0, 3000));
    CHECK(old.level_records == 0 && old.received == 2);
    CHECK(tc_seq_of(&old, old.me.pk) == 3);
    /* The same record again says nothing new. */
    CHECK(tc_send_record(&neu, rec, len) == 0);
    CHECK(tc_wait(&neu, until_stored, 5, 3000));
    CHECK(neu.n_dup == 1);

    /* Reconnecting does not help the old client: refused at HELLO. */
    wsc_close(&old.ws); /* the closed connection's buffers */
    CHECK(tc_connect(&old, p.port, 1, 0, 0) == -1);
    CHECK(old.err_code == WEFT_PROTO_EVERSION && old.err_fatal);
    CHECK(relay_metric(p.port, "weft_relay_rejections_total{reason=\"VERSION\"}") >= 2);

    /* A late level-2 joiner gets every change and the level record. */
    tclient late;
    tc_init(&late, &owner, NULL, WEFT_RIGHT_READ, content_key);
    late.level = 2;
    CHECK(tc_connect(&late, p.port, 0, 0, 0) == 0);
    CHECK(late.relay_versions.space_level == 2);
    CHECK(tc_wait(&late, until_synced, 0, 3000));
    CHECK(late.received == 6 && late.level_records == 1 && late.space_level == 2);
    CHECK(same_state(&late, &neu));
    tc_free(&late);
    tc_free(&neu);

    /* After a restart the level comes back from storage. */
    CHECK(relay_stop(&p, SIGTERM, 5000) == 0);
    CHECK(relay_spawn(&p, exe, "file", p.port, NULL) == 0);
    wsc_close(&old.ws); /* the closed connection's buffers */
    CHECK(tc_connect(&old, p.port, 1, 0, 0) == -1);
    CHECK(old.err_code == WEFT_PROTO_EVERSION);
    tc_free(&old);
    CHECK(relay_stop(&p, SIGTERM, 5000) == 0);
    relay_cleanup(&p);
}

/* Membership records (weft/members.h, SECURITY.md "Members"): the relay
 * checks them without the content key and stores them; a writer's grant
 * is refused (NOT_ADMIN) and nothing changes; a removal closes the removed
 * key's live session with a fatal REVOKED, refuses its HELLO from then on
 * (also after a restart), and refuses its changes past the revocation's
 * last_seq even when another member forwards them; membership records go
 * only to clients that announced they read them. */
static void membership(void) {
    relay_proc p;
    memset(&p, 0, sizeof p);
    relay_tmpdir(&p);
    if (relay_spawn(&p, exe, "file", 0, NULL)) {
        check_failures++;
        return;
    }
    tclient adm, a, b, plain;
    tc_init(&adm, &owner, NULL, WEFT_RIGHT_ADMIN, content_key);
    tc_init(&a, &owner, NULL, WEFT_RIGHT_WRITE, content_key);
    tc_init(&b, &owner, NULL, WEFT_RIGHT_WRITE, content_key);
    tc_init(&plain, &owner, NULL, WEFT_RIGHT_READ, content_key);
    adm.members = a.members = b.members = 1;
    CHECK(tc_connect(&adm, p.port, 1, 0, 0) == 0 && tc_connect(&a, p.port, 1, 0, 0) == 0 &&
          tc_connect(&b, p.port, 1, 0, 0) == 0 && tc_connect(&plain, p.port, 1, 0, 0) == 0);
    CHECK(tc_wait(&b, until_synced, 0, 3000) && tc_wait(&a, until_synced, 0, 3000));
    CHECK(tc_write(&b, 2, 10, 2) == 0);
    CHECK(tc_wait(&b, until_acked, 2, 3000));
    uint64_t now_ms = (uint64_t)time(NULL) * 1000;
    uint8_t rec[WEFT_GRANT_MAX_BYTES + WEFT_REVOKE_MAX_BYTES];
    size_t len;
    /* The owner grants a and b; a writer's grant is refused. */
    CHECK(0 == weft_grant_sign(&BE, rec, sizeof rec, &len, owner.pk, owner.sk, a.me.pk,
                               WEFT_RIGHT_WRITE, 0, 0, now_ms));
    CHECK(tc_send_record(&adm, rec, len) == 0);
    CHECK(0 == weft_grant_sign(&BE, rec, sizeof rec, &len, owner.pk, owner.sk, b.me.pk,
                               WEFT_RIGHT_WRITE, 0, 0, now_ms));
    CHECK(tc_send_record(&adm, rec, len) == 0);
    CHECK(tc_wait(&adm, until_stored, 2, 3000) && adm.n_stored == 2);
    CHECK(0 == weft_grant_sign(&BE, rec, sizeof rec, &len, owner.pk, a.me.sk, adm.me.pk,
                               WEFT_RIGHT_ADMIN, 0, 0, now_ms));
    CHECK(tc_send_record(&a, rec, len) == 0);
    CHECK(tc_wait(&a, until_stored, 1, 3000));
    CHECK(a.n_rejected == 1 && a.last_reject == WEFT_PROTO_ENOT_ADMIN);
    /* b makes a change it has not sent yet (seq 3) when the owner removes
     * it, counting its changes up to seq 2. */
    uint8_t val[8];
    size_t vlen;
    CHECK(weft_value_write_string(val, sizeof val, &vlen, "x", 1) == 0);
    CHECK(weft_replica_put(b.rep, "notes", 5, "late", 4, "t", 1, val, vlen) == 0);
    const uint8_t *late;
    size_t late_len;
    CHECK(weft_replica_commit(b.rep, now_ms, &late, &late_len) == 0);
    uint8_t *late_copy = malloc(late_len);
    memcpy(late_copy, late, late_len);
    CHECK(0 ==
          weft_revoke_sign(&BE, rec, sizeof rec, &len, owner.pk, owner.sk, b.me.pk, 2, 1, now_ms));
    CHECK(tc_send_record(&adm, rec, len) == 0);
    CHECK(tc_wait(&adm, until_stored, 3, 3000) && adm.n_stored == 3);
    CHECK(tc_wait(&b, until_error, 0, 3000));
    CHECK(b.err_code == WEFT_PROTO_EREVOKED && b.err_fatal);
    CHECK(tc_wait(&b, until_closed, 0, 3000));
    /* Another member forwarding b's later change: refused. */
    CHECK(tc_send_record(&a, late_copy, late_len) == 0);
    CHECK(tc_wait(&a, until_stored, 2, 3000));
    CHECK(a.n_rejected == 2 && a.last_reject == WEFT_PROTO_EREVOKED);
    free(late_copy);
    /* a got the three records; plain (no flag) got none, and b's two
     * changes (tc_pump fails the test on a record a client cannot take). */
    CHECK(tc_wait(&a, until_received, 5, 3000));
    CHECK(a.member_records == 3);
    CHECK(tc_wait(&plain, until_received, 2, 3000));
    CHECK(plain.member_records == 0 && !plain.closed);
    wsc_close(&b.ws);
    CHECK(tc_connect(&b, p.port, 1, 0, 0) == -1);
    CHECK(b.err_code == WEFT_PROTO_EREVOKED && b.err_fatal);
    CHECK(relay_metric(p.port, "weft_relay_rejections_total{reason=\"REVOKED\"}") >= 3);
    CHECK(relay_metric(p.port, "weft_relay_rejections_total{reason=\"NOT_ADMIN\"}") == 1);
    /* Device links (kind 9): a member links a device of theirs; a reader
     * with no grant may not; a second person for that device is a replay. */
    uint8_t dev_pk[32], dev_sk[64], dsig[64], link[WEFT_LINK_MAX_BYTES];
    CHECK(weft_keypair_generate(&BE, dev_pk, dev_sk) == 0);
    CHECK(weft_link_sign_device(&BE, dsig, owner.pk, a.me.pk, dev_sk, now_ms) == 0);
    CHECK(weft_link_sign(&BE, link, sizeof link, &len, owner.pk, a.me.sk, dev_pk, now_ms, dsig) ==
          0);
    uint64_t stored = a.n_stored + a.n_rejected;
    CHECK(tc_send_record(&a, link, len) == 0);
    CHECK(tc_wait(&a, until_stored, stored + 1, 3000));
    CHECK(a.n_rejected == 2);
    CHECK(weft_link_sign_device(&BE, dsig, owner.pk, plain.me.pk, dev_sk, now_ms) == 0);
    CHECK(weft_link_sign(&BE, link, sizeof link, &len, owner.pk, plain.me.sk, dev_pk, now_ms,
                         dsig) == 0);
    CHECK(tc_send_record(&adm, link, len) == 0);
    CHECK(tc_wait(&adm, until_stored, 4, 3000));
    CHECK(adm.n_rejected == 1 && adm.last_reject == WEFT_PROTO_ENOT_ADMIN);
    CHECK(weft_link_sign_device(&BE, dsig, owner.pk, owner.pk, dev_sk, now_ms) == 0);
    CHECK(weft_link_sign(&BE, link, sizeof link, &len, owner.pk, owner.sk, dev_pk, now_ms, dsig) ==
          0);
    CHECK(tc_send_record(&adm, link, len) == 0);
    CHECK(tc_wait(&adm, until_stored, 5, 3000));
    CHECK(adm.n_rejected == 2 && adm.last_reject == WEFT_PROTO_EREPLAY);
    CHECK(relay_metric(p.port, "weft_relay_rejections_total{reason=\"NOT_ADMIN\"}") == 2);
    tc_free(&adm);
    tc_free(&a);
    tc_free(&plain);
    /* After a restart the removal comes back from storage. */
    CHECK(relay_stop(&p, SIGTERM, 5000) == 0);
    CHECK(relay_spawn(&p, exe, "file", p.port, NULL) == 0);
    wsc_close(&b.ws);
    CHECK(tc_connect(&b, p.port, 1, 0, 0) == -1);
    CHECK(b.err_code == WEFT_PROTO_EREVOKED);
    tc_free(&b);
    CHECK(relay_stop(&p, SIGTERM, 5000) == 0);
    relay_cleanup(&p);
}

/* A client admitted by its grant (HELLO flag 0x10): its token field holds
 * its claim (or nothing). */
static void by_grant(tclient *c, const uint8_t *claim, size_t len) {
    c->by_grant = 1;
    if (len) memcpy(c->token, claim, len); /* claim may be NULL when len is 0 */
    c->token_len = len;
}

/* Admission by grant (PROTOCOL.md, "Admission by grant"): a newcomer
 * claims an invite with its own key and writes with no token; the same
 * invite claimed by another key is REPLAY, a key with no grant NOT_MEMBER,
 * both fatal and before any CHALLENGE; a grant that ends closes the
 * session with EXPIRED unless a renewal came first; removing the admin
 * whose grant admitted a key closes that key's session. */
static void grant_admission(void) {
    relay_proc p;
    if (start(&p, NULL)) return;
    tclient adm, n, m, stranger, soon, renewed;
    tc_init(&adm, &owner, NULL, WEFT_RIGHT_ADMIN, content_key);
    CHECK(tc_connect(&adm, p.port, 1, 0, 0) == 0 && tc_wait(&adm, until_synced, 0, 3000));
    uint64_t now = (uint64_t)time(NULL);
    uint8_t grant[WEFT_GRANT_MAX_BYTES], ticket[WEFT_TICKET_MAX_BYTES], claim[WEFT_GRANT_MAX_BYTES];
    size_t gl, tl, cl;
    CHECK(0 == weft_invite_issue(&BE, grant, sizeof grant, &gl, ticket, &tl, owner.pk, owner.sk,
                                 WEFT_RIGHT_WRITE, now + 3600, now * 1000));
    CHECK(tc_send_record(&adm, grant, gl) == 0);
    CHECK(tc_wait(&adm, until_stored, 1, 3000) && adm.n_stored == 1);
    /* The newcomer claims and writes, with no token. */
    tc_init(&n, &owner, NULL, WEFT_RIGHT_READ, content_key);
    CHECK(0 == weft_invite_claim(&BE, claim, sizeof claim, &cl, owner.pk, ticket, tl, n.me.pk,
                                 now * 1000, NULL));
    by_grant(&n, claim, cl);
    CHECK(tc_connect(&n, p.port, 1, 0, 0) == 0 && tc_wait(&n, until_synced, 0, 3000));
    CHECK(tc_write(&n, 2, 10, 2) == 0);
    CHECK(tc_wait(&n, until_acked, 2, 3000) && n.n_rejected == 0);
    /* It comes back with the same claim: held, so simply admitted. */
    wsc_close(&n.ws);
    CHECK(tc_connect(&n, p.port, 1, 0, 0) == 0 && tc_wait(&n, until_synced, 0, 3000));
    /* Another key with the same ticket; a key with nothing. */
    tc_init(&m, &owner, NULL, WEFT_RIGHT_READ, content_key);
    CHECK(0 == weft_invite_claim(&BE, claim, sizeof claim, &cl, owner.pk, ticket, tl, m.me.pk,
                                 now * 1000, NULL));
    by_grant(&m, claim, cl);
    CHECK(tc_connect(&m, p.port, 1, 0, 0) == -1);
    CHECK(m.err_code == WEFT_PROTO_EREPLAY && m.err_fatal);
    tc_init(&stranger, &owner, NULL, WEFT_RIGHT_READ, content_key);
    by_grant(&stranger, NULL, 0);
    CHECK(tc_connect(&stranger, p.port, 1, 0, 0) == -1);
    CHECK(stranger.err_code == WEFT_PROTO_ENOT_MEMBER && stranger.err_fatal);
    /* Grants ending in 3 s: one renewed meanwhile, one not. */
    tc_init(&soon, &owner, NULL, WEFT_RIGHT_READ, content_key);
    tc_init(&renewed, &owner, NULL, WEFT_RIGHT_READ, content_key);
    CHECK(0 == weft_grant_sign(&BE, grant, sizeof grant, &gl, owner.pk, owner.sk, soon.me.pk,
                               WEFT_RIGHT_WRITE, 0, now + 3, now * 1000));
    CHECK(tc_send_record(&adm, grant, gl) == 0);
    CHECK(0 == weft_grant_sign(&BE, grant, sizeof grant, &gl, owner.pk, owner.sk, renewed.me.pk,
                               WEFT_RIGHT_WRITE, 0, now + 3, now * 1000));
    CHECK(tc_send_record(&adm, grant, gl) == 0);
    CHECK(tc_wait(&adm, until_stored, 3, 3000));
    by_grant(&soon, NULL, 0);
    by_grant(&renewed, NULL, 0);
    CHECK(tc_connect(&soon, p.port, 1, 0, 0) == 0 && tc_connect(&renewed, p.port, 1, 0, 0) == 0);
    CHECK(0 == weft_grant_sign(&BE, grant, sizeof grant, &gl, owner.pk, owner.sk, renewed.me.pk,
                               WEFT_RIGHT_WRITE, 0, now + 3600, now * 1000 + 1));
    CHECK(tc_send_record(&adm, grant, gl) == 0);
    CHECK(tc_wait(&adm, until_stored, 4, 3000));
    CHECK(tc_wait(&soon, until_error, 0, 5000));
    CHECK(soon.err_code == WEFT_PROTO_EEXPIRED && soon.err_fatal);
    CHECK(tc_write(&renewed, 1, 10, 1) == 0);
    CHECK(tc_wait(&renewed, until_acked, 1, 3000) && renewed.n_rejected == 0 && !renewed.closed);
    /* An admin's grant admits x; the owner removes the admin: x goes. */
    ident ad;
    ident_new(&ad);
    tclient x;
    tc_init(&x, &owner, NULL, WEFT_RIGHT_READ, content_key);
    CHECK(0 == weft_grant_sign(&BE, grant, sizeof grant, &gl, owner.pk, owner.sk, ad.pk,
                               WEFT_RIGHT_ADMIN, 0, 0, now * 1000));
    CHECK(tc_send_record(&adm, grant, gl) == 0);
    CHECK(0 == weft_grant_sign(&BE, grant, sizeof grant, &gl, owner.pk, ad.sk, x.me.pk,
                               WEFT_RIGHT_READ, 0, 0, now * 1000));
    CHECK(tc_send_record(&adm, grant, gl) == 0);
    CHECK(tc_wait(&adm, until_stored, 6, 3000) && adm.n_rejected == 0);
    by_grant(&x, NULL, 0);
    CHECK(tc_connect(&x, p.port, 1, 0, 0) == 0 && tc_wait(&x, until_synced, 0, 3000));
    CHECK(0 == weft_revoke_sign(&BE, grant, sizeof grant, &gl, owner.pk, owner.sk, ad.pk, 0, 1,
                                now * 1000));
    CHECK(tc_send_record(&adm, grant, gl) == 0);
    CHECK(tc_wait(&x, until_error, 0, 3000));
    CHECK(x.err_code == WEFT_PROTO_ENOT_MEMBER && x.err_fatal);
    tc_free(&x);
    CHECK(relay_metric(p.port, "weft_relay_rejections_total{reason=\"REPLAY\"}") >= 1);
    CHECK(relay_metric(p.port, "weft_relay_rejections_total{reason=\"NOT_MEMBER\"}") >= 1);
    tc_free(&adm);
    tc_free(&n);
    tc_free(&m);
    tc_free(&stranger);
    tc_free(&soon);
    tc_free(&renewed);
    stop(&p);
}

/* A relay held at --format-level 1 (a rolling upgrade not finished,
 * SCALING.md) announces level 1 and refuses raises. */
static void format_level_held(void) {
    static const char *const extra[] = {"--format-level", "1", NULL};
    relay_proc p;
    if (start(&p, extra)) return;
    tclient neu;
    tc_init(&neu, &owner, NULL, WEFT_RIGHT_WRITE, content_key);
    neu.level = 2;
    CHECK(tc_connect(&neu, p.port, 1, 0, 0) == 0);
    CHECK(neu.got_versions && neu.relay_versions.format_level == 1);
    CHECK(tc_wait(&neu, until_synced, 0, 3000));
    uint8_t rec[WEFT_LEVEL_MAX_BYTES];
    size_t len;
    CHECK(0 == weft_level_sign(&BE, rec, sizeof rec, &len, owner.pk, owner.sk, NULL, 0, 2,
                               (uint64_t)time(NULL) * 1000));
    CHECK(tc_send_record(&neu, rec, len) == 0);
    CHECK(tc_wait(&neu, until_stored, 1, 3000));
    CHECK(neu.n_rejected == 1 && neu.last_reject == WEFT_PROTO_EVERSION);
    tc_free(&neu);
    stop(&p);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: test_relay PATH_TO_WEFT_RELAY [test]\n");
        return 2;
    }
    exe = argv[1];
    harness_init();
    ident_new(&owner);
    BE.random(BE.ctx, content_key, 32);
    static const relay_test tests[] = {
        {"two_clients_sync", two_clients_sync},
        {"late_joiner", late_joiner},
        {"rights", rights},
        {"bad_frames", bad_frames},
        {"slow_consumer", slow_consumer},
        {"signal_presence", signal_presence},
        {"format_levels", format_levels},
        {"membership", membership},
        {"format_level_held", format_level_held},
        {"grant_admission", grant_admission},
    };
    return run_relay_tests(tests, sizeof tests / sizeof *tests, argc > 2 ? argv[2] : NULL);
}
