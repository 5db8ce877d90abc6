/*
 * fuzz_snapshot: the snapshot loader (weft_replica_load_snapshot).
 *
 * Random bytes almost never carry a valid trailing BLAKE2b checksum, which
 * would stop every mutation at the first check. So each input is loaded
 * twice: as given (the checksum path), and with its last 32 bytes replaced
 * by the right checksum (everything after it).
 *
 * Rejected: the replica must still be empty (state hash of an empty
 * replica, no changes) and usable (it can commit a change of its own).
 * Accepted: snapshotting it again and loading that into a third replica
 * gives the same state hash, and the third replica's snapshot is that
 * snapshot byte for byte; both can then commit the same local change, with
 * identical records, and still agree.
 */
#include "fuzz_common.h"

static uint8_t empty_hash[32]; /* of a fresh replica, set on the first call */
static int have_empty_hash;

static void commit_one(weft_replica *r, const uint8_t **rec, size_t *len) {
    uint8_t v[WEFT_VALUE_SCALAR_MAX];
    size_t vlen;
    FUZZ_ASSERT(weft_value_write_int(v, sizeof v, &vlen, 42) == 0);
    FUZZ_ASSERT(weft_replica_put(r, "fz", 2, "doc", 3, "f", 1, v, vlen) == 0);
    int rc = weft_replica_commit(r, FUZZ_WALL_MS, rec, len);
    /* A snapshot may legally leave the clock or the seq at their limit. */
    FUZZ_ASSERT(rc == 0 || rc == WEFT_ELIMIT);
    if (rc) {
        weft_replica_rollback(r);
        *rec = NULL;
        *len = 0;
    }
}

static void load_one(const uint8_t *data, size_t size) {
    uint8_t h1[32], h2[32], h3[32];
    weft_replica *r = fuzz_replica(FUZZ_TARGET_AUTHOR);
    int rc = weft_replica_load_snapshot(r, data, size);
    if (rc) {
        FUZZ_ASSERT(rc < 0);
        fuzz_hash(r, h1);
        FUZZ_ASSERT(memcmp(h1, empty_hash, 32) == 0);
        FUZZ_ASSERT(weft_replica_change_count(r) == 0 && weft_replica_pending_count(r) == 0);
        const uint8_t *rec;
        size_t len;
        commit_one(r, &rec, &len);
        FUZZ_ASSERT(rec != NULL && weft_replica_change_count(r) == 1);
        weft_replica_free(r);
        return;
    }
    fuzz_hash(r, h1);
    const uint8_t *snap;
    size_t snap_len;
    FUZZ_ASSERT(weft_replica_snapshot(r, &snap, &snap_len) == 0);
    weft_replica *r3 = fuzz_replica(FUZZ_TARGET_AUTHOR);
    rc = weft_replica_load_snapshot(r3, snap, snap_len);
    if (rc) fprintf(stderr, "reloading our own snapshot: %s\n", weft_err_name(rc));
    FUZZ_ASSERT(rc == 0);
    fuzz_hash(r3, h3);
    FUZZ_ASSERT(memcmp(h1, h3, 32) == 0);
    /* Snapshot bytes are not a function of the state, but of the replica:
     * one that only loaded `snap` writes `snap` back. */
    const uint8_t *snap3;
    size_t snap3_len;
    FUZZ_ASSERT(weft_replica_snapshot(r3, &snap3, &snap3_len) == 0);
    FUZZ_ASSERT(snap3_len == snap_len && memcmp(snap3, snap, snap_len) == 0);

    /* Both go on the same way: same local change, same record, same state. */
    const uint8_t *rec1, *rec3;
    size_t len1, len3;
    commit_one(r, &rec1, &len1);
    commit_one(r3, &rec3, &len3);
    FUZZ_ASSERT(len1 == len3 && (len1 == 0 || memcmp(rec1, rec3, len1) == 0));
    fuzz_hash(r, h2);
    fuzz_hash(r3, h3);
    FUZZ_ASSERT(memcmp(h2, h3, 32) == 0);
    weft_replica_free(r3);
    weft_replica_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (!have_empty_hash) {
        weft_replica *r = fuzz_replica(FUZZ_TARGET_AUTHOR);
        fuzz_hash(r, empty_hash);
        weft_replica_free(r);
        have_empty_hash = 1;
    }
    load_one(data, size);
    if (size >= 32 + 3) {
        uint8_t *fixed = malloc(size);
        FUZZ_ASSERT(fixed);
        memcpy(fixed, data, size);
        FUZZ_ASSERT(weft_blake2b(fixed + size - 32, 32, fixed, size - 32) == 0);
        if (memcmp(fixed + size - 32, data + size - 32, 32) != 0) load_one(fixed, size);
        free(fixed);
    }
    return 0;
}
