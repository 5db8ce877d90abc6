/*
 * Convergence property test of list fields: per seeded case, 3 to 5
 * replicas of one space insert, delete, move and set items of one list at
 * random; changes travel in random order, some twice, and a replica is
 * sometimes restarted from a snapshot. In one case in five a field write
 * (an array put or a field delete) replaces the list now and then.
 *
 * After every change reached everyone: all state hashes are equal, nothing
 * waits, and no item is duplicated or lost by a move: each item (an int
 * whose value / 16 names it; sets change the low bits) shows at most once,
 * and in cases without field writes exactly the items inserted and never
 * deleted show. One case in four runs "synced" (every replica has every
 * change before each step), where a plain array model predicts the list.
 *
 * Prints "digest of N cases from seed S: <hex>" over the final state
 * hashes; it must be equal natively and in WASM (tests/vectors/lists.txt).
 *
 * Usage: list_property [CASES] [FIRST_SEED]
 */
#include "weft/weft.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../text/prop_rng.h"

#define MAXREP  5
#define MAXITEM 4096

typedef struct rec {
    uint8_t *p;
    size_t len;
} rec;

static rec *recs;
static size_t n_recs, cap_recs;
static int failures;
static uint8_t space[32];
static weft_blake2b_state digest;

#define FAIL(...)                                                 \
    do {                                                          \
        fprintf(stderr, "seed %llu: ", (unsigned long long)seed); \
        fprintf(stderr, __VA_ARGS__);                             \
        fprintf(stderr, "\n");                                    \
        failures++;                                               \
        goto done;                                                \
    } while (0)

static void keep(const uint8_t *p, size_t len) {
    if (!len) return;
    if (n_recs == cap_recs) {
        cap_recs = cap_recs ? cap_recs * 2 : 64;
        recs = realloc(recs, cap_recs * sizeof *recs);
        if (!recs) abort();
    }
    recs[n_recs].p = malloc(len);
    if (!recs[n_recs].p) abort();
    memcpy(recs[n_recs].p, p, len);
    recs[n_recs++].len = len;
}

static weft_replica *new_rep(int i) {
    uint8_t key[32];
    memset(key, 0x31 + 0x11 * i, 32);
    weft_replica_config cfg = {.space = space, .author = key, .keep_records = 1};
    weft_replica *r;
    if (weft_replica_new(&r, &cfg) || weft_replica_set_format_level(r, WEFT_LEVEL_LISTS)) abort();
    return r;
}

/* The list's ints into out (at most MAXITEM); -1 when the field is not an
 * array of ints, else the count (0 when absent). */
static long read_list(weft_replica *r, int64_t *out) {
    const uint8_t *v;
    size_t len;
    if (weft_replica_get_field(r, "todo", 4, "l", 1, "items", 5, &v, &len)) return 0;
    weft_value a;
    if (weft_value_read(&a, NULL, v, len) || a.type != WEFT_TYPE_ARRAY || a.count > MAXITEM)
        return -1;
    const uint8_t *p = a.ptr, *end = a.ptr + a.len;
    for (uint64_t k = 0; k < a.count; k++) {
        weft_value e;
        size_t used;
        if (weft_value_read(&e, &used, p, (size_t)(end - p)) || e.type != WEFT_TYPE_INT) return -1;
        out[k] = e.i;
        p += used;
    }
    return (long)a.count;
}

static int deliver_all(weft_replica *r) {
    int rc;
    for (size_t k = 0; k < n_recs; k++)
        if ((rc = weft_replica_apply(r, recs[k].p, recs[k].len, NULL))) {
            fprintf(stderr, "apply: %s\n", weft_err_name(rc));
            return 1;
        }
    return 0;
}

static int64_t model[MAXITEM];
static size_t n_model;
static uint8_t deleted[MAXITEM]; /* per item number: some replica deleted it */

