/* Snapshots: round trip, continuing after a load, and refusing bad ones. */
#include "check.h"

static uint8_t SPACE[32], KA[32], KB[32];

static weft_replica *populated(uint8_t **rec, size_t *len) {
    fill_key(SPACE, 0x11);
    fill_key(KA, 0xa0);
    fill_key(KB, 0xb0);
    weft_replica *a = new_replica(SPACE, KA);
    for (int i = 0; i < 50; i++) {
        char doc[8];
        snprintf(doc, sizeof doc, "d%02d", i);
        if (put_int(a, "items", doc, "n", i) || put_str(a, "items", doc, "s", "some text value"))
            abort();
    }
    weft_replica_counter_add(a, "stats", 5, "x", 1, "hits", 4, 7);
    weft_replica_delete_doc(a, "items", 5, "d07", 3);
    weft_replica_delete_field(a, "items", 5, "d08", 3, "s", 1);
    *len = commit_copy(a, rec);
    return a;
}

static void round_trip(void) {
    uint8_t *rec;
    size_t rl;
    weft_replica *a = populated(&rec, &rl);
    const uint8_t *snap;
    size_t sl;
    CHECK_OK(weft_replica_snapshot(a, &snap, &sl));
    weft_replica *b = new_replica(SPACE, KB);
    CHECK_OK(weft_replica_load_snapshot(b, snap, sl));
    CHECK(same_hash(a, b));
    CHECK(get_int(b, "stats", "x", "hits") == 7 && get_int(b, "items", "d07", "n") == INT64_MIN);
    /* History before the snapshot counts as held... */
    weft_apply_result res;
    CHECK_OK(weft_replica_apply(b, rec, rl, &res));
    CHECK(res.duplicates == 1);
    /* ...and the chains continue after it, both ways. */
    CHECK_OK(put_int(a, "items", "d01", "n", 100));
    uint8_t *next;
    size_t nl = commit_copy(a, &next);
    CHECK_OK(weft_replica_apply(b, next, nl, &res));
    CHECK(res.applied == 1 && get_int(b, "items", "d01", "n") == 100);
    CHECK_OK(put_int(b, "items", "d02", "n", 200));
    uint8_t *fromb;
    size_t bl = commit_copy(b, &fromb);
    CHECK_OK(weft_replica_apply(a, fromb, bl, &res));
    CHECK(res.applied == 1 && same_hash(a, b));
    /* The same state gives the same snapshot bytes. */
    const uint8_t *s1, *s2;
    size_t l1, l2;
    CHECK_OK(weft_replica_snapshot(a, &s1, &l1));
    uint8_t *copy = malloc(l1);
    memcpy(copy, s1, l1);
    CHECK_OK(weft_replica_snapshot(b, &s2, &l2));
    CHECK(l1 == l2 && memcmp(copy, s2, l1) == 0);
    free(copy);
    free(rec);
    free(next);
    free(fromb);
    weft_replica_free(a);
    weft_replica_free(b);
}

static void refuses_bad_snapshots(void) {
    uint8_t *rec;
    size_t rl;
    weft_replica *a = populated(&rec, &rl);
    const uint8_t *snap;
    size_t sl;
    CHECK_OK(weft_replica_snapshot(a, &snap, &sl));
    uint8_t *s = malloc(sl);
    memcpy(s, snap, sl);
    /* Into a replica that already holds something. */
    CHECK_RC(weft_replica_load_snapshot(a, s, sl), WEFT_ESTATE);
    weft_replica *b = new_replica(SPACE, KB);
    /* Any flipped byte fails the checksum; any cut is refused. */
    for (size_t i = 0; i < sl; i += 7) {
        s[i] ^= 0x40;
        CHECK(weft_replica_load_snapshot(b, s, sl) < 0);
        s[i] ^= 0x40;
    }
    for (size_t n = 0; n < sl; n += 5)
        CHECK(weft_replica_load_snapshot(b, s, n) < 0);
    CHECK(weft_replica_change_count(b) == 0);
    /* Another space's snapshot. */
    uint8_t other[32];
    fill_key(other, 0x22);
    weft_replica *c = new_replica(other, KB);
    CHECK_RC(weft_replica_load_snapshot(c, s, sl), WEFT_ESPACE);
    /* After all that, b still loads the good one. */
    CHECK_OK(weft_replica_load_snapshot(b, s, sl));
    CHECK(same_hash(a, b));
    free(s);
    free(rec);
    weft_replica_free(a);
    weft_replica_free(b);
    weft_replica_free(c);
}

RUN_TESTS(T(round_trip), T(refuses_bad_snapshots))
