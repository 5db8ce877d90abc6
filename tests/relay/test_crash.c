/*
 * Durability across kill -9: five writers stream changes into a relay with
 * file storage; the relay is killed with SIGKILL mid-stream, restarted on
 * the same data directory, and the writers reconnect and resend whatever
 * the relay's vector says it lacks. Three rounds, then a fresh reader
 * catches up and must hold every change any writer saw acknowledged; every
 * record it receives must verify and decrypt (nothing corrupt is served),
 * and no writer may ever have received a change the relay later lost
 * (that would show up as a PARKED or REJECTED change on resend).
 *
 *   test_crash PATH_TO_WEFT_RELAY
 */
#include "harness.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WRITERS 5
#define ROUNDS  3

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: test_crash PATH_TO_WEFT_RELAY\n");
        return 2;
    }
    harness_init();
    ident owner;
    ident_new(&owner);
    uint8_t key[32];
    BE.random(BE.ctx, key, 32);
    relay_proc p;
    memset(&p, 0, sizeof p);
    relay_tmpdir(&p);
    tclient w[WRITERS];
    for (int i = 0; i < WRITERS; i++)
        CHECK(tc_init(&w[i], &owner, NULL, WEFT_RIGHT_WRITE, key) == 0);
    uint64_t total_acked = 0;
    for (int round = 0; round < ROUNDS && !check_failures; round++) {
        if (relay_spawn(&p, argv[1], "file", 0, NULL)) {
            fprintf(stderr, "cannot start the relay\n");
            check_failures++;
            break;
        }
        for (int i = 0; i < WRITERS; i++) {
            wsc_close(&w[i].ws);
            CHECK(tc_connect(&w[i], p.port, 1, 0, 0) == 0);
            CHECK(tc_push_missing(&w[i]) >= 0);
        }
        /* Stream for a while, then kill -9 with changes in flight. */
        double t0 = now_s();
        while (now_s() - t0 < 1.0) {
            for (int i = 0; i < WRITERS; i++) {
                CHECK(tc_write(&w[i], 3, 50, 3) == 0);
                while (tc_pump(&w[i], 0) == 0)
                    ;
            }
        }
        /* Under load the acks can lag the stream by more than its second:
         * wait (bounded) until this round has some, then kill with the
         * rest still in flight. */
        for (double t1 = now_s(); now_s() - t1 < 20.0;) {
            uint64_t sum = 0;
            for (int i = 0; i < WRITERS; i++) {
                while (tc_pump(&w[i], 0) == 0)
                    ;
                sum += w[i].acked_seq;
            }
            if (sum > total_acked) break;
            tc_pump(&w[0], 20);
        }
        double fs = relay_metric(p.port, "weft_relay_fsync_seconds_sum");
        double fc = relay_metric(p.port, "weft_relay_fsync_seconds_count");
        double st = relay_metric(p.port, "weft_relay_changes_stored_total");
        CHECK(relay_stop(&p, SIGKILL, 3000) == 128 + SIGKILL);
        printf(
            "round %d: %.0f changes stored in ~1 s with %.0f group commits, mean fsync %.3f ms\n",
            round, st, fc, fc > 0 ? fs / fc * 1e3 : 0.0);
        uint64_t acked = 0;
        for (int i = 0; i < WRITERS; i++) {
            if (w[i].n_parked || w[i].n_rejected)
                fprintf(stderr, "writer %d: %llu parked, %llu rejected (last code %u, error %u)\n",
                        i, (unsigned long long)w[i].n_parked, (unsigned long long)w[i].n_rejected,
                        w[i].last_reject, w[i].err_code);
            CHECK(w[i].n_parked == 0 && w[i].n_rejected == 0);
            acked += w[i].acked_seq;
        }
        printf("round %d: %llu changes acked so far across %d writers, relay killed\n", round,
               (unsigned long long)acked, WRITERS);
        CHECK(acked > total_acked);
        total_acked = acked;
    }
    /* Restart once more; a fresh reader must find every acked change. */
    if (!check_failures && relay_spawn(&p, argv[1], "file", 0, NULL) == 0) {
        tclient r;
        CHECK(tc_init(&r, &owner, NULL, WEFT_RIGHT_READ, key) == 0);
        CHECK(tc_connect(&r, p.port, 1, 0, 0) == 0);
        CHECK(tc_wait(&r, until_synced, 0, 20000));
        for (int i = 0; i < WRITERS; i++) {
            uint64_t have = tc_seq_of(&r, w[i].me.pk);
            if (have < w[i].acked_seq)
                fprintf(stderr, "writer %d: acked up to seq %llu, relay has %llu\n", i,
                        (unsigned long long)w[i].acked_seq, (unsigned long long)have);
            CHECK(have >= w[i].acked_seq);
        }
        CHECK(weft_replica_pending_count(r.rep) == 0);
        printf("reader caught up: %llu changes, all verified and decrypted\n",
               (unsigned long long)r.received);
        tc_free(&r);
        CHECK(relay_stop(&p, SIGTERM, 5000) == 0);
    } else {
        check_failures++;
    }
    for (int i = 0; i < WRITERS; i++)
        tc_free(&w[i]);
    relay_stop(&p, SIGKILL, 1000);
    relay_cleanup(&p);
    printf("%s\n", check_failures ? "FAILED" : "passed");
    return check_failures ? 1 : 0;
}