static void run_case(uint64_t seed) {
    rng = seed;
    n_recs = 0;
    int synced = seed % 4 == 0, writes = seed % 5 == 1;
    int nrep = 3 + (int)below(3);
    weft_replica *r[MAXREP];
    for (int i = 0; i < nrep; i++)
        r[i] = new_rep(i);
    n_model = 0;
    memset(deleted, 0, sizeof deleted);
    int64_t next_item = 1, cur[MAXITEM], got[MAXITEM];
    size_t steps = 40 + below(80);
    for (size_t step = 0; step < steps; step++) {
        int i = (int)below((size_t)nrep);
        if (synced)
            for (int k = 0; k < nrep; k++)
                if (deliver_all(r[k])) FAIL("an honest change was refused");
        long n = read_list(r[i], cur);
        if (n < 0) FAIL("step %zu: not a list of ints", step);
        size_t what = below(100);
        const uint8_t *out = NULL;
        size_t olen = 0;
        uint8_t v[16];
        size_t vl;
        int rc = 0;
        if (what < 40 || n == 0) { /* insert */
            size_t at = below((size_t)n + 1);
            int64_t x = next_item++ * 16;
            weft_value_write_int(v, sizeof v, &vl, x);
            rc = weft_replica_list_edit(r[i], "todo", 4, "l", 1, "items", 5, WEFT_LIST_INSERT, at,
                                        0, v, vl, 0, 0, &out, &olen);
            if (synced && !rc) {
                memmove(model + at + 1, model + at, (n_model - at) * sizeof *model);
                model[at] = x;
                n_model++;
            }
        } else if (what < 55) { /* delete */
            size_t at = below((size_t)n);
            deleted[cur[at] / 16] = 1;
            rc = weft_replica_list_edit(r[i], "todo", 4, "l", 1, "items", 5, WEFT_LIST_DELETE, at,
                                        0, NULL, 0, 0, 0, &out, &olen);
            if (synced && !rc) {
                memmove(model + at, model + at + 1, (n_model - at - 1) * sizeof *model);
                n_model--;
            }
        } else if (what < 80) { /* move */
            size_t from = below((size_t)n), to = below((size_t)n);
            rc = weft_replica_list_edit(r[i], "todo", 4, "l", 1, "items", 5, WEFT_LIST_MOVE, from,
                                        to, NULL, 0, 0, 0, &out, &olen);
            if (synced && !rc) {
                int64_t x = model[from];
                memmove(model + from, model + from + 1, (n_model - from - 1) * sizeof *model);
                memmove(model + to + 1, model + to, (n_model - 1 - to) * sizeof *model);
                model[to] = x;
            }
        } else if (what < 88) { /* set in place */
            size_t at = below((size_t)n);
            int64_t x = cur[at] / 16 * 16 + 1 + (int64_t)below(15);
            weft_value_write_int(v, sizeof v, &vl, x);
            rc = weft_replica_list_edit(r[i], "todo", 4, "l", 1, "items", 5, WEFT_LIST_SET, at, 0,
                                        v, vl, 0, 0, &out, &olen);
            if (synced && !rc) model[at] = x;
        } else if (what < 90 && writes) { /* the list replaced by a field write */
            if (below(2)) {
                uint8_t a[40];
                size_t al, el;
                weft_value_write_array(a, sizeof a, &al, 1);
                int64_t x = next_item++ * 16;
                weft_value_write_int(a + al, sizeof a - al, &el, x);
                if (weft_replica_put(r[i], "todo", 4, "l", 1, "items", 5, a, al + el)) abort();
                if (synced) model[0] = x, n_model = 1;
            } else {
                if (weft_replica_delete_field(r[i], "todo", 4, "l", 1, "items", 5)) abort();
                if (synced) n_model = 0;
            }
            rc = weft_replica_commit(r[i], 0, &out, &olen);
        } else if (what < 97) { /* some changes arrive, in any order, maybe twice */
            for (size_t k = 1 + below(4); k && n_recs; k--) {
                const rec *x = &recs[below(n_recs)];
                if ((rc = weft_replica_apply(r[i], x->p, x->len, NULL)))
                    FAIL("a change was refused: %s", weft_err_name(rc));
            }
        } else { /* a restart from a snapshot */
            const uint8_t *snap;
            size_t sl;
            if (weft_replica_snapshot(r[i], &snap, &sl)) abort();
            weft_replica *fresh = new_rep(i);
            if ((rc = weft_replica_load_snapshot(fresh, snap, sl)))
                FAIL("snapshot refused: %s", weft_err_name(rc));
            weft_replica_free(r[i]);
            r[i] = fresh;
        }
        if (rc) FAIL("step %zu: edit refused: %s", step, weft_err_name(rc));
        keep(out, olen);
        if (synced) {
            long m = read_list(r[i], got);
            if (m != (long)n_model || memcmp(got, model, n_model * sizeof *model) != 0)
                FAIL("step %zu: the list differs from the model (%ld vs %zu items)", step, m,
                     n_model);
        }
    }
    uint8_t h0[32], h[32];
    for (int i = 0; i < nrep; i++) {
        if (deliver_all(r[i])) FAIL("an honest change was refused");
        if (weft_replica_pending_count(r[i])) FAIL("replica %d still waits", i);
        if (weft_state_hash(r[i], i ? h : h0)) abort();
        if (i && memcmp(h, h0, 32) != 0) FAIL("replica %d diverged", i);
    }
    long n = read_list(r[0], got);
    if (n < 0) FAIL("not a list of ints");
    static uint8_t seen[MAXITEM];
    memset(seen, 0, sizeof seen);
    for (long k = 0; k < n; k++) {
        int64_t item = got[k] / 16;
        if (item <= 0 || item >= next_item) FAIL("an item that was never inserted");
        if (seen[item]++) FAIL("item %lld shows twice", (long long)item);
        if (deleted[item]) FAIL("deleted item %lld shows", (long long)item);
    }
    if (!writes)
        for (int64_t item = 1; item < next_item; item++)
            if (!deleted[item] && !seen[item]) FAIL("item %lld was lost", (long long)item);
    weft_blake2b_update(&digest, h0, 32);
done:
    for (int i = 0; i < nrep; i++)
        weft_replica_free(r[i]);
    for (size_t k = 0; k < n_recs; k++)
        free(recs[k].p);
}

int main(int argc, char **argv) {
    unsigned long cases = argc > 1 ? strtoul(argv[1], NULL, 10) : 500;
    unsigned long long first = argc > 2 ? strtoull(argv[2], NULL, 10) : 1;
    memset(space, 0x5a, 32);
    weft_blake2b_init(&digest, 32, NULL, 0);
    for (unsigned long c = 0; c < cases && failures < 5; c++)
        run_case(first + c);
    free(recs);
    uint8_t d[32];
    weft_blake2b_final(&digest, d);
    printf("%lu cases, %d failed\ndigest of %lu cases from seed %llu: ", cases, failures, cases,
           first);
    for (int k = 0; k < 32; k++)
        printf("%02x", d[k]);
    printf("\n");
    return failures ? 1 : 0;
}
