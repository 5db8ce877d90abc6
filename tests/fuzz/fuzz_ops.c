/*
 * fuzz_ops: the decoder of op buffers (weft_replica_write_ops) on a
 * replica that holds a history (fuzz_preload) and has one op open.
 *
 * Any input: no crash. A refused buffer leaves the transaction exactly as
 * it was (same op count, and its commit is the change the one op alone
 * makes), and names the op that failed within the ops read. An accepted
 * buffer commits, and its change merges on a second replica to the same
 * state hash: what the core accepted is a valid change.
 */
#include "fuzz_common.h"

static fuzz_buf preload;

static weft_replica *preloaded(uint8_t author) {
    if (!preload.len) {
        weft_replica *a, *b;
        fuzz_preload(&a, &b, &preload);
        weft_replica_free(a);
        weft_replica_free(b);
    }
    weft_replica *r = fuzz_replica(author);
    FUZZ_ASSERT(weft_replica_apply(r, preload.p, preload.len, NULL) == 0);
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    weft_replica *r = preloaded(FUZZ_TARGET_AUTHOR), *other = preloaded(0x66);
    uint8_t v[] = {WEFT_TYPE_INT, 2};
    FUZZ_ASSERT(weft_replica_put(r, "notes", 5, "a", 1, "x", 1, v, sizeof v) == 0);
    size_t failed = (size_t)-1;
    int rc = weft_replica_write_ops(r, data, size, &failed);
    FUZZ_ASSERT(rc <= 0 && rc != WEFT_ESTATE);
    if (rc) {
        FUZZ_ASSERT(weft_replica_txn_ops(r) == 1);
        FUZZ_ASSERT(failed < size || (size == 0 && failed == 0));
    } else {
        FUZZ_ASSERT(weft_replica_txn_ops(r) >= 1);
    }
    const uint8_t *rec;
    size_t len;
    FUZZ_ASSERT(weft_replica_commit(r, FUZZ_WALL_MS, &rec, &len) == 0);
    weft_apply_result res;
    FUZZ_ASSERT(weft_replica_apply(other, rec, len, &res) == 0 && res.applied == 1);
    uint8_t ha[32], hb[32];
    fuzz_hash(r, ha);
    fuzz_hash(other, hb);
    FUZZ_ASSERT(memcmp(ha, hb, 32) == 0);
    weft_replica_free(r);
    weft_replica_free(other);
    return 0;
}
