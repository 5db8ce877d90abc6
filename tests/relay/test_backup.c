/*
 * Backups of a running relay (deploy/README.md "Backups"): writers keep
 * two spaces busy on a file-storage relay with small segments (so they
 * roll over during the copy) while deploy/weft-backup.sh copies the data
 * directory; then `weft log verify` finds the copy clean, and a relay
 * started on the copy serves every change that was acked before the copy
 * began, in both spaces.
 *
 *   test_backup PATH_TO_WEFT_RELAY PATH_TO_WEFT PATH_TO_WEFT_BACKUP_SH
 */
#include "harness.h"

#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define N_SPACES  2
#define N_WRITERS 4 /* two per space */

static const char *relay_exe, *weft_exe, *backup_sh;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void pump_all(tclient *w, int n) {
    for (int i = 0; i < n; i++)
        while (tc_pump(&w[i], 0) == 0)
            ;
}

/* Each writer with fewer than 40 changes unacked sends 4 more. */
static void traffic(tclient *w, int n) {
    for (int i = 0; i < n; i++)
        if (w[i].sent - w[i].acked_seq < 40) CHECK(tc_write(&w[i], 4, 200, 4) == 0);
    pump_all(w, n);
    usleep(500);
}

static pid_t spawn(const char *const *argv) {
    pid_t pid;
    fflush(stdout);
    if (posix_spawn(&pid, argv[0], NULL, NULL, (char *const *)argv, environ)) return -1;
    return pid;
}

static int run(const char *const *argv) {
    pid_t pid = spawn(argv);
    int st = -1;
    if (pid > 0) waitpid(pid, &st, 0);
    return pid > 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void backup_under_load(void) {
    relay_proc rp;
    memset(&rp, 0, sizeof rp);
    relay_tmpdir(&rp);
    static const char *const extra[] = {"--segment-bytes", "65536", RELAY_LOOPBACK_LOAD_FLAGS,
                                        NULL};
    if (relay_spawn(&rp, relay_exe, "file", 0, extra)) {
        CHECK(!"relay started");
        relay_cleanup(&rp);
        return;
    }
    ident owners[N_SPACES];
    uint8_t keys[N_SPACES][32];
    tclient w[N_WRITERS];
    for (int s = 0; s < N_SPACES; s++) {
        ident_new(&owners[s]);
        BE.random(BE.ctx, keys[s], 32);
    }
    for (int i = 0; i < N_WRITERS; i++) {
        CHECK(tc_init(&w[i], &owners[i % N_SPACES], NULL, WEFT_RIGHT_WRITE, keys[i % N_SPACES]) ==
              0);
        CHECK(tc_connect(&w[i], rp.port, 1, 0, 0) == 0);
        CHECK(tc_wait(&w[i], until_synced, 0, 5000));
    }
    /* Warm up: a few segments per space. */
    double t0 = now_s();
    while (now_s() - t0 < 1.5)
        traffic(w, N_WRITERS);
    /* The backup runs while the writers keep writing. */
    uint64_t acked[N_WRITERS];
    for (int i = 0; i < N_WRITERS; i++)
        acked[i] = w[i].acked_seq;
    char dest[sizeof rp.dir - 8];
    snprintf(dest, sizeof dest, "%.200s.backup", rp.dir);
    const char *const bargv[] = {"/bin/sh", backup_sh, rp.dir, dest, NULL};
    pid_t b = spawn(bargv);
    CHECK(b > 0);
    int st = -1, rounds = 0;
    t0 = now_s();
    while (b > 0 && waitpid(b, &st, WNOHANG) == 0 && now_s() - t0 < 60) {
        traffic(w, N_WRITERS);
        rounds++;
    }
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    for (int i = 0; i < 50; i++) /* and some after it */
        traffic(w, N_WRITERS);
    uint64_t total = 0;
    for (int i = 0; i < N_WRITERS; i++)
        total += w[i].acked_seq;
    printf("backup: %llu changes acked before the copy, %llu by the end; %d write rounds during "
           "the copy\n",
           (unsigned long long)(acked[0] + acked[1] + acked[2] + acked[3]),
           (unsigned long long)total, rounds);
    CHECK(relay_stop(&rp, SIGTERM, 8000) == 0);
    /* The copy verifies clean (a torn tail in an active segment is not
     * damage: the relay cuts it). */
    const char *const vargv[] = {weft_exe, "log", "verify", dest, NULL};
    CHECK(run(vargv) == 0);
    /* Restore: a relay on the copy has every change acked before it. */
    relay_proc restored;
    memset(&restored, 0, sizeof restored);
    snprintf(restored.dir, sizeof restored.dir, "%s", dest);
    if (relay_spawn(&restored, relay_exe, "file", 0, NULL) == 0) {
        for (int i = 0; i < N_WRITERS; i++) {
            tclient r;
            CHECK(tc_init(&r, &owners[i % N_SPACES], NULL, WEFT_RIGHT_READ, keys[i % N_SPACES]) ==
                  0);
            CHECK(tc_connect(&r, restored.port, 1, 0, 0) == 0);
            CHECK(tc_wait(&r, until_synced, 0, 10000));
            uint64_t have = tc_seq_of(&r, w[i].me.pk);
            if (have < acked[i])
                fprintf(stderr, "writer %d: %llu acked before the backup, %llu restored\n", i,
                        (unsigned long long)acked[i], (unsigned long long)have);
            CHECK(have >= acked[i] && have <= w[i].sent);
            CHECK(weft_replica_pending_count(r.rep) == 0);
            tc_free(&r);
        }
        CHECK(relay_stop(&restored, SIGTERM, 8000) == 0);
    } else {
        CHECK(!"a relay starts on the restored copy");
    }
    relay_cleanup(&restored);
    for (int i = 0; i < N_WRITERS; i++)
        tc_free(&w[i]);
    relay_cleanup(&rp);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: test_backup PATH_TO_WEFT_RELAY PATH_TO_WEFT WEFT_BACKUP_SH\n");
        return 2;
    }
    relay_exe = argv[1];
    weft_exe = argv[2];
    backup_sh = argv[3];
    harness_init();
    static const relay_test tests[] = {{"backup_under_load", backup_under_load}};
    return run_relay_tests(tests, sizeof tests / sizeof *tests, argc > 4 ? argv[4] : NULL);
}
