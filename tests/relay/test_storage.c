/*
 * The relay's storage backends through their one interface: append, read,
 * reopen, delete; then file storage against crashes and damage: every torn
 * tail length of the last record, flipped bytes in the last segment and in
 * a sealed one, garbage after the end, and damage that appears while the
 * space is open, and a failed fdatasync. A damaged record is never handed
 * out. The storage's own
 * warnings (one per truncation) go to stderr, which this test silences;
 * failures are reported on stdout.
 */
#include "crc32c.h"
#include "../../relay/storage.h"

#include "weft/error.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int failures;
#define CHECK(cond)                                                         \
    do {                                                                    \
        if (!(cond)) {                                                      \
            printf("%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                     \
        }                                                                   \
    } while (0)

static const uint8_t SPACE[32] = {0xab, 0xcd};

/* Record i: 1 + i % 300 bytes, every byte a function of (i, position). */
static size_t rec_make(uint8_t *dst, uint64_t i) {
    size_t n = 1 + (size_t)(i * 7919 % 300);
    for (size_t k = 0; k < n; k++)
        dst[k] = (uint8_t)(i * 31 + k);
    return n;
}

/* Appends records from..from+n-1 without a flush (never acked). */
static int append_unflushed(relay_space_store *s, uint64_t from, uint64_t n) {
    uint8_t buf[400];
    for (uint64_t i = from; i < from + n; i++) {
        size_t len = rec_make(buf, i);
        const uint8_t *recs[1] = {buf};
        uint64_t first;
        int rc = s->store->ops->append(s, recs, &len, 1, &first);
        if (rc) return rc;
        if (first != i) return -99;
    }
    return 0;
}

static int append_n(relay_space_store *s, uint64_t from, uint64_t n) {
    int rc = append_unflushed(s, from, n);
    return rc ? rc : s->store->ops->flush(s->store);
}

typedef struct walk {
    uint64_t next, count;
    int bad;
} walk;

static int check_rec(void *ud, uint64_t rseq, const uint8_t *rec, size_t len) {
    walk *w = ud;
    uint8_t want[400];
    size_t n = rec_make(want, rseq);
    if (rseq != w->next || len != n || memcmp(rec, want, n) != 0) w->bad++;
    w->next = rseq + 1;
    w->count++;
    return 0;
}

static int stop_at_5(void *ud, uint64_t rseq, const uint8_t *rec, size_t len) {
    check_rec(ud, rseq, rec, len);
    return rseq == 5 ? 42 : 0;
}

/* Opens the space, replaying into a walk. Returns the open's code. */
static int open_walk(relay_store *st, relay_space_store **s, walk *w) {
    memset(w, 0, sizeof *w);
    w->next = 1;
    return st->ops->open_space(st, SPACE, 1, s, check_rec, w);
}

static void interface(relay_store *st, int persistent) {
    relay_space_store *s;
    walk w;
    CHECK(open_walk(st, &s, &w) == 0 && w.count == 0);
    CHECK(st->ops->head(s) == 0);
    CHECK(append_n(s, 1, 500) == 0);
    CHECK(st->ops->head(s) == 500);
    memset(&w, 0, sizeof w);
    w.next = 1;
    CHECK(st->ops->read(s, 0, SIZE_MAX, check_rec, &w) == 0 && w.count == 500 && !w.bad);
    memset(&w, 0, sizeof w);
    w.next = 321;
    CHECK(st->ops->read(s, 320, SIZE_MAX, check_rec, &w) == 0 && w.count == 180 && !w.bad);
    memset(&w, 0, sizeof w);
    w.next = 1;
    CHECK(st->ops->read(s, 0, SIZE_MAX, stop_at_5, &w) == 42 && w.count == 5);
    memset(&w, 0, sizeof w);
    w.next = 11;
    CHECK(st->ops->read(s, 10, 1000, check_rec, &w) == 0 && w.count >= 1 && w.count < 20);
    memset(&w, 0, sizeof w);
    w.next = 501;
    CHECK(st->ops->read(s, 500, SIZE_MAX, check_rec, &w) == 0 && w.count == 0);
    st->ops->close_space(s);
    /* Reopen: the replay hands back every record in order. */
    CHECK(open_walk(st, &s, &w) == 0);
    CHECK(w.count == (persistent ? 500u : 500u) && !w.bad && st->ops->head(s) == 500);
    CHECK(append_n(s, 501, 10) == 0);
    CHECK(st->ops->delete_space(s) == 0);
    relay_space_store *none;
    CHECK(st->ops->open_space(st, SPACE, 0, &none, NULL, NULL) == WEFT_ENOTFOUND);
}

static char root[256];

static void seg_file(char *dst, size_t cap, int last) {
    /* The first or last segment of the test space. */
    char dir[600];
    snprintf(dir, sizeof dir, "%s/abcd", root);
    for (int i = 2; i < 32; i++)
        snprintf(dir + strlen(dir), 3, "00");
    DIR *d = opendir(dir);
    char best[300] = "";
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!strstr(e->d_name, ".seg")) continue;
        if (!best[0] || (last ? strcmp(e->d_name, best) > 0 : strcmp(e->d_name, best) < 0))
            snprintf(best, sizeof best, "%s", e->d_name);
    }
    if (d) closedir(d);
    snprintf(dst, cap, "%s/%s", dir, best);
}

static long file_size(const char *p) {
    struct stat sb;
    return stat(p, &sb) ? -1 : (long)sb.st_size;
}

static void flip(const char *path, long off) {
    int fd = open(path, O_RDWR);
    uint8_t b;
    CHECK(pread(fd, &b, 1, off) == 1);
    b ^= 0x40;
    CHECK(pwrite(fd, &b, 1, off) == 1);
    close(fd);
}

/* A fresh space of n records in segments of seg_bytes. */
static relay_store *fresh(uint64_t n, size_t seg_bytes) {
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    CHECK(system(cmd) == 0);
    relay_store *st;
    CHECK(relay_store_file_new(&st, root, seg_bytes) == 0);
    relay_space_store *s;
    walk w;
    CHECK(open_walk(st, &s, &w) == 0);
    CHECK(append_n(s, 1, n) == 0);
    st->ops->close_space(s);
    return st;
}

static void torn_tails(void) {
    /* A cut anywhere inside the last record (or its header) loses exactly it. */
    relay_store *st = fresh(20, 0);
    char path[1200];
    seg_file(path, sizeof path, 1);
    long full = file_size(path) - 16; /* the records; a sync mark follows them */
    uint8_t last[400];
    long last_len = 16 + (long)rec_make(last, 20);
    st->ops->close(st);
    char save[2600];
    snprintf(save, sizeof save, "cp '%s' '%s.orig'", path, path);
    CHECK(system(save) == 0);
    /* Every cut inside the record header, then every 7th byte of the body
     * (each cut costs a copy and an fsync), and the very last byte. */
    for (long cut = full - last_len; cut < full;
         cut += (cut < full - last_len + 16 || cut + 7 >= full) ? 1 : 7) {
        snprintf(save, sizeof save, "cp '%s.orig' '%s'", path, path);
        CHECK(system(save) == 0);
        CHECK(truncate(path, cut) == 0);
        CHECK(relay_store_file_new(&st, root, 0) == 0);
        relay_space_store *s;
        walk w;
        CHECK(open_walk(st, &s, &w) == 0);
        /* cut back to record 19, then a sync mark for what the open kept */
        CHECK(w.count == 19 && !w.bad && file_size(path) == full - last_len + 16);
        /* Appending continues with the lost sequence number. */
        CHECK(append_n(s, 20, 1) == 0);
        st->ops->close_space(s);
        CHECK(open_walk(st, &s, &w) == 0 && w.count == 20 && !w.bad);
        st->ops->close_space(s);
        st->ops->close(st);
    }
    snprintf(save, sizeof save, "%s.orig", path);
    unlink(save);
}

/* Offset of record i in the first segment, with a 16-byte sync mark after
 * record `mark_after` (0: none). */
static long rec_off(uint64_t i, uint64_t mark_after) {
    uint8_t tmp[400];
    long off = 16;
    for (uint64_t k = 1; k < i; k++)
        off += 16 + (long)rec_make(tmp, k) + (k == mark_after ? 16 : 0);
    return off;
}

static void restore(const char *path) {
    char cmd[2600];
    snprintf(cmd, sizeof cmd, "cp '%s.orig' '%s'", path, path);
    CHECK(system(cmd) == 0);
}

static void damage(void) {
    /* 20 records flushed (a sync mark follows them), then 10 written but
     * never flushed, as when the relay dies before its turn ends. */
    relay_store *st = fresh(20, 0);
    relay_space_store *s;
    walk w;
    CHECK(open_walk(st, &s, &w) == 0 && w.count == 20 && !w.bad);
    CHECK(append_unflushed(s, 21, 10) == 0);
    st->ops->close_space(s);
    st->ops->close(st);
    char path[1200], cmd[2600];
    seg_file(path, sizeof path, 1);
    snprintf(cmd, sizeof cmd, "cp '%s' '%s.orig'", path, path);
    CHECK(system(cmd) == 0);
    /* A flipped byte in record 25, with valid records after it but no sync
     * mark: a crash can leave that (unsynced pages land in any order), so
     * the tail from there goes. */
    flip(path, rec_off(25, 20) + 20);
    CHECK(relay_store_file_new(&st, root, 0) == 0);
    CHECK(open_walk(st, &s, &w) == 0 && w.count == 24 && !w.bad);
    st->ops->close_space(s);
    st->ops->close(st);
    /* The same in the last record. */
    restore(path);
    flip(path, file_size(path) - 3);
    CHECK(relay_store_file_new(&st, root, 0) == 0);
    CHECK(open_walk(st, &s, &w) == 0 && w.count == 29 && !w.bad);
    st->ops->close_space(s);
    st->ops->close(st);
    /* A flipped byte in record 10, before the sync mark: it was durable,
     * so acked; that is disk damage and the space refuses to open. So does
     * a damaged mark. */
    restore(path);
    flip(path, rec_off(10, 20) + 20);
    CHECK(relay_store_file_new(&st, root, 0) == 0);
    CHECK(open_walk(st, &s, &w) == WEFT_EMALFORMED);
    st->ops->close(st);
    restore(path);
    flip(path, rec_off(21, 20) - 16 + 9); /* the mark's offset field */
    CHECK(relay_store_file_new(&st, root, 0) == 0);
    CHECK(open_walk(st, &s, &w) == 0 && w.count == 20 && !w.bad); /* nothing marks past it */
    st->ops->close_space(s);
    st->ops->close(st);
    /* Garbage after the last record (a header cut short). */
    restore(path);
    int fd = open(path, O_WRONLY | O_APPEND);
    CHECK(write(fd, "\x05\x00\x00", 3) == 3);
    close(fd);
    CHECK(relay_store_file_new(&st, root, 0) == 0);
    CHECK(open_walk(st, &s, &w) == 0 && w.count == 30 && !w.bad);
    /* Damage while open: the read refuses rather than serve it. */
    flip(path, 16 + 16 + 1);
    memset(&w, 0, sizeof w);
    w.next = 1;
    CHECK(st->ops->read(s, 0, SIZE_MAX, check_rec, &w) == WEFT_EMALFORMED && w.count == 0);
    st->ops->close_space(s);
    st->ops->close(st);
    snprintf(cmd, sizeof cmd, "%s.orig", path);
    unlink(cmd);
}

static void segments(void) {
    /* Small segments: many files, reads across them, sealed damage. */
    relay_store *st = fresh(300, 2048);
    relay_space_store *s;
    walk w;
    CHECK(open_walk(st, &s, &w) == 0 && w.count == 300 && !w.bad);
    memset(&w, 0, sizeof w);
    w.next = 101;
    CHECK(st->ops->read(s, 100, SIZE_MAX, check_rec, &w) == 0 && w.count == 200 && !w.bad);
    CHECK(append_n(s, 301, 50) == 0);
    st->ops->close_space(s);
    CHECK(open_walk(st, &s, &w) == 0 && w.count == 350 && !w.bad);
    st->ops->close_space(s);
    st->ops->close(st);
    char path[1200];
    seg_file(path, sizeof path, 0);
    flip(path, 40);
    CHECK(relay_store_file_new(&st, root, 2048) == 0);
    CHECK(open_walk(st, &s, &w) == WEFT_EMALFORMED);
    st->ops->close(st);
}

/* A failed fdatasync (the driver's test hook, as Linux after a writeback
 * error) fails the space for good: no append, no sync, and no later sync
 * that succeeds makes the lost records durable; reopened, the space holds
 * exactly what was synced before, and takes appends again. */
static void sync_failure(void) {
    relay_store *st;
    relay_space_store *s;
    walk w;
    char dir[300];
    snprintf(dir, sizeof dir, "%s/sync", root); /* a store of its own */
    setenv("WEFT_RELAY_TEST_FSYNC_FAIL", "2", 1);
    int rc = relay_store_file_new(&st, dir, 0);
    unsetenv("WEFT_RELAY_TEST_FSYNC_FAIL");
    CHECK(rc == 0);
    if (rc) return;
    rc = open_walk(st, &s, &w);
    CHECK(rc == 0 && w.count == 0);
    if (rc) {
        st->ops->close(st);
        return;
    }
    CHECK(append_n(s, 1, 20) == 0); /* sync 1 */
    CHECK(append_unflushed(s, 21, 10) == 0);
    CHECK(st->ops->flush(st) != 0); /* sync 2 fails */
    CHECK(append_unflushed(s, 31, 1) != 0);
    relay_sync_job job;
    CHECK(st->ops->sync_begin(s, &job) < 0);
    CHECK(st->ops->flush(st) == 0); /* nothing left that a sync could vouch for */
    st->ops->close_space(s);
    CHECK(open_walk(st, &s, &w) == 0 && w.count == 20 && !w.bad && st->ops->head(s) == 20);
    CHECK(append_n(s, 21, 5) == 0);
    st->ops->close_space(s);
    CHECK(open_walk(st, &s, &w) == 0 && w.count == 25 && !w.bad);
    CHECK(st->ops->delete_space(s) == 0);
    st->ops->close(st);
}

/* Appends while a sync is in flight (the writer thread's case) are held
 * and readable, written after the sync's mark when it ends, and all there
 * after a reopen, with the marks where the scan expects them. */
static void sync_in_flight(void) {
    relay_store *st;
    relay_space_store *s;
    walk w;
    char dir[300];
    snprintf(dir, sizeof dir, "%s/inflight", root);
    CHECK(relay_store_file_new(&st, dir, 0) == 0);
    CHECK(open_walk(st, &s, &w) == 0 && w.count == 0);
    CHECK(append_n(s, 1, 10) == 0);
    CHECK(append_unflushed(s, 11, 5) == 0);
    relay_sync_job job;
    CHECK(st->ops->sync_begin(s, &job) == 0 && job.upto == 15);
    relay_sync_job again;
    CHECK(st->ops->sync_begin(s, &again) == 1); /* one at a time */
    CHECK(append_unflushed(s, 16, 7) == 0);     /* held */
    memset(&w, 0, sizeof w);
    w.next = 1;
    CHECK(st->ops->read(s, 0, SIZE_MAX, check_rec, &w) == 0 && w.count == 22 && !w.bad);
    st->ops->sync_run(&job);
    CHECK(job.rc == 0 && st->ops->sync_end(s, &job) == 0);
    memset(&w, 0, sizeof w);
    w.next = 12;
    CHECK(st->ops->read(s, 11, SIZE_MAX, check_rec, &w) == 0 && w.count == 11 && !w.bad);
    CHECK(st->ops->flush(st) == 0); /* the held ones, synced and marked */
    st->ops->close_space(s);
    CHECK(open_walk(st, &s, &w) == 0 && w.count == 22 && !w.bad);
    CHECK(st->ops->delete_space(s) == 0);
    st->ops->close(st);
}

static void crc_vectors(void) {
    CHECK(weft__crc32c(0, "123456789", 9) == 0xE3069283u);
    uint8_t z[32] = {0}, o[32];
    memset(o, 0xff, 32);
    CHECK(weft__crc32c(0, z, 32) == 0x8A9136AAu);
    CHECK(weft__crc32c(0, o, 32) == 0x62A8AB43u);
    CHECK(weft__crc32c(weft__crc32c(0, "1234", 4), "56789", 5) == 0xE3069283u);
}

int main(void) {
    if (!getenv("WEFT_TEST_VERBOSE") && !freopen("/dev/null", "w", stderr)) return 2;
    snprintf(root, sizeof root, "/tmp/weft-storage-test-%d", (int)getpid());
    crc_vectors();
    relay_store *st;
    CHECK(relay_store_memory_new(&st) == 0);
    interface(st, 0);
    st->ops->close(st);
    CHECK(relay_store_file_new(&st, root, 0) == 0);
    interface(st, 1);
    st->ops->close(st);
    torn_tails();
    damage();
    segments();
    sync_failure();
    sync_in_flight();
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    CHECK(system(cmd) == 0);
    printf("%s (%d failures)\n", failures ? "FAILED" : "passed", failures);
    return failures ? 1 : 0;
}
